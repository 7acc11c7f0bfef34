/* coverage.c — saga-path coverage counts from a run's summary and trace lines (see
 * coverage.h). Trace matching uses only the stable words of sim/world.c's lines
 * ("<actor> <event> <detail>"); unknown lines are ignored. */
#include "sim/coverage.h"

#include <string.h>

#include "core/ecom.h"
#include "event/jsonx.h"

static const struct {
	const char *name;
	const char *meaning;
} cov_points[COV__COUNT] = {
	[COV_DUPLICATE_DEDUPED] = { "duplicate_deduped", "a redelivered event was skipped by an inbox" },
	[COV_REFUND] = { "refund", "a payment was refunded (PaymentRefunded published)" },
	[COV_STOCK_OUT] = { "stock_out", "a reservation failed (InventoryFailed published)" },
	[COV_DEAD_LETTER] = { "dead_letter", "a message ended in a <topic>.dlq" },
	[COV_SWEEP_PUBLISHED] = { "sweep_published",
				  "an outbox entry left by a crash or produce error was published by the sweep" },
	[COV_REBALANCE] = { "rebalance", "a consumer group rebalanced after start" },
	[COV_COMMIT_AMBIGUOUS] = { "commit_ambiguous", "a CAS commit answered \"maybe applied\"" },
	[COV_CAS_CONFLICT] = { "cas_conflict", "a CAS commit lost a race and was re-run" },
	[COV_BACKOFF_RETRY] = { "backoff_retry", "a transient failure was retried with backoff" },
	[COV_DEADLINE_FENCE] = { "deadline_fence", "a step owner handled a StepTimeout (fenced step)" },
	[COV_ADMIN_RETRY_OK] = { "admin_retry_ok", "an admin retry was accepted" },
	[COV_ADMIN_RETRY_REFUSED] = { "admin_retry_refused", "an admin retry was refused (409)" },
	[COV_ADMIN_COMPENSATE_OK] = { "admin_compensate_ok", "an admin compensate was accepted" },
	[COV_ADMIN_COMPENSATE_REFUSED] = { "admin_compensate_refused",
					   "an admin compensate was refused (409)" },
	[COV_CRASH] = { "crash", "an instance crashed and lost its memory" },
};

/* Points the summary of sim/summary.c can measure without a "coverage" object. */
#define COV_SUMMARY_KNOWN                                                                    \
	((1u << COV_DUPLICATE_DEDUPED) | (1u << COV_DEAD_LETTER) | (1u << COV_SWEEP_PUBLISHED) | \
	 (1u << COV_CAS_CONFLICT) | (1u << COV_BACKOFF_RETRY) | (1u << COV_ADMIN_RETRY_OK) |    \
	 (1u << COV_ADMIN_RETRY_REFUSED) | (1u << COV_ADMIN_COMPENSATE_OK) |                    \
	 (1u << COV_ADMIN_COMPENSATE_REFUSED) | (1u << COV_CRASH))

const char *cov_name(enum cov_point p)
{
	ECOM_ASSERT(p >= 0 && p < COV__COUNT);
	return cov_points[p].name;
}

const char *cov_meaning(enum cov_point p)
{
	ECOM_ASSERT(p >= 0 && p < COV__COUNT);
	return cov_points[p].meaning;
}

void cov_counts_init(struct cov_counts *c)
{
	memset(c, 0, sizeof(*c));
}

static int64_t cov_sum_instances(const json_t *summary, const char *field)
{
	const json_t *inst = json_object_get(summary, "instances");
	const char *k;
	json_t *v;
	int64_t sum = 0;

	json_object_foreach((json_t *)inst, k, v) {
		(void)k;
		sum += jsonx_int_or(v, field, 0);
	}
	return sum;
}

static void cov_from_ops(struct cov_counts *c, const json_t *ops)
{
	size_t i;
	json_t *op;

	json_array_foreach(ops, i, op) {
		const char *kind = jsonx_str_or(op, "op", "");
		const char *res = jsonx_str_or(op, "result", "");
		int ok = strcmp(res, "ok") == 0, refused = strcmp(res, "refused") == 0;

		if (strcmp(kind, "retry") == 0 && ok)
			c->n[COV_ADMIN_RETRY_OK]++;
		else if (strcmp(kind, "retry") == 0 && refused)
			c->n[COV_ADMIN_RETRY_REFUSED]++;
		else if (strcmp(kind, "compensate") == 0 && ok)
			c->n[COV_ADMIN_COMPENSATE_OK]++;
		else if (strcmp(kind, "compensate") == 0 && refused)
			c->n[COV_ADMIN_COMPENSATE_REFUSED]++;
	}
}

void cov_from_summary(struct cov_counts *c, const json_t *summary)
{
	const json_t *cov = json_object_get(summary, "coverage");

	if (!json_is_object(summary))
		return;
	c->n[COV_DUPLICATE_DEDUPED] += cov_sum_instances(summary, "duplicates");
	c->n[COV_DEAD_LETTER] += jsonx_int_or(summary, "dead_letters", 0);
	c->n[COV_SWEEP_PUBLISHED] += cov_sum_instances(summary, "sweep_published");
	c->n[COV_CAS_CONFLICT] += cov_sum_instances(summary, "conflicts");
	c->n[COV_BACKOFF_RETRY] += cov_sum_instances(summary, "retries");
	c->n[COV_CRASH] += jsonx_int_or(summary, "crashes", 0);
	cov_from_ops(c, json_object_get(summary, "ops"));
	c->known |= COV_SUMMARY_KNOWN;
	if (!json_is_object(cov))
		return;
	for (int p = 0; p < COV__COUNT; p++) {
		const json_t *v = json_object_get(cov, cov_points[p].name);

		if (!json_is_integer(v))
			continue;
		c->n[p] = json_integer_value(v);
		c->known |= 1u << p;
	}
}

void cov_trace_begin(struct cov_counts *c)
{
	c->known |= (1u << COV__COUNT) - 1;
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The service part of an instance name: "payment#2" -> is it "payment"? */
static int actor_is(const char *actor, const char *svc)
{
	size_t n = strlen(svc);

	return strncmp(actor, svc, n) == 0 && actor[n] == '#';
}

static void cov_trace_admin(struct cov_counts *c, const char *what, const char *detail)
{
	int ok = starts_with(detail, "ok"), refused = starts_with(detail, "refused");

	if (strcmp(what, "retry") == 0 && ok)
		c->n[COV_ADMIN_RETRY_OK]++;
	else if (strcmp(what, "retry") == 0 && refused)
		c->n[COV_ADMIN_RETRY_REFUSED]++;
	else if (strcmp(what, "compensate") == 0 && ok)
		c->n[COV_ADMIN_COMPENSATE_OK]++;
	else if (strcmp(what, "compensate") == 0 && refused)
		c->n[COV_ADMIN_COMPENSATE_REFUSED]++;
}

void cov_trace_line(struct cov_counts *c, int64_t t_us, const char *actor, const char *what,
		    const char *detail)
{
	if (!actor || !what)
		return;
	if (!detail)
		detail = "";
	/* Every line of the trace comes through here; most ("poll", "offset_committed",
	 * "idle", ...) count towards no point and are turned away on their first letters. */
	if (!strchr("cdhprs", what[0]) || (what[0] == 'h' && what[1] != 'a') ||
	    (what[0] == 'p' && what[1] != 'u') || (what[0] == 'd' && what[1] != 'u' && what[1] != 'e'))
		return;
	if (strcmp(actor, "admin") == 0) {
		cov_trace_admin(c, what, detail);
	} else if (strcmp(actor, "broker") == 0) {
		/* groups form at t = 0 (several generations when several instances join) */
		if (strcmp(what, "rebalance") == 0 && t_us > 0)
			c->n[COV_REBALANCE]++;
	} else if (strcmp(what, "duplicate_skipped") == 0) {
		c->n[COV_DUPLICATE_DEDUPED]++;
	} else if (strcmp(what, "published") == 0 || strcmp(what, "sweep_published") == 0) {
		if (starts_with(detail, "payment.PaymentRefunded.v1 "))
			c->n[COV_REFUND]++;
		else if (starts_with(detail, "inventory.InventoryFailed.v1 "))
			c->n[COV_STOCK_OUT]++;
		if (what[0] == 's')
			c->n[COV_SWEEP_PUBLISHED]++;
	} else if (strcmp(what, "dead_lettered") == 0) {
		c->n[COV_DEAD_LETTER]++;
	} else if (strcmp(what, "commit_ambiguous") == 0) {
		c->n[COV_COMMIT_AMBIGUOUS]++;
	} else if (strcmp(what, "commit_conflict") == 0) {
		c->n[COV_CAS_CONFLICT]++;
	} else if (strcmp(what, "retry_scheduled") == 0) {
		c->n[COV_BACKOFF_RETRY]++;
	} else if (strcmp(what, "crash") == 0) {
		c->n[COV_CRASH]++;
	} else if (strcmp(what, "handled") == 0 && starts_with(detail, "ops.StepTimeout.v1 ") &&
		   !actor_is(actor, "order") && !actor_is(actor, "read-model")) {
		c->n[COV_DEADLINE_FENCE]++;
	}
}

void cov_merge_max(struct cov_counts *dst, const struct cov_counts *src)
{
	for (int p = 0; p < COV__COUNT; p++)
		if (src->n[p] > dst->n[p])
			dst->n[p] = src->n[p];
	dst->known |= src->known;
}

json_t *cov_to_json(const struct cov_counts *c)
{
	json_t *o = json_object();

	for (int p = 0; p < COV__COUNT; p++)
		if (c->known & (1u << p))
			jsonx_set_int(o, cov_points[p].name, c->n[p]);
	return o;
}

void cov_agg_init(struct cov_agg *a)
{
	memset(a, 0, sizeof(*a));
}

void cov_agg_add(struct cov_agg *a, const struct cov_counts *c)
{
	a->runs++;
	for (int p = 0; p < COV__COUNT; p++) {
		if (!(c->known & (1u << p)))
			continue;
		a->runs_known[p]++;
		a->total[p] += c->n[p];
		if (c->n[p] > 0)
			a->runs_reached[p]++;
	}
}
