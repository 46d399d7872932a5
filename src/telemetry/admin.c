/* src/telemetry/admin.c: bodies of the admin endpoints (15000 admin, 15021 health, 15090
 * Prometheus) behind one small router. The proxy owns the sockets and the HTTP framing. */
#include <errno.h>
#include <stdlib.h>

#include "core/compiler.h"
#include "core/log.h"
#include "telemetry/telemetry.h"

#define PARAM_MAX 512 /* bytes of one decoded query value */

static const char help_text[] =
        "egressd admin endpoints:\n"
        "  /config_dump                 the serving configuration snapshot (JSON)\n"
        "  /stats[?filter=RE]           counters, gauges and histograms as name: value\n"
        "  /stats?format=prometheus     the same as /stats/prometheus\n"
        "  /stats/prometheus            Prometheus text exposition (also on :15090)\n"
        "  /ready, /healthz/ready       LIVE (200), or INITIALIZING/DRAINING (503)\n"
        "  /logging[?level=L]           show or set the log level (error, warning, info, debug)\n";

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Finds @key in "a=b&c=d" and percent-decodes its value ('+' is a space) into @out.
 * 1 found, 0 absent, -E2BIG too long or -EINVAL (bad escape or NUL). */
static int query_param(const char *query, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);
	const char *p = query;

	while (p && *p) {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t n = 0;

			for (size_t i = klen + 1; i < len; i++) {
				char c = p[i];

				if (c == '%') {
					int hi = i + 2 < len ? hexv(p[i + 1]) : -1;
					int lo = i + 2 < len ? hexv(p[i + 2]) : -1;

					if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
						return -EINVAL;
					c = (char)(hi * 16 + lo);
					i += 2;
				} else if (c == '+') {
					c = ' ';
				}
				if (n + 1 >= cap)
					return -E2BIG;
				out[n++] = c;
			}
			out[n] = '\0';
			return 1;
		}
		if (len == klen && memcmp(p, key, klen) == 0) { /* "key" alone: empty value */
			out[0] = '\0';
			return 1;
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static int answer(int *ret_status, int status, struct eg_buf *out, const char *body)
{
	*ret_status = status;
	return eg_buf_puts(out, body);
}

static int ready(const struct eg_admin_state *st, int *ret_status, struct eg_buf *out)
{
	if (atomic_load(&st->draining))
		return answer(ret_status, 503, out, "DRAINING\n");
	if (!atomic_load(&st->ready))
		return answer(ret_status, 503, out, "INITIALIZING\n");
	return answer(ret_status, 200, out, "LIVE\n");
}

static int logging(const char *query, int *ret_status, struct eg_buf *out)
{
	char level[PARAM_MAX];
	enum eg_log_level l;
	int r = query_param(query, "level", level, sizeof(level));

	if (r > 0) {
		if (eg_log_level_parse(level, &l) < 0) {
			*ret_status = 400;
			return eg_buf_printf(out,
			                     "invalid level \"%.64s\": use error, warning, info or "
			                     "debug\n",
			                     level);
		}
		/* workers read eg_log_level without a lock: store it as one atomic word */
		__atomic_store_n(&eg_log_level, l, __ATOMIC_RELAXED);
	} else if (r < 0) {
		return answer(ret_status, 400, out, "invalid level parameter\n");
	}
	*ret_status = 200;
	return eg_buf_printf(out, "level: %s\n",
	                     eg_log_level_name((enum eg_log_level)__atomic_load_n(
	                             &eg_log_level, __ATOMIC_RELAXED)));
}

static int metrics_body(struct eg_admin_state *st, bool prom, const char *filter, int *ret_status,
                        struct eg_buf *out)
{
	int r;

	if (!st->metrics)
		return answer(ret_status, 503, out, "no metrics registry\n");
	r = prom ? eg_metrics_prometheus(st->metrics, out)
	         : eg_metrics_stats(st->metrics, filter, out);
	if (r == -EINVAL)
		return answer(ret_status, 400, out, "invalid filter regex\n");
	if (r >= 0)
		*ret_status = 200;
	return r;
}

static int stats(struct eg_admin_state *st, const char *query, int *ret_status, struct eg_buf *out)
{
	char filter[PARAM_MAX], format[32];
	int rf = query_param(query, "filter", filter, sizeof(filter));
	int rt = query_param(query, "format", format, sizeof(format));

	if (rf < 0 || rt < 0)
		return answer(ret_status, 400, out, "invalid query parameter\n");
	if (rt > 0 && strcmp(format, "prometheus") != 0 && strcmp(format, "text") != 0)
		return answer(ret_status, 400, out, "format must be text or prometheus\n");
	return metrics_body(st, rt > 0 && strcmp(format, "prometheus") == 0, rf > 0 ? filter : NULL,
	                    ret_status, out);
}

static int config_dump(struct eg_admin_state *st, int *ret_status, struct eg_buf *out)
{
	size_t start = out->len;
	int r;

	if (!st->config_dump)
		return answer(ret_status, 503, out, "no configuration snapshot yet\n");
	r = st->config_dump(st->config_dump_ctx, out);
	if (r >= 0) {
		*ret_status = 200;
		return 0;
	}
	if (out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	if (r == -ENOMEM || r == -E2BIG)
		return r;
	*ret_status = 500;
	return eg_buf_printf(out, "config_dump failed: %s\n", strerror(-r));
}

int eg_admin_handle_on(enum eg_admin_listener l, const char *path, const char *query,
                       struct eg_admin_state *st, int *ret_status, struct eg_buf *out)
{
	struct eg_str p = eg_str_c(path ? path : "");
	const char *q = memchr(p.ptr, '?', p.len);

	if (q) { /* tolerate a target passed whole */
		if (!query)
			query = q + 1;
		p.len = (size_t)(q - p.ptr);
	}
	if (eg_str_eqc(p, "/healthz/ready"))
		return ready(st, ret_status, out);
	if (eg_str_eqc(p, "/stats/prometheus") &&
	    (l == EG_ADMIN_LISTENER_PROMETHEUS || l == EG_ADMIN_LISTENER_ADMIN))
		return metrics_body(st, true, NULL, ret_status, out);
	if (l == EG_ADMIN_LISTENER_ADMIN) {
		if (eg_str_eqc(p, "/ready"))
			return ready(st, ret_status, out);
		if (eg_str_eqc(p, "/stats"))
			return stats(st, query, ret_status, out);
		if (eg_str_eqc(p, "/logging"))
			return logging(query, ret_status, out);
		if (eg_str_eqc(p, "/config_dump"))
			return config_dump(st, ret_status, out);
		if (eg_str_eqc(p, "/") || eg_str_eqc(p, "/help"))
			return answer(ret_status, 200, out, help_text);
	}
	*ret_status = 404;
	return eg_buf_printf(out, "not found: %.*s\n", (int)EG_MIN(p.len, 200), p.ptr);
}

int eg_admin_handle(const char *path, const char *query, struct eg_admin_state *st, int *ret_status,
                    struct eg_buf *out)
{
	return eg_admin_handle_on(EG_ADMIN_LISTENER_ADMIN, path, query, st, ret_status, out);
}

const char *eg_admin_content_type(const char *path)
{
	struct eg_str p = eg_str_c(path ? path : "");
	const char *q = memchr(p.ptr, '?', p.len);

	if (q)
		p.len = (size_t)(q - p.ptr);
	if (eg_str_eqc(p, "/stats/prometheus"))
		return "text/plain; version=0.0.4; charset=utf-8";
	if (eg_str_eqc(p, "/config_dump"))
		return "application/json";
	return "text/plain; charset=utf-8";
}
