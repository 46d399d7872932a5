/* src/model/meshconfig.c: MeshConfig, the YAML in data.mesh of the ConfigMap
 * istio-shared-configmap-<rev> in aks-istio-system (AKS add-on) or istio in istio-system
 * (upstream Istio). The subset SPEC.md §1.6 lists is typed; the AKS add-on's "blocked" fields
 * are refused on its ConfigMap, as its admission does. Positions point into the outer file. */
#include <errno.h>
#include <stdlib.h>

#include "model/kinds.h"

#define AKS_NS            "aks-istio-system"
#define AKS_PREFIX        "istio-shared-configmap-"
#define UPSTREAM_NS       "istio-system"
#define UPSTREAM_NAME     "istio"

static const struct eg_field str_elem = { .type = EG_F_STRING };
static const struct eg_field any_elem = { .type = EG_F_ANY };

static const char *const outbound_modes[] = { "REGISTRY_ONLY", "ALLOW_ANY", NULL };
static const struct eg_field outbound_fields[] = {
	{ "mode", EG_F_ENUM, 0, .values = outbound_modes },
	{ "egressProxy", EG_F_ANY },
	{ NULL },
};
static const char *const encodings[] = { "TEXT", "JSON", NULL };
static const char *const h2_policies[] = { "DO_NOT_UPGRADE", "UPGRADE", NULL };
static const char *const tls_versions[] = { "TLS_AUTO", "TLSV1_2", "TLSV1_3", NULL };
static const struct eg_field tls_config_fields[] = {
	{ "minProtocolVersion", EG_F_ENUM, 0, .values = tls_versions },
	{ "ecdhCurves", EG_F_LIST, 0, &str_elem, .max = 64 },
	{ "cipherSuites", EG_F_LIST, 0, &str_elem, .max = 256 },
	{ NULL },
};
static const struct eg_field keepalive_fields[] = {
	{ "probes", EG_F_INT, 0, .min = 0, .max = 4294967295LL },
	{ "time", EG_F_DURATION },
	{ "interval", EG_F_DURATION },
	{ NULL },
};
static const struct eg_field default_providers_fields[] = {
	{ "tracing", EG_F_LIST, 0, &str_elem, .max = 64 },
	{ "metrics", EG_F_LIST, 0, &str_elem, .max = 64 },
	{ "accessLogging", EG_F_LIST, 0, &str_elem, .max = 64 },
	{ NULL },
};
static const struct eg_field log_format_fields[] = {
	{ "text", EG_F_STRING },
	{ "labels", EG_F_ANY },
	{ NULL },
};
static const struct eg_field file_log_fields[] = {
	{ "path", EG_F_STRING },
	{ "logFormat", EG_F_OBJECT, 0, log_format_fields },
	{ NULL },
};
static const struct eg_field provider_fields[] = {
	{ "name", EG_F_STRING, EG_FF_REQUIRED | EG_FF_NONEMPTY },
	{ "envoyFileAccessLog", EG_F_OBJECT, 0, file_log_fields },
	{ "envoyOtelAls", EG_F_ANY },
	{ "envoyHttpAls", EG_F_ANY },
	{ "envoyTcpAls", EG_F_ANY },
	{ "envoyExtAuthzHttp", EG_F_ANY },
	{ "envoyExtAuthzGrpc", EG_F_ANY },
	{ "zipkin", EG_F_ANY },
	{ "datadog", EG_F_ANY },
	{ "stackdriver", EG_F_ANY },
	{ "opencensus", EG_F_ANY },
	{ "skywalking", EG_F_ANY },
	{ "opentelemetry", EG_F_ANY },
	{ "prometheus", EG_F_ANY },
	{ "lightstep", EG_F_ANY },
	{ "sds", EG_F_ANY },
	{ NULL },
};
static const struct eg_field provider_elem = { .type = EG_F_OBJECT, .sub = provider_fields };
static const char *const normalizations[] = { "DEFAULT", "NONE", "BASE", "MERGE_SLASHES",
					      "DECODE_AND_MERGE_SLASHES", NULL };
static const struct eg_field path_norm_fields[] = {
	{ "normalization", EG_F_ENUM, 0, .values = normalizations },
	{ NULL },
};

/* The fields both ConfigMaps accept (the AKS add-on's "supported" and "allowed" ones). */
#define MESH_ACCEPTED_FIELDS \
	/* supported on AKS */ \
	{ "outboundTrafficPolicy", EG_F_OBJECT, 0, outbound_fields }, \
	{ "accessLogFile", EG_F_STRING }, \
	{ "accessLogFormat", EG_F_STRING, 0, .max = 65536 }, \
	{ "accessLogEncoding", EG_F_ENUM, 0, .values = encodings }, \
	{ "defaultConfig", EG_F_ANY }, \
	{ "discoverySelectors", EG_F_LIST, 0, &any_elem, .max = 256 }, \
	{ "enableEnvoyAccessLogService", EG_F_BOOL }, \
	{ "disableEnvoyListenerLog", EG_F_BOOL }, \
	/* allowed on AKS */ \
	{ "trustDomain", EG_F_STRING }, \
	{ "trustDomainAliases", EG_F_LIST, 0, &str_elem, .max = 256 }, \
	{ "caCertificates", EG_F_ANY }, \
	{ "extensionProviders", EG_F_LIST, 0, &provider_elem, .max = 1024 }, \
	{ "defaultProviders", EG_F_OBJECT, 0, default_providers_fields }, \
	{ "defaultServiceExportTo", EG_F_LIST, 0, &str_elem, .max = 256 }, \
	{ "defaultVirtualServiceExportTo", EG_F_LIST, 0, &str_elem, .max = 256 }, \
	{ "defaultDestinationRuleExportTo", EG_F_LIST, 0, &str_elem, .max = 256 }, \
	{ "meshMTLS", EG_F_OBJECT, 0, tls_config_fields }, \
	{ "tlsDefaults", EG_F_OBJECT, 0, tls_config_fields }, \
	{ "connectTimeout", EG_F_DURATION }, \
	{ "tcpKeepalive", EG_F_OBJECT, 0, keepalive_fields }, \
	{ "h2UpgradePolicy", EG_F_ENUM, 0, .values = h2_policies }, \
	{ "localityLbSetting", EG_F_ANY }, \
	{ "dnsRefreshRate", EG_F_DURATION }, \
	{ "enableTracing", EG_F_BOOL }, \
	{ "enablePrometheusMerge", EG_F_BOOL }, \
	{ "pathNormalization", EG_F_OBJECT, 0, path_norm_fields }, \
	{ "defaultHttpRetryPolicy", EG_F_ANY }, \
	{ "serviceSettings", EG_F_ANY }, \
	{ "verifyCertificateAtClient", EG_F_BOOL }, \
	{ "protocolDetectionTimeout", EG_F_DURATION }, \
	{ "enableAutoMtls", EG_F_BOOL }, \
	{ "outboundClusterStatName", EG_F_STRING }, \
	{ "inboundClusterStatName", EG_F_STRING }, \

/* Known MeshConfig fields that the AKS add-on blocks: refused on its ConfigMap, accepted (and
 * not used by egressd) on upstream Istio's. */
#define MESH_BLOCKED_FIELDS(F) \
	F("configSources") \
	F("rootNamespace") \
	F("ingressService") \
	F("ingressClass") \
	F("ingressSelector") \
	F("ingressControllerMode") \
	F("proxyListenPort") \
	F("proxyInboundListenPort") \
	F("proxyHttpPort") \
	F("inboundTrafficPolicy") \
	F("enableSdsTokenMount") \
	F("sdsUdsPath") \
	F("certificates") \
	F("thriftConfig") \
	F("mixerCheckServer") \
	F("mixerReportServer") \
	F("disablePolicyChecks") \
	F("policyCheckFailOpen") \
	F("sidecarToTelemetrySessionAffinity") \
	F("authPolicy") \
	F("rdsRefreshDelay") \
	F("enableClientSidePolicyCheck") \
	F("localityLbSettingAmbient") \
	F("serviceScopeConfigs") \
	F("meshNetworks") \

static const char *const blocked_msg[] = {
	"blocked by the AKS Istio add-on: only its supported and allowed MeshConfig fields may be set",
	NULL,
};
#define BLOCKED(name) { name, EG_F_ANY, EG_FF_BLOCKED, .values = blocked_msg },
#define ACCEPTED(name) { name, EG_F_ANY },

static const struct eg_field aks_mesh_fields[] = {
	MESH_ACCEPTED_FIELDS
	MESH_BLOCKED_FIELDS(BLOCKED)
	{ NULL },
};
static const struct eg_field upstream_mesh_fields[] = {
	MESH_ACCEPTED_FIELDS
	MESH_BLOCKED_FIELDS(ACCEPTED)
	{ NULL },
};
static const struct eg_field aks_mesh_field = { "mesh", EG_F_OBJECT, 0, aks_mesh_fields };
static const struct eg_field upstream_mesh_field = { "mesh", EG_F_OBJECT, 0, upstream_mesh_fields };

bool eg_meshconfig_is(const struct eg_resource *r, const char **ret_rev)
{
	const char *rev = NULL;

	if (!r || r->kind != &eg_kind_configmap || !r->ns || !r->name)
		return false;
	if (strcmp(r->ns, AKS_NS) == 0 && strncmp(r->name, AKS_PREFIX, strlen(AKS_PREFIX)) == 0 &&
	    r->name[strlen(AKS_PREFIX)])
		rev = r->name + strlen(AKS_PREFIX);
	else if (strcmp(r->ns, UPSTREAM_NS) == 0 && strcmp(r->name, UPSTREAM_NAME) == 0)
		rev = "";
	if (!rev)
		return false;
	if (ret_rev)
		*ret_rev = rev;
	return true;
}

/* A JSON accessLogFormat is an object of key: command-string; anything else makes Istio fall
 * back to its default format, which is worth a warning. */
static void check_json_format(struct eg_rctx *c, const struct eg_node *fmt)
{
	struct eg_diag scratch;
	struct eg_node **docs = NULL;
	size_t n = 0;
	bool ok = false;

	eg_diag_init(&scratch);
	if (eg_yaml_load("accessLogFormat", fmt->s, fmt->len, &scratch, &docs, &n) == 0) {
		ok = n == 1 && docs[0]->kind == EG_NODE_MAP && docs[0]->n > 0;
		for (size_t i = 0; ok && i < docs[0]->n; i++)
			ok = docs[0]->v[i]->kind == EG_NODE_SCALAR;
		for (size_t i = 0; i < n; i++)
			eg_node_free(docs[i]);
		free(docs);
	}
	eg_diag_done(&scratch);
	if (!ok)
		eg_rwarn(c, fmt, "accessLogFormat",
			 "with accessLogEncoding JSON the format must be a JSON object of \"key\": \"%%COMMAND%%\" pairs; the default JSON format will be used");
}

static int check(const struct eg_resource *cm, const char *rev, struct eg_node **ret_mesh,
		 struct eg_diag *d)
{
	const struct eg_node *data = eg_node_get(cm->root, "data");
	const struct eg_node *mesh = eg_node_get(data, "mesh");
	unsigned errors0 = d->errors;
	struct eg_node **docs = NULL, *root = NULL;
	size_t n = 0;
	struct eg_rctx c;
	int r;

	eg_rctx_init(&c, cm, d);
	if (!mesh) {
		eg_rerr(&c, data, "data.mesh",
			"required field is missing: this ConfigMap carries the MeshConfig YAML in data.mesh");
		return -EINVAL;
	}
	eg_rctx_push(&c, "data.mesh");
	if (mesh->kind != EG_NODE_SCALAR) {
		eg_rerr(&c, mesh, NULL, "expected the MeshConfig YAML as a string");
		return -EINVAL;
	}
	r = eg_yaml_load_embedded(mesh, cm->what, "data.mesh", d, &docs, &n);
	if (r < 0)
		return r;
	if (n > 1)
		eg_rerr(&c, docs[1], NULL, "MeshConfig is one YAML document, this holds %zu", n);
	root = n ? docs[0] : eg_node_new_map();
	for (size_t i = 1; i < n; i++)
		eg_node_free(docs[i]);
	free(docs);
	if (!root)
		return -ENOMEM;
	if (n && root->kind != EG_NODE_MAP) {
		eg_rerr(&c, root, NULL, "MeshConfig must be a map of fields");
	} else if (n) {
		const struct eg_node *fmt = eg_node_get(root, "accessLogFormat");
		const char *enc = eg_node_str(root, "accessLogEncoding");
		const char *td = eg_node_str(root, "trustDomain");
		char why[768];

		eg_schema_walk(cm, "data.mesh", *rev ? &aks_mesh_field : &upstream_mesh_field, root, d);
		if (d->errors == errors0 && fmt && fmt->s && *fmt->s && enc && strcmp(enc, "JSON") == 0)
			check_json_format(&c, fmt);
		if (d->errors == errors0 && td && eg_istio_fqdn(td, why, sizeof(why)))
			eg_rerr(&c, eg_node_get(root, "trustDomain"), "trustDomain", "%s", why);
	}
	if (d->errors != errors0) {
		eg_node_free(root);
		return -EINVAL;
	}
	*ret_mesh = root;
	return 0;
}

int eg_meshconfig_parse(const struct eg_resource *cm, struct eg_node **ret_mesh,
			struct eg_diag *d)
{
	const char *rev;

	if (!eg_meshconfig_is(cm, &rev))
		return -ENOENT;
	return check(cm, rev, ret_mesh, d);
}

/* The ConfigMap's webhook: the MeshConfig ConfigMaps must carry valid MeshConfig. */
void eg_rules_configmap(const struct eg_resource *r, struct eg_diag *d)
{
	struct eg_node *mesh = NULL;

	if (eg_meshconfig_parse(r, &mesh, d) == 0)
		eg_node_free(mesh);
}
