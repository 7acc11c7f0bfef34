/* scenario.h — a simulation scenario (DESIGN.md §5): the JSON file, validated strictly and
 * turned into plain C values with defaults filled in. Loading never half-succeeds: on any
 * problem it returns ECOM_INVALID with err naming the key path and the problem, e.g.
 * "faults.store_error: probability must be in [0, 1] (got 1.5)". */
#ifndef ECOM_SIM_SCENARIO_H
#define ECOM_SIM_SCENARIO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ecom.h"

#define SCN_NAME_MAX 128
#define SCN_INSTANCES_MAX 8   /* per service */
#define SCN_OPS_MAX 256
#define SCN_WINDOWS_MAX 16    /* outage windows per adapter */
#define SCN_ORDERS_MAX 100000
#define SCN_SKUS_MAX 10000
#define SCN_PARTITIONS_MAX 64
#define SCN_ITEMS_MAX 20      /* distinct lines per order */
#define SCN_DURATION_MS_MAX (24LL * 3600 * 1000)
#define SCN_INSTANCE_NAME_MAX 32

enum scn_service {
	SCN_SVC_ORDER = 0,
	SCN_SVC_INVENTORY,
	SCN_SVC_PAYMENT,
	SCN_SVC_SHIPPING,
	SCN_SVC_READ_MODEL,
	SCN_SVC_COUNT
};
/* "order", "inventory", "payment", "shipping", "read-model". */
const char *scn_service_name(enum scn_service s);
/* ECOM_OK or ECOM_NOT_FOUND. */
int scn_service_from_name(const char *name, enum scn_service *out);

struct scn_range {
	int64_t lo, hi; /* inclusive */
};

enum scn_op_kind {
	SCN_OP_RETRY = 0,   /* order_retry(order, step) */
	SCN_OP_COMPENSATE,  /* order_compensate(order, action) */
	SCN_OP_DLQ_REPLAY,  /* republish every dead-lettered original with x-replay: 1 */
	SCN_OP_CRASH,       /* crash one instance now (a scripted fault) */
};
const char *scn_op_name(enum scn_op_kind k);

struct scn_op {
	int64_t at_ms;
	enum scn_op_kind kind;
	int64_t order;                 /* 1-based: the n-th order the workload created */
	char step[16];                 /* retry: inventory | payment | shipping */
	char action[32];               /* compensate: releaseInventory | refundPayment */
	char instance[SCN_INSTANCE_NAME_MAX]; /* crash: e.g. "payment#2" */
};

struct scn_adapter_faults {
	double error;      /* UNAVAILABLE per call */
	double ambiguous;  /* timed out per call (may have happened) */
	struct scn_range outages_ms[SCN_WINDOWS_MAX]; /* [from, to) virtual ms: every call fails */
	size_t n_outages;
};

struct scenario {
	char name[SCN_NAME_MAX];
	char *description;    /* owned; may be NULL */
	uint64_t seed;
	int services[SCN_SVC_COUNT]; /* instances per service, 1..SCN_INSTANCES_MAX */
	int32_t partitions;

	struct {
		int64_t skus;
		int64_t stock;
		struct scn_range price_cents; /* lo == hi: uniform price */
	} catalog;

	struct {
		int64_t orders;      /* how many the workload creates (at most) */
		double rate_per_sec;
		int fixed_interval;  /* 1: every 1/rate s; 0: exponential gaps (Poisson) */
		struct scn_range items; /* distinct SKUs per order */
		struct scn_range qty;
	} workload;

	struct {
		double payment_decline;
		double shipping_failure;
	} business;

	struct {
		double duplicate_delivery;
		struct scn_range delivery_delay_ms;
		double crash_rate_per_sec; /* per instance */
		struct scn_range restart_after_ms;
		uint32_t crash_services;   /* bit per enum scn_service that may crash */
		double partition_stall;    /* per delivery: that partition's fetch stalls */
		struct scn_range partition_stall_ms;
		double pause_rate_per_sec; /* per instance: a stall (GC pause, slow disk) */
		struct scn_range pause_ms; /* how long a stall lasts */
		double store_error;
		double store_ambiguous;
		double produce_error;
		double poison;
		struct scn_adapter_faults gateway;
		struct scn_adapter_faults carrier;
	} faults;

	struct scn_op ops[SCN_OPS_MAX];
	size_t n_ops;

	struct {
		int64_t duration_ms;
		int64_t quiesce_ms;
	} run;

	uint32_t bugs; /* core/bugs.h bits */

	struct {
		uint32_t violations; /* bit per enum inv_id (sim/invariants.h) */
		int64_t min_shipped, min_cancelled, min_crashes, min_duplicates, min_dead_letters;
		int64_t min_poison, min_ops_ok, min_ops_refused;
	} expect;
};

/* Fills *s with every default (the demo's catalog, one instance per service, no faults). */
void scenario_defaults(struct scenario *s);
/* Parses root (borrowed) over the defaults. ECOM_OK or ECOM_INVALID (err names the key). */
int scenario_from_json(const json_t *root, struct scenario *s, struct ecom_err *err);
/* Reads and parses a file; ECOM_NOT_FOUND if it cannot be read. */
int scenario_load_file(const char *path, struct scenario *s, struct ecom_err *err);
int scenario_load_string(const char *text, struct scenario *s, struct ecom_err *err);
void scenario_deinit(struct scenario *s);

#endif
