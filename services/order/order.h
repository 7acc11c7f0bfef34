/* order.h — the order service: the one entry that creates orders (validated once, committed
 * with its OrderCreated in one insert), the fold of every saga event into the order's status
 * (attempt-aware, never regressing), step deadlines, and the admin retry/compensate commands
 * with the refusal rules of docs/saga.md. Domain logic only: all I/O goes through a runtime. */
#ifndef ECOM_SERVICES_ORDER_H
#define ECOM_SERVICES_ORDER_H

#include <jansson.h>
#include <stdint.h>

#include "core/catalog.h"
#include "core/ecom.h"
#include "runtime/runtime.h"

/* Bounds (TigerBeetle: put a limit on everything). */
#define ORDER_ITEMS_MAX 100                 /* lines per order */
#define ORDER_QTY_MAX 1000                  /* units per line */
#define ORDER_ID_MAX 128                    /* client orderId length */
#define ORDER_ATTEMPTS_MAX 16               /* attempts per order (the first + retries) */
#define ORDER_HISTORY_MAX 128               /* history entries kept (newest) */
#define ORDER_STEP_DEADLINE_US_DEFAULT (60LL * 1000 * 1000)

struct order_config {
	int64_t step_deadline_us; /* per saga step; <= 0 means the default (60 s) */
	uint32_t bugs;            /* planted bugs (bugs.h); ORed with the runtime's */
};

struct order_service;

/* cat is borrowed and must outlive the service; cfg is copied (NULL = defaults). */
struct order_service *order_service_new(const struct catalog *cat,
					const struct order_config *cfg);
void order_service_free(struct order_service *o);
/* The runtime the API functions command through (borrowed; NULL detaches). The runtime
 * must have been created with order_svc_def() and this service as its `svc`. */
void order_service_attach(struct order_service *o, struct runtime *rt);
/* The service definition: consumes the saga's result events, aggregate "orders". */
const struct svc_def *order_svc_def(void);

/* Creates an order. body is borrowed: {items:[{sku,qty}], total, orderId?}.
 * ECOM_OK: *response = {"orderId": id} (new reference). ECOM_INVALID: err->msg names the
 * field ("items[2].qty: must be an integer 1..1000") and nothing was written.
 * ECOM_CONFLICT: a client orderId already used with a different body. ECOM_UNAVAILABLE /
 * ECOM_AMBIGUOUS: the store kept failing (a retry with the same orderId is safe). */
int order_create(struct order_service *o, json_t *body, json_t **response,
		 struct ecom_err *err);

/* The order as the HTTP API shows it (order_to_wire). ECOM_NOT_FOUND, ECOM_UNAVAILABLE. */
int order_get(struct order_service *o, const char *id, json_t **out, struct ecom_err *err);

/* Admin retry of a failed step (docs/saga.md "Admin operations"): step is inventory |
 * payment | shipping. ECOM_OK and *response = {orderId, step, attempt, status};
 * ECOM_INVALID (bad step), ECOM_NOT_FOUND, ECOM_REFUSED with the reason in err->msg. */
int order_retry(struct order_service *o, const char *id, const char *step, json_t **response,
		struct ecom_err *err);
/* Admin compensation: action is releaseInventory | refundPayment. Same codes as retry;
 * *response = {orderId, action, attempt}. */
int order_compensate(struct order_service *o, const char *id, const char *action,
		     json_t **response, struct ecom_err *err);

/* The stored order document (borrowed) as the API shows it, a new reference: the Node
 * demo's shape (_id, items, total in currency units, status, history, createdAt,
 * updatedAt, correlationId) plus seq, attempt, failedStep, reason, captured, refunded,
 * held, retryRunning, stuck. */
json_t *order_to_wire(const json_t *doc);

/* Status names and helpers (docs/saga.md). */
int order_status_is_terminal(const char *status);

#endif
