/* src/telemetry/istio.c: Istio's standard metrics (SPEC §3.2) and egressd's process metrics,
 * registered in one registry that the admin endpoints expose. */
#include <errno.h>
#include <stdlib.h>

#include "core/compiler.h"
#include "telemetry/telemetry.h"

static const char *const istio_labels[_EG_ISTIO_LABEL_MAX] = {
        [EG_ISTIO_REPORTER] = "reporter",
        [EG_ISTIO_SOURCE_WORKLOAD] = "source_workload",
        [EG_ISTIO_SOURCE_WORKLOAD_NAMESPACE] = "source_workload_namespace",
        [EG_ISTIO_SOURCE_PRINCIPAL] = "source_principal",
        [EG_ISTIO_SOURCE_APP] = "source_app",
        [EG_ISTIO_SOURCE_VERSION] = "source_version",
        [EG_ISTIO_DESTINATION_WORKLOAD] = "destination_workload",
        [EG_ISTIO_DESTINATION_WORKLOAD_NAMESPACE] = "destination_workload_namespace",
        [EG_ISTIO_DESTINATION_PRINCIPAL] = "destination_principal",
        [EG_ISTIO_DESTINATION_APP] = "destination_app",
        [EG_ISTIO_DESTINATION_VERSION] = "destination_version",
        [EG_ISTIO_DESTINATION_SERVICE] = "destination_service",
        [EG_ISTIO_DESTINATION_SERVICE_NAME] = "destination_service_name",
        [EG_ISTIO_DESTINATION_SERVICE_NAMESPACE] = "destination_service_namespace",
        [EG_ISTIO_REQUEST_PROTOCOL] = "request_protocol",
        [EG_ISTIO_RESPONSE_CODE] = "response_code",
        [EG_ISTIO_GRPC_RESPONSE_STATUS] = "grpc_response_status",
        [EG_ISTIO_CONNECTION_SECURITY_POLICY] = "connection_security_policy",
        [EG_ISTIO_RESPONSE_FLAGS] = "response_flags",
        [EG_ISTIO_SOURCE_CANONICAL_SERVICE] = "source_canonical_service",
        [EG_ISTIO_SOURCE_CANONICAL_REVISION] = "source_canonical_revision",
        [EG_ISTIO_DESTINATION_CANONICAL_SERVICE] = "destination_canonical_service",
        [EG_ISTIO_DESTINATION_CANONICAL_REVISION] = "destination_canonical_revision",
        [EG_ISTIO_SOURCE_CLUSTER] = "source_cluster",
        [EG_ISTIO_DESTINATION_CLUSTER] = "destination_cluster",
};

#define TCP_LABELS (_EG_ISTIO_LABEL_MAX - 2)

struct eg_telemetry {
	struct eg_metrics *m;
	struct eg_metrics_schema *http, *tcp, *deny, *reload;
	struct eg_metrics_family *requests, *duration, *req_bytes, *resp_bytes;
	struct eg_metrics_family *tcp_opened, *tcp_closed, *tcp_sent, *tcp_received;
	struct eg_metrics_family *active, *version, *reloads, *denied;
	uint32_t reload_ok, reload_failed;
	struct eg_accesslog_counters alog;
};

const char *eg_istio_label_name(enum eg_istio_label l)
{
	return (unsigned)l < _EG_ISTIO_LABEL_MAX ? istio_labels[l] : "?";
}

static bool tcp_label(unsigned i)
{
	return i != EG_ISTIO_RESPONSE_CODE && i != EG_ISTIO_GRPC_RESPONSE_STATUS;
}

static int64_t read_dropped(const void *ctx)
{
	const struct eg_telemetry *t = ctx;

	return (int64_t)atomic_load_explicit(&t->alog.dropped, memory_order_relaxed);
}

static int64_t read_errors(const void *ctx)
{
	const struct eg_telemetry *t = ctx;

	return (int64_t)atomic_load_explicit(&t->alog.errors, memory_order_relaxed);
}

static int64_t read_overflow(const void *ctx)
{
	return (int64_t)eg_metrics_overflowed(ctx);
}

int eg_telemetry_new(unsigned n_workers, unsigned max_series, struct eg_telemetry **ret)
{
	const char *tcp_names[TCP_LABELS];
	static const char *const deny_names[] = {"host", "reason"};
	static const char *const reload_names[] = {"result"};
	const double *b = eg_metrics_istio_buckets;
	const unsigned nb = EG_ARRAY_SIZE(eg_metrics_istio_buckets);
	struct eg_metrics_labels l;
	struct eg_telemetry *t;
	unsigned k = 0;
	int r;

	if (!max_series)
		max_series = EG_METRICS_MAX_SERIES;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (unsigned i = 0; i < _EG_ISTIO_LABEL_MAX; i++)
		if (tcp_label(i))
			tcp_names[k++] = istio_labels[i];
	if ((r = eg_metrics_new(n_workers, &t->m)) < 0 ||
	    (r = eg_metrics_schema_new(t->m, istio_labels, _EG_ISTIO_LABEL_MAX, max_series,
	                               &t->http)) < 0 ||
	    (r = eg_metrics_schema_new(t->m, tcp_names, TCP_LABELS, max_series, &t->tcp)) < 0 ||
	    (r = eg_metrics_schema_new(t->m, deny_names, 2, EG_MAX(max_series / 10, 100u),
	                               &t->deny)) < 0 ||
	    (r = eg_metrics_schema_new(t->m, reload_names, 1, 2, &t->reload)) < 0)
		goto out_free;
	if ((r = eg_metrics_family_new(t->m, t->http, "istio_requests_total",
	                               "Requests handled, by Istio's standard labels.",
	                               EG_METRIC_COUNTER, NULL, 0, &t->requests)) < 0 ||
	    (r = eg_metrics_family_new(t->m, t->http, "istio_request_duration_milliseconds",
	                               "Request duration in milliseconds.", EG_METRIC_HISTOGRAM, b,
	                               nb, &t->duration)) < 0 ||
	    (r = eg_metrics_family_new(t->m, t->http, "istio_request_bytes",
	                               "Request body sizes in bytes.", EG_METRIC_HISTOGRAM, b, nb,
	                               &t->req_bytes)) < 0 ||
	    (r = eg_metrics_family_new(t->m, t->http, "istio_response_bytes",
	                               "Response body sizes in bytes.", EG_METRIC_HISTOGRAM, b, nb,
	                               &t->resp_bytes)) < 0 ||
	    (r = eg_metrics_family_new(t->m, t->tcp, "istio_tcp_connections_opened_total",
	                               "TCP connections opened.", EG_METRIC_COUNTER, NULL, 0,
	                               &t->tcp_opened)) < 0 ||
	    (r = eg_metrics_family_new(t->m, t->tcp, "istio_tcp_connections_closed_total",
	                               "TCP connections closed.", EG_METRIC_COUNTER, NULL, 0,
	                               &t->tcp_closed)) < 0 ||
	    (r = eg_metrics_family_new(t->m, t->tcp, "istio_tcp_sent_bytes_total",
	                               "Bytes sent to the downstream of TCP connections.",
	                               EG_METRIC_COUNTER, NULL, 0, &t->tcp_sent)) < 0 ||
	    (r = eg_metrics_family_new(t->m, t->tcp, "istio_tcp_received_bytes_total",
	                               "Bytes received from the downstream of TCP connections.",
	                               EG_METRIC_COUNTER, NULL, 0, &t->tcp_received)) < 0 ||
	    (r = eg_metrics_family_new(t->m, NULL, "egressd_active_connections",
	                               "Downstream connections open now.", EG_METRIC_GAUGE, NULL, 0,
	                               &t->active)) < 0 ||
	    (r = eg_metrics_family_new(t->m, NULL, "egressd_snapshot_version",
	                               "Version of the configuration snapshot serving traffic.",
	                               EG_METRIC_GAUGE, NULL, 0, &t->version)) < 0 ||
	    (r = eg_metrics_family_new(t->m, t->reload, "egressd_reloads_total",
	                               "Configuration reloads, by result (ok, failed).",
	                               EG_METRIC_COUNTER, NULL, 0, &t->reloads)) < 0 ||
	    (r = eg_metrics_family_new(t->m, t->deny, "egressd_denied_total",
	                               "Requests and connections denied by policy, by host.",
	                               EG_METRIC_COUNTER, NULL, 0, &t->denied)) < 0 ||
	    (r = eg_metrics_callback_new(t->m, "egressd_access_log_dropped_total",
	                                 "Access log lines dropped (a worker's ring was full).",
	                                 EG_METRIC_COUNTER, read_dropped, t)) < 0 ||
	    (r = eg_metrics_callback_new(t->m, "egressd_access_log_errors_total",
	                                 "Access log write errors (their lines are lost).",
	                                 EG_METRIC_COUNTER, read_errors, t)) < 0 ||
	    (r = eg_metrics_callback_new(t->m, "egressd_metrics_series_overflow_total",
	                                 "Label sets refused because a series table was full; "
	                                 "counted in the series whose labels are all \"overflow\".",
	                                 EG_METRIC_COUNTER, read_overflow, t->m)) < 0)
		goto out_free;
	/* both reload results exist from the start, at 0 */
	eg_metrics_labels_init(&l, t->reload);
	eg_metrics_labels_set(&l, 0, EG_STR("ok"));
	t->reload_ok = eg_metrics_series(t->reload, &l);
	eg_metrics_labels_set(&l, 0, EG_STR("failed"));
	t->reload_failed = eg_metrics_series(t->reload, &l);
	if (t->reload_ok == EG_METRICS_OVERFLOW || t->reload_failed == EG_METRICS_OVERFLOW) {
		r = -ENOMEM;
		goto out_free;
	}
	*ret = t;
	return 0;

out_free:
	eg_telemetry_free(t);
	return r;
}

struct eg_telemetry *eg_telemetry_free(struct eg_telemetry *t)
{
	if (!t)
		return NULL;
	eg_metrics_free(t->m);
	free(t);
	return NULL;
}

struct eg_metrics *eg_telemetry_metrics(struct eg_telemetry *t)
{
	return t->m;
}

struct eg_accesslog_counters *eg_telemetry_accesslog_counters(struct eg_telemetry *t)
{
	return &t->alog;
}

void eg_telemetry_labels_init(struct eg_metrics_labels *l)
{
	l->n = _EG_ISTIO_LABEL_MAX;
	for (unsigned i = 0; i < _EG_ISTIO_LABEL_MAX; i++)
		eg_metrics_labels_set(l, i, EG_STR(""));
}

void eg_telemetry_http(struct eg_telemetry *t, unsigned worker, const struct eg_metrics_labels *l,
                       double duration_ms, uint64_t request_bytes, uint64_t response_bytes)
{
	uint32_t id = eg_metrics_series(t->http, l);

	eg_metrics_add(t->requests, worker, id, 1);
	eg_metrics_observe(t->duration, worker, id, duration_ms);
	eg_metrics_observe(t->req_bytes, worker, id, (double)request_bytes);
	eg_metrics_observe(t->resp_bytes, worker, id, (double)response_bytes);
}

/* The TCP label set: the HTTP one without response_code and grpc_response_status. Copies
 * cached hashes, not strings. */
static uint32_t tcp_series(struct eg_telemetry *t, const struct eg_metrics_labels *l)
{
	struct eg_metrics_labels tl;
	unsigned k = 0;

	if (l->n != _EG_ISTIO_LABEL_MAX)
		return eg_metrics_series(t->tcp, l); /* counted as overflow: wrong size */
	tl.n = TCP_LABELS;
	for (unsigned i = 0; i < _EG_ISTIO_LABEL_MAX; i++) {
		if (!tcp_label(i))
			continue;
		tl.v[k] = l->v[i];
		tl.h[k++] = l->h[i];
	}
	return eg_metrics_series(t->tcp, &tl);
}

void eg_telemetry_tcp_open(struct eg_telemetry *t, unsigned worker,
                           const struct eg_metrics_labels *l)
{
	eg_metrics_add(t->tcp_opened, worker, tcp_series(t, l), 1);
}

void eg_telemetry_tcp_close(struct eg_telemetry *t, unsigned worker,
                            const struct eg_metrics_labels *l, uint64_t sent_bytes,
                            uint64_t received_bytes)
{
	uint32_t id = tcp_series(t, l);

	eg_metrics_add(t->tcp_closed, worker, id, 1);
	eg_metrics_add(t->tcp_sent, worker, id, sent_bytes);
	eg_metrics_add(t->tcp_received, worker, id, received_bytes);
}

void eg_telemetry_denied(struct eg_telemetry *t, unsigned worker, struct eg_str host,
                         struct eg_str reason)
{
	struct eg_metrics_labels l;

	l.n = 2;
	eg_metrics_labels_set(&l, 0, host);
	eg_metrics_labels_set(&l, 1, reason);
	eg_metrics_add(t->denied, worker, eg_metrics_series(t->deny, &l), 1);
}

void eg_telemetry_connections(struct eg_telemetry *t, unsigned worker, int delta)
{
	eg_metrics_gauge_add(t->active, worker, 0, delta);
}

void eg_telemetry_reload(struct eg_telemetry *t, bool ok, uint64_t version)
{
	eg_metrics_add(t->reloads, EG_METRICS_SHARED, ok ? t->reload_ok : t->reload_failed, 1);
	if (ok)
		eg_metrics_gauge_set(t->version, 0, (int64_t)version);
}
