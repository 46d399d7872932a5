/* src/http/http.h: strict HTTP/1.1 (RFC 9112) message heads, chunked bodies, and the writer
 * that rewrites a head for forwarding. docs/reference/http.md says what is accepted and why.
 *
 * Everything here is a pure function of its arguments: no I/O, no clock, no globals, and the
 * parsers never allocate (every struct eg_str they return points into the caller's buffer,
 * so it is valid only while that buffer is). Only the writer grows a struct eg_buf.
 *
 * Errors: -EAGAIN means "need more bytes"; -EINVAL a misuse by the caller; every refusal of
 * the peer's bytes is its own code -EG_HTTP_E* (values above the errno range), which
 * eg_http_err_status() maps to the status to answer and eg_http_err_reason() to a log word.
 *
 * May include: core. */
#ifndef EG_HTTP_HTTP_H
#define EG_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/str.h"

/* Limits (RFC 9112 leaves them to us; the proxy's contract in issue 4). */
#define EG_HTTP_MAX_START_LINE   (8 * 1024)  /* request/status line without CRLF; over: 414 */
#define EG_HTTP_MAX_FIELDS_SIZE  (60 * 1024) /* field lines with their CRLFs; over: 431 */
#define EG_HTTP_MAX_FIELDS       100         /* field lines in a head or trailer; over: 431 */
#define EG_HTTP_MAX_CONN_TOKENS  16          /* tokens listed by Connection; over: 400 */
#define EG_HTTP_MAX_LEADING_CRLF 4           /* empty lines skipped before a request line */
#define EG_HTTP_MAX_CHUNK_EXT    4096        /* bytes of chunk extensions on one size line */
#define EG_HTTP_MAX_REQUEST_ID   128         /* longest x-request-id kept from a client */
#define EG_HTTP_UUID_LEN         36          /* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" */

/* Refusals. Each is returned negated; the comment gives eg_http_err_status(). */
enum eg_http_error {
	EG_HTTP_EBASE = 4096,         /* above MAX_ERRNO: never collides with -errno */
	EG_HTTP_ESTART_LINE,          /* 400 malformed request line (or 502: status line) */
	EG_HTTP_EMETHOD,              /* 400 method is not a token */
	EG_HTTP_ETARGET,              /* 400 request-target has a byte or shape RFC 3986 forbids */
	EG_HTTP_ETARGET_FORM,         /* 400 form not allowed for the method (authority-form
	                               *     without CONNECT, "*" without OPTIONS, ...) */
	EG_HTTP_ESCHEME,              /* 400 absolute-form scheme other than http or https */
	EG_HTTP_EUSERINFO,            /* 400 user@ in an authority */
	EG_HTTP_EAUTHORITY,           /* 400 host or port malformed (target or Host) */
	EG_HTTP_EVERSION,             /* 400 HTTP-version malformed */
	EG_HTTP_EVERSION_UNSUPPORTED, /* 505 well formed but not HTTP/1.0 or HTTP/1.1 */
	EG_HTTP_ESTART_LINE_TOO_LONG, /* 414 start line over EG_HTTP_MAX_START_LINE */
	EG_HTTP_EFIELDS_TOO_LARGE,    /* 431 field lines over EG_HTTP_MAX_FIELDS_SIZE */
	EG_HTTP_ETOO_MANY_FIELDS,     /* 431 over EG_HTTP_MAX_FIELDS (or the caller's array) */
	EG_HTTP_EBARE_LF,             /* 400 LF not preceded by CR */
	EG_HTTP_EBARE_CR,             /* 400 CR not followed by LF */
	EG_HTTP_EOBS_FOLD,            /* 400 line folding (a field line starts with SP/HTAB) */
	EG_HTTP_EFIELD_NAME,          /* 400 empty field name or a byte that is not tchar */
	EG_HTTP_EWS_BEFORE_COLON,     /* 400 SP/HTAB between field name and colon */
	EG_HTTP_ENO_COLON,            /* 400 field line without a colon */
	EG_HTTP_EFIELD_VALUE,         /* 400 NUL, CR or another CTL in a field value */
	EG_HTTP_ENO_HOST,             /* 400 HTTP/1.1 request without Host */
	EG_HTTP_EMULTIPLE_HOST,       /* 400 more than one Host field */
	EG_HTTP_ECONTENT_LENGTH,      /* 400 Content-Length not 1*DIGIT (or overflows) */
	EG_HTTP_ECONTENT_LENGTH_CONFLICT, /* 400 Content-Length values that differ */
	EG_HTTP_ECL_AND_TE,               /* 400 Content-Length and Transfer-Encoding both */
	EG_HTTP_ETRANSFER_ENCODING,       /* 400 TE list malformed, or chunked not once + last */
	EG_HTTP_ETE_UNSUPPORTED,          /* 501 a transfer coding other than chunked */
	EG_HTTP_ETE_HTTP10,               /* 400 Transfer-Encoding in an HTTP/1.0 message */
	EG_HTTP_ECONNECTION,              /* 400 Connection list malformed or too long */
	EG_HTTP_EEXPECT,                  /* 417 Expect other than 100-continue */
	EG_HTTP_EBODY_NOT_ALLOWED,        /* 400 CONNECT with content */
	EG_HTTP_ESTATUS,                  /* 502 status code not 100..599 (responses only) */
	EG_HTTP_ECHUNK_SIZE,              /* 400 chunk-size missing or not hex */
	EG_HTTP_ECHUNK_SIZE_OVERFLOW,     /* 400 chunk-size over 16 hex digits */
	EG_HTTP_ECHUNK_EXT,               /* 400 CTL in a chunk extension, or SP not before ';' */
	EG_HTTP_ECHUNK_EXT_TOO_LONG,      /* 400 over EG_HTTP_MAX_CHUNK_EXT */
	EG_HTTP_ECHUNK_CRLF,              /* 400 chunk data not followed by CRLF */
	EG_HTTP_ETRAILERS_TOO_LARGE,      /* 431 trailer section over the field limits */
	EG_HTTP_ELAST
};

/* Status to answer a client for @err (sign ignored); 400 for anything unknown. */
int eg_http_err_status(int err);
/* Short stable word for logs and response details ("obs_fold"); "unknown" otherwise. Also
 * names -EAGAIN ("incomplete") and -EINVAL ("invalid_argument"). */
const char *eg_http_err_reason(int err);

enum eg_http_method {
	EG_HTTP_METHOD_OTHER = 0, /* a valid token we have no name for: see method_text */
	EG_HTTP_GET,
	EG_HTTP_HEAD,
	EG_HTTP_POST,
	EG_HTTP_PUT,
	EG_HTTP_DELETE,
	EG_HTTP_CONNECT,
	EG_HTTP_OPTIONS,
	EG_HTTP_TRACE,
	EG_HTTP_PATCH,
	_EG_HTTP_METHOD_MAX
};
/* "GET", ...; "" for EG_HTTP_METHOD_OTHER or out of range. */
const char *eg_http_method_name(enum eg_http_method m);

enum eg_http_target_form {
	EG_HTTP_ORIGIN_FORM,    /* /path?query */
	EG_HTTP_ABSOLUTE_FORM,  /* http://host[:port]/path?query */
	EG_HTTP_AUTHORITY_FORM, /* host:port, CONNECT only */
	EG_HTTP_ASTERISK_FORM,  /* "*", OPTIONS only */
};

/* How the message body is delimited (RFC 9112 §6.3). */
enum eg_http_body {
	EG_HTTP_BODY_NONE,        /* no body (also 1xx/204/304, HEAD responses, CONNECT) */
	EG_HTTP_BODY_LENGTH,      /* exactly content_length bytes (may be 0) */
	EG_HTTP_BODY_CHUNKED,     /* Transfer-Encoding: chunked; see eg_http_chunked */
	EG_HTTP_BODY_UNTIL_CLOSE, /* responses only: everything until the server closes */
};

struct eg_http_header {
	struct eg_str name;  /* token as received (compare with eg_str_caseeq) */
	struct eg_str value; /* leading and trailing SP/HTAB removed; may be empty */
};

/* host[:port]. The host is a slice of the input, case as received (compare and print with
 * the helpers below, which lowercase); an IPv6 literal without its brackets. */
struct eg_http_authority {
	struct eg_str host;
	uint16_t port; /* 0 when no port was given */
	bool ipv6;
};

/* What requests and responses share. */
struct eg_http_head {
	unsigned version;               /* 10 or 11 */
	struct eg_http_header *headers; /* the caller's array, in wire order */
	size_t n_headers;
	enum eg_http_body body;
	uint64_t content_length;     /* when body == EG_HTTP_BODY_LENGTH, or a bodiless
	                              * response that carried one (has_content_length) */
	bool has_content_length;     /* one value, after folding identical duplicates */
	bool keep_alive;             /* persistent after this message (RFC 9112 §9.3) */
	bool upgrade;                /* Upgrade + "Connection: upgrade", HTTP/1.1 only */
	bool expect_continue;        /* requests: "Expect: 100-continue" in HTTP/1.1 */
	struct eg_str upgrade_value; /* first Upgrade field value */
	struct eg_str conn_tokens[EG_HTTP_MAX_CONN_TOKENS]; /* Connection's list */
	size_t n_conn_tokens;
	size_t len; /* bytes of the head, final CRLF (and skipped empty lines) included */
};

struct eg_http_req {
	struct eg_http_head h;
	enum eg_http_method method;
	struct eg_str method_text;
	struct eg_str target; /* as received */
	enum eg_http_target_form form;
	/* Split of the target. scheme and authority only in absolute- and authority-form;
	 * path is "" for an absolute-form target without one; query.ptr is NULL when the
	 * target has no '?', else query holds what follows it (maybe empty). */
	struct eg_str scheme, authority, path, query;
	/* Where the request goes: the target's authority in absolute/authority-form, the
	 * Host field otherwise (host.len == 0 when Host is empty or absent in HTTP/1.0). */
	struct eg_http_authority dest;
	bool has_host;                      /* a Host field was present */
	struct eg_str host;                 /* its raw value */
	struct eg_http_authority host_auth; /* ... parsed */
};

struct eg_http_resp {
	struct eg_http_head h;
	int status;           /* 100..599 */
	struct eg_str reason; /* may be empty */
	bool interim;         /* 1xx other than 101: the final response follows */
};

/* Parses one request head at the start of @buf. Returns the bytes it occupies (> 0; the next
 * pipelined request starts there), -EAGAIN while the head is incomplete (and no refusal
 * could be decided yet), or a refusal -EG_HTTP_E*.
 * Re-parse model: the caller calls again from the same start after each read with the whole
 * buffered head; @prev_len is the @len of the previous call that returned -EAGAIN for this
 * message (0 the first time). Bytes before @prev_len are not rescanned for the end of the
 * head, so reading one byte at a time costs O(n) in total, not O(n^2). The full parse runs
 * once, when the head is complete. @hdrs receives up to @max_hdrs fields (more: 431). */
ssize_t eg_http_parse_request(const char *buf, size_t len, size_t prev_len,
                              struct eg_http_header *hdrs, size_t max_hdrs,
                              struct eg_http_req *ret);

/* As above for a response to a request with method @req_method (a HEAD response or a 2xx
 * to CONNECT has no body). No empty lines are skipped before a status line. */
ssize_t eg_http_parse_response(const char *buf, size_t len, size_t prev_len,
                               struct eg_http_header *hdrs, size_t max_hdrs,
                               enum eg_http_method req_method, struct eg_http_resp *ret);

/* Parses host[:port] (no userinfo, IPv6 in brackets, port 1..65535 when present). 0, or
 * -EG_HTTP_EUSERINFO / -EG_HTTP_EAUTHORITY. An empty @s gives an empty host. */
int eg_http_parse_authority(struct eg_str s, struct eg_http_authority *ret);
/* 80 for "http", 443 for "https" (any case), 0 otherwise. */
uint16_t eg_http_scheme_port(struct eg_str scheme);
/* Same host (ASCII case-insensitive; IPv6 compared as addresses) and same port, where a
 * missing port stands for @default_port. */
bool eg_http_authority_eq(const struct eg_http_authority *a, const struct eg_http_authority *b,
                          uint16_t default_port);
/* Writes the canonical text of @a into @out (NUL-terminated): host lowercased, IPv6 in
 * brackets, ":port" unless the port is absent or equals @default_port. Returns the length,
 * or -E2BIG when @cap is too small. This is the routing key. */
int eg_http_authority_format(const struct eg_http_authority *a, uint16_t default_port, char *out,
                             size_t cap);
/* True when the request names its destination twice and the two differ: an absolute-form
 * target whose authority is not the Host field's (after the scheme's default port), or a
 * CONNECT target whose host (or port, when Host has one) is not Host's. The proxy answers
 * 400 then. False when there is no Host field. */
bool eg_http_req_host_mismatch(const struct eg_http_req *req);

/* True when @name must not be forwarded: one of the fixed hop-by-hop fields (Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
 * Proxy-Authorization, Proxy-Authenticate) or a token of @h's Connection field. */
bool eg_http_is_hop_by_hop(const struct eg_http_head *h, struct eg_str name);

/* Chunked body decoder: a resumable state machine that takes any split of the body, down to
 * one byte per call. Zero-copy: data comes back as slices of the input. */
struct eg_http_chunked {
	unsigned state;
	int err;               /* the refusal once one happened (sticky), else 0 */
	unsigned digits;       /* hex digits of the current chunk-size */
	uint64_t remaining;    /* data bytes left in the current chunk */
	size_t ext_len;        /* chunk-extension bytes on the current size line */
	size_t trailer_bytes;  /* bytes of the trailer section so far */
	size_t trailer_fields; /* trailer field lines so far */
	uint64_t body_bytes;   /* chunk data delivered so far */
	bool done;             /* the last chunk and trailer section were consumed */
};

void eg_http_chunked_init(struct eg_http_chunked *c);
/* Consumes bytes of @buf until it either has chunk data to hand back (then *@data is a
 * slice of @buf and it stops right after it), used all of @buf, or finished the body (done
 * set; the bytes after it belong to the next message). Returns the bytes consumed (>= 0),
 * or a refusal -EG_HTTP_E*; after a refusal or once done, it consumes nothing more. *@data
 * is { NULL, 0 } when no data is handed back. */
ssize_t eg_http_chunked_feed(struct eg_http_chunked *c, const char *buf, size_t len,
                             struct eg_str *data);

/* "<hex size>\r\n" for a chunk of @size bytes into @out (>= 19 bytes); returns the length. */
int eg_http_chunk_header(uint64_t size, char *out, size_t cap);

/* x-request-id. Keeps @req's incoming value when there is exactly one and it is valid (1..128
 * bytes of [A-Za-z0-9._:+/=-]) and !@regenerate; else formats a UUIDv4 from @random16 (16
 * bytes the caller drew; the version and variant bits are set here). Writes it
 * NUL-terminated into @out and returns its length, or -E2BIG when @cap is too small. */
int eg_http_request_id(const struct eg_http_req *req, const uint8_t random16[16], bool regenerate,
                       char *out, size_t cap);
/* 36-byte UUIDv4 text from @random16 into @out (>= 37 bytes). */
void eg_http_uuid4(const uint8_t random16[16], char out[EG_HTTP_UUID_LEN + 1]);

enum eg_http_conn_mode {
	EG_HTTP_CONN_DEFAULT,    /* write no Connection field */
	EG_HTTP_CONN_CLOSE,      /* "connection: close" */
	EG_HTTP_CONN_KEEP_ALIVE, /* "connection: keep-alive" (for HTTP/1.0 peers) */
};

/* How to forward a head. Zero-initialised means: origin-form target, Host from the
 * destination, hop-by-hop fields dropped, no x-forwarded-*, no x-request-id change. */
struct eg_http_fwd {
	/* x-forwarded-for: when set, appended to the incoming list (one field, values joined by
	 * ", ", at the first incoming one's place), as Envoy does with use_remote_address. */
	struct eg_str xff_append;
	/* x-forwarded-proto: when set, replaces the incoming one if @xfp_overwrite or if there is
	 * none (Envoy: overwrite at the edge, keep otherwise). */
	struct eg_str xfp;
	bool xfp_overwrite;
	/* x-request-id: when set, every incoming one is dropped and this one written (pass the
	 * result of eg_http_request_id()). */
	struct eg_str request_id;
	/* Host to send instead of the request's destination (a VirtualService rewrite). */
	struct eg_str host;
	bool keep_absolute_form; /* send the target as received (to another proxy) */
	bool keep_upgrade;       /* forward Upgrade (with "connection: upgrade") when set */
	enum eg_http_conn_mode connection;
	/* Re-frame an until-close response as chunked (the proxy then chunks the body). */
	bool chunk_until_close;
	/* Fields dropped in addition to the hop-by-hop ones (names, any case). */
	const struct eg_str *drop;
	size_t n_drop;
	/* Fields appended at the end (x-egressd-deny-reason, ...). Names must be tokens and
	 * values free of CTLs, or the writer refuses with -EINVAL. */
	const struct eg_http_header *add;
	size_t n_add;
};

/* Appends the forwarded request head to @out: "METHOD target HTTP/1.1", Host first, the
 * end-to-end fields in their order, framing (one canonical Content-Length, or
 * "transfer-encoding: chunked"), the x-forwarded-* / x-request-id fields and @fwd->add, and
 * the empty line. @fwd may be NULL. 0, -EINVAL or the eg_buf errors (-E2BIG, -ENOMEM); on
 * error @out is restored to its previous length. */
int eg_http_write_request(struct eg_buf *out, const struct eg_http_req *req,
                          const struct eg_http_fwd *fwd);
/* The same for a response head ("HTTP/1.1 STATUS reason"); x-forwarded-* and host options
 * are ignored, x-request-id is honoured. */
int eg_http_write_response(struct eg_buf *out, const struct eg_http_resp *resp,
                           const struct eg_http_fwd *fwd);
/* A complete response made here (deny, error): status line with the standard reason,
 * content-type text/plain when @body is non-empty, content-length, @add fields,
 * "connection: close" when @close, the empty line and @body. 0, -EINVAL or eg_buf errors. */
int eg_http_write_simple_response(struct eg_buf *out, int status, const struct eg_http_header *add,
                                  size_t n_add, struct eg_str body, bool close);
/* Standard reason phrase of @status ("Bad Gateway"), "" when unknown. */
const char *eg_http_status_reason(int status);

#endif /* EG_HTTP_HTTP_H */
