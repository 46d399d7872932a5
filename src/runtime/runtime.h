/* src/runtime/runtime.h: the local cluster: a supervisor that turns the store's Deployments
 * into pods (egressd processes on loopback addresses, or network namespaces on a bridge),
 * restarts them, and records them as Pod objects. docs/reference/cluster.md is the contract.
 * May include: core, net, store, model, compile, tls.
 *
 * Files (STORE is the store directory):
 *   STORE/cluster/config          what `cluster up` fixed (key value lines)
 *   STORE/cluster/supervisor.pid  "PID STARTTIME" of the running supervisor
 *   STORE/cluster/supervisor.log  its log (and every problem it met)
 *   STORE/cluster/state           what exists now: namespaces made, pods with their pids
 *                                 (rewritten atomically on every change; `down` reads it)
 *   STORE/cluster/hosts           the --hosts-file entries, as every egressd sees them
 *   STORE/cluster/ca-bundle.pem   the system roots plus --ca-bundle (SSL_CERT_FILE)
 *   STORE/cluster/pods/POD/       certs/ (workload certificate), egressd.log (stdout+stderr)
 *
 * Library rules apply: nothing here prints; the supervisor logs through core/log.h to its
 * own stderr, which is supervisor.log. */
#ifndef EG_RUNTIME_RUNTIME_H
#define EG_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/model.h"

#define EG_RT_DIR              "cluster"
#define EG_RT_PATH_MAX         1024
#define EG_RT_PREFIX_MAX       8 /* interface names: PREFIX-vNNNNN fits IFNAMSIZ */
#define EG_RT_DEFAULT_PREFIX   "egd"
#define EG_RT_LOOPBACK_PODS    "127.0.64.0/18"
#define EG_RT_NETNS_PODS       "198.18.0.0/17"
#define EG_RT_LOOPBACK_POOL    "127.0.16.0/20"   /* the mesh's default egress pool */
#define EG_RT_NETNS_POOL       "198.18.240.0/20" /* egress prefixes in netns mode */
#define EG_RT_INET_LINK_RTR    "198.19.255.253"  /* router end of the internet link (/30) */
#define EG_RT_INET_LINK_INET   "198.19.255.254"  /* internet end */
#define EG_RT_DEFAULT_REV      "asm-1-24"
#define EG_RT_PROXY_UID        1337 /* egressd in netns mode; exempt from capture */
#define EG_RT_OUTBOUND_PORT    15001
#define EG_RT_HEALTH_PORT      15021
#define EG_RT_DNS_SERVERS      "127.0.0.1:53" /* --dns-servers of every egressd */
#define EG_RT_MAX_PODS         1024
#define EG_RT_BACKOFF_FIRST_MS 250   /* the first restart after a crash that ended a good run */
#define EG_RT_BACKOFF_MIN_MS   1000  /* then 1 s, doubling */
#define EG_RT_BACKOFF_MAX_MS   30000
#define EG_RT_BACKOFF_RESET_MS 10000 /* a process that ran this long starts over */

/* Annotations and labels the local cluster reads or writes. */
#define EG_RT_ANN_POD_ADDRESSES "egressd.io/pod-addresses" /* on Services: pod IPs */
#define EG_RT_ANN_NETNS         "egressd.io/netns"         /* on Pods: the network namespace */
#define EG_RT_ANN_ROLE          "egressd.io/role"          /* on Pods: gateway|sidecar|none */
#define EG_RT_ANN_SGC           "kubernetes.azure.com/static-gateway-configuration"
#define EG_RT_ANN_INJECT        "sidecar.istio.io/inject"
#define EG_RT_LABEL_REV         "istio.io/rev"
#define EG_RT_LABEL_HASH        "pod-template-hash"

enum eg_rt_mode {
	EG_RT_LOOPBACK,
	EG_RT_NETNS,
};

enum eg_rt_role {
	EG_RT_ROLE_NONE,    /* a workload without a sidecar: no process */
	EG_RT_ROLE_SIDECAR, /* a workload with its egressd sidecar */
	EG_RT_ROLE_GATEWAY, /* an egress gateway pod: egressd alone */
};

/* What `cluster up` fixed; the supervisor and every later command read it back. */
struct eg_rt_config {
	enum eg_rt_mode mode;
	char prefix[EG_RT_PREFIX_MAX + 1]; /* names of namespaces and links: PREFIX-... */
	char pod_cidr[32];                 /* IPv4 CIDR the pod addresses come from */
	char revision[32];                 /* istio.io/rev value that gets sidecars */
	char egressd[EG_RT_PATH_MAX];      /* the egressd binary */
	char hosts_file[EG_RT_PATH_MAX];   /* STORE/cluster/hosts, or "" */
	char ca_bundle[EG_RT_PATH_MAX];    /* STORE/cluster/ca-bundle.pem, or "" */
	unsigned workers;                  /* --workers of every egressd */
};

/* --- plan.c: pure helpers (unit-tested) --- */

const char *eg_rt_mode_name(enum eg_rt_mode m);
int eg_rt_mode_parse(const char *s, enum eg_rt_mode *ret);
const char *eg_rt_role_name(enum eg_rt_role r);
/* Defaults for @mode: prefix egd, the mode's pod range, asm-1-24, one worker. */
void eg_rt_config_default(struct eg_rt_config *c, enum eg_rt_mode mode);
/* 1..8 of [a-z0-9], starting with a letter. */
bool eg_rt_prefix_valid(const char *p);
/* Serialises @c as "key value" lines into @buf / parses them back. 0, -E2BIG, -EINVAL. */
int eg_rt_config_format(const struct eg_rt_config *c, char *buf, size_t len);
int eg_rt_config_parse(const char *text, struct eg_rt_config *ret);

/* An IPv4 network in host byte order. */
struct eg_rt_net {
	uint32_t base;
	unsigned len;
};
/* "A.B.C.D/N" (host bits must be clear) into @ret. 0 or -EINVAL. */
int eg_rt_net_parse(const char *s, struct eg_rt_net *ret);
int eg_rt_ip_parse(const char *s, uint32_t *ret);
void eg_rt_ip_format(uint32_t ip, char *buf, size_t len);
bool eg_rt_net_contains(const struct eg_rt_net *n, uint32_t ip);
bool eg_rt_net_overlap(const struct eg_rt_net *a, const struct eg_rt_net *b);
/* Pod slots of @n: slot 0 is the first pod address (network + 2; network + 1 is the
 * router/bridge in netns mode); the broadcast address is never handed out. */
uint32_t eg_rt_slots(const struct eg_rt_net *n);
uint32_t eg_rt_slot_ip(const struct eg_rt_net *n, uint32_t slot);

/* Kubernetes-style names: the pod-template-hash of @text (10 characters of
 * "bcdfghjklmnpqrstvwxz2456789") and DEPLOY-HASH-XXXXX with 5 random characters. */
void eg_rt_template_hash(const char *text, size_t len, char out[11]);
/* Writes "DEPLOY-HASH-SUFFIX" (DEPLOY cut so the whole fits in 63 characters, as
 * Kubernetes does for generated names). */
void eg_rt_pod_name(const char *deploy, const char *hash, const char *suffix, char *out,
                    size_t len);
void eg_rt_random_suffix(char out[6]);

/* map[@key] as text when it is a scalar (keys may hold dots: "istio.io/rev"). */
const char *eg_rt_map_str(const struct eg_node *map, const char *key);

/* A label selector of `-l`: "k=v,k2==v2,k3!=v3,k4,!k5". */
#define EG_RT_SEL_MAX 16
struct eg_rt_selector {
	size_t n;
	struct {
		char key[254];
		char value[64];
		enum {
			EG_RT_SEL_EQ,
			EG_RT_SEL_NE,
			EG_RT_SEL_EXISTS,
			EG_RT_SEL_ABSENT
		} op;
	} req[EG_RT_SEL_MAX];
};
int eg_rt_selector_parse(const char *s, struct eg_rt_selector *ret);
/* Whether the label map @labels (may be NULL) satisfies every requirement. */
bool eg_rt_selector_match(const struct eg_rt_selector *sel, const struct eg_node *labels);

/* The restart delay after the @n-th consecutive crash (n >= 1): 1 s, 2 s, 4 s ... 30 s. */
uint64_t eg_rt_backoff_ms(unsigned n);

/* Hosts files (/etc/hosts format). Checks every line of @text: an IPv4 address then one or
 * more names; comments and blank lines pass. In loopback mode (@loopback) each address
 * must be in 127.0.0.0/8 (the external sites live on the host's loopback). On failure
 * @why gets "line N: what". 0 or -EINVAL. Addresses found are returned through @cb. */
int eg_rt_hosts_check(const char *text, bool loopback, char *why, size_t whylen,
                      void (*cb)(uint32_t ip, void *ctx), void *ctx);

/* One pod the cluster should run, derived from a Deployment. */
struct eg_rt_want {
	const struct eg_resource *deploy;
	enum eg_rt_role role;
	char hash[11]; /* pod-template-hash */
	unsigned replicas;
	const char *sa;       /* service account ("default" when unset) */
	const char *revision; /* sidecar: the namespace's istio.io/rev; gateway: its label */
	const char *sgc;      /* gateway: the StaticGatewayConfiguration name */
	const char *prefix;   /* gateway: that SGC's status.egressIpPrefix, or NULL */
};

/* What @set asks for: a pod group per Deployment that is an egress gateway (pod template
 * annotation EG_RT_ANN_SGC) or lives in a namespace labelled istio.io/rev with one of
 * @revs (@nrevs values). The array is sorted by namespace, then name; the caller frees it.
 * Its pointers point into @set. 0 or -ENOMEM. */
int eg_rt_plan(const struct eg_resource_set *set, const char *const *revs, size_t nrevs,
               struct eg_rt_want **ret, size_t *ret_n);

/* --- control.c: what the CLI calls (`egressctl cluster ...`) --- */

/* STORE/cluster/NAME into @buf. 0 or -ENAMETOOLONG. */
int eg_rt_path(const char *store_dir, const char *name, char *buf, size_t len);
int eg_rt_config_load(const char *store_dir, struct eg_rt_config *ret);
/* 1 and *ret_pid when the supervisor of @store_dir runs, 0 when not, -errno. */
int eg_rt_running(const char *store_dir, pid_t *ret_pid);

struct eg_rt_up {
	struct eg_rt_config cfg;
	const char *hosts_src; /* --hosts-file as given, or NULL */
	const char *ca_src;    /* --ca-bundle as given, or NULL */
};

/* Starts the supervisor in the background for @store_dir (which must exist), after
 * removing what a dead one left. Returns when it has realized the store once: 0 and
 * *ret_pid; -EALREADY (*ret_pid runs already); or -errno with @why saying what failed. */
int eg_rt_up(const char *store_dir, struct eg_rt_up *up, pid_t *ret_pid, char *why, size_t whylen);
/* Stops the supervisor (SIGTERM; it removes what it made) and then removes whatever is
 * left by the state file and by prefix: processes, namespaces, /etc/netns entries, the
 * Pod objects and the pod-address annotations. Idempotent. *ret_was_running tells
 * whether a supervisor ran. 0 or -errno (@why). */
int eg_rt_down(const char *store_dir, bool *ret_was_running, char *why, size_t whylen);

/* One pod of the state file. */
struct eg_rt_pod_state {
	char ns[64];
	char name[254];
	char ip[16];
	char netns[300]; /* "" in loopback mode */
	char status[32]; /* Running, Pending, CrashLoopBackOff, ... */
	enum eg_rt_role role;
	pid_t pid;          /* 0 while no process runs */
	uint64_t starttime; /* of pid (eg_rt_proc_starttime), to never signal a reused pid */
	unsigned restarts;
	bool ready;
};

struct eg_rt_state {
	pid_t supervisor;
	uint64_t supervisor_start;
	struct eg_rt_pod_state *pods;
	size_t npods;
	char (*netns)[300]; /* namespaces made */
	size_t nnetns;
};

int eg_rt_state_load(const char *store_dir, struct eg_rt_state *ret);
void eg_rt_state_done(struct eg_rt_state *st);
int eg_rt_state_format(const struct eg_rt_state *st, const struct eg_rt_config *c, char **ret_text);
int eg_rt_state_parse(const char *text, struct eg_rt_state *ret);

/* The internet namespace's name ("PREFIX-inet") and the router's ("PREFIX-rtr"). */
void eg_rt_netns_name(const struct eg_rt_config *c, const char *what, char *buf, size_t len);

/* --- supervisor.c --- */

/* The supervisor's main loop (the daemon `eg_rt_up` forks runs it). Writes "ok\n" to
 * @ready_fd after the first reconcile, or "error: WHY\n" when it cannot start, then closes
 * it. Runs until SIGTERM or SIGINT, then removes everything it made. Returns the process
 * exit status. */
int eg_rt_supervise(const char *store_dir, int ready_fd);

/* --- proc.c: processes --- */

/* Field 22 of /proc/PID/stat (start time in clock ticks), 0 when the process is gone. */
uint64_t eg_rt_proc_starttime(pid_t pid);
/* Runs @argv (argv[0] looked up in PATH) and waits for it, stdin from /dev/null, stdout
 * and stderr appended to @out_fd (-1: /dev/null), @input (may be NULL) written to its
 * stdin. Returns its exit status (0..255), 128+signal, or -errno. */
int eg_rt_run(char *const argv[], const char *input, int out_fd);
/* Sends @sig to process group @pid (and @pid) when its start time is still @starttime. */
void eg_rt_kill_checked(pid_t pid, uint64_t starttime, int sig);

#endif /* EG_RUNTIME_RUNTIME_H */
