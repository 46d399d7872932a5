/* src/proxy/proxy.h: the egressd data plane: the control thread (snapshot hand-off,
 * listener reconciliation, signals, admin ports) and the worker threads (HTTP/1.1 proxying,
 * TLS/TCP relaying, upstream pools, load balancing, access log and metrics).
 * May include: core, net, http, tls, dns, policy, compile, telemetry.
 *
 * The store is not known here (the module rules forbid it): the caller hands a load()
 * callback that compiles a fresh snapshot, and optionally a descriptor that becomes readable
 * when the configuration changed (the store's inotify fd). docs/running.md shows the binary
 * that wires the two together. */
#ifndef EG_PROXY_PROXY_H
#define EG_PROXY_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "compile/compile.h"
#include "tls/tls.h"

/* Defaults of issue 4. */
#define EG_PROXY_HEADER_TIMEOUT_MS  15000u   /* request head must arrive within */
#define EG_PROXY_IDLE_TIMEOUT_MS    3600000u /* keep-alive idle, when the DR sets none */
#define EG_PROXY_CONNECT_TIMEOUT_MS 5000u    /* when the DR sets no connectTimeout */
#define EG_PROXY_DRAIN_MS           5000u    /* SIGTERM: in-flight requests get this long */
#define EG_PROXY_ADMIN_PORT         15000
#define EG_PROXY_HEALTH_PORT        15021
#define EG_PROXY_PROM_PORT          15090

struct eg_proxy_config {
	enum eg_role role;
	const char *pod_ip;     /* address every listener binds; NULL: 127.0.0.1 */
	unsigned workers;       /* 0: one per core */
	const char *access_log; /* overrides the snapshot's path ("/dev/stdout", a file) */
	const char *hosts_file; /* /etc/hosts format, consulted before DNS; or NULL */
	const char *dns_servers; /* "127.0.0.1:5353" (c-ares CSV); NULL: resolv.conf */
	/* Control thread: builds the current configuration. 0 with *ret (one reference), or
	 * < 0 after the callee logged why (then the last good snapshot keeps serving). */
	int (*load)(void *ctx, struct eg_snapshot **ret);
	void *load_ctx;
	/* A descriptor that becomes readable on a change (or -1), and how to drain it:
	 * > 0 when a reload is due. */
	int watch_fd;
	int (*watch_changed)(int fd);
	uint64_t drain_ms; /* 0: EG_PROXY_DRAIN_MS */
	/* TLS (docs/running.md "TLS"): the workload certificate directory (cert.pem, key.pem,
	 * ca.pem; watched for rotation), the extra origination CA bundle, and the lookup of
	 * credentialName Secrets (control thread, during a load or right after it). */
	const char *cert_dir;
	const char *ca_bundle;
	eg_tls_secret_fn tls_secret;
	void *tls_secret_data;
};

/* Loads the first snapshot, opens the listeners and the admin ports, runs the workers and
 * serves until SIGTERM/SIGINT, then drains. SIGHUP reloads (as does @watch_fd). Returns
 * the process exit status: 0 after a clean stop, 1 when the first load or a listener
 * failed (logged). */
int eg_proxy_run(const struct eg_proxy_config *cfg);

#endif /* EG_PROXY_PROXY_H */
