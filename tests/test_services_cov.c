/* test_services_cov.c — the inventory, payment and shipping services at their edges: every
 * route refusal, handler refusals that dead-letter (a type the service does not handle, a
 * malformed payload, an adapter answering outside its contract, too many attempts), stale
 * and superseded attempts, fences arriving in every phase, a stock document of an older
 * layout, and stock seeding over a failing store. Each test asserts the events emitted (or
 * not), the state committed (or that nothing was written), and the refusal's reason.
 * Handlers run either through the harness (delivery, routing, dead letters) or, where a test
 * must reach one exact state, through runtime_exec on the service's own runtime: the same
 * load / decide / compare-and-swap / publish path as a delivered event, minus the inbox. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "event/jsonx.h"
#include "services/inventory/inventory.h"
#include "services/payment/payment.h"
#include "services/shipping/shipping.h"
#include "sim/mem_store.h"
#include "support/harness.h"
#include "support/xstore.h"

#define QUIET_US (120LL * 1000 * 1000)
#define T_WALL_MS 1767225600000LL

/* ---- scripted adapters: answer whatever the test says ----------------------------------- */

struct fake_gateway {
	struct gateway base;
	int charge_rc, refund_rc;
	char reason[ADAPTER_REASON_MAX];
	int charges, refunds;
};

static int fake_charge(struct gateway *g, const char *key, const char *order_id, int64_t cents,
		       char auth_id[ADAPTER_ID_MAX], char reason[ADAPTER_REASON_MAX])
{
	struct fake_gateway *f = (struct fake_gateway *)g;

	(void)order_id;
	(void)cents;
	f->charges++;
	snprintf(reason, ADAPTER_REASON_MAX, "%s", f->reason);
	if (f->charge_rc == ECOM_OK)
		snprintf(auth_id, ADAPTER_ID_MAX, "au-%.40s", key);
	return f->charge_rc;
}

static int fake_refund(struct gateway *g, const char *key, const char *order_id,
		       const char *auth_id, int64_t cents, char refund_id[ADAPTER_ID_MAX],
		       char reason[ADAPTER_REASON_MAX])
{
	struct fake_gateway *f = (struct fake_gateway *)g;

	(void)order_id;
	(void)auth_id;
	(void)cents;
	f->refunds++;
	snprintf(reason, ADAPTER_REASON_MAX, "%s", f->reason);
	if (f->refund_rc == ECOM_OK)
		snprintf(refund_id, ADAPTER_ID_MAX, "rf-%.40s", key);
	return f->refund_rc;
}

static const struct gateway_ops fake_gateway_ops = {
	.name = "fake",
	.charge = fake_charge,
	.refund = fake_refund,
};

struct fake_carrier {
	struct carrier base;
	int rc;
	char reason[ADAPTER_REASON_MAX];
	int calls;
};

static int fake_book(struct carrier *c, const char *key, const char *order_id,
		     char name[ADAPTER_ID_MAX], char tracking[ADAPTER_ID_MAX],
		     char reason[ADAPTER_REASON_MAX])
{
	struct fake_carrier *f = (struct fake_carrier *)c;

	(void)order_id;
	f->calls++;
	snprintf(reason, ADAPTER_REASON_MAX, "%s", f->reason);
	if (f->rc == ECOM_OK) {
		snprintf(name, ADAPTER_ID_MAX, "UPS");
		snprintf(tracking, ADAPTER_ID_MAX, "tr-%.40s", key);
	}
	return f->rc;
}

static const struct carrier_ops fake_carrier_ops = {
	.name = "fake",
	.book = fake_book,
};

/* ---- the fixture ------------------------------------------------------------------------ */

struct fx {
	struct harness *h;
	struct catalog cat; /* SKU-1..SKU-3 at 10.00, 10 units each (seeded) */
	struct inventory_service *inv;
	struct payment_service *pay;
	struct shipping_service *ship;
	struct fake_gateway gw;
	struct fake_carrier car;
	struct runtime *inv_rt, *pay_rt, *ship_rt;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct inventory_config ic;
	struct payment_config pc;
	struct shipping_config sc;

	f->h = harness_new(23, 4);
	catalog_init_uniform(&f->cat, 3, 1000, 10);
	ic.catalog = &f->cat;
	f->inv = inventory_service_new(&ic);
	assert_int_equal(inventory_seed_stock(harness_store(f->h, "inventory"), &f->cat, NULL),
			 ECOM_OK);
	f->gw.base.ops = &fake_gateway_ops;
	pc.gateway = &f->gw.base;
	f->pay = payment_service_new(&pc);
	f->car.base.ops = &fake_carrier_ops;
	sc.carrier = &f->car.base;
	f->ship = shipping_service_new(&sc);
	f->inv_rt = harness_add(f->h, inventory_svc_def(), f->inv, "inventory#1", NULL);
	f->pay_rt = harness_add(f->h, payment_svc_def(), f->pay, "payment#1", NULL);
	f->ship_rt = harness_add(f->h, shipping_svc_def(), f->ship, "shipping#1", NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	harness_free(f->h);
	inventory_service_free(f->inv);
	payment_service_free(f->pay);
	shipping_service_free(f->ship);
	catalog_deinit(&f->cat);
	free(f);
	return 0;
}

static void quiet(struct fx *f)
{
	harness_run_until_quiet(f->h, QUIET_US);
}

static void ev_build(struct fx *f, struct envelope *e, enum event_type t, const char *key,
		     const char *json)
{
	json_t *p = json_loads(json, 0, NULL);

	assert_non_null(p);
	envelope_init(e, harness_rng(f->h), T_WALL_MS, t, key, p, NULL, NULL);
}

/* svc_def->route on an event of type t with this payload. */
static int route(struct fx *f, const struct svc_def *def, void *svc, enum event_type t,
		 const char *json, struct svc_route *out)
{
	struct envelope e;
	int rc;

	memset(out, 0, sizeof(*out));
	ev_build(f, &e, t, "k", json);
	rc = def->route(svc, &e, out);
	envelope_deinit(&e);
	return rc;
}

struct direct_call {
	const struct svc_def *def;
	void *svc;
	const struct envelope *ev;
};

static int direct_fn(void *arg, struct svc_ctx *ctx, json_t **state)
{
	struct direct_call *c = arg;

	return c->def->handle(c->svc, ctx, state, c->ev);
}

/* Runs the service's handler for one event on aggregate coll/id and commits its decision. */
static int direct(struct fx *f, struct runtime *rt, const char *coll, const char *id,
		  enum event_type t, const char *json, struct ecom_err *err)
{
	const struct svc_def *def = runtime_def(rt);
	void *svc = def == inventory_svc_def() ? (void *)f->inv
		    : def == payment_svc_def() ? (void *)f->pay
					       : (void *)f->ship;
	struct envelope e;
	struct direct_call c = { def, svc, &e };
	struct ecom_err local;
	int rc;

	if (!err)
		err = &local;
	ecom_err_clear(err);
	ev_build(f, &e, t, id, json);
	rc = runtime_exec(rt, coll, id, direct_fn, &c, err);
	envelope_deinit(&e);
	return rc;
}

static void direct_ok(struct fx *f, struct runtime *rt, const char *coll, const char *id,
		      enum event_type t, const char *json)
{
	struct ecom_err err;
	int rc = direct(f, rt, coll, id, t, json, &err);

	if (rc != ECOM_OK)
		fail_msg("%s on %s/%s: %s (%s)", event_type_name(t), coll, id, ecom_rc_name(rc),
			 err.msg);
}

/* The stored document (new reference) or NULL. */
static json_t *doc(struct fx *f, const char *service, const char *coll, const char *id)
{
	json_t *d = NULL;

	if (store_get(harness_store(f->h, service), coll, id, &d, NULL) != ECOM_OK)
		return NULL;
	return d;
}

static int64_t doc_version(struct fx *f, const char *service, const char *coll, const char *id)
{
	json_t *d = doc(f, service, coll, id);
	int64_t v = jsonx_int_or(d, "version", -1);

	json_decref(d);
	return v;
}

static json_t *nth(struct fx *f, enum event_type type, const char *order, int n)
{
	return harness_nth_payload(f->h, type, order, n);
}

static int count(struct fx *f, enum event_type type, const char *order)
{
	return harness_count_for_order(f->h, type, order);
}

/* Stock commands with this op for order (and sku, if non-NULL), and this attempt (>= 0). */
static int count_cmds(struct fx *f, const char *order, const char *sku, const char *op,
		      int64_t attempt)
{
	int n = 0;

	for (int i = 0;; i++) {
		json_t *p = nth(f, EV_STOCK_COMMAND, order, i);

		if (!p)
			break;
		if (strcmp(jsonx_str_or(p, "op", ""), op) == 0 &&
		    (!sku || strcmp(jsonx_str_or(p, "sku", ""), sku) == 0) &&
		    (attempt < 0 || jsonx_int_or(p, "attempt", -1) == attempt))
			n++;
		json_decref(p);
	}
	return n;
}

/* The state of one reservation line ("?" when absent). */
static const char *line_st(struct fx *f, const char *order, const char *sku, char out[32])
{
	json_t *d = doc(f, "inventory", INVENTORY_COLL_RESERVATIONS, order), *l;
	size_t i;

	snprintf(out, 32, "?");
	json_array_foreach(json_object_get(d, "lines"), i, l) {
		if (strcmp(jsonx_str_or(l, "sku", ""), sku) == 0)
			snprintf(out, 32, "%s", jsonx_str_or(l, "st", "?"));
	}
	json_decref(d);
	return out;
}

static void assert_res_field(struct fx *f, const char *order, const char *key, const char *want)
{
	json_t *d = doc(f, "inventory", INVENTORY_COLL_RESERVATIONS, order);

	assert_non_null(d);
	assert_string_equal(jsonx_str_or(d, key, "(absent)"), want);
	json_decref(d);
}

/* The first message of a DLQ topic holding n, parsed (caller deinits). */
static void dlq_first(struct fx *f, const char *topic, int64_t n, struct envelope *e)
{
	char dlq[160];

	event_dlq_topic(topic, dlq, sizeof(dlq));
	assert_int_equal(harness_topic_count(f->h, dlq), n);
	assert_int_equal(harness_topic_get(f->h, dlq, 0, e), ECOM_OK);
	assert_int_equal(e->type, EV_DEAD_LETTER);
}

static const char long_id[] =
	"o-0123456789012345678901234567890123456789012345678901234567890123456789"
	"0123456789012345678901234567890123456789012345678901234567890123456789"
	"0123456789012345678901234567890123456789"; /* >= SVC_ID_MAX */

#define RES INVENTORY_COLL_RESERVATIONS
#define O_TWO(id) \
	"{\"orderId\":\"" id "\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}," \
	"{\"sku\":\"SKU-2\",\"qty\":1}],\"total\":20}"
#define RESULT(id, sku, op, ok, attempt, extra) \
	"{\"orderId\":\"" id "\",\"sku\":\"" sku "\",\"qty\":1,\"op\":\"" op "\",\"ok\":" ok \
	",\"attempt\":" attempt extra "}"

/* ---- inventory ------------------------------------------------------------------------ */

static void test_inventory_route_refusals(void **state)
{
	struct fx *f = *state;
	const struct svc_def *d = inventory_svc_def();
	struct svc_route r;
	char json[512];

	/* A stock command names its SKU; without one no aggregate could ever take it. */
	assert_int_equal(route(f, d, f->inv, EV_STOCK_COMMAND,
			       "{\"orderId\":\"o\",\"qty\":1,\"op\":\"hold\"}", &r),
			 ECOM_INVALID);
	assert_int_equal(route(f, d, f->inv, EV_STOCK_COMMAND,
			       "{\"orderId\":\"o\",\"sku\":\"\",\"qty\":1,\"op\":\"hold\"}", &r),
			 ECOM_INVALID);
	snprintf(json, sizeof(json), "{\"orderId\":\"%s\",\"items\":[],\"total\":0}", long_id);
	assert_int_equal(route(f, d, f->inv, EV_ORDER_CREATED, json, &r), ECOM_INVALID);
	/* Not ours: the other action, another service's step, a type we do not consume. */
	assert_int_equal(route(f, d, f->inv, EV_COMPENSATION_REQUESTED,
			       "{\"orderId\":\"o\",\"action\":\"refundPayment\"}", &r),
			 ECOM_NOT_FOUND);
	assert_int_equal(route(f, d, f->inv, EV_STEP_TIMEOUT,
			       "{\"orderId\":\"o\",\"step\":\"payment\",\"attempt\":0}", &r),
			 ECOM_NOT_FOUND);
	assert_int_equal(route(f, d, f->inv, EV_PAYMENT_AUTHORIZED,
			       "{\"orderId\":\"o\",\"amount\":1,\"authId\":\"a\"}", &r),
			 ECOM_NOT_FOUND);
	assert_int_equal(route(f, d, f->inv, EV_COMPENSATION_REQUESTED,
			       "{\"orderId\":\"o7\",\"action\":\"releaseInventory\"}", &r),
			 ECOM_OK);
	assert_string_equal(r.collection, RES);
	assert_string_equal(r.id, "o7");
	assert_int_equal(route(f, d, f->inv, EV_STOCK_COMMAND,
			       "{\"orderId\":\"o\",\"sku\":\"SKU-2\",\"qty\":1,\"op\":\"hold\"}",
			       &r),
			 ECOM_OK);
	assert_string_equal(r.collection, INVENTORY_COLL_STOCK);
	assert_string_equal(r.id, "SKU-2");
}

/* An orderId too long for any aggregate id passes the schema but cannot be routed: the
 * runtime dead-letters it with the reason (inventory's and payment's copy alike), and
 * nothing is reserved or charged. */
static void test_inventory_unroutable_event_dead_lettered(void **state)
{
	struct fx *f = *state;
	struct envelope e;
	char json[512];

	snprintf(json, sizeof(json),
		 "{\"orderId\":\"%s\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}",
		 long_id);
	assert_int_equal(harness_publish_json(f->h, EV_ORDER_CREATED, "k", json, NULL), ECOM_OK);
	quiet(f);
	dlq_first(f, event_type_name(EV_ORDER_CREATED), 2, &e);
	assert_string_equal(jsonx_str_or(e.payload, "error", ""),
			    "cannot route order.OrderCreated.v1: INVALID");
	assert_string_equal(jsonx_str_or(e.payload, "orderId", ""), long_id);
	envelope_deinit(&e);
	assert_int_equal(mem_store_count(harness_store(f->h, "inventory"), RES), 0);
	assert_int_equal(harness_topic_count(f->h, event_type_name(EV_STOCK_COMMAND)), 0);
	assert_int_equal(mem_store_count(harness_store(f->h, "payment"), PAYMENT_COLL), 0);
	assert_int_equal(f->gw.charges, 0);
}

/* Payloads no schema-valid event has still get a named refusal from the handler, and the
 * refusal writes nothing. */
static void test_inventory_handler_refusals(void **state)
{
	struct fx *f = *state;
	struct store *s = harness_store(f->h, "inventory");
	struct ecom_err err;
	size_t cap = 64 + 40 * 1001, n;
	char *big = malloc(cap);

	assert_int_equal(direct(f, f->inv_rt, RES, "o1", EV_PAYMENT_AUTHORIZED,
				"{\"orderId\":\"o1\",\"amount\":1,\"authId\":\"a\"}", &err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "inventory does not handle payment.PaymentAuthorized.v1");
	assert_int_equal(direct(f, f->inv_rt, RES, "o1", EV_ORDER_CREATED,
				"{\"orderId\":\"o1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],"
				"\"total\":\"ten\"}",
				&err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "payload.total: bad amount");
	assert_int_equal(direct(f, f->inv_rt, RES, "o1", EV_ORDER_CREATED,
				"{\"orderId\":\"o1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1},"
				"{\"sku\":\"SKU-2\",\"qty\":0}],\"total\":10}",
				&err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "items[1]: bad sku or qty");
	assert_int_equal(direct(f, f->inv_rt, RES, "o1", EV_ORDER_CREATED,
				"{\"orderId\":\"o1\",\"items\":[{\"qty\":1}],\"total\":10}", &err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "items[0]: bad sku or qty");

	/* INVENTORY_LINES_MAX distinct SKUs at most. */
	n = (size_t)snprintf(big, cap, "{\"orderId\":\"o1\",\"total\":0,\"items\":[");
	for (int i = 0; i <= INVENTORY_LINES_MAX; i++)
		n += (size_t)snprintf(big + n, cap - n, "%s{\"sku\":\"S%04d\",\"qty\":1}",
				      i ? "," : "", i);
	snprintf(big + n, cap - n, "]}");
	assert_int_equal(direct(f, f->inv_rt, RES, "o1", EV_ORDER_CREATED, big, &err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "more than 1000 distinct SKUs");
	free(big);

	assert_int_equal(direct(f, f->inv_rt, INVENTORY_COLL_STOCK, "SKU-X", EV_STOCK_COMMAND,
				"{\"orderId\":\"o1\",\"sku\":\"SKU-X\",\"qty\":1,\"op\":\"steal\"}",
				&err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "payload.op: unknown stock op");

	/* Nothing half-written, nothing emitted. */
	assert_int_equal(mem_store_count(s, RES), 0);
	assert_null(doc(f, "inventory", INVENTORY_COLL_STOCK, "SKU-X"));
	assert_int_equal(harness_topic_count(f->h, event_type_name(EV_STOCK_COMMAND)), 0);
	assert_int_equal(harness_topic_count(f->h, event_type_name(EV_STOCK_RESULT)), 0);
}

/* Without a catalog an unknown SKU has no units (its holds are refused), and a stock
 * document written without "holds" (an older layout) gets them on its first command. */
static void test_stock_without_catalog_and_old_layout(void **state)
{
	struct fx *f = *state;
	struct inventory_service *bare = inventory_service_new(NULL);
	struct runtime *rt;
	struct envelope e;
	json_t *old = json_pack("{s:s, s:i, s:s, s:i, s:i, s:i, s:i}", "_id", "SKU-9", "version",
				1, "sku", "SKU-9", "initial", 5, "available", 5, "held", 0,
				"shipped", 0),
	       *d, *p;
	struct direct_call c = { inventory_svc_def(), bare, &e };

	rt = harness_add(f->h, inventory_svc_def(), bare, "inventory#bare", NULL);
	ev_build(f, &e, EV_STOCK_COMMAND, "SKU-77",
		 "{\"orderId\":\"o1\",\"sku\":\"SKU-77\",\"qty\":1,\"op\":\"hold\",\"attempt\":0}");
	assert_int_equal(runtime_exec(rt, INVENTORY_COLL_STOCK, "SKU-77", direct_fn, &c, NULL),
			 ECOM_OK);
	envelope_deinit(&e);
	d = doc(f, "inventory", INVENTORY_COLL_STOCK, "SKU-77");
	assert_int_equal(jsonx_int_or(d, "initial", -1), 0);
	assert_int_equal(jsonx_int_or(d, "available", -1), 0);
	json_decref(d);
	p = nth(f, EV_STOCK_RESULT, "o1", 0);
	assert_false(jsonx_bool_or(p, "ok", 1));
	assert_string_equal(jsonx_str_or(p, "reason", ""), "out_of_stock");
	json_decref(p);

	assert_int_equal(store_insert(harness_store(f->h, "inventory"), INVENTORY_COLL_STOCK, old,
				      NULL),
			 ECOM_OK);
	json_decref(old);
	ev_build(f, &e, EV_STOCK_COMMAND, "SKU-9",
		 "{\"orderId\":\"o2\",\"sku\":\"SKU-9\",\"qty\":2,\"op\":\"hold\",\"attempt\":0}");
	assert_int_equal(runtime_exec(rt, INVENTORY_COLL_STOCK, "SKU-9", direct_fn, &c, NULL),
			 ECOM_OK);
	envelope_deinit(&e);
	d = doc(f, "inventory", INVENTORY_COLL_STOCK, "SKU-9");
	assert_int_equal(jsonx_int_or(d, "available", -1), 3);
	assert_int_equal(jsonx_int_or(d, "held", -1), 2);
	assert_int_equal(jsonx_int_or(json_object_get(json_object_get(d, "holds"), "o2"), "qty",
				      -1),
			 2);
	json_decref(d);
	p = nth(f, EV_STOCK_RESULT, "o2", 0);
	assert_true(jsonx_bool_or(p, "ok", 0));
	json_decref(p);
	inventory_service_free(bare);
}

/* Results the reservation does not expect: another SKU, an unknown order, a newer attempt's
 * hold, a refusal with an empty reason, a second refusal, a newer attempt's release. */
static void test_reservation_unexpected_results(void **state)
{
	struct fx *f = *state;
	char st[32];
	int64_t v;
	json_t *p;

	direct_ok(f, f->inv_rt, RES, "o1", EV_ORDER_CREATED, O_TWO("o1"));
	assert_res_field(f, "o1", "phase", "reserving");
	assert_int_equal(count_cmds(f, "o1", NULL, "hold", 0), 2);
	v = doc_version(f, "inventory", RES, "o1");

	/* A SKU the order does not have: nothing to record, nothing written. */
	direct_ok(f, f->inv_rt, RES, "o1", EV_STOCK_RESULT,
		  RESULT("o1", "SKU-3", "hold", "true", "0", ""));
	assert_int_equal(doc_version(f, "inventory", RES, "o1"), v);
	/* A result for a reservation that never existed creates none. */
	direct_ok(f, f->inv_rt, RES, "ghost", EV_STOCK_RESULT,
		  RESULT("ghost", "SKU-1", "hold", "true", "0", ""));
	assert_null(doc(f, "inventory", RES, "ghost"));
	/* A hold of a newer attempt than ours: not ours to take or to release. */
	direct_ok(f, f->inv_rt, RES, "o1", EV_STOCK_RESULT,
		  RESULT("o1", "SKU-1", "hold", "true", "1", ""));
	assert_string_equal(line_st(f, "o1", "SKU-1", st), "pending");
	assert_int_equal(count_cmds(f, "o1", NULL, "release", -1), 0);
	/* A refusal that names no reason. */
	direct_ok(f, f->inv_rt, RES, "o1", EV_STOCK_RESULT,
		  RESULT("o1", "SKU-2", "hold", "false", "0", ",\"reason\":\"\""));
	assert_string_equal(line_st(f, "o1", "SKU-2", st), "refused");
	assert_res_field(f, "o1", "fail_reason", "");
	/* A second refusal of a line already refused changes nothing. */
	direct_ok(f, f->inv_rt, RES, "o1", EV_STOCK_RESULT,
		  RESULT("o1", "SKU-2", "hold", "false", "0", ",\"reason\":\"later\""));
	assert_res_field(f, "o1", "fail_reason", "");
	/* The last hold answers ok: the reservation fails, naming a reason even though the
	 * refusal gave none, and releases what it held before saying so. */
	direct_ok(f, f->inv_rt, RES, "o1", EV_STOCK_RESULT,
		  RESULT("o1", "SKU-1", "hold", "true", "0", ""));
	assert_res_field(f, "o1", "phase", "failed");
	assert_res_field(f, "o1", "fail_reason", "out_of_stock");
	assert_string_equal(line_st(f, "o1", "SKU-1", st), "releasing");
	assert_int_equal(count_cmds(f, "o1", "SKU-1", "release", 0), 1);
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "o1"), 0);
	/* A newer attempt's release answer is not the one awaited. */
	direct_ok(f, f->inv_rt, RES, "o1", EV_STOCK_RESULT,
		  RESULT("o1", "SKU-1", "release", "true", "1", ""));
	assert_string_equal(line_st(f, "o1", "SKU-1", st), "releasing");
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "o1"), 0);
	direct_ok(f, f->inv_rt, RES, "o1", EV_STOCK_RESULT,
		  RESULT("o1", "SKU-1", "release", "true", "0", ""));
	assert_string_equal(line_st(f, "o1", "SKU-1", st), "released");
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "o1"), 1);
	p = nth(f, EV_INVENTORY_FAILED, "o1", 0);
	assert_string_equal(jsonx_str_or(p, "reason", ""), "out_of_stock");
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 0);
	json_decref(p);
}

/* Deadlines in every phase: an old attempt's (ignored), one for an attempt never heard of
 * (fenced before it arrives, later holds of the old attempt released), and one while the
 * releases of a failed reservation are still in flight (answered at once, once). */
static void test_reservation_fences(void **state)
{
	struct fx *f = *state;
	json_t *p;
	char st[32];

	/* The retry overtook the order: attempt 1 awaits its items; attempt 0's deadline
	 * is history. */
	direct_ok(f, f->inv_rt, RES, "a", EV_RETRY_REQUESTED,
		  "{\"orderId\":\"a\",\"step\":\"inventory\",\"attempt\":1}");
	direct_ok(f, f->inv_rt, RES, "a", EV_STEP_TIMEOUT,
		  "{\"orderId\":\"a\",\"step\":\"inventory\",\"attempt\":0}");
	assert_res_field(f, "a", "phase", "awaiting_order");
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "a"), 0);

	/* Reserving attempt 0, then the deadline of attempt 1: fenced at once. */
	direct_ok(f, f->inv_rt, RES, "b", EV_ORDER_CREATED, O_TWO("b"));
	direct_ok(f, f->inv_rt, RES, "b", EV_STEP_TIMEOUT,
		  "{\"orderId\":\"b\",\"step\":\"inventory\",\"attempt\":1}");
	assert_res_field(f, "b", "phase", "failed");
	assert_res_field(f, "b", "fail_reason", "deadline");
	assert_string_equal(line_st(f, "b", "SKU-1", st), "none");
	p = nth(f, EV_INVENTORY_FAILED, "b", 0);
	assert_non_null(p);
	assert_string_equal(jsonx_str_or(p, "reason", ""), "deadline");
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 1);
	json_decref(p);
	/* Attempt 0's hold answers late: nobody wants it, so it is released (untracked). */
	direct_ok(f, f->inv_rt, RES, "b", EV_STOCK_RESULT,
		  RESULT("b", "SKU-1", "hold", "true", "0", ""));
	assert_int_equal(count_cmds(f, "b", "SKU-1", "release", 0), 1);
	assert_string_equal(line_st(f, "b", "SKU-1", st), "none");
	/* ... and attempt 0's refusal needs nothing. */
	direct_ok(f, f->inv_rt, RES, "b", EV_STOCK_RESULT,
		  RESULT("b", "SKU-2", "hold", "false", "0", ",\"reason\":\"out_of_stock\""));
	assert_int_equal(count_cmds(f, "b", "SKU-2", "release", -1), 0);
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "b"), 1);

	/* Out of stock on one line, the other held and being released: the deadline answers
	 * InventoryFailed now; the release answer later adds no second one. */
	direct_ok(f, f->inv_rt, RES, "c", EV_ORDER_CREATED, O_TWO("c"));
	direct_ok(f, f->inv_rt, RES, "c", EV_STOCK_RESULT,
		  RESULT("c", "SKU-1", "hold", "false", "0", ",\"reason\":\"out_of_stock\""));
	direct_ok(f, f->inv_rt, RES, "c", EV_STOCK_RESULT,
		  RESULT("c", "SKU-2", "hold", "true", "0", ""));
	assert_string_equal(line_st(f, "c", "SKU-2", st), "releasing");
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "c"), 0);
	direct_ok(f, f->inv_rt, RES, "c", EV_STEP_TIMEOUT,
		  "{\"orderId\":\"c\",\"step\":\"inventory\",\"attempt\":0}");
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "c"), 1);
	p = nth(f, EV_INVENTORY_FAILED, "c", 0);
	assert_string_equal(jsonx_str_or(p, "reason", ""), "out_of_stock");
	json_decref(p);
	direct_ok(f, f->inv_rt, RES, "c", EV_STOCK_RESULT,
		  RESULT("c", "SKU-2", "release", "true", "0", ""));
	assert_string_equal(line_st(f, "c", "SKU-2", st), "released");
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "c"), 1);
	/* A second deadline for the same attempt: answered already. */
	direct_ok(f, f->inv_rt, RES, "c", EV_STEP_TIMEOUT,
		  "{\"orderId\":\"c\",\"step\":\"inventory\",\"attempt\":0}");
	assert_int_equal(count(f, EV_INVENTORY_FAILED, "c"), 1);
}

/* Saga events that find nothing to do: for an order never reserved here, for an attempt
 * already superseded, a shipment of a reservation that is not reserved. */
static void test_reservation_events_without_effect(void **state)
{
	struct fx *f = *state;
	int64_t v;

	direct_ok(f, f->inv_rt, RES, "n", EV_PAYMENT_FAILED,
		  "{\"orderId\":\"n\",\"reason\":\"x\",\"attempt\":0}");
	direct_ok(f, f->inv_rt, RES, "n", EV_ORDER_SHIPPED,
		  "{\"orderId\":\"n\",\"carrier\":\"c\",\"trackingId\":\"t\",\"attempt\":0}");
	assert_null(doc(f, "inventory", RES, "n"));

	direct_ok(f, f->inv_rt, RES, "o", EV_ORDER_CREATED, O_TWO("o"));
	v = doc_version(f, "inventory", RES, "o");
	direct_ok(f, f->inv_rt, RES, "o", EV_PAYMENT_FAILED,
		  "{\"orderId\":\"o\",\"reason\":\"x\",\"attempt\":1}");
	direct_ok(f, f->inv_rt, RES, "o", EV_SHIPPING_FAILED,
		  "{\"orderId\":\"o\",\"reason\":\"x\",\"attempt\":2}");
	/* Shipped while still reserving (it cannot be, so it is not acted upon). */
	direct_ok(f, f->inv_rt, RES, "o", EV_ORDER_SHIPPED,
		  "{\"orderId\":\"o\",\"carrier\":\"c\",\"trackingId\":\"t\",\"attempt\":0}");
	direct_ok(f, f->inv_rt, RES, "o", EV_ORDER_SHIPPED,
		  "{\"orderId\":\"o\",\"carrier\":\"c\",\"trackingId\":\"t\",\"attempt\":3}");
	assert_int_equal(doc_version(f, "inventory", RES, "o"), v);
	assert_res_field(f, "o", "phase", "reserving");
	assert_int_equal(count_cmds(f, "o", NULL, "release", -1), 0);
	assert_int_equal(count_cmds(f, "o", NULL, "commit", -1), 0);
	assert_int_equal(count(f, EV_INVENTORY_RELEASED, "o"), 0);
}

/* A compensation before the order (nothing held: answered at once), then a retry before
 * the items are known (waits for them), then the order: reserved under the retry's attempt. */
static void test_reservation_retry_before_items(void **state)
{
	struct fx *f = *state;
	json_t *p;

	direct_ok(f, f->inv_rt, RES, "r", EV_COMPENSATION_REQUESTED,
		  "{\"orderId\":\"r\",\"action\":\"releaseInventory\",\"attempt\":0}");
	assert_res_field(f, "r", "phase", "released");
	assert_int_equal(count(f, EV_INVENTORY_RELEASED, "r"), 1);
	direct_ok(f, f->inv_rt, RES, "r", EV_RETRY_REQUESTED,
		  "{\"orderId\":\"r\",\"step\":\"inventory\",\"attempt\":1}");
	assert_res_field(f, "r", "phase", "awaiting_order");
	assert_int_equal(count_cmds(f, "r", NULL, "hold", -1), 0);
	direct_ok(f, f->inv_rt, RES, "r", EV_ORDER_CREATED, O_TWO("r"));
	assert_res_field(f, "r", "phase", "reserving");
	assert_int_equal(count_cmds(f, "r", NULL, "hold", 1), 2);
	assert_int_equal(count_cmds(f, "r", NULL, "hold", 0), 0);
	/* The whole saga on the real stock: reserved for attempt 1. */
	quiet(f);
	p = nth(f, EV_INVENTORY_RESERVED, "r", 0);
	assert_non_null(p);
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 1);
	json_decref(p);
}

static void test_seed_over_failing_store(void **state)
{
	struct xstore x;
	struct catalog cat;
	struct ecom_err err;

	(void)state;
	catalog_init_uniform(&cat, 3, 100, 4);

	/* Always unavailable: a bounded number of tries, then the store's error. */
	xstore_init(&x, mem_store_new());
	x.fail[XOP_INSERT] = 1000;
	x.rc[XOP_INSERT] = ECOM_UNAVAILABLE;
	assert_int_equal(inventory_seed_stock(&x.base, &cat, &err), ECOM_UNAVAILABLE);
	assert_int_equal(err.rc, ECOM_UNAVAILABLE);
	assert_int_equal(x.calls[XOP_INSERT], 8); /* INVENTORY_SEED_RETRIES_MAX, first SKU */
	assert_int_equal(mem_store_count(x.inner, INVENTORY_COLL_STOCK), 0);
	store_destroy(&x.base);

	/* Ambiguous twice (applied): the retry's CONFLICT is our own insert. */
	xstore_init(&x, mem_store_new());
	x.fail[XOP_INSERT] = 2;
	x.rc[XOP_INSERT] = ECOM_AMBIGUOUS;
	x.apply[XOP_INSERT] = 1;
	assert_int_equal(inventory_seed_stock(&x.base, &cat, &err), ECOM_OK);
	assert_int_equal(err.rc, ECOM_OK);
	assert_string_equal(err.msg, "");
	assert_int_equal(mem_store_count(x.inner, INVENTORY_COLL_STOCK), 3);
	store_destroy(&x.base);

	/* A permanent error is not retried. */
	xstore_init(&x, mem_store_new());
	x.fail[XOP_INSERT] = 1;
	x.rc[XOP_INSERT] = ECOM_INVALID;
	assert_int_equal(inventory_seed_stock(&x.base, &cat, NULL), ECOM_INVALID);
	assert_int_equal(x.calls[XOP_INSERT], 1);
	store_destroy(&x.base);
	catalog_deinit(&cat);
}

/* ---- payment -------------------------------------------------------------------------- */

#define PAY PAYMENT_COLL
#define RESERVED(id, attempt) \
	"{\"orderId\":\"" id "\",\"reservedItems\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":20," \
	"\"attempt\":" attempt "}"

static void test_payment_route_refusals(void **state)
{
	struct fx *f = *state;
	const struct svc_def *d = payment_svc_def();
	struct svc_route r;
	char json[512];

	assert_int_equal(route(f, d, f->pay, EV_ORDER_CREATED, "{\"items\":[],\"total\":1}", &r),
			 ECOM_INVALID);
	assert_int_equal(route(f, d, f->pay, EV_SHIPPING_FAILED,
			       "{\"orderId\":\"\",\"reason\":\"x\"}", &r),
			 ECOM_INVALID);
	snprintf(json, sizeof(json), "{\"orderId\":\"%s\",\"reason\":\"x\"}", long_id);
	assert_int_equal(route(f, d, f->pay, EV_SHIPPING_FAILED, json, &r), ECOM_INVALID);
	assert_int_equal(route(f, d, f->pay, EV_COMPENSATION_REQUESTED,
			       "{\"orderId\":\"o\",\"action\":\"releaseInventory\"}", &r),
			 ECOM_NOT_FOUND);
	assert_int_equal(route(f, d, f->pay, EV_STEP_TIMEOUT,
			       "{\"orderId\":\"o\",\"step\":\"shipping\",\"attempt\":0}", &r),
			 ECOM_NOT_FOUND);
	assert_int_equal(route(f, d, f->pay, EV_RETRY_REQUESTED,
			       "{\"orderId\":\"o\",\"step\":\"payment\",\"attempt\":1}", &r),
			 ECOM_NOT_FOUND);
	assert_int_equal(route(f, d, f->pay, EV_COMPENSATION_REQUESTED,
			       "{\"orderId\":\"o\",\"action\":\"refundPayment\"}", &r),
			 ECOM_OK);
	assert_string_equal(r.collection, PAY);
	assert_string_equal(r.id, "o");
}

/* A type payment does not handle, and a gateway answer outside its contract: refused with
 * the reason, nothing written. A decline without a reason is still named. */
static void test_payment_handler_refusals(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;
	json_t *p;

	assert_int_equal(direct(f, f->pay_rt, PAY, "o", EV_PAYMENT_AUTHORIZED,
				"{\"orderId\":\"o\",\"amount\":1,\"authId\":\"a\"}", &err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "payment does not handle payment.PaymentAuthorized.v1");
	assert_null(doc(f, "payment", PAY, "o"));

	f->gw.charge_rc = ECOM_CONFLICT;
	snprintf(f->gw.reason, sizeof(f->gw.reason), "key reused");
	assert_int_equal(direct(f, f->pay_rt, PAY, "o", EV_INVENTORY_RESERVED, RESERVED("o", "0"),
				&err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "gateway charge o:charge:0: CONFLICT (key reused)");
	assert_null(doc(f, "payment", PAY, "o"));
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "o"), 0);

	f->gw.charge_rc = ECOM_REFUSED;
	f->gw.reason[0] = '\0';
	direct_ok(f, f->pay_rt, PAY, "o", EV_INVENTORY_RESERVED, RESERVED("o", "0"));
	p = nth(f, EV_PAYMENT_FAILED, "o", 0);
	assert_non_null(p);
	assert_string_equal(jsonx_str_or(p, "reason", ""), "declined");
	json_decref(p);
	/* Shipping failed for a declined attempt, or for an attempt never charged: no refund. */
	direct_ok(f, f->pay_rt, PAY, "o", EV_SHIPPING_FAILED,
		  "{\"orderId\":\"o\",\"reason\":\"x\",\"attempt\":0}");
	direct_ok(f, f->pay_rt, PAY, "o", EV_SHIPPING_FAILED,
		  "{\"orderId\":\"o\",\"reason\":\"x\",\"attempt\":5}");
	direct_ok(f, f->pay_rt, PAY, "never", EV_SHIPPING_FAILED,
		  "{\"orderId\":\"never\",\"reason\":\"x\",\"attempt\":0}");
	assert_int_equal(f->gw.refunds, 0);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "o"), 0);
	assert_null(doc(f, "payment", PAY, "never"));
}

/* PAYMENT_CHARGES_MAX attempts per order; the next one (a charge or a fence) is refused. */
static void test_payment_attempts_bounded(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;
	char json[256];
	json_t *d;

	f->gw.charge_rc = ECOM_REFUSED;
	snprintf(f->gw.reason, sizeof(f->gw.reason), "card_declined");
	for (int a = 0; a < PAYMENT_CHARGES_MAX; a++) {
		snprintf(json, sizeof(json),
			 "{\"orderId\":\"m\",\"reservedItems\":[{\"sku\":\"SKU-1\",\"qty\":1}],"
			 "\"total\":10,\"attempt\":%d}",
			 a);
		direct_ok(f, f->pay_rt, PAY, "m", EV_INVENTORY_RESERVED, json);
	}
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "m"), PAYMENT_CHARGES_MAX);
	snprintf(json, sizeof(json),
		 "{\"orderId\":\"m\",\"reservedItems\":[{\"sku\":\"SKU-1\",\"qty\":1}],"
		 "\"total\":10,\"attempt\":%d}",
		 PAYMENT_CHARGES_MAX);
	assert_int_equal(direct(f, f->pay_rt, PAY, "m", EV_INVENTORY_RESERVED, json, &err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "more than 64 payment attempts");
	snprintf(json, sizeof(json), "{\"orderId\":\"m\",\"step\":\"payment\",\"attempt\":%d}",
		 PAYMENT_CHARGES_MAX);
	assert_int_equal(direct(f, f->pay_rt, PAY, "m", EV_STEP_TIMEOUT, json, &err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "more than 64 payment attempts");
	d = doc(f, "payment", PAY, "m");
	assert_int_equal(json_array_size(json_object_get(d, "charges")), PAYMENT_CHARGES_MAX);
	assert_int_equal(jsonx_int_or(d, "attempt", -1), PAYMENT_CHARGES_MAX - 1);
	json_decref(d);
	assert_int_equal(f->gw.charges, PAYMENT_CHARGES_MAX);
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "m"), PAYMENT_CHARGES_MAX);
}

/* A compensation whose refund hits an unavailable gateway commits nothing and is retried;
 * once the gateway answers, the capture is refunded exactly once. */
static void test_payment_refund_unavailable_then_ok(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;
	json_t *d, *p;

	direct_ok(f, f->pay_rt, PAY, "q", EV_INVENTORY_RESERVED, RESERVED("q", "0"));
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "q"), 1);
	f->gw.refund_rc = ECOM_UNAVAILABLE;
	snprintf(f->gw.reason, sizeof(f->gw.reason), "timeout");
	assert_int_equal(direct(f, f->pay_rt, PAY, "q", EV_COMPENSATION_REQUESTED,
				"{\"orderId\":\"q\",\"action\":\"refundPayment\",\"attempt\":0}",
				&err),
			 ECOM_UNAVAILABLE);
	assert_string_equal(err.msg, "gateway refund q:refund:0: UNAVAILABLE (timeout)");
	d = doc(f, "payment", PAY, "q");
	assert_false(jsonx_bool_or(json_array_get(json_object_get(d, "charges"), 0), "refunded",
				   1));
	json_decref(d);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "q"), 0);
	f->gw.refund_rc = ECOM_OK;
	direct_ok(f, f->pay_rt, PAY, "q", EV_COMPENSATION_REQUESTED,
		  "{\"orderId\":\"q\",\"action\":\"refundPayment\",\"attempt\":0}");
	p = nth(f, EV_PAYMENT_REFUNDED, "q", 0);
	assert_non_null(p);
	assert_int_equal(jsonx_int_or(p, "amount", -1), 20);
	assert_string_equal(jsonx_str_or(p, "refundId", ""), "rf-q:refund:0");
	json_decref(p);
	assert_int_equal(f->gw.refunds, 2);
	/* Nothing left: the next compensation says so with amount 0. */
	direct_ok(f, f->pay_rt, PAY, "q", EV_COMPENSATION_REQUESTED,
		  "{\"orderId\":\"q\",\"action\":\"refundPayment\",\"attempt\":0}");
	p = nth(f, EV_PAYMENT_REFUNDED, "q", 1);
	assert_int_equal(jsonx_int_or(p, "amount", -1), 0);
	assert_string_equal(jsonx_str_or(p, "refundId", "?"), "");
	json_decref(p);
	assert_int_equal(f->gw.refunds, 2);
}

/* Events of an attempt older than the newest seen and never charged: superseded, ignored. */
static void test_payment_superseded_attempts(void **state)
{
	struct fx *f = *state;
	int64_t v;

	direct_ok(f, f->pay_rt, PAY, "s", EV_INVENTORY_RESERVED, RESERVED("s", "2"));
	assert_int_equal(f->gw.charges, 1);
	v = doc_version(f, "payment", PAY, "s");
	direct_ok(f, f->pay_rt, PAY, "s", EV_INVENTORY_RESERVED, RESERVED("s", "1"));
	direct_ok(f, f->pay_rt, PAY, "s", EV_STEP_TIMEOUT,
		  "{\"orderId\":\"s\",\"step\":\"payment\",\"attempt\":1}");
	assert_int_equal(f->gw.charges, 1);
	assert_int_equal(doc_version(f, "payment", PAY, "s"), v);
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "s"), 0);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "s"), 1);
}

/* A fence before anything arrived (not awaiting an amount): the OrderCreated that brings
 * the amount does not charge it; its late InventoryReserved charges and refunds at once. */
static void test_payment_fence_then_order_then_reserved(void **state)
{
	struct fx *f = *state;
	json_t *p;

	direct_ok(f, f->pay_rt, PAY, "t", EV_STEP_TIMEOUT,
		  "{\"orderId\":\"t\",\"step\":\"payment\",\"attempt\":0}");
	p = nth(f, EV_PAYMENT_FAILED, "t", 0);
	assert_string_equal(jsonx_str_or(p, "reason", ""), "deadline");
	json_decref(p);
	direct_ok(f, f->pay_rt, PAY, "t", EV_ORDER_CREATED,
		  "{\"orderId\":\"t\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":20}");
	assert_int_equal(f->gw.charges, 0);
	direct_ok(f, f->pay_rt, PAY, "t", EV_INVENTORY_RESERVED, RESERVED("t", "0"));
	assert_int_equal(f->gw.charges, 1);
	assert_int_equal(f->gw.refunds, 1);
	assert_int_equal(count(f, EV_PAYMENT_AUTHORIZED, "t"), 0);
	assert_int_equal(count(f, EV_PAYMENT_REFUNDED, "t"), 1);
	assert_int_equal(count(f, EV_PAYMENT_FAILED, "t"), 1);
}

/* ---- shipping ------------------------------------------------------------------------- */

#define SHIP SHIPPING_COLL
#define AUTHORIZED(id, attempt) \
	"{\"orderId\":\"" id "\",\"amount\":20,\"authId\":\"au\",\"attempt\":" attempt "}"

static void test_shipping_route_refusals(void **state)
{
	struct fx *f = *state;
	const struct svc_def *d = shipping_svc_def();
	struct svc_route r;
	char json[512];

	assert_int_equal(route(f, d, f->ship, EV_PAYMENT_AUTHORIZED,
			       "{\"amount\":20,\"authId\":\"a\"}", &r),
			 ECOM_INVALID);
	assert_int_equal(route(f, d, f->ship, EV_PAYMENT_AUTHORIZED, AUTHORIZED("", "0"), &r),
			 ECOM_INVALID);
	snprintf(json, sizeof(json), "{\"orderId\":\"%s\",\"step\":\"shipping\",\"attempt\":0}",
		 long_id);
	assert_int_equal(route(f, d, f->ship, EV_STEP_TIMEOUT, json, &r), ECOM_INVALID);
	assert_int_equal(route(f, d, f->ship, EV_STEP_TIMEOUT,
			       "{\"orderId\":\"o\",\"step\":\"payment\",\"attempt\":0}", &r),
			 ECOM_NOT_FOUND);
	assert_int_equal(route(f, d, f->ship, EV_RETRY_REQUESTED,
			       "{\"orderId\":\"o\",\"step\":\"shipping\",\"attempt\":1}", &r),
			 ECOM_NOT_FOUND);
	assert_int_equal(route(f, d, f->ship, EV_STEP_TIMEOUT,
			       "{\"orderId\":\"o\",\"step\":\"shipping\",\"attempt\":0}", &r),
			 ECOM_OK);
	assert_string_equal(r.collection, SHIP);
	assert_string_equal(r.id, "o");
}

static void test_shipping_handler_refusals(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;
	json_t *p;

	assert_int_equal(direct(f, f->ship_rt, SHIP, "o", EV_ORDER_SHIPPED,
				"{\"orderId\":\"o\",\"carrier\":\"c\",\"trackingId\":\"t\"}", &err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "shipping does not handle shipping.OrderShipped.v1");

	f->car.rc = ECOM_INVALID;
	snprintf(f->car.reason, sizeof(f->car.reason), "bad address");
	assert_int_equal(direct(f, f->ship_rt, SHIP, "o", EV_PAYMENT_AUTHORIZED,
				AUTHORIZED("o", "0"), &err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "carrier book o:ship:0: INVALID (bad address)");
	assert_null(doc(f, "shipping", SHIP, "o"));
	assert_int_equal(count(f, EV_SHIPPING_FAILED, "o"), 0);

	/* Refused without a reason: the failure still names one. */
	f->car.rc = ECOM_REFUSED;
	f->car.reason[0] = '\0';
	direct_ok(f, f->ship_rt, SHIP, "o", EV_PAYMENT_AUTHORIZED, AUTHORIZED("o", "0"));
	p = nth(f, EV_SHIPPING_FAILED, "o", 0);
	assert_non_null(p);
	assert_string_equal(jsonx_str_or(p, "reason", ""), "carrier_error");
	assert_int_equal(jsonx_int_or(p, "attempt", -1), 0);
	json_decref(p);
}

/* An unroutable PaymentAuthorized is dead-lettered by the runtime; the carrier is never
 * called. */
static void test_shipping_unroutable_dead_lettered(void **state)
{
	struct fx *f = *state;
	struct envelope e;
	char json[512];

	snprintf(json, sizeof(json), "{\"orderId\":\"%s\",\"amount\":20,\"authId\":\"a\"}",
		 long_id);
	assert_int_equal(harness_publish_json(f->h, EV_PAYMENT_AUTHORIZED, "k", json, NULL),
			 ECOM_OK);
	quiet(f);
	dlq_first(f, event_type_name(EV_PAYMENT_AUTHORIZED), 1, &e);
	assert_string_equal(jsonx_str_or(e.payload, "error", ""),
			    "cannot route payment.PaymentAuthorized.v1: INVALID");
	envelope_deinit(&e);
	assert_int_equal(f->car.calls, 0);
	assert_int_equal(mem_store_count(harness_store(f->h, "shipping"), SHIP), 0);
}

static void test_shipping_superseded_attempts(void **state)
{
	struct fx *f = *state;
	int64_t v;

	direct_ok(f, f->ship_rt, SHIP, "s", EV_PAYMENT_AUTHORIZED, AUTHORIZED("s", "1"));
	assert_int_equal(f->car.calls, 1);
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "s"), 1);
	v = doc_version(f, "shipping", SHIP, "s");
	direct_ok(f, f->ship_rt, SHIP, "s", EV_PAYMENT_AUTHORIZED, AUTHORIZED("s", "0"));
	direct_ok(f, f->ship_rt, SHIP, "s", EV_STEP_TIMEOUT,
		  "{\"orderId\":\"s\",\"step\":\"shipping\",\"attempt\":0}");
	assert_int_equal(f->car.calls, 1);
	assert_int_equal(doc_version(f, "shipping", SHIP, "s"), v);
	assert_int_equal(count(f, EV_SHIPPING_FAILED, "s"), 0);
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "s"), 1);
}

/* SHIPPING_BOOKINGS_MAX attempts per order; the next booking or fence is refused before
 * the carrier is called (a booking cannot be undone). */
static void test_shipping_attempts_bounded(void **state)
{
	struct fx *f = *state;
	struct ecom_err err;
	char json[256];
	json_t *d;

	for (int a = 0; a < SHIPPING_BOOKINGS_MAX; a++) {
		snprintf(json, sizeof(json),
			 "{\"orderId\":\"m\",\"amount\":20,\"authId\":\"au\",\"attempt\":%d}", a);
		direct_ok(f, f->ship_rt, SHIP, "m", EV_PAYMENT_AUTHORIZED, json);
	}
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "m"), SHIPPING_BOOKINGS_MAX);
	snprintf(json, sizeof(json),
		 "{\"orderId\":\"m\",\"amount\":20,\"authId\":\"au\",\"attempt\":%d}",
		 SHIPPING_BOOKINGS_MAX);
	assert_int_equal(direct(f, f->ship_rt, SHIP, "m", EV_PAYMENT_AUTHORIZED, json, &err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "more than 64 shipping attempts");
	assert_int_equal(f->car.calls, SHIPPING_BOOKINGS_MAX);
	snprintf(json, sizeof(json), "{\"orderId\":\"m\",\"step\":\"shipping\",\"attempt\":%d}",
		 SHIPPING_BOOKINGS_MAX);
	assert_int_equal(direct(f, f->ship_rt, SHIP, "m", EV_STEP_TIMEOUT, json, &err),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "more than 64 shipping attempts");
	d = doc(f, "shipping", SHIP, "m");
	assert_int_equal(json_array_size(json_object_get(d, "bookings")), SHIPPING_BOOKINGS_MAX);
	json_decref(d);
	assert_int_equal(count(f, EV_ORDER_SHIPPED, "m"), SHIPPING_BOOKINGS_MAX);
	assert_int_equal(count(f, EV_SHIPPING_FAILED, "m"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_inventory_route_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inventory_unroutable_event_dead_lettered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_inventory_handler_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stock_without_catalog_and_old_layout, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reservation_unexpected_results, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reservation_fences, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reservation_events_without_effect, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reservation_retry_before_items, setup,
						teardown),
		cmocka_unit_test(test_seed_over_failing_store),
		cmocka_unit_test_setup_teardown(test_payment_route_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payment_handler_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payment_attempts_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payment_refund_unavailable_then_ok, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_payment_superseded_attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payment_fence_then_order_then_reserved, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_shipping_route_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shipping_handler_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shipping_unroutable_dead_lettered, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_shipping_superseded_attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shipping_attempts_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
