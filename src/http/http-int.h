/* src/http/http-int.h: character classes shared by the files of src/http (private).
 * May include: core. */
#ifndef EG_HTTP_HTTP_INT_H
#define EG_HTTP_HTTP_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/str.h"

static inline bool http_is_alpha(unsigned char c)
{
	return (unsigned char)((c | 0x20) - 'a') < 26;
}

static inline bool http_is_digit(unsigned char c)
{
	return (unsigned char)(c - '0') < 10;
}

/* 0..15, or -1 when @c is not a HEXDIG. */
static inline int http_hex_val(unsigned char c)
{
	if (http_is_digit(c))
		return c - '0';
	if ((unsigned char)((c | 0x20) - 'a') < 6)
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Byte classes, one table lookup each:
 *   HC_TCHAR  tchar (RFC 9110 §5.6.2): tokens, field names, methods
 *   HC_FVALUE field-value bytes other than CR and LF: HTAB, SP, VCHAR, obs-text (§5.5)
 *   HC_PCHAR  RFC 3986 pchar without '%' (unreserved, sub-delims, ':', '@') plus '/' */
enum {
	HC_TCHAR = 1,
	HC_FVALUE = 2,
	HC_PCHAR = 4,
};

/* clang-format off */
static const unsigned char http_class[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, /* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
	2, 7, 2, 3, 7, 3, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6, /* 0x20 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 2, 6, 2, 2, /* 0x30 */
	6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x40 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 2, 2, 2, 3, 7, /* 0x50 */
	3, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 0x60 */
	7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 2, 3, 2, 7, 0, /* 0x70 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x90 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xa0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xb0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xc0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xd0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xe0 */
	2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0xf0 */
};
/* clang-format on */

static inline bool http_is_tchar(unsigned char c)
{
	return http_class[c] & HC_TCHAR;
}

/* A token (RFC 9110 §5.6.2): one or more tchar. */
static inline bool http_is_token(struct eg_str s)
{
	if (!s.len)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!http_is_tchar((unsigned char)s.ptr[i]))
			return false;
	return true;
}

static inline bool http_is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static inline bool http_is_field_vchar(unsigned char c)
{
	return http_class[c] & HC_FVALUE;
}

/* First byte of [p, end) that is not a field-value byte (HTAB, SP, VCHAR, obs-text), or
 * @end. Eight bytes per step while none is a CTL or DEL; the byte loop settles the rest. */
static inline const char *http_scan_value(const char *p, const char *end)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;

	while (end - p >= 8) {
		uint64_t x, del;

		memcpy(&x, p, 8);
		del = x ^ (0x7f * ones);
		/* any byte < 0x20 (HTAB too: the byte loop lets it pass), any byte == 0x7f */
		if (((x - 0x20 * ones) & ~x & high) | ((del - ones) & ~del & high))
			break;
		p += 8;
	}
	while (p < end && http_is_field_vchar((unsigned char)*p))
		p++;
	return p;
}

/* Field names the parser and the writer act on. */
enum http_field {
	HF_OTHER,
	HF_HOP, /* hop-by-hop with no other meaning here: Keep-Alive, TE, Trailer, ... */
	HF_CONNECTION,
	HF_UPGRADE,
	HF_TRANSFER_ENCODING,
	HF_HOST,
	HF_CONTENT_LENGTH,
	HF_EXPECT,
	HF_XFF,
	HF_XFP,
	HF_REQUEST_ID,
};

/* @n equals @lit (lowercase, same length as @n) ignoring ASCII case. */
static inline bool http_name_is(struct eg_str n, const char *lit)
{
	for (size_t i = 0; i < n.len; i++) {
		unsigned char c = (unsigned char)n.ptr[i], l = (unsigned char)lit[i];

		/* @lit holds only 'a'..'z' and '-': only letters may differ by case */
		if (c != l && !(l >= 'a' && (c | 0x20) == l))
			return false;
	}
	return true;
}

/* Classifies a field name with at most two comparisons (a switch on its length). */
static inline enum http_field http_field_kind(struct eg_str n)
{
	switch (n.len) {
	case 2:
		return http_name_is(n, "te") ? HF_HOP : HF_OTHER;
	case 4:
		return http_name_is(n, "host") ? HF_HOST : HF_OTHER;
	case 6:
		return http_name_is(n, "expect") ? HF_EXPECT : HF_OTHER;
	case 7:
		if (http_name_is(n, "upgrade"))
			return HF_UPGRADE;
		return http_name_is(n, "trailer") ? HF_HOP : HF_OTHER;
	case 10:
		if (http_name_is(n, "connection"))
			return HF_CONNECTION;
		return http_name_is(n, "keep-alive") ? HF_HOP : HF_OTHER;
	case 12:
		return http_name_is(n, "x-request-id") ? HF_REQUEST_ID : HF_OTHER;
	case 14:
		return http_name_is(n, "content-length") ? HF_CONTENT_LENGTH : HF_OTHER;
	case 15:
		return http_name_is(n, "x-forwarded-for") ? HF_XFF : HF_OTHER;
	case 16:
		return http_name_is(n, "proxy-connection") ? HF_HOP : HF_OTHER;
	case 17:
		if (http_name_is(n, "transfer-encoding"))
			return HF_TRANSFER_ENCODING;
		return http_name_is(n, "x-forwarded-proto") ? HF_XFP : HF_OTHER;
	case 18:
		return http_name_is(n, "proxy-authenticate") ? HF_HOP : HF_OTHER;
	case 19:
		return http_name_is(n, "proxy-authorization") ? HF_HOP : HF_OTHER;
	default:
		return HF_OTHER;
	}
}

static inline bool http_kind_is_hop(enum http_field k)
{
	return k == HF_HOP || k == HF_CONNECTION || k == HF_UPGRADE || k == HF_TRANSFER_ENCODING;
}

#endif /* EG_HTTP_HTTP_INT_H */
