/* fault_store.h — a store that wraps any store (core/store.h) and injects the plan's faults:
 * store_error (UNAVAILABLE, nothing applied) on every call, store_ambiguous on writes
 * (applied, caller told AMBIGUOUS), and crash points. One wrapper per service instance over
 * the service's shared store, so a crash point is per instance. */
#ifndef ECOM_SIM_FAULT_STORE_H
#define ECOM_SIM_FAULT_STORE_H

#include "core/store.h"
#include "sim/faults.h"

/* inner is borrowed unless owns_inner. plan and cp borrowed (cp may be NULL). name is copied. */
struct store *fault_store_new(struct store *inner, int owns_inner, struct fault_plan *plan,
			      struct fault_crashpoint *cp, const char *name);

#endif
