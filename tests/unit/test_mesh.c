/* tests/unit/test_mesh.c: the AKS management plane (src/store/mesh.c, mesh_alloc.c): the
 * gateway name rule with the CLI's exact message, what enable writes, every refusal
 * (unique per namespace, 500 per cluster, missing namespace or SGC), the warning for an
 * SGC without prefix, disable and enable again, deletes refused while a gateway uses an
 * SGC, ClusterIP and egress prefix allocation (unique, released, stale records), mesh show,
 * settings, and canary upgrades. Stores live on /dev/shm when it is there (tmpfs: the
 * 500-gateway case measures our code, not the disk's fsync). */
#include "../../src/store/mesh.c"
#include "../../src/store/mesh_alloc.c"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>

#include "eg_test.h"

/* --- helpers --- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

struct fixture {
	char dir[128];
	struct eg_store *s;
	struct eg_diag d;
};

static void fx_open(struct fixture *f)
{
	struct stat st;
	const char *base =
	        stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
	                ? "/dev/shm"
	                : "/tmp";

	snprintf(f->dir, sizeof(f->dir), "%s/eg-test-mesh.XXXXXX", base);
	EG_ASSERT(mkdtemp(f->dir) != NULL);
	EG_ASSERT_EQ(eg_store_open(f->dir, EG_STORE_CREATE, &f->s), 0);
	eg_diag_init(&f->d);
}

static void fx_close(struct fixture *f)
{
	f->s = eg_store_close(f->s);
	eg_diag_done(&f->d);
	(void)nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Forgets what the diag holds. */
static void fx_reset(struct fixture *f)
{
	eg_diag_done(&f->d);
	eg_diag_init(&f->d);
}

/* Applies YAML @text as `egressctl apply` does (the store, then the mesh hook). */
static void apply_text(struct fixture *f, const char *text)
{
	struct eg_parse_opts po = {.default_ns = "default"};
	struct eg_resource_set set;
	int out[16], r;

	eg_resource_set_init(&set);
	r = eg_model_parse("test.yaml", text, strlen(text), &po, &set, &f->d);
	if (r < 0)
		printf("# parse: %s", eg_diag_text(&f->d));
	EG_ASSERT_EQ(r, 0);
	EG_ASSERT(set.n <= 16);
	r = eg_store_apply(f->s, &set, out, &f->d);
	if (r < 0)
		printf("# apply: %s", eg_diag_text(&f->d));
	EG_ASSERT(r >= 0);
	r = eg_mesh_after_apply(f->s, &set, &f->d);
	eg_resource_set_done(&set);
	EG_ASSERT(r >= 0);
}

static const char ns_yaml[] = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n";
static const char sgc_yaml[] =
        "apiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"
        "kind: StaticGatewayConfiguration\nmetadata:\n  name: %s\n  namespace: %s\n"
        "spec:\n  gatewayNodepoolName: gwpool\n";

static void add_ns(struct fixture *f, const char *ns)
{
	char text[256];

	snprintf(text, sizeof(text), ns_yaml, ns);
	apply_text(f, text);
}

static void add_sgc(struct fixture *f, const char *ns, const char *name)
{
	char text[512];

	snprintf(text, sizeof(text), sgc_yaml, name, ns);
	apply_text(f, text);
}

/* Namespace aks-istio-egress with the SGC "sgc" (and its prefix). */
static void fx_cluster(struct fixture *f)
{
	fx_open(f);
	add_ns(f, "aks-istio-egress");
	add_sgc(f, "aks-istio-egress", "sgc");
	fx_reset(f);
}

static struct eg_resource *get_obj(struct fixture *f, const char *kind, const char *ns,
                                   const char *name)
{
	struct eg_resource *r = NULL;

	if (eg_store_get(f->s, eg_kind_lookup(kind), ns, name, &r, &f->d) < 0)
		return NULL;
	return r;
}

static bool obj_exists(struct fixture *f, const char *kind, const char *ns, const char *name)
{
	struct eg_resource *r = get_obj(f, kind, ns, name);

	eg_resource_free(r);
	return r != NULL;
}

/* The value of key @key (dots and all) of the map at @path. */
static const char *map_val(const struct eg_resource *r, const char *path, const char *key)
{
	const struct eg_node *m = eg_node_path(r->root, path);

	for (size_t i = 0; i < eg_node_len(m); i++)
		if (strcmp(m->k[i]->s, key) == 0 && m->v[i]->kind == EG_NODE_SCALAR)
			return m->v[i]->s;
	return NULL;
}

static const char *sgc_prefix(struct fixture *f, const char *ns, const char *name, char *buf,
                              size_t len)
{
	struct eg_resource *r = get_obj(f, "sgc", ns, name);
	const char *p = r ? eg_node_str(r->root, "status.egressIpPrefix") : NULL;

	snprintf(buf, len, "%s", p ? p : "");
	eg_resource_free(r);
	return buf;
}

static int count_files(const char *dir)
{
	DIR *dd = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!dd)
		return 0;
	while ((e = readdir(dd)))
		n += e->d_name[0] != '.';
	closedir(dd);
	return n;
}

/* @f's store directory joined with @rel (a static buffer: use one at a time). */
static const char *in_store(const struct fixture *f, const char *rel)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", f->dir, rel);
	return path;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the name rule --- */

static const char name53[] = "a2345678901234567890123456789012345678901234567890123";
static const char name54[] = "a23456789012345678901234567890123456789012345678901234";

EG_TEST(name_rule_table)
{
	static const struct {
		const char *name;
		bool valid;
	} cases[] = {
	        {"asm-egress-test", true},
	        {"a", true},
	        {"0", true},
	        {"a-b-c", true},
	        {"a--b", true},
	        {"a.b", true},
	        {"a1.b2.c3", true},
	        {name53, true},
	        {name54, false},
	        {"", false},
	        {"Asm-egress", false},
	        {"asm-EGRESS", false},
	        {"-asm", false},
	        {"asm-", false},
	        {".asm", false},
	        {"asm.", false},
	        {"a..b", false},
	        {"a.-b", false},
	        {"a-.b", false},
	        {"a_b", false},
	        {"a b", false},
	        {"a/b", false},
	};

	EG_ASSERT_EQ(strlen(name53), 53);
	EG_ASSERT_EQ(strlen(name54), 54);
	for (size_t i = 0; i < EG_ARRAY_SIZE(cases); i++) {
		if (eg_mesh_name_valid(cases[i].name) != cases[i].valid)
			EG_FAIL("\"%s\": expected %s", cases[i].name,
			        cases[i].valid ? "valid" : "invalid");
	}
	EG_ASSERT(!eg_mesh_name_valid(NULL));
}

EG_TEST(name_refusal_exact_message)
{
	static const char *const bad[] = {"", "Upper", "-lead", "trail-", "a..b", name54};
	struct fixture f;
	char want[512];

	fx_cluster(&f);
	for (size_t i = 0; i < EG_ARRAY_SIZE(bad); i++) {
		fx_reset(&f);
		EG_ASSERT_EQ(eg_mesh_enable(f.s, bad[i], NULL, "sgc", NULL, &f.d), -EINVAL);
		snprintf(want, sizeof(want),
		         "error: Istio egress name %s is invalid. Name must be between 1 and 53 "
		         "characters, must consist of lower case alphanumeric characters, '-' or "
		         "'.', and must start and end with an alphanumeric character.\n",
		         bad[i]);
		EG_ASSERT_STR_EQ(eg_diag_text(&f.d), want);
		fx_reset(&f);
		EG_ASSERT_EQ(eg_mesh_disable(f.s, bad[i], NULL, NULL, &f.d), -EINVAL);
		EG_ASSERT_STR_EQ(eg_diag_text(&f.d), want);
	}
	/* 53 characters is fine */
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, name53, NULL, "sgc", NULL, &f.d), 0);
	EG_ASSERT(obj_exists(&f, "deployments", "aks-istio-egress",
	                     "a2345678901234567890123456789012345678901234567890123-asm-1-24"));
	/* dots pass the name rule but cannot name a Service */
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "a.b", NULL, "sgc", NULL, &f.d), -EINVAL);
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d),
	                 "error: Istio egress name a.b cannot name the gateway's Service: a "
	                 "Service name must be a DNS-1123 label (no '.')\n");
	fx_close(&f);
}

/* --- enable --- */

EG_TEST(enable_writes_service_deployment_and_record)
{
	struct fixture f;
	struct eg_resource *svc, *dep, *sa;
	const struct eg_node *ports, *aff;
	struct eg_ip4net cidr;
	uint32_t ip;
	char path[256];

	fx_cluster(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "asm-egress-test", "aks-istio-egress", "sgc", NULL, &f.d),
	             0);
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d), ""); /* the SGC has its prefix: no warning */

	svc = get_obj(&f, "services", "aks-istio-egress", "asm-egress-test");
	EG_ASSERT(svc != NULL);
	EG_ASSERT_STR_EQ(eg_node_str(svc->root, "spec.type"), "ClusterIP");
	EG_ASSERT_EQ(eg_ip4net_parse(EG_MESH_DEFAULT_SERVICE_CIDR, &cidr), 0);
	EG_ASSERT_EQ(eg_ip4_parse(eg_node_str(svc->root, "spec.clusterIP"), &ip), 0);
	EG_ASSERT(ip > cidr.base && ip < eg_ip4net_last(&cidr));
	ports = eg_node_path(svc->root, "spec.ports");
	EG_ASSERT_EQ(eg_node_len(ports), 3);
	EG_ASSERT_STR_EQ(eg_node_str(ports->v[0], "name"), "status-port");
	EG_ASSERT_STR_EQ(eg_node_str(ports->v[0], "port"), "15021");
	EG_ASSERT_STR_EQ(eg_node_str(ports->v[0], "targetPort"), "15021");
	EG_ASSERT_STR_EQ(eg_node_str(ports->v[1], "name"), "http2");
	EG_ASSERT_STR_EQ(eg_node_str(ports->v[1], "port"), "80");
	EG_ASSERT_STR_EQ(eg_node_str(ports->v[1], "targetPort"), "8080");
	EG_ASSERT_STR_EQ(eg_node_str(ports->v[2], "name"), "https");
	EG_ASSERT_STR_EQ(eg_node_str(ports->v[2], "port"), "443");
	EG_ASSERT_STR_EQ(eg_node_str(ports->v[2], "targetPort"), "8443");
	EG_ASSERT_STR_EQ(eg_node_str(ports->v[2], "protocol"), "TCP");
	EG_ASSERT_STR_EQ(map_val(svc, "metadata.labels", "app"), "asm-egress-test");
	EG_ASSERT_STR_EQ(map_val(svc, "metadata.labels", "istio"), "asm-egress-test");
	EG_ASSERT_STR_EQ(map_val(svc, "metadata.labels", "azureservicemesh/istio.component"),
	                 "egress-gateway");
	EG_ASSERT_STR_EQ(map_val(svc, "metadata.annotations", "meta.helm.sh/release-name"),
	                 "asm-egx-asm-egress-test");
	EG_ASSERT_STR_EQ(map_val(svc, "metadata.annotations", "meta.helm.sh/release-namespace"),
	                 "aks-istio-egress");
	EG_ASSERT_STR_EQ(map_val(svc, "spec.selector", "app"), "asm-egress-test");
	EG_ASSERT_STR_EQ(map_val(svc, "spec.selector", "istio"), "asm-egress-test");
	/* not kubectl's object: no last-applied annotation */
	EG_ASSERT(map_val(svc, "metadata.annotations", EG_STORE_LAST_APPLIED) == NULL);
	/* the address is recorded for this Service */
	snprintf(path, sizeof(path), "%s/mesh/cluster-ips/%s", f.dir,
	         eg_node_str(svc->root, "spec.clusterIP"));
	EG_ASSERT_EQ(access(path, F_OK), 0);
	eg_resource_free(svc);

	dep = get_obj(&f, "deployments", "aks-istio-egress", "asm-egress-test-asm-1-24");
	EG_ASSERT(dep != NULL);
	EG_ASSERT_STR_EQ(map_val(dep, "metadata.labels", "istio"), "asm-egress-test");
	EG_ASSERT_STR_EQ(map_val(dep, "metadata.labels", "app"), "asm-egress-test");
	EG_ASSERT_STR_EQ(map_val(dep, "metadata.labels", "istio.io/rev"), "asm-1-24");
	EG_ASSERT_STR_EQ(map_val(dep, "spec.template.metadata.labels", "istio"), "asm-egress-test");
	EG_ASSERT_STR_EQ(map_val(dep, "spec.template.metadata.labels", "app"), "asm-egress-test");
	EG_ASSERT_STR_EQ(map_val(dep, "spec.template.metadata.labels", "istio.io/rev"), "asm-1-24");
	EG_ASSERT_STR_EQ(map_val(dep, "spec.template.metadata.labels", "sidecar.istio.io/inject"),
	                 "false");
	EG_ASSERT_STR_EQ(map_val(dep, "spec.template.metadata.annotations",
	                         "kubernetes.azure.com/static-gateway-configuration"),
	                 "sgc");
	EG_ASSERT_STR_EQ(map_val(dep, "spec.selector.matchLabels", "istio"), "asm-egress-test");
	EG_ASSERT_STR_EQ(eg_node_str(dep->root, "spec.template.spec.serviceAccountName"),
	                 "asm-egress-test");
	aff = eg_node_path(dep->root, "spec.template.spec.affinity.nodeAffinity");
	aff = eg_node_get(aff, "preferredDuringSchedulingIgnoredDuringExecution");
	EG_ASSERT_EQ(eg_node_len(aff), 2);
	EG_ASSERT_STR_EQ(eg_node_str(aff->v[0], "weight"), "100");
	EG_ASSERT_STR_EQ(
	        eg_node_str(eg_node_path(aff->v[0], "preference.matchExpressions")->v[0], "key"),
	        "kubernetes.azure.com/mode");
	EG_ASSERT_STR_EQ(eg_node_str(aff->v[1], "weight"), "50");
	EG_ASSERT_STR_EQ(
	        eg_node_str(eg_node_path(aff->v[1], "preference.matchExpressions")->v[0], "key"),
	        "azureservicemesh/istio.replica.preferred");
	eg_resource_free(dep);

	sa = get_obj(&f, "serviceaccounts", "aks-istio-egress", "asm-egress-test");
	EG_ASSERT(sa != NULL);
	eg_resource_free(sa);
	snprintf(path, sizeof(path), "%s/mesh/egress-gateways/aks-istio-egress/asm-egress-test",
	         f.dir);
	EG_ASSERT_EQ(access(path, F_OK), 0);
	fx_close(&f);
}

EG_TEST(enable_default_namespace_and_show)
{
	struct eg_mesh_gateway *gws = NULL;
	struct eg_buf out = EG_BUF_INIT(1 << 20);
	struct fixture f;
	size_t n = 0;

	fx_cluster(&f);
	EG_ASSERT_EQ(eg_mesh_show_json(f.s, &out, &f.d), 0);
	EG_ASSERT_CONTAINS(eg_buf_cstr(&out), "\"egressGateways\": null");
	EG_ASSERT_CONTAINS(eg_buf_cstr(&out), "\"revisions\": [\n        \"asm-1-24\"\n      ]");
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw-b", NULL, "sgc", NULL, &f.d), 0);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw-a", NULL, "sgc", NULL, &f.d), 0);
	EG_ASSERT_EQ(eg_mesh_list(f.s, &gws, &n), 0);
	EG_ASSERT_EQ(n, 2);
	EG_ASSERT_STR_EQ(gws[0].name, "gw-a"); /* sorted */
	EG_ASSERT_STR_EQ(gws[0].ns, "aks-istio-egress");
	EG_ASSERT_STR_EQ(gws[0].sgc, "sgc");
	EG_ASSERT(gws[0].enabled);
	free(gws);
	eg_buf_done(&out);
	out = EG_BUF_INIT(1 << 20);
	EG_ASSERT_EQ(eg_mesh_show_json(f.s, &out, &f.d), 0);
	EG_ASSERT_CONTAINS(eg_buf_cstr(&out),
	                   "\"egressGateways\": [\n          {\n            \"enabled\": true,\n"
	                   "            \"name\": \"gw-a\",\n"
	                   "            \"namespace\": \"aks-istio-egress\",\n"
	                   "            \"gatewayConfigurationName\": \"sgc\"\n          },");
	EG_ASSERT_CONTAINS(eg_buf_cstr(&out), "\"serviceCidr\": \"10.0.0.0/16\"");
	EG_ASSERT_CONTAINS(eg_buf_cstr(&out), "\"mode\": \"Istio\"");
	eg_buf_done(&out);
	fx_close(&f);
}

EG_TEST(enable_unique_per_namespace)
{
	struct fixture f;

	fx_cluster(&f);
	add_ns(&f, "other");
	add_sgc(&f, "other", "sgc");
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "sgc", NULL, &f.d), 0);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "sgc", NULL, &f.d), -EEXIST);
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d),
	                 "error: Istio egress gateway gw already exists in namespace "
	                 "aks-istio-egress: egress gateway names must be unique per namespace\n");
	/* the same name in another namespace is another gateway */
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", "other", "sgc", NULL, &f.d), 0);
	EG_ASSERT(obj_exists(&f, "services", "other", "gw"));
	fx_close(&f);
}

EG_TEST(enable_refuses_missing_namespace_and_sgc)
{
	struct fixture f;

	fx_cluster(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", "nope", "sgc", NULL, &f.d), -ENOENT);
	EG_ASSERT_CONTAINS(eg_diag_text(&f.d), "namespaces \"nope\" not found");
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "missing", NULL, &f.d), -ENOENT);
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d),
	                 "error: StaticGatewayConfiguration \"missing\" not found in namespace "
	                 "aks-istio-egress: the gateway configuration must exist in the egress "
	                 "gateway's namespace\n");
	/* an SGC of another namespace does not count */
	add_ns(&f, "other");
	add_sgc(&f, "other", "only-there");
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "only-there", NULL, &f.d), -ENOENT);
	EG_ASSERT(!obj_exists(&f, "services", "aks-istio-egress", "gw"));
	EG_ASSERT_EQ(count_files(in_store(&f, "mesh/cluster-ips")), 0);
	fx_close(&f);
}

EG_TEST(enable_warns_when_sgc_has_no_prefix)
{
	struct eg_parse_opts po = {.default_ns = "default"};
	struct eg_resource_set set;
	struct fixture f;
	char text[512];
	int out[2];

	fx_cluster(&f);
	/* stored without the apply hook: no prefix assigned yet */
	snprintf(text, sizeof(text), sgc_yaml, "fresh", "aks-istio-egress");
	eg_resource_set_init(&set);
	EG_ASSERT_EQ(eg_model_parse("t.yaml", text, strlen(text), &po, &set, &f.d), 0);
	EG_ASSERT(eg_store_apply(f.s, &set, out, &f.d) >= 0);
	eg_resource_set_done(&set);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "fresh", NULL, &f.d), 0);
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d),
	                 "warning: StaticGatewayConfiguration aks-istio-egress/fresh has no "
	                 "status.egressIpPrefix yet: the gateway's pods wait for it (enable the "
	                 "gateway once the prefix is assigned)\n");
	EG_ASSERT_EQ(f.d.errors, 0);
	EG_ASSERT(obj_exists(&f, "deployments", "aks-istio-egress", "gw-asm-1-24"));
	fx_close(&f);
}

EG_TEST(enable_refuses_foreign_objects)
{
	struct fixture f;

	fx_cluster(&f);
	apply_text(&f, "apiVersion: v1\nkind: Service\nmetadata:\n  name: gw\n"
	               "  namespace: aks-istio-egress\nspec:\n  ports:\n  - port: 80\n");
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "sgc", NULL, &f.d), -EEXIST);
	EG_ASSERT_CONTAINS(eg_diag_text(&f.d), "Service aks-istio-egress/gw exists and is not "
	                                       "managed by the egress gateway add-on");
	/* nothing was written: no record, no address */
	EG_ASSERT(!obj_exists(&f, "deployments", "aks-istio-egress", "gw-asm-1-24"));
	EG_ASSERT_EQ(count_files(in_store(&f, "mesh/cluster-ips")), 0);
	fx_close(&f);
}

EG_TEST(limit_500_per_cluster)
{
	struct fixture f;
	char name[32];
	double t0, dt;

	fx_cluster(&f);
	add_ns(&f, "second");
	add_sgc(&f, "second", "sgc");
	fx_reset(&f);
	t0 = now_s();
	/* spread over two namespaces: the limit is the cluster's, not a namespace's */
	for (int i = 0; i < EG_MESH_MAX_GATEWAYS; i++) {
		int r;

		snprintf(name, sizeof(name), "gw-%d", i);
		r = eg_mesh_enable(f.s, name, i % 2 ? "second" : "aks-istio-egress", "sgc", NULL,
		                   &f.d);
		if (r != 0)
			EG_FAIL("enable %s: %d: %s", name, r, eg_diag_text(&f.d));
	}
	dt = now_s() - t0;
	printf("# %d enables in %.2f s (store in %s)\n", EG_MESH_MAX_GATEWAYS, dt, f.dir);
	/* seconds, not minutes: every enable counts the gateways without reading them */
	EG_ASSERT(dt < 120);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "one-more", NULL, "sgc", NULL, &f.d), -ENOSPC);
	EG_ASSERT_STR_EQ(
	        eg_diag_text(&f.d),
	        "error: cannot enable Istio egress gateway aks-istio-egress/one-more: the cluster "
	        "has 500 Istio egress gateways, and at most 500 are allowed per cluster\n");
	EG_ASSERT(!obj_exists(&f, "services", "aks-istio-egress", "one-more"));
	/* 500 Services, 500 distinct addresses (one record file each) */
	EG_ASSERT_EQ(count_files(in_store(&f, "mesh/cluster-ips")), EG_MESH_MAX_GATEWAYS);
	EG_ASSERT_EQ(count_files(in_store(&f, "objects/services/aks-istio-egress")) +
	                     count_files(in_store(&f, "objects/services/second")),
	             EG_MESH_MAX_GATEWAYS);
	/* one disabled: room for one more */
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_disable(f.s, "gw-7", "second", NULL, &f.d), 0);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "one-more", NULL, "sgc", NULL, &f.d), 0);
	fx_close(&f);
}

/* --- disable --- */

EG_TEST(disable_then_enable_again)
{
	struct fixture f;
	struct eg_resource *svc;
	char ip[16];

	fx_cluster(&f);
	EG_ASSERT_EQ(eg_mesh_disable(f.s, "gw", NULL, NULL, &f.d), -ENOENT);
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d), "error: Istio egress gateway gw is not enabled in "
	                                     "namespace aks-istio-egress: nothing to disable\n");
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "sgc", NULL, &f.d), 0);
	svc = get_obj(&f, "services", "aks-istio-egress", "gw");
	EG_ASSERT(svc != NULL);
	snprintf(ip, sizeof(ip), "%s", eg_node_str(svc->root, "spec.clusterIP"));
	eg_resource_free(svc);
	EG_ASSERT_EQ(eg_mesh_disable(f.s, "gw", "aks-istio-egress", NULL, &f.d), 0);
	EG_ASSERT(!obj_exists(&f, "services", "aks-istio-egress", "gw"));
	EG_ASSERT(!obj_exists(&f, "serviceaccounts", "aks-istio-egress", "gw"));
	EG_ASSERT(!obj_exists(&f, "deployments", "aks-istio-egress", "gw-asm-1-24"));
	EG_ASSERT_EQ(access(in_store(&f, "mesh/egress-gateways/aks-istio-egress/gw"), F_OK), -1);
	EG_ASSERT_EQ(count_files(in_store(&f, "mesh/cluster-ips")), 0); /* address released */
	/* the SGC and the namespace are free to go now, and the same name can come back */
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "sgc", NULL, &f.d), 0);
	EG_ASSERT(obj_exists(&f, "deployments", "aks-istio-egress", "gw-asm-1-24"));
	EG_ASSERT_EQ(eg_mesh_disable(f.s, "gw", NULL, NULL, &f.d), 0);
	EG_ASSERT_EQ(eg_mesh_disable(f.s, "gw", NULL, NULL, &f.d), -ENOENT);
	fx_close(&f);
}

EG_TEST(delete_refused_while_gateway_uses_sgc)
{
	const struct eg_kind *sgc_k = eg_kind_lookup("sgc"), *ns_k = eg_kind_lookup("ns");
	struct eg_store_ref refs[2] = {
	        {sgc_k, "aks-istio-egress", "sgc"},
	        {sgc_k, "aks-istio-egress", "spare"},
	};
	struct eg_store_ref nsref = {ns_k, NULL, "aks-istio-egress"};
	struct fixture f;
	int res[2];

	fx_cluster(&f);
	add_sgc(&f, "aks-istio-egress", "spare");
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "sgc", NULL, &f.d), 0);
	/* the used one stays, the unused one in the same request goes */
	EG_ASSERT_EQ(eg_mesh_delete(f.s, refs, 2, res, &f.d), 1);
	EG_ASSERT_EQ(res[0], -EBUSY);
	EG_ASSERT_EQ(res[1], 0);
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d),
	                 "error: StaticGatewayConfiguration aks-istio-egress/sgc is used by the "
	                 "Istio egress gateway gw: disable the gateway first (egressctl mesh "
	                 "disable-egress-gateway --istio-egressgateway-name gw "
	                 "--istio-egressgateway-namespace aks-istio-egress)\n");
	EG_ASSERT(obj_exists(&f, "sgc", "aks-istio-egress", "sgc"));
	EG_ASSERT(!obj_exists(&f, "sgc", "aks-istio-egress", "spare"));
	/* deleting the namespace would delete the SGC too */
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_delete(f.s, &nsref, 1, res, &f.d), 0);
	EG_ASSERT_EQ(res[0], -EBUSY);
	EG_ASSERT_CONTAINS(eg_diag_text(&f.d),
	                   "namespace aks-istio-egress holds the Istio egress gateway gw");
	EG_ASSERT(obj_exists(&f, "services", "aks-istio-egress", "gw"));
	/* once disabled, both go */
	EG_ASSERT_EQ(eg_mesh_disable(f.s, "gw", NULL, NULL, &f.d), 0);
	EG_ASSERT_EQ(eg_mesh_delete(f.s, refs, 1, res, &f.d), 1);
	EG_ASSERT_EQ(res[0], 0);
	EG_ASSERT_EQ(eg_mesh_delete(f.s, &nsref, 1, res, &f.d), 1);
	EG_ASSERT_EQ(res[0], 0);
	fx_close(&f);
}

/* --- ClusterIPs --- */

EG_TEST(cluster_ips_unique_released_and_stale_reclaimed)
{
	struct eg_mesh_settings st;
	struct eg_store_ref ref;
	struct fixture f;
	char name[16], seen[8][16];
	int res;

	fx_cluster(&f);
	/* a /29: 8 addresses, of which network, broadcast and the first host are reserved */
	eg_mesh_settings_default(&st);
	snprintf(st.service_cidr, sizeof(st.service_cidr), "10.1.0.0/29");
	EG_ASSERT_EQ(eg_mesh_settings_save(f.s, &st, &f.d), 0);
	for (int i = 0; i < 5; i++) {
		struct eg_resource *svc;
		uint32_t a;

		snprintf(name, sizeof(name), "gw-%d", i);
		EG_ASSERT_EQ(eg_mesh_enable(f.s, name, NULL, "sgc", NULL, &f.d), 0);
		svc = get_obj(&f, "services", "aks-istio-egress", name);
		EG_ASSERT(svc != NULL);
		snprintf(seen[i], sizeof(seen[i]), "%s", eg_node_str(svc->root, "spec.clusterIP"));
		eg_resource_free(svc);
		EG_ASSERT_EQ(eg_ip4_parse(seen[i], &a), 0);
		EG_ASSERT(a >= 0x0a010002 && a <= 0x0a010006);
		for (int j = 0; j < i; j++)
			EG_ASSERT(strcmp(seen[i], seen[j]) != 0);
	}
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw-5", NULL, "sgc", NULL, &f.d), -ENOSPC);
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d),
	                 "error: no free ClusterIP left in the service CIDR 10.1.0.0/29\n");
	EG_ASSERT(!obj_exists(&f, "services", "aks-istio-egress", "gw-5"));
	/* a Service deleted by hand gives its address back */
	ref = (struct eg_store_ref){eg_kind_lookup("svc"), "aks-istio-egress", "gw-2"};
	EG_ASSERT_EQ(eg_mesh_delete(f.s, &ref, 1, &res, &f.d), 1);
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw-5", NULL, "sgc", NULL, &f.d), 0);
	/* a record whose Service lost the address (removed behind the mesh's back) is stale */
	EG_ASSERT_EQ(eg_mesh_disable(f.s, "gw-5", NULL, NULL, &f.d), 0);
	{
		char rel[128];
		struct eg_resource *svc = get_obj(&f, "services", "aks-istio-egress", "gw-0");

		EG_ASSERT(svc != NULL);
		snprintf(rel, sizeof(rel), "objects/services/aks-istio-egress/gw-0");
		eg_resource_free(svc);
		EG_ASSERT_EQ(unlink(in_store(&f, rel)), 0);
	}
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw-5", NULL, "sgc", NULL, &f.d), 0);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw-6", NULL, "sgc", NULL, &f.d), 0);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw-7", NULL, "sgc", NULL, &f.d), -ENOSPC);
	fx_close(&f);
}

EG_TEST(ip4_parsing)
{
	struct eg_ip4net n;
	uint32_t a;
	char text[16];

	EG_ASSERT_EQ(eg_ip4_parse("10.0.128.17", &a), 0);
	EG_ASSERT_EQ(a, 0x0a008011);
	eg_ip4_format(a, text, sizeof(text));
	EG_ASSERT_STR_EQ(text, "10.0.128.17");
	EG_ASSERT_EQ(eg_ip4_parse("10.0.0", &a), -EINVAL);
	EG_ASSERT_EQ(eg_ip4_parse("10.0.0.256", &a), -EINVAL);
	EG_ASSERT_EQ(eg_ip4_parse("10.0.0.01", &a), -EINVAL);
	EG_ASSERT_EQ(eg_ip4_parse("10.0.0.1 ", &a), -EINVAL);
	EG_ASSERT_EQ(eg_ip4net_parse("127.0.16.0/20", &n), 0);
	EG_ASSERT_EQ(n.base, 0x7f001000);
	EG_ASSERT_EQ(n.len, 20);
	EG_ASSERT_EQ(eg_ip4net_last(&n), 0x7f001fff);
	EG_ASSERT_EQ(eg_ip4net_parse("127.0.16.1/20", &n), -EINVAL); /* host bits */
	EG_ASSERT_EQ(eg_ip4net_parse("127.0.16.0/33", &n), -EINVAL);
	EG_ASSERT_EQ(eg_ip4net_parse("127.0.16.0", &n), -EINVAL);
	EG_ASSERT_EQ(eg_ip4net_parse("0.0.0.0/0", &n), 0);
}

/* --- egress prefixes --- */

EG_TEST(prefixes_unique_sized_and_released)
{
	struct eg_store_ref ref;
	struct fixture f;
	char p[4][40];
	int res;

	fx_open(&f);
	add_ns(&f, "aks-istio-egress");
	apply_text(&f, "apiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"
	               "kind: StaticGatewayConfiguration\nmetadata:\n  name: a\n  namespace: "
	               "aks-istio-egress\n"
	               "spec:\n  gatewayNodepoolName: pool\n"
	               "---\napiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"
	               "kind: StaticGatewayConfiguration\nmetadata:\n  name: b\n  namespace: "
	               "aks-istio-egress\n"
	               "spec:\n  gatewayVmssProfile:\n    vmssResourceGroup: rg\n    vmssName: v\n"
	               "    publicIpPrefixSize: 30\n"
	               "---\napiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"
	               "kind: StaticGatewayConfiguration\nmetadata:\n  name: c\n  namespace: "
	               "aks-istio-egress\n"
	               "spec:\n  gatewayNodepoolName: pool\n");
	EG_ASSERT_STR_EQ(sgc_prefix(&f, "aks-istio-egress", "a", p[0], sizeof(p[0])),
	                 "127.0.16.0/28");
	EG_ASSERT_STR_EQ(sgc_prefix(&f, "aks-istio-egress", "b", p[1], sizeof(p[1])),
	                 "127.0.16.16/30");
	EG_ASSERT_STR_EQ(sgc_prefix(&f, "aks-istio-egress", "c", p[2], sizeof(p[2])),
	                 "127.0.16.32/28");
	/* re-applying keeps the prefix (status survives apply) */
	add_sgc(&f, "aks-istio-egress", "a");
	EG_ASSERT_STR_EQ(sgc_prefix(&f, "aks-istio-egress", "a", p[0], sizeof(p[0])),
	                 "127.0.16.0/28");
	/* deleted: its prefix is free for the next one */
	ref = (struct eg_store_ref){eg_kind_lookup("sgc"), "aks-istio-egress", "a"};
	EG_ASSERT_EQ(eg_mesh_delete(f.s, &ref, 1, &res, &f.d), 1);
	add_sgc(&f, "aks-istio-egress", "d");
	EG_ASSERT_STR_EQ(sgc_prefix(&f, "aks-istio-egress", "d", p[3], sizeof(p[3])),
	                 "127.0.16.0/28");
	/* asking for another size moves it */
	apply_text(&f, "apiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"
	               "kind: StaticGatewayConfiguration\nmetadata:\n  name: c\n  namespace: "
	               "aks-istio-egress\n"
	               "spec:\n  gatewayVmssProfile:\n    vmssResourceGroup: rg\n    vmssName: v\n"
	               "    publicIpPrefixSize: 29\n");
	EG_ASSERT_STR_EQ(sgc_prefix(&f, "aks-istio-egress", "c", p[2], sizeof(p[2])),
	                 "127.0.16.24/29");
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d), "");
	fx_close(&f);
}

EG_TEST(prefixes_pool_exhausted_and_pool_change)
{
	struct eg_mesh_settings st;
	struct fixture f;
	char p[40], name[16];

	fx_open(&f);
	add_ns(&f, "ns1");
	eg_mesh_settings_default(&st);
	snprintf(st.egress_pool, sizeof(st.egress_pool), "127.0.32.0/27"); /* two /28s */
	EG_ASSERT_EQ(eg_mesh_settings_save(f.s, &st, &f.d), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		add_sgc(&f, "ns1", name);
	}
	EG_ASSERT_STR_EQ(sgc_prefix(&f, "ns1", "s1", p, sizeof(p)), "127.0.32.16/28");
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d), "");
	add_sgc(&f, "ns1", "s2");
	EG_ASSERT_STR_EQ(sgc_prefix(&f, "ns1", "s2", p, sizeof(p)), "");
	EG_ASSERT_STR_EQ(
	        eg_diag_text(&f.d),
	        "warning: StaticGatewayConfiguration ns1/s2: status.egressIpPrefix: no free /28 "
	        "prefix left in the egress pool 127.0.32.0/27; left unassigned\n");
	/* a bigger pool elsewhere: every SGC moves into it, s2 gets one too on its next apply */
	fx_reset(&f);
	snprintf(st.egress_pool, sizeof(st.egress_pool), "127.0.48.0/24");
	EG_ASSERT_EQ(eg_mesh_settings_save(f.s, &st, &f.d), 0);
	EG_ASSERT_STR_EQ(sgc_prefix(&f, "ns1", "s0", p, sizeof(p)), "127.0.48.0/28");
	EG_ASSERT_STR_EQ(sgc_prefix(&f, "ns1", "s1", p, sizeof(p)), "127.0.48.16/28");
	EG_ASSERT_STR_EQ(sgc_prefix(&f, "ns1", "s2", p, sizeof(p)), "127.0.48.32/28");
	fx_close(&f);
}

EG_TEST(find_block_first_fit)
{
	struct taken_set t = {0};
	struct eg_ip4net pool = {0x7f001000, 20};
	uint32_t b;

	EG_ASSERT(find_block(&t, &pool, 28, 99, &b));
	EG_ASSERT_EQ(b, 0x7f001000);
	EG_ASSERT_EQ(taken_add(&t, 0x7f001000, 0x7f001003, 0), 0); /* a /30 at the start */
	EG_ASSERT(find_block(&t, &pool, 28, 99, &b));
	EG_ASSERT_EQ(b, 0x7f001010); /* the next aligned /28 */
	EG_ASSERT(find_block(&t, &pool, 30, 99, &b));
	EG_ASSERT_EQ(b, 0x7f001004);
	EG_ASSERT(find_block(&t, &pool, 28, 0, &b)); /* its own range does not count */
	EG_ASSERT_EQ(b, 0x7f001000);
	EG_ASSERT(!find_block(&t, &pool, 19, 99, &b)); /* bigger than the pool */
	EG_ASSERT_EQ(taken_add(&t, 0x7f001000, 0x7f001fff, 1), 0);
	EG_ASSERT(!find_block(&t, &pool, 32, 99, &b)); /* full */
	free(t.v);
}

/* --- settings --- */

EG_TEST(settings_default_stored_and_checked)
{
	struct eg_mesh_settings st;
	struct fixture f;

	fx_cluster(&f);
	EG_ASSERT_EQ(eg_mesh_settings_load(f.s, &st, &f.d), 0);
	EG_ASSERT_EQ(st.nrevisions, 1);
	EG_ASSERT_STR_EQ(st.revisions[0], "asm-1-24");
	EG_ASSERT_STR_EQ(st.service_cidr, "10.0.0.0/16");
	EG_ASSERT_STR_EQ(st.egress_pool, "127.0.16.0/20");
	/* a broken ConfigMap stops the mesh commands with a message */
	apply_text(&f, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: egressd-cluster\n"
	               "  namespace: kube-system\ndata:\n  revisions: asm-1-24\n"
	               "  serviceCIDR: 10.0.0.1/16\n  egressPool: 127.0.16.0/20\n");
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "sgc", NULL, &f.d), -EINVAL);
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d),
	                 "error: ConfigMap kube-system/egressd-cluster: data.serviceCIDR: "
	                 "\"10.0.0.1/16\" is not an IPv4 CIDR of /8 to /30 without host bits\n");
	fx_reset(&f);
	eg_mesh_settings_default(&st);
	snprintf(st.revisions[1], sizeof(st.revisions[1]), "1.25");
	st.nrevisions = 2;
	EG_ASSERT_EQ(eg_mesh_settings_save(f.s, &st, &f.d), -EINVAL);
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d),
	                 "error: ConfigMap kube-system/egressd-cluster: data.revisions: \"1.25\" "
	                 "is not a revision name (asm-MAJOR-MINOR, as asm-1-24)\n");
	/* saving valid settings repairs the broken ConfigMap */
	fx_reset(&f);
	eg_mesh_settings_default(&st);
	snprintf(st.service_cidr, sizeof(st.service_cidr), "10.2.0.0/24");
	EG_ASSERT_EQ(eg_mesh_settings_save(f.s, &st, &f.d), 0);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "sgc", NULL, &f.d), 0);
	{
		struct eg_resource *svc = get_obj(&f, "services", "aks-istio-egress", "gw");

		EG_ASSERT(svc != NULL);
		EG_ASSERT(strncmp(eg_node_str(svc->root, "spec.clusterIP"), "10.2.0.", 7) == 0);
		eg_resource_free(svc);
	}
	fx_close(&f);
}

/* --- upgrades --- */

EG_TEST(upgrade_start_complete_rollback)
{
	struct eg_buf out = EG_BUF_INIT(1 << 20);
	struct eg_mesh_settings st;
	struct eg_resource *dep;
	struct fixture f;

	fx_cluster(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "sgc", NULL, &f.d), 0);
	EG_ASSERT_EQ(eg_mesh_upgrade_complete(f.s, &f.d), -EINVAL);
	EG_ASSERT_CONTAINS(eg_diag_text(&f.d), "no upgrade is in progress");
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_upgrade_start(f.s, "asm-1-23", &f.d), -EINVAL);
	EG_ASSERT_CONTAINS(eg_diag_text(&f.d),
	                   "revision asm-1-23 is not newer than the current revision asm-1-24");
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_upgrade_start(f.s, "latest", &f.d), -EINVAL);
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_upgrade_start(f.s, "asm-1-25", &f.d), 0);
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d), "");
	/* a second Deployment behind the same Service */
	dep = get_obj(&f, "deployments", "aks-istio-egress", "gw-asm-1-25");
	EG_ASSERT(dep != NULL);
	EG_ASSERT_STR_EQ(map_val(dep, "spec.template.metadata.labels", "istio.io/rev"), "asm-1-25");
	EG_ASSERT_STR_EQ(map_val(dep, "spec.template.metadata.labels", "istio"), "gw");
	EG_ASSERT_STR_EQ(map_val(dep, "spec.template.metadata.annotations",
	                         "kubernetes.azure.com/static-gateway-configuration"),
	                 "sgc");
	eg_resource_free(dep);
	EG_ASSERT(obj_exists(&f, "deployments", "aks-istio-egress", "gw-asm-1-24"));
	EG_ASSERT_EQ(eg_mesh_show_json(f.s, &out, &f.d), 0);
	EG_ASSERT_CONTAINS(eg_buf_cstr(&out), "\"asm-1-24\",\n        \"asm-1-25\"");
	EG_ASSERT_EQ(eg_mesh_upgrade_start(f.s, "asm-1-26", &f.d), -EBUSY);
	/* a gateway enabled during the upgrade gets both */
	fx_reset(&f);
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw2", NULL, "sgc", NULL, &f.d), 0);
	EG_ASSERT(obj_exists(&f, "deployments", "aks-istio-egress", "gw2-asm-1-24"));
	EG_ASSERT(obj_exists(&f, "deployments", "aks-istio-egress", "gw2-asm-1-25"));
	/* rollback drops the new one */
	EG_ASSERT_EQ(eg_mesh_upgrade_rollback(f.s, &f.d), 0);
	EG_ASSERT(!obj_exists(&f, "deployments", "aks-istio-egress", "gw-asm-1-25"));
	EG_ASSERT(!obj_exists(&f, "deployments", "aks-istio-egress", "gw2-asm-1-25"));
	EG_ASSERT(obj_exists(&f, "deployments", "aks-istio-egress", "gw-asm-1-24"));
	EG_ASSERT_EQ(eg_mesh_settings_load(f.s, &st, &f.d), 0);
	EG_ASSERT_EQ(st.nrevisions, 1);
	EG_ASSERT_STR_EQ(st.revisions[0], "asm-1-24");
	/* complete drops the old one */
	EG_ASSERT_EQ(eg_mesh_upgrade_start(f.s, "asm-1-25", &f.d), 0);
	EG_ASSERT_EQ(eg_mesh_upgrade_complete(f.s, &f.d), 0);
	EG_ASSERT(!obj_exists(&f, "deployments", "aks-istio-egress", "gw-asm-1-24"));
	EG_ASSERT(obj_exists(&f, "deployments", "aks-istio-egress", "gw-asm-1-25"));
	EG_ASSERT(obj_exists(&f, "services", "aks-istio-egress", "gw"));
	EG_ASSERT_EQ(eg_mesh_settings_load(f.s, &st, &f.d), 0);
	EG_ASSERT_STR_EQ(st.revisions[0], "asm-1-25");
	/* disable removes the Deployments of the revision in force */
	EG_ASSERT_EQ(eg_mesh_disable(f.s, "gw", NULL, NULL, &f.d), 0);
	EG_ASSERT(!obj_exists(&f, "deployments", "aks-istio-egress", "gw-asm-1-25"));
	EG_ASSERT_EQ(revision_cmp("asm-1-9", "asm-1-10"), -1);
	EG_ASSERT_EQ(revision_cmp("asm-2-0", "asm-1-30"), 1);
	eg_buf_done(&out);
	fx_close(&f);
}

EG_TEST(applied_service_cluster_ip_is_claimed)
{
	struct eg_mesh_settings st;
	struct eg_resource *svc;
	struct fixture f;

	fx_cluster(&f);
	/* a /29 with five usable addresses: four taken by applied Services */
	eg_mesh_settings_default(&st);
	snprintf(st.service_cidr, sizeof(st.service_cidr), "10.1.0.0/29");
	EG_ASSERT_EQ(eg_mesh_settings_save(f.s, &st, &f.d), 0);
	for (int i = 2; i <= 5; i++) {
		char text[256];

		snprintf(text, sizeof(text),
		         "apiVersion: v1\nkind: Service\nmetadata:\n  name: app%d\n  namespace: "
		         "default\n"
		         "spec:\n  clusterIP: 10.1.0.%d\n  ports:\n  - port: 80\n",
		         i, i);
		apply_text(&f, text);
	}
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d), "");
	EG_ASSERT_EQ(eg_mesh_enable(f.s, "gw", NULL, "sgc", NULL, &f.d), 0);
	svc = get_obj(&f, "services", "aks-istio-egress", "gw");
	EG_ASSERT(svc != NULL);
	EG_ASSERT_STR_EQ(eg_node_str(svc->root, "spec.clusterIP"), "10.1.0.6"); /* the one left */
	eg_resource_free(svc);
	/* a duplicate is stored (the apply succeeded) and warned about */
	apply_text(&f,
	           "apiVersion: v1\nkind: Service\nmetadata:\n  name: dup\n  namespace: default\n"
	           "spec:\n  clusterIP: 10.1.0.6\n  ports:\n  - port: 80\n");
	EG_ASSERT_STR_EQ(eg_diag_text(&f.d),
	                 "warning: Service default/dup: spec.clusterIP: 10.1.0.6 is already "
	                 "allocated to Service aks-istio-egress/gw\n");
	fx_close(&f);
}
