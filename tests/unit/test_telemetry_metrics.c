/* tests/unit/test_telemetry_metrics.c: the registry (shards, series tables and their cap),
 * histogram buckets, the exact Prometheus text, /stats lines, and the Istio bundle. */
#include "../../src/telemetry/metrics.c"

#include <pthread.h>

#include "eg_test.h"

static const char *const two_labels[] = {"method", "code"};

static uint32_t series2(struct eg_metrics_schema *s, const char *a, const char *b)
{
	struct eg_metrics_labels l;

	eg_metrics_labels_init(&l, s);
	eg_metrics_labels_set(&l, 0, eg_str_c(a));
	eg_metrics_labels_set(&l, 1, eg_str_c(b));
	return eg_metrics_series(s, &l);
}

static int64_t forty_two(const void *ctx)
{
	(void)ctx;
	return 42;
}

EG_TEST(exposition_exact_text)
{
	static const double bounds[] = {0.5, 1, 5};
	struct eg_metrics *m = NULL;
	struct eg_metrics_schema *s = NULL;
	struct eg_metrics_family *req = NULL, *temp = NULL, *lat = NULL;
	struct eg_buf b = EG_BUF_INIT(1 << 20);
	uint32_t get, post;

	EG_ASSERT_EQ(eg_metrics_new(2, &m), 0);
	EG_ASSERT_EQ(eg_metrics_schema_new(m, two_labels, 2, 3, &s), 0);
	EG_ASSERT_EQ(eg_metrics_family_new(m, s, "http_requests_total",
	                                   "Requests.\nSecond line with \\ backslash",
	                                   EG_METRIC_COUNTER, NULL, 0, &req),
	             0);
	EG_ASSERT_EQ(eg_metrics_family_new(m, NULL, "temperature", "Temp.", EG_METRIC_GAUGE, NULL,
	                                   0, &temp),
	             0);
	EG_ASSERT_EQ(eg_metrics_family_new(m, s, "latency_ms", "Latency.", EG_METRIC_HISTOGRAM,
	                                   bounds, 3, &lat),
	             0);
	EG_ASSERT_EQ(eg_metrics_callback_new(m, "uptime_seconds", NULL, EG_METRIC_GAUGE, forty_two,
	                                     NULL),
	             0);
	get = series2(s, "GET", "200");
	post = series2(s, "POST", "a\"b\\c\nd");
	EG_ASSERT_EQ(get, 1);
	EG_ASSERT_EQ(post, 2);
	eg_metrics_add(req, 0, get, 3);
	eg_metrics_add(req, 1, get, 2);
	eg_metrics_add(req, EG_METRICS_SHARED, post, 1);
	eg_metrics_gauge_set(temp, 0, 10);
	eg_metrics_gauge_add(temp, 1, 0, -3);
	eg_metrics_observe(lat, 0, get, 0.5);
	eg_metrics_observe(lat, 0, get, 0.7);
	eg_metrics_observe(lat, 0, get, 5);
	eg_metrics_observe(lat, 0, get, 100);
	EG_ASSERT_EQ(eg_metrics_prometheus(m, &b), 0);
	EG_ASSERT_STR_EQ(
	        eg_buf_cstr(&b),
	        "# HELP http_requests_total Requests.\\nSecond line with \\\\ backslash\n"
	        "# TYPE http_requests_total counter\n"
	        "http_requests_total{method=\"GET\",code=\"200\"} 5\n"
	        "http_requests_total{method=\"POST\",code=\"a\\\"b\\\\c\\nd\"} 1\n"
	        "# HELP temperature Temp.\n"
	        "# TYPE temperature gauge\n"
	        "temperature 7\n"
	        "# HELP latency_ms Latency.\n"
	        "# TYPE latency_ms histogram\n"
	        "latency_ms_bucket{method=\"GET\",code=\"200\",le=\"0.5\"} 1\n"
	        "latency_ms_bucket{method=\"GET\",code=\"200\",le=\"1\"} 2\n"
	        "latency_ms_bucket{method=\"GET\",code=\"200\",le=\"5\"} 3\n"
	        "latency_ms_bucket{method=\"GET\",code=\"200\",le=\"+Inf\"} 4\n"
	        "latency_ms_sum{method=\"GET\",code=\"200\"} 106.2\n"
	        "latency_ms_count{method=\"GET\",code=\"200\"} 4\n"
	        "latency_ms_bucket{method=\"POST\",code=\"a\\\"b\\\\c\\nd\",le=\"0.5\"} 0\n"
	        "latency_ms_bucket{method=\"POST\",code=\"a\\\"b\\\\c\\nd\",le=\"1\"} 0\n"
	        "latency_ms_bucket{method=\"POST\",code=\"a\\\"b\\\\c\\nd\",le=\"5\"} 0\n"
	        "latency_ms_bucket{method=\"POST\",code=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 0\n"
	        "latency_ms_sum{method=\"POST\",code=\"a\\\"b\\\\c\\nd\"} 0\n"
	        "latency_ms_count{method=\"POST\",code=\"a\\\"b\\\\c\\nd\"} 0\n"
	        "# TYPE uptime_seconds gauge\n"
	        "uptime_seconds 42\n");
	/* /stats: Envoy-style lines, filtered by a regex */
	b.len = 0;
	EG_ASSERT_EQ(eg_metrics_stats(m, "GET|^temp", &b), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "http_requests_total{method=\"GET\",code=\"200\"}: 5\n"
	                                  "temperature: 7\n"
	                                  "latency_ms_count{method=\"GET\",code=\"200\"}: 4\n"
	                                  "latency_ms_sum{method=\"GET\",code=\"200\"}: 106.2\n");
	EG_ASSERT_EQ(eg_metrics_stats(m, "(", &b), -EINVAL);
	eg_buf_done(&b);
	eg_metrics_free(m);
}

EG_TEST(histogram_bucket_edges)
{
	struct eg_metrics *m = NULL;
	struct eg_metrics_family *h = NULL;
	uint64_t cum[20];
	double sum;

	EG_ASSERT_EQ(eg_metrics_new(1, &m), 0);
	EG_ASSERT_EQ(eg_metrics_family_new(m, NULL, "d", "", EG_METRIC_HISTOGRAM,
	                                   eg_metrics_istio_buckets, 19, &h),
	             0);
	eg_metrics_observe(h, 0, 0, 0.5);       /* le="0.5" holds 0.5 itself */
	eg_metrics_observe(h, 0, 0, 0.5000001); /* next bucket: le="1" */
	eg_metrics_observe(h, 0, 0, -1);        /* below every bound: first bucket */
	eg_metrics_observe(h, 0, 0, 3600000);   /* last finite bound */
	eg_metrics_observe(h, 0, 0, 3600000.5); /* +Inf only */
	eg_metrics_observe(h, 0, 0, 0.0 / 0.0); /* NaN: ignored */
	eg_metrics_observe(h, 0, 0, 10);        /* le="10" */
	eg_metrics_histogram_value(h, 0, cum, &sum);
	EG_ASSERT_EQ(cum[0], 2);                       /* le 0.5: 0.5, -1 */
	EG_ASSERT_EQ(cum[1], 3);                       /* le 1 */
	EG_ASSERT_EQ(cum[2], 3);                       /* le 5 */
	EG_ASSERT_EQ(cum[3], 4);                       /* le 10 */
	EG_ASSERT_EQ(cum[17], 4);                      /* le 1800000 */
	EG_ASSERT_EQ(cum[18], 5);                      /* le 3600000 */
	EG_ASSERT_EQ(cum[19], 6);                      /* +Inf = count */
	EG_ASSERT(sum > 7200010.4 && sum < 7200010.6); /* NaN left it alone */
	EG_ASSERT_STR_EQ(h->le[18], "3600000");
	EG_ASSERT_STR_EQ(h->le[0], "0.5");
	eg_metrics_free(m);
}

struct worker_arg {
	struct eg_metrics_family *c, *h;
	unsigned shard;
	uint32_t id;
};

static void *hammer(void *arg)
{
	struct worker_arg *a = arg;

	for (int i = 0; i < 100000; i++) {
		eg_metrics_add(a->c, a->shard, a->id, 1);
		eg_metrics_observe(a->h, a->shard, a->id, (double)(i % 7));
	}
	return NULL;
}

static atomic_int scraping;

static void *scraper(void *arg)
{
	struct worker_arg *a = arg;
	uint64_t last = 0;

	while (atomic_load(&scraping)) {
		uint64_t v = eg_metrics_counter_value(a->c, a->id);

		if (v < last) /* a counter read while workers write never goes backwards */
			return (void *)1;
		last = v;
	}
	return NULL;
}

EG_TEST(shards_merge_across_threads)
{
	struct eg_metrics *m = NULL;
	struct eg_metrics_schema *s = NULL;
	struct eg_metrics_family *c = NULL, *h = NULL;
	struct worker_arg args[8], sa;
	pthread_t th[8], sc;
	uint64_t cum[20];
	double sum;
	void *bad = NULL;
	uint32_t id;

	EG_ASSERT_EQ(eg_metrics_new(4, &m), 0);
	EG_ASSERT_EQ(eg_metrics_schema_new(m, two_labels, 2, 0, &s), 0);
	EG_ASSERT_EQ(eg_metrics_family_new(m, s, "c_total", "", EG_METRIC_COUNTER, NULL, 0, &c), 0);
	EG_ASSERT_EQ(eg_metrics_family_new(m, s, "h", "", EG_METRIC_HISTOGRAM,
	                                   eg_metrics_istio_buckets, 19, &h),
	             0);
	id = series2(s, "GET", "200");
	sa = (struct worker_arg){c, h, 0, id};
	atomic_store(&scraping, 1);
	EG_ASSERT_EQ(pthread_create(&sc, NULL, scraper, &sa), 0);
	/* 4 workers on their own shards, and 4 other threads on the shared cells */
	for (unsigned i = 0; i < 8; i++) {
		args[i] = (struct worker_arg){c, h, i < 4 ? i : EG_METRICS_SHARED, id};
		EG_ASSERT_EQ(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
	}
	for (unsigned i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	atomic_store(&scraping, 0);
	pthread_join(sc, &bad);
	EG_ASSERT(bad == NULL);
	EG_ASSERT_EQ(eg_metrics_counter_value(c, id), 800000);
	eg_metrics_histogram_value(h, id, cum, &sum);
	EG_ASSERT_EQ(cum[19], 800000);
	/* i % 7 over 100000: sum per thread = 299995, eight threads */
	EG_ASSERT(sum == 8 * 299995.0);
	EG_ASSERT_EQ(cum[0], 8 * 14286); /* the zeros */
	eg_metrics_free(m);
}

EG_TEST(series_cap_overflow_is_counted)
{
	struct eg_metrics *m = NULL;
	struct eg_metrics_schema *s = NULL;
	struct eg_metrics_family *c = NULL;
	struct eg_buf b = EG_BUF_INIT(1 << 16);

	EG_ASSERT_EQ(eg_metrics_new(1, &m), 0);
	EG_ASSERT_EQ(eg_metrics_schema_new(m, two_labels, 2, 3, &s), 0);
	EG_ASSERT_EQ(eg_metrics_family_new(m, s, "req_total", "", EG_METRIC_COUNTER, NULL, 0, &c),
	             0);
	EG_ASSERT_EQ(series2(s, "a", "1"), 1);
	EG_ASSERT_EQ(series2(s, "b", "1"), 2);
	EG_ASSERT_EQ(series2(s, "c", "1"), 3);
	EG_ASSERT_EQ(series2(s, "d", "1"), EG_METRICS_OVERFLOW);
	EG_ASSERT_EQ(series2(s, "e", "1"), EG_METRICS_OVERFLOW);
	EG_ASSERT_EQ(series2(s, "b", "1"), 2); /* existing ones still resolve */
	EG_ASSERT_EQ(eg_metrics_schema_count(s), 3);
	EG_ASSERT_EQ(eg_metrics_overflowed(m), 2);
	eg_metrics_add(c, 0, series2(s, "f", "1"), 1);
	eg_metrics_add(c, 0, 2, 1);
	EG_ASSERT_EQ(eg_metrics_overflowed(m), 3);
	EG_ASSERT_EQ(eg_metrics_prometheus(m, &b), 0);
	EG_ASSERT_STR_EQ(eg_buf_cstr(&b), "# TYPE req_total counter\n"
	                                  "req_total{method=\"a\",code=\"1\"} 0\n"
	                                  "req_total{method=\"b\",code=\"1\"} 1\n"
	                                  "req_total{method=\"c\",code=\"1\"} 0\n"
	                                  "req_total{method=\"overflow\",code=\"overflow\"} 1\n");
	eg_buf_done(&b);
	eg_metrics_free(m);
}

struct creator {
	struct eg_metrics_schema *s;
	uint32_t ids[500];
};

static void *create_many(void *arg)
{
	struct creator *c = arg;
	char a[32];

	for (int i = 0; i < 500; i++) {
		snprintf(a, sizeof(a), "host-%d", i);
		c->ids[i] = series2(c->s, a, "x");
	}
	return NULL;
}

EG_TEST(series_created_once_under_contention)
{
	struct eg_metrics *m = NULL;
	struct eg_metrics_schema *s = NULL;
	struct creator cr[4];
	pthread_t th[4];

	EG_ASSERT_EQ(eg_metrics_new(4, &m), 0);
	EG_ASSERT_EQ(eg_metrics_schema_new(m, two_labels, 2, 1000, &s), 0);
	for (int i = 0; i < 4; i++) {
		cr[i].s = s;
		EG_ASSERT_EQ(pthread_create(&th[i], NULL, create_many, &cr[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	EG_ASSERT_EQ(eg_metrics_schema_count(s), 500);
	for (int i = 0; i < 500; i++) {
		EG_ASSERT(cr[0].ids[i] != EG_METRICS_OVERFLOW);
		for (int t = 1; t < 4; t++)
			EG_ASSERT_EQ(cr[t].ids[i], cr[0].ids[i]);
	}
	EG_ASSERT_EQ(eg_metrics_overflowed(m), 0);
	eg_metrics_free(m);
}

EG_TEST(labels_unknown_and_cut)
{
	struct eg_metrics *m = NULL;
	struct eg_metrics_schema *s = NULL;
	struct eg_metrics_labels l;
	char big[400];

	memset(big, 'h', sizeof(big));
	EG_ASSERT_EQ(eg_metrics_new(1, &m), 0);
	EG_ASSERT_EQ(eg_metrics_schema_new(m, two_labels, 2, 10, &s), 0);
	eg_metrics_labels_init(&l, s);
	EG_ASSERT_EQ(l.n, 2);
	EG_ASSERT(eg_str_eqc(l.v[0], "unknown"));
	eg_metrics_labels_set(&l, 0, EG_STR(""));
	EG_ASSERT(eg_str_eqc(l.v[0], "unknown"));
	/* "" and "unknown" are the same series */
	EG_ASSERT_EQ(series2(s, "", "x"), series2(s, "unknown", "x"));
	eg_metrics_labels_set(&l, 1, (struct eg_str){big, sizeof(big)});
	EG_ASSERT_EQ(l.v[1].len, EG_METRICS_VALUE_MAX);
	/* a different tail past the cut is the same series */
	big[sizeof(big) - 1] = 'z';
	EG_ASSERT_EQ(eg_metrics_series(s, &l), 2);
	eg_metrics_labels_set(&l, 1, (struct eg_str){big, sizeof(big)});
	EG_ASSERT_EQ(eg_metrics_series(s, &l), 2);
	eg_metrics_free(m);
}

EG_TEST(registration_is_validated)
{
	static const char *const bad_names[] = {"le"};
	static const char *const dup_names[] = {"a", "a"};
	static const char *const digit_names[] = {"1a"};
	static const double unsorted[] = {1, 1};
	struct eg_metrics *m = NULL;
	struct eg_metrics_schema *s = NULL;

	EG_ASSERT_EQ(eg_metrics_new(1, &m), 0);
	EG_ASSERT_EQ(eg_metrics_schema_new(m, bad_names, 1, 10, &s), -EINVAL);
	EG_ASSERT_EQ(eg_metrics_schema_new(m, dup_names, 2, 10, &s), -EINVAL);
	EG_ASSERT_EQ(eg_metrics_schema_new(m, digit_names, 1, 10, &s), -EINVAL);
	EG_ASSERT_EQ(eg_metrics_schema_new(m, two_labels, 0, 10, &s), -EINVAL);
	EG_ASSERT_EQ(eg_metrics_family_new(m, NULL, "x-y", "", EG_METRIC_COUNTER, NULL, 0, NULL),
	             -EINVAL);
	EG_ASSERT_EQ(
	        eg_metrics_family_new(m, NULL, "x", "", EG_METRIC_HISTOGRAM, unsorted, 2, NULL),
	        -EINVAL);
	EG_ASSERT_EQ(eg_metrics_family_new(m, NULL, "x", "", EG_METRIC_COUNTER, NULL, 0, NULL), 0);
	EG_ASSERT_EQ(eg_metrics_family_new(m, NULL, "x", "", EG_METRIC_GAUGE, NULL, 0, NULL),
	             -EEXIST);
	EG_ASSERT_EQ(eg_metrics_callback_new(m, "x", "", EG_METRIC_GAUGE, forty_two, NULL),
	             -EEXIST);
	EG_ASSERT(eg_metrics_free(m) == NULL);
	EG_ASSERT(eg_metrics_free(NULL) == NULL);
}
