/* src/store/mesh.c: the AKS management plane (`az aks mesh ...` in egressctl): cluster
 * settings, enabling and disabling Istio egress gateways, canary upgrades, mesh show, and
 * the hooks of apply and delete. The objects it writes are ordinary store objects; what
 * only the management plane knows (the enabled gateways, the ClusterIPs handed out) lives
 * in DIR/mesh (mesh-int.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/file.h"
#include "store/mesh-int.h"

/* --- settings --- */

void eg_mesh_settings_default(struct eg_mesh_settings *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->revisions[0], sizeof(st->revisions[0]), "%s", EG_MESH_DEFAULT_REVISION);
	st->nrevisions = 1;
	snprintf(st->service_cidr, sizeof(st->service_cidr), "%s", EG_MESH_DEFAULT_SERVICE_CIDR);
	snprintf(st->egress_pool, sizeof(st->egress_pool), "%s", EG_MESH_DEFAULT_EGRESS_POOL);
}

/* "asm-MAJOR-MINOR" (the add-on's revision names); the numbers go to @ret (may be NULL). */
static bool parse_revision(const char *s, unsigned ret[2])
{
	unsigned v[2] = {0, 0};

	if (!s || strncmp(s, "asm-", 4) != 0)
		return false;
	s += 4;
	for (int i = 0; i < 2; i++) {
		unsigned digits = 0;

		if (i && *s++ != '-')
			return false;
		while (*s >= '0' && *s <= '9') {
			v[i] = v[i] * 10 + (unsigned)(*s++ - '0');
			if (++digits > 4)
				return false;
		}
		if (!digits)
			return false;
	}
	if (*s)
		return false;
	if (ret) {
		ret[0] = v[0];
		ret[1] = v[1];
	}
	return true;
}

/* Orders revisions by version: <0, 0, >0. */
static int revision_cmp(const char *a, const char *b)
{
	unsigned va[2], vb[2];

	if (!parse_revision(a, va) || !parse_revision(b, vb))
		return strcmp(a, b);
	if (va[0] != vb[0])
		return va[0] < vb[0] ? -1 : 1;
	return va[1] < vb[1] ? -1 : va[1] > vb[1];
}

static bool has_revision(const struct eg_mesh_settings *st, const char *rev)
{
	for (size_t i = 0; i < st->nrevisions; i++)
		if (strcmp(st->revisions[i], rev) == 0)
			return true;
	return false;
}

static const char settings_what[] =
        "ConfigMap " EG_MESH_SETTINGS_NAMESPACE "/" EG_MESH_SETTINGS_NAME;

int eg_mesh_settings_check(const struct eg_mesh_settings *st, struct eg_diag *d)
{
	unsigned errors0 = d->errors;
	struct eg_ip4net net;

	if (st->nrevisions < 1 || st->nrevisions > EG_MESH_MAX_REVISIONS)
		eg_diag_add(d, EG_DIAG_ERROR, NULL, settings_what, "data.revisions",
		            "one revision, or two during an upgrade (got %zu)", st->nrevisions);
	for (size_t i = 0; i < st->nrevisions && i < EG_MESH_MAX_REVISIONS; i++) {
		if (!parse_revision(st->revisions[i], NULL))
			eg_diag_add(d, EG_DIAG_ERROR, NULL, settings_what, "data.revisions",
			            "\"%s\" is not a revision name (asm-MAJOR-MINOR, as asm-1-24)",
			            st->revisions[i]);
		else if (i && strcmp(st->revisions[0], st->revisions[i]) == 0)
			eg_diag_add(d, EG_DIAG_ERROR, NULL, settings_what, "data.revisions",
			            "revision \"%s\" is listed twice", st->revisions[i]);
	}
	if (eg_ip4net_parse(st->service_cidr, &net) < 0 || net.len < 8 || net.len > 30)
		eg_diag_add(d, EG_DIAG_ERROR, NULL, settings_what, "data.serviceCIDR",
		            "\"%s\" is not an IPv4 CIDR of /8 to /30 without host bits",
		            st->service_cidr);
	if (eg_ip4net_parse(st->egress_pool, &net) < 0 || net.len < 8)
		eg_diag_add(d, EG_DIAG_ERROR, NULL, settings_what, "data.egressPool",
		            "\"%s\" is not an IPv4 CIDR of /8 to /32 without host bits",
		            st->egress_pool);
	return d->errors != errors0 ? -EINVAL : 0;
}

/* Copies scalar data.@key of the ConfigMap into @buf; false when absent. */
static bool data_str(const struct eg_resource *cm, const char *key, char *buf, size_t len,
                     struct eg_diag *d)
{
	const struct eg_node *data = eg_node_get(cm->root, "data");
	const char *v = eg_node_str(data, key);

	if (!v)
		return false;
	if (strlen(v) >= len) {
		eg_res_error(d, cm, eg_node_get(data, key), NULL, "data.%s: too long", key);
		return false;
	}
	snprintf(buf, len, "%s", v);
	return true;
}

int eg_mesh_settings_load(struct eg_store *s, struct eg_mesh_settings *ret, struct eg_diag *d)
{
	struct eg_resource *cm = NULL;
	unsigned errors0 = d->errors;
	char revs[128];
	int r;

	eg_mesh_settings_default(ret);
	r = eg_store_get(s, eg_mesh_kind("configmaps"), EG_MESH_SETTINGS_NAMESPACE,
	                 EG_MESH_SETTINGS_NAME, &cm, d);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (data_str(cm, "revisions", revs, sizeof(revs), d)) {
		char *save = NULL;

		ret->nrevisions = 0;
		for (char *tok = strtok_r(revs, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			if (ret->nrevisions == EG_MESH_MAX_REVISIONS) {
				ret->nrevisions++;
				break;
			}
			if (strlen(tok) >= sizeof(ret->revisions[0]))
				tok = "?";
			snprintf(ret->revisions[ret->nrevisions++], sizeof(ret->revisions[0]), "%s",
			         tok);
		}
	}
	(void)data_str(cm, "serviceCIDR", ret->service_cidr, sizeof(ret->service_cidr), d);
	(void)data_str(cm, "egressPool", ret->egress_pool, sizeof(ret->egress_pool), d);
	eg_resource_free(cm);
	r = eg_mesh_settings_check(ret, d);
	return r < 0 || d->errors != errors0 ? -EINVAL : 0;
}

static int settings_yaml(struct eg_buf *b, const struct eg_mesh_settings *st)
{
	int r = eg_buf_printf(b,
	                      "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n"
	                      "  name: %s\n  namespace: %s\n"
	                      "  labels:\n    app.kubernetes.io/managed-by: egressd\n"
	                      "data:\n  revisions: \"%s",
	                      EG_MESH_SETTINGS_NAME, EG_MESH_SETTINGS_NAMESPACE, st->revisions[0]);

	for (size_t i = 1; i < st->nrevisions && r == 0; i++)
		r = eg_buf_printf(b, ",%s", st->revisions[i]);
	if (r == 0)
		r = eg_buf_printf(b, "\"\n  serviceCIDR: \"%s\"\n  egressPool: \"%s\"\n",
		                  st->service_cidr, st->egress_pool);
	return r;
}

/* --- the objects of a gateway --- */

static void release_name(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "asm-egx-%s", name);
}

static int labels_yaml(struct eg_buf *b, const char *indent, const char *name, const char *rev)
{
	int r = eg_buf_printf(b, "%sapp: \"%s\"\n%s%s: %s\n%sistio: \"%s\"\n", indent, name, indent,
	                      EG_MESH_COMPONENT_LABEL, EG_MESH_COMPONENT_EGRESS, indent, name);

	if (r == 0 && rev)
		r = eg_buf_printf(b, "%sistio.io/rev: \"%s\"\n", indent, rev);
	return r;
}

static int meta_yaml(struct eg_buf *b, const char *kind, const char *api, const char *objname,
                     const struct eg_mesh_gateway *g, const char *rev)
{
	char rel[96];
	int r;

	release_name(g->name, rel, sizeof(rel));
	r = eg_buf_printf(b,
	                  "---\napiVersion: %s\nkind: %s\nmetadata:\n  name: \"%s\"\n"
	                  "  namespace: \"%s\"\n  labels:\n",
	                  api, kind, objname, g->ns);
	if (r == 0)
		r = labels_yaml(b, "    ", g->name, rev);
	if (r == 0)
		r = eg_buf_printf(b,
		                  "  annotations:\n    %s: \"%s\"\n"
		                  "    meta.helm.sh/release-namespace: \"%s\"\n",
		                  EG_MESH_RELEASE_ANNOTATION, rel, g->ns);
	return r;
}

static int service_yaml(struct eg_buf *b, const struct eg_mesh_gateway *g, const char *ip)
{
	int r = meta_yaml(b, "Service", "v1", g->name, g, NULL);

	if (r == 0)
		r = eg_buf_printf(
		        b,
		        "spec:\n  type: ClusterIP\n  clusterIP: \"%s\"\n  clusterIPs:\n  - \"%s\"\n"
		        "  selector:\n    app: \"%s\"\n    istio: \"%s\"\n"
		        "  ports:\n"
		        "  - name: status-port\n    port: 15021\n    protocol: TCP\n    "
		        "targetPort: 15021\n"
		        "  - name: http2\n    port: 80\n    protocol: TCP\n    targetPort: 8080\n"
		        "  - name: https\n    port: 443\n    protocol: TCP\n    targetPort: 8443\n",
		        ip, ip, g->name, g->name);
	return r;
}

static int service_account_yaml(struct eg_buf *b, const struct eg_mesh_gateway *g)
{
	return meta_yaml(b, "ServiceAccount", "v1", g->name, g, NULL);
}

static void deployment_name(const struct eg_mesh_gateway *g, const char *rev, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%s", g->name, rev);
}

static int deployment_yaml(struct eg_buf *b, const struct eg_mesh_gateway *g, const char *rev)
{
	char dep[128];
	int r;

	deployment_name(g, rev, dep, sizeof(dep));
	/* the selector is Istio's gateway chart's (app, istio): the same for every revision,
	 * whose pods tell themselves apart by istio.io/rev and their owning Deployment */
	r = meta_yaml(b, "Deployment", "apps/v1", dep, g, rev);
	if (r == 0)
		r = eg_buf_printf(b,
		                  "spec:\n  replicas: 1\n  selector:\n    matchLabels:\n"
		                  "      app: \"%s\"\n      istio: \"%s\"\n"
		                  "  template:\n    metadata:\n      labels:\n",
		                  g->name, g->name);
	if (r == 0)
		r = labels_yaml(b, "        ", g->name, rev);
	/* a gateway is a proxy itself: no sidecar even where its namespace is labelled for
	 * injection (the how-to labels aks-istio-egress for the curl sample) */
	if (r == 0)
		r = eg_buf_printf(b,
		                  "        sidecar.istio.io/inject: \"false\"\n"
		                  "      annotations:\n        %s: \"%s\"\n",
		                  EG_MESH_SGC_ANNOTATION, g->sgc);
	if (r == 0)
		r = eg_buf_printf(
		        b,
		        "    spec:\n      serviceAccountName: \"%s\"\n"
		        "      affinity:\n        nodeAffinity:\n"
		        "          preferredDuringSchedulingIgnoredDuringExecution:\n"
		        "          - weight: 100\n            preference:\n              "
		        "matchExpressions:\n"
		        "              - key: kubernetes.azure.com/mode\n                operator: "
		        "In\n"
		        "                values:\n                - system\n"
		        "          - weight: 50\n            preference:\n              "
		        "matchExpressions:\n"
		        "              - key: azureservicemesh/istio.replica.preferred\n           "
		        "     operator: In\n"
		        "                values:\n                - \"true\"\n"
		        "      containers:\n      - name: istio-proxy\n        image: egressd\n"
		        "        args:\n        - --role\n        - gateway\n        - --name\n    "
		        "    - \"%s\"\n"
		        "        - --namespace\n        - \"%s\"\n        - --revision\n        - "
		        "\"%s\"\n"
		        "        ports:\n"
		        "        - containerPort: 15021\n          name: status-port\n          "
		        "protocol: TCP\n"
		        "        - containerPort: 8080\n          name: http2\n          protocol: "
		        "TCP\n"
		        "        - containerPort: 8443\n          name: https\n          protocol: "
		        "TCP\n"
		        "        - containerPort: 15090\n          name: http-envoy-prom\n         "
		        " protocol: TCP\n",
		        g->name, dep, g->ns, rev);
	return r;
}

/* Parses the YAML the management plane made and stores it in one transaction (no
 * last-applied annotation: these objects are the add-on's, not kubectl's). */
static int store_objects(struct eg_store *s, const char *what, const struct eg_buf *yaml,
                         struct eg_diag *d)
{
	struct eg_parse_opts po = {.default_ns = "default"};
	struct eg_resource_set set;
	int *outcomes = NULL;
	int r;

	eg_resource_set_init(&set);
	r = eg_model_parse(what, eg_buf_cstr(yaml), yaml->len, &po, &set, d);
	if (r < 0)
		goto out_free;
	outcomes = calloc(set.n ? set.n : 1, sizeof(*outcomes));
	if (!outcomes) {
		r = -ENOMEM;
		goto out_free;
	}
	r = eg_store_lock(s, LOCK_EX);
	if (r < 0)
		goto out_free;
	r = eg_store_apply_locked(s, &set, false, outcomes, d);
	eg_store_unlock(s);
	if (r == -ENOENT) {
		for (size_t i = 0; i < set.n; i++)
			if (outcomes[i] == -ENOENT) {
				eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
				            "namespaces \"%s\" not found", set.v[i]->ns);
				break;
			}
	}
out_free:
	free(outcomes);
	eg_resource_set_done(&set);
	return r < 0 ? r : 0;
}

/* --- the gateway records (DIR/mesh/egress-gateways/<ns>/<name>) --- */

static int gateway_json(struct eg_buf *b, const struct eg_mesh_gateway *g)
{
	int r = eg_buf_puts(b, "{\"enabled\":true,\"name\":\"");

	if (r == 0)
		r = eg_buf_json_escape(b, g->name, strlen(g->name));
	if (r == 0)
		r = eg_buf_puts(b, "\",\"namespace\":\"");
	if (r == 0)
		r = eg_buf_json_escape(b, g->ns, strlen(g->ns));
	if (r == 0)
		r = eg_buf_puts(b, "\",\"gatewayConfigurationName\":\"");
	if (r == 0)
		r = eg_buf_json_escape(b, g->sgc, strlen(g->sgc));
	if (r == 0)
		r = eg_buf_puts(b, "\",\"clusterIP\":\"");
	if (r == 0)
		r = eg_buf_json_escape(b, g->cluster_ip, strlen(g->cluster_ip));
	if (r == 0)
		r = eg_buf_puts(b, "\"}\n");
	return r;
}

/* Reads one record; false when it is missing or damaged (a damaged one is not listed). */
static bool gateway_read(struct eg_mesh_ctx *m, const char *ns, const char *name,
                         struct eg_mesh_gateway *g)
{
	char rel[STORE_PATH_MAX], text[MESH_FILE_MAX];
	struct eg_node **docs = NULL;
	struct eg_diag quiet;
	const char *v[4];
	size_t n = 0;
	bool ok = false;

	if (snprintf(rel, sizeof(rel), "%s/%s/%s", MESH_GW_DIR, ns, name) >= (int)sizeof(rel) ||
	    eg_mesh_get_file(m, rel, text, sizeof(text)) <= 0)
		return false;
	eg_diag_init(&quiet);
	if (eg_yaml_load(rel, text, strlen(text), &quiet, &docs, &n) == 0 && n == 1) {
		v[0] = eg_node_str(docs[0], "name");
		v[1] = eg_node_str(docs[0], "namespace");
		v[2] = eg_node_str(docs[0], "gatewayConfigurationName");
		v[3] = eg_node_str(docs[0], "clusterIP");
		ok = v[0] && v[1] && v[2] && strcmp(v[0], name) == 0 && strcmp(v[1], ns) == 0 &&
		     strlen(v[0]) < sizeof(g->name) && strlen(v[1]) < sizeof(g->ns) &&
		     strlen(v[2]) < sizeof(g->sgc);
		if (ok) {
			g->enabled = true;
			snprintf(g->name, sizeof(g->name), "%s", v[0]);
			snprintf(g->ns, sizeof(g->ns), "%s", v[1]);
			snprintf(g->sgc, sizeof(g->sgc), "%s", v[2]);
			snprintf(g->cluster_ip, sizeof(g->cluster_ip), "%s",
			         v[3] && strlen(v[3]) < sizeof(g->cluster_ip) ? v[3] : "");
		}
	}
	for (size_t i = 0; i < n; i++)
		eg_node_free(docs[i]);
	free(docs);
	eg_diag_done(&quiet);
	return ok;
}

static bool gateway_exists(struct eg_mesh_ctx *m, const char *ns, const char *name)
{
	char rel[STORE_PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/%s/%s", MESH_GW_DIR, ns, name);
	return faccessat(m->fd, rel, F_OK, 0) == 0;
}

/* Records of the cluster, counted without reading them (the 500 limit is checked on
 * every enable). */
static int gateway_count(struct eg_mesh_ctx *m, size_t *ret)
{
	char **nss = NULL;
	size_t nns = 0, total = 0;
	int r = eg_mesh_names(m, MESH_GW_DIR, &nss, &nns);

	for (size_t i = 0; i < nns && r == 0; i++) {
		char rel[STORE_PATH_MAX], **names = NULL;
		size_t n = 0;

		snprintf(rel, sizeof(rel), "%s/%s", MESH_GW_DIR, nss[i]);
		r = eg_mesh_names(m, rel, &names, &n);
		eg_file_names_free(names, n);
		total += n;
	}
	eg_file_names_free(nss, nns);
	*ret = total;
	return r;
}

static int gateway_list_locked(struct eg_mesh_ctx *m, struct eg_mesh_gateway **ret, size_t *ret_n)
{
	struct eg_mesh_gateway *v = NULL;
	size_t n = 0, cap = 0;
	char **nss = NULL;
	size_t nns = 0;
	int r = eg_mesh_names(m, MESH_GW_DIR, &nss, &nns);

	for (size_t i = 0; i < nns && r == 0; i++) {
		char rel[STORE_PATH_MAX], **names = NULL;
		size_t nn = 0;

		snprintf(rel, sizeof(rel), "%s/%s", MESH_GW_DIR, nss[i]);
		r = eg_mesh_names(m, rel, &names, &nn);
		for (size_t j = 0; j < nn && r == 0; j++) {
			if (n == cap) {
				struct eg_mesh_gateway *nv;

				cap = cap ? cap * 2 : 16;
				nv = realloc(v, cap * sizeof(*nv));
				if (!nv) {
					r = -ENOMEM;
					break;
				}
				v = nv;
			}
			if (gateway_read(m, nss[i], names[j], &v[n]))
				n++;
		}
		eg_file_names_free(names, nn);
	}
	eg_file_names_free(nss, nns);
	if (r < 0) {
		free(v);
		return r;
	}
	/* names sorted within sorted namespaces: the list is in (namespace, name) order */
	*ret = v;
	*ret_n = n;
	return 0;
}

int eg_mesh_list(struct eg_store *s, struct eg_mesh_gateway **ret, size_t *ret_n)
{
	struct eg_mesh_ctx m;
	int r = eg_mesh_ctx_open(s, LOCK_SH, &m);

	*ret = NULL;
	*ret_n = 0;
	if (r < 0)
		return r;
	r = gateway_list_locked(&m, ret, ret_n);
	eg_mesh_ctx_close(&m);
	return r;
}

/* --- names --- */

bool eg_mesh_name_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;
	bool label_start = true;

	if (len < 1 || len > EG_MESH_NAME_MAX)
		return false;
	/* ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$: labels of
	 * [-a-z0-9] that start and end with an alphanumeric, joined by single dots */
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (c == '.') {
			if (label_start || name[i - 1] == '-')
				return false;
			label_start = true;
			continue;
		}
		if (!alnum && c != '-')
			return false;
		if (label_start && !alnum)
			return false;
		label_start = false;
	}
	return !label_start && name[len - 1] != '-';
}

const char *eg_mesh_name_message(const char *name, char *buf, size_t len)
{
	snprintf(buf, len,
	         "Istio egress name %s is invalid. Name must be between 1 and %d characters, must "
	         "consist of lower case alphanumeric characters, '-' or '.', and must start and "
	         "end with an alphanumeric character.",
	         name ? name : "", EG_MESH_NAME_MAX);
	return buf;
}

static bool check_name(const char *name, struct eg_diag *d)
{
	char msg[512];

	if (eg_mesh_name_valid(name))
		return true;
	eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL, "%s",
	            eg_mesh_name_message(name, msg, sizeof(msg)));
	return false;
}

/* --- enable / disable --- */

/* An object of the gateway that exists already must be the add-on's (Helm's ownership
 * rule): 0 when absent or ours (*ret_obj then holds it, or NULL), -EEXIST reported. */
static int check_owner(struct eg_store *s, const char *kind, const char *ns, const char *objname,
                       const char *gwname, struct eg_resource **ret_obj, struct eg_diag *d)
{
	const struct eg_kind *k = eg_mesh_kind(kind);
	struct eg_resource *obj = NULL;
	const struct eg_node *ann;
	const char *have = NULL;
	char want[96];
	int r;

	*ret_obj = NULL;
	r = eg_store_get(s, k, ns, objname, &obj, d);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	release_name(gwname, want, sizeof(want));
	/* the annotation's key has dots: walk the map instead of eg_node_path */
	ann = eg_node_path(obj->root, "metadata.annotations");
	for (size_t i = 0; i < eg_node_len(ann); i++)
		if (strcmp(ann->k[i]->s, EG_MESH_RELEASE_ANNOTATION) == 0)
			have = ann->v[i]->kind == EG_NODE_SCALAR ? ann->v[i]->s : NULL;
	if (!have || strcmp(have, want) != 0) {
		eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "%s %s/%s exists and is not managed by the egress gateway add-on (its "
		            "annotation %s is not \"%s\"): delete or rename it first",
		            k->kind, ns, objname, EG_MESH_RELEASE_ANNOTATION, want);
		eg_resource_free(obj);
		return -EEXIST;
	}
	*ret_obj = obj;
	return 0;
}

static int enable_locked(struct eg_mesh_ctx *m, struct eg_mesh_gateway *g, struct eg_diag *d)
{
	struct eg_store *s = m->s;
	struct eg_mesh_settings st;
	struct eg_resource *sgc = NULL, *svc = NULL, *other = NULL;
	struct eg_buf yaml = EG_BUF_INIT(EG_MODEL_MAX_FILE_BYTES);
	struct eg_buf rec = EG_BUF_INIT(MESH_FILE_MAX);
	struct eg_ip4net cidr;
	bool new_ip = false;
	char ip[16] = "", what[160];
	const char *have_ip, *prefix;
	size_t count;
	int r;

	r = eg_mesh_settings_load(s, &st, d);
	if (r < 0)
		return r;
	r = eg_store_namespace_exists(s, g->ns);
	if (r <= 0) {
		if (r == 0)
			eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
			            "namespaces \"%s\" not found: the egress gateway's namespace "
			            "must exist (create it, and the StaticGatewayConfiguration in "
			            "it, first)",
			            g->ns);
		return r == 0 ? -ENOENT : r;
	}
	if (gateway_exists(m, g->ns, g->name)) {
		eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "Istio egress gateway %s already exists in namespace %s: egress "
		            "gateway names must be unique per namespace",
		            g->name, g->ns);
		return -EEXIST;
	}
	r = gateway_count(m, &count);
	if (r < 0)
		return r;
	if (count >= EG_MESH_MAX_GATEWAYS) {
		eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "cannot enable Istio egress gateway %s/%s: the cluster has %zu Istio "
		            "egress gateways, and at most %d are allowed per cluster",
		            g->ns, g->name, count, EG_MESH_MAX_GATEWAYS);
		return -ENOSPC;
	}
	r = eg_store_get(s, eg_mesh_kind("staticgatewayconfigurations"), g->ns, g->sgc, &sgc, d);
	if (r == -ENOENT) {
		eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "StaticGatewayConfiguration \"%s\" not found in namespace %s: the "
		            "gateway configuration must exist in the egress gateway's namespace",
		            g->sgc, g->ns);
		return -ENOENT;
	}
	if (r < 0)
		return r;
	prefix = eg_node_str(sgc->root, "status.egressIpPrefix");
	if (!prefix || !*prefix)
		eg_diag_add(d, EG_DIAG_WARNING, NULL, NULL, NULL,
		            "StaticGatewayConfiguration %s/%s has no status.egressIpPrefix yet: "
		            "the gateway's pods wait for it (enable the gateway once the prefix is "
		            "assigned)",
		            g->ns, g->sgc);
	eg_resource_free(sgc);
	/* every object the gateway will own: absent, or left by an earlier enable */
	r = check_owner(s, "serviceaccounts", g->ns, g->name, g->name, &other, d);
	eg_resource_free(other);
	for (size_t i = 0; i < st.nrevisions && r == 0; i++) {
		char dep[128];

		deployment_name(g, st.revisions[i], dep, sizeof(dep));
		r = check_owner(s, "deployments", g->ns, dep, g->name, &other, d);
		eg_resource_free(other);
	}
	if (r == 0)
		r = check_owner(s, "services", g->ns, g->name, g->name, &svc, d);
	if (r < 0)
		return r;
	have_ip = svc ? eg_node_str(svc->root, "spec.clusterIP") : NULL;
	if (have_ip && eg_mesh_ip_owned(m, have_ip, g->ns, g->name)) {
		snprintf(ip, sizeof(ip), "%s", have_ip); /* keeps the address it had */
	} else {
		r = eg_ip4net_parse(st.service_cidr, &cidr);
		if (r == 0)
			r = eg_mesh_ip_alloc(m, &cidr, g->ns, g->name, ip, sizeof(ip), d);
		new_ip = r == 0;
	}
	eg_resource_free(svc);
	if (r < 0)
		return r;
	snprintf(g->cluster_ip, sizeof(g->cluster_ip), "%s", ip);
	r = service_account_yaml(&yaml, g);
	if (r == 0)
		r = service_yaml(&yaml, g, ip);
	for (size_t i = 0; i < st.nrevisions && r == 0; i++)
		r = deployment_yaml(&yaml, g, st.revisions[i]);
	snprintf(what, sizeof(what), "<egress gateway %s/%s>", g->ns, g->name);
	if (r == 0)
		r = store_objects(s, what, &yaml, d);
	if (r == 0)
		r = gateway_json(&rec, g);
	if (r == 0) {
		char dir[STORE_PATH_MAX];

		snprintf(dir, sizeof(dir), "%s/%s", MESH_GW_DIR, g->ns);
		r = eg_mesh_put_file(m, dir, g->name, eg_buf_cstr(&rec));
	}
	if (r < 0 && new_ip)
		(void)eg_mesh_ip_release(m, ip, g->ns, g->name);
	eg_buf_done(&rec);
	eg_buf_done(&yaml);
	return r;
}

int eg_mesh_enable(struct eg_store *s, const char *name, const char *ns, const char *sgc,
                   struct eg_mesh_gateway *ret, struct eg_diag *d)
{
	struct eg_mesh_gateway g = {.enabled = true};
	struct eg_mesh_ctx m;
	int r;

	if (!ns)
		ns = EG_MESH_DEFAULT_NAMESPACE;
	if (!check_name(name, d))
		return -EINVAL;
	/* the Service is named after the gateway, and Service names are DNS-1123 labels */
	if (!eg_is_dns1123_label(name)) {
		eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "Istio egress name %s cannot name the gateway's Service: a Service "
		            "name must be a DNS-1123 label (no '.')",
		            name);
		return -EINVAL;
	}
	if (!eg_is_dns1123_label(ns)) {
		eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "namespaces \"%s\" not found: \"%s\" is not a valid namespace name (a "
		            "DNS-1123 label)",
		            ns, ns);
		return -ENOENT;
	}
	if (!sgc || !eg_is_dns1123_subdomain(sgc)) {
		eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "gateway configuration name \"%s\" is not a valid "
		            "StaticGatewayConfiguration name (a DNS-1123 subdomain)",
		            sgc ? sgc : "");
		return -EINVAL;
	}
	snprintf(g.name, sizeof(g.name), "%s", name);
	snprintf(g.ns, sizeof(g.ns), "%s", ns);
	snprintf(g.sgc, sizeof(g.sgc), "%s", sgc);
	r = eg_mesh_ctx_open(s, LOCK_EX, &m);
	if (r < 0)
		return r;
	r = enable_locked(&m, &g, d);
	eg_mesh_ctx_close(&m);
	if (r == 0 && ret)
		*ret = g;
	return r;
}

int eg_mesh_disable(struct eg_store *s, const char *name, const char *ns,
                    struct eg_mesh_gateway *ret, struct eg_diag *d)
{
	struct eg_store_ref refs[2 + EG_MESH_MAX_REVISIONS];
	char deps[EG_MESH_MAX_REVISIONS][128], ip[16] = "", dir[STORE_PATH_MAX];
	int results[2 + EG_MESH_MAX_REVISIONS];
	struct eg_mesh_gateway g = {.enabled = true};
	struct eg_resource *svc = NULL;
	struct eg_mesh_settings st;
	struct eg_mesh_ctx m;
	size_t n = 0;
	int r;

	if (!ns)
		ns = EG_MESH_DEFAULT_NAMESPACE;
	if (!check_name(name, d))
		return -EINVAL;
	r = eg_mesh_ctx_open(s, LOCK_EX, &m);
	if (r < 0)
		return r;
	if (!eg_is_dns1123_label(ns) || !gateway_exists(&m, ns, name)) {
		eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "Istio egress gateway %s is not enabled in namespace %s: nothing to "
		            "disable",
		            name, ns);
		r = -ENOENT;
		goto out_close;
	}
	r = eg_mesh_settings_load(s, &st, d);
	if (r < 0)
		goto out_close;
	if (!gateway_read(&m, ns, name, &g)) {
		/* a damaged record still names the gateway: disabling removes it */
		snprintf(g.name, sizeof(g.name), "%s", name);
		snprintf(g.ns, sizeof(g.ns), "%s", ns);
	}
	if (eg_store_get(s, eg_mesh_kind("services"), ns, name, &svc, d) == 0) {
		const char *have = eg_node_str(svc->root, "spec.clusterIP");

		if (have)
			snprintf(ip, sizeof(ip), "%s", have);
		eg_resource_free(svc);
	}
	refs[n++] = (struct eg_store_ref){eg_mesh_kind("services"), ns, name};
	refs[n++] = (struct eg_store_ref){eg_mesh_kind("serviceaccounts"), ns, name};
	for (size_t i = 0; i < st.nrevisions; i++) {
		deployment_name(&g, st.revisions[i], deps[i], sizeof(deps[i]));
		refs[n++] = (struct eg_store_ref){eg_mesh_kind("deployments"), ns, deps[i]};
	}
	/* objects first, the record last: a crash between them leaves a record whose
	 * objects are gone, and disabling again finishes the job */
	r = eg_store_delete(s, refs, n, results);
	if (r < 0)
		goto out_close;
	if (*ip)
		(void)eg_mesh_ip_release(&m, ip, ns, name);
	snprintf(dir, sizeof(dir), "%s/%s", MESH_GW_DIR, ns);
	r = eg_mesh_del_file(&m, dir, name);
	if (r == 0)
		(void)unlinkat(m.fd, dir, AT_REMOVEDIR); /* only when it became empty */
	if (r == 0 && ret)
		*ret = g;
out_close:
	eg_mesh_ctx_close(&m);
	return r < 0 ? r : 0;
}

/* --- settings changes and upgrades --- */

/* Writes @next over @cur with what follows from it (see eg_mesh_settings_save). */
static int save_locked(struct eg_mesh_ctx *m, const struct eg_mesh_settings *cur,
                       const struct eg_mesh_settings *next, struct eg_diag *d)
{
	struct eg_buf yaml = EG_BUF_INIT(EG_MODEL_MAX_FILE_BYTES);
	struct eg_mesh_gateway *gws = NULL;
	struct eg_store_ref *refs = NULL;
	char(*names)[128] = NULL;
	int *results = NULL;
	size_t ngw = 0, nrefs = 0;
	int r;

	r = eg_mesh_settings_check(next, d);
	if (r < 0)
		return r;
	r = gateway_list_locked(m, &gws, &ngw);
	if (r < 0)
		return r;
	/* removed revisions: their Deployments go before the settings say so, so that a
	 * crash in between is finished by saving again */
	refs = calloc(ngw * EG_MESH_MAX_REVISIONS + 1, sizeof(*refs));
	names = calloc(ngw * EG_MESH_MAX_REVISIONS + 1, sizeof(*names));
	results = calloc(ngw * EG_MESH_MAX_REVISIONS + 1, sizeof(*results));
	if (!refs || !names || !results) {
		r = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < cur->nrevisions; i++) {
		if (has_revision(next, cur->revisions[i]))
			continue;
		for (size_t j = 0; j < ngw; j++) {
			deployment_name(&gws[j], cur->revisions[i], names[nrefs], sizeof(names[0]));
			refs[nrefs] = (struct eg_store_ref){eg_mesh_kind("deployments"), gws[j].ns,
			                                    names[nrefs]};
			nrefs++;
		}
	}
	if (nrefs) {
		r = eg_store_delete(m->s, refs, nrefs, results);
		if (r < 0)
			goto out_free;
	}
	/* the settings and the Deployments of added revisions: one transaction */
	r = settings_yaml(&yaml, next);
	for (size_t i = 0; i < next->nrevisions && r == 0; i++) {
		if (has_revision(cur, next->revisions[i]))
			continue;
		for (size_t j = 0; j < ngw && r == 0; j++)
			r = deployment_yaml(&yaml, &gws[j], next->revisions[i]);
	}
	if (r == 0)
		r = store_objects(m->s,
		                  "<" EG_MESH_SETTINGS_NAMESPACE "/" EG_MESH_SETTINGS_NAME ">",
		                  &yaml, d);
	if (r == 0 && strcmp(cur->egress_pool, next->egress_pool) != 0)
		r = eg_mesh_assign_prefixes(m, next, NULL, d);
out_free:
	free(results);
	free(names);
	free(refs);
	free(gws);
	eg_buf_done(&yaml);
	return r < 0 ? r : 0;
}

int eg_mesh_settings_save(struct eg_store *s, const struct eg_mesh_settings *st, struct eg_diag *d)
{
	struct eg_mesh_settings cur;
	struct eg_diag quiet;
	struct eg_mesh_ctx m;
	int r = eg_mesh_ctx_open(s, LOCK_EX, &m);

	if (r < 0)
		return r;
	/* broken stored settings are what a save repairs: they count as the defaults */
	eg_diag_init(&quiet);
	r = eg_mesh_settings_load(s, &cur, &quiet);
	eg_diag_done(&quiet);
	if (r == -EINVAL) {
		eg_mesh_settings_default(&cur);
		r = 0;
	}
	if (r == 0)
		r = save_locked(&m, &cur, st, d);
	eg_mesh_ctx_close(&m);
	return r;
}

enum upgrade_op {
	UPGRADE_START,
	UPGRADE_COMPLETE,
	UPGRADE_ROLLBACK,
};

static int upgrade(struct eg_store *s, enum upgrade_op op, const char *rev, struct eg_diag *d)
{
	struct eg_mesh_settings cur, next;
	struct eg_mesh_ctx m;
	int r;

	if (op == UPGRADE_START && !parse_revision(rev, NULL)) {
		eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "revision \"%s\" is not a valid revision name (asm-MAJOR-MINOR, as "
		            "asm-1-25)",
		            rev ? rev : "");
		return -EINVAL;
	}
	r = eg_mesh_ctx_open(s, LOCK_EX, &m);
	if (r < 0)
		return r;
	r = eg_mesh_settings_load(s, &cur, d);
	if (r < 0)
		goto out_close;
	next = cur;
	if (op == UPGRADE_START) {
		if (cur.nrevisions > 1) {
			eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
			            "an upgrade from %s to %s is in progress: complete or roll it "
			            "back first",
			            cur.revisions[0], cur.revisions[1]);
			r = -EBUSY;
			goto out_close;
		}
		if (revision_cmp(rev, cur.revisions[0]) <= 0) {
			eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
			            "revision %s is not newer than the current revision %s: an "
			            "upgrade goes to a newer revision",
			            rev, cur.revisions[0]);
			r = -EINVAL;
			goto out_close;
		}
		snprintf(next.revisions[1], sizeof(next.revisions[1]), "%s", rev);
		next.nrevisions = 2;
	} else {
		if (cur.nrevisions < 2) {
			eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
			            "no upgrade is in progress (the mesh runs only %s): start one "
			            "with `mesh upgrade start --revision REV`",
			            cur.revisions[0]);
			r = -EINVAL;
			goto out_close;
		}
		if (op == UPGRADE_COMPLETE)
			memcpy(next.revisions[0], cur.revisions[1], sizeof(next.revisions[0]));
		next.nrevisions = 1;
	}
	r = save_locked(&m, &cur, &next, d);
out_close:
	eg_mesh_ctx_close(&m);
	return r;
}

int eg_mesh_upgrade_start(struct eg_store *s, const char *rev, struct eg_diag *d)
{
	return upgrade(s, UPGRADE_START, rev, d);
}

int eg_mesh_upgrade_complete(struct eg_store *s, struct eg_diag *d)
{
	return upgrade(s, UPGRADE_COMPLETE, NULL, d);
}

int eg_mesh_upgrade_rollback(struct eg_store *s, struct eg_diag *d)
{
	return upgrade(s, UPGRADE_ROLLBACK, NULL, d);
}

/* --- mesh show --- */

static int json_str(struct eg_buf *b, const char *s)
{
	int r = eg_buf_putc(b, '"');

	if (r == 0)
		r = eg_buf_json_escape(b, s, strlen(s));
	if (r == 0)
		r = eg_buf_putc(b, '"');
	return r;
}

int eg_mesh_show_json(struct eg_store *s, struct eg_buf *out, struct eg_diag *d)
{
	struct eg_mesh_gateway *gws = NULL;
	struct eg_mesh_settings st;
	struct eg_mesh_ctx m;
	size_t n = 0;
	int r;

	r = eg_mesh_ctx_open(s, LOCK_SH, &m);
	if (r < 0)
		return r;
	r = eg_mesh_settings_load(s, &st, d);
	if (r == 0)
		r = gateway_list_locked(&m, &gws, &n);
	eg_mesh_ctx_close(&m);
	if (r < 0)
		return r;
	/* the shape of `az aks show` (two-space indent), reduced to what a local cluster
	 * has, plus the egress pool under "egressd" */
	r = eg_buf_puts(out, "{\n  \"egressd\": {\n    \"egressPool\": ");
	if (r == 0)
		r = json_str(out, st.egress_pool);
	if (r == 0)
		r = eg_buf_puts(out, ",\n    \"settings\": \"" EG_MESH_SETTINGS_NAMESPACE
		                     "/" EG_MESH_SETTINGS_NAME
		                     "\"\n  },\n  \"networkProfile\": {\n    \"serviceCidr\": ");
	if (r == 0)
		r = json_str(out, st.service_cidr);
	if (r == 0)
		r = eg_buf_puts(out,
		                ",\n    \"staticEgressGatewayProfile\": {\n      \"enabled\": "
		                "true\n    }\n  },\n"
		                "  \"serviceMeshProfile\": {\n    \"istio\": {\n"
		                "      \"certificateAuthority\": null,\n      \"components\": {\n"
		                "        \"egressGateways\": ");
	if (r == 0 && n == 0)
		r = eg_buf_puts(out, "null");
	for (size_t i = 0; i < n && r == 0; i++) {
		r = eg_buf_puts(out, i ? ",\n          {\n" : "[\n          {\n");
		if (r == 0)
			r = eg_buf_puts(out,
			                "            \"enabled\": true,\n            \"name\": ");
		if (r == 0)
			r = json_str(out, gws[i].name);
		if (r == 0)
			r = eg_buf_puts(out, ",\n            \"namespace\": ");
		if (r == 0)
			r = json_str(out, gws[i].ns);
		if (r == 0)
			r = eg_buf_puts(out, ",\n            \"gatewayConfigurationName\": ");
		if (r == 0)
			r = json_str(out, gws[i].sgc);
		if (r == 0)
			r = eg_buf_puts(out, "\n          }");
	}
	if (r == 0 && n)
		r = eg_buf_puts(out, "\n        ]");
	if (r == 0)
		r = eg_buf_puts(
		        out,
		        ",\n        \"ingressGateways\": null\n      },\n      \"revisions\": [");
	for (size_t i = 0; i < st.nrevisions && r == 0; i++) {
		r = eg_buf_puts(out, i ? ",\n        " : "\n        ");
		if (r == 0)
			r = json_str(out, st.revisions[i]);
	}
	if (r == 0)
		r = eg_buf_puts(out, "\n      ]\n    },\n    \"mode\": \"Istio\"\n  }\n}\n");
	free(gws);
	return r;
}

/* --- hooks of apply and delete --- */

int eg_mesh_after_apply(struct eg_store *s, const struct eg_resource_set *set, struct eg_diag *d)
{
	const struct eg_kind *sgc_k = eg_mesh_kind("staticgatewayconfigurations");
	const struct eg_kind *svc_k = eg_mesh_kind("services");
	struct eg_mesh_settings st;
	struct eg_ip4net cidr;
	struct eg_mesh_ctx m;
	bool any_sgc = false, any_ip = false;
	int r;

	for (size_t i = 0; i < set->n; i++) {
		any_sgc |= set->v[i]->kind == sgc_k;
		any_ip |= set->v[i]->kind == svc_k &&
		          eg_node_str(set->v[i]->root, "spec.clusterIP") != NULL;
	}
	if (!any_sgc && !any_ip)
		return 0; /* most applies: no lock, no work */
	r = eg_mesh_ctx_open(s, LOCK_EX, &m);
	if (r < 0)
		return r;
	r = eg_mesh_settings_load(s, &st, d);
	/* a Service that brings its own ClusterIP keeps mesh from handing that one out */
	if (r == 0 && any_ip && eg_ip4net_parse(st.service_cidr, &cidr) == 0) {
		for (size_t i = 0; i < set->n && r == 0; i++) {
			const struct eg_resource *res = set->v[i];
			const char *ip = eg_node_str(res->root, "spec.clusterIP");

			if (res->kind == svc_k && ip)
				r = eg_mesh_ip_claim(&m, &cidr, ip, res->ns, res->name, d);
		}
	}
	if (r == 0 && any_sgc)
		r = eg_mesh_assign_prefixes(&m, &st, set, d);
	eg_mesh_ctx_close(&m);
	return r;
}

int eg_mesh_delete(struct eg_store *s, const struct eg_store_ref *refs, size_t n, int *ret_results,
                   struct eg_diag *d)
{
	const struct eg_kind *sgc_k = eg_mesh_kind("staticgatewayconfigurations");
	const struct eg_kind *ns_k = eg_mesh_kind("namespaces");
	const struct eg_kind *svc_k = eg_mesh_kind("services");
	struct eg_mesh_gateway *gws = NULL;
	struct eg_store_ref *sub = NULL;
	char(*ips)[16] = NULL;
	size_t *map = NULL, ngw = 0, nsub = 0;
	int *subres = NULL;
	struct eg_mesh_ctx m;
	bool any = false;
	int r;

	for (size_t i = 0; i < n && !any; i++)
		any = refs[i].kind == sgc_k || refs[i].kind == ns_k || refs[i].kind == svc_k;
	if (!any)
		return eg_store_delete(s, refs, n, ret_results);
	r = eg_mesh_ctx_open(s, LOCK_EX, &m);
	if (r < 0)
		return r;
	r = gateway_list_locked(&m, &gws, &ngw);
	if (r < 0)
		goto out_close;
	sub = calloc(n ? n : 1, sizeof(*sub));
	map = calloc(n ? n : 1, sizeof(*map));
	subres = calloc(n ? n : 1, sizeof(*subres));
	ips = calloc(n ? n : 1, sizeof(*ips));
	if (!sub || !map || !subres || !ips) {
		r = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		const struct eg_store_ref *ref = &refs[i];
		const struct eg_mesh_gateway *user = NULL;

		ret_results[i] = -ENOENT;
		for (size_t j = 0; j < ngw && !user; j++) {
			if (ref->kind == sgc_k && strcmp(gws[j].ns, ref->ns) == 0 &&
			    strcmp(gws[j].sgc, ref->name) == 0)
				user = &gws[j];
			if (ref->kind == ns_k && strcmp(gws[j].ns, ref->name) == 0)
				user = &gws[j];
		}
		if (user) {
			if (ref->kind == sgc_k)
				eg_diag_add(
				        d, EG_DIAG_ERROR, NULL, NULL, NULL,
				        "StaticGatewayConfiguration %s/%s is used by the Istio "
				        "egress gateway %s: disable the gateway first (egressctl "
				        "mesh disable-egress-gateway --istio-egressgateway-name %s "
				        "--istio-egressgateway-namespace %s)",
				        ref->ns, ref->name, user->name, user->name, user->ns);
			else
				eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
				            "namespace %s holds the Istio egress gateway %s and "
				            "its StaticGatewayConfiguration %s: disable the "
				            "gateway first (egressctl mesh disable-egress-gateway "
				            "--istio-egressgateway-name %s "
				            "--istio-egressgateway-namespace %s)",
				            ref->name, user->name, user->sgc, user->name, user->ns);
			ret_results[i] = -EBUSY;
			continue;
		}
		if (ref->kind == svc_k) {
			struct eg_resource *svc = NULL;
			struct eg_diag quiet;

			eg_diag_init(&quiet);
			if (eg_store_get(s, svc_k, ref->ns, ref->name, &svc, &quiet) == 0) {
				const char *ip = eg_node_str(svc->root, "spec.clusterIP");

				if (ip && strlen(ip) < sizeof(ips[0]))
					snprintf(ips[nsub], sizeof(ips[0]), "%s", ip);
				eg_resource_free(svc);
			}
			eg_diag_done(&quiet);
		}
		map[nsub] = i;
		sub[nsub++] = *ref;
	}
	r = eg_store_delete(s, sub, nsub, subres);
	if (r < 0)
		goto out_free;
	for (size_t k = 0; k < nsub; k++) {
		const struct eg_store_ref *ref = &sub[k];

		ret_results[map[k]] = subres[k];
		if (subres[k] != 0)
			continue;
		/* what the deleted objects held is free again */
		if (ref->kind == svc_k && ips[k][0])
			(void)eg_mesh_ip_release(&m, ips[k], ref->ns, ref->name);
		if (ref->kind == ns_k)
			eg_mesh_ip_release_ns(&m, ref->name);
	}
out_free:
	free(ips);
	free(subres);
	free(map);
	free(sub);
	free(gws);
out_close:
	eg_mesh_ctx_close(&m);
	return r;
}
