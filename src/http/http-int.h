/* src/http/http-int.h: character classes shared by the files of src/http (private).
 * May include: core. */
#ifndef EG_HTTP_HTTP_INT_H
#define EG_HTTP_HTTP_INT_H

#include <stdbool.h>

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

/* tchar (RFC 9110 §5.6.2): the bytes of tokens, field names and methods. */
static inline bool http_is_tchar(unsigned char c)
{
	if (http_is_alpha(c) || http_is_digit(c))
		return true;
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '.':
	case '^':
	case '_':
	case '`':
	case '|':
	case '~':
		return true;
	default:
		return false;
	}
}

static inline bool http_is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* Field-value bytes other than CR and LF: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5). */
static inline bool http_is_field_vchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

#endif /* EG_HTTP_HTTP_INT_H */
