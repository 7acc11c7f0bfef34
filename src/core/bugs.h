/* bugs.h — planted bugs: deliberate defects a scenario can switch on ("bugs": [...]) to
 * prove that an invariant catches them. Off unless a scenario names them; the real
 * deployment never sets any. Each names the invariant that must fire. */
#ifndef ECOM_BUGS_H
#define ECOM_BUGS_H

#include <stdint.h>

enum ecom_bug {
	BUG_SKIP_INBOX_DEDUP = 1u << 0,        /* runtime: handle duplicates again -> exactly_once_effects */
	BUG_PUBLISH_BEFORE_COMMIT = 1u << 1,   /* runtime: produce outbox before the CAS -> exactly_once_effects / projection_convergence */
	BUG_DROP_POISON = 1u << 2,             /* runtime: ack poison without dead-lettering -> dlq_accounting */
	BUG_SKIP_OUTBOX_SWEEP = 1u << 3,       /* runtime: never sweep; a crash after commit strands events -> outbox_drained / termination */
	BUG_RELEASE_STOCK_TWICE = 1u << 4,     /* inventory: release ignores the hold state -> stock_conservation */
	BUG_PROJECTION_LAST_EVENT = 1u << 5,   /* read-model: status = last event to arrive -> projection_convergence */
	BUG_FORGET_REFUND = 1u << 6,           /* payment: ShippingFailed does not refund -> payment_balance */
	BUG_NO_IDEMPOTENCY_KEY = 1u << 7,      /* payment: fresh gateway key per attempt -> payment_balance (charged twice) */
	BUG_OVERSELL = 1u << 8,                /* inventory: hold without checking available -> stock_conservation */
	BUG_NO_DEADLINE = 1u << 9,             /* order: saga deadlines never fire -> termination */
};

/* "skip_inbox_dedup" -> BUG_SKIP_INBOX_DEDUP. 0 if unknown. */
uint32_t ecom_bug_from_name(const char *name);
/* The name of one bit; NULL if not exactly one known bit. */
const char *ecom_bug_name(uint32_t bit);
/* Every known bug, in declaration order; n set to the count. */
const uint32_t *ecom_bug_all(int *n);

#endif
