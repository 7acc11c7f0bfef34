/* harness.h — a small in-memory world for unit tests of the runtime and the services:
 * one mem broker cluster, one mem store per service name, a manual clock, one rng, and
 * service instances (runtime + mem broker client) stepped round-robin. No faults: the
 * simulator (sim/) is the place for those. Deterministic for a given seed. */
#ifndef ECOM_TEST_HARNESS_H
#define ECOM_TEST_HARNESS_H

#include "core/broker.h"
#include "core/clock.h"
#include "core/rng.h"
#include "core/store.h"
#include "event/event.h"
#include "runtime/runtime.h"
#include "sim/mem_broker.h"

#define HARNESS_INSTANCES_MAX 16
#define HARNESS_STORES_MAX 8

struct harness;

struct harness *harness_new(uint64_t seed, int32_t partitions);
void harness_free(struct harness *h);

struct manual_clock *harness_clock(struct harness *h);
struct mem_cluster *harness_cluster(struct harness *h);
struct rng *harness_rng(struct harness *h);
/* The store of a service (created on first use; shared by its instances). */
struct store *harness_store(struct harness *h, const char *service);

/* Adds and starts an instance: a runtime over a new mem broker client and the service's
 * store. instance is e.g. "payment#1"; cfg may be NULL (defaults). */
struct runtime *harness_add(struct harness *h, const struct svc_def *def, void *svc,
			    const char *instance, const struct runtime_config *cfg);
/* Crash: tears the instance down (its runtime and broker client; store and log survive). */
void harness_crash(struct harness *h, struct runtime *rt);
/* The same, by instance name. */
void harness_crash_named(struct harness *h, const char *instance);
/* Restarts a crashed instance under the same name (returns the new runtime). */
struct runtime *harness_restart(struct harness *h, const char *instance);

/* Produces an envelope to its type's topic (or to `topic` if non-NULL) through a test client. */
int harness_publish(struct harness *h, const struct envelope *e, const char *topic);
/* Builds an envelope of type t with the payload parsed from json (fixed timestamp, eventId
 * from the harness rng) and produces it. If keep is non-NULL the envelope is handed back
 * (the caller deinits it). ECOM_INVALID when json does not parse. */
int harness_publish_json(struct harness *h, enum event_type t, const char *key,
			 const char *json, struct envelope *keep);
/* Produces raw bytes to a topic (poison). */
int harness_publish_raw(struct harness *h, const char *topic, const char *key, const char *value);

/* Steps every instance until nothing is left to do (no work in a full pass, no message
 * pending for any group) or max_us of clock time passed. Returns the steps taken. */
long harness_run_until_quiet(struct harness *h, int64_t max_us);
/* Steps for exactly duration_us of clock time (timers and sweeps fire as they come due). */
long harness_run_for(struct harness *h, int64_t duration_us);

/* Number of messages ever appended to a topic (all partitions). */
int64_t harness_topic_count(struct harness *h, const char *topic);
/* Parses the i-th message (0-based, partition order then offset) of a topic into e.
 * ECOM_NOT_FOUND past the end. */
int harness_topic_get(struct harness *h, const char *topic, int64_t i, struct envelope *e);
/* The n-th (0-based) payload of `type` whose orderId is order (new reference), or NULL. */
json_t *harness_nth_payload(struct harness *h, enum event_type type, const char *order, int n);
/* Number of events of `type` in `topic` whose payload.orderId == order_id. */
int harness_count_for_order(struct harness *h, enum event_type type, const char *order_id);

#endif
