/* src/model/kinds.h: the kind descriptors (private to src/model). */
#ifndef EG_MODEL_KINDS_H
#define EG_MODEL_KINDS_H

#include <stdio.h>
#include <string.h>

#include "model/model.h"

extern const struct eg_kind eg_kind_namespace;
extern const struct eg_kind eg_kind_configmap;
extern const struct eg_kind eg_kind_service;
extern const struct eg_kind eg_kind_serviceaccount;
extern const struct eg_kind eg_kind_secret;
extern const struct eg_kind eg_kind_deployment;

/* Istio and AKS kinds (kinds_istio.c, kinds_security.c, kinds_sgc.c) */
extern const struct eg_kind eg_kind_serviceentry;
extern const struct eg_kind eg_kind_gateway;
extern const struct eg_kind eg_kind_virtualservice;
extern const struct eg_kind eg_kind_destinationrule;
extern const struct eg_kind eg_kind_sidecar;
extern const struct eg_kind eg_kind_telemetry;
extern const struct eg_kind eg_kind_authorizationpolicy;
extern const struct eg_kind eg_kind_staticgatewayconfiguration;

#endif /* EG_MODEL_KINDS_H */
