/* src/tls/ctx.c: OpenSSL contexts. A gateway listener's terminating chains (struct
 * eg_tls_server: one SSL_CTX per chain, picked by the ClientHello SNI) and an upstream's
 * client context (struct eg_tls_client: verification, ALPN, session cache).
 *
 * Contexts built on the mesh identity (ISTIO_MUTUAL) remember the rotator generation they
 * were made from; the first new connection after a rotation builds a fresh SSL_CTX under
 * the object's lock and swaps it in. An SSL holds a reference on the SSL_CTX it was made
 * from, so connections already open keep the old certificate until they end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/compiler.h"
#include "core/str.h"
#include "tls/tls-int.h"

/* What callbacks find on an SSL_CTX of ours (ex_data, freed with the SSL_CTX). */
struct ctx_extra {
	struct eg_tls_srv_chain *chain; /* server contexts */
	struct eg_tls_client *client;   /* client contexts */
	struct eg_tls_id *id;           /* the identity it was built with (a reference), or NULL */
};

struct eg_tls_srv_chain {
	unsigned index;
	enum eg_tls_mode mode;
	char **names;
	size_t nnames;
	char **sans;
	size_t nsans;
	const void *data;
	struct eg_tls_material mat;  /* SIMPLE, MUTUAL */
	struct eg_tls_rotator *mesh; /* ISTIO_MUTUAL */
	int min_version, max_version;
	char *ciphers;
	SSL_CTX *ctx; /* current; guarded by the server's lock */
	uint64_t gen; /* rotator generation of ctx */
};

struct eg_tls_server {
	atomic_uint refs;
	pthread_mutex_t lock;
	SSL_CTX *base; /* what SSL_new starts from: its ClientHello callback picks the chain */
	struct eg_tls_srv_chain **chains;
	size_t n;
};

struct sess_slot {
	char *key;
	SSL_SESSION *sess;
	uint64_t gen;
	uint64_t used;
};

struct eg_tls_client {
	atomic_uint refs;
	pthread_mutex_t lock; /* guards ctx, gen and the session slots */
	enum eg_tls_mode mode;
	char *sni;
	char **sans;
	size_t nsans;
	bool insecure;
	unsigned char *alpn; /* wire format */
	size_t alpn_len;
	struct eg_tls_material mat; /* MUTUAL client certificate */
	X509_STORE *trust;          /* SIMPLE/MUTUAL verification roots */
	struct eg_tls_rotator *mesh;
	SSL_CTX *ctx;
	uint64_t gen;
	uint64_t clock;
	struct sess_slot sess[EG_TLS_SESSIONS_MAX];
};

static int extra_idx = -1;
static pthread_once_t extra_once = PTHREAD_ONCE_INIT;

static void extra_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	struct ctx_extra *e = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (!e)
		return;
	eg_tls_id_unref(e->id);
	free(e);
}

static void extra_init(void)
{
	extra_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, extra_free);
}

static struct ctx_extra *ctx_extra(const SSL_CTX *ctx)
{
	return extra_idx < 0 ? NULL : SSL_CTX_get_ex_data(ctx, extra_idx);
}

/* Attaches @e (owned by @ctx from now on, even on failure). */
static int ctx_set_extra(SSL_CTX *ctx, struct ctx_extra *e)
{
	pthread_once(&extra_once, extra_init);
	if (extra_idx < 0 || SSL_CTX_set_ex_data(ctx, extra_idx, e) != 1) {
		extra_free(NULL, e, NULL, 0, 0, NULL);
		return -ENOMEM;
	}
	return 0;
}

static SSL_CTX *ctx_common(const SSL_METHOD *m)
{
	SSL_CTX *ctx = SSL_CTX_new(m);

	if (!ctx)
		return NULL;
	/* RELEASE_BUFFERS: an idle connection holds no 16 KiB record buffers. PARTIAL_WRITE and
	 * ACCEPT_MOVING_WRITE_BUFFER: io.c's send() may coalesce into a stack buffer and
	 * retry from another address with the same bytes. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
	                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* An EOF without close_notify is an end of stream, as for Envoy: HTTP framing catches
	 * a truncated body. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
	                                 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_read_ahead(ctx, 1);
	return ctx;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int dup_strv(const char *const *src, size_t n, char ***ret)
{
	char **v;

	*ret = NULL;
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(v[i] = strdup(src[i] ? src[i] : ""))) {
			free_strv(v, n);
			return -ENOMEM;
		}
	*ret = v;
	return 0;
}

/* ---- ALPN ---- */

/* Ours, in order of preference: the proxy speaks HTTP/1.1; sidecars offer the istio ones. */
static const char *const alpn_pref[] = {"http/1.1", "istio-http/1.1", "http/1.0", "istio-http/1.0",
                                        "istio"};

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)arg;
	for (size_t k = 0; k < sizeof(alpn_pref) / sizeof(alpn_pref[0]); k++) {
		size_t plen = strlen(alpn_pref[k]);

		for (unsigned i = 0; i < inlen;) {
			unsigned n = in[i];

			if (n == 0 || n > inlen - i - 1)
				break; /* malformed list: OpenSSL checked it, be safe anyway */
			if (n == plen && memcmp(in + i + 1, alpn_pref[k], n) == 0) {
				*out = in + i + 1;
				*outlen = (unsigned char)n;
				return SSL_TLSEXT_ERR_OK;
			}
			i += 1 + n;
		}
	}
	return SSL_TLSEXT_ERR_NOACK; /* go on without ALPN, as Envoy does */
}

static int alpn_wire(const char *const *protos, size_t n, unsigned char **ret, size_t *ret_len)
{
	size_t len = 0;
	unsigned char *w;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(protos[i]);

		if (l == 0 || l > 255)
			return -EINVAL;
		len += 1 + l;
	}
	if (len > 65535)
		return -EINVAL;
	w = malloc(len ? len : 1);
	if (!w)
		return -ENOMEM;
	len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(protos[i]);

		w[len++] = (unsigned char)l;
		memcpy(w + len, protos[i], l);
		len += l;
	}
	*ret = w;
	*ret_len = len;
	return 0;
}

/* ---- peer verification (both sides) ---- */

static bool is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static bool cert_has_uri(X509 *x, const char *uri)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t ulen = strlen(uri);
	bool found = false;

	for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !found; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type != GEN_URI)
			continue;
		found = (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier) == ulen &&
		        memcmp(ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier), uri, ulen) ==
		                0;
	}
	GENERAL_NAMES_free(names);
	return found;
}

/* subjectAltNames as Envoy matches them: a URI exactly, an IP address, a DNS name (the
 * certificate's wildcards honoured). */
static bool cert_matches_sans(X509 *x, char *const *sans, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *s = sans[i];

		if (strstr(s, "://")) {
			if (cert_has_uri(x, s))
				return true;
		} else if (is_ip(s)) {
			if (X509_check_ip_asc(x, s, 0) == 1)
				return true;
		} else if (X509_check_host(x, s, strlen(s), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
		                           NULL) == 1) {
			return true;
		}
	}
	return false;
}

static bool sans_have_spiffe(char *const *sans, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(sans[i], "spiffe://", 9) == 0)
			return true;
	return false;
}

static int refuse(X509_STORE_CTX *x, struct eg_tls_conn *tc, int x509_err)
{
	X509_STORE_CTX_set_error(x, x509_err);
	if (tc)
		tc->peer_refused = true;
	return 0;
}

/* The peer's certificate: the chain (and, for a client, the hostname set on the SSL), then
 * the identity the mode asks for. Records the reason or the peer's SPIFFE id on @tc. */
static int verify_peer(X509_STORE_CTX *x, enum eg_tls_mode mode, const struct eg_tls_id *id,
                       char *const *sans, size_t nsans)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct eg_tls_conn *tc = ssl ? SSL_get_app_data(ssl) : NULL;
	char spiffe[EG_TLS_SPIFFE_MAX + 1];
	struct eg_tls_spiffe_id parsed;
	X509 *peer;
	ssize_t n;

	if (X509_verify_cert(x) != 1) {
		if (tc)
			eg_tls_conn_reason(
			        tc, "certificate verify failed: %s",
			        X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
		return refuse(x, tc, X509_STORE_CTX_get_error(x));
	}
	peer = X509_STORE_CTX_get0_cert(x);
	n = eg_tls_spiffe_from_x509(peer, spiffe, sizeof(spiffe));
	if (mode == EG_TLS_ISTIO_MUTUAL) {
		if (n < 0) {
			if (tc)
				eg_tls_conn_reason(tc, "certificate verify failed: %s",
				                   n == -ENOENT
				                           ? "peer certificate has no SPIFFE id"
				                           : "peer certificate has a malformed or "
				                             "several SPIFFE ids");
			return refuse(x, tc, X509_V_ERR_APPLICATION_VERIFICATION);
		}
		if (eg_tls_spiffe_parse(eg_str_c(spiffe), &parsed) < 0 || !id ||
		    strcmp(parsed.td, id->td) != 0) {
			if (tc)
				eg_tls_conn_reason(
				        tc,
				        "certificate verify failed: peer SPIFFE id %s is from "
				        "another trust domain",
				        spiffe);
			return refuse(x, tc, X509_V_ERR_APPLICATION_VERIFICATION);
		}
		if (sans_have_spiffe(sans, nsans) && !cert_matches_sans(peer, sans, nsans)) {
			if (tc)
				eg_tls_conn_reason(
				        tc,
				        "certificate verify failed: peer SPIFFE id %s is not "
				        "the expected %s%s",
				        spiffe, sans[0],
				        nsans > 1 ? " (or the others listed)" : "");
			return refuse(x, tc, X509_V_ERR_APPLICATION_VERIFICATION);
		}
	} else if (nsans && !cert_matches_sans(peer, sans, nsans)) {
		if (tc)
			eg_tls_conn_reason(
			        tc, "certificate verify failed: no subjectAltName matches %s%s",
			        sans[0], nsans > 1 ? " (or the others listed)" : "");
		return refuse(x, tc, X509_V_ERR_APPLICATION_VERIFICATION);
	}
	if (tc && n > 0)
		eg_tls_conn_set_peer(tc, spiffe);
	return 1;
}

static int server_verify_cb(X509_STORE_CTX *x, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct ctx_extra *e = ssl ? ctx_extra(SSL_get_SSL_CTX(ssl)) : NULL;

	(void)arg;
	if (!e || !e->chain)
		return refuse(x, NULL, X509_V_ERR_APPLICATION_VERIFICATION);
	return verify_peer(x, e->chain->mode, e->id, e->chain->sans, e->chain->nsans);
}

static int client_verify_cb(X509_STORE_CTX *x, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct ctx_extra *e = ssl ? ctx_extra(SSL_get_SSL_CTX(ssl)) : NULL;

	(void)arg;
	if (!e || !e->client)
		return refuse(x, NULL, X509_V_ERR_APPLICATION_VERIFICATION);
	return verify_peer(x, e->client->mode, e->id, e->client->sans, e->client->nsans);
}

void eg_tls_conn_handshake_done(struct eg_tls_conn *tc)
{
	char spiffe[EG_TLS_SPIFFE_MAX + 1];
	X509 *peer;

	/* a resumed session skips verification: its certificate is still in the session */
	if (tc->peer_id || !(peer = SSL_get0_peer_certificate(tc->ssl)))
		return;
	if (eg_tls_spiffe_from_x509(peer, spiffe, sizeof(spiffe)) > 0)
		eg_tls_conn_set_peer(tc, spiffe);
}

/* ---- server ---- */

static X509_STORE *store_of(X509 *ca)
{
	X509_STORE *st = X509_STORE_new();

	if (st && X509_STORE_add_cert(st, ca) != 1) {
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

static int ssl_errf(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return eg_tls_errf(err, errlen, -EINVAL, "%s: %s", what, e ? buf : "OpenSSL failed");
}

static SSL_CTX *chain_ctx_build(struct eg_tls_srv_chain *ch, char *err, size_t errlen)
{
	struct ctx_extra *e;
	struct eg_tls_id *id = NULL;
	X509_STORE *verify = NULL;
	SSL_CTX *ctx;
	X509 *cert;
	EVP_PKEY *key;
	char sid[32];

	if (ch->mesh) {
		id = eg_tls_rotator_get(ch->mesh);
		if (!id) {
			eg_tls_errf(err, errlen, -ENOENT,
			            "ISTIO_MUTUAL: the proxy has no workload certificate yet");
			return NULL;
		}
		cert = id->cert;
		key = id->key;
	} else {
		cert = ch->mat.cert;
		key = ch->mat.key;
	}
	ctx = ctx_common(TLS_server_method());
	e = calloc(1, sizeof(*e));
	if (!ctx || !e) {
		free(e);
		eg_tls_id_unref(id);
		eg_tls_errf(err, errlen, -ENOMEM, "out of memory");
		goto out_free;
	}
	e->chain = ch;
	e->id = id;
	if (ctx_set_extra(ctx, e) < 0) {
		eg_tls_errf(err, errlen, -ENOMEM, "out of memory");
		goto out_free;
	}
	if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    (ch->mat.chain && sk_X509_num(ch->mat.chain) > 0 &&
	     SSL_CTX_set1_chain(ctx, ch->mat.chain) != 1)) {
		ssl_errf(err, errlen, "certificate");
		goto out_free;
	}
	if (SSL_CTX_set_min_proto_version(ctx, ch->min_version) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, ch->max_version) != 1) {
		ssl_errf(err, errlen, "protocol versions");
		goto out_free;
	}
	if (ch->ciphers && SSL_CTX_set_cipher_list(ctx, ch->ciphers) != 1) {
		ssl_errf(err, errlen, "cipherSuites");
		goto out_free;
	}
	if (ch->mode != EG_TLS_SIMPLE) {
		verify = id ? store_of(id->ca) : ch->mat.ca;
		if (!verify || (!id && X509_STORE_up_ref(verify) != 1)) {
			eg_tls_errf(err, errlen, -ENOMEM, "out of memory");
			goto out_free;
		}
		SSL_CTX_set0_verify_cert_store(ctx, verify); /* owns it now */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		SSL_CTX_set_cert_verify_callback(ctx, server_verify_cb, NULL);
		if (id)
			(void)SSL_CTX_add_client_CA(ctx, id->ca); /* a hint for the client */
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	/* sessions resume only on the chain (and certificate) that made them */
	snprintf(sid, sizeof(sid), "egressd/%u", ch->index);
	if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)sid, strlen(sid)) != 1) {
		ssl_errf(err, errlen, "session id context");
		goto out_free;
	}
	return ctx;
out_free:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

/* The chain's current SSL_CTX with a new reference (rebuilt after a rotation), or NULL. */
static SSL_CTX *chain_ctx_get(struct eg_tls_server *s, struct eg_tls_srv_chain *ch, char *err,
                              size_t errlen)
{
	SSL_CTX *ctx;

	pthread_mutex_lock(&s->lock);
	if (ch->mesh) {
		uint64_t g = eg_tls_rotator_generation(ch->mesh);

		if (g != ch->gen || !ch->ctx) {
			SSL_CTX *fresh = chain_ctx_build(ch, err, errlen);

			/* a failed rebuild keeps serving the certificate we have */
			if (fresh) {
				SSL_CTX_free(ch->ctx);
				ch->ctx = fresh;
				ch->gen = g;
			}
		}
	}
	ctx = ch->ctx;
	if (ctx)
		SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&s->lock);
	return ctx;
}

/* The SNI of the ClientHello, lowercased into @out ("" without one). 0 or -EBADMSG. */
static int hello_sni(SSL *ssl, char *out, size_t cap)
{
	const unsigned char *p;
	size_t len, list, n;

	out[0] = '\0';
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len))
		return 0;
	if (len < 5)
		return -EBADMSG;
	list = (size_t)p[0] << 8 | p[1];
	n = (size_t)p[3] << 8 | p[4];
	if (list != len - 2 || p[2] != TLSEXT_NAMETYPE_host_name || n == 0 || n > list - 3 ||
	    n >= cap)
		return -EBADMSG;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = p[5 + i];

		if (c <= 0x20 || c >= 0x7f)
			return -EBADMSG;
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	out[n] = '\0';
	return 0;
}

static int server_hello_cb(SSL *ssl, int *al, void *arg)
{
	struct eg_tls_server *s = arg;
	struct eg_tls_conn *tc = SSL_get_app_data(ssl);
	char sni[EG_TLS_SNI_MAX + 1], why[EG_TLS_REASON_MAX] = "";
	struct eg_tls_srv_chain *ch;
	SSL_CTX *ctx;
	int idx;

	if (!tc) {
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	idx = tc->forced_chain;
	if (idx < 0) {
		if (hello_sni(ssl, sni, sizeof(sni)) < 0) {
			eg_tls_conn_reason(tc, "malformed server_name in the ClientHello");
			*al = SSL_AD_DECODE_ERROR;
			return SSL_CLIENT_HELLO_ERROR;
		}
		idx = eg_tls_server_match(s, sni);
		if (idx < 0) {
			eg_tls_conn_reason(tc, "no TLS server for SNI \"%s\"", sni);
			*al = SSL_AD_UNRECOGNIZED_NAME;
			return SSL_CLIENT_HELLO_ERROR;
		}
	}
	if ((size_t)idx >= s->n) {
		eg_tls_conn_reason(tc, "no TLS server chain %d", idx);
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	ch = s->chains[idx];
	ctx = chain_ctx_get(s, ch, why, sizeof(why));
	if (!ctx) {
		eg_tls_conn_reason(tc, "%s", why);
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	/* the chain's certificate, verify store and callbacks come with its SSL_CTX; what
	 * SSL_new copied from the base (versions, verify mode, options) is set here */
	SSL_set_SSL_CTX(ssl, ctx);
	SSL_CTX_free(ctx);
	SSL_set_options(ssl, SSL_CTX_get_options(ctx));
	SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), NULL);
	if (SSL_set_min_proto_version(ssl, ch->min_version) != 1 ||
	    SSL_set_max_proto_version(ssl, ch->max_version) != 1 ||
	    (ch->ciphers && SSL_set_cipher_list(ssl, ch->ciphers) != 1)) {
		eg_tls_conn_reason(tc, "cannot apply the chain's TLS settings");
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	tc->chain = ch;
	return SSL_CLIENT_HELLO_SUCCESS;
}

int eg_tls_server_new(struct eg_tls_server **ret)
{
	struct eg_tls_server *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->lock, NULL);
	s->base = ctx_common(TLS_server_method());
	if (!s->base) {
		eg_tls_server_unref(s);
		return -ENOMEM;
	}
	/* chains may allow older versions: the base must not refuse them before the callback */
	SSL_CTX_set_min_proto_version(s->base, TLS1_VERSION);
	SSL_CTX_set_client_hello_cb(s->base, server_hello_cb, s);
	SSL_CTX_set_alpn_select_cb(s->base, alpn_select, NULL);
	*ret = s;
	return 0;
}

static void chain_free(struct eg_tls_srv_chain *ch)
{
	if (!ch)
		return;
	free_strv(ch->names, ch->nnames);
	free_strv(ch->sans, ch->nsans);
	eg_tls_material_done(&ch->mat);
	free(ch->ciphers);
	SSL_CTX_free(ch->ctx);
	free(ch);
}

struct eg_tls_server *eg_tls_server_ref(struct eg_tls_server *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

struct eg_tls_server *eg_tls_server_unref(struct eg_tls_server *s)
{
	if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		chain_free(s->chains[i]);
	free(s->chains);
	SSL_CTX_free(s->base);
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

static int join_ciphers(const char *const *v, size_t n, char **ret)
{
	size_t len = 1;
	char *s;

	*ret = NULL;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	s = malloc(len);
	if (!s)
		return -ENOMEM;
	s[0] = '\0';
	len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]);

		if (i)
			s[len++] = ':';
		memcpy(s + len, v[i], l);
		len += l;
		s[len] = '\0';
	}
	*ret = s;
	return 0;
}

static int versions(const char *min, const char *max, int *ret_min, int *ret_max, char *err,
                    size_t errlen)
{
	int lo = eg_tls_version_parse(min, TLS1_2_VERSION);
	int hi = eg_tls_version_parse(max, TLS1_3_VERSION);

	if (lo < 0)
		return eg_tls_errf(err, errlen, -EINVAL, "minProtocolVersion %s: unknown", min);
	if (hi < 0)
		return eg_tls_errf(err, errlen, -EINVAL, "maxProtocolVersion %s: unknown", max);
	if (lo > hi)
		return eg_tls_errf(err, errlen, -EINVAL,
		                   "minProtocolVersion %s is above maxProtocolVersion %s", min,
		                   max);
	*ret_min = lo;
	*ret_max = hi;
	return 0;
}

int eg_tls_server_add(struct eg_tls_server *s, const struct eg_tls_server_conf *c,
                      const struct eg_tls_env *env, char *err, size_t errlen)
{
	struct eg_tls_srv_chain *ch, **v;
	struct eg_tls_material_src src = {0};
	int r;

	if (c->mode != EG_TLS_SIMPLE && c->mode != EG_TLS_MUTUAL && c->mode != EG_TLS_ISTIO_MUTUAL)
		return eg_tls_errf(err, errlen, -EINVAL, "unknown TLS mode %d", (int)c->mode);
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->index = (unsigned)s->n;
	ch->mode = c->mode;
	ch->data = c->data;
	if ((r = versions(c->min_version, c->max_version, &ch->min_version, &ch->max_version, err,
	                  errlen)) < 0)
		goto out_free;
	if (dup_strv(c->server_names, c->nserver_names, &ch->names) < 0 ||
	    dup_strv(c->subject_alt_names, c->nsubject_alt_names, &ch->sans) < 0 ||
	    join_ciphers(c->cipher_suites, c->ncipher_suites, &ch->ciphers) < 0) {
		r = -ENOMEM;
		goto out_free;
	}
	ch->nnames = c->nserver_names;
	ch->nsans = c->nsubject_alt_names;
	for (size_t i = 0; i < ch->nnames; i++)
		for (char *p = ch->names[i]; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (c->mode == EG_TLS_ISTIO_MUTUAL) {
		if (!env || !env->mesh) {
			r = eg_tls_errf(err, errlen, -EINVAL,
			                "ISTIO_MUTUAL needs the proxy's workload identity");
			goto out_free;
		}
		ch->mesh = env->mesh;
		ch->gen = eg_tls_rotator_generation(ch->mesh);
	} else {
		static const struct eg_tls_env none;

		src.credential_name = c->credential_name;
		src.cert_file = c->server_certificate;
		src.key_file = c->private_key;
		src.ca_file = c->mode == EG_TLS_MUTUAL ? c->ca_certificates : NULL;
		src.need_cert = true;
		src.need_ca = c->mode == EG_TLS_MUTUAL;
		r = eg_tls_material_load(&ch->mat, &src, env ? env : &none, err, errlen);
		if (r < 0)
			goto out_free;
	}
	ch->ctx = chain_ctx_build(ch, err, errlen);
	if (!ch->ctx) {
		r = -EINVAL;
		goto out_free;
	}
	v = realloc(s->chains, (s->n + 1) * sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out_free;
	}
	s->chains = v;
	s->chains[s->n++] = ch;
	return 0;
out_free:
	chain_free(ch);
	return r;
}

int eg_tls_server_match(const struct eg_tls_server *s, const char *sni)
{
	size_t len = sni ? strlen(sni) : 0;

	if (len) {
		for (size_t i = 0; i < s->n; i++)
			for (size_t k = 0; k < s->chains[i]->nnames; k++)
				if (strcasecmp(s->chains[i]->names[k], sni) == 0)
					return (int)i;
		/* the longest wildcard suffix: "*.b.example.com" before "*.example.com" */
		for (const char *dot = strchr(sni, '.'); dot; dot = strchr(dot + 1, '.'))
			for (size_t i = 0; i < s->n; i++)
				for (size_t k = 0; k < s->chains[i]->nnames; k++) {
					const char *n = s->chains[i]->names[k];

					if (n[0] == '*' && n[1] == '.' &&
					    strcasecmp(n + 1, dot) == 0)
						return (int)i;
				}
	}
	for (size_t i = 0; i < s->n; i++) {
		if (!s->chains[i]->nnames)
			return (int)i;
		for (size_t k = 0; k < s->chains[i]->nnames; k++)
			if (strcmp(s->chains[i]->names[k], "*") == 0)
				return (int)i;
	}
	return -ENOENT;
}

const void *eg_tls_chain_data(const struct eg_tls_srv_chain *ch)
{
	return ch->data;
}

SSL *eg_tls_server_ssl_new(struct eg_tls_server *s)
{
	return SSL_new(s->base);
}

/* ---- client ---- */

static void sessions_flush(struct eg_tls_client *c)
{
	for (size_t i = 0; i < EG_TLS_SESSIONS_MAX; i++) {
		SSL_SESSION_free(c->sess[i].sess);
		free(c->sess[i].key);
		memset(&c->sess[i], 0, sizeof(c->sess[i]));
	}
}

static int client_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct eg_tls_conn *tc = SSL_get_app_data(ssl);
	struct eg_tls_client *c = tc ? tc->cli : NULL;
	struct sess_slot *slot = NULL;
	char *key;

	if (!c || !tc->sess_key)
		return 0;
	key = strdup(tc->sess_key);
	if (!key)
		return 0;
	pthread_mutex_lock(&c->lock);
	if (tc->cli_gen != c->gen) {
		pthread_mutex_unlock(&c->lock);
		free(key);
		return 0; /* made with the previous identity */
	}
	for (size_t i = 0; i < EG_TLS_SESSIONS_MAX && !slot; i++)
		if (c->sess[i].key && strcmp(c->sess[i].key, key) == 0)
			slot = &c->sess[i];
	for (size_t i = 0; i < EG_TLS_SESSIONS_MAX && !slot; i++)
		if (!c->sess[i].key)
			slot = &c->sess[i];
	if (!slot) { /* full: replace the least recently used name */
		slot = &c->sess[0];
		for (size_t i = 1; i < EG_TLS_SESSIONS_MAX; i++)
			if (c->sess[i].used < slot->used)
				slot = &c->sess[i];
	}
	SSL_SESSION_free(slot->sess);
	free(slot->key);
	slot->key = key;
	slot->sess = sess; /* the reference OpenSSL hands us by our returning 1 */
	slot->gen = c->gen;
	slot->used = ++c->clock;
	pthread_mutex_unlock(&c->lock);
	return 1;
}

static SSL_CTX *client_ctx_build(struct eg_tls_client *c, char *err, size_t errlen)
{
	struct ctx_extra *e;
	struct eg_tls_id *id = NULL;
	X509_STORE *verify = NULL;
	SSL_CTX *ctx;

	if (c->mesh) {
		id = eg_tls_rotator_get(c->mesh);
		if (!id) {
			eg_tls_errf(err, errlen, -ENOENT,
			            "ISTIO_MUTUAL: the proxy has no workload certificate yet");
			return NULL;
		}
	}
	ctx = ctx_common(TLS_client_method());
	e = calloc(1, sizeof(*e));
	if (!ctx || !e) {
		free(e);
		eg_tls_id_unref(id);
		eg_tls_errf(err, errlen, -ENOMEM, "out of memory");
		goto out_free;
	}
	e->client = c;
	e->id = id;
	if (ctx_set_extra(ctx, e) < 0) {
		eg_tls_errf(err, errlen, -ENOMEM, "out of memory");
		goto out_free;
	}
	/* origination and mesh: TLS 1.2 at least */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_session_cache_mode(ctx,
	                               SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, client_new_session);
	if (c->alpn_len && SSL_CTX_set_alpn_protos(ctx, c->alpn, (unsigned)c->alpn_len) != 0) {
		ssl_errf(err, errlen, "ALPN");
		goto out_free;
	}
	if (id || c->mat.cert) {
		X509 *cert = id ? id->cert : c->mat.cert;
		EVP_PKEY *key = id ? id->key : c->mat.key;

		if (SSL_CTX_use_certificate(ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
		    (!id && c->mat.chain && sk_X509_num(c->mat.chain) > 0 &&
		     SSL_CTX_set1_chain(ctx, c->mat.chain) != 1)) {
			ssl_errf(err, errlen, "client certificate");
			goto out_free;
		}
	}
	if (c->insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	verify = id ? store_of(id->ca) : c->trust;
	if (!verify || (!id && X509_STORE_up_ref(verify) != 1)) {
		eg_tls_errf(err, errlen, -ENOMEM, "out of memory");
		goto out_free;
	}
	SSL_CTX_set0_verify_cert_store(ctx, verify);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, client_verify_cb, NULL);
	return ctx;
out_free:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

struct eg_tls_client *eg_tls_client_ref(struct eg_tls_client *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

struct eg_tls_client *eg_tls_client_unref(struct eg_tls_client *c)
{
	if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	sessions_flush(c);
	SSL_CTX_free(c->ctx);
	X509_STORE_free(c->trust);
	eg_tls_material_done(&c->mat);
	free_strv(c->sans, c->nsans);
	free(c->alpn);
	free(c->sni);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return NULL;
}

int eg_tls_client_new(const struct eg_tls_client_conf *conf, const struct eg_tls_env *env,
                      struct eg_tls_client **ret, char *err, size_t errlen)
{
	static const char *const mesh_alpn[] = {"istio-http/1.1", "istio", "http/1.1"};
	static const struct eg_tls_env none;
	struct eg_tls_client *c;
	int r;

	if (conf->mode != EG_TLS_SIMPLE && conf->mode != EG_TLS_MUTUAL &&
	    conf->mode != EG_TLS_ISTIO_MUTUAL)
		return eg_tls_errf(err, errlen, -EINVAL, "unknown TLS mode %d", (int)conf->mode);
	if (!env)
		env = &none;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	atomic_init(&c->refs, 1);
	pthread_mutex_init(&c->lock, NULL);
	c->mode = conf->mode;
	c->insecure = conf->insecure_skip_verify && conf->mode != EG_TLS_ISTIO_MUTUAL;
	c->nsans = conf->nsubject_alt_names;
	if ((conf->sni && *conf->sni && !(c->sni = strdup(conf->sni))) ||
	    dup_strv(conf->subject_alt_names, conf->nsubject_alt_names, &c->sans) < 0) {
		r = -ENOMEM;
		goto out_free;
	}
	if (conf->nalpn)
		r = alpn_wire(conf->alpn, conf->nalpn, &c->alpn, &c->alpn_len);
	else if (conf->mode == EG_TLS_ISTIO_MUTUAL)
		r = alpn_wire(mesh_alpn, 3, &c->alpn, &c->alpn_len);
	else
		r = 0;
	if (r < 0) {
		r = eg_tls_errf(err, errlen, r, "ALPN: a protocol name of 1 to 255 bytes expected");
		goto out_free;
	}
	if (conf->mode == EG_TLS_ISTIO_MUTUAL) {
		if (!env->mesh) {
			r = eg_tls_errf(err, errlen, -EINVAL,
			                "ISTIO_MUTUAL needs the proxy's workload identity");
			goto out_free;
		}
		c->mesh = env->mesh;
		c->gen = eg_tls_rotator_generation(c->mesh);
	} else {
		struct eg_tls_material_src src = {
		        .credential_name = conf->credential_name,
		        .cert_file = conf->client_certificate,
		        .key_file = conf->private_key,
		        .ca_file = conf->ca_certificates,
		        .need_cert = conf->mode == EG_TLS_MUTUAL,
		        .want_ca = true,
		};

		r = eg_tls_material_load(&c->mat, &src, env, err, errlen);
		if (r < 0)
			goto out_free;
		if (c->mat.ca) {
			c->trust = c->mat.ca; /* DR caCertificates: these roots only */
			c->mat.ca = NULL;
		} else if (c->insecure) {
			/* nothing to verify with */
		} else if (env->trust) {
			if (X509_STORE_up_ref(env->trust) != 1) {
				r = -ENOMEM;
				goto out_free;
			}
			c->trust = env->trust;
		} else {
			r = eg_tls_trust_load(env->system_ca_file, env->extra_ca_file, &c->trust,
			                      err, errlen);
			if (r < 0)
				goto out_free;
		}
	}
	c->ctx = client_ctx_build(c, err, errlen);
	if (!c->ctx) {
		r = -EINVAL;
		goto out_free;
	}
	*ret = c;
	return 0;
out_free:
	eg_tls_client_unref(c);
	return r;
}

unsigned eg_tls_client_sessions(struct eg_tls_client *c)
{
	unsigned n = 0;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < EG_TLS_SESSIONS_MAX; i++)
		n += c->sess[i].sess != NULL;
	pthread_mutex_unlock(&c->lock);
	return n;
}

SSL *eg_tls_client_ssl_new(struct eg_tls_client *c, struct eg_tls_conn *tc, const char *sni,
                           const char *verify_name)
{
	char why[EG_TLS_REASON_MAX] = "";
	SSL_SESSION *resume = NULL;
	SSL *ssl = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->mesh) {
		uint64_t g = eg_tls_rotator_generation(c->mesh);

		if (g != c->gen) {
			SSL_CTX *fresh = client_ctx_build(c, why, sizeof(why));

			if (fresh) {
				SSL_CTX_free(c->ctx);
				c->ctx = fresh;
				c->gen = g;
				sessions_flush(c); /* resuming would present the old certificate */
			}
		}
	}
	if (c->ctx)
		ssl = SSL_new(c->ctx);
	if (ssl && tc->sess_key) {
		for (size_t i = 0; i < EG_TLS_SESSIONS_MAX; i++) {
			struct sess_slot *s = &c->sess[i];

			if (!s->key || strcmp(s->key, tc->sess_key) != 0)
				continue;
			if (s->gen == c->gen && SSL_SESSION_is_resumable(s->sess)) {
				resume = s->sess;
				s->used = ++c->clock;
				if (SSL_SESSION_get_protocol_version(resume) >= TLS1_3_VERSION) {
					/* TLS 1.3 tickets are for one use (RFC 8446 C.4) */
					free(s->key);
					memset(s, 0, sizeof(*s));
				} else {
					SSL_SESSION_up_ref(resume);
				}
			}
			break;
		}
	}
	tc->cli_gen = c->gen;
	pthread_mutex_unlock(&c->lock);
	if (!ssl) {
		eg_tls_conn_reason(tc, "%s", why[0] ? why : "cannot create the TLS connection");
		SSL_SESSION_free(resume);
		return NULL;
	}
	if (resume) {
		(void)SSL_set_session(ssl, resume); /* takes its own reference */
		SSL_SESSION_free(resume);
	}
	if (sni && *sni && !is_ip(sni) && SSL_set_tlsext_host_name(ssl, sni) != 1)
		goto out_free;
	/* no subjectAltNames: the certificate must be valid for the name we asked for */
	if (!c->insecure && c->mode != EG_TLS_ISTIO_MUTUAL && !c->nsans && verify_name &&
	    *verify_name) {
		X509_VERIFY_PARAM *p = SSL_get0_param(ssl);

		if (is_ip(verify_name) ? X509_VERIFY_PARAM_set1_ip_asc(p, verify_name) != 1
		                       : SSL_set1_host(ssl, verify_name) != 1)
			goto out_free;
	}
	return ssl;
out_free:
	eg_tls_conn_reason(tc, "cannot use the server name \"%s\"", verify_name ? verify_name : "");
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

const char *eg_tls_client_sni(const struct eg_tls_client *c)
{
	return c->sni;
}
