/* cmd_dlq.c — `ecom dlq` (not built yet: says so and exits 2). */
#include <stdio.h>

#include "src/cli/cli.h"

int cmd_dlq(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ecom dlq: not implemented yet\n");
	return 2;
}
