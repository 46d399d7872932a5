/* bench/tools/hold.c: opens many connections to a proxy, makes each one do a single exchange
 * and then keeps them all idle, so bench/run can read the proxy's RSS before and after and
 * divide by the number of connections.
 *
 *   hold [-m http|tls] [-n N] [-c INFLIGHT] [-t SECONDS] [-H HOST] [-p PATH] ADDR PORT
 *
 *   -m http  each connection sends `GET PATH HTTP/1.1` with `Host: HOST` and reads the whole
 *            response (Content-Length or chunked are not parsed beyond Content-Length: the
 *            bench backend always sends one), then stays idle on keep-alive.
 *   -m tls   each connection sends a TLS ClientHello with SNI HOST and waits for one byte back
 *            (bench/tools/stream.c `hold` answers every ClientHello with one byte), so the
 *            proxy's connection pair is known to be complete; then stays idle.
 *   -n N         connections (default 5000; at most 18000 so one process stays under the
 *                machine's 20000-descriptor limit: bench/run spreads more over processes)
 *   -c INFLIGHT  exchanges in flight at once (default 50), so the proxy reuses its upstream
 *                pool instead of opening one upstream connection per client
 *   -t SECONDS   how long to stay idle before exiting (default 30, at most 120)
 *
 * Prints `held N failed F` once every connection finished its exchange (or failed), then
 * `closed_while_idle K` when it exits: a proxy that closes idle keep-alive connections would
 * make the RSS figure meaningless, so bench/run reports K. Exits early on SIGTERM or SIGINT.
 * Exit status 0 when no connection failed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hello.h"

#define MAX_CONNS   18000
#define RESP_MAX    65536 /* bigger responses are read and counted, not kept */
#define SETUP_LIMIT 60    /* seconds for all exchanges */

enum state {
	ST_FREE,
	ST_CONNECTING,
	ST_SENT,
	ST_IDLE,
	ST_DEAD
};

struct hconn {
	int fd;
	enum state st;
	size_t sent;
	size_t got;      /* bytes of the response so far */
	size_t head_end; /* offset after the blank line, 0 until seen */
	size_t body_len; /* Content-Length */
	char *resp;      /* first RESP_MAX bytes of the response */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: hold [-m http|tls] [-n N] [-c INFLIGHT] [-t SECONDS] [-H HOST] "
	                "[-p PATH] ADDR PORT\n");
	exit(2);
}

static int start_conn(struct hconn *c, int ep, const struct sockaddr_in *sa, uint32_t idx)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = idx};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 && errno != EINPROGRESS) {
		int r = -errno;

		close(fd);
		return r;
	}
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	c->fd = fd;
	c->st = ST_CONNECTING;
	c->sent = c->got = c->head_end = c->body_len = 0;
	return 0;
}

/* Looks for the end of the head and its Content-Length once the blank line arrived. */
static void scan_head(struct hconn *c)
{
	size_t n = c->got < RESP_MAX ? c->got : RESP_MAX;
	const char *end = memmem(c->resp, n, "\r\n\r\n", 4);
	const char *p;

	if (!end)
		return;
	c->head_end = (size_t)(end - c->resp) + 4;
	for (p = c->resp; p < end; p++) {
		if ((p == c->resp || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
			c->body_len = strtoul(p + 15, NULL, 10);
			break;
		}
	}
}

/* Returns 1 when the exchange is complete, 0 when more is due, < 0 on failure. */
static int on_readable(struct hconn *c, bool tls)
{
	char scratch[16384];

	for (;;) {
		char *dst = scratch;
		size_t room = sizeof(scratch);
		ssize_t n;

		if (c->got < RESP_MAX) {
			dst = c->resp + c->got;
			room = RESP_MAX - c->got;
		}
		n = read(c->fd, dst, room);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->got += (size_t)n;
		if (tls)
			return 1;
		if (!c->head_end)
			scan_head(c);
		if (c->head_end && c->got >= c->head_end + c->body_len) {
			if (c->got > c->head_end + c->body_len)
				return -EPROTO; /* nothing else was asked for */
			if (strncmp(c->resp, "HTTP/1.1 200", 12) != 0)
				return -EPROTO;
			return 1;
		}
	}
}

int main(int argc, char **argv)
{
	const char *mode = "http", *host = "bench.test", *path = "/64";
	long n = 5000, inflight = 50, hold_s = 30;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char req[1024];
	size_t req_len;
	struct hconn *conns;
	struct epoll_event evs[256];
	long started = 0, done = 0, failed = 0, active = 0, closed_idle = 0;
	bool tls;
	double t0;
	int ep, opt, first_err = 0;

	while ((opt = getopt(argc, argv, "m:n:c:t:H:p:")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		case 'c':
			inflight = strtol(optarg, NULL, 10);
			break;
		case 't':
			hold_s = strtol(optarg, NULL, 10);
			break;
		case 'H':
			host = optarg;
			break;
		case 'p':
			path = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 2 != argc || n < 1 || n > MAX_CONNS || inflight < 1 || hold_s < 0 ||
	    hold_s > 120)
		usage();
	tls = strcmp(mode, "tls") == 0;
	if (!tls && strcmp(mode, "http") != 0)
		usage();
	if (inet_pton(AF_INET, argv[optind], &sa.sin_addr) != 1)
		usage();
	sa.sin_port = htons((uint16_t)strtoul(argv[optind + 1], NULL, 10));

	if (tls) {
		ssize_t r = bench_client_hello(host, (unsigned char *)req, sizeof(req));

		if (r < 0)
			usage();
		req_len = (size_t)r;
	} else {
		int r = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path,
		                 host);

		if (r < 0 || (size_t)r >= sizeof(req))
			usage();
		req_len = (size_t)r;
	}

	conns = calloc((size_t)n, sizeof(*conns));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || ep < 0) {
		perror("hold: setup");
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);

	/* Phase 1: every connection does its exchange, INFLIGHT at a time. */
	t0 = now_s();
	while (!stop && done + failed < n && now_s() - t0 < SETUP_LIMIT) {
		while (started < n && active < inflight) {
			struct hconn *c = &conns[started];
			int r;

			c->resp = malloc(RESP_MAX);
			r = c->resp ? start_conn(c, ep, &sa, (uint32_t)started) : -ENOMEM;
			started++;
			if (r < 0) {
				if (!first_err)
					first_err = r;
				free(c->resp);
				c->resp = NULL;
				c->fd = -1;
				c->st = ST_DEAD;
				failed++;
				continue;
			}
			active++;
		}
		int k = epoll_wait(ep, evs, 256, 1000);

		for (int i = 0; i < k; i++) {
			struct hconn *c = &conns[evs[i].data.u32];
			int r = 0;

			if (c->st == ST_CONNECTING || (c->st == ST_SENT && c->sent < req_len)) {
				int err = 0;
				socklen_t len = sizeof(err);
				ssize_t w;

				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (err) {
					r = -err;
					goto finish;
				}
				c->st = ST_SENT;
				w = write(c->fd, req + c->sent, req_len - c->sent);
				if (w < 0 && errno != EAGAIN) {
					r = -errno;
					goto finish;
				}
				if (w > 0)
					c->sent += (size_t)w;
				if (c->sent == req_len) {
					struct epoll_event ev = {.events = EPOLLIN,
					                         .data.u32 = evs[i].data.u32};

					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
				continue;
			}
			if (c->st != ST_SENT)
				continue;
			r = on_readable(c, tls);
			if (r == 0)
				continue;
finish:
			active--;
			free(c->resp);
			c->resp = NULL;
			if (r > 0) {
				/* Idle from now on: only a close by the peer wakes us. */
				struct epoll_event ev = {.events = EPOLLRDHUP,
				                         .data.u32 = evs[i].data.u32};

				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				c->st = ST_IDLE;
				done++;
			} else {
				if (!first_err)
					first_err = r;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->fd = -1;
				c->st = ST_DEAD;
				failed++;
			}
		}
	}
	failed += n - done - failed; /* never finished within the limit */
	printf("held %ld failed %ld\n", done, failed);
	if (first_err)
		printf("first_error %s\n", strerror(-first_err));
	fflush(stdout);

	/* Phase 2: stay idle and count the connections the proxy closes meanwhile. */
	t0 = now_s();
	while (!stop && now_s() - t0 < (double)hold_s) {
		int k = epoll_wait(ep, evs, 256, 200);

		for (int i = 0; i < k; i++) {
			struct hconn *c = &conns[evs[i].data.u32];

			if (c->st == ST_IDLE) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				c->st = ST_DEAD;
				closed_idle++;
			}
		}
	}
	printf("closed_while_idle %ld\n", closed_idle);
	fflush(stdout);
	for (long i = 0; i < n; i++) {
		if (conns[i].fd > 0)
			close(conns[i].fd);
		free(conns[i].resp);
	}
	free(conns);
	close(ep);
	return failed ? 1 : 0;
}
