/* tests/fuzz/fuzz_http_chunked.c: libFuzzer target for the chunked body decoder. The input
 * is decoded at once and again in pieces of pseudo-random sizes (1..16 bytes, each an
 * exact-size heap copy); both runs must agree on the refusal or the end, the bytes consumed
 * and the data delivered. */
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

struct outcome {
	ssize_t err; /* refusal, or 0 */
	bool done;
	size_t consumed;   /* bytes consumed in total */
	uint64_t data_len; /* chunk data delivered */
	uint64_t data_hash;
};

static void decode(const uint8_t *data, size_t size, uint32_t seed, struct outcome *o)
{
	struct eg_http_chunked c;
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	o->data_hash = 1469598103934665603ull;
	eg_http_chunked_init(&c);
	while (off < size && !c.done && !o->err) {
		size_t n = size - off, used = 0;
		char *piece;

		if (seed) {
			seed = seed * 1103515245u + 12345u;
			n = EG_MIN(n, (size_t)(seed >> 16) % 16 + 1);
		}
		piece = malloc(n);
		if (!piece)
			abort();
		memcpy(piece, data + off, n);
		while (used < n && !c.done) {
			struct eg_str d;
			ssize_t r = eg_http_chunked_feed(&c, piece + used, n - used, &d);

			if (r < 0) {
				o->err = r;
				CHECK(r <= -EG_HTTP_EBASE && c.err == r);
				break;
			}
			CHECK((size_t)r <= n - used);
			if (d.len) {
				CHECK(d.ptr >= piece + used &&
				      d.ptr + d.len <= piece + used + (size_t)r);
				o->data_len += d.len;
				for (size_t i = 0; i < d.len; i++)
					o->data_hash = (o->data_hash ^ (uint8_t)d.ptr[i]) *
					               1099511628211ull;
			}
			CHECK(r > 0); /* with input left and no refusal, progress is made */
			used += (size_t)r;
		}
		free(piece);
		off += used;
	}
	o->done = c.done;
	o->consumed = off;
	CHECK(c.body_bytes == o->data_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, pieces;

	decode(data, size, 0, &whole);
	decode(data, size, (uint32_t)size * 2654435761u | 1, &pieces);
	CHECK(whole.err == pieces.err && whole.done == pieces.done);
	CHECK(whole.data_len == pieces.data_len && whole.data_hash == pieces.data_hash);
	if (whole.done)
		CHECK(whole.consumed == pieces.consumed);
	return 0;
}
