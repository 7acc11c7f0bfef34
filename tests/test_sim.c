/* test_sim.c — the simulator: the fault-injecting broker and store wrappers do exactly the
 * fault they are asked for (and nothing else), a small world meets its expectations, the
 * same seed gives the same trace hash and another seed a different one, a planted bug is
 * reported by its invariant, and a crash point tears an instance down and brings it back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/broker.h"
#include "core/clock.h"
#include "core/rng.h"
#include "event/event.h"
#include "event/jsonx.h"
#include "sim/fault_broker.h"
#include "sim/fault_store.h"
#include "sim/faults.h"
#include "sim/invariants.h"
#include "sim/mem_broker.h"
#include "sim/mem_store.h"
#include "sim/scenario.h"
#include "sim/world.h"

/* ---- fixtures -------------------------------------------------------------------------- */

struct fx {
	struct manual_clock clock;
	struct rng rng;
	struct mem_cluster *cluster;
	struct fault_plan plan;
	struct fault_crashpoint cp;
	struct broker *fb;       /* fault broker over a mem client */
	struct broker *consumer; /* fault broker over a second client, subscribed to "t" */
	int poisoned;
	char last_poison[32];
	int faults;
};

static void fx_on_poison(void *arg, const char *actor, const char *topic, const char *key,
			 const char *value, size_t len, enum fault_poison_kind kind, const char *id)
{
	struct fx *f = arg;

	(void)actor;
	(void)key;
	(void)value;
	(void)len;
	(void)kind;
	assert_string_equal(topic, "t");
	f->poisoned++;
	snprintf(f->last_poison, sizeof(f->last_poison), "%s", id);
}

static void fx_on_fault(void *arg, const char *actor, const char *what, const char *detail)
{
	(void)actor;
	(void)what;
	(void)detail;
	((struct fx *)arg)->faults++;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	static const char *const topics[] = { "t" };

	manual_clock_init(&f->clock, 0);
	rng_seed(&f->rng, 1);
	f->cluster = mem_cluster_new(2, &f->clock.base);
	f->plan.rng = &f->rng;
	f->plan.active = 1;
	f->plan.arg = f;
	f->plan.on_poison = fx_on_poison;
	f->plan.on_fault = fx_on_fault;
	f->plan.clock = &f->clock.base;
	f->fb = fault_broker_new(mem_broker_new(f->cluster, "p"), &f->plan, &f->cp, "p#1");
	f->consumer = fault_broker_new(mem_broker_new(f->cluster, "c"), &f->plan, NULL, "c#1");
	assert_int_equal(broker_subscribe(f->consumer, "g", topics, 1, NULL), ECOM_OK);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	broker_destroy(f->fb);
	broker_destroy(f->consumer);
	mem_cluster_free(f->cluster);
	free(f);
	return 0;
}

static int fx_produce(struct broker *b, const char *key, const char *value)
{
	struct broker_record r = { .topic = "t", .key = key, .key_len = strlen(key),
				   .value = value, .value_len = strlen(value) };

	return broker_produce(b, &r, NULL);
}

static int64_t fx_count(struct fx *f)
{
	return mem_cluster_end_offset(f->cluster, "t", 0) + mem_cluster_end_offset(f->cluster, "t", 1);
}

/* A key that lands in partition p of 2. */
static const char *fx_key_for(int32_t p)
{
	static const char *const keys[] = { "a", "b", "c", "d", "e", "f", "g", "h" };

	for (size_t i = 0; i < ECOM_ARRAY_LEN(keys); i++)
		if (broker_partition_for_key(keys[i], 1, 2) == p)
			return keys[i];
	fail_msg("no key for partition %d", (int)p);
	return NULL;
}

/* ---- fault broker ---------------------------------------------------------------------- */

static void test_produce_error_appends_nothing(void **state)
{
	struct fx *f = *state;

	f->plan.produce_error = 1.0;
	assert_int_equal(fx_produce(f->fb, "a", "{}"), ECOM_UNAVAILABLE);
	assert_int_equal(fx_count(f), 0);
	assert_int_equal(f->faults, 1);
	f->plan.active = 0; /* the quiet phase: no faults at any rate */
	assert_int_equal(fx_produce(f->fb, "a", "{}"), ECOM_OK);
	assert_int_equal(fx_count(f), 1);
}

static void test_duplicate_delivery(void **state)
{
	struct fx *f = *state;
	struct broker_msg m;
	int64_t first;

	assert_int_equal(fx_produce(f->fb, "a", "one"), ECOM_OK);
	assert_int_equal(fx_produce(f->fb, "a", "two"), ECOM_OK);
	f->plan.duplicate_delivery = 1.0;
	assert_int_equal(broker_poll(f->consumer, 0, &m, NULL), ECOM_OK);
	first = m.offset;
	assert_string_equal(m.value, "one");
	f->plan.duplicate_delivery = 0;
	assert_int_equal(broker_poll(f->consumer, 0, &m, NULL), ECOM_OK);
	assert_int_equal(m.offset, first); /* the same message, again */
	assert_string_equal(m.value, "one");
	assert_int_equal(broker_poll(f->consumer, 0, &m, NULL), ECOM_OK);
	assert_string_equal(m.value, "two");
	assert_int_equal(broker_poll(f->consumer, 0, &m, NULL), ECOM_NOT_FOUND);
}

static void test_poison_follows_real_message(void **state)
{
	struct fx *f = *state;
	struct broker_msg m;
	struct envelope e;

	f->plan.poison = 1.0;
	assert_int_equal(fx_produce(f->fb, "a", "real"), ECOM_OK);
	assert_int_equal(fx_count(f), 2);
	assert_int_equal(f->poisoned, 1);
	assert_string_equal(f->last_poison, "poison-1");
	assert_int_equal(broker_poll(f->consumer, 0, &m, NULL), ECOM_OK);
	assert_string_equal(m.value, "real");
	assert_int_equal(broker_poll(f->consumer, 0, &m, NULL), ECOM_OK);
	assert_non_null(strstr(m.value, "poison-1"));
	assert_int_equal(envelope_parse(m.value, m.value_len, &e, NULL), ECOM_INVALID);
	/* dead-letter topics are never poisoned */
	{
		struct broker_record r = { .topic = "t.dlq", .value = "x", .value_len = 1 };

		assert_int_equal(broker_produce(f->fb, &r, NULL), ECOM_OK);
		assert_int_equal(mem_cluster_end_offset(f->cluster, "t.dlq", 0) +
					 mem_cluster_end_offset(f->cluster, "t.dlq", 1),
				 1);
		assert_int_equal(f->poisoned, 1);
	}
}

static void test_every_poison_kind_is_rejected(void **state)
{
	(void)state;
	for (int k = 0; k < FAULT_POISON__COUNT; k++) {
		size_t len;
		char *v = fault_poison_build((enum fault_poison_kind)k,
					     "payment.PaymentAuthorized.v1", "order-1", "poison-9",
					     &len);
		struct envelope e;
		struct ecom_err err;

		assert_int_equal(strlen(v), len);
		assert_non_null(strstr(v, "\"poison-9\""));
		assert_int_equal(envelope_parse(v, len, &e, &err), ECOM_INVALID);
		free(v);
	}
}

static void test_crashpoint(void **state)
{
	struct fx *f = *state;

	f->cp.crash_after = 2;
	assert_int_equal(fx_produce(f->fb, "a", "1"), ECOM_OK);
	assert_false(f->cp.crashed);
	assert_int_equal(fx_produce(f->fb, "a", "2"), ECOM_OK); /* the k-th call completes */
	assert_true(f->cp.crashed);
	assert_int_equal(fx_produce(f->fb, "a", "3"), ECOM_UNAVAILABLE);
	assert_int_equal(fx_count(f), 2); /* nothing applied after the crash */
	assert_int_equal(f->cp.calls, 2);
}

static void test_partition_stall_keeps_partition_order(void **state)
{
	struct fx *f = *state;
	const char *k0 = fx_key_for(0), *k1 = fx_key_for(1);
	struct broker_msg m;

	assert_int_equal(fx_produce(f->fb, k0, "p0-first"), ECOM_OK);
	assert_int_equal(fx_produce(f->fb, k0, "p0-second"), ECOM_OK);
	f->plan.partition_stall = 1.0;
	f->plan.stall_ms_lo = f->plan.stall_ms_hi = 100;
	assert_int_equal(broker_poll(f->consumer, 0, &m, NULL), ECOM_NOT_FOUND);
	assert_int_equal(fault_broker_held(f->consumer), 2);
	assert_int_equal(fault_broker_next_release(f->consumer), 100 * 1000);
	f->plan.partition_stall = 0;
	/* the other partition keeps flowing while partition 0 is stalled */
	assert_int_equal(fx_produce(f->fb, k1, "p1"), ECOM_OK);
	assert_int_equal(broker_poll(f->consumer, 0, &m, NULL), ECOM_OK);
	assert_string_equal(m.value, "p1");
	assert_int_equal(broker_poll(f->consumer, 0, &m, NULL), ECOM_NOT_FOUND);
	f->clock.now_us = 100 * 1000;
	assert_int_equal(broker_poll(f->consumer, 0, &m, NULL), ECOM_OK);
	assert_string_equal(m.value, "p0-first");
	assert_int_equal(broker_poll(f->consumer, 0, &m, NULL), ECOM_OK);
	assert_string_equal(m.value, "p0-second");
	assert_int_equal(fault_broker_held(f->consumer), 0);
	assert_int_equal(fault_broker_next_release(f->consumer), INT64_MAX);
}

/* ---- fault store ----------------------------------------------------------------------- */

static json_t *doc(const char *id, int64_t version)
{
	json_t *d = json_object();

	jsonx_set_str(d, "_id", id);
	jsonx_set_int(d, "version", version);
	return d;
}

static void test_fault_store(void **state)
{
	struct store *mem = mem_store_new();
	struct rng r;
	struct fault_plan plan = { .rng = &r, .active = 1 };
	struct fault_crashpoint cp = { 0 };
	struct store *s = fault_store_new(mem, 0, &plan, &cp, "x#1");
	json_t *d = doc("a", 1), *got = NULL;

	(void)state;
	rng_seed(&r, 3);
	plan.store_error = 1.0;
	assert_int_equal(store_insert(s, "c", d, NULL), ECOM_UNAVAILABLE);
	assert_int_equal(mem_store_count(mem, "c"), 0); /* nothing applied */
	assert_int_equal(store_get(s, "c", "a", &got, NULL), ECOM_UNAVAILABLE);
	plan.store_error = 0;
	plan.store_ambiguous = 1.0;
	assert_int_equal(store_insert(s, "c", d, NULL), ECOM_AMBIGUOUS);
	assert_int_equal(mem_store_count(mem, "c"), 1); /* applied all the same */
	plan.store_ambiguous = 0;
	assert_int_equal(store_get(s, "c", "a", &got, NULL), ECOM_OK);
	json_decref(got);
	cp.crash_after = cp.calls + 1;
	assert_int_equal(store_get(s, "c", "a", &got, NULL), ECOM_OK);
	json_decref(got);
	assert_true(cp.crashed);
	assert_int_equal(store_remove(s, "c", "a", NULL), ECOM_UNAVAILABLE);
	assert_int_equal(mem_store_count(mem, "c"), 1);
	json_decref(d);
	store_destroy(s);   /* borrowed inner: still ours */
	store_destroy(mem);
}

/* ---- whole runs ------------------------------------------------------------------------ */

static const char *small_scenario =
	"{\"name\":\"small\",\"seed\":9,"
	"\"services\":{\"payment\":2,\"inventory\":2},"
	"\"topics\":{\"partitions\":3},"
	"\"catalog\":{\"skus\":10,\"stock\":60,\"price_cents\":[300,3000]},"
	"\"workload\":{\"orders\":40,\"rate_per_sec\":40,\"items\":[1,3],\"qty\":[1,2]},"
	"\"business\":{\"payment_decline\":0.15,\"shipping_failure\":0.1},"
	"\"faults\":{\"duplicate_delivery\":0.1,\"delivery_delay_ms\":[0,20],"
	"\"store_error\":0.01,\"store_ambiguous\":0.01,\"produce_error\":0.01,"
	"\"poison\":0.01,\"partition_stall\":0.02,\"partition_stall_ms\":[10,200],"
	"\"gateway_ambiguous\":0.05},"
	"\"run\":{\"duration_ms\":2000,\"quiesce_ms\":120000}%s}";

static void load(struct scenario *s, const char *extra)
{
	char text[4096];
	struct ecom_err err;

	snprintf(text, sizeof(text), small_scenario, extra);
	ecom_err_clear(&err);
	if (scenario_load_string(text, s, &err) != ECOM_OK)
		fail_msg("%s", err.msg);
}

static void test_small_run_meets_expectations(void **state)
{
	struct scenario s;
	struct sim_result r;
	int64_t orders, shipped, cancelled;

	(void)state;
	load(&s, "");
	assert_int_equal(sim_run(&s, NULL, &r, NULL), ECOM_OK);
	if (!r.expectations_met)
		fail_msg("unmet: %s", r.unmet);
	assert_int_equal(r.fired, 0);
	assert_int_equal(json_array_size(r.violations), 0);
	orders = jsonx_int_or(r.summary, "orders", -1);
	shipped = jsonx_int_or(r.summary, "shipped", -1);
	cancelled = jsonx_int_or(r.summary, "cancelled", -1);
	assert_int_equal(orders, 40);
	assert_int_equal(shipped + cancelled, orders);
	assert_true(shipped > 20);
	assert_int_equal(jsonx_int_or(r.summary, "stuck", -1), 0);
	assert_true(jsonx_int_or(r.summary, "deliveries", 0) > 40 * 5);
	assert_string_equal(jsonx_str(r.summary, "scenario"), "small");
	assert_int_equal(jsonx_int_or(r.summary, "seed", -1), 9);
	assert_int_equal(strlen(jsonx_str(r.summary, "trace_hash")), 16);
	sim_result_deinit(&r);
	scenario_deinit(&s);
}

static void test_same_seed_same_hash_other_seed_differs(void **state)
{
	struct scenario s;
	struct sim_options o;
	struct sim_result a, b, c, d;

	(void)state;
	load(&s, "");
	sim_options_init(&o);
	o.record_lines = 1;
	sim_run(&s, &o, &a, NULL);
	sim_options_init(&o);
	o.expect_lines = a.line_hashes;
	o.n_expect_lines = a.n_line_hashes;
	sim_run(&s, &o, &b, NULL);
	assert_true(a.trace_hash == b.trace_hash);
	assert_int_equal(a.trace_lines, b.trace_lines);
	assert_int_equal(b.first_diff, -1);
	assert_string_equal(jsonx_str(a.summary, "trace_hash"), jsonx_str(b.summary, "trace_hash"));
	o.seed_set = 1;
	o.seed = 10;
	sim_run(&s, &o, &c, NULL);
	assert_true(a.trace_hash != c.trace_hash);
	assert_true(c.first_diff >= 0); /* and the first differing line is named */
	assert_true(c.diff_line[0] != '\0');
	assert_int_equal(jsonx_int_or(c.summary, "seed", -1), 10);
	/* capturing a line by index gives that line of the same run */
	sim_options_init(&o);
	o.capture_line = c.first_diff;
	o.seed_set = 1;
	o.seed = 10;
	sim_run(&s, &o, &d, NULL);
	assert_string_equal(d.captured, c.diff_line);
	sim_result_deinit(&a);
	sim_result_deinit(&b);
	sim_result_deinit(&c);
	sim_result_deinit(&d);
	scenario_deinit(&s);
}

static void test_planted_bug_fires_its_invariant(void **state)
{
	struct scenario s;
	struct sim_result r;

	(void)state;
	load(&s, ",\"bugs\":[\"skip_inbox_dedup\"]");
	sim_run(&s, NULL, &r, NULL);
	assert_true(r.fired & (1u << INV_EXACTLY_ONCE_EFFECTS));
	assert_false(r.expectations_met); /* expect.violations is empty */
	assert_non_null(strstr(r.unmet, "exactly_once_effects fired"));
	sim_result_deinit(&r);
	scenario_deinit(&s);

	load(&s, ",\"bugs\":[\"skip_inbox_dedup\"],"
		 "\"expect\":{\"violations\":[\"exactly_once_effects\"]}");
	sim_run(&s, NULL, &r, NULL);
	if (!r.expectations_met)
		fail_msg("unmet: %s", r.unmet);
	assert_string_equal(jsonx_str(json_array_get(r.violations, 0), "invariant"),
			    "exactly_once_effects");
	assert_non_null(strstr(jsonx_str(json_array_get(r.violations, 0), "detail"),
			       "applied twice"));
	sim_result_deinit(&r);
	scenario_deinit(&s);
}

static void test_expected_violation_that_does_not_fire_is_unmet(void **state)
{
	struct scenario s;
	struct sim_result r;

	(void)state;
	load(&s, ",\"expect\":{\"violations\":[\"stock_conservation\"],\"min_shipped\":1000}");
	sim_run(&s, NULL, &r, NULL);
	assert_false(r.expectations_met);
	assert_non_null(strstr(r.unmet, "expected stock_conservation to fire"));
	assert_non_null(strstr(r.unmet, "shipped"));
	sim_result_deinit(&r);
	scenario_deinit(&s);
}

static void test_crash_point_tears_down_and_restarts(void **state)
{
	struct scenario s;
	struct sim_options o;
	struct sim_result r;

	(void)state;
	load(&s, "");
	sim_options_init(&o);
	o.crash_instance = "inventory#1";
	o.crash_after_calls = 200;
	sim_run(&s, &o, &r, NULL);
	if (!r.expectations_met)
		fail_msg("unmet: %s", r.unmet);
	assert_int_equal(jsonx_int_or(r.summary, "crashes", -1), 1);
	assert_int_equal(jsonx_int_or(r.summary, "restarts", -1), 1);
	assert_int_equal(jsonx_int_or(json_object_get(json_object_get(r.summary, "instances"),
						      "inventory#1"),
				      "crashes", -1),
			 1);
	sim_result_deinit(&r);
	scenario_deinit(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_produce_error_appends_nothing, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_delivery, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_poison_follows_real_message, fx_setup,
						fx_teardown),
		cmocka_unit_test(test_every_poison_kind_is_rejected),
		cmocka_unit_test_setup_teardown(test_crashpoint, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_partition_stall_keeps_partition_order,
						fx_setup, fx_teardown),
		cmocka_unit_test(test_fault_store),
		cmocka_unit_test(test_small_run_meets_expectations),
		cmocka_unit_test(test_same_seed_same_hash_other_seed_differs),
		cmocka_unit_test(test_planted_bug_fires_its_invariant),
		cmocka_unit_test(test_expected_violation_that_does_not_fire_is_unmet),
		cmocka_unit_test(test_crash_point_tears_down_and_restarts),
	};
	return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
