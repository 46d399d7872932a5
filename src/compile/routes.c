/* src/compile/routes.c: VirtualService rules -> route tables, SNI chains and TCP routes,
 * and the listeners that use them: the sidecar's capture listener (one entry per
 * destination port) and a gateway's listeners (one per Service targetPort a Gateway
 * server asks for). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include "compile/internal.h"

#define MAX_CTX_GATEWAYS 64
#define DEFAULT_RETRY_ON                                                                           \
	"connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"

/* Where rules are being translated for: the proxy's "gateways" (mesh, or the Gateways of
 * a server) and the Service port of the listener. */
struct rctx {
	const char *gws[MAX_CTX_GATEWAYS]; /* "mesh" or "NS/NAME" */
	size_t ngws;
	uint16_t port;
};

/* --- gateway names in a VirtualService --- */

/* Whether the VS gateway reference @ref names @target ("mesh" or "NS/NAME"): "mesh",
 * "NS/NAME", "NAME" (in the VS namespace @vs_ns) or the old "NAME.NS.svc.cluster.local".
 * No allocation: this runs for every VirtualService of a large mesh. */
static bool gw_ref_is(const char *ref, const char *vs_ns, const char *target)
{
	const char *slash = strchr(ref, '/'), *dot = strchr(ref, '.');
	const char *tslash = strchr(target, '/'), *tname;
	size_t tnsl;

	if (strcmp(ref, "mesh") == 0 || strcmp(target, "mesh") == 0)
		return strcmp(ref, target) == 0;
	if (!tslash)
		return false;
	tnsl = (size_t)(tslash - target);
	tname = tslash + 1;
	if (slash)
		return strcmp(ref, target) == 0;
	if (dot) {
		const char *ns = dot + 1, *dot2 = strchr(ns, '.');
		size_t nl = (size_t)(dot - ref), nsl = dot2 ? (size_t)(dot2 - ns) : strlen(ns);

		return nl == strlen(tname) && memcmp(ref, tname, nl) == 0 && nsl == tnsl &&
		       memcmp(ns, target, nsl) == 0;
	}
	return strlen(vs_ns) == tnsl && memcmp(vs_ns, target, tnsl) == 0 && strcmp(ref, tname) == 0;
}

/* Whether the gateway list @l (or [mesh] when absent) names one of @x's gateways. */
static bool gws_hit(struct cc *c, const struct eg_node *l, const char *vs_ns, const struct rctx *x)
{
	(void)c;
	if (!eg_node_len(l)) {
		for (size_t i = 0; i < x->ngws; i++)
			if (strcmp(x->gws[i], "mesh") == 0)
				return true;
		return false;
	}
	for (size_t i = 0; i < l->n; i++) {
		if (!l->v[i]->s)
			continue;
		for (size_t j = 0; j < x->ngws; j++)
			if (gw_ref_is(l->v[i]->s, vs_ns, x->gws[j]))
				return true;
	}
	return false;
}

/* --- string matches --- */

static bool smatch(struct cc *c, const struct eg_resource *vs, const struct eg_node *n,
                   const char *path, struct eg_smatch *m)
{
	const char *v;

	memset(m, 0, sizeof(*m));
	if (!n)
		return true;
	if ((v = eg_node_str(n, "exact"))) {
		m->kind = EG_SMATCH_EXACT;
	} else if ((v = eg_node_str(n, "prefix"))) {
		m->kind = EG_SMATCH_PREFIX;
	} else if ((v = eg_node_str(n, "regex"))) {
		char *pat = malloc(strlen(v) + 5);
		regex_t *re = malloc(sizeof(*re));
		int rc;

		if (!pat || !re) {
			free(pat);
			free(re);
			cc_nomem(c);
			return false;
		}
		/* Envoy's regex matches the whole value */
		snprintf(pat, strlen(v) + 5, "^(%s)$", v);
		rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);
		free(pat);
		if (rc != 0) {
			free(re);
			cc_warn(c, vs, n, path,
			        "regex \"%s\" is not supported (POSIX extended syntax), ignoring "
			        "this match",
			        v);
			return false;
		}
		cc_regex_add(c, re);
		m->kind = EG_SMATCH_REGEX;
		m->re = re;
	} else {
		m->kind = EG_SMATCH_PRESENT;
		return true;
	}
	m->value = arena_str(c->sa, v);
	m->len = strlen(v);
	return true;
}

static const struct eg_header_match *header_matches(struct cc *c, const struct eg_resource *vs,
                                                    const struct eg_node *h,
                                                    const struct eg_node *without, size_t *ret_n,
                                                    bool *ok)
{
	size_t n = eg_node_len(h) + eg_node_len(without), k = 0;
	struct eg_header_match *v;

	*ret_n = 0;
	if (!n)
		return NULL;
	v = arena_alloc(c->sa, n * sizeof(*v));
	if (!v) {
		cc_nomem(c);
		*ok = false;
		return NULL;
	}
	for (int pass = 0; pass < 2; pass++) {
		const struct eg_node *m = pass == 0 ? h : without;

		for (size_t i = 0; i < eg_node_len(m); i++) {
			v[k].name = arena_lower(c->sa, m->k[i]->s);
			v[k].absent = pass == 1;
			if (!smatch(c, vs, m->v[i], "spec.http.match.headers", &v[k].m))
				*ok = false;
			k++;
		}
	}
	*ret_n = k;
	return v;
}

/* Fills @m from one HTTPMatchRequest. False when it can never match (or cannot be built). */
static bool http_match(struct cc *c, const struct eg_resource *vs, const struct eg_node *n,
                       struct eg_route_match *m)
{
	bool ok = true;

	memset(m, 0, sizeof(*m));
	m->name = arena_str(c->sa, eg_node_str(n, "name"));
	m->port = (uint16_t)eg_node_int(n, "port", 0);
	ok &= smatch(c, vs, eg_node_get(n, "uri"), "spec.http.match.uri", &m->uri);
	ok &= smatch(c, vs, eg_node_get(n, "scheme"), "spec.http.match.scheme", &m->scheme);
	ok &= smatch(c, vs, eg_node_get(n, "method"), "spec.http.match.method", &m->method);
	ok &= smatch(c, vs, eg_node_get(n, "authority"), "spec.http.match.authority",
	             &m->authority);
	if (m->uri.kind == EG_SMATCH_PRESENT)
		m->uri.kind = EG_SMATCH_ANY;
	if (m->scheme.kind == EG_SMATCH_PRESENT)
		m->scheme.kind = EG_SMATCH_ANY;
	if (m->method.kind == EG_SMATCH_PRESENT)
		m->method.kind = EG_SMATCH_ANY;
	if (m->authority.kind == EG_SMATCH_PRESENT)
		m->authority.kind = EG_SMATCH_ANY;
	m->uri.ignore_case = eg_node_bool(n, "ignoreUriCase", false);
	m->headers = header_matches(c, vs, eg_node_get(n, "headers"),
	                            eg_node_get(n, "withoutHeaders"), &m->nheaders, &ok);
	m->query = header_matches(c, vs, eg_node_get(n, "queryParams"), NULL, &m->nquery, &ok);
	return ok;
}

/* A match entry that only narrows by port/gateways/source matches every request. */
static bool match_is_catchall(const struct eg_route_match *m)
{
	return m->uri.kind == EG_SMATCH_ANY && m->scheme.kind == EG_SMATCH_ANY &&
	       m->method.kind == EG_SMATCH_ANY && m->authority.kind == EG_SMATCH_ANY &&
	       !m->nheaders && !m->nquery;
}

/* The compile-time parts of a match (VS gateways, port, source labels and namespace). */
static bool match_applies(struct cc *c, const struct eg_resource *vs, const struct eg_node *m,
                          const struct rctx *x)
{
	const struct eg_node *gws = eg_node_get(m, "gateways");
	int64_t port = eg_node_int(m, "port", 0);
	const struct eg_node *sl = eg_node_get(m, "sourceLabels");
	const char *sns = eg_node_str(m, "sourceNamespace");

	if (!gws_hit(c, eg_node_len(gws) ? gws : eg_node_path(vs->root, "spec.gateways"), vs->ns,
	             x))
		return false;
	if (port && port != x->port)
		return false;
	if (eg_node_len(sl) && !cc_labels_match(c, sl))
		return false;
	if (sns && strcmp(sns, c->ns) != 0)
		return false;
	return true;
}

/* --- destinations --- */

static uint16_t dest_port(struct cc *c, const char *host, const struct eg_node *dest,
                          uint16_t listener_port)
{
	const struct svc *s;
	int64_t p = eg_node_int(dest, "port.number", 0);

	if (p)
		return (uint16_t)p;
	s = cc_service(c, host);
	if (s && s->nports == 1)
		return s->ports[0].number;
	return listener_port;
}

static const struct eg_weighted_cluster *weighted(struct cc *c, const struct eg_resource *vs,
                                                  const struct eg_node *route, uint16_t lport,
                                                  size_t *ret_n, uint32_t *ret_total)
{
	size_t n = eg_node_len(route);
	struct eg_weighted_cluster *w;
	uint32_t total = 0;

	*ret_n = 0;
	*ret_total = 0;
	if (!n)
		return NULL;
	if (!(w = arena_alloc(c->sa, n * sizeof(*w)))) {
		cc_nomem(c);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct eg_node *d = eg_node_get(route->v[i], "destination");
		const char *subset = eg_node_str(d, "subset");
		int64_t weight = eg_node_int(route->v[i], "weight", n == 1 ? 100 : 0);

		w[i].host = cc_expand_host(c, eg_node_str(d, "host") ? eg_node_str(d, "host") : "",
		                           vs->ns);
		w[i].subset = arena_str(c->sa, subset ? subset : "");
		w[i].port = dest_port(c, w[i].host, d, lport);
		w[i].name = cc_cluster_name(c, w[i].port, w[i].subset, w[i].host);
		w[i].cluster = cc_cluster(c, w[i].host, w[i].subset, w[i].port);
		w[i].weight = weight < 0 ? 0 : weight > 1000000 ? 1000000 : (uint32_t)weight;
		total += w[i].weight;
	}
	if (!total) {
		/* no weights: an even split (Istio would refuse the VS) */
		for (size_t i = 0; i < n; i++)
			w[i].weight = 1;
		total = (uint32_t)n;
	}
	*ret_n = n;
	*ret_total = total;
	return w;
}

static const struct eg_tcp_route *tcp_route_to(struct cc *c, const char *name, const char *vsname,
                                               const struct eg_weighted_cluster *w, size_t n,
                                               uint32_t total)
{
	struct eg_tcp_route *t = arena_alloc(c->sa, sizeof(*t));

	if (!t) {
		cc_nomem(c);
		return NULL;
	}
	t->name = name;
	t->vs = vsname;
	t->clusters = w;
	t->nclusters = n;
	t->total_weight = total;
	return t;
}

/* The route of a registry host without a VirtualService. */
static const struct eg_weighted_cluster *default_dest(struct cc *c, const char *host, uint16_t port)
{
	struct eg_weighted_cluster *w = arena_alloc(c->sa, sizeof(*w));

	if (!w) {
		cc_nomem(c);
		return NULL;
	}
	w->host = host;
	w->subset = "";
	w->port = port;
	w->name = cc_cluster_name(c, port, "", host);
	w->cluster = cc_cluster(c, host, "", port);
	w->weight = 100;
	return w;
}

static const struct eg_tcp_route *special_route(struct cc *c, const char *cluster)
{
	struct eg_weighted_cluster *w = arena_alloc(c->sa, sizeof(*w));

	if (!w) {
		cc_nomem(c);
		return NULL;
	}
	w->name = cluster;
	w->host = "";
	w->subset = "";
	w->cluster = eg_snapshot_cluster(c->s, cluster);
	if (!w->cluster && c->cluster_names)
		w->cluster = index_get(c->cluster_names, cluster, strlen(cluster));
	w->weight = 100;
	return tcp_route_to(c, cluster, NULL, w, 1, 100);
}

/* Passthrough (ALLOW_ANY, or the Sidecar's egressProxy) or BlackHole (REGISTRY_ONLY). */
static const struct eg_tcp_route *policy_fallback(struct cc *c)
{
	const struct eg_outbound_policy *p = &c->s->policy;

	if (p->mode == EG_POLICY_REGISTRY_ONLY)
		return special_route(c, "BlackHoleCluster");
	return special_route(c, p->egress_proxy ? p->egress_proxy : "PassthroughCluster");
}

/* --- HTTP rules --- */

static void header_ops(struct cc *c, const struct eg_node *ops, struct eg_header_ops *o)
{
	const struct eg_node *set = eg_node_get(ops, "set"), *add = eg_node_get(ops, "add");
	const struct eg_node *rm = eg_node_get(ops, "remove");
	struct eg_kv *kv;
	const char **names;

	memset(o, 0, sizeof(*o));
	if (eg_node_len(set) && (kv = arena_alloc(c->sa, set->n * sizeof(*kv)))) {
		for (size_t i = 0; i < set->n; i++)
			kv[i] = (struct eg_kv){arena_lower(c->sa, set->k[i]->s),
			                       arena_str(c->sa, set->v[i]->s ? set->v[i]->s : "")};
		o->set = kv;
		o->nset = set->n;
	}
	if (eg_node_len(add) && (kv = arena_alloc(c->sa, add->n * sizeof(*kv)))) {
		for (size_t i = 0; i < add->n; i++)
			kv[i] = (struct eg_kv){arena_lower(c->sa, add->k[i]->s),
			                       arena_str(c->sa, add->v[i]->s ? add->v[i]->s : "")};
		o->add = kv;
		o->nadd = add->n;
	}
	if (eg_node_len(rm) && (names = arena_alloc(c->sa, rm->n * sizeof(*names)))) {
		for (size_t i = 0; i < rm->n; i++)
			names[i] = arena_lower(c->sa, rm->v[i]->s ? rm->v[i]->s : "");
		o->remove = names;
		o->nremove = rm->n;
	}
}

static void http_action(struct cc *c, const struct eg_resource *vs, const struct eg_node *rule,
                        const struct rctx *x, struct eg_route *rt)
{
	const struct eg_node *redirect = eg_node_get(rule, "redirect");
	const struct eg_node *direct = eg_node_get(rule, "directResponse");
	const struct eg_node *retries = eg_node_get(rule, "retries");
	const struct eg_node *rewrite = eg_node_get(rule, "rewrite");
	const struct eg_node *headers = eg_node_get(rule, "headers");

	if (redirect) {
		rt->action = EG_ACTION_REDIRECT;
		rt->redirect.uri = arena_str(c->sa, eg_node_str(redirect, "uri"));
		rt->redirect.authority = arena_str(c->sa, eg_node_str(redirect, "authority"));
		rt->redirect.scheme = arena_str(c->sa, eg_node_str(redirect, "scheme"));
		rt->redirect.port = (uint16_t)eg_node_int(redirect, "port", 0);
		rt->redirect.code = (uint16_t)eg_node_int(redirect, "redirectCode", 301);
	} else if (direct) {
		const char *body = eg_node_str(direct, "body.string");

		rt->action = EG_ACTION_DIRECT;
		rt->direct.status = (uint16_t)eg_node_int(direct, "status", 200);
		rt->direct.body = arena_str(c->sa, body ? body : eg_node_str(direct, "body.bytes"));
	} else {
		rt->action = EG_ACTION_ROUTE;
		rt->clusters = weighted(c, vs, eg_node_get(rule, "route"), x->port, &rt->nclusters,
		                        &rt->total_weight);
	}
	rt->timeout_ns = node_duration(rule, "timeout", 0);
	/* Istio's default retry policy when the rule sets none */
	rt->retries.attempts = 2;
	rt->retries.retry_on = DEFAULT_RETRY_ON;
	if (retries) {
		const char *on = eg_node_str(retries, "retryOn");

		rt->retries.attempts = (uint32_t)EG_MAX(0, eg_node_int(retries, "attempts", 2));
		rt->retries.per_try_timeout_ns = node_duration(retries, "perTryTimeout", 0);
		if (on && *on)
			rt->retries.retry_on = arena_str(c->sa, on);
	}
	rt->rewrite.uri = arena_str(c->sa, eg_node_str(rewrite, "uri"));
	rt->rewrite.authority = arena_str(c->sa, eg_node_str(rewrite, "authority"));
	header_ops(c, eg_node_get(headers, "request"), &rt->request_headers);
	header_ops(c, eg_node_get(headers, "response"), &rt->response_headers);
	if (eg_node_get(rule, "fault"))
		cc_warn(c, vs, eg_node_get(rule, "fault"), "spec.http.fault",
		        "fault injection is not supported, ignoring it");
	if (eg_node_get(rule, "mirror") || eg_node_get(rule, "mirrors"))
		cc_warn(c, vs, rule, "spec.http.mirror", "mirroring is not supported, ignoring it");
	if (eg_node_get(rule, "delegate"))
		cc_warn(c, vs, eg_node_get(rule, "delegate"), "spec.http.delegate",
		        "delegate VirtualServices are not supported, ignoring this rule");
}

/* The routes of @vs's http rules that apply in @x, in order; stops after a rule that
 * matches everything (later ones are unreachable, as in Istio). */
static void vs_http_routes(struct cc *c, const struct eg_resource *vs, const struct rctx *x,
                           struct vec *out)
{
	const struct eg_node *http = eg_node_path(vs->root, "spec.http");
	const char *vsname = arena_printf(c->sa, "%s.%s", vs->name, vs->ns);

	for (size_t i = 0; i < eg_node_len(http) && !c->err; i++) {
		const struct eg_node *rule = http->v[i];
		const struct eg_node *ms = eg_node_get(rule, "match");
		struct vec matches = VEC_INIT(struct eg_route_match);
		struct eg_route *rt;
		bool catchall = !eg_node_len(ms);
		const char *rname = eg_node_str(rule, "name");

		if (eg_node_get(rule, "delegate")) {
			cc_warn(c, vs, eg_node_get(rule, "delegate"), "spec.http.delegate",
			        "delegate VirtualServices are not supported, ignoring this rule");
			continue;
		}
		if (!eg_node_len(ms) &&
		    !gws_hit(c, eg_node_path(vs->root, "spec.gateways"), vs->ns, x))
			continue;
		for (size_t j = 0; j < eg_node_len(ms); j++) {
			struct eg_route_match *m;

			if (!match_applies(c, vs, ms->v[j], x))
				continue;
			if (!(m = vec_push(&c->tmp, &matches))) {
				cc_nomem(c);
				return;
			}
			if (!http_match(c, vs, ms->v[j], m)) {
				matches.n--;
				continue;
			}
			if (match_is_catchall(m))
				catchall = true;
		}
		if (eg_node_len(ms) && !matches.n)
			continue;
		if (!(rt = vec_push(&c->tmp, out))) {
			cc_nomem(c);
			return;
		}
		rt->name = arena_str(c->sa, rname && *rname ? rname : "default");
		rt->vs = vsname;
		if (!catchall) {
			rt->matches = vec_finish(c->sa, &matches);
			rt->nmatches = matches.n;
		}
		http_action(c, vs, rule, x, rt);
		if (catchall)
			break;
	}
}

/* --- route tables --- */

struct rt_build {
	struct eg_route_table *rt;
	struct vec vhosts;        /* struct eg_vhost */
	struct eg_index *claimed; /* host -> vhost built (first VS wins) */
	bool gateway;
};

static void rtb_init(struct cc *c, struct rt_build *b, const char *name, uint16_t port,
                     bool gateway)
{
	memset(b, 0, sizeof(*b));
	b->vhosts = VEC_INIT(struct eg_vhost);
	b->gateway = gateway;
	b->rt = arena_alloc(c->sa, sizeof(*b->rt));
	b->claimed = index_new(&c->tmp, 16);
	if (!b->rt || !b->claimed) {
		cc_nomem(c);
		return;
	}
	b->rt->name = name;
	b->rt->port = port;
}

static bool rtb_claimed(const struct rt_build *b, const char *host)
{
	return index_get(b->claimed, host, strlen(host)) != NULL;
}

static void add_domain(struct cc *c, struct vec *d, const char *s)
{
	const char **slot;

	if (!s) {
		cc_nomem(c);
		return;
	}
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(*VEC_AT(*d, const char *, i), s) == 0)
			return;
	if (!(slot = vec_push(&c->tmp, d))) {
		cc_nomem(c);
		return;
	}
	*slot = s;
}

/* Domains of a virtual host: host and host:port (gateways: host:*), plus the short names
 * and the ClusterIP of a mesh Service. */
static const char *const *domains(struct cc *c, const char *host, uint16_t port, bool gateway,
                                  size_t *ret_n)
{
	struct vec d = VEC_INIT(const char *);
	const struct svc *s = cc_service(c, host);

	add_domain(c, &d, host);
	add_domain(c, &d,
	           gateway ? arena_printf(c->sa, "%s:*", host)
	                   : arena_printf(c->sa, "%s:%u", host, port));
	if (!gateway && s && s->k8s) {
		const char *name = s->res->name, *ns = s->ns;

		add_domain(c, &d, arena_printf(c->sa, "%s.%s.svc", name, ns));
		add_domain(c, &d, arena_printf(c->sa, "%s.%s.svc:%u", name, ns, port));
		add_domain(c, &d, arena_printf(c->sa, "%s.%s", name, ns));
		add_domain(c, &d, arena_printf(c->sa, "%s.%s:%u", name, ns, port));
		if (strcmp(ns, c->ns) == 0) {
			add_domain(c, &d, arena_str(c->sa, name));
			add_domain(c, &d, arena_printf(c->sa, "%s:%u", name, port));
		}
		if (s->naddresses) {
			add_domain(c, &d, s->addresses[0]);
			add_domain(c, &d, arena_printf(c->sa, "%s:%u", s->addresses[0], port));
		}
	}
	*ret_n = d.n;
	return vec_finish(c->sa, &d);
}

static void rtb_vhost(struct cc *c, struct rt_build *b, const char *host, uint16_t port,
                      const char *vsname, struct vec *routes)
{
	struct eg_vhost *vh;

	if (!index_put_grow(&c->tmp, b->claimed, host, strlen(host), host)) {
		cc_nomem(c);
		return;
	}
	if (!(vh = vec_push(&c->tmp, &b->vhosts))) {
		cc_nomem(c);
		return;
	}
	vh->name = arena_printf(c->sa, "%s:%u", host, port);
	vh->domains = domains(c, host, port, b->gateway, &vh->ndomains);
	vh->routes = vec_finish(c->sa, routes);
	vh->nroutes = routes->n;
	vh->vs = vsname;
}

static struct vec one_default_route(struct cc *c, const char *host, uint16_t port)
{
	struct vec v = VEC_INIT(struct eg_route);
	struct eg_route *rt = vec_push(&c->tmp, &v);

	if (!rt) {
		cc_nomem(c);
		return v;
	}
	rt->name = "default";
	rt->action = EG_ACTION_ROUTE;
	rt->clusters = default_dest(c, host, port);
	rt->nclusters = rt->clusters ? 1 : 0;
	rt->total_weight = 100;
	rt->retries.attempts = 2;
	rt->retries.retry_on = DEFAULT_RETRY_ON;
	return v;
}

static int vhost_cmp(const void *a, const void *b)
{
	return strcmp(((const struct eg_vhost *)a)->name, ((const struct eg_vhost *)b)->name);
}

static const struct eg_route_table *rtb_finish(struct cc *c, struct rt_build *b)
{
	struct eg_route_table *rt = b->rt;
	struct eg_vhost *vh;
	struct eg_index *ix;
	size_t nd = 0;
	const struct eg_route_table **slot;

	if (!rt || c->err)
		return NULL;
	if (b->vhosts.n)
		qsort(b->vhosts.v, b->vhosts.n, sizeof(struct eg_vhost), vhost_cmp);
	vh = vec_finish(c->sa, &b->vhosts);
	for (size_t i = 0; i < b->vhosts.n; i++)
		nd += vh[i].ndomains;
	if (!(ix = index_new(c->sa, nd))) {
		cc_nomem(c);
		return NULL;
	}
	for (size_t i = 0; i < b->vhosts.n; i++)
		for (size_t j = 0; j < vh[i].ndomains; j++)
			(void)index_put(ix, vh[i].domains[j], strlen(vh[i].domains[j]), &vh[i]);
	rt->vhosts = vh;
	rt->nvhosts = b->vhosts.n;
	rt->domains = ix;
	if (!(slot = vec_push(&c->tmp, &c->tables))) {
		cc_nomem(c);
		return NULL;
	}
	*slot = rt;
	return rt;
}

/* allow_any -> PassthroughCluster (or the egressProxy); block_all -> 502 */
static const struct eg_vhost *catch_all_vhost(struct cc *c)
{
	struct eg_vhost *vh = arena_alloc(c->sa, sizeof(*vh));
	struct eg_route *rt = arena_alloc(c->sa, sizeof(*rt));
	const char **dom = arena_alloc(c->sa, sizeof(*dom));
	const struct eg_outbound_policy *p = &c->s->policy;

	if (!vh || !rt || !dom) {
		cc_nomem(c);
		return NULL;
	}
	dom[0] = "*";
	vh->domains = dom;
	vh->ndomains = 1;
	vh->routes = rt;
	vh->nroutes = 1;
	if (p->mode == EG_POLICY_REGISTRY_ONLY) {
		vh->name = "block_all";
		rt->name = "block_all";
		rt->action = EG_ACTION_DIRECT;
		rt->direct.status = 502;
		rt->deny_reason = arena_printf(c->sa, "REGISTRY_ONLY (%s)", p->source);
	} else {
		const struct eg_tcp_route *fb = policy_fallback(c);

		vh->name = "allow_any";
		rt->name = "allow_any";
		rt->action = EG_ACTION_ROUTE;
		if (fb) {
			rt->clusters = fb->clusters;
			rt->nclusters = fb->nclusters;
			rt->total_weight = fb->total_weight;
		}
	}
	return vh;
}

/* --- SNI chains --- */

struct sni_build {
	struct vec v; /* struct eg_sni_route */
	struct eg_index *seen;
};

static void sni_add(struct cc *c, struct sni_build *b, const char *sni,
                    const struct eg_tcp_route *route)
{
	struct eg_sni_route *r;

	if (!sni || !route)
		return;
	if (!b->seen && !(b->seen = index_new(&c->tmp, 16))) {
		cc_nomem(c);
		return;
	}
	if (index_get(b->seen, sni, strlen(sni)))
		return; /* the first rule for an SNI wins */
	if (!index_put_grow(&c->tmp, b->seen, sni, strlen(sni), sni) ||
	    !(r = vec_push(&c->tmp, &b->v))) {
		cc_nomem(c);
		return;
	}
	r->sni = sni;
	r->route = route;
}

static int sni_cmp(const void *a, const void *b)
{
	return strcmp(((const struct eg_sni_route *)a)->sni, ((const struct eg_sni_route *)b)->sni);
}

static void sni_finish(struct cc *c, struct sni_build *b, struct eg_chain *ch)
{
	struct eg_sni_route *v;
	struct eg_index *ix;

	if (b->v.n)
		qsort(b->v.v, b->v.n, sizeof(struct eg_sni_route), sni_cmp);
	v = vec_finish(c->sa, &b->v);
	if (!(ix = index_new(c->sa, b->v.n))) {
		cc_nomem(c);
		return;
	}
	for (size_t i = 0; i < b->v.n; i++)
		(void)index_put(ix, v[i].sni, strlen(v[i].sni), v[i].route);
	ch->sni = v;
	ch->nsni = b->v.n;
	ch->sni_index = ix;
}

/* tls rules of @vs in @x: every kept match's sniHosts -> the rule's route. @covered (may
 * be NULL) restricts SNIs to the hosts a gateway server accepts. */
static void vs_tls_routes(struct cc *c, const struct eg_resource *vs, const struct rctx *x,
                          struct sni_build *b, const struct eg_node *server_hosts)
{
	const struct eg_node *tls = eg_node_path(vs->root, "spec.tls");
	const char *vsname = arena_printf(c->sa, "%s.%s", vs->name, vs->ns);

	for (size_t i = 0; i < eg_node_len(tls) && !c->err; i++) {
		const struct eg_node *ms = eg_node_get(tls->v[i], "match");
		const struct eg_tcp_route *route = NULL;

		for (size_t j = 0; j < eg_node_len(ms); j++) {
			const struct eg_node *sni = eg_node_get(ms->v[j], "sniHosts");

			if (!match_applies(c, vs, ms->v[j], x))
				continue;
			if (!route) {
				size_t n;
				uint32_t total;
				const struct eg_weighted_cluster *w =
				        weighted(c, vs, eg_node_get(tls->v[i], "route"), x->port,
				                 &n, &total);

				route = tcp_route_to(c, arena_printf(c->sa, "%s.%zu", vsname, i),
				                     vsname, w, n, total);
			}
			for (size_t k = 0; k < eg_node_len(sni); k++) {
				const char *h = sni->v[k]->s;
				bool ok = !server_hosts;

				for (size_t s = 0; server_hosts && s < server_hosts->n; s++) {
					const char *sh = server_hosts->v[s]->s,
					           *sl = strchr(sh, '/');

					sh = sl ? sl + 1 : sh;
					ok = ok || host_matches(sh, h) || host_matches(h, sh);
				}
				if (h && ok)
					sni_add(c, b, arena_lower(c->sa, h), route);
			}
		}
	}
}

/* The first tcp rule of @vs that applies in @x, or NULL. */
static const struct eg_tcp_route *vs_tcp_route(struct cc *c, const struct eg_resource *vs,
                                               const struct rctx *x)
{
	const struct eg_node *tcp = eg_node_path(vs->root, "spec.tcp");
	const char *vsname = arena_printf(c->sa, "%s.%s", vs->name, vs->ns);

	for (size_t i = 0; i < eg_node_len(tcp); i++) {
		const struct eg_node *ms = eg_node_get(tcp->v[i], "match");
		bool ok = !eg_node_len(ms) &&
		          gws_hit(c, eg_node_path(vs->root, "spec.gateways"), vs->ns, x);
		size_t n;
		uint32_t total;
		const struct eg_weighted_cluster *w;

		for (size_t j = 0; j < eg_node_len(ms) && !ok; j++)
			ok = match_applies(c, vs, ms->v[j], x) &&
			     !eg_node_len(eg_node_get(ms->v[j], "destinationSubnets"));
		if (!ok)
			continue;
		w = weighted(c, vs, eg_node_get(tcp->v[i], "route"), x->port, &n, &total);
		return tcp_route_to(c, arena_printf(c->sa, "%s.%zu", vsname, i), vsname, w, n,
		                    total);
	}
	return NULL;
}

/* --- the sidecar --- */

struct port_build {
	uint16_t port;
	enum eg_chain_proto proto;
	bool have_proto;
	struct vec by_addr; /* struct eg_addr_route */
};

/* VirtualServices bound to the mesh and visible here, in precedence order. */
static bool vs_for_mesh(struct cc *c, const struct eg_resource *vs)
{
	static const struct rctx mesh = {{"mesh"}, 1, 0};
	const struct eg_node *gws = eg_node_path(vs->root, "spec.gateways");

	return cc_visible_exported(c, vs, "spec.exportTo") && gws_hit(c, gws, vs->ns, &mesh);
}

static bool parse_cidr(const char *s, struct eg_addr_route *a)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	size_t l = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t bits;

	if (l >= sizeof(ip))
		return false;
	memcpy(ip, s, l);
	ip[l] = '\0';
	if (inet_pton(AF_INET, ip, a->addr) == 1) {
		a->family = AF_INET;
		a->prefix = 32;
	} else if (inet_pton(AF_INET6, ip, a->addr) == 1) {
		a->family = AF_INET6;
		a->prefix = 128;
	} else {
		return false;
	}
	if (slash) {
		if (eg_parse_u64(eg_str_c(slash + 1), a->prefix, &bits) < 0)
			return false;
		a->prefix = (uint8_t)bits;
	}
	return true;
}

static void add_addr_route(struct cc *c, struct port_build *pb, const char *cidr,
                           const struct eg_tcp_route *route)
{
	struct eg_addr_route a = {0}, *slot;

	if (!route || !parse_cidr(cidr, &a))
		return;
	for (size_t i = 0; i < pb->by_addr.n; i++)
		if (strcmp(VEC_AT(pb->by_addr, struct eg_addr_route, i)->cidr, cidr) == 0)
			return;
	if (!(slot = vec_push(&c->tmp, &pb->by_addr))) {
		cc_nomem(c);
		return;
	}
	*slot = a;
	slot->cidr = arena_str(c->sa, cidr);
	slot->route = route;
}

static struct port_build *port_get(struct cc *c, struct vec *ports, struct eg_index *ix,
                                   uint16_t port)
{
	char key[8];
	int n = snprintf(key, sizeof(key), "%u", port);
	struct port_build *pb = (struct port_build *)index_get(ix, key, (size_t)n);

	if (pb)
		return pb;
	/* the vec moves as it grows: the index stores the position + 1 */
	for (size_t i = 0; i < ports->n; i++)
		if (VEC_AT(*ports, struct port_build, i)->port == port)
			return VEC_AT(*ports, struct port_build, i);
	if (!(pb = vec_push(&c->tmp, ports))) {
		cc_nomem(c);
		return NULL;
	}
	pb->port = port;
	pb->by_addr = VEC_INIT(struct eg_addr_route);
	return pb;
}

static int svc_prec_cmp(const void *a, const void *b)
{
	const struct svc *x = *(const struct svc *const *)a, *y = *(const struct svc *const *)b;
	const char *tx = eg_node_str(x->res->root, "metadata.creationTimestamp");
	const char *ty = eg_node_str(y->res->root, "metadata.creationTimestamp");
	int r = strcmp(tx ? tx : "", ty ? ty : "");

	if (r)
		return r;
	if ((r = strcmp(x->ns, y->ns)))
		return r;
	if ((r = strcmp(x->res->name, y->res->name)))
		return r;
	return strcmp(x->host, y->host);
}

/* A service port served by destination address rather than by the port's shared chain:
 * opaque TCP of a Service with a ClusterIP or a ServiceEntry with addresses, and TLS of a
 * Service with a ClusterIP. */
static bool by_address(const struct svc *s, const struct svc_port *p)
{
	if (!s->naddresses || p->kind == EG_CHAIN_HTTP)
		return false;
	return p->kind == EG_CHAIN_TCP || s->k8s;
}

static bool shadowed(struct cc *c, const struct svc *s)
{
	return cc_service(c, s->host) != s;
}

/* The value of @host in @ix, else of the longest wildcard covering it ("*.b.c", "*.c"),
 * else of "*"; NULL when none. */
static const void *suffix_get(const struct eg_index *ix, const char *host)
{
	char key[300];
	size_t hl = strlen(host);
	const void *v;

	if ((v = index_get(ix, host, hl)))
		return v;
	for (size_t i = 1; i < hl; i++) {
		if (host[i] != '.' || hl - i + 1 >= sizeof(key))
			continue;
		key[0] = '*';
		memcpy(key + 1, host + i, hl - i);
		if ((v = index_get(ix, key, hl - i + 1)))
			return v;
	}
	return index_get(ix, "*", 1);
}

static bool covered_by(const struct eg_index *ix, const char *host)
{
	return suffix_get(ix, host) != NULL;
}

/* The routes of a wildcard VirtualService host, for the registry hosts it covers. */
struct wild_vs {
	const char *vsname;
	struct vec routes;
};

static void sidecar_http_port(struct cc *c, struct eg_port_entry *pe)
{
	struct rt_build b;
	struct rctx x = {{"mesh"}, 1, pe->port};
	struct eg_index *wild; /* wildcard VirtualService host -> struct wild_vs */
	char name[8];

	snprintf(name, sizeof(name), "%u", pe->port);
	rtb_init(c, &b, arena_str(c->sa, name), pe->port, false);
	wild = index_new(&c->tmp, 8);
	if (c->err)
		return;
	/* VirtualService hosts first (precedence order), then registry hosts by default */
	for (size_t i = 0; i < c->vs.n && !c->err; i++) {
		const struct eg_resource *vs = c->vs.v[i];
		const struct eg_node *hosts = eg_node_path(vs->root, "spec.hosts");
		struct vec routes;
		bool built = false;
		const char *vsname;

		if (!eg_node_len(eg_node_path(vs->root, "spec.http")) || !vs_for_mesh(c, vs))
			continue;
		routes = VEC_INIT(struct eg_route);
		for (size_t h = 0; h < eg_node_len(hosts); h++) {
			const char *host = cc_expand_host(c, hosts->v[h]->s, vs->ns);
			const struct svc *s = cc_service(c, host);
			bool on_port = !s;

			for (size_t j = 0; s && j < s->nports; j++)
				on_port = on_port || (s->ports[j].number == pe->port &&
				                      s->ports[j].kind == EG_CHAIN_HTTP);
			if (!host || !on_port || rtb_claimed(&b, host) ||
			    !cc_sidecar_imports(c, vs->ns, host, pe->port))
				continue;
			if (!built) {
				vs_http_routes(c, vs, &x, &routes);
				built = true;
			}
			if (!routes.n)
				break;
			vsname = arena_printf(c->sa, "%s.%s", vs->name, vs->ns);
			rtb_vhost(c, &b, host, pe->port, vsname, &routes);
			if (host[0] == '*') {
				/* "*.example.com" is the VirtualService of a.example.com too (Istio
				 * builds each covered service's virtual host from it) */
				struct wild_vs *w = arena_alloc(&c->tmp, sizeof(*w));

				if (!w || !wild ||
				    (!index_get(wild, host, strlen(host)) &&
				     !index_put_grow(&c->tmp, wild, host, strlen(host), w))) {
					cc_nomem(c);
					break;
				}
				w->vsname = vsname;
				w->routes = routes;
			}
		}
	}
	for (size_t i = 0; i < c->nsvcs && !c->err; i++) {
		const struct svc *s = c->svcs[i];

		if (shadowed(c, s) || rtb_claimed(&b, s->host))
			continue;
		for (size_t j = 0; j < s->nports; j++) {
			const struct wild_vs *w;
			struct vec routes;

			if (s->ports[j].number != pe->port || s->ports[j].kind != EG_CHAIN_HTTP ||
			    !cc_sidecar_imports(c, s->ns, s->host, pe->port))
				continue;
			w = suffix_get(wild, s->host);
			if (w) {
				routes = w->routes;
				rtb_vhost(c, &b, s->host, pe->port, w->vsname, &routes);
				break;
			}
			routes = one_default_route(c, s->host, pe->port);
			rtb_vhost(c, &b, s->host, pe->port, NULL, &routes);
			break;
		}
	}
	b.rt->catch_all = catch_all_vhost(c);
	pe->chain.proto = EG_CHAIN_HTTP;
	pe->chain.http = rtb_finish(c, &b);
	pe->chain.fallback = policy_fallback(c);
}

static bool host_has_port(struct cc *c, const char *host, uint16_t port, enum eg_chain_proto k)
{
	const struct svc *s = cc_service(c, host);

	for (size_t j = 0; s && j < s->nports; j++)
		if (s->ports[j].number == port && s->ports[j].kind == k)
			return true;
	return false;
}

/* Whether a VS's port-less rules are meant for @port: a host of the VS has that port (or
 * no host of it is in the registry). */
static bool vs_on_port(struct cc *c, const struct eg_resource *vs, uint16_t port,
                       enum eg_chain_proto k)
{
	const struct eg_node *hosts = eg_node_path(vs->root, "spec.hosts");
	bool any_known = false;

	for (size_t h = 0; h < eg_node_len(hosts); h++) {
		const char *host = cc_expand_host(c, hosts->v[h]->s, vs->ns);

		if (!host)
			continue;
		if (host_has_port(c, host, port, k))
			return true;
		any_known = any_known || cc_service(c, host);
	}
	return !any_known;
}

static void sidecar_tls_port(struct cc *c, struct eg_port_entry *pe)
{
	struct sni_build b = {VEC_INIT(struct eg_sni_route), NULL};
	struct rctx x = {{"mesh"}, 1, pe->port};
	struct eg_index *covered = index_new(&c->tmp, 16); /* hosts of VSs with tls rules here */

	for (size_t i = 0; i < c->vs.n && !c->err; i++) {
		const struct eg_resource *vs = c->vs.v[i];
		const struct eg_node *tls = eg_node_path(vs->root, "spec.tls");
		const struct eg_node *hosts = eg_node_path(vs->root, "spec.hosts");
		bool explicit_port = false;

		if (!eg_node_len(tls) || !vs_for_mesh(c, vs))
			continue;
		for (size_t r = 0; r < tls->n; r++) {
			const struct eg_node *ms = eg_node_get(tls->v[r], "match");

			for (size_t j = 0; j < eg_node_len(ms); j++)
				explicit_port = explicit_port ||
				                eg_node_int(ms->v[j], "port", 0) == pe->port;
		}
		if (!explicit_port && !vs_on_port(c, vs, pe->port, EG_CHAIN_TLS))
			continue;
		vs_tls_routes(c, vs, &x, &b, NULL);
		for (size_t h = 0; h < eg_node_len(hosts); h++) {
			const char *host =
			        hosts->v[h]->s ? cc_expand_host(c, hosts->v[h]->s, vs->ns) : NULL;

			if (host && (!covered ||
			             (!index_get(covered, host, strlen(host)) &&
			              !index_put_grow(&c->tmp, covered, host, strlen(host), host))))
				cc_nomem(c);
		}
	}
	/* TLS ports of the registry without a VirtualService: SNI = the host */
	for (size_t i = 0; i < c->nsvcs && !c->err; i++) {
		const struct svc *s = c->svcs[i];

		if (shadowed(c, s))
			continue;
		for (size_t j = 0; j < s->nports; j++) {
			const struct svc_port *p = &s->ports[j];

			if (p->number != pe->port || p->kind != EG_CHAIN_TLS || by_address(s, p) ||
			    !cc_sidecar_imports(c, s->ns, s->host, pe->port))
				continue;
			/* a VirtualService with tls rules for the host decides its SNI routes */
			if (covered_by(covered, s->host))
				continue;
			sni_add(c, &b, s->host,
			        tcp_route_to(c, "default", NULL, default_dest(c, s->host, pe->port),
			                     1, 100));
		}
	}
	pe->chain.proto = EG_CHAIN_TLS;
	sni_finish(c, &b, &pe->chain);
	pe->chain.fallback = policy_fallback(c);
}

static void sidecar_tcp_port(struct cc *c, struct eg_port_entry *pe, struct port_build *pb)
{
	struct rctx x = {{"mesh"}, 1, pe->port};

	pe->chain.proto = EG_CHAIN_TCP;
	for (size_t i = 0; i < c->vs.n && !c->err && !pe->chain.tcp; i++) {
		const struct eg_resource *vs = c->vs.v[i];

		if (!eg_node_len(eg_node_path(vs->root, "spec.tcp")) || !vs_for_mesh(c, vs) ||
		    !vs_on_port(c, vs, pe->port, EG_CHAIN_TCP))
			continue;
		pe->chain.tcp = vs_tcp_route(c, vs, &x);
	}
	for (size_t i = 0; i < c->nsvcs && !c->err && !pe->chain.tcp; i++) {
		const struct svc *s = c->svcs[i];

		if (shadowed(c, s))
			continue;
		for (size_t j = 0; j < s->nports && !pe->chain.tcp; j++) {
			const struct svc_port *p = &s->ports[j];

			if (p->number != pe->port || p->kind != EG_CHAIN_TCP || by_address(s, p) ||
			    !cc_sidecar_imports(c, s->ns, s->host, pe->port))
				continue;
			pe->chain.tcp = tcp_route_to(c, "default", NULL,
			                             default_dest(c, s->host, pe->port), 1, 100);
		}
	}
	(void)pb;
	pe->chain.fallback = policy_fallback(c);
}

static int port_cmp(const void *a, const void *b)
{
	return (int)((const struct port_build *)a)->port -
	       (int)((const struct port_build *)b)->port;
}

void cc_build_sidecar_listener(struct cc *c)
{
	struct vec ports = VEC_INIT(struct port_build);
	struct eg_index *unused = NULL;
	const struct svc **prec;
	struct eg_listener *l;
	struct eg_port_entry *pes;

	if (c->err)
		return;
	/* the protocol of a port: its first service (Istio's precedence: oldest first) */
	prec = c->nsvcs ? arena_dup(&c->tmp, c->svcs, c->nsvcs * sizeof(*prec)) : NULL;
	if (c->nsvcs && !prec) {
		cc_nomem(c);
		return;
	}
	if (c->nsvcs)
		qsort(prec, c->nsvcs, sizeof(*prec), svc_prec_cmp);
	for (size_t i = 0; i < c->nsvcs && !c->err; i++) {
		const struct svc *s = prec[i];

		if (shadowed(c, s))
			continue;
		for (size_t j = 0; j < s->nports; j++) {
			const struct svc_port *p = &s->ports[j];
			struct port_build *pb;

			if (!p->number || !cc_sidecar_imports(c, s->ns, s->host, p->number))
				continue;
			if (!(pb = port_get(c, &ports, unused, p->number)))
				return;
			if (by_address(s, p)) {
				for (size_t a = 0; a < s->naddresses; a++)
					add_addr_route(
					        c, pb, s->addresses[a],
					        tcp_route_to(c, "default", NULL,
					                     default_dest(c, s->host, p->number), 1,
					                     100));
				continue;
			}
			if (!pb->have_proto) {
				pb->proto = p->kind;
				pb->have_proto = true;
			} else if (pb->proto != p->kind) {
				cc_warn(c, s->res, NULL, NULL,
				        "port %u of %s is %s but port %u already carries %s "
				        "traffic, ignoring it on this port",
				        p->number, s->host, eg_chain_proto_name(p->kind), p->number,
				        eg_chain_proto_name(pb->proto));
			}
		}
	}
	/* VS tcp rules with destinationSubnets route by address on their port */
	for (size_t i = 0; i < c->vs.n && !c->err; i++) {
		const struct eg_resource *vs = c->vs.v[i];
		const struct eg_node *tcp = eg_node_path(vs->root, "spec.tcp");
		const char *vsname;

		if (!eg_node_len(tcp) || !vs_for_mesh(c, vs))
			continue;
		vsname = arena_printf(c->sa, "%s.%s", vs->name, vs->ns);
		for (size_t r = 0; r < tcp->n; r++) {
			const struct eg_node *ms = eg_node_get(tcp->v[r], "match");
			struct rctx x = {{"mesh"}, 1, 0};

			for (size_t j = 0; j < eg_node_len(ms); j++) {
				const struct eg_node *subnets =
				        eg_node_get(ms->v[j], "destinationSubnets");
				uint16_t port = (uint16_t)eg_node_int(ms->v[j], "port", 0);
				struct port_build *pb;
				const struct eg_weighted_cluster *w;
				size_t n;
				uint32_t total;
				const struct eg_tcp_route *route;

				x.port = port;
				if (!eg_node_len(subnets) || !port ||
				    !match_applies(c, vs, ms->v[j], &x))
					continue;
				if (!(pb = port_get(c, &ports, unused, port)))
					return;
				w = weighted(c, vs, eg_node_get(tcp->v[r], "route"), port, &n,
				             &total);
				route = tcp_route_to(c, arena_printf(c->sa, "%s.%zu", vsname, r),
				                     vsname, w, n, total);
				for (size_t k = 0; k < subnets->n; k++)
					if (subnets->v[k]->s)
						add_addr_route(c, pb, subnets->v[k]->s, route);
				if (!pb->have_proto) {
					pb->proto = EG_CHAIN_TCP;
					pb->have_proto = true;
				}
			}
		}
	}
	if (c->err)
		return;
	if (ports.n)
		qsort(ports.v, ports.n, sizeof(struct port_build), port_cmp);
	pes = ports.n ? arena_alloc(c->sa, ports.n * sizeof(*pes)) : NULL;
	l = arena_alloc(c->sa, sizeof(*l));
	if (!l || (ports.n && !pes)) {
		cc_nomem(c);
		return;
	}
	for (size_t i = 0; i < ports.n && !c->err; i++) {
		struct port_build *pb = VEC_AT(ports, struct port_build, i);
		struct eg_port_entry *pe = &pes[i];

		pe->port = pb->port;
		pe->by_addr = vec_finish(c->sa, &pb->by_addr);
		pe->nby_addr = pb->by_addr.n;
		if (!pb->have_proto) {
			/* only address routes: anything else on the port follows the policy */
			pe->chain.proto = EG_CHAIN_TCP;
			pe->chain.fallback = policy_fallback(c);
			continue;
		}
		if (pb->proto == EG_CHAIN_HTTP)
			sidecar_http_port(c, pe);
		else if (pb->proto == EG_CHAIN_TLS)
			sidecar_tls_port(c, pe);
		else
			sidecar_tcp_port(c, pe, pb);
	}
	l->name = "virtualOutbound";
	l->kind = EG_LISTENER_CAPTURE;
	l->address = "0.0.0.0";
	l->port = EG_CAPTURE_PORT;
	l->ports = pes;
	l->nports = ports.n;
	l->fallback = policy_fallback(c);
	{
		/* HTTP on a port without entry (explicit proxy): only the catch-all */
		struct rt_build b;

		rtb_init(c, &b, "catch_all", 0, false);
		if (!c->err) {
			b.rt->catch_all = catch_all_vhost(c);
			l->http_catch_all = rtb_finish(c, &b);
		}
	}
	c->s->listeners = l;
	c->s->nlisteners = 1;
}

/* --- the gateway --- */

/* Host a VS host and a server host have in common, or NULL. */
static const char *host_intersect(const char *vs_host, const char *srv_host)
{
	if (strcmp(srv_host, "*") == 0)
		return vs_host;
	if (strcmp(vs_host, "*") == 0)
		return srv_host;
	if (host_matches(srv_host, vs_host))
		return vs_host;
	if (host_matches(vs_host, srv_host))
		return srv_host;
	return NULL;
}

/* Whether server host "[ns/]dns" admits VS @vs (namespace part) and returns the dns part. */
static const char *server_host_for(const struct gw_server *gs, const struct eg_resource *vs,
                                   const char *h, char *buf, size_t len)
{
	const char *slash = strchr(h, '/');

	if (slash) {
		size_t nl = (size_t)(slash - h);

		snprintf(buf, len, "%.*s", (int)nl, h);
		if (strcmp(buf, "*") != 0 &&
		    strcmp(strcmp(buf, ".") == 0 ? gs->gw->ns : buf, vs->ns))
			return NULL;
		return slash + 1;
	}
	return h;
}

/* VirtualServices bound to server @gs's Gateway, visible in the gateway's namespace. */
static bool vs_for_server(struct cc *c, const struct eg_resource *vs, const struct gw_server *gs)
{
	struct rctx x = {{gs->gwname}, 1, gs->port};

	return cc_visible_exported(c, vs, "spec.exportTo") &&
	       eg_node_len(eg_node_path(vs->root, "spec.gateways")) &&
	       gws_hit(c, eg_node_path(vs->root, "spec.gateways"), vs->ns, &x);
}

static void server_tls(struct cc *c, const struct eg_node *tls, struct eg_server_tls *t)
{
	const char *mode = eg_node_str(tls, "mode");

	memset(t, 0, sizeof(*t));
	if (!tls)
		return;
	t->https_redirect = eg_node_bool(tls, "httpsRedirect", false);
	if (!mode)
		t->mode = EG_SERVER_TLS_NONE;
	else if (strcmp(mode, "PASSTHROUGH") == 0)
		t->mode = EG_SERVER_TLS_PASSTHROUGH;
	else if (strcmp(mode, "SIMPLE") == 0)
		t->mode = EG_SERVER_TLS_SIMPLE;
	else if (strcmp(mode, "MUTUAL") == 0 || strcmp(mode, "OPTIONAL_MUTUAL") == 0)
		t->mode = EG_SERVER_TLS_MUTUAL;
	else if (strcmp(mode, "ISTIO_MUTUAL") == 0)
		t->mode = EG_SERVER_TLS_ISTIO_MUTUAL;
	else
		t->mode = EG_SERVER_TLS_AUTO_PASSTHROUGH;
	t->credential_name = arena_str(c->sa, eg_node_str(tls, "credentialName"));
	t->server_certificate = arena_str(c->sa, eg_node_str(tls, "serverCertificate"));
	t->private_key = arena_str(c->sa, eg_node_str(tls, "privateKey"));
	t->ca_certificates = arena_str(c->sa, eg_node_str(tls, "caCertificates"));
	t->min_version = arena_str(c->sa, eg_node_str(tls, "minProtocolVersion"));
	t->max_version = arena_str(c->sa, eg_node_str(tls, "maxProtocolVersion"));
	t->subject_alt_names = (const char *const *)arena_alloc(
	        c->sa, sizeof(char *) * (eg_node_len(eg_node_get(tls, "subjectAltNames")) + 1));
	{
		const struct eg_node *l = eg_node_get(tls, "subjectAltNames");
		const char **v = (const char **)t->subject_alt_names;

		for (size_t i = 0; v && i < eg_node_len(l); i++)
			v[t->nsubject_alt_names++] = arena_str(c->sa, l->v[i]->s);
		if (!t->nsubject_alt_names)
			t->subject_alt_names = NULL;
	}
	{
		const struct eg_node *l = eg_node_get(tls, "cipherSuites");
		const char **v = eg_node_len(l) ? arena_alloc(c->sa, l->n * sizeof(char *)) : NULL;

		for (size_t i = 0; v && i < l->n; i++)
			v[t->ncipher_suites++] = arena_str(c->sa, l->v[i]->s);
		t->cipher_suites = v;
	}
}

static const char *const *server_hosts(struct cc *c, const struct eg_node *hosts, size_t *ret_n)
{
	const char **v = eg_node_len(hosts) ? arena_alloc(c->sa, hosts->n * sizeof(char *)) : NULL;

	*ret_n = 0;
	for (size_t i = 0; v && i < hosts->n; i++)
		if (hosts->v[i]->s)
			v[(*ret_n)++] = arena_str(c->sa, hosts->v[i]->s);
	return v;
}

/* SNI names of a TLS server: the dns part of its hosts; none when one is "*". */
static const char *const *server_names(struct cc *c, const struct eg_node *hosts, size_t *ret_n)
{
	const char **v = eg_node_len(hosts) ? arena_alloc(c->sa, hosts->n * sizeof(char *)) : NULL;

	*ret_n = 0;
	for (size_t i = 0; v && i < hosts->n; i++) {
		const char *h = hosts->v[i]->s, *sl = h ? strchr(h, '/') : NULL;

		if (!h)
			continue;
		h = sl ? sl + 1 : h;
		if (strcmp(h, "*") == 0) {
			*ret_n = 0;
			return NULL;
		}
		v[(*ret_n)++] = arena_lower(c->sa, h);
	}
	return v;
}

/* HTTP route table from the servers @v[0..n) (all plain HTTP on one port, or one HTTPS
 * server): VS hosts intersected with the server hosts. */
static const struct eg_route_table *gateway_routes(struct cc *c, const char *name,
                                                   struct gw_server *const *v, size_t n)
{
	struct rt_build b;
	uint16_t port = v[0]->port;

	rtb_init(c, &b, name, port, true);
	for (size_t i = 0; i < c->gw_vs.n && !c->err; i++) {
		const struct eg_resource *vs = c->gw_vs.v[i];
		const struct eg_node *hosts = eg_node_path(vs->root, "spec.hosts");
		const char *vsname;

		if (!eg_node_len(eg_node_path(vs->root, "spec.http")))
			continue;
		vsname = NULL;
		for (size_t h = 0; h < eg_node_len(hosts); h++) {
			const char *vh =
			        hosts->v[h]->s ? cc_expand_host(c, hosts->v[h]->s, vs->ns) : NULL;
			struct rctx x = {{NULL}, 0, port};
			const char *host = NULL;
			bool redirect = false;
			struct vec routes = VEC_INIT(struct eg_route);

			if (!vh)
				continue;
			for (size_t s = 0; s < n; s++) {
				const struct eg_node *sh = eg_node_get(v[s]->srv, "hosts");
				const char *hit = NULL;
				char buf[256];

				if (!vs_for_server(c, vs, v[s]))
					continue;
				for (size_t k = 0; k < eg_node_len(sh) && !hit; k++) {
					const char *d =
					        sh->v[k]->s ? server_host_for(v[s], vs, sh->v[k]->s,
					                                      buf, sizeof(buf))
					                    : NULL;

					hit = d ? host_intersect(vh, d) : NULL;
				}
				if (!hit)
					continue;
				if (!host)
					host = arena_lower(c->sa, hit);
				if (x.ngws < MAX_CTX_GATEWAYS)
					x.gws[x.ngws++] = v[s]->gwname;
				redirect = redirect ||
				           eg_node_bool(v[s]->srv, "tls.httpsRedirect", false);
			}
			if (!host || rtb_claimed(&b, host))
				continue;
			if (redirect) {
				struct eg_route *rt = vec_push(&c->tmp, &routes);

				if (!rt) {
					cc_nomem(c);
					return NULL;
				}
				rt->name = "https_redirect";
				rt->action = EG_ACTION_REDIRECT;
				rt->redirect.scheme = "https";
				rt->redirect.code = 301;
			} else {
				vs_http_routes(c, vs, &x, &routes);
			}
			if (!routes.n)
				continue;
			if (!vsname)
				vsname = arena_printf(c->sa, "%s.%s", vs->name, vs->ns);
			rtb_vhost(c, &b, host, port, vsname, &routes);
		}
	}
	/* no catch-all: an unknown host is 404 NR at a gateway */
	return rtb_finish(c, &b);
}

static void gateway_passthrough(struct cc *c, struct gw_server *gs, struct eg_chain *ch)
{
	struct sni_build b = {VEC_INIT(struct eg_sni_route), NULL};
	struct rctx x = {{gs->gwname}, 1, gs->port};

	for (size_t i = 0; i < c->gw_vs.n && !c->err; i++) {
		const struct eg_resource *vs = c->gw_vs.v[i];

		if (!eg_node_len(eg_node_path(vs->root, "spec.tls")) || !vs_for_server(c, vs, gs))
			continue;
		vs_tls_routes(c, vs, &x, &b, eg_node_get(gs->srv, "hosts"));
	}
	ch->proto = EG_CHAIN_TLS;
	sni_finish(c, &b, ch);
	ch->fallback = NULL; /* unknown SNI: close (NR) */
}

static void gateway_tcp(struct cc *c, struct gw_server *gs, struct eg_chain *ch)
{
	struct rctx x = {{gs->gwname}, 1, gs->port};

	ch->proto = EG_CHAIN_TCP;
	for (size_t i = 0; i < c->gw_vs.n && !c->err && !ch->tcp; i++) {
		const struct eg_resource *vs = c->gw_vs.v[i];

		if (eg_node_len(eg_node_path(vs->root, "spec.tcp")) && vs_for_server(c, vs, gs))
			ch->tcp = vs_tcp_route(c, vs, &x);
	}
}

static int server_bind_cmp(const void *a, const void *b)
{
	const struct gw_server *x = *(struct gw_server *const *)a,
	                       *y = *(struct gw_server *const *)b;
	int r = (int)x->bind - (int)y->bind;

	if (r)
		return r;
	r = strcmp(x->gwname, y->gwname);
	return r ? r : (int)x->index - (int)y->index;
}

static void fill_chain_meta(struct cc *c, struct eg_filter_chain *fc, const struct gw_server *gs)
{
	const char *pname = eg_node_str(gs->srv, "port.name");

	fc->gateway = gs->gwname;
	fc->server = arena_str(c->sa, pname ? pname
	                                    : arena_printf(c->sa, "%s.%u", gs->protocol, gs->port));
	fc->protocol = gs->protocol;
	fc->hosts = server_hosts(c, eg_node_get(gs->srv, "hosts"), &fc->nhosts);
}

static void gateway_listener(struct cc *c, struct eg_listener *l, struct gw_server **v, size_t n)
{
	struct vec chains = VEC_INIT(struct eg_filter_chain);
	struct gw_server *plain[MAX_CTX_GATEWAYS];
	size_t nplain = 0;
	enum eg_chain_proto plain_kind = EG_CHAIN_HTTP;
	bool tls_seen = false;

	l->kind = EG_LISTENER_GATEWAY;
	l->address = "0.0.0.0";
	l->port = v[0]->bind;
	l->service_port = v[0]->port;
	l->name = arena_printf(c->sa, "0.0.0.0_%u", l->port);
	for (size_t i = 0; i < n && !c->err; i++) {
		struct gw_server *gs = v[i];
		const struct eg_node *tls = eg_node_get(gs->srv, "tls");
		enum eg_chain_proto k = proto_kind(gs->protocol);
		const char *mode = eg_node_str(tls, "mode");
		bool terminated = k == EG_CHAIN_TLS && mode && strcmp(mode, "PASSTHROUGH") != 0 &&
		                  strcmp(mode, "AUTO_PASSTHROUGH") != 0;
		struct eg_filter_chain *fc;

		if (k != EG_CHAIN_TLS) {
			/* plain servers (HTTP or TCP) share one chain per port */
			if (tls_seen || (nplain && plain_kind != k)) {
				cc_warn(c, gs->gw, gs->srv, "spec.servers",
				        "port %u: a %s server cannot share the port with the "
				        "servers before it, ignoring it",
				        gs->port, gs->protocol);
				continue;
			}
			if (nplain < EG_ARRAY_SIZE(plain))
				plain[nplain++] = gs;
			plain_kind = k;
			continue;
		}
		if (nplain) {
			cc_warn(c, gs->gw, gs->srv, "spec.servers",
			        "port %u: a TLS server cannot share the port with plain text "
			        "servers, ignoring it",
			        gs->port);
			continue;
		}
		if (mode && strcmp(mode, "AUTO_PASSTHROUGH") == 0) {
			cc_warn(c, gs->gw, tls, "spec.servers.tls.mode",
			        "AUTO_PASSTHROUGH is not supported, ignoring this server");
			continue;
		}
		tls_seen = true;
		if (!(fc = vec_push(&c->tmp, &chains))) {
			cc_nomem(c);
			return;
		}
		fill_chain_meta(c, fc, gs);
		server_tls(c, tls, &fc->tls);
		fc->server_names =
		        server_names(c, eg_node_get(gs->srv, "hosts"), &fc->nserver_names);
		if (!terminated) {
			gateway_passthrough(c, gs, &fc->chain);
		} else if (strcmp(gs->protocol, "HTTPS") == 0) {
			const char *pname = eg_node_str(gs->srv, "port.name");
			const char *name =
			        arena_printf(c->sa, "https.%u.%s.%s.%s", gs->port,
			                     pname ? pname : "https", gs->gw->name, gs->gw->ns);

			fc->chain.proto = EG_CHAIN_HTTP;
			fc->chain.http = gateway_routes(c, name, &gs, 1);
		} else {
			gateway_tcp(c, gs, &fc->chain);
		}
	}
	if (nplain) {
		struct eg_filter_chain *fc = vec_push(&c->tmp, &chains);

		if (!fc) {
			cc_nomem(c);
			return;
		}
		fill_chain_meta(c, fc, plain[0]);
		fc->tls.mode = EG_SERVER_TLS_NONE;
		fc->tls.https_redirect = eg_node_bool(plain[0]->srv, "tls.httpsRedirect", false);
		if (plain_kind == EG_CHAIN_HTTP) {
			fc->chain.proto = EG_CHAIN_HTTP;
			fc->chain.http = gateway_routes(c, arena_printf(c->sa, "http.%u", l->port),
			                                plain, nplain);
		} else {
			gateway_tcp(c, plain[0], &fc->chain);
		}
	}
	l->chains = vec_finish(c->sa, &chains);
	l->nchains = chains.n;
}

void cc_build_gateway_listeners(struct cc *c)
{
	struct rctx all = {{NULL}, 0, 0};
	struct gw_server **v;
	struct vec ls = VEC_INIT(struct eg_listener);

	if (c->err || !c->nservers)
		return;
	if (!(v = arena_alloc(&c->tmp, c->nservers * sizeof(*v)))) {
		cc_nomem(c);
		return;
	}
	for (size_t i = 0; i < c->nservers; i++) {
		bool seen = false;

		v[i] = &c->servers[i];
		for (size_t j = 0; j < all.ngws && !seen; j++)
			seen = strcmp(all.gws[j], c->servers[i].gwname) == 0;
		if (!seen && all.ngws < MAX_CTX_GATEWAYS)
			all.gws[all.ngws++] = c->servers[i].gwname;
	}
	/* the VirtualServices bound to one of these Gateways, once (not per listener) */
	c->gw_vs.v = c->vs.n ? arena_alloc(&c->tmp, c->vs.n * sizeof(*c->gw_vs.v)) : NULL;
	if (c->vs.n && !c->gw_vs.v) {
		cc_nomem(c);
		return;
	}
	for (size_t i = 0; i < c->vs.n; i++) {
		const struct eg_resource *vs = c->vs.v[i];
		const struct eg_node *gws = eg_node_path(vs->root, "spec.gateways");

		if (eg_node_len(gws) && gws_hit(c, gws, vs->ns, &all) &&
		    cc_visible_exported(c, vs, "spec.exportTo"))
			c->gw_vs.v[c->gw_vs.n++] = vs;
	}
	if (c->nservers)
		qsort(v, c->nservers, sizeof(*v), server_bind_cmp);
	for (size_t i = 0; i < c->nservers && !c->err;) {
		size_t j = i;
		struct eg_listener *l;

		while (j < c->nservers && v[j]->bind == v[i]->bind)
			j++;
		if (!(l = vec_push(&c->tmp, &ls))) {
			cc_nomem(c);
			return;
		}
		gateway_listener(c, l, v + i, j - i);
		i = j;
	}
	c->s->listeners = vec_finish(c->sa, &ls);
	c->s->nlisteners = ls.n;
}
