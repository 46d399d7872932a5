/* src/runtime/control.c: what `egressctl cluster up|down|status` needs: the files under
 * STORE/cluster, starting the supervisor as a daemon, stopping it, and removing whatever a
 * supervisor that was killed left behind. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "runtime/runtime-int.h"
#include "store/store.h"
#include "tls/tls.h"

#define SYSTEM_ROOTS "/etc/ssl/certs/ca-certificates.crt"

int eg_rt_path(const char *store_dir, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s%s%s", store_dir, EG_RT_DIR, name[0] ? "/" : "", name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int rt_read_file(const char *path, size_t max, char **ret)
{
	struct eg_buf b = EG_BUF_INIT(max);
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		r = eg_buf_append(&b, chunk, (size_t)n);
		if (r < 0)
			break;
	}
	(void)close(fd);
	if (r == 0 && !b.data)
		r = eg_buf_puts(&b, "");
	if (r < 0) {
		eg_buf_done(&b);
		return r;
	}
	*ret = eg_buf_steal(&b);
	return 0;
}

int rt_write_file(const char *path, const char *text, mode_t mode)
{
	char tmp[EG_RT_PATH_MAX + 32];
	size_t len = strlen(text), off = 0;
	int fd, r = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			r = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

int eg_rt_config_load(const char *store_dir, struct eg_rt_config *ret)
{
	char path[EG_RT_PATH_MAX], *text = NULL;
	int r = eg_rt_path(store_dir, "config", path, sizeof(path));

	if (r == 0)
		r = rt_read_file(path, 64 * 1024, &text);
	if (r == 0)
		r = eg_rt_config_parse(text, ret);
	free(text);
	return r;
}

int eg_rt_running(const char *store_dir, pid_t *ret_pid)
{
	char path[EG_RT_PATH_MAX], *text = NULL;
	unsigned long long start = 0;
	long pid = 0;
	int r = eg_rt_path(store_dir, "supervisor.pid", path, sizeof(path));

	if (r == 0)
		r = rt_read_file(path, 256, &text);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (sscanf(text, "%ld %llu", &pid, &start) != 2)
		pid = 0;
	free(text);
	if (pid <= 1 || eg_rt_proc_starttime((pid_t)pid) != start)
		return 0;
	if (ret_pid)
		*ret_pid = (pid_t)pid;
	return 1;
}

int eg_rt_state_load(const char *store_dir, struct eg_rt_state *ret)
{
	char path[EG_RT_PATH_MAX], *text = NULL;
	int r = eg_rt_path(store_dir, "state", path, sizeof(path));

	if (r == 0)
		r = rt_read_file(path, 64u << 20, &text);
	if (r == 0)
		r = eg_rt_state_parse(text, ret);
	free(text);
	return r;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

static void rm_tree(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int strip_addresses(struct eg_node *root, void *ctx)
{
	struct eg_node *ann = eg_node_path(root, "metadata.annotations");

	(void)ctx;
	if (!ann || !eg_node_get(ann, EG_RT_ANN_POD_ADDRESSES))
		return 0;
	eg_node_map_del(ann, EG_RT_ANN_POD_ADDRESSES);
	return 1;
}

/* Deletes every Pod object and every pod-address annotation of the store. */
static void clean_store(const char *store_dir)
{
	const struct eg_kind *pk = eg_kind_lookup("pods"), *sk = eg_kind_lookup("services");
	const struct eg_kind *dk = eg_kind_lookup("deployments");
	struct eg_resource_set set;
	struct eg_store *s = NULL;
	struct eg_diag d;

	if (eg_store_open(store_dir, 0, &s) < 0)
		return;
	eg_diag_init(&d);
	eg_resource_set_init(&set);
	if (pk && eg_store_list(s, pk, NULL, &set, &d) >= 0 && set.n) {
		struct eg_store_ref *refs = calloc(set.n, sizeof(*refs));
		int *res = calloc(set.n, sizeof(*res));

		for (size_t i = 0; refs && res && i < set.n; i++)
			refs[i] = (struct eg_store_ref){pk, set.v[i]->ns, set.v[i]->name};
		if (refs && res)
			(void)eg_store_delete(s, refs, set.n, res);
		free(refs);
		free(res);
	}
	eg_resource_set_done(&set);
	eg_resource_set_init(&set);
	if (sk && eg_store_list(s, sk, NULL, &set, &d) >= 0) {
		for (size_t i = 0; i < set.n; i++) {
			const struct eg_node *ann =
			        eg_node_path(set.v[i]->root, "metadata.annotations");

			if (ann && eg_node_get(ann, EG_RT_ANN_POD_ADDRESSES))
				(void)eg_store_modify(s, sk, set.v[i]->ns, set.v[i]->name,
				                      strip_addresses, NULL, &d);
		}
	}
	eg_resource_set_done(&set);
	/* no pods, no ready replicas: the status the cluster wrote goes */
	eg_resource_set_init(&set);
	if (dk && eg_store_list(s, dk, NULL, &set, &d) >= 0) {
		for (size_t i = 0; i < set.n; i++)
			if (eg_node_get(set.v[i]->root, "status"))
				(void)eg_store_set_status(s, dk, set.v[i]->ns, set.v[i]->name, NULL,
				                          &d);
	}
	eg_resource_set_done(&set);
	eg_diag_done(&d);
	eg_store_close(s);
}

/* /run/egressd-cluster/PREFIX names the store whose cluster owns the namespaces PREFIX-*
 * (two stores with the same --prefix must not tear down each other's network). */
#define OWNER_DIR "/run/egressd-cluster"

static int owner_path(const char *prefix, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", OWNER_DIR, prefix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int prefix_owner(const char *prefix, char *buf, size_t len)
{
	char path[256], *text = NULL;
	int r = owner_path(prefix, path, sizeof(path));

	if (r == 0)
		r = rt_read_file(path, PATH_MAX, &text);
	if (r == 0) {
		text[strcspn(text, "\n")] = '\0';
		if ((size_t)snprintf(buf, len, "%s", text) >= len)
			r = -ENAMETOOLONG;
	}
	free(text);
	return r;
}

static int prefix_claim(const char *prefix, const char *store_dir)
{
	char path[256], text[PATH_MAX + 2];
	int r = owner_path(prefix, path, sizeof(path));

	if (r < 0)
		return r;
	if (mkdir(OWNER_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(text, sizeof(text), "%s\n", store_dir) >= sizeof(text))
		return -ENAMETOOLONG;
	return rt_write_file(path, text, 0644);
}

static void prefix_release(const char *prefix, const char *store_dir)
{
	char owner[PATH_MAX], path[256];

	if (prefix_owner(prefix, owner, sizeof(owner)) == 0 && strcmp(owner, store_dir) == 0 &&
	    owner_path(prefix, path, sizeof(path)) == 0)
		(void)unlink(path);
}

void rt_cleanup(const char *store_dir, const struct eg_rt_config *cfg, int log_fd)
{
	struct eg_rt_state st = {0};
	char path[EG_RT_PATH_MAX];
	bool any = false;

	if (eg_rt_state_load(store_dir, &st) == 0) {
		for (size_t i = 0; i < st.npods; i++) {
			if (st.pods[i].pid > 0 &&
			    eg_rt_proc_starttime(st.pods[i].pid) == st.pods[i].starttime) {
				eg_rt_kill_checked(st.pods[i].pid, st.pods[i].starttime, SIGTERM);
				any = true;
			}
		}
		/* a second for a clean stop, then no more waiting */
		for (int t = 0; any && t < 20; t++) {
			any = false;
			for (size_t i = 0; i < st.npods; i++)
				if (st.pods[i].pid > 0 &&
				    eg_rt_proc_starttime(st.pods[i].pid) == st.pods[i].starttime)
					any = true;
			if (any)
				sleep_ms(50);
		}
		for (size_t i = 0; i < st.npods; i++)
			eg_rt_kill_checked(st.pods[i].pid, st.pods[i].starttime, SIGKILL);
		if (geteuid() == 0)
			for (size_t i = 0; i < st.nnetns; i++)
				rt_net_del(log_fd, st.netns[i]);
	}
	/* namespaces are found by prefix too: the state file may predate the newest one */
	if (cfg->mode == EG_RT_NETNS && geteuid() == 0)
		rt_net_del_prefix(log_fd, cfg->prefix);
	eg_rt_state_done(&st);
	clean_store(store_dir);
	if (eg_rt_path(store_dir, "pods", path, sizeof(path)) == 0)
		rm_tree(path);
	if (eg_rt_path(store_dir, "state", path, sizeof(path)) == 0)
		(void)unlink(path);
	if (cfg->mode == EG_RT_NETNS && geteuid() == 0)
		prefix_release(cfg->prefix, store_dir);
}

static int down_locked(const char *store_dir, bool *ret_was_running, char *why, size_t whylen)
{
	struct eg_rt_config cfg;
	char path[EG_RT_PATH_MAX];
	pid_t pid = 0;
	int r;

	*ret_was_running = false;
	r = eg_rt_config_load(store_dir, &cfg);
	if (r == -ENOENT) {
		/* no cluster was ever started here; Pod objects would still be stale */
		clean_store(store_dir);
		return 0;
	}
	if (r < 0) {
		snprintf(why, whylen, "cannot read %s/%s/config: %s", store_dir, EG_RT_DIR,
		         strerror(-r));
		return r;
	}
	if (eg_rt_running(store_dir, &pid) == 1) {
		uint64_t start = eg_rt_proc_starttime(pid);

		*ret_was_running = true;
		(void)kill(pid, SIGTERM);
		/* the supervisor stops its pods and removes its namespaces itself */
		for (int t = 0; t < 400 && eg_rt_proc_starttime(pid) == start; t++)
			sleep_ms(50);
		if (eg_rt_proc_starttime(pid) == start) {
			(void)kill(pid, SIGKILL);
			for (int t = 0; t < 40 && eg_rt_proc_starttime(pid) == start; t++)
				sleep_ms(50);
		}
	}
	rt_cleanup(store_dir, &cfg, -1);
	if (eg_rt_path(store_dir, "supervisor.pid", path, sizeof(path)) == 0)
		(void)unlink(path);
	return 0;
}

/* Every directory from / to @path must let uid 1337 through, and @path itself must be
 * readable (the store: @what "read the store") or executable (the egressd binary): the
 * egressd processes of netns mode run as that user. */
static int check_reachable(const char *path, bool exec, char *why, size_t whylen)
{
	char real[PATH_MAX], part[PATH_MAX];
	struct stat st;

	if (!realpath(path, real))
		return -errno;
	for (size_t i = 1, n = strlen(real); i <= n; i++) {
		mode_t need;

		if (real[i] != '/' && real[i] != '\0')
			continue;
		memcpy(part, real, i);
		part[i] = '\0';
		if (stat(part, &st) < 0)
			return -errno;
		need = i < n ? S_IXOTH : exec ? S_IXOTH : S_IROTH | S_IXOTH;
		if ((st.st_mode & need) != need) {
			snprintf(
			        why, whylen,
			        "%s is mode %03o: in netns mode egressd runs as uid %d and must %s "
			        "(chmod o+%s %s)",
			        part, (unsigned)(st.st_mode & 0777), EG_RT_PROXY_UID,
			        exec ? "run the egressd binary" : "read the store",
			        i < n || exec ? "x" : "rx", part);
			return -EACCES;
		}
	}
	return 0;
}

static int check_config(const struct eg_rt_config *c, char *why, size_t whylen)
{
	struct eg_rt_net pods, inet = {0xc613fffc, 30}; /* 198.19.255.252/30 */
	struct eg_rt_net lo = {0x7f000000, 8}, bench = {0xc6120000, 15};

	if (!eg_rt_prefix_valid(c->prefix)) {
		snprintf(why, whylen,
		         "--prefix %s: 1 to %d lowercase letters or digits, starting "
		         "with a letter",
		         c->prefix, EG_RT_PREFIX_MAX);
		return -EINVAL;
	}
	if (eg_rt_net_parse(c->pod_cidr, &pods) < 0 || eg_rt_slots(&pods) == 0) {
		snprintf(why, whylen, "--pod-cidr %s: not an IPv4 network of /29 or larger",
		         c->pod_cidr);
		return -EINVAL;
	}
	if (c->mode == EG_RT_LOOPBACK && !(eg_rt_net_contains(&lo, pods.base) && pods.len >= 8)) {
		snprintf(why, whylen,
		         "--pod-cidr %s: loopback mode needs a range inside 127.0.0.0/8",
		         c->pod_cidr);
		return -EINVAL;
	}
	if (c->mode == EG_RT_NETNS && (!eg_rt_net_contains(&bench, pods.base) || pods.len < 15 ||
	                               eg_rt_net_overlap(&pods, &inet))) {
		snprintf(why, whylen,
		         "--pod-cidr %s: netns mode needs a range inside 198.18.0.0/15 that leaves "
		         "198.19.255.252/30 (the internet link) free",
		         c->pod_cidr);
		return -EINVAL;
	}
	if (c->mode == EG_RT_NETNS && geteuid() != 0) {
		snprintf(why, whylen, "netns mode needs root (use --mode loopback)");
		return -EPERM;
	}
	if (access(c->egressd, X_OK) < 0) {
		snprintf(why, whylen, "cannot run egressd at %s: %s (--egressd PATH)", c->egressd,
		         strerror(errno));
		return -ENOENT;
	}
	return 0;
}

/* Copies the hosts file (checked) and builds the CA bundle under STORE/cluster. */
static int prepare_files(const char *store_dir, struct eg_rt_up *up, char *why, size_t whylen)
{
	struct eg_rt_config *c = &up->cfg;
	char *text = NULL, *sys = NULL;
	struct eg_buf b = EG_BUF_INIT(64u << 20);
	char msg[256];
	int r = 0;

	c->hosts_file[0] = '\0';
	c->ca_bundle[0] = '\0';
	if (up->hosts_src) {
		r = rt_read_file(up->hosts_src, 4u << 20, &text);
		if (r < 0) {
			snprintf(why, whylen, "--hosts-file %s: %s", up->hosts_src, strerror(-r));
			return r;
		}
		r = eg_rt_hosts_check(text, c->mode == EG_RT_LOOPBACK, msg, sizeof(msg), NULL,
		                      NULL);
		if (r < 0)
			snprintf(why, whylen, "--hosts-file %s: %s", up->hosts_src, msg);
		if (r == 0)
			r = eg_rt_path(store_dir, "hosts", c->hosts_file, sizeof(c->hosts_file));
		if (r == 0)
			r = rt_write_file(c->hosts_file, text, 0644);
		free(text);
		text = NULL;
		if (r < 0)
			return r;
	}
	if (up->ca_src) {
		r = rt_read_file(up->ca_src, 16u << 20, &text);
		if (r < 0) {
			snprintf(why, whylen, "--ca-bundle %s: %s", up->ca_src, strerror(-r));
			return r;
		}
		if (!strstr(text, "-----BEGIN CERTIFICATE-----")) {
			snprintf(why, whylen, "--ca-bundle %s: no PEM certificate in it",
			         up->ca_src);
			free(text);
			return -EINVAL;
		}
		/* SSL_CERT_FILE replaces the default roots: keep the system's in the bundle */
		if (rt_read_file(SYSTEM_ROOTS, 16u << 20, &sys) == 0)
			r = eg_buf_printf(&b, "%s\n", sys);
		if (r == 0)
			r = eg_buf_printf(&b, "%s\n", text);
		if (r == 0)
			r = eg_rt_path(store_dir, "ca-bundle.pem", c->ca_bundle,
			               sizeof(c->ca_bundle));
		if (r == 0)
			r = rt_write_file(c->ca_bundle, eg_buf_cstr(&b), 0644);
		free(text);
		free(sys);
		eg_buf_done(&b);
	}
	return r;
}

static int ensure_ca(const char *store_dir, char *why, size_t whylen)
{
	char dir[EG_RT_PATH_MAX];
	struct eg_tls_ca *ca = NULL;
	int r;

	if (snprintf(dir, sizeof(dir), "%s/ca", store_dir) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	r = eg_tls_ca_load(dir, &ca);
	if (r == -ENOENT) {
		r = eg_tls_ca_create("cluster.local", 0, &ca);
		if (r == 0)
			r = eg_tls_ca_save(ca, dir, false);
	}
	eg_tls_ca_free(ca);
	if (r < 0)
		snprintf(why, whylen, "the mesh CA in %s: %s", dir, strerror(-r));
	return r;
}

static int write_pid_file(const char *store_dir)
{
	char path[EG_RT_PATH_MAX], text[64];
	int r = eg_rt_path(store_dir, "supervisor.pid", path, sizeof(path));

	snprintf(text, sizeof(text), "%ld %llu\n", (long)getpid(),
	         (unsigned long long)eg_rt_proc_starttime(getpid()));
	return r ? r : rt_write_file(path, text, 0644);
}

/* The daemon: a grandchild in its own session, stdio on supervisor.log. Never returns. */
static void EG_NORETURN daemon_main(const char *store_dir, int ready_fd)
{
	char path[EG_RT_PATH_MAX];
	int log, null, r;

	if (setsid() < 0)
		_exit(1);
	if (fork() != 0)
		_exit(0);
	umask(022);
	if (chdir("/") < 0)
		_exit(1);
	if (eg_rt_path(store_dir, "supervisor.log", path, sizeof(path)) < 0)
		_exit(1);
	log = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (log < 0 || null < 0)
		_exit(1);
	(void)dup2(null, 0);
	(void)dup2(log, 1);
	(void)dup2(log, 2);
	for (int fd = 3; fd < 1024; fd++)
		if (fd != ready_fd)
			(void)close(fd);
	if (write_pid_file(store_dir) < 0) {
		dprintf(ready_fd, "error: cannot write the pid file\n");
		_exit(1);
	}
	r = eg_rt_supervise(store_dir, ready_fd);
	exit(r);
}

static int up_locked(const char *store_dir, struct eg_rt_up *up, pid_t *ret_pid, char *why,
                     size_t whylen)
{
	struct eg_rt_config old;
	char path[EG_RT_PATH_MAX], text[8192], msg[512] = "";
	struct pollfd pfd;
	int p[2], r, status;
	size_t got = 0;
	pid_t pid;

	r = eg_rt_path(store_dir, "", path, sizeof(path));
	if (r == 0 && mkdir(path, 0755) < 0 && errno != EEXIST)
		r = -errno;
	if (r < 0) {
		snprintf(why, whylen, "cannot create %s: %s", path, strerror(-r));
		return r;
	}
	if (eg_rt_running(store_dir, ret_pid) == 1)
		return -EALREADY;
	r = check_config(&up->cfg, why, whylen);
	if (r == 0 && up->cfg.mode == EG_RT_NETNS)
		r = check_reachable(store_dir, false, why, whylen);
	if (r == 0 && up->cfg.mode == EG_RT_NETNS)
		r = check_reachable(up->cfg.egressd, true, why, whylen);
	if (r < 0)
		return r;
	/* what a supervisor that died left (with its own settings), before anything new */
	if (eg_rt_config_load(store_dir, &old) == 0)
		rt_cleanup(store_dir, &old, -1);
	if (up->cfg.mode == EG_RT_NETNS) {
		char owner[PATH_MAX];

		if (prefix_owner(up->cfg.prefix, owner, sizeof(owner)) == 0 &&
		    strcmp(owner, store_dir) != 0 && eg_rt_running(owner, NULL) == 1) {
			snprintf(why, whylen,
			         "the namespace prefix %s is in use by the cluster of %.512s "
			         "(give another --prefix)",
			         up->cfg.prefix, owner);
			return -EBUSY;
		}
		/* what is left under the prefix belongs to no running cluster */
		rt_net_del_prefix(-1, up->cfg.prefix);
		r = prefix_claim(up->cfg.prefix, store_dir);
		if (r < 0) {
			snprintf(why, whylen, "cannot write %s/%s: %s", OWNER_DIR, up->cfg.prefix,
			         strerror(-r));
			return r;
		}
	}
	r = prepare_files(store_dir, up, why, whylen);
	if (r < 0)
		return r;
	r = eg_rt_config_format(&up->cfg, text, sizeof(text));
	if (r == 0)
		r = eg_rt_path(store_dir, "config", path, sizeof(path));
	if (r == 0)
		r = rt_write_file(path, text, 0644);
	if (r < 0) {
		snprintf(why, whylen, "cannot write %s: %s", path, strerror(-r));
		return r;
	}
	r = ensure_ca(store_dir, why, whylen);
	if (r < 0)
		return r;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		(void)close(p[0]);
		(void)close(p[1]);
		return r;
	}
	if (pid == 0) {
		(void)close(p[0]);
		daemon_main(store_dir, p[1]);
	}
	(void)close(p[1]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* the supervisor answers once it realized the store (netns setup takes a while) */
	pfd = (struct pollfd){p[0], POLLIN, 0};
	while (got < sizeof(msg) - 1 && poll(&pfd, 1, 120000) > 0) {
		ssize_t n = read(p[0], msg + got, sizeof(msg) - 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	msg[got] = '\0';
	(void)close(p[0]);
	if (strncmp(msg, "ok", 2) != 0) {
		char *nl = strchr(msg, '\n');

		if (nl)
			*nl = '\0';
		snprintf(why, whylen, "the supervisor did not start: %s (see %s/%s/supervisor.log)",
		         msg[0] ? msg : "it exited", store_dir, EG_RT_DIR);
		return -EIO;
	}
	if (eg_rt_running(store_dir, ret_pid) != 1) {
		snprintf(why, whylen,
		         "the supervisor exited right after starting (see "
		         "%s/%s/supervisor.log)",
		         store_dir, EG_RT_DIR);
		return -EIO;
	}
	return 0;
}

/* `cluster up` and `cluster down` of one store run one at a time (two ups racing would
 * start two supervisors). The lock is STORE/cluster/control.lock; the daemon does not keep
 * it. Returns the descriptor holding it, or -errno. */
static int control_lock(const char *store_dir, char *why, size_t whylen)
{
	char path[EG_RT_PATH_MAX];
	int fd, r = eg_rt_path(store_dir, "", path, sizeof(path));

	if (r == 0 && mkdir(path, 0755) < 0 && errno != EEXIST)
		r = -errno;
	if (r == 0)
		r = eg_rt_path(store_dir, "control.lock", path, sizeof(path));
	if (r < 0) {
		snprintf(why, whylen, "cannot create %s/%s: %s", store_dir, EG_RT_DIR,
		         strerror(-r));
		return r;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(-r));
		return r;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			(void)close(fd);
			snprintf(why, whylen, "cannot lock %s: %s", path, strerror(-r));
			return r;
		}
	}
	return fd;
}

int eg_rt_up(const char *store_dir, struct eg_rt_up *up, pid_t *ret_pid, char *why, size_t whylen)
{
	int fd = control_lock(store_dir, why, whylen), r;

	if (fd < 0)
		return fd;
	r = up_locked(store_dir, up, ret_pid, why, whylen);
	(void)close(fd);
	return r;
}

int eg_rt_down(const char *store_dir, bool *ret_was_running, char *why, size_t whylen)
{
	int fd, r;

	*ret_was_running = false;
	fd = control_lock(store_dir, why, whylen);
	if (fd < 0)
		return fd;
	r = down_locked(store_dir, ret_was_running, why, whylen);
	(void)close(fd);
	return r;
}
