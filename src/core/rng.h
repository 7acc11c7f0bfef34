/* rng.h — the one source of randomness: xoshiro256** with splitmix64 seeding.
 * The simulator seeds it from the scenario's seed; the real backends from the OS
 * (backends/real). Streams are derived by label, so adding a component never shifts
 * another component's numbers. Same seed + same calls => same numbers, on any compiler. */
#ifndef ECOM_RNG_H
#define ECOM_RNG_H

#include <stdint.h>

#include "core/ecom.h"

struct rng {
	uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
/* Independent stream for a named component: seed mixed with FNV-1a(label). */
void rng_seed_named(struct rng *r, uint64_t seed, const char *label);
/* Child stream drawn from the parent (advances the parent by one draw). */
void rng_split(struct rng *parent, struct rng *child);

uint64_t rng_next(struct rng *r);
/* Uniform in [0, n), unbiased; n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Uniform in [lo, hi], inclusive; lo <= hi. */
int64_t rng_range(struct rng *r, int64_t lo, int64_t hi);
/* Uniform double in [0, 1) with 53 random bits. */
double rng_unit(struct rng *r);
/* 1 with probability p (p <= 0 never, p >= 1 always; always consumes one draw). */
int rng_chance(struct rng *r, double p);
/* Version-4 UUID, lowercase, "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" + NUL. */
void rng_uuid(struct rng *r, char out[37]);

#endif
