/* outbox.c — the relay: publishes committed outbox entries in commit order (right after the
 * commit, and by a periodic sweep for what a crash left behind), then removes the published
 * entries with a compare-and-swap. Publishing is at-least-once: an entry published and not
 * yet removed may be published again; consumers dedupe by eventId. */
#include "runtime/runtime_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bugs.h"
#include "event/jsonx.h"

int rt_produce_event(struct runtime *rt, const char *topic, json_t *event, struct ecom_err *err)
{
	struct broker_header hdrs[BROKER_MAX_HEADERS];
	char hbuf[BROKER_MAX_HEADERS][32];
	struct broker_record rec;
	json_t *headers = json_object_get(event, "headers"), *v;
	const char *key = json_string_value(json_object_get(event, "key"));
	const char *hk;
	size_t n = 0, value_len;
	char *value;
	int rc, exact;

	value = jsonx_dumps_fast_exact(event, &value_len, &exact);
	json_object_foreach(headers, hk, v)
	{
		if (n == BROKER_MAX_HEADERS)
			break;
		hdrs[n].key = hk;
		if (json_is_string(v)) {
			hdrs[n].value = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(hbuf[n], sizeof(hbuf[n]), "%lld", (long long)json_integer_value(v));
			hdrs[n].value = hbuf[n];
		} else if (json_is_boolean(v)) {
			hdrs[n].value = json_is_true(v) ? "true" : "false";
		} else if (json_is_real(v)) {
			snprintf(hbuf[n], sizeof(hbuf[n]), "%.15g", json_real_value(v));
			hdrs[n].value = hbuf[n];
		} else {
			continue;
		}
		n++;
	}
	rec = (struct broker_record){.topic = topic,
				     .key = key,
				     .key_len = key ? strlen(key) : 0,
				     .value = value,
				     .value_len = value_len,
				     .headers = hdrs,
				     .n_headers = n,
				     .parsed = exact ? event : NULL};
	rc = broker_produce(rt->broker, &rec, err);
	free(value);
	return rc;
}

static int id_in(json_t *ids, const char *id)
{
	size_t i;
	json_t *v;

	json_array_foreach(ids, i, v) if (strcmp(json_string_value(v), id) == 0) return 1;
	return 0;
}

static const char *entry_event_id(json_t *entry)
{
	const char *id = json_string_value(json_object_get(json_object_get(entry, "event"), "eventId"));

	return id ? id : "";
}

/* Removes the entries in `published` from the stored document, reloading on conflict. */
static void remove_published(struct runtime *rt, const char *collection, json_t *doc,
			     json_t *published)
{
	json_t *cur = json_incref(doc);
	const char *id = json_string_value(json_object_get(doc, "_id"));

	for (int round = 0; round < RT_PUBLISH_REMOVE_MAX && cur; round++) {
		json_t *outbox = json_object_get(cur, "outbox"), *keep = json_array(), *e, *next;
		int64_t version = json_integer_value(json_object_get(cur, "version"));
		size_t i;
		int rc;

		json_array_foreach(outbox, i, e) if (!id_in(published, entry_event_id(e)))
			json_array_append(keep, e);
		if (json_array_size(keep) == json_array_size(outbox)) {
			json_decref(keep); /* nothing of ours left (already removed) */
			break;
		}
		/* cur was handed to the store (store.h): a new top level, shared children. */
		next = json_copy(cur);
		ECOM_ASSERT(next);
		json_object_set_new(next, "version", json_integer(version + 1));
		json_object_set_new(next, "outbox", keep);
		json_object_set_new(next, "outbox_n", json_integer((json_int_t)json_array_size(keep)));
		if (json_array_size(keep) > 0) {
			json_object_set(next, "outbox_at",
					json_object_get(json_array_get(keep, 0), "at"));
		} else {
			json_object_del(next, "outbox_at");
			json_object_del(next, RT_KEY_OUTBOX_DUE);
		}
		rc = store_replace(rt->store, collection, next, version, NULL);
		if (rc == ECOM_OK && rt->cfg.obs && rt->cfg.obs->on_commit)
			rt->cfg.obs->on_commit(rt->cfg.obs->arg, rt, collection, next);
		json_decref(next);
		if (rc == ECOM_OK || rc == ECOM_UNAVAILABLE || rc == ECOM_NOT_FOUND)
			break; /* done, or leave it to the sweep */
		json_decref(cur);
		cur = NULL;
		if (round + 1 < RT_PUBLISH_REMOVE_MAX && /* no read the loop would not use */
		    store_get(rt->store, collection, id, &cur, NULL) != ECOM_OK)
			cur = NULL;
	}
	json_decref(cur);
}

int rt_publish_doc(struct runtime *rt, const char *collection, json_t *doc, int64_t max_at_us,
		   int from_sweep)
{
	json_t *outbox = json_object_get(doc, "outbox"), *published = json_array(), *e;
	size_t i;
	int n = 0;

	json_array_foreach(outbox, i, e)
	{
		json_t *event = json_object_get(e, "event");
		const char *topic = json_string_value(json_object_get(e, "topic"));
		const char *eid = json_string_value(json_object_get(event, "eventId"));
		enum event_type type;
		int t = -1;

		if (json_integer_value(json_object_get(e, "at")) > max_at_us)
			break; /* entries are in commit order: the rest are younger */
		if (event_type_from_name(json_string_value(json_object_get(event, "type")), &type) ==
		    ECOM_OK)
			t = (int)type;
		if (!topic || rt_produce_event(rt, topic, event, NULL) != ECOM_OK) {
			rt_emit_event(rt, RT_PUBLISH_FAILED, t, topic);
			break; /* keep per-key order: never publish past a failed entry */
		}
		json_array_append_new(published, jsonx_string(eid ? eid : ""));
		rt->stats.published++;
		if (from_sweep)
			rt->stats.sweep_published++;
		rt_emit_event(rt, from_sweep ? RT_SWEEP_PUBLISHED : RT_PUBLISHED, t,
			      eid ? eid : "");
		n++;
	}
	if (n > 0)
		remove_published(rt, collection, doc, published);
	json_decref(published);
	return n;
}

/* The due documents of a collection: marker == 1, oldest `time_field` first, at most
 * RT_SWEEP_BATCH, then cut at `upto`. Every document with the marker has the time field
 * (>= 1), so this is exactly a range query [1, upto] sorted and limited the same way. */
static json_t *sweep_find(struct runtime *rt, const char *collection, const char *marker,
			  const char *time_field)
{
	struct store_query q = {.op = STORE_EQ,
				.field = marker,
				.sort_field = time_field,
				.limit = RT_SWEEP_BATCH};
	json_t *docs = NULL;

	q.value = json_integer(1);
	if (store_find(rt->store, collection, &q, &docs, NULL) != ECOM_OK) {
		json_decref(docs);
		docs = NULL;
	}
	json_decref(q.value);
	return docs;
}

static int sweep_outbox(struct runtime *rt, const char *collection, int64_t now_us)
{
	int64_t upto = now_us - rt->cfg.outbox_grace_us;
	json_t *docs, *d;
	size_t i;
	int work = 0;

	if (upto < 1)
		return 0;
	docs = sweep_find(rt, collection, RT_KEY_OUTBOX_DUE, "outbox_at");
	json_array_foreach(docs, i, d)
	{
		int64_t at = json_integer_value(json_object_get(d, "outbox_at"));

		if (at > upto)
			break; /* sorted: the rest are younger */
		if (at >= 1)
			work += rt_publish_doc(rt, collection, d, upto, 1);
	}
	json_decref(docs);
	return work;
}

static int sweep_timers(struct runtime *rt, const char *collection, int64_t now_us)
{
	json_t *docs, *d;
	size_t i;
	int work = 0;

	docs = sweep_find(rt, collection, RT_KEY_WAKE_DUE, "wake_at");
	json_array_foreach(docs, i, d)
	{
		const char *id = json_string_value(json_object_get(d, "_id"));
		int64_t at = json_integer_value(json_object_get(d, "wake_at"));

		if (at > now_us)
			break; /* sorted: the rest are later */
		if (at >= 1 && id && rt_fire_wake(rt, collection, id, now_us) == ECOM_OK)
			work++;
	}
	json_decref(docs);
	return work;
}

int rt_sweep(struct runtime *rt, int64_t now_us)
{
	int work = 0;

	for (size_t i = 0; i < rt->def->n_collections; i++) {
		if (!(rt->cfg.bugs & BUG_SKIP_OUTBOX_SWEEP))
			work += sweep_outbox(rt, rt->def->collections[i], now_us);
		if (rt->def->wake)
			work += sweep_timers(rt, rt->def->collections[i], now_us);
	}
	return work;
}
