/* fault_store.c — the fault-injecting store wrapper. store_error is decided before the
 * inner call (so nothing is applied); store_ambiguous after a successful write (so it was
 * applied). Reads are subject to store_error only. */
#include "sim/fault_store.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/ecom.h"
#include "event/jsonx.h"

#define FS_NAME_MAX 64

struct fault_store {
	struct store base; /* first */
	struct store *inner;
	int owns_inner;
	struct fault_plan *plan;
	struct fault_crashpoint *cp;
	char name[FS_NAME_MAX];
};

static void fs_report(struct fault_store *fs, const char *what, const char *op,
		      const char *coll, const char *id)
{
	char detail[300];

	if (!fs->plan || !fs->plan->on_fault)
		return;
	snprintf(detail, sizeof(detail), "%s %s/%s", op, coll, id ? id : "*");
	fs->plan->on_fault(fs->plan->arg, fs->name, what, detail);
}

/* Before a call: 1 and *rc set when the call must fail without reaching the inner store. */
static int fs_pre(struct fault_store *fs, const char *op, const char *coll, const char *id,
		  int *rc, struct ecom_err *err)
{
	if (fault_crashpoint_enter(fs->cp)) {
		*rc = ecom_err_set(err, ECOM_UNAVAILABLE, "%s: crashed", fs->name);
		return 1;
	}
	if (fault_draw(fs->plan, fs->plan ? fs->plan->store_error : 0)) {
		fs_report(fs, "store_error", op, coll, id);
		*rc = ecom_err_set(err, ECOM_UNAVAILABLE, "injected store error");
		fault_crashpoint_leave(fs->cp);
		return 1;
	}
	return 0;
}

/* After a write the inner store applied: maybe tell the caller it is ambiguous. */
static int fs_post_write(struct fault_store *fs, int rc, const char *op, const char *coll,
			 const char *id, struct ecom_err *err)
{
	if (rc == ECOM_OK && fault_draw(fs->plan, fs->plan ? fs->plan->store_ambiguous : 0)) {
		fs_report(fs, "store_ambiguous", op, coll, id);
		rc = ecom_err_set(err, ECOM_AMBIGUOUS, "injected ambiguous commit (applied)");
	}
	fault_crashpoint_leave(fs->cp);
	return rc;
}

/* get and get_view: the same faults (a view is a get to the fault plan). */
static int fs_get_as(struct store *s, const char *coll, const char *id, json_t **out,
		     struct ecom_err *err, int view)
{
	struct fault_store *fs = (struct fault_store *)s;
	int rc;

	if (fs_pre(fs, "get", coll, id, &rc, err))
		return rc;
	rc = view ? store_get_view(fs->inner, coll, id, out, err)
		  : store_get(fs->inner, coll, id, out, err);
	fault_crashpoint_leave(fs->cp);
	return rc;
}

static int fs_get(struct store *s, const char *coll, const char *id, json_t **out,
		  struct ecom_err *err)
{
	return fs_get_as(s, coll, id, out, err, 0);
}

static int fs_get_view(struct store *s, const char *coll, const char *id, json_t **out,
		       struct ecom_err *err)
{
	return fs_get_as(s, coll, id, out, err, 1);
}

static int fs_insert(struct store *s, const char *coll, json_t *doc, struct ecom_err *err)
{
	struct fault_store *fs = (struct fault_store *)s;
	const char *id = jsonx_str(doc, "_id");
	int rc;

	if (fs_pre(fs, "insert", coll, id, &rc, err))
		return rc;
	/* the caller's store_insert checked the document already: straight to the inner op */
	rc = fs->inner->ops->insert(fs->inner, coll, doc, err);
	return fs_post_write(fs, rc, "insert", coll, id, err);
}

static int fs_replace(struct store *s, const char *coll, json_t *doc, int64_t expected_version,
		      struct ecom_err *err)
{
	struct fault_store *fs = (struct fault_store *)s;
	const char *id = jsonx_str(doc, "_id");
	int rc;

	if (fs_pre(fs, "replace", coll, id, &rc, err))
		return rc;
	/* the caller's store_replace checked the document already: straight to the inner op */
	rc = fs->inner->ops->replace(fs->inner, coll, doc, expected_version, err);
	return fs_post_write(fs, rc, "replace", coll, id, err);
}

static int fs_find(struct store *s, const char *coll, const struct store_query *q,
		   json_t **out, struct ecom_err *err)
{
	struct fault_store *fs = (struct fault_store *)s;
	int rc;

	if (fs_pre(fs, "find", coll, NULL, &rc, err))
		return rc;
	rc = store_find(fs->inner, coll, q, out, err);
	fault_crashpoint_leave(fs->cp);
	return rc;
}

static int fs_remove(struct store *s, const char *coll, const char *id, struct ecom_err *err)
{
	struct fault_store *fs = (struct fault_store *)s;
	int rc;

	if (fs_pre(fs, "remove", coll, id, &rc, err))
		return rc;
	rc = store_remove(fs->inner, coll, id, err);
	fault_crashpoint_leave(fs->cp);
	return rc;
}

static void fs_destroy(struct store *s)
{
	struct fault_store *fs = (struct fault_store *)s;

	if (fs->owns_inner)
		store_destroy(fs->inner);
	free(fs);
}

static const struct store_ops fault_store_ops = {
	.name = "fault",
	.get = fs_get,
	.get_view = fs_get_view,
	.insert = fs_insert,
	.replace = fs_replace,
	.find = fs_find,
	.remove = fs_remove,
	.destroy = fs_destroy,
};

struct store *fault_store_new(struct store *inner, int owns_inner, struct fault_plan *plan,
			      struct fault_crashpoint *cp, const char *name)
{
	struct fault_store *fs = ecom_xcalloc(1, sizeof(*fs));

	ECOM_ASSERT(inner && name);
	fs->base.ops = &fault_store_ops;
	fs->inner = inner;
	fs->owns_inner = owns_inner;
	fs->plan = plan;
	fs->cp = cp;
	snprintf(fs->name, sizeof(fs->name), "%s", name);
	return &fs->base;
}
