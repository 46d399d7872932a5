/* src/core/log.c: process log to stderr with a UTC timestamp and level. */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

enum eg_log_level eg_log_level = EG_LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };
_Static_assert(EG_ARRAY_SIZE(level_names) == _EG_LOG_LEVEL_MAX, "level names");

int eg_log_level_parse(const char *s, enum eg_log_level *ret)
{
	for (unsigned i = 0; i < _EG_LOG_LEVEL_MAX; i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*ret = (enum eg_log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warn") == 0) {
		*ret = EG_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *eg_log_level_name(enum eg_log_level l)
{
	return l < _EG_LOG_LEVEL_MAX ? level_names[l] : "?";
}

void eg_log(enum eg_log_level l, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if (l > eg_log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\t%s\t",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000000, level_names[l]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write() per line so lines from several threads never interleave. */
	while (write(STDERR_FILENO, line, (size_t)n) < 0 && errno == EINTR)
		;
}
