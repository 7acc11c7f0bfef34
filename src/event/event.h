/* event.h — the event envelope and every event type, with their payload schemas.
 * Wire-compatible with the Node demo (shared/seed): a topic is named after the event type
 * it carries, the envelope has eventId, type, version, timestamp (ISO-8601, ms, UTC),
 * correlationId, causationId, key (= orderId, or the SKU for internal stock commands),
 * payload and headers. Money is integer cents inside ecom and a JSON number in currency
 * units on the wire (20 means 20.00). Serialization is byte-stable for the same input. */
#ifndef ECOM_EVENT_H
#define ECOM_EVENT_H

#include <jansson.h>
#include <stdint.h>

#include "core/ecom.h"
#include "core/rng.h"

enum event_type {
	/* the eleven types of the Node demo */
	EV_ORDER_CREATED = 0,       /* order.OrderCreated.v1 {orderId, items[{sku,qty}], total} */
	EV_INVENTORY_RESERVED,      /* inventory.InventoryReserved.v1 {orderId, reservedItems[], total?} */
	EV_INVENTORY_FAILED,        /* inventory.InventoryFailed.v1 {orderId, reason} */
	EV_PAYMENT_AUTHORIZED,      /* payment.PaymentAuthorized.v1 {orderId, amount, authId} */
	EV_PAYMENT_FAILED,          /* payment.PaymentFailed.v1 {orderId, reason} */
	EV_ORDER_SHIPPED,           /* shipping.OrderShipped.v1 {orderId, carrier, trackingId} */
	EV_SHIPPING_FAILED,         /* shipping.ShippingFailed.v1 {orderId, reason} */
	EV_PAYMENT_REFUNDED,        /* payment.PaymentRefunded.v1 {orderId, amount, refundId} */
	EV_RETRY_REQUESTED,         /* ops.RetryRequested.v1 {orderId, step: inventory|payment|shipping} */
	EV_COMPENSATION_REQUESTED,  /* ops.CompensationRequested.v1 {orderId, action: releaseInventory|refundPayment} */
	EV_DEAD_LETTER,             /* ops.DeadLetter.v1 {originalType, originalEventId, orderId?, error, payload, raw?} */
	/* additive types (new topics; old consumers never see them) */
	EV_INVENTORY_RELEASED,      /* inventory.InventoryReleased.v1 {orderId, releasedItems[]} */
	EV_STOCK_COMMAND,           /* inventory.StockCommand.v1 {orderId, sku, qty, op: hold|release|commit}, key = sku */
	EV_STOCK_RESULT,            /* inventory.StockResult.v1 {orderId, sku, qty, op, ok, reason?} */
	EV_ORDER_STATUS_CHANGED,    /* order.OrderStatusChanged.v1 {orderId, status, seq, attempt, reason?} */
	EV_STEP_TIMEOUT,            /* ops.StepTimeout.v1 {orderId, step, attempt}: fence a step past its deadline */
	EV__COUNT
};

/* "order.OrderCreated.v1" etc. (also the topic name). */
const char *event_type_name(enum event_type t);
/* ECOM_OK, or ECOM_NOT_FOUND for an unknown type name. */
int event_type_from_name(const char *name, enum event_type *out);

struct envelope {
	char *event_id;       /* non-empty, <= 128 bytes */
	enum event_type type;
	int version;          /* 1 */
	int64_t timestamp_ms; /* epoch ms; serialized as ISO-8601 */
	char *correlation_id; /* non-empty */
	char *causation_id;   /* may be NULL */
	char *key;            /* non-empty */
	json_t *payload;      /* owned reference, an object valid for `type` */
	json_t *headers;      /* owned reference, an object of string/number/bool values */
};

/* Builds a new envelope. eventId is a UUID drawn from rng. payload is STOLEN. correlation
 * defaults to the new eventId when NULL (as the demo does); causation may be NULL. */
void envelope_init(struct envelope *e, struct rng *rng, int64_t wall_ms, enum event_type type,
		   const char *key, json_t *payload, const char *correlation_id,
		   const char *causation_id);
void envelope_deinit(struct envelope *e);
/* Deep copy into dst (dst is initialized by this call). */
void envelope_copy(struct envelope *dst, const struct envelope *src);

/* Parses and validates bytes from the wire. On failure *e is left zeroed and err names the
 * offending field, e.g. "payload.items[1].qty: must be a positive integer".
 * ECOM_INVALID for malformed JSON, a missing/invalid envelope field, an unknown type, or a
 * payload that fails its schema. */
int envelope_parse(const char *buf, size_t len, struct envelope *e, struct ecom_err *err);
/* Same, from an already-parsed JSON object (borrowed). */
int envelope_from_json(json_t *obj, struct envelope *e, struct ecom_err *err);
/* envelope_parse(buf, len) when parsed is NULL; otherwise the same result from parsed, the
 * tree that parsing buf gives (broker_msg.parsed: borrowed, read-only), without parsing.
 * Debug builds (ECOM_CHECK_HANDOFF) parse buf anyway and abort if the two differ. */
int envelope_parse_tree(const char *buf, size_t len, json_t *parsed, struct envelope *e,
			struct ecom_err *err);
/* Same, but e->payload and e->headers may be references into parsed: read-only, for
 * callers that only look (or keep a part without changing it in place, jsonx.h). Another
 * consumer of the same message gets the same tree: debug builds' check above catches a
 * change. */
int envelope_parse_shared(const char *buf, size_t len, json_t *parsed, struct envelope *e,
			  struct ecom_err *err);

/* Turns the check memo on (1) or off (0, dropping what it holds). While on,
 * envelope_parse_tree/_shared remember, for the last few hundred trees they accepted, what
 * the check found, and a later load of the same tree skips the check: the simulated broker
 * hands one tree to the log checker and to every consumer group. For single-threaded
 * callers that keep their trees read-only (the simulator: sim_run turns it on and off);
 * off by default. Results are the same either way. */
void envelope_memo(int on);

/* New reference: the envelope as a JSON object in the demo's field order. */
json_t *envelope_to_json(const struct envelope *e);
/* The same, holding e's payload and headers themselves rather than copies: for an envelope
 * about to be dropped whose payload nobody changes in place afterwards (jsonx.h: copy on
 * write). */
json_t *envelope_to_json_shared(const struct envelope *e);
/* malloc'd compact JSON text (ECOM_JSON_FLAGS); caller frees. */
char *envelope_serialize(const struct envelope *e);

/* Validates a payload against its type's schema (borrowed). ECOM_OK or ECOM_INVALID with
 * err naming "payload.<field>". */
int event_validate_payload(enum event_type t, json_t *payload, struct ecom_err *err);

/* Serialization flags used for everything we write (stable, compact, money-safe). */
#define ECOM_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* Money: cents <-> wire number in currency units. 2000 -> 20 (integer), 1999 -> 19.99.
 * money_from_json accepts integers and reals with at most two decimals, >= 0;
 * otherwise ECOM_INVALID. */
json_t *money_to_json(int64_t cents);
int money_from_json(json_t *v, int64_t *cents);

/* The DLQ topic for a topic: "<topic>.dlq" into out (cap bytes). */
void event_dlq_topic(const char *topic, char *out, size_t cap);

#endif
