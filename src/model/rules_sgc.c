/* src/model/rules_sgc.c: the kube-egress-gateway webhook of StaticGatewayConfiguration
 * (api/v1alpha1/staticgatewayconfiguration_webhook.go), with its messages, and checks of
 * status.egressIpPrefix, which egressd reads as the gateway's source prefix. */
#include "model/kinds.h"

static bool nonempty(const struct eg_node *obj, const char *key)
{
	const char *s = eg_node_str(obj, key);

	return s && *s;
}

static bool is_ipv4(const char *s)
{
	return eg_is_ip(s) && !strchr(s, ':');
}

void eg_rules_sgc(const struct eg_resource *r, struct eg_diag *d)
{
	const struct eg_node *spec = eg_node_get(r->root, "spec");
	const struct eg_node *vmss = eg_node_get(spec, "gatewayVmssProfile");
	const struct eg_node *pool = eg_node_get(spec, "gatewayNodepoolName");
	const struct eg_node *excl = eg_node_get(spec, "excludeCidrs");
	const struct eg_node *prefix = eg_node_path(r->root, "status.egressIpPrefix");
	bool has_pool = nonempty(spec, "gatewayNodepoolName");
	bool has_vmss = vmss && vmss->n;
	struct eg_rctx c;

	eg_rctx_init(&c, r, d);
	eg_rctx_push(&c, "spec");
	if (!has_pool && !has_vmss)
		eg_rerr(&c, pool ? pool : spec, "gatewayNodepoolName",
			"Either GatewayNodepoolName or GatewayVMSSProfile must be provided");
	if (has_pool && has_vmss)
		eg_rerr(&c, pool, "gatewayNodepoolName",
			"Only one of GatewayNodepoolName and GatewayVMSSProfile should be provided");
	if (has_vmss) {
		const struct eg_node *size = eg_node_get(vmss, "publicIpPrefixSize");
		size_t old = eg_rctx_push(&c, ".gatewayVmssProfile");

		if (!nonempty(vmss, "vmssResourceGroup"))
			eg_rerr(&c, vmss, "vmssResourceGroup", "Gateway vmss resource group is empty");
		if (!nonempty(vmss, "vmssName"))
			eg_rerr(&c, vmss, "vmssName", "Gateway vmss name is empty");
		if (size && (size->i < 0 || size->i > 31))
			eg_rerr(&c, size, "publicIpPrefixSize",
				"Gateway vmss public ip prefix size should be between 0 and 31 inclusively");
		eg_rctx_pop(&c, old);
	}
	/* provisionPublicIps defaults to true (CRD default) */
	if (!eg_node_bool(spec, "provisionPublicIps", true) && nonempty(spec, "publicIpPrefixId"))
		eg_rerr(&c, eg_node_get(spec, "publicIpPrefixId"), "publicIpPrefixId",
			"PublicIpPrefixId should be empty when ProvisionPublicIps is false");
	/* Static Egress Gateway is IPv4 only */
	for (size_t i = 0; i < eg_node_len(excl); i++) {
		const char *s = excl->v[i]->s;

		if (strchr(s, ':')) {
			size_t old = eg_rctx_push(&c, ".excludeCidrs[%zu]", i);

			eg_rerr(&c, excl->v[i], NULL,
				"%s is an IPv6 CIDR; the static egress gateway is IPv4 only", s);
			eg_rctx_pop(&c, old);
		}
	}
	eg_rctx_pop(&c, 0);
	/* "20.65.41.84/30", or "10.0.1.8,10.0.1.9" (private mode) */
	if (prefix && prefix->s && *prefix->s) {
		const char *p = prefix->s;

		eg_rctx_push(&c, "status.egressIpPrefix");
		while (*p) {
			const char *comma = strchr(p, ',');
			size_t n = comma ? (size_t)(comma - p) : strlen(p);
			char item[64];

			snprintf(item, sizeof(item), "%.*s", (int)EG_MIN(n, sizeof(item) - 1), p);
			if (n >= sizeof(item) ||
			    !(strchr(item, '/') ? eg_is_cidr(item) && !strchr(item, ':') : is_ipv4(item))) {
				eg_rerr(&c, prefix, NULL,
					"\"%s\" is not an IPv4 prefix (ADDRESS/BITS) or a comma-separated list of IPv4 addresses",
					prefix->s);
				break;
			}
			if (!comma)
				break;
			p = comma + 1;
			if (!*p) {
				eg_rerr(&c, prefix, NULL, "trailing comma in \"%s\"", prefix->s);
				break;
			}
		}
	}
}
