/* test_runtime_cov.c — the runtime at its edges, through its public interface only: event
 * names and accessors, the cause a handler sees (and a command does not), the relay turning
 * every header type into text and keeping per-key order past a broken entry, removal of
 * published entries under conflicts, missing documents and store outages (published again
 * later: at-least-once), commands that give up after conflicting commits or emit without
 * state, a stranded entry without outbox_at published with its aggregate's next commit,
 * dead letters whose produce fails (retried, then delivered once) and their payload for
 * non-UTF-8, non-object and empty-id originals, a service without topics (timers only), a
 * timer re-checked on the fresh read, and a custom configuration's sweep period. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/jsonx.h"
#include "sim/mem_broker.h"
#include "sim/mem_store.h"
#include "support/harness.h"

#define COLL "rtc"
#define GRACE_US (1000LL * 1000) /* the default outbox grace */

/* ---- a store wrapper with scripted failures and a hook after find --------------------- */

enum wop { WOP_GET, WOP_REPLACE, WOP_FIND, WOP__N };

struct wstore {
	struct store base;
	struct store *inner;
	int fail[WOP__N];
	int rc[WOP__N];
	int calls[WOP__N];
	void (*after_find)(struct wstore *w, const char *coll, const char *field);
};

static int w_scripted(struct wstore *w, enum wop op, struct ecom_err *err)
{
	w->calls[op]++;
	if (w->fail[op] <= 0)
		return ECOM_OK;
	w->fail[op]--;
	return ecom_err_set(err, w->rc[op], "scripted %s", ecom_rc_name(w->rc[op]));
}

static int w_get(struct store *s, const char *c, const char *id, json_t **out,
		 struct ecom_err *e)
{
	struct wstore *w = (struct wstore *)s;
	int rc = w_scripted(w, WOP_GET, e);

	return rc != ECOM_OK ? rc : store_get(w->inner, c, id, out, e);
}

static int w_insert(struct store *s, const char *c, json_t *doc, struct ecom_err *e)
{
	return store_insert(((struct wstore *)s)->inner, c, doc, e);
}

static int w_replace(struct store *s, const char *c, json_t *doc, int64_t v, struct ecom_err *e)
{
	struct wstore *w = (struct wstore *)s;
	int rc = w_scripted(w, WOP_REPLACE, e);

	return rc != ECOM_OK ? rc : store_replace(w->inner, c, doc, v, e);
}

static int w_find(struct store *s, const char *c, const struct store_query *q, json_t **out,
		  struct ecom_err *e)
{
	struct wstore *w = (struct wstore *)s;
	int rc = w_scripted(w, WOP_FIND, e);

	if (rc != ECOM_OK)
		return rc;
	rc = store_find(w->inner, c, q, out, e);
	if (rc == ECOM_OK && w->after_find)
		w->after_find(w, c, q->field);
	return rc;
}

static int w_remove(struct store *s, const char *c, const char *id, struct ecom_err *e)
{
	return store_remove(((struct wstore *)s)->inner, c, id, e);
}

static void w_destroy(struct store *s)
{
	store_destroy(((struct wstore *)s)->inner);
}

static const struct store_ops wstore_ops = {
	.name = "wrapped",
	.get = w_get,
	.insert = w_insert,
	.replace = w_replace,
	.find = w_find,
	.remove = w_remove,
	.destroy = w_destroy,
};

/* ---- a broker wrapper that refuses produces to "*.dlq" a number of times --------------- */

struct wbroker {
	struct broker base;
	struct broker *inner;
	int fail_dlq;
	int dlq_refused;
};

static int wb_produce(struct broker *b, const struct broker_record *rec, struct ecom_err *err)
{
	struct wbroker *w = (struct wbroker *)b;
	size_t n = strlen(rec->topic);

	if (w->fail_dlq > 0 && n > 4 && strcmp(rec->topic + n - 4, ".dlq") == 0) {
		w->fail_dlq--;
		w->dlq_refused++;
		return ecom_err_set(err, ECOM_UNAVAILABLE, "scripted: dlq unavailable");
	}
	return broker_produce(w->inner, rec, err);
}

static int wb_subscribe(struct broker *b, const char *group, const char *const *topics,
			size_t n, struct ecom_err *err)
{
	return broker_subscribe(((struct wbroker *)b)->inner, group, topics, n, err);
}

static int wb_poll(struct broker *b, int timeout_ms, struct broker_msg *out,
		   struct ecom_err *err)
{
	return broker_poll(((struct wbroker *)b)->inner, timeout_ms, out, err);
}

static int wb_commit(struct broker *b, const char *topic, int32_t partition, int64_t next,
		     struct ecom_err *err)
{
	return broker_commit(((struct wbroker *)b)->inner, topic, partition, next, err);
}

static void wb_destroy(struct broker *b)
{
	broker_destroy(((struct wbroker *)b)->inner);
}

static const struct broker_ops wbroker_ops = {
	.name = "wrapped",
	.produce = wb_produce,
	.subscribe = wb_subscribe,
	.poll = wb_poll,
	.commit = wb_commit,
	.destroy = wb_destroy,
};

/* ---- the toy service ------------------------------------------------------------------- */

struct toy {
	int handled;
	int cause_seen;     /* handler calls where svc_cause was the delivered event */
	int wakes;
};

static int toy_route(void *svc, const struct envelope *ev, struct svc_route *out)
{
	(void)svc;
	out->collection = COLL;
	snprintf(out->id, sizeof(out->id), "%s", jsonx_str_or(ev->payload, "orderId", "x"));
	return ECOM_OK;
}

static int toy_handle(void *svc, struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	struct toy *t = svc;
	const struct envelope *cause = svc_cause(ctx);

	t->handled++;
	if (cause && strcmp(cause->event_id, ev->event_id) == 0)
		t->cause_seen++;
	if (!*state)
		*state = json_object();
	jsonx_set_int(*state, "n", jsonx_int_or(*state, "n", 0) + 1);
	return ECOM_OK;
}

static int toy_wake(void *svc, struct svc_ctx *ctx, const char *coll, const char *id,
		    json_t **state)
{
	struct toy *t = svc;

	(void)ctx;
	(void)coll;
	(void)id;
	t->wakes++;
	jsonx_set_int(*state, "woken", t->wakes);
	return ECOM_OK;
}

static const enum event_type toy_types[] = { EV_INVENTORY_FAILED };
static const char *const toy_colls[] = { COLL };

static const struct svc_def toy_def = {
	.name = "rtc",
	.types = toy_types,
	.n_types = 1,
	.collections = toy_colls,
	.n_collections = 1,
	.route = toy_route,
	.handle = toy_handle,
	.wake = toy_wake,
};

/* The same service without topics: it only sweeps (timers, stranded outbox entries). */
static const struct svc_def timer_def = {
	.name = "rtc-timers",
	.types = NULL,
	.n_types = 0,
	.collections = toy_colls,
	.n_collections = 1,
	.route = toy_route,
	.handle = toy_handle,
	.wake = toy_wake,
};

/* ---- observer ---------------------------------------------------------------------------- */

struct log {
	int counts[RT__EVENT_COUNT];
	int unknown_type_published; /* RT_SWEEP_PUBLISHED / RT_PUBLISHED with type -1 */
	int commits;
};

static void on_event(void *arg, struct runtime *rt, enum rt_event what, int type,
		     const char *detail)
{
	struct log *l = arg;

	(void)rt;
	(void)detail;
	l->counts[what]++;
	if ((what == RT_SWEEP_PUBLISHED || what == RT_PUBLISHED) && type < 0)
		l->unknown_type_published++;
}

static void on_commit(void *arg, struct runtime *rt, const char *coll, const json_t *doc)
{
	struct log *l = arg;

	(void)rt;
	(void)coll;
	(void)doc;
	l->commits++;
}

/* ---- fixture: one runtime over the wrapped store and broker ------------------------------ */

struct fx {
	struct harness *h;
	struct wstore ws;
	struct wbroker wb;
	struct toy toy;
	struct log log;
	struct runtime_observer obs;
	struct runtime *rt;
};

static struct fx *fx_make(const struct svc_def *def, const struct runtime_config *cfg_in)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct runtime_config cfg = { 0 };

	if (cfg_in)
		cfg = *cfg_in;
	f->h = harness_new(77, 2);
	f->ws.base.ops = &wstore_ops;
	f->ws.inner = mem_store_new();
	f->wb.base.ops = &wbroker_ops;
	f->wb.inner = mem_broker_new(harness_cluster(f->h), "rtc#1");
	f->obs.arg = &f->log;
	f->obs.on_event = on_event;
	f->obs.on_commit = on_commit;
	cfg.obs = &f->obs;
	f->rt = runtime_new(def, &f->toy, &f->wb.base, &f->ws.base, &harness_clock(f->h)->base,
			    harness_rng(f->h), &cfg);
	assert_int_equal(runtime_start(f->rt, NULL), ECOM_OK);
	return f;
}

static int setup(void **state)
{
	static const struct runtime_config cfg = { .instance = "rtc#1" };

	*state = fx_make(&toy_def, &cfg);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	runtime_free(f->rt);
	broker_destroy(&f->wb.base);
	store_destroy(&f->ws.base);
	harness_free(f->h);
	free(f);
	return 0;
}

/* Steps the runtime until it idles (advancing the clock to what it waits for), at most
 * max_us of clock time. */
static void run(struct fx *f, int64_t max_us)
{
	struct manual_clock *clk = harness_clock(f->h);
	int64_t end = clk->now_us + max_us;

	for (int i = 0; i < 100000 && clk->now_us < end; i++) {
		int64_t next;

		if (runtime_step(f->rt, &next)) {
			clk->now_us += 10;
			continue;
		}
		clk->now_us = next > clk->now_us && next < end ? next : end;
	}
}

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static json_t *doc(struct fx *f, const char *id)
{
	json_t *d = NULL;

	if (store_get(f->ws.inner, COLL, id, &d, NULL) != ECOM_OK)
		return NULL;
	return d;
}

static int64_t doc_int(struct fx *f, const char *id, const char *key)
{
	json_t *d = doc(f, id);
	int64_t v = jsonx_int_or(d, key, -999);

	json_decref(d);
	return v;
}

/* An outbox entry {topic, at, event} for topic t (NULL = none) of type name `type`. */
static json_t *entry(const char *topic, int64_t at, const char *event_id, const char *type,
		     const char *key, const char *headers)
{
	json_t *ev = json_pack("{s:s, s:s, s:i, s:s, s:s}", "eventId", event_id, "type", type,
			       "version", 1, "timestamp", "2026-01-01T00:00:00.000Z",
			       "correlationId", "c"),
	       *e = json_object();

	if (key)
		jsonx_set_str(ev, "key", key);
	jsonx_set_new(ev, "payload", parse("{\"orderId\":\"o\",\"reason\":\"r\"}"));
	jsonx_set_new(ev, "headers", parse(headers ? headers : "{}"));
	if (topic)
		jsonx_set_str(e, "topic", topic);
	jsonx_set_int(e, "at", at);
	jsonx_set_new(e, "event", ev);
	return e;
}

/* Inserts document id with these outbox entries (stolen), outbox_at = at_min (0: absent),
 * with the sweep marker the runtime keeps next to outbox_at (runtime.h). */
static void put_doc(struct fx *f, const char *id, json_t *outbox, int64_t at_min)
{
	json_t *d = json_pack("{s:s, s:i, s:[], s:o, s:i}", "_id", id, "version", 1, "inbox",
			      "outbox", outbox, "outbox_n", (int)json_array_size(outbox));

	if (at_min > 0) {
		jsonx_set_int(d, "outbox_at", at_min);
		jsonx_set_int(d, "outbox_due", 1);
	}
	assert_int_equal(store_insert(f->ws.inner, COLL, d, NULL), ECOM_OK);
	json_decref(d);
}

/* The i-th message of a single-partition-agnostic topic (partition order, then offset). */
static int read_msg(struct fx *f, const char *topic, int64_t i, struct broker_msg *m)
{
	struct mem_cluster *c = harness_cluster(f->h);
	int32_t np = mem_cluster_partitions(c, topic);

	for (int32_t p = 0; p < np; p++) {
		int64_t end = mem_cluster_end_offset(c, topic, p);

		if (i < end)
			return mem_cluster_read(c, topic, p, i, m);
		i -= end;
	}
	return ECOM_NOT_FOUND;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_names_and_accessors(void **state)
{
	struct fx *f = *state;
	struct runtime *bare;

	assert_string_equal(rt_event_name(RT_WAKE_FIRED), "wake_fired");
	assert_string_equal(rt_event_name(RT_DELIVERED), "delivered");
	assert_string_equal(rt_event_name((enum rt_event)-1), "unknown");
	assert_string_equal(rt_event_name(RT__EVENT_COUNT), "unknown");
	assert_string_equal(runtime_instance(f->rt), "rtc#1");
	assert_ptr_equal(runtime_def(f->rt), &toy_def);
	assert_ptr_equal(runtime_store(f->rt), &f->ws.base);
	assert_null(runtime_current_msg(f->rt));
	/* Without a configuration the instance is named after the service. */
	bare = runtime_new(&toy_def, &f->toy, &f->wb.base, &f->ws.base,
			   &harness_clock(f->h)->base, harness_rng(f->h), NULL);
	assert_string_equal(runtime_instance(bare), "rtc");
	runtime_free(bare);
}

struct cause_probe {
	int calls;
	int had_cause;
};

static int probe_fn(void *arg, struct svc_ctx *ctx, json_t **state)
{
	struct cause_probe *p = arg;

	(void)state;
	p->calls++;
	p->had_cause += svc_cause(ctx) != NULL;
	return ECOM_OK;
}

/* A handler sees the event it handles as its cause; a command has none. */
static void test_cause_of_handlers_and_commands(void **state)
{
	struct fx *f = *state;
	struct cause_probe p = { 0, 0 };

	assert_int_equal(harness_publish_json(f->h, EV_INVENTORY_FAILED, "c1",
					      "{\"orderId\":\"c1\",\"reason\":\"r\"}", NULL),
			 ECOM_OK);
	run(f, 2 * GRACE_US);
	assert_int_equal(f->toy.handled, 1);
	assert_int_equal(f->toy.cause_seen, 1);
	assert_int_equal(doc_int(f, "c1", "n"), 1);
	assert_int_equal(runtime_exec(f->rt, COLL, "c1", probe_fn, &p, NULL), ECOM_OK);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.had_cause, 0);
}

/* The relay: header values of every JSON type become text (null and containers are
 * dropped, at most BROKER_MAX_HEADERS go out), an entry of a type the runtime does not
 * know is still published, an entry without a key is published keyless, and an entry that
 * cannot be published (no topic) stops the relay so that nothing behind it overtakes it. */
static void test_relay_headers_and_order(void **state)
{
	struct fx *f = *state;
	json_t *outbox = json_array(), *d, *ev;
	struct broker_msg m;
	char headers[1024];
	size_t n;

	n = (size_t)snprintf(headers, sizeof(headers),
			     "{\"s\":\"v\",\"i\":5,\"t\":true,\"f\":false,\"r\":1.5,\"z\":null,"
			     "\"a\":[1],\"o\":{}");
	for (int i = 0; i < 12; i++)
		n += (size_t)snprintf(headers + n, sizeof(headers) - n, ",\"h%02d\":\"x\"", i);
	snprintf(headers + n, sizeof(headers) - n, "}");
	json_array_append_new(outbox, entry("rtc.out", 10, "e1", "inventory.InventoryFailed.v1",
					    "k1", headers));
	json_array_append_new(outbox, entry("rtc.out", 11, "e2", "no.Such.v1", NULL,
					    "{\"r17\":0.30000000000000004}"));
	json_array_append_new(outbox, entry(NULL, 12, "e3", "inventory.InventoryFailed.v1", "k3",
					    NULL));
	json_array_append_new(outbox, entry("rtc.out", 13, "e4", "inventory.InventoryFailed.v1",
					    "k4", NULL));
	put_doc(f, "stranded", outbox, 10);
	harness_clock(f->h)->now_us += 2 * GRACE_US;
	run(f, GRACE_US);

	assert_int_equal(harness_topic_count(f->h, "rtc.out"), 2);
	/* The keyed one and the keyless one, whatever their partitions. */
	assert_int_equal(read_msg(f, "rtc.out", 0, &m), ECOM_OK);
	if (m.key_len == 0)
		assert_int_equal(read_msg(f, "rtc.out", 1, &m), ECOM_OK);
	assert_int_equal(m.key_len, 2);
	assert_int_equal(m.n_headers, BROKER_MAX_HEADERS);
	assert_string_equal(broker_msg_header(&m, "s"), "v");
	assert_string_equal(broker_msg_header(&m, "i"), "5");
	assert_string_equal(broker_msg_header(&m, "t"), "true");
	assert_string_equal(broker_msg_header(&m, "f"), "false");
	assert_string_equal(broker_msg_header(&m, "r"), "1.5");
	assert_null(broker_msg_header(&m, "z"));
	assert_null(broker_msg_header(&m, "a"));
	assert_null(broker_msg_header(&m, "o"));
	assert_non_null(broker_msg_header(&m, "h10"));
	assert_null(broker_msg_header(&m, "h11")); /* the 17th usable header */
	assert_non_null(strstr(m.value, "\"eventId\":\"e1\""));
	assert_int_equal(read_msg(f, "rtc.out", 0, &m), ECOM_OK);
	if (m.key_len != 0)
		assert_int_equal(read_msg(f, "rtc.out", 1, &m), ECOM_OK);
	assert_int_equal(m.key_len, 0);
	assert_non_null(strstr(m.value, "\"eventId\":\"e2\""));
	assert_string_equal(broker_msg_header(&m, "r17"), "0.3"); /* reals at 15 digits */
	assert_int_equal(f->log.unknown_type_published, 1);
	assert_true(f->log.counts[RT_PUBLISH_FAILED] >= 1);
	/* What was published left the document; the broken entry and the one behind it stay. */
	d = doc(f, "stranded");
	assert_int_equal(jsonx_int_or(d, "outbox_n", -1), 2);
	assert_int_equal(jsonx_int_or(d, "outbox_at", -1), 12);
	ev = json_object_get(json_array_get(json_object_get(d, "outbox"), 1), "event");
	assert_string_equal(jsonx_str_or(ev, "eventId", ""), "e4");
	json_decref(d);
}

/* Removing published entries keeps losing its compare-and-swap: bounded, the entry stays,
 * and a later sweep publishes it again (at-least-once) and removes it. */
static void test_relay_removal_conflicts(void **state)
{
	struct fx *f = *state;
	json_t *outbox = json_array();
	int replaces;

	json_array_append_new(outbox, entry("rtc.out", 10, "e1", "inventory.InventoryFailed.v1",
					    "k", NULL));
	put_doc(f, "c", outbox, 10);
	f->ws.fail[WOP_REPLACE] = 1000;
	f->ws.rc[WOP_REPLACE] = ECOM_CONFLICT;
	harness_clock(f->h)->now_us += 2 * GRACE_US;
	{
		int64_t next;

		runtime_step(f->rt, &next); /* one sweep */
	}
	replaces = f->ws.calls[WOP_REPLACE];
	assert_true(replaces > 1 && replaces < 100);
	/* a fresh read after each loss but the last (nothing would use it) */
	assert_int_equal(f->ws.calls[WOP_GET], replaces - 1);
	assert_int_equal(harness_topic_count(f->h, "rtc.out"), 1);
	assert_int_equal(doc_int(f, "c", "outbox_n"), 1);
	f->ws.fail[WOP_REPLACE] = 0;
	f->log.commits = 0;
	run(f, 2 * GRACE_US);
	assert_int_equal(harness_topic_count(f->h, "rtc.out"), 2);
	assert_int_equal(doc_int(f, "c", "outbox_n"), 0);
	assert_int_equal(doc_int(f, "c", "outbox_at"), -999);
	assert_int_equal(f->log.commits, 1); /* the removal is a commit observers see */
}

/* The reload after a lost race fails, or the document is gone: the relay stops and
 * leaves the entry to the sweep. */
static void test_relay_removal_store_trouble(void **state)
{
	struct fx *f = *state;
	json_t *outbox = json_array();

	json_array_append_new(outbox, entry("rtc.out", 10, "e1", "inventory.InventoryFailed.v1",
					    "k", NULL));
	put_doc(f, "g", outbox, 10);
	f->ws.fail[WOP_REPLACE] = 1;
	f->ws.rc[WOP_REPLACE] = ECOM_CONFLICT;
	f->ws.fail[WOP_GET] = 1;
	f->ws.rc[WOP_GET] = ECOM_UNAVAILABLE;
	harness_clock(f->h)->now_us += 2 * GRACE_US;
	{
		int64_t next;

		runtime_step(f->rt, &next);
	}
	assert_int_equal(f->ws.calls[WOP_REPLACE], 1);
	assert_int_equal(f->ws.calls[WOP_GET], 1);
	assert_int_equal(doc_int(f, "g", "outbox_n"), 1);

	/* Gone meanwhile: NOT_FOUND ends the removal at once. */
	f->ws.fail[WOP_REPLACE] = 1;
	f->ws.rc[WOP_REPLACE] = ECOM_NOT_FOUND;
	f->ws.calls[WOP_REPLACE] = f->ws.calls[WOP_GET] = 0;
	harness_clock(f->h)->now_us += 2 * GRACE_US;
	{
		int64_t next;

		runtime_step(f->rt, &next);
	}
	assert_int_equal(f->ws.calls[WOP_REPLACE], 1);
	assert_int_equal(f->ws.calls[WOP_GET], 0);
	assert_int_equal(harness_topic_count(f->h, "rtc.out"), 2);
}

static int set_n_fn(void *arg, struct svc_ctx *ctx, json_t **state)
{
	(void)arg;
	(void)ctx;
	if (!*state)
		*state = json_object();
	jsonx_set_int(*state, "n", jsonx_int_or(*state, "n", 0) + 1);
	return ECOM_OK;
}

/* A command whose commit keeps conflicting gives up with the reason; nothing changes. */
static void test_exec_gives_up_after_conflicts(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;

	assert_int_equal(runtime_exec(f->rt, COLL, "x", set_n_fn, NULL, NULL), ECOM_OK);
	f->ws.fail[WOP_REPLACE] = 1000;
	f->ws.rc[WOP_REPLACE] = ECOM_CONFLICT;
	assert_int_equal(runtime_exec(f->rt, COLL, "x", set_n_fn, NULL, &err), ECOM_UNAVAILABLE);
	assert_int_equal(err.rc, ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "gave up after"));
	assert_non_null(strstr(err.msg, "conflicting commits"));
	assert_true(f->ws.calls[WOP_REPLACE] > 1);
	assert_int_equal(doc_int(f, "x", "n"), 1);
	assert_true(f->log.counts[RT_COMMIT_CONFLICT] > 1);
}

static int emit_only_fn(void *arg, struct svc_ctx *ctx, json_t **state)
{
	(void)arg;
	(void)state;
	svc_emit(ctx, EV_INVENTORY_FAILED, "e-only",
		 json_pack("{s:s, s:s}", "orderId", "e-only", "reason", "r"));
	return ECOM_OK;
}

/* A command that only emits creates the aggregate to carry its outbox; the event goes out
 * right after the commit with the command's key as correlation id. */
static void test_exec_emits_without_state(void **state)
{
	struct fx *f = *state;
	struct envelope e;

	assert_int_equal(runtime_exec(f->rt, COLL, "e-only", emit_only_fn, NULL, NULL), ECOM_OK);
	assert_int_equal(harness_topic_count(f->h, "inventory.InventoryFailed.v1"), 1);
	assert_int_equal(harness_topic_get(f->h, "inventory.InventoryFailed.v1", 0, &e), ECOM_OK);
	assert_string_equal(e.correlation_id, "e-only");
	assert_null(e.causation_id);
	envelope_deinit(&e);
	assert_int_equal(doc_int(f, "e-only", "outbox_n"), 0);
	assert_int_equal(doc_int(f, "e-only", "version"), 2); /* insert, then removal */
}

/* An entry without a usable "at" (and so no outbox_at: invisible to the sweep) goes out
 * with the next commit of its aggregate. */
static void test_stranded_entry_without_at(void **state)
{
	struct fx *f = *state;
	json_t *outbox = json_array();

	json_array_append_new(outbox, entry("rtc.out", 0, "e0", "inventory.InventoryFailed.v1",
					    "k", NULL));
	put_doc(f, "z", outbox, 0);
	harness_clock(f->h)->now_us += 2 * GRACE_US;
	run(f, GRACE_US);
	assert_int_equal(harness_topic_count(f->h, "rtc.out"), 0);
	assert_int_equal(runtime_exec(f->rt, COLL, "z", set_n_fn, NULL, NULL), ECOM_OK);
	assert_int_equal(harness_topic_count(f->h, "rtc.out"), 1);
	assert_int_equal(doc_int(f, "z", "outbox_n"), 0);
	assert_int_equal(doc_int(f, "z", "n"), 1);
}

/* The DLQ refuses a few produces: the poison message is retried with backoff, lands in the
 * DLQ exactly once, and only then is its offset committed. */
static void test_dead_letter_produce_retried(void **state)
{
	struct fx *f = *state;
	struct runtime_stats st;
	struct envelope e;

	f->wb.fail_dlq = 3;
	assert_int_equal(harness_publish_raw(f->h, "inventory.InventoryFailed.v1", "k", "{oops"),
			 ECOM_OK);
	run(f, 10 * GRACE_US);
	assert_int_equal(f->wb.dlq_refused, 3);
	assert_int_equal(harness_topic_count(f->h, "inventory.InventoryFailed.v1.dlq"), 1);
	runtime_get_stats(f->rt, &st);
	assert_int_equal(st.dead_lettered, 1);
	assert_true(st.retries >= 3);
	assert_int_equal(f->log.counts[RT_OFFSET_COMMITTED], 1);
	assert_int_equal(harness_topic_get(f->h, "inventory.InventoryFailed.v1.dlq", 0, &e),
			 ECOM_OK);
	assert_string_equal(jsonx_str_or(e.payload, "raw", ""), "{oops");
	assert_string_equal(jsonx_str_or(e.headers, RT_HDR_ATTEMPTS, ""), "3");
	envelope_deinit(&e);
	assert_int_equal(f->toy.handled, 0);
}

/* The dead letter on the toy topic's DLQ whose payload[field] == value (0 if none). */
static int dlq_find(struct fx *f, const char *field, const char *value, struct envelope *e)
{
	int64_t n = harness_topic_count(f->h, "inventory.InventoryFailed.v1.dlq");

	for (int64_t i = 0; i < n; i++) {
		assert_int_equal(harness_topic_get(f->h, "inventory.InventoryFailed.v1.dlq", i, e),
				 ECOM_OK);
		if (strcmp(jsonx_str_or(e->payload, field, "\x01"), value) == 0)
			return 1;
		envelope_deinit(e);
	}
	return 0;
}

static void test_dead_letter_payload_shapes(void **state)
{
	struct fx *f = *state;
	struct broker_record rec = { .topic = "inventory.InventoryFailed.v1", .key = "k",
				     .key_len = 1 };
	static const char bin[] = "\xff\xfe{x\x01y";
	struct envelope e;

	rec.value = bin;
	rec.value_len = sizeof(bin) - 1;
	assert_int_equal(broker_produce(f->wb.inner, &rec, NULL), ECOM_OK);
	run(f, 2 * GRACE_US);
	assert_int_equal(harness_publish_raw(f->h, "inventory.InventoryFailed.v1", "k", "[1,2]"),
			 ECOM_OK);
	run(f, 2 * GRACE_US);
	assert_int_equal(harness_publish_raw(f->h, "inventory.InventoryFailed.v1", "k",
					     "{\"eventId\":\"\",\"correlationId\":\"\","
					     "\"type\":\"inventory.InventoryFailed.v1\","
					     "\"payload\":{\"orderId\":\"\"}}"),
			 ECOM_OK);
	run(f, 2 * GRACE_US);
	assert_int_equal(harness_publish_raw(f->h, "inventory.InventoryFailed.v1", "k",
					     "{\"eventId\":\"ev9\",\"correlationId\":\"corr9\","
					     "\"type\":\"inventory.InventoryFailed.v1\","
					     "\"version\":2,"
					     "\"payload\":{\"orderId\":\"o9\"}}"),
			 ECOM_OK);
	run(f, 2 * GRACE_US);
	assert_int_equal(harness_topic_count(f->h, "inventory.InventoryFailed.v1.dlq"), 4);

	/* Not UTF-8: the bytes that cannot be shown become '?'. */
	assert_true(dlq_find(f, "raw", "??{x?y", &e));
	assert_string_equal(jsonx_str_or(e.payload, "originalType", ""),
			    "inventory.InventoryFailed.v1");
	assert_string_equal(jsonx_str_or(e.payload, "originalEventId", ""), "unknown");
	assert_string_equal(e.key, "unknown");
	envelope_deinit(&e);
	/* JSON, but not an envelope object: raw text, no payload, no order. */
	assert_true(dlq_find(f, "raw", "[1,2]", &e));
	assert_true(json_is_null(json_object_get(e.payload, "payload")));
	assert_null(json_object_get(e.payload, "orderId"));
	envelope_deinit(&e);
	/* Empty ids are carried as they were but never become the envelope's ids. */
	assert_true(dlq_find(f, "originalEventId", "", &e));
	assert_string_equal(jsonx_str_or(e.payload, "orderId", "?"), "");
	assert_null(json_object_get(e.payload, "raw"));
	assert_string_equal(e.key, "unknown");
	assert_string_equal(e.correlation_id, e.event_id);
	assert_null(e.causation_id);
	envelope_deinit(&e);
	/* A whole envelope that fails validation keeps its ids as correlation and cause. */
	assert_true(dlq_find(f, "originalEventId", "ev9", &e));
	assert_string_equal(e.key, "o9");
	assert_string_equal(e.correlation_id, "corr9");
	assert_string_equal(e.causation_id, "ev9");
	assert_string_equal(jsonx_str_or(e.payload, "error", ""), "version: must be the integer 1");
	envelope_deinit(&e);
	assert_int_equal(f->toy.handled, 0);
}

static int arm_fn(void *arg, struct svc_ctx *ctx, json_t **state)
{
	int64_t in_us = *(int64_t *)arg;

	if (!*state)
		*state = json_object();
	svc_set_wake(ctx, svc_now_us(ctx) + in_us);
	return ECOM_OK;
}

/* A service with no topics subscribes to nothing and still fires its timers. */
static void test_timer_only_service(void **state)
{
	struct fx *f = fx_make(&timer_def, NULL);
	int64_t in = 3 * GRACE_US;

	(void)state;
	assert_int_equal(mem_cluster_group_members(harness_cluster(f->h),
						   "rtc-timers-service-group"),
			 0);
	assert_int_equal(runtime_exec(f->rt, COLL, "t1", arm_fn, &in, NULL), ECOM_OK);
	assert_int_equal(doc_int(f, "t1", "wake_at"), harness_clock(f->h)->now_us + in);
	run(f, 2 * GRACE_US);
	assert_int_equal(f->toy.wakes, 0);
	run(f, 2 * GRACE_US);
	assert_int_equal(f->toy.wakes, 1);
	assert_int_equal(doc_int(f, "t1", "woken"), 1);
	assert_int_equal(doc_int(f, "t1", "wake_at"), -999); /* one-shot */
	assert_int_equal(f->log.counts[RT_WAKE_FIRED], 1);
	run(f, 10 * GRACE_US);
	assert_int_equal(f->toy.wakes, 1);
	teardown((void **)&f);
}

/* Between the timer sweep's find and the fresh read, another instance fired one timer and
 * re-armed it later, and another aggregate vanished: neither fires here. */
static void after_find(struct wstore *w, const char *coll, const char *field)
{
	json_t *d = NULL;
	int64_t v;

	if (!field || strcmp(field, "wake_due") != 0) /* the timer sweep's query */
		return;
	w->after_find = NULL;
	assert_int_equal(store_get(w->inner, coll, "w1", &d, NULL), ECOM_OK);
	v = jsonx_int_or(d, "version", 0);
	jsonx_set_int(d, "version", v + 1);
	jsonx_set_int(d, "wake_at", jsonx_int_or(d, "wake_at", 0) + 3600LL * 1000 * 1000);
	assert_int_equal(store_replace(w->inner, coll, d, v, NULL), ECOM_OK);
	json_decref(d);
	assert_int_equal(store_remove(w->inner, coll, "w2", NULL), ECOM_OK);
}

static void test_wake_rechecked_on_fresh_read(void **state)
{
	struct fx *f = *state;
	int64_t in = GRACE_US;

	assert_int_equal(runtime_exec(f->rt, COLL, "w1", arm_fn, &in, NULL), ECOM_OK);
	assert_int_equal(runtime_exec(f->rt, COLL, "w2", arm_fn, &in, NULL), ECOM_OK);
	f->ws.after_find = after_find;
	harness_clock(f->h)->now_us += 2 * GRACE_US;
	run(f, GRACE_US / 2);
	assert_null(f->ws.after_find); /* the race happened */
	assert_int_equal(f->toy.wakes, 0);
	assert_int_equal(f->log.counts[RT_WAKE_FIRED], 0);
	assert_int_equal(doc_int(f, "w1", "woken"), -999);
	assert_true(doc_int(f, "w1", "wake_at") > harness_clock(f->h)->now_us);
	assert_null(doc(f, "w2"));
}

/* The sweep publishes only entries older than the grace, in order: it stops at the first
 * young one and leaves it (and everything behind it) to a later sweep. */
static void test_sweep_leaves_young_entries(void **state)
{
	struct fx *f = *state;
	int64_t now = harness_clock(f->h)->now_us;
	json_t *outbox = json_array();

	json_array_append_new(outbox, entry("rtc.out", 10, "old", "inventory.InventoryFailed.v1",
					    "k", NULL));
	json_array_append_new(outbox, entry("rtc.out", now + 2 * GRACE_US, "young",
					    "inventory.InventoryFailed.v1", "k", NULL));
	json_array_append_new(outbox, entry("rtc.out", 20, "behind", "inventory.InventoryFailed.v1",
					    "k", NULL));
	put_doc(f, "y", outbox, 10);
	harness_clock(f->h)->now_us += 2 * GRACE_US;
	run(f, GRACE_US / 2);
	assert_int_equal(harness_topic_count(f->h, "rtc.out"), 1);
	assert_int_equal(doc_int(f, "y", "outbox_n"), 2);
	run(f, 2 * GRACE_US);
	assert_int_equal(harness_topic_count(f->h, "rtc.out"), 3);
	assert_int_equal(doc_int(f, "y", "outbox_n"), 0);
}

/* The sweep's queries fail, then the fresh read of a due timer fails: nothing fires until
 * the store answers, then the timer fires once. */
static void test_sweep_store_trouble(void **state)
{
	struct fx *f = *state;
	int64_t in = GRACE_US, next;

	assert_int_equal(runtime_exec(f->rt, COLL, "s1", arm_fn, &in, NULL), ECOM_OK);
	harness_clock(f->h)->now_us += 2 * GRACE_US;
	f->ws.fail[WOP_FIND] = 2; /* the outbox query and the timer query */
	f->ws.rc[WOP_FIND] = ECOM_UNAVAILABLE;
	assert_int_equal(runtime_step(f->rt, &next), 0);
	assert_int_equal(f->ws.calls[WOP_FIND], 2);
	assert_int_equal(f->toy.wakes, 0);
	f->ws.fail[WOP_GET] = 1;
	f->ws.rc[WOP_GET] = ECOM_UNAVAILABLE;
	f->ws.calls[WOP_GET] = 0;
	harness_clock(f->h)->now_us = next;
	runtime_step(f->rt, &next);
	assert_int_equal(f->ws.calls[WOP_GET], 1); /* the timer's fresh read */
	assert_int_equal(f->toy.wakes, 0);
	assert_true(f->log.counts[RT_STORE_UNAVAILABLE] >= 1);
	run(f, GRACE_US);
	assert_int_equal(f->toy.wakes, 1);
	assert_int_equal(doc_int(f, "s1", "woken"), 1);
}

static void test_custom_sweep_period(void **state)
{
	static const struct runtime_config cfg = { .sweep_interval_us = 2 * GRACE_US,
						   .outbox_grace_us = 3 * GRACE_US,
						   .backoff_base_us = 1000,
						   .backoff_max_us = 4000,
						   .max_attempts = 2 };
	struct fx *f = fx_make(&toy_def, &cfg);
	int64_t next, now = harness_clock(f->h)->now_us;
	json_t *outbox = json_array();

	(void)state;
	assert_int_equal(runtime_step(f->rt, &next), 0);
	assert_int_equal(next, now + 2 * GRACE_US);
	/* An entry two seconds old is within the three-second grace: left alone. */
	json_array_append_new(outbox, entry("rtc.out", now, "e1", "inventory.InventoryFailed.v1",
					    "k", NULL));
	put_doc(f, "g", outbox, now);
	harness_clock(f->h)->now_us = next;
	assert_int_equal(runtime_step(f->rt, &next), 0);
	assert_int_equal(harness_topic_count(f->h, "rtc.out"), 0);
	harness_clock(f->h)->now_us = next + 2 * GRACE_US;
	assert_int_equal(runtime_step(f->rt, &next), 1);
	assert_int_equal(harness_topic_count(f->h, "rtc.out"), 1);
	teardown((void **)&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names_and_accessors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cause_of_handlers_and_commands, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_relay_headers_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_removal_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_removal_store_trouble, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_gives_up_after_conflicts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_exec_emits_without_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stranded_entry_without_at, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letter_produce_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letter_payload_shapes, setup, teardown),
		cmocka_unit_test(test_timer_only_service),
		cmocka_unit_test_setup_teardown(test_wake_rechecked_on_fresh_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_leaves_young_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_store_trouble, setup, teardown),
		cmocka_unit_test(test_custom_sweep_period),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
