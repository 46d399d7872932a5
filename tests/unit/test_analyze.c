/* tests/unit/test_analyze.c: the analyzers of src/model/analyze.c, one rule at a time, on
 * small inputs (the fixtures of tests/testdata/analyze are run by tests/e2e/31-analyze.sh).
 * Inputs are parsed schema-only (skip_rules) so these tests do not depend on the webhook
 * rules. */
#include "../../src/model/analyze.c"
#include "../../src/model/kinds.h"
#include "eg_test.h"

/* Parses @yaml (several documents), analyses it for @ns (NULL: all namespaces) and returns
 * every message, one per line (static buffer). */
static const char *run_ns(const char *yaml, const char *ns)
{
	static char out[65536];
	struct eg_parse_opts po = { .default_ns = "aks-istio-egress", .skip_rules = true };
	struct eg_analyze_opts ao = { ns };
	struct eg_resource_set set;
	struct eg_analyze a;
	struct eg_diag d;
	struct eg_buf b = EG_BUF_INIT(sizeof(out) - 1);

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	eg_analyze_init(&a);
	if (eg_model_parse("t.yaml", yaml, strlen(yaml), &po, &set, &d) < 0) {
		snprintf(out, sizeof(out), "PARSE: %s", eg_diag_text(&d));
		goto out;
	}
	if (eg_analyze_run(&a, &set, NULL, &ao) < 0) {
		snprintf(out, sizeof(out), "RUN FAILED");
		goto out;
	}
	for (size_t i = 0; i < a.n; i++) {
		(void)eg_analyze_format(&a.v[i], &b);
		(void)eg_buf_putc(&b, '\n');
	}
	snprintf(out, sizeof(out), "%s", eg_buf_cstr(&b));
out:
	eg_buf_done(&b);
	eg_analyze_done(&a);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	return out;
}

static const char *run(const char *yaml)
{
	return run_ns(yaml, NULL);
}

/* How many lines of @out carry @code. */
static int count(const char *out, const char *code)
{
	int n = 0;

	for (const char *p = out; (p = strstr(p, code)); p++)
		n++;
	return n;
}

/* Lines above Info. */
static int problems(const char *out)
{
	int n = 0;

	for (const char *p = out; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		n += strncmp(p, "Error ", 6) == 0 || strncmp(p, "Warning ", 8) == 0;
	return n;
}

#define MESH_REGISTRY_ONLY                                    \
	"apiVersion: v1\n"                                    \
	"kind: ConfigMap\n"                                   \
	"metadata:\n"                                         \
	"  name: istio-shared-configmap-asm-1-24\n"           \
	"  namespace: aks-istio-system\n"                     \
	"data:\n"                                             \
	"  mesh: |-\n"                                        \
	"    outboundTrafficPolicy:\n"                        \
	"      mode: REGISTRY_ONLY\n"                         \
	"---\n"

#define SE_CNN                                              \
	"apiVersion: networking.istio.io/v1\n"              \
	"kind: ServiceEntry\n"                              \
	"metadata: {name: cnn}\n"                           \
	"spec:\n"                                           \
	"  hosts: [edition.cnn.com]\n"                      \
	"  ports:\n"                                        \
	"  - {number: 80, name: http, protocol: HTTP}\n"    \
	"  - {number: 443, name: https, protocol: HTTPS}\n" \
	"  resolution: DNS\n"                               \
	"---\n"

/* The egress gateway of the how-to: Deployment, Service, StaticGatewayConfiguration. */
#define GATEWAY_INFRA                                                                 \
	"apiVersion: apps/v1\n"                                                       \
	"kind: Deployment\n"                                                          \
	"metadata: {name: asm-egress-test-asm-1-24}\n"                                \
	"spec:\n"                                                                     \
	"  template:\n"                                                               \
	"    metadata:\n"                                                             \
	"      labels: {app: asm-egress-test, istio: asm-egress-test}\n"              \
	"      annotations:\n"                                                        \
	"        kubernetes.azure.com/static-gateway-configuration: sgc\n"            \
	"---\n"                                                                       \
	"apiVersion: v1\n"                                                            \
	"kind: Service\n"                                                             \
	"metadata: {name: asm-egress-test}\n"                                         \
	"spec:\n"                                                                     \
	"  selector: {app: asm-egress-test, istio: asm-egress-test}\n"                \
	"  ports:\n"                                                                  \
	"  - {name: status-port, port: 15021}\n"                                      \
	"  - {name: http2, port: 80, targetPort: 8080}\n"                             \
	"  - {name: https, port: 443, targetPort: 8443}\n"                            \
	"---\n"                                                                       \
	"apiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"                   \
	"kind: StaticGatewayConfiguration\n"                                          \
	"metadata: {name: sgc}\n"                                                     \
	"spec: {gatewayNodepoolName: gw}\n"                                           \
	"status: {egressIpPrefix: 20.65.41.84/30}\n"                                  \
	"---\n"

#define GW_SVC "asm-egress-test.aks-istio-egress.svc.cluster.local"

/* A Gateway for the egress pods with one server: port, protocol, tls mode ("" = none). */
#define GATEWAY(name, port, proto, hosts, tls)                        \
	"apiVersion: networking.istio.io/v1\n"                        \
	"kind: Gateway\n"                                             \
	"metadata: {name: " name "}\n"                                \
	"spec:\n"                                                     \
	"  selector: {istio: asm-egress-test}\n"                      \
	"  servers:\n"                                                \
	"  - port: {number: " port ", name: p" port ", protocol: " proto "}\n" \
	"    hosts: " hosts "\n" tls "---\n"

/* A mesh rule sending edition.cnn.com (HTTP) to the gateway's port @port, subset cnn. */
#define MESH_TO_GATEWAY(port)                                                 \
	"apiVersion: networking.istio.io/v1\n"                                \
	"kind: VirtualService\n"                                              \
	"metadata: {name: cnn}\n"                                             \
	"spec:\n"                                                             \
	"  hosts: [edition.cnn.com]\n"                                        \
	"  http:\n"                                                           \
	"  - route:\n"                                                        \
	"    - destination: {host: " GW_SVC ", subset: cnn, port: {number: " port "}}\n" \
	"---\n"

#define DR_GW(tls)                                   \
	"apiVersion: networking.istio.io/v1\n"       \
	"kind: DestinationRule\n"                    \
	"metadata: {name: egressgateway-for-cnn}\n"  \
	"spec:\n"                                    \
	"  host: " GW_SVC "\n"                       \
	"  subsets:\n"                               \
	"  - name: cnn\n" tls "---\n"

/* --- helpers --- */

EG_TEST(hosts_overlap_follows_istio)
{
	EG_ASSERT(hosts_overlap("edition.cnn.com", "edition.cnn.com"));
	EG_ASSERT(hosts_overlap("*.cnn.com", "edition.cnn.com"));
	EG_ASSERT(hosts_overlap("edition.cnn.com", "*.cnn.com"));
	EG_ASSERT(hosts_overlap("*.com", "*.cnn.com"));
	EG_ASSERT(hosts_overlap("*", "anything.example"));
	EG_ASSERT(hosts_overlap("EDITION.cnn.com", "edition.CNN.com"));
	EG_ASSERT(!hosts_overlap("*.cnn.com", "cnn.com"));
	EG_ASSERT(!hosts_overlap("edition.cnn.com", "www.cnn.com"));
	EG_ASSERT(!hosts_overlap("*.cnn.com", "*.bbc.com"));
}

EG_TEST(host_covers_is_one_way)
{
	EG_ASSERT(host_covers("*.cnn.com", "edition.cnn.com"));
	EG_ASSERT(host_covers("*.cnn.com", "*.edition.cnn.com"));
	EG_ASSERT(host_covers("*", "*.cnn.com"));
	EG_ASSERT(!host_covers("edition.cnn.com", "*.cnn.com"));
	EG_ASSERT(!host_covers("*.cnn.com", "cnn.com"));
	EG_ASSERT(!host_covers("*.edition.cnn.com", "*.cnn.com"));
}

EG_TEST(fqdn_expands_short_names_only)
{
	char b[MAX_HOST];

	EG_ASSERT_STR_EQ(fqdn("reviews", "default", b, sizeof(b)), "reviews.default.svc.cluster.local");
	EG_ASSERT_STR_EQ(fqdn("edition.cnn.com", "default", b, sizeof(b)), "edition.cnn.com");
	EG_ASSERT_STR_EQ(fqdn("*", "default", b, sizeof(b)), "*");
	EG_ASSERT(fqdn(NULL, "default", b, sizeof(b)) == NULL);
}

EG_TEST(selector_string_sorts_keys)
{
	struct eg_node *n = eg_node_new_map();
	struct eg_buf b = EG_BUF_INIT(1024);

	EG_ASSERT(n);
	EG_ASSERT_EQ(eg_node_map_set_str(n, "istio", "asm-egress-test"), 0);
	EG_ASSERT_EQ(eg_node_map_set_str(n, "app", "x"), 0);
	EG_ASSERT_EQ(eg_node_map_set_str(n, "version", "v1"), 0);
	selector_string(n, &b);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "app=x,istio=asm-egress-test,version=v1");
	eg_buf_done(&b);
	eg_node_free(n);
}

EG_TEST(export_to_annotation)
{
	EG_ASSERT(annotation_visible(NULL, "a", "b"));
	EG_ASSERT(annotation_visible("*", "a", "b"));
	EG_ASSERT(annotation_visible(".", "a", "a"));
	EG_ASSERT(!annotation_visible(".", "a", "b"));
	EG_ASSERT(annotation_visible("x, b", "a", "b"));
	EG_ASSERT(!annotation_visible("x,y", "a", "b"));
}

EG_TEST(levels_parse_and_print)
{
	enum eg_analyze_level l;

	EG_ASSERT_EQ(eg_analyze_parse_level("warning", &l), 0);
	EG_ASSERT_EQ(l, EG_ANALYZE_WARNING);
	EG_ASSERT_EQ(eg_analyze_parse_level("ERROR", &l), 0);
	EG_ASSERT_EQ(l, EG_ANALYZE_ERROR);
	EG_ASSERT_EQ(eg_analyze_parse_level("Info", &l), 0);
	EG_ASSERT_EQ(l, EG_ANALYZE_INFO);
	EG_ASSERT_EQ(eg_analyze_parse_level("fatal", &l), -EINVAL);
	EG_ASSERT_STR_EQ(eg_analyze_level_name(EG_ANALYZE_WARNING), "Warning");
}

EG_TEST(code_table_is_complete_and_ordered)
{
	size_t n = 0;

	for (const struct eg_analyze_code *c = eg_analyze_codes; c->code; c++, n++) {
		EG_ASSERT(c->name && *c->name);
		EG_ASSERT_EQ(strlen(c->code), 7);
		/* IST codes ascending, then ours: no duplicates */
		if (n && strncmp(c[-1].code, c->code, 3) == 0)
			EG_ASSERT(strcmp(c[-1].code, c->code) < 0);
	}
	EG_ASSERT_EQ(n, C_COUNT);
}

EG_TEST(port_level_tls_does_not_inherit)
{
	const char *y = "apiVersion: networking.istio.io/v1\n"
			"kind: DestinationRule\n"
			"metadata: {name: d, namespace: n}\n"
			"spec:\n"
			"  host: h.example\n"
			"  trafficPolicy:\n"
			"    tls: {mode: ISTIO_MUTUAL}\n"
			"    portLevelSettings:\n"
			"    - port: {number: 81}\n"
			"      loadBalancer: {simple: RANDOM}\n"
			"  subsets:\n"
			"  - name: a\n"
			"  - name: b\n"
			"    trafficPolicy:\n"
			"      tls: {mode: SIMPLE}\n"
			"      portLevelSettings:\n"
			"      - port: {number: 82}\n"
			"        tls: {mode: MUTUAL}\n";
	struct eg_parse_opts po = { .default_ns = "n", .skip_rules = true };
	struct eg_resource_set set;
	struct eg_diag d;

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_model_parse("t.yaml", y, strlen(y), &po, &set, &d), 0);
	EG_ASSERT_STR_EQ(client_tls_mode(set.v[0], NULL, 80), "ISTIO_MUTUAL");
	/* the port-level entry replaces TLS even without a tls field */
	EG_ASSERT_STR_EQ(client_tls_mode(set.v[0], NULL, 81), "DISABLE");
	EG_ASSERT_STR_EQ(client_tls_mode(set.v[0], "a", 80), "ISTIO_MUTUAL");
	EG_ASSERT_STR_EQ(client_tls_mode(set.v[0], "b", 80), "SIMPLE");
	EG_ASSERT_STR_EQ(client_tls_mode(set.v[0], "b", 82), "MUTUAL");
	EG_ASSERT_STR_EQ(client_tls_mode(NULL, "b", 82), "DISABLE");
	eg_diag_done(&d);
	eg_resource_set_done(&set);
}

/* --- format, filtering, ordering --- */

EG_TEST(format_matches_istioctl)
{
	const char *out = run(MESH_REGISTRY_ONLY "apiVersion: networking.istio.io/v1\n"
						 "kind: VirtualService\n"
						 "metadata: {name: direct-cnn-through-egress-gateway}\n"
						 "spec:\n"
						 "  hosts: [edition.cnn.com]\n"
						 "  gateways:\n"
						 "  - istio-egressgateway\n"
						 "  http:\n"
						 "  - route:\n"
						 "    - destination: {host: edition.cnn.com}\n"
						 "---\n" SE_CNN);

	EG_ASSERT_CONTAINS(out, "Error [IST0101] (VirtualService aks-istio-egress/direct-cnn-through-egress-gateway t.yaml:17) Referenced gateway not found: \"istio-egressgateway\"\n");
}

EG_TEST(format_without_resource_or_file)
{
	struct eg_analyze_msg m = { &eg_analyze_codes[C_EGR0004], EG_ANALYZE_INFO, NULL, NULL, 0,
				    true, (char *)"text" };
	struct eg_buf b = EG_BUF_INIT(1024);

	EG_ASSERT_EQ(eg_analyze_format(&m, &b), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "Info [EGR0004] text");
	eg_buf_done(&b);
}

EG_TEST(no_meshconfig_is_info_only)
{
	const char *out = run(SE_CNN);

	EG_ASSERT_CONTAINS(out, "Info [EGR0004] Outbound traffic is not restricted: no MeshConfig found");
	EG_ASSERT_EQ(problems(out), 0);
}

EG_TEST(namespace_filter_keeps_mesh_wide)
{
	const char *y = "apiVersion: networking.istio.io/v1\n"
			"kind: ServiceEntry\n"
			"metadata: {name: db, namespace: other}\n"
			"spec:\n"
			"  hosts: [db.example.com]\n"
			"  ports: [{number: 5432, name: tcp, protocol: TCP}]\n";
	const char *out = run_ns(y, "aks-istio-egress");

	EG_ASSERT_EQ(count(out, "IST0134"), 0);
	EG_ASSERT_EQ(count(out, "EGR0004"), 1);
	out = run_ns(y, "other");
	EG_ASSERT_EQ(count(out, "IST0134"), 1);
	out = run_ns(y, NULL);
	EG_ASSERT_EQ(count(out, "IST0134"), 1);
}

EG_TEST(messages_sorted_by_level_then_code)
{
	const char *out = run(MESH_REGISTRY_ONLY
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: ServiceEntry\n"
			      "metadata: {name: db}\n"
			      "spec:\n"
			      "  hosts: [db.example.com]\n"
			      "  ports: [{number: 5432, name: tcp, protocol: TCP}]\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: VirtualService\n"
			      "metadata: {name: v}\n"
			      "spec:\n"
			      "  hosts: [a.example.com]\n"
			      "  http:\n"
			      "  - route:\n"
			      "    - destination: {host: a.example.com}\n");
	const char *e = strstr(out, "Error [IST0101]"), *w = strstr(out, "Warning [IST0134]");

	EG_ASSERT(e && w && e < w);
}

EG_TEST(schema_messages_and_dedupe)
{
	struct eg_analyze a;
	struct eg_resource r = { 0 };
	struct eg_node *root = eg_node_new_map();
	struct eg_buf b = EG_BUF_INIT(4096);

	EG_ASSERT(root);
	r.kind = &eg_kind_virtualservice;
	r.root = root;
	r.file = (char *)"f.yaml";
	r.ns = "ns";
	r.name = "v";
	root->pos = (struct eg_pos){ "f.yaml", 3, 1 };
	eg_analyze_init(&a);
	EG_ASSERT_EQ(eg_analyze_add_schema(&a, &r, false, 7, "spec.hosts: bad"), 0);
	EG_ASSERT_EQ(eg_analyze_add_schema(&a, &r, false, 7, "spec.hosts: bad"), 0);
	EG_ASSERT_EQ(eg_analyze_add_schema(&a, &r, true, 0, "spec.x: odd"), 0);
	EG_ASSERT_EQ(eg_analyze_run(&a, NULL, NULL, NULL), 0);
	/* the two identical errors became one; the resource-less EGR0004 joined them */
	EG_ASSERT_EQ(a.n, 3);
	EG_ASSERT_EQ(eg_analyze_format(&a.v[0], &b), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b),
			 "Error [IST0106] (VirtualService ns/v f.yaml:7) Schema validation error: spec.hosts: bad");
	b.len = 0;
	EG_ASSERT_EQ(eg_analyze_format(&a.v[1], &b), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b),
			 "Warning [IST0133] (VirtualService ns/v f.yaml:3) Schema validation warning: spec.x: odd");
	eg_buf_done(&b);
	eg_analyze_done(&a);
	eg_node_free(root);
}

EG_TEST(raw_objects_resolve_references_only)
{
	struct eg_parse_opts po = { .default_ns = "aks-istio-egress", .skip_rules = true };
	const char *valid = MESH_REGISTRY_ONLY SE_CNN
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: v}\n"
		"spec:\n"
		"  hosts: [edition.cnn.com]\n"
		"  gateways: [gw]\n"
		"  http:\n"
		"  - route:\n"
		"    - destination: {host: edition.cnn.com, port: {number: 80}}\n";
	/* a Gateway that failed validation elsewhere: it exists, its content is unknown */
	const char *bad = "apiVersion: networking.istio.io/v1\n"
			  "kind: Gateway\n"
			  "metadata: {name: gw, namespace: aks-istio-egress}\n"
			  "spec: {servers: 3}\n";
	struct eg_resource_set set, raw;
	struct eg_node **docs = NULL;
	struct eg_resource *r;
	size_t n = 0;
	struct eg_analyze a;
	struct eg_diag d;

	eg_resource_set_init(&set);
	eg_resource_set_init(&raw);
	eg_diag_init(&d);
	eg_analyze_init(&a);
	EG_ASSERT_EQ(eg_model_parse("t.yaml", valid, strlen(valid), &po, &set, &d), 0);
	EG_ASSERT_EQ(eg_yaml_load("bad.yaml", bad, strlen(bad), &d, &docs, &n), 0);
	EG_ASSERT_EQ(n, 1);
	EG_ASSERT((r = calloc(1, sizeof(*r))));
	r->kind = &eg_kind_gateway;
	r->root = docs[0];
	r->file = strdup("bad.yaml");
	eg_resource_sync(r);
	EG_ASSERT_EQ(eg_resource_set_add(&raw, r), 0);
	free(docs);
	EG_ASSERT_EQ(eg_analyze_run(&a, &set, &raw, NULL), 0);
	/* neither "gateway not found" nor IST0132 against hosts we cannot know */
	EG_ASSERT_EQ(a.n, 0);
	eg_analyze_done(&a);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	eg_resource_set_done(&raw);
}

EG_TEST(diag_lines_split)
{
	uint32_t line;
	bool warning = false;
	const char *t;

	t = split_diag_line("a/b.yaml:12:7: error: VirtualService ns/v: spec.hosts[0]: bad",
			    "VirtualService ns/v", &line, &warning);
	EG_ASSERT_STR_EQ(t, "spec.hosts[0]: bad");
	EG_ASSERT_EQ(line, 12);
	EG_ASSERT(!warning);
	t = split_diag_line("odd: name.yaml:3:1: warning: VirtualService ns/v: x: y", "VirtualService ns/v",
			    &line, &warning);
	EG_ASSERT_STR_EQ(t, "x: y");
	EG_ASSERT_EQ(line, 3);
	EG_ASSERT(warning);
	t = split_diag_line("f.yaml: error: cannot read", NULL, &line, &warning);
	EG_ASSERT_STR_EQ(t, "cannot read");
	EG_ASSERT_EQ(line, 0);
	t = split_diag_line("error: too many problems, the rest are not shown", "X", &line, &warning);
	EG_ASSERT_STR_EQ(t, "too many problems, the rest are not shown");
	EG_ASSERT(split_diag_line("no level here", "X", &line, &warning) == NULL);
}

EG_TEST(diag_warnings_map_to_codes)
{
	struct eg_analyze a;
	struct eg_resource r = { 0 };
	struct eg_node *root = eg_node_new_map();
	struct eg_diag d;
	struct eg_pos p0 = { "f.yaml", 5, 3 }, p1 = { "f.yaml", 9, 3 }, p2 = { "f.yaml", 11, 5 },
		      p3 = { "f.yaml", 14, 1 };
	struct eg_buf b = EG_BUF_INIT(1 << 16);

	EG_ASSERT(root);
	r.kind = &eg_kind_virtualservice;
	r.root = root;
	r.file = (char *)"f.yaml";
	r.ns = "ns";
	r.name = "v";
	snprintf(r.what, sizeof(r.what), "VirtualService ns/v");
	eg_diag_init(&d);
	eg_diag_add(&d, EG_DIAG_WARNING, &p0, r.what, "spec.http[1]",
		    "virtualService rule #1 not used (only the last rule can have no matches)");
	eg_diag_add(&d, EG_DIAG_WARNING, &p1, r.what, "spec.http[2].match[0]",
		    "virtualService rule #2 match #0 is not used (duplicate/overlapping match in rule #0)");
	eg_diag_add(&d, EG_DIAG_WARNING, &p2, r.what, "spec.ports[0]",
		    "addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled");
	eg_diag_add(&d, EG_DIAG_WARNING, &p3, r.what, "spec.hosts[0]", "partial wildcard: *foo.com");
	eg_diag_add(&d, EG_DIAG_ERROR, &p3, r.what, "spec", "total destination weight 0 != 100");
	eg_analyze_init(&a);
	EG_ASSERT_EQ(eg_analyze_add_diag(&a, &r, &d), 0);
	EG_ASSERT_EQ(a.n, 4);
	for (size_t i = 0; i < a.n; i++) {
		(void)eg_analyze_format(&a.v[i], &b);
		(void)eg_buf_putc(&b, '\n');
	}
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b), "Warning [IST0130] (VirtualService ns/v f.yaml:5) VirtualService rule #1 not used (only the last rule can have no matches).\n");
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b), "Info [IST0131] (VirtualService ns/v f.yaml:9) VirtualService rule #2 match #0 is not used (duplicate/overlapping match in rule #0).\n");
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b), "Warning [IST0133] (VirtualService ns/v f.yaml:14) Schema validation warning: spec.hosts[0]: partial wildcard: *foo.com\n");
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b), "Error [IST0106] (VirtualService ns/v f.yaml:14) Schema validation error: spec: total destination weight 0 != 100\n");
	eg_buf_done(&b);
	eg_diag_done(&d);
	eg_analyze_done(&a);
	eg_node_free(root);
}

/* --- IST0101 --- */

EG_TEST(ist0101_gateway_in_match)
{
	const char *out = run(MESH_REGISTRY_ONLY SE_CNN
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: VirtualService\n"
			      "metadata: {name: v}\n"
			      "spec:\n"
			      "  hosts: [edition.cnn.com]\n"
			      "  http:\n"
			      "  - match:\n"
			      "    - gateways: [mesh, other-ns/egress]\n"
			      "    route:\n"
			      "    - destination: {host: edition.cnn.com, port: {number: 80}}\n");

	EG_ASSERT_CONTAINS(out, "Referenced gateway not found: \"other-ns/egress\"");
	EG_ASSERT_EQ(problems(out), 1);
}

EG_TEST(ist0101_host_short_name_and_wildcard)
{
	const char *base = MESH_REGISTRY_ONLY
		"apiVersion: v1\n"
		"kind: Service\n"
		"metadata: {name: reviews}\n"
		"spec: {ports: [{port: 9080}]}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: ServiceEntry\n"
		"metadata: {name: wild}\n"
		"spec:\n"
		"  hosts: ['*.example.com']\n"
		"  ports: [{number: 443, name: tls, protocol: TLS}]\n"
		"  resolution: NONE\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: VirtualService\n"
		"metadata: {name: v}\n"
		"spec:\n"
		"  hosts: [reviews]\n"
		"  tcp:\n"
		"  - route:\n"
		"    - destination: {host: reviews}\n"
		"    - destination: {host: reviews.aks-istio-egress.svc.cluster.local}\n"
		"    - destination: {host: api.example.com}\n"
		"    - destination: {host: example.com}\n"
		"    - destination: {host: reviews.other.svc.cluster.local}\n";
	const char *out = run(base);

	EG_ASSERT_CONTAINS(out, "Referenced host not found: \"example.com\"");
	EG_ASSERT_CONTAINS(out, "Referenced host not found: \"reviews.other.svc.cluster.local\"");
	EG_ASSERT_EQ(count(out, "IST0101"), 2);
}

EG_TEST(ist0101_export_to_hides_hosts)
{
	const char *out = run(MESH_REGISTRY_ONLY
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: ServiceEntry\n"
			      "metadata: {name: se, namespace: team-a}\n"
			      "spec:\n"
			      "  hosts: [a.example.com]\n"
			      "  exportTo: [.]\n"
			      "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
			      "---\n"
			      "apiVersion: v1\n"
			      "kind: Service\n"
			      "metadata:\n"
			      "  name: private\n"
			      "  namespace: team-a\n"
			      "  annotations: {networking.istio.io/exportTo: .}\n"
			      "spec: {ports: [{port: 80}]}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: VirtualService\n"
			      "metadata: {name: v, namespace: team-b}\n"
			      "spec:\n"
			      "  hosts: [a.example.com]\n"
			      "  http:\n"
			      "  - route:\n"
			      "    - {destination: {host: a.example.com}, weight: 50}\n"
			      "    - {destination: {host: private.team-a.svc.cluster.local}, weight: 50}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: VirtualService\n"
			      "metadata: {name: v, namespace: team-a}\n"
			      "spec:\n"
			      "  hosts: [a2.example.com]\n"
			      "  http:\n"
			      "  - route:\n"
			      "    - {destination: {host: a.example.com}, weight: 50}\n"
			      "    - {destination: {host: private}, weight: 50}\n");

	EG_ASSERT_CONTAINS(out, "Referenced host not found: \"a.example.com\"");
	EG_ASSERT_CONTAINS(out, "Referenced host not found: \"private.team-a.svc.cluster.local\"");
	EG_ASSERT_EQ(count(out, "(VirtualService team-b/v"), 2);
	EG_ASSERT_EQ(count(out, "(VirtualService team-a/v"), 0);
}

EG_TEST(ist0101_host_port)
{
	const char *out = run(MESH_REGISTRY_ONLY SE_CNN
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: VirtualService\n"
			      "metadata: {name: v}\n"
			      "spec:\n"
			      "  hosts: [edition.cnn.com]\n"
			      "  http:\n"
			      "  - route:\n"
			      "    - destination: {host: edition.cnn.com, port: {number: 8080}}\n");

	EG_ASSERT_CONTAINS(out, "Referenced host:port not found: \"edition.cnn.com:8080\"");
	EG_ASSERT_EQ(problems(out), 1);
}

EG_TEST(ist0101_subset_via_wildcard_dr)
{
	const char *vs = "apiVersion: networking.istio.io/v1\n"
			 "kind: VirtualService\n"
			 "metadata: {name: v}\n"
			 "spec:\n"
			 "  hosts: [edition.cnn.com]\n"
			 "  http:\n"
			 "  - route:\n"
			 "    - destination: {host: edition.cnn.com, subset: v1, port: {number: 80}}\n"
			 "---\n";
	char y[4096];
	const char *out;

	snprintf(y, sizeof(y), "%s%s%s", MESH_REGISTRY_ONLY SE_CNN, vs,
		 "apiVersion: networking.istio.io/v1\n"
		 "kind: DestinationRule\n"
		 "metadata: {name: d}\n"
		 "spec:\n"
		 "  host: '*.cnn.com'\n"
		 "  subsets: [{name: v1}]\n");
	out = run(y);
	EG_ASSERT_EQ(problems(out), 0);
	snprintf(y, sizeof(y), "%s%s%s", MESH_REGISTRY_ONLY SE_CNN, vs,
		 "apiVersion: networking.istio.io/v1\n"
		 "kind: DestinationRule\n"
		 "metadata: {name: d}\n"
		 "spec:\n"
		 "  host: edition.cnn.com\n"
		 "  subsets: [{name: v2}]\n");
	out = run(y);
	EG_ASSERT_CONTAINS(out, "Referenced host+subset in destinationrule not found: \"edition.cnn.com+v1\"");
	EG_ASSERT_EQ(problems(out), 1);
}

EG_TEST(ist0101_selectors)
{
	const char *out = run(MESH_REGISTRY_ONLY GATEWAY_INFRA
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: Gateway\n"
			      "metadata: {name: gw}\n"
			      "spec:\n"
			      "  selector: {istio: asm-egress-test, version: v2}\n"
			      "  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: Sidecar\n"
			      "metadata: {name: s}\n"
			      "spec:\n"
			      "  workloadSelector: {labels: {app: nothing}}\n"
			      "  egress: [{hosts: ['./*']}]\n");

	EG_ASSERT_CONTAINS(out, "(Gateway aks-istio-egress/gw t.yaml:41) Referenced selector not found: \"istio=asm-egress-test,version=v2\"");
	EG_ASSERT_CONTAINS(out, "(Sidecar aks-istio-egress/s t.yaml:48) Referenced selector not found: \"app=nothing\"");
	EG_ASSERT_EQ(problems(out), 2);
}

/* --- IST0109 --- */

EG_TEST(ist0109_respects_export_scope)
{
	const char *vs_a = "apiVersion: networking.istio.io/v1\n"
			   "kind: VirtualService\n"
			   "metadata: {name: a, namespace: team-a}\n"
			   "spec:\n"
			   "  hosts: [edition.cnn.com]\n"
			   "  exportTo: [.]\n"
			   "  tcp: [{route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]}]\n"
			   "---\n";
	const char *vs_b = "apiVersion: networking.istio.io/v1\n"
			   "kind: VirtualService\n"
			   "metadata: {name: b, namespace: team-b}\n"
			   "spec:\n"
			   "  hosts: [edition.cnn.com]\n"
			   "  exportTo: [.]\n"
			   "  tcp: [{route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]}]\n"
			   "---\n";
	const char *vs_c = "apiVersion: networking.istio.io/v1\n"
			   "kind: VirtualService\n"
			   "metadata: {name: c, namespace: team-b}\n"
			   "spec:\n"
			   "  hosts: [edition.cnn.com]\n"
			   "  gateways: [mesh]\n"
			   "  exportTo: [team-b]\n"
			   "  tcp: [{route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]}]\n";
	char y[8192];
	const char *out;

	snprintf(y, sizeof(y), "%s%s%s", MESH_REGISTRY_ONLY SE_CNN, vs_a, vs_b);
	out = run(y);
	EG_ASSERT_EQ(count(out, "IST0109"), 0);
	snprintf(y, sizeof(y), "%s%s%s%s", MESH_REGISTRY_ONLY SE_CNN, vs_a, vs_b, vs_c);
	out = run(y);
	EG_ASSERT_EQ(count(out, "IST0109"), 2);
	EG_ASSERT_CONTAINS(out, "The VirtualServices team-b/b,team-b/c associated with mesh gateway define the same host team-b/edition.cnn.com");
}

/* --- IST0110, IST0111 --- */

EG_TEST(ist0110_ist0111_sidecars)
{
	const char *out = run(MESH_REGISTRY_ONLY
			      "apiVersion: apps/v1\n"
			      "kind: Deployment\n"
			      "metadata: {name: curl}\n"
			      "spec: {template: {metadata: {labels: {app: curl, tier: web}}}}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: Sidecar\n"
			      "metadata: {name: z}\n"
			      "spec: {workloadSelector: {labels: {app: curl}}, egress: [{hosts: ['./*']}]}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: Sidecar\n"
			      "metadata: {name: a}\n"
			      "spec: {workloadSelector: {labels: {tier: web}}, egress: [{hosts: ['./*']}]}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: Sidecar\n"
			      "metadata: {name: one, namespace: other}\n"
			      "spec: {egress: [{hosts: ['./*']}]}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: Sidecar\n"
			      "metadata: {name: two, namespace: other}\n"
			      "spec: {egress: [{hosts: ['./*']}]}\n");

	EG_ASSERT_CONTAINS(out, "The Sidecars [a z] in namespace \"aks-istio-egress\" select the same workload pod \"curl\"");
	EG_ASSERT_EQ(count(out, "IST0110"), 2);
	EG_ASSERT_CONTAINS(out, "The Sidecars [one two] in namespace \"other\" have no workload selector");
	EG_ASSERT_EQ(count(out, "IST0111"), 2);
	EG_ASSERT_EQ(problems(out), 4);
}

/* --- IST0112 --- */

EG_TEST(ist0112_service_ports)
{
	const char *out = run(MESH_REGISTRY_ONLY GATEWAY_INFRA
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: VirtualService\n"
			      "metadata: {name: v}\n"
			      "spec:\n"
			      "  hosts: [x.example.com]\n"
			      "  gateways: [mesh]\n"
			      "  tcp: [{route: [{destination: {host: asm-egress-test}}]}]\n");

	EG_ASSERT_CONTAINS(out, "This VirtualService routes to a service \"asm-egress-test\" that exposes multiple ports [15021 80 443].");
	EG_ASSERT_EQ(problems(out), 1);
}

/* --- IST0128, IST0129 --- */

EG_TEST(ist0128_levels_and_exemptions)
{
	const char *out = run(MESH_REGISTRY_ONLY
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: DestinationRule\n"
			      "metadata: {name: plain}\n"
			      "spec: {host: a.example.com, trafficPolicy: {tls: {mode: SIMPLE}}}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: DestinationRule\n"
			      "metadata: {name: insecure}\n"
			      "spec: {host: b.example.com, trafficPolicy: {tls: {mode: MUTUAL, insecureSkipVerify: true}}}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: DestinationRule\n"
			      "metadata: {name: ca}\n"
			      "spec: {host: c.example.com, trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /ca.pem}}}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: DestinationRule\n"
			      "metadata: {name: cred}\n"
			      "spec: {host: d.example.com, trafficPolicy: {tls: {mode: SIMPLE, credentialName: c}}}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: DestinationRule\n"
			      "metadata: {name: mesh}\n"
			      "spec: {host: e.example.com, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}\n");

	EG_ASSERT_CONTAINS(out, "Info [IST0128] (DestinationRule aks-istio-egress/plain");
	EG_ASSERT_CONTAINS(out, "Warning [IST0128] (DestinationRule aks-istio-egress/insecure");
	EG_ASSERT_CONTAINS(out, "has TLS mode set to MUTUAL but no caCertificates are set to validate server identity for host: b.example.com\n");
	EG_ASSERT_EQ(count(out, "IST0128"), 2);
}

/* --- IST0130, IST0131 --- */

EG_TEST(ist0130_ist0131_rules)
{
	const char *out = run(MESH_REGISTRY_ONLY SE_CNN
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: VirtualService\n"
			      "metadata: {name: v}\n"
			      "spec:\n"
			      "  hosts: [edition.cnn.com]\n"
			      "  http:\n"
			      "  - match: [{uri: {prefix: /a}}, {uri: {prefix: /b}}]\n"
			      "    route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]\n"
			      "  - name: again\n"
			      "    match: [{name: x, uri: {prefix: /b}}, {uri: {prefix: /a}}]\n"
			      "    route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]\n"
			      "  - route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]\n"
			      "  - match: [{uri: {prefix: /c}}]\n"
			      "    route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]\n"
			      "  tls:\n"
			      "  - match: [{port: 443, sniHosts: [edition.cnn.com]}]\n"
			      "    route: [{destination: {host: edition.cnn.com, port: {number: 443}}}]\n"
			      "  - match: [{port: 443, sniHosts: [edition.cnn.com]}]\n"
			      "    route: [{destination: {host: edition.cnn.com, port: {number: 443}}}]\n");

	EG_ASSERT_CONTAINS(out, "VirtualService rule \"again\" match \"x\" is not used (duplicate/overlapping match in rule #0).");
	EG_ASSERT_CONTAINS(out, "VirtualService rule \"again\" match #1 is not used (duplicate/overlapping match in rule #0).");
	EG_ASSERT_CONTAINS(out, "VirtualService rule \"again\" not used (all matches used by prior rules).");
	EG_ASSERT_CONTAINS(out, "VirtualService rule #3 not used (route without matches defined before).");
	EG_ASSERT_CONTAINS(out, "VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0).");
	EG_ASSERT_CONTAINS(out, "VirtualService rule #1 not used (all matches used by prior rules).");
	EG_ASSERT_EQ(count(out, "IST0130"), 3);
	EG_ASSERT_EQ(count(out, "IST0131"), 3);
}

/* --- IST0132 --- */

EG_TEST(ist0132_namespace_scoped_server_hosts)
{
	const char *vs = "apiVersion: networking.istio.io/v1\n"
			 "kind: VirtualService\n"
			 "metadata: {name: v}\n"
			 "spec:\n"
			 "  hosts: [edition.cnn.com]\n"
			 "  gateways: [gw]\n"
			 "  http: [{route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]}]\n"
			 "---\n";
	char y[8192];
	const char *out;

	snprintf(y, sizeof(y), "%s%s", MESH_REGISTRY_ONLY GATEWAY_INFRA SE_CNN
		 GATEWAY("gw", "80", "HTTP", "[other/edition.cnn.com]", ""), vs);
	out = run(y);
	EG_ASSERT_CONTAINS(out, "one or more host [edition.cnn.com] defined in VirtualService aks-istio-egress/v not found in Gateway aks-istio-egress/gw.");
	EG_ASSERT_EQ(problems(out), 1);
	snprintf(y, sizeof(y), "%s%s", MESH_REGISTRY_ONLY GATEWAY_INFRA SE_CNN
		 GATEWAY("gw", "80", "HTTP", "[./*.cnn.com]", ""), vs);
	out = run(y);
	EG_ASSERT_EQ(problems(out), 0);
}

/* --- IST0134 --- */

EG_TEST(ist0134_and_auto_allocation)
{
	const char *se = "apiVersion: networking.istio.io/v1\n"
			 "kind: ServiceEntry\n"
			 "metadata: {name: db}\n"
			 "spec:\n"
			 "  hosts: [db.example.com]\n"
			 "  ports:\n"
			 "  - {number: 5432, name: pg}\n"
			 "  - {number: 5433, name: pg2, protocol: tcp}\n"
			 "  - {number: 443, name: tls, protocol: TLS}\n"
			 "---\n";
	char y[4096];
	const char *out;

	snprintf(y, sizeof(y), "%s%s", MESH_REGISTRY_ONLY, se);
	out = run(y);
	EG_ASSERT_EQ(count(out, "IST0134"), 2);
	snprintf(y, sizeof(y), "%s%s",
		 "apiVersion: v1\n"
		 "kind: ConfigMap\n"
		 "metadata: {name: istio, namespace: istio-system}\n"
		 "data:\n"
		 "  mesh: |\n"
		 "    outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n"
		 "    defaultConfig:\n"
		 "      proxyMetadata:\n"
		 "        ISTIO_META_DNS_CAPTURE: \"true\"\n"
		 "        ISTIO_META_DNS_AUTO_ALLOCATE: \"true\"\n"
		 "---\n",
		 se);
	out = run(y);
	EG_ASSERT_EQ(count(out, "IST0134"), 0);
	EG_ASSERT_EQ(count(out, "EGR0004"), 0);
}

/* --- IST0145, IST0162 --- */

EG_TEST(ist0145_conflicting_gateways)
{
	const char *out = run(MESH_REGISTRY_ONLY GATEWAY_INFRA
			      GATEWAY("a", "443", "TLS", "['*.cnn.com']", "    tls: {mode: PASSTHROUGH}\n")
			      GATEWAY("b", "443", "TLS", "[./edition.cnn.com]", "    tls: {mode: PASSTHROUGH}\n")
			      GATEWAY("c", "80", "HTTP", "[edition.cnn.com]", ""));

	EG_ASSERT_CONTAINS(out, "(Gateway aks-istio-egress/a t.yaml:");
	EG_ASSERT_CONTAINS(out, "Conflict with gateways aks-istio-egress/b (workload selector istio=asm-egress-test, port 443, hosts *.cnn.com).");
	EG_ASSERT_CONTAINS(out, "Conflict with gateways aks-istio-egress/a (workload selector istio=asm-egress-test, port 443, hosts ./edition.cnn.com).");
	EG_ASSERT_EQ(problems(out), 2);
}

EG_TEST(ist0162_port_or_target_port)
{
	const char *out = run(MESH_REGISTRY_ONLY GATEWAY_INFRA
			      GATEWAY("a", "8080", "HTTP", "[edition.cnn.com]", "")
			      GATEWAY("b", "81", "HTTP", "[edition.cnn.com]", ""));

	EG_ASSERT_CONTAINS(out, "(Gateway aks-istio-egress/b t.yaml:");
	EG_ASSERT_CONTAINS(out, "listening on a target port (port 81) that is not defined in the Service associated with its workload instances (Pod selector istio=asm-egress-test).");
	EG_ASSERT_EQ(problems(out), 1);
}

/* --- EGR0001, EGR0002 --- */

EG_TEST(egr0001_port_without_server)
{
	char y[8192];
	const char *out;

	snprintf(y, sizeof(y), "%s", MESH_REGISTRY_ONLY GATEWAY_INFRA SE_CNN
		 GATEWAY("gw", "80", "HTTP", "[edition.cnn.com]", "") DR_GW("") MESH_TO_GATEWAY("443"));
	out = run(y);
	EG_ASSERT_CONTAINS(out, "Error [EGR0001] (VirtualService aks-istio-egress/cnn t.yaml:");
	EG_ASSERT_CONTAINS(out, "Host \"edition.cnn.com\" is sent to egress gateway " GW_SVC " port 443 (listener port 8443)");
	EG_ASSERT_EQ(problems(out), 1);
	/* a server on the targetPort counts, as egressd maps it back to the service port */
	snprintf(y, sizeof(y), "%s", MESH_REGISTRY_ONLY GATEWAY_INFRA SE_CNN
		 GATEWAY("gw", "8443", "TLS", "['*']", "    tls: {mode: PASSTHROUGH}\n") DR_GW("")
		 MESH_TO_GATEWAY("443"));
	out = run(y);
	EG_ASSERT_EQ(problems(out), 0);
}

EG_TEST(egr0001_host_not_on_server)
{
	const char *out = run(MESH_REGISTRY_ONLY GATEWAY_INFRA SE_CNN
			      GATEWAY("gw", "80", "HTTP", "[api.example.com, '*.bbc.com']", "") DR_GW("")
			      MESH_TO_GATEWAY("80"));

	EG_ASSERT_EQ(count(out, "EGR0001"), 1);
	EG_ASSERT_EQ(problems(out), 1);
}

EG_TEST(egr0001_ignores_plain_services)
{
	/* a Service whose pods no Gateway selects and that has no SGC annotation */
	const char *out = run(MESH_REGISTRY_ONLY
			      "apiVersion: apps/v1\n"
			      "kind: Deployment\n"
			      "metadata: {name: web}\n"
			      "spec: {template: {metadata: {labels: {app: web}}}}\n"
			      "---\n"
			      "apiVersion: v1\n"
			      "kind: Service\n"
			      "metadata: {name: web}\n"
			      "spec: {selector: {app: web}, ports: [{port: 80}]}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: VirtualService\n"
			      "metadata: {name: v}\n"
			      "spec:\n"
			      "  hosts: [edition.cnn.com]\n"
			      "  http: [{route: [{destination: {host: web}}]}]\n");

	EG_ASSERT_EQ(problems(out), 0);
}

EG_TEST(egr0002_both_directions)
{
	char y[8192];
	const char *out;

	/* the sidecar originates Istio mTLS, the server is plain HTTP */
	snprintf(y, sizeof(y), "%s", MESH_REGISTRY_ONLY GATEWAY_INFRA SE_CNN
		 GATEWAY("gw", "80", "HTTP", "[edition.cnn.com]", "")
		 DR_GW("    trafficPolicy: {tls: {mode: ISTIO_MUTUAL, sni: edition.cnn.com}}\n")
		 MESH_TO_GATEWAY("80"));
	out = run(y);
	EG_ASSERT_CONTAINS(out, "The sidecar->gateway hop for host \"edition.cnn.com\" uses Istio mTLS (DestinationRule aks-istio-egress/egressgateway-for-cnn: tls.mode ISTIO_MUTUAL for " GW_SVC " subset cnn port 80), but Gateway aks-istio-egress/gw serves port 80 for this host without ISTIO_MUTUAL (protocol HTTP, tls.mode unset)");
	EG_ASSERT_EQ(problems(out), 1);
	/* the server wants Istio mTLS, no DestinationRule at all */
	snprintf(y, sizeof(y), "%s", MESH_REGISTRY_ONLY GATEWAY_INFRA SE_CNN
		 GATEWAY("gw", "80", "HTTPS", "[edition.cnn.com]", "    tls: {mode: ISTIO_MUTUAL}\n")
		 "apiVersion: networking.istio.io/v1\n"
		 "kind: VirtualService\n"
		 "metadata: {name: cnn}\n"
		 "spec:\n"
		 "  hosts: [edition.cnn.com]\n"
		 "  http: [{route: [{destination: {host: " GW_SVC ", port: {number: 80}}}]}]\n");
	out = run(y);
	EG_ASSERT_CONTAINS(out, "(no DestinationRule sets TLS for " GW_SVC " port 80)");
	EG_ASSERT_EQ(problems(out), 1);
	/* both sides agree through the top-level port-level settings */
	snprintf(y, sizeof(y), "%s", MESH_REGISTRY_ONLY GATEWAY_INFRA SE_CNN
		 GATEWAY("gw", "80", "HTTPS", "[edition.cnn.com]", "    tls: {mode: ISTIO_MUTUAL}\n")
		 "apiVersion: networking.istio.io/v1\n"
		 "kind: DestinationRule\n"
		 "metadata: {name: egressgateway-for-cnn}\n"
		 "spec:\n"
		 "  host: " GW_SVC "\n"
		 "  trafficPolicy:\n"
		 "    portLevelSettings: [{port: {number: 80}, tls: {mode: ISTIO_MUTUAL}}]\n"
		 "  subsets: [{name: cnn}]\n"
		 "---\n" MESH_TO_GATEWAY("80"));
	out = run(y);
	EG_ASSERT_EQ(problems(out), 0);
}

/* --- EGR0003 --- */

EG_TEST(egr0003_only_for_different_destinations)
{
	const char *vs = "apiVersion: networking.istio.io/v1\n"
			 "kind: VirtualService\n"
			 "metadata: {name: %s}\n"
			 "spec:\n"
			 "  hosts: ['%s']\n"
			 "  gateways: [gw]\n"
			 "  tls:\n"
			 "  - match: [{port: 443, sniHosts: ['%s']}]\n"
			 "    route: [{destination: {host: %s, port: {number: 443}}}]\n"
			 "---\n";
	char a[1024], b[1024], y[8192];
	const char *out;

	snprintf(a, sizeof(a), vs, "a", "*.cnn.com", "*.cnn.com", "edition.cnn.com");
	snprintf(b, sizeof(b), vs, "b", "edition.cnn.com", "edition.cnn.com", "edition.cnn.com");
	snprintf(y, sizeof(y), "%s%s%s", MESH_REGISTRY_ONLY GATEWAY_INFRA SE_CNN
		 GATEWAY("gw", "443", "TLS", "['*.cnn.com']", "    tls: {mode: PASSTHROUGH}\n"), a, b);
	out = run(y);
	EG_ASSERT_EQ(problems(out), 0);
	snprintf(b, sizeof(b), vs, "b", "edition.cnn.com", "edition.cnn.com", "other.cnn.com");
	snprintf(y, sizeof(y), "%s%s%s", MESH_REGISTRY_ONLY GATEWAY_INFRA SE_CNN
		 "apiVersion: networking.istio.io/v1\n"
		 "kind: ServiceEntry\n"
		 "metadata: {name: other}\n"
		 "spec: {hosts: [other.cnn.com], ports: [{number: 443, name: tls, protocol: TLS}], resolution: DNS}\n"
		 "---\n"
		 GATEWAY("gw", "443", "TLS", "['*.cnn.com']", "    tls: {mode: PASSTHROUGH}\n"), a, b);
	out = run(y);
	EG_ASSERT_CONTAINS(out, "Warning [EGR0003] (VirtualService aks-istio-egress/b t.yaml:");
	EG_ASSERT_CONTAINS(out, "SNI host \"edition.cnn.com\" (tls rule #0) overlaps SNI host \"*.cnn.com\" of VirtualService aks-istio-egress/a (tls rule #0) on PASSTHROUGH port 443");
	EG_ASSERT_EQ(problems(out), 1);
}

/* --- EGR0004 --- */

EG_TEST(egr0004_mesh_config)
{
	const char *out = run(MESH_REGISTRY_ONLY);

	EG_ASSERT_EQ(count(out, "EGR0004"), 0);
	out = run("apiVersion: v1\n"
		  "kind: ConfigMap\n"
		  "metadata: {name: istio-shared-configmap-asm-1-24, namespace: aks-istio-system}\n"
		  "data: {mesh: 'accessLogFile: /dev/stdout'}\n");
	EG_ASSERT_CONTAINS(out, "Info [EGR0004] (ConfigMap aks-istio-system/istio-shared-configmap-asm-1-24 t.yaml:4) Outbound traffic is not restricted: this MeshConfig sets outboundTrafficPolicy.mode to ALLOW_ANY (the default)");
	/* a ConfigMap that is not a MeshConfig location does not count */
	out = run("apiVersion: v1\n"
		  "kind: ConfigMap\n"
		  "metadata: {name: istio-shared-configmap-asm-1-24, namespace: default}\n"
		  "data: {mesh: 'outboundTrafficPolicy: {mode: REGISTRY_ONLY}'}\n");
	EG_ASSERT_CONTAINS(out, "no MeshConfig found");
	out = run("apiVersion: v1\n"
		  "kind: ConfigMap\n"
		  "metadata: {name: istio, namespace: istio-system}\n"
		  "data: {mesh: '[not, a, map]'}\n");
	/* the ConfigMap's webhook rules say what is wrong; no "no MeshConfig found" on top */
	EG_ASSERT_CONTAINS(out, "Error [IST0106] (ConfigMap istio-system/istio t.yaml:4) Schema validation error: data.mesh: ");
	EG_ASSERT_EQ(count(out, "EGR0004"), 0);
}

/* --- EGR0005, EGR0006 --- */

EG_TEST(egr0005_egr0006_static_gateway_configuration)
{
	const char *dep = "apiVersion: apps/v1\n"
			  "kind: Deployment\n"
			  "metadata: {name: gw}\n"
			  "spec:\n"
			  "  template:\n"
			  "    metadata:\n"
			  "      labels: {istio: gw}\n"
			  "      annotations: {kubernetes.azure.com/static-gateway-configuration: sgc}\n"
			  "---\n";
	char y[4096];
	const char *out;

	snprintf(y, sizeof(y), "%s%s", MESH_REGISTRY_ONLY, dep);
	out = run(y);
	EG_ASSERT_CONTAINS(out, "use StaticGatewayConfiguration \"sgc\", which does not exist in namespace aks-istio-egress");
	EG_ASSERT_EQ(problems(out), 1);
	snprintf(y, sizeof(y), "%s%s%s", MESH_REGISTRY_ONLY, dep,
		 "apiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"
		 "kind: StaticGatewayConfiguration\n"
		 "metadata: {name: sgc, namespace: elsewhere}\n"
		 "spec: {gatewayNodepoolName: gw}\n"
		 "status: {egressIpPrefix: 20.65.41.84/30}\n");
	out = run(y);
	EG_ASSERT_EQ(count(out, "EGR0005"), 1);
	snprintf(y, sizeof(y), "%s%s%s", MESH_REGISTRY_ONLY, dep,
		 "apiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"
		 "kind: StaticGatewayConfiguration\n"
		 "metadata: {name: sgc}\n"
		 "spec: {gatewayNodepoolName: gw}\n"
		 "status: {egressIpPrefix: ''}\n");
	out = run(y);
	EG_ASSERT_CONTAINS(out, "Warning [EGR0006] (Deployment aks-istio-egress/gw t.yaml:18) StaticGatewayConfiguration aks-istio-egress/sgc has no status.egressIpPrefix yet");
	EG_ASSERT_EQ(problems(out), 1);
}

/* --- robustness --- */

EG_TEST(odd_shapes_do_not_crash)
{
	/* schema-valid but unusual: empty lists, no spec, a rule without routes */
	const char *out = run(MESH_REGISTRY_ONLY
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: VirtualService\n"
			      "metadata: {name: v}\n"
			      "spec:\n"
			      "  hosts: []\n"
			      "  gateways: []\n"
			      "  http: [{match: []}, {}]\n"
			      "  tls: [{match: [{}]}]\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: Gateway\n"
			      "metadata: {name: g}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: DestinationRule\n"
			      "metadata: {name: d}\n"
			      "spec: {trafficPolicy: {portLevelSettings: [{}]}, subsets: [{name: s}]}\n"
			      "---\n"
			      "apiVersion: networking.istio.io/v1\n"
			      "kind: Sidecar\n"
			      "metadata: {name: s}\n"
			      "---\n"
			      "apiVersion: apps/v1\n"
			      "kind: Deployment\n"
			      "metadata: {name: d}\n"
			      "spec: {template: {}}\n");

	EG_ASSERT(strncmp(out, "PARSE", 5) != 0);
	EG_ASSERT(strncmp(out, "RUN", 3) != 0);
}
