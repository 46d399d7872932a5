/* tests/unit/test_tls_ca.c: mesh CA, workload certificates, SPIFFE ids and peer checks
 * (src/tls/ca.c, src/tls/spiffe.c). Real certificates, made in a temporary directory. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../../src/tls/ca.c"
#include "../../src/tls/spiffe.c"
#include "eg_test.h"

#define T0 ((time_t)1767225600) /* 2026-01-01T00:00:00Z: fixed, so dates are exact */

static char tmp_root[64];

/* a fresh empty directory under one per-run root, removed at exit */
static const char *tmpdir(const char *name)
{
	static char path[128];

	if (!tmp_root[0]) {
		memcpy(tmp_root, "/tmp/eg-test-ca.XXXXXX", 23);
		if (!mkdtemp(tmp_root))
			EG_FAIL("mkdtemp: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/%s", tmp_root, name);
	return path;
}

__attribute__((destructor)) static void rm_tmp_root(void)
{
	char cmd[128];

	if (tmp_root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmp_root);
	}
}

static struct eg_tls_ca *new_ca(const char *td, time_t now)
{
	struct eg_tls_ca *ca = NULL;

	EG_ASSERT_EQ(eg_tls_ca_create(td, now, &ca), 0);
	return ca;
}

static X509 *issue_x509(const struct eg_tls_ca *ca, const char *ns, const char *sa, uint64_t ttl,
                        time_t now)
{
	struct eg_tls_cert c;
	X509 *x;

	EG_ASSERT_EQ(eg_tls_ca_issue(ca, ns, sa, ttl, now, &c), 0);
	x = pem_to_x509(c.cert_pem, strlen(c.cert_pem));
	eg_tls_cert_done(&c);
	EG_ASSERT(x != NULL);
	return x;
}

static mode_t mode_of(const char *dir, const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (stat(p, &st) != 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

static unsigned count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* ---- SPIFFE ids ------------------------------------------------------------------------- */

EG_TEST(spiffe_format_and_parse_round_trip)
{
	struct eg_tls_spiffe_id id;
	char out[EG_TLS_SPIFFE_MAX + 1];
	const char *gw =
	        "spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account";

	EG_ASSERT_EQ(eg_tls_spiffe_format(out, sizeof(out), "cluster.local", "istio-system",
	                                  "istio-egressgateway-service-account"),
	             strlen(gw));
	EG_ASSERT_STR_EQ(out, gw);
	EG_ASSERT_EQ(eg_tls_spiffe_parse(eg_str_c(out), &id), 0);
	EG_ASSERT_STR_EQ(id.td, "cluster.local");
	EG_ASSERT_STR_EQ(id.ns, "istio-system");
	EG_ASSERT_STR_EQ(id.sa, "istio-egressgateway-service-account");
	EG_ASSERT_EQ(eg_tls_spiffe_parse(EG_STR("spiffe://td_1.example/ns/a/sa/b.c-d"), &id), 0);
	EG_ASSERT_STR_EQ(id.sa, "b.c-d");
	EG_ASSERT_EQ(eg_tls_spiffe_format(out, 20, "cluster.local", "a", "b"), -ENOSPC);
	EG_ASSERT_EQ(eg_tls_spiffe_format(out, sizeof(out), "Cluster.local", "a", "b"), -EINVAL);
	EG_ASSERT_EQ(eg_tls_spiffe_format(out, sizeof(out), "cluster.local", "A", "b"), -EINVAL);
	EG_ASSERT_EQ(eg_tls_spiffe_format(out, sizeof(out), "cluster.local", "a", "b/c"), -EINVAL);
	EG_ASSERT_EQ(eg_tls_spiffe_format(out, sizeof(out), "cluster.local", "a", NULL), -EINVAL);
}

EG_TEST(spiffe_parse_refuses_malformed)
{
	static const char *const bad[] = {
	        "",
	        "spiffe://",
	        "spiffe:/cluster.local/ns/a/sa/b",
	        "http://cluster.local/ns/a/sa/b",
	        "SPIFFE://cluster.local/ns/a/sa/b",
	        "spiffe://Cluster.local/ns/a/sa/b",
	        "spiffe:///ns/a/sa/b",
	        "spiffe://cluster.local",
	        "spiffe://cluster.local/",
	        "spiffe://cluster.local/ns/a",
	        "spiffe://cluster.local/ns/a/sa",
	        "spiffe://cluster.local/ns/a/sa/",
	        "spiffe://cluster.local/ns/a/sa/b/",
	        "spiffe://cluster.local/ns/a/sa/b/c",
	        "spiffe://cluster.local/ns//sa/b",
	        "spiffe://cluster.local//ns/a/sa/b",
	        "spiffe://cluster.local/sa/b/ns/a",
	        "spiffe://cluster.local/ns/a/sa/b?x=1",
	        "spiffe://cluster.local/ns/a/sa/b#f",
	        "spiffe://cluster.local/ns/a%2Fb/sa/c",
	        "spiffe://user@cluster.local/ns/a/sa/b",
	        "spiffe://cluster.local:443/ns/a/sa/b",
	        "spiffe://cluster..local/ns/a/sa/b",
	        "spiffe://.cluster.local/ns/a/sa/b",
	        "spiffe://cluster.local./ns/a/sa/b",
	        "spiffe://cluster.local/ns/A/sa/b",
	        "spiffe://cluster.local/ns/-a/sa/b",
	        "spiffe://cluster.local/ns/a-/sa/b",
	        "spiffe://cluster.local/ns/a.b/sa/c", /* a namespace is a label, no dot */
	        "spiffe://cluster.local/ns/a/sa/.b",
	        "spiffe://cluster.local/ns/a/sa/b..c",
	        "spiffe://cluster.local/ns/a/sa/b c",
	        "spiffe://cluster.local/ns/a/sa/b_c",
	        "spiffe://cluster.local/NS/a/sa/b",
	        "spiffe://cluster.local/ns/a/SA/b",
	        "spiffe://cluster.local/ns/"
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/sa/b",
	};
	struct eg_tls_spiffe_id id;

	for (size_t i = 0; i < EG_ARRAY_SIZE(bad); i++) {
		memset(&id, 0x5a, sizeof(id));
		if (eg_tls_spiffe_parse(eg_str_c(bad[i]), &id) != -EINVAL)
			EG_FAIL("accepted \"%s\"", bad[i]);
		EG_ASSERT_EQ((unsigned char)id.td[0], 0x5a); /* untouched */
	}
	/* a NUL inside the slice, and a NULL slice */
	EG_ASSERT_EQ(eg_tls_spiffe_parse((struct eg_str){"spiffe://a/ns/b/sa/c\0d", 22}, &id),
	             -EINVAL);
	EG_ASSERT_EQ(eg_tls_spiffe_parse((struct eg_str){NULL, 0}, &id), -EINVAL);
	/* a 63-character namespace is fine */
	EG_ASSERT_EQ(
	        eg_tls_spiffe_parse(
	                EG_STR("spiffe://cluster.local/ns/"
	                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	                       "/sa/b"),
	                &id),
	        0);
}

/* ---- CA and issuing --------------------------------------------------------------------- */

EG_TEST(ca_root_is_a_p256_ca_for_ten_years)
{
	struct eg_tls_ca *ca = new_ca("cluster.local", T0);
	const X509 *x = eg_tls_ca_cert(ca);
	time_t nb, na;
	char name[64];
	size_t nlen;
	EVP_PKEY *pub;

	EG_ASSERT(X509_check_ca((X509 *)x) >= 1);
	EG_ASSERT_EQ(X509_get_key_usage((X509 *)x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	EG_ASSERT_EQ(eg_tls_cert_validity(x, &nb, &na), 0);
	EG_ASSERT_EQ(nb, T0 - 300);
	EG_ASSERT_EQ(na, T0 + 3650 * 86400);
	EG_ASSERT_EQ(eg_tls_ca_not_after(ca), na);
	EG_ASSERT_EQ(X509_check_issued((X509 *)x, (X509 *)x), X509_V_OK); /* self-signed */
	pub = X509_get0_pubkey(x);
	EG_ASSERT(EVP_PKEY_is_a(pub, "EC"));
	EG_ASSERT_EQ(EVP_PKEY_get_utf8_string_param(pub, "group", name, sizeof(name), &nlen), 1);
	EG_ASSERT_STR_EQ(name, "prime256v1");
	EG_ASSERT_STR_EQ(eg_tls_ca_trust_domain(ca), "cluster.local");
	eg_tls_ca_free(ca);
	EG_ASSERT(eg_tls_ca_create("Bad_TD.", T0, &ca) == -EINVAL);
	EG_ASSERT(eg_tls_ca_free(NULL) == NULL);
}

EG_TEST(issue_workload_certificate)
{
	struct eg_tls_ca *ca = new_ca("cluster.local", T0);
	struct eg_tls_cert c;
	char id[EG_TLS_SPIFFE_MAX + 1];
	X509 *x, *root;
	time_t nb, na;
	int crit = -1;
	BASIC_CONSTRAINTS *bc;

	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "default", "sleep", EG_TLS_CERT_TTL, T0 + 100, &c), 0);
	EG_ASSERT_STR_EQ(c.spiffe_id, "spiffe://cluster.local/ns/default/sa/sleep");
	EG_ASSERT_EQ(c.not_before, T0 + 100 - 300);
	EG_ASSERT_EQ(c.not_after, T0 + 100 + 86400);
	/* cert.pem holds the leaf and nothing else */
	EG_ASSERT(strncmp(c.cert_pem, "-----BEGIN CERTIFICATE-----\n", 28) == 0);
	EG_ASSERT(strstr(c.cert_pem + 28, "BEGIN") == NULL); /* one PEM block only */
	EG_ASSERT_CONTAINS(c.key_pem, "BEGIN PRIVATE KEY");
	x = pem_to_x509(c.cert_pem, strlen(c.cert_pem));
	root = pem_to_x509(c.ca_pem, strlen(c.ca_pem));
	EG_ASSERT(x && root);
	EG_ASSERT_EQ(X509_cmp(root, eg_tls_ca_cert(ca)), 0);
	EG_ASSERT_EQ(X509_check_issued(root, x), X509_V_OK);
	EG_ASSERT_EQ(X509_verify(x, X509_get0_pubkey(root)), 1);
	EG_ASSERT_EQ(eg_tls_cert_validity(x, &nb, &na), 0);
	EG_ASSERT_EQ(nb, c.not_before);
	EG_ASSERT_EQ(na, c.not_after);
	EG_ASSERT_EQ(eg_tls_spiffe_from_x509(x, id, sizeof(id)), (ssize_t)strlen(c.spiffe_id));
	EG_ASSERT_STR_EQ(id, c.spiffe_id);
	EG_ASSERT_EQ(eg_tls_spiffe_from_x509(x, id, 10), -ENOSPC);
	EG_ASSERT_EQ(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	EG_ASSERT(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	EG_ASSERT(!(X509_get_key_usage(x) & KU_KEY_CERT_SIGN));
	EG_ASSERT_EQ(X509_check_ca(x), 0);
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	EG_ASSERT(bc && !bc->ca && crit == 1);
	BASIC_CONSTRAINTS_free(bc);
	GENERAL_NAMES_free(X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL));
	EG_ASSERT_EQ(crit, 1); /* empty subject: the SAN is critical */
	EG_ASSERT_EQ(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	/* two certificates never share a key or a serial */
	{
		X509 *y = issue_x509(ca, "default", "sleep", EG_TLS_CERT_TTL, T0 + 100);

		EG_ASSERT(ASN1_INTEGER_cmp(X509_get0_serialNumber(x), X509_get0_serialNumber(y)));
		EG_ASSERT(EVP_PKEY_eq(X509_get0_pubkey(x), X509_get0_pubkey(y)) != 1);
		X509_free(y);
	}
	X509_free(x);
	X509_free(root);
	eg_tls_cert_done(&c);
	eg_tls_ca_free(ca);
}

EG_TEST(issue_refuses_bad_names_and_lifetimes)
{
	struct eg_tls_ca *ca = new_ca("cluster.local", T0);
	struct eg_tls_cert c;

	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "Default", "sa", 3600, T0, &c), -EINVAL);
	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "a_b", "sa", 3600, T0, &c), -EINVAL);
	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "", "sa", 3600, T0, &c), -EINVAL);
	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "ns", "sa,URI:spiffe://x", 3600, T0, &c), -EINVAL);
	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "ns", "", 3600, T0, &c), -EINVAL);
	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "ns", "sa", 59, T0, &c), -EINVAL);
	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "ns", "sa", 0, T0, &c), -EINVAL);
	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "ns", "sa", EG_TLS_CERT_TTL_MAX + 1, T0, &c), -EINVAL);
	/* a day before the root expires, a 2-day certificate would outlive it */
	EG_ASSERT_EQ(
	        eg_tls_ca_issue(ca, "ns", "sa", 2 * 86400, eg_tls_ca_not_after(ca) - 86400, &c),
	        -ERANGE);
	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "ns", "sa", 3600, eg_tls_ca_not_after(ca) - 86400, &c), 0);
	eg_tls_cert_done(&c);
	eg_tls_ca_free(ca);
}

EG_TEST(ca_save_load_force)
{
	const char *dir = tmpdir("store/ca");
	struct eg_tls_ca *ca = new_ca("mesh.example", T0), *other = new_ca("mesh.example", T0);
	struct eg_tls_ca *back = NULL;
	char d[128];

	snprintf(d, sizeof(d), "%s", dir);
	EG_ASSERT_EQ(eg_tls_ca_load(d, &back), -ENOENT);
	EG_ASSERT_EQ(eg_tls_ca_save(ca, d, false), 0);
	EG_ASSERT_EQ(mode_of(d, "ca.key"), 0600);
	EG_ASSERT_EQ(mode_of(d, "."), 0700);
	EG_ASSERT_EQ(count_entries(d), 3); /* no temporary file left behind */
	EG_ASSERT_EQ(eg_tls_ca_load(d, &back), 0);
	EG_ASSERT_STR_EQ(eg_tls_ca_trust_domain(back), "mesh.example");
	EG_ASSERT_EQ(X509_cmp(eg_tls_ca_cert(back), eg_tls_ca_cert(ca)), 0);
	EG_ASSERT_EQ(eg_tls_ca_not_after(back), eg_tls_ca_not_after(ca));
	back = eg_tls_ca_free(back);
	/* no overwrite without force; with it, the other CA replaces the first */
	EG_ASSERT_EQ(eg_tls_ca_save(other, d, false), -EEXIST);
	EG_ASSERT_EQ(eg_tls_ca_save(other, d, true), 0);
	EG_ASSERT_EQ(eg_tls_ca_load(d, &back), 0);
	EG_ASSERT_EQ(X509_cmp(eg_tls_ca_cert(back), eg_tls_ca_cert(other)), 0);
	back = eg_tls_ca_free(back);
	EG_ASSERT_EQ(count_entries(d), 3);
	eg_tls_ca_free(ca);
	eg_tls_ca_free(other);
}

EG_TEST(ca_load_refuses_broken_stores)
{
	struct eg_tls_ca *a = new_ca("cluster.local", T0), *b = new_ca("cluster.local", T0);
	struct eg_tls_ca *back = NULL;
	char d[128], *key;

	snprintf(d, sizeof(d), "%s", tmpdir("broken"));
	EG_ASSERT_EQ(eg_tls_ca_save(a, d, false), 0);
	/* the key of another CA */
	key = to_pem(NULL, b->key);
	EG_ASSERT_EQ(eg_file_write_atomic(d, "ca.key", key, strlen(key), 0600), 0);
	free(key);
	EG_ASSERT_EQ(eg_tls_ca_load(d, &back), -EBADMSG);
	/* garbage */
	EG_ASSERT_EQ(eg_file_write_atomic(d, "ca.key", "not a key\n", 10, 0600), 0);
	EG_ASSERT_EQ(eg_tls_ca_load(d, &back), -EBADMSG);
	/* a bad trust domain file */
	EG_ASSERT_EQ(eg_tls_ca_save(a, d, true), 0);
	EG_ASSERT_EQ(eg_file_write_atomic(d, "trust-domain", "Not Valid\n", 10, 0644), 0);
	EG_ASSERT_EQ(eg_tls_ca_load(d, &back), -EBADMSG);
	EG_ASSERT(back == NULL);
	eg_tls_ca_free(a);
	eg_tls_ca_free(b);
}

EG_TEST(cert_write_is_atomic_and_loads_back)
{
	struct eg_tls_ca *ca = new_ca("cluster.local", T0);
	struct eg_tls_cert c, c2;
	char d[128], id[EG_TLS_SPIFFE_MAX + 1];
	X509 *x = NULL, *root = NULL;
	EVP_PKEY *k = NULL;

	snprintf(d, sizeof(d), "%s", tmpdir("pod/certs"));
	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "default", "curl", 3600, 0, &c), 0);
	EG_ASSERT_EQ(eg_tls_cert_write(&c, d), 0);
	EG_ASSERT_EQ(mode_of(d, "key.pem"), 0600);
	EG_ASSERT_EQ(mode_of(d, "cert.pem"), 0644);
	EG_ASSERT_EQ(count_entries(d), 3);
	EG_ASSERT_EQ(eg_tls_identity_load(d, &x, &k, &root), 0);
	EG_ASSERT_EQ(X509_cmp(root, eg_tls_ca_cert(ca)), 0);
	EG_ASSERT_EQ(eg_tls_spiffe_from_x509(x, id, sizeof(id)), 41);
	EG_ASSERT_STR_EQ(id, "spiffe://cluster.local/ns/default/sa/curl");
	X509_free(x);
	X509_free(root);
	EVP_PKEY_free(k);
	/* rotation: a second write replaces all three */
	EG_ASSERT_EQ(eg_tls_ca_issue(ca, "default", "curl", 3600, 0, &c2), 0);
	EG_ASSERT_EQ(eg_tls_cert_write(&c2, d), 0);
	EG_ASSERT_EQ(count_entries(d), 3);
	EG_ASSERT_EQ(eg_tls_identity_load(d, &x, &k, NULL), 0);
	EVP_PKEY_free(k);
	k = pem_to_key(c.key_pem, strlen(c.key_pem));
	EG_ASSERT_EQ(X509_check_private_key(x, k), 0); /* the old key no longer fits */
	X509_free(x);
	EVP_PKEY_free(k);
	/* a key that is not the certificate's: refused after the retries */
	EG_ASSERT_EQ(eg_file_write_atomic(d, "key.pem", c.key_pem, strlen(c.key_pem), 0600), 0);
	EG_ASSERT_EQ(eg_tls_identity_load(d, &x, &k, NULL), -EAGAIN);
	EG_ASSERT_EQ(eg_tls_identity_load(tmpdir("nothing"), &x, &k, NULL), -ENOENT);
	eg_tls_cert_done(&c);
	eg_tls_cert_done(&c2);
	eg_tls_ca_free(ca);
}

EG_TEST(rotation_after_half_the_lifetime)
{
	struct eg_tls_ca *ca = new_ca("cluster.local", T0);
	X509 *x = issue_x509(ca, "ns", "sa", 86400, T0);
	time_t nb, na, at;

	EG_ASSERT_EQ(eg_tls_rotation_at(1000, 2000), 1500);
	EG_ASSERT(!eg_tls_rotation_due(1000, 2000, 1000));
	EG_ASSERT(!eg_tls_rotation_due(1000, 2000, 1499));
	EG_ASSERT(eg_tls_rotation_due(1000, 2000, 1500));
	EG_ASSERT(eg_tls_rotation_due(1000, 2000, 2000));
	EG_ASSERT(eg_tls_rotation_due(1000, 2000, 99999)); /* expired */
	EG_ASSERT(!eg_tls_rotation_due(1000, 2000, 10));   /* clock behind: not yet */
	EG_ASSERT(eg_tls_rotation_due(2000, 2000, 10));    /* nonsense dates: re-issue */
	EG_ASSERT(eg_tls_rotation_due(2000, 1000, 10));
	EG_ASSERT_EQ(eg_tls_cert_validity(x, &nb, &na), 0);
	at = eg_tls_rotation_at(nb, na);
	EG_ASSERT_EQ(at, T0 - 300 + (86400 + 300) / 2); /* 11h57m30s after issuing */
	EG_ASSERT(!eg_tls_rotation_due(nb, na, at - 1));
	EG_ASSERT(eg_tls_rotation_due(nb, na, at));
	X509_free(x);
	eg_tls_ca_free(ca);
}

/* ---- verifying peers -------------------------------------------------------------------- */

EG_TEST(verify_peer_identity)
{
	struct eg_tls_ca *ca = new_ca("cluster.local", 0), *rogue = new_ca("cluster.local", 0);
	struct eg_tls_ca *other_td = new_ca("other.local", 0);
	X509 *gw = issue_x509(ca, "istio-system", "istio-egressgateway-service-account", 3600, 0);
	X509 *app = issue_x509(ca, "default", "sleep", 3600, 0);
	X509 *fake =
	        issue_x509(rogue, "istio-system", "istio-egressgateway-service-account", 3600, 0);
	X509 *foreign = issue_x509(other_td, "default", "sleep", 3600, 0);
	struct eg_tls_verify v = {.ca = eg_tls_ca_cert(ca), .role = EG_TLS_PEER_SERVER};
	const char *gw_id =
	        "spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account";
	const char *why = NULL;
	char id[EG_TLS_SPIFFE_MAX + 1];

	/* client side (ISTIO_MUTUAL origination): the gateway's exact id */
	v.expect_id = gw_id;
	EG_ASSERT_EQ(eg_tls_spiffe_verify(&v, gw, NULL, id, sizeof(id), &why), 0);
	EG_ASSERT_STR_EQ(id, gw_id);
	EG_ASSERT_EQ(eg_tls_spiffe_verify(&v, app, NULL, id, sizeof(id), &why), -EPERM);
	EG_ASSERT_CONTAINS(why, "not the expected");
	EG_ASSERT_EQ(eg_tls_spiffe_verify(&v, fake, NULL, id, sizeof(id), &why), -EACCES);
	EG_ASSERT_CONTAINS(why, "local issuer");
	/* server side (ISTIO_MUTUAL termination): any id of the trust domain */
	v = (struct eg_tls_verify){.ca = eg_tls_ca_cert(ca),
	                           .role = EG_TLS_PEER_CLIENT,
	                           .trust_domain = "cluster.local"};
	EG_ASSERT_EQ(eg_tls_spiffe_verify(&v, app, NULL, id, sizeof(id), &why), 0);
	EG_ASSERT_STR_EQ(id, "spiffe://cluster.local/ns/default/sa/sleep");
	EG_ASSERT_EQ(eg_tls_spiffe_verify(&v, app, NULL, id, 10, &why), -ENOSPC);
	/* a certificate chained to the CA but naming another trust domain */
	v.ca = eg_tls_ca_cert(other_td);
	EG_ASSERT_EQ(eg_tls_spiffe_verify(&v, foreign, NULL, id, sizeof(id), &why), -EPERM);
	EG_ASSERT_CONTAINS(why, "another trust domain");
	/* expired, and not yet valid */
	v.ca = eg_tls_ca_cert(ca);
	v.now = time(NULL) + 2 * 3600;
	EG_ASSERT_EQ(eg_tls_spiffe_verify(&v, app, NULL, id, sizeof(id), &why), -EACCES);
	EG_ASSERT_CONTAINS(why, "expired");
	v.now = time(NULL) - 3600;
	EG_ASSERT_EQ(eg_tls_spiffe_verify(&v, app, NULL, id, sizeof(id), &why), -EACCES);
	EG_ASSERT_CONTAINS(why, "not yet valid");
	/* the root itself is no workload */
	v.now = 0;
	EG_ASSERT(eg_tls_spiffe_verify(&v, eg_tls_ca_cert(ca), NULL, id, sizeof(id), &why) < 0);
	v.trust_domain = NULL;
	EG_ASSERT_EQ(eg_tls_spiffe_verify(&v, app, NULL, id, sizeof(id), &why), -EINVAL);
	X509_free(gw);
	X509_free(app);
	X509_free(fake);
	X509_free(foreign);
	eg_tls_ca_free(ca);
	eg_tls_ca_free(rogue);
	eg_tls_ca_free(other_td);
}

/* a leaf with a chosen SAN value (NULL: none), signed by @ca */
static X509 *leaf_with_san(const struct eg_tls_ca *ca, const char *san)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	time_t now = time(NULL);
	X509 *x = new_cert(k, now - 60, now + 3600);

	EG_ASSERT(x != NULL);
	EG_ASSERT_EQ(X509_set_issuer_name(x, X509_get_subject_name(ca->cert)), 1);
	EG_ASSERT_EQ(add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth,clientAuth"), 0);
	if (san)
		EG_ASSERT_EQ(add_ext(x, ca->cert, NID_subject_alt_name, san), 0);
	EG_ASSERT(X509_sign(x, ca->key, EVP_sha256()) > 0);
	EVP_PKEY_free(k);
	return x;
}

EG_TEST(spiffe_from_x509_shapes)
{
	struct eg_tls_ca *ca = new_ca("cluster.local", 0);
	struct eg_tls_verify v = {.ca = eg_tls_ca_cert(ca),
	                          .role = EG_TLS_PEER_CLIENT,
	                          .trust_domain = "cluster.local"};
	char id[EG_TLS_SPIFFE_MAX + 1];
	const char *why = NULL;
	X509 *x;

	x = leaf_with_san(ca, NULL);
	EG_ASSERT_EQ(eg_tls_spiffe_from_x509(x, id, sizeof(id)), -ENOENT);
	EG_ASSERT_EQ(eg_tls_spiffe_verify(&v, x, NULL, id, sizeof(id), &why), -ENOENT);
	EG_ASSERT_CONTAINS(why, "no SPIFFE id");
	X509_free(x);
	x = leaf_with_san(ca, "DNS:a.example,URI:https://a.example/");
	EG_ASSERT_EQ(eg_tls_spiffe_from_x509(x, id, sizeof(id)), -ENOENT);
	X509_free(x);
	x = leaf_with_san(
	        ca, "URI:spiffe://cluster.local/ns/a/sa/b,URI:spiffe://cluster.local/ns/a/sa/c");
	EG_ASSERT_EQ(eg_tls_spiffe_from_x509(x, id, sizeof(id)), -EBADMSG);
	X509_free(x);
	x = leaf_with_san(ca, "URI:SPIFFE://cluster.local/ns/a/sa/b");
	EG_ASSERT_EQ(eg_tls_spiffe_from_x509(x, id, sizeof(id)), -EBADMSG);
	EG_ASSERT_EQ(eg_tls_spiffe_verify(&v, x, NULL, id, sizeof(id), &why), -EBADMSG);
	X509_free(x);
	x = leaf_with_san(ca, "DNS:a.example,URI:spiffe://cluster.local/ns/a/sa/b");
	EG_ASSERT_EQ(eg_tls_spiffe_from_x509(x, id, sizeof(id)), 32);
	EG_ASSERT_STR_EQ(id, "spiffe://cluster.local/ns/a/sa/b");
	X509_free(x);
	eg_tls_ca_free(ca);
}
