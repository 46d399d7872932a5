/* src/model/analyze.c: the analyzers behind `egressctl analyze`.
 *
 * Each check_* function reads the resources through the node accessors and reports with
 * report(); nothing here prints or touches a file. The Istio checks follow istioctl's
 * analyzers (SPEC.md §5) with their message templates; where egressd decides otherwise it
 * is said next to the check and in docs/reference/analyze.md. Workloads are Deployments:
 * a Gateway selects the Deployments whose pod template labels match its selector (all
 * namespaces, Istio's default), a Service those of its namespace. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>

#include "core/str.h"
#include "model/analyze.h"

enum code_id {
	C_IST0101,
	C_IST0106,
	C_IST0109,
	C_IST0110,
	C_IST0111,
	C_IST0112,
	C_IST0128,
	C_IST0129,
	C_IST0130,
	C_IST0131,
	C_IST0132,
	C_IST0133,
	C_IST0134,
	C_IST0145,
	C_IST0162,
	C_EGR0001,
	C_EGR0002,
	C_EGR0003,
	C_EGR0004,
	C_EGR0005,
	C_EGR0006,
	C_COUNT,
};

const struct eg_analyze_code eg_analyze_codes[] = {
	[C_IST0101] = { "IST0101", "ReferencedResourceNotFound", EG_ANALYZE_ERROR },
	[C_IST0106] = { "IST0106", "SchemaValidationError", EG_ANALYZE_ERROR },
	[C_IST0109] = { "IST0109", "ConflictingMeshGatewayVirtualServiceHosts", EG_ANALYZE_ERROR },
	[C_IST0110] = { "IST0110", "ConflictingSidecarWorkloadSelectors", EG_ANALYZE_ERROR },
	[C_IST0111] = { "IST0111", "MultipleSidecarsWithoutWorkloadSelectors", EG_ANALYZE_ERROR },
	[C_IST0112] = { "IST0112", "VirtualServiceDestinationPortSelectorRequired",
			EG_ANALYZE_ERROR },
	[C_IST0128] = { "IST0128", "NoServerCertificateVerificationDestinationLevel",
			EG_ANALYZE_WARNING },
	[C_IST0129] = { "IST0129", "NoServerCertificateVerificationPortLevel", EG_ANALYZE_WARNING },
	[C_IST0130] = { "IST0130", "VirtualServiceUnreachableRule", EG_ANALYZE_WARNING },
	[C_IST0131] = { "IST0131", "VirtualServiceIneffectiveMatch", EG_ANALYZE_INFO },
	[C_IST0132] = { "IST0132", "VirtualServiceHostNotFoundInGateway", EG_ANALYZE_WARNING },
	[C_IST0133] = { "IST0133", "SchemaWarning", EG_ANALYZE_WARNING },
	[C_IST0134] = { "IST0134", "ServiceEntryAddressesRequired", EG_ANALYZE_WARNING },
	[C_IST0145] = { "IST0145", "ConflictingGateways", EG_ANALYZE_ERROR },
	[C_IST0162] = { "IST0162", "GatewayPortNotDefinedOnService", EG_ANALYZE_WARNING },
	[C_EGR0001] = { "EGR0001", "EgressGatewayHostNotAccepted", EG_ANALYZE_ERROR },
	[C_EGR0002] = { "EGR0002", "EgressGatewayMutualTLSMismatch", EG_ANALYZE_ERROR },
	[C_EGR0003] = { "EGR0003", "OverlappingPassthroughSniHosts", EG_ANALYZE_WARNING },
	[C_EGR0004] = { "EGR0004", "OutboundTrafficNotRestricted", EG_ANALYZE_INFO },
	[C_EGR0005] = { "EGR0005", "EgressGatewayConfigurationNotFound", EG_ANALYZE_ERROR },
	[C_EGR0006] = { "EGR0006", "EgressGatewayPrefixNotAssigned", EG_ANALYZE_WARNING },
	[C_COUNT] = { NULL, NULL, EG_ANALYZE_INFO },
};

#define MAX_TEXT      16384 /* one message */
#define MAX_HOST      320   /* a host with a namespace or "*." prefix, and some slack */
#define MAX_SNI_ENTS  2048  /* SNI hosts compared pairwise on one gateway port */
#define MAX_MESH      16    /* MeshConfig ConfigMaps looked at */
#define SGC_ANNOTATION "kubernetes.azure.com/static-gateway-configuration"
#define EXPORT_TO_ANNOTATION "networking.istio.io/exportTo"

static const char *const level_names[] = { "Error", "Warning", "Info" };

/* --- the message list --- */

void eg_analyze_init(struct eg_analyze *a)
{
	memset(a, 0, sizeof(*a));
}

void eg_analyze_done(struct eg_analyze *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].text);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

const char *eg_analyze_level_name(enum eg_analyze_level l)
{
	return (unsigned)l < EG_ARRAY_SIZE(level_names) ? level_names[l] : "Info";
}

int eg_analyze_parse_level(const char *s, enum eg_analyze_level *ret)
{
	for (size_t i = 0; i < EG_ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*ret = (enum eg_analyze_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int add_msg(struct eg_analyze *a, enum code_id id, enum eg_analyze_level level,
		   const struct eg_resource *r, const struct eg_node *at, bool mesh_wide,
		   const char *text)
{
	struct eg_analyze_msg *m;

	if (a->n >= EG_ANALYZE_MAX_MSGS) {
		a->dropped++;
		return 0;
	}
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct eg_analyze_msg *v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	m = &a->v[a->n];
	*m = (struct eg_analyze_msg){ &eg_analyze_codes[id], level, r, NULL, 0, mesh_wide, NULL };
	if (r) {
		struct eg_pos p = at ? at->pos : r->root->pos;

		m->file = p.file ? p.file : r->file;
		m->line = p.line;
	}
	if (!(m->text = strdup(text)))
		return -ENOMEM;
	a->n++;
	return 0;
}

int eg_analyze_add_schema(struct eg_analyze *a, const struct eg_resource *r, bool warning,
			  uint32_t line, const char *text)
{
	struct eg_buf b = EG_BUF_INIT(MAX_TEXT);
	enum code_id id = warning ? C_IST0133 : C_IST0106;
	size_t i = a->n;
	int ret;

	(void)eg_buf_printf(&b, "Schema validation %s: %s", warning ? "warning" : "error", text);
	ret = add_msg(a, id, eg_analyze_codes[id].level, r, NULL, false, eg_buf_cstr(&b));
	if (ret == 0 && line && i < a->n)
		a->v[i].line = line;
	eg_buf_done(&b);
	return ret;
}

/* The webhook rules' warnings that an analyzer reports under its own code: Istio turns the
 * unreachable-rule warnings into IST0130/IST0131 (the text is Istio's template), and
 * IST0134 knows about address auto-allocation, which the webhook cannot. */
static int add_warning(struct eg_analyze *a, const struct eg_resource *r, uint32_t line,
		       const char *full, const char *text)
{
	static const char rule[] = "virtualService rule ";
	enum code_id id;
	struct eg_buf b = EG_BUF_INIT(MAX_TEXT);
	size_t i = a->n;
	int ret;

	if (strstr(text, "addresses are required for ports serving TCP (or unset) protocol"))
		return 0;
	if (strncmp(text, rule, sizeof(rule) - 1) != 0 || !strstr(text, " not used ("))
		return eg_analyze_add_schema(a, r, true, line, full);
	id = strstr(text, " match ") && strstr(text, " is not used (") ? C_IST0131 : C_IST0130;
	(void)eg_buf_printf(&b, "V%s.", text + 1);
	ret = add_msg(a, id, eg_analyze_codes[id].level, r, NULL, false, eg_buf_cstr(&b));
	if (ret == 0 && line && i < a->n)
		a->v[i].line = line;
	eg_buf_done(&b);
	return ret;
}

/* Splits one line of the diagnostic format ("FILE:LINE:COL: LEVEL: WHAT: PATH: text") into
 * its line number, level and the text after WHAT. NULL when it is not such a line. */
static const char *split_diag_line(const char *p, const char *what, uint32_t *ret_line,
				   bool *ret_warning)
{
	static const char *const levels[] = { "error: ", "warning: ", "info: " };
	const char *text = NULL, *end = NULL;

	*ret_line = 0;
	for (size_t i = 0; i < EG_ARRAY_SIZE(levels); i++) {
		const char *m = strncmp(p, levels[i], strlen(levels[i])) == 0 ? p : NULL;

		/* otherwise the first "LEVEL: " that follows ": " */
		for (const char *q = strstr(p, levels[i]); !m && q; q = strstr(q + 1, levels[i]))
			if (q >= p + 2 && q[-2] == ':' && q[-1] == ' ')
				m = q;
		if (m && (!text || m < end)) {
			end = m;
			text = m + strlen(levels[i]);
			*ret_warning = i != 0;
		}
	}
	if (!text)
		return NULL;
	if (end > p + 2) {
		/* the prefix "FILE:LINE:COL" ends 2 bytes before the level: take the numbers */
		const char *q = end - 2, *col_start, *line_start;

		while (q > p && q[-1] >= '0' && q[-1] <= '9')
			q--;
		col_start = q;
		if (col_start < end - 2 && q > p + 1 && q[-1] == ':') {
			q--;
			while (q > p && q[-1] >= '0' && q[-1] <= '9')
				q--;
			line_start = q;
			if (line_start < col_start - 1 && q > p && q[-1] == ':')
				*ret_line = (uint32_t)strtoul(line_start, NULL, 10);
		}
	}
	if (what && *what && strncmp(text, what, strlen(what)) == 0 &&
	    strncmp(text + strlen(what), ": ", 2) == 0)
		text += strlen(what) + 2;
	return text;
}

int eg_analyze_add_diag(struct eg_analyze *a, const struct eg_resource *r, const struct eg_diag *d)
{
	const char *p = eg_diag_text(d);
	int ret = 0;

	while (*p && ret == 0) {
		size_t l = strcspn(p, "\n");
		char *line = eg_strndup(p, l);
		const char *text;
		uint32_t lineno;
		bool warning;

		if (!line)
			return -ENOMEM;
		text = split_diag_line(line, r->what, &lineno, &warning);
		if (!text) {
			ret = eg_analyze_add_schema(a, r, false, 0, line);
		} else if (!warning) {
			ret = eg_analyze_add_schema(a, r, false, lineno, text);
		} else {
			/* "PATH: message" (a path has no spaces): the message decides the code */
			const char *colon = strstr(text, ": ");
			bool path = colon && memchr(text, ' ', (size_t)(colon - text)) == NULL;

			ret = add_warning(a, r, lineno, text, path ? colon + 2 : text);
		}
		free(line);
		p += l;
		if (*p == '\n')
			p++;
	}
	return ret;
}

/* --- small helpers over nodes --- */

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool is_kind(const struct eg_resource *r, const char *kind)
{
	return r->kind && strcmp(r->kind->kind, kind) == 0;
}

/* The text of a scalar node (NULL for anything else, and for null). */
static const char *scalar(const struct eg_node *n)
{
	return n && n->kind == EG_NODE_SCALAR && n->tag != EG_TAG_NULL ? n->s : NULL;
}

/* map[key] as text; keys may contain dots (labels, annotations), unlike eg_node_str. */
static const char *map_str(const struct eg_node *map, const char *key)
{
	return scalar(eg_node_get(map, key));
}

static const struct eg_node *spec_of(const struct eg_resource *r)
{
	return eg_node_get(r->root, "spec");
}

static const char *ns_or_empty(const char *ns)
{
	return ns ? ns : "";
}

/* Expands a short name ("reviews") in namespace @ns like Istio: reviews.ns.svc.cluster.local.
 * Names with a dot and "*" stay as they are. */
static const char *fqdn(const char *host, const char *ns, char *buf, size_t len)
{
	if (!host || strchr(host, '.') || strcmp(host, "*") == 0 || !ns)
		return host;
	snprintf(buf, len, "%s.%s.svc.cluster.local", host, ns);
	return buf;
}

/* Whether two host patterns share a name: equal, "*", or a "*.suffix" wildcard covering the
 * other (Istio's host.Name.Matches: "*.example.com" does not cover "example.com"). */
static bool hosts_overlap(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (strcmp(a, "*") == 0 || strcmp(b, "*") == 0 || strcasecmp(a, b) == 0)
		return true;
	if (a[0] == '*' && lb >= la && strcasecmp(b + lb - (la - 1), a + 1) == 0)
		return true;
	if (b[0] == '*' && la >= lb && strcasecmp(a + la - (lb - 1), b + 1) == 0)
		return true;
	return false;
}

/* Whether server host @pattern accepts every name of @host (which may be a wildcard). */
static bool host_covers(const char *pattern, const char *host)
{
	size_t lp = strlen(pattern), lh = strlen(host);

	if (strcmp(pattern, "*") == 0 || strcasecmp(pattern, host) == 0)
		return true;
	return pattern[0] == '*' && lh >= lp && strcasecmp(host + lh - (lp - 1), pattern + 1) == 0;
}

/* Whether a resource exported with @export_to (spec.exportTo list) from @owner_ns is
 * visible in @ns. */
static bool export_visible(const struct eg_node *export_to, const char *owner_ns, const char *ns)
{
	if (!eg_node_len(export_to) || export_to->kind != EG_NODE_SEQ)
		return true;
	for (size_t i = 0; i < export_to->n; i++) {
		const char *e = scalar(export_to->v[i]);

		if (!e)
			continue;
		if (strcmp(e, "*") == 0 || streq(e, ns) || (strcmp(e, ".") == 0 && streq(owner_ns, ns)))
			return true;
	}
	return false;
}

/* The same for a Service's networking.istio.io/exportTo annotation ("a,b,."). */
static bool annotation_visible(const char *anno, const char *owner_ns, const char *ns)
{
	const char *p = anno;

	if (!anno || !*anno)
		return true;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t l = end ? (size_t)(end - p) : strlen(p);
		struct eg_str e = { p, l };

		while (e.len && e.ptr[0] == ' ') {
			e.ptr++;
			e.len--;
		}
		while (e.len && e.ptr[e.len - 1] == ' ')
			e.len--;
		if (eg_str_eqc(e, "*") || (ns && eg_str_eqc(e, ns)) ||
		    (eg_str_eqc(e, ".") && streq(owner_ns, ns)))
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* Every key=value of @sel is among @labels (an empty selector matches everything). */
static bool labels_match(const struct eg_node *sel, const struct eg_node *labels)
{
	for (size_t i = 0; sel && sel->kind == EG_NODE_MAP && i < sel->n; i++) {
		const char *want = scalar(sel->v[i]);
		const char *have = map_str(labels, sel->k[i]->s);

		if (!want || !have || strcmp(want, have) != 0)
			return false;
	}
	return true;
}

/* Kubernetes' selector string: "k1=v1,k2=v2", keys sorted. */
static void selector_string(const struct eg_node *sel, struct eg_buf *out)
{
	const struct eg_node *prev = NULL;

	if (!sel || sel->kind != EG_NODE_MAP)
		return;
	/* selection of the next key in order: selectors are small */
	for (size_t done = 0; done < sel->n; done++) {
		const struct eg_node *best = NULL;
		size_t bi = 0;

		for (size_t i = 0; i < sel->n; i++) {
			const struct eg_node *k = sel->k[i];

			if (prev && strcmp(k->s, prev->s) <= 0)
				continue;
			if (!best || strcmp(k->s, best->s) < 0) {
				best = k;
				bi = i;
			}
		}
		if (!best)
			break;
		(void)eg_buf_printf(out, "%s%s=%s", done ? "," : "", best->s,
				    scalar(sel->v[bi]) ? scalar(sel->v[bi]) : "");
		prev = best;
	}
}

/* --- the analysis context --- */

struct rlist {
	const struct eg_resource **v;
	size_t n, cap;
};

/* A host of the registry (ServiceEntry hosts, Service FQDNs) or of a DestinationRule. */
struct hent {
	char *host; /* FQDN (owned) */
	const struct eg_resource *r;
	bool raw; /* from an object that failed validation: exists, nothing more is known */
};

struct hidx {
	struct hent *v;
	size_t n, cap;
};

/* A Deployment seen as the workload its pods would be. */
struct workload {
	const struct eg_resource *dep;
	const struct eg_node *labels; /* pod template labels */
	struct rlist gws;             /* validated Gateways whose (non-empty) selector matches */
	bool egress;                  /* an egress gateway: selected by a Gateway, or has the
					 static-gateway-configuration annotation */
};

struct mesh {
	const struct eg_resource *cm;
	const struct eg_node *at; /* data.mesh */
	struct eg_node *root;     /* the MeshConfig (owned); positions in the ConfigMap's file */
};

struct ctx {
	struct eg_analyze *a;
	int err; /* first -ENOMEM */
	/* validated objects by kind */
	struct rlist vs, dr, se, gw, sc, svc, dep, cm;
	/* validated and raw: what references may point at */
	struct rlist all_gw, all_dep, all_sgc;
	struct hidx reg; /* ServiceEntry hosts and Service FQDNs */
	struct hidx drh; /* DestinationRule hosts */
	struct workload *wl;
	size_t nwl;
	struct mesh mesh[MAX_MESH];
	size_t nmesh;
	bool mesh_seen;  /* a MeshConfig ConfigMap exists (valid or not) */
	bool auto_alloc; /* MeshConfig has DNS capture with address auto-allocation */
};

static void nomem(struct ctx *c)
{
	if (!c->err)
		c->err = -ENOMEM;
}

static void rlist_add(struct ctx *c, struct rlist *l, const struct eg_resource *r)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		const struct eg_resource **v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			nomem(c);
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = r;
}

static void rlist_done(struct rlist *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void report(struct ctx *c, enum code_id id, enum eg_analyze_level level,
		   const struct eg_resource *r, const struct eg_node *at, bool mesh_wide,
		   const char *fmt, ...) EG_PRINTF(7, 8);
static void report(struct ctx *c, enum code_id id, enum eg_analyze_level level,
		   const struct eg_resource *r, const struct eg_node *at, bool mesh_wide,
		   const char *fmt, ...)
{
	struct eg_buf b = EG_BUF_INIT(MAX_TEXT);
	va_list ap;

	va_start(ap, fmt);
	if (eg_buf_vprintf(&b, fmt, ap) == -ENOMEM)
		nomem(c);
	va_end(ap);
	if (add_msg(c->a, id, level, r, at, mesh_wide, eg_buf_cstr(&b)) < 0)
		nomem(c);
	eg_buf_done(&b);
}

#define REPORT(c, id, r, at, ...) report(c, id, eg_analyze_codes[id].level, r, at, false, __VA_ARGS__)

static int hent_cmp(const void *pa, const void *pb)
{
	const struct hent *a = pa, *b = pb;
	int d = strcmp(a->host, b->host);

	if (d)
		return d;
	if (a->raw != b->raw)
		return a->raw ? 1 : -1;
	if ((d = strcmp(a->r->kind->kind, b->r->kind->kind)))
		return d;
	if ((d = strcmp(ns_or_empty(a->r->ns), ns_or_empty(b->r->ns))))
		return d;
	return strcmp(a->r->name, b->r->name);
}

static void hidx_add(struct ctx *c, struct hidx *h, const char *host, const struct eg_resource *r,
		     bool raw)
{
	char *dup;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct hent *v = realloc(h->v, cap * sizeof(*v));

		if (!v) {
			nomem(c);
			return;
		}
		h->v = v;
		h->cap = cap;
	}
	if (!(dup = strdup(host))) {
		nomem(c);
		return;
	}
	h->v[h->n++] = (struct hent){ dup, r, raw };
}

static void hidx_done(struct hidx *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].host);
	free(h->v);
	memset(h, 0, sizeof(*h));
}

/* Index of the first entry for @host, or h->n. */
static size_t hidx_first(const struct hidx *h, const char *host)
{
	size_t lo = 0, hi = h->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(h->v[mid].host, host) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < h->n && strcmp(h->v[lo].host, host) == 0 ? lo : h->n;
}

static bool registry_visible(const struct hent *e, const char *ns)
{
	const struct eg_resource *r = e->r;

	if (is_kind(r, "Service"))
		return annotation_visible(
			map_str(eg_node_path(r->root, "metadata.annotations"), EXPORT_TO_ANNOTATION),
			r->ns, ns);
	return export_visible(eg_node_path(r->root, "spec.exportTo"), r->ns, ns);
}

static const struct hent *registry_exact(const struct ctx *c, const char *host, const char *ns)
{
	for (size_t i = hidx_first(&c->reg, host); i < c->reg.n && strcmp(c->reg.v[i].host, host) == 0;
	     i++)
		if (registry_visible(&c->reg.v[i], ns))
			return &c->reg.v[i];
	return NULL;
}

/* The registry entry a destination host (FQDN) in namespace @ns resolves to: an exact host,
 * else the longest wildcard ServiceEntry host covering it. */
static const struct hent *registry_find(const struct ctx *c, const char *host, const char *ns)
{
	const struct hent *e = registry_exact(c, host, ns);
	char key[MAX_HOST];

	for (const char *p = host; !e && (p = strchr(p, '.')); p++) {
		if (strlen(p) + 2 > sizeof(key))
			continue;
		snprintf(key, sizeof(key), "*%s", p);
		e = registry_exact(c, key, ns);
	}
	return e ? e : registry_exact(c, "*", ns);
}

/* The port numbers a registry entry exposes, in order; returns how many (at most @max). */
static size_t entry_ports(const struct hent *e, int64_t *ports, size_t max)
{
	const struct eg_node *pl = eg_node_path(e->r->root, "spec.ports");
	const char *key = is_kind(e->r, "Service") ? "port" : "number";
	size_t n = 0;

	for (size_t i = 0; i < eg_node_len(pl) && n < max; i++)
		ports[n++] = eg_node_int(pl->v[i], key, 0);
	return n;
}

/* The Service named by a mesh FQDN "name.ns.svc.cluster.local", or NULL. */
static const struct eg_resource *service_by_fqdn(const struct ctx *c, const char *host)
{
	static const char suffix[] = ".svc.cluster.local";
	size_t l = strlen(host), sl = sizeof(suffix) - 1;
	const char *dot;

	if (l <= sl || strcmp(host + l - sl, suffix) != 0)
		return NULL;
	dot = strchr(host, '.');
	if (!dot || dot == host || (size_t)(dot - host) >= l - sl)
		return NULL;
	for (size_t i = 0; i < c->svc.n; i++) {
		const struct eg_resource *s = c->svc.v[i];
		size_t nl = strlen(s->name);

		if (nl == (size_t)(dot - host) && strncmp(host, s->name, nl) == 0 && s->ns &&
		    strlen(s->ns) == l - sl - nl - 1 && strncmp(dot + 1, s->ns, strlen(s->ns)) == 0)
			return s;
	}
	return NULL;
}

/* The targetPort of Service port @port: the number, @port when unset, 0 for a named one. */
static int64_t service_target_port(const struct eg_resource *svc, int64_t port)
{
	const struct eg_node *pl = eg_node_path(svc->root, "spec.ports");

	for (size_t i = 0; i < eg_node_len(pl); i++) {
		const struct eg_node *tp;

		if (eg_node_int(pl->v[i], "port", 0) != port)
			continue;
		tp = eg_node_get(pl->v[i], "targetPort");
		if (!tp)
			return port;
		return tp->kind == EG_NODE_SCALAR && tp->tag == EG_TAG_INT ? eg_node_int(tp, "", 0) : 0;
	}
	return 0;
}

static const struct eg_node *service_selector(const struct eg_resource *svc)
{
	return eg_node_path(svc->root, "spec.selector");
}

static const struct eg_node *template_labels(const struct eg_resource *dep)
{
	return eg_node_path(dep->root, "spec.template.metadata.labels");
}

/* The Gateway a VirtualService's gateway reference names: "ns/name" or "name" in @vs_ns. */
static const struct eg_resource *find_gateway(const struct ctx *c, const char *ref,
					      const char *vs_ns)
{
	const char *slash = strchr(ref, '/');
	struct eg_str ns = slash ? (struct eg_str){ ref, (size_t)(slash - ref) } : eg_str_c(vs_ns);
	const char *name = slash ? slash + 1 : ref;

	for (size_t i = 0; i < c->all_gw.n; i++) {
		const struct eg_resource *g = c->all_gw.v[i];

		if (streq(g->name, name) && g->ns && eg_str_eqc(ns, g->ns))
			return g;
	}
	return NULL;
}

static bool is_raw(const struct eg_resource *r, const struct rlist *valid)
{
	for (size_t i = 0; i < valid->n; i++)
		if (valid->v[i] == r)
			return false;
	return true;
}

/* The gateways a VirtualService rule applies to: the match's own list, else the top-level
 * one (empty = the mesh). */
static const struct eg_node *effective_gateways(const struct eg_node *spec,
						const struct eg_node *match)
{
	const struct eg_node *g = match ? eg_node_get(match, "gateways") : NULL;

	return eg_node_len(g) ? g : eg_node_get(spec, "gateways");
}

static bool gateways_include_mesh(const struct eg_node *g)
{
	if (!eg_node_len(g) || g->kind != EG_NODE_SEQ)
		return true;
	for (size_t i = 0; i < g->n; i++)
		if (streq(scalar(g->v[i]), "mesh"))
			return true;
	return false;
}

static const char *const route_kinds[] = { "http", "tls", "tcp" };

/* --- building the context --- */

static void index_resource(struct ctx *c, const struct eg_resource *r, bool raw)
{
	const struct eg_node *spec = spec_of(r);
	char buf[MAX_HOST];

	if (!r->kind || !r->name)
		return;
	if (is_kind(r, "Gateway"))
		rlist_add(c, &c->all_gw, r);
	else if (is_kind(r, "Deployment"))
		rlist_add(c, &c->all_dep, r);
	else if (is_kind(r, "StaticGatewayConfiguration"))
		rlist_add(c, &c->all_sgc, r);
	if (is_kind(r, "ServiceEntry")) {
		const struct eg_node *hosts = eg_node_get(spec, "hosts");

		for (size_t i = 0; i < eg_node_len(hosts); i++) {
			const char *h = scalar(hosts->v[i]);

			if (h)
				hidx_add(c, &c->reg, fqdn(h, r->ns, buf, sizeof(buf)), r, raw);
		}
	} else if (is_kind(r, "Service") && r->ns) {
		snprintf(buf, sizeof(buf), "%s.%s.svc.cluster.local", r->name, r->ns);
		hidx_add(c, &c->reg, buf, r, raw);
	} else if (is_kind(r, "DestinationRule")) {
		const char *h = map_str(spec, "host");

		if (h)
			hidx_add(c, &c->drh, fqdn(h, r->ns, buf, sizeof(buf)), r, raw);
	}
	if (raw)
		return;
	if (is_kind(r, "VirtualService"))
		rlist_add(c, &c->vs, r);
	else if (is_kind(r, "DestinationRule"))
		rlist_add(c, &c->dr, r);
	else if (is_kind(r, "ServiceEntry"))
		rlist_add(c, &c->se, r);
	else if (is_kind(r, "Gateway"))
		rlist_add(c, &c->gw, r);
	else if (is_kind(r, "Sidecar"))
		rlist_add(c, &c->sc, r);
	else if (is_kind(r, "Service"))
		rlist_add(c, &c->svc, r);
	else if (is_kind(r, "Deployment"))
		rlist_add(c, &c->dep, r);
	else if (is_kind(r, "ConfigMap"))
		rlist_add(c, &c->cm, r);
}

static void build_workloads(struct ctx *c)
{
	if (!c->dep.n)
		return;
	if (!(c->wl = calloc(c->dep.n, sizeof(*c->wl)))) {
		nomem(c);
		return;
	}
	c->nwl = c->dep.n;
	for (size_t i = 0; i < c->dep.n; i++) {
		struct workload *w = &c->wl[i];
		const struct eg_node *anno =
			eg_node_path(c->dep.v[i]->root, "spec.template.metadata.annotations");

		w->dep = c->dep.v[i];
		w->labels = template_labels(w->dep);
		w->egress = map_str(anno, SGC_ANNOTATION) != NULL;
		for (size_t j = 0; j < c->gw.n; j++) {
			const struct eg_node *sel = eg_node_path(c->gw.v[j]->root, "spec.selector");

			if (eg_node_len(sel) && labels_match(sel, w->labels)) {
				rlist_add(c, &w->gws, c->gw.v[j]);
				w->egress = true;
			}
		}
	}
}

/* The MeshConfig of every ConfigMap Istio reads it from (model/meshconfig.c): AKS keeps it
 * in istio-shared-configmap-<revision> (aks-istio-system), upstream Istio in istio
 * (istio-system). One that does not parse is left out: the ConfigMap's webhook rules,
 * run by eg_analyze_run, report why (IST0106). */
static void load_mesh_configs(struct ctx *c)
{
	for (size_t i = 0; i < c->cm.n && c->nmesh < MAX_MESH; i++) {
		const struct eg_resource *cm = c->cm.v[i];
		struct mesh *m = &c->mesh[c->nmesh];
		struct eg_diag d;
		int r;

		if (!eg_meshconfig_is(cm, NULL))
			continue;
		c->mesh_seen = true;
		eg_diag_init(&d);
		memset(m, 0, sizeof(*m));
		r = eg_meshconfig_parse(cm, &m->root, &d);
		eg_diag_done(&d);
		if (r == -ENOMEM)
			nomem(c);
		if (r < 0)
			continue;
		m->cm = cm;
		m->at = eg_node_path(cm->root, "data.mesh");
		c->nmesh++;
	}
}

static void ctx_done(struct ctx *c)
{
	struct rlist *lists[] = { &c->vs, &c->dr, &c->se, &c->gw, &c->sc, &c->svc, &c->dep,
				  &c->cm, &c->all_gw, &c->all_dep, &c->all_sgc };

	for (size_t i = 0; i < EG_ARRAY_SIZE(lists); i++)
		rlist_done(lists[i]);
	hidx_done(&c->reg);
	hidx_done(&c->drh);
	for (size_t i = 0; i < c->nwl; i++)
		rlist_done(&c->wl[i].gws);
	free(c->wl);
	for (size_t i = 0; i < c->nmesh; i++)
		eg_node_free(c->mesh[i].root);
}

/* --- VirtualService: gateways (IST0101 gateway, IST0132) --- */

/* Whether a server host of Gateway @gw ("[ns/]host") applies to a VirtualService in
 * @vs_ns and overlaps @host. */
static bool server_host_matches(const char *server_host, const struct eg_resource *gw,
				const char *vs_ns, const char *host)
{
	const char *slash = strchr(server_host, '/');
	const char *name = slash ? slash + 1 : server_host;

	if (slash) {
		struct eg_str ns = { server_host, (size_t)(slash - server_host) };

		if (eg_str_eqc(ns, ".") ? !streq(gw->ns, vs_ns)
					: !eg_str_eqc(ns, "*") && !eg_str_eqc(ns, vs_ns ? vs_ns : ""))
			return false;
	}
	return hosts_overlap(name, host);
}

static bool vs_host_in_gateway(const struct eg_resource *gw, const struct eg_resource *vs)
{
	const struct eg_node *servers = eg_node_get(spec_of(gw), "servers");
	const struct eg_node *hosts = eg_node_get(spec_of(vs), "hosts");

	for (size_t i = 0; i < eg_node_len(servers); i++) {
		const struct eg_node *sh = eg_node_get(servers->v[i], "hosts");

		for (size_t j = 0; j < eg_node_len(sh); j++) {
			const char *s = scalar(sh->v[j]);

			for (size_t k = 0; s && k < eg_node_len(hosts); k++) {
				const char *h = scalar(hosts->v[k]);

				if (h && server_host_matches(s, gw, vs->ns, h))
					return true;
			}
		}
	}
	return false;
}

/* "[a b c]": a list as Go's %v prints a []string. */
static void go_list(const struct eg_node *seq, struct eg_buf *out)
{
	(void)eg_buf_putc(out, '[');
	for (size_t i = 0; i < eg_node_len(seq); i++)
		(void)eg_buf_printf(out, "%s%s", i ? " " : "",
				    scalar(seq->v[i]) ? scalar(seq->v[i]) : "");
	(void)eg_buf_putc(out, ']');
}

static void check_gateway_refs(struct ctx *c, const struct eg_resource *vs,
			       const struct eg_node *refs, bool top)
{
	for (size_t i = 0; i < eg_node_len(refs); i++) {
		const char *ref = scalar(refs->v[i]);
		const struct eg_resource *gw;

		if (!ref || strcmp(ref, "mesh") == 0)
			continue;
		gw = find_gateway(c, ref, vs->ns);
		if (!gw) {
			REPORT(c, C_IST0101, vs, refs->v[i], "Referenced gateway not found: \"%s\"", ref);
			continue;
		}
		/* only the top-level list binds hosts (Istio); a missing or invalid Gateway is
		 * already reported, its hosts are unknown */
		if (top && !is_raw(gw, &c->gw) && !vs_host_in_gateway(gw, vs)) {
			struct eg_buf hosts = EG_BUF_INIT(MAX_TEXT / 2);

			go_list(eg_node_get(spec_of(vs), "hosts"), &hosts);
			REPORT(c, C_IST0132, vs, refs->v[i],
			       "one or more host %s defined in VirtualService %s/%s not found in Gateway %s/%s.",
			       eg_buf_cstr(&hosts), vs->ns, vs->name, gw->ns, gw->name);
			eg_buf_done(&hosts);
		}
	}
}

static void check_vs_gateways(struct ctx *c, const struct eg_resource *vs)
{
	const struct eg_node *spec = spec_of(vs);

	check_gateway_refs(c, vs, eg_node_get(spec, "gateways"), true);
	/* a match's own gateways are references too (egressd checks them; Istio does not) */
	for (size_t k = 0; k < EG_ARRAY_SIZE(route_kinds); k++) {
		const struct eg_node *rules = eg_node_get(spec, route_kinds[k]);

		for (size_t i = 0; i < eg_node_len(rules); i++) {
			const struct eg_node *matches = eg_node_get(rules->v[i], "match");

			for (size_t j = 0; j < eg_node_len(matches); j++)
				check_gateway_refs(c, vs, eg_node_get(matches->v[j], "gateways"), false);
		}
	}
}

/* --- VirtualService: destinations (IST0101 host, host:port, host+subset; IST0112) --- */

static bool dr_has_subset(const struct ctx *c, const char *host, const char *subset)
{
	char key[MAX_HOST];

	/* exact DestinationRule host first, then wildcard ones covering the host */
	for (const char *p = NULL;;) {
		const char *k = host;

		if (p) {
			if (strlen(p) + 2 > sizeof(key))
				goto next;
			snprintf(key, sizeof(key), "*%s", p);
			k = key;
		}
		for (size_t i = hidx_first(&c->drh, k); i < c->drh.n && strcmp(c->drh.v[i].host, k) == 0;
		     i++) {
			const struct eg_node *subsets = eg_node_get(spec_of(c->drh.v[i].r), "subsets");

			if (c->drh.v[i].raw)
				return true; /* unknown subsets: do not guess */
			for (size_t j = 0; j < eg_node_len(subsets); j++)
				if (streq(map_str(subsets->v[j], "name"), subset))
					return true;
		}
next:
		p = strchr(p ? p + 1 : host, '.');
		if (!p)
			return false;
	}
}

static void check_destination(struct ctx *c, const struct eg_resource *vs,
			      const struct eg_node *dest, bool mirror)
{
	const struct eg_node *hn = eg_node_get(dest, "host");
	const char *host = scalar(hn);
	const char *subset = map_str(dest, "subset");
	const struct eg_node *pn = eg_node_path(dest, "port.number");
	char buf[MAX_HOST];
	const char *f;
	const struct hent *e;

	if (!host)
		return;
	f = fqdn(host, vs->ns, buf, sizeof(buf));
	e = registry_find(c, f, vs->ns);
	if (!e) {
		REPORT(c, C_IST0101, vs, hn, "Referenced %s not found: \"%s\"",
		       mirror ? "mirror host" : "host", host);
	} else if (!e->raw) {
		int64_t ports[256];
		size_t n = entry_ports(e, ports, EG_ARRAY_SIZE(ports));

		if (!pn && n > 1) {
			struct eg_buf list = EG_BUF_INIT(4096);

			for (size_t i = 0; i < n; i++)
				(void)eg_buf_printf(&list, "%s%lld", i ? " " : "", (long long)ports[i]);
			REPORT(c, C_IST0112, vs, hn,
			       "This VirtualService routes to a service \"%s\" that exposes multiple ports [%s]. Specifying a port in the destination is required to disambiguate.",
			       host, eg_buf_cstr(&list));
			eg_buf_done(&list);
		} else if (pn) {
			int64_t want = eg_node_int(pn, "", 0);
			bool found = false;

			for (size_t i = 0; i < n && !found; i++)
				found = ports[i] == want;
			if (!found)
				REPORT(c, C_IST0101, vs, hn, "Referenced host:port not found: \"%s:%lld\"",
				       host, (long long)want);
		}
	}
	if (subset && !mirror && !dr_has_subset(c, f, subset))
		REPORT(c, C_IST0101, vs, hn,
		       "Referenced host+subset in destinationrule not found: \"%s+%s\"", host, subset);
}

static void check_vs_destinations(struct ctx *c, const struct eg_resource *vs)
{
	const struct eg_node *spec = spec_of(vs);

	for (size_t k = 0; k < EG_ARRAY_SIZE(route_kinds); k++) {
		const struct eg_node *rules = eg_node_get(spec, route_kinds[k]);

		for (size_t i = 0; i < eg_node_len(rules); i++) {
			const struct eg_node *routes = eg_node_get(rules->v[i], "route");
			const struct eg_node *mirror = eg_node_get(rules->v[i], "mirror");
			const struct eg_node *mirrors = eg_node_get(rules->v[i], "mirrors");

			for (size_t j = 0; j < eg_node_len(routes); j++)
				check_destination(c, vs, eg_node_get(routes->v[j], "destination"), false);
			if (mirror)
				check_destination(c, vs, mirror, true);
			for (size_t j = 0; j < eg_node_len(mirrors); j++)
				check_destination(c, vs, eg_node_get(mirrors->v[j], "destination"), true);
		}
	}
}

/* --- VirtualService: mesh hosts defined twice (IST0109) --- */

struct scoped_host {
	char *key; /* "scope/fqdn" */
	const struct eg_resource *vs;
};

static int scoped_host_cmp(const void *pa, const void *pb)
{
	const struct scoped_host *a = pa, *b = pb;
	int d = strcmp(a->key, b->key);

	if (d)
		return d;
	if ((d = strcmp(a->vs->ns, b->vs->ns)))
		return d;
	return strcmp(a->vs->name, b->vs->name);
}

static void add_scoped(struct ctx *c, struct scoped_host **v, size_t *n, size_t *cap,
		       const char *scope, const char *host, const struct eg_resource *vs)
{
	char buf[MAX_HOST];
	const char *f = fqdn(host, vs->ns, buf, sizeof(buf));
	size_t l = strlen(scope) + strlen(f) + 2;
	char *key;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct scoped_host *nv = realloc(*v, nc * sizeof(*nv));

		if (!nv) {
			nomem(c);
			return;
		}
		*v = nv;
		*cap = nc;
	}
	if (!(key = malloc(l))) {
		nomem(c);
		return;
	}
	snprintf(key, l, "%s/%s", scope, f);
	(*v)[(*n)++] = (struct scoped_host){ key, vs };
}

static void check_mesh_host_conflicts(struct ctx *c)
{
	struct scoped_host *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < c->vs.n; i++) {
		const struct eg_resource *vs = c->vs.v[i];
		const struct eg_node *spec = spec_of(vs);
		const struct eg_node *hosts = eg_node_get(spec, "hosts");
		const struct eg_node *exp = eg_node_get(spec, "exportTo");
		bool all = !eg_node_len(exp);

		if (!gateways_include_mesh(eg_node_get(spec, "gateways")))
			continue;
		for (size_t j = 0; !all && j < eg_node_len(exp); j++)
			all = streq(scalar(exp->v[j]), "*");
		for (size_t h = 0; h < eg_node_len(hosts); h++) {
			const char *host = scalar(hosts->v[h]);

			if (!host)
				continue;
			if (all) {
				add_scoped(c, &v, &n, &cap, "*", host, vs);
				continue;
			}
			for (size_t j = 0; j < eg_node_len(exp); j++) {
				const char *e = scalar(exp->v[j]);

				if (e)
					add_scoped(c, &v, &n, &cap, strcmp(e, ".") == 0 ? vs->ns : e, host,
						   vs);
			}
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), scoped_host_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1, distinct = 1;
		struct eg_buf names = EG_BUF_INIT(MAX_TEXT / 2);

		for (; j < n && strcmp(v[j].key, v[i].key) == 0; j++)
			if (v[j].vs != v[j - 1].vs)
				distinct++;
		if (distinct > 1) {
			for (size_t k = i; k < j; k++)
				if (k == i || v[k].vs != v[k - 1].vs)
					(void)eg_buf_printf(&names, "%s%s/%s", k == i ? "" : ",",
							    v[k].vs->ns, v[k].vs->name);
			for (size_t k = i; k < j; k++) {
				if (k > i && v[k].vs == v[k - 1].vs)
					continue;
				REPORT(c, C_IST0109, v[k].vs, eg_node_path(v[k].vs->root, "metadata.name"),
				       "The VirtualServices %s associated with mesh gateway define the same host %s which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.",
				       eg_buf_cstr(&names), v[i].key);
			}
		}
		eg_buf_done(&names);
		i = j;
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].key);
	free(v);
}

/* --- DestinationRule: TLS without a CA (IST0128, IST0129) ---
 * egressd verifies an upstream certificate against the system trust store when
 * caCertificates is unset (SPEC.md §1.4, §2.5), so the server identity *is* checked: the
 * message stays, at Info. It is a Warning, as in Istio, when insecureSkipVerify turns the
 * verification off. A credentialName may carry the CA (its cacert key), so it counts. */

static void check_dr_tls(struct ctx *c, const struct eg_resource *dr, const struct eg_node *tls,
			 const struct eg_node *port)
{
	const char *mode = map_str(tls, "mode");
	const char *host = map_str(spec_of(dr), "host");
	bool insecure;

	if (!streq(mode, "SIMPLE") && !streq(mode, "MUTUAL"))
		return;
	if (map_str(tls, "caCertificates") && *map_str(tls, "caCertificates"))
		return;
	if (map_str(tls, "credentialName") && *map_str(tls, "credentialName"))
		return;
	insecure = eg_node_bool(tls, "insecureSkipVerify", false);
	if (!port)
		report(c, C_IST0128, insecure ? EG_ANALYZE_WARNING : EG_ANALYZE_INFO, dr,
		       eg_node_get(tls, "mode"), false,
		       "DestinationRule %s/%s in namespace %s has TLS mode set to %s but no caCertificates are set to validate server identity for host: %s",
		       dr->ns, dr->name, dr->ns, mode, host ? host : "");
	else
		report(c, C_IST0129, insecure ? EG_ANALYZE_WARNING : EG_ANALYZE_INFO, dr,
		       eg_node_get(tls, "mode"), false,
		       "DestinationRule %s/%s in namespace %s has TLS mode set to %s but no caCertificates are set to validate server identity for host: %s at port number:%lld",
		       dr->ns, dr->name, dr->ns, mode, host ? host : "",
		       (long long)eg_node_int(port, "number", 0));
}

static void check_dr_ca(struct ctx *c, const struct eg_resource *dr)
{
	const struct eg_node *tp = eg_node_get(spec_of(dr), "trafficPolicy");
	const struct eg_node *pls = eg_node_get(tp, "portLevelSettings");

	check_dr_tls(c, dr, eg_node_get(tp, "tls"), NULL);
	for (size_t i = 0; i < eg_node_len(pls); i++)
		check_dr_tls(c, dr, eg_node_get(pls->v[i], "tls"), eg_node_get(pls->v[i], "port"));
}

/* --- ServiceEntry: TCP without addresses (IST0134) --- */

static void check_se_addresses(struct ctx *c, const struct eg_resource *se)
{
	const struct eg_node *spec = spec_of(se);
	const struct eg_node *ports = eg_node_get(spec, "ports");

	if (eg_node_len(eg_node_get(spec, "addresses")) || c->auto_alloc)
		return;
	for (size_t i = 0; i < eg_node_len(ports); i++) {
		const char *proto = map_str(ports->v[i], "protocol");

		if (!proto || !*proto || strcasecmp(proto, "TCP") == 0)
			REPORT(c, C_IST0134, se, ports->v[i],
			       "ServiceEntry addresses are required for this protocol.");
	}
}

/* --- Gateway: selector and ports (IST0101 selector, IST0162), conflicts (IST0145) --- */

static void check_gateway(struct ctx *c, const struct eg_resource *gw)
{
	const struct eg_node *sel = eg_node_path(gw->root, "spec.selector");
	const struct eg_node *servers = eg_node_get(spec_of(gw), "servers");
	struct eg_buf s = EG_BUF_INIT(4096);
	bool found = false;
	int64_t ports[512], targets[512];
	size_t np = 0;

	if (!eg_node_len(sel))
		return; /* no selector: every workload, nothing to look for */
	selector_string(sel, &s);
	for (size_t i = 0; i < c->all_dep.n; i++) {
		const struct eg_resource *dep = c->all_dep.v[i];

		if (!labels_match(sel, template_labels(dep)))
			continue;
		found = true;
		/* the ports of the Services in the pods' namespace that select them */
		for (size_t j = 0; j < c->svc.n; j++) {
			const struct eg_resource *svc = c->svc.v[j];
			const struct eg_node *ss = service_selector(svc);
			const struct eg_node *pl = eg_node_path(svc->root, "spec.ports");

			if (!streq(svc->ns, dep->ns) || !eg_node_len(ss) ||
			    !labels_match(ss, template_labels(dep)))
				continue;
			for (size_t k = 0; k < eg_node_len(pl) && np < EG_ARRAY_SIZE(ports); k++) {
				const char *proto = map_str(pl->v[k], "protocol");

				if (proto && strcmp(proto, "TCP") != 0)
					continue;
				ports[np] = eg_node_int(pl->v[k], "port", 0);
				targets[np] = service_target_port(svc, ports[np]);
				np++;
			}
		}
	}
	if (!found) {
		REPORT(c, C_IST0101, gw, sel->v[0], "Referenced selector not found: \"%s\"",
		       eg_buf_cstr(&s));
		goto out_free;
	}
	for (size_t i = 0; i < eg_node_len(servers); i++) {
		const struct eg_node *pn = eg_node_path(servers->v[i], "port.number");
		int64_t port = eg_node_int(pn, "", 0);
		bool on_service = false;

		if (!pn)
			continue;
		/* a Gateway may name the targetPort too: egressd maps it back (SPEC.md §1.2) */
		for (size_t k = 0; k < np && !on_service; k++)
			on_service = ports[k] == port || targets[k] == port;
		if (!on_service)
			REPORT(c, C_IST0162, gw, pn,
			       "The gateway is listening on a target port (port %lld) that is not defined in the Service associated with its workload instances (Pod selector %s). If you need to access the gateway port through the gateway Service, it will not be available.",
			       (long long)port, eg_buf_cstr(&s));
	}
out_free:
	eg_buf_done(&s);
}

static bool servers_overlap(const struct eg_node *a, const struct eg_node *b)
{
	const struct eg_node *ha = eg_node_get(a, "hosts"), *hb = eg_node_get(b, "hosts");

	for (size_t i = 0; i < eg_node_len(ha); i++) {
		const char *x = scalar(ha->v[i]);

		for (size_t j = 0; x && j < eg_node_len(hb); j++) {
			const char *y = scalar(hb->v[j]);

			/* compare the DNS part: the namespace part only scopes VirtualServices */
			if (y && hosts_overlap(strchr(x, '/') ? strchr(x, '/') + 1 : x,
					       strchr(y, '/') ? strchr(y, '/') + 1 : y))
				return true;
		}
	}
	return false;
}

/* @sels: the selector string of every validated Gateway (c->gw order). */
static void check_gateway_conflicts(struct ctx *c, size_t gi, char *const *sels)
{
	const struct eg_resource *gw = c->gw.v[gi];
	const struct eg_node *servers = eg_node_get(spec_of(gw), "servers");

	for (size_t i = 0; i < eg_node_len(servers); i++) {
		const struct eg_node *srv = servers->v[i];
		int64_t port = eg_node_int(srv, "port.number", 0);
		struct eg_buf names = EG_BUF_INIT(MAX_TEXT / 2), hosts = EG_BUF_INIT(MAX_TEXT / 4);
		const struct eg_node *sh = eg_node_get(srv, "hosts");

		for (size_t j = 0; j < c->gw.n; j++) {
			const struct eg_resource *o = c->gw.v[j];
			const struct eg_node *os = eg_node_get(spec_of(o), "servers");
			bool hit = false;

			if (j == gi || strcmp(sels[j], sels[gi]) != 0)
				continue;
			for (size_t k = 0; !hit && k < eg_node_len(os); k++)
				hit = eg_node_int(os->v[k], "port.number", 0) == port &&
				      servers_overlap(srv, os->v[k]);
			if (hit)
				(void)eg_buf_printf(&names, "%s%s/%s", names.len ? "," : "", o->ns, o->name);
		}
		if (names.len) {
			for (size_t k = 0; k < eg_node_len(sh); k++)
				(void)eg_buf_printf(&hosts, "%s%s", k ? "," : "",
						    scalar(sh->v[k]) ? scalar(sh->v[k]) : "");
			REPORT(c, C_IST0145, gw, eg_node_path(srv, "port.number"),
			       "Conflict with gateways %s (workload selector %s, port %lld, hosts %s).",
			       eg_buf_cstr(&names), sels[gi], (long long)port, eg_buf_cstr(&hosts));
		}
		eg_buf_done(&names);
		eg_buf_done(&hosts);
	}
}

static void check_all_gateway_conflicts(struct ctx *c)
{
	char **sels;

	if (!c->gw.n)
		return;
	if (!(sels = calloc(c->gw.n, sizeof(*sels)))) {
		nomem(c);
		return;
	}
	for (size_t i = 0; i < c->gw.n; i++) {
		struct eg_buf b = EG_BUF_INIT(4096);

		selector_string(eg_node_path(c->gw.v[i]->root, "spec.selector"), &b);
		if (!(sels[i] = strdup(eg_buf_cstr(&b))))
			nomem(c);
		eg_buf_done(&b);
	}
	for (size_t i = 0; i < c->gw.n && !c->err; i++)
		check_gateway_conflicts(c, i, sels);
	for (size_t i = 0; i < c->gw.n; i++)
		free(sels[i]);
	free(sels);
}

/* --- Sidecar: selectors (IST0101 selector, IST0110, IST0111) --- */

static int res_name_cmp(const void *pa, const void *pb)
{
	const struct eg_resource *a = *(const struct eg_resource *const *)pa;
	const struct eg_resource *b = *(const struct eg_resource *const *)pb;
	int d = strcmp(ns_or_empty(a->ns), ns_or_empty(b->ns));

	return d ? d : strcmp(a->name, b->name);
}

static void sidecar_names(const struct eg_resource **v, size_t n, struct eg_buf *out)
{
	(void)eg_buf_putc(out, '[');
	for (size_t i = 0; i < n; i++)
		(void)eg_buf_printf(out, "%s%s", i ? " " : "", v[i]->name);
	(void)eg_buf_putc(out, ']');
}

static void check_sidecars(struct ctx *c)
{
	const struct eg_resource **v;
	size_t n = c->sc.n;

	if (!n)
		return;
	if (!(v = malloc(n * sizeof(*v)))) {
		nomem(c);
		return;
	}
	memcpy(v, c->sc.v, n * sizeof(*v));
	qsort(v, n, sizeof(*v), res_name_cmp);
	/* IST0111: several Sidecars without a workloadSelector in one namespace */
	for (size_t i = 0; i < n;) {
		const struct eg_resource *group[256];
		size_t j = i, g = 0;

		for (; j < n && streq(v[j]->ns, v[i]->ns); j++)
			if (!eg_node_get(spec_of(v[j]), "workloadSelector") && g < EG_ARRAY_SIZE(group))
				group[g++] = v[j];
		if (g > 1) {
			struct eg_buf names = EG_BUF_INIT(MAX_TEXT / 2);

			sidecar_names(group, g, &names);
			for (size_t k = 0; k < g; k++)
				REPORT(c, C_IST0111, group[k],
				       eg_node_path(group[k]->root, "metadata.name"),
				       "The Sidecars %s in namespace \"%s\" have no workload selector, which can lead to undefined behavior.",
				       eg_buf_cstr(&names), group[k]->ns);
			eg_buf_done(&names);
		}
		i = j;
	}
	/* IST0101: a selector matching no workload; IST0110: workloads selected twice */
	for (size_t i = 0; i < n; i++) {
		const struct eg_node *sel = eg_node_path(v[i]->root, "spec.workloadSelector.labels");
		bool found = false;

		if (!eg_node_len(sel))
			continue;
		for (size_t d = 0; d < c->all_dep.n && !found; d++)
			found = streq(c->all_dep.v[d]->ns, v[i]->ns) &&
				labels_match(sel, template_labels(c->all_dep.v[d]));
		if (!found) {
			struct eg_buf s = EG_BUF_INIT(4096);

			selector_string(sel, &s);
			REPORT(c, C_IST0101, v[i], sel->v[0], "Referenced selector not found: \"%s\"",
			       eg_buf_cstr(&s));
			eg_buf_done(&s);
		}
	}
	for (size_t d = 0; d < c->dep.n; d++) {
		const struct eg_resource *dep = c->dep.v[d];
		const struct eg_resource *group[256];
		size_t g = 0;

		for (size_t i = 0; i < n && g < EG_ARRAY_SIZE(group); i++) {
			const struct eg_node *sel =
				eg_node_path(v[i]->root, "spec.workloadSelector.labels");

			if (eg_node_len(sel) && streq(v[i]->ns, dep->ns) &&
			    labels_match(sel, template_labels(dep)))
				group[g++] = v[i];
		}
		if (g > 1) {
			struct eg_buf names = EG_BUF_INIT(MAX_TEXT / 2);

			sidecar_names(group, g, &names);
			for (size_t k = 0; k < g; k++)
				REPORT(c, C_IST0110, group[k],
				       eg_node_path(group[k]->root, "metadata.name"),
				       "The Sidecars %s in namespace \"%s\" select the same workload pod \"%s\", which can lead to undefined behavior.",
				       eg_buf_cstr(&names), dep->ns, dep->name);
			eg_buf_done(&names);
		}
	}
	free(v);
}

/* --- egress: outbound traffic policy (EGR0004) --- */

static void check_outbound_policy(struct ctx *c)
{
	for (size_t i = 0; i < c->nmesh; i++) {
		const struct mesh *m = &c->mesh[i];
		const struct eg_node *mn = eg_node_path(m->root, "outboundTrafficPolicy.mode");
		const char *mode = scalar(mn);

		if (streq(mode, "REGISTRY_ONLY"))
			continue;
		report(c, C_EGR0004, EG_ANALYZE_INFO, m->cm, mn ? mn : m->at, true,
		       "Outbound traffic is not restricted: this MeshConfig sets outboundTrafficPolicy.mode to %s%s, so sidecars pass traffic for hosts outside the service registry straight out, around the egress gateway. Set outboundTrafficPolicy.mode: REGISTRY_ONLY.",
		       mode ? mode : "ALLOW_ANY", mode ? "" : " (the default)");
	}
	if (!c->mesh_seen)
		report(c, C_EGR0004, EG_ANALYZE_INFO, NULL, NULL, true,
		       "Outbound traffic is not restricted: no MeshConfig found (ConfigMap istio-shared-configmap-<revision> in aks-istio-system, key mesh), so outboundTrafficPolicy.mode is ALLOW_ANY and sidecars pass traffic for hosts outside the service registry straight out, around the egress gateway. Set outboundTrafficPolicy.mode: REGISTRY_ONLY.");
	for (size_t i = 0; i < c->sc.n; i++) {
		const struct eg_resource *sc = c->sc.v[i];
		const struct eg_node *mn = eg_node_path(sc->root, "spec.outboundTrafficPolicy.mode");

		if (streq(scalar(mn), "ALLOW_ANY"))
			REPORT(c, C_EGR0004, sc, mn,
			       "Outbound traffic is not restricted for the workloads this Sidecar selects: its outboundTrafficPolicy.mode is ALLOW_ANY, which overrides the MeshConfig.");
	}
}

/* --- egress: the sidecar -> gateway hop (EGR0001, EGR0002) --- */

/* The client TLS mode a DestinationRule gives @subset at @port: top level, its port level,
 * then the subset's policy and its port level; a port-level entry replaces the TLS
 * settings even when it has none (Istio: port-level settings do not inherit). */
static const char *policy_tls_mode(const struct eg_node *tp, int64_t port, const char *mode)
{
	const struct eg_node *tls = eg_node_get(tp, "tls");
	const struct eg_node *pls = eg_node_get(tp, "portLevelSettings");

	if (tls)
		mode = map_str(tls, "mode") ? map_str(tls, "mode") : "DISABLE";
	for (size_t i = 0; i < eg_node_len(pls); i++) {
		if (eg_node_int(pls->v[i], "port.number", 0) != port)
			continue;
		tls = eg_node_get(pls->v[i], "tls");
		mode = tls && map_str(tls, "mode") ? map_str(tls, "mode") : "DISABLE";
		break;
	}
	return mode;
}

/* The DestinationRule sidecars of @ns use for @host (exact host, no workloadSelector):
 * the one in @ns first, then the one in the host's namespace, then any exported one. */
static const struct eg_resource *find_dr(const struct ctx *c, const char *host, const char *ns,
					 const char *host_ns)
{
	const struct eg_resource *best = NULL;
	int best_rank = 0;

	for (size_t i = hidx_first(&c->drh, host); i < c->drh.n && strcmp(c->drh.v[i].host, host) == 0;
	     i++) {
		const struct eg_resource *dr = c->drh.v[i].r;
		int rank;

		if (c->drh.v[i].raw || eg_node_get(spec_of(dr), "workloadSelector") ||
		    !export_visible(eg_node_path(dr->root, "spec.exportTo"), dr->ns, ns))
			continue;
		rank = streq(dr->ns, ns) ? 3 : streq(dr->ns, host_ns) ? 2 : 1;
		if (rank > best_rank) {
			best = dr;
			best_rank = rank;
		}
	}
	return best;
}

static const char *client_tls_mode(const struct eg_resource *dr, const char *subset, int64_t port)
{
	const struct eg_node *spec = dr ? spec_of(dr) : NULL;
	const struct eg_node *subsets = eg_node_get(spec, "subsets");
	const char *mode = policy_tls_mode(eg_node_get(spec, "trafficPolicy"), port, "DISABLE");

	for (size_t i = 0; subset && i < eg_node_len(subsets); i++)
		if (streq(map_str(subsets->v[i], "name"), subset))
			return policy_tls_mode(eg_node_get(subsets->v[i], "trafficPolicy"), port, mode);
	return mode;
}

struct hop {
	const struct eg_resource *vs;
	const struct eg_node *dest;   /* destination */
	const struct eg_resource *svc; /* the gateway's Service */
	const char *svc_host;         /* its FQDN */
	int64_t port, target;         /* service port, and its targetPort */
};

/* The first Gateway server of the gateway workloads behind @h that accepts @host. */
static bool find_server(const struct ctx *c, const struct hop *h, const char *host,
			const struct eg_resource **ret_gw, const struct eg_node **ret_srv)
{
	for (size_t w = 0; w < c->nwl; w++) {
		const struct workload *wl = &c->wl[w];

		if (!wl->egress || !streq(wl->dep->ns, h->svc->ns) ||
		    !labels_match(service_selector(h->svc), wl->labels))
			continue;
		for (size_t g = 0; g < wl->gws.n; g++) {
			const struct eg_node *servers = eg_node_get(spec_of(wl->gws.v[g]), "servers");

			for (size_t s = 0; s < eg_node_len(servers); s++) {
				int64_t p = eg_node_int(servers->v[s], "port.number", 0);
				const struct eg_node *sh = eg_node_get(servers->v[s], "hosts");

				if (p != h->port && (!h->target || p != h->target))
					continue;
				for (size_t k = 0; k < eg_node_len(sh); k++) {
					const char *x = scalar(sh->v[k]);

					if (x && host_covers(strchr(x, '/') ? strchr(x, '/') + 1 : x, host)) {
						*ret_gw = wl->gws.v[g];
						*ret_srv = servers->v[s];
						return true;
					}
				}
			}
		}
	}
	return false;
}

static void check_hop_mtls(struct ctx *c, const struct hop *h, const char *host,
			   const struct eg_resource *gw, const struct eg_node *srv)
{
	const char *subset = map_str(h->dest, "subset");
	const struct eg_resource *dr = find_dr(c, h->svc_host, h->vs->ns, h->svc->ns);
	const char *client = client_tls_mode(dr, subset, h->port);
	const char *server = eg_node_str(srv, "tls.mode");
	const char *proto = eg_node_str(srv, "port.protocol");
	bool client_mtls = streq(client, "ISTIO_MUTUAL"), server_mtls = streq(server, "ISTIO_MUTUAL");
	char where[MAX_HOST + 200];

	if (client_mtls == server_mtls)
		return;
	snprintf(where, sizeof(where), "%s%s%s port %lld", h->svc_host, subset ? " subset " : "",
		 subset ? subset : "", (long long)h->port);
	if (client_mtls)
		REPORT(c, C_EGR0002, h->vs, eg_node_get(h->dest, "host"),
		       "The sidecar->gateway hop for host \"%s\" uses Istio mTLS (DestinationRule %s/%s: tls.mode ISTIO_MUTUAL for %s), but Gateway %s/%s serves port %lld for this host without ISTIO_MUTUAL (protocol %s, tls.mode %s): the gateway cannot read this traffic. Set tls.mode ISTIO_MUTUAL on both sides, or on neither.",
		       host, dr->ns, dr->name, where, gw->ns, gw->name,
		       (long long)eg_node_int(srv, "port.number", 0), proto ? proto : "unset",
		       server ? server : "unset");
	else if (dr)
		REPORT(c, C_EGR0002, h->vs, eg_node_get(h->dest, "host"),
		       "Gateway %s/%s expects Istio mTLS (tls.mode ISTIO_MUTUAL) on port %lld for host \"%s\", but sidecars send it without ISTIO_MUTUAL (DestinationRule %s/%s gives tls.mode %s for %s): the TLS handshake fails. Set tls.mode ISTIO_MUTUAL on both sides, or on neither.",
		       gw->ns, gw->name, (long long)eg_node_int(srv, "port.number", 0), host, dr->ns,
		       dr->name, client, where);
	else
		REPORT(c, C_EGR0002, h->vs, eg_node_get(h->dest, "host"),
		       "Gateway %s/%s expects Istio mTLS (tls.mode ISTIO_MUTUAL) on port %lld for host \"%s\", but sidecars send it without ISTIO_MUTUAL (no DestinationRule sets TLS for %s): the TLS handshake fails. Set tls.mode ISTIO_MUTUAL on both sides, or on neither.",
		       gw->ns, gw->name, (long long)eg_node_int(srv, "port.number", 0), host, where);
}

static void check_hop(struct ctx *c, const struct eg_resource *vs, const struct eg_node *dest,
		      const struct eg_node *names)
{
	char buf[MAX_HOST];
	const char *dh = map_str(dest, "host");
	const struct eg_node *pn = eg_node_path(dest, "port.number");
	struct hop h = { vs, dest, NULL, NULL, 0, 0 };
	bool egress = false;

	if (!dh)
		return;
	h.svc_host = fqdn(dh, vs->ns, buf, sizeof(buf));
	if (!(h.svc = service_by_fqdn(c, h.svc_host)))
		return;
	for (size_t w = 0; w < c->nwl && !egress; w++)
		egress = c->wl[w].egress && streq(c->wl[w].dep->ns, h.svc->ns) &&
			 eg_node_len(service_selector(h.svc)) &&
			 labels_match(service_selector(h.svc), c->wl[w].labels);
	if (!egress)
		return;
	if (pn) {
		h.port = eg_node_int(pn, "", 0);
	} else {
		const struct eg_node *pl = eg_node_path(h.svc->root, "spec.ports");

		if (eg_node_len(pl) != 1)
			return; /* ambiguous: IST0112 says so */
		h.port = eg_node_int(pl->v[0], "port", 0);
	}
	h.target = service_target_port(h.svc, h.port);
	for (size_t i = 0; i < eg_node_len(names); i++) {
		const char *host = scalar(names->v[i]);
		const struct eg_resource *gw = NULL;
		const struct eg_node *srv = NULL;

		if (!host)
			continue;
		if (find_server(c, &h, host, &gw, &srv)) {
			check_hop_mtls(c, &h, host, gw, srv);
			continue;
		}
		REPORT(c, C_EGR0001, vs, eg_node_get(dest, "host"),
		       "Host \"%s\" is sent to egress gateway %s port %lld (listener port %lld), but no Gateway server of that gateway on this port accepts the host: the gateway drops this traffic. Add the host to a Gateway server on port %lld selecting the gateway's pods, or route to a port the Gateway serves.",
		       host, h.svc_host, (long long)h.port, (long long)(h.target ? h.target : h.port),
		       (long long)h.port);
	}
}

static void check_egress_hops(struct ctx *c, const struct eg_resource *vs)
{
	const struct eg_node *spec = spec_of(vs);
	const struct eg_node *hosts = eg_node_get(spec, "hosts");

	/* HTTP rules carry the VirtualService hosts, TLS rules their sniHosts */
	for (size_t k = 0; k < 2; k++) {
		const struct eg_node *rules = eg_node_get(spec, route_kinds[k]);

		for (size_t i = 0; i < eg_node_len(rules); i++) {
			const struct eg_node *matches = eg_node_get(rules->v[i], "match");
			const struct eg_node *routes = eg_node_get(rules->v[i], "route");
			size_t nm = eg_node_len(matches);

			for (size_t j = 0; j < (nm ? nm : 1); j++) {
				const struct eg_node *m = nm ? matches->v[j] : NULL;
				const struct eg_node *sni = m && k == 1 ? eg_node_get(m, "sniHosts") : NULL;

				if (!gateways_include_mesh(effective_gateways(spec, m)))
					continue;
				for (size_t r = 0; r < eg_node_len(routes); r++)
					check_hop(c, vs, eg_node_get(routes->v[r], "destination"),
						  eg_node_len(sni) ? sni : hosts);
			}
		}
	}
}

/* --- egress: overlapping PASSTHROUGH SNI hosts on one gateway port (EGR0003) --- */

struct sni_ent {
	const struct eg_resource *vs;
	size_t rule;
	const struct eg_node *sni;  /* the sniHosts item */
	const struct eg_node *dest; /* the rule's first destination */
};

static int sni_ent_cmp(const void *pa, const void *pb)
{
	const struct sni_ent *a = pa, *b = pb;
	int d = res_name_cmp(&a->vs, &b->vs);

	if (d)
		return d;
	if (a->rule != b->rule)
		return a->rule < b->rule ? -1 : 1;
	return a->sni->pos.line < b->sni->pos.line	 ? -1
	       : a->sni->pos.line > b->sni->pos.line ? 1
	       : a->sni->pos.col < b->sni->pos.col   ? -1
						       : a->sni->pos.col > b->sni->pos.col;
}

static bool same_destination(const struct eg_resource *va, const struct eg_node *a,
			     const struct eg_resource *vb, const struct eg_node *b)
{
	char ba[MAX_HOST], bb[MAX_HOST];
	const char *ha = fqdn(map_str(a, "host"), va->ns, ba, sizeof(ba));
	const char *hb = fqdn(map_str(b, "host"), vb->ns, bb, sizeof(bb));
	const char *sa = map_str(a, "subset"), *sb = map_str(b, "subset");

	return streq(ha, hb) && (sa ? streq(sa, sb) : !sb) &&
	       eg_node_int(a, "port.number", 0) == eg_node_int(b, "port.number", 0);
}

/* Whether one of @refs (a rule's gateways, in @vs_ns) names a Gateway of @set. */
static bool refs_any(const struct ctx *c, const struct eg_node *refs, const char *vs_ns,
		     const struct eg_resource *const *set, size_t n)
{
	for (size_t i = 0; i < eg_node_len(refs); i++) {
		const char *ref = scalar(refs->v[i]);
		const struct eg_resource *g = ref ? find_gateway(c, ref, vs_ns) : NULL;

		for (size_t k = 0; g && k < n; k++)
			if (set[k] == g)
				return true;
	}
	return false;
}

static void check_sni_port(struct ctx *c, const struct workload *wl, int64_t port)
{
	const struct eg_resource *gws[64];
	struct sni_ent *e;
	size_t ng = 0, n = 0;
	struct eg_buf sel = EG_BUF_INIT(4096);

	for (size_t g = 0; g < wl->gws.n && ng < EG_ARRAY_SIZE(gws); g++) {
		const struct eg_node *servers = eg_node_get(spec_of(wl->gws.v[g]), "servers");

		for (size_t s = 0; s < eg_node_len(servers); s++) {
			if (eg_node_int(servers->v[s], "port.number", 0) == port &&
			    streq(eg_node_str(servers->v[s], "tls.mode"), "PASSTHROUGH")) {
				gws[ng++] = wl->gws.v[g];
				break;
			}
		}
	}
	if (!ng || !(e = calloc(MAX_SNI_ENTS, sizeof(*e)))) {
		if (ng)
			nomem(c);
		return;
	}
	for (size_t v = 0; v < c->vs.n; v++) {
		const struct eg_resource *vs = c->vs.v[v];
		const struct eg_node *spec = spec_of(vs);
		const struct eg_node *rules = eg_node_get(spec, "tls");

		for (size_t i = 0; i < eg_node_len(rules); i++) {
			const struct eg_node *matches = eg_node_get(rules->v[i], "match");
			const struct eg_node *routes = eg_node_get(rules->v[i], "route");
			const struct eg_node *dest =
				eg_node_len(routes) ? eg_node_get(routes->v[0], "destination") : NULL;

			for (size_t j = 0; dest && j < eg_node_len(matches); j++) {
				const struct eg_node *m = matches->v[j];
				const struct eg_node *sni = eg_node_get(m, "sniHosts");
				int64_t mp = eg_node_int(m, "port", 0);

				if ((mp && mp != port) ||
				    !refs_any(c, effective_gateways(spec, m), vs->ns, gws, ng))
					continue;
				for (size_t s = 0; s < eg_node_len(sni) && n < MAX_SNI_ENTS; s++)
					if (scalar(sni->v[s]))
						e[n++] = (struct sni_ent){ vs, i, sni->v[s], dest };
			}
		}
	}
	qsort(e, n, sizeof(*e), sni_ent_cmp);
	selector_string(template_labels(wl->dep), &sel);
	for (size_t j = 1; j < n; j++) {
		for (size_t i = 0; i < j; i++) {
			if ((e[i].vs == e[j].vs && e[i].rule == e[j].rule) ||
			    !hosts_overlap(e[i].sni->s, e[j].sni->s) ||
			    same_destination(e[i].vs, e[i].dest, e[j].vs, e[j].dest))
				continue;
			REPORT(c, C_EGR0003, e[j].vs, e[j].sni,
			       "SNI host \"%s\" (tls rule #%zu) overlaps SNI host \"%s\" of VirtualService %s/%s (tls rule #%zu) on PASSTHROUGH port %lld of egress gateway %s/%s, and the two go to different destinations: a connection whose SNI both match reaches only one of them (an exact name wins over a wildcard, otherwise the first rule). Make the sniHosts disjoint.",
			       e[j].sni->s, e[j].rule, e[i].sni->s, e[i].vs->ns, e[i].vs->name, e[i].rule,
			       (long long)port, wl->dep->ns, wl->dep->name);
			break;
		}
	}
	eg_buf_done(&sel);
	free(e);
}

static void check_passthrough_overlaps(struct ctx *c)
{
	for (size_t w = 0; w < c->nwl; w++) {
		const struct workload *wl = &c->wl[w];
		int64_t seen[64];
		size_t ns = 0;

		for (size_t g = 0; g < wl->gws.n; g++) {
			const struct eg_node *servers = eg_node_get(spec_of(wl->gws.v[g]), "servers");

			for (size_t s = 0; s < eg_node_len(servers); s++) {
				int64_t p = eg_node_int(servers->v[s], "port.number", 0);
				bool dup = false;

				if (!streq(eg_node_str(servers->v[s], "tls.mode"), "PASSTHROUGH"))
					continue;
				for (size_t k = 0; k < ns && !dup; k++)
					dup = seen[k] == p;
				if (dup || ns == EG_ARRAY_SIZE(seen))
					continue;
				seen[ns++] = p;
				check_sni_port(c, wl, p);
			}
		}
	}
}

/* --- egress: the StaticGatewayConfiguration of a gateway (EGR0005, EGR0006) --- */

static void check_egress_prefix(struct ctx *c, const struct eg_resource *dep)
{
	const struct eg_node *anno = eg_node_get(
		eg_node_path(dep->root, "spec.template.metadata.annotations"), SGC_ANNOTATION);
	const char *name = scalar(anno);
	const struct eg_resource *sgc = NULL;
	const char *prefix;

	if (!name)
		return;
	for (size_t i = 0; i < c->all_sgc.n && !sgc; i++)
		if (streq(c->all_sgc.v[i]->ns, dep->ns) && streq(c->all_sgc.v[i]->name, name))
			sgc = c->all_sgc.v[i];
	if (!sgc) {
		REPORT(c, C_EGR0005, dep, anno,
		       "The egress gateway's pods use StaticGatewayConfiguration \"%s\", which does not exist in namespace %s: they stay in ContainerCreating and get no fixed egress IP. Create it in the gateway's namespace.",
		       name, dep->ns);
		return;
	}
	prefix = eg_node_str(sgc->root, "status.egressIpPrefix");
	if (!prefix || !*prefix)
		REPORT(c, C_EGR0006, dep, anno,
		       "StaticGatewayConfiguration %s/%s has no status.egressIpPrefix yet: the egress gateway's pods stay in ContainerCreating until a prefix is assigned (this can take about 5 minutes). Enable the egress gateway only once the prefix exists.",
		       sgc->ns, sgc->name);
}

/* --- sorting, filtering --- */

static int msg_cmp(const void *pa, const void *pb)
{
	const struct eg_analyze_msg *a = pa, *b = pb;
	int d;

	if (a->level != b->level)
		return a->level < b->level ? -1 : 1;
	if ((d = strcmp(a->code->code, b->code->code)))
		return d;
	if (!a->res != !b->res)
		return a->res ? 1 : -1;
	if (a->res) {
		if ((d = strcmp(a->res->kind ? a->res->kind->kind : "",
				b->res->kind ? b->res->kind->kind : "")))
			return d;
		if ((d = strcmp(ns_or_empty(a->res->ns), ns_or_empty(b->res->ns))))
			return d;
		if ((d = strcmp(a->res->name ? a->res->name : "", b->res->name ? b->res->name : "")))
			return d;
	}
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return strcmp(a->text, b->text);
}

static bool same_msg(const struct eg_analyze_msg *a, const struct eg_analyze_msg *b)
{
	return msg_cmp(a, b) == 0 && streq(a->file ? a->file : "", b->file ? b->file : "");
}

static void finish(struct eg_analyze *a, const struct eg_analyze_opts *opts)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++) {
		struct eg_analyze_msg *m = &a->v[i];

		if (opts && opts->ns && m->res && m->res->ns && !m->mesh_wide &&
		    strcmp(m->res->ns, opts->ns) != 0) {
			free(m->text);
			continue;
		}
		a->v[n++] = *m;
	}
	a->n = n;
	if (n)
		qsort(a->v, n, sizeof(*a->v), msg_cmp);
	n = 0;
	for (size_t i = 0; i < a->n; i++) {
		if (n && same_msg(&a->v[n - 1], &a->v[i])) {
			free(a->v[i].text);
			continue;
		}
		a->v[n++] = a->v[i];
	}
	a->n = n;
}

int eg_analyze_run(struct eg_analyze *a, const struct eg_resource_set *set,
		   const struct eg_resource_set *raw, const struct eg_analyze_opts *opts)
{
	struct ctx c = { .a = a };

	for (size_t i = 0; set && i < set->n; i++)
		index_resource(&c, set->v[i], false);
	for (size_t i = 0; raw && i < raw->n; i++)
		index_resource(&c, raw->v[i], true);
	if (c.reg.n)
		qsort(c.reg.v, c.reg.n, sizeof(*c.reg.v), hent_cmp);
	if (c.drh.n)
		qsort(c.drh.v, c.drh.n, sizeof(*c.drh.v), hent_cmp);
	build_workloads(&c);
	load_mesh_configs(&c);
	for (size_t i = 0; i < c.nmesh; i++) {
		const struct eg_node *pm = eg_node_path(c.mesh[i].root, "defaultConfig.proxyMetadata");

		if (streq(map_str(pm, "ISTIO_META_DNS_CAPTURE"), "true") &&
		    streq(map_str(pm, "ISTIO_META_DNS_AUTO_ALLOCATE"), "true"))
			c.auto_alloc = true;
	}
	/* the webhook rules again: store objects were checked when written, and their
	 * warnings carry IST0130/IST0131 (Istio's analyzers take them from validation too) */
	for (size_t i = 0; set && i < set->n; i++) {
		const struct eg_resource *r = set->v[i];
		struct eg_diag d;

		if (!r->kind || !r->kind->validate)
			continue;
		eg_diag_init(&d);
		r->kind->validate(r, &d);
		if (eg_analyze_add_diag(a, r, &d) < 0)
			nomem(&c);
		eg_diag_done(&d);
	}
	if (c.err)
		goto out;
	for (size_t i = 0; i < c.vs.n; i++) {
		check_vs_gateways(&c, c.vs.v[i]);
		check_vs_destinations(&c, c.vs.v[i]);
		check_egress_hops(&c, c.vs.v[i]);
	}
	check_mesh_host_conflicts(&c);
	for (size_t i = 0; i < c.dr.n; i++)
		check_dr_ca(&c, c.dr.v[i]);
	for (size_t i = 0; i < c.se.n; i++)
		check_se_addresses(&c, c.se.v[i]);
	for (size_t i = 0; i < c.gw.n; i++)
		check_gateway(&c, c.gw.v[i]);
	check_all_gateway_conflicts(&c);
	check_sidecars(&c);
	check_outbound_policy(&c);
	check_passthrough_overlaps(&c);
	for (size_t i = 0; i < c.dep.n; i++)
		check_egress_prefix(&c, c.dep.v[i]);
out:
	ctx_done(&c);
	finish(a, opts);
	return c.err;
}

int eg_analyze_format(const struct eg_analyze_msg *m, struct eg_buf *out)
{
	int r = eg_buf_printf(out, "%s [%s] ", eg_analyze_level_name(m->level), m->code->code);

	if (r == 0 && m->res) {
		r = eg_buf_printf(out, "(%s ", m->res->kind ? m->res->kind->kind : "object");
		if (r == 0 && m->res->ns)
			r = eg_buf_printf(out, "%s/", m->res->ns);
		if (r == 0)
			r = eg_buf_puts(out, m->res->name ? m->res->name : "");
		if (r == 0 && m->file && m->line)
			r = eg_buf_printf(out, " %s:%u", m->file, m->line);
		else if (r == 0 && m->file)
			r = eg_buf_printf(out, " %s", m->file);
		if (r == 0)
			r = eg_buf_puts(out, ") ");
	}
	return r == 0 ? eg_buf_puts(out, m->text) : r;
}
