/* src/compile/snapshot.c: what the data plane asks a snapshot: accessors, hash lookups
 * (listener, port, virtual host, SNI, cluster, service) and route matching. Lookups never
 * scan every route: a domain or SNI is found by hashing it, then its wildcard suffixes
 * from the longest, one label at a time. */
#include <strings.h>
#include <sys/socket.h>

#include "compile/internal.h"

#define MAX_HOST_KEY 320 /* 253-byte host, ':', port, "*" */

const struct eg_identity *eg_snapshot_identity(const struct eg_snapshot *s)
{
	return &s->id;
}

const struct eg_outbound_policy *eg_snapshot_policy(const struct eg_snapshot *s)
{
	return &s->policy;
}

const struct eg_access_log *eg_snapshot_access_log(const struct eg_snapshot *s)
{
	return &s->log;
}

const struct eg_egress_source *eg_snapshot_egress_source(const struct eg_snapshot *s)
{
	return &s->egress;
}

uint64_t eg_snapshot_version(const struct eg_snapshot *s)
{
	return s->id.version;
}

size_t eg_snapshot_nlisteners(const struct eg_snapshot *s)
{
	return s->nlisteners;
}

const struct eg_listener *eg_snapshot_listener_at(const struct eg_snapshot *s, size_t i)
{
	return i < s->nlisteners ? &s->listeners[i] : NULL;
}

size_t eg_snapshot_nroute_tables(const struct eg_snapshot *s)
{
	return s->ntables;
}

const struct eg_route_table *eg_snapshot_route_table_at(const struct eg_snapshot *s, size_t i)
{
	return i < s->ntables ? s->tables[i] : NULL;
}

size_t eg_snapshot_nclusters(const struct eg_snapshot *s)
{
	return s->nclusters;
}

const struct eg_cluster *eg_snapshot_cluster_at(const struct eg_snapshot *s, size_t i)
{
	return i < s->nclusters ? s->clusters[i] : NULL;
}

size_t eg_snapshot_nservices(const struct eg_snapshot *s)
{
	return s->nservices;
}

const struct eg_service *eg_snapshot_service_at(const struct eg_snapshot *s, size_t i)
{
	return i < s->nservices ? &s->services[i] : NULL;
}

size_t eg_snapshot_nauthz(const struct eg_snapshot *s)
{
	return s->nauthz;
}

const struct eg_authz_policy *eg_snapshot_authz_at(const struct eg_snapshot *s, size_t i)
{
	return i < s->nauthz ? &s->authz[i] : NULL;
}

/* --- lookups --- */

const struct eg_listener *eg_snapshot_listener(const struct eg_snapshot *s, uint16_t port)
{
	/* a handful of listeners per proxy */
	for (size_t i = 0; i < s->nlisteners; i++)
		if (s->listeners[i].port == port)
			return &s->listeners[i];
	return NULL;
}

const struct eg_port_entry *eg_snapshot_port(const struct eg_snapshot *s, uint16_t port)
{
	const struct eg_listener *l = eg_snapshot_listener(s, EG_CAPTURE_PORT);
	size_t lo = 0, hi;

	if (!l || l->kind != EG_LISTENER_CAPTURE)
		return NULL;
	hi = l->nports;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->ports[mid].port == port)
			return &l->ports[mid];
		if (l->ports[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct eg_cluster *eg_snapshot_cluster(const struct eg_snapshot *s, const char *name)
{
	return name ? index_get(s->cluster_index, name, strlen(name)) : NULL;
}

const struct eg_service *eg_snapshot_service(const struct eg_snapshot *s, const char *host)
{
	return host ? index_get(s->service_index, host, strlen(host)) : NULL;
}

/* Lower-cases @in into @buf; false when it does not fit. */
static bool lower_key(struct eg_str in, char *buf, size_t len)
{
	if (in.len + 1 > len)
		return false;
	for (size_t i = 0; i < in.len; i++) {
		char ch = in.ptr[i];

		buf[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
	}
	buf[in.len] = '\0';
	return true;
}

/* Looks up "*" + each suffix of @host (from its first dot), then @tail appended. */
static const void *wildcard_get(const struct eg_index *ix, const char *host, size_t hlen,
                                const char *tail)
{
	char key[MAX_HOST_KEY + 8];
	size_t tl = strlen(tail);

	for (size_t i = 0; i < hlen; i++) {
		const void *v;
		size_t n;

		if (host[i] != '.')
			continue;
		n = hlen - i;
		if (1 + n + tl >= sizeof(key))
			continue;
		key[0] = '*';
		memcpy(key + 1, host + i, n);
		memcpy(key + 1 + n, tail, tl);
		if ((v = index_get(ix, key, 1 + n + tl)))
			return v;
	}
	return NULL;
}

const struct eg_vhost *eg_route_table_vhost(const struct eg_route_table *rt,
                                            struct eg_str authority)
{
	char key[MAX_HOST_KEY];
	const struct eg_vhost *vh;
	size_t hlen;
	const char *colon;

	if (!rt)
		return NULL;
	if (!lower_key(authority, key, sizeof(key)))
		return rt->catch_all;
	if ((vh = index_get(rt->domains, key, authority.len)))
		return vh;
	/* the host part: an IPv6 literal keeps its brackets */
	colon = key[0] == '[' ? strstr(key, "]:") : strrchr(key, ':');
	if (colon && key[0] == '[')
		colon++;
	hlen = colon ? (size_t)(colon - key) : authority.len;
	if (colon) {
		char any[MAX_HOST_KEY + 4];

		memcpy(any, key, hlen);
		memcpy(any + hlen, ":*", 3);
		if ((vh = index_get(rt->domains, any, hlen + 2)))
			return vh;
	}
	if ((vh = wildcard_get(rt->domains, key, hlen, colon ? colon : "")))
		return vh;
	if (colon && (vh = wildcard_get(rt->domains, key, hlen, ":*")))
		return vh;
	return rt->catch_all;
}

const struct eg_tcp_route *eg_chain_sni_route(const struct eg_chain *c, struct eg_str sni)
{
	char key[MAX_HOST_KEY];
	const struct eg_tcp_route *r;

	if (!c)
		return NULL;
	if (sni.len && lower_key(sni, key, sizeof(key))) {
		if ((r = index_get(c->sni_index, key, sni.len)))
			return r;
		if ((r = wildcard_get(c->sni_index, key, sni.len, "")))
			return r;
	}
	if ((r = index_get(c->sni_index, "*", 1)))
		return r;
	return c->fallback;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (!rest)
		return true;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

const struct eg_tcp_route *eg_port_entry_addr_route(const struct eg_port_entry *pe, int family,
                                                    const void *addr)
{
	const struct eg_addr_route *best = NULL;

	for (size_t i = 0; pe && i < pe->nby_addr; i++) {
		const struct eg_addr_route *a = &pe->by_addr[i];

		if (a->family != family || !prefix_match(a->addr, addr, a->prefix))
			continue;
		if (!best || a->prefix > best->prefix)
			best = a;
	}
	return best ? best->route : NULL;
}

static bool name_match(const char *pattern, const char *sni, size_t len)
{
	size_t pl = strlen(pattern);

	if (pattern[0] == '*' && pattern[1] == '.')
		return len > pl - 1 && strncasecmp(sni + len - (pl - 1), pattern + 1, pl - 1) == 0;
	return pl == len && strncasecmp(pattern, sni, len) == 0;
}

const struct eg_filter_chain *eg_listener_chain(const struct eg_listener *l, struct eg_str sni)
{
	const struct eg_filter_chain *wild = NULL, *any = NULL;

	if (!l)
		return NULL;
	/* a few chains per listener: exact server name, then wildcard, then any */
	for (size_t i = 0; i < l->nchains; i++) {
		const struct eg_filter_chain *fc = &l->chains[i];

		if (!fc->nserver_names) {
			if (!any)
				any = fc;
			continue;
		}
		for (size_t j = 0; sni.len && j < fc->nserver_names; j++) {
			if (!name_match(fc->server_names[j], sni.ptr, sni.len))
				continue;
			if (fc->server_names[j][0] != '*')
				return fc;
			if (!wild)
				wild = fc;
		}
	}
	return wild ? wild : any;
}

/* --- route matching --- */

static bool smatch_ok(const struct eg_smatch *m, struct eg_str v)
{
	regmatch_t pm[1];

	switch (m->kind) {
	case EG_SMATCH_ANY:
		return true;
	case EG_SMATCH_PRESENT:
		return v.ptr != NULL;
	case EG_SMATCH_EXACT:
		if (!v.ptr || v.len != m->len)
			return false;
		return m->ignore_case ? strncasecmp(v.ptr, m->value, v.len) == 0
		                      : memcmp(v.ptr, m->value, v.len) == 0;
	case EG_SMATCH_PREFIX:
		if (!v.ptr || v.len < m->len)
			return false;
		return m->ignore_case ? strncasecmp(v.ptr, m->value, m->len) == 0
		                      : memcmp(v.ptr, m->value, m->len) == 0;
	case EG_SMATCH_REGEX:
		if (!v.ptr)
			return false;
		/* REG_STARTEND: the value needs no terminating NUL */
		pm[0].rm_so = 0;
		pm[0].rm_eo = (regoff_t)v.len;
		return regexec(m->re, v.ptr, 1, pm, REG_STARTEND) == 0;
	}
	return false;
}

static struct eg_str query_param(struct eg_str path, const char *name)
{
	const char *q = memchr(path.ptr, '?', path.len);
	const char *end = path.ptr + path.len;
	size_t nl = strlen(name);

	if (!q)
		return (struct eg_str){NULL, 0};
	for (const char *p = q + 1; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		size_t kl = (size_t)((eq ? eq : e) - p);

		if (kl == nl && memcmp(p, name, nl) == 0)
			return eq ? (struct eg_str){eq + 1, (size_t)(e - eq - 1)}
			          : (struct eg_str){e, 0};
		p = e + 1;
	}
	return (struct eg_str){NULL, 0};
}

static bool match_ok(const struct eg_route_match *m, const struct eg_http_req_view *req)
{
	struct eg_str path = req->path;
	const char *q = path.ptr ? memchr(path.ptr, '?', path.len) : NULL;

	if (q)
		path.len = (size_t)(q - path.ptr);
	if (!smatch_ok(&m->uri, path) || !smatch_ok(&m->method, req->method) ||
	    !smatch_ok(&m->scheme, req->scheme) || !smatch_ok(&m->authority, req->authority))
		return false;
	for (size_t i = 0; i < m->nheaders; i++) {
		const struct eg_header_match *h = &m->headers[i];
		struct eg_str v = req->header ? req->header(req->ctx, eg_str_c(h->name))
		                              : (struct eg_str){NULL, 0};
		bool hit = v.ptr && smatch_ok(&h->m, v);

		if (hit == h->absent)
			return false;
	}
	for (size_t i = 0; i < m->nquery; i++) {
		struct eg_str v = req->path.ptr ? query_param(req->path, m->query[i].name)
		                                : (struct eg_str){NULL, 0};

		if (!v.ptr || !smatch_ok(&m->query[i].m, v))
			return false;
	}
	return true;
}

const struct eg_route *eg_vhost_route(const struct eg_vhost *vh, const struct eg_http_req_view *req)
{
	for (size_t i = 0; vh && i < vh->nroutes; i++) {
		const struct eg_route *r = &vh->routes[i];

		if (!r->nmatches)
			return r;
		for (size_t j = 0; j < r->nmatches; j++)
			if (match_ok(&r->matches[j], req))
				return r;
	}
	return NULL;
}

const struct eg_weighted_cluster *eg_pick_weighted(const struct eg_weighted_cluster *c, size_t n,
                                                   uint32_t r)
{
	uint64_t acc = 0;

	for (size_t i = 0; i < n; i++) {
		acc += c[i].weight;
		if (r < acc)
			return &c[i];
	}
	return n ? &c[n - 1] : NULL;
}

/* --- names --- */

const char *eg_role_name(enum eg_role r)
{
	return r == EG_ROLE_GATEWAY ? "gateway" : "sidecar";
}

const char *eg_policy_name(enum eg_policy_mode m)
{
	return m == EG_POLICY_REGISTRY_ONLY ? "REGISTRY_ONLY" : "ALLOW_ANY";
}

const char *eg_cluster_type_name(enum eg_cluster_type t)
{
	static const char *const n[] = {"EDS",    "STRICT_DNS",   "LOGICAL_DNS",
	                                "STATIC", "ORIGINAL_DST", "DYNAMIC_DNS"};

	return (size_t)t < EG_ARRAY_SIZE(n) ? n[t] : "?";
}

const char *eg_lb_name(enum eg_lb_policy p)
{
	static const char *const n[] = {"LEAST_REQUEST", "ROUND_ROBIN", "RANDOM", "PASSTHROUGH",
	                                "CONSISTENT_HASH"};

	return (size_t)p < EG_ARRAY_SIZE(n) ? n[p] : "?";
}

const char *eg_upstream_tls_name(enum eg_upstream_tls_mode m)
{
	static const char *const n[] = {"DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"};

	return (size_t)m < EG_ARRAY_SIZE(n) ? n[m] : "?";
}

const char *eg_server_tls_name(enum eg_server_tls_mode m)
{
	static const char *const n[] = {"NONE",   "PASSTHROUGH",  "SIMPLE",
	                                "MUTUAL", "ISTIO_MUTUAL", "AUTO_PASSTHROUGH"};

	return (size_t)m < EG_ARRAY_SIZE(n) ? n[m] : "?";
}

const char *eg_chain_proto_name(enum eg_chain_proto p)
{
	static const char *const n[] = {"HTTP", "TLS", "TCP"};

	return (size_t)p < EG_ARRAY_SIZE(n) ? n[p] : "?";
}

const char *eg_authz_action_name(enum eg_authz_action a)
{
	static const char *const n[] = {"ALLOW", "DENY", "AUDIT", "CUSTOM"};

	return (size_t)a < EG_ARRAY_SIZE(n) ? n[a] : "?";
}
