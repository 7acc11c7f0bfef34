/* test_read_model.c — the read model through the real runtime on the in-memory harness:
 * status from the highest seq whatever the arrival order, CREATED before any status event,
 * a timeline with each eventId once in (timestamp, attempt, causal rank, eventId) order, the
 * planted last-event bug, dead letters keyed by the original position (poison from the
 * runtime and hand-made), lists/stats, the commit listener, and — with the order service in
 * the same world — projection == order for every arrival order of every saga path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bugs.h"
#include "core/catalog.h"
#include "event/jsonx.h"
#include "services/order/order.h"
#include "services/read-model/read_model.h"
#include "sim/mem_store.h"
#include "support/harness.h"

#define T_QUIET_US (5LL * 1000 * 1000)
#define T_EPOCH_MS 1767225600000LL /* the harness's wall epoch */

struct calls {
	int n;
	char last_event[64];
	char last_status[32];
	int saw_bookkeeping;
};

struct fx {
	struct harness *h;
	struct read_model *rm;
	struct runtime *rt;
	struct runtime_observer obs;
	struct calls calls;
	/* the order service, for the end-to-end tests */
	struct catalog cat;
	struct order_service *o;
	struct runtime *ort;
};

static void on_change(void *arg, const json_t *projection, const json_t *entry)
{
	struct calls *c = arg;

	c->n++;
	snprintf(c->last_event, sizeof(c->last_event), "%s", jsonx_str_or(entry, "eventId", ""));
	snprintf(c->last_status, sizeof(c->last_status), "%s",
		 jsonx_str_or(projection, "status", ""));
	if (json_object_get(projection, "inbox") || json_object_get(projection, "version"))
		c->saw_bookkeeping = 1;
}

static struct fx *fx_new(uint32_t bugs, int with_order)
{
	struct fx *f = ecom_xcalloc(1, sizeof(*f));
	struct runtime_config rc = { .bugs = bugs };

	f->h = harness_new(11, 4);
	f->rm = read_model_new(NULL);
	read_model_observer(f->rm, &f->obs);
	read_model_set_listener(f->rm, on_change, &f->calls);
	rc.obs = &f->obs;
	f->rt = harness_add(f->h, read_model_svc_def(), f->rm, "read-model#1", &rc);
	read_model_attach(f->rm, f->rt);
	if (with_order) {
		struct order_config oc = { .step_deadline_us = 3600LL * 1000 * 1000 };
		struct runtime_config orc = { .bugs = bugs };

		catalog_init_default(&f->cat, 100);
		f->o = order_service_new(&f->cat, &oc);
		f->ort = harness_add(f->h, order_svc_def(), f->o, "order#1", &orc);
		order_service_attach(f->o, f->ort);
	}
	return f;
}

static void fx_free(struct fx *f)
{
	harness_free(f->h);
	read_model_free(f->rm);
	order_service_free(f->o);
	catalog_deinit(&f->cat);
	free(f);
}

static int setup(void **state)
{
	*state = fx_new(0, 0);
	return 0;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

static void quiet(struct fx *f)
{
	harness_run_until_quiet(f->h, T_QUIET_US);
}

static json_t *proj(struct fx *f, const char *id)
{
	json_t *p = NULL;
	struct ecom_err err = { 0 };

	assert_int_equal(read_model_get(f->rm, id, &p, &err), ECOM_OK);
	return p;
}

/* ---- events ----------------------------------------------------------------------------- */

struct ev_spec {
	enum event_type type;
	const char *status; /* OrderStatusChanged */
	int64_t seq;        /* OrderStatusChanged */
	int64_t attempt;
	int64_t ts_ms;      /* offset from the epoch; 0 = now */
};

#define SP(t) (&(struct ev_spec){ .type = (t) })
#define SP_ST(s, n) (&(struct ev_spec){ .type = EV_ORDER_STATUS_CHANGED, .status = (s), .seq = (n) })
#define SP_AT(t, a) (&(struct ev_spec){ .type = (t), .attempt = (a) })

static void ev_make(struct fx *f, struct envelope *e, const char *id, const struct ev_spec *s)
{
	json_t *p = json_object();
	int64_t wall = s->ts_ms ? T_EPOCH_MS + s->ts_ms : clock_wall_ms(&harness_clock(f->h)->base);

	jsonx_set_str(p, "orderId", id);
	switch (s->type) {
	case EV_ORDER_CREATED:
		jsonx_set_new(p, "items", json_pack("[{s:s,s:i}]", "sku", "SKU-1", "qty", 2));
		jsonx_set_int(p, "total", 20);
		break;
	case EV_INVENTORY_RESERVED:
		jsonx_set_new(p, "reservedItems", json_pack("[{s:s,s:i}]", "sku", "SKU-1", "qty", 2));
		break;
	case EV_INVENTORY_RELEASED:
		jsonx_set_new(p, "releasedItems", json_array());
		break;
	case EV_INVENTORY_FAILED:
	case EV_PAYMENT_FAILED:
	case EV_SHIPPING_FAILED:
		jsonx_set_str(p, "reason", "r");
		break;
	case EV_PAYMENT_AUTHORIZED:
		jsonx_set_int(p, "amount", 20);
		jsonx_set_str(p, "authId", "a");
		break;
	case EV_PAYMENT_REFUNDED:
		jsonx_set_int(p, "amount", 20);
		jsonx_set_str(p, "refundId", "r");
		break;
	case EV_ORDER_SHIPPED:
		jsonx_set_str(p, "carrier", "c");
		jsonx_set_str(p, "trackingId", "t");
		break;
	case EV_ORDER_STATUS_CHANGED:
		jsonx_set_str(p, "status", s->status);
		jsonx_set_int(p, "seq", s->seq);
		break;
	case EV_RETRY_REQUESTED:
		jsonx_set_str(p, "step", "payment");
		break;
	case EV_COMPENSATION_REQUESTED:
		jsonx_set_str(p, "action", "refundPayment");
		break;
	default:
		fail_msg("no payload for %s", event_type_name(s->type));
	}
	jsonx_set_int(p, "attempt", s->attempt);
	envelope_init(e, harness_rng(f->h), wall, s->type, id, p, id, NULL);
}

static void send(struct fx *f, const struct envelope *e)
{
	assert_int_equal(harness_publish(f->h, e, NULL), ECOM_OK);
}

static void feed(struct fx *f, const char *id, const struct ev_spec *s)
{
	struct envelope e;

	ev_make(f, &e, id, s);
	send(f, &e);
	envelope_deinit(&e);
	quiet(f);
}

/* ---- the service definition ------------------------------------------------------------- */

static void test_svc_def_topics(void **state)
{
	const struct svc_def *d = read_model_svc_def();
	int has_status = 0, has_retry = 0, has_comp = 0;

	(void)state;
	assert_ptr_equal(read_model_svc_def(), d); /* built once */
	assert_string_equal(d->name, "read-model");
	assert_int_equal(d->n_extra_topics, EV__COUNT - 1);
	assert_true(d->n_types + d->n_extra_topics <= BROKER_MAX_TOPICS);
	for (int t = 0, k = 0; t < EV__COUNT; t++) {
		char want[128];

		if (t == EV_DEAD_LETTER)
			continue;
		event_dlq_topic(event_type_name((enum event_type)t), want, sizeof(want));
		assert_string_equal(d->extra_topics[k++], want);
	}
	for (size_t i = 0; i < d->n_types; i++) {
		assert_true(d->types[i] != EV_STOCK_COMMAND && d->types[i] != EV_STOCK_RESULT &&
			    d->types[i] != EV_STEP_TIMEOUT && d->types[i] != EV_DEAD_LETTER);
		has_status |= d->types[i] == EV_ORDER_STATUS_CHANGED;
		has_retry |= d->types[i] == EV_RETRY_REQUESTED;
		has_comp |= d->types[i] == EV_COMPENSATION_REQUESTED;
	}
	assert_int_equal(d->n_types, 12);
	assert_true(has_status && has_retry && has_comp);
}

/* ---- status ------------------------------------------------------------------------------ */

static void test_status_from_highest_seq(void **state)
{
	struct fx *f = *state;
	json_t *p;

	feed(f, "a", SP(EV_ORDER_CREATED));
	p = proj(f, "a");
	assert_string_equal(jsonx_str(p, "status"), "CREATED");
	assert_string_equal(jsonx_str(p, "currentStatus"), "CREATED");
	assert_int_equal(json_integer_value(json_object_get(p, "total")), 20);
	assert_int_equal(jsonx_int_or(p, "total_cents", 0), 2000);
	assert_int_equal(json_array_size(json_object_get(p, "items")), 1);
	assert_string_equal(jsonx_str(p, "_id"), "a");
	assert_null(json_object_get(p, "inbox"));
	assert_null(json_object_get(p, "version"));
	json_decref(p);

	feed(f, "a", SP_ST("SHIPPED", 3));
	feed(f, "a", SP_ST("INVENTORY_RESERVED", 1));
	feed(f, "a", SP_ST("PAYMENT_AUTHORIZED", 2));
	p = proj(f, "a");
	assert_string_equal(jsonx_str(p, "status"), "SHIPPED");
	assert_string_equal(jsonx_str(p, "currentStatus"), "SHIPPED");
	assert_int_equal(jsonx_int_or(p, "seq", 0), 3);
	assert_int_equal(json_array_size(json_object_get(p, "timeline")), 4);
	json_decref(p);

	/* A status event before the OrderCreated: the latter does not override it. */
	feed(f, "b", SP_ST("INVENTORY_RESERVED", 1));
	feed(f, "b", SP(EV_ORDER_CREATED));
	p = proj(f, "b");
	assert_string_equal(jsonx_str(p, "status"), "INVENTORY_RESERVED");
	json_decref(p);

	/* No OrderCreated and no status event yet: no status at all. */
	feed(f, "c", SP(EV_INVENTORY_RESERVED));
	p = proj(f, "c");
	assert_null(json_object_get(p, "status"));
	json_decref(p);

	/* Attempt follows the newest event. */
	feed(f, "a", SP_AT(EV_RETRY_REQUESTED, 1));
	p = proj(f, "a");
	assert_int_equal(jsonx_int_or(p, "attempt", 0), 1);
	json_decref(p);
}

/* The planted bug: status is the seed's map of the last saga event to arrive, so a
 * cancelled order ends as whatever its last compensation event says. */
static void test_bug_projection_last_event(void **state)
{
	struct fx *f = fx_new(BUG_PROJECTION_LAST_EVENT, 0);
	struct fx *g = fx_new(0, 0);
	struct fx *both[2] = { f, g };
	json_t *p;

	(void)state;
	for (int i = 0; i < 2; i++) {
		feed(both[i], "o", SP(EV_ORDER_CREATED));
		feed(both[i], "o", SP(EV_SHIPPING_FAILED));
		feed(both[i], "o", SP_ST("SHIPPING_FAILED", 1));
		feed(both[i], "o", SP(EV_INVENTORY_RELEASED));
		feed(both[i], "o", SP(EV_PAYMENT_REFUNDED));
		feed(both[i], "o", SP_ST("CANCELLED", 2));
	}
	p = proj(f, "o");
	assert_string_equal(jsonx_str(p, "status"), "REFUNDED"); /* the seed's defect */
	assert_int_equal(jsonx_int_or(p, "seq", 0), 2);
	json_decref(p);
	p = proj(g, "o");
	assert_string_equal(jsonx_str(p, "status"), "CANCELLED");
	json_decref(p);
	fx_free(f);
	fx_free(g);
}

/* ---- the timeline ------------------------------------------------------------------------- */

static void test_timeline_sorted_and_once(void **state)
{
	struct fx *f = fx_new(BUG_SKIP_INBOX_DEDUP, 0); /* the projection's own dedupe */
	/* Listed in the expected timeline order; equal timestamps order by attempt, then by
	 * causal rank (a status change right after its cause). */
	static const struct ev_spec want[] = {
		{ EV_ORDER_CREATED, NULL, 0, 0, 1000 },
		{ EV_INVENTORY_RESERVED, NULL, 0, 0, 2000 },
		{ EV_ORDER_STATUS_CHANGED, "INVENTORY_RESERVED", 1, 0, 2000 },
		{ EV_PAYMENT_FAILED, NULL, 0, 0, 3000 },
		{ EV_ORDER_STATUS_CHANGED, "PAYMENT_FAILED", 2, 0, 3000 },
		{ EV_INVENTORY_RELEASED, NULL, 0, 0, 3000 },
		{ EV_ORDER_STATUS_CHANGED, "CANCELLED", 3, 0, 3000 },
		{ EV_INVENTORY_RELEASED, NULL, 0, 0, 4000 },  /* a late one of attempt 0 */
		{ EV_RETRY_REQUESTED, NULL, 0, 1, 4000 },
		{ EV_ORDER_STATUS_CHANGED, "RETRYING", 4, 1, 4000 },
		{ EV_INVENTORY_RESERVED, NULL, 0, 1, 4000 },
		{ EV_COMPENSATION_REQUESTED, NULL, 0, 1, 5000 },
	};
	static const int arrival[] = { 6, 11, 2, 9, 0, 4, 10, 1, 8, 3, 5, 7 };
	enum { N = ECOM_ARRAY_LEN(want) };
	struct envelope e[N];
	json_t *p, *tl;

	(void)state;
	for (int i = 0; i < N; i++)
		ev_make(f, &e[i], "t", &want[i]);
	for (int i = 0; i < N; i++) {
		send(f, &e[arrival[i]]);
		send(f, &e[arrival[i]]); /* twice, back to back */
		quiet(f);
	}
	for (int i = 0; i < N; i++)
		send(f, &e[i]); /* and all once more */
	quiet(f);

	p = proj(f, "t");
	tl = json_object_get(p, "timeline");
	assert_int_equal(json_array_size(tl), N);
	for (int i = 0; i < N; i++) {
		json_t *entry = json_array_get(tl, (size_t)i);
		char at[25];

		assert_string_equal(jsonx_str(entry, "eventId"), e[i].event_id);
		assert_string_equal(jsonx_str(entry, "type"), event_type_name(want[i].type));
		clock_format_iso(T_EPOCH_MS + want[i].ts_ms, at);
		assert_string_equal(jsonx_str(entry, "at"), at);
		assert_true(json_equal(json_object_get(entry, "details"), e[i].payload));
	}
	assert_string_equal(jsonx_str(p, "status"), "RETRYING");
	assert_int_equal(jsonx_int_or(p, "seq", 0), 4);
	json_decref(p);
	for (int i = 0; i < N; i++)
		envelope_deinit(&e[i]);
	fx_free(f);
}

/* ---- dead letters -------------------------------------------------------------------------- */

static json_t *dlq_one(struct fx *f, const char *topic, const char *order_id)
{
	json_t *list = NULL, *d;
	struct ecom_err err = { 0 };

	assert_int_equal(read_model_dlq_list(f->rm, topic, order_id, 0, &list, &err), ECOM_OK);
	assert_int_equal(json_array_size(list), 1);
	d = json_incref(json_array_get(list, 0));
	json_decref(list);
	return d;
}

static void assert_position(struct fx *f, const json_t *d, const char *value)
{
	struct broker_msg m;
	char id[200];

	snprintf(id, sizeof(id), "%s:%lld:%lld", jsonx_str(d, "topic"),
		 (long long)jsonx_int_or(d, "partition", -1), (long long)jsonx_int_or(d, "offset", -1));
	assert_string_equal(jsonx_str(d, "_id"), id);
	assert_int_equal(mem_cluster_read(harness_cluster(f->h), jsonx_str(d, "topic"),
					  (int32_t)jsonx_int_or(d, "partition", -1),
					  jsonx_int_or(d, "offset", -1), &m),
			 ECOM_OK);
	assert_memory_equal(m.value, value, strlen(value));
}

static void test_dead_letters_from_poison(void **state)
{
	struct fx *f = *state;
	const char *topic = "payment.PaymentAuthorized.v1";
	const char *invalid = "{\"eventId\":\"ev-9\",\"type\":\"payment.PaymentAuthorized.v1\","
			      "\"version\":1,\"timestamp\":\"2026-01-01T00:00:00.000Z\","
			      "\"correlationId\":\"o-9\",\"key\":\"o-9\","
			      "\"payload\":{\"orderId\":\"o-9\",\"authId\":\"x\"},\"headers\":{}}";
	json_t *d, *list = NULL, *again = NULL;
	struct ecom_err err = { 0 };

	assert_int_equal(harness_publish_raw(f->h, topic, "k", "not json"), ECOM_OK);
	assert_int_equal(harness_publish_raw(f->h, topic, "o-9", invalid), ECOM_OK);
	quiet(f);
	assert_int_equal(harness_topic_count(f->h, "payment.PaymentAuthorized.v1.dlq"), 2);
	assert_int_equal(mem_store_count(harness_store(f->h, "read-model"), "dead_letters"), 2);
	assert_int_equal(mem_store_count(harness_store(f->h, "read-model"), "projections"), 0);

	assert_int_equal(read_model_dlq_list(f->rm, topic, NULL, 0, &list, &err), ECOM_OK);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	assert_int_equal(read_model_dlq_list(f->rm, "other.topic", NULL, 0, &list, &err), ECOM_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);

	/* Schema-invalid: the original payload and its orderId are kept. */
	d = dlq_one(f, NULL, "o-9");
	assert_position(f, d, invalid);
	assert_string_equal(jsonx_str(d, "originalType"), topic);
	assert_string_equal(jsonx_str(d, "originalEventId"), "ev-9");
	assert_string_equal(jsonx_str(json_object_get(d, "payload"), "authId"), "x");
	assert_non_null(strstr(jsonx_str(d, "error"), "amount"));
	assert_int_equal(jsonx_int_or(d, "attempts", 0), 1);
	assert_int_equal(jsonx_int_or(d, "replayed", -1), 0);
	assert_non_null(jsonx_str(d, "firstFailure"));
	assert_null(json_object_get(d, "raw"));
	assert_null(json_object_get(d, "inbox"));
	json_decref(d);
	d = dlq_one(f, topic, "o-9"); /* both filters */
	json_decref(d);

	/* Malformed: the raw bytes, no payload, no orderId. */
	assert_int_equal(read_model_dlq_list(f->rm, topic, NULL, 0, &list, &err), ECOM_OK);
	for (size_t i = 0; i < json_array_size(list); i++) {
		d = json_array_get(list, i);
		if (json_object_get(d, "orderId"))
			continue;
		assert_position(f, d, "not json");
		assert_string_equal(jsonx_str(d, "raw"), "not json");
		assert_true(json_is_null(json_object_get(d, "payload")));
		assert_string_equal(jsonx_str(d, "originalEventId"), "unknown");
		assert_int_equal(read_model_dlq_get(f->rm, jsonx_str(d, "_id"), &again, &err),
				 ECOM_OK);
		assert_true(json_equal(again, d));
		json_decref(again);

		/* An operator replays it: recorded on the entry. */
		assert_int_equal(read_model_dlq_mark_replayed(f->rm, jsonx_str(d, "_id"), "new-ev",
							      &err),
				 ECOM_OK);
		assert_int_equal(read_model_dlq_get(f->rm, jsonx_str(d, "_id"), &again, &err),
				 ECOM_OK);
		assert_int_equal(jsonx_int_or(again, "replayed", 0), 1);
		assert_string_equal(
			jsonx_str(json_array_get(json_object_get(again, "replays"), 0), "eventId"),
			"new-ev");
		json_decref(again);
	}
	json_decref(list);
	assert_int_equal(read_model_dlq_mark_replayed(f->rm, "x:0:9", NULL, &err), ECOM_NOT_FOUND);
	assert_int_equal(read_model_dlq_get(f->rm, "x:0:9", &again, &err), ECOM_NOT_FOUND);
	assert_null(again);
}

/* A DeadLetter for the same original twice (a lost offset commit) is one entry; one from a
 * producer without position headers (the Node demo) is kept under its own eventId. */
static void test_dead_letters_handmade(void **state)
{
	struct fx *f = *state;
	struct envelope e;
	json_t *list = NULL, *d;
	struct ecom_err err = { 0 };

	for (int i = 0; i < 3; i++) {
		json_t *p = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "originalType",
				      "shipping.OrderShipped.v1", "originalEventId", "e1", "orderId",
				      "o-1", "error", "boom", "payload", "orderId", "o-1");

		envelope_init(&e, harness_rng(f->h), T_EPOCH_MS, EV_DEAD_LETTER, "o-1", p, NULL,
			      NULL);
		if (i < 2) {
			jsonx_set_str(e.headers, RT_HDR_ORIGINAL_TOPIC, "shipping.OrderShipped.v1");
			jsonx_set_str(e.headers, RT_HDR_ORIGINAL_PARTITION, "3");
			jsonx_set_str(e.headers, RT_HDR_ORIGINAL_OFFSET, "41");
			jsonx_set_str(e.headers, RT_HDR_ATTEMPTS, "30");
		}
		assert_int_equal(harness_publish(f->h, &e, "shipping.OrderShipped.v1.dlq"), ECOM_OK);
		envelope_deinit(&e);
	}
	quiet(f);
	assert_int_equal(read_model_dlq_list(f->rm, NULL, "o-1", 0, &list, &err), ECOM_OK);
	assert_int_equal(json_array_size(list), 2);
	assert_int_equal(read_model_dlq_get(f->rm, "shipping.OrderShipped.v1:3:41", &d, &err),
			 ECOM_OK);
	assert_int_equal(jsonx_int_or(d, "duplicates", -1), 1);
	assert_int_equal(jsonx_int_or(d, "attempts", -1), 30);
	assert_int_equal(jsonx_int_or(d, "partition", -1), 3);
	assert_int_equal(jsonx_int_or(d, "offset", -1), 41);
	assert_string_equal(jsonx_str(d, "error"), "boom");
	json_decref(d);
	for (size_t i = 0; i < json_array_size(list); i++) {
		const char *id = jsonx_str(json_array_get(list, i), "_id");

		if (strncmp(id, "dlq:", 4) == 0)
			assert_string_equal(jsonx_str(json_array_get(list, i), "topic"),
					    "shipping.OrderShipped.v1");
		else
			assert_string_equal(id, "shipping.OrderShipped.v1:3:41");
	}
	json_decref(list);
}

/* ---- lists, stats, the listener ------------------------------------------------------------ */

static void test_list_and_stats(void **state)
{
	struct fx *f = *state;
	json_t *list = NULL, *st = NULL;
	struct ecom_err err = { 0 };

	feed(f, "l1", SP(EV_ORDER_CREATED));
	feed(f, "l2", SP(EV_ORDER_CREATED));
	feed(f, "l3", SP(EV_ORDER_CREATED));
	feed(f, "l2", SP_ST("SHIPPED", 3));
	feed(f, "l1", SP_ST("CANCELLED", 2));
	assert_int_equal(harness_publish_raw(f->h, "order.OrderCreated.v1", "k", "{"), ECOM_OK);
	quiet(f);

	assert_int_equal(read_model_list(f->rm, NULL, 0, &list, &err), ECOM_OK);
	assert_int_equal(json_array_size(list), 3);
	assert_string_equal(jsonx_str(json_array_get(list, 0), "_id"), "l1");
	assert_string_equal(jsonx_str(json_array_get(list, 1), "_id"), "l2");
	assert_string_equal(jsonx_str(json_array_get(list, 2), "_id"), "l3");
	assert_null(json_object_get(json_array_get(list, 0), "outbox"));
	json_decref(list);
	assert_int_equal(read_model_list(f->rm, NULL, 2, &list, &err), ECOM_OK);
	assert_int_equal(json_array_size(list), 2);
	json_decref(list);
	assert_int_equal(read_model_list(f->rm, "SHIPPED", 0, &list, &err), ECOM_OK);
	assert_int_equal(json_array_size(list), 1);
	assert_string_equal(jsonx_str(json_array_get(list, 0), "_id"), "l2");
	json_decref(list);
	assert_int_equal(read_model_list(f->rm, "RETRYING", 0, &list, &err), ECOM_OK);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);

	assert_int_equal(read_model_stats(f->rm, &st, &err), ECOM_OK);
	assert_int_equal(jsonx_int_or(st, "orders", 0), 3);
	assert_int_equal(jsonx_int_or(st, "deadLetters", 0), 1);
	assert_int_equal(jsonx_int_or(json_object_get(st, "byStatus"), "SHIPPED", -1), 1);
	assert_int_equal(jsonx_int_or(json_object_get(st, "byStatus"), "CANCELLED", -1), 1);
	assert_int_equal(jsonx_int_or(json_object_get(st, "byStatus"), "CREATED", -1), 1);
	assert_int_equal(jsonx_int_or(json_object_get(st, "byStatus"), "RETRYING", -1), 0);
	json_decref(st);

	assert_int_equal(read_model_get(f->rm, "none", &st, &err), ECOM_NOT_FOUND);
	assert_null(st);
}

static void test_listener_after_each_change(void **state)
{
	struct fx *f = *state;
	struct envelope e;

	ev_make(f, &e, "s", SP(EV_ORDER_CREATED));
	send(f, &e);
	quiet(f);
	assert_int_equal(f->calls.n, 1);
	assert_string_equal(f->calls.last_event, e.event_id);
	assert_string_equal(f->calls.last_status, "CREATED");
	send(f, &e); /* a duplicate: no change, no call */
	quiet(f);
	assert_int_equal(f->calls.n, 1);
	envelope_deinit(&e);

	ev_make(f, &e, "s", SP_ST("INVENTORY_RESERVED", 1));
	send(f, &e);
	quiet(f);
	assert_int_equal(f->calls.n, 2);
	assert_string_equal(f->calls.last_event, e.event_id);
	assert_string_equal(f->calls.last_status, "INVENTORY_RESERVED");
	envelope_deinit(&e);
	assert_false(f->calls.saw_bookkeeping);

	/* Dead letters are not projection changes. */
	assert_int_equal(harness_publish_raw(f->h, "order.OrderCreated.v1", "k", "x"), ECOM_OK);
	quiet(f);
	assert_int_equal(f->calls.n, 2);
	read_model_set_listener(f->rm, NULL, NULL);
	feed(f, "s", SP(EV_ORDER_SHIPPED));
	assert_int_equal(f->calls.n, 2);
}

/* ---- the read model against the order service -------------------------------------------- */

struct path {
	const char *name;
	enum event_type ev[5];
	int n;
};

static const struct path paths[] = {
	{ "ok", { EV_INVENTORY_RESERVED, EV_PAYMENT_AUTHORIZED, EV_ORDER_SHIPPED }, 3 },
	{ "pf", { EV_INVENTORY_RESERVED, EV_PAYMENT_FAILED, EV_INVENTORY_RELEASED }, 3 },
	{ "sf",
	  { EV_INVENTORY_RESERVED, EV_PAYMENT_AUTHORIZED, EV_SHIPPING_FAILED, EV_PAYMENT_REFUNDED,
	    EV_INVENTORY_RELEASED },
	  5 },
	{ "if", { EV_INVENTORY_FAILED }, 1 },
};

static int next_perm(int *a, int n)
{
	int i = n - 2, j = n - 1, t;

	while (i >= 0 && a[i] >= a[i + 1])
		i--;
	if (i < 0)
		return 0;
	while (a[j] <= a[i])
		j--;
	t = a[i], a[i] = a[j], a[j] = t;
	for (int l = i + 1, r = n - 1; l < r; l++, r--)
		t = a[l], a[l] = a[r], a[r] = t;
	return 1;
}

/* Distinct eventIds the read model consumes for an order, as published on the broker
 * (the tests publish some events several times). */
#define DISTINCT_MAX 64

static int published_for(struct fx *f, const char *id)
{
	const struct svc_def *d = read_model_svc_def();
	static char seen[DISTINCT_MAX][40];
	int n = 0;

	for (size_t t = 0; t < d->n_types; t++) {
		const char *topic = event_type_name(d->types[t]);
		int64_t count = harness_topic_count(f->h, topic);

		for (int64_t i = 0; i < count; i++) {
			struct envelope e;
			int dup = 0;

			assert_int_equal(harness_topic_get(f->h, topic, i, &e), ECOM_OK);
			if (strcmp(jsonx_str(e.payload, "orderId"), id) == 0) {
				for (int k = 0; k < n; k++)
					dup |= strcmp(seen[k], e.event_id) == 0;
				if (!dup) {
					assert_true(n < DISTINCT_MAX);
					snprintf(seen[n++], sizeof(seen[0]), "%s", e.event_id);
				}
			}
			envelope_deinit(&e);
		}
	}
	return n;
}

static void assert_converged(struct fx *f, const char *id)
{
	json_t *o = NULL, *p = proj(f, id), *tl;
	struct ecom_err err = { 0 };
	size_t i, j;

	assert_int_equal(order_get(f->o, id, &o, &err), ECOM_OK);
	assert_string_equal(jsonx_str(p, "status"), jsonx_str(o, "status"));
	assert_int_equal(jsonx_int_or(p, "seq", -1), jsonx_int_or(o, "seq", -2));
	assert_int_equal(jsonx_int_or(p, "attempt", -1), jsonx_int_or(o, "attempt", -2));
	tl = json_object_get(p, "timeline");
	assert_int_equal((int)json_array_size(tl), published_for(f, id));
	for (i = 0; i < json_array_size(tl); i++) {
		const char *a = jsonx_str(json_array_get(tl, i), "eventId");

		for (j = i + 1; j < json_array_size(tl); j++)
			assert_string_not_equal(a, jsonx_str(json_array_get(tl, j), "eventId"));
		if (i > 0) /* ISO strings of one format sort as their instants */
			assert_true(strcmp(jsonx_str(json_array_get(tl, i - 1), "at"),
					   jsonx_str(json_array_get(tl, i), "at")) <= 0);
	}
	json_decref(o);
	json_decref(p);
}

#define E2E_ORDERS_MAX 160

static void test_matches_order_service_in_any_order(void **state)
{
	struct fx *f = fx_new(0, 1);
	static char ids[E2E_ORDERS_MAX][32];
	static int perm_of[E2E_ORDERS_MAX][5], path_of[E2E_ORDERS_MAX];
	static struct envelope evs[E2E_ORDERS_MAX][5];
	int n = 0;

	(void)state;
	for (size_t p = 0; p < ECOM_ARRAY_LEN(paths); p++) {
		int a[5] = { 0, 1, 2, 3, 4 };

		do {
			char body[200];
			json_t *b, *resp = NULL;

			assert_true(n < E2E_ORDERS_MAX);
			snprintf(ids[n], sizeof(ids[n]), "%s-%d", paths[p].name, n);
			snprintf(body, sizeof(body),
				 "{\"orderId\":\"%s\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],"
				 "\"total\":20}",
				 ids[n]);
			b = json_loads(body, 0, NULL);
			assert_int_equal(order_create(f->o, b, &resp, NULL), ECOM_OK);
			json_decref(resp);
			json_decref(b);
			memcpy(perm_of[n], a, sizeof(a));
			path_of[n] = (int)p;
			for (int k = 0; k < paths[p].n; k++)
				ev_make(f, &evs[n][k], ids[n],
					SP(paths[p].ev[k]));
			n++;
		} while (next_perm(a, paths[p].n));
	}
	quiet(f);
	for (int k = 0; k < 5; k++) {
		for (int i = 0; i < n; i++) {
			if (k >= paths[path_of[i]].n)
				continue;
			send(f, &evs[i][perm_of[i][k]]);
			send(f, &evs[i][perm_of[i][k]]);
		}
		quiet(f);
	}
	for (int i = 0; i < n; i++)
		for (int k = 0; k < paths[path_of[i]].n; k++)
			send(f, &evs[i][k]);
	quiet(f);
	for (int i = 0; i < n; i++) {
		assert_converged(f, ids[i]);
		for (int k = 0; k < paths[path_of[i]].n; k++)
			envelope_deinit(&evs[i][k]);
	}

	/* A retry of a cancelled order and its second attempt show up too. */
	{
		json_t *resp = NULL;
		struct ecom_err err = { 0 };

		const char *last = ids[n - 1]; /* the inventory-failure path */
		json_t *p;

		assert_int_equal(order_retry(f->o, last, "inventory", &resp, &err), ECOM_OK);
		json_decref(resp);
		quiet(f);
		assert_converged(f, last);
		feed(f, last, SP_AT(EV_INVENTORY_RESERVED, 1));
		assert_converged(f, last);
		p = proj(f, last);
		assert_string_equal(jsonx_str(p, "status"), "INVENTORY_RESERVED");
		assert_int_equal(jsonx_int_or(p, "attempt", 0), 1);
		json_decref(p);
	}
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_svc_def_topics),
		cmocka_unit_test_setup_teardown(test_status_from_highest_seq, setup, teardown),
		cmocka_unit_test(test_bug_projection_last_event),
		cmocka_unit_test(test_timeline_sorted_and_once),
		cmocka_unit_test_setup_teardown(test_dead_letters_from_poison, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letters_handmade, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_and_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listener_after_each_change, setup, teardown),
		cmocka_unit_test(test_matches_order_service_in_any_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
