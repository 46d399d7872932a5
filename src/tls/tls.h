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

#endif /* EG_TLS_TLS_H */
