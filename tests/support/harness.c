/* harness.c — see harness.h. */
#include "support/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mem_store.h"

#define HARNESS_STEPS_MAX 5000000L /* a runaway loop is a test failure, not a hang */

struct instance {
	char name[64];
	const struct svc_def *def;
	void *svc;
	struct runtime_config cfg;
	struct broker *client;
	struct runtime *rt;
	int64_t next_us;
	int crashed;
};

struct harness {
	struct manual_clock clock;
	struct rng rng;
	struct mem_cluster *cluster;
	struct broker *producer;
	struct {
		char name[32];
		struct store *store;
	} stores[HARNESS_STORES_MAX];
	size_t n_stores;
	struct instance inst[HARNESS_INSTANCES_MAX];
	size_t n_inst;
};

struct harness *harness_new(uint64_t seed, int32_t partitions)
{
	struct harness *h = ecom_xcalloc(1, sizeof(*h));

	manual_clock_init(&h->clock, 1767225600000LL);
	h->clock.now_us = 1000000; /* start at t=1s so "at" values are never 0 */
	rng_seed(&h->rng, seed);
	h->cluster = mem_cluster_new(partitions, &h->clock.base);
	h->producer = mem_broker_new(h->cluster, "test-producer");
	return h;
}

void harness_free(struct harness *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_inst; i++) {
		runtime_free(h->inst[i].rt);
		broker_destroy(h->inst[i].client);
	}
	broker_destroy(h->producer);
	for (size_t i = 0; i < h->n_stores; i++)
		store_destroy(h->stores[i].store);
	mem_cluster_free(h->cluster);
	free(h);
}

struct manual_clock *harness_clock(struct harness *h) { return &h->clock; }
struct mem_cluster *harness_cluster(struct harness *h) { return h->cluster; }
struct rng *harness_rng(struct harness *h) { return &h->rng; }

struct store *harness_store(struct harness *h, const char *service)
{
	for (size_t i = 0; i < h->n_stores; i++)
		if (strcmp(h->stores[i].name, service) == 0)
			return h->stores[i].store;
	ECOM_ASSERT(h->n_stores < HARNESS_STORES_MAX);
	snprintf(h->stores[h->n_stores].name, sizeof(h->stores[0].name), "%s", service);
	h->stores[h->n_stores].store = mem_store_new();
	return h->stores[h->n_stores++].store;
}

static void start(struct harness *h, struct instance *in)
{
	struct runtime_config cfg = in->cfg;

	cfg.instance = in->name;
	in->client = mem_broker_new(h->cluster, in->name);
	in->rt = runtime_new(in->def, in->svc, in->client, harness_store(h, in->def->name),
			     &h->clock.base, &h->rng, &cfg);
	ECOM_ASSERT(runtime_start(in->rt, NULL) == ECOM_OK);
	in->crashed = 0;
	in->next_us = 0;
}

struct runtime *harness_add(struct harness *h, const struct svc_def *def, void *svc,
			    const char *instance, const struct runtime_config *cfg)
{
	struct instance *in;

	ECOM_ASSERT(h->n_inst < HARNESS_INSTANCES_MAX);
	in = &h->inst[h->n_inst++];
	memset(in, 0, sizeof(*in));
	snprintf(in->name, sizeof(in->name), "%s", instance);
	in->def = def;
	in->svc = svc;
	if (cfg)
		in->cfg = *cfg;
	start(h, in);
	return in->rt;
}

void harness_crash(struct harness *h, struct runtime *rt)
{
	for (size_t i = 0; i < h->n_inst; i++) {
		struct instance *in = &h->inst[i];

		if (in->rt == rt && !in->crashed) {
			runtime_free(in->rt);
			broker_destroy(in->client);
			in->rt = NULL;
			in->client = NULL;
			in->crashed = 1;
			return;
		}
	}
	ECOM_ASSERT(!"harness_crash: no such running instance");
}

void harness_crash_named(struct harness *h, const char *instance)
{
	for (size_t i = 0; i < h->n_inst; i++)
		if (strcmp(h->inst[i].name, instance) == 0 && !h->inst[i].crashed) {
			harness_crash(h, h->inst[i].rt);
			return;
		}
	ECOM_ASSERT(!"harness_crash_named: no such running instance");
}

struct runtime *harness_restart(struct harness *h, const char *instance)
{
	for (size_t i = 0; i < h->n_inst; i++) {
		struct instance *in = &h->inst[i];

		if (strcmp(in->name, instance) == 0 && in->crashed) {
			start(h, in);
			return in->rt;
		}
	}
	ECOM_ASSERT(!"harness_restart: no such crashed instance");
	return NULL;
}

static int produce(struct harness *h, const char *topic, const char *key, const char *value,
		   json_t *headers)
{
	struct broker_header hdrs[BROKER_MAX_HEADERS];
	struct broker_record rec = {.topic = topic,
				    .key = key,
				    .key_len = key ? strlen(key) : 0,
				    .value = value,
				    .value_len = strlen(value),
				    .headers = hdrs};
	const char *k;
	json_t *v;

	json_object_foreach(headers, k, v)
	{
		if (rec.n_headers < BROKER_MAX_HEADERS && json_is_string(v)) {
			hdrs[rec.n_headers].key = k;
			hdrs[rec.n_headers++].value = json_string_value(v);
		}
	}
	return broker_produce(h->producer, &rec, NULL);
}

int harness_publish(struct harness *h, const struct envelope *e, const char *topic)
{
	char *value = envelope_serialize(e);
	int rc = produce(h, topic ? topic : event_type_name(e->type), e->key, value, e->headers);

	free(value);
	return rc;
}

int harness_publish_json(struct harness *h, enum event_type t, const char *key,
			 const char *json, struct envelope *keep)
{
	struct envelope e;
	json_t *p = json_loads(json, 0, NULL);
	int rc;

	if (!json_is_object(p)) {
		json_decref(p);
		return ECOM_INVALID;
	}
	envelope_init(&e, &h->rng, 1767225600000LL, t, key, p, NULL, NULL);
	rc = harness_publish(h, &e, NULL);
	if (keep)
		*keep = e;
	else
		envelope_deinit(&e);
	return rc;
}

int harness_publish_raw(struct harness *h, const char *topic, const char *key, const char *value)
{
	return produce(h, topic, key, value, NULL);
}

static int64_t total_lag(struct harness *h)
{
	int64_t lag = 0;

	for (size_t i = 0; i < h->n_inst; i++) {
		char group[128];

		snprintf(group, sizeof(group), "%s-service-group", h->inst[i].def->name);
		if (h->inst[i].cfg.group)
			snprintf(group, sizeof(group), "%s", h->inst[i].cfg.group);
		lag += mem_cluster_group_lag(h->cluster, group);
	}
	return lag;
}

/* One pass over every instance: returns 1 if any did work; *next = the earliest wake. */
static int pass(struct harness *h, int64_t *next)
{
	int any = 0;

	*next = INT64_MAX;
	for (size_t i = 0; i < h->n_inst; i++) {
		struct instance *in = &h->inst[i];
		int64_t n;

		if (in->crashed)
			continue;
		if (runtime_step(in->rt, &n))
			any = 1;
		if (n < *next)
			*next = n;
	}
	return any;
}

long harness_run_until_quiet(struct harness *h, int64_t max_us)
{
	int64_t end = h->clock.now_us + max_us, next;
	long steps = 0;
	int idle_passes = 0;

	while (h->clock.now_us < end && steps < HARNESS_STEPS_MAX) {
		steps++;
		if (pass(h, &next)) {
			h->clock.now_us += 100; /* every unit of work takes 100 us */
			idle_passes = 0;
			continue;
		}
		/* Idle: quiet once nothing is pending and a sweep found nothing either. */
		if (total_lag(h) == 0 && ++idle_passes >= 3)
			break;
		h->clock.now_us = next > h->clock.now_us && next < end ? next : h->clock.now_us + 1000;
	}
	ECOM_ASSERT(steps < HARNESS_STEPS_MAX);
	return steps;
}

long harness_run_for(struct harness *h, int64_t duration_us)
{
	int64_t end = h->clock.now_us + duration_us, next;
	long steps = 0;

	while (h->clock.now_us < end && steps < HARNESS_STEPS_MAX) {
		steps++;
		if (pass(h, &next)) {
			h->clock.now_us += 100;
			continue;
		}
		h->clock.now_us = next > h->clock.now_us && next <= end ? next : end;
	}
	ECOM_ASSERT(steps < HARNESS_STEPS_MAX);
	return steps;
}

int64_t harness_topic_count(struct harness *h, const char *topic)
{
	int32_t np = mem_cluster_partitions(h->cluster, topic);
	int64_t n = 0;

	for (int32_t p = 0; p < np; p++)
		n += mem_cluster_end_offset(h->cluster, topic, p);
	return n;
}

int harness_topic_get(struct harness *h, const char *topic, int64_t i, struct envelope *e)
{
	int32_t np = mem_cluster_partitions(h->cluster, topic);

	for (int32_t p = 0; p < np; p++) {
		int64_t end = mem_cluster_end_offset(h->cluster, topic, p);
		struct broker_msg m;

		if (i >= end) {
			i -= end;
			continue;
		}
		if (mem_cluster_read(h->cluster, topic, p, i, &m) != ECOM_OK)
			return ECOM_NOT_FOUND;
		return envelope_parse(m.value, m.value_len, e, NULL);
	}
	return ECOM_NOT_FOUND;
}

json_t *harness_nth_payload(struct harness *h, enum event_type type, const char *order, int n)
{
	const char *topic = event_type_name(type);
	int64_t total = harness_topic_count(h, topic);

	for (int64_t i = 0; i < total; i++) {
		struct envelope e;
		json_t *p = NULL;
		const char *id;

		if (harness_topic_get(h, topic, i, &e) != ECOM_OK)
			continue;
		id = json_string_value(json_object_get(e.payload, "orderId"));
		if (id && strcmp(id, order) == 0 && n-- == 0)
			p = json_incref(e.payload);
		envelope_deinit(&e);
		if (p)
			return p;
	}
	return NULL;
}

static const char *jsonx_str_or_empty(json_t *payload)
{
	const char *s = json_string_value(json_object_get(payload, "orderId"));

	return s ? s : "";
}

int harness_count_for_order(struct harness *h, enum event_type type, const char *order_id)
{
	const char *topic = event_type_name(type);
	int64_t n = harness_topic_count(h, topic);
	int count = 0;

	for (int64_t i = 0; i < n; i++) {
		struct envelope e;

		if (harness_topic_get(h, topic, i, &e) != ECOM_OK)
			continue;
		if (strcmp(jsonx_str_or_empty(e.payload),
			   order_id) == 0)
			count++;
		envelope_deinit(&e);
	}
	return count;
}
