/* src/cmd/egressctl.c: main() of egressctl: global flags, then the verb. */
#include <stdlib.h>

#include "core/compiler.h"
#include "ctl/ctl.h"

#ifndef EG_VERSION
#define EG_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
	fprintf(f, "usage: egressctl [--store DIR] VERB [ARGS...]\n\n"
		   "The command line of egressd (kubectl, istioctl and az aks mesh in one).\n"
		   "The store is --store DIR or $EGRESS_STORE.\n\nVerbs:\n");
	for (const struct eg_ctl_verb *v = eg_ctl_verbs; v->name; v++)
		fprintf(f, "  %-18s %s\n", v->name, v->summary);
	fprintf(f, "\n'egressctl VERB --help' describes a verb.\n");
}

int main(int argc, char **argv)
{
	struct eg_ctl ctl = { .store_dir = getenv("EGRESS_STORE"), .prog = "egressctl" };
	int i = 1;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--store") == 0 && i + 1 < argc) {
			ctl.store_dir = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--store=", 8) == 0) {
			ctl.store_dir = argv[i] + 8;
			i++;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return EG_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("egressctl %s\n", EG_VERSION);
			return EG_EXIT_OK;
		} else {
			eg_ctl_err("unknown global flag %s", argv[i]);
			usage(stderr);
			return EG_EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return EG_EXIT_USAGE;
	}
	for (const struct eg_ctl_verb *v = eg_ctl_verbs; v->name; v++)
		if (strcmp(v->name, argv[i]) == 0)
			return v->run(&ctl, argc - i, argv + i);
	eg_ctl_err("unknown verb \"%s\"", argv[i]);
	usage(stderr);
	return EG_EXIT_USAGE;
}
