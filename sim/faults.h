/* faults.h — what the fault-injecting wrappers (fault_broker, fault_store) share: the
 * world's fault plan (rates + the one faults rng, so every fault is a seeded draw) and a
 * per-instance crash point ("crash after the k-th call"). Faults are drawn only while the
 * plan is active; the simulator switches it off for the quiet phase. Every injected fault
 * is reported through on_fault so it becomes a trace line. */
#ifndef ECOM_SIM_FAULTS_H
#define ECOM_SIM_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/broker.h"
#include "core/clock.h"
#include "core/rng.h"

enum fault_poison_kind {
	FAULT_POISON_MALFORMED = 0, /* not JSON at all (truncated) */
	FAULT_POISON_SCHEMA,        /* a well-formed envelope whose payload fails its schema */
	FAULT_POISON_UNKNOWN_TYPE,  /* a well-formed envelope of a type nobody knows */
	FAULT_POISON__COUNT
};
const char *fault_poison_kind_name(enum fault_poison_kind k);

struct fault_plan {
	struct rng *rng; /* borrowed; every fault draw comes from it */
	int active;      /* 0: inject nothing (quiet phase) */
	double duplicate_delivery; /* poll hands the same message out again right after */
	double produce_error;      /* produce: UNAVAILABLE, nothing appended */
	double poison;             /* per produced saga message: one poison message after it */
	double store_error;        /* any store call: UNAVAILABLE, nothing applied */
	double store_ambiguous;    /* insert/replace: applied, caller told AMBIGUOUS */
	/* Per delivered message: the consumer's fetch of that partition stalls for a delay
	 * drawn from [stall_ms_lo, stall_ms_hi]; its other partitions keep flowing (Kafka's
	 * per-partition fetch lag), so a consumer sees events of different partitions out
	 * of their causal order. Order within a partition is kept. */
	double partition_stall;
	int64_t stall_ms_lo, stall_ms_hi;
	struct eclock *clock;      /* borrowed; required when partition_stall > 0 */
	uint64_t poison_seq;       /* numbering of injected poison ("poison-<n>") */
	void *arg;
	/* actor = the wrapper's name (an instance); what = "dup", "produce_error", ... */
	void (*on_fault)(void *arg, const char *actor, const char *what, const char *detail);
	/* A poison message was appended to topic (value borrowed for the call). */
	void (*on_poison)(void *arg, const char *actor, const char *topic, const char *key,
			  const char *value, size_t value_len, enum fault_poison_kind kind,
			  const char *poison_id);
	/* Every message a wrapped poll hands out (dup: a copy handed out again). */
	void (*on_deliver)(void *arg, const char *actor, const struct broker_msg *m, int dup);
};

/* Shared by one instance's broker and store wrappers. Calls are counted across both; when
 * crash_after > 0 the crash_after-th call completes and every later call fails with
 * ECOM_UNAVAILABLE (nothing applied) until the world tears the instance down. */
struct fault_crashpoint {
	int64_t calls;
	int64_t crash_after; /* 0 = never */
	int crashed;
};

/* Counts one call. 1 if the instance is crashed (the call must fail, nothing applied). */
int fault_crashpoint_enter(struct fault_crashpoint *cp);
/* After a call completed: marks the crash if this was the crash_after-th call. */
void fault_crashpoint_leave(struct fault_crashpoint *cp);

/* Draws with probability p from the plan's rng, only while active and p > 0 (so a rate
 * of 0 consumes no draws and leaves the stream of other faults unchanged). */
int fault_draw(struct fault_plan *plan, double p);

#endif
