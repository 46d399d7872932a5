/* tests/unit/test_http_chunked.c: the chunked body decoder (src/http/chunked.c), fed from
 * exact-size heap copies in every split the tests can think of. */
#include "../../src/http/chunked.c"

#include <stdlib.h>

#include "eg_test.h"

struct run {
	ssize_t result;   /* bytes consumed up to done, or the refusal */
	char data[70000]; /* concatenated chunk data */
	size_t data_len;
	bool done;
	size_t trailer_fields;
};

/* Feeds @in in pieces of @step bytes (0: all at once), each piece an exact-size heap copy. */
static void run_chunked(const char *in, size_t len, size_t step, struct run *out)
{
	struct eg_http_chunked c;
	size_t off = 0;

	eg_http_chunked_init(&c);
	memset(out, 0, sizeof(*out));
	if (!step)
		step = len ? len : 1;
	while (off < len && !c.done) {
		size_t n = EG_MIN(step, len - off), used = 0;
		char *piece = malloc(n);

		if (!piece)
			abort();
		memcpy(piece, in + off, n);
		while (used < n && !c.done) {
			struct eg_str d;
			ssize_t r = eg_http_chunked_feed(&c, piece + used, n - used, &d);

			if (r < 0) {
				out->result = r;
				free(piece);
				return;
			}
			if (d.len) {
				if (d.ptr < piece + used || d.ptr + d.len > piece + n ||
				    out->data_len + d.len > sizeof(out->data))
					abort();
				memcpy(out->data + out->data_len, d.ptr, d.len);
				out->data_len += d.len;
			}
			if (r == 0 && !d.len)
				break;
			used += (size_t)r;
		}
		free(piece);
		off += used;
		if (used < n && !c.done)
			break;
	}
	out->done = c.done;
	out->trailer_fields = c.trailer_fields;
	out->result = c.done ? (ssize_t)off : -EAGAIN;
}

static struct run g_run, g_run2;

#define RUN(lit, step)      run_chunked(lit, sizeof(lit) - 1, step, &g_run)
#define EG_ASSERT_ERR(r, e) EG_ASSERT_STR_EQ(eg_http_err_reason((int)(r)), eg_http_err_reason(-(e)))

static const char *data_str(const struct run *r)
{
	static char b[70001];

	memcpy(b, r->data, r->data_len);
	b[r->data_len] = '\0';
	return b;
}

EG_TEST(chunked_simple)
{
	RUN("5\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT(g_run.done);
	EG_ASSERT_EQ(g_run.result, 15);
	EG_ASSERT_STR_EQ(data_str(&g_run), "hello");
}

EG_TEST(chunked_several_chunks_hex_case)
{
	RUN("3\r\nabc\r\nA\r\n0123456789\r\na\r\nABCDEFGHIJ\r\n00\r\n\r\n", 0);
	EG_ASSERT(g_run.done);
	EG_ASSERT_STR_EQ(data_str(&g_run), "abc0123456789ABCDEFGHIJ");
}

EG_TEST(chunked_stops_at_end_of_body)
{
	/* the bytes after the last chunk belong to the next (pipelined) message */
	static const char in[] = "2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n";

	RUN(in, 0);
	EG_ASSERT(g_run.done);
	EG_ASSERT_EQ(g_run.result, 12);
	RUN(in, 1);
	EG_ASSERT_EQ(g_run.result, 12);
}

static const char *const split_bodies[] = {
        "5\r\nhello\r\n0\r\n\r\n",
        "1;name=value;q=\"x y\"\r\nx\r\n10 ; ext\r\n0123456789abcdef\r\n0\r\n\r\n",
        "0\r\nX-Sum: 1\r\nB:\r\n\r\n",
        "000a\r\n0123456789\r\n0;last\r\n\r\n",
        "FFFF\r\n", /* incomplete: data never arrives */
        "4\r\nabcd\r\n0\r\nTrailer-Name: value\twith tab\r\n\r\n",
};

EG_TEST(chunked_every_split_point)
{
	for (size_t k = 0; k < EG_ARRAY_SIZE(split_bodies); k++) {
		const char *in = split_bodies[k];
		size_t len = strlen(in);

		run_chunked(in, len, 0, &g_run);
		/* one byte at a time */
		run_chunked(in, len, 1, &g_run2);
		EG_ASSERT_EQ(g_run2.result, g_run.result);
		EG_ASSERT_EQ(g_run2.data_len, g_run.data_len);
		EG_ASSERT(memcmp(g_run2.data, g_run.data, g_run.data_len) == 0);
		EG_ASSERT_EQ(g_run2.trailer_fields, g_run.trailer_fields);
		/* every two-piece split */
		for (size_t i = 1; i < len; i++) {
			struct eg_http_chunked c;
			char *a = malloc(i), *b = malloc(len - i);
			size_t got = 0, consumed = 0;
			char data[256];
			struct eg_str d;
			ssize_t r = 0;

			memcpy(a, in, i);
			memcpy(b, in + i, len - i);
			eg_http_chunked_init(&c);
			for (size_t off = 0; off < i && !c.done;) {
				r = eg_http_chunked_feed(&c, a + off, i - off, &d);
				if (r < 0 || (r == 0 && !d.len))
					break;
				if (d.len)
					memcpy(data + got, d.ptr, d.len);
				got += d.len;
				off += (size_t)r;
				consumed += (size_t)r;
			}
			for (size_t off = 0; r >= 0 && off < len - i && !c.done;) {
				r = eg_http_chunked_feed(&c, b + off, len - i - off, &d);
				if (r < 0 || (r == 0 && !d.len))
					break;
				if (d.len)
					memcpy(data + got, d.ptr, d.len);
				got += d.len;
				off += (size_t)r;
				consumed += (size_t)r;
			}
			free(a);
			free(b);
			if (c.done != g_run.done || got != g_run.data_len ||
			    memcmp(data, g_run.data, got) != 0 ||
			    (c.done && (ssize_t)consumed != g_run.result))
				EG_FAIL("body %zu split at %zu differs", k, i);
		}
	}
}

EG_TEST(chunked_data_spread_over_feeds)
{
	struct eg_http_chunked c;
	struct eg_str d;

	eg_http_chunked_init(&c);
	EG_ASSERT_EQ(eg_http_chunked_feed(&c, "10\r\n0123", 8, &d), 8);
	EG_ASSERT_EQ(d.len, 4);
	EG_ASSERT(memcmp(d.ptr, "0123", 4) == 0);
	EG_ASSERT_EQ(c.remaining, 12);
	EG_ASSERT_EQ(eg_http_chunked_feed(&c, "456789abcdef\r\n0\r\n\r\n", 19, &d), 12);
	EG_ASSERT_EQ(d.len, 12);
	EG_ASSERT_EQ(eg_http_chunked_feed(&c, "\r\n0\r\n\r\n", 7, &d), 7);
	EG_ASSERT_EQ(d.len, 0);
	EG_ASSERT(d.ptr == NULL);
	EG_ASSERT(c.done);
	EG_ASSERT_EQ(c.body_bytes, 16);
	/* once done, nothing more is consumed */
	EG_ASSERT_EQ(eg_http_chunked_feed(&c, "5\r\n", 3, &d), 0);
}

EG_TEST(chunked_extensions)
{
	RUN("5;a=b\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT(g_run.done);
	RUN("5 ;a\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT(g_run.done);
	RUN("5\t; a = \"b c\"\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT(g_run.done);
	RUN("5 x\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_EXT);
	RUN("5;a\0b\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_EXT);
	RUN("5;a\x7f\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_EXT);
	RUN("5;a\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EBARE_LF);
	RUN("5 \nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EBARE_LF);
}

EG_TEST(chunked_extension_length_cap)
{
	static char in[EG_HTTP_MAX_CHUNK_EXT + 64];
	size_t n = 0;

	in[n++] = '1';
	in[n++] = ';';
	memset(in + n, 'e', EG_HTTP_MAX_CHUNK_EXT);
	n += EG_HTTP_MAX_CHUNK_EXT;
	memcpy(in + n, "\r\nx\r\n0\r\n\r\n", 10);
	run_chunked(in, n + 10, 0, &g_run);
	EG_ASSERT(g_run.done); /* the cap counts the bytes after the first ';' */
	in[2] = 'e';
	memmove(in + 3, in + 2, n + 10 - 2);
	run_chunked(in, n + 11, 0, &g_run);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_EXT_TOO_LONG);
	run_chunked(in, n + 11, 1, &g_run);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_EXT_TOO_LONG);
}

EG_TEST(chunked_size_syntax)
{
	RUN("\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_SIZE);
	RUN("g\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_SIZE);
	RUN("-1\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_SIZE);
	RUN("0x5\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_SIZE);
	RUN(" 5\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_SIZE);
	RUN("+5\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_SIZE);
	RUN("5\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EBARE_LF);
	RUN("5\r\rhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EBARE_CR);
}

EG_TEST(chunked_size_overflow)
{
	struct eg_http_chunked c;
	struct eg_str d;

	eg_http_chunked_init(&c);
	EG_ASSERT_EQ(eg_http_chunked_feed(&c, "ffffffffffffffff\r\n", 18, &d), 18);
	EG_ASSERT_EQ(c.remaining, UINT64_MAX);
	RUN("1ffffffffffffffff\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_SIZE_OVERFLOW);
	RUN("00000000000000005\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_SIZE_OVERFLOW);
	RUN("0000000000000005\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT(g_run.done);
}

EG_TEST(chunked_strict_crlf_after_data)
{
	/* data longer than its size: the classic request smuggling shape */
	RUN("3\r\nhello\r\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_CRLF);
	RUN("5\r\nhello\n0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_CRLF);
	RUN("5\r\nhello\rX0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_CRLF);
	RUN("5\r\nhello0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ECHUNK_CRLF);
	/* the final CRLF too */
	RUN("0\r\n\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EBARE_LF);
	RUN("0\r\n\rX", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EBARE_CR);
	RUN("0\n\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EBARE_LF);
}

EG_TEST(chunked_trailers)
{
	RUN("0\r\nX-A: b\r\nX-B:c\r\n\r\n", 0);
	EG_ASSERT(g_run.done);
	EG_ASSERT_EQ(g_run.trailer_fields, 2);
	RUN("0\r\nX-A: b\r\n c\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EOBS_FOLD);
	RUN("0\r\nX-A: b\nX: c\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EBARE_LF);
	RUN("0\r\nX-A: b\rc\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EBARE_CR);
	RUN("0\r\nX-A\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ENO_COLON);
	RUN("0\r\nX-A : b\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EWS_BEFORE_COLON);
	RUN("0\r\n: b\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EFIELD_NAME);
	RUN("0\r\nX(A: b\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EFIELD_NAME);
	RUN("0\r\nX-A: b\0\r\n\r\n", 0);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_EFIELD_VALUE);
	RUN("0\r\nX-A: \xe9\r\n\r\n", 0);
	EG_ASSERT(g_run.done);
}

EG_TEST(chunked_trailer_limits)
{
	static char in[EG_HTTP_MAX_FIELDS_SIZE + 4096];
	size_t n = 0;

	n += (size_t)snprintf(in, 8, "0\r\n");
	for (unsigned i = 0; i < EG_HTTP_MAX_FIELDS; i++)
		n += (size_t)snprintf(in + n, 32, "T%u: v\r\n", i);
	memcpy(in + n, "\r\n", 2);
	run_chunked(in, n + 2, 0, &g_run);
	EG_ASSERT(g_run.done);
	EG_ASSERT_EQ(g_run.trailer_fields, EG_HTTP_MAX_FIELDS);
	n += (size_t)snprintf(in + n, 32, "T-extra: v\r\n");
	memcpy(in + n, "\r\n", 2);
	run_chunked(in, n + 2, 0, &g_run);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ETRAILERS_TOO_LARGE);

	/* one huge trailer line */
	n = (size_t)snprintf(in, 8, "0\r\nT: ");
	memset(in + n, 'v', EG_HTTP_MAX_FIELDS_SIZE);
	n += EG_HTTP_MAX_FIELDS_SIZE;
	memcpy(in + n, "\r\n\r\n", 4);
	run_chunked(in, n + 4, 0, &g_run);
	EG_ASSERT_ERR(g_run.result, EG_HTTP_ETRAILERS_TOO_LARGE);
	EG_ASSERT_EQ(eg_http_err_status(-EG_HTTP_ETRAILERS_TOO_LARGE), 431);
}

EG_TEST(chunked_error_is_sticky)
{
	struct eg_http_chunked c;
	struct eg_str d;

	eg_http_chunked_init(&c);
	EG_ASSERT_EQ(eg_http_chunked_feed(&c, "z", 1, &d), -EG_HTTP_ECHUNK_SIZE);
	EG_ASSERT_EQ(eg_http_chunked_feed(&c, "5\r\nhello\r\n", 10, &d), -EG_HTTP_ECHUNK_SIZE);
	EG_ASSERT_EQ(c.err, -EG_HTTP_ECHUNK_SIZE);
	EG_ASSERT(!c.done);
	EG_ASSERT_EQ(eg_http_chunked_feed(&c, NULL, 0, &d), -EG_HTTP_ECHUNK_SIZE);
	eg_http_chunked_init(&c);
	EG_ASSERT_EQ(eg_http_chunked_feed(&c, NULL, 0, &d), 0);
	EG_ASSERT_EQ(eg_http_chunked_feed(&c, NULL, 1, &d), -EINVAL);
}

EG_TEST(chunked_header_writer)
{
	char b[32];

	EG_ASSERT_EQ(eg_http_chunk_header(0, b, sizeof(b)), 3);
	EG_ASSERT_STR_EQ(b, "0\r\n");
	EG_ASSERT_EQ(eg_http_chunk_header(0x1234abcd, b, sizeof(b)), 10);
	EG_ASSERT_STR_EQ(b, "1234abcd\r\n");
	EG_ASSERT_EQ(eg_http_chunk_header(UINT64_MAX, b, sizeof(b)), 18);
	EG_ASSERT_EQ(eg_http_chunk_header(UINT64_MAX, b, 18), -E2BIG);
	/* what the writer produces, the decoder reads back */
	run_chunked("1234abcd\r\n", 10, 0, &g_run);
	EG_ASSERT_EQ(g_run.result, -EAGAIN);
}
