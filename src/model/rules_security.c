/* src/model/rules_security.c: the webhook rules of Telemetry (ValidateTelemetry) and
 * AuthorizationPolicy (ValidateAuthorizationPolicy), with Istio's messages. */
#include <stdlib.h>

#include "model/kinds.h"

static bool nonempty(const struct eg_node *obj, const char *key)
{
	const char *s = eg_node_str(obj, key);

	return s && *s;
}

/* selector | targetRef | targetRefs: at most one (validateOneOfSelectorType) */
static void one_selector(struct eg_rctx *c, const struct eg_node *spec)
{
	const struct eg_node *sel = eg_node_get(spec, "selector");
	const struct eg_node *ref = eg_node_get(spec, "targetRef");
	const struct eg_node *refs = eg_node_get(spec, "targetRefs");

	if (sel && (ref || refs))
		eg_rerr(c, ref ? ref : refs, ref ? "targetRef" : "targetRefs",
			"only one of targetRefs or workloadSelector can be set");
	if (ref && refs)
		eg_rerr(c, refs, "targetRefs", "only one of targetRef or targetRefs can be set");
	eg_rules_workload_selector(c, sel, "selector", "matchLabels");
}

/* validatePolicyTargetReference: no cross-namespace references, known kinds */
static void target_ref(struct eg_rctx *c, const struct eg_node *ref, const char *kinds_allowed)
{
	const char *ns = eg_node_str(ref, "namespace");
	const char *kind = eg_node_str(ref, "kind");
	const char *group = eg_node_str(ref, "group");

	if (!ref)
		return;
	if (ns && *ns && c->r->ns && strcmp(ns, c->r->ns) != 0)
		eg_rerr(c, eg_node_get(ref, "namespace"), "namespace",
			"targetRef namespace must be the same as the policy's namespace %s (cross namespace references are not allowed)",
			c->r->ns);
	if (kind) {
		char needle[80];

		snprintf(needle, sizeof(needle), "|%s|", kind);
		if (!strstr(kinds_allowed, needle))
			eg_rerr(c, eg_node_get(ref, "kind"), "kind", "targetRef kind %s is not supported",
				kind);
	}
	if (group && *group && strcmp(group, "gateway.networking.k8s.io") != 0 &&
	    strcmp(group, "networking.istio.io") != 0 && strcmp(group, "core") != 0)
		eg_rerr(c, eg_node_get(ref, "group"), "group", "targetRef group %s is not supported",
			group);
}

static void target_refs(struct eg_rctx *c, const struct eg_node *spec, const char *kinds)
{
	const struct eg_node *refs = eg_node_get(spec, "targetRefs");

	if (eg_node_get(spec, "targetRef")) {
		size_t old = eg_rctx_push(c, ".targetRef");

		target_ref(c, eg_node_get(spec, "targetRef"), kinds);
		eg_rctx_pop(c, old);
	}
	for (size_t i = 0; i < eg_node_len(refs); i++) {
		size_t old = eg_rctx_push(c, ".targetRefs[%zu]", i);

		target_ref(c, refs->v[i], kinds);
		eg_rctx_pop(c, old);
	}
}

/* ===================================================================================
 * Telemetry
 * =================================================================================== */

static void providers(struct eg_rctx *c, const struct eg_node *obj)
{
	const struct eg_node *p = eg_node_get(obj, "providers");

	for (size_t i = 0; i < eg_node_len(p); i++) {
		if (!nonempty(p->v[i], "name")) {
			size_t old = eg_rctx_push(c, ".providers[%zu]", i);

			eg_rerr(c, p->v[i], "name", "empty provider name");
			eg_rctx_pop(c, old);
		}
	}
}

/* A CEL expression is checked for balance only (egressd does not evaluate filters yet). */
static bool cel_balanced(const char *s)
{
	char stack[256];
	size_t n = 0;
	char quote = 0;

	for (; *s; s++) {
		if (quote) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == quote)
				quote = 0;
			continue;
		}
		if (*s == '"' || *s == '\'') {
			quote = *s;
		} else if (strchr("([{", *s)) {
			if (n == sizeof(stack))
				return false;
			stack[n++] = *s == '(' ? ')' : *s == '[' ? ']' : '}';
		} else if (strchr(")]}", *s)) {
			if (!n || stack[--n] != *s)
				return false;
		}
	}
	return !n && !quote;
}

void eg_rules_telemetry(const struct eg_resource *r, struct eg_diag *d)
{
	const struct eg_node *spec = eg_node_get(r->root, "spec");
	const struct eg_node *logs = eg_node_get(spec, "accessLogging");
	const struct eg_node *tracing = eg_node_get(spec, "tracing");
	const struct eg_node *metrics = eg_node_get(spec, "metrics");
	struct eg_rctx c;

	eg_rctx_init(&c, r, d);
	eg_rctx_push(&c, "spec");
	one_selector(&c, spec);
	target_refs(&c, spec, "|Gateway|GatewayClass|Service|ServiceEntry|");
	for (size_t i = 0; i < eg_node_len(logs); i++) {
		const struct eg_node *l = logs->v[i];
		const char *expr = eg_node_str(l, "filter.expression");
		size_t old = eg_rctx_push(&c, ".accessLogging[%zu]", i);

		providers(&c, l);
		if (eg_node_get(l, "filter") && (!expr || !*expr))
			eg_rerr(&c, eg_node_get(l, "filter"), "filter.expression",
				"filter expression must not be empty");
		else if (expr && !cel_balanced(expr))
			eg_rerr(&c, eg_node_path(l, "filter.expression"), "filter.expression",
				"invalid filter expression: unbalanced brackets or quotes in %s", expr);
		eg_rctx_pop(&c, old);
	}
	if (eg_node_len(tracing) > 1)
		eg_rwarn(&c, tracing, "tracing", "multiple tracing is not currently supported");
	for (size_t i = 0; i < eg_node_len(tracing); i++) {
		const struct eg_node *t = tracing->v[i];
		const struct eg_node *tags = eg_node_get(t, "customTags");
		size_t old = eg_rctx_push(&c, ".tracing[%zu]", i);

		if (eg_node_len(eg_node_get(t, "providers")) > 1)
			eg_rwarn(&c, eg_node_get(t, "providers"), "providers",
				 "multiple providers is not currently supported");
		providers(&c, t);
		for (size_t k = 0; k < eg_node_len(tags); k++) {
			const struct eg_node *tag = tags->v[k];
			unsigned kinds = !!eg_node_get(tag, "literal") + !!eg_node_get(tag, "environment") +
					 !!eg_node_get(tag, "header");
			size_t o2 = eg_rctx_push(&c, ".customTags[%s]", tags->k[k]->s);

			if (!*tags->k[k]->s)
				eg_rerr(&c, tags->k[k], NULL, "tag name may not be empty");
			if (kinds != 1)
				eg_rerr(&c, tag, NULL,
					"exactly one of literal, environment or header must be set");
			if (eg_node_get(tag, "literal") && !nonempty(eg_node_get(tag, "literal"), "value"))
				eg_rerr(&c, eg_node_get(tag, "literal"), "literal.value",
					"literal tag value may not be empty");
			eg_rctx_pop(&c, o2);
		}
		eg_rctx_pop(&c, old);
	}
	for (size_t i = 0; i < eg_node_len(metrics); i++) {
		const struct eg_node *m = metrics->v[i];
		const struct eg_node *ovs = eg_node_get(m, "overrides");
		size_t old = eg_rctx_push(&c, ".metrics[%zu]", i);

		providers(&c, m);
		eg_rules_duration_ms(&c, m, "reportingInterval", false);
		for (size_t k = 0; k < eg_node_len(ovs); k++) {
			const struct eg_node *o = ovs->v[k];
			const struct eg_node *tos = eg_node_get(o, "tagOverrides");
			const struct eg_node *match = eg_node_get(o, "match");
			size_t o2 = eg_rctx_push(&c, ".overrides[%zu]", k);

			if (match && eg_node_get(match, "metric") && eg_node_get(match, "customMetric"))
				eg_rerr(&c, match, "match", "only one of metric or customMetric may be set");
			if (match && eg_node_get(match, "customMetric") && !nonempty(match, "customMetric"))
				eg_rerr(&c, eg_node_get(match, "customMetric"), "match.customMetric",
					"customMetric may not be empty");
			for (size_t t = 0; t < eg_node_len(tos); t++) {
				const struct eg_node *to = tos->v[t];
				const char *op = eg_node_str(to, "operation");
				bool upsert = !op || strcmp(op, "UPSERT") == 0;
				size_t o3 = eg_rctx_push(&c, ".tagOverrides[%s]", tos->k[t]->s);

				if (!*tos->k[t]->s)
					eg_rerr(&c, tos->k[t], NULL, "tagOverrides.name may not be empty");
				if (upsert && !nonempty(to, "value"))
					eg_rerr(&c, to, NULL,
						"tagOverrides.value must be set when operation is UPSERT");
				if (!upsert && nonempty(to, "value"))
					eg_rerr(&c, eg_node_get(to, "value"), "value",
						"tagOverrides.value may only be set when operation is UPSERT");
				eg_rctx_pop(&c, o3);
			}
			eg_rctx_pop(&c, o2);
		}
		eg_rctx_pop(&c, old);
	}
}

/* ===================================================================================
 * AuthorizationPolicy
 * =================================================================================== */

/* security.ValidateIPs */
static void ip_list(struct eg_rctx *c, const struct eg_node *obj, const char *field)
{
	const struct eg_node *l = eg_node_get(obj, field);

	for (size_t i = 0; i < eg_node_len(l); i++) {
		const char *s = l->v[i]->s;
		size_t old = eg_rctx_push(c, ".%s[%zu]", field, i);

		if (strchr(s, '/') ? !eg_is_cidr(s) : !eg_is_ip(s))
			eg_rerr(c, l->v[i], NULL, strchr(s, '/') ? "bad CIDR range (%s)" : "bad IP address (%s)",
				s);
		eg_rctx_pop(c, old);
	}
}

static bool port_ok(const char *s)
{
	char *end = NULL;
	long v;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return false;
	v = strtol(s, &end, 10);
	return v >= 0 && v <= 65535;
}

/* security.ValidatePorts */
static void port_list(struct eg_rctx *c, const struct eg_node *obj, const char *field)
{
	const struct eg_node *l = eg_node_get(obj, field);

	for (size_t i = 0; i < eg_node_len(l); i++) {
		size_t old = eg_rctx_push(c, ".%s[%zu]", field, i);

		if (!port_ok(l->v[i]->s))
			eg_rerr(c, l->v[i], NULL, "bad port (%s)", l->v[i]->s);
		eg_rctx_pop(c, old);
	}
}

/* security.CheckEmptyValues */
static void no_empty_values(struct eg_rctx *c, const struct eg_node *obj, const char *field,
			    const char *key)
{
	const struct eg_node *l = eg_node_get(obj, field);

	for (size_t i = 0; i < eg_node_len(l); i++) {
		if (!*l->v[i]->s) {
			size_t old = eg_rctx_push(c, ".%s[%zu]", field, i);

			eg_rerr(c, l->v[i], NULL, "empty value not allowed, found in %s", key);
			eg_rctx_pop(c, old);
			return;
		}
	}
}

static const char *const source_fields[] = {
	"principals",	    "notPrincipals",	 "requestPrincipals", "notRequestPrincipals",
	"namespaces",	    "notNamespaces",	 "ipBlocks",	      "notIpBlocks",
	"remoteIpBlocks",   "notRemoteIpBlocks", "serviceAccounts",   "notServiceAccounts",
};
static const char *const source_keys[] = {
	"Principals",	  "NotPrincipals",     "RequestPrincipals", "NotRequestPrincipals",
	"Namespaces",	  "NotNamespaces",     "IpBlocks",	    "NotIpBlocks",
	"RemoteIpBlocks", "NotRemoteIpBlocks", "ServiceAccounts",   "NotServiceAccounts",
};
static const char *const op_fields[] = { "hosts",   "notHosts",	  "ports", "notPorts",
					 "methods", "notMethods", "paths", "notPaths" };
static const char *const op_keys[] = { "Hosts",	  "NotHosts",	"Ports", "NotPorts",
				       "Methods", "NotMethods", "Paths", "NotPaths" };

static bool map_key_ok(const char *key)
{
	const char *open = strchr(key, '[');
	size_t n = strlen(key);

	return n && key[n - 1] == ']' && open && open > key && (size_t)(open - key) < n - 2;
}

/* security.ValidateAttribute: the `when` keys Istio knows */
static const char *attribute_error(const char *key, const struct eg_node *values, char *buf,
				   size_t len)
{
	static const char *const plain[] = {
		"source.namespace",	  "source.principal",	    "request.auth.principal",
		"request.auth.audiences", "request.auth.presenter", "connection.sni",
		"source.serviceAccount",  NULL,
	};
	static const char *const ips[] = { "source.ip", "remote.ip", "destination.ip", NULL };

	for (const char *const *p = plain; *p; p++)
		if (strcmp(key, *p) == 0)
			return NULL;
	for (const char *const *p = ips; *p; p++) {
		if (strcmp(key, *p) != 0)
			continue;
		for (size_t i = 0; i < eg_node_len(values); i++) {
			const char *s = values->v[i]->s;

			if (strchr(s, '/') ? !eg_is_cidr(s) : !eg_is_ip(s)) {
				snprintf(buf, len, strchr(s, '/') ? "bad CIDR range (%s)" : "bad IP address (%s)",
					 s);
				return buf;
			}
		}
		return NULL;
	}
	if (strcmp(key, "destination.port") == 0) {
		for (size_t i = 0; i < eg_node_len(values); i++) {
			if (!port_ok(values->v[i]->s)) {
				snprintf(buf, len, "bad port (%s)", values->v[i]->s);
				return buf;
			}
		}
		return NULL;
	}
	if (strncmp(key, "request.headers[", 16) == 0 || strncmp(key, "request.auth.claims[", 20) == 0 ||
	    strncmp(key, "experimental.envoy.filters.", 27) == 0) {
		if (map_key_ok(key))
			return NULL;
		snprintf(buf, len, "bad key (%s): should have format a[b]", key);
		return buf;
	}
	snprintf(buf, len, "unknown attribute (%s)", key);
	return buf;
}

static void authz_rule(struct eg_rctx *c, const struct eg_node *rule, size_t ri, bool custom)
{
	const struct eg_node *from = eg_node_get(rule, "from");
	const struct eg_node *to = eg_node_get(rule, "to");
	const struct eg_node *when = eg_node_get(rule, "when");
	char buf[512];

	if (from && !from->n)
		eg_rerr(c, from, "from", "`from` must not be empty, found at rule %zu", ri);
	for (size_t i = 0; i < eg_node_len(from); i++) {
		const struct eg_node *src = eg_node_get(from->v[i], "source");
		bool any = false;
		size_t old = eg_rctx_push(c, ".from[%zu]", i);

		if (!src) {
			eg_rerr(c, from->v[i], "source", "`from.source` must not be nil, found at rule %zu",
				ri);
			eg_rctx_pop(c, old);
			continue;
		}
		eg_rctx_push(c, ".source");
		for (size_t k = 0; k < EG_ARRAY_SIZE(source_fields); k++)
			any = any || eg_node_len(eg_node_get(src, source_fields[k]));
		if (!any)
			eg_rerr(c, src, NULL, "`from.source` must not be empty, found at rule %zu", ri);
		ip_list(c, src, "ipBlocks");
		ip_list(c, src, "notIpBlocks");
		ip_list(c, src, "remoteIpBlocks");
		ip_list(c, src, "notRemoteIpBlocks");
		for (size_t k = 0; k < EG_ARRAY_SIZE(source_fields); k++)
			no_empty_values(c, src, source_fields[k], source_keys[k]);
		if ((eg_node_len(eg_node_get(src, "serviceAccounts")) ||
		     eg_node_len(eg_node_get(src, "notServiceAccounts"))) &&
		    (eg_node_len(eg_node_get(src, "principals")) ||
		     eg_node_len(eg_node_get(src, "notPrincipals")) ||
		     eg_node_len(eg_node_get(src, "namespaces")) ||
		     eg_node_len(eg_node_get(src, "notNamespaces"))))
			eg_rerr(c, src, NULL,
				"cannot set serviceAccounts with namespaces or principals, found at rule %zu",
				ri);
		if (custom) {
			static const char *const unsupported[] = { "namespaces", "notNamespaces",
								   "principals", "notPrincipals",
								   "requestPrincipals",
								   "notRequestPrincipals" };
			static const char *const names[] = { "From.Namespaces", "From.NotNamespaces",
							     "From.Principals", "From.NotPrincipals",
							     "From.RequestPrincipals",
							     "From.NotRequestPrincipals" };

			for (size_t k = 0; k < EG_ARRAY_SIZE(unsupported); k++)
				if (eg_node_len(eg_node_get(src, unsupported[k])))
					eg_rerr(c, eg_node_get(src, unsupported[k]), unsupported[k],
						"%s is currently not supported with CUSTOM action", names[k]);
		}
		eg_rctx_pop(c, old);
	}
	if (to && !to->n)
		eg_rerr(c, to, "to", "`to` must not be empty, found at rule %zu", ri);
	for (size_t i = 0; i < eg_node_len(to); i++) {
		const struct eg_node *op = eg_node_get(to->v[i], "operation");
		bool any = false;
		size_t old = eg_rctx_push(c, ".to[%zu]", i);

		if (!op) {
			eg_rerr(c, to->v[i], "operation",
				"`to.operation` must not be nil, found at rule %zu", ri);
			eg_rctx_pop(c, old);
			continue;
		}
		eg_rctx_push(c, ".operation");
		for (size_t k = 0; k < EG_ARRAY_SIZE(op_fields); k++)
			any = any || eg_node_len(eg_node_get(op, op_fields[k]));
		if (!any)
			eg_rerr(c, op, NULL, "`to.operation` must not be empty, found at rule %zu", ri);
		port_list(c, op, "ports");
		port_list(c, op, "notPorts");
		for (size_t k = 0; k < EG_ARRAY_SIZE(op_fields); k++)
			no_empty_values(c, op, op_fields[k], op_keys[k]);
		eg_rctx_pop(c, old);
	}
	for (size_t i = 0; i < eg_node_len(when); i++) {
		const struct eg_node *w = when->v[i];
		const char *key = eg_node_str(w, "key");
		const struct eg_node *vals = eg_node_get(w, "values");
		const struct eg_node *nvals = eg_node_get(w, "notValues");
		size_t old = eg_rctx_push(c, ".when[%zu]", i);

		if (!key || !*key) {
			eg_rerr(c, w, "key", "`key` must not be empty");
		} else if (!eg_node_len(vals) && !eg_node_len(nvals)) {
			eg_rerr(c, w, NULL, "at least one of `values` or `notValues` must be set for key %s",
				key);
		} else {
			if (attribute_error(key, vals, buf, sizeof(buf)))
				eg_rerr(c, eg_node_get(w, "key"), "key", "invalid `value` for `key` %s: %s",
					key, buf);
			else if (eg_node_len(nvals) && attribute_error(key, nvals, buf, sizeof(buf)))
				eg_rerr(c, eg_node_get(w, "key"), "key",
					"invalid `notValue` for `key` %s: %s", key, buf);
		}
		if (custom && key &&
		    (strcmp(key, "source.namespace") == 0 || strcmp(key, "source.principal") == 0 ||
		     strncmp(key, "request.auth.", 13) == 0))
			eg_rerr(c, eg_node_get(w, "key"), "key",
				"%s is currently not supported with CUSTOM action", key);
		eg_rctx_pop(c, old);
	}
}

void eg_rules_authorizationpolicy(const struct eg_resource *r, struct eg_diag *d)
{
	const struct eg_node *spec = eg_node_get(r->root, "spec");
	const struct eg_node *rules = eg_node_get(spec, "rules");
	const struct eg_node *provider = eg_node_get(spec, "provider");
	const char *action = eg_node_str(spec, "action");
	bool custom = action && strcmp(action, "CUSTOM") == 0;
	struct eg_rctx c;

	if (!action)
		action = "ALLOW";
	eg_rctx_init(&c, r, d);
	eg_rctx_push(&c, "spec");
	one_selector(&c, spec);
	target_refs(&c, spec, "|Gateway|GatewayClass|Service|ServiceEntry|");
	/* "rules: []" says as little as no rules at all */
	if (custom) {
		if (!eg_node_len(rules))
			eg_rerr(&c, rules ? rules : spec, "rules",
				"CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request");
		else if (!nonempty(provider, "name"))
			eg_rerr(&c, provider ? provider : spec, "provider.name",
				"`provider.name` must not be empty");
	}
	if (provider && !custom)
		eg_rerr(&c, provider, "provider",
			"`provider` must not be with non CUSTOM action, found %s", action);
	if (strcmp(action, "DENY") == 0 && !eg_node_len(rules))
		eg_rerr(&c, rules ? rules : spec, "rules",
			"DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request");
	for (size_t i = 0; i < eg_node_len(rules); i++) {
		size_t old = eg_rctx_push(&c, ".rules[%zu]", i);

		authz_rule(&c, rules->v[i], i, custom);
		eg_rctx_pop(&c, old);
	}
}
