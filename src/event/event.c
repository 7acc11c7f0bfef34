/* event.c — the envelope: construction, deep copy, wire (de)serialization and money.
 * Output is the Node demo's wire format, key order included, and byte-stable: the same
 * envelope always serializes to the same bytes. Parsing validates every envelope field and
 * the payload schema (schema.c); on failure nothing is allocated and err names the field. */
#include "event/event.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "event/jsonx.h"

#define EVENT_ID_MAX 128
/* 1e13 cents = 100 billion currency units: far beyond any order, still exact in a double. */
#define MONEY_MAX_CENTS 10000000000000LL

static const char *const type_names[EV__COUNT] = {
	[EV_ORDER_CREATED] = "order.OrderCreated.v1",
	[EV_INVENTORY_RESERVED] = "inventory.InventoryReserved.v1",
	[EV_INVENTORY_FAILED] = "inventory.InventoryFailed.v1",
	[EV_PAYMENT_AUTHORIZED] = "payment.PaymentAuthorized.v1",
	[EV_PAYMENT_FAILED] = "payment.PaymentFailed.v1",
	[EV_ORDER_SHIPPED] = "shipping.OrderShipped.v1",
	[EV_SHIPPING_FAILED] = "shipping.ShippingFailed.v1",
	[EV_PAYMENT_REFUNDED] = "payment.PaymentRefunded.v1",
	[EV_RETRY_REQUESTED] = "ops.RetryRequested.v1",
	[EV_COMPENSATION_REQUESTED] = "ops.CompensationRequested.v1",
	[EV_DEAD_LETTER] = "ops.DeadLetter.v1",
	[EV_INVENTORY_RELEASED] = "inventory.InventoryReleased.v1",
	[EV_STOCK_COMMAND] = "inventory.StockCommand.v1",
	[EV_STOCK_RESULT] = "inventory.StockResult.v1",
	[EV_ORDER_STATUS_CHANGED] = "order.OrderStatusChanged.v1",
	[EV_STEP_TIMEOUT] = "ops.StepTimeout.v1",
};

const char *event_type_name(enum event_type t)
{
	ECOM_ASSERT((int)t >= 0 && t < EV__COUNT);
	return type_names[t];
}

int event_type_from_name(const char *name, enum event_type *out)
{
	if (!name)
		return ECOM_NOT_FOUND;
	for (int i = 0; i < EV__COUNT; i++) {
		/* the first letter (o, i, p, s) turns most names away without a call */
		if (name[0] == type_names[i][0] && strcmp(name, type_names[i]) == 0) {
			*out = (enum event_type)i;
			return ECOM_OK;
		}
	}
	return ECOM_NOT_FOUND;
}

void envelope_init(struct envelope *e, struct rng *rng, int64_t wall_ms, enum event_type type,
		   const char *key, json_t *payload, const char *correlation_id,
		   const char *causation_id)
{
	char id[37];

	ECOM_ASSERT((int)type >= 0 && type < EV__COUNT);
	ECOM_ASSERT(key != NULL && key[0] != '\0');
	ECOM_ASSERT(json_is_object(payload));
	rng_uuid(rng, id);
	memset(e, 0, sizeof(*e));
	e->event_id = ecom_xstrdup(id);
	e->type = type;
	e->version = 1;
	e->timestamp_ms = wall_ms;
	/* The demo uses `correlationId ?? eventId`; an empty id is treated as absent so the
	 * non-empty invariant holds. */
	e->correlation_id = ecom_xstrdup(correlation_id && correlation_id[0] ? correlation_id : id);
	e->causation_id = causation_id ? ecom_xstrdup(causation_id) : NULL;
	e->key = ecom_xstrdup(key);
	e->payload = payload;
	e->headers = json_object();
	ECOM_ASSERT(e->headers != NULL);
}

void envelope_deinit(struct envelope *e)
{
	free(e->event_id);
	free(e->correlation_id);
	free(e->causation_id);
	free(e->key);
	json_decref(e->payload);
	json_decref(e->headers);
	memset(e, 0, sizeof(*e));
}

void envelope_copy(struct envelope *dst, const struct envelope *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->event_id = ecom_xstrdup(src->event_id);
	dst->type = src->type;
	dst->version = src->version;
	dst->timestamp_ms = src->timestamp_ms;
	dst->correlation_id = ecom_xstrdup(src->correlation_id);
	dst->causation_id = src->causation_id ? ecom_xstrdup(src->causation_id) : NULL;
	dst->key = ecom_xstrdup(src->key);
	dst->payload = jsonx_copy(src->payload);
	dst->headers = src->headers ? jsonx_copy(src->headers) : json_object();
	ECOM_ASSERT(dst->payload != NULL && dst->headers != NULL);
}

/* ---- to the wire ------------------------------------------------------------------ */

/* share: reference the envelope's payload/headers (for a throwaway serialization) instead
 * of deep-copying them (for a JSON value the caller owns and may mutate). */
static json_t *envelope_build(const struct envelope *e, int share)
{
	char ts[25];
	json_t *o = json_object();

	ECOM_ASSERT(o != NULL);
	ECOM_ASSERT(e->event_id && e->correlation_id && e->key && e->payload);
	clock_format_iso(e->timestamp_ms, ts);
	jsonx_set_str(o, "eventId", e->event_id);
	jsonx_set_str(o, "type", event_type_name(e->type));
	jsonx_set_int(o, "version", e->version);
	jsonx_set_str(o, "timestamp", ts);
	jsonx_set_str(o, "correlationId", e->correlation_id);
	/* JSON.stringify drops an undefined causationId: so do we. */
	if (e->causation_id)
		jsonx_set_str(o, "causationId", e->causation_id);
	jsonx_set_str(o, "key", e->key);
	if (share) {
		jsonx_set_new(o, "payload", json_incref(e->payload));
		jsonx_set_new(o, "headers", e->headers ? json_incref(e->headers) : json_object());
	} else {
		jsonx_set_new(o, "payload", jsonx_copy(e->payload));
		jsonx_set_new(o, "headers", e->headers ? jsonx_copy(e->headers) : json_object());
	}
	return o;
}

json_t *envelope_to_json(const struct envelope *e)
{
	return envelope_build(e, 0);
}

json_t *envelope_to_json_shared(const struct envelope *e)
{
	return envelope_build(e, 1);
}

char *envelope_serialize(const struct envelope *e)
{
	json_t *o = envelope_build(e, 1);
	char *s = jsonx_dumps(o);

	json_decref(o);
	return s;
}

/* ---- from the wire ---------------------------------------------------------------- */

static int get_nonempty(json_t *obj, const char *key, const char **out, struct ecom_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v)
		return ecom_err_set(err, ECOM_INVALID, "%s: is required", key);
	if (!json_is_string(v) || json_string_length(v) == 0)
		return ecom_err_set(err, ECOM_INVALID, "%s: must be a non-empty string", key);
	*out = json_string_value(v);
	return ECOM_OK;
}

static int check_headers(json_t *h, struct ecom_err *err)
{
	const char *name;
	json_t *v;

	if (!json_is_object(h))
		return ecom_err_set(err, ECOM_INVALID, "headers: must be an object");
	json_object_foreach(h, name, v) {
		if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v))
			return ecom_err_set(err, ECOM_INVALID,
					    "headers.%.64s: must be a string, number or boolean",
					    name);
	}
	return ECOM_OK;
}

/* The envelope's strings, borrowed from the JSON object being checked. */
struct env_strs {
	const char *event_id, *correlation_id, *causation_id, *key;
};

/* Validates obj and fills the scalar fields of *e and the borrowed strings. */
static int envelope_check(json_t *obj, struct envelope *e, struct env_strs *strs,
			  struct ecom_err *err)
{
	const char *type_name = NULL;
	json_t *v;
	int rc;

	if (!json_is_object(obj))
		return ecom_err_set(err, ECOM_INVALID, "envelope: must be a JSON object");
	rc = get_nonempty(obj, "eventId", &strs->event_id, err);
	if (rc)
		return rc;
	if (strlen(strs->event_id) > EVENT_ID_MAX)
		return ecom_err_set(err, ECOM_INVALID, "eventId: longer than %d bytes",
				    EVENT_ID_MAX);
	rc = get_nonempty(obj, "type", &type_name, err);
	if (rc)
		return rc;
	if (event_type_from_name(type_name, &e->type) != ECOM_OK)
		return ecom_err_set(err, ECOM_INVALID, "type: unknown event type \"%.96s\"",
				    type_name);
	v = json_object_get(obj, "version");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return ecom_err_set(err, ECOM_INVALID, "version: must be the integer 1");
	e->version = 1;
	v = json_object_get(obj, "timestamp");
	if (!json_is_string(v) || clock_parse_iso(json_string_value(v), &e->timestamp_ms))
		return ecom_err_set(err, ECOM_INVALID,
				    "timestamp: must be an ISO-8601 UTC time like "
				    "2026-01-01T00:00:00.000Z");
	rc = get_nonempty(obj, "correlationId", &strs->correlation_id, err);
	if (rc)
		return rc;
	v = json_object_get(obj, "causationId");
	if (v && !json_is_null(v) && !json_is_string(v))
		return ecom_err_set(err, ECOM_INVALID, "causationId: must be a string or absent");
	strs->causation_id = json_is_string(v) ? json_string_value(v) : NULL;
	rc = get_nonempty(obj, "key", &strs->key, err);
	if (rc)
		return rc;
	v = json_object_get(obj, "payload");
	if (!v)
		return ecom_err_set(err, ECOM_INVALID, "payload: is required");
	rc = event_validate_payload(e->type, v, err);
	if (rc)
		return rc;
	v = json_object_get(obj, "headers");
	if (v && !json_is_null(v))
		return check_headers(v, err);
	return ECOM_OK;
}

/* ---- the check memo (envelope_memo) ------------------------------------------------ */

/* The simulated broker hands one parsed tree to the log checker and to every consumer
 * group; the memo keeps the outcome of a successful check of a tree, so the next load of
 * the same tree skips it. A slot holds a reference to its tree, so a remembered address is
 * never reused for another tree while it is in the memo, and the trees are read-only
 * (broker.h), so the outcome still holds. Direct-mapped on the tree's address: which loads
 * hit changes only how fast they are, never what they return. */
#define ENV_MEMO_SLOTS 256

struct env_memo_slot {
	json_t *obj; /* a reference, or NULL */
	struct env_strs strs;
	enum event_type type;
	int64_t timestamp_ms;
};

static struct env_memo_slot *env_memo;

void envelope_memo(int on)
{
	if (env_memo) {
		for (size_t i = 0; i < ENV_MEMO_SLOTS; i++)
			json_decref(env_memo[i].obj);
		free(env_memo);
		env_memo = NULL;
	}
	if (on)
		env_memo = ecom_xcalloc(ENV_MEMO_SLOTS, sizeof(*env_memo));
}

static struct env_memo_slot *env_memo_slot(const json_t *obj)
{
	uintptr_t a = (uintptr_t)obj;

	return &env_memo[((a >> 4) ^ (a >> 12)) & (ENV_MEMO_SLOTS - 1)];
}

/* envelope_check through the memo (for trees another load may see again). */
static int envelope_check_memo(json_t *obj, struct envelope *e, struct env_strs *strs,
			       struct ecom_err *err)
{
	struct env_memo_slot *m;
	int rc;

	if (!env_memo)
		return envelope_check(obj, e, strs, err);
	m = env_memo_slot(obj);
	if (m->obj == obj) {
#ifdef ECOM_CHECK_HANDOFF
		struct envelope chk;
		struct env_strs cs;

		memset(&chk, 0, sizeof(chk));
		ECOM_ASSERT(envelope_check(obj, &chk, &cs, NULL) == ECOM_OK &&
			    chk.type == m->type && chk.timestamp_ms == m->timestamp_ms &&
			    cs.event_id == m->strs.event_id && "a remembered envelope changed");
#endif
		*strs = m->strs;
		e->type = m->type;
		e->version = 1;
		e->timestamp_ms = m->timestamp_ms;
		return ECOM_OK;
	}
	rc = envelope_check(obj, e, strs, err);
	if (rc == ECOM_OK) {
		json_decref(m->obj);
		m->obj = json_incref(obj);
		m->strs = *strs;
		m->type = e->type;
		m->timestamp_ms = e->timestamp_ms;
	}
	return rc;
}

/* copy: deep-copy payload/headers (obj is borrowed) or take references (obj is ours).
 * memo: obj is a tree other loads may see again (broker_msg.parsed). */
static int envelope_load(json_t *obj, struct envelope *e, int copy, int memo,
			 struct ecom_err *err)
{
	struct env_strs strs = { NULL, NULL, NULL, NULL };
	struct envelope tmp;
	json_t *h;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	memset(e, 0, sizeof(*e));
	rc = memo ? envelope_check_memo(obj, &tmp, &strs, err)
		  : envelope_check(obj, &tmp, &strs, err);
	if (rc)
		goto out;
	tmp.event_id = ecom_xstrdup(strs.event_id);
	tmp.correlation_id = ecom_xstrdup(strs.correlation_id);
	tmp.causation_id = strs.causation_id ? ecom_xstrdup(strs.causation_id) : NULL;
	tmp.key = ecom_xstrdup(strs.key);
	tmp.payload = json_object_get(obj, "payload");
	h = json_object_get(obj, "headers");
	if (!json_is_object(h))
		tmp.headers = json_object();
	else if (copy)
		tmp.headers = jsonx_copy(h);
	else
		tmp.headers = json_incref(h);
	tmp.payload = copy ? jsonx_copy(tmp.payload) : json_incref(tmp.payload);
	ECOM_ASSERT(tmp.payload != NULL && tmp.headers != NULL);
	*e = tmp;
out:
	return rc;
}

int envelope_from_json(json_t *obj, struct envelope *e, struct ecom_err *err)
{
	return envelope_load(obj, e, 1, 0, err);
}

int envelope_parse(const char *buf, size_t len, struct envelope *e, struct ecom_err *err)
{
	json_t *root;
	int rc;

	memset(e, 0, sizeof(*e));
	root = jsonx_loads(buf, len, err);
	if (!root)
		return ECOM_INVALID;
	rc = envelope_load(root, e, 0, 0, err);
	json_decref(root);
	return rc;
}

static int envelope_parse_tree_(const char *buf, size_t len, json_t *parsed, int copy,
				struct envelope *e, struct ecom_err *err)
{
	if (!parsed)
		return envelope_parse(buf, len, e, err);
#ifdef ECOM_CHECK_HANDOFF
	{
		json_t *root = jsonx_loads(buf, len, NULL);

		ECOM_ASSERT(root && json_equal(root, parsed) &&
			    "broker_msg.parsed is not what parsing the value gives (broker.h)");
		json_decref(root);
	}
#endif
	return envelope_load(parsed, e, copy, 1, err);
}

int envelope_parse_tree(const char *buf, size_t len, json_t *parsed, struct envelope *e,
			struct ecom_err *err)
{
	return envelope_parse_tree_(buf, len, parsed, 1, e, err);
}

int envelope_parse_shared(const char *buf, size_t len, json_t *parsed, struct envelope *e,
			  struct ecom_err *err)
{
	return envelope_parse_tree_(buf, len, parsed, 0, e, err);
}

/* ---- money and topics ------------------------------------------------------------- */

json_t *money_to_json(int64_t cents)
{
	json_t *v;

	ECOM_ASSERT(cents >= 0 && cents <= MONEY_MAX_CENTS);
	/* Whole amounts stay integers (20, as JavaScript prints 20.00); the rest is the
	 * nearest double to cents/100, which %.15g prints with its two decimals. */
	if (cents % 100 == 0)
		v = json_integer((json_int_t)(cents / 100));
	else
		v = json_real((double)cents / 100.0);
	ECOM_ASSERT(v != NULL);
	return v;
}

int money_from_json(json_t *v, int64_t *cents)
{
	double x, scaled;
	long long r;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 0 || i > MONEY_MAX_CENTS / 100)
			return ECOM_INVALID;
		*cents = (int64_t)i * 100;
		return ECOM_OK;
	}
	if (!json_is_real(v))
		return ECOM_INVALID;
	x = json_real_value(v);
	if (!isfinite(x) || x < 0)
		return ECOM_INVALID;
	scaled = x * 100.0;
	if (scaled > (double)MONEY_MAX_CENTS)
		return ECOM_INVALID;
	r = llround(scaled);
	/* At most two decimals: x is the double nearest to r/100 (exact for any size), or
	 * within 1e-6 cent of it (the tolerance the wire format has always had). */
	if ((double)r / 100.0 != x && fabs(scaled - (double)r) > 1e-6)
		return ECOM_INVALID;
	*cents = (int64_t)r;
	return ECOM_OK;
}

void event_dlq_topic(const char *topic, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s.dlq", topic);

	ECOM_ASSERT(n >= 0 && (size_t)n < cap);
}
