/* src/compile/compile.c: eg_compile(): who the proxy is, MeshConfig, the Sidecar that
 * selects it, the registry of services it sees, and the pieces that are not routes or
 * clusters (outbound policy, access log, egress source). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>

#include "compile/internal.h"

#define SNAPSHOT_MAX_BYTES ((size_t)1 << 30)
#define SCRATCH_MAX_BYTES  ((size_t)1 << 30)

/* --- small helpers shared by the files of this module --- */

void cc_nomem(struct cc *c)
{
	if (!c->err)
		c->err = -ENOMEM;
}

void cc_warn(struct cc *c, const struct eg_resource *r, const struct eg_node *at, const char *path,
             const char *fmt, ...)
{
	va_list ap;
	struct eg_pos p = {NULL, 0, 0};

	if (at)
		p = at->pos;
	else if (r)
		p = r->root->pos;
	if (!p.file && r)
		p.file = r->file;
	va_start(ap, fmt);
	eg_diag_vadd(c->d, EG_DIAG_WARNING, &p, r ? r->what : NULL, path, fmt, ap);
	va_end(ap);
}

void cc_regex_add(struct cc *c, regex_t *re)
{
	regex_t **slot = vec_push(&c->tmp, &c->regexes);

	if (!slot) {
		regfree(re);
		cc_nomem(c);
		return;
	}
	*slot = re;
}

const char *node_upper(struct arena *a, const char *s)
{
	char *q = (char *)arena_str(a, s ? s : "");

	for (char *p = q; p && *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return q;
}

int64_t node_duration(const struct eg_node *map, const char *key, int64_t def)
{
	const struct eg_node *n = eg_node_get(map, key);
	int64_t ns;

	if (!n || n->kind != EG_NODE_SCALAR)
		return def;
	if (n->vtype == EG_V_DURATION)
		return n->i;
	if (eg_parse_duration(n->s, &ns) == 0)
		return ns;
	return def;
}

enum eg_chain_proto proto_kind(const char *p)
{
	static const char *const http[] = {"HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-WEB", NULL};

	if (!p)
		return EG_CHAIN_TCP;
	for (const char *const *x = http; *x; x++)
		if (strcasecmp(p, *x) == 0)
			return EG_CHAIN_HTTP;
	if (strcasecmp(p, "HTTPS") == 0 || strcasecmp(p, "TLS") == 0)
		return EG_CHAIN_TLS;
	return EG_CHAIN_TCP;
}

bool host_matches(const char *pattern, const char *host)
{
	size_t pl, hl;

	if (strcmp(pattern, "*") == 0)
		return true;
	if (pattern[0] == '*' && pattern[1] == '.') {
		pl = strlen(pattern + 1);
		hl = strlen(host);
		return hl > pl && strcasecmp(host + hl - pl, pattern + 1) == 0;
	}
	return strcasecmp(pattern, host) == 0;
}

static const char *label_get(const struct eg_label *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return v[i].value;
	return NULL;
}

/* Every key=value of @selector (a map) is a label of the proxy. */
bool cc_labels_match(const struct cc *c, const struct eg_node *selector)
{
	for (size_t i = 0; i < eg_node_len(selector); i++) {
		const char *have = label_get(c->labels, c->nlabels, selector->k[i]->s);

		if (!have || !selector->v[i]->s || strcmp(have, selector->v[i]->s) != 0)
			return false;
	}
	return true;
}

static bool labels_match_node(const struct eg_node *selector, const struct eg_node *labels)
{
	for (size_t i = 0; i < eg_node_len(selector); i++) {
		const struct eg_node *v = eg_node_get(labels, selector->k[i]->s);

		if (!v || !v->s || !selector->v[i]->s || strcmp(v->s, selector->v[i]->s) != 0)
			return false;
	}
	return true;
}

const char *cc_expand_host(struct cc *c, const char *host, const char *ns)
{
	if (!host)
		return NULL;
	if (!strchr(host, '.') && strcmp(host, "*") != 0) {
		const char *h = arena_printf(c->sa, "%s.%s.svc.%s", host, ns, c->domain_suffix);

		return arena_lower(c->sa, h);
	}
	return arena_lower(c->sa, host);
}

/* --- resources by kind --- */

static const char *created(const struct eg_resource *r)
{
	const struct eg_node *t =
	        eg_node_get(eg_node_get(r->root, "metadata"), "creationTimestamp");

	return t && t->kind == EG_NODE_SCALAR && t->s ? t->s : "";
}

/* Istio's precedence among objects of one kind: oldest first, then namespace, name. */
static int res_cmp(const void *a, const void *b)
{
	const struct eg_resource *x = *(const struct eg_resource *const *)a;
	const struct eg_resource *y = *(const struct eg_resource *const *)b;
	int r = strcmp(created(x), created(y));

	if (r)
		return r;
	r = strcmp(x->ns ? x->ns : "", y->ns ? y->ns : "");
	return r ? r : strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

/* The same order with the keys looked up once per object (sorting 10,000 objects would
 * otherwise walk each one's metadata a few hundred thousand times). */
struct keyed {
	const char *created, *ns, *name;
	const struct eg_resource *r;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int r = strcmp(x->created, y->created);

	if (r)
		return r;
	r = strcmp(x->ns, y->ns);
	return r ? r : strcmp(x->name, y->name);
}

static int sort_resources(struct cc *c, struct rlist *l)
{
	struct keyed *k;

	if (l->n < 2)
		return 0;
	if (!(k = arena_alloc(&c->tmp, l->n * sizeof(*k))))
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		k[i] = (struct keyed){created(l->v[i]), l->v[i]->ns ? l->v[i]->ns : "",
		                      l->v[i]->name, l->v[i]};
	qsort(k, l->n, sizeof(*k), keyed_cmp);
	for (size_t i = 0; i < l->n; i++)
		l->v[i] = k[i].r;
	return 0;
}

static int bucket(struct cc *c)
{
	struct {
		const char *kind;
		struct rlist *l;
	} map[] = {
	        {"ServiceEntry", &c->se},
	        {"VirtualService", &c->vs},
	        {"DestinationRule", &c->dr},
	        {"Gateway", &c->gw},
	        {"Sidecar", &c->sc},
	        {"Service", &c->svc},
	        {"Deployment", &c->deploy},
	        {"ConfigMap", &c->cm},
	        {"Telemetry", &c->tel},
	        {"StaticGatewayConfiguration", &c->sgc},
	        {"AuthorizationPolicy", &c->ap},
	};
	size_t counts[EG_ARRAY_SIZE(map)] = {0};

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < c->rs->n; i++) {
			const struct eg_resource *r = c->rs->v[i];

			/* every kind compiled is namespaced: an object without one is not ours */
			if (!r || !r->kind || !r->root || !r->name || !r->ns)
				continue;
			for (size_t k = 0; k < EG_ARRAY_SIZE(map); k++) {
				if (strcmp(r->kind->kind, map[k].kind) != 0)
					continue;
				if (pass == 0)
					counts[k]++;
				else
					map[k].l->v[map[k].l->n++] = r;
				break;
			}
		}
		if (pass == 1)
			break;
		for (size_t k = 0; k < EG_ARRAY_SIZE(map); k++) {
			if (counts[k] > EG_COMPILE_MAX_OBJECTS) {
				eg_diag_add(c->d, EG_DIAG_ERROR, NULL, NULL, NULL,
				            "%zu objects of kind %s, at most %u can be compiled",
				            counts[k], map[k].kind, EG_COMPILE_MAX_OBJECTS);
				return -E2BIG;
			}
			if (counts[k] &&
			    !(map[k].l->v = arena_alloc(&c->tmp, counts[k] * sizeof(void *))))
				return -ENOMEM;
		}
	}
	for (size_t k = 0; k < EG_ARRAY_SIZE(map); k++) {
		/* a gateway looks at a few ServiceEntries: cc_service() orders the candidates
		 * of a host when it is asked for, instead of sorting 10,000 here */
		if (map[k].l == &c->se && c->who->role == EG_ROLE_GATEWAY)
			continue;
		if (sort_resources(c, map[k].l) < 0)
			return -ENOMEM;
	}
	return 0;
}

static const struct eg_resource *find(const struct rlist *l, const char *ns, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i]->ns && strcmp(l->v[i]->ns, ns) == 0 && strcmp(l->v[i]->name, name) == 0)
			return l->v[i];
	return NULL;
}

/* --- MeshConfig --- */

struct mesh {
	struct eg_node *root; /* the MeshConfig map (owned), or NULL: the defaults */
	const char *source;
};

static void mesh_load(struct cc *c, struct mesh *m, const char *rev)
{
	char name[256];
	const struct eg_resource *cm;
	struct eg_diag tmp;
	int r;

	snprintf(name, sizeof(name), "istio-shared-configmap-%s", rev);
	cm = find(&c->cm, EG_ROOT_NAMESPACE, name);
	c->root_ns = EG_ROOT_NAMESPACE;
	if (!cm) {
		cm = find(&c->cm, "istio-system", "istio");
		if (cm)
			c->root_ns = "istio-system";
	}
	if (!cm)
		return;
	m->source = arena_printf(c->sa, "MeshConfig ConfigMap %s/%s", cm->ns, cm->name);
	/* MeshConfig is YAML inside a string: the model parses and types it */
	eg_diag_init(&tmp);
	r = eg_meshconfig_parse(cm, &m->root, &tmp);
	if (r == -ENOMEM)
		cc_nomem(c);
	else if (r < 0)
		cc_warn(c, cm, eg_node_path(cm->root, "data.mesh"), "data.mesh",
		        "MeshConfig is not valid, using the defaults: %s", eg_diag_text(&tmp));
	eg_diag_done(&tmp);
	if (r < 0)
		m->root = NULL;
	if (m->root && eg_node_str(m->root, "rootNamespace"))
		c->root_ns = arena_str(c->sa, eg_node_str(m->root, "rootNamespace"));
}

static void mesh_free(struct mesh *m)
{
	m->root = eg_node_free(m->root);
}

/* --- visibility --- */

static bool export_list_visible(const struct cc *c, const char *owner_ns, const char *const *v,
                                size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i], "*") == 0)
			return true;
		if (strcmp(v[i], ".") == 0 && owner_ns && strcmp(owner_ns, c->ns) == 0)
			return true;
		if (strcmp(v[i], c->ns) == 0)
			return true;
	}
	return false;
}

static bool node_list_visible(const struct cc *c, const char *owner_ns, const struct eg_node *l)
{
	const char *v[64];
	size_t n = 0;

	for (size_t i = 0; i < eg_node_len(l) && n < EG_ARRAY_SIZE(v); i++)
		if (l->v[i]->kind == EG_NODE_SCALAR)
			v[n++] = l->v[i]->s;
	return export_list_visible(c, owner_ns, v, n);
}

/* exportTo of a ServiceEntry, VirtualService or DestinationRule (spec.exportTo), or of a
 * Service (annotation networking.istio.io/exportTo, comma separated); empty means
 * MeshConfig's default*ExportTo, which defaults to every namespace. @field is unused
 * ("spec.exportTo" documents the call). */
bool cc_visible_exported(const struct cc *c, const struct eg_resource *r, const char *field)
{
	const char *kind = r->kind->kind;
	const struct eg_node *l;

	(void)field;
	if (strcmp(kind, "Service") == 0) {
		const struct eg_node *ann = eg_node_path(r->root, "metadata.annotations");
		const struct eg_node *e = eg_node_get(ann, "networking.istio.io/exportTo");
		const char *v[64];
		char buf[1024];
		size_t n = 0;

		if (e && e->s && *e->s) {
			snprintf(buf, sizeof(buf), "%s", e->s);
			for (char *save = NULL, *t = strtok_r(buf, ", ", &save);
			     t && n < EG_ARRAY_SIZE(v); t = strtok_r(NULL, ", ", &save))
				v[n++] = t;
			return export_list_visible(c, r->ns, v, n);
		}
		l = c->exp_svc;
	} else {
		l = eg_node_path(r->root, "spec.exportTo");
		if (!eg_node_len(l))
			l = strcmp(kind, "VirtualService") == 0    ? c->exp_vs
			    : strcmp(kind, "DestinationRule") == 0 ? c->exp_dr
			                                           : c->exp_svc;
	}
	return !eg_node_len(l) || node_list_visible(c, r->ns, l);
}

/* Whether the Sidecar's egress listeners import NS/HOST (on @port; 0 = any port). */
bool cc_sidecar_imports(const struct cc *c, const char *ns, const char *host, uint16_t port)
{
	const struct eg_node *eg;

	if (!c->sidecar || c->who->role != EG_ROLE_SIDECAR)
		return true;
	eg = eg_node_path(c->sidecar->root, "spec.egress");
	if (!eg_node_len(eg))
		return true;
	for (size_t i = 0; i < eg->n; i++) {
		const struct eg_node *hosts = eg_node_get(eg->v[i], "hosts");
		int64_t lport = eg_node_int(eg->v[i], "port.number", 0);

		if (port && lport && lport != port)
			continue;
		for (size_t j = 0; j < eg_node_len(hosts); j++) {
			const char *h = hosts->v[j]->s, *slash = h ? strchr(h, '/') : NULL;
			const char *dns = slash ? slash + 1 : h;
			char hns[254];

			if (!h)
				continue;
			if (slash) {
				snprintf(hns, sizeof(hns), "%.*s", (int)(slash - h), h);
			} else {
				snprintf(hns, sizeof(hns), "*");
			}
			if (strcmp(hns, "~") == 0)
				continue;
			if (strcmp(hns, "*") != 0 &&
			    strcmp(strcmp(hns, ".") == 0 ? c->ns : hns, ns) != 0)
				continue;
			if (host_matches(dns, host) || host_matches(host, dns))
				return true;
		}
	}
	return false;
}

/* --- the proxy --- */

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct eg_label *)a)->key, ((const struct eg_label *)b)->key);
}

static int add_label(struct cc *c, struct vec *v, const char *k, const char *val)
{
	struct eg_label *l;

	for (size_t i = 0; i < v->n; i++) {
		l = VEC_AT(*v, struct eg_label, i);
		if (strcmp(l->key, k) == 0) {
			l->value = arena_str(c->sa, val);
			return 0;
		}
	}
	if (v->n >= EG_COMPILE_MAX_LABELS) {
		eg_diag_add(c->d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "the proxy has more than %u labels", EG_COMPILE_MAX_LABELS);
		return -E2BIG;
	}
	l = vec_push(c->sa, v);
	if (!l)
		return -ENOMEM;
	l->key = arena_str(c->sa, k);
	l->value = arena_str(c->sa, val);
	return 0;
}

static const struct eg_node *pod_annotations(const struct eg_resource *dep)
{
	return eg_node_path(dep->root, "spec.template.metadata.annotations");
}

/* An annotation of the pod template, else of the Deployment itself. */
static const char *dep_annotation(const struct eg_resource *dep, const char *key)
{
	const struct eg_node *n = eg_node_get(pod_annotations(dep), key);

	if (!n)
		n = eg_node_get(eg_node_path(dep->root, "metadata.annotations"), key);
	return n && n->kind == EG_NODE_SCALAR ? n->s : NULL;
}

static const char *dep_sa(const struct eg_resource *dep)
{
	const char *sa = eg_node_str(dep->root, "spec.template.spec.serviceAccountName");

	return sa && *sa ? sa : "default";
}

static int identify(struct cc *c, const struct mesh *m, const char *rev)
{
	const struct eg_proxy_id *w = c->who;
	struct eg_identity *id = &c->s->id;
	struct vec labels = VEC_INIT(struct eg_label);
	const struct eg_resource *dep = NULL;
	const char *td = m->root ? eg_node_str(m->root, "trustDomain") : NULL;
	int r;

	if (!w->ns || !*w->ns) {
		eg_diag_add(c->d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "the proxy's namespace is required");
		return -EINVAL;
	}
	if (w->role == EG_ROLE_GATEWAY && (!w->name || !*w->name)) {
		eg_diag_add(
		        c->d, EG_DIAG_ERROR, NULL, NULL, NULL,
		        "a gateway proxy needs its name (the Deployment or the egress gateway)");
		return -EINVAL;
	}
	c->ns = arena_str(c->sa, w->ns);
	if (w->name && *w->name) {
		dep = find(&c->deploy, w->ns, w->name);
		if (!dep && w->role == EG_ROLE_GATEWAY) {
			char n2[512];

			snprintf(n2, sizeof(n2), "%s-%s", w->name, rev);
			dep = find(&c->deploy, w->ns, n2);
		}
	}
	c->workload = dep;
	if (dep) {
		const struct eg_node *tl = eg_node_path(dep->root, "spec.template.metadata.labels");

		for (size_t i = 0; i < eg_node_len(tl); i++)
			if ((r = add_label(c, &labels, tl->k[i]->s,
			                   tl->v[i]->s ? tl->v[i]->s : "")) < 0)
				return r;
	}
	for (size_t i = 0; i < w->nlabels; i++)
		if ((r = add_label(c, &labels, w->labels[i].key, w->labels[i].value)) < 0)
			return r;
	if (w->role == EG_ROLE_GATEWAY && !dep && !w->nlabels) {
		eg_diag_add(c->d, EG_DIAG_WARNING, NULL, NULL, NULL,
		            "no Deployment %s or %s-%s in namespace %s: assuming the pod labels "
		            "istio=%s, app=%s",
		            w->name, w->name, rev, w->ns, w->name, w->name);
		if ((r = add_label(c, &labels, "istio", w->name)) < 0 ||
		    (r = add_label(c, &labels, "app", w->name)) < 0)
			return r;
	}
	if (labels.n)
		qsort(labels.v, labels.n, sizeof(struct eg_label), label_cmp);
	c->labels = labels.v;
	c->nlabels = labels.n;

	id->role = w->role;
	id->ns = c->ns;
	id->name = arena_str(c->sa, dep ? dep->name : (w->name ? w->name : ""));
	id->revision = arena_str(c->sa, rev);
	id->version = w->version;
	id->labels = c->labels;
	id->nlabels = c->nlabels;
	id->trust_domain = arena_str(c->sa, td && *td ? td : "cluster.local");
	if (w->service_account && *w->service_account)
		id->service_account = arena_str(c->sa, w->service_account);
	else
		id->service_account = arena_str(c->sa, dep ? dep_sa(dep) : "default");
	id->spiffe_id = arena_printf(c->sa, "spiffe://%s/ns/%s/sa/%s", id->trust_domain, id->ns,
	                             id->service_account);
	return c->sa->failed ? -ENOMEM : 0;
}

/* The Sidecar of a workload: one in its namespace whose workloadSelector matches, else the
 * namespace's selector-less one, else the root namespace's selector-less one. */
static void pick_sidecar(struct cc *c)
{
	if (c->who->role != EG_ROLE_SIDECAR)
		return;
	for (size_t i = 0; i < c->sc.n; i++) {
		const struct eg_resource *r = c->sc.v[i];
		const struct eg_node *sel = eg_node_path(r->root, "spec.workloadSelector.labels");

		if (strcmp(r->ns, c->ns) == 0 && eg_node_len(sel) && cc_labels_match(c, sel)) {
			c->sidecar = r;
			return;
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		const char *ns = pass == 0 ? c->ns : c->root_ns;

		for (size_t i = 0; i < c->sc.n; i++) {
			const struct eg_resource *r = c->sc.v[i];

			if (strcmp(r->ns, ns) == 0 &&
			    !eg_node_len(eg_node_path(r->root, "spec.workloadSelector.labels"))) {
				c->sidecar = r;
				return;
			}
		}
	}
}

static void outbound_policy(struct cc *c, const struct mesh *m)
{
	struct eg_outbound_policy *p = &c->s->policy;
	const char *mode = m->root ? eg_node_str(m->root, "outboundTrafficPolicy.mode") : NULL;
	const struct eg_node *otp =
	        c->sidecar ? eg_node_path(c->sidecar->root, "spec.outboundTrafficPolicy") : NULL;

	p->mode = EG_POLICY_ALLOW_ANY; /* MeshConfig's default */
	p->source = "default";
	if (mode) {
		if (strcmp(mode, "REGISTRY_ONLY") == 0)
			p->mode = EG_POLICY_REGISTRY_ONLY;
		else if (strcmp(mode, "ALLOW_ANY") != 0)
			eg_diag_add(c->d, EG_DIAG_WARNING, NULL, NULL, "outboundTrafficPolicy.mode",
			            "unknown MeshConfig outboundTrafficPolicy.mode \"%s\", using "
			            "ALLOW_ANY",
			            mode);
		p->source = m->source;
	}
	if (otp) {
		const char *smode = eg_node_str(otp, "mode");
		const struct eg_node *ep = eg_node_get(otp, "egressProxy");

		/* the proto's zero value is REGISTRY_ONLY: an outboundTrafficPolicy without a
		 * mode restricts, as in Istio */
		p->mode = smode && strcmp(smode, "ALLOW_ANY") == 0 ? EG_POLICY_ALLOW_ANY
		                                                   : EG_POLICY_REGISTRY_ONLY;
		p->source = arena_printf(c->sa, "Sidecar %s/%s", c->sidecar->ns, c->sidecar->name);
		if (ep && p->mode == EG_POLICY_ALLOW_ANY && eg_node_str(ep, "host")) {
			const char *host =
			        cc_expand_host(c, eg_node_str(ep, "host"), c->sidecar->ns);
			const char *subset = eg_node_str(ep, "subset");
			uint16_t port = (uint16_t)eg_node_int(ep, "port.number", 0);
			const struct svc *s = cc_service(c, host);

			if (!port && s && s->nports == 1)
				port = s->ports[0].number;
			if (!port) {
				cc_warn(c, c->sidecar, ep, "spec.outboundTrafficPolicy.egressProxy",
				        "egressProxy needs port.number, ignoring it");
			} else {
				p->egress_proxy =
				        cc_cluster_name(c, port, subset ? subset : "", host);
				(void)cc_cluster(c, host, subset ? subset : "", port);
			}
		}
	}
}

/* --- the registry --- */

static const char *k8s_port_protocol(const struct eg_node *port)
{
	static const struct {
		const char *prefix;
		const char *proto;
	} names[] = {
	        {"http2", "HTTP2"}, {"https", "HTTPS"}, {"http", "HTTP"}, {"grpc-web", "GRPC-WEB"},
	        {"grpc", "GRPC"},   {"tls", "TLS"},     {"tcp", "TCP"},   {"mongo", "MONGO"},
	        {"redis", "REDIS"}, {"mysql", "MYSQL"}, {"udp", "UDP"},
	};
	const char *ap = eg_node_str(port, "appProtocol");
	const char *name = eg_node_str(port, "name");

	if (ap) {
		if (strcmp(ap, "kubernetes.io/h2c") == 0)
			return "HTTP2";
		for (size_t i = 0; i < EG_ARRAY_SIZE(names); i++)
			if (strcasecmp(ap, names[i].prefix) == 0)
				return names[i].proto;
	}
	if (!name)
		return "";
	for (size_t i = 0; i < EG_ARRAY_SIZE(names); i++) {
		size_t l = strlen(names[i].prefix);

		if (strncasecmp(name, names[i].prefix, l) == 0 &&
		    (name[l] == '\0' || name[l] == '-'))
			return names[i].proto;
	}
	return "";
}

/* Splits "a, b,c" into arena strings. */
static size_t split_addresses(struct cc *c, const char *s, const char **out, size_t max)
{
	char buf[4096];
	size_t n = 0;

	if (!s)
		return 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save = NULL, *t = strtok_r(buf, ", ", &save); t && n < max;
	     t = strtok_r(NULL, ", ", &save))
		out[n++] = arena_str(c->sa, t);
	return n;
}

#define MAX_POD_ADDRESSES 64

static bool sa_known(const struct svc *s, const char *sa)
{
	for (size_t i = 0; i < s->nsas; i++)
		if (strcmp(s->sas[i], sa) == 0)
			return true;
	return false;
}

/* Pods of @ns whose labels match @selector: their Deployments give addresses (annotation),
 * labels and service accounts. @fixed: addresses set on the Service itself. */
/* One Deployment's pod template, resolved once per compile. */
struct pod {
	const struct eg_node *labels;
	const char *sa;
	const char *addresses; /* EG_POD_ADDRESSES_ANNO */
};

struct pods {
	struct pod *v;
	size_t n, cap;
};

/* Deployments by namespace, so a Service looks only at its own namespace's pods. */
static void index_pods(struct cc *c)
{
	if (!(c->pods_by_ns = index_new(&c->tmp, c->deploy.n))) {
		cc_nomem(c);
		return;
	}
	for (size_t i = 0; i < c->deploy.n; i++) {
		const struct eg_resource *dep = c->deploy.v[i];
		struct pods *l = (struct pods *)index_get(c->pods_by_ns, dep->ns, strlen(dep->ns));

		if (!l) {
			if (!(l = arena_alloc(&c->tmp, sizeof(*l))) ||
			    !index_put(c->pods_by_ns, dep->ns, strlen(dep->ns), l)) {
				cc_nomem(c);
				return;
			}
		}
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 4;
			struct pod *v = arena_alloc(&c->tmp, cap * sizeof(*v));

			if (!v) {
				cc_nomem(c);
				return;
			}
			if (l->n)
				memcpy(v, l->v, l->n * sizeof(*v));
			l->v = v;
			l->cap = cap;
		}
		l->v[l->n++] = (struct pod){
		        eg_node_path(dep->root, "spec.template.metadata.labels"),
		        arena_str(c->sa, dep_sa(dep)),
		        dep_annotation(dep, EG_POD_ADDRESSES_ANNO),
		};
	}
}

/* Pods of @ns whose labels match @selector: their Deployments give addresses (annotation),
 * labels and service accounts. @fixed: addresses set on the Service itself. */
static void add_pods(struct cc *c, struct svc *s, const char *ns, const struct eg_node *selector,
                     const char *fixed)
{
	struct vec eps = VEC_INIT(struct svc_ep);
	struct vec sas = VEC_INIT(const char *);
	const char *addr[MAX_POD_ADDRESSES];
	const struct eg_node *first_labels = NULL;
	const struct pods *l = index_get(c->pods_by_ns, ns, strlen(ns));
	size_t n;

	if (!eg_node_len(selector))
		return;
	for (size_t i = 0; l && i < l->n; i++) {
		const struct pod *p = &l->v[i];
		const char **sa;

		if (!labels_match_node(selector, p->labels))
			continue;
		if (!first_labels)
			first_labels = p->labels;
		if (!sa_known(s, p->sa) && sas.n < 64 && (sa = vec_push(&c->tmp, &sas))) {
			*sa = p->sa;
			s->sas = sas.v;
			s->nsas = sas.n;
		}
		if (fixed)
			continue;
		n = split_addresses(c, p->addresses, addr, MAX_POD_ADDRESSES);
		for (size_t j = 0; j < n; j++) {
			struct svc_ep *e = vec_push(&c->tmp, &eps);

			if (!e) {
				cc_nomem(c);
				return;
			}
			e->address = addr[j];
			e->labels = p->labels;
			e->weight = 1;
			e->sa = p->sa;
		}
	}
	if (fixed) {
		n = split_addresses(c, fixed, addr, MAX_POD_ADDRESSES);
		for (size_t j = 0; j < n; j++) {
			struct svc_ep *e = vec_push(&c->tmp, &eps);

			if (!e) {
				cc_nomem(c);
				return;
			}
			e->address = addr[j];
			e->labels = first_labels;
			e->weight = 1;
		}
	}
	s->eps = eps.v;
	s->neps = eps.n;
}

static struct svc *new_svc(struct cc *c, struct vec *all)
{
	struct svc **slot = vec_push(&c->tmp, all);
	struct svc *s = arena_alloc(&c->tmp, sizeof(*s));

	if (!slot || !s) {
		cc_nomem(c);
		return NULL;
	}
	*slot = s;
	return s;
}

static bool imported_any_port(const struct cc *c, const struct svc *s)
{
	for (size_t i = 0; i < s->nports; i++)
		if (cc_sidecar_imports(c, s->ns, s->host, s->ports[i].number))
			return true;
	return s->nports == 0 && cc_sidecar_imports(c, s->ns, s->host, 0);
}

static void registry_k8s(struct cc *c, struct vec *all)
{
	for (size_t i = 0; i < c->svc.n && !c->err; i++) {
		const struct eg_resource *r = c->svc.v[i];
		const struct eg_node *ports = eg_node_path(r->root, "spec.ports");
		const char *ip = eg_node_str(r->root, "spec.clusterIP");
		const char *type = eg_node_str(r->root, "spec.type");
		const struct eg_node *ann = eg_node_path(r->root, "metadata.annotations");
		const struct eg_node *fixed = eg_node_get(ann, EG_POD_ADDRESSES_ANNO);
		struct svc *s;

		if (!cc_visible_exported(c, r, "metadata.annotations"))
			continue;
		if (!(s = new_svc(c, all)))
			return;
		s->host = arena_lower(c->sa, arena_printf(c->sa, "%s.%s.svc.%s", r->name, r->ns,
		                                          c->domain_suffix));
		s->ns = arena_str(c->sa, r->ns);
		s->res = r;
		s->k8s = true;
		s->mesh_internal = true;
		s->resolution = RES_STATIC;
		if (type && strcmp(type, "ExternalName") == 0) {
			s->external_name =
			        arena_str(c->sa, eg_node_str(r->root, "spec.externalName"));
			s->resolution = RES_DNS;
			s->mesh_internal = false;
		}
		if (ip && *ip && strcmp(ip, "None") != 0) {
			s->addresses = arena_alloc(c->sa, sizeof(char *));
			if (s->addresses) {
				s->addresses[0] = arena_str(c->sa, ip);
				s->naddresses = 1;
			}
		}
		s->nports = eg_node_len(ports);
		s->ports = s->nports ? arena_alloc(&c->tmp, s->nports * sizeof(*s->ports)) : NULL;
		for (size_t j = 0; s->ports && j < s->nports; j++) {
			const struct eg_node *p = ports->v[j];
			const struct eg_node *tp = eg_node_get(p, "targetPort");
			struct svc_port *sp = &s->ports[j];

			sp->number = (uint16_t)eg_node_int(p, "port", 0);
			/* a named targetPort would need the pods' container ports: use the port */
			sp->target = tp && tp->vtype == EG_V_INT ? (uint16_t)tp->i : sp->number;
			sp->name = arena_str(c->sa,
			                     eg_node_str(p, "name") ? eg_node_str(p, "name") : "");
			sp->protocol = k8s_port_protocol(p);
			sp->kind = proto_kind(sp->protocol);
		}
		if (!imported_any_port(c, s)) {
			all->n--;
			continue;
		}
		add_pods(c, s, r->ns, eg_node_path(r->root, "spec.selector"),
		         fixed && fixed->s && *fixed->s ? fixed->s : NULL);
	}
}

static enum svc_res se_resolution(const char *s)
{
	if (!s || strcmp(s, "NONE") == 0)
		return RES_NONE;
	if (strcmp(s, "STATIC") == 0)
		return RES_STATIC;
	if (strcmp(s, "DNS") == 0)
		return RES_DNS;
	if (strcmp(s, "DNS_ROUND_ROBIN") == 0)
		return RES_DNS_RR;
	return RES_DYNAMIC_DNS;
}

/* Fills the registry entry of one ServiceEntry host from the resource (for a gateway only
 * when a route first asks for the host: it needs a handful of the 10,000 a mesh may have). */
static void se_fill(struct cc *c, struct svc *s)
{
	const struct eg_resource *r = s->res;
	const struct eg_node *spec = eg_node_get(r->root, "spec");
	const struct eg_node *ports = eg_node_get(spec, "ports");
	const struct eg_node *addrs = eg_node_get(spec, "addresses");
	const struct eg_node *eps = eg_node_get(spec, "endpoints");
	const struct eg_node *sans = eg_node_get(spec, "subjectAltNames");
	const struct eg_node *wsel = eg_node_path(spec, "workloadSelector.labels");
	const char *loc = eg_node_str(spec, "location");
	size_t nports = eg_node_len(ports), neps = eg_node_len(eps);
	size_t naddr = eg_node_len(addrs), nsans = eg_node_len(sans);

	s->lazy = false;
	s->mesh_internal = loc && strcmp(loc, "MESH_INTERNAL") == 0;
	s->resolution = se_resolution(eg_node_str(spec, "resolution"));
	if (nports && !(s->ports = arena_alloc(&c->tmp, nports * sizeof(*s->ports)))) {
		cc_nomem(c);
		return;
	}
	for (size_t j = 0; j < nports; j++) {
		const struct eg_node *p = ports->v[j];
		struct svc_port *sp = &s->ports[j];

		sp->number = (uint16_t)eg_node_int(p, "number", 0);
		sp->target = (uint16_t)eg_node_int(p, "targetPort", sp->number);
		sp->name = arena_str(c->sa, eg_node_str(p, "name") ? eg_node_str(p, "name") : "");
		sp->protocol = node_upper(c->sa, eg_node_str(p, "protocol"));
		sp->kind = proto_kind(sp->protocol);
	}
	s->nports = nports;
	if (naddr && !(s->addresses = arena_alloc(c->sa, naddr * sizeof(char *)))) {
		cc_nomem(c);
		return;
	}
	for (size_t j = 0; j < naddr; j++)
		s->addresses[j] = arena_str(c->sa, addrs->v[j]->s);
	s->naddresses = naddr;
	if (nsans && !(s->sans = arena_alloc(c->sa, nsans * sizeof(char *)))) {
		cc_nomem(c);
		return;
	}
	for (size_t j = 0; j < nsans; j++)
		s->sans[j] = arena_str(c->sa, sans->v[j]->s);
	s->nsans = nsans;
	if (neps && !(s->eps = arena_alloc(&c->tmp, neps * sizeof(*s->eps)))) {
		cc_nomem(c);
		return;
	}
	for (size_t j = 0; j < neps; j++) {
		struct svc_ep *e = &s->eps[j];

		e->address = arena_str(c->sa, eg_node_str(eps->v[j], "address"));
		e->ports = eg_node_get(eps->v[j], "ports");
		e->labels = eg_node_get(eps->v[j], "labels");
		e->weight = (uint32_t)eg_node_int(eps->v[j], "weight", 1);
		e->sa = eg_node_str(eps->v[j], "serviceAccount");
		if (e->sa && !sa_known(s, e->sa) && s->nsas < 64) {
			const char **v = arena_alloc(&c->tmp, (s->nsas + 1) * sizeof(char *));

			if (!v) {
				cc_nomem(c);
				return;
			}
			if (s->nsas)
				memcpy(v, s->sas, s->nsas * sizeof(char *));
			v[s->nsas++] = arena_str(c->sa, e->sa);
			s->sas = v;
		}
	}
	s->neps = neps;
	if (eg_node_len(wsel) && !neps)
		add_pods(c, s, r->ns, wsel, NULL);
}

/* One entry per host of every visible ServiceEntry, in precedence order, each filled and
 * dropped when the Sidecar imports none of its ports (a sidecar sees them all). */
static void registry_se(struct cc *c, struct vec *all)
{
	for (size_t i = 0; i < c->se.n && !c->err; i++) {
		const struct eg_resource *r = c->se.v[i];
		const struct eg_node *hosts = eg_node_path(r->root, "spec.hosts");
		const char *ns;

		if (!eg_node_len(hosts) || !cc_visible_exported(c, r, "spec.exportTo"))
			continue;
		ns = arena_str(c->sa, r->ns);
		for (size_t h = 0; h < hosts->n; h++) {
			struct svc *s;

			if (!hosts->v[h]->s || !*hosts->v[h]->s)
				continue;
			if (!(s = new_svc(c, all)))
				return;
			s->host = arena_lower(c->sa, hosts->v[h]->s);
			s->ns = ns;
			s->res = r;
			se_fill(c, s);
			if (!imported_any_port(c, s))
				all->n--;
		}
	}
}

/* A gateway's registry of ServiceEntry hosts: host -> its candidates, unsorted and not
 * checked for exportTo yet (cc_service decides when a route asks for the host). A host of
 * a Service is not a candidate: the Service wins. */
static void registry_se_lazy(struct cc *c)
{
	for (size_t i = 0; i < c->se.n && !c->err; i++) {
		const struct eg_resource *r = c->se.v[i];
		const struct eg_node *hosts = eg_node_get(eg_node_get(r->root, "spec"), "hosts");

		for (size_t h = 0; h < eg_node_len(hosts); h++) {
			const char *host = hosts->v[h]->s;
			struct svc *s;
			const struct eg_resource **slot;

			if (!host || !*host)
				continue;
			for (const char *p = host; *p; p++) {
				if (*p >= 'A' && *p <= 'Z') {
					host = arena_lower(&c->tmp, host);
					break;
				}
			}
			if (!host) {
				cc_nomem(c);
				return;
			}
			s = (struct svc *)index_get(c->svc_by_host, host, strlen(host));
			if (s && !s->lazy)
				continue;
			if (!s) {
				if (!(s = arena_alloc(&c->tmp, sizeof(*s))) ||
				    !index_put_grow(&c->tmp, c->svc_by_host, host, strlen(host),
				                    s)) {
					cc_nomem(c);
					return;
				}
				s->host = host;
				s->lazy = true;
				s->cands = VEC_INIT(const struct eg_resource *);
			}
			if (!(slot = vec_push(&c->tmp, &s->cands))) {
				cc_nomem(c);
				return;
			}
			*slot = r;
		}
	}
}

static int svc_cmp(const void *a, const void *b)
{
	const struct svc *x = *(const struct svc *const *)a, *y = *(const struct svc *const *)b;
	int r = strcmp(x->host, y->host);

	if (r)
		return r;
	/* a Kubernetes Service wins over a ServiceEntry of the same host */
	if (x->k8s != y->k8s)
		return x->k8s ? -1 : 1;
	return res_cmp(&x->res, &y->res);
}

static void build_registry(struct cc *c)
{
	struct vec all = VEC_INIT(struct svc *);
	bool gateway = c->who->role == EG_ROLE_GATEWAY;

	registry_k8s(c, &all);
	if (!gateway)
		registry_se(c, &all);
	if (c->err)
		return;
	if (all.n)
		qsort(all.v, all.n, sizeof(struct svc *), svc_cmp);
	c->svcs = all.v;
	c->nsvcs = all.n;
	c->svc_by_host = index_new(&c->tmp, gateway ? all.n + c->se.n : all.n);
	if (!c->svc_by_host) {
		cc_nomem(c);
		return;
	}
	for (size_t i = 0; i < all.n; i++) {
		if (i > 0 && strcmp(c->svcs[i]->host, c->svcs[i - 1]->host) == 0) {
			const struct svc *s = c->svcs[i], *w = c->svcs[i - 1];

			cc_warn(c, s->res, NULL, NULL,
			        "host %s is also defined by %s, which takes precedence here",
			        s->host, w->res->what);
			continue;
		}
		index_put(c->svc_by_host, c->svcs[i]->host, strlen(c->svcs[i]->host), c->svcs[i]);
	}
	if (gateway)
		registry_se_lazy(c);
}

/* Picks the ServiceEntry that defines a lazy host: visible here, then the oldest (then by
 * namespace, name), as the sorted registry of a sidecar would; fills the entry. */
static void resolve_lazy(struct cc *c, struct svc *s)
{
	const struct eg_resource *best = NULL;
	struct keyed kb = {0};

	s->lazy = false;
	for (size_t i = 0; i < s->cands.n; i++) {
		const struct eg_resource *r = *VEC_AT(s->cands, const struct eg_resource *, i);
		struct keyed k = {created(r), r->ns ? r->ns : "", r->name, r};

		if (!cc_visible_exported(c, r, "spec.exportTo"))
			continue;
		if (best && keyed_cmp(&k, &kb) >= 0) {
			cc_warn(c, r, NULL, NULL,
			        "host %s is also defined by %s, which takes precedence here",
			        s->host, best->what);
			continue;
		}
		if (best)
			cc_warn(c, best, NULL, NULL,
			        "host %s is also defined by %s, which takes precedence here",
			        s->host, r->what);
		best = r;
		kb = k;
	}
	if (!best)
		return; /* no entry visible here: an unknown host */
	s->res = best;
	s->host = arena_str(c->sa, s->host);
	s->ns = arena_str(c->sa, best->ns);
	se_fill(c, s);
}

/* The registry entry of @host (exact, lower case), filled on first use; NULL when unknown. */
const struct svc *cc_service(struct cc *c, const char *host)
{
	struct svc *s = host ? (struct svc *)index_get(c->svc_by_host, host, strlen(host)) : NULL;

	if (s && s->lazy)
		resolve_lazy(c, s);
	return s && s->res ? s : NULL;
}

/* --- gateway servers --- */

/* The Services of the gateway's namespace that select its pod, by name. */
static const struct eg_resource *gateway_service_port(const struct cc *c, uint16_t port,
                                                      uint16_t *ret_target)
{
	for (size_t i = 0; i < c->svc.n; i++) {
		const struct eg_resource *r = c->svc.v[i];
		const struct eg_node *sel = eg_node_path(r->root, "spec.selector");
		const struct eg_node *ports = eg_node_path(r->root, "spec.ports");

		if (strcmp(r->ns, c->ns) != 0 || !eg_node_len(sel) || !cc_labels_match(c, sel))
			continue;
		if (!port) {
			*ret_target = 0;
			return r;
		}
		for (size_t j = 0; j < eg_node_len(ports); j++) {
			const struct eg_node *tp = eg_node_get(ports->v[j], "targetPort");

			if (eg_node_int(ports->v[j], "port", 0) != port)
				continue;
			*ret_target = tp && tp->vtype == EG_V_INT ? (uint16_t)tp->i : port;
			return r;
		}
	}
	return NULL;
}

static void gateway_servers(struct cc *c)
{
	struct vec v = VEC_INIT(struct gw_server);
	uint16_t unused;
	const struct eg_resource *gsvc = gateway_service_port(c, 0, &unused);

	if (gsvc) {
		c->s->id.gateway_name = arena_str(c->sa, gsvc->name);
	} else {
		/* the Deployment is NAME-REVISION: the egress gateway is NAME */
		const char *n = c->s->id.name;
		size_t nl = strlen(n), rl = strlen(c->s->id.revision);

		if (nl > rl + 1 && strcmp(n + nl - rl, c->s->id.revision) == 0 &&
		    n[nl - rl - 1] == '-')
			c->s->id.gateway_name = arena_strn(c->sa, n, nl - rl - 1);
		else
			c->s->id.gateway_name = n;
	}
	for (size_t i = 0; i < c->gw.n && !c->err; i++) {
		const struct eg_resource *g = c->gw.v[i];
		const struct eg_node *servers = eg_node_path(g->root, "spec.servers");

		/* an empty selector selects every gateway pod (Istio); any namespace */
		if (!cc_labels_match(c, eg_node_path(g->root, "spec.selector")))
			continue;
		for (size_t j = 0; j < eg_node_len(servers); j++) {
			const struct eg_node *srv = servers->v[j];
			uint16_t port = (uint16_t)eg_node_int(srv, "port.number", 0);
			uint16_t target = 0;
			struct gw_server *gs;

			if (!port) {
				cc_warn(c, g, srv, "spec.servers",
				        "server %zu has no port, ignoring it", j);
				continue;
			}
			if (!gateway_service_port(c, port, &target) || !target)
				target = port;
			if (!(gs = vec_push(&c->tmp, &v))) {
				cc_nomem(c);
				return;
			}
			gs->gw = g;
			gs->srv = srv;
			gs->index = j;
			gs->port = port;
			gs->bind = target;
			gs->protocol = node_upper(c->sa, eg_node_str(srv, "port.protocol"));
			gs->gwname = arena_printf(c->sa, "%s/%s", g->ns, g->name);
		}
	}
	c->servers = v.v;
	c->nservers = v.n;
}

/* --- access log --- */

/* Applies one Telemetry's accessLogging entries (those matching a client proxy). */
static void telemetry_apply(struct cc *c, const struct eg_resource *t, const struct mesh *m)
{
	struct eg_access_log *l = &c->s->log;
	const struct eg_node *al = eg_node_path(t->root, "spec.accessLogging");
	const char *file = m->root ? eg_node_str(m->root, "accessLogFile") : NULL;

	for (size_t i = 0; i < eg_node_len(al); i++) {
		const struct eg_node *e = al->v[i];
		const char *mode = eg_node_str(e, "match.mode");
		const struct eg_node *prov = eg_node_get(e, "providers");
		bool envoy = !eg_node_len(prov);

		/* sidecar outbound and egress gateway traffic are both the client side */
		if (mode && strcmp(mode, "SERVER") == 0)
			continue;
		for (size_t j = 0; j < eg_node_len(prov); j++) {
			const char *pn = eg_node_str(prov->v[j], "name");

			if (pn && strcmp(pn, "envoy") == 0)
				envoy = true;
			else
				cc_warn(c, t, prov->v[j], "spec.accessLogging.providers",
				        "provider \"%s\" is not supported (only envoy), ignoring "
				        "it",
				        pn ? pn : "");
		}
		l->source = arena_printf(c->sa, "Telemetry %s/%s", t->ns, t->name);
		l->filter = arena_str(c->sa, eg_node_str(e, "filter.expression"));
		if (eg_node_bool(e, "disabled", false) || !envoy) {
			l->enabled = false;
			l->path = NULL;
			continue;
		}
		l->enabled = true;
		l->path = arena_str(c->sa, file && *file ? file : "/dev/stdout");
	}
}

static void access_log(struct cc *c, const struct mesh *m)
{
	struct eg_access_log *l = &c->s->log;
	const char *file = m->root ? eg_node_str(m->root, "accessLogFile") : NULL;
	const char *enc = m->root ? eg_node_str(m->root, "accessLogEncoding") : NULL;
	const char *fmt = m->root ? eg_node_str(m->root, "accessLogFormat") : NULL;

	l->source = "default";
	l->encoding = enc && strcasecmp(enc, "JSON") == 0 ? EG_LOG_JSON : EG_LOG_TEXT;
	l->format = fmt && *fmt ? arena_str(c->sa, fmt) : NULL;
	if (file && *file) {
		l->enabled = true;
		l->path = arena_str(c->sa, file);
	}
	if (file || enc || fmt)
		l->source = m->source;
	/* root namespace, then the proxy's namespace, then a selector: the most specific
	 * Telemetry wins */
	for (int level = 0; level < 3; level++) {
		for (size_t i = 0; i < c->tel.n; i++) {
			const struct eg_resource *t = c->tel.v[i];
			const struct eg_node *sel =
			        eg_node_path(t->root, "spec.selector.matchLabels");
			bool has_sel = eg_node_len(sel) > 0;

			if (level == 0 && (strcmp(t->ns, c->root_ns) != 0 || has_sel))
				continue;
			if (level == 1 && (strcmp(t->ns, c->ns) != 0 || has_sel ||
			                   strcmp(c->ns, c->root_ns) == 0))
				continue;
			if (level == 2 &&
			    (strcmp(t->ns, c->ns) != 0 || !has_sel || !cc_labels_match(c, sel)))
				continue;
			telemetry_apply(c, t, m);
			break; /* one per level (the oldest), as Istio */
		}
	}
}

/* --- egress source (gateway) --- */

static void egress_source(struct cc *c)
{
	struct eg_egress_source *e = &c->s->egress;
	const char *name = c->workload ? dep_annotation(c->workload, EG_SGC_ANNO) : NULL;
	const struct eg_resource *sgc;
	const char *prefix;

	if (!name || !*name) {
		e->status = "no-annotation";
		return;
	}
	e->sgc = arena_str(c->sa, name);
	sgc = find(&c->sgc, c->ns, name);
	if (!sgc) {
		e->status = "not-found";
		return;
	}
	prefix = eg_node_str(sgc->root, "status.egressIpPrefix");
	if (!prefix || !*prefix) {
		e->status = "no-prefix";
		return;
	}
	e->prefix = arena_str(c->sa, prefix);
	e->status = "ok";
}

/* --- authorization policies --- */

/* A node copy must not point at the file name of a resource the caller frees. */
static void forget_file(struct eg_node *n)
{
	n->pos.file = NULL;
	for (size_t i = 0; i < n->n; i++) {
		if (n->k)
			forget_file(n->k[i]);
		forget_file(n->v[i]);
	}
}

static enum eg_authz_action authz_action(const char *a)
{
	if (a && strcmp(a, "DENY") == 0)
		return EG_AUTHZ_DENY;
	if (a && strcmp(a, "AUDIT") == 0)
		return EG_AUTHZ_AUDIT;
	if (a && strcmp(a, "CUSTOM") == 0)
		return EG_AUTHZ_CUSTOM;
	return EG_AUTHZ_ALLOW;
}

/* Istio's scope: a policy of the root namespace applies to every proxy, one of the proxy's
 * namespace to its workloads; a selector narrows to the pods it matches. */
static void authorization(struct cc *c)
{
	struct vec v = VEC_INIT(struct eg_authz_policy);
	struct vec owned = VEC_INIT(struct eg_node *);

	for (size_t i = 0; i < c->ap.n && !c->err; i++) {
		const struct eg_resource *r = c->ap.v[i];
		const struct eg_node *spec = eg_node_get(r->root, "spec");
		const struct eg_node *sel = eg_node_path(spec, "selector.matchLabels");
		const struct eg_node *rules = eg_node_get(spec, "rules");
		struct eg_authz_policy *p;

		if (strcmp(r->ns, c->ns) != 0 && strcmp(r->ns, c->root_ns) != 0)
			continue;
		if (eg_node_get(spec, "targetRef") || eg_node_get(spec, "targetRefs")) {
			cc_warn(c, r,
			        eg_node_get(spec, "targetRef") ? eg_node_get(spec, "targetRef")
			                                       : eg_node_get(spec, "targetRefs"),
			        "spec.targetRef",
			        "targetRef is not supported, ignoring this policy");
			continue;
		}
		if (eg_node_len(sel) && !cc_labels_match(c, sel))
			continue;
		if (!(p = vec_push(&c->tmp, &v))) {
			cc_nomem(c);
			return;
		}
		p->name = arena_printf(c->sa, "%s/%s", r->ns, r->name);
		p->action = authz_action(eg_node_str(spec, "action"));
		p->provider = arena_str(c->sa, eg_node_str(spec, "provider.name"));
		if (rules) {
			struct eg_node *copy = eg_node_clone(rules);
			struct eg_node **slot = copy ? vec_push(&c->tmp, &owned) : NULL;

			if (!slot) {
				eg_node_free(copy);
				cc_nomem(c);
				return;
			}
			forget_file(copy);
			*slot = copy;
			p->rules = copy;
		}
	}
	/* c->ap is in precedence order; the dump wants namespace then name */
	c->s->authz = vec_finish(c->sa, &v);
	c->s->nauthz = v.n;
	if (owned.n && !(c->s->owned = malloc(owned.n * sizeof(struct eg_node *)))) {
		for (size_t i = 0; i < owned.n; i++)
			eg_node_free(*VEC_AT(owned, struct eg_node *, i));
		c->s->nauthz = 0;
		cc_nomem(c);
		return;
	}
	if (owned.n)
		memcpy(c->s->owned, owned.v, owned.n * sizeof(struct eg_node *));
	c->s->nowned = owned.n;
	for (size_t i = 1; i < c->s->nauthz; i++) {
		/* insertion sort: a handful of policies */
		struct eg_authz_policy t = c->s->authz[i];
		size_t j = i;

		while (j > 0 && strcmp(c->s->authz[j - 1].name, t.name) > 0) {
			c->s->authz[j] = c->s->authz[j - 1];
			j--;
		}
		c->s->authz[j] = t;
	}
}

/* --- the mesh Services of the snapshot --- */

static int service_cmp(const void *a, const void *b)
{
	return strcmp(((const struct eg_service *)a)->host, ((const struct eg_service *)b)->host);
}

static void snapshot_services(struct cc *c)
{
	struct vec v = VEC_INIT(struct eg_service);

	for (size_t i = 0; i < c->nsvcs; i++) {
		const struct svc *s = c->svcs[i];
		struct eg_service *o;
		struct eg_service_port *ports;
		const char **pods;

		if (!s->k8s || (i > 0 && strcmp(c->svcs[i - 1]->host, s->host) == 0))
			continue;
		if (!(o = vec_push(&c->tmp, &v))) {
			cc_nomem(c);
			return;
		}
		o->host = s->host;
		o->ns = s->ns;
		o->name = arena_str(c->sa, s->res->name);
		o->cluster_ip = s->naddresses ? s->addresses[0] : NULL;
		ports = s->nports ? arena_alloc(c->sa, s->nports * sizeof(*ports)) : NULL;
		for (size_t j = 0; ports && j < s->nports; j++) {
			ports[j].port = s->ports[j].number;
			ports[j].target_port = s->ports[j].target;
			ports[j].name = s->ports[j].name;
			ports[j].protocol = s->ports[j].protocol;
		}
		o->ports = ports;
		o->nports = ports ? s->nports : 0;
		pods = s->neps ? arena_alloc(c->sa, s->neps * sizeof(char *)) : NULL;
		for (size_t j = 0; pods && j < s->neps; j++)
			pods[j] = s->eps[j].address;
		o->pod_addresses = pods;
		o->npod_addresses = pods ? s->neps : 0;
	}
	if (v.n)
		qsort(v.v, v.n, sizeof(struct eg_service), service_cmp);
	c->s->services = vec_finish(c->sa, &v);
	c->s->nservices = v.n;
	c->s->service_index = index_new(c->sa, v.n);
	for (size_t i = 0; c->s->service_index && i < v.n; i++)
		index_put(c->s->service_index, c->s->services[i].host,
		          strlen(c->s->services[i].host), &c->s->services[i]);
}

/* --- entry point --- */

static struct eg_snapshot *snapshot_free(struct eg_snapshot *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->nregexes; i++) {
		regfree(s->regexes[i]);
		free(s->regexes[i]);
	}
	free(s->regexes);
	for (size_t i = 0; i < s->nowned; i++)
		eg_node_free(s->owned[i]);
	free(s->owned);
	arena_done(&s->arena);
	free(s);
	return NULL;
}

int eg_compile(const struct eg_resource_set *rs, const struct eg_proxy_id *who,
               struct eg_snapshot **ret, struct eg_diag *d)
{
	struct cc c = {0};
	struct mesh m = {0};
	const char *rev = who->revision && *who->revision ? who->revision : EG_DEFAULT_REVISION;
	int r;

	*ret = NULL;
	c.rs = rs;
	c.who = who;
	c.d = d;
	c.s = calloc(1, sizeof(*c.s));
	if (!c.s)
		return -ENOMEM;
	atomic_init(&c.s->refs, 1);
	arena_init(&c.s->arena, SNAPSHOT_MAX_BYTES);
	arena_init(&c.tmp, SCRATCH_MAX_BYTES);
	c.sa = &c.s->arena;
	c.domain_suffix = "cluster.local";
	c.connect_timeout_ns = 10 * 1000000000LL;
	c.clusters = VEC_INIT(struct eg_cluster *);
	c.tables = VEC_INIT(const struct eg_route_table *);
	c.regexes = VEC_INIT(regex_t *);

	if ((r = bucket(&c)) < 0)
		goto out_fail;
	mesh_load(&c, &m, rev);
	if (m.root) {
		c.exp_svc = eg_node_get(m.root, "defaultServiceExportTo");
		c.exp_vs = eg_node_get(m.root, "defaultVirtualServiceExportTo");
		c.exp_dr = eg_node_get(m.root, "defaultDestinationRuleExportTo");
		c.connect_timeout_ns =
		        node_duration(m.root, "connectTimeout", c.connect_timeout_ns);
	}
	if ((r = identify(&c, &m, rev)) < 0)
		goto out_fail;
	pick_sidecar(&c);
	index_pods(&c);
	build_registry(&c);
	cc_index_drs(&c);
	cc_special_clusters(&c);
	outbound_policy(&c, &m);
	access_log(&c, &m);
	if (who->role == EG_ROLE_GATEWAY) {
		gateway_servers(&c);
		egress_source(&c);
		cc_build_gateway_listeners(&c);
	} else {
		c.s->egress.status = "no-annotation";
		cc_sidecar_clusters(&c);
		cc_build_sidecar_listener(&c);
	}
	snapshot_services(&c);
	authorization(&c);
	if (!c.err)
		c.err = cc_finish_clusters(&c);
	r = c.err;
	if (!r && (c.sa->failed || c.tmp.failed))
		r = -ENOMEM;
	/* hand the compiled patterns to the snapshot even on failure: it frees them */
	if (c.regexes.n) {
		c.s->regexes = malloc(c.regexes.n * sizeof(regex_t *));
		if (c.s->regexes) {
			memcpy(c.s->regexes, c.regexes.v, c.regexes.n * sizeof(regex_t *));
			c.s->nregexes = c.regexes.n;
		} else {
			for (size_t i = 0; i < c.regexes.n; i++) {
				regfree(((regex_t **)c.regexes.v)[i]);
				free(((regex_t **)c.regexes.v)[i]);
			}
			r = -ENOMEM;
		}
	}
	if (r < 0)
		goto out_fail;
	c.s->tables = vec_finish(c.sa, &c.tables);
	c.s->ntables = c.tables.n;
	if (c.sa->failed) {
		r = -ENOMEM;
		goto out_fail;
	}
	mesh_free(&m);
	arena_done(&c.tmp);
	*ret = c.s;
	return 0;
out_fail:
	if (r == -ENOMEM)
		eg_diag_add(d, EG_DIAG_ERROR, NULL, NULL, NULL,
		            "out of memory compiling the snapshot");
	mesh_free(&m);
	arena_done(&c.tmp);
	snapshot_free(c.s);
	return r;
}

struct eg_snapshot *eg_snapshot_ref(struct eg_snapshot *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

struct eg_snapshot *eg_snapshot_unref(struct eg_snapshot *s)
{
	/* acq_rel: the thread freeing sees every other thread's last reads done */
	if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		snapshot_free(s);
	return NULL;
}
