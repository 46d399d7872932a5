/* src/core/buf.c: bounded growable byte buffers. */
#include "core/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

void eg_buf_init(struct eg_buf *b, size_t max)
{
	*b = EG_BUF_INIT(max);
}

void eg_buf_done(struct eg_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int eg_buf_reserve(struct eg_buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return -E2BIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap *= 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	p = realloc(b->data, ncap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

int eg_buf_append(struct eg_buf *b, const void *p, size_t n)
{
	int r = eg_buf_reserve(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int eg_buf_puts(struct eg_buf *b, const char *s)
{
	return eg_buf_append(b, s, strlen(s));
}

int eg_buf_putc(struct eg_buf *b, char c)
{
	return eg_buf_append(b, &c, 1);
}

int eg_buf_vprintf(struct eg_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n, r;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return -EINVAL;
	r = eg_buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int eg_buf_printf(struct eg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = eg_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int eg_buf_json_escape(struct eg_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		int r;

		if (c == '"' || c == '\\') {
			char two[2] = { '\\', (char)c };
			r = eg_buf_append(b, two, 2);
		} else if (c == '\n') {
			r = eg_buf_append(b, "\\n", 2);
		} else if (c == '\t') {
			r = eg_buf_append(b, "\\t", 2);
		} else if (c == '\r') {
			r = eg_buf_append(b, "\\r", 2);
		} else if (c < 0x20 || c == 0x7f) {
			r = eg_buf_append(b, esc, 6);
		} else {
			r = eg_buf_putc(b, (char)c);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

const char *eg_buf_cstr(const struct eg_buf *b)
{
	return b->data ? b->data : "";
}

char *eg_buf_steal(struct eg_buf *b)
{
	char *p = b->data;

	if (!p)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
