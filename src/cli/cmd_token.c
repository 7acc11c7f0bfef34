/* cmd_token.c — `ecom token` (not built yet: says so and exits 2). */
#include <stdio.h>

#include "src/cli/cli.h"

int cmd_token(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ecom token: not implemented yet\n");
	return 2;
}
