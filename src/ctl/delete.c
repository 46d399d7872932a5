/* src/ctl/delete.c: `egressctl delete KIND NAME... [-n NS]`, `delete KIND --all`,
 * `delete -f FILE|DIR|-`: kubectl's delete over the store. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>

#include "ctl/ctl.h"
#include "store/mesh.h"
#include "store/store.h"

int eg_ctl_delete(struct eg_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "ignore-not-found", no_argument, NULL, 'I' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct eg_ctl_files files = { .n = 0 };
	size_t nrefs = 0;
	struct eg_parse_opts po = { .default_ns = "default", .skip_rules = true };
	bool ignore_nf = false, all = false;
	struct eg_resource_set set, listed;
	struct eg_store_ref *refs = NULL;
	struct eg_store *store = NULL;
	int *results = NULL;
	struct eg_diag d;
	int c, r, ret = EG_EXIT_REFUSED;

	if (eg_ctl_help(ctl, "delete", argc, argv))
		return EG_EXIT_OK;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'I':
			ignore_nf = true;
			break;
		case 'a':
			all = true;
			break;
		default:
			r = eg_ctl_input_option(c, optarg, &files, &po);
			if (r < 0)
				return EG_EXIT_USAGE;
			if (r == 0)
				return eg_ctl_usage(ctl, "delete");
		}
	}
	if (files.n && (optind < argc || all)) {
		eg_ctl_err("give either -f FILE or KIND NAME..., not both");
		return eg_ctl_usage(ctl, "delete");
	}
	if (!files.n && (optind == argc || (optind + 1 == argc && !all) ||
			(all && optind + 1 != argc))) {
		eg_ctl_err(all ? "--all takes a KIND and no names"
			       : "you must specify a KIND and a NAME (or -f FILE)");
		return eg_ctl_usage(ctl, "delete");
	}
	eg_resource_set_init(&set);
	eg_resource_set_init(&listed);
	eg_diag_init(&d);
	if (files.n) {
		r = eg_ctl_files_read(&files, &po, &set);
		if (r < 0)
			goto out_free;
		nrefs = set.n;
	} else {
		nrefs = (size_t)(argc - optind - 1);
	}
	if (eg_ctl_open_store(ctl, &store) < 0)
		goto out_free;
	if (!files.n) {
		const struct eg_kind *k = eg_kind_lookup(argv[optind]);

		if (!k) {
			fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n",
				argv[optind]);
			goto out_free;
		}
		if (all) {
			r = eg_store_list(store, k, po.default_ns, &listed, &d);
			fputs(eg_diag_text(&d), stderr);
			if (r < 0 && r != -EINVAL) {
				eg_ctl_err("reading the store: %s", strerror(-r));
				goto out_free;
			}
			nrefs = listed.n;
			if (nrefs == 0) {
				if (k->namespaced)
					fprintf(stderr, "No resources found in %s namespace.\n",
						po.default_ns);
				else
					fprintf(stderr, "No resources found\n");
				ret = EG_EXIT_OK;
				goto out_free;
			}
		}
		refs = calloc(nrefs, sizeof(*refs));
		if (!refs)
			goto out_nomem;
		for (size_t i = 0; i < nrefs; i++)
			refs[i] = (struct eg_store_ref){ k, po.default_ns,
							 all ? listed.v[i]->name : argv[optind + 1 + i] };
	} else {
		refs = calloc(nrefs ? nrefs : 1, sizeof(*refs));
		if (!refs)
			goto out_nomem;
		for (size_t i = 0; i < nrefs; i++)
			refs[i] = (struct eg_store_ref){ set.v[i]->kind, set.v[i]->ns, set.v[i]->name };
	}
	results = calloc(nrefs ? nrefs : 1, sizeof(*results));
	if (!results)
		goto out_nomem;
	/* the store's delete plus the management plane's rules: an SGC (or a namespace)
	 * still used by an enabled egress gateway stays (-EBUSY, reported in d) */
	eg_diag_done(&d);
	eg_diag_init(&d);
	r = eg_mesh_delete(store, refs, nrefs, results, &d);
	fputs(eg_diag_text(&d), stderr);
	if (r < 0) {
		eg_ctl_err("deleting from the store %s: %s", eg_store_dir(store), strerror(-r));
		goto out_free;
	}
	ret = EG_EXIT_OK;
	for (size_t i = 0; i < nrefs; i++) {
		char q[256], res[256];

		if (results[i] == 0) {
			printf("%s \"%s\" deleted\n", eg_kind_qualified(refs[i].kind, q, sizeof(q)),
			       refs[i].name);
		} else if (results[i] == -EPERM) {
			fprintf(stderr,
				"Error from server (Forbidden): %s \"%s\" is forbidden: this namespace may not be deleted\n",
				eg_store_resource_name(refs[i].kind, res, sizeof(res)), refs[i].name);
			ret = EG_EXIT_REFUSED;
		} else if (results[i] == -EBUSY) {
			ret = EG_EXIT_REFUSED; /* the reason was printed above */
		} else if (!ignore_nf) {
			eg_ctl_not_found(refs[i].kind, refs[i].name);
			ret = EG_EXIT_REFUSED;
		}
	}
	goto out_free;
out_nomem:
	eg_ctl_err("out of memory");
out_free:
	free(results);
	free(refs);
	eg_store_close(store);
	eg_diag_done(&d);
	eg_resource_set_done(&listed);
	eg_resource_set_done(&set);
	return ret;
}
