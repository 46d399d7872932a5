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
		if (c == 'q') {
			quiet = true;
			continue;
		}
		r = eg_ctl_input_option(c, optarg, &files, &po);
		if (r < 0)
			return EG_EXIT_USAGE;
		if (r == 0)
			return eg_ctl_usage(ctl, "validate");
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
