/* test_broker_mem.c — the broker contract suite against sim/mem_broker, plus what only the
 * in-memory cluster promises: delivery delay with head-of-line blocking, hooks, generations,
 * the deterministic assignment rule, inspection functions, and same calls => same run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/broker.h"
#include "core/clock.h"
#include "core/rng.h"
#include "sim/mem_broker.h"
#include "support/broker_contract.h"

#define PARTS 6

/* ---- helpers -------------------------------------------------------------------------- */

#define FX_CLIENTS_MAX 8

/* A cluster plus the clients a test opened, so that a failed assertion still frees them. */
struct fx {
	struct manual_clock clock;
	struct mem_cluster *c;
	struct broker *clients[FX_CLIENTS_MAX];
};

static struct broker *fx_client(struct fx *f, const char *client_id)
{
	for (size_t i = 0; i < FX_CLIENTS_MAX; i++) {
		if (!f->clients[i]) {
			f->clients[i] = mem_broker_new(f->c, client_id);
			return f->clients[i];
		}
	}
	fail_msg("more than %d clients", FX_CLIENTS_MAX);
	return NULL;
}

static void fx_drop(struct fx *f, struct broker *b)
{
	for (size_t i = 0; i < FX_CLIENTS_MAX; i++) {
		if (f->clients[i] == b) {
			f->clients[i] = NULL;
			broker_destroy(b);
			return;
		}
	}
	fail_msg("unknown client");
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	manual_clock_init(&f->clock, 1767225600000);
	f->c = mem_cluster_new(PARTS, &f->clock.base);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < FX_CLIENTS_MAX; i++)
		broker_destroy(f->clients[i]);
	mem_cluster_free(f->c);
	free(f);
	return 0;
}

static void produce(struct broker *b, const char *topic, const char *key, const char *value)
{
	struct broker_record rec = {
		.topic = topic,
		.key = key,
		.key_len = key ? strlen(key) : 0,
		.value = value,
		.value_len = strlen(value),
	};

	assert_int_equal(broker_produce(b, &rec, NULL), ECOM_OK);
}

static void subscribe(struct broker *b, const char *group, const char *topic)
{
	const char *topics[1] = { topic };

	assert_int_equal(broker_subscribe(b, group, topics, 1, NULL), ECOM_OK);
}

/* A key "k<i>" that lands on `partition` of an n-partition topic, skipping `skip` hits. */
#define KEY_SEARCH_MAX 10000
static void key_for(int32_t partition, int32_t n, int skip, char out[32])
{
	for (int i = 0; i < KEY_SEARCH_MAX; i++) {
		snprintf(out, 32, "k%d", i);
		if (broker_partition_for_key(out, strlen(out), n) == partition && skip-- == 0)
			return;
	}
	fail_msg("no key for partition %d", partition);
}

/* Polls one message and checks its value. */
static void expect_msg(struct broker *b, const char *value)
{
	struct broker_msg m;

	assert_int_equal(broker_poll(b, 0, &m, NULL), ECOM_OK);
	assert_string_equal(m.value, value);
}

static void expect_empty(struct broker *b)
{
	struct broker_msg m;

	assert_int_equal(broker_poll(b, 0, &m, NULL), ECOM_NOT_FOUND);
}

/* ---- the contract, against mem_broker --------------------------------------------------- */

struct contract_env {
	struct manual_clock clock;
	struct mem_cluster *c;
	int next;
};

static struct broker *contract_client(void *arg, const char *client_id)
{
	struct contract_env *e = arg;

	return mem_broker_new(e->c, client_id);
}

static void contract_prefix(void *arg, char buf[BROKER_CONTRACT_PREFIX_MAX])
{
	struct contract_env *e = arg;

	snprintf(buf, BROKER_CONTRACT_PREFIX_MAX, "ct-%d", e->next++);
}

static int run_contract(void)
{
	struct contract_env e = { 0 };
	struct broker_contract_env env = {
		.arg = &e,
		.client = contract_client,
		.settle = NULL,
		.prefix = contract_prefix,
		.create_topic = NULL,
		.partitions = PARTS,
		.poll_timeout_ms = 0,
		.idle_polls_max = 2,
	};
	int failed;

	manual_clock_init(&e.clock, 1767225600000);
	e.c = mem_cluster_new(PARTS, &e.clock.base);
	failed = broker_contract_run("broker_contract_mem", &env);
	mem_cluster_free(e.c);
	return failed;
}

/* ---- delay and head-of-line blocking ------------------------------------------------- */

struct delay_hook {
	char topic[64];
	int32_t partition;
	int64_t offset;
	int64_t delay_us;
};

static int64_t delay_visible_at(void *arg, const char *topic, int32_t partition, int64_t offset,
				int64_t now_us)
{
	struct delay_hook *d = arg;

	if (strcmp(topic, d->topic) == 0 && partition == d->partition && offset == d->offset)
		return now_us + d->delay_us;
	return now_us;
}

static void test_delay_blocks_its_partition_only(void **state)
{
	struct fx *f = *state;
	struct delay_hook d = { .topic = "t", .offset = 0, .delay_us = 1000 };
	struct mem_cluster_hooks h = { .arg = &d, .visible_at = delay_visible_at };
	char k1[32], k2[32];
	struct broker *p = fx_client(f, "p");
	struct broker *c = fx_client(f, "c");

	key_for(1, PARTS, 0, k1);
	key_for(4, PARTS, 0, k2);
	d.partition = 1;
	mem_cluster_set_hooks(f->c, &h);
	f->clock.now_us = 5000;
	subscribe(c, "g", "t");
	produce(p, "t", k1, "delayed");
	produce(p, "t", k1, "behind");
	produce(p, "t", k2, "other");
	assert_int_equal(mem_cluster_visible_at(f->c, "t", 1, 0), 6000);
	assert_int_equal(mem_cluster_visible_at(f->c, "t", 1, 1), 5000);
	assert_int_equal(mem_cluster_visible_at(f->c, "t", 1, 2), -1);
	/* "behind" is visible itself but waits for offset 0; partition 4 proceeds. */
	expect_msg(c, "other");
	expect_empty(c);
	f->clock.now_us = 5999;
	expect_empty(c);
	f->clock.now_us = 6000;
	expect_msg(c, "delayed");
	expect_msg(c, "behind");
	expect_empty(c);
	fx_drop(f, c);
	fx_drop(f, p);
}

/* ---- hooks and generations --------------------------------------------------------------- */

#define REC_MAX 32

struct hook_log {
	int n_append;
	char append_topic[REC_MAX][16];
	int32_t append_part[REC_MAX];
	int64_t append_off[REC_MAX];
	int64_t append_vis[REC_MAX];
	int n_rebalance;
	char rebalance_group[REC_MAX][16];
	uint32_t rebalance_gen[REC_MAX];
	const struct mem_cluster *c;
	int64_t end_seen; /* end offset read from inside on_append */
};

static void log_append(void *arg, const char *topic, int32_t partition, int64_t offset,
		       int64_t visible_at_us)
{
	struct hook_log *l = arg;

	assert_true(l->n_append < REC_MAX);
	snprintf(l->append_topic[l->n_append], 16, "%s", topic);
	l->append_part[l->n_append] = partition;
	l->append_off[l->n_append] = offset;
	l->append_vis[l->n_append] = visible_at_us;
	l->n_append++;
	l->end_seen = mem_cluster_end_offset(l->c, topic, partition);
}

static void log_rebalance(void *arg, const char *group, uint32_t generation)
{
	struct hook_log *l = arg;

	assert_true(l->n_rebalance < REC_MAX);
	snprintf(l->rebalance_group[l->n_rebalance], 16, "%s", group);
	l->rebalance_gen[l->n_rebalance] = generation;
	l->n_rebalance++;
}

static void test_hooks_fire(void **state)
{
	struct fx *f = *state;
	struct hook_log l = { .c = f->c };
	struct mem_cluster_hooks h = { .arg = &l, .on_append = log_append,
				       .on_rebalance = log_rebalance };
	struct broker *a = fx_client(f, "a");
	struct broker *b = fx_client(f, "b");
	char k[32];

	mem_cluster_set_hooks(f->c, &h);
	key_for(3, PARTS, 0, k);
	f->clock.now_us = 777;
	produce(a, "t", k, "x");
	produce(a, "t", k, "y");
	produce(a, "u", NULL, "z");
	assert_int_equal(l.n_append, 3);
	assert_string_equal(l.append_topic[0], "t");
	assert_int_equal(l.append_part[0], 3);
	assert_int_equal(l.append_off[0], 0);
	assert_int_equal(l.append_off[1], 1);
	assert_int_equal(l.append_vis[1], 777);
	assert_string_equal(l.append_topic[2], "u");
	assert_int_equal(l.append_part[2], 0);
	/* The message is in the log by the time on_append runs. */
	assert_int_equal(l.end_seen, 1);

	assert_int_equal(mem_cluster_generation(f->c, "g"), 0);
	subscribe(a, "g", "t");
	subscribe(b, "g", "t");
	assert_int_equal(mem_cluster_generation(f->c, "g"), 2);
	assert_int_equal(mem_cluster_group_members(f->c, "g"), 2);
	fx_drop(f, a);
	assert_int_equal(mem_cluster_generation(f->c, "g"), 3);
	/* Moving to another group is a leave there and a join here. */
	subscribe(b, "h", "u");
	assert_int_equal(l.n_rebalance, 5);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(l.rebalance_group[i], "g");
		assert_int_equal(l.rebalance_gen[i], (uint32_t)i + 1);
	}
	assert_string_equal(l.rebalance_group[4], "h");
	assert_int_equal(l.rebalance_gen[4], 1);
	assert_int_equal(mem_cluster_group_members(f->c, "g"), 0);
	assert_int_equal(mem_cluster_group_members(f->c, "h"), 1);
	mem_cluster_set_hooks(f->c, NULL);
	produce(b, "u", NULL, "quiet");
	assert_int_equal(l.n_append, 3);
	fx_drop(f, b);
}

/* ---- assignment ------------------------------------------------------------------------ */

static void expect_owners(const struct mem_cluster *c, const char *group, const char *topic,
			  const char *const *owners, int32_t n)
{
	for (int32_t p = 0; p < n; p++) {
		const char *o = mem_cluster_owner(c, group, topic, p);

		if (!owners[p])
			assert_null(o);
		else
			assert_string_equal(o, owners[p]);
	}
}

static void test_assignment_rule(void **state)
{
	struct fx *f = *state;
	struct broker *cb = fx_client(f, "c");
	struct broker *ab = fx_client(f, "a");
	struct broker *bb = fx_client(f, "b");
	static const char *const three[PARTS] = { "a", "b", "c", "a", "b", "c" };
	static const char *const two[PARTS] = { "a", "c", "a", "c", "a", "c" };
	static const char *const none[PARTS] = { NULL };

	/* Join order c, a, b; assignment follows client_id order. */
	subscribe(cb, "g", "t");
	subscribe(ab, "g", "t");
	subscribe(bb, "g", "t");
	expect_owners(f->c, "g", "t", three, PARTS);
	fx_drop(f, bb);
	expect_owners(f->c, "g", "t", two, PARTS);
	assert_int_equal(mem_cluster_generation(f->c, "g"), 4);
	fx_drop(f, ab);
	fx_drop(f, cb);
	expect_owners(f->c, "g", "t", none, PARTS);
	assert_int_equal(mem_cluster_generation(f->c, "g"), 6);
}

static void test_differing_subscriptions(void **state)
{
	struct fx *f = *state;
	struct broker *a = fx_client(f, "a");
	struct broker *b = fx_client(f, "b");
	const char *both[2] = { "t2", "t1" };
	static const char *const t1[4] = { "a", "b", "a", "b" };
	static const char *const t2[3] = { "a", "a", "a" };
	static const char *const t2_none[3] = { NULL, NULL, NULL };

	assert_int_equal(mem_cluster_create_topic(f->c, "t1", 4), ECOM_OK);
	assert_int_equal(mem_cluster_create_topic(f->c, "t2", 3), ECOM_OK);
	assert_int_equal(broker_subscribe(a, "g", both, 2, NULL), ECOM_OK);
	subscribe(b, "g", "t1");
	expect_owners(f->c, "g", "t1", t1, 4);
	expect_owners(f->c, "g", "t2", t2, 3);
	/* b cannot commit t2 (not subscribed); a can. */
	produce(a, "t2", NULL, "m");
	assert_int_equal(broker_commit(b, "t2", 0, 1, NULL), ECOM_CONFLICT);
	assert_int_equal(broker_commit(a, "t2", 0, 1, NULL), ECOM_OK);
	/* a re-subscribes to t1 only: nobody owns t2, yet the group keeps its offsets. */
	subscribe(a, "g", "t1");
	expect_owners(f->c, "g", "t2", t2_none, 3);
	assert_int_equal(mem_cluster_committed(f->c, "g", "t2", 0), 1);
	fx_drop(f, a);
	fx_drop(f, b);
}

static void test_poll_round_robin(void **state)
{
	struct fx *f = *state;
	struct broker *p = fx_client(f, "p");
	struct broker *c = fx_client(f, "c");
	char k0[32], k2[32], k5[32];
	struct broker_msg m;
	static const int32_t want[] = { 0, 2, 5, 0, 2, 0 };

	key_for(0, PARTS, 0, k0);
	key_for(2, PARTS, 0, k2);
	key_for(5, PARTS, 0, k5);
	subscribe(c, "g", "t");
	produce(p, "t", k0, "a0");
	produce(p, "t", k0, "a1");
	produce(p, "t", k0, "a2");
	produce(p, "t", k2, "b0");
	produce(p, "t", k2, "b1");
	produce(p, "t", k5, "c0");
	for (size_t i = 0; i < ECOM_ARRAY_LEN(want); i++) {
		assert_int_equal(broker_poll(c, 0, &m, NULL), ECOM_OK);
		assert_int_equal(m.partition, want[i]);
	}
	assert_string_equal(m.value, "a2");
	assert_int_equal(m.offset, 2);
	expect_empty(c);
	/* After p0, a new message on p2 is next even though p0 got one too. */
	produce(p, "t", k0, "a3");
	produce(p, "t", k2, "b2");
	expect_msg(c, "b2");
	expect_msg(c, "a3");
	fx_drop(f, c);
	fx_drop(f, p);
}

/* Kept partitions keep their position; moved ones restart at the committed offset. */
static void test_rebalance_positions(void **state)
{
	struct fx *f = *state;
	struct broker *p = fx_client(f, "p");
	struct broker *a = fx_client(f, "a");
	struct broker *b = fx_client(f, "b");
	char k0[32], k1[32];
	struct broker_msg m;

	key_for(0, PARTS, 0, k0);
	key_for(1, PARTS, 0, k1);
	subscribe(a, "g", "t");
	produce(p, "t", k0, "p0-0");
	produce(p, "t", k0, "p0-1");
	produce(p, "t", k1, "p1-0");
	produce(p, "t", k1, "p1-1");
	expect_msg(a, "p0-0");
	expect_msg(a, "p1-0");
	/* b takes partition 1 (odd partitions); a keeps 0 at its in-memory position, although
	 * it never committed p0-0. */
	subscribe(b, "g", "t");
	assert_string_equal(mem_cluster_owner(f->c, "g", "t", 1), "b");
	assert_int_equal(broker_poll(b, 0, &m, NULL), ECOM_OK);
	assert_string_equal(m.value, "p1-0"); /* never committed: redelivered */
	assert_int_equal(broker_commit(a, "t", 1, 1, NULL), ECOM_CONFLICT);
	expect_msg(a, "p0-1");
	expect_empty(a);
	fx_drop(f, a);
	fx_drop(f, b);
	fx_drop(f, p);
}

/* ---- commits -------------------------------------------------------------------------- */

static void test_commit_rules(void **state)
{
	struct fx *f = *state;
	struct broker *p = fx_client(f, "p");
	struct broker *a = fx_client(f, "a");
	struct broker *b;
	struct broker_msg m;
	struct ecom_err err = { 0 };

	assert_int_equal(broker_commit(a, "t", 0, 0, &err), ECOM_INVALID); /* not subscribed */
	assert_int_equal(err.rc, ECOM_INVALID);
	subscribe(a, "g", "t");
	for (int i = 0; i < 5; i++)
		produce(p, "t", NULL, "m");
	assert_int_equal(broker_commit(a, "t", 0, 6, NULL), ECOM_INVALID); /* past the end */
	assert_int_equal(broker_commit(a, "nope", 0, 0, NULL), ECOM_CONFLICT);
	assert_int_equal(broker_commit(a, "t", 0, 4, NULL), ECOM_OK);
	/* A lower commit is applied as given, as in Kafka. */
	assert_int_equal(broker_commit(a, "t", 0, 2, NULL), ECOM_OK);
	assert_int_equal(mem_cluster_committed(f->c, "g", "t", 0), 2);
	assert_int_equal(mem_cluster_committed(f->c, "g", "t", 1), -1);
	assert_int_equal(mem_cluster_committed(f->c, "nope", "t", 0), -1);
	assert_int_equal(mem_cluster_group_lag(f->c, "g"), 3);
	fx_drop(f, a);
	/* The committed offset survives an empty group. */
	assert_int_equal(mem_cluster_committed(f->c, "g", "t", 0), 2);
	b = fx_client(f, "b");
	subscribe(b, "g", "t");
	assert_int_equal(broker_poll(b, 0, &m, NULL), ECOM_OK);
	assert_int_equal(m.offset, 2);
	assert_int_equal(broker_poll(b, 0, &m, NULL), ECOM_OK);
	assert_int_equal(m.offset, 3);
	fx_drop(f, b);
	fx_drop(f, p);
}

/* ---- retention ------------------------------------------------------------------------ */

static void test_retention(void **state)
{
	struct fx *f = *state;
	struct broker *p = fx_client(f, "p");
	struct broker *a = fx_client(f, "a");
	struct broker *b = fx_client(f, "b");
	struct broker_msg m;

	assert_int_equal(mem_cluster_create_topic(f->c, "t", 1), ECOM_OK);
	assert_int_equal(mem_cluster_create_topic(f->c, "t.dlq", 1), ECOM_OK);
	mem_cluster_set_retention(f->c, 2);
	subscribe(a, "g1", "t");
	subscribe(b, "g2", "t");
	for (int i = 0; i < 600; i++) {
		produce(p, "t", NULL, "m");
		produce(p, "t.dlq", NULL, "d");
	}
	/* Nothing is released before every group has committed. */
	assert_int_equal(broker_commit(a, "t", 0, 500, NULL), ECOM_OK);
	for (int i = 0; i < 200; i++)
		produce(p, "t", NULL, "m");
	assert_int_equal(mem_cluster_released(f->c), 0);
	assert_int_equal(mem_cluster_pin(f->c, "t", 0, 10), ECOM_OK);
	assert_int_equal(mem_cluster_pin(f->c, "t", 0, 900), ECOM_NOT_FOUND);
	assert_int_equal(broker_commit(b, "t", 0, 300, NULL), ECOM_OK);
	for (int i = 0; i < 256; i++) {
		produce(p, "t", NULL, "m");
		produce(p, "t.dlq", NULL, "d");
	}
	/* Below the lowest commit (300) minus 2, except the pinned one; no group reads t.dlq. */
	assert_int_equal(mem_cluster_released(f->c), 297);
	assert_int_equal(mem_cluster_read(f->c, "t", 0, 0, &m), ECOM_NOT_FOUND);
	assert_int_equal(mem_cluster_read(f->c, "t", 0, 297, &m), ECOM_NOT_FOUND);
	assert_int_equal(mem_cluster_pin(f->c, "t", 0, 297), ECOM_NOT_FOUND);
	assert_int_equal(mem_cluster_read(f->c, "t", 0, 10, &m), ECOM_OK);
	assert_string_equal(m.value, "m");
	assert_int_equal(mem_cluster_read(f->c, "t", 0, 298, &m), ECOM_OK);
	assert_int_equal(mem_cluster_read(f->c, "t.dlq", 0, 0, &m), ECOM_OK);
	assert_int_equal(mem_cluster_end_offset(f->c, "t", 0), 1056);
	/* A member that takes over starts at the committed offset, which is kept. */
	fx_drop(f, b);
	b = fx_client(f, "b2");
	subscribe(b, "g2", "t");
	assert_int_equal(broker_poll(b, 0, &m, NULL), ECOM_OK);
	assert_int_equal(m.offset, 300);
	/* Past whole pages (4,096 messages): a page with nothing left goes, one holding a
	 * pinned message stays. */
	for (int i = 0; i < 8000; i++)
		produce(p, "t", NULL, "m");
	assert_int_equal(broker_commit(a, "t", 0, 9000, NULL), ECOM_OK);
	assert_int_equal(broker_commit(b, "t", 0, 9000, NULL), ECOM_OK);
	for (int i = 0; i < 256; i++)
		produce(p, "t", NULL, "m");
	assert_int_equal(mem_cluster_released(f->c), 8997);
	assert_int_equal(mem_cluster_read(f->c, "t", 0, 10, &m), ECOM_OK);
	assert_int_equal(mem_cluster_read(f->c, "t", 0, 11, &m), ECOM_NOT_FOUND);
	assert_int_equal(mem_cluster_read(f->c, "t", 0, 5000, &m), ECOM_NOT_FOUND);
	assert_int_equal(mem_cluster_visible_at(f->c, "t", 0, 5000), -1);
	assert_int_equal(mem_cluster_pin(f->c, "t", 0, 5000), ECOM_NOT_FOUND);
	assert_int_equal(mem_cluster_read(f->c, "t", 0, 8997, &m), ECOM_NOT_FOUND);
	assert_int_equal(mem_cluster_read(f->c, "t", 0, 8998, &m), ECOM_OK);
	fx_drop(f, b);
	b = fx_client(f, "b3");
	subscribe(b, "g2", "t");
	assert_int_equal(broker_poll(b, 0, &m, NULL), ECOM_OK);
	assert_int_equal(m.offset, 9000);
	fx_drop(f, a);
	fx_drop(f, b);
	fx_drop(f, p);
}

/* ---- inspection and validation ------------------------------------------------------- */

static void test_inspection(void **state)
{
	struct fx *f = *state;
	struct broker *p = fx_client(f, "p");
	struct broker *c = fx_client(f, "c");
	const char **names = NULL;
	const char *topics[2] = { "mid", "zeta" };
	static const struct broker_header hs[] = { { "eventId", "e1" } };
	struct broker_record rec = { .topic = "mid", .key = "order-1", .key_len = 7,
				     .value = "v", .value_len = 1, .headers = hs,
				     .n_headers = 1 };
	struct broker_msg m;
	int32_t part = broker_partition_for_key("order-1", 7, 3);

	assert_int_equal(mem_cluster_topics(f->c, &names), 0);
	assert_null(names);
	assert_int_equal(mem_cluster_create_topic(f->c, "zeta", 2), ECOM_OK);
	assert_int_equal(mem_cluster_create_topic(f->c, "zeta", 2), ECOM_OK);
	assert_int_equal(mem_cluster_create_topic(f->c, "zeta", 3), ECOM_CONFLICT);
	assert_int_equal(mem_cluster_create_topic(f->c, "bad name", 3), ECOM_INVALID);
	assert_int_equal(mem_cluster_create_topic(f->c, "x", 0), ECOM_INVALID);
	assert_int_equal(mem_cluster_create_topic(f->c, "mid", 3), ECOM_OK);
	produce(p, "alpha", NULL, "a");
	assert_int_equal(broker_produce(p, &rec, NULL), ECOM_OK);
	assert_int_equal(broker_produce(p, &rec, NULL), ECOM_OK);
	rec.topic = "no/slash";
	assert_int_equal(broker_produce(p, &rec, NULL), ECOM_INVALID);

	assert_int_equal(mem_cluster_topics(f->c, &names), 3);
	assert_string_equal(names[0], "alpha");
	assert_string_equal(names[1], "mid");
	assert_string_equal(names[2], "zeta");
	free(names);
	assert_int_equal(mem_cluster_partitions(f->c, "alpha"), PARTS);
	assert_int_equal(mem_cluster_partitions(f->c, "mid"), 3);
	assert_int_equal(mem_cluster_partitions(f->c, "nope"), 0);
	assert_int_equal(mem_cluster_end_offset(f->c, "mid", part), 2);
	assert_int_equal(mem_cluster_end_offset(f->c, "mid", 99), 0);
	assert_int_equal(mem_cluster_end_offset(f->c, "nope", 0), 0);
	assert_int_equal(mem_cluster_appended(f->c), 3);

	assert_int_equal(mem_cluster_read(f->c, "mid", part, 1, &m), ECOM_OK);
	assert_string_equal(m.topic, "mid");
	assert_int_equal(m.partition, part);
	assert_int_equal(m.offset, 1);
	assert_string_equal(m.key, "order-1");
	assert_string_equal(broker_msg_header(&m, "eventId"), "e1");
	assert_int_equal(mem_cluster_read(f->c, "mid", part, 2, &m), ECOM_NOT_FOUND);
	assert_int_equal(mem_cluster_read(f->c, "nope", 0, 0, &m), ECOM_NOT_FOUND);
	/* A NULL key stays NULL and goes to partition 0. */
	assert_int_equal(mem_cluster_read(f->c, "alpha", 0, 0, &m), ECOM_OK);
	assert_null(m.key);
	assert_int_equal(m.key_len, 0);
	assert_int_equal(m.n_headers, 0);

	/* Lag: the group's topics (mid: 2 messages) minus what it committed. */
	assert_int_equal(broker_subscribe(c, "g", topics, 2, NULL), ECOM_OK);
	assert_int_equal(mem_cluster_group_lag(f->c, "g"), 2);
	assert_int_equal(broker_commit(c, "mid", part, 1, NULL), ECOM_OK);
	assert_int_equal(mem_cluster_group_lag(f->c, "g"), 1);
	assert_int_equal(mem_cluster_group_lag(f->c, "nope"), 0);
	/* Poll before subscribe is refused. */
	assert_int_equal(broker_poll(p, 0, &m, NULL), ECOM_INVALID);
	fx_drop(f, c);
	fx_drop(f, p);
}

/* ---- determinism ----------------------------------------------------------------------- */

#define SCRIPT_STEPS 4000
#define SCRIPT_CLIENTS 5

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* A seeded random script of joins, leaves, produces, polls and commits; returns a hash of
 * every delivery and every ownership, and the number of deliveries. */
static uint64_t run_script(uint64_t seed, uint64_t *deliveries)
{
	struct manual_clock clock;
	struct mem_cluster *c;
	struct delay_hook d = { .topic = "t1", .partition = 2, .offset = 3, .delay_us = 500 };
	struct mem_cluster_hooks h = { .arg = &d, .visible_at = delay_visible_at };
	struct broker *p, *cs[SCRIPT_CLIENTS] = { NULL };
	static const char *const ids[SCRIPT_CLIENTS] = { "svc-3", "svc-1", "svc-4", "svc-0",
							 "svc-2" };
	static const char *const topics[2] = { "t1", "t2" };
	struct rng r;
	uint64_t hash = 0xcbf29ce484222325ull;
	char key[32];

	*deliveries = 0;
	manual_clock_init(&clock, 0);
	c = mem_cluster_new(4, &clock.base);
	mem_cluster_set_hooks(c, &h);
	p = mem_broker_new(c, "producer");
	rng_seed(&r, seed);
	for (int step = 0; step < SCRIPT_STEPS; step++) {
		size_t i = (size_t)rng_below(&r, SCRIPT_CLIENTS);
		uint64_t op = rng_below(&r, 10);
		struct broker_msg m;

		clock.now_us += 10;
		if (op < 3) {
			snprintf(key, sizeof(key), "order-%d", (int)rng_below(&r, 50));
			produce(p, topics[rng_below(&r, 2)], key, "x");
		} else if (op == 3 && !cs[i]) {
			cs[i] = mem_broker_new(c, ids[i]);
			assert_int_equal(broker_subscribe(cs[i], "g", topics, 1 + (i % 2), NULL),
					 ECOM_OK);
		} else if (op == 4 && cs[i] && rng_chance(&r, 0.2)) {
			broker_destroy(cs[i]);
			cs[i] = NULL;
		} else if (cs[i] && broker_poll(cs[i], 0, &m, NULL) == ECOM_OK) {
			hash = fnv(hash, &i, sizeof(i));
			hash = fnv(hash, m.topic, strlen(m.topic));
			hash = fnv(hash, &m.partition, sizeof(m.partition));
			hash = fnv(hash, &m.offset, sizeof(m.offset));
			(*deliveries)++;
			if (op >= 7)
				assert_int_equal(broker_commit(cs[i], m.topic, m.partition,
							       m.offset + 1, NULL),
						 ECOM_OK);
		}
	}
	for (int t = 0; t < 2; t++) {
		for (int32_t part = 0; part < 4; part++) {
			const char *o = mem_cluster_owner(c, "g", topics[t], part);

			hash = fnv(hash, o ? o : "-", strlen(o ? o : "-"));
		}
	}
	hash = fnv(hash, &(uint64_t){ mem_cluster_appended(c) }, sizeof(uint64_t));
	for (size_t i = 0; i < SCRIPT_CLIENTS; i++)
		broker_destroy(cs[i]);
	broker_destroy(p);
	mem_cluster_free(c);
	return hash;
}

static void test_determinism(void **state)
{
	uint64_t n1, n2, n3;
	uint64_t h1 = run_script(7, &n1);
	uint64_t h2 = run_script(7, &n2);
	uint64_t h3 = run_script(8, &n3);

	(void)state;
	assert_true(n1 > 100);
	assert_int_equal(n1, n2);
	assert_int_equal(h1, h2);
	assert_true(h1 != h3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delay_blocks_its_partition_only, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_hooks_fire, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_assignment_rule, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_differing_subscriptions, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_poll_round_robin, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_rebalance_positions, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_commit_rules, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_inspection, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_retention, fx_setup, fx_teardown),
		cmocka_unit_test(test_determinism),
	};
	int failed = run_contract();

	failed += cmocka_run_group_tests_name("broker_mem", tests, NULL, NULL);
	return failed ? 1 : 0;
}
