/* src/ctl/logs.c: `egressctl logs`: the egressd output (stdout and stderr, which carries
 * the access log when MeshConfig says accessLogFile: /dev/stdout) of local-cluster pods. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/str.h"
#include "ctl/ctl.h"
#include "runtime/runtime.h"
#include "store/store.h"

#define LOGS_MAX_PODS  256
#define FOLLOW_POLL_MS 200

struct logfile {
	char path[PATH_MAX];
	char prefix[320]; /* "[pod/NAME/istio-proxy] " with --prefix */
	off_t off;
	bool gone;
};

/* Where the last @n lines of @fd start (0 for the whole file; n < 0: everything). */
static off_t tail_offset(int fd, long n)
{
	char buf[8192];
	off_t end = lseek(fd, 0, SEEK_END), pos = end;
	long lines = 0;

	if (n < 0 || end <= 0)
		return 0;
	if (n == 0)
		return end;
	while (pos > 0) {
		size_t chunk = (size_t)EG_MIN((off_t)sizeof(buf), pos);
		ssize_t got;

		pos -= (off_t)chunk;
		got = pread(fd, buf, chunk, pos);
		if (got <= 0)
			return 0;
		for (ssize_t i = got - 1; i >= 0; i--) {
			/* the file's last newline ends the last line; it starts no new one */
			if (buf[i] == '\n' && pos + i != end - 1 && ++lines == n)
				return pos + i + 1;
		}
	}
	return 0;
}

/* Copies @f from its offset to its end onto stdout (each line prefixed when asked). */
static void copy_new(struct logfile *f)
{
	char buf[65536];
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	bool at_line_start = true;

	if (fd < 0) {
		f->gone = errno == ENOENT;
		return;
	}
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), f->off);

		if (n <= 0)
			break;
		f->off += n;
		if (!f->prefix[0]) {
			fwrite(buf, 1, (size_t)n, stdout);
			continue;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (at_line_start)
				fputs(f->prefix, stdout);
			putchar(buf[i]);
			at_line_start = buf[i] == '\n';
		}
	}
	(void)close(fd);
	fflush(stdout);
}

#define LOGS_USAGE                                                                                 \
	"logs [-n NS] [-l SELECTOR] [POD|pod/NAME|deploy/NAME] [--tail N] [-f] [--prefix] "        \
	"[-c CONTAINER]"

int eg_ctl_logs(struct eg_ctl *ctl, int argc, char **argv)
{
	const char *ns = "default", *sel = NULL, *target = NULL;
	struct logfile *files = NULL;
	struct eg_resource_set pods;
	struct eg_rt_config cfg;
	struct eg_store *s = NULL;
	char store[PATH_MAX];
	bool follow = false, prefix = false, tail_given = false;
	long tail = -1;
	size_t nfiles = 0;
	int rc = EG_EXIT_OK;

	if (eg_ctl_help(ctl, "logs", argc, argv))
		return EG_EXIT_OK;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;

		if ((strcmp(a, "-n") == 0 || strcmp(a, "--namespace") == 0) && i + 1 < argc)
			ns = argv[++i];
		else if (strncmp(a, "--namespace=", 12) == 0)
			ns = a + 12;
		else if ((strcmp(a, "-l") == 0 || strcmp(a, "--selector") == 0) && i + 1 < argc)
			sel = argv[++i];
		else if (strncmp(a, "--selector=", 11) == 0)
			sel = a + 11;
		else if (strcmp(a, "--tail") == 0 && i + 1 < argc)
			v = argv[++i];
		else if (strncmp(a, "--tail=", 7) == 0)
			v = a + 7;
		else if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0)
			follow = true;
		else if (strcmp(a, "--prefix") == 0)
			prefix = true;
		else if ((strcmp(a, "-c") == 0 || strcmp(a, "--container") == 0) && i + 1 < argc)
			i++; /* every pod has one log: egressd's */
		else if (strncmp(a, "--container=", 12) == 0 || strcmp(a, "--all-containers") == 0)
			continue;
		else if (a[0] == '-' || target) {
			eg_ctl_err("logs: unexpected argument %s", a);
			return eg_ctl_usage(ctl, "logs");
		} else
			target = a;
		if (v) {
			char *end;

			tail = strtol(v, &end, 10);
			if (*end || tail < -1) {
				eg_ctl_err("--tail %s: a number of lines, or -1 for all", v);
				return EG_EXIT_USAGE;
			}
			tail_given = true;
		}
	}
	if (!target && !sel) {
		eg_ctl_err("logs: give a pod (NAME, pod/NAME, deploy/NAME) or -l SELECTOR");
		return eg_ctl_usage(ctl, "logs");
	}
	/* kubectl: a selector shows the last 10 lines of each pod unless --tail says more */
	if (sel && !tail_given)
		tail = 10;
	if (eg_ctl_cluster_store(ctl, store, sizeof(store)) < 0)
		return EG_EXIT_REFUSED;
	if (eg_rt_config_load(store, &cfg) < 0) {
		eg_ctl_err("no local cluster was started on this store (egressctl cluster up)");
		return EG_EXIT_REFUSED;
	}
	if (eg_store_open(store, 0, &s) < 0) {
		eg_ctl_err("cannot open the store %s", store);
		return EG_EXIT_REFUSED;
	}
	eg_resource_set_init(&pods);
	if (eg_ctl_find_pods(s, ns, target, sel, &pods) < 0) {
		rc = EG_EXIT_REFUSED;
		goto out_free;
	}
	if (pods.n == 0) {
		if (target)
			fprintf(stderr, "Error from server (NotFound): pods \"%s\" not found\n",
			        strchr(target, '/') ? strchr(target, '/') + 1 : target);
		else
			fprintf(stderr, "No resources found in %s namespace.\n", ns);
		rc = target ? EG_EXIT_REFUSED : EG_EXIT_OK;
		goto out_free;
	}
	files = calloc(EG_MIN(pods.n, (size_t)LOGS_MAX_PODS), sizeof(*files));
	if (!files) {
		rc = EG_EXIT_REFUSED;
		goto out_free;
	}
	for (size_t i = 0; i < pods.n && nfiles < LOGS_MAX_PODS; i++) {
		struct logfile *f = &files[nfiles];
		char dir[PATH_MAX];
		int fd;

		if (eg_rt_path(store, "pods", dir, sizeof(dir)) < 0 ||
		    (size_t)snprintf(f->path, sizeof(f->path), "%s/%s/egressd.log", dir,
		                     pods.v[i]->name) >= sizeof(f->path))
			continue;
		if (prefix)
			snprintf(f->prefix, sizeof(f->prefix), "[pod/%s/istio-proxy] ",
			         pods.v[i]->name);
		fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			f->off = tail_offset(fd, tail);
			(void)close(fd);
		}
		nfiles++;
	}
	for (size_t i = 0; i < nfiles; i++)
		copy_new(&files[i]);
	/* -f: until every followed pod is gone (its log removed) */
	while (follow) {
		bool any = false;

		poll(NULL, 0, FOLLOW_POLL_MS);
		for (size_t i = 0; i < nfiles; i++) {
			if (files[i].gone)
				continue;
			copy_new(&files[i]);
			any |= !files[i].gone;
		}
		if (!any)
			break;
	}
out_free:
	free(files);
	eg_resource_set_done(&pods);
	eg_store_close(s);
	return rc;
}
