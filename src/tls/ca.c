/* src/tls/ca.c: the mesh root CA and the workload certificates it issues (OpenSSL 3.0).
 *
 * Layout on disk (docs/reference/identity.md):
 *   STORE/ca/ca.crt, ca.key (0600), trust-domain      the root, from eg_tls_ca_save()
 *   DIR/cert.pem, key.pem (0600), ca.pem               one workload, eg_tls_cert_write()
 * Every file is written to a temporary name in the same directory, synced and renamed over
 * the old one, so a reader sees the old file or the new one, never a mix. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/compiler.h"
#include "core/file.h"
#include "core/str.h"
#include "tls/tls-int.h"
#include "tls/tls.h"

struct eg_tls_ca {
	X509 *cert;
	EVP_PKEY *key;
	time_t not_after;
	char td[EG_TLS_TD_MAX + 1];
};

/* ---- files ------------------------------------------------------------------------------ */

static int join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* Reads DIR/NAME (a regular file, at most EG_TLS_PEM_MAX bytes) into a NUL-terminated
 * heap buffer. 0, -EBADMSG (not a regular file, or too big), -ENOMEM, -errno. */
static int read_small(const char *dir, const char *name, char **ret, size_t *ret_len)
{
	char path[PATH_MAX];
	int r;

	r = join(path, sizeof(path), dir, name);
	if (r < 0)
		return r;
	r = eg_tls_read_file(path, ret, ret_len);
	return r == -E2BIG || r == -EINVAL ? -EBADMSG : r;
}

static int exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (join(path, sizeof(path), dir, name) < 0)
		return 0;
	return access(path, F_OK) == 0;
}

/* ---- OpenSSL helpers -------------------------------------------------------------------- */

static X509 *pem_to_x509(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = NULL;

	if (b)
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	return x;
}

static EVP_PKEY *pem_to_key(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *k = NULL;

	if (b)
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	return k;
}

/* PEM text of a certificate or a private key (PKCS#8, unencrypted), NUL-terminated. */
static char *to_pem(X509 *x, EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (!b)
		return NULL;
	if (x ? PEM_write_bio_X509(b, x) != 1
	      : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1)
		goto out_free;
	n = BIO_get_mem_data(b, &data);
	if (n > 0)
		out = eg_strndup(data, (size_t)n);
out_free:
	BIO_free(b);
	return out;
}

static int set_serial(X509 *x)
{
	unsigned char rnd[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	rnd[0] &= 0x7f; /* positive, and at most 16 bytes in DER */
	rnd[0] |= 0x01; /* never zero */
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (!bn)
		return -ENOMEM;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : -EIO;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EIO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -EIO;
}

static int asn1_to_time(const ASN1_TIME *t, time_t *ret)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -EBADMSG;
	*ret = timegm(&tm);
	return 0;
}

/* A new certificate with key @key, serial, validity and version 3; not yet signed. */
static X509 *new_cert(EVP_PKEY *key, time_t not_before, time_t not_after)
{
	X509 *x = X509_new();

	if (!x)
		return NULL;
	if (X509_set_version(x, X509_VERSION_3) != 1 || set_serial(x) < 0 ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), not_after) || X509_set_pubkey(x, key) != 1) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* ---- the CA ----------------------------------------------------------------------------- */

struct eg_tls_ca *eg_tls_ca_free(struct eg_tls_ca *ca)
{
	if (!ca)
		return NULL;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
	return NULL;
}

const char *eg_tls_ca_trust_domain(const struct eg_tls_ca *ca)
{
	return ca->td;
}

const struct x509_st *eg_tls_ca_cert(const struct eg_tls_ca *ca)
{
	return ca->cert;
}

time_t eg_tls_ca_not_after(const struct eg_tls_ca *ca)
{
	return ca->not_after;
}

int eg_tls_ca_create(const char *trust_domain, time_t now, struct eg_tls_ca **ret)
{
	struct eg_tls_ca *ca;
	X509_NAME *name;
	int r = -EIO;

	if (eg_tls_spiffe_check_td(trust_domain) < 0)
		return -EINVAL;
	if (!now)
		now = time(NULL);
	ca = calloc(1, sizeof(*ca));
	if (!ca)
		return -ENOMEM;
	memcpy(ca->td, trust_domain, strlen(trust_domain) + 1);
	ca->key = EVP_EC_gen("P-256");
	if (!ca->key)
		goto out_free;
	ca->not_after = now + (time_t)EG_TLS_CA_DAYS * 86400;
	ca->cert = new_cert(ca->key, now - EG_TLS_CERT_BACKDATE, ca->not_after);
	if (!ca->cert)
		goto out_free;
	name = X509_get_subject_name(ca->cert);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	                               (const unsigned char *)trust_domain, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	                               (const unsigned char *)"egressd mesh root CA", -1, -1,
	                               0) != 1 ||
	    X509_set_issuer_name(ca->cert, name) != 1)
		goto out_free;
	/* self-signed: the certificate is its own issuer for the key identifiers */
	if (add_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(ca->cert, ca->cert, NID_authority_key_identifier, "keyid:always") < 0)
		goto out_free;
	if (X509_sign(ca->cert, ca->key, EVP_sha256()) <= 0)
		goto out_free;
	*ret = ca;
	return 0;
out_free:
	eg_tls_ca_free(ca);
	return r;
}

int eg_tls_ca_save(const struct eg_tls_ca *ca, const char *dir, bool force)
{
	char td[EG_TLS_TD_MAX + 2];
	char *crt, *key;
	int r;

	r = eg_file_mkdir_p(dir, 0755, 0700);
	if (r < 0)
		return r;
	if (!force && (exists(dir, "ca.crt") || exists(dir, "ca.key")))
		return -EEXIST;
	crt = to_pem(ca->cert, NULL);
	key = to_pem(NULL, ca->key);
	if (!crt || !key) {
		r = -ENOMEM;
		goto out_free;
	}
	snprintf(td, sizeof(td), "%s\n", ca->td);
	/* key first: a reader that finds the new ca.crt also finds its key */
	r = eg_file_write_atomic(dir, "trust-domain", td, strlen(td), 0644);
	if (r >= 0)
		r = eg_file_write_atomic(dir, "ca.key", key, strlen(key), 0600);
	if (r >= 0)
		r = eg_file_write_atomic(dir, "ca.crt", crt, strlen(crt), 0644);
	if (r >= 0)
		r = eg_file_fsync_dir(dir);
out_free:
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	free(key);
	free(crt);
	return r;
}

int eg_tls_ca_load(const char *dir, struct eg_tls_ca **ret)
{
	struct eg_tls_ca *ca;
	char *crt = NULL, *key = NULL, *td = NULL;
	size_t crt_len, key_len, td_len;
	int r;

	r = read_small(dir, "ca.crt", &crt, &crt_len);
	if (r < 0)
		return r;
	r = read_small(dir, "ca.key", &key, &key_len);
	if (r < 0)
		goto out_free;
	r = read_small(dir, "trust-domain", &td, &td_len);
	if (r < 0)
		goto out_free;
	while (td_len && (td[td_len - 1] == '\n' || td[td_len - 1] == '\r'))
		td[--td_len] = '\0';
	if (eg_tls_spiffe_check_td(td) < 0) {
		r = -EBADMSG;
		goto out_free;
	}
	ca = calloc(1, sizeof(*ca));
	if (!ca) {
		r = -ENOMEM;
		goto out_free;
	}
	memcpy(ca->td, td, td_len + 1);
	ca->cert = pem_to_x509(crt, crt_len);
	ca->key = pem_to_key(key, key_len);
	if (!ca->cert || !ca->key || X509_check_private_key(ca->cert, ca->key) != 1 ||
	    X509_check_ca(ca->cert) == 0 ||
	    asn1_to_time(X509_get0_notAfter(ca->cert), &ca->not_after) < 0) {
		eg_tls_ca_free(ca);
		r = -EBADMSG;
		goto out_free;
	}
	*ret = ca;
	r = 0;
out_free:
	if (key)
		OPENSSL_cleanse(key, key_len);
	free(key);
	free(crt);
	free(td);
	return r;
}

/* ---- workload certificates -------------------------------------------------------------- */

void eg_tls_cert_done(struct eg_tls_cert *c)
{
	if (!c)
		return;
	if (c->key_pem)
		OPENSSL_cleanse(c->key_pem, strlen(c->key_pem));
	free(c->cert_pem);
	free(c->key_pem);
	free(c->ca_pem);
	memset(c, 0, sizeof(*c));
}

int eg_tls_ca_issue(const struct eg_tls_ca *ca, const char *ns, const char *sa, uint64_t ttl,
                    time_t now, struct eg_tls_cert *ret)
{
	struct eg_tls_cert c = {.cert_pem = NULL};
	char san[EG_TLS_SPIFFE_MAX + 32];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	ssize_t n;
	int r = -EIO;

	if (ttl < EG_TLS_CERT_TTL_MIN || ttl > EG_TLS_CERT_TTL_MAX)
		return -EINVAL;
	n = eg_tls_spiffe_format(c.spiffe_id, sizeof(c.spiffe_id), ca->td, ns, sa);
	if (n < 0)
		return (int)n;
	if (!now)
		now = time(NULL);
	c.not_before = now - EG_TLS_CERT_BACKDATE;
	c.not_after = now + (time_t)ttl;
	if (c.not_after > ca->not_after)
		return -ERANGE;
	key = EVP_EC_gen("P-256");
	if (!key)
		return -EIO;
	x = new_cert(key, c.not_before, c.not_after);
	if (!x)
		goto out_free;
	/* Like Istio's workload certificates: an empty subject, so the identity lives only in
	 * the SAN, which RFC 5280 then wants critical. The names are checked above, so the
	 * value cannot smuggle another SAN entry in. */
	snprintf(san, sizeof(san), "critical,URI:%s", c.spiffe_id);
	if (X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) != 1 ||
	    add_ext(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, ca->cert, NID_key_usage, "critical,digitalSignature,keyAgreement") < 0 ||
	    add_ext(x, ca->cert, NID_ext_key_usage, "serverAuth,clientAuth") < 0 ||
	    add_ext(x, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, ca->cert, NID_authority_key_identifier, "keyid:always") < 0 ||
	    add_ext(x, ca->cert, NID_subject_alt_name, san) < 0)
		goto out_free;
	if (X509_sign(x, ca->key, EVP_sha256()) <= 0)
		goto out_free;
	c.cert_pem = to_pem(x, NULL);
	c.key_pem = to_pem(NULL, key);
	c.ca_pem = to_pem(ca->cert, NULL);
	if (!c.cert_pem || !c.key_pem || !c.ca_pem) {
		r = -ENOMEM;
		eg_tls_cert_done(&c);
		goto out_free;
	}
	*ret = c;
	r = 0;
out_free:
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}

int eg_tls_cert_write(const struct eg_tls_cert *c, const char *dir)
{
	int r;

	if (!c->cert_pem || !c->key_pem || !c->ca_pem)
		return -EINVAL;
	r = eg_file_mkdir_p(dir, 0755, 0700);
	if (r < 0)
		return r;
	r = eg_file_write_atomic(dir, "ca.pem", c->ca_pem, strlen(c->ca_pem), 0644);
	if (r >= 0)
		r = eg_file_write_atomic(dir, "key.pem", c->key_pem, strlen(c->key_pem), 0600);
	if (r >= 0)
		r = eg_file_write_atomic(dir, "cert.pem", c->cert_pem, strlen(c->cert_pem), 0644);
	if (r >= 0)
		r = eg_file_fsync_dir(dir);
	return r;
}

/* One attempt: 0, -EAGAIN (the key does not match the certificate), or an error. */
static int load_once(const char *dir, X509 **ret_cert, EVP_PKEY **ret_key, X509 **ret_ca)
{
	char *crt = NULL, *key = NULL, *cap = NULL;
	size_t crt_len, key_len, ca_len;
	X509 *x = NULL, *ca = NULL;
	EVP_PKEY *k = NULL;
	int r;

	r = read_small(dir, "cert.pem", &crt, &crt_len);
	if (r < 0)
		return r;
	r = read_small(dir, "key.pem", &key, &key_len);
	if (r >= 0 && ret_ca)
		r = read_small(dir, "ca.pem", &cap, &ca_len);
	if (r < 0)
		goto out_free;
	x = pem_to_x509(crt, crt_len);
	k = pem_to_key(key, key_len);
	if (ret_ca)
		ca = pem_to_x509(cap, ca_len);
	if (!x || !k || (ret_ca && !ca)) {
		r = -EBADMSG;
		goto out_free;
	}
	if (X509_check_private_key(x, k) != 1) {
		r = -EAGAIN;
		goto out_free;
	}
	*ret_cert = x;
	*ret_key = k;
	if (ret_ca)
		*ret_ca = ca;
	x = ca = NULL;
	k = NULL;
	r = 0;
out_free:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(k);
	if (key)
		OPENSSL_cleanse(key, key_len);
	free(key);
	free(crt);
	free(cap);
	return r;
}

int eg_tls_identity_load(const char *dir, struct x509_st **ret_cert, struct evp_pkey_st **ret_key,
                         struct x509_st **ret_ca)
{
	int r = -EAGAIN;

	/* a writer renames key.pem then cert.pem: a mismatch lasts microseconds */
	for (int attempt = 0; attempt < 5 && r == -EAGAIN; attempt++) {
		if (attempt) {
			struct timespec ts = {0, 20 * 1000 * 1000};

			(void)nanosleep(&ts, NULL);
		}
		r = load_once(dir, ret_cert, ret_key, ret_ca);
	}
	return r;
}

int eg_tls_cert_validity(const struct x509_st *cert, time_t *ret_not_before, time_t *ret_not_after)
{
	time_t nb, na;

	if (asn1_to_time(X509_get0_notBefore(cert), &nb) < 0 ||
	    asn1_to_time(X509_get0_notAfter(cert), &na) < 0)
		return -EBADMSG;
	*ret_not_before = nb;
	*ret_not_after = na;
	return 0;
}

time_t eg_tls_rotation_at(time_t not_before, time_t not_after)
{
	if (not_after <= not_before)
		return not_before;
	return not_before + (not_after - not_before) / 2;
}

bool eg_tls_rotation_due(time_t not_before, time_t not_after, time_t now)
{
	return not_after <= not_before || now >= eg_tls_rotation_at(not_before, not_after);
}
