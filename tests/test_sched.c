/* test_sched.c — the simulator's event queue: pops in (time, push order), equal times keep
 * push order, the bound refuses pushes instead of growing, and a large random workload
 * comes out sorted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ecom.h"
#include "core/rng.h"
#include "sim/sched.h"

static void test_orders_by_time_then_seq(void **state)
{
	struct sched s;
	struct sched_event e;
	static const int64_t times[] = { 50, 10, 30, 10, 50, 0, 30 };
	static const int64_t want_t[] = { 0, 10, 10, 30, 30, 50, 50 };
	static const int64_t want_arg[] = { 5, 1, 3, 2, 6, 0, 4 };

	(void)state;
	sched_init(&s, 100);
	for (size_t i = 0; i < ECOM_ARRAY_LEN(times); i++)
		assert_int_equal(sched_push(&s, times[i], 7, (int32_t)i, (int64_t)i), ECOM_OK);
	assert_int_equal(sched_len(&s), ECOM_ARRAY_LEN(times));
	assert_true(sched_peek(&s, &e));
	assert_int_equal(e.at_us, 0);
	for (size_t i = 0; i < ECOM_ARRAY_LEN(times); i++) {
		assert_true(sched_pop(&s, &e));
		assert_int_equal(e.at_us, want_t[i]);
		assert_int_equal(e.arg, want_arg[i]);
		assert_int_equal(e.kind, 7);
	}
	assert_false(sched_pop(&s, &e));
	assert_false(sched_peek(&s, &e));
	sched_deinit(&s);
}

static void test_same_time_is_fifo(void **state)
{
	struct sched s;
	struct sched_event e;

	(void)state;
	sched_init(&s, 1000);
	for (int i = 0; i < 500; i++)
		assert_int_equal(sched_push(&s, 42, 0, 0, i), ECOM_OK);
	for (int i = 0; i < 500; i++) {
		assert_true(sched_pop(&s, &e));
		assert_int_equal(e.arg, i);
	}
	sched_deinit(&s);
}

static void test_bound(void **state)
{
	struct sched s;
	struct sched_event e;

	(void)state;
	sched_init(&s, 3);
	assert_int_equal(sched_push(&s, 3, 0, 0, 0), ECOM_OK);
	assert_int_equal(sched_push(&s, 2, 0, 0, 1), ECOM_OK);
	assert_int_equal(sched_push(&s, 1, 0, 0, 2), ECOM_OK);
	assert_int_equal(sched_push(&s, 0, 0, 0, 3), ECOM_UNAVAILABLE);
	assert_int_equal(sched_len(&s), 3);
	assert_int_equal(s.high_water, 3);
	assert_true(sched_pop(&s, &e));
	assert_int_equal(e.arg, 2); /* the refused push left no trace */
	assert_int_equal(sched_push(&s, 0, 0, 0, 4), ECOM_OK);
	assert_true(sched_pop(&s, &e));
	assert_int_equal(e.arg, 4);
	sched_deinit(&s);
}

/* Interleaved random pushes and pops: every pop is >= the previous in (time, seq), and the
 * multiset of popped args is what was pushed. */
static void test_random_interleaving(void **state)
{
	struct sched s;
	struct sched_event e;
	struct rng r;
	int64_t last_t = -1;
	uint64_t last_seq = 0, pushed = 0, popped = 0, sum_in = 0, sum_out = 0;

	(void)state;
	rng_seed(&r, 7);
	sched_init(&s, SCHED_EVENTS_MAX);
	for (int i = 0; i < 20000; i++) {
		if (rng_below(&r, 3) != 0) {
			/* never earlier than what has already fired, like the simulator */
			int64_t t = (last_t < 0 ? 0 : last_t) + (int64_t)rng_below(&r, 1000);

			assert_int_equal(sched_push(&s, t, 0, 0, i), ECOM_OK);
			pushed++;
			sum_in += (uint64_t)i;
		} else if (sched_pop(&s, &e)) {
			assert_true(e.at_us > last_t || (e.at_us == last_t && e.seq > last_seq));
			last_t = e.at_us;
			last_seq = e.seq;
			popped++;
			sum_out += (uint64_t)e.arg;
		}
	}
	while (sched_pop(&s, &e)) {
		assert_true(e.at_us > last_t || (e.at_us == last_t && e.seq > last_seq));
		last_t = e.at_us;
		last_seq = e.seq;
		popped++;
		sum_out += (uint64_t)e.arg;
	}
	assert_int_equal(pushed, popped);
	assert_int_equal(sum_in, sum_out);
	assert_int_equal(s.pushed, pushed);
	sched_deinit(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orders_by_time_then_seq),
		cmocka_unit_test(test_same_time_is_fifo),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_random_interleaving),
	};
	return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
