/* test_mongo_contract.c — the store contract suite (tests/support/store_contract.h) against a
 * MongoDB-wire server through backends/mongo, at $ECOM_MONGO (e.g. mongodb://127.0.0.1:27017,
 * FerretDB from `deploy/stack up`), plus what only this backend promises: integers stay
 * integers, indexes can be ensured twice, and an unreachable server is UNAVAILABLE, not a hang.
 * Without ECOM_MONGO, or in a build without backends, it prints a skip line and passes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/store_contract.h"

#ifdef ECOM_HAVE_BACKENDS

#include "backends/mongo/mongo_store.h"

static const char *mt_uri;
static char mt_db[64];

static struct store *mt_make(void *arg)
{
	struct ecom_err err = { 0 };
	struct store *s = mongo_store_new(mt_uri, mt_db, &err);

	(void)arg;
	if (!s)
		fprintf(stderr, "mongo_store_new: %s\n", err.msg);
	return s;
}

/* Large and negative integers come back as JSON integers with the same value, reals as reals. */
static void mt_integers_stay_integers(void **state)
{
	struct store *s = mt_make(NULL);
	json_t *doc = json_pack("{s:s, s:I, s:I, s:I, s:i, s:f}", "_id", "n1", "version",
				(json_int_t)1, "max", (json_int_t)INT64_MAX, "neg",
				(json_int_t)INT64_MIN, "small", 7, "real", 1.0);
	json_t *out = NULL;

	(void)state;
	store_remove(s, "mt_ints", "n1", NULL);
	assert_int_equal(store_insert(s, "mt_ints", doc, NULL), ECOM_OK);
	assert_int_equal(store_get(s, "mt_ints", "n1", &out, NULL), ECOM_OK);
	assert_true(json_is_integer(json_object_get(out, "max")));
	assert_true(json_integer_value(json_object_get(out, "max")) == INT64_MAX);
	assert_true(json_integer_value(json_object_get(out, "neg")) == INT64_MIN);
	assert_true(json_is_integer(json_object_get(out, "small")));
	assert_true(json_is_integer(json_object_get(out, "version")));
	assert_true(json_is_real(json_object_get(out, "real")));
	assert_true(json_equal(doc, out));
	json_decref(out);
	json_decref(doc);
	assert_int_equal(store_remove(s, "mt_ints", "n1", NULL), ECOM_OK);
	store_destroy(s);
}

static void mt_ensure_index(void **state)
{
	struct store *s = mt_make(NULL);
	json_t *v = json_string("PAID"), *out = NULL;
	struct store_query q = { .op = STORE_EQ, .field = "status", .value = v };

	(void)state;
	assert_int_equal(mongo_store_ensure_index(s, "mt_idx", "status"), ECOM_OK);
	assert_int_equal(mongo_store_ensure_index(s, "mt_idx", "status"), ECOM_OK);
	/* The index changes nothing a query returns. */
	assert_int_equal(store_find(s, "mt_idx", &q, &out, NULL), ECOM_OK);
	assert_true(json_is_array(out));
	json_decref(out);
	json_decref(v);
	store_destroy(s);
}

/* Nothing listens on port 1: every operation fails within serverSelectionTimeoutMS, as
 * UNAVAILABLE (the request never left), and nothing is reported as applied. */
static void mt_unreachable(void **state)
{
	struct ecom_err err = { 0 };
	struct store *s =
		mongo_store_new("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300", NULL, &err);
	json_t *doc = json_pack("{s:s, s:i}", "_id", "x", "version", 1), *out = NULL;

	(void)state;
	assert_non_null(s);
	assert_int_equal(store_get(s, "mt_down", "x", &out, &err), ECOM_UNAVAILABLE);
	assert_null(out);
	assert_int_equal(store_insert(s, "mt_down", doc, &err), ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "mongo: insert"));
	json_object_set_new(doc, "version", json_integer(2));
	assert_int_equal(store_replace(s, "mt_down", doc, 1, &err), ECOM_UNAVAILABLE);
	assert_int_equal(store_remove(s, "mt_down", "x", &err), ECOM_UNAVAILABLE);
	json_decref(doc);
	store_destroy(s);
}

static void mt_bad_uri(void **state)
{
	struct ecom_err err = { 0 };

	(void)state;
	assert_null(mongo_store_new("not-a-uri://", NULL, &err));
	assert_int_equal(err.rc, ECOM_INVALID);
}

int main(void)
{
	const struct CMUnitTest extra[] = {
		cmocka_unit_test(mt_integers_stay_integers),
		cmocka_unit_test(mt_ensure_index),
		cmocka_unit_test(mt_unreachable),
		cmocka_unit_test(mt_bad_uri),
	};
	int failed;

	mt_uri = getenv("ECOM_MONGO");
	if (!mt_uri || !*mt_uri) {
		printf("test_mongo_contract: skipped (ECOM_MONGO not set; run deploy/stack up and "
		       "export ECOM_MONGO=mongodb://127.0.0.1:27017)\n");
		return 0;
	}
	/* One database for contract runs, apart from the services' "ecom"; the suite empties
	 * its collections before each test, so earlier runs cannot leak in. */
	snprintf(mt_db, sizeof(mt_db), "ecom_contract");
	printf("test_mongo_contract: %s, database %s\n", mt_uri, mt_db);
	failed = store_contract_run("mongo_contract", mt_make, NULL, NULL);
	failed += cmocka_run_group_tests_name("mongo_backend", extra, NULL, NULL);
	return failed;
}

#else

int main(void)
{
	printf("test_mongo_contract: skipped (built with -DECOM_BACKENDS=OFF)\n");
	return 0;
}

#endif
