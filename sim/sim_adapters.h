/* sim_adapters.h — the simulated payment gateway and carrier (core/adapters.h), with the
 * failure modes of real ones: business refusals, transient errors (nothing applied),
 * ambiguous timeouts (applied, but the caller hears AMBIGUOUS) and outage windows. A key
 * seen before replays its first outcome without a new effect, as real gateways do. Every
 * effect is recorded in a per-order ledger that the invariant checkers read (they never
 * trust a service's own counters). Deterministic: all randomness comes from the rng given
 * at creation, time from the clock; lookups hash with a fixed function and every listing
 * is sorted by order id. */
#ifndef ECOM_SIM_ADAPTERS_H
#define ECOM_SIM_ADAPTERS_H

#include <stddef.h>
#include <stdint.h>

#include "core/adapters.h"
#include "core/clock.h"
#include "core/rng.h"

#define SIM_OUTAGES_MAX 16
#define SIM_ORDER_ID_MAX 128

/* [from_us, to_us) of clock time during which every call answers ECOM_UNAVAILABLE. */
struct sim_outage {
	int64_t from_us;
	int64_t to_us;
};

/* Probabilities are per call, in [0, 1]. Each call that reaches the adapter (outside an
 * outage) draws exactly three numbers, in this order: error, ambiguous, decline. */
struct sim_adapter_rates {
	double decline;   /* charge declined ("card_declined") / booking refused ("carrier_error");
			     never applies to refunds or to a replayed key */
	double error;     /* ECOM_UNAVAILABLE, nothing applied (also on replays) */
	double ambiguous; /* the effect is applied (or replayed), the caller hears ECOM_AMBIGUOUS */
	struct sim_outage outages[SIM_OUTAGES_MAX];
	size_t n_outages;
};

/* What happened to the calls, for reports and tests. */
struct sim_adapter_stats {
	uint64_t calls;       /* every call, outages included */
	uint64_t outage;      /* refused inside an outage window */
	uint64_t errors;      /* transient errors (nothing applied) */
	uint64_t ambiguous;   /* answered AMBIGUOUS */
	uint64_t replays;     /* a known key answered from its first outcome */
	uint64_t conflicts;   /* a known key reused with different arguments (ECOM_CONFLICT) */
	uint64_t invalid;     /* refused as invalid (refund over the capture, unknown capture) */
};

/* ---- gateway ------------------------------------------------------------------------ */

/* Per order, everything the gateway really did. */
struct sim_ledger_entry {
	char order_id[SIM_ORDER_ID_MAX];
	int charges;             /* distinct captures (approved charge keys) */
	int declines;            /* distinct declined charge keys */
	int refunds;             /* distinct refunds applied */
	int64_t captured_cents;  /* sum of captures */
	int64_t refunded_cents;  /* sum of refunds */
	int outstanding;         /* captures not yet fully refunded, now */
	int max_outstanding;     /* the most ever outstanding at once: > 1 means charged twice */
};

struct sim_gateway;

/* rates are copied; rng and clock are borrowed and must outlive the gateway. */
struct sim_gateway *sim_gateway_new(const struct sim_adapter_rates *r, struct rng *rng,
				    struct eclock *clock);
void sim_gateway_free(struct sim_gateway *g);
/* The interface to hand to the payment service (the struct gateway is the first member). */
struct gateway *sim_gateway_iface(struct sim_gateway *g);
/* Replaces the rates (e.g. a scenario phase, or a test forcing an ambiguous call). */
void sim_gateway_set_rates(struct sim_gateway *g, const struct sim_adapter_rates *r);

/* ECOM_OK and *out filled, or ECOM_NOT_FOUND if the gateway never applied anything for
 * order_id (declines count as applied). */
int sim_gateway_order(const struct sim_gateway *g, const char *order_id,
		      struct sim_ledger_entry *out);
/* Number of orders in the ledger. */
size_t sim_gateway_order_count(const struct sim_gateway *g);
/* Calls fn for every order in ascending order-id (strcmp) order; a nonzero return stops
 * the walk and is returned, else 0. fn must not call into the gateway's charge/refund. */
int sim_gateway_foreach(const struct sim_gateway *g,
			int (*fn)(void *arg, const struct sim_ledger_entry *e), void *arg);
void sim_gateway_stats(const struct sim_gateway *g, struct sim_adapter_stats *out);

/* ---- carrier ------------------------------------------------------------------------ */

/* Carriers a booking is drawn from, in this order. */
#define SIM_CARRIER_NAMES { "UPS", "DHL", "FedEx" }

struct sim_booking_entry {
	char order_id[SIM_ORDER_ID_MAX];
	int bookings; /* distinct bookings (booked keys): > 1 means shipped twice */
	int failures; /* distinct refused keys */
};

struct sim_carrier;

struct sim_carrier *sim_carrier_new(const struct sim_adapter_rates *r, struct rng *rng,
				    struct eclock *clock);
void sim_carrier_free(struct sim_carrier *c);
struct carrier *sim_carrier_iface(struct sim_carrier *c);
void sim_carrier_set_rates(struct sim_carrier *c, const struct sim_adapter_rates *r);

int sim_carrier_order(const struct sim_carrier *c, const char *order_id,
		      struct sim_booking_entry *out);
size_t sim_carrier_order_count(const struct sim_carrier *c);
int sim_carrier_foreach(const struct sim_carrier *c,
			int (*fn)(void *arg, const struct sim_booking_entry *e), void *arg);
void sim_carrier_stats(const struct sim_carrier *c, struct sim_adapter_stats *out);

#endif
