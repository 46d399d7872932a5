/* tests/e2e/41-tls-peer.c: the program tests/e2e/41-tls-peers.sh builds against the
 * sanitized library, so real peers (curl, openssl) meet src/tls the way the proxy will use
 * it: Secrets read from an egressctl store, identities from `egressctl ca issue`
 * directories, the rotator polling those files.
 *
 *   41-tls-peer serve --store DIR --ns NS --mode simple|mutual|istio [--credential NAME]
 *                     [--identity DIR] [--name SNI]... [--count N] --port-file FILE
 *       Listens on 127.0.0.1 (kernel-chosen port, written to FILE), serves N connections
 *       at once or in turn: handshake, one HTTP request, "200 hello PEER_ID" back. Before
 *       each accept the identity files are checked (rotation). One line per event.
 *   41-tls-peer fetch --mode simple|istio --connect PORT --host HOST [--identity DIR]
 *                     [--sni SNI] [--san NAME] [--ca FILE] [--count N]
 *       N connections in turn with one client context: "fetch I: ok resumed=.. peer=..
 *       alpn=.. status=LINE" or "fetch I: failed: REASON".
 * Exit status 0 when every connection did what was asked, 1 otherwise, 2 for usage. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "model/kinds.h"
#include "model/model.h"
#include "model/node.h"
#include "net/net.h"
#include "store/store.h"
#include "tls/tls.h"

#define MAX_CONNS 8

struct opts {
	const char *cmd, *store, *ns, *mode, *credential, *identity, *port_file, *host, *sni, *san,
	        *ca;
	const char *names[8];
	size_t nnames;
	int count, port;
};

static struct eg_resource_set secrets;

/* The lookup the proxy will write over its resource set: stringData wins over data. */
static int store_secret(void *data, const char *ns, const char *name, const char *key,
                        struct eg_tls_secret_value *ret)
{
	struct eg_resource *r = eg_resource_set_find(data, &eg_kind_secret, ns, name);
	const struct eg_node *m, *v;

	if (!r)
		return -ENOENT;
	m = eg_node_get(r->root, "stringData");
	if (m && (v = eg_node_get(m, key)) && v->kind == EG_NODE_SCALAR) {
		*ret = (struct eg_tls_secret_value){v->s, v->len, false};
		return 0;
	}
	m = eg_node_get(r->root, "data");
	if (m && (v = eg_node_get(m, key)) && v->kind == EG_NODE_SCALAR) {
		*ret = (struct eg_tls_secret_value){v->s, v->len, true};
		return 0;
	}
	return -ENODATA;
}

static enum eg_tls_mode mode_of(const char *s)
{
	if (strcmp(s, "mutual") == 0)
		return EG_TLS_MUTUAL;
	if (strcmp(s, "istio") == 0)
		return EG_TLS_ISTIO_MUTUAL;
	return EG_TLS_SIMPLE;
}

static short events_of(uint32_t want)
{
	return (short)((want & EG_IO_WRITE ? POLLOUT : 0) | (want & EG_IO_READ ? POLLIN : 0));
}

/* ---- serve ---- */

enum cstate {
	C_FREE,
	C_HANDSHAKE,
	C_READ,
	C_WRITE,
	C_DRAIN
};

struct conn {
	enum cstate st;
	struct eg_io io;
	int n;
	char buf[8192];
	size_t len, off;
};

static void conn_end(struct conn *c, bool ok, const char *what)
{
	printf("conn %d: %s%s%s\n", c->n, what, ok ? "" : ": ", ok ? "" : eg_tls_io_reason(&c->io));
	c->io.ops->close(&c->io);
	c->st = C_FREE;
}

/* Advances one connection; returns false when it failed. */
static bool conn_step(struct conn *c)
{
	ssize_t r;
	int e;

	switch (c->st) {
	case C_HANDSHAKE:
		e = eg_tls_io_handshake(&c->io);
		if (e == -EAGAIN)
			return true;
		if (e < 0) {
			conn_end(c, false, "handshake failed");
			return false;
		}
		printf("conn %d: handshake ok peer=%s alpn=%s sni=%s version=%s\n", c->n,
		       eg_tls_io_peer_id(&c->io) ? eg_tls_io_peer_id(&c->io) : "-",
		       eg_tls_io_alpn(&c->io) ? eg_tls_io_alpn(&c->io) : "-",
		       eg_tls_io_sni(&c->io) ? eg_tls_io_sni(&c->io) : "-",
		       eg_tls_io_version(&c->io));
		c->st = C_READ;
		/* fall through */
	case C_READ:
		r = c->io.ops->recv(&c->io, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (r == -EAGAIN)
			return true;
		if (r <= 0) {
			conn_end(c, r == 0, r == 0 ? "closed before a request" : "read failed");
			return r == 0;
		}
		c->len += (size_t)r;
		c->buf[c->len] = '\0';
		if (!strstr(c->buf, "\r\n\r\n"))
			return c->len < sizeof(c->buf) - 1;
		const char *peer = eg_tls_io_peer_id(&c->io);
		int body =
		        snprintf(c->buf, sizeof(c->buf), "hello %s\n", peer ? peer : "anonymous");
		char head[128];
		int hl = snprintf(
		        head, sizeof(head),
		        "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", body);
		memmove(c->buf + hl, c->buf, (size_t)body);
		memcpy(c->buf, head, (size_t)hl);
		c->len = (size_t)(hl + body);
		c->off = 0;
		c->st = C_WRITE;
		/* fall through */
	case C_WRITE: {
		struct iovec iov = {c->buf + c->off, c->len - c->off};

		r = c->io.ops->send(&c->io, &iov, 1);
		if (r == -EAGAIN)
			return true;
		if (r < 0) {
			conn_end(c, false, "write failed");
			return false;
		}
		c->off += (size_t)r;
		if (c->off < c->len)
			return true;
		c->st = C_DRAIN;
	}
		/* fall through */
	case C_DRAIN:
		e = c->io.ops->shutdown_write(&c->io);
		if (e == -EAGAIN)
			return true;
		conn_end(c, true, "answered");
		return true;
	case C_FREE:
		break;
	}
	return true;
}

static int serve(const struct opts *o)
{
	struct eg_tls_rotator *rot = NULL;
	struct eg_tls_server *srv;
	struct eg_store *st;
	struct eg_diag d;
	struct conn conns[MAX_CONNS] = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	char err[512] = "";
	int lfd, accepted = 0, failures = 0, r;
	FILE *f;

	eg_resource_set_init(&secrets);
	eg_diag_init(&d);
	if (eg_store_open(o->store, 0, &st) < 0 ||
	    eg_store_list(st, &eg_kind_secret, o->ns, &secrets, &d) < 0) {
		fprintf(stderr, "store %s: cannot read the Secrets\n%s", o->store,
		        eg_buf_cstr(&d.out));
		return 1;
	}
	eg_store_close(st);
	eg_diag_done(&d);
	if (o->identity) {
		struct eg_tls_rotator_conf rc = {.dir = o->identity};

		if (eg_tls_rotator_new(&rc, 0, &rot, err, sizeof(err)) < 0) {
			fprintf(stderr, "identity: %s\n", err);
			return 1;
		}
	}
	struct eg_tls_env env = {
	        .ns = o->ns, .secret = store_secret, .secret_data = &secrets, .mesh = rot};
	struct eg_tls_server_conf c = {.mode = mode_of(o->mode),
	                               .credential_name = o->credential,
	                               .server_names = o->names,
	                               .nserver_names = o->nnames};
	if (eg_tls_server_new(&srv) < 0 || eg_tls_server_add(srv, &c, &env, err, sizeof(err)) < 0) {
		printf("server: %s\n", err);
		return 1;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		return 1;
	f = fopen(o->port_file, "w");
	if (!f)
		return 1;
	fprintf(f, "%d\n", ntohs(sa.sin_port));
	fclose(f);
	printf("listening\n");
	/* bounded: at most 60 s in all */
	for (int round = 0; round < 60000 / 20; round++) {
		struct pollfd pfd[MAX_CONNS + 1];
		int n = 0, busy = 0;

		for (int i = 0; i < MAX_CONNS; i++) {
			pfd[i] = (struct pollfd){-1, 0, 0};
			if (conns[i].st == C_FREE)
				continue;
			busy++;
			pfd[i].fd = conns[i].io.fd;
			pfd[i].events = events_of(conns[i].st == C_WRITE || conns[i].st == C_DRAIN
			                                  ? conns[i].io.send_want
			                                  : conns[i].io.recv_want);
		}
		if (accepted >= o->count && !busy)
			break;
		pfd[MAX_CONNS] = (struct pollfd){accepted < o->count ? lfd : -1, POLLIN, 0};
		n = poll(pfd, MAX_CONNS + 1, 20);
		if (n < 0)
			break;
		for (int i = 0; i < MAX_CONNS; i++)
			if (conns[i].st != C_FREE && pfd[i].revents && !conn_step(&conns[i]))
				failures++;
		if (!(pfd[MAX_CONNS].revents & POLLIN))
			continue;
		if (rot) {
			/* what egressd's timer does: pick up rotated files before new connections
			 */
			r = eg_tls_rotator_refresh(rot, 0, err, sizeof(err));
			if (r > 0)
				printf("identity rotated: generation %llu\n",
				       (unsigned long long)eg_tls_rotator_generation(rot));
		}
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		for (int i = 0; fd >= 0 && i < MAX_CONNS; i++)
			if (conns[i].st == C_FREE) {
				memset(&conns[i], 0, sizeof(conns[i]));
				conns[i].n = ++accepted;
				if (eg_tls_io_server(&conns[i].io, fd, srv, NULL, 0, -1) < 0)
					return 1;
				conns[i].st = C_HANDSHAKE;
				if (!conn_step(&conns[i]))
					failures++;
				fd = -1;
			}
		if (fd >= 0)
			close(fd);
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].st != C_FREE)
			conns[i].io.ops->abort(&conns[i].io);
	close(lfd);
	eg_tls_server_unref(srv);
	eg_tls_rotator_free(rot);
	eg_resource_set_done(&secrets);
	printf("served %d, %d failed\n", accepted, failures);
	return failures ? 1 : 0;
}

/* ---- fetch ---- */

static int wait_io(int fd, uint32_t want)
{
	struct pollfd pfd = {fd, events_of(want), 0};

	return poll(&pfd, 1, 5000) > 0 ? 0 : -ETIMEDOUT;
}

static int fetch_one(struct eg_tls_client *cli, const struct opts *o, int i)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	char req[512], resp[4096] = "";
	size_t off = 0, len = 0;
	struct eg_io io;
	int fd, r;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("fetch %d: failed: connect: %s\n", i, strerror(errno));
		close(fd);
		return 1;
	}
	(void)eg_net_set_nodelay(fd);
	if (eg_tls_io_client(&io, fd, cli, o->host) < 0) {
		printf("fetch %d: failed: cannot start TLS\n", i);
		return 1;
	}
	while ((r = eg_tls_io_handshake(&io)) == -EAGAIN && wait_io(io.fd, io.recv_want) == 0)
		;
	if (r < 0) {
		printf("fetch %d: failed: %s\n", i, eg_tls_io_reason(&io));
		io.ops->close(&io);
		return 1;
	}
	len = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", o->host);
	while (off < len) {
		struct iovec iov = {req + off, len - off};
		ssize_t n = io.ops->send(&io, &iov, 1);

		if (n == -EAGAIN && wait_io(io.fd, io.send_want) == 0)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	len = 0;
	for (;;) {
		ssize_t n = io.ops->recv(&io, resp + len, sizeof(resp) - 1 - len);

		if (n == -EAGAIN && wait_io(io.fd, io.recv_want) == 0)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		resp[len] = '\0';
		/* s_server -www answers and keeps the connection: its page ends the read */
		if (strstr(resp, "</HTML>") || strstr(resp, "</html>") || len >= sizeof(resp) - 1)
			break;
	}
	char *eol = strchr(resp, '\r');

	if (eol)
		*eol = '\0';
	char *body = eol ? strstr(eol + 1, "\n\r\n") : NULL;

	printf("fetch %d: ok resumed=%s peer=%s alpn=%s status=%s body=%s", i,
	       eg_tls_io_resumed(&io) ? "yes" : "no",
	       eg_tls_io_peer_id(&io) ? eg_tls_io_peer_id(&io) : "-",
	       eg_tls_io_alpn(&io) ? eg_tls_io_alpn(&io) : "-", resp,
	       body && !strstr(body, "<") ? body + 3 : "-\n");
	io.ops->close(&io);
	return resp[0] ? 0 : 1;
}

static int fetch(const struct opts *o)
{
	struct eg_tls_rotator *rot = NULL;
	struct eg_tls_client *cli;
	char err[512] = "";
	const char *sans[] = {o->san};
	int failed = 0;

	if (o->identity) {
		struct eg_tls_rotator_conf rc = {.dir = o->identity};

		if (eg_tls_rotator_new(&rc, 0, &rot, err, sizeof(err)) < 0) {
			fprintf(stderr, "identity: %s\n", err);
			return 1;
		}
	}
	struct eg_tls_env env = {.mesh = rot};
	struct eg_tls_client_conf c = {.mode = mode_of(o->mode),
	                               .sni = o->sni,
	                               .ca_certificates = o->ca,
	                               .subject_alt_names = sans,
	                               .nsubject_alt_names = o->san ? 1 : 0};
	if (eg_tls_client_new(&c, &env, &cli, err, sizeof(err)) < 0) {
		printf("client: %s\n", err);
		return 1;
	}
	for (int i = 1; i <= o->count; i++)
		failed += fetch_one(cli, o, i);
	eg_tls_client_unref(cli);
	eg_tls_rotator_free(rot);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.ns = "istio-system", .mode = "simple", .count = 1};

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return 2;
	o.cmd = argv[1];
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--store"))
			o.store = v;
		else if (!strcmp(k, "--ns"))
			o.ns = v;
		else if (!strcmp(k, "--mode"))
			o.mode = v;
		else if (!strcmp(k, "--credential"))
			o.credential = v;
		else if (!strcmp(k, "--identity"))
			o.identity = v;
		else if (!strcmp(k, "--port-file"))
			o.port_file = v;
		else if (!strcmp(k, "--name") && o.nnames < 8)
			o.names[o.nnames++] = v;
		else if (!strcmp(k, "--count"))
			o.count = atoi(v);
		else if (!strcmp(k, "--connect"))
			o.port = atoi(v);
		else if (!strcmp(k, "--host"))
			o.host = v;
		else if (!strcmp(k, "--sni"))
			o.sni = v;
		else if (!strcmp(k, "--san"))
			o.san = v;
		else if (!strcmp(k, "--ca"))
			o.ca = v;
		else
			return 2;
	}
	if (o.count < 1 || o.count > 100)
		return 2;
	if (!strcmp(o.cmd, "serve") && o.store && o.port_file)
		return serve(&o);
	if (!strcmp(o.cmd, "fetch") && o.port > 0 && o.host)
		return fetch(&o);
	return 2;
}
