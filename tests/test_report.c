/* test_report.c — the HTML report writer (sim/report.c) on synthetic traces, and the
 * saga-path coverage counters (sim/coverage.c): events are tied to their order by
 * causality (publish -> handled, create, sweep after a failed publish, timers), statuses
 * follow the order service, violations are highlighted and escaped, rows are capped, and
 * the file never refers to anything outside itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/jsonx.h"
#include "sim/coverage.h"
#include "sim/report.h"

#define ORDER_A "aaaaaaaa-0000-4000-8000-000000000001"
#define ORDER_B "bbbbbbbb-0000-4000-8000-000000000002"
#define EV(n) "eeeeeeee-0000-4000-8000-0000000000" n

static void tline(FILE *f, int64_t t, const char *actor, const char *what, const char *detail)
{
	json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:s}", "t_us", (json_int_t)t, "actor", actor,
			      "event", what, "detail", detail, "line", "-");
	char *s = jsonx_dumps(j);

	fprintf(f, "%s\n", s);
	free(s);
	json_decref(j);
}

/* Order A ships; order B's shipment fails and is compensated (refund via a sweep after a
 * failed publish, release), with a store fault on its document and a crash on the way. */
static FILE *two_orders_trace(void)
{
	FILE *f = tmpfile();

	assert_non_null(f);
	tline(f, 0, "world", "begin", "scenario=t seed=1");
	tline(f, 10, "workload", "order", "#1 " ORDER_A " items=1 total=1000");
	tline(f, 10, "order#1", "published", "order.OrderCreated.v1 " EV("01"));
	tline(f, 10, "order#1", "create", "#1 " ORDER_A " OK");
	tline(f, 20, "workload", "order", "#2 " ORDER_B " items=1 total=2000");
	tline(f, 20, "order#1", "published", "order.OrderCreated.v1 " EV("02"));
	tline(f, 20, "order#1", "create", "#2 " ORDER_B " OK");
	/* inventory reserves both (its publishes precede the handled line) */
	tline(f, 30, "inventory#1", "poll", "order.OrderCreated.v1[0]@0");
	tline(f, 30, "inventory#1", "published", "inventory.InventoryReserved.v1 " EV("03"));
	tline(f, 30, "inventory#1", "handled", "order.OrderCreated.v1 " EV("01"));
	tline(f, 31, "inventory#1", "poll", "order.OrderCreated.v1[1]@0");
	tline(f, 31, "inventory#1", "published", "inventory.InventoryReserved.v1 " EV("04"));
	tline(f, 31, "inventory#1", "handled", "order.OrderCreated.v1 " EV("02"));
	tline(f, 40, "payment#1", "poll", "inventory.InventoryReserved.v1[0]@0");
	tline(f, 40, "payment#1", "published", "payment.PaymentAuthorized.v1 " EV("05"));
	tline(f, 40, "payment#1", "handled", "inventory.InventoryReserved.v1 " EV("03"));
	tline(f, 41, "payment#1", "poll", "inventory.InventoryReserved.v1[1]@0");
	tline(f, 41, "payment#1", "published", "payment.PaymentAuthorized.v1 " EV("06"));
	tline(f, 41, "payment#1", "handled", "inventory.InventoryReserved.v1 " EV("04"));
	tline(f, 45, "order#1", "store_error", "replace orders/" ORDER_B);
	tline(f, 50, "shipping#1", "published", "shipping.OrderShipped.v1 " EV("07"));
	tline(f, 50, "shipping#1", "handled", "payment.PaymentAuthorized.v1 " EV("05"));
	tline(f, 51, "shipping#1", "published", "shipping.ShippingFailed.v1 " EV("08"));
	tline(f, 51, "shipping#1", "handled", "payment.PaymentAuthorized.v1 " EV("06"));
	tline(f, 55, "payment#1", "crash", "crash point reached");
	tline(f, 56, "payment#1", "start", "OK");
	tline(f, 60, "payment#1", "publish_failed", "payment.PaymentRefunded.v1 x");
	tline(f, 60, "payment#1", "handled", "shipping.ShippingFailed.v1 " EV("08"));
	tline(f, 61, "inventory#1", "published", "inventory.InventoryReleased.v1 " EV("09"));
	tline(f, 61, "inventory#1", "handled", "shipping.ShippingFailed.v1 " EV("08"));
	tline(f, 1100000, "payment#1", "sweep_published", "payment.PaymentRefunded.v1 " EV("10"));
	/* the order service folds everything */
	tline(f, 70, "order#1", "handled", "inventory.InventoryReserved.v1 " EV("03"));
	tline(f, 71, "order#1", "handled", "payment.PaymentAuthorized.v1 " EV("05"));
	tline(f, 72, "order#1", "handled", "shipping.OrderShipped.v1 " EV("07"));
	tline(f, 73, "order#1", "handled", "inventory.InventoryReserved.v1 " EV("04"));
	tline(f, 74, "order#1", "handled", "payment.PaymentAuthorized.v1 " EV("06"));
	tline(f, 75, "order#1", "handled", "shipping.ShippingFailed.v1 " EV("08"));
	tline(f, 76, "order#1", "duplicate_skipped", "shipping.ShippingFailed.v1 " EV("08"));
	tline(f, 77, "order#1", "handled", "inventory.InventoryReleased.v1 " EV("09"));
	tline(f, 1100010, "order#1", "handled", "payment.PaymentRefunded.v1 " EV("10"));
	tline(f, 1100020, "admin", "retry", "refused order is SHIPPED");
	/* a message whose publish the trace never showed: its key on the poll line says */
	tline(f, 1100030, "shipping#1", "poll", "payment.PaymentAuthorized.v1[1]@9 key=" ORDER_B);
	tline(f, 1100030, "shipping#1", "duplicate_skipped", "payment.PaymentAuthorized.v1 " EV("99"));
	tline(f, 1200000, "world", "quiescent", "");
	return f;
}

static json_t *summary_with(const char *violation_detail)
{
	json_t *s = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:[],s:I,s:[{s:I,s:s,s:I,"
			      "s:s,s:s,s:s}],s:{s:{s:I,s:I}}}",
			      "scenario", "synthetic", "seed", (json_int_t)7, "orders", (json_int_t)2,
			      "shipped", (json_int_t)1, "cancelled", (json_int_t)1, "stuck",
			      (json_int_t)0, "crashes", (json_int_t)1, "sim_ms", (json_int_t)1200,
			      "trace_hash", "0123456789abcdef", "violations", "quiescent",
			      (json_int_t)1, "ops", "at_ms", (json_int_t)1100, "op", "retry", "order",
			      (json_int_t)1, "orderId", ORDER_A, "result", "refused", "reason",
			      "order is SHIPPED", "instances", "payment#1", "duplicates",
			      (json_int_t)3, "crashes", (json_int_t)1);

	assert_non_null(s);
	if (violation_detail) {
		json_array_append_new(json_object_get(s, "violations"),
				      json_pack("{s:s,s:s}", "invariant", "payment_balance",
						"detail", violation_detail));
		jsonx_set_str(s, "result", "fail");
		jsonx_set_str(s, "unmet", "payment_balance fired");
	} else {
		jsonx_set_str(s, "result", "pass");
	}
	return s;
}

/* Writes the report to memory; returns the text (caller frees). */
static char *render(const json_t *summary, FILE *trace, const char *command)
{
	struct sim_report_input in = { .summary = summary, .trace = trace, .command = command };
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

/* The embedded event list: [t_us, actor, event, detail, order index]. */
static json_t *event_data(const char *html)
{
	const char *p = strstr(html, "id=\"ev-data\">"), *end;
	json_t *d;

	assert_non_null(p);
	p += strlen("id=\"ev-data\">");
	end = strstr(p, "</script>");
	assert_non_null(end);
	d = json_loadb(p, (size_t)(end - p), 0, NULL);
	assert_non_null(d);
	return d;
}

/* The order index the report tied the (actor, event, detail) line to. */
static int order_of(const json_t *d, const char *actor, const char *what, const char *detail)
{
	size_t i;
	json_t *l;

	json_array_foreach(json_object_get(d, "lines"), i, l) {
		if (strcmp(json_string_value(json_array_get(l, 1)), actor) == 0 &&
		    strcmp(json_string_value(json_array_get(l, 2)), what) == 0 &&
		    strcmp(json_string_value(json_array_get(l, 3)), detail) == 0)
			return (int)json_integer_value(json_array_get(l, 4));
	}
	fail_msg("line not found: %s %s %s", actor, what, detail);
	return -99;
}

static void test_self_contained(void **state)
{
	FILE *t = two_orders_trace();
	json_t *s = summary_with(NULL);
	char *html = render(s, t, "ecom sim run x.json --seed 7");

	(void)state;
	assert_non_null(strstr(html, "<!doctype html>"));
	assert_non_null(strstr(html, "</html>"));
	assert_non_null(strstr(html, "<svg"));
	assert_null(strstr(html, "http://"));
	assert_null(strstr(html, "https://"));
	assert_null(strstr(html, "<link"));
	assert_null(strstr(html, "<script src"));
	assert_null(strstr(html, "<img"));
	assert_non_null(strstr(html, "ecom sim run x.json --seed 7"));
	assert_non_null(strstr(html, "Every invariant held"));
	free(html);
	json_decref(s);
	fclose(t);
}

static void test_events_tied_to_their_order(void **state)
{
	FILE *t = two_orders_trace();
	json_t *s = summary_with(NULL);
	char *html = render(s, t, NULL);
	json_t *d = event_data(html);

	(void)state;
	/* order index 0 = #1 (A), 1 = #2 (B) */
	assert_int_equal(json_integer_value(json_array_get(json_array_get(json_object_get(d,
				"orders"), 1), 0)), 2);
	assert_int_equal(order_of(d, "order#1", "create", "#1 " ORDER_A " OK"), 0);
	assert_int_equal(order_of(d, "inventory#1", "handled", "order.OrderCreated.v1 " EV("02")),
			 1);
	/* two hops downstream: published before the handled line it belongs to */
	assert_int_equal(order_of(d, "payment#1", "handled",
				  "inventory.InventoryReserved.v1 " EV("04")), 1);
	assert_int_equal(order_of(d, "shipping#1", "handled",
				  "payment.PaymentAuthorized.v1 " EV("05")), 0);
	/* the refund left by a failed publish, published a second later by the sweep */
	assert_int_equal(order_of(d, "payment#1", "sweep_published",
				  "payment.PaymentRefunded.v1 " EV("10")), 1);
	assert_int_equal(order_of(d, "order#1", "handled", "payment.PaymentRefunded.v1 " EV("10")),
			 1);
	assert_int_equal(order_of(d, "order#1", "store_error", "replace orders/" ORDER_B), 1);
	assert_int_equal(order_of(d, "admin", "retry", "refused order is SHIPPED"), 0);
	assert_int_equal(order_of(d, "shipping#1", "duplicate_skipped",
				  "payment.PaymentAuthorized.v1 " EV("99")), 1);
	/* a publish line is listed with the order it was tied to later */
	assert_int_equal(order_of(d, "inventory#1", "published",
				  "inventory.InventoryReserved.v1 " EV("04")), 1);
	/* final statuses as the order service saw them; nothing left unattributed */
	assert_non_null(strstr(html, ">SHIPPED</text>"));
	assert_non_null(strstr(html, ">CANCELLED</text>"));
	assert_null(strstr(html, "some rows are wrong"));
	assert_non_null(strstr(html, " 0 published event(s) could not be tied"));
	json_decref(d);
	free(html);
	json_decref(s);
	fclose(t);
}

static void test_crashes_faults_and_coverage_shown(void **state)
{
	FILE *t = two_orders_trace();
	json_t *s = summary_with(NULL);
	char *html = render(s, t, NULL);

	(void)state;
	/* crash line over the lanes, restart, store fault tick, table rows */
	assert_non_null(strstr(html, "stroke=\"#c0262d\" stroke-dasharray"));
	assert_non_null(strstr(html, "fault: restart"));
	assert_non_null(strstr(html, "<td>store_error</td><td>order#1</td><td class=\"n\">1</td>"));
	assert_non_null(strstr(html, "crash point reached"));
	/* coverage from the trace: a refund and a duplicate were reached */
	assert_non_null(strstr(html, "<td>refund</td><td class=\"n\">1</td>"));
	assert_non_null(strstr(html, "<td>duplicate_deduped</td><td class=\"n\">3</td>"));
	assert_non_null(strstr(html, "<td>stock_out</td><td class=\"n gap\">0</td>"));
	free(html);
	json_decref(s);
	fclose(t);
}

static void test_violations_first_highlighted_and_escaped(void **state)
{
	FILE *t = two_orders_trace();
	json_t *s = summary_with("order " ORDER_B " captured 2000 <script>alert(1)</script>");
	char *html = render(s, t, NULL);
	const char *viol = strstr(html, "1 invariant violation(s)");
	const char *lanes = strstr(html, "Orders over virtual time");

	(void)state;
	assert_non_null(viol);
	assert_non_null(lanes);
	assert_true(viol < lanes); /* at the top */
	assert_non_null(strstr(html, "FAIL</span>"));
	assert_null(strstr(html, "<script>alert"));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	/* B's row is highlighted, A's is not */
	assert_non_null(strstr(html, "fill=\"#c0262d\" font-weight=\"bold\">#2 bbbbbbbb"));
	assert_null(strstr(html, "font-weight=\"bold\">#1 "));
	free(html);
	json_decref(s);
	fclose(t);
}

static void test_rows_capped_flagged_first(void **state)
{
	FILE *t = tmpfile();
	json_t *s;
	char *html, id[37], detail[128], flagged_label[64];
	const int n = REPORT_ROWS_MAX + 50;

	(void)state;
	for (int i = 1; i <= n; i++) {
		snprintf(id, sizeof(id), "cccccccc-0000-4000-8000-%012d", i);
		snprintf(detail, sizeof(detail), "#%d %s items=1 total=1", i, id);
		tline(t, i * 10, "workload", "order", detail);
		snprintf(detail, sizeof(detail), "#%d %s OK", i, id);
		tline(t, i * 10, "order#1", "create", detail);
	}
	tline(t, 60000000, "world", "quiescent", ""); /* a minute of quiet after 2.5 ms */
	snprintf(id, sizeof(id), "cccccccc-0000-4000-8000-%012d", n); /* the last one */
	snprintf(detail, sizeof(detail), "order %s is CREATED", id);
	s = summary_with(detail);
	html = render(s, t, NULL);
	assert_non_null(strstr(html, "200 of 250 order(s) shown"));
	assert_non_null(strstr(html, "capped at 200"));
	snprintf(flagged_label, sizeof(flagged_label), "font-weight=\"bold\">#%d ", n);
	assert_non_null(strstr(html, flagged_label));
	/* the quiet tail is compressed instead of squeezing the action into a sliver */
	assert_non_null(strstr(html, "axis break"));
	free(html);
	json_decref(s);
	fclose(t);
}

static void test_without_trace_and_bad_input(void **state)
{
	json_t *s = summary_with(NULL);
	char *html = render(s, NULL, NULL);
	struct sim_report_input in = { .summary = NULL };
	struct ecom_err err;

	(void)state;
	assert_non_null(strstr(html, "No trace was available"));
	assert_non_null(strstr(html, "<svg"));
	ecom_err_clear(&err);
	assert_int_equal(sim_report_write(stdout, &in, &err), ECOM_INVALID);
	assert_int_equal(sim_report_write_path("/nonexistent-dir/x.html", &(struct sim_report_input)
					       { .summary = s }, &err), ECOM_UNAVAILABLE);
	free(html);
	json_decref(s);
}

/* ---- coverage ---------------------------------------------------------------------------- */

static void test_coverage_from_trace(void **state)
{
	struct cov_counts c;

	(void)state;
	cov_counts_init(&c);
	cov_trace_begin(&c);
	cov_trace_line(&c, 0, "broker", "rebalance", "payment-service-group gen=2");
	cov_trace_line(&c, 5, "broker", "rebalance", "payment-service-group gen=3");
	cov_trace_line(&c, 6, "inventory#1", "published", "inventory.InventoryFailed.v1 x");
	cov_trace_line(&c, 7, "payment#2", "commit_ambiguous", "payment.X y");
	cov_trace_line(&c, 8, "payment#2", "handled", "ops.StepTimeout.v1 z");
	cov_trace_line(&c, 9, "order#1", "handled", "ops.StepTimeout.v1 z"); /* not a fence */
	cov_trace_line(&c, 9, "admin", "compensate", "ok");
	cov_trace_line(&c, 9, "admin", "compensate", "refused nothing to compensate");
	assert_int_equal(c.n[COV_REBALANCE], 1); /* the one at t = 0 is the group forming */
	assert_int_equal(c.n[COV_STOCK_OUT], 1);
	assert_int_equal(c.n[COV_COMMIT_AMBIGUOUS], 1);
	assert_int_equal(c.n[COV_DEADLINE_FENCE], 1);
	assert_int_equal(c.n[COV_ADMIN_COMPENSATE_OK], 1);
	assert_int_equal(c.n[COV_ADMIN_COMPENSATE_REFUSED], 1);
	assert_int_equal(c.n[COV_REFUND], 0);
	assert_true(c.known & (1u << COV_REFUND));
}

static void test_coverage_from_summary_and_aggregate(void **state)
{
	json_t *s = summary_with(NULL);
	struct cov_counts a, b;
	struct cov_agg agg;
	json_t *j;

	(void)state;
	cov_counts_init(&a);
	cov_from_summary(&a, s);
	assert_int_equal(a.n[COV_DUPLICATE_DEDUPED], 3);
	assert_int_equal(a.n[COV_CRASH], 1);
	assert_int_equal(a.n[COV_ADMIN_RETRY_REFUSED], 1);
	assert_false(a.known & (1u << COV_REFUND)); /* the summary cannot tell */
	/* a "coverage" object in the summary is authoritative for what it names */
	jsonx_set_new(s, "coverage", json_pack("{s:I}", "refund", (json_int_t)4));
	cov_counts_init(&b);
	cov_from_summary(&b, s);
	assert_int_equal(b.n[COV_REFUND], 4);
	assert_true(b.known & (1u << COV_REFUND));
	cov_agg_init(&agg);
	cov_agg_add(&agg, &a);
	cov_agg_add(&agg, &b);
	assert_int_equal(agg.runs, 2);
	assert_int_equal(agg.runs_known[COV_REFUND], 1);
	assert_int_equal(agg.runs_reached[COV_REFUND], 1);
	assert_int_equal(agg.runs_reached[COV_DEAD_LETTER], 0);
	assert_int_equal(agg.runs_known[COV_DEAD_LETTER], 2);
	assert_int_equal(agg.total[COV_DUPLICATE_DEDUPED], 6);
	j = cov_to_json(&a);
	assert_int_equal(jsonx_int_or(j, "duplicate_deduped", -1), 3);
	assert_null(json_object_get(j, "refund"));
	json_decref(j);
	json_decref(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_contained),
		cmocka_unit_test(test_events_tied_to_their_order),
		cmocka_unit_test(test_crashes_faults_and_coverage_shown),
		cmocka_unit_test(test_violations_first_highlighted_and_escaped),
		cmocka_unit_test(test_rows_capped_flagged_first),
		cmocka_unit_test(test_without_trace_and_bad_input),
		cmocka_unit_test(test_coverage_from_trace),
		cmocka_unit_test(test_coverage_from_summary_and_aggregate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
