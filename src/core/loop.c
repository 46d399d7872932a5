/* src/core/loop.c: the per-thread epoll loop: watchers, timers, inbox, deferred close. */
#include "core/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

struct eg_loop {
	int epfd;
	uint64_t now;
	bool stop;
	void *data;
	struct eg_timer_heap timers;

	/* The current epoll batch, so that eg_loop_io_stop() can drop events still to be
	 * dispatched for a watcher that goes away (its memory may be freed right after). */
	struct epoll_event batch[MAX_EVENTS];
	int batch_n; /* events in batch; 0 outside the dispatch phase */
	int batch_i; /* index being dispatched */

	/* Inbox: the only state other threads touch. @signalled is true from the post that
	 * found the inbox empty (and wrote the eventfd) until the loop takes the list. */
	pthread_mutex_t inbox_lock;
	struct eg_loop_post *inbox_head, *inbox_tail;
	bool signalled;
	struct eg_io_watch wake;

	struct eg_loop_closing *closing_head, **closing_tail;

	struct eg_loop_stats stats;
};

uint64_t eg_clock_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void run_inbox(struct eg_loop *loop)
{
	struct eg_loop_post *p, *next;

	pthread_mutex_lock(&loop->inbox_lock);
	p = loop->inbox_head;
	loop->inbox_head = loop->inbox_tail = NULL;
	loop->signalled = false;
	pthread_mutex_unlock(&loop->inbox_lock);
	for (; p; p = next) {
		eg_loop_post_cb cb = p->cb;
		void *arg = p->arg;

		next = p->next;
		if (p->allocated)
			free(p);
		loop->stats.posts_run++;
		cb(loop, arg, 0); /* may free a caller-owned node: not touched after */
	}
}

static void wake_cb(struct eg_io_watch *w, uint32_t events)
{
	struct eg_loop *loop = w->data;
	uint64_t v;

	(void)events;
	/* Drain first: a post arriving after the list is taken writes the eventfd again. */
	while (read(loop->wake.fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	run_inbox(loop);
}

int eg_loop_new(struct eg_loop **ret_loop)
{
	struct eg_loop *loop;
	int efd, r;

	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		r = -errno;
		goto out_free;
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		r = -errno;
		goto out_close_ep;
	}
	r = pthread_mutex_init(&loop->inbox_lock, NULL);
	if (r != 0) {
		r = -r;
		goto out_close_efd;
	}
	eg_timer_heap_init(&loop->timers);
	loop->closing_tail = &loop->closing_head;
	loop->now = eg_clock_ms();
	eg_io_watch_init(&loop->wake, efd, wake_cb, loop);
	r = eg_loop_io_set(loop, &loop->wake, EG_IO_READ);
	if (r < 0)
		goto out_mutex;
	*ret_loop = loop;
	return 0;

out_mutex:
	pthread_mutex_destroy(&loop->inbox_lock);
out_close_efd:
	(void)close(efd);
out_close_ep:
	(void)close(loop->epfd);
out_free:
	free(loop);
	return r;
}

static void run_closing(struct eg_loop *loop)
{
	while (loop->closing_head) {
		struct eg_loop_closing *c = loop->closing_head;

		loop->closing_head = c->next;
		if (!loop->closing_head)
			loop->closing_tail = &loop->closing_head;
		c->next = NULL;
		loop->stats.closes_run++;
		c->cb(c); /* frees the object that embeds @c: not touched after */
	}
}

struct eg_loop *eg_loop_free(struct eg_loop *loop)
{
	struct eg_loop_post *p, *next;

	if (!loop)
		return NULL;
	pthread_mutex_lock(&loop->inbox_lock);
	p = loop->inbox_head;
	loop->inbox_head = loop->inbox_tail = NULL;
	pthread_mutex_unlock(&loop->inbox_lock);
	for (; p; p = next) {
		eg_loop_post_cb cb = p->cb;
		void *arg = p->arg;

		next = p->next;
		if (p->allocated)
			free(p);
		cb(loop, arg, -ECANCELED);
	}
	run_closing(loop);
	eg_timer_heap_done(&loop->timers);
	eg_loop_io_stop(loop, &loop->wake);
	(void)close(loop->wake.fd);
	(void)close(loop->epfd);
	pthread_mutex_destroy(&loop->inbox_lock);
	free(loop);
	return NULL;
}

uint64_t eg_loop_now(const struct eg_loop *loop)
{
	return loop->now;
}

uint64_t eg_loop_update_time(struct eg_loop *loop)
{
	loop->now = eg_clock_ms();
	return loop->now;
}

void eg_loop_set_data(struct eg_loop *loop, void *data)
{
	loop->data = data;
}

void *eg_loop_data(const struct eg_loop *loop)
{
	return loop->data;
}

void eg_loop_stop(struct eg_loop *loop)
{
	loop->stop = true;
}

bool eg_loop_stopping(const struct eg_loop *loop)
{
	return loop->stop;
}

/* ---- watchers ---- */

void eg_io_watch_init(struct eg_io_watch *w, int fd, eg_io_cb cb, void *data)
{
	w->fd = fd;
	w->want = 0;
	w->registered = false;
	w->loop = NULL;
	w->cb = cb;
	w->data = data;
}

static void drop_pending(struct eg_loop *loop, struct eg_io_watch *w)
{
	for (int i = loop->batch_i + 1; i < loop->batch_n; i++)
		if (loop->batch[i].data.ptr == w)
			loop->batch[i].data.ptr = NULL;
}

int eg_loop_io_set(struct eg_loop *loop, struct eg_io_watch *w, uint32_t events)
{
	struct epoll_event ev = {0};
	int op;

	if (events == 0) {
		eg_loop_io_stop(loop, w);
		return 0;
	}
	if (w->registered && w->want == events)
		return 0;
	ev.events = events;
	ev.data.ptr = w;
	op = w->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(loop->epfd, op, w->fd, &ev) < 0)
		return -errno;
	if (!w->registered)
		loop->stats.registered++;
	w->registered = true;
	w->want = events;
	w->loop = loop;
	return 0;
}

void eg_loop_io_stop(struct eg_loop *loop, struct eg_io_watch *w)
{
	w->want = 0;
	if (!w->registered)
		return;
	/* The fd may already be closed (then the kernel removed it): ignore the error. */
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->registered = false;
	w->loop = NULL;
	loop->stats.registered--;
	drop_pending(loop, w);
}

/* ---- timers ---- */

int eg_loop_timer_arm(struct eg_loop *loop, struct eg_timer *t, uint64_t after_ms)
{
	uint64_t deadline =
	        after_ms > EG_TIMER_NEVER - loop->now ? EG_TIMER_NEVER - 1 : loop->now + after_ms;

	return eg_timer_heap_arm(&loop->timers, t, deadline);
}

int eg_loop_timer_arm_at(struct eg_loop *loop, struct eg_timer *t, uint64_t deadline_ms)
{
	return eg_timer_heap_arm(&loop->timers, t, deadline_ms);
}

void eg_loop_timer_disarm(struct eg_loop *loop, struct eg_timer *t)
{
	eg_timer_heap_disarm(&loop->timers, t);
}

int eg_loop_timer_reserve(struct eg_loop *loop, uint32_t n)
{
	return eg_timer_heap_reserve(&loop->timers, n);
}

/* ---- inbox ---- */

static void post_enqueue(struct eg_loop *loop, struct eg_loop_post *node, eg_loop_post_cb cb,
                         void *arg)
{
	bool wake;

	node->next = NULL;
	node->cb = cb;
	node->arg = arg;
	pthread_mutex_lock(&loop->inbox_lock);
	if (loop->inbox_tail)
		loop->inbox_tail->next = node;
	else
		loop->inbox_head = node;
	loop->inbox_tail = node;
	wake = !loop->signalled;
	loop->signalled = true;
	pthread_mutex_unlock(&loop->inbox_lock);
	if (wake) {
		uint64_t one = 1;

		/* Cannot fail short of EBADF: the counter would need 2^64 - 2 unread posts. */
		while (write(loop->wake.fd, &one, sizeof(one)) < 0 && errno == EINTR)
			;
	}
}

void eg_loop_post_node(struct eg_loop *loop, struct eg_loop_post *node, eg_loop_post_cb cb,
                       void *arg)
{
	node->allocated = false;
	post_enqueue(loop, node, cb, arg);
}

int eg_loop_post(struct eg_loop *loop, eg_loop_post_cb cb, void *arg)
{
	struct eg_loop_post *p = malloc(sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->allocated = true;
	post_enqueue(loop, p, cb, arg);
	return 0;
}

/* ---- deferred close ---- */

void eg_loop_defer_close(struct eg_loop *loop, struct eg_loop_closing *c, eg_loop_close_cb cb)
{
	if (c->queued)
		return;
	c->queued = true;
	c->cb = cb;
	c->next = NULL;
	*loop->closing_tail = c;
	loop->closing_tail = &c->next;
}

/* ---- run ---- */

static int wait_timeout(const struct eg_loop *loop, enum eg_loop_mode mode)
{
	uint64_t next;

	if (mode == EG_LOOP_NOWAIT || loop->stop || loop->closing_head)
		return 0;
	next = eg_timer_heap_next(&loop->timers);
	if (next == EG_TIMER_NEVER)
		return -1;
	if (next <= loop->now)
		return 0;
	/* now is truncated to the millisecond, so waiting next - now reaches the deadline. */
	return next - loop->now > INT32_MAX ? INT32_MAX : (int)(next - loop->now);
}

static void dispatch(struct eg_loop *loop, int n)
{
	loop->batch_n = n;
	for (loop->batch_i = 0; loop->batch_i < n; loop->batch_i++) {
		struct eg_io_watch *w = loop->batch[loop->batch_i].data.ptr;
		uint32_t ev;

		if (!w || !w->registered)
			continue;
		/* Interest may have changed since epoll_wait: report only what is still wanted. */
		ev = loop->batch[loop->batch_i].events & (w->want | EG_IO_ERROR | EG_IO_HUP);
		if (!ev)
			continue;
		loop->stats.io_callbacks++;
		w->cb(w, ev);
	}
	loop->batch_n = 0;
	loop->batch_i = 0;
}

int eg_loop_run(struct eg_loop *loop, enum eg_loop_mode mode)
{
	int r = 0;

	do {
		int n = epoll_wait(loop->epfd, loop->batch, MAX_EVENTS, wait_timeout(loop, mode));

		if (n < 0) {
			if (errno != EINTR) {
				r = -errno;
				break;
			}
			n = 0;
		}
		loop->stats.iterations++;
		eg_loop_update_time(loop);
		dispatch(loop, n);
		loop->stats.timers_fired += eg_timer_heap_expire(&loop->timers, loop->now);
		run_closing(loop);
	} while (mode == EG_LOOP_DEFAULT && !loop->stop);
	loop->stop = false;
	return r;
}

void eg_loop_get_stats(const struct eg_loop *loop, struct eg_loop_stats *ret)
{
	*ret = loop->stats;
}
