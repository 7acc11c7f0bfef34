/* ecom.h — the error vocabulary, assertions and allocation helpers every module shares.
 * Expected failures travel as a small `enum ecom_rc` plus an optional `struct ecom_err`
 * carrying a message; programmer errors are assertions that stay on in every build. */
#ifndef ECOM_ECOM_H
#define ECOM_ECOM_H

#include <stddef.h>
#include <stdint.h>

enum ecom_rc {
	ECOM_OK = 0,
	ECOM_NOT_FOUND = 1,   /* no such document / no message available / unknown id */
	ECOM_CONFLICT = 2,    /* version mismatch, duplicate key, idempotency-key reuse */
	ECOM_UNAVAILABLE = 3, /* transient: nothing was applied, retry later */
	ECOM_AMBIGUOUS = 4,   /* may or may not have been applied: re-read, then decide */
	ECOM_INVALID = 5,     /* bad input; retrying will not help */
	ECOM_REFUSED = 6,     /* a business refusal: declined card, illegal admin action */
	ECOM_RC_COUNT
};

/* "OK", "NOT_FOUND", ... — static strings, never NULL. */
const char *ecom_rc_name(int rc);

/* Optional error detail. Callers may pass NULL wherever a `struct ecom_err *` is taken. */
struct ecom_err {
	int rc;
	char msg[256];
};

/* Sets err (if non-NULL) and returns rc, so `return ecom_err_set(err, ECOM_INVALID, ...)`
 * reads naturally. */
int ecom_err_set(struct ecom_err *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void ecom_err_clear(struct ecom_err *err);

/* Assertions stay on in release builds (Redis serverAssert, TigerBeetle). */
#define ECOM_ASSERT(cond)                                                                     \
	do {                                                                                  \
		if (!(cond))                                                                  \
			ecom_assert_fail(#cond, __FILE__, __LINE__);                          \
	} while (0)
void ecom_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

/* Allocation failure is not an expected error here: these abort on OOM. */
void *ecom_xmalloc(size_t n);
void *ecom_xcalloc(size_t n, size_t size);
void *ecom_xrealloc(void *p, size_t n);
char *ecom_xstrdup(const char *s);
char *ecom_xstrndup(const char *s, size_t n);

#define ECOM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
