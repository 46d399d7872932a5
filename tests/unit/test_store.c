/* tests/unit/test_store.c: the resource store: fresh stores, server fields, apply outcomes,
 * generation and resourceVersion rules, status updates, deletes, atomic writes, the
 * change signal, and two writers racing. */
#include "../../src/store/store.c"
#include "../../src/store/write.c"

#include <ftw.h>
#include <poll.h>
#include <sys/wait.h>

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
	char dir[64];
	struct eg_store *s;
};

static void fx_open(struct fixture *f)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/eg-test-store.XXXXXX");
	EG_ASSERT(mkdtemp(f->dir) != NULL);
	EG_ASSERT_EQ(eg_store_open(f->dir, EG_STORE_CREATE, &f->s), 0);
}

static void fx_close(struct fixture *f)
{
	f->s = eg_store_close(f->s);
	(void)nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Applies YAML @text; returns eg_store_apply's result, outcomes in @out (room for 8). */
static int apply_text(struct eg_store *s, const char *text, int *out)
{
	struct eg_parse_opts po = { .default_ns = "default" };
	struct eg_resource_set set;
	struct eg_diag d;
	int dummy[8], r;

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	r = eg_model_parse("test.yaml", text, strlen(text), &po, &set, &d);
	if (r < 0)
		printf("# parse: %s", eg_diag_text(&d));
	EG_ASSERT_EQ(r, 0);
	r = eg_store_apply(s, &set, out ? out : dummy, &d);
	if (d.errors)
		printf("# apply: %s", eg_diag_text(&d));
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	return r;
}

static struct eg_resource *get_obj(struct eg_store *s, const char *kind, const char *ns,
				   const char *name)
{
	struct eg_resource *r = NULL;
	struct eg_diag d;

	eg_diag_init(&d);
	if (eg_store_get(s, eg_kind_lookup(kind), ns, name, &r, &d) < 0)
		r = NULL;
	eg_diag_done(&d);
	return r;
}

static uint64_t gen_of(struct eg_store *s)
{
	uint64_t g = 0;

	EG_ASSERT_EQ(eg_store_generation(s, &g), 0);
	return g;
}

static uint64_t rv_of(const struct eg_resource *r)
{
	uint64_t v = 0;

	EG_ASSERT(eg_parse_u64(eg_str_c(eg_node_str(r->root, "metadata.resourceVersion")),
			       UINT64_MAX, &v) == 0);
	return v;
}

/* metadata.labels[key] (keys hold dots, so no eg_node_path) */
static const char *label_of(const struct eg_resource *r, const char *key)
{
	const struct eg_node *v = eg_node_get(eg_node_path(r->root, "metadata.labels"), key);

	return v && v->kind == EG_NODE_SCALAR ? v->s : NULL;
}

static const char *cm_v1 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n"
			   "  namespace: default\ndata:\n  a: \"1\"\n";
static const char *cm_v2 = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n"
			   "  namespace: default\ndata:\n  a: \"2\"\n";

/* --- tests --- */

EG_TEST(store_fresh_has_the_initial_namespaces)
{
	struct fixture f;
	struct eg_resource_set set;
	struct eg_diag d;
	uint64_t g = 0;

	fx_open(&f);
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_store_load(f.s, &set, &g, &d), 0);
	EG_ASSERT_EQ(set.n, 3);
	EG_ASSERT_EQ(g, 3);
	for (const char *const *ns = eg_store_initial_namespaces; *ns; ns++) {
		EG_ASSERT(eg_resource_set_find(&set, eg_kind_lookup("ns"), NULL, *ns) != NULL);
		EG_ASSERT_EQ(eg_store_namespace_exists(f.s, *ns), 1);
	}
	EG_ASSERT_EQ(eg_store_namespace_exists(f.s, "aks-istio-egress"), 0);
	/* the store's own objects carry no last-applied annotation */
	EG_ASSERT(eg_node_path(set.v[0]->root, "metadata.annotations") == NULL);
	EG_ASSERT_STR_EQ(eg_node_str(set.v[0]->root, "status.phase"), "Active");
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	fx_close(&f);
}

EG_TEST(store_open_without_create_refuses_a_missing_store)
{
	struct eg_store *s = NULL;
	struct fixture f;

	EG_ASSERT_EQ(eg_store_open("/tmp/eg-test-store-does-not-exist", 0, &s), -ENOENT);
	fx_open(&f);
	f.s = eg_store_close(f.s);
	EG_ASSERT_EQ(eg_store_open(f.dir, 0, &s), 0); /* initialised: opens read-only */
	EG_ASSERT_EQ(gen_of(s), 3);
	eg_store_close(s);
	fx_close(&f);
}

EG_TEST(store_apply_sets_server_fields)
{
	struct fixture f;
	struct eg_resource *r;
	const char *uid, *ts;
	int out[8];
	int64_t t;

	fx_open(&f);
	EG_ASSERT_EQ(apply_text(f.s, cm_v1, out), 1);
	EG_ASSERT_EQ(out[0], EG_STORE_CREATED);
	r = get_obj(f.s, "cm", "default", "cfg");
	EG_ASSERT(r != NULL);
	uid = eg_node_str(r->root, "metadata.uid");
	EG_ASSERT(uid && strlen(uid) == 36 && uid[14] == '4' && strchr("89ab", uid[19]));
	EG_ASSERT_EQ(rv_of(r), 4);
	EG_ASSERT_EQ(gen_of(f.s), 4);
	EG_ASSERT_EQ(eg_node_int(r->root, "metadata.generation", 0), 1);
	ts = eg_node_str(r->root, "metadata.creationTimestamp");
	EG_ASSERT_EQ(eg_store_parse_time(ts, &t), 0);
	EG_ASSERT(t > time(NULL) - 60 && t <= time(NULL));
	EG_ASSERT_STR_EQ(eg_node_str(r->root, "data.a"), "1");
	eg_resource_free(r);
	fx_close(&f);
}

EG_TEST(store_reapply_is_unchanged_and_writes_nothing)
{
	struct fixture f;
	struct eg_resource *a, *b;
	int out[8];

	fx_open(&f);
	EG_ASSERT_EQ(apply_text(f.s, cm_v1, out), 1);
	a = get_obj(f.s, "cm", "default", "cfg");
	EG_ASSERT_EQ(apply_text(f.s, cm_v1, out), 0);
	EG_ASSERT_EQ(out[0], EG_STORE_UNCHANGED);
	b = get_obj(f.s, "cm", "default", "cfg");
	EG_ASSERT_EQ(gen_of(f.s), 4);
	EG_ASSERT(eg_node_equal(a->root, b->root));
	eg_resource_free(a);
	eg_resource_free(b);
	fx_close(&f);
}

EG_TEST(store_spec_change_bumps_generation_keeps_uid)
{
	struct fixture f;
	struct eg_resource *a, *b;
	int out[8];

	fx_open(&f);
	EG_ASSERT_EQ(apply_text(f.s, cm_v1, out), 1);
	a = get_obj(f.s, "cm", "default", "cfg");
	EG_ASSERT_EQ(apply_text(f.s, cm_v2, out), 1);
	EG_ASSERT_EQ(out[0], EG_STORE_CONFIGURED);
	b = get_obj(f.s, "cm", "default", "cfg");
	EG_ASSERT_EQ(eg_node_int(b->root, "metadata.generation", 0), 2);
	EG_ASSERT(rv_of(b) > rv_of(a));
	EG_ASSERT_EQ(rv_of(b), gen_of(f.s));
	EG_ASSERT_STR_EQ(eg_node_str(b->root, "metadata.uid"), eg_node_str(a->root, "metadata.uid"));
	EG_ASSERT_STR_EQ(eg_node_str(b->root, "metadata.creationTimestamp"),
			 eg_node_str(a->root, "metadata.creationTimestamp"));
	EG_ASSERT_STR_EQ(eg_node_str(b->root, "data.a"), "2");
	eg_resource_free(a);
	eg_resource_free(b);
	fx_close(&f);
}

EG_TEST(store_resource_versions_are_monotonic_and_unique)
{
	struct fixture f;
	uint64_t last = 0;
	char text[256];

	fx_open(&f);
	last = gen_of(f.s);
	for (int i = 0; i < 20; i++) {
		struct eg_resource *r;
		char name[16];

		snprintf(name, sizeof(name), "c%d", i % 5);
		snprintf(text, sizeof(text),
			 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  v: \"%d\"\n",
			 name, i);
		EG_ASSERT_EQ(apply_text(f.s, text, NULL), 1);
		r = get_obj(f.s, "cm", "default", name);
		EG_ASSERT(r != NULL);
		EG_ASSERT(rv_of(r) > last);
		last = rv_of(r);
		EG_ASSERT_EQ(gen_of(f.s), last);
		eg_resource_free(r);
	}
	fx_close(&f);
}

EG_TEST(store_same_object_twice_in_one_request)
{
	struct fixture f;
	struct eg_parse_opts po = { .default_ns = "default" };
	struct eg_resource_set set;
	struct eg_resource *r;
	struct eg_diag d;
	int out[8];

	fx_open(&f);
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_model_parse("a.yaml", cm_v1, strlen(cm_v1), &po, &set, &d), 0);
	EG_ASSERT_EQ(eg_model_parse("b.yaml", cm_v2, strlen(cm_v2), &po, &set, &d), 0);
	/* like kubectl with two files: the later one applies on top of the earlier */
	EG_ASSERT_EQ(eg_store_apply(f.s, &set, out, &d), 1);
	EG_ASSERT_EQ(out[0], EG_STORE_CREATED);
	EG_ASSERT_EQ(out[1], EG_STORE_CONFIGURED);
	r = get_obj(f.s, "cm", "default", "cfg");
	EG_ASSERT_STR_EQ(eg_node_str(r->root, "data.a"), "2");
	EG_ASSERT_EQ(rv_of(r), 5);
	eg_resource_free(r);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	fx_close(&f);
}

EG_TEST(store_missing_namespace_refuses_everything)
{
	static const char *text =
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  namespace: default\n"
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: nope\n";
	struct fixture f;
	int out[8];

	fx_open(&f);
	EG_ASSERT_EQ(apply_text(f.s, text, out), -ENOENT);
	EG_ASSERT_EQ(out[1], -ENOENT);
	EG_ASSERT_EQ(gen_of(f.s), 3);
	EG_ASSERT(get_obj(f.s, "cm", "default", "ok") == NULL);
	/* the same input may create the namespace, in any order */
	EG_ASSERT_EQ(apply_text(f.s,
				"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: nope\n"
				"---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: nope\n",
				out),
		     2);
	EG_ASSERT_EQ(out[0], EG_STORE_CREATED);
	EG_ASSERT_EQ(eg_store_namespace_exists(f.s, "nope"), 1);
	fx_close(&f);
}

static int add_label(struct eg_node *root, void *ctx)
{
	struct eg_node *meta = eg_node_get(root, "metadata");
	struct eg_node *labels = eg_node_get(meta, "labels");

	(void)ctx;
	if (!labels) {
		labels = eg_node_new_map();
		if (eg_node_map_put(meta, "labels", labels) < 0)
			return -ENOMEM;
	}
	return eg_node_map_set_str(labels, "istio.io/rev", "asm-1-24") < 0 ? -ENOMEM : 1;
}

EG_TEST(store_modify_labels_keeps_generation_and_survives_reapply)
{
	static const char *ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n"
				"  labels:\n    team: a\n";
	static const char *ns_nolabel = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n";
	struct fixture f;
	struct eg_resource *r;
	struct eg_diag d;
	uint64_t rv;
	int out[8];

	fx_open(&f);
	eg_diag_init(&d);
	EG_ASSERT_EQ(apply_text(f.s, ns, out), 1);
	r = get_obj(f.s, "ns", NULL, "app");
	rv = rv_of(r);
	eg_resource_free(r);
	EG_ASSERT_EQ(eg_store_modify(f.s, eg_kind_lookup("ns"), NULL, "app", add_label, NULL, &d), 1);
	r = get_obj(f.s, "ns", NULL, "app");
	EG_ASSERT_STR_EQ(label_of(r, "istio.io/rev"), "asm-1-24");
	EG_ASSERT_EQ(eg_node_int(r->root, "metadata.generation", 0), 1);
	EG_ASSERT(rv_of(r) > rv);
	eg_resource_free(r);
	/* the same change again is no change */
	EG_ASSERT_EQ(eg_store_modify(f.s, eg_kind_lookup("ns"), NULL, "app", add_label, NULL, &d), 0);
	/* re-applying the file keeps the label kubectl-style (three-way merge) */
	EG_ASSERT_EQ(apply_text(f.s, ns, out), 0);
	EG_ASSERT_EQ(out[0], EG_STORE_UNCHANGED);
	/* dropping "team" from the file removes it, "istio.io/rev" stays */
	EG_ASSERT_EQ(apply_text(f.s, ns_nolabel, out), 1);
	EG_ASSERT_EQ(out[0], EG_STORE_CONFIGURED);
	r = get_obj(f.s, "ns", NULL, "app");
	EG_ASSERT(label_of(r, "team") == NULL);
	EG_ASSERT_STR_EQ(label_of(r, "istio.io/rev"), "asm-1-24");
	EG_ASSERT_STR_EQ(label_of(r, "kubernetes.io/metadata.name"), "app");
	eg_resource_free(r);
	eg_diag_done(&d);
	fx_close(&f);
}

EG_TEST(store_modify_refuses_an_invalid_result)
{
	struct fixture f;
	struct eg_diag d;

	fx_open(&f);
	eg_diag_init(&d);
	EG_ASSERT_EQ(apply_text(f.s, cm_v1, NULL), 1);
	/* a ConfigMap has no status: the schema says so and nothing is written */
	{
		struct eg_node *st = eg_node_new_map();

		EG_ASSERT_EQ(eg_node_map_set_str(st, "x", "y"), 0);
		EG_ASSERT_EQ(eg_store_set_status(f.s, eg_kind_lookup("cm"), "default", "cfg", st, &d),
			     -EINVAL);
		eg_node_free(st);
	}
	EG_ASSERT_CONTAINS(eg_diag_text(&d), "unknown field \"status\"");
	EG_ASSERT_EQ(gen_of(f.s), 4);
	EG_ASSERT_EQ(eg_store_modify(f.s, eg_kind_lookup("cm"), "default", "nope", add_label, NULL,
				     &d),
		     -ENOENT);
	eg_diag_done(&d);
	fx_close(&f);
}

EG_TEST(store_status_update_keeps_generation)
{
	static const char *sgc = "apiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"
				 "kind: StaticGatewayConfiguration\nmetadata:\n  name: gw-sgc\n"
				 "spec:\n  gatewayNodepoolName: pool\n"
				 "status:\n  egressIpPrefix: 1.2.3.4/30\n";
	struct fixture f;
	struct eg_resource *r;
	struct eg_node *st;
	struct eg_diag d;
	uint64_t rv;
	int out[8];

	fx_open(&f);
	eg_diag_init(&d);
	EG_ASSERT_EQ(apply_text(f.s, sgc, out), 1);
	r = get_obj(f.s, "sgc", "default", "gw-sgc");
	/* apply ignores status: the cluster owns it */
	EG_ASSERT(eg_node_get(r->root, "status") == NULL);
	rv = rv_of(r);
	eg_resource_free(r);
	st = eg_node_new_map();
	EG_ASSERT_EQ(eg_node_map_set_str(st, "egressIpPrefix", "127.0.10.0/30"), 0);
	EG_ASSERT_EQ(eg_store_set_status(f.s, eg_kind_lookup("sgc"), "default", "gw-sgc", st, &d), 1);
	EG_ASSERT_EQ(eg_store_set_status(f.s, eg_kind_lookup("sgc"), "default", "gw-sgc", st, &d), 0);
	r = get_obj(f.s, "sgc", "default", "gw-sgc");
	EG_ASSERT_STR_EQ(eg_node_str(r->root, "status.egressIpPrefix"), "127.0.10.0/30");
	EG_ASSERT_EQ(eg_node_int(r->root, "metadata.generation", 0), 1);
	EG_ASSERT_EQ(rv_of(r), rv + 1);
	eg_resource_free(r);
	/* a re-apply keeps the status, and a spec change bumps generation only */
	EG_ASSERT_EQ(apply_text(f.s, sgc, out), 0);
	EG_ASSERT_EQ(out[0], EG_STORE_UNCHANGED);
	EG_ASSERT_EQ(apply_text(f.s,
				"apiVersion: egressgateway.kubernetes.azure.com/v1alpha1\n"
				"kind: StaticGatewayConfiguration\nmetadata:\n  name: gw-sgc\n"
				"spec:\n  gatewayNodepoolName: pool2\n",
				out),
		     1);
	r = get_obj(f.s, "sgc", "default", "gw-sgc");
	EG_ASSERT_STR_EQ(eg_node_str(r->root, "status.egressIpPrefix"), "127.0.10.0/30");
	EG_ASSERT_EQ(eg_node_int(r->root, "metadata.generation", 0), 2);
	eg_resource_free(r);
	eg_node_free(st);
	eg_diag_done(&d);
	fx_close(&f);
}

EG_TEST(store_delete)
{
	struct fixture f;
	struct eg_store_ref refs[4];
	int res[4];
	uint64_t g;

	fx_open(&f);
	EG_ASSERT_EQ(apply_text(f.s,
				"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app\n---\n"
				"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: app\n---\n"
				"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: app\n",
				NULL),
		     3);
	EG_ASSERT_EQ(apply_text(f.s, cm_v1, NULL), 1);
	g = gen_of(f.s);
	refs[0] = (struct eg_store_ref){ eg_kind_lookup("cm"), "default", "cfg" };
	refs[1] = (struct eg_store_ref){ eg_kind_lookup("cm"), "default", "cfg" };
	refs[2] = (struct eg_store_ref){ eg_kind_lookup("ns"), NULL, "default" };
	refs[3] = (struct eg_store_ref){ eg_kind_lookup("cm"), "default", "../../etc" };
	EG_ASSERT_EQ(eg_store_delete(f.s, refs, 4, res), 1);
	EG_ASSERT_EQ(res[0], 0);
	EG_ASSERT_EQ(res[1], -ENOENT); /* already gone */
	EG_ASSERT_EQ(res[2], -EPERM);  /* default may not be deleted */
	EG_ASSERT_EQ(res[3], -ENOENT);
	EG_ASSERT_EQ(gen_of(f.s), g + 1);
	EG_ASSERT(get_obj(f.s, "cm", "default", "cfg") == NULL);
	/* a namespace takes its objects with it */
	refs[0] = (struct eg_store_ref){ eg_kind_lookup("ns"), NULL, "app" };
	refs[1] = (struct eg_store_ref){ eg_kind_lookup("cm"), "app", "a" };
	EG_ASSERT_EQ(eg_store_delete(f.s, refs, 2, res), 1);
	EG_ASSERT_EQ(res[1], -ENOENT);
	EG_ASSERT(get_obj(f.s, "secret", "app", "s") == NULL);
	EG_ASSERT_EQ(faccessat(f.s->dirfd, "objects/secrets/app", F_OK, 0), -1);
	EG_ASSERT_EQ(eg_store_namespace_exists(f.s, "app"), 0);
	/* nothing to delete: no change signal */
	g = gen_of(f.s);
	EG_ASSERT_EQ(eg_store_delete(f.s, refs, 1, res), 0);
	EG_ASSERT_EQ(gen_of(f.s), g);
	fx_close(&f);
}

EG_TEST(store_atomic_write_leaves_no_temp_files)
{
	struct fixture f;
	char **names = NULL;
	size_t n = 9;
	int fd;

	fx_open(&f);
	/* a writer that crashed half way left a temp file: the next writer removes it, and
	 * readers never see it (it is not under objects/) */
	fd = openat(f.s->dirfd, "tmp/12345.0", O_WRONLY | O_CREAT, 0644);
	EG_ASSERT(fd >= 0);
	EG_ASSERT_EQ(write(fd, "apiVersion: v1\nkind: Con", 24), 24);
	close(fd);
	EG_ASSERT_EQ(apply_text(f.s, cm_v1, NULL), 1);
	EG_ASSERT_EQ(eg_file_list_at(f.s->dirfd, "tmp", &names, &n), 0);
	EG_ASSERT_EQ(n, 0);
	eg_file_names_free(names, n);
	/* the write replaces the whole file: the stored text parses back to the object */
	{
		struct eg_buf b = EG_BUF_INIT(1 << 20);

		EG_ASSERT_EQ(eg_store_read_file(f.s, "objects/configmaps/default/cfg", &b), 0);
		EG_ASSERT_CONTAINS(eg_buf_cstr(&b), "resourceVersion: \"4\"");
		EG_ASSERT(b.data[b.len - 1] == '\n');
		eg_buf_done(&b);
	}
	EG_ASSERT_EQ(eg_store_write_file(f.s, "objects/configmaps/default/cfg", "x: 1\n", 5), 0);
	EG_ASSERT_EQ(eg_file_list_at(f.s->dirfd, "tmp", &names, &n), 0);
	EG_ASSERT_EQ(n, 0);
	eg_file_names_free(names, n);
	fx_close(&f);
}

EG_TEST(store_survives_lost_directories)
{
	char path[128];
	struct fixture f;
	struct eg_resource_set set;
	struct eg_diag d;

	fx_open(&f);
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	/* DIR/tmp removed by hand: the next writer recreates it */
	EG_ASSERT_EQ(unlinkat(f.s->dirfd, "tmp", AT_REMOVEDIR), 0);
	EG_ASSERT_EQ(apply_text(f.s, cm_v1, NULL), 1);
	EG_ASSERT_EQ(faccessat(f.s->dirfd, "tmp", F_OK, 0), 0);
	/* DIR/objects gone: an empty store, not an error */
	snprintf(path, sizeof(path), "%s/objects", f.dir);
	EG_ASSERT_EQ(nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	EG_ASSERT_EQ(eg_store_load(f.s, &set, NULL, &d), 0);
	EG_ASSERT_EQ(set.n, 0);
	EG_ASSERT_EQ(apply_text(f.s, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n", NULL),
		     1);
	EG_ASSERT_EQ(eg_store_load(f.s, &set, NULL, &d), 0);
	EG_ASSERT_EQ(set.n, 1);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	fx_close(&f);
}

EG_TEST(store_load_reports_a_corrupt_or_misplaced_file)
{
	struct fixture f;
	struct eg_resource_set set;
	struct eg_diag d;

	fx_open(&f);
	EG_ASSERT_EQ(apply_text(f.s, cm_v1, NULL), 1);
	EG_ASSERT_EQ(eg_store_mkdirs(f.s, "objects/configmaps/kube-system"), 0);
	EG_ASSERT_EQ(eg_store_write_file(f.s, "objects/configmaps/kube-system/other",
					 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n"
					 "  namespace: default\n",
					 69),
		     0);
	EG_ASSERT_EQ(eg_store_write_file(f.s, "objects/configmaps/default/broken", "{ not yaml\n", 11),
		     0);
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_store_load(f.s, &set, NULL, &d), -EINVAL);
	EG_ASSERT_EQ(set.n, 4); /* the three namespaces and the good ConfigMap */
	EG_ASSERT_CONTAINS(eg_diag_text(&d), "not where this object belongs");
	EG_ASSERT_CONTAINS(eg_diag_text(&d), "objects/configmaps/default/broken");
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	fx_close(&f);
}

EG_TEST(store_watch_signals_changes)
{
	struct fixture f;
	struct pollfd p;
	int fd;

	fx_open(&f);
	fd = eg_store_watch_open(f.s);
	EG_ASSERT(fd >= 0);
	EG_ASSERT_EQ(eg_store_watch_changed(fd), 0);
	EG_ASSERT_EQ(apply_text(f.s, cm_v1, NULL), 1);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	EG_ASSERT_EQ(poll(&p, 1, 2000), 1);
	EG_ASSERT_EQ(eg_store_watch_changed(fd), 1);
	EG_ASSERT_EQ(eg_store_watch_changed(fd), 0);
	/* an unchanged re-apply and a read are silent */
	EG_ASSERT_EQ(apply_text(f.s, cm_v1, NULL), 0);
	{
		struct eg_resource *r = get_obj(f.s, "ns", NULL, "default");

		EG_ASSERT(r != NULL); /* reads take the shared lock and write nothing */
		eg_resource_free(r);
	}
	EG_ASSERT_EQ(eg_store_watch_changed(fd), 0);
	close(fd);
	fx_close(&f);
}

EG_TEST(store_two_writers_lose_nothing)
{
	struct fixture f;
	struct eg_resource_set set;
	struct eg_diag d;
	pid_t pid[2];

	fx_open(&f);
	for (int w = 0; w < 2; w++) {
		pid[w] = fork();
		EG_ASSERT(pid[w] >= 0);
		if (pid[w] == 0) {
			struct eg_store *s = NULL;
			int ok = eg_store_open(f.dir, 0, &s) == 0;

			for (int i = 0; ok && i < 25; i++) {
				char text[160];

				snprintf(text, sizeof(text),
					 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: w%d-%d\n",
					 w, i);
				ok = apply_text(s, text, NULL) == 1;
			}
			eg_store_close(s);
			_exit(ok ? 0 : 1);
		}
	}
	for (int w = 0; w < 2; w++) {
		int st = 0;

		EG_ASSERT_EQ(waitpid(pid[w], &st, 0), pid[w]);
		EG_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_store_list(f.s, eg_kind_lookup("cm"), "default", &set, &d), 0);
	EG_ASSERT_EQ(set.n, 50);
	for (size_t i = 0; i < set.n; i++)
		for (size_t j = 0; j < i; j++)
			EG_ASSERT(rv_of(set.v[i]) != rv_of(set.v[j]));
	EG_ASSERT_EQ(gen_of(f.s), 53);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	fx_close(&f);
}

EG_TEST(store_parse_time_and_names)
{
	int64_t t;
	char buf[128];

	EG_ASSERT_EQ(eg_store_parse_time("1970-01-02T00:00:00Z", &t), 0);
	EG_ASSERT_EQ(t, 86400);
	EG_ASSERT_EQ(eg_store_parse_time("2025-04-25T10:00:00.123Z", &t), 0);
	EG_ASSERT_EQ(eg_store_parse_time("2025-04-25T10:00:00+02:00", &t), -EINVAL);
	EG_ASSERT_EQ(eg_store_parse_time("yesterday", &t), -EINVAL);
	EG_ASSERT_STR_EQ(eg_store_resource_name(eg_kind_lookup("se"), buf, sizeof(buf)),
			 "serviceentries.networking.istio.io");
	EG_ASSERT_STR_EQ(eg_store_resource_name(eg_kind_lookup("deploy"), buf, sizeof(buf)),
			 "deployments.apps");
	EG_ASSERT_STR_EQ(eg_store_resource_name(eg_kind_lookup("svc"), buf, sizeof(buf)), "services");
	EG_ASSERT_EQ(eg_store_obj_path(eg_kind_lookup("ns"), "ignored", "x", buf, sizeof(buf)), 0);
	EG_ASSERT_STR_EQ(buf, "objects/namespaces/_cluster/x");
}
