/* kafka_broker.c — the broker interface over librdkafka. produce() is synchronous: it waits for
 * the delivery report and reports OK only for a persisted record, UNAVAILABLE only when
 * librdkafka says it was definitely not persisted, AMBIGUOUS otherwise. Commits are synchronous
 * and refused (CONFLICT) for partitions the group no longer assigns to this member. */
#include "backends/kafka/kafka_broker.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KAFKA_PRODUCE_TIMEOUT_MS_DEFAULT 30000
#define KAFKA_SESSION_TIMEOUT_MS_DEFAULT 10000
#define KAFKA_MAX_POLL_INTERVAL_MS_DEFAULT 300000
#define KAFKA_ADMIN_TIMEOUT_MS_DEFAULT 30000
#define KAFKA_HEARTBEAT_MS_MAX 3000
/* How long past message.timeout.ms produce() still waits for the report librdkafka owes. */
#define KAFKA_REPORT_GRACE_MS 5000
#define KAFKA_POLL_STEP_MS 20
#define KAFKA_QUEUE_FULL_RETRIES 100
#define KAFKA_CLOSE_FLUSH_MS 5000
#define KAFKA_METADATA_STEP_MS 100
/* Non-message events (EOF, not-yet-existing topic) one poll() skips before giving up. */
#define KAFKA_POLL_SKIP_MAX 64
/* Partitions one member can hold; far above any topic layout we configure. */
#define KAFKA_ASSIGNED_MAX 4096
/* Topics one kafka_delete_topics_with_prefix call deletes at most. */
#define KAFKA_DELETE_MAX 4096
/* Topics one kafka_ensure_topics call may create (each topic + its .dlq). */
#define KAFKA_ENSURE_MAX (2 * BROKER_MAX_TOPICS)
#define KAFKA_HELD_STRS (3 + 2 * BROKER_MAX_HEADERS)

/* One in-flight produce. Heap-allocated because a produce that gives up waiting leaves it to
 * the delivery-report callback, which frees abandoned ones. */
struct kafka_delivery {
	int done;
	int abandoned;
	rd_kafka_resp_err_t err;
	rd_kafka_msg_status_t status;
};

struct kafka_tp {
	char *topic;
	int32_t partition;
};

struct kafka_broker {
	struct broker base;
	char *bootstrap;
	char *client_id;
	char *debug;
	struct kafka_options opt;
	rd_kafka_t *producer;
	rd_kafka_t *consumer; /* NULL until subscribe() */
	char *group;
	/* The partitions the group currently assigns to this member (rebalance callback). */
	struct kafka_tp *assigned;
	size_t n_assigned;
	/* The last polled message, owned until the next poll() or destroy(). */
	struct broker_header held_headers[BROKER_MAX_HEADERS];
	char *held_strs[KAFKA_HELD_STRS];
	size_t n_held_strs;
};

static const struct broker_ops kafka_ops;

static int64_t kafka_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void kafka_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static struct kafka_broker *kafka_of(struct broker *b)
{
	ECOM_ASSERT(b && b->ops == &kafka_ops);
	return (struct kafka_broker *)b;
}

static int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
			  struct ecom_err *err)
{
	char errstr[256];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		return ecom_err_set(err, ECOM_INVALID, "kafka: %s=%s: %s", key, value, errstr);
	return ECOM_OK;
}

static int kafka_conf_set_int(rd_kafka_conf_t *conf, const char *key, int value,
			      struct ecom_err *err)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%d", value);
	return kafka_conf_set(conf, key, buf, err);
}

/* Settings producer and consumer share. */
static int kafka_conf_common(struct kafka_broker *kb, rd_kafka_conf_t *conf, struct ecom_err *err)
{
	int rc;

	rc = kafka_conf_set(conf, "bootstrap.servers", kb->bootstrap, err);
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "client.id", kb->client_id, err);
	/* Idle connections are reaped by the broker; that is not worth a log line. */
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "log.connection.close", "false", err);
	if (rc == ECOM_OK && kb->debug)
		rc = kafka_conf_set(conf, "debug", kb->debug, err);
	return rc;
}

/* ---- producer ---------------------------------------------------------------------------- */

static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_delivery *d = m->_private;

	(void)rk;
	(void)opaque;
	if (!d)
		return;
	if (d->abandoned) {
		free(d);
		return;
	}
	d->done = 1;
	d->err = m->err;
	d->status = rd_kafka_message_status(m);
}

static int kafka_producer_create(struct kafka_broker *kb, struct ecom_err *err)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int rc;

	rc = kafka_conf_common(kb, conf, err);
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "enable.idempotence", "true", err);
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "acks", "all", err);
	/* murmur2 for keyed records, as the Java client and kafkajs do. */
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "partitioner", "murmur2_random", err);
	if (rc == ECOM_OK)
		rc = kafka_conf_set_int(conf, "message.timeout.ms", kb->opt.produce_timeout_ms, err);
	/* Every produce waits for its report, so batching would only add latency. */
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "linger.ms", "0", err);
	if (rc != ECOM_OK)
		goto out;
	rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
	kb->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!kb->producer) {
		rc = ecom_err_set(err, ECOM_INVALID, "kafka: producer: %s", errstr);
		goto out;
	}
	conf = NULL; /* owned by the handle now */
out:
	if (conf)
		rd_kafka_conf_destroy(conf);
	return rc;
}

/* Purges what is queued or in flight and serves the reports, so abandoned deliveries are freed. */
static void kafka_producer_destroy(struct kafka_broker *kb)
{
	if (!kb->producer)
		return;
	rd_kafka_purge(kb->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(kb->producer, KAFKA_CLOSE_FLUSH_MS);
	rd_kafka_destroy(kb->producer);
	kb->producer = NULL;
}

/* An idempotent producer that hit a fatal error (e.g. fenced, sequence desync) is dead for
 * good; a fresh one gets a new producer id. Records it had acknowledged stay acknowledged. */
static int kafka_producer_check(struct kafka_broker *kb, struct ecom_err *err)
{
	char why[256];

	if (kb->producer && rd_kafka_fatal_error(kb->producer, why, sizeof(why)) ==
				    RD_KAFKA_RESP_ERR_NO_ERROR)
		return ECOM_OK;
	kafka_producer_destroy(kb);
	return kafka_producer_create(kb, err);
}

static int kafka_produce_rc(rd_kafka_resp_err_t e, rd_kafka_msg_status_t status)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		return ECOM_OK;
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
		return ECOM_INVALID;
	default:
		break;
	}
	return status == RD_KAFKA_MSG_STATUS_NOT_PERSISTED ? ECOM_UNAVAILABLE : ECOM_AMBIGUOUS;
}

/* Hands the record to librdkafka (retrying briefly while its queue is full). */
static rd_kafka_resp_err_t kafka_enqueue(struct kafka_broker *kb, const struct broker_record *rec,
					 struct kafka_delivery *d, char *why, size_t why_len)
{
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
	rd_kafka_vu_t vu[6];
	size_t n = 0;

	vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
	vu[n++].u.cstr = rec->topic;
	vu[n].vtype = RD_KAFKA_VTYPE_KEY;
	vu[n].u.mem.ptr = (void *)rec->key;
	vu[n++].u.mem.size = rec->key ? rec->key_len : 0;
	vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
	vu[n].u.mem.ptr = (void *)rec->value;
	vu[n++].u.mem.size = rec->value_len;
	vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
	vu[n++].u.i = RD_KAFKA_MSG_F_COPY;
	vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
	vu[n++].u.ptr = d;
	for (int tries = 0; tries <= KAFKA_QUEUE_FULL_RETRIES; tries++) {
		rd_kafka_error_t *error;

		if (rec->n_headers > 0) {
			hdrs = rd_kafka_headers_new(rec->n_headers);
			for (size_t i = 0; i < rec->n_headers; i++)
				rd_kafka_header_add(hdrs, rec->headers[i].key, -1,
						    rec->headers[i].value, -1);
			vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
			vu[n].u.headers = hdrs;
		}
		error = rd_kafka_produceva(kb->producer, vu, n + (hdrs ? 1 : 0));
		if (!error)
			return RD_KAFKA_RESP_ERR_NO_ERROR; /* headers now owned by the message */
		e = rd_kafka_error_code(error);
		snprintf(why, why_len, "%s", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		if (hdrs)
			rd_kafka_headers_destroy(hdrs);
		hdrs = NULL;
		if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			break;
		rd_kafka_poll(kb->producer, KAFKA_POLL_STEP_MS);
	}
	return e;
}

static int kafka_produce(struct broker *b, const struct broker_record *rec, struct ecom_err *err)
{
	struct kafka_broker *kb = kafka_of(b);
	struct kafka_delivery *d = NULL;
	int64_t deadline_ms;
	rd_kafka_resp_err_t e;
	char why[256];
	int rc;

	rc = kafka_producer_check(kb, err);
	if (rc != ECOM_OK)
		goto out;
	d = ecom_xcalloc(1, sizeof(*d));
	e = kafka_enqueue(kb, rec, d, why, sizeof(why));
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* Not enqueued, so certainly not appended. */
		rc = ecom_err_set(err, kafka_produce_rc(e, RD_KAFKA_MSG_STATUS_NOT_PERSISTED),
				  "kafka: produce to %s: %s", rec->topic, why);
		goto out;
	}
	deadline_ms = kafka_now_ms() + kb->opt.produce_timeout_ms + KAFKA_REPORT_GRACE_MS;
	while (!d->done && kafka_now_ms() < deadline_ms)
		rd_kafka_poll(kb->producer, KAFKA_POLL_STEP_MS);
	if (!d->done) {
		d->abandoned = 1; /* the report callback frees it */
		d = NULL;
		rc = ecom_err_set(err, ECOM_AMBIGUOUS, "kafka: produce to %s: no delivery report",
				  rec->topic);
		goto out;
	}
	rc = kafka_produce_rc(d->err, d->status);
	if (rc != ECOM_OK)
		ecom_err_set(err, rc, "kafka: produce to %s: %s (%s)", rec->topic,
			     rd_kafka_err2str(d->err),
			     d->status == RD_KAFKA_MSG_STATUS_NOT_PERSISTED ? "not persisted"
									    : "possibly persisted");
out:
	free(d);
	return rc;
}

/* ---- consumer ---------------------------------------------------------------------------- */

static int kafka_assigned_index(const struct kafka_broker *kb, const char *topic, int32_t part)
{
	for (size_t i = 0; i < kb->n_assigned; i++)
		if (kb->assigned[i].partition == part && strcmp(kb->assigned[i].topic, topic) == 0)
			return (int)i;
	return -1;
}

static void kafka_assigned_clear(struct kafka_broker *kb)
{
	for (size_t i = 0; i < kb->n_assigned; i++)
		free(kb->assigned[i].topic);
	kb->n_assigned = 0;
}

static void kafka_assigned_add(struct kafka_broker *kb, const rd_kafka_topic_partition_list_t *l)
{
	for (int i = 0; i < l->cnt; i++) {
		const rd_kafka_topic_partition_t *p = &l->elems[i];

		if (kafka_assigned_index(kb, p->topic, p->partition) >= 0)
			continue;
		ECOM_ASSERT(kb->n_assigned < KAFKA_ASSIGNED_MAX);
		kb->assigned[kb->n_assigned].topic = ecom_xstrdup(p->topic);
		kb->assigned[kb->n_assigned].partition = p->partition;
		kb->n_assigned++;
	}
}

static void kafka_assigned_remove(struct kafka_broker *kb,
				  const rd_kafka_topic_partition_list_t *l)
{
	for (int i = 0; i < l->cnt; i++) {
		int at = kafka_assigned_index(kb, l->elems[i].topic, l->elems[i].partition);

		if (at < 0)
			continue;
		free(kb->assigned[at].topic);
		kb->assigned[at] = kb->assigned[kb->n_assigned - 1];
		kb->n_assigned--;
	}
}

/* Served from inside rd_kafka_consumer_poll/close. Keeps `assigned` equal to what this member
 * may commit; both the eager and the cooperative protocol are handled. */
static void kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t e,
			       rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kafka_broker *kb = opaque;
	int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *error = NULL;

	if (e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (cooperative) {
			error = rd_kafka_incremental_assign(rk, parts);
		} else {
			kafka_assigned_clear(kb);
			rd_kafka_assign(rk, parts);
		}
		kafka_assigned_add(kb, parts);
	} else {
		/* REVOKE, or an error: give everything up; the group will reassign. */
		if (cooperative && e == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
			error = rd_kafka_incremental_unassign(rk, parts);
			kafka_assigned_remove(kb, parts);
		} else {
			rd_kafka_assign(rk, NULL);
			kafka_assigned_clear(kb);
		}
	}
	if (error)
		rd_kafka_error_destroy(error);
}

static int kafka_consumer_create(struct kafka_broker *kb, const char *group,
				 struct ecom_err *err)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int heartbeat_ms = kb->opt.session_timeout_ms / 3;
	int rc;

	if (heartbeat_ms > KAFKA_HEARTBEAT_MS_MAX)
		heartbeat_ms = KAFKA_HEARTBEAT_MS_MAX;
	rc = kafka_conf_common(kb, conf, err);
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "group.id", group, err);
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "enable.auto.commit", "false", err);
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "enable.auto.offset.store", "false", err);
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "auto.offset.reset", "earliest", err);
	/* broker.h: a topic is created on first use, by either side. */
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "allow.auto.create.topics", "true", err);
	/* Notice partitions added by kafka_ensure_topics within seconds, not minutes. */
	if (rc == ECOM_OK)
		rc = kafka_conf_set(conf, "topic.metadata.refresh.interval.ms", "10000", err);
	if (rc == ECOM_OK)
		rc = kafka_conf_set_int(conf, "session.timeout.ms", kb->opt.session_timeout_ms, err);
	if (rc == ECOM_OK)
		rc = kafka_conf_set_int(conf, "heartbeat.interval.ms", heartbeat_ms, err);
	if (rc == ECOM_OK)
		rc = kafka_conf_set_int(conf, "max.poll.interval.ms", kb->opt.max_poll_interval_ms,
					err);
	if (rc != ECOM_OK)
		goto out;
	rd_kafka_conf_set_rebalance_cb(conf, kafka_rebalance_cb);
	rd_kafka_conf_set_opaque(conf, kb);
	kb->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!kb->consumer) {
		rc = ecom_err_set(err, ECOM_INVALID, "kafka: consumer: %s", errstr);
		goto out;
	}
	conf = NULL;
	rd_kafka_poll_set_consumer(kb->consumer);
	kb->group = ecom_xstrdup(group);
out:
	if (conf)
		rd_kafka_conf_destroy(conf);
	return rc;
}

static void kafka_held_release(struct kafka_broker *kb)
{
	for (size_t i = 0; i < kb->n_held_strs; i++)
		free(kb->held_strs[i]);
	kb->n_held_strs = 0;
}

/* A NUL-terminated copy of len bytes (which may themselves contain NULs), owned by `held`. */
static char *kafka_held_dup(struct kafka_broker *kb, const void *p, size_t len)
{
	char *s = ecom_xmalloc(len + 1);

	ECOM_ASSERT(kb->n_held_strs < KAFKA_HELD_STRS);
	if (len > 0)
		memcpy(s, p, len);
	s[len] = '\0';
	kb->held_strs[kb->n_held_strs++] = s;
	return s;
}

/* Copies m into broker-owned memory: librdkafka's key and value are not NUL-terminated.
 * Headers past BROKER_MAX_HEADERS are dropped (ours carry a handful). */
static void kafka_held_fill(struct kafka_broker *kb, const rd_kafka_message_t *m,
			    struct broker_msg *out)
{
	rd_kafka_headers_t *hdrs = NULL;
	const char *topic = rd_kafka_topic_name(m->rkt);

	memset(out, 0, sizeof(*out));
	out->topic = kafka_held_dup(kb, topic, strlen(topic));
	out->partition = m->partition;
	out->offset = m->offset;
	out->key = m->key ? kafka_held_dup(kb, m->key, m->key_len) : NULL;
	out->key_len = m->key ? m->key_len : 0;
	out->value = kafka_held_dup(kb, m->payload, m->payload ? m->len : 0);
	out->value_len = m->payload ? m->len : 0;
	out->headers = kb->held_headers;
	if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	for (size_t i = 0; i < BROKER_MAX_HEADERS; i++) {
		const char *name;
		const void *val;
		size_t size;

		if (rd_kafka_header_get_all(hdrs, i, &name, &val, &size) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR)
			break;
		kb->held_headers[i].key = kafka_held_dup(kb, name, strlen(name));
		kb->held_headers[i].value = kafka_held_dup(kb, val, val ? size : 0);
		out->n_headers = i + 1;
	}
}

static int kafka_subscribe(struct broker *b, const char *group, const char *const *topics,
			   size_t n_topics, struct ecom_err *err)
{
	struct kafka_broker *kb = kafka_of(b);
	rd_kafka_topic_partition_list_t *list = NULL;
	rd_kafka_resp_err_t e;
	int rc = ECOM_OK;

	if (kb->consumer && strcmp(kb->group, group) != 0) {
		kafka_held_release(kb);
		rd_kafka_consumer_close(kb->consumer);
		rd_kafka_destroy(kb->consumer);
		kb->consumer = NULL;
		free(kb->group);
		kb->group = NULL;
		kafka_assigned_clear(kb);
	}
	if (!kb->consumer) {
		rc = kafka_consumer_create(kb, group, err);
		if (rc != ECOM_OK)
			goto out;
	}
	list = rd_kafka_topic_partition_list_new((int)n_topics);
	for (size_t i = 0; i < n_topics; i++)
		rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(kb->consumer, list);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		rc = ecom_err_set(err, e == RD_KAFKA_RESP_ERR__INVALID_ARG ? ECOM_INVALID
									   : ECOM_UNAVAILABLE,
				  "kafka: subscribe: %s", rd_kafka_err2str(e));
out:
	if (list)
		rd_kafka_topic_partition_list_destroy(list);
	return rc;
}

/* Consumer-side events that mean "nothing deliverable yet", not failure. */
static int kafka_poll_skippable(rd_kafka_resp_err_t e)
{
	return e == RD_KAFKA_RESP_ERR__PARTITION_EOF || e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
	       e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	       e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
}

static int kafka_poll(struct broker *b, int timeout_ms, struct broker_msg *out,
		      struct ecom_err *err)
{
	struct kafka_broker *kb = kafka_of(b);
	int64_t deadline_ms = kafka_now_ms() + timeout_ms;
	int rc = ECOM_NOT_FOUND;

	kafka_held_release(kb);
	if (!kb->consumer)
		return ECOM_NOT_FOUND; /* not subscribed: nothing can be deliverable */
	for (int i = 0; i < KAFKA_POLL_SKIP_MAX; i++) {
		int64_t left_ms = deadline_ms - kafka_now_ms();
		rd_kafka_message_t *m;

		m = rd_kafka_consumer_poll(kb->consumer, left_ms > 0 ? (int)left_ms : 0);
		if (!m)
			break;
		if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			kafka_held_fill(kb, m, out);
			rd_kafka_message_destroy(m);
			rc = ECOM_OK;
			break;
		}
		if (!kafka_poll_skippable(m->err)) {
			rc = ecom_err_set(err, ECOM_UNAVAILABLE, "kafka: poll: %s",
					  rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			break;
		}
		rd_kafka_message_destroy(m);
		if (left_ms <= 0)
			break;
	}
	return rc;
}

/* Errors meaning "this member's view of the group is stale": a rebalance happened, so the
 * partition may belong to someone else, who will get the message again. */
static int kafka_commit_conflict(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
	case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
	case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
	case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
	case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
	case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
	case RD_KAFKA_RESP_ERR__STATE:
		return 1;
	default:
		return 0;
	}
}

static int kafka_commit(struct broker *b, const char *topic, int32_t partition,
			int64_t next_offset, struct ecom_err *err)
{
	struct kafka_broker *kb = kafka_of(b);
	rd_kafka_topic_partition_list_t *list = NULL;
	rd_kafka_resp_err_t e;
	int rc = ECOM_OK;

	if (!kb->consumer || kafka_assigned_index(kb, topic, partition) < 0) {
		rc = ecom_err_set(err, ECOM_CONFLICT, "kafka: commit %s[%d]: not assigned to us",
				  topic, partition);
		goto out;
	}
	list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, topic, partition)->offset = next_offset;
	e = rd_kafka_commit(kb->consumer, list, 0 /* synchronous */);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		e = list->elems[0].err;
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		goto out;
	/* Anything else is transient; committing the same offset again is harmless. */
	rc = ecom_err_set(err, kafka_commit_conflict(e) ? ECOM_CONFLICT : ECOM_UNAVAILABLE,
			  "kafka: commit %s[%d]@%lld: %s", topic, partition, (long long)next_offset,
			  rd_kafka_err2str(e));
out:
	if (list)
		rd_kafka_topic_partition_list_destroy(list);
	return rc;
}

static void kafka_destroy(struct broker *b)
{
	struct kafka_broker *kb = kafka_of(b);

	kafka_held_release(kb);
	if (kb->consumer) {
		rd_kafka_consumer_close(kb->consumer); /* leaves the group: others rebalance now */
		rd_kafka_destroy(kb->consumer);
	}
	kafka_producer_destroy(kb);
	kafka_assigned_clear(kb);
	free(kb->assigned);
	free(kb->group);
	free(kb->bootstrap);
	free(kb->client_id);
	free(kb->debug);
	free(kb);
}

static const struct broker_ops kafka_ops = {
	.name = "kafka",
	.produce = kafka_produce,
	.subscribe = kafka_subscribe,
	.poll = kafka_poll,
	.commit = kafka_commit,
	.destroy = kafka_destroy,
};

struct broker *kafka_broker_new(const char *bootstrap, const char *client_id,
				const struct kafka_options *opt, struct ecom_err *err)
{
	struct kafka_broker *kb;

	ECOM_ASSERT(bootstrap);
	kb = ecom_xcalloc(1, sizeof(*kb));
	kb->base.ops = &kafka_ops;
	kb->bootstrap = ecom_xstrdup(bootstrap);
	kb->client_id = ecom_xstrdup(client_id ? client_id : "ecom");
	if (opt)
		kb->opt = *opt;
	if (kb->opt.produce_timeout_ms <= 0)
		kb->opt.produce_timeout_ms = KAFKA_PRODUCE_TIMEOUT_MS_DEFAULT;
	if (kb->opt.session_timeout_ms <= 0)
		kb->opt.session_timeout_ms = KAFKA_SESSION_TIMEOUT_MS_DEFAULT;
	if (kb->opt.max_poll_interval_ms <= 0)
		kb->opt.max_poll_interval_ms = KAFKA_MAX_POLL_INTERVAL_MS_DEFAULT;
	if (kb->opt.admin_timeout_ms <= 0)
		kb->opt.admin_timeout_ms = KAFKA_ADMIN_TIMEOUT_MS_DEFAULT;
	/* Kept as our own copy: the consumer is configured later, at subscribe(). */
	kb->debug = opt && opt->debug ? ecom_xstrdup(opt->debug) : NULL;
	kb->opt.debug = NULL;
	kb->assigned = ecom_xcalloc(KAFKA_ASSIGNED_MAX, sizeof(*kb->assigned));
	if (kafka_producer_create(kb, err) != ECOM_OK) {
		kafka_destroy(&kb->base);
		return NULL;
	}
	return &kb->base;
}

size_t kafka_broker_assigned(struct broker *b)
{
	return kafka_of(b)->n_assigned;
}

const char *kafka_broker_group(struct broker *b)
{
	return kafka_of(b)->group;
}

/* ---- admin ------------------------------------------------------------------------------- */

/* Collects topic names and their .dlq twins, without duplicates. Returns the count. */
static size_t kafka_ensure_names(const char *const *topics, size_t n, char **names)
{
	size_t cnt = 0;

	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(topics[i]);
		int is_dlq = len >= 4 && strcmp(topics[i] + len - 4, ".dlq") == 0;
		char *pair[2] = { ecom_xstrdup(topics[i]), NULL };

		if (!is_dlq) {
			pair[1] = ecom_xmalloc(len + 5);
			snprintf(pair[1], len + 5, "%s.dlq", topics[i]);
		}
		for (size_t k = 0; k < 2; k++) {
			int dup = 0;

			if (!pair[k])
				continue;
			for (size_t j = 0; j < cnt && !dup; j++)
				dup = strcmp(names[j], pair[k]) == 0;
			if (dup) {
				free(pair[k]);
				continue;
			}
			ECOM_ASSERT(cnt < KAFKA_ENSURE_MAX);
			names[cnt++] = pair[k];
		}
	}
	return cnt;
}

static int kafka_create_topics(struct kafka_broker *kb, char **names, size_t n, int partitions,
			       struct ecom_err *err)
{
	rd_kafka_NewTopic_t *nt[KAFKA_ENSURE_MAX] = { 0 };
	rd_kafka_AdminOptions_t *ao = NULL;
	rd_kafka_queue_t *q = rd_kafka_queue_new(kb->producer);
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_topic_result_t **res;
	size_t n_res = 0;
	char errstr[512];
	int rc = ECOM_OK;

	for (size_t i = 0; i < n; i++) {
		/* -1: the broker's default.replication.factor (KIP-464). */
		nt[i] = rd_kafka_NewTopic_new(names[i], partitions, -1, errstr, sizeof(errstr));
		if (!nt[i]) {
			rc = ecom_err_set(err, ECOM_INVALID, "kafka: topic %s: %s", names[i], errstr);
			goto out;
		}
	}
	ao = rd_kafka_AdminOptions_new(kb->producer, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_AdminOptions_set_request_timeout(ao, kb->opt.admin_timeout_ms, errstr,
						  sizeof(errstr));
	rd_kafka_AdminOptions_set_operation_timeout(ao, kb->opt.admin_timeout_ms, errstr,
						    sizeof(errstr));
	rd_kafka_CreateTopics(kb->producer, nt, n, ao, q);
	ev = rd_kafka_queue_poll(q, kb->opt.admin_timeout_ms + KAFKA_REPORT_GRACE_MS);
	if (!ev) {
		rc = ecom_err_set(err, ECOM_UNAVAILABLE, "kafka: create topics: timed out");
		goto out;
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rc = ecom_err_set(err, ECOM_UNAVAILABLE, "kafka: create topics: %s",
				  rd_kafka_event_error_string(ev));
		goto out;
	}
	res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n_res);
	for (size_t i = 0; i < n_res && rc == ECOM_OK; i++) {
		rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
		const char *msg = rd_kafka_topic_result_error_string(res[i]);

		if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			continue;
		rc = ecom_err_set(err,
				  e == RD_KAFKA_RESP_ERR_INVALID_PARTITIONS ||
						  e == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION ||
						  e == RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR
					  ? ECOM_INVALID
					  : ECOM_UNAVAILABLE,
				  "kafka: create topic %s: %s", rd_kafka_topic_result_name(res[i]),
				  msg ? msg : rd_kafka_err2str(e));
	}
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	if (ao)
		rd_kafka_AdminOptions_destroy(ao);
	for (size_t i = 0; i < n; i++)
		if (nt[i])
			rd_kafka_NewTopic_destroy(nt[i]);
	rd_kafka_queue_destroy(q);
	return rc;
}

/* 1 when every named topic is in md with all partitions led. */
static int kafka_topics_led(const struct rd_kafka_metadata *md, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct rd_kafka_metadata_topic *t = NULL;

		for (int j = 0; j < md->topic_cnt && !t; j++)
			if (strcmp(md->topics[j].topic, names[i]) == 0)
				t = &md->topics[j];
		if (!t || t->err != RD_KAFKA_RESP_ERR_NO_ERROR || t->partition_cnt <= 0)
			return 0;
		for (int p = 0; p < t->partition_cnt; p++)
			if (t->partitions[p].err != RD_KAFKA_RESP_ERR_NO_ERROR ||
			    t->partitions[p].leader < 0)
				return 0;
	}
	return 1;
}

static int kafka_wait_leaders(struct kafka_broker *kb, char **names, size_t n,
			      struct ecom_err *err)
{
	int64_t deadline_ms = kafka_now_ms() + kb->opt.admin_timeout_ms;
	int max_rounds = kb->opt.admin_timeout_ms / KAFKA_METADATA_STEP_MS + 1;

	for (int round = 0; round < max_rounds && kafka_now_ms() < deadline_ms; round++) {
		const struct rd_kafka_metadata *md = NULL;
		int led = 0;

		if (rd_kafka_metadata(kb->producer, 1, NULL, &md, kb->opt.admin_timeout_ms) ==
		    RD_KAFKA_RESP_ERR_NO_ERROR) {
			led = kafka_topics_led(md, names, n);
			rd_kafka_metadata_destroy(md);
		}
		if (led)
			return ECOM_OK;
		kafka_sleep_ms(KAFKA_METADATA_STEP_MS);
	}
	return ecom_err_set(err, ECOM_UNAVAILABLE, "kafka: topics have no leaders after %d ms",
			    kb->opt.admin_timeout_ms);
}

int kafka_ensure_topics(struct broker *b, const char *const *topics, size_t n, int partitions,
			struct ecom_err *err)
{
	struct kafka_broker *kb = kafka_of(b);
	char *names[KAFKA_ENSURE_MAX];
	size_t cnt = 0;
	int rc;

	ECOM_ASSERT(topics || n == 0);
	ECOM_ASSERT(n <= BROKER_MAX_TOPICS);
	if (partitions <= 0)
		return ecom_err_set(err, ECOM_INVALID, "kafka: partitions must be > 0, not %d",
				    partitions);
	rc = kafka_producer_check(kb, err);
	if (rc != ECOM_OK)
		return rc;
	cnt = kafka_ensure_names(topics, n, names);
	if (cnt == 0)
		goto out;
	rc = kafka_create_topics(kb, names, cnt, partitions, err);
	if (rc == ECOM_OK)
		rc = kafka_wait_leaders(kb, names, cnt, err);
out:
	for (size_t i = 0; i < cnt; i++)
		free(names[i]);
	return rc;
}

/* Waits for one admin result on q; ECOM_OK with *ev set, or ECOM_UNAVAILABLE. */
static int kafka_admin_wait(struct kafka_broker *kb, rd_kafka_queue_t *q, const char *what,
			    rd_kafka_event_t **ev, struct ecom_err *err)
{
	*ev = rd_kafka_queue_poll(q, kb->opt.admin_timeout_ms + KAFKA_REPORT_GRACE_MS);
	if (!*ev)
		return ecom_err_set(err, ECOM_UNAVAILABLE, "kafka: %s: timed out", what);
	if (rd_kafka_event_error(*ev) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return ecom_err_set(err, ECOM_UNAVAILABLE, "kafka: %s: %s", what,
				    rd_kafka_event_error_string(*ev));
	return ECOM_OK;
}

static int kafka_delete_named(struct kafka_broker *kb, rd_kafka_DeleteTopic_t **dt, size_t n,
			      struct ecom_err *err)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(kb->producer);
	rd_kafka_AdminOptions_t *ao =
		rd_kafka_AdminOptions_new(kb->producer, RD_KAFKA_ADMIN_OP_DELETETOPICS);
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_topic_result_t **res;
	size_t n_res = 0;
	char errstr[256];
	int rc;

	rd_kafka_AdminOptions_set_operation_timeout(ao, kb->opt.admin_timeout_ms, errstr,
						    sizeof(errstr));
	rd_kafka_DeleteTopics(kb->producer, dt, n, ao, q);
	rc = kafka_admin_wait(kb, q, "delete topics", &ev, err);
	if (rc == ECOM_OK) {
		res = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev),
							  &n_res);
		for (size_t i = 0; i < n_res && rc == ECOM_OK; i++) {
			rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);

			if (e != RD_KAFKA_RESP_ERR_NO_ERROR &&
			    e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
				rc = ecom_err_set(err, ECOM_UNAVAILABLE, "kafka: delete %s: %s",
						  rd_kafka_topic_result_name(res[i]),
						  rd_kafka_err2str(e));
		}
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(ao);
	rd_kafka_queue_destroy(q);
	return rc;
}

int kafka_delete_topics_with_prefix(struct broker *b, const char *prefix, size_t *n_deleted,
				    struct ecom_err *err)
{
	struct kafka_broker *kb = kafka_of(b);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_DeleteTopic_t **dt = NULL;
	size_t n = 0, plen;
	rd_kafka_resp_err_t e;
	int rc;

	ECOM_ASSERT(prefix);
	if (n_deleted)
		*n_deleted = 0;
	plen = strlen(prefix);
	if (plen < KAFKA_DELETE_PREFIX_MIN)
		return ecom_err_set(err, ECOM_INVALID, "kafka: delete prefix \"%s\" is too short",
				    prefix);
	rc = kafka_producer_check(kb, err);
	if (rc != ECOM_OK)
		return rc;
	e = rd_kafka_metadata(kb->producer, 1, NULL, &md, kb->opt.admin_timeout_ms);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		return ecom_err_set(err, ECOM_UNAVAILABLE, "kafka: metadata: %s",
				    rd_kafka_err2str(e));
	dt = ecom_xcalloc(KAFKA_DELETE_MAX, sizeof(*dt));
	for (int i = 0; i < md->topic_cnt && n < KAFKA_DELETE_MAX; i++)
		if (strncmp(md->topics[i].topic, prefix, plen) == 0)
			dt[n++] = rd_kafka_DeleteTopic_new(md->topics[i].topic);
	rd_kafka_metadata_destroy(md);
	if (n > 0)
		rc = kafka_delete_named(kb, dt, n, err);
	if (rc == ECOM_OK && n_deleted)
		*n_deleted = n;
	for (size_t i = 0; i < n; i++)
		rd_kafka_DeleteTopic_destroy(dt[i]);
	free(dt);
	return rc;
}
