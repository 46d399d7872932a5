/* src/core/worker.h: N worker threads, each running its own struct eg_loop, plus the global
 * connection cap.
 * May include: core.
 *
 * Threading rules:
 * - eg_workers_start/stop/free and eg_workers_post_all run on the control thread (the one that
 *   started the group); eg_worker_post and eg_loop_post may be called from any thread.
 * - Everything else about a worker (its loop, eg_worker_conn_*, its user data) belongs to that
 *   worker's thread. Nothing on the request path takes a lock: the cap is one atomic counter.
 * - Snapshot hand-off (STYLE.md R10): the control thread takes one reference per worker and
 *   posts it with eg_worker_post(); the worker swaps its own pointer in the posted callback.
 *   A callback that gets status -ECANCELED (the worker stopped first) must drop the reference.
 *
 * Graceful stop: eg_workers_stop() posts a drain message to every worker. On its thread the
 * worker marks itself draining (eg_worker_conn_acquire refuses from then on), calls the drain
 * callback (stop accepting, close idle keep-alive connections, let requests in flight finish),
 * and its loop ends as soon as its connection count reaches 0 or when the drain deadline
 * passes, whichever is first. Then the fini callback runs (force-close what is left), one last
 * loop pass runs the deferred closes, and the thread ends. eg_workers_stop() joins them all. */
#ifndef EG_CORE_WORKER_H
#define EG_CORE_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/loop.h"

struct eg_worker;
struct eg_workers;

/* The default global cap: each proxied connection holds at least two fds (downstream and
 * upstream), and a process may hold at most 20,000 fds here (PLATFORM.md). */
#define EG_WORKERS_DEFAULT_MAX_CONNS 8000u
#define EG_WORKERS_MAX               256u

struct eg_workers_config {
	unsigned count;     /* threads; 0 = one per online CPU (at most EG_WORKERS_MAX) */
	uint32_t max_conns; /* global cap on accepted connections; 0 = the default */
	void *data;         /* passed to the callbacks below */
	/* On the worker thread, before its loop runs (open listeners here). < 0 fails the start. */
	int (*init)(struct eg_worker *w, void *data);
	/* On the worker thread when a graceful stop begins. */
	void (*drain)(struct eg_worker *w, void *data);
	/* On the worker thread after its loop ended (after drain, deadline or failed start of a
	 * sibling); close everything still open. Not called when init failed. */
	void (*fini)(struct eg_worker *w, void *data);
};

/* Creates the loops, starts the threads, and waits until every init returned. Returns 0 with
 * all workers running, or the first init error / -errno (then every started worker was
 * stopped and joined, and nothing is left). */
int eg_workers_start(const struct eg_workers_config *cfg, struct eg_workers **ret_ws);
/* Graceful stop (see above), waiting at most @drain_ms per worker, then joins. Returns how
 * many workers reached the deadline with connections still open (0 = clean drain). A second
 * call returns 0 immediately. */
int eg_workers_stop(struct eg_workers *ws, uint64_t drain_ms);
/* Stops (with no drain time) if still running, frees the loops (running posted callbacks that
 * never ran with -ECANCELED, on the calling thread). Returns NULL. */
struct eg_workers *eg_workers_free(struct eg_workers *ws);

unsigned eg_workers_count(const struct eg_workers *ws);
struct eg_worker *eg_workers_get(struct eg_workers *ws, unsigned i);
/* Posts @cb(loop, @arg, status) to every worker (the same @arg to each). All or nothing:
 * 0, or -ENOMEM with nothing posted. */
int eg_workers_post_all(struct eg_workers *ws, eg_loop_post_cb cb, void *arg);
/* Connections accepted and not yet released, over all workers. */
uint32_t eg_workers_conns_active(const struct eg_workers *ws);
/* Connections refused because of the cap (or because the worker was draining). */
uint64_t eg_workers_conns_refused(const struct eg_workers *ws);
uint32_t eg_workers_max_conns(const struct eg_workers *ws);

struct eg_loop *eg_worker_loop(struct eg_worker *w);
unsigned eg_worker_index(const struct eg_worker *w);
struct eg_workers *eg_worker_group(struct eg_worker *w);
/* The worker running the calling thread, or NULL on other threads. */
struct eg_worker *eg_worker_current(void);
/* Per-worker user pointer (the proxy's per-thread state); worker thread only. */
void eg_worker_set_data(struct eg_worker *w, void *data);
void *eg_worker_data(const struct eg_worker *w);
/* Any thread: queues @cb on @w's loop (see eg_loop_post). 0 or -ENOMEM. */
int eg_worker_post(struct eg_worker *w, eg_loop_post_cb cb, void *arg);

/* Worker thread: takes one slot of the global cap for a new connection. 0, -EBUSY when the
 * cap is reached, -ESHUTDOWN while draining; both refusals are counted. */
int eg_worker_conn_acquire(struct eg_worker *w);
/* Worker thread: gives the slot back when the connection is closed; during a drain the loop
 * ends when the worker's last connection is released. */
void eg_worker_conn_release(struct eg_worker *w);
/* This worker's open connections. */
uint32_t eg_worker_conns(const struct eg_worker *w);
bool eg_worker_draining(const struct eg_worker *w);

#endif /* EG_CORE_WORKER_H */
