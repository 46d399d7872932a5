/* tests/unit/test_compile.c: one test per Istio rule the compiler implements, each on a
 * small YAML input, checked through the snapshot's lookups (what the data plane uses). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "../../src/compile/internal.h"
#include "eg_test.h"

/* --- helpers --- */

static struct eg_resource_set g_set;
static struct eg_diag g_diag;

/* Parses @yaml (valid, or the test fails) and compiles it for @who. */
static struct eg_snapshot *compile_yaml(const char *yaml, const struct eg_proxy_id *who)
{
	struct eg_parse_opts po = {.default_ns = "default"};
	struct eg_snapshot *s = NULL;
	int r;

	eg_resource_set_init(&g_set);
	eg_diag_init(&g_diag);
	if (eg_model_parse("test.yaml", yaml, strlen(yaml), &po, &g_set, &g_diag) < 0) {
		printf("%s", eg_diag_text(&g_diag));
		EG_FAIL("the test input does not parse");
	}
	r = eg_compile(&g_set, who, &s, &g_diag);
	/* the snapshot must not point into the resources */
	eg_resource_set_done(&g_set);
	if (r < 0) {
		printf("%s", eg_diag_text(&g_diag));
		EG_FAIL("eg_compile: %d", r);
	}
	return s;
}

static void done(struct eg_snapshot *s)
{
	eg_snapshot_unref(s);
	eg_diag_done(&g_diag);
}

static const struct eg_proxy_id sidecar_default = {
        .role = EG_ROLE_SIDECAR, .ns = "default", .service_account = "app"};

/* The cluster a sidecar routes "GET http://AUTHORITY/PATH" on port @port to, or a marker. */
static struct eg_str no_header(void *ctx, struct eg_str name)
{
	(void)ctx;
	(void)name;
	return (struct eg_str){NULL, 0};
}

struct hdrs {
	const char *name, *value;
};

static struct eg_str some_header(void *ctx, struct eg_str name)
{
	for (const struct hdrs *h = ctx; h->name; h++)
		if (eg_str_eqc(name, h->name))
			return eg_str_c(h->value);
	return (struct eg_str){NULL, 0};
}

static const struct eg_route *route_of(const struct eg_route_table *rt, const char *authority,
                                       const char *path, const struct hdrs *h)
{
	struct eg_http_req_view req = {
	        .method = EG_STR("GET"),
	        .scheme = EG_STR("http"),
	        .authority = eg_str_c(authority),
	        .path = eg_str_c(path),
	        .header = h ? some_header : no_header,
	        .ctx = (void *)h,
	};
	const struct eg_vhost *vh = eg_route_table_vhost(rt, eg_str_c(authority));

	return eg_vhost_route(vh, &req);
}

static const char *dest(const struct eg_route *r)
{
	if (!r)
		return "(no route)";
	if (r->action == EG_ACTION_DIRECT)
		return r->direct.status == 502 ? "502" : "direct";
	if (r->action == EG_ACTION_REDIRECT)
		return "redirect";
	return r->nclusters ? r->clusters[0].name : "(no cluster)";
}

static const char *sidecar_dest(const struct eg_snapshot *s, uint16_t port, const char *authority,
                                const char *path)
{
	const struct eg_port_entry *pe = eg_snapshot_port(s, port);

	if (!pe || pe->chain.proto != EG_CHAIN_HTTP)
		return "(no http port)";
	return dest(route_of(pe->chain.http, authority, path, NULL));
}

static const char *tcp_dest(const struct eg_tcp_route *t)
{
	return t && t->nclusters ? t->clusters[0].name : "(none)";
}

#define NS(name) "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " name "\n---\n"

static const char *mesh_policy(const char *mode)
{
	static char buf[512];

	snprintf(buf, sizeof(buf),
	         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "
	         "istio-shared-configmap-asm-1-24\n"
	         "  namespace: aks-istio-system\ndata:\n  mesh: |-\n    outboundTrafficPolicy:\n"
	         "      mode: %s\n---\n",
	         mode);
	return buf;
}

/* --- rules --- */

/* A match's gateways override the VS's: the sidecar gets the mesh rule only, the gateway
 * the gateway rule only. */
static const char *override_yaml =
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: ext\n"
        "  namespace: default\nspec:\n  hosts: [api.example.com]\n  ports:\n"
        "  - {number: 80, name: http, protocol: HTTP}\n  resolution: DNS\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: egw\n  namespace: default\nspec:\n"
        "  selector: {istio: egw}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n---\n"
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: gw\n"
        "  namespace: default\nspec:\n  selector: {istio: egw}\n  servers:\n"
        "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [api.example.com]\n---\n"
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"
        "  namespace: default\nspec:\n  hosts: [api.example.com]\n  gateways: [gw, mesh]\n"
        "  http:\n"
        "  - name: to-gateway\n    match:\n    - gateways: [mesh]\n"
        "    route:\n    - destination: {host: egw, port: {number: 80}}\n"
        "  - name: to-site\n    match:\n    - gateways: [gw]\n"
        "    route:\n    - destination: {host: api.example.com, port: {number: 80}}\n";

EG_TEST(gateway_override_of_matches)
{
	struct eg_snapshot *s = compile_yaml(override_yaml, &sidecar_default);
	const struct eg_port_entry *pe = eg_snapshot_port(s, 80);
	const struct eg_vhost *vh;
	struct eg_proxy_id gw = {.role = EG_ROLE_GATEWAY,
	                         .ns = "default",
	                         .name = "egw",
	                         .labels = (struct eg_label[]){{"istio", "egw"}},
	                         .nlabels = 1};
	const struct eg_listener *l;

	EG_ASSERT(pe != NULL);
	vh = eg_route_table_vhost(pe->chain.http, EG_STR("api.example.com"));
	EG_ASSERT_STR_EQ(vh->name, "api.example.com:80");
	EG_ASSERT_EQ(vh->nroutes, 1);
	EG_ASSERT_STR_EQ(vh->routes[0].name, "to-gateway");
	EG_ASSERT_STR_EQ(dest(&vh->routes[0]), "outbound|80||egw.default.svc.cluster.local");
	done(s);

	s = compile_yaml(override_yaml, &gw);
	l = eg_snapshot_listener(s, 8080); /* Service port 80 -> targetPort 8080 */
	EG_ASSERT(l != NULL);
	EG_ASSERT_EQ(l->service_port, 80);
	EG_ASSERT_EQ(l->nchains, 1);
	vh = eg_route_table_vhost(l->chains[0].chain.http, EG_STR("api.example.com:80"));
	EG_ASSERT(vh != NULL);
	EG_ASSERT_EQ(vh->nroutes, 1);
	EG_ASSERT_STR_EQ(vh->routes[0].name, "to-site");
	EG_ASSERT_STR_EQ(dest(&vh->routes[0]), "outbound|80||api.example.com");
	/* a gateway has no catch-all: an unknown host is 404 */
	EG_ASSERT(eg_route_table_vhost(l->chains[0].chain.http, EG_STR("other.com")) == NULL);
	done(s);
}

/* Rules are tried in VS order and the first match wins; AND inside a match, OR across. */
EG_TEST(first_match_order)
{
	struct eg_snapshot *s = compile_yaml(
	        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: ext\n"
	        "spec:\n  hosts: [a.example.com, b.example.com, c.example.com, d.example.com]\n"
	        "  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  resolution: DNS\n---\n"
	        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"
	        "spec:\n  hosts: [a.example.com]\n  http:\n"
	        "  - name: api-and-header\n    match:\n"
	        "    - uri: {prefix: /api}\n      headers: {x-v: {exact: '2'}}\n"
	        "    - uri: {exact: /v2}\n"
	        "    route:\n    - destination: {host: b.example.com}\n"
	        "  - name: api\n    match:\n    - uri: {prefix: /api}\n"
	        "    route:\n    - destination: {host: c.example.com}\n"
	        "  - name: rest\n    route:\n    - destination: {host: d.example.com}\n"
	        "  - name: unreachable\n    route:\n    - destination: {host: a.example.com}\n",
	        &sidecar_default);
	const struct eg_route_table *rt = eg_snapshot_port(s, 80)->chain.http;
	const struct hdrs v2[] = {{"x-v", "2"}, {NULL, NULL}};
	const struct hdrs v3[] = {{"x-v", "3"}, {NULL, NULL}};
	const struct eg_vhost *vh = eg_route_table_vhost(rt, EG_STR("a.example.com"));

	/* a rule without match ends the list: later rules are unreachable */
	EG_ASSERT_EQ(vh->nroutes, 3);
	EG_ASSERT_STR_EQ(dest(route_of(rt, "a.example.com", "/api/x", v2)),
	                 "outbound|80||b.example.com");
	EG_ASSERT_STR_EQ(dest(route_of(rt, "a.example.com", "/api/x", v3)),
	                 "outbound|80||c.example.com");
	EG_ASSERT_STR_EQ(dest(route_of(rt, "a.example.com", "/v2?q=1", NULL)),
	                 "outbound|80||b.example.com");
	EG_ASSERT_STR_EQ(dest(route_of(rt, "a.example.com", "/other", NULL)),
	                 "outbound|80||d.example.com");
	done(s);
}

/* An exact host wins over a wildcard; the longest wildcard suffix wins; host and
 * host:port both select the virtual host. */
EG_TEST(exact_vs_wildcard)
{
	struct eg_snapshot *s = compile_yaml(
	        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: wild\n"
	        "spec:\n  hosts: ['*.example.com', '*.api.example.com', 'api.example.com']\n"
	        "  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  resolution: NONE\n",
	        &sidecar_default);

	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "api.example.com", "/"),
	                 "outbound|80||api.example.com");
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "API.Example.com:80", "/"),
	                 "outbound|80||api.example.com");
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "www.example.com", "/"), "outbound|80||*.example.com");
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "www.example.com:80", "/"),
	                 "outbound|80||*.example.com");
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "v1.api.example.com", "/"),
	                 "outbound|80||*.api.example.com");
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "a.b.example.com", "/"), "outbound|80||*.example.com");
	/* the wildcard does not cover the bare domain: ALLOW_ANY by default */
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "example.com", "/"), "PassthroughCluster");
	EG_ASSERT_EQ(eg_snapshot_cluster(s, "outbound|80||*.example.com")->type,
	             EG_CLUSTER_ORIGINAL_DST);
	done(s);
}

/* exportTo decides which namespaces see a ServiceEntry, VirtualService, DestinationRule. */
EG_TEST(export_to)
{
	const char *yaml =
	        NS("team-a") NS("team-b") "apiVersion: networking.istio.io/v1\nkind: "
	                                  "ServiceEntry\nmetadata:\n  name: private\n"
	                                  "  namespace: team-a\nspec:\n  hosts: "
	                                  "[private.example.com]\n  exportTo: ['.']\n"
	                                  "  ports:\n  - {number: 80, name: http, protocol: "
	                                  "HTTP}\n  resolution: DNS\n---\n"
	                                  "apiVersion: networking.istio.io/v1\nkind: "
	                                  "ServiceEntry\nmetadata:\n  name: shared\n"
	                                  "  namespace: team-a\nspec:\n  hosts: "
	                                  "[shared.example.com]\n  exportTo: ['.', team-b]\n"
	                                  "  ports:\n  - {number: 80, name: http, protocol: "
	                                  "HTTP}\n  resolution: DNS\n---\n"
	                                  "apiVersion: networking.istio.io/v1\nkind: "
	                                  "VirtualService\nmetadata:\n  name: vs\n"
	                                  "  namespace: team-a\nspec:\n  hosts: "
	                                  "[shared.example.com]\n  exportTo: ['.']\n"
	                                  "  http:\n  - route:\n    - destination: {host: "
	                                  "private.example.com}\n---\n"
	                                  "apiVersion: networking.istio.io/v1\nkind: "
	                                  "DestinationRule\nmetadata:\n  name: dr\n"
	                                  "  namespace: team-a\nspec:\n  host: "
	                                  "shared.example.com\n  exportTo: ['.']\n"
	                                  "  trafficPolicy:\n    loadBalancer: {simple: RANDOM}\n";
	struct eg_proxy_id a = {.role = EG_ROLE_SIDECAR, .ns = "team-a", .service_account = "x"};
	struct eg_proxy_id b = {.role = EG_ROLE_SIDECAR, .ns = "team-b", .service_account = "x"};
	struct eg_snapshot *s = compile_yaml(yaml, &a);

	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "private.example.com", "/"),
	                 "outbound|80||private.example.com");
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "shared.example.com", "/"),
	                 "outbound|80||private.example.com"); /* the VS applies in team-a */
	EG_ASSERT_EQ(eg_snapshot_cluster(s, "outbound|80||shared.example.com")->lb, EG_LB_RANDOM);
	done(s);

	s = compile_yaml(yaml, &b);
	EG_ASSERT(eg_snapshot_cluster(s, "outbound|80||private.example.com") == NULL);
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "private.example.com", "/"), "PassthroughCluster");
	/* the SE is exported to team-b, the VS and DR are not */
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "shared.example.com", "/"),
	                 "outbound|80||shared.example.com");
	EG_ASSERT_EQ(eg_snapshot_cluster(s, "outbound|80||shared.example.com")->lb,
	             EG_LB_LEAST_REQUEST);
	done(s);
}

/* A Sidecar selecting the workload overrides MeshConfig's outbound policy; then the
 * namespace's selector-less Sidecar, then the root namespace's. */
EG_TEST(sidecar_overrides_mesh_policy)
{
	char yaml[4096];
	struct eg_proxy_id curl = {.role = EG_ROLE_SIDECAR,
	                           .ns = "default",
	                           .service_account = "curl",
	                           .labels = (struct eg_label[]){{"app", "curl"}},
	                           .nlabels = 1};
	struct eg_proxy_id other = {
	        .role = EG_ROLE_SIDECAR, .ns = "default", .service_account = "other"};
	struct eg_proxy_id elsewhere = {
	        .role = EG_ROLE_SIDECAR, .ns = "prod", .service_account = "x"};
	struct eg_snapshot *s;

	snprintf(yaml, sizeof(yaml),
	         "%s" NS("prod") "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  "
	                         "name: curl-open\n"
	                         "  namespace: default\nspec:\n  workloadSelector:\n    labels: "
	                         "{app: curl}\n"
	                         "  outboundTrafficPolicy: {mode: ALLOW_ANY}\n---\n"
	                         "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  "
	                         "name: root\n"
	                         "  namespace: aks-istio-system\nspec:\n  outboundTrafficPolicy: "
	                         "{mode: ALLOW_ANY}\n",
	         mesh_policy("REGISTRY_ONLY"));
	s = compile_yaml(yaml, &curl);
	EG_ASSERT_EQ(eg_snapshot_policy(s)->mode, EG_POLICY_ALLOW_ANY);
	EG_ASSERT_STR_EQ(eg_snapshot_policy(s)->source, "Sidecar default/curl-open");
	EG_ASSERT_STR_EQ(tcp_dest(eg_snapshot_listener(s, 15001)->fallback), "PassthroughCluster");
	done(s);

	/* another workload of the namespace: no namespace Sidecar, so the root one applies */
	s = compile_yaml(yaml, &other);
	EG_ASSERT_EQ(eg_snapshot_policy(s)->mode, EG_POLICY_ALLOW_ANY);
	EG_ASSERT_STR_EQ(eg_snapshot_policy(s)->source, "Sidecar aks-istio-system/root");
	done(s);

	/* without the root Sidecar: the mesh's REGISTRY_ONLY */
	snprintf(yaml, sizeof(yaml),
	         "%s" NS("prod") "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  "
	                         "name: curl-open\n"
	                         "  namespace: default\nspec:\n  workloadSelector:\n    labels: "
	                         "{app: curl}\n"
	                         "  outboundTrafficPolicy: {mode: ALLOW_ANY}\n---\n"
	                         "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  "
	                         "name: ns-closed\n"
	                         "  namespace: prod\nspec:\n  outboundTrafficPolicy: {mode: "
	                         "REGISTRY_ONLY}\n",
	         mesh_policy("ALLOW_ANY"));
	s = compile_yaml(yaml, &other);
	EG_ASSERT_EQ(eg_snapshot_policy(s)->mode, EG_POLICY_ALLOW_ANY);
	EG_ASSERT_STR_EQ(eg_snapshot_policy(s)->source,
	                 "MeshConfig ConfigMap aks-istio-system/istio-shared-configmap-asm-1-24");
	done(s);
	s = compile_yaml(yaml, &elsewhere);
	EG_ASSERT_EQ(eg_snapshot_policy(s)->mode, EG_POLICY_REGISTRY_ONLY);
	EG_ASSERT_STR_EQ(eg_snapshot_policy(s)->source, "Sidecar prod/ns-closed");
	/* REGISTRY_ONLY: unknown HTTP -> 502 block_all, unknown TCP -> BlackHoleCluster */
	EG_ASSERT_STR_EQ(tcp_dest(eg_snapshot_listener(s, 15001)->fallback), "BlackHoleCluster");
	{
		const struct eg_listener *l = eg_snapshot_listener(s, 15001);
		const struct eg_route *r = route_of(l->http_catch_all, "unknown.com", "/", NULL);

		EG_ASSERT_STR_EQ(dest(r), "502");
		EG_ASSERT_STR_EQ(r->name, "block_all");
		EG_ASSERT_CONTAINS(r->deny_reason, "Sidecar prod/ns-closed");
	}
	done(s);
}

/* Port-level settings replace the four policies as a whole (omitted = default), and a
 * subset's fields override the top level's one by one. */
EG_TEST(port_level_settings_precedence)
{
	struct eg_snapshot *s = compile_yaml(
	        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: ext\n"
	        "spec:\n  hosts: [api.example.com]\n  ports:\n"
	        "  - {number: 80, name: http, protocol: HTTP}\n"
	        "  - {number: 443, name: https, protocol: HTTPS}\n"
	        "  - {number: 8443, name: https-alt, protocol: HTTPS}\n  resolution: DNS\n---\n"
	        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: dr\n"
	        "spec:\n  host: api.example.com\n  trafficPolicy:\n"
	        "    loadBalancer: {simple: RANDOM}\n"
	        "    connectionPool:\n      tcp: {maxConnections: 7, connectTimeout: 3s}\n"
	        "    tls: {mode: SIMPLE, sni: top.example.com}\n"
	        "    portLevelSettings:\n    - port: {number: 443}\n      tls: {mode: MUTUAL, "
	        "clientCertificate: /c.pem, privateKey: /k.pem}\n"
	        "  subsets:\n  - name: v1\n    trafficPolicy:\n      loadBalancer: {simple: "
	        "ROUND_ROBIN}\n"
	        "      portLevelSettings:\n      - port: {number: 8443}\n"
	        "        connectionPool:\n          tcp: {maxConnections: 9}\n",
	        &sidecar_default);
	const struct eg_cluster *k80 = eg_snapshot_cluster(s, "outbound|80||api.example.com");
	const struct eg_cluster *k443 = eg_snapshot_cluster(s, "outbound|443||api.example.com");
	const struct eg_cluster *v1_80 = eg_snapshot_cluster(s, "outbound|80|v1|api.example.com");
	const struct eg_cluster *v1_8443 =
	        eg_snapshot_cluster(s, "outbound|8443|v1|api.example.com");

	EG_ASSERT(k80 && k443 && v1_80 && v1_8443);
	/* top level */
	EG_ASSERT_EQ(k80->lb, EG_LB_RANDOM);
	EG_ASSERT_EQ(k80->pool.max_connections, 7);
	EG_ASSERT_EQ(k80->pool.connect_timeout_ns, 3000000000LL);
	EG_ASSERT_EQ(k80->tls.mode, EG_UPSTREAM_TLS_SIMPLE);
	EG_ASSERT_STR_EQ(k80->tls.sni, "top.example.com");
	/* port 443: only tls given; lb and pool fall back to the defaults */
	EG_ASSERT_EQ(k443->tls.mode, EG_UPSTREAM_TLS_MUTUAL);
	EG_ASSERT_STR_EQ(k443->tls.client_certificate, "/c.pem");
	EG_ASSERT(k443->tls.sni == NULL && k443->tls.auto_sni);
	EG_ASSERT_EQ(k443->lb, EG_LB_LEAST_REQUEST);
	EG_ASSERT_EQ(k443->pool.max_connections, 4294967295u);
	EG_ASSERT_EQ(k443->pool.connect_timeout_ns, 10000000000LL);
	/* subset: lb overridden, pool and tls inherited from the top level */
	EG_ASSERT_EQ(v1_80->lb, EG_LB_ROUND_ROBIN);
	EG_ASSERT_EQ(v1_80->pool.max_connections, 7);
	EG_ASSERT_EQ(v1_80->tls.mode, EG_UPSTREAM_TLS_SIMPLE);
	/* the subset's port level replaces everything: tls gone, lb default */
	EG_ASSERT_EQ(v1_8443->pool.max_connections, 9);
	EG_ASSERT_EQ(v1_8443->tls.mode, EG_UPSTREAM_TLS_DISABLE);
	EG_ASSERT_EQ(v1_8443->lb, EG_LB_LEAST_REQUEST);
	EG_ASSERT_STR_EQ(v1_8443->destination_rule, "dr.default");
	done(s);
}

/* A subset without labels keeps every endpoint (it only carries a policy); a subset with
 * labels keeps the matching ones. */
EG_TEST(subset_without_labels)
{
	struct eg_snapshot *s = compile_yaml(
	        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: pool\n"
	        "spec:\n  hosts: [pool.internal]\n  location: MESH_INTERNAL\n  ports:\n"
	        "  - {number: 80, name: http, protocol: HTTP}\n  resolution: STATIC\n  endpoints:\n"
	        "  - {address: 10.1.0.1, labels: {version: v1}}\n"
	        "  - {address: 10.1.0.2, labels: {version: v2}}\n---\n"
	        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: dr\n"
	        "spec:\n  host: pool.internal\n  subsets:\n  - name: all\n"
	        "  - name: v2\n    labels: {version: v2}\n",
	        &sidecar_default);
	const struct eg_cluster *all = eg_snapshot_cluster(s, "outbound|80|all|pool.internal");
	const struct eg_cluster *v2 = eg_snapshot_cluster(s, "outbound|80|v2|pool.internal");

	EG_ASSERT(all && v2);
	EG_ASSERT_EQ(all->type, EG_CLUSTER_STATIC);
	EG_ASSERT_EQ(all->nendpoints, 2);
	EG_ASSERT_EQ(v2->nendpoints, 1);
	EG_ASSERT_STR_EQ(v2->endpoints[0].address, "10.1.0.2");
	/* an unknown subset has no cluster: the route keeps the name, marked missing */
	EG_ASSERT(eg_snapshot_cluster(s, "outbound|80|v3|pool.internal") == NULL);
	done(s);
}

/* Short names in a VS or DR are expanded with the namespace of the rule. */
EG_TEST(short_name_expansion)
{
	struct eg_snapshot *s = compile_yaml(
	        NS("shop") "apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\n  "
	                   "namespace: shop\nspec:\n"
	                   "  clusterIP: 10.0.0.9\n  selector: {app: reviews}\n"
	                   "  ports:\n  - {name: http, port: 9080}\n---\n"
	                   "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  "
	                   "name: vs\n"
	                   "  namespace: shop\nspec:\n  hosts: [reviews]\n  http:\n"
	                   "  - route:\n    - destination: {host: reviews, subset: v1}\n---\n"
	                   "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n "
	                   " name: dr\n"
	                   "  namespace: shop\nspec:\n  host: reviews\n  subsets:\n  - name: v1\n",
	        &sidecar_default);
	const struct eg_route_table *rt = eg_snapshot_port(s, 9080)->chain.http;
	const struct eg_vhost *vh =
	        eg_route_table_vhost(rt, EG_STR("reviews.shop.svc.cluster.local"));

	EG_ASSERT(vh != NULL);
	EG_ASSERT_STR_EQ(vh->name, "reviews.shop.svc.cluster.local:9080");
	EG_ASSERT_STR_EQ(vh->vs, "vs.shop");
	EG_ASSERT_STR_EQ(dest(&vh->routes[0]), "outbound|9080|v1|reviews.shop.svc.cluster.local");
	EG_ASSERT(vh->routes[0].clusters[0].cluster != NULL);
	/* the short forms resolve from another namespace too (but not the bare name) */
	EG_ASSERT(eg_route_table_vhost(rt, EG_STR("reviews.shop:9080")) == vh);
	EG_ASSERT(eg_route_table_vhost(rt, EG_STR("10.0.0.9:9080")) == vh);
	EG_ASSERT(eg_route_table_vhost(rt, EG_STR("reviews")) == rt->catch_all);
	done(s);
}

/* ISTIO_MUTUAL without sni: Istio's outbound_.PORT_.SUBSET_.HOST; with sni: that one. */
EG_TEST(default_sni)
{
	struct eg_snapshot *s = compile_yaml(
	        "apiVersion: v1\nkind: Service\nmetadata:\n  name: egw\n  namespace: "
	        "default\nspec:\n"
	        "  selector: {istio: egw}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n"
	        "  - {name: tcp-db, port: 5432}\n---\n"
	        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: egw\n  namespace: "
	        "default\n"
	        "spec:\n  selector:\n    matchLabels: {istio: egw}\n  template:\n    metadata:\n"
	        "      labels: {istio: egw}\n      annotations: {egressd.io/pod-addresses: "
	        "'127.0.1.7'}\n"
	        "    spec:\n      serviceAccountName: egw-sa\n      containers:\n      - {name: p, "
	        "image: x}\n"
	        "---\n"
	        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: dr\n"
	        "spec:\n  host: egw\n  trafficPolicy:\n    tls: {mode: ISTIO_MUTUAL}\n"
	        "  subsets:\n  - name: cnn\n    trafficPolicy:\n      tls: {mode: ISTIO_MUTUAL, "
	        "sni: edition.cnn.com}\n",
	        &sidecar_default);
	const struct eg_cluster *k =
	        eg_snapshot_cluster(s, "outbound|80||egw.default.svc.cluster.local");
	const struct eg_cluster *c =
	        eg_snapshot_cluster(s, "outbound|80|cnn|egw.default.svc.cluster.local");
	const struct eg_cluster *db =
	        eg_snapshot_cluster(s, "outbound|5432||egw.default.svc.cluster.local");

	EG_ASSERT(k && c && db);
	EG_ASSERT_EQ(k->tls.mode, EG_UPSTREAM_TLS_ISTIO_MUTUAL);
	EG_ASSERT_STR_EQ(k->tls.sni, "outbound_.80_._.egw.default.svc.cluster.local");
	EG_ASSERT_STR_EQ(c->tls.sni, "edition.cnn.com");
	EG_ASSERT_EQ(k->tls.nsubject_alt_names, 1);
	EG_ASSERT_STR_EQ(k->tls.subject_alt_names[0],
	                 "spiffe://cluster.local/ns/default/sa/egw-sa");
	EG_ASSERT_STR_EQ(k->tls.alpn[0], "istio-http/1.1");
	EG_ASSERT_STR_EQ(db->tls.alpn[0], "istio-peer-exchange");
	/* the pod address from the annotation, at the targetPort */
	EG_ASSERT_EQ(k->type, EG_CLUSTER_EDS);
	EG_ASSERT_EQ(k->nendpoints, 1);
	EG_ASSERT_STR_EQ(k->endpoints[0].address, "127.0.1.7");
	EG_ASSERT_EQ(k->endpoints[0].port, 8080);
	done(s);
}

/* --- more of the contract --- */

/* SE TLS ports without a VS get SNI chains on their hosts; a VS tls rule wins for its
 * sniHosts; an unknown SNI falls to the policy. */
EG_TEST(tls_sni_chains)
{
	char yaml[4096];
	struct eg_snapshot *s;
	const struct eg_port_entry *pe;

	snprintf(yaml, sizeof(yaml),
	         "%s"
	         "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: tls\n"
	         "spec:\n  hosts: [a.example.com, '*.wiki.org']\n  ports:\n"
	         "  - {number: 443, name: tls, protocol: TLS}\n  resolution: NONE\n---\n"
	         "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: b\n"
	         "spec:\n  hosts: [b.example.com]\n  ports:\n"
	         "  - {number: 443, name: tls, protocol: TLS}\n  resolution: DNS\n---\n"
	         "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"
	         "spec:\n  hosts: [a.example.com]\n  tls:\n  - match:\n    - sniHosts: "
	         "[a.example.com]\n"
	         "    route:\n    - destination: {host: b.example.com, port: {number: 443}}\n",
	         mesh_policy("REGISTRY_ONLY"));
	s = compile_yaml(yaml, &sidecar_default);
	pe = eg_snapshot_port(s, 443);
	EG_ASSERT(pe != NULL);
	EG_ASSERT_EQ(pe->chain.proto, EG_CHAIN_TLS);
	EG_ASSERT_STR_EQ(tcp_dest(eg_chain_sni_route(&pe->chain, EG_STR("a.example.com"))),
	                 "outbound|443||b.example.com");
	EG_ASSERT_STR_EQ(tcp_dest(eg_chain_sni_route(&pe->chain, EG_STR("B.example.com"))),
	                 "outbound|443||b.example.com");
	EG_ASSERT_STR_EQ(tcp_dest(eg_chain_sni_route(&pe->chain, EG_STR("en.wiki.org"))),
	                 "outbound|443||*.wiki.org");
	EG_ASSERT_STR_EQ(tcp_dest(eg_chain_sni_route(&pe->chain, EG_STR("evil.com"))),
	                 "BlackHoleCluster");
	EG_ASSERT_STR_EQ(tcp_dest(eg_chain_sni_route(&pe->chain, EG_STR(""))), "BlackHoleCluster");
	done(s);
}

/* TCP services with addresses are routed by destination address, longest prefix first. */
EG_TEST(tcp_by_address)
{
	struct eg_snapshot *s = compile_yaml(
	        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: db\n"
	        "spec:\n  hosts: [db.example.com]\n  addresses: [192.168.0.0/16]\n  ports:\n"
	        "  - {number: 5432, name: tcp, protocol: TCP}\n  resolution: NONE\n---\n"
	        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: db2\n"
	        "spec:\n  hosts: [db2.example.com]\n  addresses: [192.168.7.0/24]\n  ports:\n"
	        "  - {number: 5432, name: tcp, protocol: TCP}\n  resolution: NONE\n",
	        &sidecar_default);
	const struct eg_port_entry *pe = eg_snapshot_port(s, 5432);
	uint8_t a1[4] = {192, 168, 7, 9}, a2[4] = {192, 168, 1, 1}, a3[4] = {10, 0, 0, 1};

	EG_ASSERT(pe != NULL);
	EG_ASSERT_STR_EQ(tcp_dest(eg_port_entry_addr_route(pe, AF_INET, a1)),
	                 "outbound|5432||db2.example.com");
	EG_ASSERT_STR_EQ(tcp_dest(eg_port_entry_addr_route(pe, AF_INET, a2)),
	                 "outbound|5432||db.example.com");
	EG_ASSERT(eg_port_entry_addr_route(pe, AF_INET, a3) == NULL);
	EG_ASSERT_STR_EQ(tcp_dest(pe->chain.fallback), "PassthroughCluster");
	done(s);
}

/* A Sidecar's egress hosts limit what the workload sees. */
EG_TEST(sidecar_egress_hosts)
{
	struct eg_snapshot *s = compile_yaml(
	        NS("other") "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  "
	                    "name: a\n"
	                    "spec:\n  hosts: [a.example.com]\n  ports:\n  - {number: 80, name: "
	                    "http, protocol: HTTP}\n"
	                    "  resolution: DNS\n---\n"
	                    "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  "
	                    "name: b\n"
	                    "  namespace: other\nspec:\n  hosts: [b.example.com]\n  ports:\n"
	                    "  - {number: 80, name: http, protocol: HTTP}\n  resolution: DNS\n---\n"
	                    "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata:\n  name: "
	                    "narrow\n"
	                    "spec:\n  egress:\n  - hosts: ['./*']\n",
	        &sidecar_default);

	EG_ASSERT(eg_snapshot_cluster(s, "outbound|80||a.example.com") != NULL);
	EG_ASSERT(eg_snapshot_cluster(s, "outbound|80||b.example.com") == NULL);
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "b.example.com", "/"), "PassthroughCluster");
	done(s);
}

/* The gateway's identity, egress source, TLS servers and passthrough SNI. */
EG_TEST(gateway_listener_and_egress_source)
{
	struct eg_proxy_id gw = {.role = EG_ROLE_GATEWAY, .ns = "egress", .name = "egw"};
	struct eg_snapshot *s = compile_yaml(
	        NS("egress") "apiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"
	                     "kind: StaticGatewayConfiguration\nmetadata:\n  name: sgc\n  "
	                     "namespace: egress\n"
	                     "spec:\n  gatewayNodepoolName: gw\nstatus:\n  egressIpPrefix: "
	                     "127.0.9.0/30\n---\n"
	                     "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: "
	                     "egw-asm-1-24\n"
	                     "  namespace: egress\nspec:\n  selector:\n    matchLabels: {istio: "
	                     "egw}\n"
	                     "  template:\n    metadata:\n      labels: {istio: egw, app: egw}\n"
	                     "      annotations: "
	                     "{kubernetes.azure.com/static-gateway-configuration: sgc}\n"
	                     "    spec:\n      containers:\n      - {name: p, image: x}\n---\n"
	                     "apiVersion: v1\nkind: Service\nmetadata:\n  name: egw\n  namespace: "
	                     "egress\nspec:\n"
	                     "  selector: {istio: egw}\n  ports:\n  - {name: https, port: 443, "
	                     "targetPort: 8443}\n---\n"
	                     "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  "
	                     "name: gw\n"
	                     "  namespace: egress\nspec:\n  selector: {istio: egw}\n  servers:\n"
	                     "  - port: {number: 443, name: tls, protocol: TLS}\n    hosts: "
	                     "['*.example.com']\n"
	                     "    tls: {mode: PASSTHROUGH}\n---\n"
	                     "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  "
	                     "name: ext\n"
	                     "  namespace: egress\nspec:\n  hosts: [api.example.com]\n  ports:\n"
	                     "  - {number: 443, name: tls, protocol: TLS}\n  resolution: DNS\n---\n"
	                     "apiVersion: networking.istio.io/v1\nkind: "
	                     "VirtualService\nmetadata:\n  name: vs\n"
	                     "  namespace: egress\nspec:\n  hosts: [api.example.com, other.org]\n  "
	                     "gateways: [gw]\n"
	                     "  tls:\n  - match:\n    - sniHosts: [api.example.com, other.org]\n"
	                     "    route:\n    - destination: {host: api.example.com, port: "
	                     "{number: 443}}\n",
	        &gw);
	const struct eg_identity *id = eg_snapshot_identity(s);
	const struct eg_listener *l = eg_snapshot_listener(s, 8443);
	const struct eg_filter_chain *fc;

	EG_ASSERT_STR_EQ(id->name, "egw-asm-1-24");
	EG_ASSERT_STR_EQ(id->gateway_name, "egw");
	EG_ASSERT_STR_EQ(id->service_account, "default");
	EG_ASSERT_STR_EQ(eg_snapshot_egress_source(s)->prefix, "127.0.9.0/30");
	EG_ASSERT_STR_EQ(eg_snapshot_egress_source(s)->status, "ok");
	EG_ASSERT(l != NULL);
	fc = eg_listener_chain(l, EG_STR("api.example.com"));
	EG_ASSERT(fc != NULL);
	EG_ASSERT_EQ(fc->tls.mode, EG_SERVER_TLS_PASSTHROUGH);
	EG_ASSERT_STR_EQ(tcp_dest(eg_chain_sni_route(&fc->chain, EG_STR("api.example.com"))),
	                 "outbound|443||api.example.com");
	/* other.org is not a host of the server: no chain for it, and no fallback */
	EG_ASSERT(eg_chain_sni_route(&fc->chain, EG_STR("other.org")) == NULL);
	EG_ASSERT(eg_listener_chain(l, EG_STR("other.org")) == NULL);
	done(s);
}

/* Telemetry: root namespace, then namespace, then a selector, the most specific wins. */
EG_TEST(telemetry_access_log)
{
	const char *yaml =
	        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "
	        "istio-shared-configmap-asm-1-24\n"
	        "  namespace: aks-istio-system\ndata:\n  mesh: |-\n    accessLogEncoding: "
	        "JSON\n---\n"
	        "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata:\n  name: "
	        "mesh-default\n"
	        "  namespace: aks-istio-system\nspec:\n  accessLogging:\n  - providers: [{name: "
	        "envoy}]\n"
	        "---\n"
	        "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata:\n  name: quiet\n"
	        "  namespace: default\nspec:\n  selector:\n    matchLabels: {app: quiet}\n"
	        "  accessLogging:\n  - disabled: true\n";
	struct eg_proxy_id quiet = {.role = EG_ROLE_SIDECAR,
	                            .ns = "default",
	                            .service_account = "q",
	                            .labels = (struct eg_label[]){{"app", "quiet"}},
	                            .nlabels = 1};
	struct eg_snapshot *s = compile_yaml(yaml, &sidecar_default);

	EG_ASSERT(eg_snapshot_access_log(s)->enabled);
	EG_ASSERT_STR_EQ(eg_snapshot_access_log(s)->path, "/dev/stdout");
	EG_ASSERT_EQ(eg_snapshot_access_log(s)->encoding, EG_LOG_JSON);
	EG_ASSERT_STR_EQ(eg_snapshot_access_log(s)->source,
	                 "Telemetry aks-istio-system/mesh-default");
	done(s);
	s = compile_yaml(yaml, &quiet);
	EG_ASSERT(!eg_snapshot_access_log(s)->enabled);
	EG_ASSERT_STR_EQ(eg_snapshot_access_log(s)->source, "Telemetry default/quiet");
	done(s);
}

/* Weights, timeouts, retries, rewrites and regex matches reach the route. */
EG_TEST(route_actions)
{
	struct eg_snapshot *s = compile_yaml(
	        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: ext\n"
	        "spec:\n  hosts: [a.example.com, b.example.com]\n  ports:\n"
	        "  - {number: 80, name: http, protocol: HTTP}\n  resolution: DNS\n---\n"
	        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"
	        "spec:\n  hosts: [a.example.com]\n  http:\n"
	        "  - match:\n    - uri: {regex: '/v[0-9]+/.*'}\n"
	        "    rewrite: {uri: /, authority: b.example.com}\n    timeout: 2.5s\n"
	        "    retries: {attempts: 4, perTryTimeout: 500ms, retryOn: 5xx}\n"
	        "    route:\n    - destination: {host: a.example.com}\n      weight: 80\n"
	        "    - destination: {host: b.example.com}\n      weight: 20\n"
	        "  - directResponse: {status: 418, body: {string: teapot}}\n",
	        &sidecar_default);
	const struct eg_route_table *rt = eg_snapshot_port(s, 80)->chain.http;
	const struct eg_route *r = route_of(rt, "a.example.com", "/v12/x", NULL);

	EG_ASSERT(r != NULL);
	EG_ASSERT_EQ(r->nclusters, 2);
	EG_ASSERT_EQ(r->total_weight, 100);
	EG_ASSERT_STR_EQ(eg_pick_weighted(r->clusters, r->nclusters, 79)->name,
	                 "outbound|80||a.example.com");
	EG_ASSERT_STR_EQ(eg_pick_weighted(r->clusters, r->nclusters, 80)->name,
	                 "outbound|80||b.example.com");
	EG_ASSERT_EQ(r->timeout_ns, 2500000000LL);
	EG_ASSERT_EQ(r->retries.attempts, 4);
	EG_ASSERT_EQ(r->retries.per_try_timeout_ns, 500000000LL);
	EG_ASSERT_STR_EQ(r->retries.retry_on, "5xx");
	EG_ASSERT_STR_EQ(r->rewrite.uri, "/");
	EG_ASSERT_STR_EQ(r->rewrite.authority, "b.example.com");
	r = route_of(rt, "a.example.com", "/vx/x", NULL);
	EG_ASSERT_EQ(r->action, EG_ACTION_DIRECT);
	EG_ASSERT_EQ(r->direct.status, 418);
	EG_ASSERT_STR_EQ(r->direct.body, "teapot");
	done(s);
}

/* A proxy that cannot be identified is refused with an error, never a crash. */
EG_TEST(bad_identity)
{
	struct eg_resource_set set;
	struct eg_snapshot *s = (struct eg_snapshot *)1;
	struct eg_proxy_id gw = {.role = EG_ROLE_GATEWAY, .ns = "x"};
	struct eg_proxy_id nons = {.role = EG_ROLE_SIDECAR};
	struct eg_diag d;

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_compile(&set, &gw, &s, &d), -EINVAL);
	EG_ASSERT(s == NULL);
	EG_ASSERT_EQ(eg_compile(&set, &nons, &s, &d), -EINVAL);
	EG_ASSERT_CONTAINS(eg_diag_text(&d), "namespace is required");
	eg_diag_done(&d);
}

/* --- reference counting --- */

static void *drop(void *arg)
{
	eg_snapshot_unref(arg);
	return NULL;
}

EG_TEST(refcount_across_threads)
{
	struct eg_snapshot *s = compile_yaml("", &sidecar_default);
	pthread_t t[8];

	for (size_t i = 0; i < EG_ARRAY_SIZE(t); i++)
		EG_ASSERT(eg_snapshot_ref(s) == s);
	EG_ASSERT_EQ(atomic_load(&s->refs), 9);
	for (size_t i = 0; i < EG_ARRAY_SIZE(t); i++)
		EG_ASSERT_EQ(pthread_create(&t[i], NULL, drop, s), 0);
	for (size_t i = 0; i < EG_ARRAY_SIZE(t); i++)
		pthread_join(t[i], NULL);
	EG_ASSERT_EQ(atomic_load(&s->refs), 1);
	/* the last reference frees it (ASan reports a leak or double free otherwise) */
	EG_ASSERT(eg_snapshot_unref(s) == NULL);
	EG_ASSERT(eg_snapshot_ref(NULL) == NULL);
	eg_diag_done(&g_diag);
}

/* --- the arena and the index --- */

EG_TEST(index_grows_and_finds)
{
	struct arena a;
	struct eg_index *ix;
	char key[32];

	arena_init(&a, 1u << 24);
	ix = index_new(&a, 2);
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(key, sizeof(key), "host-%d", i);

		EG_ASSERT(index_put_grow(&a, ix, arena_strn(&a, key, (size_t)n), (size_t)n,
		                         (void *)(intptr_t)(i + 1)));
	}
	EG_ASSERT(!index_put_grow(&a, ix, "host-5", 6, NULL)); /* first value kept */
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(key, sizeof(key), "host-%d", i);

		EG_ASSERT_EQ((intptr_t)index_get(ix, key, (size_t)n), i + 1);
	}
	EG_ASSERT(index_get(ix, "host-1000", 9) == NULL);
	arena_done(&a);
}

/* --- odd input never crashes --- */

/* Objects the schema accepts but Istio's webhook would refuse (the store re-reads with the
 * schema only), compiled for a sidecar and a gateway, dumped, and looked up with odd keys. */
static const char *const odd_inputs[] = {
        /* a VS without hosts, rules without route, a destination without host port */
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\n"
        "spec:\n  gateways: [egw, 'x/', '/y', 'a.b', mesh]\n  http:\n  - {}\n"
        "  - match: [{}]\n  - route: [{destination: {host: ''}}]\n  tls: [{}]\n  tcp: [{}]\n",
        /* the same host everywhere, wildcards, weights that make no sense */
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s1}\n"
        "spec:\n  hosts: ['*', '*.com', a.com, A.COM]\n  ports:\n"
        "  - {number: 80, name: a, protocol: HTTP}\n  - {number: 80, name: b, protocol: TCP}\n"
        "  - {number: 443, name: c}\n  resolution: STATIC\n  endpoints: [{}, {address: ''}]\n---\n"
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s2}\n"
        "spec:\n  hosts: [a.com]\n  addresses: [not-an-ip, 10.0.0.0/99]\n  ports:\n"
        "  - {number: 80, name: a, protocol: TCP}\n---\n"
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\n"
        "spec:\n  hosts: ['*.com', a.com, '*']\n  http:\n  - route:\n"
        "    - {destination: {host: a.com}, weight: -5}\n    - {destination: {host: nowhere}, "
        "weight: 0}\n"
        "  tls:\n  - match: [{sniHosts: ['*', ''], port: 443}]\n    route: [{destination: {host: "
        "a.com}}]\n"
        "  tcp:\n  - match: [{destinationSubnets: ['::/0', 10.0.0.0/8], port: 80}]\n"
        "    route: [{destination: {host: a.com, port: {number: 80}}}]\n",
        /* gateways: no hosts, odd hosts, TLS without mode, a plain and a TLS server on a port */
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: egw}\n"
        "spec:\n  selector: {istio: egw}\n  servers:\n"
        "  - port: {number: 80, name: h, protocol: HTTP}\n"
        "  - port: {number: 80, name: t, protocol: TLS}\n    hosts: ['/', './*', '*/*', '~/x']\n"
        "  - port: {number: 443, name: s, protocol: HTTPS}\n    hosts: ['*']\n    tls: {}\n"
        "  - port: {number: 444, name: u, protocol: TCP}\n    hosts: [x]\n"
        "  - port: {number: 445, name: w, protocol: TLS}\n    hosts: [x]\n    tls: {mode: "
        "AUTO_PASSTHROUGH}\n",
        /* DestinationRules: wildcards, empty policies, port levels without port */
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\n"
        "spec:\n  host: '*'\n  trafficPolicy:\n    portLevelSettings: [{}, {port: {}}]\n"
        "    tls: {mode: ISTIO_MUTUAL}\n    loadBalancer: {consistentHash: {httpCookie: {name: "
        "c}}}\n"
        "  subsets: [{name: x, labels: {a: b}}, {name: x}]\n---\n"
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: e}\n"
        "spec:\n  host: a\n  exportTo: ['~']\n  workloadSelector: {matchLabels: {istio: egw}}\n",
        /* Services and Deployments: no ports, named targetPort, junk addresses */
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: egw\n"
        "  annotations: {egressd.io/pod-addresses: ' , ,,x', networking.istio.io/exportTo: ''}\n"
        "spec:\n  clusterIP: None\n  selector: {istio: egw}\n  ports:\n"
        "  - {name: http, port: 80, targetPort: web}\n  - {name: udp-x, port: 53}\n---\n"
        "apiVersion: v1\nkind: Service\nmetadata: {name: empty}\nspec: {}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: egw}\nspec:\n"
        "  template:\n    metadata:\n      labels: {istio: egw}\n"
        "      annotations: {kubernetes.azure.com/static-gateway-configuration: ''}\n",
        /* Sidecars, Telemetry and MeshConfig of every odd shape */
        "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: a}\n"
        "spec:\n  egress: [{hosts: ['~/*', '.', '*/', '/x']}, {port: {number: 80}, hosts: []}]\n"
        "  outboundTrafficPolicy: {egressProxy: {host: nowhere}}\n---\n"
        "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t}\n"
        "spec:\n  accessLogging: [{}, {providers: [{name: otel}]}, {match: {mode: SERVER}}]\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio-shared-configmap-asm-1-24\n"
        "  namespace: aks-istio-system\ndata:\n  mesh: '{{{ not yaml'\n",
};

static struct eg_str echo_header(void *ctx, struct eg_str name)
{
	(void)ctx;
	return name;
}

static void poke(const struct eg_snapshot *s)
{
	static const char *const keys[] = {"",         ".",      "*",      ":80",
	                                   "[::1]:80", "a.com:", "A.COM",  "x.a.com",
	                                   "*.com",    "a..b",   "a.com:*"};
	char longkey[400];
	struct eg_buf out = EG_BUF_INIT(64u << 20);

	memset(longkey, 'a', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	EG_ASSERT_EQ(eg_snapshot_dump_json(s, &out), 0);
	for (size_t p = 0; p < eg_snapshot_nroute_tables(s); p++) {
		const struct eg_route_table *rt = eg_snapshot_route_table_at(s, p);

		for (size_t k = 0; k <= EG_ARRAY_SIZE(keys); k++) {
			const char *key = k < EG_ARRAY_SIZE(keys) ? keys[k] : longkey;
			const struct eg_vhost *vh = eg_route_table_vhost(rt, eg_str_c(key));
			struct eg_http_req_view req = {eg_str_c(key), eg_str_c(key), eg_str_c(key),
			                               eg_str_c(key), echo_header,   NULL};

			(void)eg_vhost_route(vh, &req);
		}
	}
	for (size_t p = 0; p < eg_snapshot_nlisteners(s); p++) {
		const struct eg_listener *l = eg_snapshot_listener_at(s, p);

		for (size_t k = 0; k < EG_ARRAY_SIZE(keys); k++) {
			(void)eg_listener_chain(l, eg_str_c(keys[k]));
			for (size_t e = 0; e < l->nports; e++)
				(void)eg_chain_sni_route(&l->ports[e].chain, eg_str_c(keys[k]));
		}
	}
	eg_buf_done(&out);
}

EG_TEST(odd_input_never_crashes)
{
	static const struct eg_proxy_id who[] = {
	        {.role = EG_ROLE_SIDECAR, .ns = "default", .service_account = "x"},
	        {.role = EG_ROLE_GATEWAY, .ns = "default", .name = "egw"},
	        {.role = EG_ROLE_GATEWAY, .ns = "default", .name = "nothing"},
	};
	struct eg_parse_opts po = {.default_ns = "default", .skip_rules = true};

	for (size_t i = 0; i < EG_ARRAY_SIZE(odd_inputs); i++) {
		for (size_t w = 0; w < EG_ARRAY_SIZE(who); w++) {
			struct eg_resource_set set;
			struct eg_snapshot *s = NULL;
			struct eg_diag d;

			eg_resource_set_init(&set);
			eg_diag_init(&d);
			if (eg_model_parse("odd.yaml", odd_inputs[i], strlen(odd_inputs[i]), &po,
			                   &set, &d) < 0) {
				printf("%s", eg_diag_text(&d));
				EG_FAIL("odd input %zu does not pass the schema", i);
			}
			EG_ASSERT_EQ(eg_compile(&set, &who[w], &s, &d), 0);
			eg_resource_set_done(&set);
			poke(s);
			eg_snapshot_unref(s);
			eg_diag_done(&d);
		}
	}
}

/* AuthorizationPolicies: the root namespace's apply everywhere, the proxy namespace's to
 * its pods (a selector narrows), others never; the rules are a copy the snapshot owns. */
EG_TEST(authorization_policies_in_scope)
{
	struct eg_proxy_id curl = {.role = EG_ROLE_SIDECAR,
	                           .ns = "default",
	                           .service_account = "curl",
	                           .labels = (struct eg_label[]){{"app", "curl"}},
	                           .nlabels = 1};
	struct eg_snapshot *s = compile_yaml(
	        NS("other") "apiVersion: security.istio.io/v1\nkind: "
	                    "AuthorizationPolicy\nmetadata:\n"
	                    "  name: mesh-deny\n  namespace: aks-istio-system\nspec:\n  action: "
	                    "DENY\n"
	                    "  rules:\n  - to:\n    - operation: {hosts: [evil.com]}\n---\n"
	                    "apiVersion: security.istio.io/v1\nkind: "
	                    "AuthorizationPolicy\nmetadata:\n"
	                    "  name: curl-allow\n  namespace: default\nspec:\n  selector:\n"
	                    "    matchLabels: {app: curl}\n  rules:\n  - from:\n"
	                    "    - source: {principals: [cluster.local/ns/default/sa/curl]}\n---\n"
	                    "apiVersion: security.istio.io/v1\nkind: "
	                    "AuthorizationPolicy\nmetadata:\n"
	                    "  name: other-app\n  namespace: default\nspec:\n  selector:\n"
	                    "    matchLabels: {app: other}\n---\n"
	                    "apiVersion: security.istio.io/v1\nkind: "
	                    "AuthorizationPolicy\nmetadata:\n"
	                    "  name: deny-all\n  namespace: other\nspec: {}\n",
	        &curl);
	struct eg_buf out = EG_BUF_INIT(1u << 20);

	EG_ASSERT_EQ(eg_snapshot_nauthz(s), 2);
	EG_ASSERT_STR_EQ(eg_snapshot_authz_at(s, 0)->name, "aks-istio-system/mesh-deny");
	EG_ASSERT_EQ(eg_snapshot_authz_at(s, 0)->action, EG_AUTHZ_DENY);
	EG_ASSERT_STR_EQ(eg_snapshot_authz_at(s, 1)->name, "default/curl-allow");
	EG_ASSERT_EQ(eg_snapshot_authz_at(s, 1)->action, EG_AUTHZ_ALLOW);
	EG_ASSERT_EQ(eg_node_len(eg_snapshot_authz_at(s, 1)->rules), 1);
	EG_ASSERT(eg_snapshot_authz_at(s, 2) == NULL);
	EG_ASSERT_EQ(eg_snapshot_dump_json_part(s, "authorization_policies", &out), 0);
	EG_ASSERT_CONTAINS(eg_buf_cstr(&out),
	                   "\"rules\": [{\"to\":[{\"operation\":{\"hosts\":[\"evil.com\"]}}]}]");
	eg_buf_done(&out);
	done(s);
}

/* A VirtualService for "*.example.com" is the VirtualService of the registry hosts it
 * covers: their exact virtual host carries its routes, their SNI goes by its tls rules. */
EG_TEST(wildcard_vs_covers_registry_hosts)
{
	struct eg_snapshot *s = compile_yaml(
	        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: ext\n"
	        "spec:\n  hosts: [a.example.com, other.org]\n  ports:\n"
	        "  - {number: 80, name: http, protocol: HTTP}\n"
	        "  - {number: 443, name: tls, protocol: TLS}\n  resolution: DNS\n---\n"
	        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: proxy\n"
	        "spec:\n  hosts: [proxy.corp]\n  ports:\n"
	        "  - {number: 3128, name: tcp, protocol: TCP}\n  - {number: 80, name: http, "
	        "protocol: HTTP}\n"
	        "  - {number: 443, name: tls, protocol: TLS}\n  resolution: DNS\n---\n"
	        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: "
	        "via-proxy\n"
	        "spec:\n  hosts: ['*.example.com']\n  http:\n"
	        "  - route:\n    - destination: {host: proxy.corp, port: {number: 80}}\n"
	        "  tls:\n  - match:\n    - {port: 443, sniHosts: ['*.example.com']}\n"
	        "    route:\n    - destination: {host: proxy.corp, port: {number: 443}}\n",
	        &sidecar_default);
	const struct eg_port_entry *tls = eg_snapshot_port(s, 443);
	const struct eg_vhost *vh =
	        eg_route_table_vhost(eg_snapshot_port(s, 80)->chain.http, EG_STR("a.example.com"));

	EG_ASSERT_STR_EQ(vh->name, "a.example.com:80");
	EG_ASSERT_STR_EQ(vh->vs, "via-proxy.default");
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "a.example.com", "/"), "outbound|80||proxy.corp");
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "b.example.com", "/"), "outbound|80||proxy.corp");
	EG_ASSERT_STR_EQ(sidecar_dest(s, 80, "other.org", "/"), "outbound|80||other.org");
	EG_ASSERT_STR_EQ(tcp_dest(eg_chain_sni_route(&tls->chain, EG_STR("a.example.com"))),
	                 "outbound|443||proxy.corp");
	EG_ASSERT_STR_EQ(tcp_dest(eg_chain_sni_route(&tls->chain, EG_STR("other.org"))),
	                 "outbound|443||other.org");
	done(s);
}

/* A hand-made set (not from the parser) with holes is skipped, not dereferenced. */
EG_TEST(hand_made_resource_set)
{
	struct eg_resource_set set;
	struct eg_resource *r;
	struct eg_snapshot *s = NULL;
	struct eg_diag d;
	struct eg_parse_opts po = {.default_ns = "default"};
	const char *yaml = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"
	                   "metadata: {name: a}\nspec:\n  hosts: [a.com]\n  ports:\n"
	                   "  - {number: 80, name: http, protocol: HTTP}\n";

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_model_parse("x.yaml", yaml, strlen(yaml), &po, &set, &d), 0);
	r = set.v[0];
	r->ns = NULL; /* as a caller that forgot eg_resource_sync() */
	EG_ASSERT_EQ(eg_resource_set_add(&set, NULL), 0);
	EG_ASSERT_EQ(eg_compile(&set, &sidecar_default, &s, &d), 0);
	EG_ASSERT(eg_snapshot_cluster(s, "outbound|80||a.com") == NULL);
	eg_snapshot_unref(s);
	set.n--; /* the NULL slot */
	eg_resource_set_done(&set);
	eg_diag_done(&d);
}
