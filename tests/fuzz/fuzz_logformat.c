/* tests/fuzz/fuzz_logformat.c: libFuzzer target for the access log format parsers (Envoy
 * format strings and JSON format objects) and the renderer. The first byte picks the
 * encoding (odd: JSON); the rest is the spec, and also the bytes of the entry's values so
 * rendering sees hostile data. replay_main.c replays corpus/fuzz_logformat/ under gcc. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/compiler.h"
#include "telemetry/telemetry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fuzz_lookup(const void *ctx, enum eg_accesslog_which which, struct eg_str name,
                        struct eg_str *ret)
{
	const struct eg_str *v = ctx;

	if (which == EG_ACCESSLOG_RESP || name.len % 2)
		return false;
	*ret = *v;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eg_accesslog_format *f = NULL;
	struct eg_accesslog_header hdrs[2];
	struct eg_accesslog_entry e;
	struct eg_buf out = EG_BUF_INIT(1 << 20);
	struct eg_str raw;
	char err[256] = "";
	uint32_t flags;
	char *spec;
	int r;

	if (size < 1)
		return 0;
	raw = (struct eg_str){(const char *)data + 1, size - 1};
	(void)eg_accesslog_flags_parse(raw, &flags);
	spec = malloc(size);
	if (!spec)
		return 0;
	memcpy(spec, data + 1, size - 1);
	spec[size - 1] = '\0';
	r = eg_accesslog_format_new((data[0] & 1) ? EG_ACCESSLOG_JSON : EG_ACCESSLOG_TEXT, spec, &f,
	                            err, sizeof(err));
	if (r < 0 && !err[0])
		abort(); /* every refusal explains itself */
	if (r == 0) {
		eg_accesslog_entry_init(&e);
		e.start = (struct timespec){1723509107 + (time_t)size, 690123456};
		e.method = raw;
		e.path = raw;
		e.protocol = EG_STR("HTTP/1.1");
		e.response_code = 200 + (unsigned)(size % 400);
		e.response_flags = (uint32_t)size * 2654435761u;
		e.user_agent = raw;
		e.authority = raw;
		e.upstream_host = raw;
		e.downstream_remote_address = raw;
		e.deny_reason = raw;
		e.duration_ms = (int64_t)(size % 3) - 1;
		e.upstream_service_time_ms = (int64_t)(size % 5) - 1;
		hdrs[0] = (struct eg_accesslog_header){raw, raw};
		hdrs[1] = (struct eg_accesslog_header){EG_STR("x-a"), raw};
		e.req_headers = hdrs;
		e.n_req_headers = 2;
		e.resp_headers = hdrs;
		e.n_resp_headers = 2;
		r = eg_accesslog_format(f, &e, &out);
		if (r == 0 && (out.len == 0 || out.data[out.len - 1] != '\n'))
			abort(); /* a rendered entry is always whole lines */
		e.lookup = fuzz_lookup;
		e.lookup_ctx = &raw;
		out.len = 0;
		(void)eg_accesslog_format(f, &e, &out);
		eg_accesslog_format_free(f);
	}
	eg_buf_done(&out);
	free(spec);
	return 0;
}
