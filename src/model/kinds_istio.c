/* src/model/kinds_istio.c: the schemas of networking.istio.io (v1, v1beta1, v1alpha3; one
 * schema, the proto package is istio.networking.v1alpha3): ServiceEntry, Gateway,
 * VirtualService, DestinationRule, Sidecar. The webhook rules are in rules_networking.c.
 *
 * Typing choices that the compiler relies on:
 *  - enums (resolution, location, TLS modes, load balancer...) are EG_F_ENUM: n->s is the
 *    canonical spelling, n->i the proto enum number (the order of the value lists below);
 *  - port protocols are strings (Istio parses them case-insensitively and reports its own
 *    messages, see the rules), compare them with strcasecmp;
 *  - durations are EG_F_DURATION (n->i in nanoseconds), ports EG_F_INT 1..65535;
 *  - counters Istio rejects when negative are plain int32 here, so the rules can report
 *    Istio's own "must be non-negative" messages. */
#include "model/kinds.h"

static const char *const networking_versions[] = { "v1", "v1beta1", "v1alpha3", NULL };

/* --- shared element descriptors --- */

static const struct eg_field str_elem = { .type = EG_F_STRING };
static const struct eg_field label_value_elem = { .type = EG_F_STRING,
						  .fmt = EG_FMT_LABEL_VALUE };
static const struct eg_field cidr_elem = { .type = EG_F_STRING, .fmt = EG_FMT_IP_OR_CIDR };

#define I32_MIN (-2147483647LL - 1)
#define I32_MAX 2147483647LL
#define U32_MAX 4294967295LL

#define F_LABELS(name)                                                              \
	{                                                                           \
		name, EG_F_MAP, 0, &label_value_elem, .fmt = EG_FMT_LABEL_KEY, .max = 256 \
	}
#define F_STRLIST(name)                              \
	{                                            \
		name, EG_F_LIST, 0, &str_elem, .max = 4096 \
	}
#define F_PORTNUM(name, flags)                                      \
	{                                                           \
		name, EG_F_INT, (flags), .min = 1, .max = 65535        \
	}
#define F_I32(name)                                                \
	{                                                          \
		name, EG_F_INT, 0, .min = I32_MIN, .max = I32_MAX        \
	}

/* WorkloadSelector {labels} (Sidecar, ServiceEntry) */
static const struct eg_field workload_selector_fields[] = {
	F_LABELS("labels"),
	{ NULL },
};

/* PortSelector {number} */
static const struct eg_field port_selector_fields[] = {
	F_PORTNUM("number", 0),
	{ NULL },
};

/* Port {number, protocol, name, targetPort} (Gateway servers, Sidecar listeners); number 0
 * goes with a unix:// bind, so the range is checked by the rules */
static const struct eg_field port_fields[] = {
	{ "number", EG_F_INT, 0, .min = 0, .max = 65535 },
	{ "protocol", EG_F_STRING, 0, .max = 256 },
	{ "name", EG_F_STRING, 0, .max = 256 },
	F_PORTNUM("targetPort", 0),
	{ NULL },
};

/* ServerTLSSettings (Gateway servers, Sidecar ingress) */
static const char *const server_tls_modes[] = { "PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH",
						"ISTIO_MUTUAL", "OPTIONAL_MUTUAL", NULL };
static const char *const tls_versions[] = { "TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3",
					    NULL };
static const struct eg_field server_tls_fields[] = {
	{ "httpsRedirect", EG_F_BOOL },
	{ "mode", EG_F_ENUM, 0, .values = server_tls_modes },
	{ "serverCertificate", EG_F_STRING },
	{ "privateKey", EG_F_STRING },
	{ "caCertificates", EG_F_STRING },
	{ "caCrl", EG_F_STRING },
	{ "credentialName", EG_F_STRING },
	F_STRLIST("credentialNames"),
	F_STRLIST("subjectAltNames"),
	F_STRLIST("verifyCertificateSpki"),
	F_STRLIST("verifyCertificateHash"),
	{ "minProtocolVersion", EG_F_ENUM, 0, .values = tls_versions },
	{ "maxProtocolVersion", EG_F_ENUM, 0, .values = tls_versions },
	F_STRLIST("cipherSuites"),
	{ NULL },
};

/* ClientTLSSettings (DestinationRule) */
static const char *const client_tls_modes[] = { "DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL",
						NULL };
static const struct eg_field client_tls_fields[] = {
	{ "mode", EG_F_ENUM, 0, .values = client_tls_modes },
	{ "clientCertificate", EG_F_STRING },
	{ "privateKey", EG_F_STRING },
	{ "caCertificates", EG_F_STRING },
	{ "credentialName", EG_F_STRING },
	F_STRLIST("subjectAltNames"),
	{ "sni", EG_F_STRING },
	{ "insecureSkipVerify", EG_F_BOOL },
	{ "caCrl", EG_F_STRING },
	{ NULL },
};

/* Destination {host, subset, port} (VirtualService routes, Sidecar egressProxy) */
static const struct eg_field destination_fields[] = {
	{ "host", EG_F_STRING, EG_FF_REQUIRED, .max = 255 },
	{ "subset", EG_F_STRING },
	{ "port", EG_F_OBJECT, 0, port_selector_fields },
	{ NULL },
};

/* Percent {value} */
static const struct eg_field percent_fields[] = {
	{ "value", EG_F_NUMBER, 0, .min = 0, .max = 100 },
	{ NULL },
};

/* --- ConnectionPoolSettings --- */

static const struct eg_field tcp_keepalive_fields[] = {
	{ "probes", EG_F_INT, 0, .min = 0, .max = U32_MAX },
	{ "time", EG_F_DURATION },
	{ "interval", EG_F_DURATION },
	{ NULL },
};
static const struct eg_field tcp_pool_fields[] = {
	F_I32("maxConnections"),
	{ "connectTimeout", EG_F_DURATION },
	{ "tcpKeepalive", EG_F_OBJECT, 0, tcp_keepalive_fields },
	{ "maxConnectionDuration", EG_F_DURATION },
	{ "idleTimeout", EG_F_DURATION },
	{ NULL },
};
static const char *const h2_upgrade_policies[] = { "DEFAULT", "DO_NOT_UPGRADE", "UPGRADE", NULL };
static const struct eg_field http_pool_fields[] = {
	F_I32("http1MaxPendingRequests"),
	F_I32("http2MaxRequests"),
	F_I32("maxRequestsPerConnection"),
	F_I32("maxRetries"),
	{ "idleTimeout", EG_F_DURATION },
	{ "h2UpgradePolicy", EG_F_ENUM, 0, .values = h2_upgrade_policies },
	{ "useClientProtocol", EG_F_BOOL },
	F_I32("maxConcurrentStreams"),
	{ NULL },
};
static const struct eg_field conn_pool_fields[] = {
	{ "tcp", EG_F_OBJECT, 0, tcp_pool_fields },
	{ "http", EG_F_OBJECT, 0, http_pool_fields },
	{ NULL },
};

/* --- LoadBalancerSettings --- */

static const char *const lb_simple[] = { "UNSPECIFIED", "LEAST_CONN",  "RANDOM",
					 "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST",
					 NULL };
static const struct eg_field http_cookie_fields[] = {
	{ "name", EG_F_STRING, EG_FF_REQUIRED | EG_FF_NONEMPTY },
	{ "path", EG_F_STRING },
	{ "ttl", EG_F_DURATION },
	{ "attributes", EG_F_ANY },
	{ NULL },
};
static const struct eg_field ring_hash_fields[] = {
	{ "minimumRingSize", EG_F_INT, 0, .min = 0, .max = U32_MAX },
	{ NULL },
};
static const struct eg_field maglev_fields[] = {
	{ "tableSize", EG_F_INT, 0, .min = 0, .max = U32_MAX },
	{ NULL },
};
static const struct eg_field consistent_hash_fields[] = {
	{ "httpHeaderName", EG_F_STRING, EG_FF_NONEMPTY },
	{ "httpCookie", EG_F_OBJECT, 0, http_cookie_fields },
	{ "useSourceIp", EG_F_BOOL },
	{ "httpQueryParameterName", EG_F_STRING, EG_FF_NONEMPTY },
	{ "ringHash", EG_F_OBJECT, 0, ring_hash_fields },
	{ "maglev", EG_F_OBJECT, 0, maglev_fields },
	{ "minimumRingSize", EG_F_INT, 0, .min = 0, .max = U32_MAX },
	{ NULL },
};
static const struct eg_field weight_elem = { .type = EG_F_INT, .min = 0, .max = U32_MAX };
static const struct eg_field locality_distribute_fields[] = {
	{ "from", EG_F_STRING },
	{ "to", EG_F_MAP, 0, &weight_elem },
	{ NULL },
};
static const struct eg_field locality_distribute_elem = { .type = EG_F_OBJECT,
							  .sub = locality_distribute_fields };
static const struct eg_field locality_failover_fields[] = {
	{ "from", EG_F_STRING },
	{ "to", EG_F_STRING },
	{ NULL },
};
static const struct eg_field locality_failover_elem = { .type = EG_F_OBJECT,
							.sub = locality_failover_fields };
static const struct eg_field locality_lb_fields[] = {
	{ "distribute", EG_F_LIST, 0, &locality_distribute_elem, .max = 1024 },
	{ "failover", EG_F_LIST, 0, &locality_failover_elem, .max = 1024 },
	F_STRLIST("failoverPriority"),
	{ "enabled", EG_F_BOOL },
	{ NULL },
};
static const struct eg_field warmup_fields[] = {
	{ "duration", EG_F_DURATION, EG_FF_REQUIRED },
	{ "minimumPercent", EG_F_NUMBER, 0, .min = 0, .max = 100 },
	{ "aggression", EG_F_NUMBER, 0, .min = 1, .max = 1000000 },
	{ NULL },
};
static const struct eg_field load_balancer_fields[] = {
	{ "simple", EG_F_ENUM, 0, .values = lb_simple },
	{ "consistentHash", EG_F_OBJECT, 0, consistent_hash_fields },
	{ "localityLbSetting", EG_F_OBJECT, 0, locality_lb_fields },
	{ "warmupDurationSecs", EG_F_DURATION },
	{ "warmup", EG_F_OBJECT, 0, warmup_fields },
	{ NULL },
};

/* --- OutlierDetection --- */

static const struct eg_field outlier_fields[] = {
	F_I32("consecutiveErrors"),
	{ "splitExternalLocalOriginErrors", EG_F_BOOL },
	F_I32("consecutiveLocalOriginFailures"),
	F_I32("consecutiveGatewayErrors"),
	F_I32("consecutive5xxErrors"),
	{ "interval", EG_F_DURATION },
	{ "baseEjectionTime", EG_F_DURATION },
	F_I32("maxEjectionPercent"),
	F_I32("minHealthPercent"),
	{ NULL },
};

/* --- TrafficPolicy --- */

static const char *const tunnel_protocols[] = { "CONNECT", "POST", NULL };
static const struct eg_field tunnel_fields[] = {
	{ "protocol", EG_F_ENUM, 0, .values = tunnel_protocols },
	{ "targetHost", EG_F_STRING, EG_FF_REQUIRED | EG_FF_NONEMPTY },
	F_PORTNUM("targetPort", EG_FF_REQUIRED),
	{ NULL },
};
static const char *const proxy_protocol_versions[] = { "V1", "V2", NULL };
static const struct eg_field proxy_protocol_fields[] = {
	{ "version", EG_F_ENUM, 0, .values = proxy_protocol_versions },
	{ NULL },
};
static const struct eg_field port_traffic_policy_fields[] = {
	{ "port", EG_F_OBJECT, 0, port_selector_fields },
	{ "loadBalancer", EG_F_OBJECT, 0, load_balancer_fields },
	{ "connectionPool", EG_F_OBJECT, 0, conn_pool_fields },
	{ "outlierDetection", EG_F_OBJECT, 0, outlier_fields },
	{ "tls", EG_F_OBJECT, 0, client_tls_fields },
	{ NULL },
};
static const struct eg_field port_traffic_policy_elem = { .type = EG_F_OBJECT,
							  .sub = port_traffic_policy_fields };
static const struct eg_field traffic_policy_fields[] = {
	{ "loadBalancer", EG_F_OBJECT, 0, load_balancer_fields },
	{ "connectionPool", EG_F_OBJECT, 0, conn_pool_fields },
	{ "outlierDetection", EG_F_OBJECT, 0, outlier_fields },
	{ "tls", EG_F_OBJECT, 0, client_tls_fields },
	{ "portLevelSettings", EG_F_LIST, 0, &port_traffic_policy_elem, .max = 4096 },
	{ "tunnel", EG_F_OBJECT, 0, tunnel_fields },
	{ "proxyProtocol", EG_F_OBJECT, 0, proxy_protocol_fields },
	{ NULL },
};

/* ===================================================================================
 * ServiceEntry
 * =================================================================================== */

static const struct eg_field se_port_fields[] = {
	F_PORTNUM("number", EG_FF_REQUIRED),
	{ "protocol", EG_F_STRING, 0, .max = 256 },
	{ "name", EG_F_STRING, EG_FF_REQUIRED, .max = 256 },
	F_PORTNUM("targetPort", 0),
	{ NULL },
};
static const struct eg_field se_port_elem = { .type = EG_F_OBJECT, .sub = se_port_fields };
static const struct eg_field endpoint_port_elem = { .type = EG_F_INT, .min = 1, .max = 65535 };
static const struct eg_field workload_entry_fields[] = {
	{ "address", EG_F_STRING, 0, .max = 256 },
	{ "ports", EG_F_MAP, 0, &endpoint_port_elem, .max = 128 },
	F_LABELS("labels"),
	{ "network", EG_F_STRING },
	{ "locality", EG_F_STRING },
	{ "weight", EG_F_INT, 0, .min = 0, .max = U32_MAX },
	{ "serviceAccount", EG_F_STRING },
	{ NULL },
};
static const struct eg_field workload_entry_elem = { .type = EG_F_OBJECT,
						     .sub = workload_entry_fields };
static const struct eg_field se_address_elem = { .type = EG_F_STRING, .max = 64 };
static const char *const se_locations[] = { "MESH_EXTERNAL", "MESH_INTERNAL", NULL };
static const char *const se_resolutions[] = { "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN",
					      "DYNAMIC_DNS", NULL };
static const struct eg_field se_spec[] = {
	{ "hosts", EG_F_LIST, 0, &str_elem, .max = 256 },
	{ "addresses", EG_F_LIST, 0, &se_address_elem, .max = 256 },
	{ "ports", EG_F_LIST, 0, &se_port_elem, .max = 256 },
	{ "location", EG_F_ENUM, 0, .values = se_locations },
	{ "resolution", EG_F_ENUM, 0, .values = se_resolutions },
	{ "endpoints", EG_F_LIST, 0, &workload_entry_elem, .max = 4096 },
	{ "workloadSelector", EG_F_OBJECT, 0, workload_selector_fields },
	F_STRLIST("exportTo"),
	F_STRLIST("subjectAltNames"),
	{ NULL },
};
static const struct eg_field se_fields[] = {
	{ "spec", EG_F_OBJECT, 0, se_spec },
	{ "status", EG_F_ANY },
	{ NULL },
};
static const char *const se_short[] = { "se", NULL };

const struct eg_kind eg_kind_serviceentry = {
	"networking.istio.io", networking_versions, "ServiceEntry", "serviceentries",
	"serviceentry", se_short, true, se_fields, eg_rules_serviceentry,
};

/* ===================================================================================
 * Gateway
 * =================================================================================== */

static const struct eg_field server_fields[] = {
	{ "port", EG_F_OBJECT, 0, port_fields },
	{ "bind", EG_F_STRING },
	F_STRLIST("hosts"),
	{ "tls", EG_F_OBJECT, 0, server_tls_fields },
	{ "defaultEndpoint", EG_F_STRING },
	{ "name", EG_F_STRING },
	{ NULL },
};
static const struct eg_field server_elem = { .type = EG_F_OBJECT, .sub = server_fields };
static const struct eg_field gw_spec[] = {
	{ "servers", EG_F_LIST, 0, &server_elem, .max = 4096 },
	F_LABELS("selector"),
	{ NULL },
};
static const struct eg_field gw_fields[] = {
	{ "spec", EG_F_OBJECT, 0, gw_spec },
	{ "status", EG_F_ANY },
	{ NULL },
};
static const char *const gw_short[] = { "gw", NULL };

const struct eg_kind eg_kind_gateway = {
	"networking.istio.io", networking_versions, "Gateway", "gateways", "gateway", gw_short,
	true, gw_fields, eg_rules_gateway,
};

/* ===================================================================================
 * VirtualService
 * =================================================================================== */

/* StringMatch: exactly one of exact, prefix, regex (checked by the rules) */
static const struct eg_field string_match_fields[] = {
	{ "exact", EG_F_STRING },
	{ "prefix", EG_F_STRING },
	{ "regex", EG_F_STRING, 0, .max = 65536 },
	{ NULL },
};
static const struct eg_field string_match_elem = { .type = EG_F_OBJECT,
						   .sub = string_match_fields };

static const struct eg_field http_match_fields[] = {
	{ "name", EG_F_STRING },
	{ "uri", EG_F_OBJECT, 0, string_match_fields },
	{ "scheme", EG_F_OBJECT, 0, string_match_fields },
	{ "method", EG_F_OBJECT, 0, string_match_fields },
	{ "authority", EG_F_OBJECT, 0, string_match_fields },
	{ "headers", EG_F_MAP, 0, &string_match_elem, .max = 256 },
	F_PORTNUM("port", 0),
	F_LABELS("sourceLabels"),
	F_STRLIST("gateways"),
	{ "queryParams", EG_F_MAP, 0, &string_match_elem, .max = 256 },
	{ "ignoreUriCase", EG_F_BOOL },
	{ "withoutHeaders", EG_F_MAP, 0, &string_match_elem, .max = 256 },
	{ "sourceNamespace", EG_F_STRING },
	{ "statPrefix", EG_F_STRING },
	{ NULL },
};
static const struct eg_field http_match_elem = { .type = EG_F_OBJECT, .sub = http_match_fields };

static const struct eg_field header_map_elem = { .type = EG_F_STRING };
static const struct eg_field header_ops_fields[] = {
	{ "set", EG_F_MAP, 0, &header_map_elem, .max = 256 },
	{ "add", EG_F_MAP, 0, &header_map_elem, .max = 256 },
	F_STRLIST("remove"),
	{ NULL },
};
static const struct eg_field headers_fields[] = {
	{ "request", EG_F_OBJECT, 0, header_ops_fields },
	{ "response", EG_F_OBJECT, 0, header_ops_fields },
	{ NULL },
};

static const struct eg_field http_route_dest_fields[] = {
	{ "destination", EG_F_OBJECT, EG_FF_REQUIRED, destination_fields },
	{ "weight", EG_F_INT, 0, .min = I32_MIN, .max = I32_MAX },
	{ "headers", EG_F_OBJECT, 0, headers_fields },
	{ NULL },
};
static const struct eg_field http_route_dest_elem = { .type = EG_F_OBJECT,
						      .sub = http_route_dest_fields };

static const char *const redirect_derive_port[] = { "FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT",
						    NULL };
static const struct eg_field redirect_fields[] = {
	{ "uri", EG_F_STRING },
	{ "authority", EG_F_STRING },
	F_PORTNUM("port", 0),
	{ "derivePort", EG_F_ENUM, 0, .values = redirect_derive_port },
	{ "scheme", EG_F_STRING },
	{ "redirectCode", EG_F_INT, 0, .min = 300, .max = 399 },
	{ NULL },
};
static const struct eg_field http_body_fields[] = {
	{ "string", EG_F_STRING, 0, .max = 1 << 20 },
	{ "bytes", EG_F_STRING, 0, .max = 1 << 20 },
	{ NULL },
};
static const struct eg_field direct_response_fields[] = {
	{ "status", EG_F_INT, EG_FF_REQUIRED, .min = 200, .max = 599 },
	{ "body", EG_F_OBJECT, 0, http_body_fields },
	{ NULL },
};
static const struct eg_field delegate_fields[] = {
	{ "name", EG_F_STRING, 0, .fmt = EG_FMT_DNS1123_SUBDOMAIN },
	{ "namespace", EG_F_STRING, 0, .fmt = EG_FMT_DNS1123_LABEL },
	{ NULL },
};
static const struct eg_field regex_rewrite_fields[] = {
	{ "match", EG_F_STRING },
	{ "rewrite", EG_F_STRING },
	{ NULL },
};
static const struct eg_field rewrite_fields[] = {
	{ "uri", EG_F_STRING },
	{ "authority", EG_F_STRING },
	{ "uriRegexRewrite", EG_F_OBJECT, 0, regex_rewrite_fields },
	{ NULL },
};
static const struct eg_field retries_fields[] = {
	F_I32("attempts"),
	{ "perTryTimeout", EG_F_DURATION },
	{ "retryOn", EG_F_STRING },
	{ "retryRemoteLocalities", EG_F_BOOL },
	{ "retryIgnorePreviousHosts", EG_F_BOOL },
	{ "backoff", EG_F_DURATION },
	{ NULL },
};
static const struct eg_field fault_delay_fields[] = {
	{ "fixedDelay", EG_F_DURATION },
	{ "exponentialDelay", EG_F_DURATION },
	{ "percentage", EG_F_OBJECT, 0, percent_fields },
	{ "percent", EG_F_INT, 0, .min = 0, .max = 100 },
	{ NULL },
};
static const struct eg_field fault_abort_fields[] = {
	{ "httpStatus", EG_F_INT, 0, .min = I32_MIN, .max = I32_MAX },
	{ "grpcStatus", EG_F_STRING },
	{ "http2Error", EG_F_STRING },
	{ "percentage", EG_F_OBJECT, 0, percent_fields },
	{ NULL },
};
static const struct eg_field fault_fields[] = {
	{ "delay", EG_F_OBJECT, 0, fault_delay_fields },
	{ "abort", EG_F_OBJECT, 0, fault_abort_fields },
	{ NULL },
};
static const struct eg_field mirror_policy_fields[] = {
	{ "destination", EG_F_OBJECT, EG_FF_REQUIRED, destination_fields },
	{ "percentage", EG_F_OBJECT, 0, percent_fields },
	{ NULL },
};
static const struct eg_field mirror_policy_elem = { .type = EG_F_OBJECT,
						    .sub = mirror_policy_fields };
static const char *const cors_unmatched_preflights[] = { "UNSPECIFIED", "FORWARD", "IGNORE", NULL };
static const struct eg_field cors_fields[] = {
	{ "allowOrigins", EG_F_LIST, 0, &string_match_elem, .max = 256 },
	F_STRLIST("allowOrigin"),
	F_STRLIST("allowMethods"),
	F_STRLIST("allowHeaders"),
	F_STRLIST("exposeHeaders"),
	{ "maxAge", EG_F_DURATION },
	{ "allowCredentials", EG_F_BOOL },
	{ "unmatchedPreflights", EG_F_ENUM, 0, .values = cors_unmatched_preflights },
	{ NULL },
};
static const struct eg_field http_route_fields[] = {
	{ "name", EG_F_STRING },
	{ "match", EG_F_LIST, 0, &http_match_elem, .max = 4096 },
	{ "route", EG_F_LIST, 0, &http_route_dest_elem, .max = 4096 },
	{ "redirect", EG_F_OBJECT, 0, redirect_fields },
	{ "directResponse", EG_F_OBJECT, 0, direct_response_fields },
	{ "delegate", EG_F_OBJECT, 0, delegate_fields },
	{ "rewrite", EG_F_OBJECT, 0, rewrite_fields },
	{ "timeout", EG_F_DURATION },
	{ "retries", EG_F_OBJECT, 0, retries_fields },
	{ "fault", EG_F_OBJECT, 0, fault_fields },
	{ "mirror", EG_F_OBJECT, 0, destination_fields },
	{ "mirrors", EG_F_LIST, 0, &mirror_policy_elem, .max = 256 },
	{ "mirrorPercentage", EG_F_OBJECT, 0, percent_fields },
	{ "mirrorPercent", EG_F_INT, 0, .min = 0, .max = 100 },
	{ "corsPolicy", EG_F_OBJECT, 0, cors_fields },
	{ "headers", EG_F_OBJECT, 0, headers_fields },
	{ NULL },
};
static const struct eg_field http_route_elem = { .type = EG_F_OBJECT, .sub = http_route_fields };

static const struct eg_field route_dest_fields[] = {
	{ "destination", EG_F_OBJECT, EG_FF_REQUIRED, destination_fields },
	{ "weight", EG_F_INT, 0, .min = I32_MIN, .max = I32_MAX },
	{ NULL },
};
static const struct eg_field route_dest_elem = { .type = EG_F_OBJECT, .sub = route_dest_fields };

static const struct eg_field tls_match_fields[] = {
	F_STRLIST("sniHosts"),
	{ "destinationSubnets", EG_F_LIST, 0, &cidr_elem, .max = 256 },
	F_PORTNUM("port", 0),
	F_LABELS("sourceLabels"),
	F_STRLIST("gateways"),
	{ "sourceNamespace", EG_F_STRING },
	{ NULL },
};
static const struct eg_field tls_match_elem = { .type = EG_F_OBJECT, .sub = tls_match_fields };
static const struct eg_field tls_route_fields[] = {
	{ "match", EG_F_LIST, 0, &tls_match_elem, .max = 4096 },
	{ "route", EG_F_LIST, 0, &route_dest_elem, .max = 4096 },
	{ NULL },
};
static const struct eg_field tls_route_elem = { .type = EG_F_OBJECT, .sub = tls_route_fields };

static const struct eg_field l4_match_fields[] = {
	{ "destinationSubnets", EG_F_LIST, 0, &cidr_elem, .max = 256 },
	F_PORTNUM("port", 0),
	{ "sourceSubnet", EG_F_STRING, 0, .fmt = EG_FMT_IP_OR_CIDR },
	F_LABELS("sourceLabels"),
	F_STRLIST("gateways"),
	{ "sourceNamespace", EG_F_STRING },
	{ NULL },
};
static const struct eg_field l4_match_elem = { .type = EG_F_OBJECT, .sub = l4_match_fields };
static const struct eg_field tcp_route_fields[] = {
	{ "match", EG_F_LIST, 0, &l4_match_elem, .max = 4096 },
	{ "route", EG_F_LIST, 0, &route_dest_elem, .max = 4096 },
	{ NULL },
};
static const struct eg_field tcp_route_elem = { .type = EG_F_OBJECT, .sub = tcp_route_fields };

static const struct eg_field vs_spec[] = {
	F_STRLIST("hosts"),
	F_STRLIST("gateways"),
	{ "http", EG_F_LIST, 0, &http_route_elem, .max = 4096 },
	{ "tls", EG_F_LIST, 0, &tls_route_elem, .max = 4096 },
	{ "tcp", EG_F_LIST, 0, &tcp_route_elem, .max = 4096 },
	F_STRLIST("exportTo"),
	{ NULL },
};
static const struct eg_field vs_fields[] = {
	{ "spec", EG_F_OBJECT, 0, vs_spec },
	{ "status", EG_F_ANY },
	{ NULL },
};
static const char *const vs_short[] = { "vs", NULL };

const struct eg_kind eg_kind_virtualservice = {
	"networking.istio.io", networking_versions, "VirtualService", "virtualservices",
	"virtualservice", vs_short, true, vs_fields, eg_rules_virtualservice,
};

/* ===================================================================================
 * DestinationRule
 * =================================================================================== */

static const struct eg_field subset_fields[] = {
	{ "name", EG_F_STRING, EG_FF_REQUIRED },
	F_LABELS("labels"),
	{ "trafficPolicy", EG_F_OBJECT, 0, traffic_policy_fields },
	{ NULL },
};
static const struct eg_field subset_elem = { .type = EG_F_OBJECT, .sub = subset_fields };
static const struct eg_field dr_selector_fields[] = {
	F_LABELS("matchLabels"),
	{ NULL },
};
static const struct eg_field dr_spec[] = {
	{ "host", EG_F_STRING, 0, .max = 255 },
	{ "trafficPolicy", EG_F_OBJECT, 0, traffic_policy_fields },
	{ "subsets", EG_F_LIST, 0, &subset_elem, .max = 4096 },
	F_STRLIST("exportTo"),
	{ "workloadSelector", EG_F_OBJECT, 0, dr_selector_fields },
	{ NULL },
};
static const struct eg_field dr_fields[] = {
	{ "spec", EG_F_OBJECT, 0, dr_spec },
	{ "status", EG_F_ANY },
	{ NULL },
};
static const char *const dr_short[] = { "dr", NULL };

const struct eg_kind eg_kind_destinationrule = {
	"networking.istio.io", networking_versions, "DestinationRule", "destinationrules",
	"destinationrule", dr_short, true, dr_fields, eg_rules_destinationrule,
};

/* ===================================================================================
 * Sidecar
 * =================================================================================== */

static const char *const capture_modes[] = { "DEFAULT", "IPTABLES", "NONE", NULL };
static const struct eg_field ingress_listener_fields[] = {
	{ "port", EG_F_OBJECT, 0, port_fields },
	{ "bind", EG_F_STRING },
	{ "captureMode", EG_F_ENUM, 0, .values = capture_modes },
	{ "defaultEndpoint", EG_F_STRING },
	{ "tls", EG_F_OBJECT, 0, server_tls_fields },
	{ "connectionPool", EG_F_OBJECT, 0, conn_pool_fields },
	{ NULL },
};
static const struct eg_field ingress_listener_elem = { .type = EG_F_OBJECT,
						       .sub = ingress_listener_fields };
static const struct eg_field egress_listener_fields[] = {
	{ "port", EG_F_OBJECT, 0, port_fields },
	{ "bind", EG_F_STRING },
	{ "captureMode", EG_F_ENUM, 0, .values = capture_modes },
	F_STRLIST("hosts"),
	{ NULL },
};
static const struct eg_field egress_listener_elem = { .type = EG_F_OBJECT,
						      .sub = egress_listener_fields };
static const char *const outbound_modes[] = { "REGISTRY_ONLY", "ALLOW_ANY", NULL };
static const struct eg_field outbound_policy_fields[] = {
	{ "mode", EG_F_ENUM, 0, .values = outbound_modes },
	{ "egressProxy", EG_F_OBJECT, 0, destination_fields },
	{ NULL },
};
static const struct eg_field sidecar_spec[] = {
	{ "workloadSelector", EG_F_OBJECT, 0, workload_selector_fields },
	{ "ingress", EG_F_LIST, 0, &ingress_listener_elem, .max = 1024 },
	{ "egress", EG_F_LIST, 0, &egress_listener_elem, .max = 1024 },
	{ "outboundTrafficPolicy", EG_F_OBJECT, 0, outbound_policy_fields },
	{ "inboundConnectionPool", EG_F_OBJECT, 0, conn_pool_fields },
	{ NULL },
};
static const struct eg_field sidecar_fields[] = {
	{ "spec", EG_F_OBJECT, 0, sidecar_spec },
	{ "status", EG_F_ANY },
	{ NULL },
};

const struct eg_kind eg_kind_sidecar = {
	"networking.istio.io", networking_versions, "Sidecar", "sidecars", "sidecar", NULL, true,
	sidecar_fields, eg_rules_sidecar,
};
