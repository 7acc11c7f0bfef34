/* mem_broker.c — the in-memory Kafka-like cluster (see mem_broker.h). Topics and groups are
 * found by name in sorted arrays (binary search), members are dealt partitions in client_id
 * order, and nothing here iterates in an order that depends on pointer values, so the same
 * calls always give the same assignment and delivery order. Each message is one allocation
 * that never moves, so poll hands out pointers into the log without copying. */
#include "sim/mem_broker.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/ecom.h"

#define MEM_GROW_MIN 8
/* A message keeps the producer's parsed tree (broker_record.parsed) while it is among the
 * newest MEM_PARSED_WINDOW of its partition: consumers that keep up skip the parse, and the
 * log does not hold a tree per message. Older messages are parsed by whoever reads them. */
#define MEM_PARSED_WINDOW 64

/* With retention on (mem_cluster_set_retention), the partition is looked at every
 * MEM_TRIM_EVERY appends. */
#define MEM_TRIM_EVERY 256

struct mem_msg {
	char *blob; /* headers array, then key, value and header strings: one allocation;
		     * NULL once released by retention */
	const char *key;
	const char *value;
	size_t value_len;
	const struct broker_header *headers;
	int64_t visible_at_us;
	json_t *parsed; /* a reference while within MEM_PARSED_WINDOW of the head, else NULL */
	uint32_t key_len;
	uint16_t n_headers;
	uint8_t pinned; /* kept by retention (mem_cluster_pin) */
};

/* A partition's messages live in pages of MEM_PAGE; a page whose messages retention all
 * released (none pinned) is freed too, so a long run keeps no per-message record of what
 * it no longer holds. */
#define MEM_PAGE_SHIFT 12
#define MEM_PAGE ((int64_t)1 << MEM_PAGE_SHIFT)

struct mem_page {
	int64_t live; /* messages of the page still holding their memory */
	struct mem_msg msgs[MEM_PAGE];
};

struct mem_part {
	struct mem_page **pages; /* page i holds offsets [i * MEM_PAGE, (i + 1) * MEM_PAGE) */
	size_t n_pages, cap_pages;
	int64_t n;
	int64_t released; /* retention looked at every offset below this one */
};

/* The message at offset (< part->n), or NULL once its page was freed. */
static struct mem_msg *part_msg(const struct mem_part *part, int64_t offset)
{
	struct mem_page *pg = part->pages[offset >> MEM_PAGE_SHIFT];

	return pg ? &pg->msgs[offset & (MEM_PAGE - 1)] : NULL;
}

struct mem_topic {
	char *name;
	int32_t n_parts;
	struct mem_part *parts;
};

/* A topic the group has ever subscribed to, with the group's committed offsets. */
struct mem_gtopic {
	struct mem_topic *t;
	int64_t *committed; /* per partition; -1 = none */
};

struct mem_client;

struct mem_group {
	char *name;
	uint32_t generation;
	struct mem_client **members; /* join order */
	size_t n_members, cap_members;
	struct mem_gtopic *topics; /* sorted by topic name; never shrinks */
	size_t n_topics, cap_topics;
};

struct mem_assign {
	struct mem_topic *t;
	int32_t partition;
	int64_t position; /* next offset to deliver */
};

struct mem_client {
	struct broker base; /* first */
	struct mem_cluster *c;
	char *client_id;
	uint64_t join_seq; /* tie-break among equal client_ids: earlier join first */
	struct mem_group *group;
	struct mem_topic **subs; /* sorted by name, no duplicates */
	size_t n_subs;
	struct mem_assign *assign; /* sorted by (topic name, partition) */
	size_t n_assign, cap_assign;
	size_t poll_next; /* index in assign where the next poll starts */
	json_t *polled;   /* a reference to the last poll's broker_msg.parsed */
};

struct mem_cluster {
	int32_t default_partitions;
	struct eclock *clock;
	struct mem_cluster_hooks hooks;
	struct mem_topic **topics; /* sorted by name */
	size_t n_topics, cap_topics;
	struct mem_group **groups; /* sorted by name */
	size_t n_groups, cap_groups;
	uint64_t appended;
	uint64_t join_seq;
	size_t n_clients;
	int64_t retain; /* < 0: keep every message; else see mem_cluster_set_retention */
	uint64_t released;
};

/* ---- small helpers -------------------------------------------------------------------- */

/* Grows *p (elements of size sz) so that it holds at least need; *cap updated. */
static void grow(void **p, size_t *cap, size_t need, size_t sz)
{
	size_t n = *cap;

	if (need <= n)
		return;
	if (n < MEM_GROW_MIN)
		n = MEM_GROW_MIN;
	while (n < need)
		n *= 2;
	*p = ecom_xrealloc(*p, n * sz);
	*cap = n;
}

/* Kafka's legal topic names: [a-zA-Z0-9._-]{1,249}, not "." or "..". */
static int topic_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > MEM_TOPIC_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

/* Index of the first topic whose name is >= name; *found set when equal. */
static size_t topic_search(const struct mem_cluster *c, const char *name, int *found)
{
	size_t lo = 0, hi = c->n_topics;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(c->topics[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < c->n_topics && strcmp(c->topics[lo]->name, name) == 0;
	return lo;
}

static struct mem_topic *topic_find(const struct mem_cluster *c, const char *name)
{
	int found;
	size_t i = topic_search(c, name, &found);

	return found ? c->topics[i] : NULL;
}

/* The topic, created with `partitions` if new. Name must be valid. */
static struct mem_topic *topic_get(struct mem_cluster *c, const char *name, int32_t partitions)
{
	int found;
	size_t i = topic_search(c, name, &found);
	struct mem_topic *t;

	if (found)
		return c->topics[i];
	ECOM_ASSERT(partitions > 0 && partitions <= MEM_PARTITIONS_MAX);
	t = ecom_xcalloc(1, sizeof(*t));
	t->name = ecom_xstrdup(name);
	t->n_parts = partitions;
	t->parts = ecom_xcalloc((size_t)partitions, sizeof(*t->parts));
	grow((void **)&c->topics, &c->cap_topics, c->n_topics + 1, sizeof(*c->topics));
	memmove(&c->topics[i + 1], &c->topics[i], (c->n_topics - i) * sizeof(*c->topics));
	c->topics[i] = t;
	c->n_topics++;
	return t;
}

static void topic_free(struct mem_topic *t)
{
	for (int32_t p = 0; p < t->n_parts; p++) {
		struct mem_part *part = &t->parts[p];

		for (int64_t o = 0; o < part->n; o++) {
			struct mem_msg *msg = part_msg(part, o);

			if (msg) {
				json_decref(msg->parsed);
				free(msg->blob);
			}
		}
		for (size_t i = 0; i < part->n_pages; i++)
			free(part->pages[i]);
		free(part->pages);
	}
	free(t->parts);
	free(t->name);
	free(t);
}

static size_t group_search(const struct mem_cluster *c, const char *name, int *found)
{
	size_t lo = 0, hi = c->n_groups;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(c->groups[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < c->n_groups && strcmp(c->groups[lo]->name, name) == 0;
	return lo;
}

static struct mem_group *group_find(const struct mem_cluster *c, const char *name)
{
	int found;
	size_t i = group_search(c, name, &found);

	return found ? c->groups[i] : NULL;
}

static struct mem_group *group_get(struct mem_cluster *c, const char *name)
{
	int found;
	size_t i = group_search(c, name, &found);
	struct mem_group *g;

	if (found)
		return c->groups[i];
	g = ecom_xcalloc(1, sizeof(*g));
	g->name = ecom_xstrdup(name);
	grow((void **)&c->groups, &c->cap_groups, c->n_groups + 1, sizeof(*c->groups));
	memmove(&c->groups[i + 1], &c->groups[i], (c->n_groups - i) * sizeof(*c->groups));
	c->groups[i] = g;
	c->n_groups++;
	return g;
}

static void group_free(struct mem_group *g)
{
	ECOM_ASSERT(g->n_members == 0);
	for (size_t i = 0; i < g->n_topics; i++)
		free(g->topics[i].committed);
	free(g->topics);
	free(g->members);
	free(g->name);
	free(g);
}

static struct mem_gtopic *gtopic_find(const struct mem_group *g, const char *name)
{
	size_t lo = 0, hi = g->n_topics;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(g->topics[mid].t->name, name);

		if (cmp == 0)
			return &g->topics[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Adds t to the group's topic set (with no committed offsets) if it is not there yet. */
static void gtopic_add(struct mem_group *g, struct mem_topic *t)
{
	size_t i = 0;

	while (i < g->n_topics && strcmp(g->topics[i].t->name, t->name) < 0)
		i++;
	if (i < g->n_topics && g->topics[i].t == t)
		return;
	grow((void **)&g->topics, &g->cap_topics, g->n_topics + 1, sizeof(*g->topics));
	memmove(&g->topics[i + 1], &g->topics[i], (g->n_topics - i) * sizeof(*g->topics));
	g->topics[i].t = t;
	g->topics[i].committed = ecom_xmalloc((size_t)t->n_parts * sizeof(int64_t));
	for (int32_t p = 0; p < t->n_parts; p++)
		g->topics[i].committed[p] = -1;
	g->n_topics++;
}

/* ---- cluster -------------------------------------------------------------------------- */

struct mem_cluster *mem_cluster_new(int32_t default_partitions, struct eclock *clock)
{
	struct mem_cluster *c;

	ECOM_ASSERT(default_partitions > 0 && default_partitions <= MEM_PARTITIONS_MAX);
	ECOM_ASSERT(clock);
	c = ecom_xcalloc(1, sizeof(*c));
	c->default_partitions = default_partitions;
	c->clock = clock;
	c->retain = -1;
	return c;
}

void mem_cluster_set_retention(struct mem_cluster *c, int64_t keep)
{
	/* keep >= 1: the message a consumer polled and then committed past stays valid until
	 * its next poll. */
	ECOM_ASSERT(keep < 0 || keep >= 1);
	c->retain = keep;
}

/* Releases what retention allows in t's partition p: every message more than c->retain
 * offsets below the lowest committed offset of every group that subscribes to t, except
 * pinned ones. A topic no group subscribes to (a DLQ) keeps everything, and so does a
 * partition some group has not committed in yet. */
static void part_trim(struct mem_cluster *c, struct mem_topic *t, int32_t p)
{
	struct mem_part *part = &t->parts[p];
	int64_t low = INT64_MAX;

	for (size_t i = 0; i < c->n_groups; i++) {
		const struct mem_gtopic *gt = gtopic_find(c->groups[i], t->name);

		if (gt && gt->committed[p] < low)
			low = gt->committed[p];
	}
	if (low == INT64_MAX || low <= c->retain)
		return;
	low -= c->retain;
	for (int64_t o = part->released; o < low; o++) {
		struct mem_msg *msg = part_msg(part, o);
		size_t pi = (size_t)(o >> MEM_PAGE_SHIFT);

		if (!msg || msg->pinned || !msg->blob)
			continue;
		json_decref(msg->parsed);
		msg->parsed = NULL;
		free(msg->blob);
		msg->blob = NULL;
		msg->key = msg->value = NULL;
		msg->headers = NULL;
		c->released++;
		/* A full page with nothing left in it goes (the newest page is never full). */
		if (--part->pages[pi]->live == 0 && (int64_t)(pi + 1) * MEM_PAGE <= part->n) {
			free(part->pages[pi]);
			part->pages[pi] = NULL;
		}
	}
	if (low > part->released)
		part->released = low;
}

void mem_cluster_free(struct mem_cluster *c)
{
	if (!c)
		return;
	/* Whoever creates destroys: a live client would point into freed memory. */
	ECOM_ASSERT(c->n_clients == 0);
	for (size_t i = 0; i < c->n_groups; i++)
		group_free(c->groups[i]);
	for (size_t i = 0; i < c->n_topics; i++)
		topic_free(c->topics[i]);
	free(c->groups);
	free(c->topics);
	free(c);
}

void mem_cluster_set_hooks(struct mem_cluster *c, const struct mem_cluster_hooks *h)
{
	ECOM_ASSERT(c);
	if (h)
		c->hooks = *h;
	else
		memset(&c->hooks, 0, sizeof(c->hooks));
}

int mem_cluster_create_topic(struct mem_cluster *c, const char *topic, int32_t partitions)
{
	struct mem_topic *t;

	ECOM_ASSERT(c && topic);
	if (!topic_name_valid(topic) || partitions <= 0 || partitions > MEM_PARTITIONS_MAX)
		return ECOM_INVALID;
	t = topic_find(c, topic);
	if (t)
		return t->n_parts == partitions ? ECOM_OK : ECOM_CONFLICT;
	topic_get(c, topic, partitions);
	return ECOM_OK;
}

/* ---- group membership and assignment -------------------------------------------------- */

static int member_cmp(const void *a, const void *b)
{
	const struct mem_client *x = *(const struct mem_client *const *)a;
	const struct mem_client *y = *(const struct mem_client *const *)b;
	int cmp = strcmp(x->client_id, y->client_id);

	if (cmp != 0)
		return cmp;
	return x->join_seq < y->join_seq ? -1 : x->join_seq > y->join_seq;
}

static int client_subscribes(const struct mem_client *m, const struct mem_topic *t)
{
	for (size_t i = 0; i < m->n_subs; i++) {
		if (m->subs[i] == t)
			return 1;
	}
	return 0;
}

/* The position m had for (t, p) before this rebalance, or -1 if it did not own it. */
static int64_t old_position(const struct mem_assign *old, size_t n_old, const struct mem_topic *t,
			    int32_t p)
{
	for (size_t i = 0; i < n_old; i++) {
		if (old[i].t == t && old[i].partition == p)
			return old[i].position;
	}
	return -1;
}

static void assign_push(struct mem_client *m, struct mem_topic *t, int32_t p, int64_t pos)
{
	grow((void **)&m->assign, &m->cap_assign, m->n_assign + 1, sizeof(*m->assign));
	m->assign[m->n_assign].t = t;
	m->assign[m->n_assign].partition = p;
	m->assign[m->n_assign].position = pos;
	m->n_assign++;
}

/* Deals one topic's partitions round-robin over the sorted members that subscribe to it.
 * eligible is scratch space for n indexes into sorted. */
static void assign_topic(struct mem_client **sorted, size_t n, const struct mem_gtopic *gt,
			 struct mem_assign **olds, const size_t *n_olds, size_t *eligible)
{
	size_t n_elig = 0;

	for (size_t i = 0; i < n; i++) {
		if (client_subscribes(sorted[i], gt->t))
			eligible[n_elig++] = i;
	}
	if (n_elig == 0)
		return;
	for (int32_t p = 0; p < gt->t->n_parts; p++) {
		size_t mi = eligible[(size_t)p % n_elig];
		int64_t pos;

		/* Kept partitions keep their in-memory position (cooperative rebalance); new
		 * ones start at the committed offset, or the earliest when none. */
		pos = old_position(olds[mi], n_olds[mi], gt->t, p);
		if (pos < 0)
			pos = gt->committed[p] >= 0 ? gt->committed[p] : 0;
		assign_push(sorted[mi], gt->t, p, pos);
	}
}

/* Recomputes every member's assignment, bumps the generation and tells the hook. */
static void group_rebalance(struct mem_cluster *c, struct mem_group *g)
{
	size_t n = g->n_members;
	struct mem_client **sorted = ecom_xmalloc(n * sizeof(*sorted));
	size_t *eligible = ecom_xmalloc(n * sizeof(*eligible));
	struct mem_assign **olds = ecom_xmalloc(n * sizeof(*olds));
	size_t *n_olds = ecom_xmalloc(n * sizeof(*n_olds));

	if (n > 0) {
		memcpy(sorted, g->members, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), member_cmp);
	}
	for (size_t i = 0; i < n; i++) {
		olds[i] = sorted[i]->assign;
		n_olds[i] = sorted[i]->n_assign;
		sorted[i]->assign = NULL;
		sorted[i]->n_assign = 0;
		sorted[i]->cap_assign = 0;
		sorted[i]->poll_next = 0;
	}
	for (size_t ti = 0; ti < g->n_topics; ti++)
		assign_topic(sorted, n, &g->topics[ti], olds, n_olds, eligible);
	for (size_t i = 0; i < n; i++)
		free(olds[i]);
	free(n_olds);
	free(olds);
	free(eligible);
	free(sorted);
	g->generation++;
	if (c->hooks.on_rebalance)
		c->hooks.on_rebalance(c->hooks.arg, g->name, g->generation);
}

/* Removes m from its group (uncommitted progress is lost) and rebalances the rest. */
static void client_leave(struct mem_client *m)
{
	struct mem_group *g = m->group;
	size_t i = 0;

	if (!g)
		return;
	while (g->members[i] != m)
		i++;
	memmove(&g->members[i], &g->members[i + 1], (g->n_members - i - 1) * sizeof(*g->members));
	g->n_members--;
	free(m->assign);
	m->assign = NULL;
	m->n_assign = m->cap_assign = 0;
	m->poll_next = 0;
	m->group = NULL;
	group_rebalance(m->c, g);
}

/* ---- the broker ops ------------------------------------------------------------------- */

static struct mem_client *to_client(struct broker *b)
{
	return (struct mem_client *)b;
}

static int headers_valid(const struct broker_record *rec)
{
	if (rec->n_headers > 0 && !rec->headers)
		return 0;
	for (size_t i = 0; i < rec->n_headers; i++) {
		if (!rec->headers[i].key || !rec->headers[i].value)
			return 0;
	}
	return 1;
}

/* Copies key, value and headers into one allocation laid out as
 * [broker_header x n][key NUL][value NUL][hkey NUL hval NUL]... */
static void msg_fill(struct mem_msg *msg, const struct broker_record *rec)
{
	size_t size = rec->n_headers * sizeof(struct broker_header);
	size_t key_len = rec->key ? rec->key_len : 0;
	struct broker_header *hs;
	char *p;

	size += (rec->key ? key_len + 1 : 0) + rec->value_len + 1;
	for (size_t i = 0; i < rec->n_headers; i++)
		size += strlen(rec->headers[i].key) + strlen(rec->headers[i].value) + 2;
	msg->blob = ecom_xmalloc(size);
	hs = (struct broker_header *)msg->blob;
	p = msg->blob + rec->n_headers * sizeof(struct broker_header);
	msg->key = NULL;
	msg->key_len = 0;
	msg->pinned = 0;
	if (rec->key) {
		memcpy(p, rec->key, key_len);
		p[key_len] = '\0';
		msg->key = p;
		msg->key_len = (uint32_t)key_len;
		p += key_len + 1;
	}
	if (rec->value_len)
		memcpy(p, rec->value, rec->value_len);
	p[rec->value_len] = '\0';
	msg->value = p;
	msg->value_len = rec->value_len;
	p += rec->value_len + 1;
	for (size_t i = 0; i < rec->n_headers; i++) {
		size_t kl = strlen(rec->headers[i].key), vl = strlen(rec->headers[i].value);

		memcpy(p, rec->headers[i].key, kl + 1);
		hs[i].key = p;
		p += kl + 1;
		memcpy(p, rec->headers[i].value, vl + 1);
		hs[i].value = p;
		p += vl + 1;
	}
	msg->headers = rec->n_headers ? hs : NULL;
	msg->n_headers = (uint16_t)rec->n_headers;
}

static int mem_produce(struct broker *b, const struct broker_record *rec, struct ecom_err *err)
{
	struct mem_client *m = to_client(b);
	struct mem_cluster *c = m->c;
	struct mem_topic *t;
	struct mem_part *part;
	struct mem_msg *msg;
	int64_t now_us, offset;
	int32_t p;

	if (!topic_name_valid(rec->topic))
		return ecom_err_set(err, ECOM_INVALID, "invalid topic name '%.64s'", rec->topic);
	if (!headers_valid(rec))
		return ecom_err_set(err, ECOM_INVALID, "header with NULL key or value");
	if (rec->key == NULL && rec->key_len != 0)
		return ecom_err_set(err, ECOM_INVALID, "NULL key with key_len %zu", rec->key_len);
	if (rec->key_len > UINT32_MAX || rec->n_headers > UINT16_MAX)
		return ecom_err_set(err, ECOM_INVALID, "key or header count too large");
	t = topic_get(c, rec->topic, c->default_partitions);
	p = rec->key ? broker_partition_for_key(rec->key, rec->key_len, t->n_parts) : 0;
	part = &t->parts[p];
	offset = part->n;
	if ((offset & (MEM_PAGE - 1)) == 0) {
		grow((void **)&part->pages, &part->cap_pages, part->n_pages + 1,
		     sizeof(*part->pages));
		part->pages[part->n_pages++] = ecom_xcalloc(1, sizeof(struct mem_page));
	}
	msg = part_msg(part, offset);
	msg_fill(msg, rec);
	part->pages[offset >> MEM_PAGE_SHIFT]->live++;
	msg->parsed = rec->parsed ? json_incref(rec->parsed) : NULL;
	if (offset >= MEM_PARSED_WINDOW) {
		struct mem_msg *old = part_msg(part, offset - MEM_PARSED_WINDOW);

		if (old) {
			json_decref(old->parsed);
			old->parsed = NULL;
		}
	}
	now_us = clock_now_us(c->clock);
	msg->visible_at_us = now_us;
	if (c->hooks.visible_at)
		msg->visible_at_us = c->hooks.visible_at(c->hooks.arg, t->name, p, offset, now_us);
	part->n++;
	c->appended++;
	if (c->hooks.on_append)
		c->hooks.on_append(c->hooks.arg, t->name, p, offset, msg->visible_at_us);
	if (c->retain >= 0 && part->n % MEM_TRIM_EVERY == 0)
		part_trim(c, t, p);
	return ECOM_OK;
}

static int mem_subscribe(struct broker *b, const char *group, const char *const *topics,
			 size_t n_topics, struct ecom_err *err)
{
	struct mem_client *m = to_client(b);
	struct mem_cluster *c = m->c;
	struct mem_group *g;

	if (group[0] == '\0' || strlen(group) > MEM_GROUP_NAME_MAX)
		return ecom_err_set(err, ECOM_INVALID, "invalid group name");
	for (size_t i = 0; i < n_topics; i++) {
		if (!topics[i] || !topic_name_valid(topics[i]))
			return ecom_err_set(err, ECOM_INVALID, "invalid topic name '%.64s'",
					    topics[i] ? topics[i] : "(null)");
	}
	/* Replacing a subscription in another group is a leave there, then a join here. */
	if (m->group && strcmp(m->group->name, group) != 0)
		client_leave(m);
	free(m->subs);
	m->subs = ecom_xmalloc(n_topics * sizeof(*m->subs));
	m->n_subs = 0;
	for (size_t i = 0; i < n_topics; i++) {
		struct mem_topic *t = topic_get(c, topics[i], c->default_partitions);
		size_t j = 0;

		/* Insertion into the sorted, duplicate-free list (n_topics is small). */
		while (j < m->n_subs && strcmp(m->subs[j]->name, t->name) < 0)
			j++;
		if (j < m->n_subs && m->subs[j] == t)
			continue;
		memmove(&m->subs[j + 1], &m->subs[j], (m->n_subs - j) * sizeof(*m->subs));
		m->subs[j] = t;
		m->n_subs++;
	}
	g = group_get(c, group);
	for (size_t i = 0; i < m->n_subs; i++)
		gtopic_add(g, m->subs[i]);
	if (!m->group) {
		grow((void **)&g->members, &g->cap_members, g->n_members + 1, sizeof(*g->members));
		g->members[g->n_members++] = m;
		m->group = g;
		m->join_seq = ++c->join_seq;
	}
	group_rebalance(c, g);
	return ECOM_OK;
}

static int mem_poll(struct broker *b, int timeout_ms, struct broker_msg *out,
		    struct ecom_err *err)
{
	struct mem_client *m = to_client(b);
	int64_t now_us;

	(void)timeout_ms; /* nothing in memory is worth waiting for: the scheduler advances time */
	if (!m->group)
		return ecom_err_set(err, ECOM_INVALID, "poll before subscribe");
	now_us = clock_now_us(m->c->clock);
	for (size_t i = 0; i < m->n_assign; i++) {
		size_t idx = (m->poll_next + i) % m->n_assign;
		struct mem_assign *a = &m->assign[idx];
		const struct mem_part *part = &a->t->parts[a->partition];
		const struct mem_msg *msg;

		if (a->position >= part->n)
			continue;
		msg = part_msg(part, a->position);
		/* Retention only releases what every group committed past. */
		ECOM_ASSERT(msg && msg->blob);
		/* Head-of-line: an invisible message holds back the rest of its partition. */
		if (msg->visible_at_us > now_us)
			continue;
		out->topic = a->t->name;
		out->partition = a->partition;
		out->offset = a->position;
		out->key = msg->key;
		out->key_len = msg->key_len;
		out->value = msg->value;
		out->value_len = msg->value_len;
		out->headers = msg->headers;
		out->n_headers = msg->n_headers;
		/* Valid until the next poll, whatever the window drops meanwhile. */
		json_decref(m->polled);
		m->polled = msg->parsed ? json_incref(msg->parsed) : NULL;
		out->parsed = m->polled;
		a->position++;
		m->poll_next = idx + 1;
		return ECOM_OK;
	}
	return ECOM_NOT_FOUND;
}

static int mem_commit(struct broker *b, const char *topic, int32_t partition, int64_t next_offset,
		      struct ecom_err *err)
{
	struct mem_client *m = to_client(b);
	struct mem_gtopic *gt;

	if (!m->group)
		return ecom_err_set(err, ECOM_INVALID, "commit before subscribe");
	for (size_t i = 0; i < m->n_assign; i++) {
		struct mem_assign *a = &m->assign[i];

		/* Callers usually pass back the name poll gave them: compare pointers first. */
		if (a->partition != partition || (a->t->name != topic &&
						  strcmp(a->t->name, topic) != 0))
			continue;
		if (next_offset > a->t->parts[partition].n)
			return ecom_err_set(err, ECOM_INVALID,
					    "commit %s[%d] at %lld past the end %lld", topic,
					    partition, (long long)next_offset,
					    (long long)a->t->parts[partition].n);
		gt = gtopic_find(m->group, topic);
		ECOM_ASSERT(gt);
		/* Set, not max: as in Kafka a consumer may move its committed offset back
		 * (e.g. to reprocess); the runtime only ever commits forward. */
		gt->committed[partition] = next_offset;
		return ECOM_OK;
	}
	return ecom_err_set(err, ECOM_CONFLICT, "%s[%d] is not assigned to %s in generation %u",
			    topic, partition, m->client_id, m->group->generation);
}

static void mem_destroy(struct broker *b)
{
	struct mem_client *m = to_client(b);

	client_leave(m);
	m->c->n_clients--;
	json_decref(m->polled);
	free(m->subs);
	free(m->client_id);
	free(m);
}

static const struct broker_ops mem_broker_ops = {
	.name = "mem",
	.produce = mem_produce,
	.subscribe = mem_subscribe,
	.poll = mem_poll,
	.commit = mem_commit,
	.destroy = mem_destroy,
};

struct broker *mem_broker_new(struct mem_cluster *c, const char *client_id)
{
	struct mem_client *m;

	ECOM_ASSERT(c && client_id && strlen(client_id) <= MEM_CLIENT_ID_MAX);
	m = ecom_xcalloc(1, sizeof(*m));
	m->base.ops = &mem_broker_ops;
	m->c = c;
	m->client_id = ecom_xstrdup(client_id);
	c->n_clients++;
	return &m->base;
}

/* ---- inspection ----------------------------------------------------------------------- */

static const struct mem_msg *msg_at(const struct mem_cluster *c, const char *topic,
				    int32_t partition, int64_t offset, const struct mem_topic **tp)
{
	const struct mem_topic *t = topic_find(c, topic);

	if (!t || partition < 0 || partition >= t->n_parts || offset < 0 ||
	    offset >= t->parts[partition].n)
		return NULL;
	*tp = t;
	return part_msg(&t->parts[partition], offset);
}

int32_t mem_cluster_partitions(const struct mem_cluster *c, const char *topic)
{
	const struct mem_topic *t = topic_find(c, topic);

	return t ? t->n_parts : 0;
}

int64_t mem_cluster_end_offset(const struct mem_cluster *c, const char *topic, int32_t partition)
{
	const struct mem_topic *t = topic_find(c, topic);

	if (!t || partition < 0 || partition >= t->n_parts)
		return 0;
	return t->parts[partition].n;
}

int mem_cluster_read(const struct mem_cluster *c, const char *topic, int32_t partition,
		     int64_t offset, struct broker_msg *out)
{
	const struct mem_topic *t = NULL;
	const struct mem_msg *msg = msg_at(c, topic, partition, offset, &t);

	ECOM_ASSERT(out);
	if (!msg || !msg->blob)
		return ECOM_NOT_FOUND;
	out->topic = t->name;
	out->partition = partition;
	out->offset = offset;
	out->key = msg->key;
	out->key_len = msg->key_len;
	out->value = msg->value;
	out->value_len = msg->value_len;
	out->headers = msg->headers;
	out->n_headers = msg->n_headers;
	out->parsed = msg->parsed;
	return ECOM_OK;
}

int64_t mem_cluster_visible_at(const struct mem_cluster *c, const char *topic,
			       int32_t partition, int64_t offset)
{
	const struct mem_topic *t = NULL;
	const struct mem_msg *msg = msg_at(c, topic, partition, offset, &t);

	return msg && msg->blob ? msg->visible_at_us : -1;
}

size_t mem_cluster_topics(const struct mem_cluster *c, const char ***names)
{
	ECOM_ASSERT(names);
	*names = NULL;
	if (c->n_topics == 0)
		return 0;
	*names = ecom_xmalloc(c->n_topics * sizeof(**names));
	for (size_t i = 0; i < c->n_topics; i++)
		(*names)[i] = c->topics[i]->name;
	return c->n_topics;
}

int64_t mem_cluster_committed(const struct mem_cluster *c, const char *group, const char *topic,
			      int32_t partition)
{
	const struct mem_group *g = group_find(c, group);
	const struct mem_gtopic *gt = g ? gtopic_find(g, topic) : NULL;

	if (!gt || partition < 0 || partition >= gt->t->n_parts)
		return -1;
	return gt->committed[partition];
}

int64_t mem_cluster_group_lag(const struct mem_cluster *c, const char *group)
{
	const struct mem_group *g = group_find(c, group);
	int64_t lag = 0;

	if (!g)
		return 0;
	for (size_t i = 0; i < g->n_topics; i++) {
		const struct mem_gtopic *gt = &g->topics[i];

		for (int32_t p = 0; p < gt->t->n_parts; p++) {
			int64_t done = gt->committed[p] >= 0 ? gt->committed[p] : 0;

			lag += gt->t->parts[p].n - done;
		}
	}
	return lag;
}

uint64_t mem_cluster_appended(const struct mem_cluster *c)
{
	return c->appended;
}

uint64_t mem_cluster_released(const struct mem_cluster *c)
{
	return c->released;
}

int mem_cluster_pin(struct mem_cluster *c, const char *topic, int32_t partition, int64_t offset)
{
	const struct mem_topic *t = NULL;
	struct mem_msg *msg = (struct mem_msg *)msg_at(c, topic, partition, offset, &t);

	if (!msg || !msg->blob)
		return ECOM_NOT_FOUND;
	msg->pinned = 1;
	return ECOM_OK;
}

uint32_t mem_cluster_generation(const struct mem_cluster *c, const char *group)
{
	const struct mem_group *g = group_find(c, group);

	return g ? g->generation : 0;
}

const char *mem_cluster_owner(const struct mem_cluster *c, const char *group, const char *topic,
			      int32_t partition)
{
	const struct mem_group *g = group_find(c, group);

	if (!g)
		return NULL;
	for (size_t i = 0; i < g->n_members; i++) {
		const struct mem_client *m = g->members[i];

		for (size_t j = 0; j < m->n_assign; j++) {
			if (m->assign[j].partition == partition &&
			    strcmp(m->assign[j].t->name, topic) == 0)
				return m->client_id;
		}
	}
	return NULL;
}

size_t mem_cluster_group_members(const struct mem_cluster *c, const char *group)
{
	const struct mem_group *g = group_find(c, group);

	return g ? g->n_members : 0;
}
