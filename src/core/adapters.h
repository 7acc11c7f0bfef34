/* adapters.h — the external systems a handler may call itself: the payment gateway and
 * the carrier. Every call carries an idempotency key; calling again with the same key
 * returns the first call's outcome and never repeats its effect (how real gateways work).
 * Implementations: sim/sim_gateway.c (declines, latency, outages, ambiguous timeouts) and,
 * for `ecom serve`, the same simulated adapters seeded from the OS. Calls never block in
 * the simulator. Results:
 *   ECOM_OK          approved / booked (ids filled)
 *   ECOM_REFUSED     declined / carrier refused (reason filled) — a business outcome
 *   ECOM_UNAVAILABLE nothing happened; retry later with the same key
 *   ECOM_AMBIGUOUS   timed out: it may have happened; retry with the same key to learn */
#ifndef ECOM_ADAPTERS_H
#define ECOM_ADAPTERS_H

#include <stdint.h>

#include "core/ecom.h"

#define ADAPTER_ID_MAX 64
#define ADAPTER_REASON_MAX 64

struct gateway;
struct gateway_ops {
	const char *name;
	/* Authorizes and captures amount_cents for order_id. */
	int (*charge)(struct gateway *g, const char *idem_key, const char *order_id,
		      int64_t amount_cents, char auth_id[ADAPTER_ID_MAX],
		      char reason[ADAPTER_REASON_MAX]);
	/* Refunds amount_cents of the capture auth_id; never more than was captured. */
	int (*refund)(struct gateway *g, const char *idem_key, const char *order_id,
		      const char *auth_id, int64_t amount_cents, char refund_id[ADAPTER_ID_MAX],
		      char reason[ADAPTER_REASON_MAX]);
};
struct gateway {
	const struct gateway_ops *ops;
};

struct carrier;
struct carrier_ops {
	const char *name;
	/* Books a shipment for order_id. carrier_name e.g. "UPS". */
	int (*book)(struct carrier *c, const char *idem_key, const char *order_id,
		    char carrier_name[ADAPTER_ID_MAX], char tracking_id[ADAPTER_ID_MAX],
		    char reason[ADAPTER_REASON_MAX]);
};
struct carrier {
	const struct carrier_ops *ops;
};

static inline int gateway_charge(struct gateway *g, const char *key, const char *order_id,
				 int64_t cents, char auth_id[ADAPTER_ID_MAX],
				 char reason[ADAPTER_REASON_MAX])
{
	ECOM_ASSERT(g && key && order_id && cents >= 0);
	auth_id[0] = reason[0] = '\0';
	return g->ops->charge(g, key, order_id, cents, auth_id, reason);
}
static inline int gateway_refund(struct gateway *g, const char *key, const char *order_id,
				 const char *auth_id, int64_t cents,
				 char refund_id[ADAPTER_ID_MAX], char reason[ADAPTER_REASON_MAX])
{
	ECOM_ASSERT(g && key && order_id && auth_id && cents >= 0);
	refund_id[0] = reason[0] = '\0';
	return g->ops->refund(g, key, order_id, auth_id, cents, refund_id, reason);
}
static inline int carrier_book(struct carrier *c, const char *key, const char *order_id,
			       char name[ADAPTER_ID_MAX], char tracking[ADAPTER_ID_MAX],
			       char reason[ADAPTER_REASON_MAX])
{
	ECOM_ASSERT(c && key && order_id);
	name[0] = tracking[0] = reason[0] = '\0';
	return c->ops->book(c, key, order_id, name, tracking, reason);
}

#endif
