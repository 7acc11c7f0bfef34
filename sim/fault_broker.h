/* fault_broker.h — a broker that wraps any broker (core/broker.h) and injects the plan's
 * faults, the way SQLite's test_vfs wraps the real VFS: duplicate delivery, produce errors
 * (nothing appended), poison messages after real ones, per-partition fetch stalls, and
 * crash points. With an inactive
 * plan and no crash point it is a transparent pass-through. */
#ifndef ECOM_SIM_FAULT_BROKER_H
#define ECOM_SIM_FAULT_BROKER_H

#include "core/broker.h"
#include "sim/faults.h"

/* inner is OWNED (destroyed with the wrapper). plan and cp are borrowed and must outlive
 * it; cp may be NULL. name (copied) is the actor in fault reports, e.g. "payment#2". */
struct broker *fault_broker_new(struct broker *inner, struct fault_plan *plan,
				struct fault_crashpoint *cp, const char *name);

/* Bound on messages one wrapper holds back for stalled partitions. */
#define FAULT_BROKER_HELD_MAX 4096

/* When the earliest held-back message becomes deliverable (INT64_MAX if none), so the
 * owner can wake the consumer then. b must come from fault_broker_new. */
int64_t fault_broker_next_release(struct broker *b);
/* Messages currently held back. */
size_t fault_broker_held(struct broker *b);

/* Poison kinds are drawn from the plan's rng; this builds the bytes for one (malloc'd,
 * caller frees; *len set). Exposed for tests. */
char *fault_poison_build(enum fault_poison_kind kind, const char *topic, const char *key,
			 const char *poison_id, size_t *len);

#endif
