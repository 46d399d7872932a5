/* src/model/node.c: libyaml events -> node tree with positions; node helpers; writers. */
#include "model/node.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <yaml.h>

#include "model/diag.h"

/* --- scalar resolution (YAML 1.2 core schema, plus the YAML 1.1 booleans that
 * Kubernetes' decoder still reads as booleans, so `enabled: yes` is not a string) --- */

static bool is_one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return true;
	return false;
}

int eg_scalar_int(const char *s, int64_t *ret)
{
	const char *p = s;
	bool neg = false;
	unsigned base = 10;
	uint64_t v = 0, lim;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o')) {
		base = p[1] == 'x' ? 16 : 8;
		p += 2;
	}
	if (!*p)
		return -EINVAL;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		if (v > (lim - d) / base) {
			/* still an integer, just not one we can hold: keep scanning the syntax */
			for (p++; *p; p++)
				if (!((*p >= '0' && *p <= '9') ||
				      (base == 16 && strchr("abcdefABCDEF", *p))) ||
				    (base == 8 && *p > '7'))
					return -EINVAL;
			return -ERANGE;
		}
		v = v * base + d;
	}
	if (ret)
		*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static bool is_int(const char *s)
{
	return eg_scalar_int(s, NULL) != -EINVAL;
}

static bool is_float(const char *s)
{
	static const char *const special[] = { ".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF",
					       "+.inf", ".nan", ".NaN", ".NAN", NULL };
	const char *p = s;
	bool digits = false;

	if (is_one_of(s, special))
		return true;
	if (*p == '-' || *p == '+')
		p++;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

static enum eg_scalar_tag resolve_plain(const char *s)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const bools[] = { "true", "True", "TRUE", "false", "False", "FALSE",
					     "yes", "Yes", "YES", "no", "No", "NO",
					     "on", "On", "ON", "off", "Off", "OFF", NULL };

	if (is_one_of(s, nulls))
		return EG_TAG_NULL;
	if (is_one_of(s, bools))
		return EG_TAG_BOOL;
	if (is_int(s))
		return EG_TAG_INT;
	if (is_float(s))
		return EG_TAG_FLOAT;
	return EG_TAG_STR;
}

/* --- node allocation --- */

static struct eg_node *node_new(enum eg_node_kind kind)
{
	struct eg_node *n = calloc(1, sizeof(*n));

	if (n)
		n->kind = kind;
	return n;
}

struct eg_node *eg_node_new_scalar(const char *s, size_t len, bool quoted)
{
	struct eg_node *n = node_new(EG_NODE_SCALAR);

	if (!n)
		return NULL;
	n->s = malloc(len + 1);
	if (!n->s) {
		free(n);
		return NULL;
	}
	memcpy(n->s, s, len);
	n->s[len] = '\0';
	n->len = len;
	n->quoted = quoted;
	n->tag = quoted ? EG_TAG_STR : resolve_plain(n->s);
	return n;
}

struct eg_node *eg_node_new_map(void)
{
	return node_new(EG_NODE_MAP);
}

struct eg_node *eg_node_new_seq(void)
{
	return node_new(EG_NODE_SEQ);
}

struct eg_node *eg_node_free(struct eg_node *n)
{
	if (!n)
		return NULL;
	for (size_t i = 0; i < n->n; i++) {
		if (n->k)
			eg_node_free(n->k[i]);
		eg_node_free(n->v[i]);
	}
	free(n->k);
	free(n->v);
	free(n->s);
	free(n);
	return NULL;
}

static int grow(struct eg_node *n)
{
	size_t cap = n->cap ? n->cap * 2 : 4;
	struct eg_node **v, **k;

	if (n->n < n->cap)
		return 0;
	v = realloc(n->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	n->v = v;
	if (n->kind == EG_NODE_MAP) {
		k = realloc(n->k, cap * sizeof(*k));
		if (!k)
			return -ENOMEM;
		n->k = k;
	}
	n->cap = cap;
	return 0;
}

int eg_node_map_add(struct eg_node *map, struct eg_node *key, struct eg_node *val)
{
	if (grow(map) < 0)
		return -ENOMEM;
	map->k[map->n] = key;
	map->v[map->n] = val;
	map->n++;
	return 0;
}

int eg_node_seq_add(struct eg_node *seq, struct eg_node *item)
{
	if (grow(seq) < 0)
		return -ENOMEM;
	seq->v[seq->n++] = item;
	return 0;
}

static ssize_t map_index(const struct eg_node *map, const char *key)
{
	if (!map || map->kind != EG_NODE_MAP)
		return -1;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->k[i]->s, key) == 0)
			return (ssize_t)i;
	return -1;
}

int eg_node_map_put(struct eg_node *map, const char *key, struct eg_node *val)
{
	ssize_t i = map_index(map, key);
	struct eg_node *k;

	if (i >= 0) {
		eg_node_free(map->v[i]);
		map->v[i] = val;
		return 0;
	}
	k = eg_node_new_scalar(key, strlen(key), true);
	if (!k)
		return -ENOMEM;
	if (eg_node_map_add(map, k, val) < 0) {
		eg_node_free(k);
		return -ENOMEM;
	}
	return 0;
}

int eg_node_map_set_str(struct eg_node *map, const char *key, const char *val)
{
	struct eg_node *v = eg_node_new_scalar(val, strlen(val), true);

	if (!v)
		return -ENOMEM;
	v->vtype = EG_V_STR;
	if (eg_node_map_put(map, key, v) < 0) {
		eg_node_free(v);
		return -ENOMEM;
	}
	return 0;
}

void eg_node_map_del(struct eg_node *map, const char *key)
{
	ssize_t i = map_index(map, key);

	if (i < 0)
		return;
	eg_node_free(map->k[i]);
	eg_node_free(map->v[i]);
	memmove(&map->k[i], &map->k[i + 1], (map->n - (size_t)i - 1) * sizeof(*map->k));
	memmove(&map->v[i], &map->v[i + 1], (map->n - (size_t)i - 1) * sizeof(*map->v));
	map->n--;
}

struct eg_node *eg_node_clone(const struct eg_node *n)
{
	struct eg_node *c;

	if (n->kind == EG_NODE_SCALAR) {
		c = eg_node_new_scalar(n->s, n->len, n->quoted);
		if (!c)
			return NULL;
		c->tag = n->tag;
		c->vtype = n->vtype;
		c->i = n->i;
		c->pos = n->pos;
		c->block_indent = n->block_indent;
		c->style = n->style;
		return c;
	}
	c = node_new(n->kind);
	if (!c)
		return NULL;
	c->pos = n->pos;
	for (size_t i = 0; i < n->n; i++) {
		struct eg_node *v = eg_node_clone(n->v[i]);
		struct eg_node *k = n->kind == EG_NODE_MAP ? eg_node_clone(n->k[i]) : NULL;
		int r;

		if (!v || (n->kind == EG_NODE_MAP && !k)) {
			eg_node_free(v);
			eg_node_free(k);
			return eg_node_free(c);
		}
		r = n->kind == EG_NODE_MAP ? eg_node_map_add(c, k, v) : eg_node_seq_add(c, v);
		if (r < 0) {
			eg_node_free(v);
			eg_node_free(k);
			return eg_node_free(c);
		}
	}
	return c;
}

struct eg_node *eg_node_get(const struct eg_node *map, const char *key)
{
	ssize_t i = map_index(map, key);

	return i < 0 ? NULL : map->v[i];
}

struct eg_node *eg_node_path(const struct eg_node *n, const char *path)
{
	char key[128];

	while (n && *path) {
		const char *dot = strchr(path, '.');
		size_t l = dot ? (size_t)(dot - path) : strlen(path);

		if (l >= sizeof(key))
			return NULL;
		memcpy(key, path, l);
		key[l] = '\0';
		n = eg_node_get(n, key);
		path += l + (dot ? 1 : 0);
	}
	return (struct eg_node *)n;
}

const char *eg_node_str(const struct eg_node *map, const char *path)
{
	const struct eg_node *n = eg_node_path(map, path);

	return n && n->kind == EG_NODE_SCALAR && n->tag != EG_TAG_NULL ? n->s : NULL;
}

int64_t eg_node_int(const struct eg_node *map, const char *path, int64_t def)
{
	const struct eg_node *n = eg_node_path(map, path);
	int64_t v;

	if (!n || n->kind != EG_NODE_SCALAR)
		return def;
	switch (n->vtype) {
	case EG_V_INT:
	case EG_V_BOOL:
	case EG_V_ENUM:
	case EG_V_DURATION:
		return n->i;
	default:
		break;
	}
	if (n->tag == EG_TAG_INT && eg_scalar_int(n->s, &v) == 0)
		return v;
	return def;
}

bool eg_node_bool(const struct eg_node *map, const char *path, bool def)
{
	static const char *const truths[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
					      "on", "On", "ON", NULL };
	const struct eg_node *n = eg_node_path(map, path);

	if (!n || n->kind != EG_NODE_SCALAR || n->tag != EG_TAG_BOOL)
		return def;
	return is_one_of(n->s, truths);
}

bool eg_node_equal(const struct eg_node *a, const struct eg_node *b)
{
	if (a->kind != b->kind || a->n != b->n)
		return false;
	if (a->kind == EG_NODE_SCALAR) {
		/* "~", "null" and nothing all mean null */
		if (a->tag == EG_TAG_NULL && b->tag == EG_TAG_NULL)
			return true;
		return a->tag == b->tag && a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (a->kind == EG_NODE_SEQ) {
			if (!eg_node_equal(a->v[i], b->v[i]))
				return false;
			continue;
		}
		const struct eg_node *bv = eg_node_get(b, a->k[i]->s);

		if (!bv || !eg_node_equal(a->v[i], bv))
			return false;
	}
	return true;
}

static int pair_cmp(const void *x, const void *y)
{
	const struct eg_node *const *a = x, *const *b = y;

	return strcmp(a[0]->s, b[0]->s);
}

int eg_node_sort_keys(struct eg_node *n)
{
	if (n->kind == EG_NODE_SCALAR)
		return 0;
	for (size_t i = 0; i < n->n; i++)
		if (eg_node_sort_keys(n->v[i]) < 0)
			return -ENOMEM;
	if (n->kind == EG_NODE_MAP && n->n > 1) {
		/* keys and values live in two arrays: sort them as (key, value) pairs */
		struct eg_node **pairs = malloc(n->n * 2 * sizeof(*pairs));

		if (!pairs)
			return -ENOMEM;
		for (size_t i = 0; i < n->n; i++) {
			pairs[2 * i] = n->k[i];
			pairs[2 * i + 1] = n->v[i];
		}
		qsort(pairs, n->n, 2 * sizeof(*pairs), pair_cmp);
		for (size_t i = 0; i < n->n; i++) {
			n->k[i] = pairs[2 * i];
			n->v[i] = pairs[2 * i + 1];
		}
		free(pairs);
	}
	return 0;
}

/* --- loader --- */

struct loader {
	const char *file;
	const char *data;
	size_t len;
	struct eg_diag *d;
	yaml_parser_t parser;
	size_t nodes;
	bool failed;
	const struct eg_node *outer; /* embedded YAML: the scalar that holds it */
	const char *what, *path;     /* embedded YAML: the resource and field, for diagnostics */
};

static struct eg_pos mark_pos(const struct loader *l, yaml_mark_t m)
{
	struct eg_pos p = { l->file, (uint32_t)m.line + 1, (uint32_t)m.column + 1 };
	const struct eg_node *o = l->outer;

	if (!o)
		return p;
	if (o->style == '|') {
		/* content line k is line k after the indicator, shifted by the indentation */
		p.line = o->pos.line + p.line;
		p.col = p.col + o->block_indent;
	} else if (o->style != '>' && !strchr(o->s, '\n')) {
		/* one line of text: shift the column; the reader reports an unexpected end on
		 * the line after it, which is just past the text */
		uint32_t c = p.line == 1 ? p.col : (uint32_t)o->len + 1;

		p.line = o->pos.line;
		p.col = o->pos.col + c - 1 + (o->style ? 1 : 0);
	} else {
		p.line = o->pos.line;
		p.col = o->pos.col;
	}
	return p;
}

static void report(struct loader *l, yaml_mark_t m, const char *fmt, const char *arg)
{
	struct eg_pos p = mark_pos(l, m);

	eg_diag_add(l->d, EG_DIAG_ERROR, &p, l->what, l->path, fmt, arg);
	l->failed = true;
}

static bool next_event(struct loader *l, yaml_event_t *ev)
{
	const char *prob;
	yaml_mark_t m;

	if (yaml_parser_parse(&l->parser, ev))
		return true;
	prob = l->parser.problem ? l->parser.problem : "malformed YAML";
	m = l->parser.problem_mark;
	if (m.index < l->len && l->data[m.index] == '\t')
		report(l, m, "%s: a tab character; YAML indents with spaces only", "invalid YAML");
	else if (l->parser.error == YAML_MEMORY_ERROR)
		report(l, m, "%s", "out of memory while reading YAML");
	else
		report(l, m, "invalid YAML: %s", prob);
	return false;
}

static uint8_t block_indent_at(const struct loader *l, size_t idx)
{
	size_t i = idx, spaces = 0;

	while (i < l->len && l->data[i] != '\n')
		i++;
	/* first non-empty content line after the indicator */
	while (i < l->len) {
		i++;
		spaces = 0;
		while (i < l->len && l->data[i] == ' ') {
			spaces++;
			i++;
		}
		if (i < l->len && l->data[i] != '\n')
			break;
	}
	return spaces > 255 ? 255 : (uint8_t)spaces;
}

static struct eg_node *load_node(struct loader *l, yaml_event_t *ev, unsigned depth);

static _Thread_local const struct eg_node *const *sort_keys;

static int key_cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = strcmp(sort_keys[i]->s, sort_keys[j]->s);

	return c ? c : (i < j ? -1 : i > j);
}

/* Reports every key that repeats an earlier one, in document order. Sorting keeps this
 * O(n log n): a map of 100,000 keys must not take minutes. */
static int check_duplicates(struct loader *l, const struct eg_node *map)
{
	size_t *idx, *first;

	if (map->n < 2)
		return 0;
	if (map->n <= 16) {
		for (size_t i = 1; i < map->n; i++) {
			for (size_t j = 0; j < i; j++) {
				if (strcmp(map->k[i]->s, map->k[j]->s) == 0) {
					struct eg_pos p = map->k[i]->pos;

					eg_diag_add(l->d, EG_DIAG_ERROR, &p, l->what, l->path,
						    "duplicate key \"%s\" (first at line %u, column %u)",
						    map->k[i]->s, map->k[j]->pos.line, map->k[j]->pos.col);
					l->failed = true;
					break;
				}
			}
		}
		return 0;
	}
	idx = malloc(map->n * sizeof(*idx));
	first = malloc(map->n * sizeof(*first));
	if (!idx || !first) {
		free(idx);
		free(first);
		l->failed = true;
		return -ENOMEM;
	}
	for (size_t i = 0; i < map->n; i++) {
		idx[i] = i;
		first[i] = SIZE_MAX;
	}
	/* qsort has no context argument: the keys go through a thread-local pointer that is
	 * only read inside this function */
	sort_keys = (const struct eg_node *const *)map->k;
	qsort(idx, map->n, sizeof(*idx), key_cmp);
	for (size_t i = 1; i < map->n; i++) {
		size_t a = idx[i - 1], b = idx[i];

		if (strcmp(map->k[a]->s, map->k[b]->s) == 0)
			first[b] = first[a] != SIZE_MAX ? first[a] : a;
	}
	sort_keys = NULL;
	for (size_t i = 0; i < map->n; i++) {
		if (first[i] != SIZE_MAX) {
			struct eg_pos p = map->k[i]->pos;
			const struct eg_node *pk = map->k[first[i]];

			eg_diag_add(l->d, EG_DIAG_ERROR, &p, l->what, l->path,
				    "duplicate key \"%s\" (first at line %u, column %u)", map->k[i]->s,
				    pk->pos.line, pk->pos.col);
			l->failed = true;
		}
	}
	free(idx);
	free(first);
	return 0;
}

static struct eg_node *load_collection(struct loader *l, yaml_event_t *start, unsigned depth)
{
	bool is_map = start->type == YAML_MAPPING_START_EVENT;
	struct eg_node *n = node_new(is_map ? EG_NODE_MAP : EG_NODE_SEQ);
	yaml_event_t ev;

	if (!n) {
		l->failed = true;
		return NULL;
	}
	n->pos = mark_pos(l, start->start_mark);
	if (depth >= EG_MODEL_MAX_DEPTH) {
		report(l, start->start_mark, "nesting deeper than %s levels", "64");
		return eg_node_free(n);
	}
	for (;;) {
		struct eg_node *key = NULL, *val;

		if (!next_event(l, &ev))
			return eg_node_free(n);
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			if (is_map && check_duplicates(l, n) < 0)
				return eg_node_free(n);
			return n;
		}
		if (is_map) {
			key = load_node(l, &ev, depth + 1);
			yaml_event_delete(&ev);
			if (!key)
				return eg_node_free(n);
			if (key->kind != EG_NODE_SCALAR) {
				struct eg_pos p = key->pos;

				eg_diag_add(l->d, EG_DIAG_ERROR, &p, l->what, l->path,
					    "invalid YAML: a map key must be a string");
				l->failed = true;
				eg_node_free(key);
				return eg_node_free(n);
			}
			if (!next_event(l, &ev)) {
				eg_node_free(key);
				return eg_node_free(n);
			}
		}
		val = load_node(l, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!val) {
			eg_node_free(key);
			return eg_node_free(n);
		}
		if (key) {
			if (eg_node_map_add(n, key, val) < 0) {
				eg_node_free(key);
				eg_node_free(val);
				l->failed = true;
				return eg_node_free(n);
			}
		} else if (eg_node_seq_add(n, val) < 0) {
			eg_node_free(val);
			l->failed = true;
			return eg_node_free(n);
		}
	}
}

static struct eg_node *load_node(struct loader *l, yaml_event_t *ev, unsigned depth)
{
	struct eg_node *n;

	if (++l->nodes > EG_MODEL_MAX_NODES) {
		report(l, ev->start_mark, "more than %s YAML nodes in one input", "1048576");
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		yaml_scalar_style_t st = ev->data.scalar.style;
		bool quoted = st != YAML_PLAIN_SCALAR_STYLE;

		if (ev->data.scalar.tag && !quoted) {
			const char *t = (const char *)ev->data.scalar.tag;

			if (strcmp(t, "tag:yaml.org,2002:str") == 0 || strcmp(t, "!!str") == 0)
				quoted = true;
		}
		n = eg_node_new_scalar((const char *)ev->data.scalar.value, ev->data.scalar.length,
				       quoted);
		if (!n) {
			l->failed = true;
			return NULL;
		}
		if (strlen(n->s) != n->len) {
			report(l, ev->start_mark, "invalid YAML: %s", "a NUL character in a string");
			return eg_node_free(n);
		}
		n->pos = mark_pos(l, ev->start_mark);
		if (st == YAML_LITERAL_SCALAR_STYLE || st == YAML_FOLDED_SCALAR_STYLE)
			n->block_indent = block_indent_at(l, ev->start_mark.index);
		n->style = st == YAML_LITERAL_SCALAR_STYLE	 ? '|'
			   : st == YAML_FOLDED_SCALAR_STYLE	 ? '>'
			   : st == YAML_SINGLE_QUOTED_SCALAR_STYLE ? '\''
			   : st == YAML_DOUBLE_QUOTED_SCALAR_STYLE ? '"'
								 : 0;
		return n;
	}
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		return load_collection(l, ev, depth);
	case YAML_ALIAS_EVENT:
		report(l, ev->start_mark, "%s", "YAML aliases (*name) are not supported");
		return NULL;
	default:
		report(l, ev->start_mark, "%s", "invalid YAML: unexpected event");
		return NULL;
	}
}

static int load(struct loader *lp, struct eg_node ***ret_docs, size_t *ret_n);

int eg_yaml_load(const char *file, const char *data, size_t len, struct eg_diag *d,
		 struct eg_node ***ret_docs, size_t *ret_n)
{
	struct loader l = { .file = file, .data = data, .len = len, .d = d };

	return load(&l, ret_docs, ret_n);
}

int eg_yaml_load_embedded(const struct eg_node *outer, const char *what, const char *path,
			  struct eg_diag *d, struct eg_node ***ret_docs, size_t *ret_n)
{
	struct loader l = { .file = outer->pos.file, .data = outer->s, .len = outer->len, .d = d,
			    .outer = outer, .what = what, .path = path };

	return load(&l, ret_docs, ret_n);
}

static int load(struct loader *lp, struct eg_node ***ret_docs, size_t *ret_n)
{
	struct loader l = *lp;
	const char *file = l.file;
	const char *data = l.data;
	size_t len = l.len;
	struct eg_diag *d = l.d;
	struct eg_node **docs = NULL;
	size_t n = 0, cap = 0;
	yaml_event_t ev;
	bool done = false;

	if (len > EG_MODEL_MAX_FILE_BYTES) {
		struct eg_pos p = { file, 0, 0 };

		/* the reader may stop early, so @len is only a lower bound */
		eg_diag_add(d, EG_DIAG_ERROR, &p, l.what, l.path,
			    "input is larger than the limit of %u bytes", EG_MODEL_MAX_FILE_BYTES);
		return -EINVAL;
	}
	if (!yaml_parser_initialize(&l.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&l.parser, (const unsigned char *)data, len);
	while (!done && !l.failed) {
		if (!next_event(&l, &ev))
			break;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT: {
			struct eg_node *root = load_node(&l, &ev, 0);

			if (!root)
				break;
			if (root->kind == EG_NODE_SCALAR && root->tag == EG_TAG_NULL) {
				eg_node_free(root);
				break;
			}
			if (n == EG_MODEL_MAX_DOCS) {
				report(&l, ev.start_mark, "more than %s documents in one input",
				       "10000");
				eg_node_free(root);
				break;
			}
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				struct eg_node **nd = realloc(docs, ncap * sizeof(*nd));

				if (!nd) {
					eg_node_free(root);
					l.failed = true;
					break;
				}
				docs = nd;
				cap = ncap;
			}
			docs[n++] = root;
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&l.parser);
	if (l.failed) {
		for (size_t i = 0; i < n; i++)
			eg_node_free(docs[i]);
		free(docs);
		return -EINVAL;
	}
	*ret_docs = docs;
	*ret_n = n;
	return 0;
}

/* --- writers --- */

/* Decodes the UTF-8 sequence at @s (@n bytes left): its length, 0 when malformed. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	*cp = c;
	return len;
}

/* Characters a YAML reader takes back unchanged outside quotes: the printable set minus tab,
 * NEL, the Unicode line and paragraph separators and the BOM (readers treat those as breaks
 * or strip them). */
static bool yaml_raw_char(uint32_t c)
{
	if (c == 0x85 || c == 0x2028 || c == 0x2029 || c == 0xfeff)
		return false;
	return (c >= 0x20 && c <= 0x7e) || (c >= 0xa0 && c <= 0xd7ff) ||
	       (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/* Every character of @n (except '\n' when @newlines) can be written as is. */
static bool raw_chars(const struct eg_node *n, bool newlines)
{
	const unsigned char *p = (const unsigned char *)n->s;
	size_t i = 0;

	while (i < n->len) {
		uint32_t c;
		size_t l = utf8_next(p + i, n->len - i, &c);

		if (!l)
			return false;
		if (!(yaml_raw_char(c) || (newlines && c == '\n')))
			return false;
		i += l;
	}
	return true;
}

static bool plain_safe(const struct eg_node *n)
{
	const char *s = n->s;

	if (n->len == 0 || resolve_plain(s) != EG_TAG_STR)
		return false;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) || s[0] == ' ' || s[n->len - 1] == ' ')
		return false;
	/* a document marker at the start of a line would end the document */
	if (strncmp(s, "...", 3) == 0)
		return false;
	for (size_t i = 0; i < n->len; i++) {
		if (s[i] == ':' && (i + 1 == n->len || s[i + 1] == ' '))
			return false;
		if (s[i] == '#' && i > 0 && s[i - 1] == ' ')
			return false;
	}
	return raw_chars(n, false);
}

static bool block_safe(const struct eg_node *n)
{
	const char *s = n->s;

	if (!memchr(s, '\n', n->len) || s[0] == ' ' || s[0] == '\n')
		return false;
	/* "|" keeps exactly one final newline, "|-" none: more than one cannot be said */
	if (n->len >= 2 && s[n->len - 1] == '\n' && s[n->len - 2] == '\n')
		return false;
	/* trailing blanks on a line, and blank-only lines, are where readers disagree */
	for (size_t i = 0; i < n->len; i++) {
		if ((s[i] == ' ' || s[i] == '\t') && (i + 1 == n->len || s[i + 1] == '\n'))
			return false;
		if (s[i] == '\t' && (i == 0 || s[i - 1] == '\n'))
			return false;
	}
	return raw_chars(n, true);
}

static int indent_to(struct eg_buf *out, unsigned ind)
{
	for (unsigned i = 0; i < ind; i++)
		if (eg_buf_putc(out, ' ') < 0)
			return -E2BIG;
	return 0;
}

/* A double-quoted YAML scalar: printable characters as they are, the rest escaped. */
static int emit_quoted(struct eg_buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	int r = eg_buf_putc(out, '"');

	while (r == 0 && i < len) {
		uint32_t c;
		size_t l = utf8_next(p + i, len - i, &c);

		if (!l) {
			/* not UTF-8 (cannot come from a YAML reader): keep the byte's value */
			r = eg_buf_printf(out, "\\x%02x", p[i]);
			i++;
			continue;
		}
		if (c == '"' || c == '\\')
			r = eg_buf_printf(out, "\\%c", (char)c);
		else if (c == '\n')
			r = eg_buf_puts(out, "\\n");
		else if (c == '\t')
			r = eg_buf_puts(out, "\\t");
		else if (c == '\r')
			r = eg_buf_puts(out, "\\r");
		else if (yaml_raw_char(c))
			r = eg_buf_append(out, s + i, l);
		else if (c < 0x100)
			r = eg_buf_printf(out, "\\x%02x", (unsigned)c);
		else if (c < 0x10000)
			r = eg_buf_printf(out, "\\u%04x", (unsigned)c);
		else
			r = eg_buf_printf(out, "\\U%08x", (unsigned)c);
		i += l;
	}
	return r ? r : eg_buf_putc(out, '"');
}

/* A plain scalar that is not a string (number, boolean, null) reads back as itself. */
static bool plain_typed(const struct eg_node *n)
{
	return !n->quoted && n->tag != EG_TAG_STR && resolve_plain(n->s) == n->tag &&
	       (n->len == 0 || raw_chars(n, false));
}

static int emit_scalar_yaml(struct eg_buf *out, const struct eg_node *n, unsigned ind, bool key)
{
	if (plain_typed(n) && !(key && n->len == 0))
		return eg_buf_append(out, n->s, n->len);
	if (n->tag == EG_TAG_STR && plain_safe(n))
		return eg_buf_append(out, n->s, n->len);
	if (!key && n->tag == EG_TAG_STR && block_safe(n)) {
		const char *p = n->s, *end = n->s + n->len;
		int r = eg_buf_puts(out, n->s[n->len - 1] == '\n' ? "|" : "|-");

		while (r == 0 && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

			r = eg_buf_putc(out, '\n');
			if (r == 0 && l)
				r = indent_to(out, ind);
			if (r == 0)
				r = eg_buf_append(out, p, l);
			p += l + 1;
		}
		return r;
	}
	return emit_quoted(out, n->s, n->len);
}

/* YAML readers refuse implicit keys of 1024 characters or more: longer keys are written in
 * the explicit "? key" form. */
#define IMPLICIT_KEY_MAX 1000

static int emit_yaml(struct eg_buf *out, const struct eg_node *n, unsigned ind, bool inline_first)
{
	int r = 0;

	if (n->kind == EG_NODE_SCALAR)
		return emit_scalar_yaml(out, n, ind, false);
	if (n->n == 0)
		return eg_buf_puts(out, n->kind == EG_NODE_MAP ? "{}" : "[]");
	for (size_t i = 0; i < n->n && r == 0; i++) {
		const struct eg_node *v = n->v[i];
		size_t key_at;
		bool explicit_key;

		if (!(i == 0 && inline_first))
			r = indent_to(out, ind);
		if (r < 0)
			break;
		if (n->kind == EG_NODE_SEQ) {
			r = eg_buf_puts(out, "- ");
			if (r == 0 && v->kind == EG_NODE_MAP && v->n)
				r = emit_yaml(out, v, ind + 2, true);
			else if (r == 0 && v->kind == EG_NODE_SEQ && v->n) {
				r = eg_buf_putc(out, '\n');
				if (r == 0)
					r = emit_yaml(out, v, ind + 2, false);
			} else if (r == 0) {
				r = emit_yaml(out, v, ind + 2, false);
				if (r == 0)
					r = eg_buf_putc(out, '\n');
			}
			continue;
		}
		key_at = out->len;
		r = emit_scalar_yaml(out, n->k[i], ind, true);
		if (r < 0)
			break;
		explicit_key = out->len - key_at > IMPLICIT_KEY_MAX;
		if (explicit_key) {
			/* redo it as "? KEY" NEWLINE ": VALUE" */
			out->len = key_at;
			out->data[out->len] = '\0';
			r = eg_buf_puts(out, "? ");
			if (r == 0)
				r = emit_scalar_yaml(out, n->k[i], ind + 2, true);
			if (r == 0)
				r = eg_buf_putc(out, '\n');
			if (r == 0)
				r = indent_to(out, ind);
		}
		if (r == 0)
			r = eg_buf_putc(out, ':');
		if (r < 0)
			break;
		if (v->kind == EG_NODE_SCALAR || v->n == 0) {
			r = eg_buf_putc(out, ' ');
			if (r == 0)
				r = emit_yaml(out, v, ind + 2, false);
			if (r == 0)
				r = eg_buf_putc(out, '\n');
		} else {
			r = eg_buf_putc(out, '\n');
			/* sequences under a key sit at the key's indentation, as kubectl writes */
			if (r == 0)
				r = emit_yaml(out, v,
					      v->kind == EG_NODE_SEQ && !explicit_key ? ind : ind + 2,
					      false);
		}
	}
	return r;
}

int eg_node_emit_yaml(struct eg_buf *out, const struct eg_node *n)
{
	int r = emit_yaml(out, n, 0, false);

	if (r == 0 && n->kind == EG_NODE_SCALAR)
		r = eg_buf_putc(out, '\n');
	return r;
}

static int emit_json(struct eg_buf *out, const struct eg_node *n, int indent, int level)
{
	int r = 0;

	if (n->kind == EG_NODE_SCALAR) {
		if (!n->quoted) {
			switch (n->tag) {
			case EG_TAG_NULL:
				return eg_buf_puts(out, "null");
			case EG_TAG_BOOL:
				return eg_buf_puts(out, eg_node_bool(n, "", false) ? "true"
										   : "false");
			case EG_TAG_INT: {
				int64_t v;

				/* 0x1f, 0o17 and +5 are YAML, not JSON: print the value */
				if (eg_scalar_int(n->s, &v) == 0)
					return eg_buf_printf(out, "%lld", (long long)v);
				break;
			}
			case EG_TAG_FLOAT: {
				double v = strtod(n->s, NULL);
				char num[64];

				/* .inf and .nan (which strtod does not read) have no JSON number */
				if (strpbrk(n->s, "iInN") || !isfinite(v))
					break;
				/* the shortest spelling that reads back as the same double */
				for (int prec = 15; prec <= 17; prec++) {
					snprintf(num, sizeof(num), "%.*g", prec, v);
					if (strtod(num, NULL) == v)
						break;
				}
				return strpbrk(num, ".eE") ? eg_buf_puts(out, num)
							   : eg_buf_printf(out, "%s.0", num);
			}
			default:
				break;
			}
		}
		if (eg_buf_putc(out, '"') < 0 || eg_buf_json_escape(out, n->s, n->len) < 0)
			return -E2BIG;
		return eg_buf_putc(out, '"');
	}
	r = eg_buf_putc(out, n->kind == EG_NODE_MAP ? '{' : '[');
	for (size_t i = 0; i < n->n && r == 0; i++) {
		if (i)
			r = eg_buf_putc(out, ',');
		if (r == 0 && indent) {
			r = eg_buf_putc(out, '\n');
			if (r == 0)
				r = indent_to(out, (unsigned)(indent * (level + 1)));
		}
		if (r == 0 && n->kind == EG_NODE_MAP) {
			r = eg_buf_putc(out, '"');
			if (r == 0)
				r = eg_buf_json_escape(out, n->k[i]->s, n->k[i]->len);
			if (r == 0)
				r = eg_buf_puts(out, indent ? "\": " : "\":");
		}
		if (r == 0)
			r = emit_json(out, n->v[i], indent, level + 1);
	}
	if (r == 0 && indent && n->n) {
		r = eg_buf_putc(out, '\n');
		if (r == 0)
			r = indent_to(out, (unsigned)(indent * level));
	}
	if (r == 0)
		r = eg_buf_putc(out, n->kind == EG_NODE_MAP ? '}' : ']');
	return r;
}

int eg_node_emit_json(struct eg_buf *out, const struct eg_node *n, int indent)
{
	return emit_json(out, n, indent, 0);
}
