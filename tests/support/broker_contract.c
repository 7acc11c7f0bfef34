/* broker_contract.c — the broker contract suite (see broker_contract.h). Every test gets a
 * fixture with a fresh name prefix and a list of the clients it opened, so a failing assertion
 * still destroys them in teardown. Received messages are copied at once, since broker.h only
 * promises their memory until the next poll. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "support/broker_contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT_CLIENTS_MAX 8
#define CT_NAME_MAX (BROKER_CONTRACT_PREFIX_MAX + 32)
#define CT_KEY_MAX 64
#define CT_VALUE_MAX 128
#define CT_HEADER_MAX 64
#define CT_RECS_MAX 1100 /* the largest test consumes 1000 */
#define CT_BIG_N 1000
#define CT_BIG_KEYS 250

struct ct_rec;

struct ct {
	const struct broker_contract_env *env;
	char prefix[BROKER_CONTRACT_PREFIX_MAX];
	struct broker *clients[CT_CLIENTS_MAX];
	struct ct_rec *recs; /* CT_RECS_MAX, for ct_collect */
};

/* A received message, copied. */
struct ct_rec {
	int who; /* index of the consumer that received it */
	char topic[CT_NAME_MAX];
	int32_t partition;
	int64_t offset;
	char key[CT_KEY_MAX];
	size_t key_len;
	char value[CT_VALUE_MAX];
	size_t value_len;
	size_t n_headers;
	char hkey[BROKER_MAX_HEADERS][CT_HEADER_MAX];
	char hval[BROKER_MAX_HEADERS][CT_HEADER_MAX];
};

/* ---- fixture ------------------------------------------------------------------------ */

static int ct_setup(void **state)
{
	struct ct *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->recs = calloc(CT_RECS_MAX, sizeof(*t->recs));
	if (!t->recs) {
		free(t);
		return -1;
	}
	t->env = *state;
	t->env->prefix(t->env->arg, t->prefix);
	*state = t;
	return 0;
}

static int ct_teardown(void **state)
{
	struct ct *t = *state;

	for (size_t i = 0; i < CT_CLIENTS_MAX; i++)
		broker_destroy(t->clients[i]);
	free(t->recs);
	free(t);
	return 0;
}

static void ct_name(const struct ct *t, const char *what, char out[CT_NAME_MAX])
{
	int n = snprintf(out, CT_NAME_MAX, "%s-%s", t->prefix, what);

	assert_true(n > 0 && n < CT_NAME_MAX);
}

/* A fresh topic named after `what`, created up front when the backend wants that. */
static void ct_topic(const struct ct *t, const char *what, char out[CT_NAME_MAX])
{
	ct_name(t, what, out);
	if (t->env->create_topic)
		assert_int_equal(t->env->create_topic(t->env->arg, out, t->env->partitions),
				 ECOM_OK);
}

static struct broker *ct_client(struct ct *t, const char *client_id)
{
	for (size_t i = 0; i < CT_CLIENTS_MAX; i++) {
		if (!t->clients[i]) {
			t->clients[i] = t->env->client(t->env->arg, client_id);
			assert_non_null(t->clients[i]);
			return t->clients[i];
		}
	}
	fail_msg("more than %d clients in one test", CT_CLIENTS_MAX);
	return NULL;
}

/* Destroys b now (a member leaving / crashing). */
static void ct_drop(struct ct *t, struct broker *b)
{
	for (size_t i = 0; i < CT_CLIENTS_MAX; i++) {
		if (t->clients[i] == b) {
			t->clients[i] = NULL;
			broker_destroy(b);
			return;
		}
	}
	fail_msg("unknown client");
}

static void ct_settle(struct ct *t, struct broker *const *bs, size_t n)
{
	if (t->env->settle)
		t->env->settle(t->env->arg, bs, n);
}

static void ct_subscribe(struct ct *t, struct broker *b, const char *group_what, const char *topic)
{
	char group[CT_NAME_MAX];
	const char *topics[1] = { topic };
	struct ecom_err err = { 0 };

	ct_name(t, group_what, group);
	assert_int_equal(broker_subscribe(b, group, topics, 1, &err), ECOM_OK);
}

static void ct_produce_h(struct broker *b, const char *topic, const char *key, const char *value,
			 size_t value_len, const struct broker_header *hs, size_t n_hs)
{
	struct broker_record rec = {
		.topic = topic,
		.key = key,
		.key_len = key ? strlen(key) : 0,
		.value = value,
		.value_len = value_len,
		.headers = hs,
		.n_headers = n_hs,
	};
	struct ecom_err err = { 0 };
	int rc = broker_produce(b, &rec, &err);

	if (rc != ECOM_OK)
		fail_msg("produce %s: %s %s", topic, ecom_rc_name(rc), err.msg);
}

static void ct_produce(struct broker *b, const char *topic, const char *key, const char *value)
{
	ct_produce_h(b, topic, key, value, strlen(value), NULL, 0);
}

static void ct_copy(struct ct_rec *r, int who, const struct broker_msg *m)
{
	memset(r, 0, sizeof(*r));
	r->who = who;
	assert_non_null(m->topic);
	assert_true(strlen(m->topic) < CT_NAME_MAX);
	strcpy(r->topic, m->topic);
	r->partition = m->partition;
	r->offset = m->offset;
	assert_true(m->key_len < CT_KEY_MAX && m->value_len < CT_VALUE_MAX);
	if (m->key_len) {
		memcpy(r->key, m->key, m->key_len);
		assert_int_equal(m->key[m->key_len], '\0');
	}
	r->key_len = m->key_len;
	assert_non_null(m->value);
	memcpy(r->value, m->value, m->value_len);
	assert_int_equal(m->value[m->value_len], '\0');
	r->value_len = m->value_len;
	assert_true(m->n_headers <= BROKER_MAX_HEADERS);
	r->n_headers = m->n_headers;
	for (size_t i = 0; i < m->n_headers; i++) {
		assert_true(strlen(m->headers[i].key) < CT_HEADER_MAX);
		assert_true(strlen(m->headers[i].value) < CT_HEADER_MAX);
		strcpy(r->hkey[i], m->headers[i].key);
		strcpy(r->hval[i], m->headers[i].value);
	}
}

/* Polls the consumers round-robin until every one of them has been idle (NOT_FOUND or
 * UNAVAILABLE) for idle_polls_max consecutive rounds; copies up to cap messages (more is a
 * failure). Returns the count. Bounded: each message ends at most cap rounds of idleness. */
static size_t ct_collect(struct ct *t, struct broker *const *bs, size_t n, struct ct_rec *recs,
			 size_t cap)
{
	size_t got = 0;
	int idle = 0;

	while (idle < t->env->idle_polls_max) {
		int any = 0;

		for (size_t i = 0; i < n; i++) {
			struct broker_msg m;
			struct ecom_err err = { 0 };
			int rc = broker_poll(bs[i], t->env->poll_timeout_ms, &m, &err);

			if (rc == ECOM_NOT_FOUND || rc == ECOM_UNAVAILABLE)
				continue;
			if (rc != ECOM_OK)
				fail_msg("poll: %s %s", ecom_rc_name(rc), err.msg);
			if (got >= cap)
				fail_msg("more than the %zu messages expected", cap);
			ct_copy(&recs[got++], (int)i, &m);
			any = 1;
		}
		idle = any ? 0 : idle + 1;
	}
	return got;
}

/* Polls one consumer until one message arrives (ECOM_OK) or it stays idle (ECOM_NOT_FOUND). */
static int ct_poll_one(struct ct *t, struct broker *b, struct ct_rec *r)
{
	for (int idle = 0; idle < t->env->idle_polls_max; idle++) {
		struct broker_msg m;
		struct ecom_err err = { 0 };
		int rc = broker_poll(b, t->env->poll_timeout_ms, &m, &err);

		if (rc == ECOM_OK) {
			ct_copy(r, 0, &m);
			return ECOM_OK;
		}
		if (rc != ECOM_NOT_FOUND && rc != ECOM_UNAVAILABLE)
			fail_msg("poll: %s %s", ecom_rc_name(rc), err.msg);
	}
	return ECOM_NOT_FOUND;
}

/* "key:seq" -> seq */
static int ct_seq(const struct ct_rec *r)
{
	const char *colon = strrchr(r->value, ':');

	assert_non_null(colon);
	return atoi(colon + 1);
}

/* Asserts that recs[0..n) hold each of the values "<prefix>:<i>" for i < want exactly once. */
static void ct_assert_each_once(const struct ct_rec *recs, size_t n, size_t want)
{
	unsigned char *seen = calloc(want ? want : 1, 1);

	assert_non_null(seen);
	assert_int_equal(n, want);
	for (size_t i = 0; i < n; i++) {
		int s = ct_seq(&recs[i]);

		assert_true(s >= 0 && (size_t)s < want);
		if (seen[s])
			fail_msg("message %d delivered twice", s);
		seen[s] = 1;
	}
	free(seen);
}

/* ---- the tests ---------------------------------------------------------------------- */

#define ORDER_KEYS 5
#define ORDER_PER_KEY 20

/* Per-key order: one key's messages arrive in the order they were produced. */
static void ct_order_per_key(void **state)
{
	struct ct *t = *state;
	char topic[CT_NAME_MAX], key[CT_KEY_MAX], value[CT_VALUE_MAX];
	struct broker *p = ct_client(t, "producer");
	struct broker *c = ct_client(t, "consumer");
	struct ct_rec *recs = t->recs;
	int next[ORDER_KEYS] = { 0 };
	size_t n;

	ct_topic(t, "orders", topic);
	ct_subscribe(t, c, "g", topic);
	ct_settle(t, &c, 1);
	for (int s = 0; s < ORDER_PER_KEY; s++) {
		for (int k = 0; k < ORDER_KEYS; k++) {
			snprintf(key, sizeof(key), "order-%d", k);
			snprintf(value, sizeof(value), "%d:%d", k, s);
			ct_produce(p, topic, key, value);
		}
	}
	n = ct_collect(t, &c, 1, recs, CT_RECS_MAX);
	assert_int_equal(n, ORDER_KEYS * ORDER_PER_KEY);
	for (size_t i = 0; i < n; i++) {
		int k = atoi(recs[i].value);

		assert_true(k >= 0 && k < ORDER_KEYS);
		snprintf(key, sizeof(key), "order-%d", k);
		assert_string_equal(recs[i].key, key);
		assert_int_equal(ct_seq(&recs[i]), next[k]);
		next[k]++;
	}
}

#define PART_KEYS 40

/* A key always lands on Kafka's murmur2 partition (where kafkajs puts it). */
static void ct_key_partition(void **state)
{
	struct ct *t = *state;
	char topic[CT_NAME_MAX], key[CT_KEY_MAX], value[CT_VALUE_MAX];
	struct broker *p = ct_client(t, "producer");
	struct broker *c = ct_client(t, "consumer");
	struct ct_rec *recs = t->recs;
	uint64_t used = 0;
	size_t n;

	ct_topic(t, "keys", topic);
	ct_subscribe(t, c, "g", topic);
	ct_settle(t, &c, 1);
	for (int k = 0; k < PART_KEYS; k++) {
		snprintf(key, sizeof(key), "6f1c-%d-order", k);
		snprintf(value, sizeof(value), "v:%d", k);
		ct_produce(p, topic, key, value);
	}
	n = ct_collect(t, &c, 1, recs, CT_RECS_MAX);
	ct_assert_each_once(recs, n, PART_KEYS);
	for (size_t i = 0; i < n; i++) {
		int32_t want = broker_partition_for_key(recs[i].key, recs[i].key_len,
							t->env->partitions);

		assert_string_equal(recs[i].topic, topic);
		assert_int_equal(recs[i].key_len, strlen(recs[i].key));
		assert_int_equal(recs[i].partition, want);
		assert_true(recs[i].offset >= 0);
		used |= 1ull << (recs[i].partition % 64);
	}
	/* 40 keys over >= 2 partitions: more than one partition must be in use. */
	assert_true((used & (used - 1)) != 0);
}

/* Headers, binary values (embedded NUL) and empty strings round-trip unchanged. */
static void ct_headers(void **state)
{
	struct ct *t = *state;
	char topic[CT_NAME_MAX];
	static const struct broker_header hs[] = {
		{ "eventId", "3e1f0c2a-0000-4000-8000-000000000001" },
		{ "type", "order.OrderCreated.v1" },
		{ "empty", "" },
	};
	static const char binary[] = { 'a', '\0', 'b', ':', '0' };
	struct broker *p = ct_client(t, "producer");
	struct broker *c = ct_client(t, "consumer");
	struct ct_rec r;

	ct_topic(t, "headers", topic);
	ct_subscribe(t, c, "g", topic);
	ct_settle(t, &c, 1);
	ct_produce_h(p, topic, "order-1", binary, sizeof(binary), hs, ECOM_ARRAY_LEN(hs));
	ct_produce(p, topic, "order-1", "plain:1");
	assert_int_equal(ct_poll_one(t, c, &r), ECOM_OK);
	assert_string_equal(r.key, "order-1");
	assert_int_equal(r.key_len, 7);
	assert_int_equal(r.value_len, sizeof(binary));
	assert_memory_equal(r.value, binary, sizeof(binary));
	assert_int_equal(r.n_headers, ECOM_ARRAY_LEN(hs));
	for (size_t i = 0; i < ECOM_ARRAY_LEN(hs); i++) {
		assert_string_equal(r.hkey[i], hs[i].key);
		assert_string_equal(r.hval[i], hs[i].value);
	}
	assert_int_equal(ct_poll_one(t, c, &r), ECOM_OK);
	assert_string_equal(r.value, "plain:1");
	assert_int_equal(r.n_headers, 0);
}

#define GROUPS_N 30

/* Two groups are independent: each receives every message. */
static void ct_two_groups(void **state)
{
	struct ct *t = *state;
	char topic[CT_NAME_MAX], key[CT_KEY_MAX], value[CT_VALUE_MAX];
	struct broker *p = ct_client(t, "producer");
	struct broker *c[2] = { ct_client(t, "c1"), ct_client(t, "c2") };
	struct ct_rec *recs = t->recs;
	size_t n;

	ct_topic(t, "fanout", topic);
	ct_subscribe(t, c[0], "g1", topic);
	ct_subscribe(t, c[1], "g2", topic);
	ct_settle(t, c, 2);
	for (int i = 0; i < GROUPS_N; i++) {
		snprintf(key, sizeof(key), "order-%d", i % 7);
		snprintf(value, sizeof(value), "v:%d", i);
		ct_produce(p, topic, key, value);
	}
	for (int g = 0; g < 2; g++) {
		n = ct_collect(t, &c[g], 1, recs, CT_RECS_MAX);
		ct_assert_each_once(recs, n, GROUPS_N);
	}
}

#define SPLIT_N 60
#define SPLIT_KEYS 30

/* Two members of one group split the partitions: each message once, disjoint partitions. */
static void ct_split(void **state)
{
	struct ct *t = *state;
	char topic[CT_NAME_MAX], key[CT_KEY_MAX], value[CT_VALUE_MAX];
	struct broker *p = ct_client(t, "producer");
	struct broker *c[2] = { ct_client(t, "member-a"), ct_client(t, "member-b") };
	struct ct_rec *recs = t->recs;
	int owner[64];
	size_t n, per[2] = { 0, 0 };

	assert_true(t->env->partitions <= 64);
	for (int i = 0; i < 64; i++)
		owner[i] = -1;
	ct_topic(t, "split", topic);
	ct_subscribe(t, c[0], "g", topic);
	ct_subscribe(t, c[1], "g", topic);
	ct_settle(t, c, 2);
	for (int i = 0; i < SPLIT_N; i++) {
		snprintf(key, sizeof(key), "order-%d", i % SPLIT_KEYS);
		snprintf(value, sizeof(value), "v:%d", i);
		ct_produce(p, topic, key, value);
	}
	n = ct_collect(t, c, 2, recs, CT_RECS_MAX);
	ct_assert_each_once(recs, n, SPLIT_N);
	for (size_t i = 0; i < n; i++) {
		int32_t part = recs[i].partition;

		assert_true(part >= 0 && part < t->env->partitions);
		if (owner[part] < 0)
			owner[part] = recs[i].who;
		assert_int_equal(owner[part], recs[i].who);
		per[recs[i].who]++;
	}
	assert_true(per[0] > 0 && per[1] > 0);
}

#define RESUME_N 10

/* Produces RESUME_N messages "seq:i" on one key (one partition). */
static void ct_produce_one_key(struct broker *p, const char *topic)
{
	char value[CT_VALUE_MAX];

	for (int i = 0; i < RESUME_N; i++) {
		snprintf(value, sizeof(value), "seq:%d", i);
		ct_produce(p, topic, "order-resume", value);
	}
}

/* Member A takes `take` messages and commits after the first `commit_after` of them, then
 * leaves; a new member B must receive exactly seq commit_after..RESUME_N-1, in order. */
static void ct_resume_case(struct ct *t, const char *what, int take, int commit_after)
{
	char topic[CT_NAME_MAX];
	struct broker *p = ct_client(t, "producer");
	struct broker *a = ct_client(t, "member-a");
	struct broker *b;
	struct ct_rec *recs = t->recs;
	struct ct_rec r;
	struct ecom_err err = { 0 };
	size_t n;

	ct_topic(t, what, topic);
	ct_subscribe(t, a, "g", topic);
	ct_settle(t, &a, 1);
	ct_produce_one_key(p, topic);
	for (int i = 0; i < take; i++) {
		assert_int_equal(ct_poll_one(t, a, &r), ECOM_OK);
		assert_int_equal(ct_seq(&r), i);
		if (i + 1 == commit_after)
			assert_int_equal(broker_commit(a, topic, r.partition, r.offset + 1, &err),
					 ECOM_OK);
	}
	ct_drop(t, a);
	b = ct_client(t, "member-b");
	ct_subscribe(t, b, "g", topic);
	n = ct_collect(t, &b, 1, recs, CT_RECS_MAX);
	assert_int_equal(n, RESUME_N - commit_after);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ct_seq(&recs[i]), commit_after + (int)i);
}

/* After a commit, the next owner resumes right after the committed offset. */
static void ct_commit_resume(void **state)
{
	ct_resume_case(*state, "resume", 4, 4);
}

/* What was polled but not committed is redelivered to the next owner. */
static void ct_uncommitted_redelivered(void **state)
{
	ct_resume_case(*state, "redeliver", 5, 2);
}

#define CONFLICT_N 40
#define CONFLICT_KEYS 20

/* A member that lost a partition in a rebalance cannot commit it; its owner can. */
static void ct_commit_conflict(void **state)
{
	struct ct *t = *state;
	char topic[CT_NAME_MAX], key[CT_KEY_MAX], value[CT_VALUE_MAX];
	struct broker *p = ct_client(t, "producer");
	struct broker *c[2] = { ct_client(t, "member-a"), NULL };
	struct ct_rec *recs = t->recs;
	struct ct_rec r;
	struct ecom_err err = { 0 };
	size_t n;
	int rc;

	ct_topic(t, "conflict", topic);
	ct_subscribe(t, c[0], "g", topic);
	ct_settle(t, c, 1);
	for (int i = 0; i < CONFLICT_N; i++) {
		snprintf(key, sizeof(key), "order-%d", i % CONFLICT_KEYS);
		snprintf(value, sizeof(value), "v:%d", i);
		ct_produce(p, topic, key, value);
	}
	/* Alone in the group, A owns every partition and gets everything. */
	n = ct_collect(t, c, 1, recs, CT_RECS_MAX);
	ct_assert_each_once(recs, n, CONFLICT_N);
	c[1] = ct_client(t, "member-b");
	ct_subscribe(t, c[1], "g", topic);
	ct_settle(t, c, 2);
	for (int i = 0; i < CONFLICT_N; i++) {
		snprintf(key, sizeof(key), "order-%d", i % CONFLICT_KEYS);
		snprintf(value, sizeof(value), "w:%d", i);
		ct_produce(p, topic, key, value);
	}
	/* Whatever B receives is from a partition B now owns and A therefore does not. */
	assert_int_equal(ct_poll_one(t, c[1], &r), ECOM_OK);
	rc = broker_commit(c[0], topic, r.partition, r.offset + 1, &err);
	assert_int_equal(rc, ECOM_CONFLICT);
	assert_int_equal(broker_commit(c[1], topic, r.partition, r.offset + 1, &err), ECOM_OK);
}

#define EMPTY_POLLS 3

/* Nothing produced: poll says NOT_FOUND (never blocks past its timeout). */
static void ct_poll_empty(void **state)
{
	struct ct *t = *state;
	char topic[CT_NAME_MAX];
	struct broker *c = ct_client(t, "consumer");
	struct broker_msg m;
	struct ecom_err err = { 0 };

	ct_topic(t, "empty", topic);
	ct_subscribe(t, c, "g", topic);
	ct_settle(t, &c, 1);
	for (int i = 0; i < EMPTY_POLLS; i++)
		assert_int_equal(broker_poll(c, t->env->poll_timeout_ms, &m, &err),
				 ECOM_NOT_FOUND);
}

/* 1000 messages over every partition: all consumed once, offsets rising per partition. */
static void ct_thousand(void **state)
{
	struct ct *t = *state;
	char topic[CT_NAME_MAX], key[CT_KEY_MAX], value[CT_VALUE_MAX];
	struct broker *p = ct_client(t, "producer");
	struct broker *c = ct_client(t, "consumer");
	struct ct_rec *recs = t->recs;
	int64_t last[64];
	int used = 0;
	size_t n;

	assert_true(t->env->partitions <= 64);
	for (int i = 0; i < 64; i++)
		last[i] = -1;
	ct_topic(t, "big", topic);
	ct_subscribe(t, c, "g", topic);
	ct_settle(t, &c, 1);
	for (int i = 0; i < CT_BIG_N; i++) {
		snprintf(key, sizeof(key), "order-%d", i % CT_BIG_KEYS);
		snprintf(value, sizeof(value), "v:%d", i);
		ct_produce(p, topic, key, value);
	}
	n = ct_collect(t, &c, 1, recs, CT_RECS_MAX);
	ct_assert_each_once(recs, n, CT_BIG_N);
	for (size_t i = 0; i < n; i++) {
		int32_t part = recs[i].partition;

		assert_true(part >= 0 && part < t->env->partitions);
		assert_true(recs[i].offset > last[part]);
		if (last[part] < 0)
			used++;
		last[part] = recs[i].offset;
	}
	assert_int_equal(used, t->env->partitions);
}

int broker_contract_run(const char *suite_name, const struct broker_contract_env *env)
{
	void *e = (void *)env; /* cmocka's initial state is non-const; the suite never writes */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(ct_order_per_key, ct_setup, ct_teardown, e),
		cmocka_unit_test_prestate_setup_teardown(ct_key_partition, ct_setup, ct_teardown, e),
		cmocka_unit_test_prestate_setup_teardown(ct_headers, ct_setup, ct_teardown, e),
		cmocka_unit_test_prestate_setup_teardown(ct_two_groups, ct_setup, ct_teardown, e),
		cmocka_unit_test_prestate_setup_teardown(ct_split, ct_setup, ct_teardown, e),
		cmocka_unit_test_prestate_setup_teardown(ct_commit_resume, ct_setup, ct_teardown, e),
		cmocka_unit_test_prestate_setup_teardown(ct_uncommitted_redelivered, ct_setup,
							 ct_teardown, e),
		cmocka_unit_test_prestate_setup_teardown(ct_commit_conflict, ct_setup, ct_teardown,
							 e),
		cmocka_unit_test_prestate_setup_teardown(ct_poll_empty, ct_setup, ct_teardown, e),
		cmocka_unit_test_prestate_setup_teardown(ct_thousand, ct_setup, ct_teardown, e),
	};

	ECOM_ASSERT(env && env->client && env->prefix && env->partitions >= 2);
	ECOM_ASSERT(env->idle_polls_max > 0 && env->poll_timeout_ms >= 0);
	return _cmocka_run_group_tests(suite_name, tests, ECOM_ARRAY_LEN(tests), NULL, NULL);
}
