/* jwt_auth.h — admin authorization with HS256 JWTs over libjwt 1.10.2, and token minting for
 * `ecom token`. libjwt 1.10 checks neither the algorithm nor `exp` (and skips the signature
 * for alg "none"), so this module does: the key is always passed, the algorithm must be
 * HS256, `exp` must be a number in the future, and the admin role must be present
 * ("role": "admin", or "roles": [..., "admin", ...]). There is no default secret. */
#ifndef ECOM_JWT_AUTH_H
#define ECOM_JWT_AUTH_H

#include <stdint.h>

#include "core/clock.h"
#include "core/ecom.h"

#define JWT_SECRET_MIN_WARN 32   /* shorter secrets work, but `serve` warns */
#define JWT_TOKEN_MAX 8192       /* longer Authorization values are refused (401) */
#define JWT_LEEWAY_S 30          /* clock skew tolerated on exp and nbf */
#define JWT_ROLE_ADMIN "admin"

struct jwt_auth;

/* secret: non-empty, copied. clock: borrowed (the real clock in `serve`, a manual one in
 * tests); its wall_ms decides expiry. */
struct jwt_auth *jwt_auth_new(const char *secret, struct eclock *clock);
void jwt_auth_free(struct jwt_auth *a);

/* routes.h's authorize callback (auth is a struct jwt_auth *): 0 when the Authorization
 * header carries a valid admin token; 401 for a missing, malformed, wrongly signed,
 * non-HS256, expired or exp-less token; 403 for a valid token without the admin role.
 * err->msg says which (never echoes the token). */
int jwt_auth_check(void *auth, const char *authorization, struct ecom_err *err);

/* Mints an HS256 token {sub, role, iat, exp = now_s + ttl_s}. malloc'd string, or NULL with
 * err set. role/sub may be NULL (omitted). */
char *jwt_auth_mint(const char *secret, const char *role, const char *sub, int64_t now_s,
		    int64_t ttl_s, struct ecom_err *err);

/* "90", "90s", "15m", "1h", "7d" -> seconds (1 s .. 366 d). ECOM_OK or ECOM_INVALID. */
int jwt_parse_ttl(const char *s, int64_t *out_s);

#endif
