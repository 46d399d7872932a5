/* src/model/node.h: YAML documents as a tree of nodes that remember where they came from.
 * May include: core. */
#ifndef EG_MODEL_NODE_H
#define EG_MODEL_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Limits on what one input may make us hold (every one fails with a diagnostic). */
#define EG_MODEL_MAX_FILE_BYTES (8u << 20) /* one file or stdin */
#define EG_MODEL_MAX_DEPTH      64         /* nesting of maps and sequences */
#define EG_MODEL_MAX_NODES      (1u << 20) /* nodes in one file */
#define EG_MODEL_MAX_DOCS       10000      /* documents (and List items) in one input */

struct eg_pos {
	const char *file; /* owned by the resource (or the loader) that holds the node */
	uint32_t line;    /* 1-based; 0 = unknown (synthesised node) */
	uint32_t col;     /* 1-based */
};

enum eg_node_kind {
	EG_NODE_SCALAR,
	EG_NODE_MAP,
	EG_NODE_SEQ,
};

/* What a scalar resolves to (YAML 1.2 core schema for plain scalars; quoted = string). */
enum eg_scalar_tag {
	EG_TAG_STR,
	EG_TAG_INT,
	EG_TAG_FLOAT,
	EG_TAG_BOOL,
	EG_TAG_NULL,
};

/* Typed value set by schema validation (model/schema.c). */
enum eg_vtype {
	EG_V_RAW,      /* not validated */
	EG_V_STR,      /* s */
	EG_V_INT,      /* i */
	EG_V_BOOL,     /* i: 0 or 1 */
	EG_V_ENUM,     /* i: index in the field's value list, s: canonical spelling */
	EG_V_DURATION, /* i: nanoseconds */
	EG_V_NULL,
};

struct eg_node {
	enum eg_node_kind kind;
	enum eg_scalar_tag tag; /* scalars */
	enum eg_vtype vtype;    /* scalars, after validation */
	bool quoted;            /* scalar was quoted or a block scalar */
	uint8_t block_indent;   /* block scalars: indentation of the content (for positions) */
	char style;             /* scalars as written: 0 plain, '\'', '"', '|' literal, '>' folded */
	struct eg_pos pos;
	char *s;            /* scalar text, NUL-terminated (owned) */
	size_t len;         /* scalar length */
	int64_t i;          /* typed value, see enum eg_vtype */
	size_t n;           /* map: pairs; seq: items */
	size_t cap;         /* allocated slots in k/v */
	struct eg_node **k; /* map: keys (scalars) */
	struct eg_node **v; /* map: values; seq: items */
};

struct eg_diag;

/* Parses every YAML document of @data (@len bytes) into @ret_docs (an array of @ret_n
 * roots; empty documents are skipped). Problems (syntax, tabs, aliases, depth, size,
 * duplicate keys) go to @d with @file positions; returns 0, or -EINVAL when anything
 * was reported (nothing returned then), -ENOMEM. @file must outlive the nodes. */
int eg_yaml_load(const char *file, const char *data, size_t len, struct eg_diag *d,
		 struct eg_node ***ret_docs, size_t *ret_n);

/* Like eg_yaml_load for YAML held in the scalar @outer of another file (a ConfigMap's
 * data.mesh): positions, in the nodes and in the diagnostics, point into the outer file
 * (@outer->pos.file). Exact for literal block scalars ("|"), whose content starts on the line
 * after the indicator at @outer->block_indent; for one-line scalars the column is shifted;
 * anything else is reported at @outer itself. @what ("Kind ns/name") and @path ("data.mesh")
 * prefix its diagnostics. */
int eg_yaml_load_embedded(const struct eg_node *outer, const char *what, const char *path,
			  struct eg_diag *d, struct eg_node ***ret_docs, size_t *ret_n);

struct eg_node *eg_node_free(struct eg_node *n);
struct eg_node *eg_node_new_scalar(const char *s, size_t len, bool quoted);
struct eg_node *eg_node_new_map(void);
struct eg_node *eg_node_new_seq(void);
/* Deep copy; positions are kept. NULL on allocation failure. */
struct eg_node *eg_node_clone(const struct eg_node *n);
/* Appends (takes ownership of @key and @val / @item). 0 or -ENOMEM (nothing taken). */
int eg_node_map_add(struct eg_node *map, struct eg_node *key, struct eg_node *val);
int eg_node_seq_add(struct eg_node *seq, struct eg_node *item);
/* Sets map[@key] = scalar @val (replacing any value). 0 or -ENOMEM. */
int eg_node_map_set_str(struct eg_node *map, const char *key, const char *val);
/* Replaces or adds map[@key] = @val (takes @val). 0 or -ENOMEM. */
int eg_node_map_put(struct eg_node *map, const char *key, struct eg_node *val);
/* Removes map[@key] if present. */
void eg_node_map_del(struct eg_node *map, const char *key);

/* A YAML 1.2 core-schema integer (decimal, 0x hex, 0o octal, optional sign) into *ret (may be
 * NULL). 0, -EINVAL (not an integer), -ERANGE (an integer beyond int64). */
int eg_scalar_int(const char *s, int64_t *ret);

/* Lookups; NULL when absent or of another kind. */
struct eg_node *eg_node_get(const struct eg_node *map, const char *key);
/* Dotted path of map keys: "spec.trafficPolicy.tls". */
struct eg_node *eg_node_path(const struct eg_node *n, const char *path);
/* Scalar text of map[@key] (or of @n for path ""), NULL when absent or not a scalar. */
const char *eg_node_str(const struct eg_node *map, const char *path);
/* Typed value of a validated scalar at @path, or @def when absent. */
int64_t eg_node_int(const struct eg_node *map, const char *path, int64_t def);
bool eg_node_bool(const struct eg_node *map, const char *path, bool def);
static inline size_t eg_node_len(const struct eg_node *n)
{
	return n && n->kind != EG_NODE_SCALAR ? n->n : 0;
}

/* Structural equality (maps compared as ordered key sets regardless of order). */
bool eg_node_equal(const struct eg_node *a, const struct eg_node *b);
/* Sorts the keys of every map in @n by strcmp, in place (kubectl prints maps so, and the
 * last-applied annotation wants a stable text). 0 or -ENOMEM (@n may be partly sorted). */
int eg_node_sort_keys(struct eg_node *n);

/* Writers. YAML is block style with 2-space indent; JSON is pretty (indent > 0) or
 * compact (indent == 0). Both return 0, -E2BIG or -ENOMEM. */
int eg_node_emit_yaml(struct eg_buf *out, const struct eg_node *n);
int eg_node_emit_json(struct eg_buf *out, const struct eg_node *n, int indent);

#endif /* EG_MODEL_NODE_H */
