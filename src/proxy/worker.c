/* src/proxy/worker.c: per-worker state: the snapshot hand-off (R10), listeners opened by the
 * control thread and adopted here, DNS resolver, pipe pool, upstream pools, drain. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "proxy/internal.h"
#include "proxy/worker.h"

uint64_t pw_rand(struct pworker *pw)
{
	/* xorshift64*: per worker, no sharing */
	uint64_t x = pw->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	pw->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

struct pconf *pconf_ref(struct pconf *pc)
{
	if (pc)
		atomic_fetch_add_explicit(&pc->refs, 1, memory_order_relaxed);
	return pc;
}

struct pconf *pconf_unref(struct pconf *pc)
{
	if (pc && atomic_fetch_sub_explicit(&pc->refs, 1, memory_order_acq_rel) == 1) {
		eg_accesslog_format_free(pc->fmt);
		ptls_conf_unref(pc->tls);
		eg_snapshot_unref(pc->snap);
		free(pc);
	}
	return NULL;
}

static void on_accept(struct eg_net_listener *l, int fd, const struct eg_net_addr *peer,
                      void *data)
{
	(void)l;
	dconn_accept(data, fd, peer);
}

static void listener_close(struct pworker *pw, uint16_t port)
{
	struct plistener **pp = &pw->listeners;

	while (*pp) {
		struct plistener *pl = *pp;

		if (pl->port == port) {
			*pp = pl->next;
			eg_net_listener_close(&pl->l);
			free(pl);
			return;
		}
		pp = &pl->next;
	}
}

static void msg_free(struct wmsg *m, bool close_fds)
{
	if (close_fds)
		for (unsigned i = 0; i < m->nadd; i++)
			if (m->add[i].fd >= 0)
				close(m->add[i].fd);
	pconf_unref(m->pc);
	free(m);
}

static void on_msg(struct eg_loop *loop, void *arg, int status)
{
	struct wmsg *m = arg;
	struct pworker *pw = eg_loop_data(loop) ? eg_worker_data(eg_loop_data(loop)) : NULL;

	if (status < 0 || !pw || pw->draining) {
		msg_free(m, true);
		return;
	}
	/* the swap: new connections use the new snapshot, live ones keep theirs */
	if (m->pc) {
		struct pconf *old = pw->pc;

		pw->pc = m->pc;
		m->pc = NULL;
		pconf_unref(old);
	}
	for (unsigned i = 0; i < m->ndel; i++)
		listener_close(pw, m->del[i]);
	for (unsigned i = 0; i < m->nadd; i++) {
		struct plistener *pl = calloc(1, sizeof(*pl));

		if (!pl || eg_net_listener_start(&pl->l, pw->loop, m->add[i].fd, pw->w, on_accept,
		                                 pl) < 0) {
			eg_log_error("worker %u: cannot start listener on port %u", pw->idx,
			             m->add[i].port);
			free(pl);
			close(m->add[i].fd);
			m->add[i].fd = -1;
			continue;
		}
		pl->pw = pw;
		pl->port = m->add[i].port;
		pl->capture = m->add[i].capture;
		pl->next = pw->listeners;
		pw->listeners = pl;
		m->add[i].fd = -1;
	}
	msg_free(m, false);
}

int proxy_worker_post(struct eg_worker *w, struct wmsg *m)
{
	int r = eg_worker_post(w, on_msg, m);

	if (r < 0)
		msg_free(m, true);
	return r;
}

/* Idle keep-alive connections hold no buffers, but after a burst the freed buffers sit
 * between live connections in the heap and keep the pages resident; glibc's malloc_trim
 * hands whole free pages back (madvise). Done at most every TRIM_EVERY_MS, and only after
 * enough frees, so a steady load never pays for it. */
static void trim_cb(struct eg_timer *t, void *data)
{
	struct pworker *pw = data;

	if (pw->freed >= TRIM_MIN_FREED) {
		pw->freed = 0;
		(void)malloc_trim(0);
	}
	eg_loop_timer_arm(pw->loop, t, TRIM_EVERY_MS);
}

int proxy_worker_init(struct eg_worker *w, void *data)
{
	struct proxy *px = data;
	struct pworker *pw = calloc(1, sizeof(*pw));
	struct eg_dns_config dc = { 0 };
	int r;

	if (!pw)
		return -ENOMEM;
	pw->px = px;
	pw->w = w;
	pw->loop = eg_worker_loop(w);
	pw->idx = eg_worker_index(w);
	pw->rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)pw->idx << 32) ^ (uint64_t)getpid() ^
	          eg_clock_ms();
	if (!pw->rng)
		pw->rng = 1;
	pw->pools = calloc(POOL_SLOTS, sizeof(*pw->pools));
	eg_buf_init(&pw->scratch, 64 * 1024);
	dc.servers = px->cfg.dns_servers;
	dc.hosts = px->hosts;
	r = pw->pools ? eg_dns_resolver_new(pw->loop, &dc, &pw->dns) : -ENOMEM;
	if (r < 0) {
		free(pw->pools);
		free(pw);
		return r;
	}
	r = eg_net_pipe_pool_init(&pw->pipes, 64, 0);
	if (r < 0) {
		eg_dns_resolver_free(pw->dns);
		free(pw->pools);
		free(pw);
		return r;
	}
	eg_worker_set_data(w, pw);
	eg_timer_init(&pw->trim, trim_cb, pw);
	eg_loop_timer_arm(pw->loop, &pw->trim, TRIM_EVERY_MS);
	return 0;
}

void proxy_worker_drain(struct eg_worker *w, void *data)
{
	struct pworker *pw = eg_worker_data(w);
	struct dconn *d, *nx;

	(void)data;
	if (!pw)
		return;
	pw->draining = true;
	eg_loop_timer_disarm(pw->loop, &pw->trim); /* the drain ends when connections do */
	while (pw->listeners) {
		struct plistener *pl = pw->listeners;

		pw->listeners = pl->next;
		eg_net_listener_close(&pl->l);
		free(pl);
	}
	for (d = pw->conns; d; d = nx) {
		nx = d->next;
		dconn_drain(d);
	}
	/* idle upstream connections go now; pools stay until fini (requests hold them) */
	up_pools_close_idle(pw);
}

void proxy_worker_fini(struct eg_worker *w, void *data)
{
	struct pworker *pw = eg_worker_data(w);

	(void)data;
	if (!pw)
		return;
	while (pw->listeners) {
		struct plistener *pl = pw->listeners;

		pw->listeners = pl->next;
		eg_net_listener_close(&pl->l);
		free(pl);
	}
	while (pw->conns)
		dconn_close(pw->conns);
	up_pools_free(pw);
	ex_cache_free(pw);
	/* the deferred closes run in the loop's last pass; what they free does not need pw */
	pw->dns = eg_dns_resolver_free(pw->dns);
	eg_net_pipe_pool_done(&pw->pipes);
	pw->pc = pconf_unref(pw->pc);
	eg_buf_done(&pw->scratch);
	free(pw->pools);
	pw->pools = NULL;
	eg_worker_set_data(w, NULL);
	free(pw);
}
