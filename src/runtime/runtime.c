/* runtime.c — the consume loop, the one commit path (load, dedupe, decide, compare-and-swap
 * state + inbox + outbox), timers and API commands. Guarantees: an event's effect and the
 * events it causes are committed together or not at all; a redelivered event is applied
 * once per aggregate (inbox); the offset is committed only after the effect is durable. */
#include "runtime/runtime_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/bugs.h"
#include "event/jsonx.h"

static const char *const reserved_keys[] = {"_id",	     "version",	     "inbox",
					    "outbox",	     "outbox_n",     "outbox_at",
					    "wake_at",	     RT_KEY_OUTBOX_DUE, RT_KEY_WAKE_DUE};

static const char *const rt_event_names[RT__EVENT_COUNT] = {
	[RT_DELIVERED] = "delivered",
	[RT_DUPLICATE_SKIPPED] = "duplicate_skipped",
	[RT_HANDLED] = "handled",
	[RT_IGNORED] = "ignored",
	[RT_COMMIT_CONFLICT] = "commit_conflict",
	[RT_COMMIT_AMBIGUOUS] = "commit_ambiguous",
	[RT_STORE_UNAVAILABLE] = "store_unavailable",
	[RT_RETRY_SCHEDULED] = "retry_scheduled",
	[RT_PUBLISHED] = "published",
	[RT_PUBLISH_FAILED] = "publish_failed",
	[RT_SWEEP_PUBLISHED] = "sweep_published",
	[RT_DEAD_LETTERED] = "dead_lettered",
	[RT_OFFSET_COMMITTED] = "offset_committed",
	[RT_OFFSET_LOST] = "offset_lost",
	[RT_WAKE_FIRED] = "wake_fired",
};

const char *rt_event_name(enum rt_event e)
{
	if ((int)e < 0 || e >= RT__EVENT_COUNT)
		return "unknown";
	return rt_event_names[e];
}

void rt_emit_event(struct runtime *rt, enum rt_event what, int type, const char *detail)
{
	if (rt->cfg.obs && rt->cfg.obs->on_event)
		rt->cfg.obs->on_event(rt->cfg.obs->arg, rt, what, type, detail);
}

/* ---- the handler's context ------------------------------------------------------------ */

int64_t svc_now_us(struct svc_ctx *ctx) { return ctx->now_us; }
int64_t svc_wall_ms(struct svc_ctx *ctx) { return ctx->wall_ms; }
struct rng *svc_rng(struct svc_ctx *ctx) { return ctx->rt->rng; }
const struct envelope *svc_cause(struct svc_ctx *ctx) { return ctx->cause; }
int svc_bug(struct svc_ctx *ctx, uint32_t bug) { return (ctx->rt->cfg.bugs & bug) != 0; }

void svc_emit(struct svc_ctx *ctx, enum event_type type, const char *key, json_t *payload)
{
	struct envelope e;
	const char *corr = NULL, *cause_id = NULL;
	json_t *entry;

	ECOM_ASSERT(json_array_size(ctx->emits) < RT_EMITS_MAX);
	if (ctx->cause) {
		corr = ctx->cause->correlation_id;
		cause_id = ctx->cause->event_id;
	} else {
		corr = key; /* a saga's correlation id is its orderId when it starts here */
	}
	envelope_init(&e, ctx->rt->rng, ctx->wall_ms, type, key, payload, corr, cause_id);
	entry = json_object();
	json_object_set_new(entry, "topic", jsonx_string(event_type_name(type)));
	json_object_set_new(entry, "at", json_integer(ctx->now_us));
	/* The payload is the handler's, handed over: the outbox entry keeps it. */
	json_object_set_new(entry, "event", envelope_to_json_shared(&e));
	json_array_append_new(ctx->emits, entry);
	envelope_deinit(&e);
}

void svc_set_wake(struct svc_ctx *ctx, int64_t at_us)
{
	ctx->wake_touched = 1;
	ctx->wake_at = at_us > 0 ? at_us : 0;
}

int svc_fail(struct svc_ctx *ctx, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- the commit path -------------------------------------------------------------- */

typedef int (*rt_decide_fn)(struct runtime *rt, struct svc_ctx *ctx, json_t **state, void *arg);

static int inbox_has(json_t *inbox, const char *event_id)
{
	size_t i;
	json_t *v;

	json_array_foreach(inbox, i, v)
	{
		const char *s = json_string_value(v);

		if (s && s[0] == event_id[0] && strcmp(s, event_id) == 0)
			return 1; /* (the first byte turns most ids away without a call) */
	}
	return 0;
}

static int is_reserved(const char *key)
{
	for (size_t i = 0; i < ECOM_ARRAY_LEN(reserved_keys); i++)
		if (reserved_keys[i][0] == key[0] && strcmp(key, reserved_keys[i]) == 0)
			return 1; /* (the first letter turns most keys away without a call) */
	return 0;
}

/* The handler's state: a new top level with doc's members but the reserved keys, in doc's
 * order. doc (store_get_view) is only read; the members are shared (copy on write). */
static json_t *state_of(json_t *doc)
{
	json_t *state = json_object(), *v;
	const char *key;

	ECOM_ASSERT(state);
	json_object_foreach(doc, key, v)
		if (!is_reserved(key))
			ECOM_ASSERT(json_object_set_nocheck(state, key, v) == 0);
	return state;
}

static int64_t outbox_oldest(json_t *outbox)
{
	size_t i;
	json_t *v;
	int64_t oldest = 0;

	json_array_foreach(outbox, i, v)
	{
		int64_t at = json_integer_value(json_object_get(v, "at"));

		if (at <= 0)
			at = 1; /* 0 means "absent" in the sweep's range query */
		if (oldest == 0 || at < oldest)
			oldest = at;
	}
	return oldest;
}

/* Writes the reserved keys into doc (the new state object). */
static void doc_seal(json_t *doc, const char *id, int64_t version, json_t *inbox, json_t *outbox,
		     int64_t wake_at)
{
	json_object_set_new(doc, "_id", jsonx_string(id));
	json_object_set_new(doc, "version", json_integer(version));
	json_object_set(doc, "inbox", inbox);
	json_object_set(doc, "outbox", outbox);
	json_object_set_new(doc, "outbox_n", json_integer((json_int_t)json_array_size(outbox)));
	if (json_array_size(outbox) > 0) {
		json_object_set_new(doc, "outbox_at", json_integer(outbox_oldest(outbox)));
		json_object_set_new(doc, RT_KEY_OUTBOX_DUE, json_integer(1));
	} else {
		json_object_del(doc, "outbox_at");
		json_object_del(doc, RT_KEY_OUTBOX_DUE);
	}
	if (wake_at > 0) {
		json_object_set_new(doc, "wake_at", json_integer(wake_at));
		json_object_set_new(doc, RT_KEY_WAKE_DUE, json_integer(1));
	} else {
		json_object_del(doc, "wake_at");
		json_object_del(doc, RT_KEY_WAKE_DUE);
	}
}

struct apply_req {
	const char *collection;
	const char *id;
	const char *event_id;  /* inbox key: set for events, NULL for commands and timers */
	const struct envelope *cause;
	rt_decide_fn decide;
	void *arg;
	int track_change;      /* skip the write when decide changed nothing */
};

struct apply_res {
	int duplicate;
	int committed;
	char err[256];
};

/* Produces emitted entries straight away (the planted bug "publish before commit"). */
static void publish_entries_now(struct runtime *rt, json_t *emits)
{
	size_t i;
	json_t *e;

	json_array_foreach(emits, i, e)
	{
		if (rt_produce_event(rt, json_string_value(json_object_get(e, "topic")),
				     json_object_get(e, "event"), NULL) == ECOM_OK)
			rt_emit_event(rt, RT_PUBLISHED, -1, "before-commit");
	}
}

static int apply_once(struct runtime *rt, const struct apply_req *q, struct apply_res *res,
		      int *retry)
{
	json_t *doc = NULL, *state = NULL, *before = NULL, *inbox = NULL, *outbox = NULL;
	struct svc_ctx ctx;
	int64_t version = 0, wake_at = 0;
	int rc, changed;
	struct ecom_err err;

	*retry = 0;
	memset(&ctx, 0, sizeof(ctx));
	rc = store_get_view(rt->store, q->collection, q->id, &doc, &err); /* read-only */
	if (rc == ECOM_NOT_FOUND) {
		doc = NULL;
	} else if (rc != ECOM_OK) {
		rt_emit_event(rt, RT_STORE_UNAVAILABLE, -1, "get");
		snprintf(res->err, sizeof(res->err), "store get: %s", ecom_rc_name(rc));
		return ECOM_UNAVAILABLE;
	}
	if (doc) {
		inbox = json_incref(json_object_get(doc, "inbox"));
		outbox = json_incref(json_object_get(doc, "outbox"));
		version = json_integer_value(json_object_get(doc, "version"));
		wake_at = json_integer_value(json_object_get(doc, "wake_at"));
	}
	if (!json_is_array(inbox)) {
		json_decref(inbox);
		inbox = json_array();
	}
	if (!json_is_array(outbox)) {
		json_decref(outbox);
		outbox = json_array();
	}
	if (doc && q->event_id && inbox_has(inbox, q->event_id) &&
	    !(rt->cfg.bugs & BUG_SKIP_INBOX_DEDUP)) {
		res->duplicate = 1;
		/* A crash may have struck between commit and publish: finish the job now. */
		if (json_array_size(outbox) > 0)
			rt_publish_doc(rt, q->collection, doc, INT64_MAX, 0);
		rc = ECOM_OK;
		goto out;
	}
	if (doc) {
		state = state_of(doc);
		json_decref(doc);
		doc = NULL;
	}
	/* decide changes members only through jsonx_own* (copy on write), so a new top level
	 * sharing them is a faithful "before". */
	if (q->track_change && state)
		before = jsonx_shallow(state);

	ctx.rt = rt;
	ctx.now_us = clock_now_us(rt->clock);
	ctx.wall_ms = clock_wall_ms(rt->clock);
	ctx.cause = q->cause;
	ctx.emits = json_array();
	ctx.wake_at = wake_at;
	rc = q->decide(rt, &ctx, &state, q->arg);
	if (rc != ECOM_OK) {
		snprintf(res->err, sizeof(res->err), "%s", ctx.err[0] ? ctx.err : ecom_rc_name(rc));
		goto out;
	}
	changed = json_array_size(ctx.emits) > 0 || ctx.wake_at != wake_at ||
		  (q->event_id && state) ||
		  (q->track_change ? !json_equal(before, state) && (before || state) : state != NULL);
	if (!changed) {
		rc = ECOM_OK;
		goto out;
	}
	if (!state)
		state = json_object();
	if (q->event_id) {
		size_t max = rt->def->inbox_max;
		json_t *own = jsonx_shallow(inbox); /* the stored document shares it */

		json_decref(inbox);
		inbox = own;
		json_array_append_new(inbox, jsonx_string(q->event_id));
		while (max > 0 && json_array_size(inbox) > max)
			json_array_remove(inbox, 0);
	}
	if (q->event_id && (rt->cfg.bugs & BUG_PUBLISH_BEFORE_COMMIT)) {
		publish_entries_now(rt, ctx.emits);
	} else if (json_array_size(ctx.emits) > 0) {
		json_t *own = jsonx_shallow(outbox);

		json_decref(outbox);
		outbox = own;
		json_array_extend(outbox, ctx.emits);
	}
	doc_seal(state, q->id, version + 1, inbox, outbox, ctx.wake_at);
	rc = version == 0 ? store_insert(rt->store, q->collection, state, &err)
			  : store_replace(rt->store, q->collection, state, version, &err);
	switch (rc) {
	case ECOM_OK:
		res->committed = 1;
		if (rt->cfg.obs && rt->cfg.obs->on_commit)
			rt->cfg.obs->on_commit(rt->cfg.obs->arg, rt, q->collection, state);
		if (json_array_size(outbox) > 0)
			rt_publish_doc(rt, q->collection, state, INT64_MAX, 0);
		break;
	case ECOM_CONFLICT:
		rt_emit_event(rt, RT_COMMIT_CONFLICT, q->cause ? (int)q->cause->type : -1, q->id);
		*retry = 1;
		break;
	case ECOM_AMBIGUOUS:
		/* Maybe applied: re-read; the inbox (or the command's idempotence) decides. */
		rt_emit_event(rt, RT_COMMIT_AMBIGUOUS, q->cause ? (int)q->cause->type : -1, q->id);
		*retry = 1;
		break;
	default:
		rt_emit_event(rt, RT_STORE_UNAVAILABLE, -1, "commit");
		snprintf(res->err, sizeof(res->err), "store commit: %s", ecom_rc_name(rc));
		rc = ECOM_UNAVAILABLE;
		break;
	}
out:
	json_decref(doc);
	json_decref(state);
	json_decref(before);
	json_decref(inbox);
	json_decref(outbox);
	json_decref(ctx.emits);
	return rc;
}

static int rt_apply(struct runtime *rt, const struct apply_req *q, struct apply_res *res,
		    int max_rounds)
{
	int rc = ECOM_UNAVAILABLE, retry;

	memset(res, 0, sizeof(*res));
	for (int round = 0; round < max_rounds; round++) {
		rc = apply_once(rt, q, res, &retry);
		if (!retry)
			return rc;
		rt->stats.conflicts++;
	}
	snprintf(res->err, sizeof(res->err), "gave up after %d conflicting commits", max_rounds);
	return ECOM_UNAVAILABLE;
}

/* ---- events ------------------------------------------------------------------------ */

static int decide_handler(struct runtime *rt, struct svc_ctx *ctx, json_t **state, void *arg)
{
	const struct envelope *ev = arg;
	int64_t t0 = clock_now_us(rt->clock);
	int rc = rt->def->handle(rt->svc, ctx, state, ev);

	if (rt->cfg.obs && rt->cfg.obs->on_latency)
		rt->cfg.obs->on_latency(rt->cfg.obs->arg, rt, (int)ev->type,
					clock_now_us(rt->clock) - t0);
	return rc;
}

static void commit_offset(struct runtime *rt)
{
	const struct broker_msg *m = &rt->msg;
	int rc = broker_commit(rt->broker, m->topic, m->partition, m->offset + 1, NULL);

	if (rc == ECOM_OK) {
		rt_emit_event(rt, RT_OFFSET_COMMITTED, -1, m->topic);
	} else {
		/* CONFLICT: the partition moved (rebalance); UNAVAILABLE: commit lost. Either way
		 * the message will be redelivered and deduplicated. */
		rt->stats.offsets_lost++;
		rt_emit_event(rt, RT_OFFSET_LOST, -1, m->topic);
	}
	rt->has_msg = 0;
	rt->msg_dead = 0;
	rt->attempts = 0;
}

static int64_t backoff_us(struct runtime *rt)
{
	int64_t d = rt->cfg.backoff_base_us;

	for (int i = 1; i < rt->attempts && d < rt->cfg.backoff_max_us; i++)
		d *= 2;
	if (d > rt->cfg.backoff_max_us)
		d = rt->cfg.backoff_max_us;
	/* "Equal jitter": half fixed, half random, so retries of many consumers spread out. */
	return d / 2 + (int64_t)rng_below(rt->rng, (uint64_t)(d / 2) + 1);
}

/* A transient failure: back off and keep the message, or give up into the DLQ. */
static void transient(struct runtime *rt, const char *why)
{
	int64_t wall = clock_wall_ms(rt->clock);

	rt->attempts++;
	if (rt->attempts == 1)
		rt->first_fail_ms = wall;
	rt->last_fail_ms = wall;
	snprintf(rt->last_error, sizeof(rt->last_error), "%s", why);
	if (!rt->msg_dead && rt->attempts >= rt->cfg.max_attempts) {
		snprintf(rt->last_error, sizeof(rt->last_error), "gave up after %d attempts: %s",
			 rt->attempts, why);
		rt->msg_dead = 1;
	}
	rt->retry_at_us = clock_now_us(rt->clock) + backoff_us(rt);
	rt->stats.retries++;
	rt_emit_event(rt, RT_RETRY_SCHEDULED, -1, why);
}

static void process_dead(struct runtime *rt)
{
	if (rt->cfg.bugs & BUG_DROP_POISON) {
		commit_offset(rt); /* the planted bug: poison vanishes without a trace */
		return;
	}
	if (rt_dead_letter(rt, &rt->msg, rt->last_error, rt->attempts) == ECOM_OK) {
		rt->stats.dead_lettered++;
		rt_emit_event(rt, RT_DEAD_LETTERED, -1, rt->msg.topic);
		commit_offset(rt);
		return;
	}
	transient(rt, rt->last_error[0] ? rt->last_error : "dead-letter produce failed");
}

static void process_msg(struct runtime *rt)
{
	struct envelope ev;
	struct ecom_err err;
	struct svc_route route;
	struct apply_req q;
	struct apply_res res;
	int rc;

	if (rt->msg_dead) {
		process_dead(rt);
		return;
	}
	ecom_err_clear(&err);
	/* Handlers only read the event (a payload part they keep is shared, jsonx.h's copy on
	 * write): the envelope may hold the broker's tree itself. */
	rc = envelope_parse_shared(rt->msg.value, rt->msg.value_len, rt->msg.parsed, &ev, &err);
	if (rc != ECOM_OK) {
		snprintf(rt->last_error, sizeof(rt->last_error), "%s", err.msg);
		rt->msg_dead = 1;
		process_dead(rt);
		return;
	}
	memset(&route, 0, sizeof(route));
	rc = rt->def->route(rt->svc, &ev, &route);
	if (rc == ECOM_NOT_FOUND) {
		rt_emit_event(rt, RT_IGNORED, (int)ev.type, ev.event_id);
		envelope_deinit(&ev);
		commit_offset(rt);
		return;
	}
	if (rc != ECOM_OK) {
		snprintf(rt->last_error, sizeof(rt->last_error), "cannot route %s: %s",
			 event_type_name(ev.type), ecom_rc_name(rc));
		envelope_deinit(&ev);
		rt->msg_dead = 1;
		process_dead(rt);
		return;
	}
	q = (struct apply_req){.collection = route.collection,
			       .id = route.id,
			       .event_id = ev.event_id,
			       .cause = &ev,
			       .decide = decide_handler,
			       .arg = &ev};
	rc = rt_apply(rt, &q, &res, RT_CAS_ATTEMPTS_MAX);
	if (rc == ECOM_OK) {
		if (res.duplicate) {
			rt->stats.duplicates++;
			rt_emit_event(rt, RT_DUPLICATE_SKIPPED, (int)ev.type, ev.event_id);
		} else {
			rt->stats.handled++;
			rt_emit_event(rt, RT_HANDLED, (int)ev.type, ev.event_id);
		}
		commit_offset(rt);
	} else if (rc == ECOM_UNAVAILABLE) {
		transient(rt, res.err);
	} else {
		snprintf(rt->last_error, sizeof(rt->last_error), "%s: %s", event_type_name(ev.type),
			 res.err);
		rt->msg_dead = 1;
		process_dead(rt);
	}
	envelope_deinit(&ev);
}

/* ---- timers ------------------------------------------------------------------------ */

struct wake_arg {
	const char *collection;
	const char *id;
};

static int decide_wake(struct runtime *rt, struct svc_ctx *ctx, json_t **state, void *arg)
{
	struct wake_arg *w = arg;

	/* Re-check on the fresh read: another instance may have fired it already. */
	if (ctx->wake_at == 0 || ctx->wake_at > ctx->now_us || !*state)
		return ECOM_OK;
	svc_set_wake(ctx, 0); /* one-shot; the service re-arms if it wants */
	rt_emit_event(rt, RT_WAKE_FIRED, -1, w->id);
	return rt->def->wake(rt->svc, ctx, w->collection, w->id, state);
}

int rt_fire_wake(struct runtime *rt, const char *collection, const char *id, int64_t now_us)
{
	struct wake_arg w = {collection, id};
	struct apply_req q = {.collection = collection,
			      .id = id,
			      .decide = decide_wake,
			      .arg = &w,
			      .track_change = 1};
	struct apply_res res;

	(void)now_us;
	return rt_apply(rt, &q, &res, RT_CAS_ATTEMPTS_MAX);
}

/* ---- commands ---------------------------------------------------------------------- */

struct exec_arg {
	svc_exec_fn fn;
	void *arg;
};

static int decide_exec(struct runtime *rt, struct svc_ctx *ctx, json_t **state, void *arg)
{
	struct exec_arg *x = arg;

	(void)rt;
	return x->fn(x->arg, ctx, state);
}

int runtime_exec(struct runtime *rt, const char *collection, const char *id, svc_exec_fn fn,
		 void *arg, struct ecom_err *err)
{
	struct exec_arg x = {fn, arg};
	struct apply_req q = {.collection = collection,
			      .id = id,
			      .decide = decide_exec,
			      .arg = &x,
			      .track_change = 1};
	struct apply_res res;
	int rc;

	ECOM_ASSERT(rt && collection && id && fn);
	rc = rt_apply(rt, &q, &res, RT_EXEC_ATTEMPTS_MAX);
	if (rc != ECOM_OK)
		ecom_err_set(err, rc, "%s", res.err);
	return rc;
}

/* ---- life cycle -------------------------------------------------------------------- */

struct runtime *runtime_new(const struct svc_def *def, void *svc, struct broker *b,
			    struct store *s, struct eclock *c, struct rng *r,
			    const struct runtime_config *cfg)
{
	struct runtime *rt = ecom_xcalloc(1, sizeof(*rt));

	ECOM_ASSERT(def && def->name && def->route && def->handle && b && s && c && r);
	ECOM_ASSERT(def->n_types + def->n_extra_topics <= BROKER_MAX_TOPICS);
	rt->def = def;
	rt->svc = svc;
	rt->broker = b;
	rt->store = s;
	rt->clock = c;
	rt->rng = r;
	if (cfg)
		rt->cfg = *cfg;
	if (rt->cfg.sweep_interval_us <= 0)
		rt->cfg.sweep_interval_us = 500 * 1000;
	if (rt->cfg.outbox_grace_us <= 0)
		rt->cfg.outbox_grace_us = 1000 * 1000;
	if (rt->cfg.backoff_base_us <= 0)
		rt->cfg.backoff_base_us = 10 * 1000;
	if (rt->cfg.backoff_max_us <= 0)
		rt->cfg.backoff_max_us = 5 * 1000 * 1000;
	if (rt->cfg.max_attempts <= 0)
		rt->cfg.max_attempts = 30;
	if (rt->cfg.group)
		snprintf(rt->group, sizeof(rt->group), "%s", rt->cfg.group);
	else
		snprintf(rt->group, sizeof(rt->group), "%s-service-group", def->name);
	snprintf(rt->instance, sizeof(rt->instance), "%s",
		 rt->cfg.instance ? rt->cfg.instance : def->name);
	rt->cfg.group = rt->group;
	rt->cfg.instance = rt->instance;
	for (size_t i = 0; i < def->n_types; i++)
		rt->topics[rt->n_topics++] = event_type_name(def->types[i]);
	for (size_t i = 0; i < def->n_extra_topics; i++)
		rt->topics[rt->n_topics++] = def->extra_topics[i];
	return rt;
}

int runtime_start(struct runtime *rt, struct ecom_err *err)
{
	rt->next_sweep_us = clock_now_us(rt->clock);
	if (rt->n_topics == 0)
		return ECOM_OK;
	return broker_subscribe(rt->broker, rt->group, rt->topics, rt->n_topics, err);
}

int runtime_step(struct runtime *rt, int64_t *next_us)
{
	int64_t now = clock_now_us(rt->clock);
	struct ecom_err err;
	int rc;

	*next_us = now;
	if (now >= rt->next_sweep_us) {
		rt->next_sweep_us = now + rt->cfg.sweep_interval_us;
		if (rt_sweep(rt, now) > 0)
			return 1;
	}
	if (rt->has_msg) {
		if (now >= rt->retry_at_us) {
			process_msg(rt);
			return 1;
		}
	} else if (rt->n_topics > 0) {
		rc = broker_poll(rt->broker, 0, &rt->msg, &err);
		if (rc == ECOM_OK) {
			rt->has_msg = 1;
			rt->msg_dead = 0;
			rt->attempts = 0;
			rt->retry_at_us = 0;
			rt->first_fail_ms = rt->last_fail_ms = 0;
			rt->last_error[0] = '\0';
			rt->stats.delivered++;
			rt_emit_event(rt, RT_DELIVERED, -1, rt->msg.topic);
			process_msg(rt);
			return 1;
		}
	}
	*next_us = rt->next_sweep_us;
	if (rt->has_msg && rt->retry_at_us < *next_us)
		*next_us = rt->retry_at_us;
	return 0;
}

void runtime_free(struct runtime *rt)
{
	free(rt);
}

const char *runtime_instance(const struct runtime *rt) { return rt->instance; }
const struct svc_def *runtime_def(const struct runtime *rt) { return rt->def; }
struct store *runtime_store(struct runtime *rt) { return rt->store; }
struct rng *runtime_rng(struct runtime *rt) { return rt->rng; }
const struct broker_msg *runtime_current_msg(const struct runtime *rt)
{
	return rt->has_msg ? &rt->msg : NULL;
}

void runtime_get_stats(const struct runtime *rt, struct runtime_stats *out)
{
	*out = rt->stats;
}
