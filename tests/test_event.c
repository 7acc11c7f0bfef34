/* test_event.c — the envelope and its schemas: every type round-trips byte-stably, every
 * schema rejects bad payloads naming the field, bad envelopes and malformed JSON are refused,
 * money converts exactly, and the jsonx helpers behave as documented. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "event/event.h"
#include "event/jsonx.h"

/* 2026-01-01T00:00:00.123Z */
#define WALL_MS (1767225600000LL + 123)

/* Parses test JSON written with single quotes for readability ({'a':1}); no fixture
 * contains an apostrophe. */
static json_t *js(const char *text)
{
	json_error_t jerr;
	char *dq = strdup(text);
	json_t *j;

	for (char *c = dq; *c; c++)
		if (*c == '\'')
			*c = '"';
	j = json_loads(dq, JSON_DECODE_ANY, &jerr);
	if (!j)
		fail_msg("bad test JSON %s: %s", dq, jerr.text);
	free(dq);
	return j;
}

static void assert_msg_prefix(const struct ecom_err *err, const char *prefix)
{
	if (strncmp(err->msg, prefix, strlen(prefix)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err->msg, prefix);
}

/* ---- per-type fixtures ------------------------------------------------------------ */

struct bad_case {
	const char *payload;
	const char *msg_prefix;
};

struct type_case {
	enum event_type type;
	const char *valid;
	struct bad_case bad[4];
};

static const struct type_case cases[] = {
	{ EV_ORDER_CREATED,
	  "{'orderId':'o-1','items':[{'sku':'SKU-1','qty':2}],'total':20}",
	  { { "{'orderId':'o-1','items':[{'sku':'SKU-1','qty':2},{'sku':'S','qty':0}],"
	      "'total':20}",
	      "payload.items[1].qty: must be a positive integer" },
	    { "{'items':[{'sku':'SKU-1','qty':2}],'total':20}", "payload.orderId: is required" },
	    { "{'orderId':'o-1','items':[{'sku':'SKU-1','qty':2}],'total':19.999}",
	      "payload.total: " },
	    { "{'orderId':'o-1','items':[],'total':0,'attempt':-1}", "payload.items: " } } },
	{ EV_INVENTORY_RESERVED,
	  "{'orderId':'o-1','reservedItems':[{'sku':'SKU-1','qty':2}],'total':19.99,"
	  "'attempt':1}",
	  { { "{'orderId':'o-1','reservedItems':[{'sku':'','qty':2}]}",
	      "payload.reservedItems[0].sku: must be a non-empty string" },
	    { "{'orderId':'o-1','reservedItems':[{'sku':'a','qty':1}],'total':'20'}",
	      "payload.total: " },
	    { "{'orderId':'o-1','reservedItems':[{'sku':'a','qty':1}],'attempt':1.5}",
	      "payload.attempt: must be an integer >= 0" } } },
	{ EV_INVENTORY_FAILED, "{'orderId':'o-1','reason':'out_of_stock'}",
	  { { "{'orderId':'o-1','reason':5}", "payload.reason: must be a string" },
	    { "{'reason':'x'}", "payload.orderId: is required" },
	    { "{'orderId':'o-1','reason':'x','attempt':-1}", "payload.attempt: " } } },
	{ EV_PAYMENT_AUTHORIZED, "{'orderId':'o-1','amount':20,'authId':'auth-1'}",
	  { { "{'orderId':'o-1','amount':-1,'authId':'a'}", "payload.amount: " },
	    { "{'orderId':'o-1','amount':1,'authId':null}", "payload.authId: " } } },
	{ EV_PAYMENT_FAILED, "{'orderId':'o-1','reason':'declined'}",
	  { { "{'orderId':'o-1'}", "payload.reason: is required" },
	    { "{'orderId':'','reason':'x'}", "payload.orderId: must be a non-empty string" } } },
	{ EV_ORDER_SHIPPED, "{'orderId':'o-1','carrier':'UPS','trackingId':'T1'}",
	  { { "{'orderId':'o-1','trackingId':'T1'}", "payload.carrier: is required" },
	    { "{'orderId':'o-1','carrier':'UPS','trackingId':7}", "payload.trackingId: " } } },
	{ EV_SHIPPING_FAILED, "{'orderId':'o-1','reason':'carrier_down'}",
	  { { "{'orderId':'o-1','reason':[]}", "payload.reason: " },
	    { "{'orderId':7,'reason':'x'}", "payload.orderId: " } } },
	{ EV_PAYMENT_REFUNDED, "{'orderId':'o-1','amount':19.99,'refundId':'r-1'}",
	  { { "{'orderId':'o-1','amount':'x','refundId':'r'}", "payload.amount: " },
	    { "{'orderId':'o-1','amount':1}", "payload.refundId: is required" } } },
	{ EV_RETRY_REQUESTED, "{'orderId':'o-1','step':'payment','attempt':2}",
	  { { "{'orderId':'o-1','step':'billing'}",
	      "payload.step: must be one of inventory, payment, shipping" },
	    { "{'orderId':'o-1'}", "payload.step: is required" } } },
	{ EV_COMPENSATION_REQUESTED, "{'orderId':'o-1','action':'refundPayment'}",
	  { { "{'orderId':'o-1','action':'refund'}", "payload.action: must be one of" },
	    { "{'orderId':5,'action':'refundPayment'}", "payload.orderId: " } } },
	{ EV_DEAD_LETTER,
	  "{'originalType':'order.OrderCreated.v1','originalEventId':'e-1','orderId':'o-1',"
	  "'error':'boom','payload':null,'raw':'{'}",
	  { { "{'originalType':'t','originalEventId':'e','payload':{}}",
	      "payload.error: is required" },
	    { "{'originalType':'t','originalEventId':'e','error':'x','raw':5}",
	      "payload.raw: must be a string" },
	    { "{'originalType':'t','originalEventId':'e','error':'x','orderId':null}",
	      "payload.orderId: must be a string" } } },
	{ EV_INVENTORY_RELEASED, "{'orderId':'o-1','releasedItems':[]}",
	  { { "{'orderId':'o-1','releasedItems':{}}", "payload.releasedItems: must be an array" },
	    { "{'orderId':'o-1','releasedItems':[{'sku':'a'}]}",
	      "payload.releasedItems[0].qty: must be a positive integer" },
	    { "{'orderId':'o-1','releasedItems':[7]}",
	      "payload.releasedItems[0]: must be an object" } } },
	{ EV_STOCK_COMMAND, "{'orderId':'o-1','sku':'SKU-1','qty':2,'op':'hold'}",
	  { { "{'orderId':'o-1','sku':'SKU-1','qty':0,'op':'hold'}",
	      "payload.qty: must be a positive integer" },
	    { "{'orderId':'o-1','sku':'SKU-1','qty':1,'op':'take'}",
	      "payload.op: must be one of hold, release, commit" },
	    { "{'orderId':'o-1','qty':1,'op':'hold'}", "payload.sku: is required" } } },
	{ EV_STOCK_RESULT,
	  "{'orderId':'o-1','sku':'SKU-1','qty':0,'op':'release','ok':true,"
	  "'reason':'absent'}",
	  { { "{'orderId':'o-1','sku':'S','qty':1,'op':'hold','ok':'yes'}",
	      "payload.ok: must be a boolean" },
	    { "{'orderId':'o-1','sku':'S','qty':-1,'op':'hold','ok':false}",
	      "payload.qty: must be an integer >= 0" },
	    { "{'orderId':'o-1','sku':'S','qty':1,'op':'hold','ok':false,'reason':1}",
	      "payload.reason: " } } },
	{ EV_ORDER_STATUS_CHANGED,
	  "{'orderId':'o-1','status':'SHIPPED','seq':3,'attempt':0}",
	  { { "{'orderId':'o-1','status':'SHIPPED','seq':0}",
	      "payload.seq: must be a positive integer" },
	    { "{'orderId':'o-1','status':'','seq':1}", "payload.status: " } } },
	{ EV_STEP_TIMEOUT, "{'orderId':'o-1','step':'shipping','attempt':2}",
	  { { "{'orderId':'o-1','step':'shipping'}", "payload.attempt: is required" },
	    { "{'orderId':'o-1','step':'x','attempt':0}", "payload.step: " } } },
};

static void build(struct envelope *e, uint64_t seed, const struct type_case *c)
{
	struct rng r;
	int i = (int)c->type;

	rng_seed(&r, seed);
	envelope_init(e, &r, WALL_MS, c->type, i == EV_STOCK_COMMAND ? "SKU-1" : "o-1",
		      js(c->valid), i % 2 ? "corr-1" : NULL, i % 3 ? "cause-1" : NULL);
	jsonx_set_str(e->headers, "source", "test");
	jsonx_set_int(e->headers, "n", i);
}

static void assert_same_envelope(const struct envelope *a, const struct envelope *b)
{
	assert_string_equal(a->event_id, b->event_id);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->timestamp_ms, b->timestamp_ms);
	assert_string_equal(a->correlation_id, b->correlation_id);
	if (a->causation_id || b->causation_id) {
		assert_non_null(a->causation_id);
		assert_non_null(b->causation_id);
		assert_string_equal(a->causation_id, b->causation_id);
	}
	assert_string_equal(a->key, b->key);
	assert_true(json_equal(a->payload, b->payload));
	assert_true(json_equal(a->headers, b->headers));
}

static void test_cases_cover_every_type(void **state)
{
	int seen[EV__COUNT] = { 0 };

	for (size_t i = 0; i < ECOM_ARRAY_LEN(cases); i++) {
		assert_int_equal(seen[cases[i].type], 0);
		seen[cases[i].type] = 1;
		assert_non_null(cases[i].bad[0].payload);
		assert_non_null(cases[i].bad[1].payload);
	}
	for (int t = 0; t < EV__COUNT; t++)
		assert_int_equal(seen[t], 1);
}

static void test_round_trip_every_type(void **state)
{
	for (size_t i = 0; i < ECOM_ARRAY_LEN(cases); i++) {
		struct envelope e, back, again;
		struct ecom_err err;
		char *s1, *s2, *s3;

		build(&e, 42 + i, &cases[i]);
		build(&again, 42 + i, &cases[i]);
		assert_int_equal(e.version, 1);
		assert_int_equal(e.timestamp_ms, WALL_MS);
		assert_int_equal(strlen(e.event_id), 36);
		if (cases[i].type % 2 == 0)
			assert_string_equal(e.correlation_id, e.event_id);
		else
			assert_string_equal(e.correlation_id, "corr-1");
		assert_true(cases[i].type % 3 ? e.causation_id != NULL : e.causation_id == NULL);

		s1 = envelope_serialize(&e);
		s2 = envelope_serialize(&again);
		assert_string_equal(s1, s2); /* same inputs, same bytes */
		assert_int_equal(envelope_parse(s1, strlen(s1), &back, &err), ECOM_OK);
		assert_same_envelope(&e, &back);
		s3 = envelope_serialize(&back);
		assert_string_equal(s1, s3); /* parse + serialize is the identity on our output */
		assert_non_null(strstr(s1, "\"timestamp\":\"2026-01-01T00:00:00.123Z\""));
		assert_true((strstr(s1, "\"causationId\"") != NULL) == (e.causation_id != NULL));
		free(s1);
		free(s2);
		free(s3);
		envelope_deinit(&e);
		envelope_deinit(&again);
		envelope_deinit(&back);
	}
}

static void test_golden_order_created(void **state)
{
	static const char golden[] =
		"{\"eventId\":\"b358faf7-4ef9-465a-875c-3d964f482cd2\","
		"\"type\":\"order.OrderCreated.v1\",\"version\":1,"
		"\"timestamp\":\"2026-01-01T00:00:00.123Z\","
		"\"correlationId\":\"b358faf7-4ef9-465a-875c-3d964f482cd2\","
		"\"key\":\"o-1\",\"payload\":{\"orderId\":\"o-1\",\"items\":[{\"sku\":\"SKU-1\","
		"\"qty\":2}],\"total\":19.99},\"headers\":{}}";
	struct envelope e;
	struct rng r;
	json_t *p = json_object();
	json_t *items = js("[{\"sku\":\"SKU-1\",\"qty\":2}]");
	char *s;

	jsonx_set_str(p, "orderId", "o-1");
	jsonx_set_new(p, "items", items);
	jsonx_set_new(p, "total", money_to_json(1999));
	rng_seed(&r, 7);
	envelope_init(&e, &r, WALL_MS, EV_ORDER_CREATED, "o-1", p, NULL, NULL);
	s = envelope_serialize(&e);
	assert_string_equal(s, golden);
	free(s);
	envelope_deinit(&e);
}

static void test_causation_and_headers_wire_forms(void **state)
{
	static const char base[] =
		"{\"eventId\":\"e-1\",\"type\":\"payment.PaymentFailed.v1\",\"version\":1,"
		"\"timestamp\":\"2026-01-01T00:00:00Z\",\"correlationId\":\"c-1\",%s"
		"\"key\":\"o-1\",\"payload\":{\"orderId\":\"o-1\",\"reason\":\"declined\","
		"\"extra\":{\"future\":true}}%s}";
	char buf[512];
	struct envelope e;
	struct ecom_err err;
	char *s;

	/* causationId null, headers absent: accepted; headers default to {} */
	snprintf(buf, sizeof(buf), base, "\"causationId\":null,", "");
	assert_int_equal(envelope_parse(buf, strlen(buf), &e, &err), ECOM_OK);
	assert_null(e.causation_id);
	assert_true(json_is_object(e.headers));
	assert_int_equal(json_object_size(e.headers), 0);
	assert_int_equal(e.timestamp_ms, 1767225600000LL);
	/* an unknown payload field survives (additive evolution) */
	assert_non_null(json_object_get(e.payload, "extra"));
	s = envelope_serialize(&e);
	assert_null(strstr(s, "causationId"));
	assert_non_null(strstr(s, "\"headers\":{}"));
	free(s);
	envelope_deinit(&e);

	/* headers of every allowed kind, causation present */
	snprintf(buf, sizeof(buf), base, "\"causationId\":\"x-1\",",
		 ",\"headers\":{\"a\":\"s\",\"b\":1,\"c\":2.5,\"d\":false}");
	assert_int_equal(envelope_parse(buf, strlen(buf), &e, &err), ECOM_OK);
	assert_string_equal(e.causation_id, "x-1");
	assert_int_equal(json_object_size(e.headers), 4);
	s = envelope_serialize(&e);
	assert_non_null(strstr(s, "\"correlationId\":\"c-1\",\"causationId\":\"x-1\",\"key\""));
	assert_non_null(strstr(s, "\"headers\":{\"a\":\"s\",\"b\":1,\"c\":2.5,\"d\":false}"));
	free(s);
	envelope_deinit(&e);
}

static void test_invalid_payloads(void **state)
{
	for (size_t i = 0; i < ECOM_ARRAY_LEN(cases); i++) {
		const struct type_case *c = &cases[i];
		json_t *valid = js(c->valid);
		struct ecom_err err;

		assert_int_equal(event_validate_payload(c->type, valid, &err), ECOM_OK);
		/* extra fields are always allowed */
		jsonx_set_str(valid, "zz_future_field", "x");
		assert_int_equal(event_validate_payload(c->type, valid, &err), ECOM_OK);
		json_decref(valid);

		for (size_t k = 0; k < ECOM_ARRAY_LEN(c->bad) && c->bad[k].payload; k++) {
			json_t *bad = js(c->bad[k].payload);
			json_t *env;
			struct envelope e;

			ecom_err_clear(&err);
			assert_int_equal(event_validate_payload(c->type, bad, &err), ECOM_INVALID);
			assert_int_equal(err.rc, ECOM_INVALID);
			assert_msg_prefix(&err, c->bad[k].msg_prefix);

			/* the same payload inside an envelope is refused the same way */
			env = json_object();
			jsonx_set_str(env, "eventId", "e-1");
			jsonx_set_str(env, "type", event_type_name(c->type));
			jsonx_set_int(env, "version", 1);
			jsonx_set_str(env, "timestamp", "2026-01-01T00:00:00.000Z");
			jsonx_set_str(env, "correlationId", "c-1");
			jsonx_set_str(env, "key", "o-1");
			jsonx_set_new(env, "payload", bad);
			ecom_err_clear(&err);
			memset(&e, 0xab, sizeof(e));
			assert_int_equal(envelope_from_json(env, &e, &err), ECOM_INVALID);
			assert_msg_prefix(&err, c->bad[k].msg_prefix);
			assert_null(e.event_id);
			assert_null(e.payload);
			json_decref(env);
		}
	}
}

static void test_items_bound(void **state)
{
	json_t *p = js("{'orderId':'o-1','total':1}");
	json_t *items = json_array();
	struct ecom_err err;

	for (int i = 0; i < 1000; i++)
		json_array_append_new(items, js("{'sku':'S','qty':1}"));
	jsonx_set_new(p, "items", items);
	assert_int_equal(event_validate_payload(EV_ORDER_CREATED, p, &err), ECOM_OK);
	json_array_append_new(items, js("{'sku':'S','qty':1}"));
	assert_int_equal(event_validate_payload(EV_ORDER_CREATED, p, &err), ECOM_INVALID);
	assert_msg_prefix(&err, "payload.items: more than 1000 items");
	json_decref(p);
}

/* A valid envelope as a JSON object, to be broken one field at a time. */
static json_t *valid_env(void)
{
	return js("{'eventId':'e-1','type':'order.OrderCreated.v1','version':1,"
		  "'timestamp':'2026-01-01T00:00:00.000Z','correlationId':'c-1',"
		  "'causationId':'x-1','key':'o-1','payload':{'orderId':'o-1',"
		  "'items':[{'sku':'SKU-1','qty':1}],'total':10},'headers':{}}");
}

static void expect_bad_env(json_t *env, const char *prefix)
{
	struct envelope e;
	struct ecom_err err;
	char *s = jsonx_dumps(env);

	ecom_err_clear(&err);
	assert_int_equal(envelope_parse(s, strlen(s), &e, &err), ECOM_INVALID);
	assert_int_equal(err.rc, ECOM_INVALID);
	assert_msg_prefix(&err, prefix);
	assert_null(e.event_id);
	assert_null(e.key);
	assert_null(e.payload);
	assert_null(e.headers);
	free(s);
	json_decref(env);
}

static void test_bad_envelope_fields(void **state)
{
	json_t *env;
	char long_id[130];
	struct envelope e;
	struct ecom_err err;

	env = valid_env();
	assert_int_equal(envelope_from_json(env, &e, &err), ECOM_OK);
	envelope_deinit(&e);
	json_decref(env);

	env = valid_env();
	json_object_del(env, "eventId");
	expect_bad_env(env, "eventId: is required");
	env = valid_env();
	jsonx_set_str(env, "eventId", "");
	expect_bad_env(env, "eventId: must be a non-empty string");
	memset(long_id, 'a', 129);
	long_id[129] = '\0';
	env = valid_env();
	jsonx_set_str(env, "eventId", long_id);
	expect_bad_env(env, "eventId: longer than 128 bytes");
	long_id[128] = '\0'; /* exactly 128 is fine */
	env = valid_env();
	jsonx_set_str(env, "eventId", long_id);
	assert_int_equal(envelope_from_json(env, &e, &err), ECOM_OK);
	assert_int_equal(strlen(e.event_id), 128);
	envelope_deinit(&e);
	json_decref(env);

	env = valid_env();
	jsonx_set_int(env, "version", 2);
	expect_bad_env(env, "version: must be the integer 1");
	env = valid_env();
	jsonx_set_str(env, "version", "1");
	expect_bad_env(env, "version: ");
	env = valid_env();
	json_object_del(env, "version");
	expect_bad_env(env, "version: ");

	env = valid_env();
	jsonx_set_str(env, "timestamp", "yesterday");
	expect_bad_env(env, "timestamp: ");
	env = valid_env();
	jsonx_set_str(env, "timestamp", "2026-01-01T00:00:00.000");
	expect_bad_env(env, "timestamp: ");
	env = valid_env();
	jsonx_set_int(env, "timestamp", 1767225600000LL);
	expect_bad_env(env, "timestamp: ");

	env = valid_env();
	jsonx_set_new(env, "headers", js("{\"ok\":\"v\",\"nested\":{\"a\":1}}"));
	expect_bad_env(env, "headers.nested: must be a string, number or boolean");
	env = valid_env();
	jsonx_set_new(env, "headers", js("[]"));
	expect_bad_env(env, "headers: must be an object");

	env = valid_env();
	jsonx_set_int(env, "causationId", 5);
	expect_bad_env(env, "causationId: ");
	env = valid_env();
	json_object_del(env, "key");
	expect_bad_env(env, "key: is required");
	env = valid_env();
	jsonx_set_str(env, "correlationId", "");
	expect_bad_env(env, "correlationId: must be a non-empty string");
	env = valid_env();
	json_object_del(env, "payload");
	expect_bad_env(env, "payload: is required");
	env = valid_env();
	jsonx_set_new(env, "payload", js("[1]"));
	expect_bad_env(env, "payload: must be an object");
	env = valid_env();
	json_object_del(env, "type");
	expect_bad_env(env, "type: is required");
	env = valid_env();
	jsonx_set_str(env, "type", "order.OrderCreated.v2");
	expect_bad_env(env, "type: unknown event type \"order.OrderCreated.v2\"");
	expect_bad_env(js("[1,2]"), "envelope: must be a JSON object");
}

static void test_malformed_json(void **state)
{
	static const char *const inputs[] = {
		"", "{", "{\"eventId\":", "not json", "{} trailing",
		"{\"eventId\":\"a\",\"eventId\":\"b\"}", /* duplicate keys */
	};
	struct envelope e;
	struct ecom_err err;

	for (size_t i = 0; i < ECOM_ARRAY_LEN(inputs); i++) {
		ecom_err_clear(&err);
		assert_int_equal(envelope_parse(inputs[i], strlen(inputs[i]), &e, &err),
				 ECOM_INVALID);
		assert_msg_prefix(&err, "malformed JSON");
		assert_null(e.event_id);
	}
	/* len is honoured: a valid prefix of a longer buffer parses */
	{
		json_t *env = valid_env();
		char *s = jsonx_dumps(env);
		size_t n = strlen(s);
		char *buf = malloc(n + 8);

		memcpy(buf, s, n);
		memcpy(buf + n, "garbage", 8);
		assert_int_equal(envelope_parse(buf, n, &e, &err), ECOM_OK);
		assert_string_equal(e.event_id, "e-1");
		envelope_deinit(&e);
		assert_int_equal(envelope_parse(buf, n + 3, &e, &err), ECOM_INVALID);
		free(buf);
		free(s);
		json_decref(env);
	}
}

/* ---- money ------------------------------------------------------------------------ */

static void test_money_round_trip(void **state)
{
	static const struct {
		int64_t cents;
		const char *text;
	} m[] = {
		{ 0, "0" }, { 1, "0.01" }, { 99, "0.99" }, { 100, "1" }, { 1999, "19.99" },
		{ 2000, "20" }, { 123456789, "1234567.89" }, { 10, "0.1" },
		{ 9999999999999LL, "99999999999.99" },
	};

	for (size_t i = 0; i < ECOM_ARRAY_LEN(m); i++) {
		json_t *v = money_to_json(m[i].cents);
		json_t *back;
		char *s = jsonx_dumps(v);
		int64_t cents = -1;

		assert_string_equal(s, m[i].text);
		assert_true(m[i].cents % 100 == 0 ? json_is_integer(v) : json_is_real(v));
		assert_int_equal(money_from_json(v, &cents), ECOM_OK);
		assert_int_equal(cents, m[i].cents);
		/* and through the wire text */
		back = js(s);
		cents = -1;
		assert_int_equal(money_from_json(back, &cents), ECOM_OK);
		assert_int_equal(cents, m[i].cents);
		json_decref(back);
		json_decref(v);
		free(s);
	}
}

static void test_money_rejects(void **state)
{
	static const char *const bad[] = {
		"19.999", "19.99001", "1.000001", "-1", "-0.5", "\"20\"", "null", "true", "[]", "0.001",
		"100000000001", "1e14", "{}",
	};
	static const struct {
		const char *text;
		int64_t cents;
	} good[] = {
		{ "20.0", 2000 }, { "0.30000000000000004", 30 }, { "1e2", 10000 }, { "-0.0", 0 },
		{ "19.990000000001", 1999 },
	};

	for (size_t i = 0; i < ECOM_ARRAY_LEN(bad); i++) {
		json_t *v = js(bad[i]);
		int64_t cents = 77;

		if (money_from_json(v, &cents) != ECOM_INVALID)
			fail_msg("money_from_json accepted %s", bad[i]);
		assert_int_equal(cents, 77);
		json_decref(v);
	}
	assert_int_equal(money_from_json(NULL, &(int64_t){ 0 }), ECOM_INVALID);
	for (size_t i = 0; i < ECOM_ARRAY_LEN(good); i++) {
		json_t *v = js(good[i].text);
		int64_t cents = -1;

		assert_int_equal(money_from_json(v, &cents), ECOM_OK);
		assert_int_equal(cents, good[i].cents);
		json_decref(v);
	}
}

/* ---- names, topics, copies -------------------------------------------------------- */

static void test_type_names(void **state)
{
	enum event_type t;

	for (int i = 0; i < EV__COUNT; i++) {
		const char *name = event_type_name((enum event_type)i);

		assert_non_null(name);
		assert_int_equal(event_type_from_name(name, &t), ECOM_OK);
		assert_int_equal(t, i);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(name, event_type_name((enum event_type)j));
	}
	assert_string_equal(event_type_name(EV_ORDER_CREATED), "order.OrderCreated.v1");
	assert_string_equal(event_type_name(EV_DEAD_LETTER), "ops.DeadLetter.v1");
	assert_string_equal(event_type_name(EV_STEP_TIMEOUT), "ops.StepTimeout.v1");
	assert_int_equal(event_type_from_name("order.OrderCreated.v2", &t), ECOM_NOT_FOUND);
	assert_int_equal(event_type_from_name("", &t), ECOM_NOT_FOUND);
}

static void test_dlq_topic(void **state)
{
	char out[64];
	char tight[sizeof("ops.DeadLetter.v1.dlq")];

	event_dlq_topic("order.OrderCreated.v1", out, sizeof(out));
	assert_string_equal(out, "order.OrderCreated.v1.dlq");
	event_dlq_topic(event_type_name(EV_DEAD_LETTER), tight, sizeof(tight));
	assert_string_equal(tight, "ops.DeadLetter.v1.dlq");
}

static void test_copy_is_independent(void **state)
{
	struct envelope src, dst;
	json_t *j;
	char *before, *after;

	build(&src, 3, &cases[EV_ORDER_CREATED]);
	envelope_copy(&dst, &src);
	assert_same_envelope(&src, &dst);
	assert_ptr_not_equal(dst.payload, src.payload);
	assert_ptr_not_equal(dst.event_id, src.event_id);
	before = envelope_serialize(&dst);

	jsonx_set_str(src.payload, "orderId", "changed");
	json_array_clear(json_object_get(src.payload, "items"));
	jsonx_set_str(src.headers, "source", "changed");
	src.event_id[0] = 'X';
	envelope_deinit(&src);

	after = envelope_serialize(&dst);
	assert_string_equal(before, after);
	assert_string_equal(jsonx_str(dst.payload, "orderId"), "o-1");

	/* envelope_to_json hands out a value the caller may change freely */
	j = envelope_to_json(&dst);
	jsonx_set_str(json_object_get(j, "payload"), "orderId", "mutated");
	jsonx_set_str(json_object_get(j, "headers"), "source", "mutated");
	json_decref(j);
	free(after);
	after = envelope_serialize(&dst);
	assert_string_equal(before, after);

	free(before);
	free(after);
	envelope_deinit(&dst);
}

/* ---- jsonx ------------------------------------------------------------------------ */

static void test_jsonx_reads(void **state)
{
	json_t *o = js("{\"s\":\"str\",\"i\":42,\"r\":2.0,\"b\":true,\"n\":null,\"neg\":-7}");
	int64_t v = 99;

	assert_string_equal(jsonx_str(o, "s"), "str");
	assert_null(jsonx_str(o, "i"));
	assert_null(jsonx_str(o, "missing"));
	assert_null(jsonx_str(NULL, "s"));
	assert_string_equal(jsonx_str_or(o, "i", "dflt"), "dflt");

	assert_int_equal(jsonx_int(o, "i", &v), ECOM_OK);
	assert_int_equal(v, 42);
	v = 99;
	assert_int_equal(jsonx_int(o, "missing", &v), ECOM_NOT_FOUND);
	assert_int_equal(jsonx_int(o, "r", &v), ECOM_INVALID);
	assert_int_equal(jsonx_int(o, "n", &v), ECOM_INVALID);
	assert_int_equal(jsonx_int(o, "s", &v), ECOM_INVALID);
	assert_int_equal(v, 99);
	assert_int_equal(jsonx_int_or(o, "neg", 5), -7);
	assert_int_equal(jsonx_int_or(o, "s", 5), 5);
	assert_int_equal(jsonx_int_or(o, "missing", 5), 5);

	assert_int_equal(jsonx_bool_or(o, "b", 0), 1);
	assert_int_equal(jsonx_bool_or(o, "i", 0), 0);
	assert_int_equal(jsonx_bool_or(o, "missing", 1), 1);
	json_decref(o);
}

static void test_jsonx_writes_and_hash(void **state)
{
	json_t *o = json_object();
	json_t *a = js("{\"a\":1,\"b\":[1,2,{\"x\":\"y\",\"w\":2}]}");
	json_t *b = js("{\"b\":[1,2,{\"w\":2,\"x\":\"y\"}],\"a\":1}");
	json_t *c = js("{\"a\":1,\"b\":[1,2,{\"x\":\"y\",\"w\":3}]}");
	json_t *scalar = json_string("hi");
	struct ecom_err err;
	json_t *l;
	char *s;

	jsonx_set_str(o, "s", "v");
	jsonx_set_int(o, "i", -3);
	jsonx_set_bool(o, "b", 1);
	jsonx_set_str(o, "n", NULL);
	jsonx_set_new(o, "m", money_to_json(1999));
	jsonx_set_int(o, "s", 1); /* replaces, keeps position */
	s = jsonx_dumps(o);
	assert_string_equal(s, "{\"s\":1,\"i\":-3,\"b\":true,\"n\":null,\"m\":19.99}");
	free(s);
	s = jsonx_dumps(scalar);
	assert_string_equal(s, "\"hi\"");
	free(s);

	/* known FNV-1a 64 vectors */
	assert_true(jsonx_fnv1a(JSONX_FNV_OFFSET, "", 0) == 0xcbf29ce484222325ULL);
	assert_true(jsonx_fnv1a(JSONX_FNV_OFFSET, "a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(jsonx_hash(a) == jsonx_hash(b)); /* key order does not matter */
	assert_true(jsonx_hash(a) != jsonx_hash(c));
	assert_true(jsonx_hash(scalar) == jsonx_fnv1a(JSONX_FNV_OFFSET, "\"hi\"", 4));

	l = jsonx_loads("[1, 2]", 6, &err);
	assert_non_null(l);
	assert_int_equal(json_array_size(l), 2);
	json_decref(l);
	ecom_err_clear(&err);
	assert_null(jsonx_loads("[1,", 3, &err));
	assert_int_equal(err.rc, ECOM_INVALID);
	assert_msg_prefix(&err, "malformed JSON at 1:");

	json_decref(o);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(scalar);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases_cover_every_type),
		cmocka_unit_test(test_round_trip_every_type),
		cmocka_unit_test(test_golden_order_created),
		cmocka_unit_test(test_causation_and_headers_wire_forms),
		cmocka_unit_test(test_invalid_payloads),
		cmocka_unit_test(test_items_bound),
		cmocka_unit_test(test_bad_envelope_fields),
		cmocka_unit_test(test_malformed_json),
		cmocka_unit_test(test_money_round_trip),
		cmocka_unit_test(test_money_rejects),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_dlq_topic),
		cmocka_unit_test(test_copy_is_independent),
		cmocka_unit_test(test_jsonx_reads),
		cmocka_unit_test(test_jsonx_writes_and_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
