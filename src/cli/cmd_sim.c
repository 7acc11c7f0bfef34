/* cmd_sim.c — `ecom sim` (not built yet: says so and exits 2). */
#include <stdio.h>

#include "src/cli/cli.h"

int cmd_sim(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ecom sim: not implemented yet\n");
	return 2;
}
