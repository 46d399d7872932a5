/* tests/fuzz/fuzz_http_response.c: libFuzzer target for the response head parser and the
 * response writer. The first byte picks the request method the response answers (GET, HEAD,
 * CONNECT, ...); the rest is the response. Checks: no read past the input, prefixes of an
 * accepted head are -EAGAIN, refusals are final, the hint changes nothing, and the written
 * head parses again with the same framing. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static struct eg_http_header hdrs[EG_HTTP_MAX_FIELDS];
static struct eg_http_header hdrs2[EG_HTTP_MAX_FIELDS];

static char *dup_exact(const uint8_t *p, size_t n)
{
	char *c = malloc(n ? n : 1);

	if (!c)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

static void round_trip(const struct eg_http_resp *resp, enum eg_http_method m, bool rechunk)
{
	struct eg_http_fwd fwd = {.chunk_until_close = rechunk, .request_id = EG_STR("abc")};
	struct eg_buf out = EG_BUF_INIT(256 * 1024);
	struct eg_http_resp again;
	enum eg_http_body want = resp->h.body;
	char *copy;
	ssize_t r;

	CHECK(eg_http_write_response(&out, resp, &fwd) == 0);
	if (resp->h.n_headers <= 90 && resp->h.len <= 40 * 1024) {
		copy = dup_exact((const uint8_t *)out.data, out.len);
		r = eg_http_parse_response(copy, out.len, 0, hdrs2, EG_HTTP_MAX_FIELDS, m, &again);
		CHECK(r == (ssize_t)out.len);
		CHECK(again.status == resp->status);
		if (want == EG_HTTP_BODY_UNTIL_CLOSE && rechunk)
			want = EG_HTTP_BODY_CHUNKED;
		CHECK(again.h.body == want);
		CHECK(want != EG_HTTP_BODY_LENGTH ||
		      again.h.content_length == resp->h.content_length);
		free(copy);
	}
	eg_buf_done(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum eg_http_method methods[] = {EG_HTTP_GET, EG_HTTP_HEAD, EG_HTTP_CONNECT,
	                                              EG_HTTP_POST};
	struct eg_http_resp resp, resp2;
	enum eg_http_method m;
	size_t split;
	ssize_t full, r;
	char *buf, *pre;

	if (size < 1)
		return 0;
	m = methods[data[0] & 3];
	data++;
	size--;
	buf = dup_exact(data, size);
	split = size ? (size_t)(data[0] * 131u + size) % (size + 1) : 0;

	full = eg_http_parse_response(buf, size, 0, hdrs, EG_HTTP_MAX_FIELDS, m, &resp);
	CHECK(full == -EAGAIN || full > 0 || full <= -EG_HTTP_EBASE);
	if (full > 0) {
		CHECK(resp.status >= 100 && resp.status <= 599);
		CHECK((size_t)full <= size && resp.h.n_headers <= EG_HTTP_MAX_FIELDS);
		CHECK(resp.h.body != EG_HTTP_BODY_UNTIL_CLOSE || !resp.h.keep_alive);
	}
	if (split < size) {
		pre = dup_exact(data, split);
		r = eg_http_parse_response(pre, split, 0, hdrs, EG_HTTP_MAX_FIELDS, m, &resp2);
		free(pre);
		if (full > 0 && split < (size_t)full)
			CHECK(r == -EAGAIN);
		if (r < 0 && r != -EAGAIN)
			CHECK(r == full);
		if (r == -EAGAIN)
			CHECK(eg_http_parse_response(buf, size, split, hdrs, EG_HTTP_MAX_FIELDS, m,
			                             &resp2) == full);
	}
	if (full > 0) {
		CHECK(eg_http_parse_response(buf, size, 0, hdrs, EG_HTTP_MAX_FIELDS, m, &resp) ==
		      full);
		round_trip(&resp, m, size & 1);
	}
	free(buf);
	return 0;
}
