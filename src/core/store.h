/* store.h — the document store interface (MongoDB semantics, no transactions).
 * Documents are jansson JSON objects with a string "_id" and an integer "version".
 * The single atomic primitive is compare-and-swap replace on (_id, version): a service
 * commits its aggregate state, inbox and outbox in one such write (DESIGN.md §3).
 * Implementations: backends/mongo (mongo-c-driver), sim/mem_store (in-memory),
 * sim/fault_store (wraps any store; injects errors and ambiguous commits).
 * Ownership: a document passed to insert or replace is handed over for reading: the store
 * may keep a reference to it instead of a copy (sim/mem_store does), so the caller must not
 * modify it, or anything inside it, afterwards — build a new document for the next write
 * (json_copy is enough when only top-level keys change). The caller still owns its own
 * reference. Documents and arrays returned through `json_t **out` are new references the
 * caller must json_decref. A found array and a document's top level are the caller's to
 * change; what is inside a got document may be shared with the store (sim/mem_store shares
 * it): change a nested object or array in place only after taking it with jsonx_own /
 * jsonx_own_at / jsonx_own_deep (event/jsonx.h, copy on write); replacing a member is
 * always fine. Debug builds (ECOM_CHECK_HANDOFF) catch a modification after handoff, and
 * so a nested change made without taking the member first. Nothing blocks longer than the
 * backend's configured timeout. */
#ifndef ECOM_STORE_H
#define ECOM_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ecom.h"

enum store_op {
	STORE_EQ,    /* field == value */
	STORE_RANGE, /* lo <= field <= hi; either bound may be NULL (open) */
	STORE_ALL    /* every document (still sorted and limited) */
};

/* find: top-level field only; values are JSON integers or strings (never mixed in one
 * field). Documents lacking the field never match EQ/RANGE. Results are sorted by
 * sort_field (then _id as tie-break; documents lacking sort_field sort first ascending),
 * or by _id when sort_field is NULL; at most `limit` (0 = no limit). */
struct store_query {
	enum store_op op;
	const char *field;
	json_t *value; /* EQ */
	json_t *lo;    /* RANGE */
	json_t *hi;    /* RANGE */
	const char *sort_field;
	int descending;
	size_t limit;
};

struct store;

struct store_ops {
	const char *name;
	/* ECOM_OK and *out = the document (top level new; members may be shared, see above);
	 * ECOM_NOT_FOUND; ECOM_UNAVAILABLE. */
	int (*get)(struct store *s, const char *coll, const char *id, json_t **out,
		   struct ecom_err *err);
	/* Optional (NULL: store_get_view calls get). As get, but *out may be the stored
	 * document itself: read-only, its top level included, for a caller that only reads it
	 * or builds its own new top level from its members (which are then shared, as above).
	 * Saves the top-level copy. */
	int (*get_view)(struct store *s, const char *coll, const char *id, json_t **out,
			struct ecom_err *err);
	/* Inserts doc (must have "_id" and "version"). ECOM_CONFLICT if the _id exists;
	 * ECOM_UNAVAILABLE (not applied); ECOM_AMBIGUOUS (may be applied). */
	int (*insert)(struct store *s, const char *coll, json_t *doc, struct ecom_err *err);
	/* Replaces the document with doc's "_id" iff its stored version == expected_version.
	 * doc's "version" must be expected_version + 1. ECOM_CONFLICT on version mismatch,
	 * ECOM_NOT_FOUND if absent, ECOM_UNAVAILABLE, ECOM_AMBIGUOUS. */
	int (*replace)(struct store *s, const char *coll, json_t *doc, int64_t expected_version,
		       struct ecom_err *err);
	/* *out = a new JSON array of document copies. ECOM_OK or ECOM_UNAVAILABLE. */
	int (*find)(struct store *s, const char *coll, const struct store_query *q, json_t **out,
		    struct ecom_err *err);
	/* Deletes by _id (administrative use: DLQ housekeeping, tests). ECOM_NOT_FOUND. */
	int (*remove)(struct store *s, const char *coll, const char *id, struct ecom_err *err);
	void (*destroy)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

static inline int store_get(struct store *s, const char *coll, const char *id, json_t **out,
			    struct ecom_err *err)
{
	ECOM_ASSERT(s && coll && id && out);
	*out = NULL;
	return s->ops->get(s, coll, id, out, err);
}
static inline int store_get_view(struct store *s, const char *coll, const char *id,
				 json_t **out, struct ecom_err *err)
{
	ECOM_ASSERT(s && coll && id && out);
	*out = NULL;
	return s->ops->get_view ? s->ops->get_view(s, coll, id, out, err)
				: s->ops->get(s, coll, id, out, err);
}
static inline int store_insert(struct store *s, const char *coll, json_t *doc,
			       struct ecom_err *err)
{
	ECOM_ASSERT(s && coll && json_is_object(doc));
	ECOM_ASSERT(json_is_string(json_object_get(doc, "_id")));
	ECOM_ASSERT(json_is_integer(json_object_get(doc, "version")));
	return s->ops->insert(s, coll, doc, err);
}
static inline int store_replace(struct store *s, const char *coll, json_t *doc,
				int64_t expected_version, struct ecom_err *err)
{
	ECOM_ASSERT(s && coll && json_is_object(doc));
	ECOM_ASSERT(json_is_string(json_object_get(doc, "_id")));
	ECOM_ASSERT(json_integer_value(json_object_get(doc, "version")) ==
		    expected_version + 1);
	return s->ops->replace(s, coll, doc, expected_version, err);
}
static inline int store_find(struct store *s, const char *coll, const struct store_query *q,
			     json_t **out, struct ecom_err *err)
{
	ECOM_ASSERT(s && coll && q && out);
	*out = NULL;
	return s->ops->find(s, coll, q, out, err);
}
static inline int store_remove(struct store *s, const char *coll, const char *id,
			       struct ecom_err *err)
{
	ECOM_ASSERT(s && coll && id);
	return s->ops->remove(s, coll, id, err);
}
static inline void store_destroy(struct store *s)
{
	if (s)
		s->ops->destroy(s);
}

#endif
