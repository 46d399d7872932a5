/* src/dns/dns.h: asynchronous name resolution on a struct eg_loop: literal addresses, a static
 * hosts file, a TTL cache with negative entries and coalescing of concurrent lookups in front
 * of c-ares (ares_getaddrinfo: A and AAAA, every address).
 * May include: core, net.
 *
 * Order of a lookup (eg_dns_resolve):
 *   1. a literal IPv4/IPv6 address ("10.0.0.1", "::1", "[::1]") is answered at once;
 *   2. a name listed in the hosts file (--hosts-file, /etc/hosts format) is answered at once
 *      from the file, which is authoritative for the names it lists (no DNS query follows,
 *      even when the file has no address of the asked family: that answers -ENODATA);
 *   3. a fresh cache entry is answered at once (positive, or its cached error);
 *   4. a query already in flight for the same (name, family) gets one more waiter;
 *   5. otherwise c-ares queries the servers; the answer (all addresses) is cached for its
 *      smallest record TTL clamped to [ttl_floor_s, ttl_ceiling_s]; NXDOMAIN and "no address
 *      of that family" are cached for negative_ttl_s; other failures (timeout, SERVFAIL,
 *      refused) are not cached.
 * c-ares's own /etc/hosts lookup and resolv.conf search domains are off by default: names are
 * treated as fully qualified, and only the hosts file given here is consulted.
 *
 * Threading: one resolver per loop (per worker), used only on that loop's thread; answers
 * are reference counted without atomics and never cross threads. A struct eg_dns_hosts is
 * immutable once parsed and may be shared by every worker (atomic reference count). */
#ifndef EG_DNS_DNS_H
#define EG_DNS_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/loop.h"
#include "net/net.h"

struct eg_dns_hosts;
struct eg_dns_resolver;
struct eg_dns_query;

enum eg_dns_source {
	EG_DNS_SOURCE_LITERAL, /* the name was an address */
	EG_DNS_SOURCE_HOSTS,   /* the hosts file */
	EG_DNS_SOURCE_DNS,     /* a DNS answer (fresh or from the cache) */
};

struct eg_dns_answer {
	unsigned refs; /* 0 = static (owned by a hosts table): ref/unref are no-ops */
	enum eg_dns_source source;
	uint32_t ttl_s;            /* DNS: the TTL kept, after floor and ceiling; else 0 */
	uint64_t expires_ms;       /* DNS: loop clock time the cache drops it; else UINT64_MAX */
	size_t n;                  /* >= 1 */
	struct eg_net_addr addr[]; /* port 0, in the order the source gave them, no duplicates */
};

struct eg_dns_answer *eg_dns_answer_ref(struct eg_dns_answer *a);
/* Drops one reference; frees on the last. Returns NULL. */
struct eg_dns_answer *eg_dns_answer_unref(struct eg_dns_answer *a);

/* ---- hosts file ---- */

/* Limits: a line longer than 4 KiB, more than 65,536 entries or a text over 16 MiB fail with
 * -E2BIG. */
#define EG_DNS_HOSTS_MAX_LINE    4096
#define EG_DNS_HOSTS_MAX_ENTRIES 65536
#define EG_DNS_HOSTS_MAX_SIZE    (16u << 20)

/* Parses /etc/hosts text: "ADDRESS NAME [ALIAS...]" per line, '#' starts a comment, blank
 * lines ignored, names case-insensitive (a trailing dot is dropped), one name may appear on
 * several lines (its addresses accumulate, IPv4 and IPv6, in file order). A line whose
 * address or a name is invalid is skipped; @ret_bad_lines (may be NULL) gets how many were,
 * and @ret_first_bad the line number of the first (0 if none). Returns 0 with the table, or
 * -E2BIG / -ENOMEM. */
int eg_dns_hosts_parse(const char *text, size_t len, struct eg_dns_hosts **ret,
                       unsigned *ret_bad_lines, unsigned *ret_first_bad);
/* Reads @path then parses it (blocking file I/O: control thread). -errno of open/read too. */
int eg_dns_hosts_load(const char *path, struct eg_dns_hosts **ret, unsigned *ret_bad_lines,
                      unsigned *ret_first_bad);
struct eg_dns_hosts *eg_dns_hosts_ref(struct eg_dns_hosts *h);
struct eg_dns_hosts *eg_dns_hosts_unref(struct eg_dns_hosts *h); /* NULL */
/* Names in the table. */
size_t eg_dns_hosts_count(const struct eg_dns_hosts *h);
/* Looks up @name (@len bytes) for @family (AF_INET, AF_INET6 or AF_UNSPEC = all). 0 with a
 * static answer (no reference to drop), -ENOENT when the name is not listed, -ENODATA when it
 * is listed without an address of that family. */
int eg_dns_hosts_lookup(const struct eg_dns_hosts *h, const char *name, size_t len, int family,
                        struct eg_dns_answer **ret);

/* ---- resolver ---- */

struct eg_dns_config {
	const char *servers;        /* "127.0.0.1:5353,[::1]:53" (c-ares CSV); NULL = resolv.conf */
	struct eg_dns_hosts *hosts; /* consulted first (the resolver takes a reference); or NULL */
	bool system_hosts;       /* also let c-ares read /etc/hosts (after @hosts); default off */
	bool search;             /* apply resolv.conf search domains; default off */
	uint32_t ttl_floor_s;    /* 0 = 5 */
	uint32_t ttl_ceiling_s;  /* 0 = 300 */
	uint32_t negative_ttl_s; /* 0 = 5 */
	uint32_t timeout_ms;     /* per try; 0 = 2000 */
	unsigned tries;          /* 0 = 2 */
	unsigned max_entries;    /* cache bound (least recently used evicted); 0 = 4096 */
};

#define EG_DNS_DEFAULT_TTL_FLOOR_S    5
#define EG_DNS_DEFAULT_TTL_CEILING_S  300
#define EG_DNS_DEFAULT_NEGATIVE_TTL_S 5

/* Called once per pending lookup, on the loop thread: @status 0 with @ans (borrowed: take a
 * reference to keep it), or -ENOENT (NXDOMAIN), -ENODATA (no address of that family),
 * -ETIMEDOUT, -ECONNREFUSED, -EIO (SERVFAIL, bad reply), -ENOMEM, -ECANCELED (resolver freed)
 * with @ans NULL. */
typedef void (*eg_dns_cb)(void *data, int status, struct eg_dns_answer *ans);

/* 0 or -errno (-EINVAL for a bad servers string, c-ares failures as -EIO/-ENOMEM). */
int eg_dns_resolver_new(struct eg_loop *loop, const struct eg_dns_config *cfg,
                        struct eg_dns_resolver **ret);
/* Cancels what is pending (their callbacks run with -ECANCELED), frees the cache. Not from
 * inside one of its own callbacks. Returns NULL. */
struct eg_dns_resolver *eg_dns_resolver_free(struct eg_dns_resolver *r);

#define EG_DNS_PENDING 1
/* Resolves @name (@len bytes) for @family (AF_INET, AF_INET6, AF_UNSPEC).
 * - 0: answered now; *@ret_ans holds a reference the caller drops; @cb is not called.
 * - EG_DNS_PENDING: @cb(@data, ...) runs later from the loop; *@ret_q (may be NULL) can
 *   cancel it until then.
 * - < 0: answered now with that error (-EINVAL for a malformed name, a cached negative
 *   answer, ...); @cb is not called. */
int eg_dns_resolve(struct eg_dns_resolver *r, const char *name, size_t len, int family,
                   eg_dns_cb cb, void *data, struct eg_dns_answer **ret_ans,
                   struct eg_dns_query **ret_q);
/* Withdraws a pending lookup: its callback will not run. The DNS query itself continues if
 * others wait for it (and its answer is still cached). */
void eg_dns_cancel(struct eg_dns_resolver *r, struct eg_dns_query *q);
/* Empties the cache (pending lookups continue). */
void eg_dns_resolver_flush(struct eg_dns_resolver *r);

struct eg_dns_stats {
	uint64_t lookups;       /* eg_dns_resolve calls */
	uint64_t literal;       /* answered as literal addresses */
	uint64_t hosts;         /* answered from the hosts file */
	uint64_t cache_hits;    /* answered from a positive cache entry */
	uint64_t negative_hits; /* answered from a negative cache entry */
	uint64_t coalesced;     /* joined a query in flight */
	uint64_t queries;       /* ares_getaddrinfo calls */
	uint64_t failures;      /* queries that ended in an error */
	uint64_t evictions;     /* live entries dropped for room */
	size_t entries;         /* cache entries now */
	size_t pending;         /* queries in flight now */
};
void eg_dns_resolver_stats(const struct eg_dns_resolver *r, struct eg_dns_stats *ret);

/* Maps a c-ares status (ARES_*) to -errno, as used in the callbacks above. */
int eg_dns_errno(int ares_status);

#endif /* EG_DNS_DNS_H */
