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

#endif /* EG_MODEL_KINDS_H */
