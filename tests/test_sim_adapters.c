/* test_sim_adapters.c — the simulated gateway and carrier: outcomes, idempotent replays,
 * ambiguous answers whose effect is applied, outages, refund limits, the per-order
 * ledgers the invariant checkers read, sorted listings, and determinism per seed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "sim/sim_adapters.h"

struct fx {
	struct manual_clock clock;
	struct rng rng;
	struct sim_adapter_rates rates;
	struct sim_gateway *gw;
	struct sim_carrier *car;
};

static int fx_setup(void **state)
{
	struct fx *f = test_calloc(1, sizeof(*f));

	manual_clock_init(&f->clock, 1767225600000LL);
	rng_seed(&f->rng, 7);
	f->gw = sim_gateway_new(&f->rates, &f->rng, &f->clock.base);
	f->car = sim_carrier_new(&f->rates, &f->rng, &f->clock.base);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	sim_gateway_free(f->gw);
	sim_carrier_free(f->car);
	test_free(f);
	return 0;
}

static void fx_rates(struct fx *f, double decline, double error, double ambiguous)
{
	f->rates.decline = decline;
	f->rates.error = error;
	f->rates.ambiguous = ambiguous;
	sim_gateway_set_rates(f->gw, &f->rates);
	sim_carrier_set_rates(f->car, &f->rates);
}

static int charge(struct fx *f, const char *key, const char *order, int64_t cents, char *auth)
{
	char reason[ADAPTER_REASON_MAX];

	return gateway_charge(sim_gateway_iface(f->gw), key, order, cents, auth, reason);
}

static int refund(struct fx *f, const char *key, const char *order, const char *auth,
		  int64_t cents, char *rid)
{
	char reason[ADAPTER_REASON_MAX];

	return gateway_refund(sim_gateway_iface(f->gw), key, order, auth, cents, rid, reason);
}

static void test_charge_replay_same_outcome(void **state)
{
	struct fx *f = *state;
	char a1[ADAPTER_ID_MAX], a2[ADAPTER_ID_MAX];
	struct sim_ledger_entry e;
	struct sim_adapter_stats st;

	assert_int_equal(charge(f, "o1:charge:0", "o1", 2000, a1), ECOM_OK);
	assert_true(strncmp(a1, "au_", 3) == 0);
	assert_int_equal(charge(f, "o1:charge:0", "o1", 2000, a2), ECOM_OK);
	assert_string_equal(a1, a2);
	assert_int_equal(sim_gateway_order(f->gw, "o1", &e), ECOM_OK);
	assert_int_equal(e.charges, 1);
	assert_int_equal(e.captured_cents, 2000);
	assert_int_equal(e.max_outstanding, 1);
	sim_gateway_stats(f->gw, &st);
	assert_int_equal(st.calls, 2);
	assert_int_equal(st.replays, 1);
	/* the same key with other arguments is a conflict, not a new charge */
	assert_int_equal(charge(f, "o1:charge:0", "o1", 2100, a2), ECOM_CONFLICT);
	assert_int_equal(charge(f, "o1:charge:0", "o2", 2000, a2), ECOM_CONFLICT);
	assert_int_equal(sim_gateway_order(f->gw, "o1", &e), ECOM_OK);
	assert_int_equal(e.charges, 1);
	assert_int_equal(sim_gateway_order(f->gw, "o2", &e), ECOM_NOT_FOUND);
}

static void test_two_keys_charge_twice(void **state)
{
	struct fx *f = *state;
	char a[ADAPTER_ID_MAX];
	struct sim_ledger_entry e;

	assert_int_equal(charge(f, "o1:charge:0", "o1", 500, a), ECOM_OK);
	assert_int_equal(charge(f, "o1:charge:0:x", "o1", 500, a), ECOM_OK);
	assert_int_equal(sim_gateway_order(f->gw, "o1", &e), ECOM_OK);
	assert_int_equal(e.charges, 2);
	assert_int_equal(e.captured_cents, 1000);
	assert_int_equal(e.max_outstanding, 2);
}

static void test_decline_is_replayed(void **state)
{
	struct fx *f = *state;
	char a[ADAPTER_ID_MAX], reason[ADAPTER_REASON_MAX];
	struct sim_ledger_entry e;

	fx_rates(f, 1.0, 0, 0);
	assert_int_equal(gateway_charge(sim_gateway_iface(f->gw), "k", "o1", 100, a, reason),
			 ECOM_REFUSED);
	assert_string_equal(reason, "card_declined");
	assert_string_equal(a, "");
	fx_rates(f, 0, 0, 0);
	/* a declined key stays declined */
	assert_int_equal(gateway_charge(sim_gateway_iface(f->gw), "k", "o1", 100, a, reason),
			 ECOM_REFUSED);
	assert_int_equal(sim_gateway_order(f->gw, "o1", &e), ECOM_OK);
	assert_int_equal(e.charges, 0);
	assert_int_equal(e.declines, 1);
	assert_int_equal(e.captured_cents, 0);
}

static void test_error_applies_nothing(void **state)
{
	struct fx *f = *state;
	char a[ADAPTER_ID_MAX];
	struct sim_ledger_entry e;

	fx_rates(f, 0, 1.0, 0);
	assert_int_equal(charge(f, "k", "o1", 100, a), ECOM_UNAVAILABLE);
	assert_int_equal(sim_gateway_order(f->gw, "o1", &e), ECOM_NOT_FOUND);
	fx_rates(f, 0, 0, 0);
	assert_int_equal(charge(f, "k", "o1", 100, a), ECOM_OK);
	assert_int_equal(sim_gateway_order(f->gw, "o1", &e), ECOM_OK);
	assert_int_equal(e.charges, 1);
}

static void test_ambiguous_applied_then_resolved(void **state)
{
	struct fx *f = *state;
	char a1[ADAPTER_ID_MAX], a2[ADAPTER_ID_MAX];
	struct sim_ledger_entry e;

	fx_rates(f, 0, 0, 1.0);
	assert_int_equal(charge(f, "k", "o1", 700, a1), ECOM_AMBIGUOUS);
	assert_string_equal(a1, "");
	assert_int_equal(sim_gateway_order(f->gw, "o1", &e), ECOM_OK);
	assert_int_equal(e.charges, 1); /* the effect happened */
	/* still ambiguous on a replay while the dice say so; still one capture */
	assert_int_equal(charge(f, "k", "o1", 700, a1), ECOM_AMBIGUOUS);
	fx_rates(f, 0, 0, 0);
	assert_int_equal(charge(f, "k", "o1", 700, a2), ECOM_OK);
	assert_true(a2[0] != '\0');
	assert_int_equal(sim_gateway_order(f->gw, "o1", &e), ECOM_OK);
	assert_int_equal(e.charges, 1);
	assert_int_equal(e.captured_cents, 700);
	/* and the refund of that capture works with the id learned on resolution */
	assert_int_equal(refund(f, "r", "o1", a2, 700, a1), ECOM_OK);
}

static void test_ambiguous_decline_is_recorded(void **state)
{
	struct fx *f = *state;
	char a[ADAPTER_ID_MAX];

	fx_rates(f, 1.0, 0, 1.0);
	assert_int_equal(charge(f, "k", "o1", 700, a), ECOM_AMBIGUOUS);
	fx_rates(f, 0, 0, 0);
	/* the decline was the first outcome: resolving replays it */
	assert_int_equal(charge(f, "k", "o1", 700, a), ECOM_REFUSED);
}

static void test_outage_window(void **state)
{
	struct fx *f = *state;
	char a[ADAPTER_ID_MAX], name[ADAPTER_ID_MAX], trk[ADAPTER_ID_MAX];
	char reason[ADAPTER_REASON_MAX];
	struct sim_adapter_stats st;

	f->rates.outages[0].from_us = 1000;
	f->rates.outages[0].to_us = 2000;
	f->rates.n_outages = 1;
	fx_rates(f, 0, 0, 0);
	f->clock.now_us = 999;
	assert_int_equal(charge(f, "k1", "o1", 1, a), ECOM_OK);
	f->clock.now_us = 1000;
	assert_int_equal(gateway_charge(sim_gateway_iface(f->gw), "k2", "o1", 1, a, reason),
			 ECOM_UNAVAILABLE);
	assert_string_equal(reason, "outage");
	assert_int_equal(carrier_book(sim_carrier_iface(f->car), "s", "o1", name, trk, reason),
			 ECOM_UNAVAILABLE);
	f->clock.now_us = 1999;
	assert_int_equal(charge(f, "k1", "o1", 1, a), ECOM_UNAVAILABLE);
	f->clock.now_us = 2000;
	assert_int_equal(charge(f, "k2", "o1", 1, a), ECOM_OK);
	sim_gateway_stats(f->gw, &st);
	assert_int_equal(st.outage, 2);
	assert_int_equal(st.calls, 4);
}

static void test_refund_limits(void **state)
{
	struct fx *f = *state;
	char a[ADAPTER_ID_MAX], r1[ADAPTER_ID_MAX], r2[ADAPTER_ID_MAX];
	struct sim_ledger_entry e;

	assert_int_equal(charge(f, "c", "o1", 1000, a), ECOM_OK);
	assert_int_equal(refund(f, "r0", "o1", a, 1001, r1), ECOM_INVALID);
	assert_int_equal(refund(f, "r0", "o1", "au_nope", 10, r1), ECOM_INVALID);
	assert_int_equal(refund(f, "r0", "o2", a, 10, r1), ECOM_INVALID);
	assert_int_equal(sim_gateway_order(f->gw, "o1", &e), ECOM_OK);
	assert_int_equal(e.refunds, 0);
	assert_int_equal(e.outstanding, 1);
	/* a partial refund keeps the capture outstanding */
	assert_int_equal(refund(f, "r1", "o1", a, 400, r1), ECOM_OK);
	assert_int_equal(sim_gateway_order(f->gw, "o1", &e), ECOM_OK);
	assert_int_equal(e.outstanding, 1);
	/* replay: same id, no second effect */
	assert_int_equal(refund(f, "r1", "o1", a, 400, r2), ECOM_OK);
	assert_string_equal(r1, r2);
	assert_int_equal(refund(f, "r2", "o1", a, 601, r2), ECOM_INVALID);
	assert_int_equal(refund(f, "r2", "o1", a, 600, r2), ECOM_OK);
	assert_int_equal(sim_gateway_order(f->gw, "o1", &e), ECOM_OK);
	assert_int_equal(e.refunds, 2);
	assert_int_equal(e.refunded_cents, 1000);
	assert_int_equal(e.captured_cents, 1000);
	assert_int_equal(e.outstanding, 0);
	assert_int_equal(e.max_outstanding, 1);
	assert_int_equal(refund(f, "r3", "o1", a, 1, r2), ECOM_INVALID);
	/* a charge key reused as a refund key conflicts */
	assert_int_equal(refund(f, "c", "o1", a, 0, r2), ECOM_CONFLICT);
}

static void test_charge_refund_charge_not_twice(void **state)
{
	struct fx *f = *state;
	char a[ADAPTER_ID_MAX], r[ADAPTER_ID_MAX];
	struct sim_ledger_entry e;

	assert_int_equal(charge(f, "o:charge:0", "o", 300, a), ECOM_OK);
	assert_int_equal(refund(f, "o:refund:0", "o", a, 300, r), ECOM_OK);
	assert_int_equal(charge(f, "o:charge:1", "o", 300, a), ECOM_OK);
	assert_int_equal(sim_gateway_order(f->gw, "o", &e), ECOM_OK);
	assert_int_equal(e.charges, 2);
	assert_int_equal(e.max_outstanding, 1);
	assert_int_equal(e.outstanding, 1);
	assert_int_equal(e.captured_cents - e.refunded_cents, 300);
}

struct walk {
	char ids[8][SIM_ORDER_ID_MAX];
	int n;
};

static int walk_gw(void *arg, const struct sim_ledger_entry *e)
{
	struct walk *w = arg;

	snprintf(w->ids[w->n++], SIM_ORDER_ID_MAX, "%s", e->order_id);
	return w->n == 3 ? 42 : 0;
}

static int walk_car(void *arg, const struct sim_booking_entry *e)
{
	struct walk *w = arg;

	snprintf(w->ids[w->n++], SIM_ORDER_ID_MAX, "%s", e->order_id);
	return 0;
}

static void test_foreach_sorted(void **state)
{
	struct fx *f = *state;
	const char *orders[] = { "m", "b", "z", "a" };
	char a[ADAPTER_ID_MAX], n[ADAPTER_ID_MAX], t[ADAPTER_ID_MAX], r[ADAPTER_REASON_MAX];
	struct walk w = { .n = 0 };

	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(charge(f, orders[i], orders[i], 1, a), ECOM_OK);
		assert_int_equal(carrier_book(sim_carrier_iface(f->car), orders[i], orders[i], n,
					      t, r),
				 ECOM_OK);
	}
	assert_int_equal(sim_gateway_order_count(f->gw), 4);
	/* stops at the callback's nonzero return */
	assert_int_equal(sim_gateway_foreach(f->gw, walk_gw, &w), 42);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.ids[0], "a");
	assert_string_equal(w.ids[1], "b");
	assert_string_equal(w.ids[2], "m");
	w.n = 0;
	assert_int_equal(sim_carrier_foreach(f->car, walk_car, &w), 0);
	assert_int_equal(w.n, 4);
	assert_string_equal(w.ids[0], "a");
	assert_string_equal(w.ids[3], "z");
}

static void test_carrier(void **state)
{
	struct fx *f = *state;
	char n1[ADAPTER_ID_MAX], t1[ADAPTER_ID_MAX], n2[ADAPTER_ID_MAX], t2[ADAPTER_ID_MAX];
	char reason[ADAPTER_REASON_MAX];
	struct carrier *c = sim_carrier_iface(f->car);
	struct sim_booking_entry e;

	assert_int_equal(carrier_book(c, "o1:ship:0", "o1", n1, t1, reason), ECOM_OK);
	assert_true(strcmp(n1, "UPS") == 0 || strcmp(n1, "DHL") == 0 || strcmp(n1, "FedEx") == 0);
	assert_true(strncmp(t1, "TRK", 3) == 0);
	assert_int_equal(carrier_book(c, "o1:ship:0", "o1", n2, t2, reason), ECOM_OK);
	assert_string_equal(n1, n2);
	assert_string_equal(t1, t2);
	assert_int_equal(carrier_book(c, "o1:ship:0", "o2", n2, t2, reason), ECOM_CONFLICT);
	fx_rates(f, 1.0, 0, 0);
	assert_int_equal(carrier_book(c, "o3:ship:0", "o3", n2, t2, reason), ECOM_REFUSED);
	assert_string_equal(reason, "carrier_error");
	fx_rates(f, 0, 0, 1.0);
	assert_int_equal(carrier_book(c, "o4:ship:0", "o4", n2, t2, reason), ECOM_AMBIGUOUS);
	assert_string_equal(t2, "");
	fx_rates(f, 0, 1.0, 0);
	assert_int_equal(carrier_book(c, "o4:ship:0", "o4", n2, t2, reason), ECOM_UNAVAILABLE);
	fx_rates(f, 0, 0, 0);
	assert_int_equal(carrier_book(c, "o4:ship:0", "o4", n2, t2, reason), ECOM_OK);
	assert_int_equal(sim_carrier_order(f->car, "o1", &e), ECOM_OK);
	assert_int_equal(e.bookings, 1);
	assert_int_equal(sim_carrier_order(f->car, "o3", &e), ECOM_OK);
	assert_int_equal(e.bookings, 0);
	assert_int_equal(e.failures, 1);
	assert_int_equal(sim_carrier_order(f->car, "o4", &e), ECOM_OK);
	assert_int_equal(e.bookings, 1);
	assert_int_equal(sim_carrier_order(f->car, "o2", &e), ECOM_NOT_FOUND);
	assert_int_equal(sim_carrier_order_count(f->car), 3);
}

/* Same seed, same calls => same outcomes and ids; rates near 0.5 exercise every branch. */
static void run_mixed(uint64_t seed, char *out, size_t cap, int counts[ECOM_RC_COUNT])
{
	struct manual_clock clk;
	struct rng rng;
	struct sim_adapter_rates r = { .decline = 0.3, .error = 0.2, .ambiguous = 0.2 };
	struct sim_gateway *g;
	size_t len = 0;

	manual_clock_init(&clk, 0);
	rng_seed(&rng, seed);
	g = sim_gateway_new(&r, &rng, &clk.base);
	out[0] = '\0';
	for (int i = 0; i < 60; i++) {
		char key[32], order[32], a[ADAPTER_ID_MAX], reason[ADAPTER_REASON_MAX];
		int rc;

		snprintf(key, sizeof(key), "k%d", i % 13);
		snprintf(order, sizeof(order), "o%d", i % 13);
		rc = gateway_charge(sim_gateway_iface(g), key, order, 100, a, reason);
		counts[rc]++;
		len += (size_t)snprintf(out + len, cap - len, "%d:%s;", rc, a);
		assert_true(len < cap);
	}
	/* every order charged at most once however often its key was retried */
	for (int i = 0; i < 13; i++) {
		char order[32];
		struct sim_ledger_entry e;

		snprintf(order, sizeof(order), "o%d", i);
		if (sim_gateway_order(g, order, &e) == ECOM_OK)
			assert_true(e.charges <= 1 && e.max_outstanding <= 1);
	}
	sim_gateway_free(g);
}

static void test_deterministic_per_seed(void **state)
{
	char a[8192], b[8192], c[8192];
	int ca[ECOM_RC_COUNT] = { 0 }, cb[ECOM_RC_COUNT] = { 0 }, cc[ECOM_RC_COUNT] = { 0 };

	(void)state;
	run_mixed(1, a, sizeof(a), ca);
	run_mixed(1, b, sizeof(b), cb);
	run_mixed(2, c, sizeof(c), cc);
	assert_string_equal(a, b);
	assert_true(strcmp(a, c) != 0);
	assert_true(ca[ECOM_OK] > 0 && ca[ECOM_REFUSED] > 0 && ca[ECOM_UNAVAILABLE] > 0 &&
		    ca[ECOM_AMBIGUOUS] > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_charge_replay_same_outcome, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_two_keys_charge_twice, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_decline_is_replayed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_error_applies_nothing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous_applied_then_resolved, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous_decline_is_recorded, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_outage_window, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_refund_limits, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_charge_refund_charge_not_twice, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_foreach_sorted, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_carrier, fx_setup, fx_teardown),
		cmocka_unit_test(test_deterministic_per_seed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
