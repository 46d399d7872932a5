/* src/ctl/apply.c: `egressctl apply -f FILE|DIR|- [-f ...] [-n NS]`: validate everything,
 * then store it in one transaction, printing kubectl's lines. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "ctl/ctl.h"
#include "store/mesh.h"
#include "store/store.h"

int eg_ctl_apply(struct eg_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const outcome_names[] = {
		[EG_STORE_CREATED] = "created",
		[EG_STORE_CONFIGURED] = "configured",
		[EG_STORE_UNCHANGED] = "unchanged",
	};
	struct eg_ctl_files files = { .n = 0 };
	struct eg_parse_opts po = { .default_ns = "default" };
	struct eg_resource_set set;
	struct eg_store *store = NULL;
	struct eg_diag d;
	int *outcomes = NULL;
	int c, r, ret = EG_EXIT_REFUSED;

	if (eg_ctl_help(ctl, "apply", argc, argv))
		return EG_EXIT_OK;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:n:", opts, NULL)) != -1) {
		r = eg_ctl_input_option(c, optarg, &files, &po);
		if (r < 0)
			return EG_EXIT_USAGE;
		if (r == 0)
			return eg_ctl_usage(ctl, "apply");
	}
	if (optind < argc) {
		eg_ctl_err("unexpected argument \"%s\" (files go after -f)", argv[optind]);
		return eg_ctl_usage(ctl, "apply");
	}
	if (files.n == 0) {
		eg_ctl_err("must specify -f FILE, a directory or - (stdin)");
		return eg_ctl_usage(ctl, "apply");
	}
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	/* everything is validated before the store is even opened: an invalid input
	 * leaves the store (or its absence) exactly as it was */
	r = eg_ctl_files_read(&files, &po, &set);
	if (r < 0)
		goto out_free;
	if (set.n == 0) {
		fprintf(stderr, "error: no objects passed to apply\n");
		goto out_free;
	}
	outcomes = calloc(set.n, sizeof(*outcomes));
	if (!outcomes) {
		eg_ctl_err("out of memory");
		goto out_free;
	}
	if (eg_ctl_open_store(ctl, &store) < 0)
		goto out_free;
	r = eg_store_apply(store, &set, outcomes, &d);
	fputs(eg_diag_text(&d), stderr);
	if (r == -ENOENT) {
		for (size_t i = 0; i < set.n; i++)
			if (outcomes[i] == -ENOENT)
				fprintf(stderr,
					"Error from server (NotFound): namespaces \"%s\" not found\n",
					set.v[i]->ns);
		goto out_free;
	}
	if (r < 0) {
		if (r != -EINVAL)
			eg_ctl_err("writing the store %s: %s", eg_store_dir(store), strerror(-r));
		goto out_free;
	}
	for (size_t i = 0; i < set.n; i++) {
		char q[256];

		printf("%s/%s %s\n", eg_kind_qualified(set.v[i]->kind, q, sizeof(q)), set.v[i]->name,
		       outcome_names[outcomes[i]]);
	}
	ret = EG_EXIT_OK;
	/* the cluster's side of what was applied: StaticGatewayConfigurations get their
	 * status.egressIpPrefix from the egress pool (docs/reference/mesh.md) */
	eg_diag_done(&d);
	eg_diag_init(&d);
	r = eg_mesh_after_apply(store, &set, &d);
	fputs(eg_diag_text(&d), stderr);
	if (r < 0) {
		if (d.errors == 0)
			eg_ctl_err("assigning egress prefixes: %s", strerror(-r));
		ret = EG_EXIT_REFUSED;
	}
out_free:
	free(outcomes);
	eg_store_close(store);
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	return ret;
}
