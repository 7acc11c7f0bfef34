/* order_fold.c — folds saga events into the order aggregate. Facts are kept per attempt and
 * the status is derived from the current attempt's facts, so any arrival order gives the
 * same final status and a status never moves backwards within an attempt; events of older
 * attempts only update the money/hold ledger. Deadlines: one StepTimeout per step per
 * attempt, then a second deadline after which a halted saga is flagged stuck. */
#include <stdio.h>
#include <string.h>

#include "event/jsonx.h"
#include "order_internal.h"

#include "core/bugs.h"
#include "core/clock.h"

/* The facts an attempt can establish, one per consumed event type. */
struct order_fact {
	enum event_type type;
	const char *name;        /* key in the "progress" object */
	const char *failed_step; /* set for the three failure events */
};

static const struct order_fact order_facts[] = {
	{ EV_INVENTORY_RESERVED, "reserved", NULL },
	{ EV_INVENTORY_FAILED, "inventory_failed", "inventory" },
	{ EV_PAYMENT_AUTHORIZED, "authorized", NULL },
	{ EV_PAYMENT_FAILED, "payment_failed", "payment" },
	{ EV_ORDER_SHIPPED, "shipped", NULL },
	{ EV_SHIPPING_FAILED, "shipping_failed", "shipping" },
	{ EV_PAYMENT_REFUNDED, "refunded", NULL },
	{ EV_INVENTORY_RELEASED, "released", NULL },
};

static const struct order_fact *order_fact_for(enum event_type t)
{
	for (size_t i = 0; i < ECOM_ARRAY_LEN(order_facts); i++)
		if (order_facts[i].type == t)
			return &order_facts[i];
	return NULL;
}

int order_status_rank(const char *s)
{
	static const struct {
		const char *status;
		int rank;
	} ranks[] = {
		{ ST_CREATED, 0 },	      { ST_RETRYING, 0 },
		{ ST_INVENTORY_RESERVED, 1 }, { ST_PAYMENT_AUTHORIZED, 2 },
		{ ST_INVENTORY_FAILED, 3 },   { ST_PAYMENT_FAILED, 3 },
		{ ST_SHIPPING_FAILED, 3 },    { ST_SHIPPED, 4 },
		{ ST_CANCELLED, 4 },
	};

	if (!s)
		return -1;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(ranks); i++)
		if (strcmp(ranks[i].status, s) == 0)
			return ranks[i].rank;
	return -1;
}

int order_status_is_terminal(const char *status)
{
	return status && (strcmp(status, ST_SHIPPED) == 0 || strcmp(status, ST_CANCELLED) == 0);
}

static int order_has(const json_t *progress, const char *fact)
{
	return jsonx_bool_or(progress, fact, 0);
}

/* The status the current attempt's facts imply. *failure gets the failure status a
 * CANCELLED passes through (NULL otherwise). */
static const char *order_derive(const json_t *st, const char **failure)
{
	const json_t *p = json_object_get(st, "progress");

	*failure = NULL;
	if (order_has(p, "shipped"))
		return ST_SHIPPED;
	if (order_has(p, "shipping_failed")) {
		*failure = ST_SHIPPING_FAILED;
		return order_has(p, "refunded") && order_has(p, "released") ? ST_CANCELLED
									  : ST_SHIPPING_FAILED;
	}
	if (order_has(p, "payment_failed")) {
		*failure = ST_PAYMENT_FAILED;
		return order_has(p, "released") ? ST_CANCELLED : ST_PAYMENT_FAILED;
	}
	if (order_has(p, "inventory_failed")) {
		/* The reservation rolled its partial holds back before failing: nothing to undo. */
		*failure = ST_INVENTORY_FAILED;
		return ST_CANCELLED;
	}
	if (order_has(p, "authorized"))
		return ST_PAYMENT_AUTHORIZED;
	if (order_has(p, "reserved"))
		return ST_INVENTORY_RESERVED;
	return jsonx_int_or(st, "attempt", 0) > 0 ? ST_RETRYING : ST_CREATED;
}

void order_set_status(struct svc_ctx *ctx, json_t *st, const char *status, const char *reason)
{
	int64_t seq = jsonx_int_or(st, "seq", 0) + 1;
	const char *id = jsonx_str(st, "orderId");
	json_t *payload;

	ECOM_ASSERT(id && order_status_rank(status) >= 0);
	jsonx_set_str(st, "status", status);
	jsonx_set_int(st, "seq", seq);
	if (order_status_is_terminal(status)) {
		jsonx_set_bool(st, "retry_running", 0);
		jsonx_set_bool(st, "stuck", 0);
	}
	payload = json_object();
	jsonx_set_str(payload, "orderId", id);
	jsonx_set_str(payload, "status", status);
	jsonx_set_int(payload, "seq", seq);
	jsonx_set_int(payload, "attempt", jsonx_int_or(st, "attempt", 0));
	if (reason)
		jsonx_set_str(payload, "reason", reason);
	svc_emit(ctx, EV_ORDER_STATUS_CHANGED, id, payload);
}

/* Moves to the derived status if it is further along; a CANCELLED first passes through
 * its failure status so that every failure is visible as a status of its own. */
static void order_transition(struct svc_ctx *ctx, json_t *st)
{
	const char *failure, *target = order_derive(st, &failure);
	const char *cur = jsonx_str(st, "status");
	const char *reason = jsonx_str(st, "reason");
	int cur_rank = order_status_rank(cur);

	if (order_status_rank(target) <= cur_rank)
		return;
	if (strcmp(target, ST_CANCELLED) == 0 && failure &&
	    order_status_rank(failure) > cur_rank)
		order_set_status(ctx, st, failure, reason);
	order_set_status(ctx, st, target, reason);
}

static const char *order_step_for(const char *status)
{
	switch (order_status_rank(status)) {
	case 0:
		return "inventory";
	case 1:
		return "payment";
	case 2:
		return "shipping";
	case 3:
		return STEP_COMPENSATION;
	default:
		return NULL;
	}
}

void order_update_step(struct order_service *o, struct svc_ctx *ctx, json_t *st)
{
	const char *want = order_step_for(jsonx_str(st, "status"));
	const char *have = jsonx_str(st, "step");
	int64_t now = svc_now_us(ctx);

	if (want && have && strcmp(want, have) == 0)
		return;
	if (!want && !have)
		return;
	if (!want) {
		json_object_del(st, "step");
		json_object_del(st, "step_started_us");
		json_object_del(st, "deadline_us");
		return;
	}
	/* A saga that moves again is no longer stuck; the new step gets its own deadline. */
	jsonx_set_bool(st, "stuck", 0);
	json_object_del(st, "stuck_step");
	jsonx_set_str(st, "step", want);
	jsonx_set_int(st, "step_started_us", now);
	jsonx_set_int(st, "deadline_us", now + order_deadline_us(o));
}

void order_arm(struct order_service *o, struct svc_ctx *ctx, json_t *st)
{
	int64_t at = 0;

	if (order_bug(o, ctx, BUG_NO_DEADLINE))
		return; /* the planted bug: no saga ever times out */
	if (jsonx_str(st, "step") && !jsonx_bool_or(st, "stuck", 0))
		at = jsonx_int_or(st, "deadline_us", 0);
	svc_set_wake(ctx, at > 0 ? at : 0);
}

void order_touch(struct svc_ctx *ctx, json_t *st)
{
	char iso[25];

	clock_format_iso(svc_wall_ms(ctx), iso);
	jsonx_set_int(st, "updated_us", svc_now_us(ctx));
	jsonx_set_str(st, "updatedAt", iso);
}

void order_history_add(struct svc_ctx *ctx, json_t *st, const char *type, const char *event_id,
		       int64_t attempt)
{
	json_t *h = jsonx_own(st, "history"); /* copy on write (store.h) */
	json_t *e = json_object();
	char iso[25];

	if (!json_is_array(h)) {
		h = json_array();
		jsonx_set_new(st, "history", h);
	}
	clock_format_iso(svc_wall_ms(ctx), iso);
	jsonx_set_str(e, "type", type);
	jsonx_set_str(e, "eventId", event_id);
	jsonx_set_int(e, "attempt", attempt);
	jsonx_set_int(e, "at_us", svc_now_us(ctx));
	jsonx_set_str(e, "at", iso);
	ECOM_ASSERT(json_array_append_new(h, e) == 0);
	/* Bounded: the oldest entries go first; the count says how many went. */
	while (json_array_size(h) > ORDER_HISTORY_MAX) {
		json_array_remove(h, 0);
		jsonx_set_int(st, "history_dropped", jsonx_int_or(st, "history_dropped", 0) + 1);
	}
}

static int order_history_has(const json_t *st, const char *event_id)
{
	const json_t *h = json_object_get(st, "history");
	size_t i;
	json_t *e;

	json_array_foreach(h, i, e) {
		const char *id = jsonx_str(e, "eventId");

		if (id && strcmp(id, event_id) == 0)
			return 1;
	}
	return 0;
}

/* ---- the ledger: what each attempt reserved, released, captured and refunded ------- */

json_t *order_ledger_row(json_t *st, int64_t attempt, int create)
{
	json_t *l = jsonx_own_deep(st, "ledger"); /* rows change in place (store.h) */
	size_t i;
	json_t *row;

	if (!json_is_array(l)) {
		if (!create)
			return NULL;
		l = json_array();
		jsonx_set_new(st, "ledger", l);
	}
	json_array_foreach(l, i, row) {
		if (jsonx_int_or(row, "attempt", -1) == attempt)
			return row;
	}
	if (!create || json_array_size(l) >= ORDER_ATTEMPTS_MAX)
		return NULL;
	row = json_object();
	jsonx_set_int(row, "attempt", attempt);
	jsonx_set_bool(row, "reserved", 0);
	jsonx_set_bool(row, "released", 0);
	jsonx_set_int(row, "captured_cents", 0);
	jsonx_set_int(row, "refunded_cents", 0);
	ECOM_ASSERT(json_array_append_new(l, row) == 0);
	return row;
}

void order_ledger_totals(json_t *st)
{
	json_t *l = json_object_get(st, "ledger");
	int64_t captured = 0, refunded = 0, cur = jsonx_int_or(st, "attempt", 0);
	int held = 0, released = 0;
	size_t i;
	json_t *row;

	json_array_foreach(l, i, row) {
		int res = jsonx_bool_or(row, "reserved", 0);
		int rel = jsonx_bool_or(row, "released", 0);

		captured += jsonx_int_or(row, "captured_cents", 0);
		refunded += jsonx_int_or(row, "refunded_cents", 0);
		if (res && !rel)
			held = 1;
		if (jsonx_int_or(row, "attempt", -1) == cur)
			released = rel;
	}
	jsonx_set_bool(st, "held", held);
	jsonx_set_bool(st, "released", released);
	jsonx_set_int(st, "captured_cents", captured);
	jsonx_set_int(st, "refunded_cents", refunded);
}

static int64_t order_payload_cents(const json_t *payload, const char *key)
{
	int64_t cents = 0;

	if (money_from_json(json_object_get(payload, key), &cents) != ECOM_OK)
		return 0;
	return cents;
}

/* Removes one action from comp_pending (its effect arrived). */
static void order_comp_done(json_t *st, const char *action)
{
	json_t *p = jsonx_own(st, "comp_pending");
	size_t i;

	for (i = 0; i < json_array_size(p); i++) {
		const char *a = json_string_value(json_array_get(p, i));

		if (a && strcmp(a, action) == 0) {
			json_array_remove(p, i);
			return;
		}
	}
}

static void order_ledger_apply(json_t *st, const struct envelope *ev, int64_t attempt)
{
	json_t *row = order_ledger_row(st, attempt, 1);

	if (!row)
		return; /* an attempt the order never started: recorded in history only */
	switch (ev->type) {
	case EV_INVENTORY_RESERVED:
		jsonx_set_bool(row, "reserved", 1);
		break;
	case EV_INVENTORY_RELEASED:
		jsonx_set_bool(row, "released", 1);
		order_comp_done(st, "releaseInventory");
		break;
	case EV_PAYMENT_AUTHORIZED:
		/* One capture per attempt (the gateway key is <orderId>:charge:<attempt>). */
		jsonx_set_int(row, "captured_cents", order_payload_cents(ev->payload, "amount"));
		break;
	case EV_PAYMENT_REFUNDED:
		/* Summed, so that a refund paid twice shows up in the order's record. */
		jsonx_set_int(row, "refunded_cents",
			      jsonx_int_or(row, "refunded_cents", 0) +
				      order_payload_cents(ev->payload, "amount"));
		order_comp_done(st, "refundPayment");
		break;
	default:
		break;
	}
	order_ledger_totals(st);
}

/* Records the fact in the current attempt's progress; the first failure names the step. */
static void order_progress_apply(json_t *st, const struct envelope *ev)
{
	const struct order_fact *f = order_fact_for(ev->type);
	json_t *p = jsonx_own(st, "progress");

	if (!f)
		return;
	if (!json_is_object(p)) {
		p = json_object();
		jsonx_set_new(st, "progress", p);
	}
	jsonx_set_bool(p, f->name, 1);
	if (f->failed_step && !jsonx_str(st, "failed_step")) {
		jsonx_set_str(st, "failed_step", f->failed_step);
		jsonx_set_str(st, "reason", jsonx_str_or(ev->payload, "reason", "unknown"));
	}
}

int order_handle(void *svc, struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	struct order_service *o = svc;
	json_t *st = *state;
	int64_t attempt, cur;

	order_rng_touch(o, ctx);
	/* Orders are inserted before their OrderCreated is published, so an event for an
	 * unknown order is not ours (another system's id): ignore it, as the demo did. */
	if (!st)
		return ECOM_OK;
	/* The runtime's inbox already dropped redeliveries; the history is a second guard. */
	if (order_history_has(st, ev->event_id))
		return ECOM_OK;
	attempt = jsonx_int_or(ev->payload, "attempt", 0);
	cur = jsonx_int_or(st, "attempt", 0);
	order_history_add(ctx, st, event_type_name(ev->type), ev->event_id, attempt);
	if (attempt <= cur)
		order_ledger_apply(st, ev, attempt);
	/* Older attempts are recorded, never applied to the status; newer ones cannot exist
	 * (the order itself starts every attempt), so they are recorded too. */
	if (attempt == cur) {
		order_progress_apply(st, ev);
		order_transition(ctx, st);
		order_update_step(o, ctx, st);
	}
	order_touch(ctx, st);
	order_arm(o, ctx, st);
	return ECOM_OK;
}

/* "<attempt>:<step>" is in the timeouts list once its StepTimeout was emitted. */
static int order_timeout_sent(json_t *st, int64_t attempt, const char *step, int mark)
{
	json_t *t = mark ? jsonx_own(st, "timeouts") : json_object_get(st, "timeouts");
	char key[64];
	size_t i;
	json_t *v;

	snprintf(key, sizeof(key), "%lld:%s", (long long)attempt, step);
	json_array_foreach(t, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), key) == 0)
			return 1;
	}
	if (mark) {
		if (!json_is_array(t)) {
			t = json_array();
			jsonx_set_new(st, "timeouts", t);
		}
		ECOM_ASSERT(json_array_append_new(t, jsonx_string(key)) == 0);
	}
	return 0;
}

int order_wake(void *svc, struct svc_ctx *ctx, const char *collection, const char *id,
	       json_t **state)
{
	struct order_service *o = svc;
	json_t *st = *state;
	const char *step;
	int64_t now = svc_now_us(ctx), attempt, deadline;

	order_rng_touch(o, ctx);
	if (!st)
		return ECOM_OK;
	step = jsonx_str(st, "step");
	deadline = jsonx_int_or(st, "deadline_us", 0);
	if (!step || jsonx_bool_or(st, "stuck", 0) || now < deadline) {
		order_arm(o, ctx, st);
		return ECOM_OK;
	}
	attempt = jsonx_int_or(st, "attempt", 0);
	if (strcmp(step, STEP_COMPENSATION) != 0 && !order_timeout_sent(st, attempt, step, 1)) {
		/* Ask the step's owner to fence it; it answers with its success or failure. */
		json_t *payload = json_object();

		jsonx_set_str(payload, "orderId", jsonx_str(st, "orderId"));
		jsonx_set_str(payload, "step", step);
		jsonx_set_int(payload, "attempt", attempt);
		svc_emit(ctx, EV_STEP_TIMEOUT, jsonx_str(st, "orderId"), payload);
		order_history_add(ctx, st, event_type_name(EV_STEP_TIMEOUT), NULL, attempt);
		jsonx_set_int(st, "deadline_us", now + order_deadline_us(o));
	} else {
		/* The second deadline passed and the saga is still not terminal: report it. */
		jsonx_set_bool(st, "stuck", 1);
		jsonx_set_str(st, "stuck_step", step);
	}
	order_touch(ctx, st);
	order_arm(o, ctx, st);
	return ECOM_OK;
}
