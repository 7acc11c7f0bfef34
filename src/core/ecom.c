/* ecom.c — error names, error detail, assertions and aborting allocators. */
#include "core/ecom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const rc_names[ECOM_RC_COUNT] = {
	[ECOM_OK] = "OK",
	[ECOM_NOT_FOUND] = "NOT_FOUND",
	[ECOM_CONFLICT] = "CONFLICT",
	[ECOM_UNAVAILABLE] = "UNAVAILABLE",
	[ECOM_AMBIGUOUS] = "AMBIGUOUS",
	[ECOM_INVALID] = "INVALID",
	[ECOM_REFUSED] = "REFUSED",
};

const char *ecom_rc_name(int rc)
{
	if (rc < 0 || rc >= ECOM_RC_COUNT)
		return "UNKNOWN";
	return rc_names[rc];
}

int ecom_err_set(struct ecom_err *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return rc;
	err->rc = rc;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

void ecom_err_clear(struct ecom_err *err)
{
	if (!err)
		return;
	err->rc = ECOM_OK;
	err->msg[0] = '\0';
}

void ecom_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "ecom: assertion failed: %s (%s:%d)\n", expr, file, line);
	fflush(stderr);
	abort();
}

static void oom(size_t n)
{
	fprintf(stderr, "ecom: out of memory allocating %zu bytes\n", n);
	abort();
}

void *ecom_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *ecom_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

void *ecom_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom(n);
	return q;
}

char *ecom_xstrdup(const char *s)
{
	return ecom_xstrndup(s, strlen(s));
}

char *ecom_xstrndup(const char *s, size_t n)
{
	char *p = ecom_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
