/* src/store/mesh.h: the AKS management plane over the store (`az aks mesh` in egressctl):
 * cluster settings, Istio egress gateways, ClusterIP and egress prefix allocation, and
 * canary revision upgrades. docs/reference/mesh.md has the full contract.
 * May include: core, model.
 *
 * What lives where:
 *   ConfigMap kube-system/egressd-cluster   the cluster settings (revisions, service CIDR,
 *                                           egress pool); defaults while it does not exist
 *   DIR/mesh/lock                           flock(2): taken before the store's own lock
 *   DIR/mesh/egress-gateways/<ns>/<name>    one enabled egress gateway (JSON)
 *   DIR/mesh/cluster-ips/<ip>               the Service ("<ns>/<name>") holding a ClusterIP
 *   DIR/mesh/tmp/                           temporary files of the mesh lock holder
 * The objects a gateway consists of (Service, ServiceAccount, one Deployment per revision)
 * are ordinary store objects; a StaticGatewayConfiguration's prefix is its
 * status.egressIpPrefix (no index: the SGCs themselves say which prefixes are taken).
 *
 * Every function here returns >= 0 on success and -errno on failure; a refused request
 * is reported in the struct eg_diag as "error: ..." lines that name the rule broken. */
#ifndef EG_STORE_MESH_H
#define EG_STORE_MESH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "model/model.h"
#include "store/store.h"

#define EG_MESH_MAX_GATEWAYS         500 /* per cluster (the how-to's limit) */
#define EG_MESH_NAME_MAX             53  /* gateway name length (the how-to; the CLI says 63) */
#define EG_MESH_MAX_REVISIONS        2   /* two while a canary upgrade runs */
#define EG_MESH_DEFAULT_NAMESPACE    "aks-istio-egress"
#define EG_MESH_DEFAULT_REVISION     "asm-1-24"
#define EG_MESH_DEFAULT_SERVICE_CIDR "10.0.0.0/16"
#define EG_MESH_DEFAULT_EGRESS_POOL  "127.0.16.0/20"
#define EG_MESH_DEFAULT_PREFIX_LEN   28
#define EG_MESH_SETTINGS_NAMESPACE   "kube-system"
#define EG_MESH_SETTINGS_NAME        "egressd-cluster"
#define EG_MESH_SGC_ANNOTATION       "kubernetes.azure.com/static-gateway-configuration"
#define EG_MESH_COMPONENT_LABEL      "azureservicemesh/istio.component"
#define EG_MESH_COMPONENT_EGRESS     "egress-gateway"
#define EG_MESH_RELEASE_ANNOTATION   "meta.helm.sh/release-name"

struct eg_mesh_settings {
	char revisions[EG_MESH_MAX_REVISIONS][32]; /* oldest first */
	size_t nrevisions;                         /* 1, or 2 during an upgrade */
	char service_cidr[32];                     /* IPv4 CIDR of the ClusterIPs */
	char egress_pool[32];                      /* IPv4 CIDR of the SGC prefixes */
};

struct eg_mesh_gateway {
	bool enabled; /* always true for a listed gateway (disable removes it) */
	char name[EG_MESH_NAME_MAX + 1];
	char ns[64];
	char sgc[254];       /* gatewayConfigurationName */
	char cluster_ip[16]; /* its Service's ClusterIP ("" when unknown) */
};

/* --- settings --- */

void eg_mesh_settings_default(struct eg_mesh_settings *st);
/* Checks @st (revision names asm-N-M, distinct; IPv4 CIDRs). 0, or -EINVAL reported. */
int eg_mesh_settings_check(const struct eg_mesh_settings *st, struct eg_diag *d);
/* The settings in force: the ConfigMap, or the defaults while it does not exist. 0,
 * -EINVAL (the ConfigMap holds something invalid: reported), -errno. */
int eg_mesh_settings_load(struct eg_store *s, struct eg_mesh_settings *ret, struct eg_diag *d);
/* Writes @st. What follows from a change is done in the same call: Deployments of every
 * enabled gateway for an added revision are created (with the ConfigMap, in one store
 * transaction), those of a removed revision deleted (before the ConfigMap is written),
 * and when the egress pool changed, every StaticGatewayConfiguration whose prefix lies
 * outside it gets a new one. 0, -EINVAL (reported), -errno. */
int eg_mesh_settings_save(struct eg_store *s, const struct eg_mesh_settings *st, struct eg_diag *d);

/* --- egress gateways --- */

/* The add-on's name rule: the how-to's regex and 1..EG_MESH_NAME_MAX characters. */
bool eg_mesh_name_valid(const char *name);
/* The CLI's message for an invalid name:
 * "Istio egress name NAME is invalid. Name must be between 1 and 53 characters, ..." */
const char *eg_mesh_name_message(const char *name, char *buf, size_t len);

/* az aks mesh enable-egress-gateway: checks every rule (name, namespace exists, unique
 * per namespace, at most EG_MESH_MAX_GATEWAYS, the SGC exists in @ns; a warning when it
 * has no status.egressIpPrefix), allocates a ClusterIP, then writes the ServiceAccount,
 * the Service and one Deployment per revision in one store transaction and records the
 * gateway. @ns NULL: aks-istio-egress. @ret (may be NULL) gets the gateway. 0; -EINVAL, -ENOENT,
 * -EEXIST, -ENOSPC (refused, reported); -errno. */
int eg_mesh_enable(struct eg_store *s, const char *name, const char *ns, const char *sgc,
                   struct eg_mesh_gateway *ret, struct eg_diag *d);
/* az aks mesh disable-egress-gateway: deletes the gateway's objects (the local cluster
 * removes their pods) and forgets it. @ret (may be NULL) gets the
 * gateway as it was. 0; -ENOENT (not enabled: reported); -errno. */
int eg_mesh_disable(struct eg_store *s, const char *name, const char *ns,
                    struct eg_mesh_gateway *ret, struct eg_diag *d);
/* Every enabled gateway, sorted by namespace then name. The caller frees *ret. 0, -errno. */
int eg_mesh_list(struct eg_store *s, struct eg_mesh_gateway **ret, size_t *ret_n);

/* The JSON of `egressctl mesh show` (az aks show's shape: serviceMeshProfile.istio
 * .revisions and .components.egressGateways, null when none; networkProfile.serviceCidr),
 * pretty printed with a final newline. 0, -EINVAL (settings: reported), -errno. */
int eg_mesh_show_json(struct eg_store *s, struct eg_buf *out, struct eg_diag *d);

/* --- canary upgrades (az aks mesh upgrade start|complete|rollback) --- */

/* Adds @rev (asm-N-M, newer than the current revision) and a Deployment NAME-REV per
 * gateway behind the same Service. -EINVAL, -EBUSY (an upgrade runs already): reported. */
int eg_mesh_upgrade_start(struct eg_store *s, const char *rev, struct eg_diag *d);
/* Drops the old revision (and its Deployments). -EINVAL when no upgrade runs. */
int eg_mesh_upgrade_complete(struct eg_store *s, struct eg_diag *d);
/* Drops the new revision (and its Deployments). -EINVAL when no upgrade runs. */
int eg_mesh_upgrade_rollback(struct eg_store *s, struct eg_diag *d);

/* --- hooks of the resource verbs --- */

/* After `apply` stored @set: every StaticGatewayConfiguration of @set whose
 * status.egressIpPrefix is missing, outside the egress pool or of another size than it
 * asks for (spec.gatewayVmssProfile.publicIpPrefixSize, else /28) gets a free prefix of
 * the pool (status write). An SGC that cannot get one is a warning in @d. A Service
 * of @set that sets its own spec.clusterIP inside the service CIDR has it recorded, so
 * that enable never hands it out (held by another Service: a warning). Returns the
 * number of prefixes assigned, or -errno. */
int eg_mesh_after_apply(struct eg_store *s, const struct eg_resource_set *set, struct eg_diag *d);
/* eg_store_delete with the management plane's rules: a StaticGatewayConfiguration used
 * by an enabled gateway, and a Namespace holding an enabled gateway, are not deleted
 * (@ret_results[i] = -EBUSY, the reason reported in @d); deleted Services give their
 * ClusterIP back. Results and return value as eg_store_delete otherwise. */
int eg_mesh_delete(struct eg_store *s, const struct eg_store_ref *refs, size_t n, int *ret_results,
                   struct eg_diag *d);

#endif /* EG_STORE_MESH_H */
