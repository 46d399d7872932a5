/* src/model/kinds.c: the registry of every kind egressd reads. */
#include "model/kinds.h"

const struct eg_kind *const eg_kinds[] = {
	&eg_kind_namespace, &eg_kind_configmap, &eg_kind_service,
	&eg_kind_serviceaccount, &eg_kind_secret, &eg_kind_deployment,
	&eg_kind_serviceentry, &eg_kind_gateway, &eg_kind_virtualservice,
	&eg_kind_destinationrule, &eg_kind_sidecar, &eg_kind_telemetry,
	&eg_kind_authorizationpolicy, &eg_kind_staticgatewayconfiguration,
	&eg_kind_pod,
	NULL,
};
