/* runtime.h — the loop every service shares (DESIGN.md §3, §8).
 *
 * take a message -> parse + validate (invalid -> <topic>.dlq) -> route to an aggregate ->
 * load it -> skip if its inbox has the eventId -> run the handler (a pure decision) ->
 * ONE compare-and-swap of state + inbox + outbox -> publish the outbox -> remove the
 * published entries -> commit the offset.
 *
 * A periodic sweep publishes outbox entries a crash left behind and fires aggregate
 * timers (wake_at). Transient errors retry with exponential backoff and jitter; CONFLICT
 * reloads and re-runs the handler; permanent failures and messages that keep failing go
 * to "<topic>.dlq" as ops.DeadLetter.v1. The runtime is single-threaded and never reads
 * the wall clock or libc randomness: all time and randomness come from the interfaces,
 * so the same inputs give the same I/O sequence.
 *
 * Stored aggregate layout (one flat document per aggregate, in the service's collection):
 *   {"_id": id, "version": n, <the handler's state fields>, "inbox": [eventId...],
 *    "outbox": [{"topic": t, "at": us, "event": {...envelope...}}], "outbox_n": k,
 *    "outbox_at": us (oldest pending entry; present only while the outbox is non-empty),
 *    "wake_at": us   (present only while a timer is set),
 *    "outbox_due": 1, "wake_due": 1 (present exactly when outbox_at / wake_at are: what the
 *                    sweeps select on, an equality a MongoDB-wire server can index)}
 * The reserved keys (_id, version, inbox, outbox, outbox_n, outbox_at, wake_at, outbox_due,
 * wake_due) are stripped before a handler sees the state and merged back on commit;
 * handlers must not use those names.
 * State fields are top-level so that store_find can query them (e.g. status, updated_us).
 */
#ifndef ECOM_RUNTIME_H
#define ECOM_RUNTIME_H

#include <jansson.h>
#include <stdint.h>

#include "core/broker.h"
#include "core/clock.h"
#include "core/ecom.h"
#include "core/rng.h"
#include "core/store.h"
#include "event/event.h"

#define SVC_ID_MAX 160

/* ---- what a handler sees ---------------------------------------------------------- */

struct svc_ctx; /* opaque; valid only during the handler call */

int64_t svc_now_us(struct svc_ctx *ctx);
int64_t svc_wall_ms(struct svc_ctx *ctx);
struct rng *svc_rng(struct svc_ctx *ctx);
/* The envelope being handled; NULL in wake() and runtime_exec(). */
const struct envelope *svc_cause(struct svc_ctx *ctx);
/* Is a planted bug switched on for this run? */
int svc_bug(struct svc_ctx *ctx, uint32_t bug);
/* Queues an event in the aggregate's outbox; committed atomically with the state.
 * payload is STOLEN. correlationId = the cause's (or key when there is no cause);
 * causationId = the cause's eventId. Topic = the type's name. */
void svc_emit(struct svc_ctx *ctx, enum event_type type, const char *key, json_t *payload);
/* Sets (at_us > 0) or clears (0) this aggregate's timer; wake() runs once it is due. */
void svc_set_wake(struct svc_ctx *ctx, int64_t at_us);
/* Records why the handler failed (goes into the DLQ entry's error); returns rc. */
int svc_fail(struct svc_ctx *ctx, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- what a service provides ------------------------------------------------------ */

struct svc_route {
	const char *collection; /* static string */
	char id[SVC_ID_MAX];    /* aggregate _id */
};

/* Handler contract: *state is the aggregate's state object (the document minus reserved keys) (NULL if the aggregate does
 * not exist yet). The handler may mutate it in place, or replace it (decref the old one,
 * store a new reference), or create it. It performs no store or broker I/O; its only I/O
 * is an external adapter (payment gateway, carrier) keyed by an idempotency key.
 * Returns:
 *   ECOM_OK          commit whatever changed (nothing is written if nothing changed)
 *   ECOM_UNAVAILABLE transient (an adapter timed out): nothing committed; retry with backoff
 *   ECOM_INVALID     permanent: dead-letter the message (svc_fail gives the reason)
 */
typedef int (*svc_handle_fn)(void *svc, struct svc_ctx *ctx, json_t **state,
			     const struct envelope *ev);

struct svc_def {
	const char *name;                 /* "order", "inventory", ... */
	const enum event_type *types;     /* subscribed: one topic per type */
	size_t n_types;
	const char *const *extra_topics;  /* also subscribed, e.g. the "<topic>.dlq" topics */
	size_t n_extra_topics;
	const char *const *collections;   /* aggregate collections, swept for outbox/wake */
	size_t n_collections;
	/* Which aggregate does this event concern? ECOM_OK, or ECOM_NOT_FOUND to ignore it
	 * (e.g. a retry for another service's step): the offset is committed, nothing else. */
	int (*route)(void *svc, const struct envelope *ev, struct svc_route *out);
	svc_handle_fn handle;
	/* Timer: the aggregate's wake_at has passed (ctx cause is NULL). May be NULL. */
	int (*wake)(void *svc, struct svc_ctx *ctx, const char *collection, const char *id,
		    json_t **state);
	size_t inbox_max; /* remembered eventIds per aggregate; 0 = all */
};

/* ---- observing the runtime (trace, coverage, metrics, SSE) ------------------------ */

enum rt_event {
	RT_DELIVERED,          /* a message was polled */
	RT_DUPLICATE_SKIPPED,  /* inbox had it: no effect */
	RT_HANDLED,            /* handler ran and its result was committed */
	RT_IGNORED,            /* route() said not ours */
	RT_COMMIT_CONFLICT,
	RT_COMMIT_AMBIGUOUS,
	RT_STORE_UNAVAILABLE,
	RT_RETRY_SCHEDULED,    /* transient failure; backing off */
	RT_PUBLISHED,          /* an outbox entry was acked by the broker */
	RT_PUBLISH_FAILED,
	RT_SWEEP_PUBLISHED,    /* an entry left by a crash was published by the sweep */
	RT_DEAD_LETTERED,
	RT_OFFSET_COMMITTED,
	RT_OFFSET_LOST,        /* commit refused: partition reassigned (rebalance) */
	RT_WAKE_FIRED,
	RT__EVENT_COUNT
};
const char *rt_event_name(enum rt_event e);

/* Reserved document keys, set to 1 exactly while outbox_at / wake_at are present (an outbox
 * entry waits / a timer is armed). The sweeps select on these with an equality, which a
 * MongoDB-wire server can answer from an index (FerretDB v1 evaluates every range query by
 * reading the whole collection), and check the time themselves. */
#define RT_KEY_OUTBOX_DUE "outbox_due"
#define RT_KEY_WAKE_DUE "wake_due"

/* Headers the runtime writes on every ops.DeadLetter.v1 (envelope headers and broker
 * headers alike). The read model keys dead_letters by original topic:partition:offset. */
#define RT_HDR_ORIGINAL_TOPIC "x-original-topic"
#define RT_HDR_ORIGINAL_PARTITION "x-original-partition"
#define RT_HDR_ORIGINAL_OFFSET "x-original-offset"
#define RT_HDR_ERROR "x-error"
#define RT_HDR_ATTEMPTS "x-attempts"
#define RT_HDR_FIRST_FAILURE "x-first-failure"
#define RT_HDR_LAST_FAILURE "x-last-failure"
#define RT_HDR_REPLAY "x-replay"

struct runtime;

struct runtime_observer {
	void *arg;
	/* type is the event type concerned or -1; detail is a short string or NULL. */
	void (*on_event)(void *arg, struct runtime *rt, enum rt_event what, int type,
			 const char *detail);
	/* After a successful commit of an aggregate (doc is borrowed, read-only). */
	void (*on_commit)(void *arg, struct runtime *rt, const char *collection,
			  const json_t *doc);
	/* Handler latency in microseconds of the clock, per event type. */
	void (*on_latency)(void *arg, struct runtime *rt, int type, int64_t us);
};

struct runtime_config {
	const char *group;            /* consumer group; NULL = "<name>-service-group" */
	const char *instance;         /* e.g. "payment#2", for logs and traces */
	int64_t sweep_interval_us;    /* outbox + timer sweep period (default 500 ms) */
	int64_t outbox_grace_us;      /* sweep leaves entries younger than this (default 1 s) */
	int64_t backoff_base_us;      /* first retry delay (default 10 ms) */
	int64_t backoff_max_us;       /* cap (default 5 s) */
	int max_attempts;             /* then dead-letter (default 30) */
	uint32_t bugs;                /* planted bugs (bugs.h) */
	const struct runtime_observer *obs; /* may be NULL */
};

/* Borrowed: def, svc, broker, store, clock, rng and cfg strings must outlive the runtime. */
struct runtime *runtime_new(const struct svc_def *def, void *svc, struct broker *b,
			    struct store *s, struct eclock *c, struct rng *r,
			    const struct runtime_config *cfg);
/* Subscribes to def->types. ECOM_OK or the broker's error. */
int runtime_start(struct runtime *rt, struct ecom_err *err);

/* Does at most one unit of work: one message, one outbox publish, or one sweep.
 * Returns 1 if it did work (call again soon), 0 if idle; *next_us is then when it next
 * wants to run (a retry backoff or the next sweep), INT64_MAX for "only on new input". */
int runtime_step(struct runtime *rt, int64_t *next_us);

/* A command from the API (order creation, admin actions): load the aggregate, run fn,
 * commit state + outbox with the same CAS as a handler, then publish. fn returns ECOM_OK
 * to commit, or any other code to write nothing and have runtime_exec return it.
 * CONFLICT/AMBIGUOUS from the store re-run fn on a fresh read (bounded), so fn must be
 * idempotent over its own earlier effect. ECOM_UNAVAILABLE when the store keeps failing. */
typedef int (*svc_exec_fn)(void *arg, struct svc_ctx *ctx, json_t **state);
int runtime_exec(struct runtime *rt, const char *collection, const char *id, svc_exec_fn fn,
		 void *arg, struct ecom_err *err);

/* Frees the runtime. The owner destroys the broker (which leaves the group) and the store. */
void runtime_free(struct runtime *rt);

const char *runtime_instance(const struct runtime *rt);
const struct svc_def *runtime_def(const struct runtime *rt);
struct store *runtime_store(struct runtime *rt);
/* The runtime's rng, for API commands that draw before any handler runs (e.g. an orderId). */
struct rng *runtime_rng(struct runtime *rt);
/* The message being processed (borrowed; valid during observer callbacks for it), or NULL.
 * For log lines that name the cause's correlationId/causationId. */
const struct broker_msg *runtime_current_msg(const struct runtime *rt);

struct runtime_stats {
	uint64_t delivered, handled, duplicates, dead_lettered, published, sweep_published,
		conflicts, retries, offsets_lost;
	int64_t outbox_backlog_hint; /* entries known pending at last sweep */
};
void runtime_get_stats(const struct runtime *rt, struct runtime_stats *out);

#endif
