/* tests/unit/test_compile_golden.c: the how-to's three scenarios (HTTP, HTTPS passthrough,
 * TLS origination), compiled for the curl sidecar and for the egress gateway under
 * REGISTRY_ONLY and ALLOW_ANY, compared byte for byte with tests/testdata/golden/.
 * A difference prints a unified diff. After an intended change, regenerate with
 *   EG_UPDATE_GOLDEN=1 build-NAME/san/unit/test_compile_golden
 * and review the diff of tests/testdata/golden/ like code. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "compile/compile.h"
#include "eg_test.h"

#define INPUTS "tests/testdata/compile/"
#define GOLDEN "tests/testdata/golden/"

static char *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1))) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*ret_len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static void load(struct eg_resource_set *set, const char *file)
{
	struct eg_parse_opts po = {.default_ns = "default"};
	struct eg_diag d;
	size_t len = 0;
	char *data = read_file(file, &len);
	int r;

	if (!data)
		EG_FAIL("cannot read %s", file);
	eg_diag_init(&d);
	r = eg_model_parse(file, data, len, &po, set, &d);
	free(data);
	if (r < 0) {
		printf("%s", eg_diag_text(&d));
		eg_diag_done(&d);
		EG_FAIL("%s does not parse (%d)", file, r);
	}
	eg_diag_done(&d);
}

/* Writes @text to a temporary file and prints `diff -u golden actual`. */
static void show_diff(const char *golden, const char *text)
{
	char tmp[] = "/tmp/eg-golden-XXXXXX";
	int fd = mkstemp(tmp);
	char cmd[512];

	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) == (ssize_t)strlen(text)) {
		snprintf(cmd, sizeof(cmd), "diff -u '%s' '%s' | head -80", golden, tmp);
		fflush(stdout);
		if (system(cmd) < 0)
			printf("(diff failed)\n");
	}
	close(fd);
	unlink(tmp);
}

static void check(const char *scenario, enum eg_role role, const char *policy)
{
	char f_scn[256], f_mesh[256], golden[256];
	struct eg_resource_set set;
	struct eg_snapshot *s = NULL;
	struct eg_proxy_id who = {.role = role, .ns = "aks-istio-egress", .version = 7};
	struct eg_buf out = EG_BUF_INIT(64u << 20);
	struct eg_diag d;
	char *want;
	size_t wlen = 0;
	int r;

	who.name = role == EG_ROLE_GATEWAY ? "asm-egress-test" : "curl";
	snprintf(f_scn, sizeof(f_scn), INPUTS "scenario-%s.yaml", scenario);
	snprintf(f_mesh, sizeof(f_mesh), INPUTS "mesh-%s.yaml", policy);
	snprintf(golden, sizeof(golden), GOLDEN "%s-%s-%s.json", scenario, eg_role_name(role),
	         policy);
	eg_resource_set_init(&set);
	load(&set, INPUTS "base.yaml");
	load(&set, f_mesh);
	load(&set, f_scn);
	eg_diag_init(&d);
	r = eg_compile(&set, &who, &s, &d);
	/* the snapshot owns everything it needs: drop the resources before dumping */
	eg_resource_set_done(&set);
	if (r < 0) {
		printf("%s", eg_diag_text(&d));
		EG_FAIL("eg_compile: %d", r);
	}
	EG_ASSERT_STR_EQ(eg_diag_text(&d), "");
	eg_diag_done(&d);
	EG_ASSERT_EQ(eg_snapshot_dump_json(s, &out), 0);
	s = eg_snapshot_unref(s);
	if (getenv("EG_UPDATE_GOLDEN")) {
		FILE *f = fopen(golden, "wb");

		EG_ASSERT(f != NULL);
		EG_ASSERT_EQ(fwrite(out.data, 1, out.len, f), out.len);
		fclose(f);
		printf("updated %s\n", golden);
		eg_buf_done(&out);
		return;
	}
	want = read_file(golden, &wlen);
	if (!want) {
		eg_buf_done(&out);
		EG_FAIL("%s is missing (EG_UPDATE_GOLDEN=1 writes it)", golden);
	}
	if (wlen != out.len || memcmp(want, out.data, wlen) != 0) {
		show_diff(golden, eg_buf_cstr(&out));
		free(want);
		eg_buf_done(&out);
		EG_FAIL("%s differs from the compiled snapshot (diff above; EG_UPDATE_GOLDEN=1 "
		        "regenerates after an intended change)",
		        golden);
	}
	free(want);
	eg_buf_done(&out);
}

EG_TEST(golden_http_sidecar_registry_only)
{
	check("http", EG_ROLE_SIDECAR, "registry-only");
}

EG_TEST(golden_http_sidecar_allow_any)
{
	check("http", EG_ROLE_SIDECAR, "allow-any");
}

EG_TEST(golden_http_gateway_registry_only)
{
	check("http", EG_ROLE_GATEWAY, "registry-only");
}

EG_TEST(golden_http_gateway_allow_any)
{
	check("http", EG_ROLE_GATEWAY, "allow-any");
}

EG_TEST(golden_https_sidecar_registry_only)
{
	check("https", EG_ROLE_SIDECAR, "registry-only");
}

EG_TEST(golden_https_sidecar_allow_any)
{
	check("https", EG_ROLE_SIDECAR, "allow-any");
}

EG_TEST(golden_https_gateway_registry_only)
{
	check("https", EG_ROLE_GATEWAY, "registry-only");
}

EG_TEST(golden_https_gateway_allow_any)
{
	check("https", EG_ROLE_GATEWAY, "allow-any");
}

EG_TEST(golden_tls_origination_sidecar_registry_only)
{
	check("tls-origination", EG_ROLE_SIDECAR, "registry-only");
}

EG_TEST(golden_tls_origination_sidecar_allow_any)
{
	check("tls-origination", EG_ROLE_SIDECAR, "allow-any");
}

EG_TEST(golden_tls_origination_gateway_registry_only)
{
	check("tls-origination", EG_ROLE_GATEWAY, "registry-only");
}

EG_TEST(golden_tls_origination_gateway_allow_any)
{
	check("tls-origination", EG_ROLE_GATEWAY, "allow-any");
}

/* The same objects in another order give the same bytes. */
EG_TEST(golden_order_independent)
{
	static const char *const files[] = {INPUTS "base.yaml", INPUTS "mesh-registry-only.yaml",
	                                    INPUTS "scenario-tls-origination.yaml"};
	struct eg_buf a = EG_BUF_INIT(64u << 20), b = EG_BUF_INIT(64u << 20);

	for (int pass = 0; pass < 2; pass++) {
		struct eg_resource_set set;
		struct eg_snapshot *s = NULL;
		struct eg_proxy_id who = {
		        .role = EG_ROLE_SIDECAR, .ns = "aks-istio-egress", .name = "curl"};
		struct eg_diag d;

		eg_resource_set_init(&set);
		for (size_t i = 0; i < EG_ARRAY_SIZE(files); i++)
			load(&set, files[pass ? EG_ARRAY_SIZE(files) - 1 - i : i]);
		if (pass) {
			for (size_t i = 0; i < set.n / 2; i++) {
				struct eg_resource *t = set.v[i];

				set.v[i] = set.v[set.n - 1 - i];
				set.v[set.n - 1 - i] = t;
			}
		}
		eg_diag_init(&d);
		EG_ASSERT_EQ(eg_compile(&set, &who, &s, &d), 0);
		EG_ASSERT_EQ(eg_snapshot_dump_json(s, pass ? &b : &a), 0);
		eg_snapshot_unref(s);
		eg_diag_done(&d);
		eg_resource_set_done(&set);
	}
	EG_ASSERT_EQ(a.len, b.len);
	EG_ASSERT(memcmp(a.data, b.data, a.len) == 0);
	eg_buf_done(&a);
	eg_buf_done(&b);
}
