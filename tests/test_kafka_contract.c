/* test_kafka_contract.c — the broker contract suite (tests/support/broker_contract.h) against
 * a real Kafka broker through backends/kafka, at $ECOM_KAFKA (e.g. 127.0.0.1:9092, started by
 * `deploy/stack up`). Without ECOM_KAFKA, or in a build without backends, it prints a skip line
 * and passes. Topic and group names are unique per run, so a persistent broker is fine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/broker_contract.h"

#ifdef ECOM_HAVE_BACKENDS

#include "backends/kafka/kafka_broker.h"

#define KT_POLL_MS 100
#define KT_IDLE_POLLS 50 /* 5 s without a message ends a collection */
/* The broker's group.min.session.timeout.ms: the fastest eviction Kafka allows. */
#define KT_SESSION_MS 6000
#define KT_PARTITIONS 6
#define KT_SETTLE_ROUNDS_MAX 300 /* x clients x KT_POLL_MS: at least 30 s */
#define KT_STABLE_ROUNDS 3
#define KT_GROUPS_MAX 8

struct kt_env {
	const char *bootstrap;
	struct broker *admin; /* creates topics */
	char run[32];
	int seq;
};

static struct kafka_options kt_options(void)
{
	struct kafka_options o = {
		.produce_timeout_ms = 15000,
		.session_timeout_ms = KT_SESSION_MS,
		.max_poll_interval_ms = 60000,
		.admin_timeout_ms = 30000,
	};

	return o;
}

static struct broker *kt_client(void *arg, const char *client_id)
{
	struct kt_env *e = arg;
	struct kafka_options o = kt_options();
	struct ecom_err err = { 0 };
	struct broker *b = kafka_broker_new(e->bootstrap, client_id, &o, &err);

	if (!b)
		fprintf(stderr, "kafka_broker_new: %s\n", err.msg);
	return b;
}

static void kt_prefix(void *arg, char buf[BROKER_CONTRACT_PREFIX_MAX])
{
	struct kt_env *e = arg;

	snprintf(buf, BROKER_CONTRACT_PREFIX_MAX, "ct-%s-%d", e->run, e->seq++);
}

static int kt_create_topic(void *arg, const char *topic, int32_t partitions)
{
	struct kt_env *e = arg;
	struct ecom_err err = { 0 };
	const char *topics[1] = { topic };
	int rc = kafka_ensure_topics(e->admin, topics, 1, partitions, &err);

	if (rc != ECOM_OK)
		fprintf(stderr, "kafka_ensure_topics(%s): %s %s\n", topic, ecom_rc_name(rc),
			err.msg);
	return rc;
}

/* Stable: every client holds partitions, and within each group the members' assignments add
 * up to the topic's partition count (every test subscribes one topic per group). */
static int kt_stable(struct broker *const *clients, size_t n)
{
	const char *groups[KT_GROUPS_MAX];
	size_t sums[KT_GROUPS_MAX] = { 0 }, n_groups = 0;

	for (size_t i = 0; i < n; i++) {
		const char *g = kafka_broker_group(clients[i]);
		size_t k;

		if (!g || kafka_broker_assigned(clients[i]) == 0)
			return 0;
		for (k = 0; k < n_groups && strcmp(groups[k], g) != 0; k++)
			;
		if (k == n_groups) {
			assert_true(n_groups < KT_GROUPS_MAX);
			groups[n_groups++] = g;
		}
		sums[k] += kafka_broker_assigned(clients[i]);
	}
	for (size_t k = 0; k < n_groups; k++)
		if (sums[k] != KT_PARTITIONS)
			return 0;
	return 1;
}

/* librdkafka joins and rebalances inside poll(), so settling means polling every member until
 * the assignment has been complete for a few rounds in a row. Messages polled here are
 * dropped, which broker_contract.h allows. */
static void kt_settle(void *arg, struct broker *const *clients, size_t n)
{
	int stable = 0;

	(void)arg;
	for (int round = 0; round < KT_SETTLE_ROUNDS_MAX; round++) {
		for (size_t i = 0; i < n; i++) {
			struct broker_msg m;

			broker_poll(clients[i], KT_POLL_MS, &m, NULL);
		}
		stable = kt_stable(clients, n) ? stable + 1 : 0;
		if (stable >= KT_STABLE_ROUNDS)
			return;
	}
	fail_msg("consumer group did not settle after %d rounds", KT_SETTLE_ROUNDS_MAX);
}

/* ---- what only this backend promises ---------------------------------------------------- */

static struct kt_env *kt_env_of;

/* kafka_ensure_topics also makes "<topic>.dlq" with the same partition count, and a second
 * call is fine. A lone consumer of the .dlq topic settles on exactly KT_PARTITIONS partitions
 * (had it been auto-created instead, it would have the broker's default of 1). */
static void kt_ensure_topics_dlq(void **state)
{
	struct kt_env *e = kt_env_of;
	char topic[BROKER_CONTRACT_PREFIX_MAX + 16], dlq[BROKER_CONTRACT_PREFIX_MAX + 16];
	char prefix[BROKER_CONTRACT_PREFIX_MAX], group[BROKER_CONTRACT_PREFIX_MAX + 16];
	const char *topics[1] = { topic }, *dlqs[1] = { dlq };
	struct ecom_err err = { 0 };
	struct broker *c;
	size_t n = 0;

	(void)state;
	kt_prefix(e, prefix);
	snprintf(topic, sizeof(topic), "%s-events", prefix);
	snprintf(dlq, sizeof(dlq), "%s-events.dlq", prefix);
	snprintf(group, sizeof(group), "%s-g", prefix);
	assert_int_equal(kafka_ensure_topics(e->admin, topics, 1, KT_PARTITIONS, &err), ECOM_OK);
	assert_int_equal(kafka_ensure_topics(e->admin, topics, 1, KT_PARTITIONS, &err), ECOM_OK);
	c = kt_client(e, "dlq-reader");
	assert_non_null(c);
	assert_int_equal(broker_subscribe(c, group, dlqs, 1, &err), ECOM_OK);
	kt_settle(e, &c, 1);
	assert_int_equal(kafka_broker_assigned(c), KT_PARTITIONS);
	assert_string_equal(kafka_broker_group(c), group);
	broker_destroy(c);
	assert_int_equal(kafka_ensure_topics(e->admin, topics, 1, 0, &err), ECOM_INVALID);
	/* Cleanup deletes exactly the two topics, and refuses a prefix that is too short. */
	snprintf(group, sizeof(group), "%s-", prefix);
	assert_int_equal(kafka_delete_topics_with_prefix(e->admin, group, &n, &err), ECOM_OK);
	assert_int_equal(n, 2);
	assert_int_equal(kafka_delete_topics_with_prefix(e->admin, "ct-", &n, &err), ECOM_INVALID);
}

/* No broker at all: produce gives up after its timeout with UNAVAILABLE (the record never
 * left), poll delivers nothing within its timeout, and nothing hangs. */
static void kt_unreachable(void **state)
{
	struct kafka_options o = { .produce_timeout_ms = 1000, .session_timeout_ms = KT_SESSION_MS };
	struct ecom_err err = { 0 };
	struct broker *b = kafka_broker_new("127.0.0.1:1", "nowhere", &o, &err);
	struct broker_record rec = { .topic = "nowhere", .key = "k", .key_len = 1,
				     .value = "v", .value_len = 1 };
	const char *topics[1] = { "nowhere" };
	struct broker_msg m;
	time_t t0 = time(NULL);
	int rc;

	(void)state;
	assert_non_null(b);
	assert_int_equal(broker_produce(b, &rec, &err), ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "nowhere"));
	assert_int_equal(broker_subscribe(b, "nowhere-g", topics, 1, &err), ECOM_OK);
	rc = broker_poll(b, 200, &m, &err);
	assert_true(rc == ECOM_NOT_FOUND || rc == ECOM_UNAVAILABLE);
	assert_true(time(NULL) - t0 < 10);
	broker_destroy(b);
}

static void kt_bad_config(void **state)
{
	struct kafka_options o = { .debug = "no-such-context" };
	struct ecom_err err = { 0 };

	(void)state;
	assert_null(kafka_broker_new("127.0.0.1:1", "bad", &o, &err));
	assert_int_equal(err.rc, ECOM_INVALID);
}

int main(void)
{
	const struct CMUnitTest extra[] = {
		cmocka_unit_test(kt_ensure_topics_dlq),
		cmocka_unit_test(kt_unreachable),
		cmocka_unit_test(kt_bad_config),
	};
	const char *bootstrap = getenv("ECOM_KAFKA");
	struct kafka_options o = kt_options();
	struct ecom_err err = { 0 };
	struct kt_env e = { 0 };
	struct broker_contract_env env = {
		.arg = &e,
		.client = kt_client,
		.settle = kt_settle,
		.prefix = kt_prefix,
		.create_topic = kt_create_topic,
		.partitions = KT_PARTITIONS,
		.poll_timeout_ms = KT_POLL_MS,
		.idle_polls_max = KT_IDLE_POLLS,
	};
	char prefix[BROKER_CONTRACT_PREFIX_MAX];
	size_t n_deleted = 0;
	int failed;

	if (!bootstrap || !*bootstrap) {
		printf("test_kafka_contract: skipped (ECOM_KAFKA not set; run deploy/stack up and "
		       "export ECOM_KAFKA=127.0.0.1:9092)\n");
		return 0;
	}
	e.bootstrap = bootstrap;
	snprintf(e.run, sizeof(e.run), "%ld-%ld", (long)getpid(), (long)time(NULL));
	e.admin = kafka_broker_new(bootstrap, "contract-admin", &o, &err);
	if (!e.admin) {
		fprintf(stderr, "test_kafka_contract: %s\n", err.msg);
		return 1;
	}
	printf("test_kafka_contract: real Kafka at %s, names ct-%s-*\n", bootstrap, e.run);
	failed = broker_contract_run("kafka_contract", &env);
	kt_env_of = &e;
	failed += cmocka_run_group_tests_name("kafka_backend", extra, NULL, NULL);
	/* This run's topics would otherwise pile up in a broker that persists between runs. */
	snprintf(prefix, sizeof(prefix), "ct-%s-", e.run);
	if (kafka_delete_topics_with_prefix(e.admin, prefix, &n_deleted, &err) == ECOM_OK)
		printf("test_kafka_contract: deleted %zu topics %s*\n", n_deleted, prefix);
	else
		fprintf(stderr, "test_kafka_contract: cleanup: %s\n", err.msg);
	broker_destroy(e.admin);
	return failed;
}

#else

int main(void)
{
	printf("test_kafka_contract: skipped (built with -DECOM_BACKENDS=OFF)\n");
	return 0;
}

#endif
