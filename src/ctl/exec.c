/* src/ctl/exec.c: `egressctl exec`: runs a command as a pod of the local cluster: inside
 * its network namespace (netns mode, where the capture rules send its TCP to the sidecar),
 * or with its sidecar as the HTTP proxy (loopback mode). The exit code is the command's. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl/ctl.h"
#include "runtime/runtime.h"
#include "store/store.h"

static int name_cmp(const void *a, const void *b)
{
	const struct eg_resource *x = *(struct eg_resource *const *)a;
	const struct eg_resource *y = *(struct eg_resource *const *)b;

	return strcmp(x->name, y->name);
}

static bool owned_by(const struct eg_resource *pod, const char *deploy)
{
	const struct eg_node *refs = eg_node_path(pod->root, "metadata.ownerReferences");

	for (size_t i = 0; i < eg_node_len(refs); i++) {
		const char *kind = eg_node_str(refs->v[i], "kind");
		const char *name = eg_node_str(refs->v[i], "name");

		if (kind && name && strcmp(kind, "Deployment") == 0 && strcmp(name, deploy) == 0)
			return true;
	}
	return false;
}

int eg_ctl_find_pods(struct eg_store *s, const char *ns, const char *target, const char *selector,
                     struct eg_resource_set *out)
{
	const struct eg_kind *pk = eg_kind_lookup("pods");
	struct eg_rt_selector sel = {0};
	struct eg_resource_set all;
	const char *deploy = NULL, *pod = NULL;
	struct eg_diag d;
	int r;

	if (!pk)
		return -ENOENT;
	if (selector && eg_rt_selector_parse(selector, &sel) < 0) {
		eg_ctl_err("-l %s: not a label selector", selector);
		return -EINVAL;
	}
	if (target) {
		const char *slash = strchr(target, '/');

		if (!slash)
			pod = target;
		else if (strncmp(target, "pod/", 4) == 0 || strncmp(target, "pods/", 5) == 0 ||
		         strncmp(target, "po/", 3) == 0)
			pod = slash + 1;
		else if (strncmp(target, "deploy/", 7) == 0 ||
		         strncmp(target, "deployment/", 11) == 0 ||
		         strncmp(target, "deployments/", 12) == 0)
			deploy = slash + 1;
		else {
			eg_ctl_err("%s: give pod/NAME, deploy/NAME or a pod name", target);
			return -EINVAL;
		}
	}
	eg_resource_set_init(&all);
	eg_diag_init(&d);
	r = eg_store_list(s, pk, ns, &all, &d);
	for (size_t i = 0; r >= 0 && i < all.n; i++) {
		struct eg_resource *p = all.v[i];

		if (pod && strcmp(p->name, pod) != 0)
			continue;
		if (deploy && !owned_by(p, deploy))
			continue;
		if (!eg_rt_selector_match(&sel, eg_node_path(p->root, "metadata.labels")))
			continue;
		r = eg_resource_set_add(out, p);
		if (r == 0)
			all.v[i] = NULL; /* moved */
	}
	/* the set frees what it holds: compact the moved entries away first */
	{
		size_t k = 0;

		for (size_t i = 0; i < all.n; i++)
			if (all.v[i])
				all.v[k++] = all.v[i];
		all.n = k;
	}
	eg_resource_set_done(&all);
	eg_diag_done(&d);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), name_cmp);
	return r < 0 ? r : 0;
}

/* The local cluster's configuration when its supervisor runs; prints why not. */
int eg_ctl_cluster_config(const struct eg_ctl *ctl, char *store, size_t len,
                          struct eg_rt_config *cfg)
{
	if (eg_ctl_cluster_store(ctl, store, len) < 0)
		return -ENOENT;
	if (eg_rt_running(store, NULL) != 1 || eg_rt_config_load(store, cfg) < 0) {
		eg_ctl_err("the local cluster is not running (egressctl cluster up)");
		return -ENOENT;
	}
	return 0;
}

static bool pod_ready(const struct eg_resource *p)
{
	const struct eg_node *conds = eg_node_path(p->root, "status.conditions");

	for (size_t i = 0; i < eg_node_len(conds); i++) {
		const char *type = eg_node_str(conds->v[i], "type");
		const char *st = eg_node_str(conds->v[i], "status");

		if (type && st && strcmp(type, "Ready") == 0)
			return strcmp(st, "True") == 0;
	}
	return false;
}

#define EXEC_USAGE "exec [-n NS] [-c CONTAINER] [-i] [-t] deploy/NAME|pod/NAME|NAME -- CMD..."

int eg_ctl_exec(struct eg_ctl *ctl, int argc, char **argv)
{
	const char *ns = "default", *target = NULL;
	struct eg_resource_set pods;
	struct eg_rt_config cfg;
	struct eg_resource *pod = NULL;
	struct eg_store *s = NULL;
	char store[PATH_MAX], proxy[64];
	const char *netns, *role, *ip;
	int i = 1, cmd = -1;

	if (eg_ctl_help(ctl, "exec", argc, argv))
		return EG_EXIT_OK;
	for (; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			cmd = i + 1;
			break;
		}
		if ((strcmp(a, "-n") == 0 || strcmp(a, "--namespace") == 0) && i + 1 < argc)
			ns = argv[++i];
		else if (strncmp(a, "--namespace=", 12) == 0)
			ns = a + 12;
		else if ((strcmp(a, "-c") == 0 || strcmp(a, "--container") == 0) && i + 1 < argc)
			i++; /* one command line for the whole pod: the container is not chosen */
		else if (strncmp(a, "--container=", 12) == 0 || strcmp(a, "-i") == 0 ||
		         strcmp(a, "-t") == 0 || strcmp(a, "-it") == 0 || strcmp(a, "-ti") == 0 ||
		         strcmp(a, "--stdin") == 0 || strcmp(a, "--tty") == 0)
			continue;
		else if (a[0] == '-') {
			eg_ctl_err("exec: unknown flag %s", a);
			return eg_ctl_usage(ctl, "exec");
		} else if (!target)
			target = a;
		else {
			cmd = i; /* kubectl's old form without "--" */
			break;
		}
	}
	if (!target || cmd < 0 || cmd >= argc)
		return eg_ctl_usage(ctl, "exec");
	if (eg_ctl_cluster_config(ctl, store, sizeof(store), &cfg) < 0)
		return EG_EXIT_REFUSED;
	if (eg_store_open(store, 0, &s) < 0) {
		eg_ctl_err("cannot open the store %s", store);
		return EG_EXIT_REFUSED;
	}
	eg_resource_set_init(&pods);
	if (eg_ctl_find_pods(s, ns, target, NULL, &pods) < 0) {
		eg_resource_set_done(&pods);
		eg_store_close(s);
		return EG_EXIT_REFUSED;
	}
	/* deploy/NAME: a ready pod first, as kubectl picks a running one */
	for (size_t k = 0; k < pods.n && !pod; k++)
		if (pod_ready(pods.v[k]))
			pod = pods.v[k];
	if (!pod && pods.n)
		pod = pods.v[0];
	if (!pod) {
		const char *slash = strchr(target, '/');

		fprintf(stderr, "Error from server (NotFound): %s \"%s\" not found\n",
		        strncmp(target, "deploy", 6) == 0 ? "deployments.apps" : "pods",
		        slash ? slash + 1 : target);
		eg_resource_set_done(&pods);
		eg_store_close(s);
		return EG_EXIT_REFUSED;
	}
	netns = eg_rt_map_str(eg_node_path(pod->root, "metadata.annotations"), EG_RT_ANN_NETNS);
	role = eg_rt_map_str(eg_node_path(pod->root, "metadata.annotations"), EG_RT_ANN_ROLE);
	ip = eg_node_str(pod->root, "status.podIP");
	fflush(NULL);
	if (cfg.mode == EG_RT_NETNS) {
		char **args = calloc((size_t)(argc - cmd) + 5, sizeof(*args));

		if (!netns || !args) {
			eg_ctl_err("pod %s has no network namespace", pod->name);
			free(args);
			return EG_EXIT_REFUSED;
		}
		args[0] = "ip";
		args[1] = "netns";
		args[2] = "exec";
		args[3] = (char *)netns;
		for (int k = cmd; k < argc; k++)
			args[4 + k - cmd] = argv[k];
		setenv("POD_NAME", pod->name, 1);
		setenv("POD_NAMESPACE", ns, 1);
		if (ip)
			setenv("POD_IP", ip, 1);
		execvp("ip", args);
		eg_ctl_err("cannot run ip netns exec: %s", strerror(errno));
		return 127;
	}
	if (role && strcmp(role, "sidecar") == 0 && ip) {
		/* loopback mode has no capture: the application uses its sidecar as a proxy */
		snprintf(proxy, sizeof(proxy), "http://%s:%d", ip, EG_RT_OUTBOUND_PORT);
		setenv("http_proxy", proxy, 1);
		setenv("https_proxy", proxy, 1);
		setenv("HTTP_PROXY", proxy, 1);
		setenv("HTTPS_PROXY", proxy, 1);
		setenv("no_proxy", "127.0.0.1,localhost", 1);
		setenv("NO_PROXY", "127.0.0.1,localhost", 1);
		unsetenv("ALL_PROXY");
		unsetenv("all_proxy");
	}
	setenv("POD_NAME", pod->name, 1);
	setenv("POD_NAMESPACE", ns, 1);
	if (ip)
		setenv("POD_IP", ip, 1);
	execvp(argv[cmd], argv + cmd);
	eg_ctl_err("%s: %s", argv[cmd], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
