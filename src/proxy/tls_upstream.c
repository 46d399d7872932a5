/* src/proxy/tls_upstream.c: upstream TLS: once the TCP connect of a pooled upstream
 * connection completes, the TLS client handshake runs here (ISTIO_MUTUAL from a sidecar to
 * the gateway with the workload certificate, SIMPLE/MUTUAL origination from the gateway to
 * the external host) before the exchange sees the connection. The connection then sits in
 * the cluster's keep-alive pool like a plain one; a failure ends in the exchange's 503 UF
 * with eg_tls_io_reason() as UPSTREAM_TRANSPORT_FAILURE_REASON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "proxy/internal.h"

int utls_prepare(struct uconn *u, struct eg_tls_client *cli, struct eg_str host)
{
	struct utls *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->host = eg_strndup(host.ptr ? host.ptr : "", host.len);
	if (!t->host) {
		free(t);
		return -ENOMEM;
	}
	t->cli = eg_tls_client_ref(cli);
	u->ut = t;
	return 0;
}

void utls_free(struct uconn *u)
{
	struct utls *t = u->ut;

	if (!t)
		return;
	if (t->active) {
		eg_loop_timer_disarm(u->pw->loop, &t->timer);
		eg_loop_io_stop(u->pw->loop, &u->watch);
		t->active = false;
	}
	eg_tls_client_unref(t->cli);
	free(t->host);
	free(t);
	u->ut = NULL;
}

const char *utls_reason(const struct uconn *u)
{
	return u && u->ut ? u->ut->reason : "";
}

uint64_t utls_pool_salt(const struct eg_cluster *cl, const struct eg_tls_client *cli,
                        struct eg_str host)
{
	uintptr_t c = (uintptr_t)cli;
	uint64_t salt = eg_hash(&c, sizeof(c));
	size_t n = host.len;

	/* TLS connections never share a pool with plain ones, nor with another context's
	 * (a reload that turns TLS on must not reuse a plain keep-alive connection) */
	if (!cl->tls.auto_sni || !host.ptr)
		return salt | 1;
	/* the SNI is the authority without its port: one pool per name */
	for (size_t i = 0; i < host.len; i++)
		if (host.ptr[i] == ':' && host.ptr[0] != '[') {
			n = i;
			break;
		}
	return (salt ^ eg_hash(host.ptr, n)) | 1;
}

/* The handshake is over (0) or failed (-errno): hand the connection to its owner. */
static void finish(struct uconn *u, int r)
{
	struct utls *t = u->ut;

	t->active = false;
	eg_loop_timer_disarm(u->pw->loop, &t->timer);
	eg_loop_io_stop(u->pw->loop, &u->watch);
	if (r == 0) {
		u->connected = true;
		eg_log_debug("upstream fd %d: TLS %s %s sni %s%s", u->io.fd, eg_tls_io_version(&u->io),
		             eg_tls_io_cipher(&u->io), eg_tls_io_sni(&u->io) ? eg_tls_io_sni(&u->io) : "-",
		             eg_tls_io_resumed(&u->io) ? " (resumed)" : "");
		u->ccb(&u->conn, u->io.fd, u->cdata);
		return;
	}
	if (!t->reason[0])
		snprintf(t->reason, sizeof(t->reason), "%s",
		         eg_tls_io_reason(&u->io)[0] ? eg_tls_io_reason(&u->io) : strerror(-r));
	eg_log_debug("upstream TLS handshake with %s failed: %s", t->host, t->reason);
	/* the owner releases u (up_close closes the transport) */
	u->ccb(&u->conn, r, u->cdata);
}

static void step(struct uconn *u)
{
	int r = eg_tls_io_handshake(&u->io);

	if (r == -EAGAIN) {
		if (eg_loop_io_set(u->pw->loop, &u->watch, u->io.recv_want ? u->io.recv_want
		                                                             : EG_IO_READ) < 0)
			finish(u, -EIO);
		return;
	}
	finish(u, r < 0 ? r : 0);
}

static void on_io(struct eg_io_watch *w, uint32_t ev)
{
	(void)ev;
	step(w->data);
}

static void on_timeout(struct eg_timer *tm, void *data)
{
	struct uconn *u = data;

	(void)tm;
	snprintf(u->ut->reason, sizeof(u->ut->reason), "TLS handshake timeout");
	finish(u, -ETIMEDOUT);
}

int utls_start(struct uconn *u, int fd)
{
	struct utls *t = u->ut;
	int r;

	if (!t)
		return 0;
	r = eg_tls_io_client(&u->io, fd, t->cli, t->host);
	if (r < 0) {
		/* the transport closed the fd */
		u->io.fd = -1;
		snprintf(t->reason, sizeof(t->reason), "TLS setup failed: %s", strerror(-r));
		return r;
	}
	t->active = true;
	eg_io_watch_init(&u->watch, u->io.fd, on_io, u);
	eg_timer_init(&t->timer, on_timeout, u);
	eg_loop_timer_arm(u->pw->loop, &t->timer, EG_PROXY_CONNECT_TIMEOUT_MS);
	step(u);
	return 1;
}
