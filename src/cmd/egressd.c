/* src/cmd/egressd.c: main() of egressd. */
#include <stdlib.h>

#include "core/compiler.h"

#ifndef EG_VERSION
#define EG_VERSION "0.1.0"
#endif

int main(int argc, char **argv);

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--version") == 0) {
			printf("egressd %s\n", EG_VERSION);
			return 0;
		}
	}
	fprintf(stderr, "egressd: the data plane is not built yet (see README.md, feature status)\n");
	return 1;
}
