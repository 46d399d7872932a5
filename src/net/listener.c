/* src/net/listener.c: the accept4 loop and the non-blocking connector. */
#include "net/net.h"

#include <errno.h>
#include <unistd.h>

#define ACCEPT_BATCH    64
#define ACCEPT_PAUSE_MS 100 /* after EMFILE & co: let connections close before retrying */

static void listener_io_cb(struct eg_io_watch *w, uint32_t events);

static void listener_arm(struct eg_net_listener *l)
{
	bool on = !l->paused && !eg_timer_armed(&l->resume);

	/* A failure here leaves the listener idle until resume; nothing better to do. */
	(void)eg_loop_io_set(l->loop, &l->io, on ? EG_IO_READ : 0);
}

static void resume_cb(struct eg_timer *t, void *data)
{
	struct eg_net_listener *l = data;

	(void)t;
	listener_arm(l);
}

static void listener_io_cb(struct eg_io_watch *w, uint32_t events)
{
	struct eg_net_listener *l = w->data;

	(void)events;
	for (unsigned i = 0; i < l->batch; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		struct eg_net_addr peer = {0};
		int fd = accept4(l->io.fd, (struct sockaddr *)&ss, &len,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
			case EINTR:
				return;
			case ECONNABORTED:
			case EPROTO:
			case EPERM:
				continue; /* that connection is gone; the next may be fine */
			default:
				/* EMFILE, ENFILE, ENOBUFS, ENOMEM: the queue keeps the connection;
				 * stop polling a while instead of spinning on it. */
				l->errors++;
				if (eg_loop_timer_arm(l->loop, &l->resume, ACCEPT_PAUSE_MS) == 0)
					listener_arm(l);
				return;
			}
		}
		if (l->gate && eg_worker_conn_acquire(l->gate) < 0) {
			l->refused++;
			(void)close(fd);
			continue;
		}
		(void)eg_net_addr_from_sockaddr((struct sockaddr *)&ss, len, &peer);
		l->accepted++;
		l->cb(l, fd, &peer, l->data);
		if (!l->io.registered)
			return; /* the callback paused or closed the listener */
	}
}

int eg_net_listener_start(struct eg_net_listener *l, struct eg_loop *loop, int fd,
                          struct eg_worker *gate, eg_net_accept_cb cb, void *data)
{
	int r;

	eg_io_watch_init(&l->io, fd, listener_io_cb, l);
	eg_timer_init(&l->resume, resume_cb, l);
	l->loop = loop;
	l->gate = gate;
	l->cb = cb;
	l->data = data;
	l->batch = ACCEPT_BATCH;
	l->paused = false;
	l->accepted = l->refused = l->errors = 0;
	r = eg_loop_io_set(loop, &l->io, EG_IO_READ);
	if (r < 0) {
		l->loop = NULL;
		l->io.fd = -1;
	}
	return r;
}

void eg_net_listener_pause(struct eg_net_listener *l)
{
	if (!l->loop)
		return;
	l->paused = true;
	listener_arm(l);
}

void eg_net_listener_resume(struct eg_net_listener *l)
{
	if (!l->loop)
		return;
	l->paused = false;
	listener_arm(l);
}

void eg_net_listener_close(struct eg_net_listener *l)
{
	if (!l->loop)
		return;
	eg_loop_io_stop(l->loop, &l->io);
	eg_loop_timer_disarm(l->loop, &l->resume);
	(void)close(l->io.fd);
	l->io.fd = -1;
	l->loop = NULL;
}

/* ---- connector ---- */

static void connect_finish(struct eg_net_connector *c, int fd_or_err)
{
	int fd = c->io.fd;

	eg_loop_io_stop(c->loop, &c->io);
	eg_loop_timer_disarm(c->loop, &c->timer);
	c->busy = false;
	c->io.fd = -1;
	if (fd_or_err < 0)
		(void)close(fd);
	c->cb(c, fd_or_err, c->data); /* may free @c */
}

static void connect_io_cb(struct eg_io_watch *w, uint32_t events)
{
	struct eg_net_connector *c = w->data;
	int err;

	(void)events;
	err = eg_net_socket_error(c->io.fd);
	if (err == 0) {
		/* Writable without error may still be unconnected after a spurious wake-up. */
		struct eg_net_addr peer;

		err = eg_net_peer_addr(c->io.fd, &peer);
		if (err == -ENOTCONN)
			return;
	}
	connect_finish(c, err < 0 ? err : c->io.fd);
}

static void connect_timeout_cb(struct eg_timer *t, void *data)
{
	struct eg_net_connector *c = data;

	(void)t;
	connect_finish(c, -ETIMEDOUT);
}

int eg_net_connect(struct eg_net_connector *c, struct eg_loop *loop, const struct eg_net_addr *dst,
                   const struct eg_net_addr *src, uint64_t timeout_ms, eg_net_connect_cb cb,
                   void *data)
{
	int fd, r;

	r = eg_net_connect_fd(dst, src, &fd);
	if (r < 0)
		return r;
	eg_io_watch_init(&c->io, fd, connect_io_cb, c);
	eg_timer_init(&c->timer, connect_timeout_cb, c);
	c->loop = loop;
	c->cb = cb;
	c->data = data;
	/* Even an immediate success is reported from the loop (writable at once), so the
	 * callback never runs inside this call. */
	r = eg_loop_io_set(loop, &c->io, EG_IO_WRITE);
	if (r == 0 && timeout_ms)
		r = eg_loop_timer_arm(loop, &c->timer, timeout_ms);
	if (r < 0) {
		eg_loop_io_stop(loop, &c->io);
		(void)close(fd);
		c->io.fd = -1;
		return r;
	}
	c->busy = true;
	return 0;
}

void eg_net_connect_cancel(struct eg_net_connector *c)
{
	if (!c->busy)
		return;
	eg_loop_io_stop(c->loop, &c->io);
	eg_loop_timer_disarm(c->loop, &c->timer);
	(void)close(c->io.fd);
	c->io.fd = -1;
	c->busy = false;
}
