/* src/core/log.h: process log (not the access log) to stderr, one line per event.
 * May include: core. */
#ifndef EG_CORE_LOG_H
#define EG_CORE_LOG_H

#include "core/compiler.h"

enum eg_log_level {
	EG_LOG_ERROR,
	EG_LOG_WARN,
	EG_LOG_INFO,
	EG_LOG_DEBUG,
	_EG_LOG_LEVEL_MAX,
};

extern enum eg_log_level eg_log_level;

/* Parses "error", "warn"/"warning", "info", "debug". 0 or -EINVAL. */
int eg_log_level_parse(const char *s, enum eg_log_level *ret);
const char *eg_log_level_name(enum eg_log_level l);
void eg_log(enum eg_log_level l, const char *fmt, ...) EG_PRINTF(2, 3);

#define eg_log_error(...) eg_log(EG_LOG_ERROR, __VA_ARGS__)
#define eg_log_warn(...)  eg_log(EG_LOG_WARN, __VA_ARGS__)
#define eg_log_info(...)  eg_log(EG_LOG_INFO, __VA_ARGS__)
#define eg_log_debug(...)                                     \
	do {                                                  \
		if (EG_UNLIKELY(eg_log_level >= EG_LOG_DEBUG)) \
			eg_log(EG_LOG_DEBUG, __VA_ARGS__);    \
	} while (0)

#endif /* EG_CORE_LOG_H */
