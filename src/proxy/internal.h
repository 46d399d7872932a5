/* src/proxy/internal.h: what the files of the proxy module share (not a public header). */
#ifndef EG_PROXY_INTERNAL_H
#define EG_PROXY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "compile/compile.h"
#include "core/buf.h"
#include "core/loop.h"
#include "core/str.h"
#include "core/timer.h"
#include "core/worker.h"
#include "dns/dns.h"
#include "http/http.h"
#include "net/net.h"
#include "policy/policy.h"
#include "proxy/proxy.h"
#include "telemetry/telemetry.h"
#include "tls/tls.h"

#define RBUF_INIT      4096u   /* first read buffer of a connection */
#define RBUF_MAX       (80u * 1024) /* a request head (8 KiB line + 60 KiB fields) fits */
#define BODY_CHUNK     (64u * 1024) /* body window read at a time */
#define MAX_CANDIDATES 64      /* upstream addresses considered per pick */
#define POOL_SLOTS     1024    /* upstream pool hash table (per worker) */
#define POOL_MAX_IDLE  256     /* idle connections kept per pool */

struct proxy;
struct pworker;

/* What one snapshot means to the workers: the snapshot plus what is derived from it once,
 * on the control thread (R10: each worker gets its own reference, connections take one). */
struct pconf {
	atomic_uint refs;
	struct eg_snapshot *snap;
	const struct eg_identity *id;
	struct eg_accesslog_format *fmt; /* NULL: access log off */
	bool has_prefix;
	struct eg_net_prefix prefix; /* gateway egress source */
	char no_prefix_reason[256];
	struct eg_metrics_labels base; /* reporter and source_* labels */
	struct ptls_conf *tls; /* TLS contexts of this snapshot (tls_conf.c), or NULL */
};

struct pconf *pconf_ref(struct pconf *pc);
struct pconf *pconf_unref(struct pconf *pc);

/* Process-wide state, immutable once the workers run (except the atomics). */
struct proxy {
	struct eg_proxy_config cfg;
	struct eg_net_addr pod;
	struct eg_telemetry *tel;
	struct eg_accesslog_writer *writer; /* set before the workers run; or NULL */
	struct eg_dns_hosts *hosts;
	struct eg_workers *ws;
	unsigned nworkers;
	struct pconf *cur; /* control thread */
	struct ptls_global *tlsg; /* identity, trust, rotation (tls_conf.c) */
};

/* ---- worker ---- */

struct plistener {
	struct eg_net_listener l;
	struct pworker *pw;
	uint16_t port;
	bool capture; /* sidecar 15001 */
	struct plistener *next;
};

struct upool; /* idle connections and active requests towards one address of a cluster */
struct dconn;

struct pworker {
	struct proxy *px;
	struct eg_worker *w;
	struct eg_loop *loop;
	unsigned idx;
	struct pconf *pc;
	struct plistener *listeners;
	struct eg_dns_resolver *dns;
	struct eg_net_pipe_pool pipes;
	struct dconn *conns; /* every downstream connection (drain, fini) */
	struct upool **pools; /* POOL_SLOTS chains */
	size_t npools;
	uint64_t rr[256]; /* round robin cursors by cluster name hash */
	uint64_t rng;
	uint64_t src_cursor;
	bool draining;
	struct eg_http_header hdrs[EG_HTTP_MAX_FIELDS];
	struct eg_buf scratch; /* simple responses */
	struct exch *exfree;   /* finished exchanges kept for reuse (with their buffers) */
	unsigned nexfree;
	uint64_t freed;        /* buffers and exchanges given back since the last trim */
	struct eg_timer trim;  /* returns freed heap pages to the kernel after a burst */
};

#define TRIM_EVERY_MS  2000u
#define TRIM_MIN_FREED 256u /* frees since the last trim that make one worthwhile */

#define EXCH_CACHE     64   /* exchanges kept per worker */
#define EXCH_BUF_KEEP  8192 /* head buffers up to this size are kept with them */

uint64_t pw_rand(struct pworker *pw);

/* ---- upstream ---- */

struct uconn;
struct exch;

struct upool {
	struct upool *next;
	uint64_t key;
	uint64_t cluster_hash;
	struct eg_net_addr addr;
	struct uconn *idle; /* doubly linked through uconn->inext/iprev */
	unsigned nidle;
	unsigned active;
};

struct uconn {
	struct eg_loop_closing closing;
	struct pworker *pw;
	struct upool *pool;
	struct eg_io io;
	struct eg_io_watch watch;
	struct eg_timer timer; /* idle in the pool */
	struct eg_net_connector conn;
	eg_net_connect_cb ccb;
	void *cdata;
	struct eg_net_addr addr, local;
	struct uconn *inext, *iprev;
	struct exch *ex;
	uint32_t requests;
	uint64_t idle_ms;
	char *rbuf;
	size_t rlen, rcap, roff;
	bool connected;
	bool in_pool;
	bool dead;
	struct utls *ut; /* TLS towards this upstream (tls_upstream.c), or NULL */
};

/* ---- downstream ---- */

enum dmode {
	DM_GATEWAY,  /* gateway listener: route by authority in the chain's table */
	DM_CAPTURED, /* sidecar: redirected, or inside a CONNECT tunnel */
	DM_EXPLICIT, /* sidecar: an explicit proxy client */
};

enum dstate {
	DS_HEAD,    /* reading a request head */
	DS_EXCH,    /* a request is being proxied */
	DS_TLS,     /* reading a ClientHello */
	DS_TCP,     /* choosing / connecting a TCP upstream */
	DS_TUNNEL,  /* relaying */
	DS_FLUSH,   /* writing a last response, then close */
	DS_CLOSING,
	DS_HANDSHAKE, /* gateway: TLS server handshake (tls_gateway.c) */
	_DS_MAX,
};

struct dconn {
	struct eg_loop_closing closing;
	struct dconn *prev, *next;
	struct pworker *pw;
	struct pconf *pc;
	struct eg_io io;
	struct eg_io_watch watch;
	struct eg_timer timer;
	enum dmode mode;
	enum dstate state;
	uint16_t lport;
	bool captured_port_known;
	bool keep_alive_seen; /* served a request already: idle timeout applies */
	bool closing_after; /* close after the current response */
	bool released;
	struct eg_net_addr peer, orig; /* orig: captured destination (the local address is the
	                                * pod address and d->lport: not kept per connection) */
	char *thost;    /* CONNECT/absolute-form destination name, or NULL */
	uint16_t tport; /* destination port when captured or tunnelled */
	char *rbuf;
	size_t rlen, rcap;
	size_t head_prev;
	struct exch *ex;
	struct tcpx *tx;
	/* pending bytes of a response written here (DS_FLUSH, CONNECT 200): heap, only then */
	char *out;
	uint32_t out_len, out_off;
	struct dtls *dt; /* terminated TLS: chain, peer identity (tls_gateway.c), or NULL */
};

/* One HTTP request/response exchange (allocated per request, kept on a free list). */
struct exch {
	struct dconn *d;
	struct uconn *u;
	struct exch *free_next;
	struct eg_timer timer; /* route timeout */
	struct timespec start_rt;
	uint64_t start_ms, up_start_ms;
	/* request, as slices of d->rbuf (the head stays there until the exchange ends) */
	enum eg_http_method method;
	struct eg_str method_text, path, authority, ua, xff;
	unsigned version;
	char reqid[EG_HTTP_MAX_REQUEST_ID + 1];
	size_t reqid_len;
	size_t head_len;
	enum eg_http_body req_body;
	uint64_t req_left; /* LENGTH: bytes still to forward */
	struct eg_http_chunked req_ch;
	size_t fwd_off, fwd_end; /* d->rbuf[fwd_off, fwd_end): body bytes to send upstream */
	bool req_done;       /* every request byte was handed to the upstream */
	bool expect;         /* 100-continue to answer */
	bool req_keep_alive;
	uint64_t bytes_received, bytes_sent;
	/* routing */
	const struct eg_route *route;
	const struct eg_cluster *cl;
	const char *cluster_name;
	const char *route_name;
	struct eg_str dest_host; /* original destination name (passthrough) */
	uint16_t dest_port;
	struct eg_dns_query *dnsq;
	int dns_rounds;
	int attempts;
	bool reused;
	/* upstream request head and response */
	struct eg_buf uhead;
	size_t uhead_off;
	struct eg_buf dhead; /* response head (or a whole local response) to downstream */
	size_t dhead_off;
	bool resp_head_done;
	bool resp_started; /* bytes of the upstream's final head went to the client */
	bool resp_done;
	bool resp_local;     /* dhead holds a complete local response */
	size_t resp_prev;
	enum eg_http_body resp_body;
	uint64_t resp_left;
	struct eg_http_chunked resp_ch;
	bool resp_keep_alive;
	bool sent_100;
	uint32_t d_ev, u_ev; /* the events that called ex_pump() (see its end) */
	int status;
	uint32_t flags;
	const char *details;
	const char *ufail; /* upstream transport failure reason */
	/* upstream addresses, formatted into uhost/ulocal only when a log line needs them */
	struct eg_net_addr uaddr, uladdr;
	char uhost[EG_NET_ADDR_STRLEN];
	char ulocal[EG_NET_ADDR_STRLEN];
	char xffb[EG_NET_ADDR_STRLEN];
	char deny[EG_POLICY_REASON_MAX];
	bool denied;
	char ufailb[EG_TLS_REASON_MAX]; /* TLS handshake failure reason (ufail points here) */
};

/* TCP/TLS connection state (allocated for captured TLS/TCP and CONNECT tunnels). */
struct tcpx {
	struct eg_net_relay relay;
	struct eg_net_connector conn;
	struct timespec start_rt;
	uint64_t start_ms;
	const struct eg_tcp_route *route;
	const struct eg_cluster *cl;
	const char *cluster_name;
	struct eg_dns_query *dnsq;
	char sni[EG_TLS_SNI_MAX + 1];
	char uhost[EG_NET_ADDR_STRLEN];
	char ulocal[EG_NET_ADDR_STRLEN];
	uint32_t flags;
	const char *details;
	bool relaying;
	struct eg_metrics_labels labels;
	bool opened;
	uint8_t alert; /* TLS alert a denied connection gets (0: access_denied) */
};

/* conn.c */
void d_set_state(struct dconn *d, enum dstate next);
void dconn_accept(struct plistener *pl, int fd, const struct eg_net_addr *peer);
void dconn_close(struct dconn *d);
void dconn_drain(struct dconn *d);
void d_start_tcp(struct dconn *d, const struct eg_tcp_route *r, bool tls);
void d_after_tunnel_open(struct dconn *d);
void d_arm(struct dconn *d);
void ex_cache_free(struct pworker *pw);
/* The connection's local address (the pod address and listener port). */
void d_local(const struct dconn *d, struct eg_net_addr *ret);

/* upstream.c */
struct pick {
	struct eg_net_addr addr;
	const struct eg_cluster *cl;
};
/* Chooses an endpoint address of @cl: 0 (filled), EG_DNS_PENDING (cb runs later), or
 * -errno (-ENOENT no endpoint: UH; -EHOSTUNREACH DNS failure: DF). */
int up_pick(struct pworker *pw, const struct eg_cluster *cl, struct eg_str dest_host,
            uint16_t dest_port, const struct eg_net_addr *orig, eg_dns_cb cb, void *data,
            struct eg_dns_query **q, struct eg_net_addr *ret);
struct upool *up_pool(struct pworker *pw, const struct eg_cluster *cl,
                      const struct eg_net_addr *a);
/* Same, in a pool of its own for each @salt (TLS with a per-request SNI; 0: up_pool). */
struct upool *up_pool_salted(struct pworker *pw, const struct eg_cluster *cl,
                             const struct eg_net_addr *a, uint64_t salt);
struct uconn *up_take_idle(struct upool *p);
void up_release(struct uconn *u, bool reuse, uint64_t idle_ms, uint32_t max_req);
/* Starts a new connection; the connector calls @cb. NULL on failure with *err. */
struct uconn *up_connect(struct pworker *pw, const struct pconf *pc, struct upool *p,
                         const struct eg_cluster *cl, eg_net_connect_cb cb, void *data, int *err,
                         const char **why);
void up_close(struct uconn *u);
/* The source address for a connection to @dst: 1 with *ret (gateway: the next address of
 * the egress prefix; loopback sidecar: its pod address), 0 for any, -EADDRNOTAVAIL for a
 * gateway without prefix. */
int up_source(struct pworker *pw, const struct pconf *pc, const struct eg_net_addr *dst,
              struct eg_net_addr *ret);
void up_pools_close_idle(struct pworker *pw);
void up_pools_free(struct pworker *pw);
uint64_t up_connect_timeout(const struct eg_cluster *cl);
const char *up_errno_reason(int err);

/* telemetry glue (log.c) */
void log_http(struct exch *ex);
void log_tcp(struct dconn *d, struct tcpx *tx, uint64_t rx, uint64_t txb);
void labels_dest(struct eg_metrics_labels *l, const struct pconf *pc, const struct eg_cluster *cl,
                 const char *cluster_name, struct eg_str authority);
void count_deny(struct pworker *pw, struct eg_str host, const char *reason);

#include "proxy/tls_proxy.h"

#endif /* EG_PROXY_INTERNAL_H */
