/* src/cmd/egressd.c: main() of egressd: flags, and the store <-> proxy wiring (the proxy
 * module may not know the store: it gets a load() callback and the store's watch fd). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compile/compile.h"
#include "core/compiler.h"
#include "core/log.h"
#include "model/diag.h"
#include "model/kinds.h"
#include "model/model.h"
#include "model/node.h"
#include "proxy/proxy.h"
#include "store/store.h"

#ifndef EG_VERSION
#define EG_VERSION "0.1.0"
#endif

int main(int argc, char **argv);

struct opts {
	const char *store, *role, *name, *ns, *sa, *workload, *pod_ip, *log_level, *access_log;
	const char *hosts_file, *revision, *dns_servers, *cert_dir, *ca_bundle;
	unsigned workers;
	bool validate;
};

struct loader {
	struct eg_store *store;
	struct eg_proxy_id who;
	bool quiet_warnings;
	/* the resource set of the last good load: credentialName Secrets are looked up in it
	 * (the snapshot does not carry Secrets) */
	struct eg_resource_set set;
	bool has_set;
};

/* What this build can do, for `egressd --version` (scripts/demo reads the word "tls"). */
#define EG_FEATURES "http tls tls-passthrough istio-mutual tls-origination"

/* The TLS contexts' Secret lookup over the last loaded resource set (tls.md): stringData
 * first, as Kubernetes lets it win over data. */
static int secret_lookup(void *data, const char *ns, const char *name, const char *key,
                         struct eg_tls_secret_value *ret)
{
	struct loader *ld = data;
	struct eg_resource *r;
	const struct eg_node *m, *v;

	if (!ld->has_set)
		return -ENOENT;
	r = eg_resource_set_find(&ld->set, &eg_kind_secret, ns, name);
	if (!r)
		return -ENOENT;
	m = eg_node_get(r->root, "stringData");
	if (m && (v = eg_node_get(m, key)) && v->kind == EG_NODE_SCALAR) {
		*ret = (struct eg_tls_secret_value){v->s, v->len, false};
		return 0;
	}
	m = eg_node_get(r->root, "data");
	if (m && (v = eg_node_get(m, key)) && v->kind == EG_NODE_SCALAR) {
		*ret = (struct eg_tls_secret_value){v->s, v->len, true};
		return 0;
	}
	return -ENODATA;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: egressd --store DIR --role gateway --name NAME --namespace NS [options]\n"
	        "       egressd --store DIR --role sidecar --namespace NS --service-account SA "
	        "[--workload NAME] [options]\n"
	        "\n"
	        "options:\n"
	        "  --pod-ip ADDR         address the listeners bind (default 127.0.0.1)\n"
	        "  --workers N           worker threads (default: one per core)\n"
	        "  --log-level LEVEL     error, warn, info (default), debug\n"
	        "  --access-log PATH     access log file (overrides MeshConfig accessLogFile)\n"
	        "  --hosts-file PATH     static name resolution (/etc/hosts format), before DNS\n"
	        "  --dns-servers LIST    DNS servers (\"127.0.0.1:53,[::1]:53\"; default "
	        "resolv.conf)\n"
	        "  --revision REV        Istio revision (default %s)\n"
	        "  --cert-dir DIR        workload certificate (cert.pem, key.pem, ca.pem), watched "
	        "for\n"
	        "                        rotation (default $EGRESSD_CERT_DIR)\n"
	        "  --ca-bundle FILE      extra CAs trusted for TLS origination, with the OS "
	        "bundle\n"
	        "                        (default $EGRESSD_CA_BUNDLE)\n"
	        "  --validate            compile this proxy's configuration, print diagnostics, "
	        "exit 0/1\n"
	        "  --version, --help\n"
	        "\n"
	        "ports: 15001 (sidecar capture and explicit proxy) or the gateway Service "
	        "targetPorts,\n"
	        "15000 admin (127.0.0.1 unless --pod-ip is a loopback address), 15021 "
	        "/healthz/ready,\n"
	        "15090 /stats/prometheus. SIGHUP reloads, SIGTERM drains (5 s) and exits.\n",
	        EG_DEFAULT_REVISION);
}

/* Loads the store and compiles this proxy's snapshot; prints every diagnostic line. */
static int load(void *ctx, struct eg_snapshot **ret)
{
	struct loader *ld = ctx;
	struct eg_resource_set set;
	struct eg_diag d;
	uint64_t gen = 0;
	int r;

	eg_resource_set_init(&set);
	eg_diag_init(&d);
	r = eg_store_load(ld->store, &set, &gen, &d);
	if (r < 0) {
		eg_log_error("store %s: cannot load the configuration (%s)",
		             eg_store_dir(ld->store), strerror(-r));
		goto out;
	}
	ld->who.version = gen;
	r = eg_compile(&set, &ld->who, ret, &d);
	if (r < 0) {
		eg_log_error("compile of generation %llu failed (%s)", (unsigned long long)gen,
		             strerror(-r));
	} else {
		/* keep this set for the Secret lookups of the contexts built from the snapshot */
		if (ld->has_set)
			eg_resource_set_done(&ld->set);
		ld->set = set;
		ld->has_set = true;
		eg_resource_set_init(&set);
	}
out:
	if (d.out.len && (r < 0 || !ld->quiet_warnings)) {
		/* every diagnostic line, as egressctl prints them */
		const char *p = eg_diag_text(&d);

		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);

			eg_log(r < 0 ? EG_LOG_ERROR : EG_LOG_WARN, "%.*s", (int)n, p);
			p += n + (nl ? 1 : 0);
		}
	}
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	return r < 0 ? r : 0;
}

static const char *need(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "egressd: %s needs a value\n", argv[*i]);
		exit(2);
	}
	return argv[++*i];
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct loader ld = {0};
	struct eg_proxy_config cfg = {0};
	int r, rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--version") == 0) {
			printf("egressd %s\nfeatures: %s\n", EG_VERSION, EG_FEATURES);
			return 0;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--store") == 0) {
			o.store = need(argc, argv, &i);
		} else if (strcmp(a, "--role") == 0) {
			o.role = need(argc, argv, &i);
		} else if (strcmp(a, "--name") == 0) {
			o.name = need(argc, argv, &i);
		} else if (strcmp(a, "--namespace") == 0 || strcmp(a, "-n") == 0) {
			o.ns = need(argc, argv, &i);
		} else if (strcmp(a, "--service-account") == 0) {
			o.sa = need(argc, argv, &i);
		} else if (strcmp(a, "--workload") == 0) {
			o.workload = need(argc, argv, &i);
		} else if (strcmp(a, "--pod-ip") == 0) {
			o.pod_ip = need(argc, argv, &i);
		} else if (strcmp(a, "--workers") == 0) {
			const char *v = need(argc, argv, &i);
			uint64_t n;

			if (eg_parse_u64(eg_str_c(v), 256, &n) < 0 || n == 0) {
				fprintf(stderr, "egressd: --workers %s: expected 1..256\n", v);
				return 2;
			}
			o.workers = (unsigned)n;
		} else if (strcmp(a, "--log-level") == 0) {
			o.log_level = need(argc, argv, &i);
		} else if (strcmp(a, "--access-log") == 0) {
			o.access_log = need(argc, argv, &i);
		} else if (strcmp(a, "--hosts-file") == 0) {
			o.hosts_file = need(argc, argv, &i);
		} else if (strcmp(a, "--dns-servers") == 0) {
			o.dns_servers = need(argc, argv, &i);
		} else if (strcmp(a, "--revision") == 0) {
			o.revision = need(argc, argv, &i);
		} else if (strcmp(a, "--cert-dir") == 0) {
			o.cert_dir = need(argc, argv, &i);
		} else if (strcmp(a, "--ca-bundle") == 0) {
			o.ca_bundle = need(argc, argv, &i);
		} else if (strcmp(a, "--validate") == 0) {
			o.validate = true;
		} else {
			fprintf(stderr, "egressd: unknown argument %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (o.log_level) {
		enum eg_log_level l;

		if (eg_log_level_parse(o.log_level, &l) < 0) {
			fprintf(stderr,
			        "egressd: --log-level %s: expected error, warn, info or debug\n",
			        o.log_level);
			return 2;
		}
		eg_log_level = l;
	}
	if (!o.store || !o.role || !o.ns) {
		fprintf(stderr, "egressd: --store, --role and --namespace are required\n");
		usage(stderr);
		return 2;
	}
	if (strcmp(o.role, "gateway") == 0) {
		if (!o.name) {
			fprintf(stderr, "egressd: --role gateway needs --name\n");
			return 2;
		}
		ld.who.role = EG_ROLE_GATEWAY;
		ld.who.name = o.name;
	} else if (strcmp(o.role, "sidecar") == 0) {
		if (!o.sa && !o.workload) {
			fprintf(stderr, "egressd: --role sidecar needs --service-account (or "
			                "--workload)\n");
			return 2;
		}
		ld.who.role = EG_ROLE_SIDECAR;
		ld.who.name = o.workload;
		ld.who.service_account = o.sa;
	} else {
		fprintf(stderr, "egressd: --role %s: expected gateway or sidecar\n", o.role);
		return 2;
	}
	ld.who.ns = o.ns;
	ld.who.revision = o.revision;
	r = eg_store_open(o.store, 0, &ld.store);
	if (r < 0) {
		fprintf(stderr, "egressd: store %s: %s\n", o.store, strerror(-r));
		return 1;
	}
	if (o.validate) {
		struct eg_snapshot *s = NULL;

		r = load(&ld, &s);
		if (r == 0)
			printf("egressd: configuration of %s %s/%s is valid (generation %llu)\n",
			       o.role, o.ns, o.name ? o.name : (o.sa ? o.sa : ""),
			       (unsigned long long)eg_snapshot_version(s));
		eg_snapshot_unref(s);
		if (ld.has_set)
			eg_resource_set_done(&ld.set);
		eg_store_close(ld.store);
		return r == 0 ? 0 : 1;
	}
	cfg.role = ld.who.role;
	cfg.pod_ip = o.pod_ip;
	cfg.workers = o.workers;
	cfg.access_log = o.access_log;
	cfg.hosts_file = o.hosts_file;
	cfg.dns_servers = o.dns_servers;
	cfg.load = load;
	cfg.load_ctx = &ld;
	cfg.cert_dir = o.cert_dir ? o.cert_dir : getenv("EGRESSD_CERT_DIR");
	cfg.ca_bundle = o.ca_bundle ? o.ca_bundle : getenv("EGRESSD_CA_BUNDLE");
	cfg.tls_secret = secret_lookup;
	cfg.tls_secret_data = &ld;
	cfg.watch_fd = eg_store_watch_open(ld.store);
	if (cfg.watch_fd < 0)
		eg_log_warn("store %s: no change watch (%s); reload with SIGHUP", o.store,
		            strerror(-cfg.watch_fd));
	cfg.watch_changed = eg_store_watch_changed;
	rc = eg_proxy_run(&cfg);
	if (cfg.watch_fd >= 0)
		close(cfg.watch_fd);
	if (ld.has_set)
		eg_resource_set_done(&ld.set);
	eg_store_close(ld.store);
	return rc;
}
