/* order.c — the order service object, its svc_def, and the two read/write entries of the
 * API: order_create (validation happens here and only here; one insert carries the order
 * and its OrderCreated; idempotent on a client orderId) and order_get (the wire shape). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/jsonx.h"
#include "order_internal.h"

#include "core/bugs.h"
#include "core/clock.h"

/* ---- the service object ----------------------------------------------------------- */

struct order_service *order_service_new(const struct catalog *cat,
					const struct order_config *cfg)
{
	struct order_service *o = ecom_xcalloc(1, sizeof(*o));

	ECOM_ASSERT(cat);
	o->cat = cat;
	if (cfg)
		o->cfg = *cfg;
	if (o->cfg.step_deadline_us <= 0)
		o->cfg.step_deadline_us = ORDER_STEP_DEADLINE_US_DEFAULT;
	return o;
}

void order_service_free(struct order_service *o)
{
	free(o);
}

void order_service_attach(struct order_service *o, struct runtime *rt)
{
	ECOM_ASSERT(o);
	o->rt = rt;
}

void order_rng_touch(struct order_service *o, struct svc_ctx *ctx)
{
	if (o->rng_ready)
		return;
	rng_split(svc_rng(ctx), &o->rng);
	o->rng_ready = 1;
}

int order_bug(struct order_service *o, struct svc_ctx *ctx, uint32_t bug)
{
	return (o->cfg.bugs & bug) || (ctx && svc_bug(ctx, bug));
}

int64_t order_deadline_us(const struct order_service *o)
{
	return o->cfg.step_deadline_us;
}

static int order_route(void *svc, const struct envelope *ev, struct svc_route *out)
{
	const char *id = jsonx_str(ev->payload, "orderId");

	if (!id || !id[0] || strlen(id) >= sizeof(out->id))
		return ECOM_NOT_FOUND;
	out->collection = ORDER_COLLECTION;
	snprintf(out->id, sizeof(out->id), "%s", id);
	return ECOM_OK;
}

static const enum event_type order_types[] = {
	EV_INVENTORY_RESERVED, EV_INVENTORY_FAILED, EV_PAYMENT_AUTHORIZED, EV_PAYMENT_FAILED,
	EV_ORDER_SHIPPED,      EV_SHIPPING_FAILED,  EV_PAYMENT_REFUNDED,   EV_INVENTORY_RELEASED,
};
static const char *const order_collections[] = { ORDER_COLLECTION };

static const struct svc_def order_def = {
	.name = "order",
	.types = order_types,
	.n_types = ECOM_ARRAY_LEN(order_types),
	.collections = order_collections,
	.n_collections = ECOM_ARRAY_LEN(order_collections),
	.route = order_route,
	.handle = order_handle,
	.wake = order_wake,
	.inbox_max = ORDER_INBOX_MAX,
};

const struct svc_def *order_svc_def(void)
{
	return &order_def;
}

int order_exec(struct order_service *o, const char *id, svc_exec_fn fn, void *arg,
	       struct ecom_err *fn_err, struct ecom_err *err)
{
	int rc;

	ECOM_ASSERT(o && o->rt && id);
	ecom_err_clear(fn_err);
	rc = runtime_exec(o->rt, ORDER_COLLECTION, id, fn, arg, err);
	if (rc != ECOM_OK && fn_err->rc == rc && err)
		*err = *fn_err;
	return rc;
}

/* ---- validation --------------------------------------------------------------------- */

struct order_request {
	json_t *items;       /* new reference: [{sku, qty}] in the order given */
	int64_t total_cents;
	const char *order_id; /* borrowed from the body; NULL = draw one */
};

/* Currency units the way the wire prints them (2000 -> "20", 1999 -> "19.99"). */
static void order_fmt_money(int64_t cents, char *out, size_t cap)
{
	if (cents % 100 == 0)
		snprintf(out, cap, "%lld", (long long)(cents / 100));
	else if (cents % 10 == 0)
		snprintf(out, cap, "%lld.%lld", (long long)(cents / 100),
			 (long long)(cents % 100 / 10));
	else
		snprintf(out, cap, "%lld.%02lld", (long long)(cents / 100),
			 (long long)(cents % 100));
}

static int order_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n < 1 || n > ORDER_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

/* One line: {sku, qty} with a known SKU; adds its price to *sum_cents. */
static int order_validate_item(const struct catalog *cat, json_t *item, size_t i,
			       json_t *items_out, int64_t *sum_cents, struct ecom_err *err)
{
	const struct catalog_item *ci;
	json_t *qty_v = json_object_get(item, "qty"), *line;
	const char *sku;
	json_int_t qty;

	if (!json_is_object(item))
		return ecom_err_set(err, ECOM_INVALID, "items[%zu]: must be an object {sku, qty}",
				    i);
	sku = jsonx_str(item, "sku");
	if (!sku || !sku[0])
		return ecom_err_set(err, ECOM_INVALID, "items[%zu].sku: must be a non-empty string",
				    i);
	ci = catalog_find(cat, sku);
	if (!ci)
		return ecom_err_set(err, ECOM_INVALID, "items[%zu].sku: unknown SKU '%.64s'", i,
				    sku);
	if (!json_is_integer(qty_v) || json_integer_value(qty_v) < 1 ||
	    json_integer_value(qty_v) > ORDER_QTY_MAX)
		return ecom_err_set(err, ECOM_INVALID, "items[%zu].qty: must be an integer 1..%d",
				    i, ORDER_QTY_MAX);
	qty = json_integer_value(qty_v);
	*sum_cents += ci->price_cents * (int64_t)qty;
	line = json_object();
	jsonx_set_str(line, "sku", ci->sku);
	jsonx_set_int(line, "qty", qty);
	ECOM_ASSERT(json_array_append_new(items_out, line) == 0);
	return ECOM_OK;
}

static int order_validate(const struct catalog *cat, json_t *body, struct order_request *req,
			  struct ecom_err *err)
{
	json_t *items = json_object_get(body, "items"), *item, *id_v;
	int64_t sum = 0, total = 0;
	char want[32], got[32];
	size_t i, n;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!json_is_object(body))
		return ecom_err_set(err, ECOM_INVALID, "body: must be a JSON object");
	if (!json_is_array(items))
		return ecom_err_set(err, ECOM_INVALID, "items: must be an array of 1..%d items",
				    ORDER_ITEMS_MAX);
	n = json_array_size(items);
	if (n < 1 || n > ORDER_ITEMS_MAX)
		return ecom_err_set(err, ECOM_INVALID, "items: 1..%d items", ORDER_ITEMS_MAX);
	req->items = json_array();
	json_array_foreach(items, i, item) {
		rc = order_validate_item(cat, item, i, req->items, &sum, err);
		if (rc != ECOM_OK)
			goto out;
	}
	if (!json_object_get(body, "total")) {
		rc = ecom_err_set(err, ECOM_INVALID, "total: required");
		goto out;
	}
	if (money_from_json(json_object_get(body, "total"), &total) != ECOM_OK) {
		rc = ecom_err_set(err, ECOM_INVALID,
				  "total: must be a number >= 0 with at most two decimals");
		goto out;
	}
	if (total != sum) {
		order_fmt_money(total, got, sizeof(got));
		order_fmt_money(sum, want, sizeof(want));
		rc = ecom_err_set(err, ECOM_INVALID,
				  "total: %s does not match the catalog price %s", got, want);
		goto out;
	}
	req->total_cents = total;
	id_v = json_object_get(body, "orderId");
	if (id_v && !json_is_null(id_v)) {
		if (!json_is_string(id_v) || !order_id_valid(json_string_value(id_v))) {
			rc = ecom_err_set(err, ECOM_INVALID,
					  "orderId: 1..%d chars of [A-Za-z0-9._:-]", ORDER_ID_MAX);
			goto out;
		}
		req->order_id = json_string_value(id_v);
	}
	rc = ECOM_OK;
out:
	if (rc != ECOM_OK) {
		json_decref(req->items);
		req->items = NULL;
	}
	return rc;
}

/* ---- creation ----------------------------------------------------------------------- */

struct order_create_cmd {
	struct order_service *o;
	const struct order_request *req;
	const char *id;
	struct ecom_err err;
};

static json_t *order_new_state(struct order_create_cmd *c, struct svc_ctx *ctx)
{
	json_t *st = json_object();
	char iso[25];

	clock_format_iso(svc_wall_ms(ctx), iso);
	jsonx_set_str(st, "orderId", c->id);
	jsonx_set_new(st, "items", json_deep_copy(c->req->items));
	jsonx_set_int(st, "total", c->req->total_cents);
	jsonx_set_str(st, "status", ST_CREATED);
	jsonx_set_int(st, "seq", 0);
	jsonx_set_int(st, "attempt", 0);
	jsonx_set_new(st, "progress", json_object());
	jsonx_set_new(st, "ledger", json_array());
	jsonx_set_new(st, "comp_pending", json_array());
	jsonx_set_bool(st, "retry_running", 0);
	jsonx_set_bool(st, "stuck", 0);
	jsonx_set_str(st, "correlationId", c->id);
	jsonx_set_int(st, "created_us", svc_now_us(ctx));
	jsonx_set_str(st, "createdAt", iso);
	order_touch(ctx, st);
	order_ledger_row(st, 0, 1);
	order_ledger_totals(st);
	jsonx_set_new(st, "history", json_array());
	return st;
}

static int order_create_fn(void *arg, struct svc_ctx *ctx, json_t **state)
{
	struct order_create_cmd *c = arg;
	json_t *st, *payload;

	order_rng_touch(c->o, ctx);
	if (*state) {
		/* Same body again (a client retry, or our own re-run after an ambiguous
		 * commit, also for a drawn id): the same answer, nothing written. */
		if (json_equal(json_object_get(*state, "items"), c->req->items) &&
		    jsonx_int_or(*state, "total", -1) == c->req->total_cents)
			return ECOM_OK;
		return ecom_err_set(&c->err, ECOM_CONFLICT,
				    "orderId: already used with a different body");
	}
	st = order_new_state(c, ctx);
	order_history_add(ctx, st, event_type_name(EV_ORDER_CREATED), NULL, 0);
	order_update_step(c->o, ctx, st);
	payload = json_object();
	jsonx_set_str(payload, "orderId", c->id);
	jsonx_set_new(payload, "items", json_deep_copy(c->req->items));
	jsonx_set_new(payload, "total", money_to_json(c->req->total_cents));
	jsonx_set_int(payload, "attempt", 0);
	svc_emit(ctx, EV_ORDER_CREATED, c->id, payload);
	order_arm(c->o, ctx, st);
	*state = st;
	return ECOM_OK;
}

/* Drawing cannot fail: the stream is the service's own, split from the runtime's. */
static void order_draw_id(struct order_service *o, char out[37])
{
	if (!o->rng_ready) {
		/* The stream is split from the runtime's on first contact (see order_rng_touch). */
		rng_split(runtime_rng(o->rt), &o->rng);
		o->rng_ready = 1;
	}
	rng_uuid(&o->rng, out);
}

int order_create(struct order_service *o, json_t *body, json_t **response,
		 struct ecom_err *err)
{
	struct order_request req;
	struct order_create_cmd cmd;
	char uuid[37];
	int rc;

	ECOM_ASSERT(o && o->rt && response);
	*response = NULL;
	rc = order_validate(o->cat, body, &req, err);
	if (rc != ECOM_OK)
		return rc;
	memset(&cmd, 0, sizeof(cmd));
	cmd.o = o;
	cmd.req = &req;
	cmd.id = req.order_id;
	if (!cmd.id) {
		order_draw_id(o, uuid);
		cmd.id = uuid;
	}
	rc = order_exec(o, cmd.id, order_create_fn, &cmd, &cmd.err, err);
	if (rc != ECOM_OK)
		goto out;
	*response = json_object();
	jsonx_set_str(*response, "orderId", cmd.id);
out:
	json_decref(req.items);
	return rc;
}

/* ---- reading ------------------------------------------------------------------------ */

static json_t *order_money(const json_t *doc, const char *key)
{
	int64_t cents = jsonx_int_or(doc, key, 0);

	return money_to_json(cents < 0 ? 0 : cents);
}

static json_t *order_history_to_wire(const json_t *h)
{
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(h, i, e) {
		json_t *w = json_object();

		jsonx_set_str(w, "type", jsonx_str(e, "type"));
		jsonx_set_str(w, "at", jsonx_str(e, "at"));
		jsonx_set_str(w, "eventId", jsonx_str(e, "eventId"));
		jsonx_set_int(w, "attempt", jsonx_int_or(e, "attempt", 0));
		ECOM_ASSERT(json_array_append_new(out, w) == 0);
	}
	return out;
}

json_t *order_to_wire(const json_t *doc)
{
	json_t *w = json_object(), *items = json_object_get(doc, "items");
	const char *s;

	ECOM_ASSERT(json_is_object(doc));
	jsonx_set_str(w, "_id", jsonx_str(doc, "_id") ? jsonx_str(doc, "_id")
						      : jsonx_str(doc, "orderId"));
	jsonx_set_str(w, "orderId", jsonx_str(doc, "orderId"));
	jsonx_set_new(w, "items", items ? json_deep_copy(items) : json_array());
	jsonx_set_new(w, "total", order_money(doc, "total"));
	jsonx_set_str(w, "status", jsonx_str(doc, "status"));
	jsonx_set_int(w, "seq", jsonx_int_or(doc, "seq", 0));
	jsonx_set_int(w, "attempt", jsonx_int_or(doc, "attempt", 0));
	s = jsonx_str(doc, "failed_step");
	if (s)
		jsonx_set_str(w, "failedStep", s);
	s = jsonx_str(doc, "reason");
	if (s)
		jsonx_set_str(w, "reason", s);
	s = jsonx_str(doc, "step");
	if (s)
		jsonx_set_str(w, "pendingStep", s);
	jsonx_set_new(w, "captured", order_money(doc, "captured_cents"));
	jsonx_set_new(w, "refunded", order_money(doc, "refunded_cents"));
	jsonx_set_bool(w, "held", jsonx_bool_or(doc, "held", 0));
	jsonx_set_bool(w, "released", jsonx_bool_or(doc, "released", 0));
	jsonx_set_bool(w, "retryRunning", jsonx_bool_or(doc, "retry_running", 0));
	jsonx_set_bool(w, "stuck", jsonx_bool_or(doc, "stuck", 0));
	jsonx_set_new(w, "history", order_history_to_wire(json_object_get(doc, "history")));
	jsonx_set_str(w, "createdAt", jsonx_str(doc, "createdAt"));
	jsonx_set_str(w, "updatedAt", jsonx_str(doc, "updatedAt"));
	jsonx_set_str(w, "correlationId", jsonx_str(doc, "correlationId"));
	return w;
}

int order_get(struct order_service *o, const char *id, json_t **out, struct ecom_err *err)
{
	json_t *doc = NULL;
	int rc;

	ECOM_ASSERT(o && o->rt && id && out);
	*out = NULL;
	rc = store_get(runtime_store(o->rt), ORDER_COLLECTION, id, &doc, err);
	if (rc == ECOM_NOT_FOUND)
		return ecom_err_set(err, ECOM_NOT_FOUND, "order %.128s not found", id);
	if (rc != ECOM_OK)
		return rc;
	*out = order_to_wire(doc);
	json_decref(doc);
	return ECOM_OK;
}
