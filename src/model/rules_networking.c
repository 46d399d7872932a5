/* src/model/rules_networking.c: Istio's webhook rules (pkg/config/validation) for
 * ServiceEntry, Gateway, VirtualService, DestinationRule and Sidecar, with Istio's messages
 * where SPEC.md quotes them. They run on a schema-checked tree: every scalar has its type. */
#include <stdlib.h>

#include "model/kinds.h"

static const char *str(const struct eg_node *obj, const char *key)
{
	return eg_node_str(obj, key);
}

static bool nonempty(const struct eg_node *obj, const char *key)
{
	const char *s = eg_node_str(obj, key);

	return s && *s;
}

/* The node to point at: the field when present, else its parent. */
static const struct eg_node *at(const struct eg_node *obj, const char *key)
{
	const struct eg_node *n = eg_node_get(obj, key);

	return n ? n : obj;
}

/* "host must be of form namespace/dnsName" (validateNamespaceSlashWildcardHostname) */
static void ns_slash_host(struct eg_rctx *c, const struct eg_node *n, bool gateway)
{
	const char *s = n->s, *slash = strchr(s, '/');
	char why[768], q[300], ns[300];
	size_t l;

	if (!slash) {
		if (!gateway)
			eg_rerr(c, n, NULL, "host must be of form namespace/dnsName");
		else if (eg_istio_wildcard_domain(s, why, sizeof(why)))
			eg_rerr(c, n, NULL, "%s", why);
		return;
	}
	l = EG_MIN((size_t)(slash - s), sizeof(ns) - 1);
	memcpy(ns, s, l);
	ns[l] = '\0';
	if (!ns[0] || !slash[1])
		eg_rerr(c, n, NULL, "config namespace and dnsName in host entry cannot be empty");
	if (strcmp(ns, "*") != 0 && strcmp(ns, ".") != 0 && (gateway || strcmp(ns, "~") != 0) &&
	    !eg_istio_dns_label(ns))
		eg_rerr(c, n, NULL, "invalid namespace value %s in %s", eg_goq(ns, q, sizeof(q)),
			gateway ? "gateway" : "sidecar");
	if (eg_istio_wildcard_domain(slash + 1, why, sizeof(why)))
		eg_rerr(c, n, NULL, "%s", why);
}

/* Istio's port names are DNS-1123 labels (validatePortName) */
static void port_name(struct eg_rctx *c, const struct eg_node *port, const char *field)
{
	const struct eg_node *n = eg_node_get(port, field);

	if (n && n->s && !eg_istio_dns_label(n->s))
		eg_rerr(c, n, field, "invalid port name: %s", n->s);
}

/* validateProtocol: "" means protocol sniffing */
static void port_protocol(struct eg_rctx *c, const struct eg_node *port)
{
	const struct eg_node *n = eg_node_get(port, "protocol");

	if (n && n->s && *n->s && eg_protocol_parse(n->s) == EG_PROTO_UNSUPPORTED)
		eg_rerr(c, n, "protocol", "unsupported protocol: %s", n->s);
}

static void ip_address(struct eg_rctx *c, const struct eg_node *n, const char *field)
{
	char q[300];

	if (n && n->s && !eg_is_ip(n->s))
		eg_rerr(c, n, field, "%s is not a valid IP", eg_goq(n->s, q, sizeof(q)));
}

/* ===================================================================================
 * ServiceEntry (ValidateServiceEntry)
 * =================================================================================== */

static const struct eg_node *find_port(const struct eg_node *ports, const char *name)
{
	for (size_t i = 0; i < eg_node_len(ports); i++) {
		const char *pn = str(ports->v[i], "name");

		if (pn && strcmp(pn, name) == 0)
			return ports->v[i];
	}
	return NULL;
}

static void se_endpoint_ports(struct eg_rctx *c, const struct eg_node *ep,
			      const struct eg_node *ports)
{
	const struct eg_node *m = eg_node_get(ep, "ports");

	for (size_t k = 0; k < eg_node_len(m); k++) {
		size_t old = eg_rctx_push(c, ".ports[%s]", m->k[k]->s);

		if (!find_port(ports, m->k[k]->s))
			eg_rerr(c, m->k[k], NULL, "endpoint port %s is not defined by the service entry",
				m->k[k]->s);
		if (!eg_istio_dns_label(m->k[k]->s))
			eg_rerr(c, m->k[k], NULL, "invalid port name: %s", m->k[k]->s);
		eg_rctx_pop(c, old);
	}
}

void eg_rules_serviceentry(const struct eg_resource *r, struct eg_diag *d)
{
	const struct eg_node *spec = eg_node_get(r->root, "spec");
	const struct eg_node *hosts = eg_node_get(spec, "hosts");
	const struct eg_node *addrs = eg_node_get(spec, "addresses");
	const struct eg_node *ports = eg_node_get(spec, "ports");
	const struct eg_node *eps = eg_node_get(spec, "endpoints");
	const struct eg_node *wsel = eg_node_get(spec, "workloadSelector");
	const struct eg_node *res_n = eg_node_get(spec, "resolution");
	const char *res = res_n ? res_n->s : "NONE";
	const char *loc = str(spec, "location");
	bool cidr = false;
	struct eg_rctx c;
	char why[768], q[300];

	eg_rctx_init(&c, r, d);
	eg_rctx_push(&c, "spec");
	if (wsel && eps)
		eg_rerr(&c, wsel, "workloadSelector",
			"only one of WorkloadSelector or Endpoints is allowed in Service Entry");
	if (!eg_node_len(hosts))
		eg_rerr(&c, hosts ? hosts : spec, "hosts", "service entry must have at least one host");
	for (size_t i = 0; i < eg_node_len(hosts); i++) {
		const struct eg_node *h = hosts->v[i];
		size_t old = eg_rctx_push(&c, ".hosts[%zu]", i);

		if (strcmp(h->s, "*") == 0) {
			eg_rerr(&c, h, NULL, "invalid host %s", h->s);
		} else {
			if (eg_istio_wildcard_domain(h->s, why, sizeof(why)))
				eg_rerr(&c, h, NULL, "%s", why);
			if (eg_istio_partial_wildcard(h->s, why, sizeof(why)))
				eg_rwarn(&c, h, NULL, "%s", why);
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(hosts->v[j]->s, h->s) == 0)
				eg_rerr(&c, h, NULL, "duplicate host %s", h->s);
		eg_rctx_pop(&c, old);
	}
	for (size_t i = 0; i < eg_node_len(addrs); i++) {
		const struct eg_node *a = addrs->v[i];
		size_t old = eg_rctx_push(&c, ".addresses[%zu]", i);

		if (strchr(a->s, '/')) {
			cidr = true;
			if (!eg_is_cidr(a->s))
				eg_rerr(&c, a, NULL, "%s is not a valid CIDR block", eg_goq(a->s, q, sizeof(q)));
		} else if (!eg_is_ip(a->s)) {
			eg_rerr(&c, a, NULL, "%s is not a valid IP", eg_goq(a->s, q, sizeof(q)));
		}
		eg_rctx_pop(&c, old);
	}
	for (size_t i = 0; i < eg_node_len(ports); i++) {
		const struct eg_node *p = ports->v[i];
		const char *name = str(p, "name"), *proto = str(p, "protocol");
		int64_t num = eg_node_int(p, "number", 0);
		size_t old = eg_rctx_push(&c, ".ports[%zu]", i);

		for (size_t j = 0; j < i; j++) {
			const char *other = str(ports->v[j], "name");

			if (name && other && strcmp(name, other) == 0) {
				eg_rerr(&c, at(p, "name"), "name",
					"service entry port name %s already defined",
					eg_goq(name, q, sizeof(q)));
				break;
			}
		}
		for (size_t j = 0; j < i; j++) {
			if (eg_node_int(ports->v[j], "number", -1) == num) {
				eg_rerr(&c, at(p, "number"), "number",
					"service entry port %lld already defined", (long long)num);
				break;
			}
		}
		port_name(&c, p, "name");
		port_protocol(&c, p);
		if (!eg_node_len(addrs) && (!proto || !*proto || strcasecmp(proto, "TCP") == 0))
			eg_rwarn(&c, p, NULL,
				 "addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled");
		eg_rctx_pop(&c, old);
	}

	if (strcmp(res, "NONE") == 0) {
		if (eps)
			eg_rerr(&c, eps, "endpoints",
				"no endpoints should be provided for resolution type none");
		if (wsel)
			eg_rwarn(&c, wsel, "workloadSelector",
				 "workloadSelector should not be set when resolution mode is NONE");
	} else if (strcmp(res, "STATIC") == 0) {
		for (size_t i = 0; i < eg_node_len(eps); i++) {
			const struct eg_node *ep = eps->v[i];
			const char *addr = str(ep, "address");
			size_t old = eg_rctx_push(&c, ".endpoints[%zu]", i);

			if (!addr || (!eg_is_ip(addr) && strncmp(addr, "unix://", 7) != 0))
				eg_rerr(&c, at(ep, "address"), "address",
					"endpoint address %s is not a valid IP address",
					eg_goq(addr ? addr : "", q, sizeof(q)));
			se_endpoint_ports(&c, ep, ports);
			eg_rctx_pop(&c, old);
		}
	} else if (strcmp(res, "DNS") == 0 || strcmp(res, "DNS_ROUND_ROBIN") == 0) {
		if (!eg_node_len(eps)) {
			for (size_t i = 0; i < eg_node_len(hosts); i++) {
				size_t old = eg_rctx_push(&c, ".hosts[%zu]", i);

				if (strcmp(hosts->v[i]->s, "*") != 0 &&
				    eg_istio_fqdn(hosts->v[i]->s, why, sizeof(why)))
					eg_rerr(&c, hosts->v[i], NULL,
						"hosts must be FQDN if no endpoints are provided for resolution mode %s",
						res);
				eg_rctx_pop(&c, old);
			}
		}
		if (strcmp(res, "DNS_ROUND_ROBIN") == 0 && eg_node_len(eps) > 1)
			eg_rerr(&c, eps, "endpoints",
				"there must only be 0 or 1 endpoint for resolution mode %s", res);
		for (size_t i = 0; i < eg_node_len(eps); i++) {
			const struct eg_node *ep = eps->v[i];
			const char *addr = str(ep, "address");
			size_t old = eg_rctx_push(&c, ".endpoints[%zu]", i);

			if (!addr || (!eg_is_ip(addr) && eg_istio_fqdn(addr, why, sizeof(why))))
				eg_rerr(&c, at(ep, "address"), "address",
					"endpoint address %s is not a valid FQDN or an IP address",
					eg_goq(addr ? addr : "", q, sizeof(q)));
			se_endpoint_ports(&c, ep, ports);
			eg_rctx_pop(&c, old);
		}
		if (eg_node_len(addrs) && eg_node_len(hosts) > 1) {
			for (size_t i = 0; i < eg_node_len(ports); i++) {
				if (eg_protocol_is_tcp(eg_protocol_parse(str(ports->v[i], "protocol")))) {
					eg_rwarn(&c, hosts, "hosts",
						 "service entry can not have more than one host specified simultaneously with address and tcp port");
					break;
				}
			}
		}
	} else if (strcmp(res, "DYNAMIC_DNS") == 0) {
		if (eps)
			eg_rerr(&c, eps, "endpoints",
				"no endpoints should be provided for resolution type DYNAMIC_DNS");
		if (wsel)
			eg_rerr(&c, wsel, "workloadSelector",
				"workloadSelector should not be set when resolution mode is DYNAMIC_DNS");
		if (eg_node_len(addrs))
			eg_rerr(&c, addrs, "addresses",
				"addresses must not be set when resolution mode is DYNAMIC_DNS");
		if (loc && strcmp(loc, "MESH_INTERNAL") == 0)
			eg_rerr(&c, eg_node_get(spec, "location"), "location",
				"DYNAMIC_DNS resolution is only supported for MESH_EXTERNAL services");
		for (size_t i = 0; i < eg_node_len(hosts); i++) {
			size_t old = eg_rctx_push(&c, ".hosts[%zu]", i);

			if (strncmp(hosts->v[i]->s, "*.", 2) != 0)
				eg_rerr(&c, hosts->v[i], NULL,
					"DYNAMIC_DNS resolution requires wildcard hosts");
			eg_rctx_pop(&c, old);
		}
	}
	if (cidr && strcmp(res, "NONE") != 0 && strcmp(res, "STATIC") != 0)
		eg_rerr(&c, addrs, "addresses",
			"CIDR addresses are allowed only for NONE/STATIC resolution types");
	/* several hosts on one plain TCP port cannot be told apart (only NONE ignores hosts) */
	if (strcmp(res, "NONE") != 0 && eg_node_len(hosts) > 1) {
		for (size_t i = 0; i < eg_node_len(ports); i++) {
			enum eg_protocol p = eg_protocol_parse(str(ports->v[i], "protocol"));

			if (!eg_protocol_is_http(p) && !eg_protocol_is_tls(p)) {
				eg_rerr(&c, ports, "ports",
					"multiple hosts provided with non-HTTP, non-TLS ports");
				break;
			}
		}
	}
	eg_rules_export_to(&c, spec, true, false);
}

/* ===================================================================================
 * Gateway (ValidateGateway)
 * =================================================================================== */

static bool passthrough_tls(const struct eg_node *tls)
{
	const char *mode = str(tls, "mode");

	return !mode || strcmp(mode, "PASSTHROUGH") == 0 || strcmp(mode, "AUTO_PASSTHROUGH") == 0;
}

static void gateway_server(struct eg_rctx *c, const struct eg_node *s)
{
	const struct eg_node *hosts = eg_node_get(s, "hosts");
	const struct eg_node *port = eg_node_get(s, "port");
	const struct eg_node *tls = eg_node_get(s, "tls");
	const char *bind = str(s, "bind");
	bool port_err = false;

	if (!eg_node_len(hosts))
		eg_rerr(c, at(s, "hosts"), "hosts", "server config must contain at least one host");
	for (size_t i = 0; i < eg_node_len(hosts); i++) {
		size_t old = eg_rctx_push(c, ".hosts[%zu]", i);

		ns_slash_host(c, hosts->v[i], true);
		eg_rctx_pop(c, old);
	}
	if (!port) {
		eg_rerr(c, s, "port", "port is required");
		port_err = true;
	} else {
		const char *proto = str(port, "protocol");
		size_t old = eg_rctx_push(c, ".port");
		char q[300];

		if (eg_protocol_parse(proto) == EG_PROTO_UNSUPPORTED) {
			eg_rerr(c, at(port, "protocol"), "protocol",
				"invalid protocol %s, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP",
				eg_goq(proto ? proto : "", q, sizeof(q)));
			port_err = true;
		}
		if (!eg_node_int(port, "number", 0) && !(bind && strncmp(bind, "unix://", 7) == 0)) {
			eg_rerr(c, at(port, "number"), "number",
				"port number 0 must be in the range 1..65535");
			port_err = true;
		}
		if (eg_node_get(port, "targetPort")) {
			eg_rerr(c, eg_node_get(port, "targetPort"), "targetPort",
				"targetPort has no impact on Gateways");
			port_err = true;
		}
		if (!nonempty(port, "name")) {
			eg_rerr(c, at(port, "name"), "name", "port name must be set");
			port_err = true;
		}
		eg_rctx_pop(c, old);
	}
	if (bind && strncmp(bind, "unix://", 7) == 0) {
		if (eg_node_int(port, "number", 0))
			eg_rerr(c, eg_node_get(s, "bind"), "bind",
				"port number must be 0 for unix domain socket");
		if (!bind[7])
			eg_rerr(c, eg_node_get(s, "bind"), "bind",
				"unix domain socket address must not be empty");
	} else if (bind && *bind) {
		ip_address(c, eg_node_get(s, "bind"), "bind");
	}
	if (tls) {
		size_t old = eg_rctx_push(c, ".tls");

		eg_rules_server_tls(c, tls);
		eg_rctx_pop(c, old);
	}
	if (!port_err) {
		enum eg_protocol p = eg_protocol_parse(str(port, "protocol"));

		if (eg_protocol_is_tls(p) && !tls) {
			eg_rerr(c, s, "tls", "server must have TLS settings for HTTPS/TLS protocols");
		} else if (!eg_protocol_is_tls(p) && tls) {
			/* plain HTTP may carry httpsRedirect, nothing that terminates TLS */
			if (eg_protocol_is_http(p)) {
				if (!passthrough_tls(tls) || nonempty(tls, "caCertificates") ||
				    nonempty(tls, "privateKey") || nonempty(tls, "serverCertificate"))
					eg_rerr(c, tls, "tls",
						"server cannot have TLS settings for plain text HTTP ports");
			} else {
				eg_rerr(c, tls, "tls",
					"server cannot have TLS settings for non HTTPS/TLS ports");
			}
		}
	}
}

void eg_rules_gateway(const struct eg_resource *r, struct eg_diag *d)
{
	const struct eg_node *spec = eg_node_get(r->root, "spec");
	const struct eg_node *servers = eg_node_get(spec, "servers");
	struct eg_rctx c;

	eg_rctx_init(&c, r, d);
	eg_rctx_push(&c, "spec");
	if (!eg_node_len(servers))
		eg_rerr(&c, servers ? servers : spec, "servers", "gateway must have at least one server");
	for (size_t i = 0; i < eg_node_len(servers); i++) {
		const struct eg_node *s = servers->v[i];
		const char *pname = eg_node_str(s, "port.name");
		const char *sname = str(s, "name");
		size_t old = eg_rctx_push(&c, ".servers[%zu]", i);

		gateway_server(&c, s);
		for (size_t j = 0; pname && *pname && j < i; j++) {
			const char *other = eg_node_str(servers->v[j], "port.name");

			if (other && strcmp(other, pname) == 0) {
				eg_rerr(&c, eg_node_path(s, "port.name"), "port.name",
					"port names in servers must be unique: duplicate name %s", pname);
				break;
			}
		}
		for (size_t j = 0; sname && *sname && j < i; j++) {
			const char *other = str(servers->v[j], "name");

			if (other && strcmp(other, sname) == 0) {
				eg_rerr(&c, eg_node_get(s, "name"), "name",
					"server names must be unique: duplicate name %s", sname);
				break;
			}
		}
		if (eg_node_get(s, "port") &&
		    !eg_protocol_is_http(eg_protocol_parse(eg_node_str(s, "port.protocol"))) &&
		    eg_node_bool(s, "tls.httpsRedirect", false))
			eg_rwarn(&c, eg_node_path(s, "tls.httpsRedirect"), "tls.httpsRedirect",
				 "tls.httpsRedirect should only be used with http servers");
		eg_rctx_pop(&c, old);
	}
}

/* ===================================================================================
 * VirtualService (ValidateVirtualService)
 * =================================================================================== */

struct vs {
	struct eg_rctx *c;
	const struct eg_node *spec;
	const struct eg_node *hosts;
	bool delegate;
	bool applies_mesh;
	bool applies_gateway;
};

/* validateGatewayNames */
static void gateway_names(struct eg_rctx *c, const struct eg_node *obj)
{
	const struct eg_node *list = eg_node_get(obj, "gateways");
	char why[768], q1[300], q2[300];

	for (size_t i = 0; i < eg_node_len(list); i++) {
		const struct eg_node *g = list->v[i];
		const char *slash = strchr(g->s, '/');
		size_t old = eg_rctx_push(c, ".gateways[%zu]", i);

		if (!slash) {
			const char *dot = strchr(g->s, '.');

			if (dot) {
				/* legacy "name.namespace[.svc...]" */
				const char *dot2 = strchr(dot + 1, '.');
				char rec[300];

				snprintf(rec, sizeof(rec), "%.*s/%.*s", (int)EG_MIN(dot - g->s, 140), g->s,
					 (int)EG_MIN(dot2 ? dot2 - dot - 1 : (long)strlen(dot + 1), 140),
					 dot + 1);
				eg_rwarn(c, g, NULL,
					 "using legacy gatewayName format %s; prefer the <namespace>/<name> format: %s",
					 eg_goq(g->s, q1, sizeof(q1)), eg_goq(rec, q2, sizeof(q2)));
			}
			if (eg_istio_fqdn(g->s, why, sizeof(why)))
				eg_rerr(c, g, NULL, "%s", why);
		} else {
			char ns[300];
			size_t l = EG_MIN((size_t)(slash - g->s), sizeof(ns) - 1);

			memcpy(ns, g->s, l);
			ns[l] = '\0';
			if (!ns[0] || !slash[1])
				eg_rerr(c, g, NULL, "config namespace and gateway name cannot be empty");
			if (!eg_istio_dns_label(ns))
				eg_rerr(c, g, NULL, "invalid value for namespace: %s",
					eg_goq(ns, q1, sizeof(q1)));
			if (!eg_istio_dns_label(slash + 1))
				eg_rerr(c, g, NULL, "invalid value for gateway name: %s",
					eg_goq(slash + 1, q1, sizeof(q1)));
		}
		eg_rctx_pop(c, old);
	}
}

/* StringMatch: exactly one of exact, prefix, regex; the regex in RE2 syntax */
static void string_match(struct eg_rctx *c, const struct eg_node *sm, const char *where,
			 bool allow_empty_prefix, bool allow_prefix)
{
	static const char *const kinds[] = { "exact", "prefix", "regex" };
	unsigned set = 0;
	char why[512];

	if (!sm)
		return;
	for (size_t i = 0; i < EG_ARRAY_SIZE(kinds); i++)
		set += eg_node_get(sm, kinds[i]) != NULL;
	/* an empty header match tests presence; elsewhere a match must say how */
	if (set == 0 && (strcmp(where, "headers") == 0 || strcmp(where, "withoutHeaders") == 0))
		return;
	if (set != 1) {
		eg_rerr(c, sm, NULL, "\"%s\": exactly one of exact, prefix or regex must be set", where);
		return;
	}
	if (eg_node_get(sm, "prefix")) {
		if (!allow_prefix)
			eg_rerr(c, eg_node_get(sm, "prefix"), "prefix",
				"\"%s\": only exact and regex matches are supported", where);
		else if (!allow_empty_prefix && !nonempty(sm, "prefix"))
			eg_rerr(c, eg_node_get(sm, "prefix"), "prefix",
				"\"%s\": prefix string match should not be empty", where);
	}
	if (eg_node_get(sm, "regex")) {
		const char *re = str(sm, "regex");

		if (!re || !*re)
			eg_rerr(c, eg_node_get(sm, "regex"), "regex",
				"\"%s\": regex string match should not be empty", where);
		else if (eg_re2_check(re, why, sizeof(why)))
			eg_rerr(c, eg_node_get(sm, "regex"), "regex",
				"\"%s\": %s; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)",
				where, why);
	}
}

static bool header_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", ch)))
			return false;
	}
	return true;
}

static bool is_jwt_claim(const char *s)
{
	return strncmp(s, "@request.auth.claims.", 21) == 0 ||
	       strncmp(s, "@request.auth.claims[", 21) == 0;
}

/* header match keys: valid names, lowercase (Envoy matches lowercase names) */
static void header_matches(struct eg_rctx *c, const struct eg_node *match, const char *field)
{
	const struct eg_node *m = eg_node_get(match, field);

	for (size_t i = 0; i < eg_node_len(m); i++) {
		const char *name = m->k[i]->s;
		size_t old = eg_rctx_push(c, ".%s[%s]", field, name);

		if (!*name) {
			eg_rerr(c, m->k[i], NULL, "header name cannot be empty");
		} else if (!is_jwt_claim(name)) {
			bool lower = true;

			for (const char *p = name; *p; p++)
				lower = lower && !(*p >= 'A' && *p <= 'Z');
			if (!header_token(name))
				eg_rerr(c, m->k[i], NULL, "header name %s is not a valid header", name);
			else if (!lower)
				eg_rerr(c, m->k[i], NULL,
					"header name %s must be lowercase (write the name in lowercase letters)",
					name);
		}
		string_match(c, m->v[i], field, true, true);
		eg_rctx_pop(c, old);
	}
}

static void header_ops(struct eg_rctx *c, const struct eg_node *obj)
{
	static const char *const dirs[] = { "request", "response" };
	static const char *const ops[] = { "set", "add" };
	const struct eg_node *h = eg_node_get(obj, "headers");

	for (size_t i = 0; h && i < EG_ARRAY_SIZE(dirs); i++) {
		const struct eg_node *dir = eg_node_get(h, dirs[i]);
		const struct eg_node *rm = eg_node_get(dir, "remove");

		for (size_t j = 0; dir && j < EG_ARRAY_SIZE(ops); j++) {
			const struct eg_node *m = eg_node_get(dir, ops[j]);

			for (size_t k = 0; k < eg_node_len(m); k++) {
				const char *name = m->k[k]->s;
				size_t old = eg_rctx_push(c, ".headers.%s.%s[%s]", dirs[i], ops[j], name);

				/* ":authority" may be set (rewrite); other pseudo-headers may not */
				if (!header_token(name) && strcmp(name, ":authority") != 0)
					eg_rerr(c, m->k[k], NULL, "invalid header name: %s", name);
				eg_rctx_pop(c, old);
			}
		}
		for (size_t k = 0; k < eg_node_len(rm); k++) {
			size_t old = eg_rctx_push(c, ".headers.%s.remove[%zu]", dirs[i], k);

			if (!header_token(rm->v[k]->s))
				eg_rerr(c, rm->v[k], NULL, "invalid header name: %s", rm->v[k]->s);
			eg_rctx_pop(c, old);
		}
	}
}

static void source_namespace(struct eg_rctx *c, const struct eg_node *match)
{
	const struct eg_node *n = eg_node_get(match, "sourceNamespace");

	if (n && n->s && *n->s && !eg_istio_dns_label(n->s))
		eg_rerr(c, n, "sourceNamespace", "sourceNamespace match %s is not a valid label", n->s);
}

/* validateDestination */
static void destination(struct eg_rctx *c, const struct eg_node *dst, const char *field)
{
	const char *host = str(dst, "host");
	const struct eg_node *subset = eg_node_get(dst, "subset");
	char why[768];
	size_t old;

	if (!dst)
		return;
	old = eg_rctx_push(c, "%s%s", c->plen ? "." : "", field);
	if (host && strcmp(host, "*") == 0)
		eg_rerr(c, eg_node_get(dst, "host"), "host", "invalid destination host %s", host);
	else if (host && eg_istio_wildcard_domain(host, why, sizeof(why)))
		eg_rerr(c, eg_node_get(dst, "host"), "host", "%s", why);
	if (subset && (!subset->s || !*subset->s))
		eg_rerr(c, subset, "subset", "subset name cannot be empty");
	else if (subset && !eg_istio_dns_label(subset->s))
		eg_rerr(c, subset, "subset", "subset name is invalid: %s", subset->s);
	eg_rctx_pop(c, old);
}

/* route[] of HTTP, TLS and TCP routes: destinations and weights */
static void route_destinations(struct eg_rctx *c, const struct eg_node *rule, bool http)
{
	const struct eg_node *route = eg_node_get(rule, "route");
	int64_t total = 0;

	for (size_t i = 0; i < eg_node_len(route); i++) {
		const struct eg_node *rd = route->v[i];
		const struct eg_node *w = eg_node_get(rd, "weight");
		size_t old = eg_rctx_push(c, ".route[%zu]", i);

		destination(c, eg_node_get(rd, "destination"), "destination");
		if (w && w->i < 0)
			eg_rerr(c, w, "weight", "weight %lld < 0", (long long)w->i);
		if (http)
			header_ops(c, rd);
		total += w ? w->i : 0;
		eg_rctx_pop(c, old);
	}
	/* one destination gets all the traffic; several must say how to split it */
	if (eg_node_len(route) > 1 && total != 100)
		eg_rerr(c, route, "route", "total destination weight %lld != 100", (long long)total);
}

static bool is_http_method(const char *m)
{
	static const char *const methods[] = { "GET",	  "HEAD",    "POST",  "PUT",   "PATCH",
					       "DELETE", "OPTIONS", "CONNECT", "TRACE", NULL };

	for (const char *const *x = methods; *x; x++)
		if (strcmp(*x, m) == 0)
			return true;
	return false;
}

static void cors_policy(struct eg_rctx *c, const struct eg_node *cors)
{
	const struct eg_node *origins = eg_node_get(cors, "allowOrigins");
	const struct eg_node *methods = eg_node_get(cors, "allowMethods");
	static const char *const header_lists[] = { "allowHeaders", "exposeHeaders" };
	size_t old;

	if (!cors)
		return;
	old = eg_rctx_push(c, ".corsPolicy");
	for (size_t i = 0; i < eg_node_len(origins); i++) {
		size_t o2 = eg_rctx_push(c, ".allowOrigins[%zu]", i);

		string_match(c, origins->v[i], "allowOrigins", false, true);
		eg_rctx_pop(c, o2);
	}
	for (size_t i = 0; i < eg_node_len(methods); i++) {
		size_t o2 = eg_rctx_push(c, ".allowMethods[%zu]", i);

		if (!is_http_method(methods->v[i]->s))
			eg_rerr(c, methods->v[i], NULL, "%s is not a supported HTTP method",
				methods->v[i]->s);
		eg_rctx_pop(c, o2);
	}
	for (size_t h = 0; h < EG_ARRAY_SIZE(header_lists); h++) {
		const struct eg_node *l = eg_node_get(cors, header_lists[h]);

		for (size_t i = 0; i < eg_node_len(l); i++) {
			size_t o2 = eg_rctx_push(c, ".%s[%zu]", header_lists[h], i);

			if (!header_token(l->v[i]->s))
				eg_rerr(c, l->v[i], NULL, "invalid header name: %s", l->v[i]->s);
			eg_rctx_pop(c, o2);
		}
	}
	eg_rules_duration_ms(c, cors, "maxAge", true);
	eg_rctx_pop(c, old);
}

static void fault(struct eg_rctx *c, const struct eg_node *f)
{
	const struct eg_node *delay = eg_node_get(f, "delay");
	const struct eg_node *abort_ = eg_node_get(f, "abort");
	size_t old;

	if (!f)
		return;
	old = eg_rctx_push(c, ".fault");
	if (!delay && !abort_)
		eg_rerr(c, f, NULL, "HTTP fault injection must have an abort and/or a delay");
	if (delay) {
		unsigned set = !!eg_node_get(delay, "fixedDelay") + !!eg_node_get(delay, "exponentialDelay");

		if (eg_node_get(delay, "exponentialDelay"))
			eg_rerr(c, eg_node_get(delay, "exponentialDelay"), "delay.exponentialDelay",
				"exponentialDelay not supported yet");
		else if (set != 1)
			eg_rerr(c, delay, "delay", "a delay needs fixedDelay");
		{
			size_t o2 = eg_rctx_push(c, ".delay");

			eg_rules_duration_ms(c, delay, "fixedDelay", false);
			eg_rctx_pop(c, o2);
		}
	}
	if (abort_) {
		const struct eg_node *st = eg_node_get(abort_, "httpStatus");
		unsigned set = !!st + !!eg_node_get(abort_, "grpcStatus") +
			       !!eg_node_get(abort_, "http2Error");

		if (set != 1)
			eg_rerr(c, abort_, "abort",
				"exactly one of httpStatus, grpcStatus or http2Error must be set");
		if (st && (st->i < 200 || st->i > 599))
			eg_rerr(c, st, "abort.httpStatus", "invalid abort http status %lld",
				(long long)st->i);
	}
	eg_rctx_pop(c, old);
}

static bool retry_policy_ok(const char *p, size_t n)
{
	static const char *const policies[] = {
		"5xx",			"gateway-error",	"reset",	"connect-failure",
		"envoy-ratelimited",	"retriable-4xx",	"refused-stream", "retriable-status-codes",
		"retriable-headers",	"cancelled",		"deadline-exceeded", "internal",
		"resource-exhausted",	"unavailable",		"http3-post-connect-failure",
		"reset-before-request", NULL
	};
	bool digits = n > 0 && n <= 3;

	for (size_t i = 0; i < n; i++)
		digits = digits && p[i] >= '0' && p[i] <= '9';
	if (digits)
		return atoi(p) >= 100 && atoi(p) <= 599;
	for (const char *const *x = policies; *x; x++)
		if (strlen(*x) == n && strncmp(*x, p, n) == 0)
			return true;
	return false;
}

static void retries(struct eg_rctx *c, const struct eg_node *rt)
{
	const struct eg_node *attempts = eg_node_get(rt, "attempts");
	const struct eg_node *on = eg_node_get(rt, "retryOn");
	size_t old;

	if (!rt)
		return;
	old = eg_rctx_push(c, ".retries");
	if (attempts && attempts->i < 0)
		eg_rerr(c, attempts, "attempts", "attempts cannot be negative");
	eg_rules_duration_ms(c, rt, "perTryTimeout", false);
	if (on && on->s && *on->s) {
		const char *p = on->s;

		while (*p) {
			const char *comma = strchr(p, ',');
			size_t n = comma ? (size_t)(comma - p) : strlen(p);

			while (n && *p == ' ') {
				p++;
				n--;
			}
			while (n && p[n - 1] == ' ')
				n--;
			if (!retry_policy_ok(p, n))
				eg_rerr(c, on, "retryOn", "\"%.*s\" is not a valid retryOn policy",
					(int)EG_MIN(n, 100), p);
			if (!comma)
				break;
			p = comma + 1;
		}
	}
	eg_rctx_pop(c, old);
}

static void http_route(struct vs *v, const struct eg_node *rt)
{
	struct eg_rctx *c = v->c;
	const struct eg_node *matches = eg_node_get(rt, "match");
	const struct eg_node *route = eg_node_get(rt, "route");
	const struct eg_node *redirect = eg_node_get(rt, "redirect");
	const struct eg_node *direct = eg_node_get(rt, "directResponse");
	const struct eg_node *delegate = eg_node_get(rt, "delegate");
	const struct eg_node *rewrite = eg_node_get(rt, "rewrite");
	const struct eg_node *mirror = eg_node_get(rt, "mirror");
	const struct eg_node *mirrors = eg_node_get(rt, "mirrors");

	if (delegate) {
		if (v->delegate)
			eg_rerr(c, delegate, "delegate",
				"delegate virtual service cannot have a delegate route (only one level of delegation)");
		if (eg_node_len(route))
			eg_rerr(c, delegate, "delegate",
				"http route and delegate can not exist at the same time");
		if (redirect)
			eg_rerr(c, delegate, "delegate",
				"http redirect and delegate can not exist at the same time");
		if (!nonempty(delegate, "name"))
			eg_rerr(c, delegate, "delegate.name", "delegate name must not be empty");
	}
	/* validateHTTPRouteConflict */
	if (redirect) {
		if (eg_node_len(route))
			eg_rerr(c, redirect, "redirect", "HTTP route cannot contain both route and redirect");
		if (eg_node_get(rt, "fault"))
			eg_rerr(c, redirect, "redirect", "HTTP route cannot contain both fault and redirect");
		if (rewrite)
			eg_rerr(c, redirect, "redirect",
				"HTTP route rule cannot contain both rewrite and redirect");
		if (direct)
			eg_rerr(c, redirect, "redirect",
				"HTTP route cannot contain both redirect and directResponse");
	} else if (direct) {
		if (eg_node_len(route))
			eg_rerr(c, direct, "directResponse",
				"HTTP route cannot contain both route and directResponse");
		if (eg_node_get(rt, "fault"))
			eg_rerr(c, direct, "directResponse",
				"HTTP route cannot contain both fault and directResponse");
		if (rewrite)
			eg_rerr(c, direct, "directResponse",
				"HTTP route rule cannot contain both rewrite and directResponse");
	} else if (!eg_node_len(route) && !delegate) {
		eg_rerr(c, rt, NULL, "HTTP route, redirect or direct response is required");
	}
	for (size_t j = 0; j < eg_node_len(matches); j++) {
		const struct eg_node *m = matches->v[j];
		const struct eg_node *qp = eg_node_get(m, "queryParams");
		static const char *const sms[] = { "uri", "scheme", "method", "authority" };
		size_t old = eg_rctx_push(c, ".match[%zu]", j);

		header_matches(c, m, "headers");
		header_matches(c, m, "withoutHeaders");
		for (size_t k = 0; k < EG_ARRAY_SIZE(sms); k++) {
			size_t o2 = eg_rctx_push(c, ".%s", sms[k]);

			string_match(c, eg_node_get(m, sms[k]), sms[k], k == 0, true);
			eg_rctx_pop(c, o2);
		}
		for (size_t k = 0; k < eg_node_len(qp); k++) {
			size_t o2 = eg_rctx_push(c, ".queryParams[%s]", qp->k[k]->s);

			string_match(c, qp->v[k], "queryParams", true, false);
			eg_rctx_pop(c, o2);
		}
		if (eg_node_bool(m, "ignoreUriCase", false) && eg_node_path(m, "uri.regex"))
			eg_rwarn(c, eg_node_get(m, "ignoreUriCase"), "ignoreUriCase",
				 "ignoreUriCase applies to exact and prefix uri matches only");
		gateway_names(c, m);
		source_namespace(c, m);
		if (!v->applies_mesh &&
		    (eg_node_get(m, "sourceLabels") || eg_node_get(m, "sourceNamespace")))
			eg_rwarn(c, m, NULL,
				 "sourceLabels and sourceNamespace apply only to the mesh gateway, which this virtual service is not bound to");
		eg_rctx_pop(c, old);
	}
	header_ops(c, rt);
	cors_policy(c, eg_node_get(rt, "corsPolicy"));
	fault(c, eg_node_get(rt, "fault"));
	if (mirror && mirrors)
		eg_rerr(c, mirrors, "mirrors", "only one of mirror or mirrors may be set");
	destination(c, mirror, "mirror");
	for (size_t i = 0; i < eg_node_len(mirrors); i++) {
		size_t old = eg_rctx_push(c, ".mirrors[%zu]", i);

		destination(c, eg_node_get(mirrors->v[i], "destination"), "destination");
		eg_rctx_pop(c, old);
	}
	if (redirect && !nonempty(redirect, "uri") && !nonempty(redirect, "authority") &&
	    !eg_node_get(redirect, "port") && !eg_node_get(redirect, "derivePort") &&
	    !nonempty(redirect, "scheme"))
		eg_rerr(c, redirect, "redirect", "redirect must specify URI, authority, scheme, or port");
	if (redirect && eg_node_get(redirect, "port") && eg_node_get(redirect, "derivePort"))
		eg_rerr(c, redirect, "redirect", "only one of port or derivePort may be set");
	if (direct && eg_node_get(direct, "body") && eg_node_path(direct, "body.string") &&
	    eg_node_path(direct, "body.bytes"))
		eg_rerr(c, eg_node_get(direct, "body"), "directResponse.body",
			"only one of string or bytes may be set");
	retries(c, eg_node_get(rt, "retries"));
	if (rewrite) {
		if (eg_node_get(rewrite, "uri") && eg_node_get(rewrite, "uriRegexRewrite"))
			eg_rerr(c, rewrite, "rewrite",
				"rewrite may only contain one of URI or UriRegexRewrite");
		if (!eg_node_get(rewrite, "uri") && !eg_node_get(rewrite, "authority") &&
		    !eg_node_get(rewrite, "uriRegexRewrite"))
			eg_rerr(c, rewrite, "rewrite",
				"rewrite must specify URI, authority, or uriRegexRewrite");
		if (eg_node_path(rewrite, "uriRegexRewrite.match")) {
			char why[512];
			const char *re = eg_node_str(rewrite, "uriRegexRewrite.match");

			if (re && eg_re2_check(re, why, sizeof(why)))
				eg_rerr(c, eg_node_path(rewrite, "uriRegexRewrite.match"),
					"rewrite.uriRegexRewrite.match",
					"\"uriRegexRewrite.match\": %s; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)",
					why);
		}
	}
	route_destinations(c, rt, true);
	eg_rules_duration_ms(c, rt, "timeout", true);
}

static void tls_route(struct vs *v, const struct eg_node *rt)
{
	struct eg_rctx *c = v->c;
	const struct eg_node *matches = eg_node_get(rt, "match");
	char why[768], q[300];

	if (!eg_node_len(matches))
		eg_rerr(c, at(rt, "match"), "match", "TLS route must have at least one match condition");
	for (size_t j = 0; j < eg_node_len(matches); j++) {
		const struct eg_node *m = matches->v[j];
		const struct eg_node *sni = eg_node_get(m, "sniHosts");
		size_t old = eg_rctx_push(c, ".match[%zu]", j);

		if (!eg_node_len(sni))
			eg_rerr(c, at(m, "sniHosts"), "sniHosts", "TLS match must have at least one SNI host");
		for (size_t k = 0; k < eg_node_len(sni); k++) {
			const char *h = sni->v[k]->s;
			bool within = false;
			size_t o2 = eg_rctx_push(c, ".sniHosts[%zu]", k);

			if (eg_istio_wildcard_domain(h, why, sizeof(why))) {
				if (eg_is_ip(h))
					eg_rwarn(c, sni->v[k], NULL,
						 "using an IP address (%s) goes against SNI spec and most clients do not support this",
						 eg_goq(h, q, sizeof(q)));
				else
					eg_rerr(c, sni->v[k], NULL, "%s", why);
				eg_rctx_pop(c, o2);
				continue;
			}
			for (size_t i = 0; i < eg_node_len(v->hosts) && !within; i++)
				within = eg_host_subset_of(h, v->hosts->v[i]->s);
			if (!within) {
				struct eg_buf all = EG_BUF_INIT(4096);

				for (size_t i = 0; i < eg_node_len(v->hosts); i++)
					(void)eg_buf_printf(&all, "%s%s", i ? ", " : "", v->hosts->v[i]->s);
				eg_rerr(c, sni->v[k], NULL,
					"SNI host %s is not a compatible subset of any of the virtual service hosts: [%s]",
					eg_goq(h, q, sizeof(q)), eg_buf_cstr(&all));
				eg_buf_done(&all);
			}
			eg_rctx_pop(c, o2);
		}
		gateway_names(c, m);
		source_namespace(c, m);
		eg_rctx_pop(c, old);
	}
	if (!eg_node_len(eg_node_get(rt, "route")))
		eg_rerr(c, at(rt, "route"), "route", "TLS route is required");
	route_destinations(c, rt, false);
}

static void tcp_route(struct vs *v, const struct eg_node *rt)
{
	struct eg_rctx *c = v->c;
	const struct eg_node *matches = eg_node_get(rt, "match");

	for (size_t j = 0; j < eg_node_len(matches); j++) {
		size_t old = eg_rctx_push(c, ".match[%zu]", j);

		gateway_names(c, matches->v[j]);
		source_namespace(c, matches->v[j]);
		eg_rctx_pop(c, old);
	}
	if (!eg_node_len(eg_node_get(rt, "route")))
		eg_rerr(c, at(rt, "route"), "route", "TCP route is required");
	route_destinations(c, rt, false);
}

/* Two matches are the same when they are equal apart from @skip1/@skip2 ("name" never
 * counts: Istio compares the JSON of a match without its name). */
static bool match_equal_except(const struct eg_node *a, const struct eg_node *b,
			       const char *skip1, const char *skip2)
{
	size_t na = 0, nb = 0;

	if (a->kind != EG_NODE_MAP || b->kind != EG_NODE_MAP)
		return eg_node_equal(a, b);
	for (size_t i = 0; i < a->n; i++) {
		const char *k = a->k[i]->s;
		const struct eg_node *bv;

		if ((skip1 && strcmp(k, skip1) == 0) || (skip2 && strcmp(k, skip2) == 0))
			continue;
		na++;
		bv = eg_node_get(b, k);
		if (!bv || !eg_node_equal(a->v[i], bv))
			return false;
	}
	for (size_t i = 0; i < b->n; i++) {
		const char *k = b->k[i]->s;

		if ((skip1 && strcmp(k, skip1) == 0) || (skip2 && strcmp(k, skip2) == 0))
			continue;
		nb++;
	}
	return na == nb;
}

/* An earlier uri prefix that every uri of the later match starts with. */
static bool uri_covered(const struct eg_node *earlier, const struct eg_node *later)
{
	const struct eg_node *eu = eg_node_get(earlier, "uri");
	const struct eg_node *lu = eg_node_get(later, "uri");
	const char *ep, *lp;

	if (!eu)
		return lu != NULL;
	ep = str(eu, "prefix");
	if (!ep || !lu)
		return false;
	lp = str(lu, "prefix");
	if (!lp)
		lp = str(lu, "exact");
	return lp && strncmp(lp, ep, strlen(ep)) == 0;
}

static void rule_name(const struct eg_node *rule, size_t i, bool http, char *buf, size_t len)
{
	const char *name = http ? str(rule, "name") : NULL;

	if (name && *name)
		snprintf(buf, len, "\"%s\"", name);
	else
		snprintf(buf, len, "#%zu", i);
}

/* analyzeUnreachable{HTTP,TCP,TLS}Rules: warnings, as Istio gives them */
static void unreachable_rules(struct eg_rctx *c, const struct eg_node *rules, const char *field,
			      bool http)
{
	ssize_t empty_at = -1;

	for (size_t i = 0; i < eg_node_len(rules); i++) {
		const struct eg_node *rule = rules->v[i];
		const struct eg_node *matches = eg_node_get(rule, "match");
		size_t dups = 0;
		char rn[160], dn[160];
		size_t old = eg_rctx_push(c, ".%s[%zu]", field, i);

		rule_name(rule, i, http, rn, sizeof(rn));
		if (!eg_node_len(matches)) {
			if (empty_at >= 0)
				eg_rwarn(c, rule, NULL, "virtualService rule %s not used (%s)", rn,
					 "only the last rule can have no matches");
			empty_at = (ssize_t)i;
			eg_rctx_pop(c, old);
			continue;
		}
		if (empty_at >= 0) {
			eg_rwarn(c, rule, NULL, "virtualService rule %s not used (%s)", rn,
				 "route without matches defined before");
			eg_rctx_pop(c, old);
			continue;
		}
		for (size_t j = 0; j < matches->n; j++) {
			const struct eg_node *m = matches->v[j];
			ssize_t hit = -1;

			/* every match of every earlier rule, then the earlier matches of this one */
			for (size_t pi = 0; pi <= i && hit < 0; pi++) {
				const struct eg_node *pm = eg_node_get(rules->v[pi], "match");
				size_t lim = pi == i ? j : eg_node_len(pm);

				for (size_t pj = 0; pj < lim && hit < 0; pj++) {
					const struct eg_node *e = pm->v[pj];

					if (match_equal_except(e, m, "name", NULL) ||
					    (http && match_equal_except(e, m, "name", "uri") &&
					     uri_covered(e, m)))
						hit = (ssize_t)pi;
				}
			}
			if (hit >= 0) {
				char mn[160];
				const char *mname = http ? str(m, "name") : NULL;

				if (mname && *mname)
					snprintf(mn, sizeof(mn), "\"%s\"", mname);
				else
					snprintf(mn, sizeof(mn), "#%zu", j);
				rule_name(rules->v[hit], (size_t)hit, http, dn, sizeof(dn));
				eg_rwarn(c, m, NULL,
					 "virtualService rule %s match %s is not used (duplicate/overlapping match in rule %s)",
					 rn, mn, dn);
				dups++;
			}
		}
		if (dups == matches->n)
			eg_rwarn(c, rule, NULL, "virtualService rule %s not used (%s)", rn,
				 "all matches used by prior rules");
		eg_rctx_pop(c, old);
	}
}

static void jwt_claim_headers(struct vs *v, const struct eg_node *http)
{
	static const char *const fields[] = { "headers", "withoutHeaders" };
	struct eg_buf gws = EG_BUF_INIT(4096);
	const struct eg_node *g = eg_node_get(v->spec, "gateways");

	for (size_t i = 0; i < eg_node_len(g); i++)
		(void)eg_buf_printf(&gws, "%s%s", i ? " " : "", g->v[i]->s);
	for (size_t i = 0; i < eg_node_len(http); i++) {
		const struct eg_node *ms = eg_node_get(http->v[i], "match");

		for (size_t j = 0; j < eg_node_len(ms); j++) {
			for (size_t f = 0; f < EG_ARRAY_SIZE(fields); f++) {
				const struct eg_node *h = eg_node_get(ms->v[j], fields[f]);

				for (size_t k = 0; k < eg_node_len(h); k++) {
					size_t old;

					if (!is_jwt_claim(h->k[k]->s))
						continue;
					old = eg_rctx_push(v->c, ".http[%zu].match[%zu].%s[%s]", i, j,
							   fields[f], h->k[k]->s);
					eg_rerr(v->c, h->k[k], NULL,
						"JWT claim based routing (key: %s) is only supported for gateway, found no gateways: [%s]",
						h->k[k]->s, eg_buf_cstr(&gws));
					eg_rctx_pop(v->c, old);
				}
			}
		}
	}
	eg_buf_done(&gws);
}

void eg_rules_virtualservice(const struct eg_resource *r, struct eg_diag *d)
{
	const struct eg_node *spec = eg_node_get(r->root, "spec");
	const struct eg_node *gws = eg_node_get(spec, "gateways");
	const struct eg_node *http = eg_node_get(spec, "http");
	const struct eg_node *tls = eg_node_get(spec, "tls");
	const struct eg_node *tcp = eg_node_get(spec, "tcp");
	struct eg_rctx c;
	struct vs v = { &c, spec, eg_node_get(spec, "hosts"), false, false, false };
	bool hosts_ok = true;
	char why[768];

	eg_rctx_init(&c, r, d);
	eg_rctx_push(&c, "spec");
	/* no hosts: a delegate, bound from another VirtualService's http[].delegate */
	v.delegate = !eg_node_len(v.hosts);
	if (v.delegate) {
		if (eg_node_len(gws))
			eg_rerr(&c, gws, "gateways",
				"delegate virtual service must have no gateways specified");
		if (eg_node_len(tls))
			eg_rerr(&c, tls, "tls", "delegate virtual service must have no tls route specified");
		if (eg_node_len(tcp))
			eg_rerr(&c, tcp, "tcp", "delegate virtual service must have no tcp route specified");
	}
	if (!eg_node_len(gws))
		v.applies_mesh = true;
	gateway_names(&c, spec);
	for (size_t i = 0; i < eg_node_len(gws); i++) {
		if (strcmp(gws->v[i]->s, "mesh") == 0)
			v.applies_mesh = true;
		else
			v.applies_gateway = true;
	}
	if (!v.applies_gateway)
		jwt_claim_headers(&v, http);
	for (size_t i = 0; i < eg_node_len(v.hosts); i++) {
		const struct eg_node *h = v.hosts->v[i];
		size_t old = eg_rctx_push(&c, ".hosts[%zu]", i);

		if (eg_istio_wildcard_domain(h->s, why, sizeof(why))) {
			if (!eg_is_ip(h->s)) {
				eg_rerr(&c, h, NULL, "%s", why);
				hosts_ok = false;
			}
		} else if (v.applies_mesh && strcmp(h->s, "*") == 0) {
			eg_rerr(&c, h, NULL,
				"wildcard host * is not allowed for virtual services bound to the mesh gateway");
			hosts_ok = false;
		}
		eg_rctx_pop(&c, old);
	}
	for (size_t i = 0; hosts_ok && i < eg_node_len(v.hosts); i++) {
		for (size_t j = i + 1; j < v.hosts->n; j++) {
			if (eg_host_matches(v.hosts->v[i]->s, v.hosts->v[j]->s)) {
				size_t old = eg_rctx_push(&c, ".hosts[%zu]", j);

				eg_rerr(&c, v.hosts->v[j], NULL, "duplicate hosts in virtual service: %s & %s",
					v.hosts->v[i]->s, v.hosts->v[j]->s);
				eg_rctx_pop(&c, old);
			}
		}
	}
	if (!eg_node_len(http) && !eg_node_len(tcp) && !eg_node_len(tls))
		eg_rerr(&c, spec, NULL, "http, tcp or tls must be provided in virtual service");
	for (size_t i = 0; i < eg_node_len(http); i++) {
		size_t old = eg_rctx_push(&c, ".http[%zu]", i);

		http_route(&v, http->v[i]);
		eg_rctx_pop(&c, old);
	}
	for (size_t i = 0; i < eg_node_len(tls); i++) {
		size_t old = eg_rctx_push(&c, ".tls[%zu]", i);

		tls_route(&v, tls->v[i]);
		eg_rctx_pop(&c, old);
	}
	for (size_t i = 0; i < eg_node_len(tcp); i++) {
		size_t old = eg_rctx_push(&c, ".tcp[%zu]", i);

		tcp_route(&v, tcp->v[i]);
		eg_rctx_pop(&c, old);
	}
	eg_rules_export_to(&c, spec, false, false);
	unreachable_rules(&c, http, "http", true);
	unreachable_rules(&c, tcp, "tcp", false);
	unreachable_rules(&c, tls, "tls", false);
}

/* ===================================================================================
 * DestinationRule (ValidateDestinationRule)
 * =================================================================================== */

static void client_tls(struct eg_rctx *c, const struct eg_node *tls)
{
	const char *mode = str(tls, "mode");
	bool simple_or_mutual = mode && (strcmp(mode, "SIMPLE") == 0 || strcmp(mode, "MUTUAL") == 0);
	size_t old;

	if (!tls)
		return;
	if (!mode)
		mode = "DISABLE";
	old = eg_rctx_push(c, ".tls");
	if (eg_node_bool(tls, "insecureSkipVerify", false) && simple_or_mutual &&
	    (nonempty(tls, "caCertificates") || nonempty(tls, "credentialName") ||
	     eg_node_get(tls, "subjectAltNames")))
		eg_rerr(c, tls, NULL,
			"cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true");
	if (simple_or_mutual && nonempty(tls, "credentialName")) {
		if (nonempty(tls, "clientCertificate") || nonempty(tls, "caCertificates") ||
		    nonempty(tls, "privateKey") || nonempty(tls, "caCrl"))
			eg_rerr(c, tls, NULL,
				"cannot specify client certificates or CA certificate or CA CRL If credentialName is set");
	} else if (strcmp(mode, "MUTUAL") == 0) {
		if (!nonempty(tls, "clientCertificate"))
			eg_rerr(c, tls, NULL, "client certificate required for mutual tls");
		if (!nonempty(tls, "privateKey"))
			eg_rerr(c, tls, NULL, "private key required for mutual tls");
	} else if (strcmp(mode, "ISTIO_MUTUAL") == 0) {
		/* the mesh certificates are used; sni is honoured (SPEC.md §0) */
		static const char *const ignored[] = { "clientCertificate", "privateKey",
						       "caCertificates", "credentialName", "caCrl" };

		for (size_t i = 0; i < EG_ARRAY_SIZE(ignored); i++)
			if (nonempty(tls, ignored[i]))
				eg_rwarn(c, eg_node_get(tls, ignored[i]), ignored[i],
					 "%s is ignored with ISTIO_MUTUAL (the mesh certificates are used)",
					 ignored[i]);
	}
	eg_rctx_pop(c, old);
}

static bool is_prime(int64_t n)
{
	if (n < 2)
		return false;
	for (int64_t i = 2; i * i <= n; i++)
		if (n % i == 0)
			return false;
	return true;
}

static void load_balancer(struct eg_rctx *c, const struct eg_node *lb)
{
	const struct eg_node *ch = eg_node_get(lb, "consistentHash");
	const struct eg_node *loc = eg_node_get(lb, "localityLbSetting");
	size_t old;

	if (!lb)
		return;
	old = eg_rctx_push(c, ".loadBalancer");
	if (eg_node_get(lb, "simple") && ch)
		eg_rerr(c, lb, NULL, "only one of simple or consistentHash may be set");
	if (ch) {
		const struct eg_node *cookie = eg_node_get(ch, "httpCookie");
		const struct eg_node *maglev = eg_node_get(ch, "maglev");
		unsigned keys = !!eg_node_get(ch, "httpHeaderName") + !!cookie +
				eg_node_bool(ch, "useSourceIp", false) +
				!!eg_node_get(ch, "httpQueryParameterName");
		size_t o2 = eg_rctx_push(c, ".consistentHash");

		if (keys != 1)
			eg_rerr(c, ch, NULL,
				"exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName must be set");
		if (cookie && !eg_node_get(cookie, "ttl"))
			eg_rerr(c, cookie, "httpCookie", "ttl required for HttpCookie");
		if (eg_node_get(ch, "ringHash") && maglev)
			eg_rerr(c, ch, NULL, "only one of ringHash or maglev may be set");
		if (eg_node_get(ch, "minimumRingSize") && (maglev || eg_node_get(ch, "ringHash")))
			eg_rerr(c, ch, NULL,
				"only one of MinimumRingSize or Maglev/Ringhash can be specified");
		if (maglev) {
			int64_t ts = eg_node_int(maglev, "tableSize", 0);

			if (!ts)
				eg_rerr(c, maglev, "maglev.tableSize", "tableSize must be set for maglev");
			else if (!is_prime(ts) || ts >= 5000011)
				eg_rerr(c, eg_node_get(maglev, "tableSize"), "maglev.tableSize",
					"tableSize must be a prime number less than 5000011 for maglev");
		}
		eg_rctx_pop(c, o2);
	}
	if (loc) {
		const struct eg_node *dist = eg_node_get(loc, "distribute");
		const struct eg_node *fo = eg_node_get(loc, "failover");
		size_t o2 = eg_rctx_push(c, ".localityLbSetting");

		if (eg_node_len(dist) && eg_node_len(fo))
			eg_rerr(c, loc, NULL, "can not simultaneously set 'distribute' and 'failover'");
		for (size_t i = 0; i < eg_node_len(dist); i++) {
			const struct eg_node *to = eg_node_get(dist->v[i], "to");
			int64_t sum = 0;

			for (size_t k = 0; k < eg_node_len(to); k++)
				sum += to->v[k]->i;
			if (eg_node_len(to) && sum != 100) {
				size_t o3 = eg_rctx_push(c, ".distribute[%zu].to", i);

				eg_rerr(c, to, NULL, "total locality weight %lld != 100", (long long)sum);
				eg_rctx_pop(c, o3);
			}
		}
		for (size_t i = 0; i < eg_node_len(fo); i++) {
			const char *from = str(fo->v[i], "from"), *to = str(fo->v[i], "to");

			if (from && to && strcmp(from, to) == 0) {
				size_t o3 = eg_rctx_push(c, ".failover[%zu]", i);

				eg_rerr(c, fo->v[i], NULL,
					"locality lb failover settings must specify different regions");
				eg_rctx_pop(c, o3);
			}
		}
		eg_rctx_pop(c, o2);
	}
	if (eg_node_get(lb, "warmupDurationSecs") && eg_node_get(lb, "warmup"))
		eg_rerr(c, lb, NULL, "only one of warmupDurationSecs or warmup may be set");
	eg_rctx_pop(c, old);
}

static void outlier(struct eg_rctx *c, const struct eg_node *od)
{
	static const char *const counts[] = { "consecutiveErrors", "consecutiveLocalOriginFailures",
					      "consecutiveGatewayErrors", "consecutive5xxErrors" };
	static const char *const percents[] = { "maxEjectionPercent", "minHealthPercent" };
	size_t old;

	if (!od)
		return;
	old = eg_rctx_push(c, ".outlierDetection");
	if (eg_node_int(od, "consecutiveErrors", 0) != 0)
		eg_rwarn(c, eg_node_get(od, "consecutiveErrors"), "consecutiveErrors",
			 "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead");
	for (size_t i = 0; i < EG_ARRAY_SIZE(counts); i++)
		if (eg_node_int(od, counts[i], 0) < 0)
			eg_rerr(c, eg_node_get(od, counts[i]), counts[i], "%s must be non-negative",
				counts[i]);
	for (size_t i = 0; i < EG_ARRAY_SIZE(percents); i++) {
		int64_t p = eg_node_int(od, percents[i], 0);

		if (p < 0 || p > 100)
			eg_rerr(c, eg_node_get(od, percents[i]), percents[i],
				"percentage %lld is not in range 0..100", (long long)p);
	}
	eg_rules_duration_ms(c, od, "interval", false);
	eg_rules_duration_ms(c, od, "baseEjectionTime", false);
	eg_rctx_pop(c, old);
}

static void conn_pool(struct eg_rctx *c, const struct eg_node *cp, const char *field)
{
	size_t old;

	if (!cp)
		return;
	old = eg_rctx_push(c, ".%s", field);
	eg_rules_conn_pool(c, cp);
	eg_rctx_pop(c, old);
}

static void traffic_policy(struct eg_rctx *c, const struct eg_node *tp)
{
	const struct eg_node *pls = eg_node_get(tp, "portLevelSettings");
	const struct eg_node *tunnel = eg_node_get(tp, "tunnel");

	if (!tp)
		return;
	if (!tp->n) {
		eg_rerr(c, tp, NULL, "traffic policy must have at least one field");
		return;
	}
	if (tunnel && eg_node_get(tp, "proxyProtocol"))
		eg_rerr(c, tunnel, "tunnel",
			"tunnel and proxyProtocol must not be specified at the same time");
	outlier(c, eg_node_get(tp, "outlierDetection"));
	conn_pool(c, eg_node_get(tp, "connectionPool"), "connectionPool");
	load_balancer(c, eg_node_get(tp, "loadBalancer"));
	client_tls(c, eg_node_get(tp, "tls"));
	for (size_t i = 0; i < eg_node_len(pls); i++) {
		const struct eg_node *p = pls->v[i];
		int64_t num = eg_node_int(p, "port.number", 0);
		size_t old = eg_rctx_push(c, ".portLevelSettings[%zu]", i);

		if (!eg_node_get(p, "port") || !eg_node_path(p, "port.number"))
			eg_rerr(c, at(p, "port"), "port", "portTrafficPolicy must have valid port");
		if (!eg_node_get(p, "outlierDetection") && !eg_node_get(p, "connectionPool") &&
		    !eg_node_get(p, "loadBalancer") && !eg_node_get(p, "tls")) {
			eg_rerr(c, p, NULL, "port traffic policy must have at least one field");
		} else {
			outlier(c, eg_node_get(p, "outlierDetection"));
			conn_pool(c, eg_node_get(p, "connectionPool"), "connectionPool");
			load_balancer(c, eg_node_get(p, "loadBalancer"));
			client_tls(c, eg_node_get(p, "tls"));
		}
		for (size_t j = 0; num && j < i; j++) {
			if (eg_node_int(pls->v[j], "port.number", 0) == num) {
				eg_rerr(c, eg_node_path(p, "port.number"), "port.number",
					"port %lld already has settings (portLevelSettings[%zu])",
					(long long)num, j);
				break;
			}
		}
		eg_rctx_pop(c, old);
	}
	if (tunnel) {
		const char *th = str(tunnel, "targetHost");
		char why[768];

		if (th && !eg_is_ip(th) && eg_istio_fqdn(th, why, sizeof(why)))
			eg_rerr(c, eg_node_get(tunnel, "targetHost"), "tunnel.targetHost",
				"tunnel target host must be valid FQDN or IP address: %s", why);
	}
}

void eg_rules_destinationrule(const struct eg_resource *r, struct eg_diag *d)
{
	const struct eg_node *spec = eg_node_get(r->root, "spec");
	const struct eg_node *host = eg_node_get(spec, "host");
	const struct eg_node *subsets = eg_node_get(spec, "subsets");
	const struct eg_node *wsel = eg_node_get(spec, "workloadSelector");
	struct eg_rctx c;
	char why[768];

	eg_rctx_init(&c, r, d);
	eg_rctx_push(&c, "spec");
	if (!host || !host->s)
		eg_rerr(&c, spec, "host", "required field is missing");
	else if (eg_istio_wildcard_domain(host->s, why, sizeof(why)))
		eg_rerr(&c, host, "host", "%s", why);
	if (eg_node_get(spec, "trafficPolicy")) {
		size_t old = eg_rctx_push(&c, ".trafficPolicy");

		traffic_policy(&c, eg_node_get(spec, "trafficPolicy"));
		eg_rctx_pop(&c, old);
	}
	for (size_t i = 0; i < eg_node_len(subsets); i++) {
		const struct eg_node *s = subsets->v[i];
		const struct eg_node *name = eg_node_get(s, "name");
		size_t old = eg_rctx_push(&c, ".subsets[%zu]", i);

		for (size_t j = 0; j < i; j++) {
			const char *other = str(subsets->v[j], "name");

			if (other && name->s && strcmp(other, name->s) == 0) {
				eg_rerr(&c, name, "name", "duplicate subset names: %s", name->s);
				break;
			}
		}
		if (!name->s || !*name->s)
			eg_rerr(&c, name, "name", "subset name cannot be empty");
		else if (!eg_istio_dns_label(name->s))
			eg_rerr(&c, name, "name", "subset name is invalid: %s", name->s);
		if (eg_node_get(s, "trafficPolicy")) {
			size_t o2 = eg_rctx_push(&c, ".trafficPolicy");

			traffic_policy(&c, eg_node_get(s, "trafficPolicy"));
			eg_rctx_pop(&c, o2);
		}
		eg_rctx_pop(&c, old);
	}
	eg_rules_export_to(&c, spec, false, wsel != NULL);
	eg_rules_workload_selector(&c, wsel, "workloadSelector", "matchLabels");
}

/* ===================================================================================
 * Sidecar (ValidateSidecar)
 * =================================================================================== */

static void sidecar_ingress(struct eg_rctx *c, const struct eg_node *list)
{
	for (size_t i = 0; i < eg_node_len(list); i++) {
		const struct eg_node *l = list->v[i];
		const struct eg_node *port = eg_node_get(l, "port");
		const struct eg_node *tls = eg_node_get(l, "tls");
		const char *def = str(l, "defaultEndpoint");
		int64_t num = eg_node_int(port, "number", 0);
		size_t old = eg_rctx_push(c, ".ingress[%zu]", i);

		if (!port) {
			eg_rerr(c, l, "port", "sidecar: port is required for ingress listeners");
			eg_rctx_pop(c, old);
			continue;
		}
		if (eg_node_get(port, "targetPort"))
			eg_rerr(c, eg_node_get(port, "targetPort"), "port.targetPort",
				"targetPort has no impact on Sidecars");
		{
			size_t o2 = eg_rctx_push(c, ".port");

			port_name(c, port, "name");
			port_protocol(c, port);
			if (!num)
				eg_rerr(c, at(port, "number"), "number",
					"port number 0 must be in the range 1..65535");
			eg_rctx_pop(c, o2);
		}
		ip_address(c, eg_node_get(l, "bind"), "bind");
		for (size_t j = 0; num && j < i; j++)
			if (eg_node_int(eg_node_get(list->v[j], "port"), "number", 0) == num) {
				eg_rerr(c, eg_node_path(l, "port.number"), "port.number",
					"sidecar: ports on IP bound listeners must be unique");
				break;
			}
		if (def && *def && strncmp(def, "unix://", 7) != 0) {
			const char *colon = strrchr(def, ':');
			char host[128];
			size_t hl = colon ? (size_t)(colon - def) : 0;

			snprintf(host, sizeof(host), "%.*s", (int)EG_MIN(hl, sizeof(host) - 1), def);
			if (!colon || (hl && strcmp(host, "127.0.0.1") != 0 && strcmp(host, "0.0.0.0") != 0 &&
				       strcmp(host, "[::1]") != 0 && strcmp(host, "[::]") != 0))
				eg_rerr(c, eg_node_get(l, "defaultEndpoint"), "defaultEndpoint",
					"sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath, or unset");
			else {
				char *end = NULL;
				long p = strtol(colon + 1, &end, 10);

				if (!colon[1] || *end)
					eg_rerr(c, eg_node_get(l, "defaultEndpoint"), "defaultEndpoint",
						"sidecar: defaultEndpoint port (%s) is not a number", colon + 1);
				else if (p < 1 || p > 65535)
					eg_rerr(c, eg_node_get(l, "defaultEndpoint"), "defaultEndpoint",
						"port number %ld must be in the range 1..65535", p);
			}
		}
		if (tls) {
			const char *mode = str(tls, "mode");
			size_t o2 = eg_rctx_push(c, ".tls");

			if (eg_node_get(tls, "subjectAltNames"))
				eg_rerr(c, eg_node_get(tls, "subjectAltNames"), "subjectAltNames",
					"sidecar: subjectAltNames is not supported in ingress tls");
			if (eg_node_bool(tls, "httpsRedirect", false))
				eg_rerr(c, eg_node_get(tls, "httpsRedirect"), "httpsRedirect",
					"sidecar: httpsRedirect is not supported");
			if (nonempty(tls, "credentialName"))
				eg_rerr(c, eg_node_get(tls, "credentialName"), "credentialName",
					"sidecar: credentialName is not currently supported");
			if (mode && (strcmp(mode, "ISTIO_MUTUAL") == 0 ||
				     strcmp(mode, "AUTO_PASSTHROUGH") == 0))
				eg_rerr(c, eg_node_get(tls, "mode"), "mode",
					"configuration is invalid: cannot set mode to %s in sidecar ingress tls",
					mode);
			else
				eg_rules_server_tls(c, tls);
			eg_rctx_pop(c, o2);
		}
		conn_pool(c, eg_node_get(l, "connectionPool"), "connectionPool");
		eg_rctx_pop(c, old);
	}
}

static void sidecar_egress(struct eg_rctx *c, const struct eg_node *list, const char *own_ns)
{
	bool catch_all = false;

	for (size_t i = 0; i < eg_node_len(list); i++) {
		const struct eg_node *l = list->v[i];
		const struct eg_node *port = eg_node_get(l, "port");
		const struct eg_node *hosts = eg_node_get(l, "hosts");
		const char *bind = str(l, "bind");
		const char *capture = str(l, "captureMode");
		size_t old = eg_rctx_push(c, ".egress[%zu]", i);

		if (!port) {
			/* one catch-all listener, and it comes last */
			if (catch_all) {
				eg_rerr(c, l, NULL, "sidecar: egress can have only one listener with empty port");
				eg_rctx_pop(c, old);
				continue;
			}
			if (i == list->n - 1)
				catch_all = true;
			else
				eg_rerr(c, l, NULL,
					"sidecar: the egress listener with empty port should be the last listener in the list");
		} else {
			int64_t num = eg_node_int(port, "number", 0);
			size_t o2;

			if (eg_node_get(port, "targetPort"))
				eg_rerr(c, eg_node_get(port, "targetPort"), "port.targetPort",
					"sidecar: targetPort has no impact on Sidecars");
			o2 = eg_rctx_push(c, ".port");
			port_name(c, port, "name");
			port_protocol(c, port);
			eg_rctx_pop(c, o2);
			if (!num) {
				if (!bind || strncmp(bind, "unix://", 7) != 0)
					eg_rerr(c, port, "port.number",
						"sidecar: ports with 0 value must have a unix domain socket bind address");
				if (capture && strcmp(capture, "DEFAULT") != 0 && strcmp(capture, "NONE") != 0)
					eg_rerr(c, eg_node_get(l, "captureMode"), "captureMode",
						"sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners");
				for (size_t j = 0; bind && j < i; j++) {
					const char *ob = str(list->v[j], "bind");

					if (ob && strcmp(ob, bind) == 0 &&
					    !eg_node_path(list->v[j], "port.number")) {
						eg_rerr(c, eg_node_get(l, "bind"), "bind",
							"sidecar: unix domain socket values for listeners must be unique");
						break;
					}
				}
			} else {
				if (bind && *bind)
					ip_address(c, eg_node_get(l, "bind"), "bind");
				for (size_t j = 0; j < i; j++) {
					if (eg_node_int(eg_node_get(list->v[j], "port"), "number", 0) == num) {
						eg_rerr(c, eg_node_path(l, "port.number"), "port.number",
							"sidecar: ports on IP bound listeners must be unique");
						break;
					}
				}
			}
		}
		if (!eg_node_len(hosts)) {
			eg_rerr(c, at(l, "hosts"), "hosts",
				"sidecar: egress listener must contain at least one host");
		} else {
			bool star_star = false, other_ns = false;

			for (size_t k = 0; k < hosts->n; k++) {
				const struct eg_node *h = hosts->v[k];
				const char *slash = strchr(h->s, '/');
				size_t o2 = eg_rctx_push(c, ".hosts[%zu]", k);

				if (slash) {
					char ns[300];
					size_t nl = EG_MIN((size_t)(slash - h->s), sizeof(ns) - 1);

					memcpy(ns, h->s, nl);
					ns[nl] = '\0';
					if (strcmp(ns, ".") == 0)
						snprintf(ns, sizeof(ns), "%s", own_ns);
					if (strcmp(ns, "*") == 0 && strcmp(slash + 1, "*") == 0)
						star_star = true;
					else
						other_ns = true;
					/* the same namespace and host twice, or a host under a namespace-wide star */
					for (size_t p = 0; p < k; p++) {
						const char *ps = hosts->v[p]->s, *psl = strchr(ps, '/');
						char pns[300];
						size_t pl;

						if (!psl)
							continue;
						pl = EG_MIN((size_t)(psl - ps), sizeof(pns) - 1);
						memcpy(pns, ps, pl);
						pns[pl] = '\0';
						if (strcmp(pns, ".") == 0)
							snprintf(pns, sizeof(pns), "%s", own_ns);
						if (strcmp(pns, ns) != 0)
							continue;
						if (strcmp(psl + 1, slash + 1) == 0 ||
						    strcmp(psl + 1, "*") == 0 || strcmp(slash + 1, "*") == 0) {
							eg_rwarn(c, h, NULL, "duplicated egress host: %s", h->s);
							break;
						}
					}
				}
				ns_slash_host(c, h, false);
				eg_rctx_pop(c, o2);
			}
			if (star_star && other_ns)
				eg_rwarn(c, hosts, "hosts",
					 "`*/*` host select all resources, no other hosts can be added");
		}
		eg_rctx_pop(c, old);
	}
}

void eg_rules_sidecar(const struct eg_resource *r, struct eg_diag *d)
{
	const struct eg_node *spec = eg_node_get(r->root, "spec");
	const struct eg_node *wsel = eg_node_get(spec, "workloadSelector");
	const struct eg_node *otp = eg_node_get(spec, "outboundTrafficPolicy");
	struct eg_rctx c;

	eg_rctx_init(&c, r, d);
	eg_rctx_push(&c, "spec");
	if (wsel && !eg_node_len(eg_node_get(wsel, "labels")))
		eg_rwarn(&c, wsel, "workloadSelector",
			 "sidecar: workloadSelector cannot have empty labels");
	if (!eg_node_len(eg_node_get(spec, "egress")) && !eg_node_len(eg_node_get(spec, "ingress")) &&
	    !otp && !eg_node_get(spec, "inboundConnectionPool")) {
		eg_rerr(&c, spec, NULL, "sidecar: empty configuration provided");
		return;
	}
	sidecar_ingress(&c, eg_node_get(spec, "ingress"));
	conn_pool(&c, eg_node_get(spec, "inboundConnectionPool"), "inboundConnectionPool");
	sidecar_egress(&c, eg_node_get(spec, "egress"), r->ns ? r->ns : "default");
	if (otp && eg_node_get(otp, "egressProxy")) {
		const struct eg_node *ep = eg_node_get(otp, "egressProxy");
		const char *mode = str(otp, "mode");
		size_t old = eg_rctx_push(&c, ".outboundTrafficPolicy");
		char why[768];

		if (!mode || strcmp(mode, "ALLOW_ANY") != 0) {
			eg_rerr(&c, ep, "egressProxy",
				"sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode");
		} else {
			const char *host = str(ep, "host");

			if (host && eg_istio_fqdn(host, why, sizeof(why)))
				eg_rerr(&c, eg_node_get(ep, "host"), "egressProxy.host", "%s", why);
			if (!eg_node_get(ep, "port"))
				eg_rerr(&c, ep, "egressProxy.port",
					"sidecar: egress_proxy port must be non-nil");
			destination(&c, ep, "egressProxy");
		}
		eg_rctx_pop(&c, old);
	}
}
