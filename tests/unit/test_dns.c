/* tests/unit/test_dns.c: the hosts file parser and the resolver (literal, hosts precedence,
 * every address, TTL floor/ceiling and expiry, coalescing, negative caching, timeouts,
 * cancellation, eviction). Names are answered by a tiny DNS responder this file runs on
 * 127.0.0.1 (random UDP port); the machine's resolver is never asked. */
#include "../../src/dns/resolve.c"
#include "eg_test.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* ---- the fake responder ---- */

struct rr {
	const char *name;
	uint16_t type; /* 1 = A, 28 = AAAA */
	const char *addr;
	uint32_t ttl;
};

static const struct rr zone[] = {
        {"a.test", 1, "127.0.0.77", 60},     {"multi.test", 1, "127.0.0.21", 30},
        {"multi.test", 1, "127.0.0.22", 20}, {"multi.test", 28, "::1", 40},
        {"short.test", 1, "127.0.0.31", 0},  {"long.test", 1, "127.0.0.41", 86400},
        {"coal.test", 1, "127.0.0.51", 60},  {"coal2.test", 1, "127.0.0.52", 60},
        {"e1.test", 1, "127.0.0.61", 60},    {"e2.test", 1, "127.0.0.62", 60},
        {"e3.test", 1, "127.0.0.63", 60},    {"v4only.test", 1, "127.0.0.71", 60},
};
static const char *const nxdomain[] = {"nx.test"};
static const char *const servfail[] = {"fail.test"};
static const char *const dropped[] = {"drop.test"};

struct qlog {
	char name[256];
	uint16_t type;
};

static struct {
	int fd;
	uint16_t port;
	pthread_t th;
	bool started;
	_Atomic bool stop;
	pthread_mutex_t lock;
	struct qlog log[512];
	unsigned nlog;
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool in_list(const char *const *l, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i], name) == 0)
			return true;
	return false;
}

/* Parses the question of @q (@n bytes): name (lowercased, dotted), type, and where it ends. */
static int parse_question(const uint8_t *q, size_t n, char *name, size_t size, uint16_t *type,
                          size_t *end)
{
	size_t p = 12, o = 0;

	if (n < 12 || q[4] != 0 || q[5] < 1)
		return -1;
	while (p < n && q[p]) {
		size_t l = q[p++];

		if (l > 63 || p + l > n || o + l + 1 >= size)
			return -1;
		if (o)
			name[o++] = '.';
		for (size_t i = 0; i < l; i++) {
			char c = (char)q[p + i];

			name[o++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		p += l;
	}
	if (p + 5 > n)
		return -1;
	name[o] = '\0';
	p++;
	*type = (uint16_t)(q[p] << 8 | q[p + 1]);
	*end = p + 4;
	return 0;
}

static void *fake_main(void *arg)
{
	(void)arg;
	while (!atomic_load(&fake.stop)) {
		struct pollfd pfd = {fake.fd, POLLIN, 0};
		uint8_t q[512], a[1024];
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		char name[256];
		uint16_t type, an = 0, rcode = 0;
		size_t qend, o;
		ssize_t n;

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		n = recvfrom(fake.fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
		if (n <= 0 || parse_question(q, (size_t)n, name, sizeof(name), &type, &qend) < 0)
			continue;
		pthread_mutex_lock(&fake.lock);
		if (fake.nlog < EG_ARRAY_SIZE(fake.log)) {
			snprintf(fake.log[fake.nlog].name, sizeof(fake.log[0].name), "%s", name);
			fake.log[fake.nlog++].type = type;
		}
		pthread_mutex_unlock(&fake.lock);
		if (in_list(dropped, EG_ARRAY_SIZE(dropped), name))
			continue;
		if (in_list(nxdomain, EG_ARRAY_SIZE(nxdomain), name))
			rcode = 3;
		if (in_list(servfail, EG_ARRAY_SIZE(servfail), name))
			rcode = 2;
		memcpy(a, q, qend);
		o = qend;
		for (size_t i = 0; rcode == 0 && i < EG_ARRAY_SIZE(zone); i++) {
			uint8_t rdata[16];
			size_t rlen = zone[i].type == 1 ? 4 : 16;

			if (strcmp(zone[i].name, name) != 0 || zone[i].type != type)
				continue;
			inet_pton(type == 1 ? AF_INET : AF_INET6, zone[i].addr, rdata);
			a[o++] = 0xc0; /* name: pointer to the question */
			a[o++] = 12;
			a[o++] = (uint8_t)(type >> 8);
			a[o++] = (uint8_t)type;
			a[o++] = 0;
			a[o++] = 1; /* IN */
			a[o++] = (uint8_t)(zone[i].ttl >> 24);
			a[o++] = (uint8_t)(zone[i].ttl >> 16);
			a[o++] = (uint8_t)(zone[i].ttl >> 8);
			a[o++] = (uint8_t)zone[i].ttl;
			a[o++] = 0;
			a[o++] = (uint8_t)rlen;
			memcpy(a + o, rdata, rlen);
			o += rlen;
			an++;
		}
		a[2] = (uint8_t)(0x80 | (q[2] & 0x01)); /* QR, copy RD */
		a[3] = (uint8_t)(0x80 | rcode);         /* RA, rcode */
		a[4] = 0;
		a[5] = 1;
		a[6] = (uint8_t)(an >> 8);
		a[7] = (uint8_t)an;
		memset(a + 8, 0, 4); /* no authority, no additional */
		(void)sendto(fake.fd, a, o, 0, (struct sockaddr *)&from, flen);
	}
	return NULL;
}

static void fake_start(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);

	if (fake.started)
		return;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fake.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fake.fd < 0 || bind(fake.fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fake.fd, (struct sockaddr *)&sin, &len) < 0)
		EG_FAIL("fake dns socket: %s", strerror(errno));
	fake.port = ntohs(sin.sin_port);
	if (pthread_create(&fake.th, NULL, fake_main, NULL) != 0)
		EG_FAIL("fake dns thread");
	fake.started = true;
}

__attribute__((destructor)) static void fake_stop(void)
{
	if (!fake.started)
		return;
	atomic_store(&fake.stop, true);
	pthread_join(fake.th, NULL);
	close(fake.fd);
}

static unsigned queries_for(const char *name, uint16_t type)
{
	unsigned n = 0;

	pthread_mutex_lock(&fake.lock);
	for (unsigned i = 0; i < fake.nlog; i++)
		if (strcmp(fake.log[i].name, name) == 0 && (type == 0 || fake.log[i].type == type))
			n++;
	pthread_mutex_unlock(&fake.lock);
	return n;
}

/* ---- helpers ---- */

struct env {
	struct eg_loop *loop;
	struct eg_dns_resolver *r;
	char servers[64];
};

static void env_init(struct env *e, struct eg_dns_config *cfg)
{
	struct eg_dns_config def = {0};

	fake_start();
	if (!cfg)
		cfg = &def;
	snprintf(e->servers, sizeof(e->servers), "127.0.0.1:%u", (unsigned)fake.port);
	cfg->servers = e->servers;
	if (!cfg->timeout_ms)
		cfg->timeout_ms = 1000;
	if (eg_loop_new(&e->loop) < 0)
		EG_FAIL("loop");
	if (eg_dns_resolver_new(e->loop, cfg, &e->r) < 0)
		EG_FAIL("resolver");
}

static void env_done(struct env *e)
{
	e->r = eg_dns_resolver_free(e->r);
	e->loop = eg_loop_free(e->loop);
}

struct res {
	int calls;
	int status;
	struct eg_dns_answer *ans; /* own reference */
};

static void res_cb(void *data, int status, struct eg_dns_answer *ans)
{
	struct res *x = data;

	x->calls++;
	x->status = status;
	x->ans = eg_dns_answer_ref(ans);
}

static void wait_calls(struct env *e, const int *calls, int want, uint64_t ms)
{
	uint64_t end = eg_clock_ms() + ms;

	while (*calls < want && eg_clock_ms() < end)
		(void)eg_loop_run(e->loop, EG_LOOP_ONCE); /* c-ares's timer bounds each wait */
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static const char *ip_of(const struct eg_dns_answer *a, size_t i)
{
	static char buf[4][EG_NET_ADDR_STRLEN];
	static unsigned k;
	char *b = buf[k++ % 4];

	eg_net_addr_format_ip(&a->addr[i], b, EG_NET_ADDR_STRLEN);
	return b;
}

#define RESOLVE(e, name, fam, x, ans)                                                              \
	eg_dns_resolve((e)->r, (name), strlen(name), (fam), res_cb, (x), (ans), NULL)

/* ---- hosts file ---- */

EG_TEST(dns_hosts_parse_format)
{
	static const char text[] = "# comment line\n"
	                           "127.0.0.9  a.test  alias.test # trailing comment\n"
	                           "\n"
	                           "   \t  \n"
	                           "::9\tA.Test.\r\n"
	                           "127.0.0.9 a.test\n"             /* duplicate: ignored */
	                           "10.0.0.1\n"                     /* no name: bad */
	                           "10.0.0.x host.test\n"           /* bad address */
	                           "10.0.0.2 good.test bad..name\n" /* one bad name: whole line */
	                           "[::1] brackets.test\n"
	                           "10.0.0.3 v4.test\n"
	                           "10.0.0.4 last.test"; /* no final newline */
	struct eg_dns_hosts *h;
	struct eg_dns_answer *a;
	unsigned bad = 0, first = 0;

	EG_ASSERT_EQ(eg_dns_hosts_parse(text, strlen(text), &h, &bad, &first), 0);
	EG_ASSERT_EQ(bad, 4);
	EG_ASSERT_EQ(first, 7);
	EG_ASSERT_EQ(eg_dns_hosts_count(h), 4); /* a.test alias.test v4.test last.test */
	EG_ASSERT_EQ(eg_dns_hosts_lookup(h, "a.test", 6, AF_UNSPEC, &a), 0);
	EG_ASSERT_EQ(a->n, 2);
	EG_ASSERT_EQ(a->source, EG_DNS_SOURCE_HOSTS);
	EG_ASSERT_STR_EQ(ip_of(a, 0), "127.0.0.9");
	EG_ASSERT_STR_EQ(ip_of(a, 1), "::9");
	EG_ASSERT_EQ(eg_dns_hosts_lookup(h, "A.TEST.", 7, AF_INET6, &a), 0);
	EG_ASSERT_EQ(a->n, 1);
	EG_ASSERT_STR_EQ(ip_of(a, 0), "::9");
	EG_ASSERT_EQ(eg_dns_hosts_lookup(h, "alias.test", 10, AF_INET, &a), 0);
	EG_ASSERT_STR_EQ(ip_of(a, 0), "127.0.0.9");
	EG_ASSERT_EQ(eg_dns_hosts_lookup(h, "v4.test", 7, AF_INET6, &a), -ENODATA);
	EG_ASSERT_EQ(eg_dns_hosts_lookup(h, "last.test", 9, AF_INET, &a), 0);
	EG_ASSERT_EQ(eg_dns_hosts_lookup(h, "good.test", 9, AF_INET, &a), -ENOENT);
	EG_ASSERT_EQ(eg_dns_hosts_lookup(h, "brackets.test", 13, AF_UNSPEC, &a), -ENOENT);
	EG_ASSERT_EQ(eg_dns_hosts_lookup(h, "", 0, AF_UNSPEC, &a), -ENOENT);
	/* Static answers: ref/unref are no-ops. */
	EG_ASSERT(eg_dns_answer_ref(a) == a);
	EG_ASSERT(eg_dns_answer_unref(a) == NULL);
	EG_ASSERT(eg_dns_hosts_ref(h) == h);
	EG_ASSERT(eg_dns_hosts_unref(h) == NULL); /* one reference left */
	EG_ASSERT_EQ(eg_dns_hosts_count(h), 4);
	h = eg_dns_hosts_unref(h);
	EG_ASSERT_EQ(eg_dns_hosts_lookup(NULL, "a.test", 6, AF_INET, &a), -ENOENT);
}

EG_TEST(dns_hosts_limits)
{
	struct eg_dns_hosts *h = NULL;
	size_t n = EG_DNS_HOSTS_MAX_LINE + 10;
	char *line = malloc(n + 1);

	memset(line, 'a', n);
	memcpy(line, "1.2.3.4 ", 8);
	EG_ASSERT_EQ(eg_dns_hosts_parse(line, n, &h, NULL, NULL), -E2BIG);
	EG_ASSERT(h == NULL);
	free(line);
	/* A 64-character label is not a DNS name; 63 is. */
	{
		char l[128];
		unsigned bad;

		snprintf(l, sizeof(l), "1.2.3.4 %.*s.test\n", 64,
		         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		EG_ASSERT_EQ(eg_dns_hosts_parse(l, strlen(l), &h, &bad, NULL), 0);
		EG_ASSERT_EQ(bad, 1);
		h = eg_dns_hosts_unref(h);
		snprintf(l, sizeof(l), "1.2.3.4 %.*s.test\n", 63,
		         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		EG_ASSERT_EQ(eg_dns_hosts_parse(l, strlen(l), &h, &bad, NULL), 0);
		EG_ASSERT_EQ(bad, 0);
		EG_ASSERT_EQ(eg_dns_hosts_count(h), 1);
		h = eg_dns_hosts_unref(h);
	}
	EG_ASSERT_EQ(eg_dns_hosts_load("/nonexistent/hosts", &h, NULL, NULL), -ENOENT);
}

/* ---- resolver ---- */

EG_TEST(dns_literal_addresses_answer_at_once)
{
	struct env e;
	struct res x = {0};
	struct eg_dns_answer *a = NULL;

	env_init(&e, NULL);
	EG_ASSERT_EQ(RESOLVE(&e, "127.0.0.1", AF_UNSPEC, &x, &a), 0);
	EG_ASSERT_EQ(a->source, EG_DNS_SOURCE_LITERAL);
	EG_ASSERT_EQ(a->n, 1);
	EG_ASSERT_STR_EQ(ip_of(a, 0), "127.0.0.1");
	a = eg_dns_answer_unref(a);
	EG_ASSERT_EQ(RESOLVE(&e, "[::1]", AF_INET6, &x, &a), 0);
	EG_ASSERT_STR_EQ(ip_of(a, 0), "::1");
	a = eg_dns_answer_unref(a);
	EG_ASSERT_EQ(RESOLVE(&e, "::1", AF_INET, &x, &a), -ENODATA);
	EG_ASSERT_EQ(RESOLVE(&e, "bad name!", AF_INET, &x, &a), -EINVAL);
	EG_ASSERT_EQ(RESOLVE(&e, "", AF_INET, &x, &a), -EINVAL);
	EG_ASSERT_EQ(RESOLVE(&e, "a.test", AF_UNIX, &x, &a), -EAFNOSUPPORT);
	EG_ASSERT_EQ(x.calls, 0);
	env_done(&e);
}

EG_TEST(dns_hosts_file_takes_precedence)
{
	static const char text[] = "127.0.0.9 a.test\n127.0.0.10 v4only.test\n";
	struct eg_dns_config cfg = {0};
	struct env e;
	struct res x = {0};
	struct eg_dns_answer *a = NULL;
	struct eg_dns_stats st;
	unsigned before = 0;

	EG_ASSERT_EQ(eg_dns_hosts_parse(text, strlen(text), &cfg.hosts, NULL, NULL), 0);
	env_init(&e, &cfg);
	cfg.hosts = eg_dns_hosts_unref(cfg.hosts); /* the resolver holds its own reference */
	before = queries_for("a.test", 0);
	EG_ASSERT_EQ(RESOLVE(&e, "a.test", AF_INET, &x, &a), 0);
	EG_ASSERT_EQ(a->source, EG_DNS_SOURCE_HOSTS);
	EG_ASSERT_STR_EQ(ip_of(a, 0), "127.0.0.9"); /* DNS would say 127.0.0.77 */
	a = eg_dns_answer_unref(a);
	/* Listed without IPv6: authoritative, no DNS query. */
	EG_ASSERT_EQ(RESOLVE(&e, "v4only.test", AF_INET6, &x, &a), -ENODATA);
	sleep_ms(50);
	EG_ASSERT_EQ(queries_for("a.test", 0), before);
	EG_ASSERT_EQ(queries_for("v4only.test", 0), 0);
	eg_dns_resolver_stats(e.r, &st);
	EG_ASSERT_EQ(st.hosts, 2);
	EG_ASSERT_EQ(st.queries, 0);
	/* Not in the file: DNS. */
	EG_ASSERT_EQ(RESOLVE(&e, "e1.test", AF_INET, &x, &a), EG_DNS_PENDING);
	wait_calls(&e, &x.calls, 1, 3000);
	EG_ASSERT_EQ(x.status, 0);
	EG_ASSERT_EQ(x.ans->source, EG_DNS_SOURCE_DNS);
	EG_ASSERT_STR_EQ(ip_of(x.ans, 0), "127.0.0.61");
	x.ans = eg_dns_answer_unref(x.ans);
	env_done(&e);
}

EG_TEST(dns_answer_has_every_address_and_smallest_ttl)
{
	struct eg_dns_config cfg = {.ttl_floor_s = 1};
	struct env e;
	struct res x = {0}, y = {0};
	struct eg_dns_answer *a = NULL;
	bool v4a = false, v4b = false, v6 = false;

	env_init(&e, &cfg);
	EG_ASSERT_EQ(RESOLVE(&e, "multi.test", AF_UNSPEC, &x, &a), EG_DNS_PENDING);
	wait_calls(&e, &x.calls, 1, 3000);
	EG_ASSERT_EQ(x.calls, 1);
	EG_ASSERT_EQ(x.status, 0);
	EG_ASSERT_EQ(x.ans->n, 3);
	for (size_t i = 0; i < x.ans->n; i++) {
		v4a |= strcmp(ip_of(x.ans, i), "127.0.0.21") == 0;
		v4b |= strcmp(ip_of(x.ans, i), "127.0.0.22") == 0;
		v6 |= strcmp(ip_of(x.ans, i), "::1") == 0;
		EG_ASSERT_EQ(eg_net_addr_port(&x.ans->addr[i]), 0);
	}
	EG_ASSERT(v4a && v4b && v6);
	EG_ASSERT_EQ(x.ans->ttl_s, 20);
	x.ans = eg_dns_answer_unref(x.ans);
	/* IPv4 only: a separate cache key. */
	EG_ASSERT_EQ(RESOLVE(&e, "multi.test", AF_INET, &y, &a), EG_DNS_PENDING);
	wait_calls(&e, &y.calls, 1, 3000);
	EG_ASSERT_EQ(y.status, 0);
	EG_ASSERT_EQ(y.ans->n, 2);
	y.ans = eg_dns_answer_unref(y.ans);
	env_done(&e);
}

EG_TEST(dns_cache_serves_until_ttl_then_asks_again)
{
	struct eg_dns_config cfg = {.ttl_floor_s = 1};
	struct env e;
	struct res x = {0}, z = {0};
	struct eg_dns_answer *a = NULL;
	unsigned q0 = queries_for("short.test", 1);
	struct eg_dns_stats st;

	env_init(&e, &cfg);
	EG_ASSERT_EQ(RESOLVE(&e, "short.test", AF_INET, &x, &a), EG_DNS_PENDING);
	wait_calls(&e, &x.calls, 1, 3000);
	EG_ASSERT_EQ(x.status, 0);
	EG_ASSERT_EQ(x.ans->ttl_s, 1); /* TTL 0 raised to the floor */
	EG_ASSERT_EQ(queries_for("short.test", 1), q0 + 1);
	/* Within the TTL: from the cache, at once, same answer. */
	EG_ASSERT_EQ(RESOLVE(&e, "SHORT.test.", AF_INET, &z, &a), 0);
	EG_ASSERT(a == x.ans);
	a = eg_dns_answer_unref(a);
	eg_dns_resolver_stats(e.r, &st);
	EG_ASSERT_EQ(st.cache_hits, 1);
	EG_ASSERT_EQ(st.entries, 1);
	x.ans = eg_dns_answer_unref(x.ans);
	/* After it: a new query. */
	sleep_ms(1100);
	eg_loop_update_time(e.loop);
	EG_ASSERT_EQ(RESOLVE(&e, "short.test", AF_INET, &z, &a), EG_DNS_PENDING);
	wait_calls(&e, &z.calls, 1, 3000);
	EG_ASSERT_EQ(z.status, 0);
	EG_ASSERT_EQ(queries_for("short.test", 1), q0 + 2);
	z.ans = eg_dns_answer_unref(z.ans);
	env_done(&e);
}

EG_TEST(dns_ttl_is_clamped_to_floor_and_ceiling)
{
	struct env e;
	struct res x = {0}, y = {0};
	struct eg_dns_answer *a = NULL;
	struct cache_entry *ce;
	uint64_t now;

	env_init(&e, NULL); /* defaults: floor 5 s, ceiling 300 s */
	EG_ASSERT_EQ(RESOLVE(&e, "long.test", AF_INET, &x, &a), EG_DNS_PENDING);
	EG_ASSERT_EQ(RESOLVE(&e, "short.test", AF_INET, &y, &a), EG_DNS_PENDING);
	wait_calls(&e, &x.calls, 1, 3000);
	wait_calls(&e, &y.calls, 1, 3000);
	EG_ASSERT_EQ(x.ans->ttl_s, EG_DNS_DEFAULT_TTL_CEILING_S); /* 86400 lowered */
	EG_ASSERT_EQ(y.ans->ttl_s, EG_DNS_DEFAULT_TTL_FLOOR_S);   /* 0 raised */
	now = eg_loop_now(e.loop);
	ce = cache_find(e.r, "long.test", 9, AF_INET, key_hash("long.test", 9, AF_INET));
	EG_ASSERT(ce != NULL);
	EG_ASSERT(ce->expires_ms <= now + 300000);
	EG_ASSERT(ce->expires_ms + 2000 >= now + 300000);
	/* The cache honours it: still there 299 s later, gone at 300 s. */
	EG_ASSERT(cache_get(e.r, "long.test", 9, AF_INET, ce->hash, ce->expires_ms - 1) != NULL);
	EG_ASSERT(cache_get(e.r, "long.test", 9, AF_INET, ce->hash, ce->expires_ms) == NULL);
	x.ans = eg_dns_answer_unref(x.ans);
	y.ans = eg_dns_answer_unref(y.ans);
	env_done(&e);
}

EG_TEST(dns_concurrent_lookups_share_one_query)
{
	struct env e;
	struct res x[5] = {0};
	struct eg_dns_answer *a = NULL;
	struct eg_dns_stats st;
	unsigned q0 = queries_for("coal.test", 1);

	env_init(&e, NULL);
	for (int i = 0; i < 5; i++)
		EG_ASSERT_EQ(RESOLVE(&e, "coal.test", AF_INET, &x[i], &a), EG_DNS_PENDING);
	eg_dns_resolver_stats(e.r, &st);
	EG_ASSERT_EQ(st.queries, 1);
	EG_ASSERT_EQ(st.coalesced, 4);
	EG_ASSERT_EQ(st.pending, 1);
	wait_calls(&e, &x[4].calls, 1, 3000);
	for (int i = 0; i < 5; i++) {
		EG_ASSERT_EQ(x[i].calls, 1);
		EG_ASSERT_EQ(x[i].status, 0);
		EG_ASSERT(x[i].ans == x[0].ans); /* one answer, shared */
		EG_ASSERT_STR_EQ(ip_of(x[i].ans, 0), "127.0.0.51");
	}
	EG_ASSERT_EQ(queries_for("coal.test", 1), q0 + 1);
	EG_ASSERT_EQ(queries_for("coal.test", 28), 0); /* AF_INET: no AAAA asked */
	for (int i = 0; i < 5; i++)
		x[i].ans = eg_dns_answer_unref(x[i].ans);
	eg_dns_resolver_stats(e.r, &st);
	EG_ASSERT_EQ(st.pending, 0);
	env_done(&e);
}

EG_TEST(dns_nxdomain_is_cached_negatively)
{
	struct eg_dns_config cfg = {.negative_ttl_s = 1};
	struct env e;
	struct res x = {0}, z = {0};
	struct eg_dns_answer *a = NULL;
	struct eg_dns_stats st;
	unsigned q0 = queries_for("nx.test", 0);

	env_init(&e, &cfg);
	EG_ASSERT_EQ(RESOLVE(&e, "nx.test", AF_INET, &x, &a), EG_DNS_PENDING);
	wait_calls(&e, &x.calls, 1, 3000);
	EG_ASSERT_EQ(x.status, -ENOENT);
	EG_ASSERT(x.ans == NULL);
	EG_ASSERT_EQ(queries_for("nx.test", 0), q0 + 1);
	/* Cached: answered at once with the same error, no query, no callback. */
	EG_ASSERT_EQ(RESOLVE(&e, "nx.test", AF_INET, &z, &a), -ENOENT);
	EG_ASSERT_EQ(z.calls, 0);
	eg_dns_resolver_stats(e.r, &st);
	EG_ASSERT_EQ(st.negative_hits, 1);
	EG_ASSERT_EQ(st.failures, 1);
	sleep_ms(50);
	EG_ASSERT_EQ(queries_for("nx.test", 0), q0 + 1);
	/* After the negative TTL: asked again. */
	sleep_ms(1050);
	eg_loop_update_time(e.loop);
	EG_ASSERT_EQ(RESOLVE(&e, "nx.test", AF_INET, &z, &a), EG_DNS_PENDING);
	wait_calls(&e, &z.calls, 1, 3000);
	EG_ASSERT_EQ(z.status, -ENOENT);
	EG_ASSERT_EQ(queries_for("nx.test", 0), q0 + 2);
	env_done(&e);
}

EG_TEST(dns_no_address_of_the_family_is_cached_negatively)
{
	struct env e;
	struct res x = {0};
	struct eg_dns_answer *a = NULL;

	env_init(&e, NULL);
	EG_ASSERT_EQ(RESOLVE(&e, "v4only.test", AF_INET6, &x, &a), EG_DNS_PENDING);
	wait_calls(&e, &x.calls, 1, 3000);
	EG_ASSERT_EQ(x.status, -ENODATA);
	EG_ASSERT_EQ(RESOLVE(&e, "v4only.test", AF_INET6, &x, &a), -ENODATA);
	EG_ASSERT_EQ(x.calls, 1);
	env_done(&e);
}

EG_TEST(dns_timeout_and_servfail_are_not_cached)
{
	struct eg_dns_config cfg = {.timeout_ms = 200, .tries = 1};
	struct env e;
	struct res x = {0}, y = {0}, z = {0};
	struct eg_dns_answer *a = NULL;
	uint64_t t0;

	env_init(&e, &cfg);
	t0 = eg_clock_ms();
	EG_ASSERT_EQ(RESOLVE(&e, "drop.test", AF_INET, &x, &a), EG_DNS_PENDING);
	EG_ASSERT_EQ(RESOLVE(&e, "fail.test", AF_INET, &y, &a), EG_DNS_PENDING);
	wait_calls(&e, &x.calls, 1, 5000);
	wait_calls(&e, &y.calls, 1, 5000);
	EG_ASSERT_EQ(x.status, -ETIMEDOUT); /* c-ares's timeout ran as a loop timer */
	EG_ASSERT(eg_clock_ms() - t0 >= 150);
	EG_ASSERT(eg_clock_ms() - t0 < 4000);
	/* c-ares 1.18 reports a SERVFAIL from the last server as "connection refused". */
	EG_ASSERT(y.status == -EIO || y.status == -ECONNREFUSED);
	EG_ASSERT_EQ(RESOLVE(&e, "fail.test", AF_INET, &z, &a), EG_DNS_PENDING);
	wait_calls(&e, &z.calls, 1, 5000);
	EG_ASSERT_EQ(z.status, y.status);
	/* Nor was the timeout cached. */
	EG_ASSERT_EQ(RESOLVE(&e, "drop.test", AF_INET, &x, &a), EG_DNS_PENDING);
	env_done(&e);
}

EG_TEST(dns_cancel_withdraws_one_waiter)
{
	struct env e;
	struct res x = {0}, y = {0};
	struct eg_dns_answer *a = NULL;
	struct eg_dns_query *q = NULL;

	env_init(&e, NULL);
	EG_ASSERT_EQ(eg_dns_resolve(e.r, "coal2.test", 10, AF_INET, res_cb, &x, &a, &q),
	             EG_DNS_PENDING);
	EG_ASSERT_EQ(RESOLVE(&e, "coal2.test", AF_INET, &y, &a), EG_DNS_PENDING);
	eg_dns_cancel(e.r, q);
	wait_calls(&e, &y.calls, 1, 3000);
	EG_ASSERT_EQ(y.status, 0);
	EG_ASSERT_EQ(x.calls, 0);
	y.ans = eg_dns_answer_unref(y.ans);
	/* The answer was cached even so. */
	EG_ASSERT_EQ(RESOLVE(&e, "coal2.test", AF_INET, &x, &a), 0);
	a = eg_dns_answer_unref(a);
	env_done(&e);
}

EG_TEST(dns_free_cancels_pending_lookups)
{
	struct eg_dns_config cfg = {.timeout_ms = 5000, .tries = 1};
	struct env e;
	struct res x = {0};
	struct eg_dns_answer *a = NULL;

	env_init(&e, &cfg);
	EG_ASSERT_EQ(RESOLVE(&e, "drop.test", AF_INET, &x, &a), EG_DNS_PENDING);
	EG_ASSERT_EQ(eg_loop_run(e.loop, EG_LOOP_NOWAIT), 0);
	e.r = eg_dns_resolver_free(e.r);
	EG_ASSERT_EQ(x.calls, 1);
	EG_ASSERT_EQ(x.status, -ECANCELED);
	e.loop = eg_loop_free(e.loop); /* runs the deferred frees of c-ares socket watchers */
}

EG_TEST(dns_cache_is_bounded)
{
	struct eg_dns_config cfg = {.max_entries = 2};
	struct env e;
	struct res x[3] = {0};
	struct eg_dns_answer *a = NULL;
	struct eg_dns_stats st;
	const char *names[3] = {"e1.test", "e2.test", "e3.test"};

	env_init(&e, &cfg);
	for (int i = 0; i < 3; i++) {
		EG_ASSERT_EQ(RESOLVE(&e, names[i], AF_INET, &x[i], &a), EG_DNS_PENDING);
		wait_calls(&e, &x[i].calls, 1, 3000);
		EG_ASSERT_EQ(x[i].status, 0);
		x[i].ans = eg_dns_answer_unref(x[i].ans);
	}
	eg_dns_resolver_stats(e.r, &st);
	EG_ASSERT_EQ(st.entries, 2);
	EG_ASSERT_EQ(st.evictions, 1);
	/* The least recently used (e1) went; e3 is there. */
	EG_ASSERT_EQ(RESOLVE(&e, "e3.test", AF_INET, &x[0], &a), 0);
	a = eg_dns_answer_unref(a);
	EG_ASSERT_EQ(RESOLVE(&e, "e1.test", AF_INET, &x[0], &a), EG_DNS_PENDING);
	wait_calls(&e, &x[0].calls, 2, 3000);
	x[0].ans = eg_dns_answer_unref(x[0].ans);
	env_done(&e);
}

EG_TEST(dns_errno_mapping)
{
	EG_ASSERT_EQ(eg_dns_errno(ARES_SUCCESS), 0);
	EG_ASSERT_EQ(eg_dns_errno(ARES_ENOTFOUND), -ENOENT);
	EG_ASSERT_EQ(eg_dns_errno(ARES_ENODATA), -ENODATA);
	EG_ASSERT_EQ(eg_dns_errno(ARES_ETIMEOUT), -ETIMEDOUT);
	EG_ASSERT_EQ(eg_dns_errno(ARES_ESERVFAIL), -EIO);
	EG_ASSERT_EQ(eg_dns_errno(ARES_EDESTRUCTION), -ECANCELED);
	EG_ASSERT_EQ(eg_dns_errno(ARES_EBADNAME), -EINVAL);
}
