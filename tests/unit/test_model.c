/* tests/unit/test_model.c: the YAML node model (positions, scalar typing, writers), value
 * checks (durations, hosts, addresses, RE2), kinds, MeshConfig, and all-or-nothing parsing. */
#include <dirent.h>

#include "../../src/model/node.c"
#include "eg_test.h"
#include "model/kinds.h"

/* Loads one document or fails the test. */
static struct eg_node *load1(const char *yaml)
{
	struct eg_diag d;
	struct eg_node **docs = NULL;
	size_t n = 0;
	struct eg_node *root;
	int r;

	eg_diag_init(&d);
	r = eg_yaml_load("t.yaml", yaml, strlen(yaml), &d, &docs, &n);
	if (r != 0 || n != 1) {
		printf("# load: r=%d n=%zu: %s\n", r, n, eg_diag_text(&d));
		eg_diag_done(&d);
		for (size_t i = 0; i < n; i++)
			eg_node_free(docs[i]);
		free(docs);
		return NULL;
	}
	eg_diag_done(&d);
	root = docs[0];
	free(docs);
	return root;
}

/* The diagnostics of loading @yaml (which must fail). */
static char *load_fail(const char *yaml)
{
	struct eg_diag d;
	struct eg_node **docs = NULL;
	size_t n = 0;
	char *text;

	eg_diag_init(&d);
	if (eg_yaml_load("t.yaml", yaml, strlen(yaml), &d, &docs, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			eg_node_free(docs[i]);
		free(docs);
		eg_diag_done(&d);
		return NULL;
	}
	text = strdup(eg_diag_text(&d));
	eg_diag_done(&d);
	return text;
}

EG_TEST(loader_positions)
{
	struct eg_node *root = load1("apiVersion: v1\n"
				     "spec:\n"
				     "  hosts:\n"
				     "  - a.example.com\n"
				     "  -   b.example.com\n"
				     "  ports: [ {number: 80} ]\n");
	const struct eg_node *hosts, *num;

	EG_ASSERT(root);
	EG_ASSERT_EQ(root->pos.line, 1);
	EG_ASSERT_EQ(root->pos.col, 1);
	hosts = eg_node_path(root, "spec.hosts");
	EG_ASSERT(hosts && hosts->kind == EG_NODE_SEQ);
	EG_ASSERT_EQ(hosts->v[0]->pos.line, 4);
	EG_ASSERT_EQ(hosts->v[0]->pos.col, 5);
	EG_ASSERT_EQ(hosts->v[1]->pos.line, 5);
	EG_ASSERT_EQ(hosts->v[1]->pos.col, 7);
	num = eg_node_get(eg_node_path(root, "spec.ports")->v[0], "number");
	EG_ASSERT_EQ(num->pos.line, 6);
	EG_ASSERT_EQ(num->pos.col, 21);
	/* keys carry their own position */
	EG_ASSERT_EQ(eg_node_get(root, "spec")->pos.line, 3);
	EG_ASSERT_EQ(root->k[1]->pos.line, 2);
	EG_ASSERT_EQ(root->k[1]->pos.col, 1);
	EG_ASSERT_STR_EQ(root->pos.file, "t.yaml");
	eg_node_free(root);
}

EG_TEST(loader_problems_have_positions)
{
	char *t;

	t = load_fail("a: 1\nb:\n\tc: 2\n");
	EG_ASSERT_STR_EQ(t, "t.yaml:3:1: error: invalid YAML: a tab character; YAML indents with spaces only\n");
	free(t);
	t = load_fail("a: 1\nb: 2\na: 3\n");
	EG_ASSERT_STR_EQ(t, "t.yaml:3:1: error: duplicate key \"a\" (first at line 1, column 1)\n");
	free(t);
	t = load_fail("a: &x 1\nb: *x\n");
	EG_ASSERT_STR_EQ(t, "t.yaml:2:4: error: YAML aliases (*name) are not supported\n");
	free(t);
	t = load_fail("? [a, b]\n: c\n");
	EG_ASSERT_CONTAINS(t, "t.yaml:1:3: error: invalid YAML: a map key must be a string");
	free(t);
	t = load_fail("a: \"x\\0y\"\n");
	EG_ASSERT_CONTAINS(t, "a NUL character in a string");
	free(t);
}

EG_TEST(duplicate_keys_in_large_maps)
{
	struct eg_buf b = EG_BUF_INIT(8u << 20);
	char *t;

	/* 20,000 keys with two repeats: found and reported in document order, in O(n log n) */
	for (int i = 0; i < 20000; i++)
		EG_ASSERT_EQ(eg_buf_printf(&b, "k%d: v\n", i), 0);
	EG_ASSERT_EQ(eg_buf_puts(&b, "k5: again\nk19999: again\n"), 0);
	t = load_fail(eg_buf_cstr(&b));
	EG_ASSERT_STR_EQ(t, "t.yaml:20001:1: error: duplicate key \"k5\" (first at line 6, column 1)\n"
			    "t.yaml:20002:1: error: duplicate key \"k19999\" (first at line 20000, column 1)\n");
	free(t);
	eg_buf_done(&b);
}

EG_TEST(scalar_typing)
{
	struct eg_node *root = load1("i: 42\n"
				     "neg: -7\n"
				     "hex: 0x1F\n"
				     "oct: 0o17\n"
				     "dec0: 010\n"
				     "f: 1.5\n"
				     "e: 1e3\n"
				     "inf: .inf\n"
				     "t: true\n"
				     "y: yes\n"
				     "n: ~\n"
				     "empty:\n"
				     "q: \"42\"\n"
				     "sq: 'true'\n"
				     "tagged: !!str 7\n"
				     "s: hello world\n"
				     "ver: 1.2.3\n");

	EG_ASSERT(root);
	EG_ASSERT_EQ(eg_node_get(root, "i")->tag, EG_TAG_INT);
	EG_ASSERT_EQ(eg_node_int(root, "i", 0), 42);
	EG_ASSERT_EQ(eg_node_int(root, "neg", 0), -7);
	EG_ASSERT_EQ(eg_node_int(root, "hex", 0), 31);
	EG_ASSERT_EQ(eg_node_int(root, "oct", 0), 15);
	/* YAML 1.2: a leading zero is still decimal */
	EG_ASSERT_EQ(eg_node_int(root, "dec0", 0), 10);
	EG_ASSERT_EQ(eg_node_get(root, "f")->tag, EG_TAG_FLOAT);
	EG_ASSERT_EQ(eg_node_get(root, "e")->tag, EG_TAG_FLOAT);
	EG_ASSERT_EQ(eg_node_get(root, "inf")->tag, EG_TAG_FLOAT);
	EG_ASSERT_EQ(eg_node_get(root, "t")->tag, EG_TAG_BOOL);
	EG_ASSERT(eg_node_bool(root, "t", false));
	EG_ASSERT(eg_node_bool(root, "y", false));
	EG_ASSERT_EQ(eg_node_get(root, "n")->tag, EG_TAG_NULL);
	EG_ASSERT_EQ(eg_node_get(root, "empty")->tag, EG_TAG_NULL);
	EG_ASSERT(eg_node_str(root, "empty") == NULL);
	EG_ASSERT_EQ(eg_node_get(root, "q")->tag, EG_TAG_STR);
	EG_ASSERT(eg_node_get(root, "q")->quoted);
	EG_ASSERT_EQ(eg_node_get(root, "sq")->tag, EG_TAG_STR);
	EG_ASSERT_EQ(eg_node_get(root, "tagged")->tag, EG_TAG_STR);
	EG_ASSERT_EQ(eg_node_get(root, "s")->tag, EG_TAG_STR);
	EG_ASSERT_EQ(eg_node_get(root, "ver")->tag, EG_TAG_STR);
	EG_ASSERT_EQ(eg_node_get(root, "sq")->style, '\'');
	EG_ASSERT_EQ(eg_node_get(root, "q")->style, '"');
	EG_ASSERT_EQ(eg_node_get(root, "s")->style, 0);
	eg_node_free(root);
}

EG_TEST(scalar_int_parser)
{
	int64_t v = 0;

	EG_ASSERT_EQ(eg_scalar_int("9223372036854775807", &v), 0);
	EG_ASSERT_EQ(v, INT64_MAX);
	EG_ASSERT_EQ(eg_scalar_int("-9223372036854775808", &v), 0);
	EG_ASSERT_EQ(v, INT64_MIN);
	EG_ASSERT_EQ(eg_scalar_int("9223372036854775808", &v), -ERANGE);
	EG_ASSERT_EQ(eg_scalar_int("0xffffffffffffffffff", &v), -ERANGE);
	EG_ASSERT_EQ(eg_scalar_int("0o8", &v), -EINVAL);
	EG_ASSERT_EQ(eg_scalar_int("0x", &v), -EINVAL);
	EG_ASSERT_EQ(eg_scalar_int("-", &v), -EINVAL);
	EG_ASSERT_EQ(eg_scalar_int("12a", &v), -EINVAL);
	EG_ASSERT_EQ(eg_scalar_int("+0x10", &v), 0);
	EG_ASSERT_EQ(v, 16);
	/* an out-of-range integer is still typed as an integer (and then refused by range) */
	EG_ASSERT_EQ(resolve_plain("99999999999999999999"), EG_TAG_INT);
	EG_ASSERT_EQ(resolve_plain("1.2.3"), EG_TAG_STR);
}

EG_TEST(durations)
{
	int64_t ns = -1;

	EG_ASSERT_EQ(eg_parse_duration("10s", &ns), 0);
	EG_ASSERT_EQ(ns, 10000000000LL);
	EG_ASSERT_EQ(eg_parse_duration("1h30m", &ns), 0);
	EG_ASSERT_EQ(ns, 5400000000000LL);
	EG_ASSERT_EQ(eg_parse_duration("500ms", &ns), 0);
	EG_ASSERT_EQ(ns, 500000000LL);
	EG_ASSERT_EQ(eg_parse_duration("1.5s", &ns), 0);
	EG_ASSERT_EQ(ns, 1500000000LL);
	EG_ASSERT_EQ(eg_parse_duration("250us", &ns), 0);
	EG_ASSERT_EQ(ns, 250000);
	EG_ASSERT_EQ(eg_parse_duration("0", &ns), 0);
	EG_ASSERT_EQ(ns, 0);
	EG_ASSERT_EQ(eg_parse_duration("0s", &ns), 0);
	EG_ASSERT_EQ(ns, 0);
	EG_ASSERT_EQ(eg_parse_duration("10", &ns), -EINVAL);
	EG_ASSERT_EQ(eg_parse_duration("1d", &ns), -EINVAL);
	EG_ASSERT_EQ(eg_parse_duration("s", &ns), -EINVAL);
	EG_ASSERT_EQ(eg_parse_duration("", &ns), -EINVAL);
	EG_ASSERT_EQ(eg_parse_duration("-1s", &ns), -EINVAL);
	EG_ASSERT_EQ(eg_parse_duration("999999999999h", &ns), -ERANGE);
}

EG_TEST(host_checks)
{
	char why[512];
	const char *w;

	EG_ASSERT(eg_istio_wildcard_domain("edition.cnn.com", why, sizeof(why)) == NULL);
	EG_ASSERT(eg_istio_wildcard_domain("*.cnn.com", why, sizeof(why)) == NULL);
	EG_ASSERT(eg_istio_wildcard_domain("*", why, sizeof(why)) == NULL);
	EG_ASSERT(eg_istio_wildcard_domain("reviews", why, sizeof(why)) == NULL);
	EG_ASSERT(eg_istio_wildcard_domain("istio.io.", why, sizeof(why)) == NULL);
	/* "*foo.com" is a valid wildcard label for Istio: only a warning elsewhere */
	EG_ASSERT(eg_istio_wildcard_domain("*foo.com", why, sizeof(why)) == NULL);
	EG_ASSERT_STR_EQ(eg_istio_partial_wildcard("*foo.com", why, sizeof(why)),
			 "partial wildcard \"*foo.com\" not allowed");
	EG_ASSERT(eg_istio_partial_wildcard("*.foo.com", why, sizeof(why)) == NULL);
	EG_ASSERT_STR_EQ(eg_istio_wildcard_domain("foo.*.com", why, sizeof(why)),
			 "domain name \"foo.*.com\" invalid (label \"*\" invalid)");
	EG_ASSERT_STR_EQ(eg_istio_wildcard_domain("", why, sizeof(why)),
			 "empty domain name not allowed");
	EG_ASSERT_STR_EQ(eg_istio_wildcard_domain("a..b", why, sizeof(why)),
			 "domain name \"a..b\" invalid (label \"\" invalid)");
	EG_ASSERT_STR_EQ(eg_istio_wildcard_domain("1.2.3.4", why, sizeof(why)),
			 "domain name \"1.2.3.4\" invalid (top level domain \"4\" cannot be all-numeric)");
	w = eg_istio_fqdn("*.example.com", why, sizeof(why));
	EG_ASSERT(w != NULL);
	EG_ASSERT(eg_istio_fqdn("example.com.", why, sizeof(why)) == NULL);
	/* the model's generic check used by EG_FMT_HOST */
	EG_ASSERT(eg_is_valid_host("*.example.com", false, &w));
	EG_ASSERT(!eg_is_valid_host("*", false, &w));
	EG_ASSERT(eg_is_valid_host("*", true, &w));
	EG_ASSERT(!eg_is_valid_host("foo.*.com", true, &w));
	EG_ASSERT(!eg_is_valid_host("-a.com", true, &w));
	/* host.Name.Matches / SubsetOf */
	EG_ASSERT(eg_host_matches("*.example.com", "a.example.com"));
	EG_ASSERT(eg_host_matches("a.example.com", "*.example.com"));
	EG_ASSERT(eg_host_matches("*.com", "*.example.com"));
	EG_ASSERT(!eg_host_matches("a.example.com", "b.example.com"));
	EG_ASSERT(eg_host_subset_of("a.example.com", "*.example.com"));
	EG_ASSERT(eg_host_subset_of("*.a.example.com", "*.example.com"));
	EG_ASSERT(!eg_host_subset_of("*.example.com", "a.example.com"));
	EG_ASSERT(!eg_host_subset_of("example.com", "*.example.com"));
}

EG_TEST(names_and_addresses)
{
	EG_ASSERT(eg_is_dns1123_label("asm-egress-test"));
	EG_ASSERT(!eg_is_dns1123_label("Asm"));
	EG_ASSERT(!eg_is_dns1123_label("a.b"));
	EG_ASSERT(!eg_is_dns1123_label("-a"));
	EG_ASSERT(eg_is_dns1123_subdomain("a.b-c.d"));
	EG_ASSERT(!eg_is_dns1123_subdomain("a..b"));
	EG_ASSERT(eg_istio_dns_label("Http-Port"));
	EG_ASSERT(!eg_istio_dns_label("http_port"));
	EG_ASSERT(eg_is_ip("198.18.0.1"));
	EG_ASSERT(eg_is_ip("2001:db8::1"));
	EG_ASSERT(!eg_is_ip("198.18.0.256"));
	EG_ASSERT(eg_is_cidr("198.18.0.0/15"));
	EG_ASSERT(eg_is_cidr("2001:db8::/32"));
	EG_ASSERT(!eg_is_cidr("198.18.0.0/33"));
	EG_ASSERT(!eg_is_cidr("198.18.0.0"));
	EG_ASSERT(eg_is_ip_or_cidr("10.0.0.1"));
	EG_ASSERT(eg_is_ip_or_cidr("10.0.0.0/8"));
	EG_ASSERT(!eg_is_ip_or_cidr("10.0.0.0/"));
}

EG_TEST(protocols)
{
	EG_ASSERT_EQ(eg_protocol_parse("http"), EG_PROTO_HTTP);
	EG_ASSERT_EQ(eg_protocol_parse("HTTPS"), EG_PROTO_HTTPS);
	EG_ASSERT_EQ(eg_protocol_parse("grpc-web"), EG_PROTO_GRPC_WEB);
	EG_ASSERT_EQ(eg_protocol_parse("Mongo"), EG_PROTO_MONGO);
	EG_ASSERT_EQ(eg_protocol_parse(""), EG_PROTO_UNSUPPORTED);
	EG_ASSERT_EQ(eg_protocol_parse("HTTP3"), EG_PROTO_UNSUPPORTED);
	EG_ASSERT_EQ(eg_protocol_parse(NULL), EG_PROTO_UNSUPPORTED);
	EG_ASSERT(eg_protocol_is_http(EG_PROTO_GRPC));
	EG_ASSERT(!eg_protocol_is_http(EG_PROTO_HTTPS));
	EG_ASSERT(eg_protocol_is_tls(EG_PROTO_HTTPS));
	EG_ASSERT(eg_protocol_is_tcp(EG_PROTO_TLS));
	EG_ASSERT(eg_protocol_is_http2(EG_PROTO_HTTP2));
	EG_ASSERT_STR_EQ(eg_protocol_name(EG_PROTO_GRPC_WEB), "GRPC-Web");
}

EG_TEST(re2_syntax)
{
	char why[256];

	EG_ASSERT(eg_re2_check("^/api/v[0-9]+(/.*)?$", why, sizeof(why)) == NULL);
	EG_ASSERT(eg_re2_check("(?i)abc|(?P<name>x)", why, sizeof(why)) == NULL);
	EG_ASSERT(eg_re2_check("a*?b+?c??d{2,3}?", why, sizeof(why)) == NULL);
	EG_ASSERT(eg_re2_check("\\d+\\.\\w\\pL\\p{Greek}[[:alpha:]]", why, sizeof(why)) == NULL);
	EG_ASSERT(eg_re2_check("a{,3}", why, sizeof(why)) == NULL); /* a literal '{' */
	EG_ASSERT_STR_EQ(eg_re2_check("(a", why, sizeof(why)),
			 "error parsing regexp: missing closing ): `(a`");
	EG_ASSERT_STR_EQ(eg_re2_check("a)", why, sizeof(why)), "error parsing regexp: unexpected ): `a)`");
	EG_ASSERT_STR_EQ(eg_re2_check("[a", why, sizeof(why)), "error parsing regexp: missing closing ]: `[a`");
	EG_ASSERT_STR_EQ(eg_re2_check("*a", why, sizeof(why)),
			 "error parsing regexp: missing argument to repetition operator: `*`");
	EG_ASSERT_STR_EQ(eg_re2_check("a**", why, sizeof(why)),
			 "error parsing regexp: invalid nested repetition operator: `**`");
	EG_ASSERT_STR_EQ(eg_re2_check("(?=a)", why, sizeof(why)),
			 "error parsing regexp: invalid or unsupported Perl syntax: `(?=`");
	EG_ASSERT_STR_EQ(eg_re2_check("(a)\\1", why, sizeof(why)),
			 "error parsing regexp: invalid escape sequence: `\\1`");
	EG_ASSERT_STR_EQ(eg_re2_check("a{3,2}", why, sizeof(why)),
			 "error parsing regexp: invalid repeat count: `{3,2}`");
	EG_ASSERT_STR_EQ(eg_re2_check("a\\", why, sizeof(why)),
			 "error parsing regexp: trailing backslash at end of expression: ``");
}

/* emit YAML, read it back: the same tree, and emitting again gives the same text */
static void round_trip(const char *yaml)
{
	struct eg_node *a = load1(yaml), *b;
	struct eg_buf o1 = EG_BUF_INIT(1u << 20), o2 = EG_BUF_INIT(1u << 20);

	EG_ASSERT(a);
	EG_ASSERT_EQ(eg_node_emit_yaml(&o1, a), 0);
	b = load1(eg_buf_cstr(&o1));
	if (!b)
		EG_FAIL("emitted YAML does not load:\n%s", eg_buf_cstr(&o1));
	if (!eg_node_equal(a, b))
		EG_FAIL("round trip changed the tree:\n%s", eg_buf_cstr(&o1));
	EG_ASSERT_EQ(eg_node_emit_yaml(&o2, b), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&o2), eg_buf_cstr(&o1));
	eg_node_free(a);
	eg_node_free(b);
	eg_buf_done(&o1);
	eg_buf_done(&o2);
}

EG_TEST(yaml_round_trip)
{
	struct eg_buf big = EG_BUF_INIT(1u << 20);

	round_trip("apiVersion: networking.istio.io/v1\n"
		   "kind: VirtualService\n"
		   "metadata: {name: vs, labels: {app: x}, annotations: {}}\n"
		   "spec:\n"
		   "  hosts: [a.example.com, \"*.example.com\"]\n"
		   "  http:\n"
		   "  - match: [{uri: {prefix: /}}, {headers: {x-a: {}}}]\n"
		   "    route:\n"
		   "    - destination: {host: a, port: {number: 80}}\n"
		   "      weight: 100\n"
		   "  empty: []\n"
		   "  nested: [[1, 2], [], [[x]]]\n");
	round_trip("quoted: [\"true\", \"1\", \"null\", \"\", \"- a\", \"a: b\", \"a #b\", \"#c\",\n"
		   "  \" lead\", \"trail \", \"...\", \"---\", \"@x\", \"%x\", \"x\\ty\", \"\\r\",\n"
		   "  \"\\x01\\x7f\", \"\\u2028line\\u2029sep\\x85nel\", \"\\ufeffbom\", \"caf\\u00e9\",\n"
		   "  \"\\U0001F600\", \"back\\\\slash\", \"q\\\"uote\"]\n"
		   "plain: [-a, a-, 0x1F, 0o17, 1e3, .inf, -.Inf, .nan, yes, No, ~, null, true]\n"
		   "nulls: {a: , b: ~, c: null}\n");
	round_trip("blocks:\n"
		   "  keep: |\n"
		   "    line one\n"
		   "      indented\n"
		   "\n"
		   "    after blank\n"
		   "  strip: |-\n"
		   "    no newline\n"
		   "    at the end\n"
		   "  folded: >\n"
		   "    folded\n"
		   "    text\n"
		   "  trailing: \"a \\nb\\n\"\n"
		   "  twonl: \"a\\n\\n\"\n"
		   "  tabbed: \"\\tx\\ny\"\n"
		   "  inseq:\n"
		   "  - |\n"
		   "    in a list\n"
		   "    item\n");
	round_trip("\"multi\\nline key\": 1\n\"\": empty key\n\"true\": string key\n");
	/* a key longer than an implicit key may be is written as an explicit "? key" */
	EG_ASSERT_EQ(eg_buf_puts(&big, "? \""), 0);
	for (int i = 0; i < 3000; i++)
		EG_ASSERT_EQ(eg_buf_putc(&big, (char)('a' + i % 26)), 0);
	EG_ASSERT_EQ(eg_buf_puts(&big, "\"\n: {x: [1, {y: z}]}\nafter: [1]\n"), 0);
	round_trip(eg_buf_cstr(&big));
	eg_buf_done(&big);
}

EG_TEST(yaml_writer_layout)
{
	struct eg_node *a = load1("kind: X\nspec:\n  hosts: [a, b]\n  port: {number: 80}\n"
				  "  text: \"one\\ntwo\\n\"\n");
	struct eg_buf o = EG_BUF_INIT(4096);

	EG_ASSERT(a);
	EG_ASSERT_EQ(eg_node_emit_yaml(&o, a), 0);
	/* kubectl's layout: lists at their key's indentation, 2-space maps, literal blocks */
	EG_ASSERT_STR_EQ(eg_buf_cstr(&o), "kind: X\n"
					  "spec:\n"
					  "  hosts:\n"
					  "  - a\n"
					  "  - b\n"
					  "  port:\n"
					  "    number: 80\n"
					  "  text: |\n"
					  "    one\n"
					  "    two\n");
	eg_node_free(a);
	eg_buf_done(&o);
}

EG_TEST(json_writer)
{
	struct eg_node *a = load1("i: 0x10\n"
				  "o: 0o17\n"
				  "f: 1.50\n"
				  "g: 3e2\n"
				  "inf: .inf\n"
				  "b: yes\n"
				  "n: ~\n"
				  "s: \"quote\\\" \\\\ \\n\\t\\x01\"\n"
				  "q: \"12\"\n"
				  "l: [1, [], {}]\n");
	struct eg_buf o = EG_BUF_INIT(4096), p = EG_BUF_INIT(4096);
	struct eg_node *back;

	EG_ASSERT(a);
	EG_ASSERT_EQ(eg_node_emit_json(&o, a, 0), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&o),
			 "{\"i\":16,\"o\":15,\"f\":1.5,\"g\":300.0,\"inf\":\".inf\",\"b\":true,\"n\":null,"
			 "\"s\":\"quote\\\" \\\\ \\n\\t\\u0001\",\"q\":\"12\",\"l\":[1,[],{}]}");
	/* JSON is YAML: it reads back with the same types */
	back = load1(eg_buf_cstr(&o));
	EG_ASSERT(back);
	EG_ASSERT_EQ(eg_node_int(back, "i", 0), 16);
	EG_ASSERT_EQ(eg_node_get(back, "q")->tag, EG_TAG_STR);
	EG_ASSERT_STR_EQ(eg_node_str(back, "s"), "quote\" \\ \n\t\x01");
	EG_ASSERT_EQ(eg_node_emit_json(&p, a, 2), 0);
	EG_ASSERT_CONTAINS(eg_buf_cstr(&p), "{\n  \"i\": 16,\n  \"o\": 15,");
	eg_node_free(back);
	eg_node_free(a);
	eg_buf_done(&o);
	eg_buf_done(&p);
}

EG_TEST(block_scalar_positions)
{
	struct eg_node *root = load1("data:\n"
				     "  mesh: |-\n"
				     "      outboundTrafficPolicy:\n"
				     "        mode: REGISTRY_ONLY\n"
				     "  folded: >\n"
				     "    text\n"
				     "  plain: x\n");
	const struct eg_node *mesh, *mode;
	struct eg_node **docs = NULL;
	size_t n = 0;
	struct eg_diag d;

	EG_ASSERT(root);
	mesh = eg_node_path(root, "data.mesh");
	EG_ASSERT_EQ(mesh->style, '|');
	EG_ASSERT_EQ(mesh->pos.line, 2);
	EG_ASSERT_EQ(mesh->pos.col, 9);
	EG_ASSERT_EQ(mesh->block_indent, 6);
	EG_ASSERT_EQ(eg_node_path(root, "data.folded")->style, '>');
	EG_ASSERT_EQ(eg_node_path(root, "data.folded")->block_indent, 4);
	EG_ASSERT_EQ(eg_node_path(root, "data.plain")->block_indent, 0);
	/* YAML inside the block scalar: positions in the outer file */
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_yaml_load_embedded(mesh, "ConfigMap x/y", "data.mesh", &d, &docs, &n), 0);
	EG_ASSERT_EQ(n, 1);
	mode = eg_node_path(docs[0], "outboundTrafficPolicy.mode");
	EG_ASSERT_EQ(mode->pos.line, 4);
	EG_ASSERT_EQ(mode->pos.col, 15);
	EG_ASSERT_EQ(docs[0]->pos.line, 3);
	EG_ASSERT_EQ(docs[0]->pos.col, 7);
	eg_node_free(docs[0]);
	free(docs);
	eg_diag_done(&d);
	eg_node_free(root);
}

EG_TEST(embedded_errors_point_into_the_outer_file)
{
	struct eg_node *root = load1("data:\n"
				     "  mesh: |\n"
				     "    a: 1\n"
				     "    a: 2\n"
				     "  inline: \"x: [1\"\n");
	struct eg_node **docs = NULL;
	size_t n = 0;
	struct eg_diag d;

	EG_ASSERT(root);
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_yaml_load_embedded(eg_node_path(root, "data.mesh"), "CM a/b", "data.mesh", &d,
					   &docs, &n),
		     -EINVAL);
	EG_ASSERT_EQ(eg_yaml_load_embedded(eg_node_path(root, "data.inline"), "CM a/b", "data.inline",
					   &d, &docs, &n),
		     -EINVAL);
	EG_ASSERT_STR_EQ(eg_diag_text(&d),
			 "t.yaml:4:5: error: CM a/b: data.mesh: duplicate key \"a\" (first at line 3, column 5)\n"
			 "t.yaml:5:17: error: CM a/b: data.inline: invalid YAML: did not find expected ',' or ']'\n");
	eg_diag_done(&d);
	eg_node_free(root);
}

/* eg_model_parse of @yaml into @set; diagnostics into @d */
static int parse(const char *yaml, struct eg_resource_set *set, struct eg_diag *d)
{
	struct eg_parse_opts po = { .default_ns = "default" };

	return eg_model_parse("m.yaml", yaml, strlen(yaml), &po, set, d);
}

EG_TEST(meshconfig_api)
{
	struct eg_resource_set set;
	struct eg_diag d;
	struct eg_node *mesh = NULL;
	const char *rev = NULL;

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(parse("apiVersion: v1\nkind: ConfigMap\n"
			   "metadata: {name: istio-shared-configmap-asm-1-24, namespace: aks-istio-system}\n"
			   "data:\n"
			   "  mesh: |\n"
			   "    outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n"
			   "    accessLogFile: /dev/stdout\n"
			   "    connectTimeout: 2s\n"
			   "---\n"
			   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: apps}\n"
			   "data: {mesh: \"[\"}\n",
			   &set, &d),
		     0);
	EG_ASSERT_STR_EQ(eg_diag_text(&d), "");
	EG_ASSERT_EQ(set.n, 2);
	EG_ASSERT(eg_meshconfig_is(set.v[0], &rev));
	EG_ASSERT_STR_EQ(rev, "asm-1-24");
	EG_ASSERT(!eg_meshconfig_is(set.v[1], NULL));
	EG_ASSERT_EQ(eg_meshconfig_parse(set.v[1], &mesh, &d), -ENOENT);
	EG_ASSERT_EQ(eg_meshconfig_parse(set.v[0], &mesh, &d), 0);
	EG_ASSERT(mesh);
	EG_ASSERT_STR_EQ(eg_node_str(mesh, "outboundTrafficPolicy.mode"), "REGISTRY_ONLY");
	/* enums carry their proto number: REGISTRY_ONLY = 0 */
	EG_ASSERT_EQ(eg_node_path(mesh, "outboundTrafficPolicy.mode")->vtype, EG_V_ENUM);
	EG_ASSERT_EQ(eg_node_int(mesh, "outboundTrafficPolicy.mode", -1), 0);
	EG_ASSERT_EQ(eg_node_int(mesh, "connectTimeout", 0), 2000000000LL);
	EG_ASSERT_STR_EQ(eg_node_str(mesh, "accessLogFile"), "/dev/stdout");
	EG_ASSERT_EQ(eg_node_path(mesh, "accessLogFile")->pos.line, 7);
	EG_ASSERT_STR_EQ(eg_node_path(mesh, "accessLogFile")->pos.file, "m.yaml");
	eg_node_free(mesh);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
}

EG_TEST(meshconfig_upstream_and_empty)
{
	struct eg_resource_set set;
	struct eg_diag d;
	struct eg_node *mesh = NULL;
	const char *rev = "x";

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(parse("apiVersion: v1\nkind: ConfigMap\n"
			   "metadata: {name: istio, namespace: istio-system}\n"
			   "data: {mesh: \"\"}\n",
			   &set, &d),
		     0);
	EG_ASSERT(eg_meshconfig_is(set.v[0], &rev));
	EG_ASSERT_STR_EQ(rev, "");
	EG_ASSERT_EQ(eg_meshconfig_parse(set.v[0], &mesh, &d), 0);
	EG_ASSERT(mesh && mesh->kind == EG_NODE_MAP && mesh->n == 0);
	eg_node_free(mesh);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
}

EG_TEST(parse_is_all_or_nothing)
{
	struct eg_resource_set set;
	struct eg_diag d;

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: good}\n"
			   "---\n"
			   "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se}\n"
			   "spec: {hosts: [\"*\"]}\n",
			   &set, &d),
		     -EINVAL);
	EG_ASSERT_EQ(set.n, 0);
	EG_ASSERT_EQ(d.errors, 1);
	EG_ASSERT_STR_EQ(eg_diag_text(&d),
			 "m.yaml:8:16: error: ServiceEntry default/se: spec.hosts[0]: invalid host *\n");
	eg_diag_done(&d);
	eg_resource_set_done(&set);
}

EG_TEST(typed_values_for_the_compiler)
{
	struct eg_resource_set set;
	struct eg_diag d;
	const struct eg_node *spec;

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	EG_ASSERT_EQ(parse("apiVersion: networking.istio.io/v1beta1\nkind: ServiceEntry\n"
			   "metadata: {name: se, namespace: apps}\n"
			   "spec:\n"
			   "  hosts: [edition.cnn.com]\n"
			   "  ports: [{number: 443, name: tls, protocol: tls}]\n"
			   "  resolution: DNS\n"
			   "---\n"
			   "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
			   "metadata: {name: dr, namespace: apps}\n"
			   "spec:\n"
			   "  host: edition.cnn.com\n"
			   "  trafficPolicy:\n"
			   "    connectionPool: {tcp: {connectTimeout: 1.5s}}\n"
			   "    tls: {mode: ISTIO_MUTUAL, sni: edition.cnn.com}\n",
			   &set, &d),
		     0);
	EG_ASSERT_STR_EQ(eg_diag_text(&d), "");
	spec = eg_node_get(set.v[0]->root, "spec");
	EG_ASSERT_EQ(eg_node_int(spec, "resolution", -1), 2); /* DNS */
	EG_ASSERT_EQ(eg_node_path(spec, "ports")->v[0]->k[0]->pos.line, 6);
	EG_ASSERT_EQ(eg_node_int(eg_node_path(spec, "ports")->v[0], "number", 0), 443);
	EG_ASSERT_EQ(eg_protocol_parse(eg_node_str(eg_node_path(spec, "ports")->v[0], "protocol")),
		     EG_PROTO_TLS);
	spec = eg_node_get(set.v[1]->root, "spec");
	EG_ASSERT_EQ(eg_node_int(spec, "trafficPolicy.connectionPool.tcp.connectTimeout", 0),
		     1500000000LL);
	EG_ASSERT_EQ(eg_node_int(spec, "trafficPolicy.tls.mode", -1), 3); /* ISTIO_MUTUAL */
	EG_ASSERT_STR_EQ(set.v[1]->what, "DestinationRule apps/dr");
	eg_diag_done(&d);
	eg_resource_set_done(&set);
}

EG_TEST(kind_lookup)
{
	char buf[128];

	EG_ASSERT(eg_kind_lookup("se") == &eg_kind_serviceentry);
	EG_ASSERT(eg_kind_lookup("ServiceEntries") == &eg_kind_serviceentry);
	EG_ASSERT(eg_kind_lookup("serviceentries.networking.istio.io") == &eg_kind_serviceentry);
	EG_ASSERT(eg_kind_lookup("serviceentries.security.istio.io") == NULL);
	EG_ASSERT(eg_kind_lookup("gw") == &eg_kind_gateway);
	EG_ASSERT(eg_kind_lookup("vs") == &eg_kind_virtualservice);
	EG_ASSERT(eg_kind_lookup("dr") == &eg_kind_destinationrule);
	EG_ASSERT(eg_kind_lookup("sidecars") == &eg_kind_sidecar);
	EG_ASSERT(eg_kind_lookup("telemetries") == &eg_kind_telemetry);
	EG_ASSERT(eg_kind_lookup("ap") == &eg_kind_authorizationpolicy);
	EG_ASSERT(eg_kind_lookup("sgc") == &eg_kind_staticgatewayconfiguration);
	EG_ASSERT(eg_kind_lookup("staticgatewayconfiguration") == &eg_kind_staticgatewayconfiguration);
	EG_ASSERT(eg_kind_lookup("envoyfilter") == NULL);
	EG_ASSERT_STR_EQ(eg_kind_qualified(&eg_kind_virtualservice, buf, sizeof(buf)),
			 "virtualservice.networking.istio.io");
	EG_ASSERT_STR_EQ(eg_kind_qualified(&eg_kind_staticgatewayconfiguration, buf, sizeof(buf)),
			 "staticgatewayconfiguration.egressgateway.kubernetes.azure.com");
}

EG_TEST(versions)
{
	static const char *const apis[] = { "networking.istio.io/v1", "networking.istio.io/v1beta1",
					    "networking.istio.io/v1alpha3" };
	struct eg_buf y = EG_BUF_INIT(4096);

	for (size_t i = 0; i < EG_ARRAY_SIZE(apis); i++) {
		struct eg_resource_set set;
		struct eg_diag d;

		eg_resource_set_init(&set);
		eg_diag_init(&d);
		y.len = 0;
		EG_ASSERT_EQ(eg_buf_printf(&y,
					   "apiVersion: %s\nkind: Sidecar\nmetadata: {name: s}\n"
					   "spec: {outboundTrafficPolicy: {mode: ALLOW_ANY}}\n",
					   apis[i]),
			     0);
		EG_ASSERT_EQ(parse(eg_buf_cstr(&y), &set, &d), 0);
		eg_diag_done(&d);
		eg_resource_set_done(&set);
	}
	eg_buf_done(&y);
}

EG_TEST(diag_limits)
{
	struct eg_diag d;
	struct eg_pos p = { "f", 1, 2 };

	eg_diag_init(&d);
	d.warnings_off = true;
	eg_diag_add(&d, EG_DIAG_WARNING, &p, "K a/b", "x", "w");
	EG_ASSERT_EQ(d.warnings, 1);
	EG_ASSERT_STR_EQ(eg_diag_text(&d), "");
	for (int i = 0; i < EG_DIAG_MAX_LINES + 5; i++)
		eg_diag_add(&d, EG_DIAG_ERROR, &p, "K a/b", "x", "e%d", i);
	EG_ASSERT_EQ(d.errors, EG_DIAG_MAX_LINES + 5);
	EG_ASSERT_EQ(d.lines, EG_DIAG_MAX_LINES + 1);
	EG_ASSERT_CONTAINS(eg_diag_text(&d), "f:1:2: error: K a/b: x: e0\n");
	EG_ASSERT_CONTAINS(eg_diag_text(&d), "error: too many problems, the rest are not shown\n");
	eg_diag_done(&d);
}

EG_TEST(numbers_in_range)
{
	static const char *const cases[][2] = {
		{ "0.5", "" },
		{ "100", "" },
		{ ".inf", "m.yaml:5:72: error: VirtualService default/v: spec.http[0].mirrorPercentage.value: .inf is out of range (0 to 100)\n" },
		{ ".nan", "m.yaml:5:72: error: VirtualService default/v: spec.http[0].mirrorPercentage.value: .nan is out of range (0 to 100)\n" },
		{ "100.5", "m.yaml:5:72: error: VirtualService default/v: spec.http[0].mirrorPercentage.value: 100.5 is out of range (0 to 100)\n" },
		{ "1e400", "m.yaml:5:72: error: VirtualService default/v: spec.http[0].mirrorPercentage.value: 1e400 is out of range (0 to 100)\n" },
	};
	struct eg_buf y = EG_BUF_INIT(4096);

	for (size_t i = 0; i < EG_ARRAY_SIZE(cases); i++) {
		struct eg_resource_set set;
		struct eg_diag d;

		eg_resource_set_init(&set);
		eg_diag_init(&d);
		y.len = 0;
		EG_ASSERT_EQ(eg_buf_printf(&y,
					   "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"
					   "metadata: {name: v}\nspec:\n"
					   "  http: [{route: [{destination: {host: a}}], mirrorPercentage: {value: %s}}]\n"
					   "  hosts: [a]\n",
					   cases[i][0]),
			     0);
		EG_ASSERT_EQ(parse(eg_buf_cstr(&y), &set, &d), cases[i][1][0] ? -EINVAL : 0);
		EG_ASSERT_STR_EQ(eg_diag_text(&d), cases[i][1]);
		eg_diag_done(&d);
		eg_resource_set_done(&set);
	}
	eg_buf_done(&y);
}

/* --- every schema field is used by some valid fixture --- */

#define MAX_FIELDS 4096

struct field_use {
	const struct eg_field *f[MAX_FIELDS];
	bool used[MAX_FIELDS];
	const char *path[MAX_FIELDS];
	size_t n;
};

static ssize_t field_index(struct field_use *u, const struct eg_field *f, const char *path)
{
	for (size_t i = 0; i < u->n; i++)
		if (u->f[i] == f)
			return (ssize_t)i;
	if (u->n == MAX_FIELDS)
		return -1;
	u->f[u->n] = f;
	u->path[u->n] = path ? strdup(path) : NULL;
	return (ssize_t)u->n++;
}

/* Every named field reachable from @fields (shared tables are listed once). */
static void collect(struct field_use *u, const struct eg_field *fields, const char *prefix)
{
	for (const struct eg_field *f = fields; f && f->name; f++) {
		char path[512];
		const struct eg_field *sub = f->sub;
		size_t before = u->n;

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", f->name);
		if (field_index(u, f, path) < (ssize_t)before)
			continue; /* seen through another path */
		/* lists and maps: descend through their element */
		while (sub && !sub->name && (sub->type == EG_F_LIST || sub->type == EG_F_MAP))
			sub = sub->sub;
		if (f->type == EG_F_OBJECT)
			collect(u, f->sub, path);
		else if ((f->type == EG_F_LIST || f->type == EG_F_MAP) && sub && sub->type == EG_F_OBJECT)
			collect(u, sub->sub, path);
	}
}

static void mark(struct field_use *u, const struct eg_field *fields, const struct eg_node *n);

static void mark_value(struct field_use *u, const struct eg_field *f, const struct eg_node *v)
{
	if (f->type == EG_F_OBJECT) {
		mark(u, f->sub, v);
	} else if (f->type == EG_F_LIST || f->type == EG_F_MAP) {
		for (size_t i = 0; i < eg_node_len(v); i++)
			mark_value(u, f->sub, v->v[i]);
	}
}

static void mark(struct field_use *u, const struct eg_field *fields, const struct eg_node *n)
{
	if (!n || n->kind != EG_NODE_MAP)
		return;
	for (size_t i = 0; i < n->n; i++) {
		for (const struct eg_field *f = fields; f && f->name; f++) {
			if (strcmp(f->name, n->k[i]->s) != 0)
				continue;
			for (size_t j = 0; j < u->n; j++)
				if (u->f[j] == f)
					u->used[j] = true;
			mark_value(u, f, n->v[i]);
		}
	}
}

static bool never_valid(const char *path)
{
	/* fields that Istio refuses or warns about: no silent valid fixture can use them */
	static const char *const refused[] = {
		"Gateway.spec.servers.port.targetPort",			 /* "no impact on Gateways" */
		"VirtualService.spec.http.fault.delay.exponentialDelay",	 /* "not supported yet" */
		"DestinationRule.spec.trafficPolicy.outlierDetection.consecutiveErrors", /* deprecated */
		NULL,
	};

	for (const char *const *p = refused; *p; p++)
		if (strcmp(*p, path) == 0)
			return true;
	return false;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

EG_TEST(valid_fixtures_use_every_field)
{
	static struct field_use u;
	struct eg_resource_set set;
	struct eg_diag d;
	struct eg_parse_opts po = { .default_ns = "default" };
	struct eg_buf missing = EG_BUF_INIT(1u << 16);
	bool kind_seen[64] = { false };
	DIR *dir = opendir("tests/testdata/valid");
	struct dirent *e;
	char *names[256];
	size_t nnames = 0;

	if (!dir)
		EG_FAIL("cannot open tests/testdata/valid (run from the repository root)");
	while ((e = readdir(dir)) && nnames < EG_ARRAY_SIZE(names)) {
		size_t l = strlen(e->d_name);

		if (l > 5 && strcmp(e->d_name + l - 5, ".yaml") == 0)
			names[nnames++] = strdup(e->d_name);
	}
	closedir(dir);
	qsort(names, nnames, sizeof(*names), name_cmp);
	EG_ASSERT(nnames >= 10);
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	for (size_t i = 0; i < nnames; i++) {
		char path[512];
		FILE *f;
		struct eg_buf b = EG_BUF_INIT(1u << 20);
		char chunk[4096];
		size_t got;

		snprintf(path, sizeof(path), "tests/testdata/valid/%s", names[i]);
		f = fopen(path, "r");
		EG_ASSERT(f != NULL);
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			EG_ASSERT_EQ(eg_buf_append(&b, chunk, got), 0);
		fclose(f);
		EG_ASSERT_EQ(eg_model_parse(path, eg_buf_cstr(&b), b.len, &po, &set, &d), 0);
		eg_buf_done(&b);
		free(names[i]);
	}
	EG_ASSERT_STR_EQ(eg_diag_text(&d), "");
	for (size_t k = 0; eg_kinds[k]; k++)
		collect(&u, eg_kinds[k]->fields, eg_kinds[k]->kind);
	for (size_t i = 0; i < set.n; i++) {
		for (size_t k = 0; eg_kinds[k] && k < EG_ARRAY_SIZE(kind_seen); k++)
			if (eg_kinds[k] == set.v[i]->kind)
				kind_seen[k] = true;
		mark(&u, set.v[i]->kind->fields, set.v[i]->root);
	}
	for (size_t k = 0; eg_kinds[k] && k < EG_ARRAY_SIZE(kind_seen); k++)
		if (!kind_seen[k])
			(void)eg_buf_printf(&missing, " kind:%s", eg_kinds[k]->kind);
	for (size_t i = 0; i < u.n; i++) {
		/* free-form (EG_F_ANY) fields need no fixture */
		if (!u.used[i] && u.f[i]->type != EG_F_ANY && !never_valid(u.path[i]))
			(void)eg_buf_printf(&missing, " %s", u.path[i]);
	}
	if (missing.len)
		EG_FAIL("no valid fixture uses:%s", eg_buf_cstr(&missing));
	eg_buf_done(&missing);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
}

EG_TEST(sort_keys_sorts_every_map_and_keeps_sequences)
{
	struct eg_node *root = load1("b: 1\n"
				     "a:\n"
				     "  z: [3, 1]\n"
				     "  y:\n"
				     "  - k2: v\n"
				     "    k1: v\n"
				     "C: x\n");
	struct eg_buf out = EG_BUF_INIT(4096);

	EG_ASSERT(root != NULL);
	EG_ASSERT_EQ(eg_node_sort_keys(root), 0);
	EG_ASSERT_EQ(eg_node_emit_json(&out, root, 0), 0);
	/* byte order (uppercase first), nested maps too, sequence order untouched */
	EG_ASSERT_STR_EQ(eg_buf_cstr(&out), "{\"C\":\"x\",\"a\":{\"y\":[{\"k1\":\"v\",\"k2\":\"v\"}],"
					     "\"z\":[3,1]},\"b\":1}");
	eg_buf_done(&out);
	eg_node_free(root);
}
