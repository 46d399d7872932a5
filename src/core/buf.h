/* src/core/buf.h: bounded growable byte buffers.
 * May include: core. */
#ifndef EG_CORE_BUF_H
#define EG_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/compiler.h"

struct eg_buf {
	char *data; /* storage, NUL-terminated while cap > 0; NULL while cap == 0 */
	size_t len; /* bytes in use: len < cap <= max + 1, always */
	size_t cap; /* bytes allocated */
	size_t max; /* hard limit fixed at init; appending past it fails with -E2BIG */
};

#define EG_BUF_INIT(limit) ((struct eg_buf){ NULL, 0, 0, (limit) })

void eg_buf_init(struct eg_buf *b, size_t max);
/* Releases the storage; the buffer can be used again (empty). */
void eg_buf_done(struct eg_buf *b);
/* 0, -E2BIG (would exceed max) or -ENOMEM. */
int eg_buf_reserve(struct eg_buf *b, size_t extra);
int eg_buf_append(struct eg_buf *b, const void *p, size_t n);
int eg_buf_puts(struct eg_buf *b, const char *s);
int eg_buf_putc(struct eg_buf *b, char c);
int eg_buf_printf(struct eg_buf *b, const char *fmt, ...) EG_PRINTF(2, 3);
int eg_buf_vprintf(struct eg_buf *b, const char *fmt, va_list ap) EG_PRINTF(2, 0);
/* Appends @s JSON-escaped, without the quotes. */
int eg_buf_json_escape(struct eg_buf *b, const char *s, size_t n);
/* Returns the NUL-terminated contents ("" when empty). */
const char *eg_buf_cstr(const struct eg_buf *b);
/* Hands the storage to the caller (who frees it) and empties the buffer. */
char *eg_buf_steal(struct eg_buf *b);

#endif /* EG_CORE_BUF_H */
