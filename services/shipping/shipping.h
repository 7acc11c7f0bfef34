/* shipping.h — the shipping service: books one shipment per saga attempt with the
 * carrier, keyed "<orderId>:ship:<attempt>" so a retried or ambiguous booking never ships
 * twice (docs/saga.md). Domain logic only: the carrier is the one I/O a handler does itself.
 *
 * Aggregate shipments/<orderId> (flat runtime document; reserved keys omitted):
 *   {orderId, attempt (highest seen),
 *    bookings: [{attempt, state, key, carrier, trackingId, reason}]}  (arrival order)
 *   state: booked | failed | cancelled
 *
 * Decisions:
 *   - PaymentAuthorized{attempt n}: book -> OrderShipped{orderId, carrier, trackingId,
 *     attempt} or, refused, ShippingFailed{orderId, reason, attempt}. Carrier UNAVAILABLE /
 *     AMBIGUOUS: ECOM_UNAVAILABLE, the runtime retries with the same key.
 *   - StepTimeout{shipping, n} (fence): attempt n not booked yet is cancelled and
 *     ShippingFailed{reason "deadline"} emitted (the order then refunds and releases);
 *     booked or failed: nothing. A PaymentAuthorized arriving for a cancelled attempt
 *     books nothing. Unlike a capture, a booking cannot be undone through the carrier
 *     interface, so replaying the key "to find out" would ship a cancelled order; the
 *     residual risk is a booking whose outcome was never committed before the fence (an
 *     ambiguous call still being retried 60 s later), which the carrier ledger shows.
 *   - RetryRequested is not consumed: a retry arrives here as a new PaymentAuthorized. */
#ifndef ECOM_SERVICES_SHIPPING_H
#define ECOM_SERVICES_SHIPPING_H

#include "core/adapters.h"
#include "core/ecom.h"
#include "runtime/runtime.h"

#define SHIPPING_COLL "shipments"
#define SHIPPING_INBOX_MAX 256
/* Bookings (attempts) one shipment aggregate keeps; more is an invalid event. */
#define SHIPPING_BOOKINGS_MAX 64

struct shipping_config {
	struct carrier *carrier; /* borrowed; required */
};

struct shipping_service;

/* cfg is copied; the carrier must outlive the service. */
struct shipping_service *shipping_service_new(const struct shipping_config *cfg);
void shipping_service_free(struct shipping_service *s);
/* Consumes PaymentAuthorized and StepTimeout. */
const struct svc_def *shipping_svc_def(void);

#endif
