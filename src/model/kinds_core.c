/* src/model/kinds_core.c: the Kubernetes kinds a local cluster needs: Namespace, ConfigMap,
 * Service, ServiceAccount, Secret, Deployment (the subset a workload uses). */
#include "model/kinds.h"

static const char *const v1[] = { "v1", NULL };
static const char *const apps_v1[] = { "v1", NULL };

static const struct eg_field str_elem = { .type = EG_F_STRING };
static const struct eg_field label_value_elem = { .type = EG_F_STRING, .fmt = EG_FMT_LABEL_VALUE };

/* Namespace */
static const struct eg_field ns_spec[] = {
	{ "finalizers", EG_F_LIST, 0, &str_elem },
	{ NULL },
};
static const struct eg_field ns_fields[] = {
	{ "spec", EG_F_OBJECT, 0, ns_spec },
	{ "status", EG_F_ANY },
	{ NULL },
};
static const char *const ns_short[] = { "ns", NULL };

static void validate_namespace(const struct eg_resource *r, struct eg_diag *d)
{
	if (!eg_is_dns1123_label(r->name))
		eg_res_error(d, r, eg_node_path(r->root, "metadata.name"), "metadata.name",
			     "\"%s\" is not a valid namespace name (a DNS-1123 label)", r->name);
}

const struct eg_kind eg_kind_namespace = {
	"", v1, "Namespace", "namespaces", "namespace", ns_short, false, ns_fields,
	validate_namespace,
};

/* ConfigMap: MeshConfig lives in data.mesh of istio-shared-configmap-<rev> in
 * aks-istio-system, or of "istio" in istio-system (model/meshconfig.c checks it). */
static const struct eg_field cm_fields[] = {
	{ "data", EG_F_MAP, 0, &str_elem },
	{ "binaryData", EG_F_MAP, 0, &str_elem },
	{ "immutable", EG_F_BOOL },
	{ NULL },
};
static const char *const cm_short[] = { "cm", NULL };

const struct eg_kind eg_kind_configmap = {
	"", v1, "ConfigMap", "configmaps", "configmap", cm_short, true, cm_fields,
	eg_rules_configmap, /* MeshConfig in data.mesh: model/meshconfig.c */
};

/* Service */
static const char *const svc_protocols[] = { "TCP", "UDP", "SCTP", NULL };
static const char *const svc_types[] = { "ClusterIP", "NodePort", "LoadBalancer", "ExternalName",
					 NULL };
static const struct eg_field svc_port_fields[] = {
	{ "name", EG_F_STRING, 0, .fmt = EG_FMT_DNS1123_LABEL },
	{ "port", EG_F_INT, EG_FF_REQUIRED, .min = 1, .max = 65535 },
	{ "targetPort", EG_F_INT_OR_STRING },
	{ "protocol", EG_F_ENUM, 0, .values = svc_protocols },
	{ "appProtocol", EG_F_STRING },
	{ "nodePort", EG_F_INT, 0, .min = 1, .max = 65535 },
	{ NULL },
};
static const struct eg_field svc_port_elem = { .type = EG_F_OBJECT, .sub = svc_port_fields };
static const struct eg_field svc_spec[] = {
	{ "type", EG_F_ENUM, 0, .values = svc_types },
	{ "selector", EG_F_MAP, 0, &label_value_elem, .fmt = EG_FMT_LABEL_KEY },
	{ "ports", EG_F_LIST, 0, &svc_port_elem },
	{ "clusterIP", EG_F_STRING },
	{ "clusterIPs", EG_F_LIST, 0, &str_elem },
	{ "externalName", EG_F_STRING, 0, .fmt = EG_FMT_DNS1123_SUBDOMAIN },
	{ NULL },
};
static const struct eg_field svc_fields[] = {
	{ "spec", EG_F_OBJECT, 0, svc_spec },
	{ "status", EG_F_ANY },
	{ NULL },
};
static const char *const svc_short[] = { "svc", NULL };

static void validate_service(const struct eg_resource *r, struct eg_diag *d)
{
	const struct eg_node *ports = eg_node_path(r->root, "spec.ports");
	const char *ip = eg_node_str(r->root, "spec.clusterIP");
	char path[96];

	if (!eg_is_dns1123_label(r->name))
		eg_res_error(d, r, eg_node_path(r->root, "metadata.name"), "metadata.name",
			     "\"%s\" is not a valid Service name (a DNS-1123 label)", r->name);
	if (ip && strcmp(ip, "None") != 0 && !eg_is_ip(ip))
		eg_res_error(d, r, eg_node_path(r->root, "spec.clusterIP"), "spec.clusterIP",
			     "\"%s\" is not an IP address or None", ip);
	for (size_t i = 0; i < eg_node_len(ports); i++) {
		const char *name = eg_node_str(ports->v[i], "name");

		if (!name && ports->n > 1) {
			snprintf(path, sizeof(path), "spec.ports[%zu].name", i);
			eg_res_error(d, r, ports->v[i], path,
				     "required when the Service has more than one port");
		}
		for (size_t j = 0; j < i; j++) {
			const char *other = eg_node_str(ports->v[j], "name");

			if (name && other && strcmp(name, other) == 0) {
				snprintf(path, sizeof(path), "spec.ports[%zu].name", i);
				eg_res_error(d, r, eg_node_get(ports->v[i], "name"), path,
					     "duplicate port name \"%s\"", name);
			}
		}
	}
}

const struct eg_kind eg_kind_service = {
	"", v1, "Service", "services", "service", svc_short, true, svc_fields, validate_service,
};

/* ServiceAccount */
static const struct eg_field sa_fields[] = {
	{ "secrets", EG_F_ANY },
	{ "imagePullSecrets", EG_F_ANY },
	{ "automountServiceAccountToken", EG_F_BOOL },
	{ NULL },
};
static const char *const sa_short[] = { "sa", NULL };

const struct eg_kind eg_kind_serviceaccount = {
	"", v1, "ServiceAccount", "serviceaccounts", "serviceaccount", sa_short, true, sa_fields,
	NULL,
};

/* Secret: TLS material for Gateway credentialName and DR credentialName. */
static const struct eg_field secret_fields[] = {
	{ "type", EG_F_STRING },
	{ "data", EG_F_MAP, 0, &str_elem },
	{ "stringData", EG_F_MAP, 0, &str_elem },
	{ "immutable", EG_F_BOOL },
	{ NULL },
};

const struct eg_kind eg_kind_secret = {
	"", v1, "Secret", "secrets", "secret", NULL, true, secret_fields, NULL,
};

/* Deployment: labels, replicas, selector, template labels/annotations,
 * serviceAccountName, and the containers as given (kept, not run). */
static const struct eg_field selector_fields[] = {
	{ "matchLabels", EG_F_MAP, 0, &label_value_elem, .fmt = EG_FMT_LABEL_KEY },
	{ "matchExpressions", EG_F_ANY },
	{ NULL },
};
static const struct eg_field pod_meta_fields[] = {
	{ "labels", EG_F_MAP, 0, &label_value_elem, .fmt = EG_FMT_LABEL_KEY },
	{ "annotations", EG_F_MAP, 0, &str_elem },
	{ "name", EG_F_STRING },
	{ "creationTimestamp", EG_F_ANY },
	{ NULL },
};
static const struct eg_field container_fields[] = {
	{ "name", EG_F_STRING, EG_FF_REQUIRED, .fmt = EG_FMT_DNS1123_LABEL },
	{ "image", EG_F_STRING },
	{ "command", EG_F_LIST, 0, &str_elem },
	{ "args", EG_F_LIST, 0, &str_elem },
	{ "imagePullPolicy", EG_F_STRING },
	{ "ports", EG_F_ANY },
	{ "env", EG_F_ANY },
	{ "resources", EG_F_ANY },
	{ "volumeMounts", EG_F_ANY },
	{ "securityContext", EG_F_ANY },
	{ "readinessProbe", EG_F_ANY },
	{ "livenessProbe", EG_F_ANY },
	{ NULL },
};
static const struct eg_field container_elem = { .type = EG_F_OBJECT, .sub = container_fields };
static const struct eg_field pod_spec_fields[] = {
	{ "serviceAccountName", EG_F_STRING, 0, .fmt = EG_FMT_DNS1123_SUBDOMAIN },
	{ "containers", EG_F_LIST, 0, &container_elem },
	{ "terminationGracePeriodSeconds", EG_F_INT, 0, .min = 0, .max = 1000000 },
	{ "affinity", EG_F_ANY },
	{ "nodeSelector", EG_F_MAP, 0, &str_elem },
	{ "tolerations", EG_F_ANY },
	{ "volumes", EG_F_ANY },
	{ "securityContext", EG_F_ANY },
	{ NULL },
};
static const struct eg_field template_fields[] = {
	{ "metadata", EG_F_OBJECT, 0, pod_meta_fields },
	{ "spec", EG_F_OBJECT, 0, pod_spec_fields },
	{ NULL },
};
static const struct eg_field deploy_spec[] = {
	{ "replicas", EG_F_INT, 0, .min = 0, .max = 1000 },
	{ "selector", EG_F_OBJECT, 0, selector_fields },
	{ "template", EG_F_OBJECT, EG_FF_REQUIRED, template_fields },
	{ "strategy", EG_F_ANY },
	{ "revisionHistoryLimit", EG_F_INT, 0, .min = 0, .max = 1000 },
	{ NULL },
};
static const struct eg_field deploy_fields[] = {
	{ "spec", EG_F_OBJECT, EG_FF_REQUIRED, deploy_spec },
	{ "status", EG_F_ANY },
	{ NULL },
};
static const char *const deploy_short[] = { "deploy", NULL };

static void validate_deployment(const struct eg_resource *r, struct eg_diag *d)
{
	const struct eg_node *sel = eg_node_path(r->root, "spec.selector.matchLabels");
	const struct eg_node *tl = eg_node_path(r->root, "spec.template.metadata.labels");

	/* Kubernetes: the selector must match the template's labels */
	for (size_t i = 0; i < eg_node_len(sel); i++) {
		const char *want = sel->v[i]->s;
		/* eg_node_get, not eg_node_str: label keys contain dots (istio.io/rev) */
		const struct eg_node *have = eg_node_get(tl, sel->k[i]->s);

		if (!have || have->kind != EG_NODE_SCALAR || strcmp(have->s, want) != 0)
			eg_res_error(d, r, sel->v[i], "spec.selector.matchLabels",
				     "selector %s=%s does not match the template labels",
				     sel->k[i]->s, want);
	}
}

const struct eg_kind eg_kind_deployment = {
	"apps", apps_v1, "Deployment", "deployments", "deployment", deploy_short, true,
	deploy_fields, validate_deployment,
};

/* Pod: written by the local cluster (src/runtime) for `get pods`; spec and status are kept
 * as given. */
static const struct eg_field pod_fields[] = {
	{ "spec", EG_F_ANY },
	{ "status", EG_F_ANY },
	{ NULL },
};
static const char *const pod_short[] = { "po", NULL };

const struct eg_kind eg_kind_pod = {
	"", v1, "Pod", "pods", "pod", pod_short, true, pod_fields, NULL,
};
