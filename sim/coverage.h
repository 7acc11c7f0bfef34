/* coverage.h — saga-path coverage ("sometimes" assertions, as FoundationDB uses them): how
 * often a run reached the rare paths a test must exercise to mean anything (a deduplicated
 * duplicate, a refund, a stock-out, a DLQ entry, a sweep after a crash, ...). Counts come
 * from a run's summary JSON and, where the summary cannot tell, from its trace lines; each
 * point records whether its source could tell at all, so "never reached" is never claimed
 * for a point nobody measured. Pure functions over data: no I/O, deterministic. */
#ifndef ECOM_SIM_COVERAGE_H
#define ECOM_SIM_COVERAGE_H

#include <jansson.h>
#include <stdint.h>

enum cov_point {
	COV_DUPLICATE_DEDUPED = 0,  /* a redelivered event skipped by an inbox */
	COV_REFUND,                 /* payment.PaymentRefunded.v1 published (compensation) */
	COV_STOCK_OUT,              /* inventory.InventoryFailed.v1 published */
	COV_DEAD_LETTER,            /* a message moved to <topic>.dlq */
	COV_SWEEP_PUBLISHED,        /* an outbox entry left behind, published by the sweep */
	COV_REBALANCE,              /* a consumer group rebalanced after t = 0 */
	COV_COMMIT_AMBIGUOUS,       /* a CAS commit answered "maybe applied" */
	COV_CAS_CONFLICT,           /* a CAS commit lost a race */
	COV_BACKOFF_RETRY,          /* a transient failure retried with backoff */
	COV_DEADLINE_FENCE,         /* a step owner handled ops.StepTimeout.v1 */
	COV_ADMIN_RETRY_OK,
	COV_ADMIN_RETRY_REFUSED,
	COV_ADMIN_COMPENSATE_OK,
	COV_ADMIN_COMPENSATE_REFUSED,
	COV_CRASH,                  /* an instance crashed (drawn, scripted or crash point) */
	COV__COUNT
};

/* Stable names: "duplicate_deduped", "refund", "stock_out", ... */
const char *cov_name(enum cov_point p);
/* One line saying what reaching the point means, for reports. */
const char *cov_meaning(enum cov_point p);

struct cov_counts {
	int64_t n[COV__COUNT];
	uint32_t known; /* bit per point its sources could measure */
};

void cov_counts_init(struct cov_counts *c);
/* Adds what the summary tells (borrowed). A summary "coverage" object of
 * {name: count} is taken as authoritative for the points it names; otherwise
 * the instances' stats, dead_letters, crashes and ops results are used. */
void cov_from_summary(struct cov_counts *c, const json_t *summary);
/* Marks every point that trace lines can measure as known (call once per trace). */
void cov_trace_begin(struct cov_counts *c);
/* Adds one trace line, given as its virtual time, actor, event and detail fields. */
void cov_trace_line(struct cov_counts *c, int64_t t_us, const char *actor, const char *what,
		    const char *detail);
/* Merges src into dst: point by point, the larger count wins (summary and trace count the
 * same things differently; max avoids double counting). */
void cov_merge_max(struct cov_counts *dst, const struct cov_counts *src);
/* {name: count} for the known points. New reference. */
json_t *cov_to_json(const struct cov_counts *c);

/* Across many runs (sim sweep). */
struct cov_agg {
	uint64_t runs;
	uint64_t runs_known[COV__COUNT];   /* runs whose sources could measure the point */
	uint64_t runs_reached[COV__COUNT]; /* runs that reached it at least once */
	int64_t total[COV__COUNT];
};

void cov_agg_init(struct cov_agg *a);
void cov_agg_add(struct cov_agg *a, const struct cov_counts *c);

#endif
