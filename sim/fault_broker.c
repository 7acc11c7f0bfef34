/* fault_broker.c — the fault-injecting broker wrapper. Faults are decided before or after
 * delegating to the inner broker, never by changing what the inner broker stores: a
 * produce error appends nothing, a duplicate is a copy of a message the inner broker really
 * delivered, and poison is a separate, real append after the message it follows. */
#include "sim/fault_broker.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ecom.h"

#define FB_NAME_MAX 64

/* An owned copy of a delivered message (for duplicate delivery). */
struct fb_copy {
	int used;
	struct broker_msg msg;
	char *topic, *key, *value;
	struct broker_header headers[BROKER_MAX_HEADERS];
	char *hkeys[BROKER_MAX_HEADERS], *hvals[BROKER_MAX_HEADERS];
};

/* A message held back because its partition's fetch stalls. */
struct fb_held {
	struct fb_copy c;
	int64_t release_us; /* 0: behind an earlier held message of its partition */
};

struct fault_broker {
	struct broker base; /* first */
	struct broker *inner;
	struct fault_plan *plan;
	struct fault_crashpoint *cp;
	char name[FB_NAME_MAX];
	struct fb_copy pending; /* to hand out again at the next poll */
	struct fb_copy last;    /* what the previous poll returned from a copy */
	struct fb_held *held;   /* FIFO in arrival order */
	size_t n_held, cap_held;
};

static void fb_copy_clear(struct fb_copy *c)
{
	if (!c->used)
		return;
	json_decref(c->msg.parsed);
	free(c->topic);
	free(c->key);
	free(c->value);
	for (size_t i = 0; i < c->msg.n_headers; i++) {
		free(c->hkeys[i]);
		free(c->hvals[i]);
	}
	memset(c, 0, sizeof(*c));
}

static void fb_copy_set(struct fb_copy *c, const struct broker_msg *m)
{
	size_t n = m->n_headers < BROKER_MAX_HEADERS ? m->n_headers : BROKER_MAX_HEADERS;

	fb_copy_clear(c);
	c->used = 1;
	c->msg = *m;
	if (m->parsed)
		json_incref(m->parsed);
	c->topic = ecom_xstrdup(m->topic);
	c->key = m->key ? ecom_xstrndup(m->key, m->key_len) : NULL;
	c->value = ecom_xmalloc(m->value_len + 1);
	if (m->value_len)
		memcpy(c->value, m->value, m->value_len);
	c->value[m->value_len] = '\0';
	for (size_t i = 0; i < n; i++) {
		c->hkeys[i] = ecom_xstrdup(m->headers[i].key);
		c->hvals[i] = ecom_xstrdup(m->headers[i].value);
		c->headers[i] = (struct broker_header){ c->hkeys[i], c->hvals[i] };
	}
	c->msg.topic = c->topic;
	c->msg.key = c->key;
	c->msg.value = c->value;
	c->msg.headers = n ? c->headers : NULL;
	c->msg.n_headers = n;
}

static void fb_move(struct fb_copy *dst, struct fb_copy *src)
{
	fb_copy_clear(dst);
	*dst = *src;
	/* The struct holds pointers into itself (headers): re-point them. */
	if (dst->msg.n_headers)
		dst->msg.headers = dst->headers;
	memset(src, 0, sizeof(*src));
}

static void fb_report(struct fault_broker *fb, const char *what, const char *detail)
{
	if (fb->plan && fb->plan->on_fault)
		fb->plan->on_fault(fb->plan->arg, fb->name, what, detail);
}

static int fb_is_dlq(const char *topic)
{
	size_t n = strlen(topic);

	return n >= 4 && strcmp(topic + n - 4, ".dlq") == 0;
}

char *fault_poison_build(enum fault_poison_kind kind, const char *topic, const char *key,
			 const char *poison_id, size_t *len)
{
	size_t cap = strlen(topic) + (key ? strlen(key) : 0) + 2 * strlen(poison_id) + 400;
	char *buf = ecom_xmalloc(cap);
	const char *k = key ? key : poison_id;
	int n = 0;

	switch (kind) {
	case FAULT_POISON_MALFORMED:
		n = snprintf(buf, cap, "{\"eventId\":\"%s\",\"type\":\"%s\",\"payload\":{\"orderId\":",
			     poison_id, topic);
		break;
	case FAULT_POISON_SCHEMA:
		n = snprintf(buf, cap,
			     "{\"eventId\":\"%s\",\"type\":\"%s\",\"version\":1,"
			     "\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"correlationId\":\"%s\","
			     "\"causationId\":null,\"key\":\"%s\","
			     "\"payload\":{\"orderId\":404,\"poison\":\"schema\"},\"headers\":{}}",
			     poison_id, topic, poison_id, k);
		break;
	case FAULT_POISON_UNKNOWN_TYPE:
		n = snprintf(buf, cap,
			     "{\"eventId\":\"%s\",\"type\":\"poison.Unknown.v1\",\"version\":1,"
			     "\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"correlationId\":\"%s\","
			     "\"causationId\":null,\"key\":\"%s\","
			     "\"payload\":{\"orderId\":\"%s\"},\"headers\":{}}",
			     poison_id, poison_id, k, k);
		break;
	default:
		ECOM_ASSERT(0);
	}
	ECOM_ASSERT(n > 0 && (size_t)n < cap);
	*len = (size_t)n;
	return buf;
}

/* After a real append to a saga topic: maybe append one poison message behind it, keyed
 * like it so it lands in the same partition. */
static void fb_maybe_poison(struct fault_broker *fb, const struct broker_record *rec)
{
	struct fault_plan *plan = fb->plan;
	enum fault_poison_kind kind;
	struct broker_record p;
	char id[48], detail[200];
	size_t len;
	char *value;
	int rc;

	if (fb_is_dlq(rec->topic) || !fault_draw(plan, plan ? plan->poison : 0))
		return;
	kind = (enum fault_poison_kind)rng_below(plan->rng, FAULT_POISON__COUNT);
	snprintf(id, sizeof(id), "poison-%llu", (unsigned long long)++plan->poison_seq);
	char *key = rec->key ? ecom_xstrndup(rec->key, rec->key_len) : NULL;

	value = fault_poison_build(kind, rec->topic, key, id, &len);
	p = (struct broker_record){ .topic = rec->topic, .key = rec->key, .key_len = rec->key_len,
				    .value = value, .value_len = len };
	rc = fb->inner->ops->produce(fb->inner, &p, NULL);
	snprintf(detail, sizeof(detail), "%s topic=%s kind=%s rc=%s", id, rec->topic,
		 fault_poison_kind_name(kind), ecom_rc_name(rc));
	fb_report(fb, "poison", detail);
	if (rc == ECOM_OK && plan->on_poison)
		plan->on_poison(plan->arg, fb->name, rec->topic, key, value, len, kind, id);
	free(key);
	free(value);
}

static int fb_produce(struct broker *b, const struct broker_record *rec, struct ecom_err *err)
{
	struct fault_broker *fb = (struct fault_broker *)b;
	char detail[300];
	int rc;

	if (fault_crashpoint_enter(fb->cp))
		return ecom_err_set(err, ECOM_UNAVAILABLE, "%s: crashed", fb->name);
	if (fault_draw(fb->plan, fb->plan ? fb->plan->produce_error : 0)) {
		snprintf(detail, sizeof(detail), "topic=%s", rec->topic);
		fb_report(fb, "produce_error", detail);
		rc = ecom_err_set(err, ECOM_UNAVAILABLE, "injected produce error");
		goto out;
	}
	rc = fb->inner->ops->produce(fb->inner, rec, err);
	if (rc == ECOM_OK)
		fb_maybe_poison(fb, rec);
out:
	fault_crashpoint_leave(fb->cp);
	return rc;
}

static int fb_subscribe(struct broker *b, const char *group, const char *const *topics,
			size_t n_topics, struct ecom_err *err)
{
	struct fault_broker *fb = (struct fault_broker *)b;
	int rc;

	if (fault_crashpoint_enter(fb->cp))
		return ecom_err_set(err, ECOM_UNAVAILABLE, "%s: crashed", fb->name);
	/* a new subscription starts from committed offsets: nothing held survives it */
	fb_copy_clear(&fb->pending);
	for (size_t i = 0; i < fb->n_held; i++)
		fb_copy_clear(&fb->held[i].c);
	fb->n_held = 0;
	rc = fb->inner->ops->subscribe(fb->inner, group, topics, n_topics, err);
	fault_crashpoint_leave(fb->cp);
	return rc;
}

static int fb_same_part(const struct broker_msg *a, const struct broker_msg *b)
{
	return a->partition == b->partition && strcmp(a->topic, b->topic) == 0;
}

/* Is (topic, partition) of m held back behind an earlier message? */
static int fb_part_held(const struct fault_broker *fb, const struct broker_msg *m)
{
	for (size_t i = 0; i < fb->n_held; i++)
		if (fb_same_part(&fb->held[i].c.msg, m))
			return 1;
	return 0;
}

static void fb_hold(struct fault_broker *fb, const struct broker_msg *m, int64_t release_us)
{
	if (fb->n_held == fb->cap_held) {
		fb->cap_held = fb->cap_held ? fb->cap_held * 2 : 16;
		fb->held = ecom_xrealloc(fb->held, fb->cap_held * sizeof(*fb->held));
	}
	memset(&fb->held[fb->n_held], 0, sizeof(fb->held[0]));
	fb_copy_set(&fb->held[fb->n_held].c, m);
	fb->held[fb->n_held].release_us = release_us;
	fb->n_held++;
}

/* The first held message that is due and first in its partition: moved to `last`. */
static int fb_release(struct fault_broker *fb, int64_t now_us, struct broker_msg *out)
{
	for (size_t i = 0; i < fb->n_held; i++) {
		struct fb_held *h = &fb->held[i];
		int first = 1;

		for (size_t j = 0; j < i && first; j++)
			first = !fb_same_part(&fb->held[j].c.msg, &h->c.msg);
		if (!first || h->release_us > now_us)
			continue;
		fb_move(&fb->last, &h->c);
		memmove(&fb->held[i], &fb->held[i + 1], (fb->n_held - i - 1) * sizeof(*fb->held));
		fb->n_held--;
		/* fb_move zeroed the source; the array shift above dropped it */
		*out = fb->last.msg;
		return 1;
	}
	return 0;
}

int64_t fault_broker_next_release(struct broker *b)
{
	struct fault_broker *fb = (struct fault_broker *)b;
	int64_t next = INT64_MAX;

	for (size_t i = 0; i < fb->n_held; i++)
		if (fb->held[i].release_us > 0 && fb->held[i].release_us < next)
			next = fb->held[i].release_us;
	return next;
}

size_t fault_broker_held(struct broker *b)
{
	return ((struct fault_broker *)b)->n_held;
}

/* Polls the inner broker for a message that may go out now: messages of a stalled
 * partition queue behind it, and a message may itself start a stall. Bounded. */
static int fb_poll_inner(struct fault_broker *fb, int timeout_ms, struct broker_msg *out,
			 struct ecom_err *err)
{
	struct fault_plan *plan = fb->plan;
	char detail[300];
	int rc = ECOM_NOT_FOUND;

	for (size_t round = 0; round <= FAULT_BROKER_HELD_MAX; round++) {
		rc = fb->inner->ops->poll(fb->inner, timeout_ms, out, err);
		if (rc != ECOM_OK)
			return rc;
		if (fb_part_held(fb, out)) {
			if (fb->n_held >= FAULT_BROKER_HELD_MAX)
				return rc; /* bound reached: deliver, order within partition aside */
			fb_hold(fb, out, 0);
			continue;
		}
		if (fb->n_held < FAULT_BROKER_HELD_MAX && plan && plan->clock &&
		    fault_draw(plan, plan->partition_stall)) {
			int64_t ms = rng_range(plan->rng, plan->stall_ms_lo, plan->stall_ms_hi);

			snprintf(detail, sizeof(detail), "%s[%d]@%lld %lldms", out->topic,
				 (int)out->partition, (long long)out->offset, (long long)ms);
			fb_report(fb, "stall", detail);
			fb_hold(fb, out, clock_now_us(plan->clock) + ms * 1000);
			continue;
		}
		return ECOM_OK;
	}
	return ECOM_NOT_FOUND;
}

static int fb_poll(struct broker *b, int timeout_ms, struct broker_msg *out,
		   struct ecom_err *err)
{
	struct fault_broker *fb = (struct fault_broker *)b;
	char detail[300];
	int rc;

	if (fault_crashpoint_enter(fb->cp))
		return ecom_err_set(err, ECOM_UNAVAILABLE, "%s: crashed", fb->name);
	if (fb->pending.used) {
		fb_move(&fb->last, &fb->pending);
		*out = fb->last.msg;
		rc = ECOM_OK;
		if (fb->plan && fb->plan->on_deliver)
			fb->plan->on_deliver(fb->plan->arg, fb->name, out, 1);
		goto out;
	}
	if (fb->n_held && fb->plan && fb->plan->clock &&
	    fb_release(fb, clock_now_us(fb->plan->clock), out)) {
		rc = ECOM_OK;
	} else {
		rc = fb_poll_inner(fb, timeout_ms, out, err);
		if (rc == ECOM_NOT_FOUND && fb->n_held && fb->plan && fb->plan->clock &&
		    fb_release(fb, clock_now_us(fb->plan->clock), out))
			rc = ECOM_OK; /* a message queued behind a stall that ended meanwhile */
	}
	if (rc == ECOM_OK && fb->plan && fb->plan->on_deliver)
		fb->plan->on_deliver(fb->plan->arg, fb->name, out, 0);
	if (rc == ECOM_OK && fault_draw(fb->plan, fb->plan ? fb->plan->duplicate_delivery : 0)) {
		fb_copy_set(&fb->pending, out);
		snprintf(detail, sizeof(detail), "%s[%d]@%lld", out->topic, (int)out->partition,
			 (long long)out->offset);
		fb_report(fb, "duplicate", detail);
	}
out:
	fault_crashpoint_leave(fb->cp);
	return rc;
}

static int fb_commit(struct broker *b, const char *topic, int32_t partition,
		     int64_t next_offset, struct ecom_err *err)
{
	struct fault_broker *fb = (struct fault_broker *)b;
	int rc;

	if (fault_crashpoint_enter(fb->cp))
		return ecom_err_set(err, ECOM_UNAVAILABLE, "%s: crashed", fb->name);
	rc = fb->inner->ops->commit(fb->inner, topic, partition, next_offset, err);
	fault_crashpoint_leave(fb->cp);
	return rc;
}

static void fb_destroy(struct broker *b)
{
	struct fault_broker *fb = (struct fault_broker *)b;

	fb_copy_clear(&fb->pending);
	fb_copy_clear(&fb->last);
	for (size_t i = 0; i < fb->n_held; i++)
		fb_copy_clear(&fb->held[i].c);
	free(fb->held);
	broker_destroy(fb->inner);
	free(fb);
}

static const struct broker_ops fault_broker_ops = {
	.name = "fault",
	.produce = fb_produce,
	.subscribe = fb_subscribe,
	.poll = fb_poll,
	.commit = fb_commit,
	.destroy = fb_destroy,
};

struct broker *fault_broker_new(struct broker *inner, struct fault_plan *plan,
				struct fault_crashpoint *cp, const char *name)
{
	struct fault_broker *fb = ecom_xcalloc(1, sizeof(*fb));

	ECOM_ASSERT(inner && name);
	fb->base.ops = &fault_broker_ops;
	fb->inner = inner;
	fb->plan = plan;
	fb->cp = cp;
	snprintf(fb->name, sizeof(fb->name), "%s", name);
	return &fb->base;
}
