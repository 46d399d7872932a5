/* src/model/analyze.h: `egressctl analyze`: a set of resources in, istioctl-style analyzer
 * messages out (Istio's IST codes with their levels and templates, plus egressd's own EGR
 * codes for egress mistakes Istio does not catch). Pure: no I/O, no clock, deterministic
 * (messages sorted and de-duplicated). docs/reference/analyze.md lists every code.
 * May include: core. */
#ifndef EG_MODEL_ANALYZE_H
#define EG_MODEL_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "model/model.h"

/* Ordered as istioctl sorts: errors first. */
enum eg_analyze_level {
	EG_ANALYZE_ERROR,
	EG_ANALYZE_WARNING,
	EG_ANALYZE_INFO,
};

struct eg_analyze_code {
	const char *code; /* "IST0101"; NULL ends eg_analyze_codes */
	const char *name; /* "ReferencedResourceNotFound" */
	enum eg_analyze_level level;
};

/* Every code analyze can emit, NULL-code terminated. */
extern const struct eg_analyze_code eg_analyze_codes[];

struct eg_analyze_msg {
	const struct eg_analyze_code *code;
	/* the code's level, except IST0128/IST0129 (Info unless verification is disabled) */
	enum eg_analyze_level level;
	const struct eg_resource *res; /* origin; NULL for a finding about the mesh as a whole */
	const char *file;              /* location printed after the origin; NULL: none */
	uint32_t line;
	bool mesh_wide; /* about the whole mesh: kept whatever namespace is analysed */
	char *text;     /* the message (owned) */
};

/* The result: messages referring to resources the caller keeps alive until it is done. */
struct eg_analyze {
	struct eg_analyze_msg *v;
	size_t n, cap;
	size_t dropped; /* messages past EG_ANALYZE_MAX_MSGS */
};

#define EG_ANALYZE_MAX_MSGS 100000 /* past this, messages are dropped (counted in dropped) */

struct eg_analyze_opts {
	const char *ns; /* report only on objects of this namespace; NULL = every namespace */
};

void eg_analyze_init(struct eg_analyze *a);
void eg_analyze_done(struct eg_analyze *a);

/* Records a schema problem found while loading @r (IST0106, or IST0133 when @warning):
 * @text is "field.path: what is wrong", @line the line it points at (0: the object).
 * 0 or -ENOMEM. */
int eg_analyze_add_schema(struct eg_analyze *a, const struct eg_resource *r, bool warning,
			  uint32_t line, const char *text);

/* Records every line of @d (diagnostics about @r, e.g. from validating it) as messages:
 * errors IST0106; warnings IST0133, except those an analyzer reports under its own code
 * (unreachable rules: IST0130/IST0131; TCP without addresses: left to IST0134).
 * 0 or -ENOMEM. */
int eg_analyze_add_diag(struct eg_analyze *a, const struct eg_resource *r, const struct eg_diag *d);

/* Runs every analyzer over @set (validated objects). @raw (may be NULL) holds objects that
 * failed validation, kept unvalidated so that references to them resolve: they are never
 * analysed themselves. The webhook rules of every object of @set run again (their
 * warnings become messages, see eg_analyze_add_diag). Then filters by @opts->ns, sorts and drops duplicates (also the
 * messages added before). 0 or -ENOMEM (the messages found so far are kept). */
int eg_analyze_run(struct eg_analyze *a, const struct eg_resource_set *set,
		   const struct eg_resource_set *raw, const struct eg_analyze_opts *opts);

/* Appends one message as istioctl prints it (no newline):
 *   Error [IST0101] (VirtualService ns/name file.yaml:12) Referenced gateway not found: "gw"
 * 0, -E2BIG or -ENOMEM. */
int eg_analyze_format(const struct eg_analyze_msg *m, struct eg_buf *out);

/* "Error", "Warning", "Info". */
const char *eg_analyze_level_name(enum eg_analyze_level l);
/* Parses Info, Warning or Error (any case). 0 or -EINVAL. */
int eg_analyze_parse_level(const char *s, enum eg_analyze_level *ret);

#endif /* EG_MODEL_ANALYZE_H */
