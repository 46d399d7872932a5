/* tests/unit/test_telemetry_writer.c: the access log writer: lines reach the file in order,
 * a full ring drops and counts, a closed pipe and a full disk are counted and survived,
 * reopen follows a rotated file. */
#include "../../src/telemetry/logwriter.c"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include "eg_test.h"

static char tmpdir[64];

static void make_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/eg-telemetry-XXXXXX");
		if (!mkdtemp(tmpdir))
			EG_FAIL("mkdtemp: %s", strerror(errno));
	}
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	if (fread(data, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	data[n] = '\0';
	fclose(f);
	*ret_len = (size_t)n;
	return data;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

EG_TEST(writer_writes_lines_to_file)
{
	struct eg_accesslog_writer_conf conf = {0};
	struct eg_accesslog_writer *w = NULL;
	char path[128], line[64];
	size_t len;
	char *data;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/basic.log", tmpdir);
	conf.path = path;
	conf.n_rings = 2;
	EG_ASSERT_EQ(eg_accesslog_writer_new(&conf, &w), 0);
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(line, sizeof(line), "line %d from ring %d\n", i, i % 2);

		EG_ASSERT_EQ(eg_accesslog_writer_push(w, (unsigned)i % 2, line, (size_t)n), 0);
	}
	EG_ASSERT_EQ(eg_accesslog_writer_flush(w, 5000), 0);
	EG_ASSERT_EQ(atomic_load(&eg_accesslog_writer_counters(w)->lines), 1000);
	EG_ASSERT_EQ(atomic_load(&eg_accesslog_writer_counters(w)->dropped), 0);
	EG_ASSERT_EQ(atomic_load(&eg_accesslog_writer_counters(w)->errors), 0);
	w = eg_accesslog_writer_free(w);
	EG_ASSERT(w == NULL);
	data = slurp(path, &len);
	EG_ASSERT(data != NULL);
	EG_ASSERT_EQ(count_lines(data), 1000);
	EG_ASSERT_CONTAINS(data, "line 0 from ring 0\n");
	EG_ASSERT_CONTAINS(data, "line 999 from ring 1\n");
	free(data);
	unlink(path);
}

EG_TEST(writer_log_renders_with_format)
{
	struct eg_accesslog_writer_conf conf = {0};
	struct eg_accesslog_writer *w = NULL;
	struct eg_accesslog_format *f = NULL;
	struct eg_accesslog_entry e;
	char path[128];
	size_t len;
	char *data;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/fmt.log", tmpdir);
	conf.path = path;
	EG_ASSERT_EQ(eg_accesslog_format_new(EG_ACCESSLOG_TEXT,
	                                     "%UPSTREAM_CLUSTER% %RESPONSE_FLAGS%", &f, NULL, 0),
	             0);
	EG_ASSERT_EQ(eg_accesslog_writer_new(&conf, &w), 0);
	eg_accesslog_entry_init(&e);
	e.upstream_cluster = EG_STR("BlackHoleCluster");
	e.response_flags = EG_RF_UH;
	EG_ASSERT_EQ(eg_accesslog_writer_log(w, 0, f, &e), 0);
	eg_accesslog_writer_free(w);
	data = slurp(path, &len);
	EG_ASSERT_STR_EQ(data, "BlackHoleCluster UH\n");
	free(data);
	eg_accesslog_format_free(f);
	unlink(path);
}

EG_TEST(writer_full_ring_drops_and_counts)
{
	struct eg_accesslog_writer_conf conf = {0};
	struct eg_accesslog_writer *w = NULL;
	char line[100], buf[65536];
	int p[2], accepted = 0, dropped = 0;
	uint64_t got = 0;

	/* Nobody reads the pipe: the logger blocks in write() once the pipe is full, so the
	 * 4 KiB ring fills and further lines must be dropped, never block this thread. */
	EG_ASSERT_EQ(pipe(p), 0);
	(void)fcntl(p[1], F_SETPIPE_SZ, 4096);
	conf.fd = p[1];
	conf.ring_bytes = 4096;
	EG_ASSERT_EQ(eg_accesslog_writer_new(&conf, &w), 0);
	EG_ASSERT_EQ(w->cap, 4096);
	memset(line, 'x', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	for (int i = 0; i < 20000; i++) {
		int r = eg_accesslog_writer_push(w, 0, line, sizeof(line));

		if (r == 0)
			accepted++;
		else if (r == -ENOBUFS)
			dropped++;
		else
			EG_FAIL("push returned %d", r);
	}
	EG_ASSERT(dropped > 0);
	EG_ASSERT_EQ(atomic_load(&eg_accesslog_writer_counters(w)->dropped), (uint64_t)dropped);
	/* now drain the pipe: every accepted line arrives, whole */
	(void)fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (int spins = 0; spins < 5000 && got < (uint64_t)accepted * sizeof(line); spins++) {
		ssize_t n = read(p[0], buf, sizeof(buf));

		if (n > 0)
			got += (uint64_t)n;
		else
			(void)poll(NULL, 0, 1);
	}
	EG_ASSERT_EQ(got, (uint64_t)accepted * sizeof(line));
	EG_ASSERT_EQ(eg_accesslog_writer_flush(w, 5000), 0);
	EG_ASSERT_EQ(atomic_load(&eg_accesslog_writer_counters(w)->lines), (uint64_t)accepted);
	/* an over-long line is refused and counted too */
	EG_ASSERT_EQ(eg_accesslog_writer_push(w, 0, buf, EG_ACCESSLOG_LINE_MAX + 1), -E2BIG);
	EG_ASSERT_EQ(atomic_load(&eg_accesslog_writer_counters(w)->dropped), (uint64_t)dropped + 1);
	eg_accesslog_writer_free(w);
	close(p[0]);
	close(p[1]);
}

EG_TEST(writer_survives_closed_pipe)
{
	struct eg_accesslog_writer_conf conf = {0};
	struct eg_accesslog_counters ctr = {0};
	struct eg_accesslog_writer *w = NULL;
	struct sigaction sa;
	sigset_t pending;
	int p[2];

	/* SIGPIPE keeps its default action (terminate): the writer must not let it fire */
	EG_ASSERT_EQ(sigaction(SIGPIPE, NULL, &sa), 0);
	EG_ASSERT(sa.sa_handler == SIG_DFL);
	EG_ASSERT_EQ(pipe(p), 0);
	close(p[0]); /* the reader is gone */
	conf.fd = p[1];
	conf.counters = &ctr;
	EG_ASSERT_EQ(eg_accesslog_writer_new(&conf, &w), 0);
	close(p[1]); /* the writer holds its own dup */
	EG_ASSERT_EQ(eg_accesslog_writer_push(w, 0, "one\n", 4), 0);
	EG_ASSERT_EQ(eg_accesslog_writer_flush(w, 5000), 0);
	EG_ASSERT(atomic_load(&ctr.errors) >= 1);
	/* it keeps going: later lines fail and are counted as well */
	EG_ASSERT_EQ(eg_accesslog_writer_push(w, 0, "two\n", 4), 0);
	EG_ASSERT_EQ(eg_accesslog_writer_flush(w, 5000), 0);
	EG_ASSERT(atomic_load(&ctr.errors) >= 2);
	EG_ASSERT_EQ(atomic_load(&ctr.lines), 0);
	sigemptyset(&pending);
	EG_ASSERT_EQ(sigpending(&pending), 0);
	EG_ASSERT(!sigismember(&pending, SIGPIPE));
	eg_accesslog_writer_free(w);
	/* the counters outlive the writer (the telemetry bundle owns them) */
	EG_ASSERT(atomic_load(&ctr.errors) >= 2);
}

EG_TEST(writer_counts_full_disk)
{
	struct eg_accesslog_writer_conf conf = {0};
	struct eg_accesslog_writer *w = NULL;

	conf.path = "/dev/full"; /* every write fails with ENOSPC */
	EG_ASSERT_EQ(eg_accesslog_writer_new(&conf, &w), 0);
	for (int i = 0; i < 3; i++) {
		EG_ASSERT_EQ(eg_accesslog_writer_push(w, 0, "x\n", 2), 0);
		EG_ASSERT_EQ(eg_accesslog_writer_flush(w, 5000), 0);
	}
	EG_ASSERT_EQ(atomic_load(&eg_accesslog_writer_counters(w)->errors), 3);
	EG_ASSERT_EQ(atomic_load(&eg_accesslog_writer_counters(w)->lines), 0);
	eg_accesslog_writer_free(w);
}

EG_TEST(writer_reopen_follows_rotation)
{
	struct eg_accesslog_writer_conf conf = {0};
	struct eg_accesslog_writer *w = NULL;
	char path[128], rotated[140];
	size_t len;
	char *data;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/rot.log", tmpdir);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	conf.path = path;
	EG_ASSERT_EQ(eg_accesslog_writer_new(&conf, &w), 0);
	EG_ASSERT_EQ(eg_accesslog_writer_push(w, 0, "before\n", 7), 0);
	EG_ASSERT_EQ(eg_accesslog_writer_flush(w, 5000), 0);
	EG_ASSERT_EQ(rename(path, rotated), 0);
	eg_accesslog_writer_reopen(w);
	EG_ASSERT_EQ(eg_accesslog_writer_flush(w, 5000), 0);
	EG_ASSERT_EQ(eg_accesslog_writer_push(w, 0, "after\n", 6), 0);
	eg_accesslog_writer_free(w);
	data = slurp(rotated, &len);
	EG_ASSERT_STR_EQ(data, "before\n");
	free(data);
	data = slurp(path, &len);
	EG_ASSERT_STR_EQ(data, "after\n");
	free(data);
	unlink(path);
	unlink(rotated);
}

EG_TEST(writer_open_failure_and_bad_conf)
{
	struct eg_accesslog_writer_conf conf = {0};
	struct eg_accesslog_writer *w = NULL;

	conf.path = "/nonexistent-dir/x.log";
	EG_ASSERT_EQ(eg_accesslog_writer_new(&conf, &w), -ENOENT);
	conf.path = NULL;
	conf.fd = -1;
	EG_ASSERT_EQ(eg_accesslog_writer_new(&conf, &w), -EINVAL);
	EG_ASSERT(eg_accesslog_writer_free(NULL) == NULL);
}

struct producer {
	struct eg_accesslog_writer *w;
	unsigned ring;
	int n;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	char line[64];

	for (int i = 0; i < p->n; i++) {
		int len = snprintf(line, sizeof(line), "t%u %d\n", p->ring, i);

		while (eg_accesslog_writer_push(p->w, p->ring, line, (size_t)len) == -ENOBUFS)
			(void)poll(NULL, 0, 1); /* test only: wait for room instead of dropping */
	}
	return NULL;
}

EG_TEST(writer_rings_keep_per_worker_order)
{
	struct eg_accesslog_writer_conf conf = {0};
	struct eg_accesslog_writer *w = NULL;
	struct producer prod[4];
	pthread_t th[4];
	int next[4] = {0};
	char path[128], *data, *s;
	size_t len;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/mt.log", tmpdir);
	conf.path = path;
	conf.n_rings = 4;
	conf.ring_bytes = 8192;
	EG_ASSERT_EQ(eg_accesslog_writer_new(&conf, &w), 0);
	for (unsigned i = 0; i < 4; i++) {
		prod[i] = (struct producer){w, i, 20000};
		EG_ASSERT_EQ(pthread_create(&th[i], NULL, produce, &prod[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	EG_ASSERT_EQ(eg_accesslog_writer_flush(w, 10000), 0);
	eg_accesslog_writer_free(w);
	data = slurp(path, &len);
	EG_ASSERT(data != NULL);
	EG_ASSERT_EQ(count_lines(data), 80000);
	/* each worker's lines come out complete and in its order */
	for (s = data; *s;) {
		unsigned t;
		int i;

		if (sscanf(s, "t%u %d\n", &t, &i) != 2 || t > 3)
			EG_FAIL("bad line at offset %zu", (size_t)(s - data));
		if (i != next[t])
			EG_FAIL("ring %u: got %d, expected %d", t, i, next[t]);
		next[t]++;
		s = strchr(s, '\n') + 1;
	}
	free(data);
	unlink(path);
}

EG_TEST(writer_batches_wakeups)
{
	struct eg_accesslog_writer_conf conf = {0};
	struct eg_accesslog_writer *w = NULL;
	const struct eg_accesslog_counters *c;
	struct producer prod[2];
	pthread_t th[2];
	char path[128];
	uint64_t lines, wakeups, writes, dropped;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/wake.log", tmpdir);
	conf.path = path;
	conf.n_rings = 2;
	EG_ASSERT_EQ(eg_accesslog_writer_new(&conf, &w), 0);
	for (unsigned i = 0; i < 2; i++) {
		prod[i] = (struct producer){w, i, 50000};
		EG_ASSERT_EQ(pthread_create(&th[i], NULL, produce, &prod[i]), 0);
	}
	for (unsigned i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	c = eg_accesslog_writer_counters(w);
	/* before flush(), which wakes the logger itself */
	wakeups = atomic_load(&c->wakeups);
	EG_ASSERT_EQ(eg_accesslog_writer_flush(w, 10000), 0);
	lines = atomic_load(&c->lines);
	writes = atomic_load(&c->writes);
	dropped = atomic_load(&c->dropped);
	eg_accesslog_writer_free(w);
	unlink(path);
	EG_ASSERT_EQ(lines, 100000);
	EG_ASSERT_EQ(dropped, 0);
	/* a wake-up (eventfd write) per line was the cost this batching removed */
	if (wakeups * 100 > lines)
		EG_FAIL("%llu wake-ups for %llu lines", (unsigned long long)wakeups,
		        (unsigned long long)lines);
	if (writes * 100 > lines)
		EG_FAIL("%llu write() calls for %llu lines", (unsigned long long)writes,
		        (unsigned long long)lines);
}

static uint64_t wait_lines(const struct eg_accesslog_counters *c, uint64_t want, int max_ms)
{
	for (int i = 0; i < max_ms && atomic_load(&c->lines) < want; i++)
		(void)poll(NULL, 0, 1);
	return atomic_load(&c->lines);
}

EG_TEST(writer_line_appears_without_flush)
{
	struct eg_accesslog_writer_conf conf = {0};
	struct eg_accesslog_writer *w = NULL;
	const struct eg_accesslog_counters *c;
	struct timespec t0, t1;
	char path[128];
	long ms;

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/lat.log", tmpdir);
	conf.path = path;
	EG_ASSERT_EQ(eg_accesslog_writer_new(&conf, &w), 0);
	c = eg_accesslog_writer_counters(w);
	(void)poll(NULL, 0, 20); /* let the logger go idle */
	/* an idle logger is woken by the first line */
	EG_ASSERT_EQ(eg_accesslog_writer_push(w, 0, "a\n", 2), 0);
	EG_ASSERT_EQ(wait_lines(c, 1, 1000), 1);
	EG_ASSERT_EQ(atomic_load(&c->wakeups), 1);
	/* a line queued while it naps after a batch still shows within about NAP_MS */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EG_ASSERT_EQ(eg_accesslog_writer_push(w, 0, "b\n", 2), 0);
	EG_ASSERT_EQ(wait_lines(c, 2, 1000), 2);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (ms > 250)
		EG_FAIL("second line took %ld ms", ms);
	eg_accesslog_writer_free(w);
	unlink(path);
}

__attribute__((destructor)) static void remove_tmpdir(void)
{
	if (tmpdir[0])
		(void)rmdir(tmpdir);
}
