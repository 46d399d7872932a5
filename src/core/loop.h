/* src/core/loop.h: one epoll event loop per thread, with explicit phases (STYLE.md R11).
 * May include: core.
 *
 * One iteration of eg_loop_run():
 *   1. epoll_wait, bounded by the earliest timer (0 when closes or a stop are pending)
 *   2. refresh the cached monotonic "now" (eg_loop_now)
 *   3. I/O callbacks, in the order epoll reported them; the loop's inbox (posted callbacks from
 *      other threads) is one of them, woken through an eventfd
 *   4. expired timers, earliest first (core/timer.h)
 *   5. deferred closes: the objects callbacks handed to eg_loop_defer_close() are freed here,
 *      after every callback of the iteration ran, so no callback frees its own object.
 *
 * Threading: a loop and everything registered on it belong to the thread that runs it. The
 * only functions another thread may call are eg_loop_post() and eg_loop_post_node().
 *
 * Watchers are level-triggered by default: a callback may do as little I/O as it likes, and
 * the loop reports the fd again next iteration. Interest changes are cheap: the loop keeps the
 * mask epoll already has and issues epoll_ctl only when it differs; an interest of 0
 * unregisters the fd (so a hung-up fd nobody listens to cannot spin the loop). A watcher may
 * instead ask for EG_IO_EDGE (EPOLLET): register READ|WRITE once, never change interest, and
 * read/write until -EAGAIN in the callback. Pick one per watcher. */
#ifndef EG_CORE_LOOP_H
#define EG_CORE_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "core/compiler.h"
#include "core/timer.h"

struct eg_loop;

/* Event bits, as epoll reports them (ERROR and HUP are always reported, never asked for). */
#define EG_IO_READ  ((uint32_t)EPOLLIN)
#define EG_IO_WRITE ((uint32_t)EPOLLOUT)
#define EG_IO_ERROR ((uint32_t)EPOLLERR)
#define EG_IO_HUP   ((uint32_t)EPOLLHUP)
#define EG_IO_RDHUP ((uint32_t)EPOLLRDHUP)
#define EG_IO_EDGE  ((uint32_t)EPOLLET)

struct eg_io_watch;
/* @events: what happened (EG_IO_READ/WRITE/ERROR/HUP/RDHUP), filtered to the current interest
 * plus ERROR/HUP. */
typedef void (*eg_io_cb)(struct eg_io_watch *w, uint32_t events);

struct eg_io_watch {
	int fd;               /* watched descriptor; the loop never closes it */
	uint32_t want;        /* interest last asked for (EG_IO_READ | EG_IO_WRITE | EG_IO_EDGE) */
	bool registered;      /* in the epoll set, with mask == want */
	struct eg_loop *loop; /* set while registered */
	eg_io_cb cb;
	void *data;
};

/* Posted callback. @status is 0 when it runs on the loop's thread, or -ECANCELED when the loop
 * is freed before it ran (then it runs on the freeing thread and must only release @arg). */
typedef void (*eg_loop_post_cb)(struct eg_loop *loop, void *arg, int status);

struct eg_loop_post {
	struct eg_loop_post *next; /* private to the loop while queued */
	eg_loop_post_cb cb;
	void *arg;
	bool allocated; /* private: the loop frees nodes made by eg_loop_post() */
};

/* Deferred close: embed in the object to free at the end of the iteration. */
struct eg_loop_closing;
typedef void (*eg_loop_close_cb)(struct eg_loop_closing *c);
struct eg_loop_closing {
	struct eg_loop_closing *next; /* private to the loop */
	eg_loop_close_cb cb;
	bool queued; /* set by eg_loop_defer_close(); a second call is a no-op */
};

enum eg_loop_mode {
	EG_LOOP_DEFAULT, /* until eg_loop_stop() */
	EG_LOOP_ONCE,    /* one iteration; waits for an event or the next timer */
	EG_LOOP_NOWAIT,  /* one iteration without waiting */
};

/* Creates a loop (epoll fd + eventfd, both CLOEXEC). 0 or -errno. */
int eg_loop_new(struct eg_loop **ret_loop);
/* Runs posted callbacks still queued with -ECANCELED, runs pending deferred closes, disarms
 * timers and closes the loop's own fds. Watchers still registered are forgotten (their fds
 * stay open: they belong to their owners). Returns NULL. */
struct eg_loop *eg_loop_free(struct eg_loop *loop);

/* Runs the loop in @mode on the calling thread. 0, or -errno if epoll_wait fails. */
int eg_loop_run(struct eg_loop *loop, enum eg_loop_mode mode);
/* Makes eg_loop_run() return after the current iteration (loop thread only). */
void eg_loop_stop(struct eg_loop *loop);
bool eg_loop_stopping(const struct eg_loop *loop);

/* Monotonic milliseconds cached at the start of the iteration (cheap: no syscall). */
uint64_t eg_loop_now(const struct eg_loop *loop);
/* Re-reads CLOCK_MONOTONIC into the cache and returns it. */
uint64_t eg_loop_update_time(struct eg_loop *loop);
/* CLOCK_MONOTONIC in milliseconds, uncached. */
uint64_t eg_clock_ms(void);

/* One user pointer per loop (core/worker.c stores its struct eg_worker here). */
void eg_loop_set_data(struct eg_loop *loop, void *data);
void *eg_loop_data(const struct eg_loop *loop);

/* ---- fd watchers ---- */

void eg_io_watch_init(struct eg_io_watch *w, int fd, eg_io_cb cb, void *data);
/* Sets @w's interest to @events (EG_IO_READ | EG_IO_WRITE, optionally | EG_IO_EDGE).
 * Registers the fd on first use; 0 unregisters it. No syscall when nothing changes.
 * 0 or -errno (from epoll_ctl, e.g. -EBADF, -EPERM for regular files, -ENOMEM). */
int eg_loop_io_set(struct eg_loop *loop, struct eg_io_watch *w, uint32_t events);
/* Unregisters @w; events already collected for it in this iteration are dropped, so its
 * owner may be freed right after (call this before closing the fd). */
void eg_loop_io_stop(struct eg_loop *loop, struct eg_io_watch *w);

/* ---- timers (see core/timer.h) ---- */

/* Arms @t to fire @after_ms after eg_loop_now(). 0 or -ENOMEM (see eg_timer_heap_arm). */
int eg_loop_timer_arm(struct eg_loop *loop, struct eg_timer *t, uint64_t after_ms);
/* Arms @t to fire at @deadline_ms on the loop clock. */
int eg_loop_timer_arm_at(struct eg_loop *loop, struct eg_timer *t, uint64_t deadline_ms);
void eg_loop_timer_disarm(struct eg_loop *loop, struct eg_timer *t);
/* Pre-sizes the timer heap for @n armed timers (then arming never allocates). */
int eg_loop_timer_reserve(struct eg_loop *loop, uint32_t n);

/* ---- posted callbacks (thread-safe) ---- */

/* Queues @cb(@loop, @arg, 0) to run on @loop's thread during a later iteration, in posting
 * order. Any thread. 0 or -ENOMEM (then @cb is never called). */
int eg_loop_post(struct eg_loop *loop, eg_loop_post_cb cb, void *arg);
/* Same with a caller-owned node (no allocation): @node must stay valid until its callback
 * ran; its callback may free it. Any thread. */
void eg_loop_post_node(struct eg_loop *loop, struct eg_loop_post *node, eg_loop_post_cb cb,
                       void *arg);

/* ---- deferred close ---- */

/* Queues @cb(@c) for the close phase of the current iteration (or the next, when called from
 * outside a loop callback). Idempotent while queued. Loop thread only. */
void eg_loop_defer_close(struct eg_loop *loop, struct eg_loop_closing *c, eg_loop_close_cb cb);

/* Counters, for tests and /stats. */
struct eg_loop_stats {
	uint64_t iterations;
	uint64_t io_callbacks;
	uint64_t timers_fired;
	uint64_t posts_run;
	uint64_t closes_run;
	uint32_t registered; /* fds currently in the epoll set */
};
void eg_loop_get_stats(const struct eg_loop *loop, struct eg_loop_stats *ret);

#endif /* EG_CORE_LOOP_H */
