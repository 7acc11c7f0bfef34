/* workload.c — the simulated clients: orders arriving at the scenario's rate (each with a
 * client orderId drawn from the workload stream, so a retried creation is idempotent), and
 * the scheduled admin ops, which go through the same API functions as the HTTP admin routes
 * (order_retry, order_compensate) or, for dlq_replay, republish each dead-lettered original
 * from the log with "x-replay: 1" the way the replay route does. */
#include "sim/world_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "event/jsonx.h"
#include "services/order/order.h"
#include "services/read-model/read_model.h"

#define WORKLOAD_SKU_REDRAWS_MAX 64
#define WORKLOAD_RETRY_US_LO (20 * 1000)
#define WORKLOAD_RETRY_US_HI (200 * 1000)
#define WORKLOAD_REPLAY_MAX 10000 /* originals one dlq_replay op republishes */

static int64_t workload_gap_us(struct sim_world *w)
{
	double rate = w->scn->workload.rate_per_sec;
	double gap;

	if (w->scn->workload.fixed_interval)
		gap = 1e6 / rate;
	else
		gap = -log(1.0 - rng_unit(&w->workload_rng)) / rate * 1e6;
	if (gap > 1e12)
		gap = 1e12;
	return (int64_t)gap + 1;
}

void workload_start(struct sim_world *w)
{
	if (w->scn->workload.orders <= 0)
		return;
	w->orders = ecom_xcalloc((size_t)w->scn->workload.orders, sizeof(*w->orders));
	world_push(w, workload_gap_us(w), WEV_ARRIVAL, -1, 0);
}

void workload_free(struct sim_world *w)
{
	for (int64_t i = 0; i < w->n_orders; i++)
		json_decref(w->orders[i].body);
	free(w->orders);
	w->orders = NULL;
}

/* Distinct SKU indexes into the catalog, drawn from the workload stream. */
static size_t workload_pick_skus(struct sim_world *w, size_t *idx, size_t want)
{
	size_t n_skus = w->catalog.n, n = 0;

	if (want > n_skus)
		want = n_skus;
	while (n < want) {
		size_t k = (size_t)rng_below(&w->workload_rng, n_skus);
		int dup = 1;

		for (int r = 0; dup && r < WORKLOAD_SKU_REDRAWS_MAX; r++) {
			dup = 0;
			for (size_t j = 0; j < n; j++)
				dup |= idx[j] == k;
			if (dup)
				k = (size_t)rng_below(&w->workload_rng, n_skus);
		}
		for (size_t probe = 0; dup && probe < n_skus; probe++) {
			/* give up drawing: take the next unused index */
			k = (k + 1) % n_skus;
			dup = 0;
			for (size_t j = 0; j < n; j++)
				dup |= idx[j] == k;
		}
		idx[n++] = k;
	}
	return n;
}

void workload_arrival(struct sim_world *w)
{
	const struct scenario *s = w->scn;
	struct sim_order *o;
	size_t idx[SCN_ITEMS_MAX], n;
	json_t *items;
	int64_t total = 0;

	if (w->phase != PHASE_RUN)
		return;
	/* the next arrival is scheduled only while orders remain to be created */
	ECOM_ASSERT(w->n_orders < s->workload.orders);
	o = &w->orders[w->n_orders++];
	rng_uuid(&w->workload_rng, o->id);
	n = workload_pick_skus(w, idx,
			       (size_t)rng_range(&w->workload_rng, s->workload.items.lo,
						 s->workload.items.hi));
	items = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct catalog_item *it = &w->catalog.items[idx[i]];
		int64_t qty = rng_range(&w->workload_rng, s->workload.qty.lo, s->workload.qty.hi);
		json_t *line = json_object();

		jsonx_set_str(line, "sku", it->sku);
		jsonx_set_int(line, "qty", qty);
		json_array_append_new(items, line);
		total += it->price_cents * qty;
	}
	o->body = json_object();
	jsonx_set_str(o->body, "orderId", o->id);
	jsonx_set_new(o->body, "items", items);
	jsonx_set_new(o->body, "total", money_to_json(total));
	o->total_cents = total;
	o->created_us = world_now(w);
	w->n_pending++;
	world_trace(w, "workload", "order", "#%lld %s items=%zu total=%lld",
		    (long long)w->n_orders, o->id, n, (long long)total);
	workload_create(w, w->n_orders - 1);
	if (w->n_orders < s->workload.orders)
		world_push(w, world_now(w) + workload_gap_us(w), WEV_ARRIVAL, -1, 0);
}

void workload_create(struct sim_world *w, int64_t i)
{
	struct sim_order *o = &w->orders[i];
	struct sim_instance *in;
	struct ecom_err err;
	json_t *resp = NULL;
	int rc = ECOM_UNAVAILABLE;

	/* one creation attempt is scheduled at a time, and only while the order is pending */
	ECOM_ASSERT(o->state == 0);
	o->attempts++;
	ecom_err_clear(&err);
	in = world_pick(w, SCN_SVC_ORDER, &w->rr_order);
	if (in) {
		w->current = in;
		rc = order_create(in->svc_obj, o->body, &resp, &err);
		w->current = NULL;
		json_decref(resp);
	} else {
		snprintf(err.msg, sizeof(err.msg), "no order instance is up");
	}
	world_trace(w, in ? in->name : "workload", "create", "#%lld %s %s", (long long)(i + 1),
		    o->id, ecom_rc_name(rc));
	if (in)
		world_reap(w, in);
	if (rc == ECOM_OK) {
		o->state = 1;
		w->n_accepted++;
		w->n_pending--;
	} else if (rc == ECOM_UNAVAILABLE || rc == ECOM_AMBIGUOUS) {
		if (o->attempts >= WORLD_CREATE_ATTEMPTS_MAX) {
			o->state = 3;
			w->n_gave_up++;
			w->n_pending--;
			return;
		}
		world_push(w,
			   world_now(w) + rng_range(&w->workload_rng, WORKLOAD_RETRY_US_LO,
						    WORKLOAD_RETRY_US_HI),
			   WEV_CREATE, -1, i);
	} else {
		/* The workload builds valid orders with correct totals: a refusal is a finding. */
		o->state = 2;
		w->n_rejected++;
		w->n_pending--;
		world_trace(w, "workload", "rejected", "#%lld %s: %s", (long long)(i + 1), o->id,
			    err.msg);
	}
}

/* ---- admin ops ------------------------------------------------------------------------ */

static void op_record(struct sim_world *w, const struct scn_op *op, const char *result,
		      const char *reason, json_t *extra)
{
	json_t *r = json_object();

	jsonx_set_int(r, "at_ms", op->at_ms);
	jsonx_set_str(r, "op", scn_op_name(op->kind));
	if (op->kind == SCN_OP_RETRY || op->kind == SCN_OP_COMPENSATE) {
		jsonx_set_int(r, "order", op->order);
		if (op->order >= 1 && op->order <= w->n_orders)
			jsonx_set_str(r, "orderId", w->orders[op->order - 1].id);
	}
	if (op->kind == SCN_OP_RETRY)
		jsonx_set_str(r, "step", op->step);
	if (op->kind == SCN_OP_COMPENSATE)
		jsonx_set_str(r, "action", op->action);
	if (op->kind == SCN_OP_CRASH)
		jsonx_set_str(r, "instance", op->instance);
	jsonx_set_str(r, "result", result);
	if (reason)
		jsonx_set_str(r, "reason", reason);
	if (extra)
		json_object_update(r, extra);
	json_array_append_new(w->op_results, r);
	world_trace(w, "admin", scn_op_name(op->kind), "%s%s%s", result, reason ? " " : "",
		    reason ? reason : "");
}

/* Returns 1 when the op should be retried later (the order service was unavailable). */
static int op_order_cmd(struct sim_world *w, const struct scn_op *op)
{
	struct sim_order *o;
	struct sim_instance *in;
	struct ecom_err err;
	json_t *resp = NULL;
	int rc;

	if (op->order > w->n_orders || w->orders[op->order - 1].state != 1) {
		op_record(w, op, "skipped", "the order was not created by then", NULL);
		return 0;
	}
	o = &w->orders[op->order - 1];
	in = world_pick(w, SCN_SVC_ORDER, &w->rr_order);
	if (!in)
		return 1;
	ecom_err_clear(&err);
	w->current = in;
	if (op->kind == SCN_OP_RETRY)
		rc = order_retry(in->svc_obj, o->id, op->step, &resp, &err);
	else
		rc = order_compensate(in->svc_obj, o->id, op->action, &resp, &err);
	w->current = NULL;
	world_reap(w, in);
	if (rc == ECOM_UNAVAILABLE || rc == ECOM_AMBIGUOUS) {
		json_decref(resp);
		return 1;
	}
	if (rc == ECOM_OK)
		op_record(w, op, "ok", NULL, resp);
	else
		op_record(w, op, rc == ECOM_REFUSED ? "refused" : ecom_rc_name(rc), err.msg, NULL);
	json_decref(resp);
	return 0;
}

/* Republishes one original message (read from the log) with x-replay: 1 added. */
static int op_replay_one(struct sim_world *w, const char *topic, int32_t partition,
			 int64_t offset)
{
	struct broker_header hdrs[BROKER_MAX_HEADERS];
	struct broker_record rec;
	struct broker_msg m;
	size_t n = 0;

	if (mem_cluster_read(w->cluster, topic, partition, offset, &m) != ECOM_OK)
		return ECOM_NOT_FOUND;
	for (size_t i = 0; i < m.n_headers && n < BROKER_MAX_HEADERS - 1; i++)
		if (strcmp(m.headers[i].key, RT_HDR_REPLAY) != 0)
			hdrs[n++] = m.headers[i];
	hdrs[n++] = (struct broker_header){ RT_HDR_REPLAY, "1" };
	rec = (struct broker_record){ .topic = topic, .key = m.key, .key_len = m.key_len,
				      .value = m.value, .value_len = m.value_len,
				      .headers = hdrs, .n_headers = n };
	return broker_produce(w->admin, &rec, NULL);
}

/* Tells the read model, as the HTTP replay route does (best effort: a failure here only
 * loses the bookkeeping, never the replay). */
static void op_mark_replayed(struct sim_world *w, const char *dl_id)
{
	struct sim_instance *in = world_pick(w, SCN_SVC_READ_MODEL, &w->rr_read_model);
	struct ecom_err err;
	int rc;

	if (!in)
		return;
	w->current = in;
	rc = read_model_dlq_mark_replayed(in->svc_obj, dl_id, NULL, &err);
	w->current = NULL;
	world_reap(w, in);
	if (rc != ECOM_OK)
		world_trace(w, in->name, "mark_replayed", "%s %s", dl_id, ecom_rc_name(rc));
}

static int topic_is_dlq(const char *t)
{
	size_t n = strlen(t);

	return n > 4 && strcmp(t + n - 4, ".dlq") == 0;
}

static void op_dlq_replay(struct sim_world *w, const struct scn_op *op)
{
	const char **topics = NULL;
	size_t n_topics = mem_cluster_topics(w->cluster, &topics);
	json_t *seen = json_object(), *extra;
	int64_t replayed = 0, failed = 0;
	char key[512];

	for (size_t t = 0; t < n_topics && replayed < WORKLOAD_REPLAY_MAX; t++) {
		int32_t parts = mem_cluster_partitions(w->cluster, topics[t]);

		if (!topic_is_dlq(topics[t]))
			continue;
		for (int32_t p = 0; p < parts; p++) {
			int64_t end = mem_cluster_end_offset(w->cluster, topics[t], p);

			for (int64_t off = 0; off < end && replayed < WORKLOAD_REPLAY_MAX; off++) {
				struct broker_msg m;
				const char *ot, *op_, *oo;

				if (mem_cluster_read(w->cluster, topics[t], p, off, &m) != ECOM_OK)
					continue;
				ot = broker_msg_header(&m, RT_HDR_ORIGINAL_TOPIC);
				op_ = broker_msg_header(&m, RT_HDR_ORIGINAL_PARTITION);
				oo = broker_msg_header(&m, RT_HDR_ORIGINAL_OFFSET);
				if (!ot || !op_ || !oo)
					continue;
				snprintf(key, sizeof(key), "replay:%s:%s:%s", ot, op_, oo);
				/* several groups may have dead-lettered the same original; an
				 * original replayed by an earlier op is not replayed again */
				if (json_object_get(seen, key) || !world_once(w, key))
					continue;
				json_object_set_new(seen, key, json_true());
				if (op_replay_one(w, ot, (int32_t)atoi(op_), atoll(oo)) == ECOM_OK) {
					replayed++;
					world_trace(w, "admin", "replayed", "%s", key + 7);
					op_mark_replayed(w, key + 7);
				} else {
					failed++;
				}
			}
		}
	}
	free(topics);
	json_decref(seen);
	w->n_replayed += replayed;
	extra = json_object();
	jsonx_set_int(extra, "replayed", replayed);
	if (failed)
		jsonx_set_int(extra, "failed", failed);
	op_record(w, op, "ok", NULL, extra);
	json_decref(extra);
}

void workload_op(struct sim_world *w, size_t i)
{
	const struct scn_op *op = &w->scn->ops[i];
	int again = 0, ok;

	ECOM_ASSERT(i < w->scn->n_ops);
	switch (op->kind) {
	case SCN_OP_RETRY:
	case SCN_OP_COMPENSATE:
		again = op_order_cmd(w, op);
		break;
	case SCN_OP_DLQ_REPLAY:
		op_dlq_replay(w, op);
		break;
	case SCN_OP_CRASH:
		world_crash_named(w, op->instance, &ok);
		op_record(w, op, ok ? "ok" : "skipped", ok ? NULL : "instance already down", NULL);
		break;
	}
	if (again && ++w->op_attempts[i] < WORLD_OP_ATTEMPTS_MAX) {
		w->op_state[i] = 1;
		world_push(w, world_now(w) + WORKLOAD_RETRY_US_HI, WEV_OP, -1, (int64_t)i);
		return;
	}
	if (again)
		op_record(w, op, "unavailable", "the order service stayed unavailable", NULL);
	w->op_state[i] = 2;
}
