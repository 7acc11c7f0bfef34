/* order_admin.c — the admin commands retry(step) and compensate(action), exactly the rules
 * of docs/saga.md "Admin operations": each either commits its event through the order's
 * outbox (with the state change, in one CAS) or is refused with a reason and writes
 * nothing. A command re-run by the runtime after an ambiguous commit recognises its own
 * token and answers as the first run did. */
#include <stdio.h>
#include <string.h>

#include "event/jsonx.h"
#include "order_internal.h"

enum order_admin_kind { ADMIN_RETRY, ADMIN_COMPENSATE };

struct order_admin_cmd {
	struct order_service *o;
	enum order_admin_kind kind;
	const char *what; /* the step or the action */
	char token[37];   /* drawn on the first run */
	int64_t attempt;  /* the attempt the event carried */
	json_t *response;
	struct ecom_err err;
};

static const char *const admin_steps[] = { "inventory", "payment", "shipping" };
static const char *const admin_actions[] = { "releaseInventory", "refundPayment" };

static int admin_one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return 1;
	return 0;
}

static int admin_pending_has(const json_t *st, const char *action)
{
	const json_t *p = json_object_get(st, "comp_pending");
	size_t i;
	json_t *v;

	json_array_foreach(p, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), action) == 0)
			return 1;
	}
	return 0;
}

static void admin_respond(struct order_admin_cmd *c, const json_t *st)
{
	json_decref(c->response);
	c->response = json_object();
	jsonx_set_str(c->response, "orderId", jsonx_str(st, "orderId"));
	jsonx_set_str(c->response, c->kind == ADMIN_RETRY ? "step" : "action", c->what);
	jsonx_set_int(c->response, "attempt", c->attempt);
	jsonx_set_str(c->response, "status", jsonx_str(st, "status"));
}

/* NULL when retry(step) is allowed, else the refusal reason (into buf). */
static const char *admin_retry_refusal(const json_t *st, const char *step, char *buf,
				       size_t cap)
{
	const char *status = jsonx_str_or(st, "status", "?");
	const char *failed = jsonx_str(st, "failed_step");

	if (strcmp(status, ST_SHIPPED) == 0)
		return "order is SHIPPED";
	if (jsonx_bool_or(st, "retry_running", 0)) {
		const char *running = jsonx_str(st, "retry_step");

		return running && strcmp(running, step) == 0 ? "already requested"
							     : "a retry is already running";
	}
	if (order_status_rank(status) == 3 || json_array_size(json_object_get(st, "comp_pending")))
		return "compensation still in progress";
	if (strcmp(status, ST_CANCELLED) != 0) {
		snprintf(buf, cap, "order is %s: the saga is still running", status);
		return buf;
	}
	if (!failed || strcmp(failed, step) != 0) {
		snprintf(buf, cap, "step %s never failed", step);
		return buf;
	}
	if (jsonx_int_or(st, "attempt", 0) + 1 >= ORDER_ATTEMPTS_MAX) {
		snprintf(buf, cap, "too many attempts (%d)", ORDER_ATTEMPTS_MAX);
		return buf;
	}
	return NULL;
}

static void admin_start_retry(struct order_admin_cmd *c, struct svc_ctx *ctx, json_t *st)
{
	int64_t attempt = jsonx_int_or(st, "attempt", 0) + 1;
	json_t *payload;

	jsonx_set_int(st, "attempt", attempt);
	jsonx_set_new(st, "progress", json_object());
	json_object_del(st, "failed_step");
	json_object_del(st, "reason");
	jsonx_set_bool(st, "retry_running", 1);
	jsonx_set_str(st, "retry_step", c->what);
	order_ledger_row(st, attempt, 1);
	order_ledger_totals(st);
	order_set_status(ctx, st, ST_RETRYING, NULL);
	payload = json_object();
	jsonx_set_str(payload, "orderId", jsonx_str(st, "orderId"));
	jsonx_set_str(payload, "step", c->what);
	jsonx_set_int(payload, "attempt", attempt);
	svc_emit(ctx, EV_RETRY_REQUESTED, jsonx_str(st, "orderId"), payload);
	order_history_add(ctx, st, event_type_name(EV_RETRY_REQUESTED), NULL, attempt);
	order_update_step(c->o, ctx, st);
	c->attempt = attempt;
}

/* The newest attempt whose record still has something for `action` to undo; -1 if none. */
static int64_t admin_undo_attempt(json_t *st, const char *action)
{
	json_t *l = json_object_get(st, "ledger"), *row;
	int64_t best = -1;
	size_t i;

	json_array_foreach(l, i, row) {
		int64_t a = jsonx_int_or(row, "attempt", -1);
		int todo;

		if (strcmp(action, "releaseInventory") == 0)
			todo = jsonx_bool_or(row, "reserved", 0) &&
			       !jsonx_bool_or(row, "released", 0);
		else
			todo = jsonx_int_or(row, "captured_cents", 0) >
			       jsonx_int_or(row, "refunded_cents", 0);
		if (todo && a > best)
			best = a;
	}
	return best;
}

/* NULL when compensate(action) is allowed, else the refusal reason (into buf). */
static const char *admin_compensate_refusal(json_t *st, const char *action, char *buf,
					    size_t cap)
{
	const char *status = jsonx_str_or(st, "status", "?");
	int halted = order_status_rank(status) == 3 || strcmp(status, ST_CANCELLED) == 0 ||
		     jsonx_bool_or(st, "stuck", 0);

	if (!halted) {
		if (strcmp(status, ST_SHIPPED) == 0)
			return "order is SHIPPED";
		snprintf(buf, cap, "order is %s: the saga is not halted", status);
		return buf;
	}
	if (admin_pending_has(st, action))
		return "already requested";
	if (admin_undo_attempt(st, action) < 0)
		return strcmp(action, "releaseInventory") == 0
			       ? "nothing to compensate: no inventory held"
			       : "nothing to compensate: no captured payment left to refund";
	return NULL;
}

static void admin_start_compensation(struct order_admin_cmd *c, struct svc_ctx *ctx,
				     json_t *st)
{
	int64_t attempt = admin_undo_attempt(st, c->what);
	json_t *pending = jsonx_own(st, "comp_pending"), *payload;

	if (!json_is_array(pending)) {
		pending = json_array();
		jsonx_set_new(st, "comp_pending", pending);
	}
	ECOM_ASSERT(json_array_append_new(pending, json_string(c->what)) == 0);
	payload = json_object();
	jsonx_set_str(payload, "orderId", jsonx_str(st, "orderId"));
	jsonx_set_str(payload, "action", c->what);
	jsonx_set_int(payload, "attempt", attempt);
	svc_emit(ctx, EV_COMPENSATION_REQUESTED, jsonx_str(st, "orderId"), payload);
	order_history_add(ctx, st, event_type_name(EV_COMPENSATION_REQUESTED), NULL, attempt);
	c->attempt = attempt;
}

static int admin_fn(void *arg, struct svc_ctx *ctx, json_t **state)
{
	struct order_admin_cmd *c = arg;
	json_t *st = *state;
	const char *why, *last;
	char buf[160];

	order_rng_touch(c->o, ctx);
	if (!st)
		return ecom_err_set(&c->err, ECOM_NOT_FOUND, "order not found");
	last = jsonx_str(st, "admin_token");
	if (c->token[0] && last && strcmp(last, c->token) == 0) {
		admin_respond(c, st); /* our own earlier, ambiguous commit */
		return ECOM_OK;
	}
	if (c->kind == ADMIN_RETRY)
		why = admin_retry_refusal(st, c->what, buf, sizeof(buf));
	else
		why = admin_compensate_refusal(st, c->what, buf, sizeof(buf));
	if (why)
		return ecom_err_set(&c->err, ECOM_REFUSED, "%s", why);
	if (!c->token[0])
		rng_uuid(svc_rng(ctx), c->token);
	jsonx_set_str(st, "admin_token", c->token);
	if (c->kind == ADMIN_RETRY)
		admin_start_retry(c, ctx, st);
	else
		admin_start_compensation(c, ctx, st);
	order_touch(ctx, st);
	order_arm(c->o, ctx, st);
	admin_respond(c, st);
	return ECOM_OK;
}

static int admin_run(struct order_service *o, enum order_admin_kind kind, const char *id,
		     const char *what, json_t **response, struct ecom_err *err)
{
	struct order_admin_cmd cmd;
	int rc;

	ECOM_ASSERT(o && o->rt && response);
	*response = NULL;
	if (!id || !id[0] || strlen(id) >= SVC_ID_MAX)
		return ecom_err_set(err, ECOM_NOT_FOUND, "order not found");
	memset(&cmd, 0, sizeof(cmd));
	cmd.o = o;
	cmd.kind = kind;
	cmd.what = what;
	rc = order_exec(o, id, admin_fn, &cmd, &cmd.err, err);
	if (rc == ECOM_NOT_FOUND)
		ecom_err_set(err, ECOM_NOT_FOUND, "order %.128s not found", id);
	if (rc == ECOM_OK) {
		*response = cmd.response;
		cmd.response = NULL;
	}
	json_decref(cmd.response);
	return rc;
}

int order_retry(struct order_service *o, const char *id, const char *step, json_t **response,
		struct ecom_err *err)
{
	ECOM_ASSERT(response);
	*response = NULL;
	if (!admin_one_of(step, admin_steps, ECOM_ARRAY_LEN(admin_steps)))
		return ecom_err_set(err, ECOM_INVALID,
				    "step: must be one of inventory, payment, shipping");
	return admin_run(o, ADMIN_RETRY, id, step, response, err);
}

int order_compensate(struct order_service *o, const char *id, const char *action,
		     json_t **response, struct ecom_err *err)
{
	ECOM_ASSERT(response);
	*response = NULL;
	if (!admin_one_of(action, admin_actions, ECOM_ARRAY_LEN(admin_actions)))
		return ecom_err_set(err, ECOM_INVALID,
				    "action: must be one of releaseInventory, refundPayment");
	return admin_run(o, ADMIN_COMPENSATE, id, action, response, err);
}
