/* broker.h — the message broker interface (Kafka semantics).
 * One `struct broker` is one client: a producer plus at most one group consumer, like one
 * librdkafka producer + consumer pair in a service process. Implementations:
 *   backends/kafka (librdkafka), sim/mem_broker (in-memory, deterministic), and
 *   sim/fault_broker (wraps any broker and injects faults).
 * Nothing here blocks except a real backend's poll, for at most timeout_ms. */
#ifndef ECOM_BROKER_H
#define ECOM_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "core/ecom.h"

#define BROKER_MAX_HEADERS 16
#define BROKER_MAX_TOPICS 32

struct json_t; /* jansson's json_t */

struct broker_header {
	const char *key;   /* NUL-terminated */
	const char *value; /* NUL-terminated */
};

/* What a producer sends. All memory is the caller's and only borrowed for the call. */
struct broker_record {
	const char *topic;
	const char *key; /* partition key (orderId); may be NULL */
	size_t key_len;
	const char *value;
	size_t value_len;
	const struct broker_header *headers;
	size_t n_headers;
	/* Optional: value already parsed, exactly what parsing value gives (the runtime passes
	 * the event it just serialized when it round-trips exactly). An in-process broker may
	 * keep a reference and hand it to consumers as broker_msg.parsed, so they skip the
	 * parse; nobody may modify it. Real backends ignore it. NULL: not known. */
	struct json_t *parsed;
};

/* What a consumer receives. All memory belongs to the broker and stays valid until the
 * next poll() or destroy() on the same broker. key and value are NUL-terminated for
 * convenience (the NUL is not counted in the lengths). */
struct broker_msg {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	const struct broker_header *headers;
	size_t n_headers;
	/* NULL, or the parse of value handed on from broker_record.parsed (read-only, valid as
	 * long as value). Only in-process brokers set it. */
	struct json_t *parsed;
};

struct broker;

struct broker_ops {
	const char *name;
	/* Appends one record and waits for the ack (acks=all). Topic is created on first use.
	 * ECOM_OK: durably appended. ECOM_UNAVAILABLE: not appended, retry.
	 * ECOM_AMBIGUOUS: may have been appended (a lost ack). ECOM_INVALID: bad record. */
	int (*produce)(struct broker *b, const struct broker_record *rec, struct ecom_err *err);
	/* Joins consumer group `group` for these topics (replacing any earlier subscription).
	 * Consumption starts at the group's committed offset, or the earliest offset. */
	int (*subscribe)(struct broker *b, const char *group, const char *const *topics,
			 size_t n_topics, struct ecom_err *err);
	/* Next message for this member. ECOM_OK and *out filled, or ECOM_NOT_FOUND when nothing is
	 * deliverable now, or ECOM_UNAVAILABLE. May block up to timeout_ms (real backends only). */
	int (*poll)(struct broker *b, int timeout_ms, struct broker_msg *out, struct ecom_err *err);
	/* Commits next_offset for (topic, partition) for this member's group.
	 * ECOM_CONFLICT: the partition is no longer assigned to this member (rebalance); the
	 * message will be redelivered to its new owner, which is why consumers dedupe. */
	int (*commit)(struct broker *b, const char *topic, int32_t partition, int64_t next_offset,
		      struct ecom_err *err);
	/* Leaves the group (uncommitted progress is lost, as in a crash) and frees everything. */
	void (*destroy)(struct broker *b);
};

struct broker {
	const struct broker_ops *ops;
};

/* The wrappers: the one place for argument checks (and where metrics hook in). */
static inline int broker_produce(struct broker *b, const struct broker_record *rec,
				 struct ecom_err *err)
{
	ECOM_ASSERT(b && rec && rec->topic && (rec->value || rec->value_len == 0));
	ECOM_ASSERT(rec->n_headers <= BROKER_MAX_HEADERS);
	return b->ops->produce(b, rec, err);
}
static inline int broker_subscribe(struct broker *b, const char *group,
				   const char *const *topics, size_t n_topics, struct ecom_err *err)
{
	ECOM_ASSERT(b && group && topics && n_topics > 0 && n_topics <= BROKER_MAX_TOPICS);
	return b->ops->subscribe(b, group, topics, n_topics, err);
}
static inline int broker_poll(struct broker *b, int timeout_ms, struct broker_msg *out,
			      struct ecom_err *err)
{
	ECOM_ASSERT(b && out && timeout_ms >= 0);
	return b->ops->poll(b, timeout_ms, out, err);
}
static inline int broker_commit(struct broker *b, const char *topic, int32_t partition,
				int64_t next_offset, struct ecom_err *err)
{
	ECOM_ASSERT(b && topic && partition >= 0 && next_offset >= 0);
	return b->ops->commit(b, topic, partition, next_offset, err);
}
static inline void broker_destroy(struct broker *b)
{
	if (b)
		b->ops->destroy(b);
}

/* Kafka's murmur2 (the Java client's and kafkajs's default partitioner):
 * partition = (murmur2(key) & 0x7fffffff) % n_partitions. */
uint32_t broker_murmur2(const void *key, size_t len);
int32_t broker_partition_for_key(const void *key, size_t len, int32_t n_partitions);

/* Header lookup on a received message; NULL if absent. */
const char *broker_msg_header(const struct broker_msg *m, const char *key);

#endif
