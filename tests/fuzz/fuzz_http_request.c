/* tests/fuzz/fuzz_http_request.c: libFuzzer target for the request head parser and the
 * forwarding writer; tests/fuzz/replay_main.c replays corpus/fuzz_http_request/ under gcc.
 * Besides "no crash, no read past the input" it checks properties that must hold for any
 * bytes: a prefix of an accepted head is -EAGAIN, a refusal of a prefix is final and the
 * same for the whole input, the prev_len hint changes nothing, and what the writer makes of
 * an accepted head parses again to the same destination and framing. */
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

static void check_slices(const struct eg_http_req *req, const char *buf, size_t len)
{
	CHECK(req->h.len > 0 && req->h.len <= len);
	CHECK(req->h.n_headers <= EG_HTTP_MAX_FIELDS);
	for (size_t i = 0; i < req->h.n_headers; i++) {
		const struct eg_http_header *f = &req->h.headers[i];

		CHECK(f->name.len > 0 && f->name.ptr >= buf &&
		      f->name.ptr + f->name.len <= buf + len);
		CHECK(f->value.ptr >= buf && f->value.ptr + f->value.len <= buf + len);
	}
	CHECK(req->target.ptr >= buf && req->target.ptr + req->target.len <= buf + len);
	CHECK(req->h.n_conn_tokens <= EG_HTTP_MAX_CONN_TOKENS);
}

static void round_trip(const struct eg_http_req *req, const uint8_t *data, size_t size)
{
	static const struct eg_http_header add[] = {
	        {EG_STR("x-egressd-deny-reason"), EG_STR("fuzz")},
	};
	uint8_t rnd[16] = {0};
	char id[EG_HTTP_MAX_REQUEST_ID + 1], host[300];
	struct eg_http_fwd fwd = {.xff_append = EG_STR("127.0.0.1"),
	                          .xfp = EG_STR("http"),
	                          .xfp_overwrite = size & 1,
	                          .add = add,
	                          .n_add = 1};
	struct eg_buf out = EG_BUF_INIT(256 * 1024);
	struct eg_http_req again;
	char *copy;
	ssize_t r;
	int n;

	memcpy(rnd, data, size < 16 ? size : 16);
	n = eg_http_request_id(req, rnd, size & 2, id, sizeof(id));
	CHECK(n > 0 && (size_t)n < sizeof(id));
	fwd.request_id = (struct eg_str){id, (size_t)n};
	CHECK(eg_http_authority_format(&req->dest, 0, host, sizeof(host)) >= 0 ||
	      req->dest.host.len > 250);
	CHECK(eg_http_write_request(&out, req, &fwd) == 0);
	/* the writer may add a handful of fields and reorder none: re-parse when that
	 * stays within the limits the original head met */
	if (req->h.n_headers <= 90 && req->h.len <= 40 * 1024) {
		copy = dup_exact((const uint8_t *)out.data, out.len);
		r = eg_http_parse_request(copy, out.len, 0, hdrs2, EG_HTTP_MAX_FIELDS, &again);
		CHECK(r == (ssize_t)out.len);
		CHECK(again.method == req->method);
		CHECK(again.h.version == 11);
		CHECK(again.h.body == req->h.body);
		CHECK(req->h.body != EG_HTTP_BODY_LENGTH ||
		      again.h.content_length == req->h.content_length);
		CHECK(!eg_http_req_host_mismatch(&again));
		if (req->form != EG_HTTP_ASTERISK_FORM)
			CHECK(eg_http_authority_eq(&again.dest, &req->dest, 0));
		for (size_t i = 0; i < again.h.n_headers; i++)
			CHECK(!eg_str_caseeq(again.h.headers[i].name,
			                     EG_STR("proxy-authorization")) &&
			      !eg_str_caseeq(again.h.headers[i].name, EG_STR("keep-alive")));
		free(copy);
	}
	eg_buf_done(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eg_http_req req, req2;
	char *buf = dup_exact(data, size), *pre;
	size_t split = size ? (size_t)data[0] * 257 % (size + 1) : 0, off;
	ssize_t full, r;

	full = eg_http_parse_request(buf, size, 0, hdrs, EG_HTTP_MAX_FIELDS, &req);
	CHECK(full == -EAGAIN || full > 0 || full <= -EG_HTTP_EBASE);
	if (full > 0)
		check_slices(&req, buf, size);

	/* a prefix: -EAGAIN below an accepted head; a refusal stays the same refusal */
	if (split < size) {
		pre = dup_exact(data, split);
		r = eg_http_parse_request(pre, split, 0, hdrs, EG_HTTP_MAX_FIELDS, &req2);
		free(pre);
		if (full > 0 && split < (size_t)full)
			CHECK(r == -EAGAIN);
		if (r < 0 && r != -EAGAIN)
			CHECK(r == full);
		/* resuming from that prefix with the hint gives the fresh result */
		if (r == -EAGAIN) {
			ssize_t again = eg_http_parse_request(buf, size, split, hdrs,
			                                      EG_HTTP_MAX_FIELDS, &req2);

			CHECK(again == full);
			if (full > 0)
				CHECK(req2.h.n_headers == req.h.n_headers &&
				      req2.method == req.method && req2.h.body == req.h.body &&
				      req2.target.ptr == req.target.ptr);
		}
	}
	if (full > 0) {
		/* re-parse after the round trip: hdrs is reused, so redo the parse */
		CHECK(eg_http_parse_request(buf, size, 0, hdrs, EG_HTTP_MAX_FIELDS, &req) == full);
		round_trip(&req, data, size);
	}

	/* pipelined requests after the first, bodies of a known length skipped */
	off = full > 0 ? (size_t)full : size;
	if (full > 0 && req.h.body == EG_HTTP_BODY_LENGTH)
		off = req.h.content_length > size - off ? size : off + req.h.content_length;
	for (unsigned k = 0; k < 8 && off < size; k++) {
		r = eg_http_parse_request(buf + off, size - off, 0, hdrs, EG_HTTP_MAX_FIELDS, &req);
		if (r <= 0)
			break;
		check_slices(&req, buf + off, size - off);
		off += (size_t)r;
	}
	free(buf);
	return 0;
}
