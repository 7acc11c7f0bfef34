/* cmd_load.c — `ecom load` (not built yet: says so and exits 2). */
#include <stdio.h>

#include "src/cli/cli.h"

int cmd_load(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ecom load: not implemented yet\n");
	return 2;
}
