/* shipping.c — carrier bookings, one aggregate per order (see shipping.h). The booking key
 * is a function of (orderId, attempt) only, so the runtime's retry of a handler that
 * returned ECOM_UNAVAILABLE replays the same booking and learns its first outcome. */
#include "services/shipping/shipping.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/jsonx.h"

#define SHIPPING_KEY_MAX 256

struct shipping_service {
	struct shipping_config cfg;
};

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static int64_t ev_attempt(const struct envelope *ev)
{
	return jsonx_int_or(ev->payload, "attempt", 0);
}

static const char *ship_order(const json_t *s)
{
	return jsonx_str_or(s, "orderId", "");
}

static json_t *ship_find(json_t *s, int64_t attempt)
{
	size_t i;
	json_t *b;

	json_array_foreach(json_object_get(s, "bookings"), i, b) {
		if (jsonx_int_or(b, "attempt", -1) == attempt)
			return b;
	}
	return NULL;
}

/* A new booking needs room: SHIPPING_BOOKINGS_MAX attempts per order. Checked before the
 * carrier is called, since a booking cannot be undone. */
static int ship_room(struct svc_ctx *ctx, const json_t *s)
{
	if (json_array_size(json_object_get(s, "bookings")) >= SHIPPING_BOOKINGS_MAX)
		return svc_fail(ctx, ECOM_INVALID, "more than %d shipping attempts",
				SHIPPING_BOOKINGS_MAX);
	return ECOM_OK;
}

static void ship_add(json_t *s, int64_t attempt, const char *state, const char *key,
		     const char *carrier, const char *tracking, const char *reason)
{
	json_array_append_new(jsonx_own(s, "bookings"), /* copy on write (store.h) */
			      json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "attempt",
					(json_int_t)attempt, "state", state, "key", key, "carrier",
					carrier, "trackingId", tracking, "reason", reason));
	if (attempt > jsonx_int_or(s, "attempt", 0))
		jsonx_set_int(s, "attempt", attempt);
}

static int ship_on_authorized(struct shipping_service *svc, struct svc_ctx *ctx, json_t *s,
			      const struct envelope *ev)
{
	char key[SHIPPING_KEY_MAX], name[ADAPTER_ID_MAX], tracking[ADAPTER_ID_MAX];
	char reason[ADAPTER_REASON_MAX];
	int64_t attempt = ev_attempt(ev);
	int rc;

	if (ship_find(s, attempt) || attempt < jsonx_int_or(s, "attempt", 0))
		return ECOM_OK; /* done, fenced, or superseded */
	rc = ship_room(ctx, s);
	if (rc != ECOM_OK)
		return rc;
	snprintf(key, sizeof(key), "%s:ship:%" PRId64, ship_order(s), attempt);
	rc = carrier_book(svc->cfg.carrier, key, ship_order(s), name, tracking, reason);
	if (rc == ECOM_UNAVAILABLE || rc == ECOM_AMBIGUOUS)
		return svc_fail(ctx, ECOM_UNAVAILABLE, "carrier book %s: %s (%s)", key,
				ecom_rc_name(rc), reason);
	if (rc != ECOM_OK && rc != ECOM_REFUSED)
		return svc_fail(ctx, ECOM_INVALID, "carrier book %s: %s (%s)", key,
				ecom_rc_name(rc), reason);
	if (rc == ECOM_REFUSED) {
		if (!reason[0])
			snprintf(reason, sizeof(reason), "carrier_error");
		ship_add(s, attempt, "failed", key, "", "", reason);
		svc_emit(ctx, EV_SHIPPING_FAILED, ship_order(s),
			 json_pack("{s:s, s:s, s:I}", "orderId", ship_order(s), "reason", reason,
				   "attempt", (json_int_t)attempt));
		return ECOM_OK;
	}
	ship_add(s, attempt, "booked", key, name, tracking, "");
	svc_emit(ctx, EV_ORDER_SHIPPED, ship_order(s),
		 json_pack("{s:s, s:s, s:s, s:I}", "orderId", ship_order(s), "carrier", name,
			   "trackingId", tracking, "attempt", (json_int_t)attempt));
	return ECOM_OK;
}

static int ship_on_timeout(struct svc_ctx *ctx, json_t *s, const struct envelope *ev)
{
	int64_t attempt = ev_attempt(ev);
	int rc;

	if (ship_find(s, attempt) || attempt < jsonx_int_or(s, "attempt", 0))
		return ECOM_OK; /* booked, failed, fenced already, or superseded */
	rc = ship_room(ctx, s);
	if (rc != ECOM_OK)
		return rc;
	ship_add(s, attempt, "cancelled", "", "", "", "deadline");
	svc_emit(ctx, EV_SHIPPING_FAILED, ship_order(s),
		 json_pack("{s:s, s:s, s:I}", "orderId", ship_order(s), "reason", "deadline",
			   "attempt", (json_int_t)attempt));
	return ECOM_OK;
}

static int shipping_handle(void *arg, struct svc_ctx *ctx, json_t **state,
			   const struct envelope *ev)
{
	struct shipping_service *svc = arg;

	if (!*state)
		*state = json_pack("{s:s, s:I, s:[]}", "orderId", jsonx_str(ev->payload, "orderId"),
				   "attempt", (json_int_t)0, "bookings");
	switch (ev->type) {
	case EV_PAYMENT_AUTHORIZED:
		return ship_on_authorized(svc, ctx, *state, ev);
	case EV_STEP_TIMEOUT:
		return ship_on_timeout(ctx, *state, ev);
	default:
		return svc_fail(ctx, ECOM_INVALID, "shipping does not handle %s",
				event_type_name(ev->type));
	}
}

static int shipping_route(void *arg, const struct envelope *ev, struct svc_route *out)
{
	const char *id = jsonx_str(ev->payload, "orderId");

	(void)arg;
	if (ev->type == EV_STEP_TIMEOUT) {
		if (!streq(jsonx_str(ev->payload, "step"), "shipping"))
			return ECOM_NOT_FOUND;
	} else if (ev->type != EV_PAYMENT_AUTHORIZED) {
		return ECOM_NOT_FOUND; /* RetryRequested and anything else: not ours */
	}
	if (!id || !id[0] || strlen(id) >= sizeof(out->id))
		return ECOM_INVALID;
	out->collection = SHIPPING_COLL;
	snprintf(out->id, sizeof(out->id), "%s", id);
	return ECOM_OK;
}

static const enum event_type shipping_types[] = { EV_PAYMENT_AUTHORIZED, EV_STEP_TIMEOUT };
static const char *const shipping_collections[] = { SHIPPING_COLL };

static const struct svc_def shipping_def = {
	.name = "shipping",
	.types = shipping_types,
	.n_types = ECOM_ARRAY_LEN(shipping_types),
	.collections = shipping_collections,
	.n_collections = ECOM_ARRAY_LEN(shipping_collections),
	.route = shipping_route,
	.handle = shipping_handle,
	.wake = NULL,
	.inbox_max = SHIPPING_INBOX_MAX,
};

const struct svc_def *shipping_svc_def(void)
{
	return &shipping_def;
}

struct shipping_service *shipping_service_new(const struct shipping_config *cfg)
{
	struct shipping_service *s;

	ECOM_ASSERT(cfg && cfg->carrier);
	s = ecom_xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	return s;
}

void shipping_service_free(struct shipping_service *s)
{
	free(s);
}
