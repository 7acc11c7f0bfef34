/* schema.c — payload schemas for every event type, as data: one field table per type.
 * Validation is strict on the fields it knows and ignores the rest (additive evolution);
 * every error names the exact path, e.g. "payload.items[1].qty: must be a positive integer". */
#include <stdio.h>
#include <string.h>

#include "event/event.h"

/* An order with more lines than this is not a valid event (bounds every loop below). */
#define SCHEMA_ITEMS_MAX 1000

enum field_kind {
	F_STR,          /* any string */
	F_ID,           /* non-empty string */
	F_MONEY,        /* wire money, see money_from_json */
	F_INT_POS,      /* integer >= 1 */
	F_INT_NONNEG,   /* integer >= 0 */
	F_BOOL,
	F_ITEMS,        /* non-empty array of {sku, qty} */
	F_ITEMS_EMPTY,  /* array of {sku, qty}, may be empty */
	F_STEP,         /* inventory | payment | shipping */
	F_ACTION,       /* releaseInventory | refundPayment */
	F_STOCK_OP,     /* hold | release | commit */
	F_ANY,          /* any JSON value, null included */
};

struct field {
	const char *name;
	enum field_kind kind;
	int optional;
};

struct schema {
	const struct field *fields;
	size_t n;
	int saga; /* carries the additive `attempt` (validated when present) */
};

#define REQ(n, k) { (n), (k), 0 }
#define OPT(n, k) { (n), (k), 1 }

static const struct field order_created[] = {
	REQ("orderId", F_ID), REQ("items", F_ITEMS), REQ("total", F_MONEY),
};
static const struct field inventory_reserved[] = {
	REQ("orderId", F_ID), REQ("reservedItems", F_ITEMS), OPT("total", F_MONEY),
};
static const struct field with_reason[] = {
	REQ("orderId", F_ID), REQ("reason", F_STR),
};
static const struct field payment_authorized[] = {
	REQ("orderId", F_ID), REQ("amount", F_MONEY), REQ("authId", F_STR),
};
static const struct field order_shipped[] = {
	REQ("orderId", F_ID), REQ("carrier", F_STR), REQ("trackingId", F_STR),
};
static const struct field payment_refunded[] = {
	REQ("orderId", F_ID), REQ("amount", F_MONEY), REQ("refundId", F_STR),
};
static const struct field retry_requested[] = {
	REQ("orderId", F_ID), REQ("step", F_STEP),
};
static const struct field compensation_requested[] = {
	REQ("orderId", F_ID), REQ("action", F_ACTION),
};
/* payload is optional: the Node demo drops it (undefined) when the original was not JSON. */
static const struct field dead_letter[] = {
	REQ("originalType", F_STR), REQ("originalEventId", F_STR), OPT("orderId", F_STR),
	REQ("error", F_STR), OPT("payload", F_ANY), OPT("raw", F_STR),
};
static const struct field inventory_released[] = {
	REQ("orderId", F_ID), REQ("releasedItems", F_ITEMS_EMPTY),
};
static const struct field stock_command[] = {
	REQ("orderId", F_ID), REQ("sku", F_ID), REQ("qty", F_INT_POS), REQ("op", F_STOCK_OP),
};
static const struct field stock_result[] = {
	REQ("orderId", F_ID), REQ("sku", F_ID), REQ("qty", F_INT_NONNEG),
	REQ("op", F_STOCK_OP), REQ("ok", F_BOOL), OPT("reason", F_STR),
};
static const struct field order_status_changed[] = {
	REQ("orderId", F_ID), REQ("status", F_ID), REQ("seq", F_INT_POS), OPT("reason", F_STR),
};
static const struct field step_timeout[] = {
	REQ("orderId", F_ID), REQ("step", F_STEP), REQ("attempt", F_INT_NONNEG),
};

#define SCHEMA(f, saga) { (f), ECOM_ARRAY_LEN(f), (saga) }

static const struct schema schemas[EV__COUNT] = {
	[EV_ORDER_CREATED] = SCHEMA(order_created, 1),
	[EV_INVENTORY_RESERVED] = SCHEMA(inventory_reserved, 1),
	[EV_INVENTORY_FAILED] = SCHEMA(with_reason, 1),
	[EV_PAYMENT_AUTHORIZED] = SCHEMA(payment_authorized, 1),
	[EV_PAYMENT_FAILED] = SCHEMA(with_reason, 1),
	[EV_ORDER_SHIPPED] = SCHEMA(order_shipped, 1),
	[EV_SHIPPING_FAILED] = SCHEMA(with_reason, 1),
	[EV_PAYMENT_REFUNDED] = SCHEMA(payment_refunded, 1),
	[EV_RETRY_REQUESTED] = SCHEMA(retry_requested, 1),
	[EV_COMPENSATION_REQUESTED] = SCHEMA(compensation_requested, 1),
	[EV_DEAD_LETTER] = SCHEMA(dead_letter, 0),
	[EV_INVENTORY_RELEASED] = SCHEMA(inventory_released, 1),
	[EV_STOCK_COMMAND] = SCHEMA(stock_command, 1),
	[EV_STOCK_RESULT] = SCHEMA(stock_result, 1),
	[EV_ORDER_STATUS_CHANGED] = SCHEMA(order_status_changed, 1),
	[EV_STEP_TIMEOUT] = SCHEMA(step_timeout, 1),
};

static const char *const steps[] = { "inventory", "payment", "shipping" };
static const char *const actions[] = { "releaseInventory", "refundPayment" };
static const char *const stock_ops[] = { "hold", "release", "commit" };

static int check_enum(const json_t *v, const char *const *names, size_t n, const char *path,
		      const char *expect, struct ecom_err *err)
{
	if (json_is_string(v)) {
		for (size_t i = 0; i < n; i++)
			if (strcmp(json_string_value(v), names[i]) == 0)
				return ECOM_OK;
	}
	return ecom_err_set(err, ECOM_INVALID, "%s: must be one of %s", path, expect);
}

static int check_int(const json_t *v, int64_t min, const char *path, struct ecom_err *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < min)
		return ecom_err_set(err, ECOM_INVALID, "%s: must be %s", path,
				    min > 0 ? "a positive integer" : "an integer >= 0");
	return ECOM_OK;
}

static int check_id(const json_t *v, const char *path, struct ecom_err *err)
{
	if (!json_is_string(v) || json_string_length(v) == 0)
		return ecom_err_set(err, ECOM_INVALID, "%s: must be a non-empty string", path);
	return ECOM_OK;
}

static int check_items(const json_t *v, int allow_empty, const char *path,
		       struct ecom_err *err)
{
	char sub[160];
	size_t n;
	int rc;

	if (!json_is_array(v))
		return ecom_err_set(err, ECOM_INVALID, "%s: must be an array of {sku, qty}", path);
	n = json_array_size(v);
	if (n == 0 && !allow_empty)
		return ecom_err_set(err, ECOM_INVALID, "%s: must not be empty", path);
	if (n > SCHEMA_ITEMS_MAX)
		return ecom_err_set(err, ECOM_INVALID, "%s: more than %d items", path,
				    SCHEMA_ITEMS_MAX);
	for (size_t i = 0; i < n; i++) {
		const json_t *it = json_array_get(v, i);

		if (!json_is_object(it))
			return ecom_err_set(err, ECOM_INVALID, "%s[%zu]: must be an object", path,
					    i);
		/* The element's path is only formatted for the error (validation runs per
		 * delivery). */
		rc = check_id(json_object_get(it, "sku"), "", NULL);
		if (rc) {
			snprintf(sub, sizeof(sub), "%s[%zu].sku", path, i);
			return check_id(json_object_get(it, "sku"), sub, err);
		}
		rc = check_int(json_object_get(it, "qty"), 1, "", NULL);
		if (rc) {
			snprintf(sub, sizeof(sub), "%s[%zu].qty", path, i);
			return check_int(json_object_get(it, "qty"), 1, sub, err);
		}
	}
	return ECOM_OK;
}

static int check_field(const struct field *f, const json_t *v, const char *path,
		       struct ecom_err *err)
{
	int64_t cents;

	switch (f->kind) {
	case F_STR:
		if (!json_is_string(v))
			return ecom_err_set(err, ECOM_INVALID, "%s: must be a string", path);
		return ECOM_OK;
	case F_ID:
		return check_id(v, path, err);
	case F_MONEY:
		if (money_from_json((json_t *)v, &cents) != ECOM_OK)
			return ecom_err_set(err, ECOM_INVALID,
					    "%s: must be a non-negative amount with at most 2 "
					    "decimals", path);
		return ECOM_OK;
	case F_INT_POS:
		return check_int(v, 1, path, err);
	case F_INT_NONNEG:
		return check_int(v, 0, path, err);
	case F_BOOL:
		if (!json_is_boolean(v))
			return ecom_err_set(err, ECOM_INVALID, "%s: must be a boolean", path);
		return ECOM_OK;
	case F_ITEMS:
		return check_items(v, 0, path, err);
	case F_ITEMS_EMPTY:
		return check_items(v, 1, path, err);
	case F_STEP:
		return check_enum(v, steps, ECOM_ARRAY_LEN(steps), path,
				  "inventory, payment, shipping", err);
	case F_ACTION:
		return check_enum(v, actions, ECOM_ARRAY_LEN(actions), path,
				  "releaseInventory, refundPayment", err);
	case F_STOCK_OP:
		return check_enum(v, stock_ops, ECOM_ARRAY_LEN(stock_ops), path,
				  "hold, release, commit", err);
	case F_ANY:
		return ECOM_OK;
	}
	ECOM_ASSERT(!"unknown field kind");
	return ECOM_INVALID;
}

int event_validate_payload(enum event_type t, json_t *payload, struct ecom_err *err)
{
	static const struct field attempt = OPT("attempt", F_INT_NONNEG);
	const struct schema *s;
	char path[96];
	json_t *v;
	int rc;

	ECOM_ASSERT((int)t >= 0 && t < EV__COUNT);
	s = &schemas[t];
	if (!json_is_object(payload))
		return ecom_err_set(err, ECOM_INVALID, "payload: must be an object");
	for (size_t i = 0; i < s->n; i++) {
		const struct field *f = &s->fields[i];

		size_t nl = strlen(f->name);

		/* "payload.<name>" without printf: this runs for every field of every delivery. */
		ECOM_ASSERT(nl + sizeof("payload.") <= sizeof(path));
		memcpy(path, "payload.", sizeof("payload.") - 1);
		memcpy(path + sizeof("payload.") - 1, f->name, nl + 1);
		v = json_object_get(payload, f->name);
		if (!v) {
			if (f->optional)
				continue;
			return ecom_err_set(err, ECOM_INVALID, "%s: is required", path);
		}
		rc = check_field(f, v, path, err);
		if (rc)
			return rc;
	}
	v = json_object_get(payload, attempt.name);
	if (s->saga && v)
		return check_field(&attempt, v, "payload.attempt", err);
	return ECOM_OK;
}
