/* mongo_store.h — struct store over mongo-c-driver (1.23), for MongoDB 6/7 and FerretDB v1.
 * One collection per store collection, one document per aggregate; compare-and-swap is
 * replaceOne({_id, version: expected}). Only plain CRUD and createIndexes are used: no
 * transactions, change streams or aggregation, so FerretDB and a standalone mongod agree. */
#ifndef ECOM_MONGO_STORE_H
#define ECOM_MONGO_STORE_H

#include "core/store.h"

/* uri: a MongoDB connection string ("mongodb://127.0.0.1:27017"). db_name: the database, or
 * NULL for the URI's own database, else "ecom". Connects lazily, so this fails only on a bad
 * URI (ECOM_INVALID); an unreachable server shows up per operation. Unless the URI says
 * otherwise, serverSelectionTimeoutMS is 5000 and socketTimeoutMS 10000, so no operation
 * blocks for minutes. */
struct store *mongo_store_new(const char *uri, const char *db_name, struct ecom_err *err);

/* Creates an ascending (non-unique) index on coll.field, for store_find on that field.
 * Idempotent. ECOM_OK, ECOM_UNAVAILABLE, ECOM_INVALID. s must come from mongo_store_new. */
int mongo_store_ensure_index(struct store *s, const char *coll, const char *field);

#endif
