/* src/compile/clusters.c: clusters outbound|PORT|SUBSET|HOST from the registry and the
 * DestinationRules: discovery type, endpoints, and the traffic policy merged the way Istio
 * merges it (top level -> its portLevelSettings, then the subset's fields, then the subset's
 * portLevelSettings; a port-level entry replaces loadBalancer, connectionPool,
 * outlierDetection and tls as a whole: omitted fields fall back to the defaults). */
#include <errno.h>
#include <stdlib.h>

#include "compile/internal.h"

#define NS_PER_S      1000000000LL
#define U32_UNLIMITED 4294967295u

/* Marks a cluster name that was asked for and cannot exist (unknown host, port or
 * subset), so it is not looked for again. */
static const struct eg_cluster cc_missing;

struct drs {
	const struct eg_resource **v;
	size_t n, cap;
};

const char *cc_cluster_name(struct cc *c, uint16_t port, const char *subset, const char *host)
{
	return arena_printf(c->sa, "outbound|%u|%s|%s", port, subset ? subset : "", host);
}

/* --- DestinationRule lookup --- */

static void dr_add(struct cc *c, struct eg_index *ix, const char *host, const struct eg_resource *r)
{
	struct drs *l = (struct drs *)index_get(ix, host, strlen(host));

	if (!l) {
		l = arena_alloc(&c->tmp, sizeof(*l));
		if (!l || !index_put(ix, host, strlen(host), l)) {
			cc_nomem(c);
			return;
		}
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 2;
		const struct eg_resource **v = arena_alloc(&c->tmp, cap * sizeof(*v));

		if (!v) {
			cc_nomem(c);
			return;
		}
		if (l->n)
			memcpy(v, l->v, l->n * sizeof(*v));
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = r;
}

/* The index key of a DR host: the FQDN as written when already lower case (it lives as
 * long as the compile), else a scratch copy; short names expanded with @ns. */
static const char *host_key(struct cc *c, const char *host, const char *ns)
{
	if (!strchr(host, '.') && strcmp(host, "*") != 0)
		return arena_lower(
		        &c->tmp, arena_printf(&c->tmp, "%s.%s.svc.%s", host, ns, c->domain_suffix));
	for (const char *p = host; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			return arena_lower(&c->tmp, host);
	return host;
}

/* Every DestinationRule by host; exportTo and workloadSelector are checked when a cluster
 * looks one up (dr_in), so a gateway pays for the few hosts its routes name. */
void cc_index_drs(struct cc *c)
{
	c->dr_exact = index_new(&c->tmp, c->dr.n);
	c->dr_wild = index_new(&c->tmp, c->dr.n);
	if (!c->dr_exact || !c->dr_wild) {
		cc_nomem(c);
		return;
	}
	for (size_t i = 0; i < c->dr.n && !c->err; i++) {
		const struct eg_resource *r = c->dr.v[i];
		const struct eg_node *h = eg_node_get(eg_node_get(r->root, "spec"), "host");
		const char *host;

		if (!h || h->kind != EG_NODE_SCALAR || !h->s || !*h->s)
			continue;
		if (!(host = host_key(c, h->s, r->ns))) {
			cc_nomem(c);
			return;
		}
		dr_add(c, host[0] == '*' ? c->dr_wild : c->dr_exact, host, r);
	}
}

/* Whether DR @r applies here: exported to the proxy's namespace, and a workloadSelector
 * (only in the proxy's namespace) matching its labels. */
static bool dr_applies(struct cc *c, const struct eg_resource *r)
{
	const struct eg_node *sel = eg_node_path(r->root, "spec.workloadSelector.matchLabels");

	if (eg_node_len(sel) && (strcmp(r->ns, c->ns) != 0 || !cc_labels_match(c, sel)))
		return false;
	return cc_visible_exported(c, r, "spec.exportTo");
}

static const struct eg_resource *dr_in(struct cc *c, const struct drs *l, const char *ns)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (strcmp(l->v[i]->ns, ns) == 0 && dr_applies(c, l->v[i]))
			return l->v[i];
	return NULL;
}

/* The most specific DR host (exact, then the longest wildcard) in namespace @ns. */
static const struct eg_resource *dr_in_ns(struct cc *c, const char *host, const char *ns)
{
	const struct eg_resource *r = dr_in(c, index_get(c->dr_exact, host, strlen(host)), ns);
	char key[300];

	if (r)
		return r;
	if (host[0] == '*') {
		/* a wildcard service host: the same wildcard first */
		if ((r = dr_in(c, index_get(c->dr_wild, host, strlen(host)), ns)))
			return r;
		host += 1;
	}
	for (const char *p = strchr(host, '.'); p; p = strchr(p + 1, '.')) {
		int n = snprintf(key, sizeof(key), "*%s", p);

		if (n < 0 || (size_t)n >= sizeof(key))
			continue;
		if ((r = dr_in(c, index_get(c->dr_wild, key, (size_t)n), ns)))
			return r;
	}
	return dr_in(c, index_get(c->dr_wild, "*", 1), ns);
}

/* Istio's order: a DR in the proxy's namespace, then in the service's, then in the root
 * namespace (each only when exported to the proxy). */
static const struct eg_resource *dr_for(struct cc *c, const char *host, const char *svc_ns)
{
	const struct eg_resource *r = dr_in_ns(c, host, c->ns);

	if (!r && svc_ns && strcmp(svc_ns, c->ns) != 0)
		r = dr_in_ns(c, host, svc_ns);
	if (!r && strcmp(c->root_ns, c->ns) != 0 && (!svc_ns || strcmp(c->root_ns, svc_ns) != 0))
		r = dr_in_ns(c, host, c->root_ns);
	return r;
}

static const struct eg_node *dr_subset(const struct eg_resource *dr, const char *name)
{
	const struct eg_node *subsets = eg_node_path(dr->root, "spec.subsets");

	for (size_t i = 0; i < eg_node_len(subsets); i++) {
		const char *n = eg_node_str(subsets->v[i], "name");

		if (n && strcmp(n, name) == 0)
			return subsets->v[i];
	}
	return NULL;
}

/* --- the traffic policy --- */

struct tp {
	const struct eg_node *lb, *pool, *outlier, *tls;
};

static void port_level(const struct eg_node *policy, uint16_t port, struct tp *t)
{
	const struct eg_node *pls = eg_node_get(policy, "portLevelSettings");

	for (size_t i = 0; i < eg_node_len(pls); i++) {
		if (eg_node_int(pls->v[i], "port.number", 0) != port)
			continue;
		/* port level does not inherit: every field is replaced, absent = default */
		t->lb = eg_node_get(pls->v[i], "loadBalancer");
		t->pool = eg_node_get(pls->v[i], "connectionPool");
		t->outlier = eg_node_get(pls->v[i], "outlierDetection");
		t->tls = eg_node_get(pls->v[i], "tls");
		return;
	}
}

static void override(const struct eg_node *policy, struct tp *t)
{
	const struct eg_node *n;

	if ((n = eg_node_get(policy, "loadBalancer")))
		t->lb = n;
	if ((n = eg_node_get(policy, "connectionPool")))
		t->pool = n;
	if ((n = eg_node_get(policy, "outlierDetection")))
		t->outlier = n;
	if ((n = eg_node_get(policy, "tls")))
		t->tls = n;
}

static void merged_policy(const struct eg_resource *dr, const struct eg_node *subset, uint16_t port,
                          struct tp *t)
{
	const struct eg_node *top = dr ? eg_node_path(dr->root, "spec.trafficPolicy") : NULL;
	const struct eg_node *sub = subset ? eg_node_get(subset, "trafficPolicy") : NULL;

	memset(t, 0, sizeof(*t));
	override(top, t);
	port_level(top, port, t);
	if (sub) {
		override(sub, t);
		port_level(sub, port, t);
	}
}

static uint32_t u32_or(const struct eg_node *map, const char *path, uint32_t def)
{
	int64_t v = eg_node_int(map, path, -1);

	return v < 0 ? def : v > (int64_t)U32_UNLIMITED ? U32_UNLIMITED : (uint32_t)v;
}

static void apply_lb(struct cc *c, struct eg_cluster *k, const struct eg_node *lb)
{
	const char *simple = eg_node_str(lb, "simple");
	const struct eg_node *ch = eg_node_get(lb, "consistentHash");

	k->lb = EG_LB_LEAST_REQUEST;
	if (simple) {
		if (strcmp(simple, "ROUND_ROBIN") == 0)
			k->lb = EG_LB_ROUND_ROBIN;
		else if (strcmp(simple, "RANDOM") == 0)
			k->lb = EG_LB_RANDOM;
		else if (strcmp(simple, "PASSTHROUGH") == 0)
			k->lb = EG_LB_PASSTHROUGH;
	}
	if (ch) {
		const struct eg_node *cookie = eg_node_get(ch, "httpCookie");

		k->lb = EG_LB_CONSISTENT_HASH;
		if (eg_node_str(ch, "httpHeaderName")) {
			k->hash.on = EG_HASH_HEADER;
			k->hash.name = arena_lower(c->sa, eg_node_str(ch, "httpHeaderName"));
		} else if (cookie) {
			k->hash.on = EG_HASH_COOKIE;
			k->hash.name = arena_str(c->sa, eg_node_str(cookie, "name"));
			k->hash.cookie_path = arena_str(c->sa, eg_node_str(cookie, "path"));
			k->hash.cookie_ttl_ns = node_duration(cookie, "ttl", 0);
		} else if (eg_node_bool(ch, "useSourceIp", false)) {
			k->hash.on = EG_HASH_SOURCE_IP;
		} else if (eg_node_str(ch, "httpQueryParameterName")) {
			k->hash.on = EG_HASH_QUERY;
			k->hash.name = arena_str(c->sa, eg_node_str(ch, "httpQueryParameterName"));
		}
	}
}

static void apply_pool(struct cc *c, struct eg_cluster *k, const struct eg_node *pool)
{
	const struct eg_node *tcp = eg_node_get(pool, "tcp");
	const struct eg_node *http = eg_node_get(pool, "http");
	const struct eg_node *ka = eg_node_get(tcp, "tcpKeepalive");
	struct eg_conn_pool *p = &k->pool;
	const char *h2 = eg_node_str(http, "h2UpgradePolicy");

	p->max_connections = u32_or(tcp, "maxConnections", U32_UNLIMITED);
	p->max_pending_requests = u32_or(http, "http1MaxPendingRequests", U32_UNLIMITED);
	p->max_requests = u32_or(http, "http2MaxRequests", U32_UNLIMITED);
	p->max_requests_per_connection = u32_or(http, "maxRequestsPerConnection", 0);
	p->max_retries = u32_or(http, "maxRetries", U32_UNLIMITED);
	p->connect_timeout_ns = node_duration(tcp, "connectTimeout", c->connect_timeout_ns);
	p->idle_timeout_ns = node_duration(http, "idleTimeout",
	                                   node_duration(tcp, "idleTimeout", 3600 * NS_PER_S));
	p->max_connection_duration_ns = node_duration(tcp, "maxConnectionDuration", 0);
	p->h2_upgrade_policy = h2 ? arena_str(c->sa, h2) : "DEFAULT";
	if (ka) {
		p->keepalive = true;
		p->keepalive_probes = u32_or(ka, "probes", 9);
		p->keepalive_time_ns = node_duration(ka, "time", 7200 * NS_PER_S);
		p->keepalive_interval_ns = node_duration(ka, "interval", 75 * NS_PER_S);
	}
}

static void apply_outlier(struct eg_cluster *k, const struct eg_node *o)
{
	struct eg_outlier *x = &k->outlier;

	if (!o)
		return;
	x->enabled = true;
	x->consecutive_5xx = u32_or(o, "consecutive5xxErrors", 5);
	x->consecutive_gateway_errors =
	        u32_or(o, "consecutiveGatewayErrors", u32_or(o, "consecutiveErrors", 0));
	x->consecutive_local_origin_failures = u32_or(o, "consecutiveLocalOriginFailures", 5);
	x->split_external_local_origin_errors =
	        eg_node_bool(o, "splitExternalLocalOriginErrors", false);
	x->interval_ns = node_duration(o, "interval", 10 * NS_PER_S);
	x->base_ejection_time_ns = node_duration(o, "baseEjectionTime", 30 * NS_PER_S);
	x->max_ejection_percent = u32_or(o, "maxEjectionPercent", 10);
	x->min_health_percent = u32_or(o, "minHealthPercent", 0);
}

/* egressd speaks HTTP/1.1 upstream (an http2-named port included), so its mTLS offers
 * Istio's HTTP/1.1 list; opaque TCP offers the peer-exchange one. */
static const char *const alpn_istio_http11[] = {"istio-http/1.1", "istio", "http/1.1"};
static const char *const alpn_istio_tcp[] = {"istio-peer-exchange", "istio"};

static const char *const *str_list(struct cc *c, const struct eg_node *l, size_t *ret_n)
{
	const char **v;

	*ret_n = 0;
	if (!eg_node_len(l))
		return NULL;
	v = arena_alloc(c->sa, l->n * sizeof(*v));
	if (!v)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i]->kind == EG_NODE_SCALAR)
			v[(*ret_n)++] = arena_str(c->sa, l->v[i]->s);
	return v;
}

static void apply_tls(struct cc *c, struct eg_cluster *k, const struct svc *s,
                      const struct eg_node *tls)
{
	struct eg_upstream_tls *t = &k->tls;
	const char *mode = eg_node_str(tls, "mode");
	const char *sni = eg_node_str(tls, "sni");

	t->mode = EG_UPSTREAM_TLS_DISABLE;
	if (!mode || strcmp(mode, "DISABLE") == 0)
		return;
	t->mode = strcmp(mode, "SIMPLE") == 0   ? EG_UPSTREAM_TLS_SIMPLE
	          : strcmp(mode, "MUTUAL") == 0 ? EG_UPSTREAM_TLS_MUTUAL
	                                        : EG_UPSTREAM_TLS_ISTIO_MUTUAL;
	t->subject_alt_names =
	        str_list(c, eg_node_get(tls, "subjectAltNames"), &t->nsubject_alt_names);
	t->ca_certificates = arena_str(c->sa, eg_node_str(tls, "caCertificates"));
	t->client_certificate = arena_str(c->sa, eg_node_str(tls, "clientCertificate"));
	t->private_key = arena_str(c->sa, eg_node_str(tls, "privateKey"));
	t->credential_name = arena_str(c->sa, eg_node_str(tls, "credentialName"));
	t->insecure_skip_verify = eg_node_bool(tls, "insecureSkipVerify", false);
	if (sni && *sni)
		t->sni = arena_str(c->sa, sni);
	if (t->mode == EG_UPSTREAM_TLS_ISTIO_MUTUAL) {
		/* Istio's default SNI names the cluster; the mesh identities are the SANs */
		if (!t->sni)
			t->sni = arena_printf(c->sa, "outbound_.%u_.%s_.%s", k->port, k->subset,
			                      k->host);
		if (!t->nsubject_alt_names && s && (s->nsas || s->nsans)) {
			const char **v = arena_alloc(c->sa, (s->nsas + s->nsans) * sizeof(*v));
			size_t n = 0;

			for (size_t i = 0; v && i < s->nsans; i++)
				v[n++] = s->sans[i];
			for (size_t i = 0; v && i < s->nsas; i++)
				v[n++] = arena_printf(c->sa, "spiffe://%s/ns/%s/sa/%s",
				                      c->s->id.trust_domain, s->ns, s->sas[i]);
			t->subject_alt_names = v;
			t->nsubject_alt_names = v ? n : 0;
		}
		if (k->protocol && proto_kind(k->protocol) == EG_CHAIN_HTTP) {
			t->alpn = alpn_istio_http11;
			t->nalpn = 3;
		} else {
			t->alpn = alpn_istio_tcp;
			t->nalpn = 2;
		}
		return;
	}
	if (!t->sni)
		t->auto_sni = true;
	if (!t->nsubject_alt_names && s && s->nsans) {
		t->subject_alt_names = s->sans; /* the ServiceEntry's SANs */
		t->nsubject_alt_names = s->nsans;
	}
	if (!t->nsubject_alt_names && !t->insecure_skip_verify)
		t->auto_san = true;
}

/* --- endpoints --- */

static bool ep_in_subset(const struct svc_ep *e, const struct eg_node *subset)
{
	const struct eg_node *want = subset ? eg_node_get(subset, "labels") : NULL;

	for (size_t i = 0; i < eg_node_len(want); i++) {
		const struct eg_node *v = eg_node_get(e->labels, want->k[i]->s);

		if (!v || !v->s || !want->v[i]->s || strcmp(v->s, want->v[i]->s) != 0)
			return false;
	}
	return true;
}

static const struct eg_label *ep_labels(struct cc *c, const struct eg_node *l, size_t *ret_n)
{
	struct eg_label *v;

	*ret_n = 0;
	if (!eg_node_len(l))
		return NULL;
	v = arena_alloc(c->sa, l->n * sizeof(*v));
	for (size_t i = 0; v && i < l->n; i++) {
		v[i].key = arena_str(c->sa, l->k[i]->s);
		v[i].value = arena_str(c->sa, l->v[i]->s ? l->v[i]->s : "");
	}
	*ret_n = v ? l->n : 0;
	return v;
}

static void endpoints(struct cc *c, struct eg_cluster *k, const struct svc *s,
                      const struct svc_port *sp, const struct eg_node *subset)
{
	struct vec v = VEC_INIT(struct eg_endpoint);

	for (size_t i = 0; i < s->neps; i++) {
		const struct svc_ep *e = &s->eps[i];
		struct eg_endpoint *o;
		int64_t port = sp->target;

		if (!e->address || !ep_in_subset(e, subset))
			continue;
		/* a ServiceEntry endpoint may map the port name to its own port */
		if (e->ports && sp->name)
			port = eg_node_int(e->ports, sp->name, port);
		if (!(o = vec_push(&c->tmp, &v))) {
			cc_nomem(c);
			return;
		}
		o->address = e->address;
		o->port = (uint16_t)port;
		o->weight = e->weight ? e->weight : 1;
		o->labels = ep_labels(c, e->labels, &o->nlabels);
	}
	/* a Service without known pods: its ClusterIP */
	if (!v.n && s->k8s && s->naddresses && !s->external_name) {
		struct eg_endpoint *o = vec_push(&c->tmp, &v);

		if (!o) {
			cc_nomem(c);
			return;
		}
		o->address = s->addresses[0];
		o->port = sp->number;
		o->weight = 1;
	}
	k->endpoints = vec_finish(c->sa, &v);
	k->nendpoints = v.n;
}

static void discovery(struct cc *c, struct eg_cluster *k, const struct svc *s,
                      const struct svc_port *sp, const struct eg_node *subset)
{
	struct eg_endpoint *e;

	if (s->k8s && !s->external_name) {
		k->type = EG_CLUSTER_EDS;
		{
			endpoints(c, k, s, sp, subset);
			return;
		}
	}
	if (s->k8s) { /* ExternalName */
		k->type = EG_CLUSTER_STRICT_DNS;
		goto host_endpoint;
	}
	switch (s->resolution) {
	case RES_NONE:
		k->type = EG_CLUSTER_ORIGINAL_DST;
		return;
	case RES_STATIC:
		k->type = EG_CLUSTER_STATIC;
		{
			endpoints(c, k, s, sp, subset);
			return;
		}
	case RES_DNS:
	case RES_DNS_RR:
		k->type = s->resolution == RES_DNS ? EG_CLUSTER_STRICT_DNS : EG_CLUSTER_LOGICAL_DNS;
		if (s->neps) {
			endpoints(c, k, s, sp, subset);
			return;
		}
		if (s->host[0] == '*') {
			/* nothing to resolve for a wildcard: forward to the original destination */
			k->type = EG_CLUSTER_ORIGINAL_DST;
			return;
		}
		goto host_endpoint;
	case RES_DYNAMIC_DNS:
		k->type = EG_CLUSTER_DYNAMIC_DNS;
		return;
	}
	return;
host_endpoint:
	e = arena_alloc(c->sa, sizeof(*e));
	if (!e) {
		cc_nomem(c);
		return;
	}
	e->address = s->k8s ? s->external_name : s->host;
	e->port = sp->target;
	e->weight = 1;
	k->endpoints = e;
	k->nendpoints = 1;
}

/* --- building --- */

static bool remember(struct cc *c, const char *name, const struct eg_cluster *k)
{
	if (!c->cluster_names && !(c->cluster_names = index_new(&c->tmp, 64))) {
		cc_nomem(c);
		return false;
	}
	if (!index_put_grow(&c->tmp, c->cluster_names, name, strlen(name), k)) {
		cc_nomem(c);
		return false;
	}
	if (k != &cc_missing) {
		const struct eg_cluster **slot = vec_push(&c->tmp, &c->clusters);

		if (!slot) {
			cc_nomem(c);
			return false;
		}
		*slot = k;
	}
	return true;
}

const struct eg_cluster *cc_cluster(struct cc *c, const char *host, const char *subset,
                                    uint16_t port)
{
	const char *name = cc_cluster_name(c, port, subset, host);
	const struct eg_cluster *have;
	const struct svc *s;
	const struct svc_port *sp = NULL;
	const struct eg_resource *dr;
	const struct eg_node *sub = NULL;
	struct eg_cluster *k;
	struct tp t;

	if (!name) {
		cc_nomem(c);
		return NULL;
	}
	have = c->cluster_names ? index_get(c->cluster_names, name, strlen(name)) : NULL;
	if (have)
		return have == &cc_missing ? NULL : have;
	s = cc_service(c, host);
	for (size_t i = 0; s && i < s->nports; i++)
		if (s->ports[i].number == port)
			sp = &s->ports[i];
	dr = s ? dr_for(c, host, s->ns) : NULL;
	if (sp && subset && *subset && !(dr && (sub = dr_subset(dr, subset))))
		sp = NULL; /* an unknown subset has no cluster: 503 NC */
	if (!sp) {
		remember(c, name, &cc_missing);
		return NULL;
	}
	if (!(k = arena_alloc(c->sa, sizeof(*k)))) {
		cc_nomem(c);
		return NULL;
	}
	k->name = name;
	k->host = s->host;
	k->subset = arena_str(c->sa, subset ? subset : "");
	k->port = port;
	k->protocol = sp->protocol;
	k->service = arena_printf(c->sa, "%s %s/%s", s->res->kind->kind, s->res->ns, s->res->name);
	if (dr)
		k->destination_rule = arena_printf(c->sa, "%s.%s", dr->name, dr->ns);
	merged_policy(dr, sub, port, &t);
	discovery(c, k, s, sp, sub);
	apply_lb(c, k, t.lb);
	if (k->lb == EG_LB_PASSTHROUGH) {
		/* Istio: a PASSTHROUGH load balancer forwards to the original destination */
		k->type = EG_CLUSTER_ORIGINAL_DST;
		k->endpoints = NULL;
		k->nendpoints = 0;
	}
	apply_pool(c, k, t.pool);
	apply_outlier(k, t.outlier);
	apply_tls(c, k, s, t.tls);
	remember(c, name, k);
	return k;
}

void cc_special_clusters(struct cc *c)
{
	static const char *const names[] = {"BlackHoleCluster", "PassthroughCluster"};

	for (size_t i = 0; i < EG_ARRAY_SIZE(names); i++) {
		struct eg_cluster *k = arena_alloc(c->sa, sizeof(*k));

		if (!k) {
			cc_nomem(c);
			return;
		}
		k->name = names[i];
		k->host = "";
		k->subset = "";
		k->protocol = "";
		k->type = i == 0 ? EG_CLUSTER_STATIC : EG_CLUSTER_ORIGINAL_DST;
		k->lb = i == 0 ? EG_LB_ROUND_ROBIN : EG_LB_PASSTHROUGH;
		apply_pool(c, k, NULL);
		remember(c, names[i], k);
	}
}

void cc_sidecar_clusters(struct cc *c)
{
	for (size_t i = 0; i < c->nsvcs && !c->err; i++) {
		const struct svc *s = c->svcs[i];
		const struct eg_resource *dr;
		const struct eg_node *subsets;

		if (i > 0 && strcmp(c->svcs[i - 1]->host, s->host) == 0)
			continue; /* shadowed */
		dr = dr_for(c, s->host, s->ns);
		subsets = dr ? eg_node_path(dr->root, "spec.subsets") : NULL;
		for (size_t j = 0; j < s->nports; j++) {
			if (!cc_sidecar_imports(c, s->ns, s->host, s->ports[j].number))
				continue;
			(void)cc_cluster(c, s->host, "", s->ports[j].number);
			for (size_t k = 0; k < eg_node_len(subsets); k++) {
				const char *sn = eg_node_str(subsets->v[k], "name");

				if (sn)
					(void)cc_cluster(c, s->host, sn, s->ports[j].number);
			}
		}
	}
}

static int cluster_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct eg_cluster *const *)a)->name,
	              (*(const struct eg_cluster *const *)b)->name);
}

int cc_finish_clusters(struct cc *c)
{
	struct eg_snapshot *s = c->s;

	if (c->clusters.n)
		qsort(c->clusters.v, c->clusters.n, sizeof(struct eg_cluster *), cluster_cmp);
	s->clusters = vec_finish(c->sa, &c->clusters);
	s->nclusters = c->clusters.n;
	s->cluster_index = index_new(c->sa, s->nclusters);
	if (!s->cluster_index || (s->nclusters && !s->clusters))
		return -ENOMEM;
	for (size_t i = 0; i < s->nclusters; i++)
		index_put(s->cluster_index, s->clusters[i]->name, strlen(s->clusters[i]->name),
		          s->clusters[i]);
	return 0;
}
