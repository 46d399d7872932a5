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

int eg_ctl_validate(struct eg_ctl *ctl, int argc, char **argv);

#endif /* EG_CTL_CTL_H */
