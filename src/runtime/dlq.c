/* dlq.c — dead-lettering: a message that cannot be processed (malformed, schema-invalid,
 * unknown type, a permanent handler failure, or one that kept failing) is produced to
 * "<topic>.dlq" as ops.DeadLetter.v1 carrying the original payload (or the raw bytes when
 * they were not JSON), the error, and headers naming the original position and attempts.
 * Only after the DLQ acked is the original offset committed, so nothing vanishes. */
#include "runtime/runtime_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON string of arbitrary bytes: invalid UTF-8 and control bytes become '?'. */
static json_t *raw_string(const char *buf, size_t len)
{
	json_t *s = json_stringn(buf, len);
	char *copy;

	if (s)
		return s;
	copy = ecom_xstrndup(buf, len);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)copy[i] >= 0x80 || (unsigned char)copy[i] < 0x20 || !copy[i])
			copy[i] = '?';
	s = json_stringn(copy, len);
	free(copy);
	return s ? s : json_string("");
}

static void iso(int64_t ms, char out[25])
{
	clock_format_iso(ms, out);
}

int rt_dead_letter(struct runtime *rt, const struct broker_msg *m, const char *error,
		   int attempts)
{
	json_t *orig = json_loadb(m->value, m->value_len, 0, NULL);
	json_t *payload = json_object(), *opayload = NULL, *event;
	const char *otype = NULL, *oid = NULL, *order_id = NULL, *corr = NULL;
	char dlq_topic[256], num[32], t1[25], t2[25];
	struct envelope dl;
	int rc;

	if (json_is_object(orig)) {
		otype = json_string_value(json_object_get(orig, "type"));
		oid = json_string_value(json_object_get(orig, "eventId"));
		corr = json_string_value(json_object_get(orig, "correlationId"));
		opayload = json_object_get(orig, "payload");
		order_id = json_string_value(json_object_get(opayload, "orderId"));
	}
	json_object_set_new(payload, "originalType", json_string(otype ? otype : m->topic));
	json_object_set_new(payload, "originalEventId", json_string(oid ? oid : "unknown"));
	if (order_id)
		json_object_set_new(payload, "orderId", json_string(order_id));
	json_object_set_new(payload, "error", json_string(error && *error ? error : "unknown"));
	json_object_set(payload, "payload", opayload ? opayload : json_null());
	if (!json_is_object(orig))
		json_object_set_new(payload, "raw", raw_string(m->value, m->value_len));

	envelope_init(&dl, rt->rng, clock_wall_ms(rt->clock), EV_DEAD_LETTER,
		      order_id && *order_id ? order_id : "unknown", payload,
		      corr && *corr ? corr : NULL, oid && *oid ? oid : NULL);
	json_object_set_new(dl.headers, RT_HDR_ORIGINAL_TOPIC, json_string(m->topic));
	snprintf(num, sizeof(num), "%d", (int)m->partition);
	json_object_set_new(dl.headers, RT_HDR_ORIGINAL_PARTITION, json_string(num));
	snprintf(num, sizeof(num), "%lld", (long long)m->offset);
	json_object_set_new(dl.headers, RT_HDR_ORIGINAL_OFFSET, json_string(num));
	json_object_set_new(dl.headers, RT_HDR_ERROR, json_string(error && *error ? error : "unknown"));
	snprintf(num, sizeof(num), "%d", attempts > 0 ? attempts : 1);
	json_object_set_new(dl.headers, RT_HDR_ATTEMPTS, json_string(num));
	iso(rt->first_fail_ms ? rt->first_fail_ms : clock_wall_ms(rt->clock), t1);
	iso(rt->last_fail_ms ? rt->last_fail_ms : clock_wall_ms(rt->clock), t2);
	json_object_set_new(dl.headers, RT_HDR_FIRST_FAILURE, json_string(t1));
	json_object_set_new(dl.headers, RT_HDR_LAST_FAILURE, json_string(t2));

	event_dlq_topic(m->topic, dlq_topic, sizeof(dlq_topic));
	event = envelope_to_json(&dl);
	rc = rt_produce_event(rt, dlq_topic, event, NULL);
	json_decref(event);
	envelope_deinit(&dl);
	json_decref(orig);
	return rc;
}
