/* src/tls/tls.h: the ClientHello reader (sni.c), TLS alerts (alert.c), the mesh CA and
 * workload certificates (ca.c) and SPIFFE identities (spiffe.c).
 * May include: core, net.
 *
 * The reader and the alerts use no OpenSSL: they run on every accepted TLS connection,
 * before anything is decided. ca.c and spiffe.c use the OpenSSL 3.0 API; their X509
 * parameters are OpenSSL's (declared opaquely here, so users of the reader need no
 * OpenSSL headers). */
#ifndef EG_TLS_TLS_H
#define EG_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "core/str.h"

/* ---- ClientHello reader (sni.c) ------------------------------------------------------ */

#define EG_TLS_HELLO_MAX    16384 /* bytes the caller accumulates at most (-E2BIG past it) */
#define EG_TLS_SNI_MAX      253   /* longest DNS name accepted as SNI */
#define EG_TLS_ALPN_MAX     16    /* ALPN protocols kept (more are counted, not kept) */
#define EG_TLS_ALPN_BYTES   512   /* bytes of ALPN protocol names kept */
#define EG_TLS_VERSIONS_MAX 16    /* supported_versions entries kept */

struct eg_tls_hello {
	/* Always set, whatever the result: */
	const char *reason;      /* static text for the log: "ok", or why it failed / waits */
	size_t need;             /* -EAGAIN: at least this many more bytes are needed; else 0 */
	uint16_t record_version; /* version of the first record header (0 before 5 bytes) */

	/* Set when the reader returns 0, and for -ENOENT (sni_len 0); on other errors
	 * sni_len, n_alpn and n_versions are 0 (hello_len, legacy_version may be set): */
	size_t hello_len;             /* bytes of the records that carried the ClientHello; the
	                               * bytes after them (e.g. early data) are not looked at */
	uint16_t legacy_version;      /* ClientHello.legacy_version (0x0303 for TLS 1.2 and 1.3) */
	uint8_t sni_len;              /* 1..253 on success */
	char sni[EG_TLS_SNI_MAX + 1]; /* host_name, lowercased, NUL-terminated */
	uint8_t n_alpn;               /* protocols kept in alpn[] */
	uint16_t n_alpn_offered;      /* protocols in the extension (>= n_alpn) */
	struct {
		uint16_t off; /* into alpn_bytes */
		uint8_t len;  /* 1..255 */
	} alpn[EG_TLS_ALPN_MAX];
	char alpn_bytes[EG_TLS_ALPN_BYTES];
	uint8_t n_versions; /* supported_versions entries kept (0: extension absent) */
	uint16_t versions[EG_TLS_VERSIONS_MAX];
};

/* Reads a ClientHello from @data, the first @len bytes a client sent (call again with
 * more bytes after each read: the result depends only on the bytes, never on how they
 * were split). Handles a ClientHello spread over several records and checks every length
 * against its container. Returns:
 *   0        complete, with an SNI host_name: @h is filled (sni, alpn, versions, ...)
 *   -EAGAIN  incomplete: at least h->need more bytes are needed
 *   -EPROTO  not TLS (the first byte is not a handshake record, e.g. plain HTTP)
 *   -EBADMSG malformed (h->reason says what)
 *   -E2BIG   the ClientHello does not fit in EG_TLS_HELLO_MAX bytes
 *   -ENOENT  a well-formed ClientHello without server_name (@h is filled otherwise)
 * Never allocates, never reads past @len or past EG_TLS_HELLO_MAX; uses about 24 KiB of
 * stack (a ClientHello spread over records is joined in a local buffer). */
int eg_tls_hello_read(const void *data, size_t len, struct eg_tls_hello *h);

/* The @i-th ALPN protocol of @h (i < h->n_alpn); an empty slice otherwise. Protocol names
 * are bytes and may hold anything, so compare them with eg_str_eq(). */
struct eg_str eg_tls_hello_alpn(const struct eg_tls_hello *h, unsigned i);

/* The highest TLS version the client offers: the best supported_versions entry it lists
 * (0x0304 for TLS 1.3), or legacy_version without that extension. */
uint16_t eg_tls_hello_max_version(const struct eg_tls_hello *h);

/* "TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1", "SSLv3", or "unknown" (GREASE values too). */
const char *eg_tls_version_name(uint16_t version);

/* ---- alerts (alert.c) ---------------------------------------------------------------- */

enum eg_tls_alert {
	EG_TLS_ALERT_HANDSHAKE_FAILURE = 40,
	EG_TLS_ALERT_ACCESS_DENIED = 49,
	EG_TLS_ALERT_DECODE_ERROR = 50,
	EG_TLS_ALERT_PROTOCOL_VERSION = 70,
	EG_TLS_ALERT_INTERNAL_ERROR = 80,
	EG_TLS_ALERT_UNRECOGNIZED_NAME = 112,
};

#define EG_TLS_ALERT_LEN 7 /* one record: 5 bytes of header, level, description */

/* Writes a fatal alert record with @description into @out (at least EG_TLS_ALERT_LEN
 * bytes of @cap), in the record version that suits the client: @h's legacy_version
 * (TLS 1.3 clients use 0x0303 there too), else the version of its first record header,
 * else 0x0301 when @h is NULL or saw nothing (any client accepts that one before a
 * ServerHello). Returns EG_TLS_ALERT_LEN, or -ENOSPC, -EINVAL (unknown description). */
ssize_t eg_tls_alert_write(void *out, size_t cap, const struct eg_tls_hello *h,
                           enum eg_tls_alert description);

/* "access_denied", "unrecognized_name", ... (RFC 8446 names); "unknown" otherwise. */
const char *eg_tls_alert_name(unsigned description);

/* ---- SPIFFE identities (spiffe.c) ---------------------------------------------------- */

#define EG_TLS_TD_MAX     255 /* trust domain */
#define EG_TLS_NS_MAX     63  /* Kubernetes namespace: a DNS-1123 label */
#define EG_TLS_SA_MAX     253 /* Kubernetes service account: a DNS-1123 subdomain */
#define EG_TLS_SPIFFE_MAX (9 + EG_TLS_TD_MAX + 4 + EG_TLS_NS_MAX + 4 + EG_TLS_SA_MAX)

struct eg_tls_spiffe_id {
	char td[EG_TLS_TD_MAX + 1];
	char ns[EG_TLS_NS_MAX + 1];
	char sa[EG_TLS_SA_MAX + 1];
};

/* Checks a trust domain (lowercase letters, digits, '.', '-', '_'; no empty label), a
 * namespace (DNS-1123 label) and a service account (DNS-1123 subdomain): 0 or -EINVAL. */
int eg_tls_spiffe_check_td(const char *td);
int eg_tls_spiffe_check_ns(const char *ns);
int eg_tls_spiffe_check_sa(const char *sa);

/* Writes "spiffe://TD/ns/NS/sa/SA" NUL-terminated into @out. Returns its length, -EINVAL
 * (a part is not valid) or -ENOSPC. */
ssize_t eg_tls_spiffe_format(char *out, size_t cap, const char *td, const char *ns, const char *sa);

/* Parses an Istio-shaped SPIFFE id "spiffe://TD/ns/NS/sa/SA" (nothing else: no query,
 * fragment, percent-escape, port, user, empty or extra segment, uppercase scheme or trust
 * domain). 0 and @ret filled, or -EINVAL (@ret untouched). */
int eg_tls_spiffe_parse(struct eg_str uri, struct eg_tls_spiffe_id *ret);

struct x509_st;       /* OpenSSL's X509 */
struct stack_st_X509; /* OpenSSL's STACK_OF(X509) */

/* Copies the certificate's one spiffe:// URI SAN into @out (NUL-terminated). Returns its
 * length, -ENOENT (none), -EBADMSG (several, or one that does not parse), -ENOSPC. */
ssize_t eg_tls_spiffe_from_x509(const struct x509_st *cert, char *out, size_t cap);

enum eg_tls_peer_role {
	EG_TLS_PEER_SERVER, /* we are the client: the peer must be fit for serverAuth */
	EG_TLS_PEER_CLIENT, /* we are the server: the peer must be fit for clientAuth */
};

struct eg_tls_verify {
	const struct x509_st *ca; /* the mesh root */
	enum eg_tls_peer_role role;
	const char *expect_id;    /* exact SPIFFE id required (ISTIO_MUTUAL client side), or NULL */
	const char *trust_domain; /* with expect_id NULL: any id of this trust domain */
	time_t now;               /* 0: the current time */
};

/* Verifies that @peer (with the @untrusted intermediates the peer sent, may be NULL)
 * chains to v->ca, is valid now, fits the role, and carries the expected SPIFFE id (or one
 * of the trust domain). Returns 0 and the peer's id in @ret_id, or -EACCES (chain, time or
 * usage refused), -ENOENT (no SPIFFE id), -EBADMSG (malformed id), -EPERM (another id or
 * trust domain), -ENOSPC, -ENOMEM, -EINVAL. @reterr_reason (may be NULL) gets static text
 * for the log on failure. */
int eg_tls_spiffe_verify(const struct eg_tls_verify *v, const struct x509_st *peer,
                         struct stack_st_X509 *untrusted, char *ret_id, size_t cap,
                         const char **reterr_reason);

/* ---- mesh CA and workload certificates (ca.c) ----------------------------------------- */

#define EG_TLS_CA_DAYS       3650        /* root lifetime */
#define EG_TLS_CERT_TTL      (24 * 3600) /* default workload certificate lifetime */
#define EG_TLS_CERT_TTL_MIN  60
#define EG_TLS_CERT_TTL_MAX  (366 * 86400)
#define EG_TLS_CERT_BACKDATE 300 /* notBefore = now - 5 min, for clock skew */

struct eg_tls_ca;   /* owned: root certificate, key and trust domain */
struct evp_pkey_st; /* OpenSSL's EVP_PKEY */

/* Creates a new root CA for @trust_domain at time @now (0: the current time): EC P-256,
 * self-signed, 10 years, CA:TRUE, keyCertSign. 0, -EINVAL (bad trust domain), -ENOMEM,
 * -EIO (OpenSSL failed). */
int eg_tls_ca_create(const char *trust_domain, time_t now, struct eg_tls_ca **ret);

/* Writes the CA into @dir (created 0700 when missing): ca.crt, ca.key (0600) and
 * trust-domain, each atomically. Without @force an existing ca.crt or ca.key is -EEXIST. */
int eg_tls_ca_save(const struct eg_tls_ca *ca, const char *dir, bool force);

/* Loads the CA written by eg_tls_ca_save() from @dir. 0, -ENOENT (no CA there), -EBADMSG
 * (unreadable or mismatched files), -ENOMEM, -errno. */
int eg_tls_ca_load(const char *dir, struct eg_tls_ca **ret);

struct eg_tls_ca *eg_tls_ca_free(struct eg_tls_ca *ca);
const char *eg_tls_ca_trust_domain(const struct eg_tls_ca *ca);
const struct x509_st *eg_tls_ca_cert(const struct eg_tls_ca *ca);
time_t eg_tls_ca_not_after(const struct eg_tls_ca *ca);

/* A workload certificate as PEM text, ready to write or to load into an SSL_CTX. */
struct eg_tls_cert {
	char *cert_pem; /* the leaf only */
	char *key_pem;  /* its PKCS#8 private key */
	char *ca_pem;   /* the root, for verifying peers */
	char spiffe_id[EG_TLS_SPIFFE_MAX + 1];
	time_t not_before; /* now - EG_TLS_CERT_BACKDATE */
	time_t not_after;  /* now + ttl */
};

/* Issues a certificate for namespace @ns and service account @sa: EC P-256, URI SAN
 * spiffe://TD/ns/NS/sa/SA, serverAuth + clientAuth, valid from @now - 5 min for @ttl
 * seconds (EG_TLS_CERT_TTL_MIN..EG_TLS_CERT_TTL_MAX; @now 0: the current time). Returns
 * 0 and fills @ret (release it with eg_tls_cert_done), -EINVAL (bad name or ttl), -ERANGE
 * (it would outlive the CA), -ENOMEM, -EIO. */
int eg_tls_ca_issue(const struct eg_tls_ca *ca, const char *ns, const char *sa, uint64_t ttl,
                    time_t now, struct eg_tls_cert *ret);
void eg_tls_cert_done(struct eg_tls_cert *c);

/* Writes DIR/ca.pem, DIR/key.pem (0600) and DIR/cert.pem, in that order, each through a
 * temporary file and rename(), so a reader never sees a half-written file. During a
 * rotation a reader may still pair a new key with the old certificate for an instant:
 * eg_tls_identity_load() checks the pair and retries. @dir is created 0700 if missing. */
int eg_tls_cert_write(const struct eg_tls_cert *c, const char *dir);

/* Loads DIR/cert.pem and DIR/key.pem (and DIR/ca.pem when @ret_ca is not NULL), checking
 * that the key matches the certificate (retrying a few times while a writer rotates them).
 * Returns 0 with new references the caller frees (X509_free, EVP_PKEY_free), or -ENOENT,
 * -EBADMSG, -EAGAIN (still mismatched), -ENOMEM, -errno. Blocking file I/O: call it from
 * the control thread. */
int eg_tls_identity_load(const char *dir, struct x509_st **ret_cert, struct evp_pkey_st **ret_key,
                         struct x509_st **ret_ca);

/* Rotation policy: a certificate is due for re-issue once half its lifetime has passed.
 * eg_tls_rotation_at() is that moment; eg_tls_rotation_due() is true from it on (and for a
 * certificate whose dates make no sense, not_after <= not_before). */
time_t eg_tls_rotation_at(time_t not_before, time_t not_after);
bool eg_tls_rotation_due(time_t not_before, time_t not_after, time_t now);

/* The validity of @cert as time_t. 0 or -EBADMSG. */
int eg_tls_cert_validity(const struct x509_st *cert, time_t *ret_not_before, time_t *ret_not_after);

/* ==== OpenSSL contexts, identities and the TLS transport (certs.c, ctx.c, io.c) ==========
 * docs/reference/tls.md is the contract. tls may not include compile or model, so the
 * settings below mirror compile's struct eg_server_tls / struct eg_upstream_tls field for
 * field, and Secrets are reached through a lookup callback the caller writes over its
 * resource set. Building is for the control thread (it may read files); the objects are
 * then shared by the workers: every function marked "any thread" is safe to call
 * concurrently. */

struct ssl_ctx_st;    /* OpenSSL's SSL_CTX */
struct x509_store_st; /* OpenSSL's X509_STORE */
struct eg_io;         /* net/net.h */
struct eg_io_ops;     /* net/net.h */

#define EG_TLS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define EG_TLS_PEM_MAX        (1024 * 1024) /* largest certificate/key/bundle file or value */
#define EG_TLS_REASON_MAX     192           /* failure reason text kept per connection */
#define EG_TLS_SESSIONS_MAX   64            /* client sessions kept per upstream context */

/* ---- workload identities and rotation (certs.c) ---- */

/* An immutable, reference-counted workload identity: certificate, key, mesh root, its SPIFFE
 * id and validity. */
struct eg_tls_id;

/* From DIR/{cert,key,ca}.pem (through eg_tls_identity_load: the pair is checked). 0, -ENOENT,
 * -EBADMSG (unreadable, or no SPIFFE id), -EAGAIN, -ENOMEM. Blocking file I/O. */
int eg_tls_id_from_dir(const char *dir, struct eg_tls_id **ret);
/* From PEM text (e.g. an eg_tls_cert just issued). 0, -EBADMSG (bad PEM, key mismatch, no
 * SPIFFE id), -ENOMEM. */
int eg_tls_id_from_pem(const char *cert_pem, const char *key_pem, const char *ca_pem,
                       struct eg_tls_id **ret);
struct eg_tls_id *eg_tls_id_ref(struct eg_tls_id *id);          /* NULL in, NULL out; any thread */
struct eg_tls_id *eg_tls_id_unref(struct eg_tls_id *id);        /* returns NULL; any thread */
const char *eg_tls_id_spiffe(const struct eg_tls_id *id);       /* "spiffe://TD/ns/NS/sa/SA" */
const char *eg_tls_id_trust_domain(const struct eg_tls_id *id); /* "cluster.local" */
const struct x509_st *eg_tls_id_cert(const struct eg_tls_id *id);
const struct x509_st *eg_tls_id_ca(const struct eg_tls_id *id);
time_t eg_tls_id_not_before(const struct eg_tls_id *id);
time_t eg_tls_id_not_after(const struct eg_tls_id *id);

/* The holder of a proxy's current identity. Contexts built on it (ISTIO_MUTUAL servers and
 * clients) notice a new generation and make new SSL_CTXs for new connections; connections
 * already open keep the SSL_CTX (and certificate) they started with: nothing is dropped. */
struct eg_tls_rotator;

struct eg_tls_rotator_conf {
	/* DIR/{cert,key,ca}.pem: loaded at creation, reloaded when one of the files changes
	 * (size, mtime or inode), and written when re-issuing. NULL: no files (with @ca: kept in
	 * memory only; without: an empty holder filled with eg_tls_rotator_set). */
	const char *dir;
	/* Optional mesh CA (borrowed; must outlive the rotator): re-issue a certificate for
	 * @ns/@sa with @ttl (0: EG_TLS_CERT_TTL) when the current one is due
	 * (eg_tls_rotation_due), or when there is none yet. */
	const struct eg_tls_ca *ca;
	const char *ns;
	const char *sa;
	uint64_t ttl;
};

/* 0, or -errno with @err (may be NULL) saying why: a missing or broken identity in @dir when
 * no CA can issue one, an invalid ns/sa. */
int eg_tls_rotator_new(const struct eg_tls_rotator_conf *c, time_t now, struct eg_tls_rotator **ret,
                       char *err, size_t errlen);
struct eg_tls_rotator *eg_tls_rotator_free(struct eg_tls_rotator *r); /* after its users */
/* Re-issues when due (CA), else reloads changed files. Returns 1 (a new identity is
 * current), 0 (nothing to do), or -errno with @err (the current identity stays). Control
 * thread: blocking file I/O. @now 0: the current time. */
int eg_tls_rotator_refresh(struct eg_tls_rotator *r, time_t now, char *err, size_t errlen);
/* Makes @id (a new reference is taken) the current identity. 0 or -EINVAL. */
int eg_tls_rotator_set(struct eg_tls_rotator *r, struct eg_tls_id *id);
/* The current identity (a new reference, NULL when none yet). Any thread. */
struct eg_tls_id *eg_tls_rotator_get(struct eg_tls_rotator *r);
/* Increases each time the current identity changes (0: none yet). Any thread. */
uint64_t eg_tls_rotator_generation(const struct eg_tls_rotator *r);
/* When to call refresh next (for a timer): the rotation moment with a CA, else @now + 10 s
 * (file polling). */
time_t eg_tls_rotator_next_check(const struct eg_tls_rotator *r, time_t now);

/* ---- Secrets and trust stores (certs.c) ---- */

/* One Secret value as the store holds it. */
struct eg_tls_secret_value {
	const char *ptr;
	size_t len;
	bool base64; /* true: from `data` (base64); false: from `stringData` (text) */
};

/* Looks up key @key of Secret @ns/@name (borrowed values must stay valid until the build
 * returns). Returns 0, -ENOENT (no such Secret) or -ENODATA (the Secret lacks @key). */
typedef int (*eg_tls_secret_fn)(void *data, const char *ns, const char *name, const char *key,
                                struct eg_tls_secret_value *ret);

/* Decodes a Secret value: base64 through OpenSSL's EVP_Decode* (whitespace allowed) or text
 * as is. Returns a NUL-terminated copy the caller frees (@ret_len: bytes), or -EBADMSG
 * (not base64), -E2BIG (over EG_TLS_PEM_MAX), -ENOMEM. */
int eg_tls_secret_decode(const struct eg_tls_secret_value *v, char **ret, size_t *ret_len);

/* A verification store for origination: the certificates of @system_file (NULL:
 * EG_TLS_SYSTEM_CA_FILE; "" for none) plus those of @extra_file (NULL or "": none; the local
 * cluster's --ca-bundle, which egressd finds in $EGRESSD_CA_BUNDLE). Share one store between
 * the client contexts: each takes a reference. 0, -ENOENT (a file is missing), -EBADMSG (no
 * certificate in it), -ENOMEM, with @err saying which. */
int eg_tls_trust_load(const char *system_file, const char *extra_file, struct x509_store_st **ret,
                      char *err, size_t errlen);
struct x509_store_st *eg_tls_trust_unref(struct x509_store_st *st); /* NULL in, NULL out */

/* ---- contexts (ctx.c) ---- */

/* Where contexts find what their settings name. Borrowed during the build only (the
 * rotator is referenced by the context for its whole life: it must outlive it). */
struct eg_tls_env {
	const char *ns;          /* the proxy's namespace: credentialName Secrets live there */
	eg_tls_secret_fn secret; /* NULL: credentialName is refused */
	void *secret_data;
	struct eg_tls_rotator *mesh; /* the proxy's identity (ISTIO_MUTUAL); NULL: refused */
	struct x509_store_st *trust; /* origination without caCertificates; NULL: loaded from
	                              * system_ca_file + extra_ca_file at build time */
	const char *system_ca_file;  /* as eg_tls_trust_load() */
	const char *extra_ca_file;
};

enum eg_tls_mode {
	EG_TLS_SIMPLE,       /* server: certificate only; client: verify the server */
	EG_TLS_MUTUAL,       /* both present certificates, verified against the given CA */
	EG_TLS_ISTIO_MUTUAL, /* the mesh identity on both ends, SPIFFE ids checked */
};

/* One terminating filter chain of a gateway listener (compile's struct eg_filter_chain: its
 * server_names and struct eg_server_tls). */
struct eg_tls_server_conf {
	enum eg_tls_mode mode;
	const char *credential_name;    /* Secret in env->ns: tls.crt/tls.key[/ca.crt] or
	                                 * cert/key[/cacert]; CA also from NAME-cacert */
	const char *server_certificate; /* file paths (when no credentialName) */
	const char *private_key;
	const char *ca_certificates;
	const char *const *subject_alt_names; /* MUTUAL: the client certificate must carry one */
	size_t nsubject_alt_names;
	const char *min_version; /* "TLS_AUTO" (NULL), "TLSV1_0".."TLSV1_3"; default TLSv1.2 */
	const char *max_version; /* default TLSv1.3 */
	const char *const *cipher_suites; /* TLS 1.2 cipher names (OpenSSL spelling) */
	size_t ncipher_suites;
	const char *const *server_names; /* SNI this chain serves: "host", "*.suffix"; none: any */
	size_t nserver_names;
	const void *data; /* the caller's chain, given back by eg_tls_io_chain() */
};

/* A gateway listener's terminating chains: one SSL_CTX per chain, selected by the ClientHello
 * SNI (exact name, then the longest wildcard suffix, then a chain without names). Reference
 * counted, immutable once built (apart from identity rotation). */
struct eg_tls_server;

int eg_tls_server_new(struct eg_tls_server **ret);
/* Adds a chain. 0, or -errno with @err saying why in one line: "Secret NS/NAME not found",
 * "Secret NS/NAME: tls.crt: no PEM certificate", "private key does not match the
 * certificate", "MUTUAL requires a CA: ...", "minProtocolVersion TLSV9: unknown", ... */
int eg_tls_server_add(struct eg_tls_server *s, const struct eg_tls_server_conf *c,
                      const struct eg_tls_env *env, char *err, size_t errlen);
struct eg_tls_server *eg_tls_server_ref(struct eg_tls_server *s);   /* any thread */
struct eg_tls_server *eg_tls_server_unref(struct eg_tls_server *s); /* any thread */
/* The chain of @sni (NULL or "": only a chain without names), or -ENOENT. */
int eg_tls_server_match(const struct eg_tls_server *s, const char *sni);

/* One upstream cluster's TLS (compile's struct eg_upstream_tls). */
struct eg_tls_client_conf {
	enum eg_tls_mode mode;
	const char *sni; /* NULL: per connection (the request authority; ISTIO_MUTUAL: required) */
	const char *const *subject_alt_names; /* SIMPLE/MUTUAL: match one instead of the SNI;
	                                       * ISTIO_MUTUAL: the accepted spiffe:// ids */
	size_t nsubject_alt_names;
	const char *ca_certificates;    /* file; NULL: env->trust (ISTIO_MUTUAL: the mesh root) */
	const char *client_certificate; /* MUTUAL files (or credential_name) */
	const char *private_key;
	const char *credential_name; /* MUTUAL: Secret in env->ns (key/cert/cacert) */
	bool insecure_skip_verify;
	const char *const *alpn; /* NULL: ISTIO_MUTUAL istio-http/1.1, istio, http/1.1; else none */
	size_t nalpn;
};

/* An upstream's client context with its session cache (EG_TLS_SESSIONS_MAX server names). */
struct eg_tls_client;

/* 0, or -errno with @err saying why. */
int eg_tls_client_new(const struct eg_tls_client_conf *c, const struct eg_tls_env *env,
                      struct eg_tls_client **ret, char *err, size_t errlen);
struct eg_tls_client *eg_tls_client_ref(struct eg_tls_client *c);   /* any thread */
struct eg_tls_client *eg_tls_client_unref(struct eg_tls_client *c); /* any thread */
/* Sessions kept for resumption right now (for tests and stats). */
unsigned eg_tls_client_sessions(struct eg_tls_client *c);

/* ---- the TLS transport (io.c) ---- */

/* Transport ops over a non-blocking socket: io->ctx is the SSL *. recv/send map
 * SSL_ERROR_WANT_READ/WRITE to -EAGAIN with io->recv_want/send_want set (a TLS read may
 * need the socket writable and the other way round); a peer's close_notify, or an EOF
 * without it, is end of stream (0); a reset is -ECONNRESET; a TLS error -EPROTO.
 * shutdown_write sends close_notify then a FIN; abort sends neither (a RST). */
extern const struct eg_io_ops eg_io_tls;

/* Wraps the accepted non-blocking @fd (owned from now on: closed by the ops, or by this
 * function on failure) for @srv. @preload: bytes already read from @fd (a ClientHello peeked
 * with eg_tls_hello_read), copied and fed to TLS first. @chain >= 0 forces that chain
 * (eg_tls_server_match), -1 selects it by the SNI. 0, -ENOMEM, -EIO. Worker thread. */
int eg_tls_io_server(struct eg_io *io, int fd, struct eg_tls_server *srv, const void *preload,
                     size_t preload_len, int chain);
/* Wraps the connected non-blocking @fd for upstream @cli. @host: the request authority
 * ("host" or "host:port", "[v6]:port"): the SNI when the context has none, and the name to
 * verify without subjectAltNames. A session cached for the same SNI is offered. 0,
 * -EINVAL (no name to use), -ENOMEM, -EIO. */
int eg_tls_io_client(struct eg_io *io, int fd, struct eg_tls_client *cli, const char *host);
/* One handshake step: 0 (done), -EAGAIN (wait for io->recv_want), or -EPROTO, -ECONNRESET,
 * -EPIPE, -EACCES (the peer's certificate was refused), with eg_tls_io_reason() set. */
int eg_tls_io_handshake(struct eg_io *io);

/* After a failure: why, in one short line for the access log (UPSTREAM_TRANSPORT_FAILURE_
 * REASON, connection termination details): "certificate verify failed: hostname mismatch",
 * "TLS_error:|0A000412:SSL routines::sslv3 alert bad certificate:TLS_error_end", ... ""
 * when none. */
const char *eg_tls_io_reason(const struct eg_io *io);
/* After the handshake (NULL/0 when unknown): the peer's SPIFFE id (DOWNSTREAM_PEER_URI_SAN,
 * source_principal); the ALPN protocol; the SNI (the client's, or the one we sent);
 * "TLSv1.3"; the cipher; whether the session was resumed; the server chain's conf->data. */
const char *eg_tls_io_peer_id(const struct eg_io *io);
const char *eg_tls_io_alpn(const struct eg_io *io);
const char *eg_tls_io_sni(const struct eg_io *io);
const char *eg_tls_io_version(const struct eg_io *io);
const char *eg_tls_io_cipher(const struct eg_io *io);
bool eg_tls_io_resumed(const struct eg_io *io);
const void *eg_tls_io_chain(const struct eg_io *io);
bool eg_tls_io_handshake_done(const struct eg_io *io);

#endif /* EG_TLS_TLS_H */
