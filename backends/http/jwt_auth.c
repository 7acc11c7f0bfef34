/* jwt_auth.c — HS256 verification and minting over libjwt 1.10.2 (see jwt_auth.h). The
 * claims are read back as JSON and checked with jansson, so a claim of the wrong type
 * (exp as a string, roles as an object) is a refusal, never a default. */
#include "backends/http/jwt_auth.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JWT_TTL_MAX_S (366LL * 24 * 3600)

struct jwt_auth {
	unsigned char *key;
	size_t key_len;
	struct eclock *clock;
};

struct jwt_auth *jwt_auth_new(const char *secret, struct eclock *clock)
{
	struct jwt_auth *a;

	ECOM_ASSERT(secret && *secret && clock);
	a = ecom_xcalloc(1, sizeof(*a));
	a->key_len = strlen(secret);
	a->key = (unsigned char *)ecom_xstrdup(secret);
	a->clock = clock;
	return a;
}

void jwt_auth_free(struct jwt_auth *a)
{
	if (!a)
		return;
	memset(a->key, 0, a->key_len);
	free(a->key);
	free(a);
}

/* "Bearer <token>" (scheme case-insensitive) -> the token, or NULL. */
static const char *bearer_token(const char *authz)
{
	const char *t;

	if (!authz || strncasecmp(authz, "Bearer ", 7) != 0)
		return NULL;
	t = authz + 7;
	while (*t == ' ')
		t++;
	if (!*t || strlen(t) > JWT_TOKEN_MAX)
		return NULL;
	for (const char *p = t; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '='))
			return NULL;
	return t;
}

static int has_admin_role(const json_t *claims)
{
	json_t *role = json_object_get(claims, "role"), *roles = json_object_get(claims, "roles");
	size_t i;
	json_t *v;

	if (json_is_string(role) && strcmp(json_string_value(role), JWT_ROLE_ADMIN) == 0)
		return 1;
	if (!json_is_array(roles))
		return 0;
	json_array_foreach(roles, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), JWT_ROLE_ADMIN) == 0)
			return 1;
	return 0;
}

/* The claim as whole seconds; 0 if it is not a number. */
static int claim_seconds(const json_t *claims, const char *name, int64_t *out)
{
	json_t *v = json_object_get(claims, name);

	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return 1;
	}
	if (json_is_real(v) && json_real_value(v) > -9e15 && json_real_value(v) < 9e15) {
		*out = (int64_t)json_real_value(v);
		return 1;
	}
	return 0;
}

/* 0, or 401/403 with err set. */
static int check_claims(struct jwt_auth *a, jwt_t *jwt, struct ecom_err *err)
{
	int64_t now_s = clock_wall_ms(a->clock) / 1000, exp_s, nbf_s;
	char *text = jwt_get_grants_json(jwt, NULL);
	json_t *claims = text ? json_loads(text, 0, NULL) : NULL;
	int rc = 0;

	free(text);
	if (!json_is_object(claims)) {
		ecom_err_set(err, ECOM_INVALID, "invalid token: claims are not a JSON object");
		rc = 401;
		goto out;
	}
	if (!claim_seconds(claims, "exp", &exp_s)) {
		ecom_err_set(err, ECOM_INVALID, "invalid token: exp claim required (a number)");
		rc = 401;
		goto out;
	}
	if (exp_s + JWT_LEEWAY_S <= now_s) {
		ecom_err_set(err, ECOM_INVALID, "token expired");
		rc = 401;
		goto out;
	}
	if (json_object_get(claims, "nbf") &&
	    (!claim_seconds(claims, "nbf", &nbf_s) || nbf_s > now_s + JWT_LEEWAY_S)) {
		ecom_err_set(err, ECOM_INVALID, "token not valid yet (nbf)");
		rc = 401;
		goto out;
	}
	if (!has_admin_role(claims)) {
		ecom_err_set(err, ECOM_REFUSED, "forbidden: admin role required");
		rc = 403;
	}
out:
	json_decref(claims);
	return rc;
}

int jwt_auth_check(void *auth, const char *authorization, struct ecom_err *err)
{
	struct jwt_auth *a = auth;
	const char *token;
	jwt_t *jwt = NULL;
	int rc;

	ECOM_ASSERT(a);
	if (!authorization || !*authorization) {
		ecom_err_set(err, ECOM_INVALID, "missing bearer token");
		return 401;
	}
	token = bearer_token(authorization);
	if (!token) {
		ecom_err_set(err, ECOM_INVALID, "malformed Authorization header (want: Bearer <jwt>)");
		return 401;
	}
	/* The key is always passed: with NULL libjwt would skip the signature. */
	if (jwt_decode(&jwt, token, a->key, (int)a->key_len) != 0 || !jwt) {
		ecom_err_set(err, ECOM_INVALID, "invalid token (malformed or bad signature)");
		return 401;
	}
	if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
		ecom_err_set(err, ECOM_INVALID, "invalid token: algorithm %s refused (HS256 only)",
			     jwt_alg_str(jwt_get_alg(jwt)) ? jwt_alg_str(jwt_get_alg(jwt)) : "?");
		rc = 401;
		goto out;
	}
	rc = check_claims(a, jwt, err);
out:
	jwt_free(jwt);
	return rc;
}

char *jwt_auth_mint(const char *secret, const char *role, const char *sub, int64_t now_s,
		    int64_t ttl_s, struct ecom_err *err)
{
	jwt_t *jwt = NULL;
	char *tok = NULL, *out = NULL;

	if (!secret || !*secret) {
		ecom_err_set(err, ECOM_INVALID, "secret: required (none is built in)");
		return NULL;
	}
	if (ttl_s <= 0 || ttl_s > JWT_TTL_MAX_S) {
		ecom_err_set(err, ECOM_INVALID, "ttl: must be 1 s .. 366 d");
		return NULL;
	}
	if (jwt_new(&jwt) != 0) {
		ecom_err_set(err, ECOM_UNAVAILABLE, "jwt_new failed");
		return NULL;
	}
	if ((sub && jwt_add_grant(jwt, "sub", sub) != 0) ||
	    (role && jwt_add_grant(jwt, "role", role) != 0) ||
	    jwt_add_grant_int(jwt, "iat", (long)now_s) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)) != 0 ||
	    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)) != 0) {
		ecom_err_set(err, ECOM_INVALID, "cannot build the token (errno %d)", errno);
		goto out;
	}
	tok = jwt_encode_str(jwt);
	if (!tok) {
		ecom_err_set(err, ECOM_UNAVAILABLE, "jwt_encode_str failed");
		goto out;
	}
	out = ecom_xstrdup(tok);
	free(tok);
out:
	jwt_free(jwt);
	return out;
}

int jwt_parse_ttl(const char *s, int64_t *out_s)
{
	int64_t v = 0, mult = 1;
	const char *p = s;

	if (!s || !*s)
		return ECOM_INVALID;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > JWT_TTL_MAX_S)
			return ECOM_INVALID;
	}
	if (p == s)
		return ECOM_INVALID;
	if (*p) {
		if (p[1])
			return ECOM_INVALID;
		switch (*p) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		default: return ECOM_INVALID;
		}
	}
	v *= mult;
	if (v <= 0 || v > JWT_TTL_MAX_S)
		return ECOM_INVALID;
	*out_s = v;
	return ECOM_OK;
}
