/* xstore.c — see xstore.h. */
#include "support/xstore.h"

#include <string.h>

static int x_scripted(struct xstore *x, enum xop op, struct ecom_err *err)
{
	x->calls[op]++;
	if (x->skip[op] > 0) {
		x->skip[op]--;
		return ECOM_OK;
	}
	if (x->fail[op] <= 0)
		return ECOM_OK;
	x->fail[op]--;
	return ecom_err_set(err, x->rc[op], "scripted %s", ecom_rc_name(x->rc[op]));
}

static int x_get(struct store *s, const char *c, const char *id, json_t **out,
		 struct ecom_err *e)
{
	struct xstore *x = (struct xstore *)s;
	int rc = x_scripted(x, XOP_GET, e);

	return rc != ECOM_OK ? rc : store_get(x->inner, c, id, out, e);
}

static int x_insert(struct store *s, const char *c, json_t *doc, struct ecom_err *e)
{
	struct xstore *x = (struct xstore *)s;
	int apply = x->apply[XOP_INSERT];
	int rc = x_scripted(x, XOP_INSERT, e);

	if (rc == ECOM_OK)
		return store_insert(x->inner, c, doc, e);
	if (apply)
		store_insert(x->inner, c, doc, NULL);
	return rc;
}

static int x_replace(struct store *s, const char *c, json_t *doc, int64_t v, struct ecom_err *e)
{
	struct xstore *x = (struct xstore *)s;
	int apply = x->apply[XOP_REPLACE];
	int rc = x_scripted(x, XOP_REPLACE, e);

	if (rc == ECOM_OK)
		return store_replace(x->inner, c, doc, v, e);
	if (apply)
		store_replace(x->inner, c, doc, v, NULL);
	return rc;
}

static int x_find(struct store *s, const char *c, const struct store_query *q, json_t **out,
		  struct ecom_err *e)
{
	struct xstore *x = (struct xstore *)s;
	int rc = x_scripted(x, XOP_FIND, e);

	return rc != ECOM_OK ? rc : store_find(x->inner, c, q, out, e);
}

static int x_remove(struct store *s, const char *c, const char *id, struct ecom_err *e)
{
	return store_remove(((struct xstore *)s)->inner, c, id, e);
}

static void x_destroy(struct store *s)
{
	store_destroy(((struct xstore *)s)->inner);
}

static const struct store_ops xstore_ops = {
	.name = "scripted",
	.get = x_get,
	.insert = x_insert,
	.replace = x_replace,
	.find = x_find,
	.remove = x_remove,
	.destroy = x_destroy,
};

void xstore_init(struct xstore *x, struct store *inner)
{
	memset(x, 0, sizeof(*x));
	x->base.ops = &xstore_ops;
	x->inner = inner;
}
