/* rng.c — xoshiro256** (Blackman & Vigna) seeded through splitmix64. Integer-only except
 * rng_unit, whose 53-bit construction is exact in IEEE doubles on every compiler. */
#include "core/rng.h"

#include <stdio.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

void rng_seed_named(struct rng *r, uint64_t seed, const char *label)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */

	for (const unsigned char *p = (const unsigned char *)label; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	rng_seed(r, seed ^ h);
}

void rng_split(struct rng *parent, struct rng *child)
{
	rng_seed(child, rng_next(parent));
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
	uint64_t limit, x;

	ECOM_ASSERT(n > 0);
	/* Rejection sampling: discard the top partial bucket so every value is equally likely. */
	limit = UINT64_MAX - (UINT64_MAX % n);
	do {
		x = rng_next(r);
	} while (x >= limit);
	return x % n;
}

int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
	ECOM_ASSERT(lo <= hi);
	uint64_t span = (uint64_t)hi - (uint64_t)lo;

	if (span == UINT64_MAX)
		return (int64_t)rng_next(r);
	return (int64_t)((uint64_t)lo + rng_below(r, span + 1));
}

double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

int rng_chance(struct rng *r, double p)
{
	double u = rng_unit(r);

	if (p <= 0.0)
		return 0;
	if (p >= 1.0)
		return 1;
	return u < p;
}

void rng_uuid(struct rng *r, char out[37])
{
	uint64_t hi = rng_next(r), lo = rng_next(r);

	hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL; /* version 4 */
	lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; /* RFC 4122 variant */
	/* "%08x-%04x-%04x-%04x-%012llx" of (hi, lo), written directly. */
	{
		static const char hex[] = "0123456789abcdef";
		int o = 0;

		for (int i = 15; i >= 0; i--) {
			out[o++] = hex[(hi >> (i * 4)) & 15];
			if (i == 8 || i == 4 || i == 0)
				out[o++] = '-';
		}
		for (int i = 15; i >= 0; i--) {
			out[o++] = hex[(lo >> (i * 4)) & 15];
			if (i == 12)
				out[o++] = '-';
		}
		out[o] = '\0';
	}
}
