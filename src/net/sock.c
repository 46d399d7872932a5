/* src/net/sock.c: socket helpers: listen, connect with a bound source, original destination,
 * options, and the tcp transport ops. */
#include "net/net.h"

#include <errno.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/tcp.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static int set_int(int fd, int level, int opt, int v)
{
	return setsockopt(fd, level, opt, &v, sizeof(v)) < 0 ? -errno : 0;
}

int eg_net_listen_fd(const struct eg_net_addr *addr, const struct eg_net_listen_opts *o,
                     int *ret_fd)
{
	struct eg_net_listen_opts def = {0};
	int fam = eg_net_addr_family(addr), fd, r;

	if (!o)
		o = &def;
	if (fam != AF_INET && fam != AF_INET6)
		return -EAFNOSUPPORT;
	fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (r == 0 && o->reuseport)
		r = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (r == 0 && fam == AF_INET6)
		r = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, o->v6only ? 1 : 0);
	if (r == 0 && o->transparent)
		r = set_int(fd, SOL_IP, IP_TRANSPARENT, 1);
	if (r == 0 && o->freebind)
		r = set_int(fd, SOL_IP, IP_FREEBIND, 1);
	if (r < 0)
		goto out_close;
	if (bind(fd, &addr->u.sa, addr->len) < 0 ||
	    listen(fd, o->backlog > 0 ? o->backlog : 4096) < 0) {
		r = -errno;
		goto out_close;
	}
	*ret_fd = fd;
	return 0;

out_close:
	(void)close(fd);
	return r;
}

int eg_net_listen_group(const struct eg_net_addr *addr, const struct eg_net_listen_opts *o,
                        unsigned n, int *ret_fds, struct eg_net_addr *ret_bound)
{
	struct eg_net_listen_opts opts = {0};
	struct eg_net_addr at = *addr;
	unsigned i;
	int r = 0;

	if (n == 0)
		return -EINVAL;
	if (o)
		opts = *o;
	opts.reuseport = true;
	for (i = 0; i < n; i++) {
		r = eg_net_listen_fd(&at, &opts, &ret_fds[i]);
		if (r < 0)
			goto out_close;
		if (i == 0 && eg_net_addr_port(&at) == 0) {
			/* Everyone else joins the port the kernel picked for the first. */
			r = eg_net_local_addr(ret_fds[0], &at);
			if (r < 0) {
				i++;
				goto out_close;
			}
		}
	}
	if (ret_bound)
		*ret_bound = at;
	return 0;

out_close:
	while (i-- > 0) {
		(void)close(ret_fds[i]);
		ret_fds[i] = -1;
	}
	return r;
}

static int sock_name(int fd, struct eg_net_addr *ret, bool peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
	             : getsockname(fd, (struct sockaddr *)&ss, &len);

	if (r < 0)
		return -errno;
	return eg_net_addr_from_sockaddr((struct sockaddr *)&ss, len, ret);
}

int eg_net_local_addr(int fd, struct eg_net_addr *ret)
{
	return sock_name(fd, ret, false);
}

int eg_net_peer_addr(int fd, struct eg_net_addr *ret)
{
	return sock_name(fd, ret, true);
}

int eg_net_original_dst(int fd, struct eg_net_addr *ret)
{
	struct sockaddr_storage ss;
	struct eg_net_addr local;
	socklen_t len = sizeof(ss);
	int r = eg_net_local_addr(fd, &local);

	if (r < 0)
		return r;
	if (eg_net_addr_family(&local) == AF_INET6)
		r = getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len);
	else
		r = getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len);
	if (r < 0)
		return -errno;
	return eg_net_addr_from_sockaddr((struct sockaddr *)&ss, len, ret);
}

int eg_net_connect_fd(const struct eg_net_addr *dst, const struct eg_net_addr *src, int *ret_fd)
{
	int fam = eg_net_addr_family(dst), fd, r;

	if (fam != AF_INET && fam != AF_INET6)
		return -EAFNOSUPPORT;
	if (src && eg_net_addr_family(src) != fam)
		return -EAFNOSUPPORT;
	fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (src) {
		/* Without it bind() reserves a port for all destinations and the egress address
		 * runs out of ports after ~28k connections in total instead of per destination.
		 * Best effort: a kernel without it still connects, with fewer ports. */
		if (eg_net_addr_port(src) == 0)
			(void)set_int(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1);
		if (bind(fd, &src->u.sa, src->len) < 0) {
			r = -errno;
			goto out_close;
		}
	}
	if (connect(fd, &dst->u.sa, dst->len) == 0) {
		*ret_fd = fd;
		return 0;
	}
	if (errno == EINPROGRESS) {
		*ret_fd = fd;
		return EG_NET_IN_PROGRESS;
	}
	r = -errno;
out_close:
	(void)close(fd);
	return r;
}

int eg_net_socket_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	return -err;
}

int eg_net_set_nodelay(int fd)
{
	return set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

int eg_net_set_linger0(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) < 0 ? -errno : 0;
}

/* ---- tcp transport ---- */

static ssize_t tcp_recv(struct eg_io *io, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = recv(io->fd, buf, len, 0);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			io->recv_want = EG_IO_READ;
			return -EAGAIN;
		}
		return -errno;
	}
}

static ssize_t tcp_send(struct eg_io *io, const struct iovec *iov, int iovcnt)
{
	struct msghdr mh = {0};

	mh.msg_iov = (struct iovec *)iov;
	mh.msg_iovlen = (size_t)iovcnt;
	for (;;) {
		ssize_t n = sendmsg(io->fd, &mh, MSG_NOSIGNAL);

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			io->send_want = EG_IO_WRITE;
			return -EAGAIN;
		}
		return -errno;
	}
}

static int tcp_shutdown_write(struct eg_io *io)
{
	return shutdown(io->fd, SHUT_WR) < 0 ? -errno : 0;
}

static void tcp_close(struct eg_io *io)
{
	if (io->fd >= 0)
		(void)close(io->fd);
	io->fd = -1;
}

static void tcp_abort(struct eg_io *io)
{
	if (io->fd >= 0) {
		(void)eg_net_set_linger0(io->fd);
		(void)close(io->fd);
	}
	io->fd = -1;
}

const struct eg_io_ops eg_io_tcp = {
        .name = "tcp",
        .recv = tcp_recv,
        .send = tcp_send,
        .shutdown_write = tcp_shutdown_write,
        .close = tcp_close,
        .abort = tcp_abort,
};

void eg_io_tcp_init(struct eg_io *io, int fd)
{
	io->ops = &eg_io_tcp;
	io->fd = fd;
	io->ctx = NULL;
	io->recv_want = EG_IO_READ;
	io->send_want = EG_IO_WRITE;
}
