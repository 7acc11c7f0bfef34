/* test_order_rm_cov.c — the order service and the read model at their edges. Order: every
 * orderId character class, bodies of the wrong shape, a client retry after the catalog
 * price changed (conflict, nothing written), store outages, admin arguments and refusals in
 * every order of state (a retry running, a compensation pending, the attempt cap, a stuck
 * saga), an admin command re-run after a conflicting commit, newer-attempt events, the
 * history bound, documents of an older layout, and timers that fire early or on a halted
 * saga. Read model: dead letters with numeric, missing or oversized position headers, the
 * timeline bound and order, projections of an older layout, the planted last-event bug,
 * every query's refusal and store outage, replay records, and change notification. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bugs.h"
#include "core/catalog.h"
#include "event/jsonx.h"
#include "services/order/order.h"
#include "services/read-model/read_model.h"
#include "sim/mem_store.h"
#include "support/harness.h"
#include "support/xstore.h"

#define QUIET_US (5LL * 1000 * 1000)
#define T_LONG_US (3600LL * 1000 * 1000)
#define T_DEADLINE_US (10LL * 1000 * 1000)
#define T_WALL_MS 1767225600000LL

/* ---- fixture ------------------------------------------------------------------------------ */

struct fx {
	struct harness *h;
	struct catalog cat; /* the default: SKU-1..SKU-100 at 10.00 */
	struct order_service *o;
	struct runtime *rt;
	struct read_model *rm;
	struct runtime *rm_rt;
	/* a runtime outside the harness over a scripted store (x_rt NULL when unused) */
	struct xstore xs;
	struct broker *x_client;
	struct runtime *x_rt;
	struct order_service *x_o;
	struct read_model *x_rm;
};

static struct fx *fx_new(int64_t deadline_us, uint32_t rm_bugs)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct order_config oc = { .step_deadline_us = deadline_us };
	struct read_model_config rc = { .bugs = rm_bugs };

	f->h = harness_new(41, 4);
	catalog_init_default(&f->cat, 100);
	f->o = order_service_new(&f->cat, &oc);
	f->rt = harness_add(f->h, order_svc_def(), f->o, "order#1", NULL);
	order_service_attach(f->o, f->rt);
	f->rm = read_model_new(&rc);
	f->rm_rt = harness_add(f->h, read_model_svc_def(), f->rm, "read-model#1", NULL);
	read_model_attach(f->rm, f->rm_rt);
	return f;
}

static void fx_free(struct fx *f)
{
	if (f->x_rt) {
		runtime_free(f->x_rt);
		broker_destroy(f->x_client);
		store_destroy(&f->xs.base);
	}
	order_service_free(f->x_o);
	read_model_free(f->x_rm);
	harness_free(f->h);
	order_service_free(f->o);
	read_model_free(f->rm);
	catalog_deinit(&f->cat);
	free(f);
}

static int setup(void **state)
{
	*state = fx_new(T_LONG_US, 0);
	return 0;
}

static int setup_deadline(void **state)
{
	*state = fx_new(T_DEADLINE_US, 0);
	return 0;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

/* A second order service (or read model) on its own runtime over the scripted store. */
static void fx_scripted(struct fx *f, const struct svc_def *def)
{
	static const struct runtime_config cfg = { .group = "scripted-group",
						    .instance = "scripted#1" };

	xstore_init(&f->xs, mem_store_new());
	f->x_client = mem_broker_new(harness_cluster(f->h), "scripted#1");
	if (def == order_svc_def()) {
		f->x_o = order_service_new(&f->cat, NULL);
		f->x_rt = runtime_new(def, f->x_o, f->x_client, &f->xs.base,
				      &harness_clock(f->h)->base, harness_rng(f->h), &cfg);
		order_service_attach(f->x_o, f->x_rt);
	} else {
		f->x_rm = read_model_new(NULL);
		f->x_rt = runtime_new(def, f->x_rm, f->x_client, &f->xs.base,
				      &harness_clock(f->h)->base, harness_rng(f->h), &cfg);
		read_model_attach(f->x_rm, f->x_rt);
	}
	assert_int_equal(runtime_start(f->x_rt, NULL), ECOM_OK);
}

static void quiet(struct fx *f)
{
	harness_run_until_quiet(f->h, QUIET_US);
}

static json_t *parse(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static json_t *odoc(struct fx *f, const char *id)
{
	json_t *d = NULL;

	if (store_get(harness_store(f->h, "order"), "orders", id, &d, NULL) != ECOM_OK)
		return NULL;
	return d;
}

static const char *ostr(struct fx *f, const char *id, const char *key, char out[64])
{
	json_t *d = odoc(f, id);

	assert_non_null(d);
	snprintf(out, 64, "%s", jsonx_str_or(d, key, "(absent)"));
	json_decref(d);
	return out;
}

static int64_t oint(struct fx *f, const char *id, const char *key)
{
	json_t *d = odoc(f, id);
	int64_t v = jsonx_int_or(d, key, -999);

	json_decref(d);
	return v;
}

static int create(struct fx *f, struct order_service *o, const char *body, char id[64],
		  struct ecom_err *err)
{
	json_t *b = parse(body), *resp = NULL;
	int rc = order_create(o, b, &resp, err);

	json_decref(b);
	if (id)
		snprintf(id, 64, "%s", rc == ECOM_OK ? jsonx_str_or(resp, "orderId", "") : "");
	if (rc != ECOM_OK)
		assert_null(resp);
	json_decref(resp);
	return rc;
}

static void create_id(struct fx *f, const char *id)
{
	char body[256], got[64];

	snprintf(body, sizeof(body),
		 "{\"orderId\":\"%s\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":20}", id);
	assert_int_equal(create(f, f->o, body, got, NULL), ECOM_OK);
	assert_string_equal(got, id);
	quiet(f);
}

/* Publishes an event of type t for order id, attempt a, with a fitting payload. */
static void send(struct fx *f, enum event_type t, const char *id, int a)
{
	char json[256];

	switch (t) {
	case EV_INVENTORY_RESERVED:
		snprintf(json, sizeof(json),
			 "{\"orderId\":\"%s\",\"reservedItems\":[{\"sku\":\"SKU-1\",\"qty\":2}],"
			 "\"attempt\":%d}", id, a);
		break;
	case EV_INVENTORY_RELEASED:
		snprintf(json, sizeof(json),
			 "{\"orderId\":\"%s\",\"releasedItems\":[],\"attempt\":%d}", id, a);
		break;
	case EV_PAYMENT_AUTHORIZED:
		snprintf(json, sizeof(json),
			 "{\"orderId\":\"%s\",\"amount\":20,\"authId\":\"au\","
			 "\"attempt\":%d}", id, a);
		break;
	case EV_PAYMENT_REFUNDED:
		snprintf(json, sizeof(json),
			 "{\"orderId\":\"%s\",\"amount\":20,\"refundId\":\"rf\","
			 "\"attempt\":%d}", id, a);
		break;
	default:
		snprintf(json, sizeof(json),
			 "{\"orderId\":\"%s\",\"reason\":\"test\",\"attempt\":%d}", id, a);
		break;
	}
	assert_int_equal(harness_publish_json(f->h, t, id, json, NULL), ECOM_OK);
}

static int admin(struct fx *f, int retry, const char *id, const char *what, char msg[160])
{
	struct ecom_err err;
	json_t *resp = NULL;
	int rc;

	ecom_err_clear(&err);
	rc = retry ? order_retry(f->o, id, what, &resp, &err)
		   : order_compensate(f->o, id, what, &resp, &err);
	snprintf(msg, 160, "%s", rc == ECOM_OK ? "" : err.msg);
	if (rc == ECOM_OK)
		assert_non_null(resp);
	else
		assert_null(resp);
	json_decref(resp);
	quiet(f);
	return rc;
}

static const char long_id[] =
	"o-0123456789012345678901234567890123456789012345678901234567890123456789"
	"0123456789012345678901234567890123456789012345678901234567890123456789"
	"0123456789012345678901234567890123456789"; /* >= SVC_ID_MAX */

/* ---- order: creation ------------------------------------------------------------------- */

static void test_order_route_and_helpers(void **state)
{
	struct fx *f = *state;
	const struct svc_def *d = order_svc_def();
	struct svc_route r;
	struct envelope e;
	char json[512];
	json_t *w, *doc;

	json_t *p = parse("{\"reason\":\"x\"}");

	envelope_init(&e, harness_rng(f->h), T_WALL_MS, EV_INVENTORY_FAILED, "k", p, NULL, NULL);
	assert_int_equal(d->route(f->o, &e, &r), ECOM_NOT_FOUND); /* not an order of ours */
	envelope_deinit(&e);
	snprintf(json, sizeof(json), "{\"orderId\":\"%s\",\"reason\":\"x\"}", long_id);
	envelope_init(&e, harness_rng(f->h), T_WALL_MS, EV_INVENTORY_FAILED, "k", parse(json),
		      NULL, NULL);
	assert_int_equal(d->route(f->o, &e, &r), ECOM_NOT_FOUND);
	envelope_deinit(&e);
	envelope_init(&e, harness_rng(f->h), T_WALL_MS, EV_INVENTORY_FAILED, "k",
		      parse("{\"orderId\":\"ok-1\",\"reason\":\"x\"}"), NULL, NULL);
	assert_int_equal(d->route(f->o, &e, &r), ECOM_OK);
	assert_string_equal(r.collection, "orders");
	assert_string_equal(r.id, "ok-1");
	envelope_deinit(&e);

	assert_false(order_status_is_terminal(NULL));
	assert_false(order_status_is_terminal("PAYMENT_FAILED"));
	assert_true(order_status_is_terminal("SHIPPED"));
	assert_true(order_status_is_terminal("CANCELLED"));

	/* A document without _id, items or money fields still has the wire shape. */
	doc = parse("{\"orderId\":\"w1\",\"status\":\"CREATED\"}");
	w = order_to_wire(doc);
	assert_string_equal(jsonx_str_or(w, "_id", ""), "w1");
	assert_true(json_is_array(json_object_get(w, "items")));
	assert_int_equal(json_array_size(json_object_get(w, "items")), 0);
	assert_int_equal(json_integer_value(json_object_get(w, "total")), 0);
	assert_int_equal(json_array_size(json_object_get(w, "history")), 0);
	assert_null(json_object_get(w, "failedStep"));
	json_decref(w);
	json_decref(doc);
}

/* Every class of orderId character, and the characters just outside each class. */
static void test_order_id_characters(void **state)
{
	struct fx *f = *state;
	static const char *const ok[] = { "AZaz09", "a.b_c:d-e", "Z", "z", "9" };
	static const char *const bad[] = { "a@", "a[", "a`", "a{", "a/", "a;", "a b", "a\\u00e9" };
	char body[512], id[64];
	struct ecom_err err;

	for (size_t i = 0; i < ECOM_ARRAY_LEN(ok); i++) {
		snprintf(body, sizeof(body),
			 "{\"orderId\":\"%s\",\"items\":[{\"sku\":\"SKU-2\",\"qty\":1}],"
			 "\"total\":10}", ok[i]);
		assert_int_equal(create(f, f->o, body, id, &err), ECOM_OK);
		assert_string_equal(id, ok[i]);
	}
	for (size_t i = 0; i < ECOM_ARRAY_LEN(bad); i++) {
		snprintf(body, sizeof(body),
			 "{\"orderId\":\"%s\",\"items\":[{\"sku\":\"SKU-2\",\"qty\":1}],"
			 "\"total\":10}", bad[i]);
		ecom_err_clear(&err);
		assert_int_equal(create(f, f->o, body, id, &err), ECOM_INVALID);
		assert_string_equal(err.msg, "orderId: 1..128 chars of [A-Za-z0-9._:-]");
	}
	/* 129 characters, and a non-string. */
	memset(id, 0, sizeof(id));
	snprintf(body, sizeof(body),
		 "{\"orderId\":\"%0129d\",\"items\":[{\"sku\":\"SKU-2\",\"qty\":1}],"
		 "\"total\":10}", 7);
	assert_int_equal(create(f, f->o, body, NULL, &err), ECOM_INVALID);
	assert_int_equal(create(f, f->o,
				"{\"orderId\":42,\"items\":[{\"sku\":\"SKU-2\",\"qty\":1}],"
				"\"total\":10}",
				NULL, &err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "orderId: 1..128 chars of [A-Za-z0-9._:-]");
	/* null means "draw one". */
	assert_int_equal(create(f, f->o,
				"{\"orderId\":null,\"items\":[{\"sku\":\"SKU-2\",\"qty\":1}],"
				"\"total\":10}",
				id, &err),
			 ECOM_OK);
	assert_int_equal(strlen(id), 36);
	assert_int_equal(mem_store_count(harness_store(f->h, "order"), "orders"),
			 ECOM_ARRAY_LEN(ok) + 1);
}

static void test_order_body_shapes(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;

	assert_int_equal(create(f, f->o, "[1,2]", NULL, &err), ECOM_INVALID);
	assert_string_equal(err.msg, "body: must be a JSON object");
	assert_int_equal(create(f, f->o,
				"{\"items\":[{\"sku\":\"SKU-1\",\"qty\":1},5],\"total\":20}", NULL,
				&err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "items[1]: must be an object {sku, qty}");
	/* Without an error struct the refusal is the same, only unexplained. */
	assert_int_equal(create(f, f->o, "{\"items\":7}", NULL, NULL), ECOM_INVALID);
	assert_int_equal(mem_store_count(harness_store(f->h, "order"), "orders"), 0);
	assert_int_equal(harness_topic_count(f->h, event_type_name(EV_ORDER_CREATED)), 0);
}

/* A client retry that arrives after the catalog price changed is a different order body:
 * refused, and the first order stays as it was. */
static void test_order_retry_after_price_change(void **state)
{
	struct fx *f = *state;
	struct catalog dear;
	struct order_service *o2;
	struct ecom_err err;
	char id[64];
	int64_t v;

	catalog_init_uniform(&dear, 100, 2000, 100);
	o2 = order_service_new(&dear, NULL);
	order_service_attach(o2, f->rt);
	create_id(f, "p1");
	v = oint(f, "p1", "version");
	ecom_err_clear(&err);
	assert_int_equal(create(f, o2,
				"{\"orderId\":\"p1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],"
				"\"total\":40}",
				id, &err),
			 ECOM_CONFLICT);
	assert_string_equal(err.msg, "orderId: already used with a different body");
	/* Without an error struct: the same code. */
	assert_int_equal(create(f, o2,
				"{\"orderId\":\"p1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],"
				"\"total\":40}",
				NULL, NULL),
			 ECOM_CONFLICT);
	assert_int_equal(oint(f, "p1", "total"), 2000);
	assert_int_equal(oint(f, "p1", "version"), v);
	assert_int_equal(harness_count_for_order(f->h, EV_ORDER_CREATED, "p1"), 1);
	order_service_free(o2);
	catalog_deinit(&dear);
}

static void test_order_store_unavailable(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;
	json_t *out = (json_t *)1;

	fx_scripted(f, order_svc_def());
	assert_int_equal(create(f, f->x_o,
				"{\"orderId\":\"u1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],"
				"\"total\":10}",
				NULL, &err),
			 ECOM_OK);
	f->xs.fail[XOP_GET] = 1;
	f->xs.rc[XOP_GET] = ECOM_UNAVAILABLE;
	assert_int_equal(order_get(f->x_o, "u1", &out, &err), ECOM_UNAVAILABLE);
	assert_null(out);
	assert_int_equal(order_get(f->x_o, "u1", &out, &err), ECOM_OK);
	assert_string_equal(jsonx_str_or(out, "status", ""), "CREATED");
	json_decref(out);
	/* Creation over a store that keeps failing: nothing written, the caller may retry. */
	f->xs.fail[XOP_GET] = 100;
	assert_int_equal(create(f, f->x_o,
				"{\"orderId\":\"u2\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],"
				"\"total\":10}",
				NULL, &err),
			 ECOM_UNAVAILABLE);
	assert_int_equal(err.rc, ECOM_UNAVAILABLE);
	f->xs.fail[XOP_GET] = 0;
	assert_int_equal(mem_store_count(f->xs.inner, "orders"), 1);
}

/* ---- order: admin ---------------------------------------------------------------------- */

/* Runs the order's event handler through runtime_exec (the commit path of a delivery). */
struct handle_call {
	struct order_service *o;
	const struct envelope *ev;
};

static int handle_fn(void *arg, struct svc_ctx *ctx, json_t **state)
{
	struct handle_call *c = arg;

	return order_svc_def()->handle(c->o, ctx, state, c->ev);
}


static void test_order_admin_arguments(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;
	json_t *resp = (json_t *)1;
	int64_t v;

	create_id(f, "a1");
	v = oint(f, "a1", "version");
	assert_int_equal(order_retry(f->o, "a1", NULL, &resp, &err), ECOM_INVALID);
	assert_string_equal(err.msg, "step: must be one of inventory, payment, shipping");
	assert_null(resp);
	assert_int_equal(order_compensate(f->o, "a1", "refund", &resp, &err), ECOM_INVALID);
	assert_string_equal(err.msg, "action: must be one of releaseInventory, refundPayment");
	assert_int_equal(order_retry(f->o, NULL, "inventory", &resp, &err), ECOM_NOT_FOUND);
	assert_string_equal(err.msg, "order not found");
	assert_int_equal(order_retry(f->o, "", "inventory", &resp, &err), ECOM_NOT_FOUND);
	assert_int_equal(order_compensate(f->o, long_id, "refundPayment", &resp, &err),
			 ECOM_NOT_FOUND);
	assert_string_equal(err.msg, "order not found");
	assert_int_equal(order_compensate(f->o, "nope", "refundPayment", &resp, &err),
			 ECOM_NOT_FOUND);
	assert_string_equal(err.msg, "order nope not found");
	assert_null(resp);
	assert_int_equal(oint(f, "a1", "version"), v);
}

/* A retry running refuses a second one (the same step: "already requested"); a pending
 * compensation refuses a retry until its effect arrived. */
static void test_order_admin_running_and_pending(void **state)
{
	struct fx *f = *state;
	char msg[160], s[64];

	create_id(f, "r1");
	send(f, EV_INVENTORY_FAILED, "r1", 0);
	quiet(f);
	assert_string_equal(ostr(f, "r1", "status", s), "CANCELLED");
	assert_int_equal(admin(f, 1, "r1", "inventory", msg), ECOM_OK);
	assert_int_equal(admin(f, 1, "r1", "payment", msg), ECOM_REFUSED);
	assert_string_equal(msg, "a retry is already running");
	assert_int_equal(admin(f, 1, "r1", "inventory", msg), ECOM_REFUSED);
	assert_string_equal(msg, "already requested");
	assert_int_equal(harness_count_for_order(f->h, EV_RETRY_REQUESTED, "r1"), 1);

	/* Cancelled by inventory; a late capture of the same attempt is recorded in the
	 * ledger: refunding it is allowed, and while it is pending no retry starts. */
	create_id(f, "r2");
	send(f, EV_INVENTORY_FAILED, "r2", 0);
	send(f, EV_PAYMENT_AUTHORIZED, "r2", 0);
	quiet(f);
	assert_string_equal(ostr(f, "r2", "status", s), "CANCELLED");
	assert_int_equal(oint(f, "r2", "captured_cents"), 2000);
	assert_int_equal(admin(f, 0, "r2", "refundPayment", msg), ECOM_OK);
	assert_int_equal(admin(f, 1, "r2", "inventory", msg), ECOM_REFUSED);
	assert_string_equal(msg, "compensation still in progress");
	assert_int_equal(admin(f, 0, "r2", "refundPayment", msg), ECOM_REFUSED);
	assert_string_equal(msg, "already requested");
	assert_int_equal(admin(f, 0, "r2", "releaseInventory", msg), ECOM_REFUSED);
	assert_string_equal(msg, "nothing to compensate: no inventory held");
	send(f, EV_PAYMENT_REFUNDED, "r2", 0);
	quiet(f);
	assert_int_equal(oint(f, "r2", "refunded_cents"), 2000);
	assert_int_equal(admin(f, 1, "r2", "inventory", msg), ECOM_OK);
	assert_int_equal(oint(f, "r2", "attempt"), 1);
	assert_int_equal(harness_count_for_order(f->h, EV_COMPENSATION_REQUESTED, "r2"), 1);
}

/* ORDER_ATTEMPTS_MAX attempts: the first and fifteen retries; the sixteenth is refused. */
static void test_order_retry_attempt_cap(void **state)
{
	struct fx *f = *state;
	char msg[160];

	create_id(f, "cap");
	for (int a = 0; a < ORDER_ATTEMPTS_MAX - 1; a++) {
		send(f, EV_INVENTORY_FAILED, "cap", a);
		quiet(f);
		assert_int_equal(admin(f, 1, "cap", "inventory", msg), ECOM_OK);
		assert_int_equal(oint(f, "cap", "attempt"), a + 1);
	}
	send(f, EV_INVENTORY_FAILED, "cap", ORDER_ATTEMPTS_MAX - 1);
	quiet(f);
	assert_int_equal(admin(f, 1, "cap", "inventory", msg), ECOM_REFUSED);
	assert_string_equal(msg, "too many attempts (16)");
	assert_int_equal(oint(f, "cap", "attempt"), ORDER_ATTEMPTS_MAX - 1);
	assert_int_equal(harness_count_for_order(f->h, EV_RETRY_REQUESTED, "cap"),
			 ORDER_ATTEMPTS_MAX - 1);
}

/* A saga stuck before it halted (no answer to its fence) may be compensated. */
static void test_order_compensate_stuck(void **state)
{
	struct fx *f = *state;
	char msg[160], s[64];
	json_t *d;

	create_id(f, "st");
	send(f, EV_INVENTORY_RESERVED, "st", 0);
	quiet(f);
	assert_int_equal(admin(f, 0, "st", "releaseInventory", msg), ECOM_REFUSED);
	assert_string_equal(msg, "order is INVENTORY_RESERVED: the saga is not halted");
	harness_run_for(f->h, 3 * T_DEADLINE_US);
	d = odoc(f, "st");
	assert_true(jsonx_bool_or(d, "stuck", 0));
	json_decref(d);
	assert_string_equal(ostr(f, "st", "status", s), "INVENTORY_RESERVED");
	assert_int_equal(harness_count_for_order(f->h, EV_STEP_TIMEOUT, "st"), 1);
	assert_int_equal(admin(f, 0, "st", "refundPayment", msg), ECOM_REFUSED);
	assert_string_equal(msg, "nothing to compensate: no captured payment left to refund");
	assert_int_equal(admin(f, 0, "st", "releaseInventory", msg), ECOM_OK);
	assert_int_equal(harness_count_for_order(f->h, EV_COMPENSATION_REQUESTED, "st"), 1);
}

/* An admin command whose commit lost a race (CONFLICT) is re-run on the fresh read with
 * the same token: one event, one answer. */
static void test_order_admin_rerun_after_conflict(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;
	json_t *resp = NULL, *d = NULL;

	fx_scripted(f, order_svc_def());
	assert_int_equal(create(f, f->x_o,
				"{\"orderId\":\"c1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],"
				"\"total\":20}",
				NULL, &err),
			 ECOM_OK);
	/* Fold an InventoryFailed through the scripted runtime. */
	{
		struct envelope e;
		struct handle_call c = { f->x_o, &e };

		envelope_init(&e, harness_rng(f->h), T_WALL_MS, EV_INVENTORY_FAILED, "c1",
			      parse("{\"orderId\":\"c1\",\"reason\":\"x\",\"attempt\":0}"), NULL,
			      NULL);
		assert_int_equal(runtime_exec(f->x_rt, "orders", "c1", handle_fn, &c, NULL),
				 ECOM_OK);
		envelope_deinit(&e);
	}
	assert_int_equal(store_get(f->xs.inner, "orders", "c1", &d, NULL), ECOM_OK);
	assert_string_equal(jsonx_str_or(d, "status", ""), "CANCELLED");
	json_decref(d);
	f->xs.fail[XOP_REPLACE] = 1;
	f->xs.rc[XOP_REPLACE] = ECOM_CONFLICT;
	assert_int_equal(order_retry(f->x_o, "c1", "inventory", &resp, &err), ECOM_OK);
	assert_int_equal(jsonx_int_or(resp, "attempt", -1), 1);
	assert_string_equal(jsonx_str_or(resp, "status", ""), "RETRYING");
	json_decref(resp);
	assert_int_equal(f->xs.calls[XOP_REPLACE] >= 2, 1);
	assert_int_equal(store_get(f->xs.inner, "orders", "c1", &d, NULL), ECOM_OK);
	assert_int_equal(jsonx_int_or(d, "attempt", -1), 1);
	json_decref(d);
	assert_int_equal(harness_count_for_order(f->h, EV_RETRY_REQUESTED, "c1"), 1);
}

/* ---- order: the fold --------------------------------------------------------------------- */

/* Events of an attempt newer than the order's are recorded, never applied; after a retry,
 * an event of the new attempt that establishes nothing the status needs keeps RETRYING. */
static void test_order_fold_attempts(void **state)
{
	struct fx *f = *state;
	char msg[160], s[64];
	json_t *d;

	create_id(f, "f1");
	send(f, EV_INVENTORY_RESERVED, "f1", 5);
	quiet(f);
	assert_string_equal(ostr(f, "f1", "status", s), "CREATED");
	d = odoc(f, "f1");
	assert_int_equal(json_array_size(json_object_get(d, "history")), 2);
	assert_false(jsonx_bool_or(d, "held", 1));
	json_decref(d);

	send(f, EV_INVENTORY_FAILED, "f1", 0);
	quiet(f);
	assert_int_equal(admin(f, 1, "f1", "inventory", msg), ECOM_OK);
	assert_string_equal(ostr(f, "f1", "status", s), "RETRYING");
	send(f, EV_PAYMENT_REFUNDED, "f1", 1);
	quiet(f);
	assert_string_equal(ostr(f, "f1", "status", s), "RETRYING");
	assert_int_equal(oint(f, "f1", "refunded_cents"), 2000);
}

/* ORDER_HISTORY_MAX entries are kept, the oldest dropped and counted. */
static void test_order_history_bound(void **state)
{
	struct fx *f = *state;
	json_t *d, *h;

	create_id(f, "h1");
	for (int i = 0; i < ORDER_HISTORY_MAX + 2; i++)
		send(f, EV_INVENTORY_RELEASED, "h1", 0);
	quiet(f);
	d = odoc(f, "h1");
	h = json_object_get(d, "history");
	assert_int_equal(json_array_size(h), ORDER_HISTORY_MAX);
	assert_int_equal(jsonx_int_or(d, "history_dropped", -1), 3);
	assert_string_equal(jsonx_str_or(json_array_get(h, 0), "type", ""),
			    "inventory.InventoryReleased.v1");
	json_decref(d);
	d = NULL;
	assert_int_equal(order_get(f->o, "h1", &d, NULL), ECOM_OK);
	assert_int_equal(json_array_size(json_object_get(d, "history")), ORDER_HISTORY_MAX);
	json_decref(d);
}

/* An order document of an older layout (no history, ledger, progress, comp_pending)
 * folds events and takes admin commands, growing the missing parts. */
static void test_order_older_layout(void **state)
{
	struct fx *f = *state;
	json_t *old = parse("{\"_id\":\"old\",\"version\":1,\"orderId\":\"old\","
			    "\"status\":\"CREATED\","
			    "\"seq\":0,\"attempt\":0,\"total\":2000,"
			    "\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}]}"),
	       *d;
	char msg[160], s[64];

	assert_int_equal(store_insert(harness_store(f->h, "order"), "orders", old, NULL), ECOM_OK);
	json_decref(old);
	send(f, EV_INVENTORY_RESERVED, "old", 0);
	quiet(f);
	send(f, EV_PAYMENT_FAILED, "old", 0);
	quiet(f);
	assert_string_equal(ostr(f, "old", "status", s), "PAYMENT_FAILED");
	d = odoc(f, "old");
	assert_int_equal(json_array_size(json_object_get(d, "history")), 2);
	assert_int_equal(json_array_size(json_object_get(d, "ledger")), 1);
	assert_true(jsonx_bool_or(json_object_get(d, "progress"), "reserved", 0));
	assert_true(jsonx_bool_or(d, "held", 0));
	assert_int_equal(jsonx_int_or(d, "seq", -1), 2);
	json_decref(d);
	assert_int_equal(admin(f, 0, "old", "releaseInventory", msg), ECOM_OK);
	d = odoc(f, "old");
	assert_int_equal(json_array_size(json_object_get(d, "comp_pending")), 1);
	json_decref(d);

	/* No status at all: neither retried nor compensated, with the reason. */
	old = parse("{\"_id\":\"nost\",\"version\":1,\"orderId\":\"nost\",\"attempt\":0}");
	assert_int_equal(store_insert(harness_store(f->h, "order"), "orders", old, NULL), ECOM_OK);
	json_decref(old);
	assert_int_equal(admin(f, 1, "nost", "inventory", msg), ECOM_REFUSED);
	assert_string_equal(msg, "order is ?: the saga is still running");
	assert_int_equal(admin(f, 0, "nost", "refundPayment", msg), ECOM_REFUSED);
	assert_string_equal(msg, "order is ?: the saga is not halted");
	send(f, EV_INVENTORY_RESERVED, "nost", 0);
	quiet(f);
	assert_string_equal(ostr(f, "nost", "status", s), "INVENTORY_RESERVED");
	/* Cancelled without a failed step (written before failed_step existed). */
	old = parse("{\"_id\":\"nofs\",\"version\":1,\"orderId\":\"nofs\",\"attempt\":0,"
		    "\"status\":\"CANCELLED\"}");
	assert_int_equal(store_insert(harness_store(f->h, "order"), "orders", old, NULL), ECOM_OK);
	json_decref(old);
	assert_int_equal(admin(f, 1, "nofs", "payment", msg), ECOM_REFUSED);
	assert_string_equal(msg, "step payment never failed");
}

struct wake_call {
	struct order_service *o;
	const char *id;
};

static int wake_fn(void *arg, struct svc_ctx *ctx, json_t **state)
{
	struct wake_call *w = arg;

	return order_svc_def()->wake(w->o, ctx, "orders", w->id, state);
}

/* The order's timer callback on states a sweep can meet after a race: the order is gone,
 * the deadline moved later (re-armed, nothing emitted), the saga already flagged stuck or
 * terminal (timer cleared). */
static void test_order_wake_edges(void **state)
{
	struct fx *f = *state;
	struct store *s = harness_store(f->h, "order");
	int64_t now = harness_clock(f->h)->now_us;
	struct wake_call w = { f->o, "ghost" };
	char text[512];
	json_t *d;

	assert_int_equal(runtime_exec(f->rt, "orders", "ghost", wake_fn, &w, NULL), ECOM_OK);
	assert_null(odoc(f, "ghost"));

	snprintf(text, sizeof(text),
		 "{\"_id\":\"later\",\"version\":1,\"orderId\":\"later\",\"status\":\"CREATED\","
		 "\"attempt\":0,\"step\":\"inventory\",\"deadline_us\":%lld}",
		 (long long)(now + T_LONG_US));
	d = parse(text);
	assert_int_equal(store_insert(s, "orders", d, NULL), ECOM_OK);
	json_decref(d);
	w.id = "later";
	assert_int_equal(runtime_exec(f->rt, "orders", "later", wake_fn, &w, NULL), ECOM_OK);
	assert_int_equal(oint(f, "later", "wake_at"), now + T_LONG_US);
	assert_int_equal(harness_count_for_order(f->h, EV_STEP_TIMEOUT, "later"), 0);

	snprintf(text, sizeof(text),
		 "{\"_id\":\"stuck\",\"version\":1,\"orderId\":\"stuck\","
		 "\"status\":\"PAYMENT_FAILED\","
		 "\"attempt\":0,\"step\":\"compensation\",\"stuck\":true,\"deadline_us\":1,"
		 "\"wake_at\":%lld}",
		 (long long)(now + T_LONG_US));
	d = parse(text);
	assert_int_equal(store_insert(s, "orders", d, NULL), ECOM_OK);
	json_decref(d);
	w.id = "stuck";
	assert_int_equal(runtime_exec(f->rt, "orders", "stuck", wake_fn, &w, NULL), ECOM_OK);
	assert_int_equal(oint(f, "stuck", "wake_at"), -999);

	d = parse("{\"_id\":\"done\",\"version\":1,\"orderId\":\"done\",\"status\":\"SHIPPED\","
		  "\"attempt\":0,\"wake_at\":5}");
	assert_int_equal(store_insert(s, "orders", d, NULL), ECOM_OK);
	json_decref(d);
	w.id = "done";
	assert_int_equal(runtime_exec(f->rt, "orders", "done", wake_fn, &w, NULL), ECOM_OK);
	assert_int_equal(oint(f, "done", "wake_at"), -999);
	assert_int_equal(harness_topic_count(f->h, event_type_name(EV_STEP_TIMEOUT)), 0);
}

/* An event the fold has no fact for (its own StepTimeout echoed back) is recorded in the
 * history and changes nothing else. */
static void test_order_fold_unknown_fact(void **state)
{
	struct fx *f = *state;
	struct envelope e;
	struct handle_call c = { f->o, &e };
	char s[64];
	json_t *d;

	create_id(f, "u");
	envelope_init(&e, harness_rng(f->h), T_WALL_MS, EV_STEP_TIMEOUT, "u",
		      parse("{\"orderId\":\"u\",\"step\":\"inventory\",\"attempt\":0}"), NULL,
		      NULL);
	assert_int_equal(runtime_exec(f->rt, "orders", "u", handle_fn, &c, NULL), ECOM_OK);
	envelope_deinit(&e);
	assert_string_equal(ostr(f, "u", "status", s), "CREATED");
	d = odoc(f, "u");
	assert_int_equal(json_array_size(json_object_get(d, "history")), 2);
	assert_int_equal(json_object_size(json_object_get(d, "progress")), 0);
	assert_int_equal(jsonx_int_or(d, "seq", -1), 0);
	json_decref(d);
}

/* ---- read model ---------------------------------------------------------------------------- */

static json_t *rdoc(struct fx *f, const char *coll, const char *id)
{
	json_t *d = NULL;

	if (store_get(harness_store(f->h, "read-model"), coll, id, &d, NULL) != ECOM_OK)
		return NULL;
	return d;
}

/* Publishes a dead letter with these envelope headers (JSON text) and payload. */
static void send_dead_letter(struct fx *f, const char *headers, const char *payload,
			     char event_id[160])
{
	struct envelope e;

	envelope_init(&e, harness_rng(f->h), T_WALL_MS, EV_DEAD_LETTER, "k", parse(payload), NULL,
		      NULL);
	json_decref(e.headers);
	e.headers = parse(headers);
	assert_int_equal(harness_publish(f->h, &e, "order.OrderCreated.v1.dlq"), ECOM_OK);
	if (event_id)
		snprintf(event_id, 160, "%s", e.event_id);
	envelope_deinit(&e);
}

#define DL_PAYLOAD(order) \
	"{\"originalType\":\"order.OrderCreated.v1\",\"originalEventId\":\"e1\"," \
	"\"orderId\":\"" order "\",\"error\":\"boom\",\"payload\":{\"x\":1}}"

static void test_rm_dead_letter_positions(void **state)
{
	struct fx *f = *state;
	char ev1[160], ev2[160], ev3[160], ev4[160], id[200], big[300], headers[512];
	json_t *d;

	/* Numbers for partition and offset are read as their text. */
	send_dead_letter(f,
			 "{\"x-original-topic\":\"t1\",\"x-original-partition\":3,"
			 "\"x-original-offset\":7,\"x-attempts\":4}",
			 DL_PAYLOAD("A"), NULL);
	/* A partition of the wrong type: no position, kept under the dead letter's eventId. */
	send_dead_letter(f,
			 "{\"x-original-topic\":\"t1\",\"x-original-partition\":true,"
			 "\"x-original-offset\":\"8\"}",
			 DL_PAYLOAD("A"), ev1);
	send_dead_letter(f,
			 "{\"x-original-topic\":\"\",\"x-original-partition\":\"1\","
			 "\"x-original-offset\":\"9\"}",
			 DL_PAYLOAD("B"), ev2);
	memset(big, 't', 200);
	big[200] = '\0';
	snprintf(headers, sizeof(headers),
		 "{\"x-original-topic\":\"%s\",\"x-original-partition\":\"1\","
		 "\"x-original-offset\":\"10\"}",
		 big);
	send_dead_letter(f, headers, DL_PAYLOAD("B"), ev3);
	/* The Node demo's: no headers, no payload (the original was not JSON), raw bytes. */
	send_dead_letter(f, "{}",
			 "{\"originalType\":\"payment.PaymentFailed.v1\","
			 "\"originalEventId\":\"e9\","
			 "\"error\":\"bad json\",\"raw\":\"{oops\"}",
			 ev4);
	quiet(f);

	d = rdoc(f, "dead_letters", "t1:3:7");
	assert_non_null(d);
	assert_int_equal(jsonx_int_or(d, "partition", -9), 3);
	assert_int_equal(jsonx_int_or(d, "offset", -9), 7);
	assert_int_equal(jsonx_int_or(d, "attempts", -9), 4);
	json_decref(d);
	snprintf(id, sizeof(id), "dlq:%s", ev1);
	d = rdoc(f, "dead_letters", id);
	assert_non_null(d);
	assert_int_equal(jsonx_int_or(d, "partition", -9), -1);
	assert_int_equal(jsonx_int_or(d, "offset", -9), 8);
	json_decref(d);
	snprintf(id, sizeof(id), "dlq:%s", ev2);
	d = rdoc(f, "dead_letters", id);
	assert_non_null(d);
	assert_string_equal(jsonx_str_or(d, "topic", "?"), "");
	json_decref(d);
	snprintf(id, sizeof(id), "dlq:%s", ev3);
	d = rdoc(f, "dead_letters", id);
	assert_non_null(d);
	assert_string_equal(jsonx_str_or(d, "topic", "?"), big);
	json_decref(d);
	snprintf(id, sizeof(id), "dlq:%s", ev4);
	d = rdoc(f, "dead_letters", id);
	assert_non_null(d);
	assert_string_equal(jsonx_str_or(d, "topic", "?"), "payment.PaymentFailed.v1");
	assert_true(json_is_null(json_object_get(d, "payload")));
	assert_string_equal(jsonx_str_or(d, "raw", "?"), "{oops");
	assert_null(json_object_get(d, "orderId"));
	assert_int_equal(jsonx_int_or(d, "attempts", -9), 1);
	assert_int_equal(jsonx_int_or(d, "partition", -9), -1);
	json_decref(d);
	assert_int_equal(mem_store_count(harness_store(f->h, "read-model"), "dead_letters"), 5);
}

/* Dead-letter queries: filters by topic and order, the limit after filtering, replay
 * records (bounded), and the refusals for ids no dead letter can have. */
static void test_rm_dead_letter_queries(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;
	json_t *out = NULL, *d;
	char id[160];

	for (int i = 0; i < 3; i++) {
		snprintf(id, sizeof(id),
			 "{\"x-original-topic\":\"T\",\"x-original-partition\":\"0\","
			 "\"x-original-offset\":\"%d\"}", i);
		send_dead_letter(f, id, i < 2 ? DL_PAYLOAD("A") : DL_PAYLOAD("B"), NULL);
	}
	send_dead_letter(f,
			 "{\"x-original-topic\":\"T\",\"x-original-partition\":\"0\","
			 "\"x-original-offset\":\"3\"}",
			 "{\"originalType\":\"t\",\"originalEventId\":\"e\",\"error\":\"x\"}",
			 NULL);
	quiet(f);
	assert_int_equal(read_model_dlq_list(f->rm, "T", "A", 0, &out, &err), ECOM_OK);
	assert_int_equal(json_array_size(out), 2);
	json_decref(out);
	assert_int_equal(read_model_dlq_list(f->rm, "T", "A", 1, &out, &err), ECOM_OK);
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(jsonx_str_or(json_array_get(out, 0), "orderId", ""), "A");
	json_decref(out);
	assert_int_equal(read_model_dlq_list(f->rm, NULL, "B", 0, &out, &err), ECOM_OK);
	assert_int_equal(json_array_size(out), 1);
	json_decref(out);

	assert_int_equal(read_model_dlq_get(f->rm, "", &out, &err), ECOM_NOT_FOUND);
	assert_string_equal(err.msg, "dead letter not found");
	assert_null(out);
	assert_int_equal(read_model_get(f->rm, NULL, &out, &err), ECOM_NOT_FOUND);
	assert_string_equal(err.msg, "order not found");
	assert_int_equal(read_model_dlq_mark_replayed(f->rm, NULL, "x", &err), ECOM_NOT_FOUND);
	assert_string_equal(err.msg, "dead letter not found");
	assert_int_equal(read_model_dlq_mark_replayed(f->rm, "", "x", &err), ECOM_NOT_FOUND);
	assert_int_equal(read_model_dlq_mark_replayed(f->rm, long_id, "x", &err), ECOM_NOT_FOUND);
	assert_int_equal(read_model_dlq_mark_replayed(f->rm, "T:0:99", "x", &err), ECOM_NOT_FOUND);
	assert_string_equal(err.msg, "dead letter T:0:99 not found");

	for (int i = 0; i < READ_MODEL_REPLAYS_MAX + 1; i++) {
		snprintf(id, sizeof(id), "re-%d", i);
		assert_int_equal(read_model_dlq_mark_replayed(f->rm, "T:0:0", id, &err), ECOM_OK);
	}
	assert_int_equal(read_model_dlq_get(f->rm, "T:0:0", &out, &err), ECOM_OK);
	assert_int_equal(jsonx_int_or(out, "replayed", -1), READ_MODEL_REPLAYS_MAX + 1);
	assert_int_equal(json_array_size(json_object_get(out, "replays")), READ_MODEL_REPLAYS_MAX);
	assert_string_equal(jsonx_str_or(json_array_get(json_object_get(out, "replays"), 0),
					 "eventId", ""),
			    "re-1");
	json_decref(out);

	/* A dead letter of an older layout, without replays: the record starts. */
	d = parse("{\"_id\":\"old:0:0\",\"version\":1,\"topic\":\"old\",\"replayed\":0}");
	assert_int_equal(store_insert(harness_store(f->h, "read-model"), "dead_letters", d, NULL),
			 ECOM_OK);
	json_decref(d);
	assert_int_equal(read_model_dlq_mark_replayed(f->rm, "old:0:0", NULL, &err), ECOM_OK);
	d = rdoc(f, "dead_letters", "old:0:0");
	assert_int_equal(json_array_size(json_object_get(d, "replays")), 1);
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(d, "replays"), 0),
						 "eventId")));
	json_decref(d);
}

static void send_rm(struct fx *f, enum event_type t, const char *id, const char *json)
{
	assert_int_equal(harness_publish_json(f->h, t, id, json, NULL), ECOM_OK);
}

/* READ_MODEL_TIMELINE_MAX entries; equal timestamps order by attempt then causal rank
 * (an unknown status sorts last). */
static void test_rm_timeline_bound_and_order(void **state)
{
	struct fx *f = *state;
	json_t *d, *tl;

	send_rm(f, EV_INVENTORY_RELEASED, "tl",
		"{\"orderId\":\"tl\",\"releasedItems\":[],\"attempt\":1}");
	send_rm(f, EV_ORDER_STATUS_CHANGED, "tl",
		"{\"orderId\":\"tl\",\"status\":\"WEIRD\",\"seq\":1,\"attempt\":0}");
	send_rm(f, EV_INVENTORY_FAILED, "tl",
		"{\"orderId\":\"tl\",\"reason\":\"x\",\"attempt\":0}");
	quiet(f);
	d = rdoc(f, "projections", "tl");
	tl = json_object_get(d, "timeline");
	assert_int_equal(json_array_size(tl), 3);
	assert_string_equal(jsonx_str_or(json_array_get(tl, 0), "type", ""),
			    "inventory.InventoryFailed.v1");
	assert_string_equal(jsonx_str_or(json_array_get(tl, 1), "type", ""),
			    "order.OrderStatusChanged.v1");
	assert_string_equal(jsonx_str_or(json_array_get(tl, 2), "type", ""),
			    "inventory.InventoryReleased.v1");
	assert_string_equal(jsonx_str_or(d, "status", ""), "WEIRD");
	json_decref(d);

	for (int i = 0; i < READ_MODEL_TIMELINE_MAX; i++)
		send_rm(f, EV_INVENTORY_RELEASED, "tl",
			"{\"orderId\":\"tl\",\"releasedItems\":[],\"attempt\":2}");
	quiet(f);
	d = rdoc(f, "projections", "tl");
	tl = json_object_get(d, "timeline");
	assert_int_equal(json_array_size(tl), READ_MODEL_TIMELINE_MAX);
	assert_int_equal(jsonx_int_or(d, "timeline_dropped", -1), 3);
	assert_int_equal(jsonx_int_or(json_object_get(json_array_get(tl, 0), "details"), "attempt",
				      -1),
			 2);
	json_decref(d);
}

/* A projection of an older layout: a timeline that is not an array is started afresh;
 * entries with unknown or missing types and unreadable times still sort. */
static void test_rm_older_layout(void **state)
{
	struct fx *f = *state;
	struct store *s = harness_store(f->h, "read-model");
	json_t *d, *tl;

	d = parse("{\"_id\":\"L1\",\"version\":1,\"orderId\":\"L1\",\"seq\":0,\"attempt\":0,"
		  "\"timeline\":{}}");
	assert_int_equal(store_insert(s, "projections", d, NULL), ECOM_OK);
	json_decref(d);
	d = parse("{\"_id\":\"L2\",\"version\":1,\"orderId\":\"L2\",\"seq\":0,\"attempt\":0,"
		  "\"timeline\":[{\"eventId\":\"x1\",\"type\":\"inventory.StockCommand.v1\","
		  "\"at\":\"garbage\",\"details\":{}},"
		  "{\"eventId\":\"x2\",\"type\":\"no.such.Type.v1\","
		  "\"at\":\"2027-01-01T00:00:00.000Z\"},"
		  "{\"eventId\":\"x3\",\"at\":\"2027-01-01T00:00:00.000Z\"},"
		  "{\"eventId\":\"x4\",\"type\":\"order.OrderStatusChanged.v1\","
		  "\"at\":\"2027-01-01T00:00:00.000Z\",\"details\":{}}]}");
	assert_int_equal(store_insert(s, "projections", d, NULL), ECOM_OK);
	json_decref(d);
	send_rm(f, EV_ORDER_CREATED, "L1",
		"{\"orderId\":\"L1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}");
	send_rm(f, EV_ORDER_CREATED, "L2",
		"{\"orderId\":\"L2\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}");
	quiet(f);
	d = rdoc(f, "projections", "L1");
	tl = json_object_get(d, "timeline");
	assert_true(json_is_array(tl));
	assert_int_equal(json_array_size(tl), 1);
	assert_string_equal(jsonx_str_or(d, "status", ""), "CREATED");
	json_decref(d);
	d = rdoc(f, "projections", "L2");
	tl = json_object_get(d, "timeline");
	assert_int_equal(json_array_size(tl), 5);
	/* 2026 sorts before the 2027 entries, after the one without a readable time. */
	assert_string_equal(jsonx_str_or(json_array_get(tl, 0), "eventId", ""), "x1");
	assert_string_equal(jsonx_str_or(json_array_get(tl, 1), "type", ""),
			    "order.OrderCreated.v1");
	json_decref(d);
}

static void test_rm_bug_last_event_inventory_failed(void **state)
{
	struct fx *f = fx_new(T_LONG_US, BUG_PROJECTION_LAST_EVENT);
	json_t *d;

	(void)state;
	send_rm(f, EV_ORDER_CREATED, "b1",
		"{\"orderId\":\"b1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}");
	quiet(f);
	send_rm(f, EV_INVENTORY_FAILED, "b1", "{\"orderId\":\"b1\",\"reason\":\"x\"}");
	quiet(f);
	d = rdoc(f, "projections", "b1");
	assert_string_equal(jsonx_str_or(d, "status", ""), "INVENTORY_FAILED");
	json_decref(d);
	fx_free(f);
}

static void test_rm_route_and_wire(void **state)
{
	struct fx *f = *state;
	const struct svc_def *d = read_model_svc_def();
	struct svc_route r;
	struct envelope e;
	char json[512];
	json_t *doc, *w;

	envelope_init(&e, harness_rng(f->h), T_WALL_MS, EV_PAYMENT_FAILED, "k",
		      parse("{\"reason\":\"x\"}"), NULL, NULL);
	assert_int_equal(d->route(f->rm, &e, &r), ECOM_NOT_FOUND);
	envelope_deinit(&e);
	snprintf(json, sizeof(json), "{\"orderId\":\"%s\",\"reason\":\"x\"}", long_id);
	envelope_init(&e, harness_rng(f->h), T_WALL_MS, EV_PAYMENT_FAILED, "k", parse(json), NULL,
		      NULL);
	assert_int_equal(d->route(f->rm, &e, &r), ECOM_NOT_FOUND);
	envelope_deinit(&e);

	doc = parse("{\"_id\":\"p\",\"version\":3,\"inbox\":[\"a\"],\"outbox\":[],\"outbox_n\":0,"
		    "\"last_event_id\":\"a\",\"status\":\"CREATED\",\"timeline\":[]}");
	w = read_model_projection_to_wire(doc);
	assert_null(json_object_get(w, "version"));
	assert_null(json_object_get(w, "inbox"));
	assert_null(json_object_get(w, "last_event_id"));
	assert_string_equal(jsonx_str_or(w, "_id", ""), "p");
	assert_string_equal(jsonx_str_or(w, "status", ""), "CREATED");
	assert_int_equal(json_integer_value(json_object_get(doc, "version")), 3); /* untouched */
	json_decref(w);
	json_decref(doc);
}

static void test_rm_queries_store_unavailable(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;
	json_t *out = NULL;

	fx_scripted(f, read_model_svc_def());
	f->xs.rc[XOP_GET] = f->xs.rc[XOP_FIND] = ECOM_UNAVAILABLE;
	f->xs.fail[XOP_GET] = 1;
	assert_int_equal(read_model_get(f->x_rm, "a", &out, &err), ECOM_UNAVAILABLE);
	assert_null(out);
	f->xs.fail[XOP_FIND] = 1;
	assert_int_equal(read_model_list(f->x_rm, NULL, 0, &out, &err), ECOM_UNAVAILABLE);
	assert_null(out);
	f->xs.fail[XOP_FIND] = 1;
	assert_int_equal(read_model_dlq_list(f->x_rm, "t", NULL, 5, &out, &err), ECOM_UNAVAILABLE);
	assert_null(out);
	f->xs.fail[XOP_FIND] = 1;
	assert_int_equal(read_model_stats(f->x_rm, &out, &err), ECOM_UNAVAILABLE);
	assert_null(out);
	f->xs.skip[XOP_FIND] = 1; /* projections counted, dead letters not */
	f->xs.fail[XOP_FIND] = 1;
	assert_int_equal(read_model_stats(f->x_rm, &out, &err), ECOM_UNAVAILABLE);
	assert_null(out);
	assert_int_equal(read_model_stats(f->x_rm, &out, &err), ECOM_OK);
	assert_int_equal(jsonx_int_or(out, "orders", -1), 0);
	assert_int_equal(jsonx_int_or(json_object_get(out, "byStatus"), "SHIPPED", -1), 0);
	json_decref(out);
}

struct seen {
	int calls;
	char event_id[64];
};

static void listener(void *arg, const json_t *projection, const json_t *entry)
{
	struct seen *s = arg;

	s->calls++;
	snprintf(s->event_id, sizeof(s->event_id), "%s", jsonx_str_or(entry, "eventId", ""));
	assert_non_null(json_object_get(projection, "timeline"));
	assert_null(json_object_get(projection, "last_event_id"));
}

static void test_rm_on_commit_edges(void **state)
{
	struct fx *f = *state;
	struct seen s = { 0 };
	json_t *with = parse("{\"_id\":\"x\",\"last_event_id\":\"e2\",\"timeline\":["
			     "{\"eventId\":\"e1\"},{\"eventId\":\"e2\"}]}"),
	       *gone = parse("{\"_id\":\"x\",\"last_event_id\":\"e9\",\"timeline\":["
			     "{\"eventId\":\"e1\"}]}"),
	       *none = parse("{\"_id\":\"x\",\"timeline\":[{\"eventId\":\"e1\"}]}");

	read_model_on_commit(f->rm, "projections", with); /* no listener yet */
	read_model_set_listener(f->rm, listener, &s);
	read_model_on_commit(f->rm, "dead_letters", with);
	read_model_on_commit(f->rm, "projections", none);
	read_model_on_commit(f->rm, "projections", gone);
	assert_int_equal(s.calls, 0);
	read_model_on_commit(f->rm, "projections", with);
	assert_int_equal(s.calls, 1);
	assert_string_equal(s.event_id, "e2");
	read_model_set_listener(f->rm, NULL, NULL);
	read_model_on_commit(f->rm, "projections", with);
	assert_int_equal(s.calls, 1);
	json_decref(with);
	json_decref(gone);
	json_decref(none);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_route_and_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_id_characters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_body_shapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_retry_after_price_change, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_order_store_unavailable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_admin_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_admin_running_and_pending, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_order_retry_attempt_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_compensate_stuck, setup_deadline,
						teardown),
		cmocka_unit_test_setup_teardown(test_order_admin_rerun_after_conflict, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_order_fold_attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_history_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_older_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_wake_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_fold_unknown_fact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_dead_letter_positions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_dead_letter_queries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_timeline_bound_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_older_layout, setup, teardown),
		cmocka_unit_test(test_rm_bug_last_event_inventory_failed),
		cmocka_unit_test_setup_teardown(test_rm_route_and_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_queries_store_unavailable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rm_on_commit_edges, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
