/* tests/unit/test_loop.c: the event loop (watchers, inbox, deferred close, cached now),
 * signals, and worker threads with drain and the connection cap. */
#include "../../src/core/loop.c"
#include "eg_test.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "core/signal.h"
#include "core/worker.h"

static void mkpipe(int p[2])
{
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		EG_FAIL("pipe2: %s", strerror(errno));
}

static void put1(int fd)
{
	if (write(fd, "x", 1) != 1)
		EG_FAIL("write: %s", strerror(errno));
}

/* ---- watchers ---- */

struct counter {
	struct eg_io_watch w;
	unsigned calls;
	uint32_t last;
	bool drain; /* read what is there */
};

static void count_cb(struct eg_io_watch *w, uint32_t events)
{
	struct counter *c = w->data;
	char buf[64];

	c->calls++;
	c->last = events;
	if (c->drain)
		while (read(w->fd, buf, sizeof(buf)) > 0)
			;
}

EG_TEST(loop_level_triggered_reports_until_read)
{
	struct eg_loop *loop;
	struct counter c = {0};
	int p[2];

	mkpipe(p);
	EG_ASSERT_EQ(eg_loop_new(&loop), 0);
	eg_io_watch_init(&c.w, p[0], count_cb, &c);
	EG_ASSERT_EQ(eg_loop_io_set(loop, &c.w, EG_IO_READ), 0);
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(c.calls, 0);
	put1(p[1]);
	for (int i = 0; i < 3; i++)
		EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(c.calls, 3); /* not read: reported every iteration */
	EG_ASSERT(c.last & EG_IO_READ);
	c.drain = true;
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(c.calls, 4);
	eg_loop_io_stop(loop, &c.w);
	loop = eg_loop_free(loop);
	close(p[0]);
	close(p[1]);
}

EG_TEST(loop_interest_changes_are_cheap_and_zero_unregisters)
{
	struct eg_loop *loop;
	struct counter c = {0};
	struct eg_loop_stats st;
	int p[2];

	mkpipe(p);
	EG_ASSERT_EQ(eg_loop_new(&loop), 0);
	eg_io_watch_init(&c.w, p[1], count_cb, &c); /* write end: always writable */
	EG_ASSERT_EQ(eg_loop_io_set(loop, &c.w, EG_IO_WRITE), 0);
	EG_ASSERT_EQ(eg_loop_io_set(loop, &c.w, EG_IO_WRITE), 0); /* same mask: no syscall */
	eg_loop_get_stats(loop, &st);
	EG_ASSERT_EQ(st.registered, 2); /* ours + the inbox eventfd */
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(c.calls, 1);
	EG_ASSERT(c.last & EG_IO_WRITE);
	EG_ASSERT_EQ(eg_loop_io_set(loop, &c.w, 0), 0);
	EG_ASSERT(!c.w.registered);
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(c.calls, 1);
	/* Hang-up with no interest: not registered, so no spin on EPOLLHUP. */
	close(p[0]);
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(c.calls, 1);
	/* Re-register: the error shows up. */
	EG_ASSERT_EQ(eg_loop_io_set(loop, &c.w, EG_IO_WRITE), 0);
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(c.calls, 2);
	EG_ASSERT(c.last & EG_IO_ERROR);
	eg_loop_io_stop(loop, &c.w);
	eg_loop_get_stats(loop, &st);
	EG_ASSERT_EQ(st.registered, 1);
	loop = eg_loop_free(loop);
	close(p[1]);
}

EG_TEST(loop_edge_triggered_reports_once_per_arrival)
{
	struct eg_loop *loop;
	struct counter c = {0};
	int p[2];

	mkpipe(p);
	EG_ASSERT_EQ(eg_loop_new(&loop), 0);
	eg_io_watch_init(&c.w, p[0], count_cb, &c);
	EG_ASSERT_EQ(eg_loop_io_set(loop, &c.w, EG_IO_READ | EG_IO_EDGE), 0);
	put1(p[1]);
	for (int i = 0; i < 3; i++)
		EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(c.calls, 1); /* not read, but reported once */
	put1(p[1]);
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(c.calls, 2);
	eg_loop_io_stop(loop, &c.w);
	loop = eg_loop_free(loop);
	close(p[0]);
	close(p[1]);
}

/* Two readable fds; whichever callback runs first stops and frees the other watcher. */
struct victim {
	struct eg_io_watch w;
	struct victim **other;
	struct eg_loop *loop;
	unsigned *calls;
};

static void victim_cb(struct eg_io_watch *w, uint32_t events)
{
	struct victim *v = w->data;

	(void)events;
	(*v->calls)++;
	if (*v->other) {
		eg_loop_io_stop(v->loop, &(*v->other)->w);
		free(*v->other); /* freed right away: its queued event must be dropped */
		*v->other = NULL;
	}
}

EG_TEST(loop_stop_drops_events_already_collected)
{
	struct eg_loop *loop;
	struct victim *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct victim *keep_a = a, *keep_b = b;
	unsigned calls = 0;
	int p1[2], p2[2];

	mkpipe(p1);
	mkpipe(p2);
	EG_ASSERT_EQ(eg_loop_new(&loop), 0);
	a->other = &b;
	b->other = &a;
	a->loop = b->loop = loop;
	a->calls = b->calls = &calls;
	eg_io_watch_init(&a->w, p1[0], victim_cb, a);
	eg_io_watch_init(&b->w, p2[0], victim_cb, b);
	EG_ASSERT_EQ(eg_loop_io_set(loop, &a->w, EG_IO_READ), 0);
	EG_ASSERT_EQ(eg_loop_io_set(loop, &b->w, EG_IO_READ), 0);
	put1(p1[1]);
	put1(p2[1]);
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(calls, 1); /* ASan would catch a call into the freed one */
	EG_ASSERT((a == NULL) != (b == NULL));
	if (a) {
		eg_loop_io_stop(loop, &a->w);
		free(a);
	} else {
		eg_loop_io_stop(loop, &b->w);
		free(b);
	}
	(void)keep_a;
	(void)keep_b;
	loop = eg_loop_free(loop);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
}

/* ---- cached now ---- */

struct nowcheck {
	struct eg_io_watch w;
	struct eg_loop *loop;
	uint64_t before, after;
};

static void now_cb(struct eg_io_watch *w, uint32_t events)
{
	struct nowcheck *n = w->data;
	struct timespec ts = {0, 30 * 1000 * 1000};

	(void)events;
	n->before = eg_loop_now(n->loop);
	nanosleep(&ts, NULL);
	n->after = eg_loop_now(n->loop);
	eg_loop_io_stop(n->loop, w);
}

EG_TEST(loop_now_is_cached_per_iteration)
{
	struct eg_loop *loop;
	struct nowcheck n = {0};
	int p[2];

	mkpipe(p);
	EG_ASSERT_EQ(eg_loop_new(&loop), 0);
	n.loop = loop;
	eg_io_watch_init(&n.w, p[1], now_cb, &n);
	EG_ASSERT_EQ(eg_loop_io_set(loop, &n.w, EG_IO_WRITE), 0);
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT_EQ(n.before, n.after); /* 30 ms slept, same cached value */
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	EG_ASSERT(eg_loop_now(loop) >= n.before + 30);
	EG_ASSERT(eg_clock_ms() >= eg_loop_now(loop));
	loop = eg_loop_free(loop);
	close(p[0]);
	close(p[1]);
}

/* ---- posted callbacks ---- */

#define POSTERS 4
#define POSTS   2000

struct post_state {
	struct eg_loop *loop;
	pthread_t loop_thread;
	unsigned next[POSTERS]; /* next sequence number expected from each poster */
	unsigned total;
	unsigned wrong_thread, out_of_order;
};

struct post_msg {
	struct post_state *st;
	unsigned poster, seq;
};

static void post_cb(struct eg_loop *loop, void *arg, int status)
{
	struct post_msg *m = arg;
	struct post_state *st = m->st;

	if (status == 0) {
		if (!pthread_equal(pthread_self(), st->loop_thread))
			st->wrong_thread++;
		if (m->seq != st->next[m->poster])
			st->out_of_order++;
		st->next[m->poster] = m->seq + 1;
		if (++st->total == POSTERS * POSTS)
			eg_loop_stop(loop);
	}
	free(m);
}

struct poster {
	struct post_state *st;
	unsigned id;
	int failures;
};

static void *poster_main(void *arg)
{
	struct poster *p = arg;

	for (unsigned i = 0; i < POSTS; i++) {
		struct post_msg *m = malloc(sizeof(*m));

		if (!m) {
			p->failures++;
			continue;
		}
		*m = (struct post_msg){p->st, p->id, i};
		if (eg_loop_post(p->st->loop, post_cb, m) < 0) {
			free(m);
			p->failures++;
		}
	}
	return NULL;
}

static void deadline_cb(struct eg_timer *t, void *data)
{
	(void)t;
	eg_loop_stop(data);
}

EG_TEST(loop_posts_from_threads_run_on_loop_in_order)
{
	struct post_state st = {0};
	struct poster ps[POSTERS];
	pthread_t th[POSTERS];
	struct eg_timer deadline;

	EG_ASSERT_EQ(eg_loop_new(&st.loop), 0);
	st.loop_thread = pthread_self();
	for (unsigned i = 0; i < POSTERS; i++) {
		ps[i] = (struct poster){&st, i, 0};
		EG_ASSERT_EQ(pthread_create(&th[i], NULL, poster_main, &ps[i]), 0);
	}
	eg_timer_init(&deadline, deadline_cb, st.loop);
	EG_ASSERT_EQ(eg_loop_timer_arm(st.loop, &deadline, 10000), 0);
	EG_ASSERT_EQ(eg_loop_run(st.loop, EG_LOOP_DEFAULT), 0);
	for (unsigned i = 0; i < POSTERS; i++) {
		pthread_join(th[i], NULL);
		EG_ASSERT_EQ(ps[i].failures, 0);
	}
	eg_loop_timer_disarm(st.loop, &deadline);
	EG_ASSERT_EQ(st.total, POSTERS * POSTS);
	EG_ASSERT_EQ(st.wrong_thread, 0);
	EG_ASSERT_EQ(st.out_of_order, 0);
	st.loop = eg_loop_free(st.loop);
}

static void cancel_cb(struct eg_loop *loop, void *arg, int status)
{
	int *seen = arg;

	(void)loop;
	*seen = status == -ECANCELED ? 1 : 2;
}

EG_TEST(loop_free_cancels_posts_not_run)
{
	struct eg_loop *loop;
	struct eg_loop_post node;
	int seen1 = 0, seen2 = 0;

	EG_ASSERT_EQ(eg_loop_new(&loop), 0);
	EG_ASSERT_EQ(eg_loop_post(loop, cancel_cb, &seen1), 0);
	eg_loop_post_node(loop, &node, cancel_cb, &seen2);
	loop = eg_loop_free(loop);
	EG_ASSERT_EQ(seen1, 1);
	EG_ASSERT_EQ(seen2, 1);
}

/* ---- deferred close ---- */

struct conn {
	struct eg_io_watch w;
	struct eg_loop_closing closing;
	struct eg_loop *loop;
	char *log;
	size_t *loglen;
	char name;
};

static void logc(struct conn *c, char what)
{
	c->log[(*c->loglen)++] = what;
	c->log[(*c->loglen)++] = c->name;
}

static void conn_free_cb(struct eg_loop_closing *cl)
{
	struct conn *c = (struct conn *)((char *)cl - offsetof(struct conn, closing));

	logc(c, 'F');
	free(c);
}

static void conn_cb(struct eg_io_watch *w, uint32_t events)
{
	struct conn *c = w->data;

	(void)events;
	logc(c, 'C');
	eg_loop_io_stop(c->loop, w);
	eg_loop_defer_close(c->loop, &c->closing, conn_free_cb);
	eg_loop_defer_close(c->loop, &c->closing, conn_free_cb); /* idempotent */
	c->name = (char)(c->name - 'a' + 'A'); /* still ours to touch after "closing" it */
}

EG_TEST(loop_deferred_close_runs_after_all_callbacks)
{
	struct eg_loop *loop;
	char log[32] = {0};
	size_t loglen = 0;
	int p[2], dupfd = -1;

	mkpipe(p);
	EG_ASSERT_EQ(eg_loop_new(&loop), 0);
	for (int i = 0; i < 2; i++) {
		struct conn *c = calloc(1, sizeof(*c));

		c->loop = loop;
		c->log = log;
		c->loglen = &loglen;
		c->name = (char)('a' + i);
		eg_io_watch_init(&c->w, p[1], conn_cb, c); /* both watch the writable end */
		if (i == 1) {
			/* epoll refuses the same fd twice: watch a dup */
			dupfd = dup(p[1]);
			c->w.fd = dupfd;
		}
		EG_ASSERT_EQ(eg_loop_io_set(loop, &c->w, EG_IO_WRITE), 0);
	}
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_NOWAIT), 0);
	/* Both callbacks ran, then both frees, each exactly once. */
	EG_ASSERT_EQ(loglen, 8);
	EG_ASSERT_EQ(log[0], 'C');
	EG_ASSERT_EQ(log[2], 'C');
	EG_ASSERT_EQ(log[4], 'F');
	EG_ASSERT_EQ(log[6], 'F');
	EG_ASSERT(log[5] == 'A' || log[5] == 'B');
	loop = eg_loop_free(loop);
	close(p[0]);
	close(p[1]);
	close(dupfd);
}

/* ---- signals ---- */

struct sigstate {
	int signo, pid, calls;
};

static void sig_cb(struct eg_signal_watch *sw, int signo, int pid)
{
	struct sigstate *s = sw->data;

	s->signo = signo;
	s->pid = pid;
	s->calls++;
	eg_loop_stop(sw->loop);
}

EG_TEST(signal_arrives_as_loop_event)
{
	struct eg_loop *loop;
	struct eg_signal_watch sw;
	struct sigstate s = {0};
	struct eg_timer deadline;
	const int sigs[] = {SIGUSR1};

	EG_ASSERT_EQ(eg_loop_new(&loop), 0);
	EG_ASSERT_EQ(eg_signal_watch_start(&sw, loop, sigs, 1, sig_cb, &s), 0);
	EG_ASSERT_EQ(kill(getpid(), SIGUSR1), 0); /* blocked: stays pending for the fd */
	eg_timer_init(&deadline, deadline_cb, loop);
	EG_ASSERT_EQ(eg_loop_timer_arm(loop, &deadline, 5000), 0);
	EG_ASSERT_EQ(eg_loop_run(loop, EG_LOOP_DEFAULT), 0);
	EG_ASSERT_EQ(s.calls, 1);
	EG_ASSERT_EQ(s.signo, SIGUSR1);
	EG_ASSERT_EQ(s.pid, getpid());
	eg_signal_watch_stop(&sw);
	eg_signal_watch_stop(&sw); /* twice: no-op */
	eg_loop_timer_disarm(loop, &deadline);
	loop = eg_loop_free(loop);
	EG_ASSERT_EQ(eg_signal_ignore_sigpipe(), 0);
}

/* ---- workers ---- */

struct wstate {
	_Atomic unsigned inits, finis, drains, posts;
	pthread_t threads[8];
	_Atomic unsigned distinct_ok;
	int fail_init_of; /* index whose init fails, or -1 */
	/* drain test: each worker holds one "connection" released after hold_ms */
	uint64_t hold_ms;
	bool hold;
	struct eg_timer hold_timer[8];
};

static int w_init(struct eg_worker *w, void *data)
{
	struct wstate *s = data;
	unsigned i = eg_worker_index(w);

	if (eg_worker_current() != w || eg_loop_data(eg_worker_loop(w)) != w)
		return -EINVAL;
	s->threads[i] = pthread_self();
	atomic_fetch_add(&s->inits, 1);
	if ((int)i == s->fail_init_of)
		return -EADDRINUSE;
	if (s->hold && eg_worker_conn_acquire(w) < 0)
		return -EBUSY;
	return 0;
}

static void hold_release_cb(struct eg_timer *t, void *data)
{
	(void)t;
	eg_worker_conn_release(data);
}

static void w_drain(struct eg_worker *w, void *data)
{
	struct wstate *s = data;

	atomic_fetch_add(&s->drains, 1);
	if (!eg_worker_draining(w))
		return;
	/* A drain refuses new connections. */
	if (eg_worker_conn_acquire(w) != -ESHUTDOWN)
		return;
	if (s->hold && s->hold_ms) {
		struct eg_timer *t = &s->hold_timer[eg_worker_index(w)];

		eg_timer_init(t, hold_release_cb, w);
		(void)eg_loop_timer_arm(eg_worker_loop(w), t, s->hold_ms);
	}
}

static void w_fini(struct eg_worker *w, void *data)
{
	struct wstate *s = data;

	if (s->hold && eg_worker_conns(w))
		eg_worker_conn_release(w); /* force-close what is left */
	eg_loop_timer_disarm(eg_worker_loop(w), &s->hold_timer[eg_worker_index(w)]);
	atomic_fetch_add(&s->finis, 1);
}

static void w_post_cb(struct eg_loop *loop, void *arg, int status)
{
	struct wstate *s = arg;
	struct eg_worker *w = eg_loop_data(loop);

	if (status == 0 && eg_worker_current() == w &&
	    pthread_equal(pthread_self(), s->threads[eg_worker_index(w)]))
		atomic_fetch_add(&s->distinct_ok, 1);
	atomic_fetch_add(&s->posts, 1);
}

static void wait_for(_Atomic unsigned *v, unsigned want)
{
	for (int i = 0; i < 500 && atomic_load(v) < want; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		nanosleep(&ts, NULL);
	}
}

EG_TEST(workers_start_post_and_stop)
{
	struct wstate s = {.fail_init_of = -1};
	struct eg_workers_config cfg = {
	        .count = 3, .data = &s, .init = w_init, .drain = w_drain, .fini = w_fini};
	struct eg_workers *ws;

	EG_ASSERT_EQ(eg_workers_start(&cfg, &ws), 0);
	EG_ASSERT_EQ(eg_workers_count(ws), 3);
	EG_ASSERT_EQ(atomic_load(&s.inits), 3);
	EG_ASSERT(eg_worker_current() == NULL);
	EG_ASSERT(!pthread_equal(s.threads[0], s.threads[1]));
	EG_ASSERT_EQ(eg_workers_post_all(ws, w_post_cb, &s), 0);
	EG_ASSERT_EQ(eg_worker_post(eg_workers_get(ws, 1), w_post_cb, &s), 0);
	wait_for(&s.posts, 4);
	EG_ASSERT_EQ(atomic_load(&s.posts), 4);
	EG_ASSERT_EQ(atomic_load(&s.distinct_ok), 4);
	EG_ASSERT_EQ(eg_workers_stop(ws, 1000), 0);
	EG_ASSERT_EQ(eg_workers_stop(ws, 1000), 0); /* second call: nothing to do */
	EG_ASSERT_EQ(atomic_load(&s.drains), 3);
	EG_ASSERT_EQ(atomic_load(&s.finis), 3);
	ws = eg_workers_free(ws);
}

EG_TEST(workers_failed_init_fails_start_cleanly)
{
	struct wstate s = {.fail_init_of = 1};
	struct eg_workers_config cfg = {
	        .count = 3, .data = &s, .init = w_init, .drain = w_drain, .fini = w_fini};
	struct eg_workers *ws = NULL;

	EG_ASSERT_EQ(eg_workers_start(&cfg, &ws), -EADDRINUSE);
	EG_ASSERT(ws == NULL);
	EG_ASSERT_EQ(atomic_load(&s.inits), 3);
	EG_ASSERT_EQ(atomic_load(&s.finis), 2); /* the two that started */
}

EG_TEST(workers_drain_waits_for_connections)
{
	struct wstate s = {.fail_init_of = -1, .hold = true, .hold_ms = 150};
	struct eg_workers_config cfg = {
	        .count = 2, .data = &s, .init = w_init, .drain = w_drain, .fini = w_fini};
	struct eg_workers *ws;
	uint64_t t0, dt;

	EG_ASSERT_EQ(eg_workers_start(&cfg, &ws), 0);
	EG_ASSERT_EQ(eg_workers_conns_active(ws), 2);
	t0 = eg_clock_ms();
	EG_ASSERT_EQ(eg_workers_stop(ws, 5000), 0); /* released at 150 ms, before the deadline */
	dt = eg_clock_ms() - t0;
	EG_ASSERT(dt >= 140);
	EG_ASSERT(dt < 4000);
	EG_ASSERT_EQ(eg_workers_conns_active(ws), 0);
	EG_ASSERT_EQ(eg_workers_conns_refused(ws), 2); /* the acquire tried while draining */
	ws = eg_workers_free(ws);
}

EG_TEST(workers_drain_deadline_stops_stuck_workers)
{
	struct wstate s = {.fail_init_of = -1, .hold = true, .hold_ms = 0};
	struct eg_workers_config cfg = {
	        .count = 2, .data = &s, .init = w_init, .drain = w_drain, .fini = w_fini};
	struct eg_workers *ws;
	uint64_t t0, dt;

	EG_ASSERT_EQ(eg_workers_start(&cfg, &ws), 0);
	t0 = eg_clock_ms();
	EG_ASSERT_EQ(eg_workers_stop(ws, 200), 2); /* never released: both hit the deadline */
	dt = eg_clock_ms() - t0;
	EG_ASSERT(dt >= 190);
	EG_ASSERT(dt < 3000);
	EG_ASSERT_EQ(atomic_load(&s.finis), 2);
	EG_ASSERT_EQ(eg_workers_conns_active(ws), 0); /* fini released them */
	ws = eg_workers_free(ws);
}

struct capstate {
	int results[4];
	_Atomic unsigned done;
};

static void cap_post_cb(struct eg_loop *loop, void *arg, int status)
{
	struct capstate *c = arg;
	struct eg_worker *w = eg_loop_data(loop);

	if (status < 0)
		return;
	for (int i = 0; i < 4; i++)
		c->results[i] = eg_worker_conn_acquire(w);
	eg_worker_conn_release(w);
	c->results[3] = c->results[3] == -EBUSY ? eg_worker_conn_acquire(w) : -999;
	eg_worker_conn_release(w);
	eg_worker_conn_release(w);
	eg_worker_conn_release(w);
	eg_worker_conn_release(w); /* one too many: ignored, counter does not wrap */
	atomic_store(&c->done, 1);
}

EG_TEST(workers_connection_cap_refuses_and_counts)
{
	struct capstate c = {0};
	struct eg_workers_config cfg = {.count = 1, .max_conns = 3};
	struct eg_workers *ws;

	EG_ASSERT_EQ(eg_workers_start(&cfg, &ws), 0);
	EG_ASSERT_EQ(eg_workers_max_conns(ws), 3);
	EG_ASSERT_EQ(eg_worker_post(eg_workers_get(ws, 0), cap_post_cb, &c), 0);
	wait_for(&c.done, 1);
	EG_ASSERT_EQ(c.results[0], 0);
	EG_ASSERT_EQ(c.results[1], 0);
	EG_ASSERT_EQ(c.results[2], 0);
	EG_ASSERT_EQ(c.results[3], 0); /* the 4th was refused, then fit after a release */
	EG_ASSERT_EQ(eg_workers_conns_refused(ws), 1);
	EG_ASSERT_EQ(eg_workers_conns_active(ws), 0);
	EG_ASSERT_EQ(eg_workers_stop(ws, 100), 0);
	ws = eg_workers_free(ws);
}
