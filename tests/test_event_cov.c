/* test_event_cov.c — the core value layer at its edges: every envelope field of the wrong
 * type is refused naming the field, headers of every JSON type, envelopes without headers
 * or causation, payload schemas refusing each field kind by path, jsonx reads of absent and
 * mistyped values, ISO-8601 parsing at every separator and range limit, the header lookup's
 * bound, and the metrics registry's unlabeled histograms, full families, default label
 * values and value formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/broker.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "core/rng.h"
#include "event/event.h"
#include "event/jsonx.h"

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

/* A valid envelope as JSON (new reference). */
static json_t *valid_env(void)
{
	return parse("{\"eventId\":\"e-1\",\"type\":\"inventory.InventoryFailed.v1\",\"version\":1,"
		     "\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"correlationId\":\"c-1\","
		     "\"causationId\":\"x-1\",\"key\":\"o-1\","
		     "\"payload\":{\"orderId\":\"o-1\",\"reason\":\"r\"},\"headers\":{}}");
}

/* Parses env with field replaced by value (JSON text; NULL removes the field). Returns the
 * rc; err holds the message. */
static int parse_with(const char *field, const char *value, struct envelope *e,
		      struct ecom_err *err)
{
	json_t *env = valid_env();
	char *text;
	int rc;

	if (value)
		json_object_set_new(env, field, json_loads(value, JSON_DECODE_ANY, NULL));
	else
		json_object_del(env, field);
	text = json_dumps(env, JSON_COMPACT);
	ecom_err_clear(err);
	rc = envelope_parse(text, strlen(text), e, err);
	free(text);
	json_decref(env);
	return rc;
}

static void expect_refused(const char *field, const char *value, const char *msg)
{
	struct envelope e;
	struct ecom_err err;

	assert_int_equal(parse_with(field, value, &e, &err), ECOM_INVALID);
	assert_string_equal(err.msg, msg);
	assert_null(e.event_id); /* left zeroed */
	assert_null(e.payload);
}

static void test_envelope_field_types(void **state)
{
	static const char ts_msg[] =
		"timestamp: must be an ISO-8601 UTC time like 2026-01-01T00:00:00.000Z";
	struct envelope e;
	struct ecom_err err;
	const char *text = "[{\"eventId\":\"e\"}]";

	(void)state;
	assert_int_equal(envelope_parse(text, strlen(text), &e, &err), ECOM_INVALID);
	assert_string_equal(err.msg, "envelope: must be a JSON object");
	expect_refused("eventId", "5", "eventId: must be a non-empty string");
	expect_refused("eventId", "\"\"", "eventId: must be a non-empty string");
	expect_refused("type", "null", "type: must be a non-empty string");
	expect_refused("timestamp", "1767225600000", ts_msg);
	expect_refused("timestamp", "\"2026-01-01 00:00:00Z\"", ts_msg);
	expect_refused("causationId", "5", "causationId: must be a string or absent");
	expect_refused("causationId", "{}", "causationId: must be a string or absent");
	expect_refused("headers", "[]", "headers: must be an object");
	expect_refused("headers", "\"h\"", "headers: must be an object");
	expect_refused("headers", "{\"a\":\"1\",\"b\":{}}",
		       "headers.b: must be a string, number or boolean");
	expect_refused("headers", "{\"n\":null}", "headers.n: must be a string, number or boolean");
	expect_refused("headers", "{\"arr\":[1]}",
		       "headers.arr: must be a string, number or boolean");

	/* Every scalar header type is fine; null headers and null causation read as absent. */
	assert_int_equal(parse_with("headers",
				    "{\"s\":\"v\",\"i\":3,\"r\":1.5,\"t\":true,\"f\":false}", &e,
				    &err),
			 ECOM_OK);
	assert_int_equal(json_object_size(e.headers), 5);
	assert_string_equal(e.causation_id, "x-1");
	envelope_deinit(&e);
	assert_int_equal(parse_with("headers", "null", &e, &err), ECOM_OK);
	assert_true(json_is_object(e.headers));
	assert_int_equal(json_object_size(e.headers), 0);
	envelope_deinit(&e);
	assert_int_equal(parse_with("headers", NULL, &e, &err), ECOM_OK);
	assert_int_equal(json_object_size(e.headers), 0);
	envelope_deinit(&e);
	assert_int_equal(parse_with("causationId", "null", &e, &err), ECOM_OK);
	assert_null(e.causation_id);
	envelope_deinit(&e);
}

/* An envelope built without a correlation id, or whose headers/causation are absent, still
 * copies and serializes to a valid envelope. */
static void test_envelope_without_optional_parts(void **state)
{
	struct rng r;
	struct envelope e, c, back;
	json_t *j;
	char *text;

	(void)state;
	rng_seed(&r, 3);
	envelope_init(&e, &r, 1767225600000LL, EV_INVENTORY_FAILED, "o-1",
		      parse("{\"orderId\":\"o-1\",\"reason\":\"r\"}"), "", NULL);
	assert_string_equal(e.correlation_id, e.event_id); /* "" counts as absent */
	assert_null(e.causation_id);
	json_decref(e.headers);
	e.headers = NULL;

	envelope_copy(&c, &e);
	assert_true(json_is_object(c.headers));
	assert_null(c.causation_id);
	assert_string_equal(c.event_id, e.event_id);
	envelope_deinit(&c);

	j = envelope_to_json(&e);
	assert_true(json_is_object(json_object_get(j, "headers")));
	assert_null(json_object_get(j, "causationId"));
	json_decref(j);
	text = envelope_serialize(&e);
	assert_non_null(strstr(text, "\"headers\":{}"));
	assert_int_equal(envelope_parse(text, strlen(text), &back, NULL), ECOM_OK);
	assert_string_equal(back.correlation_id, e.event_id);
	envelope_deinit(&back);
	free(text);
	envelope_deinit(&e);
}

static void expect_payload(enum event_type t, const char *payload, const char *msg)
{
	json_t *p = json_loads(payload, JSON_DECODE_ANY, NULL);
	struct ecom_err err;

	assert_non_null(p);
	ecom_err_clear(&err);
	assert_int_equal(event_validate_payload(t, p, &err), msg ? ECOM_INVALID : ECOM_OK);
	assert_string_equal(err.msg, msg ? msg : "");
	json_decref(p);
}

static void test_schema_field_kinds(void **state)
{
	(void)state;
	expect_payload(EV_ORDER_CREATED, "[]", "payload: must be an object");
	expect_payload(EV_ORDER_CREATED, "{\"orderId\":5,\"items\":[],\"total\":1}",
		       "payload.orderId: must be a non-empty string");
	expect_payload(EV_ORDER_CREATED, "{\"orderId\":\"o\",\"items\":\"x\",\"total\":1}",
		       "payload.items: must be an array of {sku, qty}");
	expect_payload(EV_ORDER_CREATED, "{\"orderId\":\"o\",\"items\":[5],\"total\":1}",
		       "payload.items[0]: must be an object");
	expect_payload(EV_ORDER_CREATED,
		       "{\"orderId\":\"o\",\"items\":[{\"sku\":7,\"qty\":1}],\"total\":1}",
		       "payload.items[0].sku: must be a non-empty string");
	expect_payload(EV_INVENTORY_FAILED, "{\"orderId\":\"o\",\"reason\":5}",
		       "payload.reason: must be a string");
	expect_payload(EV_STEP_TIMEOUT, "{\"orderId\":\"o\",\"step\":5,\"attempt\":0}",
		       "payload.step: must be one of inventory, payment, shipping");
	expect_payload(EV_COMPENSATION_REQUESTED, "{\"orderId\":\"o\",\"action\":\"undo\"}",
		       "payload.action: must be one of releaseInventory, refundPayment");
	expect_payload(EV_STOCK_RESULT,
		       "{\"orderId\":\"o\",\"sku\":\"s\",\"qty\":0,\"op\":\"hold\",\"ok\":\"yes\"}",
		       "payload.ok: must be a boolean");
	expect_payload(EV_STOCK_RESULT,
		       "{\"orderId\":\"o\",\"sku\":\"s\",\"qty\":0,\"op\":\"hold\",\"ok\":false,"
		       "\"reason\":\"out_of_stock\",\"attempt\":2}",
		       NULL);
	/* The dead letter carries no attempt: one present is not checked. */
	expect_payload(EV_DEAD_LETTER,
		       "{\"originalType\":\"t\",\"originalEventId\":\"e\",\"error\":\"x\","
		       "\"payload\":null,\"attempt\":\"n/a\"}",
		       NULL);
}

static void test_money_edges(void **state)
{
	int64_t cents = 42;
	json_t *v;

	(void)state;
	v = json_real(-1.5);
	assert_int_equal(money_from_json(v, &cents), ECOM_INVALID);
	json_decref(v);
	v = json_integer(-1);
	assert_int_equal(money_from_json(v, &cents), ECOM_INVALID);
	json_decref(v);
	v = json_string("1.00");
	assert_int_equal(money_from_json(v, &cents), ECOM_INVALID);
	json_decref(v);
	assert_int_equal(money_from_json(NULL, &cents), ECOM_INVALID);
	assert_int_equal(cents, 42); /* untouched on refusal */
	v = json_real(19.99);
	assert_int_equal(money_from_json(v, &cents), ECOM_OK);
	assert_int_equal(cents, 1999);
	json_decref(v);
}

static void test_jsonx_reads(void **state)
{
	json_t *o = parse("{\"i\":7,\"s\":\"x\",\"r\":2.0,\"n\":null,\"t\":true,\"f\":false}"),
	       *a = parse("[1]");
	int64_t v = -1;

	(void)state;
	assert_null(jsonx_str(a, "s"));
	assert_null(jsonx_str(NULL, "s"));
	assert_null(jsonx_str(o, "i"));
	assert_string_equal(jsonx_str_or(o, "i", "d"), "d");
	assert_int_equal(jsonx_int(NULL, "i", &v), ECOM_NOT_FOUND);
	assert_int_equal(jsonx_int(a, "i", &v), ECOM_NOT_FOUND);
	assert_int_equal(jsonx_int(o, "zz", &v), ECOM_NOT_FOUND);
	assert_int_equal(jsonx_int(o, "r", &v), ECOM_INVALID);
	assert_int_equal(jsonx_int(o, "n", &v), ECOM_INVALID);
	assert_int_equal(v, -1);
	assert_int_equal(jsonx_int(o, "i", &v), ECOM_OK);
	assert_int_equal(v, 7);
	assert_int_equal(jsonx_int_or(o, "s", 9), 9);
	assert_int_equal(jsonx_bool_or(NULL, "t", 5), 5);
	assert_int_equal(jsonx_bool_or(a, "t", 5), 5);
	assert_int_equal(jsonx_bool_or(o, "t", 5), 1);
	assert_int_equal(jsonx_bool_or(o, "f", 5), 0);
	assert_int_equal(jsonx_bool_or(o, "i", 5), 5);
	assert_int_equal(jsonx_bool_or(o, "zz", 5), 5);
	json_decref(o);
	json_decref(a);
}

/* ---- ISO-8601 --------------------------------------------------------------------------- */

static void test_iso_parse_edges(void **state)
{
	static const char *const bad[] = {
		"2026-01-01T00:00:00",       /* too short: no zone */
		"2026/01-01T00:00:00.000Z",  /* each separator in turn */
		"2026-01/01T00:00:00.000Z",
		"2026-01-01 00:00:00.000Z",
		"2026-01-01T00-00:00.000Z",
		"2026-01-01T00:00-00.000Z",
		"20x6-01-01T00:00:00.000Z",  /* a non-digit in the year */
		"2026-00-01T00:00:00.000Z",  /* month 0 and 13 */
		"2026-13-01T00:00:00.000Z",
		"2026-01-00T00:00:00.000Z",  /* day 0, and past the month's end */
		"2026-02-29T00:00:00.000Z",
		"2026-04-31T00:00:00.000Z",
		"2026-01-01T-1:00:00.000Z",  /* hour */
		"2026-01-01T24:00:00.000Z",
		"2026-01-01T00:-1:00.000Z",  /* minute */
		"2026-01-01T00:60:00.000Z",
		"2026-01-01T00:00:-1.000Z",  /* second */
		"2026-01-01T00:00:60.000Z",
		"2026-01-01T00:00:00.Z",     /* a dot without digits */
		"2026-01-01T00:00:00.1234567890Z", /* more fraction digits than allowed */
		"2026-01-01T00:00:00.000ZZ", /* trailing bytes */
		"2026-01-01T00:00:00.000+01:00",
	};
	int64_t ms = 7;

	(void)state;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(bad); i++) {
		if (clock_parse_iso(bad[i], &ms) != ECOM_INVALID)
			fail_msg("accepted %s", bad[i]);
	}
	assert_int_equal(ms, 7);
	assert_int_equal(clock_parse_iso("2024-02-29T23:59:59.999Z", &ms), ECOM_OK);
	assert_int_equal(ms, 1709251199999LL);
	assert_int_equal(clock_parse_iso("2000-02-29T00:00:00Z", &ms), ECOM_OK);
	assert_int_equal(ms, 951782400000LL);
	/* 1900 is not a leap year */
	assert_int_equal(clock_parse_iso("1900-02-29T00:00:00Z", &ms), ECOM_INVALID);
	/* Fractions: tenths, and nine digits of which the first three count. */
	assert_int_equal(clock_parse_iso("2026-01-01T00:00:00.5Z", &ms), ECOM_OK);
	assert_int_equal(ms, 1767225600500LL);
	assert_int_equal(clock_parse_iso("2026-01-01T00:00:00.123456789Z", &ms), ECOM_OK);
	assert_int_equal(ms, 1767225600123LL);
}

/* ---- broker headers ----------------------------------------------------------------------- */

static void test_broker_msg_header_bound(void **state)
{
	struct broker_header h[BROKER_MAX_HEADERS + 1];
	struct broker_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	for (int i = 0; i <= BROKER_MAX_HEADERS; i++) {
		h[i].key = "k";
		h[i].value = "early";
	}
	h[0].key = NULL; /* a header without a name is skipped */
	h[3].value = "later";
	h[BROKER_MAX_HEADERS].key = "beyond";
	h[BROKER_MAX_HEADERS].value = "x";
	m.headers = h;
	m.n_headers = BROKER_MAX_HEADERS + 1;
	assert_string_equal(broker_msg_header(&m, "k"), "early"); /* the last one wins */
	h[BROKER_MAX_HEADERS - 1].value = "last";
	assert_string_equal(broker_msg_header(&m, "k"), "last");
	/* Only BROKER_MAX_HEADERS are ever looked at. */
	assert_null(broker_msg_header(&m, "beyond"));
	m.n_headers = 0;
	assert_null(broker_msg_header(&m, "k"));
}

/* ---- metrics ------------------------------------------------------------------------------ */

static void test_metrics_unlabeled_histogram(void **state)
{
	static const double b[] = { 0.5, 1 };
	struct metrics *m = metrics_new();
	struct metric *h = metrics_histogram(m, "ecom:rt_seconds", "Latency.", NULL, 0, b, 2);
	char *text;

	(void)state;
	text = metrics_render(m);
	assert_non_null(strstr(text, "# TYPE ecom:rt_seconds histogram\n"
				     "ecom:rt_seconds_bucket{le=\"0.5\"} 0\n"
				     "ecom:rt_seconds_bucket{le=\"1\"} 0\n"
				     "ecom:rt_seconds_bucket{le=\"+Inf\"} 0\n"
				     "ecom:rt_seconds_sum 0\n"
				     "ecom:rt_seconds_count 0\n"));
	free(text);
	metric_observe(h, NULL, 0.25);
	metric_observe(h, NULL, 3);
	assert_true(metric_sum(h, NULL) == 3.25);
	text = metrics_render(m);
	assert_non_null(strstr(text, "ecom:rt_seconds_bucket{le=\"0.5\"} 1\n"
				     "ecom:rt_seconds_bucket{le=\"1\"} 1\n"
				     "ecom:rt_seconds_bucket{le=\"+Inf\"} 2\n"
				     "ecom:rt_seconds_sum 3.25\n"
				     "ecom:rt_seconds_count 2\n"));
	free(text);
	metrics_free(m);
	metrics_free(NULL);
}

/* Label values default to "" (no values at all, or a NULL among them); a histogram's sum of
 * an absent series is 0; names and labels of every allowed character class. */
static void test_metrics_label_defaults_and_names(void **state)
{
	static const char *const lbl[] = { "Service_2", "zone" };
	static const double b[] = { 1 };
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(m, "A_b:c9", "Mixed.", lbl, 2);
	struct metric *h = metrics_histogram(m, "h_seconds", "H.", lbl, 1, b, 1);
	char *text;

	(void)state;
	metric_add(c, NULL, 2);
	metric_add(c, (const char *[]){ "pay", NULL }, 1);
	assert_true(metric_value(c, (const char *[]){ "", "" }) == 2);
	assert_true(metric_value(c, (const char *[]){ "pay", "" }) == 1);
	assert_true(metric_sum(h, (const char *[]){ "none" }) == 0);
	assert_true(metric_value(h, (const char *[]){ "none" }) == 0);
	text = metrics_render(m);
	assert_non_null(strstr(text, "A_b:c9{Service_2=\"\",zone=\"\"} 2\n"));
	assert_non_null(strstr(text, "A_b:c9{Service_2=\"pay\",zone=\"\"} 1\n"));
	free(text);
	metrics_free(m);
}

/* A full gauge and a full histogram refuse new label sets (counted), keep the old ones. */
static void test_metrics_full_families(void **state)
{
	static const char *const lbl[] = { "id" };
	static const double b[] = { 1 };
	struct metrics *m = metrics_new();
	struct metric *g = metrics_gauge(m, "g", "G.", lbl, 1);
	struct metric *h = metrics_histogram(m, "h", "H.", lbl, 1, b, 1);
	struct metric *dropped = metrics_find(m, METRICS_DROPPED_NAME);
	char id[32];

	(void)state;
	for (int i = 0; i < METRICS_SERIES_MAX; i++) {
		snprintf(id, sizeof(id), "%05d", i);
		metric_set(g, (const char *[]){ id }, i);
		metric_observe(h, (const char *[]){ id }, 0.5);
	}
	assert_true(metric_value(dropped, NULL) == 0);
	metric_set(g, (const char *[]){ "new" }, 1);
	metric_observe(h, (const char *[]){ "new" }, 1);
	assert_true(metric_value(dropped, NULL) == 2);
	assert_int_equal(metric_series_count(g), METRICS_SERIES_MAX);
	assert_int_equal(metric_series_count(h), METRICS_SERIES_MAX);
	assert_true(metric_value(g, (const char *[]){ "new" }) == 0);
	metric_set(g, (const char *[]){ "00007" }, -1);
	assert_true(metric_value(g, (const char *[]){ "00007" }) == -1);
	metrics_free(m);
}

static void test_metrics_format_edges(void **state)
{
	char out[32];

	(void)state;
	metrics_format_value(-INFINITY, out);
	assert_string_equal(out, "-Inf");
	metrics_format_value(-2.5, out);
	assert_string_equal(out, "-2.5");
	metrics_format_value(0.1 + 0.2, out); /* needs 17 digits to round-trip */
	assert_true(strtod(out, NULL) == 0.1 + 0.2);
	assert_string_equal(out, "0.30000000000000004");
	metrics_format_value(1e15, out);
	assert_string_equal(out, "1e+15");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope_field_types),
		cmocka_unit_test(test_envelope_without_optional_parts),
		cmocka_unit_test(test_schema_field_kinds),
		cmocka_unit_test(test_money_edges),
		cmocka_unit_test(test_jsonx_reads),
		cmocka_unit_test(test_iso_parse_edges),
		cmocka_unit_test(test_broker_msg_header_bound),
		cmocka_unit_test(test_metrics_unlabeled_histogram),
		cmocka_unit_test(test_metrics_label_defaults_and_names),
		cmocka_unit_test(test_metrics_full_families),
		cmocka_unit_test(test_metrics_format_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
