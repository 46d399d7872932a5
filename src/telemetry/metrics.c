/* src/telemetry/metrics.c: metrics registry with per-worker shards, bounded series tables,
 * and the Prometheus (0.0.4) and Envoy-style /stats expositions. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdlib.h>

#include "core/compiler.h"
#include "telemetry/telemetry.h"

#define MAX_SERIES_LIMIT 1000000u
#define MAX_BOUNDS       64
#define CACHELINE        64

const double eg_metrics_istio_buckets[19] = {0.5,   1,      5,      10,      25,     50,    100,
                                             250,   500,    1000,   2500,    5000,   10000, 30000,
                                             60000, 300000, 600000, 1800000, 3600000};

struct series {
	uint64_t key;
	uint32_t id;
	unsigned n;
	char *rendered; /* `a="x",b="y"` with values escaped; "" without labels */
	size_t rendered_len;
	struct eg_str v[]; /* values, stored after the struct in the same allocation */
};

struct eg_metrics_schema {
	struct eg_metrics *m;
	unsigned n; /* label names */
	char **names;
	unsigned max;                    /* series ids 1..max; 0 is the overflow series */
	_Atomic(struct series *) *slots; /* open addressing, load <= 1/2, never shrinks */
	size_t mask;
	struct series **by_id;       /* [max + 1]; written before count is released */
	_Atomic uint32_t count;      /* series created */
	_Atomic uint64_t overflowed; /* label sets refused because the table was full */
	pthread_mutex_t lock;        /* creation only */
	struct eg_metrics_schema *next;
};

struct eg_metrics_family {
	struct eg_metrics *m;
	struct eg_metrics_schema *s; /* NULL: one series (id 0) without labels */
	char *name;
	char *help;
	enum eg_metric_type type;
	double *bounds;
	char (*le)[32]; /* bounds as exposed */
	unsigned n_bounds;
	unsigned ncells;          /* 1, or n_bounds + 1 buckets and the sum (double bits) */
	size_t nseries;           /* cells per shard = nseries * ncells */
	_Atomic uint64_t **cells; /* [n_shards + 1]: worker shards, then the shared one */
	void **raw;               /* the allocations behind cells */
	int64_t (*fn)(const void *ctx);
	const void *fn_ctx;
	struct eg_metrics_family *next;
};

struct eg_metrics {
	unsigned n_shards;
	pthread_mutex_t lock; /* registration and scrapes; never taken by workers */
	struct eg_metrics_family *families, **tail;
	struct eg_metrics_schema *schemas;
};

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t labels_key(const struct eg_metrics_labels *l)
{
	uint64_t k = 0x9e3779b97f4a7c15ULL ^ l->n;

	for (unsigned i = 0; i < l->n; i++)
		k = mix64(k + l->h[i]);
	return k;
}

/* ---- registry ---------------------------------------------------------------------------- */

int eg_metrics_new(unsigned n_shards, struct eg_metrics **ret)
{
	struct eg_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->n_shards = n_shards ? n_shards : 1;
	m->tail = &m->families;
	pthread_mutex_init(&m->lock, NULL);
	*ret = m;
	return 0;
}

static void family_free(struct eg_metrics_family *f)
{
	if (f->raw)
		for (unsigned i = 0; i <= f->m->n_shards; i++)
			free(f->raw[i]);
	free(f->raw);
	free(f->cells);
	free(f->bounds);
	free(f->le);
	free(f->name);
	free(f->help);
	free(f);
}

static void schema_free(struct eg_metrics_schema *s)
{
	uint32_t count = atomic_load(&s->count);

	if (s->by_id)
		for (uint32_t i = 0; i <= count; i++)
			free(s->by_id[i]);
	for (unsigned i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s->by_id);
	free(s->slots);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

struct eg_metrics *eg_metrics_free(struct eg_metrics *m)
{
	if (!m)
		return NULL;
	while (m->families) {
		struct eg_metrics_family *f = m->families;

		m->families = f->next;
		family_free(f);
	}
	while (m->schemas) {
		struct eg_metrics_schema *s = m->schemas;

		m->schemas = s->next;
		schema_free(s);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
	return NULL;
}

unsigned eg_metrics_shards(const struct eg_metrics *m)
{
	return m->n_shards;
}

static bool valid_name(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		          (colon && c == ':') || (p != s && c >= '0' && c <= '9');

		if (!ok)
			return false;
	}
	return true;
}

/* Escapes a label value (\\, \", \n) as the text format wants. */
static int put_label_value(struct eg_buf *b, struct eg_str v)
{
	int r = 0;

	for (size_t i = 0; i < v.len && r >= 0; i++) {
		char c = v.ptr[i];

		if (c == '\\')
			r = eg_buf_append(b, "\\\\", 2);
		else if (c == '"')
			r = eg_buf_append(b, "\\\"", 2);
		else if (c == '\n')
			r = eg_buf_append(b, "\\n", 2);
		else
			r = eg_buf_putc(b, c);
	}
	return r;
}

/* One allocation: the struct, the value slices' bytes, and the rendered label list. */
static struct series *series_new(const struct eg_metrics_schema *s, const struct eg_str *v,
                                 uint64_t key, uint32_t id)
{
	struct eg_buf r = EG_BUF_INIT(s->n * (EG_METRICS_VALUE_MAX * 2 + 80) + 1);
	size_t bytes = 0, off;
	struct series *se;
	char *p;

	for (unsigned i = 0; i < s->n; i++) {
		if (i && eg_buf_putc(&r, ',') < 0)
			goto out_buf;
		if (eg_buf_puts(&r, s->names[i]) < 0 || eg_buf_append(&r, "=\"", 2) < 0 ||
		    put_label_value(&r, v[i]) < 0 || eg_buf_putc(&r, '"') < 0)
			goto out_buf;
		bytes += v[i].len;
	}
	off = sizeof(*se) + s->n * sizeof(struct eg_str);
	se = malloc(off + bytes + r.len + 1);
	if (!se)
		goto out_buf;
	se->key = key;
	se->id = id;
	se->n = s->n;
	p = (char *)se + off;
	for (unsigned i = 0; i < s->n; i++) {
		memcpy(p, v[i].ptr, v[i].len);
		se->v[i] = (struct eg_str){p, v[i].len};
		p += v[i].len;
	}
	se->rendered = p;
	se->rendered_len = r.len;
	memcpy(p, eg_buf_cstr(&r), r.len + 1);
	eg_buf_done(&r);
	return se;

out_buf:
	eg_buf_done(&r);
	return NULL;
}

int eg_metrics_schema_new(struct eg_metrics *m, const char *const *label_names, unsigned n,
                          unsigned max_series, struct eg_metrics_schema **ret)
{
	struct eg_metrics_schema *s;
	struct eg_str ov[EG_METRICS_MAX_LABELS];
	size_t slots = 1;

	if (n == 0 || n > EG_METRICS_MAX_LABELS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!valid_name(label_names[i], false) || strcmp(label_names[i], "le") == 0 ||
		    strncmp(label_names[i], "__", 2) == 0)
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (strcmp(label_names[i], label_names[j]) == 0)
				return -EINVAL;
	}
	if (!max_series)
		max_series = EG_METRICS_MAX_SERIES;
	if (max_series > MAX_SERIES_LIMIT)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->m = m;
	s->max = max_series;
	while (slots < 2 * (size_t)max_series)
		slots <<= 1;
	s->mask = slots - 1;
	s->slots = calloc(slots, sizeof(*s->slots));
	s->by_id = calloc((size_t)max_series + 1, sizeof(*s->by_id));
	s->names = calloc(n, sizeof(*s->names));
	if (!s->slots || !s->by_id || !s->names)
		goto out_nomem;
	s->n = n;
	for (unsigned i = 0; i < n; i++) {
		s->names[i] = strdup(label_names[i]);
		if (!s->names[i])
			goto out_nomem;
		ov[i] = EG_STR("overflow");
	}
	s->by_id[0] = series_new(s, ov, 0, 0);
	if (!s->by_id[0])
		goto out_nomem;
	pthread_mutex_lock(&m->lock);
	s->next = m->schemas;
	m->schemas = s;
	pthread_mutex_unlock(&m->lock);
	*ret = s;
	return 0;

out_nomem:
	schema_free(s);
	return -ENOMEM;
}

static bool name_taken(const struct eg_metrics *m, const char *name)
{
	for (const struct eg_metrics_family *f = m->families; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			return true;
	return false;
}

static void fmt_double(double v, char *out, size_t cap)
{
	if (isnan(v)) {
		snprintf(out, cap, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* integers as integers (le="3600000", as Envoy prints them), else the shortest form
	 * that reads back exactly */
	if (fabs(v) < 1e15 && v == (double)(int64_t)v) {
		snprintf(out, cap, "%.0f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, cap, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static int family_add(struct eg_metrics *m, struct eg_metrics_family *f)
{
	int r = 0;

	pthread_mutex_lock(&m->lock);
	if (name_taken(m, f->name)) {
		r = -EEXIST;
	} else {
		*m->tail = f;
		m->tail = &f->next;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

int eg_metrics_family_new(struct eg_metrics *m, struct eg_metrics_schema *s, const char *name,
                          const char *help, enum eg_metric_type type, const double *bounds,
                          unsigned n_bounds, struct eg_metrics_family **ret)
{
	struct eg_metrics_family *f;
	int r;

	if (!valid_name(name, true) || (s && s->m != m))
		return -EINVAL;
	if (type == EG_METRIC_HISTOGRAM) {
		if (!bounds || n_bounds == 0 || n_bounds > MAX_BOUNDS)
			return -EINVAL;
		for (unsigned i = 0; i < n_bounds; i++)
			if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
				return -EINVAL;
	} else if (type != EG_METRIC_COUNTER && type != EG_METRIC_GAUGE) {
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->m = m;
	f->s = s;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->nseries = s ? (size_t)s->max + 1 : 1;
	f->ncells = type == EG_METRIC_HISTOGRAM ? n_bounds + 2 : 1;
	f->cells = calloc(m->n_shards + 1, sizeof(*f->cells));
	f->raw = calloc(m->n_shards + 1, sizeof(*f->raw));
	if (!f->name || !f->help || !f->cells || !f->raw)
		goto out_nomem;
	if (type == EG_METRIC_HISTOGRAM) {
		f->n_bounds = n_bounds;
		f->bounds = malloc(n_bounds * sizeof(*f->bounds));
		f->le = malloc(n_bounds * sizeof(*f->le));
		if (!f->bounds || !f->le)
			goto out_nomem;
		for (unsigned i = 0; i < n_bounds; i++) {
			f->bounds[i] = bounds[i];
			fmt_double(bounds[i], f->le[i], sizeof(f->le[i]));
		}
	}
	for (unsigned i = 0; i <= m->n_shards; i++) {
		/* calloc: large tables come from fresh zero pages, resident only once touched;
		 * the padding keeps two shards from sharing a cache line */
		size_t bytes = f->nseries * f->ncells * sizeof(uint64_t) + 2 * CACHELINE;

		f->raw[i] = calloc(1, bytes);
		if (!f->raw[i])
			goto out_nomem;
		f->cells[i] = (_Atomic uint64_t *)(((uintptr_t)f->raw[i] + CACHELINE) &
		                                   ~(uintptr_t)(CACHELINE - 1));
	}
	r = family_add(m, f);
	if (r < 0) {
		family_free(f);
		return r;
	}
	if (ret)
		*ret = f;
	return 0;

out_nomem:
	family_free(f);
	return -ENOMEM;
}

int eg_metrics_callback_new(struct eg_metrics *m, const char *name, const char *help,
                            enum eg_metric_type type, int64_t (*fn)(const void *ctx),
                            const void *ctx)
{
	struct eg_metrics_family *f;
	int r;

	if (!valid_name(name, true) || !fn ||
	    (type != EG_METRIC_COUNTER && type != EG_METRIC_GAUGE))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->m = m;
	f->type = type;
	f->fn = fn;
	f->fn_ctx = ctx;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	if (!f->name || !f->help) {
		family_free(f);
		return -ENOMEM;
	}
	r = family_add(m, f);
	if (r < 0)
		family_free(f);
	return r;
}

/* ---- labels and series ------------------------------------------------------------------- */

static uint64_t unknown_hash(void)
{
	static _Atomic uint64_t cached;
	uint64_t h = atomic_load_explicit(&cached, memory_order_relaxed);

	/* two threads may both compute it: same value */
	if (!h) {
		h = eg_hash("unknown", 7);
		atomic_store_explicit(&cached, h, memory_order_relaxed);
	}
	return h;
}

void eg_metrics_labels_init(struct eg_metrics_labels *l, const struct eg_metrics_schema *s)
{
	uint64_t h = unknown_hash();

	l->n = s ? s->n : 0;
	for (unsigned i = 0; i < l->n; i++) {
		l->v[i] = EG_STR("unknown");
		l->h[i] = h;
	}
}

void eg_metrics_labels_set(struct eg_metrics_labels *l, unsigned i, struct eg_str v)
{
	if (i >= EG_METRICS_MAX_LABELS)
		return;
	if (!v.len || !v.ptr) {
		l->v[i] = EG_STR("unknown");
		l->h[i] = unknown_hash();
		return;
	}
	if (v.len > EG_METRICS_VALUE_MAX)
		v.len = EG_METRICS_VALUE_MAX;
	l->v[i] = v;
	l->h[i] = eg_hash(v.ptr, v.len);
}

static bool series_eq(const struct series *se, uint64_t key, const struct eg_metrics_labels *l)
{
	if (se->key != key || se->n != l->n)
		return false;
	for (unsigned i = 0; i < l->n; i++)
		if (!eg_str_eq(se->v[i], l->v[i]))
			return false;
	return true;
}

static struct series *probe(struct eg_metrics_schema *s, uint64_t key,
                            const struct eg_metrics_labels *l, size_t *ret_free_slot)
{
	size_t i = (size_t)key & s->mask;

	for (size_t k = 0; k <= s->mask; k++, i = (i + 1) & s->mask) {
		struct series *se = atomic_load_explicit(&s->slots[i], memory_order_acquire);

		if (!se) {
			*ret_free_slot = i;
			return NULL;
		}
		if (series_eq(se, key, l))
			return se;
	}
	*ret_free_slot = SIZE_MAX; /* cannot happen at load <= 1/2 */
	return NULL;
}

static uint32_t overflow(struct eg_metrics_schema *s)
{
	atomic_fetch_add_explicit(&s->overflowed, 1, memory_order_relaxed);
	return EG_METRICS_OVERFLOW;
}

uint32_t eg_metrics_series(struct eg_metrics_schema *s, const struct eg_metrics_labels *l)
{
	uint64_t key;
	struct series *se;
	size_t slot;
	uint32_t id;

	if (l->n != s->n)
		return overflow(s);
	key = labels_key(l);
	se = probe(s, key, l, &slot);
	if (EG_LIKELY(se != NULL))
		return se->id;
	if (atomic_load_explicit(&s->count, memory_order_relaxed) >= s->max)
		return overflow(s);
	pthread_mutex_lock(&s->lock);
	se = probe(s, key, l, &slot); /* another thread may have created it meanwhile */
	if (se) {
		id = se->id;
		goto out_unlock;
	}
	id = atomic_load_explicit(&s->count, memory_order_relaxed) + 1;
	if (id > s->max || slot == SIZE_MAX || !(se = series_new(s, l->v, key, id))) {
		pthread_mutex_unlock(&s->lock);
		return overflow(s);
	}
	s->by_id[id] = se;
	atomic_store_explicit(&s->slots[slot], se, memory_order_release);
	atomic_store_explicit(&s->count, id, memory_order_release);
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return id;
}

unsigned eg_metrics_schema_count(const struct eg_metrics_schema *s)
{
	return atomic_load_explicit(&s->count, memory_order_acquire);
}

uint64_t eg_metrics_overflowed(const struct eg_metrics *m)
{
	uint64_t n = 0;

	for (const struct eg_metrics_schema *s = m->schemas; s; s = s->next)
		n += atomic_load_explicit(&s->overflowed, memory_order_relaxed);
	return n;
}

/* ---- updates (hot path) ------------------------------------------------------------------ */

static inline _Atomic uint64_t *cell(struct eg_metrics_family *f, unsigned shard, uint32_t series,
                                     unsigned k)
{
	if (series >= f->nseries)
		series = EG_METRICS_OVERFLOW;
	if (shard > f->m->n_shards)
		shard = f->m->n_shards;
	return &f->cells[shard][(size_t)series * f->ncells + k];
}

static inline void cell_add(struct eg_metrics_family *f, unsigned shard, uint32_t series,
                            unsigned k, uint64_t v)
{
	_Atomic uint64_t *c;

	if (shard >= f->m->n_shards) { /* the shared cells: any thread, atomically */
		atomic_fetch_add_explicit(cell(f, f->m->n_shards, series, k), v,
		                          memory_order_relaxed);
		return;
	}
	/* the worker's own cell: nobody else writes it, so no read-modify-write is needed;
	 * relaxed atomics only keep a concurrent scrape from reading a torn value */
	c = cell(f, shard, series, k);
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
	                      memory_order_relaxed);
}

void eg_metrics_add(struct eg_metrics_family *f, unsigned shard, uint32_t series, uint64_t v)
{
	if (f->type == EG_METRIC_HISTOGRAM || f->fn)
		return;
	cell_add(f, shard, series, 0, v);
}

void eg_metrics_gauge_add(struct eg_metrics_family *f, unsigned shard, uint32_t series,
                          int64_t delta)
{
	if (f->type != EG_METRIC_GAUGE || f->fn)
		return;
	cell_add(f, shard, series, 0, (uint64_t)delta);
}

void eg_metrics_gauge_set(struct eg_metrics_family *f, uint32_t series, int64_t v)
{
	if (f->type != EG_METRIC_GAUGE || f->fn)
		return;
	atomic_store_explicit(cell(f, f->m->n_shards, series, 0), (uint64_t)v,
	                      memory_order_relaxed);
}

static uint64_t dbits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bitsd(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

void eg_metrics_observe(struct eg_metrics_family *f, unsigned shard, uint32_t series, double v)
{
	unsigned b = 0, sum;
	_Atomic uint64_t *c;

	if (f->type != EG_METRIC_HISTOGRAM || isnan(v))
		return;
	while (b < f->n_bounds && v > f->bounds[b]) /* le: bucket b holds v <= bounds[b] */
		b++;
	cell_add(f, shard, series, b, 1);
	sum = f->n_bounds + 1;
	if (shard >= f->m->n_shards) {
		uint64_t old;

		c = cell(f, f->m->n_shards, series, sum);
		old = atomic_load_explicit(c, memory_order_relaxed);
		while (!atomic_compare_exchange_weak_explicit(
		        c, &old, dbits(bitsd(old) + v), memory_order_relaxed, memory_order_relaxed))
			;
		return;
	}
	c = cell(f, shard, series, sum);
	atomic_store_explicit(c, dbits(bitsd(atomic_load_explicit(c, memory_order_relaxed)) + v),
	                      memory_order_relaxed);
}

/* ---- reads (scrape side) ----------------------------------------------------------------- */

static uint64_t cell_sum(const struct eg_metrics_family *f, uint32_t series, unsigned k)
{
	uint64_t v = 0;

	if (series >= f->nseries)
		return 0;
	for (unsigned i = 0; i <= f->m->n_shards; i++)
		v += atomic_load_explicit(&f->cells[i][(size_t)series * f->ncells + k],
		                          memory_order_relaxed);
	return v;
}

uint64_t eg_metrics_counter_value(const struct eg_metrics_family *f, uint32_t series)
{
	if (f->fn)
		return (uint64_t)f->fn(f->fn_ctx);
	return f->type == EG_METRIC_HISTOGRAM ? 0 : cell_sum(f, series, 0);
}

int64_t eg_metrics_gauge_value(const struct eg_metrics_family *f, uint32_t series)
{
	return (int64_t)eg_metrics_counter_value(f, series);
}

void eg_metrics_histogram_value(const struct eg_metrics_family *f, uint32_t series,
                                uint64_t *ret_cumulative, double *ret_sum)
{
	uint64_t run = 0;
	double sum = 0;

	if (f->type != EG_METRIC_HISTOGRAM)
		return;
	for (unsigned b = 0; b <= f->n_bounds; b++) {
		run += cell_sum(f, series, b);
		ret_cumulative[b] = run;
	}
	if (series < f->nseries)
		for (unsigned i = 0; i <= f->m->n_shards; i++)
			sum += bitsd(atomic_load_explicit(
			        &f->cells[i][(size_t)series * f->ncells + f->n_bounds + 1],
			        memory_order_relaxed));
	*ret_sum = sum;
}

static bool series_used(const struct eg_metrics_family *f, uint32_t series)
{
	for (unsigned k = 0; k < f->ncells; k++)
		if (cell_sum(f, series, k))
			return true;
	return false;
}

/* ---- expositions ------------------------------------------------------------------------- */

static int put_help(struct eg_buf *b, const char *s)
{
	int r = 0;

	for (; *s && r >= 0; s++) {
		if (*s == '\\')
			r = eg_buf_append(b, "\\\\", 2);
		else if (*s == '\n')
			r = eg_buf_append(b, "\\n", 2);
		else
			r = eg_buf_putc(b, *s);
	}
	return r;
}

/* name[suffix]{labels[,extra]} */
static int put_series_name(struct eg_buf *b, const struct eg_metrics_family *f, const char *suffix,
                           const struct series *se, const char *extra)
{
	bool labels = se && se->rendered_len;
	int r = eg_buf_puts(b, f->name);

	if (r >= 0 && suffix)
		r = eg_buf_puts(b, suffix);
	if (r < 0 || (!labels && !extra))
		return r;
	r = eg_buf_putc(b, '{');
	if (r >= 0 && labels)
		r = eg_buf_append(b, se->rendered, se->rendered_len);
	if (r >= 0 && labels && extra)
		r = eg_buf_putc(b, ',');
	if (r >= 0 && extra)
		r = eg_buf_puts(b, extra);
	if (r >= 0)
		r = eg_buf_putc(b, '}');
	return r;
}

static int prom_series(struct eg_buf *b, const struct eg_metrics_family *f, uint32_t id,
                       const struct series *se)
{
	char num[40], le[48];
	int r;

	if (f->fn) {
		r = put_series_name(b, f, NULL, NULL, NULL);
		if (r >= 0)
			r = eg_buf_printf(b, " %" PRId64 "\n", f->fn(f->fn_ctx));
		return r;
	}
	if (f->type != EG_METRIC_HISTOGRAM) {
		r = put_series_name(b, f, NULL, se, NULL);
		if (r >= 0 && f->type == EG_METRIC_GAUGE)
			r = eg_buf_printf(b, " %" PRId64 "\n", eg_metrics_gauge_value(f, id));
		else if (r >= 0)
			r = eg_buf_printf(b, " %" PRIu64 "\n", eg_metrics_counter_value(f, id));
		return r;
	} else {
		uint64_t cum[MAX_BOUNDS + 1];
		double sum;

		eg_metrics_histogram_value(f, id, cum, &sum);
		for (unsigned k = 0; k <= f->n_bounds; k++) {
			snprintf(le, sizeof(le), "le=\"%s\"", k < f->n_bounds ? f->le[k] : "+Inf");
			r = put_series_name(b, f, "_bucket", se, le);
			if (r >= 0)
				r = eg_buf_printf(b, " %" PRIu64 "\n", cum[k]);
			if (r < 0)
				return r;
		}
		fmt_double(sum, num, sizeof(num));
		r = put_series_name(b, f, "_sum", se, NULL);
		if (r >= 0)
			r = eg_buf_printf(b, " %s\n", num);
		if (r >= 0)
			r = put_series_name(b, f, "_count", se, NULL);
		if (r >= 0)
			r = eg_buf_printf(b, " %" PRIu64 "\n", cum[f->n_bounds]);
		return r;
	}
}

typedef int (*series_cb)(struct eg_buf *b, const struct eg_metrics_family *f, uint32_t id,
                         const struct series *se, void *ctx);

/* Calls @cb for each series of @f: ids in creation order, then the overflow series if it
 * was ever used. */
static int each_series(struct eg_buf *b, const struct eg_metrics_family *f, series_cb cb, void *ctx)
{
	uint32_t count;
	int r;

	if (!f->s)
		return cb(b, f, 0, NULL, ctx);
	count = atomic_load_explicit(&f->s->count, memory_order_acquire);
	for (uint32_t id = 1; id <= count; id++) {
		r = cb(b, f, id, f->s->by_id[id], ctx);
		if (r < 0)
			return r;
	}
	if (atomic_load_explicit(&f->s->overflowed, memory_order_relaxed) || series_used(f, 0))
		return cb(b, f, 0, f->s->by_id[0], ctx);
	return 0;
}

static int prom_cb(struct eg_buf *b, const struct eg_metrics_family *f, uint32_t id,
                   const struct series *se, void *ctx)
{
	(void)ctx;
	return prom_series(b, f, id, se);
}

int eg_metrics_prometheus(struct eg_metrics *m, struct eg_buf *out)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};
	size_t start = out->len;
	int r = 0;

	pthread_mutex_lock(&m->lock);
	for (const struct eg_metrics_family *f = m->families; f && r >= 0; f = f->next) {
		if (f->help[0]) {
			r = eg_buf_printf(out, "# HELP %s ", f->name);
			if (r >= 0)
				r = put_help(out, f->help);
			if (r >= 0)
				r = eg_buf_putc(out, '\n');
		}
		if (r >= 0)
			r = eg_buf_printf(out, "# TYPE %s %s\n", f->name, type_names[f->type]);
		if (r >= 0)
			r = each_series(out, f, prom_cb, NULL);
	}
	pthread_mutex_unlock(&m->lock);
	if (r < 0 && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	return r;
}

struct stats_ctx {
	regex_t *re;
	struct eg_buf name;
};

static int stats_line(struct eg_buf *b, struct stats_ctx *c, const struct eg_metrics_family *f,
                      const char *suffix, const struct series *se, const char *value)
{
	int r;

	c->name.len = 0;
	r = put_series_name(&c->name, f, suffix, se, NULL);
	if (r < 0)
		return r;
	if (c->re && regexec(c->re, eg_buf_cstr(&c->name), 0, NULL, 0) != 0)
		return 0;
	r = eg_buf_append(b, c->name.data, c->name.len);
	if (r >= 0)
		r = eg_buf_printf(b, ": %s\n", value);
	return r;
}

static int stats_cb(struct eg_buf *b, const struct eg_metrics_family *f, uint32_t id,
                    const struct series *se, void *ctx)
{
	struct stats_ctx *c = ctx;
	char num[48];
	int r;

	if (f->type == EG_METRIC_HISTOGRAM) {
		uint64_t cum[MAX_BOUNDS + 1];
		double sum;

		eg_metrics_histogram_value(f, id, cum, &sum);
		snprintf(num, sizeof(num), "%" PRIu64, cum[f->n_bounds]);
		r = stats_line(b, c, f, "_count", se, num);
		if (r >= 0) {
			fmt_double(sum, num, sizeof(num));
			r = stats_line(b, c, f, "_sum", se, num);
		}
		return r;
	}
	if (f->type == EG_METRIC_GAUGE)
		snprintf(num, sizeof(num), "%" PRId64, eg_metrics_gauge_value(f, id));
	else
		snprintf(num, sizeof(num), "%" PRIu64, eg_metrics_counter_value(f, id));
	return stats_line(b, c, f, NULL, se, num);
}

int eg_metrics_stats(struct eg_metrics *m, const char *filter, struct eg_buf *out)
{
	struct stats_ctx c = {NULL, EG_BUF_INIT(64 * 1024)};
	regex_t re;
	size_t start = out->len;
	int r = 0;

	if (filter && *filter) {
		if (regcomp(&re, filter, REG_EXTENDED | REG_NOSUB) != 0)
			return -EINVAL;
		c.re = &re;
	}
	pthread_mutex_lock(&m->lock);
	for (const struct eg_metrics_family *f = m->families; f && r >= 0; f = f->next)
		r = each_series(out, f, stats_cb, &c);
	pthread_mutex_unlock(&m->lock);
	if (c.re)
		regfree(&re);
	eg_buf_done(&c.name);
	if (r < 0 && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	return r;
}
