/* bugs.c — names of the planted bugs, for scenario files and reports.
 * The table is the one place a bug's spelling lives; lookups are a linear scan over a
 * handful of entries, in declaration order. */
#include "core/bugs.h"

#include <string.h>

#include "core/ecom.h"

struct bug_name {
	uint32_t bit;
	const char *name;
};

static const struct bug_name bug_names[] = {
	{ BUG_SKIP_INBOX_DEDUP, "skip_inbox_dedup" },
	{ BUG_PUBLISH_BEFORE_COMMIT, "publish_before_commit" },
	{ BUG_DROP_POISON, "drop_poison" },
	{ BUG_SKIP_OUTBOX_SWEEP, "skip_outbox_sweep" },
	{ BUG_RELEASE_STOCK_TWICE, "release_stock_twice" },
	{ BUG_PROJECTION_LAST_EVENT, "projection_last_event" },
	{ BUG_FORGET_REFUND, "forget_refund" },
	{ BUG_NO_IDEMPOTENCY_KEY, "no_idempotency_key" },
	{ BUG_OVERSELL, "oversell" },
	{ BUG_NO_DEADLINE, "no_deadline" },
};

static const uint32_t bug_bits[] = {
	BUG_SKIP_INBOX_DEDUP,	   BUG_PUBLISH_BEFORE_COMMIT, BUG_DROP_POISON,
	BUG_SKIP_OUTBOX_SWEEP,	   BUG_RELEASE_STOCK_TWICE,   BUG_PROJECTION_LAST_EVENT,
	BUG_FORGET_REFUND,	   BUG_NO_IDEMPOTENCY_KEY,    BUG_OVERSELL,
	BUG_NO_DEADLINE,
};

_Static_assert(ECOM_ARRAY_LEN(bug_names) == ECOM_ARRAY_LEN(bug_bits), "bug tables disagree");

uint32_t ecom_bug_from_name(const char *name)
{
	if (!name)
		return 0;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(bug_names); i++) {
		if (strcmp(bug_names[i].name, name) == 0)
			return bug_names[i].bit;
	}
	return 0;
}

const char *ecom_bug_name(uint32_t bit)
{
	for (size_t i = 0; i < ECOM_ARRAY_LEN(bug_names); i++) {
		if (bug_names[i].bit == bit)
			return bug_names[i].name;
	}
	return NULL;
}

const uint32_t *ecom_bug_all(int *n)
{
	ECOM_ASSERT(n);
	*n = (int)ECOM_ARRAY_LEN(bug_bits);
	return bug_bits;
}
