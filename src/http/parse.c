/* src/http/parse.c: request and response heads (RFC 9112 §2-§7, RFC 9110 §5-§7), authority
 * handling and the error table. Pure: slices point into the caller's buffer, nothing is
 * allocated, no byte at or past @len is read. */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "core/compiler.h"
#include "http/http-int.h"

/* ---- error table ------------------------------------------------------------------------ */

struct err_info {
	int status;
	const char *reason;
};

static const struct err_info err_table[] = {
        [EG_HTTP_ESTART_LINE - EG_HTTP_EBASE] = {400, "bad_start_line"},
        [EG_HTTP_EMETHOD - EG_HTTP_EBASE] = {400, "bad_method"},
        [EG_HTTP_ETARGET - EG_HTTP_EBASE] = {400, "bad_target"},
        [EG_HTTP_ETARGET_FORM - EG_HTTP_EBASE] = {400, "target_form_not_allowed"},
        [EG_HTTP_ESCHEME - EG_HTTP_EBASE] = {400, "bad_scheme"},
        [EG_HTTP_EUSERINFO - EG_HTTP_EBASE] = {400, "userinfo_in_authority"},
        [EG_HTTP_EAUTHORITY - EG_HTTP_EBASE] = {400, "bad_authority"},
        [EG_HTTP_EVERSION - EG_HTTP_EBASE] = {400, "bad_version"},
        [EG_HTTP_EVERSION_UNSUPPORTED - EG_HTTP_EBASE] = {505, "version_not_supported"},
        [EG_HTTP_ESTART_LINE_TOO_LONG - EG_HTTP_EBASE] = {414, "start_line_too_long"},
        [EG_HTTP_EFIELDS_TOO_LARGE - EG_HTTP_EBASE] = {431, "headers_too_large"},
        [EG_HTTP_ETOO_MANY_FIELDS - EG_HTTP_EBASE] = {431, "too_many_headers"},
        [EG_HTTP_EBARE_LF - EG_HTTP_EBASE] = {400, "bare_lf"},
        [EG_HTTP_EBARE_CR - EG_HTTP_EBASE] = {400, "bare_cr"},
        [EG_HTTP_EOBS_FOLD - EG_HTTP_EBASE] = {400, "obs_fold"},
        [EG_HTTP_EFIELD_NAME - EG_HTTP_EBASE] = {400, "bad_header_name"},
        [EG_HTTP_EWS_BEFORE_COLON - EG_HTTP_EBASE] = {400, "whitespace_before_colon"},
        [EG_HTTP_ENO_COLON - EG_HTTP_EBASE] = {400, "header_without_colon"},
        [EG_HTTP_EFIELD_VALUE - EG_HTTP_EBASE] = {400, "bad_header_value"},
        [EG_HTTP_ENO_HOST - EG_HTTP_EBASE] = {400, "missing_host"},
        [EG_HTTP_EMULTIPLE_HOST - EG_HTTP_EBASE] = {400, "multiple_host"},
        [EG_HTTP_ECONTENT_LENGTH - EG_HTTP_EBASE] = {400, "bad_content_length"},
        [EG_HTTP_ECONTENT_LENGTH_CONFLICT - EG_HTTP_EBASE] = {400, "content_length_conflict"},
        [EG_HTTP_ECL_AND_TE - EG_HTTP_EBASE] = {400, "content_length_and_transfer_encoding"},
        [EG_HTTP_ETRANSFER_ENCODING - EG_HTTP_EBASE] = {400, "bad_transfer_encoding"},
        [EG_HTTP_ETE_UNSUPPORTED - EG_HTTP_EBASE] = {501, "transfer_encoding_not_implemented"},
        [EG_HTTP_ETE_HTTP10 - EG_HTTP_EBASE] = {400, "transfer_encoding_in_http10"},
        [EG_HTTP_ECONNECTION - EG_HTTP_EBASE] = {400, "bad_connection_header"},
        [EG_HTTP_EEXPECT - EG_HTTP_EBASE] = {417, "expectation_failed"},
        [EG_HTTP_EBODY_NOT_ALLOWED - EG_HTTP_EBASE] = {400, "body_not_allowed"},
        [EG_HTTP_ESTATUS - EG_HTTP_EBASE] = {502, "bad_status"},
        [EG_HTTP_ECHUNK_SIZE - EG_HTTP_EBASE] = {400, "bad_chunk_size"},
        [EG_HTTP_ECHUNK_SIZE_OVERFLOW - EG_HTTP_EBASE] = {400, "chunk_size_overflow"},
        [EG_HTTP_ECHUNK_EXT - EG_HTTP_EBASE] = {400, "bad_chunk_extension"},
        [EG_HTTP_ECHUNK_EXT_TOO_LONG - EG_HTTP_EBASE] = {400, "chunk_extension_too_long"},
        [EG_HTTP_ECHUNK_CRLF - EG_HTTP_EBASE] = {400, "bad_chunk_crlf"},
        [EG_HTTP_ETRAILERS_TOO_LARGE - EG_HTTP_EBASE] = {431, "trailers_too_large"},
};
_Static_assert(EG_ARRAY_SIZE(err_table) == EG_HTTP_ELAST - EG_HTTP_EBASE,
               "every refusal has a status and a reason");

static const struct err_info *err_lookup(int err)
{
	int e = err < 0 ? -err : err;

	if (e <= EG_HTTP_EBASE || e >= EG_HTTP_ELAST)
		return NULL;
	return &err_table[e - EG_HTTP_EBASE];
}

int eg_http_err_status(int err)
{
	const struct err_info *ei = err_lookup(err);

	return ei ? ei->status : 400;
}

const char *eg_http_err_reason(int err)
{
	const struct err_info *ei = err_lookup(err);

	if (ei)
		return ei->reason;
	if (err == -EAGAIN || err == EAGAIN)
		return "incomplete";
	if (err == -EINVAL || err == EINVAL)
		return "invalid_argument";
	return "unknown";
}

/* ---- character classes (RFC 9110 §5.6.2, RFC 3986 §2-§3) -------------------------------- */

/* Host names as we route them: letters, digits, '-', '.', '_', '~' (the unreserved set of
 * RFC 3986). Percent-escapes and sub-delims, legal in a reg-name, are refused: no DNS name
 * has them and they would only make two spellings of one host. */
static inline bool is_host_char(unsigned char c)
{
	return http_is_alpha(c) || http_is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static struct eg_str str_trim_ows(struct eg_str s)
{
	while (s.len && http_is_ows((unsigned char)s.ptr[0])) {
		s.ptr++;
		s.len--;
	}
	while (s.len && http_is_ows((unsigned char)s.ptr[s.len - 1]))
		s.len--;
	return s;
}

/* Elements of a comma-separated list (RFC 9110 §5.6.1), OWS trimmed; empty elements come
 * back as empty slices: struct list_it it = { value, false }; while (list_iter(&it, &e)) */
struct list_it {
	struct eg_str rest;
	bool done;
};

static bool list_iter(struct list_it *it, struct eg_str *elem)
{
	const char *comma;

	if (it->done)
		return false;
	comma = it->rest.len ? memchr(it->rest.ptr, ',', it->rest.len) : NULL;
	if (!comma) {
		*elem = str_trim_ows(it->rest);
		it->done = true;
		return true;
	}
	*elem = str_trim_ows((struct eg_str){it->rest.ptr, (size_t)(comma - it->rest.ptr)});
	it->rest.len -= (size_t)(comma - it->rest.ptr) + 1;
	it->rest.ptr = comma + 1;
	return true;
}

/* ---- methods ------------------------------------------------------------------------- */

static const char *const method_names[_EG_HTTP_METHOD_MAX] = {
        [EG_HTTP_METHOD_OTHER] = "",   [EG_HTTP_GET] = "GET",         [EG_HTTP_HEAD] = "HEAD",
        [EG_HTTP_POST] = "POST",       [EG_HTTP_PUT] = "PUT",         [EG_HTTP_DELETE] = "DELETE",
        [EG_HTTP_CONNECT] = "CONNECT", [EG_HTTP_OPTIONS] = "OPTIONS", [EG_HTTP_TRACE] = "TRACE",
        [EG_HTTP_PATCH] = "PATCH",
};

const char *eg_http_method_name(enum eg_http_method m)
{
	if ((unsigned)m >= _EG_HTTP_METHOD_MAX)
		return "";
	return method_names[m];
}

/* Methods are case-sensitive (RFC 9110 §9.1): "get" is an unknown method, not GET. */
static enum eg_http_method method_lookup(struct eg_str m)
{
	if (m.len < 3 || m.len > 7)
		return EG_HTTP_METHOD_OTHER;
	for (unsigned i = 1; i < _EG_HTTP_METHOD_MAX; i++)
		if (strlen(method_names[i]) == m.len && memcmp(m.ptr, method_names[i], m.len) == 0)
			return (enum eg_http_method)i;
	return EG_HTTP_METHOD_OTHER;
}

/* ---- authority ------------------------------------------------------------------------ */

uint16_t eg_http_scheme_port(struct eg_str scheme)
{
	if (eg_str_caseeq(scheme, EG_STR("http")))
		return 80;
	if (eg_str_caseeq(scheme, EG_STR("https")))
		return 443;
	return 0;
}

/* IPv6 literal text (without brackets) to its 16 bytes; false when it is not one. */
static bool ipv6_parse(struct eg_str s, unsigned char out[16])
{
	char tmp[INET6_ADDRSTRLEN];

	if (s.len < 2 || s.len >= sizeof(tmp))
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];

		/* no zone ids ("%25eth0") and no IPvFuture ("v1.x") */
		if (http_hex_val(c) < 0 && c != ':' && c != '.')
			return false;
	}
	memcpy(tmp, s.ptr, s.len);
	tmp[s.len] = '\0';
	return inet_pton(AF_INET6, tmp, out) == 1;
}

static int parse_port(struct eg_str s, uint16_t *ret)
{
	unsigned v = 0;

	if (s.len == 0 || s.len > 5)
		return -EG_HTTP_EAUTHORITY;
	for (size_t i = 0; i < s.len; i++) {
		if (!http_is_digit((unsigned char)s.ptr[i]))
			return -EG_HTTP_EAUTHORITY;
		v = v * 10 + (unsigned)(s.ptr[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EG_HTTP_EAUTHORITY;
	*ret = (uint16_t)v;
	return 0;
}

int eg_http_parse_authority(struct eg_str s, struct eg_http_authority *ret)
{
	struct eg_http_authority a = {{s.ptr, 0}, 0, false};
	struct eg_str rest;

	if (s.len == 0) {
		*ret = a;
		return 0;
	}
	if (memchr(s.ptr, '@', s.len))
		return -EG_HTTP_EUSERINFO;
	if (s.ptr[0] == '[') {
		const char *close = memchr(s.ptr, ']', s.len);
		unsigned char bin[16];

		if (!close)
			return -EG_HTTP_EAUTHORITY;
		a.host = (struct eg_str){s.ptr + 1, (size_t)(close - s.ptr) - 1};
		if (!ipv6_parse(a.host, bin))
			return -EG_HTTP_EAUTHORITY;
		a.ipv6 = true;
		rest = (struct eg_str){close + 1, s.len - (size_t)(close - s.ptr) - 1};
	} else {
		size_t i = 0;

		while (i < s.len && s.ptr[i] != ':') {
			if (!is_host_char((unsigned char)s.ptr[i]))
				return -EG_HTTP_EAUTHORITY;
			i++;
		}
		if (i == 0)
			return -EG_HTTP_EAUTHORITY;
		a.host = (struct eg_str){s.ptr, i};
		rest = (struct eg_str){s.ptr + i, s.len - i};
	}
	if (rest.len) {
		int r;

		if (rest.ptr[0] != ':')
			return -EG_HTTP_EAUTHORITY;
		/* "host:" (an empty port) is legal in a URI but says nothing: refused */
		r = parse_port((struct eg_str){rest.ptr + 1, rest.len - 1}, &a.port);
		if (r < 0)
			return r;
	}
	*ret = a;
	return 0;
}

bool eg_http_authority_eq(const struct eg_http_authority *a, const struct eg_http_authority *b,
                          uint16_t default_port)
{
	uint16_t pa = a->port ? a->port : default_port;
	uint16_t pb = b->port ? b->port : default_port;

	if (pa != pb || a->ipv6 != b->ipv6)
		return false;
	if (a->ipv6) {
		unsigned char x[16], y[16];

		return ipv6_parse(a->host, x) && ipv6_parse(b->host, y) && memcmp(x, y, 16) == 0;
	}
	return eg_str_caseeq(a->host, b->host);
}

int eg_http_authority_format(const struct eg_http_authority *a, uint16_t default_port, char *out,
                             size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	struct eg_str h = a->host;
	size_t n = 0;
	int w;

	if (cap == 0)
		return -E2BIG;
	if (a->ipv6) {
		unsigned char bin[16];

		/* canonical text (RFC 5952), so "[0:0::1]" and "[::1]" route alike */
		if (!ipv6_parse(a->host, bin) || !inet_ntop(AF_INET6, bin, host, sizeof(host)))
			return -EINVAL;
		h = eg_str_c(host);
		if (h.len + 2 >= cap)
			return -E2BIG;
		out[n++] = '[';
	}
	if (n + h.len >= cap)
		return -E2BIG;
	for (size_t i = 0; i < h.len; i++) {
		unsigned char c = (unsigned char)h.ptr[i];

		out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	if (a->ipv6)
		out[n++] = ']';
	out[n] = '\0';
	if (a->port && a->port != default_port) {
		w = snprintf(out + n, cap - n, ":%u", (unsigned)a->port);
		if (w < 0 || (size_t)w >= cap - n) {
			out[n] = '\0';
			return -E2BIG;
		}
		n += (size_t)w;
	}
	return (int)n;
}

bool eg_http_req_host_mismatch(const struct eg_http_req *req)
{
	if (!req->has_host)
		return false;
	switch (req->form) {
	case EG_HTTP_ABSOLUTE_FORM:
		return !eg_http_authority_eq(&req->dest, &req->host_auth,
		                             eg_http_scheme_port(req->scheme));
	case EG_HTTP_AUTHORITY_FORM:
		/* CONNECT: Host often omits the port; compare it only when given */
		if (req->host_auth.port && req->host_auth.port != req->dest.port)
			return true;
		return !eg_http_authority_eq(&req->dest, &req->host_auth, req->dest.port);
	default:
		return false;
	}
}

/* ---- request-target (RFC 9112 §3.2) --------------------------------------------------- */

/* Validates path [?query] starting at @s: pchar, '/', '%' HEXDIG HEXDIG, and '?' once the
 * query began. Fills @path and @query. */
static int parse_path_query(struct eg_str s, struct eg_str *path, struct eg_str *query)
{
	size_t i = 0, qstart = 0;
	bool in_query = false;

	*query = (struct eg_str){NULL, 0};
	while (i < s.len) {
		unsigned char c = (unsigned char)s.ptr[i];

		if (c == '%') {
			if (s.len - i < 3 || http_hex_val((unsigned char)s.ptr[i + 1]) < 0 ||
			    http_hex_val((unsigned char)s.ptr[i + 2]) < 0)
				return -EG_HTTP_ETARGET;
			i += 3;
			continue;
		}
		if (c == '?') {
			if (!in_query) {
				in_query = true;
				qstart = i;
			}
		} else if (!(http_class[c] & HC_PCHAR)) {
			return -EG_HTTP_ETARGET; /* '#', '"', '<', '{', SP, CTL, 8-bit, ... */
		}
		i++;
	}
	if (in_query) {
		*path = (struct eg_str){s.ptr, qstart};
		*query = (struct eg_str){s.ptr + qstart + 1, s.len - qstart - 1};
	} else {
		*path = s;
	}
	return 0;
}

static int parse_target(struct eg_http_req *req)
{
	struct eg_str t = req->target;
	bool connect = req->method == EG_HTTP_CONNECT;
	size_t i;
	int r;

	if (eg_str_eqc(t, "*")) {
		req->form = EG_HTTP_ASTERISK_FORM;
		return req->method == EG_HTTP_OPTIONS ? 0 : -EG_HTTP_ETARGET_FORM;
	}
	if (t.ptr[0] == '/') {
		req->form = EG_HTTP_ORIGIN_FORM;
		if (connect)
			return -EG_HTTP_ETARGET_FORM;
		return parse_path_query(t, &req->path, &req->query);
	}
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) "://" */
	for (i = 0; i < t.len; i++) {
		unsigned char c = (unsigned char)t.ptr[i];

		if (!(http_is_alpha(c) ||
		      (i > 0 && (http_is_digit(c) || c == '+' || c == '-' || c == '.'))))
			break;
	}
	if (i > 0 && t.len - i >= 3 && memcmp(t.ptr + i, "://", 3) == 0) {
		struct eg_str after = {t.ptr + i + 3, t.len - i - 3};
		size_t a = 0;

		req->form = EG_HTTP_ABSOLUTE_FORM;
		if (connect)
			return -EG_HTTP_ETARGET_FORM;
		req->scheme = (struct eg_str){t.ptr, i};
		if (!eg_http_scheme_port(req->scheme))
			return -EG_HTTP_ESCHEME;
		while (a < after.len && after.ptr[a] != '/' && after.ptr[a] != '?' &&
		       after.ptr[a] != '#')
			a++;
		req->authority = (struct eg_str){after.ptr, a};
		r = eg_http_parse_authority(req->authority, &req->dest);
		if (r < 0)
			return r;
		if (!req->dest.host.len)
			return -EG_HTTP_EAUTHORITY; /* http URIs need a host */
		return parse_path_query((struct eg_str){after.ptr + a, after.len - a}, &req->path,
		                        &req->query);
	}
	/* authority-form: uri-host ":" port, CONNECT only */
	req->form = EG_HTTP_AUTHORITY_FORM;
	r = eg_http_parse_authority(t, &req->dest);
	if (r == -EG_HTTP_EUSERINFO)
		return r;
	if (r < 0 || !req->dest.port || !req->dest.host.len)
		return connect ? -EG_HTTP_EAUTHORITY : -EG_HTTP_ETARGET;
	if (!connect)
		return -EG_HTTP_ETARGET_FORM;
	req->authority = t;
	return 0;
}

/* ---- framing of the head --------------------------------------------------------------- */

/* Where the start line ends and where the head ends. Pre-scan, run on every call: it looks
 * for the empty line only in bytes at or after @prev_len, and refuses early what no further
 * byte could make valid (bytes outside the start line's alphabet, bare LF, size limits). */
struct head_span {
	size_t start;    /* first byte of the start line */
	size_t line_end; /* offset of the start line's CR */
	size_t end;      /* offset just past the final CRLF */
};

/* Checks start-line bytes [from, to): SP and VCHAR, plus HTAB and obs-text in a status line
 * (the reason phrase); a CR is bare since the line's own CR lies past @to. */
static int check_start_line_bytes(const char *buf, size_t from, size_t to, bool response)
{
	for (size_t i = from; i < to; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c >= 0x20 && c < 0x7f)
			continue;
		if (c == '\r')
			return -EG_HTTP_EBARE_CR;
		if (response && (c == '\t' || c >= 0x80))
			continue;
		return -EG_HTTP_ESTART_LINE;
	}
	return 0;
}

static int scan_head(const char *buf, size_t len, size_t prev_len, bool response,
                     struct head_span *sp)
{
	size_t s = 0, avail, content, h, from, to;
	const char *lf;
	int r;

	if (prev_len > len)
		prev_len = 0; /* the caller's hint cannot be right; rescan */
	if (!response) {
		/* RFC 9112 §2.2: a server SHOULD ignore at least one empty line before a
		 * request-line (some clients send CRLF after a POST body). */
		for (unsigned k = 0; s < len && buf[s] == '\r'; k++) {
			if (k == EG_HTTP_MAX_LEADING_CRLF)
				return -EG_HTTP_ESTART_LINE;
			if (s + 1 >= len)
				return -EAGAIN;
			if (buf[s + 1] != '\n')
				return -EG_HTTP_EBARE_CR;
			s += 2;
		}
	}
	if (s >= len)
		return -EAGAIN;
	if (buf[s] == '\n')
		return -EG_HTTP_EBARE_LF;
	sp->start = s;

	/* The start line: looked for only within its limit (+ CRLF). */
	avail = len - s;
	lf = memchr(buf + s, '\n', EG_MIN(avail, (size_t)EG_HTTP_MAX_START_LINE + 2));
	if (!lf) {
		content = avail;
		if (buf[len - 1] == '\r')
			content--; /* may be the start of the CRLF */
		from = prev_len > s + 1 ? prev_len - 1 : s;
		to = s + EG_MIN(content, (size_t)EG_HTTP_MAX_START_LINE);
		if (from < to) {
			r = check_start_line_bytes(buf, from, to, response);
			if (r < 0)
				return r;
		}
		if (content > EG_HTTP_MAX_START_LINE)
			return -EG_HTTP_ESTART_LINE_TOO_LONG;
		return -EAGAIN;
	}
	if (lf == buf + s || lf[-1] != '\r') {
		/* bare LF ending the start line; its bytes are checked first so that a split
		 * or whole read give the same answer */
		size_t e = (size_t)(lf - buf);

		r = check_start_line_bytes(
		        buf, s, s + EG_MIN(e - s, (size_t)EG_HTTP_MAX_START_LINE), response);
		if (r < 0)
			return r;
		if (e - s > EG_HTTP_MAX_START_LINE)
			return -EG_HTTP_ESTART_LINE_TOO_LONG;
		return -EG_HTTP_EBARE_LF;
	}
	sp->line_end = (size_t)(lf - buf) - 1;
	r = check_start_line_bytes(
	        buf, s, s + EG_MIN(sp->line_end - s, (size_t)EG_HTTP_MAX_START_LINE), response);
	if (r < 0)
		return r;
	if (sp->line_end - s > EG_HTTP_MAX_START_LINE)
		return -EG_HTTP_ESTART_LINE_TOO_LONG;

	/* The field lines: every LF must follow a CR; an LF right after a line's LF + CR
	 * ends the head. */
	h = sp->line_end + 2;
	from = EG_MAX(h, prev_len);
	to = EG_MIN(len, h + EG_HTTP_MAX_FIELDS_SIZE + 2);
	while (from < to && (lf = memchr(buf + from, '\n', to - from))) {
		size_t i = (size_t)(lf - buf);

		if (i == h || buf[i - 1] != '\r')
			return -EG_HTTP_EBARE_LF;
		if (i == h + 1 || buf[i - 2] == '\n') {
			sp->end = i + 1;
			return 0;
		}
		from = i + 1;
	}
	/* the field lines are at least what arrived, less a CR that may open the final CRLF */
	if (len - h - (buf[len - 1] == '\r') > EG_HTTP_MAX_FIELDS_SIZE)
		return -EG_HTTP_EFIELDS_TOO_LARGE;
	return -EAGAIN;
}

/* What the field lines said, before the message kind decides the framing. */
struct fields_state {
	bool close, keep_alive_tok, upgrade_tok, has_upgrade;
	bool te, te_chunked_last, te_other;
	unsigned te_chunked;
	unsigned hosts;
	bool expect_other;
};

static int field_content_length(struct eg_http_head *h, struct eg_str v)
{
	struct list_it it = {v, false};
	struct eg_str e;

	while (list_iter(&it, &e)) {
		uint64_t n;

		/* 1*DIGIT, nothing else: no sign, no empty element, no hex */
		for (size_t i = 0; i < e.len; i++)
			if (!http_is_digit((unsigned char)e.ptr[i]))
				return -EG_HTTP_ECONTENT_LENGTH;
		if (eg_parse_u64(e, INT64_MAX, &n) < 0)
			return -EG_HTTP_ECONTENT_LENGTH;
		/* RFC 9110 §8.6: identical duplicates may be folded into one */
		if (h->has_content_length && h->content_length != n)
			return -EG_HTTP_ECONTENT_LENGTH_CONFLICT;
		h->has_content_length = true;
		h->content_length = n;
	}
	return 0;
}

static int field_transfer_encoding(struct fields_state *st, struct eg_str v)
{
	struct list_it it = {v, false};
	struct eg_str e;

	st->te = true;
	while (list_iter(&it, &e)) {
		/* a bare token: no parameters, no empty elements (nothing legitimate sends
		 * them, and every oddity here is a smuggling vector) */
		if (!http_is_token(e))
			return -EG_HTTP_ETRANSFER_ENCODING;
		if (eg_str_caseeq(e, EG_STR("chunked"))) {
			st->te_chunked++;
			st->te_chunked_last = true;
		} else {
			st->te_other = true;
			st->te_chunked_last = false;
		}
	}
	return 0;
}

static int field_connection(struct eg_http_head *h, struct fields_state *st, struct eg_str v)
{
	struct list_it it = {v, false};
	struct eg_str e;

	while (list_iter(&it, &e)) {
		if (!e.len)
			continue; /* RFC 9110 §5.6.1: empty list elements are ignored */
		if (!http_is_token(e) || h->n_conn_tokens == EG_HTTP_MAX_CONN_TOKENS)
			return -EG_HTTP_ECONNECTION;
		h->conn_tokens[h->n_conn_tokens++] = e;
		if (eg_str_caseeq(e, EG_STR("close")))
			st->close = true;
		else if (eg_str_caseeq(e, EG_STR("keep-alive")))
			st->keep_alive_tok = true;
		else if (eg_str_caseeq(e, EG_STR("upgrade")))
			st->upgrade_tok = true;
	}
	return 0;
}

/* Parses one field line [p, end) (end = its CR) into @f. */
static int parse_field_line(const char *p, const char *end, struct eg_http_header *f)
{
	const char *q = p, *v, *ve;

	if (http_is_ows((unsigned char)*p))
		return -EG_HTTP_EOBS_FOLD; /* obs-fold, or whitespace after the start line */
	while (q < end && http_is_tchar((unsigned char)*q))
		q++;
	if (q == end)
		return -EG_HTTP_ENO_COLON;
	if (*q != ':') {
		if (*q == '\r')
			return -EG_HTTP_EBARE_CR;
		if (q > p && http_is_ows((unsigned char)*q)) {
			const char *w = q;

			while (w < end && http_is_ows((unsigned char)*w))
				w++;
			if (w < end && *w == ':')
				return -EG_HTTP_EWS_BEFORE_COLON;
		}
		return memchr(q, ':', (size_t)(end - q)) ? -EG_HTTP_EFIELD_NAME
		                                         : -EG_HTTP_ENO_COLON;
	}
	if (q == p)
		return -EG_HTTP_EFIELD_NAME;
	f->name = (struct eg_str){p, (size_t)(q - p)};
	v = q + 1;
	while (v < end && http_is_ows((unsigned char)*v))
		v++;
	ve = http_scan_value(v, end);
	if (ve != end)
		return *ve == '\r' ? -EG_HTTP_EBARE_CR : -EG_HTTP_EFIELD_VALUE;
	ve = end;
	while (ve > v && http_is_ows((unsigned char)ve[-1]))
		ve--;
	f->value = (struct eg_str){v, (size_t)(ve - v)};
	return 0;
}

/* Field lines of [from, to) (to = offset of the final CRLF); fills @h and @st. @req is the
 * request being parsed, or NULL for a response. */
static int parse_fields(const char *buf, size_t from, size_t to, struct eg_http_header *hdrs,
                        size_t max_hdrs, struct eg_http_head *h, struct fields_state *st,
                        struct eg_http_req *req)
{
	size_t max = EG_MIN(max_hdrs, (size_t)EG_HTTP_MAX_FIELDS);
	const char *p = buf + from, *end = buf + to;
	int r;

	if (to - from > EG_HTTP_MAX_FIELDS_SIZE)
		return -EG_HTTP_EFIELDS_TOO_LARGE;
	while (p < end) {
		/* the pre-scan guarantees every line ends in CRLF */
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		const char *cr;
		struct eg_http_header *f;

		if (!lf || lf == p)
			return -EG_HTTP_EBARE_LF;
		cr = lf - 1;
		/* a folded continuation refuses the field before its value is read, so
		 * "Transfer-Encoding:\r\n chunked" is named for what it is */
		if (lf + 1 < end && http_is_ows((unsigned char)lf[1]))
			return -EG_HTTP_EOBS_FOLD;
		if (h->n_headers == max)
			return -EG_HTTP_ETOO_MANY_FIELDS;
		f = &hdrs[h->n_headers];
		r = parse_field_line(p, cr, f);
		if (r < 0)
			return r;
		h->n_headers++;
		p = cr + 2;
		switch (http_field_kind(f->name)) {
		case HF_HOST:
			if (!req)
				break;
			if (++st->hosts > 1)
				return -EG_HTTP_EMULTIPLE_HOST;
			req->has_host = true;
			req->host = f->value;
			r = eg_http_parse_authority(f->value, &req->host_auth);
			if (r < 0)
				return r;
			break;
		case HF_EXPECT:
			if (!req)
				break;
			if (eg_str_caseeq(f->value, EG_STR("100-continue")))
				h->expect_continue = true;
			else if (f->value.len)
				st->expect_other = true;
			break;
		case HF_UPGRADE:
			if (!st->has_upgrade) {
				st->has_upgrade = true;
				h->upgrade_value = f->value;
			}
			break;
		case HF_CONNECTION:
			r = field_connection(h, st, f->value);
			if (r < 0)
				return r;
			break;
		case HF_CONTENT_LENGTH:
			r = field_content_length(h, f->value);
			if (r < 0)
				return r;
			break;
		case HF_TRANSFER_ENCODING:
			r = field_transfer_encoding(st, f->value);
			if (r < 0)
				return r;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* Transfer-Encoding rules shared by requests and responses (RFC 9112 §6.1, §6.3). */
static int check_transfer_encoding(const struct eg_http_head *h, const struct fields_state *st)
{
	if (!st->te)
		return 0;
	if (h->has_content_length)
		return -EG_HTTP_ECL_AND_TE;
	if (h->version == 10)
		return -EG_HTTP_ETE_HTTP10;
	if (!st->te_chunked_last || st->te_chunked != 1)
		return -EG_HTTP_ETRANSFER_ENCODING;
	if (st->te_other)
		return -EG_HTTP_ETE_UNSUPPORTED;
	return 0;
}

/* "HTTP/1.1" -> 11. */
static int parse_version(struct eg_str v, unsigned *ret)
{
	if (v.len != 8 || memcmp(v.ptr, "HTTP/", 5) != 0 ||
	    !http_is_digit((unsigned char)v.ptr[5]) || v.ptr[6] != '.' ||
	    !http_is_digit((unsigned char)v.ptr[7]))
		return -EG_HTTP_EVERSION;
	if (v.ptr[5] == '1' && (v.ptr[7] == '1' || v.ptr[7] == '0')) {
		*ret = v.ptr[7] == '1' ? 11 : 10;
		return 0;
	}
	return -EG_HTTP_EVERSION_UNSUPPORTED;
}

static void finish_connection(struct eg_http_head *h, const struct fields_state *st)
{
	if (h->version == 11)
		h->keep_alive = !st->close;
	else
		h->keep_alive = st->keep_alive_tok && !st->close;
	/* RFC 9110 §7.8: Upgrade counts only with "Connection: upgrade", and not in 1.0 */
	h->upgrade = h->version == 11 && st->has_upgrade && st->upgrade_tok;
}

/* ---- requests ---------------------------------------------------------------------------- */

static int parse_request_line(const char *line, size_t n, struct eg_http_req *req)
{
	const char *sp1, *sp2;
	struct eg_str version;
	size_t i;
	int r;

	sp1 = memchr(line, ' ', n);
	if (!sp1 || sp1 == line)
		return -EG_HTTP_ESTART_LINE;
	req->method_text = (struct eg_str){line, (size_t)(sp1 - line)};
	for (i = 0; i < req->method_text.len; i++)
		if (!http_is_tchar((unsigned char)line[i]))
			return -EG_HTTP_EMETHOD;
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line));
	if (!sp2 || sp2 == sp1 + 1)
		return -EG_HTTP_ESTART_LINE; /* HTTP/0.9 "GET /", or two spaces */
	req->target = (struct eg_str){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
	version = (struct eg_str){sp2 + 1, n - (size_t)(sp2 + 1 - line)};
	if (memchr(version.ptr, ' ', version.len))
		return -EG_HTTP_ESTART_LINE;
	r = parse_version(version, &req->h.version);
	if (r < 0)
		return r;
	req->method = method_lookup(req->method_text);
	return parse_target(req);
}

static int finish_request(struct eg_http_req *req, const struct fields_state *st)
{
	struct eg_http_head *h = &req->h;
	int r;

	if (h->version == 11 && !req->has_host)
		return -EG_HTTP_ENO_HOST;
	if (h->version == 11 && st->expect_other)
		return -EG_HTTP_EEXPECT;
	if (h->version == 10)
		h->expect_continue = false; /* RFC 9110 §10.1.1: ignored in HTTP/1.0 */
	r = check_transfer_encoding(h, st);
	if (r < 0)
		return r;
	if (req->method == EG_HTTP_CONNECT) {
		/* RFC 9110 §9.3.6: a CONNECT request has no content; bytes after its head
		 * belong to the tunnel */
		if (st->te || (h->has_content_length && h->content_length))
			return -EG_HTTP_EBODY_NOT_ALLOWED;
		h->body = EG_HTTP_BODY_NONE;
	} else if (st->te) {
		h->body = EG_HTTP_BODY_CHUNKED;
	} else if (h->has_content_length) {
		h->body = EG_HTTP_BODY_LENGTH;
	} else {
		h->body = EG_HTTP_BODY_NONE;
	}
	if (req->form == EG_HTTP_ORIGIN_FORM || req->form == EG_HTTP_ASTERISK_FORM)
		req->dest = req->host_auth;
	finish_connection(h, st);
	return 0;
}

ssize_t eg_http_parse_request(const char *buf, size_t len, size_t prev_len,
                              struct eg_http_header *hdrs, size_t max_hdrs, struct eg_http_req *ret)
{
	struct fields_state st = {0};
	struct head_span sp;
	int r;

	if (!buf || !ret || (!hdrs && max_hdrs))
		return -EINVAL;
	r = scan_head(buf, len, prev_len, false, &sp);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	ret->h.headers = hdrs;
	r = parse_request_line(buf + sp.start, sp.line_end - sp.start, ret);
	if (r < 0)
		return r;
	r = parse_fields(buf, sp.line_end + 2, sp.end - 2, hdrs, max_hdrs, &ret->h, &st, ret);
	if (r < 0)
		return r;
	r = finish_request(ret, &st);
	if (r < 0)
		return r;
	ret->h.len = sp.end;
	return (ssize_t)sp.end;
}

/* ---- responses -------------------------------------------------------------------------- */

static int parse_status_line(const char *line, size_t n, struct eg_http_resp *resp)
{
	struct eg_str version;
	const char *sp = memchr(line, ' ', n);
	int r;

	if (!sp)
		return -EG_HTTP_ESTART_LINE;
	version = (struct eg_str){line, (size_t)(sp - line)};
	r = parse_version(version, &resp->h.version);
	if (r < 0)
		return r;
	n -= (size_t)(sp + 1 - line);
	line = sp + 1;
	if (n < 3 || !http_is_digit((unsigned char)line[0]) ||
	    !http_is_digit((unsigned char)line[1]) || !http_is_digit((unsigned char)line[2]))
		return -EG_HTTP_ESTART_LINE;
	resp->status = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (resp->status < 100 || resp->status > 599)
		return -EG_HTTP_ESTATUS;
	/* "HTTP/1.1 200\r\n" (no SP, no reason) is common enough and harmless: accepted */
	if (n == 3) {
		resp->reason = (struct eg_str){line + 3, 0};
		return 0;
	}
	if (line[3] != ' ')
		return -EG_HTTP_ESTART_LINE;
	resp->reason = (struct eg_str){line + 4, n - 4};
	return 0;
}

static void finish_response(struct eg_http_resp *resp, const struct fields_state *st,
                            enum eg_http_method req_method)
{
	struct eg_http_head *h = &resp->h;
	int s = resp->status;

	if (req_method == EG_HTTP_HEAD || s < 200 || s == 204 || s == 304)
		h->body = EG_HTTP_BODY_NONE;
	else if (req_method == EG_HTTP_CONNECT && s < 300)
		h->body = EG_HTTP_BODY_NONE; /* the tunnel starts after the head */
	else if (st->te)
		h->body = EG_HTTP_BODY_CHUNKED;
	else if (h->has_content_length)
		h->body = EG_HTTP_BODY_LENGTH;
	else
		h->body = EG_HTTP_BODY_UNTIL_CLOSE;
	resp->interim = s < 200 && s != 101;
	finish_connection(h, st);
	if (h->body == EG_HTTP_BODY_UNTIL_CLOSE)
		h->keep_alive = false;
}

ssize_t eg_http_parse_response(const char *buf, size_t len, size_t prev_len,
                               struct eg_http_header *hdrs, size_t max_hdrs,
                               enum eg_http_method req_method, struct eg_http_resp *ret)
{
	struct fields_state st = {0};
	struct head_span sp;
	int r;

	if (!buf || !ret || (!hdrs && max_hdrs))
		return -EINVAL;
	r = scan_head(buf, len, prev_len, true, &sp);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	ret->h.headers = hdrs;
	r = parse_status_line(buf + sp.start, sp.line_end - sp.start, ret);
	if (r < 0)
		return r;
	r = parse_fields(buf, sp.line_end + 2, sp.end - 2, hdrs, max_hdrs, &ret->h, &st, NULL);
	if (r < 0)
		return r;
	/* A strict gateway refuses a response whose framing it would have to guess, even
	 * where RFC 9112 lets a client fall back to reading until close. */
	r = check_transfer_encoding(&ret->h, &st);
	if (r < 0)
		return r;
	finish_response(ret, &st, req_method);
	ret->h.len = sp.end;
	return (ssize_t)sp.end;
}

/* ---- hop-by-hop --------------------------------------------------------------------------- */

bool eg_http_is_hop_by_hop(const struct eg_http_head *h, struct eg_str name)
{
	if (http_kind_is_hop(http_field_kind(name)))
		return true;
	for (size_t i = 0; h && i < h->n_conn_tokens; i++)
		if (eg_str_caseeq(name, h->conn_tokens[i]))
			return true;
	return false;
}
