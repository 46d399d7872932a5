/* src/model/rules_common.c: what the webhook rules share: the rule cursor, Istio's host
 * checks with Istio's messages, protocols, exportTo, selectors, RE2 syntax, TLS settings. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include "core/str.h"
#include "model/kinds.h"

/* --- the rule cursor --- */

void eg_rctx_init(struct eg_rctx *c, const struct eg_resource *r, struct eg_diag *d)
{
	c->r = r;
	c->d = d;
	c->path[0] = '\0';
	c->plen = 0;
}

size_t eg_rctx_push(struct eg_rctx *c, const char *fmt, ...)
{
	size_t old = c->plen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + c->plen, sizeof(c->path) - c->plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->plen = EG_MIN(c->plen + (size_t)n, sizeof(c->path) - 1);
	return old;
}

void eg_rctx_pop(struct eg_rctx *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

static void rreport(struct eg_rctx *c, enum eg_diag_level level, const struct eg_node *at,
		    const char *field, const char *fmt, va_list ap) EG_PRINTF(5, 0);
static void rreport(struct eg_rctx *c, enum eg_diag_level level, const struct eg_node *at,
		    const char *field, const char *fmt, va_list ap)
{
	struct eg_pos p = at ? at->pos : c->r->root->pos;
	size_t old = c->plen;

	if (!p.file)
		p.file = c->r->file;
	if (field)
		eg_rctx_push(c, "%s%s", c->plen ? "." : "", field);
	eg_diag_vadd(c->d, level, &p, c->r->what, c->path, fmt, ap);
	eg_rctx_pop(c, old);
}

void eg_rerr(struct eg_rctx *c, const struct eg_node *at, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rreport(c, EG_DIAG_ERROR, at, field, fmt, ap);
	va_end(ap);
}

void eg_rwarn(struct eg_rctx *c, const struct eg_node *at, const char *field, const char *fmt,
	      ...)
{
	va_list ap;

	va_start(ap, fmt);
	rreport(c, EG_DIAG_WARNING, at, field, fmt, ap);
	va_end(ap);
}

/* --- Go's %q (enough of it: printable ASCII as is, the rest escaped) --- */

const char *eg_goq(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (len < 3) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 6 < len; p++) {
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else if (*p == '\t') {
			buf[o++] = '\\';
			buf[o++] = 't';
		} else if (*p < 0x20 || *p == 0x7f) {
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
		} else {
			buf[o++] = (char)*p;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* --- Istio's host checks --- */

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* labels.IsDNS1123Label: [a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?, at most 63 */
static bool dns_label(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !alnum(s[0]) || !alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool eg_istio_dns_label(const char *s)
{
	return dns_label(s, strlen(s));
}

/* labels.IsWildcardDNS1123Label: "*", or a label with a leading "*" or "*-" */
static bool wildcard_label(const char *s, size_t n)
{
	if (n > 63)
		return false;
	if (n == 1 && s[0] == '*')
		return true;
	if (n >= 2 && s[0] == '*' && s[1] == '-' && dns_label(s + 2, n - 2))
		return true;
	if (n >= 1 && s[0] == '*' && dns_label(s + 1, n - 1))
		return true;
	return dns_label(s, n);
}

static const char *dns_preconditions(const char *s, char *why, size_t len)
{
	char q[300];

	if (strlen(s) > 255) {
		snprintf(why, len, "domain name %s too long (max 255)", eg_goq(s, q, sizeof(q)));
		return why;
	}
	if (!*s) {
		snprintf(why, len, "empty domain name not allowed");
		return why;
	}
	return NULL;
}

static bool all_numeric(const char *s, size_t n)
{
	size_t i = 0;

	/* strconv.Atoi: an optional sign and at least one digit */
	if (n && (s[0] == '+' || s[0] == '-'))
		i++;
	if (i == n)
		return false;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* agent.ValidateDNS1123Labels; messages name the whole host @full (Istio names only the part
 * after a wildcard label, which reads oddly for "foo.*.com") */
static const char *dns_labels(const char *s, const char *full, char *why, size_t len)
{
	const char *last = strrchr(s, '.');
	const char *tld = last ? last + 1 : s;
	const char *p = s;
	char q1[300], q2[80];

	if (all_numeric(tld, strlen(tld))) {
		snprintf(why, len, "domain name %s invalid (top level domain %s cannot be all-numeric)",
			 eg_goq(full, q1, sizeof(q1)), eg_goq(tld, q2, sizeof(q2)));
		return why;
	}
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		/* the last label may be empty, for unambiguous names like "istio.io." */
		if (!dot && l == 0)
			return NULL;
		if (!dns_label(p, l)) {
			char label[80];

			snprintf(label, sizeof(label), "%.*s", (int)EG_MIN(l, 70), p);
			snprintf(why, len, "domain name %s invalid (label %s invalid)",
				 eg_goq(full, q1, sizeof(q1)), eg_goq(label, q2, sizeof(q2)));
			return why;
		}
		if (!dot)
			return NULL;
		p = dot + 1;
	}
}

const char *eg_istio_wildcard_domain(const char *s, char *why, size_t len)
{
	const char *dot;
	size_t l;

	if (dns_preconditions(s, why, len))
		return why;
	dot = strchr(s, '.');
	l = dot ? (size_t)(dot - s) : strlen(s);
	if (!wildcard_label(s, l)) {
		char q1[300], q2[80], label[80];

		snprintf(label, sizeof(label), "%.*s", (int)EG_MIN(l, 70), s);
		snprintf(why, len, "domain name %s invalid (label %s invalid)",
			 eg_goq(s, q1, sizeof(q1)), eg_goq(label, q2, sizeof(q2)));
		return why;
	}
	return dot ? dns_labels(dot + 1, s, why, len) : NULL;
}

const char *eg_istio_fqdn(const char *s, char *why, size_t len)
{
	char tmp[300];
	size_t l = strlen(s);

	if (dns_preconditions(s, why, len))
		return why;
	if (l >= sizeof(tmp))
		l = sizeof(tmp) - 1;
	memcpy(tmp, s, l);
	tmp[l] = '\0';
	if (l && tmp[l - 1] == '.')
		tmp[l - 1] = '\0';
	return dns_labels(tmp, s, why, len);
}

const char *eg_istio_partial_wildcard(const char *s, char *why, size_t len)
{
	char q[300];

	if (strchr(s, '*') && strlen(s) != 1 && strncmp(s, "*.", 2) != 0) {
		snprintf(why, len, "partial wildcard %s not allowed", eg_goq(s, q, sizeof(q)));
		return why;
	}
	return NULL;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

bool eg_host_matches(const char *a, const char *b)
{
	bool aw = a[0] == '*', bw = b[0] == '*';

	if (aw && bw)
		return strlen(a) < strlen(b) ? has_suffix(b + 1, a + 1) : has_suffix(a + 1, b + 1);
	if (aw)
		return has_suffix(b, a + 1);
	if (bw)
		return has_suffix(a, b + 1);
	return strcmp(a, b) == 0;
}

bool eg_host_subset_of(const char *a, const char *b)
{
	if (b[0] == '*')
		return a[0] == '*' ? has_suffix(a + 1, b + 1) : has_suffix(a, b + 1);
	if (a[0] == '*')
		return false;
	return strcmp(a, b) == 0;
}

bool eg_is_ip_or_cidr(const char *s)
{
	return strchr(s, '/') ? eg_is_cidr(s) : eg_is_ip(s);
}

/* --- protocols --- */

static const char *const proto_names[] = {
	[EG_PROTO_UNSUPPORTED] = "UnsupportedProtocol",
	[EG_PROTO_HTTP] = "HTTP",
	[EG_PROTO_HTTPS] = "HTTPS",
	[EG_PROTO_GRPC] = "GRPC",
	[EG_PROTO_GRPC_WEB] = "GRPC-Web",
	[EG_PROTO_HTTP2] = "HTTP2",
	[EG_PROTO_HTTP_PROXY] = "HTTP_PROXY",
	[EG_PROTO_TCP] = "TCP",
	[EG_PROTO_TLS] = "TLS",
	[EG_PROTO_UDP] = "UDP",
	[EG_PROTO_MONGO] = "Mongo",
	[EG_PROTO_REDIS] = "Redis",
	[EG_PROTO_MYSQL] = "MySQL",
};

enum eg_protocol eg_protocol_parse(const char *s)
{
	if (!s)
		return EG_PROTO_UNSUPPORTED;
	for (size_t i = 1; i < EG_ARRAY_SIZE(proto_names); i++)
		if (strcasecmp(s, proto_names[i]) == 0)
			return (enum eg_protocol)i;
	return EG_PROTO_UNSUPPORTED;
}

const char *eg_protocol_name(enum eg_protocol p)
{
	return (size_t)p < EG_ARRAY_SIZE(proto_names) ? proto_names[p] : proto_names[0];
}

bool eg_protocol_is_http(enum eg_protocol p)
{
	return p == EG_PROTO_HTTP || p == EG_PROTO_HTTP2 || p == EG_PROTO_HTTP_PROXY ||
	       p == EG_PROTO_GRPC || p == EG_PROTO_GRPC_WEB;
}

bool eg_protocol_is_http2(enum eg_protocol p)
{
	return p == EG_PROTO_HTTP2 || p == EG_PROTO_GRPC || p == EG_PROTO_GRPC_WEB;
}

bool eg_protocol_is_tcp(enum eg_protocol p)
{
	return p == EG_PROTO_TCP || p == EG_PROTO_HTTPS || p == EG_PROTO_TLS ||
	       p == EG_PROTO_MONGO || p == EG_PROTO_REDIS || p == EG_PROTO_MYSQL;
}

bool eg_protocol_is_tls(enum eg_protocol p)
{
	return p == EG_PROTO_HTTPS || p == EG_PROTO_TLS;
}

/* --- RE2 syntax (what Go's regexp/syntax rejects, for the patterns people write) --- */

static const char *re_fail(char *why, size_t len, const char *what, const char *at, size_t n)
{
	snprintf(why, len, "error parsing regexp: %s: `%.*s`", what, (int)EG_MIN(n, 200), at);
	return why;
}

/* Parses "{n}", "{n,}" or "{n,m}" at @p; returns its length, 0 when @p is a literal '{'.
 * *bad is set when the counts are out of RE2's range (1000) or reversed. */
static size_t re_repeat(const char *p, bool *bad)
{
	const char *q = p + 1;
	long lo = 0, hi = -1;
	bool digits = false;

	*bad = false;
	/* EG_MIN evaluates its arguments twice: no side effects inside it */
	while (*q >= '0' && *q <= '9') {
		lo = EG_MIN(lo * 10 + (*q - '0'), 100000);
		q++;
		digits = true;
	}
	if (!digits)
		return 0;
	if (*q == ',') {
		q++;
		if (*q >= '0' && *q <= '9') {
			hi = 0;
			while (*q >= '0' && *q <= '9') {
				hi = EG_MIN(hi * 10 + (*q - '0'), 100000);
				q++;
			}
		} else {
			hi = -2; /* open-ended */
		}
	} else {
		hi = lo;
	}
	if (*q != '}')
		return 0;
	if (lo > 1000 || hi > 1000 || (hi >= 0 && hi < lo))
		*bad = true;
	return (size_t)(q - p) + 1;
}

const char *eg_re2_check(const char *re, char *why, size_t len)
{
	const char *p = re;
	unsigned depth = 0;
	bool can_repeat = false; /* an atom precedes */
	bool repeated = false;   /* the previous token was a repetition */

	while (*p) {
		char c = *p;

		if (c == '\\') {
			char e = p[1];

			if (!e)
				return re_fail(why, len, "trailing backslash at end of expression", "", 0);
			if (e >= '1' && e <= '9')
				return re_fail(why, len, "invalid escape sequence", p, 2);
			if (e == 'p' || e == 'P') {
				if (p[2] == '{') {
					const char *end = strchr(p + 3, '}');

					if (!end)
						return re_fail(why, len, "invalid character class range", p,
							       strlen(p));
					p = end + 1;
				} else {
					p += p[2] ? 3 : 2;
				}
			} else if (e == 'x' && p[2] == '{') {
				const char *end = strchr(p + 3, '}');

				if (!end)
					return re_fail(why, len, "invalid escape sequence", p, strlen(p));
				p = end + 1;
			} else if (e == 'Q') {
				const char *end = strstr(p + 2, "\\E");

				p = end ? end + 2 : p + strlen(p);
			} else {
				if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
					if (!strchr("dDsSwWbBAzaftnrvx", e))
						return re_fail(why, len, "invalid escape sequence", p, 2);
				}
				p += 2;
			}
			can_repeat = true;
			repeated = false;
			continue;
		}
		if (c == '[') {
			const char *q = p + 1;

			if (*q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q && *q != ']') {
				if (*q == '\\' && q[1])
					q += 2;
				else if (q[0] == '[' && q[1] == ':') {
					const char *end = strstr(q + 2, ":]");

					q = end ? end + 2 : q + 1;
				} else
					q++;
			}
			if (!*q)
				return re_fail(why, len, "missing closing ]", p, strlen(p));
			p = q + 1;
			can_repeat = true;
			repeated = false;
			continue;
		}
		if (c == '(') {
			if (p[1] == '?') {
				const char *q = p + 2;

				if (*q == '=' || *q == '!' || (*q == '<' && (q[1] == '=' || q[1] == '!')))
					return re_fail(why, len, "invalid or unsupported Perl syntax", p,
						       (size_t)(q - p) + (*q == '<' ? 2 : 1));
				if (*q == 'P' && q[1] == '<') {
					q = strchr(q, '>');
					if (!q)
						return re_fail(why, len, "invalid named capture", p,
							       strlen(p));
					p = q + 1;
				} else if (*q == '<') {
					q = strchr(q, '>');
					if (!q)
						return re_fail(why, len, "invalid named capture", p,
							       strlen(p));
					p = q + 1;
				} else {
					while (*q && strchr("imsU-", *q))
						q++;
					if (*q == ')') {
						/* flags only: "(?i)" */
						p = q + 1;
						can_repeat = false;
						repeated = false;
						continue;
					}
					if (*q != ':')
						return re_fail(why, len, "invalid or unsupported Perl syntax",
							       p, (size_t)(q - p) + (*q ? 1 : 0));
					p = q + 1;
				}
			} else {
				p++;
			}
			if (++depth > 1000)
				return re_fail(why, len, "expression nests too deeply", re, strlen(re));
			can_repeat = false;
			repeated = false;
			continue;
		}
		if (c == ')') {
			if (!depth)
				return re_fail(why, len, "unexpected )", re, strlen(re));
			depth--;
			p++;
			can_repeat = true;
			repeated = false;
			continue;
		}
		if (c == '|') {
			p++;
			can_repeat = false;
			repeated = false;
			continue;
		}
		if (c == '*' || c == '+' || c == '?' || c == '{') {
			size_t n = 1;
			bool bad = false;

			if (c == '{') {
				n = re_repeat(p, &bad);
				if (!n) {
					/* a literal '{' */
					p++;
					can_repeat = true;
					repeated = false;
					continue;
				}
			}
			if (repeated && c == '?' ) {
				/* non-greedy: "*?", "+?", "??", "{n}?" */
				p++;
				repeated = false;
				can_repeat = false;
				continue;
			}
			if (repeated)
				return re_fail(why, len, "invalid nested repetition operator", p - 1, n + 1);
			if (!can_repeat)
				return re_fail(why, len, "missing argument to repetition operator", p, n);
			if (bad)
				return re_fail(why, len, "invalid repeat count", p, n);
			p += n;
			repeated = true;
			continue;
		}
		/* ^ and $ are anchors: RE2 refuses to repeat them only in Perl mode; accept */
		p++;
		can_repeat = c != '^';
		repeated = false;
	}
	if (depth)
		return re_fail(why, len, "missing closing )", re, strlen(re));
	return NULL;
}

/* --- exportTo (validateExportTo) --- */

void eg_rules_export_to(struct eg_rctx *c, const struct eg_node *spec, bool service_entry,
			bool dr_with_selector)
{
	const struct eg_node *list = eg_node_get(spec, "exportTo");
	const char *ns = c->r->ns ? c->r->ns : "default";
	const char *seen[256];
	size_t nseen = 0;
	bool has_ns = false, has_star = false, has_none = false;

	if (!eg_node_len(list))
		return;
	for (size_t i = 0; i < list->n; i++) {
		const struct eg_node *e = list->v[i];
		const char *key = strcmp(e->s, ".") == 0 ? ns : e->s;
		bool dup = false;
		size_t old = eg_rctx_push(c, ".exportTo[%zu]", i);

		for (size_t j = 0; j < nseen; j++)
			dup = dup || strcmp(seen[j], key) == 0;
		if (dup) {
			if (strcmp(key, e->s) != 0)
				eg_rerr(c, e, NULL, "duplicate entries in exportTo: . and current namespace %s",
					ns);
			else
				eg_rerr(c, e, NULL, "duplicate entries in exportTo for entry %s", e->s);
		} else if (service_entry && strcmp(e->s, "~") == 0) {
			if (nseen < EG_ARRAY_SIZE(seen))
				seen[nseen++] = key;
		} else if (strcmp(e->s, "~") == 0) {
			eg_rerr(c, e, NULL,
				"exportTo ~ (none) is not allowed for Istio configuration objects");
		} else if (strcmp(key, "*") != 0 && strcmp(e->s, ".") != 0 && !eg_istio_dns_label(key)) {
			eg_rerr(c, e, NULL,
				"only .,*, or a valid DNS 1123 label is allowed as exportTo entry");
		} else if (nseen < EG_ARRAY_SIZE(seen)) {
			seen[nseen++] = key;
		}
		eg_rctx_pop(c, old);
	}
	for (size_t j = 0; j < nseen; j++) {
		has_ns = has_ns || strcmp(seen[j], ns) == 0;
		has_star = has_star || strcmp(seen[j], "*") == 0;
		has_none = has_none || strcmp(seen[j], "~") == 0;
	}
	if (dr_with_selector && nseen) {
		if (!has_ns)
			eg_rerr(c, list, "exportTo",
				"destination rule with workload selector cannot have exportTo beyond current namespace");
		else if (nseen > 1)
			eg_rerr(c, list, "exportTo",
				"destination rule with workload selector cannot have multiple entries in exportTo");
	}
	if (has_star && list->n > 1)
		eg_rerr(c, list, "exportTo",
			"cannot have both public (*) and non-public exportTo values for a resource");
	if (has_none && list->n > 1)
		eg_rerr(c, list, "exportTo", "cannot export service entry to no one (~) and someone");
}

/* --- selectors (validateWorkloadSelector) --- */

void eg_rules_workload_selector(struct eg_rctx *c, const struct eg_node *sel, const char *field,
				const char *labels_key)
{
	const struct eg_node *labels;

	if (!sel)
		return;
	labels = eg_node_get(sel, labels_key);
	for (size_t i = 0; i < eg_node_len(labels); i++) {
		if (strchr(labels->k[i]->s, '*') || strchr(labels->v[i]->s, '*')) {
			size_t old = eg_rctx_push(c, "%s%s.%s", c->plen ? "." : "", field, labels_key);

			eg_rerr(c, labels->k[i], NULL, "wildcard is not supported in selector");
			eg_rctx_pop(c, old);
		}
	}
	if (!eg_node_len(labels))
		eg_rwarn(c, sel, field, "workload selector specified without labels");
}

/* --- durations (agent.ValidateDuration: at least 1ms, millisecond precision) --- */

void eg_rules_duration_ms(struct eg_rctx *c, const struct eg_node *obj, const char *field,
			  bool allow_zero)
{
	const struct eg_node *n = eg_node_get(obj, field);

	if (!n || n->vtype != EG_V_DURATION)
		return;
	if (n->i == 0 && allow_zero)
		return;
	if (n->i < 1000000)
		eg_rerr(c, n, field, "duration must be greater than 1ms");
	else if (n->i % 1000000)
		eg_rerr(c, n, field, "only durations to ms precision are supported");
}

/* --- ServerTLSSettings (validateTLSOptions); Gateway servers and Sidecar ingress --- */

static bool has_str(const struct eg_node *obj, const char *key)
{
	const char *s = eg_node_str(obj, key);

	return s && *s;
}

void eg_rules_server_tls(struct eg_rctx *c, const struct eg_node *tls)
{
	const struct eg_node *mode_n = eg_node_get(tls, "mode");
	const char *mode = mode_n ? mode_n->s : "PASSTHROUGH";
	bool cert = has_str(tls, "serverCertificate"), key = has_str(tls, "privateKey");
	bool ca = has_str(tls, "caCertificates"), cred = has_str(tls, "credentialName");
	bool creds = cred || eg_node_len(eg_node_get(tls, "credentialNames"));
	const struct eg_node *minv = eg_node_get(tls, "minProtocolVersion");
	const struct eg_node *maxv = eg_node_get(tls, "maxProtocolVersion");

	if (!tls)
		return;
	if (minv && maxv && minv->i && maxv->i && minv->i > maxv->i)
		eg_rerr(c, maxv, "maxProtocolVersion",
			"maxProtocolVersion %s is lower than minProtocolVersion %s", maxv->s, minv->s);
	if (strcmp(mode, "ISTIO_MUTUAL") == 0) {
		/* the gateway's workload certificate is used; other sources must be empty */
		if (cert)
			eg_rerr(c, eg_node_get(tls, "serverCertificate"), "serverCertificate",
				"ISTIO_MUTUAL TLS cannot have associated server certificate");
		if (key)
			eg_rerr(c, eg_node_get(tls, "privateKey"), "privateKey",
				"ISTIO_MUTUAL TLS cannot have associated private key");
		if (ca)
			eg_rerr(c, eg_node_get(tls, "caCertificates"), "caCertificates",
				"ISTIO_MUTUAL TLS cannot have associated CA bundle");
		if (creds)
			eg_rerr(c, eg_node_get(tls, cred ? "credentialName" : "credentialNames"),
				cred ? "credentialName" : "credentialNames",
				"ISTIO_MUTUAL TLS cannot have associated credentialName");
		return;
	}
	if (strcmp(mode, "PASSTHROUGH") == 0 || strcmp(mode, "AUTO_PASSTHROUGH") == 0) {
		if (has_str(tls, "caCrl") || cert || key || ca || creds)
			eg_rwarn(c, tls, NULL, "%s mode does not use certificates, they will be ignored",
				 mode);
		return;
	}
	if (creds) {
		/* credentials come from the Secret; file paths beside it are ambiguous (egressd is
		 * stricter than Istio here, which silently prefers the Secret) */
		if (cert || key || ca)
			eg_rerr(c, tls, NULL,
				"only one certificate source may be set: credentialName, or serverCertificate/privateKey/caCertificates");
		return;
	}
	if (strcmp(mode, "SIMPLE") == 0) {
		if (!cert)
			eg_rerr(c, tls, NULL, "SIMPLE TLS requires a server certificate");
		if (!key)
			eg_rerr(c, tls, NULL, "SIMPLE TLS requires a private key");
	} else {
		/* MUTUAL and OPTIONAL_MUTUAL */
		if (!cert)
			eg_rerr(c, tls, NULL, "MUTUAL TLS requires a server certificate");
		if (!key)
			eg_rerr(c, tls, NULL, "MUTUAL TLS requires a private key");
		if (!ca)
			eg_rerr(c, tls, NULL, "MUTUAL TLS requires a client CA bundle");
	}
}

/* --- ConnectionPoolSettings (validateConnectionPool) --- */

static void non_negative(struct eg_rctx *c, const struct eg_node *obj, const char *field,
			 const char *what)
{
	const struct eg_node *n = eg_node_get(obj, field);

	if (n && n->vtype == EG_V_INT && n->i < 0)
		eg_rerr(c, n, field, "%s must be non-negative", what);
}

void eg_rules_conn_pool(struct eg_rctx *c, const struct eg_node *pool)
{
	const struct eg_node *http = eg_node_get(pool, "http"), *tcp = eg_node_get(pool, "tcp");
	size_t old;

	if (!pool)
		return;
	if (!http && !tcp) {
		eg_rerr(c, pool, NULL, "connection pool must have at least one field");
		return;
	}
	if (http) {
		const struct eg_node *up = eg_node_get(http, "h2UpgradePolicy");

		old = eg_rctx_push(c, ".http");
		non_negative(c, http, "http1MaxPendingRequests", "http1 max pending requests");
		non_negative(c, http, "http2MaxRequests", "http2 max requests");
		non_negative(c, http, "maxRequestsPerConnection", "max requests per connection");
		non_negative(c, http, "maxRetries", "max retries");
		non_negative(c, http, "maxConcurrentStreams", "max concurrent streams");
		eg_rules_duration_ms(c, http, "idleTimeout", true);
		if (up && strcmp(up->s, "UPGRADE") == 0 && eg_node_bool(http, "useClientProtocol", false))
			eg_rerr(c, eg_node_get(http, "useClientProtocol"), "useClientProtocol",
				"use client protocol must not be true when H2UpgradePolicy is UPGRADE");
		eg_rctx_pop(c, old);
	}
	if (tcp) {
		const struct eg_node *ka = eg_node_get(tcp, "tcpKeepalive");

		old = eg_rctx_push(c, ".tcp");
		non_negative(c, tcp, "maxConnections", "max connections");
		eg_rules_duration_ms(c, tcp, "connectTimeout", false);
		eg_rules_duration_ms(c, tcp, "maxConnectionDuration", false);
		eg_rules_duration_ms(c, tcp, "idleTimeout", true);
		if (ka) {
			size_t o2 = eg_rctx_push(c, ".tcpKeepalive");

			eg_rules_duration_ms(c, ka, "time", false);
			eg_rules_duration_ms(c, ka, "interval", false);
			eg_rctx_pop(c, o2);
		}
		eg_rctx_pop(c, old);
	}
}
