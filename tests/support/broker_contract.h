/* broker_contract.h — the broker interface's contract suite (core/broker.h), runnable against
 * any backend: sim/mem_broker always, real Kafka in the integration job. It asserts only what
 * broker.h promises, polls in bounded loops (a real broker needs several polls and a settle
 * after a rebalance), and uses fresh topic and group names in every test. */
#ifndef ECOM_TESTS_BROKER_CONTRACT_H
#define ECOM_TESTS_BROKER_CONTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "core/broker.h"

#define BROKER_CONTRACT_PREFIX_MAX 64

struct broker_contract_env {
	void *arg;
	/* A new client of the backend under test; the suite destroys it. */
	struct broker *(*client)(void *arg, const char *client_id);
	/* Lets the backend finish a rebalance among these clients that just subscribed (a real
	 * one polls each until the group is stable). It may discard what those polls return:
	 * the suite calls it only where that is harmless (mostly before producing). May be
	 * NULL (nothing to do, as for the in-memory broker). Deviation from a settle(arg)
	 * signature: the clients are passed because librdkafka rebalances inside poll. */
	void (*settle)(void *arg, struct broker *const *clients, size_t n);
	/* Writes a prefix unique to this test and run (e.g. "ct-<run>-<n>") into buf; the suite
	 * names topics and groups "<prefix>-<what>". */
	void (*prefix)(void *arg, char buf[BROKER_CONTRACT_PREFIX_MAX]);
	/* Creates a topic with `partitions` before use; NULL when topics are created on first
	 * use with `partitions` partitions. Returns ECOM_OK. */
	int (*create_topic)(void *arg, const char *topic, int32_t partitions);
	/* Partitions every topic of the suite has (at least 2; 6 recommended). */
	int32_t partitions;
	/* timeout_ms for each poll (0 for in-memory). */
	int poll_timeout_ms;
	/* Bound on consecutive empty polls before a test gives up waiting (e.g. 3 for
	 * in-memory, 50 for Kafka). */
	int idle_polls_max;
};

/* Runs every contract test as a cmocka group named suite_name; returns failures (0 = pass). */
int broker_contract_run(const char *suite_name, const struct broker_contract_env *env);

#endif
