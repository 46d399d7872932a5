/* src/proxy/log.c: one access log line and the Istio metrics per HTTP request and per TCP
 * connection, and the deny counter. Worker threads only; nothing here blocks. */
#include <stdio.h>
#include <string.h>

#include "proxy/internal.h"

static struct eg_str cut_before(const char *s, char c)
{
	const char *p = strchr(s, c);

	return p ? (struct eg_str){ s, (size_t)(p - s) } : eg_str_c(s);
}

void labels_dest(struct eg_metrics_labels *l, const struct pconf *pc, const struct eg_cluster *cl,
                 const char *cluster_name, struct eg_str authority)
{
	(void)pc;
	if (!cl || !cl->host || !cl->host[0]) {
		/* BlackHole/Passthrough: the cluster is the service, the Host the destination */
		struct eg_str name = cluster_name ? eg_str_c(cluster_name) : EG_STR("unknown");
		struct eg_str host = authority;

		for (size_t i = 0; i < host.len; i++)
			if (host.ptr[i] == ':') {
				host.len = i;
				break;
			}
		eg_metrics_labels_set(l, EG_ISTIO_DESTINATION_SERVICE, host.len ? host : name);
		eg_metrics_labels_set(l, EG_ISTIO_DESTINATION_SERVICE_NAME, name);
		return;
	}
	eg_metrics_labels_set(l, EG_ISTIO_DESTINATION_SERVICE, eg_str_c(cl->host));
	if (cl->service) {
		/* "Service NS/NAME" or "ServiceEntry NS/NAME" */
		const char *sp = strchr(cl->service, ' ');
		const char *ns = sp ? sp + 1 : cl->service;
		struct eg_str nss = cut_before(ns, '/');
		const char *slash = strchr(ns, '/');

		eg_metrics_labels_set(l, EG_ISTIO_DESTINATION_SERVICE_NAMESPACE, nss);
		if (strncmp(cl->service, "Service ", 8) == 0 && slash)
			eg_metrics_labels_set(l, EG_ISTIO_DESTINATION_SERVICE_NAME, eg_str_c(slash + 1));
		else
			eg_metrics_labels_set(l, EG_ISTIO_DESTINATION_SERVICE_NAME, eg_str_c(cl->host));
	} else {
		eg_metrics_labels_set(l, EG_ISTIO_DESTINATION_SERVICE_NAME, eg_str_c(cl->host));
	}
}

/* "404" without printf (one per request): status codes are 100..999 here. */
static struct eg_str code_str(int status, char buf[4])
{
	if (status < 100 || status > 999)
		return EG_STR("0");
	buf[0] = (char)('0' + status / 100);
	buf[1] = (char)('0' + status / 10 % 10);
	buf[2] = (char)('0' + status % 10);
	buf[3] = '\0';
	return (struct eg_str){ buf, 3 };
}

void count_deny(struct pworker *pw, struct eg_str host, const char *reason)
{
	eg_telemetry_denied(pw->px->tel, pw->idx, host, eg_str_c(reason));
}

static struct eg_str addr_str(const struct eg_net_addr *a, char *buf, size_t cap)
{
	int n = a->len ? eg_net_addr_format(a, buf, cap) : -1;

	return n > 0 ? (struct eg_str){ buf, (size_t)n } : (struct eg_str){ NULL, 0 };
}

void log_http(struct exch *ex)
{
	struct dconn *d = ex->d;
	struct pworker *pw = d->pw;
	const struct pconf *pc = d->pc;
	uint64_t now = eg_loop_now(pw->loop);
	int64_t dur = (int64_t)(now - ex->start_ms);
	char code[8], dl[EG_NET_ADDR_STRLEN], dr[EG_NET_ADDR_STRLEN], flags[128];
	struct eg_metrics_labels l = pc->base;
	struct eg_buf fb = EG_BUF_INIT(sizeof(flags) - 1);
	struct eg_net_addr local;

	if (ex->flags == 0) {
		memcpy(flags, "-", 2);
	} else {
		eg_accesslog_flags_format(ex->flags, false, &fb);
		snprintf(flags, sizeof(flags), "%s", eg_buf_cstr(&fb));
		eg_buf_done(&fb);
	}
	if (pc->fmt && pw->px->writer) {
		struct eg_accesslog_entry e;

		if (ex->uaddr.len)
			eg_net_addr_format(&ex->uaddr, ex->uhost, sizeof(ex->uhost));
		if (ex->uladdr.len)
			eg_net_addr_format(&ex->uladdr, ex->ulocal, sizeof(ex->ulocal));
		eg_accesslog_entry_init(&e);
		e.start = ex->start_rt;
		e.method = ex->method_text;
		e.path = ex->path;
		e.protocol = ex->version == 10 ? EG_STR("HTTP/1.0") : EG_STR("HTTP/1.1");
		e.response_code = (unsigned)ex->status;
		e.response_flags = ex->flags;
		e.response_code_details = eg_str_c(ex->details);
		e.upstream_transport_failure_reason = eg_str_c(ex->ufail);
		e.bytes_received = ex->bytes_received;
		e.bytes_sent = ex->bytes_sent;
		e.duration_ms = dur;
		e.upstream_service_time_ms =
		        ex->up_start_ms && ex->resp_head_done && !ex->resp_local
		                ? (int64_t)(now - ex->up_start_ms)
		                : -1;
		e.x_forwarded_for = ex->xff;
		e.user_agent = ex->ua;
		e.request_id = (struct eg_str){ ex->reqid, ex->reqid_len };
		e.authority = ex->authority;
		e.upstream_host = eg_str_c(ex->uhost[0] ? ex->uhost : NULL);
		e.upstream_cluster = eg_str_c(ex->cluster_name);
		e.upstream_local_address = eg_str_c(ex->ulocal[0] ? ex->ulocal : NULL);
		d_local(d, &local);
		e.downstream_local_address = addr_str(d->mode == DM_CAPTURED && d->orig.len ? &d->orig
		                                                                             : &local,
		                                      dl, sizeof(dl));
		e.downstream_remote_address = addr_str(&d->peer, dr, sizeof(dr));
		e.route_name = eg_str_c(ex->route_name);
		e.deny_reason = eg_str_c(ex->denied ? ex->deny : NULL);
		if (d->dt) {
			/* terminated TLS: the client's SNI and verified identity */
			e.requested_server_name = eg_str_c(d->dt->sni[0] ? d->dt->sni : NULL);
			e.downstream_peer_uri_san = eg_str_c(d->dt->peer_id);
		}
		eg_accesslog_writer_log(pw->px->writer, pw->idx, pc->fmt, &e);
	}
	if (d->dt && d->dt->mutual) {
		eg_metrics_labels_set(&l, EG_ISTIO_SOURCE_PRINCIPAL, eg_str_c(d->dt->peer_id));
		eg_metrics_labels_set(&l, EG_ISTIO_CONNECTION_SECURITY_POLICY, EG_STR("mutual_tls"));
	}
	labels_dest(&l, pc, ex->cl, ex->cluster_name, ex->authority);
	eg_metrics_labels_set(&l, EG_ISTIO_REQUEST_PROTOCOL, EG_STR("http"));
	eg_metrics_labels_set(&l, EG_ISTIO_RESPONSE_CODE, code_str(ex->status, code));
	eg_metrics_labels_set(&l, EG_ISTIO_RESPONSE_FLAGS, eg_str_c(flags));
	eg_telemetry_http(pw->px->tel, pw->idx, &l, (double)dur, ex->bytes_received, ex->bytes_sent);
}

void log_tcp(struct dconn *d, struct tcpx *tx, uint64_t rx, uint64_t txb)
{
	struct pworker *pw = d->pw;
	const struct pconf *pc = d->pc;
	uint64_t now = eg_loop_now(pw->loop);
	char dl[EG_NET_ADDR_STRLEN], dr[EG_NET_ADDR_STRLEN], flags[128];
	struct eg_metrics_labels l = pc->base;
	struct eg_buf fb = EG_BUF_INIT(sizeof(flags) - 1);
	struct eg_str host = tx->sni[0] ? eg_str_c(tx->sni) : eg_str_c(d->thost);
	struct eg_net_addr local;

	if (tx->flags == 0) {
		memcpy(flags, "-", 2);
	} else {
		eg_accesslog_flags_format(tx->flags, false, &fb);
		snprintf(flags, sizeof(flags), "%s", eg_buf_cstr(&fb));
		eg_buf_done(&fb);
	}
	if (pc->fmt && pw->px->writer) {
		struct eg_accesslog_entry e;

		eg_accesslog_entry_init(&e);
		e.start = tx->start_rt;
		e.response_flags = tx->flags;
		e.connection_termination_details = eg_str_c(tx->details);
		e.bytes_received = rx;
		e.bytes_sent = txb;
		e.duration_ms = (int64_t)(now - tx->start_ms);
		e.upstream_host = eg_str_c(tx->uhost[0] ? tx->uhost : NULL);
		e.upstream_cluster = eg_str_c(tx->cluster_name);
		e.upstream_local_address = eg_str_c(tx->ulocal[0] ? tx->ulocal : NULL);
		d_local(d, &local);
		e.downstream_local_address = addr_str(d->orig.len ? &d->orig : &local, dl, sizeof(dl));
		e.downstream_remote_address = addr_str(&d->peer, dr, sizeof(dr));
		e.requested_server_name = eg_str_c(tx->sni[0] ? tx->sni : NULL);
		e.authority = d->thost ? eg_str_c(d->thost) : (struct eg_str){ NULL, 0 };
		eg_accesslog_writer_log(pw->px->writer, pw->idx, pc->fmt, &e);
	}
	labels_dest(&l, pc, tx->cl, tx->cluster_name, host);
	eg_metrics_labels_set(&l, EG_ISTIO_REQUEST_PROTOCOL, EG_STR("tcp"));
	eg_metrics_labels_set(&l, EG_ISTIO_RESPONSE_FLAGS, eg_str_c(flags));
	eg_telemetry_tcp_open(pw->px->tel, pw->idx, &l);
	eg_telemetry_tcp_close(pw->px->tel, pw->idx, &l, txb, rx);
}
