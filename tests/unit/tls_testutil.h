/* tests/unit/tls_testutil.h: what test_tls_ctx.c and test_tls_io.c share: test PKI made
 * with the OpenSSL API (a CA, leaves with DNS/URI names, wrong-CA twins), temporary
 * directories, real peers (openssl s_server/s_client, curl) spawned with pipes and always
 * killed at exit, and poll loops that drive non-blocking handshakes and transfers.
 * Include after eg_test.h. */
#ifndef TLS_TESTUTIL_H
#define TLS_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "core/loop.h"
#include "net/net.h"
#include "tls/tls.h"

extern char **environ;

/* ---- cleanup at exit (a failed assertion longjmps past the test's own cleanup) ---- */

#define T_MAX_PIDS 32
#define T_MAX_DIRS 16
static pid_t t_pids[T_MAX_PIDS];
static char t_dirs[T_MAX_DIRS][64];
static bool t_atexit_set;

static __attribute__((unused)) int t_rm_cb(const char *path, const struct stat *st, int flag,
                                           struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static __attribute__((unused)) void t_cleanup(void)
{
	for (int i = 0; i < T_MAX_PIDS; i++)
		if (t_pids[i] > 0) {
			kill(t_pids[i], SIGKILL);
			waitpid(t_pids[i], NULL, 0);
			t_pids[i] = 0;
		}
	for (int i = 0; i < T_MAX_DIRS; i++)
		if (t_dirs[i][0]) {
			nftw(t_dirs[i], t_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
			t_dirs[i][0] = '\0';
		}
}

static __attribute__((unused)) void t_atexit(void)
{
	if (!t_atexit_set) {
		atexit(t_cleanup);
		t_atexit_set = true;
	}
}

/* A new temporary directory, removed at exit. */
static const char *t_tmpdir(void)
{
	t_atexit();
	for (int i = 0; i < T_MAX_DIRS; i++)
		if (!t_dirs[i][0]) {
			snprintf(t_dirs[i], sizeof(t_dirs[i]), "/tmp/eg-tls-test.XXXXXX");
			if (!mkdtemp(t_dirs[i])) {
				t_dirs[i][0] = '\0';
				return NULL;
			}
			return t_dirs[i];
		}
	return NULL;
}

static __attribute__((unused)) int t_write(const char *dir, const char *name, const char *data,
                                           char *path, size_t cap)
{
	FILE *f;

	snprintf(path, cap, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(data, f);
	return fclose(f) == 0 ? 0 : -EIO;
}

/* ---- test PKI ---- */

struct t_cert {
	X509 *x;
	EVP_PKEY *k;
	char *cert_pem;
	char *key_pem;
};

static char *t_pem_x509(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	PEM_write_bio_X509(b, x);
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	BIO_free(b);
	return out;
}

static char *t_pem_key(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;

	PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	n = BIO_get_mem_data(b, &p);
	out = strndup(p, (size_t)n);
	BIO_free(b);
	return out;
}

static __attribute__((unused)) void t_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (e) {
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
}

/* A certificate for @cn signed by @issuer (NULL: self-signed CA). @san: "DNS:a,URI:b" or
 * NULL. @serverauth/@clientauth: extendedKeyUsage of a leaf. */
static __attribute__((unused)) struct t_cert t_make(const char *cn, const struct t_cert *issuer,
                                                    const char *san, bool serverauth,
                                                    bool clientauth)
{
	static long serial = 1000;
	struct t_cert c = {0};
	X509_NAME *name;

	c.k = EVP_EC_gen("P-256");
	c.x = X509_new();
	X509_set_version(c.x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c.x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(c.x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(c.x), 86400);
	X509_set_pubkey(c.x, c.k);
	name = X509_get_subject_name(c.x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(c.x, issuer ? X509_get_subject_name(issuer->x) : name);
	if (!issuer) {
		t_ext(c.x, c.x, NID_basic_constraints, "critical,CA:TRUE");
		t_ext(c.x, c.x, NID_key_usage, "critical,keyCertSign,cRLSign");
		t_ext(c.x, c.x, NID_subject_key_identifier, "hash");
	} else {
		char eku[64] = "";

		t_ext(c.x, issuer->x, NID_basic_constraints, "critical,CA:FALSE");
		t_ext(c.x, issuer->x, NID_key_usage, "critical,digitalSignature,keyAgreement");
		snprintf(eku, sizeof(eku), "%s%s%s", serverauth ? "serverAuth" : "",
		         serverauth && clientauth ? "," : "", clientauth ? "clientAuth" : "");
		if (eku[0])
			t_ext(c.x, issuer->x, NID_ext_key_usage, eku);
		t_ext(c.x, issuer->x, NID_authority_key_identifier, "keyid");
		if (san)
			t_ext(c.x, issuer->x, NID_subject_alt_name, san);
	}
	X509_sign(c.x, issuer ? issuer->k : c.k, EVP_sha256());
	c.cert_pem = t_pem_x509(c.x);
	c.key_pem = t_pem_key(c.k);
	return c;
}

static __attribute__((unused)) void t_cert_free(struct t_cert *c)
{
	X509_free(c->x);
	EVP_PKEY_free(c->k);
	free(c->cert_pem);
	free(c->key_pem);
	memset(c, 0, sizeof(*c));
}

/* base64 of @s on one line (as Kubernetes writes Secret data); the caller frees. */
static char *t_b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n / 3 * 4 + 8);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

/* ---- peers ---- */

struct t_proc {
	pid_t pid;
	int in;  /* its stdin (write end), -1 when closed */
	int out; /* its stdout+stderr (read end) */
	char log[32768];
	size_t len;
};

static __attribute__((unused)) void t_register(pid_t pid)
{
	t_atexit();
	for (int i = 0; i < T_MAX_PIDS; i++)
		if (!t_pids[i]) {
			t_pids[i] = pid;
			return;
		}
}

/* Runs argv with stdin and stdout+stderr piped. 0 or -errno. */
static __attribute__((unused)) int t_spawn(struct t_proc *p, char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int in[2], out[2], r;

	memset(p, 0, sizeof(*p));
	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -errno;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, out[1], 2);
	r = posix_spawnp(&p->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	if (r != 0) {
		close(in[1]);
		close(out[0]);
		return -r;
	}
	t_register(p->pid);
	p->in = in[1];
	p->out = out[0];
	fcntl(p->out, F_SETFL, O_NONBLOCK);
	return 0;
}

/* Reads what the process printed for up to @ms, or until @needle shows up (NULL: until
 * EOF). true when found (or EOF reached with needle NULL). */
static __attribute__((unused)) bool t_wait_output(struct t_proc *p, const char *needle, int ms)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pfd = {p->out, POLLIN, 0};
		long left;
		ssize_t n;

		if (needle && strstr(p->log, needle))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = ms - ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			return false;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(p->out, p->log + p->len, sizeof(p->log) - 1 - p->len);
		if (n == 0)
			return needle ? strstr(p->log, needle) != NULL : true;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		if (n > 0) {
			p->len += (size_t)n;
			p->log[p->len] = '\0';
			if (p->len + 1 >= sizeof(p->log))
				return needle ? strstr(p->log, needle) != NULL : true;
		}
	}
}

/* Kills the process (if still running) and reaps it; returns its exit status or -1. */
static __attribute__((unused)) int t_stop(struct t_proc *p)
{
	int st = 0;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	waitpid(p->pid, &st, 0);
	for (int i = 0; i < T_MAX_PIDS; i++)
		if (t_pids[i] == p->pid)
			t_pids[i] = 0;
	p->pid = 0;
	if (p->in >= 0)
		close(p->in);
	close(p->out);
	p->in = p->out = -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Waits up to @ms for the process to exit by itself. Exit status, or -1 (then killed). */
static __attribute__((unused)) int t_join(struct t_proc *p, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		int st;
		pid_t r;

		/* at EOF the read returns at once: still wait 10 ms per round */
		if (t_wait_output(p, NULL, 10))
			poll(NULL, 0, 10);
		r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid) {
			for (int k = 0; k < T_MAX_PIDS; k++)
				if (t_pids[k] == p->pid)
					t_pids[k] = 0;
			p->pid = 0;
			t_wait_output(p, NULL, 200);
			if (p->in >= 0)
				close(p->in);
			close(p->out);
			p->in = p->out = -1;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
	}
	return t_stop(p), -1;
}

/* The port s_server printed ("ACCEPT 127.0.0.1:PORT"), or 0. */
static __attribute__((unused)) int t_accept_port(struct t_proc *p)
{
	const char *a;

	if (!t_wait_output(p, "ACCEPT", 5000))
		return 0;
	t_wait_output(p, "\n", 500);
	a = strstr(p->log, "ACCEPT");
	a = a ? strrchr(a, ':') : NULL;
	return a ? atoi(a + 1) : 0;
}

/* ---- sockets and loops ---- */

static __attribute__((unused)) int t_connect(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* A listening socket on 127.0.0.1 with a kernel-chosen port. */
static __attribute__((unused)) int t_listen(int *ret_port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		close(fd);
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*ret_port = ntohs(sa.sin_port);
	return fd;
}

/* Accepts one connection within @ms (non-blocking fd), or -1. */
static __attribute__((unused)) int t_accept(int lfd, int ms)
{
	struct pollfd pfd = {lfd, POLLIN, 0};
	int fd;

	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	return fd;
}

static __attribute__((unused)) short t_events(uint32_t want)
{
	return (short)((want & EG_IO_WRITE ? POLLOUT : 0) | (want & EG_IO_READ ? POLLIN : 0));
}

/* Drives @io's handshake with poll() for up to @ms: 0, -ETIMEDOUT or the error. */
static __attribute__((unused)) int t_handshake(struct eg_io *io, int ms)
{
	for (int i = 0; i < ms / 5 + 1; i++) {
		struct pollfd pfd;
		int r = eg_tls_io_handshake(io);

		if (r != -EAGAIN)
			return r;
		pfd = (struct pollfd){io->fd, t_events(io->recv_want), 0};
		poll(&pfd, 1, 5);
	}
	return -ETIMEDOUT;
}

/* Drives two handshakes against each other (in-process pair). */
static __attribute__((unused)) void t_handshake_pair(struct eg_io *a, struct eg_io *b, int *ra,
                                                     int *rb)
{
	*ra = *rb = -EAGAIN;
	for (int i = 0; i < 400 && (*ra == -EAGAIN || *rb == -EAGAIN); i++) {
		struct pollfd pfd[2];

		if (*ra == -EAGAIN)
			*ra = eg_tls_io_handshake(a);
		if (*rb == -EAGAIN)
			*rb = eg_tls_io_handshake(b);
		pfd[0] = (struct pollfd){a->fd, *ra == -EAGAIN ? t_events(a->recv_want) : 0, 0};
		pfd[1] = (struct pollfd){b->fd, *rb == -EAGAIN ? t_events(b->recv_want) : 0, 0};
		poll(pfd, 2, 5);
	}
	if (*ra == -EAGAIN)
		*ra = -ETIMEDOUT;
	if (*rb == -EAGAIN)
		*rb = -ETIMEDOUT;
}

/* Sends all of @len bytes through @io within @ms. 0 or the error. */
static __attribute__((unused)) int t_send_all(struct eg_io *io, const void *data, size_t len,
                                              int ms)
{
	const char *p = data;

	for (int i = 0; i < ms / 5 + 1 && len; i++) {
		struct iovec iov = {(void *)p, len};
		ssize_t n = io->ops->send(io, &iov, 1);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			i--; /* progress does not count against the deadline */
			continue;
		}
		if (n != -EAGAIN)
			return (int)n;
		struct pollfd pfd = {io->fd, t_events(io->send_want), 0};
		poll(&pfd, 1, 5);
	}
	return len ? -ETIMEDOUT : 0;
}

/* Reads until @len bytes, EOF or @ms: the bytes read (>= 0) or the error. */
static __attribute__((unused)) ssize_t t_recv_upto(struct eg_io *io, void *buf, size_t len, int ms)
{
	size_t got = 0;

	for (int i = 0; i < ms / 5 + 1 && got < len; i++) {
		ssize_t n = io->ops->recv(io, (char *)buf + got, len - got);

		if (n > 0) {
			got += (size_t)n;
			i--;
			continue;
		}
		if (n == 0)
			break;
		if (n != -EAGAIN)
			return n;
		struct pollfd pfd = {io->fd, t_events(io->recv_want), 0};
		poll(&pfd, 1, 5);
	}
	return (ssize_t)got;
}

/* Reads until EOF (0) within @ms: 0 at EOF, -ETIMEDOUT, or the error. Extra bytes are
 * dropped. */
static __attribute__((unused)) int t_recv_eof(struct eg_io *io, int ms)
{
	char buf[4096];

	for (int i = 0; i < ms / 5 + 1; i++) {
		ssize_t n = io->ops->recv(io, buf, sizeof(buf));

		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (n != -EAGAIN)
			return (int)n;
		struct pollfd pfd = {io->fd, t_events(io->recv_want), 0};
		poll(&pfd, 1, 5);
	}
	return -ETIMEDOUT;
}

#endif /* TLS_TESTUTIL_H */
