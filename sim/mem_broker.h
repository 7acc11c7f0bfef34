/* mem_broker.h — an in-memory, deterministic Kafka-like cluster: partitioned append-only logs,
 * consumer groups with committed offsets, and rebalance on join/leave/crash. Used by the
 * simulator and by `ecom serve all`. Same sequence of calls => same assignment and delivery
 * order. A message becomes deliverable at its visible_at_us (a hook decides; default: at once)
 * and blocks the ones behind it in its partition (head-of-line), never other partitions. */
#ifndef ECOM_SIM_MEM_BROKER_H
#define ECOM_SIM_MEM_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "core/broker.h"
#include "core/clock.h"

/* Bounds: put a limit on everything. */
#define MEM_TOPIC_NAME_MAX 249       /* Kafka's limit */
#define MEM_PARTITIONS_MAX 1024      /* per topic */
#define MEM_CLIENT_ID_MAX 255
#define MEM_GROUP_NAME_MAX 255

struct mem_cluster;

/* Optional callbacks. Called synchronously from inside broker calls; they must not call back
 * into the cluster's mutating functions (produce/subscribe/poll/commit/destroy), but may use
 * the inspection functions. Any member may be NULL. */
struct mem_cluster_hooks {
	void *arg;
	/* When does the message at (topic, partition, offset) become deliverable? Default: now_us.
	 * Called once per append, before on_append. */
	int64_t (*visible_at)(void *arg, const char *topic, int32_t partition, int64_t offset,
			      int64_t now_us);
	/* After each append, so the simulator can wake consumers at visible_at_us. */
	void (*on_append)(void *arg, const char *topic, int32_t partition, int64_t offset,
			  int64_t visible_at_us);
	/* After a group's membership changed and its partitions were reassigned. */
	void (*on_rebalance)(void *arg, const char *group, uint32_t generation);
};

/* default_partitions (1..MEM_PARTITIONS_MAX) for topics created on first use. The clock is
 * borrowed (must outlive the cluster) and decides what is deliverable at poll time. */
struct mem_cluster *mem_cluster_new(int32_t default_partitions, struct eclock *clock);
/* Every client of the cluster must have been destroyed first (asserted). NULL is a no-op. */
void mem_cluster_free(struct mem_cluster *c);
/* Replaces the hooks (copied). NULL clears them. */
void mem_cluster_set_hooks(struct mem_cluster *c, const struct mem_cluster_hooks *h);
/* Pre-creates a topic. ECOM_OK (also when it exists with that count), ECOM_CONFLICT when it
 * exists with another count, ECOM_INVALID for a bad name or count. */
int mem_cluster_create_topic(struct mem_cluster *c, const char *topic, int32_t partitions);

/* One client (producer + at most one group consumer) implementing core/broker.h.
 * client_id decides the member's place in assignment (members sorted by client_id); it
 * need not be unique (ties keep join order). broker_destroy() leaves the group as a crash
 * does (uncommitted progress is lost) and frees the client. Produce never fails (no faults
 * here; sim/fault_broker adds them) except ECOM_INVALID for a bad topic name. Poll ignores
 * timeout_ms. Message memory returned by poll stays valid until the cluster is freed or
 * retention releases it (never before the next poll, which is what broker.h promises).
 * Commit: ECOM_CONFLICT when the partition is not assigned to this member in the current
 * generation, ECOM_INVALID when the client never subscribed or next_offset is past the end
 * of the partition. */
struct broker *mem_broker_new(struct mem_cluster *c, const char *client_id);

/* Retention, for long simulated runs: keep < 0 (the default) keeps every message for the
 * cluster's life. keep >= 1 releases the memory of messages more than `keep` offsets below
 * the lowest committed offset of every group subscribed to their topic (a topic no group
 * subscribes to keeps everything), except pinned ones; looked at as partitions grow.
 * The runtime commits only what it polled and only forward, so no consumer reads a
 * released message (poll asserts it); mem_cluster_read gives ECOM_NOT_FOUND for one. */
void mem_cluster_set_retention(struct mem_cluster *c, int64_t keep);
/* Keeps the message at (topic, partition, offset) whatever retention says (e.g. the original
 * of a dead letter, which a replay reads). ECOM_NOT_FOUND if it is gone or never was. */
int mem_cluster_pin(struct mem_cluster *c, const char *topic, int32_t partition, int64_t offset);

/* ---- inspection (invariants, reports, tests) ------------------------------------------ */

/* Partition count; 0 if no such topic. */
int32_t mem_cluster_partitions(const struct mem_cluster *c, const char *topic);
/* Offset the next append will get (= messages in the partition); 0 if no such partition. */
int64_t mem_cluster_end_offset(const struct mem_cluster *c, const char *topic, int32_t partition);
/* ECOM_OK and *out filled with borrowed memory (valid until the cluster is freed or
 * retention releases the message; out->parsed only until the next produce, and NULL once the
 * message left the parsed window), or ECOM_NOT_FOUND (no such message, or released). */
int mem_cluster_read(const struct mem_cluster *c, const char *topic, int32_t partition,
		     int64_t offset, struct broker_msg *out);
/* When the message became / becomes deliverable; -1 if there is no such message (or it
 * was released). */
int64_t mem_cluster_visible_at(const struct mem_cluster *c, const char *topic,
			       int32_t partition, int64_t offset);
/* *names = a new array of borrowed topic names, sorted by strcmp; the caller frees only the
 * array. Returns the count (*names = NULL when 0). */
size_t mem_cluster_topics(const struct mem_cluster *c, const char ***names);
/* The group's committed next offset for the partition; -1 if none. */
int64_t mem_cluster_committed(const struct mem_cluster *c, const char *group, const char *topic,
			      int32_t partition);
/* Sum over every topic the group ever subscribed to, and its partitions, of
 * end_offset - committed (committed -1 counts as 0). 0 for an unknown group. */
int64_t mem_cluster_group_lag(const struct mem_cluster *c, const char *group);
/* Total messages ever appended. */
uint64_t mem_cluster_appended(const struct mem_cluster *c);
/* Messages whose memory retention released. */
uint64_t mem_cluster_released(const struct mem_cluster *c);
/* The group's generation (0 for an unknown group; each join/leave adds 1). */
uint32_t mem_cluster_generation(const struct mem_cluster *c, const char *group);
/* client_id of the member owning (topic, partition) in the group now; NULL if none. */
const char *mem_cluster_owner(const struct mem_cluster *c, const char *group, const char *topic,
			      int32_t partition);
/* Members currently in the group. */
size_t mem_cluster_group_members(const struct mem_cluster *c, const char *group);

#endif
