/* src/model/schema.c: the generic schema walker, value checks, and the resource loader. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include "core/str.h"
#include "model/kinds.h"

/* --- value checks --- */

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool dns_label_n(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum_lower(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool eg_is_dns1123_label(const char *s)
{
	return dns_label_n(s, strlen(s));
}

bool eg_is_dns1123_subdomain(const char *s)
{
	size_t n = strlen(s);
	const char *p = s;

	if (n == 0 || n > 253)
		return false;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (!dns_label_n(p, l))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

bool eg_is_valid_host(const char *s, bool allow_star, const char **why)
{
	size_t n = strlen(s);
	const char *p = s;

	*why = NULL;
	if (n == 0) {
		*why = "empty host";
		return false;
	}
	if (strcmp(s, "*") == 0) {
		if (!allow_star)
			*why = "the wildcard host \"*\" is not allowed here";
		return allow_star;
	}
	if (n > 255) {
		*why = "host longer than 255 characters";
		return false;
	}
	if (p[0] == '*' && p[1] == '.')
		p += 2;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0) {
			*why = "empty DNS label";
			return false;
		}
		if (l > 63) {
			*why = "a DNS label longer than 63 characters";
			return false;
		}
		for (size_t i = 0; i < l; i++) {
			char c = p[i];

			if (c == '*') {
				*why = "a wildcard is allowed only as the whole first label (\"*.example.com\")";
				return false;
			}
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			      c == '-')) {
				*why = "invalid character in host (letters, digits, '-' and '.' only)";
				return false;
			}
		}
		if (p[0] == '-' || p[l - 1] == '-') {
			*why = "a DNS label must start and end with a letter or digit";
			return false;
		}
		if (!dot)
			return true;
		p = dot + 1;
	}
}

bool eg_is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

bool eg_is_cidr(const char *s)
{
	char ip[64];
	const char *slash = strchr(s, '/');
	uint64_t bits;
	unsigned char b[16];
	size_t l;

	if (!slash)
		return false;
	l = (size_t)(slash - s);
	if (l >= sizeof(ip))
		return false;
	memcpy(ip, s, l);
	ip[l] = '\0';
	if (inet_pton(AF_INET, ip, b) == 1)
		return eg_parse_u64(eg_str_c(slash + 1), 32, &bits) == 0;
	if (inet_pton(AF_INET6, ip, b) == 1)
		return eg_parse_u64(eg_str_c(slash + 1), 128, &bits) == 0;
	return false;
}

int eg_parse_duration(const char *s, int64_t *ret_ns)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = { { "ns", 1 },
		      { "us", 1000 },
		      { "\xc2\xb5s", 1000 },
		      { "ms", 1000000 },
		      { "s", 1000000000LL },
		      { "m", 60 * 1000000000LL },
		      { "h", 3600 * 1000000000LL } };
	long double total = 0;
	const char *p = s;

	if (strcmp(s, "0") == 0) {
		*ret_ns = 0;
		return 0;
	}
	if (!*p)
		return -EINVAL;
	while (*p) {
		long double v = 0, frac = 0, scale = 1;
		bool digits = false;
		size_t best = 0;
		int64_t mult = 0;

		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			digits = true;
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				frac = frac * 10 + (*p++ - '0');
				scale *= 10;
				digits = true;
			}
		}
		if (!digits)
			return -EINVAL;
		for (size_t i = 0; i < EG_ARRAY_SIZE(units); i++) {
			size_t l = strlen(units[i].unit);

			if (strncmp(p, units[i].unit, l) == 0 && l > best) {
				best = l;
				mult = units[i].ns;
			}
		}
		if (!best)
			return -EINVAL;
		p += best;
		total += (v + frac / scale) * (long double)mult;
		if (total > (long double)INT64_MAX / 2)
			return -ERANGE;
	}
	*ret_ns = (int64_t)total;
	return 0;
}

static bool is_quantity(const char *s)
{
	static const char *const suffixes[] = { "",   "m",  "k",  "M",  "G",  "T",  "P",
						"E",  "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", NULL };
	const char *p = s;
	bool digits = false;

	if (*p == '+' || *p == '-')
		p++;
	while ((*p >= '0' && *p <= '9') || *p == '.') {
		digits = digits || *p != '.';
		p++;
	}
	if (!digits)
		return false;
	for (const char *const *x = suffixes; *x; x++)
		if (strcmp(p, *x) == 0)
			return true;
	return (*p == 'e' || *p == 'E') && p[1] && strspn(p + 1, "+-0123456789") == strlen(p + 1);
}

static bool is_label_value(const char *s)
{
	size_t n = strlen(s);

	if (n == 0)
		return true;
	if (n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool an = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!an && !((c == '-' || c == '_' || c == '.') && i > 0 && i < n - 1))
			return false;
	}
	return true;
}

static bool is_label_key(const char *s)
{
	const char *slash = strrchr(s, '/');
	const char *name = slash ? slash + 1 : s;

	if (slash) {
		char prefix[254];
		size_t l = (size_t)(slash - s);

		if (l == 0 || l >= sizeof(prefix))
			return false;
		memcpy(prefix, s, l);
		prefix[l] = '\0';
		if (!eg_is_dns1123_subdomain(prefix))
			return false;
	}
	return *name && is_label_value(name);
}

/* --- the schema walker --- */

struct walk {
	const struct eg_resource *r;
	struct eg_diag *d;
	char path[512];
	size_t plen;
};

static const char *tag_name(const struct eg_node *n)
{
	if (n->kind == EG_NODE_MAP)
		return "a map";
	if (n->kind == EG_NODE_SEQ)
		return "a list";
	switch (n->tag) {
	case EG_TAG_INT:
		return "an integer";
	case EG_TAG_FLOAT:
		return "a number";
	case EG_TAG_BOOL:
		return "a boolean";
	case EG_TAG_NULL:
		return "null";
	default:
		return "a string";
	}
}

static size_t path_push(struct walk *w, const char *fmt, ...) EG_PRINTF(2, 3);
static size_t path_push(struct walk *w, const char *fmt, ...)
{
	size_t old = w->plen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(w->path + w->plen, sizeof(w->path) - w->plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		w->plen = EG_MIN(w->plen + (size_t)n, sizeof(w->path) - 1);
	return old;
}

static void path_pop(struct walk *w, size_t old)
{
	w->plen = old;
	w->path[old] = '\0';
}

static void werr(struct walk *w, const struct eg_node *at, const char *fmt, ...) EG_PRINTF(3, 4);
static void werr(struct walk *w, const struct eg_node *at, const char *fmt, ...)
{
	va_list ap;
	struct eg_pos p = at ? at->pos : (struct eg_pos){ w->r->file, 0, 0 };

	va_start(ap, fmt);
	eg_diag_vadd(w->d, EG_DIAG_ERROR, &p, w->r->what, w->path, fmt, ap);
	va_end(ap);
}

static void check_format(struct walk *w, const struct eg_field *f, const struct eg_node *n)
{
	const char *why = NULL;
	const char *s = n->s;

	switch (f->fmt) {
	case EG_FMT_NONE:
		break;
	case EG_FMT_DNS1123_LABEL:
		if (!eg_is_dns1123_label(s))
			werr(w, n, "\"%s\" is not a valid DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)", s);
		break;
	case EG_FMT_DNS1123_SUBDOMAIN:
		if (!eg_is_dns1123_subdomain(s))
			werr(w, n, "\"%s\" is not a valid DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most 253 characters)", s);
		break;
	case EG_FMT_HOST:
		if (!eg_is_valid_host(s, true, &why))
			werr(w, n, "invalid host \"%s\": %s", s, why);
		break;
	case EG_FMT_NS_HOST: {
		const char *slash = strchr(s, '/');
		const char *host = slash ? slash + 1 : s;

		if (slash && slash == s)
			werr(w, n, "invalid host \"%s\": the namespace before '/' is empty", s);
		else if (!eg_is_valid_host(host, true, &why))
			werr(w, n, "invalid host \"%s\": %s", s, why);
		break;
	}
	case EG_FMT_IP:
		if (!eg_is_ip(s))
			werr(w, n, "\"%s\" is not an IP address", s);
		break;
	case EG_FMT_CIDR:
		if (!eg_is_cidr(s))
			werr(w, n, "\"%s\" is not a CIDR block (ADDRESS/BITS)", s);
		break;
	case EG_FMT_IP_OR_CIDR:
		if (!eg_is_ip(s) && !eg_is_cidr(s))
			werr(w, n, "\"%s\" is neither an IP address nor a CIDR block", s);
		break;
	case EG_FMT_LABEL_KEY:
		if (!is_label_key(s))
			werr(w, n, "\"%s\" is not a valid label key ([prefix/]name, name at most 63 characters)", s);
		break;
	case EG_FMT_LABEL_VALUE:
		if (!is_label_value(s))
			werr(w, n, "\"%s\" is not a valid label value (at most 63 characters: letters, digits, '-', '_' and '.', starting and ending with a letter or digit)", s);
		break;
	}
}

static void walk_field(struct walk *w, const struct eg_field *f, struct eg_node *n);

static void walk_object(struct walk *w, const struct eg_field *fields, struct eg_node *n)
{
	if (n->kind != EG_NODE_MAP) {
		werr(w, n, "expected a map, got %s", tag_name(n));
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		const char *key = n->k[i]->s;
		const struct eg_field *f = fields;
		size_t old;

		while (f->name && strcmp(f->name, key) != 0)
			f++;
		old = path_push(w, "%s%s", w->plen ? "." : "", key);
		if (!f->name)
			werr(w, n->k[i], "unknown field \"%s\"", key);
		else if (f->flags & EG_FF_BLOCKED)
			werr(w, n->k[i], "%s", f->values && f->values[0] ? f->values[0] : "not allowed");
		else
			walk_field(w, f, n->v[i]);
		path_pop(w, old);
	}
	for (const struct eg_field *f = fields; f->name; f++) {
		if ((f->flags & EG_FF_REQUIRED) && !eg_node_get(n, f->name)) {
			size_t old = path_push(w, "%s%s", w->plen ? "." : "", f->name);

			werr(w, n, "required field is missing");
			path_pop(w, old);
		}
	}
}

static bool want_scalar(struct walk *w, const struct eg_node *n, const char *what)
{
	if (n->kind == EG_NODE_SCALAR)
		return true;
	werr(w, n, "expected %s, got %s", what, tag_name(n));
	return false;
}

static void walk_field(struct walk *w, const struct eg_field *f, struct eg_node *n)
{
	switch (f->type) {
	case EG_F_OBJECT:
		walk_object(w, f->sub, n);
		return;
	case EG_F_LIST:
		if (n->kind != EG_NODE_SEQ) {
			werr(w, n, "expected a list, got %s", tag_name(n));
			return;
		}
		if ((f->flags & EG_FF_NONEMPTY) && n->n == 0)
			werr(w, n, "must have at least one item");
		if (f->max && (int64_t)n->n > f->max)
			werr(w, n, "%zu items, at most %lld allowed", n->n, (long long)f->max);
		for (size_t i = 0; i < n->n; i++) {
			size_t old = path_push(w, "[%zu]", i);

			walk_field(w, f->sub, n->v[i]);
			path_pop(w, old);
		}
		return;
	case EG_F_MAP:
		if (n->kind != EG_NODE_MAP) {
			werr(w, n, "expected a map, got %s", tag_name(n));
			return;
		}
		if (f->max && (int64_t)n->n > f->max)
			werr(w, n, "%zu entries, at most %lld allowed", n->n, (long long)f->max);
		for (size_t i = 0; i < n->n; i++) {
			size_t old = path_push(w, "[%s]", n->k[i]->s);

			if (f->fmt == EG_FMT_LABEL_KEY && !is_label_key(n->k[i]->s))
				werr(w, n->k[i], "\"%s\" is not a valid label key ([prefix/]name, name at most 63 characters)",
				     n->k[i]->s);
			walk_field(w, f->sub, n->v[i]);
			path_pop(w, old);
		}
		return;
	case EG_F_ANY:
		return;
	default:
		break;
	}
	if (!want_scalar(w, n, f->type == EG_F_STRING ? "a string" : "a value"))
		return;
	switch (f->type) {
	case EG_F_STRING:
		if (n->tag != EG_TAG_STR) {
			werr(w, n, "expected a string, got %s (quote it: \"%s\")", tag_name(n), n->s);
			return;
		}
		n->vtype = EG_V_STR;
		if ((f->flags & EG_FF_NONEMPTY) && n->len == 0)
			werr(w, n, "must not be empty");
		else if (f->max && (int64_t)n->len > f->max)
			werr(w, n, "%zu characters, at most %lld allowed", n->len, (long long)f->max);
		else
			check_format(w, f, n);
		return;
	case EG_F_INT:
	case EG_F_NUMBER: {
		char *end = NULL;
		long double v;

		if (n->tag != EG_TAG_INT && !(f->type == EG_F_NUMBER && n->tag == EG_TAG_FLOAT)) {
			werr(w, n, "expected %s, got %s", f->type == EG_F_INT ? "an integer" : "a number",
			     tag_name(n));
			return;
		}
		errno = 0;
		if (n->tag == EG_TAG_INT) {
			int64_t iv = 0;

			if (eg_scalar_int(n->s, &iv) < 0)
				errno = ERANGE;
			v = (long double)iv;
		} else {
			v = strtold(n->s, &end);
			/* .inf and .nan (which strtold does not even read) are in no range */
			if (v != v || strpbrk(n->s, "iInN"))
				errno = ERANGE;
		}
		if (errno == ERANGE || (f->min != f->max && (v < f->min || v > f->max))) {
			werr(w, n, "%s is out of range (%lld to %lld)", n->s, (long long)f->min,
			     (long long)f->max);
			return;
		}
		n->vtype = EG_V_INT;
		n->i = (int64_t)v;
		return;
	}
	case EG_F_BOOL:
		if (n->tag != EG_TAG_BOOL) {
			werr(w, n, "expected true or false, got %s", tag_name(n));
			return;
		}
		n->vtype = EG_V_BOOL;
		n->i = eg_node_bool(n, "", false);
		return;
	case EG_F_ENUM: {
		struct eg_buf all = EG_BUF_INIT(1024);

		for (int64_t i = 0; f->values[i]; i++) {
			if ((f->flags & EG_FF_CASEFOLD) ? eg_str_caseeq(eg_str_c(n->s), eg_str_c(f->values[i]))
							: strcmp(n->s, f->values[i]) == 0) {
				n->vtype = EG_V_ENUM;
				n->i = i;
				return;
			}
		}
		for (int64_t i = 0; f->values[i]; i++)
			(void)eg_buf_printf(&all, "%s%s", i ? ", " : "", f->values[i]);
		werr(w, n, "\"%s\" is not one of %s", n->s, eg_buf_cstr(&all));
		eg_buf_done(&all);
		return;
	}
	case EG_F_DURATION: {
		int64_t ns;

		if (n->tag != EG_TAG_STR && !(n->tag == EG_TAG_INT && strcmp(n->s, "0") == 0)) {
			werr(w, n, "expected a duration such as \"10s\" or \"1h30m\", got %s", tag_name(n));
			return;
		}
		if (eg_parse_duration(n->s, &ns) < 0) {
			werr(w, n, "invalid duration \"%s\" (use a number with a unit: ns, us, ms, s, m, h)",
			     n->s);
			return;
		}
		if ((f->min && ns < f->min) || (f->max && ns > f->max)) {
			werr(w, n, "duration \"%s\" is out of range", n->s);
			return;
		}
		n->vtype = EG_V_DURATION;
		n->i = ns;
		return;
	}
	case EG_F_INT_OR_STRING:
		if (n->tag == EG_TAG_INT) {
			int64_t v = 0;

			if (eg_scalar_int(n->s, &v) < 0 || v < 1 || v > 65535)
				werr(w, n, "port %s is out of range (1 to 65535)", n->s);
			n->vtype = EG_V_INT;
			n->i = v;
		} else if (n->tag == EG_TAG_STR && eg_is_dns1123_label(n->s) && n->len <= 15) {
			n->vtype = EG_V_STR;
		} else {
			werr(w, n, "expected a port number or a port name, got \"%s\"", n->s);
		}
		return;
	case EG_F_QUANTITY:
		if ((n->tag == EG_TAG_STR || n->tag == EG_TAG_INT || n->tag == EG_TAG_FLOAT) &&
		    is_quantity(n->s))
			n->vtype = EG_V_STR;
		else
			werr(w, n, "\"%s\" is not a quantity (such as 100m, 1Gi or 3)", n->s);
		return;
	default:
		return;
	}
}

void eg_schema_walk(const struct eg_resource *r, const char *path, const struct eg_field *f,
		    struct eg_node *n, struct eg_diag *d)
{
	struct walk w = { .r = r, .d = d };

	path_push(&w, "%s", path);
	walk_field(&w, f, n);
}

/* --- kinds --- */

const struct eg_kind *eg_kind_lookup(const char *name)
{
	char base[128];
	const char *dot = strchr(name, '.');
	const char *group = dot ? dot + 1 : NULL;
	size_t l = dot ? (size_t)(dot - name) : strlen(name);

	if (l >= sizeof(base))
		return NULL;
	memcpy(base, name, l);
	base[l] = '\0';
	for (const struct eg_kind *const *k = eg_kinds; *k; k++) {
		struct eg_str b = eg_str_c(base);
		bool hit = eg_str_caseeq(b, eg_str_c((*k)->kind)) ||
			   eg_str_caseeq(b, eg_str_c((*k)->plural)) ||
			   eg_str_caseeq(b, eg_str_c((*k)->singular));

		for (const char *const *s = (*k)->short_names; !hit && s && *s; s++)
			hit = eg_str_caseeq(b, eg_str_c(*s));
		if (hit && group && strcasecmp(group, (*k)->group) != 0)
			continue;
		if (hit)
			return *k;
	}
	return NULL;
}

const char *eg_kind_qualified(const struct eg_kind *k, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", k->singular, k->group[0] ? "." : "", k->group);
	return buf;
}

/* --- resources --- */

static void set_file(struct eg_node *n, const char *file);

void eg_res_diag(struct eg_diag *d, enum eg_diag_level level, const struct eg_resource *r,
		 const struct eg_node *at, const char *path, const char *fmt, ...)
{
	struct eg_pos p = at ? at->pos : r->root->pos;
	va_list ap;

	if (!p.file)
		p.file = r->file;
	va_start(ap, fmt);
	eg_diag_vadd(d, level, &p, r->what, path, fmt, ap);
	va_end(ap);
}

void eg_resource_sync(struct eg_resource *r)
{
	r->name = eg_node_str(r->root, "metadata.name");
	r->ns = r->kind && r->kind->namespaced ? eg_node_str(r->root, "metadata.namespace") : NULL;
	if (r->ns)
		snprintf(r->what, sizeof(r->what), "%s %s/%s", r->kind->kind, r->ns,
			 r->name ? r->name : "");
	else
		snprintf(r->what, sizeof(r->what), "%s %s", r->kind ? r->kind->kind : "object",
			 r->name ? r->name : "");
}

struct eg_resource *eg_resource_free(struct eg_resource *r)
{
	if (!r)
		return NULL;
	eg_node_free(r->root);
	free(r->file);
	free(r);
	return NULL;
}

struct eg_resource *eg_resource_clone(const struct eg_resource *r)
{
	struct eg_resource *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->kind = r->kind;
	c->file = strdup(r->file ? r->file : "");
	c->root = eg_node_clone(r->root);
	if (!c->file || !c->root)
		return eg_resource_free(c);
	set_file(c->root, c->file);
	eg_resource_sync(c);
	return c;
}

void eg_resource_set_init(struct eg_resource_set *s)
{
	memset(s, 0, sizeof(*s));
}

void eg_resource_set_done(struct eg_resource_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		eg_resource_free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int eg_resource_set_add(struct eg_resource_set *s, struct eg_resource *r)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct eg_resource **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = r;
	return 0;
}

struct eg_resource *eg_resource_set_find(const struct eg_resource_set *s,
					 const struct eg_kind *k, const char *ns,
					 const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct eg_resource *r = s->v[i];

		if (r->kind != k || !r->name || strcmp(r->name, name) != 0)
			continue;
		if (k->namespaced && (!r->ns || !ns || strcmp(r->ns, ns) != 0))
			continue;
		return s->v[i];
	}
	return NULL;
}

static const struct eg_field labels_map_elem = { .type = EG_F_STRING, .fmt = EG_FMT_LABEL_VALUE };
static const struct eg_field annotations_elem = { .type = EG_F_STRING, .max = 262144 };
static const struct eg_field owner_any = { .type = EG_F_ANY };

/* metadata: what we keep; the store sets the server-side fields. */
static const struct eg_field metadata_fields[] = {
	{ "name", EG_F_STRING, EG_FF_REQUIRED | EG_FF_NONEMPTY, .fmt = EG_FMT_DNS1123_SUBDOMAIN },
	{ "namespace", EG_F_STRING, EG_FF_NONEMPTY, .fmt = EG_FMT_DNS1123_LABEL },
	{ "labels", EG_F_MAP, 0, &labels_map_elem, .fmt = EG_FMT_LABEL_KEY },
	{ "annotations", EG_F_MAP, 0, &annotations_elem },
	{ "uid", EG_F_STRING },
	{ "resourceVersion", EG_F_STRING },
	{ "generation", EG_F_INT, 0, .min = 0, .max = INT64_MAX },
	{ "creationTimestamp", EG_F_STRING },
	{ "generateName", EG_F_STRING },
	{ "ownerReferences", EG_F_ANY, 0, &owner_any },
	{ "finalizers", EG_F_ANY },
	{ "managedFields", EG_F_ANY },
	{ NULL },
};
static const struct eg_field metadata_field = { "metadata", EG_F_OBJECT, EG_FF_REQUIRED,
						metadata_fields };

static bool version_ok(const struct eg_kind *k, const char *api_version)
{
	char buf[128];

	for (const char *const *v = k->versions; *v; v++) {
		if (k->group[0])
			snprintf(buf, sizeof(buf), "%s/%s", k->group, *v);
		else
			snprintf(buf, sizeof(buf), "%s", *v);
		if (strcmp(buf, api_version) == 0)
			return true;
	}
	return false;
}

static void set_file(struct eg_node *n, const char *file)
{
	n->pos.file = file;
	for (size_t i = 0; i < n->n; i++) {
		if (n->k)
			set_file(n->k[i], file);
		set_file(n->v[i], file);
	}
}

int eg_resource_from_node(const char *file, struct eg_node *root,
			  const struct eg_parse_opts *opts, struct eg_resource **ret,
			  struct eg_diag *d)
{
	struct eg_resource *r = calloc(1, sizeof(*r));
	struct walk w = { 0 };
	const char *api, *kind;
	struct eg_node *meta;
	unsigned errors0 = d->errors;
	struct eg_pos p = root->pos;

	if (!r || !(r->file = strdup(file))) {
		free(r);
		eg_node_free(root);
		return -ENOMEM;
	}
	r->root = root;
	set_file(root, r->file); /* positions must outlive the caller's file name */
	snprintf(r->what, sizeof(r->what), "object");
	if (root->kind != EG_NODE_MAP) {
		eg_diag_add(d, EG_DIAG_ERROR, &p, NULL, NULL, "a document must be a map, got %s",
			    tag_name(root));
		goto out_free;
	}
	api = eg_node_str(root, "apiVersion");
	kind = eg_node_str(root, "kind");
	if (!api || !kind) {
		eg_diag_add(d, EG_DIAG_ERROR, &p, NULL, !api ? "apiVersion" : "kind",
			    "required field is missing");
		goto out_free;
	}
	for (const struct eg_kind *const *k = eg_kinds; *k; k++)
		if (strcmp((*k)->kind, kind) == 0)
			r->kind = *k;
	if (!r->kind) {
		struct eg_pos kp = eg_node_get(root, "kind")->pos;

		eg_diag_add(d, EG_DIAG_ERROR, &kp, NULL, "kind", "unknown kind \"%s\"", kind);
		goto out_free;
	}
	if (!version_ok(r->kind, api)) {
		struct eg_pos ap = eg_node_get(root, "apiVersion")->pos;
		char want[128];

		snprintf(want, sizeof(want), "%s%s%s", r->kind->group, r->kind->group[0] ? "/" : "",
			 r->kind->versions[0]);
		eg_diag_add(d, EG_DIAG_ERROR, &ap, NULL, "apiVersion",
			    "%s is not served for kind %s (use %s)", api, kind, want);
		goto out_free;
	}
	meta = eg_node_get(root, "metadata");
	if (meta && meta->kind == EG_NODE_MAP && r->kind->namespaced) {
		const char *ns = eg_node_str(meta, "namespace");

		if (ns && opts->force_ns && opts->default_ns && strcmp(ns, opts->default_ns) != 0) {
			struct eg_pos np = eg_node_get(meta, "namespace")->pos;

			eg_resource_sync(r);
			eg_diag_add(d, EG_DIAG_ERROR, &np, r->what, "metadata.namespace",
				    "the namespace of the object (%s) does not match the namespace given with -n (%s)",
				    ns, opts->default_ns);
			goto out_free;
		}
		if (!ns && eg_node_map_set_str(meta, "namespace",
					       opts->default_ns ? opts->default_ns : "default") < 0)
			goto out_free;
	} else if (meta && meta->kind == EG_NODE_MAP && eg_node_get(meta, "namespace")) {
		/* kubectl drops a namespace given to a cluster-scoped object; so do we */
		eg_node_map_del(meta, "namespace");
	}
	eg_resource_sync(r);
	w.r = r;
	w.d = d;
	for (size_t i = 0; i < root->n; i++) {
		const char *key = root->k[i]->s;
		const struct eg_field *f = r->kind->fields;

		if (strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0)
			continue;
		path_pop(&w, 0);
		path_push(&w, "%s", key);
		if (strcmp(key, "metadata") == 0) {
			walk_field(&w, &metadata_field, root->v[i]);
			continue;
		}
		while (f && f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f || !f->name)
			werr(&w, root->k[i], "unknown field \"%s\"", key);
		else
			walk_field(&w, f, root->v[i]);
	}
	path_pop(&w, 0);
	if (!meta) {
		w.plen = 0;
		path_push(&w, "metadata");
		werr(&w, root, "required field is missing");
	}
	for (const struct eg_field *f = r->kind->fields; f && f->name; f++) {
		if ((f->flags & EG_FF_REQUIRED) && !eg_node_get(root, f->name)) {
			path_pop(&w, 0);
			path_push(&w, "%s", f->name);
			werr(&w, root, "required field is missing");
		}
	}
	if (d->errors == errors0 && r->kind->validate && !opts->skip_rules)
		r->kind->validate(r, d);
	if (d->errors != errors0)
		goto out_free;
	*ret = r;
	return 0;
out_free:
	eg_resource_free(r);
	return -EINVAL;
}

int eg_model_parse(const char *file, const char *data, size_t len,
		   const struct eg_parse_opts *opts, struct eg_resource_set *set,
		   struct eg_diag *d)
{
	struct eg_resource_set tmp;
	struct eg_node **docs = NULL;
	size_t ndocs = 0;
	int r, ret = 0;

	r = eg_yaml_load(file, data, len, d, &docs, &ndocs);
	if (r < 0)
		return r;
	eg_resource_set_init(&tmp);
	for (size_t i = 0; i < ndocs; i++) {
		struct eg_node *doc = docs[i];
		const char *kind = eg_node_str(doc, "kind");
		struct eg_node *items = eg_node_get(doc, "items");

		docs[i] = NULL;
		if (kind && strcmp(kind, "List") == 0) {
			if (!items || items->kind != EG_NODE_SEQ) {
				struct eg_pos p = doc->pos;

				eg_diag_add(d, EG_DIAG_ERROR, &p, NULL, "items",
					    "a List needs a list of items");
				ret = -EINVAL;
				eg_node_free(doc);
				continue;
			}
			for (size_t j = 0; j < items->n; j++) {
				struct eg_resource *res = NULL;

				r = eg_resource_from_node(file, items->v[j], opts, &res, d);
				items->v[j] = NULL;
				if (r == 0 && eg_resource_set_add(&tmp, res) < 0) {
					eg_resource_free(res);
					r = -ENOMEM;
				}
				if (r < 0)
					ret = r;
			}
			items->n = 0;
			eg_node_free(doc);
			continue;
		}
		{
			struct eg_resource *res = NULL;

			r = eg_resource_from_node(file, doc, opts, &res, d);
			if (r == 0 && eg_resource_set_add(&tmp, res) < 0) {
				eg_resource_free(res);
				r = -ENOMEM;
			}
			if (r < 0)
				ret = r;
		}
	}
	free(docs);
	/* the same object twice in one input is a mistake, not an update */
	for (size_t i = 0; ret == 0 && i < tmp.n; i++) {
		for (size_t j = 0; j < i; j++) {
			const struct eg_resource *a = tmp.v[j], *b = tmp.v[i];

			if (a->kind == b->kind && strcmp(a->name, b->name) == 0 &&
			    (!a->ns || strcmp(a->ns, b->ns) == 0)) {
				eg_res_error(d, b, b->root, NULL,
					     "defined twice in this input (first at line %u)",
					     a->root->pos.line);
				ret = -EINVAL;
				break;
			}
		}
	}
	if (ret < 0) {
		eg_resource_set_done(&tmp);
		return ret;
	}
	for (size_t i = 0; i < tmp.n; i++) {
		if (eg_resource_set_add(set, tmp.v[i]) < 0) {
			/* roll back what we appended so the caller sees all or nothing */
			set->n -= i;
			eg_resource_set_done(&tmp);
			return -ENOMEM;
		}
	}
	free(tmp.v);
	return 0;
}
