/* tests/unit/test_tls_io.c: the tls transport and contexts against real peers on 127.0.0.1
 * (kernel-chosen ports): openssl s_client and curl against our servers (SIMPLE from a
 * Secret, MUTUAL refusals, ISTIO_MUTUAL with the peer's SPIFFE id, a plain-text client),
 * and our clients against openssl s_server (ISTIO_MUTUAL SNI and ALPN as the server saw
 * them, a wrong SPIFFE id, origination with a hostname mismatch, SANs, an extra CA bundle,
 * insecureSkipVerify, a client certificate, session resumption over TLS 1.2 and 1.3), and
 * a rotation while an s_client connection stays open. Handshakes run non-blocking, driven
 * by poll(). */
#include "eg_test.h"
#include "tls/tls-int.h"
#include "tls_testutil.h"

static struct t_cert ca, other_ca, api, other_name, client_ok, client_other;
static struct eg_tls_ca *mesh;
static char dir[64];
static char f_ca[256], f_other_ca[256], f_api_crt[256], f_api_key[256], f_other_crt[256],
        f_other_key[256], f_cok_crt[256], f_cok_key[256], f_cother_crt[256], f_cother_key[256],
        f_mesh_ca[256], f_gw_crt[256], f_gw_key[256], f_sleep_crt[256], f_sleep_key[256],
        f_wrong_crt[256], f_wrong_key[256];
static bool ready;

#define GW_ID       "spiffe://cluster.local/ns/istio-system/sa/asm-egress-test"
#define SLEEP_ID    "spiffe://cluster.local/ns/default/sa/sleep"
#define DEFAULT_SNI "outbound_.80_.cnn_.asm-egress-test.istio-system.svc.cluster.local"

static void done(void)
{
	t_cert_free(&ca);
	t_cert_free(&other_ca);
	t_cert_free(&api);
	t_cert_free(&other_name);
	t_cert_free(&client_ok);
	t_cert_free(&client_other);
	mesh = eg_tls_ca_free(mesh);
}

static void issue(const char *ns, const char *sa, char *crt, char *key)
{
	struct eg_tls_cert c;
	char name[64];

	EG_ASSERT_EQ(eg_tls_ca_issue(mesh, ns, sa, 3600, 0, &c), 0);
	snprintf(name, sizeof(name), "%s.crt", sa);
	EG_ASSERT_EQ(t_write(dir, name, c.cert_pem, crt, 256), 0);
	snprintf(name, sizeof(name), "%s.key", sa);
	EG_ASSERT_EQ(t_write(dir, name, c.key_pem, key, 256), 0);
	EG_ASSERT_EQ(t_write(dir, "mesh-ca.pem", c.ca_pem, f_mesh_ca, sizeof(f_mesh_ca)), 0);
	eg_tls_cert_done(&c);
}

static void setup(void)
{
	const char *d;

	if (ready)
		return;
	atexit(done);
	d = t_tmpdir();
	EG_ASSERT(d);
	snprintf(dir, sizeof(dir), "%s", d);
	ca = t_make("test root", NULL, NULL, false, false);
	other_ca = t_make("other root", NULL, NULL, false, false);
	api = t_make("api.example.com", &ca, "DNS:api.example.com", true, false);
	other_name = t_make("other.example.com", &ca, "DNS:other.example.com", true, false);
	client_ok = t_make("client", &ca, "URI:spiffe://cluster.local/ns/a/sa/b", false, true);
	client_other = t_make("client", &other_ca, NULL, false, true);
	EG_ASSERT_EQ(t_write(dir, "ca.pem", ca.cert_pem, f_ca, 256), 0);
	EG_ASSERT_EQ(t_write(dir, "other-ca.pem", other_ca.cert_pem, f_other_ca, 256), 0);
	EG_ASSERT_EQ(t_write(dir, "api.crt", api.cert_pem, f_api_crt, 256), 0);
	EG_ASSERT_EQ(t_write(dir, "api.key", api.key_pem, f_api_key, 256), 0);
	EG_ASSERT_EQ(t_write(dir, "other.crt", other_name.cert_pem, f_other_crt, 256), 0);
	EG_ASSERT_EQ(t_write(dir, "other.key", other_name.key_pem, f_other_key, 256), 0);
	EG_ASSERT_EQ(t_write(dir, "cok.crt", client_ok.cert_pem, f_cok_crt, 256), 0);
	EG_ASSERT_EQ(t_write(dir, "cok.key", client_ok.key_pem, f_cok_key, 256), 0);
	EG_ASSERT_EQ(t_write(dir, "cother.crt", client_other.cert_pem, f_cother_crt, 256), 0);
	EG_ASSERT_EQ(t_write(dir, "cother.key", client_other.key_pem, f_cother_key, 256), 0);
	EG_ASSERT_EQ(eg_tls_ca_create("cluster.local", 0, &mesh), 0);
	issue("istio-system", "asm-egress-test", f_gw_crt, f_gw_key);
	issue("default", "sleep", f_sleep_crt, f_sleep_key);
	issue("istio-system", "somebody-else", f_wrong_crt, f_wrong_key);
	ready = true;
}

/* ---- a Secret table (what the proxy's lookup over the store returns) ---- */

struct secret_row {
	const char *ns, *name, *key, *value;
};

static struct secret_row secrets[8];

static int table_secret(void *data, const char *ns, const char *name, const char *key,
                        struct eg_tls_secret_value *ret)
{
	bool found = false;

	(void)data;
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]) && secrets[i].ns; i++) {
		if (strcmp(secrets[i].ns, ns) != 0 || strcmp(secrets[i].name, name) != 0)
			continue;
		found = true;
		if (strcmp(secrets[i].key, key) == 0) {
			*ret = (struct eg_tls_secret_value){secrets[i].value,
			                                    strlen(secrets[i].value), true};
			return 0;
		}
	}
	return found ? -ENODATA : -ENOENT;
}

/* ---- helpers ---- */

static struct eg_tls_rotator *holder_of(const char *crt, const char *key)
{
	struct eg_tls_rotator_conf rc = {0};
	struct eg_tls_rotator *r;
	struct eg_tls_id *id;
	char *c, *k, *a;
	size_t n;

	EG_ASSERT_EQ(eg_tls_read_file(crt, &c, &n), 0);
	EG_ASSERT_EQ(eg_tls_read_file(key, &k, &n), 0);
	EG_ASSERT_EQ(eg_tls_read_file(f_mesh_ca, &a, &n), 0);
	EG_ASSERT_EQ(eg_tls_id_from_pem(c, k, a, &id), 0);
	free(c);
	free(k);
	free(a);
	EG_ASSERT_EQ(eg_tls_rotator_new(&rc, 0, &r, NULL, 0), 0);
	EG_ASSERT_EQ(eg_tls_rotator_set(r, id), 0);
	eg_tls_id_unref(id);
	return r;
}

/* Starts "openssl s_client -connect 127.0.0.1:PORT ARGS..." against @srv and drives our
 * side of the handshake. Returns its result; @io is the server connection. */
static int serve_s_client(struct eg_tls_server *srv, struct t_proc *p, struct eg_io *io,
                          const char *const *args)
{
	char *argv[40], portarg[32];
	int n = 0, port, lfd, fd;

	lfd = t_listen(&port);
	EG_ASSERT(lfd >= 0);
	snprintf(portarg, sizeof(portarg), "127.0.0.1:%d", port);
	argv[n++] = "openssl";
	argv[n++] = "s_client";
	argv[n++] = "-connect";
	argv[n++] = portarg;
	while (*args && n < 38)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	EG_ASSERT_EQ(t_spawn(p, argv), 0);
	fd = t_accept(lfd, 5000);
	close(lfd);
	EG_ASSERT(fd >= 0);
	EG_ASSERT_EQ(eg_tls_io_server(io, fd, srv, NULL, 0, -1), 0);
	return t_handshake(io, 5000);
}

/* Starts "openssl s_server -accept 127.0.0.1:0 ARGS..." and returns its port. */
static int start_s_server(struct t_proc *p, const char *const *args)
{
	char *argv[48];
	int n = 0, port;

	argv[n++] = "openssl";
	argv[n++] = "s_server";
	argv[n++] = "-accept";
	argv[n++] = "127.0.0.1:0";
	while (*args && n < 46)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	EG_ASSERT_EQ(t_spawn(p, argv), 0);
	port = t_accept_port(p);
	EG_ASSERT(port > 0);
	return port;
}

/* Connects our client @c to 127.0.0.1:@port for @host and handshakes. */
static int connect_with(struct eg_tls_client *c, int port, const char *host, struct eg_io *io)
{
	int fd = t_connect(port);

	EG_ASSERT(fd >= 0);
	EG_ASSERT_EQ(eg_tls_io_client(io, fd, c, host), 0);
	return t_handshake(io, 5000);
}

static struct eg_tls_server *server_with(const struct eg_tls_server_conf *c,
                                         const struct eg_tls_env *env)
{
	struct eg_tls_server *s;
	char err[256] = "";

	EG_ASSERT_EQ(eg_tls_server_new(&s), 0);
	if (eg_tls_server_add(s, c, env, err, sizeof(err)) < 0)
		EG_FAIL("server: %s", err);
	return s;
}

static struct eg_tls_client *client_with(const struct eg_tls_client_conf *conf,
                                         const struct eg_tls_env *env)
{
	struct eg_tls_client *c;
	char err[256] = "";

	if (eg_tls_client_new(conf, env, &c, err, sizeof(err)) < 0)
		EG_FAIL("client: %s", err);
	return c;
}

/* ---- our servers, openssl s_client and curl as clients ---- */

EG_TEST(s_client_verifies_simple_server_from_secret)
{
	struct eg_tls_server *s;
	struct eg_io io;
	struct t_proc p;
	char *crt, *key;

	setup();
	crt = t_b64(api.cert_pem);
	key = t_b64(api.key_pem);
	secrets[0] = (struct secret_row){"istio-system", "api-cred", "tls.crt", crt};
	secrets[1] = (struct secret_row){"istio-system", "api-cred", "tls.key", key};
	struct eg_tls_env env = {.ns = "istio-system", .secret = table_secret};
	const char *names[] = {"api.example.com"};
	struct eg_tls_server_conf c = {.mode = EG_TLS_SIMPLE,
	                               .credential_name = "api-cred",
	                               .server_names = names,
	                               .nserver_names = 1};
	s = server_with(&c, &env);
	const char *args[] = {"-servername",
	                      "api.example.com",
	                      "-CAfile",
	                      f_ca,
	                      "-verify_return_error",
	                      "-verify_hostname",
	                      "api.example.com",
	                      "-alpn",
	                      "h2,http/1.1",
	                      NULL};
	EG_ASSERT_EQ(serve_s_client(s, &p, &io, args), 0);
	EG_ASSERT_STR_EQ(eg_tls_io_alpn(&io), "http/1.1");
	EG_ASSERT_STR_EQ(eg_tls_io_sni(&io), "api.example.com");
	EG_ASSERT(eg_tls_io_peer_id(&io) == NULL);
	EG_ASSERT_EQ(t_send_all(&io, "hello from egressd\n", 19, 2000), 0);
	EG_ASSERT(t_wait_output(&p, "hello from egressd", 5000));
	EG_ASSERT_CONTAINS(p.log, "Verify return code: 0 (ok)");
	EG_ASSERT_CONTAINS(p.log, "ALPN protocol: http/1.1");
	/* and the other way: what s_client reads from its stdin comes to us */
	EG_ASSERT(write(p.in, "from s_client\n", 14) == 14);
	char buf[32] = "";
	EG_ASSERT_EQ(t_recv_upto(&io, buf, 14, 5000), 14);
	EG_ASSERT_EQ(memcmp(buf, "from s_client\n", 14), 0);
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_server_unref(s);
	free(crt);
	free(key);
	memset(secrets, 0, sizeof(secrets));
}

EG_TEST(curl_gets_a_response_over_simple)
{
	struct eg_tls_server *s;
	struct eg_io io;
	struct t_proc p;
	char *argv[16], resolve[64], url[64], req[4096] = "";
	int port, lfd, fd;
	ssize_t n;

	setup();
	struct eg_tls_env env = {0};
	struct eg_tls_server_conf c = {
	        .mode = EG_TLS_SIMPLE, .server_certificate = f_api_crt, .private_key = f_api_key};
	s = server_with(&c, &env);
	lfd = t_listen(&port);
	snprintf(resolve, sizeof(resolve), "api.example.com:%d:127.0.0.1", port);
	snprintf(url, sizeof(url), "https://api.example.com:%d/hello", port);
	int k = 0;
	argv[k++] = "curl";
	argv[k++] = "-sS";
	argv[k++] = "--max-time";
	argv[k++] = "10";
	argv[k++] = "--cacert";
	argv[k++] = f_ca;
	argv[k++] = "--resolve";
	argv[k++] = resolve;
	argv[k++] = url;
	argv[k] = NULL;
	EG_ASSERT_EQ(t_spawn(&p, argv), 0);
	fd = t_accept(lfd, 5000);
	close(lfd);
	EG_ASSERT(fd >= 0);
	EG_ASSERT_EQ(eg_tls_io_server(&io, fd, s, NULL, 0, -1), 0);
	EG_ASSERT_EQ(t_handshake(&io, 5000), 0);
	EG_ASSERT_STR_EQ(eg_tls_io_alpn(&io), "http/1.1"); /* curl offers h2 first */
	n = 0;
	for (int i = 0; i < 100 && !strstr(req, "\r\n\r\n"); i++) {
		ssize_t r = t_recv_upto(&io, req + n, sizeof(req) - 1 - (size_t)n, 50);

		EG_ASSERT(r >= 0);
		n += r;
		req[n] = '\0';
	}
	EG_ASSERT_CONTAINS(req, "GET /hello HTTP/1.1\r\n");
	const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
	                    "hello curl!\n";
	EG_ASSERT_EQ(t_send_all(&io, resp, sizeof(resp) - 1, 2000), 0);
	EG_ASSERT_EQ(io.ops->shutdown_write(&io), 0);
	int rc = t_join(&p, 5000);

	if (rc != 0)
		EG_FAIL("curl exited with %d: %s", rc, p.log);
	EG_ASSERT_STR_EQ(p.log, "hello curl!\n");
	io.ops->close(&io);
	eg_tls_server_unref(s);
}

static struct eg_tls_server *mutual_server(void)
{
	struct eg_tls_env env = {0};
	struct eg_tls_server_conf c = {.mode = EG_TLS_MUTUAL,
	                               .server_certificate = f_api_crt,
	                               .private_key = f_api_key,
	                               .ca_certificates = f_ca};

	return server_with(&c, &env);
}

EG_TEST(mutual_refuses_a_client_without_certificate)
{
	struct eg_tls_server *s = (setup(), mutual_server());
	struct eg_io io;
	struct t_proc p;
	const char *args[] = {"-servername", "api.example.com", "-CAfile", f_ca, NULL};

	EG_ASSERT_EQ(serve_s_client(s, &p, &io, args), -EACCES);
	EG_ASSERT_STR_EQ(eg_tls_io_reason(&io), "peer did not return a certificate");
	io.ops->close(&io);
	EG_ASSERT(t_wait_output(&p, "alert certificate required", 5000));
	t_stop(&p);
	eg_tls_server_unref(s);
}

EG_TEST(mutual_refuses_a_client_of_another_ca)
{
	struct eg_tls_server *s = (setup(), mutual_server());
	struct eg_io io;
	struct t_proc p;
	const char *args[] = {"-servername", "api.example.com", "-CAfile",
	                      f_ca,          "-cert",           f_cother_crt,
	                      "-key",        f_cother_key,      NULL};

	EG_ASSERT_EQ(serve_s_client(s, &p, &io, args), -EACCES);
	EG_ASSERT_STR_EQ(eg_tls_io_reason(&io),
	                 "certificate verify failed: unable to get local issuer certificate");
	io.ops->close(&io);
	EG_ASSERT(t_wait_output(&p, "alert unknown ca", 5000));
	t_stop(&p);
	eg_tls_server_unref(s);
}

EG_TEST(mutual_accepts_a_client_of_its_ca)
{
	struct eg_tls_server *s = (setup(), mutual_server());
	struct eg_io io;
	struct t_proc p;
	const char *args[] = {"-servername", "api.example.com", "-CAfile", f_ca, "-cert", f_cok_crt,
	                      "-key",        f_cok_key,         NULL};

	EG_ASSERT_EQ(serve_s_client(s, &p, &io, args), 0);
	EG_ASSERT_STR_EQ(eg_tls_io_peer_id(&io), "spiffe://cluster.local/ns/a/sa/b");
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_server_unref(s);
}

static struct eg_tls_server *gateway_server(struct eg_tls_rotator *gw)
{
	const char *names[] = {"edition.cnn.com"};
	struct eg_tls_env env = {.ns = "istio-system", .mesh = gw};
	struct eg_tls_server_conf c = {
	        .mode = EG_TLS_ISTIO_MUTUAL, .server_names = names, .nserver_names = 1};

	return server_with(&c, &env);
}

EG_TEST(istio_mutual_server_reports_the_workload_spiffe_id)
{
	struct eg_tls_rotator *gw;
	struct eg_tls_server *s;
	struct eg_io io;
	struct t_proc p;

	setup();
	gw = holder_of(f_gw_crt, f_gw_key);
	s = gateway_server(gw);
	const char *args[] = {"-servername",
	                      "edition.cnn.com",
	                      "-CAfile",
	                      f_mesh_ca,
	                      "-verify_return_error",
	                      "-cert",
	                      f_sleep_crt,
	                      "-key",
	                      f_sleep_key,
	                      "-alpn",
	                      "istio-http/1.1,istio,http/1.1",
	                      NULL};
	EG_ASSERT_EQ(serve_s_client(s, &p, &io, args), 0);
	EG_ASSERT_STR_EQ(eg_tls_io_peer_id(&io), SLEEP_ID);
	EG_ASSERT_STR_EQ(eg_tls_io_alpn(&io), "http/1.1");
	EG_ASSERT_EQ(t_send_all(&io, "hi\n", 3, 2000), 0);
	EG_ASSERT(t_wait_output(&p, "hi\n", 5000));
	EG_ASSERT_CONTAINS(p.log, "Verify return code: 0 (ok)");
	io.ops->close(&io);
	t_stop(&p);

	/* a client certificate of another CA is refused */
	const char *foreign[] = {"-servername", "edition.cnn.com", "-cert", f_cother_crt,
	                         "-key",        f_cother_key,      NULL};
	EG_ASSERT_EQ(serve_s_client(s, &p, &io, foreign), -EACCES);
	EG_ASSERT_CONTAINS(eg_tls_io_reason(&io), "certificate verify failed");
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_server_unref(s);
	eg_tls_rotator_free(gw);
}

EG_TEST(istio_mutual_server_refuses_plain_text)
{
	struct eg_tls_rotator *gw;
	struct eg_tls_server *s;
	struct eg_io io;
	int port, lfd, cfd, fd;
	const char req[] = "GET / HTTP/1.1\r\nHost: edition.cnn.com\r\n\r\n";

	setup();
	gw = holder_of(f_gw_crt, f_gw_key);
	s = gateway_server(gw);
	lfd = t_listen(&port);
	cfd = t_connect(port);
	fd = t_accept(lfd, 2000);
	close(lfd);
	EG_ASSERT(write(cfd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1);
	EG_ASSERT_EQ(eg_tls_io_server(&io, fd, s, NULL, 0, -1), 0);
	EG_ASSERT_EQ(t_handshake(&io, 2000), -EPROTO);
	EG_ASSERT_CONTAINS(eg_tls_io_reason(&io), "TLS_error:|");
	EG_ASSERT_CONTAINS(eg_tls_io_reason(&io), "http request");
	io.ops->close(&io);
	close(cfd);
	eg_tls_server_unref(s);
	eg_tls_rotator_free(gw);
}

/* ---- our clients, openssl s_server as the server ---- */

static struct eg_tls_client *sidecar_client(struct eg_tls_rotator *me, const char *sni)
{
	const char *sans[] = {GW_ID};
	struct eg_tls_env env = {.ns = "default", .mesh = me};
	struct eg_tls_client_conf conf = {.mode = EG_TLS_ISTIO_MUTUAL,
	                                  .sni = sni,
	                                  .subject_alt_names = sans,
	                                  .nsubject_alt_names = 1};

	return client_with(&conf, &env);
}

EG_TEST(istio_mutual_client_sni_and_alpn_as_s_server_saw_them)
{
	struct eg_tls_rotator *me;
	struct eg_tls_client *c;
	struct eg_io io;
	struct t_proc p;
	int port;

	setup();
	me = holder_of(f_sleep_crt, f_sleep_key);
	c = sidecar_client(me, DEFAULT_SNI);
	/* -servername names another host: s_server prints the SNI and keeps its ALPN */
	const char *args[] = {
	        "-cert",   f_gw_crt,   "-key",     f_gw_key,      "-cert2",
	        f_gw_crt,  "-key2",    f_gw_key,   "-servername", "none.invalid",
	        "-alpn",   "http/1.1", "-Verify",  "1",           "-verify_return_error",
	        "-CAfile", f_mesh_ca,  "-naccept", "1",           NULL};
	port = start_s_server(&p, args);
	EG_ASSERT_EQ(connect_with(c, port, NULL, &io), 0);
	EG_ASSERT_STR_EQ(eg_tls_io_peer_id(&io), GW_ID);
	EG_ASSERT_STR_EQ(eg_tls_io_alpn(&io), "http/1.1");
	EG_ASSERT_STR_EQ(eg_tls_io_sni(&io), DEFAULT_SNI);
	EG_ASSERT_EQ(t_send_all(&io, "GET / HTTP/1.1\r\n\r\n", 18, 2000), 0);
	EG_ASSERT(t_wait_output(&p, "GET / HTTP/1.1", 5000));
	EG_ASSERT_CONTAINS(p.log, "Hostname in TLS extension: \"" DEFAULT_SNI "\"");
	EG_ASSERT_CONTAINS(p.log, "ALPN protocols advertised by the client: istio-http/1.1, istio, "
	                          "http/1.1");
	/* s_server required and verified our workload certificate */
	EG_ASSERT(!strstr(p.log, "verify error"));
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_client_unref(c);

	/* the DR's sni is used as given (the how-to's edition.cnn.com) */
	c = sidecar_client(me, "edition.cnn.com");
	port = start_s_server(&p, args);
	EG_ASSERT_EQ(connect_with(c, port, NULL, &io), 0);
	EG_ASSERT(t_wait_output(&p, "Hostname in TLS extension: \"edition.cnn.com\"", 5000));
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_client_unref(c);
	eg_tls_rotator_free(me);
}

EG_TEST(istio_mutual_client_refuses_a_wrong_spiffe_id)
{
	struct eg_tls_rotator *me;
	struct eg_tls_client *c;
	struct eg_io io;
	struct t_proc p;
	int port;

	setup();
	me = holder_of(f_sleep_crt, f_sleep_key);
	c = sidecar_client(me, "edition.cnn.com");
	const char *args[] = {"-cert", f_wrong_crt, "-key", f_wrong_key, "-naccept", "1", NULL};
	port = start_s_server(&p, args);
	EG_ASSERT_EQ(connect_with(c, port, NULL, &io), -EACCES);
	EG_ASSERT_CONTAINS(eg_tls_io_reason(&io),
	                   "peer SPIFFE id spiffe://cluster.local/ns/istio-system/sa/somebody-else "
	                   "is not the expected " GW_ID);
	io.ops->close(&io);
	t_stop(&p);
	/* a server certificate of another CA fails the chain */
	const char *foreign[] = {"-cert", f_api_crt, "-key", f_api_key, "-naccept", "1", NULL};
	port = start_s_server(&p, foreign);
	EG_ASSERT_EQ(connect_with(c, port, NULL, &io), -EACCES);
	EG_ASSERT_STR_EQ(eg_tls_io_reason(&io),
	                 "certificate verify failed: unable to get local issuer certificate");
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_client_unref(c);
	eg_tls_rotator_free(me);
}

EG_TEST(origination_reports_a_hostname_mismatch)
{
	struct eg_tls_client *c;
	struct eg_io io;
	struct t_proc p;
	int port;

	setup();
	struct eg_tls_env env = {0};
	struct eg_tls_client_conf conf = {.mode = EG_TLS_SIMPLE, .ca_certificates = f_ca};
	c = client_with(&conf, &env);
	const char *args[] = {"-cert",        f_other_crt, "-key",      f_other_key, "-servername",
	                      "none.invalid", "-cert2",    f_other_crt, "-key2",     f_other_key,
	                      "-naccept",     "1",         NULL};
	port = start_s_server(&p, args);
	EG_ASSERT_EQ(connect_with(c, port, "api.example.com:443", &io), -EACCES);
	EG_ASSERT_STR_EQ(eg_tls_io_reason(&io), "certificate verify failed: hostname mismatch");
	/* SNI = the request authority without its port */
	EG_ASSERT(t_wait_output(&p, "Hostname in TLS extension: \"api.example.com\"", 5000));
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_client_unref(c);
}

EG_TEST(origination_by_subject_alt_names_and_insecure_skip_verify)
{
	struct eg_tls_client *c;
	struct eg_io io;
	struct t_proc p;
	int port;
	const char *sans[] = {"other.example.com"}, *wrong[] = {"third.example.com"};
	const char *args[] = {"-cert", f_other_crt, "-key", f_other_key, "-naccept", "1", NULL};

	setup();
	struct eg_tls_env env = {0};
	/* subjectAltNames given: they are checked, not the SNI */
	struct eg_tls_client_conf conf = {.mode = EG_TLS_SIMPLE,
	                                  .ca_certificates = f_ca,
	                                  .subject_alt_names = sans,
	                                  .nsubject_alt_names = 1};
	c = client_with(&conf, &env);
	port = start_s_server(&p, args);
	EG_ASSERT_EQ(connect_with(c, port, "api.example.com", &io), 0);
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_client_unref(c);
	conf.subject_alt_names = wrong;
	c = client_with(&conf, &env);
	port = start_s_server(&p, args);
	EG_ASSERT_EQ(connect_with(c, port, "api.example.com", &io), -EACCES);
	EG_ASSERT_STR_EQ(eg_tls_io_reason(&io),
	                 "certificate verify failed: no subjectAltName matches third.example.com");
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_client_unref(c);
	/* insecureSkipVerify: another name, another CA, still connects */
	conf = (struct eg_tls_client_conf){.mode = EG_TLS_SIMPLE, .insecure_skip_verify = true};
	c = client_with(&conf, &env);
	port = start_s_server(&p, args);
	EG_ASSERT_EQ(connect_with(c, port, "api.example.com", &io), 0);
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_client_unref(c);
}

EG_TEST(origination_trusts_the_extra_ca_bundle)
{
	struct eg_tls_client *c;
	struct x509_store_st *trust;
	struct eg_io io;
	struct t_proc p;
	char err[256] = "";
	int port;
	const char *args[] = {"-cert", f_api_crt, "-key", f_api_key, "-naccept", "1", NULL};

	setup();
	/* the OS roots alone do not know the test root */
	struct eg_tls_env env = {0};
	struct eg_tls_client_conf conf = {.mode = EG_TLS_SIMPLE};
	c = client_with(&conf, &env);
	port = start_s_server(&p, args);
	EG_ASSERT_EQ(connect_with(c, port, "api.example.com", &io), -EACCES);
	EG_ASSERT_STR_EQ(eg_tls_io_reason(&io),
	                 "certificate verify failed: unable to get local issuer certificate");
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_client_unref(c);
	/* OS roots + the cluster's --ca-bundle, loaded once and shared */
	EG_ASSERT_EQ(eg_tls_trust_load(NULL, f_ca, &trust, err, sizeof(err)), 0);
	env.trust = trust;
	c = client_with(&conf, &env);
	eg_tls_trust_unref(trust); /* the client keeps its own reference */
	port = start_s_server(&p, args);
	EG_ASSERT_EQ(connect_with(c, port, "api.example.com", &io), 0);
	EG_ASSERT_STR_EQ(eg_tls_io_version(&io), "TLSv1.3");
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_client_unref(c);
	EG_ASSERT(eg_tls_trust_load(NULL, f_api_key, &trust, err, sizeof(err)) < 0);
	EG_ASSERT_CONTAINS(err, "no PEM certificate");
}

EG_TEST(origination_mutual_presents_the_client_certificate)
{
	struct eg_tls_client *c;
	struct eg_io io;
	struct t_proc p;
	int port;

	setup();
	struct eg_tls_env env = {0};
	struct eg_tls_client_conf conf = {.mode = EG_TLS_MUTUAL,
	                                  .ca_certificates = f_ca,
	                                  .client_certificate = f_cok_crt,
	                                  .private_key = f_cok_key};
	c = client_with(&conf, &env);
	const char *args[] = {
	        "-cert",   f_api_crt, "-key",     f_api_key, "-Verify", "1", "-verify_return_error",
	        "-CAfile", f_ca,      "-naccept", "1",       NULL};
	port = start_s_server(&p, args);
	EG_ASSERT_EQ(connect_with(c, port, "api.example.com", &io), 0);
	EG_ASSERT_EQ(t_send_all(&io, "mtls\n", 5, 2000), 0);
	EG_ASSERT(t_wait_output(&p, "mtls\n", 5000));
	EG_ASSERT_CONTAINS(p.log, "subject=CN = client");
	io.ops->close(&io);
	t_stop(&p);
	eg_tls_client_unref(c);
}

static void resumption(const char *version_flag, const char *version)
{
	struct eg_tls_client *c;
	struct eg_io io;
	struct t_proc p;
	char buf[8];
	int port;

	setup();
	struct eg_tls_env env = {0};
	struct eg_tls_client_conf conf = {.mode = EG_TLS_SIMPLE, .ca_certificates = f_ca};
	c = client_with(&conf, &env);
	const char *args[] = {"-cert",      f_api_crt,  "-key", f_api_key,
	                      version_flag, "-naccept", "2",    NULL};
	port = start_s_server(&p, args);
	EG_ASSERT_EQ(connect_with(c, port, "api.example.com", &io), 0);
	EG_ASSERT_STR_EQ(eg_tls_io_version(&io), version);
	EG_ASSERT(!eg_tls_io_resumed(&io));
	/* TLS 1.3 tickets come after the handshake: a read takes them in */
	EG_ASSERT_EQ(t_recv_upto(&io, buf, sizeof(buf), 300), 0);
	EG_ASSERT_EQ(eg_tls_client_sessions(c), 1);
	io.ops->close(&io);
	EG_ASSERT_EQ(connect_with(c, port, "api.example.com", &io), 0);
	EG_ASSERT(eg_tls_io_resumed(&io));
	EG_ASSERT_EQ(t_recv_upto(&io, buf, sizeof(buf), 300), 0);
	io.ops->close(&io);
	EG_ASSERT(t_wait_output(&p, "Reused session-id", 3000) ||
	          t_wait_output(&p, "Reused, ", 100));
	t_stop(&p);
	/* another name has no session to resume */
	EG_ASSERT_EQ(eg_tls_client_sessions(c), 1);
	eg_tls_client_unref(c);
}

EG_TEST(origination_resumes_sessions_tls13)
{
	resumption("-tls1_3", "TLSv1.3");
}

EG_TEST(origination_resumes_sessions_tls12)
{
	resumption("-tls1_2", "TLSv1.2");
}

EG_TEST(rotation_while_an_s_client_connection_stays_open)
{
	struct eg_tls_rotator *gw;
	struct eg_tls_server *s;
	struct eg_tls_id *old, *fresh;
	struct eg_io a, b;
	struct t_proc pa, pb;
	char buf[32] = "", *old_pem, *new_pem;

	setup();
	/* 60 s certificates with a 5 min backdate: due at once, every refresh re-issues */
	struct eg_tls_rotator_conf rc = {
	        .ca = mesh, .ns = "istio-system", .sa = "asm-egress-test", .ttl = 60};
	EG_ASSERT_EQ(eg_tls_rotator_new(&rc, 0, &gw, NULL, 0), 0);
	s = gateway_server(gw);
	old = eg_tls_rotator_get(gw);
	const char *args[] = {
	        "-servername", "edition.cnn.com", "-CAfile", f_mesh_ca,   "-verify_return_error",
	        "-cert",       f_sleep_crt,       "-key",    f_sleep_key, NULL};
	EG_ASSERT_EQ(serve_s_client(s, &pa, &a, args), 0);
	EG_ASSERT_EQ(eg_tls_rotator_refresh(gw, 0, NULL, 0), 1);
	fresh = eg_tls_rotator_get(gw);
	EG_ASSERT_EQ(serve_s_client(s, &pb, &b, args), 0);
	EG_ASSERT_STR_EQ(eg_tls_io_peer_id(&b), SLEEP_ID);
	EG_ASSERT(t_wait_output(&pb, "Verify return code", 5000));
	old_pem = t_pem_x509(old->cert);
	new_pem = t_pem_x509(fresh->cert);
	EG_ASSERT(t_wait_output(&pa, "Verify return code", 5000));
	EG_ASSERT(strstr(pa.log, old_pem) != NULL);
	EG_ASSERT(strstr(pb.log, new_pem) != NULL);
	EG_ASSERT(strstr(pb.log, old_pem) == NULL);
	/* the first connection is still up, both ways */
	EG_ASSERT(write(pa.in, "still here\n", 11) == 11);
	EG_ASSERT_EQ(t_recv_upto(&a, buf, 11, 5000), 11);
	EG_ASSERT_EQ(memcmp(buf, "still here\n", 11), 0);
	EG_ASSERT_EQ(t_send_all(&a, "ack\n", 4, 2000), 0);
	EG_ASSERT(t_wait_output(&pa, "ack\n", 5000));
	free(old_pem);
	free(new_pem);
	a.ops->close(&a);
	b.ops->close(&b);
	t_stop(&pa);
	t_stop(&pb);
	eg_tls_id_unref(old);
	eg_tls_id_unref(fresh);
	eg_tls_server_unref(s);
	eg_tls_rotator_free(gw);
}
