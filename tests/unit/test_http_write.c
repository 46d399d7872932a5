/* tests/unit/test_http_write.c: forwarding heads (src/http/write.c): hop-by-hop removal,
 * canonical framing, x-forwarded-*, x-request-id, added fields, responses made here. */
#include "../../src/http/write.c"

#include <stdlib.h>

#include "eg_test.h"

static char *g_copy;
static struct eg_http_header g_hdrs[EG_HTTP_MAX_FIELDS];
static struct eg_http_req g_req;
static struct eg_http_resp g_resp;
static struct eg_buf g_out = EG_BUF_INIT(1 << 20);

static void parse_req(const char *s)
{
	size_t n = strlen(s);
	ssize_t r;

	free(g_copy);
	g_copy = malloc(n);
	if (!g_copy)
		abort();
	memcpy(g_copy, s, n);
	r = eg_http_parse_request(g_copy, n, 0, g_hdrs, EG_HTTP_MAX_FIELDS, &g_req);
	if (r != (ssize_t)n) {
		printf("FAIL parse: %s: %s\n", eg_http_err_reason((int)r), s);
		exit(1);
	}
}

static void parse_resp(const char *s, enum eg_http_method m)
{
	size_t n = strlen(s);
	ssize_t r;

	free(g_copy);
	g_copy = malloc(n);
	if (!g_copy)
		abort();
	memcpy(g_copy, s, n);
	r = eg_http_parse_response(g_copy, n, 0, g_hdrs, EG_HTTP_MAX_FIELDS, m, &g_resp);
	if (r != (ssize_t)n) {
		printf("FAIL parse: %s: %s\n", eg_http_err_reason((int)r), s);
		exit(1);
	}
}

static const char *write_req(const struct eg_http_fwd *fwd)
{
	int r;

	g_out.len = 0;
	r = eg_http_write_request(&g_out, &g_req, fwd);
	if (r < 0)
		return eg_http_err_reason(r);
	return eg_buf_cstr(&g_out);
}

static const char *write_resp(const struct eg_http_fwd *fwd)
{
	int r;

	g_out.len = 0;
	r = eg_http_write_response(&g_out, &g_resp, fwd);
	if (r < 0)
		return eg_http_err_reason(r);
	return eg_buf_cstr(&g_out);
}

/* ---- requests ------------------------------------------------------------------------------- */

EG_TEST(write_drops_hop_by_hop)
{
	parse_req("GET /a?b HTTP/1.1\r\nUser-Agent: curl\r\nHost: h.example\r\n"
	          "Connection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\n"
	          "Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-Sum\r\n"
	          "Upgrade: h2c\r\nProxy-Authorization: Basic dTpw\r\n"
	          "Proxy-Authenticate: Basic\r\nX-Secret: 1\r\nx-secret: 2\r\nAccept: */*\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "GET /a?b HTTP/1.1\r\n"
	                                  "host: h.example\r\n"
	                                  "User-Agent: curl\r\n"
	                                  "Accept: */*\r\n"
	                                  "\r\n");
}

EG_TEST(write_absolute_to_origin_form)
{
	parse_req("GET http://Edition.CNN.com/politics?x=1 HTTP/1.1\r\nHost: "
	          "edition.cnn.com\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "GET /politics?x=1 HTTP/1.1\r\n"
	                                  "host: Edition.CNN.com\r\n\r\n");
	parse_req("GET http://h HTTP/1.1\r\nHost: h\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "GET / HTTP/1.1\r\nhost: h\r\n\r\n");
	parse_req("GET http://h:8080?q HTTP/1.1\r\nHost: h:8080\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "GET /?q HTTP/1.1\r\nhost: h:8080\r\n\r\n");
	/* to another proxy: as received */
	struct eg_http_fwd fwd = {.keep_absolute_form = true};

	EG_ASSERT_STR_EQ(write_req(&fwd), "GET http://h:8080?q HTTP/1.1\r\nhost: h:8080\r\n\r\n");
}

EG_TEST(write_http10_becomes_http11_with_host)
{
	parse_req("GET /x HTTP/1.0\r\nHost: a\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "GET /x HTTP/1.1\r\nhost: a\r\n\r\n");
	parse_req("GET /x HTTP/1.0\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "GET /x HTTP/1.1\r\nhost: \r\n\r\n");
	/* the parser ignored a 1.0 Expect; the 1.1 upstream must not act on it */
	parse_req("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "PUT /x HTTP/1.1\r\nhost: \r\ncontent-length: 1\r\n\r\n");
	struct eg_http_fwd fwd = {.host = EG_STR("backend.svc:8080")};

	EG_ASSERT_STR_EQ(write_req(&fwd),
	                 "PUT /x HTTP/1.1\r\nhost: backend.svc:8080\r\ncontent-length: 1\r\n\r\n");
}

EG_TEST(write_canonical_framing)
{
	parse_req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nX: y\r\ncontent-length: 5, "
	          "5\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "POST / HTTP/1.1\r\nhost: h\r\nX: y\r\n"
	                                  "content-length: 5\r\n\r\n");
	parse_req("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "POST / HTTP/1.1\r\nhost: h\r\n"
	                                  "transfer-encoding: chunked\r\n\r\n");
	parse_req("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL),
	                 "POST / HTTP/1.1\r\nhost: h\r\ncontent-length: 0\r\n\r\n");
}

EG_TEST(write_x_forwarded_for)
{
	struct eg_http_fwd fwd = {.xff_append = EG_STR("127.0.0.9")};

	parse_req("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(&fwd), "GET / HTTP/1.1\r\nhost: h\r\n"
	                                  "x-forwarded-for: 127.0.0.9\r\n\r\n");
	/* appended to the list; all incoming fields become one, where the first stood */
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 127.0.0.1, 127.0.0.2\r\nA: b\r\n"
	          "x-forwarded-for: 127.0.0.3\r\n\r\n");
	EG_ASSERT_STR_EQ(
	        write_req(&fwd),
	        "GET / HTTP/1.1\r\nhost: h\r\n"
	        "X-Forwarded-For: 127.0.0.1, 127.0.0.2, 127.0.0.3, 127.0.0.9\r\nA: b\r\n\r\n");
	/* without an address to append, the incoming fields pass unchanged */
	EG_ASSERT_STR_EQ(write_req(NULL), "GET / HTTP/1.1\r\nhost: h\r\n"
	                                  "X-Forwarded-For: 127.0.0.1, 127.0.0.2\r\nA: b\r\n"
	                                  "x-forwarded-for: 127.0.0.3\r\n\r\n");
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For:\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(&fwd), "GET / HTTP/1.1\r\nhost: h\r\n"
	                                  "X-Forwarded-For: 127.0.0.9\r\n\r\n");
}

EG_TEST(write_x_forwarded_proto)
{
	struct eg_http_fwd keep = {.xfp = EG_STR("http")};
	struct eg_http_fwd edge = {.xfp = EG_STR("http"), .xfp_overwrite = true};

	parse_req("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(&keep), "GET / HTTP/1.1\r\nhost: h\r\n"
	                                   "x-forwarded-proto: http\r\n\r\n");
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-Proto: https\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(&keep), "GET / HTTP/1.1\r\nhost: h\r\n"
	                                   "X-Forwarded-Proto: https\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(&edge), "GET / HTTP/1.1\r\nhost: h\r\n"
	                                   "x-forwarded-proto: http\r\n\r\n");
}

EG_TEST(write_request_id)
{
	static const uint8_t rnd[16] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67,
	                                0x89, 0xab, 0xcd, 0xef, 0x00, 0x11, 0x22, 0x33};
	static const uint8_t zero[16];
	char id[EG_HTTP_UUID_LEN + 1];
	struct eg_http_fwd fwd = {0};

	eg_http_uuid4(zero, id);
	EG_ASSERT_STR_EQ(id, "00000000-0000-4000-8000-000000000000");
	eg_http_uuid4(rnd, id);
	EG_ASSERT_STR_EQ(id, "deadbeef-0123-4567-89ab-cdef00112233");

	/* a valid incoming id is kept */
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: abc-123_x.y:z+/=\r\n\r\n");
	EG_ASSERT_EQ(eg_http_request_id(&g_req, rnd, false, id, sizeof(id)), 16);
	EG_ASSERT_STR_EQ(id, "abc-123_x.y:z+/=");
	/* ... unless told to regenerate (an edge request) */
	EG_ASSERT_EQ(eg_http_request_id(&g_req, rnd, true, id, sizeof(id)), 36);
	EG_ASSERT_STR_EQ(id, "deadbeef-0123-4567-89ab-cdef00112233");
	/* invalid, duplicated, or missing: a new one */
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a b\r\n\r\n");
	EG_ASSERT_EQ(eg_http_request_id(&g_req, zero, false, id, sizeof(id)), 36);
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: a\r\nX-Request-Id: a\r\n\r\n");
	EG_ASSERT_EQ(eg_http_request_id(&g_req, zero, false, id, sizeof(id)), 36);
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id:\r\n\r\n");
	EG_ASSERT_EQ(eg_http_request_id(&g_req, zero, false, id, sizeof(id)), 36);
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nX-Request-Id: "
	          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n");
	EG_ASSERT_EQ(eg_http_request_id(&g_req, zero, false, id, sizeof(id)), 36);
	EG_ASSERT_STR_EQ(id, "00000000-0000-4000-8000-000000000000");
	EG_ASSERT_EQ(eg_http_request_id(&g_req, NULL, false, id, sizeof(id)), -EINVAL);
	EG_ASSERT_EQ(eg_http_request_id(&g_req, zero, false, id, 36), -E2BIG);

	/* the writer drops every incoming one and writes the chosen id */
	parse_req("GET / HTTP/1.1\r\nHost: h\r\nx-request-id: a\r\nX-Request-ID: b\r\n\r\n");
	fwd.request_id = eg_str_c(id);
	EG_ASSERT_STR_EQ(write_req(&fwd),
	                 "GET / HTTP/1.1\r\nhost: h\r\n"
	                 "x-request-id: 00000000-0000-4000-8000-000000000000\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "GET / HTTP/1.1\r\nhost: h\r\nx-request-id: a\r\n"
	                                  "X-Request-ID: b\r\n\r\n");
}

EG_TEST(write_added_and_dropped_fields)
{
	static const struct eg_http_header add[] = {
	        {EG_STR("x-egressd-deny-reason"), EG_STR("host example.com: REGISTRY_ONLY")},
	        {EG_STR("x-empty"), EG_STR("")},
	};
	static const struct eg_str drop[] = {EG_STR("x-egressd-deny-reason"), EG_STR("EXPECT")};
	struct eg_http_fwd fwd = {.add = add, .n_add = 2, .drop = drop, .n_drop = 2};

	parse_req("PUT / HTTP/1.1\r\nHost: h\r\nX-Egressd-Deny-Reason: forged\r\n"
	          "Expect: 100-continue\r\nContent-Length: 1\r\n\r\n");
	EG_ASSERT_STR_EQ(
	        write_req(&fwd),
	        "PUT / HTTP/1.1\r\nhost: h\r\ncontent-length: 1\r\n"
	        "x-egressd-deny-reason: host example.com: REGISTRY_ONLY\r\nx-empty: \r\n\r\n");
}

EG_TEST(write_refuses_injection)
{
	static const struct eg_http_header crlf[] = {{EG_STR("x-a"), EG_STR("b\r\nx-evil: 1")}};
	static const struct eg_http_header badname[] = {{EG_STR("x a"), EG_STR("b")}};
	static const struct eg_http_header noname[] = {{EG_STR(""), EG_STR("b")}};
	static const struct eg_http_header nul[] = {{EG_STR("x-a"), {"b\0c", 3}}};
	struct eg_http_fwd fwd = {.n_add = 1};

	parse_req("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	eg_buf_done(&g_out);
	EG_ASSERT_EQ(eg_buf_puts(&g_out, "before"), 0);
	fwd.add = crlf;
	EG_ASSERT_EQ(eg_http_write_request(&g_out, &g_req, &fwd), -EINVAL);
	fwd.add = badname;
	EG_ASSERT_EQ(eg_http_write_request(&g_out, &g_req, &fwd), -EINVAL);
	fwd.add = noname;
	EG_ASSERT_EQ(eg_http_write_request(&g_out, &g_req, &fwd), -EINVAL);
	fwd.add = nul;
	EG_ASSERT_EQ(eg_http_write_request(&g_out, &g_req, &fwd), -EINVAL);
	fwd = (struct eg_http_fwd){.xff_append = EG_STR("1\n2")};
	EG_ASSERT_EQ(eg_http_write_request(&g_out, &g_req, &fwd), -EINVAL);
	fwd = (struct eg_http_fwd){.host = EG_STR(" h")};
	EG_ASSERT_EQ(eg_http_write_request(&g_out, &g_req, &fwd), -EINVAL);
	fwd = (struct eg_http_fwd){.n_add = 1};
	EG_ASSERT_EQ(eg_http_write_request(&g_out, &g_req, &fwd), -EINVAL);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&g_out), "before"); /* untouched */
}

EG_TEST(write_restores_buffer_on_overflow)
{
	struct eg_buf small = EG_BUF_INIT(40);

	parse_req("GET /a/long/enough/path HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/8.9.1\r\n\r\n");
	EG_ASSERT_EQ(eg_buf_puts(&small, "keep"), 0);
	EG_ASSERT_EQ(eg_http_write_request(&small, &g_req, NULL), -E2BIG);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&small), "keep");
	EG_ASSERT_EQ(small.len, 4);
	eg_buf_done(&small);
}

EG_TEST(write_connection_modes_and_upgrade)
{
	struct eg_http_fwd fwd = {.connection = EG_HTTP_CONN_CLOSE};

	parse_req("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(&fwd), "GET / HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n");
	fwd.connection = EG_HTTP_CONN_KEEP_ALIVE;
	EG_ASSERT_STR_EQ(write_req(&fwd), "GET / HTTP/1.1\r\nhost: h\r\n"
	                                  "connection: keep-alive\r\n\r\n");
	parse_req("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
	          "Sec-WebSocket-Version: 13\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "GET /ws HTTP/1.1\r\nhost: h\r\n"
	                                  "Sec-WebSocket-Version: 13\r\n\r\n");
	fwd = (struct eg_http_fwd){.keep_upgrade = true};
	EG_ASSERT_STR_EQ(write_req(&fwd),
	                 "GET /ws HTTP/1.1\r\nhost: h\r\nUpgrade: websocket\r\n"
	                 "Sec-WebSocket-Version: 13\r\nconnection: upgrade\r\n\r\n");
}

EG_TEST(write_connect)
{
	parse_req("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\nProxy-Authorization: Basic x\r\n\r\n");
	EG_ASSERT_STR_EQ(write_req(NULL), "CONNECT h:443 HTTP/1.1\r\nhost: h:443\r\n\r\n");
}

EG_TEST(write_request_round_trips)
{
	static const uint8_t rnd[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const struct eg_http_header add[] = {{EG_STR("x-a"), EG_STR("1")}};
	struct eg_http_header hdrs[EG_HTTP_MAX_FIELDS];
	struct eg_http_req again;
	char id[64], *copy2;
	struct eg_http_fwd fwd = {
	        .xff_append = EG_STR("127.0.0.5"), .xfp = EG_STR("http"), .add = add, .n_add = 1};
	ssize_t r;

	parse_req(
	        "POST http://a.example:8080/p?q HTTP/1.1\r\nHost: a.example:8080\r\n"
	        "Transfer-Encoding: chunked\r\nConnection: X-Hop\r\nX-Hop: 1\r\nX-Keep: 2\r\n\r\n");
	EG_ASSERT(eg_http_request_id(&g_req, rnd, false, id, sizeof(id)) > 0);
	fwd.request_id = eg_str_c(id);
	write_req(&fwd);
	copy2 = malloc(g_out.len);
	memcpy(copy2, g_out.data, g_out.len);
	r = eg_http_parse_request(copy2, g_out.len, 0, hdrs, EG_HTTP_MAX_FIELDS, &again);
	EG_ASSERT_EQ(r, (ssize_t)g_out.len);
	EG_ASSERT_EQ(again.form, EG_HTTP_ORIGIN_FORM);
	EG_ASSERT_EQ(again.h.body, EG_HTTP_BODY_CHUNKED);
	EG_ASSERT_EQ(again.dest.port, 8080);
	EG_ASSERT_EQ(again.h.n_headers, 7); /* host x-keep te xff xfp x-request-id x-a */
	EG_ASSERT(!eg_http_req_host_mismatch(&again));
	free(copy2);
}

/* ---- responses ------------------------------------------------------------------------- */

EG_TEST(write_response_basic)
{
	parse_resp("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close, X-Hop\r\n"
	           "X-Hop: 1\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n",
	           EG_HTTP_GET);
	EG_ASSERT_STR_EQ(write_resp(NULL), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	                                   "content-length: 2\r\n\r\n");
	parse_resp("HTTP/1.0 404\r\nContent-Length: 0\r\n\r\n", EG_HTTP_GET);
	EG_ASSERT_STR_EQ(write_resp(NULL), "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
}

EG_TEST(write_response_framing)
{
	struct eg_http_fwd fwd = {.chunk_until_close = true};

	parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", EG_HTTP_GET);
	EG_ASSERT_STR_EQ(write_resp(NULL), "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
	parse_resp("HTTP/1.0 200 OK\r\nServer: old\r\n\r\n", EG_HTTP_GET);
	EG_ASSERT_STR_EQ(write_resp(NULL), "HTTP/1.1 200 OK\r\nServer: old\r\n\r\n");
	EG_ASSERT_STR_EQ(write_resp(&fwd), "HTTP/1.1 200 OK\r\nServer: old\r\n"
	                                   "transfer-encoding: chunked\r\n\r\n");
	/* a HEAD or 304 response keeps its Content-Length; 204 and 1xx lose it */
	parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", EG_HTTP_HEAD);
	EG_ASSERT_STR_EQ(write_resp(NULL), "HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n");
	parse_resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\nETag: \"x\"\r\n\r\n",
	           EG_HTTP_GET);
	EG_ASSERT_STR_EQ(write_resp(NULL), "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n"
	                                   "content-length: 7\r\n\r\n");
	parse_resp("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", EG_HTTP_GET);
	EG_ASSERT_STR_EQ(write_resp(NULL), "HTTP/1.1 204 No Content\r\n\r\n");
	parse_resp("HTTP/1.1 100 Continue\r\n\r\n", EG_HTTP_GET);
	EG_ASSERT_STR_EQ(write_resp(NULL), "HTTP/1.1 100 Continue\r\n\r\n");
}

EG_TEST(write_response_upgrade_and_connection)
{
	struct eg_http_fwd fwd = {.keep_upgrade = true};

	parse_resp(
	        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
	        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
	        EG_HTTP_GET);
	EG_ASSERT_STR_EQ(write_resp(&fwd),
	                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	                 "connection: upgrade\r\n\r\n");
	fwd = (struct eg_http_fwd){.connection = EG_HTTP_CONN_KEEP_ALIVE,
	                           .request_id = EG_STR("abc")};
	parse_resp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Request-Id: zzz\r\n\r\n",
	           EG_HTTP_GET);
	EG_ASSERT_STR_EQ(write_resp(&fwd), "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n"
	                                   "connection: keep-alive\r\nx-request-id: abc\r\n\r\n");
}

EG_TEST(write_simple_response)
{
	static const struct eg_http_header deny[] = {
	        {EG_STR("x-egressd-deny-reason"),
	         EG_STR("host edition.cnn.com not in registry (REGISTRY_ONLY)")},
	};

	g_out.len = 0;
	EG_ASSERT_EQ(eg_http_write_simple_response(
	                     &g_out, 502, deny, 1,
	                     EG_STR("egressd: edition.cnn.com is not allowed\n"), false),
	             0);
	EG_ASSERT_STR_EQ(
	        eg_buf_cstr(&g_out),
	        "HTTP/1.1 502 Bad Gateway\r\n"
	        "content-type: text/plain; charset=utf-8\r\n"
	        "content-length: 40\r\n"
	        "x-egressd-deny-reason: host edition.cnn.com not in registry (REGISTRY_ONLY)\r\n"
	        "\r\n"
	        "egressd: edition.cnn.com is not allowed\n");
	g_out.len = 0;
	EG_ASSERT_EQ(eg_http_write_simple_response(&g_out, 403, NULL, 0, EG_STR(""), true), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&g_out), "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n"
	                                      "connection: close\r\n\r\n");
	g_out.len = 0;
	EG_ASSERT_EQ(eg_http_write_simple_response(&g_out, 100, NULL, 0, EG_STR(""), false), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&g_out), "HTTP/1.1 100 Continue\r\n\r\n");
	EG_ASSERT_EQ(eg_http_write_simple_response(&g_out, 204, NULL, 0, EG_STR("x"), false),
	             -EINVAL);
	EG_ASSERT_EQ(eg_http_write_simple_response(&g_out, 600, NULL, 0, EG_STR(""), false),
	             -EINVAL);
	EG_ASSERT_EQ(eg_http_write_simple_response(&g_out, 99, NULL, 0, EG_STR(""), false),
	             -EINVAL);
	EG_ASSERT_STR_EQ(eg_http_status_reason(431), "Request Header Fields Too Large");
	EG_ASSERT_STR_EQ(eg_http_status_reason(299), "");
	eg_buf_done(&g_out);
	free(g_copy);
	g_copy = NULL;
}
