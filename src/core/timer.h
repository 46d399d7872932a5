/* src/core/timer.h: intrusive timers in a 4-ary min-heap, ordered by (deadline, arm order).
 * May include: core.
 *
 * A struct eg_timer lives inside its owner (a connection embeds its idle timer), so arming,
 * re-arming and disarming never allocate a timer. The heap keeps an array of pointers that
 * grows by doubling and never shrinks: once the array has held N timers, arming any timer
 * while at most N are armed allocates nothing, and re-arming an already armed timer never
 * allocates at all (it moves in place, O(log4 n)).
 *
 * Times are plain uint64_t milliseconds on whatever clock the owner uses; struct eg_loop uses
 * its cached CLOCK_MONOTONIC "now" (core/loop.h). Not thread-safe: one heap per thread. */
#ifndef EG_CORE_TIMER_H
#define EG_CORE_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/compiler.h"

struct eg_timer;
typedef void (*eg_timer_cb)(struct eg_timer *t, void *data);

struct eg_timer {
	uint64_t deadline; /* when it fires; meaningful only while armed */
	uint64_t seq;      /* arm order: equal deadlines fire first-armed first */
	uint32_t slot;     /* index in the heap array + 1; 0 = not armed */
	eg_timer_cb cb;    /* called once per expiry, after the timer was disarmed */
	void *data;
};

struct eg_timer_heap {
	struct eg_timer **v; /* v[0..n) is heap-ordered and v[i]->slot == i + 1, always */
	uint32_t n;          /* armed timers: n <= cap */
	uint32_t cap;        /* array length; grows by doubling, never shrinks */
	uint64_t seq;        /* next arm order number */
};

#define EG_TIMER_NEVER UINT64_MAX

/* Prepares @t (not armed). Safe to call again on a timer that is not armed. */
void eg_timer_init(struct eg_timer *t, eg_timer_cb cb, void *data);

static inline bool eg_timer_armed(const struct eg_timer *t)
{
	return t->slot != 0;
}

void eg_timer_heap_init(struct eg_timer_heap *h);
/* Disarms every timer (without calling them) and frees the array. */
void eg_timer_heap_done(struct eg_timer_heap *h);
/* Makes room for @n armed timers. 0 or -ENOMEM. */
int eg_timer_heap_reserve(struct eg_timer_heap *h, uint32_t n);
/* Arms (or re-arms) @t to fire at @deadline. Returns 0; -ENOMEM only when @t was not armed and
 * the array had to grow and could not (then @t stays disarmed). */
int eg_timer_heap_arm(struct eg_timer_heap *h, struct eg_timer *t, uint64_t deadline);
/* Disarms @t if armed; no-op otherwise. */
void eg_timer_heap_disarm(struct eg_timer_heap *h, struct eg_timer *t);
/* Earliest deadline, or EG_TIMER_NEVER when nothing is armed. */
uint64_t eg_timer_heap_next(const struct eg_timer_heap *h);
/* Fires, earliest first, every timer with deadline <= @now that was armed before this call:
 * each is disarmed, then its callback runs (it may re-arm itself or arm/disarm others; a timer
 * armed during this call waits for the next one, so a zero timeout cannot spin). Returns how
 * many fired. */
unsigned eg_timer_heap_expire(struct eg_timer_heap *h, uint64_t now);

#endif /* EG_CORE_TIMER_H */
