/* catalog.c — the SKU table: SKU-1..SKU-n built once, then sorted by name (strcmp) so
 * catalog_find is a binary search. No hashing, so lookups never depend on a seed. */
#include "core/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CATALOG_DEFAULT_SKUS 100
#define CATALOG_DEFAULT_PRICE_CENTS 1000

static int catalog_item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct catalog_item *)a)->sku,
		      ((const struct catalog_item *)b)->sku);
}

/* Names and stock; prices are filled by the caller before the sort. */
static void catalog_alloc(struct catalog *c, size_t n, int64_t stock)
{
	ECOM_ASSERT(c);
	c->items = ecom_xcalloc(n, sizeof(*c->items));
	c->n = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(c->items[i].sku, sizeof(c->items[i].sku), "SKU-%zu", i + 1);
		c->items[i].stock = stock;
	}
}

static void catalog_sort(struct catalog *c)
{
	if (c->n > 1)
		qsort(c->items, c->n, sizeof(*c->items), catalog_item_cmp);
}

void catalog_init_uniform(struct catalog *c, size_t n, int64_t price_cents, int64_t stock)
{
	catalog_alloc(c, n, stock);
	for (size_t i = 0; i < n; i++)
		c->items[i].price_cents = price_cents;
	catalog_sort(c);
}

void catalog_init_random(struct catalog *c, size_t n, int64_t stock, int64_t price_lo,
			 int64_t price_hi, struct rng *r)
{
	ECOM_ASSERT(r && price_lo <= price_hi);
	catalog_alloc(c, n, stock);
	/* Drawn in SKU-number order, before sorting, so prices do not depend on strcmp. */
	for (size_t i = 0; i < n; i++)
		c->items[i].price_cents = rng_range(r, price_lo, price_hi);
	catalog_sort(c);
}

void catalog_init_default(struct catalog *c, int64_t stock)
{
	catalog_init_uniform(c, CATALOG_DEFAULT_SKUS, CATALOG_DEFAULT_PRICE_CENTS, stock);
}

void catalog_deinit(struct catalog *c)
{
	if (!c)
		return;
	free(c->items);
	c->items = NULL;
	c->n = 0;
}

const struct catalog_item *catalog_find(const struct catalog *c, const char *sku)
{
	size_t lo = 0, hi;

	ECOM_ASSERT(c);
	if (!sku)
		return NULL;
	hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(c->items[mid].sku, sku);

		if (cmp == 0)
			return &c->items[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
