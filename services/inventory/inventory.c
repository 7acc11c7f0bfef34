/* inventory.c — reservations (per order) and stock (per SKU), see inventory.h for the
 * protocol. Handlers are pure decisions over the aggregate and the event: they mutate the
 * state object and queue events; the runtime commits both in one compare-and-swap. Every
 * reservation handler ends in res_settle(), the one place that turns "all holds answered"
 * and "all releases answered" into InventoryReserved / InventoryFailed / InventoryReleased. */
#include "services/inventory/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bugs.h"
#include "event/jsonx.h"

/* Transient store errors tolerated per SKU while seeding. */
#define INVENTORY_SEED_RETRIES_MAX 8

struct inventory_service {
	struct inventory_config cfg;
};

/* ---- small helpers ---------------------------------------------------------------- */

static int64_t ev_attempt(const struct envelope *ev)
{
	return jsonx_int_or(ev->payload, "attempt", 0);
}

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static const char *line_st(const json_t *line)
{
	return jsonx_str_or(line, "st", "none");
}

static json_t *line_find(json_t *lines, const char *sku)
{
	size_t i;
	json_t *l;

	json_array_foreach(lines, i, l) {
		if (streq(jsonx_str(l, "sku"), sku))
			return l;
	}
	return NULL;
}

static size_t lines_count(json_t *lines, const char *st)
{
	size_t i, n = 0;
	json_t *l;

	json_array_foreach(lines, i, l) {
		if (streq(line_st(l), st))
			n++;
	}
	return n;
}

/* [{sku, qty}] of the lines in state st (all lines when st is NULL). New reference. */
static json_t *lines_items(json_t *lines, const char *st)
{
	json_t *out = json_array(), *l;
	size_t i;

	json_array_foreach(lines, i, l) {
		if (st && !streq(line_st(l), st))
			continue;
		json_array_append_new(out, json_pack("{s:s, s:I}", "sku", jsonx_str(l, "sku"),
						     "qty", (json_int_t)jsonx_int_or(l, "qty", 0)));
	}
	return out;
}

static void emit_stock_cmd(struct svc_ctx *ctx, const char *order_id, const char *sku,
			   int64_t qty, const char *op, int64_t attempt)
{
	json_t *p = json_pack("{s:s, s:s, s:I, s:s, s:I}", "orderId", order_id, "sku", sku, "qty",
			      (json_int_t)qty, "op", op, "attempt", (json_int_t)attempt);

	svc_emit(ctx, EV_STOCK_COMMAND, sku, p);
}

/* ---- reservations ----------------------------------------------------------------- */

static json_t *res_new(const char *order_id, int64_t attempt, const char *phase)
{
	json_t *r = json_object();

	jsonx_set_str(r, "orderId", order_id);
	jsonx_set_bool(r, "known", 0);
	jsonx_set_int(r, "total_cents", 0);
	jsonx_set_int(r, "attempt", attempt);
	jsonx_set_str(r, "phase", phase);
	jsonx_set_new(r, "lines", json_array());
	jsonx_set_str(r, "fail_reason", "");
	jsonx_set_bool(r, "fail_emitted", 0);
	jsonx_set_bool(r, "release_notice", 0);
	return r;
}

static const char *res_phase(const json_t *r)
{
	return jsonx_str_or(r, "phase", "");
}

static int64_t res_attempt(const json_t *r)
{
	return jsonx_int_or(r, "attempt", 0);
}

static const char *res_order(const json_t *r)
{
	return jsonx_str_or(r, "orderId", "");
}

/* Sends a release for one line. track: the line becomes "releasing" and its answer is
 * awaited; otherwise it is a fire-and-forget clean-up of a hold nobody wants. */
static void res_release_line(struct svc_ctx *ctx, json_t *r, json_t *line, int64_t attempt,
			     int track)
{
	const char *sku = jsonx_str(line, "sku");
	int64_t qty = jsonx_int_or(line, "qty", 1);

	emit_stock_cmd(ctx, res_order(r), sku, qty, "release", attempt);
	if (svc_bug(ctx, BUG_RELEASE_STOCK_TWICE))
		emit_stock_cmd(ctx, res_order(r), sku, qty, "release", attempt);
	if (track)
		jsonx_set_str(line, "st", "releasing");
}

/* Releases every line answered "held" (tracked). Pending lines are released when their
 * answer arrives, since the phase is then no longer "reserving". */
static void res_release_held(struct svc_ctx *ctx, json_t *r)
{
	json_t *lines = json_object_get(r, "lines"), *l;
	size_t i;

	json_array_foreach(lines, i, l) {
		if (streq(line_st(l), "held"))
			res_release_line(ctx, r, l, res_attempt(r), 1);
	}
}

/* Sends a hold for every line and enters "reserving". */
static void res_start_reserving(struct svc_ctx *ctx, json_t *r)
{
	json_t *lines = json_object_get(r, "lines"), *l;
	size_t i;

	jsonx_set_str(r, "phase", "reserving");
	json_array_foreach(lines, i, l) {
		jsonx_set_str(l, "st", "pending");
		emit_stock_cmd(ctx, res_order(r), jsonx_str(l, "sku"), jsonx_int_or(l, "qty", 1),
			       "hold", res_attempt(r));
	}
}

static void res_emit_failed(struct svc_ctx *ctx, json_t *r)
{
	json_t *p = json_pack("{s:s, s:s, s:I}", "orderId", res_order(r), "reason",
			      jsonx_str_or(r, "fail_reason", "out_of_stock"), "attempt",
			      (json_int_t)res_attempt(r));

	svc_emit(ctx, EV_INVENTORY_FAILED, res_order(r), p);
	jsonx_set_bool(r, "fail_emitted", 1);
}

/* Turns answered holds and releases into the saga's events (idempotent: each fires once). */
static void res_settle(struct svc_ctx *ctx, json_t *r)
{
	json_t *lines = json_object_get(r, "lines");

	if (streq(res_phase(r), "reserving") && lines_count(lines, "pending") == 0) {
		if (lines_count(lines, "held") == json_array_size(lines)) {
			json_t *p = json_pack("{s:s, s:o, s:o, s:I}", "orderId", res_order(r),
					      "reservedItems", lines_items(lines, NULL), "total",
					      money_to_json(jsonx_int_or(r, "total_cents", 0)),
					      "attempt", (json_int_t)res_attempt(r));

			jsonx_set_str(r, "phase", "reserved");
			svc_emit(ctx, EV_INVENTORY_RESERVED, res_order(r), p);
		} else {
			jsonx_set_str(r, "phase", "failed");
			if (!jsonx_str_or(r, "fail_reason", "")[0])
				jsonx_set_str(r, "fail_reason", "out_of_stock");
			res_release_held(ctx, r);
		}
	}
	if (lines_count(lines, "releasing") > 0)
		return;
	if (streq(res_phase(r), "failed") && !jsonx_bool_or(r, "fail_emitted", 0))
		res_emit_failed(ctx, r);
	if (jsonx_bool_or(r, "release_notice", 0)) {
		json_t *p = json_pack("{s:s, s:o, s:I}", "orderId", res_order(r), "releasedItems",
				      lines_items(lines, "released"), "attempt",
				      (json_int_t)res_attempt(r));

		jsonx_set_bool(r, "release_notice", 0);
		svc_emit(ctx, EV_INVENTORY_RELEASED, res_order(r), p);
	}
}

/* Merges the order's items into lines sorted by SKU, one per distinct SKU. */
static int res_set_lines(struct svc_ctx *ctx, json_t *r, const json_t *items)
{
	json_t *lines = json_array(), *it;
	size_t i;

	json_array_foreach(items, i, it) {
		const char *sku = jsonx_str(it, "sku");
		int64_t qty = jsonx_int_or(it, "qty", 0);
		json_t *l = line_find(lines, sku);
		size_t at;

		if (!sku || qty <= 0) {
			json_decref(lines);
			return svc_fail(ctx, ECOM_INVALID, "items[%zu]: bad sku or qty", i);
		}
		if (l) {
			jsonx_set_int(l, "qty", jsonx_int_or(l, "qty", 0) + qty);
			continue;
		}
		if (json_array_size(lines) >= INVENTORY_LINES_MAX) {
			json_decref(lines);
			return svc_fail(ctx, ECOM_INVALID, "more than %d distinct SKUs",
					INVENTORY_LINES_MAX);
		}
		for (at = 0; at < json_array_size(lines); at++)
			if (strcmp(jsonx_str(json_array_get(lines, at), "sku"), sku) > 0)
				break;
		json_array_insert_new(lines, at,
				      json_pack("{s:s, s:I, s:s}", "sku", sku, "qty",
						(json_int_t)qty, "st", "none"));
	}
	jsonx_set_new(r, "lines", lines);
	jsonx_set_bool(r, "known", 1);
	return ECOM_OK;
}

static int res_on_order_created(struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	const char *order_id = jsonx_str(ev->payload, "orderId");
	int64_t cents = 0;
	json_t *r = *state;
	int rc;

	if (money_from_json(json_object_get(ev->payload, "total"), &cents) != ECOM_OK)
		return svc_fail(ctx, ECOM_INVALID, "payload.total: bad amount");
	if (r && jsonx_bool_or(r, "known", 0))
		return ECOM_OK; /* a second OrderCreated for the same order: nothing new */
	if (!r) {
		r = res_new(order_id, ev_attempt(ev), "awaiting_order");
		*state = r;
	}
	rc = res_set_lines(ctx, r, json_object_get(ev->payload, "items"));
	if (rc != ECOM_OK)
		return rc;
	jsonx_set_int(r, "total_cents", cents);
	/* Only a reservation still waiting for its order starts; one that a deadline or a
	 * compensation closed before the order arrived just learns the items. */
	if (streq(res_phase(r), "awaiting_order"))
		res_start_reserving(ctx, r);
	return ECOM_OK;
}

static void res_on_hold_result(struct svc_ctx *ctx, json_t *r, json_t *line, int64_t attempt,
			       int ok, const char *reason)
{
	const char *st = line_st(line);

	if (attempt != res_attempt(r)) {
		/* An older attempt's hold that succeeded: nobody wants it any more. A newer
		 * attempt's hold cannot be taken by an older release (stock rules). */
		if (ok && attempt < res_attempt(r))
			res_release_line(ctx, r, line, attempt, 0);
		return;
	}
	if (!ok) {
		if (streq(st, "pending")) {
			jsonx_set_str(line, "st", "refused");
			if (!jsonx_str_or(r, "fail_reason", "")[0])
				jsonx_set_str(r, "fail_reason", reason ? reason : "out_of_stock");
		}
		return;
	}
	if (streq(st, "pending")) {
		if (streq(res_phase(r), "reserving"))
			jsonx_set_str(line, "st", "held");
		else
			res_release_line(ctx, r, line, attempt, 1); /* cancelled meanwhile */
		return;
	}
	if (streq(st, "held") || streq(st, "committing"))
		return; /* a redelivered hold answered by the no-op rule */
	/* refused, releasing, released, committed, none: a hold re-applied after we let go */
	res_release_line(ctx, r, line, attempt, 0);
}

static int res_on_stock_result(struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	json_t *r = *state, *line;
	const char *op = jsonx_str(ev->payload, "op");
	int64_t attempt = ev_attempt(ev);

	if (!r)
		return ECOM_OK; /* no reservation ever asked: nothing to record */
	line = line_find(json_object_get(r, "lines"), jsonx_str(ev->payload, "sku"));
	if (!line)
		return ECOM_OK;
	if (streq(op, "hold")) {
		res_on_hold_result(ctx, r, line, attempt, jsonx_bool_or(ev->payload, "ok", 0),
				   jsonx_str(ev->payload, "reason"));
	} else if (attempt == res_attempt(r)) {
		if (streq(op, "release") && streq(line_st(line), "releasing"))
			jsonx_set_str(line, "st", "released");
		else if (streq(op, "commit") && streq(line_st(line), "committing"))
			jsonx_set_str(line, "st", "committed");
	}
	return ECOM_OK;
}

/* PaymentFailed, ShippingFailed, or a compensation: let go of everything not shipped. */
static void res_release_all(struct svc_ctx *ctx, json_t *r)
{
	const char *phase = res_phase(r);

	jsonx_set_bool(r, "release_notice", 1);
	if (streq(phase, "committed"))
		return; /* shipped: nothing held any more */
	res_release_held(ctx, r);
	if (!streq(phase, "failed"))
		jsonx_set_str(r, "phase", "released");
}

static int res_on_step_failed(struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	json_t *r = *state;

	if (!r || ev_attempt(ev) != res_attempt(r))
		return ECOM_OK; /* never reserved here, or an attempt already superseded */
	res_release_all(ctx, r);
	return ECOM_OK;
}

static int res_on_shipped(struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	json_t *r = *state, *l;
	size_t i;

	if (!r || ev_attempt(ev) != res_attempt(r) || !streq(res_phase(r), "reserved"))
		return ECOM_OK;
	json_array_foreach(json_object_get(r, "lines"), i, l) {
		emit_stock_cmd(ctx, res_order(r), jsonx_str(l, "sku"), jsonx_int_or(l, "qty", 1),
			       "commit", res_attempt(r));
		jsonx_set_str(l, "st", "committing");
	}
	jsonx_set_str(r, "phase", "committed");
	return ECOM_OK;
}

static int res_on_retry(struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	json_t *r = *state;
	int64_t attempt = ev_attempt(ev);

	if (!r) {
		/* The retry overtook the order: reserve once the items are known. */
		*state = res_new(jsonx_str(ev->payload, "orderId"), attempt, "awaiting_order");
		return ECOM_OK;
	}
	if (attempt <= res_attempt(r) || streq(res_phase(r), "committed"))
		return ECOM_OK; /* a duplicate, a stale retry, or a shipped order */
	jsonx_set_int(r, "attempt", attempt);
	jsonx_set_str(r, "fail_reason", "");
	jsonx_set_bool(r, "fail_emitted", 0);
	jsonx_set_bool(r, "release_notice", 0);
	if (jsonx_bool_or(r, "known", 0))
		res_start_reserving(ctx, r);
	else
		jsonx_set_str(r, "phase", "awaiting_order");
	return ECOM_OK;
}

static int res_on_compensation(struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	if (!*state)
		*state = res_new(jsonx_str(ev->payload, "orderId"), ev_attempt(ev), "released");
	res_release_all(ctx, *state);
	return ECOM_OK;
}

static int res_on_timeout(struct svc_ctx *ctx, json_t **state, const struct envelope *ev)
{
	json_t *r = *state, *l;
	int64_t attempt = ev_attempt(ev);
	const char *phase;
	size_t i;

	if (!r) {
		r = res_new(jsonx_str(ev->payload, "orderId"), attempt, "awaiting_order");
		*state = r;
	}
	if (attempt < res_attempt(r))
		return ECOM_OK; /* an old attempt's deadline */
	if (attempt > res_attempt(r)) {
		/* The order is on an attempt we never heard of: fence it before it arrives. */
		jsonx_set_int(r, "attempt", attempt);
		json_array_foreach(json_object_get(r, "lines"), i, l)
			jsonx_set_str(l, "st", "none");
		jsonx_set_str(r, "phase", "awaiting_order");
		jsonx_set_bool(r, "fail_emitted", 0);
		jsonx_set_bool(r, "release_notice", 0);
	}
	phase = res_phase(r);
	if (streq(phase, "reserving") || streq(phase, "awaiting_order")) {
		jsonx_set_str(r, "phase", "failed");
		jsonx_set_str(r, "fail_reason", "deadline");
		res_release_held(ctx, r);
		res_emit_failed(ctx, r);
	} else if (streq(phase, "failed") && !jsonx_bool_or(r, "fail_emitted", 0)) {
		res_emit_failed(ctx, r); /* releases still in flight: answer the deadline now */
	}
	return ECOM_OK;
}

/* ---- stock ------------------------------------------------------------------------ */

static json_t *stock_new(const char *sku, int64_t units)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "sku", sku, "initial", (json_int_t)units,
			 "available", (json_int_t)units, "held", (json_int_t)0, "shipped",
			 (json_int_t)0, "holds", json_object());
}

static void stock_add(json_t *s, const char *field, int64_t delta)
{
	jsonx_set_int(s, field, jsonx_int_or(s, field, 0) + delta);
}

static void emit_stock_result(struct svc_ctx *ctx, const json_t *cmd, int64_t qty, int ok,
			      const char *reason)
{
	json_t *p = json_pack("{s:s, s:s, s:I, s:s, s:b, s:I}", "orderId",
			      jsonx_str(cmd, "orderId"), "sku", jsonx_str(cmd, "sku"), "qty",
			      (json_int_t)qty, "op", jsonx_str(cmd, "op"), "ok", ok, "attempt",
			      (json_int_t)jsonx_int_or(cmd, "attempt", 0));

	if (reason)
		jsonx_set_str(p, "reason", reason);
	svc_emit(ctx, EV_STOCK_RESULT, jsonx_str(cmd, "orderId"), p);
}

/* Moves an active hold's units back to available and forgets the hold. */
static int64_t stock_drop_hold(json_t *s, json_t *holds, const char *order_id, const char *to)
{
	int64_t qty = jsonx_int_or(json_object_get(holds, order_id), "qty", 0);

	stock_add(s, "held", -qty);
	stock_add(s, to, qty);
	json_object_del(holds, order_id);
	return qty;
}

static void stock_hold(struct svc_ctx *ctx, json_t *s, json_t *holds, const json_t *cmd)
{
	const char *order_id = jsonx_str(cmd, "orderId");
	int64_t qty = jsonx_int_or(cmd, "qty", 0), attempt = jsonx_int_or(cmd, "attempt", 0);
	json_t *h = json_object_get(holds, order_id);

	if (h) {
		int64_t held_attempt = jsonx_int_or(h, "attempt", 0);

		if (held_attempt == attempt) {
			emit_stock_result(ctx, cmd, jsonx_int_or(h, "qty", 0), 1, NULL);
			return;
		}
		if (held_attempt > attempt) {
			emit_stock_result(ctx, cmd, 0, 0, "stale_attempt");
			return;
		}
		/* A newer attempt takes over: the old hold is released first. */
		stock_drop_hold(s, holds, order_id, "available");
	}
	if (jsonx_int_or(s, "available", 0) < qty && !svc_bug(ctx, BUG_OVERSELL)) {
		emit_stock_result(ctx, cmd, 0, 0, "out_of_stock");
		return;
	}
	stock_add(s, "available", -qty);
	stock_add(s, "held", qty);
	json_object_set_new(holds, order_id,
			    json_pack("{s:I, s:I}", "qty", (json_int_t)qty, "attempt",
				      (json_int_t)attempt));
	emit_stock_result(ctx, cmd, qty, 1, NULL);
}

/* release and commit: act on a hold of this attempt or an older one; anything else is
 * already done (answered ok with qty 0). */
static void stock_let_go(struct svc_ctx *ctx, json_t *s, json_t *holds, const json_t *cmd,
			 int commit)
{
	const char *order_id = jsonx_str(cmd, "orderId");
	json_t *h = json_object_get(holds, order_id);
	int64_t qty = 0;

	if (h && jsonx_int_or(h, "attempt", 0) <= jsonx_int_or(cmd, "attempt", 0)) {
		qty = stock_drop_hold(s, holds, order_id, commit ? "shipped" : "available");
	} else if (!commit && svc_bug(ctx, BUG_RELEASE_STOCK_TWICE)) {
		/* The planted bug: trust the command instead of the hold. */
		qty = jsonx_int_or(cmd, "qty", 0);
		stock_add(s, "available", qty);
	}
	emit_stock_result(ctx, cmd, qty, 1, NULL);
}

static int stock_handle(struct inventory_service *svc, struct svc_ctx *ctx, json_t **state,
			const struct envelope *ev)
{
	const json_t *cmd = ev->payload;
	const char *sku = jsonx_str(cmd, "sku"), *op = jsonx_str(cmd, "op");
	json_t *holds;

	if (!*state) {
		const struct catalog_item *it =
			svc->cfg.catalog ? catalog_find(svc->cfg.catalog, sku) : NULL;

		*state = stock_new(sku, it ? it->stock : 0);
	}
	holds = jsonx_own(*state, "holds"); /* copy on write (store.h); holds are replaced */
	if (!json_is_object(holds)) {
		holds = json_object();
		jsonx_set_new(*state, "holds", holds);
	}
	if (streq(op, "hold"))
		stock_hold(ctx, *state, holds, cmd);
	else if (streq(op, "release"))
		stock_let_go(ctx, *state, holds, cmd, 0);
	else if (streq(op, "commit"))
		stock_let_go(ctx, *state, holds, cmd, 1);
	else
		return svc_fail(ctx, ECOM_INVALID, "payload.op: unknown stock op");
	return ECOM_OK;
}

/* ---- the service definition ------------------------------------------------------- */

static int inventory_handle(void *p, struct svc_ctx *ctx, json_t **state,
			    const struct envelope *ev)
{
	struct inventory_service *svc = p;
	int rc;

	if (ev->type == EV_STOCK_COMMAND)
		return stock_handle(svc, ctx, state, ev);
	/* A reservation's lines change in place below; a few per order (store.h). */
	if (*state)
		jsonx_own_deep(*state, "lines");
	switch (ev->type) {
	case EV_ORDER_CREATED:
		rc = res_on_order_created(ctx, state, ev);
		break;
	case EV_STOCK_RESULT:
		rc = res_on_stock_result(ctx, state, ev);
		break;
	case EV_PAYMENT_FAILED:
	case EV_SHIPPING_FAILED:
		rc = res_on_step_failed(ctx, state, ev);
		break;
	case EV_ORDER_SHIPPED:
		rc = res_on_shipped(ctx, state, ev);
		break;
	case EV_RETRY_REQUESTED:
		rc = res_on_retry(ctx, state, ev);
		break;
	case EV_COMPENSATION_REQUESTED:
		rc = res_on_compensation(ctx, state, ev);
		break;
	case EV_STEP_TIMEOUT:
		rc = res_on_timeout(ctx, state, ev);
		break;
	default:
		return svc_fail(ctx, ECOM_INVALID, "inventory does not handle %s",
				event_type_name(ev->type));
	}
	if (rc == ECOM_OK && *state)
		res_settle(ctx, *state);
	return rc;
}

static int inventory_route(void *p, const struct envelope *ev, struct svc_route *out)
{
	const char *id;

	(void)p;
	switch (ev->type) {
	case EV_STOCK_COMMAND:
		out->collection = INVENTORY_COLL_STOCK;
		id = jsonx_str(ev->payload, "sku");
		break;
	case EV_COMPENSATION_REQUESTED:
		if (!streq(jsonx_str(ev->payload, "action"), "releaseInventory"))
			return ECOM_NOT_FOUND;
		out->collection = INVENTORY_COLL_RESERVATIONS;
		id = jsonx_str(ev->payload, "orderId");
		break;
	case EV_STEP_TIMEOUT:
		if (!streq(jsonx_str(ev->payload, "step"), "inventory"))
			return ECOM_NOT_FOUND;
		out->collection = INVENTORY_COLL_RESERVATIONS;
		id = jsonx_str(ev->payload, "orderId");
		break;
	case EV_ORDER_CREATED:
	case EV_STOCK_RESULT:
	case EV_PAYMENT_FAILED:
	case EV_SHIPPING_FAILED:
	case EV_ORDER_SHIPPED:
	case EV_RETRY_REQUESTED:
		out->collection = INVENTORY_COLL_RESERVATIONS;
		id = jsonx_str(ev->payload, "orderId");
		break;
	default:
		return ECOM_NOT_FOUND;
	}
	if (!id || !id[0] || strlen(id) >= sizeof(out->id))
		return ECOM_INVALID; /* dead-lettered: no aggregate could ever take it */
	snprintf(out->id, sizeof(out->id), "%s", id);
	return ECOM_OK;
}

static const enum event_type inventory_types[] = {
	EV_ORDER_CREATED,   EV_STOCK_COMMAND,	 EV_STOCK_RESULT,
	EV_PAYMENT_FAILED,  EV_SHIPPING_FAILED,	 EV_ORDER_SHIPPED,
	EV_RETRY_REQUESTED, EV_COMPENSATION_REQUESTED, EV_STEP_TIMEOUT,
};
static const char *const inventory_collections[] = { INVENTORY_COLL_RESERVATIONS,
						     INVENTORY_COLL_STOCK };

static const struct svc_def inventory_def = {
	.name = "inventory",
	.types = inventory_types,
	.n_types = ECOM_ARRAY_LEN(inventory_types),
	.collections = inventory_collections,
	.n_collections = ECOM_ARRAY_LEN(inventory_collections),
	.route = inventory_route,
	.handle = inventory_handle,
	.wake = NULL,
	.inbox_max = INVENTORY_INBOX_MAX,
};

const struct svc_def *inventory_svc_def(void)
{
	return &inventory_def;
}

struct inventory_service *inventory_service_new(const struct inventory_config *cfg)
{
	struct inventory_service *s = ecom_xcalloc(1, sizeof(*s));

	if (cfg)
		s->cfg = *cfg;
	return s;
}

void inventory_service_free(struct inventory_service *s)
{
	free(s);
}

int inventory_seed_stock(struct store *s, const struct catalog *cat, struct ecom_err *err)
{
	int rc = ECOM_OK;

	ECOM_ASSERT(s && cat);
	for (size_t i = 0; i < cat->n; i++) {
		const struct catalog_item *it = &cat->items[i];
		json_t *doc = stock_new(it->sku, it->stock);

		jsonx_set_str(doc, "_id", it->sku);
		jsonx_set_int(doc, "version", 1);
		for (int tries = 0; tries < INVENTORY_SEED_RETRIES_MAX; tries++) {
			rc = store_insert(s, INVENTORY_COLL_STOCK, doc, err);
			/* AMBIGUOUS: retry; CONFLICT then means our own insert landed. */
			if (rc != ECOM_UNAVAILABLE && rc != ECOM_AMBIGUOUS)
				break;
		}
		json_decref(doc);
		if (rc == ECOM_CONFLICT)
			rc = ECOM_OK;
		if (rc != ECOM_OK)
			goto out;
	}
	if (err)
		ecom_err_clear(err);
out:
	return rc;
}
