/* src/compile/compile.h: Istio resources -> the immutable snapshot one proxy enforces.
 *
 * eg_compile() is a pure function (no sockets, no clock, no globals): it reads the
 * validated resources of a store and one proxy's identity, and builds a snapshot. A
 * snapshot is immutable and reference counted (atomics), so any thread may drop the last
 * reference. Everything it points to lives as long as the snapshot. The tables below are
 * read-only values for the data plane; the lookups (listener by port, virtual host by
 * authority, route by request, SNI chain, cluster by name) are hash lookups, never scans of
 * all routes. docs/reference/snapshot.md documents every field and the JSON dump.
 * May include: core, model. */
#ifndef EG_COMPILE_COMPILE_H
#define EG_COMPILE_COMPILE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"
#include "model/model.h"

#define EG_DEFAULT_REVISION   "asm-1-24"
#define EG_ROOT_NAMESPACE     "aks-istio-system"
#define EG_POD_ADDRESSES_ANNO "egressd.io/pod-addresses"
#define EG_SGC_ANNO           "kubernetes.azure.com/static-gateway-configuration"
#define EG_CAPTURE_PORT       15001

/* Limits of what one compile builds (exceeding one fails with -E2BIG and a diagnostic). */
#define EG_COMPILE_MAX_LABELS  512    /* labels of one proxy */
#define EG_COMPILE_MAX_OBJECTS 200000 /* resources of one kind */

enum eg_role {
	EG_ROLE_SIDECAR,
	EG_ROLE_GATEWAY,
};

struct eg_label {
	const char *key;
	const char *value;
};

/* Who the snapshot is for. Strings are borrowed for the duration of eg_compile(). */
struct eg_proxy_id {
	enum eg_role role;
	const char *ns; /* required */
	/* gateway: the Deployment name (asm-egress-test-asm-1-24) or the egress gateway name
	 * (asm-egress-test: the Deployment NAME-REVISION is looked up); sidecar: optional
	 * workload (Deployment) whose pod template gives labels and service account. */
	const char *name;
	const char *service_account;   /* sidecar; NULL: the workload's, else "default" */
	const struct eg_label *labels; /* extra pod labels (they win over the workload's) */
	size_t nlabels;
	const char *revision; /* NULL: EG_DEFAULT_REVISION */
	uint64_t version;     /* the store generation, copied into the snapshot */
};

/* --- the snapshot's tables (read-only) --- */

enum eg_policy_mode {
	EG_POLICY_ALLOW_ANY,
	EG_POLICY_REGISTRY_ONLY,
};

struct eg_identity {
	enum eg_role role;
	const char *ns;
	const char *name;         /* gateway: Deployment name; sidecar: workload or "" */
	const char *gateway_name; /* gateway: egress gateway name (Service name); else NULL */
	const char *service_account;
	const char *trust_domain;
	const char *spiffe_id; /* spiffe://TD/ns/NS/sa/SA */
	const char *revision;
	const struct eg_label *labels; /* sorted by key */
	size_t nlabels;
	uint64_t version;
};

struct eg_outbound_policy {
	enum eg_policy_mode mode;
	const char *source;       /* "default", "MeshConfig ConfigMap NS/NAME", "Sidecar NS/NAME" */
	const char *egress_proxy; /* ALLOW_ANY via Sidecar egressProxy: cluster name, or NULL */
};

enum eg_log_encoding {
	EG_LOG_TEXT,
	EG_LOG_JSON,
};

struct eg_access_log {
	bool enabled;
	const char *path; /* "/dev/stdout", a file; NULL when disabled */
	enum eg_log_encoding encoding;
	const char *format; /* NULL: Istio's default for the encoding */
	const char *filter; /* Telemetry CEL filter expression, kept for the data plane */
	const char *source; /* "default", "MeshConfig ...", "Telemetry NS/NAME" */
};

struct eg_egress_source {
	const char *sgc;    /* StaticGatewayConfiguration name from the pod annotation, or NULL */
	const char *prefix; /* status.egressIpPrefix, or NULL */
	const char *status; /* "ok", "no-annotation", "not-found", "no-prefix" */
};

enum eg_smatch_kind {
	EG_SMATCH_ANY, /* unset */
	EG_SMATCH_EXACT,
	EG_SMATCH_PREFIX,
	EG_SMATCH_REGEX,   /* full match, POSIX ERE (Istio's RE2 subset we accept) */
	EG_SMATCH_PRESENT, /* header present (empty StringMatch) */
};

struct eg_smatch {
	enum eg_smatch_kind kind;
	bool ignore_case;
	const char *value; /* exact/prefix text, or the regex source */
	size_t len;
	regex_t *re; /* EG_SMATCH_REGEX */
};

struct eg_header_match {
	const char *name; /* lowercase */
	struct eg_smatch m;
	bool absent; /* withoutHeaders: matches when the header does NOT match m */
};

/* One VS HTTPMatchRequest (conditions ANDed). port, gateways, sourceLabels and
 * sourceNamespace are decided at compile time; port is kept for display. */
struct eg_route_match {
	const char *name;
	struct eg_smatch uri;
	struct eg_smatch scheme;
	struct eg_smatch method;
	struct eg_smatch authority;
	const struct eg_header_match *headers;
	size_t nheaders;
	const struct eg_header_match *query; /* query parameters (exact/regex) */
	size_t nquery;
	uint16_t port;
};

struct eg_cluster;

struct eg_weighted_cluster {
	const char *name;                 /* outbound|PORT|SUBSET|HOST */
	const struct eg_cluster *cluster; /* NULL: no such cluster (503 NC) */
	uint32_t weight;
	const char *host;
	const char *subset; /* "" when none */
	uint16_t port;
};

struct eg_kv {
	const char *key;
	const char *value;
};

struct eg_header_ops {
	const struct eg_kv *set;
	size_t nset;
	const struct eg_kv *add;
	size_t nadd;
	const char *const *remove;
	size_t nremove;
};

enum eg_action {
	EG_ACTION_ROUTE,    /* clusters */
	EG_ACTION_REDIRECT, /* redirect */
	EG_ACTION_DIRECT,   /* direct response */
};

struct eg_route {
	const char *name; /* VS rule name, "default", "allow_any", "block_all" */
	const char *vs;   /* "NAME.NS" of the VirtualService, NULL for generated routes */
	const struct eg_route_match *matches; /* ORed; none = matches everything */
	size_t nmatches;
	enum eg_action action;
	const struct eg_weighted_cluster *clusters;
	size_t nclusters;
	uint32_t total_weight;
	int64_t timeout_ns; /* 0: no route timeout */
	struct {
		uint32_t attempts;
		int64_t per_try_timeout_ns; /* 0: the route timeout */
		const char *retry_on;
	} retries;
	struct {
		const char *uri; /* replaces the matched prefix (or the path) */
		const char *authority;
	} rewrite;
	struct {
		const char *uri;
		const char *authority;
		const char *scheme;
		uint16_t port;
		uint16_t code;
	} redirect;
	struct {
		uint16_t status;
		const char *body;
	} direct;
	const char *deny_reason; /* generated deny (block_all): why, for header and log */
	struct eg_header_ops request_headers;
	struct eg_header_ops response_headers;
};

struct eg_vhost {
	const char *name; /* "host:port" */
	const char *const *domains;
	size_t ndomains;
	const struct eg_route *routes; /* first match wins */
	size_t nroutes;
	const char *vs; /* "NAME.NS" when built from a VirtualService */
};

struct eg_index; /* private hash index */

struct eg_route_table {
	const char *name; /* sidecar: "80"; gateway: "http.8080" or "https.80.SERVER.GW.NS" */
	uint16_t port;
	const struct eg_vhost *vhosts; /* sorted by name */
	size_t nvhosts;
	const struct eg_vhost *catch_all; /* allow_any / block_all, or NULL (gateway: 404 NR) */
	const struct eg_index *domains;   /* private: domain -> vhost */
};

/* TCP proxying decision: weighted clusters (a VS tcp/tls rule, or a default). */
struct eg_tcp_route {
	const char *name; /* "default", VS rule name, or the cluster name for fallbacks */
	const char *vs;   /* "NAME.NS" or NULL */
	const struct eg_weighted_cluster *clusters;
	size_t nclusters;
	uint32_t total_weight;
};

struct eg_sni_route {
	const char *sni; /* "edition.cnn.com", "*.example.com" or "*" */
	const struct eg_tcp_route *route;
};

struct eg_addr_route {
	const char *cidr; /* as written: "10.0.0.1", "192.168.0.0/16" */
	uint8_t family;   /* AF_INET or AF_INET6 */
	uint8_t prefix;   /* bits */
	uint8_t addr[16];
	const struct eg_tcp_route *route;
};

enum eg_chain_proto {
	EG_CHAIN_HTTP, /* route table by authority */
	EG_CHAIN_TLS,  /* TLS not terminated: SNI chains */
	EG_CHAIN_TCP,  /* opaque */
};

/* What to do with a connection once the port (and filter chain) is known. */
struct eg_chain {
	enum eg_chain_proto proto;
	const struct eg_route_table *http; /* EG_CHAIN_HTTP */
	const struct eg_sni_route *sni;    /* EG_CHAIN_TLS, sorted by sni */
	size_t nsni;
	const struct eg_index *sni_index;    /* private */
	const struct eg_tcp_route *tcp;      /* EG_CHAIN_TCP: the route; NULL -> fallback */
	const struct eg_tcp_route *fallback; /* no SNI/route match: Passthrough/BlackHole; NULL:
	                                      * close the connection (gateway, NR) */
};

/* Sidecar: one entry per destination port of the capture listener. */
struct eg_port_entry {
	uint16_t port;
	const struct eg_addr_route *by_addr; /* destination-address routes, checked first */
	size_t nby_addr;
	struct eg_chain chain;
};

enum eg_server_tls_mode {
	EG_SERVER_TLS_NONE, /* plain */
	EG_SERVER_TLS_PASSTHROUGH,
	EG_SERVER_TLS_SIMPLE,
	EG_SERVER_TLS_MUTUAL,
	EG_SERVER_TLS_ISTIO_MUTUAL,
	EG_SERVER_TLS_AUTO_PASSTHROUGH,
};

struct eg_server_tls {
	enum eg_server_tls_mode mode;
	bool https_redirect;
	const char *credential_name; /* Secret in the gateway's namespace */
	const char *server_certificate;
	const char *private_key;
	const char *ca_certificates;
	const char *const *subject_alt_names;
	size_t nsubject_alt_names;
	const char *min_version;
	const char *max_version;
	const char *const *cipher_suites;
	size_t ncipher_suites;
};

/* Gateway: one filter chain per group of servers sharing TLS settings on a port. */
struct eg_filter_chain {
	const char *const *server_names; /* SNI to match (TLS servers); none = any */
	size_t nserver_names;
	struct eg_server_tls tls;
	const char *gateway;      /* "NS/NAME" of the Gateway */
	const char *server;       /* server name or "PROTOCOL.PORT" */
	const char *protocol;     /* server port protocol, upper case */
	const char *const *hosts; /* server hosts as written */
	size_t nhosts;
	struct eg_chain chain; /* after termination (SIMPLE, MUTUAL, ISTIO_MUTUAL): HTTP */
};

enum eg_listener_kind {
	EG_LISTENER_CAPTURE, /* sidecar 15001: dispatch by original destination port */
	EG_LISTENER_GATEWAY, /* gateway server port */
};

struct eg_listener {
	const char *name; /* "virtualOutbound", "0.0.0.0_8080" */
	enum eg_listener_kind kind;
	const char *address;   /* "0.0.0.0": the data plane binds its pod address */
	uint16_t port;         /* bind port (gateway: the Service targetPort) */
	uint16_t service_port; /* gateway: the Service port the servers named */
	/* EG_LISTENER_CAPTURE */
	const struct eg_port_entry *ports; /* sorted by port; looked up by eg_snapshot_port() */
	size_t nports;
	const struct eg_route_table *http_catch_all; /* HTTP on a port without entry */
	const struct eg_tcp_route *fallback;         /* TCP/TLS on a port without entry */
	/* EG_LISTENER_GATEWAY */
	const struct eg_filter_chain *chains;
	size_t nchains;
};

enum eg_cluster_type {
	EG_CLUSTER_EDS,          /* mesh Service: endpoints are pods (or the ClusterIP) */
	EG_CLUSTER_STRICT_DNS,   /* resolution DNS: every address of every dns name */
	EG_CLUSTER_LOGICAL_DNS,  /* DNS_ROUND_ROBIN: the first address */
	EG_CLUSTER_STATIC,       /* fixed endpoints (none: BlackHoleCluster) */
	EG_CLUSTER_ORIGINAL_DST, /* resolution NONE, PassthroughCluster */
	EG_CLUSTER_DYNAMIC_DNS,  /* DYNAMIC_DNS: resolve Host/SNI per request */
};

enum eg_lb_policy {
	EG_LB_LEAST_REQUEST, /* Istio's default (and LEAST_CONN, its deprecated alias) */
	EG_LB_ROUND_ROBIN,
	EG_LB_RANDOM,
	EG_LB_PASSTHROUGH,     /* the original destination (cluster type ORIGINAL_DST) */
	EG_LB_CONSISTENT_HASH, /* see eg_cluster.hash */
};

enum eg_hash_on {
	EG_HASH_NONE,
	EG_HASH_HEADER,
	EG_HASH_COOKIE,
	EG_HASH_SOURCE_IP,
	EG_HASH_QUERY,
};

struct eg_endpoint {
	const char *address; /* IP, or a DNS name for STRICT_DNS/LOGICAL_DNS */
	uint16_t port;
	uint32_t weight;
	const struct eg_label *labels;
	size_t nlabels;
};

enum eg_upstream_tls_mode {
	EG_UPSTREAM_TLS_DISABLE,
	EG_UPSTREAM_TLS_SIMPLE,
	EG_UPSTREAM_TLS_MUTUAL,
	EG_UPSTREAM_TLS_ISTIO_MUTUAL,
};

struct eg_upstream_tls {
	enum eg_upstream_tls_mode mode;
	const char *sni; /* NULL with auto_sni */
	bool auto_sni;   /* SIMPLE/MUTUAL without sni: the downstream Host/SNI */
	const char *const *subject_alt_names;
	size_t nsubject_alt_names;
	bool auto_san;               /* no SAN given: verify against the SNI used */
	const char *ca_certificates; /* NULL: the system bundle (ISTIO_MUTUAL: the mesh CA) */
	const char *client_certificate;
	const char *private_key;
	const char *credential_name;
	bool insecure_skip_verify;
	const char *const *alpn;
	size_t nalpn;
};

struct eg_conn_pool {
	uint32_t max_connections;
	uint32_t max_pending_requests;
	uint32_t max_requests;
	uint32_t max_requests_per_connection; /* 0: unlimited */
	uint32_t max_retries;
	int64_t connect_timeout_ns;
	int64_t idle_timeout_ns;            /* 0: disabled */
	int64_t max_connection_duration_ns; /* 0: unlimited */
	bool keepalive;
	uint32_t keepalive_probes;
	int64_t keepalive_time_ns;
	int64_t keepalive_interval_ns;
	const char *h2_upgrade_policy; /* "DEFAULT", "DO_NOT_UPGRADE", "UPGRADE" */
};

struct eg_outlier {
	bool enabled;
	uint32_t consecutive_5xx;
	uint32_t consecutive_gateway_errors;
	uint32_t consecutive_local_origin_failures;
	bool split_external_local_origin_errors;
	int64_t interval_ns;
	int64_t base_ejection_time_ns;
	uint32_t max_ejection_percent;
	uint32_t min_health_percent;
};

struct eg_cluster {
	const char *name;   /* outbound|PORT|SUBSET|HOST, PassthroughCluster, BlackHoleCluster */
	const char *host;   /* "" for the two special clusters */
	const char *subset; /* "" when none */
	uint16_t port;
	const char *protocol;         /* service port protocol ("HTTP", "TLS", "" unknown) */
	const char *service;          /* "ServiceEntry NS/NAME", "Service NS/NAME" or NULL */
	const char *destination_rule; /* "NAME.NS" of the DR applied, or NULL */
	enum eg_cluster_type type;
	const struct eg_endpoint *endpoints;
	size_t nendpoints;
	enum eg_lb_policy lb;
	struct {
		enum eg_hash_on on;
		const char *name; /* header, cookie or query parameter */
		const char *cookie_path;
		int64_t cookie_ttl_ns;
	} hash;
	struct eg_conn_pool pool;
	struct eg_outlier outlier;
	struct eg_upstream_tls tls;
};

/* A mesh Service as the data plane may need it (loopback mode: the gateway pod address). */
struct eg_service_port {
	uint16_t port;
	uint16_t target_port;
	const char *name;
	const char *protocol;
};

struct eg_service {
	const char *host; /* name.ns.svc.cluster.local */
	const char *ns;
	const char *name;
	const char *cluster_ip; /* NULL when none */
	const struct eg_service_port *ports;
	size_t nports;
	const char *const *pod_addresses; /* from EG_POD_ADDRESSES_ANNO */
	size_t npod_addresses;
};

enum eg_authz_action {
	EG_AUTHZ_ALLOW,
	EG_AUTHZ_DENY,
	EG_AUTHZ_AUDIT,
	EG_AUTHZ_CUSTOM,
};

/* An AuthorizationPolicy that applies to this proxy (its namespace and selector, or the
 * root namespace), for src/policy to evaluate. rules is a copy owned by the snapshot of
 * spec.rules, typed as the model validated it (positions carry no file): NULL when the
 * policy has no rules (an ALLOW policy without rules allows nothing), else a list. */
struct eg_authz_policy {
	const char *name; /* "NS/NAME" */
	enum eg_authz_action action;
	const char *provider; /* CUSTOM: provider.name */
	const struct eg_node *rules;
};

struct eg_snapshot;

/* Builds the snapshot of @who from @rs. Problems that refuse the whole snapshot (the proxy
 * cannot be identified) are errors in @d and return -EINVAL; problems that only drop a
 * piece of configuration are warnings in @d (the snapshot is built without it). 0 on
 * success (*ret holds one reference), -EINVAL, -E2BIG, -ENOMEM. */
int eg_compile(const struct eg_resource_set *rs, const struct eg_proxy_id *who,
               struct eg_snapshot **ret, struct eg_diag *d);

/* Takes one more reference (NULL in, NULL out). */
struct eg_snapshot *eg_snapshot_ref(struct eg_snapshot *s);
/* Drops one reference, freeing the snapshot with the last one; always returns NULL. */
struct eg_snapshot *eg_snapshot_unref(struct eg_snapshot *s);

/* Deterministic JSON of the whole snapshot (same input, same bytes); pretty printed.
 * 0, -E2BIG, -ENOMEM. */
int eg_snapshot_dump_json(const struct eg_snapshot *s, struct eg_buf *out);
/* One part of the dump as a JSON array: "listeners", "route_tables", "clusters",
 * "services" or "authorization_policies". 0, -EINVAL (unknown part), -E2BIG, -ENOMEM. */
int eg_snapshot_dump_json_part(const struct eg_snapshot *s, const char *part, struct eg_buf *out);

/* Accessors. */
const struct eg_identity *eg_snapshot_identity(const struct eg_snapshot *s);
const struct eg_outbound_policy *eg_snapshot_policy(const struct eg_snapshot *s);
const struct eg_access_log *eg_snapshot_access_log(const struct eg_snapshot *s);
const struct eg_egress_source *eg_snapshot_egress_source(const struct eg_snapshot *s);
uint64_t eg_snapshot_version(const struct eg_snapshot *s);
size_t eg_snapshot_nlisteners(const struct eg_snapshot *s);
const struct eg_listener *eg_snapshot_listener_at(const struct eg_snapshot *s, size_t i);
size_t eg_snapshot_nroute_tables(const struct eg_snapshot *s);
const struct eg_route_table *eg_snapshot_route_table_at(const struct eg_snapshot *s, size_t i);
size_t eg_snapshot_nclusters(const struct eg_snapshot *s);
const struct eg_cluster *eg_snapshot_cluster_at(const struct eg_snapshot *s, size_t i);
size_t eg_snapshot_nservices(const struct eg_snapshot *s);
const struct eg_service *eg_snapshot_service_at(const struct eg_snapshot *s, size_t i);
/* The AuthorizationPolicies that apply, sorted by namespace then name. */
size_t eg_snapshot_nauthz(const struct eg_snapshot *s);
const struct eg_authz_policy *eg_snapshot_authz_at(const struct eg_snapshot *s, size_t i);

/* Lookups (hash, then wildcard suffixes: never a scan of all routes). */
const struct eg_listener *eg_snapshot_listener(const struct eg_snapshot *s, uint16_t port);
/* Sidecar capture: the entry for an original destination port, or NULL (then the
 * listener's fallback / http_catch_all applies). */
const struct eg_port_entry *eg_snapshot_port(const struct eg_snapshot *s, uint16_t port);
const struct eg_cluster *eg_snapshot_cluster(const struct eg_snapshot *s, const char *name);
const struct eg_service *eg_snapshot_service(const struct eg_snapshot *s, const char *host);
/* The virtual host for an authority ("host" or "host:port", any case): exact domain, then
 * "host:*", then the longest wildcard suffix ("*.example.com"), then the catch-all. */
const struct eg_vhost *eg_route_table_vhost(const struct eg_route_table *rt,
                                            struct eg_str authority);
/* The TLS route for a ClientHello SNI (exact, then the longest wildcard suffix, then a
 * "*" chain), or the chain's fallback (NULL: close). */
const struct eg_tcp_route *eg_chain_sni_route(const struct eg_chain *c, struct eg_str sni);
/* The route of a destination address (by_addr entries, longest prefix), or NULL. */
const struct eg_tcp_route *eg_port_entry_addr_route(const struct eg_port_entry *pe, int family,
                                                    const void *addr);
/* Gateway: the filter chain for a connection (SNI may be empty for plain text). */
const struct eg_filter_chain *eg_listener_chain(const struct eg_listener *l, struct eg_str sni);

/* A request as route matching sees it. header() returns the value of a lowercase header
 * name (ptr NULL when absent). path includes the query string. */
struct eg_http_req_view {
	struct eg_str method;
	struct eg_str scheme;
	struct eg_str authority;
	struct eg_str path;
	struct eg_str (*header)(void *ctx, struct eg_str name);
	void *ctx;
};

/* The first route of @vh matching @req, or NULL (404 NR). */
const struct eg_route *eg_vhost_route(const struct eg_vhost *vh,
                                      const struct eg_http_req_view *req);
/* Picks a cluster of @n weighted clusters for a draw @r in [0, total_weight). */
const struct eg_weighted_cluster *eg_pick_weighted(const struct eg_weighted_cluster *c, size_t n,
                                                   uint32_t r);

/* Names for enums (the JSON dump and the tables use them). */
const char *eg_role_name(enum eg_role r);
const char *eg_policy_name(enum eg_policy_mode m);
const char *eg_cluster_type_name(enum eg_cluster_type t);
const char *eg_lb_name(enum eg_lb_policy p);
const char *eg_upstream_tls_name(enum eg_upstream_tls_mode m);
const char *eg_server_tls_name(enum eg_server_tls_mode m);
const char *eg_chain_proto_name(enum eg_chain_proto p);
const char *eg_authz_action_name(enum eg_authz_action a);

#endif /* EG_COMPILE_COMPILE_H */
