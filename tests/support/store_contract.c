/* store_contract.c — the store.h contract suite (see store_contract.h). Each test gets a
 * fresh store from the factory and two collection names unique to the run's test number,
 * emptied first through the interface itself, so leftovers of an earlier run cannot leak in. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/store_contract.h"

#include "event/jsonx.h"

#define CT_COLL_MAX 96
#define CT_PREFIX_MAX 40
#define CT_PURGE_ROUNDS_MAX 16
#define CT_MANY_DOCS 120

/* cmocka fixtures take no user argument, so the factory of the running group lives here. */
static struct {
	struct store *(*make)(void *arg);
	void (*cleanup)(struct store *s, void *arg);
	void *arg;
	char prefix[CT_PREFIX_MAX];
	unsigned counter;
} ct_env;

struct ct {
	struct store *s;
	char coll[CT_COLL_MAX];
	char coll2[CT_COLL_MAX];
};

/* Removes every document of coll, in rounds in case a backend limits its result size. */
static void ct_purge(struct store *s, const char *coll)
{
	struct store_query all = { .op = STORE_ALL };

	for (int round = 0; round < CT_PURGE_ROUNDS_MAX; round++) {
		json_t *docs = NULL, *doc;
		size_t i, n;

		assert_int_equal(store_find(s, coll, &all, &docs, NULL), ECOM_OK);
		n = json_array_size(docs);
		json_array_foreach(docs, i, doc) {
			const char *id = json_string_value(json_object_get(doc, "_id"));

			assert_non_null(id);
			assert_int_equal(store_remove(s, coll, id, NULL), ECOM_OK);
		}
		json_decref(docs);
		if (n == 0)
			return;
	}
	fail_msg("collection %s did not empty", coll);
}

static int ct_setup(void **state)
{
	struct ct *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->s = ct_env.make(ct_env.arg);
	assert_non_null(t->s);
	ct_env.counter++;
	snprintf(t->coll, sizeof(t->coll), "%s_%u_a", ct_env.prefix, ct_env.counter);
	snprintf(t->coll2, sizeof(t->coll2), "%s_%u_b", ct_env.prefix, ct_env.counter);
	ct_purge(t->s, t->coll);
	ct_purge(t->s, t->coll2);
	*state = t;
	return 0;
}

static int ct_teardown(void **state)
{
	struct ct *t = *state;

	if (!t)
		return 0;
	if (ct_env.cleanup)
		ct_env.cleanup(t->s, ct_env.arg);
	else
		store_destroy(t->s);
	free(t);
	return 0;
}

/* {"_id": id, "version": version, "status": status, "total": total} */
static json_t *ct_doc(const char *id, int64_t version, const char *status, int64_t total)
{
	json_t *d = json_pack("{s:s, s:I, s:s, s:I}", "_id", id, "version", (json_int_t)version,
			      "status", status, "total", (json_int_t)total);

	assert_non_null(d);
	return d;
}

static void ct_insert(struct ct *t, const char *coll, json_t *doc)
{
	assert_int_equal(store_insert(t->s, coll, doc, NULL), ECOM_OK);
	json_decref(doc);
}

static json_t *ct_get(struct ct *t, const char *coll, const char *id)
{
	json_t *out = NULL, *view = NULL;

	assert_int_equal(store_get(t->s, coll, id, &out, NULL), ECOM_OK);
	assert_non_null(out);
	/* the read-only view (store_get_view) is the same document */
	assert_int_equal(store_get_view(t->s, coll, id, &view, NULL), ECOM_OK);
	assert_true(json_equal(view, out));
	json_decref(view);
	return out;
}

static json_t *ct_find(struct ct *t, const struct store_query *q)
{
	json_t *out = NULL;

	assert_int_equal(store_find(t->s, t->coll, q, &out, NULL), ECOM_OK);
	assert_true(json_is_array(out));
	return out;
}

/* Asserts that docs' _ids are exactly the comma-separated list `ids`, in that order. */
static void ct_expect_ids(json_t *docs, const char *ids)
{
	char buf[512] = "";
	size_t i;
	json_t *doc;

	json_array_foreach(docs, i, doc) {
		if (i > 0)
			strncat(buf, ",", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, json_string_value(json_object_get(doc, "_id")),
			sizeof(buf) - strlen(buf) - 1);
	}
	assert_string_equal(buf, ids);
}

static int64_t ct_int(const json_t *doc, const char *field)
{
	const json_t *v = json_object_get(doc, field);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* ---- tests ------------------------------------------------------------------------- */

static void ct_get_missing(void **state)
{
	struct ct *t = *state;
	struct ecom_err err = { 0 };
	json_t *out = json_null(); /* a non-NULL sentinel: store_get must reset it */

	assert_int_equal(store_get(t->s, t->coll, "nope", &out, &err), ECOM_NOT_FOUND);
	assert_null(out);
	out = json_null();
	assert_int_equal(store_get_view(t->s, t->coll, "nope", &out, NULL), ECOM_NOT_FOUND);
	assert_null(out);
	ct_insert(t, t->coll, ct_doc("o1", 1, "PENDING", 10));
	assert_int_equal(store_get(t->s, t->coll, "o2", &out, NULL), ECOM_NOT_FOUND);
	assert_int_equal(store_get(t->s, t->coll2, "o1", &out, NULL), ECOM_NOT_FOUND);
	assert_int_equal(store_get_view(t->s, t->coll2, "o1", &out, NULL), ECOM_NOT_FOUND);
}

static void ct_insert_get(void **state)
{
	struct ct *t = *state;
	json_t *doc = ct_doc("o1", 1, "PENDING", 2000), *out;

	assert_int_equal(store_insert(t->s, t->coll, doc, NULL), ECOM_OK);
	out = ct_get(t, t->coll, "o1");
	assert_true(json_equal(doc, out));
	json_decref(out);
	json_decref(doc);
}

static void ct_duplicate_insert(void **state)
{
	struct ct *t = *state;
	json_t *dup = ct_doc("o1", 1, "OTHER", 5), *out;

	ct_insert(t, t->coll, ct_doc("o1", 1, "PENDING", 10));
	assert_int_equal(store_insert(t->s, t->coll, dup, NULL), ECOM_CONFLICT);
	json_decref(dup);
	out = ct_get(t, t->coll, "o1");
	assert_string_equal(json_string_value(json_object_get(out, "status")), "PENDING");
	assert_int_equal(ct_int(out, "total"), 10);
	json_decref(out);
}

static void ct_replace_bumps(void **state)
{
	struct ct *t = *state;
	json_t *out, *next;

	ct_insert(t, t->coll, ct_doc("o1", 1, "PENDING", 10));
	next = ct_doc("o1", 2, "PAID", 10);
	assert_int_equal(store_replace(t->s, t->coll, next, 1, NULL), ECOM_OK);
	json_decref(next);
	out = ct_get(t, t->coll, "o1");
	assert_int_equal(ct_int(out, "version"), 2);
	assert_string_equal(json_string_value(json_object_get(out, "status")), "PAID");
	json_decref(out);
	/* A chain of CAS writes, each from the version just read. */
	next = ct_doc("o1", 3, "SHIPPED", 10);
	assert_int_equal(store_replace(t->s, t->coll, next, 2, NULL), ECOM_OK);
	json_decref(next);
	out = ct_get(t, t->coll, "o1");
	assert_int_equal(ct_int(out, "version"), 3);
	assert_string_equal(json_string_value(json_object_get(out, "status")), "SHIPPED");
	json_decref(out);
}

static void ct_replace_stale(void **state)
{
	struct ct *t = *state;
	json_t *a = ct_doc("o1", 2, "PAID", 10), *b = ct_doc("o1", 2, "CANCELLED", 10), *out;

	ct_insert(t, t->coll, ct_doc("o1", 1, "PENDING", 10));
	assert_int_equal(store_replace(t->s, t->coll, a, 1, NULL), ECOM_OK);
	/* A second writer that also read version 1 loses. */
	assert_int_equal(store_replace(t->s, t->coll, b, 1, NULL), ECOM_CONFLICT);
	json_decref(b);
	/* A writer from the future loses too. */
	b = ct_doc("o1", 6, "CANCELLED", 10);
	assert_int_equal(store_replace(t->s, t->coll, b, 5, NULL), ECOM_CONFLICT);
	json_decref(b);
	out = ct_get(t, t->coll, "o1");
	assert_true(json_equal(out, a));
	json_decref(out);
	json_decref(a);
}

static void ct_replace_absent(void **state)
{
	struct ct *t = *state;
	json_t *d = ct_doc("ghost", 2, "PAID", 1), *out = NULL;

	assert_int_equal(store_replace(t->s, t->coll, d, 1, NULL), ECOM_NOT_FOUND);
	ct_insert(t, t->coll2, ct_doc("ghost", 1, "PENDING", 1));
	assert_int_equal(store_replace(t->s, t->coll, d, 1, NULL), ECOM_NOT_FOUND);
	assert_int_equal(store_get(t->s, t->coll, "ghost", &out, NULL), ECOM_NOT_FOUND);
	json_decref(d);
}

static void ct_copies(void **state)
{
	struct ct *t = *state;
	struct store_query all = { .op = STORE_ALL };
	json_t *doc = json_pack("{s:s, s:i, s:{s:i}, s:[i]}", "_id", "o1", "version", 1, "inner",
				"n", 1, "list", 1);
	json_t *out, *found;

	assert_non_null(doc);
	assert_int_equal(store_insert(t->s, t->coll, doc, NULL), ECOM_OK);
	/* A document handed to insert/replace is the store's to read (store.h): the caller
	 * keeps its reference but builds a new document for its next write. */
	json_decref(doc);
	out = ct_get(t, t->coll, "o1");
	assert_null(json_object_get(out, "status"));
	assert_int_equal(ct_int(json_object_get(out, "inner"), "n"), 1);
	assert_int_equal(json_array_size(json_object_get(out, "list")), 1);
	/* What get returns is the caller's at the top level, and below once taken with
	 * jsonx_own* (store.h: copy on write): changing it changes nothing stored. */
	json_object_set_new(out, "status", json_string("X"));
	json_object_set_new(jsonx_own(out, "inner"), "n", json_integer(7));
	json_array_append_new(jsonx_own(out, "list"), json_integer(2));
	assert_int_equal(ct_int(json_object_get(out, "inner"), "n"), 7);
	json_decref(out);
	found = ct_find(t, &all);
	assert_int_equal(json_array_size(found), 1);
	json_object_set_new(json_array_get(found, 0), "status", json_string("X"));
	json_decref(found);
	out = ct_get(t, t->coll, "o1");
	assert_int_equal(ct_int(json_object_get(out, "inner"), "n"), 1);
	assert_int_equal(json_array_size(json_object_get(out, "list")), 1);
	assert_null(json_object_get(out, "status"));
	json_decref(out);
}

/* o1..o5 with statuses and totals chosen so EQ, RANGE and sorts have distinct answers. */
static void ct_seed_five(struct ct *t)
{
	ct_insert(t, t->coll, ct_doc("o3", 1, "PAID", 30));
	ct_insert(t, t->coll, ct_doc("o1", 1, "PENDING", 10));
	ct_insert(t, t->coll, ct_doc("o5", 1, "PAID", 50));
	ct_insert(t, t->coll, ct_doc("o2", 1, "PAID", 20));
	ct_insert(t, t->coll, ct_doc("o4", 1, "SHIPPED", 20));
}

static void ct_find_eq(void **state)
{
	struct ct *t = *state;
	json_t *v = json_string("PAID"), *out;
	struct store_query q = { .op = STORE_EQ, .field = "status", .value = v };

	ct_seed_five(t);
	out = ct_find(t, &q);
	ct_expect_ids(out, "o2,o3,o5");
	json_decref(out);
	json_decref(v);

	v = json_integer(20);
	q.field = "total";
	q.value = v;
	out = ct_find(t, &q);
	ct_expect_ids(out, "o2,o4");
	json_decref(out);
	json_decref(v);

	/* No match, and a field no document has. */
	v = json_string("REFUNDED");
	q.field = "status";
	q.value = v;
	out = ct_find(t, &q);
	ct_expect_ids(out, "");
	json_decref(out);
	q.field = "missing";
	out = ct_find(t, &q);
	ct_expect_ids(out, "");
	json_decref(out);
	json_decref(v);
}

static void ct_find_range(void **state)
{
	struct ct *t = *state;
	json_t *lo = json_integer(20), *hi = json_integer(30), *out;
	struct store_query q = { .op = STORE_RANGE, .field = "total", .lo = lo, .hi = hi };

	ct_seed_five(t);
	ct_insert(t, t->coll, json_pack("{s:s, s:i}", "_id", "o6", "version", 1));
	out = ct_find(t, &q); /* inclusive at both ends */
	ct_expect_ids(out, "o2,o3,o4");
	json_decref(out);
	q.hi = NULL; /* open above */
	out = ct_find(t, &q);
	ct_expect_ids(out, "o2,o3,o4,o5");
	json_decref(out);
	q.lo = NULL;
	q.hi = hi; /* open below; o6 lacks the field and never matches */
	out = ct_find(t, &q);
	ct_expect_ids(out, "o1,o2,o3,o4");
	json_decref(out);
	q.hi = NULL; /* open both ways: every document that has the field */
	out = ct_find(t, &q);
	ct_expect_ids(out, "o1,o2,o3,o4,o5");
	json_decref(out);
	json_decref(lo);
	json_decref(hi);

	/* Strings range lexicographically (ISO timestamps rely on it). */
	lo = json_string("PAID");
	hi = json_string("PENDING");
	q = (struct store_query){ .op = STORE_RANGE, .field = "status", .lo = lo, .hi = hi };
	out = ct_find(t, &q);
	ct_expect_ids(out, "o1,o2,o3,o5");
	json_decref(out);
	json_decref(lo);
	json_decref(hi);
}

static void ct_sort(void **state)
{
	struct ct *t = *state;
	struct store_query q = { .op = STORE_ALL, .sort_field = "total" };
	json_t *out;

	ct_seed_five(t);
	ct_insert(t, t->coll, json_pack("{s:s, s:i}", "_id", "o0", "version", 1));
	out = ct_find(t, &q); /* the document without "total" first; o2/o4 tie on 20 */
	ct_expect_ids(out, "o0,o1,o2,o4,o3,o5");
	json_decref(out);
	q.descending = 1; /* ties still by _id ascending; the missing field last */
	out = ct_find(t, &q);
	ct_expect_ids(out, "o5,o3,o2,o4,o1,o0");
	json_decref(out);
	q.sort_field = "status";
	q.descending = 0;
	out = ct_find(t, &q);
	ct_expect_ids(out, "o0,o2,o3,o5,o1,o4");
	json_decref(out);
}

static void ct_limit(void **state)
{
	struct ct *t = *state;
	json_t *v = json_string("PAID"), *out;
	struct store_query q = { .op = STORE_ALL, .sort_field = "total", .descending = 1,
				 .limit = 2 };

	ct_seed_five(t);
	out = ct_find(t, &q); /* the limit applies after the sort */
	ct_expect_ids(out, "o5,o3");
	json_decref(out);
	q = (struct store_query){ .op = STORE_EQ, .field = "status", .value = v, .limit = 1 };
	out = ct_find(t, &q);
	ct_expect_ids(out, "o2");
	json_decref(out);
	q.limit = 10; /* a limit above the count is no limit */
	out = ct_find(t, &q);
	ct_expect_ids(out, "o2,o3,o5");
	json_decref(out);
	json_decref(v);
}

static void ct_all(void **state)
{
	struct ct *t = *state;
	struct store_query q = { .op = STORE_ALL };
	json_t *out;
	char id[16];

	out = ct_find(t, &q);
	ct_expect_ids(out, ""); /* a collection never written is empty, not an error */
	json_decref(out);
	/* Inserted in a scrambled order; ALL without a sort field comes back by _id. */
	for (int i = 0; i < CT_MANY_DOCS; i++) {
		int k = (i * 37) % CT_MANY_DOCS; /* 37 is coprime to 120: a permutation */

		snprintf(id, sizeof(id), "d%03d", k);
		ct_insert(t, t->coll, ct_doc(id, 1, "PENDING", k));
	}
	out = ct_find(t, &q);
	assert_int_equal(json_array_size(out), CT_MANY_DOCS);
	for (int i = 0; i < CT_MANY_DOCS; i++) {
		snprintf(id, sizeof(id), "d%03d", i);
		assert_string_equal(json_string_value(json_object_get(json_array_get(out, i),
									"_id")),
				    id);
		assert_int_equal(ct_int(json_array_get(out, i), "total"), i);
	}
	json_decref(out);
}

static void ct_remove(void **state)
{
	struct ct *t = *state;
	struct store_query q = { .op = STORE_ALL };
	json_t *out = NULL, *d;

	ct_seed_five(t);
	assert_int_equal(store_remove(t->s, t->coll, "o3", NULL), ECOM_OK);
	assert_int_equal(store_get(t->s, t->coll, "o3", &out, NULL), ECOM_NOT_FOUND);
	assert_int_equal(store_remove(t->s, t->coll, "o3", NULL), ECOM_NOT_FOUND);
	assert_int_equal(store_remove(t->s, t->coll2, "o1", NULL), ECOM_NOT_FOUND);
	out = ct_find(t, &q);
	ct_expect_ids(out, "o1,o2,o4,o5");
	json_decref(out);
	/* Replacing a removed document fails; inserting it again starts over. */
	d = ct_doc("o3", 2, "PAID", 30);
	assert_int_equal(store_replace(t->s, t->coll, d, 1, NULL), ECOM_NOT_FOUND);
	json_decref(d);
	ct_insert(t, t->coll, ct_doc("o3", 1, "PENDING", 31));
	out = ct_get(t, t->coll, "o3");
	assert_int_equal(ct_int(out, "total"), 31);
	json_decref(out);
}

static void ct_collections_independent(void **state)
{
	struct ct *t = *state;
	struct store_query q = { .op = STORE_ALL };
	json_t *out, *d;

	ct_insert(t, t->coll, ct_doc("x", 1, "A", 1));
	ct_insert(t, t->coll2, ct_doc("x", 1, "B", 2)); /* same _id, other collection */
	d = ct_doc("x", 2, "A2", 1);
	assert_int_equal(store_replace(t->s, t->coll, d, 1, NULL), ECOM_OK);
	json_decref(d);
	out = ct_get(t, t->coll2, "x");
	assert_string_equal(json_string_value(json_object_get(out, "status")), "B");
	assert_int_equal(ct_int(out, "version"), 1);
	json_decref(out);
	assert_int_equal(store_remove(t->s, t->coll2, "x", NULL), ECOM_OK);
	out = ct_get(t, t->coll, "x");
	assert_string_equal(json_string_value(json_object_get(out, "status")), "A2");
	json_decref(out);
	out = NULL;
	assert_int_equal(store_find(t->s, t->coll2, &q, &out, NULL), ECOM_OK);
	assert_int_equal(json_array_size(out), 0);
	json_decref(out);
}

static void ct_nested_roundtrip(void **state)
{
	struct ct *t = *state;
	json_t *doc, *out, *next;
	struct store_query q = { .op = STORE_ALL };

	/* The shape of an aggregate document: state, inbox ids, outbox events. */
	doc = json_pack("{s:s, s:I, s:{s:s, s:[{s:s, s:i}, {s:s, s:i}], s:b, s:n, s:f},"
			" s:[s, s], s:[{s:s, s:{s:s}}], s:s, s:I}",
			"_id", "order-1", "version", (json_int_t)1,
			"state", "status", "PENDING", "items", "sku", "SKU-1", "qty", 2, "sku",
			"SKU-7", "qty", 1, "paid", 0, "note", "total", 20.5,
			"inbox", "e1", "e2",
			"outbox", "type", "OrderCreated", "payload", "currency", "EUR",
			"text", "caf\xc3\xa9 \xe2\x82\xac \"quoted\"",
			"big", (json_int_t)INT64_C(9007199254740993));
	assert_non_null(doc);
	assert_int_equal(store_insert(t->s, t->coll, doc, NULL), ECOM_OK);
	out = ct_get(t, t->coll, "order-1");
	assert_true(json_equal(doc, out));
	json_decref(out);
	out = ct_find(t, &q);
	assert_int_equal(json_array_size(out), 1);
	assert_true(json_equal(doc, json_array_get(out, 0)));
	json_decref(out);
	/* And through a CAS replace with a larger document (a new one: doc was handed over). */
	next = json_deep_copy(doc);
	json_object_set_new(next, "version", json_integer(2));
	json_array_append_new(json_object_get(next, "inbox"), json_string("e3"));
	json_object_set_new(next, "outbox", json_array());
	assert_int_equal(store_replace(t->s, t->coll, next, 1, NULL), ECOM_OK);
	out = ct_get(t, t->coll, "order-1");
	assert_true(json_equal(next, out));
	json_decref(out);
	json_decref(next);
	json_decref(doc);
}

int store_contract_run(const char *suite_name, struct store *(*make)(void *arg),
		       void (*cleanup)(struct store *s, void *arg), void *arg)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(ct_get_missing, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_insert_get, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_duplicate_insert, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_replace_bumps, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_replace_stale, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_replace_absent, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_copies, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_find_eq, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_find_range, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_sort, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_limit, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_all, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_remove, ct_setup, ct_teardown),
		cmocka_unit_test_setup_teardown(ct_collections_independent, ct_setup,
						ct_teardown),
		cmocka_unit_test_setup_teardown(ct_nested_roundtrip, ct_setup, ct_teardown),
	};
	size_t j = 0;

	ECOM_ASSERT(suite_name && make);
	ct_env.make = make;
	ct_env.cleanup = cleanup;
	ct_env.arg = arg;
	ct_env.counter = 0;
	/* Collection names: "ct_" + the suite name reduced to [A-Za-z0-9_]. */
	j = (size_t)snprintf(ct_env.prefix, sizeof(ct_env.prefix), "ct_");
	for (const char *p = suite_name; *p && j + 1 < sizeof(ct_env.prefix); p++) {
		char ch = *p;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9');

		ct_env.prefix[j++] = ok ? ch : '_';
	}
	ct_env.prefix[j] = '\0';
	return cmocka_run_group_tests_name(suite_name, tests, NULL, NULL);
}
