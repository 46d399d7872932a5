/* tests/unit/test_telemetry_admin.c: Istio's metrics and egressd's process metrics as
 * exposed, and the admin router (readiness, stats, logging, config_dump, listeners). */
#include "../../src/telemetry/admin.c"
#include "../../src/telemetry/istio.c"

#include "eg_test.h"

/* all labels "unknown" but the ones set */
static const char http_labels[] =
        "reporter=\"source\",source_workload=\"sleep\",source_workload_namespace=\"default\","
        "source_principal=\"unknown\",source_app=\"sleep\",source_version=\"unknown\","
        "destination_workload=\"unknown\",destination_workload_namespace=\"unknown\","
        "destination_principal=\"unknown\",destination_app=\"unknown\","
        "destination_version=\"unknown\",destination_service=\"edition.cnn.com\","
        "destination_service_name=\"edition.cnn.com\",destination_service_namespace=\"unknown\","
        "request_protocol=\"http\",response_code=\"200\",grpc_response_status=\"unknown\","
        "connection_security_policy=\"unknown\",response_flags=\"-\","
        "source_canonical_service=\"unknown\",source_canonical_revision=\"unknown\","
        "destination_canonical_service=\"unknown\",destination_canonical_revision=\"unknown\","
        "source_cluster=\"unknown\",destination_cluster=\"unknown\"";

static const char tcp_labels[] =
        "reporter=\"source\",source_workload=\"sleep\",source_workload_namespace=\"default\","
        "source_principal=\"unknown\",source_app=\"sleep\",source_version=\"unknown\","
        "destination_workload=\"unknown\",destination_workload_namespace=\"unknown\","
        "destination_principal=\"unknown\",destination_app=\"unknown\","
        "destination_version=\"unknown\",destination_service=\"unknown\","
        "destination_service_name=\"BlackHoleCluster\",destination_service_namespace=\"unknown\","
        "request_protocol=\"tcp\",connection_security_policy=\"unknown\",response_flags=\"UH\","
        "source_canonical_service=\"unknown\",source_canonical_revision=\"unknown\","
        "destination_canonical_service=\"unknown\",destination_canonical_revision=\"unknown\","
        "source_cluster=\"unknown\",destination_cluster=\"unknown\"";

static void source_labels(struct eg_metrics_labels *l)
{
	eg_telemetry_labels_init(l);
	eg_metrics_labels_set(l, EG_ISTIO_REPORTER, EG_STR("source"));
	eg_metrics_labels_set(l, EG_ISTIO_SOURCE_WORKLOAD, EG_STR("sleep"));
	eg_metrics_labels_set(l, EG_ISTIO_SOURCE_WORKLOAD_NAMESPACE, EG_STR("default"));
	eg_metrics_labels_set(l, EG_ISTIO_SOURCE_APP, EG_STR("sleep"));
	eg_metrics_labels_set(l, EG_ISTIO_RESPONSE_FLAGS, EG_STR("-"));
}

static bool contains_line(const char *text, const char *name, const char *labels, const char *value)
{
	char line[4096];

	snprintf(line, sizeof(line), "\n%s{%s} %s\n", name, labels, value);
	return strstr(text, line) != NULL;
}

EG_TEST(istio_metrics_exposed_with_labels)
{
	struct eg_telemetry *t = NULL;
	struct eg_metrics_labels l;
	struct eg_buf b = EG_BUF_INIT(4 << 20);
	char le[3000];
	const char *text;

	EG_ASSERT_EQ(eg_telemetry_new(2, 0, &t), 0);
	source_labels(&l);
	eg_metrics_labels_set(&l, EG_ISTIO_DESTINATION_SERVICE, EG_STR("edition.cnn.com"));
	eg_metrics_labels_set(&l, EG_ISTIO_DESTINATION_SERVICE_NAME, EG_STR("edition.cnn.com"));
	eg_metrics_labels_set(&l, EG_ISTIO_REQUEST_PROTOCOL, EG_STR("http"));
	eg_metrics_labels_set(&l, EG_ISTIO_RESPONSE_CODE, EG_STR("200"));
	eg_telemetry_http(t, 0, &l, 41, 0, 135);
	eg_telemetry_http(t, 1, &l, 3, 10, 700);
	source_labels(&l);
	eg_metrics_labels_set(&l, EG_ISTIO_DESTINATION_SERVICE_NAME, EG_STR("BlackHoleCluster"));
	eg_metrics_labels_set(&l, EG_ISTIO_REQUEST_PROTOCOL, EG_STR("tcp"));
	eg_metrics_labels_set(&l, EG_ISTIO_RESPONSE_FLAGS, EG_STR("UH"));
	eg_metrics_labels_set(&l, EG_ISTIO_RESPONSE_CODE, EG_STR("0")); /* not a TCP label */
	eg_telemetry_tcp_open(t, 1, &l);
	eg_telemetry_tcp_close(t, 1, &l, 4096, 517);
	eg_telemetry_denied(t, 0, EG_STR("evil.example"), EG_STR("REGISTRY_ONLY"));
	eg_telemetry_denied(t, 1, EG_STR("evil.example"), EG_STR("REGISTRY_ONLY"));
	eg_telemetry_reload(t, true, 7);
	eg_telemetry_reload(t, false, 8);
	eg_telemetry_connections(t, 0, 2);
	eg_telemetry_connections(t, 1, -1);
	atomic_store(&eg_telemetry_accesslog_counters(t)->dropped, 5);
	EG_ASSERT_EQ(eg_metrics_prometheus(eg_telemetry_metrics(t), &b), 0);
	text = eg_buf_cstr(&b);
	EG_ASSERT_CONTAINS(text, "# TYPE istio_requests_total counter\n");
	EG_ASSERT_CONTAINS(text, "# TYPE istio_request_duration_milliseconds histogram\n");
	EG_ASSERT_CONTAINS(text, "# TYPE istio_tcp_connections_opened_total counter\n");
	EG_ASSERT(contains_line(text, "istio_requests_total", http_labels, "2"));
	snprintf(le, sizeof(le), "%s,le=\"1\"", http_labels);
	EG_ASSERT(contains_line(text, "istio_request_duration_milliseconds_bucket", le, "0"));
	snprintf(le, sizeof(le), "%s,le=\"5\"", http_labels);
	EG_ASSERT(contains_line(text, "istio_request_duration_milliseconds_bucket", le, "1"));
	snprintf(le, sizeof(le), "%s,le=\"50\"", http_labels);
	EG_ASSERT(contains_line(text, "istio_request_duration_milliseconds_bucket", le, "2"));
	EG_ASSERT(
	        contains_line(text, "istio_request_duration_milliseconds_sum", http_labels, "44"));
	EG_ASSERT(contains_line(text, "istio_request_bytes_sum", http_labels, "10"));
	EG_ASSERT(contains_line(text, "istio_response_bytes_count", http_labels, "2"));
	snprintf(le, sizeof(le), "%s,le=\"1000\"", http_labels);
	EG_ASSERT(contains_line(text, "istio_response_bytes_bucket", le, "2"));
	EG_ASSERT(contains_line(text, "istio_tcp_connections_opened_total", tcp_labels, "1"));
	EG_ASSERT(contains_line(text, "istio_tcp_connections_closed_total", tcp_labels, "1"));
	EG_ASSERT(contains_line(text, "istio_tcp_sent_bytes_total", tcp_labels, "4096"));
	EG_ASSERT(contains_line(text, "istio_tcp_received_bytes_total", tcp_labels, "517"));
	EG_ASSERT_CONTAINS(text, "\negressd_active_connections 1\n");
	EG_ASSERT_CONTAINS(text, "\negressd_snapshot_version 7\n");
	EG_ASSERT_CONTAINS(text, "\negressd_reloads_total{result=\"ok\"} 1\n"
	                         "egressd_reloads_total{result=\"failed\"} 1\n");
	EG_ASSERT_CONTAINS(
	        text, "\negressd_denied_total{host=\"evil.example\",reason=\"REGISTRY_ONLY\"} 2\n");
	EG_ASSERT_CONTAINS(text, "\negressd_access_log_dropped_total 5\n");
	EG_ASSERT_CONTAINS(text, "\negressd_access_log_errors_total 0\n");
	EG_ASSERT_CONTAINS(text, "\negressd_metrics_series_overflow_total 0\n");
	eg_buf_done(&b);
	eg_telemetry_free(t);
}

EG_TEST(istio_deny_hosts_are_bounded)
{
	struct eg_telemetry *t = NULL;
	struct eg_buf b = EG_BUF_INIT(4 << 20);
	char host[64];

	/* max_series 100 -> the deny table holds 100 hosts; a scan of 150 cannot grow it */
	EG_ASSERT_EQ(eg_telemetry_new(1, 100, &t), 0);
	for (int i = 0; i < 150; i++) {
		snprintf(host, sizeof(host), "h%d.example", i);
		eg_telemetry_denied(t, 0, eg_str_c(host), EG_STR("REGISTRY_ONLY"));
	}
	EG_ASSERT_EQ(eg_metrics_schema_count(t->deny), 100);
	EG_ASSERT_EQ(eg_metrics_prometheus(t->m, &b), 0);
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b),
	                   "egressd_denied_total{host=\"overflow\",reason=\"overflow\"} 50\n");
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b), "\negressd_metrics_series_overflow_total 50\n");
	eg_buf_done(&b);
	eg_telemetry_free(t);
}

static int fake_dump(void *ctx, struct eg_buf *out)
{
	return eg_buf_puts(out, ctx);
}

static int failing_dump(void *ctx, struct eg_buf *out)
{
	(void)ctx;
	(void)eg_buf_puts(out, "{partial");
	return -EIO;
}

static int call(enum eg_admin_listener l, const char *path, const char *query,
                struct eg_admin_state *st, struct eg_buf *b)
{
	int status = -1;

	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
	if (eg_admin_handle_on(l, path, query, st, &status, b) < 0)
		return -1;
	return status;
}

EG_TEST(admin_ready_states)
{
	struct eg_admin_state st = {0};
	struct eg_buf b = EG_BUF_INIT(1 << 16);

	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_HEALTH, "/healthz/ready", NULL, &st, &b), 503);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "INITIALIZING\n");
	atomic_store(&st.ready, 1);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_HEALTH, "/healthz/ready", NULL, &st, &b), 200);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "LIVE\n");
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/ready", NULL, &st, &b), 200);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "LIVE\n");
	atomic_store(&st.draining, 1);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_HEALTH, "/healthz/ready", NULL, &st, &b), 503);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "DRAINING\n");
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/ready", NULL, &st, &b), 503);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "DRAINING\n");
	eg_buf_done(&b);
}

EG_TEST(admin_listeners_serve_only_their_endpoints)
{
	struct eg_telemetry *t = NULL;
	struct eg_admin_state st = {0};
	struct eg_buf b = EG_BUF_INIT(4 << 20);

	EG_ASSERT_EQ(eg_telemetry_new(1, 0, &t), 0);
	st.metrics = eg_telemetry_metrics(t);
	st.config_dump = fake_dump;
	st.config_dump_ctx = "{\"configs\":[]}";
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_PROMETHEUS, "/stats/prometheus", NULL, &st, &b), 200);
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b), "# TYPE istio_requests_total counter\n");
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_PROMETHEUS, "/config_dump", NULL, &st, &b), 404);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_PROMETHEUS, "/logging", "level=debug", &st, &b), 404);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_HEALTH, "/stats/prometheus", NULL, &st, &b), 404);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_HEALTH, "/config_dump", NULL, &st, &b), 404);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_HEALTH, "/stats", NULL, &st, &b), 404);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "not found: /stats\n");
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/config_dump", NULL, &st, &b), 200);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "{\"configs\":[]}");
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/stats/prometheus", NULL, &st, &b), 200);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/nope", NULL, &st, &b), 404);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/", NULL, &st, &b), 200);
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b), "/config_dump");
	EG_ASSERT_STR_EQ(eg_admin_content_type("/stats/prometheus"),
	                 "text/plain; version=0.0.4; charset=utf-8");
	EG_ASSERT_STR_EQ(eg_admin_content_type("/config_dump?x=1"), "application/json");
	EG_ASSERT_STR_EQ(eg_admin_content_type("/ready"), "text/plain; charset=utf-8");
	eg_buf_done(&b);
	eg_telemetry_free(t);
}

EG_TEST(admin_stats_filter_and_format)
{
	struct eg_telemetry *t = NULL;
	struct eg_admin_state st = {0};
	struct eg_buf b = EG_BUF_INIT(4 << 20);

	EG_ASSERT_EQ(eg_telemetry_new(1, 0, &t), 0);
	st.metrics = eg_telemetry_metrics(t);
	eg_telemetry_reload(t, true, 3);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/stats",
	                  "filter=%5Eegressd_(snapshot%7Creloads)", &st, &b),
	             200);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "egressd_snapshot_version: 3\n"
	                                  "egressd_reloads_total{result=\"ok\"}: 1\n"
	                                  "egressd_reloads_total{result=\"failed\"}: 0\n");
	/* the target may also come whole */
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/stats?filter=snapshot", NULL, &st, &b), 200);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "egressd_snapshot_version: 3\n");
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/stats", "format=prometheus", &st, &b), 200);
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b), "# TYPE egressd_snapshot_version gauge\n");
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/stats", "format=xml", &st, &b), 400);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/stats", "filter=(", &st, &b), 400);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/stats", "filter=%zz", &st, &b), 400);
	st.metrics = NULL;
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/stats", NULL, &st, &b), 503);
	eg_buf_done(&b);
	eg_telemetry_free(t);
}

EG_TEST(admin_logging_sets_level)
{
	struct eg_admin_state st = {0};
	struct eg_buf b = EG_BUF_INIT(1 << 16);
	enum eg_log_level saved = eg_log_level;

	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/logging", "level=debug", &st, &b), 200);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "level: debug\n");
	EG_ASSERT_EQ(eg_log_level, EG_LOG_DEBUG);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/logging", "x=1&level=warn", &st, &b), 200);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "level: warning\n");
	EG_ASSERT_EQ(eg_log_level, EG_LOG_WARN);
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/logging", NULL, &st, &b), 200);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "level: warning\n");
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/logging", "level=loud", &st, &b), 400);
	EG_ASSERT_CONTAINS(eg_buf_cstr(&b), "invalid level \"loud\"");
	EG_ASSERT_EQ(eg_log_level, EG_LOG_WARN);
	eg_log_level = saved;
	eg_buf_done(&b);
}

EG_TEST(admin_config_dump_absent_or_failing)
{
	struct eg_admin_state st = {0};
	struct eg_buf b = EG_BUF_INIT(1 << 16);

	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/config_dump", NULL, &st, &b), 503);
	st.config_dump = failing_dump;
	EG_ASSERT_EQ(call(EG_ADMIN_LISTENER_ADMIN, "/config_dump", NULL, &st, &b), 500);
	/* the partial dump was taken back */
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "config_dump failed: Input/output error\n");
	eg_buf_done(&b);
}

EG_TEST(admin_body_too_big_is_an_error)
{
	struct eg_telemetry *t = NULL;
	struct eg_admin_state st = {0};
	struct eg_buf b = EG_BUF_INIT(100);
	int status = 0;

	EG_ASSERT_EQ(eg_telemetry_new(1, 0, &t), 0);
	st.metrics = eg_telemetry_metrics(t);
	EG_ASSERT_EQ(eg_admin_handle("/stats/prometheus", NULL, &st, &status, &b), -E2BIG);
	EG_ASSERT_EQ(b.len, 0);
	eg_buf_done(&b);
	eg_telemetry_free(t);
}

EG_TEST(query_param_decoding)
{
	char v[8];

	EG_ASSERT_EQ(query_param("a=1&level=de%62ug", "level", v, sizeof(v)), 1);
	EG_ASSERT_STR_EQ(v, "debug");
	EG_ASSERT_EQ(query_param("levelx=1", "level", v, sizeof(v)), 0);
	EG_ASSERT_EQ(query_param("level", "level", v, sizeof(v)), 1);
	EG_ASSERT_STR_EQ(v, "");
	EG_ASSERT_EQ(query_param("level=a+b", "level", v, sizeof(v)), 1);
	EG_ASSERT_STR_EQ(v, "a b");
	EG_ASSERT_EQ(query_param("level=%00", "level", v, sizeof(v)), -EINVAL);
	EG_ASSERT_EQ(query_param("level=%4", "level", v, sizeof(v)), -EINVAL);
	EG_ASSERT_EQ(query_param("level=123456789", "level", v, sizeof(v)), -E2BIG);
	EG_ASSERT_EQ(query_param(NULL, "level", v, sizeof(v)), 0);
}
