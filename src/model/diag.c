/* src/model/diag.c: the single formatter of configuration problems. */
#include "model/diag.h"

#include <stdarg.h>

static const char *const level_names[] = { "error", "warning", "info" };

void eg_diag_init(struct eg_diag *d)
{
	memset(d, 0, sizeof(*d));
	eg_buf_init(&d->out, 1u << 20);
}

void eg_diag_done(struct eg_diag *d)
{
	eg_buf_done(&d->out);
}

void eg_diag_vadd(struct eg_diag *d, enum eg_diag_level level, const struct eg_pos *at,
		  const char *what, const char *path, const char *fmt, va_list ap)
{
	struct eg_buf *b = &d->out;

	if (level == EG_DIAG_ERROR)
		d->errors++;
	else if (level == EG_DIAG_WARNING)
		d->warnings++;
	if (level != EG_DIAG_ERROR && d->warnings_off)
		return;
	if (d->lines == EG_DIAG_MAX_LINES) {
		(void)eg_buf_puts(b, "error: too many problems, the rest are not shown\n");
		d->lines++;
		return;
	}
	if (d->lines > EG_DIAG_MAX_LINES)
		return;
	d->lines++;
	if (at && at->file && at->line)
		(void)eg_buf_printf(b, "%s:%u:%u: ", at->file, at->line, at->col);
	else if (at && at->file)
		(void)eg_buf_printf(b, "%s: ", at->file);
	(void)eg_buf_printf(b, "%s: ", level_names[level]);
	if (what)
		(void)eg_buf_printf(b, "%s: ", what);
	if (path && *path)
		(void)eg_buf_printf(b, "%s: ", path);
	(void)eg_buf_vprintf(b, fmt, ap);
	(void)eg_buf_putc(b, '\n');
}

void eg_diag_add(struct eg_diag *d, enum eg_diag_level level, const struct eg_pos *at,
		 const char *what, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	eg_diag_vadd(d, level, at, what, path, fmt, ap);
	va_end(ap);
}
