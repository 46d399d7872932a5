/* bench/tools/stream.c: the TLS-passthrough side of the benchmarks, without TLS. A relay
 * that routes by SNI only peeks at the ClientHello and then moves bytes, so these programs
 * send a ClientHello (bench/tools/hello.h) and then plain bytes: what is measured is the
 * relay, not OpenSSL.
 *
 *   stream serve [-n BYTES] ADDR PORT   for every connection: read one TLS record (the
 *                                       ClientHello), send BYTES (default 1 GiB), close.
 *                                       One child process per connection, bounded to 120 s.
 *   stream hold ADDR PORT               accept and keep every connection; answer the first
 *                                       bytes of each with one byte ('k') so bench/tools/hold
 *                                       knows the pair through the proxy is complete.
 *   stream fetch [-n BYTES] [-s SNI] ADDR PORT
 *                                       send a ClientHello for SNI (default bulk.test), read
 *                                       to end of file, print `bytes N seconds S GBps R`;
 *                                       exit 1 unless exactly BYTES arrived.
 *   stream get [-s SNI] [-c CAFILE] [-n BYTES] ADDR PORT PATH
 *                                       HTTPS: a TLS handshake with SNI (default bench.test),
 *                                       the server's certificate verified against CAFILE and
 *                                       the SNI name, `GET PATH`, the body read 16 KiB at a
 *                                       time; prints `bytes N seconds S GBps R`, exit 1 unless
 *                                       the body is exactly BYTES long.
 *   stream relay [-m splice|copy] ADDR PORT TO_ADDR TO_PORT
 *                                       the reference relays of the 1 GiB row: forward every
 *                                       connection to TO (one child each), both ways, with
 *                                       splice() through a pipe or with read()/write() of
 *                                       64 KiB; no routing, no timeouts beyond 120 s.
 *                                       Children are reaped, so their CPU time shows in
 *                                       the relay's cutime/cstime.
 *
 * serve, hold and relay run until SIGTERM or SIGINT. serve writes and fetch reads at most
 * 16 KiB at a time, the size of a TLS record, as a TLS endpoint would. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "hello.h"

#define CHUNK      16384u /* a TLS record at most: what a TLS peer writes and reads */
#define HOLD_MAX   19000
#define CHILD_SECS 120

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
	fprintf(stderr, "usage: stream serve [-n BYTES] ADDR PORT\n"
	                "       stream hold ADDR PORT\n"
	                "       stream fetch [-n BYTES] [-s SNI] ADDR PORT\n"
	                "       stream get [-s SNI] -c CAFILE [-n BYTES] ADDR PORT PATH\n"
	                "       stream relay [-m splice|copy] ADDR PORT TO_ADDR TO_PORT\n");
	exit(2);
}

static int parse_addr(const char *addr, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)strtoul(port, NULL, 10));
	return inet_pton(AF_INET, addr, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static int listen_on(const struct sockaddr_in *sa)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(fd, 4096) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Reads one whole TLS record (header + length) within 10 s. Returns 0 or -errno. */
static int read_record(int fd)
{
	unsigned char buf[16384 + 5];
	size_t got = 0, want = 5;
	double t0 = now_s();

	while (got < want) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (now_s() - t0 > 10 || poll(&p, 1, 1000) < 0)
			return -ETIMEDOUT;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(fd, buf + got, want - got);
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		got += (size_t)n;
		if (got == 5) {
			want = 5 + (((size_t)buf[3] << 8) | buf[4]);
			if (buf[0] != 0x16 || want > sizeof(buf))
				return -EPROTO;
		}
	}
	return 0;
}

static void serve_one(int fd, uint64_t bytes)
{
	static char chunk[CHUNK];
	uint64_t left = bytes;
	char sink[4096];

	if (read_record(fd) < 0)
		return;
	while (left > 0) {
		size_t n = left < CHUNK ? (size_t)left : CHUNK;
		ssize_t w = write(fd, chunk, n);

		if (w <= 0)
			return;
		left -= (uint64_t)w;
	}
	/* Let the client see the end, then wait for its close so no reset cuts the tail. */
	shutdown(fd, SHUT_WR);
	while (read(fd, sink, sizeof(sink)) > 0)
		;
}

static int cmd_serve(const struct sockaddr_in *sa, uint64_t bytes)
{
	struct sigaction chld = {.sa_handler = SIG_DFL, .sa_flags = SA_NOCLDWAIT};
	int lfd = listen_on(sa);

	if (lfd < 0) {
		fprintf(stderr, "stream serve: listen: %s\n", strerror(-lfd));
		return 1;
	}
	sigaction(SIGCHLD, &chld, NULL);
	while (!stop) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		int fd;
		pid_t pid;

		if (poll(&p, 1, 500) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pid = fork();
		if (pid == 0) {
			/* The child ends with its parent and within CHILD_SECS whatever happens. */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			alarm(CHILD_SECS);
			close(lfd);
			serve_one(fd, bytes);
			_exit(0);
		}
		close(fd);
	}
	close(lfd);
	return 0;
}

static int cmd_hold(const struct sockaddr_in *sa)
{
	struct epoll_event ev = {.events = EPOLLIN}, evs[256];
	static bool answered[65536];
	int lfd = listen_on(sa), ep = epoll_create1(EPOLL_CLOEXEC);
	long held = 0;

	if (lfd < 0 || ep < 0) {
		fprintf(stderr, "stream hold: listen: %s\n", strerror(lfd < 0 ? -lfd : errno));
		return 1;
	}
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	while (!stop) {
		int k = epoll_wait(ep, evs, 256, 500);

		for (int i = 0; i < k; i++) {
			int fd = evs[i].data.fd;
			char buf[16384];
			ssize_t n;

			if (fd == lfd) {
				int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

				if (c < 0)
					continue;
				if (held >= HOLD_MAX || c >= (int)(sizeof(answered))) {
					close(c);
					continue;
				}
				ev.data.fd = c;
				epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				answered[c] = false;
				held++;
				continue;
			}
			n = read(fd, buf, sizeof(buf));
			if (n > 0 && !answered[fd]) {
				answered[fd] = write(fd, "k", 1) == 1;
			} else if (n == 0 || (n < 0 && errno != EAGAIN)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				held--;
			}
		}
	}
	close(ep);
	close(lfd);
	return 0;
}

/* Moves bytes from @from to @to until end of file; returns false on an error. */
static bool pump(int from, int to, int pipefd[2], bool use_splice, char *buf, size_t cap)
{
	if (use_splice) {
		ssize_t n = splice(from, NULL, pipefd[1], NULL, 1 << 20,
		                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n <= 0)
			return n == 0 ? false : errno == EAGAIN;
		while (n > 0) {
			ssize_t m = splice(pipefd[0], NULL, to, NULL, (size_t)n, SPLICE_F_MOVE);

			if (m <= 0)
				return false;
			n -= m;
		}
		return true;
	}
	ssize_t n = read(from, buf, cap);

	if (n <= 0)
		return n < 0 && errno == EAGAIN;
	for (ssize_t off = 0; off < n;) {
		ssize_t m = write(to, buf + off, (size_t)(n - off));

		if (m <= 0)
			return false;
		off += m;
	}
	return true;
}

static void relay_one(int c, const struct sockaddr_in *to, bool use_splice)
{
	static char buf[65536];
	int u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), p1[2], p2[2];
	struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = -1, .events = POLLIN}};
	bool open_c = true, open_u = true;

	if (u < 0 || connect(u, (const struct sockaddr *)to, sizeof(*to)) < 0)
		return;
	if (pipe2(p1, O_CLOEXEC) < 0 || pipe2(p2, O_CLOEXEC) < 0)
		return;
	fcntl(p1[1], F_SETPIPE_SZ, 1 << 20);
	fcntl(p2[1], F_SETPIPE_SZ, 1 << 20);
	p[1].fd = u;
	while (open_c || open_u) {
		p[0].fd = open_c ? c : -1;
		p[1].fd = open_u ? u : -1;
		if (poll(p, 2, 30000) <= 0)
			return;
		if (open_c && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !pump(c, u, p1, use_splice, buf, sizeof(buf))) {
			open_c = false;
			shutdown(u, SHUT_WR);
		}
		if (open_u && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !pump(u, c, p2, use_splice, buf, sizeof(buf))) {
			open_u = false;
			shutdown(c, SHUT_WR);
		}
	}
}

static int cmd_relay(const struct sockaddr_in *sa, const struct sockaddr_in *to, bool use_splice)
{
	int lfd = listen_on(sa);

	if (lfd < 0) {
		fprintf(stderr, "stream relay: listen: %s\n", strerror(-lfd));
		return 1;
	}
	while (!stop) {
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		int fd;

		/* Reaped children add their CPU time to ours (cutime/cstime in /proc/PID/stat),
		 * which is how bench/run reads a reference relay's cost. */
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			alarm(CHILD_SECS);
			close(lfd);
			relay_one(fd, to, use_splice);
			_exit(0);
		}
		close(fd);
	}
	close(lfd);
	return 0;
}

static int cmd_fetch(const struct sockaddr_in *sa, uint64_t bytes, const char *sni)
{
	unsigned char hello[1024];
	ssize_t hl = bench_client_hello(sni, hello, sizeof(hello));
	struct timeval tv = {.tv_sec = 30};
	uint64_t got = 0;
	char *buf = malloc(CHUNK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	double t0, dt;

	if (hl < 0 || !buf || fd < 0)
		usage();
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		fprintf(stderr, "stream fetch: connect: %s\n", strerror(errno));
		return 1;
	}
	t0 = now_s();
	if (write(fd, hello, (size_t)hl) != hl) {
		fprintf(stderr, "stream fetch: write: %s\n", strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n == 0)
			break;
		if (n < 0) {
			fprintf(stderr, "stream fetch: read: %s\n", strerror(errno));
			break;
		}
		got += (uint64_t)n;
	}
	dt = now_s() - t0;
	close(fd);
	free(buf);
	printf("bytes %llu seconds %.3f GBps %.3f\n", (unsigned long long)got, dt,
	       dt > 0 ? (double)got / dt / 1e9 : 0.0);
	return got == bytes ? 0 : 1;
}

static int get_fail(const char *what)
{
	unsigned long e = ERR_get_error();

	fprintf(stderr, "stream get: %s: %s\n", what,
	        e ? ERR_reason_error_string(e) : strerror(errno));
	return 1;
}

static int cmd_get(const struct sockaddr_in *sa, uint64_t bytes, const char *sni, const char *ca,
                   const char *path)
{
	static char buf[CHUNK];
	char req[512], head[8192];
	struct timeval tv = {.tv_sec = 30};
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	size_t hl = 0;
	uint64_t got = 0, want = UINT64_MAX;
	double t0, dt;
	SSL *ssl;
	int fd, n;

	if (!ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		return get_fail("CA file");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	ssl = SSL_new(ctx);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!ssl || fd < 0)
		return get_fail("setup");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	SSL_set_tlsext_host_name(ssl, sni);
	SSL_set1_host(ssl, sni);
	t0 = now_s();
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		return get_fail("connect");
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		return get_fail("handshake");
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
	             path, sni);
	if (n < 0 || (size_t)n >= sizeof(req) || SSL_write(ssl, req, n) != n)
		return get_fail("request");
	for (;;) {
		int r = SSL_read(ssl, buf, sizeof(buf));

		if (r <= 0)
			break;
		if (want == UINT64_MAX) {
			/* Still in the head: keep it until the blank line, then count the rest. */
			size_t take = (size_t)r < sizeof(head) - 1 - hl ? (size_t)r
			                                                : sizeof(head) - 1 - hl;
			char *end;

			memcpy(head + hl, buf, take);
			hl += take;
			head[hl] = 0;
			end = strstr(head, "\r\n\r\n");
			if (!end) {
				if (hl == sizeof(head) - 1)
					return get_fail("response head too long");
				continue;
			}
			const char *cl = strcasestr(head, "\r\ncontent-length:");

			if (strncmp(head, "HTTP/1.1 200", 12) != 0 || !cl) {
				fprintf(stderr, "stream get: unexpected response: %.60s\n", head);
				return 1;
			}
			want = strtoull(cl + 17, NULL, 10);
			got = (uint64_t)r - ((size_t)(end - head) + 4 - (hl - take));
		} else {
			got += (uint64_t)r;
		}
		if (got >= want)
			break;
	}
	dt = now_s() - t0;
	printf("bytes %llu seconds %.3f GBps %.3f\n", (unsigned long long)got, dt,
	       dt > 0 ? (double)got / dt / 1e9 : 0.0);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return got == bytes && want == bytes ? 0 : 1;
}

int main(int argc, char **argv)
{
	uint64_t bytes = 1ull << 30;
	const char *sni = NULL, *cmd, *mode = "splice", *ca = NULL;
	struct sockaddr_in sa, to;
	int opt, nargs;

	if (argc < 2)
		usage();
	cmd = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "n:s:m:c:")) != -1) {
		switch (opt) {
		case 'c':
			ca = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'n':
			bytes = strtoull(optarg, NULL, 10);
			break;
		case 's':
			sni = optarg;
			break;
		default:
			usage();
		}
	}
	nargs = strcmp(cmd, "relay") == 0 ? 4 : strcmp(cmd, "get") == 0 ? 3 : 2;
	if (optind + nargs != argc || parse_addr(argv[optind], argv[optind + 1], &sa) < 0)
		usage();
	if (nargs == 4 && parse_addr(argv[optind + 2], argv[optind + 3], &to) < 0)
		usage();
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(&sa, bytes);
	if (strcmp(cmd, "hold") == 0)
		return cmd_hold(&sa);
	if (strcmp(cmd, "fetch") == 0)
		return cmd_fetch(&sa, bytes, sni ? sni : "bulk.test");
	if (strcmp(cmd, "get") == 0 && ca)
		return cmd_get(&sa, bytes, sni ? sni : "bench.test", ca, argv[optind + 2]);
	if (strcmp(cmd, "relay") == 0 && (strcmp(mode, "splice") == 0 || strcmp(mode, "copy") == 0))
		return cmd_relay(&sa, &to, strcmp(mode, "splice") == 0);
	usage();
	return 2;
}
