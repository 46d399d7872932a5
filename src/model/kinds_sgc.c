/* src/model/kinds_sgc.c: egressgateway.kubernetes.azure.com/v1alpha1
 * StaticGatewayConfiguration (Azure kube-egress-gateway): the spec, and the status the
 * operator fills in (egressIpPrefix is what a gateway pod's source address comes from).
 * Rules: rules_sgc.c. */
#include "model/kinds.h"

static const struct eg_field cidr_elem = { .type = EG_F_STRING, .fmt = EG_FMT_CIDR };

static const struct eg_field vmss_profile_fields[] = {
	{ "vmssResourceGroup", EG_F_STRING },
	{ "vmssName", EG_F_STRING },
	/* 0..31 is the webhook's rule (with its own message), so the schema takes any int32 */
	{ "publicIpPrefixSize", EG_F_INT, 0, .min = -2147483647LL - 1, .max = 2147483647LL },
	{ NULL },
};
static const char *const default_routes[] = { "staticEgressGateway", "azureNetworking", NULL };
static const struct eg_field sgc_spec[] = {
	{ "gatewayNodepoolName", EG_F_STRING },
	{ "gatewayVmssProfile", EG_F_OBJECT, 0, vmss_profile_fields },
	{ "provisionPublicIps", EG_F_BOOL },
	{ "publicIpPrefixId", EG_F_STRING },
	{ "defaultRoute", EG_F_ENUM, 0, .values = default_routes },
	{ "excludeCidrs", EG_F_LIST, 0, &cidr_elem, .max = 1024 },
	{ NULL },
};

/* status: egressIpPrefix ("20.65.41.84/30", or "10.0.1.8,10.0.1.9" in private mode);
 * the fields of older type versions are accepted and not used. */
static const struct eg_field wireguard_fields[] = {
	{ "wireguardServerIp", EG_F_STRING },
	{ "wireguardServerIP", EG_F_STRING },
	{ "wireguardServerPort", EG_F_INT, 0, .min = 0, .max = 65535 },
	{ "wireguardPublicKey", EG_F_STRING },
	{ "wireguardPrivateKeySecretRef", EG_F_ANY },
	{ NULL },
};
static const struct eg_field sgc_status[] = {
	{ "egressIpPrefix", EG_F_STRING },
	{ "publicIpPrefix", EG_F_STRING },
	{ "state", EG_F_STRING },
	{ "message", EG_F_STRING },
	{ "gatewayWireguardProfile", EG_F_OBJECT, 0, wireguard_fields },
	{ "gatewayServerProfile", EG_F_ANY },
	{ "conditions", EG_F_ANY },
	{ "activeNodes", EG_F_ANY },
	{ NULL },
};
static const struct eg_field sgc_fields[] = {
	{ "spec", EG_F_OBJECT, EG_FF_REQUIRED, sgc_spec },
	{ "status", EG_F_OBJECT, 0, sgc_status },
	{ NULL },
};
static const char *const sgc_versions[] = { "v1alpha1", NULL };
static const char *const sgc_short[] = { "sgc", NULL };

const struct eg_kind eg_kind_staticgatewayconfiguration = {
	"egressgateway.kubernetes.azure.com", sgc_versions, "StaticGatewayConfiguration",
	"staticgatewayconfigurations", "staticgatewayconfiguration", sgc_short, true, sgc_fields,
	eg_rules_sgc,
};
