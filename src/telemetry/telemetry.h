/* src/telemetry/telemetry.h: access log (Istio TEXT/JSON and user formats, a non-blocking
 * writer), the metrics registry (Istio's standard metrics, egressd_* process metrics,
 * Prometheus exposition) and the bodies of the admin endpoints (15000, 15021, 15090).
 * Pure pieces: no sockets here; the proxy owns the listeners and calls these functions.
 * May include: core, net, http, compile.  Never: model, proxy, policy, ctl.
 * docs/reference/telemetry.md describes the formats and the threading contract. */
#ifndef EG_TELEMETRY_TELEMETRY_H
#define EG_TELEMETRY_TELEMETRY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/buf.h"
#include "core/str.h"

/* ------------------------------------------------------------------------------------------
 * Response flags (SPEC §3.3). One bit each, in Envoy's order: formatting walks the bits from
 * the lowest, so EG_RF_UF | EG_RF_URX prints "UF,URX" exactly as Envoy does.
 */
enum eg_rf {
	EG_RF_LH = 1u << 0,     /* FailedLocalHealthCheck */
	EG_RF_UH = 1u << 1,     /* NoHealthyUpstream */
	EG_RF_UT = 1u << 2,     /* UpstreamRequestTimeout */
	EG_RF_LR = 1u << 3,     /* LocalReset */
	EG_RF_UR = 1u << 4,     /* UpstreamRemoteReset */
	EG_RF_UF = 1u << 5,     /* UpstreamConnectionFailure */
	EG_RF_UC = 1u << 6,     /* UpstreamConnectionTermination */
	EG_RF_UO = 1u << 7,     /* UpstreamOverflow */
	EG_RF_NR = 1u << 8,     /* NoRouteFound */
	EG_RF_DI = 1u << 9,     /* DelayInjected */
	EG_RF_FI = 1u << 10,    /* FaultInjected */
	EG_RF_RL = 1u << 11,    /* RateLimited */
	EG_RF_UAEX = 1u << 12,  /* UnauthorizedExternalService */
	EG_RF_RLSE = 1u << 13,  /* RateLimitServiceError */
	EG_RF_DC = 1u << 14,    /* DownstreamConnectionTermination */
	EG_RF_URX = 1u << 15,   /* UpstreamRetryLimitExceeded */
	EG_RF_SI = 1u << 16,    /* StreamIdleTimeout */
	EG_RF_IH = 1u << 17,    /* InvalidEnvoyRequestHeaders */
	EG_RF_DPE = 1u << 18,   /* DownstreamProtocolError */
	EG_RF_UMSDR = 1u << 19, /* UpstreamMaxStreamDurationReached */
	EG_RF_RFCF = 1u << 20,  /* ResponseFromCacheFilter */
	EG_RF_NFCF = 1u << 21,  /* NoFilterConfigFound */
	EG_RF_DT = 1u << 22,    /* DurationTimeout */
	EG_RF_UPE = 1u << 23,   /* UpstreamProtocolError */
	EG_RF_NC = 1u << 24,    /* NoClusterFound */
	EG_RF_OM = 1u << 25,    /* OverloadManagerTerminated */
	EG_RF_DF = 1u << 26,    /* DnsResolutionFailed */
	EG_RF_DO = 1u << 27,    /* DropOverload */
	EG_RF_DR = 1u << 28,    /* DownstreamRemoteReset */
	EG_RF_UDO = 1u << 29,   /* UnconditionalDropOverload */
};
#define EG_RF_COUNT 30

/* Appends "-" when @flags is 0, else the short (or PascalCase long) names joined by ",".
 * 0, -E2BIG or -ENOMEM. */
int eg_accesslog_flags_format(uint32_t flags, bool long_names, struct eg_buf *out);
/* Parses "-" or "UF,URX" (short names) into bits. 0 or -EINVAL. */
int eg_accesslog_flags_parse(struct eg_str s, uint32_t *ret);

/* ------------------------------------------------------------------------------------------
 * Access log entry: what the proxy knows about one HTTP request or one TCP connection. Every
 * slice is borrowed for the duration of the eg_accesslog_format()/..._log() call only; an
 * empty slice is a missing value and prints "-" (null in JSON). TCP entries leave method,
 * path and protocol empty and response_code 0, which prints Istio's `"- - -" 0 FLAGS ...`.
 */
struct eg_accesslog_header {
	struct eg_str name;
	struct eg_str value;
};

enum eg_accesslog_which {
	EG_ACCESSLOG_REQ,
	EG_ACCESSLOG_RESP,
};

struct eg_accesslog_entry {
	struct timespec start;       /* CLOCK_REALTIME when the request/connection started */
	struct eg_str method;        /* :method */
	struct eg_str path;          /* :path (with the query) */
	struct eg_str original_path; /* x-envoy-original-path: the path before a rewrite */
	struct eg_str protocol;      /* "HTTP/1.1", "HTTP/2"; empty for TCP */
	unsigned response_code;      /* 0: none (TCP, or no response was sent) */
	uint32_t response_flags;     /* EG_RF_* bits */
	struct eg_str response_code_details; /* "via_upstream", "direct_response", ... */
	struct eg_str connection_termination_details;
	struct eg_str upstream_transport_failure_reason;
	uint64_t bytes_received; /* body bytes (HTTP) or payload bytes (TCP) from downstream */
	uint64_t bytes_sent;     /* ... to downstream */
	int64_t duration_ms;     /* < 0: unknown */
	int64_t upstream_service_time_ms; /* RESP(X-ENVOY-UPSTREAM-SERVICE-TIME); < 0: none */
	struct eg_str x_forwarded_for;
	struct eg_str user_agent;
	struct eg_str request_id;
	struct eg_str authority;        /* :authority / Host */
	struct eg_str upstream_host;    /* "151.101.3.5:80" */
	struct eg_str upstream_cluster; /* "outbound|80||edition.cnn.com", "BlackHoleCluster" */
	struct eg_str upstream_local_address; /* the source address bound (egress IP) */
	struct eg_str downstream_local_address;
	struct eg_str downstream_remote_address;
	struct eg_str requested_server_name; /* SNI */
	struct eg_str route_name;            /* "default", "block_all", "allow_any", ... */
	struct eg_str downstream_peer_uri_san;
	struct eg_str deny_reason; /* ours: why policy denied it (%DENY_REASON%) */
	/* Other headers for %REQ(x)%/%RESP(x)% in user formats: @lookup when set (return true
	 * and fill @ret when found; @name is compared case-insensitively by the callee), else
	 * the arrays, searched case-insensitively. */
	const struct eg_accesslog_header *req_headers;
	size_t n_req_headers;
	const struct eg_accesslog_header *resp_headers;
	size_t n_resp_headers;
	bool (*lookup)(const void *ctx, enum eg_accesslog_which which, struct eg_str name,
	               struct eg_str *ret);
	const void *lookup_ctx;
};

/* Zeroes @e and sets the "unknown" sentinels (durations -1). */
void eg_accesslog_entry_init(struct eg_accesslog_entry *e);

/* ------------------------------------------------------------------------------------------
 * Formats. A format is compiled once (config time) into a list of pieces; rendering a line
 * walks the pieces, so a request costs no parsing.
 */
enum eg_accesslog_encoding {
	EG_ACCESSLOG_TEXT,
	EG_ACCESSLOG_JSON,
};

/* Istio's EnvoyTextLogFormat (SPEC §1.7), ending in "\n". */
extern const char eg_accesslog_istio_text[];
/* Istio's default JSON object (SPEC §1.7) as a JSON format spec (keys sorted, as Envoy
 * prints them). */
extern const char eg_accesslog_istio_json[];

struct eg_accesslog_format;

/* Compiles @spec for @enc. NULL or "" selects Istio's default for that encoding. TEXT: an
 * Envoy format string (%COMMAND%, %REQ(X?Y):N%, %RESP(..)%, %START_TIME(fmt)%, %%); a
 * newline is appended when missing, as Istio does. JSON: an object of key -> format string,
 * rendered as one compact JSON object per line; a value that is exactly one command gets
 * Envoy's typed value (number, or null when missing). Returns 0, -EINVAL with a one-line
 * reason in @err (unknown command, bad syntax, ...), -E2BIG (spec too long) or -ENOMEM. */
int eg_accesslog_format_new(enum eg_accesslog_encoding enc, const char *spec,
                            struct eg_accesslog_format **ret, char *err, size_t errlen);
struct eg_accesslog_format *eg_accesslog_format_free(struct eg_accesslog_format *f);
enum eg_accesslog_encoding eg_accesslog_format_encoding(const struct eg_accesslog_format *f);

/* Appends one rendered line (ending in "\n") to @out. 0, -E2BIG or -ENOMEM (then @out is
 * left as it was). Thread-safe: a format is immutable once compiled. */
int eg_accesslog_format(const struct eg_accesslog_format *f, const struct eg_accesslog_entry *e,
                        struct eg_buf *out);

/* ------------------------------------------------------------------------------------------
 * Writer: one single-producer ring of formatted lines per worker, drained by one logger
 * thread that write()s them to the file. A worker never blocks and never takes a lock: when
 * its ring is full the line is dropped and counted. Write errors (EPIPE, ENOSPC, ...) are
 * counted and survived; SIGPIPE never reaches the process from the logger thread.
 */
#define EG_ACCESSLOG_LINE_MAX (64 * 1024) /* longer lines are dropped (and counted) */

struct eg_accesslog_counters {
	_Atomic uint64_t lines;   /* lines written */
	_Atomic uint64_t bytes;   /* bytes written */
	_Atomic uint64_t dropped; /* lines lost: ring full, or longer than EG_ACCESSLOG_LINE_MAX */
	_Atomic uint64_t errors;  /* failed write() calls (their lines are lost) and reopens */
	_Atomic uint64_t wakeups; /* eventfd writes by workers waking the logger */
	_Atomic uint64_t writes;  /* write() calls of batches (one per batch, all rings) */
};

struct eg_accesslog_writer_conf {
	const char *path;  /* appended to (created 0644); "/dev/stdout" and "/dev/stderr" write
	                    * the process's fd 1 or 2; NULL: use @fd */
	int fd;            /* when @path is NULL: written to (dup'ed; never reopened) */
	unsigned n_rings;  /* one per worker thread; 0 means 1 */
	size_t ring_bytes; /* per ring, rounded up to a power of two; 0 means 1 MiB */
	struct eg_accesslog_counters *counters; /* optional: counters that outlive the writer
	                                         * (the telemetry bundle's); NULL: its own */
};

struct eg_accesslog_writer;

/* Opens the output and starts the logger thread. 0, -errno from open(), -EINVAL, -ENOMEM
 * or -errno from pthread_create(). */
int eg_accesslog_writer_new(const struct eg_accesslog_writer_conf *conf,
                            struct eg_accesslog_writer **ret);
/* Drains every ring, stops the thread, closes the file. NULL in, NULL out. */
struct eg_accesslog_writer *eg_accesslog_writer_free(struct eg_accesslog_writer *w);

/* Worker @ring (its own index, < n_rings) queues one line. Never blocks. 0, -ENOBUFS (ring
 * full: dropped and counted) or -E2BIG (too long: dropped and counted). */
int eg_accesslog_writer_push(struct eg_accesslog_writer *w, unsigned ring, const char *line,
                             size_t len);
/* Renders @e with @f into the ring's own scratch buffer and queues it (same returns). */
int eg_accesslog_writer_log(struct eg_accesslog_writer *w, unsigned ring,
                            const struct eg_accesslog_format *f,
                            const struct eg_accesslog_entry *e);
/* Asks the logger to reopen the path (log rotation, SIGHUP). Async-signal-safe. */
void eg_accesslog_writer_reopen(struct eg_accesslog_writer *w);
/* Waits until every line queued before the call was written (or failed). 0 or -ETIMEDOUT. */
int eg_accesslog_writer_flush(struct eg_accesslog_writer *w, int timeout_ms);
const struct eg_accesslog_counters *
eg_accesslog_writer_counters(const struct eg_accesslog_writer *w);

/* ------------------------------------------------------------------------------------------
 * Metrics registry. A schema is a list of label names and the table of its distinct label
 * sets ("series", ids from 1; id 0 is the schema's overflow series once max_series is
 * reached). Families (counter, gauge, histogram) of one schema share its series ids, so one
 * lookup serves every family of a request. Each family keeps one cell array per shard:
 * worker @shard (< n_shards) updates its own cells with plain relaxed loads and stores (no
 * lock, no read-modify-write); any other thread passes EG_METRICS_SHARED, whose cells are
 * updated atomically. A scrape sums the shards.
 */
#define EG_METRICS_MAX_LABELS 32
#define EG_METRICS_VALUE_MAX  256         /* label value bytes kept (longer ones are cut) */
#define EG_METRICS_MAX_SERIES 10000       /* default bound of a schema */
#define EG_METRICS_SHARED     0xffffffffu /* shard of threads that are not workers */
#define EG_METRICS_OVERFLOW   0u          /* series id of a schema's overflow series */

enum eg_metric_type {
	EG_METRIC_COUNTER,
	EG_METRIC_GAUGE,
	EG_METRIC_HISTOGRAM,
};

struct eg_metrics;
struct eg_metrics_schema;
struct eg_metrics_family;

/* Label values for one schema, with each value's hash cached, so a caller can fill the
 * stable labels once (per route, per connection) and change one or two per request: the
 * series key is then a fold of cached hashes, not a string operation. */
struct eg_metrics_labels {
	unsigned n;
	struct eg_str v[EG_METRICS_MAX_LABELS];
	uint64_t h[EG_METRICS_MAX_LABELS];
};

/* Envoy's default histogram buckets, which Istio's histograms use. */
extern const double eg_metrics_istio_buckets[19];

int eg_metrics_new(unsigned n_shards, struct eg_metrics **ret);
struct eg_metrics *eg_metrics_free(struct eg_metrics *m);
unsigned eg_metrics_shards(const struct eg_metrics *m);

/* Registration happens before the workers use the registry (not on the hot path). Names
 * must match [a-zA-Z_:][a-zA-Z0-9_:]* and be unique; label names [a-zA-Z_][a-zA-Z0-9_]*.
 * 0, -EINVAL, -EEXIST or -ENOMEM. */
int eg_metrics_schema_new(struct eg_metrics *m, const char *const *label_names, unsigned n,
                          unsigned max_series, struct eg_metrics_schema **ret);
/* @s NULL: a family without labels (its only series is id 0). @bounds: the strictly
 * increasing upper bounds of a histogram (le), +Inf implied. */
int eg_metrics_family_new(struct eg_metrics *m, struct eg_metrics_schema *s, const char *name,
                          const char *help, enum eg_metric_type type, const double *bounds,
                          unsigned n_bounds, struct eg_metrics_family **ret);
/* A family without labels whose value is read from @fn (thread-safe) at scrape time. */
int eg_metrics_callback_new(struct eg_metrics *m, const char *name, const char *help,
                            enum eg_metric_type type, int64_t (*fn)(const void *ctx),
                            const void *ctx);

/* Sets @l to @s's label count with every value "unknown" (Istio's missing value). */
void eg_metrics_labels_init(struct eg_metrics_labels *l, const struct eg_metrics_schema *s);
/* Sets value @i (empty -> "unknown"; cut to EG_METRICS_VALUE_MAX). @v must stay valid until
 * the eg_metrics_series() call that uses @l. */
void eg_metrics_labels_set(struct eg_metrics_labels *l, unsigned i, struct eg_str v);
/* The series id of @l in @s, created on first use (values copied). Lock-free when the
 * series exists; a mutex only on creation. Returns EG_METRICS_OVERFLOW (and counts) when
 * the schema is full or memory is short. Never fails otherwise. */
uint32_t eg_metrics_series(struct eg_metrics_schema *s, const struct eg_metrics_labels *l);
unsigned eg_metrics_schema_count(const struct eg_metrics_schema *s); /* series created */
uint64_t eg_metrics_overflowed(const struct eg_metrics *m); /* refused label sets, all schemas */

void eg_metrics_add(struct eg_metrics_family *f, unsigned shard, uint32_t series, uint64_t v);
void eg_metrics_gauge_add(struct eg_metrics_family *f, unsigned shard, uint32_t series,
                          int64_t delta);
/* A gauge's value is its set value plus every shard's deltas: use set or add, not both. */
void eg_metrics_gauge_set(struct eg_metrics_family *f, uint32_t series, int64_t v);
void eg_metrics_observe(struct eg_metrics_family *f, unsigned shard, uint32_t series, double v);

/* Merged reads (scrape side). */
uint64_t eg_metrics_counter_value(const struct eg_metrics_family *f, uint32_t series);
int64_t eg_metrics_gauge_value(const struct eg_metrics_family *f, uint32_t series);
/* @ret_cumulative: n_bounds + 1 cumulative bucket counts (the last is +Inf = count). */
void eg_metrics_histogram_value(const struct eg_metrics_family *f, uint32_t series,
                                uint64_t *ret_cumulative, double *ret_sum);

/* Prometheus text exposition format 0.0.4 of every family, in registration order. */
int eg_metrics_prometheus(struct eg_metrics *m, struct eg_buf *out);
/* Envoy-style "name{labels}: value" lines (histograms as name_count and name_sum);
 * @filter: a POSIX extended regex matched against "name{labels}", or NULL. 0, -EINVAL (bad
 * regex), -E2BIG or -ENOMEM. */
int eg_metrics_stats(struct eg_metrics *m, const char *filter, struct eg_buf *out);

/* ------------------------------------------------------------------------------------------
 * Istio's standard metrics and egressd's process metrics, registered together.
 */
enum eg_istio_label {
	EG_ISTIO_REPORTER,
	EG_ISTIO_SOURCE_WORKLOAD,
	EG_ISTIO_SOURCE_WORKLOAD_NAMESPACE,
	EG_ISTIO_SOURCE_PRINCIPAL,
	EG_ISTIO_SOURCE_APP,
	EG_ISTIO_SOURCE_VERSION,
	EG_ISTIO_DESTINATION_WORKLOAD,
	EG_ISTIO_DESTINATION_WORKLOAD_NAMESPACE,
	EG_ISTIO_DESTINATION_PRINCIPAL,
	EG_ISTIO_DESTINATION_APP,
	EG_ISTIO_DESTINATION_VERSION,
	EG_ISTIO_DESTINATION_SERVICE,
	EG_ISTIO_DESTINATION_SERVICE_NAME,
	EG_ISTIO_DESTINATION_SERVICE_NAMESPACE,
	EG_ISTIO_REQUEST_PROTOCOL,
	EG_ISTIO_RESPONSE_CODE,        /* HTTP only */
	EG_ISTIO_GRPC_RESPONSE_STATUS, /* HTTP only */
	EG_ISTIO_CONNECTION_SECURITY_POLICY,
	EG_ISTIO_RESPONSE_FLAGS,
	EG_ISTIO_SOURCE_CANONICAL_SERVICE,
	EG_ISTIO_SOURCE_CANONICAL_REVISION,
	EG_ISTIO_DESTINATION_CANONICAL_SERVICE,
	EG_ISTIO_DESTINATION_CANONICAL_REVISION,
	EG_ISTIO_SOURCE_CLUSTER,
	EG_ISTIO_DESTINATION_CLUSTER,
	_EG_ISTIO_LABEL_MAX,
};

/* Prometheus name of label @l. */
const char *eg_istio_label_name(enum eg_istio_label l);

struct eg_telemetry;

/* Creates the registry (@n_workers shards) with istio_* and egressd_* families. Istio's
 * HTTP and TCP schemas are bounded by @max_series each (0: EG_METRICS_MAX_SERIES), the
 * deny schema (host, reason) by a tenth of it. 0 or -ENOMEM. */
int eg_telemetry_new(unsigned n_workers, unsigned max_series, struct eg_telemetry **ret);
struct eg_telemetry *eg_telemetry_free(struct eg_telemetry *t);
struct eg_metrics *eg_telemetry_metrics(struct eg_telemetry *t);
/* Counters for eg_accesslog_writer_conf.counters, exposed as
 * egressd_access_log_{dropped,errors}_total. */
struct eg_accesslog_counters *eg_telemetry_accesslog_counters(struct eg_telemetry *t);

/* @l holds _EG_ISTIO_LABEL_MAX values (eg_telemetry_labels_init, then set). */
void eg_telemetry_labels_init(struct eg_metrics_labels *l);
/* One finished HTTP request: istio_requests_total, istio_request_duration_milliseconds,
 * istio_request_bytes, istio_response_bytes. */
void eg_telemetry_http(struct eg_telemetry *t, unsigned worker, const struct eg_metrics_labels *l,
                       double duration_ms, uint64_t request_bytes, uint64_t response_bytes);
/* TCP connection opened / closed (response_code and grpc_response_status are not TCP
 * labels and are ignored). Bytes are counted at close. */
void eg_telemetry_tcp_open(struct eg_telemetry *t, unsigned worker,
                           const struct eg_metrics_labels *l);
void eg_telemetry_tcp_close(struct eg_telemetry *t, unsigned worker,
                            const struct eg_metrics_labels *l, uint64_t sent_bytes,
                            uint64_t received_bytes);
/* egressd_denied_total{host,reason}. */
void eg_telemetry_denied(struct eg_telemetry *t, unsigned worker, struct eg_str host,
                         struct eg_str reason);
/* egressd_active_connections += @delta (worker shard). */
void eg_telemetry_connections(struct eg_telemetry *t, unsigned worker, int delta);
/* egressd_reloads_total{result="ok"|"failed"}; on success egressd_snapshot_version = @version.
 * Any thread. */
void eg_telemetry_reload(struct eg_telemetry *t, bool ok, uint64_t version);

/* ------------------------------------------------------------------------------------------
 * Admin endpoints. The proxy accepts on its admin listeners, parses the request and calls
 * eg_admin_handle_on() with the path and the query (the part after '?', or NULL); it
 * answers with *ret_status, eg_admin_content_type() and the body appended to @out.
 */
enum eg_admin_listener {
	EG_ADMIN_LISTENER_ADMIN,      /* 15000 (127.0.0.1): every endpoint */
	EG_ADMIN_LISTENER_HEALTH,     /* 15021: /healthz/ready */
	EG_ADMIN_LISTENER_PROMETHEUS, /* 15090: /stats/prometheus */
};

struct eg_admin_state {
	atomic_int ready;    /* 1 once a snapshot is serving */
	atomic_int draining; /* 1 once SIGTERM started the drain */
	struct eg_metrics *metrics;
	/* /config_dump: appends the current snapshot's JSON dump to @out; 0 or -errno. NULL
	 * answers 503. Called on the admin thread. */
	int (*config_dump)(void *ctx, struct eg_buf *out);
	void *config_dump_ctx;
};

/* Routes one admin request. Endpoints: /ready and /healthz/ready (200 "LIVE", 503
 * "DRAINING" or "INITIALIZING"), /stats/prometheus, /stats[?filter=RE][&format=prometheus],
 * /logging[?level=L] (sets eg_log_level, answers the level), /config_dump, / (help).
 * Unknown paths and endpoints not served on @l answer 404. Returns 0 with *ret_status set,
 * or -ENOMEM/-E2BIG when @out could not hold the body (answer 500). */
int eg_admin_handle_on(enum eg_admin_listener l, const char *path, const char *query,
                       struct eg_admin_state *state, int *ret_status, struct eg_buf *out);
/* eg_admin_handle_on(EG_ADMIN_LISTENER_ADMIN, ...). */
int eg_admin_handle(const char *path, const char *query, struct eg_admin_state *state,
                    int *ret_status, struct eg_buf *out);
/* Content-Type for the answer of @path. */
const char *eg_admin_content_type(const char *path);

#endif /* EG_TELEMETRY_TELEMETRY_H */
