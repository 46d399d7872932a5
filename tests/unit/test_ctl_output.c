/* tests/unit/test_ctl_output.c: what egressctl get prints: kubectl's ages, table layout,
 * the -o argument, and jsonpath templates as the how-to writes them. */
#include "../../src/ctl/output.c"

#include "eg_test.h"

static struct eg_node *yaml(const char *text)
{
	struct eg_node **docs = NULL, *root;
	struct eg_diag d;
	size_t n = 0;

	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_yaml_load("t.yaml", text, strlen(text), &d, &docs, &n), 0);
	eg_diag_done(&d);
	EG_ASSERT_EQ(n, 1);
	root = docs[0];
	free(docs);
	return root;
}

/* Runs @tmpl over @root; returns the text (static buffer) or "ERR: why". */
static const char *jp(const struct eg_node *root, const char *tmpl)
{
	static char text[4096];
	struct eg_buf out = EG_BUF_INIT(sizeof(text) - 1);
	const char *err = NULL;
	int r = eg_ctl_jsonpath(tmpl, root, &out, &err);

	if (r < 0)
		snprintf(text, sizeof(text), "ERR: %s", err ? err : "?");
	else
		snprintf(text, sizeof(text), "%s", eg_buf_cstr(&out));
	eg_buf_done(&out);
	return text;
}

EG_TEST(ctl_age_like_kubectl)
{
	static const struct {
		int64_t s;
		const char *want;
	} cases[] = {
		{ -5, "<invalid>" }, { -1, "0s" },	     { 0, "0s" },
		{ 59, "59s" },	     { 119, "119s" },	     { 120, "2m" },
		{ 200, "3m20s" },    { 600, "10m" },	     { 179 * 60, "179m" },
		{ 3 * 3600, "3h" },  { 3 * 3600 + 60, "3h1m" }, { 8 * 3600, "8h" },
		{ 47 * 3600, "47h" }, { 2 * 86400, "2d" },   { 6 * 86400 + 4 * 3600, "6d4h" },
		{ 8 * 86400, "8d" }, { 400 * 86400, "400d" }, { 731 * 86400, "2y1d" },
		{ 10 * 366 * 86400L, "10y" },
	};
	char buf[32];

	for (size_t i = 0; i < EG_ARRAY_SIZE(cases); i++) {
		eg_ctl_age(cases[i].s, buf, sizeof(buf));
		EG_ASSERT_STR_EQ(buf, cases[i].want);
	}
}

EG_TEST(ctl_table_pads_three_spaces)
{
	static const char *const h[] = { "NAME", "HOSTS", "AGE" };
	static const char *const r1[] = { "cnn", "[\"edition.cnn.com\"]", "5s" };
	static const char *const r2[] = { "a-longer-name", NULL, "3m" };
	struct eg_ctl_table t;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	eg_ctl_table_init(&t, 3);
	EG_ASSERT_EQ(eg_ctl_table_row(&t, h), 0);
	EG_ASSERT_EQ(eg_ctl_table_row(&t, r1), 0);
	EG_ASSERT_EQ(eg_ctl_table_row(&t, r2), 0);
	eg_ctl_table_print(&t, f);
	fclose(f);
	EG_ASSERT_STR_EQ(text, "NAME            HOSTS                 AGE\n"
			       "cnn             [\"edition.cnn.com\"]   5s\n"
			       "a-longer-name                         3m\n");
	free(text);
	eg_ctl_table_done(&t);
}

EG_TEST(ctl_output_argument)
{
	struct eg_ctl_output o;

	EG_ASSERT_EQ(eg_ctl_output_parse("yaml", &o), 0);
	EG_ASSERT_EQ(o.fmt, EG_CTL_OUT_YAML);
	EG_ASSERT_EQ(eg_ctl_output_parse("wide", &o), 0);
	EG_ASSERT_EQ(o.fmt, EG_CTL_OUT_WIDE);
	EG_ASSERT_EQ(eg_ctl_output_parse("jsonpath={.a}", &o), 0);
	EG_ASSERT_EQ(o.fmt, EG_CTL_OUT_JSONPATH);
	EG_ASSERT_STR_EQ(o.jsonpath, "{.a}");
	EG_ASSERT_EQ(eg_ctl_output_parse("jsonpath=", &o), -EINVAL);
	EG_ASSERT_EQ(eg_ctl_output_parse("xml", &o), -EINVAL);
}

EG_TEST(ctl_jsonpath_howto_reads)
{
	struct eg_node *d = yaml(
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: asm-egress-test-asm-1-24\n"
		"  labels:\n    app: asm-egress-test\n    istio: asm-egress-test\n"
		"spec:\n  replicas: 2\n  template:\n    metadata:\n      annotations:\n"
		"        kubernetes.azure.com/static-gateway-configuration: asm-egress-test-sgc\n"
		"      labels:\n        istio: asm-egress-test\n");

	/* the shell removed the double quotes (the how-to's line, unquoted) */
	EG_ASSERT_STR_EQ(jp(d, "{.spec.template.metadata.annotations.kubernetes\\.azure\\.com\\/static-gateway-configuration}"),
			 "asm-egress-test-sgc");
	/* the same with the double quotes kept */
	EG_ASSERT_STR_EQ(jp(d, "{.spec.template.metadata.annotations.\"kubernetes\\.azure\\.com\\/static-gateway-configuration\"}"),
			 "asm-egress-test-sgc");
	EG_ASSERT_STR_EQ(jp(d, "{.metadata.labels.istio}"), "asm-egress-test");
	EG_ASSERT_STR_EQ(jp(d, "'{.metadata.labels.istio}'"), "asm-egress-test");
	EG_ASSERT_STR_EQ(jp(d, "{.spec.replicas}"), "2");
	EG_ASSERT_STR_EQ(jp(d, "{.metadata.labels}"),
			 "{\"app\":\"asm-egress-test\",\"istio\":\"asm-egress-test\"}");
	EG_ASSERT_STR_EQ(jp(d, "{.status.egressIpPrefix}"), ""); /* missing: empty */
	EG_ASSERT_STR_EQ(jp(d, "name={.metadata.name}!"), "name=asm-egress-test-asm-1-24!");
	EG_ASSERT_STR_EQ(jp(d, "{$.kind}"), "Deployment");
	eg_node_free(d);
}

EG_TEST(ctl_jsonpath_lists)
{
	struct eg_node *l = yaml("apiVersion: v1\nkind: List\nitems:\n"
				 "- metadata:\n    name: curl-1\n  spec:\n    template:\n      metadata:\n"
				 "        labels:\n          app: curl\n"
				 "- metadata:\n    name: curl-2\n  status:\n    egressIpPrefix: 127.0.10.0/30\n");

	EG_ASSERT_STR_EQ(jp(l, "{.items..metadata.name}"), "curl-1 curl-2");
	EG_ASSERT_STR_EQ(jp(l, "{.items[*].metadata.name}"), "curl-1 curl-2");
	EG_ASSERT_STR_EQ(jp(l, "{.items[1].metadata.name}"), "curl-2");
	EG_ASSERT_STR_EQ(jp(l, "{.items[-1].status.egressIpPrefix}"), "127.0.10.0/30");
	EG_ASSERT_STR_EQ(jp(l, "{.items[5].metadata.name}"), "");
	EG_ASSERT_STR_EQ(jp(l, "{.items[0]['metadata'].name}"), "curl-1");
	EG_ASSERT_STR_EQ(jp(l, "{range .items[*]}{.metadata.name}{\"\\n\"}{end}"), "curl-1\ncurl-2\n");
	EG_ASSERT_STR_EQ(jp(l, "{range .items[*]}[{.metadata.name}]{end}done"), "[curl-1][curl-2]done");
	EG_ASSERT_STR_EQ(jp(l, "{range .nothing[*]}x{end}y"), "y");
	eg_node_free(l);
}

EG_TEST(ctl_jsonpath_refuses_bad_templates)
{
	struct eg_node *d = yaml("a: 1\n");

	EG_ASSERT_CONTAINS(jp(d, "{.a"), "ERR: unclosed action");
	EG_ASSERT_CONTAINS(jp(d, "{.a[}"), "ERR:");
	EG_ASSERT_CONTAINS(jp(d, "{.a[x]}"), "ERR: unsupported subscript");
	EG_ASSERT_CONTAINS(jp(d, "{end}"), "ERR: {end} without {range}");
	EG_ASSERT_CONTAINS(jp(d, "{range .a}x"), "ERR: {range} without {end}");
	EG_ASSERT_CONTAINS(jp(d, "{}"), "ERR: empty action");
	EG_ASSERT_CONTAINS(jp(d, "{.\"a}"), "ERR: unclosed action"); /* the quote hides the brace */
	eg_node_free(d);
}
