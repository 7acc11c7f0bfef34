/* kafka_broker.h — struct broker over librdkafka (2.0.2): an idempotent acks=all producer with
 * Kafka's murmur2 partitioner (keys land where kafkajs / the Java client put them), plus one
 * manual-commit group consumer. produce() returns only once the delivery report is in. */
#ifndef ECOM_KAFKA_BROKER_H
#define ECOM_KAFKA_BROKER_H

#include <stddef.h>

#include "core/broker.h"

/* Every field may be 0 / NULL for its default. */
struct kafka_options {
	/* Bound on one produce() including librdkafka's retries (message.timeout.ms).
	 * Default 30000. */
	int produce_timeout_ms;
	/* Consumer group session timeout; a member silent this long is evicted. Default 10000
	 * (the broker accepts 6000..300000). */
	int session_timeout_ms;
	/* Longest gap between two poll() calls before the member leaves the group.
	 * Default 300000. */
	int max_poll_interval_ms;
	/* Bound on kafka_ensure_topics (create + wait for leaders). Default 30000. */
	int admin_timeout_ms;
	/* librdkafka `debug` contexts (e.g. "cgrp,topic"), or NULL. */
	const char *debug;
};

/* Connects lazily: this only builds the producer, so it fails only on bad configuration
 * (ECOM_INVALID) — an unreachable cluster shows up as ECOM_UNAVAILABLE/AMBIGUOUS on use.
 * bootstrap is "host:port[,host:port...]"; client_id names this process in broker logs. */
struct broker *kafka_broker_new(const char *bootstrap, const char *client_id,
				const struct kafka_options *opt, struct ecom_err *err);

/* Creates each topic and its dead-letter topic "<topic>.dlq" (unless the name already ends in
 * ".dlq") with `partitions` partitions and the broker's default replication factor, then waits
 * until every partition has a leader. A topic that already exists is fine (its partition
 * count is left as it is). ECOM_OK, ECOM_UNAVAILABLE (cluster unreachable / timed out),
 * ECOM_INVALID (bad name or count). `b` must come from kafka_broker_new. */
int kafka_ensure_topics(struct broker *b, const char *const *topics, size_t n, int partitions,
			struct ecom_err *err);

/* Deletes every topic whose name starts with `prefix` (at least KAFKA_DELETE_PREFIX_MIN
 * characters, so a slip cannot wipe a cluster): cleanup for tests and development runs.
 * *n_deleted (may be NULL) = how many were deleted. ECOM_OK, ECOM_UNAVAILABLE, ECOM_INVALID. */
#define KAFKA_DELETE_PREFIX_MIN 4
int kafka_delete_topics_with_prefix(struct broker *b, const char *prefix, size_t *n_deleted,
				    struct ecom_err *err);

/* Introspection (tests, health checks): the partitions the group currently assigns to this
 * member (0 before the first assignment and while a rebalance is in progress), and the
 * subscribed group (NULL before subscribe). Both are updated only inside poll(). */
size_t kafka_broker_assigned(struct broker *b);
const char *kafka_broker_group(struct broker *b);

#endif
