/* store_cas.c — bench-store-cas: the raw rate of the MongoDB store backend on the code path
 * the runtime uses (mongo_store_new, store_insert, store_get + store_replace on a version),
 * one client, one thread. Prints one line per phase and a JSON summary last; drops its own
 * database (default "bench_store_cas") at the end, touching nothing else. Not deterministic:
 * it reads the wall clock (bench/ is outside the determinism rule). */
#include <jansson.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/mongo/mongo_store.h"
#include "core/store.h"

#define CAS_DOCS_DEFAULT 100
#define CAS_SECONDS_DEFAULT 10.0
#define CAS_INSERT_SECONDS 3.0 /* or argv[5] */
#define CAS_INSERT_MAX 200000 /* bound on the insert phase */
#define CAS_OPS_MAX 100000000 /* bound on the CAS phase */
#define CAS_HISTORY 8         /* entries in each document, for an order-sized document */
#define CAS_COLL "docs"

static double cas_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An order-like document (~1.3 KB as JSON): items, a total, a status, a short history. */
static json_t *cas_doc(const char *id)
{
	json_t *d = json_pack("{s:s, s:I, s:s, s:[{s:s,s:i},{s:s,s:i}], s:i, s:s}", "_id", id,
			      "version", (json_int_t)1, "status", "PENDING", "items", "sku",
			      "SKU-17", "qty", 2, "sku", "SKU-42", "qty", 1, "total", 3000,
			      "correlationId", id);
	json_t *h = json_array();

	for (int i = 0; i < CAS_HISTORY; i++)
		json_array_append_new(h, json_pack("{s:s,s:s,s:s}", "eventId",
						   "0b6f1a52-5d7e-4c39-9d0e-3f5a2b1c7d88", "type",
						   "inventory.StockReserved.v1", "at",
						   "2026-11-25T09:30:00.000Z"));
	json_object_set_new(d, "history", h);
	return d;
}

static int cas_drop(const char *uri, const char *db)
{
	mongoc_client_t *cl = mongoc_client_new(uri);
	mongoc_database_t *d;
	bson_error_t e;
	int ok;

	if (!cl)
		return -1;
	d = mongoc_client_get_database(cl, db);
	ok = mongoc_database_drop(d, &e);
	if (!ok)
		fprintf(stderr, "drop %s: %s\n", db, e.message);
	mongoc_database_destroy(d);
	mongoc_client_destroy(cl);
	return ok ? 0 : -1;
}

/* --versions URI: the sum of "version" over every document of the five service databases,
 * i.e. the successful store writes (an insert makes version 1, each CAS adds 1; documents
 * removed since are not counted). One line per database and collection. */
#define CAS_SERVICE_DBS 5
static int cas_versions(const char *uri)
{
	static const char *const dbs[CAS_SERVICE_DBS] = { "order_service", "inventory_service",
							  "payment_service", "shipping_service",
							  "read_model_service" };
	mongoc_client_t *cl = mongoc_client_new(uri);
	long long total = 0, docs = 0;
	bson_error_t e;
	int rc = 0;

	if (!cl)
		return 2;
	for (int i = 0; i < CAS_SERVICE_DBS; i++) {
		mongoc_database_t *d = mongoc_client_get_database(cl, dbs[i]);
		char **names = mongoc_database_get_collection_names_with_opts(d, NULL, &e);

		for (size_t j = 0; names && names[j]; j++) {
			mongoc_collection_t *c = mongoc_database_get_collection(d, names[j]);
			bson_t *q = bson_new();
			bson_t *o = BCON_NEW("projection", "{", "version", BCON_INT32(1), "}");
			mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, q, o, NULL);
			const bson_t *doc;
			long long sum = 0, n = 0;
			bson_iter_t it;

			while (mongoc_cursor_next(cur, &doc)) {
				n++;
				if (bson_iter_init_find(&it, doc, "version") &&
				    BSON_ITER_HOLDS_NUMBER(&it))
					sum += bson_iter_as_int64(&it);
			}
			if (mongoc_cursor_error(cur, &e)) {
				fprintf(stderr, "%s.%s: %s\n", dbs[i], names[j], e.message);
				rc = 2;
			}
			printf("versions %s.%s: %lld documents, %lld writes\n", dbs[i], names[j], n,
			       sum);
			total += sum;
			docs += n;
			mongoc_cursor_destroy(cur);
			bson_destroy(o);
			bson_destroy(q);
			mongoc_collection_destroy(c);
		}
		bson_strfreev(names);
		mongoc_database_destroy(d);
	}
	printf("{\"documents\":%lld,\"writes\":%lld}\n", docs, total);
	mongoc_client_destroy(cl);
	return rc;
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : "mongodb://127.0.0.1:27017";
	const char *db = argc > 2 ? argv[2] : "bench_store_cas";
	long ndocs = argc > 3 ? atol(argv[3]) : CAS_DOCS_DEFAULT;
	double secs = argc > 4 ? atof(argv[4]) : CAS_SECONDS_DEFAULT;
	double ins_secs = argc > 5 ? atof(argv[5]) : CAS_INSERT_SECONDS;
	struct ecom_err err = { 0 };
	struct store *s = NULL;
	long inserted = 0, cas = 0, conflicts = 0, failures = 0;
	double t0, t1, t_ins = 0, t_cas = 0, t_get = 0;
	char id[64];
	int rc = 1;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: bench-store-cas [URI] [DB] [DOCS] [SECONDS] [INSERT_SECONDS]\n"
		       "       bench-store-cas --versions URI   (store writes left in the five "
		       "service databases)\n"
		       "inserts order-sized documents for INSERT_SECONDS (%.0f), then get + replace(version)\n"
		       "round-robin over DOCS of them for SECONDS; drops DB at the end\n",
		       CAS_INSERT_SECONDS);
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "--versions") == 0) {
		mongoc_init();
		rc = cas_versions(argv[2]);
		mongoc_cleanup();
		return rc;
	}
	if (ndocs < 1 || secs <= 0) {
		fprintf(stderr, "bad DOCS or SECONDS\n");
		return 2;
	}
	mongoc_init();
	cas_drop(uri, db);
	s = mongo_store_new(uri, db, &err);
	if (!s) {
		fprintf(stderr, "mongo_store_new: %s\n", err.msg);
		goto out;
	}
	/* insert phase: at least ndocs documents, then more until CAS_INSERT_SECONDS */
	t0 = cas_now();
	while (inserted < CAS_INSERT_MAX) {
		json_t *d;
		int r;

		if (inserted >= ndocs && cas_now() - t0 >= ins_secs)
			break;
		snprintf(id, sizeof(id), "doc-%ld", inserted);
		d = cas_doc(id);
		r = store_insert(s, CAS_COLL, d, &err);
		json_decref(d);
		if (r != ECOM_OK) {
			fprintf(stderr, "insert %s: rc %d %s\n", id, r, err.msg);
			goto out;
		}
		inserted++;
	}
	t_ins = cas_now() - t0;
	printf("insert: %ld documents in %.2f s = %.0f/s (%.3f ms each)\n", inserted, t_ins,
	       inserted / t_ins, 1000.0 * t_ins / inserted);
	/* CAS phase: get + replace(expected version) round-robin over ndocs documents */
	t0 = cas_now();
	for (long i = 0; i < CAS_OPS_MAX; i++) {
		json_t *d = NULL;
		json_int_t v;
		int r;

		if ((i & 15) == 0 && cas_now() - t0 >= secs)
			break;
		snprintf(id, sizeof(id), "doc-%ld", i % ndocs);
		t1 = cas_now();
		r = store_get(s, CAS_COLL, id, &d, &err);
		t_get += cas_now() - t1;
		if (r != ECOM_OK) {
			failures++;
			continue;
		}
		v = json_integer_value(json_object_get(d, "version"));
		json_object_set_new(d, "version", json_integer(v + 1));
		json_object_set_new(d, "total", json_integer(3000 + (json_int_t)(i % 7)));
		r = store_replace(s, CAS_COLL, d, v, &err);
		json_decref(d);
		if (r == ECOM_OK)
			cas++;
		else if (r == ECOM_CONFLICT)
			conflicts++;
		else
			failures++;
	}
	t_cas = cas_now() - t0;
	printf("cas: %ld get+replace in %.2f s = %.0f/s (%.3f ms each), %ld conflicts, %ld "
	       "failures, over %ld documents; get %.3f ms, replace %.3f ms\n",
	       cas, t_cas, cas / t_cas, 1000.0 * t_cas / (cas ? cas : 1), conflicts, failures,
	       ndocs, 1000.0 * t_get / (cas ? cas : 1), 1000.0 * (t_cas - t_get) / (cas ? cas : 1));
	printf("{\"inserted\":%ld,\"insert_per_s\":%.0f,\"cas_per_s\":%.1f,\"cas_ms\":%.3f,"
	       "\"get_ms\":%.3f,\"docs\":%ld,\"conflicts\":%ld,\"failures\":%ld}\n",
	       inserted, inserted / t_ins, cas / t_cas, 1000.0 * t_cas / (cas ? cas : 1),
	       1000.0 * t_get / (cas ? cas : 1), ndocs, conflicts, failures);
	rc = failures || conflicts ? 1 : 0;
out:
	store_destroy(s);
	cas_drop(uri, db);
	mongoc_cleanup();
	return rc;
}
