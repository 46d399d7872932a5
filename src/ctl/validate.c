/* src/ctl/validate.c: `egressctl validate -f FILE...`: schema and webhook checks, no store. */
#include <getopt.h>

#include "ctl/ctl.h"

int eg_ctl_validate(struct eg_ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *files[64];
	size_t nfiles = 0;
	struct eg_parse_opts po = { .default_ns = "default" };
	struct eg_resource_set set;
	struct eg_diag d;
	bool quiet = false;
	int c, r;

	if (eg_ctl_help(ctl, "validate", argc, argv))
		return EG_EXIT_OK;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:n:q", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (nfiles == EG_ARRAY_SIZE(files)) {
				eg_ctl_err("too many -f arguments (at most 64)");
				return EG_EXIT_USAGE;
			}
			files[nfiles++] = optarg;
			break;
		case 'n':
			po.default_ns = optarg;
			po.force_ns = true;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return eg_ctl_usage(ctl, "validate");
		}
	}
	for (; optind < argc && nfiles < EG_ARRAY_SIZE(files); optind++)
		files[nfiles++] = argv[optind];
	if (nfiles == 0)
		return eg_ctl_usage(ctl, "validate");
	eg_resource_set_init(&set);
	eg_diag_init(&d);
	r = eg_ctl_read_inputs(files, nfiles, &po, &set, &d);
	fputs(eg_diag_text(&d), stderr);
	if (r == 0 && !quiet)
		printf("%zu object%s valid\n", set.n, set.n == 1 ? "" : "s");
	eg_diag_done(&d);
	eg_resource_set_done(&set);
	return r == 0 ? EG_EXIT_OK : EG_EXIT_REFUSED;
}
