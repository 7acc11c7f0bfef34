/* read_model.c — the read model's svc_def and folds. A projection's status comes from the
 * OrderStatusChanged with the highest seq (CREATED before any, once OrderCreated is seen), so
 * arrival order never matters; its timeline holds each eventId once, sorted by (timestamp,
 * attempt, causal rank of the type, eventId). A dead letter becomes one document per original
 * message, keyed by the original's topic:partition:offset from the runtime's headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bugs.h"
#include "core/clock.h"
#include "event/jsonx.h"
#include "read_model_internal.h"

/* ---- the svc_def ------------------------------------------------------------------ */

static const enum event_type rm_types[] = {
	EV_ORDER_CREATED,	 EV_INVENTORY_RESERVED,	    EV_INVENTORY_FAILED,
	EV_PAYMENT_AUTHORIZED,	 EV_PAYMENT_FAILED,	    EV_ORDER_SHIPPED,
	EV_SHIPPING_FAILED,	 EV_PAYMENT_REFUNDED,	    EV_INVENTORY_RELEASED,
	EV_ORDER_STATUS_CHANGED, EV_RETRY_REQUESTED,	    EV_COMPENSATION_REQUESTED,
};
static const char *const rm_collections[] = { READ_MODEL_PROJECTIONS, READ_MODEL_DEAD_LETTERS };

/* "<topic>.dlq" for every topic some service consumes: every type but the dead letter. */
#define RM_TOPIC_MAX 96
static char rm_dlq_names[EV__COUNT][RM_TOPIC_MAX];
static const char *rm_dlq_topics[EV__COUNT];

static int rm_route(void *svc, const struct envelope *ev, struct svc_route *out);
static int rm_handle(void *svc, struct svc_ctx *ctx, json_t **state, const struct envelope *ev);

static struct svc_def rm_def = {
	.name = "read-model",
	.types = rm_types,
	.n_types = ECOM_ARRAY_LEN(rm_types),
	.collections = rm_collections,
	.n_collections = ECOM_ARRAY_LEN(rm_collections),
	.route = rm_route,
	.handle = rm_handle,
	.wake = NULL,
	.inbox_max = READ_MODEL_INBOX_MAX,
};

const struct svc_def *read_model_svc_def(void)
{
	size_t n = 0;

	if (rm_def.n_extra_topics > 0)
		return &rm_def;
	/* Built once, in type order, from the names event.c owns (no hand-copied strings). */
	for (int t = 0; t < EV__COUNT; t++) {
		if (t == EV_DEAD_LETTER)
			continue;
		event_dlq_topic(event_type_name((enum event_type)t), rm_dlq_names[n],
				sizeof(rm_dlq_names[n]));
		rm_dlq_topics[n] = rm_dlq_names[n];
		n++;
	}
	rm_def.extra_topics = rm_dlq_topics;
	rm_def.n_extra_topics = n;
	return &rm_def;
}

struct read_model *read_model_new(const struct read_model_config *cfg)
{
	struct read_model *rm = ecom_xcalloc(1, sizeof(*rm));

	if (cfg)
		rm->cfg = *cfg;
	return rm;
}

void read_model_free(struct read_model *rm)
{
	free(rm);
}

void read_model_attach(struct read_model *rm, struct runtime *rt)
{
	ECOM_ASSERT(rm);
	rm->rt = rt;
}

/* A header of the dead letter as text (the runtime writes strings; numbers are tolerated). */
static const char *rm_header(const struct envelope *ev, const char *key, char *buf, size_t cap)
{
	json_t *v = json_object_get(ev->headers, key);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return NULL;
}

/* "<original topic>:<partition>:<offset>"; 0 when the headers do not say. */
static int rm_dlq_id(const struct envelope *ev, char *out, size_t cap)
{
	char pb[24], ob[24];
	const char *t = rm_header(ev, RT_HDR_ORIGINAL_TOPIC, NULL, 0);
	const char *p = rm_header(ev, RT_HDR_ORIGINAL_PARTITION, pb, sizeof(pb));
	const char *o = rm_header(ev, RT_HDR_ORIGINAL_OFFSET, ob, sizeof(ob));
	int n;

	if (!t || !p || !o || !t[0])
		return 0;
	n = snprintf(out, cap, "%s:%s:%s", t, p, o);
	return n > 0 && (size_t)n < cap;
}

static int rm_route(void *svc, const struct envelope *ev, struct svc_route *out)
{
	const char *id;

	if (ev->type == EV_DEAD_LETTER) {
		out->collection = READ_MODEL_DEAD_LETTERS;
		/* A dead letter from a producer that wrote no position headers (the Node demo)
		 * is still kept, under its own eventId. */
		if (!rm_dlq_id(ev, out->id, sizeof(out->id)))
			snprintf(out->id, sizeof(out->id), "dlq:%.150s", ev->event_id);
		return ECOM_OK;
	}
	id = jsonx_str(ev->payload, "orderId");
	if (!id || !id[0] || strlen(id) >= sizeof(out->id))
		return ECOM_NOT_FOUND;
	out->collection = READ_MODEL_PROJECTIONS;
	snprintf(out->id, sizeof(out->id), "%s", id);
	return ECOM_OK;
}

static int rm_bug(struct read_model *rm, struct svc_ctx *ctx, uint32_t bug)
{
	return (rm->cfg.bugs & bug) || svc_bug(ctx, bug);
}

static void rm_touch(struct svc_ctx *ctx, json_t *st, const char *us_key, const char *iso_key)
{
	char iso[25];

	clock_format_iso(svc_wall_ms(ctx), iso);
	jsonx_set_int(st, us_key, svc_now_us(ctx));
	jsonx_set_str(st, iso_key, iso);
}

/* ---- the timeline ----------------------------------------------------------------- */

/* Causal rank: an event sorts after its cause when timestamps tie. A status change sorts
 * right after the event that caused it, so its rank follows from the status it names. */
static int rm_status_rank(const char *s)
{
	static const struct {
		const char *status;
		int rank;
	} r[] = {
		{ "CREATED", 1 },	     { "RETRYING", 3 },
		{ "INVENTORY_RESERVED", 5 }, { "INVENTORY_FAILED", 5 },
		{ "PAYMENT_AUTHORIZED", 7 }, { "PAYMENT_FAILED", 7 },
		{ "SHIPPED", 9 },	     { "SHIPPING_FAILED", 9 },
		{ "CANCELLED", 12 },
	};

	for (size_t i = 0; s && i < ECOM_ARRAY_LEN(r); i++)
		if (strcmp(r[i].status, s) == 0)
			return r[i].rank;
	return 13;
}

static int rm_rank(const char *type_name, const json_t *details)
{
	enum event_type t;

	if (!type_name || event_type_from_name(type_name, &t) != ECOM_OK)
		return 13;
	switch (t) {
	case EV_ORDER_CREATED:
		return 0;
	case EV_RETRY_REQUESTED:
		return 2;
	case EV_INVENTORY_RESERVED:
	case EV_INVENTORY_FAILED:
		return 4;
	case EV_PAYMENT_AUTHORIZED:
	case EV_PAYMENT_FAILED:
		return 6;
	case EV_ORDER_SHIPPED:
	case EV_SHIPPING_FAILED:
		return 8;
	case EV_COMPENSATION_REQUESTED:
		return 10;
	case EV_PAYMENT_REFUNDED:
	case EV_INVENTORY_RELEASED:
		return 11;
	case EV_ORDER_STATUS_CHANGED:
		return rm_status_rank(jsonx_str(details, "status"));
	default:
		return 13;
	}
}

struct rm_key {
	int64_t ts_ms;
	int64_t attempt;
	int rank;
	const char *event_id;
};

static void rm_entry_key(const json_t *e, struct rm_key *k)
{
	const json_t *details = json_object_get(e, "details");
	const char *at = jsonx_str(e, "at");

	k->ts_ms = 0;
	if (at && clock_parse_iso(at, &k->ts_ms) != ECOM_OK)
		k->ts_ms = 0;
	k->attempt = jsonx_int_or(details, "attempt", 0);
	k->rank = rm_rank(jsonx_str(e, "type"), details);
	k->event_id = jsonx_str_or(e, "eventId", "");
}

static int rm_key_cmp(const struct rm_key *a, const struct rm_key *b)
{
	if (a->ts_ms != b->ts_ms)
		return a->ts_ms < b->ts_ms ? -1 : 1;
	if (a->attempt != b->attempt)
		return a->attempt < b->attempt ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return strcmp(a->event_id, b->event_id);
}

static int rm_timeline_has(const json_t *tl, const char *event_id)
{
	size_t i;
	json_t *e;

	json_array_foreach(tl, i, e) {
		const char *id = jsonx_str(e, "eventId");

		if (id && strcmp(id, event_id) == 0)
			return 1;
	}
	return 0;
}

/* Inserts entry (stolen) in order. Events mostly arrive in order, so the scan starts at
 * the end. Bounded: past READ_MODEL_TIMELINE_MAX the oldest entry goes (and is counted). */
static void rm_timeline_insert(json_t *st, json_t *tl, json_t *entry)
{
	struct rm_key k, ki;
	size_t i = json_array_size(tl);

	rm_entry_key(entry, &k);
	while (i > 0) {
		rm_entry_key(json_array_get(tl, i - 1), &ki);
		if (rm_key_cmp(&ki, &k) <= 0)
			break;
		i--;
	}
	ECOM_ASSERT(json_array_insert_new(tl, i, entry) == 0);
	while (json_array_size(tl) > READ_MODEL_TIMELINE_MAX) {
		json_array_remove(tl, 0);
		jsonx_set_int(st, "timeline_dropped", jsonx_int_or(st, "timeline_dropped", 0) + 1);
	}
}

/* ---- the projection --------------------------------------------------------------- */

/* The Node demo's status map: the planted bug takes status from whatever saga event arrived
 * last, as the demo did (it had no OrderStatusChanged, so those never set the status then). */
static const char *rm_last_event_status(const struct envelope *ev)
{
	switch (ev->type) {
	case EV_ORDER_CREATED:
		return "CREATED";
	case EV_INVENTORY_RESERVED:
		return "INVENTORY_RESERVED";
	case EV_INVENTORY_FAILED:
		return "INVENTORY_FAILED";
	case EV_PAYMENT_AUTHORIZED:
		return "PAYMENT_AUTHORIZED";
	case EV_PAYMENT_FAILED:
		return "PAYMENT_FAILED";
	case EV_ORDER_SHIPPED:
		return "SHIPPED";
	case EV_SHIPPING_FAILED:
		return "SHIPPING_FAILED";
	case EV_PAYMENT_REFUNDED:
		return "REFUNDED";
	default:
		return NULL;
	}
}

static void rm_set_status(json_t *st, const char *status)
{
	jsonx_set_str(st, "status", status);
	jsonx_set_str(st, "currentStatus", status);
}

/* Status, seq, attempt, items and total from one event (the timeline is handled apart). */
static void rm_apply(struct read_model *rm, struct svc_ctx *ctx, json_t *st,
		     const struct envelope *ev)
{
	int last_event_bug = rm_bug(rm, ctx, BUG_PROJECTION_LAST_EVENT);
	const json_t *p = ev->payload;
	int64_t seq = jsonx_int_or(st, "seq", 0), attempt = jsonx_int_or(p, "attempt", 0);

	if (attempt > jsonx_int_or(st, "attempt", 0))
		jsonx_set_int(st, "attempt", attempt);
	switch (ev->type) {
	case EV_ORDER_CREATED: {
		int64_t cents = 0;

		jsonx_set_new(st, "items", jsonx_copy(json_object_get(p, "items")));
		jsonx_set_new(st, "total", jsonx_copy(json_object_get(p, "total")));
		if (money_from_json(json_object_get(p, "total"), &cents) == ECOM_OK)
			jsonx_set_int(st, "total_cents", cents);
		if (seq == 0 && !jsonx_str(st, "status") && !last_event_bug)
			rm_set_status(st, "CREATED");
		break;
	}
	case EV_ORDER_STATUS_CHANGED:
		if (jsonx_int_or(p, "seq", 0) > seq) {
			if (!last_event_bug)
				rm_set_status(st, jsonx_str(p, "status"));
			jsonx_set_int(st, "seq", jsonx_int_or(p, "seq", 0));
			if (jsonx_str(p, "reason"))
				jsonx_set_str(st, "reason", jsonx_str(p, "reason"));
		}
		break;
	default:
		break;
	}
	if (last_event_bug && rm_last_event_status(ev))
		rm_set_status(st, rm_last_event_status(ev));
}

static json_t *rm_new_projection(struct svc_ctx *ctx, const char *order_id)
{
	json_t *st = json_object();

	jsonx_set_str(st, "orderId", order_id);
	jsonx_set_int(st, "seq", 0);
	jsonx_set_int(st, "attempt", 0);
	jsonx_set_new(st, "timeline", json_array());
	rm_touch(ctx, st, "created_us", "createdAt");
	return st;
}

static int rm_fold_projection(struct read_model *rm, struct svc_ctx *ctx, json_t **state,
			      const struct envelope *ev)
{
	json_t *st = *state, *tl, *entry;
	char at[25];

	if (!st) {
		st = rm_new_projection(ctx, jsonx_str(ev->payload, "orderId"));
		*state = st;
	}
	tl = jsonx_own(st, "timeline"); /* copy on write (store.h) */
	if (!json_is_array(tl)) {
		tl = json_array();
		jsonx_set_new(st, "timeline", tl);
	}
	/* Each eventId once, whatever the inbox remembers. Nothing changed: nothing to tell. */
	if (rm_timeline_has(tl, ev->event_id)) {
		json_object_del(st, "last_event_id");
		return ECOM_OK;
	}
	clock_format_iso(ev->timestamp_ms, at);
	entry = json_object();
	jsonx_set_str(entry, "eventId", ev->event_id);
	jsonx_set_str(entry, "type", event_type_name(ev->type));
	jsonx_set_str(entry, "at", at);
	/* The event's own payload: nobody changes either in place (jsonx.h). */
	jsonx_set_new(entry, "details", json_incref(ev->payload));
	rm_timeline_insert(st, tl, entry);
	rm_apply(rm, ctx, st, ev);
	jsonx_set_str(st, "last_event_id", ev->event_id);
	rm_touch(ctx, st, "updated_us", "updatedAt");
	return ECOM_OK;
}

/* ---- dead letters ----------------------------------------------------------------- */

static void rm_dlq_copy_header(json_t *st, const struct envelope *ev, const char *hdr,
			       const char *field)
{
	char buf[24];
	const char *v = rm_header(ev, hdr, buf, sizeof(buf));

	if (v)
		jsonx_set_str(st, field, v);
}

static json_t *rm_new_dead_letter(struct svc_ctx *ctx, const char *id, const struct envelope *ev)
{
	const json_t *p = ev->payload;
	json_t *st = json_object();
	char buf[24];
	const char *s;

	/* Without position headers the original topic is its type's (topic = type name). */
	jsonx_set_str(st, "topic", rm_header(ev, RT_HDR_ORIGINAL_TOPIC, NULL, 0)
					   ? rm_header(ev, RT_HDR_ORIGINAL_TOPIC, NULL, 0)
					   : jsonx_str_or(p, "originalType", "unknown"));
	s = rm_header(ev, RT_HDR_ORIGINAL_PARTITION, buf, sizeof(buf));
	jsonx_set_int(st, "partition", s ? strtoll(s, NULL, 10) : -1);
	s = rm_header(ev, RT_HDR_ORIGINAL_OFFSET, buf, sizeof(buf));
	jsonx_set_int(st, "offset", s ? strtoll(s, NULL, 10) : -1);
	jsonx_set_str(st, "originalType", jsonx_str(p, "originalType"));
	jsonx_set_str(st, "originalEventId", jsonx_str(p, "originalEventId"));
	/* orderId only when known: store_find never matches a missing field, and a field is
	 * never mixed string/null. */
	if (jsonx_str(p, "orderId"))
		jsonx_set_str(st, "orderId", jsonx_str(p, "orderId"));
	jsonx_set_str(st, "error", jsonx_str_or(p, "error", rm_header(ev, RT_HDR_ERROR, NULL, 0)));
	jsonx_set_new(st, "payload", json_object_get(p, "payload")
					     ? json_deep_copy(json_object_get(p, "payload"))
					     : json_null());
	if (jsonx_str(p, "raw"))
		jsonx_set_str(st, "raw", jsonx_str(p, "raw"));
	s = rm_header(ev, RT_HDR_ATTEMPTS, buf, sizeof(buf));
	jsonx_set_int(st, "attempts", s ? strtoll(s, NULL, 10) : 1);
	rm_dlq_copy_header(st, ev, RT_HDR_FIRST_FAILURE, "firstFailure");
	rm_dlq_copy_header(st, ev, RT_HDR_LAST_FAILURE, "lastFailure");
	jsonx_set_str(st, "dlqEventId", ev->event_id);
	jsonx_set_str(st, "dlqId", id);
	jsonx_set_int(st, "duplicates", 0);
	jsonx_set_int(st, "replayed", 0);
	jsonx_set_new(st, "replays", json_array());
	rm_touch(ctx, st, "received_us", "receivedAt");
	return st;
}

static int rm_fold_dead_letter(struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	char id[SVC_ID_MAX];

	if (*state) {
		/* The same original dead-lettered again (its offset commit was lost): one entry. */
		jsonx_set_int(*state, "duplicates", jsonx_int_or(*state, "duplicates", 0) + 1);
		return ECOM_OK;
	}
	if (!rm_dlq_id(ev, id, sizeof(id)))
		snprintf(id, sizeof(id), "dlq:%.150s", ev->event_id);
	*state = rm_new_dead_letter(ctx, id, ev);
	return ECOM_OK;
}

static int rm_handle(void *svc, struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	struct read_model *rm = svc;

	if (ev->type == EV_DEAD_LETTER)
		return rm_fold_dead_letter(ctx, state, ev);
	return rm_fold_projection(rm, ctx, state, ev);
}
