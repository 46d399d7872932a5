/* src/tls/certs.c: certificate material for the contexts: workload identities (struct
 * eg_tls_id) and their rotation, Secret values (base64 through OpenSSL), PEM files and
 * bundles, and the trust store used for origination. Control thread: file I/O blocks. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/compiler.h"
#include "core/file.h"
#include "core/str.h"
#include "tls/tls-int.h"

int eg_tls_errf(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		(void)vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

int eg_tls_read_file(const char *path, char **ret, size_t *ret_len)
{
	struct eg_buf b = EG_BUF_INIT(EG_TLS_PEM_MAX);
	/* sized from fstat up front: no realloc leaves a copy of a key behind */
	int r = eg_file_read_at(AT_FDCWD, path, EG_FILE_REGULAR, EG_TLS_PEM_MAX, &b);

	if (r < 0) {
		if (b.data)
			OPENSSL_cleanse(b.data, b.len);
		eg_buf_done(&b);
		return r == -EFBIG ? -E2BIG : r == -EISDIR ? -EINVAL : r;
	}
	*ret_len = b.len;
	*ret = eg_buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}

int eg_tls_version_parse(const char *s, int dflt)
{
	static const struct {
		const char *name;
		int v;
	} tab[] = {
	        {"TLSV1_0", TLS1_VERSION},
	        {"TLSV1_1", TLS1_1_VERSION},
	        {"TLSV1_2", TLS1_2_VERSION},
	        {"TLSV1_3", TLS1_3_VERSION},
	};

	if (!s || !*s || strcmp(s, "TLS_AUTO") == 0)
		return dflt;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(s, tab[i].name) == 0)
			return tab[i].v;
	return -EINVAL;
}

/* ---- Secret values ---- */

int eg_tls_secret_decode(const struct eg_tls_secret_value *v, char **ret, size_t *ret_len)
{
	EVP_ENCODE_CTX *ctx;
	unsigned char *out;
	int n = 0, tail = 0, r;

	if (v->len > (size_t)EG_TLS_PEM_MAX * 2)
		return -E2BIG;
	if (!v->base64) {
		if (v->len > EG_TLS_PEM_MAX)
			return -E2BIG;
		out = (unsigned char *)eg_strndup(v->ptr ? v->ptr : "", v->len);
		if (!out)
			return -ENOMEM;
		*ret = (char *)out;
		*ret_len = v->len;
		return 0;
	}
	/* base64 gives at most 3 bytes per 4 characters; EVP_DecodeUpdate skips whitespace */
	out = malloc(v->len / 4 * 3 + 4);
	ctx = EVP_ENCODE_CTX_new();
	if (!out || !ctx) {
		r = -ENOMEM;
		goto out_free;
	}
	EVP_DecodeInit(ctx);
	if (v->len > INT_MAX ||
	    EVP_DecodeUpdate(ctx, out, &n, (const unsigned char *)v->ptr, (int)v->len) < 0 ||
	    EVP_DecodeFinal(ctx, out + n, &tail) != 1) {
		r = -EBADMSG;
		goto out_free;
	}
	n += tail;
	if (n > EG_TLS_PEM_MAX) {
		r = -E2BIG;
		goto out_free;
	}
	out[n] = '\0';
	EVP_ENCODE_CTX_free(ctx);
	*ret = (char *)out;
	*ret_len = (size_t)n;
	return 0;
out_free:
	EVP_ENCODE_CTX_free(ctx);
	free(out);
	return r;
}

/* ---- PEM ---- */

static BIO *mem_bio(const char *pem, size_t len)
{
	return len > INT_MAX ? NULL : BIO_new_mem_buf(pem, (int)len);
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0; /* encrypted keys are refused, never prompted for */
}

/* The leaf and the certificates after it. 0, -EBADMSG (no certificate), -ENOMEM. */
static int chain_from_pem(const char *pem, size_t len, X509 **ret_leaf, STACK_OF(X509) * *ret_chain)
{
	BIO *b = mem_bio(pem, len);
	STACK_OF(X509) *chain = NULL;
	X509 *leaf, *x;

	if (!b)
		return -ENOMEM;
	leaf = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
	if (!leaf) {
		BIO_free(b);
		ERR_clear_error();
		return -EBADMSG;
	}
	chain = sk_X509_new_null();
	while (chain && (x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)))
		if (!sk_X509_push(chain, x)) {
			X509_free(x);
			break;
		}
	ERR_clear_error(); /* the end of the input reads as "no start line" */
	BIO_free(b);
	if (!chain) {
		X509_free(leaf);
		return -ENOMEM;
	}
	*ret_leaf = leaf;
	*ret_chain = chain;
	return 0;
}

static EVP_PKEY *key_from_pem(const char *pem, size_t len)
{
	BIO *b = mem_bio(pem, len);
	EVP_PKEY *k;

	if (!b)
		return NULL;
	k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	ERR_clear_error();
	return k;
}

int eg_tls_store_from_pem(const char *pem, size_t len, X509_STORE **ret)
{
	BIO *b = mem_bio(pem, len);
	X509_STORE *st = X509_STORE_new();
	unsigned n = 0;
	X509 *x;
	int r = 0;

	if (!b || !st) {
		r = -ENOMEM;
		goto out_free;
	}
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL))) {
		/* a bundle may list a root twice: that is not an error */
		if (X509_STORE_add_cert(st, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();
	if (!n) {
		r = -EBADMSG;
		goto out_free;
	}
	*ret = st;
	st = NULL;
out_free:
	X509_STORE_free(st);
	BIO_free(b);
	return r;
}

/* ---- trust store for origination ---- */

static int store_add_file(X509_STORE *st, const char *path, char *err, size_t errlen)
{
	char *pem;
	size_t len;
	BIO *b;
	X509 *x;
	unsigned n = 0;
	int r;

	r = eg_tls_read_file(path, &pem, &len);
	if (r < 0)
		return eg_tls_errf(err, errlen, r, "CA bundle %s: %s", path, strerror(-r));
	b = mem_bio(pem, len);
	if (!b) {
		free(pem);
		return -ENOMEM;
	}
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL))) {
		if (X509_STORE_add_cert(st, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(b);
	free(pem);
	if (!n)
		return eg_tls_errf(err, errlen, -EBADMSG, "CA bundle %s: no PEM certificate", path);
	return 0;
}

int eg_tls_trust_load(const char *system_file, const char *extra_file, X509_STORE **ret, char *err,
                      size_t errlen)
{
	X509_STORE *st = X509_STORE_new();
	int r;

	if (!st)
		return -ENOMEM;
	if (!system_file)
		system_file = EG_TLS_SYSTEM_CA_FILE;
	if (*system_file && (r = store_add_file(st, system_file, err, errlen)) < 0)
		goto out_free;
	if (extra_file && *extra_file && (r = store_add_file(st, extra_file, err, errlen)) < 0)
		goto out_free;
	*ret = st;
	return 0;
out_free:
	X509_STORE_free(st);
	return r;
}

X509_STORE *eg_tls_trust_unref(X509_STORE *st)
{
	X509_STORE_free(st);
	return NULL;
}

/* ---- material for contexts ---- */

void eg_tls_material_done(struct eg_tls_material *m)
{
	X509_free(m->cert);
	sk_X509_pop_free(m->chain, X509_free);
	EVP_PKEY_free(m->key);
	X509_STORE_free(m->ca);
	memset(m, 0, sizeof(*m));
}

/* The first of @keys that Secret @ns/@name has, decoded. 0 (@ret_key says which), -ENOENT
 * (no Secret), -ENODATA (none of the keys), or another error with @err set. */
static int secret_get(const struct eg_tls_env *env, const char *name, const char *const *keys,
                      char **ret, size_t *ret_len, const char **ret_key, char *err, size_t errlen)
{
	struct eg_tls_secret_value v;
	int r = -ENODATA;

	for (; *keys; keys++) {
		memset(&v, 0, sizeof(v));
		r = env->secret(env->secret_data, env->ns, name, *keys, &v);
		if (r == -ENODATA)
			continue;
		if (r < 0)
			return r;
		r = eg_tls_secret_decode(&v, ret, ret_len);
		if (r < 0)
			return eg_tls_errf(err, errlen, r, "Secret %s/%s: %s: %s", env->ns, name,
			                   *keys, r == -EBADMSG ? "not base64" : strerror(-r));
		*ret_key = *keys;
		return 0;
	}
	return r;
}

static void free_secret(char *p, size_t len)
{
	if (p)
		OPENSSL_cleanse(p, len);
	free(p);
}

static int material_from_secret(struct eg_tls_material *m, const struct eg_tls_material_src *src,
                                const struct eg_tls_env *env, char *err, size_t errlen)
{
	static const char *const cert_keys[] = {"tls.crt", "cert", NULL};
	static const char *const key_keys[] = {"tls.key", "key", NULL};
	static const char *const ca_keys[] = {"ca.crt", "cacert", NULL};
	const char *name = src->credential_name, *ns = env->ns ? env->ns : "";
	char *crt = NULL, *key = NULL, *ca = NULL, cacert_name[320];
	size_t crt_len = 0, key_len = 0, ca_len = 0;
	const char *crt_key = NULL, *key_key = NULL, *ca_key = NULL, *ca_from = name;
	int r;

	if (!env->secret)
		return eg_tls_errf(err, errlen, -ENOENT,
		                   "credentialName %s: no Secret store to look it up in", name);
	r = secret_get(env, name, cert_keys, &crt, &crt_len, &crt_key, err, errlen);
	if (r == -ENOENT)
		return eg_tls_errf(err, errlen, r, "Secret %s/%s not found", ns, name);
	if (r == -ENODATA && src->need_cert) {
		r = eg_tls_errf(err, errlen, r, "Secret %s/%s: no tls.crt or cert key", ns, name);
		goto out_free;
	}
	if (r < 0 && r != -ENODATA)
		goto out_free;
	r = secret_get(env, name, key_keys, &key, &key_len, &key_key, err, errlen);
	if (r == -ENODATA && (src->need_cert || crt)) {
		r = eg_tls_errf(err, errlen, r, "Secret %s/%s: no tls.key or key key", ns, name);
		goto out_free;
	}
	if (r < 0 && r != -ENODATA)
		goto out_free;
	if (src->need_ca || src->want_ca) {
		r = secret_get(env, name, ca_keys, &ca, &ca_len, &ca_key, err, errlen);
		if (r == -ENODATA) {
			/* Istio's separate CA Secret: NAME-cacert */
			if ((size_t)snprintf(cacert_name, sizeof(cacert_name), "%s-cacert", name) >=
			    sizeof(cacert_name)) {
				r = eg_tls_errf(err, errlen, -ENAMETOOLONG,
				                "credentialName too long");
				goto out_free;
			}
			ca_from = cacert_name;
			r = secret_get(env, cacert_name, ca_keys, &ca, &ca_len, &ca_key, err,
			               errlen);
			if ((r == -ENOENT || r == -ENODATA) && src->need_ca) {
				r = eg_tls_errf(
				        err, errlen, r,
				        "MUTUAL requires a CA: Secret %s/%s has no ca.crt or "
				        "cacert, and %s %s/%s",
				        ns, name,
				        r == -ENOENT ? "there is no Secret" : "neither has Secret",
				        ns, cacert_name);
				goto out_free;
			}
		}
		if (r < 0 && r != -ENOENT && r != -ENODATA)
			goto out_free;
	}
	r = 0;
	if (crt && (r = chain_from_pem(crt, crt_len, &m->cert, &m->chain)) < 0) {
		r = eg_tls_errf(err, errlen, r, "Secret %s/%s: %s: no PEM certificate", ns, name,
		                crt_key);
		goto out_free;
	}
	if (key && !(m->key = key_from_pem(key, key_len))) {
		r = eg_tls_errf(err, errlen, -EBADMSG,
		                "Secret %s/%s: %s: no PEM private key (or an encrypted one)", ns,
		                name, key_key);
		goto out_free;
	}
	if (ca && (r = eg_tls_store_from_pem(ca, ca_len, &m->ca)) < 0) {
		r = eg_tls_errf(err, errlen, r, "Secret %s/%s: %s: no PEM certificate", ns, ca_from,
		                ca_key);
		goto out_free;
	}
out_free:
	free(crt);
	free_secret(key, key_len);
	free(ca);
	return r;
}

static int material_from_files(struct eg_tls_material *m, const struct eg_tls_material_src *src,
                               char *err, size_t errlen)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	if (src->need_cert && (!src->cert_file || !src->key_file))
		return eg_tls_errf(err, errlen, -EINVAL,
		                   "a certificate and a private key are required (credentialName, "
		                   "or the file paths)");
	if (src->need_ca && !src->ca_file)
		return eg_tls_errf(err, errlen, -EINVAL,
		                   "MUTUAL requires a CA (caCertificates or credentialName)");
	if (src->cert_file) {
		r = eg_tls_read_file(src->cert_file, &pem, &len);
		if (r < 0)
			return eg_tls_errf(err, errlen, r, "%s: %s", src->cert_file, strerror(-r));
		r = chain_from_pem(pem, len, &m->cert, &m->chain);
		free(pem);
		if (r < 0)
			return eg_tls_errf(err, errlen, r, "%s: no PEM certificate",
			                   src->cert_file);
	}
	if (src->key_file) {
		r = eg_tls_read_file(src->key_file, &pem, &len);
		if (r < 0)
			return eg_tls_errf(err, errlen, r, "%s: %s", src->key_file, strerror(-r));
		m->key = key_from_pem(pem, len);
		free_secret(pem, len);
		if (!m->key)
			return eg_tls_errf(err, errlen, -EBADMSG,
			                   "%s: no PEM private key (or an encrypted one)",
			                   src->key_file);
	}
	if (src->ca_file) {
		r = eg_tls_read_file(src->ca_file, &pem, &len);
		if (r < 0)
			return eg_tls_errf(err, errlen, r, "%s: %s", src->ca_file, strerror(-r));
		r = eg_tls_store_from_pem(pem, len, &m->ca);
		free(pem);
		if (r < 0)
			return eg_tls_errf(err, errlen, r, "%s: no PEM certificate", src->ca_file);
	}
	return 0;
}

int eg_tls_material_load(struct eg_tls_material *m, const struct eg_tls_material_src *src,
                         const struct eg_tls_env *env, char *err, size_t errlen)
{
	int r;

	memset(m, 0, sizeof(*m));
	if (src->credential_name && *src->credential_name)
		r = material_from_secret(m, src, env, err, errlen);
	else
		r = material_from_files(m, src, err, errlen);
	if (r >= 0 && m->cert && !m->key)
		r = eg_tls_errf(err, errlen, -EINVAL, "a certificate without its private key");
	if (r >= 0 && m->key && !m->cert)
		r = eg_tls_errf(err, errlen, -EINVAL, "a private key without its certificate");
	if (r >= 0 && m->cert && X509_check_private_key(m->cert, m->key) != 1) {
		ERR_clear_error();
		r = eg_tls_errf(err, errlen, -EBADMSG,
		                "private key does not match the certificate");
	}
	if (r < 0)
		eg_tls_material_done(m);
	return r;
}

/* ---- workload identities ---- */

struct eg_tls_id *eg_tls_id_ref(struct eg_tls_id *id)
{
	if (id)
		atomic_fetch_add_explicit(&id->refs, 1, memory_order_relaxed);
	return id;
}

struct eg_tls_id *eg_tls_id_unref(struct eg_tls_id *id)
{
	if (!id || atomic_fetch_sub_explicit(&id->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	X509_free(id->cert);
	EVP_PKEY_free(id->key);
	X509_free(id->ca);
	free(id);
	return NULL;
}

const char *eg_tls_id_spiffe(const struct eg_tls_id *id)
{
	return id->spiffe;
}

const char *eg_tls_id_trust_domain(const struct eg_tls_id *id)
{
	return id->td;
}

const struct x509_st *eg_tls_id_cert(const struct eg_tls_id *id)
{
	return id->cert;
}

const struct x509_st *eg_tls_id_ca(const struct eg_tls_id *id)
{
	return id->ca;
}

time_t eg_tls_id_not_before(const struct eg_tls_id *id)
{
	return id->not_before;
}

time_t eg_tls_id_not_after(const struct eg_tls_id *id)
{
	return id->not_after;
}

/* Takes ownership of the three objects (freed on failure too). */
static int id_new(X509 *cert, EVP_PKEY *key, X509 *ca, struct eg_tls_id **ret)
{
	struct eg_tls_id *id = calloc(1, sizeof(*id));
	struct eg_tls_spiffe_id parsed;
	int r;

	if (!id) {
		r = -ENOMEM;
		goto out_free;
	}
	id->cert = cert;
	id->key = key;
	id->ca = ca;
	atomic_init(&id->refs, 1);
	if (eg_tls_spiffe_from_x509(cert, id->spiffe, sizeof(id->spiffe)) < 0 ||
	    eg_tls_spiffe_parse(eg_str_c(id->spiffe), &parsed) < 0 ||
	    eg_tls_cert_validity(cert, &id->not_before, &id->not_after) < 0) {
		eg_tls_id_unref(id);
		return -EBADMSG;
	}
	memcpy(id->td, parsed.td, sizeof(id->td));
	*ret = id;
	return 0;
out_free:
	X509_free(cert);
	EVP_PKEY_free(key);
	X509_free(ca);
	return r;
}

int eg_tls_id_from_dir(const char *dir, struct eg_tls_id **ret)
{
	X509 *cert = NULL, *ca = NULL;
	EVP_PKEY *key = NULL;
	int r;

	r = eg_tls_identity_load(dir, &cert, &key, &ca);
	if (r < 0)
		return r;
	return id_new(cert, key, ca, ret);
}

int eg_tls_id_from_pem(const char *cert_pem, const char *key_pem, const char *ca_pem,
                       struct eg_tls_id **ret)
{
	STACK_OF(X509) *rest = NULL;
	X509 *cert = NULL, *ca = NULL;
	EVP_PKEY *key = NULL;
	BIO *b;
	int r;

	if (!cert_pem || !key_pem || !ca_pem)
		return -EINVAL;
	r = chain_from_pem(cert_pem, strlen(cert_pem), &cert, &rest);
	if (r < 0)
		return r;
	sk_X509_pop_free(rest, X509_free);
	key = key_from_pem(key_pem, strlen(key_pem));
	b = mem_bio(ca_pem, strlen(ca_pem));
	if (b)
		ca = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	ERR_clear_error();
	if (!key || !ca || X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		X509_free(cert);
		X509_free(ca);
		EVP_PKEY_free(key);
		return -EBADMSG;
	}
	return id_new(cert, key, ca, ret);
}

/* ---- rotation ---- */

struct file_sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool present;
};

struct eg_tls_rotator {
	pthread_mutex_t lock; /* guards cur */
	struct eg_tls_id *cur;
	_Atomic uint64_t gen;
	char *dir;
	const struct eg_tls_ca *ca;
	char *ns, *sa;
	uint64_t ttl;
	struct file_sig sig[3]; /* cert.pem, key.pem, ca.pem as last loaded */
};

static const char *const id_files[3] = {"cert.pem", "key.pem", "ca.pem"};

static void read_sigs(const char *dir, struct file_sig sig[3])
{
	char path[PATH_MAX];
	struct stat st;

	for (int i = 0; i < 3; i++) {
		memset(&sig[i], 0, sizeof(sig[i]));
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, id_files[i]) >=
		            sizeof(path) ||
		    stat(path, &st) < 0)
			continue;
		sig[i] = (struct file_sig){st.st_dev, st.st_ino, st.st_size, st.st_mtim, true};
	}
}

static bool sigs_equal(const struct file_sig a[3], const struct file_sig b[3])
{
	for (int i = 0; i < 3; i++)
		if (a[i].present != b[i].present || a[i].dev != b[i].dev || a[i].ino != b[i].ino ||
		    a[i].size != b[i].size || a[i].mtime.tv_sec != b[i].mtime.tv_sec ||
		    a[i].mtime.tv_nsec != b[i].mtime.tv_nsec)
			return false;
	return true;
}

int eg_tls_rotator_set(struct eg_tls_rotator *r, struct eg_tls_id *id)
{
	struct eg_tls_id *old;

	if (!r || !id)
		return -EINVAL;
	eg_tls_id_ref(id);
	pthread_mutex_lock(&r->lock);
	old = r->cur;
	r->cur = id;
	atomic_fetch_add_explicit(&r->gen, 1, memory_order_release);
	pthread_mutex_unlock(&r->lock);
	eg_tls_id_unref(old); /* contexts built on it hold their own references */
	return 0;
}

struct eg_tls_id *eg_tls_rotator_get(struct eg_tls_rotator *r)
{
	struct eg_tls_id *id;

	pthread_mutex_lock(&r->lock);
	id = eg_tls_id_ref(r->cur);
	pthread_mutex_unlock(&r->lock);
	return id;
}

uint64_t eg_tls_rotator_generation(const struct eg_tls_rotator *r)
{
	return atomic_load_explicit(&((struct eg_tls_rotator *)r)->gen, memory_order_acquire);
}

static int rotator_issue(struct eg_tls_rotator *r, time_t now, char *err, size_t errlen)
{
	struct eg_tls_cert c;
	struct eg_tls_id *id;
	int e;

	e = eg_tls_ca_issue(r->ca, r->ns, r->sa, r->ttl ? r->ttl : EG_TLS_CERT_TTL, now, &c);
	if (e < 0)
		return eg_tls_errf(err, errlen, e, "issuing a certificate for %s/%s: %s", r->ns,
		                   r->sa, strerror(-e));
	if (r->dir && (e = eg_tls_cert_write(&c, r->dir)) < 0) {
		eg_tls_cert_done(&c);
		return eg_tls_errf(err, errlen, e, "%s: writing the certificate: %s", r->dir,
		                   strerror(-e));
	}
	e = eg_tls_id_from_pem(c.cert_pem, c.key_pem, c.ca_pem, &id);
	eg_tls_cert_done(&c);
	if (e < 0)
		return eg_tls_errf(err, errlen, e, "loading the issued certificate: %s",
		                   strerror(-e));
	if (r->dir)
		read_sigs(r->dir, r->sig);
	eg_tls_rotator_set(r, id);
	eg_tls_id_unref(id);
	return 1;
}

static int rotator_reload(struct eg_tls_rotator *r, char *err, size_t errlen)
{
	struct file_sig now_sig[3];
	struct eg_tls_id *id;
	int e;

	read_sigs(r->dir, now_sig);
	if (r->cur && sigs_equal(now_sig, r->sig))
		return 0;
	e = eg_tls_id_from_dir(r->dir, &id);
	if (e < 0)
		return eg_tls_errf(err, errlen, e, "%s: loading the workload identity: %s", r->dir,
		                   e == -EBADMSG ? "unreadable PEM, or no SPIFFE id"
		                                 : strerror(-e));
	/* keep the signature we loaded from: a rename during the load shows up next time */
	memcpy(r->sig, now_sig, sizeof(r->sig));
	if (r->cur && X509_cmp(r->cur->cert, id->cert) == 0) {
		eg_tls_id_unref(id); /* touched, same certificate */
		return 0;
	}
	eg_tls_rotator_set(r, id);
	eg_tls_id_unref(id);
	return 1;
}

int eg_tls_rotator_refresh(struct eg_tls_rotator *r, time_t now, char *err, size_t errlen)
{
	if (!now)
		now = time(NULL);
	if (r->ca && (!r->cur || eg_tls_rotation_due(r->cur->not_before, r->cur->not_after, now)))
		return rotator_issue(r, now, err, errlen);
	if (r->dir)
		return rotator_reload(r, err, errlen);
	return 0;
}

time_t eg_tls_rotator_next_check(const struct eg_tls_rotator *r, time_t now)
{
	time_t t = r->dir ? now + 10 : 0;

	if (r->ca && r->cur) {
		time_t at = eg_tls_rotation_at(r->cur->not_before, r->cur->not_after);

		if (at < now)
			at = now;
		if (!t || at < t)
			t = at;
	} else if (r->ca) {
		t = now;
	}
	return t;
}

struct eg_tls_rotator *eg_tls_rotator_free(struct eg_tls_rotator *r)
{
	if (!r)
		return NULL;
	eg_tls_id_unref(r->cur);
	pthread_mutex_destroy(&r->lock);
	free(r->dir);
	free(r->ns);
	free(r->sa);
	free(r);
	return NULL;
}

int eg_tls_rotator_new(const struct eg_tls_rotator_conf *c, time_t now, struct eg_tls_rotator **ret,
                       char *err, size_t errlen)
{
	struct eg_tls_rotator *r;
	int e;

	if (c->ca && (!c->ns || !c->sa || eg_tls_spiffe_check_ns(c->ns) < 0 ||
	              eg_tls_spiffe_check_sa(c->sa) < 0))
		return eg_tls_errf(err, errlen, -EINVAL,
		                   "re-issuing needs a valid namespace and service account");
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	atomic_init(&r->gen, 0);
	r->ca = c->ca;
	r->ttl = c->ttl;
	if ((c->dir && !(r->dir = strdup(c->dir))) || (c->ns && !(r->ns = strdup(c->ns))) ||
	    (c->sa && !(r->sa = strdup(c->sa)))) {
		eg_tls_rotator_free(r);
		return -ENOMEM;
	}
	if (r->dir || r->ca) {
		/* files first: a proxy restarted mid-lifetime keeps the certificate it had */
		if (r->dir) {
			e = rotator_reload(r, err, errlen);
			if (e < 0 && !r->ca) {
				eg_tls_rotator_free(r);
				return e;
			}
		}
		e = eg_tls_rotator_refresh(r, now, err, errlen);
		if (e < 0) {
			eg_tls_rotator_free(r);
			return e;
		}
	}
	*ret = r;
	return 0;
}
