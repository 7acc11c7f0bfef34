/* catalog.h — the SKUs a shop sells: price (cents) and initial stock.
 * The default catalog is the Node demo load generator's: SKU-1 ... SKU-100 at 10.00 each.
 * Lookups are by name through a sorted array (deterministic, no hashing). */
#ifndef ECOM_CATALOG_H
#define ECOM_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

#define CATALOG_SKU_MAX 64

struct catalog_item {
	char sku[CATALOG_SKU_MAX];
	int64_t price_cents;
	int64_t stock; /* initial units */
};

struct catalog {
	struct catalog_item *items; /* sorted by sku (strcmp) */
	size_t n;
};

/* SKU-1..SKU-n, each at price_cents with `stock` units. */
void catalog_init_uniform(struct catalog *c, size_t n, int64_t price_cents, int64_t stock);
/* SKU-1..SKU-n with prices drawn uniformly from [price_lo, price_hi] (whole cents). */
void catalog_init_random(struct catalog *c, size_t n, int64_t stock, int64_t price_lo,
			 int64_t price_hi, struct rng *r);
/* The default: 100 SKUs at 1000 cents; stock as given. */
void catalog_init_default(struct catalog *c, int64_t stock);
void catalog_deinit(struct catalog *c);
/* NULL when unknown. */
const struct catalog_item *catalog_find(const struct catalog *c, const char *sku);

#endif
