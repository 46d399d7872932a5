/* bench/compile/bench_compile.c: how long compiling one proxy's snapshot takes on a large
 * store, separately from parsing the YAML, and how much memory the compile adds at its
 * peak. Built and run by bench/compile/run (not a test: nothing here fails on a number).
 *
 *   bench_compile DIR [--gateway NS/NAME] [--sidecar NS/SA] [--runs N]
 *
 * Prints one "key value" line per figure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile/compile.h"
#include "ctl/ctl.h"

static double clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Wall time, and this thread's CPU time: on a shared 2-core machine the wall time also
 * counts the time other processes held the CPU, the CPU time does not. */
static double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static double cpu_ms(void)
{
	return clock_ms(CLOCK_THREAD_CPUTIME_ID);
}

/* VmRSS or VmHWM of this process, in KiB (-1 when /proc is not there). */
static long proc_status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Resets VmHWM to the current RSS (Linux >= 4.0): the next peak is the compile's. */
static int reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	int ok;

	if (!f)
		return -1;
	ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int split(const char *arg, char *ns, size_t nl, char *name, size_t ml)
{
	const char *slash = strchr(arg, '/');

	if (!slash || (size_t)(slash - arg) >= nl || strlen(slash + 1) >= ml)
		return -EINVAL;
	snprintf(ns, nl, "%.*s", (int)(slash - arg), arg);
	snprintf(name, ml, "%s", slash + 1);
	return 0;
}

static int measure(const char *what, const struct eg_resource_set *set,
                   const struct eg_proxy_id *who, int runs)
{
	double *t = calloc((size_t)runs, sizeof(double));
	double *cpu = calloc((size_t)runs, sizeof(double));
	double c0;
	struct eg_buf dump = EG_BUF_INIT((size_t)1 << 31);
	long base, peak;
	struct eg_snapshot *s = NULL;
	struct eg_diag d;
	double t0;

	if (!t || !cpu)
		return -ENOMEM;
	/* the first compile, alone, for the memory peak */
	eg_diag_init(&d);
	base = proc_status_kib("VmRSS");
	if (reset_peak() < 0)
		fprintf(stderr, "cannot reset VmHWM: the peak includes parsing\n");
	t0 = now_ms();
	c0 = cpu_ms();
	if (eg_compile(set, who, &s, &d) < 0) {
		fprintf(stderr, "%s", eg_diag_text(&d));
		return -EINVAL;
	}
	cpu[0] = cpu_ms() - c0;
	t[0] = now_ms() - t0;
	peak = proc_status_kib("VmHWM");
	if (d.warnings)
		fprintf(stderr, "%s: %u warnings, first: %.200s\n", what, d.warnings,
		        eg_diag_text(&d));
	eg_diag_done(&d);
	printf("%s_compile_peak_rss_growth_mib %.1f\n", what, (double)(peak - base) / 1024.0);
	printf("%s_listeners %zu\n", what, eg_snapshot_nlisteners(s));
	printf("%s_route_tables %zu\n", what, eg_snapshot_nroute_tables(s));
	printf("%s_clusters %zu\n", what, eg_snapshot_nclusters(s));
	t0 = now_ms();
	if (eg_snapshot_dump_json(s, &dump) == 0)
		printf("%s_dump_bytes %zu\n%s_dump_ms %.2f\n", what, dump.len, what, now_ms() - t0);
	eg_buf_done(&dump);
	t0 = now_ms();
	s = eg_snapshot_unref(s);
	printf("%s_free_ms %.2f\n", what, now_ms() - t0);
	for (int i = 1; i < runs; i++) {
		eg_diag_init(&d);
		t0 = now_ms();
		c0 = cpu_ms();
		if (eg_compile(set, who, &s, &d) < 0)
			return -EINVAL;
		cpu[i] = cpu_ms() - c0;
		t[i] = now_ms() - t0;
		s = eg_snapshot_unref(s);
		eg_diag_done(&d);
	}
	qsort(t, (size_t)runs, sizeof(double), cmp_double);
	qsort(cpu, (size_t)runs, sizeof(double), cmp_double);
	printf("%s_compile_wall_ms_min %.2f\n%s_compile_wall_ms_median "
	       "%.2f\n%s_compile_wall_ms_max %.2f\n",
	       what, t[0], what, t[runs / 2], what, t[runs - 1]);
	printf("%s_compile_cpu_ms_min %.2f\n%s_compile_cpu_ms_median %.2f\n%s_compile_cpu_ms_max "
	       "%.2f\n",
	       what, cpu[0], what, cpu[runs / 2], what, cpu[runs - 1]);
	free(t);
	free(cpu);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *gw = "egress-7/gw-7", *sc = NULL;
	char gns[256], gname[256], sns[256], ssa[256];
	int runs = 21;
	struct eg_parse_opts po = {.default_ns = "default"};
	struct eg_resource_set set;
	struct eg_diag d;
	double t0, c0;
	long rss0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--gateway") == 0 && i + 1 < argc)
			gw = argv[++i];
		else if (strcmp(argv[i], "--sidecar") == 0 && i + 1 < argc)
			sc = argv[++i];
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else if (!dir && argv[i][0] != '-')
			dir = argv[i];
		else
			dir = NULL, i = argc;
	}
	if (!dir || runs < 1 || runs > 1000 ||
	    split(gw, gns, sizeof(gns), gname, sizeof(gname)) < 0 ||
	    (sc && split(sc, sns, sizeof(sns), ssa, sizeof(ssa)) < 0)) {
		fprintf(stderr, "usage: bench_compile DIR [--gateway NS/NAME] [--sidecar NS/SA] "
		                "[--runs N]\n");
		return 2;
	}
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	rss0 = proc_status_kib("VmRSS");
	t0 = now_ms();
	c0 = cpu_ms();
	if (eg_ctl_read_inputs((const char *const *)&dir, 1, &po, &set, &d) < 0) {
		fprintf(stderr, "%.2000s", eg_diag_text(&d));
		return 1;
	}
	printf("objects %zu\n", set.n);
	printf("parse_wall_ms %.1f\nparse_cpu_ms %.1f\n", now_ms() - t0, cpu_ms() - c0);
	printf("parsed_rss_mib %.1f\n", (double)(proc_status_kib("VmRSS") - rss0) / 1024.0);
	eg_diag_done(&d);
	{
		struct eg_proxy_id who = {.role = EG_ROLE_GATEWAY, .ns = gns, .name = gname};

		if (measure("gateway", &set, &who, runs) < 0)
			return 1;
	}
	if (sc) {
		struct eg_proxy_id who = {
		        .role = EG_ROLE_SIDECAR, .ns = sns, .service_account = ssa};

		if (measure("sidecar", &set, &who, runs < 5 ? runs : 5) < 0)
			return 1;
	}
	printf("process_peak_rss_mib %.1f\n", (double)proc_status_kib("VmHWM") / 1024.0);
	eg_resource_set_done(&set);
	return 0;
}
