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
	struct eg_ctl_files files = { .n = 0 };
	struct eg_parse_opts po = { .default_ns = "default" };
	struct eg_resource_set set;
	bool quiet = false;
	int c, r;

	if (eg_ctl_help(ctl, "validate", argc, argv))
		return EG_EXIT_OK;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:n:q", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (eg_ctl_files_add(&files, optarg) < 0)
				return EG_EXIT_USAGE;
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
	for (; optind < argc && files.n < EG_CTL_MAX_FILES; optind++)
		files.v[files.n++] = argv[optind];
	if (files.n == 0)
		return eg_ctl_usage(ctl, "validate");
	eg_resource_set_init(&set);
	r = eg_ctl_files_read(&files, &po, &set);
	if (r == 0 && !quiet)
		printf("%zu object%s valid\n", set.n, set.n == 1 ? "" : "s");
	eg_resource_set_done(&set);
	return r == 0 ? EG_EXIT_OK : EG_EXIT_REFUSED;
}
