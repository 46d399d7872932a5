/* src/net/relay.c: a two-way byte relay between two connections: splice() through a pipe per
 * direction for tcp on both ends, recv/send through the transport ops otherwise.
 *
 * Each direction d moves bytes from io[d] to io[!d] and is always in one of three situations:
 * bytes pending towards the destination (in its pipe or its buffer): wait until the
 * destination is writable; nothing pending and the source not at EOF: wait until the source is
 * readable; EOF reached and nothing pending: pass the EOF on (shutdown_write) and the
 * direction is done. The relay is over when both directions are done, or at the first error,
 * which is passed on to the other side as a reset. Level-triggered watchers; the interest of
 * each fd is recomputed after every pump. */
#include "net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define PUMP_ROUNDS   16         /* per wake-up and direction: fairness between relays */
#define SPLICE_CHUNK  (1u << 20) /* the pipe's capacity bounds each splice anyway */
#define COPY_BUF_SIZE (16u * 1024)

/* ---- pipe pool ---- */

int eg_net_pipe_pool_init(struct eg_net_pipe_pool *pool, unsigned max, size_t pipe_size)
{
	pool->n = 0;
	pool->max = max;
	pool->pipe_size = pipe_size;
	pool->created = 0;
	pool->pipes = NULL;
	if (max) {
		pool->pipes = calloc(max, sizeof(*pool->pipes));
		if (!pool->pipes)
			return -ENOMEM;
	}
	return 0;
}

void eg_net_pipe_pool_done(struct eg_net_pipe_pool *pool)
{
	for (unsigned i = 0; i < pool->n; i++) {
		(void)close(pool->pipes[i][0]);
		(void)close(pool->pipes[i][1]);
	}
	free(pool->pipes);
	pool->pipes = NULL;
	pool->n = 0;
}

static int pipe_get(struct eg_net_relay *r, struct eg_net_relay_dir *dir)
{
	struct eg_net_pipe_pool *pool = r->pool;

	if (dir->pipe[0] >= 0)
		return 0;
	if (pool && pool->n) {
		pool->n--;
		dir->pipe[0] = pool->pipes[pool->n][0];
		dir->pipe[1] = pool->pipes[pool->n][1];
		return 0;
	}
	if (pipe2(dir->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		dir->pipe[0] = dir->pipe[1] = -1;
		return -errno;
	}
	if (pool) {
		pool->created++;
		if (pool->pipe_size)
			(void)fcntl(dir->pipe[1], F_SETPIPE_SZ, (int)pool->pipe_size);
	}
	return 0;
}

/* Gives an empty pipe back to the pool (or closes it); a pipe with bytes left is closed. */
static void pipe_put(struct eg_net_relay *r, struct eg_net_relay_dir *dir)
{
	struct eg_net_pipe_pool *pool = r->pool;

	if (dir->pipe[0] < 0)
		return;
	if (pool && dir->in_pipe == 0 && pool->n < pool->max) {
		pool->pipes[pool->n][0] = dir->pipe[0];
		pool->pipes[pool->n][1] = dir->pipe[1];
		pool->n++;
	} else {
		(void)close(dir->pipe[0]);
		(void)close(dir->pipe[1]);
	}
	dir->pipe[0] = dir->pipe[1] = -1;
	dir->in_pipe = 0;
}

/* ---- pumping ---- */

static int fail(struct eg_net_relay *r, int side, int err)
{
	r->res.failed_side = side;
	return err;
}

static void moved(struct eg_net_relay *r, int d, size_t n)
{
	r->res.bytes[d] += n;
	r->last_active = eg_loop_now(r->loop);
}

static int buf_ensure(struct eg_net_relay *r, struct eg_net_relay_dir *dir)
{
	if (dir->buf && dir->cap >= r->copy_buf_size)
		return 0;
	free(dir->buf);
	dir->buf = malloc(r->copy_buf_size);
	if (!dir->buf) {
		dir->cap = 0;
		return -ENOMEM;
	}
	dir->cap = r->copy_buf_size;
	return 0;
}

/* Moves what it can in direction @d. Returns 0 (waiting or done) or -errno with
 * r->res.failed_side set. */
static int pump(struct eg_net_relay *r, int d)
{
	struct eg_net_relay_dir *dir = &r->dir[d];
	struct eg_io *src = &r->io[d], *dst = &r->io[!d];

	dir->want_read = dir->want_write = false;
	if (dir->done)
		return 0;
	for (unsigned round = 0; round < PUMP_ROUNDS; round++) {
		ssize_t n;

		/* 1. Pending bytes go first. */
		if (dir->len > dir->off) {
			struct iovec iov = {dir->buf + dir->off, dir->len - dir->off};

			n = dst->ops->send(dst, &iov, 1);
			if (n == -EAGAIN) {
				dir->want_write = true;
				return 0;
			}
			if (n < 0)
				return fail(r, !d, (int)n);
			dir->off += (size_t)n;
			moved(r, d, (size_t)n);
			if (dir->off < dir->len)
				continue;
			dir->off = dir->len = 0;
		}
		if (dir->in_pipe) {
			n = splice(dir->pipe[0], NULL, dst->fd, NULL, dir->in_pipe,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				dst->send_want = EG_IO_WRITE;
				dir->want_write = true;
				return 0;
			}
			if (n <= 0)
				return fail(r, !d, n < 0 ? -errno : -EIO);
			dir->in_pipe -= (size_t)n;
			moved(r, d, (size_t)n);
			if (dir->in_pipe)
				continue;
		}
		/* 2. Nothing pending: pass the EOF on, or read more. */
		if (dir->eof) {
			/* Errors here (the peer already reset) surface in the other direction. */
			(void)dst->ops->shutdown_write(dst);
			dir->done = true;
			pipe_put(r, dir);
			return 0;
		}
		if (r->splice && pipe_get(r, dir) == 0) {
			n = splice(src->fd, NULL, dir->pipe[1], NULL, SPLICE_CHUNK,
			           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				/* The pipe is empty, so the socket is: idle, hand the pipe back. */
				src->recv_want = EG_IO_READ;
				dir->want_read = true;
				pipe_put(r, dir);
				return 0;
			}
			if (n < 0)
				return fail(r, d, -errno);
			if (n == 0)
				dir->eof = true;
			dir->in_pipe = (size_t)n;
			continue;
		}
		/* The read/write path (other transports, no_splice, or no pipe to be had). */
		if (buf_ensure(r, dir) < 0)
			return fail(r, d, -ENOMEM);
		n = src->ops->recv(src, dir->buf, dir->cap);
		if (n == -EAGAIN) {
			dir->want_read = true;
			return 0;
		}
		if (n < 0)
			return fail(r, d, (int)n);
		if (n == 0)
			dir->eof = true;
		dir->off = 0;
		dir->len = (size_t)n;
	}
	/* Out of rounds with work left: every round ends with a read, so bytes are pending and
	 * the direction waits for the destination to be writable. That readiness brings it
	 * back (even when the source is a transport holding bytes no epoll event announces,
	 * e.g. TLS records decrypted ahead), after the other connections had their turn. */
	if (dir->len > dir->off || dir->in_pipe)
		dir->want_write = true;
	else
		dir->want_read = true;
	return 0;
}

static void release_dir(struct eg_net_relay *r, struct eg_net_relay_dir *dir)
{
	pipe_put(r, dir);
	free(dir->buf);
	dir->buf = NULL;
	dir->off = dir->len = dir->cap = 0;
}

/* Stops everything; closes both connections (abortively when @abort). */
static void shut(struct eg_net_relay *r, int status, bool abort_a, bool abort_b)
{
	eg_loop_io_stop(r->loop, &r->watch[0]);
	eg_loop_io_stop(r->loop, &r->watch[1]);
	eg_loop_timer_disarm(r->loop, &r->idle);
	release_dir(r, &r->dir[0]);
	release_dir(r, &r->dir[1]);
	if (abort_a)
		r->io[0].ops->abort(&r->io[0]);
	else
		r->io[0].ops->close(&r->io[0]);
	if (abort_b)
		r->io[1].ops->abort(&r->io[1]);
	else
		r->io[1].ops->close(&r->io[1]);
	r->res.status = status;
	if (status == 0 || status == -ETIMEDOUT)
		r->res.failed_side = -1;
	r->active = false;
}

static void finish(struct eg_net_relay *r, int status)
{
	struct eg_net_relay_result res;
	bool abort = status < 0 && status != -ETIMEDOUT;

	/* A reset (or any error) on one side becomes a reset on the other, so neither peer
	 * mistakes a broken stream for a complete one. */
	shut(r, status, abort, abort);
	res = r->res;
	r->cb(r, &res, r->data); /* may free @r */
}

static void set_interest(struct eg_net_relay *r)
{
	for (int i = 0; i < 2; i++) {
		uint32_t ev = 0;

		if (r->dir[i].want_read)
			ev |= r->io[i].recv_want;
		if (r->dir[!i].want_write)
			ev |= r->io[i].send_want;
		/* A failing epoll_ctl leaves the fd unwatched; the idle timer, if any, ends it. */
		(void)eg_loop_io_set(r->loop, &r->watch[i], ev);
	}
}

/* Pumps the directions asked for, then ends the relay or re-arms its interest. */
static void drive(struct eg_net_relay *r, bool d0, bool d1)
{
	int err = 0;

	if (d0)
		err = pump(r, 0);
	if (!err && d1)
		err = pump(r, 1);
	if (err) {
		finish(r, err);
		return;
	}
	if (r->dir[0].done && r->dir[1].done) {
		finish(r, 0);
		return;
	}
	set_interest(r);
}

static void relay_io_cb(struct eg_io_watch *w, uint32_t events)
{
	struct eg_net_relay *r = w->data;
	int i = w == &r->watch[1];
	bool rd = r->dir[i].want_read, wr = r->dir[!i].want_write;

	if ((events & (EG_IO_ERROR | EG_IO_HUP)) || (!rd && !wr))
		rd = wr = true;
	/* Direction i reads from fd i; direction !i writes to it. */
	drive(r, i == 0 ? rd : wr, i == 0 ? wr : rd);
}

static void idle_cb(struct eg_timer *t, void *data)
{
	struct eg_net_relay *r = data;
	uint64_t due = r->last_active + r->idle_timeout_ms;

	(void)t;
	/* Activity only stamps last_active; the timer is moved here, once per period. */
	if (due > eg_loop_now(r->loop) && eg_loop_timer_arm_at(r->loop, &r->idle, due) == 0)
		return;
	finish(r, -ETIMEDOUT);
}

int eg_net_relay_start(struct eg_net_relay *r, struct eg_loop *loop, const struct eg_io *a,
                       const struct eg_io *b, const struct eg_net_relay_opts *o, eg_net_relay_cb cb,
                       void *data)
{
	struct eg_net_relay_opts def = {0};
	int rc;

	if (!o)
		o = &def;
	memset(r, 0, sizeof(*r));
	r->loop = loop;
	r->io[0] = *a;
	r->io[1] = *b;
	r->pool = o->pool;
	r->copy_buf_size = o->copy_buf_size ? o->copy_buf_size : COPY_BUF_SIZE;
	r->idle_timeout_ms = o->idle_timeout_ms;
	r->last_active = eg_loop_now(loop);
	r->splice = !o->no_splice && a->ops == &eg_io_tcp && b->ops == &eg_io_tcp;
	r->cb = cb;
	r->data = data;
	r->res.failed_side = -1;
	r->res.spliced = r->splice;
	eg_timer_init(&r->idle, idle_cb, r);
	for (int d = 0; d < 2; d++) {
		struct eg_net_relay_dir *dir = &r->dir[d];

		dir->pipe[0] = dir->pipe[1] = -1;
		eg_io_watch_init(&r->watch[d], r->io[d].fd, relay_io_cb, r);
		if (o->preload_len[d]) {
			size_t cap = EG_MAX(o->preload_len[d], r->copy_buf_size);

			dir->buf = malloc(cap);
			if (!dir->buf) {
				rc = -ENOMEM;
				goto out_free;
			}
			memcpy(dir->buf, o->preload[d], o->preload_len[d]);
			dir->cap = cap;
			dir->len = o->preload_len[d];
			dir->want_write = true;
		} else {
			dir->want_read = true;
		}
	}
	if (r->idle_timeout_ms) {
		rc = eg_loop_timer_arm(loop, &r->idle, r->idle_timeout_ms);
		if (rc < 0)
			goto out_free;
	}
	/* Nothing moves inside this call: the loop reports readiness, then the pumps run. */
	for (int i = 0; i < 2; i++) {
		uint32_t ev = (r->dir[i].want_read ? r->io[i].recv_want : 0) |
		              (r->dir[!i].want_write ? r->io[i].send_want : 0);

		rc = eg_loop_io_set(loop, &r->watch[i], ev);
		if (rc < 0)
			goto out_stop;
	}
	r->active = true;
	return 0;

out_stop:
	eg_loop_io_stop(loop, &r->watch[0]);
	eg_loop_io_stop(loop, &r->watch[1]);
	eg_loop_timer_disarm(loop, &r->idle);
out_free:
	free(r->dir[0].buf);
	free(r->dir[1].buf);
	r->dir[0].buf = r->dir[1].buf = NULL;
	return rc;
}

void eg_net_relay_close(struct eg_net_relay *r, bool abort, struct eg_net_relay_result *ret)
{
	if (r->active)
		shut(r, abort ? -ECONNABORTED : -ECANCELED, abort, abort);
	if (ret)
		*ret = r->res;
}
