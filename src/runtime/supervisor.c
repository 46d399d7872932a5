/* src/runtime/supervisor.c: the local cluster's supervisor. One thread, one poll loop over
 * the store's change descriptor and a signalfd (SIGCHLD, SIGTERM, SIGINT). Each change of
 * the store reconciles: the pods the Deployments ask for are created (address, network
 * namespace, certificate, Pod object, egressd process), the ones no longer asked for are
 * stopped and removed, and every Service gets the addresses of the pods it selects. A pod
 * whose egressd exits is restarted after 250 ms, then 1 s, 2 s, 4 s ... 30 s. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"
#include "runtime/runtime-int.h"
#include "store/store.h"
#include "tls/tls.h"

#define RESYNC_MS     5000 /* full reconcile even without a change signal */
#define PROBE_FAST_MS 200  /* readiness probes while a pod is not ready */
#define PROBE_SLOW_MS 2000 /* and once it is */
#define STOP_GRACE_MS 2000 /* SIGTERM, then SIGKILL */

struct pod {
	char ns[64];
	char name[254];
	char deploy[254];
	char hash[11];
	enum eg_rt_role role;
	char app[64]; /* the first container's name */
	char sa[254];
	char revision[64];
	char prefix[256]; /* gateway: the egress prefix it owns (netns) */
	uint32_t slot;
	char ip[16];
	char netns[300];
	char dir[EG_RT_PATH_MAX];
	struct eg_node *labels; /* owned copy of the template labels */
	uint64_t created_ms;
	char created[32]; /* RFC 3339 */
	char started[32]; /* last process start, RFC 3339 */
	pid_t pid;
	uint64_t starttime;
	uint64_t started_ms;
	unsigned restarts, crashes;
	uint64_t restart_at; /* 0: not waiting */
	bool ready;
	bool ever_started;
	uint64_t next_probe;
	bool gone;
	bool stored;
	bool net_up;
	time_t cert_rotate;
	char status_key[512]; /* what the stored status says, to write only changes */
};

struct deploy_ref {
	char ns[64];
	char name[254];
	unsigned replicas;
};

struct sup {
	const char *store_dir;
	struct eg_rt_config cfg;
	struct eg_store *store;
	struct eg_tls_ca *ca;
	int watch_fd, sig_fd;
	struct rt_net net;
	struct eg_rt_net pods_net;
	char *hosts_text;
	struct pod **pods;
	size_t npods, cap;
	char firewall[4096];
	bool state_dirty, base_up, resync;
	uint64_t last_reconcile;
	uint64_t config_print;      /* config_fingerprint() of the last reconcile */
	struct deploy_ref *deploys; /* the Deployments that have pods, from the last reconcile */
	size_t ndeploys;
	uint64_t deploy_print; /* what their stored status says (deploy_status_print) */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void rfc3339(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- the state file --- */

static void write_state(struct sup *s)
{
	struct eg_rt_state st = {.supervisor = getpid()};
	char path[EG_RT_PATH_MAX], *text = NULL;
	char(*netns)[300] = calloc(s->npods + 2, sizeof(*netns));
	struct eg_rt_pod_state *ps = calloc(s->npods + 1, sizeof(*ps));

	if (!netns || !ps)
		goto out_free;
	st.supervisor_start = eg_rt_proc_starttime(getpid());
	st.netns = netns;
	st.pods = ps;
	if (s->cfg.mode == EG_RT_NETNS) {
		snprintf(netns[st.nnetns++], sizeof(*netns), "%s", s->net.rtr_ns);
		snprintf(netns[st.nnetns++], sizeof(*netns), "%s", s->net.inet_ns);
	}
	for (size_t i = 0; i < s->npods; i++) {
		const struct pod *p = s->pods[i];
		struct eg_rt_pod_state *q = &ps[st.npods++];

		snprintf(q->ns, sizeof(q->ns), "%s", p->ns);
		snprintf(q->name, sizeof(q->name), "%s", p->name);
		snprintf(q->ip, sizeof(q->ip), "%s", p->ip);
		snprintf(q->netns, sizeof(q->netns), "%s", p->netns);
		q->role = p->role;
		q->pid = p->pid;
		q->starttime = p->starttime;
		q->restarts = p->restarts;
		q->ready = p->ready;
		snprintf(q->status, sizeof(q->status), "%s",
		         p->pid || p->role == EG_RT_ROLE_NONE ? "Running"
		         : !p->ever_started                   ? "Pending"
		         : p->crashes >= 2                    ? "CrashLoopBackOff"
		                                              : "Error");
		if (p->netns[0])
			snprintf(netns[st.nnetns++], sizeof(*netns), "%s", p->netns);
	}
	if (eg_rt_state_format(&st, &s->cfg, &text) == 0 &&
	    eg_rt_path(s->store_dir, "state", path, sizeof(path)) == 0) {
		if (rt_write_file(path, text, 0644) < 0)
			eg_log_warn("cannot write %s", path);
		else
			s->state_dirty = false;
	}
out_free:
	free(text);
	free(netns);
	free(ps);
}

/* --- pods --- */

static struct pod *pod_free(struct pod *p)
{
	if (p)
		eg_node_free(p->labels);
	free(p);
	return NULL;
}

static void chown_tree_proxy(const char *dir)
{
	static const char *const files[] = {"", "/cert.pem", "/key.pem", "/ca.pem"};
	char path[EG_RT_PATH_MAX + 16];

	for (size_t i = 0; i < EG_ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, files[i]);
		if (chown(path, EG_RT_PROXY_UID, EG_RT_PROXY_UID) < 0)
			eg_log_warn("chown %s: %s", path, strerror(errno));
	}
}

/* Issues (or renews) the pod's workload certificate into POD_DIR/certs. */
static int issue_cert(struct sup *s, struct pod *p)
{
	struct eg_tls_cert cert = {0};
	char dir[EG_RT_PATH_MAX + 8];
	int r;

	if (!s->ca)
		return -ENOENT;
	snprintf(dir, sizeof(dir), "%s/certs", p->dir);
	r = eg_tls_ca_issue(s->ca, p->ns, p->sa, EG_TLS_CERT_TTL, 0, &cert);
	if (r == 0)
		r = eg_tls_cert_write(&cert, dir);
	if (r == 0) {
		p->cert_rotate = eg_tls_rotation_at(cert.not_before, cert.not_after);
		if (s->cfg.mode == EG_RT_NETNS)
			chown_tree_proxy(dir);
	} else {
		eg_log_warn("pod %s/%s: cannot issue its certificate (sa %s): %s", p->ns, p->name,
		            p->sa, strerror(-r));
	}
	eg_tls_cert_done(&cert);
	return r;
}

static void add_arg(char **argv, int *argc, const char *a)
{
	if (*argc < 62)
		argv[(*argc)++] = (char *)a;
}

/* Starts the pod's egressd; its stdout and stderr go to POD_DIR/egressd.log. */
static int spawn(struct sup *s, struct pod *p)
{
	char logpath[EG_RT_PATH_MAX + 16], certs[EG_RT_PATH_MAX + 8], workers[16];
	char *argv[64];
	int argc = 0, logfd;
	pid_t pid;

	snprintf(logpath, sizeof(logpath), "%s/egressd.log", p->dir);
	snprintf(certs, sizeof(certs), "%s/certs", p->dir);
	snprintf(workers, sizeof(workers), "%u", s->cfg.workers);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		eg_log_error("pod %s/%s: cannot open %s: %s", p->ns, p->name, logpath,
		             strerror(errno));
		return -errno;
	}
	if (s->cfg.mode == EG_RT_NETNS) {
		/* ip netns exec bind-mounts /etc/netns/NAME/{hosts,resolv.conf}; setpriv makes
		 * it uid 1337, which the capture rules let through */
		add_arg(argv, &argc, "ip");
		add_arg(argv, &argc, "netns");
		add_arg(argv, &argc, "exec");
		add_arg(argv, &argc, p->netns);
		add_arg(argv, &argc, "setpriv");
		add_arg(argv, &argc, "--reuid=1337");
		add_arg(argv, &argc, "--regid=1337");
		add_arg(argv, &argc, "--clear-groups");
	}
	add_arg(argv, &argc, s->cfg.egressd);
	add_arg(argv, &argc, "--store");
	add_arg(argv, &argc, s->store_dir);
	add_arg(argv, &argc, "--role");
	if (p->role == EG_RT_ROLE_GATEWAY) {
		add_arg(argv, &argc, "gateway");
		add_arg(argv, &argc, "--name");
		add_arg(argv, &argc, p->deploy);
		add_arg(argv, &argc, "--namespace");
		add_arg(argv, &argc, p->ns);
	} else {
		add_arg(argv, &argc, "sidecar");
		add_arg(argv, &argc, "--namespace");
		add_arg(argv, &argc, p->ns);
		add_arg(argv, &argc, "--service-account");
		add_arg(argv, &argc, p->sa);
		add_arg(argv, &argc, "--workload");
		add_arg(argv, &argc, p->deploy);
	}
	add_arg(argv, &argc, "--pod-ip");
	add_arg(argv, &argc, p->ip);
	add_arg(argv, &argc, "--workers");
	add_arg(argv, &argc, workers);
	if (s->cfg.hosts_file[0]) {
		add_arg(argv, &argc, "--hosts-file");
		add_arg(argv, &argc, s->cfg.hosts_file);
	}
	/* the external sites are the hosts file's: a name it lacks must fail here and fast,
	 * never go to the host's resolvers (loopback pods would read its resolv.conf) */
	add_arg(argv, &argc, "--dns-servers");
	add_arg(argv, &argc, EG_RT_DNS_SERVERS);
	if (p->revision[0]) {
		add_arg(argv, &argc, "--revision");
		add_arg(argv, &argc, p->revision);
	}
	argv[argc] = NULL;

	pid = fork();
	if (pid < 0) {
		(void)close(logfd);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		sigset_t none;

		(void)setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		(void)dup2(null, 0);
		(void)dup2(logfd, 1);
		(void)dup2(logfd, 2);
		/* Kubernetes' downward API, and where the pod's identity is */
		setenv("POD_NAME", p->name, 1);
		setenv("POD_NAMESPACE", p->ns, 1);
		setenv("POD_IP", p->ip, 1);
		setenv("SERVICE_ACCOUNT", p->sa, 1);
		setenv("EGRESSD_CERT_DIR", certs, 1);
		if (s->cfg.ca_bundle[0]) {
			setenv("SSL_CERT_FILE", s->cfg.ca_bundle, 1);
			setenv("EGRESSD_CA_BUNDLE", s->cfg.ca_bundle, 1);
		}
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	(void)close(logfd);
	(void)setpgid(pid, pid); /* both sides, so no signal can race it */
	p->pid = pid;
	p->starttime = eg_rt_proc_starttime(pid);
	p->started_ms = now_ms();
	p->restart_at = 0;
	p->ready = false;
	p->ever_started = true;
	p->next_probe = p->started_ms + 50;
	rfc3339(p->started, sizeof(p->started));
	s->state_dirty = true;
	eg_log_info("pod %s/%s: started egressd (pid %ld, %s %s)", p->ns, p->name, (long)pid,
	            eg_rt_role_name(p->role), p->ip);
	return 0;
}

/* Stops the pod's process group: SIGTERM, up to STOP_GRACE_MS, then SIGKILL. */
static void stop_process(struct pod *p)
{
	uint64_t deadline;
	int status;

	if (p->pid <= 0)
		return;
	(void)kill(-p->pid, SIGTERM);
	deadline = now_ms() + STOP_GRACE_MS;
	while (now_ms() < deadline) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);

		if (r == p->pid || (r < 0 && errno == ECHILD))
			goto out_done;
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	(void)kill(-p->pid, SIGKILL);
	(void)waitpid(p->pid, &status, 0);
out_done:
	/* what the pod's process left in its group */
	(void)kill(-p->pid, SIGKILL);
	p->pid = 0;
	p->ready = false;
}

/* Readiness: GET /healthz/ready on POD_IP:15021 answers 200. In netns mode the socket is
 * made in the router's namespace: the probe comes from outside the pod, as the kubelet's
 * does (made inside the pod, the capture rules would send it to the sidecar's 15001). */
static bool probe(struct sup *s, const struct pod *p)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(EG_RT_HEALTH_PORT)};
	struct pollfd pfd;
	char req[128], resp[64];
	int fd = -1, err = 0;
	socklen_t el = sizeof(err);
	bool ok = false;
	ssize_t n;

	if (inet_pton(AF_INET, p->ip, &sa.sin_addr) != 1)
		return false;
	if (s->cfg.mode == EG_RT_NETNS) {
		char path[400];
		int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), target;

		snprintf(path, sizeof(path), "/run/netns/%s", s->net.rtr_ns);
		target = open(path, O_RDONLY | O_CLOEXEC);
		if (self >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0) {
			fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (setns(self, CLONE_NEWNET) < 0) {
				eg_log_error("cannot return to the host's network namespace");
				abort();
			}
		}
		if (self >= 0)
			(void)close(self);
		if (target >= 0)
			(void)close(target);
	} else {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		goto out_close;
	pfd = (struct pollfd){fd, POLLOUT, 0};
	if (poll(&pfd, 1, 200) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err)
		goto out_close;
	snprintf(req, sizeof(req), "GET /healthz/ready HTTP/1.0\r\nHost: %s:%d\r\n\r\n", p->ip,
	         EG_RT_HEALTH_PORT);
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		goto out_close;
	pfd = (struct pollfd){fd, POLLIN, 0};
	if (poll(&pfd, 1, 300) != 1)
		goto out_close;
	n = recv(fd, resp, sizeof(resp) - 1, 0);
	if (n >= 12) {
		resp[n] = '\0';
		ok = strncmp(resp, "HTTP/1.", 7) == 0 && strncmp(resp + 8, " 200", 4) == 0;
	}
out_close:
	(void)close(fd);
	return ok;
}

/* --- Pod objects --- */

static int yaml_str(struct eg_buf *b, const char *s)
{
	int r = eg_buf_putc(b, '"');

	if (r == 0)
		r = eg_buf_json_escape(b, s, strlen(s));
	if (r == 0)
		r = eg_buf_putc(b, '"');
	return r;
}

/* "  key: "value"" lines of a string map, at @indent. */
static int yaml_map(struct eg_buf *b, const char *indent, const struct eg_node *m)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < eg_node_len(m); i++) {
		if (m->v[i]->kind != EG_NODE_SCALAR)
			continue;
		r = eg_buf_printf(b, "%s", indent);
		if (r == 0)
			r = yaml_str(b, m->k[i]->s);
		if (r == 0)
			r = eg_buf_puts(b, ": ");
		if (r == 0)
			r = yaml_str(b, m->v[i]->s);
		if (r == 0)
			r = eg_buf_putc(b, '\n');
	}
	return r;
}

static int pod_yaml(struct sup *s, const struct pod *p, const struct eg_resource *d,
                    struct eg_buf *b)
{
	const struct eg_node *ann = eg_node_path(d->root, "spec.template.metadata.annotations");
	const char *uid = eg_node_str(d->root, "metadata.uid");
	int r;

	r = eg_buf_puts(b, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ");
	if (r == 0)
		r = yaml_str(b, p->name);
	if (r == 0)
		r = eg_buf_puts(b, "\n  namespace: ");
	if (r == 0)
		r = yaml_str(b, p->ns);
	if (r == 0)
		r = eg_buf_printf(b, "\n  labels:\n    %s: \"%s\"\n", EG_RT_LABEL_HASH, p->hash);
	if (r == 0)
		r = yaml_map(b, "    ", p->labels);
	if (r == 0)
		r = eg_buf_printf(b, "  annotations:\n    %s: %s\n", EG_RT_ANN_ROLE,
		                  eg_rt_role_name(p->role));
	if (r == 0 && p->netns[0])
		r = eg_buf_printf(b, "    %s: \"%s\"\n", EG_RT_ANN_NETNS, p->netns);
	if (r == 0)
		r = yaml_map(b, "    ", ann);
	/* Kubernetes' owner is a ReplicaSet; here the Deployment owns its pods directly */
	if (r == 0)
		r = eg_buf_puts(
		        b, "  ownerReferences:\n  - apiVersion: apps/v1\n    kind: Deployment\n"
		           "    controller: true\n    name: ");
	if (r == 0)
		r = yaml_str(b, p->deploy);
	if (r == 0 && uid) {
		r = eg_buf_puts(b, "\n    uid: ");
		if (r == 0)
			r = yaml_str(b, uid);
	}
	if (r == 0)
		r = eg_buf_puts(b, "\nspec:\n  nodeName: local\n  serviceAccountName: ");
	if (r == 0)
		r = yaml_str(b, p->sa);
	if (r == 0)
		r = eg_buf_puts(b, "\n  containers:\n");
	if (r == 0 && p->role != EG_RT_ROLE_GATEWAY) {
		r = eg_buf_puts(b, "  - name: ");
		if (r == 0)
			r = yaml_str(b, p->app);
		if (r == 0)
			r = eg_buf_putc(b, '\n');
	}
	if (r == 0 && p->role != EG_RT_ROLE_NONE) {
		r = eg_buf_puts(b, "  - name: istio-proxy\n    image: egressd\n    args:\n");
		if (r == 0)
			r = eg_buf_printf(b, "    - --role\n    - %s\n", eg_rt_role_name(p->role));
	}
	(void)s;
	return r;
}

static int store_pod(struct sup *s, const struct pod *p, const struct eg_resource *d)
{
	struct eg_parse_opts po = {.default_ns = p->ns};
	struct eg_buf b = EG_BUF_INIT(4u << 20);
	struct eg_resource_set set;
	struct eg_diag diag;
	int outcome = 0, r;

	eg_resource_set_init(&set);
	eg_diag_init(&diag);
	r = pod_yaml(s, p, d, &b);
	if (r == 0)
		r = eg_model_parse("pod", eg_buf_cstr(&b), b.len, &po, &set, &diag);
	if (r == 0)
		r = eg_store_apply(s->store, &set, &outcome, &diag);
	if (r < 0)
		eg_log_error("pod %s/%s: cannot store it: %s\n%s", p->ns, p->name, strerror(-r),
		             eg_diag_text(&diag));
	eg_diag_done(&diag);
	eg_resource_set_done(&set);
	eg_buf_done(&b);
	return r < 0 ? r : 0;
}

static const char *waiting_reason(const struct pod *p)
{
	if (p->role == EG_RT_ROLE_NONE || p->pid)
		return NULL;
	if (!p->ever_started)
		return "ContainerCreating";
	return p->crashes >= 2 ? "CrashLoopBackOff" : "Error";
}

static int container_yaml(struct eg_buf *b, const char *name, bool ready, unsigned restarts,
                          const char *started, const char *waiting)
{
	int r = eg_buf_puts(b, "- name: ");

	if (r == 0)
		r = yaml_str(b, name);
	if (r == 0)
		r = eg_buf_printf(b, "\n  ready: %s\n  restartCount: %u\n  started: %s\n  state:\n",
		                  ready ? "true" : "false", restarts, waiting ? "false" : "true");
	if (r == 0 && waiting)
		r = eg_buf_printf(b, "    waiting:\n      reason: %s\n", waiting);
	else if (r == 0)
		r = eg_buf_printf(b, "    running:\n      startedAt: \"%s\"\n", started);
	return r;
}

/* Writes the pod's status when it differs from what was written last. */
static void update_status(struct sup *s, struct pod *p)
{
	const struct eg_kind *pk = eg_kind_lookup("pods");
	const char *waiting = waiting_reason(p);
	bool proxy_ready = p->role == EG_RT_ROLE_NONE || (p->pid && p->ready);
	const char *phase = p->role != EG_RT_ROLE_NONE && !p->ever_started ? "Pending" : "Running";
	struct eg_buf b = EG_BUF_INIT(1u << 20);
	struct eg_node **docs = NULL;
	size_t ndocs = 0;
	struct eg_diag d;
	char key[512];
	int r;

	if (!p->stored || !pk)
		return;
	snprintf(key, sizeof(key), "%s|%d|%u|%s|%s|%s", phase, proxy_ready, p->restarts,
	         waiting ? waiting : "", p->ip, p->started);
	if (strcmp(key, p->status_key) == 0)
		return;
	r = eg_buf_printf(
	        &b,
	        "phase: %s\nconditions:\n- type: Ready\n  status: \"%s\"\n"
	        "- type: ContainersReady\n  status: \"%s\"\n"
	        "hostIP: \"%s\"\npodIP: \"%s\"\npodIPs:\n- ip: \"%s\"\nstartTime: \"%s\"\n"
	        "containerStatuses:\n",
	        phase, proxy_ready ? "True" : "False", proxy_ready ? "True" : "False",
	        s->cfg.mode == EG_RT_NETNS ? s->net.router : "127.0.0.1", p->ip, p->ip, p->created);
	if (r == 0 && p->role != EG_RT_ROLE_GATEWAY)
		r = container_yaml(&b, p->app, true, 0, p->created, NULL);
	if (r == 0 && p->role != EG_RT_ROLE_NONE)
		r = container_yaml(&b, "istio-proxy", proxy_ready, p->restarts,
		                   p->started[0] ? p->started : p->created, waiting);
	eg_diag_init(&d);
	if (r == 0)
		r = eg_yaml_load("status", eg_buf_cstr(&b), b.len, &d, &docs, &ndocs);
	if (r == 0 && ndocs == 1)
		r = eg_store_set_status(s->store, pk, p->ns, p->name, docs[0], &d);
	if (r >= 0)
		snprintf(p->status_key, sizeof(p->status_key), "%s", key);
	else
		eg_log_warn("pod %s/%s: cannot write its status: %s", p->ns, p->name, strerror(-r));
	for (size_t i = 0; i < ndocs; i++)
		eg_node_free(docs[i]);
	free(docs);
	eg_diag_done(&d);
	eg_buf_done(&b);
}

/* --- reconcile --- */

static const struct eg_resource *find_res(const struct eg_resource_set *set, const char *kind,
                                          const char *ns, const char *name)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct eg_resource *r = set->v[i];

		if (strcmp(r->kind->kind, kind) == 0 && strcmp(r->name, name) == 0 &&
		    (!ns || (r->ns && strcmp(r->ns, ns) == 0)))
			return r;
	}
	return NULL;
}

static bool name_taken(struct sup *s, const struct eg_resource_set *set, const char *name)
{
	char path[400];

	for (size_t i = 0; i < s->npods; i++)
		if (strcmp(s->pods[i]->name, name) == 0)
			return true;
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i]->kind->kind, "Pod") == 0 && strcmp(set->v[i]->name, name) == 0)
			return true;
	snprintf(path, sizeof(path), "/run/netns/%s-%s", s->cfg.prefix, name);
	return s->cfg.mode == EG_RT_NETNS && access(path, F_OK) == 0;
}

/* loopback mode shares 127.0.0.0/8 with everything on the host (another cluster, a test):
 * an address whose proxy ports are taken is not a free pod address. */
static bool address_busy(uint32_t ip)
{
	static const uint16_t ports[] = {EG_RT_OUTBOUND_PORT, EG_RT_HEALTH_PORT, 15000, 15090,
	                                 8080};
	bool busy = false;

	for (size_t i = 0; i < EG_ARRAY_SIZE(ports) && !busy; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
		                         .sin_port = htons(ports[i]),
		                         .sin_addr.s_addr = htonl(ip)};
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return false;
		busy = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == EADDRINUSE;
		(void)close(fd);
	}
	return busy;
}

static int free_slot(struct sup *s, uint32_t *ret)
{
	uint32_t n = eg_rt_slots(&s->pods_net);

	for (uint32_t slot = 0; slot < n; slot++) {
		bool used = false;

		for (size_t i = 0; i < s->npods && !used; i++)
			used = s->pods[i]->slot == slot;
		if (!used && s->cfg.mode == EG_RT_LOOPBACK)
			used = address_busy(eg_rt_slot_ip(&s->pods_net, slot));
		if (!used) {
			*ret = slot;
			return 0;
		}
	}
	return -ENOSPC;
}

/* STORE/cluster/pods/POD, where its certificate and log live. */
static int create_pod_files(struct sup *s, struct pod *p)
{
	char parent[EG_RT_PATH_MAX];
	int n;

	if (eg_rt_path(s->store_dir, "pods", parent, sizeof(parent)) < 0)
		return -ENAMETOOLONG;
	n = snprintf(p->dir, sizeof(p->dir), "%s/%s", parent, p->name);
	if (n < 0 || (size_t)n >= sizeof(p->dir))
		return -ENAMETOOLONG;
	if (mkdir(parent, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (mkdir(p->dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int create_pod(struct sup *s, const struct eg_rt_want *w, const struct eg_resource_set *set)
{
	const struct eg_node *cs = eg_node_path(w->deploy->root, "spec.template.spec.containers");
	const char *app = cs && cs->n ? eg_node_str(cs->v[0], "name") : NULL;
	struct pod *p;
	char suffix[6];
	int r;

	if (s->npods >= EG_RT_MAX_PODS)
		return -ENOSPC;
	if (s->npods == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 16;
		struct pod **nv = realloc(s->pods, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		s->pods = nv;
		s->cap = nc;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->ns, sizeof(p->ns), "%s", w->deploy->ns);
	snprintf(p->deploy, sizeof(p->deploy), "%s", w->deploy->name);
	snprintf(p->hash, sizeof(p->hash), "%s", w->hash);
	snprintf(p->sa, sizeof(p->sa), "%s", w->sa);
	snprintf(p->app, sizeof(p->app), "%s", app ? app : w->deploy->name);
	snprintf(p->revision, sizeof(p->revision), "%s", w->revision ? w->revision : "");
	p->role = w->role;
	for (int tries = 0; tries < 20; tries++) {
		eg_rt_random_suffix(suffix);
		eg_rt_pod_name(p->deploy, p->hash, suffix, p->name, sizeof(p->name));
		if (!name_taken(s, set, p->name))
			break;
	}
	p->labels = eg_node_clone(eg_node_path(w->deploy->root, "spec.template.metadata.labels"));
	r = free_slot(s, &p->slot);
	if (r < 0) {
		eg_log_error("pod range %s is full", s->cfg.pod_cidr);
		pod_free(p);
		return r;
	}
	eg_rt_ip_format(eg_rt_slot_ip(&s->pods_net, p->slot), p->ip, sizeof(p->ip));
	if (s->cfg.mode == EG_RT_NETNS)
		snprintf(p->netns, sizeof(p->netns), "%s-%s", s->cfg.prefix, p->name);
	if (w->role == EG_RT_ROLE_GATEWAY && w->prefix)
		snprintf(p->prefix, sizeof(p->prefix), "%s", w->prefix);
	p->created_ms = now_ms();
	rfc3339(p->created, sizeof(p->created));
	s->pods[s->npods++] = p;
	s->state_dirty = true;

	r = create_pod_files(s, p);
	if (r < 0) {
		p->gone = true;
		return r;
	}
	eg_log_info("pod %s/%s: creating (%s of deployment %s, %s)", p->ns, p->name,
	            eg_rt_role_name(p->role), p->deploy, p->ip);
	if (w->role == EG_RT_ROLE_GATEWAY && !w->prefix)
		eg_log_warn("pod %s/%s: StaticGatewayConfiguration %s has no egressIpPrefix yet: "
		            "the pod waits for it",
		            p->ns, p->name, w->sgc);
	if (p->role != EG_RT_ROLE_NONE)
		(void)issue_cert(s, p);
	if (s->cfg.mode == EG_RT_NETNS) {
		r = rt_net_pod_up(&s->net, p->netns, p->slot, p->ip, p->role,
		                  p->prefix[0] ? p->prefix : NULL, s->hosts_text);
		p->net_up = true; /* even half made: removing it must run */
		if (r < 0) {
			eg_log_error("pod %s/%s: network setup failed", p->ns, p->name);
			p->gone = true;
			return r;
		}
	}
	r = store_pod(s, p, w->deploy);
	if (r < 0) {
		p->gone = true;
		return r;
	}
	p->stored = true;
	/* as on AKS, a gateway pod waits in ContainerCreating until its SGC has a prefix (the
	 * prefix is part of the template hash: its arrival brings a new pod that starts) */
	if (p->role != EG_RT_ROLE_NONE && !(p->role == EG_RT_ROLE_GATEWAY && !p->prefix[0])) {
		r = spawn(s, p);
		if (r < 0)
			p->restart_at = now_ms() + EG_RT_BACKOFF_MIN_MS;
	}
	update_status(s, p);
	return 0;
}

/* A gateway pod went away: a remaining pod with the same prefix gets its route. */
static void reroute_prefix(struct sup *s, const struct pod *gone)
{
	for (size_t i = 0; i < s->npods; i++) {
		const struct pod *p = s->pods[i];

		if (p != gone && !p->gone && p->net_up && strcmp(p->prefix, gone->prefix) == 0) {
			(void)rt_net_prefix_route(&s->net, p->ip, p->prefix);
			return;
		}
	}
}

/* Stops and removes every pod marked gone (process, namespace, files, Pod object). */
static void remove_gone(struct sup *s)
{
	const struct eg_kind *pk = eg_kind_lookup("pods");
	size_t keep = 0;

	/* first everything outside the list, which stays whole for reroute_prefix */
	for (size_t i = 0; i < s->npods; i++) {
		struct pod *p = s->pods[i];

		if (!p->gone)
			continue;
		eg_log_info("pod %s/%s: removing", p->ns, p->name);
		stop_process(p);
		if (p->net_up)
			rt_net_pod_down(&s->net, p->netns, p->ip, p->prefix[0] ? p->prefix : NULL);
		if (p->net_up && p->prefix[0])
			reroute_prefix(s, p);
		if (p->stored && pk) {
			struct eg_store_ref ref = {pk, p->ns, p->name};
			int res;

			(void)eg_store_delete(s->store, &ref, 1, &res);
		}
		if (p->dir[0]) {
			char cmd_dir[EG_RT_PATH_MAX + 16];
			char *argv[] = {"rm", "-rf", "--", cmd_dir, NULL};

			snprintf(cmd_dir, sizeof(cmd_dir), "%s", p->dir);
			(void)eg_rt_run(argv, NULL, -1);
		}
		s->state_dirty = true;
	}
	for (size_t i = 0; i < s->npods; i++) {
		if (s->pods[i]->gone)
			pod_free(s->pods[i]);
		else
			s->pods[keep++] = s->pods[i];
	}
	s->npods = keep;
}

/* The revisions whose namespaces get sidecars: the cluster's, and those of the management
 * plane's settings (kube-system/egressd-cluster data.revisions) during an upgrade. */
static size_t revisions(struct sup *s, const struct eg_resource_set *set, const char **revs,
                        char (*buf)[64], size_t max)
{
	const struct eg_resource *cm = find_res(set, "ConfigMap", "kube-system", "egressd-cluster");
	const char *list = cm ? eg_node_str(cm->root, "data.revisions") : NULL;
	size_t n = 0;

	revs[n++] = s->cfg.revision;
	for (const char *q = list; q && *q && n < max;) {
		size_t len = strcspn(q, ", []\"");

		if (len > 0 && len < 64) {
			memcpy(buf[n], q, len);
			buf[n][len] = '\0';
			revs[n] = buf[n];
			n++;
		}
		q += len;
		q += strspn(q, ", []\"");
	}
	return n;
}

struct addr_ctx {
	const char *value; /* NULL: remove */
};

static int set_addresses(struct eg_node *root, void *ctx)
{
	const struct addr_ctx *a = ctx;
	struct eg_node *meta = eg_node_get(root, "metadata"), *ann;
	const char *cur;

	if (!meta)
		return -EINVAL;
	ann = eg_node_get(meta, "annotations");
	cur = eg_rt_map_str(ann, EG_RT_ANN_POD_ADDRESSES);
	if (!a->value) {
		if (!cur)
			return 0;
		eg_node_map_del(ann, EG_RT_ANN_POD_ADDRESSES);
		return 1;
	}
	if (cur && strcmp(cur, a->value) == 0)
		return 0;
	if (!ann) {
		struct eg_node *m = eg_node_new_map();

		if (!m || eg_node_map_put(meta, "annotations", m) < 0) {
			eg_node_free(m);
			return -ENOMEM;
		}
		ann = eg_node_get(meta, "annotations");
	}
	return eg_node_map_set_str(ann, EG_RT_ANN_POD_ADDRESSES, a->value) < 0 ? -ENOMEM : 1;
}

static int ip_cmp(const void *a, const void *b)
{
	uint32_t x = 0, y = 0;

	(void)eg_rt_ip_parse(*(const char *const *)a, &x);
	(void)eg_rt_ip_parse(*(const char *const *)b, &y);
	return x < y ? -1 : x > y;
}

/* Every Service with a selector gets egressd.io/pod-addresses: the addresses of the live
 * pods of its namespace that it selects (the endpoints the sidecars route to). */
static void update_services(struct sup *s, const struct eg_resource_set *set)
{
	const struct eg_kind *sk = eg_kind_lookup("services");
	const char **ips = calloc(s->npods + 1, sizeof(*ips));

	for (size_t i = 0; ips && sk && i < set->n; i++) {
		const struct eg_resource *svc = set->v[i];
		const struct eg_node *sel = eg_node_path(svc->root, "spec.selector");
		const struct eg_node *ann = eg_node_path(svc->root, "metadata.annotations");
		const char *cur = eg_rt_map_str(ann, EG_RT_ANN_POD_ADDRESSES);
		struct eg_buf b = EG_BUF_INIT(1u << 20);
		struct addr_ctx ctx = {NULL};
		struct eg_diag d;
		size_t n = 0;

		if (strcmp(svc->kind->kind, "Service") != 0 || !svc->ns || eg_node_len(sel) == 0)
			continue;
		for (size_t j = 0; j < s->npods; j++) {
			const struct pod *p = s->pods[j];
			bool match = !p->gone && strcmp(p->ns, svc->ns) == 0;

			for (size_t k = 0; match && k < sel->n; k++) {
				const char *v = eg_rt_map_str(p->labels, sel->k[k]->s);

				match = v && sel->v[k]->kind == EG_NODE_SCALAR &&
				        strcmp(v, sel->v[k]->s) == 0;
			}
			if (match)
				ips[n++] = p->ip;
		}
		qsort(ips, n, sizeof(*ips), ip_cmp);
		for (size_t j = 0; j < n; j++)
			(void)eg_buf_printf(&b, "%s%s", j ? "," : "", ips[j]);
		ctx.value = n ? eg_buf_cstr(&b) : NULL;
		if ((!ctx.value && cur) || (ctx.value && (!cur || strcmp(cur, ctx.value) != 0))) {
			int r;

			eg_diag_init(&d);
			r = eg_store_modify(s->store, sk, svc->ns, svc->name, set_addresses, &ctx,
			                    &d);
			if (r < 0 && r != -ENOENT)
				eg_log_warn("service %s/%s: cannot set %s: %s", svc->ns, svc->name,
				            EG_RT_ANN_POD_ADDRESSES, strerror(-r));
			eg_diag_done(&d);
		}
		eg_buf_done(&b);
	}
	free(ips);
}

/* netns: the internet accepts the egress prefixes of every StaticGatewayConfiguration. */
static void update_firewall(struct sup *s, const struct eg_resource_set *set)
{
	struct eg_buf b = EG_BUF_INIT(sizeof(s->firewall) - 1);

	if (s->cfg.mode != EG_RT_NETNS)
		return;
	for (size_t i = 0; i < set->n; i++) {
		const struct eg_resource *r = set->v[i];
		const char *pfx;

		if (strcmp(r->kind->kind, "StaticGatewayConfiguration") != 0)
			continue;
		pfx = eg_node_str(r->root, "status.egressIpPrefix");
		if (pfx && pfx[0])
			(void)eg_buf_printf(&b, "%s%s", b.len ? "," : "", pfx);
	}
	if (strcmp(eg_buf_cstr(&b), s->firewall) != 0) {
		if (rt_net_firewall(&s->net, eg_buf_cstr(&b)) == 0) {
			snprintf(s->firewall, sizeof(s->firewall), "%s", eg_buf_cstr(&b));
			eg_log_info("internet firewall: accepting %s",
			            s->firewall[0] ? s->firewall : "no egress prefix");
		}
	}
	eg_buf_done(&b);
}

/* What the proxies are configured from: every object but Pods, by name and generation
 * (which grows with spec and data changes only: the status and annotation writes of the
 * cluster itself leave it alone). */
static uint64_t config_fingerprint(const struct eg_resource_set *set)
{
	uint64_t h = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct eg_resource *r = set->v[i];
		char key[640];
		int n;

		if (strcmp(r->kind->kind, "Pod") == 0)
			continue;
		n = snprintf(key, sizeof(key), "%s/%s/%s/%lld", r->kind->kind, r->ns ? r->ns : "",
		             r->name, (long long)eg_node_int(r->root, "metadata.generation", 0));
		/* order-independent: the sum of the objects' hashes */
		h += eg_hash(key, (size_t)EG_MIN(n, (int)sizeof(key) - 1));
	}
	return h;
}

/* A new configuration may be what a crash-looping egressd was missing (a gateway without a
 * Gateway server has no listener): its pods start at once instead of at the end of their
 * backoff, which may be 30 s. */
static void retry_on_new_config(struct sup *s, const struct eg_resource_set *set)
{
	uint64_t print = config_fingerprint(set), now = now_ms();

	if (print == s->config_print)
		return;
	s->config_print = print;
	for (size_t i = 0; i < s->npods; i++) {
		struct pod *p = s->pods[i];

		if (!p->pid && p->restart_at > now) {
			eg_log_info("pod %s/%s: configuration changed, restarting now", p->ns,
			            p->name);
			p->restart_at = now;
		}
	}
}

static void remember_deploys(struct sup *s, const struct eg_rt_want *want, size_t n)
{
	struct deploy_ref *v = calloc(n + 1, sizeof(*v));

	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		snprintf(v[i].ns, sizeof(v[i].ns), "%s", want[i].deploy->ns);
		snprintf(v[i].name, sizeof(v[i].name), "%s", want[i].deploy->name);
		v[i].replicas = want[i].replicas;
	}
	free(s->deploys);
	s->deploys = v;
	s->ndeploys = n;
	s->deploy_print = 0; /* the set may differ: write (unchanged statuses cost no write) */
}

static void deploy_counts(const struct sup *s, const struct deploy_ref *d, unsigned *ret_have,
                          unsigned *ret_ready)
{
	*ret_have = *ret_ready = 0;
	for (size_t i = 0; i < s->npods; i++) {
		const struct pod *p = s->pods[i];

		if (p->gone || strcmp(p->ns, d->ns) != 0 || strcmp(p->deploy, d->name) != 0)
			continue;
		(*ret_have)++;
		if (p->role == EG_RT_ROLE_NONE || (p->pid && p->ready))
			(*ret_ready)++;
	}
}

/* Deployments get kubectl's READY/UP-TO-DATE/AVAILABLE from their pods, written when the
 * counts change. */
static void update_deploy_status(struct sup *s)
{
	const struct eg_kind *dk = eg_kind_lookup("deployments");
	uint64_t print = 1;
	bool ok = true;

	for (size_t i = 0; i < s->ndeploys; i++) {
		unsigned have, ready;

		deploy_counts(s, &s->deploys[i], &have, &ready);
		print = print * 1000003 + ((uint64_t)have << 20 | ready) + i;
	}
	if (!dk || print == s->deploy_print)
		return;
	for (size_t i = 0; i < s->ndeploys; i++) {
		struct eg_node **docs = NULL;
		size_t ndocs = 0;
		unsigned have, ready;
		struct eg_diag d;
		char text[512];
		int r;

		deploy_counts(s, &s->deploys[i], &have, &ready);
		snprintf(text, sizeof(text),
		         "replicas: %u\nupdatedReplicas: %u\nreadyReplicas: %u\navailableReplicas: "
		         "%u\n",
		         have, have, ready, ready);
		eg_diag_init(&d);
		r = eg_yaml_load("status", text, strlen(text), &d, &docs, &ndocs);
		if (r == 0 && ndocs == 1)
			r = eg_store_set_status(s->store, dk, s->deploys[i].ns, s->deploys[i].name,
			                        docs[0], &d);
		if (r < 0 && r != -ENOENT)
			ok = false;
		for (size_t k = 0; k < ndocs; k++)
			eg_node_free(docs[k]);
		free(docs);
		eg_diag_done(&d);
	}
	if (ok)
		s->deploy_print = print;
}

static void reconcile(struct sup *s)
{
	struct eg_resource_set set;
	struct eg_rt_want *want = NULL;
	const char *revs[8];
	char revbuf[8][64];
	size_t nwant = 0, nrevs;
	struct eg_diag d;
	uint64_t gen = 0;
	int r;

	s->last_reconcile = now_ms();
	s->resync = false;
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	r = eg_store_load(s->store, &set, &gen, &d);
	if (r < 0 && r != -EINVAL) {
		eg_log_error("cannot load the store: %s", strerror(-r));
		s->resync = true;
		goto out_free;
	}
	retry_on_new_config(s, &set);
	nrevs = revisions(s, &set, revs, revbuf, EG_ARRAY_SIZE(revs));
	r = eg_rt_plan(&set, revs, nrevs, &want, &nwant);
	if (r < 0) {
		s->resync = true;
		goto out_free;
	}
	/* a Pod deleted by hand is replaced, as its Deployment would */
	for (size_t i = 0; i < s->npods; i++) {
		struct pod *p = s->pods[i];
		const struct eg_rt_want *w = NULL;

		if (p->stored && !find_res(&set, "Pod", p->ns, p->name)) {
			eg_log_info("pod %s/%s: deleted from the store", p->ns, p->name);
			p->gone = true;
			continue;
		}
		for (size_t j = 0; j < nwant && !w; j++)
			if (strcmp(want[j].deploy->ns, p->ns) == 0 &&
			    strcmp(want[j].deploy->name, p->deploy) == 0)
				w = &want[j];
		if (!w || strcmp(w->hash, p->hash) != 0)
			p->gone = true;
	}
	remove_gone(s);
	for (size_t j = 0; j < nwant; j++) {
		const struct eg_rt_want *w = &want[j];
		size_t have = 0;

		for (size_t i = 0; i < s->npods; i++)
			if (strcmp(s->pods[i]->ns, w->deploy->ns) == 0 &&
			    strcmp(s->pods[i]->deploy, w->deploy->name) == 0)
				have++;
		/* scale down: the newest pods go first */
		for (size_t i = s->npods; i-- > 0 && have > w->replicas;) {
			struct pod *p = s->pods[i];

			if (strcmp(p->ns, w->deploy->ns) == 0 &&
			    strcmp(p->deploy, w->deploy->name) == 0) {
				p->gone = true;
				have--;
			}
		}
		remove_gone(s);
		while (have < w->replicas) {
			r = create_pod(s, w, &set);
			if (r < 0) {
				/* retried at the next resync; what was made half is removed */
				remove_gone(s);
				s->resync = true;
				break;
			}
			have++;
		}
	}
	remember_deploys(s, want, nwant);
	update_services(s, &set);
	update_firewall(s, &set);
out_free:
	free(want);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
}

/* --- signals and the loop --- */

static void reap(struct sup *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < s->npods; i++) {
			struct pod *p = s->pods[i];
			uint64_t now = now_ms(), delay;

			if (p->pid != pid)
				continue;
			if (now - p->started_ms >= EG_RT_BACKOFF_RESET_MS)
				p->crashes = 0;
			p->crashes++;
			p->restarts++;
			p->pid = 0;
			p->ready = false;
			delay = eg_rt_backoff_ms(p->crashes);
			p->restart_at = now + delay;
			s->state_dirty = true;
			if (WIFSIGNALED(status))
				eg_log_warn("pod %s/%s: egressd killed by signal %d; restart in "
				            "%llu ms",
				            p->ns, p->name, WTERMSIG(status),
				            (unsigned long long)delay);
			else
				eg_log_warn("pod %s/%s: egressd exited with status %d; restart in "
				            "%llu ms",
				            p->ns, p->name, WEXITSTATUS(status),
				            (unsigned long long)delay);
		}
	}
}

/* Timers: restarts, probes, certificate renewal. Returns the ms until the next one. */
static int run_timers(struct sup *s)
{
	uint64_t now = now_ms(), next = now + 1000;
	time_t wall = time(NULL);

	for (size_t i = 0; i < s->npods; i++) {
		struct pod *p = s->pods[i];

		if (p->role == EG_RT_ROLE_NONE)
			continue;
		if (!p->pid && p->restart_at && now >= p->restart_at) {
			if (spawn(s, p) < 0)
				p->restart_at = now + eg_rt_backoff_ms(++p->crashes);
		}
		if (p->pid && now >= p->next_probe) {
			bool ok = probe(s, p);

			if (ok != p->ready) {
				p->ready = ok;
				s->state_dirty = true;
				eg_log_info("pod %s/%s: %s", p->ns, p->name,
				            ok ? "ready" : "not ready");
			}
			p->next_probe = now_ms() + (ok ? PROBE_SLOW_MS : PROBE_FAST_MS);
		}
		if (p->cert_rotate && wall >= p->cert_rotate)
			(void)issue_cert(s, p);
		if (p->restart_at && !p->pid)
			next = EG_MIN(next, p->restart_at);
		if (p->pid)
			next = EG_MIN(next, p->next_probe);
		update_status(s, p);
	}
	update_deploy_status(s);
	if (s->state_dirty)
		write_state(s);
	now = now_ms();
	return next > now ? (int)EG_MIN(next - now, 1000u) : 0;
}

static void shutdown_all(struct sup *s)
{
	for (size_t i = 0; i < s->npods; i++)
		s->pods[i]->gone = true;
	remove_gone(s);
	if (s->cfg.mode == EG_RT_NETNS) {
		rt_net_del(2, s->net.inet_ns);
		rt_net_del(2, s->net.rtr_ns);
		rt_net_del_prefix(2, s->cfg.prefix);
	}
	rt_cleanup(s->store_dir, &s->cfg, 2);
}

static void ready_say(int *fd, const char *msg)
{
	if (*fd < 0)
		return;
	(void)write(*fd, msg, strlen(msg));
	(void)close(*fd);
	*fd = -1;
}

int eg_rt_supervise(const char *store_dir, int ready_fd)
{
	struct sup sup = {.store_dir = store_dir, .watch_fd = -1, .sig_fd = -1};
	struct sup *s = &sup;
	char path[EG_RT_PATH_MAX], msg[EG_RT_PATH_MAX + 128];
	sigset_t mask;
	bool stop = false;
	int r, code = 1;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	eg_log_info("supervisor %ld starting for %s", (long)getpid(), store_dir);
	r = eg_rt_config_load(store_dir, &s->cfg);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "error: cannot read the cluster config: %s\n",
		         strerror(-r));
		goto out_fail;
	}
	if (eg_rt_net_parse(s->cfg.pod_cidr, &s->pods_net) < 0) {
		snprintf(msg, sizeof(msg), "error: bad pod range %.31s\n", s->cfg.pod_cidr);
		goto out_fail;
	}
	r = eg_store_open(store_dir, 0, &s->store);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "error: cannot open the store: %s\n", strerror(-r));
		goto out_fail;
	}
	s->watch_fd = eg_store_watch_open(s->store);
	snprintf(path, sizeof(path), "%s/ca", store_dir);
	r = eg_tls_ca_load(path, &s->ca);
	if (r < 0)
		eg_log_warn("no mesh CA in %s (%s): pods get no certificates", path, strerror(-r));
	r = rt_hosts_text(&s->cfg, &s->hosts_text);
	if (r < 0) {
		snprintf(msg, sizeof(msg), "error: cannot read %.200s: %s\n", s->cfg.hosts_file,
		         strerror(-r));
		goto out_fail;
	}
	if (s->cfg.mode == EG_RT_NETNS) {
		rt_net_init(&s->net, &s->cfg, 2);
		s->state_dirty = true;
		write_state(s); /* before anything exists: down must find it all */
		r = rt_net_base_up(&s->net, s->hosts_text);
		if (r < 0) {
			snprintf(msg, sizeof(msg),
			         "error: cannot build the network namespaces (see the log)\n");
			goto out_fail;
		}
	} else {
		rt_net_init(&s->net, &s->cfg, 2);
	}
	s->state_dirty = true;
	reconcile(s);
	(void)run_timers(s);
	ready_say(&ready_fd, "ok\n");
	eg_log_info("supervisor running (%s mode, %zu pods)", eg_rt_mode_name(s->cfg.mode),
	            s->npods);

	while (!stop) {
		struct pollfd pfd[2] = {{s->sig_fd, POLLIN, 0}, {s->watch_fd, POLLIN, 0}};
		int timeout = run_timers(s);
		uint64_t now;

		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					reap(s);
				else if (si.ssi_signo == SIGHUP)
					s->resync = true;
				else
					stop = true;
			}
		}
		if (stop)
			break;
		now = now_ms();
		if (((pfd[1].revents & POLLIN) && eg_store_watch_changed(s->watch_fd) > 0) ||
		    (s->resync && now - s->last_reconcile >= 1000) ||
		    now - s->last_reconcile >= RESYNC_MS)
			reconcile(s);
	}
	eg_log_info("supervisor stopping: removing %zu pods", s->npods);
	shutdown_all(s);
	code = 0;
	goto out_close;
out_fail:
	eg_log_error("%s", msg);
	ready_say(&ready_fd, msg);
	if (s->cfg.prefix[0])
		shutdown_all(s);
out_close:
	ready_say(&ready_fd, "error: stopped\n");
	if (eg_rt_path(store_dir, "supervisor.pid", path, sizeof(path)) == 0)
		(void)unlink(path);
	for (size_t i = 0; i < s->npods; i++)
		pod_free(s->pods[i]);
	free(s->pods);
	free(s->deploys);
	free(s->hosts_text);
	eg_tls_ca_free(s->ca);
	if (s->watch_fd >= 0)
		(void)close(s->watch_fd);
	if (s->sig_fd >= 0)
		(void)close(s->sig_fd);
	eg_store_close(s->store);
	return code;
}
