/* sched.h — the simulator's event queue: a binary min-heap keyed by (time_us, sequence).
 * The sequence number is assigned at push, so two events at the same virtual time pop in
 * the order they were scheduled: the order never depends on pointers or heap layout.
 * Bounded: pushing past the capacity fails instead of growing without limit. */
#ifndef ECOM_SIM_SCHED_H
#define ECOM_SIM_SCHED_H

#include <stddef.h>
#include <stdint.h>

/* Default bound on pending events; a world that needs more is polling too much. */
#define SCHED_EVENTS_MAX (1u << 20)

struct sched_event {
	int64_t at_us;   /* virtual time it fires */
	uint64_t seq;    /* tie-break: push order */
	int kind;        /* the owner's event kind */
	int32_t target;  /* e.g. an instance index */
	int64_t arg;     /* kind-specific (a token, an op index, ...) */
};

struct sched {
	struct sched_event *heap;
	size_t n;
	size_t cap;       /* allocated */
	size_t max;       /* bound */
	uint64_t next_seq;
	uint64_t pushed;  /* total ever pushed, for reports */
	size_t high_water;
};

void sched_init(struct sched *s, size_t max_events);
void sched_deinit(struct sched *s);
/* ECOM_OK, or ECOM_UNAVAILABLE when max_events are already pending (nothing queued). */
int sched_push(struct sched *s, int64_t at_us, int kind, int32_t target, int64_t arg);
/* 1 and *out = the earliest event (removed), or 0 when empty. */
int sched_pop(struct sched *s, struct sched_event *out);
/* 1 and *out = the earliest event (left in place), or 0 when empty. */
int sched_peek(const struct sched *s, struct sched_event *out);
size_t sched_len(const struct sched *s);

#endif
