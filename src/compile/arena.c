/* src/compile/arena.c: the snapshot's memory (one arena, freed at once), growable arrays
 * and the string hash index used for every lookup of the data plane. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include "compile/internal.h"

#define CHUNK_SIZE (64u * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	size_t size; /* usable bytes after the header */
	size_t off;
	_Alignas(16) unsigned char data[];
};

void arena_init(struct arena *a, size_t max)
{
	memset(a, 0, sizeof(*a));
	a->max = max;
}

void arena_done(struct arena *a)
{
	struct arena_chunk *c = a->head;

	while (c) {
		struct arena_chunk *next = c->next;

		free(c);
		c = next;
	}
	a->head = NULL;
	a->used = a->total = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c = a->head;
	size_t need = (n + 15) & ~(size_t)15;
	void *p;

	if (a->failed || need < n)
		return NULL;
	if (need == 0)
		need = 16;
	if (!c || c->size - c->off < need) {
		/* big allocations get their own chunk so the current one keeps its space */
		size_t size = need > CHUNK_SIZE / 4 ? need : CHUNK_SIZE;
		struct arena_chunk *nc;

		if (a->total + size > a->max) {
			a->failed = true;
			return NULL;
		}
		nc = malloc(sizeof(*nc) + size);
		if (!nc) {
			a->failed = true;
			return NULL;
		}
		nc->size = size;
		nc->off = 0;
		a->total += size;
		if (c && size != CHUNK_SIZE) {
			/* insert behind the head: the head keeps serving small requests */
			nc->next = c->next;
			c->next = nc;
		} else {
			nc->next = c;
			a->head = nc;
		}
		c = nc;
	}
	p = c->data + c->off;
	c->off += need;
	a->used += need;
	memset(p, 0, need);
	return p;
}

void *arena_dup(struct arena *a, const void *p, size_t n)
{
	void *q;

	if (!n)
		return NULL;
	q = arena_alloc(a, n);
	if (q)
		memcpy(q, p, n);
	return q;
}

const char *arena_strn(struct arena *a, const char *s, size_t n)
{
	char *q;

	if (!s)
		return NULL;
	q = arena_alloc(a, n + 1);
	if (!q)
		return NULL;
	memcpy(q, s, n);
	q[n] = '\0';
	return q;
}

const char *arena_str(struct arena *a, const char *s)
{
	return s ? arena_strn(a, s, strlen(s)) : NULL;
}

const char *arena_lower(struct arena *a, const char *s)
{
	char *q;

	if (!s)
		return NULL;
	q = (char *)arena_str(a, s);
	for (char *p = q; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return q;
}

const char *arena_printf(struct arena *a, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;
	char *q;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	q = arena_alloc(a, (size_t)n + 1);
	if (!q)
		return NULL;
	if ((size_t)n < sizeof(small)) {
		memcpy(q, small, (size_t)n + 1);
		return q;
	}
	va_start(ap, fmt);
	vsnprintf(q, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return q;
}

void *vec_push(struct arena *a, struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 8;
		void *nv = arena_alloc(a, cap * v->esz);

		if (!nv)
			return NULL;
		if (v->n)
			memcpy(nv, v->v, v->n * v->esz);
		v->v = nv;
		v->cap = cap;
	}
	return (char *)v->v + v->esz * v->n++;
}

void *vec_finish(struct arena *a, const struct vec *v)
{
	return v->n ? arena_dup(a, v->v, v->n * v->esz) : NULL;
}

/* --- index --- */

struct eg_index *index_new(struct arena *a, size_t n)
{
	struct eg_index *ix = arena_alloc(a, sizeof(*ix));
	size_t cap = 8;

	if (!ix)
		return NULL;
	while (cap < n * 2 && cap < ((size_t)1 << 40))
		cap <<= 1;
	ix->slots = arena_alloc(a, cap * sizeof(*ix->slots));
	if (!ix->slots)
		return NULL;
	ix->mask = cap - 1;
	return ix;
}

bool index_put(struct eg_index *ix, const char *key, size_t klen, const void *val)
{
	uint64_t h = eg_hash(key, klen);

	if (!ix || ix->n + 1 > (ix->mask + 1) / 2 + (ix->mask + 1) / 4)
		return false;
	for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
		struct eg_index_slot *s = &ix->slots[i];

		if (!s->key) {
			*s = (struct eg_index_slot){h, key, klen, val};
			ix->n++;
			return true;
		}
		if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
			return false;
	}
}

const void *index_get(const struct eg_index *ix, const char *key, size_t klen)
{
	uint64_t h;

	if (!ix || !ix->n)
		return NULL;
	h = eg_hash(key, klen);
	for (size_t i = h & ix->mask;; i = (i + 1) & ix->mask) {
		const struct eg_index_slot *s = &ix->slots[i];

		if (!s->key)
			return NULL;
		if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
			return s->val;
	}
}

bool index_put_grow(struct arena *a, struct eg_index *ix, const char *key, size_t klen,
                    const void *val)
{
	size_t cap = ix->mask + 1;

	if (ix->n + 1 > cap / 2 + cap / 4) {
		struct eg_index_slot *old = ix->slots;
		struct eg_index_slot *nv = arena_alloc(a, cap * 2 * sizeof(*nv));

		if (!nv)
			return false;
		ix->slots = nv;
		ix->mask = cap * 2 - 1;
		ix->n = 0;
		for (size_t i = 0; i < cap; i++)
			if (old[i].key)
				(void)index_put(ix, old[i].key, old[i].klen, old[i].val);
	}
	return index_put(ix, key, klen, val);
}
