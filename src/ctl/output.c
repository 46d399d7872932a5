/* src/ctl/output.c: how the resource verbs print: kubectl-style tables (with the print
 * columns of Istio's CRDs), ages, YAML, JSON, names and jsonpath templates; and opening
 * the store the verbs share. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "core/buf.h"
#include "core/str.h"
#include "ctl/ctl.h"
#include "store/store.h"

/* --- the store --- */

int eg_ctl_open_store(const struct eg_ctl *ctl, struct eg_store **ret)
{
	char def[PATH_MAX];
	const char *dir = ctl->store_dir;
	int r;

	if (!dir || !*dir) {
		r = eg_store_default_dir(def, sizeof(def));
		if (r < 0) {
			eg_ctl_err("no store: give --store DIR or set EGRESS_STORE ($HOME is not set)");
			return r;
		}
		dir = def;
	}
	r = eg_store_open(dir, EG_STORE_CREATE, ret);
	if (r < 0)
		eg_ctl_err("cannot open the store %s: %s", dir, strerror(-r));
	return r;
}

void eg_ctl_not_found(const struct eg_kind *k, const char *name)
{
	char res[256];

	fprintf(stderr, "Error from server (NotFound): %s \"%s\" not found\n",
		eg_store_resource_name(k, res, sizeof(res)), name);
}

/* --- tables --- */

void eg_ctl_table_init(struct eg_ctl_table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

void eg_ctl_table_done(struct eg_ctl_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

int eg_ctl_table_row(struct eg_ctl_table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		char *s = strdup(cells[i] ? cells[i] : "");

		if (!s) {
			for (size_t j = 0; j < i; j++)
				free(t->cells[t->nrows * t->ncols + j]);
			return -ENOMEM;
		}
		t->cells[t->nrows * t->ncols + i] = s;
	}
	t->nrows++;
	return 0;
}

void eg_ctl_table_print(const struct eg_ctl_table *t, FILE *f)
{
	size_t width[32] = { 0 };
	size_t ncols = EG_MIN(t->ncols, EG_ARRAY_SIZE(width));

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < ncols; c++)
			width[c] = EG_MAX(width[c], strlen(t->cells[r * t->ncols + c]));
	/* kubectl's tabwriter: three spaces between columns, none after the last */
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];

			if (c + 1 == ncols)
				fprintf(f, "%s\n", cell);
			else
				fprintf(f, "%-*s", (int)(width[c] + 3), cell);
		}
	}
}

/* --- ages --- */

void eg_ctl_age(int64_t seconds, char *buf, size_t len)
{
	int64_t m, h, d;

	/* k8s.io/apimachinery HumanDuration, which kubectl prints in AGE columns */
	if (seconds < -1) {
		snprintf(buf, len, "<invalid>");
		return;
	}
	if (seconds < 0)
		seconds = 0;
	if (seconds < 120) {
		snprintf(buf, len, "%llds", (long long)seconds);
		return;
	}
	m = seconds / 60;
	if (m < 10) {
		if (seconds % 60)
			snprintf(buf, len, "%lldm%llds", (long long)m, (long long)(seconds % 60));
		else
			snprintf(buf, len, "%lldm", (long long)m);
		return;
	}
	if (m < 180) {
		snprintf(buf, len, "%lldm", (long long)m);
		return;
	}
	h = seconds / 3600;
	if (h < 8) {
		if (m % 60)
			snprintf(buf, len, "%lldh%lldm", (long long)h, (long long)(m % 60));
		else
			snprintf(buf, len, "%lldh", (long long)h);
		return;
	}
	if (h < 48) {
		snprintf(buf, len, "%lldh", (long long)h);
		return;
	}
	d = h / 24;
	if (h < 24 * 8) {
		if (h % 24)
			snprintf(buf, len, "%lldd%lldh", (long long)d, (long long)(h % 24));
		else
			snprintf(buf, len, "%lldd", (long long)d);
		return;
	}
	if (h < 24 * 365 * 2) {
		snprintf(buf, len, "%lldd", (long long)d);
		return;
	}
	if (h < 24 * 365 * 8) {
		if (d % 365)
			snprintf(buf, len, "%lldy%lldd", (long long)(d / 365), (long long)(d % 365));
		else
			snprintf(buf, len, "%lldy", (long long)(d / 365));
		return;
	}
	snprintf(buf, len, "%lldy", (long long)(d / 365));
}

/* --- jsonpath (the subset of kubectl's templates that scripts use) --- */

#define JP_MAX_RESULTS 65536
#define JP_MAX_DEPTH   16

struct jp_results {
	const struct eg_node **v;
	size_t n, cap;
};

struct jp {
	const char *err; /* why the template is refused */
	const struct eg_node *root;
	struct eg_buf *out;
};

static int jp_add(struct jp_results *r, const struct eg_node *n)
{
	if (r->n == JP_MAX_RESULTS)
		return -E2BIG;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		const struct eg_node **v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = n;
	return 0;
}

/* kubectl's field names end at these; a backslash escapes the next character */
static bool jp_terminator(char c)
{
	return c == '\0' || c == '.' || c == '[' || c == ']' || c == '{' || c == '}' ||
	       c == ' ' || c == ',' || c == '$' || c == '@' || c == '\'' || c == '"';
}

/* Reads a field name at *p (plain with backslash escapes, or quoted "..."/'...'). */
static int jp_name(const char **p, const char *end, char *buf, size_t len, struct jp *jp)
{
	const char *s = *p;
	size_t n = 0;
	char quote = 0;

	if (s < end && (*s == '"' || *s == '\'')) {
		quote = *s++;
		while (s < end && *s != quote) {
			if (*s == '\\' && s + 1 < end)
				s++;
			if (n + 1 >= len)
				goto out_long;
			buf[n++] = *s++;
		}
		if (s == end) {
			jp->err = "unterminated quoted field name";
			return -EINVAL;
		}
		s++;
	} else {
		while (s < end && !jp_terminator(*s)) {
			if (*s == '\\' && s + 1 < end)
				s++;
			if (n + 1 >= len)
				goto out_long;
			buf[n++] = *s++;
		}
	}
	buf[n] = '\0';
	*p = s;
	return 0;
out_long:
	jp->err = "field name too long";
	return -EINVAL;
}

static int jp_descend(const struct eg_node *n, const char *name, struct jp_results *out,
		      unsigned depth)
{
	const struct eg_node *v;
	int r;

	if (depth > EG_MODEL_MAX_DEPTH + 8 || n->kind == EG_NODE_SCALAR)
		return 0;
	if (name && (v = eg_node_get(n, name)) && (r = jp_add(out, v)) < 0)
		return r;
	for (size_t i = 0; i < n->n; i++) {
		if (!name && (r = jp_add(out, n->v[i])) < 0)
			return r;
		if ((r = jp_descend(n->v[i], name, out, depth + 1)) < 0)
			return r;
	}
	return 0;
}

/* Evaluates the path @expr (without braces) from @cur into @out. */
static int jp_eval(struct jp *jp, const char *expr, size_t len, const struct eg_node *cur,
		   struct jp_results *out)
{
	struct jp_results a = { 0 }, b = { 0 };
	const char *p = expr, *end = expr + len;
	char name[512];
	int r = 0;

	if (p < end && *p == '$') {
		cur = jp->root;
		p++;
	} else if (p < end && *p == '@') {
		p++;
	}
	if ((r = jp_add(&a, cur)) < 0)
		goto out_free;
	while (p < end && r == 0) {
		b.n = 0;
		if (*p == '.' && p + 1 < end && p[1] == '.') {
			bool star;

			p += 2;
			star = p < end && *p == '*';
			if (star)
				p++;
			else if ((r = jp_name(&p, end, name, sizeof(name), jp)) < 0)
				break;
			for (size_t i = 0; i < a.n && r == 0; i++)
				r = jp_descend(a.v[i], star ? NULL : name, &b, 0);
		} else if (*p == '.') {
			p++;
			if (p == end)
				break; /* "{.}" is the current object */
			if (*p == '*') {
				p++;
				for (size_t i = 0; i < a.n && r == 0; i++)
					for (size_t j = 0; j < eg_node_len(a.v[i]) && r == 0; j++)
						r = jp_add(&b, a.v[i]->v[j]);
			} else {
				if ((r = jp_name(&p, end, name, sizeof(name), jp)) < 0)
					break;
				if (!name[0]) {
					jp->err = "empty field name";
					r = -EINVAL;
					break;
				}
				for (size_t i = 0; i < a.n && r == 0; i++) {
					const struct eg_node *v = eg_node_get(a.v[i], name);

					if (v)
						r = jp_add(&b, v);
				}
			}
		} else if (*p == '[') {
			const char *close = memchr(p, ']', (size_t)(end - p));
			const char *in = p + 1;

			if (!close) {
				jp->err = "unterminated [";
				r = -EINVAL;
				break;
			}
			if (*in == '\'' || *in == '"') {
				if ((r = jp_name(&in, close, name, sizeof(name), jp)) < 0)
					break;
				for (size_t i = 0; i < a.n && r == 0; i++) {
					const struct eg_node *v = eg_node_get(a.v[i], name);

					if (v)
						r = jp_add(&b, v);
				}
			} else if (close - in == 1 && *in == '*') {
				for (size_t i = 0; i < a.n && r == 0; i++)
					for (size_t j = 0; j < eg_node_len(a.v[i]) && r == 0; j++)
						r = jp_add(&b, a.v[i]->v[j]);
			} else {
				char *e = NULL;
				long long idx = strtoll(in, &e, 10);

				if (e != close || e == in) {
					jp->err = "unsupported subscript (use [N], [*] or ['name'])";
					r = -EINVAL;
					break;
				}
				for (size_t i = 0; i < a.n && r == 0; i++) {
					const struct eg_node *v = a.v[i];
					long long k = idx < 0 ? (long long)v->n + idx : idx;

					if (v->kind == EG_NODE_SEQ && k >= 0 && (size_t)k < v->n)
						r = jp_add(&b, v->v[k]);
				}
			}
			p = close + 1;
		} else {
			jp->err = "unexpected character in path";
			r = -EINVAL;
			break;
		}
		{
			struct jp_results t = a;

			a = b;
			b = t;
		}
	}
	if (r == 0) {
		*out = a;
		a.v = NULL;
	}
out_free:
	free(a.v);
	free(b.v);
	return r;
}

static int jp_print_value(struct eg_buf *out, const struct eg_node *n)
{
	if (n->kind == EG_NODE_SCALAR && (n->tag == EG_TAG_STR || n->quoted))
		return eg_buf_append(out, n->s, n->len);
	if (n->kind == EG_NODE_SCALAR && n->tag == EG_TAG_NULL)
		return 0;
	return eg_node_emit_json(out, n, 0);
}

/* Finds the '}' closing the action that starts after '{' at @p, skipping quoted text. */
static const char *jp_action_end(const char *p)
{
	char quote = 0;

	for (; *p; p++) {
		if (quote) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == quote)
				quote = 0;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '}') {
			return p;
		}
	}
	return NULL;
}

static int jp_literal(struct eg_buf *out, const char *s, size_t n)
{
	int r = 0;

	/* s[0] and s[n-1] are the quotes */
	for (size_t i = 1; i + 1 < n && r == 0; i++) {
		char c = s[i];

		if (c == '\\' && i + 2 < n) {
			c = s[++i];
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
		}
		r = eg_buf_putc(out, c);
	}
	return r;
}

static int jp_run(struct jp *jp, const char **pp, const struct eg_node *cur, bool in_range,
		  unsigned depth);

/* Runs the template from *pp (up to {end} when @in_range) once per item of @items. */
static int jp_range(struct jp *jp, const char **pp, const struct jp_results *items,
		    unsigned depth)
{
	const char *body = *pp, *after = NULL;
	int r = 0;

	if (items->n == 0) {
		/* still parse the body to find where it ends */
		struct eg_buf *saved = jp->out;
		struct eg_buf sink = EG_BUF_INIT(1);
		struct eg_node empty = { .kind = EG_NODE_MAP };

		jp->out = &sink;
		r = jp_run(jp, &body, &empty, true, depth + 1);
		jp->out = saved;
		eg_buf_done(&sink);
		*pp = body;
		return r;
	}
	for (size_t i = 0; i < items->n && r == 0; i++) {
		const char *p = body;

		r = jp_run(jp, &p, items->v[i], true, depth + 1);
		after = p;
	}
	if (r == 0)
		*pp = after;
	return r;
}

static int jp_run(struct jp *jp, const char **pp, const struct eg_node *cur, bool in_range,
		  unsigned depth)
{
	const char *p = *pp;
	int r = 0;

	if (depth > JP_MAX_DEPTH) {
		jp->err = "ranges nested too deep";
		return -EINVAL;
	}
	while (*p && r == 0) {
		const char *open = strchr(p, '{'), *close;
		const char *a, *b;

		if (!open) {
			r = eg_buf_puts(jp->out, p);
			p += strlen(p);
			break;
		}
		r = eg_buf_append(jp->out, p, (size_t)(open - p));
		if (r < 0)
			break;
		close = jp_action_end(open + 1);
		if (!close) {
			jp->err = "unclosed action (missing '}')";
			return -EINVAL;
		}
		a = open + 1;
		b = close;
		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		p = close + 1;
		if (b - a == 3 && strncmp(a, "end", 3) == 0) {
			if (!in_range) {
				jp->err = "{end} without {range}";
				return -EINVAL;
			}
			*pp = p;
			return 0;
		}
		if (b - a > 6 && strncmp(a, "range ", 6) == 0) {
			struct jp_results items = { 0 };

			a += 6;
			while (a < b && *a == ' ')
				a++;
			r = jp_eval(jp, a, (size_t)(b - a), cur, &items);
			if (r == 0) {
				/* ranging over one list means over its items */
				if (items.n == 1 && items.v[0]->kind == EG_NODE_SEQ) {
					const struct eg_node *l = items.v[0];

					items.n = 0;
					for (size_t i = 0; i < l->n && r == 0; i++)
						r = jp_add(&items, l->v[i]);
				}
				if (r == 0)
					r = jp_range(jp, &p, &items, depth);
			}
			free(items.v);
			continue;
		}
		if (a < b && (*a == '"' || *a == '\'') && b[-1] == *a && b - a >= 2) {
			r = jp_literal(jp->out, a, (size_t)(b - a));
			continue;
		}
		if (a == b) {
			jp->err = "empty action {}";
			return -EINVAL;
		}
		{
			struct jp_results res = { 0 };

			r = jp_eval(jp, a, (size_t)(b - a), cur, &res);
			for (size_t i = 0; i < res.n && r == 0; i++) {
				if (i)
					r = eg_buf_putc(jp->out, ' ');
				if (r == 0)
					r = jp_print_value(jp->out, res.v[i]);
			}
			free(res.v);
		}
	}
	if (r == 0 && in_range) {
		jp->err = "{range} without {end}";
		return -EINVAL;
	}
	*pp = p;
	return r;
}

int eg_ctl_jsonpath(const char *tmpl, const struct eg_node *root, struct eg_buf *out,
		    const char **ret_err)
{
	struct jp jp = { .root = root, .out = out };
	char *t = NULL;
	const char *p;
	size_t n = strlen(tmpl);
	int r;

	/* a template passed with its shell quotes still on ('{.a}') is meant without them */
	if (n >= 2 && (tmpl[0] == '\'' || tmpl[0] == '"') && tmpl[n - 1] == tmpl[0]) {
		t = eg_strndup(tmpl + 1, n - 2);
		if (!t)
			return -ENOMEM;
		tmpl = t;
	}
	p = tmpl;
	r = jp_run(&jp, &p, root, false, 0);
	if (r == -EINVAL && ret_err)
		*ret_err = jp.err ? jp.err : "invalid template";
	else if (r < 0 && ret_err)
		*ret_err = strerror(-r);
	free(t);
	return r;
}

/* --- output formats --- */

int eg_ctl_output_parse(const char *arg, struct eg_ctl_output *ret)
{
	static const struct {
		const char *name;
		enum eg_ctl_format fmt;
	} names[] = {
		{ "yaml", EG_CTL_OUT_YAML }, { "json", EG_CTL_OUT_JSON }, { "wide", EG_CTL_OUT_WIDE },
		{ "name", EG_CTL_OUT_NAME },
	};

	memset(ret, 0, sizeof(*ret));
	for (size_t i = 0; i < EG_ARRAY_SIZE(names); i++) {
		if (strcmp(arg, names[i].name) == 0) {
			ret->fmt = names[i].fmt;
			return 0;
		}
	}
	if (strncmp(arg, "jsonpath=", 9) == 0 && arg[9]) {
		ret->fmt = EG_CTL_OUT_JSONPATH;
		ret->jsonpath = arg + 9;
		return 0;
	}
	return -EINVAL;
}

/* A copy of @r's object (sorted keys) or a kind: List of copies of all of them. */
static struct eg_node *build_output(struct eg_resource *const *objs, size_t n, bool as_list)
{
	struct eg_node *root, *items, *meta;

	if (!as_list) {
		root = eg_node_clone(objs[0]->root);
		if (root && eg_node_sort_keys(root) < 0)
			root = eg_node_free(root);
		return root;
	}
	root = eg_node_new_map();
	items = eg_node_new_seq();
	meta = eg_node_new_map();
	if (!root || !items || !meta)
		goto out_fail;
	for (size_t i = 0; i < n; i++) {
		struct eg_node *c = eg_node_clone(objs[i]->root);

		if (!c || eg_node_sort_keys(c) < 0 || eg_node_seq_add(items, c) < 0) {
			eg_node_free(c);
			goto out_fail;
		}
	}
	if (eg_node_map_set_str(root, "apiVersion", "v1") < 0 ||
	    eg_node_map_put(root, "items", items) < 0)
		goto out_fail;
	items = NULL;
	if (eg_node_map_set_str(root, "kind", "List") < 0 ||
	    eg_node_map_set_str(meta, "resourceVersion", "") < 0 ||
	    eg_node_map_put(root, "metadata", meta) < 0)
		goto out_fail;
	return root;
out_fail:
	eg_node_free(items);
	if (!eg_node_get(root, "metadata"))
		eg_node_free(meta);
	return eg_node_free(root);
}

/* --- table columns --- */

struct cell_ctx {
	const struct eg_resource *r;
	int64_t now;
	struct eg_buf *out;
};

typedef void (*cell_cb)(struct cell_ctx *c);

struct column {
	const char *header;
	const char *path; /* CRD print column: the value at this path (lists as JSON) */
	cell_cb fn;       /* or computed */
	bool wide;        /* only with -o wide */
};

static void cell_age(struct cell_ctx *c)
{
	int64_t t;
	char age[32];

	if (eg_store_parse_time(eg_node_str(c->r->root, "metadata.creationTimestamp"), &t) < 0) {
		(void)eg_buf_puts(c->out, "<unknown>");
		return;
	}
	eg_ctl_age(c->now - t, age, sizeof(age));
	(void)eg_buf_puts(c->out, age);
}

/* "k=v,k2=v2" of a label map, keys sorted (kubectl's selector column). */
static void put_selector(struct eg_buf *out, const struct eg_node *map)
{
	struct eg_node *c = map && map->kind == EG_NODE_MAP && map->n ? eg_node_clone(map) : NULL;

	if (!c || eg_node_sort_keys(c) < 0) {
		(void)eg_buf_puts(out, "<none>");
		eg_node_free(c);
		return;
	}
	for (size_t i = 0; i < c->n; i++)
		(void)eg_buf_printf(out, "%s%s=%s", i ? "," : "", c->k[i]->s,
				    c->v[i]->kind == EG_NODE_SCALAR ? c->v[i]->s : "");
	eg_node_free(c);
}

static void cell_ns_status(struct cell_ctx *c)
{
	const char *phase = eg_node_str(c->r->root, "status.phase");

	(void)eg_buf_puts(c->out, phase ? phase : "Active");
}

static void cell_svc_type(struct cell_ctx *c)
{
	const char *t = eg_node_str(c->r->root, "spec.type");

	(void)eg_buf_puts(c->out, t ? t : "ClusterIP");
}

static void cell_svc_cluster_ip(struct cell_ctx *c)
{
	const char *ip = eg_node_str(c->r->root, "spec.clusterIP");
	const char *t = eg_node_str(c->r->root, "spec.type");

	(void)eg_buf_puts(c->out, ip && !(t && strcmp(t, "ExternalName") == 0) ? ip : "<none>");
}

static void cell_svc_external_ip(struct cell_ctx *c)
{
	const struct eg_node *root = c->r->root;
	const char *t = eg_node_str(root, "spec.type");
	const struct eg_node *ext = eg_node_path(root, "spec.externalIPs");
	const struct eg_node *ing = eg_node_path(root, "status.loadBalancer.ingress");
	size_t before = c->out->len;

	if (t && strcmp(t, "ExternalName") == 0) {
		const char *name = eg_node_str(root, "spec.externalName");

		(void)eg_buf_puts(c->out, name ? name : "<none>");
		return;
	}
	for (size_t i = 0; i < eg_node_len(ext); i++)
		if (ext->v[i]->kind == EG_NODE_SCALAR)
			(void)eg_buf_printf(c->out, "%s%s", c->out->len > before ? "," : "",
					    ext->v[i]->s);
	if (t && strcmp(t, "LoadBalancer") == 0) {
		for (size_t i = 0; i < eg_node_len(ing); i++) {
			const char *ip = eg_node_str(ing->v[i], "ip");
			const char *host = eg_node_str(ing->v[i], "hostname");

			if (ip || host)
				(void)eg_buf_printf(c->out, "%s%s", c->out->len > before ? "," : "",
						    ip ? ip : host);
		}
		if (c->out->len == before)
			(void)eg_buf_puts(c->out, "<pending>");
	}
	if (c->out->len == before)
		(void)eg_buf_puts(c->out, "<none>");
}

static void cell_svc_ports(struct cell_ctx *c)
{
	const struct eg_node *ports = eg_node_path(c->r->root, "spec.ports");

	if (eg_node_len(ports) == 0) {
		(void)eg_buf_puts(c->out, "<none>");
		return;
	}
	for (size_t i = 0; i < ports->n; i++) {
		const char *proto = eg_node_str(ports->v[i], "protocol");
		const char *node_port = eg_node_str(ports->v[i], "nodePort");
		const char *port = eg_node_str(ports->v[i], "port");

		(void)eg_buf_printf(c->out, "%s%s%s%s/%s", i ? "," : "", port ? port : "?",
				    node_port ? ":" : "", node_port ? node_port : "",
				    proto ? proto : "TCP");
	}
}

static void cell_svc_selector(struct cell_ctx *c)
{
	put_selector(c->out, eg_node_path(c->r->root, "spec.selector"));
}

static void cell_deploy_ready(struct cell_ctx *c)
{
	(void)eg_buf_printf(c->out, "%lld/%lld",
			    (long long)eg_node_int(c->r->root, "status.readyReplicas", 0),
			    (long long)eg_node_int(c->r->root, "spec.replicas", 1));
}

static void cell_deploy_updated(struct cell_ctx *c)
{
	(void)eg_buf_printf(c->out, "%lld",
			    (long long)eg_node_int(c->r->root, "status.updatedReplicas", 0));
}

static void cell_deploy_available(struct cell_ctx *c)
{
	(void)eg_buf_printf(c->out, "%lld",
			    (long long)eg_node_int(c->r->root, "status.availableReplicas", 0));
}

static void containers_field(struct cell_ctx *c, const char *field)
{
	const struct eg_node *cs = eg_node_path(c->r->root, "spec.template.spec.containers");

	for (size_t i = 0; i < eg_node_len(cs); i++) {
		const char *v = eg_node_str(cs->v[i], field);

		(void)eg_buf_printf(c->out, "%s%s", i ? "," : "", v ? v : "");
	}
}

static void cell_deploy_containers(struct cell_ctx *c)
{
	containers_field(c, "name");
}

static void cell_deploy_images(struct cell_ctx *c)
{
	containers_field(c, "image");
}

static void cell_deploy_selector(struct cell_ctx *c)
{
	put_selector(c->out, eg_node_path(c->r->root, "spec.selector.matchLabels"));
}

static void cell_cm_data(struct cell_ctx *c)
{
	(void)eg_buf_printf(c->out, "%zu",
			    eg_node_len(eg_node_get(c->r->root, "data")) +
				    eg_node_len(eg_node_get(c->r->root, "binaryData")));
}

static void cell_secret_type(struct cell_ctx *c)
{
	const char *t = eg_node_str(c->r->root, "type");

	(void)eg_buf_puts(c->out, t ? t : "Opaque");
}

static void cell_secret_data(struct cell_ctx *c)
{
	const struct eg_node *data = eg_node_get(c->r->root, "data");
	const struct eg_node *sd = eg_node_get(c->r->root, "stringData");
	size_t n = eg_node_len(data);

	/* stringData is merged into data by the API server */
	for (size_t i = 0; i < eg_node_len(sd); i++)
		if (!eg_node_get(data, sd->k[i]->s))
			n++;
	(void)eg_buf_printf(c->out, "%zu", n);
}

static void cell_sa_secrets(struct cell_ctx *c)
{
	(void)eg_buf_printf(c->out, "%zu", eg_node_len(eg_node_get(c->r->root, "secrets")));
}

/* Pods (written by the local cluster): kubectl's READY, STATUS and RESTARTS from
 * status.containerStatuses; STATUS is a waiting container's reason, else the phase. */
static void cell_pod_ready(struct cell_ctx *c)
{
	const struct eg_node *cs = eg_node_path(c->r->root, "status.containerStatuses");
	const struct eg_node *spec = eg_node_path(c->r->root, "spec.containers");
	size_t ready = 0, total = eg_node_len(cs) ? eg_node_len(cs) : eg_node_len(spec);

	for (size_t i = 0; i < eg_node_len(cs); i++) {
		const char *v = eg_node_str(cs->v[i], "ready");

		if (v && strcmp(v, "true") == 0)
			ready++;
	}
	(void)eg_buf_printf(c->out, "%zu/%zu", ready, total);
}

static void cell_pod_status(struct cell_ctx *c)
{
	const struct eg_node *cs = eg_node_path(c->r->root, "status.containerStatuses");
	const char *phase = eg_node_str(c->r->root, "status.phase");

	for (size_t i = 0; i < eg_node_len(cs); i++) {
		const char *why = eg_node_str(cs->v[i], "state.waiting.reason");

		if (why) {
			(void)eg_buf_puts(c->out, why);
			return;
		}
	}
	(void)eg_buf_puts(c->out, phase ? phase : "Pending");
}

static void cell_pod_restarts(struct cell_ctx *c)
{
	const struct eg_node *cs = eg_node_path(c->r->root, "status.containerStatuses");
	long long n = 0;

	for (size_t i = 0; i < eg_node_len(cs); i++) {
		const char *v = eg_node_str(cs->v[i], "restartCount");

		n += v ? atoll(v) : 0;
	}
	(void)eg_buf_printf(c->out, "%lld", n);
}

static void cell_pod_ip(struct cell_ctx *c)
{
	const char *ip = eg_node_str(c->r->root, "status.podIP");

	(void)eg_buf_puts(c->out, ip ? ip : "<none>");
}

#define AGE { "AGE", NULL, cell_age, false }

static const struct {
	const char *kind;
	struct column cols[8];
} kind_columns[] = {
	/* Istio's CRDs (additionalPrinterColumns) */
	{ "ServiceEntry",
	  { { "HOSTS", "spec.hosts" },
	    { "LOCATION", "spec.location" },
	    { "RESOLUTION", "spec.resolution" },
	    AGE } },
	{ "VirtualService", { { "GATEWAYS", "spec.gateways" }, { "HOSTS", "spec.hosts" }, AGE } },
	{ "DestinationRule", { { "HOST", "spec.host" }, AGE } },
	{ "Gateway", { AGE } },
	{ "AuthorizationPolicy", { { "ACTION", "spec.action" }, AGE } },
	/* kubectl's built-in printers */
	{ "Namespace", { { "STATUS", NULL, cell_ns_status }, AGE } },
	{ "Service",
	  { { "TYPE", NULL, cell_svc_type },
	    { "CLUSTER-IP", NULL, cell_svc_cluster_ip },
	    { "EXTERNAL-IP", NULL, cell_svc_external_ip },
	    { "PORT(S)", NULL, cell_svc_ports },
	    AGE,
	    { "SELECTOR", NULL, cell_svc_selector, true } } },
	{ "Deployment",
	  { { "READY", NULL, cell_deploy_ready },
	    { "UP-TO-DATE", NULL, cell_deploy_updated },
	    { "AVAILABLE", NULL, cell_deploy_available },
	    AGE,
	    { "CONTAINERS", NULL, cell_deploy_containers, true },
	    { "IMAGES", NULL, cell_deploy_images, true },
	    { "SELECTOR", NULL, cell_deploy_selector, true } } },
	{ "ConfigMap", { { "DATA", NULL, cell_cm_data }, AGE } },
	{ "Secret", { { "TYPE", NULL, cell_secret_type }, { "DATA", NULL, cell_secret_data }, AGE } },
	{ "ServiceAccount", { { "SECRETS", NULL, cell_sa_secrets }, AGE } },
	{ "Pod",
	  { { "READY", NULL, cell_pod_ready },
	    { "STATUS", NULL, cell_pod_status },
	    { "RESTARTS", NULL, cell_pod_restarts },
	    AGE,
	    { "IP", NULL, cell_pod_ip, true },
	    { "NODE", "spec.nodeName", NULL, true } } },
};

static const struct column default_columns[] = { AGE, { NULL } };

static const struct column *columns_of(const struct eg_kind *k)
{
	for (size_t i = 0; i < EG_ARRAY_SIZE(kind_columns); i++)
		if (strcmp(kind_columns[i].kind, k->kind) == 0)
			return kind_columns[i].cols;
	return default_columns;
}

static void cell_path(struct cell_ctx *c, const char *path)
{
	const struct eg_node *v = eg_node_path(c->r->root, path);

	if (!v || (v->kind == EG_NODE_SCALAR && v->tag == EG_TAG_NULL))
		return;
	if (v->kind == EG_NODE_SCALAR)
		(void)eg_buf_append(c->out, v->s, v->len);
	else
		(void)eg_node_emit_json(c->out, v, 0); /* kubectl prints list columns as JSON */
}

static int print_table(FILE *f, struct eg_resource *const *objs, size_t n, bool wide,
		       bool all_ns, int64_t now)
{
	const struct column *cols = columns_of(objs[0]->kind);
	const char *cells[32];
	struct eg_ctl_table t;
	struct eg_buf vals[32];
	size_t ncols = 0, ncells = 0;
	int r = 0;

	for (const struct column *c = cols; c->header; c++)
		if (!c->wide || wide)
			ncols++;
	ncells = ncols + 1 + (all_ns ? 1 : 0);
	eg_ctl_table_init(&t, ncells);
	ncells = 0;
	if (all_ns)
		cells[ncells++] = "NAMESPACE";
	cells[ncells++] = "NAME";
	for (const struct column *c = cols; c->header; c++)
		if (!c->wide || wide)
			cells[ncells++] = c->header;
	r = eg_ctl_table_row(&t, cells);
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct eg_resource *res = objs[i];
		size_t k = 0;

		ncells = 0;
		if (all_ns)
			cells[ncells++] = res->ns ? res->ns : "";
		cells[ncells++] = res->name;
		for (const struct column *c = cols; c->header; c++) {
			struct cell_ctx cx = { res, now, &vals[k] };

			if (c->wide && !wide)
				continue;
			eg_buf_init(&vals[k], 65536);
			if (c->fn)
				c->fn(&cx);
			else
				cell_path(&cx, c->path);
			cells[ncells++] = eg_buf_cstr(&vals[k]);
			k++;
		}
		r = eg_ctl_table_row(&t, cells);
		for (size_t j = 0; j < k; j++)
			eg_buf_done(&vals[j]);
	}
	if (r == 0)
		eg_ctl_table_print(&t, f);
	eg_ctl_table_done(&t);
	return r;
}

int eg_ctl_print_resources(FILE *f, const struct eg_ctl_output *o, struct eg_resource *const *objs,
			   size_t n, bool as_list, bool all_ns, int64_t now, const char **ret_err)
{
	struct eg_buf out = EG_BUF_INIT(1u << 30);
	struct eg_node *root;
	char q[256];
	int r = 0;

	switch (o->fmt) {
	case EG_CTL_OUT_TABLE:
	case EG_CTL_OUT_WIDE:
		return n ? print_table(f, objs, n, o->fmt == EG_CTL_OUT_WIDE, all_ns, now) : 0;
	case EG_CTL_OUT_NAME:
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s/%s\n", eg_kind_qualified(objs[i]->kind, q, sizeof(q)),
				objs[i]->name);
		return 0;
	default:
		break;
	}
	if (!as_list && n != 1)
		as_list = true;
	root = build_output(objs, n, as_list);
	if (!root)
		return -ENOMEM;
	switch (o->fmt) {
	case EG_CTL_OUT_YAML:
		r = eg_node_emit_yaml(&out, root);
		break;
	case EG_CTL_OUT_JSON:
		r = eg_node_emit_json(&out, root, 4);
		if (r == 0)
			r = eg_buf_putc(&out, '\n');
		break;
	case EG_CTL_OUT_JSONPATH:
		r = eg_ctl_jsonpath(o->jsonpath, root, &out, ret_err);
		break;
	default:
		break;
	}
	if (r == 0)
		fwrite(out.data ? out.data : "", 1, out.len, f);
	eg_buf_done(&out);
	eg_node_free(root);
	return r;
}
