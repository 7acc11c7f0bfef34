/* test_metrics.c — the Prometheus registry: exact exposition text for counters, gauges and
 * histograms, deterministic order whatever the update order, escaping, bounds, and the
 * collector hook. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"

static const char *const svc_type_outcome[] = {"service", "type", "outcome"};

static void test_counter_text(void **state)
{
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "ecom_events_processed_total", "Events processed.",
					   svc_type_outcome, 3);
	char *text;

	(void)state;
	metric_add(c, (const char *[]){"payment", "b.Type", "ok"}, 1);
	metric_add(c, (const char *[]){"payment", "a.Type", "ok"}, 2);
	metric_add(c, (const char *[]){"payment", "b.Type", "ok"}, 1);
	assert_true(metric_value(c, (const char *[]){"payment", "b.Type", "ok"}) == 2);
	assert_true(metric_value(c, (const char *[]){"payment", "zzz", "ok"}) == 0);
	assert_int_equal(metric_series_count(c), 2);
	text = metrics_render(m);
	assert_string_equal(
		text,
		"# HELP ecom_events_processed_total Events processed.\n"
		"# TYPE ecom_events_processed_total counter\n"
		"ecom_events_processed_total{service=\"payment\",type=\"a.Type\",outcome=\"ok\"} 2\n"
		"ecom_events_processed_total{service=\"payment\",type=\"b.Type\",outcome=\"ok\"} 2\n"
		"# HELP ecom_metrics_series_dropped_total Label sets refused because their family "
		"was full.\n"
		"# TYPE ecom_metrics_series_dropped_total counter\n"
		"ecom_metrics_series_dropped_total 0\n");
	free(text);
	metrics_free(m);
}

static void test_histogram_text(void **state)
{
	static const double buckets[] = {0.001, 0.01, 0.1};
	static const char *const lbl[] = {"service"};
	struct metrics *m = metrics_new();
	struct metric *h = metrics_histogram(m, "ecom_event_handling_seconds", "Latency.", lbl, 1,
					     buckets, 3);
	char *text;

	(void)state;
	metric_observe(h, (const char *[]){"order"}, 0.0005);
	metric_observe(h, (const char *[]){"order"}, 0.001); /* le is inclusive */
	metric_observe(h, (const char *[]){"order"}, 0.05);
	metric_observe(h, (const char *[]){"order"}, 7);
	assert_true(metric_value(h, (const char *[]){"order"}) == 4);
	assert_true(fabs(metric_sum(h, (const char *[]){"order"}) - 7.0515) < 1e-12);
	text = metrics_render(m);
	assert_non_null(strstr(text,
			       "# TYPE ecom_event_handling_seconds histogram\n"
			       "ecom_event_handling_seconds_bucket{service=\"order\",le=\"0.001\"} 2\n"
			       "ecom_event_handling_seconds_bucket{service=\"order\",le=\"0.01\"} 2\n"
			       "ecom_event_handling_seconds_bucket{service=\"order\",le=\"0.1\"} 3\n"
			       "ecom_event_handling_seconds_bucket{service=\"order\",le=\"+Inf\"} 4\n"
			       "ecom_event_handling_seconds_sum{service=\"order\"} 7.0515\n"
			       "ecom_event_handling_seconds_count{service=\"order\"} 4\n"));
	free(text);
	metrics_free(m);
}

/* Same updates in another order (and families registered in another order) => same bytes. */
static char *render_in_order(int reverse)
{
	static const char *const lbl[] = {"route", "code"};
	struct metrics *m = metrics_new();
	struct metric *a, *g;
	const char *routes[] = {"/orders", "/health", "/orders/:id", "/metrics"};
	char *text;

	if (reverse) {
		g = metrics_gauge(m, "ecom_outbox_backlog", "Backlog.", NULL, 0);
		a = metrics_counter(m, "ecom_http_requests_total", "Requests.", lbl, 2);
	} else {
		a = metrics_counter(m, "ecom_http_requests_total", "Requests.", lbl, 2);
		g = metrics_gauge(m, "ecom_outbox_backlog", "Backlog.", NULL, 0);
	}
	for (int i = 0; i < 4; i++) {
		int k = reverse ? 3 - i : i;

		metric_add(a, (const char *[]){routes[k], k % 2 ? "200" : "404"}, k + 1);
	}
	metric_set(g, NULL, 3);
	text = metrics_render(m);
	metrics_free(m);
	return text;
}

static void test_deterministic_order(void **state)
{
	char *x = render_in_order(0), *y = render_in_order(1);
	const char *p1, *p2;

	(void)state;
	assert_string_equal(x, y);
	/* families by name, series by label values */
	p1 = strstr(x, "ecom_http_requests_total{route=\"/health\"");
	p2 = strstr(x, "ecom_http_requests_total{route=\"/orders\"");
	assert_non_null(p1);
	assert_non_null(p2);
	assert_true(p1 < p2);
	assert_true(strstr(x, "# TYPE ecom_http_requests_total") < strstr(x, "# TYPE ecom_outbox"));
	assert_non_null(strstr(x, "ecom_outbox_backlog 3\n"));
	free(x);
	free(y);
}

static void test_escaping(void **state)
{
	static const char *const lbl[] = {"v"};
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "x_total", "a\\b\nc", lbl, 1);
	char *text;

	(void)state;
	metric_add(c, (const char *[]){"q\"u\\o\nte"}, 1);
	text = metrics_render(m);
	assert_non_null(strstr(text, "# HELP x_total a\\\\b\\nc\n"));
	assert_non_null(strstr(text, "x_total{v=\"q\\\"u\\\\o\\nte\"} 1\n"));
	free(text);
	metrics_free(m);
}

static void test_gauge_clear_and_signs(void **state)
{
	static const char *const lbl[] = {"status"};
	struct metrics *m = metrics_new();
	struct metric *g = metrics_gauge(m, "ecom_sagas", "Sagas by state.", lbl, 1);
	char *text;

	(void)state;
	metric_set(g, (const char *[]){"SHIPPED"}, 4);
	metric_add(g, (const char *[]){"CREATED"}, -2.5);
	assert_true(metric_value(g, (const char *[]){"CREATED"}) == -2.5);
	metric_clear(g);
	assert_int_equal(metric_series_count(g), 0);
	metric_set(g, (const char *[]){"CANCELLED"}, 1);
	text = metrics_render(m);
	assert_null(strstr(text, "SHIPPED"));
	assert_non_null(strstr(text, "ecom_sagas{status=\"CANCELLED\"} 1\n"));
	free(text);
	metrics_free(m);
}

static void test_series_bound(void **state)
{
	static const char *const lbl[] = {"id"};
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "many_total", "Many.", lbl, 1);
	char id[32];

	(void)state;
	for (int i = 0; i < METRICS_SERIES_MAX + 10; i++) {
		snprintf(id, sizeof(id), "%06d", i);
		metric_add(c, (const char *[]){id}, 1);
	}
	assert_int_equal(metric_series_count(c), METRICS_SERIES_MAX);
	assert_true(metric_value(metrics_find(m, METRICS_DROPPED_NAME), NULL) == 10);
	/* an existing series still counts */
	metric_add(c, (const char *[]){"000000"}, 1);
	assert_true(metric_value(c, (const char *[]){"000000"}) == 2);
	metrics_free(m);
}

static void test_format_value(void **state)
{
	char out[32];

	(void)state;
	metrics_format_value(0.1, out);
	assert_string_equal(out, "0.1");
	metrics_format_value(-0.0, out);
	assert_string_equal(out, "0");
	metrics_format_value(1e20, out);
	assert_string_equal(out, "1e+20");
	metrics_format_value(123456789, out);
	assert_string_equal(out, "123456789");
	metrics_format_value(INFINITY, out);
	assert_string_equal(out, "+Inf");
	metrics_format_value(NAN, out);
	assert_string_equal(out, "NaN");
	metrics_format_value(1.0 / 3.0, out);
	assert_true(strtod(out, NULL) == 1.0 / 3.0);
}

static int collected;

static void collector(void *arg, struct metrics *m)
{
	metric_set(metrics_find(m, "ecom_dlq_messages"), NULL, *(double *)arg);
	collected++;
}

static void test_collector(void **state)
{
	struct metrics *m = metrics_new();
	double v = 7;
	char *text;

	(void)state;
	metrics_gauge(m, "ecom_dlq_messages", "DLQ.", NULL, 0);
	metrics_set_collector(m, collector, &v);
	text = metrics_render(m);
	assert_int_equal(collected, 1);
	assert_non_null(strstr(text, "ecom_dlq_messages 7\n"));
	free(text);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_text),
		cmocka_unit_test(test_histogram_text),
		cmocka_unit_test(test_deterministic_order),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_gauge_clear_and_signs),
		cmocka_unit_test(test_series_bound),
		cmocka_unit_test(test_format_value),
		cmocka_unit_test(test_collector),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
