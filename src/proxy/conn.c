/* src/proxy/conn.c: downstream connections: HTTP/1.1 request/response proxying (keep-alive,
 * pipelining in order, 100-continue, chunked both ways, timeouts), the explicit proxy
 * (absolute-form and CONNECT), captured connections (route by port, address, SNI) and TCP
 * relaying. One worker thread owns every object here; nothing takes a lock.
 *
 * Buffers: a connection's read buffer holds the request head for the whole exchange (the
 * access log points into it) followed by a window of body bytes that is forwarded straight
 * from it (writev, no copy); it is released while the connection is idle. The upstream
 * response is forwarded the same way from the upstream connection's buffer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "proxy/internal.h"

static void ex_pump(struct exch *ex);
static void ex_finish(struct exch *ex);
static void ex_upstream_start(struct exch *ex);
static void d_head(struct dconn *d);
static void d_tls(struct dconn *d);
static void d_start_captured(struct dconn *d);
static int d_set_out(struct dconn *d, int status, const struct eg_http_header *add, size_t nadd,
                     struct eg_str body);

static const char *const dstate_names[_DS_MAX] = {
	[DS_HEAD] = "head",   [DS_EXCH] = "exchange", [DS_TLS] = "tls",     [DS_TCP] = "tcp",
	[DS_TUNNEL] = "tunnel", [DS_FLUSH] = "flush", [DS_CLOSING] = "closing",
	[DS_HANDSHAKE] = "handshake",
};
_Static_assert(sizeof(dstate_names) / sizeof(dstate_names[0]) == _DS_MAX, "state names");

/* The one place the state changes (R12). */
void d_set_state(struct dconn *d, enum dstate next)
{
	eg_log_debug("conn %d: %s -> %s", d->io.fd, dstate_names[d->state], dstate_names[next]);
	d->state = next;
}

/* ---- buffers ---- */

static int d_reserve(struct dconn *d, size_t extra)
{
	size_t need = d->rlen + extra, cap;
	char *p;

	if (need <= d->rcap)
		return 0;
	/* a head of up to RBUF_MAX stays while a body window follows it */
	if (need > RBUF_MAX + BODY_CHUNK)
		return -E2BIG;
	cap = d->rcap ? d->rcap : RBUF_INIT;
	while (cap < need)
		cap *= 2;
	if (cap > RBUF_MAX + BODY_CHUNK)
		cap = RBUF_MAX + BODY_CHUNK;
	p = realloc(d->rbuf, cap);
	if (!p)
		return -ENOMEM;
	d->rbuf = p;
	d->rcap = cap;
	return 0;
}

static void d_release_rbuf(struct dconn *d)
{
	if (d->rlen == 0 && d->rbuf) {
		free(d->rbuf);
		d->rbuf = NULL;
		d->rcap = 0;
		d->pw->freed++;
	}
}

/* Reads what is there into d->rbuf (growing it up to @max). > 0 bytes, 0 EOF, -EAGAIN,
 * -E2BIG (buffer full), -errno. */
static ssize_t d_read(struct dconn *d, size_t max)
{
	size_t room;
	ssize_t n;

	if (d->rcap - d->rlen < 1024 && d->rcap < max) {
		size_t want = d->rcap ? d->rcap : RBUF_INIT;

		if (d->rlen + want > max)
			want = max - d->rlen;
		if (want == 0 || d_reserve(d, want) < 0)
			return d->rlen >= max ? -E2BIG : -ENOMEM;
	} else if (!d->rbuf && d_reserve(d, RBUF_INIT) < 0) {
		return -ENOMEM;
	}
	room = (d->rcap < max ? d->rcap : max) - d->rlen;
	if (room == 0)
		return -E2BIG;
	n = d->io.ops->recv(&d->io, d->rbuf + d->rlen, room);
	if (n > 0)
		d->rlen += (size_t)n;
	return n;
}

/* ---- lifecycle ---- */

static void d_free_cb(struct eg_loop_closing *c)
{
	struct dconn *d = (struct dconn *)c;

	d->pc = pconf_unref(d->pc);
	free(d->rbuf);
	free(d->thost);
	free(d->tx);
	dtls_free(d->dt);
	free(d->out);
	free(d);
}

static void ex_free(struct exch *ex);

void dconn_close(struct dconn *d)
{
	struct pworker *pw = d->pw;

	if (d->state == DS_CLOSING)
		return;
	d_set_state(d, DS_CLOSING);
	eg_loop_timer_disarm(pw->loop, &d->timer);
	if (d->ex) {
		struct exch *ex = d->ex;

		if (ex->u) {
			up_release(ex->u, false, 0, 0);
			ex->u = NULL;
		}
		if (ex->dnsq) {
			eg_dns_cancel(pw->dns, ex->dnsq);
			ex->dnsq = NULL;
		}
		ex_free(ex);
		d->ex = NULL;
	}
	if (d->tx) {
		if (d->tx->dnsq) {
			eg_dns_cancel(pw->dns, d->tx->dnsq);
			d->tx->dnsq = NULL;
		}
		if (d->tx->conn.busy)
			eg_net_connect_cancel(&d->tx->conn);
		if (d->tx->relaying) {
			d->tx->relaying = false;
			eg_net_relay_close(&d->tx->relay, true, NULL);
		}
	}
	if (d->io.fd >= 0) {
		eg_loop_io_stop(pw->loop, &d->watch);
		d->io.ops->close(&d->io);
	}
	if (d->prev)
		d->prev->next = d->next;
	else
		pw->conns = d->next;
	if (d->next)
		d->next->prev = d->prev;
	d->prev = d->next = NULL;
	if (!d->released) {
		d->released = true;
		eg_telemetry_connections(pw->px->tel, pw->idx, -1);
		eg_worker_conn_release(pw->w);
	}
	eg_loop_defer_close(pw->loop, &d->closing, d_free_cb);
}

/* SIGTERM: idle keep-alive connections close now; the others finish their request. */
void dconn_drain(struct dconn *d)
{
	if (d->state == DS_HEAD && d->rlen == 0)
		dconn_close(d);
	else
		d->closing_after = true;
}

static void d_timer_cb(struct eg_timer *t, void *data)
{
	struct dconn *d = data;

	(void)t;
	eg_log_debug("conn %d: timeout in state %s", d->io.fd, dstate_names[d->state]);
	if (d->state == DS_HEAD && d->rlen > 0 && d->pc) {
		/* request head too slow: 408, as Envoy's request_headers_timeout does */
		if (d_set_out(d, 408, NULL, 0, EG_STR("request timeout\n")) == 0) {
			d->rlen = 0;
			d_set_state(d, DS_FLUSH);
			eg_loop_io_set(d->pw->loop, &d->watch, EG_IO_WRITE);
			eg_loop_timer_arm(d->pw->loop, &d->timer, 1000);
			return;
		}
	}
	dconn_close(d);
}

/* Arms the timer and interest of a connection waiting for a request head. */
void d_arm(struct dconn *d)
{
	uint64_t ms = d->keep_alive_seen && d->rlen == 0 ? EG_PROXY_IDLE_TIMEOUT_MS
	                                                 : EG_PROXY_HEADER_TIMEOUT_MS;

	eg_loop_timer_arm(d->pw->loop, &d->timer, ms);
	eg_loop_io_set(d->pw->loop, &d->watch, EG_IO_READ);
}

/* ---- local responses ---- */

/* d->out = @text (copied). 0 or -ENOMEM. */
static int d_set_out_text(struct dconn *d, const char *text, size_t n)
{
	free(d->out);
	d->out = malloc(n ? n : 1);
	d->out_len = d->out_off = 0;
	if (!d->out)
		return -ENOMEM;
	memcpy(d->out, text, n);
	d->out_len = (uint32_t)n;
	return 0;
}

/* d->out = a complete response made here, with "connection: close". 0 or < 0. */
static int d_set_out(struct dconn *d, int status, const struct eg_http_header *add, size_t nadd,
                     struct eg_str body)
{
	struct eg_buf *b = &d->pw->scratch;
	int r;

	b->len = 0;
	r = eg_http_write_simple_response(b, status, add, nadd, body, true);
	if (r < 0)
		return r;
	return d_set_out_text(d, b->data, b->len);
}

void d_local(const struct dconn *d, struct eg_net_addr *ret)
{
	*ret = d->pw->px->pod;
	if (eg_net_addr_family(ret) == AF_INET && ret->u.in4.sin_addr.s_addr == 0)
		(void)eg_net_local_addr(d->io.fd, ret); /* a wildcard pod address */
	eg_net_addr_set_port(ret, d->lport);
}

/* Writes a response made here into d->out and closes after it (DS_FLUSH). */
static void d_respond_close(struct dconn *d, int status, const struct eg_http_header *add,
                            size_t nadd, struct eg_str body)
{
	if (d_set_out(d, status, add, nadd, body) < 0) {
		dconn_close(d);
		return;
	}
	d_set_state(d, DS_FLUSH);
	eg_loop_io_set(d->pw->loop, &d->watch, EG_IO_WRITE);
	eg_loop_timer_arm(d->pw->loop, &d->timer, 5000);
}

/* Sends d->out; 1 when all of it went, 0 when waiting, < 0 on error. */
static int d_flush_out(struct dconn *d)
{
	while (d->out_off < d->out_len) {
		struct iovec iov = { d->out + d->out_off, d->out_len - d->out_off };
		ssize_t n = d->io.ops->send(&d->io, &iov, 1);

		if (n == -EAGAIN)
			return 0;
		if (n < 0)
			return (int)n;
		d->out_off += (uint32_t)n;
	}
	free(d->out);
	d->out = NULL;
	d->out_len = d->out_off = 0;
	return 1;
}

/* ---- the exchange ---- */

#define HDR_OPS_MAX 16

/* A VirtualService's header operations as forwarding options: "set" replaces (drop, then
 * add), "add" appends, "remove" drops. At most HDR_OPS_MAX of each kind are applied. */
static void header_ops(const struct eg_header_ops *ops, struct eg_str *drop, size_t *ndrop,
                       struct eg_http_header *add, size_t *nadd)
{
	for (size_t i = 0; i < ops->nset && *nadd < HDR_OPS_MAX && *ndrop < HDR_OPS_MAX + 1; i++) {
		drop[(*ndrop)++] = eg_str_c(ops->set[i].key);
		add[(*nadd)++] = (struct eg_http_header){ eg_str_c(ops->set[i].key),
			                                  eg_str_c(ops->set[i].value) };
	}
	for (size_t i = 0; i < ops->nadd && *nadd < HDR_OPS_MAX; i++)
		add[(*nadd)++] = (struct eg_http_header){ eg_str_c(ops->add[i].key),
			                                  eg_str_c(ops->add[i].value) };
	for (size_t i = 0; i < ops->nremove && *ndrop < 2 * HDR_OPS_MAX + 1; i++)
		drop[(*ndrop)++] = eg_str_c(ops->remove[i]);
}

static void buf_clear(struct eg_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* A request costs no allocation once the worker is warm: exchanges (and their head
 * buffers) come from a per-worker cache. */
static struct exch *ex_new(struct dconn *d)
{
	struct pworker *pw = d->pw;
	struct exch *ex = pw->exfree;

	if (ex) {
		struct eg_buf uh = ex->uhead, dh = ex->dhead;

		pw->exfree = ex->free_next;
		pw->nexfree--;
		memset(ex, 0, sizeof(*ex));
		ex->uhead = uh;
		ex->dhead = dh;
	} else {
		ex = calloc(1, sizeof(*ex));
		if (!ex)
			return NULL;
		eg_buf_init(&ex->uhead, RBUF_MAX + 4096);
		eg_buf_init(&ex->dhead, RBUF_MAX + 4096);
	}
	ex->d = d;
	clock_gettime(CLOCK_REALTIME, &ex->start_rt);
	ex->start_ms = eg_loop_now(d->pw->loop);
	ex->status = 0;
	return ex;
}

static void ex_free(struct exch *ex)
{
	struct pworker *pw;

	if (!ex)
		return;
	pw = ex->d->pw;
	eg_loop_timer_disarm(pw->loop, &ex->timer);
	if (pw->nexfree < EXCH_CACHE && !pw->draining) {
		if (ex->uhead.cap > EXCH_BUF_KEEP)
			eg_buf_done(&ex->uhead);
		if (ex->dhead.cap > EXCH_BUF_KEEP)
			eg_buf_done(&ex->dhead);
		buf_clear(&ex->uhead);
		buf_clear(&ex->dhead);
		ex->free_next = pw->exfree;
		pw->exfree = ex;
		pw->nexfree++;
		return;
	}
	eg_buf_done(&ex->uhead);
	eg_buf_done(&ex->dhead);
	free(ex);
	pw->freed++;
}

void ex_cache_free(struct pworker *pw)
{
	while (pw->exfree) {
		struct exch *ex = pw->exfree;

		pw->exfree = ex->free_next;
		eg_buf_done(&ex->uhead);
		eg_buf_done(&ex->dhead);
		free(ex);
	}
	pw->nexfree = 0;
}

static bool req_body_complete(const struct exch *ex)
{
	switch (ex->req_body) {
	case EG_HTTP_BODY_LENGTH:
		return ex->req_left == 0;
	case EG_HTTP_BODY_CHUNKED:
		return ex->req_ch.done;
	default:
		return true;
	}
}

/* Extends the body window over the bytes read after it, per the request framing.
 * 0, or a refusal of the chunked decoder. */
static int ex_classify(struct exch *ex)
{
	struct dconn *d = ex->d;

	while (!req_body_complete(ex) && ex->fwd_end < d->rlen) {
		size_t avail = d->rlen - ex->fwd_end;

		if (ex->req_body == EG_HTTP_BODY_LENGTH) {
			size_t take = avail < ex->req_left ? avail : (size_t)ex->req_left;

			ex->fwd_end += take;
			ex->req_left -= take;
			ex->bytes_received += take;
		} else {
			struct eg_str data;
			ssize_t n = eg_http_chunked_feed(&ex->req_ch, d->rbuf + ex->fwd_end, avail,
			                                 &data);

			if (n < 0)
				return (int)n;
			ex->fwd_end += (size_t)n;
			ex->bytes_received += data.len;
			if (n == 0)
				break;
		}
	}
	return 0;
}

/* A response made here for the current request (no upstream byte reached the client). */
static void ex_local(struct exch *ex, int status, uint32_t flags, const char *details,
                     const struct eg_http_header *add, size_t nadd, struct eg_str body)
{
	struct dconn *d = ex->d;
	bool keep;

	if (ex->u) {
		up_release(ex->u, false, 0, 0);
		ex->u = NULL;
	}
	if (ex->dnsq) {
		eg_dns_cancel(d->pw->dns, ex->dnsq);
		ex->dnsq = NULL;
	}
	eg_loop_timer_disarm(d->pw->loop, &ex->timer);
	if (ex->resp_started) {
		/* the client already has part of a response: all we can do is close */
		ex->flags |= flags;
		ex->details = details;
		ex->resp_done = true;
		d->closing_after = true;
		log_http(ex);
		dconn_close(d);
		return;
	}
	ex->status = status;
	ex->flags |= flags;
	ex->details = details;
	keep = ex->req_keep_alive && req_body_complete(ex) && !d->closing_after &&
	       d->mode != DM_EXPLICIT /* explicit CONNECT denials close */ &&
	       !d->pw->draining;
	if (d->mode == DM_EXPLICIT && ex->method != EG_HTTP_CONNECT)
		keep = ex->req_keep_alive && req_body_complete(ex) && !d->closing_after &&
		       !d->pw->draining;
	buf_clear(&ex->dhead);
	ex->dhead_off = 0;
	if (eg_http_write_simple_response(&ex->dhead, status, add, nadd, body, !keep) < 0) {
		dconn_close(d);
		return;
	}
	ex->bytes_sent = body.len;
	ex->resp_local = true;
	ex->resp_head_done = true;
	ex->resp_done = true;
	ex->resp_body = EG_HTTP_BODY_NONE;
	ex->resp_keep_alive = keep;
	if (!keep)
		d->closing_after = true;
	ex_pump(ex);
}

static void ex_route_timeout(struct eg_timer *t, void *data)
{
	struct exch *ex = data;

	(void)t;
	ex_local(ex, 504, EG_RF_UT, "response_timeout", NULL, 0, EG_STR("upstream request timeout"));
}

static void ex_dns_cb(void *data, int status, struct eg_dns_answer *ans)
{
	struct exch *ex = data;

	(void)ans;
	ex->dnsq = NULL;
	if (status == -ECANCELED)
		return;
	ex_upstream_start(ex);
}

static void u_io(struct eg_io_watch *w, uint32_t ev);

static void ex_connected(struct eg_net_connector *c, int fd_or_err, void *data)
{
	struct exch *ex = data;
	struct uconn *u = ex->u;
	struct pworker *pw = ex->d->pw;

	(void)c;
	if (fd_or_err < 0) {
		const struct eg_route *r = ex->route;

		ex->ufail = up_errno_reason(fd_or_err);
		if (utls_reason(u)[0]) {
			/* a TLS handshake failed: its reason, as Envoy's transport failure reason */
			snprintf(ex->ufailb, sizeof(ex->ufailb), "%s", utls_reason(u));
			ex->ufail = ex->ufailb;
		}
		up_release(u, false, 0, 0);
		ex->u = NULL;
		eg_log_debug("upstream connect failed: %s", strerror(-fd_or_err));
		if (r && ex->attempts < (int)r->retries.attempts && r->retries.retry_on &&
		    strstr(r->retries.retry_on, "connect-failure")) {
			ex->attempts++;
			ex->flags |= EG_RF_URX;
			ex_upstream_start(ex);
			return;
		}
		ex->flags &= ~(uint32_t)EG_RF_URX;
		if (ex->ufail == ex->ufailb) {
			char body[EG_TLS_REASON_MAX + 160];
			int bl = snprintf(body, sizeof(body),
			                  "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: %s",
			                  ex->ufailb);

			ex_local(ex, 503, EG_RF_UF | (ex->attempts ? EG_RF_URX : 0),
			         "upstream_reset_before_response_started{connection_failure}", NULL, 0,
			         (struct eg_str){ body, bl > 0 && (size_t)bl < sizeof(body) ? (size_t)bl : 0 });
			return;
		}
		ex_local(ex, 503, EG_RF_UF | (ex->attempts ? EG_RF_URX : 0),
		         "upstream_reset_before_response_started{connection_failure}", NULL, 0,
		         EG_STR("upstream connect error or disconnect/reset before headers. reset reason: connection failure"));
		return;
	}
	ex->flags &= ~(uint32_t)EG_RF_URX;
	eg_log_debug("upstream connected (fd %d)", u->io.fd);
	eg_io_watch_init(&u->watch, u->io.fd, u_io, u);
	ex->uladdr = u->local;
	(void)pw;
	ex_pump(ex);
}

static void ex_upstream_start(struct exch *ex)
{
	struct dconn *d = ex->d;
	struct pworker *pw = d->pw;
	const struct eg_cluster *cl = ex->cl;
	struct eg_net_addr addr;
	struct eg_tls_client *cli;
	struct upool *p;
	struct uconn *u;
	const char *why;
	int r, err;

	if (++ex->dns_rounds > 8) {
		ex_local(ex, 503, EG_RF_UH, "no_healthy_upstream", NULL, 0,
		         EG_STR("no healthy upstream"));
		return;
	}
	r = up_pick(pw, cl, ex->dest_host, ex->dest_port, d->orig.len ? &d->orig : NULL, ex_dns_cb,
	            ex, &ex->dnsq, &addr);
	eg_log_debug("conn %d: cluster %s: pick -> %d", d->io.fd, cl->name, r);
	if (r == EG_DNS_PENDING)
		return;
	if (r == -EHOSTDOWN) {
		ex_local(ex, 503, EG_RF_DF, "dns_resolution_failed", NULL, 0,
		         EG_STR("dns resolution failed"));
		return;
	}
	if (r < 0) {
		ex_local(ex, 503, EG_RF_UH, "no_healthy_upstream", NULL, 0,
		         EG_STR("no healthy upstream"));
		return;
	}
	ex->dns_rounds = 0;
	ex->uaddr = addr;
	cli = ptls_client(d->pc, cl, &why);
	if (why) {
		/* the cluster wants TLS and its context could not be built: never plain text */
		snprintf(ex->ufailb, sizeof(ex->ufailb), "%s", why);
		ex->ufail = ex->ufailb;
		ex_local(ex, 503, EG_RF_UF, "upstream_reset_before_response_started{connection_failure}",
		         NULL, 0, EG_STR("upstream TLS is not available\n"));
		return;
	}
	p = cli ? up_pool_salted(pw, cl, &addr, utls_pool_salt(cl, cli, ex->authority))
	        : up_pool(pw, cl, &addr);
	if (!p) {
		ex_local(ex, 503, EG_RF_UO, "upstream_overflow", NULL, 0, EG_STR("upstream overflow"));
		return;
	}
	if (!ex->timer.cb && ex->route && ex->route->timeout_ns > 0) {
		eg_timer_init(&ex->timer, ex_route_timeout, ex);
		eg_loop_timer_arm(pw->loop, &ex->timer, (uint64_t)(ex->route->timeout_ns / 1000000));
	}
	ex->up_start_ms = eg_loop_now(pw->loop);
	u = up_take_idle(p);
	if (u) {
		p->active++;
		u->ex = ex;
		u->requests++;
		ex->u = u;
		ex->reused = true;
		u->watch.cb = u_io;
		u->watch.data = u;
		ex->uladdr = u->local;
		ex_pump(ex);
		return;
	}
	ex->reused = false;
	u = up_connect(pw, d->pc, p, cl, ex_connected, ex, &err, &why);
	if (!u) {
		if (why) {
			const struct pconf *pc = d->pc;
			struct eg_http_header h = { EG_STR("x-egressd-deny-reason"),
				                    eg_str_c(pc->no_prefix_reason) };

			eg_log_warn("%s", pc->no_prefix_reason);
			ex->ufail = why;
			ex_local(ex, 503, EG_RF_UF, why, &h, 1,
			         EG_STR("egress gateway has no egress source address\n"));
			return;
		}
		ex->ufail = up_errno_reason(err);
		ex_local(ex, 503, EG_RF_UF,
		         "upstream_reset_before_response_started{connection_failure}", NULL, 0,
		         EG_STR("upstream connect error"));
		return;
	}
	u->ex = ex;
	u->requests = 1;
	ex->u = u;
	if (cli && utls_prepare(u, cli, ex->authority.len ? ex->authority : ex->dest_host) < 0) {
		ex_local(ex, 503, EG_RF_UF, "upstream_reset_before_response_started{connection_failure}",
		         NULL, 0, EG_STR("upstream connect error\n"));
		return;
	}
}

/* Retry a request that met a closed keep-alive connection before any response byte. */
static bool ex_retry_stale(struct exch *ex)
{
	struct uconn *u = ex->u;

	if (!ex->reused || ex->resp_prev > 0 || (u && u->rlen > 0) ||
	    ex->req_body != EG_HTTP_BODY_NONE)
		return false;
	up_release(u, false, 0, 0);
	ex->u = NULL;
	ex->uhead_off = 0;
	ex->reused = false;
	ex->dns_rounds = 0;
	ex_upstream_start(ex);
	return true;
}

static int u_reserve(struct uconn *u)
{
	size_t cap;
	char *p;

	if (u->roff == u->rlen)
		u->roff = u->rlen = 0;
	if (u->rcap - u->rlen >= 1024)
		return 0;
	if (u->roff > 0 && !u->ex->resp_head_done) {
		memmove(u->rbuf, u->rbuf + u->roff, u->rlen - u->roff);
		u->rlen -= u->roff;
		u->roff = 0;
		if (u->rcap - u->rlen >= 1024)
			return 0;
	}
	cap = u->rcap ? u->rcap * 2 : 16384;
	if (cap > RBUF_MAX)
		cap = RBUF_MAX;
	if (cap <= u->rcap)
		return u->rlen < u->rcap ? 0 : -E2BIG;
	p = realloc(u->rbuf, cap);
	if (!p)
		return -ENOMEM;
	u->rbuf = p;
	u->rcap = cap;
	return 0;
}

/* Parses the upstream response head(s) in u->rbuf. 1 when the final head was taken, 0 when
 * more bytes are needed, -1 when the exchange ended. */
static int ex_parse_response(struct exch *ex)
{
	struct dconn *d = ex->d;
	struct uconn *u = ex->u;
	struct eg_http_resp resp;

	for (;;) {
		ssize_t n = eg_http_parse_response(u->rbuf + u->roff, u->rlen - u->roff, ex->resp_prev,
		                                   d->pw->hdrs, EG_HTTP_MAX_FIELDS, ex->method, &resp);
		struct eg_http_fwd fwd = { 0 };
		struct eg_http_header add[HDR_OPS_MAX];
		struct eg_str drop[2 * HDR_OPS_MAX + 2];
		size_t nadd = 0, ndrop = 0;
		bool keep;

		if (n == -EAGAIN) {
			ex->resp_prev = u->rlen - u->roff;
			if (u->rlen >= RBUF_MAX) {
				ex_local(ex, 502, EG_RF_UPE, "upstream_response_headers_too_large", NULL, 0,
				         EG_STR("upstream response headers too large"));
				return -1;
			}
			return 0;
		}
		if (n < 0) {
			ex_local(ex, 502, EG_RF_UPE, "upstream_protocol_error", NULL, 0,
			         EG_STR("upstream protocol error"));
			return -1;
		}
		ex->resp_prev = 0;
		if (resp.interim) {
			/* forward 1xx, except a 100 when we answered 100-continue ourselves */
			if (!(resp.status == 100 && (ex->sent_100 || !ex->expect)))
				eg_http_write_response(&ex->dhead, &resp, NULL);
			u->roff += (size_t)n;
			continue;
		}
		keep = ex->req_keep_alive && resp.h.body != EG_HTTP_BODY_UNTIL_CLOSE &&
		       !d->closing_after && !d->pw->draining;
		if (resp.h.body == EG_HTTP_BODY_UNTIL_CLOSE || !resp.h.keep_alive)
			ex->resp_keep_alive = false;
		else
			ex->resp_keep_alive = true;
		if (ex->route)
			header_ops(&ex->route->response_headers, drop, &ndrop, add, &nadd);
		fwd.drop = drop;
		fwd.n_drop = ndrop;
		fwd.add = add;
		fwd.n_add = nadd;
		fwd.connection = !keep ? EG_HTTP_CONN_CLOSE
		                       : (ex->version == 10 ? EG_HTTP_CONN_KEEP_ALIVE
		                                            : EG_HTTP_CONN_DEFAULT);
		if (eg_http_write_response(&ex->dhead, &resp, &fwd) < 0) {
			ex_local(ex, 502, EG_RF_UPE, "upstream_response_head_refused", NULL, 0,
			         EG_STR("upstream protocol error"));
			return -1;
		}
		if (!keep)
			d->closing_after = true;
		ex->status = resp.status;
		ex->resp_body = resp.h.body;
		ex->resp_left = resp.h.content_length;
		eg_http_chunked_init(&ex->resp_ch);
		ex->resp_head_done = true;
		ex->details = "via_upstream";
		u->roff += (size_t)n;
		if (resp.h.body == EG_HTTP_BODY_NONE ||
		    (resp.h.body == EG_HTTP_BODY_LENGTH && resp.h.content_length == 0))
			ex->resp_done = true;
		return 1;
	}
}

/* The response body bytes of u->rbuf[roff..) that may go to the client now. */
static size_t ex_resp_window(struct exch *ex, bool *ret_done)
{
	struct uconn *u = ex->u;
	size_t avail = u->rlen - u->roff;

	*ret_done = false;
	switch (ex->resp_body) {
	case EG_HTTP_BODY_LENGTH:
		if (avail >= ex->resp_left) {
			*ret_done = true;
			return (size_t)ex->resp_left;
		}
		return avail;
	case EG_HTTP_BODY_CHUNKED: {
		size_t off = 0;
		struct eg_http_chunked ch = ex->resp_ch;

		while (off < avail && !ch.done) {
			struct eg_str data;
			ssize_t n = eg_http_chunked_feed(&ch, u->rbuf + u->roff + off, avail - off, &data);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
		*ret_done = ch.done;
		return off;
	}
	case EG_HTTP_BODY_UNTIL_CLOSE:
		return avail;
	default:
		*ret_done = true;
		return 0;
	}
}

static void ex_resp_consumed(struct exch *ex, size_t n)
{
	struct uconn *u = ex->u;

	if (ex->resp_body == EG_HTTP_BODY_LENGTH) {
		ex->resp_left -= n;
	} else if (ex->resp_body == EG_HTTP_BODY_CHUNKED) {
		size_t off = 0;

		while (off < n) {
			struct eg_str data;
			ssize_t k = eg_http_chunked_feed(&ex->resp_ch, u->rbuf + u->roff + off, n - off,
			                                 &data);

			if (k <= 0)
				break;
			off += (size_t)k;
		}
	}
	u->roff += n;
	ex->bytes_sent += n;
}

/* Moves bytes as far as they go, then sets the interests. Every event of the exchange
 * comes here. */
static void ex_pump(struct exch *ex)
{
	struct dconn *d = ex->d;
	struct pworker *pw = d->pw;
	bool d_want_read = false, d_want_write = false, u_want_read = false, u_want_write = false;

	for (int round = 0; round < 64; round++) {
		struct uconn *u = ex->u;
		bool progress = false;
		ssize_t n;

		/* 1. upstream: request head, then body bytes of the window */
		if (u && u->connected && !ex->resp_local &&
		    (ex->uhead_off < ex->uhead.len || ex->fwd_off < ex->fwd_end)) {
			struct iovec iov[2];
			int cnt = 0;
			size_t hl = ex->uhead.len - ex->uhead_off;

			if (ex->expect && !ex->sent_100 && ex->fwd_off == ex->fwd_end &&
			    !req_body_complete(ex)) {
				/* the client waits for 100 before its body: tell it to go on */
				eg_buf_puts(&ex->dhead, "HTTP/1.1 100 Continue\r\n\r\n");
				ex->sent_100 = true;
			}
			if (hl)
				iov[cnt++] = (struct iovec){ ex->uhead.data + ex->uhead_off, hl };
			if (ex->fwd_end > ex->fwd_off)
				iov[cnt++] = (struct iovec){ d->rbuf + ex->fwd_off, ex->fwd_end - ex->fwd_off };
			n = u->io.ops->send(&u->io, iov, cnt);
			if (n == -EAGAIN) {
				u_want_write = true;
			} else if (n < 0) {
				if (ex_retry_stale(ex))
					return;
				ex->ufail = "connection_termination";
				ex_local(ex, 503, EG_RF_UC,
				         "upstream_reset_before_response_started{connection_termination}",
				         NULL, 0, EG_STR("upstream connect error or disconnect/reset before headers"));
				return;
			} else {
				size_t k = (size_t)n;

				if (k >= hl) {
					ex->uhead_off = ex->uhead.len;
					ex->fwd_off += k - hl;
				} else {
					ex->uhead_off += k;
				}
				progress = true;
			}
		}
		if (ex->fwd_off == ex->fwd_end && ex->uhead_off == ex->uhead.len && u && u->connected) {
			if (req_body_complete(ex)) {
				ex->req_done = true;
			} else if (ex->fwd_end == d->rlen) {
				/* the window went out: reuse the space after the head */
				d->rlen = ex->fwd_off = ex->fwd_end = ex->head_len;
			}
		}
		/* 2. downstream: more request body */
		if (!ex->resp_local && u && u->connected && !req_body_complete(ex) &&
		    ex->fwd_off == ex->fwd_end && ex->uhead_off == ex->uhead.len) {
			n = d_read(d, ex->head_len + BODY_CHUNK);
			if (n == -EAGAIN) {
				d_want_read = true;
			} else if (n <= 0) {
				ex->flags |= EG_RF_DC;
				ex->details = "downstream_remote_disconnect";
				ex->resp_done = true;
				log_http(ex);
				dconn_close(d);
				return;
			} else {
				int r = ex_classify(ex);

				if (r < 0) {
					ex_local(ex, eg_http_err_status(r), EG_RF_DPE, eg_http_err_reason(r),
					         NULL, 0, EG_STR("bad request body\n"));
					return;
				}
				progress = true;
			}
		}
		/* 3. upstream: response */
		u = ex->u;
		if (u && u->connected && !ex->resp_local && !ex->resp_done &&
		    ex->dhead_off == ex->dhead.len && u->roff == u->rlen) {
			if (u_reserve(u) < 0) {
				ex_local(ex, 502, EG_RF_UPE, "upstream_buffer", NULL, 0,
				         EG_STR("upstream protocol error"));
				return;
			}
			n = u->io.ops->recv(&u->io, u->rbuf + u->rlen, u->rcap - u->rlen);
			if (n == -EAGAIN) {
				u_want_read = true;
			} else if (n <= 0) {
				if (!ex->resp_head_done) {
					if (ex_retry_stale(ex))
						return;
					ex->ufail = n == 0 ? "connection_termination" : "connection_reset";
					ex_local(ex, 503, EG_RF_UC,
					         "upstream_reset_before_response_started{connection_termination}",
					         NULL, 0, EG_STR("upstream connect error or disconnect/reset before headers"));
					return;
				}
				if (ex->resp_body == EG_HTTP_BODY_UNTIL_CLOSE) {
					ex->resp_done = true;
					ex->resp_keep_alive = false;
				} else {
					ex->flags |= EG_RF_UC;
					ex->details = "upstream_reset_after_response_started";
					log_http(ex);
					dconn_close(d);
					return;
				}
				progress = true;
			} else {
				u->rlen += (size_t)n;
				progress = true;
			}
		} else if (u && u->connected && !ex->resp_local && !ex->resp_done &&
		           !ex->resp_head_done && u->roff < u->rlen && ex->dhead_off == ex->dhead.len) {
			/* a head that waits for more bytes */
			if (u_reserve(u) < 0) {
				ex_local(ex, 502, EG_RF_UPE, "upstream_buffer", NULL, 0,
				         EG_STR("upstream protocol error"));
				return;
			}
			n = u->io.ops->recv(&u->io, u->rbuf + u->rlen, u->rcap - u->rlen);
			if (n == -EAGAIN) {
				u_want_read = true;
			} else if (n <= 0) {
				if (ex_retry_stale(ex))
					return;
				ex_local(ex, 503, EG_RF_UC,
				         "upstream_reset_before_response_started{connection_termination}", NULL,
				         0, EG_STR("upstream connect error or disconnect/reset before headers"));
				return;
			} else {
				u->rlen += (size_t)n;
				progress = true;
			}
		}
		if (u && !ex->resp_local && !ex->resp_head_done && u->rlen > u->roff) {
			int r = ex_parse_response(ex);

			if (r < 0)
				return;
			if (r > 0)
				progress = true;
		}
		/* 4. downstream: response head and body */
		{
			struct iovec iov[2];
			int cnt = 0;
			size_t hl = ex->dhead.len - ex->dhead_off, bl = 0;
			bool body_done = false;

			if (hl)
				iov[cnt++] = (struct iovec){ ex->dhead.data + ex->dhead_off, hl };
			if (u && ex->resp_head_done && !ex->resp_local && !ex->resp_done) {
				bl = ex_resp_window(ex, &body_done);
				if (bl)
					iov[cnt++] = (struct iovec){ u->rbuf + u->roff, bl };
				else if (body_done)
					ex->resp_done = true;
			}
			if (cnt) {
				n = d->io.ops->send(&d->io, iov, cnt);
				if (n == -EAGAIN) {
					d_want_write = true;
				} else if (n < 0) {
					ex->flags |= EG_RF_DC;
					ex->details = "downstream_remote_disconnect";
					ex->resp_done = true;
					log_http(ex);
					dconn_close(d);
					return;
				} else {
					size_t k = (size_t)n;

					if (ex->resp_head_done && !ex->resp_local)
						ex->resp_started = true;
					if (k >= hl) {
						buf_clear(&ex->dhead);
						ex->dhead_off = 0;
						k -= hl;
						if (k) {
							ex_resp_consumed(ex, k);
							if (k == bl && body_done)
								ex->resp_done = true;
						}
					} else {
						ex->dhead_off += k;
					}
					progress = true;
				}
			}
		}
		if (ex->resp_done && ex->dhead_off == ex->dhead.len) {
			ex_finish(ex);
			return;
		}
		if (!progress)
			break;
		d_want_read = d_want_write = u_want_read = u_want_write = false;
	}
	{
		/* Interest in reading stays on while unused and is dropped only when a read event
		 * came that we did not want: in the common exchange no epoll_ctl is needed at all
		 * (level-triggered, so an unwanted event comes back once and turns it off).
		 * Writing is asked for exactly when bytes wait. */
		struct uconn *u = ex->u;
		uint32_t dw = d_want_write ? EG_IO_WRITE : 0;

		if (d_want_read || ((d->watch.want & EG_IO_READ) && !(ex->d_ev & EG_IO_READ)))
			dw |= EG_IO_READ;
		eg_loop_io_set(pw->loop, &d->watch, dw);
		if (u && u->connected) {
			uint32_t uw = u_want_write ? EG_IO_WRITE : 0;

			if (u_want_read || ((u->watch.want & EG_IO_READ) && !(ex->u_ev & EG_IO_READ)))
				uw |= EG_IO_READ;
			eg_loop_io_set(pw->loop, &u->watch, uw);
		}
		ex->d_ev = ex->u_ev = 0;
	}
}

static void u_io(struct eg_io_watch *w, uint32_t ev)
{
	struct uconn *u = w->data;

	if (u->ex) {
		u->ex->u_ev = ev;
		ex_pump(u->ex);
	} else {
		up_close(u);
	}
}

/* The exchange is over: log it, give the upstream back, go on with the next request. */
static void ex_finish(struct exch *ex)
{
	struct dconn *d = ex->d;
	struct pworker *pw = d->pw;
	size_t end = ex->fwd_end;
	bool keep;

	keep = !d->closing_after && req_body_complete(ex) && ex->resp_keep_alive != false &&
	       !pw->draining;
	if (ex->resp_local)
		keep = ex->resp_keep_alive && !d->closing_after && !pw->draining;
	log_http(ex);
	if (ex->u) {
		const struct eg_cluster *cl = ex->cl;
		bool reuse = ex->resp_keep_alive && ex->req_done && !ex->resp_local;

		up_release(ex->u, reuse,
		           cl && cl->pool.idle_timeout_ns > 0 ? (uint64_t)(cl->pool.idle_timeout_ns / 1000000)
		                                              : EG_PROXY_IDLE_TIMEOUT_MS,
		           cl ? cl->pool.max_requests_per_connection : 0);
		ex->u = NULL;
	}
	ex_free(ex);
	d->ex = NULL;
	if (!keep) {
		dconn_close(d);
		return;
	}
	/* pipelined bytes after this request move to the front */
	if (end < d->rlen) {
		memmove(d->rbuf, d->rbuf + end, d->rlen - end);
		d->rlen -= end;
	} else {
		d->rlen = 0;
	}
	d->head_prev = 0;
	d->keep_alive_seen = true;
	d_set_state(d, DS_HEAD);
	if (d->rlen > 0) {
		d_head(d);
		return;
	}
	d_release_rbuf(d);
	d_arm(d);
	if (dtls_pending(d))
		d->watch.cb(&d->watch, EG_IO_READ); /* the next request is already inside TLS */
}

/* ---- request routing ---- */

struct hview {
	const struct eg_http_req *req;
};

static struct eg_str view_header(void *ctx, struct eg_str name)
{
	const struct eg_http_req *req = ctx;

	for (size_t i = 0; i < req->h.n_headers; i++)
		if (eg_str_caseeq(req->h.headers[i].name, name))
			return req->h.headers[i].value;
	return (struct eg_str){ NULL, 0 };
}

static const struct eg_listener *capture_listener(const struct eg_snapshot *s)
{
	for (size_t i = 0; i < eg_snapshot_nlisteners(s); i++) {
		const struct eg_listener *l = eg_snapshot_listener_at(s, i);

		if (l->kind == EG_LISTENER_CAPTURE)
			return l;
	}
	return NULL;
}

/* The route table for a request on @d to port @port. */
static const struct eg_route_table *d_table(struct dconn *d, uint16_t port, bool *tls_chain)
{
	const struct eg_snapshot *s = d->pc->snap;

	*tls_chain = false;
	if (d->mode == DM_GATEWAY) {
		const struct eg_listener *l = eg_snapshot_listener(s, d->lport);
		const struct eg_filter_chain *fc =
		        d->dt ? d->dt->fc : l ? eg_listener_chain(l, (struct eg_str){ 0 }) : NULL;

		if (!fc)
			return NULL;
		if (fc->tls.mode != EG_SERVER_TLS_NONE && !d->dt) {
			*tls_chain = true;
			return NULL;
		}
		return fc->chain.proto == EG_CHAIN_HTTP ? fc->chain.http : NULL;
	} else {
		const struct eg_port_entry *pe = eg_snapshot_port(s, port);
		const struct eg_listener *l = capture_listener(s);

		if (pe && pe->chain.proto == EG_CHAIN_HTTP && pe->chain.http)
			return pe->chain.http;
		return l ? l->http_catch_all : NULL;
	}
}

static void d_connect_method(struct dconn *d, struct exch *ex, const struct eg_http_req *req);

/* A complete request head is at the start of d->rbuf (@n bytes). */
static void d_request(struct dconn *d, const struct eg_http_req *req, size_t n)
{
	struct pworker *pw = d->pw;
	const struct eg_snapshot *s = d->pc->snap;
	struct exch *ex = ex_new(d);
	const struct eg_route_table *rt;
	const struct eg_vhost *vh;
	const struct eg_route *route;
	struct eg_http_req_view view;
	char authbuf[300];
	int alen;
	bool tls_chain;
	uint16_t port;
	uint8_t rnd[16];

	if (!ex) {
		dconn_close(d);
		return;
	}
	eg_loop_timer_disarm(pw->loop, &d->timer);
	d->ex = ex;
	d_set_state(d, DS_EXCH);
	ex->method = req->method;
	ex->method_text = req->method_text;
	ex->path = req->form == EG_HTTP_ABSOLUTE_FORM || req->form == EG_HTTP_AUTHORITY_FORM
	                   ? (req->path.len ? req->path : req->target)
	                   : req->target;
	if (req->form == EG_HTTP_ABSOLUTE_FORM && req->path.len && req->query.ptr)
		ex->path.len = (size_t)(req->query.ptr + req->query.len - req->path.ptr);
	ex->authority = req->has_host ? req->host : req->authority;
	ex->ua = view_header((void *)req, EG_STR("user-agent"));
	ex->xff = view_header((void *)req, EG_STR("x-forwarded-for"));
	ex->version = req->h.version;
	ex->head_len = n;
	ex->req_body = req->h.body;
	ex->req_left = req->h.body == EG_HTTP_BODY_LENGTH ? req->h.content_length : 0;
	eg_http_chunked_init(&ex->req_ch);
	ex->fwd_off = ex->fwd_end = n;
	ex->expect = req->h.expect_continue && !req_body_complete(ex);
	ex->req_keep_alive = req->h.keep_alive;
	for (size_t i = 0; i < sizeof(rnd); i += 8) {
		uint64_t r = pw_rand(pw);

		memcpy(rnd + i, &r, 8);
	}
	{
		int k = eg_http_request_id(req, rnd, d->mode != DM_CAPTURED && d->mode != DM_EXPLICIT
		                                             ? false
		                                             : false,
		                           ex->reqid, sizeof(ex->reqid));

		ex->reqid_len = k > 0 ? (size_t)k : 0;
	}
	if (ex_classify(ex) < 0) {
		ex_local(ex, 400, EG_RF_DPE, "bad_body", NULL, 0, EG_STR("bad request body\n"));
		return;
	}
	if (d->closing_after || pw->draining)
		ex->req_keep_alive = false;

	if (d->mode == DM_EXPLICIT && req->method == EG_HTTP_CONNECT) {
		d_connect_method(d, ex, req);
		return;
	}
	if (eg_http_req_host_mismatch(req)) {
		ex_local(ex, 400, EG_RF_DPE, "host_mismatch", NULL, 0,
		         EG_STR("request target and Host differ\n"));
		return;
	}
	/* where the request goes: authority-only routing (client headers never change it) */
	if (d->mode == DM_CAPTURED) {
		port = d->tport;
	} else if (d->mode == DM_EXPLICIT) {
		port = req->dest.port ? req->dest.port
		                      : (req->form == EG_HTTP_ABSOLUTE_FORM ? eg_http_scheme_port(req->scheme)
		                                                           : 80);
		if (!port)
			port = 80;
	} else {
		port = d->lport;
	}
	ex->dest_port = port;
	if (d->mode == DM_CAPTURED && d->thost)
		ex->dest_host = eg_str_c(d->thost);
	else if (d->mode != DM_CAPTURED)
		ex->dest_host = req->dest.host;
	alen = eg_http_authority_format(&req->dest, d->mode == DM_GATEWAY ? 0 : 0, authbuf,
	                                sizeof(authbuf));
	if (alen < 0 || req->dest.host.len == 0) {
		ex_local(ex, 400, EG_RF_DPE, "missing_host", NULL, 0, EG_STR("missing host\n"));
		return;
	}
	rt = d_table(d, port, &tls_chain);
	if (tls_chain) {
		eg_log_warn("listener %u: TLS server chains are not supported yet; closing", d->lport);
		ex->details = "tls_not_supported";
		ex->flags |= EG_RF_NR;
		log_http(ex);
		dconn_close(d);
		return;
	}
	vh = rt ? eg_route_table_vhost(rt, (struct eg_str){ authbuf, (size_t)alen }) : NULL;
	view = (struct eg_http_req_view){ .method = req->method_text,
		                          .scheme = EG_STR("http"),
		                          .authority = { authbuf, (size_t)alen },
		                          .path = ex->path,
		                          .header = view_header,
		                          .ctx = (void *)req };
	route = vh ? eg_vhost_route(vh, &view) : NULL;
	if (!route) {
		ex->route_name = NULL;
		ex_local(ex, 404, EG_RF_NR, "route_not_found", NULL, 0, EG_STR(""));
		return;
	}
	ex->route = route;
	ex->route_name = route->name;
	if (route->action == EG_ACTION_DIRECT) {
		if (eg_policy_route_denies(route)) {
			struct eg_http_header h;
			size_t dl = eg_policy_deny_reason(s, req->dest.host, ex->deny, sizeof(ex->deny));
			char body[400];
			int bl;

			h = (struct eg_http_header){ EG_STR("x-egressd-deny-reason"), { ex->deny, dl } };
			bl = snprintf(body, sizeof(body), "egressd: %.*s is not allowed: %s\n",
			              (int)(req->dest.host.len > 255 ? 255 : req->dest.host.len),
			              req->dest.host.ptr, route->deny_reason);
			ex->denied = true;
			ex->cluster_name = "BlackHoleCluster";
			count_deny(pw, req->dest.host, eg_policy_deny_label(s));
			ex_local(ex, route->direct.status ? route->direct.status : 502, 0, "direct_response",
			         &h, 1, (struct eg_str){ body, bl > 0 ? (size_t)bl : 0 });
			return;
		}
		ex_local(ex, route->direct.status ? route->direct.status : 200, 0, "direct_response",
		         NULL, 0, eg_str_c(route->direct.body));
		return;
	}
	if (route->action == EG_ACTION_REDIRECT) {
		char loc[1024];
		int ll = snprintf(loc, sizeof(loc), "%s://%s%s", route->redirect.scheme ? route->redirect.scheme : "http",
		                  route->redirect.authority ? route->redirect.authority : authbuf,
		                  route->redirect.uri ? route->redirect.uri : "/");
		struct eg_http_header h = { EG_STR("location"), { loc, ll > 0 && (size_t)ll < sizeof(loc) ? (size_t)ll : 0 } };

		ex_local(ex, route->redirect.code ? route->redirect.code : 301, 0, "direct_response", &h,
		         1, EG_STR(""));
		return;
	}
	{
		const struct eg_weighted_cluster *wc =
		        route->nclusters ? eg_pick_weighted(route->clusters, route->nclusters,
		                                            route->total_weight
		                                                    ? (uint32_t)(pw_rand(pw) % route->total_weight)
		                                                    : 0)
		                         : NULL;

		if (!wc || !wc->cluster) {
			ex->cluster_name = wc ? wc->name : NULL;
			ex_local(ex, 503, EG_RF_NC, "cluster_not_found", NULL, 0,
			         EG_STR("no cluster found\n"));
			return;
		}
		ex->cl = wc->cluster;
		ex->cluster_name = wc->cluster->name;
	}
	/* the forwarded head, written once while the parsed fields are at hand */
	{
		struct eg_http_fwd fwd = { 0 };
		struct eg_http_header add[HDR_OPS_MAX];
		struct eg_str drop[2 * HDR_OPS_MAX + 2];
		size_t nadd = 0, ndrop = 0;
		char peer[EG_NET_ADDR_STRLEN];

		if (d->mode == DM_GATEWAY && eg_net_addr_format_ip(&d->peer, peer, sizeof(peer)) > 0)
			fwd.xff_append = eg_str_c(peer);
		fwd.xfp = d->dt ? EG_STR("https") : EG_STR("http");
		fwd.request_id = (struct eg_str){ ex->reqid, ex->reqid_len };
		if (route->rewrite.authority)
			fwd.host = eg_str_c(route->rewrite.authority);
		if (ex->expect) /* we answer 100-continue ourselves */
			drop[ndrop++] = EG_STR("expect");
		header_ops(&route->request_headers, drop, &ndrop, add, &nadd);
		fwd.drop = drop;
		fwd.n_drop = ndrop;
		fwd.add = add;
		fwd.n_add = nadd;
		if (eg_http_write_request(&ex->uhead, req, &fwd) < 0) {
			ex_local(ex, 400, EG_RF_DPE, "request_head_refused", NULL, 0,
			         EG_STR("bad request\n"));
			return;
		}
		/* the log reads x-forwarded-for as sent upstream (when it was empty) */
		if (fwd.xff_append.len && !ex->xff.len && fwd.xff_append.len < sizeof(ex->xffb)) {
			memcpy(ex->xffb, fwd.xff_append.ptr, fwd.xff_append.len);
			ex->xff = (struct eg_str){ ex->xffb, fwd.xff_append.len };
		}
	}
	ex_upstream_start(ex);
}

/* CONNECT host:port on the explicit proxy: the policy decides before any lookup. */
static void d_connect_method(struct dconn *d, struct exch *ex, const struct eg_http_req *req)
{
	struct pworker *pw = d->pw;
	const struct eg_snapshot *s = d->pc->snap;
	struct eg_policy_decision dec;
	struct eg_str host = req->dest.host;
	uint16_t port = req->dest.port;

	ex->authority = req->authority;
	if (eg_http_req_host_mismatch(req) || !port || !host.len) {
		ex_local(ex, 400, EG_RF_DPE, "connect_target", NULL, 0, EG_STR("bad CONNECT target\n"));
		return;
	}
	if (eg_policy_decide(s, host, port, &dec) < 0 || dec.verdict != EG_POLICY_ALLOW) {
		struct eg_http_header h;
		size_t dl = eg_policy_deny_reason(s, host, ex->deny, sizeof(ex->deny));
		char body[400];
		int bl = snprintf(body, sizeof(body), "egressd: CONNECT %.*s:%u is not allowed\n",
		                  (int)(host.len > 255 ? 255 : host.len), host.ptr, port);

		h = (struct eg_http_header){ EG_STR("x-egressd-deny-reason"), { ex->deny, dl } };
		ex->denied = true;
		ex->route_name = dec.rule && strcmp(dec.rule, "block_all") == 0 ? "block_all" : NULL;
		ex->cluster_name = "BlackHoleCluster";
		count_deny(pw, host, eg_policy_deny_label(s));
		d->closing_after = true;
		ex_local(ex, 403, EG_RF_UH, "connect_denied", &h, 1,
		         (struct eg_str){ body, bl > 0 ? (size_t)bl : 0 });
		return;
	}
	/* allowed: 200, then the tunnelled bytes are a captured connection to host:port */
	d->thost = eg_strndup(host.ptr, host.len);
	if (!d->thost) {
		dconn_close(d);
		return;
	}
	d->tport = port;
	if (d_set_out_text(d, "HTTP/1.1 200 Connection established\r\n\r\n", 39) < 0) {
		dconn_close(d);
		return;
	}
	{
		size_t end = ex->fwd_end;

		ex_free(ex);
		d->ex = NULL;
		memmove(d->rbuf, d->rbuf + end, d->rlen - end);
		d->rlen -= end;
	}
	d->mode = DM_CAPTURED;
	d_set_state(d, DS_FLUSH);
	d->closing_after = false;
	eg_loop_io_set(pw->loop, &d->watch, EG_IO_WRITE);
	eg_loop_timer_arm(pw->loop, &d->timer, EG_PROXY_HEADER_TIMEOUT_MS);
	d->captured_port_known = true; /* DS_FLUSH then opens the tunnel */
}

/* Parses what d->rbuf holds; dispatches a complete head. */
static void d_head(struct dconn *d)
{
	struct eg_http_req req;
	ssize_t n;

	if (d->rlen == 0)
		return;
	if (d->keep_alive_seen && gw_conn_stale(d)) {
		/* plain text <-> TLS changed on this port: the client retries on a new connection */
		dconn_close(d);
		return;
	}
	n = eg_http_parse_request(d->rbuf, d->rlen, d->head_prev, d->pw->hdrs, EG_HTTP_MAX_FIELDS,
	                          &req);
	if (n == -EAGAIN) {
		d->head_prev = d->rlen;
		if (d->rlen >= RBUF_MAX) {
			d_respond_close(d, 431, NULL, 0, EG_STR("request header fields too large\n"));
			return;
		}
		d_arm(d);
		return;
	}
	d->head_prev = 0;
	if (n < 0) {
		int st = eg_http_err_status((int)n);

		eg_log_debug("conn %d: bad request: %s", d->io.fd, eg_http_err_reason((int)n));
		d_respond_close(d, st, NULL, 0, EG_STR("bad request\n"));
		return;
	}
	d_request(d, &req, (size_t)n);
}

/* ---- TCP / TLS ---- */

static void tx_relay_done(struct eg_net_relay *r, const struct eg_net_relay_result *res,
                          void *data)
{
	struct dconn *d = data;
	struct tcpx *tx = d->tx;

	(void)r;
	tx->relaying = false;
	if (res->status != 0 && res->status != -ETIMEDOUT)
		tx->flags |= res->failed_side == EG_NET_RELAY_A ? EG_RF_DC : EG_RF_UC;
	log_tcp(d, tx, res->bytes[EG_NET_RELAY_A], res->bytes[EG_NET_RELAY_B]);
	d->io.fd = -1; /* the relay closed both */
	dconn_close(d);
}

static void tx_connected(struct eg_net_connector *c, int fd_or_err, void *data)
{
	struct dconn *d = data;
	struct tcpx *tx = d->tx;
	struct pworker *pw = d->pw;
	struct eg_net_relay_opts o = { 0 };
	struct eg_io uio;
	struct eg_net_addr local;

	(void)c;
	if (fd_or_err < 0) {
		tx->flags |= EG_RF_UF;
		tx->details = up_errno_reason(fd_or_err);
		log_tcp(d, tx, 0, 0);
		dconn_close(d);
		return;
	}
	eg_io_tcp_init(&uio, fd_or_err);
	if (eg_net_local_addr(fd_or_err, &local) == 0)
		eg_net_addr_format(&local, tx->ulocal, sizeof(tx->ulocal));
	o.idle_timeout_ms = EG_PROXY_IDLE_TIMEOUT_MS;
	o.pool = &pw->pipes;
	if (d->rlen) {
		o.preload[EG_NET_RELAY_A] = d->rbuf;
		o.preload_len[EG_NET_RELAY_A] = d->rlen;
	}
	eg_loop_io_stop(pw->loop, &d->watch);
	eg_loop_timer_disarm(pw->loop, &d->timer);
	if (eg_net_relay_start(&tx->relay, pw->loop, &d->io, &uio, &o, tx_relay_done, d) < 0) {
		uio.ops->close(&uio);
		tx->flags |= EG_RF_UF;
		log_tcp(d, tx, 0, 0);
		dconn_close(d);
		return;
	}
	tx->relaying = true;
	d_set_state(d, DS_TUNNEL);
}

static void tx_dns_cb(void *data, int status, struct eg_dns_answer *ans);

static void tx_go(struct dconn *d)
{
	struct tcpx *tx = d->tx;
	struct pworker *pw = d->pw;
	struct eg_net_addr addr, src, *srcp = NULL;
	int r;

	r = up_pick(pw, tx->cl, d->thost ? eg_str_c(d->thost) : eg_str_c(tx->sni), d->tport,
	            d->orig.len ? &d->orig : NULL, tx_dns_cb, d, &tx->dnsq, &addr);
	if (r == EG_DNS_PENDING)
		return;
	if (r < 0) {
		tx->flags |= r == -EHOSTDOWN ? EG_RF_DF : EG_RF_UH;
		log_tcp(d, tx, 0, 0);
		dconn_close(d);
		return;
	}
	eg_net_addr_format(&addr, tx->uhost, sizeof(tx->uhost));
	r = up_source(pw, d->pc, &addr, &src);
	if (r < 0) {
		tx->flags |= EG_RF_UF;
		tx->details = "no_egress_source";
		log_tcp(d, tx, 0, 0);
		dconn_close(d);
		return;
	}
	srcp = r > 0 ? &src : NULL;
	r = eg_net_connect(&tx->conn, pw->loop, &addr, srcp, up_connect_timeout(tx->cl), tx_connected,
	                   d);
	if (r < 0) {
		tx->flags |= EG_RF_UF;
		log_tcp(d, tx, 0, 0);
		dconn_close(d);
	}
}

static void tx_dns_cb(void *data, int status, struct eg_dns_answer *ans)
{
	struct dconn *d = data;

	(void)ans;
	d->tx->dnsq = NULL;
	if (status == -ECANCELED)
		return;
	tx_go(d);
}

static struct tcpx *d_tx(struct dconn *d)
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

/* Proxies the connection as TCP along @r (BlackHole: log and close). */
void d_start_tcp(struct dconn *d, const struct eg_tcp_route *r, bool tls)
{
	struct pworker *pw = d->pw;
	struct tcpx *tx = d_tx(d);
	const struct eg_weighted_cluster *wc;

	if (!tx) {
		dconn_close(d);
		return;
	}
	d_set_state(d, DS_TCP);
	eg_loop_io_set(pw->loop, &d->watch, 0);
	tx->route = r;
	if (eg_policy_tcp_denies(r)) {
		char ip[EG_NET_ADDR_STRLEN] = "";
		struct eg_str host;

		if (tx->sni[0])
			host = eg_str_c(tx->sni);
		else if (d->thost)
			host = eg_str_c(d->thost);
		else {
			eg_net_addr_format_ip(&d->orig, ip, sizeof(ip));
			host = eg_str_c(ip);
		}
		tx->cluster_name = "BlackHoleCluster";
		tx->flags |= EG_RF_UH;
		count_deny(pw, host, eg_policy_deny_label(d->pc->snap));
		if (tls) {
			uint8_t alert[EG_TLS_ALERT_LEN];
			ssize_t an = eg_tls_alert_write(alert, sizeof(alert), NULL,
			                                tx->alert ? (enum eg_tls_alert)tx->alert
			                                          : EG_TLS_ALERT_ACCESS_DENIED);

			if (an > 0) {
				struct iovec iov = { alert, (size_t)an };

				(void)d->io.ops->send(&d->io, &iov, 1);
			}
		}
		log_tcp(d, tx, 0, 0);
		dconn_close(d);
		return;
	}
	wc = eg_pick_weighted(r->clusters, r->nclusters,
	                      r->total_weight ? (uint32_t)(pw_rand(pw) % r->total_weight) : 0);
	if (!wc || !wc->cluster) {
		tx->cluster_name = wc ? wc->name : NULL;
		tx->flags |= EG_RF_NC;
		log_tcp(d, tx, 0, 0);
		dconn_close(d);
		return;
	}
	tx->cl = wc->cluster;
	tx->cluster_name = wc->cluster->name;
	tx_go(d);
}

/* A captured connection (or a tunnel that just opened): choose by port, then address. */
static void d_start_captured(struct dconn *d)
{
	const struct eg_snapshot *s = d->pc->snap;
	const struct eg_port_entry *pe = eg_snapshot_port(s, d->tport);

	if (pe && d->orig.len && !d->thost) {
		const struct eg_tcp_route *r =
		        eg_port_entry_addr_route(pe, eg_net_addr_family(&d->orig),
		                                 eg_net_addr_family(&d->orig) == AF_INET
		                                         ? (const void *)&d->orig.u.in4.sin_addr
		                                         : (const void *)&d->orig.u.in6.sin6_addr);
		if (r) {
			d_start_tcp(d, r, false);
			return;
		}
	}
	if (pe && pe->chain.proto == EG_CHAIN_TCP) {
		d_start_tcp(d, pe->chain.tcp ? pe->chain.tcp : pe->chain.fallback, false);
		return;
	}
	if (pe && pe->chain.proto == EG_CHAIN_HTTP) {
		d_set_state(d, DS_HEAD);
		if (d->rlen)
			d_head(d);
		else
			d_arm(d);
		return;
	}
	/* a TLS chain, or no entry: look at the first bytes */
	d_set_state(d, DS_TLS);
	eg_loop_timer_arm(d->pw->loop, &d->timer, EG_PROXY_HEADER_TIMEOUT_MS);
	if (d->rlen)
		d_tls(d);
	else
		eg_loop_io_set(d->pw->loop, &d->watch, EG_IO_READ);
}

void d_after_tunnel_open(struct dconn *d)
{
	d->captured_port_known = false;
	d_start_captured(d);
}

static bool looks_like_http(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && i < 16 && p[i] >= 'A' && p[i] <= 'Z')
		i++;
	return i > 0 && i < n && p[i] == ' ';
}

static void d_tls(struct dconn *d)
{
	const struct eg_snapshot *s = d->pc->snap;
	const struct eg_port_entry *pe = eg_snapshot_port(s, d->tport);
	const struct eg_listener *l = capture_listener(s);
	struct eg_tls_hello h;
	struct tcpx *tx;
	int r;

	if (d->mode == DM_GATEWAY) {
		gw_tls_hello(d);
		return;
	}
	if (d->rlen == 0) {
		eg_loop_io_set(d->pw->loop, &d->watch, EG_IO_READ);
		return;
	}
	r = eg_tls_hello_read(d->rbuf, d->rlen, &h);
	if (r == -EAGAIN && d->rlen < EG_TLS_HELLO_MAX) {
		eg_loop_io_set(d->pw->loop, &d->watch, EG_IO_READ);
		return;
	}
	if (r == -EPROTO && !pe && looks_like_http(d->rbuf, d->rlen)) {
		/* plain HTTP on a port without entry: the listener's catch-all table */
		d_set_state(d, DS_HEAD);
		d_head(d);
		return;
	}
	/* malformed, oversized, without SNI, or not TLS on a TLS port: refused */
	if (sc_tls_refuse(d, r, &h, pe && pe->chain.proto == EG_CHAIN_TLS))
		return;
	tx = d_tx(d);
	if (!tx) {
		dconn_close(d);
		return;
	}
	if (r == 0)
		memcpy(tx->sni, h.sni, (size_t)h.sni_len + 1);
	if (pe && pe->chain.proto == EG_CHAIN_TLS) {
		const struct eg_tcp_route *route = eg_chain_sni_route(&pe->chain, eg_str_c(tx->sni));

		tx->alert = sc_tls_deny_alert(route, &pe->chain, NULL);
		d_start_tcp(d, route, true);
	} else {
		tx->alert = EG_TLS_ALERT_UNRECOGNIZED_NAME;
		d_start_tcp(d, l ? l->fallback : NULL, r == 0);
	}
}

/* ---- events ---- */

static void d_io(struct eg_io_watch *w, uint32_t ev)
{
	struct dconn *d = w->data;
	ssize_t n;

	(void)ev;
	switch (d->state) {
	case DS_HEAD:
		n = d_read(d, RBUF_MAX);
		if (n == -EAGAIN)
			return;
		if (n == -E2BIG) {
			d_head(d);
			return;
		}
		if (n <= 0) {
			dconn_close(d);
			return;
		}
		if (!d->keep_alive_seen || d->rlen == (size_t)n)
			eg_loop_timer_arm(d->pw->loop, &d->timer, EG_PROXY_HEADER_TIMEOUT_MS);
		d_head(d);
		if (d->state == DS_HEAD && dtls_pending(d))
			d_io(w, ev); /* TLS holds more of the head: no event would say so */
		return;
	case DS_EXCH:
		if (d->ex) {
			d->ex->d_ev = ev;
			ex_pump(d->ex);
		}
		return;
	case DS_TLS:
		n = d_read(d, EG_TLS_HELLO_MAX);
		if (n == -EAGAIN)
			return;
		if (n <= 0 && n != -E2BIG) {
			dconn_close(d);
			return;
		}
		d_tls(d);
		return;
	case DS_HANDSHAKE:
		gw_tls_handshake(d);
		return;
	case DS_FLUSH: {
		int r = d_flush_out(d);

		if (r == 0)
			return;
		if (r > 0 && d->captured_port_known) {
			d_after_tunnel_open(d);
			return;
		}
		if (r > 0)
			shutdown(d->io.fd, SHUT_WR);
		dconn_close(d);
		return;
	}
	default:
		eg_loop_io_set(d->pw->loop, &d->watch, 0);
		return;
	}
}

void dconn_accept(struct plistener *pl, int fd, const struct eg_net_addr *peer)
{
	struct pworker *pw = pl->pw;
	struct eg_net_addr local;
	struct dconn *d;

	if (!pw->pc || pw->draining) {
		close(fd);
		eg_worker_conn_release(pw->w);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		close(fd);
		eg_worker_conn_release(pw->w);
		return;
	}
	d->pw = pw;
	d->pc = pconf_ref(pw->pc);
	eg_io_tcp_init(&d->io, fd);
	eg_io_watch_init(&d->watch, fd, d_io, d);
	eg_timer_init(&d->timer, d_timer_cb, d);
	d->peer = *peer;
	d->lport = pl->port;
	eg_net_set_nodelay(fd);
	d->next = pw->conns;
	if (pw->conns)
		pw->conns->prev = d;
	pw->conns = d;
	eg_telemetry_connections(pw->px->tel, pw->idx, 1);
	if (!pl->capture) {
		d->mode = DM_GATEWAY;
		if (gw_listener_tls(d->pc, d->lport)) {
			/* TLS servers: the ClientHello decides (tls_gateway.c) */
			d_set_state(d, DS_TLS);
			eg_loop_timer_arm(pw->loop, &d->timer, EG_PROXY_HEADER_TIMEOUT_MS);
			eg_loop_io_set(pw->loop, &d->watch, EG_IO_READ);
			return;
		}
		d_set_state(d, DS_HEAD);
		d_arm(d);
		return;
	}
	if (eg_net_original_dst(fd, &d->orig) == 0 && eg_net_local_addr(fd, &local) == 0 &&
	    !eg_net_addr_equal(&d->orig, &local)) {
		d->mode = DM_CAPTURED;
		d->tport = eg_net_addr_port(&d->orig);
		d_start_captured(d);
		return;
	}
	memset(&d->orig, 0, sizeof(d->orig));
	d->mode = DM_EXPLICIT;
	d_set_state(d, DS_HEAD);
	d_arm(d);
}
