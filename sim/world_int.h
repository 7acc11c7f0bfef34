/* world_int.h — the simulated world's insides, shared by world.c (build, scheduler loop,
 * crashes, hooks), workload.c (orders and admin ops), world_services.c (how each service is
 * built) and inv_check.c (the end-of-run invariant checkers). Private to sim/. */
#ifndef ECOM_SIM_WORLD_INT_H
#define ECOM_SIM_WORLD_INT_H

#include <jansson.h>
#include <stdint.h>

#include "core/broker.h"
#include "core/catalog.h"
#include "core/clock.h"
#include "core/rng.h"
#include "core/store.h"
#include "runtime/runtime.h"
#include "sim/faults.h"
#include "sim/invariants.h"
#include "sim/mem_broker.h"
#include "sim/coverage.h"
#include "sim/scenario.h"
#include "sim/sched.h"
#include "sim/sim_adapters.h"
#include "sim/trace.h"
#include "sim/world.h"

#define WORLD_INSTANCES_MAX (SCN_SVC_COUNT * SCN_INSTANCES_MAX)
#define WORLD_EVENTS_MAX 40000000ULL        /* popped events per run before giving up */
#define WORLD_SAME_TIME_EVENTS_MAX 1000000ULL /* events at one virtual instant: a livelock */
#define WORLD_CREATE_ATTEMPTS_MAX 200       /* client retries of one order creation */
#define WORLD_OP_ATTEMPTS_MAX 50            /* retries of an admin op that hit UNAVAILABLE */
#define WORLD_QUIESCE_CHECK_US (100 * 1000) /* how often the quiet phase checks for the end */
#define WORLD_SERVICE_TIME_US_LO 200        /* virtual time one unit of work takes */
#define WORLD_SERVICE_TIME_US_HI 1000
#define WORLD_POISON_MAX 100000
#define WORLD_WALL_EPOCH_MS 1767225600000LL /* 2026-01-01T00:00:00Z */
#define WORLD_TOPICS_PER_SVC_MAX BROKER_MAX_TOPICS

enum world_ev {
	WEV_STEP = 1,    /* target = instance, arg = its step token */
	WEV_ARRIVAL,     /* the workload's next order */
	WEV_CREATE,      /* arg = order index: (re)try creating it */
	WEV_OP,          /* arg = op index */
	WEV_CRASH,       /* target = instance (a drawn crash) */
	WEV_RESTART,     /* target = instance */
	WEV_PHASE_END,   /* duration_ms reached: faults and workload stop */
	WEV_QUIESCE,     /* quiet phase: is the world quiescent? */
	WEV_PAUSE,       /* target = instance (a drawn stall) */
};

enum world_phase { PHASE_RUN = 0, PHASE_QUIET, PHASE_DONE };

struct sim_world;

/* How a service is built (world_services.c). */
struct svc_binding {
	const struct svc_def *(*def)(void);
	/* A fresh service object for an instance (its memory dies with a crash). */
	void *(*make)(struct sim_world *w);
	void (*free)(void *svc);
	/* Called after the runtime exists (the order service commands through it). */
	void (*attach)(void *svc, struct runtime *rt);
};
const struct svc_binding *world_binding(enum scn_service s);

struct sim_instance {
	struct sim_world *w;
	enum scn_service svc;
	int index; /* 1-based */
	char name[SCN_INSTANCE_NAME_MAX];
	int alive;
	struct fault_crashpoint cp;
	struct broker *broker; /* fault broker owning a mem broker client */
	struct store *store;   /* fault store over the service's store (kept across crashes) */
	void *svc_obj;
	struct runtime *rt;
	struct runtime_observer obs; /* arg = this instance */
	struct rng rng;        /* the runtime's stream */
	struct rng sched_rng;  /* service times */
	int64_t step_at;       /* pending step time (INT64_MAX: none) */
	int64_t step_token;
	int64_t restart_at;
	int64_t paused_until;  /* a stalled instance does nothing before this */
	struct runtime_stats acc; /* stats of earlier incarnations */
	uint64_t crashes;
};

struct sim_order {
	char id[37];
	json_t *body;
	int state; /* 0 pending, 1 accepted, 2 rejected, 3 gave up */
	int attempts;
	int64_t total_cents;
	int64_t created_us;
};

struct sim_poison {
	char id[32];
	char *topic;
	char *value;
	size_t len;
	enum fault_poison_kind kind;
	int64_t at_us;
};

/* The broker log keeps this many messages below every group's committed offset; older ones
 * are released (mem_cluster_set_retention), except dead letters and their originals, which
 * the end-of-run checks and dlq_replay read back. */
#define WORLD_LOG_KEEP 64

/* inv_check.c: what the end-of-run checks need from each message of a (non-DLQ) topic,
 * recorded when it is appended, while the producer's parsed tree usually spares a parse. */
struct inv_logrec {
	char *ids;	/* "orderId\0eventId\0" (in the index's arena); NULL: not a valid event with an orderId */
	int type;	/* enum event_type */
	int64_t attempt;
};
struct inv_logpart {
	char *topic;
	int32_t partition;
	struct inv_logrec *recs; /* index = offset */
	int64_t n, cap;
};
#define INV_ARENA_CHUNK (1 << 20)
struct inv_logidx {
	struct inv_logpart *parts; /* in first-append order; found by linear search */
	size_t n, cap;
	char **chunks; /* the ids, packed (a malloc per message cost a third more) */
	size_t n_chunks, cap_chunks, used; /* used: bytes taken in the last chunk */
};

struct sim_world {
	const struct scenario *scn;
	const struct sim_options *opt;
	uint64_t seed;
	struct manual_clock clock;
	struct rng workload_rng, faults_rng, gateway_rng, carrier_rng, catalog_rng;
	struct catalog catalog;
	struct mem_cluster *cluster;
	struct broker *admin; /* unfaulted client for admin ops (DLQ replay) */
	struct store *stores[SCN_SVC_COUNT];
	struct sim_gateway *gateway;
	struct sim_carrier *carrier;
	struct sim_adapter_stats gw_seen, carrier_seen;
	struct fault_plan plan;
	struct cov_counts cov; /* saga-path coverage, fed by every trace line */

	/* topics each service subscribes to (borrowed from its svc_def) */
	const char *topics[SCN_SVC_COUNT][WORLD_TOPICS_PER_SVC_MAX];
	size_t n_topics[SCN_SVC_COUNT];
	struct world_subs {
		const char *topic; /* the broker's name string */
		unsigned mask;     /* bit s: service s subscribes */
	} subs[64];
	size_t n_subs;
	char groups[SCN_SVC_COUNT][64];

	struct sim_instance inst[WORLD_INSTANCES_MAX];
	int n_inst;
	struct sim_instance *stepping; /* the instance inside runtime_step, if any */
	struct sim_instance *current;  /* the instance whose code runs (step or command) */

	struct sched sched;
	struct sim_trace trace;
	enum world_phase phase;
	int64_t end_us;      /* duration_ms */
	int64_t deadline_us; /* duration_ms + quiesce_ms */
	uint64_t events;
	int budget_exhausted;
	int livelock;
	int quiescent;

	/* workload */
	struct sim_order *orders;
	int64_t n_orders;  /* created by the workload so far */
	int64_t n_accepted, n_rejected, n_pending, n_gave_up;
	int rr_order;      /* round robin over order instances */
	int rr_read_model;
	json_t *op_results;
	int op_attempts[SCN_OPS_MAX];
	int op_state[SCN_OPS_MAX]; /* 0 not run yet, 1 retrying, 2 done */
	int64_t n_replayed;

	/* faults */
	struct sim_poison *poison;
	size_t n_poison;
	uint64_t n_crashes, n_restarts, n_faults, n_pauses;
	uint64_t fault_counts[16];

	/* observed */
	uint64_t deliveries, duplicates, dup_injected, dead_letters, handled;
	int64_t dl_exhausted; /* DLQ entries whose retries ran out (set by the checkers) */

	/* invariants */
	struct inv_report inv;
	json_t *broken; /* set of "<inv>:<key>" already reported by continuous checks */
	struct inv_logidx logidx;
};

/* world.c */
void world_trace(struct sim_world *w, const char *actor, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int64_t world_now(struct sim_world *w);
void world_push(struct sim_world *w, int64_t at_us, enum world_ev kind, int32_t target,
		int64_t arg);
void world_wake(struct sim_world *w, struct sim_instance *in, int64_t at_us);
/* An alive instance of the service (round robin from *rr); NULL if none is up. */
struct sim_instance *world_pick(struct sim_world *w, enum scn_service s, int *rr);
/* Tears an instance down if its crash point fired during the last call into it. */
void world_reap(struct sim_world *w, struct sim_instance *in);
/* Continuous invariant report, once per key. */
int world_once(struct sim_world *w, const char *key);

/* workload.c */
void workload_start(struct sim_world *w);
void workload_arrival(struct sim_world *w);
void workload_create(struct sim_world *w, int64_t idx);
void workload_op(struct sim_world *w, size_t op_idx);
void workload_free(struct sim_world *w);

void world_crash_named(struct sim_world *w, const char *name, int *ok);
void world_seed_stock(struct sim_world *w);
void world_summary(struct sim_world *w, struct sim_result *res);

/* inv_check.c */
void inv_on_commit(struct sim_world *w, struct sim_instance *in, const char *collection,
		   const json_t *doc);
/* Records the message just appended at (topic, partition, offset) in w->logidx. */
void inv_on_append(struct sim_world *w, const char *topic, int32_t partition, int64_t offset);
void inv_logidx_free(struct inv_logidx *x);

#endif
