/* payment.c — charges and refunds through the gateway, one aggregate per order (see
 * payment.h). A handler's gateway calls all use deterministic idempotency keys, so when the
 * handler returns ECOM_UNAVAILABLE (nothing committed) the runtime's retry replays the same
 * calls and learns their first outcome; nothing is committed until every call answered. */
#include "services/payment/payment.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bugs.h"
#include "event/jsonx.h"

#define PAYMENT_KEY_MAX 256

struct payment_service {
	struct payment_config cfg;
};

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static int64_t ev_attempt(const struct envelope *ev)
{
	return jsonx_int_or(ev->payload, "attempt", 0);
}

static const char *pay_order(const json_t *p)
{
	return jsonx_str_or(p, "orderId", "");
}

static json_t *pay_new(const char *order_id)
{
	return json_pack("{s:s, s:I, s:I, s:[]}", "orderId", order_id, "amount_cents",
			 (json_int_t)-1, "attempt", (json_int_t)0, "charges");
}

static json_t *pay_charge_find(json_t *p, int64_t attempt)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(p, "charges"), i, c) {
		if (jsonx_int_or(c, "attempt", -1) == attempt)
			return c;
	}
	return NULL;
}

static int pay_charge_add(struct svc_ctx *ctx, json_t *p, int64_t attempt, const char *state,
			  json_t **out)
{
	json_t *charges = json_object_get(p, "charges");

	if (json_array_size(charges) >= PAYMENT_CHARGES_MAX)
		return svc_fail(ctx, ECOM_INVALID, "more than %d payment attempts",
				PAYMENT_CHARGES_MAX);
	*out = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:b, s:b, s:s, s:I}", "attempt",
			 (json_int_t)attempt, "state", state, "key", "", "authId", "",
			 "amount_cents", (json_int_t)0, "reason", "", "resolve", 0, "refunded", 0,
			 "refundId", "", "refunded_cents", (json_int_t)0);
	json_array_append_new(charges, *out);
	if (attempt > jsonx_int_or(p, "attempt", 0))
		jsonx_set_int(p, "attempt", attempt);
	return ECOM_OK;
}

/* A gateway answer that is not a business outcome. */
static int pay_gateway_trouble(struct svc_ctx *ctx, int rc, const char *what, const char *key,
			       const char *reason)
{
	if (rc == ECOM_UNAVAILABLE || rc == ECOM_AMBIGUOUS)
		return svc_fail(ctx, ECOM_UNAVAILABLE, "gateway %s %s: %s (%s)", what, key,
				ecom_rc_name(rc), reason);
	return svc_fail(ctx, ECOM_INVALID, "gateway %s %s: %s (%s)", what, key, ecom_rc_name(rc),
			reason);
}

/* Refunds charge c's capture in full (once). */
static int pay_refund(struct payment_service *svc, struct svc_ctx *ctx, json_t *p, json_t *c)
{
	char key[PAYMENT_KEY_MAX], refund_id[ADAPTER_ID_MAX], reason[ADAPTER_REASON_MAX];
	int64_t attempt = jsonx_int_or(c, "attempt", 0);
	int64_t cents = jsonx_int_or(c, "amount_cents", 0);
	int rc;

	ECOM_ASSERT(streq(jsonx_str(c, "state"), "captured") && !jsonx_bool_or(c, "refunded", 0));
	snprintf(key, sizeof(key), "%s:refund:%" PRId64, pay_order(p), attempt);
	rc = gateway_refund(svc->cfg.gateway, key, pay_order(p), jsonx_str_or(c, "authId", ""),
			    cents, refund_id, reason);
	if (rc != ECOM_OK)
		return pay_gateway_trouble(ctx, rc, "refund", key, reason);
	jsonx_set_bool(c, "refunded", 1);
	jsonx_set_str(c, "refundId", refund_id);
	jsonx_set_int(c, "refunded_cents", cents);
	svc_emit(ctx, EV_PAYMENT_REFUNDED, pay_order(p),
		 json_pack("{s:s, s:o, s:s, s:I}", "orderId", pay_order(p), "amount",
			   money_to_json(cents), "refundId", refund_id, "attempt",
			   (json_int_t)attempt));
	return ECOM_OK;
}

/* Charges the amount for charge c. A fenced (cancelled) attempt is only resolved: the
 * capture, if any, is refunded at once and no PaymentAuthorized/PaymentFailed is sent
 * (the fence already answered PaymentFailed{deadline}). */
static int pay_charge(struct payment_service *svc, struct svc_ctx *ctx, json_t *p, json_t *c)
{
	char key[PAYMENT_KEY_MAX], auth_id[ADAPTER_ID_MAX], reason[ADAPTER_REASON_MAX];
	int64_t attempt = jsonx_int_or(c, "attempt", 0);
	int64_t cents = jsonx_int_or(p, "amount_cents", -1);
	int fenced = streq(jsonx_str(c, "state"), "cancelled");
	int rc;

	ECOM_ASSERT(cents >= 0);
	if (svc_bug(ctx, BUG_NO_IDEMPOTENCY_KEY))
		snprintf(key, sizeof(key), "%s:charge:%" PRId64 ":%016" PRIx64, pay_order(p),
			 attempt, rng_next(svc_rng(ctx)));
	else
		snprintf(key, sizeof(key), "%s:charge:%" PRId64, pay_order(p), attempt);
	rc = gateway_charge(svc->cfg.gateway, key, pay_order(p), cents, auth_id, reason);
	if (rc != ECOM_OK && rc != ECOM_REFUSED)
		return pay_gateway_trouble(ctx, rc, "charge", key, reason);
	jsonx_set_str(c, "key", key);
	jsonx_set_int(c, "amount_cents", cents);
	jsonx_set_bool(c, "resolve", 0);
	if (rc == ECOM_REFUSED) {
		jsonx_set_str(c, "state", "declined");
		jsonx_set_str(c, "reason", reason);
		if (!fenced)
			svc_emit(ctx, EV_PAYMENT_FAILED, pay_order(p),
				 json_pack("{s:s, s:s, s:I}", "orderId", pay_order(p), "reason",
					   reason[0] ? reason : "declined", "attempt",
					   (json_int_t)attempt));
		return ECOM_OK;
	}
	jsonx_set_str(c, "state", "captured");
	jsonx_set_str(c, "authId", auth_id);
	if (fenced)
		return pay_refund(svc, ctx, p, c);
	svc_emit(ctx, EV_PAYMENT_AUTHORIZED, pay_order(p),
		 json_pack("{s:s, s:o, s:s, s:I}", "orderId", pay_order(p), "amount",
			   money_to_json(cents), "authId", auth_id, "attempt",
			   (json_int_t)attempt));
	return ECOM_OK;
}

/* Charges waiting for this moment: awaiting the amount, or fenced and due a resolution.
 * only_attempt < 0 (OrderCreated): every charge awaiting the amount, and a fenced one only
 * if it was awaiting the amount when fenced (only then can an OrderCreated handler have
 * called the gateway for it). Else (InventoryReserved): that attempt's charge. */
static int pay_charge_due(struct payment_service *svc, struct svc_ctx *ctx, json_t *p,
			  int64_t only_attempt)
{
	json_t *charges = json_object_get(p, "charges"), *c;
	size_t i;
	int rc;

	if (jsonx_int_or(p, "amount_cents", -1) < 0)
		return ECOM_OK;
	json_array_foreach(charges, i, c) {
		const char *st = jsonx_str(c, "state");

		if (only_attempt >= 0 && jsonx_int_or(c, "attempt", -1) != only_attempt)
			continue;
		if (!streq(st, "awaiting_amount") &&
		    !(streq(st, "cancelled") && jsonx_bool_or(c, "resolve", 0) &&
		      (only_attempt >= 0 || jsonx_bool_or(c, "was_awaiting", 0))))
			continue;
		rc = pay_charge(svc, ctx, p, c);
		if (rc != ECOM_OK)
			return rc;
	}
	return ECOM_OK;
}

static void pay_learn_amount(json_t *p, const json_t *payload, const char *field)
{
	int64_t cents;

	if (jsonx_int_or(p, "amount_cents", -1) >= 0)
		return;
	if (money_from_json(json_object_get(payload, field), &cents) == ECOM_OK)
		jsonx_set_int(p, "amount_cents", cents);
}

static int pay_on_order_created(struct payment_service *svc, struct svc_ctx *ctx, json_t *p,
				const struct envelope *ev)
{
	pay_learn_amount(p, ev->payload, "total");
	return pay_charge_due(svc, ctx, p, -1);
}

static int pay_on_reserved(struct payment_service *svc, struct svc_ctx *ctx, json_t *p,
			   const struct envelope *ev)
{
	int64_t attempt = ev_attempt(ev);
	json_t *c = pay_charge_find(p, attempt);
	int rc;

	pay_learn_amount(p, ev->payload, "total");
	if (!c) {
		if (attempt < jsonx_int_or(p, "attempt", 0))
			return ECOM_OK; /* superseded before it reached us */
		rc = pay_charge_add(ctx, p, attempt, "awaiting_amount", &c);
		if (rc != ECOM_OK)
			return rc;
	}
	return pay_charge_due(svc, ctx, p, attempt);
}

static int pay_on_shipping_failed(struct payment_service *svc, struct svc_ctx *ctx, json_t *p,
				  const struct envelope *ev)
{
	json_t *c = pay_charge_find(p, ev_attempt(ev));

	if (svc_bug(ctx, BUG_FORGET_REFUND))
		return ECOM_OK; /* the planted bug: the capture stays */
	if (!c || !streq(jsonx_str(c, "state"), "captured") || jsonx_bool_or(c, "refunded", 0))
		return ECOM_OK;
	return pay_refund(svc, ctx, p, c);
}

static int pay_on_compensation(struct payment_service *svc, struct svc_ctx *ctx, json_t *p,
			       const struct envelope *ev)
{
	json_t *charges = json_object_get(p, "charges"), *c;
	size_t i;
	int rc, refunded = 0;

	json_array_foreach(charges, i, c) {
		if (!streq(jsonx_str(c, "state"), "captured") || jsonx_bool_or(c, "refunded", 0))
			continue;
		rc = pay_refund(svc, ctx, p, c);
		if (rc != ECOM_OK)
			return rc;
		refunded++;
	}
	if (!refunded)
		svc_emit(ctx, EV_PAYMENT_REFUNDED, pay_order(p),
			 json_pack("{s:s, s:o, s:s, s:I}", "orderId", pay_order(p), "amount",
				   money_to_json(0), "refundId", "", "attempt",
				   (json_int_t)ev_attempt(ev)));
	return ECOM_OK;
}

static int pay_on_timeout(struct svc_ctx *ctx, json_t *p, const struct envelope *ev)
{
	int64_t attempt = ev_attempt(ev);
	json_t *c = pay_charge_find(p, attempt);
	int rc;

	if (!c) {
		if (attempt < jsonx_int_or(p, "attempt", 0))
			return ECOM_OK; /* an attempt superseded before it reached us */
		rc = pay_charge_add(ctx, p, attempt, "cancelled", &c);
		if (rc != ECOM_OK)
			return rc;
	} else if (streq(jsonx_str(c, "state"), "awaiting_amount")) {
		jsonx_set_str(c, "state", "cancelled");
		jsonx_set_bool(c, "was_awaiting", 1);
	} else {
		return ECOM_OK; /* captured, declined, or fenced already */
	}
	jsonx_set_bool(c, "resolve", 1);
	jsonx_set_str(c, "reason", "deadline");
	svc_emit(ctx, EV_PAYMENT_FAILED, pay_order(p),
		 json_pack("{s:s, s:s, s:I}", "orderId", pay_order(p), "reason", "deadline",
			   "attempt", (json_int_t)attempt));
	return ECOM_OK;
}

static int payment_handle(void *arg, struct svc_ctx *ctx, json_t **state,
			  const struct envelope *ev)
{
	struct payment_service *svc = arg;

	if (!*state) {
		/* ShippingFailed for a payment never seen has nothing to refund. */
		if (ev->type == EV_SHIPPING_FAILED)
			return ECOM_OK;
		*state = pay_new(jsonx_str(ev->payload, "orderId"));
	}
	/* Charges change in place below; a few per order (store.h: copy on write). */
	jsonx_own_deep(*state, "charges");
	switch (ev->type) {
	case EV_ORDER_CREATED:
		return pay_on_order_created(svc, ctx, *state, ev);
	case EV_INVENTORY_RESERVED:
		return pay_on_reserved(svc, ctx, *state, ev);
	case EV_SHIPPING_FAILED:
		return pay_on_shipping_failed(svc, ctx, *state, ev);
	case EV_COMPENSATION_REQUESTED:
		return pay_on_compensation(svc, ctx, *state, ev);
	case EV_STEP_TIMEOUT:
		return pay_on_timeout(ctx, *state, ev);
	default:
		return svc_fail(ctx, ECOM_INVALID, "payment does not handle %s",
				event_type_name(ev->type));
	}
}

static int payment_route(void *arg, const struct envelope *ev, struct svc_route *out)
{
	const char *id = jsonx_str(ev->payload, "orderId");

	(void)arg;
	switch (ev->type) {
	case EV_ORDER_CREATED:
	case EV_INVENTORY_RESERVED:
	case EV_SHIPPING_FAILED:
		break;
	case EV_COMPENSATION_REQUESTED:
		if (!streq(jsonx_str(ev->payload, "action"), "refundPayment"))
			return ECOM_NOT_FOUND;
		break;
	case EV_STEP_TIMEOUT:
		if (!streq(jsonx_str(ev->payload, "step"), "payment"))
			return ECOM_NOT_FOUND;
		break;
	default:
		return ECOM_NOT_FOUND; /* RetryRequested and anything else: not ours */
	}
	if (!id || !id[0] || strlen(id) >= sizeof(out->id))
		return ECOM_INVALID;
	out->collection = PAYMENT_COLL;
	snprintf(out->id, sizeof(out->id), "%s", id);
	return ECOM_OK;
}

static const enum event_type payment_types[] = {
	EV_ORDER_CREATED,	   EV_INVENTORY_RESERVED, EV_SHIPPING_FAILED,
	EV_COMPENSATION_REQUESTED, EV_STEP_TIMEOUT,
};
static const char *const payment_collections[] = { PAYMENT_COLL };

static const struct svc_def payment_def = {
	.name = "payment",
	.types = payment_types,
	.n_types = ECOM_ARRAY_LEN(payment_types),
	.collections = payment_collections,
	.n_collections = ECOM_ARRAY_LEN(payment_collections),
	.route = payment_route,
	.handle = payment_handle,
	.wake = NULL,
	.inbox_max = PAYMENT_INBOX_MAX,
};

const struct svc_def *payment_svc_def(void)
{
	return &payment_def;
}

struct payment_service *payment_service_new(const struct payment_config *cfg)
{
	struct payment_service *s;

	ECOM_ASSERT(cfg && cfg->gateway);
	s = ecom_xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	return s;
}

void payment_service_free(struct payment_service *s)
{
	free(s);
}
