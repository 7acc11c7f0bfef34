/* xstore.h — a store for tests that fails the calls a test scripts: wraps an inner store;
 * per operation, let `skip` calls through, then fail `fail` calls with `rc` (applying the
 * write anyway when `apply` is set: an ambiguous commit), then pass again. Counts calls.
 * remove always passes through. */
#ifndef ECOM_TEST_XSTORE_H
#define ECOM_TEST_XSTORE_H

#include "core/store.h"

enum xop { XOP_GET, XOP_INSERT, XOP_REPLACE, XOP_FIND, XOP__N };

struct xstore {
	struct store base;
	struct store *inner; /* owned: destroyed with the xstore */
	int skip[XOP__N];    /* let this many calls of the op through, then ... */
	int fail[XOP__N];    /* ... fail this many ... */
	int rc[XOP__N];      /* ... with this code ... */
	int apply[XOP__N];   /* ... after applying the write anyway (insert/replace) */
	int calls[XOP__N];
};

/* Zeroes x and wraps inner (taken over). Use &x->base as the store. */
void xstore_init(struct xstore *x, struct store *inner);

#endif
