/* read_model_query.c — what the read model answers: projections and dead letters read from
 * the attached runtime's store (bounded lists, newest first), dashboard counts, the replay
 * record of a dead letter, and change notification after each committed projection change. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "event/jsonx.h"
#include "read_model_internal.h"

/* The runtime's bookkeeping and our own, never shown on the wire. */
static const char *const rm_hidden_keys[] = {
	"version", "inbox", "outbox", "outbox_n", "outbox_at", "wake_at", "outbox_due", "wake_due",
	"last_event_id",
};

static json_t *rm_strip(const json_t *doc)
{
	json_t *w = json_deep_copy(doc);

	ECOM_ASSERT(json_is_object(w));
	for (size_t i = 0; i < ECOM_ARRAY_LEN(rm_hidden_keys); i++)
		json_object_del(w, rm_hidden_keys[i]);
	return w;
}

json_t *read_model_projection_to_wire(const json_t *doc)
{
	return rm_strip(doc);
}

static struct store *rm_store(struct read_model *rm)
{
	ECOM_ASSERT(rm && rm->rt);
	return runtime_store(rm->rt);
}

static size_t rm_limit(size_t limit)
{
	if (limit == 0)
		return READ_MODEL_LIST_DEFAULT;
	return limit > READ_MODEL_LIST_MAX ? READ_MODEL_LIST_MAX : limit;
}

static int rm_get(struct read_model *rm, const char *coll, const char *what, const char *id,
		  json_t **out, struct ecom_err *err)
{
	json_t *doc = NULL;
	int rc;

	ECOM_ASSERT(out);
	*out = NULL;
	if (!id || !id[0])
		return ecom_err_set(err, ECOM_NOT_FOUND, "%s not found", what);
	rc = store_get(rm_store(rm), coll, id, &doc, err);
	if (rc == ECOM_NOT_FOUND)
		return ecom_err_set(err, ECOM_NOT_FOUND, "%s %.128s not found", what, id);
	if (rc != ECOM_OK)
		return rc;
	*out = rm_strip(doc);
	json_decref(doc);
	return ECOM_OK;
}

int read_model_get(struct read_model *rm, const char *id, json_t **out, struct ecom_err *err)
{
	return rm_get(rm, READ_MODEL_PROJECTIONS, "order", id, out, err);
}

int read_model_dlq_get(struct read_model *rm, const char *id, json_t **out,
		       struct ecom_err *err)
{
	return rm_get(rm, READ_MODEL_DEAD_LETTERS, "dead letter", id, out, err);
}

/* Runs q on coll, keeps the documents matching field == value (if field is non-NULL),
 * strips them, at most limit. */
static int rm_find(struct read_model *rm, const char *coll, struct store_query *q,
		   const char *field, const char *value, size_t limit, json_t **out,
		   struct ecom_err *err)
{
	json_t *found = NULL, *doc;
	size_t i;
	int rc;

	*out = NULL;
	rc = store_find(rm_store(rm), coll, q, &found, err);
	if (rc != ECOM_OK)
		return rc;
	*out = json_array();
	json_array_foreach(found, i, doc) {
		const char *v = field ? jsonx_str(doc, field) : NULL;

		if (json_array_size(*out) >= limit)
			break;
		if (field && (!v || strcmp(v, value) != 0))
			continue;
		ECOM_ASSERT(json_array_append_new(*out, rm_strip(doc)) == 0);
	}
	json_decref(found);
	return ECOM_OK;
}

int read_model_list(struct read_model *rm, const char *status, size_t limit, json_t **out,
		    struct ecom_err *err)
{
	struct store_query q = {
		.op = status ? STORE_EQ : STORE_ALL,
		.field = status ? "status" : NULL,
		.value = status ? json_string(status) : NULL,
		.sort_field = "updated_us",
		.descending = 1,
		.limit = rm_limit(limit),
	};
	int rc;

	ECOM_ASSERT(out);
	rc = rm_find(rm, READ_MODEL_PROJECTIONS, &q, NULL, NULL, rm_limit(limit), out, err);
	json_decref(q.value);
	return rc;
}

int read_model_dlq_list(struct read_model *rm, const char *topic, const char *order_id,
			size_t limit, json_t **out, struct ecom_err *err)
{
	/* The store filters on one field; a second filter is applied here, so then the store
	 * query is unlimited and the limit applies after filtering. */
	struct store_query q = {
		.op = topic || order_id ? STORE_EQ : STORE_ALL,
		.field = topic ? "topic" : order_id ? "orderId" : NULL,
		.value = topic ? json_string(topic) : order_id ? json_string(order_id) : NULL,
		.sort_field = "received_us",
		.descending = 1,
		.limit = topic && order_id ? 0 : rm_limit(limit),
	};
	int rc;

	ECOM_ASSERT(out);
	rc = rm_find(rm, READ_MODEL_DEAD_LETTERS, &q, topic && order_id ? "orderId" : NULL,
		     order_id, rm_limit(limit), out, err);
	json_decref(q.value);
	return rc;
}

/* ---- dashboard counts -------------------------------------------------------------- */

static const char *const rm_statuses[] = {
	"CREATED",	  "RETRYING",	       "INVENTORY_RESERVED", "INVENTORY_FAILED",
	"PAYMENT_AUTHORIZED", "PAYMENT_FAILED", "SHIPPING_FAILED",  "SHIPPED",
	"CANCELLED",
};

static int rm_count(struct read_model *rm, const char *coll, json_t **docs,
		    struct ecom_err *err)
{
	struct store_query q = { .op = STORE_ALL };

	return store_find(rm_store(rm), coll, &q, docs, err);
}

int read_model_stats(struct read_model *rm, json_t **out, struct ecom_err *err)
{
	json_t *orders = NULL, *dead = NULL, *by, *doc;
	size_t i;
	int rc;

	ECOM_ASSERT(out);
	*out = NULL;
	rc = rm_count(rm, READ_MODEL_PROJECTIONS, &orders, err);
	if (rc != ECOM_OK)
		goto out;
	rc = rm_count(rm, READ_MODEL_DEAD_LETTERS, &dead, err);
	if (rc != ECOM_OK)
		goto out;
	by = json_object();
	for (i = 0; i < ECOM_ARRAY_LEN(rm_statuses); i++)
		jsonx_set_int(by, rm_statuses[i], 0);
	json_array_foreach(orders, i, doc) {
		const char *s = jsonx_str_or(doc, "status", "UNKNOWN");

		jsonx_set_int(by, s, jsonx_int_or(by, s, 0) + 1);
	}
	*out = json_object();
	jsonx_set_int(*out, "orders", (int64_t)json_array_size(orders));
	jsonx_set_new(*out, "byStatus", by);
	jsonx_set_int(*out, "deadLetters", (int64_t)json_array_size(dead));
out:
	json_decref(orders);
	json_decref(dead);
	return rc;
}

/* ---- replays ----------------------------------------------------------------------- */

struct rm_replay_cmd {
	const char *event_id;
	struct ecom_err err;
};

static int rm_replay_fn(void *arg, struct svc_ctx *ctx, json_t **state)
{
	struct rm_replay_cmd *c = arg;
	json_t *replays, *r;
	char iso[25];

	if (!*state)
		return ecom_err_set(&c->err, ECOM_NOT_FOUND, "dead letter not found");
	replays = jsonx_own(*state, "replays"); /* copy on write (store.h) */
	if (!json_is_array(replays)) {
		replays = json_array();
		jsonx_set_new(*state, "replays", replays);
	}
	clock_format_iso(svc_wall_ms(ctx), iso);
	r = json_object();
	jsonx_set_str(r, "at", iso);
	jsonx_set_int(r, "atUs", svc_now_us(ctx));
	jsonx_set_str(r, "eventId", c->event_id);
	ECOM_ASSERT(json_array_append_new(replays, r) == 0);
	while (json_array_size(replays) > READ_MODEL_REPLAYS_MAX)
		json_array_remove(replays, 0);
	jsonx_set_int(*state, "replayed", jsonx_int_or(*state, "replayed", 0) + 1);
	return ECOM_OK;
}

int read_model_dlq_mark_replayed(struct read_model *rm, const char *id, const char *event_id,
				 struct ecom_err *err)
{
	struct rm_replay_cmd cmd = { .event_id = event_id };
	int rc;

	ECOM_ASSERT(rm && rm->rt);
	if (!id || !id[0] || strlen(id) >= SVC_ID_MAX)
		return ecom_err_set(err, ECOM_NOT_FOUND, "dead letter not found");
	rc = runtime_exec(rm->rt, READ_MODEL_DEAD_LETTERS, id, rm_replay_fn, &cmd, err);
	if (rc == ECOM_NOT_FOUND)
		ecom_err_set(err, ECOM_NOT_FOUND, "dead letter %.128s not found", id);
	return rc;
}

/* ---- change notification ----------------------------------------------------------- */

void read_model_set_listener(struct read_model *rm, read_model_listener_fn fn, void *arg)
{
	ECOM_ASSERT(rm);
	rm->listener = fn;
	rm->listener_arg = arg;
}

void read_model_on_commit(struct read_model *rm, const char *collection, const json_t *doc)
{
	const char *last = jsonx_str(doc, "last_event_id");
	json_t *wire, *tl, *e, *entry = NULL;
	size_t i;

	if (!rm->listener || !last || strcmp(collection, READ_MODEL_PROJECTIONS) != 0)
		return;
	wire = rm_strip(doc);
	tl = json_object_get(wire, "timeline");
	json_array_foreach(tl, i, e) {
		const char *id = jsonx_str(e, "eventId");

		if (id && strcmp(id, last) == 0) {
			entry = e;
			break;
		}
	}
	if (entry)
		rm->listener(rm->listener_arg, wire, entry);
	json_decref(wire);
}

static void rm_obs_on_commit(void *arg, struct runtime *rt, const char *collection,
			     const json_t *doc)
{
	(void)rt;
	read_model_on_commit(arg, collection, doc);
}

void read_model_observer(struct read_model *rm, struct runtime_observer *obs)
{
	ECOM_ASSERT(rm && obs);
	memset(obs, 0, sizeof(*obs));
	obs->arg = rm;
	obs->on_commit = rm_obs_on_commit;
}
