/* src/model/model.h: typed Istio/Kubernetes resources: kinds, schemas, validation.
 * May include: core. */
#ifndef EG_MODEL_MODEL_H
#define EG_MODEL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "model/diag.h"
#include "model/node.h"

/* --- schemas --- */

enum eg_ftype {
	EG_F_OBJECT,        /* sub: fields, NULL-name terminated */
	EG_F_LIST,          /* sub: element descriptor; max: items */
	EG_F_MAP,           /* string keys -> sub; max: entries (labels, annotations, data) */
	EG_F_STRING,        /* fmt; max: length */
	EG_F_INT,           /* min..max */
	EG_F_NUMBER,        /* int or float (percentages) in min..max; n->i is truncated, read
			     * n->s with strtod for the exact value */
	EG_F_BOOL,
	EG_F_ENUM,          /* values (NULL-terminated); EG_FF_CASEFOLD for protocols */
	EG_F_DURATION,      /* "1h30m", "10s", "500ms"; min..max in nanoseconds */
	EG_F_INT_OR_STRING, /* targetPort: 1..65535 or an IANA port name */
	EG_F_QUANTITY,      /* Kubernetes quantity: "100m", "1Gi", 3 */
	EG_F_ANY,           /* free-form subtree, kept as is (listed as accepted in support.md) */
};

enum eg_ffmt {
	EG_FMT_NONE,
	EG_FMT_DNS1123_LABEL,     /* [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63 */
	EG_FMT_DNS1123_SUBDOMAIN, /* labels joined by '.', <= 253 */
	EG_FMT_HOST,              /* FQDN or short name, '*' or '*.' as the whole first label */
	EG_FMT_IP,
	EG_FMT_CIDR,
	EG_FMT_IP_OR_CIDR,
	EG_FMT_LABEL_KEY,   /* [prefix/]name */
	EG_FMT_LABEL_VALUE, /* <= 63, alnum at the ends, [-_.a-zA-Z0-9] */
	EG_FMT_NS_HOST,     /* Gateway/Sidecar hosts: [namespace/]host */
};

enum {
	EG_FF_REQUIRED = 1 << 0,
	EG_FF_CASEFOLD = 1 << 1, /* enum compared case-insensitively */
	EG_FF_NONEMPTY = 1 << 2, /* string must not be empty / list must have an item */
	EG_FF_BLOCKED = 1 << 3,  /* a known field that is refused; values[0] says why */
};

struct eg_field {
	const char *name; /* NULL terminates a field list; unused for elements */
	enum eg_ftype type;
	unsigned flags;
	const struct eg_field *sub;
	const char *const *values;
	enum eg_ffmt fmt;
	int64_t min, max;
};

/* --- kinds --- */

struct eg_resource;

struct eg_kind {
	const char *group;             /* "networking.istio.io"; "" for the core group */
	const char *const *versions;   /* accepted versions, NULL-terminated */
	const char *kind;              /* "ServiceEntry" */
	const char *plural;            /* "serviceentries" */
	const char *singular;          /* "serviceentry" */
	const char *const *short_names; /* "se", NULL-terminated; may be NULL */
	bool namespaced;
	const struct eg_field *fields; /* top-level fields besides apiVersion, kind, metadata */
	/* Rules beyond the schema (Istio's webhook); runs after a clean schema pass. */
	void (*validate)(const struct eg_resource *r, struct eg_diag *d);
};

/* Every kind we know, NULL-terminated. */
extern const struct eg_kind *const eg_kinds[];

/* Finds a kind by Kind, plural, singular or short name, case-insensitively, optionally
 * qualified by group ("serviceentries.networking.istio.io"). NULL when unknown. */
const struct eg_kind *eg_kind_lookup(const char *name);
/* "serviceentry.networking.istio.io" (kubectl's resource/name prefix). */
const char *eg_kind_qualified(const struct eg_kind *k, char *buf, size_t len);

/* --- resources --- */

struct eg_resource {
	const struct eg_kind *kind;
	struct eg_node *root; /* the whole object (owned) */
	char *file;           /* where it came from (owned); positions in root point here */
	const char *ns;       /* metadata.namespace, NULL for cluster-scoped kinds */
	const char *name;     /* metadata.name */
	char what[320];       /* "Kind ns/name" for diagnostics */
};

struct eg_resource_set {
	struct eg_resource **v;
	size_t n, cap;
};

struct eg_parse_opts {
	const char *default_ns; /* for namespaced objects without metadata.namespace */
	bool force_ns;          /* -n given: an object in another namespace is an error */
	bool skip_rules;        /* schema only (the store re-reading its own objects) */
};

/* Parses and validates every document of @data (YAML, several documents, kind: List)
 * into resources appended to @set. Every problem goes to @d. Returns 0 when the whole
 * input is valid; -EINVAL when anything was reported (then nothing is added), -ENOMEM. */
int eg_model_parse(const char *file, const char *data, size_t len,
		   const struct eg_parse_opts *opts, struct eg_resource_set *set,
		   struct eg_diag *d);

/* Validates one loaded object tree against its kind; takes ownership of @root (freed on
 * error). On success *ret is a new resource. */
int eg_resource_from_node(const char *file, struct eg_node *root,
			  const struct eg_parse_opts *opts, struct eg_resource **ret,
			  struct eg_diag *d);

struct eg_resource *eg_resource_free(struct eg_resource *r);
struct eg_resource *eg_resource_clone(const struct eg_resource *r);
/* Refreshes r->ns, r->name and r->what after metadata changed. */
void eg_resource_sync(struct eg_resource *r);

void eg_resource_set_init(struct eg_resource_set *s);
void eg_resource_set_done(struct eg_resource_set *s);
int eg_resource_set_add(struct eg_resource_set *s, struct eg_resource *r);
/* Finds kind/ns/name (ns ignored for cluster-scoped kinds). */
struct eg_resource *eg_resource_set_find(const struct eg_resource_set *s,
					 const struct eg_kind *k, const char *ns,
					 const char *name);

/* Reports a problem located at @at (a node of @r, or NULL for the object). */
void eg_res_diag(struct eg_diag *d, enum eg_diag_level level, const struct eg_resource *r,
		 const struct eg_node *at, const char *path, const char *fmt, ...) EG_PRINTF(6, 7);
#define eg_res_error(d, r, at, path, ...) eg_res_diag(d, EG_DIAG_ERROR, r, at, path, __VA_ARGS__)
#define eg_res_warn(d, r, at, path, ...)  eg_res_diag(d, EG_DIAG_WARNING, r, at, path, __VA_ARGS__)

/* --- value checks shared by schemas, webhook rules, analyze and the CLI --- */

bool eg_is_dns1123_label(const char *s);
bool eg_is_dns1123_subdomain(const char *s);
/* Istio host: FQDN or short name; '*' alone when @allow_star; a wildcard only as the whole
 * first label. On false, *why says what is wrong. */
bool eg_is_valid_host(const char *s, bool allow_star, const char **why);
bool eg_is_ip(const char *s);
bool eg_is_cidr(const char *s);
/* Go-style duration ("1h2m3.5s", "500ms", "0"), into nanoseconds. 0 or -EINVAL/-ERANGE. */
int eg_parse_duration(const char *s, int64_t *ret_ns);

/* --- port protocols (Istio's protocol.Parse: names compared case-insensitively) --- */

enum eg_protocol {
	EG_PROTO_UNSUPPORTED,
	EG_PROTO_HTTP,
	EG_PROTO_HTTPS,
	EG_PROTO_GRPC,
	EG_PROTO_GRPC_WEB,
	EG_PROTO_HTTP2,
	EG_PROTO_HTTP_PROXY,
	EG_PROTO_TCP,
	EG_PROTO_TLS,
	EG_PROTO_UDP,
	EG_PROTO_MONGO,
	EG_PROTO_REDIS,
	EG_PROTO_MYSQL,
};

enum eg_protocol eg_protocol_parse(const char *s);
/* Canonical spelling ("HTTP", "GRPC-Web", ...); "UnsupportedProtocol" for EG_PROTO_UNSUPPORTED. */
const char *eg_protocol_name(enum eg_protocol p);
bool eg_protocol_is_http(enum eg_protocol p);  /* HTTP, HTTP2, HTTP_PROXY, GRPC, GRPC-Web */
bool eg_protocol_is_http2(enum eg_protocol p); /* HTTP2, GRPC, GRPC-Web */
bool eg_protocol_is_tcp(enum eg_protocol p);   /* TCP, HTTPS, TLS, Mongo, Redis, MySQL */
bool eg_protocol_is_tls(enum eg_protocol p);   /* HTTPS, TLS */

/* --- MeshConfig (model/meshconfig.c) --- */

/* True when @r is a ConfigMap that carries MeshConfig: istio-shared-configmap-<rev> in
 * aks-istio-system (the AKS add-on), or istio in istio-system (upstream Istio). *ret_rev, when
 * not NULL, gets the revision ("asm-1-24"), or "" for the upstream ConfigMap. */
bool eg_meshconfig_is(const struct eg_resource *r, const char **ret_rev);

/* Parses and validates data.mesh of the MeshConfig ConfigMap @cm. On success *ret_mesh is the
 * MeshConfig tree (a map, empty when data.mesh is empty; owned by the caller, free with
 * eg_node_free); its scalars are typed like resource fields (outboundTrafficPolicy.mode and
 * accessLogEncoding are enums, connectTimeout a duration) and its positions point into the
 * ConfigMap's file. Returns 0, -ENOENT when @cm is not a MeshConfig ConfigMap (nothing
 * reported), -EINVAL when problems were reported to @d, -ENOMEM. */
int eg_meshconfig_parse(const struct eg_resource *cm, struct eg_node **ret_mesh,
			struct eg_diag *d);

#endif /* EG_MODEL_MODEL_H */
