/* src/ctl/ctl.h: egressctl verbs, one file each, and their shared helpers.
 * May include: core, model, compile, store, runtime, telemetry, tls, net. */
#ifndef EG_CTL_CTL_H
#define EG_CTL_CTL_H

#include <stdbool.h>
#include <stdio.h>

#include "model/model.h"

/* Exit codes (DESIGN.md §3). */
enum {
	EG_EXIT_OK = 0,
	EG_EXIT_REFUSED = 1, /* a refused request or a failed check; the message says why */
	EG_EXIT_USAGE = 2,
};

struct eg_ctl {
	const char *store_dir; /* --store or $EGRESS_STORE; NULL when neither */
	const char *prog;      /* "egressctl" */
};

struct eg_ctl_verb {
	const char *name;
	const char *usage;   /* one line: "apply -f FILE|DIR|- [-n NS]" */
	const char *summary; /* one sentence for `egressctl --help` */
	int (*run)(struct eg_ctl *ctl, int argc, char **argv);
};

/* The verb table, NULL-name terminated (src/ctl/verbs.c). */
extern const struct eg_ctl_verb eg_ctl_verbs[];

/* Prints "usage: egressctl USAGE" to stderr and returns EG_EXIT_USAGE. */
int eg_ctl_usage(const struct eg_ctl *ctl, const char *verb);
/* Prints the verb's help to stdout when argv has -h/--help; returns true then. */
bool eg_ctl_help(const struct eg_ctl *ctl, const char *verb, int argc, char **argv);
/* Prints "egressctl: error: ..." to stderr. */
void eg_ctl_err(const char *fmt, ...) EG_PRINTF(1, 2);

/* Reads FILE, every .yaml, .yml and .json file of DIR (sorted), or stdin for "-", parsing
 * everything into @set. Diagnostics go to @d. 0, -EINVAL (reported), -errno. */
int eg_ctl_read_inputs(const char *const *paths, size_t npaths, const struct eg_parse_opts *opts,
		       struct eg_resource_set *set, struct eg_diag *d);

/* The -f FILE|DIR|- arguments of a verb (input.c). */
#define EG_CTL_MAX_FILES 64
struct eg_ctl_files {
	const char *v[EG_CTL_MAX_FILES];
	size_t n;
};
/* Adds @path. When all EG_CTL_MAX_FILES are taken it prints "too many -f arguments" and
 * returns -E2BIG: the verb then exits with EG_EXIT_USAGE. */
int eg_ctl_files_add(struct eg_ctl_files *f, const char *path);
/* The options of the verbs that read resources: -f FILE|DIR|- (added to @f) and -n NS
 * (@po's default namespace, forced on every object). 1 when getopt's @c was one of them,
 * 0 when not, -1 when the verb must exit with EG_EXIT_USAGE (printed). */
int eg_ctl_input_option(int c, const char *arg, struct eg_ctl_files *f,
			struct eg_parse_opts *po);
/* eg_ctl_read_inputs() of @f into @set, printing its diagnostics to stderr. */
int eg_ctl_files_read(const struct eg_ctl_files *f, const struct eg_parse_opts *opts,
		      struct eg_resource_set *set);
/* A name that -f DIR reads: *.yaml, *.yml or *.json, not starting with a dot. */
bool eg_ctl_yaml_name(const char *name);

int eg_ctl_validate(struct eg_ctl *ctl, int argc, char **argv);
/* ca.c: `ca init|issue`, the mesh root CA and workload certificates */
int eg_ctl_ca(struct eg_ctl *ctl, int argc, char **argv);
/* analyze.c: istioctl analyze over the store and -f inputs (docs/reference/analyze.md) */
int eg_ctl_analyze(struct eg_ctl *ctl, int argc, char **argv);

/* proxy_config.c: the compiled snapshot of one proxy (docs/reference/snapshot.md) */
int eg_ctl_proxy_config(struct eg_ctl *ctl, int argc, char **argv);
/* mesh.c: az aks mesh enable/disable-egress-gateway, show, upgrade (docs/reference/mesh.md) */
int eg_ctl_mesh(struct eg_ctl *ctl, int argc, char **argv);

/* --- the local cluster: cluster.c, exec.c, logs.c (docs/reference/cluster.md) --- */

struct eg_store;
struct eg_rt_config;

int eg_ctl_cluster(struct eg_ctl *ctl, int argc, char **argv);
int eg_ctl_exec(struct eg_ctl *ctl, int argc, char **argv);
int eg_ctl_logs(struct eg_ctl *ctl, int argc, char **argv);
/* The store's absolute path into @out (creating the store). Prints why not. 0 or -errno. */
int eg_ctl_cluster_store(const struct eg_ctl *ctl, char *out, size_t len);
/* The store path and the running cluster's configuration; prints why not. 0 or -ENOENT. */
int eg_ctl_cluster_config(const struct eg_ctl *ctl, char *store, size_t len,
			  struct eg_rt_config *cfg);
/* Pods of @ns (local cluster) named by @target ("NAME", "pod/NAME", "deploy/NAME"; may be
 * NULL) and matching label @selector (may be NULL), moved into @out sorted by name. */
int eg_ctl_find_pods(struct eg_store *s, const char *ns, const char *target,
		     const char *selector, struct eg_resource_set *out);

/* --- the resource verbs: apply.c, get.c, delete.c, label.c --- */

int eg_ctl_apply(struct eg_ctl *ctl, int argc, char **argv);
int eg_ctl_get(struct eg_ctl *ctl, int argc, char **argv);
int eg_ctl_delete(struct eg_ctl *ctl, int argc, char **argv);
int eg_ctl_label(struct eg_ctl *ctl, int argc, char **argv);

/* --- shared by the verbs that read or write resources (output.c) --- */

struct eg_store;

/* Opens (creating when missing) the store of --store, $EGRESS_STORE or
 * $HOME/.egressd/store. Prints why on failure. 0 or -errno. */
int eg_ctl_open_store(const struct eg_ctl *ctl, struct eg_store **ret);
/* Prints kubectl's "Error from server (NotFound): services "x" not found" to stderr. */
void eg_ctl_not_found(const struct eg_kind *k, const char *name);

/* A kubectl-style table: columns padded to their widest cell plus three spaces. */
struct eg_ctl_table {
	size_t ncols;
	size_t nrows, cap;
	char **cells; /* nrows * ncols strings, row-major (owned); row 0 is the header */
};
void eg_ctl_table_init(struct eg_ctl_table *t, size_t ncols);
/* Copies @cells (ncols strings; NULL prints empty). 0 or -ENOMEM. */
int eg_ctl_table_row(struct eg_ctl_table *t, const char *const *cells);
void eg_ctl_table_print(const struct eg_ctl_table *t, FILE *f);
void eg_ctl_table_done(struct eg_ctl_table *t);

/* kubectl's AGE text for @seconds: "45s", "3m20s", "5h", "2d4h", "3y". */
void eg_ctl_age(int64_t seconds, char *buf, size_t len);

/* Runs a kubectl jsonpath template ("{.metadata.labels.istio}", "{.items..metadata.name}",
 * "{range .items[*]}{.metadata.name}{"\n"}{end}", quoted field names, backslash
 * escapes) over @root, appending the text to @out. Missing fields print nothing. 0,
 * -EINVAL (bad template: *ret_err says why), -E2BIG or -ENOMEM. */
int eg_ctl_jsonpath(const char *tmpl, const struct eg_node *root, struct eg_buf *out,
		    const char **ret_err);

enum eg_ctl_format {
	EG_CTL_OUT_TABLE,
	EG_CTL_OUT_WIDE,
	EG_CTL_OUT_YAML,
	EG_CTL_OUT_JSON,
	EG_CTL_OUT_NAME,
	EG_CTL_OUT_JSONPATH,
};

struct eg_ctl_output {
	enum eg_ctl_format fmt;
	const char *jsonpath; /* the template, for EG_CTL_OUT_JSONPATH */
};

/* Parses the argument of -o: yaml, json, wide, name, jsonpath=TEMPLATE. 0 or -EINVAL. */
int eg_ctl_output_parse(const char *arg, struct eg_ctl_output *ret);
/* Prints @n objects of one kind as @o says: a table (with a NAMESPACE column when
 * @all_ns; ages against @now), names, or YAML/JSON/jsonpath of the object (or of a
 * kind: List when @as_list or n != 1). 0, -EINVAL (*ret_err: bad jsonpath), -errno. */
int eg_ctl_print_resources(FILE *f, const struct eg_ctl_output *o, struct eg_resource *const *objs,
			   size_t n, bool as_list, bool all_ns, int64_t now, const char **ret_err);

#endif /* EG_CTL_CTL_H */
