/* tests/unit/test_proxy_policy.c: the outbound policy decisions (src/policy) on snapshots
 * compiled from the how-to's resources (tests/testdata/compile), and the deny reasons. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"
#include "model/diag.h"
#include "model/model.h"
#include "policy/policy.h"
#include "eg_test.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Compiles the sidecar of the curl workload from the named testdata files. */
static struct eg_snapshot *sidecar_from(const char *const *files, size_t n)
{
	struct eg_parse_opts po = {.default_ns = "default"};
	struct eg_resource_set set;
	struct eg_diag d;
	struct eg_snapshot *s = NULL;
	struct eg_proxy_id who = {
	        .role = EG_ROLE_SIDECAR, .ns = "aks-istio-egress", .service_account = "curl"};

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	for (size_t i = 0; i < n; i++) {
		char path[256];
		char *text;

		snprintf(path, sizeof(path), "tests/testdata/compile/%s", files[i]);
		text = slurp(path);
		if (!text)
			EG_FAIL("cannot read %s", path);
		if (eg_model_parse(path, text, strlen(text), &po, &set, &d) < 0) {
			printf("%s", eg_diag_text(&d));
			free(text);
			EG_FAIL("%s does not parse", path);
		}
		free(text);
	}
	if (eg_compile(&set, &who, &s, &d) < 0) {
		printf("%s", eg_diag_text(&d));
		EG_FAIL("compile failed");
	}
	eg_resource_set_done(&set);
	eg_diag_done(&d);
	return s;
}

static const char *const registry_only[] = {"base.yaml", "mesh-registry-only.yaml",
                                            "scenario-http.yaml"};
static const char *const allow_any[] = {"base.yaml", "mesh-allow-any.yaml"};

static void decide(const struct eg_snapshot *s, const char *host, uint16_t port,
                   enum eg_policy_verdict want, const char *rule)
{
	struct eg_policy_decision d;

	EG_ASSERT_EQ(eg_policy_decide(s, eg_str_c(host), port, &d), 0);
	if (d.verdict != want || strcmp(d.rule, rule) != 0)
		EG_FAIL("%s:%u: verdict %d rule %s, want %d %s", host, port, d.verdict, d.rule,
		        want, rule);
}

EG_TEST(registry_only_allows_the_service_entry_host)
{
	struct eg_snapshot *s = sidecar_from(registry_only, 3);

	decide(s, "edition.cnn.com", 80, EG_POLICY_ALLOW, "route");
	decide(s, "EDITION.cnn.com", 80, EG_POLICY_ALLOW, "route");
	decide(s, "edition.cnn.com", 443, EG_POLICY_ALLOW, "sni");
	eg_snapshot_unref(s);
}

EG_TEST(registry_only_denies_unknown_hosts_on_every_port)
{
	struct eg_snapshot *s = sidecar_from(registry_only, 3);

	decide(s, "other.example.com", 80, EG_POLICY_DENY, "block_all");
	decide(s, "other.example.com", 443, EG_POLICY_DENY, "BlackHoleCluster");
	decide(s, "edition.cnn.com", 8081, EG_POLICY_DENY, "BlackHoleCluster");
	decide(s, "10.1.2.3", 22, EG_POLICY_DENY, "BlackHoleCluster");
	eg_snapshot_unref(s);
}

EG_TEST(allow_any_passes_unknown_hosts)
{
	struct eg_snapshot *s = sidecar_from(allow_any, 2);

	decide(s, "other.example.com", 80, EG_POLICY_ALLOW, "allow_any");
	decide(s, "other.example.com", 443, EG_POLICY_ALLOW, "PassthroughCluster");
	decide(s, "other.example.com", 9999, EG_POLICY_ALLOW, "PassthroughCluster");
	eg_snapshot_unref(s);
}

EG_TEST(deny_reason_names_host_and_rule)
{
	struct eg_snapshot *s = sidecar_from(registry_only, 3);
	char buf[EG_POLICY_REASON_MAX];
	size_t n = eg_policy_deny_reason(s, EG_STR("edition.cnn.com"), buf, sizeof(buf));

	EG_ASSERT_STR_EQ(buf, "edition.cnn.com: not in the service registry (outboundTrafficPolicy "
	                      "REGISTRY_ONLY, MeshConfig ConfigMap "
	                      "aks-istio-system/istio-shared-configmap-asm-1-24)");
	EG_ASSERT_EQ(n, strlen(buf));
	EG_ASSERT_STR_EQ(eg_policy_deny_label(s), "registry_only");
	/* cut, never overflowing */
	n = eg_policy_deny_reason(s, EG_STR("edition.cnn.com"), buf, 10);
	EG_ASSERT_EQ(n, 9);
	EG_ASSERT_STR_EQ(buf, "edition.c");
	eg_snapshot_unref(s);
}

EG_TEST(deny_routes_and_blackhole_detection)
{
	struct eg_weighted_cluster bh = {.name = "BlackHoleCluster", .weight = 100};
	struct eg_weighted_cluster pt = {.name = "PassthroughCluster", .weight = 100};
	struct eg_tcp_route r1 = {.clusters = &bh, .nclusters = 1, .total_weight = 100};
	struct eg_tcp_route r2 = {.clusters = &pt, .nclusters = 1, .total_weight = 100};
	struct eg_route deny = {.action = EG_ACTION_DIRECT, .deny_reason = "x"};
	struct eg_route direct = {.action = EG_ACTION_DIRECT};

	EG_ASSERT(eg_policy_tcp_denies(&r1));
	EG_ASSERT(!eg_policy_tcp_denies(&r2));
	EG_ASSERT(eg_policy_tcp_denies(NULL));
	EG_ASSERT(eg_policy_route_denies(&deny));
	EG_ASSERT(!eg_policy_route_denies(&direct));
	EG_ASSERT(!eg_policy_route_denies(NULL));
}

EG_TEST(no_capture_listener_is_enoent)
{
	struct eg_parse_opts po = {.default_ns = "default"};
	struct eg_resource_set set;
	struct eg_diag d;
	struct eg_snapshot *s = NULL;
	struct eg_policy_decision dec;
	struct eg_proxy_id who = {
	        .role = EG_ROLE_GATEWAY, .ns = "aks-istio-egress", .name = "asm-egress-test"};
	char *text = slurp("tests/testdata/compile/base.yaml");

	EG_ASSERT(text != NULL);
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_model_parse("base.yaml", text, strlen(text), &po, &set, &d), 0);
	EG_ASSERT_EQ(eg_compile(&set, &who, &s, &d), 0);
	EG_ASSERT_EQ(eg_policy_decide(s, EG_STR("a.b"), 80, &dec), -ENOENT);
	eg_snapshot_unref(s);
	eg_resource_set_done(&set);
	eg_diag_done(&d);
	free(text);
}
