/* test_store_mem.c — the store contract suite against sim/mem_store, plus what only the
 * in-memory store offers: counts, _id-ordered iteration and the collection list, and its
 * sparse field indexes (EQ/RANGE results checked against a brute-force model). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/mem_store.h"
#include "support/store_contract.h"

#define MEM_TEST_MANY 2000

static struct store *make_mem(void *arg)
{
	(void)arg;
	return mem_store_new();
}

static void insert_doc(struct store *s, const char *coll, const char *id, int64_t total)
{
	json_t *d = json_pack("{s:s, s:i, s:I}", "_id", id, "version", 1, "total",
			      (json_int_t)total);

	assert_int_equal(store_insert(s, coll, d, NULL), ECOM_OK);
	json_decref(d);
}

struct walk {
	char ids[64][16];
	size_t n;
	size_t stop_after; /* 0: never stop */
};

static int walk_fn(void *arg, const json_t *doc)
{
	struct walk *w = arg;

	if (w->n < 64)
		snprintf(w->ids[w->n], sizeof(w->ids[w->n]), "%s",
			 json_string_value(json_object_get(doc, "_id")));
	w->n++;
	if (w->stop_after && w->n == w->stop_after)
		return 42;
	return 0;
}

/* Counts documents that carry "n" (every one in test_cold_documents). */
static int count_n_fn(void *arg, const json_t *doc)
{
	struct walk *w = arg;

	if (json_object_get(doc, "n"))
		w->n++;
	return 0;
}

static int walk_id_fn(void *arg, const char *id)
{
	struct walk *w = arg;

	if (w->n < 64)
		snprintf(w->ids[w->n], sizeof(w->ids[w->n]), "%s", id);
	w->n++;
	if (w->stop_after && w->n == w->stop_after)
		return 42;
	return 0;
}

static void test_count_foreach(void **state)
{
	struct store *s = mem_store_new();
	struct walk w = { .n = 0 };
	static const char *const ids[] = { "m", "b", "z", "a", "q" };

	(void)state;
	assert_int_equal(mem_store_count(s, "none"), 0);
	assert_int_equal(mem_store_foreach(s, "none", walk_fn, &w), 0);
	assert_int_equal(w.n, 0);
	for (size_t i = 0; i < ECOM_ARRAY_LEN(ids); i++)
		insert_doc(s, "c", ids[i], (int64_t)i);
	assert_int_equal(mem_store_count(s, "c"), 5);
	assert_int_equal(mem_store_foreach(s, "c", walk_fn, &w), 0);
	assert_int_equal(w.n, 5);
	assert_string_equal(w.ids[0], "a");
	assert_string_equal(w.ids[1], "b");
	assert_string_equal(w.ids[2], "m");
	assert_string_equal(w.ids[3], "q");
	assert_string_equal(w.ids[4], "z");
	/* Removal and re-insertion keep the walk in _id order. */
	assert_int_equal(store_remove(s, "c", "b", NULL), ECOM_OK);
	insert_doc(s, "c", "c", 9);
	w = (struct walk){ .stop_after = 3 };
	assert_int_equal(mem_store_foreach(s, "c", walk_fn, &w), 42);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.ids[0], "a");
	assert_string_equal(w.ids[1], "c");
	assert_string_equal(w.ids[2], "m");
	assert_int_equal(mem_store_count(s, "c"), 5);
	/* The same walk over the _ids alone. */
	w = (struct walk){ .n = 0 };
	assert_int_equal(mem_store_foreach_id(s, "none", walk_id_fn, &w), 0);
	assert_int_equal(mem_store_foreach_id(s, "c", walk_id_fn, &w), 0);
	assert_int_equal(w.n, 5);
	assert_string_equal(w.ids[1], "c");
	assert_string_equal(w.ids[4], "z");
	w = (struct walk){ .stop_after = 2 };
	assert_int_equal(mem_store_foreach_id(s, "c", walk_id_fn, &w), 42);
	assert_int_equal(w.n, 2);
	store_destroy(s);
}

/* foreach_having visits exactly the documents with a non-null value in one of the fields, in
 * _id order, each once; view hands out the stored document without a copy. */
static void test_foreach_having(void **state)
{
	static const char *const fields[] = { "outbox_at", "wake_at" };
	struct store *s = mem_store_new();
	struct walk w = { .n = 0 };
	json_t *d, *v;

	(void)state;
	assert_int_equal(mem_store_foreach_having(s, "none", fields, 2, walk_fn, &w), 0);
	assert_int_equal(w.n, 0);
	insert_doc(s, "c", "d-none", 1);
	d = json_pack("{s:s, s:i, s:i}", "_id", "d-both", "version", 1, "outbox_at", 5);
	json_object_set_new(d, "wake_at", json_integer(7));
	assert_int_equal(store_insert(s, "c", d, NULL), ECOM_OK);
	json_decref(d);
	d = json_pack("{s:s, s:i, s:i}", "_id", "c-wake", "version", 1, "wake_at", 3);
	assert_int_equal(store_insert(s, "c", d, NULL), ECOM_OK);
	json_decref(d);
	d = json_pack("{s:s, s:i, s:n}", "_id", "a-null", "version", 1, "outbox_at");
	assert_int_equal(store_insert(s, "c", d, NULL), ECOM_OK);
	json_decref(d);
	d = json_pack("{s:s, s:i, s:i}", "_id", "b-out", "version", 1, "outbox_at", 9);
	assert_int_equal(store_insert(s, "c", d, NULL), ECOM_OK);
	json_decref(d);
	assert_int_equal(mem_store_foreach_having(s, "c", fields, 2, walk_fn, &w), 0);
	assert_int_equal(w.n, 3);
	assert_string_equal(w.ids[0], "b-out");
	assert_string_equal(w.ids[1], "c-wake");
	assert_string_equal(w.ids[2], "d-both");
	/* A write that drops the field drops the document from the walk. */
	d = json_pack("{s:s, s:i}", "_id", "b-out", "version", 2);
	assert_int_equal(store_replace(s, "c", d, 1, NULL), ECOM_OK);
	v = mem_store_view(s, "c", "b-out");
	assert_ptr_equal(v, d); /* the handed-over document itself */
	json_decref(v);
	json_decref(d);
	assert_null(mem_store_view(s, "c", "ghost"));
	w = (struct walk){ .n = 0 };
	assert_int_equal(mem_store_foreach_having(s, "c", fields, 2, walk_fn, &w), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.ids[0], "c-wake");
	assert_string_equal(w.ids[1], "d-both");
	w = (struct walk){ .stop_after = 1 };
	assert_int_equal(mem_store_foreach_having(s, "c", fields, 2, walk_fn, &w), 42);
	assert_int_equal(w.n, 1);
	store_destroy(s);
}

/* A document of every JSON shape the encoding of cold documents must keep exactly. */
static json_t *odd_doc(const char *id, int64_t version, int64_t n)
{
	json_t *d = json_pack("{s:s, s:I, s:I, s:I, s:f, s:f, s:b, s:b, s:n, s:s, s:[i, {s:[]}, {}],"
			      " s:{s:{s:s}}}",
			      "_id", id, "version", (json_int_t)version, "n", (json_int_t)n,
			      "neg", (json_int_t)INT64_MIN, "real", 0.1 + (double)n / 3.0,
			      "tiny", 5e-324, "yes", 1, "no", 0, "nothing", "utf8",
			      "caf\xc3\xa9 \xe2\x82\xac \"q\"\n", "list", 1, "empty", "obj",
			      "deep", "er", "est", "x");

	json_object_set_new(d, "nul", json_stringn("a\0b", 3));
	json_object_set_new(d, "big", json_integer(INT64_MAX));
	return d;
}

/* Documents left alone long enough go cold (a compact encoding); every read path gives
 * back exactly what was stored, and a write makes them ordinary again. */
static void test_cold_documents(void **state)
{
	enum { N = 3000, WRITES = 12000 };
	struct store *s = mem_store_new();
	struct store_query all = { .op = STORE_ALL, .sort_field = "n", .descending = 1 };
	json_t *d, *out, *found, *want;
	char id[32];
	int64_t version[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "d%05d", i);
		d = odd_doc(id, 1, i);
		assert_int_equal(store_insert(s, "c", d, NULL), ECOM_OK);
		json_decref(d);
		version[i] = 1;
	}
	/* Keep writing the first ten: the rest age past the demotion threshold. */
	for (int k = 0; k < WRITES; k++) {
		int i = k % 10;

		snprintf(id, sizeof(id), "d%05d", i);
		d = odd_doc(id, version[i] + 1, i);
		assert_int_equal(store_replace(s, "c", d, version[i], NULL), ECOM_OK);
		json_decref(d);
		version[i]++;
	}
	/* get */
	for (int i = 0; i < N; i += 97) {
		snprintf(id, sizeof(id), "d%05d", i);
		want = odd_doc(id, version[i], i);
		assert_int_equal(store_get(s, "c", id, &out, NULL), ECOM_OK);
		assert_true(json_equal(out, want));
		/* the copy is the caller's */
		json_object_set_new(out, "n", json_integer(-1));
		json_decref(out);
		out = mem_store_view(s, "c", id);
		assert_true(json_equal(out, want));
		json_decref(out);
		json_decref(want);
	}
	/* find over everything, sorted on a field */
	assert_int_equal(store_find(s, "c", &all, &found, NULL), ECOM_OK);
	assert_int_equal(json_array_size(found), N);
	for (int i = 0; i < N; i += 101) {
		int j = N - 1 - i;

		snprintf(id, sizeof(id), "d%05d", j);
		want = odd_doc(id, version[j], j);
		assert_true(json_equal(json_array_get(found, (size_t)i), want));
		json_decref(want);
	}
	json_decref(found);
	/* Readers of a few fields get exactly those of a cold document, a hot one whole. */
	{
		static const char *const fields[] = { "n", "obj", "missing" };
		struct walk w = { .n = 0 };

		snprintf(id, sizeof(id), "d%05d", 1234);
		want = odd_doc(id, version[1234], 1234);
		out = mem_store_view_fields(s, "c", id, fields, 3);
		assert_int_equal(json_object_size(out), 2);
		assert_true(json_equal(json_object_get(out, "n"), json_object_get(want, "n")));
		assert_true(json_equal(json_object_get(out, "obj"), json_object_get(want, "obj")));
		json_decref(out);
		json_decref(want);
		out = mem_store_view_fields(s, "c", "d00003", fields, 3); /* hot */
		want = odd_doc("d00003", version[3], 3);
		assert_true(json_equal(out, want));
		json_decref(out);
		json_decref(want);
		assert_null(mem_store_view_fields(s, "c", "nope", fields, 3));
		assert_int_equal(mem_store_foreach_fields(s, "c", fields, 3, count_n_fn, &w), 0);
		assert_int_equal(w.n, N);
	}
	/* A stale version still conflicts; the right one turns the document hot again. */
	d = odd_doc("d02000", 5, 2000);
	assert_int_equal(store_replace(s, "c", d, 4, NULL), ECOM_CONFLICT);
	json_decref(d);
	d = odd_doc("d02000", 2, 2000);
	json_object_set_new(d, "touched", json_true());
	assert_int_equal(store_replace(s, "c", d, 1, NULL), ECOM_OK);
	json_decref(d);
	out = mem_store_view(s, "c", "d02000");
	assert_true(json_is_true(json_object_get(out, "touched")));
	json_decref(out);
	/* An index built on cold documents finds them. */
	{
		struct store_query q = { .op = STORE_RANGE, .field = "n", .lo = json_integer(2990),
					 .hi = json_integer(2999) };

		assert_int_equal(store_find(s, "c", &q, &found, NULL), ECOM_OK);
		assert_int_equal(json_array_size(found), 10);
		json_decref(found);
		json_decref(q.lo);
		json_decref(q.hi);
	}
	assert_int_equal(store_remove(s, "c", "d00500", NULL), ECOM_OK);
	assert_int_equal(mem_store_count(s, "c"), N - 1);
	/* A document removed while its last write still waits in the demotion queue is
	 * skipped when that write comes of age (AddressSanitizer would see a stale one). */
	assert_int_equal(store_remove(s, "c", "d00001", NULL), ECOM_OK);
	for (int k = 0; k < 5000; k++) {
		d = odd_doc("d00002", version[2] + 1, 2);
		assert_int_equal(store_replace(s, "c", d, version[2], NULL), ECOM_OK);
		json_decref(d);
		version[2]++;
	}
	assert_int_equal(store_get(s, "c", "d00002", &out, NULL), ECOM_OK);
	assert_int_equal(json_integer_value(json_object_get(out, "version")), version[2]);
	json_decref(out);
	assert_int_equal(mem_store_count(s, "c"), N - 2);
	store_destroy(s);
}

static void test_collections(void **state)
{
	struct store *s = mem_store_new();
	const char **names = NULL;
	size_t n = 99;

	(void)state;
	assert_int_equal(mem_store_collections(s, &names, &n), ECOM_OK);
	assert_int_equal(n, 0);
	free(names);
	insert_doc(s, "payments", "p", 1);
	insert_doc(s, "orders", "o", 1);
	insert_doc(s, "inventory", "i", 1);
	insert_doc(s, "orders", "o2", 1);
	assert_int_equal(mem_store_collections(s, &names, &n), ECOM_OK);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "inventory");
	assert_string_equal(names[1], "orders");
	assert_string_equal(names[2], "payments");
	free(names);
	store_destroy(s);
}

/* Enough documents to force several rehashes, removing and replacing along the way, checked
 * against what must be there. */
static void test_many(void **state)
{
	struct store *s = mem_store_new();
	struct store_query q = { .op = STORE_ALL };
	char id[32];
	json_t *out = NULL;
	int64_t sum = 0, want = 0;
	size_t i;
	json_t *doc;

	(void)state;
	for (int k = 0; k < MEM_TEST_MANY; k++) {
		snprintf(id, sizeof(id), "k%d", (k * 7919) % MEM_TEST_MANY);
		insert_doc(s, "big", id, (k * 7919) % MEM_TEST_MANY);
	}
	for (int k = 0; k < MEM_TEST_MANY; k += 3) {
		snprintf(id, sizeof(id), "k%d", k);
		assert_int_equal(store_remove(s, "big", id, NULL), ECOM_OK);
	}
	for (int k = 1; k < MEM_TEST_MANY; k += 3) {
		json_t *d;

		snprintf(id, sizeof(id), "k%d", k);
		d = json_pack("{s:s, s:i, s:I}", "_id", id, "version", 2, "total", (json_int_t)-k);
		assert_int_equal(store_replace(s, "big", d, 1, NULL), ECOM_OK);
		json_decref(d);
	}
	for (int k = 0; k < MEM_TEST_MANY; k++) {
		if (k % 3 == 1)
			want -= k;
		else if (k % 3 == 2)
			want += k;
		snprintf(id, sizeof(id), "k%d", k);
		assert_int_equal(store_get(s, "big", id, &out, NULL),
				 k % 3 == 0 ? ECOM_NOT_FOUND : ECOM_OK);
		json_decref(out);
	}
	assert_int_equal(mem_store_count(s, "big"), MEM_TEST_MANY - (MEM_TEST_MANY + 2) / 3);
	assert_int_equal(store_find(s, "big", &q, &out, NULL), ECOM_OK);
	assert_int_equal(json_array_size(out), mem_store_count(s, "big"));
	json_array_foreach(out, i, doc) {
		sum += json_integer_value(json_object_get(doc, "total"));
		if (i > 0)
			assert_true(strcmp(json_string_value(json_object_get(
						   json_array_get(out, i - 1), "_id")),
					   json_string_value(json_object_get(doc, "_id"))) < 0);
	}
	assert_int_equal(sum, want);
	json_decref(out);
	store_destroy(s);
}

/* ---- the sparse field indexes behind EQ/RANGE (checked against a brute-force model) --- */

#define IDX_IDS 120
#define IDX_STEPS 3000
#define IDX_FIELDS 11 /* more fields than the store indexes: the rest scan everything */

struct idx_model {
	int present[IDX_IDS];
	int64_t version[IDX_IDS];
	int state[IDX_IDS][IDX_FIELDS]; /* 0 absent, 1 null, 2 an integer in val */
	int64_t val[IDX_IDS][IDX_FIELDS];
};

static uint64_t idx_rand(uint64_t *x)
{
	*x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
	return *x >> 33;
}

static json_t *idx_doc(const struct idx_model *m, int i)
{
	json_t *d = json_object();
	char id[16], f[8];

	snprintf(id, sizeof(id), "d%03d", i);
	json_object_set_new(d, "_id", json_string(id));
	json_object_set_new(d, "version", json_integer(m->version[i]));
	for (int k = 0; k < IDX_FIELDS; k++) {
		snprintf(f, sizeof(f), "f%d", k);
		if (m->state[i][k] == 1)
			json_object_set_new(d, f, json_null());
		else if (m->state[i][k] == 2)
			json_object_set_new(d, f, json_integer(m->val[i][k]));
	}
	return d;
}

/* Expected ids of RANGE [lo, hi] on field k, sorted by (value, _id), at most limit. */
static size_t idx_expect(const struct idx_model *m, int k, int64_t lo, int64_t hi, size_t limit,
			 int *out)
{
	size_t n = 0;

	for (int i = 0; i < IDX_IDS; i++)
		if (m->present[i] && m->state[i][k] == 2 && m->val[i][k] >= lo &&
		    m->val[i][k] <= hi)
			out[n++] = i;
	for (size_t a = 1; a < n; a++) /* insertion sort by (value, id) */
		for (size_t b = a; b > 0 && (m->val[out[b - 1]][k] > m->val[out[b]][k] ||
					     (m->val[out[b - 1]][k] == m->val[out[b]][k] &&
					      out[b - 1] > out[b])); b--) {
			int t = out[b];

			out[b] = out[b - 1];
			out[b - 1] = t;
		}
	return limit && limit < n ? limit : n;
}

static void idx_check(struct store *s, const struct idx_model *m, uint64_t *rng)
{
	int k = (int)(idx_rand(rng) % IDX_FIELDS), want[IDX_IDS];
	int64_t lo = (int64_t)(idx_rand(rng) % 50), hi = lo + (int64_t)(idx_rand(rng) % 50);
	size_t limit = idx_rand(rng) % 3 == 0 ? 5 : 0, n;
	char f[8];
	json_t *vlo = json_integer(lo), *vhi = json_integer(hi), *out = NULL;
	struct store_query q = { .op = STORE_RANGE, .lo = vlo, .hi = vhi, .limit = limit };

	snprintf(f, sizeof(f), "f%d", k);
	q.field = f;
	q.sort_field = f;
	if (idx_rand(rng) % 4 == 0) { /* EQ: the same set when lo == hi */
		q = (struct store_query){ .op = STORE_EQ, .field = f, .value = vlo, .sort_field = f,
					  .limit = limit };
		hi = lo;
	}
	n = idx_expect(m, k, lo, hi, limit, want);
	assert_int_equal(store_find(s, "c", &q, &out, NULL), ECOM_OK);
	assert_int_equal(json_array_size(out), n);
	for (size_t i = 0; i < n; i++) {
		char id[16];

		snprintf(id, sizeof(id), "d%03d", want[i]);
		assert_string_equal(json_string_value(json_object_get(json_array_get(out, i), "_id")),
				    id);
	}
	json_decref(out);
	json_decref(vlo);
	json_decref(vhi);
}

/* Inserts, replaces that add, change, null or drop fields, and removes, interleaved with
 * queries (which build the indexes lazily, so later writes must keep them current). With
 * eager, the first three fields are indexed from the first document on instead. */
static void field_index_run(int eager)
{
	struct store *s = mem_store_new();
	struct idx_model *m = calloc(1, sizeof(*m));
	uint64_t rng = 12345;

	for (int k = 0; k < 3 && eager; k++) {
		char f[8];

		snprintf(f, sizeof(f), "f%d", k);
		mem_store_index_field(s, f);
	}
	for (int step = 0; step < IDX_STEPS; step++) {
		int i = (int)(idx_rand(&rng) % IDX_IDS), op = (int)(idx_rand(&rng) % 10);
		char id[16];
		json_t *d;

		snprintf(id, sizeof(id), "d%03d", i);
		if (op < 7) { /* insert or replace with new field states */
			for (int k = 0; k < IDX_FIELDS; k++) {
				m->state[i][k] = (int)(idx_rand(&rng) % 3);
				m->val[i][k] = (int64_t)(idx_rand(&rng) % 100);
			}
			m->version[i] = m->present[i] ? m->version[i] + 1 : 1;
			d = idx_doc(m, i);
			if (m->present[i])
				assert_int_equal(store_replace(s, "c", d, m->version[i] - 1, NULL),
						 ECOM_OK);
			else
				assert_int_equal(store_insert(s, "c", d, NULL), ECOM_OK);
			json_decref(d);
			m->present[i] = 1;
		} else if (op < 8) {
			assert_int_equal(store_remove(s, "c", id, NULL),
					 m->present[i] ? ECOM_OK : ECOM_NOT_FOUND);
			m->present[i] = 0;
		} else {
			idx_check(s, m, &rng);
		}
	}
	for (int k = 0; k < 50; k++)
		idx_check(s, m, &rng);
	free(m);
	store_destroy(s);
}

static void test_field_index(void **state)
{
	(void)state;
	field_index_run(0);
	field_index_run(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_foreach),
		cmocka_unit_test(test_foreach_having),
		cmocka_unit_test(test_cold_documents),
		cmocka_unit_test(test_collections),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_field_index),
	};
	int failed = store_contract_run("store_contract_mem", make_mem, NULL, NULL);

	failed += cmocka_run_group_tests_name("mem_store", tests, NULL, NULL);
	return failed ? 1 : 0;
}
