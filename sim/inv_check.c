/* inv_check.c — the invariant checkers (DESIGN.md §5). End-of-run checks read the quiescent
 * world: the stores directly (unfaulted), the broker log, and the simulated gateway and
 * carrier ledgers; continuous checks run after every commit of an instance and report the
 * virtual time a property first broke. They never trust a service's own counters where an
 * independent source exists (ledgers, the log). */
#include "sim/world_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "event/jsonx.h"
#include "sim/mem_store.h"

#define INV_ORDER_COLL "orders"
#define INV_STOCK_COLL "stock"
#define INV_PROJ_COLL "projections"
#define INV_DL_COLL "dead_letters"

static int inv_terminal(const char *st)
{
	return st && (strcmp(st, "SHIPPED") == 0 || strcmp(st, "CANCELLED") == 0);
}

/* ---- continuous checks ---------------------------------------------------------------- */

static void inv_stock_doc(struct sim_world *w, const json_t *doc, const char *when)
{
	const char *sku = jsonx_str(doc, "sku") ? jsonx_str(doc, "sku") : jsonx_str(doc, "_id");
	const struct catalog_item *it = catalog_find(&w->catalog, sku);
	int64_t avail = jsonx_int_or(doc, "available", 0), held = jsonx_int_or(doc, "held", 0);
	int64_t shipped = jsonx_int_or(doc, "shipped", 0);
	int64_t initial = it ? it->stock : jsonx_int_or(doc, "initial", 0);
	char key[160];

	if (avail + held + shipped != initial || avail < 0 || held < 0 || shipped < 0) {
		snprintf(key, sizeof(key), "stock:%s", sku ? sku : "?");
		if (world_once(w, key))
			inv_report_add(&w->inv, INV_STOCK_CONSERVATION,
				       "%s: initial %lld != available %lld + held %lld + shipped "
				       "%lld%s (%s t=%lldus)",
				       sku ? sku : "?", (long long)initial, (long long)avail,
				       (long long)held, (long long)shipped,
				       avail < 0 ? ", available negative" : "", when,
				       (long long)world_now(w));
	}
}

void inv_on_commit(struct sim_world *w, struct sim_instance *in, const char *collection,
		   const json_t *doc)
{
	const char *id = jsonx_str(doc, "_id");
	struct sim_ledger_entry e;
	char key[200];

	if (in->svc == SCN_SVC_INVENTORY && strcmp(collection, INV_STOCK_COLL) == 0) {
		inv_stock_doc(w, doc, "broke at commit,");
		return;
	}
	if (in->svc != SCN_SVC_PAYMENT || !id)
		return;
	if (sim_gateway_order(w->gateway, id, &e) == ECOM_OK && e.max_outstanding > 1) {
		snprintf(key, sizeof(key), "charged-twice:%s", id);
		if (world_once(w, key))
			inv_report_add(&w->inv, INV_PAYMENT_BALANCE,
				       "order %s charged twice: %d captures outstanding at once "
				       "(captured %lld cents, refunded %lld) at t=%lldus",
				       id, e.max_outstanding, (long long)e.captured_cents,
				       (long long)e.refunded_cents, (long long)world_now(w));
	}
}

/* ---- the broker log, indexed per order ------------------------------------------------- */

/* rows: every valid event of the log that names an order, each eventId once (its first
 * position in the canonical order: topics by name, partitions, offsets), sorted by (orderId,
 * that position); dl = every DLQ message as {topic, orig, error, raw?, payload?}. */
struct inv_logrow {
	const struct inv_logrec *r;
	uint32_t seq;
	uint32_t eid_h, oid_h; /* hashes of the ids: most comparisons never read the strings */
};
struct inv_log {
	struct inv_logrow *rows;
	size_t n;
	json_t *dl;
};

static int inv_is_dlq(const char *t)
{
	size_t n = strlen(t);

	return n > 4 && strcmp(t + n - 4, ".dlq") == 0;
}

static struct inv_logpart *inv_logpart_find(struct inv_logidx *x, const char *topic,
					     int32_t partition, int create)
{
	struct inv_logpart *lp;

	for (size_t i = 0; i < x->n; i++)
		if (x->parts[i].partition == partition && strcmp(x->parts[i].topic, topic) == 0)
			return &x->parts[i];
	if (!create)
		return NULL;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 32;
		x->parts = ecom_xrealloc(x->parts, x->cap * sizeof(*x->parts));
	}
	lp = &x->parts[x->n++];
	memset(lp, 0, sizeof(*lp));
	lp->topic = ecom_xstrdup(topic);
	lp->partition = partition;
	return lp;
}

static void inv_arena_push(struct inv_logidx *x, char *chunk)
{
	if (x->n_chunks == x->cap_chunks) {
		x->cap_chunks = x->cap_chunks ? x->cap_chunks * 2 : 16;
		x->chunks = ecom_xrealloc(x->chunks, x->cap_chunks * sizeof(*x->chunks));
	}
	x->chunks[x->n_chunks++] = chunk;
}

/* n bytes that live as long as the index. The last chunk is the one being filled; a large
 * request (an absurd orderId in a valid event) gets a chunk of its own, put before it. */
static char *inv_arena_take(struct inv_logidx *x, size_t n)
{
	if (n > INV_ARENA_CHUNK / 4 && x->n_chunks > 0) {
		char *own = ecom_xmalloc(n);

		inv_arena_push(x, own);
		x->chunks[x->n_chunks - 1] = x->chunks[x->n_chunks - 2];
		x->chunks[x->n_chunks - 2] = own;
		return own;
	}
	if (x->n_chunks == 0 || x->used + n > INV_ARENA_CHUNK) {
		inv_arena_push(x, ecom_xmalloc(n > INV_ARENA_CHUNK ? n : INV_ARENA_CHUNK));
		x->used = 0;
	}
	x->used += n;
	return x->chunks[x->n_chunks - 1] + x->used - n;
}

void inv_on_append(struct sim_world *w, const char *topic, int32_t partition, int64_t offset)
{
	struct inv_logpart *lp;
	struct inv_logrec *r;
	struct broker_msg m;
	struct envelope ev;
	const char *oid;

	if (inv_is_dlq(topic))
		return; /* few; the end-of-run pass reads them from the log */
	lp = inv_logpart_find(&w->logidx, topic, partition, 1);
	ECOM_ASSERT(offset == lp->n); /* a partition's log only grows at its end */
	if (lp->n == lp->cap) {
		lp->cap = lp->cap ? lp->cap * 2 : 256;
		lp->recs = ecom_xrealloc(lp->recs, (size_t)lp->cap * sizeof(*lp->recs));
	}
	r = &lp->recs[lp->n++];
	memset(r, 0, sizeof(*r));
	if (mem_cluster_read(w->cluster, topic, partition, offset, &m) != ECOM_OK ||
	    envelope_parse_shared(m.value, m.value_len, m.parsed, &ev, NULL) != ECOM_OK)
		return;
	oid = jsonx_str(ev.payload, "orderId");
	if (oid) {
		size_t lo = strlen(oid), le = strlen(ev.event_id);

		r->ids = inv_arena_take(&w->logidx, lo + le + 2);
		memcpy(r->ids, oid, lo + 1);
		memcpy(r->ids + lo + 1, ev.event_id, le + 1);
		r->type = (int)ev.type;
		r->attempt = jsonx_int_or(ev.payload, "attempt", 0);
	}
	envelope_deinit(&ev);
}

void inv_logidx_free(struct inv_logidx *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->parts[i].recs);
		free(x->parts[i].topic);
	}
	free(x->parts);
	for (size_t i = 0; i < x->n_chunks; i++)
		free(x->chunks[i]);
	free(x->chunks);
	memset(x, 0, sizeof(*x));
}

static const char *rec_oid(const struct inv_logrec *r)
{
	return r->ids;
}

static const char *rec_eid(const struct inv_logrec *r)
{
	return r->ids + strlen(r->ids) + 1;
}

static int row_seq_cmp(const struct inv_logrow *a, const struct inv_logrow *b)
{
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static uint32_t id_hash(const char *s)
{
	uint64_t h = jsonx_fnv1a(JSONX_FNV_OFFSET, s, strlen(s));

	return (uint32_t)(h ^ (h >> 32));
}

/* (hash, id): a total order on ids that groups equal ones, which is all the sorts need. */
static int id_cmp(uint32_t ha, const char *a, uint32_t hb, const char *b)
{
	if (ha != hb)
		return ha < hb ? -1 : 1;
	return strcmp(a, b);
}

static int row_by_eid(const void *pa, const void *pb)
{
	const struct inv_logrow *a = pa, *b = pb;
	int c = id_cmp(a->eid_h, rec_eid(a->r), b->eid_h, rec_eid(b->r));

	return c ? c : row_seq_cmp(a, b);
}

static int row_by_oid(const void *pa, const void *pb)
{
	const struct inv_logrow *a = pa, *b = pb;
	int c = id_cmp(a->oid_h, rec_oid(a->r), b->oid_h, rec_oid(b->r));

	return c ? c : row_seq_cmp(a, b);
}

/* The rows of order oid (in log order); *n of them. */
static const struct inv_logrow *inv_log_order(const struct inv_log *lg, const char *oid,
					      size_t *n)
{
	uint32_t h = id_hash(oid);
	size_t lo = 0, hi = lg->n, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (id_cmp(lg->rows[mid].oid_h, rec_oid(lg->rows[mid].r), h, oid) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < lg->n && lg->rows[end].oid_h == h &&
		       strcmp(rec_oid(lg->rows[end].r), oid) == 0;
	     end++)
		;
	*n = end - lo;
	return lg->rows + lo;
}

static void inv_log_dlq(struct sim_world *w, struct inv_log *lg, const struct broker_msg *m)
{
	json_t *dl = jsonx_loads(m->value, m->value_len, NULL), *p = json_object_get(dl, "payload");
	const char *ot = broker_msg_header(m, RT_HDR_ORIGINAL_TOPIC);
	const char *opart = broker_msg_header(m, RT_HDR_ORIGINAL_PARTITION);
	const char *ooff = broker_msg_header(m, RT_HDR_ORIGINAL_OFFSET);
	json_t *row = json_object();
	struct broker_msg orig;
	char pos[400];

	snprintf(pos, sizeof(pos), "%s:%s:%s", ot ? ot : "?", opart ? opart : "?",
		 ooff ? ooff : "?");
	jsonx_set_str(row, "dlq_topic", m->topic);
	jsonx_set_str(row, "orig", pos);
	jsonx_set_str(row, "error", jsonx_str(p, "error"));
	if (json_object_get(p, "raw"))
		jsonx_set_str(row, "raw", jsonx_str(p, "raw"));
	if (json_object_get(p, "payload"))
		jsonx_set_new(row, "payload", json_deep_copy(json_object_get(p, "payload")));
	if (ot && opart && ooff &&
	    mem_cluster_read(w->cluster, ot, (int32_t)atoi(opart), atoll(ooff), &orig) == ECOM_OK)
		jsonx_set_new(row, "orig_value", json_stringn(orig.value, orig.value_len));
	json_array_append_new(lg->dl, row);
	json_decref(dl);
}

static void inv_log_build(struct sim_world *w, struct inv_log *lg)
{
	const char **topics = NULL;
	size_t n = mem_cluster_topics(w->cluster, &topics), cap = 0, kept = 0;
	uint32_t seq = 0;

	lg->rows = NULL;
	lg->n = 0;
	lg->dl = json_array();
	for (size_t i = 0; i < w->logidx.n; i++)
		cap += (size_t)w->logidx.parts[i].n;
	ECOM_ASSERT(cap < UINT32_MAX); /* seq */
	if (cap)
		lg->rows = ecom_xmalloc(cap * sizeof(*lg->rows));
	for (size_t t = 0; t < n; t++) {
		int32_t parts = mem_cluster_partitions(w->cluster, topics[t]);
		int dlq = inv_is_dlq(topics[t]);

		for (int32_t p = 0; p < parts; p++) {
			int64_t end = mem_cluster_end_offset(w->cluster, topics[t], p);
			const struct inv_logpart *lp =
				dlq ? NULL : inv_logpart_find(&w->logidx, topics[t], p, 0);

			/* Every append was recorded (the hook is set before the first produce). */
			ECOM_ASSERT(dlq || end == 0 || (lp && lp->n == end));
			for (int64_t off = 0; off < end; off++) {
				struct broker_msg m;

				if (!dlq) {
					if (lp->recs[off].ids)
						lg->rows[lg->n++] = (struct inv_logrow){
							&lp->recs[off], seq++,
							id_hash(rec_eid(&lp->recs[off])),
							id_hash(rec_oid(&lp->recs[off])) };
					continue;
				}
				if (mem_cluster_read(w->cluster, topics[t], p, off, &m) == ECOM_OK)
					inv_log_dlq(w, lg, &m);
			}
		}
	}
	free(topics);
	/* Each eventId once, at its first position; then grouped by order. */
	if (lg->n)
		qsort(lg->rows, lg->n, sizeof(*lg->rows), row_by_eid);
	for (size_t i = 0; i < lg->n; i++)
		if (i == 0 || id_cmp(lg->rows[i].eid_h, rec_eid(lg->rows[i].r),
				     lg->rows[kept - 1].eid_h, rec_eid(lg->rows[kept - 1].r)) != 0)
			lg->rows[kept++] = lg->rows[i];
	lg->n = kept;
	if (lg->n)
		qsort(lg->rows, lg->n, sizeof(*lg->rows), row_by_oid);
}

/* ---- per-order checks ------------------------------------------------------------------ */

struct inv_ctx {
	struct sim_world *w;
	struct inv_log log;
	json_t *shipped_by_sku; /* sku -> units of SHIPPED orders */
	const json_t *rm_types; /* set of type names the read model consumes */
	int64_t dl_exhausted;   /* dead letters whose retries ran out (legitimate) */
};

/* What the per-order checks read of an order and of its projection. */
static const char *const inv_order_fields[] = { "status", "stuck", "total",
						"attempt", "history", "items" };
static const char *const inv_proj_fields[] = { "status", "timeline", "timeline_dropped" };

static json_t *inv_get_order(struct sim_world *w, const char *id)
{
	return mem_store_view_fields(w->stores[SCN_SVC_ORDER], INV_ORDER_COLL, id,
				     inv_order_fields, ECOM_ARRAY_LEN(inv_order_fields));
}

static json_t *inv_get(struct sim_world *w, enum scn_service s, const char *coll,
		       const char *id)
{
	/* Read-only use: a reference to the stored document, not a copy. */
	return mem_store_view(w->stores[s], coll, id);
}

static void inv_order_money(struct inv_ctx *c, const char *id, const json_t *od)
{
	struct sim_world *w = c->w;
	const char *st = jsonx_str(od, "status");
	int64_t total = jsonx_int_or(od, "total", 0), attempts = jsonx_int_or(od, "attempt", 0) + 1;
	struct sim_ledger_entry e;
	struct sim_booking_entry b;
	int64_t net;

	memset(&e, 0, sizeof(e));
	memset(&b, 0, sizeof(b));
	sim_gateway_order(w->gateway, id, &e);
	sim_carrier_order(w->carrier, id, &b);
	net = e.captured_cents - e.refunded_cents;
	/* After quiescence an order that did not ship must have its money back, whether it
	 * reached CANCELLED or not (termination reports the latter separately). */
	if (net != (st && strcmp(st, "SHIPPED") == 0 ? total : 0))
		inv_report_add(&w->inv, INV_PAYMENT_BALANCE,
			       "order %s %s: captured %lld - refunded %lld = %lld cents, expected "
			       "%lld (total %lld)",
			       id, st ? st : "(no status)", (long long)e.captured_cents,
			       (long long)e.refunded_cents, (long long)net,
			       st && strcmp(st, "SHIPPED") == 0 ? (long long)total : 0LL,
			       (long long)total);
	if (e.max_outstanding > 1) {
		char key[200];

		snprintf(key, sizeof(key), "charged-twice:%s", id);
		if (world_once(w, key))
			inv_report_add(&w->inv, INV_PAYMENT_BALANCE,
				       "order %s charged twice: %d captures outstanding at once",
				       id, e.max_outstanding);
	}
	if (e.charges > attempts)
		inv_report_add(&w->inv, INV_EXACTLY_ONCE_EFFECTS,
			       "order %s: %d distinct captures for %lld attempt(s)", id, e.charges,
			       (long long)attempts);
	if (b.bookings > attempts)
		inv_report_add(&w->inv, INV_EXACTLY_ONCE_EFFECTS,
			       "order %s: %d distinct shipments booked for %lld attempt(s)", id,
			       b.bookings, (long long)attempts);
	if (st && strcmp(st, "SHIPPED") == 0 && b.bookings < 1)
		inv_report_add(&w->inv, INV_EXACTLY_ONCE_EFFECTS,
			       "order %s is SHIPPED but the carrier booked nothing", id);
}

/* Each eventId once in the order's history; each decision made once per attempt. */
static void inv_order_effects(struct inv_ctx *c, const char *id, const json_t *od)
{
	static const char *const once_types[] = {
		"inventory.InventoryReserved.v1", "inventory.InventoryFailed.v1",
		"payment.PaymentAuthorized.v1",   "payment.PaymentFailed.v1",
		"shipping.OrderShipped.v1",       "shipping.ShippingFailed.v1",
	};
	json_t *hist = json_object_get(od, "history"), *seen = json_object(), *h;
	size_t i, n_evs;
	const struct inv_logrow *evs = inv_log_order(&c->log, id, &n_evs);

	json_array_foreach(hist, i, h) {
		const char *eid = jsonx_str(h, "eventId");

		if (!eid || !*eid)
			continue;
		if (json_object_get(seen, eid)) {
			inv_report_add(&c->w->inv, INV_EXACTLY_ONCE_EFFECTS,
				       "order %s: event %s (%s) applied twice to the order", id, eid,
				       jsonx_str_or(h, "type", "?"));
			break;
		}
		json_object_set_new(seen, eid, json_true());
	}
	json_decref(seen);
	for (size_t t = 0; t < ECOM_ARRAY_LEN(once_types); t++) {
		for (int64_t a = 0; a <= jsonx_int_or(od, "attempt", 0); a++) {
			int n = 0;

			for (size_t j = 0; j < n_evs; j++) {
				if (strcmp(event_type_name((enum event_type)evs[j].r->type),
					   once_types[t]) == 0 &&
				    evs[j].r->attempt == a)
					n++;
			}
			if (n > 1)
				inv_report_add(&c->w->inv, INV_EXACTLY_ONCE_EFFECTS,
					       "order %s: %d distinct %s events for attempt %lld "
					       "(the step decided twice)",
					       id, n, once_types[t], (long long)a);
		}
	}
}

static void inv_order_projection(struct inv_ctx *c, const char *id, const json_t *od)
{
	struct sim_world *w = c->w;
	json_t *pd = mem_store_view_fields(w->stores[SCN_SVC_READ_MODEL], INV_PROJ_COLL, id,
					   inv_proj_fields, ECOM_ARRAY_LEN(inv_proj_fields));
	json_t *tl, *seen, *e;
	size_t i, n_evs;
	const struct inv_logrow *evs = inv_log_order(&c->log, id, &n_evs);
	const char *st = jsonx_str(od, "status"), *pst;

	if (!pd) {
		inv_report_add(&w->inv, INV_PROJECTION_CONVERGENCE,
			       "order %s (%s) has no projection in the read model", id,
			       st ? st : "?");
		return;
	}
	pst = jsonx_str(pd, "status");
	if (!st || !pst || strcmp(st, pst) != 0)
		inv_report_add(&w->inv, INV_PROJECTION_CONVERGENCE,
			       "order %s: read model says %s, order service says %s", id,
			       pst ? pst : "(none)", st ? st : "(none)");
	tl = json_object_get(pd, "timeline");
	seen = json_object();
	json_array_foreach(tl, i, e) {
		const char *eid = jsonx_str(e, "eventId");

		if (!eid)
			continue;
		if (json_object_get(seen, eid))
			inv_report_add(&w->inv, INV_PROJECTION_CONVERGENCE,
				       "order %s: event %s listed twice in the timeline", id, eid);
		json_object_set_new(seen, eid, json_true());
	}
	if (jsonx_int_or(pd, "timeline_dropped", 0) == 0) {
		for (i = 0; i < n_evs; i++) {
			const char *type = event_type_name((enum event_type)evs[i].r->type);
			const char *eid = rec_eid(evs[i].r);

			if (json_object_get(c->rm_types, type) && !json_object_get(seen, eid)) {
				inv_report_add(&w->inv, INV_PROJECTION_CONVERGENCE,
					       "order %s: published %s %s missing from the timeline", id,
					       type, eid);
				break;
			}
		}
	}
	json_decref(seen);
	json_decref(pd);
}

static void inv_count_shipped(struct inv_ctx *c, const json_t *od)
{
	json_t *items = json_object_get(od, "items"), *it;
	size_t i;

	if (!jsonx_str(od, "status") || strcmp(jsonx_str(od, "status"), "SHIPPED") != 0)
		return;
	json_array_foreach(items, i, it) {
		const char *sku = jsonx_str(it, "sku");

		if (sku)
			jsonx_set_int(c->shipped_by_sku, sku,
				      jsonx_int_or(c->shipped_by_sku, sku, 0) +
					      jsonx_int_or(it, "qty", 0));
	}
}

/* Every check of one order document. idx is the workload's 0-based number of the order
 * (-1 when the workload never saw its creation succeed) and o its record (NULL then). */
static void inv_order(struct inv_ctx *c, int64_t idx, const struct sim_order *o, const char *id,
		      const json_t *od)
{
	struct sim_world *w = c->w;
	const char *st = jsonx_str(od, "status");
	char label[64];

	if (idx >= 0)
		snprintf(label, sizeof(label), "#%lld ", (long long)(idx + 1));
	else
		snprintf(label, sizeof(label), "(creation unconfirmed) ");
	if (!inv_terminal(st))
		inv_report_add(&w->inv, INV_TERMINATION, "order %s%s is %s%s at t=%lldus%s", label,
			       id, st ? st : "(no status)",
			       jsonx_bool_or(od, "stuck", 0) ? " (flagged stuck)" : "",
			       (long long)world_now(w), o ? "" : " (never acknowledged)");
	if (o && jsonx_int_or(od, "total", -1) != o->total_cents)
		inv_report_add(&w->inv, INV_PAYMENT_BALANCE,
			       "order %s: stored total %lld cents, the client sent %lld", id,
			       (long long)jsonx_int_or(od, "total", -1), (long long)o->total_cents);
	inv_order_money(c, id, od);
	inv_order_effects(c, id, od);
	inv_order_projection(c, id, od);
	inv_count_shipped(c, od);
}

static int inv_collect_id(void *arg, const char *id)
{
	json_array_append_new(arg, json_string(id));
	return 0;
}

static void inv_orders(struct inv_ctx *c)
{
	struct sim_world *w = c->w;
	json_t *accepted = json_object(), *ids = json_array(), *v;
	size_t k;

	for (int64_t i = 0; i < w->n_orders; i++) {
		const struct sim_order *o = &w->orders[i];
		json_t *od;

		if (o->state != 1)
			continue;
		json_object_set_new(accepted, o->id, json_true());
		od = inv_get_order(w, o->id);
		if (!od) {
			inv_report_add(&w->inv, INV_TERMINATION,
				       "order #%lld %s was accepted but is not in the order store",
				       (long long)(i + 1), o->id);
			continue;
		}
		inv_order(c, i, o, o->id, od);
		json_decref(od);
	}
	/* Orders in the store whose creation the client never saw succeed (it gave up after
	 * ambiguous answers) run their saga all the same and are judged the same way. */
	mem_store_foreach_id(w->stores[SCN_SVC_ORDER], INV_ORDER_COLL, inv_collect_id, ids);
	json_array_foreach(ids, k, v) {
		const char *id = json_string_value(v);
		json_t *od;

		if (json_object_get(accepted, id))
			continue;
		od = inv_get_order(w, id);
		if (od)
			inv_order(c, -1, NULL, id, od);
		json_decref(od);
	}
	json_decref(ids);
	json_decref(accepted);
}

/* ---- stock --------------------------------------------------------------------------- */

static void inv_stock(struct inv_ctx *c)
{
	struct sim_world *w = c->w;

	for (size_t i = 0; i < w->catalog.n; i++) {
		const struct catalog_item *it = &w->catalog.items[i];
		json_t *sd = inv_get(w, SCN_SVC_INVENTORY, INV_STOCK_COLL, it->sku), *holds, *h;
		int64_t shipped, want = jsonx_int_or(c->shipped_by_sku, it->sku, 0);
		const char *oid;

		if (!sd) {
			inv_report_add(&w->inv, INV_STOCK_CONSERVATION, "%s: no stock document",
				       it->sku);
			continue;
		}
		inv_stock_doc(w, sd, "at the end,");
		shipped = jsonx_int_or(sd, "shipped", 0);
		if (shipped != want)
			inv_report_add(&w->inv, INV_STOCK_CONSERVATION,
				       "%s: %lld units shipped but SHIPPED orders account for %lld",
				       it->sku, (long long)shipped, (long long)want);
		holds = json_object_get(sd, "holds");
		json_object_foreach(holds, oid, h) {
			json_t *od = inv_get_order(w, oid);

			/* a hold of an order still running is termination's finding, not ours */
			if (od && inv_terminal(jsonx_str(od, "status")))
				inv_report_add(&w->inv, INV_STOCK_CONSERVATION,
					       "%s: %lld units still held for %s order %s", it->sku,
					       (long long)jsonx_int_or(h, "qty", 0),
					       jsonx_str(od, "status"), oid);
			json_decref(od);
		}
		json_decref(sd);
	}
}

/* ---- outbox ----------------------------------------------------------------------------- */

struct inv_outbox {
	struct sim_world *w;
	const char *svc;
	const char *coll;
};

/* The runtime commits an event's effect and its eventId in the aggregate's inbox in one
 * write, so an eventId twice in one inbox is an event applied twice to that aggregate. */
static void inv_inbox_doc(struct inv_outbox *o, const json_t *doc)
{
	json_t *inbox = json_object_get(doc, "inbox"), *seen, *v;
	size_t i;

	if (json_array_size(inbox) < 2)
		return;
	seen = json_object();
	json_array_foreach(inbox, i, v) {
		const char *eid = json_string_value(v);

		if (!eid)
			continue;
		if (json_object_get(seen, eid)) {
			inv_report_add(&o->w->inv, INV_EXACTLY_ONCE_EFFECTS,
				       "%s store, %s/%s: event %s applied twice to the aggregate",
				       o->svc, o->coll, jsonx_str_or(doc, "_id", "?"), eid);
			break;
		}
		json_object_set_new(seen, eid, json_true());
	}
	json_decref(seen);
}

static const char *const inv_outbox_fields[] = { "_id", "inbox", "outbox", "outbox_n",
						 "outbox_at" };

static int inv_outbox_doc(void *arg, const json_t *doc)
{
	struct inv_outbox *o = arg;
	size_t n = json_array_size(json_object_get(doc, "outbox"));

	inv_inbox_doc(o, doc);
	if (n > 0 || jsonx_int_or(doc, "outbox_n", 0) > 0)
		inv_report_add(&o->w->inv, INV_OUTBOX_DRAINED,
			       "%s store, %s/%s: %zu outbox entries left (oldest queued at %lldus)",
			       o->svc, o->coll, jsonx_str_or(doc, "_id", "?"), n,
			       (long long)jsonx_int_or(doc, "outbox_at", 0));
	return 0;
}

static void inv_outbox(struct sim_world *w)
{
	for (int s = 0; s < SCN_SVC_COUNT; s++) {
		const char **names = NULL;
		size_t n = 0;
		struct inv_outbox o = { w, scn_service_name((enum scn_service)s), NULL };

		mem_store_collections(w->stores[s], &names, &n);
		for (size_t i = 0; i < n; i++) {
			o.coll = names[i];
			mem_store_foreach_fields(w->stores[s], names[i], inv_outbox_fields,
						 ECOM_ARRAY_LEN(inv_outbox_fields), inv_outbox_doc,
						 &o);
		}
		free(names);
	}
}

/* ---- dead letters ------------------------------------------------------------------------ */

/* The poison whose id appears in value, or NULL. Poison ids are "poison-<n>" followed by a
 * quote, so "poison-1" never matches inside "poison-12". */
static const struct sim_poison *inv_poison_in(struct sim_world *w, const char *value)
{
	const char *p = value ? strstr(value, "\"poison-") : NULL;
	char id[32];
	size_t n = 0;

	if (!p)
		return NULL;
	p++;
	while (p[n] && p[n] != '"' && n + 1 < sizeof(id)) {
		id[n] = p[n];
		n++;
	}
	id[n] = '\0';
	for (size_t i = 0; i < w->n_poison; i++)
		if (strcmp(w->poison[i].id, id) == 0)
			return &w->poison[i];
	return NULL;
}

static int inv_subscribers(struct sim_world *w, const char *topic)
{
	int n = 0;

	for (int s = 0; s < SCN_SVC_COUNT; s++)
		for (size_t i = 0; i < w->n_topics[s]; i++)
			n += strcmp(w->topics[s][i], topic) == 0;
	return n;
}

static void inv_dlq(struct inv_ctx *c)
{
	struct sim_world *w = c->w;
	size_t n_dl = json_array_size(c->log.dl), i;
	int *hits = ecom_xcalloc(w->n_poison + 1, sizeof(int));
	json_t *row;

	json_array_foreach(c->log.dl, i, row) {
		const char *orig = jsonx_str(row, "orig_value");
		const struct sim_poison *p = inv_poison_in(w, orig);
		const char *err = jsonx_str(row, "error");

		if (!p && err && strncmp(err, "gave up after", 13) == 0) {
			/* Legitimate: a transient failure (an outage) outlasted the runtime's retry
			 * budget. The saga's deadline handles the order; counted, not a violation. */
			c->dl_exhausted++;
			continue;
		}
		if (!p) {
			inv_report_add(&w->inv, INV_DLQ_ACCOUNTING,
				       "%s holds %s, which is not injected poison (error: %s)",
				       jsonx_str_or(row, "dlq_topic", "?"),
				       jsonx_str_or(row, "orig", "?"), err ? err : "(none)");
			continue;
		}
		hits[p - w->poison]++;
		if (!err || !*err)
			inv_report_add(&w->inv, INV_DLQ_ACCOUNTING,
				       "%s: dead letter of %s carries no error",
				       jsonx_str_or(row, "dlq_topic", "?"), p->id);
		if (!json_object_get(row, "raw") && !json_is_object(json_object_get(row, "payload")))
			inv_report_add(&w->inv, INV_DLQ_ACCOUNTING,
				       "%s: dead letter of %s carries neither its payload nor raw bytes",
				       jsonx_str_or(row, "dlq_topic", "?"), p->id);
	}
	for (size_t k = 0; k < w->n_poison; k++) {
		const struct sim_poison *p = &w->poison[k];
		int want = inv_subscribers(w, p->topic);

		if (hits[k] < want)
			inv_report_add(&w->inv, INV_DLQ_ACCOUNTING,
				       "%s (%s) injected on %s at t=%lldus: %d of its %d consumer "
				       "groups dead-lettered it",
				       p->id, fault_poison_kind_name(p->kind), p->topic,
				       (long long)p->at_us, hits[k], want);
	}
	(void)n_dl;
	free(hits);
}

/* Every dead letter on the topics is also in the read model's dead_letters. */
static void inv_dlq_read_model(struct inv_ctx *c)
{
	struct sim_world *w = c->w;
	json_t *row;
	size_t i;

	json_array_foreach(c->log.dl, i, row) {
		const char *pos = jsonx_str(row, "orig");
		json_t *d = pos ? inv_get(w, SCN_SVC_READ_MODEL, INV_DL_COLL, pos) : NULL;

		if (!d)
			inv_report_add(&w->inv, INV_DLQ_ACCOUNTING,
				       "dead letter of %s is on %s but not in the read model's "
				       "dead_letters",
				       pos ? pos : "?", jsonx_str_or(row, "dlq_topic", "?"));
		json_decref(d);
	}
}

void inv_check_all(struct sim_world *w, struct inv_report *r)
{
	struct inv_ctx c;
	const struct svc_def *rm = world_binding(SCN_SVC_READ_MODEL)->def();
	json_t *types = json_object();

	ECOM_ASSERT(r == &w->inv);
	memset(&c, 0, sizeof(c));
	c.w = w;
	for (size_t i = 0; i < rm->n_types; i++)
		json_object_set_new(types, event_type_name(rm->types[i]), json_true());
	c.rm_types = types;
	c.shipped_by_sku = json_object();
	inv_log_build(w, &c.log);
	inv_orders(&c);
	inv_stock(&c);
	inv_outbox(w);
	inv_dlq(&c);
	inv_dlq_read_model(&c);
	w->dl_exhausted = c.dl_exhausted;
	if (w->livelock)
		inv_report_add(r, INV_TERMINATION,
			       "livelock: virtual time stopped at t=%lldus (over %llu events at one "
			       "instant)",
			       (long long)world_now(w), (unsigned long long)WORLD_SAME_TIME_EVENTS_MAX);
	if (w->budget_exhausted)
		inv_report_add(r, INV_TERMINATION, "the run hit its budget of %llu events",
			       (unsigned long long)WORLD_EVENTS_MAX);
	json_decref(c.shipped_by_sku);
	free(c.log.rows);
	json_decref(c.log.dl);
	json_decref(types);
}
