/* world.c — builds the simulated world from a scenario and drives it: one scheduler over
 * virtual time, service instances stepped when they have work (a message became visible,
 * a timer or backoff is due, a sweep), crashes and restarts, then a quiet phase until the
 * world is quiescent, then the invariants. One thread; every random choice comes from a
 * named stream of the seed, so the trace (and its hash) is a function of scenario + seed. */
#include "sim/world_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "event/jsonx.h"
#include "sim/fault_broker.h"
#include "sim/fault_store.h"
#include "sim/mem_store.h"

void sim_options_init(struct sim_options *o)
{
	memset(o, 0, sizeof(*o));
	o->capture_line = -1;
}

int64_t world_now(struct sim_world *w)
{
	return w->clock.now_us;
}

void world_trace(struct sim_world *w, const char *actor, const char *what, const char *fmt, ...)
{
	char detail[TRACE_LINE_MAX];
	va_list ap;

	detail[0] = '\0';
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(detail, sizeof(detail), fmt, ap);
		va_end(ap);
	}
	sim_trace_line(&w->trace, w->clock.now_us, actor, what, detail);
	cov_trace_line(&w->cov, w->clock.now_us, actor, what, detail);
}

/* The commonest trace lines (a delivery, a delay, a runtime event) are built without printf:
 * byte for byte what their formats give, truncated the same way (the trace hash of every
 * scenario checks it). */
struct tdetail {
	char s[TRACE_LINE_MAX];
	size_t n;
};

static void td_init(struct tdetail *d)
{
	d->n = 0;
	d->s[0] = '\0';
}

static void td_put(struct tdetail *d, const char *p, size_t len)
{
	size_t room = sizeof(d->s) - 1 - d->n;

	if (len > room)
		len = room;
	memcpy(d->s + d->n, p, len);
	d->n += len;
	d->s[d->n] = '\0';
}

static void td_str(struct tdetail *d, const char *p)
{
	td_put(d, p, strlen(p));
}

static void td_int(struct tdetail *d, long long v)
{
	char b[24];
	size_t i = sizeof(b);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		b[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		b[--i] = '-';
	td_put(d, b + i, sizeof(b) - i);
}

/* "%s[%d]@%lld": a message's position. */
static void td_position(struct tdetail *d, const char *topic, int32_t partition, int64_t offset)
{
	td_str(d, topic);
	td_put(d, "[", 1);
	td_int(d, (int)partition);
	td_put(d, "]@", 2);
	td_int(d, (long long)offset);
}

static void world_trace_td(struct sim_world *w, const char *actor, const char *what,
			   const struct tdetail *d)
{
	sim_trace_line(&w->trace, w->clock.now_us, actor, what, d->s);
	cov_trace_line(&w->cov, w->clock.now_us, actor, what, d->s);
}

int world_once(struct sim_world *w, const char *key)
{
	if (json_object_get(w->broken, key))
		return 0;
	json_object_set_new(w->broken, key, json_true());
	return 1;
}

void world_push(struct sim_world *w, int64_t at_us, enum world_ev kind, int32_t target,
		int64_t arg)
{
	if (sched_push(&w->sched, at_us, (int)kind, target, arg) != ECOM_OK) {
		/* The bound is far above what a sane run needs: running into it is a bug in the
		 * world's scheduling, not a scenario property. */
		fprintf(stderr, "sim: scheduler bound of %zu pending events reached\n", w->sched.max);
		ECOM_ASSERT(!"scheduler bound reached");
	}
}

void world_wake(struct sim_world *w, struct sim_instance *in, int64_t at_us)
{
	if (!in->alive)
		return;
	if (at_us < w->clock.now_us)
		at_us = w->clock.now_us;
	if (at_us < in->paused_until)
		at_us = in->paused_until;
	if (at_us >= in->step_at)
		return; /* already due no later than that */
	in->step_at = at_us;
	in->step_token++;
	world_push(w, at_us, WEV_STEP, (int32_t)(in - w->inst), in->step_token);
}

struct sim_instance *world_pick(struct sim_world *w, enum scn_service s, int *rr)
{
	int n = w->scn->services[s];

	for (int k = 0; k < n; k++) {
		int i = (*rr + k) % n;

		for (int j = 0; j < w->n_inst; j++) {
			struct sim_instance *in = &w->inst[j];

			if (in->svc == s && in->index == i + 1 && in->alive) {
				*rr = (i + 1) % n;
				return in;
			}
		}
	}
	return NULL;
}

static struct sim_instance *world_find(struct sim_world *w, const char *name)
{
	for (int i = 0; name && i < w->n_inst; i++)
		if (strcmp(w->inst[i].name, name) == 0)
			return &w->inst[i];
	return NULL;
}

/* ---- hooks: cluster, runtime observer, fault plan ------------------------------------ */

static int world_subscribes(struct sim_world *w, enum scn_service s, const char *topic)
{
	for (size_t i = 0; i < w->n_topics[s]; i++)
		if (strcmp(w->topics[s][i], topic) == 0)
			return 1;
	return 0;
}

/* Which services subscribe to topic, as a bit per service, remembered per topic name
 * pointer (the broker's own copy: stable while the cluster lives). */
static unsigned world_subscribers(struct sim_world *w, const char *topic)
{
	unsigned mask = 0;

	for (size_t i = 0; i < w->n_subs; i++)
		if (w->subs[i].topic == topic)
			return w->subs[i].mask;
	for (int s = 0; s < SCN_SVC_COUNT; s++)
		if (world_subscribes(w, (enum scn_service)s, topic))
			mask |= 1u << s;
	if (w->n_subs < ECOM_ARRAY_LEN(w->subs))
		w->subs[w->n_subs++] = (struct world_subs){ topic, mask };
	return mask;
}

static int64_t hook_visible_at(void *arg, const char *topic, int32_t partition, int64_t offset,
			       int64_t now_us)
{
	struct sim_world *w = arg;
	const struct scn_range *d = &w->scn->faults.delivery_delay_ms;
	int64_t ms;

	if (!w->plan.active || d->hi <= 0)
		return now_us;
	ms = rng_range(&w->faults_rng, d->lo, d->hi);
	if (ms > 0) {
		struct tdetail t;

		w->n_faults++;
		td_init(&t); /* "%s[%d]@%lld +%lldms" */
		td_position(&t, topic, partition, offset);
		td_put(&t, " +", 2);
		td_int(&t, (long long)ms);
		td_put(&t, "ms", 2);
		world_trace_td(w, "broker", "delay", &t);
	}
	return now_us + ms * 1000;
}

/* Retention keeps what the end-of-run checks and dlq_replay read back from the log: every
 * dead letter and the original it names. */
static void world_pin_dead_letter(struct sim_world *w, const char *topic, int32_t partition,
				  int64_t offset)
{
	size_t n = strlen(topic);
	struct broker_msg m;
	const char *ot, *op, *oo;

	if (n <= 4 || strcmp(topic + n - 4, ".dlq") != 0)
		return;
	ECOM_ASSERT(mem_cluster_pin(w->cluster, topic, partition, offset) == ECOM_OK);
	if (mem_cluster_read(w->cluster, topic, partition, offset, &m) != ECOM_OK)
		return;
	ot = broker_msg_header(&m, RT_HDR_ORIGINAL_TOPIC);
	op = broker_msg_header(&m, RT_HDR_ORIGINAL_PARTITION);
	oo = broker_msg_header(&m, RT_HDR_ORIGINAL_OFFSET);
	/* The dead-lettering consumer has not committed past the original yet: still there. */
	if (ot && op && oo)
		ECOM_ASSERT(mem_cluster_pin(w->cluster, ot, (int32_t)atoi(op), atoll(oo)) ==
			    ECOM_OK);
}

static void hook_on_append(void *arg, const char *topic, int32_t partition, int64_t offset,
			   int64_t visible_at_us)
{
	struct sim_world *w = arg;
	unsigned subs;

	world_pin_dead_letter(w, topic, partition, offset);
	inv_on_append(w, topic, partition, offset);
	subs = world_subscribers(w, topic);
	for (int s = 0; s < SCN_SVC_COUNT; s++) {
		const char *owner;

		if (!(subs & (1u << s)))
			continue;
		owner = mem_cluster_owner(w->cluster, w->groups[s], topic, partition);
		struct sim_instance *in = owner ? world_find(w, owner) : NULL;

		if (in)
			world_wake(w, in, visible_at_us);
	}
}

static void hook_on_rebalance(void *arg, const char *group, uint32_t generation)
{
	struct sim_world *w = arg;

	for (int s = 0; s < SCN_SVC_COUNT; s++) {
		if (strcmp(w->groups[s], group) != 0)
			continue;
		world_trace(w, "broker", "rebalance", "%s gen=%u", group, generation);
		for (int i = 0; i < w->n_inst; i++)
			if (w->inst[i].svc == (enum scn_service)s)
				world_wake(w, &w->inst[i], w->clock.now_us);
	}
}

static void obs_on_event(void *arg, struct runtime *rt, enum rt_event what, int type,
			 const char *detail)
{
	struct sim_instance *in = arg;
	struct sim_world *w = in->w;
	const char *tname = type >= 0 && type < EV__COUNT ? event_type_name((enum event_type)type)
							  : "-";
	struct tdetail d;

	(void)rt;
	switch (what) {
	case RT_DELIVERED:
		w->deliveries++;
		return; /* the fault broker traced the delivery with its position */
	case RT_DUPLICATE_SKIPPED:
		w->duplicates++;
		break;
	case RT_DEAD_LETTERED:
		w->dead_letters++;
		break;
	case RT_HANDLED:
		w->handled++;
		break;
	default:
		break;
	}
	td_init(&d);
	td_str(&d, tname); /* "%s %s" */
	td_put(&d, " ", 1);
	td_str(&d, detail ? detail : "");
	world_trace_td(w, in->name, rt_event_name(what), &d);
}

static void obs_on_commit(void *arg, struct runtime *rt, const char *collection,
			  const json_t *doc)
{
	struct sim_instance *in = arg;

	(void)rt;
	inv_on_commit(in->w, in, collection, doc);
}

static void plan_on_fault(void *arg, const char *actor, const char *what, const char *detail)
{
	struct sim_world *w = arg;

	w->n_faults++;
	if (strcmp(what, "duplicate") == 0)
		w->dup_injected++;
	world_trace(w, actor, what, "%s", detail ? detail : "");
}

static void plan_on_poison(void *arg, const char *actor, const char *topic, const char *key,
			   const char *value, size_t len, enum fault_poison_kind kind,
			   const char *poison_id)
{
	struct sim_world *w = arg;
	struct sim_poison *p;

	(void)actor;
	(void)key;
	if (w->n_poison >= WORLD_POISON_MAX)
		return;
	if (w->n_poison % 64 == 0)
		w->poison = ecom_xrealloc(w->poison, (w->n_poison + 64) * sizeof(*w->poison));
	p = &w->poison[w->n_poison++];
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", poison_id);
	p->topic = ecom_xstrdup(topic);
	p->value = ecom_xstrndup(value, len);
	p->len = len;
	p->kind = kind;
	p->at_us = w->clock.now_us;
}

static void plan_on_deliver(void *arg, const char *actor, const struct broker_msg *m, int dup)
{
	struct sim_world *w = arg;
	struct tdetail d;

	/* "%s[%d]@%lld key=%.*s" */
	td_init(&d);
	td_position(&d, m->topic, m->partition, m->offset);
	td_put(&d, " key=", 5);
	if (m->key)
		td_put(&d, m->key, strnlen(m->key, m->key_len));
	else
		td_put(&d, "-", 1);
	world_trace_td(w, actor, dup ? "poll_dup" : "poll", &d);
}

/* ---- instances ------------------------------------------------------------------------ */

static void instance_up(struct sim_world *w, struct sim_instance *in)
{
	const struct svc_binding *b = world_binding(in->svc);
	struct runtime_config cfg;
	struct ecom_err err;
	struct broker *mb;
	int rc;

	ECOM_ASSERT(!in->alive);
	memset(&in->cp, 0, sizeof(in->cp));
	if (w->opt->crash_instance && w->opt->crash_after_calls > 0 &&
	    strcmp(w->opt->crash_instance, in->name) == 0 && in->crashes == 0)
		in->cp.crash_after = w->opt->crash_after_calls;
	mb = mem_broker_new(w->cluster, in->name);
	in->broker = fault_broker_new(mb, &w->plan, &in->cp, in->name);
	in->svc_obj = b->make(w);
	memset(&cfg, 0, sizeof(cfg));
	cfg.group = w->groups[in->svc];
	cfg.instance = in->name;
	cfg.bugs = w->scn->bugs;
	in->obs = (struct runtime_observer){ .arg = in, .on_event = obs_on_event,
					     .on_commit = obs_on_commit };
	cfg.obs = &in->obs;
	in->rt = runtime_new(b->def(), in->svc_obj, in->broker, in->store, &w->clock.base,
			     &in->rng, &cfg);
	if (b->attach)
		b->attach(in->svc_obj, in->rt);
	in->alive = 1;
	in->step_at = INT64_MAX;
	w->current = in;
	rc = runtime_start(in->rt, &err);
	w->current = NULL;
	world_trace(w, in->name, "start", "%s", ecom_rc_name(rc));
	world_wake(w, in, w->clock.now_us);
	world_reap(w, in);
}

static void instance_down(struct sim_world *w, struct sim_instance *in, const char *why)
{
	const struct svc_binding *b = world_binding(in->svc);
	struct runtime_stats st;

	if (!in->alive)
		return;
	runtime_get_stats(in->rt, &st);
	in->acc.delivered += st.delivered;
	in->acc.handled += st.handled;
	in->acc.duplicates += st.duplicates;
	in->acc.dead_lettered += st.dead_lettered;
	in->acc.published += st.published;
	in->acc.sweep_published += st.sweep_published;
	in->acc.conflicts += st.conflicts;
	in->acc.retries += st.retries;
	in->acc.offsets_lost += st.offsets_lost;
	if (b->attach)
		b->attach(in->svc_obj, NULL);
	in->alive = 0;
	in->step_token++; /* any pending step is stale now */
	in->step_at = INT64_MAX;
	world_trace(w, in->name, "crash", "%s", why);
	runtime_free(in->rt);
	in->rt = NULL;
	broker_destroy(in->broker); /* leaves the group: the others rebalance */
	in->broker = NULL;
	b->free(in->svc_obj);
	in->svc_obj = NULL;
}

static int64_t world_exp_gap_us(struct rng *r, double rate_per_sec)
{
	double u = rng_unit(r);
	double gap = -log(1.0 - u) / rate_per_sec * 1e6;

	if (gap > 1e15)
		gap = 1e15;
	return (int64_t)gap + 1;
}

static void world_schedule_crash(struct sim_world *w, struct sim_instance *in, int64_t from_us)
{
	double rate = w->scn->faults.crash_rate_per_sec;

	int64_t at;

	if (rate <= 0 || !(w->scn->faults.crash_services & (1u << in->svc)))
		return;
	at = from_us + world_exp_gap_us(&w->faults_rng, rate);

	if (at < w->end_us)
		world_push(w, at, WEV_CRASH, (int32_t)(in - w->inst), 0);
}

static void world_schedule_pause(struct sim_world *w, struct sim_instance *in, int64_t from_us)
{
	double rate = w->scn->faults.pause_rate_per_sec;
	int64_t at;

	if (rate <= 0)
		return;
	at = from_us + world_exp_gap_us(&w->faults_rng, rate);
	if (at < w->end_us)
		world_push(w, at, WEV_PAUSE, (int32_t)(in - w->inst), 0);
}

/* A stall: the instance keeps its state and group membership but does nothing for a while
 * (a GC pause, a slow disk), so the partitions it owns fall behind the others. */
static void world_pause(struct sim_world *w, struct sim_instance *in)
{
	const struct scn_range *r = &w->scn->faults.pause_ms;
	int64_t ms = rng_range(&w->faults_rng, r->lo, r->hi);

	if (in->alive && ms > 0) {
		in->paused_until = w->clock.now_us + ms * 1000;
		w->n_pauses++;
		w->n_faults++;
		world_trace(w, in->name, "pause", "%lldms", (long long)ms);
	}
	world_schedule_pause(w, in, in->paused_until > w->clock.now_us ? in->paused_until
									  : w->clock.now_us);
}

static void world_crash(struct sim_world *w, struct sim_instance *in, const char *why)
{
	const struct scn_range *r = &w->scn->faults.restart_after_ms;
	int64_t after_ms;

	if (!in->alive)
		return;
	instance_down(w, in, why);
	in->crashes++;
	w->n_crashes++;
	after_ms = r->hi > 0 ? rng_range(&w->faults_rng, r->lo, r->hi) : 0;
	in->restart_at = w->clock.now_us + after_ms * 1000 + 1;
	world_push(w, in->restart_at, WEV_RESTART, (int32_t)(in - w->inst), 0);
	world_schedule_crash(w, in, in->restart_at);
}

void world_reap(struct sim_world *w, struct sim_instance *in)
{
	if (in->alive && in->cp.crashed)
		world_crash(w, in, "crash point reached");
}

/* Traces what the simulated gateway and carrier refused or timed out since last time. */
static void world_adapter_faults(struct sim_world *w)
{
	struct sim_adapter_stats g, c;

	sim_gateway_stats(w->gateway, &g);
	sim_carrier_stats(w->carrier, &c);
	if (g.errors != w->gw_seen.errors || g.ambiguous != w->gw_seen.ambiguous ||
	    g.outage != w->gw_seen.outage) {
		world_trace(w, "gateway", "fault", "error+%llu ambiguous+%llu outage+%llu",
			    (unsigned long long)(g.errors - w->gw_seen.errors),
			    (unsigned long long)(g.ambiguous - w->gw_seen.ambiguous),
			    (unsigned long long)(g.outage - w->gw_seen.outage));
		w->n_faults += (g.errors - w->gw_seen.errors) + (g.ambiguous - w->gw_seen.ambiguous);
	}
	if (c.errors != w->carrier_seen.errors || c.ambiguous != w->carrier_seen.ambiguous ||
	    c.outage != w->carrier_seen.outage) {
		world_trace(w, "carrier", "fault", "error+%llu ambiguous+%llu outage+%llu",
			    (unsigned long long)(c.errors - w->carrier_seen.errors),
			    (unsigned long long)(c.ambiguous - w->carrier_seen.ambiguous),
			    (unsigned long long)(c.outage - w->carrier_seen.outage));
		w->n_faults += (c.errors - w->carrier_seen.errors) +
			       (c.ambiguous - w->carrier_seen.ambiguous);
	}
	w->gw_seen = g;
	w->carrier_seen = c;
}

static void world_step(struct sim_world *w, struct sim_instance *in)
{
	int64_t next = INT64_MAX, now = w->clock.now_us, release;
	int did;

	in->step_at = INT64_MAX;
	w->current = in;
	did = runtime_step(in->rt, &next);
	w->current = NULL;
	world_adapter_faults(w);
	if (in->cp.crashed) {
		world_reap(w, in);
		return;
	}
	release = fault_broker_next_release(in->broker);
	if (release > now && release != INT64_MAX)
		world_wake(w, in, release); /* a stalled partition's fetch resumes */
	if (did) {
		world_wake(w, in, now + rng_range(&in->sched_rng, WORLD_SERVICE_TIME_US_LO,
						  WORLD_SERVICE_TIME_US_HI));
		return;
	}
	if (next != INT64_MAX)
		world_wake(w, in, next > now ? next : now + 1);
	world_trace(w, in->name, "idle", "next=%lld", next == INT64_MAX ? -1LL : (long long)next);
}

/* ---- quiescence -------------------------------------------------------------------- */

struct quiet_scan {
	int64_t horizon_us;
	int busy;
	const char *why;
};

/* The sweeps' markers: the in-memory store indexes them from the first sweep on, so the
 * visit reads no cold document (an index on any other field would decode them all). */
static const char *const quiet_fields[] = { RT_KEY_OUTBOX_DUE, RT_KEY_WAKE_DUE };

static int quiet_doc(void *arg, const json_t *doc)
{
	struct quiet_scan *q = arg;
	int64_t wake = jsonx_int_or(doc, "wake_at", 0);

	if (jsonx_int_or(doc, "outbox_n", 0) > 0 ||
	    json_array_size(json_object_get(doc, "outbox")) > 0) {
		q->busy = 1;
		q->why = "outbox";
		return 1;
	}
	if (wake > 0 && wake <= q->horizon_us) {
		q->busy = 1;
		q->why = "timer";
		return 1;
	}
	return 0;
}

static const char *world_busy(struct sim_world *w)
{
	struct quiet_scan q = { .horizon_us = w->deadline_us };

	for (int i = 0; i < w->n_inst; i++)
		if (!w->inst[i].alive)
			return "instance down";
	if (w->n_pending > 0)
		return "order creation pending";
	for (size_t i = 0; i < w->scn->n_ops; i++)
		if (w->op_state[i] != 2)
			return "ops pending";
	for (int s = 0; s < SCN_SVC_COUNT; s++)
		if (mem_cluster_group_lag(w->cluster, w->groups[s]) > 0)
			return "messages pending";
	for (int s = 0; s < SCN_SVC_COUNT && !q.busy; s++) {
		const char **names = NULL;
		size_t n = 0;

		mem_store_collections(w->stores[s], &names, &n);
		/* A document with outbox entries carries outbox_due (the runtime's doc_seal and
		 * outbox removal keep them together), an armed timer wake_due: the others cannot
		 * be busy, so only those are visited. */
		for (size_t c = 0; c < n && !q.busy; c++)
			mem_store_foreach_having(w->stores[s], names[c], quiet_fields,
						 ECOM_ARRAY_LEN(quiet_fields), quiet_doc, &q);
		free(names);
	}
	return q.busy ? q.why : NULL;
}

/* ---- the phases ------------------------------------------------------------------------ */

static void world_phase_end(struct sim_world *w)
{
	struct sim_adapter_rates gr, cr;

	w->phase = PHASE_QUIET;
	w->plan.active = 0;
	memset(&gr, 0, sizeof(gr));
	memset(&cr, 0, sizeof(cr));
	gr.decline = w->scn->business.payment_decline;
	cr.decline = w->scn->business.shipping_failure;
	sim_gateway_set_rates(w->gateway, &gr);
	sim_carrier_set_rates(w->carrier, &cr);
	world_trace(w, "world", "quiet", "orders=%lld accepted=%lld", (long long)w->n_orders,
		    (long long)w->n_accepted);
	world_push(w, w->clock.now_us + WORLD_QUIESCE_CHECK_US, WEV_QUIESCE, 0, 0);
}

static void world_quiesce_check(struct sim_world *w)
{
	const char *busy = world_busy(w);

	if (!busy) {
		w->quiescent = 1;
		w->phase = PHASE_DONE;
		world_trace(w, "world", "quiescent", NULL);
		return;
	}
	if (w->clock.now_us >= w->deadline_us) {
		w->phase = PHASE_DONE;
		world_trace(w, "world", "quiesce_timeout", "%s", busy);
		return;
	}
	world_push(w, w->clock.now_us + WORLD_QUIESCE_CHECK_US, WEV_QUIESCE, 0, 0);
}

static void world_dispatch(struct sim_world *w, const struct sched_event *e)
{
	struct sim_instance *in = e->target >= 0 && e->target < w->n_inst ? &w->inst[e->target]
									  : NULL;

	switch ((enum world_ev)e->kind) {
	case WEV_STEP:
		if (!in->alive || e->arg != in->step_token)
			break;
		if (w->clock.now_us < in->paused_until) {
			in->step_at = INT64_MAX;
			world_wake(w, in, in->paused_until);
			break;
		}
		world_step(w, in);
		break;
	case WEV_PAUSE:
		if (w->phase == PHASE_RUN)
			world_pause(w, in);
		break;
	case WEV_ARRIVAL:
		workload_arrival(w);
		break;
	case WEV_CREATE:
		workload_create(w, e->arg);
		break;
	case WEV_OP:
		workload_op(w, (size_t)e->arg);
		break;
	case WEV_CRASH:
		if (w->phase == PHASE_RUN && in->alive)
			world_crash(w, in, "drawn");
		break;
	case WEV_RESTART:
		if (!in->alive && in->restart_at == e->at_us) {
			w->n_restarts++;
			instance_up(w, in);
		}
		break;
	case WEV_PHASE_END:
		world_phase_end(w);
		break;
	case WEV_QUIESCE:
		world_quiesce_check(w);
		break;
	}
}

/* Scripted crash (ops "crash"). */
void world_crash_named(struct sim_world *w, const char *name, int *ok)
{
	struct sim_instance *in = world_find(w, name);

	*ok = in && in->alive;
	if (*ok)
		world_crash(w, in, "scripted");
}

static void world_loop(struct sim_world *w)
{
	struct sched_event e;
	uint64_t same_time = 0;

	while (w->phase != PHASE_DONE && sched_pop(&w->sched, &e)) {
		if (++w->events > WORLD_EVENTS_MAX) {
			w->budget_exhausted = 1;
			world_trace(w, "world", "budget_exhausted", "%llu events",
				    (unsigned long long)WORLD_EVENTS_MAX);
			break;
		}
		ECOM_ASSERT(e.at_us >= w->clock.now_us);
		if (e.at_us == w->clock.now_us) {
			if (++same_time > WORLD_SAME_TIME_EVENTS_MAX) {
				/* virtual time stopped: something reschedules itself at "now" */
				w->livelock = 1;
				world_trace(w, "world", "livelock", "%llu events at one instant",
					    (unsigned long long)same_time);
				break;
			}
		} else {
			same_time = 0;
		}
		w->clock.now_us = e.at_us;
		world_dispatch(w, &e);
	}
}

/* ---- build and tear down -------------------------------------------------------------- */

static void world_adapters(struct sim_world *w)
{
	const struct scenario *s = w->scn;
	struct sim_adapter_rates gr, cr;

	memset(&gr, 0, sizeof(gr));
	memset(&cr, 0, sizeof(cr));
	gr.decline = s->business.payment_decline;
	gr.error = s->faults.gateway.error;
	gr.ambiguous = s->faults.gateway.ambiguous;
	for (size_t i = 0; i < s->faults.gateway.n_outages && i < SIM_OUTAGES_MAX; i++)
		gr.outages[gr.n_outages++] = (struct sim_outage){
			s->faults.gateway.outages_ms[i].lo * 1000,
			s->faults.gateway.outages_ms[i].hi * 1000 };
	cr.decline = s->business.shipping_failure;
	cr.error = s->faults.carrier.error;
	cr.ambiguous = s->faults.carrier.ambiguous;
	for (size_t i = 0; i < s->faults.carrier.n_outages && i < SIM_OUTAGES_MAX; i++)
		cr.outages[cr.n_outages++] = (struct sim_outage){
			s->faults.carrier.outages_ms[i].lo * 1000,
			s->faults.carrier.outages_ms[i].hi * 1000 };
	w->gateway = sim_gateway_new(&gr, &w->gateway_rng, &w->clock.base);
	w->carrier = sim_carrier_new(&cr, &w->carrier_rng, &w->clock.base);
}

static void world_plan(struct sim_world *w)
{
	const struct scenario *s = w->scn;

	memset(&w->plan, 0, sizeof(w->plan));
	w->plan.rng = &w->faults_rng;
	w->plan.active = 1;
	w->plan.duplicate_delivery = s->faults.duplicate_delivery;
	w->plan.produce_error = s->faults.produce_error;
	w->plan.poison = s->faults.poison;
	w->plan.store_error = s->faults.store_error;
	w->plan.store_ambiguous = s->faults.store_ambiguous;
	w->plan.partition_stall = s->faults.partition_stall;
	w->plan.stall_ms_lo = s->faults.partition_stall_ms.lo;
	w->plan.stall_ms_hi = s->faults.partition_stall_ms.hi;
	w->plan.clock = &w->clock.base;
	w->plan.arg = w;
	w->plan.on_fault = plan_on_fault;
	w->plan.on_poison = plan_on_poison;
	w->plan.on_deliver = plan_on_deliver;
}

static void world_instances(struct sim_world *w)
{
	for (int s = 0; s < SCN_SVC_COUNT; s++) {
		const struct svc_def *def = world_binding((enum scn_service)s)->def();

		snprintf(w->groups[s], sizeof(w->groups[s]), "%s-service-group", def->name);
		for (size_t i = 0; i < def->n_types; i++)
			w->topics[s][w->n_topics[s]++] = event_type_name(def->types[i]);
		for (size_t i = 0; i < def->n_extra_topics; i++)
			w->topics[s][w->n_topics[s]++] = def->extra_topics[i];
		for (int k = 1; k <= w->scn->services[s]; k++) {
			struct sim_instance *in = &w->inst[w->n_inst++];
			char label[64];

			in->w = w;
			in->svc = (enum scn_service)s;
			in->index = k;
			snprintf(in->name, sizeof(in->name), "%s#%d",
				 scn_service_name((enum scn_service)s), k);
			rng_seed_named(&in->rng, w->seed, in->name);
			snprintf(label, sizeof(label), "%s/sched", in->name);
			rng_seed_named(&in->sched_rng, w->seed, label);
			in->store = fault_store_new(w->stores[s], 0, &w->plan, &in->cp, in->name);
			in->step_at = INT64_MAX;
		}
	}
}


static void world_build(struct sim_world *w)
{
	const struct scenario *s = w->scn;
	struct mem_cluster_hooks hooks = {
		.arg = w,
		.visible_at = hook_visible_at,
		.on_append = hook_on_append,
		.on_rebalance = hook_on_rebalance,
	};

	manual_clock_init(&w->clock, WORLD_WALL_EPOCH_MS);
	rng_seed_named(&w->workload_rng, w->seed, "workload");
	rng_seed_named(&w->faults_rng, w->seed, "faults");
	rng_seed_named(&w->gateway_rng, w->seed, "gateway");
	rng_seed_named(&w->carrier_rng, w->seed, "carrier");
	rng_seed_named(&w->catalog_rng, w->seed, "catalog");
	if (s->catalog.price_cents.lo == s->catalog.price_cents.hi)
		catalog_init_uniform(&w->catalog, (size_t)s->catalog.skus, s->catalog.price_cents.lo,
				     s->catalog.stock);
	else
		catalog_init_random(&w->catalog, (size_t)s->catalog.skus, s->catalog.stock,
				    s->catalog.price_cents.lo, s->catalog.price_cents.hi,
				    &w->catalog_rng);
	w->cluster = mem_cluster_new(s->partitions, &w->clock.base);
	mem_cluster_set_hooks(w->cluster, &hooks);
	mem_cluster_set_retention(w->cluster, WORLD_LOG_KEEP);
	w->admin = mem_broker_new(w->cluster, "admin");
	for (int i = 0; i < SCN_SVC_COUNT; i++) {
		w->stores[i] = mem_store_new();
		/* the sweeps' and the quiet check's fields (world_busy) */
		mem_store_index_field(w->stores[i], RT_KEY_OUTBOX_DUE);
		mem_store_index_field(w->stores[i], RT_KEY_WAKE_DUE);
	}
	world_adapters(w);
	world_plan(w);
	sched_init(&w->sched, SCHED_EVENTS_MAX);
	sim_trace_init(&w->trace);
	cov_counts_init(&w->cov);
	cov_trace_begin(&w->cov);
	w->trace.jsonl = w->opt->trace_jsonl;
	w->trace.record = w->opt->record_lines;
	w->trace.expect = w->opt->expect_lines;
	w->trace.n_expect = w->opt->n_expect_lines;
	w->trace.capture_at = w->opt->capture_line;
	inv_report_init(&w->inv);
	w->broken = json_object();
	w->op_results = json_array();
	w->end_us = s->run.duration_ms * 1000;
	w->deadline_us = w->end_us + s->run.quiesce_ms * 1000;
	world_seed_stock(w);
	world_instances(w);
}

static void world_free(struct sim_world *w)
{
	/* The run is over and hashed: tearing down must not add trace lines (rebalances). */
	mem_cluster_set_hooks(w->cluster, NULL);
	w->trace.jsonl = NULL;
	for (int i = 0; i < w->n_inst; i++) {
		struct sim_instance *in = &w->inst[i];

		if (in->alive) {
			const struct svc_binding *b = world_binding(in->svc);

			if (b->attach)
				b->attach(in->svc_obj, NULL);
			runtime_free(in->rt);
			broker_destroy(in->broker);
			b->free(in->svc_obj);
			in->alive = 0;
		}
		store_destroy(in->store);
	}
	broker_destroy(w->admin);
	mem_cluster_free(w->cluster);
	for (int i = 0; i < SCN_SVC_COUNT; i++)
		store_destroy(w->stores[i]);
	sim_gateway_free(w->gateway);
	sim_carrier_free(w->carrier);
	catalog_deinit(&w->catalog);
	sched_deinit(&w->sched);
	sim_trace_deinit(&w->trace);
	inv_report_deinit(&w->inv);
	inv_logidx_free(&w->logidx);
	json_decref(w->broken);
	json_decref(w->op_results);
	workload_free(w);
	for (size_t i = 0; i < w->n_poison; i++) {
		free(w->poison[i].topic);
		free(w->poison[i].value);
	}
	free(w->poison);
}

/* ---- the run ------------------------------------------------------------------------ */

#if defined(__SANITIZE_ADDRESS__)
#define WORLD_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WORLD_UNDER_ASAN 1
#endif
#endif
#ifndef WORLD_UNDER_ASAN
#define WORLD_UNDER_ASAN 0
#endif

int sim_run(const struct scenario *s, const struct sim_options *o, struct sim_result *res,
	    struct ecom_err *err)
{
	struct sim_options defaults;
	struct sim_world *w;

	ECOM_ASSERT(s && res);
	(void)err;
	memset(res, 0, sizeof(*res));
	res->first_diff = -1;
	if (!o) {
		sim_options_init(&defaults);
		o = &defaults;
	}
	w = ecom_xcalloc(1, sizeof(*w));
	w->scn = s;
	w->opt = o;
	w->seed = o->seed_set ? o->seed : s->seed;
	envelope_memo(1);
	world_build(w);
	world_trace(w, "world", "begin", "scenario=%s seed=%llu", s->name,
		    (unsigned long long)w->seed);
	for (int i = 0; i < w->n_inst; i++)
		instance_up(w, &w->inst[i]);
	for (int i = 0; i < w->n_inst; i++)
		world_schedule_crash(w, &w->inst[i], 0);
	for (int i = 0; i < w->n_inst; i++)
		world_schedule_pause(w, &w->inst[i], 0);
	workload_start(w);
	for (size_t i = 0; i < s->n_ops; i++)
		world_push(w, s->ops[i].at_ms * 1000, WEV_OP, -1, (int64_t)i);
	world_push(w, w->end_us, WEV_PHASE_END, -1, 0);
	world_loop(w);
	world_summary(w, res);
	envelope_memo(0);
	if (!o->skip_free || WORLD_UNDER_ASAN) {
		world_free(w);
		free(w);
	}
	return ECOM_OK;
}

void sim_result_deinit(struct sim_result *res)
{
	if (!res)
		return;
	json_decref(res->summary);
	free(res->line_hashes);
	memset(res, 0, sizeof(*res));
}
