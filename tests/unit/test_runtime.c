/* tests/unit/test_runtime.c: the pure parts of the local cluster (src/runtime/plan.c). */
#include <errno.h>
#include <stdlib.h>

#include "eg_test.h"
#include "runtime/runtime.h"

EG_TEST(config_round_trip)
{
	struct eg_rt_config c, back;
	char text[8192];

	eg_rt_config_default(&c, EG_RT_NETNS);
	EG_ASSERT_STR_EQ(c.pod_cidr, EG_RT_NETNS_PODS);
	EG_ASSERT_STR_EQ(c.prefix, "egd");
	snprintf(c.egressd, sizeof(c.egressd), "/opt/egressd");
	snprintf(c.hosts_file, sizeof(c.hosts_file), "/s/cluster/hosts");
	c.workers = 3;
	EG_ASSERT_EQ(eg_rt_config_format(&c, text, sizeof(text)), 0);
	EG_ASSERT_CONTAINS(text, "mode netns\n");
	EG_ASSERT_CONTAINS(text, "ca-bundle -\n");
	EG_ASSERT_EQ(eg_rt_config_parse(text, &back), 0);
	EG_ASSERT_EQ(back.mode, EG_RT_NETNS);
	EG_ASSERT_STR_EQ(back.egressd, "/opt/egressd");
	EG_ASSERT_STR_EQ(back.hosts_file, "/s/cluster/hosts");
	EG_ASSERT_STR_EQ(back.ca_bundle, "");
	EG_ASSERT_EQ(back.workers, 3);
	EG_ASSERT_STR_EQ(back.revision, "asm-1-24");
}

EG_TEST(config_refuses_bad_values)
{
	struct eg_rt_config c;

	EG_ASSERT_EQ(eg_rt_config_parse("mode bridge\nprefix egd\n", &c), -EINVAL);
	EG_ASSERT_EQ(eg_rt_config_parse("mode netns\nprefix Egd\n", &c), -EINVAL);
	EG_ASSERT_EQ(eg_rt_config_parse("mode netns\nprefix egd\nworkers 0\n", &c), -EINVAL);
	EG_ASSERT(eg_rt_prefix_valid("e70a1b2c"));
	EG_ASSERT(!eg_rt_prefix_valid("e70a1b2c9")); /* 9: PREFIX-v12345 would not fit */
	EG_ASSERT(!eg_rt_prefix_valid("7egd"));
	EG_ASSERT(!eg_rt_prefix_valid("e-d"));
	EG_ASSERT(!eg_rt_prefix_valid(""));
}

EG_TEST(net_parse_and_slots)
{
	struct eg_rt_net n, m;
	uint32_t ip;
	char s[16];

	EG_ASSERT_EQ(eg_rt_net_parse("127.0.64.0/18", &n), 0);
	EG_ASSERT_EQ(n.len, 18);
	EG_ASSERT_EQ(eg_rt_net_parse("127.0.64.1/18", &n), -EINVAL); /* host bits */
	EG_ASSERT_EQ(eg_rt_net_parse("127.0.64.0", &n), -EINVAL);
	EG_ASSERT_EQ(eg_rt_net_parse("127.0.64.0/33", &n), -EINVAL);
	EG_ASSERT_EQ(eg_rt_net_parse("198.18.0.0/29", &n), 0);
	/* .0 network, .1 router, .7 broadcast: .2 to .6 */
	EG_ASSERT_EQ(eg_rt_slots(&n), 5);
	eg_rt_ip_format(eg_rt_slot_ip(&n, 0), s, sizeof(s));
	EG_ASSERT_STR_EQ(s, "198.18.0.2");
	eg_rt_ip_format(eg_rt_slot_ip(&n, 4), s, sizeof(s));
	EG_ASSERT_STR_EQ(s, "198.18.0.6");
	EG_ASSERT_EQ(eg_rt_net_parse("198.18.0.0/30", &n), 0);
	EG_ASSERT_EQ(eg_rt_slots(&n), 0);
	EG_ASSERT_EQ(eg_rt_net_parse("198.18.0.0/17", &n), 0);
	EG_ASSERT_EQ(eg_rt_ip_parse("198.18.127.254", &ip), 0);
	EG_ASSERT(eg_rt_net_contains(&n, ip));
	EG_ASSERT_EQ(eg_rt_ip_parse("198.18.128.1", &ip), 0);
	EG_ASSERT(!eg_rt_net_contains(&n, ip));
	EG_ASSERT_EQ(eg_rt_net_parse("198.18.240.0/20", &m), 0);
	EG_ASSERT(!eg_rt_net_overlap(&n, &m));
	EG_ASSERT_EQ(eg_rt_net_parse("198.18.0.0/15", &m), 0);
	EG_ASSERT(eg_rt_net_overlap(&n, &m));
}

EG_TEST(template_hash_is_stable_and_safe)
{
	char a[11], b[11], c[11];

	eg_rt_template_hash("{\"x\":1}", 7, a);
	eg_rt_template_hash("{\"x\":1}", 7, b);
	eg_rt_template_hash("{\"x\":2}", 7, c);
	EG_ASSERT_STR_EQ(a, b);
	EG_ASSERT(strcmp(a, c) != 0);
	EG_ASSERT_EQ(strlen(a), 10);
	/* Kubernetes' alphabet: no vowels (no words), no 0/1/3 look-alikes */
	EG_ASSERT_EQ(strspn(a, "bcdfghjklmnpqrstvwxz2456789"), 10);
}

EG_TEST(pod_names_fit_a_label)
{
	char name[300], sfx[6], sfx2[6];
	const char *longdep =
	        "a-very-long-deployment-name-that-goes-on-and-on-and-on-until-it-is-long";

	eg_rt_pod_name("curl", "5b549b49b8", "bcgts", name, sizeof(name));
	EG_ASSERT_STR_EQ(name, "curl-5b549b49b8-bcgts");
	eg_rt_pod_name(longdep, "5b549b49b8", "bcgts", name, sizeof(name));
	EG_ASSERT(strlen(name) <= 63);
	EG_ASSERT_CONTAINS(name, "-5b549b49b8-bcgts");
	/* a cut that ends in '-' is shortened further: never "--" */
	EG_ASSERT(strstr(name, "--") == NULL);
	eg_rt_random_suffix(sfx);
	eg_rt_random_suffix(sfx2);
	EG_ASSERT_EQ(strlen(sfx), 5);
	EG_ASSERT_EQ(strspn(sfx, "bcdfghjklmnpqrstvwxz2456789"), 5);
	(void)sfx2;
}

static struct eg_node *labels(const char *yaml)
{
	struct eg_node **docs = NULL;
	struct eg_node *n;
	size_t nd = 0;
	struct eg_diag d;

	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_yaml_load("labels", yaml, strlen(yaml), &d, &docs, &nd), 0);
	EG_ASSERT_EQ(nd, 1);
	n = docs[0];
	free(docs);
	eg_diag_done(&d);
	return n;
}

EG_TEST(selectors)
{
	struct eg_node *l = labels("app: curl\nistio.io/rev: asm-1-24\ntier: web\n");
	struct eg_rt_selector s;

	EG_ASSERT_EQ(eg_rt_selector_parse("app=curl", &s), 0);
	EG_ASSERT(eg_rt_selector_match(&s, l));
	EG_ASSERT_EQ(eg_rt_selector_parse("app==curl,istio.io/rev=asm-1-24", &s), 0);
	EG_ASSERT_EQ(s.n, 2);
	EG_ASSERT(eg_rt_selector_match(&s, l));
	EG_ASSERT_EQ(eg_rt_selector_parse("app=curl,tier!=web", &s), 0);
	EG_ASSERT(!eg_rt_selector_match(&s, l));
	EG_ASSERT_EQ(eg_rt_selector_parse("tier,!missing", &s), 0);
	EG_ASSERT(eg_rt_selector_match(&s, l));
	EG_ASSERT_EQ(eg_rt_selector_parse("!tier", &s), 0);
	EG_ASSERT(!eg_rt_selector_match(&s, l));
	EG_ASSERT_EQ(eg_rt_selector_parse("istio=asm-egress-test", &s), 0);
	EG_ASSERT(!eg_rt_selector_match(&s, l));
	EG_ASSERT(!eg_rt_selector_match(&s, NULL));
	EG_ASSERT_EQ(eg_rt_selector_parse("=x", &s), -EINVAL);
	EG_ASSERT_EQ(eg_rt_selector_parse("", &s), 0);
	EG_ASSERT(eg_rt_selector_match(&s, NULL)); /* the empty selector selects everything */
	eg_node_free(l);
}

EG_TEST(backoff_doubles_to_thirty_seconds)
{
	EG_ASSERT_EQ(eg_rt_backoff_ms(1), 250);
	EG_ASSERT_EQ(eg_rt_backoff_ms(2), 1000);
	EG_ASSERT_EQ(eg_rt_backoff_ms(3), 2000);
	EG_ASSERT_EQ(eg_rt_backoff_ms(4), 4000);
	EG_ASSERT_EQ(eg_rt_backoff_ms(6), 16000);
	EG_ASSERT_EQ(eg_rt_backoff_ms(7), 30000);
	EG_ASSERT_EQ(eg_rt_backoff_ms(100), 30000);
}

static void count_ip(uint32_t ip, void *ctx)
{
	(void)ip;
	(*(int *)ctx)++;
}

EG_TEST(hosts_files)
{
	char why[256];
	int n = 0;

	EG_ASSERT_EQ(eg_rt_hosts_check("# sites\n198.19.0.10 edition.cnn.com cnn\n\n"
	                               "198.19.0.11\tother.example # comment\n::1 localhost\n",
	                               false, why, sizeof(why), count_ip, &n),
	             0);
	EG_ASSERT_EQ(n, 2);
	EG_ASSERT_EQ(eg_rt_hosts_check("198.19.0.10 edition.cnn.com\n", true, why, sizeof(why),
	                               NULL, NULL),
	             -EINVAL);
	EG_ASSERT_CONTAINS(why, "line 1: 198.19.0.10 is not a 127.x address");
	EG_ASSERT_EQ(eg_rt_hosts_check("127.0.9.10 edition.cnn.com\n", true, why, sizeof(why), NULL,
	                               NULL),
	             0);
	EG_ASSERT_EQ(eg_rt_hosts_check("ok 1.2.3.4\n", false, why, sizeof(why), NULL, NULL),
	             -EINVAL);
	EG_ASSERT_CONTAINS(why, "line 1");
	EG_ASSERT_EQ(eg_rt_hosts_check("\n198.19.0.10\n", false, why, sizeof(why), NULL, NULL),
	             -EINVAL);
	EG_ASSERT_CONTAINS(why, "line 2: 198.19.0.10 names no host");
	EG_ASSERT_EQ(eg_rt_hosts_check("2001:db8::1 six\n", true, why, sizeof(why), NULL, NULL),
	             -EINVAL);
}

static const char cluster_yaml[] =
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: labelled\n  labels:\n"
        "    istio.io/rev: asm-1-24\n"
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: plain\n"
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: canary\n  labels:\n"
        "    istio.io/rev: asm-1-25\n"
        "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: aks-istio-egress\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: curl\n  namespace: "
        "labelled\n"
        "spec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: curl\n  template:\n"
        "    metadata:\n      labels:\n        app: curl\n    spec:\n      serviceAccountName: "
        "curl\n"
        "      containers:\n      - name: curl\n        image: curl\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nosidecar\n"
        "  namespace: labelled\nspec:\n  template:\n    metadata:\n      annotations:\n"
        "        sidecar.istio.io/inject: \"false\"\n    spec:\n      containers:\n      - name: "
        "a\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: plain\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: web\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: next\n  namespace: canary\n"
        "spec:\n  template:\n    spec:\n      containers:\n      - name: next\n"
        "---\napiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"
        "kind: StaticGatewayConfiguration\nmetadata:\n  name: sgc\n  namespace: aks-istio-egress\n"
        "spec:\n  gatewayNodepoolName: pool\nstatus:\n  egressIpPrefix: 127.0.16.0/28\n"
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: gw-asm-1-24\n"
        "  namespace: aks-istio-egress\nspec:\n  replicas: 1\n  template:\n    metadata:\n"
        "      labels:\n        istio: gw\n        istio.io/rev: asm-1-24\n      annotations:\n"
        "        kubernetes.azure.com/static-gateway-configuration: sgc\n"
        "    spec:\n      containers:\n      - name: istio-proxy\n";

static void parse_set(const char *yaml, struct eg_resource_set *set)
{
	struct eg_parse_opts po = {.default_ns = "default"};
	struct eg_diag d;

	eg_diag_init(&d);
	eg_resource_set_init(set);
	if (eg_model_parse("cluster.yaml", yaml, strlen(yaml), &po, set, &d) != 0)
		EG_FAIL("parse: %s", eg_diag_text(&d));
	eg_diag_done(&d);
}

EG_TEST(plan_picks_gateways_and_labelled_namespaces)
{
	const char *revs[] = {"asm-1-24"};
	struct eg_resource_set set;
	struct eg_rt_want *w = NULL;
	size_t n = 0;

	parse_set(cluster_yaml, &set);
	EG_ASSERT_EQ(eg_rt_plan(&set, revs, 1, &w, &n), 0);
	/* sorted by namespace, then name; "plain" and "canary" get nothing */
	EG_ASSERT_EQ(n, 3);
	EG_ASSERT_STR_EQ(w[0].deploy->name, "gw-asm-1-24");
	EG_ASSERT_EQ(w[0].role, EG_RT_ROLE_GATEWAY);
	EG_ASSERT_STR_EQ(w[0].sgc, "sgc");
	EG_ASSERT_STR_EQ(w[0].prefix, "127.0.16.0/28");
	EG_ASSERT_STR_EQ(w[0].revision, "asm-1-24");
	EG_ASSERT_STR_EQ(w[0].sa, "default");
	EG_ASSERT_EQ(w[0].replicas, 1);
	EG_ASSERT_STR_EQ(w[1].deploy->name, "curl");
	EG_ASSERT_EQ(w[1].role, EG_RT_ROLE_SIDECAR);
	EG_ASSERT_EQ(w[1].replicas, 2);
	EG_ASSERT_STR_EQ(w[1].sa, "curl");
	EG_ASSERT_STR_EQ(w[1].revision, "asm-1-24");
	EG_ASSERT_STR_EQ(w[2].deploy->name, "nosidecar");
	EG_ASSERT_EQ(w[2].role, EG_RT_ROLE_NONE);
	EG_ASSERT_EQ(w[2].replicas, 1);
	free(w);
	eg_resource_set_done(&set);
}

EG_TEST(plan_follows_revisions_and_templates)
{
	const char *revs[] = {"asm-1-24", "asm-1-25"};
	struct eg_resource_set set, set2;
	struct eg_rt_want *w = NULL, *w2 = NULL;
	size_t n = 0, n2 = 0;
	char *changed = strdup(cluster_yaml), *at;

	parse_set(cluster_yaml, &set);
	EG_ASSERT_EQ(eg_rt_plan(&set, revs, 2, &w, &n), 0);
	EG_ASSERT_EQ(n, 4); /* the canary namespace's Deployment joins */
	EG_ASSERT_STR_EQ(w[1].deploy->name, "next");
	EG_ASSERT_STR_EQ(w[1].revision, "asm-1-25");
	/* the same template hashes the same; a changed one does not */
	at = strstr(changed, "image: curl");
	memcpy(at, "image: wget", 11);
	parse_set(changed, &set2);
	EG_ASSERT_EQ(eg_rt_plan(&set2, revs, 2, &w2, &n2), 0);
	EG_ASSERT_EQ(n2, 4);
	EG_ASSERT_STR_EQ(w2[0].hash, w[0].hash);
	EG_ASSERT(strcmp(w2[2].hash, w[2].hash) != 0);
	EG_ASSERT_STR_EQ(w2[2].deploy->name, "curl");
	free(changed);
	free(w);
	free(w2);
	eg_resource_set_done(&set);
	eg_resource_set_done(&set2);
}

EG_TEST(state_round_trip)
{
	struct eg_rt_pod_state pods[2] = {
	        {"demo", "curl-5b549b49b8-bcgts", "198.18.0.2", "egd-curl-5b549b49b8-bcgts",
	         "Running", EG_RT_ROLE_SIDECAR, 4242, 777, 1, true},
	        {"aks-istio-egress", "gw-x-y", "", "", "CrashLoopBackOff", EG_RT_ROLE_GATEWAY, 0, 0,
	         5, false},
	};
	char netns[2][300] = {"egd-rtr", "egd-inet"};
	struct eg_rt_state st = {.supervisor = 99,
	                         .supervisor_start = 12345,
	                         .pods = pods,
	                         .npods = 2,
	                         .netns = netns,
	                         .nnetns = 2};
	struct eg_rt_state back;
	struct eg_rt_config c;
	char *text = NULL;

	eg_rt_config_default(&c, EG_RT_NETNS);
	EG_ASSERT_EQ(eg_rt_state_format(&st, &c, &text), 0);
	EG_ASSERT_EQ(eg_rt_state_parse(text, &back), 0);
	EG_ASSERT_EQ(back.supervisor, 99);
	EG_ASSERT_EQ(back.supervisor_start, 12345);
	EG_ASSERT_EQ(back.nnetns, 2);
	EG_ASSERT_STR_EQ(back.netns[1], "egd-inet");
	EG_ASSERT_EQ(back.npods, 2);
	EG_ASSERT_STR_EQ(back.pods[0].name, "curl-5b549b49b8-bcgts");
	EG_ASSERT_STR_EQ(back.pods[0].netns, "egd-curl-5b549b49b8-bcgts");
	EG_ASSERT_EQ(back.pods[0].pid, 4242);
	EG_ASSERT_EQ(back.pods[0].starttime, 777);
	EG_ASSERT_EQ(back.pods[0].role, EG_RT_ROLE_SIDECAR);
	EG_ASSERT(back.pods[0].ready);
	EG_ASSERT_STR_EQ(back.pods[1].ip, "");
	EG_ASSERT_STR_EQ(back.pods[1].status, "CrashLoopBackOff");
	EG_ASSERT_EQ(back.pods[1].restarts, 5);
	EG_ASSERT_EQ(back.pods[1].role, EG_RT_ROLE_GATEWAY);
	eg_rt_state_done(&back);
	free(text);
}

EG_TEST(map_str_reads_dotted_keys)
{
	struct eg_node *l = labels("istio.io/rev: asm-1-24\nn: 3\nz: null\n");

	EG_ASSERT_STR_EQ(eg_rt_map_str(l, "istio.io/rev"), "asm-1-24");
	EG_ASSERT_STR_EQ(eg_rt_map_str(l, "n"), "3");
	EG_ASSERT(eg_rt_map_str(l, "z") == NULL);
	EG_ASSERT(eg_rt_map_str(l, "istio") == NULL);
	EG_ASSERT(eg_rt_map_str(NULL, "x") == NULL);
	eg_node_free(l);
}
