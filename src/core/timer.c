/* src/core/timer.c: 4-ary min-heap of intrusive timers.
 *
 * A 4-ary heap is shallower than a binary one (log4 n levels) and its four children share a
 * cache line of pointers, which makes sift-down cheaper for the common "re-arm an idle timeout
 * further into the future" operation. */
#include "core/timer.h"

#include <errno.h>
#include <stdlib.h>

#define ARITY 4

void eg_timer_init(struct eg_timer *t, eg_timer_cb cb, void *data)
{
	t->deadline = 0;
	t->seq = 0;
	t->slot = 0;
	t->cb = cb;
	t->data = data;
}

void eg_timer_heap_init(struct eg_timer_heap *h)
{
	h->v = NULL;
	h->n = 0;
	h->cap = 0;
	h->seq = 0;
}

void eg_timer_heap_done(struct eg_timer_heap *h)
{
	for (uint32_t i = 0; i < h->n; i++)
		h->v[i]->slot = 0;
	free(h->v);
	eg_timer_heap_init(h);
}

int eg_timer_heap_reserve(struct eg_timer_heap *h, uint32_t n)
{
	struct eg_timer **v;
	uint32_t cap;

	if (n <= h->cap)
		return 0;
	cap = h->cap ? h->cap : 16;
	while (cap < n) {
		if (cap > UINT32_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	v = realloc(h->v, (size_t)cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	h->v = v;
	h->cap = cap;
	return 0;
}

/* Strict order: earlier deadline first, then earlier arm. */
static bool before(const struct eg_timer *a, const struct eg_timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(struct eg_timer_heap *h, uint32_t i, struct eg_timer *t)
{
	h->v[i] = t;
	t->slot = i + 1;
}

static void sift_up(struct eg_timer_heap *h, uint32_t i)
{
	struct eg_timer *t = h->v[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / ARITY;

		if (!before(t, h->v[parent]))
			break;
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, t);
}

static void sift_down(struct eg_timer_heap *h, uint32_t i)
{
	struct eg_timer *t = h->v[i];

	for (;;) {
		uint32_t first = i * ARITY + 1, best = i;
		struct eg_timer *bt = t;

		if (first >= h->n)
			break;
		for (uint32_t c = first; c < first + ARITY && c < h->n; c++) {
			if (before(h->v[c], bt)) {
				best = c;
				bt = h->v[c];
			}
		}
		if (best == i)
			break;
		place(h, i, bt);
		i = best;
	}
	place(h, i, t);
}

/* Restores heap order at @i after its element changed in either direction. */
static void fix(struct eg_timer_heap *h, uint32_t i)
{
	if (i > 0 && before(h->v[i], h->v[(i - 1) / ARITY]))
		sift_up(h, i);
	else
		sift_down(h, i);
}

int eg_timer_heap_arm(struct eg_timer_heap *h, struct eg_timer *t, uint64_t deadline)
{
	if (t->slot) {
		t->deadline = deadline;
		t->seq = h->seq++;
		fix(h, t->slot - 1);
		return 0;
	}
	if (h->n == h->cap) {
		int r = eg_timer_heap_reserve(h, h->n + 1);

		if (r < 0)
			return r;
	}
	t->deadline = deadline;
	t->seq = h->seq++;
	place(h, h->n, t);
	h->n++;
	sift_up(h, h->n - 1);
	return 0;
}

void eg_timer_heap_disarm(struct eg_timer_heap *h, struct eg_timer *t)
{
	uint32_t i;
	struct eg_timer *last;

	if (!t->slot)
		return;
	i = t->slot - 1;
	t->slot = 0;
	h->n--;
	if (i == h->n)
		return;
	last = h->v[h->n];
	place(h, i, last);
	fix(h, i);
}

uint64_t eg_timer_heap_next(const struct eg_timer_heap *h)
{
	return h->n ? h->v[0]->deadline : EG_TIMER_NEVER;
}

unsigned eg_timer_heap_expire(struct eg_timer_heap *h, uint64_t now)
{
	uint64_t limit = h->seq; /* timers armed from here on wait for the next call */
	unsigned fired = 0;

	while (h->n) {
		struct eg_timer *t = h->v[0];

		if (t->deadline > now || t->seq >= limit)
			break;
		eg_timer_heap_disarm(h, t);
		fired++;
		if (t->cb)
			t->cb(t, t->data);
	}
	return fired;
}
