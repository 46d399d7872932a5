/* src/telemetry/accesslog.c: access log entries, Envoy response flags, and formats: Istio's
 * default TEXT and JSON, and user format strings, each compiled once into a list of pieces
 * that rendering walks without parsing. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/compiler.h"
#include "telemetry/telemetry.h"

#define SPEC_MAX     (16 * 1024) /* bytes of a format spec */
#define PIECES_MAX   512         /* pieces of one format string */
#define FIELDS_MAX   128         /* keys of a JSON format */
#define TIMEFMT_MAX  128         /* bytes of a START_TIME(...) argument */
#define MAXLEN_LIMIT (1u << 20)  /* largest :N truncation accepted */
#define SCRATCH_MAX  1536        /* rendering one value (long flag names fit) */

const char eg_accesslog_istio_text[] =
        "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" "
        "%RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% "
        "%CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" "
        "%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "
        "\"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" "
        "\"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% "
        "%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% "
        "%ROUTE_NAME%\n";

const char eg_accesslog_istio_json[] =
        "{\"authority\":\"%REQ(:AUTHORITY)%\","
        "\"bytes_received\":\"%BYTES_RECEIVED%\","
        "\"bytes_sent\":\"%BYTES_SENT%\","
        "\"connection_termination_details\":\"%CONNECTION_TERMINATION_DETAILS%\","
        "\"downstream_local_address\":\"%DOWNSTREAM_LOCAL_ADDRESS%\","
        "\"downstream_remote_address\":\"%DOWNSTREAM_REMOTE_ADDRESS%\","
        "\"duration\":\"%DURATION%\","
        "\"method\":\"%REQ(:METHOD)%\","
        "\"path\":\"%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%\","
        "\"protocol\":\"%PROTOCOL%\","
        "\"request_id\":\"%REQ(X-REQUEST-ID)%\","
        "\"requested_server_name\":\"%REQUESTED_SERVER_NAME%\","
        "\"response_code\":\"%RESPONSE_CODE%\","
        "\"response_code_details\":\"%RESPONSE_CODE_DETAILS%\","
        "\"response_flags\":\"%RESPONSE_FLAGS%\","
        "\"route_name\":\"%ROUTE_NAME%\","
        "\"start_time\":\"%START_TIME%\","
        "\"upstream_cluster\":\"%UPSTREAM_CLUSTER%\","
        "\"upstream_host\":\"%UPSTREAM_HOST%\","
        "\"upstream_local_address\":\"%UPSTREAM_LOCAL_ADDRESS%\","
        "\"upstream_service_time\":\"%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%\","
        "\"upstream_transport_failure_reason\":\"%UPSTREAM_TRANSPORT_FAILURE_REASON%\","
        "\"user_agent\":\"%REQ(USER-AGENT)%\","
        "\"x_forwarded_for\":\"%REQ(X-FORWARDED-FOR)%\"}";

/* ---- response flags ---------------------------------------------------------------------- */

static const struct {
	const char *s;
	const char *l;
} rf_names[EG_RF_COUNT] = {
        {"LH", "FailedLocalHealthCheck"},
        {"UH", "NoHealthyUpstream"},
        {"UT", "UpstreamRequestTimeout"},
        {"LR", "LocalReset"},
        {"UR", "UpstreamRemoteReset"},
        {"UF", "UpstreamConnectionFailure"},
        {"UC", "UpstreamConnectionTermination"},
        {"UO", "UpstreamOverflow"},
        {"NR", "NoRouteFound"},
        {"DI", "DelayInjected"},
        {"FI", "FaultInjected"},
        {"RL", "RateLimited"},
        {"UAEX", "UnauthorizedExternalService"},
        {"RLSE", "RateLimitServiceError"},
        {"DC", "DownstreamConnectionTermination"},
        {"URX", "UpstreamRetryLimitExceeded"},
        {"SI", "StreamIdleTimeout"},
        {"IH", "InvalidEnvoyRequestHeaders"},
        {"DPE", "DownstreamProtocolError"},
        {"UMSDR", "UpstreamMaxStreamDurationReached"},
        {"RFCF", "ResponseFromCacheFilter"},
        {"NFCF", "NoFilterConfigFound"},
        {"DT", "DurationTimeout"},
        {"UPE", "UpstreamProtocolError"},
        {"NC", "NoClusterFound"},
        {"OM", "OverloadManagerTerminated"},
        {"DF", "DnsResolutionFailed"},
        {"DO", "DropOverload"},
        {"DR", "DownstreamRemoteReset"},
        {"UDO", "UnconditionalDropOverload"},
};

/* Writes the flags into @out (cap >= SCRATCH_MAX is always enough); returns the length. */
static size_t flags_str(uint32_t flags, bool long_names, char *out, size_t cap)
{
	size_t n = 0;

	if (!flags) {
		out[0] = '-';
		return 1;
	}
	for (unsigned i = 0; i < EG_RF_COUNT; i++) {
		const char *name = long_names ? rf_names[i].l : rf_names[i].s;
		size_t len = strlen(name);

		if (!(flags & (1u << i)))
			continue;
		if (n + len + 1 >= cap)
			break;
		if (n)
			out[n++] = ',';
		memcpy(out + n, name, len);
		n += len;
	}
	if (!n) /* only bits we have no name for */
		out[n++] = '-';
	return n;
}

int eg_accesslog_flags_format(uint32_t flags, bool long_names, struct eg_buf *out)
{
	char s[SCRATCH_MAX];

	return eg_buf_append(out, s, flags_str(flags, long_names, s, sizeof(s)));
}

int eg_accesslog_flags_parse(struct eg_str s, uint32_t *ret)
{
	uint32_t flags = 0;
	size_t i = 0;

	if (eg_str_eqc(s, "-")) {
		*ret = 0;
		return 0;
	}
	while (i <= s.len) {
		size_t j = i;
		unsigned k;

		while (j < s.len && s.ptr[j] != ',')
			j++;
		for (k = 0; k < EG_RF_COUNT; k++)
			if (eg_str_eqc((struct eg_str){s.ptr + i, j - i}, rf_names[k].s))
				break;
		if (k == EG_RF_COUNT)
			return -EINVAL;
		flags |= 1u << k;
		i = j + 1;
	}
	*ret = flags;
	return 0;
}

void eg_accesslog_entry_init(struct eg_accesslog_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->duration_ms = -1;
	e->upstream_service_time_ms = -1;
}

/* ---- compiled formats -------------------------------------------------------------------- */

enum cmd {
	C_TEXT,
	C_START_TIME,
	C_REQ,
	C_RESP,
	C_PROTOCOL,
	C_RESPONSE_CODE,
	C_RESPONSE_FLAGS,
	C_RESPONSE_FLAGS_LONG,
	C_RESPONSE_CODE_DETAILS,
	C_CONNECTION_TERMINATION_DETAILS,
	C_UPSTREAM_TRANSPORT_FAILURE_REASON,
	C_BYTES_RECEIVED,
	C_BYTES_SENT,
	C_DURATION,
	C_UPSTREAM_HOST,
	C_UPSTREAM_CLUSTER,
	C_UPSTREAM_LOCAL_ADDRESS,
	C_DOWNSTREAM_LOCAL_ADDRESS,
	C_DOWNSTREAM_REMOTE_ADDRESS,
	C_REQUESTED_SERVER_NAME,
	C_ROUTE_NAME,
	C_DOWNSTREAM_PEER_URI_SAN,
	C_DENY_REASON,
	C_HOSTNAME,
};

enum {
	ARG_NONE,
	ARG_OPTIONAL,
	ARG_REQUIRED
};

static const struct {
	const char *name;
	enum cmd cmd;
	bool noport; /* the *_WITHOUT_PORT variants */
	uint8_t arg;
} commands[] = {
        {"START_TIME", C_START_TIME, false, ARG_OPTIONAL},
        {"REQ", C_REQ, false, ARG_REQUIRED},
        {"RESP", C_RESP, false, ARG_REQUIRED},
        {"PROTOCOL", C_PROTOCOL, false, ARG_NONE},
        {"RESPONSE_CODE", C_RESPONSE_CODE, false, ARG_NONE},
        {"RESPONSE_FLAGS", C_RESPONSE_FLAGS, false, ARG_NONE},
        {"RESPONSE_FLAGS_LONG", C_RESPONSE_FLAGS_LONG, false, ARG_NONE},
        {"RESPONSE_CODE_DETAILS", C_RESPONSE_CODE_DETAILS, false, ARG_NONE},
        {"CONNECTION_TERMINATION_DETAILS", C_CONNECTION_TERMINATION_DETAILS, false, ARG_NONE},
        {"UPSTREAM_TRANSPORT_FAILURE_REASON", C_UPSTREAM_TRANSPORT_FAILURE_REASON, false, ARG_NONE},
        {"BYTES_RECEIVED", C_BYTES_RECEIVED, false, ARG_NONE},
        {"BYTES_SENT", C_BYTES_SENT, false, ARG_NONE},
        {"DURATION", C_DURATION, false, ARG_NONE},
        {"UPSTREAM_HOST", C_UPSTREAM_HOST, false, ARG_NONE},
        {"UPSTREAM_REMOTE_ADDRESS", C_UPSTREAM_HOST, false, ARG_NONE},
        {"UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", C_UPSTREAM_HOST, true, ARG_NONE},
        {"UPSTREAM_CLUSTER", C_UPSTREAM_CLUSTER, false, ARG_NONE},
        {"UPSTREAM_LOCAL_ADDRESS", C_UPSTREAM_LOCAL_ADDRESS, false, ARG_NONE},
        {"UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", C_UPSTREAM_LOCAL_ADDRESS, true, ARG_NONE},
        {"DOWNSTREAM_LOCAL_ADDRESS", C_DOWNSTREAM_LOCAL_ADDRESS, false, ARG_NONE},
        {"DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT", C_DOWNSTREAM_LOCAL_ADDRESS, true, ARG_NONE},
        {"DOWNSTREAM_REMOTE_ADDRESS", C_DOWNSTREAM_REMOTE_ADDRESS, false, ARG_NONE},
        {"DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT", C_DOWNSTREAM_REMOTE_ADDRESS, true, ARG_NONE},
        {"DOWNSTREAM_DIRECT_REMOTE_ADDRESS", C_DOWNSTREAM_REMOTE_ADDRESS, false, ARG_NONE},
        {"DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT", C_DOWNSTREAM_REMOTE_ADDRESS, true,
         ARG_NONE},
        {"REQUESTED_SERVER_NAME", C_REQUESTED_SERVER_NAME, false, ARG_NONE},
        {"ROUTE_NAME", C_ROUTE_NAME, false, ARG_NONE},
        {"DOWNSTREAM_PEER_URI_SAN", C_DOWNSTREAM_PEER_URI_SAN, false, ARG_NONE},
        {"DENY_REASON", C_DENY_REASON, false, ARG_NONE},
        {"HOSTNAME", C_HOSTNAME, false, ARG_NONE},
};

/* Headers the entry carries as fields; everything else is looked up by name. */
enum hdr {
	H_OTHER,
	H_METHOD,
	H_PATH,
	H_AUTHORITY,
	H_USER_AGENT,
	H_XFF,
	H_REQUEST_ID,
	H_ORIGINAL_PATH,
	H_UPSTREAM_SERVICE_TIME,
	H_STATUS,
};

struct piece {
	enum cmd cmd;
	bool noport;
	uint8_t hdr_id, alt_id; /* enum hdr of @hdr and @alt */
	uint32_t max_len;       /* :N truncation; 0: none */
	char *text;             /* literal (C_TEXT), START_TIME format, or the host name */
	size_t text_len;
	struct eg_str hdr, alt; /* REQ/RESP names, lower case, owned (alt may be empty) */
};

struct seq {
	struct piece *p;
	unsigned n;
};

struct jfield {
	char *key; /* decoded; may hold any byte but NUL */
	size_t key_len;
	struct seq seq;
};

struct eg_accesslog_format {
	enum eg_accesslog_encoding enc;
	struct seq text;       /* TEXT */
	struct jfield *fields; /* JSON */
	unsigned n_fields;
};

static void seq_done(struct seq *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		free(s->p[i].text);
		free((char *)s->p[i].hdr.ptr);
		free((char *)s->p[i].alt.ptr);
	}
	free(s->p);
	s->p = NULL;
	s->n = 0;
}

struct eg_accesslog_format *eg_accesslog_format_free(struct eg_accesslog_format *f)
{
	if (!f)
		return NULL;
	seq_done(&f->text);
	for (unsigned i = 0; i < f->n_fields; i++) {
		free(f->fields[i].key);
		seq_done(&f->fields[i].seq);
	}
	free(f->fields);
	free(f);
	return NULL;
}

enum eg_accesslog_encoding eg_accesslog_format_encoding(const struct eg_accesslog_format *f)
{
	return f->enc;
}

static int errf(char *err, size_t errlen, const char *fmt, ...) EG_PRINTF(3, 4);
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static struct piece *seq_push(struct seq *s)
{
	struct piece *p;

	if (s->n >= PIECES_MAX)
		return NULL;
	p = realloc(s->p, (s->n + 1) * sizeof(*p));
	if (!p)
		return NULL;
	s->p = p;
	p = &s->p[s->n++];
	memset(p, 0, sizeof(*p));
	return p;
}

/* Appends literal text, merging with a literal piece just before it. */
static int seq_text(struct seq *s, const char *t, size_t n)
{
	struct piece *p = s->n ? &s->p[s->n - 1] : NULL;
	char *nt;

	if (!n)
		return 0;
	if (!p || p->cmd != C_TEXT) {
		p = seq_push(s);
		if (!p)
			return -ENOMEM;
		p->cmd = C_TEXT;
	}
	nt = realloc(p->text, p->text_len + n + 1);
	if (!nt)
		return -ENOMEM;
	memcpy(nt + p->text_len, t, n);
	p->text = nt;
	p->text_len += n;
	nt[p->text_len] = '\0';
	return 0;
}

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static enum hdr hdr_id(enum cmd cmd, struct eg_str n)
{
	static const struct {
		const char *name;
		enum hdr id;
		bool resp;
	} known[] = {
	        {":method", H_METHOD, false},
	        {":path", H_PATH, false},
	        {":authority", H_AUTHORITY, false},
	        {"host", H_AUTHORITY, false},
	        {"user-agent", H_USER_AGENT, false},
	        {"x-forwarded-for", H_XFF, false},
	        {"x-request-id", H_REQUEST_ID, false},
	        {"x-envoy-original-path", H_ORIGINAL_PATH, false},
	        {"x-envoy-upstream-service-time", H_UPSTREAM_SERVICE_TIME, true},
	        {":status", H_STATUS, true},
	};

	for (size_t i = 0; i < EG_ARRAY_SIZE(known); i++)
		if (known[i].resp == (cmd == C_RESP) && eg_str_eqc(n, known[i].name))
			return known[i].id;
	return H_OTHER;
}

/* Validates one header name of REQ(...)/RESP(...) and stores it lower-cased. */
static int header_name(struct piece *p, const char *s, size_t n, bool alt, char *err, size_t errlen,
                       size_t col)
{
	char *low;

	if (!n)
		return errf(err, errlen, "column %zu: empty header name in %s(...)", col,
		            p->cmd == C_REQ ? "REQ" : "RESP");
	for (size_t i = 0; i < n; i++)
		if (!tchar(s[i]) && !(i == 0 && s[i] == ':'))
			return errf(err, errlen, "column %zu: invalid header name \"%.*s\"", col,
			            (int)EG_MIN(n, 64), s);
	low = malloc(n + 1);
	if (!low)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		low[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	low[n] = '\0';
	if (alt) {
		p->alt = (struct eg_str){low, n};
		p->alt_id = (uint8_t)hdr_id(p->cmd, p->alt);
	} else {
		p->hdr = (struct eg_str){low, n};
		p->hdr_id = (uint8_t)hdr_id(p->cmd, p->hdr);
	}
	return 0;
}

static int piece_arg(struct piece *p, const char *a, size_t n, char *err, size_t errlen, size_t col)
{
	const char *q;
	int r;

	if (p->cmd == C_START_TIME) {
		if (n > TIMEFMT_MAX)
			return errf(err, errlen,
			            "column %zu: START_TIME format longer than %d bytes", col,
			            TIMEFMT_MAX);
		p->text = eg_strndup(a, n);
		if (!p->text)
			return -ENOMEM;
		p->text_len = n;
		return 0;
	}
	/* REQ/RESP: "X" or "X?Y" */
	q = memchr(a, '?', n);
	if (!q)
		return header_name(p, a, n, false, err, errlen, col);
	if (memchr(q + 1, '?', n - (size_t)(q + 1 - a)))
		return errf(err, errlen, "column %zu: more than one '?' in %s(...)", col,
		            p->cmd == C_REQ ? "REQ" : "RESP");
	r = header_name(p, a, (size_t)(q - a), false, err, errlen, col);
	if (r < 0)
		return r;
	return header_name(p, q + 1, n - (size_t)(q + 1 - a), true, err, errlen, col);
}

static bool is_cmdchar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Compiles an Envoy format string into @out. @what names it in errors. */
static int parse_seq(const char *s, size_t len, struct seq *out, char *err, size_t errlen)
{
	size_t i = 0;
	int r;

	while (i < len) {
		size_t j, name_start, name_len, arg_start = 0, arg_len = 0, col = i + 1, ci;
		bool has_arg = false;
		uint64_t max_len = 0;
		struct piece *p;

		if (s[i] == '\0')
			return errf(err, errlen, "column %zu: NUL byte in format", col);
		if (s[i] != '%') {
			j = i;
			while (j < len && s[j] != '%' && s[j] != '\0')
				j++;
			r = seq_text(out, s + i, j - i);
			if (r < 0)
				return r;
			i = j;
			continue;
		}
		if (i + 1 < len && s[i + 1] == '%') { /* "%%" is a literal '%' */
			r = seq_text(out, "%", 1);
			if (r < 0)
				return r;
			i += 2;
			continue;
		}
		name_start = j = i + 1;
		while (j < len && is_cmdchar(s[j]))
			j++;
		name_len = j - name_start;
		if (!name_len)
			return errf(err, errlen,
			            "column %zu: '%%' must start a command such as %%PROTOCOL%% "
			            "(write %%%% for a literal '%%')",
			            col);
		if (j < len && s[j] == '(') {
			const char *close = memchr(s + j + 1, ')', len - j - 1);

			if (!close)
				return errf(err, errlen, "column %zu: %%%.*s(...) misses ')'", col,
				            (int)EG_MIN(name_len, 64), s + name_start);
			has_arg = true;
			arg_start = j + 1;
			arg_len = (size_t)(close - (s + arg_start));
			j = (size_t)(close - s) + 1;
		}
		if (j < len && s[j] == ':') {
			size_t d = ++j;

			while (j < len && s[j] >= '0' && s[j] <= '9' && j - d < 8)
				max_len = max_len * 10 + (uint64_t)(s[j++] - '0');
			if (j == d || max_len == 0 || max_len > MAXLEN_LIMIT)
				return errf(
				        err, errlen,
				        "column %zu: %%%.*s%%: the length after ':' must be 1..%u",
				        col, (int)EG_MIN(name_len, 64), s + name_start,
				        MAXLEN_LIMIT);
		}
		if (j >= len || s[j] != '%')
			return errf(err, errlen,
			            "column %zu: command %%%.*s misses its closing '%%'", col,
			            (int)EG_MIN(name_len, 64), s + name_start);
		for (ci = 0; ci < EG_ARRAY_SIZE(commands); ci++)
			if (strlen(commands[ci].name) == name_len &&
			    memcmp(commands[ci].name, s + name_start, name_len) == 0)
				break;
		if (ci == EG_ARRAY_SIZE(commands))
			return errf(err, errlen, "column %zu: unknown command %%%.*s%%", col,
			            (int)EG_MIN(name_len, 64), s + name_start);
		if (has_arg && commands[ci].arg == ARG_NONE)
			return errf(err, errlen, "column %zu: %%%s%% takes no argument", col,
			            commands[ci].name);
		if (!has_arg && commands[ci].arg == ARG_REQUIRED)
			return errf(err, errlen, "column %zu: %%%s(...)%% needs a header name", col,
			            commands[ci].name);
		p = seq_push(out);
		if (!p)
			return out->n >= PIECES_MAX
			               ? errf(err, errlen, "format has more than %d parts",
			                      PIECES_MAX)
			               : -ENOMEM;
		p->cmd = commands[ci].cmd;
		p->noport = commands[ci].noport;
		p->max_len = (uint32_t)max_len;
		if (has_arg) {
			r = piece_arg(p, s + arg_start, arg_len, err, errlen, col);
			if (r < 0)
				return r;
		}
		if (p->cmd == C_HOSTNAME) {
			char host[256];

			if (gethostname(host, sizeof(host)) != 0)
				host[0] = '\0';
			host[sizeof(host) - 1] = '\0';
			p->text = eg_strndup(host, strlen(host));
			if (!p->text)
				return -ENOMEM;
			p->text_len = strlen(host);
		}
		i = j + 1;
	}
	return 0;
}

/* ---- JSON format specs ------------------------------------------------------------------- */

struct jp {
	const char *s;
	size_t len, i;
	char *err;
	size_t errlen;
};

static void jp_ws(struct jp *p)
{
	while (p->i < p->len && strchr(" \t\r\n", p->s[p->i]) && p->s[p->i])
		p->i++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int jp_hex4(struct jp *p, unsigned *ret)
{
	unsigned v = 0;

	if (p->len - p->i < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hexval(p->s[p->i + (size_t)k]);

		if (h < 0)
			return -1;
		v = v * 16 + (unsigned)h;
	}
	p->i += 4;
	*ret = v;
	return 0;
}

static int put_utf8(struct eg_buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return eg_buf_append(b, u, n);
}

/* Decodes the JSON string at p->i (on its opening quote) into @out (NUL-free). */
static int jp_string(struct jp *p, struct eg_buf *out)
{
	size_t start = p->i + 1;
	int r;

	p->i++;
	while (p->i < p->len) {
		unsigned char c = (unsigned char)p->s[p->i];

		if (c == '"') {
			p->i++;
			return 0;
		}
		if (c < 0x20)
			return errf(p->err, p->errlen,
			            "column %zu: control character in a JSON string", p->i + 1);
		if (c != '\\') {
			r = eg_buf_putc(out, (char)c);
			if (r < 0)
				return r;
			p->i++;
			continue;
		}
		if (++p->i >= p->len)
			break;
		c = (unsigned char)p->s[p->i++];
		switch (c) {
		case '"':
		case '\\':
		case '/':
			r = eg_buf_putc(out, (char)c);
			break;
		case 'b':
			r = eg_buf_putc(out, '\b');
			break;
		case 'f':
			r = eg_buf_putc(out, '\f');
			break;
		case 'n':
			r = eg_buf_putc(out, '\n');
			break;
		case 'r':
			r = eg_buf_putc(out, '\r');
			break;
		case 't':
			r = eg_buf_putc(out, '\t');
			break;
		case 'u': {
			unsigned cp, lo;

			if (jp_hex4(p, &cp) < 0)
				return errf(p->err, p->errlen, "column %zu: bad \\u escape", p->i);
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return errf(p->err, p->errlen, "column %zu: lone low surrogate",
				            p->i);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p->len - p->i < 6 || p->s[p->i] != '\\' ||
				    p->s[p->i + 1] != 'u')
					return errf(p->err, p->errlen,
					            "column %zu: lone high surrogate", p->i);
				p->i += 2;
				if (jp_hex4(p, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					return errf(p->err, p->errlen,
					            "column %zu: bad surrogate pair", p->i);
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0)
				return errf(p->err, p->errlen, "column %zu: \\u0000 is not allowed",
				            p->i);
			r = put_utf8(out, cp);
			break;
		}
		default:
			return errf(p->err, p->errlen, "column %zu: bad escape '\\%c'", p->i,
			            c >= 0x20 && c < 0x7f ? c : '?');
		}
		if (r < 0)
			return r;
	}
	return errf(p->err, p->errlen, "column %zu: unterminated JSON string", start);
}

static int parse_json_spec(struct eg_accesslog_format *f, const char *s, size_t len, char *err,
                           size_t errlen)
{
	struct jp p = {s, len, 0, err, errlen};
	struct eg_buf key = EG_BUF_INIT(SPEC_MAX), val = EG_BUF_INIT(SPEC_MAX);
	int r;

	jp_ws(&p);
	if (p.i >= len || s[p.i] != '{') {
		r = errf(err, errlen, "a JSON access log format must be a JSON object");
		goto out_bufs;
	}
	p.i++;
	jp_ws(&p);
	if (p.i < len && s[p.i] == '}') {
		r = errf(err, errlen, "the JSON access log format has no key");
		goto out_bufs;
	}
	for (;;) {
		struct jfield *nf, *fld;
		char verr[200];

		jp_ws(&p);
		if (p.i >= len || s[p.i] != '"') {
			r = errf(err, errlen, "column %zu: expected a key (a JSON string)",
			         p.i + 1);
			goto out_bufs;
		}
		key.len = 0;
		r = jp_string(&p, &key);
		if (r < 0)
			goto out_bufs;
		for (unsigned k = 0; k < f->n_fields; k++) {
			if (f->fields[k].key_len == key.len &&
			    memcmp(f->fields[k].key, eg_buf_cstr(&key), key.len) == 0) {
				r = errf(err, errlen, "duplicate key \"%.*s\"",
				         (int)EG_MIN(key.len, 64), eg_buf_cstr(&key));
				goto out_bufs;
			}
		}
		jp_ws(&p);
		if (p.i >= len || s[p.i] != ':') {
			r = errf(err, errlen, "column %zu: expected ':' after key \"%.*s\"",
			         p.i + 1, (int)EG_MIN(key.len, 64), eg_buf_cstr(&key));
			goto out_bufs;
		}
		p.i++;
		jp_ws(&p);
		if (p.i >= len || s[p.i] != '"') {
			r = errf(err, errlen,
			         "column %zu: the value of \"%.*s\" must be a format string "
			         "(nested objects, numbers and booleans are not supported)",
			         p.i + 1, (int)EG_MIN(key.len, 64), eg_buf_cstr(&key));
			goto out_bufs;
		}
		val.len = 0;
		r = jp_string(&p, &val);
		if (r < 0)
			goto out_bufs;
		if (f->n_fields >= FIELDS_MAX) {
			r = errf(err, errlen, "the JSON access log format has more than %d keys",
			         FIELDS_MAX);
			goto out_bufs;
		}
		nf = realloc(f->fields, (f->n_fields + 1) * sizeof(*nf));
		if (!nf) {
			r = -ENOMEM;
			goto out_bufs;
		}
		f->fields = nf;
		fld = &f->fields[f->n_fields];
		memset(fld, 0, sizeof(*fld));
		fld->key = eg_strndup(eg_buf_cstr(&key), key.len);
		if (!fld->key) {
			r = -ENOMEM;
			goto out_bufs;
		}
		fld->key_len = key.len;
		f->n_fields++;
		r = parse_seq(eg_buf_cstr(&val), val.len, &fld->seq, verr, sizeof(verr));
		if (r == -EINVAL) {
			r = errf(err, errlen, "key \"%.*s\": %s", (int)EG_MIN(key.len, 64),
			         eg_buf_cstr(&key), verr);
			goto out_bufs;
		}
		if (r < 0)
			goto out_bufs;
		jp_ws(&p);
		if (p.i < len && s[p.i] == ',') {
			p.i++;
			continue;
		}
		if (p.i < len && s[p.i] == '}') {
			p.i++;
			break;
		}
		r = errf(err, errlen, "column %zu: expected ',' or '}'", p.i + 1);
		goto out_bufs;
	}
	jp_ws(&p);
	r = p.i == len ? 0 : errf(err, errlen, "column %zu: text after the JSON object", p.i + 1);
out_bufs:
	eg_buf_done(&key);
	eg_buf_done(&val);
	return r;
}

int eg_accesslog_format_new(enum eg_accesslog_encoding enc, const char *spec,
                            struct eg_accesslog_format **ret, char *err, size_t errlen)
{
	struct eg_accesslog_format *f;
	size_t len;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (enc != EG_ACCESSLOG_TEXT && enc != EG_ACCESSLOG_JSON)
		return errf(err, errlen, "unknown access log encoding %d", (int)enc);
	if (!spec || !*spec)
		spec = enc == EG_ACCESSLOG_TEXT ? eg_accesslog_istio_text : eg_accesslog_istio_json;
	len = strnlen(spec, SPEC_MAX + 1);
	if (len > SPEC_MAX) {
		errf(err, errlen, "access log format longer than %d bytes", SPEC_MAX);
		return -E2BIG;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->enc = enc;
	if (enc == EG_ACCESSLOG_JSON) {
		r = parse_json_spec(f, spec, len, err, errlen);
	} else {
		r = parse_seq(spec, len, &f->text, err, errlen);
		/* Istio appends the newline a user format leaves out. */
		if (r >= 0 && spec[len - 1] != '\n')
			r = seq_text(&f->text, "\n", 1);
	}
	if (r < 0) {
		if (r == -ENOMEM)
			errf(err, errlen, "out of memory");
		eg_accesslog_format_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

/* ---- rendering ----------------------------------------------------------------------------- */

/* "2024-08-13T00:31:47.690Z"; the seconds part is cached per thread. */
static size_t time_default(struct timespec ts, char *out)
{
	static __thread time_t cached_sec = (time_t)-1;
	static __thread char cached[20];
	long ms = ts.tv_nsec / 1000000;

	if (ts.tv_sec != cached_sec) {
		struct tm tm;

		if (!gmtime_r(&ts.tv_sec, &tm))
			memset(&tm, 0, sizeof(tm));
		unsigned year = tm.tm_year + 1900 < 0 ? 0 : (unsigned)(tm.tm_year + 1900) % 10000;
		unsigned v[6] = {year,
		                 (unsigned)tm.tm_mon + 1,
		                 (unsigned)tm.tm_mday,
		                 (unsigned)tm.tm_hour,
		                 (unsigned)tm.tm_min,
		                 (unsigned)tm.tm_sec};
		char *c = cached;

		/* digits by hand: no snprintf on the hot path, and no truncation to reason about */
		*c++ = (char)('0' + year / 1000);
		*c++ = (char)('0' + year / 100 % 10);
		*c++ = (char)('0' + year / 10 % 10);
		*c++ = (char)('0' + year % 10);
		for (int k = 1; k < 6; k++) {
			*c++ = "--T::"[k - 1];
			*c++ = (char)('0' + v[k] / 10 % 10);
			*c++ = (char)('0' + v[k] % 10);
		}
		cached_sec = ts.tv_sec;
	}
	memcpy(out, cached, 19);
	out[19] = '.';
	out[20] = (char)('0' + (ms / 100) % 10);
	out[21] = (char)('0' + (ms / 10) % 10);
	out[22] = (char)('0' + ms % 10);
	out[23] = 'Z';
	return 24;
}

/* strftime in UTC plus Envoy's extensions: %s (epoch seconds), %f (nanoseconds, 9 digits)
 * and %1f..%9f (that many digits of the fraction). */
static size_t time_custom(const char *fmt, size_t flen, struct timespec ts, char *out, size_t cap)
{
	char chunk[TIMEFMT_MAX + 1];
	size_t n = 0, i = 0, cl = 0;
	bool lone_pct = false;
	struct tm tm;

	if (!gmtime_r(&ts.tv_sec, &tm))
		memset(&tm, 0, sizeof(tm));
	while (i <= flen) {
		char extra[24];
		size_t en = 0;
		bool special = false;

		if (i < flen && fmt[i] == '%' && i + 1 < flen) {
			char c = fmt[i + 1];

			if (c == 's') {
				en = (size_t)snprintf(extra, sizeof(extra), "%lld",
				                      (long long)ts.tv_sec);
				special = true;
				i += 2;
			} else if (c == 'f' ||
			           (c >= '1' && c <= '9' && i + 2 < flen && fmt[i + 2] == 'f')) {
				int digits = c == 'f' ? 9 : c - '0';
				long frac = ts.tv_nsec;

				for (int d = 9; d > digits; d--)
					frac /= 10;
				en = (size_t)snprintf(extra, sizeof(extra), "%0*ld", digits, frac);
				special = true;
				i += c == 'f' ? 2 : 3;
			}
		}
		if (!special && i < flen) {
			/* keep "%x" pairs whole in the strftime chunk; a lone '%' ends the format
			 */
			size_t step = (fmt[i] == '%' && i + 1 < flen) ? 2 : 1;

			if (step == 1 && fmt[i] == '%')
				lone_pct = true;
			else if (cl + step < sizeof(chunk)) {
				memcpy(chunk + cl, fmt + i, step);
				cl += step;
			}
			i += step;
			continue;
		}
		if (cl) { /* flush the strftime chunk before the special (or at the end) */
			chunk[cl] = '\0';
			n += strftime(out + n, cap - n, chunk, &tm);
			cl = 0;
		}
		if (lone_pct && n + 1 < cap)
			out[n++] = '%';
		lone_pct = false;
		if (special && n + en < cap) {
			memcpy(out + n, extra, en);
			n += en;
		}
		if (i >= flen)
			break;
	}
	return n;
}

/* "1.2.3.4:80" -> "1.2.3.4", "[::1]:80" -> "::1"; anything else unchanged. */
static struct eg_str strip_port(struct eg_str a)
{
	const char *colon;

	if (a.len > 2 && a.ptr[0] == '[') {
		const char *end = memchr(a.ptr, ']', a.len);

		if (end)
			return (struct eg_str){a.ptr + 1, (size_t)(end - a.ptr) - 1};
		return a;
	}
	colon = memchr(a.ptr, ':', a.len);
	if (colon && !memchr(colon + 1, ':', a.len - (size_t)(colon + 1 - a.ptr)))
		return (struct eg_str){a.ptr, (size_t)(colon - a.ptr)};
	return a;
}

static bool lookup_array(const struct eg_accesslog_header *h, size_t n, struct eg_str name,
                         struct eg_str *ret)
{
	for (size_t i = 0; i < n; i++) {
		if (eg_str_caseeq(h[i].name, name)) {
			*ret = h[i].value;
			return true;
		}
	}
	return false;
}

static size_t fmt_u64(uint64_t v, char *out)
{
	return (size_t)snprintf(out, 24, "%" PRIu64, v);
}

/* One header for REQ/RESP: the entry's own field for the well-known ones, else by name. */
static bool header_value(const struct eg_accesslog_entry *e, enum cmd cmd, uint8_t id,
                         struct eg_str name, char *scratch, struct eg_str *ret)
{
	struct eg_str v = {NULL, 0};
	enum eg_accesslog_which which = cmd == C_REQ ? EG_ACCESSLOG_REQ : EG_ACCESSLOG_RESP;

	switch ((enum hdr)id) {
	case H_METHOD:
		v = e->method;
		break;
	case H_PATH:
		v = e->path;
		break;
	case H_AUTHORITY:
		v = e->authority;
		break;
	case H_USER_AGENT:
		v = e->user_agent;
		break;
	case H_XFF:
		v = e->x_forwarded_for;
		break;
	case H_REQUEST_ID:
		v = e->request_id;
		break;
	case H_ORIGINAL_PATH:
		v = e->original_path;
		break;
	case H_UPSTREAM_SERVICE_TIME:
		if (e->upstream_service_time_ms >= 0)
			v = (struct eg_str){
			        scratch, fmt_u64((uint64_t)e->upstream_service_time_ms, scratch)};
		break;
	case H_STATUS:
		if (e->response_code)
			v = (struct eg_str){scratch, fmt_u64(e->response_code, scratch)};
		break;
	case H_OTHER:
		break;
	}
	if (v.len) {
		*ret = v;
		return true;
	}
	/* not carried as a field (or left empty there): ask the headers */
	if (e->lookup) {
		if (e->lookup(e->lookup_ctx, which, name, &v) && v.len) {
			*ret = v;
			return true;
		}
		return false;
	}
	if (which == EG_ACCESSLOG_REQ
	            ? lookup_array(e->req_headers, e->n_req_headers, name, &v)
	            : lookup_array(e->resp_headers, e->n_resp_headers, name, &v)) {
		if (v.len) {
			*ret = v;
			return true;
		}
	}
	return false;
}

/* The value of command piece @p: true and *ret (and *numeric for typed JSON), or false when
 * missing. @scratch holds SCRATCH_MAX bytes for values that are computed. */
static bool value_of(const struct piece *p, const struct eg_accesslog_entry *e, char *scratch,
                     struct eg_str *ret, bool *numeric)
{
	struct eg_str v = {NULL, 0};

	*numeric = false;
	switch (p->cmd) {
	case C_TEXT:
		v = (struct eg_str){p->text, p->text_len};
		break;
	case C_START_TIME:
		if (!e->start.tv_sec && !e->start.tv_nsec)
			return false;
		if (p->text)
			v = (struct eg_str){scratch, time_custom(p->text, p->text_len, e->start,
			                                         scratch, SCRATCH_MAX)};
		else
			v = (struct eg_str){scratch, time_default(e->start, scratch)};
		break;
	case C_REQ:
	case C_RESP:
		if (header_value(e, p->cmd, p->hdr_id, p->hdr, scratch, &v))
			break;
		if (p->alt.len && header_value(e, p->cmd, p->alt_id, p->alt, scratch, &v))
			break;
		return false;
	case C_PROTOCOL:
		v = e->protocol;
		break;
	case C_RESPONSE_CODE:
		v = (struct eg_str){scratch, fmt_u64(e->response_code, scratch)};
		*numeric = true;
		break;
	case C_RESPONSE_FLAGS:
	case C_RESPONSE_FLAGS_LONG:
		v = (struct eg_str){scratch,
		                    flags_str(e->response_flags, p->cmd == C_RESPONSE_FLAGS_LONG,
		                              scratch, SCRATCH_MAX)};
		break;
	case C_RESPONSE_CODE_DETAILS:
		v = e->response_code_details;
		break;
	case C_CONNECTION_TERMINATION_DETAILS:
		v = e->connection_termination_details;
		break;
	case C_UPSTREAM_TRANSPORT_FAILURE_REASON:
		v = e->upstream_transport_failure_reason;
		break;
	case C_BYTES_RECEIVED:
		v = (struct eg_str){scratch, fmt_u64(e->bytes_received, scratch)};
		*numeric = true;
		break;
	case C_BYTES_SENT:
		v = (struct eg_str){scratch, fmt_u64(e->bytes_sent, scratch)};
		*numeric = true;
		break;
	case C_DURATION:
		if (e->duration_ms < 0)
			return false;
		v = (struct eg_str){scratch, fmt_u64((uint64_t)e->duration_ms, scratch)};
		*numeric = true;
		break;
	case C_UPSTREAM_HOST:
		v = e->upstream_host;
		break;
	case C_UPSTREAM_CLUSTER:
		v = e->upstream_cluster;
		break;
	case C_UPSTREAM_LOCAL_ADDRESS:
		v = e->upstream_local_address;
		break;
	case C_DOWNSTREAM_LOCAL_ADDRESS:
		v = e->downstream_local_address;
		break;
	case C_DOWNSTREAM_REMOTE_ADDRESS:
		v = e->downstream_remote_address;
		break;
	case C_REQUESTED_SERVER_NAME:
		v = e->requested_server_name;
		break;
	case C_ROUTE_NAME:
		v = e->route_name;
		break;
	case C_DOWNSTREAM_PEER_URI_SAN:
		v = e->downstream_peer_uri_san;
		break;
	case C_DENY_REASON:
		v = e->deny_reason;
		break;
	case C_HOSTNAME:
		v = (struct eg_str){p->text, p->text_len};
		break;
	}
	if (!v.len)
		return false;
	if (p->noport)
		v = strip_port(v);
	if (p->max_len && v.len > p->max_len) {
		v.len = p->max_len;
		*numeric = false;
	}
	*ret = v;
	return true;
}

/* TEXT values: control bytes would split or forge log lines, so they print as \xHH. */
static int put_text(struct eg_buf *out, struct eg_str v)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0;
	int r;

	while (i < v.len) {
		size_t j = i;

		while (j < v.len && (unsigned char)v.ptr[j] >= 0x20 && v.ptr[j] != 0x7f)
			j++;
		r = eg_buf_append(out, v.ptr + i, j - i);
		if (r < 0)
			return r;
		if (j < v.len) {
			unsigned char c = (unsigned char)v.ptr[j];
			char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

			r = eg_buf_append(out, esc, 4);
			if (r < 0)
				return r;
			j++;
		}
		i = j;
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at @p (n bytes left), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
	return len;
}

/* JSON string contents: escapes, and invalid UTF-8 replaced by U+FFFD so the line always
 * parses. */
static int put_json(struct eg_buf *out, struct eg_str v)
{
	const unsigned char *s = (const unsigned char *)v.ptr;
	size_t i = 0;
	int r = 0;

	while (i < v.len) {
		size_t j = i;

		while (j < v.len && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\')
			j++;
		r = eg_buf_append(out, s + i, j - i);
		if (r < 0 || j == v.len)
			return r;
		if (s[j] < 0x80) {
			r = eg_buf_json_escape(out, (const char *)s + j, 1);
			i = j + 1;
		} else {
			size_t u = utf8_len(s + j, v.len - j);

			if (u)
				r = eg_buf_append(out, s + j, u);
			else
				r = eg_buf_puts(out, "\\ufffd");
			i = j + (u ? u : 1);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int render_text(const struct seq *sq, const struct eg_accesslog_entry *e, struct eg_buf *out)
{
	char scratch[SCRATCH_MAX];

	for (unsigned i = 0; i < sq->n; i++) {
		const struct piece *p = &sq->p[i];
		struct eg_str v;
		bool numeric;
		int r;

		if (p->cmd == C_TEXT)
			r = eg_buf_append(out, p->text, p->text_len);
		else if (value_of(p, e, scratch, &v, &numeric))
			r = put_text(out, v);
		else
			r = eg_buf_putc(out, '-');
		if (r < 0)
			return r;
	}
	return 0;
}

static int render_json(const struct eg_accesslog_format *f, const struct eg_accesslog_entry *e,
                       struct eg_buf *out)
{
	char scratch[SCRATCH_MAX];
	int r = eg_buf_putc(out, '{');

	for (unsigned k = 0; k < f->n_fields && r >= 0; k++) {
		const struct jfield *fld = &f->fields[k];
		const struct seq *sq = &fld->seq;
		struct eg_str v;
		bool numeric;

		if (k)
			r = eg_buf_putc(out, ',');
		if (r >= 0)
			r = eg_buf_putc(out, '"');
		if (r >= 0)
			r = put_json(out, (struct eg_str){fld->key, fld->key_len});
		if (r >= 0)
			r = eg_buf_append(out, "\":", 2);
		if (r < 0)
			break;
		if (sq->n == 1 && sq->p[0].cmd != C_TEXT) { /* a lone command: typed like Envoy */
			if (!value_of(&sq->p[0], e, scratch, &v, &numeric))
				r = eg_buf_append(out, "null", 4);
			else if (numeric)
				r = eg_buf_append(out, v.ptr, v.len);
			else if ((r = eg_buf_putc(out, '"')) >= 0 && (r = put_json(out, v)) >= 0)
				r = eg_buf_putc(out, '"');
			continue;
		}
		r = eg_buf_putc(out, '"');
		for (unsigned i = 0; i < sq->n && r >= 0; i++) {
			const struct piece *p = &sq->p[i];

			if (!value_of(p, e, scratch, &v, &numeric))
				v = EG_STR("-");
			r = put_json(out, v);
		}
		if (r >= 0)
			r = eg_buf_putc(out, '"');
	}
	if (r >= 0)
		r = eg_buf_append(out, "}\n", 2);
	return r;
}

int eg_accesslog_format(const struct eg_accesslog_format *f, const struct eg_accesslog_entry *e,
                        struct eg_buf *out)
{
	size_t start = out->len;
	int r;

	r = f->enc == EG_ACCESSLOG_JSON ? render_json(f, e, out) : render_text(&f->text, e, out);
	if (r < 0 && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	return r;
}
