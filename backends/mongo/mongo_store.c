/* mongo_store.c — the store interface over a mongoc_client_pool (the pooled client honours
 * serverSelectionTimeoutMS; the single client fails fast on a refused connection). Documents
 * cross as BSON built from jansson by hand: integers are int64 and come back as JSON integers,
 * never as extended JSON. Errors: a read that fails is UNAVAILABLE; a write is UNAVAILABLE only
 * when it certainly never reached the server or the server refused it, AMBIGUOUS otherwise. */
#include "backends/mongo/mongo_store.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MongoDB's own nesting limit; deeper documents are refused before sending. */
#define MONGO_DEPTH_MAX 100
#define MONGO_SERVER_SELECTION_MS_DEFAULT 5000
#define MONGO_SOCKET_TIMEOUT_MS_DEFAULT 10000
#define MONGO_INDEX_NAME_MAX 256

struct mongo_store {
	struct store base;
	mongoc_client_pool_t *pool;
	char *db;
};

/* One operation's borrowed client and collection handle. */
struct mongo_op {
	struct mongo_store *ms;
	mongoc_client_t *client;
	mongoc_collection_t *coll;
};

static const struct store_ops mongo_ops;

static struct mongo_store *mongo_of(struct store *s)
{
	ECOM_ASSERT(s && s->ops == &mongo_ops);
	return (struct mongo_store *)s;
}

static void mongo_op_begin(struct mongo_store *ms, const char *coll, struct mongo_op *op)
{
	op->ms = ms;
	op->client = mongoc_client_pool_pop(ms->pool);
	ECOM_ASSERT(op->client);
	op->coll = mongoc_client_get_collection(op->client, ms->db, coll);
}

static void mongo_op_end(struct mongo_op *op)
{
	mongoc_collection_destroy(op->coll);
	mongoc_client_pool_push(op->ms->pool, op->client);
}

/* ---- JSON <-> BSON ----------------------------------------------------------------------- */

static int mongo_append_json(bson_t *b, const char *key, json_t *v, int depth);

static int mongo_append_object(bson_t *b, json_t *obj, int depth)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		if (mongo_append_json(b, k, v, depth) != ECOM_OK)
			return ECOM_INVALID;
	}
	return ECOM_OK;
}

static int mongo_append_array(bson_t *b, json_t *arr, int depth)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		char buf[16];
		const char *key;

		bson_uint32_to_string((uint32_t)i, &key, buf, sizeof(buf));
		if (mongo_append_json(b, key, v, depth) != ECOM_OK)
			return ECOM_INVALID;
	}
	return ECOM_OK;
}

/* Appends v under key; integers always as int64 so they round-trip as integers. */
static int mongo_append_json(bson_t *b, const char *key, json_t *v, int depth)
{
	bson_t child;
	int rc = ECOM_OK;
	bool ok = true;

	if (depth >= MONGO_DEPTH_MAX)
		return ECOM_INVALID;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		ok = bson_append_document_begin(b, key, -1, &child);
		if (ok) {
			rc = mongo_append_object(&child, v, depth + 1);
			ok = bson_append_document_end(b, &child);
		}
		break;
	case JSON_ARRAY:
		ok = bson_append_array_begin(b, key, -1, &child);
		if (ok) {
			rc = mongo_append_array(&child, v, depth + 1);
			ok = bson_append_array_end(b, &child);
		}
		break;
	case JSON_STRING:
		ok = bson_append_utf8(b, key, -1, json_string_value(v), (int)json_string_length(v));
		break;
	case JSON_INTEGER:
		ok = bson_append_int64(b, key, -1, json_integer_value(v));
		break;
	case JSON_REAL:
		ok = bson_append_double(b, key, -1, json_real_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		ok = bson_append_bool(b, key, -1, json_is_true(v));
		break;
	case JSON_NULL:
		ok = bson_append_null(b, key, -1);
		break;
	}
	return ok && rc == ECOM_OK ? ECOM_OK : ECOM_INVALID; /* !ok: over BSON's size limit */
}

static json_t *mongo_json_from_iter(const bson_iter_t *it, int depth);

/* The value of a document or array at `it` as a JSON object or array. */
static json_t *mongo_json_container(const bson_iter_t *it, int is_array, int depth)
{
	json_t *out = is_array ? json_array() : json_object();
	bson_iter_t child;

	if (depth >= MONGO_DEPTH_MAX || !bson_iter_recurse(it, &child))
		goto fail;
	while (bson_iter_next(&child)) {
		json_t *v = mongo_json_from_iter(&child, depth + 1);

		if (!v)
			goto fail;
		if (is_array)
			json_array_append_new(out, v);
		else
			json_object_set_new(out, bson_iter_key(&child), v);
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* Types ecom never writes are still read sensibly (ObjectId and decimals as strings, dates
 * as epoch ms); anything stranger becomes null rather than failing the whole document. */
static json_t *mongo_json_from_iter(const bson_iter_t *it, int depth)
{
	uint32_t len = 0;
	const char *s;
	char buf[BSON_DECIMAL128_STRING > 25 ? BSON_DECIMAL128_STRING : 25];
	bson_decimal128_t dec;

	switch (bson_iter_type(it)) {
	case BSON_TYPE_DOUBLE:
		return json_real(bson_iter_double(it));
	case BSON_TYPE_UTF8:
		s = bson_iter_utf8(it, &len);
		return json_stringn(s, len);
	case BSON_TYPE_DOCUMENT:
		return mongo_json_container(it, 0, depth);
	case BSON_TYPE_ARRAY:
		return mongo_json_container(it, 1, depth);
	case BSON_TYPE_BOOL:
		return json_boolean(bson_iter_bool(it));
	case BSON_TYPE_INT32:
		return json_integer(bson_iter_int32(it));
	case BSON_TYPE_INT64:
		return json_integer(bson_iter_int64(it));
	case BSON_TYPE_DATE_TIME:
		return json_integer(bson_iter_date_time(it));
	case BSON_TYPE_OID:
		bson_oid_to_string(bson_iter_oid(it), buf);
		return json_string(buf);
	case BSON_TYPE_DECIMAL128:
		bson_iter_decimal128(it, &dec);
		bson_decimal128_to_string(&dec, buf);
		return json_string(buf);
	default:
		return json_null();
	}
}

static json_t *mongo_json_from_doc(const bson_t *doc)
{
	json_t *out = json_object();
	bson_iter_t it;

	if (!bson_iter_init(&it, doc))
		goto fail;
	while (bson_iter_next(&it)) {
		json_t *v = mongo_json_from_iter(&it, 1);

		if (!v)
			goto fail;
		json_object_set_new(out, bson_iter_key(&it), v);
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* ---- errors ------------------------------------------------------------------------------ */

/* The server's error codes that mean "this document is not acceptable". */
static int mongo_server_invalid(uint32_t code)
{
	return code == 2 /* BadValue */ || code == 10334 /* BSONObjectTooLarge */ ||
	       code == 17419 || code == 17420 /* document too large */ ||
	       code == 52 /* DollarPrefixedFieldName */ || code == 57 /* InvalidDBRef */;
}

/* Classifies a failed write. Never sent (no server selected, no connection) or answered with
 * an error by the server: not applied. Lost while in flight, or a write-concern error (applied
 * on the primary, not confirmed): may be applied. */
static int mongo_write_rc(const bson_error_t *e)
{
	if (e->code == MONGOC_ERROR_DUPLICATE_KEY)
		return ECOM_CONFLICT;
	switch (e->domain) {
	case MONGOC_ERROR_SERVER_SELECTION:
		return ECOM_UNAVAILABLE;
	case MONGOC_ERROR_STREAM:
		return e->code == MONGOC_ERROR_STREAM_CONNECT ||
				       e->code == MONGOC_ERROR_STREAM_NAME_RESOLUTION ||
				       e->code == MONGOC_ERROR_STREAM_NOT_ESTABLISHED
			       ? ECOM_UNAVAILABLE
			       : ECOM_AMBIGUOUS;
	case MONGOC_ERROR_SERVER:
		return mongo_server_invalid(e->code) ? ECOM_INVALID : ECOM_UNAVAILABLE;
	case MONGOC_ERROR_BSON:
		return ECOM_INVALID;
	case MONGOC_ERROR_COMMAND:
		return e->code == MONGOC_ERROR_COMMAND_INVALID_ARG ? ECOM_INVALID : ECOM_AMBIGUOUS;
	default:
		return ECOM_AMBIGUOUS;
	}
}

static int mongo_fail(struct ecom_err *err, int rc, const char *what, const char *coll,
		      const bson_error_t *e)
{
	return ecom_err_set(err, rc, "mongo: %s %s: %s (domain %u, code %u)", what, coll,
			    e->message, e->domain, e->code);
}

/* ---- operations -------------------------------------------------------------------------- */

/* Runs a find; *out = array of documents. Any failure is UNAVAILABLE: reads change nothing. */
static int mongo_run_find(struct mongo_store *ms, const char *coll, const bson_t *filter,
			  const bson_t *opts, json_t **out, struct ecom_err *err)
{
	struct mongo_op op;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t e;
	json_t *arr = json_array();
	int rc = ECOM_OK;

	mongo_op_begin(ms, coll, &op);
	cur = mongoc_collection_find_with_opts(op.coll, filter, opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		json_t *j = mongo_json_from_doc(doc);

		if (!j) {
			rc = ecom_err_set(err, ECOM_INVALID, "mongo: find %s: unreadable document",
					  coll);
			goto out;
		}
		json_array_append_new(arr, j);
	}
	if (mongoc_cursor_error(cur, &e))
		rc = mongo_fail(err, ECOM_UNAVAILABLE, "find", coll, &e);
out:
	mongoc_cursor_destroy(cur);
	mongo_op_end(&op);
	if (rc == ECOM_OK)
		*out = arr;
	else
		json_decref(arr);
	return rc;
}

static int mongo_get(struct store *s, const char *coll, const char *id, json_t **out,
		     struct ecom_err *err)
{
	struct mongo_store *ms = mongo_of(s);
	bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
	bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
	json_t *docs = NULL;
	int rc;

	rc = mongo_run_find(ms, coll, filter, opts, &docs, err);
	if (rc == ECOM_OK && json_array_size(docs) == 0)
		rc = ECOM_NOT_FOUND;
	if (rc == ECOM_OK)
		*out = json_incref(json_array_get(docs, 0));
	json_decref(docs);
	bson_destroy(filter);
	bson_destroy(opts);
	return rc;
}

static int mongo_insert(struct store *s, const char *coll, json_t *doc, struct ecom_err *err)
{
	struct mongo_store *ms = mongo_of(s);
	struct mongo_op op;
	bson_t b = BSON_INITIALIZER, reply;
	bson_error_t e;
	int rc;

	rc = mongo_append_object(&b, doc, 0);
	if (rc != ECOM_OK) {
		bson_destroy(&b);
		return ecom_err_set(err, ECOM_INVALID, "mongo: insert %s: not storable as BSON",
				    coll);
	}
	mongo_op_begin(ms, coll, &op);
	if (!mongoc_collection_insert_one(op.coll, &b, NULL, &reply, &e))
		rc = mongo_fail(err, mongo_write_rc(&e), "insert", coll, &e);
	bson_destroy(&reply);
	mongo_op_end(&op);
	bson_destroy(&b);
	return rc;
}

static int64_t mongo_reply_count(const bson_t *reply, const char *field)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, reply, field) && BSON_ITER_HOLDS_NUMBER(&it))
		return bson_iter_as_int64(&it);
	return -1;
}

/* After a CAS that matched nothing: CONFLICT if the document exists, else NOT_FOUND. */
static int mongo_replace_missed(struct mongo_store *ms, const char *coll, const char *id,
				int64_t expected_version, struct ecom_err *err)
{
	json_t *cur = NULL;
	int rc = mongo_get(&ms->base, coll, id, &cur, err);

	if (rc == ECOM_OK)
		rc = ecom_err_set(err, ECOM_CONFLICT,
				  "mongo: replace %s/%s: version is %lld, expected %lld", coll, id,
				  (long long)json_integer_value(json_object_get(cur, "version")),
				  (long long)expected_version);
	else if (rc == ECOM_NOT_FOUND)
		ecom_err_set(err, rc, "mongo: replace %s/%s: no such document", coll, id);
	json_decref(cur);
	return rc;
}

static int mongo_replace(struct store *s, const char *coll, json_t *doc, int64_t expected_version,
			 struct ecom_err *err)
{
	struct mongo_store *ms = mongo_of(s);
	const char *id = json_string_value(json_object_get(doc, "_id"));
	bson_t *sel = BCON_NEW("_id", BCON_UTF8(id), "version", BCON_INT64(expected_version));
	bson_t b = BSON_INITIALIZER, reply;
	struct mongo_op op;
	bson_error_t e;
	int64_t matched = 0;
	int rc;

	rc = mongo_append_object(&b, doc, 0);
	if (rc != ECOM_OK) {
		rc = ecom_err_set(err, ECOM_INVALID, "mongo: replace %s: not storable as BSON",
				  coll);
		goto out;
	}
	mongo_op_begin(ms, coll, &op);
	if (mongoc_collection_replace_one(op.coll, sel, &b, NULL, &reply, &e))
		matched = mongo_reply_count(&reply, "matchedCount");
	else
		rc = mongo_fail(err, mongo_write_rc(&e), "replace", coll, &e);
	bson_destroy(&reply);
	mongo_op_end(&op);
	/* matched 0: nothing was written, so asking again is safe. */
	if (rc == ECOM_OK && matched <= 0)
		rc = mongo_replace_missed(ms, coll, id, expected_version, err);
out:
	bson_destroy(&b);
	bson_destroy(sel);
	return rc;
}

/* {field: value}, {field: {$gte: lo, $lte: hi}} (both open: {$exists: true}), or {}. */
static int mongo_filter(const struct store_query *q, bson_t *filter)
{
	bson_t cond;
	int rc = ECOM_OK;

	switch (q->op) {
	case STORE_EQ:
		ECOM_ASSERT(q->field && q->value);
		return mongo_append_json(filter, q->field, q->value, 0);
	case STORE_RANGE:
		ECOM_ASSERT(q->field);
		bson_append_document_begin(filter, q->field, -1, &cond);
		if (q->lo)
			rc = mongo_append_json(&cond, "$gte", q->lo, 0);
		if (q->hi && rc == ECOM_OK)
			rc = mongo_append_json(&cond, "$lte", q->hi, 0);
		if (!q->lo && !q->hi)
			BSON_APPEND_BOOL(&cond, "$exists", true);
		bson_append_document_end(filter, &cond);
		return rc;
	case STORE_ALL:
		return ECOM_OK;
	}
	return ECOM_INVALID;
}

/* sort: {sort_field: ±1, _id: 1} (ties by _id ascending either way; a missing field sorts as
 * null, i.e. first ascending, as store.h says), or {_id: 1}; limit when non-zero. */
static void mongo_find_opts(const struct store_query *q, bson_t *opts)
{
	bson_t sort;

	bson_append_document_begin(opts, "sort", -1, &sort);
	if (q->sort_field && strcmp(q->sort_field, "_id") != 0) {
		BSON_APPEND_INT32(&sort, q->sort_field, q->descending ? -1 : 1);
		BSON_APPEND_INT32(&sort, "_id", 1);
	} else {
		BSON_APPEND_INT32(&sort, "_id", q->sort_field && q->descending ? -1 : 1);
	}
	bson_append_document_end(opts, &sort);
	if (q->limit > 0)
		BSON_APPEND_INT64(opts, "limit", (int64_t)q->limit);
}

static int mongo_find(struct store *s, const char *coll, const struct store_query *q,
		      json_t **out, struct ecom_err *err)
{
	struct mongo_store *ms = mongo_of(s);
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
	int rc;

	rc = mongo_filter(q, &filter);
	if (rc != ECOM_OK) {
		rc = ecom_err_set(err, ECOM_INVALID, "mongo: find %s: bad query value", coll);
		goto out;
	}
	mongo_find_opts(q, &opts);
	rc = mongo_run_find(ms, coll, &filter, &opts, out, err);
out:
	bson_destroy(&filter);
	bson_destroy(&opts);
	return rc;
}

static int mongo_remove(struct store *s, const char *coll, const char *id, struct ecom_err *err)
{
	struct mongo_store *ms = mongo_of(s);
	bson_t *sel = BCON_NEW("_id", BCON_UTF8(id));
	struct mongo_op op;
	bson_t reply;
	bson_error_t e;
	int rc = ECOM_OK;

	mongo_op_begin(ms, coll, &op);
	if (!mongoc_collection_delete_one(op.coll, sel, NULL, &reply, &e))
		rc = mongo_fail(err, mongo_write_rc(&e), "remove", coll, &e);
	else if (mongo_reply_count(&reply, "deletedCount") <= 0)
		rc = ecom_err_set(err, ECOM_NOT_FOUND, "mongo: remove %s/%s: no such document",
				  coll, id);
	bson_destroy(&reply);
	mongo_op_end(&op);
	bson_destroy(sel);
	return rc;
}

static void mongo_destroy(struct store *s)
{
	struct mongo_store *ms = mongo_of(s);

	if (ms->pool)
		mongoc_client_pool_destroy(ms->pool);
	free(ms->db);
	free(ms);
}

static const struct store_ops mongo_ops = {
	.name = "mongo",
	.get = mongo_get,
	.insert = mongo_insert,
	.replace = mongo_replace,
	.find = mongo_find,
	.remove = mongo_remove,
	.destroy = mongo_destroy,
};

int mongo_store_ensure_index(struct store *s, const char *coll, const char *field)
{
	struct mongo_store *ms = mongo_of(s);
	char name[MONGO_INDEX_NAME_MAX];
	struct mongo_op op;
	bson_t *cmd;
	bson_t reply;
	bson_error_t e;
	int rc = ECOM_OK;

	ECOM_ASSERT(coll && field);
	if (snprintf(name, sizeof(name), "%s_1", field) >= (int)sizeof(name))
		return ECOM_INVALID;
	cmd = BCON_NEW("createIndexes", BCON_UTF8(coll), "indexes", "[", "{", "key", "{", field,
		       BCON_INT32(1), "}", "name", BCON_UTF8(name), "}", "]");
	mongo_op_begin(ms, coll, &op);
	if (!mongoc_client_write_command_with_opts(op.client, ms->db, cmd, NULL, &reply, &e))
		rc = e.domain == MONGOC_ERROR_SERVER && mongo_server_invalid(e.code)
			     ? ECOM_INVALID
			     : ECOM_UNAVAILABLE;
	bson_destroy(&reply);
	mongo_op_end(&op);
	bson_destroy(cmd);
	return rc;
}

/* The driver logs to stderr at every level, including DEBUG from its monitor thread. Keep
 * warnings and worse, minus one FerretDB-only notice: it has no `endSessions` command, which
 * the pool sends on destroy (sessions simply expire there). */
static void mongo_log(mongoc_log_level_t level, const char *domain, const char *message,
		      void *data)
{
	(void)data;
	if (level > MONGOC_LOG_LEVEL_WARNING || strstr(message, "endSessions"))
		return;
	fprintf(stderr, "mongoc %s: %s: %s\n", mongoc_log_level_str(level), domain, message);
}

static void mongo_global_init(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	mongoc_init();
	mongoc_log_set_handler(mongo_log, NULL);
	atexit(mongoc_cleanup);
}

struct store *mongo_store_new(const char *uri, const char *db_name, struct ecom_err *err)
{
	struct mongo_store *ms = NULL;
	mongoc_uri_t *u;
	bson_error_t e;
	const char *db;

	ECOM_ASSERT(uri);
	mongo_global_init();
	u = mongoc_uri_new_with_error(uri, &e);
	if (!u) {
		ecom_err_set(err, ECOM_INVALID, "mongo: bad URI: %s", e.message);
		goto out;
	}
	if (!mongoc_uri_has_option(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
					       MONGO_SERVER_SELECTION_MS_DEFAULT);
	if (!mongoc_uri_has_option(u, MONGOC_URI_SOCKETTIMEOUTMS))
		mongoc_uri_set_option_as_int32(u, MONGOC_URI_SOCKETTIMEOUTMS,
					       MONGO_SOCKET_TIMEOUT_MS_DEFAULT);
	db = db_name ? db_name : mongoc_uri_get_database(u);
	ms = ecom_xcalloc(1, sizeof(*ms));
	ms->base.ops = &mongo_ops;
	ms->db = ecom_xstrdup(db ? db : "ecom");
	ms->pool = mongoc_client_pool_new(u);
	if (!ms->pool) {
		ecom_err_set(err, ECOM_INVALID, "mongo: cannot create a client pool for %s", uri);
		mongo_destroy(&ms->base);
		ms = NULL;
		goto out;
	}
	mongoc_client_pool_set_error_api(ms->pool, MONGOC_ERROR_API_VERSION_2);
	mongoc_client_pool_set_appname(ms->pool, "ecom");
out:
	if (u)
		mongoc_uri_destroy(u);
	return ms ? &ms->base : NULL;
}
