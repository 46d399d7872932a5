/* tests/unit/test_proxy_tls.c: the proxy's TLS glue without sockets (src/proxy/tls_*.c):
 * contexts built from real snapshots of the how-to's scenarios (an ISTIO_MUTUAL server
 * chain at the gateway, an ISTIO_MUTUAL client cluster at the sidecar), their reuse across
 * reloads, the refusal without a workload identity, the pool salt of TLS clusters, the
 * alert chosen for a denied SNI, and which gateway listeners read a ClientHello. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/diag.h"
#include "model/model.h"
#include "proxy/internal.h"
#include "eg_test.h"

#define INPUTS "tests/testdata/compile/"

static char *read_file(const char *path, size_t *ret_len)
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
	if (buf) {
		buf[n] = '\0';
		*ret_len = (size_t)n;
	}
	fclose(f);
	return buf;
}

static void load(struct eg_resource_set *set, const char *file)
{
	struct eg_parse_opts po = { .default_ns = "default" };
	struct eg_diag d;
	size_t len = 0;
	char *data = read_file(file, &len);

	if (!data)
		EG_FAIL("cannot read %s", file);
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_model_parse(file, data, len, &po, set, &d), 0);
	free(data);
	eg_diag_done(&d);
}

static struct eg_snapshot *compile(const char *scenario, enum eg_role role)
{
	struct eg_resource_set set;
	struct eg_proxy_id who = { .role = role, .ns = "aks-istio-egress", .version = 1 };
	struct eg_snapshot *s = NULL;
	struct eg_diag d;
	char f[256];

	who.name = role == EG_ROLE_GATEWAY ? "asm-egress-test" : "curl";
	snprintf(f, sizeof(f), INPUTS "scenario-%s.yaml", scenario);
	eg_resource_set_init(&set);
	load(&set, INPUTS "base.yaml");
	load(&set, INPUTS "mesh-registry-only.yaml");
	load(&set, f);
	eg_diag_init(&d);
	EG_ASSERT_EQ(eg_compile(&set, &who, &s, &d), 0);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	return s;
}

/* A certificate directory for @sa issued by a fresh mesh CA. */
static void identity_dir(const char *sa, char *dir, size_t cap)
{
	struct eg_tls_ca *ca = NULL;
	struct eg_tls_cert c;

	snprintf(dir, cap, "/tmp/eg-ptls-XXXXXX");
	EG_ASSERT(mkdtemp(dir) != NULL);
	EG_ASSERT_EQ(eg_tls_ca_create("cluster.local", 0, &ca), 0);
	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "aks-istio-egress", sa, EG_TLS_CERT_TTL, 0, &c), 0);
	EG_ASSERT_EQ(eg_tls_cert_write(&c, dir), 0);
	eg_tls_cert_done(&c);
	eg_tls_ca_free(ca);
}

static void rm_dir(const char *dir)
{
	char p[512];

	for (const char *const *n = (const char *const[]){ "cert.pem", "key.pem", "ca.pem", NULL };
	     *n; n++) {
		snprintf(p, sizeof(p), "%s/%s", dir, *n);
		unlink(p);
	}
	rmdir(dir);
}

struct fx {
	struct eg_loop *loop;
	struct ptls_global *g;
	char dir[64];
};

static void fx_init(struct fx *f, const char *sa)
{
	struct eg_proxy_config cfg = { 0 };

	memset(f, 0, sizeof(*f));
	EG_ASSERT_EQ(eg_loop_new(&f->loop), 0);
	if (sa) {
		identity_dir(sa, f->dir, sizeof(f->dir));
		cfg.cert_dir = f->dir;
	}
	EG_ASSERT_EQ(ptls_global_new(&cfg, f->loop, &f->g), 0);
}

static void fx_done(struct fx *f)
{
	ptls_global_free(f->g);
	eg_loop_free(f->loop);
	if (f->dir[0])
		rm_dir(f->dir);
}

static const struct eg_cluster *cluster(const struct eg_snapshot *s, const char *name)
{
	const struct eg_cluster *cl = eg_snapshot_cluster(s, name);

	if (!cl)
		EG_FAIL("no cluster %s", name);
	return cl;
}

#define CNN_SUBSET_80 "outbound|80|cnn|asm-egress-test.aks-istio-egress.svc.cluster.local"

EG_TEST(sidecar_istio_mutual_cluster_gets_a_client_and_reuses_it)
{
	struct fx f;
	struct pconf pc = { 0 }, pc2 = { 0 };
	const char *err = "x";

	fx_init(&f, "curl");
	pc.snap = compile("tls-origination", EG_ROLE_SIDECAR);
	pc.tls = ptls_conf_build(f.g, pc.snap, NULL);
	EG_ASSERT(pc.tls != NULL);
	{
		const struct eg_cluster *cl = cluster(pc.snap, CNN_SUBSET_80);
		struct eg_tls_client *c1 = ptls_client(&pc, cl, &err);

		EG_ASSERT(c1 != NULL);
		EG_ASSERT(err == NULL);
		/* a plain cluster needs no context and is no error */
		EG_ASSERT(ptls_client(&pc, cluster(pc.snap, "BlackHoleCluster"), &err) == NULL);
		EG_ASSERT(err == NULL);
		/* a reload with the same settings keeps the context (and its sessions) */
		pc2.snap = compile("tls-origination", EG_ROLE_SIDECAR);
		pc2.tls = ptls_conf_build(f.g, pc2.snap, &pc);
		EG_ASSERT(ptls_client(&pc2, cluster(pc2.snap, CNN_SUBSET_80), &err) == c1);
	}
	ptls_conf_unref(pc2.tls);
	eg_snapshot_unref(pc2.snap);
	ptls_conf_unref(pc.tls);
	eg_snapshot_unref(pc.snap);
	fx_done(&f);
}

EG_TEST(no_workload_identity_refuses_istio_mutual_never_plain)
{
	struct fx f;
	struct pconf pc = { 0 };
	const char *err = NULL;

	fx_init(&f, NULL);
	pc.snap = compile("tls-origination", EG_ROLE_SIDECAR);
	pc.tls = ptls_conf_build(f.g, pc.snap, NULL);
	EG_ASSERT(ptls_client(&pc, cluster(pc.snap, CNN_SUBSET_80), &err) == NULL);
	EG_ASSERT(err != NULL);
	EG_ASSERT_CONTAINS(err, "ISTIO_MUTUAL needs the proxy's workload identity");
	ptls_conf_unref(pc.tls);
	eg_snapshot_unref(pc.snap);
	fx_done(&f);
}

EG_TEST(gateway_istio_mutual_server_chain)
{
	struct fx f;
	struct pconf pc = { 0 };
	const struct eg_listener *l;
	const char *err = NULL;
	int chain = -2;

	fx_init(&f, "asm-egress-test");
	pc.snap = compile("tls-origination", EG_ROLE_GATEWAY);
	pc.tls = ptls_conf_build(f.g, pc.snap, NULL);
	l = eg_snapshot_listener(pc.snap, 8080);
	EG_ASSERT(l != NULL && l->nchains == 1);
	EG_ASSERT_EQ(l->chains[0].tls.mode, EG_SERVER_TLS_ISTIO_MUTUAL);
	EG_ASSERT(gw_listener_tls(&pc, 8080));
	EG_ASSERT(ptls_server(&pc, 8080, &l->chains[0], &chain, &err) != NULL);
	EG_ASSERT(err == NULL);
	EG_ASSERT_EQ(chain, 0);
	EG_ASSERT_EQ(eg_tls_server_match(ptls_server(&pc, 8080, &l->chains[0], &chain, &err),
	                                 "edition.cnn.com"),
	             0);
	EG_ASSERT_EQ(eg_tls_server_match(ptls_server(&pc, 8080, &l->chains[0], &chain, &err),
	                                 "other.example"),
	             -ENOENT);
	ptls_conf_unref(pc.tls);
	eg_snapshot_unref(pc.snap);
	fx_done(&f);
}

EG_TEST(plain_and_passthrough_gateways)
{
	struct fx f;
	struct pconf pc = { 0 };

	fx_init(&f, NULL);
	pc.snap = compile("http", EG_ROLE_GATEWAY);
	pc.tls = ptls_conf_build(f.g, pc.snap, NULL);
	EG_ASSERT(pc.tls == NULL); /* nothing TLS in it */
	EG_ASSERT(!gw_listener_tls(&pc, 8080));
	eg_snapshot_unref(pc.snap);
	pc.snap = compile("https", EG_ROLE_GATEWAY);
	pc.tls = ptls_conf_build(f.g, pc.snap, NULL);
	EG_ASSERT(gw_listener_tls(&pc, 8443)); /* PASSTHROUGH reads the ClientHello too */
	ptls_conf_unref(pc.tls);
	eg_snapshot_unref(pc.snap);
	fx_done(&f);
}

EG_TEST(pool_salt_separates_tls_contexts_and_names)
{
	struct eg_cluster cl = { .name = "outbound|443||x.example" };
	uintptr_t a = 0x1000, b = 0x2000;
	uint64_t s1, s2;

	cl.tls.mode = EG_UPSTREAM_TLS_ISTIO_MUTUAL;
	s1 = utls_pool_salt(&cl, (const struct eg_tls_client *)a, EG_STR("x.example"));
	s2 = utls_pool_salt(&cl, (const struct eg_tls_client *)b, EG_STR("x.example"));
	EG_ASSERT(s1 != 0 && s2 != 0 && s1 != s2);
	/* a fixed SNI: one pool whatever the request's authority */
	EG_ASSERT_EQ(utls_pool_salt(&cl, (const struct eg_tls_client *)a, EG_STR("y.example")), s1);
	/* SNI from the request: one pool per name, the port does not count */
	cl.tls.mode = EG_UPSTREAM_TLS_SIMPLE;
	cl.tls.auto_sni = true;
	s1 = utls_pool_salt(&cl, (const struct eg_tls_client *)a, EG_STR("x.example"));
	EG_ASSERT_EQ(utls_pool_salt(&cl, (const struct eg_tls_client *)a, EG_STR("x.example:443")),
	             s1);
	EG_ASSERT(utls_pool_salt(&cl, (const struct eg_tls_client *)a, EG_STR("y.example")) != s1);
}

EG_TEST(denied_sni_alert)
{
	struct eg_tcp_route fb = { .name = "BlackHoleCluster" }, deny = { .name = "deny" };
	struct eg_chain c = { .proto = EG_CHAIN_TLS, .fallback = &fb };

	EG_ASSERT_EQ(sc_tls_deny_alert(&fb, &c, NULL), EG_TLS_ALERT_UNRECOGNIZED_NAME);
	EG_ASSERT_EQ(sc_tls_deny_alert(&fb, NULL, &fb), EG_TLS_ALERT_UNRECOGNIZED_NAME);
	EG_ASSERT_EQ(sc_tls_deny_alert(&deny, &c, NULL), EG_TLS_ALERT_ACCESS_DENIED);
}
