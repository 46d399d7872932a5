/* src/runtime/runtime-int.h: what the files of src/runtime share (private to it). */
#ifndef EG_RUNTIME_RUNTIME_INT_H
#define EG_RUNTIME_RUNTIME_INT_H

#include "core/compiler.h"
#include "runtime/runtime.h"

/* Runs a command given as one printf-style line, split at spaces (every argument we pass
 * is a name, an address or a number: none holds a space). Output goes to @log_fd. The
 * exit status, or -errno. */
int rt_cmd(int log_fd, const char *fmt, ...) EG_PRINTF(2, 3);

/* --- netns.c --- */

struct rt_net {
	const struct eg_rt_config *cfg;
	struct eg_rt_net pods; /* the pod range */
	char router[16];       /* the bridge's address: pods' default gateway */
	char rtr_ns[32];       /* PREFIX-rtr */
	char inet_ns[32];      /* PREFIX-inet */
	int log_fd;
};

int rt_net_init(struct rt_net *n, const struct eg_rt_config *cfg, int log_fd);
/* The router with its bridge, the internet namespace with the hosts-file addresses and its
 * firewall (no egress prefix accepted yet). 0 or -EIO (logged). */
int rt_net_base_up(struct rt_net *n, const char *hosts_text);
/* Rewrites the internet firewall to accept connections from @prefixes (comma-separated
 * addresses or CIDRs, may be empty). 0 or -EIO. */
int rt_net_firewall(struct rt_net *n, const char *prefixes);
/* A pod's namespace @netns on the bridge at @ip (slot @slot names its router-side link),
 * with the hosts entries, and: sidecar: outbound TCP redirected to 15001 except uid 1337
 * and 127.0.0.0/8; gateway: @prefix (may be NULL) local in the pod and routed to it. */
int rt_net_pod_up(struct rt_net *n, const char *netns, uint32_t slot, const char *ip,
                  enum eg_rt_role role, const char *prefix, const char *hosts_text);
/* Routes @prefix to the gateway pod at @ip (another replica took over). */
int rt_net_prefix_route(struct rt_net *n, const char *ip, const char *prefix);
void rt_net_pod_down(struct rt_net *n, const char *netns, const char *ip, const char *prefix);
/* Kills every process inside namespace /run/netns/@netns (SIGKILL), then deletes it and
 * /etc/netns/@netns. */
void rt_net_del(int log_fd, const char *netns);
/* rt_net_del for every namespace named PREFIX-*. */
void rt_net_del_prefix(int log_fd, const char *prefix);

/* The hosts file every pod sees: localhost, then the cluster's entries. */
int rt_hosts_text(const struct eg_rt_config *cfg, char **ret);

/* --- control.c --- */

/* Removes what a supervisor left (processes of the state file, namespaces by prefix, Pod
 * objects and pod-address annotations in the store, the state file). */
void rt_cleanup(const char *store_dir, const struct eg_rt_config *cfg, int log_fd);
/* Reads a whole small file into a NUL-terminated heap buffer. 0 or -errno. */
int rt_read_file(const char *path, size_t max, char **ret);
/* Writes @text to @path through a temporary file and rename(2). 0 or -errno. */
int rt_write_file(const char *path, const char *text, mode_t mode);

#endif /* EG_RUNTIME_RUNTIME_INT_H */
