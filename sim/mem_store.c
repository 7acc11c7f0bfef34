/* mem_store.c — in-memory store.h: collections sorted by name, documents in a chained hash
 * index keyed by _id (FNV-1a, fixed: no seed) for O(1) get/replace, and a lazily rebuilt
 * _id-sorted view for iteration. EQ/RANGE finds scan a sparse per-field index (the documents
 * that HAVE the field) instead of the whole collection, so the runtime's sweep over
 * outbox_at/wake_at touches only pending documents. Hash and index order are never
 * observable: every walk that returns documents goes through the sorted view or sorts its
 * results by a total order.
 * Cold documents: one not written for MEM_DEMOTE_AGE writes to its collection and in no
 * field index (so no sweep looks at it) is kept as a compact binary encoding of its tree
 * instead of the tree (jansson spends ~240 bytes per value; the encoding ~20). A queue of
 * the collection's writes finds each document the moment it reaches that age, so trees are
 * freed a few at a time (while their blocks are still in cache for the next allocations)
 * rather than thousands at once. Reading it
 * decodes a private tree, which costs about what copying a hot one does; writing makes it
 * hot again. The encoding is exact (reals as their 8 bytes), so nothing observable changes. */
#include "sim/mem_store.h"

#include <stdlib.h>
#include <string.h>

#include "event/jsonx.h"

#define MEM_STORE_BUCKETS_MIN 16
#define MEM_STORE_COLLS_MIN 8
#define MEM_STORE_FIELD_INDEXES_MAX 8 /* per collection; finds on further fields scan all */
#define MEM_FIDX_ABSENT SIZE_MAX
#ifndef MEM_DEMOTE_AGE
#define MEM_DEMOTE_AGE 4096 /* writes to its collection since a document's own last write */
#endif
#define MEM_BIN_DEPTH_MAX 64  /* documents nest far less; decoding trusts only our encoder */

/* The documents of a collection whose top-level `field` is present and not null (exactly
 * those an EQ/RANGE query on the field can match), in no particular order. Built on the first
 * EQ/RANGE find on the field, then maintained by every insert, replace and remove. */
struct mem_fidx {
	char *field;
	struct mem_doc **docs;
	size_t n, cap;
};

struct mem_doc {
	char *id;
	json_t *doc;	      /* hot: a reference to the caller's document (store.h: handed
			       * over); NULL when cold */
	unsigned char *bin;   /* cold: the encoded document; NULL when hot */
	int64_t version;      /* the document's "version" */
	uint64_t written;     /* coll->writes at its last write */
#ifdef ECOM_CHECK_HANDOFF
	json_t *snap; /* a private copy: doc must stay equal to it (nobody mutates after handoff) */
#endif
	struct mem_doc *next; /* hash chain */
	size_t dense_idx;     /* position in coll->dense */
	uint64_t hash;
	size_t fpos[MEM_STORE_FIELD_INDEXES_MAX]; /* position in coll->fidx[i].docs or ABSENT */
};

struct mem_buf {
	unsigned char *p;
	size_t n, cap;
};

struct mem_coll {
	char *name;
	struct mem_doc **buckets; /* n_buckets chains; a power of two */
	size_t n_buckets;
	struct mem_doc **dense; /* every document, in no particular order */
	size_t n, cap;
	struct mem_doc **sorted; /* dense sorted by _id; valid unless sorted_dirty */
	size_t sorted_cap;
	int sorted_dirty;
	struct mem_fidx fidx[MEM_STORE_FIELD_INDEXES_MAX];
	size_t n_fidx;
	uint64_t writes; /* inserts and replaces so far */
	struct mem_buf scratch; /* encoding buffer, reused */
	/* The last MEM_DEMOTE_AGE writes, oldest first (a ring): (document, its `written` then).
	 * An entry whose document was written again since is stale and skipped. */
	struct mem_wq {
		struct mem_doc *d; /* NULL: the document was removed */
		uint64_t written;
	} *wq;
	size_t wq_head, wq_len;
};

struct mem_store {
	struct store base;
	struct mem_coll **colls; /* sorted by name */
	size_t n_colls, cap_colls;
	char *eager[MEM_STORE_FIELD_INDEXES_MAX]; /* mem_store_index_field */
	size_t n_eager;
};

static struct mem_fidx *fidx_get(struct mem_coll *c, const char *field);

static const struct store_ops mem_ops;

static struct mem_store *mem_of(struct store *s)
{
	ECOM_ASSERT(s && s->ops == &mem_ops);
	return (struct mem_store *)s;
}

static uint64_t mem_hash(const char *id)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */

	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- copies (jsonx_copy: a deep copy without jansson's cycle check) ---------------- */

/* store.h: insert and replace keep the caller's document itself; the caller promised not to
 * change it afterwards. Builds with ECOM_CHECK_HANDOFF (debug, sanitizers, coverage) keep a
 * private copy next to it and abort when the two differ, so a broken promise is found by the
 * test suite instead of silently rewriting stored state. */
#ifdef ECOM_CHECK_HANDOFF
static void doc_snap(struct mem_doc *d)
{
	json_decref(d->snap);
	d->snap = jsonx_copy(d->doc);
}

static void doc_check(const struct mem_doc *d)
{
	if (!d->doc)
		return; /* cold: nobody else holds it */
	ECOM_ASSERT(json_equal(d->doc, d->snap) &&
		    "a document handed to the store was modified afterwards (store.h)");
}

static void doc_unsnap(struct mem_doc *d)
{
	json_decref(d->snap);
	d->snap = NULL;
}
#else
static void doc_snap(struct mem_doc *d) { (void)d; }
static void doc_check(const struct mem_doc *d) { (void)d; }
static void doc_unsnap(struct mem_doc *d) { (void)d; }
#endif

/* ---- cold documents: a compact exact encoding of a tree -------------------------------- */

static void buf_reserve(struct mem_buf *b, size_t n)
{
	if (b->n + n <= b->cap)
		return;
	while (b->n + n > b->cap)
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = ecom_xrealloc(b->p, b->cap);
}

static inline void buf_put(struct mem_buf *b, const void *src, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->n, src, n);
	b->n += n;
}

static inline void buf_byte(struct mem_buf *b, unsigned char c)
{
	buf_reserve(b, 1);
	b->p[b->n++] = c;
}

static inline void buf_varint(struct mem_buf *b, uint64_t v)
{
	buf_reserve(b, 10);
	while (v >= 0x80) {
		b->p[b->n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	b->p[b->n++] = (unsigned char)v;
}

/* 'o' count (keylen key value)*, 'a' count value*, 's' len bytes, 'i' zigzag varint,
 * 'r' the double's 8 bytes, 't' 'f' 'n'. Lengths and counts are LEB128 varints. */
static void bin_encode(struct mem_buf *b, const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;
	unsigned char tag;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		buf_byte(b, 'o');
		buf_varint(b, json_object_size(v));
		json_object_foreach((json_t *)v, key, item) {
			size_t kl = strlen(key);

			buf_varint(b, kl);
			buf_put(b, key, kl);
			bin_encode(b, item);
		}
		return;
	case JSON_ARRAY:
		buf_byte(b, 'a');
		buf_varint(b, json_array_size(v));
		json_array_foreach(v, i, item)
			bin_encode(b, item);
		return;
	case JSON_STRING:
		buf_byte(b, 's');
		buf_varint(b, json_string_length(v));
		buf_put(b, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER: {
		uint64_t u = (uint64_t)json_integer_value(v);

		buf_byte(b, 'i');
		buf_varint(b, (u << 1) ^ (uint64_t)((int64_t)u >> 63));
		return;
	}
	case JSON_REAL: {
		double d = json_real_value(v);

		buf_byte(b, 'r');
		buf_put(b, &d, sizeof(d));
		return;
	}
	case JSON_TRUE:
		tag = 't';
		break;
	case JSON_FALSE:
		tag = 'f';
		break;
	default:
		tag = 'n';
		break;
	}
	buf_byte(b, tag);
}

static uint64_t bin_varint(const unsigned char **p)
{
	uint64_t v = 0;
	unsigned shift = 0;

	for (;;) {
		unsigned char c = *(*p)++;

		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
		shift += 7;
		ECOM_ASSERT(shift < 64);
	}
}

static json_t *bin_decode(const unsigned char **p, int depth)
{
	char keybuf[256];
	json_t *out;
	uint64_t n;

	ECOM_ASSERT(depth < MEM_BIN_DEPTH_MAX);
	switch (*(*p)++) {
	case 'o':
		out = json_object();
		ECOM_ASSERT(out);
		n = bin_varint(p);
		for (uint64_t i = 0; i < n; i++) {
			size_t kl = (size_t)bin_varint(p);
			char *key = kl < sizeof(keybuf) ? keybuf : ecom_xmalloc(kl + 1);

			memcpy(key, *p, kl);
			key[kl] = '\0';
			*p += kl;
			ECOM_ASSERT(json_object_set_new_nocheck(out, key, bin_decode(p, depth + 1)) ==
				    0);
			if (key != keybuf)
				free(key);
		}
		return out;
	case 'a':
		out = json_array();
		ECOM_ASSERT(out);
		n = bin_varint(p);
		for (uint64_t i = 0; i < n; i++)
			ECOM_ASSERT(json_array_append_new(out, bin_decode(p, depth + 1)) == 0);
		return out;
	case 's':
		n = bin_varint(p);
		out = json_stringn_nocheck((const char *)*p, (size_t)n);
		*p += n;
		break;
	case 'i':
		n = bin_varint(p);
		out = json_integer((json_int_t)((n >> 1) ^ (~(n & 1) + 1)));
		break;
	case 'r': {
		double d;

		memcpy(&d, *p, sizeof(d));
		*p += sizeof(d);
		out = json_real(d);
		break;
	}
	case 't':
		out = json_true();
		break;
	case 'f':
		out = json_false();
		break;
	case 'n':
		out = json_null();
		break;
	default:
		ECOM_ASSERT(!"corrupt cold document");
		return NULL;
	}
	ECOM_ASSERT(out);
	return out;
}

/* Steps over one encoded value. */
static void bin_skip(const unsigned char **p, int depth)
{
	uint64_t n;

	ECOM_ASSERT(depth < MEM_BIN_DEPTH_MAX);
	switch (*(*p)++) {
	case 'o':
		n = bin_varint(p);
		for (uint64_t i = 0; i < n; i++) {
			*p += bin_varint(p); /* the key */
			bin_skip(p, depth + 1);
		}
		return;
	case 'a':
		n = bin_varint(p);
		for (uint64_t i = 0; i < n; i++)
			bin_skip(p, depth + 1);
		return;
	case 's':
		*p += bin_varint(p);
		return;
	case 'i':
		(void)bin_varint(p);
		return;
	case 'r':
		*p += sizeof(double);
		return;
	case 't':
	case 'f':
	case 'n':
		return;
	default:
		ECOM_ASSERT(!"corrupt cold document");
	}
}

/* The encoded document with only the top-level members named in fields. */
static json_t *doc_decode_fields(const struct mem_doc *d, const char *const *fields,
				 size_t n_fields)
{
	const unsigned char *p = d->bin;
	json_t *out = json_object();
	uint64_t n;

	ECOM_ASSERT(out && *p == 'o');
	p++;
	n = bin_varint(&p);
	for (uint64_t i = 0; i < n; i++) {
		size_t kl = (size_t)bin_varint(&p);
		const char *key = (const char *)p;
		int want = 0;

		p += kl;
		for (size_t f = 0; f < n_fields && !want; f++)
			want = strlen(fields[f]) == kl && memcmp(fields[f], key, kl) == 0;
		if (want)
			ECOM_ASSERT(json_object_setn_new_nocheck(out, key, kl, bin_decode(&p, 1)) ==
				    0);
		else
			bin_skip(&p, 1);
	}
	return out;
}

static json_t *doc_decode(const struct mem_doc *d)
{
	const unsigned char *p = d->bin;

	return bin_decode(&p, 0);
}

/* A new reference to the document's tree: the stored one (hot; read-only) or a fresh decode
 * (cold; the caller's). */
static json_t *doc_tree(const struct mem_doc *d)
{
	if (!d->doc)
		return doc_decode(d);
	doc_check(d);
	return json_incref(d->doc);
}

/* For store_get: a new top level sharing the stored members (store.h: copy on write). */
static json_t *doc_private(const struct mem_doc *d)
{
	if (!d->doc)
		return doc_decode(d);
	doc_check(d);
	return jsonx_shallow(d->doc);
}

/* Makes doc (a new reference, handed over) d's hot tree, dropping what was there. */
static void doc_set(struct mem_doc *d, json_t *doc, uint64_t written)
{
	doc_check(d);
	doc_unsnap(d);
	json_decref(d->doc);
	free(d->bin);
	d->bin = NULL;
	d->doc = doc;
	d->version = json_integer_value(json_object_get(doc, "version"));
	d->written = written;
	doc_snap(d);
}

static void doc_release(struct mem_doc *d)
{
	doc_check(d);
	doc_unsnap(d);
	json_decref(d->doc);
	free(d->bin);
	d->doc = NULL;
	d->bin = NULL;
}

static void doc_demote(struct mem_doc *d, struct mem_buf *scratch)
{
	doc_check(d);
	scratch->n = 0;
	bin_encode(scratch, d->doc);
	d->bin = ecom_xmalloc(scratch->n);
	memcpy(d->bin, scratch->p, scratch->n);
#ifdef ECOM_CHECK_HANDOFF
	{
		json_t *back = doc_decode(d);

		ECOM_ASSERT(json_equal(back, d->doc) && "cold encoding does not round-trip");
		json_decref(back);
	}
#endif
	doc_unsnap(d);
	json_decref(d->doc);
	d->doc = NULL;
}

/* ---- collections ------------------------------------------------------------------- */

/* Index of coll in m->colls, or -(insertion point) - 1. */
static long coll_search(const struct mem_store *m, const char *name)
{
	size_t lo = 0, hi = m->n_colls;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(m->colls[mid]->name, name);

		if (cmp == 0)
			return (long)mid;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

static struct mem_coll *coll_find(const struct mem_store *m, const char *name)
{
	long i = coll_search(m, name);

	return i >= 0 ? m->colls[i] : NULL;
}

static struct mem_coll *coll_get_or_create(struct mem_store *m, const char *name)
{
	long i = coll_search(m, name);
	size_t at;
	struct mem_coll *c;

	if (i >= 0)
		return m->colls[i];
	at = (size_t)(-i - 1);
	if (m->n_colls == m->cap_colls) {
		m->cap_colls = m->cap_colls ? m->cap_colls * 2 : MEM_STORE_COLLS_MIN;
		m->colls = ecom_xrealloc(m->colls, m->cap_colls * sizeof(*m->colls));
	}
	c = ecom_xcalloc(1, sizeof(*c));
	c->name = ecom_xstrdup(name);
	c->n_buckets = MEM_STORE_BUCKETS_MIN;
	c->buckets = ecom_xcalloc(c->n_buckets, sizeof(*c->buckets));
	memmove(m->colls + at + 1, m->colls + at, (m->n_colls - at) * sizeof(*m->colls));
	m->colls[at] = c;
	m->n_colls++;
	for (size_t k = 0; k < m->n_eager; k++)
		ECOM_ASSERT(fidx_get(c, m->eager[k]));
	return c;
}

static void coll_free(struct mem_coll *c)
{
	for (size_t i = 0; i < c->n_fidx; i++) {
		free(c->fidx[i].field);
		free(c->fidx[i].docs);
	}
	for (size_t i = 0; i < c->n; i++) {
		doc_release(c->dense[i]);
		free(c->dense[i]->id);
		free(c->dense[i]);
	}
	free(c->scratch.p);
	free(c->wq);
	free(c->dense);
	free(c->sorted);
	free(c->buckets);
	free(c->name);
	free(c);
}

static struct mem_doc *coll_lookup(const struct mem_coll *c, const char *id)
{
	uint64_t h = mem_hash(id);

	for (struct mem_doc *d = c->buckets[h & (c->n_buckets - 1)]; d; d = d->next) {
		if (d->hash == h && strcmp(d->id, id) == 0)
			return d;
	}
	return NULL;
}

static void coll_rehash(struct mem_coll *c, size_t n_buckets)
{
	free(c->buckets);
	c->buckets = ecom_xcalloc(n_buckets, sizeof(*c->buckets));
	c->n_buckets = n_buckets;
	/* Chains are rebuilt in dense order; chain order is never observable anyway. */
	for (size_t i = 0; i < c->n; i++) {
		struct mem_doc *d = c->dense[i];
		size_t b = d->hash & (n_buckets - 1);

		d->next = c->buckets[b];
		c->buckets[b] = d;
	}
}

/* ---- sparse field indexes ------------------------------------------------------------ */

static int fidx_has(const struct mem_fidx *x, const struct mem_doc *d)
{
	json_t *t = doc_tree(d);
	const json_t *v = json_object_get(t, x->field);
	int has = v && !json_is_null(v);

	json_decref(t);
	return has;
}

static void fidx_put(struct mem_fidx *x, size_t i, struct mem_doc *d)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : MEM_STORE_BUCKETS_MIN;
		x->docs = ecom_xrealloc(x->docs, x->cap * sizeof(*x->docs));
	}
	d->fpos[i] = x->n;
	x->docs[x->n++] = d;
}

static void fidx_drop(struct mem_fidx *x, size_t i, struct mem_doc *d)
{
	struct mem_doc *last = x->docs[--x->n];

	x->docs[d->fpos[i]] = last;
	last->fpos[i] = d->fpos[i];
	d->fpos[i] = MEM_FIDX_ABSENT;
}

/* Brings d's membership in every index up to date with d->doc. */
static void fidx_sync(struct mem_coll *c, struct mem_doc *d)
{
	for (size_t i = 0; i < c->n_fidx; i++) {
		int has = fidx_has(&c->fidx[i], d), in = d->fpos[i] != MEM_FIDX_ABSENT;

		if (has && !in)
			fidx_put(&c->fidx[i], i, d);
		else if (!has && in)
			fidx_drop(&c->fidx[i], i, d);
	}
}

/* The index on field, built now if there is room for one more; NULL: scan everything. */
static struct mem_fidx *fidx_get(struct mem_coll *c, const char *field)
{
	struct mem_fidx *x;
	size_t i;

	for (i = 0; i < c->n_fidx; i++)
		if (strcmp(c->fidx[i].field, field) == 0)
			return &c->fidx[i];
	if (c->n_fidx == MEM_STORE_FIELD_INDEXES_MAX)
		return NULL;
	i = c->n_fidx++;
	x = &c->fidx[i];
	x->field = ecom_xstrdup(field);
	for (size_t k = 0; k < c->n; k++) {
		c->dense[k]->fpos[i] = MEM_FIDX_ABSENT;
		if (fidx_has(x, c->dense[k]))
			fidx_put(x, i, c->dense[k]);
	}
	return x;
}

/* After a write of d: queues it, and demotes every document whose last write is now
 * MEM_DEMOTE_AGE writes old and that no field index holds. O(1) per write. */
static void coll_note_write(struct mem_coll *c, struct mem_doc *d)
{
	const size_t cap = MEM_DEMOTE_AGE + 1;

	c->writes++;
	ECOM_ASSERT(d->written == c->writes);
	if (!c->wq)
		c->wq = ecom_xmalloc(cap * sizeof(*c->wq));
	ECOM_ASSERT(c->wq_len < cap);
	c->wq[(c->wq_head + c->wq_len++) % cap] = (struct mem_wq){ d, d->written };
	while (c->wq_len > 0 && c->writes - c->wq[c->wq_head].written >= MEM_DEMOTE_AGE) {
		struct mem_wq e = c->wq[c->wq_head];
		int indexed = 0;

		c->wq_head = (c->wq_head + 1) % cap;
		c->wq_len--;
		if (!e.d || !e.d->doc || e.d->written != e.written)
			continue; /* removed, already cold, or written since (queued again) */
		for (size_t k = 0; k < c->n_fidx; k++)
			indexed |= e.d->fpos[k] != MEM_FIDX_ABSENT;
		if (!indexed)
			doc_demote(e.d, &c->scratch);
	}
}

/* Takes ownership of doc. The caller has checked that id is absent. */
static struct mem_doc *coll_add(struct mem_coll *c, const char *id, json_t *doc)
{
	struct mem_doc *d = ecom_xcalloc(1, sizeof(*d));
	size_t b;

	d->id = ecom_xstrdup(id);
	doc_set(d, doc, c->writes + 1);
	d->hash = mem_hash(id);
	for (size_t i = 0; i < MEM_STORE_FIELD_INDEXES_MAX; i++)
		d->fpos[i] = MEM_FIDX_ABSENT;
	fidx_sync(c, d);
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : MEM_STORE_BUCKETS_MIN;
		c->dense = ecom_xrealloc(c->dense, c->cap * sizeof(*c->dense));
	}
	d->dense_idx = c->n;
	c->dense[c->n++] = d;
	b = d->hash & (c->n_buckets - 1);
	d->next = c->buckets[b];
	c->buckets[b] = d;
	c->sorted_dirty = 1;
	if (c->n > c->n_buckets)
		coll_rehash(c, c->n_buckets * 2);
	return d;
}

static void coll_del(struct mem_coll *c, struct mem_doc *d)
{
	struct mem_doc **pp = &c->buckets[d->hash & (c->n_buckets - 1)];
	struct mem_doc *last;

	while (*pp != d)
		pp = &(*pp)->next;
	*pp = d->next;
	for (size_t i = 0; i < c->n_fidx; i++)
		if (d->fpos[i] != MEM_FIDX_ABSENT)
			fidx_drop(&c->fidx[i], i, d);
	last = c->dense[--c->n];
	c->dense[d->dense_idx] = last;
	last->dense_idx = d->dense_idx;
	c->sorted_dirty = 1;
	for (size_t i = 0; i < c->wq_len; i++) /* removals are rare: a scan of the queue */
		if (c->wq[(c->wq_head + i) % (MEM_DEMOTE_AGE + 1)].d == d)
			c->wq[(c->wq_head + i) % (MEM_DEMOTE_AGE + 1)].d = NULL;
	doc_release(d);
	free(d->id);
	free(d);
}

static int mem_doc_id_cmp(const void *a, const void *b)
{
	return strcmp((*(struct mem_doc *const *)a)->id, (*(struct mem_doc *const *)b)->id);
}

/* The _id-ordered view; rebuilt only after an insert or a remove (ids are unique, so the
 * order is total and qsort's instability cannot show). */
static struct mem_doc **coll_sorted(struct mem_coll *c)
{
	if (!c->sorted_dirty)
		return c->sorted;
	if (c->sorted_cap < c->n) {
		c->sorted_cap = c->cap;
		c->sorted = ecom_xrealloc(c->sorted, c->sorted_cap * sizeof(*c->sorted));
	}
	if (c->n > 0) {
		memcpy(c->sorted, c->dense, c->n * sizeof(*c->sorted));
		qsort(c->sorted, c->n, sizeof(*c->sorted), mem_doc_id_cmp);
	}
	c->sorted_dirty = 0;
	return c->sorted;
}

/* ---- value comparison (MongoDB's order for the types we store) ---------------------- */

/* Missing/null < numbers < strings < objects < arrays < booleans. */
static int value_rank(const json_t *v)
{
	if (!v || json_is_null(v))
		return 0;
	if (json_is_number(v))
		return 1;
	if (json_is_string(v))
		return 2;
	if (json_is_object(v))
		return 3;
	if (json_is_array(v))
		return 4;
	return 5;
}

/* Total order on the ranks above; values of one rank compare by value (numbers, strings,
 * booleans) or as equal (objects, arrays: sorting on them is not part of the interface). */
static int value_cmp(const json_t *a, const json_t *b)
{
	int ra = value_rank(a), rb = value_rank(b);

	if (ra != rb)
		return ra < rb ? -1 : 1;
	switch (ra) {
	case 1:
		if (json_is_integer(a) && json_is_integer(b)) {
			json_int_t x = json_integer_value(a), y = json_integer_value(b);

			return (x > y) - (x < y);
		} else {
			double x = json_number_value(a), y = json_number_value(b);

			return (x > y) - (x < y);
		}
	case 2: {
		int c = strcmp(json_string_value(a), json_string_value(b));

		return (c > 0) - (c < 0);
	}
	case 5:
		return json_is_true(a) - json_is_true(b);
	default:
		return 0;
	}
}

/* EQ/RANGE never match a missing field or a value of another type (MongoDB's bracketing). */
static int query_matches(const struct store_query *q, const json_t *doc)
{
	const json_t *v;

	if (q->op == STORE_ALL)
		return 1;
	v = json_object_get(doc, q->field);
	if (!v || json_is_null(v))
		return 0;
	if (q->op == STORE_EQ)
		return value_rank(v) == value_rank(q->value) && value_cmp(v, q->value) == 0;
	if (q->lo && (value_rank(v) != value_rank(q->lo) || value_cmp(v, q->lo) < 0))
		return 0;
	if (q->hi && (value_rank(v) != value_rank(q->hi) || value_cmp(v, q->hi) > 0))
		return 0;
	return 1;
}

struct find_sort {
	const char *field; /* NULL: by _id only */
	int descending;
};

/* qsort has no context argument in C17, so a match carries its sort key with it. */
struct find_hit {
	json_t *tree; /* a reference (doc_tree) */
	int cold;     /* tree is a private decode: hand it out as is */
	const struct mem_doc *d;
	const json_t *key;
	const struct find_sort *sort;
};

static int find_hit_cmp(const void *pa, const void *pb)
{
	const struct find_hit *a = pa, *b = pb;
	int c;

	if (a->sort->field) {
		c = value_cmp(a->key, b->key);
		if (c != 0)
			return a->sort->descending ? -c : c;
	}
	/* Ties (and unsorted queries) by _id ascending, whatever the direction. */
	return strcmp(a->d->id, b->d->id);
}

/* ---- store_ops ----------------------------------------------------------------------- */

/* get (view 0: a private top level) and get_view (view 1: the stored tree, read-only). */
static int mem_get_as(struct store *s, const char *coll, const char *id, json_t **out,
		      struct ecom_err *err, int view)
{
	struct mem_coll *c = coll_find(mem_of(s), coll);
	struct mem_doc *d = c ? coll_lookup(c, id) : NULL;

	if (!d)
		return ecom_err_set(err, ECOM_NOT_FOUND, "%s/%s: not found", coll, id);
	*out = view ? doc_tree(d) : doc_private(d);
	return ECOM_OK;
}

static int mem_get(struct store *s, const char *coll, const char *id, json_t **out,
		   struct ecom_err *err)
{
	return mem_get_as(s, coll, id, out, err, 0);
}

static int mem_get_view(struct store *s, const char *coll, const char *id, json_t **out,
			struct ecom_err *err)
{
	return mem_get_as(s, coll, id, out, err, 1);
}

static int mem_insert(struct store *s, const char *coll, json_t *doc, struct ecom_err *err)
{
	struct mem_coll *c = coll_get_or_create(mem_of(s), coll);
	const char *id = json_string_value(json_object_get(doc, "_id"));

	ECOM_ASSERT(id);
	if (coll_lookup(c, id))
		return ecom_err_set(err, ECOM_CONFLICT, "%s/%s: duplicate _id", coll, id);
	coll_note_write(c, coll_add(c, id, json_incref(doc)));
	return ECOM_OK;
}

static int mem_replace(struct store *s, const char *coll, json_t *doc, int64_t expected_version,
		       struct ecom_err *err)
{
	struct mem_coll *c = coll_find(mem_of(s), coll);
	const char *id = json_string_value(json_object_get(doc, "_id"));
	struct mem_doc *d;
	json_int_t have;

	ECOM_ASSERT(id);
	d = c ? coll_lookup(c, id) : NULL;
	if (!d)
		return ecom_err_set(err, ECOM_NOT_FOUND, "%s/%s: not found", coll, id);
	have = d->version;
	if (have != expected_version)
		return ecom_err_set(err, ECOM_CONFLICT, "%s/%s: version %lld, expected %lld", coll,
				    id, (long long)have, (long long)expected_version);
	doc_set(d, json_incref(doc), c->writes + 1);
	fidx_sync(c, d);
	coll_note_write(c, d);
	return ECOM_OK;
}

static int mem_find(struct store *s, const char *coll, const struct store_query *q, json_t **out,
		    struct ecom_err *err)
{
	struct mem_coll *c = coll_find(mem_of(s), coll);
	struct find_sort sort = { .field = q->sort_field, .descending = q->descending };
	struct find_hit *hits = NULL;
	struct mem_doc **scan;
	size_t n_hits = 0, n_out, n_scan;
	struct mem_fidx *x;
	json_t *arr;

	ECOM_ASSERT(q->op == STORE_ALL || q->field);
	ECOM_ASSERT(q->op != STORE_EQ || q->value);
	arr = json_array();
	ECOM_ASSERT(arr);
	if (!c || c->n == 0)
		goto out;
	/* EQ/RANGE never match a document without the field: scan only those that have it. */
	x = q->op == STORE_ALL ? NULL : fidx_get(c, q->field);
	scan = x ? x->docs : c->dense;
	n_scan = x ? x->n : c->n;
	if (n_scan == 0)
		goto out;
	hits = ecom_xmalloc(n_scan * sizeof(*hits));
	for (size_t i = 0; i < n_scan; i++) {
		const struct mem_doc *d = scan[i];
		json_t *tree = doc_tree(d);

		if (!query_matches(q, tree)) {
			json_decref(tree);
			continue;
		}
		hits[n_hits].tree = tree;
		hits[n_hits].cold = d->doc == NULL;
		hits[n_hits].d = d;
		hits[n_hits].key = sort.field ? json_object_get(tree, sort.field) : NULL;
		hits[n_hits].sort = &sort;
		n_hits++;
	}
	/* The order is total (ties broken by the unique _id), so qsort's instability and the
	 * dense array's order cannot show in the result. */
	qsort(hits, n_hits, sizeof(*hits), find_hit_cmp);
	n_out = q->limit && q->limit < n_hits ? q->limit : n_hits;
	for (size_t i = 0; i < n_out; i++) {
		/* store.h: found documents are the caller's at the top level (copy on write). */
		json_t *copy = hits[i].cold ? json_incref(hits[i].tree) : jsonx_shallow(hits[i].tree);

		ECOM_ASSERT(copy);
		json_array_append_new(arr, copy);
	}
	for (size_t i = 0; i < n_hits; i++)
		json_decref(hits[i].tree);
out:
	free(hits);
	*out = arr;
	(void)err;
	return ECOM_OK;
}

static int mem_remove(struct store *s, const char *coll, const char *id, struct ecom_err *err)
{
	struct mem_coll *c = coll_find(mem_of(s), coll);
	struct mem_doc *d = c ? coll_lookup(c, id) : NULL;

	if (!d)
		return ecom_err_set(err, ECOM_NOT_FOUND, "%s/%s: not found", coll, id);
	coll_del(c, d);
	return ECOM_OK;
}

static void mem_destroy(struct store *s)
{
	struct mem_store *m = mem_of(s);

	for (size_t i = 0; i < m->n_colls; i++)
		coll_free(m->colls[i]);
	free(m->colls);
	for (size_t k = 0; k < m->n_eager; k++)
		free(m->eager[k]);
	free(m);
}

static const struct store_ops mem_ops = {
	.name = "mem",
	.get = mem_get,
	.get_view = mem_get_view,
	.insert = mem_insert,
	.replace = mem_replace,
	.find = mem_find,
	.remove = mem_remove,
	.destroy = mem_destroy,
};

struct store *mem_store_new(void)
{
	struct mem_store *m = ecom_xcalloc(1, sizeof(*m));

	m->base.ops = &mem_ops;
	return &m->base;
}

/* ---- inspection ---------------------------------------------------------------------- */

size_t mem_store_count(struct store *s, const char *coll)
{
	struct mem_coll *c = coll_find(mem_of(s), coll);

	return c ? c->n : 0;
}

json_t *mem_store_view(struct store *s, const char *coll, const char *id)
{
	struct mem_coll *c = coll_find(mem_of(s), coll);
	struct mem_doc *d = c ? coll_lookup(c, id) : NULL;

	return d ? doc_tree(d) : NULL;
}

/* A hot document whole (a reference), a cold one decoded for the named fields alone. */
static json_t *doc_tree_fields(const struct mem_doc *d, const char *const *fields, size_t n)
{
	return d->doc || !fields ? doc_tree(d) : doc_decode_fields(d, fields, n);
}

json_t *mem_store_view_fields(struct store *s, const char *coll, const char *id,
			      const char *const *fields, size_t n_fields)
{
	struct mem_coll *c = coll_find(mem_of(s), coll);
	struct mem_doc *d = c ? coll_lookup(c, id) : NULL;

	return d ? doc_tree_fields(d, fields, n_fields) : NULL;
}

/* Calls visit(ctx, d) for every document of coll in _id order; a nonzero return stops the
 * walk and is returned. */
static int coll_walk(struct store *s, const char *coll,
		     int (*visit)(void *ctx, const struct mem_doc *d), void *ctx)
{
	struct mem_coll *c = coll_find(mem_of(s), coll);
	struct mem_doc **sorted;
	size_t n;

	if (!c)
		return 0;
	sorted = coll_sorted(c);
	n = c->n;
	for (size_t i = 0; i < n; i++) {
		int rc = visit(ctx, sorted[i]);

		if (rc != 0)
			return rc;
	}
	return 0;
}

struct walk_docs {
	const char *const *fields;
	size_t n_fields;
	int (*fn)(void *arg, const json_t *doc);
	void *arg;
};

static int visit_doc(void *ctx, const struct mem_doc *d)
{
	const struct walk_docs *w = ctx;
	json_t *tree = doc_tree_fields(d, w->fields, w->n_fields);
	int rc = w->fn(w->arg, tree);

	json_decref(tree);
	return rc;
}

int mem_store_foreach_fields(struct store *s, const char *coll, const char *const *fields,
			     size_t n_fields, int (*fn)(void *arg, const json_t *doc), void *arg)
{
	struct walk_docs w = { fields, n_fields, fn, arg };

	ECOM_ASSERT(fn);
	return coll_walk(s, coll, visit_doc, &w);
}

void mem_store_index_field(struct store *s, const char *field)
{
	struct mem_store *m = mem_of(s);

	ECOM_ASSERT(m->n_colls == 0 && m->n_eager < MEM_STORE_FIELD_INDEXES_MAX);
	m->eager[m->n_eager++] = ecom_xstrdup(field);
}

struct walk_ids {
	int (*fn)(void *arg, const char *id);
	void *arg;
};

static int visit_id(void *ctx, const struct mem_doc *d)
{
	const struct walk_ids *w = ctx;

	return w->fn(w->arg, d->id);
}

int mem_store_foreach_id(struct store *s, const char *coll,
			 int (*fn)(void *arg, const char *id), void *arg)
{
	struct walk_ids w = { fn, arg };

	ECOM_ASSERT(fn);
	return coll_walk(s, coll, visit_id, &w);
}

int mem_store_foreach(struct store *s, const char *coll,
		      int (*fn)(void *arg, const json_t *doc), void *arg)
{
	return mem_store_foreach_fields(s, coll, NULL, 0, fn, arg);
}

static int mem_doc_ptr_id_cmp(const void *a, const void *b)
{
	const struct mem_doc *x = *(const struct mem_doc *const *)a;
	const struct mem_doc *y = *(const struct mem_doc *const *)b;

	return strcmp(x->id, y->id);
}

int mem_store_foreach_having(struct store *s, const char *coll, const char *const *fields,
			     size_t n_fields, int (*fn)(void *arg, const json_t *doc), void *arg)
{
	struct mem_coll *c = coll_find(mem_of(s), coll);
	struct mem_doc **pick = NULL;
	size_t n = 0, cap = 0, kept = 0;
	int rc = 0;

	ECOM_ASSERT(fn && (fields || n_fields == 0));
	if (!c)
		return 0;
	for (size_t f = 0; f < n_fields; f++) {
		struct mem_fidx *x = fidx_get(c, fields[f]);

		if (!x) { /* no room for another index: the documents that have it, the slow way */
			free(pick);
			pick = NULL;
			n = 0;
			for (size_t i = 0; i < c->n; i++)
				for (size_t g = 0; g < n_fields; g++) {
					struct mem_fidx probe = { .field = (char *)fields[g] };

					if (fidx_has(&probe, c->dense[i])) {
						if (n == cap) {
							cap = cap ? cap * 2 : 64;
							pick = ecom_xrealloc(pick, cap * sizeof(*pick));
						}
						pick[n++] = c->dense[i];
						break;
					}
				}
			break;
		}
		if (x->n == 0)
			continue;
		if (n + x->n > cap) {
			cap = n + x->n;
			pick = ecom_xrealloc(pick, cap * sizeof(*pick));
		}
		memcpy(pick + n, x->docs, x->n * sizeof(*pick));
		n += x->n;
	}
	/* _id order, each document once, as mem_store_foreach would visit them. */
	if (n)
		qsort(pick, n, sizeof(*pick), mem_doc_ptr_id_cmp);
	for (size_t i = 0; i < n; i++)
		if (kept == 0 || pick[kept - 1] != pick[i])
			pick[kept++] = pick[i];
	for (size_t i = 0; i < kept && rc == 0; i++) {
		json_t *tree = doc_tree(pick[i]);

		rc = fn(arg, tree);
		json_decref(tree);
	}
	free(pick);
	return rc;
}

int mem_store_collections(struct store *s, const char ***names, size_t *n)
{
	struct mem_store *m = mem_of(s);

	ECOM_ASSERT(names && n);
	*names = ecom_xcalloc(m->n_colls, sizeof(**names));
	for (size_t i = 0; i < m->n_colls; i++)
		(*names)[i] = m->colls[i]->name;
	*n = m->n_colls;
	return ECOM_OK;
}
