/* report.c — the self-contained HTML report of one run (see report.h). It first folds the
 * JSONL trace into a model (orders, per-order marks, crashes, faults), attributing each
 * event to its order by causality: an instance's published events belong to the order of
 * the event it handles next (or of the order it creates, or of the timer it fires), and
 * a consumer's handled event belongs to the order of that event's id. Then it renders.
 * Nothing in the output refers to anything outside the file. */
#include "sim/report.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "event/jsonx.h"
#include "sim/coverage.h"

#define RP_ACTORS_MAX 128     /* distinct trace actors tracked (instances + world parts) */
#define RP_STRTAB_MAX 512     /* distinct event types / line kinds interned */
#define RP_FAULT_TICKS_MAX 20000
#define RP_FAULT_KINDS_MAX 32
#define RP_FAILED_MAX 100000     /* failed publishes remembered per service for the sweep */
#define RP_SWEEP_GRACE_US 1000000 /* runtime default outbox_grace_us: the sweep's minimum age */
#define RP_EVENT_LIST_SHOWN 1000 /* rows the event list renders at once (JS) */
#define RP_W 1360                /* swimlane SVG geometry, px */
#define RP_LABEL_W 250
#define RP_STATUS_W 140
#define RP_SPLIT_SHARE 0.8       /* width share of the busy part when the axis is split */
#define RP_ROW_H 14
#define RP_AXIS_H 28

enum rp_kind {
	RK_CREATED = 0,
	RK_HANDLED,
	RK_DUP,
	RK_SWEEP,
	RK_CONFLICT,
	RK_AMBIGUOUS,
	RK_FAULT,
	RK_ADMIN,
	RK_WAKE,
	RK__COUNT,
	RK_NONE = RK__COUNT /* kept for attribution, not drawn */
};

enum rp_status {
	RS_UNKNOWN = 0,
	RS_CREATED,
	RS_INVENTORY_RESERVED,
	RS_PAYMENT_AUTHORIZED,
	RS_PAYMENT_FAILED,
	RS_SHIPPING_FAILED,
	RS_RETRYING,
	RS_SHIPPED,
	RS_CANCELLED,
	RS_REJECTED,
	RS__COUNT
};

static const char *const rp_status_names[RS__COUNT] = {
	"?", "CREATED", "INVENTORY_RESERVED", "PAYMENT_AUTHORIZED", "PAYMENT_FAILED",
	"SHIPPING_FAILED", "RETRYING", "SHIPPED", "CANCELLED", "REJECTED",
};

static const char *const rp_svc_colors[SCN_SVC_COUNT + 1] = {
	"#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c8c8c", "#444444",
};

struct rp_strtab {
	char *s[RP_STRTAB_MAX];
	int n;
};

struct rp_map { /* open addressing, string -> int32; deterministic (FNV-1a) */
	char **keys;
	int32_t *vals;
	size_t cap, n;
};

struct rp_order {
	char id[37];
	int64_t num;        /* 1-based, the workload's number */
	int64_t created_us;
	enum rp_status status;
	int released, refunded, flagged, shown;
	int64_t n_marks;
};

struct rp_mark {
	int64_t t_us;
	int32_t order;  /* -1 until attributed */
	int16_t actor;
	int16_t type;   /* rp.types index, -1 none */
	uint8_t kind;
};

struct rp_actor {
	char name[SCN_INSTANCE_NAME_MAX];
	int svc;               /* enum scn_service, or SCN_SVC_COUNT for world parts */
	int32_t *pending;      /* marks published, order not yet known */
	size_t n_pending, cap_pending;
	int32_t ctx_order;     /* order of the timer just fired, valid at ctx_t */
	int64_t ctx_t;
	int32_t poll_order;    /* order named by the key of the message in hand, -1 if none */
	int ambiguous;         /* a commit for the message in hand answered "maybe applied" */
};

struct rp_line {
	int64_t t_us;
	int16_t actor, what;
	int32_t order;
	int32_t mark;   /* a publish's mark: its order may be learnt after the line */
	char *detail;
};

struct rp_fault {      /* a tick on the fault strip */
	int64_t t_us;
	int16_t actor, kind; /* kind: rp.what index */
	char *detail;
};

struct rp_fault_count {
	int16_t actor, kind;
	int64_t n, first_us, last_us;
};

struct rp {
	const struct sim_report_input *in;
	struct rp_strtab actors_tab, whats, types;
	struct rp_actor actors[RP_ACTORS_MAX];
	int n_actors;
	struct rp_order *orders;
	size_t n_orders, cap_orders;
	struct rp_map by_order_id, by_event_id;
	struct rp_mark *marks;
	size_t n_marks, cap_marks;
	uint64_t marks_dropped;
	struct rp_line *lines;
	size_t n_lines, cap_lines;
	uint64_t lines_total, lines_bad;
	struct rp_fault *ticks;
	size_t n_ticks, cap_ticks;
	struct rp_fault_count fcount[RP_FAULT_KINDS_MAX * 8];
	size_t n_fcount;
	int64_t t_max;
	int64_t t_split; /* 0: linear axis */
	size_t admin_ops; /* admin op lines seen: the k-th matches summary.ops[k] */
	int32_t line_mark; /* the mark the current line made for a publish, -1 if none */
	int32_t *failed[SCN_SVC_COUNT + 1]; /* marks of failed publishes, oldest first */
	int sweep_actor;    /* the sweep line before: who, when, which order */
	int64_t sweep_t;
	int32_t sweep_order;
	size_t n_failed[SCN_SVC_COUNT + 1], cap_failed[SCN_SVC_COUNT + 1];
	struct cov_counts cov;
};

/* ---- small containers ------------------------------------------------------------------ */

static int rp_intern(struct rp_strtab *t, const char *s)
{
	for (int i = 0; i < t->n; i++)
		if (strcmp(t->s[i], s) == 0)
			return i;
	if (t->n >= RP_STRTAB_MAX)
		return -1;
	t->s[t->n] = ecom_xstrdup(s);
	return t->n++;
}

static const char *rp_str(const struct rp_strtab *t, int i)
{
	return i >= 0 && i < t->n ? t->s[i] : "";
}

static void rp_strtab_free(struct rp_strtab *t)
{
	for (int i = 0; i < t->n; i++)
		free(t->s[i]);
	t->n = 0;
}

static uint64_t rp_hash(const char *s)
{
	return jsonx_fnv1a(JSONX_FNV_OFFSET, s, strlen(s));
}

static void rp_map_put(struct rp_map *m, const char *key, int32_t val);

static void rp_map_grow(struct rp_map *m)
{
	struct rp_map old = *m;

	m->cap = old.cap ? old.cap * 2 : 1024;
	m->keys = ecom_xcalloc(m->cap, sizeof(*m->keys));
	m->vals = ecom_xcalloc(m->cap, sizeof(*m->vals));
	m->n = 0;
	for (size_t i = 0; i < old.cap; i++) {
		if (!old.keys[i])
			continue;
		rp_map_put(m, old.keys[i], old.vals[i]);
		free(old.keys[i]);
	}
	free(old.keys);
	free(old.vals);
}

static void rp_map_put(struct rp_map *m, const char *key, int32_t val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap)
		rp_map_grow(m);
	for (i = rp_hash(key) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
		if (strcmp(m->keys[i], key) == 0) {
			m->vals[i] = val;
			return;
		}
	}
	m->keys[i] = ecom_xstrdup(key);
	m->vals[i] = val;
	m->n++;
}

static int32_t rp_map_get(const struct rp_map *m, const char *key)
{
	if (!m->cap || !key)
		return -1;
	for (size_t i = rp_hash(key) & (m->cap - 1); m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (strcmp(m->keys[i], key) == 0)
			return m->vals[i];
	return -1;
}

static void rp_map_free(struct rp_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

#define RP_PUSH(arr, n, cap)                                                                 \
	do {                                                                                 \
		if ((n) == (cap)) {                                                          \
			(cap) = (cap) ? (cap) * 2 : 256;                                     \
			(arr) = ecom_xrealloc((arr), (cap) * sizeof(*(arr)));                \
		}                                                                            \
	} while (0)

/* ---- the model ------------------------------------------------------------------------- */

static int rp_actor(struct rp *r, const char *name)
{
	int i = rp_intern(&r->actors_tab, name);
	struct rp_actor *a;
	enum scn_service svc;
	char base[SCN_INSTANCE_NAME_MAX];
	const char *hash;

	if (i < 0 || i >= RP_ACTORS_MAX)
		return -1;
	if (i < r->n_actors)
		return i;
	a = &r->actors[i];
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	hash = strchr(name, '#');
	snprintf(base, sizeof(base), "%.*s", hash ? (int)(hash - name) : (int)strlen(name), name);
	a->svc = hash && scn_service_from_name(base, &svc) == ECOM_OK ? (int)svc : SCN_SVC_COUNT;
	a->ctx_order = -1;
	a->ctx_t = -1;
	a->poll_order = -1;
	r->n_actors = i + 1;
	return i;
}

static int32_t rp_add_mark(struct rp *r, int64_t t, int32_t order, int actor, int type,
			   enum rp_kind kind)
{
	struct rp_mark *m;

	if (r->n_marks >= REPORT_MARKS_MAX) {
		r->marks_dropped++;
		return -1;
	}
	RP_PUSH(r->marks, r->n_marks, r->cap_marks);
	m = &r->marks[r->n_marks];
	*m = (struct rp_mark){ .t_us = t, .order = order, .actor = (int16_t)actor,
			       .type = (int16_t)type, .kind = (uint8_t)kind };
	if (order >= 0)
		r->orders[order].n_marks++;
	return (int32_t)r->n_marks++;
}

static void rp_attribute(struct rp *r, int32_t mark, int32_t order)
{
	if (mark < 0 || order < 0 || r->marks[mark].order >= 0)
		return;
	r->marks[mark].order = order;
	r->orders[order].n_marks++;
}

/* Everything the actor published since its last decision belongs to order. */
static void rp_flush_pending(struct rp *r, struct rp_actor *a, int32_t order)
{
	for (size_t i = 0; i < a->n_pending; i++)
		rp_attribute(r, a->pending[i], order);
	a->n_pending = 0;
}

/* "<type> <id>" -> type index and a pointer to id (or "" if none). */
static const char *rp_split_type(struct rp *r, const char *detail, int *type)
{
	const char *sp = strchr(detail, ' ');
	char buf[128];

	snprintf(buf, sizeof(buf), "%.*s", sp ? (int)(sp - detail) : (int)strlen(detail), detail);
	*type = strcmp(buf, "-") == 0 ? -1 : rp_intern(&r->types, buf);
	return sp ? sp + 1 : "";
}

static int rp_is_uuid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static int32_t rp_new_order(struct rp *r, int64_t num, const char *id, int64_t t)
{
	struct rp_order *o;
	int32_t idx = rp_map_get(&r->by_order_id, id);

	if (idx >= 0)
		return idx;
	RP_PUSH(r->orders, r->n_orders, r->cap_orders);
	o = &r->orders[r->n_orders];
	memset(o, 0, sizeof(*o));
	snprintf(o->id, sizeof(o->id), "%s", id);
	o->num = num;
	o->created_us = t;
	o->status = RS_CREATED;
	rp_map_put(&r->by_order_id, id, (int32_t)r->n_orders);
	return (int32_t)r->n_orders++;
}

/* The order service's view, folded from the events it handled (attempts ignored). */
static void rp_fold_status(struct rp_order *o, const char *type)
{
	static const struct {
		const char *type;
		enum rp_status to;
	} steps[] = {
		{ "inventory.InventoryReserved.v1", RS_INVENTORY_RESERVED },
		{ "inventory.InventoryFailed.v1", RS_CANCELLED },
		{ "payment.PaymentAuthorized.v1", RS_PAYMENT_AUTHORIZED },
		{ "payment.PaymentFailed.v1", RS_PAYMENT_FAILED },
		{ "shipping.OrderShipped.v1", RS_SHIPPED },
		{ "shipping.ShippingFailed.v1", RS_SHIPPING_FAILED },
	};

	if (strcmp(type, "inventory.InventoryReleased.v1") == 0)
		o->released = 1;
	else if (strcmp(type, "payment.PaymentRefunded.v1") == 0)
		o->refunded = 1;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(steps); i++) {
		if (strcmp(type, steps[i].type) != 0)
			continue;
		if (o->status == RS_SHIPPED || o->status == RS_CANCELLED)
			break; /* terminal until an admin retry */
		if (steps[i].to > o->status || steps[i].to == RS_CANCELLED ||
		    steps[i].to == RS_SHIPPED || o->status == RS_RETRYING)
			o->status = steps[i].to;
		break;
	}
	if (o->status == RS_PAYMENT_FAILED && o->released)
		o->status = RS_CANCELLED;
	if (o->status == RS_SHIPPING_FAILED && o->released && o->refunded)
		o->status = RS_CANCELLED;
}

static void rp_on_workload(struct rp *r, int64_t t, const char *what, const char *detail,
			   int32_t *order)
{
	long long num = 0;
	char id[40] = "";

	if (sscanf(detail, "#%lld %36s", &num, id) != 2)
		return;
	if (strcmp(what, "order") == 0) {
		*order = rp_new_order(r, num, id, t);
	} else if (strcmp(what, "rejected") == 0) {
		*order = rp_map_get(&r->by_order_id, id);
		if (*order >= 0)
			r->orders[*order].status = RS_REJECTED;
	}
}

static void rp_on_admin(struct rp *r, int64_t t, const char *what, const char *detail,
			int32_t *order)
{
	const json_t *ops = json_object_get(r->in->summary, "ops");
	const json_t *op;

	if (strcmp(what, "retry") && strcmp(what, "compensate") && strcmp(what, "dlq_replay") &&
	    strcmp(what, "crash"))
		return;
	op = json_array_get(ops, r->admin_ops++);
	*order = rp_map_get(&r->by_order_id, jsonx_str(op, "orderId"));
	if (*order < 0)
		return;
	/* The command ran in an order instance just now: its publishes are this order's. */
	for (int i = 0; i < r->n_actors; i++) {
		struct rp_actor *a = &r->actors[i];

		if (a->svc == SCN_SVC_ORDER && a->n_pending &&
		    r->marks[a->pending[a->n_pending - 1]].t_us == t)
			rp_flush_pending(r, a, *order);
	}
	if (strcmp(what, "retry") == 0 && strncmp(detail, "ok", 2) == 0) {
		r->orders[*order].status = RS_RETRYING;
		r->orders[*order].released = r->orders[*order].refunded = 0;
	}
	rp_add_mark(r, t, *order, rp_actor(r, "admin"), rp_intern(&r->types, what), RK_ADMIN);
}

/* Store faults name the document ("replace orders/<orderId>"): mark that order's row. */
static int32_t rp_fault_order(struct rp *r, const char *detail)
{
	const char *slash = strchr(detail, '/');
	char id[40];

	if (!slash)
		return -1;
	snprintf(id, sizeof(id), "%.36s", slash + 1);
	return rp_map_get(&r->by_order_id, id);
}

static int rp_is_fault(const char *actor, const char *what)
{
	static const char *const kinds[] = { "store_error", "store_ambiguous", "produce_error",
					     "duplicate", "stall", "poison", "pause", "crash" };

	if (strcmp(actor, "broker") == 0)
		return strcmp(what, "delay") == 0;
	if (strcmp(actor, "gateway") == 0 || strcmp(actor, "carrier") == 0)
		return strcmp(what, "fault") == 0;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(kinds); i++)
		if (strcmp(what, kinds[i]) == 0)
			return 1;
	return 0;
}

static void rp_count_fault(struct rp *r, int64_t t, int actor, int kind, const char *detail)
{
	struct rp_fault_count *c = NULL;

	for (size_t i = 0; i < r->n_fcount; i++)
		if (r->fcount[i].actor == actor && r->fcount[i].kind == kind)
			c = &r->fcount[i];
	if (!c && r->n_fcount < ECOM_ARRAY_LEN(r->fcount)) {
		c = &r->fcount[r->n_fcount++];
		*c = (struct rp_fault_count){ .actor = (int16_t)actor, .kind = (int16_t)kind,
					      .first_us = t };
	}
	if (c) {
		c->n++;
		c->last_us = t;
	}
	if (r->n_ticks < RP_FAULT_TICKS_MAX) {
		RP_PUSH(r->ticks, r->n_ticks, r->cap_ticks);
		r->ticks[r->n_ticks++] = (struct rp_fault){ .t_us = t, .actor = (int16_t)actor,
							    .kind = (int16_t)kind,
							    .detail = ecom_xstrdup(detail) };
	}
}

/* A publish by instance a at t: tied to the timer just fired, else pending until the
 * instance's next handled event (whose processing produced it). */
static int32_t rp_on_publish(struct rp *r, int64_t t, int ai, int type, enum rp_kind kind)
{
	struct rp_actor *a = &r->actors[ai];
	int32_t order = a->ctx_t == t ? a->ctx_order : -1;
	int32_t m = rp_add_mark(r, t, order, ai, type, kind);

	r->line_mark = m;
	if (m >= 0 && order < 0) {
		RP_PUSH(a->pending, a->n_pending, a->cap_pending);
		a->pending[a->n_pending++] = m;
	}
	return m;
}

/* The order of a mark, or -2 - mark while it is still pending (resolved on lookup). */
static void rp_map_event(struct rp *r, const char *id, int32_t m)
{
	/* An entry whose removal failed is published again with a later commit on the same
	 * document (maybe for another order): the first publish tells whose it is. */
	if (m < 0 || !rp_is_uuid(id) || rp_map_get(&r->by_event_id, id) != -1)
		return;
	rp_map_put(&r->by_event_id, id, r->marks[m].order >= 0 ? r->marks[m].order : -2 - m);
}

static int32_t rp_event_order(const struct rp *r, const char *id)
{
	int32_t v = rp_map_get(&r->by_event_id, id);

	return v <= -2 ? r->marks[-2 - v].order : v;
}

/* A sweep publishes what a failed publish (or a crash) left, document by document. The
 * oldest failed publish of the same type in the same service that is older than the
 * sweep's grace names the order; the further entries of one document follow in the same
 * sweep (same instance, same instant) and belong to the order of the line before. */
static int32_t rp_sweep_order(struct rp *r, int ai, int64_t t, int type)
{
	int svc = r->actors[ai].svc;
	int same_sweep = r->sweep_actor == ai && r->sweep_t == t;
	size_t pick = SIZE_MAX;

	for (size_t i = 0; i < r->n_failed[svc] && pick == SIZE_MAX; i++) {
		const struct rp_mark *m = &r->marks[r->failed[svc][i]];

		if (m->type == type && (!same_sweep || m->t_us <= t - RP_SWEEP_GRACE_US))
			pick = i;
	}
	r->sweep_actor = ai;
	r->sweep_t = t;
	if (pick == SIZE_MAX && same_sweep)
		return r->sweep_order;
	if (pick == SIZE_MAX)
		return r->sweep_order = -1;
	r->sweep_order = r->marks[r->failed[svc][pick]].order;
	memmove(&r->failed[svc][pick], &r->failed[svc][pick + 1],
		(r->n_failed[svc] - pick - 1) * sizeof(r->failed[svc][0]));
	r->n_failed[svc]--;
	return r->sweep_order;
}

static void rp_on_consume(struct rp *r, int64_t t, int ai, const char *what,
			  const char *detail, int32_t *order)
{
	struct rp_actor *a = &r->actors[ai];
	int type;
	const char *id = rp_split_type(r, detail, &type);
	int32_t v, known;

	/* The message's key (on the poll line) names the order when it is an order id; the
	 * event id, as published, says it otherwise (stock commands are keyed by SKU). */
	v = rp_map_get(&r->by_event_id, id);
	known = v <= -2 ? r->marks[-2 - v].order : v;
	*order = a->poll_order >= 0 ? a->poll_order : known;
	a->poll_order = -1;
	if (*order >= 0 && known < 0 && v <= -2)
		rp_attribute(r, -2 - v, *order); /* its publish learns whose it was */
	else if (*order >= 0 && known < 0 && rp_is_uuid(id))
		rp_map_put(&r->by_event_id, id, *order);
	rp_flush_pending(r, a, *order);
	a->ctx_t = -1;
	if (what[0] == 'i')
		return;
	rp_add_mark(r, t, *order, ai, type, what[0] == 'h' ? RK_HANDLED : RK_DUP);
	/* A duplicate after an ambiguous commit means that commit was applied. */
	if (*order >= 0 && (what[0] == 'h' || a->ambiguous) && a->svc == SCN_SVC_ORDER)
		rp_fold_status(&r->orders[*order], rp_str(&r->types, type));
	a->ambiguous = 0;
}

static void rp_on_create(struct rp *r, int64_t t, int ai, const char *detail, int32_t *order)
{
	long long num;
	char oid[40] = "", rc[16] = "";

	if (sscanf(detail, "#%lld %36s %15s", &num, oid, rc) != 3)
		return;
	*order = rp_map_get(&r->by_order_id, oid);
	if (strcmp(rc, "OK") != 0)
		return;
	rp_flush_pending(r, &r->actors[ai], *order);
	rp_add_mark(r, t, *order, ai, -1, RK_CREATED);
}

/* A service instance's line. */
static void rp_on_instance(struct rp *r, int64_t t, int ai, const char *what,
			   const char *detail, int32_t *order)
{
	struct rp_actor *a = &r->actors[ai];
	int type = -1;
	const char *id;
	int32_t m;

	if (strcmp(what, "published") == 0) {
		id = rp_split_type(r, detail, &type);
		m = rp_on_publish(r, t, ai, type, RK_NONE);
		rp_map_event(r, id, m);
		*order = m >= 0 ? r->marks[m].order : -1;
	} else if (strcmp(what, "publish_failed") == 0) {
		rp_split_type(r, detail, &type);
		m = rp_on_publish(r, t, ai, type, RK_NONE);
		if (m >= 0 && r->n_failed[a->svc] < RP_FAILED_MAX) {
			RP_PUSH(r->failed[a->svc], r->n_failed[a->svc], r->cap_failed[a->svc]);
			r->failed[a->svc][r->n_failed[a->svc]++] = m;
		}
	} else if (strcmp(what, "sweep_published") == 0) {
		id = rp_split_type(r, detail, &type);
		/* published before (its removal from the outbox failed), or left by a failure */
		*order = rp_event_order(r, id);
		if (*order < 0)
			*order = rp_sweep_order(r, ai, t, type);
		m = rp_add_mark(r, t, *order, ai, type, RK_SWEEP);
		r->line_mark = m;
		rp_map_event(r, id, m);
	} else if (strcmp(what, "handled") == 0 || strcmp(what, "duplicate_skipped") == 0 ||
		   strcmp(what, "ignored") == 0) {
		rp_on_consume(r, t, ai, what, detail, order);
	} else if (strcmp(what, "poll") == 0 || strcmp(what, "poll_dup") == 0) {
		const char *key = strstr(detail, " key=");

		rp_flush_pending(r, a, -1); /* a new message: nothing before it is its doing */
		a->ctx_t = -1;
		a->poll_order = key ? rp_map_get(&r->by_order_id, key + 5) : -1;
		*order = a->poll_order;
	} else if (strcmp(what, "create") == 0) {
		rp_on_create(r, t, ai, detail, order);
	} else if (strcmp(what, "wake_fired") == 0) {
		id = rp_split_type(r, detail, &type);
		a->ctx_order = rp_map_get(&r->by_order_id, id);
		a->ctx_t = t;
		*order = a->ctx_order;
		rp_add_mark(r, t, *order, ai, -1, RK_WAKE);
	} else if (strcmp(what, "commit_conflict") == 0 || strcmp(what, "commit_ambiguous") == 0) {
		id = rp_split_type(r, detail, &type);
		*order = rp_map_get(&r->by_order_id, id);
		a->ambiguous |= what[7] == 'a';
		if (*order >= 0)
			rp_add_mark(r, t, *order, ai, type,
				    what[7] == 'c' ? RK_CONFLICT : RK_AMBIGUOUS);
	}
}

static void rp_line(struct rp *r, int64_t t, const char *actor, const char *what,
		    const char *detail)
{
	int ai = rp_actor(r, actor), wi = rp_intern(&r->whats, what);
	int adapter = strcmp(what, "fault") == 0 &&
		      (strcmp(actor, "gateway") == 0 || strcmp(actor, "carrier") == 0);
	int32_t order = -1;

	if (t > r->t_max)
		r->t_max = t;
	r->line_mark = -1;
	cov_trace_line(&r->cov, t, actor, what, detail);
	if (ai < 0)
		return;
	if (strcmp(actor, "workload") == 0)
		rp_on_workload(r, t, what, detail, &order);
	else if (strcmp(actor, "admin") == 0)
		rp_on_admin(r, t, what, detail, &order);
	else if (r->actors[ai].svc < SCN_SVC_COUNT)
		rp_on_instance(r, t, ai, what, detail, &order);
	if (rp_is_fault(actor, what) ||
	    (strcmp(what, "start") == 0 && t > 0 && r->actors[ai].svc < SCN_SVC_COUNT)) {
		rp_count_fault(r, t, ai,
			       adapter ? rp_intern(&r->whats, actor[0] == 'g' ? "gateway_fault"
									      : "carrier_fault")
				       : wi, detail);
		if (strncmp(what, "store_", 6) == 0) {
			order = rp_fault_order(r, detail);
			if (order >= 0)
				rp_add_mark(r, t, order, ai, -1, RK_FAULT);
		}
	}
	if (r->n_lines < REPORT_LINES_MAX) {
		RP_PUSH(r->lines, r->n_lines, r->cap_lines);
		r->lines[r->n_lines++] = (struct rp_line){ .t_us = t, .actor = (int16_t)ai,
							   .what = (int16_t)wi, .order = order,
							   .mark = r->line_mark,
							   .detail = ecom_xstrdup(detail) };
	}
}

static void rp_read_trace(struct rp *r, FILE *f)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	cov_trace_begin(&r->cov);
	rewind(f);
	while ((n = getline(&buf, &cap, f)) > 0) {
		json_t *j = json_loadb(buf, (size_t)n, 0, NULL);
		const char *actor = jsonx_str(j, "actor"), *what = jsonx_str(j, "event");
		json_int_t t = json_integer_value(json_object_get(j, "t_us"));

		r->lines_total++;
		if (!actor || !what)
			r->lines_bad++;
		else
			rp_line(r, t, actor, what, jsonx_str_or(j, "detail", ""));
		json_decref(j);
	}
	free(buf);
	/* What is still pending never met a consumer: resolve through the event map. */
	for (int i = 0; i < r->n_actors; i++)
		rp_flush_pending(r, &r->actors[i], -1);
}

/* Orders named in a violation's detail are flagged (always shown, highlighted). */
static void rp_flag_violations(struct rp *r)
{
	const json_t *vs = json_object_get(r->in->summary, "violations");
	const json_t *v;
	size_t i;

	json_array_foreach(vs, i, v) {
		const char *d = jsonx_str_or(v, "detail", "");
		size_t len = strlen(d);

		for (size_t k = 0; k + 36 <= len; k++) {
			char id[37];
			int32_t o;

			if (!rp_is_uuid(d + k))
				continue;
			snprintf(id, sizeof(id), "%.36s", d + k);
			o = rp_map_get(&r->by_order_id, id);
			if (o >= 0)
				r->orders[o].flagged = 1;
			k += 35;
		}
	}
}

/* Flagged orders first, then unfinished ones, then the rest, REPORT_ROWS_MAX in all. */
static size_t rp_choose_rows(struct rp *r)
{
	size_t shown = 0;

	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < r->n_orders && shown < REPORT_ROWS_MAX; i++) {
			struct rp_order *o = &r->orders[i];
			int unfinished = o->status != RS_SHIPPED && o->status != RS_CANCELLED &&
					 o->status != RS_REJECTED;

			if (o->shown || (pass == 0 && !o->flagged) || (pass == 1 && !unfinished))
				continue;
			o->shown = 1;
			shown++;
		}
	}
	return shown;
}

static void rp_free(struct rp *r)
{
	for (int i = 0; i < r->n_actors; i++)
		free(r->actors[i].pending);
	for (int i = 0; i <= SCN_SVC_COUNT; i++)
		free(r->failed[i]);
	for (size_t i = 0; i < r->n_lines; i++)
		free(r->lines[i].detail);
	for (size_t i = 0; i < r->n_ticks; i++)
		free(r->ticks[i].detail);
	free(r->lines);
	free(r->ticks);
	free(r->marks);
	free(r->orders);
	rp_map_free(&r->by_order_id);
	rp_map_free(&r->by_event_id);
	rp_strtab_free(&r->actors_tab);
	rp_strtab_free(&r->whats);
	rp_strtab_free(&r->types);
}

/* ---- HTML helpers ---------------------------------------------------------------------- */

static void h_esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* JSON text safe inside <script>: '<' never appears raw (JSON allows \u003c in strings). */
static void h_json(FILE *f, const json_t *j)
{
	char *s = jsonx_dumps_flags(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);

	for (const char *p = s; p && *p; p++) {
		if (*p == '<')
			fputs("\\u003c", f);
		else if (*p == '>')
			fputs("\\u003e", f);
		else if (*p == '&')
			fputs("\\u0026", f);
		else
			fputc(*p, f);
	}
	free(s);
}

static void h_secs(FILE *f, int64_t us)
{
	fprintf(f, "%.3f s", (double)us / 1e6);
}

static const char *rp_css =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#222;"
	"background:#fafafa}main{max-width:1400px;margin:0 auto;padding:16px 24px}"
	"h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px "
	"solid #ddd;padding-bottom:4px}.badge{display:inline-block;padding:2px 10px;"
	"border-radius:4px;color:#fff;font-weight:600;margin-left:8px}.pass{background:#2a7d2a}"
	".fail{background:#c0262d}.cmd{font:13px ui-monospace,monospace;background:#1e1e1e;"
	"color:#eee;padding:8px 12px;border-radius:4px;display:flex;gap:12px;align-items:center}"
	".cmd code{flex:1;white-space:pre-wrap;word-break:break-all}button{cursor:pointer}"
	".viol{background:#fdecea;border:2px solid #c0262d;border-radius:6px;padding:8px 14px;"
	"margin:12px 0}.viol h2{border:0;color:#c0262d;margin:4px 0}.ok{background:#eaf6ea;"
	"border:1px solid #2a7d2a;border-radius:6px;padding:8px 14px;margin:12px 0}"
	".tiles{display:flex;flex-wrap:wrap;gap:8px}.tile{background:#fff;border:1px solid #ddd;"
	"border-radius:6px;padding:6px 12px;min-width:96px}.tile b{display:block;font-size:20px}"
	".tile span{color:#666;font-size:12px}table{border-collapse:collapse;background:#fff;"
	"margin:6px 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;"
	"vertical-align:top}th{background:#f0f0f0}td.n{text-align:right;"
	"font-variant-numeric:tabular-nums}.muted{color:#777}.gap{color:#c0262d;font-weight:600}"
	"pre{background:#fff;border:1px solid #ddd;padding:8px;overflow:auto;max-height:480px}"
	".lane{background:#fff;border:1px solid #ddd;overflow-x:auto}.lane svg{display:block}"
	".lane text{font:11px ui-monospace,monospace}.row:hover rect.bg{fill:#fff7d6}"
	".row{cursor:pointer}.legend span{display:inline-block;margin-right:14px}"
	".sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}"
	"#ev-body td{font:12px ui-monospace,monospace;white-space:pre-wrap}"
	".ctl{display:flex;gap:8px;flex-wrap:wrap;margin:6px 0}.ctl input,.ctl select"
	"{padding:3px 6px}";

/* ---- sections -------------------------------------------------------------------------- */

static void rp_head(FILE *f, struct rp *r)
{
	const json_t *s = r->in->summary;
	const char *name = jsonx_str_or(s, "scenario", r->in->scn ? r->in->scn->name : "?");
	int pass = strcmp(jsonx_str_or(s, "result", "fail"), "pass") == 0;

	fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>", f);
	fprintf(f, "%s: ", pass ? "PASS" : "FAIL");
	h_esc(f, name);
	fprintf(f, " seed %" PRId64 " — ecom sim report</title>\n<style>%s</style></head>\n"
		   "<body><main>\n<h1>ecom sim report: ", jsonx_int_or(s, "seed", 0), rp_css);
	h_esc(f, name);
	fprintf(f, " <span class=\"muted\">seed %" PRId64 "</span><span class=\"badge %s\">%s"
		   "</span></h1>\n", jsonx_int_or(s, "seed", 0), pass ? "pass" : "fail",
		pass ? "PASS" : "FAIL");
	if (r->in->scn && r->in->scn->description) {
		fputs("<p>", f);
		h_esc(f, r->in->scn->description);
		fputs("</p>\n", f);
	}
	if (r->in->command) {
		fputs("<div class=\"cmd\"><span>reproduce:</span><code id=\"cmd\">", f);
		h_esc(f, r->in->command);
		fputs("</code><button onclick=\"navigator.clipboard&&navigator.clipboard.writeText("
		      "document.getElementById('cmd').textContent)\">copy</button></div>\n", f);
	}
}

static void rp_verdict(FILE *f, struct rp *r)
{
	const json_t *s = r->in->summary, *vs = json_object_get(s, "violations"), *v;
	const char *unmet = jsonx_str(s, "unmet");
	size_t i;

	if (json_array_size(vs) == 0 && !unmet) {
		fputs("<div class=\"ok\">Every invariant held and the scenario's expectations were "
		      "met.</div>\n", f);
		return;
	}
	fputs("<div class=\"viol\">", f);
	if (json_array_size(vs)) {
		fprintf(f, "<h2>%zu invariant violation(s)</h2>\n<table><tr><th>invariant</th>"
			   "<th>detail</th></tr>\n", json_array_size(vs));
		json_array_foreach(vs, i, v) {
			fputs("<tr><td><b>", f);
			h_esc(f, jsonx_str_or(v, "invariant", "?"));
			fputs("</b></td><td>", f);
			h_esc(f, jsonx_str_or(v, "detail", ""));
			fputs("</td></tr>\n", f);
		}
		fputs("</table>\n", f);
	} else {
		fputs("<h2>No invariant fired</h2>\n", f);
	}
	if (unmet) {
		fputs("<p><b>Expectations not met:</b> ", f);
		h_esc(f, unmet);
		fputs("</p>\n", f);
	}
	fputs("</div>\n", f);
}

static int64_t rp_sum_faults(const struct rp *r, const char *what)
{
	int64_t n = 0;

	for (size_t i = 0; i < r->n_fcount; i++)
		if (strcmp(rp_str(&r->whats, r->fcount[i].kind), what) == 0)
			n += r->fcount[i].n;
	return n;
}

/* One paragraph in words: what the run did and how it ended. */
static void rp_story(FILE *f, struct rp *r)
{
	const json_t *s = r->in->summary;
	const struct scenario *scn = r->in->scn;

	fprintf(f, "<h2>What happened</h2>\n<p>The workload created %" PRId64 " order(s)",
		jsonx_int_or(s, "created", jsonx_int_or(s, "orders", 0)));
	if (scn)
		fprintf(f, " during the first %.1f s of virtual time, then faults and the workload "
			   "stopped and the world ran quietly (up to %.1f s more)",
			(double)scn->run.duration_ms / 1000, (double)scn->run.quiesce_ms / 1000);
	fprintf(f, ". %s at %.3f s: <b>%" PRId64 " shipped, %" PRId64 " cancelled, %" PRId64
		   " stuck</b> of %" PRId64 " accepted. ",
		jsonx_int_or(s, "quiescent", 0) ? "It became quiescent" : "It stopped (NOT quiescent)",
		(double)jsonx_int_or(s, "sim_ms", 0) / 1000, jsonx_int_or(s, "shipped", 0),
		jsonx_int_or(s, "cancelled", 0), jsonx_int_or(s, "stuck", 0),
		jsonx_int_or(s, "orders", 0));
	fprintf(f, "The broker made %" PRId64 " deliveries; %" PRId64 " duplicate deliveries "
		   "were skipped by inboxes; %" PRId64 " instance crash(es), %" PRId64 " injected "
		   "fault(s) (%" PRId64 " store errors, %" PRId64 " ambiguous store writes, %" PRId64
		   " produce errors), %" PRId64 " dead letter(s).",
		jsonx_int_or(s, "deliveries", 0), jsonx_int_or(s, "duplicates", 0),
		jsonx_int_or(s, "crashes", 0), jsonx_int_or(s, "faults", 0),
		rp_sum_faults(r, "store_error"), rp_sum_faults(r, "store_ambiguous"),
		rp_sum_faults(r, "produce_error"), jsonx_int_or(s, "dead_letters", 0));
	if (r->lines_total)
		fprintf(f, " The trace has %" PRIu64 " lines (trace_hash %s).", r->lines_total,
			jsonx_str_or(s, "trace_hash", "?"));
	else
		fputs(" <span class=\"muted\">No trace was available: the swimlanes and the event "
		      "list are empty.</span>", f);
	fputs("</p>\n", f);
}

static void rp_tiles(FILE *f, const json_t *s)
{
	static const char *const keys[] = { "orders", "shipped", "cancelled", "stuck",
					    "deliveries", "duplicates", "crashes", "restarts",
					    "faults", "dead_letters", "poison", "handled",
					    "sim_ms", "wall_ms", "trace_lines" };

	fputs("<h2>Figures</h2>\n<div class=\"tiles\">", f);
	for (size_t i = 0; i < ECOM_ARRAY_LEN(keys); i++) {
		const json_t *v = json_object_get(s, keys[i]);

		if (!json_is_integer(v))
			continue;
		fprintf(f, "<div class=\"tile\"><b>%" JSON_INTEGER_FORMAT "</b><span>%s</span></div>",
			json_integer_value(v), keys[i]);
	}
	fputs("<div class=\"tile\"><b>", f);
	h_esc(f, jsonx_str_or(s, "trace_hash", "-"));
	fputs("</b><span>trace_hash</span></div></div>\n", f);
}

/* ---- the swimlanes --------------------------------------------------------------------- */

static int64_t rp_tick_step_n(int64_t t_max, int64_t max_ticks)
{
	static const int64_t steps_us[] = { 1000, 2000, 5000, 10000, 20000, 50000, 100000,
					    200000, 500000, 1000000, 2000000, 5000000,
					    10000000, 20000000, 60000000, 120000000, 300000000,
					    600000000, 1800000000, 3600000000LL };

	for (size_t i = 0; i < ECOM_ARRAY_LEN(steps_us); i++)
		if (t_max / steps_us[i] <= max_ticks)
			return steps_us[i];
	return t_max / max_ticks + 1;
}

static int64_t rp_tick_step(int64_t t_max)
{
	return rp_tick_step_n(t_max, 12);
}

/* x of virtual time t. When a long quiet tail would squeeze the action into a sliver,
 * the axis is split: [0, t_split] takes RP_SPLIT_SHARE of the width, the tail the rest. */
static double rp_x(const struct rp *r, int64_t t)
{
	double plot = RP_W - RP_LABEL_W - RP_STATUS_W - 10;

	if (r->t_max <= 0)
		return RP_LABEL_W;
	if (r->t_split <= 0)
		return RP_LABEL_W + (double)t / (double)r->t_max * plot;
	if (t <= r->t_split)
		return RP_LABEL_W + (double)t / (double)r->t_split * plot * RP_SPLIT_SHARE;
	return RP_LABEL_W + plot * RP_SPLIT_SHARE +
	       (double)(t - r->t_split) / (double)(r->t_max - r->t_split) * plot *
		       (1 - RP_SPLIT_SHARE);
}

static int rp_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Splits the axis when 98% of what is drawn happens in less than 40% of the time. */
static void rp_plan_axis(struct rp *r)
{
	int64_t *ts = ecom_xmalloc((r->n_marks + r->n_ticks + 1) * sizeof(*ts));
	size_t n = 0;
	int64_t p98;

	for (size_t i = 0; i < r->n_marks; i++)
		if (r->marks[i].kind < RK__COUNT)
			ts[n++] = r->marks[i].t_us;
	for (size_t i = 0; i < r->n_ticks; i++)
		ts[n++] = r->ticks[i].t_us;
	r->t_split = 0;
	if (n >= 10) {
		qsort(ts, n, sizeof(*ts), rp_cmp_i64);
		p98 = ts[n * 98 / 100];
		if (p98 > 0 && p98 * 5 < r->t_max * 2) {
			int64_t step = rp_tick_step(p98);

			r->t_split = (p98 * 11 / 10 / step + 1) * step;
		}
	}
	free(ts);
}

static void rp_mark_svg(FILE *f, const struct rp *r, const struct rp_mark *m, double y)
{
	const struct rp_actor *a = &r->actors[m->actor];
	const char *c = rp_svc_colors[a->svc >= 0 && a->svc <= SCN_SVC_COUNT ? a->svc : 5];
	double x = rp_x(r, m->t_us);

	switch (m->kind) {
	case RK_CREATED:
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#000\">", x, y);
		break;
	case RK_HANDLED:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"3\" height=\"10\" fill=\"%s\">",
			x - 1.5, y - 5, c);
		break;
	case RK_DUP:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"4\" height=\"9\" fill=\"none\" "
			   "stroke=\"%s\">", x - 2, y - 4.5, c);
		break;
	case RK_SWEEP:
		fprintf(f, "<path d=\"M%.1f %.1fl4 5-4 5-4-5z\" fill=\"%s\" stroke=\"#000\" "
			   "stroke-width=\".6\">", x, y - 5, c);
		break;
	case RK_CONFLICT:
	case RK_AMBIGUOUS:
		fprintf(f, "<path d=\"M%.1f %.1fl6 6m0-6l-6 6\" stroke=\"%s\" stroke-width=\"1.6\">",
			x - 3, y - 3, m->kind == RK_CONFLICT ? "#8b0000" : "#d2691e");
		break;
	case RK_FAULT:
		fprintf(f, "<path d=\"M%.1f %.1fl4 7h-8z\" fill=\"#e00\">", x, y - 4);
		break;
	case RK_ADMIN:
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"#ffd400\" "
			   "stroke=\"#000\">", x - 4, y - 4);
		break;
	case RK_WAKE:
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"none\" stroke=\"%s\" "
			   "stroke-width=\"1.5\">", x, y, c);
		break;
	default:
		return;
	}
	fprintf(f, "<title>t=%.6f s %s ", (double)m->t_us / 1e6, a->name);
	h_esc(f, m->kind == RK_CREATED ? "created" : m->kind == RK_DUP ? "duplicate skipped"
		 : m->kind == RK_SWEEP ? "sweep published" : m->kind == RK_CONFLICT ? "CAS conflict"
		 : m->kind == RK_AMBIGUOUS ? "ambiguous commit" : m->kind == RK_FAULT ? "store fault"
		 : m->kind == RK_ADMIN ? "admin" : m->kind == RK_WAKE ? "deadline timer fired"
		 : "handled");
	fputc(' ', f);
	h_esc(f, rp_str(&r->types, m->type));
	fputs("</title></", f);
	fputs(m->kind == RK_CREATED || m->kind == RK_WAKE ? "circle>"
	      : m->kind == RK_HANDLED || m->kind == RK_DUP || m->kind == RK_ADMIN ? "rect>"
										   : "path>", f);
}

static void rp_legend(FILE *f)
{
	fputs("<p class=\"legend\">", f);
	for (int i = 0; i < SCN_SVC_COUNT; i++)
		fprintf(f, "<span><i class=\"sw\" style=\"background:%s\"></i>%s</span>",
			rp_svc_colors[i], scn_service_name((enum scn_service)i));
	fputs("<br><span>&#9679; created</span><span>&#9646; handled</span><span>&#9647; "
	      "duplicate skipped</span><span>&#9670; published by the sweep</span><span "
	      "style=\"color:#8b0000\">&#10005; CAS conflict</span><span style=\"color:#d2691e\">"
	      "&#10005; ambiguous commit</span><span style=\"color:#e00\">&#9650; store fault on "
	      "the order's document</span><span style=\"background:#ffd400\">&#9632; admin op"
	      "</span><span>&#9675; deadline timer</span><span style=\"color:#c0262d\">&#9475; "
	      "crash</span><span style=\"color:#2a7d2a\">&#9475; restart</span></p>\n", f);
}

/* The time axis and one strip per fault kind, with crash/restart lines over everything. */
static double rp_fault_strips(FILE *f, const struct rp *r, double y0, double height)
{
	int kinds[RP_FAULT_KINDS_MAX];
	int nk = 0;
	double y = y0;

	for (size_t i = 0; i < r->n_fcount; i++) {
		int k = r->fcount[i].kind, seen = 0;

		for (int j = 0; j < nk; j++)
			seen |= kinds[j] == k;
		if (!seen && nk < RP_FAULT_KINDS_MAX)
			kinds[nk++] = k;
	}
	for (int j = 0; j < nk; j++, y += RP_ROW_H) {
		const char *kn = rp_str(&r->whats, kinds[j]);
		int is_crash = strcmp(kn, "crash") == 0, is_start = strcmp(kn, "start") == 0;

		fprintf(f, "<text x=\"4\" y=\"%.1f\" fill=\"#900\">fault: %s</text>\n", y + 10,
			is_start ? "restart" : kn);
		for (size_t i = 0; i < r->n_ticks; i++) {
			const struct rp_fault *t = &r->ticks[i];
			double x = rp_x(r, t->t_us);

			if (t->kind != kinds[j])
				continue;
			if (is_crash || is_start)
				fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
					   "stroke=\"%s\" stroke-dasharray=\"4 3\" opacity=\".7\"/>",
					x, x, y, y0 + height, is_crash ? "#c0262d" : "#2a7d2a");
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"2\" height=\"10\" fill=\"%s\">"
				   "<title>t=%.6f s %s %s ", x - 1, y + 2,
				is_crash ? "#c0262d" : is_start ? "#2a7d2a" : "#d44",
				(double)t->t_us / 1e6, r->actors[t->actor].name, kn);
			h_esc(f, t->detail);
			fputs("</title></rect>", f);
		}
		fputc('\n', f);
	}
	return y;
}

static void rp_axis_ticks(FILE *f, const struct rp *r, int64_t from, int64_t to, int max_ticks,
			  double height)
{
	int64_t step = rp_tick_step_n(to - from, max_ticks);

	for (int64_t t = (from + step - 1) / step * step; t <= to; t += step) {
		double x = rp_x(r, t);

		fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.1f\" stroke=\"#eee\"/>"
			   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%g s</text>\n",
			x, x, RP_AXIS_H - 6, height, x, RP_AXIS_H - 10, (double)t / 1e6);
	}
}

static void rp_axis(FILE *f, const struct rp *r, double height)
{
	fprintf(f, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#999\"/>\n",
		RP_LABEL_W, rp_x(r, r->t_max), RP_AXIS_H - 6, RP_AXIS_H - 6);
	if (r->t_split > 0) {
		double x = rp_x(r, r->t_split);

		rp_axis_ticks(f, r, 0, r->t_split, 10, height);
		rp_axis_ticks(f, r, r->t_split + rp_tick_step_n(r->t_max - r->t_split, 2) / 2,
			      r->t_max, 2, height);
		fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"6\" height=\"%.1f\" fill=\"#f3f3f3\">"
			   "<title>axis break: the quiet tail after %g s is compressed</title></rect>"
			   "<text x=\"%.1f\" y=\"%d\" fill=\"#999\">&#8776;</text>\n", x - 3,
			RP_AXIS_H - 6, height - RP_AXIS_H + 6, (double)r->t_split / 1e6, x - 4,
			RP_AXIS_H - 2);
	} else {
		rp_axis_ticks(f, r, 0, r->t_max, 12, height);
	}
	fprintf(f, "<text x=\"4\" y=\"%d\" fill=\"#555\">virtual time &#8594;</text>"
		   "<text x=\"%d\" y=\"%d\" fill=\"#555\">final status</text>\n", RP_AXIS_H - 10,
		RP_W - RP_STATUS_W + 4, RP_AXIS_H - 10);
}

static void rp_rows(FILE *f, const struct rp *r, double y0, int32_t *row_of)
{
	for (size_t i = 0; i < r->n_orders; i++) {
		const struct rp_order *o = &r->orders[i];
		double y = y0 + (double)row_of[i] * RP_ROW_H;
		const char *sc = o->status == RS_SHIPPED ? "#2a7d2a"
				 : o->status == RS_CANCELLED ? "#555" : "#c0262d";

		if (row_of[i] < 0)
			continue;
		fprintf(f, "<g class=\"row\" data-order=\"%zu\"><rect class=\"bg\" x=\"0\" "
			   "y=\"%.1f\" width=\"%d\" height=\"%d\" fill=\"%s\"/>", i, y, RP_W, RP_ROW_H,
			o->flagged ? "#fde0e0" : row_of[i] % 2 ? "#fbfbfb" : "#fff");
		fprintf(f, "<text x=\"4\" y=\"%.1f\"%s>#%" PRId64 " %.8s</text>", y + 10,
			o->flagged ? " fill=\"#c0262d\" font-weight=\"bold\"" : "", o->num, o->id);
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" fill=\"%s\">%s</text></g>\n",
			RP_W - RP_STATUS_W + 4, y + 10, sc, rp_status_names[o->status]);
	}
	for (size_t i = 0; i < r->n_marks; i++) {
		const struct rp_mark *m = &r->marks[i];

		if (m->order < 0 || row_of[m->order] < 0 || m->kind >= RK__COUNT)
			continue;
		rp_mark_svg(f, r, m, y0 + (double)row_of[m->order] * RP_ROW_H + RP_ROW_H / 2.0);
		fputc('\n', f);
	}
}

/* The statuses are inferred from the trace: say so when they disagree with the summary
 * (which reads the order store). */
static void rp_status_check(FILE *f, const struct rp *r)
{
	int64_t shipped = 0, cancelled = 0;
	int64_t want_s = jsonx_int_or(r->in->summary, "shipped", -1);
	int64_t want_c = jsonx_int_or(r->in->summary, "cancelled", -1);

	if (!r->n_orders)
		return;
	for (size_t i = 0; i < r->n_orders; i++) {
		shipped += r->orders[i].status == RS_SHIPPED;
		cancelled += r->orders[i].status == RS_CANCELLED;
	}
	if (shipped == want_s && cancelled == want_c)
		return;
	fprintf(f, " <b>Note:</b> the statuses above are inferred from the events the order "
		   "service handled (%" PRId64 " shipped, %" PRId64 " cancelled); the order store "
		   "says %" PRId64 " shipped, %" PRId64 " cancelled, so some rows are wrong.",
		shipped, cancelled, want_s, want_c);
}

static void rp_swimlanes(FILE *f, struct rp *r)
{
	size_t shown = rp_choose_rows(r), n_strips = 0;
	int32_t *row_of = ecom_xcalloc(r->n_orders ? r->n_orders : 1, sizeof(*row_of));
	double y_rows, height;
	int32_t row = 0;
	uint64_t unattributed = 0;

	for (size_t i = 0; i < r->n_fcount; i++) {
		int dup = 0;

		for (size_t j = 0; j < i; j++)
			dup |= r->fcount[j].kind == r->fcount[i].kind;
		n_strips += !dup;
	}
	for (size_t i = 0; i < r->n_orders; i++)
		row_of[i] = r->orders[i].shown ? row++ : -1;
	rp_plan_axis(r);
	y_rows = RP_AXIS_H + (double)n_strips * RP_ROW_H + 6;
	height = y_rows + (double)shown * RP_ROW_H + 4;
	fputs("<h2>Orders over virtual time</h2>\n", f);
	fprintf(f, "<p>One row per order: every event a service handled for it, in the "
		   "service's color; the final status is the order service's, as the trace "
		   "shows it. Rows with a red background are named in a violation. Hover a mark "
		   "for details; click a row to list its events below. %zu of %zu order(s) shown",
		shown, r->n_orders);
	if (shown < r->n_orders)
		fprintf(f, " (<b>capped at %d</b>: orders named in violations first, then "
			   "unfinished ones, then by number)", REPORT_ROWS_MAX);
	for (size_t i = 0; i < r->n_marks; i++)
		unattributed += (r->marks[i].kind == RK_NONE || r->marks[i].kind == RK_SWEEP) &&
				r->marks[i].order < 0;
	fprintf(f, ". %" PRIu64 " published event(s) could not be tied to an order.",
		unattributed);
	rp_status_check(f, r);
	fputs("</p>\n", f);
	rp_legend(f);
	fprintf(f, "<div class=\"lane\"><svg width=\"%d\" height=\"%.0f\" viewBox=\"0 0 %d %.0f\" "
		   "role=\"img\">\n", RP_W, height, RP_W, height);
	rp_axis(f, r, height);
	rp_fault_strips(f, r, RP_AXIS_H, height);
	rp_rows(f, r, y_rows, row_of);
	fputs("</svg></div>\n", f);
	free(row_of);
}

/* ---- tables ---------------------------------------------------------------------------- */

static void rp_fault_table(FILE *f, const struct rp *r)
{
	size_t shown = 0;

	fputs("<h2>Faults and crashes</h2>\n", f);
	if (!r->n_fcount) {
		fputs("<p>No fault was injected and no instance crashed.</p>\n", f);
		return;
	}
	fputs("<table><tr><th>kind</th><th>where</th><th>count</th><th>first</th><th>last</th>"
	      "</tr>\n", f);
	for (size_t i = 0; i < r->n_fcount; i++) {
		const struct rp_fault_count *c = &r->fcount[i];
		const char *kn = rp_str(&r->whats, c->kind);

		fprintf(f, "<tr><td>%s</td><td>%s</td><td class=\"n\">%" PRId64 "</td><td>",
			strcmp(kn, "start") == 0 ? "restart" : kn, r->actors[c->actor].name, c->n);
		h_secs(f, c->first_us);
		fputs("</td><td>", f);
		h_secs(f, c->last_us);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n<details><summary>every crash and restart</summary><table><tr><th>t"
	      "</th><th>instance</th><th>what</th><th>why</th></tr>\n", f);
	for (size_t i = 0; i < r->n_ticks && shown < REPORT_TABLE_MAX; i++) {
		const char *kn = rp_str(&r->whats, r->ticks[i].kind);

		if (strcmp(kn, "crash") && strcmp(kn, "start") && strcmp(kn, "pause"))
			continue;
		shown++;
		fputs("<tr><td>", f);
		h_secs(f, r->ticks[i].t_us);
		fprintf(f, "</td><td>%s</td><td>%s</td><td>", r->actors[r->ticks[i].actor].name,
			strcmp(kn, "start") == 0 ? "restart" : kn);
		h_esc(f, r->ticks[i].detail);
		fputs("</td></tr>\n", f);
	}
	fputs("</table></details>\n", f);
}

static void rp_coverage(FILE *f, struct rp *r)
{
	struct cov_counts c;

	cov_counts_init(&c);
	cov_from_summary(&c, r->in->summary);
	cov_merge_max(&c, &r->cov);
	fputs("<h2>Saga-path coverage</h2>\n<p>Rare paths this run exercised (\"sometimes\" "
	      "assertions): a path never reached was not tested by this run.</p>\n<table><tr>"
	      "<th>path</th><th>times</th><th>meaning</th></tr>\n", f);
	for (int p = 0; p < COV__COUNT; p++) {
		int known = (c.known >> p) & 1;

		fprintf(f, "<tr><td>%s</td><td class=\"n%s\">", cov_name((enum cov_point)p),
			known && c.n[p] == 0 ? " gap" : "");
		if (known)
			fprintf(f, "%" PRId64, c.n[p]);
		else
			fputs("?", f);
		fputs("</td><td>", f);
		h_esc(f, cov_meaning((enum cov_point)p));
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static void rp_instances(FILE *f, const json_t *s)
{
	static const char *const cols[] = { "delivered", "handled", "duplicates",
					    "dead_lettered", "published", "sweep_published",
					    "conflicts", "retries", "offsets_lost", "crashes" };
	const json_t *inst = json_object_get(s, "instances"), *v, *ops = json_object_get(s, "ops");
	const char *k;
	size_t i;

	fputs("<h2>Instances</h2>\n<table><tr><th>instance</th>", f);
	for (i = 0; i < ECOM_ARRAY_LEN(cols); i++)
		fprintf(f, "<th>%s</th>", cols[i]);
	fputs("</tr>\n", f);
	json_object_foreach((json_t *)inst, k, v) {
		fputs("<tr><td>", f);
		h_esc(f, k);
		fputs("</td>", f);
		for (i = 0; i < ECOM_ARRAY_LEN(cols); i++)
			fprintf(f, "<td class=\"n\">%" PRId64 "</td>", jsonx_int_or(v, cols[i], 0));
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
	if (!json_array_size(ops))
		return;
	fputs("<h2>Admin operations</h2>\n<table><tr><th>at</th><th>op</th><th>order</th>"
	      "<th>result</th><th>reason / detail</th></tr>\n", f);
	json_array_foreach(ops, i, v) {
		fprintf(f, "<tr><td>%" PRId64 " ms</td><td>", jsonx_int_or(v, "at_ms", 0));
		h_esc(f, jsonx_str_or(v, "op", "?"));
		fputs(" ", f);
		h_esc(f, jsonx_str_or(v, "step", jsonx_str_or(v, "action", jsonx_str_or(v,
			 "instance", ""))));
		fputs("</td><td>", f);
		if (json_object_get(v, "order"))
			fprintf(f, "#%" PRId64 " ", jsonx_int_or(v, "order", 0));
		h_esc(f, jsonx_str_or(v, "orderId", ""));
		fputs("</td><td>", f);
		h_esc(f, jsonx_str_or(v, "result", "?"));
		fputs("</td><td>", f);
		h_esc(f, jsonx_str_or(v, "reason", ""));
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

/* ---- the event list (data + JS) -------------------------------------------------------- */

static void rp_events(FILE *f, const struct rp *r)
{
	json_t *d = json_object(), *lines = json_array(), *orders = json_array();

	for (size_t i = 0; i < r->n_orders; i++)
		json_array_append_new(orders, json_pack("[I,s]", (json_int_t)r->orders[i].num,
							r->orders[i].id));
	for (size_t i = 0; i < r->n_lines; i++) {
		const struct rp_line *l = &r->lines[i];
		int order = l->order >= 0 || l->mark < 0 ? l->order : r->marks[l->mark].order;

		json_array_append_new(lines, json_pack("[I,s,s,s,i]", (json_int_t)l->t_us,
						       r->actors[l->actor].name,
						       rp_str(&r->whats, l->what), l->detail, order));
	}
	jsonx_set_new(d, "lines", lines);
	jsonx_set_new(d, "orders", orders);
	fprintf(f, "<h2 id=\"events\">Events</h2>\n<p>Every trace line (virtual time, actor, "
		   "event, detail, and the order it was tied to). %zu of %" PRIu64 " line(s) "
		   "embedded%s.</p>\n", r->n_lines, r->lines_total,
		r->lines_total > r->n_lines ? " (capped)" : "");
	fputs("<div class=\"ctl\"><input id=\"ev-q\" size=\"40\" placeholder=\"filter: text in "
	      "actor, event, detail or order id\"><select id=\"ev-actor\"><option value=\"\">"
	      "every actor</option></select><input id=\"ev-order\" size=\"8\" placeholder=\""
	      "order #\"><button id=\"ev-clear\">clear</button><span id=\"ev-count\" class=\""
	      "muted\"></span></div>\n<table><thead><tr><th>t (s)</th><th>actor</th><th>event"
	      "</th><th>detail</th><th>order</th></tr></thead><tbody id=\"ev-body\"></tbody>"
	      "</table>\n<script type=\"application/json\" id=\"ev-data\">", f);
	h_json(f, d);
	fputs("</script>\n", f);
	json_decref(d);
}

static const char *rp_js =
	"(function(){var D=JSON.parse(document.getElementById('ev-data').textContent);"
	"var q=document.getElementById('ev-q'),sa=document.getElementById('ev-actor'),"
	"so=document.getElementById('ev-order'),body=document.getElementById('ev-body'),"
	"cnt=document.getElementById('ev-count'),seen={};"
	"D.lines.forEach(function(e){if(!seen[e[1]]){seen[e[1]]=1;var o=document.createElement"
	"('option');o.textContent=e[1];o.value=e[1];sa.appendChild(o);}});"
	"function oname(i){return i>=0&&D.orders[i]?'#'+D.orders[i][0]+' '+D.orders[i][1]:'';}"
	"function render(){var s=q.value.toLowerCase(),a=sa.value,ov=so.value.replace('#','')"
	".trim(),on=ov===''?null:+ov,m=0,frag=document.createDocumentFragment();"
	"for(var i=0;i<D.lines.length;i++){var e=D.lines[i];if(a&&e[1]!==a)continue;"
	"if(on!==null&&!(e[4]>=0&&D.orders[e[4]][0]===on))continue;if(s&&(e[1]+' '+e[2]+' '+"
	"e[3]+' '+oname(e[4])).toLowerCase().indexOf(s)<0)continue;m++;if(m>MAXN)continue;"
	"var tr=document.createElement('tr');[(e[0]/1e6).toFixed(6),e[1],e[2],e[3],oname(e[4])]"
	".forEach(function(v){var td=document.createElement('td');td.textContent=v;"
	"tr.appendChild(td);});frag.appendChild(tr);}body.textContent='';body.appendChild(frag);"
	"cnt.textContent=m+' matching line(s)'+(m>MAXN?', first '+MAXN+' shown':'');}"
	"q.oninput=render;sa.onchange=render;so.oninput=render;"
	"document.getElementById('ev-clear').onclick=function(){q.value='';sa.value='';"
	"so.value='';render();};"
	"document.querySelectorAll('g.row').forEach(function(g){g.onclick=function(){var i=+g."
	"getAttribute('data-order');so.value=D.orders[i][0];q.value='';sa.value='';render();"
	"document.getElementById('events').scrollIntoView();};});render();})();";

static void rp_scenario(FILE *f, const struct rp *r)
{
	char *txt;

	fputs("<h2>Scenario</h2>\n", f);
	if (!r->in->scenario_json) {
		fputs("<p class=\"muted\">(the scenario file could not be read back)</p>\n", f);
		return;
	}
	txt = jsonx_dumps_flags(r->in->scenario_json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputs("<pre>", f);
	h_esc(f, txt);
	fputs("</pre>\n", f);
	free(txt);
}

/* ---- entry points ---------------------------------------------------------------------- */

int sim_report_write(FILE *out, const struct sim_report_input *in, struct ecom_err *err)
{
	struct rp *r;
	int rc = ECOM_OK;

	if (!in || !json_is_object(in->summary))
		return ecom_err_set(err, ECOM_INVALID, "report: no summary object");
	r = ecom_xcalloc(1, sizeof(*r));
	r->in = in;
	r->sweep_actor = -1;
	cov_counts_init(&r->cov);
	if (in->trace)
		rp_read_trace(r, in->trace);
	rp_flag_violations(r);
	rp_head(out, r);
	rp_verdict(out, r);
	rp_story(out, r);
	rp_tiles(out, in->summary);
	rp_swimlanes(out, r);
	rp_fault_table(out, r);
	rp_coverage(out, r);
	rp_instances(out, in->summary);
	rp_events(out, r);
	rp_scenario(out, r);
	fprintf(out, "<script>var MAXN=%d;", RP_EVENT_LIST_SHOWN);
	fputs(rp_js, out);
	fputs("</script>\n</main></body></html>\n", out);
	if (fflush(out) != 0 || ferror(out))
		rc = ecom_err_set(err, ECOM_UNAVAILABLE, "report: write failed: %s", strerror(errno));
	rp_free(r);
	free(r);
	return rc;
}

int sim_report_write_path(const char *path, const struct sim_report_input *in,
			  struct ecom_err *err)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return ecom_err_set(err, ECOM_UNAVAILABLE, "%s: %s", path, strerror(errno));
	rc = sim_report_write(f, in, err);
	if (fclose(f) != 0 && rc == ECOM_OK)
		rc = ecom_err_set(err, ECOM_UNAVAILABLE, "%s: %s", path, strerror(errno));
	return rc;
}

int sim_report_for_run(const char *path, const char *scenario_path, const struct scenario *scn,
		       const json_t *summary, FILE *trace, const char *extra_args,
		       struct ecom_err *err)
{
	struct sim_report_input in = { .scn = scn, .summary = summary, .trace = trace };
	json_t *sj = scenario_path ? json_load_file(scenario_path, JSON_PRESERVE_ORDER, NULL)
				   : NULL;
	char cmd[2048];
	int rc;

	snprintf(cmd, sizeof(cmd), "ecom sim run %s --seed %" PRId64 "%s",
		 scenario_path ? scenario_path : "FILE", jsonx_int_or(summary, "seed", 0),
		 extra_args ? extra_args : "");
	in.scenario_json = sj;
	in.command = cmd;
	rc = sim_report_write_path(path, &in, err);
	json_decref(sj);
	return rc;
}
