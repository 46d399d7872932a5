/* src/model/diag.h: the sink for configuration problems; every line has one format:
 *   FILE:LINE:COL: error: KIND NAMESPACE/NAME: FIELD.PATH: what is wrong
 * May include: core. */
#ifndef EG_MODEL_DIAG_H
#define EG_MODEL_DIAG_H

#include "core/buf.h"
#include "model/node.h"

#define EG_DIAG_MAX_LINES 1000

enum eg_diag_level {
	EG_DIAG_ERROR,
	EG_DIAG_WARNING,
	EG_DIAG_INFO,
};

struct eg_diag {
	struct eg_buf out;   /* the lines, each ending in '\n' */
	unsigned errors;     /* counted even past EG_DIAG_MAX_LINES */
	unsigned warnings;
	unsigned lines;      /* lines written to out */
	bool warnings_off;   /* drop warnings (still counted) */
};

void eg_diag_init(struct eg_diag *d);
void eg_diag_done(struct eg_diag *d);
/* @what is "Kind ns/name" (or NULL before a resource is known); @path may be NULL. */
void eg_diag_add(struct eg_diag *d, enum eg_diag_level level, const struct eg_pos *at,
		 const char *what, const char *path, const char *fmt, ...) EG_PRINTF(6, 7);
void eg_diag_vadd(struct eg_diag *d, enum eg_diag_level level, const struct eg_pos *at,
		  const char *what, const char *path, const char *fmt, va_list ap)
	EG_PRINTF(6, 0);
static inline const char *eg_diag_text(const struct eg_diag *d)
{
	return eg_buf_cstr(&d->out);
}

#endif /* EG_MODEL_DIAG_H */
