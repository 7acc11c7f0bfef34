/* cmd_serve.c — `ecom serve` (not built yet: says so and exits 2). */
#include <stdio.h>

#include "src/cli/cli.h"

int cmd_serve(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ecom serve: not implemented yet\n");
	return 2;
}
