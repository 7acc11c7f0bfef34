/* test_payment.c — the payment service on the test harness with the simulated gateway:
 * charge once per attempt, amount learned in either order, decline, ambiguous timeouts and
 * outages retried with the same key (charged once), refunds exactly once per capture,
 * compensation, deadlines (fences) before and after the charge, a fence that resolves a
 * capture whose outcome was never committed, and the two planted bugs. Every money figure
 * is read from the gateway's ledger, not from the service. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bugs.h"
#include "event/jsonx.h"
#include "services/payment/payment.h"
#include "sim/sim_adapters.h"
#include "support/harness.h"

#define QUIET_US (300LL * 1000 * 1000)

struct fx {
	struct harness *h;
	struct rng grng;
	struct sim_adapter_rates rates;
	struct sim_gateway *gw;
	struct payment_service *svc;
};

static struct fx *fx_new(uint32_t bugs)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct payment_config cfg;
	struct runtime_config rc = { .bugs = bugs };

	f->h = harness_new(21, 4);
	rng_seed(&f->grng, 99);
	f->gw = sim_gateway_new(&f->rates, &f->grng, &harness_clock(f->h)->base);
	cfg.gateway = sim_gateway_iface(f->gw);
	f->svc = payment_service_new(&cfg);
	harness_add(f->h, payment_svc_def(), f->svc, "payment#1", &rc);
	return f;
}

static void fx_free(struct fx *f)
{
	harness_free(f->h);
	payment_service_free(f->svc);
	sim_gateway_free(f->gw);
	free(f);
}

static void rates(struct fx *f, double decline, double error, double ambiguous)
{
	f->rates.decline = decline;
	f->rates.error = error;
	f->rates.ambiguous = ambiguous;
	sim_gateway_set_rates(f->gw, &f->rates);
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

static struct sim_ledger_entry ledger(struct fx *f, const char *order)
{
	struct sim_ledger_entry e;

	memset(&e, 0, sizeof(e));
	sim_gateway_order(f->gw, order, &e);
	return e;
}

static uint64_t gw_calls(struct fx *f)
{
	struct sim_adapter_stats st;

	sim_gateway_stats(f->gw, &st);
	return st.calls;
}

#define CREATED(id, total) \
	"{\"orderId\":\"" id "\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":" total "}"
#define RESERVED(id, total, attempt) \
	"{\"orderId\":\"" id "\",\"reservedItems\":[{\"sku\":\"SKU-1\",\"qty\":2}]," \
	"\"total\":" total ",\"attempt\":" attempt "}"
#define RESERVED_NO_TOTAL(id, attempt) \
	"{\"orderId\":\"" id "\",\"reservedItems\":[{\"sku\":\"SKU-1\",\"qty\":2}]," \
	"\"attempt\":" attempt "}"
#define SHIP_FAILED(id, attempt) \
	"{\"orderId\":\"" id "\",\"reason\":\"carrier_error\",\"attempt\":" attempt "}"
#define TIMEOUT(id, attempt) \
	"{\"orderId\":\"" id "\",\"step\":\"payment\",\"attempt\":" attempt "}"
#define COMPENSATE(id, action) \
	"{\"orderId\":\"" id "\",\"action\":\"" action "\",\"attempt\":0}"

/* OrderCreated + InventoryReserved{attempt 0}, run to quiet, PaymentAuthorized expected. */
static void authorize(struct fx *f, const char *json_created, const char *json_reserved)
{
	pub(f, EV_ORDER_CREATED, "o1", json_created);
	pub(f, EV_INVENTORY_RESERVED, "o1", json_reserved);
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 1);
}

static void test_charge_once(void **state)
{
	struct fx *f = fx_new(0);
	struct envelope e;
	json_t *p;

	(void)state;
	pub(f, EV_ORDER_CREATED, "o1", CREATED("o1", "19.99"));
	pub_env(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "19.99", "0"), &e);
	quiet(f);
	p = nth(f, EV_PAYMENT_AUTHORIZED, "o1", 0);
	assert_non_null(p);
	assert_true(json_is_real(json_object_get(p, "amount")));
	assert_true(json_real_value(json_object_get(p, "amount")) == 19.99);
	assert_true(strncmp(jsonx_str_or(p, "authId", ""), "au_", 3) == 0);
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 0);
	json_decref(p);
	assert_int_equal(ledger(f, "o1").charges, 1);
	assert_int_equal(ledger(f, "o1").captured_cents, 1999);
	assert_int_equal(gw_calls(f), 1);
	/* the same message again, and the same attempt under a new eventId: no new call */
	assert_int_equal(harness_publish(f->h, &e, NULL), ECOM_OK);
	envelope_deinit(&e);
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "19.99", "0"));
	pub(f, EV_ORDER_CREATED, "o1", CREATED("o1", "19.99"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 1);
	assert_int_equal(gw_calls(f), 1);
	fx_free(f);
}

static void test_reserved_before_created(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	/* a Node-style InventoryReserved without total: the amount is not known yet */
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED_NO_TOTAL("o1", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 0);
	assert_int_equal(gw_calls(f), 0);
	pub(f, EV_ORDER_CREATED, "o1", CREATED("o1", "20"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 1);
	assert_int_equal(ledger(f, "o1").captured_cents, 2000);
	/* with total on the event, OrderCreated is not needed at all */
	pub(f, EV_INVENTORY_RESERVED, "o2", RESERVED("o2", "7", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o2"), 1);
	assert_int_equal(ledger(f, "o2").captured_cents, 700);
	fx_free(f);
}

static void test_decline_then_retry_attempt(void **state)
{
	struct fx *f = fx_new(0);
	json_t *p;

	(void)state;
	rates(f, 1.0, 0, 0);
	pub(f, EV_ORDER_CREATED, "o1", CREATED("o1", "20"));
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "20", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 0);
	p = nth(f, EV_PAYMENT_FAILED, "o1", 0);
	assert_non_null(p);
	assert_string_equal(jsonx_str(p, "reason"), "card_declined");
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 0);
	json_decref(p);
	assert_int_equal(ledger(f, "o1").declines, 1);
	assert_int_equal(ledger(f, "o1").charges, 0);
	/* the admin retry's new attempt charges under a new key */
	rates(f, 0, 0, 0);
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "20", "1"));
	quiet(f);
	p = nth(f, EV_PAYMENT_AUTHORIZED, "o1", 0);
	assert_non_null(p);
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 1);
	json_decref(p);
	assert_int_equal(ledger(f, "o1").charges, 1);
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "o1"), 1);
	/* the old attempt arriving late (new eventId) is superseded */
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "20", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "o1"), 1);
	assert_int_equal(ledger(f, "o1").charges, 1);
	fx_free(f);
}

static void test_ambiguous_then_retry_charges_once(void **state)
{
	struct fx *f = fx_new(0);
	struct sim_adapter_stats st;

	(void)state;
	rates(f, 0, 0, 1.0);
	pub(f, EV_ORDER_CREATED, "o1", CREATED("o1", "20"));
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "20", "0"));
	harness_run_for(f->h, 80 * 1000);
	/* the capture happened, the service does not know yet and keeps asking */
	assert_int_equal(ledger(f, "o1").charges, 1);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 0);
	sim_gateway_stats(f->gw, &st);
	assert_true(st.ambiguous >= 2);
	rates(f, 0, 0, 0);
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 1);
	assert_int_equal(ledger(f, "o1").charges, 1);
	assert_int_equal(ledger(f, "o1").captured_cents, 2000);
	assert_int_equal(ledger(f, "o1").max_outstanding, 1);
	fx_free(f);
}

static void test_outage_then_charge(void **state)
{
	struct fx *f = fx_new(0);
	int64_t now = harness_clock(f->h)->now_us;
	struct sim_adapter_stats st;

	(void)state;
	f->rates.outages[0].from_us = now;
	f->rates.outages[0].to_us = now + 3 * 1000 * 1000;
	f->rates.n_outages = 1;
	rates(f, 0, 0, 0);
	pub(f, EV_ORDER_CREATED, "o1", CREATED("o1", "20"));
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "20", "0"));
	harness_run_for(f->h, 1000 * 1000);
	assert_int_equal(sim_gateway_order(f->gw, "o1", &(struct sim_ledger_entry){ 0 }),
			 ECOM_NOT_FOUND);
	sim_gateway_stats(f->gw, &st);
	assert_true(st.outage >= 2);
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 1);
	assert_int_equal(ledger(f, "o1").charges, 1);
	assert_true(harness_clock(f->h)->now_us >= now + 3 * 1000 * 1000);
	fx_free(f);
}

static void test_refund_exactly_once(void **state)
{
	struct fx *f = fx_new(0);
	json_t *p;

	(void)state;
	authorize(f, CREATED("o1", "20"), RESERVED("o1", "20", "0"));
	/* the refund call times out first; the retry with the same key learns it happened */
	rates(f, 0, 0, 1.0);
	pub(f, EV_SHIPPING_FAILED, "o1", SHIP_FAILED("o1", "0"));
	harness_run_for(f->h, 50 * 1000);
	assert_int_equal(ledger(f, "o1").refunds, 1);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o1"), 0);
	rates(f, 0, 0, 0);
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o1"), 1);
	p = nth(f, EV_PAYMENT_REFUNDED, "o1", 0);
	assert_int_equal(jsonx_int_or(p, "amount", -1), 20);
	assert_true(strncmp(jsonx_str_or(p, "refundId", ""), "rf_", 3) == 0);
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 0);
	json_decref(p);
	/* ShippingFailed again, then a compensation: no second refund; the order hears 0 */
	pub(f, EV_SHIPPING_FAILED, "o1", SHIP_FAILED("o1", "0"));
	pub(f, EV_COMPENSATION_REQUESTED, "o1", COMPENSATE("o1", "refundPayment"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o1"), 2);
	p = nth(f, EV_PAYMENT_REFUNDED, "o1", 1);
	assert_int_equal(jsonx_int_or(p, "amount", -1), 0);
	json_decref(p);
	assert_int_equal(ledger(f, "o1").refunds, 1);
	assert_int_equal(ledger(f, "o1").refunded_cents, 2000);
	assert_int_equal(ledger(f, "o1").outstanding, 0);
	fx_free(f);
}

static void test_compensation_refunds_capture(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	authorize(f, CREATED("o1", "12.5"), RESERVED("o1", "12.5", "0"));
	/* releaseInventory is not payment's */
	pub(f, EV_COMPENSATION_REQUESTED, "o1", COMPENSATE("o1", "releaseInventory"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o1"), 0);
	pub(f, EV_COMPENSATION_REQUESTED, "o1", COMPENSATE("o1", "refundPayment"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o1"), 1);
	assert_int_equal(ledger(f, "o1").refunded_cents, 1250);
	/* ShippingFailed after the compensation refunds nothing more */
	pub(f, EV_SHIPPING_FAILED, "o1", SHIP_FAILED("o1", "0"));
	quiet(f);
	assert_int_equal(ledger(f, "o1").refunds, 1);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o1"), 1);
	/* ShippingFailed for an order payment never saw: nothing to refund, nothing stored */
	pub(f, EV_SHIPPING_FAILED, "o8", SHIP_FAILED("o8", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o8"), 0);
	{
		json_t *d = NULL;

		assert_int_equal(store_get(harness_store(f->h, "payment"), PAYMENT_COLL, "o8", &d,
					   NULL),
				 ECOM_NOT_FOUND);
	}
	/* a compensation for an order payment never saw answers 0 */
	pub(f, EV_COMPENSATION_REQUESTED, "o9", COMPENSATE("o9", "refundPayment"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o9"), 1);
	fx_free(f);
}

static void test_fence_before_charge(void **state)
{
	struct fx *f = fx_new(0);
	json_t *p;

	(void)state;
	pub(f, EV_ORDER_CREATED, "o1", CREATED("o1", "20"));
	pub(f, EV_STEP_TIMEOUT, "o1", TIMEOUT("o1", "0"));
	quiet(f);
	p = nth(f, EV_PAYMENT_FAILED, "o1", 0);
	assert_non_null(p);
	assert_string_equal(jsonx_str(p, "reason"), "deadline");
	json_decref(p);
	assert_int_equal(gw_calls(f), 0);
	/* the late InventoryReserved resolves the key: captured, so refunded at once */
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "20", "0"));
	pub(f, EV_STEP_TIMEOUT, "o1", TIMEOUT("o1", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 0);
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "o1"), 1);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o1"), 1);
	assert_int_equal(ledger(f, "o1").captured_cents, 2000);
	assert_int_equal(ledger(f, "o1").refunded_cents, 2000);
	assert_int_equal(ledger(f, "o1").max_outstanding, 1);
	/* resolved once: a further copy does nothing */
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "20", "0"));
	quiet(f);
	assert_int_equal(ledger(f, "o1").charges, 1);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o1"), 1);
	fx_free(f);
}

static void test_fence_then_decline_is_silent(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	pub(f, EV_STEP_TIMEOUT, "o1", TIMEOUT("o1", "0"));
	quiet(f);
	rates(f, 1.0, 0, 0);
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "20", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "o1"), 1);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o1"), 0);
	assert_int_equal(ledger(f, "o1").declines, 1);
	assert_int_equal(ledger(f, "o1").captured_cents, 0);
	fx_free(f);
}

/* A charge happened but its outcome never reached the aggregate (an ambiguous call still
 * being retried, a lost commit); then the deadline fences the attempt. The retry of the
 * handler must not leave the capture orphaned. */
static void test_fence_resolves_uncommitted_capture(void **state)
{
	struct fx *f = fx_new(0);
	char auth[ADAPTER_ID_MAX], reason[ADAPTER_REASON_MAX];

	(void)state;
	rates(f, 0, 0, 1.0);
	assert_int_equal(gateway_charge(sim_gateway_iface(f->gw), "o1:charge:0", "o1", 2000, auth,
					reason),
			 ECOM_AMBIGUOUS);
	rates(f, 0, 0, 0);
	pub(f, EV_STEP_TIMEOUT, "o1", TIMEOUT("o1", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "o1"), 1);
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "20", "0"));
	quiet(f);
	assert_int_equal(ledger(f, "o1").charges, 1);
	assert_int_equal(ledger(f, "o1").refunded_cents, 2000);
	assert_int_equal(ledger(f, "o1").outstanding, 0);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 0);
	fx_free(f);
}

/* Fenced while waiting for its amount: only then may an OrderCreated handler have charged,
 * so only then does the OrderCreated resolve (and refund) the fenced attempt. */
static void test_fence_while_awaiting_amount(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED_NO_TOTAL("o1", "0"));
	quiet(f);
	pub(f, EV_STEP_TIMEOUT, "o1", TIMEOUT("o1", "0"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "o1"), 1);
	assert_int_equal(gw_calls(f), 0);
	pub(f, EV_ORDER_CREATED, "o1", CREATED("o1", "20"));
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 0);
	assert_int_equal(ledger(f, "o1").captured_cents, 2000);
	assert_int_equal(ledger(f, "o1").refunded_cents, 2000);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o1"), 1);
	fx_free(f);
}

static void test_fence_after_capture(void **state)
{
	struct fx *f = fx_new(0);

	(void)state;
	authorize(f, CREATED("o1", "20"), RESERVED("o1", "20", "0"));
	pub(f, EV_STEP_TIMEOUT, "o1", TIMEOUT("o1", "0"));
	/* another step's deadline is not payment's */
	pub(f, EV_STEP_TIMEOUT, "o1",
	    "{\"orderId\":\"o1\",\"step\":\"shipping\",\"attempt\":0}");
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "o1"), 0);
	assert_int_equal(ledger(f, "o1").refunds, 0);
	assert_int_equal(gw_calls(f), 1);
	fx_free(f);
}

static void test_route(void **state)
{
	const struct svc_def *d = payment_svc_def();
	struct svc_route r;
	struct envelope e;
	struct rng rng;

	(void)state;
	rng_seed(&rng, 1);
	for (size_t i = 0; i < d->n_types; i++)
		assert_true(d->types[i] != EV_RETRY_REQUESTED);
	envelope_init(&e, &rng, 0, EV_RETRY_REQUESTED, "o",
		      json_pack("{s:s,s:s,s:i}", "orderId", "o", "step", "payment", "attempt", 1),
		      NULL, NULL);
	assert_int_equal(d->route(NULL, &e, &r), ECOM_NOT_FOUND);
	envelope_deinit(&e);
	envelope_init(&e, &rng, 0, EV_SHIPPING_FAILED, "o",
		      json_pack("{s:s,s:s}", "orderId", "o", "reason", "x"), NULL, NULL);
	assert_int_equal(d->route(NULL, &e, &r), ECOM_OK);
	assert_string_equal(r.collection, "payments");
	assert_string_equal(r.id, "o");
	envelope_deinit(&e);
}

/* ---- planted bugs ------------------------------------------------------------------- */

static void test_bug_no_idempotency_key(void **state)
{
	struct fx *f = fx_new(BUG_NO_IDEMPOTENCY_KEY);

	(void)state;
	rates(f, 0, 0, 1.0);
	pub(f, EV_ORDER_CREATED, "o1", CREATED("o1", "20"));
	pub(f, EV_INVENTORY_RESERVED, "o1", RESERVED("o1", "20", "0"));
	harness_run_for(f->h, 30 * 1000);
	rates(f, 0, 0, 0);
	quiet(f);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "o1"), 1);
	/* the defect payment_balance must catch: charged more than once */
	assert_true(ledger(f, "o1").charges >= 2);
	assert_true(ledger(f, "o1").max_outstanding >= 2);
	fx_free(f);
}

static void test_bug_forget_refund(void **state)
{
	struct fx *f = fx_new(BUG_FORGET_REFUND);

	(void)state;
	authorize(f, CREATED("o1", "20"), RESERVED("o1", "20", "0"));
	pub(f, EV_SHIPPING_FAILED, "o1", SHIP_FAILED("o1", "0"));
	quiet(f);
	/* the defect payment_balance must catch: a cancelled order keeps its capture */
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o1"), 0);
	assert_int_equal(ledger(f, "o1").captured_cents - ledger(f, "o1").refunded_cents, 2000);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_charge_once),
		cmocka_unit_test(test_reserved_before_created),
		cmocka_unit_test(test_decline_then_retry_attempt),
		cmocka_unit_test(test_ambiguous_then_retry_charges_once),
		cmocka_unit_test(test_outage_then_charge),
		cmocka_unit_test(test_refund_exactly_once),
		cmocka_unit_test(test_compensation_refunds_capture),
		cmocka_unit_test(test_fence_before_charge),
		cmocka_unit_test(test_fence_then_decline_is_silent),
		cmocka_unit_test(test_fence_resolves_uncommitted_capture),
		cmocka_unit_test(test_fence_while_awaiting_amount),
		cmocka_unit_test(test_fence_after_capture),
		cmocka_unit_test(test_route),
		cmocka_unit_test(test_bug_no_idempotency_key),
		cmocka_unit_test(test_bug_forget_refund),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
