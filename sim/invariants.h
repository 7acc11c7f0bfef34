/* invariants.h — the properties every simulation run is judged by (DESIGN.md §5), with
 * their stable names. The checkers read only the world's stores, the broker log and the
 * simulated adapters' ledgers; they never trust a service's own counters. A violation
 * carries a specific detail (order id, SKU, amounts, virtual time). */
#ifndef ECOM_SIM_INVARIANTS_H
#define ECOM_SIM_INVARIANTS_H

#include <jansson.h>
#include <stdint.h>

enum inv_id {
	INV_TERMINATION = 0,
	INV_STOCK_CONSERVATION,
	INV_PAYMENT_BALANCE,
	INV_EXACTLY_ONCE_EFFECTS,
	INV_PROJECTION_CONVERGENCE,
	INV_OUTBOX_DRAINED,
	INV_DLQ_ACCOUNTING,
	INV__COUNT
};

/* "termination", "stock_conservation", ... */
const char *inv_name(enum inv_id id);
/* ECOM_OK or ECOM_NOT_FOUND. */
int inv_from_name(const char *name, enum inv_id *out);

/* Bound on violations kept per invariant (the rest are counted, not listed). */
#define INV_DETAILS_MAX 20

struct inv_report {
	json_t *violations;           /* array of {"invariant","detail"} (owned) */
	uint32_t fired;               /* bit per enum inv_id */
	uint64_t count[INV__COUNT];   /* total violations per invariant */
};

void inv_report_init(struct inv_report *r);
void inv_report_deinit(struct inv_report *r);
/* Records one violation (kept in the list up to INV_DETAILS_MAX per invariant). */
void inv_report_add(struct inv_report *r, enum inv_id id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct sim_world;
/* Runs every end-of-run checker over the quiescent world and adds to r. */
void inv_check_all(struct sim_world *w, struct inv_report *r);

#endif
