/* scenario.c — the scenario loader: strict JSON validation over defaults. Every key is
 * checked for type and range; an unknown key is an error (a typo must not silently turn a
 * fault off). Errors name the key path ("faults.poison") and what is wrong with it. */
#include "sim/scenario.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bugs.h"
#include "event/jsonx.h"
#include "services/order/order.h" /* ORDER_QTY_MAX: a workload line the service accepts */
#include "sim/invariants.h"

#define SCN_FILE_MAX (4u << 20) /* bytes: a scenario is a small file */

static const char *const scn_service_names[SCN_SVC_COUNT] = {
	"order", "inventory", "payment", "shipping", "read-model",
};

const char *scn_service_name(enum scn_service s)
{
	ECOM_ASSERT((int)s >= 0 && s < SCN_SVC_COUNT);
	return scn_service_names[s];
}

int scn_service_from_name(const char *name, enum scn_service *out)
{
	for (int i = 0; i < SCN_SVC_COUNT; i++) {
		if (name && strcmp(name, scn_service_names[i]) == 0) {
			*out = (enum scn_service)i;
			return ECOM_OK;
		}
	}
	return ECOM_NOT_FOUND;
}

static const char *const scn_op_names[] = { "retry", "compensate", "dlq_replay", "crash" };

const char *scn_op_name(enum scn_op_kind k)
{
	ECOM_ASSERT((size_t)k < ECOM_ARRAY_LEN(scn_op_names));
	return scn_op_names[k];
}

void scenario_defaults(struct scenario *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "unnamed");
	s->seed = 1;
	for (int i = 0; i < SCN_SVC_COUNT; i++)
		s->services[i] = 1;
	s->partitions = 6;
	s->catalog.skus = 100;
	s->catalog.stock = 1000;
	s->catalog.price_cents = (struct scn_range){ 1000, 1000 };
	s->workload.orders = 100;
	s->workload.rate_per_sec = 20;
	s->workload.items = (struct scn_range){ 1, 3 };
	s->workload.qty = (struct scn_range){ 1, 3 };
	s->faults.crash_services = (1u << SCN_SVC_COUNT) - 1;
	s->run.duration_ms = 10000;
	s->run.quiesce_ms = 120000;
	s->expect.min_shipped = s->expect.min_cancelled = s->expect.min_crashes = -1;
	s->expect.min_duplicates = s->expect.min_dead_letters = s->expect.min_poison = -1;
	s->expect.min_ops_ok = s->expect.min_ops_refused = -1;
}

void scenario_deinit(struct scenario *s)
{
	if (!s)
		return;
	free(s->description);
	s->description = NULL;
}

/* ---- typed readers: each names its key path in the error ---------------------------- */

static int scn_bad(struct ecom_err *err, const char *path, const char *fmt, const char *what)
{
	char msg[200];

	snprintf(msg, sizeof(msg), fmt, what);
	return ecom_err_set(err, ECOM_INVALID, "%s: %s", path, msg);
}

static void scn_path(char *out, size_t cap, const char *parent, const char *key)
{
	snprintf(out, cap, "%s%s%s", parent, parent[0] ? "." : "", key);
}

/* Checks that obj has only keys from allowed (NULL-terminated). */
static int scn_keys(const json_t *obj, const char *parent, const char *const *allowed,
		    struct ecom_err *err)
{
	const char *key;
	json_t *v;
	char path[160];

	json_object_foreach((json_t *)obj, key, v) {
		int ok = 0;

		(void)v;
		for (size_t i = 0; allowed[i]; i++)
			ok |= strcmp(allowed[i], key) == 0;
		if (!ok) {
			scn_path(path, sizeof(path), parent, key);
			return ecom_err_set(err, ECOM_INVALID, "%s: unknown key", path);
		}
	}
	return ECOM_OK;
}

static int scn_int(const json_t *v, const char *path, int64_t lo, int64_t hi, int64_t *out,
		   struct ecom_err *err)
{
	int64_t x = 0;

	if (!json_is_integer(v))
		return scn_bad(err, path, "must be an integer%s", "");
	x = json_integer_value(v);
	if (x < lo || x > hi)
		return ecom_err_set(err, ECOM_INVALID, "%s: must be in [%lld, %lld] (got %lld)", path,
				    (long long)lo, (long long)hi, (long long)x);
	*out = x;
	return ECOM_OK;
}

static int scn_prob(const json_t *v, const char *path, double *out, struct ecom_err *err)
{
	double x;

	if (!json_is_number(v))
		return scn_bad(err, path, "must be a number%s", "");
	x = json_number_value(v);
	if (!isfinite(x) || x < 0)
		return ecom_err_set(err, ECOM_INVALID, "%s: must not be negative (got %g)", path, x);
	if (x > 1)
		return ecom_err_set(err, ECOM_INVALID,
				    "%s: probability must be in [0, 1] (got %g)", path, x);
	*out = x;
	return ECOM_OK;
}

static int scn_rate(const json_t *v, const char *path, double hi, double *out,
		    struct ecom_err *err)
{
	double x;

	if (!json_is_number(v))
		return scn_bad(err, path, "must be a number%s", "");
	x = json_number_value(v);
	if (!isfinite(x) || x < 0)
		return ecom_err_set(err, ECOM_INVALID, "%s: must not be negative (got %g)", path, x);
	if (x > hi)
		return ecom_err_set(err, ECOM_INVALID, "%s: must be at most %g (got %g)", path, hi, x);
	*out = x;
	return ECOM_OK;
}

/* [lo, hi] integers, 0 <= lo <= hi <= max. A bare integer n means [n, n]. */
static int scn_range_read(const json_t *v, const char *path, int64_t min, int64_t max,
			  struct scn_range *out, struct ecom_err *err)
{
	int64_t lo = 0, hi = 0;
	int rc;

	if (json_is_integer(v)) {
		rc = scn_int(v, path, min, max, &lo, err);
		if (rc == ECOM_OK)
			*out = (struct scn_range){ lo, lo };
		return rc;
	}
	if (!json_is_array(v) || json_array_size(v) != 2)
		return scn_bad(err, path, "must be a [lo, hi] pair of integers%s", "");
	if (!json_is_integer(json_array_get(v, 0)) || !json_is_integer(json_array_get(v, 1)))
		return scn_bad(err, path, "must be a [lo, hi] pair of integers%s", "");
	lo = json_integer_value(json_array_get(v, 0));
	hi = json_integer_value(json_array_get(v, 1));
	if (lo > hi)
		return ecom_err_set(err, ECOM_INVALID, "%s: range lo > hi ([%lld, %lld])", path,
				    (long long)lo, (long long)hi);
	if (lo < min || hi > max)
		return ecom_err_set(err, ECOM_INVALID, "%s: must lie within [%lld, %lld]", path,
				    (long long)min, (long long)max);
	*out = (struct scn_range){ lo, hi };
	return ECOM_OK;
}

static int scn_obj(const json_t *v, const char *path, struct ecom_err *err)
{
	if (!json_is_object(v))
		return scn_bad(err, path, "must be an object%s", "");
	return ECOM_OK;
}

/* ---- sections ------------------------------------------------------------------------ */

static int scn_services(const json_t *v, struct scenario *s, struct ecom_err *err)
{
	const char *key;
	json_t *n;
	char path[160];
	int rc = scn_obj(v, "services", err);

	if (rc)
		return rc;
	json_object_foreach((json_t *)v, key, n) {
		enum scn_service id;
		int64_t x = 0;

		scn_path(path, sizeof(path), "services", key);
		if (scn_service_from_name(key, &id) != ECOM_OK)
			return ecom_err_set(err, ECOM_INVALID,
					    "%s: unknown service (known: order, inventory, "
					    "payment, shipping, read-model)", path);
		rc = scn_int(n, path, 1, SCN_INSTANCES_MAX, &x, err);
		if (rc)
			return rc;
		s->services[id] = (int)x;
	}
	return ECOM_OK;
}

static int scn_topics(const json_t *v, struct scenario *s, struct ecom_err *err)
{
	static const char *const keys[] = { "partitions", NULL };
	int64_t x = 0;
	int rc = scn_obj(v, "topics", err);

	if (!rc)
		rc = scn_keys(v, "topics", keys, err);
	if (!rc && json_object_get(v, "partitions")) {
		rc = scn_int(json_object_get(v, "partitions"), "topics.partitions", 1,
			     SCN_PARTITIONS_MAX, &x, err);
		if (!rc)
			s->partitions = (int32_t)x;
	}
	return rc;
}

static int scn_catalog(const json_t *v, struct scenario *s, struct ecom_err *err)
{
	static const char *const keys[] = { "skus", "stock", "price_cents", NULL };
	json_t *f;
	int rc = scn_obj(v, "catalog", err);

	if (!rc)
		rc = scn_keys(v, "catalog", keys, err);
	if (!rc && (f = json_object_get(v, "skus")))
		rc = scn_int(f, "catalog.skus", 1, SCN_SKUS_MAX, &s->catalog.skus, err);
	if (!rc && (f = json_object_get(v, "stock")))
		rc = scn_int(f, "catalog.stock", 0, 1000000000, &s->catalog.stock, err);
	if (!rc && (f = json_object_get(v, "price_cents")))
		rc = scn_range_read(f, "catalog.price_cents", 1, 100000000, &s->catalog.price_cents,
				    err);
	return rc;
}

static int scn_workload(const json_t *v, struct scenario *s, struct ecom_err *err)
{
	static const char *const keys[] = { "orders", "rate_per_sec", "arrival", "items", "qty",
					    NULL };
	json_t *f;
	int rc = scn_obj(v, "workload", err);

	if (!rc)
		rc = scn_keys(v, "workload", keys, err);
	if (!rc && (f = json_object_get(v, "orders")))
		rc = scn_int(f, "workload.orders", 0, SCN_ORDERS_MAX, &s->workload.orders, err);
	if (!rc && (f = json_object_get(v, "rate_per_sec"))) {
		rc = scn_rate(f, "workload.rate_per_sec", 100000, &s->workload.rate_per_sec, err);
		if (!rc && s->workload.rate_per_sec <= 0)
			rc = ecom_err_set(err, ECOM_INVALID, "workload.rate_per_sec: must be > 0");
	}
	if (!rc && (f = json_object_get(v, "arrival"))) {
		const char *a = json_string_value(f);

		if (a && strcmp(a, "poisson") == 0)
			s->workload.fixed_interval = 0;
		else if (a && strcmp(a, "fixed") == 0)
			s->workload.fixed_interval = 1;
		else
			rc = ecom_err_set(err, ECOM_INVALID,
					  "workload.arrival: must be \"poisson\" or \"fixed\"");
	}
	if (!rc && (f = json_object_get(v, "items")))
		rc = scn_range_read(f, "workload.items", 1, SCN_ITEMS_MAX, &s->workload.items, err);
	if (!rc && (f = json_object_get(v, "qty")))
		rc = scn_range_read(f, "workload.qty", 1, ORDER_QTY_MAX, &s->workload.qty, err);
	return rc;
}

static int scn_business(const json_t *v, struct scenario *s, struct ecom_err *err)
{
	static const char *const keys[] = { "payment_decline", "shipping_failure", NULL };
	json_t *f;
	int rc = scn_obj(v, "business", err);

	if (!rc)
		rc = scn_keys(v, "business", keys, err);
	if (!rc && (f = json_object_get(v, "payment_decline")))
		rc = scn_prob(f, "business.payment_decline", &s->business.payment_decline, err);
	if (!rc && (f = json_object_get(v, "shipping_failure")))
		rc = scn_prob(f, "business.shipping_failure", &s->business.shipping_failure, err);
	return rc;
}

static int scn_windows(const json_t *v, const char *path, struct scn_adapter_faults *a,
		       struct ecom_err *err)
{
	char p[160];
	int rc;

	if (!json_is_array(v))
		return scn_bad(err, path, "must be an array of [from_ms, to_ms] pairs%s", "");
	if (json_array_size(v) > SCN_WINDOWS_MAX)
		return ecom_err_set(err, ECOM_INVALID, "%s: at most %d windows", path,
				    SCN_WINDOWS_MAX);
	for (size_t i = 0; i < json_array_size(v); i++) {
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		/* a bare n would be the empty window [n, n): "[10, 20]" meant as one window
		 * must not silently become two windows that never fire */
		if (!json_is_array(json_array_get(v, i)))
			return scn_bad(err, p, "must be a [from_ms, to_ms] pair%s", "");
		rc = scn_range_read(json_array_get(v, i), p, 0, SCN_DURATION_MS_MAX,
				    &a->outages_ms[i], err);
		if (rc)
			return rc;
	}
	a->n_outages = json_array_size(v);
	return ECOM_OK;
}

static int scn_crash_services(const json_t *v, struct scenario *s, struct ecom_err *err)
{
	char p[160];

	if (!json_is_array(v))
		return scn_bad(err, "faults.crash_services", "must be an array of service names%s",
			       "");
	s->faults.crash_services = 0;
	for (size_t i = 0; i < json_array_size(v); i++) {
		enum scn_service id;

		snprintf(p, sizeof(p), "faults.crash_services[%zu]", i);
		if (scn_service_from_name(json_string_value(json_array_get(v, i)), &id))
			return ecom_err_set(err, ECOM_INVALID, "%s: unknown service", p);
		s->faults.crash_services |= 1u << id;
	}
	return ECOM_OK;
}

struct scn_prob_key {
	const char *key;
	size_t off;
};

static int scn_faults(const json_t *v, struct scenario *s, struct ecom_err *err)
{
	static const char *const keys[] = {
		"duplicate_delivery", "delivery_delay_ms", "crash_rate_per_sec", "restart_after_ms",
		"crash_services", "pause_rate_per_sec", "pause_ms", "partition_stall",
		"partition_stall_ms", "store_error", "store_ambiguous", "produce_error", "poison",
		"gateway_error", "gateway_ambiguous", "gateway_outage_ms", "carrier_error",
		"carrier_ambiguous", "carrier_outage_ms", NULL
	};
#define P(k, field) { k, offsetof(struct scenario, faults.field) }
	static const struct scn_prob_key probs[] = {
		P("duplicate_delivery", duplicate_delivery), P("store_error", store_error),
		P("store_ambiguous", store_ambiguous),       P("produce_error", produce_error),
		P("poison", poison),                         P("gateway_error", gateway.error),
		P("partition_stall", partition_stall),
		P("gateway_ambiguous", gateway.ambiguous),   P("carrier_error", carrier.error),
		P("carrier_ambiguous", carrier.ambiguous),
	};
#undef P
	char path[160];
	json_t *f;
	int rc = scn_obj(v, "faults", err);

	if (!rc)
		rc = scn_keys(v, "faults", keys, err);
	for (size_t i = 0; !rc && i < ECOM_ARRAY_LEN(probs); i++) {
		if (!(f = json_object_get(v, probs[i].key)))
			continue;
		scn_path(path, sizeof(path), "faults", probs[i].key);
		rc = scn_prob(f, path, (double *)((char *)s + probs[i].off), err);
	}
	if (!rc && (f = json_object_get(v, "delivery_delay_ms")))
		rc = scn_range_read(f, "faults.delivery_delay_ms", 0, 600000,
				    &s->faults.delivery_delay_ms, err);
	if (!rc && (f = json_object_get(v, "crash_rate_per_sec")))
		rc = scn_rate(f, "faults.crash_rate_per_sec", 100, &s->faults.crash_rate_per_sec,
			      err);
	if (!rc && (f = json_object_get(v, "restart_after_ms")))
		rc = scn_range_read(f, "faults.restart_after_ms", 0, 600000,
				    &s->faults.restart_after_ms, err);
	if (!rc && (f = json_object_get(v, "pause_rate_per_sec")))
		rc = scn_rate(f, "faults.pause_rate_per_sec", 100, &s->faults.pause_rate_per_sec,
			      err);
	if (!rc && (f = json_object_get(v, "partition_stall_ms")))
		rc = scn_range_read(f, "faults.partition_stall_ms", 0, 600000,
				    &s->faults.partition_stall_ms, err);
	if (!rc && (f = json_object_get(v, "pause_ms")))
		rc = scn_range_read(f, "faults.pause_ms", 0, 600000, &s->faults.pause_ms, err);
	if (!rc && (f = json_object_get(v, "crash_services")))
		rc = scn_crash_services(f, s, err);
	if (!rc && (f = json_object_get(v, "gateway_outage_ms")))
		rc = scn_windows(f, "faults.gateway_outage_ms", &s->faults.gateway, err);
	if (!rc && (f = json_object_get(v, "carrier_outage_ms")))
		rc = scn_windows(f, "faults.carrier_outage_ms", &s->faults.carrier, err);
	if (!rc && s->faults.store_error + s->faults.store_ambiguous > 1)
		rc = ecom_err_set(err, ECOM_INVALID,
				  "faults.store_ambiguous: store_error + store_ambiguous > 1");
	return rc;
}

static int scn_str_field(const json_t *op, const char *path, const char *key,
			 const char *const *allowed, char *out, size_t cap, struct ecom_err *err)
{
	const char *v = jsonx_str(op, key);
	char p[160];

	scn_path(p, sizeof(p), path, key);
	if (!v)
		return ecom_err_set(err, ECOM_INVALID, "%s: required string is missing", p);
	if (allowed) {
		int ok = 0;

		for (size_t i = 0; allowed[i]; i++)
			ok |= strcmp(v, allowed[i]) == 0;
		if (!ok)
			return ecom_err_set(err, ECOM_INVALID, "%s: unknown value \"%s\"", p, v);
	}
	if (strlen(v) >= cap)
		return ecom_err_set(err, ECOM_INVALID, "%s: too long", p);
	snprintf(out, cap, "%s", v);
	return ECOM_OK;
}

/* "payment#2" with payment a service and 2 within its instance count. */
static int scn_check_instance(const char *inst, const char *path, const struct scenario *s,
			      struct ecom_err *err)
{
	char svc[SCN_INSTANCE_NAME_MAX];
	const char *hash = strchr(inst, '#');
	enum scn_service id;
	long n;
	char *end;

	if (!hash || (size_t)(hash - inst) >= sizeof(svc))
		return ecom_err_set(err, ECOM_INVALID, "%s: must look like \"payment#1\"", path);
	memcpy(svc, inst, (size_t)(hash - inst));
	svc[hash - inst] = '\0';
	if (scn_service_from_name(svc, &id))
		return ecom_err_set(err, ECOM_INVALID, "%s: unknown service \"%s\"", path, svc);
	n = strtol(hash + 1, &end, 10);
	if (*end || n < 1 || n > s->services[id])
		return ecom_err_set(err, ECOM_INVALID, "%s: %s has %d instance(s)", path, svc,
				    s->services[id]);
	return ECOM_OK;
}

static int scn_op(const json_t *v, size_t i, struct scenario *s, struct scn_op *op,
		  struct ecom_err *err)
{
	static const char *const keys[] = { "at_ms", "op", "order", "step", "action", "instance",
					    NULL };
	static const char *const kinds[] = { "retry", "compensate", "dlq_replay", "crash", NULL };
	static const char *const steps[] = { "inventory", "payment", "shipping", NULL };
	static const char *const actions[] = { "releaseInventory", "refundPayment", NULL };
	char path[64], p[96], kind[16];
	int rc;

	snprintf(path, sizeof(path), "ops[%zu]", i);
	rc = scn_obj(v, path, err);
	if (!rc)
		rc = scn_keys(v, path, keys, err);
	if (rc)
		return rc;
	scn_path(p, sizeof(p), path, "at_ms");
	if (!json_object_get(v, "at_ms"))
		return ecom_err_set(err, ECOM_INVALID, "%s: required integer is missing", p);
	rc = scn_int(json_object_get(v, "at_ms"), p, 0, SCN_DURATION_MS_MAX, &op->at_ms, err);
	if (!rc)
		rc = scn_str_field(v, path, "op", kinds, kind, sizeof(kind), err);
	if (rc)
		return rc;
	for (int k = 0; kinds[k]; k++)
		if (strcmp(kind, kinds[k]) == 0)
			op->kind = (enum scn_op_kind)k;
	if (op->kind == SCN_OP_RETRY || op->kind == SCN_OP_COMPENSATE) {
		scn_path(p, sizeof(p), path, "order");
		if (!json_object_get(v, "order"))
			return ecom_err_set(err, ECOM_INVALID, "%s: required integer is missing", p);
		rc = scn_int(json_object_get(v, "order"), p, 1, SCN_ORDERS_MAX, &op->order, err);
	}
	if (!rc && op->kind == SCN_OP_RETRY)
		rc = scn_str_field(v, path, "step", steps, op->step, sizeof(op->step), err);
	if (!rc && op->kind == SCN_OP_COMPENSATE)
		rc = scn_str_field(v, path, "action", actions, op->action, sizeof(op->action), err);
	if (!rc && op->kind == SCN_OP_CRASH) {
		rc = scn_str_field(v, path, "instance", NULL, op->instance, sizeof(op->instance),
				   err);
		scn_path(p, sizeof(p), path, "instance");
		if (!rc)
			rc = scn_check_instance(op->instance, p, s, err);
	}
	return rc;
}

static int scn_ops(const json_t *v, struct scenario *s, struct ecom_err *err)
{
	int rc;

	if (!json_is_array(v))
		return scn_bad(err, "ops", "must be an array%s", "");
	if (json_array_size(v) > SCN_OPS_MAX)
		return ecom_err_set(err, ECOM_INVALID, "ops: at most %d ops", SCN_OPS_MAX);
	for (size_t i = 0; i < json_array_size(v); i++) {
		rc = scn_op(json_array_get(v, i), i, s, &s->ops[i], err);
		if (rc)
			return rc;
	}
	s->n_ops = json_array_size(v);
	return ECOM_OK;
}

static int scn_run(const json_t *v, struct scenario *s, struct ecom_err *err)
{
	static const char *const keys[] = { "duration_ms", "quiesce_ms", NULL };
	json_t *f;
	int rc = scn_obj(v, "run", err);

	if (!rc)
		rc = scn_keys(v, "run", keys, err);
	if (!rc && (f = json_object_get(v, "duration_ms")))
		rc = scn_int(f, "run.duration_ms", 1, SCN_DURATION_MS_MAX, &s->run.duration_ms, err);
	if (!rc && (f = json_object_get(v, "quiesce_ms")))
		rc = scn_int(f, "run.quiesce_ms", 0, SCN_DURATION_MS_MAX, &s->run.quiesce_ms, err);
	return rc;
}

static int scn_bugs(const json_t *v, struct scenario *s, struct ecom_err *err)
{
	if (!json_is_array(v))
		return scn_bad(err, "bugs", "must be an array of bug names%s", "");
	for (size_t i = 0; i < json_array_size(v); i++) {
		const char *name = json_string_value(json_array_get(v, i));
		uint32_t bit = ecom_bug_from_name(name);

		if (!bit)
			return ecom_err_set(err, ECOM_INVALID, "bugs[%zu]: unknown bug name \"%s\"",
					    i, name ? name : "(not a string)");
		s->bugs |= bit;
	}
	return ECOM_OK;
}

static int scn_expect(const json_t *v, struct scenario *s, struct ecom_err *err)
{
	static const char *const keys[] = { "violations", "min_shipped", "min_cancelled",
					    "min_crashes", "min_duplicates", "min_dead_letters",
					    "min_poison", "min_ops_ok", "min_ops_refused", NULL };
	struct {
		const char *key;
		int64_t *dst;
	} mins[] = {
		{ "min_shipped", &s->expect.min_shipped },
		{ "min_cancelled", &s->expect.min_cancelled },
		{ "min_crashes", &s->expect.min_crashes },
		{ "min_duplicates", &s->expect.min_duplicates },
		{ "min_dead_letters", &s->expect.min_dead_letters },
		{ "min_poison", &s->expect.min_poison },
		{ "min_ops_ok", &s->expect.min_ops_ok },
		{ "min_ops_refused", &s->expect.min_ops_refused },
	};
	char path[160];
	json_t *f;
	int rc = scn_obj(v, "expect", err);

	if (!rc)
		rc = scn_keys(v, "expect", keys, err);
	for (size_t i = 0; !rc && i < ECOM_ARRAY_LEN(mins); i++) {
		if (!(f = json_object_get(v, mins[i].key)))
			continue;
		scn_path(path, sizeof(path), "expect", mins[i].key);
		rc = scn_int(f, path, 0, INT64_MAX, mins[i].dst, err);
	}
	if (rc || !(f = json_object_get(v, "violations")))
		return rc;
	if (!json_is_array(f))
		return scn_bad(err, "expect.violations", "must be an array of invariant names%s",
			       "");
	for (size_t i = 0; i < json_array_size(f); i++) {
		const char *name = json_string_value(json_array_get(f, i));
		enum inv_id id;

		if (!name || inv_from_name(name, &id) != ECOM_OK)
			return ecom_err_set(err, ECOM_INVALID,
					    "expect.violations[%zu]: unknown invariant \"%s\"", i,
					    name ? name : "(not a string)");
		s->expect.violations |= 1u << id;
	}
	return ECOM_OK;
}

static int scn_head(const json_t *root, struct scenario *s, struct ecom_err *err)
{
	json_t *f;
	int64_t seed = 0;
	int rc = ECOM_OK;

	if ((f = json_object_get(root, "name"))) {
		if (!json_is_string(f) || json_string_length(f) == 0 ||
		    json_string_length(f) >= SCN_NAME_MAX)
			return ecom_err_set(err, ECOM_INVALID,
					    "name: must be a non-empty string under %d bytes",
					    SCN_NAME_MAX);
		snprintf(s->name, sizeof(s->name), "%s", json_string_value(f));
	}
	if ((f = json_object_get(root, "description"))) {
		if (!json_is_string(f))
			return ecom_err_set(err, ECOM_INVALID, "description: must be a string");
		s->description = ecom_xstrdup(json_string_value(f));
	}
	if ((f = json_object_get(root, "seed"))) {
		rc = scn_int(f, "seed", 0, INT64_MAX, &seed, err);
		if (!rc)
			s->seed = (uint64_t)seed;
	}
	return rc;
}

int scenario_from_json(const json_t *root, struct scenario *s, struct ecom_err *err)
{
	static const char *const keys[] = { "name", "description", "seed", "services", "topics",
					    "catalog", "workload", "business", "faults", "ops",
					    "run", "bugs", "expect", NULL };
	struct {
		const char *key;
		int (*fn)(const json_t *, struct scenario *, struct ecom_err *);
	} sections[] = {
		{ "services", scn_services }, { "topics", scn_topics },
		{ "catalog", scn_catalog },   { "workload", scn_workload },
		{ "business", scn_business }, { "faults", scn_faults },
		{ "run", scn_run },           { "ops", scn_ops }, /* ops after services: crash op */
		{ "bugs", scn_bugs },         { "expect", scn_expect },
	};
	json_t *f;
	int rc;

	ECOM_ASSERT(s);
	scenario_defaults(s);
	if (!json_is_object(root))
		return ecom_err_set(err, ECOM_INVALID, "(top level): must be a JSON object");
	rc = scn_keys(root, "", keys, err);
	if (!rc)
		rc = scn_head(root, s, err);
	for (size_t i = 0; !rc && i < ECOM_ARRAY_LEN(sections); i++) {
		if ((f = json_object_get(root, sections[i].key)))
			rc = sections[i].fn(f, s, err);
	}
	for (size_t i = 0; !rc && i < s->n_ops; i++) {
		if (s->ops[i].order > s->workload.orders)
			rc = ecom_err_set(err, ECOM_INVALID,
					  "ops[%zu].order: the workload creates only %lld orders", i,
					  (long long)s->workload.orders);
	}
	if (rc)
		scenario_deinit(s);
	return rc;
}

int scenario_load_string(const char *text, struct scenario *s, struct ecom_err *err)
{
	json_t *root = jsonx_loads(text, strlen(text), err);
	int rc;

	if (!root) {
		scenario_defaults(s);
		return ECOM_INVALID;
	}
	rc = scenario_from_json(root, s, err);
	json_decref(root);
	return rc;
}

int scenario_load_file(const char *path, struct scenario *s, struct ecom_err *err)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;
	int rc;

	scenario_defaults(s);
	if (!f)
		return ecom_err_set(err, ECOM_NOT_FOUND, "%s: cannot open: %s", path,
				    strerror(errno));
	buf = ecom_xmalloc(SCN_FILE_MAX + 1);
	n = fread(buf, 1, SCN_FILE_MAX + 1, f);
	fclose(f);
	if (n > SCN_FILE_MAX) {
		rc = ecom_err_set(err, ECOM_INVALID, "%s: larger than %u bytes", path, SCN_FILE_MAX);
		goto out;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		rc = ecom_err_set(err, ECOM_INVALID, "%s: contains a NUL byte", path);
		goto out;
	}
	rc = scenario_load_string(buf, s, err);
out:
	free(buf);
	return rc;
}
