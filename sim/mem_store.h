/* mem_store.h — the in-memory document store (store.h semantics, no faults of its own).
 * Documents are deep-copied in and out; per-collection hash index with a fixed hash plus an
 * _id-sorted view, so every result and iteration order is a function of the data alone. */
#ifndef ECOM_SIM_MEM_STORE_H
#define ECOM_SIM_MEM_STORE_H

#include <jansson.h>
#include <stddef.h>

#include "core/store.h"

/* A new empty store; free with store_destroy(). Never fails (aborts on OOM). */
struct store *mem_store_new(void);

/* For invariant checkers and tests; s must come from mem_store_new(). */

/* Number of documents in coll (0 if the collection does not exist). */
size_t mem_store_count(struct store *s, const char *coll);
/* A new reference to the stored document itself, read-only (store.h's handoff check
 * applies), or NULL: a get without the copy, for checkers that only read. */
json_t *mem_store_view(struct store *s, const char *coll, const char *id);
/* mem_store_view and mem_store_foreach for readers of a few top-level fields: each
 * document has at least the named ones (a hot one is given whole; a cold one is decoded
 * for those alone, which is most of the cost of reading it). fields NULL: every field. */
json_t *mem_store_view_fields(struct store *s, const char *coll, const char *id,
			      const char *const *fields, size_t n_fields);
int mem_store_foreach_fields(struct store *s, const char *coll, const char *const *fields,
			     size_t n_fields, int (*fn)(void *arg, const json_t *doc), void *arg);
/* mem_store_foreach over only the documents that have (non-null) at least one of the
 * top-level fields, in the same _id order: O(those documents) through the field indexes. */
int mem_store_foreach_having(struct store *s, const char *coll, const char *const *fields,
			     size_t n_fields, int (*fn)(void *arg, const json_t *doc), void *arg);
/* Calls fn(arg, doc) for every document of coll in ascending _id order. doc is borrowed and
 * read-only; fn must not modify the store. A nonzero return from fn stops the walk and is
 * returned; otherwise 0. */
int mem_store_foreach(struct store *s, const char *coll,
		      int (*fn)(void *arg, const json_t *doc), void *arg);
/* Every collection (made after this call; call it before the first write) keeps an index on
 * the top-level field from its first document, instead of building it on the first find:
 * built late, an index has to decode every cold document once. For fields that will be
 * queried (the runtime's due markers). */
void mem_store_index_field(struct store *s, const char *field);
/* The same walk over the _ids alone (no document is read, so no cold one is decoded). */
int mem_store_foreach_id(struct store *s, const char *coll,
			 int (*fn)(void *arg, const char *id), void *arg);
/* *names = a new array of the collection names, sorted by strcmp; *n its length. The names
 * are borrowed from the store (valid until it changes); the caller frees only the array. */
int mem_store_collections(struct store *s, const char ***names, size_t *n);

#endif
