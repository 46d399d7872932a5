/* src/tls/tls-int.h: what certs.c, ctx.c and io.c share. Private to src/tls. */
#ifndef EG_TLS_TLS_INT_H
#define EG_TLS_TLS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls/tls.h"

struct eg_tls_id {
	atomic_uint refs;
	X509 *cert;
	EVP_PKEY *key;
	X509 *ca;
	time_t not_before, not_after;
	char spiffe[EG_TLS_SPIFFE_MAX + 1];
	char td[EG_TLS_TD_MAX + 1];
};

/* Certificate material a context is built from. Every field may be NULL. */
struct eg_tls_material {
	X509 *cert;             /* the leaf */
	STACK_OF(X509) * chain; /* intermediates that followed it */
	EVP_PKEY *key;
	X509_STORE *ca; /* verification roots */
};

/* Where a material comes from. */
struct eg_tls_material_src {
	const char *credential_name; /* Secret in env->ns; wins over the files */
	const char *cert_file;
	const char *key_file;
	const char *ca_file;
	bool need_cert; /* certificate + key required */
	bool need_ca;   /* a CA required (a server's MUTUAL) */
	bool want_ca;   /* take a CA when one is there (a client's credentialName) */
};

/* Loads @src into @m (fields set only when found). 0, or -errno with @err. */
int eg_tls_material_load(struct eg_tls_material *m, const struct eg_tls_material_src *src,
                         const struct eg_tls_env *env, char *err, size_t errlen);
void eg_tls_material_done(struct eg_tls_material *m);

/* Parses a PEM bundle into a new store (-EBADMSG when it holds no certificate). */
int eg_tls_store_from_pem(const char *pem, size_t len, X509_STORE **ret);
/* Reads a whole file of at most EG_TLS_PEM_MAX bytes (NUL-terminated). 0 or -errno. */
int eg_tls_read_file(const char *path, char **ret, size_t *ret_len);

/* "TLS_AUTO"/NULL -> @dflt, "TLSV1_0".."TLSV1_3" -> TLS1_VERSION.., else -EINVAL. */
int eg_tls_version_parse(const char *s, int dflt);

/* Bounded printf into @err (NULL/0 allowed); returns @r for one-line error returns. */
int eg_tls_errf(char *err, size_t errlen, int r, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* ---- the per-connection state (io.c), reached from the verify and session callbacks ---- */

struct eg_tls_srv_chain;

struct eg_tls_conn {
	SSL *ssl;
	int fd;
	int sock_err; /* errno of the last failed recv/send */
	bool eof;     /* recv returned 0 */
	bool done;    /* handshake finished */
	bool shut_sent;
	bool failed;
	bool is_server;
	bool peer_refused; /* our verification refused the peer */
	int forced_chain;
	struct eg_tls_server *srv;
	const struct eg_tls_srv_chain *chain;
	struct eg_tls_client *cli;
	uint64_t cli_gen; /* generation of the client context this SSL came from */
	char *sess_key;   /* client: the session cache key (the SNI or host) */
	char *preload;
	size_t preload_len, preload_off;
	size_t wpend; /* bytes of the SSL_write that last asked to be retried */
	char *peer_id;
	char alpn[32]; /* the selected ALPN protocol, once asked for */
	char reason[EG_TLS_REASON_MAX];
};

/* Sets the reason once (the first failure is the cause). */
void eg_tls_conn_reason(struct eg_tls_conn *tc, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Records the peer's SPIFFE id (copied). */
void eg_tls_conn_set_peer(struct eg_tls_conn *tc, const char *id);

/* ctx.c: the SSL for a new connection (a reference on the context is taken by the caller). */
SSL *eg_tls_server_ssl_new(struct eg_tls_server *s);
SSL *eg_tls_client_ssl_new(struct eg_tls_client *c, struct eg_tls_conn *tc, const char *sni,
                           const char *verify_name);
/* ctx.c: a server chain's conf->data. */
const void *eg_tls_chain_data(const struct eg_tls_srv_chain *ch);
/* ctx.c: the context's own SNI (NULL: per connection). */
const char *eg_tls_client_sni(const struct eg_tls_client *c);
/* ctx.c: called by io.c after the handshake (the peer id of a resumed session). */
void eg_tls_conn_handshake_done(struct eg_tls_conn *tc);

#endif /* EG_TLS_TLS_INT_H */
