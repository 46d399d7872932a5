/* src/http/chunked.c: the chunked transfer coding (RFC 9112 §7.1), decoded by a byte-driven
 * state machine so that any split of the body, down to one byte per call, gives the same
 * result. Chunk data is handed back as slices of the input; nothing is copied. */
#include "http/http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "core/compiler.h"
#include "http/http-int.h"

enum {
	CH_SIZE_START, /* first hex digit of a chunk-size */
	CH_SIZE,       /* more digits, or BWS / ';' / CR */
	CH_SIZE_WS,    /* BWS after the size: only a ';' may follow */
	CH_EXT,        /* chunk extensions, skipped up to the CR */
	CH_SIZE_LF,    /* the LF of the size line */
	CH_DATA,       /* chunk data */
	CH_DATA_CR,    /* the CRLF after chunk data */
	CH_DATA_LF,
	CH_TRAILER_START, /* a trailer field line, or the final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_END_LF, /* the LF of the final empty line */
	CH_DONE,
	CH_ERROR,
};

void eg_http_chunked_init(struct eg_http_chunked *c)
{
	*c = (struct eg_http_chunked){.state = CH_SIZE_START};
}

static ssize_t fail(struct eg_http_chunked *c, int err)
{
	c->state = CH_ERROR;
	c->err = err;
	return err;
}

/* One byte of everything but chunk data. Returns 0 or a refusal. */
static int step(struct eg_http_chunked *c, unsigned char ch)
{
	int v;

	if (c->state >= CH_TRAILER_START && c->state <= CH_END_LF &&
	    ++c->trailer_bytes > EG_HTTP_MAX_FIELDS_SIZE + 2)
		return -EG_HTTP_ETRAILERS_TOO_LARGE;
	switch (c->state) {
	case CH_SIZE_START:
		v = http_hex_val(ch);
		if (v < 0)
			return -EG_HTTP_ECHUNK_SIZE;
		c->remaining = (uint64_t)v;
		c->digits = 1;
		c->ext_len = 0;
		c->state = CH_SIZE;
		return 0;
	case CH_SIZE:
		v = http_hex_val(ch);
		if (v >= 0) {
			/* 16 digits fill 64 bits: a 17th can only overflow (or be a run of
			 * leading zeros, which nothing legitimate sends) */
			if (++c->digits > 16)
				return -EG_HTTP_ECHUNK_SIZE_OVERFLOW;
			c->remaining = c->remaining << 4 | (uint64_t)v;
			return 0;
		}
		if (ch == '\r') {
			c->state = CH_SIZE_LF;
			return 0;
		}
		if (ch == ';') {
			c->state = CH_EXT;
			return 0;
		}
		if (ch == ' ' || ch == '\t') {
			c->state = CH_SIZE_WS;
			return 0;
		}
		return ch == '\n' ? -EG_HTTP_EBARE_LF : -EG_HTTP_ECHUNK_SIZE;
	case CH_SIZE_WS:
		if (++c->ext_len > EG_HTTP_MAX_CHUNK_EXT)
			return -EG_HTTP_ECHUNK_EXT_TOO_LONG;
		if (ch == ';') {
			c->state = CH_EXT;
			return 0;
		}
		if (ch == '\n')
			return -EG_HTTP_EBARE_LF;
		return ch == ' ' || ch == '\t' ? 0 : -EG_HTTP_ECHUNK_EXT;
	case CH_EXT:
		if (ch == '\r') {
			c->state = CH_SIZE_LF;
			return 0;
		}
		if (++c->ext_len > EG_HTTP_MAX_CHUNK_EXT)
			return -EG_HTTP_ECHUNK_EXT_TOO_LONG;
		if (ch == '\n')
			return -EG_HTTP_EBARE_LF;
		/* extensions are skipped, not interpreted; only CTLs are refused so that
		 * no reader can see a line end where we do not */
		return ch == '\t' || (ch >= 0x20 && ch != 0x7f) ? 0 : -EG_HTTP_ECHUNK_EXT;
	case CH_SIZE_LF:
		if (ch != '\n')
			return -EG_HTTP_EBARE_CR;
		c->state = c->remaining ? CH_DATA : CH_TRAILER_START;
		return 0;
	case CH_DATA_CR:
		if (ch != '\r')
			return -EG_HTTP_ECHUNK_CRLF;
		c->state = CH_DATA_LF;
		return 0;
	case CH_DATA_LF:
		if (ch != '\n')
			return -EG_HTTP_ECHUNK_CRLF;
		c->state = CH_SIZE_START;
		return 0;
	case CH_TRAILER_START:
		if (ch == '\r') {
			c->state = CH_END_LF;
			return 0;
		}
		if (ch == '\n')
			return -EG_HTTP_EBARE_LF;
		if (ch == ' ' || ch == '\t')
			return -EG_HTTP_EOBS_FOLD;
		if (!http_is_tchar(ch))
			return -EG_HTTP_EFIELD_NAME;
		if (++c->trailer_fields > EG_HTTP_MAX_FIELDS)
			return -EG_HTTP_ETRAILERS_TOO_LARGE;
		c->state = CH_TRAILER_NAME;
		return 0;
	case CH_TRAILER_NAME:
		if (ch == ':') {
			c->state = CH_TRAILER_VALUE;
			return 0;
		}
		if (http_is_tchar(ch))
			return 0;
		if (ch == ' ' || ch == '\t')
			return -EG_HTTP_EWS_BEFORE_COLON;
		if (ch == '\r')
			return -EG_HTTP_ENO_COLON;
		if (ch == '\n')
			return -EG_HTTP_EBARE_LF;
		return -EG_HTTP_EFIELD_NAME;
	case CH_TRAILER_VALUE:
		if (ch == '\r') {
			c->state = CH_TRAILER_LF;
			return 0;
		}
		if (ch == '\n')
			return -EG_HTTP_EBARE_LF;
		return ch == '\t' || (ch >= 0x20 && ch != 0x7f) ? 0 : -EG_HTTP_EFIELD_VALUE;
	case CH_TRAILER_LF:
		if (ch != '\n')
			return -EG_HTTP_EBARE_CR;
		c->state = CH_TRAILER_START;
		return 0;
	case CH_END_LF:
		if (ch != '\n')
			return -EG_HTTP_EBARE_CR;
		c->state = CH_DONE;
		c->done = true;
		return 0;
	default:
		return -EINVAL;
	}
}

ssize_t eg_http_chunked_feed(struct eg_http_chunked *c, const char *buf, size_t len,
                             struct eg_str *data)
{
	size_t i = 0;
	int r;

	*data = (struct eg_str){NULL, 0};
	if (c->state == CH_ERROR)
		return c->err;
	if (!buf && len)
		return -EINVAL;
	while (i < len && c->state != CH_DONE) {
		if (c->state == CH_DATA) {
			size_t n = (size_t)EG_MIN(c->remaining, (uint64_t)(len - i));

			*data = (struct eg_str){buf + i, n};
			c->remaining -= n;
			c->body_bytes += n;
			if (!c->remaining)
				c->state = CH_DATA_CR;
			return (ssize_t)(i + n);
		}
		r = step(c, (unsigned char)buf[i]);
		if (r < 0)
			return fail(c, r);
		i++;
	}
	return (ssize_t)i;
}

int eg_http_chunk_header(uint64_t size, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%" PRIx64 "\r\n", size);

	if (n < 0 || (size_t)n >= cap)
		return -E2BIG;
	return n;
}
