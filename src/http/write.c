/* src/http/write.c: serializes a parsed head for forwarding (hop-by-hop fields dropped,
 * framing made canonical, x-forwarded-* and x-request-id as Envoy sets them), responses made
 * here, and x-request-id / UUIDv4 generation. Pure apart from growing the caller's eg_buf. */
#include "http/http.h"

#include <errno.h>
#include <inttypes.h>

#include "core/compiler.h"
#include "http/http-int.h"

/* ---- x-request-id ---------------------------------------------------------------------- */

void eg_http_uuid4(const uint8_t random16[16], char out[EG_HTTP_UUID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	size_t n = 0;

	memcpy(b, random16, 16);
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10xx (RFC 9562) */
	for (unsigned i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[n++] = '-';
		out[n++] = hex[b[i] >> 4];
		out[n++] = hex[b[i] & 15];
	}
	out[n] = '\0';
}

static bool request_id_valid(struct eg_str v)
{
	if (v.len == 0 || v.len > EG_HTTP_MAX_REQUEST_ID)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.ptr[i];

		if (!(http_is_alpha(c) || http_is_digit(c) || c == '-' || c == '_' || c == '.' ||
		      c == ':' || c == '+' || c == '/' || c == '='))
			return false;
	}
	return true;
}

int eg_http_request_id(const struct eg_http_req *req, const uint8_t random16[16], bool regenerate,
                       char *out, size_t cap)
{
	struct eg_str found = {NULL, 0};
	unsigned count = 0;

	for (size_t i = 0; req && i < req->h.n_headers; i++) {
		if (http_field_kind(req->h.headers[i].name) == HF_REQUEST_ID) {
			found = req->h.headers[i].value;
			count++;
		}
	}
	if (!regenerate && count == 1 && request_id_valid(found)) {
		if (found.len >= cap)
			return -E2BIG;
		memcpy(out, found.ptr, found.len);
		out[found.len] = '\0';
		return (int)found.len;
	}
	if (!random16)
		return -EINVAL;
	if (cap < EG_HTTP_UUID_LEN + 1)
		return -E2BIG;
	eg_http_uuid4(random16, out);
	return EG_HTTP_UUID_LEN;
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* A value we may write: no CR, LF or other CTL (so nothing can inject a field line), no
 * leading or trailing whitespace. */
static bool value_ok(struct eg_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if (!http_is_field_vchar((unsigned char)s.ptr[i]))
			return false;
	return !s.len || (!http_is_ows((unsigned char)s.ptr[0]) &&
	                  !http_is_ows((unsigned char)s.ptr[s.len - 1]));
}

static int put(struct eg_buf *b, struct eg_str s)
{
	return eg_buf_append(b, s.ptr, s.len);
}

/* "name: value\r\n" with one reservation (the per-field cost of a forwarded head). */
static int put_field(struct eg_buf *b, struct eg_str name, struct eg_str value)
{
	size_t n = name.len + value.len + 4;
	char *p;
	int r;

	if (name.len > b->max || value.len > b->max)
		return -E2BIG;
	r = eg_buf_reserve(b, n);
	if (r < 0)
		return r;
	p = b->data + b->len;
	memcpy(p, name.ptr, name.len);
	p += name.len;
	*p++ = ':';
	*p++ = ' ';
	if (value.len)
		memcpy(p, value.ptr, value.len);
	p += value.len;
	*p++ = '\r';
	*p++ = '\n';
	*p = '\0';
	b->len += n;
	return 0;
}

static bool in_list(struct eg_str name, const struct eg_str *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		if (eg_str_caseeq(name, list[i]))
			return true;
	return false;
}

static int check_fwd(const struct eg_http_fwd *fwd)
{
	if (!value_ok(fwd->xff_append) || !value_ok(fwd->xfp) || !value_ok(fwd->request_id) ||
	    !value_ok(fwd->host))
		return -EINVAL;
	if ((fwd->n_drop && !fwd->drop) || (fwd->n_add && !fwd->add))
		return -EINVAL;
	for (size_t i = 0; i < fwd->n_add; i++)
		if (!http_is_token(fwd->add[i].name) || !value_ok(fwd->add[i].value))
			return -EINVAL;
	return 0;
}

/* Fields of @h that pass to the next hop, in order, skipping those the writer owns; the
 * XFF list is written (joined, with @fwd->xff_append) where the first one stood. */
static int put_end_to_end(struct eg_buf *out, const struct eg_http_head *h,
                          const struct eg_http_fwd *fwd, bool request, bool *xff_done,
                          bool *has_xfp)
{
	bool keep_upgrade = fwd->keep_upgrade && h->upgrade;
	int r;

	for (size_t i = 0; i < h->n_headers; i++) {
		struct eg_str n = h->headers[i].name;
		enum http_field k = http_field_kind(n);

		if (keep_upgrade && k == HF_UPGRADE) {
			if ((r = put_field(out, n, h->headers[i].value)) < 0)
				return r;
			continue;
		}
		if (http_kind_is_hop(k) || k == HF_CONTENT_LENGTH ||
		    in_list(n, h->conn_tokens, h->n_conn_tokens) ||
		    in_list(n, fwd->drop, fwd->n_drop))
			continue;
		if (fwd->request_id.len && k == HF_REQUEST_ID)
			continue;
		if (request && k == HF_HOST)
			continue;
		/* ignored in an HTTP/1.0 request (RFC 9110 §10.1.1); the upstream speaks 1.1 */
		if (request && h->version == 10 && k == HF_EXPECT)
			continue;
		if (request && k == HF_XFP) {
			*has_xfp = true;
			if (fwd->xfp.len && fwd->xfp_overwrite)
				continue;
		}
		if (request && fwd->xff_append.len && k == HF_XFF) {
			bool first = true;

			if (*xff_done)
				continue;
			/* Envoy appends to the list; all incoming fields become one */
			if ((r = put(out, n)) < 0 || (r = eg_buf_append(out, ": ", 2)) < 0)
				return r;
			for (size_t j = i; j < h->n_headers; j++) {
				struct eg_str v = h->headers[j].value;

				if (http_field_kind(h->headers[j].name) != HF_XFF || !v.len)
					continue;
				if ((!first && (r = eg_buf_append(out, ", ", 2)) < 0) ||
				    (r = put(out, v)) < 0)
					return r;
				first = false;
			}
			if ((!first && (r = eg_buf_append(out, ", ", 2)) < 0) ||
			    (r = put(out, fwd->xff_append)) < 0 ||
			    (r = eg_buf_append(out, "\r\n", 2)) < 0)
				return r;
			*xff_done = true;
			continue;
		}
		if ((r = put_field(out, n, h->headers[i].value)) < 0)
			return r;
	}
	return 0;
}

/* Framing, Connection, x-request-id and the added fields, then the empty line. */
static int put_tail(struct eg_buf *out, const struct eg_http_head *h, const struct eg_http_fwd *fwd,
                    bool cl, bool chunked)
{
	char num[24];
	int r, n;

	if (cl) {
		n = snprintf(num, sizeof(num), "%" PRIu64, h->content_length);
		if (n < 0 || (size_t)n >= sizeof(num))
			return -EINVAL;
		if ((r = put_field(out, EG_STR("content-length"),
		                   (struct eg_str){num, (size_t)n})) < 0)
			return r;
	}
	if (chunked && (r = put_field(out, EG_STR("transfer-encoding"), EG_STR("chunked"))) < 0)
		return r;
	if (fwd->keep_upgrade && h->upgrade) {
		r = put_field(out, EG_STR("connection"), EG_STR("upgrade"));
	} else if (fwd->connection == EG_HTTP_CONN_CLOSE) {
		r = put_field(out, EG_STR("connection"), EG_STR("close"));
	} else if (fwd->connection == EG_HTTP_CONN_KEEP_ALIVE) {
		r = put_field(out, EG_STR("connection"), EG_STR("keep-alive"));
	} else {
		r = 0;
	}
	if (r < 0)
		return r;
	if (fwd->request_id.len &&
	    (r = put_field(out, EG_STR("x-request-id"), fwd->request_id)) < 0)
		return r;
	for (size_t i = 0; i < fwd->n_add; i++)
		if ((r = put_field(out, fwd->add[i].name, fwd->add[i].value)) < 0)
			return r;
	return eg_buf_append(out, "\r\n", 2);
}

static int restore(struct eg_buf *out, size_t mark, int r)
{
	out->len = mark;
	if (out->data)
		out->data[mark] = '\0';
	return r;
}

/* ---- requests ---------------------------------------------------------------------------- */

static int put_request_line(struct eg_buf *out, const struct eg_http_req *req,
                            const struct eg_http_fwd *fwd)
{
	int r;

	if ((r = put(out, req->method_text)) < 0 || (r = eg_buf_putc(out, ' ')) < 0)
		return r;
	if (req->form == EG_HTTP_ABSOLUTE_FORM && !fwd->keep_absolute_form) {
		/* origin-form for the origin server (RFC 9112 §3.2.1): what follows the
		 * authority, with "/" for an empty path */
		const char *rest = req->authority.ptr + req->authority.len;
		size_t n = req->target.len - (size_t)(rest - req->target.ptr);

		if ((n == 0 || rest[0] == '?') && (r = eg_buf_putc(out, '/')) < 0)
			return r;
		r = eg_buf_append(out, rest, n);
	} else {
		r = put(out, req->target);
	}
	if (r < 0)
		return r;
	return eg_buf_append(out, " HTTP/1.1\r\n", 11);
}

int eg_http_write_request(struct eg_buf *out, const struct eg_http_req *req,
                          const struct eg_http_fwd *fwd)
{
	static const struct eg_http_fwd none;
	size_t mark;
	bool xff_done = false, has_xfp = false;
	struct eg_str host;
	int r;

	if (!out || !req)
		return -EINVAL;
	if (!fwd)
		fwd = &none;
	r = check_fwd(fwd);
	if (r < 0)
		return r;
	mark = out->len;
	if ((r = put_request_line(out, req, fwd)) < 0)
		return restore(out, mark, r);
	/* Host first (RFC 9112 §3.2): the rewrite, else the destination as the client
	 * named it (the target's authority in absolute- and authority-form). */
	if (fwd->host.len)
		host = fwd->host;
	else if (req->form == EG_HTTP_ABSOLUTE_FORM || req->form == EG_HTTP_AUTHORITY_FORM)
		host = req->authority;
	else
		host = req->host; /* may be empty: HTTP/1.0 without Host */
	if ((r = put_field(out, EG_STR("host"), host)) < 0)
		return restore(out, mark, r);
	if ((r = put_end_to_end(out, &req->h, fwd, true, &xff_done, &has_xfp)) < 0)
		return restore(out, mark, r);
	if (fwd->xff_append.len && !xff_done &&
	    (r = put_field(out, EG_STR("x-forwarded-for"), fwd->xff_append)) < 0)
		return restore(out, mark, r);
	if (fwd->xfp.len && (fwd->xfp_overwrite || !has_xfp) &&
	    (r = put_field(out, EG_STR("x-forwarded-proto"), fwd->xfp)) < 0)
		return restore(out, mark, r);
	r = put_tail(out, &req->h, fwd, req->h.body == EG_HTTP_BODY_LENGTH,
	             req->h.body == EG_HTTP_BODY_CHUNKED);
	if (r < 0)
		return restore(out, mark, r);
	return 0;
}

/* ---- responses ------------------------------------------------------------------------- */

static int put_status_line(struct eg_buf *out, int status, struct eg_str reason)
{
	char line[16];
	int n = snprintf(line, sizeof(line), "HTTP/1.1 %03d ", status);
	int r;

	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	if ((r = eg_buf_append(out, line, (size_t)n)) < 0 || (r = put(out, reason)) < 0)
		return r;
	return eg_buf_append(out, "\r\n", 2);
}

int eg_http_write_response(struct eg_buf *out, const struct eg_http_resp *resp,
                           const struct eg_http_fwd *fwd)
{
	static const struct eg_http_fwd none;
	const struct eg_http_head *h;
	struct eg_str reason;
	bool xff_done = false, has_xfp = false, cl, chunked;
	size_t mark;
	int r;

	if (!out || !resp || resp->status < 100 || resp->status > 599)
		return -EINVAL;
	if (!fwd)
		fwd = &none;
	r = check_fwd(fwd);
	if (r < 0)
		return r;
	h = &resp->h;
	reason = resp->reason.len ? resp->reason : eg_str_c(eg_http_status_reason(resp->status));
	/* RFC 9110 §8.6: no Content-Length in 1xx or 204; a HEAD or 304 response keeps the
	 * one it had (it describes the representation, not this message) */
	cl = h->has_content_length && resp->status >= 200 && resp->status != 204;
	chunked = h->body == EG_HTTP_BODY_CHUNKED ||
	          (h->body == EG_HTTP_BODY_UNTIL_CLOSE && fwd->chunk_until_close);
	if (chunked)
		cl = false;
	mark = out->len;
	if ((r = put_status_line(out, resp->status, reason)) < 0 ||
	    (r = put_end_to_end(out, h, fwd, false, &xff_done, &has_xfp)) < 0 ||
	    (r = put_tail(out, h, fwd, cl, chunked)) < 0)
		return restore(out, mark, r);
	return 0;
}

const char *eg_http_status_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 417:
		return "Expectation Failed";
	case 426:
		return "Upgrade Required";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "";
	}
}

int eg_http_write_simple_response(struct eg_buf *out, int status, const struct eg_http_header *add,
                                  size_t n_add, struct eg_str body, bool close)
{
	struct eg_http_fwd fwd = {.add = add, .n_add = n_add};
	struct eg_http_head h = {.has_content_length = true, .content_length = body.len};
	size_t mark;
	int r;

	if (!out || status < 100 || status > 599 || (body.len && !body.ptr))
		return -EINVAL;
	if (body.len && (status < 200 || status == 204 || status == 304))
		return -EINVAL; /* these never carry content (RFC 9110 §6.4.1) */
	fwd.connection = close ? EG_HTTP_CONN_CLOSE : EG_HTTP_CONN_DEFAULT;
	r = check_fwd(&fwd);
	if (r < 0)
		return r;
	mark = out->len;
	if ((r = put_status_line(out, status, eg_str_c(eg_http_status_reason(status)))) < 0)
		return restore(out, mark, r);
	if (body.len &&
	    (r = put_field(out, EG_STR("content-type"), EG_STR("text/plain; charset=utf-8"))) < 0)
		return restore(out, mark, r);
	if ((r = put_tail(out, &h, &fwd, status >= 200 && status != 204 && status != 304, false)) <
	            0 ||
	    (r = put(out, body)) < 0)
		return restore(out, mark, r);
	return 0;
}
