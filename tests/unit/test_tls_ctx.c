/* tests/unit/test_tls_ctx.c: building contexts (Secrets from a real resource set, files,
 * clear errors), SNI chain selection, the identity rotator, and in-process handshakes
 * between our own client and server over loopback (ISTIO_MUTUAL ids both ways, ALPN,
 * SNI, a wrong SPIFFE id refused, rotation without dropping an open connection, writes
 * of coalesced and large iovecs, half-close). Real peers are in test_tls_io.c. */
#include "tls/tls-int.h"

#include "eg_test.h"
#include "model/kinds.h"
#include "model/model.h"
#include "model/node.h"
#include "tls_testutil.h"

/* ---- a Secret lookup over a resource set, as the proxy will write it ---- */

static int rs_secret(void *data, const char *ns, const char *name, const char *key,
                     struct eg_tls_secret_value *ret)
{
	const struct eg_resource_set *rs = data;
	struct eg_resource *r = eg_resource_set_find(rs, &eg_kind_secret, ns, name);
	const struct eg_node *m, *v;

	if (!r)
		return -ENOENT;
	m = eg_node_get(r->root, "stringData");
	v = m ? eg_node_get(m, key) : NULL;
	if (v && v->kind == EG_NODE_SCALAR) {
		*ret = (struct eg_tls_secret_value){v->s, v->len, false};
		return 0;
	}
	m = eg_node_get(r->root, "data");
	v = m ? eg_node_get(m, key) : NULL;
	if (v && v->kind == EG_NODE_SCALAR) {
		*ret = (struct eg_tls_secret_value){v->s, v->len, true};
		return 0;
	}
	return -ENODATA;
}

/* Appends a Secret with base64 @data entries (key, PEM, key, PEM, ..., NULL). */
static void add_secret(struct eg_buf *y, const char *ns, const char *name, ...)
{
	va_list ap;
	const char *k;

	eg_buf_printf(y,
	              "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n"
	              "  namespace: %s\ntype: kubernetes.io/tls\ndata:\n",
	              name, ns);
	va_start(ap, name);
	while ((k = va_arg(ap, const char *))) {
		char *b = t_b64(va_arg(ap, const char *));

		eg_buf_printf(y, "  %s: %s\n", k, b);
		free(b);
	}
	va_end(ap);
}

static void parse_set(struct eg_buf *y, struct eg_resource_set *rs)
{
	struct eg_parse_opts opts = {0};
	struct eg_diag d;
	int r;

	eg_resource_set_init(rs);
	eg_diag_init(&d);
	r = eg_model_parse("secrets.yaml", eg_buf_cstr(y), y->len, &opts, rs, &d);
	if (r < 0)
		printf("# %s\n", eg_buf_cstr(&d.out));
	eg_diag_done(&d);
	EG_ASSERT_EQ(r, 0);
}

/* ---- PKI shared by the tests ---- */

static struct t_cert ca, other_ca, api, other_name, client_ok, client_other;
static struct eg_tls_ca *mesh;
static bool pki_ready;

static void pki_free(void)
{
	t_cert_free(&ca);
	t_cert_free(&other_ca);
	t_cert_free(&api);
	t_cert_free(&other_name);
	t_cert_free(&client_ok);
	t_cert_free(&client_other);
	mesh = eg_tls_ca_free(mesh);
}

static void pki(void)
{
	if (pki_ready)
		return;
	atexit(pki_free);
	ca = t_make("test root", NULL, NULL, false, false);
	other_ca = t_make("other root", NULL, NULL, false, false);
	api = t_make("api.example.com", &ca, "DNS:api.example.com,DNS:*.api.example.com", true,
	             false);
	other_name = t_make("other.example.com", &ca, "DNS:other.example.com", true, false);
	client_ok = t_make("client", &ca, "URI:spiffe://cluster.local/ns/a/sa/b", false, true);
	client_other = t_make("client", &other_ca, NULL, false, true);
	EG_ASSERT_EQ(eg_tls_ca_create("cluster.local", 0, &mesh), 0);
	pki_ready = true;
}

static struct eg_tls_id *mesh_id(const char *ns, const char *sa)
{
	struct eg_tls_cert c;
	struct eg_tls_id *id;

	EG_ASSERT_EQ(eg_tls_ca_issue(mesh, ns, sa, 3600, 0, &c), 0);
	EG_ASSERT_EQ(eg_tls_id_from_pem(c.cert_pem, c.key_pem, c.ca_pem, &id), 0);
	eg_tls_cert_done(&c);
	return id;
}

static struct eg_tls_rotator *holder(struct eg_tls_id *id)
{
	struct eg_tls_rotator_conf rc = {0};
	struct eg_tls_rotator *r;

	EG_ASSERT_EQ(eg_tls_rotator_new(&rc, 0, &r, NULL, 0), 0);
	EG_ASSERT_EQ(eg_tls_rotator_generation(r), 0);
	EG_ASSERT_EQ(eg_tls_rotator_set(r, id), 0);
	return r;
}

/* ---- values ---- */

EG_TEST(secret_values_decode_base64_and_text)
{
	struct eg_tls_secret_value v = {"aGVs\nbG8g d29y\r\nbGQ=", 0, true};
	char *out;
	size_t n;

	v.len = strlen(v.ptr);
	EG_ASSERT_EQ(eg_tls_secret_decode(&v, &out, &n), 0);
	EG_ASSERT_STR_EQ(out, "hello world");
	EG_ASSERT_EQ(n, 11);
	free(out);
	v = (struct eg_tls_secret_value){"-----BEGIN X-----", 17, false};
	EG_ASSERT_EQ(eg_tls_secret_decode(&v, &out, &n), 0);
	EG_ASSERT_STR_EQ(out, "-----BEGIN X-----");
	free(out);
	v = (struct eg_tls_secret_value){"not*base64!", 11, true};
	EG_ASSERT_EQ(eg_tls_secret_decode(&v, &out, &n), -EBADMSG);
	v = (struct eg_tls_secret_value){"", 0, true};
	EG_ASSERT_EQ(eg_tls_secret_decode(&v, &out, &n), 0);
	EG_ASSERT_EQ(n, 0);
	free(out);
}

EG_TEST(protocol_versions)
{
	EG_ASSERT_EQ(eg_tls_version_parse(NULL, TLS1_2_VERSION), TLS1_2_VERSION);
	EG_ASSERT_EQ(eg_tls_version_parse("TLS_AUTO", TLS1_3_VERSION), TLS1_3_VERSION);
	EG_ASSERT_EQ(eg_tls_version_parse("TLSV1_0", 0), TLS1_VERSION);
	EG_ASSERT_EQ(eg_tls_version_parse("TLSV1_3", 0), TLS1_3_VERSION);
	EG_ASSERT_EQ(eg_tls_version_parse("TLSv1.3", 0), -EINVAL);
}

/* ---- server contexts ---- */

EG_TEST(server_contexts_from_secrets)
{
	struct eg_buf y;
	struct eg_resource_set rs;
	struct eg_tls_server *s;
	char err[256] = "";
	struct eg_tls_env env;

	pki();
	eg_buf_init(&y, 1 << 20);
	add_secret(&y, "istio-system", "api-cred", "tls.crt", api.cert_pem, "tls.key", api.key_pem,
	           NULL);
	add_secret(&y, "istio-system", "generic", "cert", api.cert_pem, "key", api.key_pem,
	           "cacert", ca.cert_pem, NULL);
	add_secret(&y, "istio-system", "split", "tls.crt", api.cert_pem, "tls.key", api.key_pem,
	           NULL);
	add_secret(&y, "istio-system", "split-cacert", "ca.crt", ca.cert_pem, NULL);
	eg_buf_printf(&y, "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: text\n"
	                  "  namespace: istio-system\nstringData:\n  tls.crt: |\n");
	for (const char *p = api.cert_pem; *p;) {
		const char *nl = strchr(p, '\n');

		eg_buf_printf(&y, "    %.*s\n", (int)(nl - p), p);
		p = nl + 1;
	}
	eg_buf_printf(&y, "  tls.key: |\n");
	for (const char *p = api.key_pem; *p;) {
		const char *nl = strchr(p, '\n');

		eg_buf_printf(&y, "    %.*s\n", (int)(nl - p), p);
		p = nl + 1;
	}
	parse_set(&y, &rs);
	env = (struct eg_tls_env){.ns = "istio-system", .secret = rs_secret, .secret_data = &rs};

	EG_ASSERT_EQ(eg_tls_server_new(&s), 0);
	struct eg_tls_server_conf c = {.mode = EG_TLS_SIMPLE, .credential_name = "api-cred"};
	EG_ASSERT_EQ(eg_tls_server_add(s, &c, &env, err, sizeof(err)), 0);
	c = (struct eg_tls_server_conf){.mode = EG_TLS_MUTUAL, .credential_name = "generic"};
	EG_ASSERT_EQ(eg_tls_server_add(s, &c, &env, err, sizeof(err)), 0);
	c = (struct eg_tls_server_conf){.mode = EG_TLS_MUTUAL, .credential_name = "split"};
	EG_ASSERT_EQ(eg_tls_server_add(s, &c, &env, err, sizeof(err)), 0);
	c = (struct eg_tls_server_conf){.mode = EG_TLS_SIMPLE, .credential_name = "text"};
	EG_ASSERT_EQ(eg_tls_server_add(s, &c, &env, err, sizeof(err)), 0);
	eg_tls_server_unref(s);
	eg_resource_set_done(&rs);
	eg_buf_done(&y);
}

static void expect_server_error(const struct eg_tls_server_conf *c, const struct eg_tls_env *env,
                                const char *want)
{
	struct eg_tls_server *s;
	char err[256] = "";

	EG_ASSERT_EQ(eg_tls_server_new(&s), 0);
	EG_ASSERT(eg_tls_server_add(s, c, env, err, sizeof(err)) < 0);
	EG_ASSERT_CONTAINS(err, want);
	eg_tls_server_unref(s);
}

EG_TEST(server_errors_say_what_is_wrong)
{
	struct eg_buf y;
	struct eg_resource_set rs;
	struct eg_tls_env env;
	struct eg_tls_server_conf c;
	const char *dir;
	char path[512], cert[512], key[512];

	pki();
	eg_buf_init(&y, 1 << 20);
	add_secret(&y, "istio-system", "no-key", "tls.crt", api.cert_pem, NULL);
	add_secret(&y, "istio-system", "garbage", "tls.crt", "hello", "tls.key", api.key_pem, NULL);
	add_secret(&y, "istio-system", "mismatch", "tls.crt", api.cert_pem, "tls.key",
	           other_name.key_pem, NULL);
	add_secret(&y, "istio-system", "no-ca", "tls.crt", api.cert_pem, "tls.key", api.key_pem,
	           NULL);
	add_secret(&y, "other-ns", "api-cred", "tls.crt", api.cert_pem, "tls.key", api.key_pem,
	           NULL);
	eg_buf_printf(&y, "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: badb64\n"
	                  "  namespace: istio-system\ndata:\n  tls.crt: '%%%%%%'\n  tls.key: x\n");
	parse_set(&y, &rs);
	env = (struct eg_tls_env){.ns = "istio-system", .secret = rs_secret, .secret_data = &rs};

	c = (struct eg_tls_server_conf){.mode = EG_TLS_SIMPLE, .credential_name = "missing"};
	expect_server_error(&c, &env, "Secret istio-system/missing not found");
	/* a Secret of another namespace is not the gateway's */
	c.credential_name = "api-cred";
	expect_server_error(&c, &env, "Secret istio-system/api-cred not found");
	c.credential_name = "no-key";
	expect_server_error(&c, &env, "Secret istio-system/no-key: no tls.key or key key");
	c.credential_name = "garbage";
	expect_server_error(&c, &env, "Secret istio-system/garbage: tls.crt: no PEM certificate");
	c.credential_name = "badb64";
	expect_server_error(&c, &env, "Secret istio-system/badb64: tls.crt: not base64");
	c.credential_name = "mismatch";
	expect_server_error(&c, &env, "private key does not match the certificate");
	c = (struct eg_tls_server_conf){.mode = EG_TLS_MUTUAL, .credential_name = "no-ca"};
	expect_server_error(&c, &env,
	                    "MUTUAL requires a CA: Secret istio-system/no-ca has no ca.crt or "
	                    "cacert, and there is no Secret istio-system/no-ca-cacert");
	c = (struct eg_tls_server_conf){.mode = EG_TLS_SIMPLE, .credential_name = "api-cred"};
	env.secret = NULL;
	expect_server_error(&c, &env, "no Secret store");
	env.secret = rs_secret;
	c = (struct eg_tls_server_conf){.mode = EG_TLS_SIMPLE};
	expect_server_error(&c, &env, "a certificate and a private key are required");
	c.server_certificate = "/nonexistent/cert.pem";
	c.private_key = "/nonexistent/key.pem";
	expect_server_error(&c, &env, "/nonexistent/cert.pem: No such file or directory");
	dir = t_tmpdir();
	EG_ASSERT(dir);
	EG_ASSERT_EQ(t_write(dir, "cert.pem", api.cert_pem, cert, sizeof(cert)), 0);
	c.server_certificate = cert;
	EG_ASSERT_EQ(t_write(dir, "key.pem", api.key_pem, key, sizeof(key)), 0);
	c.private_key = key;
	(void)path;
	c.min_version = "TLSV9";
	expect_server_error(&c, &env, "minProtocolVersion TLSV9: unknown");
	c.min_version = "TLSV1_3";
	c.max_version = "TLSV1_2";
	expect_server_error(&c, &env, "minProtocolVersion TLSV1_3 is above maxProtocolVersion");
	c.min_version = c.max_version = NULL;
	const char *bad_ciphers[] = {"NOT-A-CIPHER"};
	c.cipher_suites = bad_ciphers;
	c.ncipher_suites = 1;
	expect_server_error(&c, &env, "cipherSuites");
	c.cipher_suites = NULL;
	c.ncipher_suites = 0;
	c.mode = EG_TLS_MUTUAL;
	expect_server_error(&c, &env, "MUTUAL requires a CA");
	c = (struct eg_tls_server_conf){.mode = EG_TLS_ISTIO_MUTUAL};
	expect_server_error(&c, &env, "ISTIO_MUTUAL needs the proxy's workload identity");
	eg_resource_set_done(&rs);
	eg_buf_done(&y);
}

EG_TEST(server_chain_by_sni)
{
	struct eg_tls_server *s;
	struct eg_tls_env env = {0};
	const char *dir = t_tmpdir();
	char cert[512], key[512];
	const char *a[] = {"api.example.com"}, *w[] = {"*.example.com"},
	           *w2[] = {"*.b.example.com"};

	pki();
	EG_ASSERT_EQ(t_write(dir, "c.pem", api.cert_pem, cert, sizeof(cert)), 0);
	EG_ASSERT_EQ(t_write(dir, "k.pem", api.key_pem, key, sizeof(key)), 0);
	EG_ASSERT_EQ(eg_tls_server_new(&s), 0);
	struct eg_tls_server_conf c = {.mode = EG_TLS_SIMPLE,
	                               .server_certificate = cert,
	                               .private_key = key,
	                               .server_names = w,
	                               .nserver_names = 1};
	EG_ASSERT_EQ(eg_tls_server_add(s, &c, &env, NULL, 0), 0);
	c.server_names = a;
	EG_ASSERT_EQ(eg_tls_server_add(s, &c, &env, NULL, 0), 0);
	c.server_names = w2;
	EG_ASSERT_EQ(eg_tls_server_add(s, &c, &env, NULL, 0), 0);
	EG_ASSERT_EQ(eg_tls_server_match(s, "api.example.com"), 1);
	EG_ASSERT_EQ(eg_tls_server_match(s, "API.example.com"), 1);
	EG_ASSERT_EQ(eg_tls_server_match(s, "x.example.com"), 0);
	EG_ASSERT_EQ(eg_tls_server_match(s, "a.b.example.com"), 2);
	EG_ASSERT_EQ(eg_tls_server_match(s, "example.com"), -ENOENT);
	EG_ASSERT_EQ(eg_tls_server_match(s, ""), -ENOENT);
	c.server_names = NULL;
	c.nserver_names = 0;
	EG_ASSERT_EQ(eg_tls_server_add(s, &c, &env, NULL, 0), 0);
	EG_ASSERT_EQ(eg_tls_server_match(s, "example.com"), 3);
	EG_ASSERT_EQ(eg_tls_server_match(s, NULL), 3);
	eg_tls_server_unref(s);
}

EG_TEST(client_errors_say_what_is_wrong)
{
	struct eg_tls_client *c;
	struct eg_tls_env env = {.system_ca_file = "/nonexistent/bundle.pem"};
	char err[256] = "";
	const char *long_alpn[] = {""};

	struct eg_tls_client_conf conf = {.mode = EG_TLS_MUTUAL};
	EG_ASSERT(eg_tls_client_new(&conf, &env, &c, err, sizeof(err)) < 0);
	EG_ASSERT_CONTAINS(err, "a certificate and a private key are required");
	conf.mode = EG_TLS_SIMPLE;
	EG_ASSERT(eg_tls_client_new(&conf, &env, &c, err, sizeof(err)) < 0);
	EG_ASSERT_CONTAINS(err, "CA bundle /nonexistent/bundle.pem: No such file or directory");
	conf.alpn = long_alpn;
	conf.nalpn = 1;
	EG_ASSERT(eg_tls_client_new(&conf, &env, &c, err, sizeof(err)) < 0);
	EG_ASSERT_CONTAINS(err, "ALPN");
	conf = (struct eg_tls_client_conf){.mode = EG_TLS_ISTIO_MUTUAL};
	EG_ASSERT(eg_tls_client_new(&conf, &env, &c, err, sizeof(err)) < 0);
	EG_ASSERT_CONTAINS(err, "ISTIO_MUTUAL needs the proxy's workload identity");
	/* the system bundle of this machine loads (the default path) */
	env.system_ca_file = NULL;
	conf = (struct eg_tls_client_conf){.mode = EG_TLS_SIMPLE};
	EG_ASSERT_EQ(eg_tls_client_new(&conf, &env, &c, err, sizeof(err)), 0);
	eg_tls_client_unref(c);
}

/* ---- rotation ---- */

EG_TEST(rotator_issues_then_rotates_when_due)
{
	const char *dir;
	struct eg_tls_rotator *r;
	struct eg_tls_id *a, *b;
	char err[256] = "";
	time_t now = time(NULL);

	pki();
	dir = t_tmpdir();
	struct eg_tls_rotator_conf rc = {
	        .dir = dir, .ca = mesh, .ns = "istio-system", .sa = "egress", .ttl = 3600};
	EG_ASSERT_EQ(eg_tls_rotator_new(&rc, now, &r, err, sizeof(err)), 0);
	EG_ASSERT_EQ(eg_tls_rotator_generation(r), 1);
	a = eg_tls_rotator_get(r);
	EG_ASSERT_STR_EQ(eg_tls_id_spiffe(a), "spiffe://cluster.local/ns/istio-system/sa/egress");
	EG_ASSERT_STR_EQ(eg_tls_id_trust_domain(a), "cluster.local");
	/* the files were written: a restarted proxy finds them */
	struct eg_tls_id *from_files;
	EG_ASSERT_EQ(eg_tls_id_from_dir(dir, &from_files), 0);
	EG_ASSERT_EQ(X509_cmp(from_files->cert, a->cert), 0);
	eg_tls_id_unref(from_files);
	/* not due yet: nothing happens */
	EG_ASSERT_EQ(eg_tls_rotator_refresh(r, now + 60, err, sizeof(err)), 0);
	EG_ASSERT_EQ(eg_tls_rotator_generation(r), 1);
	EG_ASSERT_EQ(eg_tls_rotator_next_check(r, now), now + 10); /* files polled every 10 s */
	/* half the lifetime later: re-issued */
	EG_ASSERT_EQ(eg_tls_rotator_refresh(r, now + 1800 + 300, err, sizeof(err)), 1);
	EG_ASSERT_EQ(eg_tls_rotator_generation(r), 2);
	b = eg_tls_rotator_get(r);
	EG_ASSERT(X509_cmp(a->cert, b->cert) != 0);
	EG_ASSERT_STR_EQ(eg_tls_id_spiffe(b), eg_tls_id_spiffe(a));
	/* the old identity is still whole for whoever holds it */
	EG_ASSERT(X509_check_private_key(a->cert, a->key) == 1);
	eg_tls_id_unref(a);
	eg_tls_id_unref(b);
	eg_tls_rotator_free(r);

	/* a holder without a CA does not make certificates up */
	struct eg_tls_rotator_conf empty = {.dir = "/nonexistent/identity"};
	EG_ASSERT(eg_tls_rotator_new(&empty, now, &r, err, sizeof(err)) < 0);
	EG_ASSERT_CONTAINS(err, "/nonexistent/identity: loading the workload identity");
}

EG_TEST(rotator_reloads_changed_files)
{
	const char *dir;
	struct eg_tls_rotator *r;
	struct eg_tls_cert c;
	struct eg_tls_id *a, *b;
	char err[256] = "";

	pki();
	dir = t_tmpdir();
	EG_ASSERT_EQ(eg_tls_ca_issue(mesh, "default", "sleep", 3600, 0, &c), 0);
	EG_ASSERT_EQ(eg_tls_cert_write(&c, dir), 0);
	eg_tls_cert_done(&c);
	struct eg_tls_rotator_conf rc = {.dir = dir};
	EG_ASSERT_EQ(eg_tls_rotator_new(&rc, 0, &r, err, sizeof(err)), 0);
	a = eg_tls_rotator_get(r);
	EG_ASSERT_STR_EQ(eg_tls_id_spiffe(a), "spiffe://cluster.local/ns/default/sa/sleep");
	EG_ASSERT_EQ(eg_tls_rotator_refresh(r, 0, err, sizeof(err)), 0);
	/* another process (egressctl ca issue) rotates the files */
	EG_ASSERT_EQ(eg_tls_ca_issue(mesh, "default", "sleep", 7200, 0, &c), 0);
	EG_ASSERT_EQ(eg_tls_cert_write(&c, dir), 0);
	eg_tls_cert_done(&c);
	EG_ASSERT_EQ(eg_tls_rotator_refresh(r, 0, err, sizeof(err)), 1);
	b = eg_tls_rotator_get(r);
	EG_ASSERT(X509_cmp(a->cert, b->cert) != 0);
	EG_ASSERT_EQ(eg_tls_id_not_after(b) - eg_tls_id_not_before(b), 7200 + EG_TLS_CERT_BACKDATE);
	EG_ASSERT_EQ(eg_tls_rotator_refresh(r, 0, err, sizeof(err)), 0);
	/* a broken write keeps the identity we have */
	EG_ASSERT_EQ(t_write(dir, "cert.pem", "garbage\n", err, sizeof(err)), 0);
	EG_ASSERT(eg_tls_rotator_refresh(r, 0, err, sizeof(err)) < 0);
	EG_ASSERT_CONTAINS(err, "loading the workload identity");
	struct eg_tls_id *still = eg_tls_rotator_get(r);
	EG_ASSERT_EQ(X509_cmp(still->cert, b->cert), 0);
	eg_tls_id_unref(still);
	eg_tls_id_unref(a);
	eg_tls_id_unref(b);
	eg_tls_rotator_free(r);
}

/* ---- in-process handshakes: our client against our server ---- */

struct pair {
	struct eg_io srv, cli;
	int rs, rc;
};

/* Connects @cli to @srv over 127.0.0.1 and runs both handshakes. */
static void pair_connect(struct pair *p, struct eg_tls_server *srv, struct eg_tls_client *cli,
                         const char *host)
{
	int port, lfd = t_listen(&port), cfd, sfd;

	EG_ASSERT(lfd >= 0);
	cfd = t_connect(port);
	sfd = t_accept(lfd, 1000);
	close(lfd);
	EG_ASSERT(cfd >= 0 && sfd >= 0);
	EG_ASSERT_EQ(eg_tls_io_server(&p->srv, sfd, srv, NULL, 0, -1), 0);
	EG_ASSERT_EQ(eg_tls_io_client(&p->cli, cfd, cli, host), 0);
	t_handshake_pair(&p->srv, &p->cli, &p->rs, &p->rc);
}

static void pair_close(struct pair *p)
{
	if (p->srv.ctx)
		p->srv.ops->close(&p->srv);
	if (p->cli.ctx)
		p->cli.ops->close(&p->cli);
}

static const char *gw_names[] = {"edition.cnn.com"};

/* The gateway side of the TLS origination scenario: an ISTIO_MUTUAL server for
 * edition.cnn.com on the gateway's identity. */
static struct eg_tls_server *mesh_server(struct eg_tls_rotator *gw, const void *data)
{
	struct eg_tls_server *s;
	struct eg_tls_env env = {.ns = "istio-system", .mesh = gw};
	struct eg_tls_server_conf c = {.mode = EG_TLS_ISTIO_MUTUAL,
	                               .server_names = gw_names,
	                               .nserver_names = 1,
	                               .data = data};
	char err[256] = "";

	EG_ASSERT_EQ(eg_tls_server_new(&s), 0);
	EG_ASSERT_EQ(eg_tls_server_add(s, &c, &env, err, sizeof(err)), 0);
	return s;
}

static struct eg_tls_client *mesh_client(struct eg_tls_rotator *me, const char *sni,
                                         const char *expect)
{
	struct eg_tls_client *c;
	struct eg_tls_env env = {.ns = "default", .mesh = me};
	const char *sans[] = {expect};
	struct eg_tls_client_conf conf = {.mode = EG_TLS_ISTIO_MUTUAL,
	                                  .sni = sni,
	                                  .subject_alt_names = expect ? sans : NULL,
	                                  .nsubject_alt_names = expect ? 1 : 0};
	char err[256] = "";

	EG_ASSERT_EQ(eg_tls_client_new(&conf, &env, &c, err, sizeof(err)), 0);
	return c;
}

#define GW_ID    "spiffe://cluster.local/ns/istio-system/sa/asm-egress-test"
#define SLEEP_ID "spiffe://cluster.local/ns/default/sa/sleep"

EG_TEST(istio_mutual_pair_ids_alpn_sni)
{
	struct eg_tls_rotator *gw, *me;
	struct eg_tls_server *s;
	struct eg_tls_client *c;
	struct eg_tls_id *id;
	struct pair p;
	int marker;

	pki();
	id = mesh_id("istio-system", "asm-egress-test");
	gw = holder(id);
	eg_tls_id_unref(id);
	id = mesh_id("default", "sleep");
	me = holder(id);
	eg_tls_id_unref(id);
	s = mesh_server(gw, &marker);
	c = mesh_client(me, "edition.cnn.com", GW_ID);
	pair_connect(&p, s, c, "edition.cnn.com:80");
	EG_ASSERT_EQ(p.rs, 0);
	EG_ASSERT_EQ(p.rc, 0);
	EG_ASSERT_STR_EQ(eg_tls_io_peer_id(&p.srv), SLEEP_ID);
	EG_ASSERT_STR_EQ(eg_tls_io_peer_id(&p.cli), GW_ID);
	EG_ASSERT_STR_EQ(eg_tls_io_alpn(&p.srv), "http/1.1");
	EG_ASSERT_STR_EQ(eg_tls_io_sni(&p.srv), "edition.cnn.com");
	EG_ASSERT_STR_EQ(eg_tls_io_version(&p.srv), "TLSv1.3");
	EG_ASSERT(eg_tls_io_chain(&p.srv) == &marker);
	EG_ASSERT(!eg_tls_io_resumed(&p.cli));
	EG_ASSERT_STR_EQ(eg_tls_io_reason(&p.cli), "");
	pair_close(&p);

	/* the default Istio SNI, an SNI outside the server's hosts: unrecognized_name */
	eg_tls_client_unref(c);
	c = mesh_client(me, "outbound_.80_.cnn_.asm-egress-test.istio-system.svc.cluster.local",
	                NULL);
	pair_connect(&p, s, c, NULL);
	EG_ASSERT_EQ(p.rs, -EPROTO);
	EG_ASSERT_CONTAINS(eg_tls_io_reason(&p.srv),
	                   "no TLS server for SNI \"outbound_.80_.cnn_.asm-egress-test");
	EG_ASSERT_EQ(p.rc, -EPROTO);
	EG_ASSERT_CONTAINS(eg_tls_io_reason(&p.cli), "unrecognized name");
	pair_close(&p);
	eg_tls_client_unref(c);
	eg_tls_server_unref(s);
	eg_tls_rotator_free(gw);
	eg_tls_rotator_free(me);
}

EG_TEST(istio_mutual_refuses_wrong_spiffe_id_and_foreign_ca)
{
	struct eg_tls_rotator *gw, *me, *stranger;
	struct eg_tls_server *s;
	struct eg_tls_client *c;
	struct eg_tls_ca *other;
	struct eg_tls_cert oc;
	struct eg_tls_id *id;
	struct pair p;

	pki();
	id = mesh_id("istio-system", "not-the-gateway");
	gw = holder(id);
	eg_tls_id_unref(id);
	id = mesh_id("default", "sleep");
	me = holder(id);
	eg_tls_id_unref(id);
	s = mesh_server(gw, NULL);
	c = mesh_client(me, "edition.cnn.com", GW_ID);
	pair_connect(&p, s, c, NULL);
	EG_ASSERT_EQ(p.rc, -EACCES);
	EG_ASSERT_CONTAINS(eg_tls_io_reason(&p.cli),
	                   "certificate verify failed: peer SPIFFE id "
	                   "spiffe://cluster.local/ns/istio-system/sa/not-the-gateway is not the "
	                   "expected " GW_ID);
	EG_ASSERT(p.rs < 0);
	pair_close(&p);
	eg_tls_client_unref(c);

	/* a workload of another mesh CA (same trust domain name): refused by the server */
	EG_ASSERT_EQ(eg_tls_ca_create("cluster.local", 0, &other), 0);
	EG_ASSERT_EQ(eg_tls_ca_issue(other, "default", "sleep", 3600, 0, &oc), 0);
	EG_ASSERT_EQ(eg_tls_id_from_pem(oc.cert_pem, oc.key_pem, oc.ca_pem, &id), 0);
	eg_tls_cert_done(&oc);
	stranger = holder(id);
	eg_tls_id_unref(id);
	/* the client trusts its own CA only: the server refuses first */
	c = mesh_client(stranger, "edition.cnn.com", NULL);
	pair_connect(&p, s, c, NULL);
	EG_ASSERT(p.rs == -EACCES || p.rc == -EACCES);
	pair_close(&p);
	eg_tls_client_unref(c);
	eg_tls_ca_free(other);
	eg_tls_server_unref(s);
	eg_tls_rotator_free(gw);
	eg_tls_rotator_free(me);
	eg_tls_rotator_free(stranger);
}

EG_TEST(rotation_keeps_open_connections_new_ones_get_the_new_cert)
{
	struct eg_tls_rotator *gw, *me;
	struct eg_tls_server *s;
	struct eg_tls_client *c;
	struct eg_tls_id *id;
	struct pair a, b;
	X509 *first, *second;
	char buf[16];

	pki();
	time_t now = time(NULL);
	/* 60 s with the 5 min backdate: due at once, so every refresh re-issues */
	struct eg_tls_rotator_conf rc = {
	        .ca = mesh, .ns = "istio-system", .sa = "asm-egress-test", .ttl = 60};
	EG_ASSERT_EQ(eg_tls_rotator_new(&rc, now, &gw, NULL, 0), 0);
	id = mesh_id("default", "sleep");
	me = holder(id);
	eg_tls_id_unref(id);
	s = mesh_server(gw, NULL);
	c = mesh_client(me, "edition.cnn.com", GW_ID);
	pair_connect(&a, s, c, NULL);
	EG_ASSERT_EQ(a.rc, 0);
	first = SSL_get1_peer_certificate(a.cli.ctx);
	/* rotate the gateway while connection a stays open */
	EG_ASSERT_EQ(eg_tls_rotator_refresh(gw, 0, NULL, 0), 1);
	pair_connect(&b, s, c, NULL);
	EG_ASSERT_EQ(b.rc, 0);
	EG_ASSERT(!eg_tls_io_resumed(&b.cli));
	second = SSL_get1_peer_certificate(b.cli.ctx);
	EG_ASSERT(X509_cmp(first, second) != 0);
	id = eg_tls_rotator_get(gw);
	EG_ASSERT_EQ(X509_cmp(second, id->cert), 0);
	eg_tls_id_unref(id);
	/* the old connection still carries bytes both ways */
	EG_ASSERT_EQ(t_send_all(&a.cli, "ping", 4, 2000), 0);
	EG_ASSERT_EQ(t_recv_upto(&a.srv, buf, 4, 2000), 4);
	EG_ASSERT_EQ(memcmp(buf, "ping", 4), 0);
	EG_ASSERT_EQ(t_send_all(&a.srv, "pong", 4, 2000), 0);
	EG_ASSERT_EQ(t_recv_upto(&a.cli, buf, 4, 2000), 4);
	EG_ASSERT_EQ(memcmp(buf, "pong", 4), 0);
	X509_free(first);
	X509_free(second);
	pair_close(&a);
	pair_close(&b);
	eg_tls_client_unref(c);
	eg_tls_server_unref(s);
	eg_tls_rotator_free(gw);
	eg_tls_rotator_free(me);
}

/* A SIMPLE server for api.example.com and a SIMPLE client trusting the test root. */
static void simple_pair(struct pair *p, struct eg_tls_server **rs, struct eg_tls_client **rc)
{
	const char *dir = t_tmpdir();
	char cert[512], key[512], cafile[512];
	struct eg_tls_env env = {0};

	pki();
	EG_ASSERT_EQ(t_write(dir, "c.pem", api.cert_pem, cert, sizeof(cert)), 0);
	EG_ASSERT_EQ(t_write(dir, "k.pem", api.key_pem, key, sizeof(key)), 0);
	EG_ASSERT_EQ(t_write(dir, "ca.pem", ca.cert_pem, cafile, sizeof(cafile)), 0);
	EG_ASSERT_EQ(eg_tls_server_new(rs), 0);
	struct eg_tls_server_conf sc = {
	        .mode = EG_TLS_SIMPLE, .server_certificate = cert, .private_key = key};
	EG_ASSERT_EQ(eg_tls_server_add(*rs, &sc, &env, NULL, 0), 0);
	struct eg_tls_client_conf cc = {.mode = EG_TLS_SIMPLE, .ca_certificates = cafile};
	EG_ASSERT_EQ(eg_tls_client_new(&cc, &env, rc, NULL, 0), 0);
	pair_connect(p, *rs, *rc, "api.example.com:443");
	EG_ASSERT_EQ(p->rs, 0);
	EG_ASSERT_EQ(p->rc, 0);
}

EG_TEST(send_coalesces_small_iovecs_and_writes_large_ones)
{
	struct eg_tls_server *s;
	struct eg_tls_client *c;
	struct pair p;
	size_t big = 300000, total, sent = 0;
	char *src = malloc(big), *dst = malloc(big + 200);
	const char head[] = "GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n";

	for (size_t i = 0; i < big; i++)
		src[i] = (char)(i * 7 + i / 251);
	simple_pair(&p, &s, &c);
	struct iovec iov[3] = {{(void *)head, sizeof(head) - 1}, {src, big}, {(void *)"END", 3}};
	total = sizeof(head) - 1 + big + 3;
	/* write the iovec through, the way the HTTP layer will, while the server reads */
	size_t got = 0;
	for (int i = 0; i < 4000 && got < total; i++) {
		if (sent < total) {
			struct iovec cur[3];
			int n = 0;
			size_t skip = sent;

			for (int k = 0; k < 3; k++) {
				if (skip >= iov[k].iov_len) {
					skip -= iov[k].iov_len;
					continue;
				}
				cur[n].iov_base = (char *)iov[k].iov_base + skip;
				cur[n++].iov_len = iov[k].iov_len - skip;
				skip = 0;
			}
			ssize_t w = p.cli.ops->send(&p.cli, cur, n);

			EG_ASSERT(w > 0 || w == -EAGAIN);
			if (w > 0)
				sent += (size_t)w;
		}
		ssize_t r = p.srv.ops->recv(&p.srv, dst + got, total - got);

		EG_ASSERT(r > 0 || r == -EAGAIN);
		if (r > 0)
			got += (size_t)r;
		else {
			struct pollfd pfd[2] = {{p.srv.fd, POLLIN, 0}, {p.cli.fd, POLLOUT, 0}};
			poll(pfd, 2, 5);
		}
	}
	EG_ASSERT_EQ(got, total);
	EG_ASSERT_EQ(memcmp(dst, head, sizeof(head) - 1), 0);
	EG_ASSERT_EQ(memcmp(dst + sizeof(head) - 1, src, big), 0);
	EG_ASSERT_EQ(memcmp(dst + sizeof(head) - 1 + big, "END", 3), 0);
	pair_close(&p);
	eg_tls_client_unref(c);
	eg_tls_server_unref(s);
	free(src);
	free(dst);
}

EG_TEST(shutdown_write_is_a_half_close)
{
	struct eg_tls_server *s;
	struct eg_tls_client *c;
	struct pair p;
	char buf[64];
	int r = -EAGAIN;

	simple_pair(&p, &s, &c);
	EG_ASSERT_EQ(t_send_all(&p.cli, "request", 7, 2000), 0);
	for (int i = 0; i < 200 && r == -EAGAIN; i++)
		r = p.cli.ops->shutdown_write(&p.cli);
	EG_ASSERT_EQ(r, 0);
	/* the server reads the request, then the end of stream (close_notify) */
	EG_ASSERT_EQ(t_recv_upto(&p.srv, buf, 7, 2000), 7);
	EG_ASSERT_EQ(t_recv_eof(&p.srv, 2000), 0);
	/* and can still answer: the client reads it after having sent its close_notify */
	EG_ASSERT_EQ(t_send_all(&p.srv, "response", 8, 2000), 0);
	EG_ASSERT_EQ(p.srv.ops->shutdown_write(&p.srv), 0);
	EG_ASSERT_EQ(t_recv_upto(&p.cli, buf, 8, 2000), 8);
	EG_ASSERT_EQ(memcmp(buf, "response", 8), 0);
	EG_ASSERT_EQ(t_recv_eof(&p.cli, 2000), 0);
	pair_close(&p);
	EG_ASSERT_EQ(p.cli.fd, -1);
	EG_ASSERT(p.cli.ctx == NULL);
	eg_tls_client_unref(c);
	eg_tls_server_unref(s);
}

EG_TEST(abort_resets_the_peer)
{
	struct eg_tls_server *s;
	struct eg_tls_client *c;
	struct pair p;
	char buf[16];
	ssize_t r;

	simple_pair(&p, &s, &c);
	p.cli.ops->abort(&p.cli);
	EG_ASSERT_EQ(p.cli.fd, -1);
	r = t_recv_upto(&p.srv, buf, sizeof(buf), 2000);
	EG_ASSERT_EQ(r, -ECONNRESET);
	EG_ASSERT_STR_EQ(eg_tls_io_reason(&p.srv), "Connection reset by peer");
	pair_close(&p);
	eg_tls_client_unref(c);
	eg_tls_server_unref(s);
}

EG_TEST(preloaded_client_hello_is_fed_first)
{
	struct eg_tls_server *s;
	struct eg_tls_client *c;
	struct eg_tls_env env = {0};
	struct eg_tls_hello h;
	const char *dir = t_tmpdir();
	char cert[512], key[512], cafile[512], hello[EG_TLS_HELLO_MAX];
	struct pair p;
	int port, lfd, cfd, sfd, r = -EAGAIN;
	size_t len = 0;

	pki();
	EG_ASSERT_EQ(t_write(dir, "c.pem", api.cert_pem, cert, sizeof(cert)), 0);
	EG_ASSERT_EQ(t_write(dir, "k.pem", api.key_pem, key, sizeof(key)), 0);
	EG_ASSERT_EQ(t_write(dir, "ca.pem", ca.cert_pem, cafile, sizeof(cafile)), 0);
	EG_ASSERT_EQ(eg_tls_server_new(&s), 0);
	struct eg_tls_server_conf sc = {
	        .mode = EG_TLS_SIMPLE, .server_certificate = cert, .private_key = key};
	EG_ASSERT_EQ(eg_tls_server_add(s, &sc, &env, NULL, 0), 0);
	struct eg_tls_client_conf cc = {.mode = EG_TLS_SIMPLE, .ca_certificates = cafile};
	EG_ASSERT_EQ(eg_tls_client_new(&cc, &env, &c, NULL, 0), 0);
	lfd = t_listen(&port);
	cfd = t_connect(port);
	sfd = t_accept(lfd, 1000);
	close(lfd);
	EG_ASSERT_EQ(eg_tls_io_client(&p.cli, cfd, c, "www.api.example.com"), 0);
	/* the proxy peeks the ClientHello itself, then hands the bytes over */
	EG_ASSERT_EQ(eg_tls_io_handshake(&p.cli), -EAGAIN);
	for (int i = 0; i < 200 && r == -EAGAIN; i++) {
		ssize_t n = read(sfd, hello + len, sizeof(hello) - len);

		if (n > 0)
			len += (size_t)n;
		r = eg_tls_hello_read(hello, len, &h);
		if (r == -EAGAIN)
			poll(&(struct pollfd){sfd, POLLIN, 0}, 1, 5);
	}
	EG_ASSERT_EQ(r, 0);
	EG_ASSERT_STR_EQ(h.sni, "www.api.example.com");
	EG_ASSERT_EQ(eg_tls_io_server(&p.srv, sfd, s, hello, len, eg_tls_server_match(s, h.sni)),
	             0);
	t_handshake_pair(&p.srv, &p.cli, &p.rs, &p.rc);
	EG_ASSERT_EQ(p.rs, 0);
	EG_ASSERT_EQ(p.rc, 0); /* the wildcard name of the certificate covers it */
	pair_close(&p);
	eg_tls_client_unref(c);
	eg_tls_server_unref(s);
}

struct relay_run {
	struct eg_net_relay r;
	struct eg_net_relay_result res;
	bool done;
};

static void relay_done(struct eg_net_relay *r, const struct eg_net_relay_result *res, void *data)
{
	struct relay_run *rr = data;

	(void)r;
	rr->res = *res;
	rr->done = true;
}

/* The engine's relay over a terminated TLS connection (its copy path): 200 KB and a
 * close_notify one way, a reply and a FIN the other way, counted and in order. */
EG_TEST(relay_moves_bytes_between_tls_and_tcp)
{
	struct eg_tls_server *s;
	struct eg_tls_client *c;
	struct eg_loop *loop;
	struct relay_run rr = {0};
	struct pair p;
	struct eg_io plain;
	size_t big = 200000, sent = 0, got = 0;
	char *src = malloc(big), *dst = malloc(big), reply[16];
	bool shut = false, eof = false;
	int sb[2];

	for (size_t i = 0; i < big; i++)
		src[i] = (char)(i % 253);
	simple_pair(&p, &s, &c);
	EG_ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sb), 0);
	EG_ASSERT_EQ(eg_loop_new(&loop), 0);
	eg_io_tcp_init(&plain, sb[0]);
	EG_ASSERT_EQ(eg_net_relay_start(&rr.r, loop, &p.srv, &plain, NULL, relay_done, &rr), 0);
	memset(&p.srv, 0, sizeof(p.srv)); /* the relay's now */
	for (int i = 0; i < 20000 && !eof; i++) {
		if (sent < big) {
			struct iovec iov = {src + sent, big - sent};
			ssize_t n = p.cli.ops->send(&p.cli, &iov, 1);

			EG_ASSERT(n > 0 || n == -EAGAIN);
			if (n > 0)
				sent += (size_t)n;
		} else if (!shut) {
			int r = p.cli.ops->shutdown_write(&p.cli);

			EG_ASSERT(r == 0 || r == -EAGAIN);
			shut = r == 0;
		}
		EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
		ssize_t n = read(sb[1], dst + got, big - got);

		if (n > 0)
			got += (size_t)n;
		if (n == 0)
			eof = true;
		if (n < 0)
			poll(NULL, 0, 1);
	}
	EG_ASSERT(eof);
	EG_ASSERT_EQ(got, big);
	EG_ASSERT_EQ(memcmp(src, dst, big), 0);
	/* the other way: a reply and a FIN become TLS records and a close_notify */
	EG_ASSERT_EQ(write(sb[1], "reply", 5), 5);
	EG_ASSERT_EQ(shutdown(sb[1], SHUT_WR), 0);
	size_t rgot = 0;
	for (int i = 0; i < 2000 && !rr.done; i++) {
		EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
		if (rgot < 5) {
			ssize_t n = p.cli.ops->recv(&p.cli, reply + rgot, 5 - rgot);

			if (n > 0)
				rgot += (size_t)n;
		}
		poll(NULL, 0, 1);
	}
	EG_ASSERT_EQ(rgot, 5);
	EG_ASSERT_EQ(memcmp(reply, "reply", 5), 0);
	EG_ASSERT_EQ(t_recv_eof(&p.cli, 2000), 0);
	EG_ASSERT(rr.done);
	EG_ASSERT_EQ(rr.res.status, 0);
	EG_ASSERT_EQ(rr.res.bytes[EG_NET_RELAY_A], big);
	EG_ASSERT_EQ(rr.res.bytes[EG_NET_RELAY_B], 5);
	EG_ASSERT(!rr.res.spliced);
	pair_close(&p);
	close(sb[1]);
	loop = eg_loop_free(loop);
	eg_tls_client_unref(c);
	eg_tls_server_unref(s);
	free(src);
	free(dst);
}
