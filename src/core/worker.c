/* src/core/worker.c: worker threads, drain, and the global connection cap. */
#include "core/worker.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct eg_worker {
	struct eg_workers *ws;
	unsigned index;
	struct eg_loop *loop;
	pthread_t thread;
	bool thread_started;
	void *data;

	/* Worker thread only. */
	uint32_t active;
	bool draining;
	bool drain_timed_out;
	struct eg_timer drain_timer;

	/* Written by the control thread before posting, read by the worker in the callback:
	 * the post's mutex orders the two. */
	uint64_t drain_ms;
	struct eg_loop_post drain_post; /* no allocation: a stop cannot fail */
};

struct eg_workers {
	struct eg_workers_config cfg;
	unsigned n;
	struct eg_worker *w; /* [n] */
	bool stopped;

	_Atomic uint32_t conns;
	_Atomic uint64_t refused;

	/* Start-up rendezvous. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned inited;
	int init_err;
};

static _Thread_local struct eg_worker *current_worker;

struct eg_worker *eg_worker_current(void)
{
	return current_worker;
}

static void drain_deadline_cb(struct eg_timer *t, void *data)
{
	struct eg_worker *w = data;

	(void)t;
	w->drain_timed_out = true;
	eg_loop_stop(w->loop);
}

static void drain_post_cb(struct eg_loop *loop, void *arg, int status)
{
	struct eg_worker *w = arg;

	if (status < 0 || w->draining)
		return;
	w->draining = true;
	if (w->ws->cfg.drain)
		w->ws->cfg.drain(w, w->ws->cfg.data);
	if (w->active == 0) {
		eg_loop_stop(loop);
		return;
	}
	eg_timer_init(&w->drain_timer, drain_deadline_cb, w);
	if (w->drain_ms == 0 || eg_loop_timer_arm(loop, &w->drain_timer, w->drain_ms) < 0) {
		w->drain_timed_out = true;
		eg_loop_stop(loop);
	}
}

static void *worker_main(void *arg)
{
	struct eg_worker *w = arg;
	struct eg_workers *ws = w->ws;
	int r = 0;

	current_worker = w;
	if (ws->cfg.init)
		r = ws->cfg.init(w, ws->cfg.data);
	pthread_mutex_lock(&ws->lock);
	ws->inited++;
	if (r < 0 && ws->init_err == 0)
		ws->init_err = r;
	pthread_cond_broadcast(&ws->cond);
	pthread_mutex_unlock(&ws->lock);
	if (r == 0) {
		(void)eg_loop_run(w->loop, EG_LOOP_DEFAULT);
		eg_loop_timer_disarm(w->loop, &w->drain_timer);
		if (ws->cfg.fini)
			ws->cfg.fini(w, ws->cfg.data);
		/* One more pass for the deferred closes fini queued. */
		(void)eg_loop_run(w->loop, EG_LOOP_NOWAIT);
	}
	current_worker = NULL;
	return NULL;
}

/* Posts the drain message to every started worker and joins them. */
static int stop_all(struct eg_workers *ws, uint64_t drain_ms)
{
	int late = 0;

	for (unsigned i = 0; i < ws->n; i++) {
		struct eg_worker *w = &ws->w[i];

		if (!w->thread_started)
			continue;
		w->drain_ms = drain_ms;
		eg_loop_post_node(w->loop, &w->drain_post, drain_post_cb, w);
	}
	for (unsigned i = 0; i < ws->n; i++) {
		struct eg_worker *w = &ws->w[i];

		if (!w->thread_started)
			continue;
		(void)pthread_join(w->thread, NULL);
		w->thread_started = false;
		if (w->drain_timed_out)
			late++;
	}
	ws->stopped = true;
	return late;
}

/* Worker threads inherit the creator's mask: block every asynchronous signal so that the
 * control thread alone receives SIGTERM/SIGHUP (through its signalfd). */
static void block_async_signals(sigset_t *old)
{
	sigset_t set;

	sigfillset(&set);
	sigdelset(&set, SIGSEGV);
	sigdelset(&set, SIGBUS);
	sigdelset(&set, SIGFPE);
	sigdelset(&set, SIGILL);
	sigdelset(&set, SIGABRT);
	sigdelset(&set, SIGTRAP);
	pthread_sigmask(SIG_BLOCK, &set, old);
}

int eg_workers_start(const struct eg_workers_config *cfg, struct eg_workers **ret_ws)
{
	struct eg_workers *ws;
	sigset_t old;
	unsigned n = cfg->count;
	int r = 0;

	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		n = c > 0 ? (unsigned)c : 1;
	}
	if (n > EG_WORKERS_MAX)
		n = EG_WORKERS_MAX;
	ws = calloc(1, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	ws->cfg = *cfg;
	if (ws->cfg.max_conns == 0)
		ws->cfg.max_conns = EG_WORKERS_DEFAULT_MAX_CONNS;
	ws->w = calloc(n, sizeof(*ws->w));
	if (!ws->w) {
		free(ws);
		return -ENOMEM;
	}
	ws->n = n;
	atomic_init(&ws->conns, 0);
	atomic_init(&ws->refused, 0);
	pthread_mutex_init(&ws->lock, NULL);
	pthread_cond_init(&ws->cond, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct eg_worker *w = &ws->w[i];

		w->ws = ws;
		w->index = i;
		eg_timer_init(&w->drain_timer, drain_deadline_cb, w);
		r = eg_loop_new(&w->loop);
		if (r < 0)
			goto out_fail;
		eg_loop_set_data(w->loop, w);
	}
	block_async_signals(&old);
	for (unsigned i = 0; i < n; i++) {
		struct eg_worker *w = &ws->w[i];

		r = pthread_create(&w->thread, NULL, worker_main, w);
		if (r != 0) {
			r = -r;
			break;
		}
		w->thread_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto out_fail;
	pthread_mutex_lock(&ws->lock);
	while (ws->inited < n)
		pthread_cond_wait(&ws->cond, &ws->lock);
	r = ws->init_err;
	pthread_mutex_unlock(&ws->lock);
	if (r < 0)
		goto out_fail;
	*ret_ws = ws;
	return 0;

out_fail:
	(void)stop_all(ws, 0);
	(void)eg_workers_free(ws);
	return r;
}

int eg_workers_stop(struct eg_workers *ws, uint64_t drain_ms)
{
	if (ws->stopped)
		return 0;
	return stop_all(ws, drain_ms);
}

struct eg_workers *eg_workers_free(struct eg_workers *ws)
{
	if (!ws)
		return NULL;
	if (!ws->stopped)
		(void)stop_all(ws, 0);
	for (unsigned i = 0; i < ws->n; i++)
		ws->w[i].loop = eg_loop_free(ws->w[i].loop);
	pthread_cond_destroy(&ws->cond);
	pthread_mutex_destroy(&ws->lock);
	free(ws->w);
	free(ws);
	return NULL;
}

unsigned eg_workers_count(const struct eg_workers *ws)
{
	return ws->n;
}

struct eg_worker *eg_workers_get(struct eg_workers *ws, unsigned i)
{
	return i < ws->n ? &ws->w[i] : NULL;
}

/* A node of eg_workers_post_all(): allocated up front so that posting cannot fail half way. */
struct post_all_node {
	struct eg_loop_post node;
	eg_loop_post_cb cb;
	void *arg;
};

static void post_all_cb(struct eg_loop *loop, void *arg, int status)
{
	struct post_all_node *n = arg;
	eg_loop_post_cb cb = n->cb;
	void *a = n->arg;

	free(n);
	cb(loop, a, status);
}

int eg_workers_post_all(struct eg_workers *ws, eg_loop_post_cb cb, void *arg)
{
	struct post_all_node **nodes = calloc(ws->n, sizeof(*nodes));
	int r = 0;

	if (!nodes)
		return -ENOMEM;
	for (unsigned i = 0; i < ws->n; i++) {
		nodes[i] = malloc(sizeof(*nodes[i]));
		if (!nodes[i]) {
			r = -ENOMEM;
			goto out_free;
		}
		nodes[i]->cb = cb;
		nodes[i]->arg = arg;
	}
	for (unsigned i = 0; i < ws->n; i++) {
		eg_loop_post_node(ws->w[i].loop, &nodes[i]->node, post_all_cb, nodes[i]);
		nodes[i] = NULL; /* the loop owns it now */
	}
out_free:
	for (unsigned i = 0; i < ws->n; i++)
		free(nodes[i]);
	free(nodes);
	return r;
}

uint32_t eg_workers_conns_active(const struct eg_workers *ws)
{
	return atomic_load_explicit(&ws->conns, memory_order_relaxed);
}

uint64_t eg_workers_conns_refused(const struct eg_workers *ws)
{
	return atomic_load_explicit(&ws->refused, memory_order_relaxed);
}

uint32_t eg_workers_max_conns(const struct eg_workers *ws)
{
	return ws->cfg.max_conns;
}

struct eg_loop *eg_worker_loop(struct eg_worker *w)
{
	return w->loop;
}

unsigned eg_worker_index(const struct eg_worker *w)
{
	return w->index;
}

struct eg_workers *eg_worker_group(struct eg_worker *w)
{
	return w->ws;
}

void eg_worker_set_data(struct eg_worker *w, void *data)
{
	w->data = data;
}

void *eg_worker_data(const struct eg_worker *w)
{
	return w->data;
}

int eg_worker_post(struct eg_worker *w, eg_loop_post_cb cb, void *arg)
{
	return eg_loop_post(w->loop, cb, arg);
}

int eg_worker_conn_acquire(struct eg_worker *w)
{
	struct eg_workers *ws = w->ws;
	uint32_t cur;

	if (w->draining) {
		atomic_fetch_add_explicit(&ws->refused, 1, memory_order_relaxed);
		return -ESHUTDOWN;
	}
	cur = atomic_load_explicit(&ws->conns, memory_order_relaxed);
	do {
		if (cur >= ws->cfg.max_conns) {
			atomic_fetch_add_explicit(&ws->refused, 1, memory_order_relaxed);
			return -EBUSY;
		}
	} while (!atomic_compare_exchange_weak_explicit(
	        &ws->conns, &cur, cur + 1, memory_order_relaxed, memory_order_relaxed));
	w->active++;
	return 0;
}

void eg_worker_conn_release(struct eg_worker *w)
{
	if (w->active == 0)
		return; /* unbalanced release: never let the shared counter wrap */
	w->active--;
	atomic_fetch_sub_explicit(&w->ws->conns, 1, memory_order_relaxed);
	if (w->draining && w->active == 0)
		eg_loop_stop(w->loop);
}

uint32_t eg_worker_conns(const struct eg_worker *w)
{
	return w->active;
}

bool eg_worker_draining(const struct eg_worker *w)
{
	return w->draining;
}
