/* tests/unit/test_http.c: the request and response head parser (src/http/parse.c).
 * Every input is parsed from an exact-size heap copy with no terminator after it, so
 * AddressSanitizer fails the test if the parser reads one byte past what it was given. */
#include "../../src/http/parse.c"

#include <stdlib.h>
#include <time.h>

#include "eg_test.h"

static char *g_copy;
static size_t g_copy_len;
static struct eg_http_header g_hdrs[EG_HTTP_MAX_FIELDS];
static struct eg_http_req g_req;
static struct eg_http_resp g_resp;

/* An exact-size heap copy of @s (freed at the next call). */
static char *copy(const char *s, size_t n)
{
	free(g_copy);
	g_copy = malloc(n ? n : 1);
	if (!g_copy)
		abort();
	if (n)
		memcpy(g_copy, s, n);
	g_copy_len = n;
	return g_copy;
}

static ssize_t req_n(const char *s, size_t n)
{
	char *c = copy(s, n);

	return eg_http_parse_request(c, n, 0, g_hdrs, EG_HTTP_MAX_FIELDS, &g_req);
}

static ssize_t resp_n(const char *s, size_t n, enum eg_http_method m)
{
	char *c = copy(s, n);

	return eg_http_parse_response(c, n, 0, g_hdrs, EG_HTTP_MAX_FIELDS, m, &g_resp);
}

#define REQ(lit)            req_n(lit, sizeof(lit) - 1)
#define RESP(lit)           resp_n(lit, sizeof(lit) - 1, EG_HTTP_GET)
#define RESP_TO(m, lit)     resp_n(lit, sizeof(lit) - 1, m)
#define LEN(lit)            ((ssize_t)(sizeof(lit) - 1))
#define EG_ASSERT_ERR(r, e) EG_ASSERT_STR_EQ(eg_http_err_reason((int)(r)), eg_http_err_reason(-(e)))

/* A slice as a C string (rotating static buffers, enough for one assertion's operands). */
static const char *sl(struct eg_str s)
{
	static char bufs[4][512];
	static unsigned k;
	char *b = bufs[k++ % 4];

	if (!s.ptr)
		return "(null)";
	snprintf(b, sizeof(bufs[0]), "%.*s", (int)s.len, s.ptr);
	return b;
}

/* ---- request lines and targets ------------------------------------------------------------ */

EG_TEST(http_get_origin_form)
{
	EG_ASSERT_EQ(REQ("GET /a/b?x=1&y HTTP/1.1\r\nHost: Example.com\r\nAccept: */*\r\n\r\n"),
	             LEN("GET /a/b?x=1&y HTTP/1.1\r\nHost: Example.com\r\nAccept: */*\r\n\r\n"));
	EG_ASSERT_EQ(g_req.method, EG_HTTP_GET);
	EG_ASSERT_STR_EQ(sl(g_req.method_text), "GET");
	EG_ASSERT_EQ(g_req.form, EG_HTTP_ORIGIN_FORM);
	EG_ASSERT_STR_EQ(sl(g_req.target), "/a/b?x=1&y");
	EG_ASSERT_STR_EQ(sl(g_req.path), "/a/b");
	EG_ASSERT_STR_EQ(sl(g_req.query), "x=1&y");
	EG_ASSERT_EQ(g_req.h.version, 11);
	EG_ASSERT_EQ(g_req.h.n_headers, 2);
	EG_ASSERT_STR_EQ(sl(g_req.h.headers[1].name), "Accept");
	EG_ASSERT_STR_EQ(sl(g_req.h.headers[1].value), "*/*");
	EG_ASSERT(g_req.has_host);
	EG_ASSERT_STR_EQ(sl(g_req.dest.host), "Example.com");
	EG_ASSERT_EQ(g_req.dest.port, 0);
	EG_ASSERT_EQ(g_req.h.body, EG_HTTP_BODY_NONE);
	EG_ASSERT(g_req.h.keep_alive);
	EG_ASSERT(!g_req.h.expect_continue);
	EG_ASSERT(!g_req.h.upgrade);
	EG_ASSERT(!eg_http_req_host_mismatch(&g_req));
}

EG_TEST(http_query_absent_and_empty)
{
	EG_ASSERT(REQ("GET /p HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	EG_ASSERT(g_req.query.ptr == NULL);
	EG_ASSERT(REQ("GET /p? HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	EG_ASSERT(g_req.query.ptr != NULL);
	EG_ASSERT_EQ(g_req.query.len, 0);
	EG_ASSERT(REQ("GET /?a=b?c/d:@!$&'()*+,;= HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	EG_ASSERT_STR_EQ(sl(g_req.query), "a=b?c/d:@!$&'()*+,;=");
}

EG_TEST(http_field_values_trimmed)
{
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nHost:h\r\nA:  \t x y \t \r\nB:\r\nC: \xe9t\xe9\r\n\r\n") >
	          0);
	EG_ASSERT_STR_EQ(sl(g_req.h.headers[0].value), "h");
	EG_ASSERT_STR_EQ(sl(g_req.h.headers[1].value), "x y");
	EG_ASSERT_EQ(g_req.h.headers[2].value.len, 0);
	EG_ASSERT_STR_EQ(sl(g_req.h.headers[3].value), "\xe9t\xe9"); /* obs-text is allowed */
}

EG_TEST(http_absolute_form)
{
	EG_ASSERT(
	        REQ("GET http://Example.COM:8080/a?b HTTP/1.1\r\nHost: example.com:8080\r\n\r\n") >
	        0);
	EG_ASSERT_EQ(g_req.form, EG_HTTP_ABSOLUTE_FORM);
	EG_ASSERT_STR_EQ(sl(g_req.scheme), "http");
	EG_ASSERT_STR_EQ(sl(g_req.authority), "Example.COM:8080");
	EG_ASSERT_STR_EQ(sl(g_req.dest.host), "Example.COM");
	EG_ASSERT_EQ(g_req.dest.port, 8080);
	EG_ASSERT_STR_EQ(sl(g_req.path), "/a");
	EG_ASSERT_STR_EQ(sl(g_req.query), "b");
	EG_ASSERT(!eg_http_req_host_mismatch(&g_req));

	EG_ASSERT(REQ("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.path.len, 0);
	EG_ASSERT(g_req.query.ptr == NULL);
	EG_ASSERT(REQ("GET HTTPS://h?x HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	EG_ASSERT_STR_EQ(sl(g_req.scheme), "HTTPS");
	EG_ASSERT_EQ(g_req.path.len, 0);
	EG_ASSERT_STR_EQ(sl(g_req.query), "x");
}

EG_TEST(http_absolute_form_refusals)
{
	EG_ASSERT_ERR(REQ("GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ESCHEME);
	EG_ASSERT_ERR(REQ("GET ws://h/ HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ESCHEME);
	EG_ASSERT_ERR(REQ("GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EUSERINFO);
	EG_ASSERT_ERR(REQ("GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EAUTHORITY);
	EG_ASSERT_ERR(REQ("GET http://h:0/ HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EAUTHORITY);
	EG_ASSERT_ERR(REQ("GET http://h:/ HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EAUTHORITY);
	EG_ASSERT_ERR(REQ("GET http://h%41/ HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EAUTHORITY);
	EG_ASSERT_ERR(REQ("GET http://h/#frag HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ETARGET);
	EG_ASSERT_ERR(REQ("GET http://h#frag HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ETARGET);
	EG_ASSERT_ERR(REQ("CONNECT http://h/ HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ETARGET_FORM);
}

EG_TEST(http_host_mismatch)
{
	EG_ASSERT(REQ("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n") > 0);
	EG_ASSERT(eg_http_req_host_mismatch(&g_req));
	/* default port of the scheme, case of the host */
	EG_ASSERT(REQ("GET http://A.example/ HTTP/1.1\r\nHost: a.EXAMPLE:80\r\n\r\n") > 0);
	EG_ASSERT(!eg_http_req_host_mismatch(&g_req));
	EG_ASSERT(REQ("GET https://a/ HTTP/1.1\r\nHost: a:443\r\n\r\n") > 0);
	EG_ASSERT(!eg_http_req_host_mismatch(&g_req));
	EG_ASSERT(REQ("GET https://a/ HTTP/1.1\r\nHost: a:80\r\n\r\n") > 0);
	EG_ASSERT(eg_http_req_host_mismatch(&g_req));
	EG_ASSERT(REQ("GET http://a:8080/ HTTP/1.1\r\nHost: a\r\n\r\n") > 0);
	EG_ASSERT(eg_http_req_host_mismatch(&g_req));
	EG_ASSERT(REQ("GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n") > 0);
	EG_ASSERT(eg_http_req_host_mismatch(&g_req));
	/* HTTP/1.0 without Host: nothing to compare */
	EG_ASSERT(REQ("GET http://a/ HTTP/1.0\r\n\r\n") > 0);
	EG_ASSERT(!eg_http_req_host_mismatch(&g_req));
	/* origin-form has one authority only */
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nHost: b\r\n\r\n") > 0);
	EG_ASSERT(!eg_http_req_host_mismatch(&g_req));
	/* CONNECT: port compared only when Host has one */
	EG_ASSERT(REQ("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n") > 0);
	EG_ASSERT(!eg_http_req_host_mismatch(&g_req));
	EG_ASSERT(REQ("CONNECT a:443 HTTP/1.1\r\nHost: a:8443\r\n\r\n") > 0);
	EG_ASSERT(eg_http_req_host_mismatch(&g_req));
	EG_ASSERT(REQ("CONNECT a:443 HTTP/1.1\r\nHost: b:443\r\n\r\n") > 0);
	EG_ASSERT(eg_http_req_host_mismatch(&g_req));
}

EG_TEST(http_authority_form_connect_only)
{
	EG_ASSERT(REQ("CONNECT edition.cnn.com:443 HTTP/1.1\r\nHost: edition.cnn.com:443\r\n\r\n") >
	          0);
	EG_ASSERT_EQ(g_req.method, EG_HTTP_CONNECT);
	EG_ASSERT_EQ(g_req.form, EG_HTTP_AUTHORITY_FORM);
	EG_ASSERT_STR_EQ(sl(g_req.authority), "edition.cnn.com:443");
	EG_ASSERT_STR_EQ(sl(g_req.dest.host), "edition.cnn.com");
	EG_ASSERT_EQ(g_req.dest.port, 443);
	EG_ASSERT_EQ(g_req.h.body, EG_HTTP_BODY_NONE);
	EG_ASSERT(REQ("CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n") > 0);
	EG_ASSERT(g_req.dest.ipv6);
	EG_ASSERT_STR_EQ(sl(g_req.dest.host), "::1");
	EG_ASSERT_ERR(REQ("CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EAUTHORITY);
	EG_ASSERT_ERR(REQ("CONNECT :443 HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EAUTHORITY);
	EG_ASSERT_ERR(REQ("CONNECT u@h:443 HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EUSERINFO);
	EG_ASSERT_ERR(REQ("CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ETARGET_FORM);
	EG_ASSERT_ERR(REQ("CONNECT * HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ETARGET_FORM);
	EG_ASSERT_ERR(REQ("GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ETARGET_FORM);
	EG_ASSERT_ERR(REQ("GET h HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ETARGET);
	/* a CONNECT request has no content */
	EG_ASSERT_ERR(REQ("CONNECT h:443 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n"),
	              EG_HTTP_EBODY_NOT_ALLOWED);
	EG_ASSERT_ERR(
	        REQ("CONNECT h:443 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"),
	        EG_HTTP_EBODY_NOT_ALLOWED);
	EG_ASSERT(REQ("CONNECT h:443 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.h.body, EG_HTTP_BODY_NONE);
}

EG_TEST(http_asterisk_form_options_only)
{
	EG_ASSERT(REQ("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.form, EG_HTTP_ASTERISK_FORM);
	EG_ASSERT_EQ(g_req.method, EG_HTTP_OPTIONS);
	EG_ASSERT_STR_EQ(sl(g_req.dest.host), "h");
	EG_ASSERT(REQ("OPTIONS /x HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	EG_ASSERT_ERR(REQ("GET * HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ETARGET_FORM);
	EG_ASSERT_ERR(REQ("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ETARGET);
}

EG_TEST(http_methods)
{
	static const struct {
		const char *req;
		enum eg_http_method m;
	} cases[] = {
	        {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", EG_HTTP_GET},
	        {"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", EG_HTTP_HEAD},
	        {"POST / HTTP/1.1\r\nHost: h\r\n\r\n", EG_HTTP_POST},
	        {"PUT / HTTP/1.1\r\nHost: h\r\n\r\n", EG_HTTP_PUT},
	        {"DELETE / HTTP/1.1\r\nHost: h\r\n\r\n", EG_HTTP_DELETE},
	        {"TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", EG_HTTP_TRACE},
	        {"PATCH / HTTP/1.1\r\nHost: h\r\n\r\n", EG_HTTP_PATCH},
	        {"OPTIONS / HTTP/1.1\r\nHost: h\r\n\r\n", EG_HTTP_OPTIONS},
	        /* methods are case-sensitive tokens; unknown ones are valid */
	        {"get / HTTP/1.1\r\nHost: h\r\n\r\n", EG_HTTP_METHOD_OTHER},
	        {"PURGE / HTTP/1.1\r\nHost: h\r\n\r\n", EG_HTTP_METHOD_OTHER},
	        {"M-SEARCH / HTTP/1.1\r\nHost: h\r\n\r\n", EG_HTTP_METHOD_OTHER},
	};

	for (size_t i = 0; i < EG_ARRAY_SIZE(cases); i++) {
		EG_ASSERT(req_n(cases[i].req, strlen(cases[i].req)) > 0);
		EG_ASSERT_EQ(g_req.method, cases[i].m);
		EG_ASSERT_EQ(g_req.method_text.len, strcspn(cases[i].req, " "));
	}
	EG_ASSERT_STR_EQ(eg_http_method_name(EG_HTTP_CONNECT), "CONNECT");
	EG_ASSERT_STR_EQ(eg_http_method_name(_EG_HTTP_METHOD_MAX), "");
}

EG_TEST(http_bad_method_token)
{
	EG_ASSERT_ERR(REQ("G(T / HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EMETHOD);
	EG_ASSERT_ERR(REQ("GE\"T / HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EMETHOD);
	EG_ASSERT_ERR(REQ("G:T / HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EMETHOD);
	EG_ASSERT_ERR(REQ(" / HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ESTART_LINE);
	/* bytes no request line may hold are refused as such, wherever they are */
	EG_ASSERT_ERR(REQ("G\0T / HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ESTART_LINE);
	EG_ASSERT_ERR(REQ("G\tT / HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ESTART_LINE);
	EG_ASSERT_ERR(REQ("G\xc3\x89T / HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ESTART_LINE);
}

EG_TEST(http_bad_request_line_shape)
{
	EG_ASSERT_ERR(REQ("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ESTART_LINE);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"), EG_HTTP_ESTART_LINE);
	EG_ASSERT_ERR(REQ("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ESTART_LINE);
	EG_ASSERT_ERR(REQ("GET /\r\nHost: h\r\n\r\n"), EG_HTTP_ESTART_LINE); /* HTTP/0.9 */
	EG_ASSERT_ERR(REQ("GET\r\n\r\n"), EG_HTTP_ESTART_LINE);
}

EG_TEST(http_bad_targets)
{
	static const char *const bad[] = {
	        "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n",  "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n",
	        "GET /a%4 HTTP/1.1\r\nHost: h\r\n\r\n",  "GET /a% HTTP/1.1\r\nHost: h\r\n\r\n",
	        "GET /a|b HTTP/1.1\r\nHost: h\r\n\r\n",  "GET /a\"b HTTP/1.1\r\nHost: h\r\n\r\n",
	        "GET /<x> HTTP/1.1\r\nHost: h\r\n\r\n",  "GET /{x} HTTP/1.1\r\nHost: h\r\n\r\n",
	        "GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n", "GET /?q=^ HTTP/1.1\r\nHost: h\r\n\r\n",
	        "GET /`x HTTP/1.1\r\nHost: h\r\n\r\n",   "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n",
	};

	for (size_t i = 0; i < EG_ARRAY_SIZE(bad); i++) {
		ssize_t r = req_n(bad[i], strlen(bad[i]));

		if (r != -EG_HTTP_ETARGET)
			EG_FAIL("%s: got %s", bad[i], eg_http_err_reason((int)r));
	}
	EG_ASSERT(REQ("GET /a%41%7e/~-._!$&'()*+,;=:@ HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	EG_ASSERT_ERR(REQ("GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ESTART_LINE);
	EG_ASSERT_ERR(REQ("GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_ESTART_LINE);
}

EG_TEST(http_versions)
{
	EG_ASSERT(REQ("GET / HTTP/1.0\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.h.version, 10);
	EG_ASSERT_ERR(REQ("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), EG_HTTP_EVERSION_UNSUPPORTED);
	EG_ASSERT_ERR(REQ("GET / HTTP/0.9\r\nHost: h\r\n\r\n"), EG_HTTP_EVERSION_UNSUPPORTED);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.2\r\nHost: h\r\n\r\n"), EG_HTTP_EVERSION_UNSUPPORTED);
	EG_ASSERT_ERR(REQ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), EG_HTTP_EVERSION_UNSUPPORTED);
	EG_ASSERT_EQ(eg_http_err_status(-EG_HTTP_EVERSION_UNSUPPORTED), 505);
	EG_ASSERT_ERR(REQ("GET / http/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EVERSION);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.10\r\nHost: h\r\n\r\n"), EG_HTTP_EVERSION);
	EG_ASSERT_ERR(REQ("GET / HTTP/1\r\nHost: h\r\n\r\n"), EG_HTTP_EVERSION);
	EG_ASSERT_ERR(REQ("GET / HTTP/a.1\r\nHost: h\r\n\r\n"), EG_HTTP_EVERSION);
	EG_ASSERT_EQ(eg_http_err_status(-EG_HTTP_EVERSION), 400);
}

/* ---- limits ------------------------------------------------------------------------------- */

/* "GET /aaaa... HTTP/1.1" with a request line of exactly @line bytes, then Host. */
static size_t long_line_request(char *out, size_t line, bool complete)
{
	size_t n = 0, path = line - strlen("GET / HTTP/1.1");

	memcpy(out, "GET /", 5);
	n = 5;
	memset(out + n, 'a', path);
	n += path;
	memcpy(out + n, " HTTP/1.1", 9);
	n += 9;
	if (complete) {
		memcpy(out + n, "\r\nHost: h\r\n\r\n", 13);
		n += 13;
	}
	return n;
}

EG_TEST(http_request_line_limit_414)
{
	static char b[EG_HTTP_MAX_START_LINE + 64];
	size_t n;

	n = long_line_request(b, EG_HTTP_MAX_START_LINE, true);
	EG_ASSERT_EQ(req_n(b, n), (ssize_t)n);
	n = long_line_request(b, EG_HTTP_MAX_START_LINE + 1, true);
	EG_ASSERT_ERR(req_n(b, n), EG_HTTP_ESTART_LINE_TOO_LONG);
	EG_ASSERT_EQ(eg_http_err_status(-EG_HTTP_ESTART_LINE_TOO_LONG), 414);
	/* refused before the line ends, once it cannot fit any more */
	memset(b, 'a', sizeof(b));
	memcpy(b, "GET /", 5);
	EG_ASSERT_EQ(req_n(b, EG_HTTP_MAX_START_LINE), -EAGAIN);
	EG_ASSERT_ERR(req_n(b, EG_HTTP_MAX_START_LINE + 1), EG_HTTP_ESTART_LINE_TOO_LONG);
	/* a CR at the limit may be the line's end */
	b[EG_HTTP_MAX_START_LINE] = '\r';
	EG_ASSERT_EQ(req_n(b, EG_HTTP_MAX_START_LINE + 1), -EAGAIN);
}

/* A request whose field lines take exactly @size bytes (CRLFs included). */
static size_t big_fields_request(char *out, size_t size)
{
	size_t n = 0, left;

	n += (size_t)snprintf(out, 64, "GET / HTTP/1.1\r\nHost: h\r\n");
	left = size - 9; /* "Host: h\r\n" */
	while (left) {
		size_t line = EG_MIN(left, (size_t)4000);

		if (left - line > 0 && left - line < 4)
			line -= 4; /* leave room for a last line of at least "X:\r\n" */
		memcpy(out + n, "X:", 2);
		memset(out + n + 2, 'v', line - 4);
		memcpy(out + n + line - 2, "\r\n", 2);
		n += line;
		left -= line;
	}
	memcpy(out + n, "\r\n", 2);
	return n + 2;
}

EG_TEST(http_header_block_limit_431)
{
	static char b[EG_HTTP_MAX_FIELDS_SIZE + 256];
	size_t n;

	n = big_fields_request(b, EG_HTTP_MAX_FIELDS_SIZE);
	EG_ASSERT_EQ(req_n(b, n), (ssize_t)n);
	n = big_fields_request(b, EG_HTTP_MAX_FIELDS_SIZE + 1);
	EG_ASSERT_ERR(req_n(b, n), EG_HTTP_EFIELDS_TOO_LARGE);
	/* refused before the head ends */
	EG_ASSERT_ERR(req_n(b, n - 2), EG_HTTP_EFIELDS_TOO_LARGE);
	EG_ASSERT_EQ(eg_http_err_status(-EG_HTTP_EFIELDS_TOO_LARGE), 431);
}

static size_t many_fields_request(char *out, unsigned fields)
{
	size_t n = (size_t)snprintf(out, 64, "GET / HTTP/1.1\r\nHost: h\r\n");

	for (unsigned i = 1; i < fields; i++)
		n += (size_t)snprintf(out + n, 32, "X-%u: %u\r\n", i, i);
	memcpy(out + n, "\r\n", 2);
	return n + 2;
}

EG_TEST(http_field_count_limit_431)
{
	static char b[8192];
	struct eg_http_header few[3];
	size_t n;

	n = many_fields_request(b, EG_HTTP_MAX_FIELDS);
	EG_ASSERT_EQ(req_n(b, n), (ssize_t)n);
	EG_ASSERT_EQ(g_req.h.n_headers, EG_HTTP_MAX_FIELDS);
	n = many_fields_request(b, EG_HTTP_MAX_FIELDS + 1);
	EG_ASSERT_ERR(req_n(b, n), EG_HTTP_ETOO_MANY_FIELDS);
	EG_ASSERT_EQ(eg_http_err_status(-EG_HTTP_ETOO_MANY_FIELDS), 431);
	/* the caller's array bounds it too */
	n = many_fields_request(b, 4);
	EG_ASSERT_ERR(eg_http_parse_request(copy(b, n), n, 0, few, 3, &g_req),
	              EG_HTTP_ETOO_MANY_FIELDS);
	n = many_fields_request(b, 3);
	EG_ASSERT_EQ(eg_http_parse_request(copy(b, n), n, 0, few, 3, &g_req), (ssize_t)n);
}

/* ---- framing ---------------------------------------------------------------------------- */

EG_TEST(http_content_length)
{
	EG_ASSERT(REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.h.body, EG_HTTP_BODY_LENGTH);
	EG_ASSERT_EQ(g_req.h.content_length, 5);
	EG_ASSERT(REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.h.body, EG_HTTP_BODY_LENGTH);
	EG_ASSERT_EQ(g_req.h.content_length, 0);
	EG_ASSERT(REQ("POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 007\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.h.content_length, 7);
	EG_ASSERT(REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n") >
	          0);
	EG_ASSERT_EQ(g_req.h.content_length, INT64_MAX);
}

EG_TEST(http_content_length_duplicates)
{
	/* identical duplicates fold (RFC 9110 §8.6) */
	EG_ASSERT(REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: "
	              "5\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.h.content_length, 5);
	EG_ASSERT(REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.h.content_length, 5);
	EG_ASSERT_EQ(g_req.h.body, EG_HTTP_BODY_LENGTH);
	/* differing ones never */
	EG_ASSERT_ERR(
	        REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
	        EG_HTTP_ECONTENT_LENGTH_CONFLICT);
	EG_ASSERT_ERR(REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n"),
	              EG_HTTP_ECONTENT_LENGTH_CONFLICT);
	EG_ASSERT_ERR(
	        REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 05\r\n"
	            "Content-Length: 6\r\n\r\n"),
	        EG_HTTP_ECONTENT_LENGTH_CONFLICT);
}

EG_TEST(http_content_length_invalid)
{
	static const char *const bad[] = {"+5",
	                                  "-1",
	                                  "0x5",
	                                  "",
	                                  "5 5",
	                                  "5,",
	                                  ",5",
	                                  "5,,5",
	                                  "5a",
	                                  "99999999999999999999",
	                                  "9223372036854775808",
	                                  "1e3"};
	char b[256];

	for (size_t i = 0; i < EG_ARRAY_SIZE(bad); i++) {
		int n = snprintf(b, sizeof(b),
		                 "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n",
		                 bad[i]);
		ssize_t r = req_n(b, (size_t)n);

		if (r != -EG_HTTP_ECONTENT_LENGTH)
			EG_FAIL("Content-Length: %s: got %s", bad[i], eg_http_err_reason((int)r));
	}
}

EG_TEST(http_cl_with_te_refused)
{
	EG_ASSERT_ERR(REQ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: "
	                  "chunked\r\n\r\n"),
	              EG_HTTP_ECL_AND_TE);
	EG_ASSERT_ERR(REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
	                  "chunked\r\nContent-Length: 0\r\n\r\n"),
	              EG_HTTP_ECL_AND_TE);
	EG_ASSERT_EQ(eg_http_err_status(-EG_HTTP_ECL_AND_TE), 400);
}

EG_TEST(http_transfer_encoding)
{
	EG_ASSERT(REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.h.body, EG_HTTP_BODY_CHUNKED);
	EG_ASSERT(REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ChUnKeD \r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.h.body, EG_HTTP_BODY_CHUNKED);
	/* a coding we do not implement, even with a final chunked: 501 */
	EG_ASSERT_ERR(REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
	              EG_HTTP_ETE_UNSUPPORTED);
	EG_ASSERT_ERR(REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
	                  "gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
	              EG_HTTP_ETE_UNSUPPORTED);
	EG_ASSERT_EQ(eg_http_err_status(-EG_HTTP_ETE_UNSUPPORTED), 501);
	/* chunked not last, or more than once, or oddly spelled: 400 */
	static const char *const bad[] = {"chunked, gzip",    "gzip",     "identity",
	                                  "chunked, chunked", "chunked,", ",chunked",
	                                  "chunked;q=1",      "xchunked", "\"chunked\"",
	                                  "chunked chunked",  ""};
	char b[256];

	for (size_t i = 0; i < EG_ARRAY_SIZE(bad); i++) {
		int n = snprintf(b, sizeof(b),
		                 "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: %s\r\n\r\n",
		                 bad[i]);
		ssize_t r = req_n(b, (size_t)n);

		if (r != -EG_HTTP_ETRANSFER_ENCODING)
			EG_FAIL("Transfer-Encoding: %s: got %s", bad[i],
			        eg_http_err_reason((int)r));
	}
	EG_ASSERT_ERR(REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
	                  "chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
	              EG_HTTP_ETRANSFER_ENCODING);
	/* HTTP/1.0 has no Transfer-Encoding: the framing is faulty */
	EG_ASSERT_ERR(REQ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
	              EG_HTTP_ETE_HTTP10);
}

/* ---- field syntax --------------------------------------------------------------------------- */

EG_TEST(http_obs_fold_refused)
{
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n c\r\n\r\n"), EG_HTTP_EOBS_FOLD);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\tc\r\n\r\n"), EG_HTTP_EOBS_FOLD);
	/* whitespace between the start line and the first field */
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), EG_HTTP_EOBS_FOLD);
	/* a folded Transfer-Encoding is the classic smuggling attempt */
	EG_ASSERT_ERR(REQ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"),
	              EG_HTTP_EOBS_FOLD);
}

EG_TEST(http_bare_cr_and_lf_refused)
{
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nA: b\rc\r\n\r\n"), EG_HTTP_EBARE_CR);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nA\r: b\r\n\r\n"), EG_HTTP_EBARE_CR);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\r\n\r\n"), EG_HTTP_EBARE_CR);
	EG_ASSERT_ERR(REQ("GET /\r HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EBARE_CR);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\nA: b\r\n\r\n"), EG_HTTP_EBARE_LF);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\nHost: h\r\n\r\n"), EG_HTTP_EBARE_LF);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\n\n"), EG_HTTP_EBARE_LF);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\n\n"), EG_HTTP_EBARE_LF);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\n\n"), EG_HTTP_EBARE_LF);
	EG_ASSERT_ERR(REQ("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EBARE_LF);
	EG_ASSERT_ERR(REQ("\r\rGET / HTTP/1.1\r\nHost: h\r\n\r\n"), EG_HTTP_EBARE_CR);
}

EG_TEST(http_ctl_in_value_refused)
{
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nA: b\0c\r\n\r\n"), EG_HTTP_EFIELD_VALUE);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nA: b\x01"
	                  "c\r\n\r\n"),
	              EG_HTTP_EFIELD_VALUE);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nA: b\x7f\r\n\r\n"), EG_HTTP_EFIELD_VALUE);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nA: \x1b[0m\r\n\r\n"), EG_HTTP_EFIELD_VALUE);
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nHost: h\r\nA: b\tc\r\n\r\n") > 0);
	EG_ASSERT_STR_EQ(sl(g_req.h.headers[1].value), "b\tc");
}

/* Field values are checked 8 bytes per step: a forbidden byte must be found at every
 * offset of a long value, and allowed ones (HTAB, 8-bit) must pass at every offset. */
EG_TEST(http_value_scan_every_position)
{
	static const struct {
		unsigned char c;
		int err;
	} bytes[] = {
	        {0x00, EG_HTTP_EFIELD_VALUE},
	        {0x01, EG_HTTP_EFIELD_VALUE},
	        {0x1f, EG_HTTP_EFIELD_VALUE},
	        {0x7f, EG_HTTP_EFIELD_VALUE},
	        {'\r', EG_HTTP_EBARE_CR},
	        {'\t', 0},
	        {0x80, 0},
	        {0xff, 0},
	        {0x20, 0},
	        {0x7e, 0},
	};
	char b[128];

	for (size_t k = 0; k < EG_ARRAY_SIZE(bytes); k++) {
		for (size_t pos = 0; pos < 40; pos++) {
			size_t n =
			        (size_t)snprintf(b, sizeof(b), "GET / HTTP/1.1\r\nHost: h\r\nX: ");
			size_t vstart = n;
			ssize_t r;

			memset(b + n, 'v', 40);
			n += 40;
			b[vstart + pos] = (char)bytes[k].c;
			memcpy(b + n, "v\r\n\r\n", 5);
			n += 5;
			r = req_n(b, n);
			if (bytes[k].err && r != -bytes[k].err)
				EG_FAIL("byte 0x%02x at %zu: got %s", bytes[k].c, pos,
				        eg_http_err_reason((int)r));
			if (!bytes[k].err && r != (ssize_t)n)
				EG_FAIL("byte 0x%02x at %zu refused: %s", bytes[k].c, pos,
				        eg_http_err_reason((int)r));
		}
	}
}

EG_TEST(http_bad_field_names)
{
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nFo(o: x\r\n\r\n"), EG_HTTP_EFIELD_NAME);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\n: x\r\n\r\n"), EG_HTTP_EFIELD_NAME);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nFoo bar: x\r\n\r\n"), EG_HTTP_EFIELD_NAME);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nF\xc3\xa9: x\r\n\r\n"),
	              EG_HTTP_EFIELD_NAME);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nF\0o: x\r\n\r\n"), EG_HTTP_EFIELD_NAME);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\n{a}: x\r\n\r\n"), EG_HTTP_EFIELD_NAME);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nFoo : x\r\n\r\n"),
	              EG_HTTP_EWS_BEFORE_COLON);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nFoo\t: x\r\n\r\n"),
	              EG_HTTP_EWS_BEFORE_COLON);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), EG_HTTP_EWS_BEFORE_COLON);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nFoo\r\n\r\n"), EG_HTTP_ENO_COLON);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nFoo x\r\n\r\n"), EG_HTTP_ENO_COLON);
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nHost: h\r\n!#$%&'*+-.^_`|~09az: x\r\n\r\n") > 0);
}

/* ---- Host ----------------------------------------------------------------------------------- */

EG_TEST(http_host_rules)
{
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\n\r\n"), EG_HTTP_ENO_HOST);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"), EG_HTTP_ENO_HOST);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"), EG_HTTP_EMULTIPLE_HOST);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: a\r\nhOsT: b\r\n\r\n"), EG_HTTP_EMULTIPLE_HOST);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), EG_HTTP_EMULTIPLE_HOST);
	EG_ASSERT(REQ("GET / HTTP/1.0\r\n\r\n") > 0);
	EG_ASSERT(!g_req.has_host);
	EG_ASSERT_EQ(g_req.dest.host.len, 0);
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nHost:\r\n\r\n") > 0);
	EG_ASSERT(g_req.has_host);
	EG_ASSERT_EQ(g_req.dest.host.len, 0);
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nhost: A.B-c_d~e:8080\r\n\r\n") > 0);
	EG_ASSERT_STR_EQ(sl(g_req.dest.host), "A.B-c_d~e");
	EG_ASSERT_EQ(g_req.dest.port, 8080);
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nHost: 127.0.0.1:65535\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.dest.port, 65535);
	static const char *const bad[] = {
	        "a b",    "a:0",     "a:65536", "a:",     "a:8x",
	        "a:-1",   ":80",     "a%2eb",   "a,b",    "a/b",
	        "[::1",   "::1",     "[::g]",   "[v1.x]", "[fe80::1%25eth0]",
	        "[::1]x", "a:123456"};
	char b[256];

	for (size_t i = 0; i < EG_ARRAY_SIZE(bad); i++) {
		int n = snprintf(b, sizeof(b), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
		ssize_t r = req_n(b, (size_t)n);

		if (r != -EG_HTTP_EAUTHORITY)
			EG_FAIL("Host: %s: got %s", bad[i], eg_http_err_reason((int)r));
	}
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: user@h\r\n\r\n"), EG_HTTP_EUSERINFO);
}

EG_TEST(http_authority_helpers)
{
	struct eg_http_authority a, b;
	char out[64];

	EG_ASSERT_EQ(eg_http_parse_authority(EG_STR("WWW.Example.COM:80"), &a), 0);
	EG_ASSERT_EQ(eg_http_authority_format(&a, 80, out, sizeof(out)), 15);
	EG_ASSERT_STR_EQ(out, "www.example.com");
	EG_ASSERT_EQ(eg_http_authority_format(&a, 443, out, sizeof(out)), 18);
	EG_ASSERT_STR_EQ(out, "www.example.com:80");
	EG_ASSERT_EQ(eg_http_authority_format(&a, 80, out, 15), -E2BIG);
	EG_ASSERT_EQ(eg_http_authority_format(&a, 443, out, 18), -E2BIG);
	EG_ASSERT_EQ(eg_http_parse_authority(EG_STR("[0:0::1]:80"), &a), 0);
	EG_ASSERT(a.ipv6);
	EG_ASSERT_EQ(eg_http_authority_format(&a, 80, out, sizeof(out)), 5);
	EG_ASSERT_STR_EQ(out, "[::1]");
	EG_ASSERT_EQ(eg_http_parse_authority(EG_STR("[2001:DB8::A]:8443"), &a), 0);
	EG_ASSERT_EQ(eg_http_authority_format(&a, 443, out, sizeof(out)), 18);
	EG_ASSERT_STR_EQ(out, "[2001:db8::a]:8443");

	EG_ASSERT_EQ(eg_http_parse_authority(EG_STR("[::1]"), &a), 0);
	EG_ASSERT_EQ(eg_http_parse_authority(EG_STR("[0::1]:80"), &b), 0);
	EG_ASSERT(eg_http_authority_eq(&a, &b, 80));
	EG_ASSERT(!eg_http_authority_eq(&a, &b, 443));
	EG_ASSERT_EQ(eg_http_parse_authority(EG_STR("Host.Example"), &a), 0);
	EG_ASSERT_EQ(eg_http_parse_authority(EG_STR("host.example:443"), &b), 0);
	EG_ASSERT(eg_http_authority_eq(&a, &b, 443));
	EG_ASSERT(!eg_http_authority_eq(&a, &b, 80));
	EG_ASSERT(!eg_http_authority_eq(&a, &b, 0));
	EG_ASSERT_EQ(eg_http_parse_authority(EG_STR("host.example2:443"), &b), 0);
	EG_ASSERT(!eg_http_authority_eq(&a, &b, 443));

	EG_ASSERT_EQ(eg_http_scheme_port(EG_STR("http")), 80);
	EG_ASSERT_EQ(eg_http_scheme_port(EG_STR("HTTPS")), 443);
	EG_ASSERT_EQ(eg_http_scheme_port(EG_STR("ftp")), 0);
	EG_ASSERT_EQ(eg_http_parse_authority(EG_STR("a@b"), &a), -EG_HTTP_EUSERINFO);
	EG_ASSERT_EQ(eg_http_parse_authority(EG_STR(""), &a), 0);
	EG_ASSERT_EQ(a.host.len, 0);
}

/* ---- connection management -------------------------------------------------------------- */

EG_TEST(http_keep_alive_rules)
{
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
	EG_ASSERT(g_req.h.keep_alive);
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n") > 0);
	EG_ASSERT(!g_req.h.keep_alive);
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, CLOSE\r\n\r\n") > 0);
	EG_ASSERT(!g_req.h.keep_alive);
	EG_ASSERT(REQ("GET / HTTP/1.0\r\n\r\n") > 0);
	EG_ASSERT(!g_req.h.keep_alive);
	EG_ASSERT(REQ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0);
	EG_ASSERT(g_req.h.keep_alive);
	EG_ASSERT(REQ("GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n") > 0);
	EG_ASSERT(!g_req.h.keep_alive);
}

EG_TEST(http_connection_tokens)
{
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nHost: h\r\nConnection: , X-Foo,,keep-alive ,\r\n"
	              "Connection: x-bar\r\nX-Foo: 1\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.h.n_conn_tokens, 3);
	EG_ASSERT_STR_EQ(sl(g_req.h.conn_tokens[0]), "X-Foo");
	EG_ASSERT_STR_EQ(sl(g_req.h.conn_tokens[1]), "keep-alive");
	EG_ASSERT_STR_EQ(sl(g_req.h.conn_tokens[2]), "x-bar");
	EG_ASSERT(eg_http_is_hop_by_hop(&g_req.h, EG_STR("x-foo")));
	EG_ASSERT(eg_http_is_hop_by_hop(&g_req.h, EG_STR("X-BAR")));
	EG_ASSERT(!eg_http_is_hop_by_hop(&g_req.h, EG_STR("x-baz")));
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nConnection: a b\r\n\r\n"),
	              EG_HTTP_ECONNECTION);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nConnection: a;b\r\n\r\n"),
	              EG_HTTP_ECONNECTION);
	EG_ASSERT(REQ("GET / HTTP/1.1\r\nHost: h\r\nConnection: a1,a2,a3,a4,a5,a6,a7,a8,a9,a10,"
	              "a11,a12,a13,a14,a15,a16\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_req.h.n_conn_tokens, EG_HTTP_MAX_CONN_TOKENS);
	EG_ASSERT_ERR(REQ("GET / HTTP/1.1\r\nHost: h\r\nConnection: a1,a2,a3,a4,a5,a6,a7,a8,a9,a10,"
	                  "a11,a12,a13,a14,a15,a16,a17\r\n\r\n"),
	              EG_HTTP_ECONNECTION);
}

EG_TEST(http_hop_by_hop_fixed_names)
{
	static const char *const hop[] = {
	        "Connection",        "keep-alive",        "PROXY-CONNECTION", "TE",
	        "Trailer",           "Transfer-Encoding", "Upgrade",          "Proxy-Authorization",
	        "proxy-authenticate"};

	for (size_t i = 0; i < EG_ARRAY_SIZE(hop); i++)
		EG_ASSERT(eg_http_is_hop_by_hop(NULL, eg_str_c(hop[i])));
	EG_ASSERT(!eg_http_is_hop_by_hop(NULL, EG_STR("Authorization")));
	EG_ASSERT(!eg_http_is_hop_by_hop(NULL, EG_STR("Trailers")));
	EG_ASSERT(!eg_http_is_hop_by_hop(NULL, EG_STR("Host")));
}

EG_TEST(http_expect_continue)
{
	EG_ASSERT(REQ("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: "
	              "3\r\n\r\n") > 0);
	EG_ASSERT(g_req.h.expect_continue);
	EG_ASSERT(REQ("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n") > 0);
	EG_ASSERT(g_req.h.expect_continue);
	EG_ASSERT(REQ("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n") > 0);
	EG_ASSERT(!g_req.h.expect_continue); /* ignored in HTTP/1.0 */
	EG_ASSERT_ERR(REQ("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n"), EG_HTTP_EEXPECT);
	EG_ASSERT_EQ(eg_http_err_status(-EG_HTTP_EEXPECT), 417);
}

EG_TEST(http_upgrade)
{
	EG_ASSERT(REQ("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: "
	              "websocket\r\n\r\n") > 0);
	EG_ASSERT(g_req.h.upgrade);
	EG_ASSERT_STR_EQ(sl(g_req.h.upgrade_value), "websocket");
	EG_ASSERT(REQ("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n") > 0);
	EG_ASSERT(!g_req.h.upgrade);
	EG_ASSERT(REQ("GET /ws HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n") > 0);
	EG_ASSERT(!g_req.h.upgrade);
}

/* ---- pipelining and leading empty lines ------------------------------------------------- */

EG_TEST(http_pipelined_requests)
{
	static const char in[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
	                         "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
	                         "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n"
	                         "GET /4 HTTP/1.1\r\nHo";
	char *b = copy(in, sizeof(in) - 1);
	size_t len = sizeof(in) - 1, off = 0;
	ssize_t r;

	r = eg_http_parse_request(b + off, len - off, 0, g_hdrs, EG_HTTP_MAX_FIELDS, &g_req);
	EG_ASSERT_EQ(r, LEN("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"));
	EG_ASSERT_STR_EQ(sl(g_req.target), "/1");
	off += (size_t)r;
	r = eg_http_parse_request(b + off, len - off, 0, g_hdrs, EG_HTTP_MAX_FIELDS, &g_req);
	EG_ASSERT(r > 0);
	EG_ASSERT_STR_EQ(sl(g_req.target), "/2");
	EG_ASSERT_EQ(g_req.h.content_length, 5);
	off += (size_t)r + g_req.h.content_length;
	r = eg_http_parse_request(b + off, len - off, 0, g_hdrs, EG_HTTP_MAX_FIELDS, &g_req);
	EG_ASSERT(r > 0);
	EG_ASSERT_STR_EQ(sl(g_req.target), "/3");
	off += (size_t)r;
	r = eg_http_parse_request(b + off, len - off, 0, g_hdrs, EG_HTTP_MAX_FIELDS, &g_req);
	EG_ASSERT_EQ(r, -EAGAIN);
}

EG_TEST(http_leading_empty_lines)
{
	EG_ASSERT_EQ(REQ("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 31);
	EG_ASSERT_STR_EQ(sl(g_req.target), "/");
	EG_ASSERT_EQ(g_req.h.len, 31);
	EG_ASSERT_EQ(REQ("\r\n"), -EAGAIN);
	EG_ASSERT_EQ(REQ("\r"), -EAGAIN);
	EG_ASSERT_EQ(REQ(""), -EAGAIN);
	EG_ASSERT_ERR(REQ("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
	              EG_HTTP_ESTART_LINE);
}

/* ---- splits: -EAGAIN until complete, then the same result --------------------------------- */

/* Offsets of every slice relative to the buffer, so results of parses of different copies of
 * the same bytes can be compared. */
static void req_signature(const struct eg_http_req *q, const char *base, char *out, size_t cap)
{
	size_t n = 0;

#define OFF(s) ((s).ptr ? (long)((s).ptr - base) : -1L), (unsigned long)(s).len
	n += (size_t)snprintf(
	        out + n, cap - n,
	        "m%d %ld/%lu f%d t%ld/%lu s%ld/%lu a%ld/%lu p%ld/%lu q%ld/%lu "
	        "d%ld/%lu:%u v%u b%d cl%llu ka%d ex%d up%d hh%d n%zu len%zu |",
	        q->method, OFF(q->method_text), q->form, OFF(q->target), OFF(q->scheme),
	        OFF(q->authority), OFF(q->path), OFF(q->query), OFF(q->dest.host), q->dest.port,
	        q->h.version, q->h.body, (unsigned long long)q->h.content_length, q->h.keep_alive,
	        q->h.expect_continue, q->h.upgrade, q->has_host, q->h.n_headers, q->h.len);
	for (size_t i = 0; i < q->h.n_headers && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, " %ld/%lu=%ld/%lu",
		                      OFF(q->h.headers[i].name), OFF(q->h.headers[i].value));
	for (size_t i = 0; i < q->h.n_conn_tokens && n < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, " c%ld/%lu", OFF(q->h.conn_tokens[i]));
#undef OFF
}

static const char *const split_requests[] = {
        "GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /index.html?lang=en HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.9.1\r\n"
        "Accept: */*\r\nX-Request-Id: 3f1a9c1e-6a9b-4d3c-9f0e-7b5a2c1d0e9f\r\n\r\n",
        "POST http://Edition.CNN.com:80/politics HTTP/1.1\r\nHost: edition.cnn.com\r\n"
        "Transfer-Encoding: chunked\r\nConnection: keep-alive, X-Trace\r\nX-Trace: 1\r\n"
        "Expect: 100-continue\r\n\r\n",
        "\r\nPUT /up HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 10\r\n\r\n",
        "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n"
        "Proxy-Authorization: Basic dTpw\r\n\r\n",
        "GET /chat HTTP/1.1\r\nHost: h:8080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
};

EG_TEST(http_every_split_point_request)
{
	for (size_t k = 0; k < EG_ARRAY_SIZE(split_requests); k++) {
		const char *in = split_requests[k];
		size_t len = strlen(in);
		char want[4096], got[4096];
		ssize_t full;

		full = req_n(in, len);
		if (full != (ssize_t)len)
			EG_FAIL("request %zu: %s", k, eg_http_err_reason((int)full));
		req_signature(&g_req, g_copy, want, sizeof(want));
		for (size_t i = 0; i < len; i++) {
			/* a fresh parse of the first i bytes, and one resumed with the hint */
			char *b = copy(in, i);

			if (eg_http_parse_request(b, i, 0, g_hdrs, EG_HTTP_MAX_FIELDS, &g_req) !=
			    -EAGAIN)
				EG_FAIL("request %zu: prefix %zu was not -EAGAIN", k, i);
			if (i && eg_http_parse_request(b, i, i - 1, g_hdrs, EG_HTTP_MAX_FIELDS,
			                               &g_req) != -EAGAIN)
				EG_FAIL("request %zu: prefix %zu with hint was not -EAGAIN", k, i);
		}
		/* resumed byte by byte: every call hints the previous length */
		for (size_t i = 1; i <= len; i++) {
			char *b = copy(in, i);
			ssize_t r = eg_http_parse_request(b, i, i - 1, g_hdrs, EG_HTTP_MAX_FIELDS,
			                                  &g_req);

			if (i < len && r != -EAGAIN)
				EG_FAIL("request %zu: resumed prefix %zu gave %zd", k, i, r);
			if (i == len) {
				EG_ASSERT_EQ(r, full);
				req_signature(&g_req, b, got, sizeof(got));
				EG_ASSERT_STR_EQ(got, want);
			}
		}
	}
}

EG_TEST(http_hint_past_len_rescans)
{
	static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";

	EG_ASSERT_EQ(eg_http_parse_request(copy(in, sizeof(in) - 1), sizeof(in) - 1, 1000, g_hdrs,
	                                   EG_HTTP_MAX_FIELDS, &g_req),
	             LEN(in));
}

EG_TEST(http_refusal_on_prefix_is_final)
{
	/* once a prefix is refused, the whole message is refused with the same code */
	static const char *const bad[] = {
	        "GET / HTTP/1.1\r\nHost: h\nA: b\r\n\r\n",
	        "G\x01T / HTTP/1.1\r\nHost: h\r\n\r\n",
	        "GET /\rx HTTP/1.1\r\nHost: h\r\n\r\n",
	        "\nGET / HTTP/1.1\r\n\r\n",
	};

	for (size_t k = 0; k < EG_ARRAY_SIZE(bad); k++) {
		size_t len = strlen(bad[k]);
		ssize_t full = req_n(bad[k], len), first = 0;

		EG_ASSERT(full < 0 && full != -EAGAIN);
		for (size_t i = 0; i < len; i++) {
			ssize_t r = req_n(bad[k], i);

			if (r != -EAGAIN && !first)
				first = r;
			if (first && r != first)
				EG_FAIL("input %zu prefix %zu: %zd after %zd", k, i, r, first);
		}
		EG_ASSERT_EQ(first, full);
	}
}

/* A typical 200-byte head: parsed from an exact-size heap copy (ASan: no byte past it is
 * touched, so no strlen on the unterminated buffer), then timed for a rough ns/parse. */
EG_TEST(http_typical_get_exact_bounds)
{
	static const char in[] = "GET /api/v1/items?id=42 HTTP/1.1\r\n"
	                         "Host: edition.cnn.com\r\n"
	                         "User-Agent: curl/8.9.1\r\n"
	                         "Accept: */*\r\n"
	                         "X-Request-Id: 3f1a9c1e-6a9b-4d3c-9f0e-7b5a2c1d0e9f\r\n"
	                         "X-Forwarded-Proto: http\r\n"
	                         "Accept-Encoding: gzip\r\n\r\n";
	struct timespec t0, t1;
	unsigned iters = 20000;
	char *b;

	EG_ASSERT(sizeof(in) - 1 >= 190 && sizeof(in) - 1 <= 210);
	b = copy(in, sizeof(in) - 1);
	EG_ASSERT_EQ(eg_http_parse_request(b, g_copy_len, 0, g_hdrs, EG_HTTP_MAX_FIELDS, &g_req),
	             LEN(in));
	EG_ASSERT_EQ(g_req.h.n_headers, 6);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < iters; i++)
		if (eg_http_parse_request(b, g_copy_len, 0, g_hdrs, EG_HTTP_MAX_FIELDS, &g_req) !=
		    LEN(in))
			EG_FAIL("iteration %u", i);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# typical %zu-byte GET head: %.0f ns/parse (sanitized build)\n", sizeof(in) - 1,
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / iters);
}

/* ---- responses --------------------------------------------------------------------------------
 */

EG_TEST(http_response_framing)
{
	EG_ASSERT_EQ(RESP("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
	             LEN("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"));
	EG_ASSERT_EQ(g_resp.status, 200);
	EG_ASSERT_STR_EQ(sl(g_resp.reason), "OK");
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_LENGTH);
	EG_ASSERT_EQ(g_resp.h.content_length, 12);
	EG_ASSERT(g_resp.h.keep_alive);
	EG_ASSERT(RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_CHUNKED);
	EG_ASSERT(g_resp.h.keep_alive);
	/* close-delimited */
	EG_ASSERT(RESP("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_UNTIL_CLOSE);
	EG_ASSERT(!g_resp.h.keep_alive);
	EG_ASSERT(RESP("HTTP/1.0 200 OK\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_UNTIL_CLOSE);
	EG_ASSERT(RESP("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n") >
	          0);
	EG_ASSERT_EQ(g_resp.h.version, 10);
	EG_ASSERT(g_resp.h.keep_alive);
	EG_ASSERT(RESP("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n") > 0);
	EG_ASSERT(!g_resp.h.keep_alive);
}

EG_TEST(http_response_bodyless_statuses)
{
	EG_ASSERT(RESP("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_NONE);
	EG_ASSERT(g_resp.h.keep_alive);
	EG_ASSERT(RESP("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_NONE);
	EG_ASSERT(g_resp.h.has_content_length);
	EG_ASSERT_EQ(g_resp.h.content_length, 100);
	EG_ASSERT(RESP("HTTP/1.1 304 Not Modified\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_NONE);
	EG_ASSERT(g_resp.h.keep_alive);
	EG_ASSERT(RESP_TO(EG_HTTP_HEAD, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_NONE);
	EG_ASSERT(RESP_TO(EG_HTTP_HEAD, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") >
	          0);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_NONE);
	EG_ASSERT(RESP_TO(EG_HTTP_HEAD, "HTTP/1.1 200 OK\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_NONE);
	EG_ASSERT(g_resp.h.keep_alive);
}

EG_TEST(http_response_1xx_and_101)
{
	EG_ASSERT_EQ(RESP("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"), 25);
	EG_ASSERT_EQ(g_resp.status, 100);
	EG_ASSERT(g_resp.interim);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_NONE);
	EG_ASSERT(RESP("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n") > 0);
	EG_ASSERT(g_resp.interim);
	EG_ASSERT(RESP("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
	               "Upgrade: websocket\r\n\r\n") > 0);
	EG_ASSERT(!g_resp.interim);
	EG_ASSERT(g_resp.h.upgrade);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_NONE);
}

EG_TEST(http_response_to_connect)
{
	EG_ASSERT(RESP_TO(EG_HTTP_CONNECT, "HTTP/1.1 200 Connection established\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_NONE);
	EG_ASSERT(RESP_TO(EG_HTTP_CONNECT, "HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.h.body, EG_HTTP_BODY_LENGTH);
}

EG_TEST(http_response_status_line)
{
	EG_ASSERT(RESP("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.status, 200);
	EG_ASSERT_EQ(g_resp.reason.len, 0);
	EG_ASSERT(RESP("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n") > 0);
	EG_ASSERT_EQ(g_resp.reason.len, 0);
	EG_ASSERT(RESP("HTTP/1.1 200 Tr\xe8s\tbien\r\nContent-Length: 0\r\n\r\n") > 0);
	EG_ASSERT_STR_EQ(sl(g_resp.reason), "Tr\xe8s\tbien");
	EG_ASSERT_ERR(RESP("HTTP/1.1 099 Low\r\n\r\n"), EG_HTTP_ESTATUS);
	EG_ASSERT_ERR(RESP("HTTP/1.1 600 High\r\n\r\n"), EG_HTTP_ESTATUS);
	EG_ASSERT_EQ(eg_http_err_status(-EG_HTTP_ESTATUS), 502);
	EG_ASSERT_ERR(RESP("HTTP/1.1 20 OK\r\n\r\n"), EG_HTTP_ESTART_LINE);
	EG_ASSERT_ERR(RESP("HTTP/1.1 2000 OK\r\n\r\n"), EG_HTTP_ESTART_LINE);
	EG_ASSERT_ERR(RESP("HTTP/1.1  200 OK\r\n\r\n"), EG_HTTP_ESTART_LINE);
	EG_ASSERT_ERR(RESP("HTTP/1.1\r\n\r\n"), EG_HTTP_ESTART_LINE);
	EG_ASSERT_ERR(RESP("HTTP/3.0 200 OK\r\n\r\n"), EG_HTTP_EVERSION_UNSUPPORTED);
	EG_ASSERT_ERR(RESP("HTTX/1.1 200 OK\r\n\r\n"), EG_HTTP_EVERSION);
	EG_ASSERT_ERR(RESP("HTTP/1.1 200 O\x01K\r\n\r\n"), EG_HTTP_ESTART_LINE);
	EG_ASSERT_ERR(RESP("\r\nHTTP/1.1 200 OK\r\n\r\n"), EG_HTTP_ESTART_LINE);
}

EG_TEST(http_response_refusals)
{
	EG_ASSERT_ERR(
	        RESP("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"),
	        EG_HTTP_ECL_AND_TE);
	EG_ASSERT_ERR(RESP("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"),
	              EG_HTTP_ECONTENT_LENGTH_CONFLICT);
	EG_ASSERT_ERR(RESP("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
	              EG_HTTP_ETE_HTTP10);
	EG_ASSERT_ERR(RESP("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
	              EG_HTTP_ETRANSFER_ENCODING);
	EG_ASSERT_ERR(RESP("HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n"), EG_HTTP_EOBS_FOLD);
	EG_ASSERT_ERR(RESP("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n"), EG_HTTP_EBARE_CR);
	EG_ASSERT_ERR(RESP("HTTP/1.1 200 OK\nA: b\r\n\r\n"), EG_HTTP_EBARE_LF);
	/* responses need no Host, and several are not refused */
	EG_ASSERT(RESP("HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n") > 0);
}

static void resp_signature(const struct eg_http_resp *q, const char *base, char *out, size_t cap)
{
	size_t n = 0;

	n += (size_t)snprintf(out + n, cap - n,
	                      "s%d r%ld/%zu v%u b%d cl%llu ka%d up%d i%d n%zu len%zu", q->status,
	                      (long)(q->reason.ptr - base), q->reason.len, q->h.version, q->h.body,
	                      (unsigned long long)q->h.content_length, q->h.keep_alive,
	                      q->h.upgrade, q->interim, q->h.n_headers, q->h.len);
	for (size_t i = 0; i < q->h.n_headers && n < cap; i++)
		n += (size_t)snprintf(
		        out + n, cap - n, " %ld/%zu=%ld/%zu",
		        (long)(q->h.headers[i].name.ptr - base), q->h.headers[i].name.len,
		        (long)(q->h.headers[i].value.ptr - base), q->h.headers[i].value.len);
}

EG_TEST(http_every_split_point_response)
{
	static const char *const in[] = {
	        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1024\r\n\r\n",
	        "HTTP/1.1 502 Bad Gateway\r\nx-egressd-deny-reason: host example.com: "
	        "REGISTRY_ONLY\r\n"
	        "Transfer-Encoding: chunked\r\n\r\n",
	        "HTTP/1.0 200\r\nServer: old\r\n\r\n",
	};

	for (size_t k = 0; k < EG_ARRAY_SIZE(in); k++) {
		size_t len = strlen(in[k]);
		char want[2048], got[2048];
		ssize_t full = resp_n(in[k], len, EG_HTTP_GET);

		EG_ASSERT_EQ(full, (ssize_t)len);
		resp_signature(&g_resp, g_copy, want, sizeof(want));
		for (size_t i = 0; i < len; i++) {
			char *b = copy(in[k], i);

			if (eg_http_parse_response(b, i, i ? i - 1 : 0, g_hdrs, EG_HTTP_MAX_FIELDS,
			                           EG_HTTP_GET, &g_resp) != -EAGAIN)
				EG_FAIL("response %zu prefix %zu was not -EAGAIN", k, i);
		}
		EG_ASSERT_EQ(eg_http_parse_response(copy(in[k], len), len, len - 1, g_hdrs,
		                                    EG_HTTP_MAX_FIELDS, EG_HTTP_GET, &g_resp),
		             full);
		resp_signature(&g_resp, g_copy, got, sizeof(got));
		EG_ASSERT_STR_EQ(got, want);
	}
}

/* ---- errors -----------------------------------------------------------------------------------
 */

EG_TEST(http_every_refusal_is_distinct)
{
	for (int e = EG_HTTP_EBASE + 1; e < EG_HTTP_ELAST; e++) {
		const char *r = eg_http_err_reason(-e);
		int s = eg_http_err_status(-e);

		EG_ASSERT(strcmp(r, "unknown") != 0);
		EG_ASSERT(s == 400 || s == 414 || s == 417 || s == 431 || s == 501 || s == 502 ||
		          s == 505);
		for (int f = EG_HTTP_EBASE + 1; f < e; f++)
			if (strcmp(r, eg_http_err_reason(-f)) == 0)
				EG_FAIL("%d and %d share \"%s\"", e, f, r);
		EG_ASSERT_EQ(eg_http_err_status(e), s); /* sign ignored */
	}
	EG_ASSERT_STR_EQ(eg_http_err_reason(-EAGAIN), "incomplete");
	EG_ASSERT_STR_EQ(eg_http_err_reason(-EINVAL), "invalid_argument");
	EG_ASSERT_STR_EQ(eg_http_err_reason(-ENOMEM), "unknown");
	EG_ASSERT_EQ(eg_http_err_status(-ENOMEM), 400);
}

EG_TEST(http_invalid_arguments)
{
	EG_ASSERT_EQ(eg_http_parse_request(NULL, 0, 0, g_hdrs, 1, &g_req), -EINVAL);
	EG_ASSERT_EQ(eg_http_parse_request("x", 1, 0, NULL, 1, &g_req), -EINVAL);
	EG_ASSERT_EQ(eg_http_parse_response("x", 1, 0, g_hdrs, 1, EG_HTTP_GET, NULL), -EINVAL);
	/* no field array: only field-less heads parse */
	EG_ASSERT(eg_http_parse_request(copy("GET / HTTP/1.0\r\n\r\n", 18), 18, 0, NULL, 0,
	                                &g_req) > 0);
	free(g_copy);
	g_copy = NULL;
}
