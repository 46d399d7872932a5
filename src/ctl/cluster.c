/* src/ctl/cluster.c: `egressctl cluster up|down|status|internet`: the local cluster
 * (src/runtime, docs/reference/cluster.md). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/str.h"
#include "ctl/ctl.h"
#include "runtime/runtime.h"
#include "store/mesh.h"
#include "store/store.h"

/* The store's absolute path (the daemon changes directory to /). Creates the store. */
int eg_ctl_cluster_store(const struct eg_ctl *ctl, char *out, size_t len)
{
	struct eg_store *s = NULL;
	char real[PATH_MAX];
	int r = eg_ctl_open_store(ctl, &s);

	if (r < 0)
		return r;
	if (!realpath(eg_store_dir(s), real)) {
		r = -errno;
		eg_ctl_err("%s: %s", eg_store_dir(s), strerror(-r));
	} else if ((size_t)snprintf(out, len, "%s", real) >= len) {
		r = -ENAMETOOLONG;
		eg_ctl_err("store path too long");
	}
	eg_store_close(s);
	return r;
}

/* egressd next to this egressctl, else the one in PATH. */
static void default_egressd(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(out, len, "%s/egressd", self) < len &&
			    access(out, X_OK) == 0)
				return;
		}
	}
	snprintf(out, len, "egressd");
}

static int resolve_egressd(const char *given, char *out, size_t len)
{
	char real[PATH_MAX];

	if (given && strchr(given, '/')) {
		if (!realpath(given, real)) {
			eg_ctl_err("--egressd %s: %s", given, strerror(errno));
			return -errno;
		}
		if (strlen(real) >= len) {
			eg_ctl_err("--egressd %s: path too long", given);
			return -ENAMETOOLONG;
		}
		memcpy(out, real, strlen(real) + 1);
		return 0;
	}
	if (given) {
		/* a bare name: look it up in PATH now, the daemon keeps the result */
		const char *path = getenv("PATH");

		for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
			size_t n = strcspn(p, ":");

			if ((size_t)snprintf(real, sizeof(real), "%.*s/%s", (int)n, p, given) <
			            sizeof(real) &&
			    access(real, X_OK) == 0)
				return resolve_egressd(real, out, len);
			p += n;
			if (*p == ':')
				p++;
		}
		eg_ctl_err("egressd binary %s not found in PATH (give --egressd PATH)", given);
		return -ENOENT;
	}
	default_egressd(real, sizeof(real));
	return resolve_egressd(real, out, len);
}

/* The management plane's settings (docs/reference/mesh.md): --egress-pool, or the mode's
 * own pool when the current one cannot work in this mode (a 127.x prefix cannot be routed
 * between namespaces); --revision as the mesh's revision, unless an upgrade runs. */
static int apply_settings(const char *store_dir, enum eg_rt_mode mode, const char *pool,
                          const char *rev)
{
	struct eg_mesh_settings st;
	struct eg_store *s = NULL;
	struct eg_diag d;
	bool lo;
	int r;

	r = eg_store_open(store_dir, 0, &s);
	if (r < 0) {
		eg_ctl_err("cannot open the store %s: %s", store_dir, strerror(-r));
		return r;
	}
	eg_diag_init(&d);
	r = eg_mesh_settings_load(s, &st, &d);
	if (r < 0)
		goto out_close;
	lo = strncmp(st.egress_pool, "127.", 4) == 0;
	if (!pool && mode == EG_RT_NETNS && lo)
		pool = EG_RT_NETNS_POOL;
	if (!pool && mode == EG_RT_LOOPBACK && !lo)
		pool = EG_RT_LOOPBACK_POOL;
	if (pool && strcmp(pool, st.egress_pool) == 0)
		pool = NULL;
	if (rev) {
		bool listed = false;

		for (size_t i = 0; i < st.nrevisions; i++)
			listed |= strcmp(st.revisions[i], rev) == 0;
		if (!listed && st.nrevisions > 1) {
			eg_ctl_err(
			        "--revision %s: an upgrade from %s to %s is in progress (egressctl "
			        "mesh upgrade complete|rollback first)",
			        rev, st.revisions[0], st.revisions[1]);
			r = -EBUSY;
			goto out_close;
		}
		if (listed)
			rev = NULL;
	}
	if (!pool && !rev)
		goto out_close;
	if (pool && (size_t)snprintf(st.egress_pool, sizeof(st.egress_pool), "%s", pool) >=
	                    sizeof(st.egress_pool)) {
		eg_ctl_err("--egress-pool %s: too long", pool);
		r = -EINVAL;
		goto out_close;
	}
	if (rev && (size_t)snprintf(st.revisions[0], sizeof(st.revisions[0]), "%s", rev) >=
	                   sizeof(st.revisions[0])) {
		eg_ctl_err("--revision %s: too long", rev);
		r = -EINVAL;
		goto out_close;
	}
	r = eg_mesh_settings_save(s, &st, &d);
out_close:
	if (r < 0)
		fprintf(stderr, "%s", eg_diag_text(&d));
	if (r < 0 && !eg_diag_text(&d)[0])
		eg_ctl_err("egress pool: %s", strerror(-r));
	eg_diag_done(&d);
	eg_store_close(s);
	return r;
}

/* An egress pool the mode can route: 127.x in loopback mode, 198.18.0.0/15 in netns mode,
 * apart from the pods. */
static int check_pool(const char *pool, const struct eg_rt_config *c)
{
	struct eg_rt_net n, pods, lo = {0x7f000000, 8}, bench = {0xc6120000, 15};
	struct eg_rt_net inet = {0xc613fffc, 30};

	if (eg_rt_net_parse(pool, &n) < 0) {
		eg_ctl_err("--egress-pool %s: not an IPv4 CIDR without host bits", pool);
		return -EINVAL;
	}
	if (c->mode == EG_RT_LOOPBACK && !(eg_rt_net_contains(&lo, n.base) && n.len >= 8)) {
		eg_ctl_err("--egress-pool %s: loopback mode needs a range inside 127.0.0.0/8",
		           pool);
		return -EINVAL;
	}
	if (c->mode == EG_RT_NETNS &&
	    (!eg_rt_net_contains(&bench, n.base) || n.len < 15 || eg_rt_net_overlap(&n, &inet))) {
		eg_ctl_err("--egress-pool %s: netns mode needs a range inside 198.18.0.0/15 that "
		           "leaves 198.19.255.252/30 free",
		           pool);
		return -EINVAL;
	}
	if (eg_rt_net_parse(c->pod_cidr, &pods) == 0 && eg_rt_net_overlap(&n, &pods)) {
		eg_ctl_err("--egress-pool %s overlaps the pod range %s", pool, c->pod_cidr);
		return -EINVAL;
	}
	return 0;
}

#define UP_USAGE                                                                                   \
	"cluster up [--mode loopback|netns] [--hosts-file F] [--ca-bundle F] "                     \
	"[--egress-pool CIDR] [--revision REV] [--prefix NAME] [--pod-cidr CIDR] "                 \
	"[--egressd PATH] [--workers N]"

static int cluster_up(struct eg_ctl *ctl, int argc, char **argv)
{
	struct eg_rt_up up = {0};
	const char *mode = NULL, *prefix = NULL, *pods = NULL, *rev = NULL, *egressd = NULL;
	const char *pool = NULL, *workers = NULL;
	char store[PATH_MAX], hosts[PATH_MAX], ca[PATH_MAX], why[1024] = "";
	enum eg_rt_mode m = geteuid() == 0 ? EG_RT_NETNS : EG_RT_LOOPBACK;
	pid_t pid = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		const char **dst = NULL;

		if (strcmp(argv[i], "--mode") == 0)
			dst = &mode;
		else if (strcmp(argv[i], "--hosts-file") == 0)
			dst = &up.hosts_src;
		else if (strcmp(argv[i], "--ca-bundle") == 0)
			dst = &up.ca_src;
		else if (strcmp(argv[i], "--egress-pool") == 0)
			dst = &pool;
		else if (strcmp(argv[i], "--revision") == 0)
			dst = &rev;
		else if (strcmp(argv[i], "--prefix") == 0)
			dst = &prefix;
		else if (strcmp(argv[i], "--pod-cidr") == 0)
			dst = &pods;
		else if (strcmp(argv[i], "--egressd") == 0)
			dst = &egressd;
		else if (strcmp(argv[i], "--workers") == 0)
			dst = &workers;
		if (!dst || i + 1 >= argc) {
			eg_ctl_err("%s: unknown flag or missing value", argv[i]);
			fprintf(stderr, "usage: %s %s\n", ctl->prog, UP_USAGE);
			return EG_EXIT_USAGE;
		}
		*dst = argv[++i];
	}
	if (mode && eg_rt_mode_parse(mode, &m) < 0) {
		eg_ctl_err("--mode %s: loopback or netns", mode);
		return EG_EXIT_USAGE;
	}
	eg_rt_config_default(&up.cfg, m);
	if (prefix && strlen(prefix) > EG_RT_PREFIX_MAX) {
		eg_ctl_err("--prefix %s: at most %d characters", prefix, EG_RT_PREFIX_MAX);
		return EG_EXIT_USAGE;
	}
	if (prefix)
		snprintf(up.cfg.prefix, sizeof(up.cfg.prefix), "%s", prefix);
	if (pods && (size_t)snprintf(up.cfg.pod_cidr, sizeof(up.cfg.pod_cidr), "%s", pods) >=
	                    sizeof(up.cfg.pod_cidr)) {
		eg_ctl_err("--pod-cidr %s: not a CIDR", pods);
		return EG_EXIT_USAGE;
	}
	if (rev && (size_t)snprintf(up.cfg.revision, sizeof(up.cfg.revision), "%s", rev) >=
	                   sizeof(up.cfg.revision)) {
		eg_ctl_err("--revision %s: too long", rev);
		return EG_EXIT_USAGE;
	}
	if (workers) {
		uint64_t w;

		if (eg_parse_u64(eg_str_c(workers), 64, &w) < 0 || w == 0) {
			eg_ctl_err("--workers %s: 1 to 64", workers);
			return EG_EXIT_USAGE;
		}
		up.cfg.workers = (unsigned)w;
	}
	if (!egressd)
		egressd = getenv("EGRESSD");
	if (resolve_egressd(egressd, up.cfg.egressd, sizeof(up.cfg.egressd)) < 0)
		return EG_EXIT_REFUSED;
	if (up.hosts_src) {
		if (!realpath(up.hosts_src, hosts)) {
			eg_ctl_err("--hosts-file %s: %s", up.hosts_src, strerror(errno));
			return EG_EXIT_REFUSED;
		}
		up.hosts_src = hosts;
	}
	if (up.ca_src) {
		if (!realpath(up.ca_src, ca)) {
			eg_ctl_err("--ca-bundle %s: %s", up.ca_src, strerror(errno));
			return EG_EXIT_REFUSED;
		}
		up.ca_src = ca;
	}
	if (eg_ctl_cluster_store(ctl, store, sizeof(store)) < 0)
		return EG_EXIT_REFUSED;
	if (eg_rt_running(store, &pid) == 1) {
		printf("cluster is already running (supervisor pid %ld)\n", (long)pid);
		return EG_EXIT_OK;
	}
	if (pool && check_pool(pool, &up.cfg) < 0)
		return EG_EXIT_REFUSED;
	if (apply_settings(store, m, pool, rev) < 0)
		return EG_EXIT_REFUSED;
	r = eg_rt_up(store, &up, &pid, why, sizeof(why));
	if (r == -EALREADY) {
		printf("cluster is already running (supervisor pid %ld)\n", (long)pid);
		return EG_EXIT_OK;
	}
	if (r < 0) {
		eg_ctl_err("%s", why[0] ? why : strerror(-r));
		return EG_EXIT_REFUSED;
	}
	printf("cluster started: %s mode, supervisor pid %ld, store %s\n", eg_rt_mode_name(m),
	       (long)pid, store);
	return EG_EXIT_OK;
}

static int cluster_down(struct eg_ctl *ctl, int argc, char **argv)
{
	char store[PATH_MAX], why[1024] = "";
	bool was = false;
	int r;

	(void)argv;
	if (argc > 1)
		return eg_ctl_usage(ctl, "cluster");
	if (eg_ctl_cluster_store(ctl, store, sizeof(store)) < 0)
		return EG_EXIT_REFUSED;
	r = eg_rt_down(store, &was, why, sizeof(why));
	if (r < 0) {
		eg_ctl_err("%s", why[0] ? why : strerror(-r));
		return EG_EXIT_REFUSED;
	}
	printf(was ? "cluster stopped\n"
	           : "cluster was not running; removed whatever it had left\n");
	return EG_EXIT_OK;
}

static const char *ready_text(const struct eg_rt_pod_state *p, char *buf, size_t len)
{
	int total = p->role == EG_RT_ROLE_SIDECAR ? 2 : 1;
	int ready = p->role == EG_RT_ROLE_NONE ? 1 : (p->ready && p->pid ? 1 : 0);

	if (p->role == EG_RT_ROLE_SIDECAR)
		ready++; /* the application container has no process of its own */
	snprintf(buf, len, "%d/%d", ready, total);
	return buf;
}

static int cluster_status(struct eg_ctl *ctl, int argc, char **argv)
{
	struct eg_rt_config cfg;
	struct eg_rt_state st = {0};
	struct eg_ctl_table t;
	char store[PATH_MAX], inet[64];
	pid_t pid = 0;
	int running;

	(void)argv;
	if (argc > 1)
		return eg_ctl_usage(ctl, "cluster");
	if (eg_ctl_cluster_store(ctl, store, sizeof(store)) < 0)
		return EG_EXIT_REFUSED;
	running = eg_rt_running(store, &pid);
	if (running != 1 || eg_rt_config_load(store, &cfg) < 0) {
		printf("cluster: not running (store %s)\n", store);
		return EG_EXIT_REFUSED;
	}
	eg_rt_netns_name(&cfg, "inet", inet, sizeof(inet));
	printf("cluster:     running\nmode:        %s\nsupervisor:  pid %ld\nstore:       %s\n"
	       "pod range:   %s\nrevision:    %s\ninternet:    %s\nhosts file:  %s\n"
	       "egressd:     %s\nlog:         %s/%s/supervisor.log\n",
	       eg_rt_mode_name(cfg.mode), (long)pid, store, cfg.pod_cidr, cfg.revision,
	       cfg.mode == EG_RT_NETNS ? inet : "this host (loopback)",
	       cfg.hosts_file[0] ? cfg.hosts_file : "(none)", cfg.egressd, store, EG_RT_DIR);
	if (eg_rt_state_load(store, &st) < 0 || st.npods == 0) {
		printf("\nNo pods.\n");
		eg_rt_state_done(&st);
		return EG_EXIT_OK;
	}
	printf("\n");
	eg_ctl_table_init(&t, 9);
	{
		const char *hdr[] = {"NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS",
		                     "IP",        "PID",  "ROLE",  "NETNS"};

		(void)eg_ctl_table_row(&t, hdr);
	}
	for (size_t i = 0; i < st.npods; i++) {
		const struct eg_rt_pod_state *p = &st.pods[i];
		char ready[16], restarts[16], pidtxt[16];
		const char *row[9] = {p->ns,
		                      p->name,
		                      ready_text(p, ready, sizeof(ready)),
		                      p->status,
		                      restarts,
		                      p->ip,
		                      pidtxt,
		                      eg_rt_role_name(p->role),
		                      p->netns[0] ? p->netns : "-"};

		snprintf(restarts, sizeof(restarts), "%u", p->restarts);
		snprintf(pidtxt, sizeof(pidtxt), p->pid ? "%ld" : "-", (long)p->pid);
		(void)eg_ctl_table_row(&t, row);
	}
	eg_ctl_table_print(&t, stdout);
	eg_ctl_table_done(&t);
	eg_rt_state_done(&st);
	return EG_EXIT_OK;
}

static int cluster_internet(struct eg_ctl *ctl, int argc, char **argv)
{
	struct eg_rt_config cfg;
	char store[PATH_MAX], inet[64];
	int i = 1;

	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc)
		return eg_ctl_usage(ctl, "cluster");
	if (eg_ctl_cluster_store(ctl, store, sizeof(store)) < 0)
		return EG_EXIT_REFUSED;
	if (eg_rt_running(store, NULL) != 1 || eg_rt_config_load(store, &cfg) < 0) {
		eg_ctl_err("the local cluster is not running (egressctl cluster up)");
		return EG_EXIT_REFUSED;
	}
	fflush(NULL);
	if (cfg.mode == EG_RT_NETNS) {
		char **args = calloc((size_t)(argc - i) + 5, sizeof(*args));

		if (!args)
			return EG_EXIT_REFUSED;
		eg_rt_netns_name(&cfg, "inet", inet, sizeof(inet));
		args[0] = "ip";
		args[1] = "netns";
		args[2] = "exec";
		args[3] = inet;
		for (int k = i; k < argc; k++)
			args[4 + k - i] = argv[k];
		execvp("ip", args);
		eg_ctl_err("cannot run ip netns exec: %s", strerror(errno));
		free(args);
		return 127;
	}
	execvp(argv[i], argv + i);
	eg_ctl_err("%s: %s", argv[i], strerror(errno));
	return 127;
}

int eg_ctl_cluster(struct eg_ctl *ctl, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "internet") == 0)
		return cluster_internet(ctl, argc - 1, argv + 1);
	if (eg_ctl_help(ctl, "cluster", argc, argv))
		return EG_EXIT_OK;
	if (argc >= 2 && strcmp(argv[1], "up") == 0)
		return cluster_up(ctl, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "down") == 0)
		return cluster_down(ctl, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "status") == 0)
		return cluster_status(ctl, argc - 1, argv + 1);
	return eg_ctl_usage(ctl, "cluster");
}
