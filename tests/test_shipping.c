/* test_shipping.c — the shipping service on the test harness with the simulated carrier:
 * book once per attempt, refusal, ambiguous timeouts retried with the same key (booked
 * once), duplicates, deadlines before and after the booking, retry attempts; then the
 * inventory, payment and shipping services together on one harness: the happy chain ends
 * with the stock committed and the money captured, and a carrier failure ends with the
 * stock back and the capture refunded (figures read from the stores and the ledgers). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "event/jsonx.h"
#include "services/inventory/inventory.h"
#include "services/payment/payment.h"
#include "services/shipping/shipping.h"
#include "sim/sim_adapters.h"
#include "support/harness.h"

#define QUIET_US (300LL * 1000 * 1000)

struct fx {
	struct harness *h;
	struct rng arng;
	struct sim_adapter_rates rates;
	struct sim_carrier *car;
	struct sim_gateway *gw;
	struct catalog cat;
	struct shipping_service *ship;
	struct payment_service *pay;
	struct inventory_service *inv;
};

/* chain: also inventory (SKU-1..SKU-3, 10 units each) and payment. */
static struct fx *fx_new(int chain)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct shipping_config sc;

	f->h = harness_new(31, 4);
	rng_seed(&f->arng, 5);
	f->car = sim_carrier_new(&f->rates, &f->arng, &harness_clock(f->h)->base);
	sc.carrier = sim_carrier_iface(f->car);
	f->ship = shipping_service_new(&sc);
	harness_add(f->h, shipping_svc_def(), f->ship, "shipping#1", NULL);
	if (chain) {
		struct payment_config pc;
		struct inventory_config ic;

		f->gw = sim_gateway_new(&f->rates, &f->arng, &harness_clock(f->h)->base);
		pc.gateway = sim_gateway_iface(f->gw);
		f->pay = payment_service_new(&pc);
		catalog_init_uniform(&f->cat, 3, 1000, 10);
		ic.catalog = &f->cat;
		f->inv = inventory_service_new(&ic);
		assert_int_equal(inventory_seed_stock(harness_store(f->h, "inventory"), &f->cat,
						      NULL),
				 ECOM_OK);
		harness_add(f->h, payment_svc_def(), f->pay, "payment#1", NULL);
		harness_add(f->h, inventory_svc_def(), f->inv, "inventory#1", NULL);
		harness_add(f->h, inventory_svc_def(), f->inv, "inventory#2", NULL);
	}
	return f;
}

static void fx_free(struct fx *f)
{
	harness_free(f->h);
	shipping_service_free(f->ship);
	sim_carrier_free(f->car);
	if (f->pay) {
		payment_service_free(f->pay);
		sim_gateway_free(f->gw);
		inventory_service_free(f->inv);
		catalog_deinit(&f->cat);
	}
	free(f);
}

static void rates(struct fx *f, double decline, double error, double ambiguous)
{
	f->rates.decline = decline;
	f->rates.error = error;
	f->rates.ambiguous = ambiguous;
	sim_carrier_set_rates(f->car, &f->rates);
}

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

static json_t *nth(struct fx *f, enum event_type type, const char *order, int n)
{
	return harness_nth_payload(f->h, type, order, n);
}

static int count(struct fx *f, enum event_type type, const char *order)
{
	return harness_count_for_order(f->h, type, order);
}

static struct sim_booking_entry bookings(struct fx *f, const char *order)
{
	struct sim_booking_entry e;

	memset(&e, 0, sizeof(e));
	sim_carrier_order(f->car, order, &e);
	return e;
}

#define AUTHORIZED(id, attempt) \
	"{\"orderId\":\"" id "\",\"amount\":20,\"authId\":\"au_1\",\"attempt\":" attempt "}"
#define TIMEOUT(id, attempt) \
	"{\"orderId\":\"" id "\",\"step\":\"shipping\",\"attempt\":" attempt "}"

static void test_book_once(void **state)
{
	struct fx *f = fx_new(0);
	struct envelope e;
	struct sim_adapter_stats st;
	json_t *p;

	(void)state;
	pub_env(f, EV_PAYMENT_AUTHORIZED, "o1", AUTHORIZED("o1", "0"), &e);
	quiet(f);
	p = nth(f, EV_ORDER_SHIPPED, "o1", 0);
	assert_non_null(p);
	assert_true(strcmp(jsonx_str_or(p, "carrier", ""), "UPS") == 0 ||
		    strcmp(jsonx_str_or(p, "carrier", ""), "DHL") == 0 ||
		    strcmp(jsonx_str_or(p, "carrier", ""), "FedEx") == 0);
	assert_true(strncmp(jsonx_str_or(p, "trackingId", ""), "TRK", 3) == 0);
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 0);
	json_decref(p);
	/* duplicates: the same message, and the same attempt under a new eventId */
	assert_int_equal(harness_publish(f->h, &e, NULL), ECOM_OK);
	envelope_deinit(&e);
	pub(f, EV_PAYMENT_AUTHORIZED, "o1", AUTHORIZED("o1", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "o1"), 1);
	assert_int_equal(bookings(f, "o1").bookings, 1);
	sim_carrier_stats(f->car, &st);
	assert_int_equal(st.calls, 1);
	/* another step's deadline, and a retry request, are not shipping's */
	pub(f, EV_STEP_TIMEOUT, "o1", "{\"orderId\":\"o1\",\"step\":\"payment\",\"attempt\":0}");
	pub(f, EV_RETRY_REQUESTED, "o1",
	    "{\"orderId\":\"o1\",\"step\":\"shipping\",\"attempt\":1}");
	quiet(f);
	assert_int_equal(count(f, EV_SHIPPING_FAILED, "o1"), 0);
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "o1"), 1);
	fx_free(f);
}

static void test_refused_then_retry_attempt(void **state)
{
	struct fx *f = fx_new(0);
	json_t *p;

	(void)state;
	rates(f, 1.0, 0, 0);
	pub(f, EV_PAYMENT_AUTHORIZED, "o1", AUTHORIZED("o1", "0"));
	quiet(f);
	p = nth(f, EV_SHIPPING_FAILED, "o1", 0);
	assert_non_null(p);
	assert_string_equal(jsonx_str(p, "reason"), "carrier_error");
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 0);
	json_decref(p);
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "o1"), 0);
	rates(f, 0, 0, 0);
	pub(f, EV_PAYMENT_AUTHORIZED, "o1", AUTHORIZED("o1", "1"));
	quiet(f);
	p = nth(f, EV_ORDER_SHIPPED, "o1", 0);
	assert_non_null(p);
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 1);
	json_decref(p);
	assert_int_equal(bookings(f, "o1").bookings, 1);
	assert_int_equal(bookings(f, "o1").failures, 1);
	/* the older attempt, late: superseded */
	pub(f, EV_PAYMENT_AUTHORIZED, "o1", AUTHORIZED("o1", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_SHIPPING_FAILED, "o1"), 1);
	assert_int_equal(bookings(f, "o1").failures, 1);
	fx_free(f);
}

static void test_ambiguous_then_retry_books_once(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	rates(f, 0, 0, 1.0);
	pub(f, EV_PAYMENT_AUTHORIZED, "o1", AUTHORIZED("o1", "0"));
	harness_run_for(f->h, 60 * 1000);
	assert_int_equal(bookings(f, "o1").bookings, 1);
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "o1"), 0);
	rates(f, 0, 1.0, 0); /* then plain errors for a while */
	harness_run_for(f->h, 60 * 1000);
	rates(f, 0, 0, 0);
	quiet(f);
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "o1"), 1);
	assert_int_equal(bookings(f, "o1").bookings, 1);
	fx_free(f);
}

static void test_fences(void **state)
{
	struct fx *f = fx_new(0);
	json_t *p;

	(void)state;
	/* before the booking: cancelled, and the late PaymentAuthorized books nothing */
	pub(f, EV_STEP_TIMEOUT, "o1", TIMEOUT("o1", "0"));
	quiet(f);
	p = nth(f, EV_SHIPPING_FAILED, "o1", 0);
	assert_non_null(p);
	assert_string_equal(jsonx_str(p, "reason"), "deadline");
	json_decref(p);
	pub(f, EV_PAYMENT_AUTHORIZED, "o1", AUTHORIZED("o1", "0"));
	pub(f, EV_STEP_TIMEOUT, "o1", TIMEOUT("o1", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "o1"), 0);
	assert_int_equal(count(f, EV_SHIPPING_FAILED, "o1"), 1);
	assert_int_equal(sim_carrier_order(f->car, "o1", &(struct sim_booking_entry){ 0 }),
			 ECOM_NOT_FOUND);
	/* after the booking: nothing */
	pub(f, EV_PAYMENT_AUTHORIZED, "o2", AUTHORIZED("o2", "0"));
	quiet(f);
	pub(f, EV_STEP_TIMEOUT, "o2", TIMEOUT("o2", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "o2"), 1);
	assert_int_equal(count(f, EV_SHIPPING_FAILED, "o2"), 0);
	fx_free(f);
}

/* ---- the three services together ---------------------------------------------------- */

static json_t *get_doc(struct fx *f, const char *svc, const char *coll, const char *id)
{
	json_t *d = NULL;

	if (store_get(harness_store(f->h, svc), coll, id, &d, NULL) != ECOM_OK)
		return NULL;
	return d;
}

static int64_t stock_field(struct fx *f, const char *sku, const char *field)
{
	json_t *d = get_doc(f, "inventory", INVENTORY_COLL_STOCK, sku);
	int64_t v = jsonx_int_or(d, field, -1);

	json_decref(d);
	return v;
}

#define CHAIN_ORDER(id) \
	"{\"orderId\":\"" id "\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}," \
	"{\"sku\":\"SKU-3\",\"qty\":1}],\"total\":30}"

static void test_chain_happy(void **state)
{
	struct fx *f = fx_new(1);
	struct sim_ledger_entry e;

	(void)state;
	pub(f, EV_ORDER_CREATED, "c1", CHAIN_ORDER("c1"));
	quiet(f);
	assert_int_equal(count(f, EV_INVENTORY_RESERVED, "c1"), 1);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "c1"), 1);
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "c1"), 1);
	assert_int_equal(stock_field(f, "SKU-1", "shipped"), 2);
	assert_int_equal(stock_field(f, "SKU-1", "held"), 0);
	assert_int_equal(stock_field(f, "SKU-1", "available"), 8);
	assert_int_equal(stock_field(f, "SKU-3", "shipped"), 1);
	assert_int_equal(sim_gateway_order(f->gw, "c1", &e), ECOM_OK);
	assert_int_equal(e.captured_cents - e.refunded_cents, 3000);
	assert_int_equal(e.charges, 1);
	assert_int_equal(bookings(f, "c1").bookings, 1);
	fx_free(f);
}

static void test_chain_carrier_failure_compensates(void **state)
{
	struct fx *f = fx_new(1);
	struct sim_ledger_entry e;
	json_t *p;

	(void)state;
	rates(f, 1.0, 0, 0);
	pub(f, EV_ORDER_CREATED, "c2", CHAIN_ORDER("c2"));
	quiet(f);
	assert_int_equal(count(f, EV_SHIPPING_FAILED, "c2"), 1);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "c2"), 1);
	assert_int_equal(count(f, EV_INVENTORY_RELEASED, "c2"), 1);
	p = nth(f, EV_PAYMENT_REFUNDED, "c2", 0);
	assert_int_equal(jsonx_int_or(p, "amount", -1), 30);
	json_decref(p);
	assert_int_equal(stock_field(f, "SKU-1", "available"), 10);
	assert_int_equal(stock_field(f, "SKU-1", "held"), 0);
	assert_int_equal(stock_field(f, "SKU-1", "shipped"), 0);
	assert_int_equal(sim_gateway_order(f->gw, "c2", &e), ECOM_OK);
	assert_int_equal(e.captured_cents, 3000);
	assert_int_equal(e.refunded_cents, 3000);
	assert_int_equal(e.max_outstanding, 1);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_book_once),
		cmocka_unit_test(test_refused_then_retry_attempt),
		cmocka_unit_test(test_ambiguous_then_retry_books_once),
		cmocka_unit_test(test_fences),
		cmocka_unit_test(test_chain_happy),
		cmocka_unit_test(test_chain_carrier_failure_compensates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
