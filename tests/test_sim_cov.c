/* test_sim_cov.c — the simulator's parts one by one: the trace line format and its FNV-1a
 * hash (record, compare, capture, JSONL), the violation report, fault draws and crash
 * points, the fault wrappers' rates and edge cases, saga-path coverage counting, every
 * invariant checker on a hand-built world (each fires on its crafted violation, naming the
 * order, SKU or message, and stays quiet on a clean state), the end-of-run summary and
 * expectation check, and a few whole runs for the workload's shapes and admin ops. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event/event.h"
#include "event/jsonx.h"
#include "sim/fault_broker.h"
#include "sim/fault_store.h"
#include "sim/mem_store.h"
#include "sim/report.h"
#include "sim/world_int.h"

/* ---- trace ------------------------------------------------------------------------------ */

/* FNV-1a 64, written out here so the test does not trust the code under test. */
static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL

static void test_trace_line_format_and_hash(void **state)
{
	struct sim_trace t;
	const char *l1 = "t=0000000042 payment#2 handled x.Y.v1 e-1";
	const char *l2 = "t=0000000043 world quiescent";
	uint64_t h;
	char hex[17];

	(void)state;
	assert_int_equal(fnv(FNV_OFFSET, "a", 1), 0xaf63dc4c8601ec8cULL); /* published vector */
	sim_trace_init(&t);
	assert_true(t.hash == FNV_OFFSET);
	sim_trace_linef(&t, 42, "payment#2", "handled", "%s e-%d", "x.Y.v1", 1);
	sim_trace_line(&t, 43, "world", "quiescent", NULL); /* no detail: no trailing space */
	h = fnv(fnv(fnv(fnv(FNV_OFFSET, l1, strlen(l1)), "\n", 1), l2, strlen(l2)), "\n", 1);
	assert_true(t.hash == h);
	assert_int_equal(t.lines, 2);
	sim_trace_line(&t, 44, "world", "x", ""); /* an empty detail is no detail */
	h = fnv(fnv(h, "t=0000000044 world x", 20), "\n", 1);
	assert_true(t.hash == h);
	sim_trace_hash_hex(0x0123456789abcdefULL, hex);
	assert_string_equal(hex, "0123456789abcdef");
	sim_trace_hash_hex(5, hex);
	assert_string_equal(hex, "0000000000000005");
	sim_trace_deinit(&t);
	sim_trace_deinit(NULL);
}

static void test_trace_long_line_truncated_and_jsonl(void **state)
{
	struct sim_trace t;
	char detail[3 * TRACE_LINE_MAX], line[TRACE_LINE_MAX], *buf = NULL;
	size_t cap = 0;
	FILE *f = tmpfile();
	json_t *j;
	int n;

	(void)state;
	assert_non_null(f);
	memset(detail, 'd', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	sim_trace_init(&t);
	t.jsonl = f;
	sim_trace_line(&t, 7, "order#1", "published", detail);
	n = snprintf(line, sizeof(line), "t=0000000007 order#1 published %s", detail);
	assert_true(n >= TRACE_LINE_MAX);
	/* the hashed line is cut at TRACE_LINE_MAX - 1 bytes, as the JSONL "line" shows it */
	assert_true(t.hash == fnv(fnv(FNV_OFFSET, line, TRACE_LINE_MAX - 1), "\n", 1));
	rewind(f);
	assert_true(getline(&buf, &cap, f) > 0);
	j = json_loads(buf, 0, NULL);
	assert_non_null(j);
	assert_int_equal(jsonx_int_or(j, "t_us", -1), 7);
	assert_string_equal(jsonx_str(j, "actor"), "order#1");
	assert_string_equal(jsonx_str(j, "event"), "published");
	assert_string_equal(jsonx_str(j, "detail"), detail); /* the detail is kept whole */
	assert_int_equal(strlen(jsonx_str(j, "line")), TRACE_LINE_MAX - 1);
	assert_int_equal(strncmp(jsonx_str(j, "line"), line, TRACE_LINE_MAX - 1), 0);
	json_decref(j);
	/* a NULL detail is written as "" */
	sim_trace_line(&t, 8, "world", "quiet", NULL);
	rewind(f);
	assert_true(getline(&buf, &cap, f) > 0);
	assert_true(getline(&buf, &cap, f) > 0);
	j = json_loads(buf, 0, NULL);
	assert_string_equal(jsonx_str(j, "detail"), "");
	assert_string_equal(jsonx_str(j, "line"), "t=0000000008 world quiet");
	json_decref(j);
	free(buf);
	fclose(f);
	sim_trace_deinit(&t);
}

/* A negative time (never in a run; the API allows it) reads as printf's "%010lld" would,
 * and is truncated the same way. */
static void test_trace_negative_time(void **state)
{
	struct sim_trace t;
	char detail[2 * TRACE_LINE_MAX], line[TRACE_LINE_MAX];
	uint64_t h;

	(void)state;
	sim_trace_init(&t);
	t.record = 1;
	sim_trace_line(&t, -5, "w", "x", "d");
	h = fnv(fnv(FNV_OFFSET, "t=-000000005 w x d", 18), "\n", 1);
	assert_true(t.hash == h);
	memset(detail, 'd', sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	sim_trace_line(&t, -1, "w", "x", detail);
	snprintf(line, sizeof(line), "t=-000000001 w x %s", detail);
	assert_true(t.hash == fnv(fnv(h, line, TRACE_LINE_MAX - 1), "\n", 1));
	sim_trace_line(&t, -7, "w", "x", NULL);
	assert_true(t.hash == fnv(fnv(fnv(h, line, TRACE_LINE_MAX - 1), "\n", 1),
				  "t=-000000007 w x\n", 17));
	assert_int_equal(t.n_rec, 3);
	sim_trace_deinit(&t);
}

/* Record per-line rolling hashes, compare a second trace against them (the first differing
 * line is kept, also when the second trace runs longer), capture one line by index. */
static void test_trace_record_compare_capture(void **state)
{
	struct sim_trace a, b, c;

	(void)state;
	sim_trace_init(&a);
	a.record = 1;
	for (int i = 0; i < 5000; i++) /* past the first growth of the record */
		sim_trace_linef(&a, i, "w", "tick", "%d", i);
	assert_int_equal(a.n_rec, 5000);
	assert_true(a.rec[4999] == a.hash);

	sim_trace_init(&b);
	b.expect = a.rec;
	b.n_expect = 3;
	b.capture_at = 1;
	for (int i = 0; i < 3; i++)
		sim_trace_linef(&b, i, "w", "tick", "%d", i);
	assert_int_equal(b.first_diff, -1);
	assert_string_equal(b.captured, "t=0000000001 w tick 1");
	sim_trace_linef(&b, 3, "w", "tick", "%d", 3); /* one line beyond the record */
	assert_int_equal(b.first_diff, 3);
	assert_string_equal(b.diff_line, "t=0000000003 w tick 3");

	sim_trace_init(&c);
	c.expect = a.rec;
	c.n_expect = a.n_rec;
	sim_trace_line(&c, 0, "w", "tick", "0");
	sim_trace_line(&c, 1, "w", "tock", "1"); /* differs here */
	sim_trace_line(&c, 2, "w", "tock", "2"); /* the first difference stays */
	assert_int_equal(c.first_diff, 1);
	assert_string_equal(c.diff_line, "t=0000000001 w tock 1");
	assert_string_equal(c.captured, ""); /* capture off */
	sim_trace_deinit(&a);
	sim_trace_deinit(&b);
	sim_trace_deinit(&c);
	assert_null(a.rec);
}

/* ---- the violation report ------------------------------------------------------------------ */

static void test_inv_report_bounded_and_names(void **state)
{
	struct inv_report r;
	enum inv_id id;

	(void)state;
	inv_report_init(&r);
	for (int i = 0; i < INV_DETAILS_MAX + 5; i++)
		inv_report_add(&r, INV_OUTBOX_DRAINED, "doc %d", i);
	inv_report_add(&r, INV_TERMINATION, "order %s", "x");
	assert_int_equal(r.fired, (1u << INV_OUTBOX_DRAINED) | (1u << INV_TERMINATION));
	assert_int_equal(r.count[INV_OUTBOX_DRAINED], INV_DETAILS_MAX + 5); /* counted */
	assert_int_equal(json_array_size(r.violations), INV_DETAILS_MAX + 1); /* listed */
	assert_string_equal(jsonx_str(json_array_get(r.violations, INV_DETAILS_MAX), "detail"),
			    "order x");
	assert_string_equal(jsonx_str(json_array_get(r.violations, 0), "invariant"),
			    "outbox_drained");
	inv_report_deinit(&r);
	assert_null(r.violations);
	inv_report_deinit(NULL);
	for (int i = 0; i < INV__COUNT; i++) {
		assert_int_equal(inv_from_name(inv_name((enum inv_id)i), &id), ECOM_OK);
		assert_int_equal(id, i);
	}
	assert_int_equal(inv_from_name("stock", &id), ECOM_NOT_FOUND);
	assert_int_equal(inv_from_name(NULL, &id), ECOM_NOT_FOUND);
}

/* ---- fault draws, crash points, wrappers ------------------------------------------------ */

static void test_fault_draw_rates(void **state)
{
	struct rng r, copy;
	struct fault_plan plan = { .rng = &r, .active = 1 };
	int hits = 0;

	(void)state;
	rng_seed(&r, 77);
	copy = r;
	/* no plan, an inactive plan, p = 0 and no rng draw nothing and consume nothing */
	assert_int_equal(fault_draw(NULL, 1.0), 0);
	plan.active = 0;
	assert_int_equal(fault_draw(&plan, 1.0), 0);
	plan.active = 1;
	assert_int_equal(fault_draw(&plan, 0), 0);
	assert_int_equal(fault_draw(&plan, -1), 0);
	plan.rng = NULL;
	assert_int_equal(fault_draw(&plan, 1.0), 0);
	plan.rng = &r;
	assert_true(rng_next(&r) == rng_next(&copy));
	for (int i = 0; i < 40000; i++)
		hits += fault_draw(&plan, 0.25);
	assert_in_range(hits, 10000 - 600, 10000 + 600);
	for (int i = 0; i < 100; i++)
		assert_int_equal(fault_draw(&plan, 1.0), 1);
	assert_string_equal(fault_poison_kind_name(FAULT_POISON_MALFORMED), "malformed");
	assert_string_equal(fault_poison_kind_name(FAULT_POISON_SCHEMA), "schema");
	assert_string_equal(fault_poison_kind_name(FAULT_POISON_UNKNOWN_TYPE), "unknown_type");
}

static void test_crashpoint_edges(void **state)
{
	struct fault_crashpoint cp = { 0 };

	(void)state;
	assert_int_equal(fault_crashpoint_enter(NULL), 0); /* no crash point: never crashed */
	fault_crashpoint_leave(NULL);
	for (int i = 0; i < 10; i++) { /* crash_after 0: never */
		assert_int_equal(fault_crashpoint_enter(&cp), 0);
		fault_crashpoint_leave(&cp);
	}
	assert_false(cp.crashed);
	assert_int_equal(cp.calls, 10);
	cp.crash_after = 3; /* already past: the next call completes, then it is crashed */
	assert_int_equal(fault_crashpoint_enter(&cp), 0);
	fault_crashpoint_leave(&cp);
	assert_true(cp.crashed);
	assert_int_equal(fault_crashpoint_enter(&cp), 1);
	assert_int_equal(cp.calls, 11); /* a refused call is not counted */
}

struct fcount {
	int faults, poisoned, delivered, dup_delivered;
	char last_what[32];
};

static void fc_fault(void *arg, const char *actor, const char *what, const char *detail)
{
	struct fcount *c = arg;

	(void)actor;
	(void)detail;
	c->faults++;
	snprintf(c->last_what, sizeof(c->last_what), "%s", what);
}

static void fc_deliver(void *arg, const char *actor, const struct broker_msg *m, int dup)
{
	struct fcount *c = arg;

	(void)actor;
	(void)m;
	if (dup)
		c->dup_delivered++;
	else
		c->delivered++;
}

static json_t *id_doc(const char *id)
{
	json_t *d = json_object();

	jsonx_set_str(d, "_id", id);
	jsonx_set_int(d, "version", 1);
	return d;
}

/* store_error and store_ambiguous at their rates; remove, crash and ownership edges. */
static void test_fault_store_rates_and_edges(void **state)
{
	struct store *mem = mem_store_new();
	struct rng r;
	struct fcount fc = { 0 };
	struct fault_plan plan = { .rng = &r, .active = 1, .arg = &fc, .on_fault = fc_fault };
	struct fault_crashpoint cp = { 0 };
	struct store *s = fault_store_new(mem, 1, &plan, &cp, "inventory#1"), *bare;
	int unavailable = 0, ambiguous = 0, ok = 0;
	char id[32];
	json_t *d, *got = NULL;

	(void)state;
	rng_seed(&r, 5);
	plan.store_error = 0.1;
	plan.store_ambiguous = 0.2;
	for (int i = 0; i < 2000; i++) {
		int rc;

		snprintf(id, sizeof(id), "d%04d", i);
		d = id_doc(id);
		rc = store_insert(s, "c", d, NULL);
		json_decref(d);
		unavailable += rc == ECOM_UNAVAILABLE;
		ambiguous += rc == ECOM_AMBIGUOUS;
		ok += rc == ECOM_OK;
	}
	/* 10% refused outright; of the rest, 20% applied but reported ambiguous */
	assert_in_range(unavailable, 200 - 60, 200 + 60);
	assert_in_range(ambiguous, 360 - 70, 360 + 70);
	assert_int_equal(mem_store_count(mem, "c"), (size_t)(ok + ambiguous));
	assert_int_equal(fc.faults, unavailable + ambiguous);

	plan.store_error = plan.store_ambiguous = 0;
	plan.store_error = 1.0;
	assert_int_equal(store_remove(s, "c", "d0001", NULL), ECOM_UNAVAILABLE);
	assert_string_equal(fc.last_what, "store_error");
	plan.store_error = 0;
	d = id_doc("gone");
	assert_int_equal(store_insert(s, "c", d, NULL), ECOM_OK);
	assert_int_equal(store_remove(s, "c", "gone", NULL), ECOM_OK);
	assert_int_equal(store_get(s, "c", "gone", &got, NULL), ECOM_NOT_FOUND);
	/* a crashed instance applies nothing, whatever the call */
	cp.crash_after = cp.calls + 1;
	assert_int_equal(store_insert(s, "c", d, NULL), ECOM_OK);
	assert_true(cp.crashed);
	assert_int_equal(store_remove(s, "c", "gone", NULL), ECOM_UNAVAILABLE);
	assert_int_equal(store_get(mem, "c", "gone", &got, NULL), ECOM_OK);
	json_decref(got);
	json_decref(d);

	/* no plan: a transparent pass-through; faults are not reported without on_fault */
	bare = fault_store_new(mem, 0, NULL, NULL, "x#1");
	assert_int_equal(store_remove(bare, "c", "gone", NULL), ECOM_OK);
	store_destroy(bare);
	plan.on_fault = NULL;
	plan.store_error = 1.0;
	fc.faults = 0;
	cp.crashed = 0;
	cp.crash_after = 0;
	assert_int_equal(store_get(s, "c", "d0002", &got, NULL), ECOM_UNAVAILABLE);
	assert_int_equal(fc.faults, 0);
	store_destroy(s); /* owns mem: ASan reports a leak if it does not free it */
}

static int fb_produce(struct broker *b, const char *topic, const char *key, const char *value)
{
	static const struct broker_header hdr[] = { { "x-h", "v" } };
	struct broker_record r = { .topic = topic, .key = key, .key_len = key ? strlen(key) : 0,
				   .value = value, .value_len = strlen(value),
				   .headers = hdr, .n_headers = 1 };

	return broker_produce(b, &r, NULL);
}

static void test_fault_broker_rates_and_edges(void **state)
{
	struct manual_clock clock;
	struct rng r;
	struct fcount fc = { 0 };
	struct fault_plan plan = { .rng = &r, .active = 1, .arg = &fc, .on_fault = fc_fault,
				   .on_deliver = fc_deliver };
	struct fault_crashpoint cp = { 0 };
	struct mem_cluster *cl;
	struct broker *p, *c, *bare;
	static const char *const topics[] = { "t" };
	struct broker_msg m;
	int ok = 0, polled = 0;

	(void)state;
	manual_clock_init(&clock, 0);
	rng_seed(&r, 11);
	cl = mem_cluster_new(1, &clock.base);
	plan.clock = &clock.base;
	p = fault_broker_new(mem_broker_new(cl, "p"), &plan, NULL, "p#1");
	c = fault_broker_new(mem_broker_new(cl, "c"), &plan, &cp, "c#1");
	assert_int_equal(broker_subscribe(c, "g", topics, 1, NULL), ECOM_OK);

	/* produce_error at its rate: nothing appended for a refused produce */
	plan.produce_error = 0.3;
	for (int i = 0; i < 1000; i++)
		ok += fb_produce(p, "t", NULL, "v") == ECOM_OK;
	assert_in_range(ok, 700 - 60, 700 + 60);
	assert_int_equal(mem_cluster_end_offset(cl, "t", 0), ok);
	plan.produce_error = 0;

	/* duplicate_delivery at its rate; a duplicate is the same message (headers, NULL key) */
	plan.duplicate_delivery = 0.5;
	while (broker_poll(c, 0, &m, NULL) == ECOM_OK) {
		polled++;
		assert_null(m.key);
		assert_int_equal(m.n_headers, 1);
		assert_string_equal(m.headers[0].value, "v");
		assert_int_equal(broker_commit(c, "t", 0, m.offset + 1, NULL), ECOM_OK);
	}
	assert_int_equal(fc.delivered, ok);
	assert_int_equal(polled, ok + fc.dup_delivered);
	assert_in_range(fc.dup_delivered, ok / 2 - 60, ok / 2 + 60);
	plan.duplicate_delivery = 0;

	/* poison of a keyless message: keyed by its poison id, reported without on_poison */
	plan.poison = 1.0;
	fc.faults = 0;
	assert_int_equal(fb_produce(p, "t", NULL, ""), ECOM_OK);
	assert_int_equal(fc.faults, 1);
	assert_string_equal(fc.last_what, "poison");
	plan.poison = 0;
	assert_int_equal(broker_poll(c, 0, &m, NULL), ECOM_OK);
	assert_int_equal(m.value_len, 0); /* the empty message itself */
	assert_int_equal(broker_poll(c, 0, &m, NULL), ECOM_OK);
	assert_non_null(strstr(m.value, "poison-1"));
	assert_int_equal(broker_commit(c, "t", 0, m.offset + 1, NULL), ECOM_OK);

	/* a 0 ms stall: held, then released by the same poll once the fetch comes back empty */
	plan.partition_stall = 1.0;
	plan.stall_ms_lo = plan.stall_ms_hi = 0;
	assert_int_equal(fb_produce(p, "t", "k", "stalled"), ECOM_OK);
	assert_int_equal(broker_poll(c, 0, &m, NULL), ECOM_OK);
	assert_string_equal(m.value, "stalled");
	assert_int_equal(fault_broker_held(c), 0);

	/* a long stall, then a resubscription: nothing held survives it. (What happens to the
	 * dropped message is not asserted: mem_broker keeps a re-subscribing member's
	 * positions, so it is not fetched again by this member — see the report of the
	 * coverage work; the runtime subscribes once per broker, so no run reaches this.) */
	plan.stall_ms_lo = plan.stall_ms_hi = 1000;
	assert_int_equal(fb_produce(p, "t", "k", "again"), ECOM_OK);
	assert_int_equal(broker_poll(c, 0, &m, NULL), ECOM_NOT_FOUND);
	assert_int_equal(fault_broker_held(c), 1);
	plan.partition_stall = 0;
	assert_int_equal(broker_subscribe(c, "g", topics, 1, NULL), ECOM_OK);
	assert_int_equal(fault_broker_held(c), 0);

	/* a crashed instance's broker refuses every call */
	cp.crash_after = cp.calls;
	cp.crashed = 1;
	assert_int_equal(broker_poll(c, 0, &m, NULL), ECOM_UNAVAILABLE);
	assert_int_equal(broker_commit(c, "t", 0, 1, NULL), ECOM_UNAVAILABLE);
	assert_int_equal(broker_subscribe(c, "g", topics, 1, NULL), ECOM_UNAVAILABLE);

	/* no plan at all: a pass-through */
	bare = fault_broker_new(mem_broker_new(cl, "b"), NULL, NULL, "b#1");
	assert_int_equal(fb_produce(bare, "u", "k", "plain"), ECOM_OK);
	assert_int_equal(mem_cluster_end_offset(cl, "u", 0), 1);
	broker_destroy(bare);
	broker_destroy(p);
	broker_destroy(c);
	mem_cluster_free(cl);
}

/* The held-back queue is bounded: behind a stall, FAULT_BROKER_HELD_MAX messages wait and
 * the next one is delivered rather than held (order within the partition aside). */
static void test_fault_broker_held_bound(void **state)
{
	struct manual_clock clock;
	struct rng r;
	struct fault_plan plan = { .rng = &r, .active = 1 };
	struct mem_cluster *cl;
	struct broker *p, *c;
	static const char *const topics[] = { "t" };
	struct broker_msg m;
	char v[32];

	(void)state;
	manual_clock_init(&clock, 0);
	rng_seed(&r, 12);
	cl = mem_cluster_new(1, &clock.base);
	plan.clock = &clock.base;
	p = mem_broker_new(cl, "p");
	c = fault_broker_new(mem_broker_new(cl, "c"), &plan, NULL, "c#1");
	assert_int_equal(broker_subscribe(c, "g", topics, 1, NULL), ECOM_OK);
	for (int i = 0; i <= FAULT_BROKER_HELD_MAX; i++) {
		snprintf(v, sizeof(v), "m%d", i);
		assert_int_equal(fb_produce(p, "t", "k", v), ECOM_OK);
	}
	plan.partition_stall = 1.0;
	plan.stall_ms_lo = plan.stall_ms_hi = 5000;
	assert_int_equal(broker_poll(c, 0, &m, NULL), ECOM_OK);
	assert_int_equal(fault_broker_held(c), FAULT_BROKER_HELD_MAX);
	assert_string_equal(m.value, "m4096");
	assert_int_equal(fault_broker_next_release(c), 5000 * 1000);
	broker_destroy(p);
	broker_destroy(c);
	mem_cluster_free(cl);
}

/* ---- saga-path coverage ------------------------------------------------------------------ */

static void test_coverage_counting_edges(void **state)
{
	struct cov_counts c, d;
	struct cov_agg a;
	json_t *s, *j;

	(void)state;
	cov_counts_init(&c);
	cov_from_summary(&c, NULL); /* not an object: nothing is known */
	assert_int_equal(c.known, 0);
	cov_trace_begin(&c);
	cov_trace_line(&c, 1, NULL, "crash", "");
	cov_trace_line(&c, 1, "payment#1", NULL, "");
	assert_int_equal(c.n[COV_CRASH], 0);
	cov_trace_line(&c, 1, "payment#1", "crash", NULL);
	cov_trace_line(&c, 2, "order#1", "commit_conflict", "order.X id");
	cov_trace_line(&c, 3, "order#1", "sweep_published", "payment.PaymentRefunded.v1 e");
	cov_trace_line(&c, 4, "order#1", "retry_scheduled", "x");
	cov_trace_line(&c, 5, "read-model#1", "handled", "ops.StepTimeout.v1 z");
	cov_trace_line(&c, 6, "orders#1", "handled", "ops.StepTimeout.v1 z"); /* not "order" */
	cov_trace_line(&c, 7, "shipping#1", "handled", "ops.StepTimeoutX z");
	cov_trace_line(&c, 8, "inventory#1", "dead_lettered", "x");
	cov_trace_line(&c, 9, "admin", "retry", "ok");
	cov_trace_line(&c, 9, "admin", "retry", "refused order is SHIPPED");
	cov_trace_line(&c, 9, "admin", "dlq_replay", "ok");
	cov_trace_line(&c, 9, "broker", "delay", "t[0]@1 +5ms");
	cov_trace_line(&c, 9, "inventory#1", "duplicate_skipped", "x");
	assert_int_equal(c.n[COV_CRASH], 1);
	assert_int_equal(c.n[COV_CAS_CONFLICT], 1);
	assert_int_equal(c.n[COV_REFUND], 1);
	assert_int_equal(c.n[COV_SWEEP_PUBLISHED], 1);
	assert_int_equal(c.n[COV_BACKOFF_RETRY], 1);
	assert_int_equal(c.n[COV_DEADLINE_FENCE], 1); /* only "orders#1" */
	assert_int_equal(c.n[COV_DEAD_LETTER], 1);
	assert_int_equal(c.n[COV_ADMIN_RETRY_OK], 1);
	assert_int_equal(c.n[COV_ADMIN_RETRY_REFUSED], 1);
	assert_int_equal(c.n[COV_DUPLICATE_DEDUPED], 1);

	/* from a summary: ops and instances; a "coverage" object overrides what it names */
	s = json_pack("{s:I,s:I,s:[{s:s,s:s},{s:s,s:s},{s:s},{s:s,s:s}],"
		      "s:{s:{s:I,s:I},s:{s:I}},s:{s:I,s:s,s:I}}",
		      "crashes", (json_int_t)2, "dead_letters", (json_int_t)4, "ops", "op",
		      "compensate", "result", "ok", "op", "compensate", "result", "refused", "op",
		      "retry", "op", "dlq_replay", "result", "ok", "instances", "a#1", "retries",
		      (json_int_t)3, "conflicts", (json_int_t)1, "b#1", "retries", (json_int_t)2,
		      "coverage", "rebalance", (json_int_t)9, "refund", "many", "crash",
		      (json_int_t)5);
	assert_non_null(s);
	cov_counts_init(&d);
	cov_from_summary(&d, s);
	assert_int_equal(d.n[COV_ADMIN_COMPENSATE_OK], 1);
	assert_int_equal(d.n[COV_ADMIN_COMPENSATE_REFUSED], 1);
	assert_int_equal(d.n[COV_ADMIN_RETRY_OK], 0);
	assert_int_equal(d.n[COV_BACKOFF_RETRY], 5);
	assert_int_equal(d.n[COV_CAS_CONFLICT], 1);
	assert_int_equal(d.n[COV_DEAD_LETTER], 4);
	assert_int_equal(d.n[COV_REBALANCE], 9);
	assert_true(d.known & (1u << COV_REBALANCE));
	assert_false(d.known & (1u << COV_REFUND)); /* "many" is not a count */
	assert_int_equal(d.n[COV_CRASH], 5);        /* the coverage object wins */
	j = cov_to_json(&d);
	assert_null(json_object_get(j, "refund"));
	assert_int_equal(jsonx_int_or(j, "crash", -1), 5);
	json_decref(j);
	cov_merge_max(&d, &c);
	assert_int_equal(d.n[COV_CRASH], 5);
	assert_int_equal(d.n[COV_REFUND], 1);
	assert_int_equal(d.known, (1u << COV__COUNT) - 1);
	cov_agg_init(&a);
	cov_agg_add(&a, &d);
	cov_agg_add(&a, &(struct cov_counts){ .known = 1u << COV_CRASH });
	assert_int_equal(a.runs, 2);
	assert_int_equal(a.runs_known[COV_CRASH], 2);
	assert_int_equal(a.runs_reached[COV_CRASH], 1);
	assert_int_equal(a.runs_known[COV_REFUND], 1);
	assert_int_equal(a.total[COV_CRASH], 5);
	for (int p = 0; p < COV__COUNT; p++)
		assert_true(strlen(cov_meaning((enum cov_point)p)) > 10);
	json_decref(s);
}

/* ---- a hand-built world for the invariant checkers --------------------------------------- */

#define OA "aaaaaaaa-0000-4000-8000-000000000001"
#define OB "bbbbbbbb-0000-4000-8000-000000000002"
#define OC "cccccccc-0000-4000-8000-000000000003"

struct cw {
	struct sim_world *w;
	struct scenario scn;
	struct sim_options opt;
	struct rng ev_rng;
	struct broker *pub;
	char ev_a[64]; /* the OrderCreated event of order A in the log */
	char auth_a[ADAPTER_ID_MAX]; /* A's capture */
};

static void cw_topics(struct sim_world *w)
{
	for (int s = 0; s < SCN_SVC_COUNT; s++) {
		const struct svc_def *def = world_binding((enum scn_service)s)->def();

		snprintf(w->groups[s], sizeof(w->groups[s]), "%s-service-group", def->name);
		for (size_t i = 0; i < def->n_types; i++)
			w->topics[s][w->n_topics[s]++] = event_type_name(def->types[i]);
		for (size_t i = 0; i < def->n_extra_topics; i++)
			w->topics[s][w->n_topics[s]++] = def->extra_topics[i];
	}
}

static void cw_put(struct cw *c, enum scn_service s, const char *coll, json_t *doc)
{
	assert_int_equal(store_insert(c->w->stores[s], coll, doc, NULL), ECOM_OK);
	json_decref(doc);
}

static void cw_replace(struct cw *c, enum scn_service s, const char *coll, json_t *doc)
{
	assert_int_equal(store_remove(c->w->stores[s], coll, jsonx_str(doc, "_id"), NULL),
			 ECOM_OK);
	cw_put(c, s, coll, doc);
}

/* Publishes an event of type for order (payload stolen); its eventId into id. */
static void cw_event(struct cw *c, enum event_type type, const char *order, json_t *payload,
		     char id[64])
{
	struct envelope e;
	struct broker_record r;
	char *v;

	jsonx_set_str(payload, "orderId", order);
	envelope_init(&e, &c->ev_rng, WORLD_WALL_EPOCH_MS, type, order, payload, NULL, NULL);
	snprintf(id, 64, "%s", e.event_id);
	v = envelope_serialize(&e);
	r = (struct broker_record){ .topic = event_type_name(type), .key = order,
				    .key_len = strlen(order), .value = v, .value_len = strlen(v) };
	assert_int_equal(broker_produce(c->pub, &r, NULL), ECOM_OK);
	free(v);
	envelope_deinit(&e);
}

static json_t *cw_order_doc(const char *id, const char *status, int64_t total, int64_t attempt,
			    const char *sku, int64_t qty)
{
	return json_pack("{s:s,s:s,s:I,s:I,s:[{s:s,s:I}],s:[{s:s,s:s}],s:I}", "_id", id,
			 "status", status, "total", (json_int_t)total, "attempt",
			 (json_int_t)attempt, "items", "sku", sku, "qty", (json_int_t)qty,
			 "history", "eventId", "h-1", "type", "order.OrderCreated.v1", "version",
			 (json_int_t)1);
}

static json_t *cw_stock_doc(const char *sku, int64_t avail, int64_t held, int64_t shipped)
{
	return json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "_id", sku, "sku", sku, "available",
			 (json_int_t)avail, "held", (json_int_t)held, "shipped",
			 (json_int_t)shipped, "version", (json_int_t)1);
}

static json_t *cw_projection(const char *id, const char *status, const char *ev)
{
	json_t *p = json_pack("{s:s,s:s,s:[],s:I}", "_id", id, "status", status, "timeline",
			      "version", (json_int_t)1);

	if (ev)
		json_array_append_new(json_object_get(p, "timeline"),
				      json_pack("{s:s}", "eventId", ev));
	return p;
}

static int cw_charge(struct cw *c, const char *key, const char *order, int64_t cents,
		     char auth[ADAPTER_ID_MAX])
{
	char reason[ADAPTER_REASON_MAX];

	return gateway_charge(sim_gateway_iface(c->w->gateway), key, order, cents, auth, reason);
}

static void cw_refund(struct cw *c, const char *key, const char *order, const char *auth,
		      int64_t cents)
{
	char rid[ADAPTER_ID_MAX], reason[ADAPTER_REASON_MAX];

	assert_int_equal(gateway_refund(sim_gateway_iface(c->w->gateway), key, order, auth, cents,
					rid, reason),
			 ECOM_OK);
}

static void cw_book(struct cw *c, const char *key, const char *order)
{
	char name[ADAPTER_ID_MAX], tracking[ADAPTER_ID_MAX], reason[ADAPTER_REASON_MAX];

	assert_int_equal(carrier_book(sim_carrier_iface(c->w->carrier), key, order, name,
				      tracking, reason),
			 ECOM_OK);
}

static void cw_accept(struct cw *c, const char *id, int64_t total)
{
	struct sim_order *o = &c->w->orders[c->w->n_orders++];

	snprintf(o->id, sizeof(o->id), "%s", id);
	o->state = 1;
	o->total_cents = total;
	c->w->n_accepted++;
}

/* The world's append hook, as world.c wires it: the checkers index the log as it grows. */
static void cw_on_append(void *arg, const char *topic, int32_t partition, int64_t offset,
			 int64_t visible_at_us)
{
	(void)visible_at_us;
	inv_on_append(arg, topic, partition, offset);
}

/* Catalog SKU-1, SKU-2 (10 units at 10.00). Order A shipped one SKU-1: charged once,
 * booked once, stock moved, projected, its OrderCreated in the log and in the timeline. */
static int cw_setup(void **state)
{
	struct cw *c = calloc(1, sizeof(*c));
	struct sim_adapter_rates rates;
	struct sim_world *w;

	assert_non_null(c);
	c->w = w = calloc(1, sizeof(*w));
	assert_non_null(w);
	scenario_defaults(&c->scn);
	sim_options_init(&c->opt);
	w->scn = &c->scn;
	w->opt = &c->opt;
	manual_clock_init(&w->clock, WORLD_WALL_EPOCH_MS);
	w->clock.now_us = 5000000;
	catalog_init_uniform(&w->catalog, 2, 1000, 10);
	w->cluster = mem_cluster_new(1, &w->clock.base);
	mem_cluster_set_hooks(w->cluster, &(struct mem_cluster_hooks){ .arg = w,
								      .on_append = cw_on_append });
	for (int s = 0; s < SCN_SVC_COUNT; s++)
		w->stores[s] = mem_store_new();
	memset(&rates, 0, sizeof(rates));
	rng_seed(&w->gateway_rng, 1);
	rng_seed(&w->carrier_rng, 2);
	rng_seed(&c->ev_rng, 3);
	w->gateway = sim_gateway_new(&rates, &w->gateway_rng, &w->clock.base);
	w->carrier = sim_carrier_new(&rates, &w->carrier_rng, &w->clock.base);
	inv_report_init(&w->inv);
	w->broken = json_object();
	w->op_results = json_array();
	sim_trace_init(&w->trace);
	cov_counts_init(&w->cov);
	w->orders = calloc(8, sizeof(*w->orders));
	cw_topics(w);
	c->pub = mem_broker_new(w->cluster, "test");

	cw_accept(c, OA, 1000);
	cw_put(c, SCN_SVC_ORDER, "orders", cw_order_doc(OA, "SHIPPED", 1000, 0, "SKU-1", 1));
	assert_int_equal(cw_charge(c, OA ":charge:0", OA, 1000, c->auth_a), ECOM_OK);
	cw_book(c, OA ":ship:0", OA);
	cw_put(c, SCN_SVC_INVENTORY, "stock", cw_stock_doc("SKU-1", 9, 0, 1));
	cw_put(c, SCN_SVC_INVENTORY, "stock", cw_stock_doc("SKU-2", 10, 0, 0));
	cw_event(c, EV_ORDER_CREATED, OA,
		 json_pack("{s:[{s:s,s:i}],s:i}", "items", "sku", "SKU-1", "qty", 1, "total", 10),
		 c->ev_a);
	cw_put(c, SCN_SVC_READ_MODEL, "projections", cw_projection(OA, "SHIPPED", c->ev_a));
	*state = c;
	return 0;
}

static int cw_teardown(void **state)
{
	struct cw *c = *state;
	struct sim_world *w = c->w;

	broker_destroy(c->pub);
	mem_cluster_free(w->cluster);
	for (int s = 0; s < SCN_SVC_COUNT; s++)
		store_destroy(w->stores[s]);
	sim_gateway_free(w->gateway);
	sim_carrier_free(w->carrier);
	catalog_deinit(&w->catalog);
	inv_report_deinit(&w->inv);
	inv_logidx_free(&w->logidx);
	json_decref(w->broken);
	json_decref(w->op_results);
	sim_trace_deinit(&w->trace);
	workload_free(w);
	for (size_t i = 0; i < w->n_poison; i++) {
		free(w->poison[i].topic);
		free(w->poison[i].value);
	}
	free(w->poison);
	free(w);
	free(c);
	return 0;
}

/* Runs every checker; only invariant `want` (or none when want < 0) may fire, and every
 * substring in the NULL-terminated list must be in some violation's detail. */
static void cw_check(struct cw *c, int want, ...)
{
	struct sim_world *w = c->w;
	const char *sub;
	va_list ap;

	inv_check_all(w, &w->inv);
	if (w->inv.fired != (want < 0 ? 0u : 1u << want)) {
		char *s = json_dumps(w->inv.violations, JSON_COMPACT);

		fail_msg("fired 0x%x, want %d: %s", w->inv.fired, want, s);
	}
	va_start(ap, want);
	while ((sub = va_arg(ap, const char *))) {
		size_t i;
		json_t *v;
		int found = 0;

		json_array_foreach(w->inv.violations, i, v)
			found |= strstr(jsonx_str_or(v, "detail", ""), sub) != NULL;
		if (!found) {
			char *s = json_dumps(w->inv.violations, JSON_COMPACT);

			fail_msg("no violation names \"%s\": %s", sub, s);
		}
	}
	va_end(ap);
}

static void test_inv_clean_world_is_quiet(void **state)
{
	struct cw *c = *state;

	cw_check(c, -1, NULL);
	assert_int_equal(json_array_size(c->w->inv.violations), 0);
	assert_int_equal(c->w->dl_exhausted, 0);
}

static void test_inv_termination(void **state)
{
	struct cw *c = *state;

	/* B runs and is flagged stuck; C was accepted but never stored; D was stored though the
	 * client never saw its creation succeed, and is still running */
	cw_accept(c, OB, 2000);
	cw_put(c, SCN_SVC_ORDER, "orders", cw_order_doc(OB, "PAYMENT_AUTHORIZED", 2000, 0,
							"SKU-2", 2));
	{
		json_t *b = NULL;

		assert_int_equal(store_get(c->w->stores[SCN_SVC_ORDER], "orders", OB, &b, NULL),
				 ECOM_OK);
		jsonx_set_new(b, "stuck", json_true());
		cw_replace(c, SCN_SVC_ORDER, "orders", b);
	}
	{
		char auth[ADAPTER_ID_MAX];

		/* B's money is held while it runs; its hold is the saga's, not a leak */
		assert_int_equal(cw_charge(c, OB ":charge:0", OB, 2000, auth), ECOM_OK);
	}
	cw_replace(c, SCN_SVC_INVENTORY, "stock",
		   json_pack("{s:s,s:s,s:i,s:i,s:i,s:{s:{s:i}},s:i}", "_id", "SKU-2", "sku",
			     "SKU-2", "available", 8, "held", 2, "shipped", 0, "holds", OB, "qty", 2,
			     "version", 1));
	cw_put(c, SCN_SVC_READ_MODEL, "projections", cw_projection(OB, "PAYMENT_AUTHORIZED", NULL));
	cw_accept(c, OC, 1000);
	cw_put(c, SCN_SVC_ORDER, "orders", cw_order_doc("dddd", "CREATED", 1000, 0, "SKU-1", 1));
	cw_put(c, SCN_SVC_READ_MODEL, "projections", cw_projection("dddd", "CREATED", NULL));
	c->w->livelock = 1;
	c->w->budget_exhausted = 1;
	/* payment_balance also sees B's capture (not shipped, not refunded): checked apart */
	inv_check_all(c->w, &c->w->inv);
	assert_true(c->w->inv.fired & (1u << INV_TERMINATION));
	assert_int_equal(c->w->inv.fired & ~((1u << INV_TERMINATION) | (1u << INV_PAYMENT_BALANCE)),
			 0);
	{
		char *s = json_dumps(c->w->inv.violations, JSON_COMPACT);

		assert_non_null(strstr(s, "order #2 " OB " is PAYMENT_AUTHORIZED (flagged stuck) "
					  "at t=5000000us"));
		assert_non_null(strstr(s, "order #3 " OC " was accepted but is not in the order "
					  "store"));
		assert_non_null(strstr(s, "order (creation unconfirmed) dddd is CREATED at "
					  "t=5000000us (never acknowledged)"));
		assert_non_null(strstr(s, "livelock: virtual time stopped at t=5000000us"));
		assert_non_null(strstr(s, "the run hit its budget of 40000000 events"));
		assert_null(strstr(s, "still held")); /* B's hold is not stock's finding */
		free(s);
	}
}

static void test_inv_stock_conservation(void **state)
{
	struct cw *c = *state;

	/* SKU-1 shipped 2 while SHIPPED orders account for 1; SKU-2 has more than it started
	 * with; a hold is left for the shipped order A */
	cw_replace(c, SCN_SVC_INVENTORY, "stock", cw_stock_doc("SKU-1", 8, 0, 2));
	cw_replace(c, SCN_SVC_INVENTORY, "stock",
		   json_pack("{s:s,s:i,s:i,s:i,s:{s:{s:i}},s:i}", "_id", "SKU-2", "available",
			     11, "held", 1, "shipped", 0, "holds", OA, "qty", 1, "version", 1));
	cw_check(c, INV_STOCK_CONSERVATION,
		 "SKU-1: 2 units shipped but SHIPPED orders account for 1",
		 "SKU-2: initial 10 != available 11 + held 1 + shipped 0 (at the end,",
		 "SKU-2: 1 units still held for SHIPPED order " OA, NULL);
}

static void test_inv_stock_missing_and_negative(void **state)
{
	struct cw *c = *state;

	assert_int_equal(store_remove(c->w->stores[SCN_SVC_INVENTORY], "stock", "SKU-2", NULL),
			 ECOM_OK);
	cw_replace(c, SCN_SVC_INVENTORY, "stock", cw_stock_doc("SKU-1", -1, 10, 1));
	cw_check(c, INV_STOCK_CONSERVATION, "SKU-2: no stock document",
		 "SKU-1: initial 10 != available -1 + held 10 + shipped 1, available negative",
		 NULL);
}

/* The continuous check at commit: reported once per SKU with the time it broke; stock
 * outside the catalog is judged against its own "initial". */
static void test_inv_on_commit_stock(void **state)
{
	struct cw *c = *state;
	struct sim_instance inv = { .w = c->w, .svc = SCN_SVC_INVENTORY };
	json_t *bad = cw_stock_doc("SKU-1", 5, 0, 0), *odd;

	odd = json_pack("{s:s,s:i,s:i,s:i,s:i}", "_id", "SKU-99", "available", 3, "held", 1,
			"shipped", 0, "initial", 4);
	inv_on_commit(c->w, &inv, "stock", odd);       /* 3 + 1 = 4: fine */
	inv_on_commit(c->w, &inv, "reservations", bad); /* not a stock document */
	assert_int_equal(c->w->inv.fired, 0);
	inv_on_commit(c->w, &inv, "stock", bad);
	c->w->clock.now_us = 6000000;
	inv_on_commit(c->w, &inv, "stock", bad);
	assert_int_equal(c->w->inv.count[INV_STOCK_CONSERVATION], 1);
	assert_non_null(strstr(jsonx_str(json_array_get(c->w->inv.violations, 0), "detail"),
			       "SKU-1: initial 10 != available 5 + held 0 + shipped 0 (broke at "
			       "commit, t=5000000us)"));
	jsonx_set_int(odd, "available", 2);
	inv_on_commit(c->w, &inv, "stock", odd);
	assert_int_equal(c->w->inv.count[INV_STOCK_CONSERVATION], 2);
	assert_non_null(strstr(jsonx_str(json_array_get(c->w->inv.violations, 1), "detail"),
			       "SKU-99: initial 4 != available 2"));
	json_decref(bad);
	json_decref(odd);
}

static void test_inv_payment_balance(void **state)
{
	struct cw *c = *state;
	char auth[ADAPTER_ID_MAX];

	/* A shipped but its capture was refunded; B was cancelled and keeps its money; the
	 * client sent a different total for A than the order service stored */
	c->w->orders[0].total_cents = 999;
	cw_refund(c, OA ":refund:0", OA, c->auth_a, 1000);
	cw_accept(c, OB, 2000);
	cw_put(c, SCN_SVC_ORDER, "orders", cw_order_doc(OB, "CANCELLED", 2000, 0, "SKU-2", 2));
	cw_put(c, SCN_SVC_READ_MODEL, "projections", cw_projection(OB, "CANCELLED", NULL));
	assert_int_equal(cw_charge(c, OB ":charge:0", OB, 2000, auth), ECOM_OK);
	cw_check(c, INV_PAYMENT_BALANCE,
		 "order " OA " SHIPPED: captured 1000 - refunded 1000 = 0 cents, expected 1000",
		 "order " OB " CANCELLED: captured 2000 - refunded 0 = 2000 cents, expected 0",
		 "order " OA ": stored total 1000 cents, the client sent 999", NULL);
}

/* Two captures outstanding at once: caught at the payment commit with its time, and not
 * reported again at the end. */
static void test_inv_charged_twice(void **state)
{
	struct cw *c = *state;
	struct sim_instance pay = { .w = c->w, .svc = SCN_SVC_PAYMENT };
	json_t *doc = json_pack("{s:s}", "_id", OA), *noid = json_object();
	char auth[ADAPTER_ID_MAX];
	size_t i;
	json_t *v;
	int n = 0;

	inv_on_commit(c->w, &pay, "payments", doc);
	assert_int_equal(c->w->inv.fired, 0); /* one capture: fine */
	/* a second attempt (attempt 1) captured again with a fresh key, before any refund */
	cw_replace(c, SCN_SVC_ORDER, "orders", cw_order_doc(OA, "SHIPPED", 1000, 1, "SKU-1", 1));
	assert_int_equal(cw_charge(c, OA ":charge:1", OA, 1000, auth), ECOM_OK);
	inv_on_commit(c->w, &pay, "payments", noid); /* no _id: nothing to look up */
	assert_int_equal(c->w->inv.fired, 0);
	inv_on_commit(c->w, &pay, "payments", doc);
	cw_check(c, INV_PAYMENT_BALANCE,
		 "order " OA " charged twice: 2 captures outstanding at once (captured 2000 "
		 "cents, refunded 0) at t=5000000us",
		 "captured 2000 - refunded 0 = 2000 cents, expected 1000", NULL);
	json_array_foreach(c->w->inv.violations, i, v)
		n += strstr(jsonx_str(v, "detail"), "charged twice") != NULL;
	assert_int_equal(n, 1);
	json_decref(doc);
	json_decref(noid);
}

/* Without a continuous check (e.g. the commit went unobserved) the end check still sees
 * two captures outstanding. */
static void test_inv_charged_twice_at_the_end(void **state)
{
	struct cw *c = *state;
	char auth[ADAPTER_ID_MAX];

	cw_replace(c, SCN_SVC_ORDER, "orders", cw_order_doc(OA, "SHIPPED", 1000, 1, "SKU-1", 1));
	assert_int_equal(cw_charge(c, OA ":charge:1", OA, 1000, auth), ECOM_OK);
	cw_check(c, INV_PAYMENT_BALANCE, "order " OA " charged twice: 2 captures outstanding at once",
		 NULL);
}

static void test_inv_exactly_once_ledgers(void **state)
{
	struct cw *c = *state;
	char auth[ADAPTER_ID_MAX];

	/* captured, refunded, captured again (never two outstanding): two captures for one
	 * attempt; and two shipments booked */
	cw_refund(c, OA ":refund:0", OA, c->auth_a, 1000);
	assert_int_equal(cw_charge(c, OA ":charge:again", OA, 1000, auth), ECOM_OK);
	cw_book(c, OA ":ship:again", OA);
	cw_check(c, INV_EXACTLY_ONCE_EFFECTS, "order " OA ": 2 distinct captures for 1 attempt(s)",
		 "order " OA ": 2 distinct shipments booked for 1 attempt(s)", NULL);
}

static void test_inv_exactly_once_shipped_unbooked(void **state)
{
	struct cw *c = *state;
	char auth[ADAPTER_ID_MAX];

	cw_accept(c, OB, 1000);
	cw_put(c, SCN_SVC_ORDER, "orders", cw_order_doc(OB, "SHIPPED", 1000, 0, "SKU-2", 1));
	cw_put(c, SCN_SVC_READ_MODEL, "projections", cw_projection(OB, "SHIPPED", NULL));
	cw_replace(c, SCN_SVC_INVENTORY, "stock", cw_stock_doc("SKU-2", 9, 0, 1));
	assert_int_equal(cw_charge(c, OB ":charge:0", OB, 1000, auth), ECOM_OK);
	cw_check(c, INV_EXACTLY_ONCE_EFFECTS,
		 "order " OB " is SHIPPED but the carrier booked nothing", NULL);
}

static void test_inv_exactly_once_history_log_inbox(void **state)
{
	struct cw *c = *state;
	json_t *od = cw_order_doc(OA, "SHIPPED", 1000, 0, "SKU-1", 1);
	char e1[64], e2[64], e3[64];
	json_t *pd;

	/* the order's history holds one event twice (and an entry without an id) */
	json_array_append_new(json_object_get(od, "history"),
			      json_pack("{s:s}", "type", "order.OrderStatusChanged.v1"));
	json_array_append_new(json_object_get(od, "history"),
			      json_pack("{s:s,s:s}", "eventId", "h-1", "type", "x.Dup.v1"));
	cw_replace(c, SCN_SVC_ORDER, "orders", od);
	/* inventory decided attempt 0 twice (two distinct InventoryFailed); attempt 1 once */
	cw_event(c, EV_INVENTORY_FAILED, OA, json_pack("{s:s}", "reason", "out of stock"), e1);
	cw_event(c, EV_INVENTORY_FAILED, OA, json_pack("{s:s}", "reason", "out of stock"), e2);
	cw_event(c, EV_INVENTORY_FAILED, OA,
		 json_pack("{s:s,s:i}", "reason", "out of stock", "attempt", 1), e3);
	pd = cw_projection(OA, "SHIPPED", c->ev_a);
	json_array_append_new(json_object_get(pd, "timeline"), json_pack("{s:s}", "eventId", e1));
	json_array_append_new(json_object_get(pd, "timeline"), json_pack("{s:s}", "eventId", e2));
	json_array_append_new(json_object_get(pd, "timeline"), json_pack("{s:s}", "eventId", e3));
	json_array_append_new(json_object_get(pd, "timeline"), json_pack("{s:s}", "note", "x"));
	cw_replace(c, SCN_SVC_READ_MODEL, "projections", pd);
	/* a payment aggregate's inbox lists one event twice */
	cw_put(c, SCN_SVC_PAYMENT, "payments",
	       json_pack("{s:s,s:[s,i,s,s],s:i}", "_id", OA, "inbox", "e-1", 5, "e-2", "e-1",
			 "version", 1));
	cw_check(c, INV_EXACTLY_ONCE_EFFECTS,
		 "order " OA ": event h-1 (x.Dup.v1) applied twice to the order",
		 "order " OA ": 2 distinct inventory.InventoryFailed.v1 events for attempt 0 (the "
		 "step decided twice)",
		 "payment store, payments/" OA ": event e-1 applied twice to the aggregate", NULL);
	{
		char *all = json_dumps(c->w->inv.violations, 0);

		assert_null(strstr(all, "for attempt 1"));
		free(all);
	}
}

static void test_inv_projection(void **state)
{
	struct cw *c = *state;
	json_t *pd = cw_projection(OA, "CANCELLED", c->ev_a);
	char e2[64];

	/* A: the read model disagrees and lists an event twice; an event published for A
	 * is missing from the timeline; B has no projection at all */
	json_array_append_new(json_object_get(pd, "timeline"),
			      json_pack("{s:s}", "eventId", c->ev_a));
	cw_replace(c, SCN_SVC_READ_MODEL, "projections", pd);
	cw_event(c, EV_INVENTORY_FAILED, OA, json_pack("{s:s}", "reason", "x"), e2);
	cw_accept(c, OB, 0);
	cw_put(c, SCN_SVC_ORDER, "orders", cw_order_doc(OB, "CANCELLED", 0, 0, "SKU-2", 1));
	cw_check(c, INV_PROJECTION_CONVERGENCE,
		 "order " OA ": read model says CANCELLED, order service says SHIPPED",
		 "listed twice in the timeline",
		 "order " OA ": published inventory.InventoryFailed.v1 ",
		 "missing from the timeline",
		 "order " OB " (CANCELLED) has no projection in the read model", NULL);
}

/* A projection that dropped old timeline entries is not blamed for missing ones. */
static void test_inv_projection_dropped_timeline(void **state)
{
	struct cw *c = *state;
	json_t *pd = cw_projection(OA, "SHIPPED", NULL);
	char e2[64];

	jsonx_set_int(pd, "timeline_dropped", 3);
	cw_replace(c, SCN_SVC_READ_MODEL, "projections", pd);
	cw_event(c, EV_INVENTORY_FAILED, OA, json_pack("{s:s}", "reason", "x"), e2);
	cw_check(c, -1, NULL);
	/* without a status on either side, both are named as such */
	pd = cw_projection(OA, "SHIPPED", NULL);
	json_object_del(pd, "status");
	jsonx_set_int(pd, "timeline_dropped", 3);
	cw_replace(c, SCN_SVC_READ_MODEL, "projections", pd);
	cw_check(c, INV_PROJECTION_CONVERGENCE, "read model says (none), order service says "
		 "SHIPPED", NULL);
}

static void test_inv_outbox_drained(void **state)
{
	struct cw *c = *state;

	cw_put(c, SCN_SVC_PAYMENT, "payments",
	       json_pack("{s:s,s:[{}],s:I,s:i}", "_id", OA, "outbox", "outbox_at",
			 (json_int_t)42, "version", 1));
	cw_put(c, SCN_SVC_SHIPPING, "shipments", json_pack("{s:s,s:i,s:i}", "_id", OB, "outbox_n", 2,
								  "version", 1));
	cw_check(c, INV_OUTBOX_DRAINED,
		 "payment store, payments/" OA ": 1 outbox entries left (oldest queued at 42us)",
		 "shipping store, shipments/" OB ": 0 outbox entries left", NULL);
}

/* ---- dead letters ---------------------------------------------------------------------- */

/* Appends value to topic; returns its offset. */
static int64_t cw_append(struct cw *c, const char *topic, const char *value,
			 const struct broker_header *h, size_t n_h)
{
	struct broker_record r = { .topic = topic, .key = "k", .key_len = 1, .value = value,
				   .value_len = strlen(value), .headers = h, .n_headers = n_h };
	int64_t off = mem_cluster_end_offset(c->w->cluster, topic, 0);

	assert_int_equal(broker_produce(c->pub, &r, NULL), ECOM_OK);
	return off;
}

/* A dead letter of topic@off on topic.dlq with that error and payload fields (JSON text
 * of the DLQ payload's extra members, e.g. "\"raw\":\"x\""); also filed in the read
 * model unless unfiled. */
static void cw_dead_letter(struct cw *c, const char *topic, int64_t off, const char *error,
			   const char *extra, int unfiled)
{
	char dlq[128], offs[32], pos[200], val[512];
	struct broker_header h[3] = { { RT_HDR_ORIGINAL_TOPIC, topic },
				      { RT_HDR_ORIGINAL_PARTITION, "0" },
				      { RT_HDR_ORIGINAL_OFFSET, offs } };

	snprintf(dlq, sizeof(dlq), "%s.dlq", topic);
	snprintf(offs, sizeof(offs), "%lld", (long long)off);
	snprintf(pos, sizeof(pos), "%s:0:%lld", topic, (long long)off);
	snprintf(val, sizeof(val), "{\"payload\":{%s%s%s%s%s}}", error ? "\"error\":\"" : "",
		 error ? error : "", error ? "\"" : "", error && extra ? "," : "",
		 extra ? extra : "");
	cw_append(c, dlq, val, h, 3);
	if (!unfiled)
		cw_put(c, SCN_SVC_READ_MODEL, "dead_letters",
		       json_pack("{s:s,s:i}", "_id", pos, "version", 1));
}

/* Registers an injected poison message on topic (as the fault plan reports it). */
static int64_t cw_poison(struct cw *c, const char *topic, const char *id)
{
	struct sim_world *w = c->w;
	char val[128];
	struct sim_poison *p;

	snprintf(val, sizeof(val), "{\"eventId\":\"%s\",\"payload\":{\"orderId\":", id);
	w->poison = realloc(w->poison, (w->n_poison + 1) * sizeof(*w->poison));
	p = &w->poison[w->n_poison++];
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->topic = strdup(topic);
	p->value = strdup(val);
	p->len = strlen(val);
	p->kind = FAULT_POISON_MALFORMED;
	p->at_us = 1234;
	return cw_append(c, topic, val, NULL, 0);
}

/* How many services consume topic (each must dead-letter its poison). */
static int cw_consumers(struct cw *c, const char *topic)
{
	int n = 0;

	for (int s = 0; s < SCN_SVC_COUNT; s++)
		for (size_t i = 0; i < c->w->n_topics[s]; i++)
			n += strcmp(c->w->topics[s][i], topic) == 0;
	return n;
}

static void test_inv_dlq_clean(void **state)
{
	struct cw *c = *state;
	const char *t = "payment.PaymentAuthorized.v1";
	int64_t off = cw_poison(c, t, "poison-1"), real;
	int groups = cw_consumers(c, t);

	assert_true(groups >= 2);
	for (int g = 0; g < groups; g++)
		cw_dead_letter(c, t, off, "malformed JSON", "\"raw\":\"{...\"", g > 0);
	/* a transient failure that outlasted the retry budget: legitimate, counted */
	real = cw_append(c, t, "{\"eventId\":\"real\"}", NULL, 0);
	cw_dead_letter(c, t, real, "gave up after 8 attempts: gateway unavailable",
		       "\"payload\":{\"orderId\":\"" OA "\"}", 0);
	cw_check(c, -1, NULL);
	assert_int_equal(c->w->dl_exhausted, 1);
}

static void test_inv_dlq_violations(void **state)
{
	struct cw *c = *state;
	const char *t = "shipping.OrderShipped.v1";
	int64_t p1 = cw_poison(c, t, "poison-1"), p2 = cw_poison(c, t, "poison-2"), real, p12;
	struct broker_header none[1] = { { "x-other", "1" } };
	char want[200];

	/* poison-1 dead-lettered once, without an error and without its bytes */
	cw_dead_letter(c, t, p1, NULL, "\"payload\":null", 0);
	/* poison-2 dead-lettered with an empty error */
	cw_dead_letter(c, t, p2, "", "\"raw\":\"x\"", 0);
	/* a real message dead-lettered for another reason: not poison */
	real = cw_append(c, t, "{\"eventId\":\"real\"}", NULL, 0);
	cw_dead_letter(c, t, real, "handler exploded", NULL, 0);
	/* "poison-12" is not "poison-1" */
	p12 = cw_append(c, t, "{\"eventId\":\"poison-12\"}", NULL, 0);
	cw_dead_letter(c, t, p12, "malformed", "\"raw\":\"x\"", 0);
	/* a dead letter without its origin headers, and not in the read model */
	cw_append(c, "shipping.OrderShipped.v1.dlq", "not json", none, 1);
	snprintf(want, sizeof(want), "poison-1 (malformed) injected on %s at t=1234us: 1 of its "
		 "%d consumer groups dead-lettered it", t, cw_consumers(c, t));
	cw_check(c, INV_DLQ_ACCOUNTING, "shipping.OrderShipped.v1.dlq: dead letter of poison-1 "
		 "carries no error",
		 "dead letter of poison-1 carries neither its payload nor raw bytes",
		 "dead letter of poison-2 carries no error",
		 "holds shipping.OrderShipped.v1:0:2, which is not injected poison (error: handler "
		 "exploded)",
		 "holds shipping.OrderShipped.v1:0:3, which is not injected poison",
		 "holds ?:?:?, which is not injected poison (error: (none))",
		 "dead letter of ?:?:? is on shipping.OrderShipped.v1.dlq but not in the read "
		 "model's dead_letters",
		 want, NULL);
	assert_int_equal(c->w->dl_exhausted, 0);
}

/* ---- the summary and the expectation check ------------------------------------------------ */

static void test_summary_counts_and_unmet(void **state)
{
	struct cw *c = *state;
	struct sim_world *w = c->w;
	struct sim_result res;
	json_t *s;
	const char *unmet;

	/* A shipped; B cancelled; C accepted but lost (counted stuck); a pending order
	 * is not counted; D is flagged stuck */
	cw_accept(c, OB, 0);
	cw_put(c, SCN_SVC_ORDER, "orders", cw_order_doc(OB, "CANCELLED", 0, 0, "SKU-2", 1));
	cw_put(c, SCN_SVC_READ_MODEL, "projections", cw_projection(OB, "CANCELLED", NULL));
	cw_accept(c, OC, 1000);
	w->orders[w->n_orders++].state = 0; /* still pending */
	cw_accept(c, "dddd", 1000);
	cw_put(c, SCN_SVC_ORDER, "orders",
	       json_pack("{s:s,s:s,s:I,s:b,s:I}", "_id", "dddd", "status", "CREATED", "total",
			 (json_int_t)1000, "stuck", 1, "version", (json_int_t)1));
	w->n_rejected = 2;
	w->n_crashes = 1;
	w->trace.record = 1;
	sim_trace_line(&w->trace, 1, "world", "begin", "x");
	json_array_append_new(w->op_results, json_pack("{s:s,s:s}", "op", "retry", "result", "ok"));
	json_array_append_new(w->op_results,
			      json_pack("{s:s,s:s}", "op", "retry", "result", "refused"));
	json_array_append_new(w->op_results, json_pack("{s:s}", "op", "dlq_replay"));
	c->scn.expect.violations = 1u << INV_OUTBOX_DRAINED;
	c->scn.expect.min_shipped = 1;    /* met */
	c->scn.expect.min_cancelled = 2;  /* 1 < 2 */
	c->scn.expect.min_crashes = 1;    /* met */
	c->scn.expect.min_ops_ok = 2;     /* 1 < 2 */
	c->scn.expect.min_ops_refused = 1;
	snprintf(c->scn.name, sizeof(c->scn.name), "crafted");
	w->seed = 77;
	memset(&res, 0, sizeof(res));
	world_summary(w, &res);
	s = res.summary;
	assert_false(res.expectations_met);
	unmet = jsonx_str(s, "unmet");
	assert_non_null(unmet);
	assert_string_equal(res.unmet, unmet);
	assert_non_null(strstr(unmet, "termination fired"));
	assert_non_null(strstr(unmet, "expected outbox_drained to fire, it did not"));
	assert_non_null(strstr(unmet, "cancelled 1 < expected minimum 2"));
	assert_non_null(strstr(unmet, "ops_ok 1 < expected minimum 2"));
	assert_null(strstr(unmet, "shipped"));
	assert_null(strstr(unmet, "ops_refused"));
	assert_non_null(strstr(unmet, "2 valid orders were rejected at creation"));
	assert_string_equal(jsonx_str(s, "result"), "fail");
	assert_string_equal(jsonx_str(s, "scenario"), "crafted");
	assert_int_equal(jsonx_int_or(s, "seed", -1), 77);
	assert_int_equal(jsonx_int_or(s, "orders", -1), 4);
	assert_int_equal(jsonx_int_or(s, "created", -1), 5);
	assert_int_equal(jsonx_int_or(s, "shipped", -1), 1);
	assert_int_equal(jsonx_int_or(s, "cancelled", -1), 1);
	assert_int_equal(jsonx_int_or(s, "stuck", -1), 2); /* C (lost) and D */
	assert_int_equal(jsonx_int_or(s, "flagged_stuck", -1), 1);
	assert_int_equal(jsonx_int_or(s, "rejected", -1), 2);
	assert_int_equal(jsonx_int_or(s, "sim_ms", -1), 5000);
	assert_int_equal(json_array_size(json_object_get(s, "expected_violations")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(s,
				"expected_violations"), 0)), "outbox_drained");
	assert_int_equal(jsonx_int_or(json_object_get(s, "coverage"), "admin_retry_ok", -1), 1);
	assert_int_equal(jsonx_int_or(json_object_get(s, "coverage"), "crash", -1), 1);
	assert_true(res.violations == json_object_get(s, "violations"));
	assert_int_equal(res.n_line_hashes, 1); /* the record moves to the result */
	assert_true(res.line_hashes[0] == w->trace.hash);
	assert_null(w->trace.rec);
	sim_result_deinit(&res);
	sim_result_deinit(NULL);
}

/* Many unmet expectations: the message is cut at its buffer, never overrun. */
static void test_summary_unmet_bounded(void **state)
{
	struct cw *c = *state;
	struct sim_result res;

	c->w->orders[0].total_cents = 1; /* payment_balance fires */
	c->w->livelock = 1;              /* termination fires */
	c->scn.expect.violations = (1u << INV__COUNT) - 1 - (1u << INV_TERMINATION) -
				   (1u << INV_PAYMENT_BALANCE);
	c->scn.expect.min_shipped = c->scn.expect.min_cancelled = c->scn.expect.min_crashes =
		c->scn.expect.min_duplicates = c->scn.expect.min_dead_letters =
			c->scn.expect.min_poison = c->scn.expect.min_ops_ok =
				c->scn.expect.min_ops_refused = 1000000000000LL;
	c->w->n_rejected = 1;
	memset(&res, 0, sizeof(res));
	world_summary(c->w, &res);
	assert_false(res.expectations_met);
	assert_int_equal(strlen(res.unmet), sizeof(res.unmet) - 1);
	assert_non_null(strstr(res.unmet, "termination fired; expected stock_conservation to "
				  "fire, it did not; payment_balance fired; expected "
				  "exactly_once_effects"));
	assert_int_equal(strncmp(res.unmet, "termination fired;", 18), 0);
	sim_result_deinit(&res);
}

/* ---- whole runs ---------------------------------------------------------------------------- */

static void run_text(const char *text, struct sim_result *r, FILE *trace)
{
	struct scenario s;
	struct sim_options o;
	struct ecom_err err;

	ecom_err_clear(&err);
	if (scenario_load_string(text, &s, &err) != ECOM_OK)
		fail_msg("%s", err.msg);
	sim_options_init(&o);
	o.trace_jsonl = trace;
	assert_int_equal(sim_run(&s, &o, r, &err), ECOM_OK);
	scenario_deinit(&s);
}

/* Counts trace lines of (actor, event) whose detail contains sub. */
static int trace_count(FILE *f, const char *actor, const char *what, const char *sub)
{
	char *buf = NULL;
	size_t cap = 0;
	int n = 0;

	rewind(f);
	while (getline(&buf, &cap, f) > 0) {
		json_t *j = json_loads(buf, 0, NULL);

		n += strcmp(jsonx_str_or(j, "actor", ""), actor) == 0 &&
		     strcmp(jsonx_str_or(j, "event", ""), what) == 0 &&
		     strstr(jsonx_str_or(j, "detail", ""), sub) != NULL;
		json_decref(j);
	}
	free(buf);
	return n;
}

/* No orders, the default (uniform) catalog: the world starts, goes quiet and passes. */
static void test_run_without_orders(void **state)
{
	struct sim_result r;

	(void)state;
	run_text("{\"workload\":{\"orders\":0},\"run\":{\"duration_ms\":50,\"quiesce_ms\":500}}",
		 &r, NULL);
	if (!r.expectations_met)
		fail_msg("%s", r.unmet);
	assert_int_equal(jsonx_int_or(r.summary, "created", -1), 0);
	assert_int_equal(jsonx_int_or(r.summary, "quiescent", -1), 1);
	assert_int_equal(jsonx_int_or(r.summary, "sim_ms", -1), 150); /* first quiet check */
	sim_result_deinit(&r);
}

/* Rates so small the next arrival or crash is beyond any run: the gap is capped (no
 * overflow of virtual time), nothing happens, and the run ends on time. */
static void test_run_vanishing_rates(void **state)
{
	struct sim_result r;

	(void)state;
	run_text("{\"workload\":{\"orders\":5,\"rate_per_sec\":1e-300},"
		 "\"faults\":{\"crash_rate_per_sec\":1e-300,\"pause_rate_per_sec\":1e-300},"
		 "\"run\":{\"duration_ms\":100,\"quiesce_ms\":100}}", &r, NULL);
	if (!r.expectations_met)
		fail_msg("%s", r.unmet);
	assert_int_equal(jsonx_int_or(r.summary, "created", -1), 0);
	assert_int_equal(jsonx_int_or(r.summary, "crashes", -1), 0);
	assert_int_equal(jsonx_int_or(r.summary, "pauses", -1), 0);
	sim_result_deinit(&r);
}

/* Orders want more distinct SKUs than the catalog has: each takes every SKU once. And a
 * full catalog per order (redraws give way to probing for the last free SKU). */
static void test_run_order_shapes(void **state)
{
	FILE *t = tmpfile();
	struct sim_result r;

	(void)state;
	assert_non_null(t);
	run_text("{\"seed\":4,\"catalog\":{\"skus\":2,\"stock\":100},"
		 "\"workload\":{\"orders\":4,\"rate_per_sec\":100,\"items\":[5,5],\"qty\":1},"
		 "\"run\":{\"duration_ms\":200,\"quiesce_ms\":60000}}", &r, t);
	if (!r.expectations_met)
		fail_msg("%s", r.unmet);
	assert_int_equal(trace_count(t, "workload", "order", "items=2 "), 4);
	assert_int_equal(jsonx_int_or(r.summary, "shipped", -1), 4);
	sim_result_deinit(&r);
	fclose(t);

	t = tmpfile();
	run_text("{\"seed\":9,\"catalog\":{\"skus\":20,\"stock\":100},"
		 "\"workload\":{\"orders\":40,\"rate_per_sec\":400,\"items\":20,\"qty\":1},"
		 "\"run\":{\"duration_ms\":150,\"quiesce_ms\":60000}}", &r, t);
	if (!r.expectations_met)
		fail_msg("%s", r.unmet);
	assert_int_equal(trace_count(t, "workload", "order", "items=20 "),
			 jsonx_int_or(r.summary, "created", -1));
	assert_true(jsonx_int_or(r.summary, "created", -1) >= 20);
	/* 20 distinct SKUs at 10.00: every total is 200.00 */
	assert_int_equal(trace_count(t, "workload", "order", "total=20000"),
			 jsonx_int_or(r.summary, "created", -1));
	sim_result_deinit(&r);
	fclose(t);
}

/* The order service goes down for good: a client gives up on an order after its retry
 * bound, an admin retry keeps finding no order instance and is recorded "unavailable",
 * ops on orders not created are skipped, and crashing a dead instance is skipped. */
static void test_run_order_service_down(void **state)
{
	static const char *text =
		"{\"name\":\"order-down\",\"seed\":3,"
		"\"workload\":{\"orders\":2,\"rate_per_sec\":20,\"arrival\":\"fixed\"},"
		"\"faults\":{\"restart_after_ms\":600000},"
		"\"ops\":[{\"at_ms\":60,\"op\":\"crash\",\"instance\":\"order#1\"},"
		"{\"at_ms\":61,\"op\":\"crash\",\"instance\":\"order#1\"},"
		"{\"at_ms\":70,\"op\":\"retry\",\"order\":1,\"step\":\"payment\"},"
		"{\"at_ms\":80,\"op\":\"compensate\",\"order\":2,\"action\":\"refundPayment\"},"
		"{\"at_ms\":29000,\"op\":\"retry\",\"order\":2,\"step\":\"inventory\"}],"
		"\"run\":{\"duration_ms\":30000,\"quiesce_ms\":0}}";
	FILE *t = tmpfile();
	struct sim_result r;
	json_t *ops;

	(void)state;
	run_text(text, &r, t);
	ops = json_object_get(r.summary, "ops");
	assert_int_equal(json_array_size(ops), 5);
	assert_string_equal(jsonx_str(json_array_get(ops, 0), "result"), "ok");
	assert_string_equal(jsonx_str(json_array_get(ops, 1), "result"), "skipped");
	assert_string_equal(jsonx_str(json_array_get(ops, 1), "reason"), "instance already down");
	/* results are recorded when an op ends: the compensate at 80 ms is skipped at once
	 * (order 2 arrives at 100 ms and has no id yet) */
	assert_string_equal(jsonx_str(json_array_get(ops, 2), "op"), "compensate");
	assert_string_equal(jsonx_str(json_array_get(ops, 2), "result"), "skipped");
	assert_string_equal(jsonx_str(json_array_get(ops, 2), "reason"),
			    "the order was not created by then");
	assert_int_equal(jsonx_int_or(json_array_get(ops, 2), "order", -1), 2);
	assert_null(json_object_get(json_array_get(ops, 2), "orderId"));
	/* the retry at 70 ms found no order instance 50 times, 200 ms apart */
	assert_string_equal(jsonx_str(json_array_get(ops, 3), "op"), "retry");
	assert_string_equal(jsonx_str(json_array_get(ops, 3), "result"), "unavailable");
	assert_string_equal(jsonx_str(json_array_get(ops, 3), "reason"),
			    "the order service stayed unavailable");
	assert_string_equal(jsonx_str(json_array_get(ops, 3), "step"), "payment");
	assert_int_equal(jsonx_int_or(json_array_get(ops, 3), "at_ms", -1), 70);
	/* by 29 s the client gave up on order 2: skipped, its id known */
	assert_string_equal(jsonx_str(json_array_get(ops, 4), "result"), "skipped");
	assert_non_null(jsonx_str(json_array_get(ops, 4), "orderId"));
	assert_int_equal(jsonx_int_or(r.summary, "created", -1), 2);
	assert_int_equal(jsonx_int_or(r.summary, "orders", -1), 1);
	assert_int_equal(jsonx_int_or(r.summary, "quiescent", -1), 0);
	assert_int_equal(trace_count(t, "workload", "create", "#2 "), 200);
	assert_int_equal(trace_count(t, "world", "quiesce_timeout", "instance down"), 1);
	/* order 1 had shipped within 10 ms, before the crash: nothing is broken, and an op
	 * that could not run is not a violation */
	assert_int_equal(jsonx_int_or(r.summary, "shipped", -1), 1);
	assert_int_equal(r.fired, 0);
	if (!r.expectations_met)
		fail_msg("%s", r.unmet);
	sim_result_deinit(&r);
	fclose(t);
}

/* Poison dead-lettered, replayed (still poison: dead-lettered again), and the copies
 * replayed by a second op: each replay carries exactly one x-replay header. */
static void test_run_dlq_replay_twice(void **state)
{
	static const char *text =
		"{\"name\":\"replay-twice\",\"seed\":21,"
		"\"catalog\":{\"skus\":5,\"stock\":1000},"
		"\"workload\":{\"orders\":12,\"rate_per_sec\":40},"
		"\"faults\":{\"poison\":0.3},"
		"\"ops\":[{\"at_ms\":1000,\"op\":\"dlq_replay\"},"
		"{\"at_ms\":2000,\"op\":\"dlq_replay\"}],"
		"\"run\":{\"duration_ms\":3000,\"quiesce_ms\":60000}}";
	FILE *t = tmpfile();
	struct sim_result r;
	json_t *ops;

	(void)state;
	run_text(text, &r, t);
	if (!r.expectations_met)
		fail_msg("%s", r.unmet);
	ops = json_object_get(r.summary, "ops");
	assert_true(jsonx_int_or(json_array_get(ops, 0), "replayed", 0) > 0);
	assert_true(jsonx_int_or(json_array_get(ops, 1), "replayed", 0) > 0);
	assert_int_equal(jsonx_int_or(r.summary, "replayed", -1),
			 jsonx_int_or(json_array_get(ops, 0), "replayed", 0) +
				 jsonx_int_or(json_array_get(ops, 1), "replayed", 0));
	assert_int_equal(trace_count(t, "admin", "replayed", ":"),
			 jsonx_int_or(r.summary, "replayed", -1));
	sim_result_deinit(&r);
	fclose(t);
}

/* Admin ops while the stores fail: a retry that meets UNAVAILABLE or AMBIGUOUS is tried
 * again later (so its result is recorded after later ops'), a dlq_replay while the read
 * model is down replays all the same (the bookkeeping is best effort, and a failed mark
 * is traced), and the invariants still hold. */
static void test_run_admin_ops_under_faults(void **state)
{
	static const char *text =
		"{\"name\":\"admin-under-faults\",\"seed\":5,"
		"\"catalog\":{\"skus\":5,\"stock\":1000},"
		"\"workload\":{\"orders\":20,\"rate_per_sec\":40},"
		"\"faults\":{\"poison\":0.3,\"store_error\":0.2,\"store_ambiguous\":0.1,"
		"\"restart_after_ms\":2000},"
		"\"ops\":[{\"at_ms\":900,\"op\":\"crash\",\"instance\":\"read-model#1\"},"
		"{\"at_ms\":1000,\"op\":\"dlq_replay\"},"
		"{\"at_ms\":1200,\"op\":\"retry\",\"order\":1,\"step\":\"payment\"},"
		"{\"at_ms\":1200,\"op\":\"compensate\",\"order\":2,\"action\":\"refundPayment\"},"
		"{\"at_ms\":1300,\"op\":\"retry\",\"order\":3,\"step\":\"shipping\"},"
		"{\"at_ms\":3500,\"op\":\"dlq_replay\"}],"
		"\"run\":{\"duration_ms\":4000,\"quiesce_ms\":60000}}";
	FILE *t = tmpfile();
	struct sim_result r;
	json_t *ops;
	size_t i;
	json_t *op;
	int64_t last_at = -1, out_of_order = 0;

	(void)state;
	run_text(text, &r, t);
	if (!r.expectations_met)
		fail_msg("%s", r.unmet);
	ops = json_object_get(r.summary, "ops");
	assert_int_equal(json_array_size(ops), 6);
	json_array_foreach(ops, i, op) {
		const char *res = jsonx_str(op, "result");

		out_of_order += jsonx_int_or(op, "at_ms", 0) < last_at;
		last_at = jsonx_int_or(op, "at_ms", 0);
		/* every op ran in the end: none is left "unavailable" */
		assert_true(strcmp(res, "ok") == 0 || strcmp(res, "refused") == 0);
	}
	assert_true(out_of_order > 0); /* at least one op had to be tried again */
	assert_true(jsonx_int_or(json_array_get(ops, 1), "replayed", 0) > 0);
	assert_true(trace_count(t, "read-model#1", "mark_replayed", " ") > 0);
	assert_int_equal(jsonx_int_or(r.summary, "crashes", -1), 1);
	assert_int_equal(jsonx_int_or(r.summary, "restarts", -1), 1);
	sim_result_deinit(&r);
	fclose(t);
}

/* With no time to quiesce, the run ends at the first quiet check and says what it was
 * still waiting for: an order creation the client retries, or an admin op retrying. */
static void test_run_quiet_phase_names_what_is_pending(void **state)
{
	FILE *t = tmpfile();
	struct sim_result r;

	(void)state;
	/* order#1 is down from 990 to 1140 ms; the order arriving at 1000 ms is retried */
	run_text("{\"seed\":2,\"workload\":{\"orders\":1,\"rate_per_sec\":1,\"arrival\":\"fixed\"},"
		 "\"faults\":{\"restart_after_ms\":[150,150]},"
		 "\"ops\":[{\"at_ms\":990,\"op\":\"crash\",\"instance\":\"order#1\"}],"
		 "\"run\":{\"duration_ms\":1100,\"quiesce_ms\":0}}", &r, t);
	assert_int_equal(trace_count(t, "world", "quiesce_timeout", "order creation pending"), 1);
	assert_int_equal(jsonx_int_or(r.summary, "quiescent", -1), 0);
	sim_result_deinit(&r);
	fclose(t);

	/* the retry at 1420 ms finds order#1 down (1400..1450 ms) and is due again at 1620 */
	t = tmpfile();
	run_text("{\"workload\":{\"orders\":1,\"rate_per_sec\":1,\"arrival\":\"fixed\"},"
		 "\"faults\":{\"restart_after_ms\":50},"
		 "\"ops\":[{\"at_ms\":1400,\"op\":\"crash\",\"instance\":\"order#1\"},"
		 "{\"at_ms\":1420,\"op\":\"retry\",\"order\":1,\"step\":\"payment\"}],"
		 "\"run\":{\"duration_ms\":1500,\"quiesce_ms\":0}}", &r, t);
	assert_int_equal(trace_count(t, "world", "quiesce_timeout", "ops pending"), 1);
	assert_int_equal(json_array_size(json_object_get(r.summary, "ops")), 1); /* the crash */
	sim_result_deinit(&r);
	fclose(t);
}

static void cw_put_plain(struct store *st, const char *id)
{
	json_t *d = json_pack("{s:s,s:i}", "_id", id, "version", 1);

	assert_int_equal(store_insert(st, "c", d, NULL), ECOM_OK);
	json_decref(d);
}

/* mem_store's find orders values of different types the way MongoDB does (missing/null <
 * numbers < strings < objects < arrays < booleans; integers and reals by value), and an
 * EQ or RANGE query matches only values of its bound's type. */
static void test_mem_store_mixed_type_order(void **state)
{
	static const char *const vals[] = { "true", "[1]", "\"a\"", "3", "null", "{\"k\":1}",
					    "2.5", "false", "\"B\"", "-1" };
	struct store *st = mem_store_new();
	struct store_query q;
	json_t *out = NULL, *v;
	size_t i;

	(void)state;
	for (i = 0; i < ECOM_ARRAY_LEN(vals); i++) {
		char id[2] = { (char)('a' + i), '\0' };
		json_t *d = json_pack("{s:s,s:i,s:o}", "_id", id, "version", 1, "v",
				      json_loads(vals[i], JSON_DECODE_ANY, NULL));

		assert_int_equal(store_insert(st, "c", d, NULL), ECOM_OK);
		json_decref(d);
	}
	cw_put_plain(st, "m"); /* no "v" at all */
	cw_put_plain(st, "n");
	memset(&q, 0, sizeof(q));
	q.op = STORE_ALL;
	q.sort_field = "v";
	assert_int_equal(store_find(st, "c", &q, &out, NULL), ECOM_OK);
	assert_int_equal(json_array_size(out), 12);
	/* missing and null first (ties by _id), then -1, 2.5, 3, "B", "a", {}, [], false, true */
	{
		static const char *const asc[] = { "e", "m", "n", "j", "g", "d", "i", "c", "f",
						   "b", "h", "a" };

		json_array_foreach(out, i, v)
			assert_string_equal(jsonx_str(v, "_id"), asc[i]);
	}
	json_decref(out);
	q.descending = 1;
	q.limit = 3;
	assert_int_equal(store_find(st, "c", &q, &out, NULL), ECOM_OK);
	assert_int_equal(json_array_size(out), 3);
	assert_string_equal(jsonx_str(json_array_get(out, 0), "_id"), "a"); /* true */
	assert_string_equal(jsonx_str(json_array_get(out, 1), "_id"), "h"); /* false */
	assert_string_equal(jsonx_str(json_array_get(out, 2), "_id"), "b"); /* [1] */
	json_decref(out);

	/* RANGE [0, 10] over numbers only: 2.5 and 3, not "a" nor true */
	memset(&q, 0, sizeof(q));
	q.op = STORE_RANGE;
	q.field = "v";
	q.lo = json_integer(0);
	q.hi = json_integer(10);
	q.sort_field = "v";
	assert_int_equal(store_find(st, "c", &q, &out, NULL), ECOM_OK);
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(jsonx_str(json_array_get(out, 0), "_id"), "g");
	assert_string_equal(jsonx_str(json_array_get(out, 1), "_id"), "d");
	json_decref(out);
	json_decref(q.lo);
	json_decref(q.hi);
	/* RANGE with only a string upper bound: strings up to "Z" */
	q.lo = NULL;
	q.hi = json_string("Z");
	assert_int_equal(store_find(st, "c", &q, &out, NULL), ECOM_OK);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(jsonx_str(json_array_get(out, 0), "_id"), "i");
	json_decref(out);
	json_decref(q.hi);
	/* EQ true matches the boolean only; EQ 3.0 matches the integer 3 */
	memset(&q, 0, sizeof(q));
	q.op = STORE_EQ;
	q.field = "v";
	q.value = json_true();
	assert_int_equal(store_find(st, "c", &q, &out, NULL), ECOM_OK);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(jsonx_str(json_array_get(out, 0), "_id"), "a");
	json_decref(out);
	q.value = json_real(3.0);
	assert_int_equal(store_find(st, "c", &q, &out, NULL), ECOM_OK);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(jsonx_str(json_array_get(out, 0), "_id"), "d");
	json_decref(out);
	json_decref(q.value);
	store_destroy(st);
}

/* ---- the HTML report ------------------------------------------------------------------- */

#define RA "aaaaaaaa-0000-4000-8000-00000000000a"
#define RB "bbbbbbbb-0000-4000-8000-00000000000b"
#define RE(n) "eeeeeeee-0000-4000-8000-0000000000" n

static void tl(FILE *f, int64_t t, const char *actor, const char *what, const char *detail)
{
	json_t *j = json_pack("{s:I,s:s,s:s,s:s}", "t_us", (json_int_t)t, "actor", actor, "event",
			      what, "detail", detail);
	char *s = jsonx_dumps(j);

	fprintf(f, "%s\n", s);
	free(s);
	json_decref(j);
}

/* A trace that walks the report's attribution rules one by one (comments say which). */
static FILE *rp_trace(void)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	tl(f, 0, "world", "begin", "scenario=rep seed=7");
	tl(f, 10, "workload", "order", "#1 " RA " items=1 total=1000");
	tl(f, 10, "workload", "order", "#1 " RA " items=1 total=1000"); /* same id: one row */
	tl(f, 10, "workload", "order", "garbage");
	tl(f, 11, "workload", "rejected", "#2 " RB ": not known yet");
	tl(f, 12, "order#1", "create", "bad");
	tl(f, 12, "order#1", "create", "#1 " RA " UNAVAILABLE");
	tl(f, 13, "order#1", "published", "order.OrderCreated.v1 " RE("01"));
	tl(f, 13, "order#1", "create", "#1 " RA " OK");
	tl(f, 20, "workload", "order", "#2 " RB " items=1 total=5");
	tl(f, 20, "workload", "rejected", "#2 " RB " items[0].qty: must be an integer 1..1000");
	tl(f, 30, "inventory#1", "poll", "order.OrderCreated.v1[0]@0 key=" RA);
	tl(f, 30, "inventory#1", "published", "inventory.InventoryReserved.v1 " RE("02"));
	tl(f, 30, "inventory#1", "published", "x.Note.v1 not-a-uuid");
	tl(f, 30, "inventory#1", "handled", "order.OrderCreated.v1 " RE("01"));
	/* published, then consumed by payment (whose poll names the order) before the
	 * publisher handles anything else: the consumer tells whose it was */
	tl(f, 40, "inventory#1", "published", "inventory.InventoryReserved.v1 " RE("03"));
	tl(f, 41, "payment#1", "poll", "inventory.InventoryReserved.v1[0]@1 key=" RA);
	tl(f, 41, "payment#1", "handled", "inventory.InventoryReserved.v1 " RE("03"));
	tl(f, 42, "inventory#1", "ignored", "order.OrderCreated.v1 " RE("01"));
	tl(f, 50, "order#1", "commit_conflict", "inventory.InventoryReserved.v1 " RA);
	tl(f, 51, "order#1", "commit_conflict",
	   "inventory.InventoryReserved.v1 ffffffff-0000-4000-8000-000000000099");
	tl(f, 52, "order#1", "commit_ambiguous", "inventory.InventoryReserved.v1 " RA);
	/* a duplicate after an ambiguous commit: that commit was applied */
	tl(f, 53, "order#1", "duplicate_skipped", "inventory.InventoryReserved.v1 " RE("02"));
	tl(f, 54, "order#1", "store_error", "get");
	tl(f, 55, "order#1", "published", "order.OrderStatusChanged.v1 " RE("04"));
	tl(f, 55, "admin", "retry", "ok");
	tl(f, 56, "admin", "replayed", "order.OrderCreated.v1:0:1");
	tl(f, 57, "admin", "compensate", "refused no such order");
	tl(f, 60, "payment#1", "publish_failed", "payment.PaymentAuthorized.v1 x");
	tl(f, 60, "payment#1", "handled", "inventory.InventoryReserved.v1 " RE("02"));
	/* the sweep publishes what the failure left: the failed publish names the order, the
	 * next entry of the same sweep follows it; a sweep with nothing failed is nobody's */
	tl(f, 2100000, "payment#1", "sweep_published", "payment.PaymentAuthorized.v1 " RE("05"));
	tl(f, 2100000, "payment#1", "sweep_published", "payment.PaymentRefunded.v1 " RE("06"));
	tl(f, 2200000, "shipping#1", "sweep_published", "shipping.OrderShipped.v1 " RE("07"));
	tl(f, 2300000, "order#1", "handled", "payment.PaymentAuthorized.v1 " RE("05"));
	tl(f, 2300001, "order#1", "poll", "shipping.OrderShipped.v1[0]@0 key=" RA);
	tl(f, 2300001, "order#1", "handled", "shipping.OrderShipped.v1 " RE("08"));
	tl(f, 2300002, "order#1", "handled", "inventory.InventoryReserved.v1 " RE("02"));
	tl(f, 2300003, "order#1", "note", "<x> & 'y'");
	tl(f, 2300004, "carrier", "fault", "error+1 ambiguous+0 outage+0");
	tl(f, 2300005, "gateway", "fault", "error+0 ambiguous+1 outage+0");
	tl(f, 2300006, "payment#1", "crash", "drawn");
	tl(f, 2300007, "payment#1", "start", "OK");
	tl(f, 2300008, "payment#1", "pause", "40ms");
	tl(f, 2300009, "world", "start", "not an instance");
	fputs("{\"t_us\":5}\nnot json\n", f);
	tl(f, 180000000000LL, "world", "quiescent", ""); /* 50 hours: a long quiet tail */
	return f;
}

static json_t *rp_summary(int with_violation)
{
	json_t *s = json_pack(
		"{s:s,s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:s,s:s,s:[],"
		"s:{s:{s:I,s:I},s:{s:I}},"
		"s:[{s:I,s:s,s:I,s:s,s:s,s:s},{s:I,s:s,s:s,s:s,s:s,s:s},{s:I,s:s,s:s}]}",
		"scenario", "rep", "seed", (json_int_t)7, "orders", (json_int_t)1, "shipped",
		(json_int_t)5, "cancelled", (json_int_t)0, "quiescent", (json_int_t)0, "restarts",
		"n/a", "sim_ms", (json_int_t)180000000, "trace_hash", "00000000000000aa", "result",
		"fail", "violations", "instances", "payment#1", "handled", (json_int_t)3, "crashes",
		(json_int_t)1, "order#1", "handled", (json_int_t)4, "ops", "at_ms", (json_int_t)0,
		"op", "retry", "order", (json_int_t)1, "orderId", RA, "step", "payment", "result",
		"ok", "at_ms", (json_int_t)0, "op", "compensate", "orderId", "nope", "action",
		"refundPayment", "result", "refused", "reason", "no such order", "at_ms",
		(json_int_t)0, "op", "dlq_replay", "result", "ok");

	assert_non_null(s);
	if (with_violation)
		json_array_append_new(json_object_get(s, "violations"),
				      json_pack("{s:s,s:s}", "invariant", "payment_balance", "detail",
						"A & B's money for " RA
						" and ffffffff-0000-4000-8000-000000000099"));
	else
		jsonx_set_str(s, "unmet", "min_shipped 5 < expected minimum 6");
	return s;
}

static char *rp_render(const json_t *summary, FILE *trace)
{
	struct sim_report_input in = { .summary = summary, .trace = trace };
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct ecom_err err;

	assert_non_null(out);
	ecom_err_clear(&err);
	assert_int_equal(sim_report_write(out, &in, &err), ECOM_OK);
	fclose(out);
	return buf;
}

/* The order index the report tied a line to; -99 if there is no such line. */
static int rp_order_of(const char *html, const char *actor, const char *what, const char *detail)
{
	const char *p = strstr(html, "id=\"ev-data\">"), *end;
	json_t *d, *l;
	size_t i;
	int o = -99;

	assert_non_null(p);
	p += strlen("id=\"ev-data\">");
	end = strstr(p, "</script>");
	d = json_loadb(p, (size_t)(end - p), 0, NULL);
	assert_non_null(d);
	json_array_foreach(json_object_get(d, "lines"), i, l) {
		if (strcmp(json_string_value(json_array_get(l, 1)), actor) == 0 &&
		    strcmp(json_string_value(json_array_get(l, 2)), what) == 0 &&
		    strcmp(json_string_value(json_array_get(l, 3)), detail) == 0)
			o = (int)json_integer_value(json_array_get(l, 4));
	}
	json_decref(d);
	return o;
}

static void test_report_attribution_and_sections(void **state)
{
	FILE *t = rp_trace();
	json_t *s = rp_summary(1);
	char *html = rp_render(s, t);

	(void)state;
	/* the second and third "order" lines made no row; B is rejected */
	assert_non_null(strstr(html, "2 of 2 order(s) shown"));
	assert_non_null(strstr(html, ">REJECTED</text>"));
	assert_non_null(strstr(html, ">SHIPPED</text>")); /* RETRYING, then shipped */
	assert_int_equal(rp_order_of(html, "order#1", "published",
				     "order.OrderCreated.v1 " RE("01")), 0);
	assert_int_equal(rp_order_of(html, "inventory#1", "published",
				     "inventory.InventoryReserved.v1 " RE("02")), 0);
	assert_int_equal(rp_order_of(html, "inventory#1", "published",
				     "inventory.InventoryReserved.v1 " RE("03")), 0);
	assert_int_equal(rp_order_of(html, "payment#1", "handled",
				     "inventory.InventoryReserved.v1 " RE("03")), 0);
	assert_int_equal(rp_order_of(html, "order#1", "commit_conflict",
				     "inventory.InventoryReserved.v1 " RA), 0);
	assert_int_equal(rp_order_of(html, "order#1", "commit_conflict",
				     "inventory.InventoryReserved.v1 "
				     "ffffffff-0000-4000-8000-000000000099"), -1);
	assert_int_equal(rp_order_of(html, "order#1", "published",
				     "order.OrderStatusChanged.v1 " RE("04")), 0);
	assert_int_equal(rp_order_of(html, "payment#1", "publish_failed",
				     "payment.PaymentAuthorized.v1 x"), 0);
	assert_int_equal(rp_order_of(html, "payment#1", "sweep_published",
				     "payment.PaymentAuthorized.v1 " RE("05")), 0);
	assert_int_equal(rp_order_of(html, "payment#1", "sweep_published",
				     "payment.PaymentRefunded.v1 " RE("06")), 0);
	assert_int_equal(rp_order_of(html, "shipping#1", "sweep_published",
				     "shipping.OrderShipped.v1 " RE("07")), -1);
	assert_int_equal(rp_order_of(html, "order#1", "handled",
				     "shipping.OrderShipped.v1 " RE("08")), 0);
	assert_int_equal(rp_order_of(html, "order#1", "store_error", "get"), -1);
	assert_int_equal(rp_order_of(html, "admin", "compensate", "refused no such order"), -1);
	/* lines without an actor or event are counted, not shown */
	assert_non_null(strstr(html, "The trace has 47 lines"));
	assert_non_null(strstr(html, "45 of 47 line(s) embedded (capped)"));
	/* marks: conflict and ambiguous commits, with their legends */
	assert_non_null(strstr(html, "stroke=\"#8b0000\""));
	assert_non_null(strstr(html, "stroke=\"#d2691e\""));
	assert_non_null(strstr(html, "CAS conflict inventory.InventoryReserved.v1</title>"));
	assert_non_null(strstr(html, "ambiguous commit inventory.InventoryReserved.v1</title>"));
	/* escaping: HTML text and the embedded JSON */
	assert_non_null(strstr(html, "A &amp; B&#39;s money"));
	assert_non_null(strstr(html, "\\u003cx\\u003e \\u0026 'y'"));
	assert_null(strstr(html, "<x>"));
	/* the story, figures, axis, status check, tables */
	assert_non_null(strstr(html, "It stopped (NOT quiescent)"));
	assert_null(strstr(html, "<span>restarts</span>")); /* not a number: no tile */
	assert_non_null(strstr(html, "axis break: the quiet tail after"));
	assert_non_null(strstr(html, "<b>Note:</b> the statuses above are inferred"));
	assert_non_null(strstr(html, "the order store says 5 shipped, 0 cancelled"));
	assert_non_null(strstr(html, "<td>gateway_fault</td><td>gateway</td>"));
	assert_non_null(strstr(html, "<td>carrier_fault</td><td>carrier</td>"));
	assert_non_null(strstr(html, "<td>pause</td><td>payment#1</td>"));
	assert_non_null(strstr(html, "</td><td>payment#1</td><td>restart</td><td>OK</td>"));
	assert_null(strstr(html, "<td>world</td><td>restart</td>")); /* not an instance */
	assert_non_null(strstr(html, "<td>retry payment</td><td>#1 " RA "</td><td>ok</td>"));
	assert_non_null(strstr(html, "<td>compensate refundPayment</td><td>nope</td><td>refused"
				     "</td><td>no such order</td>"));
	assert_non_null(strstr(html, "<td>dlq_replay </td><td></td><td>ok</td>"));
	assert_non_null(strstr(html, "(the scenario file could not be read back)"));
	free(html);
	json_decref(s);
	fclose(t);
}

static void test_report_unmet_without_violation(void **state)
{
	json_t *s = rp_summary(0);
	char *html = rp_render(s, NULL);

	(void)state;
	assert_non_null(strstr(html, "<h2>No invariant fired</h2>"));
	assert_non_null(strstr(html, "<b>Expectations not met:</b> min_shipped 5 &lt; expected "
				     "minimum 6"));
	assert_non_null(strstr(html, "0 of 0 order(s) shown"));
	free(html);
	json_decref(s);
}

/* More actors, kinds and faults than the report tracks: the rest is dropped (and said to
 * be), nothing overflows. */
static void test_report_bounds(void **state)
{
	FILE *t = tmpfile();
	json_t *s = rp_summary(0);
	char actor[32], what[32], *html;
	const char *p;
	int rows = 0;

	(void)state;
	assert_non_null(t);
	for (int i = 0; i < 600; i++)
		tl(t, i, "payment#1", "crash", "drawn");
	for (int i = 0; i < 130; i++) {
		snprintf(actor, sizeof(actor), "inventory#%d", i + 2);
		tl(t, 1000, actor, "crash", "drawn");
		tl(t, 1001, actor, "pause", "5ms");
	}
	for (int i = 0; i < 520; i++) {
		snprintf(what, sizeof(what), "kind%d", i);
		tl(t, 2000, "world", what, "");
	}
	for (int i = 0; i < 20000; i++)
		tl(t, 3000 + i, "payment#1", "duplicate", "t[0]@1");
	html = rp_render(s, t);
	for (p = html; (p = strstr(p, "</td><td>crash</td><td>drawn</td>")); p++)
		rows++;
	assert_int_equal(rows, 500); /* REPORT_TABLE_MAX rows of crashes and restarts */
	assert_non_null(strstr(html, "line(s) embedded (capped)"));
	/* the first RP_ACTORS_MAX actors only: inventory#128 is the 128th */
	assert_non_null(strstr(html, "<td>crash</td><td>inventory#127</td>"));
	assert_null(strstr(html, "<td>crash</td><td>inventory#129</td>"));
	free(html);
	json_decref(s);
	fclose(t);
}

static void test_report_files_and_errors(void **state)
{
	json_t *s = rp_summary(1);
	struct scenario scn;
	struct ecom_err err;
	char path[64], spath[64], *buf = NULL;
	size_t cap = 0, n;
	FILE *f;
	int fd;

	(void)state;
	ecom_err_clear(&err);
	assert_int_equal(sim_report_write(stdout, NULL, &err), ECOM_INVALID);
	assert_non_null(strstr(err.msg, "no summary object"));
	/* a full disk: the write error is reported, not a truncated "success" */
	f = fopen("/dev/full", "w");
	assert_non_null(f);
	assert_int_equal(sim_report_write(f, &(struct sim_report_input){ .summary = s }, &err),
			 ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "report: write failed"));
	fclose(f);
	assert_int_equal(sim_report_write_path("/dev/full",
					       &(struct sim_report_input){ .summary = s }, &err),
			 ECOM_UNAVAILABLE);

	snprintf(path, sizeof(path), "/tmp/ecom-rep-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	snprintf(spath, sizeof(spath), "/tmp/ecom-scn-XXXXXX");
	fd = mkstemp(spath);
	assert_true(fd >= 0);
	assert_true(write(fd, "{\"name\":\"rep\",\"seed\":7}", 23) == 23);
	close(fd);
	scenario_defaults(&scn);
	scn.description = strdup("A story <with> markup.");
	assert_int_equal(sim_report_for_run(path, spath, &scn, s, NULL, " --crash-after payment#1:7",
					    &err),
			 ECOM_OK);
	f = fopen(path, "r");
	assert_non_null(f);
	n = (size_t)getdelim(&buf, &cap, '\0', f);
	fclose(f);
	assert_true(n > 1000);
	{
		char want[160];

		snprintf(want, sizeof(want), "ecom sim run %s --seed 7 --crash-after payment#1:7",
			 spath);
		assert_non_null(strstr(buf, want));
	}
	assert_non_null(strstr(buf, "<p>A story &lt;with&gt; markup.</p>"));
	assert_non_null(strstr(buf, "<pre>{\n  &quot;name&quot;: &quot;rep&quot;"));
	assert_int_equal(sim_report_for_run(path, NULL, NULL, s, NULL, NULL, &err), ECOM_OK);
	f = fopen(path, "r");
	n = (size_t)getdelim(&buf, &cap, '\0', f);
	fclose(f);
	assert_non_null(strstr(buf, "ecom sim run FILE --seed 7</code>"));
	assert_non_null(strstr(buf, "(the scenario file could not be read back)"));
	free(buf);
	unlink(path);
	unlink(spath);
	scenario_deinit(&scn);
	json_decref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trace_line_format_and_hash),
		cmocka_unit_test(test_trace_long_line_truncated_and_jsonl),
		cmocka_unit_test(test_trace_record_compare_capture),
		cmocka_unit_test(test_trace_negative_time),
		cmocka_unit_test(test_inv_report_bounded_and_names),
		cmocka_unit_test(test_fault_draw_rates),
		cmocka_unit_test(test_crashpoint_edges),
		cmocka_unit_test(test_fault_store_rates_and_edges),
		cmocka_unit_test(test_fault_broker_rates_and_edges),
		cmocka_unit_test(test_fault_broker_held_bound),
		cmocka_unit_test(test_coverage_counting_edges),
		cmocka_unit_test_setup_teardown(test_inv_clean_world_is_quiet, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_termination, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_stock_conservation, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_stock_missing_and_negative, cw_setup,
						cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_on_commit_stock, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_payment_balance, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_charged_twice, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_charged_twice_at_the_end, cw_setup,
						cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_exactly_once_ledgers, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_exactly_once_shipped_unbooked, cw_setup,
						cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_exactly_once_history_log_inbox, cw_setup,
						cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_projection, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_projection_dropped_timeline, cw_setup,
						cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_outbox_drained, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_dlq_clean, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_inv_dlq_violations, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_summary_counts_and_unmet, cw_setup, cw_teardown),
		cmocka_unit_test_setup_teardown(test_summary_unmet_bounded, cw_setup, cw_teardown),
		cmocka_unit_test(test_run_without_orders),
		cmocka_unit_test(test_run_vanishing_rates),
		cmocka_unit_test(test_run_order_shapes),
		cmocka_unit_test(test_run_order_service_down),
		cmocka_unit_test(test_run_dlq_replay_twice),
		cmocka_unit_test(test_run_admin_ops_under_faults),
		cmocka_unit_test(test_run_quiet_phase_names_what_is_pending),
		cmocka_unit_test(test_mem_store_mixed_type_order),
		cmocka_unit_test(test_report_attribution_and_sections),
		cmocka_unit_test(test_report_unmet_without_violation),
		cmocka_unit_test(test_report_bounds),
		cmocka_unit_test(test_report_files_and_errors),
	};
	return cmocka_run_group_tests_name("sim_cov", tests, NULL, NULL);
}
