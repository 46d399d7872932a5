/* tests/unit/test_timer.c: the 4-ary timer heap and loop timers. */
#include "../../src/core/timer.c"
#include "eg_test.h"

#include <time.h>

#include "core/loop.h"

struct rec {
	struct eg_timer t;
	unsigned id;
	unsigned *order;
	unsigned *n;
	struct eg_timer_heap *h;
	uint64_t rearm; /* re-arm at this deadline once, when not 0 */
};

static void rec_cb(struct eg_timer *t, void *data)
{
	struct rec *r = data;

	(void)t;
	r->order[(*r->n)++] = r->id;
	if (r->rearm) {
		uint64_t at = r->rearm;

		r->rearm = 0;
		(void)eg_timer_heap_arm(r->h, &r->t, at);
	}
}

/* Heap order and back-pointers hold everywhere. */
static int heap_ok(const struct eg_timer_heap *h)
{
	for (uint32_t i = 0; i < h->n; i++) {
		if (h->v[i]->slot != i + 1)
			return 0;
		if (i > 0 && before(h->v[i], h->v[(i - 1) / ARITY]))
			return 0;
	}
	return 1;
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

EG_TEST(timer_fires_in_deadline_order)
{
	struct eg_timer_heap h;
	struct rec recs[200];
	unsigned order[400], n = 0;
	uint64_t last = 0;

	eg_timer_heap_init(&h);
	for (unsigned i = 0; i < 200; i++) {
		recs[i] = (struct rec){.id = i, .order = order, .n = &n, .h = &h};
		eg_timer_init(&recs[i].t, rec_cb, &recs[i]);
		EG_ASSERT_EQ(eg_timer_heap_arm(&h, &recs[i].t, 10 + rnd() % 1000), 0);
	}
	EG_ASSERT(heap_ok(&h));
	/* Expire in steps: each step fires exactly the due timers, earliest first. */
	for (uint64_t now = 0; now <= 1100; now += 37) {
		unsigned before_n = n;

		eg_timer_heap_expire(&h, now);
		for (unsigned k = before_n; k < n; k++) {
			EG_ASSERT(recs[order[k]].t.deadline <= now);
			EG_ASSERT(recs[order[k]].t.deadline >= last);
			last = recs[order[k]].t.deadline;
			EG_ASSERT(!eg_timer_armed(&recs[order[k]].t));
		}
		EG_ASSERT(eg_timer_heap_next(&h) > now);
		EG_ASSERT(heap_ok(&h));
	}
	EG_ASSERT_EQ(n, 200);
	EG_ASSERT_EQ(h.n, 0);
	EG_ASSERT_EQ(eg_timer_heap_next(&h), EG_TIMER_NEVER);
	eg_timer_heap_done(&h);
}

EG_TEST(timer_equal_deadlines_fire_in_arm_order)
{
	struct eg_timer_heap h;
	struct rec recs[20];
	unsigned order[20], n = 0;

	eg_timer_heap_init(&h);
	for (unsigned i = 0; i < 20; i++) {
		recs[i] = (struct rec){.id = i, .order = order, .n = &n, .h = &h};
		eg_timer_init(&recs[i].t, rec_cb, &recs[i]);
		EG_ASSERT_EQ(eg_timer_heap_arm(&h, &recs[i].t, 50), 0);
	}
	/* Re-arming moves a timer behind the others with the same deadline. */
	EG_ASSERT_EQ(eg_timer_heap_arm(&h, &recs[3].t, 50), 0);
	EG_ASSERT_EQ(eg_timer_heap_expire(&h, 50), 20);
	for (unsigned i = 0, k = 0; i < 20; i++) {
		if (i == 3)
			continue;
		EG_ASSERT_EQ(order[k++], i);
	}
	EG_ASSERT_EQ(order[19], 3);
	eg_timer_heap_done(&h);
}

EG_TEST(timer_rearm_costs_no_allocation)
{
	struct eg_timer_heap h;
	struct rec recs[1000];
	unsigned order[1], n = 0;
	struct eg_timer **arr;
	uint32_t cap;

	eg_timer_heap_init(&h);
	for (unsigned i = 0; i < 1000; i++) {
		recs[i] = (struct rec){.id = i, .order = order, .n = &n, .h = &h};
		eg_timer_init(&recs[i].t, rec_cb, &recs[i]);
		EG_ASSERT_EQ(eg_timer_heap_arm(&h, &recs[i].t, 1000 + i), 0);
	}
	arr = h.v;
	cap = h.cap;
	/* 200k idle-timeout re-arms: the array is never touched by the allocator. */
	for (unsigned k = 0; k < 200000; k++) {
		struct rec *r = &recs[rnd() % 1000];

		EG_ASSERT_EQ(eg_timer_heap_arm(&h, &r->t, 1000 + k + rnd() % 5000), 0);
	}
	EG_ASSERT(h.v == arr);
	EG_ASSERT_EQ(h.cap, cap);
	EG_ASSERT_EQ(h.n, 1000);
	EG_ASSERT(heap_ok(&h));
	/* Disarm half and arm them again: the array is big enough already. */
	for (unsigned i = 0; i < 1000; i += 2)
		eg_timer_heap_disarm(&h, &recs[i].t);
	EG_ASSERT_EQ(h.n, 500);
	EG_ASSERT(heap_ok(&h));
	for (unsigned i = 0; i < 1000; i += 2)
		EG_ASSERT_EQ(eg_timer_heap_arm(&h, &recs[i].t, 7), 0);
	EG_ASSERT(h.v == arr);
	EG_ASSERT_EQ(eg_timer_heap_next(&h), 7);
	eg_timer_heap_done(&h);
	EG_ASSERT(!eg_timer_armed(&recs[0].t));
}

EG_TEST(timer_disarm_anywhere_keeps_heap)
{
	struct eg_timer_heap h;
	struct rec recs[300];
	unsigned order[300], n = 0;

	eg_timer_heap_init(&h);
	for (unsigned i = 0; i < 300; i++) {
		recs[i] = (struct rec){.id = i, .order = order, .n = &n, .h = &h};
		eg_timer_init(&recs[i].t, rec_cb, &recs[i]);
		EG_ASSERT_EQ(eg_timer_heap_arm(&h, &recs[i].t, rnd() % 100), 0);
	}
	for (unsigned k = 0; k < 150; k++) {
		eg_timer_heap_disarm(&h, &recs[rnd() % 300].t);
		EG_ASSERT(heap_ok(&h));
	}
	eg_timer_heap_disarm(&h, &recs[0].t); /* disarming twice is harmless */
	eg_timer_heap_disarm(&h, &recs[0].t);
	EG_ASSERT(heap_ok(&h));
	{
		uint32_t armed = h.n;

		EG_ASSERT_EQ(eg_timer_heap_expire(&h, 1000), armed);
		EG_ASSERT_EQ(n, armed);
	}
	eg_timer_heap_done(&h);
}

EG_TEST(timer_rearm_from_callback_waits_next_round)
{
	struct eg_timer_heap h;
	struct rec r;
	unsigned order[4], n = 0;

	eg_timer_heap_init(&h);
	r = (struct rec){.id = 7, .order = order, .n = &n, .h = &h, .rearm = 5};
	eg_timer_init(&r.t, rec_cb, &r);
	EG_ASSERT_EQ(eg_timer_heap_arm(&h, &r.t, 5), 0);
	/* The callback re-arms at a deadline already due: no spin inside one expire call. */
	EG_ASSERT_EQ(eg_timer_heap_expire(&h, 10), 1);
	EG_ASSERT(eg_timer_armed(&r.t));
	EG_ASSERT_EQ(eg_timer_heap_expire(&h, 10), 1);
	EG_ASSERT_EQ(n, 2);
	EG_ASSERT(!eg_timer_armed(&r.t));
	eg_timer_heap_done(&h);
}

/* ---- on a real loop ---- */

struct lt {
	struct eg_timer t;
	struct eg_loop *loop;
	unsigned id;
	unsigned *order, *n;
	uint64_t fired_at;
};

static void lt_cb(struct eg_timer *t, void *data)
{
	struct lt *x = data;

	(void)t;
	x->fired_at = eg_loop_now(x->loop);
	x->order[(*x->n)++] = x->id;
	if (*x->n == 3)
		eg_loop_stop(x->loop);
}

EG_TEST(loop_timers_fire_in_order_after_their_delay)
{
	struct eg_loop *loop;
	struct lt x[3];
	unsigned order[3], n = 0;
	const uint64_t delay[3] = {60, 20, 40};
	uint64_t start;

	EG_ASSERT_EQ(eg_loop_new(&loop), 0);
	start = eg_loop_update_time(loop);
	for (unsigned i = 0; i < 3; i++) {
		x[i] = (struct lt){.loop = loop, .id = i, .order = order, .n = &n};
		eg_timer_init(&x[i].t, lt_cb, &x[i]);
		EG_ASSERT_EQ(eg_loop_timer_arm(loop, &x[i].t, delay[i]), 0);
	}
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_DEFAULT), 0);
	EG_ASSERT_EQ(n, 3);
	EG_ASSERT_EQ(order[0], 1);
	EG_ASSERT_EQ(order[1], 2);
	EG_ASSERT_EQ(order[2], 0);
	for (unsigned i = 0; i < 3; i++) {
		EG_ASSERT(x[i].fired_at >= start + delay[i]);
		EG_ASSERT(x[i].fired_at < start + delay[i] + 1000);
	}
	loop = eg_loop_free(loop);
}

EG_TEST(loop_timer_disarmed_never_fires)
{
	struct eg_loop *loop;
	struct lt a, b;
	unsigned order[3], n = 0;

	EG_ASSERT_EQ(eg_loop_new(&loop), 0);
	a = (struct lt){.loop = loop, .id = 1, .order = order, .n = &n};
	b = (struct lt){.loop = loop, .id = 2, .order = order, .n = &n};
	eg_timer_init(&a.t, lt_cb, &a);
	eg_timer_init(&b.t, lt_cb, &b);
	EG_ASSERT_EQ(eg_loop_timer_arm(loop, &a.t, 5), 0);
	EG_ASSERT_EQ(eg_loop_timer_arm(loop, &b.t, 30), 0);
	eg_loop_timer_disarm(loop, &a.t);
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_ONCE), 0); /* waits for b (30 ms) */
	EG_ASSERT_EQ(n, 1);
	EG_ASSERT_EQ(order[0], 2);
	loop = eg_loop_free(loop);
}
