/* test_order.c — the order service through the real runtime on the in-memory harness:
 * validation (every rule; nothing written on rejection), idempotent creation, the fold of
 * every event type in every arrival order with and without duplicates (status never
 * regresses, seq is contiguous), stale attempts, deadlines (one StepTimeout per step, then
 * stuck; none under BUG_NO_DEADLINE), and every admin refusal and legal admin action. */
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
#include "sim/mem_store.h"
#include "support/harness.h"

#define T_DEADLINE_US (10LL * 1000 * 1000)
#define T_QUIET_US (5LL * 1000 * 1000)
#define T_LONG_US (3600LL * 1000 * 1000)

struct fx {
	struct harness *h;
	struct catalog cat;
	struct order_service *o;
	struct runtime *rt;
	/* a runtime outside the harness (freed first, so a failing test tears down cleanly) */
	struct runtime *x_rt;
	struct broker *x_client;
	struct store *x_store;
	struct order_service *x_o;
};

static struct fx *fx_new(uint32_t bugs, int64_t deadline_us)
{
	struct fx *f = ecom_xcalloc(1, sizeof(*f));
	struct order_config oc = { .step_deadline_us = deadline_us };
	struct runtime_config rc = { .bugs = bugs };

	f->h = harness_new(7, 4);
	catalog_init_default(&f->cat, 100);
	f->o = order_service_new(&f->cat, &oc);
	f->rt = harness_add(f->h, order_svc_def(), f->o, "order#1", &rc);
	order_service_attach(f->o, f->rt);
	return f;
}

static void fx_free(struct fx *f)
{
	runtime_free(f->x_rt);
	broker_destroy(f->x_client);
	store_destroy(f->x_store);
	order_service_free(f->x_o);
	harness_free(f->h);
	order_service_free(f->o);
	catalog_deinit(&f->cat);
	free(f);
}

/* Most tests run far from any deadline; the deadline tests use a short one. */
static int setup(void **state)
{
	*state = fx_new(0, T_LONG_US);
	return 0;
}

static int setup_deadline(void **state)
{
	*state = fx_new(0, T_DEADLINE_US);
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

static struct store *fx_store(struct fx *f)
{
	return harness_store(f->h, "order");
}

/* The stored document (new reference); fails the test when absent. */
static json_t *doc_of(struct fx *f, const char *id)
{
	json_t *d = NULL;

	assert_int_equal(store_get(fx_store(f), "orders", id, &d, NULL), ECOM_OK);
	return d;
}

static int doc_bool(struct fx *f, const char *id, const char *key)
{
	json_t *d = doc_of(f, id);
	int v = jsonx_bool_or(d, key, -1);

	json_decref(d);
	assert_true(v == 0 || v == 1);
	return v;
}

static void assert_status(struct fx *f, const char *id, const char *status)
{
	json_t *d = doc_of(f, id);

	assert_string_equal(jsonx_str(d, "status"), status);
	json_decref(d);
}

static int64_t doc_int(struct fx *f, const char *id, const char *key)
{
	json_t *d = doc_of(f, id);
	int64_t v = jsonx_int_or(d, key, -999);

	json_decref(d);
	return v;
}

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

/* Creates an order from JSON text; returns its id (static buffer per call site). */
static void create_ok(struct fx *f, const char *body_text, char out[160])
{
	json_t *body = parse(body_text), *resp = NULL;
	struct ecom_err err = { 0 };

	assert_int_equal(order_create(f->o, body, &resp, &err), ECOM_OK);
	assert_non_null(resp);
	snprintf(out, 160, "%s", jsonx_str(resp, "orderId"));
	json_decref(resp);
	json_decref(body);
	quiet(f);
}

static void create_id(struct fx *f, const char *id)
{
	char body[256], got[160];

	snprintf(body, sizeof(body),
		 "{\"orderId\":\"%s\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":20}", id);
	create_ok(f, body, got);
	assert_string_equal(got, id);
}

/* ---- events as the other services send them ------------------------------------------ */

static void ev_make(struct fx *f, struct envelope *e, enum event_type t, const char *id,
		    int64_t attempt)
{
	json_t *p = json_object(), *items;

	jsonx_set_str(p, "orderId", id);
	switch (t) {
	case EV_INVENTORY_RESERVED:
	case EV_INVENTORY_RELEASED:
		items = json_array();
		json_array_append_new(items, json_pack("{s:s,s:i}", "sku", "SKU-1", "qty", 2));
		jsonx_set_new(p, t == EV_INVENTORY_RESERVED ? "reservedItems" : "releasedItems",
			      items);
		break;
	case EV_INVENTORY_FAILED:
	case EV_PAYMENT_FAILED:
	case EV_SHIPPING_FAILED:
		jsonx_set_str(p, "reason", "test-failure");
		break;
	case EV_PAYMENT_AUTHORIZED:
		jsonx_set_int(p, "amount", 20);
		jsonx_set_str(p, "authId", "auth-1");
		break;
	case EV_PAYMENT_REFUNDED:
		jsonx_set_int(p, "amount", 20);
		jsonx_set_str(p, "refundId", "ref-1");
		break;
	case EV_ORDER_SHIPPED:
		jsonx_set_str(p, "carrier", "UPS");
		jsonx_set_str(p, "trackingId", "trk-1");
		break;
	default:
		fail_msg("no test payload for %s", event_type_name(t));
	}
	jsonx_set_int(p, "attempt", attempt);
	envelope_init(e, harness_rng(f->h), clock_wall_ms(&harness_clock(f->h)->base), t, id, p,
		      id, NULL);
}

static void ev_send(struct fx *f, const struct envelope *e)
{
	assert_int_equal(harness_publish(f->h, e, NULL), ECOM_OK);
}

static void feed(struct fx *f, enum event_type t, const char *id, int64_t attempt)
{
	struct envelope e;

	ev_make(f, &e, t, id, attempt);
	ev_send(f, &e);
	envelope_deinit(&e);
	quiet(f);
}

/* The OrderStatusChanged events published for an order, in log order. */
struct changes {
	int n;
	char status[32][32];
	int64_t seq[32];
	int64_t attempt[32];
};

static void changes_of(struct fx *f, const char *id, struct changes *c)
{
	const char *topic = event_type_name(EV_ORDER_STATUS_CHANGED);
	int64_t n = harness_topic_count(f->h, topic);

	memset(c, 0, sizeof(*c));
	for (int64_t i = 0; i < n; i++) {
		struct envelope e;

		assert_int_equal(harness_topic_get(f->h, topic, i, &e), ECOM_OK);
		if (strcmp(jsonx_str(e.payload, "orderId"), id) == 0) {
			assert_true(c->n < 32);
			snprintf(c->status[c->n], 32, "%s", jsonx_str(e.payload, "status"));
			c->seq[c->n] = jsonx_int_or(e.payload, "seq", -1);
			c->attempt[c->n] = jsonx_int_or(e.payload, "attempt", -1);
			assert_string_equal(e.key, id);
			c->n++;
		}
		envelope_deinit(&e);
	}
}

/* An oracle independent of the service's table. */
static int t_rank(const char *s)
{
	if (!strcmp(s, "CREATED") || !strcmp(s, "RETRYING"))
		return 0;
	if (!strcmp(s, "INVENTORY_RESERVED"))
		return 1;
	if (!strcmp(s, "PAYMENT_AUTHORIZED"))
		return 2;
	if (!strcmp(s, "INVENTORY_FAILED") || !strcmp(s, "PAYMENT_FAILED") ||
	    !strcmp(s, "SHIPPING_FAILED"))
		return 3;
	if (!strcmp(s, "SHIPPED") || !strcmp(s, "CANCELLED"))
		return 4;
	fail_msg("unknown status %s", s);
	return -1;
}

/* seq contiguous from 1, ranks strictly rising within an attempt. */
static void assert_changes_sane(const struct changes *c)
{
	for (int i = 0; i < c->n; i++) {
		assert_int_equal(c->seq[i], i + 1);
		if (i > 0 && c->attempt[i] == c->attempt[i - 1])
			assert_true(t_rank(c->status[i]) > t_rank(c->status[i - 1]));
	}
}

/* ---- validation --------------------------------------------------------------------- */

static void test_validation_every_rule(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *body, *msg;
	} cases[] = {
		{ "[]", "body: must be a JSON object" },
		{ "{\"total\":20}", "items: must be an array of 1..100 items" },
		{ "{\"items\":{},\"total\":20}", "items: must be an array of 1..100 items" },
		{ "{\"items\":[],\"total\":0}", "items: 1..100 items" },
		{ "{\"items\":[5],\"total\":20}", "items[0]: must be an object {sku, qty}" },
		{ "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":1},{\"qty\":1}],\"total\":20}",
		  "items[1].sku: must be a non-empty string" },
		{ "{\"items\":[{\"sku\":\"\",\"qty\":1}],\"total\":20}",
		  "items[0].sku: must be a non-empty string" },
		{ "{\"items\":[{\"sku\":\"X\",\"qty\":1}],\"total\":20}",
		  "items[0].sku: unknown SKU 'X'" },
		{ "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":1},{\"sku\":\"SKU-2\",\"qty\":1},"
		  "{\"sku\":\"SKU-3\",\"qty\":0}],\"total\":30}",
		  "items[2].qty: must be an integer 1..1000" },
		{ "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":1001}],\"total\":10010}",
		  "items[0].qty: must be an integer 1..1000" },
		{ "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":1.5}],\"total\":15}",
		  "items[0].qty: must be an integer 1..1000" },
		{ "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":\"2\"}],\"total\":20}",
		  "items[0].qty: must be an integer 1..1000" },
		{ "{\"items\":[{\"sku\":\"SKU-1\"}],\"total\":20}",
		  "items[0].qty: must be an integer 1..1000" },
		{ "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}]}", "total: required" },
		{ "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":-1}",
		  "total: must be a number >= 0 with at most two decimals" },
		{ "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":\"20\"}",
		  "total: must be a number >= 0 with at most two decimals" },
		{ "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":20.001}",
		  "total: must be a number >= 0 with at most two decimals" },
		{ "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":30}",
		  "total: 30 does not match the catalog price 20" },
		{ "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":1},{\"sku\":\"SKU-1\",\"qty\":1}],"
		  "\"total\":19.5}",
		  "total: 19.5 does not match the catalog price 20" },
		{ "{\"orderId\":\"\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":20}",
		  "orderId: 1..128 chars of [A-Za-z0-9._:-]" },
		{ "{\"orderId\":\"a b\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":20}",
		  "orderId: 1..128 chars of [A-Za-z0-9._:-]" },
		{ "{\"orderId\":7,\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":20}",
		  "orderId: 1..128 chars of [A-Za-z0-9._:-]" },
	};

	for (size_t i = 0; i < ECOM_ARRAY_LEN(cases); i++) {
		json_t *body = parse(cases[i].body), *resp = (json_t *)1;
		struct ecom_err err = { 0 };

		assert_int_equal(order_create(f->o, body, &resp, &err), ECOM_INVALID);
		assert_null(resp);
		assert_string_equal(err.msg, cases[i].msg);
		json_decref(body);
	}

	/* 101 items, and a 129-character orderId. */
	{
		json_t *body = json_pack("{s:[],s:i}", "items", "total", 1010), *resp = NULL;
		struct ecom_err err = { 0 };
		char id[130];

		for (int i = 0; i < 101; i++)
			json_array_append_new(json_object_get(body, "items"),
					      json_pack("{s:s,s:i}", "sku", "SKU-1", "qty", 1));
		assert_int_equal(order_create(f->o, body, &resp, &err), ECOM_INVALID);
		assert_string_equal(err.msg, "items: 1..100 items");
		memset(id, 'a', 129);
		id[129] = '\0';
		json_array_clear(json_object_get(body, "items"));
		json_array_append_new(json_object_get(body, "items"),
				      json_pack("{s:s,s:i}", "sku", "SKU-1", "qty", 1));
		jsonx_set_int(body, "total", 10);
		jsonx_set_str(body, "orderId", id);
		assert_int_equal(order_create(f->o, body, &resp, &err), ECOM_INVALID);
		assert_string_equal(err.msg, "orderId: 1..128 chars of [A-Za-z0-9._:-]");
		id[128] = '\0'; /* 128 is still fine */
		jsonx_set_str(body, "orderId", id);
		assert_int_equal(order_create(f->o, body, &resp, &err), ECOM_OK);
		json_decref(resp);
		json_decref(body);
	}

	/* Nothing but the last, valid order was written or published. */
	quiet(f);
	assert_int_equal(mem_store_count(fx_store(f), "orders"), 1);
	assert_int_equal(harness_topic_count(f->h, event_type_name(EV_ORDER_CREATED)), 1);
}

/* Prices in cents with decimals, on a hand-made catalog. */
static void test_validation_decimal_prices(void **state)
{
	struct fx *f = *state;
	struct catalog_item items[] = { { "A", 1999, 5 }, { "B", 500, 5 } };
	struct catalog cat = { items, 2 };
	struct order_service *o = order_service_new(&cat, NULL);
	json_t *body = parse("{\"orderId\":\"dec-1\",\"items\":[{\"sku\":\"A\",\"qty\":1},"
			     "{\"sku\":\"B\",\"qty\":1}],\"total\":25}");
	json_t *resp = NULL, *d;
	struct ecom_err err = { 0 };

	order_service_attach(o, f->rt);
	assert_int_equal(order_create(o, body, &resp, &err), ECOM_INVALID);
	assert_string_equal(err.msg, "total: 25 does not match the catalog price 24.99");
	json_object_set_new(body, "total", json_real(24.99));
	assert_int_equal(order_create(o, body, &resp, &err), ECOM_OK);
	json_decref(resp);
	d = doc_of(f, "dec-1");
	assert_int_equal(jsonx_int_or(d, "total", 0), 2499);
	json_decref(d);
	assert_int_equal(order_get(o, "dec-1", &d, &err), ECOM_OK);
	assert_true(json_is_real(json_object_get(d, "total")));
	assert_true(json_real_value(json_object_get(d, "total")) == 24.99);
	json_decref(d);
	json_decref(body);
	order_service_free(o);
}

/* ---- creation ----------------------------------------------------------------------- */

static void test_create_shape_and_event(void **state)
{
	struct fx *f = *state;
	char id[160];
	json_t *d, *w;
	struct envelope e;
	struct ecom_err err = { 0 };

	/* Duplicate SKUs are allowed and kept as given. */
	create_ok(f,
		  "{\"orderId\":\"o-1\",\"items\":[{\"sku\":\"SKU-2\",\"qty\":1},"
		  "{\"sku\":\"SKU-1\",\"qty\":2},{\"sku\":\"SKU-2\",\"qty\":3}],\"total\":60}",
		  id);
	assert_string_equal(id, "o-1");
	d = doc_of(f, "o-1");
	assert_string_equal(jsonx_str(d, "status"), "CREATED");
	assert_int_equal(jsonx_int_or(d, "seq", -1), 0);
	assert_int_equal(jsonx_int_or(d, "attempt", -1), 0);
	assert_int_equal(jsonx_int_or(d, "total", -1), 6000);
	assert_int_equal(json_array_size(json_object_get(d, "items")), 3);
	assert_string_equal(jsonx_str(json_array_get(json_object_get(d, "items"), 2), "sku"),
			    "SKU-2");
	assert_string_equal(jsonx_str(d, "step"), "inventory");
	assert_int_equal(json_array_size(json_object_get(d, "outbox")), 0); /* published */
	json_decref(d);

	/* Exactly one OrderCreated, keyed and correlated by the order id, money on the wire. */
	assert_int_equal(harness_count_for_order(f->h, EV_ORDER_CREATED, "o-1"), 1);
	assert_int_equal(harness_topic_get(f->h, event_type_name(EV_ORDER_CREATED), 0, &e), ECOM_OK);
	assert_string_equal(e.key, "o-1");
	assert_string_equal(e.correlation_id, "o-1");
	assert_int_equal(json_integer_value(json_object_get(e.payload, "total")), 60);
	assert_int_equal(json_array_size(json_object_get(e.payload, "items")), 3);
	assert_int_equal(jsonx_int_or(e.payload, "attempt", -1), 0);
	envelope_deinit(&e);
	/* No status change for creation: CREATED is the initial status, seq 0. */
	assert_int_equal(harness_topic_count(f->h, event_type_name(EV_ORDER_STATUS_CHANGED)), 0);

	assert_int_equal(order_get(f->o, "o-1", &w, &err), ECOM_OK);
	assert_string_equal(jsonx_str(w, "_id"), "o-1");
	assert_int_equal(json_integer_value(json_object_get(w, "total")), 60);
	assert_string_equal(jsonx_str(w, "status"), "CREATED");
	assert_string_equal(jsonx_str(w, "correlationId"), "o-1");
	assert_string_equal(jsonx_str(w, "createdAt"), "2026-01-01T00:00:01.000Z");
	assert_non_null(jsonx_str(w, "updatedAt"));
	assert_int_equal(json_array_size(json_object_get(w, "history")), 1);
	assert_string_equal(jsonx_str(json_array_get(json_object_get(w, "history"), 0), "type"),
			    "order.OrderCreated.v1");
	assert_null(json_object_get(w, "inbox"));
	json_decref(w);

	assert_int_equal(order_get(f->o, "nope", &w, &err), ECOM_NOT_FOUND);
	assert_null(w);
}

static void test_create_idempotent(void **state)
{
	struct fx *f = *state;
	const char *body_text =
		"{\"orderId\":\"same\",\"items\":[{\"sku\":\"SKU-3\",\"qty\":1}],\"total\":10}";
	json_t *body = parse(body_text), *resp = NULL, *d1, *d2;
	struct ecom_err err = { 0 };

	for (int i = 0; i < 3; i++) {
		assert_int_equal(order_create(f->o, body, &resp, &err), ECOM_OK);
		assert_string_equal(jsonx_str(resp, "orderId"), "same");
		json_decref(resp);
		quiet(f);
	}
	d1 = doc_of(f, "same");
	assert_int_equal(harness_count_for_order(f->h, EV_ORDER_CREATED, "same"), 1);

	/* Same id, different body: refused, nothing changes. */
	jsonx_set_int(json_array_get(json_object_get(body, "items"), 0), "qty", 2);
	jsonx_set_int(body, "total", 20);
	assert_int_equal(order_create(f->o, body, &resp, &err), ECOM_CONFLICT);
	assert_null(resp);
	assert_string_equal(err.msg, "orderId: already used with a different body");
	quiet(f);
	d2 = doc_of(f, "same");
	assert_true(json_equal(d1, d2));
	assert_int_equal(harness_count_for_order(f->h, EV_ORDER_CREATED, "same"), 1);
	json_decref(d1);
	json_decref(d2);
	json_decref(body);
}

static void test_create_draws_uuid(void **state)
{
	struct fx *f = *state;
	char a[160], b[160];

	create_ok(f, "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}", a);
	create_ok(f, "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}", b);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[14], '4');
	assert_string_not_equal(a, b);
	assert_int_equal(mem_store_count(fx_store(f), "orders"), 2);
	assert_int_equal(harness_count_for_order(f->h, EV_ORDER_CREATED, a), 1);
	assert_int_equal(harness_count_for_order(f->h, EV_ORDER_CREATED, b), 1);
}

/* Same seed, same calls: the same drawn ids. */
static void test_create_uuid_deterministic(void **state)
{
	char ids[2][160];

	(void)state;
	for (int run = 0; run < 2; run++) {
		struct fx *f = fx_new(0, T_LONG_US);

		create_ok(f, "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}", ids[run]);
		fx_free(f);
	}
	assert_string_equal(ids[0], ids[1]);
}

/* ---- the fold --------------------------------------------------------------------------- */

static void test_fold_happy_path(void **state)
{
	struct fx *f = *state;
	struct changes c;
	json_t *d;

	create_id(f, "h1");
	feed(f, EV_INVENTORY_RESERVED, "h1", 0);
	assert_status(f, "h1", "INVENTORY_RESERVED");
	assert_int_equal(doc_int(f, "h1", "seq"), 1);
	feed(f, EV_PAYMENT_AUTHORIZED, "h1", 0);
	assert_status(f, "h1", "PAYMENT_AUTHORIZED");
	feed(f, EV_ORDER_SHIPPED, "h1", 0);
	d = doc_of(f, "h1");
	assert_string_equal(jsonx_str(d, "status"), "SHIPPED");
	assert_int_equal(jsonx_int_or(d, "seq", 0), 3);
	assert_int_equal(jsonx_int_or(d, "captured_cents", 0), 2000);
	assert_true(jsonx_bool_or(d, "held", 0));
	assert_null(json_object_get(d, "step"));
	assert_null(json_object_get(d, "wake_at"));
	assert_int_equal(json_array_size(json_object_get(d, "history")), 4);
	json_decref(d);
	changes_of(f, "h1", &c);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.status[0], "INVENTORY_RESERVED");
	assert_string_equal(c.status[1], "PAYMENT_AUTHORIZED");
	assert_string_equal(c.status[2], "SHIPPED");
	assert_changes_sane(&c);
}

static void test_fold_failures(void **state)
{
	struct fx *f = *state;
	struct changes c;
	json_t *d;

	/* Inventory: no holds, straight through INVENTORY_FAILED to CANCELLED. */
	create_id(f, "fi");
	feed(f, EV_INVENTORY_FAILED, "fi", 0);
	d = doc_of(f, "fi");
	assert_string_equal(jsonx_str(d, "status"), "CANCELLED");
	assert_string_equal(jsonx_str(d, "failed_step"), "inventory");
	assert_string_equal(jsonx_str(d, "reason"), "test-failure");
	json_decref(d);
	changes_of(f, "fi", &c);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.status[0], "INVENTORY_FAILED");
	assert_string_equal(c.status[1], "CANCELLED");
	assert_changes_sane(&c);

	/* Payment: waits for the release. */
	create_id(f, "fp");
	feed(f, EV_INVENTORY_RESERVED, "fp", 0);
	feed(f, EV_PAYMENT_FAILED, "fp", 0);
	assert_status(f, "fp", "PAYMENT_FAILED");
	assert_true(doc_bool(f, "fp", "held"));
	feed(f, EV_INVENTORY_RELEASED, "fp", 0);
	d = doc_of(f, "fp");
	assert_string_equal(jsonx_str(d, "status"), "CANCELLED");
	assert_string_equal(jsonx_str(d, "failed_step"), "payment");
	assert_false(jsonx_bool_or(d, "held", 1));
	assert_true(jsonx_bool_or(d, "released", 0));
	json_decref(d);

	/* Shipping: waits for the refund AND the release, in either order. */
	create_id(f, "fs");
	feed(f, EV_INVENTORY_RESERVED, "fs", 0);
	feed(f, EV_PAYMENT_AUTHORIZED, "fs", 0);
	feed(f, EV_SHIPPING_FAILED, "fs", 0);
	assert_status(f, "fs", "SHIPPING_FAILED");
	feed(f, EV_PAYMENT_REFUNDED, "fs", 0);
	assert_status(f, "fs", "SHIPPING_FAILED");
	feed(f, EV_INVENTORY_RELEASED, "fs", 0);
	d = doc_of(f, "fs");
	assert_string_equal(jsonx_str(d, "status"), "CANCELLED");
	assert_string_equal(jsonx_str(d, "failed_step"), "shipping");
	assert_int_equal(jsonx_int_or(d, "captured_cents", 0), 2000);
	assert_int_equal(jsonx_int_or(d, "refunded_cents", 0), 2000);
	json_decref(d);
	changes_of(f, "fs", &c);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.status[2], "SHIPPING_FAILED");
	assert_string_equal(c.status[3], "CANCELLED");
	assert_changes_sane(&c);
}

/* Contradictory late events (a protocol violation by another service) are recorded but
 * never move a terminal status, and emit no status change. */
static void test_terminal_never_moves(void **state)
{
	struct fx *f = *state;
	struct changes c;
	json_t *d;

	create_id(f, "z");
	feed(f, EV_INVENTORY_RESERVED, "z", 0);
	feed(f, EV_PAYMENT_FAILED, "z", 0);
	feed(f, EV_INVENTORY_RELEASED, "z", 0);
	assert_status(f, "z", "CANCELLED");
	feed(f, EV_ORDER_SHIPPED, "z", 0);
	feed(f, EV_PAYMENT_AUTHORIZED, "z", 0);
	d = doc_of(f, "z");
	assert_string_equal(jsonx_str(d, "status"), "CANCELLED");
	assert_int_equal(jsonx_int_or(d, "seq", 0), 3);
	assert_int_equal(json_array_size(json_object_get(d, "history")), 6);
	json_decref(d);
	changes_of(f, "z", &c);
	assert_int_equal(c.n, 3);

	create_id(f, "y");
	feed(f, EV_ORDER_SHIPPED, "y", 0);
	feed(f, EV_SHIPPING_FAILED, "y", 0);
	feed(f, EV_INVENTORY_FAILED, "y", 0);
	assert_status(f, "y", "SHIPPED");
	changes_of(f, "y", &c);
	assert_int_equal(c.n, 1);
}

/* Every arrival order of every path, each event delivered twice (also straight after
 * itself), with the runtime's inbox on and off: same final status, sane changes. */
struct path {
	const char *name;
	enum event_type ev[5];
	int n;
	const char *final;
	const char *before_final; /* the failure status a CANCELLED passes through */
};

static const struct path paths[] = {
	{ "ok", { EV_INVENTORY_RESERVED, EV_PAYMENT_AUTHORIZED, EV_ORDER_SHIPPED }, 3, "SHIPPED",
	  NULL },
	{ "pf", { EV_INVENTORY_RESERVED, EV_PAYMENT_FAILED, EV_INVENTORY_RELEASED }, 3, "CANCELLED",
	  "PAYMENT_FAILED" },
	{ "sf",
	  { EV_INVENTORY_RESERVED, EV_PAYMENT_AUTHORIZED, EV_SHIPPING_FAILED, EV_PAYMENT_REFUNDED,
	    EV_INVENTORY_RELEASED },
	  5,
	  "CANCELLED",
	  "SHIPPING_FAILED" },
	{ "if", { EV_INVENTORY_FAILED, EV_INVENTORY_RELEASED }, 2, "CANCELLED",
	  "INVENTORY_FAILED" },
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

#define PERM_ORDERS_MAX 160

static void run_permutations(uint32_t bugs)
{
	struct fx *f = fx_new(bugs, T_LONG_US);
	static char ids[PERM_ORDERS_MAX][32];
	static int perm_of[PERM_ORDERS_MAX][5], path_of[PERM_ORDERS_MAX];
	static struct envelope evs[PERM_ORDERS_MAX][5];
	int n = 0;

	for (size_t p = 0; p < ECOM_ARRAY_LEN(paths); p++) {
		int a[5] = { 0, 1, 2, 3, 4 };

		do {
			assert_true(n < PERM_ORDERS_MAX);
			snprintf(ids[n], sizeof(ids[n]), "%s-%d", paths[p].name, n);
			memcpy(perm_of[n], a, sizeof(a));
			path_of[n] = (int)p;
			create_id(f, ids[n]);
			for (int k = 0; k < paths[p].n; k++)
				ev_make(f, &evs[n][k], paths[p].ev[k], ids[n], 0);
			n++;
		} while (next_perm(a, paths[p].n));
	}
	/* Round k: every order gets the k-th event of its permutation, twice. */
	for (int k = 0; k < 5; k++) {
		for (int i = 0; i < n; i++) {
			if (k >= paths[path_of[i]].n)
				continue;
			ev_send(f, &evs[i][perm_of[i][k]]);
			ev_send(f, &evs[i][perm_of[i][k]]);
		}
		quiet(f);
	}
	/* And everything once more at the end. */
	for (int i = 0; i < n; i++)
		for (int k = 0; k < paths[path_of[i]].n; k++)
			ev_send(f, &evs[i][k]);
	quiet(f);

	for (int i = 0; i < n; i++) {
		const struct path *p = &paths[path_of[i]];
		struct changes c;
		json_t *d = doc_of(f, ids[i]);

		assert_string_equal(jsonx_str(d, "status"), p->final);
		changes_of(f, ids[i], &c);
		assert_true(c.n >= 1);
		assert_changes_sane(&c);
		assert_int_equal(jsonx_int_or(d, "seq", -1), c.n);
		assert_string_equal(c.status[c.n - 1], p->final);
		if (p->before_final) {
			assert_true(c.n >= 2);
			assert_string_equal(c.status[c.n - 2], p->before_final);
		}
		/* Each event recorded once in the history: creation + the path's events. */
		assert_int_equal(json_array_size(json_object_get(d, "history")), 1 + p->n);
		json_decref(d);
		for (int k = 0; k < p->n; k++)
			envelope_deinit(&evs[i][k]);
	}
	fx_free(f);
}

static void test_fold_every_order_with_duplicates(void **state)
{
	(void)state;
	run_permutations(0);
}

static void test_fold_every_order_without_inbox(void **state)
{
	(void)state;
	run_permutations(BUG_SKIP_INBOX_DEDUP); /* the service's own dedupe must hold */
}

/* ---- admin operations ------------------------------------------------------------------ */

/* Calls retry (step) or compensate (action) and checks the refusal wrote nothing. */
static void refused(struct fx *f, const char *id, const char *step, const char *action,
		    int want_rc, const char *want_msg)
{
	struct store *s = fx_store(f);
	json_t *before = NULL, *after = NULL, *resp = (json_t *)1;
	struct ecom_err err = { 0 };
	uint64_t appended = mem_cluster_appended(harness_cluster(f->h));
	int rc;

	store_get(s, "orders", id, &before, NULL);
	if (step)
		rc = order_retry(f->o, id, step, &resp, &err);
	else
		rc = order_compensate(f->o, id, action, &resp, &err);
	assert_int_equal(rc, want_rc);
	assert_null(resp);
	if (want_msg)
		assert_string_equal(err.msg, want_msg);
	quiet(f);
	store_get(s, "orders", id, &after, NULL);
	assert_true((!before && !after) || json_equal(before, after));
	assert_int_equal(mem_cluster_appended(harness_cluster(f->h)), appended);
	json_decref(before);
	json_decref(after);
}

static void test_admin_bad_input_and_unknown(void **state)
{
	struct fx *f = *state;

	create_id(f, "a0");
	refused(f, "nope", "payment", NULL, ECOM_NOT_FOUND, "order nope not found");
	refused(f, "nope", NULL, "refundPayment", ECOM_NOT_FOUND, "order nope not found");
	refused(f, "a0", "billing", NULL, ECOM_INVALID,
		"step: must be one of inventory, payment, shipping");
	refused(f, "a0", NULL, "refund", ECOM_INVALID,
		"action: must be one of releaseInventory, refundPayment");
	assert_int_equal(mem_store_count(fx_store(f), "orders"), 1);
}

static void test_admin_refusals(void **state)
{
	struct fx *f = *state;

	/* Shipped: nothing to retry or compensate. */
	create_id(f, "s");
	feed(f, EV_INVENTORY_RESERVED, "s", 0);
	feed(f, EV_PAYMENT_AUTHORIZED, "s", 0);
	feed(f, EV_ORDER_SHIPPED, "s", 0);
	refused(f, "s", "shipping", NULL, ECOM_REFUSED, "order is SHIPPED");
	refused(f, "s", NULL, "refundPayment", ECOM_REFUSED, "order is SHIPPED");

	/* Running saga: not halted. */
	create_id(f, "r");
	feed(f, EV_INVENTORY_RESERVED, "r", 0);
	refused(f, "r", "payment", NULL, ECOM_REFUSED,
		"order is INVENTORY_RESERVED: the saga is still running");
	refused(f, "r", NULL, "releaseInventory", ECOM_REFUSED,
		"order is INVENTORY_RESERVED: the saga is not halted");

	/* Payment failed, release pending: retry waits for the compensation. */
	create_id(f, "p");
	feed(f, EV_INVENTORY_RESERVED, "p", 0);
	feed(f, EV_PAYMENT_FAILED, "p", 0);
	refused(f, "p", "payment", NULL, ECOM_REFUSED, "compensation still in progress");
	refused(f, "p", NULL, "refundPayment", ECOM_REFUSED,
		"nothing to compensate: no captured payment left to refund");

	/* Cancelled by the inventory: only that step can be retried; nothing to undo. */
	create_id(f, "i");
	feed(f, EV_INVENTORY_FAILED, "i", 0);
	refused(f, "i", "payment", NULL, ECOM_REFUSED, "step payment never failed");
	refused(f, "i", "shipping", NULL, ECOM_REFUSED, "step shipping never failed");
	refused(f, "i", NULL, "releaseInventory", ECOM_REFUSED,
		"nothing to compensate: no inventory held");
	refused(f, "i", NULL, "refundPayment", ECOM_REFUSED,
		"nothing to compensate: no captured payment left to refund");
}

static void test_admin_retry(void **state)
{
	struct fx *f = *state;
	json_t *resp = NULL, *d;
	struct ecom_err err = { 0 };
	struct envelope e;
	struct changes c;

	create_id(f, "x");
	feed(f, EV_INVENTORY_RESERVED, "x", 0);
	feed(f, EV_PAYMENT_FAILED, "x", 0);
	feed(f, EV_INVENTORY_RELEASED, "x", 0);
	assert_status(f, "x", "CANCELLED");

	assert_int_equal(order_retry(f->o, "x", "payment", &resp, &err), ECOM_OK);
	assert_string_equal(jsonx_str(resp, "orderId"), "x");
	assert_string_equal(jsonx_str(resp, "step"), "payment");
	assert_int_equal(jsonx_int_or(resp, "attempt", -1), 1);
	assert_string_equal(jsonx_str(resp, "status"), "RETRYING");
	json_decref(resp);
	quiet(f);
	assert_int_equal(harness_count_for_order(f->h, EV_RETRY_REQUESTED, "x"), 1);
	assert_int_equal(harness_topic_get(f->h, event_type_name(EV_RETRY_REQUESTED), 0, &e),
			 ECOM_OK);
	assert_string_equal(jsonx_str(e.payload, "step"), "payment");
	assert_int_equal(jsonx_int_or(e.payload, "attempt", -1), 1);
	assert_string_equal(e.key, "x");
	envelope_deinit(&e);
	d = doc_of(f, "x");
	assert_string_equal(jsonx_str(d, "status"), "RETRYING");
	assert_int_equal(jsonx_int_or(d, "attempt", -1), 1);
	assert_true(jsonx_bool_or(d, "retry_running", 0));
	assert_null(json_object_get(d, "failed_step"));
	assert_string_equal(jsonx_str(d, "step"), "inventory");
	json_decref(d);

	/* While it runs: the same request is "already requested", another is refused too. */
	refused(f, "x", "payment", NULL, ECOM_REFUSED, "already requested");
	refused(f, "x", "inventory", NULL, ECOM_REFUSED, "a retry is already running");

	/* Events of attempt 0 arriving late are recorded, not applied. */
	feed(f, EV_PAYMENT_AUTHORIZED, "x", 0);
	assert_status(f, "x", "RETRYING");
	assert_int_equal(doc_int(f, "x", "captured_cents"), 2000); /* the ledger knows */

	/* Attempt 1 goes through. */
	feed(f, EV_INVENTORY_RESERVED, "x", 1);
	assert_status(f, "x", "INVENTORY_RESERVED");
	feed(f, EV_PAYMENT_AUTHORIZED, "x", 1);
	feed(f, EV_ORDER_SHIPPED, "x", 1);
	d = doc_of(f, "x");
	assert_string_equal(jsonx_str(d, "status"), "SHIPPED");
	assert_false(jsonx_bool_or(d, "retry_running", 1));
	json_decref(d);
	refused(f, "x", "payment", NULL, ECOM_REFUSED, "order is SHIPPED");

	changes_of(f, "x", &c);
	assert_changes_sane(&c);
	assert_string_equal(c.status[3], "RETRYING");
	assert_int_equal(c.attempt[3], 1);
	assert_string_equal(c.status[c.n - 1], "SHIPPED");
}

static void test_admin_compensate(void **state)
{
	struct fx *f = *state;
	json_t *resp = NULL;
	struct ecom_err err = { 0 };
	struct envelope e;

	/* Payment failed and the release never came: release by hand. */
	create_id(f, "c1");
	feed(f, EV_INVENTORY_RESERVED, "c1", 0);
	feed(f, EV_PAYMENT_FAILED, "c1", 0);
	assert_int_equal(order_compensate(f->o, "c1", "releaseInventory", &resp, &err), ECOM_OK);
	assert_string_equal(jsonx_str(resp, "action"), "releaseInventory");
	assert_int_equal(jsonx_int_or(resp, "attempt", -1), 0);
	json_decref(resp);
	quiet(f);
	assert_int_equal(harness_count_for_order(f->h, EV_COMPENSATION_REQUESTED, "c1"), 1);
	assert_int_equal(harness_topic_get(f->h, event_type_name(EV_COMPENSATION_REQUESTED), 0, &e),
			 ECOM_OK);
	assert_string_equal(jsonx_str(e.payload, "action"), "releaseInventory");
	assert_int_equal(jsonx_int_or(e.payload, "attempt", -1), 0);
	envelope_deinit(&e);
	refused(f, "c1", NULL, "releaseInventory", ECOM_REFUSED, "already requested");
	feed(f, EV_INVENTORY_RELEASED, "c1", 0);
	assert_status(f, "c1", "CANCELLED");
	refused(f, "c1", NULL, "releaseInventory", ECOM_REFUSED,
		"nothing to compensate: no inventory held");

	/* Shipping failed with a capture: refund by hand while the automatic one is late. */
	create_id(f, "c2");
	feed(f, EV_INVENTORY_RESERVED, "c2", 0);
	feed(f, EV_PAYMENT_AUTHORIZED, "c2", 0);
	feed(f, EV_SHIPPING_FAILED, "c2", 0);
	assert_int_equal(order_compensate(f->o, "c2", "refundPayment", &resp, &err), ECOM_OK);
	json_decref(resp);
	quiet(f);
	refused(f, "c2", NULL, "refundPayment", ECOM_REFUSED, "already requested");
	refused(f, "c2", "shipping", NULL, ECOM_REFUSED, "compensation still in progress");
	feed(f, EV_PAYMENT_REFUNDED, "c2", 0);
	feed(f, EV_INVENTORY_RELEASED, "c2", 0);
	assert_status(f, "c2", "CANCELLED");
	refused(f, "c2", NULL, "refundPayment", ECOM_REFUSED,
		"nothing to compensate: no captured payment left to refund");
	assert_int_equal(harness_count_for_order(f->h, EV_COMPENSATION_REQUESTED, "c2"), 1);

	/* A legal retry after all that. */
	assert_int_equal(order_retry(f->o, "c2", "shipping", &resp, &err), ECOM_OK);
	json_decref(resp);
}

/* ---- deadlines ---------------------------------------------------------------------------- */

static int timeouts_for(struct fx *f, const char *id, const char *step, int64_t attempt)
{
	const char *topic = event_type_name(EV_STEP_TIMEOUT);
	int64_t n = harness_topic_count(f->h, topic);
	int count = 0;

	for (int64_t i = 0; i < n; i++) {
		struct envelope e;

		assert_int_equal(harness_topic_get(f->h, topic, i, &e), ECOM_OK);
		if (strcmp(jsonx_str(e.payload, "orderId"), id) == 0 &&
		    strcmp(jsonx_str(e.payload, "step"), step) == 0 &&
		    jsonx_int_or(e.payload, "attempt", -1) == attempt)
			count++;
		envelope_deinit(&e);
	}
	return count;
}

/* Runs the world until the clock reaches at_us (absolute). */
static void run_until(struct fx *f, int64_t at_us)
{
	int64_t now = harness_clock(f->h)->now_us;

	assert_true(at_us > now);
	harness_run_for(f->h, at_us - now);
}

#define T_HALF_S (500LL * 1000)

static void test_deadline_fires_once_then_stuck(void **state)
{
	struct fx *f = *state;
	int64_t deadline;
	json_t *d;

	create_id(f, "d");
	deadline = doc_int(f, "d", "deadline_us");
	assert_int_equal(deadline, doc_int(f, "d", "created_us") + T_DEADLINE_US);
	assert_int_equal(doc_int(f, "d", "wake_at"), deadline); /* the runtime's timer */
	run_until(f, deadline - T_HALF_S);
	assert_int_equal(timeouts_for(f, "d", "inventory", 0), 0);
	run_until(f, deadline + T_HALF_S + 100 * 1000);
	assert_int_equal(timeouts_for(f, "d", "inventory", 0), 1);
	d = doc_of(f, "d");
	assert_false(jsonx_bool_or(d, "stuck", 1));
	deadline = jsonx_int_or(d, "deadline_us", 0); /* the second deadline */
	json_decref(d);
	/* The second deadline: flagged stuck, no second StepTimeout, status unchanged. */
	run_until(f, deadline - T_HALF_S);
	assert_false(doc_bool(f, "d", "stuck"));
	run_until(f, deadline + T_HALF_S + 100 * 1000);
	assert_int_equal(timeouts_for(f, "d", "inventory", 0), 1);
	d = doc_of(f, "d");
	assert_true(jsonx_bool_or(d, "stuck", 0));
	assert_string_equal(jsonx_str(d, "stuck_step"), "inventory");
	assert_string_equal(jsonx_str(d, "status"), "CREATED");
	assert_null(json_object_get(d, "wake_at"));
	json_decref(d);
	harness_run_for(f->h, 5 * T_DEADLINE_US);
	assert_int_equal(timeouts_for(f, "d", "inventory", 0), 1);

	/* Progress un-sticks it; the next step gets its own deadline and one timeout. */
	feed(f, EV_INVENTORY_RESERVED, "d", 0);
	assert_false(doc_bool(f, "d", "stuck"));
	run_until(f, doc_int(f, "d", "deadline_us") + T_HALF_S + 100 * 1000);
	assert_int_equal(timeouts_for(f, "d", "payment", 0), 1);
	/* The owner answers with its failure: compensation has a deadline too, but no owner
	 * to time out; past it the order is stuck. */
	feed(f, EV_PAYMENT_FAILED, "d", 0);
	assert_status(f, "d", "PAYMENT_FAILED");
	assert_false(doc_bool(f, "d", "stuck"));
	run_until(f, doc_int(f, "d", "deadline_us") + T_HALF_S + 100 * 1000);
	assert_true(doc_bool(f, "d", "stuck"));
	assert_int_equal(harness_count_for_order(f->h, EV_STEP_TIMEOUT, "d"), 2);
	/* An admin can compensate a stuck order; once done it is terminal and not stuck. */
	{
		json_t *resp = NULL;
		struct ecom_err err = { 0 };

		assert_int_equal(order_compensate(f->o, "d", "releaseInventory", &resp, &err),
				 ECOM_OK);
		json_decref(resp);
	}
	feed(f, EV_INVENTORY_RELEASED, "d", 0);
	d = doc_of(f, "d");
	assert_string_equal(jsonx_str(d, "status"), "CANCELLED");
	assert_false(jsonx_bool_or(d, "stuck", 1));
	json_decref(d);
}

static void test_no_timeout_when_in_time(void **state)
{
	struct fx *f = *state;

	create_id(f, "t");
	harness_run_for(f->h, T_DEADLINE_US / 2);
	feed(f, EV_INVENTORY_RESERVED, "t", 0);
	harness_run_for(f->h, T_DEADLINE_US / 2);
	feed(f, EV_PAYMENT_AUTHORIZED, "t", 0);
	harness_run_for(f->h, T_DEADLINE_US / 2);
	feed(f, EV_ORDER_SHIPPED, "t", 0);
	harness_run_for(f->h, 10 * T_DEADLINE_US);
	assert_int_equal(harness_count_for_order(f->h, EV_STEP_TIMEOUT, "t"), 0);
	assert_status(f, "t", "SHIPPED");
}

static void test_bug_no_deadline(void **state)
{
	struct fx *f = fx_new(BUG_NO_DEADLINE, T_DEADLINE_US);
	json_t *d;

	(void)state;
	create_id(f, "n");
	harness_run_for(f->h, 10 * T_DEADLINE_US);
	assert_int_equal(harness_count_for_order(f->h, EV_STEP_TIMEOUT, "n"), 0);
	d = doc_of(f, "n");
	assert_null(json_object_get(d, "wake_at"));
	assert_false(jsonx_bool_or(d, "stuck", 1));
	json_decref(d);
	fx_free(f);

	/* The same through the order's own config. */
	{
		struct harness *h = harness_new(3, 2);
		struct catalog cat;
		struct order_config oc = { .step_deadline_us = T_DEADLINE_US,
					   .bugs = BUG_NO_DEADLINE };
		struct order_service *o;
		json_t *body = parse("{\"orderId\":\"m\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],"
				     "\"total\":10}"),
		       *resp = NULL;

		catalog_init_default(&cat, 10);
		o = order_service_new(&cat, &oc);
		order_service_attach(o, harness_add(h, order_svc_def(), o, "order#1", NULL));
		assert_int_equal(order_create(o, body, &resp, NULL), ECOM_OK);
		harness_run_for(h, 10 * T_DEADLINE_US);
		assert_int_equal(harness_count_for_order(h, EV_STEP_TIMEOUT, "m"), 0);
		json_decref(resp);
		json_decref(body);
		harness_free(h);
		order_service_free(o);
		catalog_deinit(&cat);
	}
}

/* Route: events of other orders' ids are routed by payload orderId; unknown orders and ids
 * too long for an aggregate are ignored without writing anything. */
static void test_unknown_order_ignored(void **state)
{
	struct fx *f = *state;

	feed(f, EV_INVENTORY_RESERVED, "ghost", 0);
	assert_int_equal(mem_store_count(fx_store(f), "orders"), 0);
	assert_int_equal(harness_topic_count(f->h, event_type_name(EV_ORDER_STATUS_CHANGED)), 0);
	assert_int_equal(harness_topic_count(f->h, "inventory.InventoryReserved.v1.dlq"), 0);
}

/* ---- ambiguous commits ------------------------------------------------------------------ */

/* A store whose next `ambiguous` writes are applied but reported as failed (a lost ack). */
struct amb_store {
	struct store base;
	struct store *inner;
	int ambiguous;
	int writes;
};

static int amb_get(struct store *s, const char *c, const char *id, json_t **out,
		   struct ecom_err *e)
{
	return store_get(((struct amb_store *)s)->inner, c, id, out, e);
}

static int amb_result(struct amb_store *a, int rc)
{
	a->writes++;
	if (rc == ECOM_OK && a->ambiguous > 0) {
		a->ambiguous--;
		return ECOM_AMBIGUOUS;
	}
	return rc;
}

static int amb_insert(struct store *s, const char *c, json_t *doc, struct ecom_err *e)
{
	struct amb_store *a = (struct amb_store *)s;

	return amb_result(a, store_insert(a->inner, c, doc, e));
}

static int amb_replace(struct store *s, const char *c, json_t *doc, int64_t v,
		       struct ecom_err *e)
{
	struct amb_store *a = (struct amb_store *)s;

	return amb_result(a, store_replace(a->inner, c, doc, v, e));
}

static int amb_find(struct store *s, const char *c, const struct store_query *q, json_t **out,
		    struct ecom_err *e)
{
	return store_find(((struct amb_store *)s)->inner, c, q, out, e);
}

static int amb_remove(struct store *s, const char *c, const char *id, struct ecom_err *e)
{
	return store_remove(((struct amb_store *)s)->inner, c, id, e);
}

static void amb_destroy(struct store *s)
{
	store_destroy(((struct amb_store *)s)->inner);
}

static const struct store_ops amb_ops = {
	.name = "ambiguous",
	.get = amb_get,
	.insert = amb_insert,
	.replace = amb_replace,
	.find = amb_find,
	.remove = amb_remove,
	.destroy = amb_destroy,
};

/* Steps one runtime by hand (it is not a harness instance) until it idles. */
static void amb_run(struct fx *f, struct runtime *rt)
{
	struct manual_clock *clk = harness_clock(f->h);
	int idle = 0;

	for (int i = 0; i < 10000 && idle < 8; i++) {
		int64_t next;

		if (runtime_step(rt, &next)) {
			clk->now_us += 100;
			idle = 0;
			continue;
		}
		idle++;
		clk->now_us = next != INT64_MAX && next > clk->now_us ? next : clk->now_us + 1000;
	}
}

/* The runtime re-runs a command whose commit was ambiguous; the service must recognise its
 * own applied effect and answer OK once, with one event in the outbox. */
static void test_ambiguous_commits_apply_once(void **state)
{
	struct fx *f = *state;
	static struct amb_store amb;
	struct broker *client = mem_broker_new(harness_cluster(f->h), "order#amb");
	struct order_service *o = order_service_new(&f->cat, NULL);
	struct runtime *rt;
	json_t *body = parse("{\"orderId\":\"amb\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],"
			     "\"total\":20}"),
	       *resp = NULL, *d = NULL;
	struct ecom_err err = { 0 };
	struct envelope e;

	amb = (struct amb_store){ .base = { &amb_ops }, .inner = mem_store_new() };
	rt = runtime_new(order_svc_def(), o, client, &amb.base, &harness_clock(f->h)->base,
			 harness_rng(f->h), NULL);
	f->x_rt = rt;
	f->x_client = client;
	f->x_store = &amb.base;
	f->x_o = o;
	assert_int_equal(runtime_start(rt, NULL), ECOM_OK);
	order_service_attach(o, rt);

	amb.ambiguous = 1;
	assert_int_equal(order_create(o, body, &resp, &err), ECOM_OK);
	assert_string_equal(jsonx_str(resp, "orderId"), "amb");
	json_decref(resp);
	amb_run(f, rt); /* the sweep publishes what the ambiguous commit left */
	assert_int_equal(harness_count_for_order(f->h, EV_ORDER_CREATED, "amb"), 1);

	ev_make(f, &e, EV_INVENTORY_FAILED, "amb", 0);
	ev_send(f, &e);
	envelope_deinit(&e);
	amb_run(f, rt);
	assert_int_equal(store_get(&amb.base, "orders", "amb", &d, NULL), ECOM_OK);
	assert_string_equal(jsonx_str(d, "status"), "CANCELLED");
	json_decref(d);

	amb.ambiguous = 1;
	assert_int_equal(order_retry(o, "amb", "inventory", &resp, &err), ECOM_OK);
	assert_int_equal(jsonx_int_or(resp, "attempt", -1), 1);
	json_decref(resp);
	amb_run(f, rt);
	assert_int_equal(store_get(&amb.base, "orders", "amb", &d, NULL), ECOM_OK);
	assert_int_equal(jsonx_int_or(d, "attempt", -1), 1);
	json_decref(d);
	assert_int_equal(harness_count_for_order(f->h, EV_RETRY_REQUESTED, "amb"), 1);

	ev_make(f, &e, EV_INVENTORY_RESERVED, "amb", 1);
	ev_send(f, &e);
	envelope_deinit(&e);
	ev_make(f, &e, EV_PAYMENT_FAILED, "amb", 1);
	ev_send(f, &e);
	envelope_deinit(&e);
	amb_run(f, rt);
	amb.ambiguous = 1;
	assert_int_equal(order_compensate(o, "amb", "releaseInventory", &resp, &err), ECOM_OK);
	assert_int_equal(jsonx_int_or(resp, "attempt", -1), 1);
	json_decref(resp);
	amb_run(f, rt);
	assert_int_equal(harness_count_for_order(f->h, EV_COMPENSATION_REQUESTED, "amb"), 1);
	assert_int_equal(store_get(&amb.base, "orders", "amb", &d, NULL), ECOM_OK);
	assert_int_equal(json_array_size(json_object_get(d, "comp_pending")), 1);
	json_decref(d);

	json_decref(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_validation_every_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validation_decimal_prices, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_shape_and_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_draws_uuid, setup, teardown),
		cmocka_unit_test(test_create_uuid_deterministic),
		cmocka_unit_test_setup_teardown(test_fold_happy_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fold_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_terminal_never_moves, setup, teardown),
		cmocka_unit_test(test_fold_every_order_with_duplicates),
		cmocka_unit_test(test_fold_every_order_without_inbox),
		cmocka_unit_test_setup_teardown(test_admin_bad_input_and_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin_compensate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline_fires_once_then_stuck, setup_deadline,
						teardown),
		cmocka_unit_test_setup_teardown(test_no_timeout_when_in_time, setup_deadline, teardown),
		cmocka_unit_test(test_bug_no_deadline),
		cmocka_unit_test_setup_teardown(test_unknown_order_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous_commits_apply_once, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
