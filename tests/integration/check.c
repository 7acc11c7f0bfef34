/* check.c — ecom-check: the integration tests' eyes on a real deployment. It reads the
 * services' MongoDB stores (one database per service, `<service>_service`, as `ecom serve`
 * lays them out) and evaluates the simulator's invariants on them, reports progress and
 * per-order outcomes, and lists or wipes the ecom namespace of a shared stack (the saga
 * topics, the five consumer groups, the five databases). Only `wipe` writes anything. */
#include <errno.h>
#include <stdarg.h>
#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/kafka/kafka_broker.h"
#include "backends/mongo/mongo_store.h"
#include "core/store.h"
#include "event/jsonx.h"

#define CHK_DETAILS_MAX 20          /* problem lines printed per invariant */
#define CHK_IDS_MAX 200000          /* lines read from an ids file */
#define CHK_LINE_MAX 512
#define CHK_WAIT_TOPICS_MS 30000    /* wipe: how long deleted topics may linger, all passes */
#define CHK_WIPE_PASSES 5
#define CHK_SETTLE_MS 1500          /* wipe: a deleted topic must stay deleted this long */
#define CHK_WAIT_GROUPS_MS 30000   /* wipe: how long a dead member may keep its group */
#define CHK_WAIT_STEP_MS 200
#define CHK_KAFKA_TIMEOUT_MS 10000

enum chk_svc { CHK_ORDER, CHK_INVENTORY, CHK_PAYMENT, CHK_SHIPPING, CHK_READ_MODEL, CHK_SVC_N };

static const char *const chk_dbs[CHK_SVC_N] = {
	"order_service", "inventory_service", "payment_service", "shipping_service",
	"read_model_service",
};
static const char *const chk_groups[CHK_SVC_N] = {
	"order-service-group", "inventory-service-group", "payment-service-group",
	"shipping-service-group", "read-model-service-group",
};
/* Every saga topic starts with one of these (event_type_name: "<domain>.<Type>.v1"). */
static const char *const chk_topic_prefixes[] = {
	"order.", "inventory.", "payment.", "shipping.", "ops.",
};

static const char *const chk_invariants[] = {
	"termination",          "stock_conservation", "payment_balance", "exactly_once_effects",
	"projection_convergence", "outbox_drained",   "dlq_accounting",
};
#define CHK_INV_N (sizeof(chk_invariants) / sizeof(chk_invariants[0]))

struct chk_opts {
	const char *kafka, *mongo, *ids_path, *group;
	int64_t stock; /* expected initial units per SKU; -1 = not checked */
	int dead_letters_ok;
};

/* One invariant's findings. */
struct chk_inv {
	int problems;
	char summary[256];
	char lines[CHK_DETAILS_MAX][CHK_LINE_MAX];
};

struct chk {
	struct chk_opts o;
	struct store *st[CHK_SVC_N];
	json_t *orders;      /* orderId -> order document */
	json_t *ids;         /* array of accepted ids (the ids file), or NULL */
	struct chk_inv inv[CHK_INV_N];
};

static void chk_usage(FILE *out)
{
	fprintf(out,
		"usage: ecom-check COMMAND [options]\n"
		"\n"
		"  namespace --kafka K --mongo M  what ecom data the stack holds; exit 0 iff none\n"
		"  wipe      --kafka K --mongo M  delete the saga topics (and .dlq twins), the\n"
		"                                 five consumer groups, the *_service databases\n"
		"  group     --kafka K --group G  the members of consumer group G and how many\n"
		"                                 partitions each owns\n"
		"  progress  --mongo M --ids F    terminal orders among F in the order store and\n"
		"                                 the read model; exit 0 iff all terminal in both\n"
		"  outcomes  --mongo M --ids F    one line per id of F: orderId status failedStep\n"
		"  invariants --mongo M [--ids F] [--stock N] [--dead-letters-ok]\n"
		"                                 the simulator's invariants on the real stores;\n"
		"                                 one ok/FAIL line each, a JSON summary last;\n"
		"                                 exit 1 on any violation\n"
		"\n"
		"F holds one accepted orderId per line (ecom load --ids-file). Exit 2: bad usage\n"
		"or a store/broker that does not answer.\n");
}

/* ---- small helpers ------------------------------------------------------------------- */

static void chk_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int chk_terminal(const char *st)
{
	return st && (strcmp(st, "SHIPPED") == 0 || strcmp(st, "CANCELLED") == 0);
}

static int chk_is_saga_topic(const char *name)
{
	for (size_t i = 0; i < ECOM_ARRAY_LEN(chk_topic_prefixes); i++)
		if (strncmp(name, chk_topic_prefixes[i], strlen(chk_topic_prefixes[i])) == 0)
			return 1;
	return 0;
}

static void chk_add(struct chk_inv *inv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void chk_add(struct chk_inv *inv, const char *fmt, ...)
{
	va_list ap;

	if (inv->problems < CHK_DETAILS_MAX) {
		va_start(ap, fmt);
		vsnprintf(inv->lines[inv->problems], CHK_LINE_MAX, fmt, ap);
		va_end(ap);
	}
	inv->problems++;
}

/* Reads one id per line (blank lines skipped) into a JSON array. NULL on error. */
static json_t *chk_read_ids(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[CHK_LINE_MAX];
	json_t *a;

	if (!f) {
		fprintf(stderr, "ecom-check: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	a = json_array();
	while (json_array_size(a) < CHK_IDS_MAX && fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n \t");

		line[n] = '\0';
		if (n > 0)
			json_array_append_new(a, json_string(line));
	}
	fclose(f);
	return a;
}

/* Every document of a collection, as an object keyed by _id. NULL when the store fails. */
static json_t *chk_load(struct store *s, const char *coll)
{
	struct store_query q = {.op = STORE_ALL};
	struct ecom_err err = {0};
	json_t *arr = NULL, *by_id, *d;
	size_t i;

	if (store_find(s, coll, &q, &arr, &err) != ECOM_OK) {
		fprintf(stderr, "ecom-check: reading %s: %s\n", coll, err.msg);
		return NULL;
	}
	by_id = json_object();
	json_array_foreach(arr, i, d) {
		const char *id = jsonx_str(d, "_id");

		if (id)
			json_object_set(by_id, id, d);
	}
	json_decref(arr);
	return by_id;
}

/* ---- Kafka and MongoDB administration (namespace, wipe) ---------------------------- */

static rd_kafka_t *chk_kafka_admin(const char *bootstrap)
{
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) !=
		    RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "client.id", "ecom-check", errstr, sizeof(errstr)) !=
		    RD_KAFKA_CONF_OK) {
		fprintf(stderr, "ecom-check: kafka: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "ecom-check: kafka: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* The saga topics the cluster has, one per line into out (if non-NULL); the count, or -1. */
static int chk_saga_topics(rd_kafka_t *rk, FILE *out)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e;
	int n = 0;

	e = rd_kafka_metadata(rk, 1, NULL, &md, CHK_KAFKA_TIMEOUT_MS);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "ecom-check: kafka: metadata request failed\n");
		return -1;
	}
	for (int i = 0; i < md->topic_cnt; i++) {
		if (!chk_is_saga_topic(md->topics[i].topic))
			continue;
		if (out)
			fprintf(out, "  topic %s\n", md->topics[i].topic);
		n++;
	}
	rd_kafka_metadata_destroy(md);
	return n;
}

/* Deletes the five consumer groups (absent ones are fine). 0, 1 when a group still has
 * members (a SIGKILLed member lingers until its session times out: retry), or -1. */
static int chk_delete_groups_once(rd_kafka_t *rk)
{
	rd_kafka_DeleteGroup_t *g[CHK_SVC_N];
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_event_t *ev;
	int rc = -1;

	for (int i = 0; i < CHK_SVC_N; i++)
		g[i] = rd_kafka_DeleteGroup_new(chk_groups[i]);
	rd_kafka_DeleteGroups(rk, g, CHK_SVC_N, NULL, q);
	ev = rd_kafka_queue_poll(q, CHK_KAFKA_TIMEOUT_MS * 2);
	if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DELETEGROUPS_RESULT) {
		const rd_kafka_DeleteGroups_result_t *res = rd_kafka_event_DeleteGroups_result(ev);
		size_t n = 0;
		const rd_kafka_group_result_t **gr = rd_kafka_DeleteGroups_result_groups(res, &n);

		rc = 0;
		for (size_t i = 0; i < n; i++) {
			const rd_kafka_error_t *e = rd_kafka_group_result_error(gr[i]);
			rd_kafka_resp_err_t code = e ? rd_kafka_error_code(e) : 0;

			if (!e || code == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND)
				continue;
			if (code == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP) {
				rc = rc < 0 ? rc : 1;
				continue;
			}
			fprintf(stderr, "ecom-check: delete group %s: %s\n",
				rd_kafka_group_result_name(gr[i]), rd_kafka_error_string(e));
			rc = -1;
		}
	} else {
		fprintf(stderr, "ecom-check: delete groups: no answer\n");
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	for (int i = 0; i < CHK_SVC_N; i++)
		rd_kafka_DeleteGroup_destroy(g[i]);
	return rc;
}

static int chk_delete_groups(rd_kafka_t *rk)
{
	int rc = 1;

	for (int waited = 0; rc == 1 && waited <= CHK_WAIT_GROUPS_MS; waited += CHK_WAIT_STEP_MS) {
		rc = chk_delete_groups_once(rk);
		if (rc == 1)
			chk_sleep_ms(CHK_WAIT_STEP_MS);
	}
	if (rc == 1)
		fprintf(stderr, "ecom-check: a consumer group still has members: are services of "
				"this namespace running?\n");
	return rc == 0 ? 0 : -1;
}

/* FerretDB answers "no such command" to the driver's endSessions: noise, not a finding. */
static void chk_mongo_log(mongoc_log_level_t level, const char *domain, const char *message,
			  void *arg)
{
	(void)arg;
	if (level <= MONGOC_LOG_LEVEL_ERROR)
		fprintf(stderr, "mongoc %s: %s: %s\n", mongoc_log_level_str(level), domain,
			message);
}

static mongoc_client_t *chk_mongo_client(const char *uri_text)
{
	bson_error_t e;
	mongoc_uri_t *u;
	mongoc_client_t *c;

	mongoc_init();
	mongoc_log_set_handler(chk_mongo_log, NULL);
	u = mongoc_uri_new_with_error(uri_text, &e);
	if (!u) {
		fprintf(stderr, "ecom-check: bad MongoDB URI: %s\n", e.message);
		return NULL;
	}
	if (!mongoc_uri_has_option(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
	c = mongoc_client_new_from_uri(u);
	mongoc_uri_destroy(u);
	if (c)
		mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
	return c;
}

/* The five databases that exist, printed; the count, or -1. drop: drop them too. */
static int chk_databases(mongoc_client_t *c, int drop, FILE *out)
{
	bson_error_t e;
	char **names = mongoc_client_get_database_names_with_opts(c, NULL, &e);
	int n = 0, rc = 0;

	if (!names) {
		fprintf(stderr, "ecom-check: mongo: list databases: %s\n", e.message);
		return -1;
	}
	for (int i = 0; rc == 0 && names[i]; i++) {
		for (int k = 0; k < CHK_SVC_N; k++) {
			mongoc_database_t *db;

			if (strcmp(names[i], chk_dbs[k]) != 0)
				continue;
			n++;
			if (out)
				fprintf(out, "  database %s\n", names[i]);
			if (!drop)
				continue;
			db = mongoc_client_get_database(c, names[i]);
			if (!mongoc_database_drop(db, &e)) {
				fprintf(stderr, "ecom-check: mongo: drop %s: %s\n", names[i],
					e.message);
				rc = -1;
			}
			mongoc_database_destroy(db);
		}
	}
	bson_strfreev(names);
	return rc < 0 ? -1 : n;
}

/* One line per member of the group: how many partitions it owns. */
static int chk_print_group(const rd_kafka_ConsumerGroupDescription_t *g)
{
	const rd_kafka_error_t *e = rd_kafka_ConsumerGroupDescription_error(g);
	size_t n = rd_kafka_ConsumerGroupDescription_member_count(g);

	if (e) {
		fprintf(stderr, "ecom-check: group %s: %s\n",
			rd_kafka_ConsumerGroupDescription_group_id(g), rd_kafka_error_string(e));
		return 2;
	}
	printf("group %s state %s members %zu\n", rd_kafka_ConsumerGroupDescription_group_id(g),
	       rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(g)), n);
	for (size_t i = 0; i < n; i++) {
		const rd_kafka_MemberDescription_t *m;
		const rd_kafka_MemberAssignment_t *a;
		const rd_kafka_topic_partition_list_t *parts;

		m = rd_kafka_ConsumerGroupDescription_member(g, i);
		a = rd_kafka_MemberDescription_assignment(m);
		parts = rd_kafka_MemberAssignment_partitions(a);
		printf("member %s client %s partitions %d\n",
		       rd_kafka_MemberDescription_consumer_id(m),
		       rd_kafka_MemberDescription_client_id(m), parts ? parts->cnt : 0);
	}
	return 0;
}

/* group: the members of one consumer group and their partition counts (scale-out checks). */
static int cmd_group(const struct chk_opts *o)
{
	rd_kafka_t *rk = chk_kafka_admin(o->kafka);
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	const char *groups[1] = {o->group};
	int rc = 2;

	if (!rk)
		return 2;
	q = rd_kafka_queue_new(rk);
	rd_kafka_DescribeConsumerGroups(rk, groups, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, CHK_KAFKA_TIMEOUT_MS * 2);
	if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT) {
		size_t n = 0;
		const rd_kafka_ConsumerGroupDescription_t **res =
			rd_kafka_DescribeConsumerGroups_result_groups(
				rd_kafka_event_DescribeConsumerGroups_result(ev), &n);

		if (n == 1)
			rc = chk_print_group(res[0]);
	} else {
		fprintf(stderr, "ecom-check: describe group %s: %s\n", o->group,
			ev ? rd_kafka_event_error_string(ev) : "no answer");
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

static int cmd_namespace(const struct chk_opts *o)
{
	rd_kafka_t *rk = chk_kafka_admin(o->kafka);
	mongoc_client_t *mc = chk_mongo_client(o->mongo);
	int topics = -1, dbs = -1, rc = 2;

	if (!rk || !mc)
		goto out;
	topics = chk_saga_topics(rk, stdout);
	dbs = chk_databases(mc, 0, stdout);
	if (topics < 0 || dbs < 0)
		goto out;
	printf("ecom namespace: %d saga topic(s), %d service database(s)\n", topics, dbs);
	rc = topics + dbs > 0 ? 1 : 0;
out:
	if (mc)
		mongoc_client_destroy(mc);
	if (rk)
		rd_kafka_destroy(rk);
	return rc;
}

static int chk_delete_topics(const char *bootstrap)
{
	struct ecom_err err = {0};
	struct broker *b = kafka_broker_new(bootstrap, "ecom-check", NULL, &err);
	size_t n, total = 0;
	int rc = 0;

	if (!b) {
		fprintf(stderr, "ecom-check: kafka: %s\n", err.msg);
		return -1;
	}
	for (size_t i = 0; rc == 0 && i < ECOM_ARRAY_LEN(chk_topic_prefixes); i++) {
		n = 0;
		const char *prefix = chk_topic_prefixes[i];

		if (kafka_delete_topics_with_prefix(b, prefix, &n, &err) != ECOM_OK) {
			fprintf(stderr, "ecom-check: delete topics %s*: %s\n", prefix, err.msg);
			rc = -1;
		}
		total += n;
	}
	broker_destroy(b);
	printf("wipe: deleted %zu saga topic(s)\n", total);
	return rc;
}

/* Polls until no saga topic is listed (or the pass's time is up). The count, or -1. */
static int chk_wait_topics_gone(rd_kafka_t *rk, int wait_ms)
{
	int left = -1;

	for (int waited = 0; waited <= wait_ms; waited += CHK_WAIT_STEP_MS) {
		left = chk_saga_topics(rk, NULL);
		if (left <= 0)
			break;
		chk_sleep_ms(CHK_WAIT_STEP_MS);
	}
	return left;
}

/* Deletes the saga topics until none is left. A metadata request a client sent just before
 * the deletion (e.g. from a service that was exiting) makes the broker auto-create the topic
 * again with 1 partition (auto.create.topics.enable), so a pass is repeated when a topic
 * reappears within CHK_SETTLE_MS. */
static int chk_wipe_topics(const char *bootstrap, rd_kafka_t *rk)
{
	for (int pass = 0; pass < CHK_WIPE_PASSES; pass++) {
		if (chk_delete_topics(bootstrap) != 0)
			continue;
		if (chk_wait_topics_gone(rk, CHK_WAIT_TOPICS_MS / CHK_WIPE_PASSES) != 0)
			continue;
		chk_sleep_ms(CHK_SETTLE_MS);
		if (chk_saga_topics(rk, NULL) == 0)
			return 0;
	}
	fprintf(stderr, "ecom-check: saga topics still listed after %d deletion passes\n",
		CHK_WIPE_PASSES);
	return -1;
}

static int cmd_wipe(const struct chk_opts *o)
{
	rd_kafka_t *rk = chk_kafka_admin(o->kafka);
	mongoc_client_t *mc = chk_mongo_client(o->mongo);
	int rc = 2, dropped;

	if (!rk || !mc || chk_wipe_topics(o->kafka, rk) != 0)
		goto out;
	if (chk_delete_groups(rk) != 0)
		goto out;
	dropped = chk_databases(mc, 1, NULL);
	if (dropped < 0)
		goto out;
	printf("wipe: dropped %d database(s), deleted the consumer groups\n", dropped);
	rc = 0;
out:
	if (mc)
		mongoc_client_destroy(mc);
	if (rk)
		rd_kafka_destroy(rk);
	return rc;
}

/* ---- reading the stores ---------------------------------------------------------------- */

static int chk_open(struct chk *c)
{
	struct ecom_err err = {0};

	for (int i = 0; i < CHK_SVC_N; i++) {
		c->st[i] = mongo_store_new(c->o.mongo, chk_dbs[i], &err);
		if (!c->st[i]) {
			fprintf(stderr, "ecom-check: %s\n", err.msg);
			return -1;
		}
	}
	if (c->o.ids_path) {
		c->ids = chk_read_ids(c->o.ids_path);
		if (!c->ids)
			return -1;
	}
	c->orders = chk_load(c->st[CHK_ORDER], "orders");
	return c->orders ? 0 : -1;
}

static void chk_close(struct chk *c)
{
	for (int i = 0; i < CHK_SVC_N; i++)
		store_destroy(c->st[i]);
	json_decref(c->orders);
	json_decref(c->ids);
}

static int cmd_progress(struct chk *c)
{
	json_t *proj = chk_load(c->st[CHK_READ_MODEL], "projections"), *v;
	size_t i, n = json_array_size(c->ids), term_o = 0, term_r = 0, missing = 0;

	if (!proj)
		return 2;
	json_array_foreach(c->ids, i, v) {
		const char *id = json_string_value(v);
		json_t *od = json_object_get(c->orders, id);
		json_t *pd = json_object_get(proj, id);

		missing += od == NULL;
		term_o += chk_terminal(jsonx_str(od, "status"));
		term_r += chk_terminal(jsonx_str(pd, "status"));
	}
	printf("progress: %zu accepted orders: %zu terminal in the order store, %zu in the read "
	       "model, %zu missing from the order store\n",
	       n, term_o, term_r, missing);
	json_decref(proj);
	return term_o == n && term_r == n ? 0 : 1;
}

static int cmd_outcomes(struct chk *c)
{
	json_t *v;
	size_t i;

	json_array_foreach(c->ids, i, v) {
		json_t *od = json_object_get(c->orders, json_string_value(v));

		printf("%s %s %s\n", json_string_value(v), jsonx_str_or(od, "status", "MISSING"),
		       jsonx_str_or(od, "failed_step", "-"));
	}
	return 0;
}

/* ---- invariants -------------------------------------------------------------------------- */

/* termination: every accepted id is in the order store; every order is terminal. */
static void inv_termination(struct chk *c, struct chk_inv *inv)
{
	const char *id;
	json_t *od, *v, *accepted = json_object();
	size_t i, shipped = 0, cancelled = 0, extra = 0;

	json_array_foreach(c->ids, i, v) {
		json_object_set_new(accepted, json_string_value(v), json_true());
		if (!json_object_get(c->orders, json_string_value(v)))
			chk_add(inv, "accepted order %s is not in the order store (lost)",
				json_string_value(v));
	}
	json_object_foreach(c->orders, id, od) {
		const char *st = jsonx_str(od, "status");

		shipped += st && strcmp(st, "SHIPPED") == 0;
		cancelled += st && strcmp(st, "CANCELLED") == 0;
		extra += c->ids && !json_object_get(accepted, id);
		if (!chk_terminal(st) || jsonx_bool_or(od, "stuck", 0))
			chk_add(inv, "order %s is %s%s (attempt %lld, pending step %s)", id,
				st ? st : "(no status)",
				jsonx_bool_or(od, "stuck", 0) ? ", flagged stuck" : "",
				(long long)jsonx_int_or(od, "attempt", 0),
				jsonx_str_or(od, "step", "-"));
	}
	snprintf(inv->summary, sizeof(inv->summary),
		 "%zu orders (%zu SHIPPED, %zu CANCELLED); %zu accepted ids checked, %zu orders "
		 "created without a 2xx reaching the client",
		 json_object_size(c->orders), shipped, cancelled, json_array_size(c->ids), extra);
	json_decref(accepted);
}

/* Units of SHIPPED orders per SKU. */
static json_t *chk_shipped_by_sku(struct chk *c)
{
	json_t *by = json_object(), *od, *it;
	const char *id;
	size_t i;

	json_object_foreach(c->orders, id, od) {
		if (strcmp(jsonx_str_or(od, "status", ""), "SHIPPED") != 0)
			continue;
		json_array_foreach(json_object_get(od, "items"), i, it) {
			const char *sku = jsonx_str(it, "sku");

			if (sku)
				jsonx_set_int(by, sku, jsonx_int_or(by, sku, 0) +
							       jsonx_int_or(it, "qty", 0));
		}
	}
	return by;
}

static void inv_stock_doc(struct chk *c, struct chk_inv *inv, const char *sku, const json_t *d,
			  const json_t *shipped_by)
{
	int64_t initial = jsonx_int_or(d, "initial", -1), avail = jsonx_int_or(d, "available", 0);
	int64_t held = jsonx_int_or(d, "held", 0), shipped = jsonx_int_or(d, "shipped", 0);
	int64_t want = jsonx_int_or(shipped_by, sku, 0);
	size_t holds = json_object_size(json_object_get(d, "holds"));

	if (avail + held + shipped != initial || avail < 0 || held < 0 || shipped < 0)
		chk_add(inv, "%s: initial %lld != available %lld + held %lld + shipped %lld", sku,
			(long long)initial, (long long)avail, (long long)held, (long long)shipped);
	if (c->o.stock >= 0 && initial != c->o.stock)
		chk_add(inv, "%s: initial %lld, the services were started with --stock %lld", sku,
			(long long)initial, (long long)c->o.stock);
	if (held != 0 || holds != 0)
		chk_add(inv, "%s: %lld units still held (%zu active holds) after quiescence", sku,
			(long long)held, holds);
	if (shipped != want)
		chk_add(inv, "%s: %lld units shipped but SHIPPED orders account for %lld", sku,
			(long long)shipped, (long long)want);
}

/* stock_conservation: initial = available + held + shipped; nothing held at the end;
 * shipped = the units of SHIPPED orders. */
static void inv_stock(struct chk *c, struct chk_inv *inv)
{
	json_t *stock = chk_load(c->st[CHK_INVENTORY], "stock"), *by = chk_shipped_by_sku(c), *d;
	const char *sku;
	int64_t units = 0;

	if (!stock) {
		chk_add(inv, "cannot read inventory_service.stock");
		json_decref(by);
		return;
	}
	if (json_object_size(stock) == 0)
		chk_add(inv, "no stock documents at all");
	json_object_foreach(stock, sku, d) {
		inv_stock_doc(c, inv, sku, d, by);
		units += jsonx_int_or(d, "shipped", 0);
	}
	json_object_foreach(by, sku, d) {
		if (!json_object_get(stock, sku))
			chk_add(inv, "%s: SHIPPED orders took %lld units of a SKU with no stock "
				     "document", sku, (long long)json_integer_value(d));
	}
	snprintf(inv->summary, sizeof(inv->summary),
		 "%zu SKUs balanced, %lld units shipped, nothing held", json_object_size(stock),
		 (long long)units);
	json_decref(stock);
	json_decref(by);
}

/* One order's money per its payment document. */
static void inv_payment_order(struct chk_inv *inv, const char *id, const json_t *od,
			      const json_t *pd, int64_t *charged_total)
{
	const char *st = jsonx_str_or(od, "status", "");
	int64_t total = jsonx_int_or(od, "total", 0), captured = 0, refunded = 0, want;
	int outstanding = 0;
	json_t *ch, *seen = json_object();
	size_t i;
	char key[32];

	json_array_foreach(json_object_get(pd, "charges"), i, ch) {
		int cap = strcmp(jsonx_str_or(ch, "state", ""), "captured") == 0;
		int ref = jsonx_bool_or(ch, "refunded", 0);

		snprintf(key, sizeof(key), "%lld", (long long)jsonx_int_or(ch, "attempt", -1));
		if (json_object_get(seen, key))
			chk_add(inv, "order %s: two charges for attempt %s", id, key);
		json_object_set_new(seen, key, json_true());
		captured += cap ? jsonx_int_or(ch, "amount_cents", 0) : 0;
		refunded += ref ? jsonx_int_or(ch, "refunded_cents", 0) : 0;
		outstanding += cap && !ref;
		if (cap && jsonx_int_or(ch, "amount_cents", 0) != total)
			chk_add(inv, "order %s: charged %lld cents, total %lld", id,
				(long long)jsonx_int_or(ch, "amount_cents", 0), (long long)total);
	}
	json_decref(seen);
	want = strcmp(st, "SHIPPED") == 0 ? total : 0;
	if (captured - refunded != want)
		chk_add(inv, "order %s %s: captured %lld - refunded %lld = %lld cents, "
			     "expected %lld",
			id, st, (long long)captured, (long long)refunded,
			(long long)(captured - refunded), (long long)want);
	if (outstanding > 1)
		chk_add(inv, "order %s charged twice: %d captures not refunded", id, outstanding);
	if (jsonx_int_or(od, "captured_cents", 0) - jsonx_int_or(od, "refunded_cents", 0) !=
	    captured - refunded)
		chk_add(inv, "order %s: the order records %lld - %lld cents, "
			     "the payment %lld - %lld",
			id, (long long)jsonx_int_or(od, "captured_cents", 0),
			(long long)jsonx_int_or(od, "refunded_cents", 0), (long long)captured,
			(long long)refunded);
	*charged_total += captured - refunded;
}

/* payment_balance: captured - refunded == total if SHIPPED else 0; never charged twice. */
static void inv_payment(struct chk *c, struct chk_inv *inv)
{
	json_t *pay = chk_load(c->st[CHK_PAYMENT], "payments"), *od, *pd;
	const char *id;
	int64_t net = 0;

	if (!pay) {
		chk_add(inv, "cannot read payment_service.payments");
		return;
	}
	json_object_foreach(c->orders, id, od)
		inv_payment_order(inv, id, od, json_object_get(pay, id), &net);
	json_object_foreach(pay, id, pd) {
		if (!json_object_get(c->orders, id))
			chk_add(inv, "payment %s belongs to no order", id);
	}
	snprintf(inv->summary, sizeof(inv->summary),
		 "%zu payment documents; %lld.%02lld kept for SHIPPED orders, "
		 "nothing charged twice",
		 json_object_size(pay), (long long)(net / 100), (long long)(net % 100));
	json_decref(pay);
}

/* An eventId twice in one list is an event applied twice to one aggregate. */
static void chk_unique_ids(struct chk_inv *inv, const json_t *arr, const char *field,
			   const char *what)
{
	json_t *seen = json_object(), *v;
	size_t i;

	json_array_foreach(arr, i, v) {
		const char *eid = field ? jsonx_str(v, field) : json_string_value(v);

		if (!eid || !*eid)
			continue;
		if (json_object_get(seen, eid)) {
			chk_add(inv, "%s: event %s applied twice", what, eid);
			break;
		}
		json_object_set_new(seen, eid, json_true());
	}
	json_decref(seen);
}

/* Per shipment: at most one booking per attempt; a SHIPPED order has a booked one. */
static void inv_shipments(struct chk *c, struct chk_inv *inv)
{
	json_t *ships = chk_load(c->st[CHK_SHIPPING], "shipments"), *od, *b;
	const char *id;
	size_t i;

	if (!ships) {
		chk_add(inv, "cannot read shipping_service.shipments");
		return;
	}
	json_object_foreach(c->orders, id, od) {
		json_t *sd = json_object_get(ships, id);
		int booked = 0;

		json_array_foreach(json_object_get(sd, "bookings"), i, b)
			booked += strcmp(jsonx_str_or(b, "state", ""), "booked") == 0;
		if (booked > jsonx_int_or(sd, "attempt", 0) + 1)
			chk_add(inv, "order %s: %d bookings for %lld attempt(s)", id, booked,
				(long long)jsonx_int_or(sd, "attempt", 0) + 1);
		if (strcmp(jsonx_str_or(od, "status", ""), "SHIPPED") == 0 && booked < 1)
			chk_add(inv, "order %s is SHIPPED but nothing was booked", id);
	}
	json_decref(ships);
}

/* exactly_once_effects: no eventId twice in an inbox or an order's history; one booking
 * per attempt. (Inboxes are checked with the outboxes, collection by collection.) */
static void inv_effects(struct chk *c, struct chk_inv *inv)
{
	json_t *od;
	const char *id;
	char what[300];

	json_object_foreach(c->orders, id, od) {
		snprintf(what, sizeof(what), "order %s history", id);
		chk_unique_ids(inv, json_object_get(od, "history"), "eventId", what);
	}
	inv_shipments(c, inv);
}

/* projection_convergence: the read model's status equals the order service's; each event
 * once in the timeline; no projection without an order. */
static void inv_projection(struct chk *c, struct chk_inv *inv)
{
	json_t *proj = chk_load(c->st[CHK_READ_MODEL], "projections"), *od, *pd;
	const char *id;
	char what[300];

	if (!proj) {
		chk_add(inv, "cannot read read_model_service.projections");
		return;
	}
	json_object_foreach(c->orders, id, od) {
		const char *st = jsonx_str(od, "status"), *pst;

		pd = json_object_get(proj, id);
		if (!pd) {
			chk_add(inv, "order %s (%s) has no projection", id, st ? st : "?");
			continue;
		}
		pst = jsonx_str(pd, "status");
		if (!st || !pst || strcmp(st, pst) != 0)
			chk_add(inv, "order %s: read model says %s, order service says %s", id,
				pst ? pst : "(none)", st ? st : "(none)");
		snprintf(what, sizeof(what), "projection %s timeline", id);
		chk_unique_ids(inv, json_object_get(pd, "timeline"), "eventId", what);
	}
	json_object_foreach(proj, id, pd) {
		if (!json_object_get(c->orders, id))
			chk_add(inv, "projection %s (%s) has no order", id,
				jsonx_str_or(pd, "status", "?"));
	}
	snprintf(inv->summary, sizeof(inv->summary),
		 "%zu projections, each equal to its order's status", json_object_size(proj));
	json_decref(proj);
}

/* outbox_drained over every document of every collection of the five databases, and the
 * inbox-duplicate half of exactly_once_effects on the same pass. */
static void inv_outbox(struct chk *c, struct chk_inv *inv, struct chk_inv *effects)
{
	mongoc_client_t *mc = chk_mongo_client(c->o.mongo);
	size_t docs = 0;

	if (!mc) {
		chk_add(inv, "cannot connect to list collections");
		return;
	}
	for (int s = 0; s < CHK_SVC_N; s++) {
		mongoc_database_t *db = mongoc_client_get_database(mc, chk_dbs[s]);
		bson_error_t e;
		char **names = mongoc_database_get_collection_names_with_opts(db, NULL, &e);

		for (int k = 0; names && names[k]; k++) {
			json_t *all = chk_load(c->st[s], names[k]), *d;
			const char *id;
			char what[300];

			if (!all) {
				chk_add(inv, "cannot read %s.%s", chk_dbs[s], names[k]);
				continue;
			}
			json_object_foreach(all, id, d) {
				size_t n = json_array_size(json_object_get(d, "outbox"));

				docs++;
				if (n > 0 || jsonx_int_or(d, "outbox_n", 0) > 0)
					chk_add(inv, "%s.%s/%s: %zu outbox entries left",
						chk_dbs[s], names[k], id, n);
				snprintf(what, sizeof(what), "%s.%s/%s inbox", chk_dbs[s], names[k],
					 id);
				chk_unique_ids(effects, json_object_get(d, "inbox"), NULL, what);
			}
			json_decref(all);
		}
		if (!names)
			chk_add(inv, "cannot list the collections of %s: %s", chk_dbs[s],
				e.message);
		bson_strfreev(names);
		mongoc_database_destroy(db);
	}
	mongoc_client_destroy(mc);
	snprintf(inv->summary, sizeof(inv->summary), "%zu documents in 5 databases, no outbox "
		 "entry left", docs);
}

/* dlq_accounting: no poison is injected here, so nothing may be dead-lettered. */
static void inv_dlq(struct chk *c, struct chk_inv *inv)
{
	json_t *dl = chk_load(c->st[CHK_READ_MODEL], "dead_letters"), *d;
	const char *id;

	if (!dl) {
		chk_add(inv, "cannot read read_model_service.dead_letters");
		return;
	}
	if (!c->o.dead_letters_ok) {
		json_object_foreach(dl, id, d) {
			json_t *p = json_object_get(d, "payload");

			chk_add(inv, "dead letter %s: %s", id,
				jsonx_str_or(p, "error", jsonx_str_or(d, "error", "?")));
		}
	}
	snprintf(inv->summary, sizeof(inv->summary), "%zu dead letters%s", json_object_size(dl),
		 c->o.dead_letters_ok ? " (allowed)" : "");
	json_decref(dl);
}

static int cmd_invariants(struct chk *c)
{
	json_t *sum = json_object(), *viol = json_array();
	int failed = 0;
	char *text;

	inv_termination(c, &c->inv[0]);
	inv_stock(c, &c->inv[1]);
	inv_payment(c, &c->inv[2]);
	inv_effects(c, &c->inv[3]);
	inv_projection(c, &c->inv[4]);
	inv_outbox(c, &c->inv[5], &c->inv[3]);
	inv_dlq(c, &c->inv[6]);
	snprintf(c->inv[3].summary, sizeof(c->inv[3].summary),
		 "no event applied twice to an aggregate, one booking per attempt");
	for (size_t i = 0; i < CHK_INV_N; i++) {
		struct chk_inv *inv = &c->inv[i];

		if (inv->problems == 0) {
			printf("ok   %s: %s\n", chk_invariants[i], inv->summary);
			continue;
		}
		failed++;
		printf("FAIL %s: %d problem(s)\n", chk_invariants[i], inv->problems);
		for (int k = 0; k < inv->problems && k < CHK_DETAILS_MAX; k++)
			printf("       %s\n", inv->lines[k]);
		json_array_append_new(viol, json_pack("{s:s, s:s}", "invariant", chk_invariants[i],
						      "detail", inv->lines[0]));
	}
	jsonx_set_int(sum, "orders", (int64_t)json_object_size(c->orders));
	jsonx_set_int(sum, "accepted", (int64_t)json_array_size(c->ids));
	jsonx_set_new(sum, "violations", viol);
	text = jsonx_dumps(sum);
	printf("%s\n", text);
	free(text);
	json_decref(sum);
	return failed ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------------------- */

static int chk_parse(int argc, char **argv, struct chk_opts *o)
{
	o->stock = -1;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--dead-letters-ok") == 0) {
			o->dead_letters_ok = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "ecom-check: %s needs a value\n", a);
			return -1;
		}
		if (strcmp(a, "--kafka") == 0)
			o->kafka = v;
		else if (strcmp(a, "--mongo") == 0)
			o->mongo = v;
		else if (strcmp(a, "--group") == 0)
			o->group = v;
		else if (strcmp(a, "--ids") == 0)
			o->ids_path = v;
		else if (strcmp(a, "--stock") == 0)
			o->stock = atoll(v);
		else {
			fprintf(stderr, "ecom-check: unknown option %s\n", a);
			return -1;
		}
		i++;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct chk *c;
	const char *cmd = argc > 1 ? argv[1] : "";
	int rc = 2, need_ids = strcmp(cmd, "progress") == 0 || strcmp(cmd, "outcomes") == 0;
	int admin = strcmp(cmd, "namespace") == 0 || strcmp(cmd, "wipe") == 0;

	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
		chk_usage(stdout);
		return 0;
	}
	c = ecom_xcalloc(1, sizeof(*c));
	if (strcmp(cmd, "group") == 0 && chk_parse(argc, argv, &c->o) == 0 && c->o.kafka &&
	    c->o.group) {
		rc = cmd_group(&c->o);
		goto out;
	}
	if (chk_parse(argc, argv, &c->o) != 0 || !c->o.mongo || (admin && !c->o.kafka) ||
	    (need_ids && !c->o.ids_path) ||
	    (!admin && !need_ids && strcmp(cmd, "invariants") != 0)) {
		chk_usage(stderr);
		goto out;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "namespace") == 0) {
		rc = cmd_namespace(&c->o);
		goto out;
	}
	if (strcmp(cmd, "wipe") == 0) {
		rc = cmd_wipe(&c->o);
		goto out;
	}
	if (chk_open(c) != 0)
		goto out_close;
	if (strcmp(cmd, "progress") == 0)
		rc = cmd_progress(c);
	else if (strcmp(cmd, "outcomes") == 0)
		rc = cmd_outcomes(c);
	else
		rc = cmd_invariants(c);
out_close:
	chk_close(c);
out:
	free(c);
	return rc;
}
