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
extern const struct eg_kind eg_kind_pod;

/* Istio and AKS kinds (kinds_istio.c, kinds_security.c, kinds_sgc.c) */
extern const struct eg_kind eg_kind_serviceentry;
extern const struct eg_kind eg_kind_gateway;
extern const struct eg_kind eg_kind_virtualservice;
extern const struct eg_kind eg_kind_destinationrule;
extern const struct eg_kind eg_kind_sidecar;
extern const struct eg_kind eg_kind_telemetry;
extern const struct eg_kind eg_kind_authorizationpolicy;
extern const struct eg_kind eg_kind_staticgatewayconfiguration;

/* Webhook rules (rules_networking.c, rules_security.c, rules_sgc.c, meshconfig.c): each runs
 * after a clean schema pass, reports every problem it finds and never stops at the first. */
void eg_rules_serviceentry(const struct eg_resource *r, struct eg_diag *d);
void eg_rules_gateway(const struct eg_resource *r, struct eg_diag *d);
void eg_rules_virtualservice(const struct eg_resource *r, struct eg_diag *d);
void eg_rules_destinationrule(const struct eg_resource *r, struct eg_diag *d);
void eg_rules_sidecar(const struct eg_resource *r, struct eg_diag *d);
void eg_rules_telemetry(const struct eg_resource *r, struct eg_diag *d);
void eg_rules_authorizationpolicy(const struct eg_resource *r, struct eg_diag *d);
void eg_rules_sgc(const struct eg_resource *r, struct eg_diag *d);
void eg_rules_configmap(const struct eg_resource *r, struct eg_diag *d);

/* --- rules_common.c: what every rule file needs --- */

/* A rule's cursor: the resource, the sink, and the field path of the node being checked. */
struct eg_rctx {
	const struct eg_resource *r;
	struct eg_diag *d;
	char path[512];
	size_t plen;
};

void eg_rctx_init(struct eg_rctx *c, const struct eg_resource *r, struct eg_diag *d);
/* Appends to the path ("spec", ".hosts", "[2]"); returns the old length for eg_rctx_pop. */
size_t eg_rctx_push(struct eg_rctx *c, const char *fmt, ...) EG_PRINTF(2, 3);
void eg_rctx_pop(struct eg_rctx *c, size_t old);
/* Reports at @at (NULL: the resource) with the current path, or path + "." + @field. */
void eg_rerr(struct eg_rctx *c, const struct eg_node *at, const char *field, const char *fmt, ...)
	EG_PRINTF(4, 5);
void eg_rwarn(struct eg_rctx *c, const struct eg_node *at, const char *field, const char *fmt,
	      ...) EG_PRINTF(4, 5);

/* Go's %q of @s into @buf (for messages that quote Istio's). */
const char *eg_goq(const char *s, char *buf, size_t len);

/* Istio's host checks (pkg/config/validation/agent). Each returns NULL when @s is valid, or
 * Istio's message written into @why. */
const char *eg_istio_wildcard_domain(const char *s, char *why, size_t len);
const char *eg_istio_fqdn(const char *s, char *why, size_t len);
const char *eg_istio_partial_wildcard(const char *s, char *why, size_t len);
/* Istio's labels.IsDNS1123Label (letters of both cases). */
bool eg_istio_dns_label(const char *s);
/* host.Name.Matches and host.Name.SubsetOf (wildcard-aware host comparison). */
bool eg_host_matches(const char *a, const char *b);
bool eg_host_subset_of(const char *a, const char *b);
/* netip.ParsePrefix-like: ADDRESS/BITS with the address having no bits past the mask is not
 * required (Istio accepts 10.0.0.1/8). */
bool eg_is_ip_or_cidr(const char *s);
/* RE2 syntax check of @re; NULL when fine, else Go's "error parsing regexp: ..." text. */
const char *eg_re2_check(const char *re, char *why, size_t len);

/* Shared sub-rules. */
void eg_rules_export_to(struct eg_rctx *c, const struct eg_node *spec, bool service_entry,
			bool dr_with_selector);
void eg_rules_workload_selector(struct eg_rctx *c, const struct eg_node *sel, const char *field,
				const char *labels_key);
void eg_rules_duration_ms(struct eg_rctx *c, const struct eg_node *obj, const char *field,
			  bool allow_zero);
void eg_rules_server_tls(struct eg_rctx *c, const struct eg_node *tls);
void eg_rules_conn_pool(struct eg_rctx *c, const struct eg_node *pool);

/* schema.c: walks @n against @f as the schema pass does, with @path as its field path (used for
 * trees that live outside the resource, such as the MeshConfig inside data.mesh). */
void eg_schema_walk(const struct eg_resource *r, const char *path, const struct eg_field *f,
		    struct eg_node *n, struct eg_diag *d);

#endif /* EG_MODEL_KINDS_H */
