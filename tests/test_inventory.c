/* test_inventory.c — the inventory service on the test harness (runtime + mem broker +
 * mem store): reserve all-or-nothing, out-of-stock rollback before InventoryFailed,
 * releases on PaymentFailed/ShippingFailed/compensation, commit on OrderShipped, retry for
 * a new attempt, deadlines (fences) mid-reservation and before the order arrived,
 * duplicate and out-of-order delivery, stock conservation under competing orders on two
 * instances, seeding, and the two planted bugs producing the defects they promise. */
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
#include "services/inventory/inventory.h"
#include "sim/mem_store.h"
#include "support/harness.h"

#define QUIET_US (120LL * 1000 * 1000)

struct fx {
	struct harness *h;
	struct catalog cat;
	struct inventory_service *svc;
	struct svc_def res_only; /* reservation side only (stock commands stay unconsumed) */
	struct svc_def stock_only;
};

static const enum event_type res_types[] = {
	EV_ORDER_CREATED,   EV_STOCK_RESULT,	       EV_PAYMENT_FAILED, EV_SHIPPING_FAILED,
	EV_ORDER_SHIPPED,   EV_RETRY_REQUESTED, EV_COMPENSATION_REQUESTED, EV_STEP_TIMEOUT,
};
static const enum event_type stock_types[] = { EV_STOCK_COMMAND };

/* SKU-1..SKU-3 with `stock` units each, seeded. */
static struct fx *fx_new(int64_t stock)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct inventory_config cfg;

	f->h = harness_new(11, 4);
	catalog_init_uniform(&f->cat, 3, 1000, stock);
	cfg.catalog = &f->cat;
	f->svc = inventory_service_new(&cfg);
	assert_int_equal(inventory_seed_stock(harness_store(f->h, "inventory"), &f->cat, NULL),
			 ECOM_OK);
	f->res_only = *inventory_svc_def();
	f->res_only.types = res_types;
	f->res_only.n_types = ECOM_ARRAY_LEN(res_types);
	f->stock_only = *inventory_svc_def();
	f->stock_only.types = stock_types;
	f->stock_only.n_types = ECOM_ARRAY_LEN(stock_types);
	return f;
}

static void fx_free(struct fx *f)
{
	harness_free(f->h);
	inventory_service_free(f->svc);
	catalog_deinit(&f->cat);
	free(f);
}

static void add_full(struct fx *f, const char *name, uint32_t bugs)
{
	struct runtime_config cfg = { .bugs = bugs };

	harness_add(f->h, inventory_svc_def(), f->svc, name, &cfg);
}

/* Publishes an event with a payload given as JSON text; returns the envelope through e
 * (caller deinits) when e is non-NULL, so a test can publish the very same message again. */
static void pub_env(struct fx *f, enum event_type t, const char *key, const char *json,
		    struct envelope *keep)
{
	assert_int_equal(harness_publish_json(f->h, t, key, json, keep), ECOM_OK);
}

static void pub(struct fx *f, enum event_type t, const char *key, const char *json)
{
	pub_env(f, t, key, json, NULL);
}

static void quiet(struct fx *f)
{
	harness_run_until_quiet(f->h, QUIET_US);
}

/* The n-th (0-based) payload of `type` for order (new reference), or NULL. */
static json_t *nth(struct fx *f, enum event_type type, const char *order, int n)
{
	return harness_nth_payload(f->h, type, order, n);
}

static int count(struct fx *f, enum event_type type, const char *order)
{
	return harness_count_for_order(f->h, type, order);
}

/* Stock commands with this op for order (and sku, if non-NULL). */
static int count_cmds(struct fx *f, const char *order, const char *sku, const char *op)
{
	int n = 0;

	for (int i = 0;; i++) {
		json_t *p = nth(f, EV_STOCK_COMMAND, order, i);

		if (!p)
			break;
		if (strcmp(jsonx_str_or(p, "op", ""), op) == 0 &&
		    (!sku || strcmp(jsonx_str_or(p, "sku", ""), sku) == 0))
			n++;
		json_decref(p);
	}
	return n;
}

static json_t *get_doc(struct fx *f, const char *coll, const char *id)
{
	json_t *d = NULL;

	if (store_get(harness_store(f->h, "inventory"), coll, id, &d, NULL) != ECOM_OK)
		return NULL;
	return d;
}

struct stock_view {
	int64_t initial, available, held, shipped, hold_qty;
	int64_t hold_attempt;
};

static struct stock_view stock(struct fx *f, const char *sku, const char *order)
{
	json_t *d = get_doc(f, INVENTORY_COLL_STOCK, sku), *h;
	struct stock_view v;

	assert_non_null(d);
	v.initial = jsonx_int_or(d, "initial", -1);
	v.available = jsonx_int_or(d, "available", -1);
	v.held = jsonx_int_or(d, "held", -1);
	v.shipped = jsonx_int_or(d, "shipped", -1);
	h = order ? json_object_get(json_object_get(d, "holds"), order) : NULL;
	v.hold_qty = h ? jsonx_int_or(h, "qty", -1) : 0;
	v.hold_attempt = h ? jsonx_int_or(h, "attempt", -1) : -1;
	json_decref(d);
	return v;
}

/* Every SKU conserved, never negative, held == the sum of its active holds. */
static void assert_conserved(struct fx *f)
{
	for (size_t i = 0; i < f->cat.n; i++) {
		json_t *d = get_doc(f, INVENTORY_COLL_STOCK, f->cat.items[i].sku), *h;
		const char *k;
		int64_t sum = 0;

		assert_non_null(d);
		assert_int_equal(jsonx_int_or(d, "available", -1) + jsonx_int_or(d, "held", -1) +
					 jsonx_int_or(d, "shipped", -1),
				 jsonx_int_or(d, "initial", -2));
		assert_true(jsonx_int_or(d, "available", -1) >= 0);
		json_object_foreach(json_object_get(d, "holds"), k, h)
			sum += jsonx_int_or(h, "qty", 0);
		assert_int_equal(sum, jsonx_int_or(d, "held", -1));
		json_decref(d);
	}
}

static const char *res_phase(struct fx *f, const char *order, char out[32])
{
	json_t *d = get_doc(f, INVENTORY_COLL_RESERVATIONS, order);

	snprintf(out, 32, "%s", d ? jsonx_str_or(d, "phase", "?") : "(none)");
	json_decref(d);
	return out;
}

#define ORDER_O1 "{\"orderId\":\"o1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}," \
		 "{\"sku\":\"SKU-2\",\"qty\":1},{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":30}"

/* ---- tests -------------------------------------------------------------------------- */

static void test_reserve_then_commit(void **state)
{
	struct fx *f = fx_new(10);
	json_t *p;
	char ph[32];

	(void)state;
	add_full(f, "inventory#1", 0);
	pub(f, EV_ORDER_CREATED, "o1", ORDER_O1);
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "o1"), 1);
	p = nth(f, EV_INVENTORY_RESERVED, "o1", 0);
	/* one line per distinct SKU, merged, sorted; total and attempt carried along */
	assert_int_equal(json_array_size(json_object_get(p, "reservedItems")), 2);
	assert_string_equal(jsonx_str(json_array_get(json_object_get(p, "reservedItems"), 0),
				      "sku"),
			    "SKU-1");
	assert_int_equal(jsonx_int_or(json_array_get(json_object_get(p, "reservedItems"), 0),
				      "qty", 0),
			 3);
	assert_int_equal(jsonx_int_or(p, "total", -1), 30);
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 0);
	json_decref(p);
	assert_int_equal(count_cmds(f, "o1", NULL, "hold"), 2);
	assert_int_equal(stock(f, "SKU-1", "o1").available, 7);
	assert_int_equal(stock(f, "SKU-1", "o1").hold_qty, 3);
	assert_int_equal(stock(f, "SKU-2", "o1").held, 1);
	assert_conserved(f);

	pub(f, EV_ORDER_SHIPPED, "o1",
	    "{\"orderId\":\"o1\",\"carrier\":\"UPS\",\"trackingId\":\"t\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", "o1").shipped, 3);
	assert_int_equal(stock(f, "SKU-1", "o1").held, 0);
	assert_int_equal(stock(f, "SKU-1", "o1").hold_qty, 0);
	assert_int_equal(stock(f, "SKU-1", "o1").available, 7);
	assert_string_equal(res_phase(f, "o1", ph), "committed");
	assert_conserved(f);

	/* a compensation after shipping releases nothing but still answers */
	pub(f, EV_COMPENSATION_REQUESTED, "o1",
	    "{\"orderId\":\"o1\",\"action\":\"releaseInventory\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RELEASED, "o1"), 1);
	p = nth(f, EV_INVENTORY_RELEASED, "o1", 0);
	assert_int_equal(json_array_size(json_object_get(p, "releasedItems")), 0);
	json_decref(p);
	assert_int_equal(stock(f, "SKU-1", NULL).shipped, 3);
	assert_conserved(f);
	fx_free(f);
}

static void test_out_of_stock_rolls_back_first(void **state)
{
	struct fx *f = fx_new(2);
	json_t *p;
	char ph[32];

	(void)state;
	add_full(f, "inventory#1", 0);
	pub(f, EV_ORDER_CREATED, "o2",
	    "{\"orderId\":\"o2\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2},"
	    "{\"sku\":\"SKU-2\",\"qty\":3}],\"total\":50}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "o2"), 0);
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "o2"), 1);
	p = nth(f, EV_INVENTORY_FAILED, "o2", 0);
	assert_string_equal(jsonx_str(p, "reason"), "out_of_stock");
	json_decref(p);
	/* SKU-1 was held, then released before the failure was announced */
	assert_int_equal(count_cmds(f, "o2", "SKU-1", "release"), 1);
	assert_int_equal(count_cmds(f, "o2", "SKU-2", "release"), 0);
	assert_int_equal(stock(f, "SKU-1", "o2").available, 2);
	assert_int_equal(stock(f, "SKU-1", "o2").held, 0);
	assert_string_equal(res_phase(f, "o2", ph), "failed");
	assert_conserved(f);
	fx_free(f);
}

/* The failure is announced only after the release answered: drive the reservation alone. */
static void test_failed_waits_for_releases(void **state)
{
	struct fx *f = fx_new(5);

	(void)state;
	harness_add(f->h, &f->res_only, f->svc, "inventory-res", NULL);
	pub(f, EV_ORDER_CREATED, "o1", ORDER_O1);
	quiet(f);
	assert_int_equal(count_cmds(f, "o1", NULL, "hold"), 2);
	pub(f, EV_STOCK_RESULT, "o1",
	    "{\"orderId\":\"o1\",\"sku\":\"SKU-1\",\"qty\":3,\"op\":\"hold\",\"ok\":true,"
	    "\"attempt\":0}");
	pub(f, EV_STOCK_RESULT, "o1",
	    "{\"orderId\":\"o1\",\"sku\":\"SKU-2\",\"qty\":0,\"op\":\"hold\",\"ok\":false,"
	    "\"reason\":\"out_of_stock\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(count_cmds(f, "o1", "SKU-1", "release"), 1);
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "o1"), 0);
	pub(f, EV_STOCK_RESULT, "o1",
	    "{\"orderId\":\"o1\",\"sku\":\"SKU-1\",\"qty\":3,\"op\":\"release\",\"ok\":true,"
	    "\"attempt\":0}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "o1"), 1);
	fx_free(f);
}

static void release_after(struct fx *f, enum event_type t, const char *json)
{
	json_t *p;

	add_full(f, "inventory#1", 0);
	pub(f, EV_ORDER_CREATED, "o1", ORDER_O1);
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", NULL).held, 3);
	pub(f, t, "o1", json);
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RELEASED, "o1"), 1);
	p = nth(f, EV_INVENTORY_RELEASED, "o1", 0);
	assert_int_equal(json_array_size(json_object_get(p, "releasedItems")), 2);
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 0);
	json_decref(p);
	assert_int_equal(stock(f, "SKU-1", "o1").available, 10);
	assert_int_equal(stock(f, "SKU-1", "o1").hold_qty, 0);
	assert_int_equal(stock(f, "SKU-2", NULL).available, 10);
	assert_conserved(f);
}

static void test_release_on_payment_failed(void **state)
{
	struct fx *f = fx_new(10);

	(void)state;
	release_after(f, EV_PAYMENT_FAILED,
		      "{\"orderId\":\"o1\",\"reason\":\"card_declined\",\"attempt\":0}");
	/* a stale attempt's failure (new eventId) does nothing more */
	pub(f, EV_PAYMENT_FAILED, "o1", "{\"orderId\":\"o1\",\"reason\":\"x\",\"attempt\":7}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RELEASED, "o1"), 1);
	assert_int_equal(count_cmds(f, "o1", NULL, "release"), 2);
	fx_free(f);
}

static void test_release_on_shipping_failed(void **state)
{
	struct fx *f = fx_new(10);

	(void)state;
	release_after(f, EV_SHIPPING_FAILED,
		      "{\"orderId\":\"o1\",\"reason\":\"carrier_error\",\"attempt\":0}");
	fx_free(f);
}

static void test_release_on_compensation(void **state)
{
	struct fx *f = fx_new(10);

	(void)state;
	release_after(f, EV_COMPENSATION_REQUESTED,
		      "{\"orderId\":\"o1\",\"action\":\"releaseInventory\",\"attempt\":0}");
	/* again: nothing left, but the order hears back */
	pub(f, EV_COMPENSATION_REQUESTED, "o1",
	    "{\"orderId\":\"o1\",\"action\":\"releaseInventory\",\"attempt\":0}");
	/* a refundPayment compensation is not inventory's business */
	pub(f, EV_COMPENSATION_REQUESTED, "o1",
	    "{\"orderId\":\"o1\",\"action\":\"refundPayment\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RELEASED, "o1"), 2);
	assert_int_equal(count_cmds(f, "o1", NULL, "release"), 2);
	assert_conserved(f);
	fx_free(f);
}

static void test_compensation_unknown_order(void **state)
{
	struct fx *f = fx_new(10);
	char ph[32];

	(void)state;
	add_full(f, "inventory#1", 0);
	pub(f, EV_COMPENSATION_REQUESTED, "o9",
	    "{\"orderId\":\"o9\",\"action\":\"releaseInventory\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RELEASED, "o9"), 1);
	/* the order that shows up afterwards is not reserved: the saga was closed */
	pub(f, EV_ORDER_CREATED, "o9",
	    "{\"orderId\":\"o9\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}");
	quiet(f);
	assert_int_equal(count_cmds(f, "o9", NULL, "hold"), 0);
	assert_string_equal(res_phase(f, "o9", ph), "released");
	fx_free(f);
}

static void test_retry_new_attempt(void **state)
{
	struct fx *f = fx_new(10);
	json_t *p;
	char ph[32];

	(void)state;
	release_after(f, EV_PAYMENT_FAILED,
		      "{\"orderId\":\"o1\",\"reason\":\"card_declined\",\"attempt\":0}");
	pub(f, EV_RETRY_REQUESTED, "o1",
	    "{\"orderId\":\"o1\",\"step\":\"payment\",\"attempt\":1}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "o1"), 2);
	p = nth(f, EV_INVENTORY_RESERVED, "o1", 1);
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 1);
	json_decref(p);
	assert_int_equal(stock(f, "SKU-1", "o1").hold_attempt, 1);
	assert_int_equal(stock(f, "SKU-1", "o1").hold_qty, 3);
	/* the same retry again, and the old attempt's events, change nothing */
	pub(f, EV_RETRY_REQUESTED, "o1",
	    "{\"orderId\":\"o1\",\"step\":\"payment\",\"attempt\":1}");
	pub(f, EV_PAYMENT_FAILED, "o1", "{\"orderId\":\"o1\",\"reason\":\"x\",\"attempt\":0}");
	pub(f, EV_ORDER_SHIPPED, "o1",
	    "{\"orderId\":\"o1\",\"carrier\":\"UPS\",\"trackingId\":\"t\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "o1"), 2);
	assert_int_equal(stock(f, "SKU-1", "o1").hold_qty, 3);
	assert_int_equal(stock(f, "SKU-1", NULL).shipped, 0);
	/* attempt 0's hold answered ok once more (a redelivered hold): the reservation lets
	 * go of it with attempt 0, which cannot touch attempt 1's hold */
	pub(f, EV_STOCK_RESULT, "o1",
	    "{\"orderId\":\"o1\",\"sku\":\"SKU-2\",\"qty\":1,\"op\":\"hold\",\"ok\":true,"
	    "\"attempt\":0}");
	quiet(f);
	assert_int_equal(count_cmds(f, "o1", "SKU-2", "release"), 2);
	assert_int_equal(stock(f, "SKU-2", "o1").hold_attempt, 1);
	assert_int_equal(stock(f, "SKU-2", "o1").hold_qty, 1);
	pub(f, EV_ORDER_SHIPPED, "o1",
	    "{\"orderId\":\"o1\",\"carrier\":\"UPS\",\"trackingId\":\"t\",\"attempt\":1}");
	pub(f, EV_ORDER_SHIPPED, "o1",
	    "{\"orderId\":\"o1\",\"carrier\":\"UPS\",\"trackingId\":\"t\",\"attempt\":1}");
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", NULL).shipped, 3);
	assert_int_equal(count_cmds(f, "o1", "SKU-1", "commit"), 1);
	assert_string_equal(res_phase(f, "o1", ph), "committed");
	/* a retry of a shipped order never reserves again */
	pub(f, EV_RETRY_REQUESTED, "o1",
	    "{\"orderId\":\"o1\",\"step\":\"inventory\",\"attempt\":2}");
	quiet(f);
	assert_int_equal(count_cmds(f, "o1", NULL, "hold"), 4);
	assert_conserved(f);
	fx_free(f);
}

static void test_retry_before_order(void **state)
{
	struct fx *f = fx_new(10);
	json_t *p;

	(void)state;
	add_full(f, "inventory#1", 0);
	pub(f, EV_RETRY_REQUESTED, "o5",
	    "{\"orderId\":\"o5\",\"step\":\"inventory\",\"attempt\":1}");
	quiet(f);
	assert_int_equal(count_cmds(f, "o5", NULL, "hold"), 0);
	pub(f, EV_ORDER_CREATED, "o5",
	    "{\"orderId\":\"o5\",\"items\":[{\"sku\":\"SKU-3\",\"qty\":4}],\"total\":40}");
	quiet(f);
	p = nth(f, EV_INVENTORY_RESERVED, "o5", 0);
	assert_non_null(p);
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 1);
	json_decref(p);
	assert_int_equal(stock(f, "SKU-3", "o5").hold_attempt, 1);
	fx_free(f);
}

static void test_duplicates(void **state)
{
	struct fx *f = fx_new(10);
	struct envelope e;

	(void)state;
	add_full(f, "inventory#1", 0);
	/* the same message twice, and the same order under a new eventId */
	pub_env(f, EV_ORDER_CREATED, "o1", ORDER_O1, &e);
	assert_int_equal(harness_publish(f->h, &e, NULL), ECOM_OK);
	pub(f, EV_ORDER_CREATED, "o1", ORDER_O1);
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "o1"), 1);
	assert_int_equal(count_cmds(f, "o1", NULL, "hold"), 2);
	assert_int_equal(stock(f, "SKU-1", NULL).held, 3);
	/* the same message much later */
	assert_int_equal(harness_publish(f->h, &e, NULL), ECOM_OK);
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "o1"), 1);
	envelope_deinit(&e);
	/* a stock command and a stock result delivered again under new eventIds */
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"o1\",\"sku\":\"SKU-1\",\"qty\":3,\"op\":\"hold\",\"attempt\":0}");
	pub(f, EV_STOCK_RESULT, "o1",
	    "{\"orderId\":\"o1\",\"sku\":\"SKU-1\",\"qty\":3,\"op\":\"hold\",\"ok\":true,"
	    "\"attempt\":0}");
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", NULL).held, 3);
	assert_int_equal(stock(f, "SKU-1", NULL).available, 7);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "o1"), 1);
	assert_int_equal(count_cmds(f, "o1", NULL, "release"), 0);
	/* PaymentFailed twice (new eventIds): one round of releases, each hold freed once */
	pub(f, EV_PAYMENT_FAILED, "o1", "{\"orderId\":\"o1\",\"reason\":\"x\",\"attempt\":0}");
	pub(f, EV_PAYMENT_FAILED, "o1", "{\"orderId\":\"o1\",\"reason\":\"x\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", NULL).available, 10);
	assert_int_equal(count_cmds(f, "o1", "SKU-1", "release"), 1);
	/* a release of an absent hold is a no-op answering ok with qty 0 */
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"o1\",\"sku\":\"SKU-1\",\"qty\":3,\"op\":\"release\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", NULL).available, 10);
	assert_conserved(f);
	fx_free(f);
}

/* A hold redelivered after its release (beyond the inbox window) is held again by the
 * stock rules; the reservation sees a "held" it does not want and releases it again. */
static void test_hold_reapplied_after_release_is_healed(void **state)
{
	struct fx *f = fx_new(10);

	(void)state;
	release_after(f, EV_PAYMENT_FAILED,
		      "{\"orderId\":\"o1\",\"reason\":\"x\",\"attempt\":0}");
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"o1\",\"sku\":\"SKU-1\",\"qty\":3,\"op\":\"hold\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", "o1").hold_qty, 0);
	assert_int_equal(stock(f, "SKU-1", NULL).available, 10);
	assert_int_equal(count_cmds(f, "o1", "SKU-1", "release"), 2);
	assert_conserved(f);
	fx_free(f);
}

/* Stock commands straight at the stock aggregate, out of order and across attempts. */
static void test_stock_rules(void **state)
{
	struct fx *f = fx_new(5);

	(void)state;
	harness_add(f->h, &f->stock_only, f->svc, "inventory-stock", NULL);
	/* release before hold: no-op; the hold then holds */
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"x\",\"sku\":\"SKU-1\",\"qty\":2,\"op\":\"release\",\"attempt\":0}");
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"x\",\"sku\":\"SKU-1\",\"qty\":2,\"op\":\"hold\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", "x").hold_qty, 2);
	assert_int_equal(stock(f, "SKU-1", NULL).available, 3);
	/* a newer attempt takes the hold over; an older attempt's hold is stale */
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"x\",\"sku\":\"SKU-1\",\"qty\":2,\"op\":\"hold\",\"attempt\":1}");
	quiet(f);
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"x\",\"sku\":\"SKU-1\",\"qty\":2,\"op\":\"hold\",\"attempt\":0}");
	/* an older attempt's release or commit does not touch the newer hold */
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"x\",\"sku\":\"SKU-1\",\"qty\":2,\"op\":\"release\",\"attempt\":0}");
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"x\",\"sku\":\"SKU-1\",\"qty\":2,\"op\":\"commit\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", "x").hold_attempt, 1);
	assert_int_equal(stock(f, "SKU-1", NULL).held, 2);
	assert_int_equal(stock(f, "SKU-1", NULL).available, 3);
	/* more than available: refused, nothing moves */
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"y\",\"sku\":\"SKU-1\",\"qty\":4,\"op\":\"hold\",\"attempt\":0}");
	/* commit twice: the second is a no-op */
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"x\",\"sku\":\"SKU-1\",\"qty\":2,\"op\":\"commit\",\"attempt\":1}");
	pub(f, EV_STOCK_COMMAND, "SKU-1",
	    "{\"orderId\":\"x\",\"sku\":\"SKU-1\",\"qty\":2,\"op\":\"commit\",\"attempt\":1}");
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", NULL).shipped, 2);
	assert_int_equal(stock(f, "SKU-1", NULL).held, 0);
	assert_int_equal(stock(f, "SKU-1", NULL).available, 3);
	assert_int_equal(stock(f, "SKU-1", "y").hold_qty, 0);
	{
		json_t *p;
		int refused = 0, stale = 0;

		for (int i = 0; (p = nth(f, EV_STOCK_RESULT, "y", i)); i++) {
			refused += !jsonx_bool_or(p, "ok", 1) &&
				   strcmp(jsonx_str_or(p, "reason", ""), "out_of_stock") == 0;
			json_decref(p);
		}
		for (int i = 0; (p = nth(f, EV_STOCK_RESULT, "x", i)); i++) {
			stale += !jsonx_bool_or(p, "ok", 1) &&
				 strcmp(jsonx_str_or(p, "reason", ""), "stale_attempt") == 0;
			json_decref(p);
		}
		assert_int_equal(refused, 1);
		assert_int_equal(stale, 1);
	}
	/* a SKU never seeded: from the catalog if it is there, else 0 units */
	pub(f, EV_STOCK_COMMAND, "SKU-77",
	    "{\"orderId\":\"z\",\"sku\":\"SKU-77\",\"qty\":1,\"op\":\"hold\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(stock(f, "SKU-77", NULL).initial, 0);
	assert_int_equal(stock(f, "SKU-77", NULL).held, 0);
	assert_conserved(f);
	fx_free(f);
}

/* Deadline mid-reservation: SKU-1 held, SKU-2 not answered yet. */
static void test_fence_mid_reservation(void **state)
{
	struct fx *f = fx_new(10);
	json_t *p;
	char ph[32];

	(void)state;
	harness_add(f->h, &f->res_only, f->svc, "inventory-res", NULL);
	pub(f, EV_ORDER_CREATED, "o1", ORDER_O1);
	quiet(f);
	/* let the stock side apply the holds, but hold back its SKU-2 answer: play it by hand */
	pub(f, EV_STOCK_RESULT, "o1",
	    "{\"orderId\":\"o1\",\"sku\":\"SKU-1\",\"qty\":3,\"op\":\"hold\",\"ok\":true,"
	    "\"attempt\":0}");
	quiet(f);
	pub(f, EV_STEP_TIMEOUT, "o1", "{\"orderId\":\"o1\",\"step\":\"inventory\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "o1"), 1);
	p = nth(f, EV_INVENTORY_FAILED, "o1", 0);
	assert_string_equal(jsonx_str(p, "reason"), "deadline");
	json_decref(p);
	assert_int_equal(count_cmds(f, "o1", "SKU-1", "release"), 1);
	assert_string_equal(res_phase(f, "o1", ph), "failed");
	/* the late SKU-2 answer: released, no reservation, no second failure */
	pub(f, EV_STOCK_RESULT, "o1",
	    "{\"orderId\":\"o1\",\"sku\":\"SKU-2\",\"qty\":1,\"op\":\"hold\",\"ok\":true,"
	    "\"attempt\":0}");
	pub(f, EV_STEP_TIMEOUT, "o1", "{\"orderId\":\"o1\",\"step\":\"inventory\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(count_cmds(f, "o1", "SKU-2", "release"), 1);
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "o1"), 1);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "o1"), 0);
	/* now the stock side runs every command in order: nothing stays held */
	harness_add(f->h, &f->stock_only, f->svc, "inventory-stock",
		    &(struct runtime_config){ .group = "inventory-stock-group" });
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", NULL).held, 0);
	assert_int_equal(stock(f, "SKU-2", NULL).held, 0);
	assert_int_equal(stock(f, "SKU-1", NULL).available, 10);
	assert_conserved(f);
	fx_free(f);
}

static void test_fence_before_order_and_after_reserve(void **state)
{
	struct fx *f = fx_new(10);

	(void)state;
	add_full(f, "inventory#1", 0);
	pub(f, EV_STEP_TIMEOUT, "o7", "{\"orderId\":\"o7\",\"step\":\"inventory\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "o7"), 1);
	pub(f, EV_ORDER_CREATED, "o7",
	    "{\"orderId\":\"o7\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}");
	quiet(f);
	assert_int_equal(count_cmds(f, "o7", NULL, "hold"), 0);
	assert_int_equal(stock(f, "SKU-1", NULL).available, 10);
	/* a reserved order's deadline: nothing (its success is on its way) */
	pub(f, EV_ORDER_CREATED, "o1", ORDER_O1);
	quiet(f);
	pub(f, EV_STEP_TIMEOUT, "o1", "{\"orderId\":\"o1\",\"step\":\"inventory\",\"attempt\":0}");
	/* other steps' deadlines are not inventory's */
	pub(f, EV_STEP_TIMEOUT, "o8", "{\"orderId\":\"o8\",\"step\":\"payment\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "o1"), 0);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "o1"), 1);
	assert_int_equal(stock(f, "SKU-1", NULL).held, 3);
	assert_null(get_doc(f, INVENTORY_COLL_RESERVATIONS, "o8"));
	fx_free(f);
}

/* Twelve orders on two instances compete for 5 units of SKU-1 and 4 of SKU-2. */
static void test_competing_orders_conserve_stock(void **state)
{
	struct fx *f;
	int reserved = 0, failed = 0;
	int64_t reserved_units = 0;

	(void)state;
	f = fx_new(5);
	{
		/* SKU-2 has only 4: take one unit away through a hold that stays */
		add_full(f, "inventory#1", 0);
		add_full(f, "inventory#2", 0);
		pub(f, EV_STOCK_COMMAND, "SKU-2",
		    "{\"orderId\":\"keep\",\"sku\":\"SKU-2\",\"qty\":1,\"op\":\"hold\","
		    "\"attempt\":0}");
	}
	for (int i = 0; i < 12; i++) {
		char id[16], body[256];

		snprintf(id, sizeof(id), "c%02d", i);
		snprintf(body, sizeof(body),
			 "{\"orderId\":\"%s\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1},"
			 "{\"sku\":\"SKU-2\",\"qty\":1}],\"total\":20}",
			 id);
		pub(f, EV_ORDER_CREATED, id, body);
	}
	quiet(f);
	for (int i = 0; i < 12; i++) {
		char id[16];
		int r, fl;

		snprintf(id, sizeof(id), "c%02d", i);
		r = count(f, EV_INVENTORY_RESERVED, id);
		fl = count(f, EV_INVENTORY_FAILED, id);
		assert_int_equal(r + fl, 1);
		reserved += r;
		failed += fl;
		if (r)
			reserved_units += stock(f, "SKU-1", id).hold_qty;
		else
			assert_int_equal(stock(f, "SKU-1", id).hold_qty, 0);
	}
	assert_true(reserved >= 1 && reserved <= 4);
	assert_int_equal(reserved + failed, 12);
	assert_int_equal(stock(f, "SKU-1", NULL).held, reserved_units);
	assert_int_equal(stock(f, "SKU-2", NULL).held, reserved_units + 1);
	assert_true(stock(f, "SKU-2", NULL).available >= 0);
	assert_conserved(f);
	/* every reserved order fails payment: everything comes back */
	for (int i = 0; i < 12; i++) {
		char id[16], body[128];

		snprintf(id, sizeof(id), "c%02d", i);
		snprintf(body, sizeof(body), "{\"orderId\":\"%s\",\"reason\":\"x\",\"attempt\":0}",
			 id);
		pub(f, EV_PAYMENT_FAILED, id, body);
	}
	quiet(f);
	assert_int_equal(stock(f, "SKU-1", NULL).available, 5);
	assert_int_equal(stock(f, "SKU-2", NULL).held, 1);
	assert_conserved(f);
	fx_free(f);
}

static void test_seed_idempotent(void **state)
{
	struct fx *f = fx_new(4);
	json_t *d;

	(void)state;
	d = get_doc(f, INVENTORY_COLL_STOCK, "SKU-2");
	assert_non_null(d);
	assert_int_equal(jsonx_int_or(d, "version", 0), 1);
	assert_string_equal(jsonx_str(d, "sku"), "SKU-2");
	assert_true(json_is_object(json_object_get(d, "holds")));
	json_decref(d);
	assert_int_equal(mem_store_count(harness_store(f->h, "inventory"), "stock"), 3);
	add_full(f, "inventory#1", 0);
	pub(f, EV_ORDER_CREATED, "o1", ORDER_O1);
	quiet(f);
	assert_int_equal(inventory_seed_stock(harness_store(f->h, "inventory"), &f->cat, NULL),
			 ECOM_OK);
	assert_int_equal(stock(f, "SKU-1", NULL).held, 3);
	assert_int_equal(mem_store_count(harness_store(f->h, "inventory"), "stock"), 3);
	fx_free(f);
}

static void test_route(void **state)
{
	const struct svc_def *d = inventory_svc_def();
	struct svc_route r;
	struct envelope e;
	struct rng rng;

	(void)state;
	rng_seed(&rng, 1);
	envelope_init(&e, &rng, 0, EV_STOCK_COMMAND, "SKU-9",
		      json_pack("{s:s,s:s,s:i,s:s}", "orderId", "o", "sku", "SKU-9", "qty", 1,
				"op", "hold"),
		      NULL, NULL);
	assert_int_equal(d->route(NULL, &e, &r), ECOM_OK);
	assert_string_equal(r.collection, "stock");
	assert_string_equal(r.id, "SKU-9");
	envelope_deinit(&e);
	envelope_init(&e, &rng, 0, EV_PAYMENT_AUTHORIZED, "o",
		      json_pack("{s:s,s:i,s:s}", "orderId", "o", "amount", 1, "authId", "a"),
		      NULL, NULL);
	assert_int_equal(d->route(NULL, &e, &r), ECOM_NOT_FOUND);
	envelope_deinit(&e);
	assert_int_equal(d->inbox_max, INVENTORY_INBOX_MAX);
}

/* ---- planted bugs ------------------------------------------------------------------- */

static void test_bug_oversell(void **state)
{
	struct fx *f = fx_new(1);

	(void)state;
	add_full(f, "inventory#1", BUG_OVERSELL);
	pub(f, EV_ORDER_CREATED, "a",
	    "{\"orderId\":\"a\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}");
	pub(f, EV_ORDER_CREATED, "b",
	    "{\"orderId\":\"b\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}");
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "a"), 1);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "b"), 1);
	/* the defect stock_conservation must catch: available below zero */
	assert_int_equal(stock(f, "SKU-1", NULL).available, -1);
	fx_free(f);
}

static void test_bug_release_stock_twice(void **state)
{
	struct fx *f = fx_new(10);
	struct stock_view v;

	(void)state;
	add_full(f, "inventory#1", BUG_RELEASE_STOCK_TWICE);
	pub(f, EV_ORDER_CREATED, "o1", ORDER_O1);
	quiet(f);
	pub(f, EV_PAYMENT_FAILED, "o1", "{\"orderId\":\"o1\",\"reason\":\"x\",\"attempt\":0}");
	quiet(f);
	v = stock(f, "SKU-1", NULL);
	/* the defect stock_conservation must catch: more units than ever existed */
	assert_int_equal(v.available, 13);
	assert_true(v.available + v.held + v.shipped > v.initial);
	assert_int_equal(count(f, EV_INVENTORY_RELEASED, "o1"), 1);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserve_then_commit),
		cmocka_unit_test(test_out_of_stock_rolls_back_first),
		cmocka_unit_test(test_failed_waits_for_releases),
		cmocka_unit_test(test_release_on_payment_failed),
		cmocka_unit_test(test_release_on_shipping_failed),
		cmocka_unit_test(test_release_on_compensation),
		cmocka_unit_test(test_compensation_unknown_order),
		cmocka_unit_test(test_retry_new_attempt),
		cmocka_unit_test(test_retry_before_order),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_hold_reapplied_after_release_is_healed),
		cmocka_unit_test(test_stock_rules),
		cmocka_unit_test(test_fence_mid_reservation),
		cmocka_unit_test(test_fence_before_order_and_after_reserve),
		cmocka_unit_test(test_competing_orders_conserve_stock),
		cmocka_unit_test(test_seed_idempotent),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_bug_oversell),
		cmocka_unit_test(test_bug_release_stock_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
