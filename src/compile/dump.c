/* src/compile/dump.c: the snapshot as JSON (egressctl proxy-config -o json, the admin
 * config_dump, the golden files). Deterministic: every list is in the snapshot's order
 * (sorted, or Istio's meaningful order), keys in a fixed order, absent values omitted.
 * The schema is docs/reference/snapshot.md. */
#include <errno.h>
#include <inttypes.h>

#include "compile/internal.h"

#define MAX_DEPTH 32

struct jw {
	struct eg_buf *b;
	int depth;
	bool first[MAX_DEPTH];
	int err;
};

static void put(struct jw *w, const char *s)
{
	int r;

	if (w->err)
		return;
	if ((r = eg_buf_puts(w->b, s)) < 0)
		w->err = r;
}

static void str(struct jw *w, const char *s)
{
	int r;

	put(w, "\"");
	if (!w->err && (r = eg_buf_json_escape(w->b, s, strlen(s))) < 0)
		w->err = r;
	put(w, "\"");
}

/* Starts a member (key may be NULL inside arrays). */
static void member(struct jw *w, const char *key)
{
	if (w->depth > 0) {
		if (!w->first[w->depth])
			put(w, ",");
		w->first[w->depth] = false;
		put(w, "\n");
		for (int i = 0; i < w->depth; i++)
			put(w, "  ");
	}
	if (key) {
		str(w, key);
		put(w, ": ");
	}
}

static void open_(struct jw *w, const char *key, const char *brace)
{
	member(w, key);
	put(w, brace);
	if (w->depth + 1 >= MAX_DEPTH) {
		w->err = -E2BIG;
		return;
	}
	w->first[++w->depth] = true;
}

static void close_(struct jw *w, const char *brace)
{
	bool empty = w->first[w->depth];

	w->depth--;
	if (!empty) {
		put(w, "\n");
		for (int i = 0; i < w->depth; i++)
			put(w, "  ");
	}
	put(w, brace);
}

#define OBJ(w, k) open_(w, k, "{")
#define END(w)    close_(w, "}")
#define ARR(w, k) open_(w, k, "[")
#define AEND(w)   close_(w, "]")

static void kstr(struct jw *w, const char *key, const char *v)
{
	if (!v)
		return;
	member(w, key);
	str(w, v);
}

static void kint(struct jw *w, const char *key, int64_t v)
{
	char buf[32];

	member(w, key);
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	put(w, buf);
}

static void kbool(struct jw *w, const char *key, bool v)
{
	member(w, key);
	put(w, v ? "true" : "false");
}

/* Durations as Envoy prints them: "10s", "0.250s". */
static void kdur(struct jw *w, const char *key, int64_t ns)
{
	char buf[48];
	int64_t s = ns / 1000000000LL, frac = ns % 1000000000LL;

	if (frac == 0) {
		snprintf(buf, sizeof(buf), "%" PRId64 "s", s);
	} else {
		int n = snprintf(buf, sizeof(buf), "%" PRId64 ".%09" PRId64, s, frac);

		while (n > 0 && buf[n - 1] == '0')
			buf[--n] = '\0';
		snprintf(buf + n, sizeof(buf) - (size_t)n, "s");
	}
	kstr(w, key, buf);
}

static void kstrs(struct jw *w, const char *key, const char *const *v, size_t n)
{
	if (!n)
		return;
	ARR(w, key);
	for (size_t i = 0; i < n; i++) {
		member(w, NULL);
		str(w, v[i] ? v[i] : "");
	}
	AEND(w);
}

static void labels(struct jw *w, const char *key, const struct eg_label *l, size_t n)
{
	if (!n)
		return;
	OBJ(w, key);
	for (size_t i = 0; i < n; i++)
		kstr(w, l[i].key, l[i].value);
	END(w);
}

/* --- routes --- */

static void smatch(struct jw *w, const char *key, const struct eg_smatch *m)
{
	static const char *const kinds[] = {NULL, "exact", "prefix", "regex", "present"};

	if (m->kind == EG_SMATCH_ANY)
		return;
	OBJ(w, key);
	if (m->kind == EG_SMATCH_PRESENT)
		kbool(w, "present", true);
	else
		kstr(w, kinds[m->kind], m->value);
	if (m->ignore_case)
		kbool(w, "ignore_case", true);
	END(w);
}

static void header_matches(struct jw *w, const char *key, const struct eg_header_match *h, size_t n)
{
	if (!n)
		return;
	ARR(w, key);
	for (size_t i = 0; i < n; i++) {
		OBJ(w, NULL);
		kstr(w, "name", h[i].name);
		smatch(w, "match", &h[i].m);
		if (h[i].absent)
			kbool(w, "invert", true);
		END(w);
	}
	AEND(w);
}

static void weighted(struct jw *w, const struct eg_weighted_cluster *c, size_t n)
{
	ARR(w, "clusters");
	for (size_t i = 0; i < n; i++) {
		OBJ(w, NULL);
		kstr(w, "name", c[i].name);
		kint(w, "weight", c[i].weight);
		if (!c[i].cluster)
			kbool(w, "missing", true);
		END(w);
	}
	AEND(w);
}

static void header_ops(struct jw *w, const char *key, const struct eg_header_ops *o)
{
	if (!o->nset && !o->nadd && !o->nremove)
		return;
	OBJ(w, key);
	if (o->nset) {
		OBJ(w, "set");
		for (size_t i = 0; i < o->nset; i++)
			kstr(w, o->set[i].key, o->set[i].value);
		END(w);
	}
	if (o->nadd) {
		OBJ(w, "add");
		for (size_t i = 0; i < o->nadd; i++)
			kstr(w, o->add[i].key, o->add[i].value);
		END(w);
	}
	kstrs(w, "remove", o->remove, o->nremove);
	END(w);
}

static void route(struct jw *w, const struct eg_route *r)
{
	static const char *const actions[] = {"route", "redirect", "direct_response"};

	OBJ(w, NULL);
	kstr(w, "name", r->name);
	kstr(w, "virtual_service", r->vs);
	if (r->nmatches) {
		ARR(w, "match");
		for (size_t i = 0; i < r->nmatches; i++) {
			const struct eg_route_match *m = &r->matches[i];

			OBJ(w, NULL);
			kstr(w, "name", m->name);
			smatch(w, "uri", &m->uri);
			smatch(w, "scheme", &m->scheme);
			smatch(w, "method", &m->method);
			smatch(w, "authority", &m->authority);
			header_matches(w, "headers", m->headers, m->nheaders);
			header_matches(w, "query_params", m->query, m->nquery);
			if (m->port)
				kint(w, "port", m->port);
			END(w);
		}
		AEND(w);
	}
	kstr(w, "action", actions[r->action]);
	switch (r->action) {
	case EG_ACTION_ROUTE:
		weighted(w, r->clusters, r->nclusters);
		break;
	case EG_ACTION_REDIRECT:
		OBJ(w, "redirect");
		kstr(w, "scheme", r->redirect.scheme);
		kstr(w, "authority", r->redirect.authority);
		if (r->redirect.port)
			kint(w, "port", r->redirect.port);
		kstr(w, "uri", r->redirect.uri);
		kint(w, "code", r->redirect.code);
		END(w);
		break;
	case EG_ACTION_DIRECT:
		OBJ(w, "direct_response");
		kint(w, "status", r->direct.status);
		kstr(w, "body", r->direct.body);
		END(w);
		break;
	}
	kstr(w, "deny_reason", r->deny_reason);
	if (r->action == EG_ACTION_ROUTE) {
		kdur(w, "timeout", r->timeout_ns);
		OBJ(w, "retries");
		kint(w, "attempts", r->retries.attempts);
		if (r->retries.per_try_timeout_ns)
			kdur(w, "per_try_timeout", r->retries.per_try_timeout_ns);
		kstr(w, "retry_on", r->retries.retry_on);
		END(w);
		if (r->rewrite.uri || r->rewrite.authority) {
			OBJ(w, "rewrite");
			kstr(w, "uri", r->rewrite.uri);
			kstr(w, "authority", r->rewrite.authority);
			END(w);
		}
	}
	header_ops(w, "request_headers", &r->request_headers);
	header_ops(w, "response_headers", &r->response_headers);
	END(w);
}

static void vhost(struct jw *w, const char *key, const struct eg_vhost *vh)
{
	OBJ(w, key);
	kstr(w, "name", vh->name);
	kstrs(w, "domains", vh->domains, vh->ndomains);
	kstr(w, "virtual_service", vh->vs);
	ARR(w, "routes");
	for (size_t i = 0; i < vh->nroutes; i++)
		route(w, &vh->routes[i]);
	AEND(w);
	END(w);
}

static void route_table(struct jw *w, const struct eg_route_table *rt)
{
	OBJ(w, NULL);
	kstr(w, "name", rt->name);
	if (rt->port)
		kint(w, "port", rt->port);
	ARR(w, "virtual_hosts");
	for (size_t i = 0; i < rt->nvhosts; i++)
		vhost(w, NULL, &rt->vhosts[i]);
	AEND(w);
	if (rt->catch_all)
		vhost(w, "catch_all", rt->catch_all);
	END(w);
}

/* --- listeners --- */

static void tcp_route(struct jw *w, const char *key, const struct eg_tcp_route *t)
{
	if (!t)
		return;
	OBJ(w, key);
	kstr(w, "name", t->name);
	kstr(w, "virtual_service", t->vs);
	weighted(w, t->clusters, t->nclusters);
	END(w);
}

static void chain(struct jw *w, const struct eg_chain *ch, bool gateway)
{
	OBJ(w, "chain");
	kstr(w, "protocol", eg_chain_proto_name(ch->proto));
	if (ch->proto == EG_CHAIN_HTTP && ch->http)
		kstr(w, "route_table", ch->http->name);
	if (ch->proto == EG_CHAIN_TLS) {
		ARR(w, "sni");
		for (size_t i = 0; i < ch->nsni; i++) {
			OBJ(w, NULL);
			kstr(w, "server_name", ch->sni[i].sni);
			tcp_route(w, "route", ch->sni[i].route);
			END(w);
		}
		AEND(w);
	}
	if (ch->proto == EG_CHAIN_TCP)
		tcp_route(w, "route", ch->tcp);
	if (ch->fallback)
		tcp_route(w, "fallback", ch->fallback);
	else if (gateway && ch->proto != EG_CHAIN_HTTP)
		kstr(w, "fallback", "close");
	END(w);
}

static void server_tls(struct jw *w, const struct eg_server_tls *t)
{
	OBJ(w, "tls");
	kstr(w, "mode", eg_server_tls_name(t->mode));
	if (t->https_redirect)
		kbool(w, "https_redirect", true);
	kstr(w, "credential_name", t->credential_name);
	kstr(w, "server_certificate", t->server_certificate);
	kstr(w, "private_key", t->private_key);
	kstr(w, "ca_certificates", t->ca_certificates);
	kstrs(w, "subject_alt_names", t->subject_alt_names, t->nsubject_alt_names);
	kstr(w, "min_protocol_version", t->min_version);
	kstr(w, "max_protocol_version", t->max_version);
	kstrs(w, "cipher_suites", t->cipher_suites, t->ncipher_suites);
	END(w);
}

static void listener(struct jw *w, const struct eg_listener *l)
{
	OBJ(w, NULL);
	kstr(w, "name", l->name);
	kstr(w, "kind", l->kind == EG_LISTENER_CAPTURE ? "capture" : "gateway");
	kstr(w, "address", l->address);
	kint(w, "port", l->port);
	if (l->kind == EG_LISTENER_CAPTURE) {
		if (l->http_catch_all)
			kstr(w, "http_catch_all", l->http_catch_all->name);
		tcp_route(w, "fallback", l->fallback);
		ARR(w, "ports");
		for (size_t i = 0; i < l->nports; i++) {
			const struct eg_port_entry *pe = &l->ports[i];

			OBJ(w, NULL);
			kint(w, "port", pe->port);
			if (pe->nby_addr) {
				ARR(w, "by_address");
				for (size_t j = 0; j < pe->nby_addr; j++) {
					OBJ(w, NULL);
					kstr(w, "cidr", pe->by_addr[j].cidr);
					tcp_route(w, "route", pe->by_addr[j].route);
					END(w);
				}
				AEND(w);
			}
			chain(w, &pe->chain, false);
			END(w);
		}
		AEND(w);
	} else {
		kint(w, "service_port", l->service_port);
		ARR(w, "filter_chains");
		for (size_t i = 0; i < l->nchains; i++) {
			const struct eg_filter_chain *fc = &l->chains[i];

			OBJ(w, NULL);
			kstr(w, "gateway", fc->gateway);
			kstr(w, "server", fc->server);
			kstr(w, "protocol", fc->protocol);
			kstrs(w, "hosts", fc->hosts, fc->nhosts);
			kstrs(w, "server_names", fc->server_names, fc->nserver_names);
			server_tls(w, &fc->tls);
			chain(w, &fc->chain, true);
			END(w);
		}
		AEND(w);
	}
	END(w);
}

/* --- clusters --- */

static void cluster(struct jw *w, const struct eg_cluster *k)
{
	static const char *const hash_on[] = {NULL, "header", "cookie", "source_ip", "query"};
	const struct eg_conn_pool *p = &k->pool;
	const struct eg_upstream_tls *t = &k->tls;
	const struct eg_outlier *o = &k->outlier;

	OBJ(w, NULL);
	kstr(w, "name", k->name);
	if (k->host[0]) {
		kstr(w, "host", k->host);
		kstr(w, "subset", k->subset);
		kint(w, "port", k->port);
		kstr(w, "protocol", k->protocol);
	}
	kstr(w, "service", k->service);
	kstr(w, "destination_rule", k->destination_rule);
	kstr(w, "type", eg_cluster_type_name(k->type));
	if (k->nendpoints) {
		ARR(w, "endpoints");
		for (size_t i = 0; i < k->nendpoints; i++) {
			OBJ(w, NULL);
			kstr(w, "address", k->endpoints[i].address);
			kint(w, "port", k->endpoints[i].port);
			kint(w, "weight", k->endpoints[i].weight);
			labels(w, "labels", k->endpoints[i].labels, k->endpoints[i].nlabels);
			END(w);
		}
		AEND(w);
	}
	kstr(w, "lb_policy", eg_lb_name(k->lb));
	if (k->hash.on != EG_HASH_NONE) {
		OBJ(w, "hash");
		kstr(w, "on", hash_on[k->hash.on]);
		kstr(w, "name", k->hash.name);
		kstr(w, "cookie_path", k->hash.cookie_path);
		if (k->hash.cookie_ttl_ns)
			kdur(w, "cookie_ttl", k->hash.cookie_ttl_ns);
		END(w);
	}
	OBJ(w, "connection_pool");
	kint(w, "max_connections", p->max_connections);
	kint(w, "max_pending_requests", p->max_pending_requests);
	kint(w, "max_requests", p->max_requests);
	kint(w, "max_requests_per_connection", p->max_requests_per_connection);
	kint(w, "max_retries", p->max_retries);
	kdur(w, "connect_timeout", p->connect_timeout_ns);
	kdur(w, "idle_timeout", p->idle_timeout_ns);
	if (p->max_connection_duration_ns)
		kdur(w, "max_connection_duration", p->max_connection_duration_ns);
	if (p->keepalive) {
		OBJ(w, "tcp_keepalive");
		kint(w, "probes", p->keepalive_probes);
		kdur(w, "time", p->keepalive_time_ns);
		kdur(w, "interval", p->keepalive_interval_ns);
		END(w);
	}
	kstr(w, "h2_upgrade_policy", p->h2_upgrade_policy);
	END(w);
	if (o->enabled) {
		OBJ(w, "outlier_detection");
		kint(w, "consecutive_5xx_errors", o->consecutive_5xx);
		kint(w, "consecutive_gateway_errors", o->consecutive_gateway_errors);
		kint(w, "consecutive_local_origin_failures", o->consecutive_local_origin_failures);
		kbool(w, "split_external_local_origin_errors",
		      o->split_external_local_origin_errors);
		kdur(w, "interval", o->interval_ns);
		kdur(w, "base_ejection_time", o->base_ejection_time_ns);
		kint(w, "max_ejection_percent", o->max_ejection_percent);
		kint(w, "min_health_percent", o->min_health_percent);
		END(w);
	}
	OBJ(w, "tls");
	kstr(w, "mode", eg_upstream_tls_name(t->mode));
	if (t->mode != EG_UPSTREAM_TLS_DISABLE) {
		kstr(w, "sni", t->sni);
		if (t->auto_sni)
			kbool(w, "auto_sni", true);
		kstrs(w, "subject_alt_names", t->subject_alt_names, t->nsubject_alt_names);
		if (t->auto_san)
			kbool(w, "auto_san_validation", true);
		kstr(w, "ca_certificates", t->ca_certificates);
		kstr(w, "client_certificate", t->client_certificate);
		kstr(w, "private_key", t->private_key);
		kstr(w, "credential_name", t->credential_name);
		if (t->insecure_skip_verify)
			kbool(w, "insecure_skip_verify", true);
		kstrs(w, "alpn", t->alpn, t->nalpn);
	}
	END(w);
	END(w);
}

static void listeners(struct jw *w, const char *key, const struct eg_snapshot *s)
{
	ARR(w, key);
	for (size_t i = 0; i < s->nlisteners; i++)
		listener(w, &s->listeners[i]);
	AEND(w);
}

static void route_tables(struct jw *w, const char *key, const struct eg_snapshot *s)
{
	ARR(w, key);
	for (size_t i = 0; i < s->ntables; i++)
		route_table(w, s->tables[i]);
	AEND(w);
}

static void clusters(struct jw *w, const char *key, const struct eg_snapshot *s)
{
	ARR(w, key);
	for (size_t i = 0; i < s->nclusters; i++)
		cluster(w, s->clusters[i]);
	AEND(w);
}

static void services(struct jw *w, const char *key, const struct eg_snapshot *s)
{
	ARR(w, key);
	for (size_t i = 0; i < s->nservices; i++) {
		const struct eg_service *v = &s->services[i];

		OBJ(w, NULL);
		kstr(w, "host", v->host);
		kstr(w, "namespace", v->ns);
		kstr(w, "name", v->name);
		kstr(w, "cluster_ip", v->cluster_ip);
		ARR(w, "ports");
		for (size_t j = 0; j < v->nports; j++) {
			OBJ(w, NULL);
			kint(w, "port", v->ports[j].port);
			kint(w, "target_port", v->ports[j].target_port);
			kstr(w, "name", v->ports[j].name);
			kstr(w, "protocol", v->ports[j].protocol);
			END(w);
		}
		AEND(w);
		kstrs(w, "pod_addresses", v->pod_addresses, v->npod_addresses);
		END(w);
	}
	AEND(w);
}

/* rules: the policy's spec.rules as compact JSON (the model's writer) */
static void authz(struct jw *w, const char *key, const struct eg_snapshot *s)
{
	int r;

	ARR(w, key);
	for (size_t i = 0; i < s->nauthz; i++) {
		const struct eg_authz_policy *p = &s->authz[i];

		OBJ(w, NULL);
		kstr(w, "name", p->name);
		kstr(w, "action", eg_authz_action_name(p->action));
		kstr(w, "provider", p->provider);
		if (p->rules) {
			member(w, "rules");
			if (!w->err && (r = eg_node_emit_json(w->b, p->rules, 0)) < 0)
				w->err = r;
		}
		END(w);
	}
	AEND(w);
}

int eg_snapshot_dump_json(const struct eg_snapshot *s, struct eg_buf *out)
{
	struct jw w = {.b = out};
	const struct eg_identity *id = &s->id;

	OBJ(&w, NULL);
	kint(&w, "version", (int64_t)id->version);
	OBJ(&w, "identity");
	kstr(&w, "role", eg_role_name(id->role));
	kstr(&w, "namespace", id->ns);
	kstr(&w, "name", id->name);
	kstr(&w, "gateway_name", id->gateway_name);
	kstr(&w, "service_account", id->service_account);
	kstr(&w, "trust_domain", id->trust_domain);
	kstr(&w, "spiffe_id", id->spiffe_id);
	kstr(&w, "revision", id->revision);
	labels(&w, "labels", id->labels, id->nlabels);
	END(&w);
	OBJ(&w, "outbound_traffic_policy");
	kstr(&w, "mode", eg_policy_name(s->policy.mode));
	kstr(&w, "source", s->policy.source);
	kstr(&w, "egress_proxy", s->policy.egress_proxy);
	END(&w);
	OBJ(&w, "access_log");
	kbool(&w, "enabled", s->log.enabled);
	kstr(&w, "path", s->log.path);
	kstr(&w, "encoding", s->log.encoding == EG_LOG_JSON ? "JSON" : "TEXT");
	kstr(&w, "format", s->log.format);
	kstr(&w, "filter", s->log.filter);
	kstr(&w, "source", s->log.source);
	END(&w);
	if (id->role == EG_ROLE_GATEWAY) {
		OBJ(&w, "egress_source");
		kstr(&w, "static_gateway_configuration", s->egress.sgc);
		kstr(&w, "egress_ip_prefix", s->egress.prefix);
		kstr(&w, "status", s->egress.status);
		END(&w);
	}
	listeners(&w, "listeners", s);
	route_tables(&w, "route_tables", s);
	clusters(&w, "clusters", s);
	services(&w, "services", s);
	authz(&w, "authorization_policies", s);
	END(&w);
	put(&w, "\n");
	return w.err;
}

int eg_snapshot_dump_json_part(const struct eg_snapshot *s, const char *part, struct eg_buf *out)
{
	struct jw w = {.b = out, .depth = 0};

	if (strcmp(part, "listeners") == 0)
		listeners(&w, NULL, s);
	else if (strcmp(part, "route_tables") == 0)
		route_tables(&w, NULL, s);
	else if (strcmp(part, "clusters") == 0)
		clusters(&w, NULL, s);
	else if (strcmp(part, "services") == 0)
		services(&w, NULL, s);
	else if (strcmp(part, "authorization_policies") == 0)
		authz(&w, NULL, s);
	else
		return -EINVAL;
	put(&w, "\n");
	return w.err;
}
