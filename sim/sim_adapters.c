/* sim_adapters.c — the simulated payment gateway and carrier (sim_adapters.h).
 * Idempotency records, captures and per-order ledgers live in growable arrays indexed by a
 * string hash map with a fixed hash (FNV-1a), so nothing depends on pointer values or
 * seeds; listings copy the ledger and sort it by order id. The first outcome of a key is
 * final: replays never add an effect, and an ambiguous answer has already been applied. */
#include "sim/sim_adapters.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ecom.h"

/* ---- a string -> index map (open addressing, linear probing, fixed hash) ------------- */

#define STRMAP_INITIAL_CAP 64 /* a power of two */

struct strmap_slot {
	char *key; /* owned; NULL = empty */
	size_t idx;
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap; /* a power of two */
	size_t n;
};

static uint64_t strmap_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void strmap_init(struct strmap *m)
{
	m->cap = STRMAP_INITIAL_CAP;
	m->n = 0;
	m->slots = ecom_xcalloc(m->cap, sizeof(*m->slots));
}

static void strmap_deinit(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

/* The slot holding key, or the empty slot where it would go. The table is never full
 * (load <= 70%), so the probe always ends within cap steps. */
static struct strmap_slot *strmap_slot(const struct strmap *m, const char *key)
{
	size_t mask = m->cap - 1;
	size_t i = (size_t)strmap_hash(key) & mask;

	for (size_t probes = 0; probes < m->cap; probes++) {
		struct strmap_slot *s = &m->slots[i];

		if (!s->key || strcmp(s->key, key) == 0)
			return s;
		i = (i + 1) & mask;
	}
	ECOM_ASSERT(!"strmap full");
	return NULL;
}

/* 1 and *idx set if present, else 0. */
static int strmap_get(const struct strmap *m, const char *key, size_t *idx)
{
	const struct strmap_slot *s = strmap_slot(m, key);

	if (!s->key)
		return 0;
	*idx = s->idx;
	return 1;
}

static void strmap_grow(struct strmap *m)
{
	struct strmap old = *m;

	m->cap = old.cap * 2;
	m->n = 0;
	m->slots = ecom_xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < old.cap; i++) {
		struct strmap_slot *s;

		if (!old.slots[i].key)
			continue;
		s = strmap_slot(m, old.slots[i].key);
		*s = old.slots[i];
		m->n++;
	}
	free(old.slots);
}

/* key must be absent. */
static void strmap_put(struct strmap *m, const char *key, size_t idx)
{
	struct strmap_slot *s;

	if ((m->n + 1) * 10 > m->cap * 7)
		strmap_grow(m);
	s = strmap_slot(m, key);
	ECOM_ASSERT(!s->key);
	s->key = ecom_xstrdup(key);
	s->idx = idx;
	m->n++;
}

/* ---- shared pieces ---------------------------------------------------------------- */

enum sim_op { SIM_OP_CHARGE = 1, SIM_OP_REFUND, SIM_OP_BOOK };

/* The first outcome of an idempotency key. */
struct sim_key_rec {
	enum sim_op op;
	char order_id[SIM_ORDER_ID_MAX];
	char ref[ADAPTER_ID_MAX]; /* refund: the capture's auth id */
	int64_t amount_cents;
	int rc;                   /* ECOM_OK or ECOM_REFUSED */
	char id[ADAPTER_ID_MAX];  /* auth id / refund id / tracking id */
	char name[ADAPTER_ID_MAX]; /* carrier name */
	char reason[ADAPTER_REASON_MAX];
};

struct sim_keys {
	struct strmap map;
	struct sim_key_rec *v;
	size_t n, cap;
};

static void sim_keys_init(struct sim_keys *k)
{
	strmap_init(&k->map);
	k->v = NULL;
	k->n = k->cap = 0;
}

static void sim_keys_deinit(struct sim_keys *k)
{
	strmap_deinit(&k->map);
	free(k->v);
}

static struct sim_key_rec *sim_keys_find(struct sim_keys *k, const char *key)
{
	size_t idx;

	return strmap_get(&k->map, key, &idx) ? &k->v[idx] : NULL;
}

static struct sim_key_rec *sim_keys_add(struct sim_keys *k, const char *key)
{
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 64;
		k->v = ecom_xrealloc(k->v, k->cap * sizeof(*k->v));
	}
	memset(&k->v[k->n], 0, sizeof(k->v[k->n]));
	strmap_put(&k->map, key, k->n);
	return &k->v[k->n++];
}

static void sim_copy(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static int sim_in_outage(const struct sim_adapter_rates *r, struct eclock *clock)
{
	int64_t now;

	if (!r->n_outages)
		return 0;
	now = clock_now_us(clock);
	for (size_t i = 0; i < r->n_outages; i++)
		if (now >= r->outages[i].from_us && now < r->outages[i].to_us)
			return 1;
	return 0;
}

static void sim_rates_check(const struct sim_adapter_rates *r, struct eclock *clock)
{
	ECOM_ASSERT(r && r->n_outages <= SIM_OUTAGES_MAX);
	ECOM_ASSERT(!r->n_outages || clock);
}

/* What the dice say for one call that reached the adapter. */
struct sim_draws {
	int ambiguous;
	int decline;
};

/* Outage and transient error: ECOM_UNAVAILABLE with nothing applied. Otherwise draws the
 * ambiguous and decline dice (always three draws, so one call never shifts another's). */
static int sim_gate(const struct sim_adapter_rates *r, struct rng *rng, struct eclock *clock,
		    struct sim_adapter_stats *st, struct sim_draws *d,
		    char reason[ADAPTER_REASON_MAX])
{
	int err;

	st->calls++;
	if (sim_in_outage(r, clock)) {
		st->outage++;
		sim_copy(reason, ADAPTER_REASON_MAX, "outage");
		return ECOM_UNAVAILABLE;
	}
	err = rng_chance(rng, r->error);
	d->ambiguous = rng_chance(rng, r->ambiguous);
	d->decline = rng_chance(rng, r->decline);
	if (err) {
		st->errors++;
		sim_copy(reason, ADAPTER_REASON_MAX, "unavailable");
		return ECOM_UNAVAILABLE;
	}
	return ECOM_OK;
}

/* The outcome rc of an applied (or replayed) call, as the caller hears it. On AMBIGUOUS
 * the outputs are cleared: the caller must not learn what happened. */
static int sim_answer(int rc, const struct sim_draws *d, struct sim_adapter_stats *st,
		      char *id, char *name, char reason[ADAPTER_REASON_MAX])
{
	if (!d->ambiguous)
		return rc;
	st->ambiguous++;
	if (id)
		id[0] = '\0';
	if (name)
		name[0] = '\0';
	sim_copy(reason, ADAPTER_REASON_MAX, "timeout");
	return ECOM_AMBIGUOUS;
}

static void sim_new_id(struct rng *rng, const char *prefix, char out[ADAPTER_ID_MAX])
{
	snprintf(out, ADAPTER_ID_MAX, "%s%016" PRIx64, prefix, rng_next(rng));
}

/* ---- gateway ---------------------------------------------------------------------- */

struct sim_capture {
	size_t order; /* index into ledger */
	int64_t amount_cents;
	int64_t refunded_cents;
};

struct sim_gateway {
	struct gateway base; /* first: a struct sim_gateway * is a struct gateway * */
	struct sim_adapter_rates rates;
	struct rng *rng;
	struct eclock *clock;
	struct sim_adapter_stats stats;
	struct sim_keys keys;
	struct strmap order_map; /* order id -> ledger index */
	struct sim_ledger_entry *ledger;
	size_t n_ledger, cap_ledger;
	struct strmap capture_map; /* auth id -> captures index */
	struct sim_capture *captures;
	size_t n_captures, cap_captures;
};

static struct sim_ledger_entry *gw_ledger(struct sim_gateway *g, const char *order_id)
{
	size_t idx;

	if (strmap_get(&g->order_map, order_id, &idx))
		return &g->ledger[idx];
	if (g->n_ledger == g->cap_ledger) {
		g->cap_ledger = g->cap_ledger ? g->cap_ledger * 2 : 64;
		g->ledger = ecom_xrealloc(g->ledger, g->cap_ledger * sizeof(*g->ledger));
	}
	memset(&g->ledger[g->n_ledger], 0, sizeof(g->ledger[g->n_ledger]));
	sim_copy(g->ledger[g->n_ledger].order_id, SIM_ORDER_ID_MAX, order_id);
	strmap_put(&g->order_map, order_id, g->n_ledger);
	return &g->ledger[g->n_ledger++];
}

static void gw_add_capture(struct sim_gateway *g, const char *auth_id, const char *order_id,
			   int64_t cents)
{
	struct sim_ledger_entry *e = gw_ledger(g, order_id);
	size_t order_idx = (size_t)(e - g->ledger);
	struct sim_capture *c;

	if (g->n_captures == g->cap_captures) {
		g->cap_captures = g->cap_captures ? g->cap_captures * 2 : 64;
		g->captures = ecom_xrealloc(g->captures, g->cap_captures * sizeof(*g->captures));
	}
	c = &g->captures[g->n_captures];
	c->order = order_idx;
	c->amount_cents = cents;
	c->refunded_cents = 0;
	strmap_put(&g->capture_map, auth_id, g->n_captures++);
	e->charges++;
	e->captured_cents += cents;
	e->outstanding++;
	if (e->outstanding > e->max_outstanding)
		e->max_outstanding = e->outstanding;
}

static int gw_charge(struct gateway *gw, const char *key, const char *order_id, int64_t cents,
		     char auth_id[ADAPTER_ID_MAX], char reason[ADAPTER_REASON_MAX])
{
	struct sim_gateway *g = (struct sim_gateway *)gw;
	struct sim_draws d;
	struct sim_key_rec *rec;
	int rc;

	rc = sim_gate(&g->rates, g->rng, g->clock, &g->stats, &d, reason);
	if (rc != ECOM_OK)
		return rc;
	rec = sim_keys_find(&g->keys, key);
	if (rec) {
		if (rec->op != SIM_OP_CHARGE || strcmp(rec->order_id, order_id) != 0 ||
		    rec->amount_cents != cents) {
			g->stats.conflicts++;
			sim_copy(reason, ADAPTER_REASON_MAX, "idempotency_key_reuse");
			return ECOM_CONFLICT;
		}
		g->stats.replays++;
	} else {
		rec = sim_keys_add(&g->keys, key);
		rec->op = SIM_OP_CHARGE;
		sim_copy(rec->order_id, sizeof(rec->order_id), order_id);
		rec->amount_cents = cents;
		if (d.decline) {
			rec->rc = ECOM_REFUSED;
			sim_copy(rec->reason, sizeof(rec->reason), "card_declined");
			gw_ledger(g, order_id)->declines++;
		} else {
			rec->rc = ECOM_OK;
			sim_new_id(g->rng, "au_", rec->id);
			gw_add_capture(g, rec->id, order_id, cents);
		}
	}
	sim_copy(auth_id, ADAPTER_ID_MAX, rec->id);
	sim_copy(reason, ADAPTER_REASON_MAX, rec->reason);
	return sim_answer(rec->rc, &d, &g->stats, auth_id, NULL, reason);
}

/* A new refund: ECOM_INVALID unless auth_id is a capture of order_id with enough left. */
static int gw_refund_apply(struct sim_gateway *g, const char *order_id, const char *auth_id,
			   int64_t cents, char reason[ADAPTER_REASON_MAX])
{
	struct sim_capture *c;
	struct sim_ledger_entry *e;
	size_t idx;

	if (!strmap_get(&g->capture_map, auth_id, &idx) ||
	    strcmp(g->ledger[g->captures[idx].order].order_id, order_id) != 0) {
		sim_copy(reason, ADAPTER_REASON_MAX, "unknown_capture");
		return ECOM_INVALID;
	}
	c = &g->captures[idx];
	if (cents > c->amount_cents - c->refunded_cents) {
		sim_copy(reason, ADAPTER_REASON_MAX, "refund_exceeds_capture");
		return ECOM_INVALID;
	}
	e = &g->ledger[c->order];
	c->refunded_cents += cents;
	e->refunds++;
	e->refunded_cents += cents;
	if (c->refunded_cents == c->amount_cents)
		e->outstanding--;
	return ECOM_OK;
}

static int gw_refund(struct gateway *gw, const char *key, const char *order_id,
		     const char *auth_id, int64_t cents, char refund_id[ADAPTER_ID_MAX],
		     char reason[ADAPTER_REASON_MAX])
{
	struct sim_gateway *g = (struct sim_gateway *)gw;
	struct sim_draws d;
	struct sim_key_rec *rec;
	int rc;

	rc = sim_gate(&g->rates, g->rng, g->clock, &g->stats, &d, reason);
	if (rc != ECOM_OK)
		return rc;
	rec = sim_keys_find(&g->keys, key);
	if (rec) {
		if (rec->op != SIM_OP_REFUND || strcmp(rec->order_id, order_id) != 0 ||
		    strcmp(rec->ref, auth_id) != 0 || rec->amount_cents != cents) {
			g->stats.conflicts++;
			sim_copy(reason, ADAPTER_REASON_MAX, "idempotency_key_reuse");
			return ECOM_CONFLICT;
		}
		g->stats.replays++;
	} else {
		rc = gw_refund_apply(g, order_id, auth_id, cents, reason);
		if (rc != ECOM_OK) {
			g->stats.invalid++;
			return rc; /* not an effect: the key stays unused */
		}
		rec = sim_keys_add(&g->keys, key);
		rec->op = SIM_OP_REFUND;
		sim_copy(rec->order_id, sizeof(rec->order_id), order_id);
		sim_copy(rec->ref, sizeof(rec->ref), auth_id);
		rec->amount_cents = cents;
		rec->rc = ECOM_OK;
		sim_new_id(g->rng, "rf_", rec->id);
	}
	sim_copy(refund_id, ADAPTER_ID_MAX, rec->id);
	sim_copy(reason, ADAPTER_REASON_MAX, rec->reason);
	return sim_answer(rec->rc, &d, &g->stats, refund_id, NULL, reason);
}

static const struct gateway_ops sim_gateway_ops = {
	.name = "sim-gateway",
	.charge = gw_charge,
	.refund = gw_refund,
};

struct sim_gateway *sim_gateway_new(const struct sim_adapter_rates *r, struct rng *rng,
				    struct eclock *clock)
{
	struct sim_gateway *g;

	ECOM_ASSERT(rng);
	sim_rates_check(r, clock);
	g = ecom_xcalloc(1, sizeof(*g));
	g->base.ops = &sim_gateway_ops;
	g->rates = *r;
	g->rng = rng;
	g->clock = clock;
	sim_keys_init(&g->keys);
	strmap_init(&g->order_map);
	strmap_init(&g->capture_map);
	return g;
}

void sim_gateway_free(struct sim_gateway *g)
{
	if (!g)
		return;
	sim_keys_deinit(&g->keys);
	strmap_deinit(&g->order_map);
	strmap_deinit(&g->capture_map);
	free(g->ledger);
	free(g->captures);
	free(g);
}

struct gateway *sim_gateway_iface(struct sim_gateway *g)
{
	ECOM_ASSERT(g);
	return &g->base;
}

void sim_gateway_set_rates(struct sim_gateway *g, const struct sim_adapter_rates *r)
{
	sim_rates_check(r, g->clock);
	g->rates = *r;
}

int sim_gateway_order(const struct sim_gateway *g, const char *order_id,
		      struct sim_ledger_entry *out)
{
	size_t idx;

	ECOM_ASSERT(g && order_id && out);
	if (!strmap_get(&g->order_map, order_id, &idx))
		return ECOM_NOT_FOUND;
	*out = g->ledger[idx];
	return ECOM_OK;
}

size_t sim_gateway_order_count(const struct sim_gateway *g)
{
	return g->n_ledger;
}

/* Sorting helper shared by both listings: the order id is each entry's first member. */
static int sim_order_id_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Pointers to n entries of `size` bytes starting at base, sorted by their leading order id. */
static const char **sim_sorted(const void *base, size_t n, size_t size)
{
	const char **v = ecom_xcalloc(n ? n : 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = (const char *)base + i * size;
	if (n > 1)
		qsort(v, n, sizeof(*v), sim_order_id_cmp);
	return v;
}

int sim_gateway_foreach(const struct sim_gateway *g,
			int (*fn)(void *arg, const struct sim_ledger_entry *e), void *arg)
{
	const char **v = sim_sorted(g->ledger, g->n_ledger, sizeof(*g->ledger));
	int rc = 0;

	for (size_t i = 0; i < g->n_ledger && rc == 0; i++)
		rc = fn(arg, (const struct sim_ledger_entry *)(const void *)v[i]);
	free(v);
	return rc;
}

void sim_gateway_stats(const struct sim_gateway *g, struct sim_adapter_stats *out)
{
	*out = g->stats;
}

/* ---- carrier ---------------------------------------------------------------------- */

struct sim_carrier {
	struct carrier base; /* first */
	struct sim_adapter_rates rates;
	struct rng *rng;
	struct eclock *clock;
	struct sim_adapter_stats stats;
	struct sim_keys keys;
	struct strmap order_map;
	struct sim_booking_entry *ledger;
	size_t n_ledger, cap_ledger;
};

static struct sim_booking_entry *car_ledger(struct sim_carrier *c, const char *order_id)
{
	size_t idx;

	if (strmap_get(&c->order_map, order_id, &idx))
		return &c->ledger[idx];
	if (c->n_ledger == c->cap_ledger) {
		c->cap_ledger = c->cap_ledger ? c->cap_ledger * 2 : 64;
		c->ledger = ecom_xrealloc(c->ledger, c->cap_ledger * sizeof(*c->ledger));
	}
	memset(&c->ledger[c->n_ledger], 0, sizeof(c->ledger[c->n_ledger]));
	sim_copy(c->ledger[c->n_ledger].order_id, SIM_ORDER_ID_MAX, order_id);
	strmap_put(&c->order_map, order_id, c->n_ledger);
	return &c->ledger[c->n_ledger++];
}

static int car_book(struct carrier *cr, const char *key, const char *order_id,
		    char name[ADAPTER_ID_MAX], char tracking[ADAPTER_ID_MAX],
		    char reason[ADAPTER_REASON_MAX])
{
	static const char *const names[] = SIM_CARRIER_NAMES;
	struct sim_carrier *c = (struct sim_carrier *)cr;
	struct sim_draws d;
	struct sim_key_rec *rec;
	int rc;

	rc = sim_gate(&c->rates, c->rng, c->clock, &c->stats, &d, reason);
	if (rc != ECOM_OK)
		return rc;
	rec = sim_keys_find(&c->keys, key);
	if (rec) {
		if (strcmp(rec->order_id, order_id) != 0) {
			c->stats.conflicts++;
			sim_copy(reason, ADAPTER_REASON_MAX, "idempotency_key_reuse");
			return ECOM_CONFLICT;
		}
		c->stats.replays++;
	} else {
		rec = sim_keys_add(&c->keys, key);
		rec->op = SIM_OP_BOOK;
		sim_copy(rec->order_id, sizeof(rec->order_id), order_id);
		if (d.decline) {
			rec->rc = ECOM_REFUSED;
			sim_copy(rec->reason, sizeof(rec->reason), "carrier_error");
			car_ledger(c, order_id)->failures++;
		} else {
			rec->rc = ECOM_OK;
			sim_copy(rec->name, sizeof(rec->name),
				 names[rng_below(c->rng, ECOM_ARRAY_LEN(names))]);
			sim_new_id(c->rng, "TRK", rec->id);
			car_ledger(c, order_id)->bookings++;
		}
	}
	sim_copy(name, ADAPTER_ID_MAX, rec->name);
	sim_copy(tracking, ADAPTER_ID_MAX, rec->id);
	sim_copy(reason, ADAPTER_REASON_MAX, rec->reason);
	return sim_answer(rec->rc, &d, &c->stats, tracking, name, reason);
}

static const struct carrier_ops sim_carrier_ops = {
	.name = "sim-carrier",
	.book = car_book,
};

struct sim_carrier *sim_carrier_new(const struct sim_adapter_rates *r, struct rng *rng,
				    struct eclock *clock)
{
	struct sim_carrier *c;

	ECOM_ASSERT(rng);
	sim_rates_check(r, clock);
	c = ecom_xcalloc(1, sizeof(*c));
	c->base.ops = &sim_carrier_ops;
	c->rates = *r;
	c->rng = rng;
	c->clock = clock;
	sim_keys_init(&c->keys);
	strmap_init(&c->order_map);
	return c;
}

void sim_carrier_free(struct sim_carrier *c)
{
	if (!c)
		return;
	sim_keys_deinit(&c->keys);
	strmap_deinit(&c->order_map);
	free(c->ledger);
	free(c);
}

struct carrier *sim_carrier_iface(struct sim_carrier *c)
{
	ECOM_ASSERT(c);
	return &c->base;
}

void sim_carrier_set_rates(struct sim_carrier *c, const struct sim_adapter_rates *r)
{
	sim_rates_check(r, c->clock);
	c->rates = *r;
}

int sim_carrier_order(const struct sim_carrier *c, const char *order_id,
		      struct sim_booking_entry *out)
{
	size_t idx;

	ECOM_ASSERT(c && order_id && out);
	if (!strmap_get(&c->order_map, order_id, &idx))
		return ECOM_NOT_FOUND;
	*out = c->ledger[idx];
	return ECOM_OK;
}

size_t sim_carrier_order_count(const struct sim_carrier *c)
{
	return c->n_ledger;
}

int sim_carrier_foreach(const struct sim_carrier *c,
			int (*fn)(void *arg, const struct sim_booking_entry *e), void *arg)
{
	const char **v = sim_sorted(c->ledger, c->n_ledger, sizeof(*c->ledger));
	int rc = 0;

	for (size_t i = 0; i < c->n_ledger && rc == 0; i++)
		rc = fn(arg, (const struct sim_booking_entry *)(const void *)v[i]);
	free(v);
	return rc;
}

void sim_carrier_stats(const struct sim_carrier *c, struct sim_adapter_stats *out)
{
	*out = c->stats;
}
