/* runtime_int.h — the runtime's private parts, shared by runtime.c (the consume loop and
 * commands), outbox.c (publishing and the sweep) and dlq.c (dead-lettering).
 * Nothing outside src/runtime includes this. */
#ifndef ECOM_RUNTIME_INT_H
#define ECOM_RUNTIME_INT_H

#include "runtime/runtime.h"

/* Bounds (STYLE.md: put a limit on everything). */
#define RT_CAS_ATTEMPTS_MAX 16    /* reload-and-rerun rounds on CONFLICT/AMBIGUOUS per step */
#define RT_EXEC_ATTEMPTS_MAX 8    /* the same for API commands */
#define RT_SWEEP_BATCH 64         /* aggregates looked at per collection per sweep */
#define RT_PUBLISH_REMOVE_MAX 8   /* CAS rounds to remove published outbox entries */
#define RT_EMITS_MAX 256          /* events one handler call may emit */
#define RT_INBOX_DEFAULT_MAX 0    /* 0 = unbounded */

struct svc_ctx {
	struct runtime *rt;
	int64_t now_us;
	int64_t wall_ms;
	const struct envelope *cause;
	json_t *emits;   /* array of outbox entries {"topic","at","event"} */
	int wake_touched;
	int64_t wake_at; /* 0 = cleared */
	char err[256];
};

struct runtime {
	const struct svc_def *def;
	void *svc;
	struct broker *broker;
	struct store *store;
	struct eclock *clock;
	struct rng *rng;
	struct runtime_config cfg;
	char group[128];
	char instance[64];
	const char *topics[BROKER_MAX_TOPICS];
	size_t n_topics;

	/* The message in flight. Its memory belongs to the broker and stays valid because we do
	 * not poll again until we are done with it (a backoff keeps it). */
	int has_msg;
	int msg_dead;  /* decided: dead-letter it (retrying the DLQ produce) */
	struct broker_msg msg;
	int attempts;
	int64_t first_fail_ms;
	int64_t last_fail_ms;
	int64_t retry_at_us;
	char last_error[256];

	int64_t next_sweep_us;
	struct runtime_stats stats;
};

void rt_emit_event(struct runtime *rt, enum rt_event what, int type, const char *detail);

/* outbox.c */
/* Publishes the outbox entries of doc (borrowed) whose "at" <= max_at_us, in order, stopping
 * at the first failure; then removes the published ones with a CAS (reloading on conflict).
 * doc must be the stored version. Returns the number published. */
int rt_publish_doc(struct runtime *rt, const char *collection, json_t *doc, int64_t max_at_us,
		   int from_sweep);
/* One sweep: stranded outbox entries, then due timers, for every collection. Returns the
 * amount of work done. */
int rt_sweep(struct runtime *rt, int64_t now_us);
/* Produces one serialized envelope to topic with its headers. */
int rt_produce_event(struct runtime *rt, const char *topic, json_t *event, struct ecom_err *err);

/* dlq.c */
/* Dead-letters the in-flight message. ECOM_OK when the DLQ accepted it. */
int rt_dead_letter(struct runtime *rt, const struct broker_msg *m, const char *error,
		   int attempts);

/* runtime.c helpers used by the sweep */
int rt_fire_wake(struct runtime *rt, const char *collection, const char *id, int64_t now_us);

#endif
