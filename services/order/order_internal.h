/* order_internal.h — what the order service's files share: the service object, the state
 * vocabulary (statuses, steps, field names) and the helpers that change an order's status,
 * step and timer. Private to services/order. */
#ifndef ECOM_SERVICES_ORDER_INTERNAL_H
#define ECOM_SERVICES_ORDER_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "core/catalog.h"
#include "core/ecom.h"
#include "core/rng.h"
#include "order.h"
#include "runtime/runtime.h"

#define ORDER_COLLECTION "orders"
#define ORDER_INBOX_MAX 128

/* Statuses (docs/saga.md). */
#define ST_CREATED "CREATED"
#define ST_INVENTORY_RESERVED "INVENTORY_RESERVED"
#define ST_INVENTORY_FAILED "INVENTORY_FAILED"
#define ST_PAYMENT_AUTHORIZED "PAYMENT_AUTHORIZED"
#define ST_PAYMENT_FAILED "PAYMENT_FAILED"
#define ST_SHIPPED "SHIPPED"
#define ST_SHIPPING_FAILED "SHIPPING_FAILED"
#define ST_CANCELLED "CANCELLED"
#define ST_RETRYING "RETRYING"

/* What the order waits for ("step" field); absent once terminal. */
#define STEP_COMPENSATION "compensation"

struct order_service {
	const struct catalog *cat;
	struct order_config cfg;
	struct runtime *rt;
	/* Split from the runtime's rng on first contact with a handler context, so order ids
	 * drawn outside a handler still come from the seeded stream (runtime.h has no
	 * accessor for the rng itself). */
	struct rng rng;
	int rng_ready;
};

void order_rng_touch(struct order_service *o, struct svc_ctx *ctx);
int order_bug(struct order_service *o, struct svc_ctx *ctx, uint32_t bug);
int64_t order_deadline_us(const struct order_service *o);

/* 0 CREATED/RETRYING, 1 INVENTORY_RESERVED, 2 PAYMENT_AUTHORIZED, 3 *_FAILED,
 * 4 SHIPPED/CANCELLED; -1 unknown. */
int order_status_rank(const char *status);

/* Sets status, bumps seq, emits order.OrderStatusChanged.v1. Terminal statuses end any
 * running retry and clear `stuck`. */
void order_set_status(struct svc_ctx *ctx, json_t *st, const char *status, const char *reason);
/* Recomputes the awaited step from the status; a new step restarts its deadline. */
void order_update_step(struct order_service *o, struct svc_ctx *ctx, json_t *st);
/* Sets the aggregate's timer to the pending deadline, or clears it (never under
 * BUG_NO_DEADLINE). */
void order_arm(struct order_service *o, struct svc_ctx *ctx, json_t *st);
/* Appends {type, eventId, attempt, at_us, at} to history, keeping the newest
 * ORDER_HISTORY_MAX. event_id may be NULL (events the order emits itself). */
void order_history_add(struct svc_ctx *ctx, json_t *st, const char *type, const char *event_id,
		       int64_t attempt);
/* Refreshes updated_us / updatedAt. */
void order_touch(struct svc_ctx *ctx, json_t *st);
/* Recomputes the derived ledger totals: held, released, captured_cents, refunded_cents. */
void order_ledger_totals(json_t *st);
/* The ledger row of an attempt (NULL if none). */
json_t *order_ledger_row(json_t *st, int64_t attempt, int create);

/* The svc_def callbacks (order_fold.c). */
int order_handle(void *svc, struct svc_ctx *ctx, json_t **state, const struct envelope *ev);
int order_wake(void *svc, struct svc_ctx *ctx, const char *collection, const char *id,
	       json_t **state);

/* Runs fn through runtime_exec on orders/id and carries a refusal message set by fn
 * (in *fn_err) back into err. */
int order_exec(struct order_service *o, const char *id, svc_exec_fn fn, void *arg,
	       struct ecom_err *fn_err, struct ecom_err *err);

#endif
