/* payment.h — the payment service: charges the order total once per saga attempt and
 * refunds exactly the captured amount at most once per capture (docs/saga.md "Money
 * rules"). Every gateway call carries an idempotency key (<orderId>:charge:<attempt>,
 * <orderId>:refund:<attempt>), so a retried or ambiguous call never moves money twice.
 * Domain logic only: the gateway is the one I/O a handler does itself.
 *
 * Aggregate payments/<orderId> (flat runtime document; reserved keys omitted):
 *   {orderId, amount_cents (-1 = not known yet), attempt (highest seen),
 *    charges: [{attempt, state, key, authId, amount_cents, reason, resolve, was_awaiting?,
 *               refunded, refundId, refunded_cents}]}   (one per attempt, in arrival order)
 *   state: awaiting_amount | captured | declined | cancelled
 *
 * Decisions:
 *   - InventoryReserved{attempt n} (amount from OrderCreated.total or the event's total):
 *     charge -> PaymentAuthorized{orderId, amount, authId, attempt} or, declined,
 *     PaymentFailed{orderId, reason, attempt}. Amount unknown: remembered, charged when
 *     OrderCreated arrives. Gateway UNAVAILABLE / AMBIGUOUS: the handler returns
 *     ECOM_UNAVAILABLE and the runtime retries with the same key, which resolves it.
 *   - ShippingFailed{n}: refund attempt n's capture -> PaymentRefunded{orderId, amount,
 *     refundId, attempt}. CompensationRequested{refundPayment}: refund every capture not
 *     yet refunded; with nothing left, PaymentRefunded{amount 0, refundId ""} so the order
 *     learns the outcome.
 *   - StepTimeout{payment, n} (fence): attempt n without an outcome is cancelled and
 *     PaymentFailed{reason "deadline"} emitted; captured or declined: nothing. Because a
 *     gateway call whose outcome was never committed (an ambiguous call still being
 *     retried, a lost commit) leaves no trace in the aggregate, a cancelled attempt is
 *     marked `resolve`: if its InventoryReserved (or, for a charge that was waiting for
 *     its amount, the OrderCreated) arrives later, the charge is replayed with the same
 *     key and, if it turns out captured,
 *     refunded at once (PaymentRefunded, no PaymentAuthorized). The cost: an event that is
 *     merely late after a fence causes a charge and its refund; the gain: no capture is
 *     ever orphaned by a fence.
 *   - RetryRequested is not consumed: a retry arrives here as a new InventoryReserved.
 *
 * Planted bugs: BUG_NO_IDEMPOTENCY_KEY (each charge call gets a fresh key, so a retried
 * ambiguous charge captures twice), BUG_FORGET_REFUND (ShippingFailed does not refund). */
#ifndef ECOM_SERVICES_PAYMENT_H
#define ECOM_SERVICES_PAYMENT_H

#include "core/adapters.h"
#include "core/ecom.h"
#include "runtime/runtime.h"

#define PAYMENT_COLL "payments"
/* eventIds remembered per payment (an order sees a handful of events per attempt). */
#define PAYMENT_INBOX_MAX 256
/* Charges (attempts) one payment aggregate keeps; more is an invalid event. */
#define PAYMENT_CHARGES_MAX 64

struct payment_config {
	struct gateway *gateway; /* borrowed; required */
};

struct payment_service;

/* cfg is copied; the gateway must outlive the service. */
struct payment_service *payment_service_new(const struct payment_config *cfg);
void payment_service_free(struct payment_service *s);
/* Consumes OrderCreated, InventoryReserved, ShippingFailed, CompensationRequested,
 * StepTimeout. */
const struct svc_def *payment_svc_def(void);

#endif
