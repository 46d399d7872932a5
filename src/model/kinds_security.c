/* src/model/kinds_security.c: the schemas of telemetry.istio.io Telemetry (v1, v1alpha1) and
 * security.istio.io AuthorizationPolicy (v1, v1beta1). Rules: rules_security.c. */
#include "model/kinds.h"

static const struct eg_field str_elem = { .type = EG_F_STRING };
static const struct eg_field label_value_elem = { .type = EG_F_STRING,
						  .fmt = EG_FMT_LABEL_VALUE };

#define F_STRLIST(name)                              \
	{                                            \
		name, EG_F_LIST, 0, &str_elem, .max = 4096 \
	}

/* WorkloadSelector {matchLabels} */
static const struct eg_field selector_fields[] = {
	{ "matchLabels", EG_F_MAP, 0, &label_value_elem, .fmt = EG_FMT_LABEL_KEY, .max = 256 },
	{ NULL },
};

/* PolicyTargetReference {group, kind, name, namespace} */
static const struct eg_field target_ref_fields[] = {
	{ "group", EG_F_STRING },
	{ "kind", EG_F_STRING, EG_FF_REQUIRED | EG_FF_NONEMPTY },
	{ "name", EG_F_STRING, EG_FF_REQUIRED | EG_FF_NONEMPTY },
	{ "namespace", EG_F_STRING },
	{ NULL },
};
static const struct eg_field target_ref_elem = { .type = EG_F_OBJECT, .sub = target_ref_fields };

/* ===================================================================================
 * Telemetry
 * =================================================================================== */

static const char *const workload_modes[] = { "CLIENT_AND_SERVER", "CLIENT", "SERVER", NULL };
static const struct eg_field provider_ref_fields[] = {
	{ "name", EG_F_STRING, EG_FF_REQUIRED }, /* empty: the rule says "empty provider name" */
	{ NULL },
};
static const struct eg_field provider_ref_elem = { .type = EG_F_OBJECT,
						   .sub = provider_ref_fields };
static const struct eg_field mode_selector_fields[] = {
	{ "mode", EG_F_ENUM, 0, .values = workload_modes },
	{ NULL },
};
static const struct eg_field log_filter_fields[] = {
	{ "expression", EG_F_STRING, 0, .max = 65536 },
	{ NULL },
};
static const struct eg_field access_logging_fields[] = {
	{ "match", EG_F_OBJECT, 0, mode_selector_fields },
	{ "providers", EG_F_LIST, 0, &provider_ref_elem, .max = 64 },
	{ "disabled", EG_F_BOOL },
	{ "filter", EG_F_OBJECT, 0, log_filter_fields },
	{ NULL },
};
static const struct eg_field access_logging_elem = { .type = EG_F_OBJECT,
						     .sub = access_logging_fields };

static const char *const istio_metrics[] = {
	"ALL_METRICS",	       "REQUEST_COUNT",		 "REQUEST_DURATION",	  "REQUEST_SIZE",
	"RESPONSE_SIZE",       "TCP_OPENED_CONNECTIONS", "TCP_CLOSED_CONNECTIONS", "TCP_SENT_BYTES",
	"TCP_RECEIVED_BYTES", "GRPC_REQUEST_MESSAGES",  "GRPC_RESPONSE_MESSAGES", NULL
};
static const struct eg_field metric_selector_fields[] = {
	{ "metric", EG_F_ENUM, 0, .values = istio_metrics },
	{ "customMetric", EG_F_STRING },
	{ "mode", EG_F_ENUM, 0, .values = workload_modes },
	{ NULL },
};
static const char *const tag_operations[] = { "UPSERT", "REMOVE", NULL };
static const struct eg_field tag_override_fields[] = {
	{ "operation", EG_F_ENUM, 0, .values = tag_operations },
	{ "value", EG_F_STRING },
	{ NULL },
};
static const struct eg_field tag_override_elem = { .type = EG_F_OBJECT,
						   .sub = tag_override_fields };
static const struct eg_field metrics_override_fields[] = {
	{ "match", EG_F_OBJECT, 0, metric_selector_fields },
	{ "disabled", EG_F_BOOL },
	{ "tagOverrides", EG_F_MAP, 0, &tag_override_elem, .max = 256 },
	{ NULL },
};
static const struct eg_field metrics_override_elem = { .type = EG_F_OBJECT,
						       .sub = metrics_override_fields };
static const struct eg_field metrics_fields[] = {
	{ "providers", EG_F_LIST, 0, &provider_ref_elem, .max = 64 },
	{ "overrides", EG_F_LIST, 0, &metrics_override_elem, .max = 1024 },
	{ "reportingInterval", EG_F_DURATION },
	{ NULL },
};
static const struct eg_field metrics_elem = { .type = EG_F_OBJECT, .sub = metrics_fields };

static const struct eg_field literal_fields[] = {
	{ "value", EG_F_STRING, EG_FF_REQUIRED },
	{ NULL },
};
static const struct eg_field env_tag_fields[] = {
	{ "name", EG_F_STRING, EG_FF_REQUIRED | EG_FF_NONEMPTY },
	{ "defaultValue", EG_F_STRING },
	{ NULL },
};
static const struct eg_field custom_tag_fields[] = {
	{ "literal", EG_F_OBJECT, 0, literal_fields },
	{ "environment", EG_F_OBJECT, 0, env_tag_fields },
	{ "header", EG_F_OBJECT, 0, env_tag_fields },
	{ NULL },
};
static const struct eg_field custom_tag_elem = { .type = EG_F_OBJECT, .sub = custom_tag_fields };
static const struct eg_field tracing_fields[] = {
	{ "match", EG_F_OBJECT, 0, mode_selector_fields },
	{ "providers", EG_F_LIST, 0, &provider_ref_elem, .max = 64 },
	{ "randomSamplingPercentage", EG_F_NUMBER, 0, .min = 0, .max = 100 },
	{ "disableSpanReporting", EG_F_BOOL },
	{ "customTags", EG_F_MAP, 0, &custom_tag_elem, .max = 256 },
	{ "useRequestIdForTraceSampling", EG_F_BOOL },
	{ NULL },
};
static const struct eg_field tracing_elem = { .type = EG_F_OBJECT, .sub = tracing_fields };

static const struct eg_field telemetry_spec[] = {
	{ "selector", EG_F_OBJECT, 0, selector_fields },
	{ "targetRef", EG_F_OBJECT, 0, target_ref_fields },
	{ "targetRefs", EG_F_LIST, 0, &target_ref_elem, .max = 16 },
	{ "tracing", EG_F_LIST, 0, &tracing_elem, .max = 64 },
	{ "metrics", EG_F_LIST, 0, &metrics_elem, .max = 64 },
	{ "accessLogging", EG_F_LIST, 0, &access_logging_elem, .max = 64 },
	{ NULL },
};
static const struct eg_field telemetry_fields[] = {
	{ "spec", EG_F_OBJECT, 0, telemetry_spec },
	{ "status", EG_F_ANY },
	{ NULL },
};
static const char *const telemetry_versions[] = { "v1", "v1alpha1", NULL };
static const char *const telemetry_short[] = { "telemetry", NULL };

const struct eg_kind eg_kind_telemetry = {
	"telemetry.istio.io", telemetry_versions, "Telemetry", "telemetries", "telemetry",
	telemetry_short, true, telemetry_fields, eg_rules_telemetry,
};

/* ===================================================================================
 * AuthorizationPolicy
 * =================================================================================== */

static const struct eg_field source_fields[] = {
	F_STRLIST("principals"),
	F_STRLIST("notPrincipals"),
	F_STRLIST("requestPrincipals"),
	F_STRLIST("notRequestPrincipals"),
	F_STRLIST("namespaces"),
	F_STRLIST("notNamespaces"),
	F_STRLIST("ipBlocks"),
	F_STRLIST("notIpBlocks"),
	F_STRLIST("remoteIpBlocks"),
	F_STRLIST("notRemoteIpBlocks"),
	F_STRLIST("serviceAccounts"),
	F_STRLIST("notServiceAccounts"),
	{ NULL },
};
static const struct eg_field from_fields[] = {
	{ "source", EG_F_OBJECT, 0, source_fields },
	{ NULL },
};
static const struct eg_field from_elem = { .type = EG_F_OBJECT, .sub = from_fields };
static const struct eg_field operation_fields[] = {
	F_STRLIST("hosts"),
	F_STRLIST("notHosts"),
	F_STRLIST("ports"),
	F_STRLIST("notPorts"),
	F_STRLIST("methods"),
	F_STRLIST("notMethods"),
	F_STRLIST("paths"),
	F_STRLIST("notPaths"),
	{ NULL },
};
static const struct eg_field to_fields[] = {
	{ "operation", EG_F_OBJECT, 0, operation_fields },
	{ NULL },
};
static const struct eg_field to_elem = { .type = EG_F_OBJECT, .sub = to_fields };
static const struct eg_field condition_fields[] = {
	{ "key", EG_F_STRING, 0 },
	F_STRLIST("values"),
	F_STRLIST("notValues"),
	{ NULL },
};
static const struct eg_field condition_elem = { .type = EG_F_OBJECT, .sub = condition_fields };
static const struct eg_field rule_fields[] = {
	{ "from", EG_F_LIST, 0, &from_elem, .max = 1024 },
	{ "to", EG_F_LIST, 0, &to_elem, .max = 1024 },
	{ "when", EG_F_LIST, 0, &condition_elem, .max = 1024 },
	{ NULL },
};
static const struct eg_field rule_elem = { .type = EG_F_OBJECT, .sub = rule_fields };
static const char *const authz_actions[] = { "ALLOW", "DENY", "AUDIT", "CUSTOM", NULL };
static const struct eg_field provider_fields[] = {
	{ "name", EG_F_STRING },
	{ NULL },
};
static const struct eg_field authz_spec[] = {
	{ "selector", EG_F_OBJECT, 0, selector_fields },
	{ "targetRef", EG_F_OBJECT, 0, target_ref_fields },
	{ "targetRefs", EG_F_LIST, 0, &target_ref_elem, .max = 16 },
	{ "rules", EG_F_LIST, 0, &rule_elem, .max = 4096 },
	{ "action", EG_F_ENUM, 0, .values = authz_actions },
	{ "provider", EG_F_OBJECT, 0, provider_fields },
	{ NULL },
};
static const struct eg_field authz_fields[] = {
	{ "spec", EG_F_OBJECT, 0, authz_spec },
	{ "status", EG_F_ANY },
	{ NULL },
};
static const char *const authz_versions[] = { "v1", "v1beta1", NULL };
static const char *const authz_short[] = { "ap", NULL };

const struct eg_kind eg_kind_authorizationpolicy = {
	"security.istio.io", authz_versions, "AuthorizationPolicy", "authorizationpolicies",
	"authorizationpolicy", authz_short, true, authz_fields, eg_rules_authorizationpolicy,
};
