/* src/proxy/tls_gateway.c: downstream TLS. A gateway listener whose servers are TLS reads
 * the whole ClientHello first (eg_tls_hello_read: our own parser, no OpenSSL, <= 16 KiB,
 * bytes may come one per segment or split over records), picks the filter chain by SNI,
 * then either relays the untouched bytes (PASSTHROUGH: the tls route by SNI, connected from
 * the egress prefix, splice) or terminates TLS with the chain's context (SIMPLE, MUTUAL,
 * ISTIO_MUTUAL) and serves HTTP with the chain's route table. The sidecar's refusals of
 * ClientHellos it cannot route live here too. A refused connection gets an alert when it
 * spoke TLS, one access log line with the SNI, and is closed: never a default forward. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "core/log.h"
#include "proxy/internal.h"

void dtls_free(struct dtls *t)
{
	if (!t)
		return;
	free(t->peer_id);
	free(t);
}

bool dtls_pending(const struct dconn *d)
{
	return d->dt && d->io.fd >= 0 && d->io.ctx && SSL_has_pending(d->io.ctx) == 1;
}

static struct tcpx *tx_of(struct dconn *d)
{
	if (!d->tx) {
		d->tx = calloc(1, sizeof(*d->tx));
		if (d->tx) {
			clock_gettime(CLOCK_REALTIME, &d->tx->start_rt);
			d->tx->start_ms = eg_loop_now(d->pw->loop);
		}
	}
	return d->tx;
}

/* Sends a fatal alert (best effort: the socket is about to close). */
static void send_alert(struct dconn *d, const struct eg_tls_hello *h, enum eg_tls_alert a)
{
	uint8_t rec[EG_TLS_ALERT_LEN];
	ssize_t n = eg_tls_alert_write(rec, sizeof(rec), h, a);

	if (n > 0 && d->io.fd >= 0) {
		struct iovec iov = { rec, (size_t)n };

		(void)d->io.ops->send(&d->io, &iov, 1);
	}
}

/* Logs a refused connection (one TCP line: flags, details, SNI) and closes it. */
static void refuse(struct dconn *d, const struct eg_tls_hello *h, int alert, uint32_t flags,
                   const char *details)
{
	struct tcpx *tx = tx_of(d);

	if (alert >= 0)
		send_alert(d, h, (enum eg_tls_alert)alert);
	if (tx) {
		if (h && h->sni_len && !tx->sni[0])
			memcpy(tx->sni, h->sni, (size_t)h->sni_len + 1);
		tx->flags |= flags;
		tx->details = details;
		log_tcp(d, tx, 0, 0);
	}
	eg_log_debug("conn %d: refused: %s%s%s", d->io.fd, details, tx && tx->sni[0] ? " sni " : "",
	             tx ? tx->sni : "");
	dconn_close(d);
}

/* What the reader said, as the access log's termination details. */
static const char *hello_details(int r)
{
	switch (r) {
	case -EPROTO:
		return "not_tls:_plain_text_on_a_TLS_port";
	case -ENOENT:
		return "tls_client_hello_without_sni";
	case -E2BIG:
	case -EAGAIN:
		return "tls_client_hello_too_large";
	default:
		return "tls_client_hello_malformed";
	}
}

static int hello_alert(int r)
{
	switch (r) {
	case -EPROTO:
		return -1; /* not a TLS client: nothing it would understand */
	case -ENOENT:
		return EG_TLS_ALERT_HANDSHAKE_FAILURE;
	default:
		return EG_TLS_ALERT_DECODE_ERROR;
	}
}

bool sc_tls_refuse(struct dconn *d, int r, const struct eg_tls_hello *h, bool tls_port)
{
	if (r == 0 || (r == -EPROTO && !tls_port))
		return false;
	count_deny(d->pw, h && h->sni_len ? eg_str_c(h->sni) : EG_STR("-"), "bad_client_hello");
	refuse(d, h, hello_alert(r), EG_RF_NR, hello_details(r));
	return true;
}

enum eg_tls_alert sc_tls_deny_alert(const struct eg_tcp_route *route, const struct eg_chain *c,
                                    const struct eg_tcp_route *listener_fallback)
{
	if ((c && route == c->fallback) || (listener_fallback && route == listener_fallback))
		return EG_TLS_ALERT_UNRECOGNIZED_NAME;
	return EG_TLS_ALERT_ACCESS_DENIED;
}

bool gw_listener_tls(const struct pconf *pc, uint16_t port)
{
	const struct eg_listener *l = eg_snapshot_listener(pc->snap, port);

	for (size_t i = 0; l && i < l->nchains; i++)
		if (l->chains[i].tls.mode != EG_SERVER_TLS_NONE)
			return true;
	return false;
}

bool gw_conn_stale(const struct dconn *d)
{
	const struct pconf *now = d->pw->pc;

	if (d->mode != DM_GATEWAY || !now || now == d->pc)
		return false;
	return gw_listener_tls(now, d->lport) != (d->dt != NULL);
}

static void start_termination(struct dconn *d, const struct eg_filter_chain *fc,
                              const struct eg_tls_hello *h)
{
	struct pworker *pw = d->pw;
	struct eg_tls_server *srv;
	struct eg_io tio;
	const char *why;
	int chain, fd = d->io.fd, r;

	srv = ptls_server(d->pc, d->lport, fc, &chain, &why);
	if (!srv) {
		eg_log_warn("listener %u: SNI %s: %s", d->lport, h->sni, why);
		refuse(d, h, EG_TLS_ALERT_HANDSHAKE_FAILURE, EG_RF_NR, "tls_context_unavailable");
		return;
	}
	d->dt = calloc(1, sizeof(*d->dt));
	if (!d->dt) {
		dconn_close(d);
		return;
	}
	d->dt->fc = fc;
	memcpy(d->dt->sni, h->sni, (size_t)h->sni_len + 1);
	/* the transport takes the socket over; the ClientHello already read is fed first */
	r = eg_tls_io_server(&tio, fd, srv, d->rbuf, d->rlen, chain);
	if (r < 0) {
		eg_loop_io_stop(pw->loop, &d->watch);
		d->io.fd = -1; /* closed by eg_tls_io_server */
		refuse(d, h, -1, EG_RF_NR, "tls_setup_failed");
		return;
	}
	d->io = tio;
	d->rlen = 0;
	d_set_state(d, DS_HANDSHAKE);
	gw_tls_handshake(d);
}

void gw_tls_hello(struct dconn *d)
{
	const struct eg_listener *l = eg_snapshot_listener(d->pc->snap, d->lport);
	const struct eg_filter_chain *fc;
	const struct eg_tcp_route *route;
	struct eg_tls_hello h;
	struct tcpx *tx;
	int r;

	if (d->rlen == 0) {
		eg_loop_io_set(d->pw->loop, &d->watch, EG_IO_READ);
		return;
	}
	r = eg_tls_hello_read(d->rbuf, d->rlen, &h);
	if (r == -EAGAIN && d->rlen < EG_TLS_HELLO_MAX) {
		eg_loop_io_set(d->pw->loop, &d->watch, EG_IO_READ);
		return;
	}
	if (r != 0 || !l) {
		refuse(d, &h, hello_alert(r), EG_RF_NR, hello_details(r));
		return;
	}
	tx = tx_of(d);
	if (!tx) {
		dconn_close(d);
		return;
	}
	memcpy(tx->sni, h.sni, (size_t)h.sni_len + 1);
	fc = eg_listener_chain(l, eg_str_c(h.sni));
	if (!fc || fc->tls.mode == EG_SERVER_TLS_NONE) {
		/* no server of this port accepts the name: Envoy's "no matching filter chain" */
		count_deny(d->pw, eg_str_c(h.sni), "unrecognized_name");
		refuse(d, &h, EG_TLS_ALERT_UNRECOGNIZED_NAME, EG_RF_NR, "filter_chain_not_found");
		return;
	}
	if (fc->tls.mode != EG_SERVER_TLS_PASSTHROUGH &&
	    fc->tls.mode != EG_SERVER_TLS_AUTO_PASSTHROUGH) {
		start_termination(d, fc, &h);
		return;
	}
	route = fc->chain.proto == EG_CHAIN_TLS ? eg_chain_sni_route(&fc->chain, eg_str_c(h.sni))
	                                        : NULL;
	if (!route) {
		count_deny(d->pw, eg_str_c(h.sni), "unrecognized_name");
		refuse(d, &h, EG_TLS_ALERT_UNRECOGNIZED_NAME, EG_RF_NR, "no_tls_route");
		return;
	}
	/* the ClientHello goes first (relay preload), then the bytes are spliced untouched */
	tx->alert = EG_TLS_ALERT_ACCESS_DENIED;
	d_start_tcp(d, route, true);
}

void gw_tls_handshake(struct dconn *d)
{
	struct pworker *pw = d->pw;
	int r = eg_tls_io_handshake(&d->io);

	if (r == -EAGAIN) {
		eg_loop_io_set(pw->loop, &d->watch, d->io.recv_want ? d->io.recv_want : EG_IO_READ);
		return;
	}
	if (r < 0) {
		struct tcpx *tx = tx_of(d);
		char why[EG_TLS_REASON_MAX];

		snprintf(why, sizeof(why), "%s", eg_tls_io_reason(&d->io)[0] ? eg_tls_io_reason(&d->io)
		                                                              : strerror(-r));
		if (tx) {
			memcpy(tx->sni, d->dt->sni, sizeof(tx->sni));
			tx->cluster_name = NULL;
		}
		eg_log_info("listener %u: TLS handshake with %s refused: %s", d->lport,
		            d->dt->sni[0] ? d->dt->sni : "-", why);
		refuse(d, NULL, -1, EG_RF_NR, why);
		return;
	}
	{
		const char *peer = eg_tls_io_peer_id(&d->io);
		enum eg_server_tls_mode m = d->dt->fc->tls.mode;

		if (peer) {
			d->dt->peer_id = eg_strndup(peer, strlen(peer));
			if (!d->dt->peer_id) {
				dconn_close(d);
				return;
			}
		}
		d->dt->mutual = m == EG_SERVER_TLS_MUTUAL || m == EG_SERVER_TLS_ISTIO_MUTUAL;
		eg_log_debug("conn %d: TLS %s %s sni %s peer %s alpn %s%s", d->io.fd,
		             eg_tls_io_version(&d->io), eg_tls_io_cipher(&d->io), d->dt->sni,
		             peer ? peer : "-", eg_tls_io_alpn(&d->io) ? eg_tls_io_alpn(&d->io) : "-",
		             eg_tls_io_resumed(&d->io) ? " (resumed)" : "");
	}
	/* the TCP facts gathered while reading the ClientHello are not needed any more */
	free(d->tx);
	d->tx = NULL;
	d_set_state(d, DS_HEAD);
	d_arm(d);
	/* the request may have come with the client's Finished: then TLS already holds it
	 * (read ahead) and no readiness event would announce it, so read now */
	d->watch.cb(&d->watch, EG_IO_READ);
}
