/* real_clock.h — the real clock and OS-seeded randomness for processes on real backends.
 * now_us reads CLOCK_MONOTONIC (never goes back), wall_ms reads CLOCK_REALTIME (event
 * timestamps only). Only src/cli wires these in; the simulator never sees them. */
#ifndef ECOM_REAL_CLOCK_H
#define ECOM_REAL_CLOCK_H

#include "core/clock.h"
#include "core/rng.h"

struct real_clock {
	struct eclock base;
};

void real_clock_init(struct real_clock *c);

/* Seeds r with 256 bits from getrandom(2) (blocking until the kernel pool is ready). */
void real_rng_seed(struct rng *r);

#endif
