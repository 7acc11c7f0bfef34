/* test_runtime.c — the service runtime with a toy handler: duplicate delivery applies once,
 * CONFLICT and AMBIGUOUS commits re-run on a fresh read, poison lands in the DLQ with its
 * headers, transient failures back off and finally dead-letter, a crash between commit
 * and publish is healed by the sweep, timers fire once, and API commands commit or write
 * nothing. */
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
#include "support/harness.h"

/* ---- a store wrapper that fails chosen writes ------------------------------------- */

struct flaky_store {
	struct store base;
	struct store *inner;
	int fail_writes;    /* fail this many writes ... */
	int fail_rc;        /* ... with this code */
	int apply_anyway;   /* AMBIGUOUS: apply, then report failure */
	int conflict_bump;  /* CONFLICT: bump the stored version behind the caller's back */
	int writes;
};

static int fl_get(struct store *s, const char *c, const char *id, json_t **out,
		  struct ecom_err *e)
{
	return store_get(((struct flaky_store *)s)->inner, c, id, out, e);
}

static int fl_fail(struct flaky_store *f, int applied_rc)
{
	(void)applied_rc;
	f->fail_writes--;
	return f->fail_rc;
}

static int fl_insert(struct store *s, const char *c, json_t *doc, struct ecom_err *e)
{
	struct flaky_store *f = (struct flaky_store *)s;

	f->writes++;
	if (f->fail_writes > 0) {
		if (f->apply_anyway)
			store_insert(f->inner, c, doc, e);
		return fl_fail(f, 0);
	}
	return store_insert(f->inner, c, doc, e);
}

static int fl_replace(struct store *s, const char *c, json_t *doc, int64_t v, struct ecom_err *e)
{
	struct flaky_store *f = (struct flaky_store *)s;

	f->writes++;
	if (f->fail_writes > 0) {
		if (f->apply_anyway)
			store_replace(f->inner, c, doc, v, e);
		if (f->conflict_bump) {
			/* Someone else committed first: bump the stored version. */
			json_t *cur = NULL;

			store_get(f->inner, c, json_string_value(json_object_get(doc, "_id")), &cur,
				  NULL);
			json_object_set_new(cur, "version", json_integer(v + 1));
			store_replace(f->inner, c, cur, v, NULL);
			json_decref(cur);
		}
		return fl_fail(f, 0);
	}
	return store_replace(f->inner, c, doc, v, e);
}

static int fl_find(struct store *s, const char *c, const struct store_query *q, json_t **out,
		   struct ecom_err *e)
{
	return store_find(((struct flaky_store *)s)->inner, c, q, out, e);
}

static int fl_remove(struct store *s, const char *c, const char *id, struct ecom_err *e)
{
	return store_remove(((struct flaky_store *)s)->inner, c, id, e);
}

static void fl_destroy(struct store *s)
{
	(void)s; /* the inner store belongs to the harness; the wrapper is static */
}

static const struct store_ops flaky_ops = {
	.name = "flaky",
	.get = fl_get,
	.insert = fl_insert,
	.replace = fl_replace,
	.find = fl_find,
	.remove = fl_remove,
	.destroy = fl_destroy,
};

/* ---- the toy service: counts OrderCreated per order, emits InventoryReserved ------- */

static const enum event_type toy_types[] = {EV_ORDER_CREATED};
static const char *const toy_colls[] = {"counters"};

struct toy {
	int calls;
	int fail_transient; /* return UNAVAILABLE this many times */
	int fail_invalid;
	int arm_timer_us;
	int wakes;
};

static int toy_route(void *svc, const struct envelope *ev, struct svc_route *out)
{
	const char *id = jsonx_str(ev->payload, "orderId");

	(void)svc;
	if (strcmp(id, "ignore-me") == 0)
		return ECOM_NOT_FOUND;
	out->collection = "counters";
	snprintf(out->id, sizeof(out->id), "%s", id);
	return ECOM_OK;
}

static int toy_handle(void *svc, struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	struct toy *t = svc;
	json_t *p;

	t->calls++;
	if (t->fail_transient > 0) {
		t->fail_transient--;
		return svc_fail(ctx, ECOM_UNAVAILABLE, "gateway timeout");
	}
	if (t->fail_invalid)
		return svc_fail(ctx, ECOM_INVALID, "payload.items: cannot reserve nothing");
	if (!*state)
		*state = json_object();
	jsonx_set_int(*state, "count", jsonx_int_or(*state, "count", 0) + 1);
	p = json_pack("{s:s, s:[{s:s, s:i}], s:i}", "orderId", jsonx_str(ev->payload, "orderId"),
		      "reservedItems", "sku", "SKU-1", "qty", 1, "total", 1);
	svc_emit(ctx, EV_INVENTORY_RESERVED, ev->key, p);
	if (t->arm_timer_us)
		svc_set_wake(ctx, svc_now_us(ctx) + t->arm_timer_us);
	return ECOM_OK;
}

static int toy_wake(void *svc, struct svc_ctx *ctx, const char *coll, const char *id,
		    json_t **state)
{
	struct toy *t = svc;

	(void)coll;
	(void)id;
	t->wakes++;
	jsonx_set_int(*state, "woken", 1);
	svc_emit(ctx, EV_ORDER_SHIPPED, jsonx_str(*state, "orderId") ? "x" : id,
		 json_pack("{s:s, s:s, s:s}", "orderId", id, "carrier", "UPS", "trackingId", "t"));
	return ECOM_OK;
}

static const struct svc_def toy_def = {
	.name = "toy",
	.types = toy_types,
	.n_types = 1,
	.collections = toy_colls,
	.n_collections = 1,
	.route = toy_route,
	.handle = toy_handle,
	.wake = toy_wake,
};

struct fixture {
	struct harness *h;
	struct toy toy;
	struct flaky_store flaky;
	struct runtime *rt;
	struct broker *client;
};

static struct envelope make_order(struct harness *h, const char *order_id)
{
	struct envelope e;
	json_t *p = json_pack("{s:s, s:[{s:s, s:i}], s:i}", "orderId", order_id, "items", "sku",
			      "SKU-1", "qty", 1, "total", 10);

	envelope_init(&e, harness_rng(h), 1767225600000LL, EV_ORDER_CREATED, order_id, p, NULL,
		      NULL);
	return e;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->h = harness_new(7, 3);
	f->flaky.base.ops = &flaky_ops;
	f->flaky.inner = harness_store(f->h, "toy");
	*state = f;
	return 0;
}

/* Builds the runtime over the flaky store directly (the harness would use the plain one). */
static void start_toy(struct fixture *f, uint32_t bugs)
{
	struct runtime_config cfg = {.instance = "toy#1", .bugs = bugs, .max_attempts = 5};

	f->client = mem_broker_new(harness_cluster(f->h), "toy#1");
	f->rt = runtime_new(&toy_def, &f->toy, f->client, &f->flaky.base,
			    &harness_clock(f->h)->base, harness_rng(f->h), &cfg);
	assert_int_equal(runtime_start(f->rt, NULL), ECOM_OK);
}

/* Runs the toy runtime alone until idle with nothing pending, or max_us passes. */
static void run(struct fixture *f, int64_t max_us)
{
	struct manual_clock *c = harness_clock(f->h);
	int64_t end = c->now_us + max_us, next;

	for (long steps = 0; c->now_us < end && steps < 100000; steps++) {
		if (runtime_step(f->rt, &next)) {
			c->now_us += 100;
			continue;
		}
		c->now_us = next > c->now_us && next < end ? next : end;
	}
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	runtime_free(f->rt);
	broker_destroy(f->client);
	harness_free(f->h);
	free(f);
	return 0;
}

static json_t *get_doc(struct fixture *f, const char *id)
{
	json_t *doc = NULL;

	store_get(f->flaky.inner, "counters", id, &doc, NULL);
	return doc;
}

static void test_happy_and_duplicate_once(void **state)
{
	struct fixture *f = *state;
	struct envelope e = make_order(f->h, "o-1");
	json_t *doc;

	start_toy(f, 0);
	assert_int_equal(harness_publish(f->h, &e, NULL), ECOM_OK);
	assert_int_equal(harness_publish(f->h, &e, NULL), ECOM_OK); /* duplicate delivery */
	run(f, 3000000);
	doc = get_doc(f, "o-1");
	assert_non_null(doc);
	assert_int_equal(jsonx_int_or(doc, "count", -1), 1);
	assert_int_equal(jsonx_int_or(doc, "outbox_n", -1), 0);
	assert_int_equal(json_array_size(json_object_get(doc, "inbox")), 1);
	assert_int_equal(harness_count_for_order(f->h, EV_INVENTORY_RESERVED, "o-1"), 1);
	assert_int_equal(mem_cluster_group_lag(harness_cluster(f->h), "toy-service-group"), 0);
	json_decref(doc);
	envelope_deinit(&e);
}

static void test_skip_dedup_bug_applies_twice(void **state)
{
	struct fixture *f = *state;
	struct envelope e = make_order(f->h, "o-2");
	json_t *doc;

	start_toy(f, BUG_SKIP_INBOX_DEDUP);
	harness_publish(f->h, &e, NULL);
	harness_publish(f->h, &e, NULL);
	run(f, 3000000);
	doc = get_doc(f, "o-2");
	assert_int_equal(jsonx_int_or(doc, "count", -1), 2);
	assert_int_equal(harness_count_for_order(f->h, EV_INVENTORY_RESERVED, "o-2"), 2);
	json_decref(doc);
	envelope_deinit(&e);
}

static void test_conflict_reruns_handler(void **state)
{
	struct fixture *f = *state;
	struct envelope e1 = make_order(f->h, "o-3"), e2 = make_order(f->h, "o-3");
	json_t *doc;

	start_toy(f, 0);
	harness_publish(f->h, &e1, NULL);
	run(f, 3000000);
	f->flaky.fail_writes = 1;
	f->flaky.fail_rc = ECOM_CONFLICT;
	f->flaky.conflict_bump = 1;
	f->toy.calls = 0;
	harness_publish(f->h, &e2, NULL);
	run(f, 3000000);
	doc = get_doc(f, "o-3");
	assert_int_equal(f->toy.calls, 2); /* ran, lost the race, ran again on a fresh read */
	assert_int_equal(jsonx_int_or(doc, "count", -1), 2);
	assert_int_equal(harness_count_for_order(f->h, EV_INVENTORY_RESERVED, "o-3"), 2);
	json_decref(doc);
	envelope_deinit(&e1);
	envelope_deinit(&e2);
}

static void test_ambiguous_commit_applies_once(void **state)
{
	struct fixture *f = *state;
	struct envelope e = make_order(f->h, "o-4");
	json_t *doc;

	start_toy(f, 0);
	f->flaky.fail_writes = 1;
	f->flaky.fail_rc = ECOM_AMBIGUOUS;
	f->flaky.apply_anyway = 1;
	harness_publish(f->h, &e, NULL);
	run(f, 3000000);
	doc = get_doc(f, "o-4");
	assert_int_equal(jsonx_int_or(doc, "count", -1), 1);
	assert_int_equal(harness_count_for_order(f->h, EV_INVENTORY_RESERVED, "o-4"), 1);
	assert_int_equal(jsonx_int_or(doc, "outbox_n", -1), 0);
	json_decref(doc);
	envelope_deinit(&e);
}

static void assert_dlq(struct fixture *f, const char *want_error_substr, const char *raw)
{
	struct broker_msg m;
	struct envelope dl;
	const char *err;

	assert_int_equal(harness_topic_count(f->h, "order.OrderCreated.v1.dlq"), 1);
	assert_int_equal(harness_topic_get(f->h, "order.OrderCreated.v1.dlq", 0, &dl), ECOM_OK);
	assert_int_equal(dl.type, EV_DEAD_LETTER);
	err = jsonx_str(dl.payload, "error");
	assert_non_null(err);
	assert_non_null(strstr(err, want_error_substr));
	assert_string_equal(jsonx_str(dl.headers, RT_HDR_ORIGINAL_TOPIC), "order.OrderCreated.v1");
	assert_non_null(jsonx_str(dl.headers, RT_HDR_ORIGINAL_PARTITION));
	assert_non_null(jsonx_str(dl.headers, RT_HDR_ORIGINAL_OFFSET));
	assert_non_null(jsonx_str(dl.headers, RT_HDR_ATTEMPTS));
	assert_non_null(jsonx_str(dl.headers, RT_HDR_FIRST_FAILURE));
	assert_non_null(jsonx_str(dl.headers, RT_HDR_LAST_FAILURE));
	if (raw)
		assert_string_equal(jsonx_str(dl.payload, "raw"), raw);
	/* broker headers carry the same facts */
	for (int32_t p = 0; p < 3; p++)
		if (mem_cluster_read(harness_cluster(f->h), "order.OrderCreated.v1.dlq", p, 0, &m) ==
		    ECOM_OK)
			assert_string_equal(broker_msg_header(&m, RT_HDR_ORIGINAL_TOPIC),
					    "order.OrderCreated.v1");
	envelope_deinit(&dl);
	assert_int_equal(mem_cluster_group_lag(harness_cluster(f->h), "toy-service-group"), 0);
}

static void test_poison_malformed_to_dlq(void **state)
{
	struct fixture *f = *state;

	start_toy(f, 0);
	harness_publish_raw(f->h, "order.OrderCreated.v1", "k", "{not json");
	run(f, 3000000);
	assert_dlq(f, "", "{not json");
	assert_int_equal(f->toy.calls, 0);
}

static void test_poison_schema_invalid_to_dlq(void **state)
{
	struct fixture *f = *state;
	struct envelope e = make_order(f->h, "o-5");
	char *text;

	json_object_set_new(e.payload, "total", json_string("lots"));
	{
		json_t *j = envelope_to_json(&e);

		text = json_dumps(j, ECOM_JSON_FLAGS);
		json_decref(j);
	}
	start_toy(f, 0);
	harness_publish_raw(f->h, "order.OrderCreated.v1", "o-5", text);
	run(f, 3000000);
	assert_dlq(f, "payload.total", NULL);
	free(text);
	envelope_deinit(&e);
}

static void test_drop_poison_bug_loses_it(void **state)
{
	struct fixture *f = *state;

	start_toy(f, BUG_DROP_POISON);
	harness_publish_raw(f->h, "order.OrderCreated.v1", "k", "garbage");
	run(f, 3000000);
	assert_int_equal(harness_topic_count(f->h, "order.OrderCreated.v1.dlq"), 0);
	assert_int_equal(mem_cluster_group_lag(harness_cluster(f->h), "toy-service-group"), 0);
}

static void test_handler_invalid_to_dlq(void **state)
{
	struct fixture *f = *state;
	struct envelope e = make_order(f->h, "o-6");

	f->toy.fail_invalid = 1;
	start_toy(f, 0);
	harness_publish(f->h, &e, NULL);
	run(f, 3000000);
	assert_dlq(f, "cannot reserve nothing", NULL);
	assert_null(get_doc(f, "o-6"));
	envelope_deinit(&e);
}

static void test_transient_backoff_then_success(void **state)
{
	struct fixture *f = *state;
	struct envelope e = make_order(f->h, "o-7");
	int64_t t0 = harness_clock(f->h)->now_us;
	json_t *doc;

	f->toy.fail_transient = 3;
	start_toy(f, 0);
	harness_publish(f->h, &e, NULL);
	run(f, 10000000);
	doc = get_doc(f, "o-7");
	assert_int_equal(f->toy.calls, 4);
	assert_int_equal(jsonx_int_or(doc, "count", -1), 1);
	assert_int_equal(harness_topic_count(f->h, "order.OrderCreated.v1.dlq"), 0);
	/* backoff: at least base/2 + base + 2*base over the three failures (10 ms base) */
	assert_true(harness_clock(f->h)->now_us - t0 >= 35000);
	json_decref(doc);
	envelope_deinit(&e);
}

static void test_transient_gives_up_to_dlq(void **state)
{
	struct fixture *f = *state;
	struct envelope e = make_order(f->h, "o-8");

	f->toy.fail_transient = 1000;
	start_toy(f, 0);
	harness_publish(f->h, &e, NULL);
	run(f, 60000000);
	assert_int_equal(f->toy.calls, 5); /* max_attempts = 5 */
	assert_dlq(f, "gave up after 5 attempts", NULL);
	envelope_deinit(&e);
}

/* A broker wrapper whose produce can be switched off: a crash between commit and publish
 * looks exactly like this to the store. */
struct mute_broker {
	struct broker base;
	struct broker *inner;
	int mute;
};

static int mb_produce(struct broker *b, const struct broker_record *r, struct ecom_err *e)
{
	struct mute_broker *m = (struct mute_broker *)b;

	if (m->mute)
		return ECOM_UNAVAILABLE;
	return broker_produce(m->inner, r, e);
}
static int mb_subscribe(struct broker *b, const char *g, const char *const *t, size_t n,
			struct ecom_err *e)
{
	return broker_subscribe(((struct mute_broker *)b)->inner, g, t, n, e);
}
static int mb_poll(struct broker *b, int to, struct broker_msg *out, struct ecom_err *e)
{
	return broker_poll(((struct mute_broker *)b)->inner, to, out, e);
}
static int mb_commit(struct broker *b, const char *t, int32_t p, int64_t o, struct ecom_err *e)
{
	return broker_commit(((struct mute_broker *)b)->inner, t, p, o, e);
}
static void mb_destroy(struct broker *b)
{
	broker_destroy(((struct mute_broker *)b)->inner);
}
static const struct broker_ops mute_ops = {
	.name = "mute",
	.produce = mb_produce,
	.subscribe = mb_subscribe,
	.poll = mb_poll,
	.commit = mb_commit,
	.destroy = mb_destroy,
};

static void test_sweep_heals_unpublished_outbox(void **state)
{
	struct fixture *f = *state;
	struct envelope e = make_order(f->h, "o-9");
	struct mute_broker mb = {.base.ops = &mute_ops, .mute = 1};
	struct runtime_config cfg = {.instance = "toy#1"};
	json_t *doc;

	mb.inner = mem_broker_new(harness_cluster(f->h), "toy#1");
	f->rt = runtime_new(&toy_def, &f->toy, &mb.base, &f->flaky.base,
			    &harness_clock(f->h)->base, harness_rng(f->h), &cfg);
	runtime_start(f->rt, NULL);
	harness_publish(f->h, &e, NULL);
	run(f, 300000);
	doc = get_doc(f, "o-9");
	assert_int_equal(jsonx_int_or(doc, "outbox_n", -1), 1); /* committed, not published */
	assert_int_equal(harness_count_for_order(f->h, EV_INVENTORY_RESERVED, "o-9"), 0);
	json_decref(doc);
	/* "restart": a new runtime over the same store; the broker works again */
	runtime_free(f->rt);
	mb.mute = 0;
	f->rt = runtime_new(&toy_def, &f->toy, &mb.base, &f->flaky.base,
			    &harness_clock(f->h)->base, harness_rng(f->h), &cfg);
	runtime_start(f->rt, NULL);
	run(f, 3000000);
	doc = get_doc(f, "o-9");
	assert_int_equal(jsonx_int_or(doc, "outbox_n", -1), 0);
	assert_null(json_object_get(doc, "outbox_at"));
	assert_int_equal(harness_count_for_order(f->h, EV_INVENTORY_RESERVED, "o-9"), 1);
	assert_int_equal(f->toy.calls, 1);
	json_decref(doc);
	runtime_free(f->rt);
	f->rt = NULL;
	broker_destroy(&mb.base);
	envelope_deinit(&e);
}

static void test_skip_sweep_bug_strands_outbox(void **state)
{
	struct fixture *f = *state;
	struct envelope e = make_order(f->h, "o-10");
	struct mute_broker mb = {.base.ops = &mute_ops, .mute = 1};
	struct runtime_config cfg = {.instance = "toy#1", .bugs = BUG_SKIP_OUTBOX_SWEEP};
	json_t *doc;

	mb.inner = mem_broker_new(harness_cluster(f->h), "toy#1");
	f->rt = runtime_new(&toy_def, &f->toy, &mb.base, &f->flaky.base,
			    &harness_clock(f->h)->base, harness_rng(f->h), &cfg);
	runtime_start(f->rt, NULL);
	harness_publish(f->h, &e, NULL);
	run(f, 300000);
	mb.mute = 0;
	run(f, 5000000);
	doc = get_doc(f, "o-10");
	assert_int_equal(jsonx_int_or(doc, "outbox_n", -1), 1);
	json_decref(doc);
	runtime_free(f->rt);
	f->rt = NULL;
	broker_destroy(&mb.base);
	envelope_deinit(&e);
}

static void test_ignored_route_commits_offset(void **state)
{
	struct fixture *f = *state;
	struct envelope e = make_order(f->h, "ignore-me");

	start_toy(f, 0);
	harness_publish(f->h, &e, NULL);
	run(f, 1000000);
	assert_int_equal(f->toy.calls, 0);
	assert_int_equal(mem_cluster_group_lag(harness_cluster(f->h), "toy-service-group"), 0);
	envelope_deinit(&e);
}

static void test_timer_fires_once(void **state)
{
	struct fixture *f = *state;
	struct envelope e = make_order(f->h, "o-11");
	json_t *doc;

	f->toy.arm_timer_us = 2000000;
	start_toy(f, 0);
	harness_publish(f->h, &e, NULL);
	run(f, 1000000);
	assert_int_equal(f->toy.wakes, 0);
	run(f, 5000000);
	assert_int_equal(f->toy.wakes, 1);
	doc = get_doc(f, "o-11");
	assert_int_equal(jsonx_int_or(doc, "woken", 0), 1);
	assert_null(json_object_get(doc, "wake_at"));
	assert_int_equal(harness_count_for_order(f->h, EV_ORDER_SHIPPED, "o-11"), 1);
	json_decref(doc);
	envelope_deinit(&e);
}

static int exec_create(void *arg, struct svc_ctx *ctx, json_t **state)
{
	int *mode = arg;

	if (*mode == 1)
		return svc_fail(ctx, ECOM_REFUSED, "not today");
	if (*state)
		return ECOM_OK; /* idempotent: exists already */
	*state = json_pack("{s:s}", "orderId", "o-12");
	svc_emit(ctx, EV_ORDER_CREATED, "o-12",
		 json_pack("{s:s, s:[{s:s, s:i}], s:i}", "orderId", "o-12", "items", "sku", "SKU-1",
			   "qty", 1, "total", 10));
	return ECOM_OK;
}

static void test_exec_commits_or_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct ecom_err err;
	int mode = 1;
	json_t *doc;

	start_toy(f, 0);
	assert_int_equal(runtime_exec(f->rt, "counters", "o-12", exec_create, &mode, &err),
			 ECOM_REFUSED);
	assert_string_equal(err.msg, "not today");
	assert_null(get_doc(f, "o-12"));
	assert_int_equal(f->flaky.writes, 0);
	mode = 0;
	assert_int_equal(runtime_exec(f->rt, "counters", "o-12", exec_create, &mode, &err), ECOM_OK);
	assert_int_equal(runtime_exec(f->rt, "counters", "o-12", exec_create, &mode, &err), ECOM_OK);
	doc = get_doc(f, "o-12");
	assert_int_equal(jsonx_int_or(doc, "version", 0), 2); /* insert + outbox removal */
	assert_int_equal(harness_count_for_order(f->h, EV_ORDER_CREATED, "o-12"), 1);
	json_decref(doc);
	/* an ambiguous insert re-runs fn on a fresh read: still one order, one event */
	f->flaky.fail_writes = 1;
	f->flaky.fail_rc = ECOM_AMBIGUOUS;
	f->flaky.apply_anyway = 1;
	assert_int_equal(runtime_exec(f->rt, "counters", "o-12", exec_create, &mode, &err), ECOM_OK);
	assert_int_equal(harness_count_for_order(f->h, EV_ORDER_CREATED, "o-12"), 1);
}

static void test_exec_unavailable(void **state)
{
	struct fixture *f = *state;
	struct ecom_err err;
	int mode = 0;

	start_toy(f, 0);
	f->flaky.fail_writes = 1000;
	f->flaky.fail_rc = ECOM_UNAVAILABLE;
	assert_int_equal(runtime_exec(f->rt, "counters", "o-13", exec_create, &mode, &err),
			 ECOM_UNAVAILABLE);
	assert_null(get_doc(f, "o-13"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_happy_and_duplicate_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_dedup_bug_applies_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_reruns_handler, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ambiguous_commit_applies_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poison_malformed_to_dlq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poison_schema_invalid_to_dlq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_poison_bug_loses_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_invalid_to_dlq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transient_backoff_then_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transient_gives_up_to_dlq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_heals_unpublished_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skip_sweep_bug_strands_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ignored_route_commits_offset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_fires_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_commits_or_writes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_unavailable, setup, teardown),
	};
	return cmocka_run_group_tests_name("runtime", tests, NULL, NULL);
}
