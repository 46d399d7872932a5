/* src/compile/internal.h: private to src/compile: the arena, hash indexes, and the state of
 * one compilation. */
#ifndef EG_COMPILE_INTERNAL_H
#define EG_COMPILE_INTERNAL_H

#include <stdatomic.h>

#include "compile/compile.h"

/* Functions shared by the files of src/compile get short names here and eg_compile_*
 * symbols in libegress.a, so they cannot clash with another module's helpers. */
#define arena_init                 eg_compile_arena_init
#define arena_done                 eg_compile_arena_done
#define arena_alloc                eg_compile_arena_alloc
#define arena_dup                  eg_compile_arena_dup
#define arena_str                  eg_compile_arena_str
#define arena_strn                 eg_compile_arena_strn
#define arena_printf               eg_compile_arena_printf
#define arena_lower                eg_compile_arena_lower
#define vec_push                   eg_compile_vec_push
#define vec_finish                 eg_compile_vec_finish
#define index_new                  eg_compile_index_new
#define index_put                  eg_compile_index_put
#define index_get                  eg_compile_index_get
#define index_put_grow             eg_compile_index_put_grow
#define cc_visible_exported        eg_compile_cc_visible_exported
#define cc_labels_match            eg_compile_cc_labels_match
#define cc_expand_host             eg_compile_cc_expand_host
#define cc_service                 eg_compile_cc_service
#define cc_sidecar_imports         eg_compile_cc_sidecar_imports
#define cc_warn                    eg_compile_cc_warn
#define cc_nomem                   eg_compile_cc_nomem
#define host_matches               eg_compile_host_matches
#define node_duration              eg_compile_node_duration
#define node_upper                 eg_compile_node_upper
#define proto_kind                 eg_compile_proto_kind
#define cc_regex_add               eg_compile_cc_regex_add
#define cc_cluster                 eg_compile_cc_cluster
#define cc_cluster_name            eg_compile_cc_cluster_name
#define cc_special_clusters        eg_compile_cc_special_clusters
#define cc_index_drs               eg_compile_cc_index_drs
#define cc_sidecar_clusters        eg_compile_cc_sidecar_clusters
#define cc_finish_clusters         eg_compile_cc_finish_clusters
#define cc_build_sidecar_listener  eg_compile_cc_build_sidecar_listener
#define cc_build_gateway_listeners eg_compile_cc_build_gateway_listeners

/* --- arena: everything of a snapshot lives in one, freed at once --- */

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
	size_t used;  /* bytes handed out */
	size_t total; /* bytes allocated from malloc */
	size_t max;   /* hard limit; an allocation beyond it fails */
	bool failed;  /* an allocation failed (sticky) */
};

void arena_init(struct arena *a, size_t max);
void arena_done(struct arena *a);
/* Zeroed memory, 16-byte aligned; NULL (and a->failed) on failure. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_dup(struct arena *a, const void *p, size_t n);
/* NUL-terminated copy; NULL in, NULL out. */
const char *arena_str(struct arena *a, const char *s);
const char *arena_strn(struct arena *a, const char *s, size_t n);
const char *arena_printf(struct arena *a, const char *fmt, ...) EG_PRINTF(2, 3);
const char *arena_lower(struct arena *a, const char *s);

/* Growable array in an arena (old storage is abandoned on growth: at most 2x waste). */
struct vec {
	void *v;
	size_t n, cap, esz;
};

#define VEC_INIT(type) ((struct vec){NULL, 0, 0, sizeof(type)})
/* Appends a zeroed element and returns it (NULL on failure). */
void *vec_push(struct arena *a, struct vec *v);
/* Copies the elements into @a with the exact size (NULL when empty). */
void *vec_finish(struct arena *a, const struct vec *v);
#define VEC_AT(vec, type, i) (&((type *)(vec).v)[i])

/* --- hash index: string key -> pointer, open addressing, built once --- */

struct eg_index_slot {
	uint64_t hash;
	const char *key;
	size_t klen;
	const void *val;
};

struct eg_index {
	struct eg_index_slot *slots;
	size_t mask; /* capacity - 1 (a power of two) */
	size_t n;
};

/* An index with room for @n keys (never grows: callers count first). */
struct eg_index *index_new(struct arena *a, size_t n);
/* Adds @key (not copied: it must live in the arena); keeps the first value of a key.
 * Returns true when added, false when the key was present (or the index is full). */
bool index_put(struct eg_index *ix, const char *key, size_t klen, const void *val);
const void *index_get(const struct eg_index *ix, const char *key, size_t klen);
/* Like index_put, doubling the table in @a when it is 3/4 full. */
bool index_put_grow(struct arena *a, struct eg_index *ix, const char *key, size_t klen,
                    const void *val);

/* --- the snapshot --- */

struct eg_snapshot {
	atomic_uint refs;
	struct arena arena;
	struct eg_identity id;
	struct eg_outbound_policy policy;
	struct eg_access_log log;
	struct eg_egress_source egress;
	struct eg_listener *listeners;
	size_t nlisteners;
	const struct eg_route_table **tables;
	size_t ntables;
	const struct eg_cluster **clusters; /* sorted by name */
	size_t nclusters;
	struct eg_service *services; /* sorted by host */
	size_t nservices;
	struct eg_index *cluster_index;
	struct eg_index *service_index;
	regex_t **regexes; /* compiled patterns, freed with the snapshot */
	size_t nregexes;
	struct eg_authz_policy *authz;
	size_t nauthz;
	struct eg_node **owned; /* node copies (authz rules), freed with the snapshot */
	size_t nowned;
};

/* --- one compilation --- */

/* Resources of one kind, sorted by namespace then name. */
struct rlist {
	const struct eg_resource **v;
	size_t n;
};

enum svc_res {
	RES_NONE,
	RES_STATIC,
	RES_DNS,
	RES_DNS_RR,
	RES_DYNAMIC_DNS,
};

struct svc_port {
	uint16_t number;
	uint16_t target; /* endpoint port */
	const char *name;
	const char *protocol; /* upper case; "" unknown */
	enum eg_chain_proto kind;
};

struct svc_ep {
	const char *address;
	const struct eg_node *ports; /* SE endpoint ports map (name -> number), or NULL */
	const struct eg_node *labels;
	uint32_t weight;
	const char *sa;
};

/* A registry entry: one host of a ServiceEntry, or a Kubernetes Service. */
struct svc {
	const char *host; /* lowercase FQDN or "*.suffix" */
	const char *ns;
	const struct eg_resource *res;
	bool k8s;
	bool lazy;        /* gateway: a ServiceEntry host not resolved yet (cc_service) */
	struct vec cands; /* lazy: the ServiceEntries naming the host, unsorted */
	bool mesh_internal;
	enum svc_res resolution;
	struct svc_port *ports;
	size_t nports;
	const char **addresses; /* SE addresses / ClusterIP */
	size_t naddresses;
	struct svc_ep *eps;
	size_t neps;
	const char *external_name; /* k8s ExternalName */
	const char **sas;          /* service accounts of the endpoints (spiffe SANs) */
	size_t nsas;
	const char **sans; /* SE subjectAltNames */
	size_t nsans;
};

struct gw_server {
	const struct eg_resource *gw;
	const struct eg_node *srv;
	size_t index;
	uint16_t port; /* service port (server port.number) */
	uint16_t bind; /* targetPort */
	const char *protocol;
	const char *gwname; /* "NS/NAME" */
};

struct cc {
	const struct eg_resource_set *rs;
	const struct eg_proxy_id *who;
	struct eg_diag *d;
	struct eg_snapshot *s;
	struct arena *sa; /* the snapshot's arena */
	struct arena tmp; /* scratch, freed when eg_compile returns */
	int err;          /* first fatal error (-ENOMEM, -E2BIG) */

	struct rlist se, vs, dr, gw, sc, svc, deploy, cm, tel, sgc, ap;

	/* mesh */
	const char *root_ns;
	const char *domain_suffix;                       /* "cluster.local" */
	const struct eg_node *exp_svc, *exp_vs, *exp_dr; /* MeshConfig default*ExportTo */
	int64_t connect_timeout_ns;
	const struct eg_resource *sidecar; /* the Sidecar selecting this workload */

	/* the proxy */
	const char *ns;
	struct eg_label *labels;
	size_t nlabels;
	const struct eg_resource *workload; /* the workload's Deployment, or NULL */

	struct eg_index *pods_by_ns; /* namespace -> struct pods (compile.c) */

	/* registry of services visible to the proxy */
	struct svc **svcs; /* sorted by host then namespace */
	size_t nsvcs;
	struct eg_index *svc_by_host; /* host -> first struct svc (precedence order) */
	struct eg_index *dr_exact;    /* host -> struct drs (candidates, precedence order) */
	struct eg_index *dr_wild;     /* "*.suffix" -> struct drs */

	/* gateway servers that select this pod, and the VirtualServices bound to them */
	struct rlist gw_vs;
	struct gw_server *servers;
	size_t nservers;

	/* clusters referenced or built, by name (struct eg_cluster *, or &cc_missing) */
	struct vec clusters;
	struct eg_index *cluster_names;
	struct vec tables; /* const struct eg_route_table * */
	struct vec regexes;
};

/* compile.c */
bool cc_visible_exported(const struct cc *c, const struct eg_resource *r, const char *field);
bool cc_labels_match(const struct cc *c, const struct eg_node *selector);
const char *cc_expand_host(struct cc *c, const char *host, const char *ns);
const struct svc *cc_service(struct cc *c, const char *host);
bool cc_sidecar_imports(const struct cc *c, const char *ns, const char *host, uint16_t port);
void cc_warn(struct cc *c, const struct eg_resource *r, const struct eg_node *at, const char *path,
             const char *fmt, ...) EG_PRINTF(5, 6);
void cc_nomem(struct cc *c);
bool host_matches(const char *pattern, const char *host);
int64_t node_duration(const struct eg_node *map, const char *key, int64_t def);
const char *node_upper(struct arena *a, const char *s);
enum eg_chain_proto proto_kind(const char *protocol);
void cc_regex_add(struct cc *c, regex_t *re);

/* clusters.c */
/* Returns the cluster named for (host, subset, port), building it on first use when the
 * host is a known service; NULL when there is no such service (routes keep the name). */
const struct eg_cluster *cc_cluster(struct cc *c, const char *host, const char *subset,
                                    uint16_t port);
const char *cc_cluster_name(struct cc *c, uint16_t port, const char *subset, const char *host);
void cc_special_clusters(struct cc *c);
void cc_index_drs(struct cc *c);
/* Builds every cluster a sidecar sees (each service port, each DR subset). */
void cc_sidecar_clusters(struct cc *c);
int cc_finish_clusters(struct cc *c);

/* routes.c */
void cc_build_sidecar_listener(struct cc *c);
void cc_build_gateway_listeners(struct cc *c);

#endif /* EG_COMPILE_INTERNAL_H */
