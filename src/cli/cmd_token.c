/* cmd_token.c — `ecom token`: mints an HS256 admin JWT for the admin routes. The secret
 * comes from --secret or JWT_SECRET; there is no default. Prints the token alone on stdout
 * so that TOKEN=$(ecom token ...) works. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/cli/cli.h"

#ifdef ECOM_HAVE_BACKENDS
#include <jansson.h>

#include "backends/http/jwt_auth.h"

/* The claims are JSON strings: libjwt refuses anything that is not UTF-8. */
static int token_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}
#endif

static void token_usage(FILE *out)
{
	fprintf(out,
		"usage: ecom token [--secret S] [--role ROLE] [--ttl TTL] [--sub NAME]\n\n"
		"Mints an HS256 JWT for the admin routes (POST /admin/retry/:id,\n"
		"POST /admin/compensate/:id, GET /admin/dlq, POST /admin/dlq/replay) and prints it.\n\n"
		"  --secret S   signing secret (default: $JWT_SECRET; there is no built-in secret)\n"
		"  --role ROLE  the \"role\" claim (default: admin; anything else gets 403)\n"
		"  --ttl TTL    lifetime: N, Ns, Nm, Nh or Nd, at most 366d (default: 1h)\n"
		"  --sub NAME   the \"sub\" claim (default: ecom-cli)\n\n"
		"example: curl -H \"Authorization: Bearer $(ecom token)\" localhost:4005/admin/dlq\n");
}

int cmd_token(int argc, char **argv)
{
	const char *secret = getenv("JWT_SECRET"), *role = "admin", *ttl = "1h", *sub = "ecom-cli";

	if (cli_wants_help(argc, argv)) {
		token_usage(stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (i + 1 >= argc || strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "ecom token: unexpected argument '%s'\n\n", a);
			token_usage(stderr);
			return 2;
		}
		if (strcmp(a, "--secret") == 0)
			secret = argv[++i];
		else if (strcmp(a, "--role") == 0)
			role = argv[++i];
		else if (strcmp(a, "--ttl") == 0)
			ttl = argv[++i];
		else if (strcmp(a, "--sub") == 0)
			sub = argv[++i];
		else {
			fprintf(stderr, "ecom token: unknown option '%s'\n\n", a);
			token_usage(stderr);
			return 2;
		}
	}
#ifdef ECOM_HAVE_BACKENDS
	{
		struct ecom_err err = {0};
		int64_t ttl_s;
		char *tok;

		if (!secret || !*secret) {
			fprintf(stderr, "ecom token: no secret: pass --secret or set JWT_SECRET "
					"(there is no built-in default)\n");
			return 2;
		}
		if (jwt_parse_ttl(ttl, &ttl_s) != ECOM_OK) {
			fprintf(stderr, "ecom token: --ttl %s: want N, Ns, Nm, Nh or Nd (1s..366d)\n",
				ttl);
			return 2;
		}
		if (!*role) {
			fprintf(stderr, "ecom token: --role must not be empty\n");
			return 2;
		}
		if (!token_utf8(role) || !token_utf8(sub)) {
			fprintf(stderr, "ecom token: --%s must be UTF-8 text\n",
				token_utf8(role) ? "sub" : "role");
			return 2;
		}
		tok = jwt_auth_mint(secret, role, *sub ? sub : NULL, (int64_t)time(NULL), ttl_s, &err);
		if (!tok) {
			fprintf(stderr, "ecom token: %s\n", err.msg);
			return 1;
		}
		printf("%s\n", tok);
		free(tok);
		return 0;
	}
#else
	(void)secret;
	(void)role;
	(void)ttl;
	(void)sub;
	fprintf(stderr, "ecom token: this ecom was built without libjwt (ECOM_BACKENDS=OFF)\n");
	return 2;
#endif
}
