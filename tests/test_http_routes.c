/* test_http_routes.c — the pure HTTP router against a fake service API: status codes and
 * error bodies for every route (404, 405, 413, 400 naming the field, 409 with the reason,
 * 503), admin authorization outcomes, SSE backlog with Last-Event-ID, static file path
 * sanitizing, CORS, request metrics, and a seeded fuzz loop over random requests. Then the
 * same routes over the real wiring (src/app) on in-memory backends and a manual clock:
 * orders to SHIPPED, metrics, the SSE feed, admin refusals, DLQ replay, forwarding, and
 * byte-identical answers for the same seed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "core/metrics.h"
#include "core/rng.h"
#include "event/jsonx.h"
#include "http/routes.h"
#include "runtime/runtime.h"
#include "sim/mem_broker.h"
#include "sim/mem_store.h"
#include "sim/sim_adapters.h"

/* ---- the fake service ------------------------------------------------------------------ */

struct fake {
	int create_rc, create_created, calls;
	char last_id[160], last_arg[160], last_status[40];
	size_t last_limit;
	int auth_status;
	int ready_rc;
	int file_reads;
	int replay_all;
};

static int f_create(void *arg, json_t *body, json_t **resp, int *created, struct ecom_err *err)
{
	struct fake *f = arg;

	f->calls++;
	if (f->create_rc != ECOM_OK)
		return ecom_err_set(err, f->create_rc, "%s",
				    f->create_rc == ECOM_INVALID ? "items[0].qty: must be an integer 1..1000"
				    : f->create_rc == ECOM_CONFLICT ? "orderId o1 already used with another body"
								    : "store unavailable");
	*created = f->create_created;
	*resp = json_pack("{s:s}", "orderId", jsonx_str_or(body, "orderId", "generated"));
	return ECOM_OK;
}

static int f_get(void *arg, const char *id, json_t **out, struct ecom_err *err)
{
	struct fake *f = arg;

	snprintf(f->last_id, sizeof(f->last_id), "%s", id);
	if (strcmp(id, "o1") != 0)
		return ECOM_NOT_FOUND;
	*out = json_pack("{s:s,s:s}", "_id", id, "status", "SHIPPED");
	return ECOM_OK;
}

static int f_retry(void *arg, const char *id, const char *step, json_t **resp,
		   struct ecom_err *err)
{
	struct fake *f = arg;

	snprintf(f->last_id, sizeof(f->last_id), "%s", id);
	snprintf(f->last_arg, sizeof(f->last_arg), "%s", step);
	if (strcmp(id, "shipped") == 0)
		return ecom_err_set(err, ECOM_REFUSED, "order is SHIPPED");
	if (strcmp(step, "payment") != 0 && strcmp(step, "inventory") != 0 &&
	    strcmp(step, "shipping") != 0)
		return ecom_err_set(err, ECOM_INVALID, "step: must be inventory, payment or shipping");
	*resp = json_pack("{s:s,s:s,s:i}", "orderId", id, "step", step, "attempt", 1);
	return ECOM_OK;
}

static int f_comp(void *arg, const char *id, const char *action, json_t **resp,
		  struct ecom_err *err)
{
	struct fake *f = arg;

	snprintf(f->last_arg, sizeof(f->last_arg), "%s", action);
	*resp = json_pack("{s:s,s:s}", "orderId", id, "action", action);
	return ECOM_OK;
}

static int f_list(void *arg, const char *status, size_t limit, json_t **out,
		  struct ecom_err *err)
{
	struct fake *f = arg;

	snprintf(f->last_status, sizeof(f->last_status), "%s", status ? status : "(any)");
	f->last_limit = limit;
	*out = json_array();
	return ECOM_OK;
}

static int f_timeline(void *arg, const char *id, json_t **entries, struct ecom_err *err)
{
	if (strcmp(id, "o1") != 0)
		return ECOM_NOT_FOUND;
	*entries = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "eventId", "e1", "type",
			     "order.OrderCreated.v1", "eventId", "e2", "type",
			     "inventory.InventoryReserved.v1", "eventId", "e3", "type",
			     "payment.PaymentAuthorized.v1");
	return ECOM_OK;
}

static int f_dlq_list(void *arg, const char *topic, const char *oid, json_t **out,
		      struct ecom_err *err)
{
	struct fake *f = arg;

	snprintf(f->last_arg, sizeof(f->last_arg), "%s|%s", topic ? topic : "-", oid ? oid : "-");
	*out = json_array();
	return ECOM_OK;
}

static int f_replay(void *arg, const char *id, const char *topic, const char *oid, int all,
		    json_t **out, struct ecom_err *err)
{
	struct fake *f = arg;

	snprintf(f->last_arg, sizeof(f->last_arg), "%s|%s|%s", id ? id : "-", topic ? topic : "-",
		 oid ? oid : "-");
	f->replay_all = all;
	*out = json_pack("{s:i}", "replayed", 1);
	return ECOM_OK;
}

static int f_read_file(void *arg, const char *rel, char **data, size_t *len)
{
	struct fake *f = arg;

	f->file_reads++;
	if (strcmp(rel, "index.html") != 0 && strcmp(rel, "js/app.js") != 0)
		return ECOM_NOT_FOUND;
	*data = ecom_xstrdup(rel);
	*len = strlen(rel);
	return ECOM_OK;
}

static int f_ready(void *arg, struct ecom_err *err)
{
	struct fake *f = arg;

	if (f->ready_rc)
		return ecom_err_set(err, f->ready_rc, "store: connection refused");
	return ECOM_OK;
}

static int f_auth(void *arg, const char *authz, struct ecom_err *err)
{
	struct fake *f = arg;

	if (!authz) {
		ecom_err_set(err, ECOM_INVALID, "missing bearer token");
		return 401;
	}
	if (f->auth_status)
		ecom_err_set(err, ECOM_INVALID, "%s", f->auth_status == 403 ? "admin role required"
									    : "token expired");
	return f->auth_status;
}

/* ---- helpers --------------------------------------------------------------------------- */

struct world {
	struct fake f;
	struct metrics *m;
	struct http_api order, rm;
};

static int setup(void **state)
{
	struct world *w = ecom_xcalloc(1, sizeof(*w));

	w->m = metrics_new();
	w->order = (struct http_api){
		.service = "order", .arg = &w->f, .order_create = f_create, .order_get = f_get,
		.order_retry = f_retry, .order_compensate = f_comp, .ready = f_ready,
		.metrics = w->m, .authorize = f_auth, .auth_arg = &w->f, .cors_origin = "*",
	};
	w->rm = (struct http_api){
		.service = "read-model", .arg = &w->f, .rm_list = f_list, .rm_get = f_get,
		.rm_timeline = f_timeline, .dlq_list = f_dlq_list, .dlq_replay = f_replay,
		.order_retry = f_retry, .order_compensate = f_comp, .read_file = f_read_file,
		.ready = f_ready, .authorize = f_auth, .auth_arg = &w->f,
		.cors_origin = "http://a.test, http://b.test",
	};
	w->f.create_created = 1;
	routes_init(&w->order);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	metrics_free(w->m);
	free(w);
	return 0;
}

static struct http_response call(const struct http_api *api, const char *method,
				 const char *path, const char *body)
{
	struct http_request req = {.method = method, .path = path, .body = body,
				   .body_len = body ? strlen(body) : 0,
				   .authorization = "Bearer ok"};
	struct http_response resp;

	routes_handle(api, &req, &resp);
	return resp;
}

static const char *header(const struct http_response *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/* The "error" string of a JSON response (static copy). */
static const char *error_of(const struct http_response *r)
{
	static char msg[512];
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);

	snprintf(msg, sizeof(msg), "%s", jsonx_str_or(j, "error", "(none)"));
	json_decref(j);
	return msg;
}

#define EXPECT(api, method, path, body, code)                                               \
	do {                                                                                \
		struct http_response r_ = call(api, method, path, body);                      \
		assert_int_equal(r_.status, code);                                          \
		http_response_deinit(&r_);                                                  \
	} while (0)

/* ---- tests ----------------------------------------------------------------------------- */

static void test_health_and_ready(void **state)
{
	struct world *w = *state;
	struct http_response r = call(&w->order, "GET", "/health", NULL);

	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"ok\":true}");
	http_response_deinit(&r);
	r = call(&w->order, "GET", "/health/live", NULL);
	assert_string_equal(r.body, "{\"ok\":true,\"service\":\"order\"}");
	http_response_deinit(&r);
	w->f.ready_rc = ECOM_UNAVAILABLE;
	r = call(&w->order, "GET", "/health/ready", NULL);
	assert_int_equal(r.status, 503);
	assert_string_equal(error_of(&r), "store: connection refused");
	assert_string_equal(header(&r, "Retry-After"), "1");
	http_response_deinit(&r);
	w->f.ready_rc = 0;
	EXPECT(&w->order, "GET", "/health/ready", NULL, 200);
	EXPECT(&w->order, "HEAD", "/health", NULL, 200);
}

static void test_unknown_and_method(void **state)
{
	struct world *w = *state;
	struct http_response r = call(&w->order, "GET", "/nope", NULL);

	assert_int_equal(r.status, 404);
	assert_string_equal(error_of(&r), "no route for GET /nope");
	http_response_deinit(&r);
	r = call(&w->order, "DELETE", "/orders", NULL);
	assert_int_equal(r.status, 405);
	assert_string_equal(header(&r, "Allow"), "POST, OPTIONS");
	http_response_deinit(&r);
	/* the order service has no list: GET /orders is a wrong method, not a 404 */
	EXPECT(&w->order, "GET", "/orders", NULL, 405);
	r = call(&w->order, "OPTIONS", "/orders/o1", NULL);
	assert_int_equal(r.status, 204);
	assert_string_equal(header(&r, "Access-Control-Allow-Origin"), "*");
	assert_non_null(strstr(header(&r, "Access-Control-Allow-Headers"), "Authorization"));
	http_response_deinit(&r);
	/* read-model-only routes do not exist on the order service */
	EXPECT(&w->order, "GET", "/orders/o1/stream", NULL, 404);
	EXPECT(&w->order, "GET", "/admin/dlq", NULL, 404);
	EXPECT(&w->order, "GET", "/orders/a/b/c/d/e/f/g/h/i/j", NULL, 404);
}

static void test_create(void **state)
{
	struct world *w = *state;
	struct http_response r = call(&w->order, "POST", "/orders", "{\"items\": [");

	assert_int_equal(r.status, 400);
	assert_non_null(strstr(error_of(&r), "body: malformed JSON at 1:"));
	http_response_deinit(&r);
	r = call(&w->order, "POST", "/orders", "[1]");
	assert_string_equal(error_of(&r), "body: must be a JSON object");
	http_response_deinit(&r);
	r = call(&w->order, "POST", "/orders", "{\"a\":1,\"a\":2}");
	assert_int_equal(r.status, 400);
	http_response_deinit(&r);
	EXPECT(&w->order, "POST", "/orders", "", 400);
	assert_int_equal(w->f.calls, 0); /* nothing reached the service */

	r = call(&w->order, "POST", "/orders", "{\"orderId\":\"o1\"}");
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, "{\"orderId\":\"o1\"}");
	assert_string_equal(r.route, "/orders");
	http_response_deinit(&r);
	w->f.create_created = 0;
	EXPECT(&w->order, "POST", "/orders", "{\"orderId\":\"o1\"}", 200);
	w->f.create_rc = ECOM_INVALID;
	r = call(&w->order, "POST", "/orders", "{}");
	assert_int_equal(r.status, 400);
	assert_string_equal(error_of(&r), "items[0].qty: must be an integer 1..1000");
	http_response_deinit(&r);
	w->f.create_rc = ECOM_CONFLICT;
	EXPECT(&w->order, "POST", "/orders", "{}", 409);
	w->f.create_rc = ECOM_AMBIGUOUS;
	r = call(&w->order, "POST", "/orders", "{}");
	assert_int_equal(r.status, 503);
	assert_string_equal(header(&r, "Retry-After"), "1");
	http_response_deinit(&r);
}

static void test_too_large(void **state)
{
	struct world *w = *state;
	struct http_request req = {.method = "POST", .path = "/orders", .body = "{}",
				   .body_len = 2, .body_too_large = 1};
	struct http_response r;

	routes_handle(&w->order, &req, &r);
	assert_int_equal(r.status, 413);
	assert_non_null(strstr(error_of(&r), "65536"));
	http_response_deinit(&r);
	assert_int_equal(w->f.calls, 0);
}

static void test_get(void **state)
{
	struct world *w = *state;
	struct http_response r = call(&w->order, "GET", "/orders/o1", NULL);
	char longid[200];

	assert_int_equal(r.status, 200);
	assert_string_equal(r.route, "/orders/:id");
	http_response_deinit(&r);
	r = call(&w->order, "GET", "/orders/zz", NULL);
	assert_int_equal(r.status, 404);
	assert_string_equal(error_of(&r), "order zz not found");
	http_response_deinit(&r);
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	{
		char path[256];

		snprintf(path, sizeof(path), "/orders/%s", longid);
		r = call(&w->order, "GET", path, NULL);
		assert_int_equal(r.status, 400);
		assert_non_null(strstr(error_of(&r), "id: "));
		http_response_deinit(&r);
	}
	EXPECT(&w->order, "GET", "/orders/a b", NULL, 400);
}

static void test_admin(void **state)
{
	struct world *w = *state;
	struct http_request req = {.method = "POST", .path = "/admin/retry/o1",
				   .body = "{\"step\":\"payment\"}", .body_len = 18};
	struct http_response r;
	struct http_api noauth = w->order;

	routes_handle(&w->order, &req, &r); /* no Authorization header */
	assert_int_equal(r.status, 401);
	assert_string_equal(header(&r, "WWW-Authenticate"), "Bearer");
	http_response_deinit(&r);
	w->f.auth_status = 403;
	r = call(&w->order, "POST", "/admin/retry/o1", "{\"step\":\"payment\"}");
	assert_int_equal(r.status, 403);
	assert_string_equal(error_of(&r), "admin role required");
	http_response_deinit(&r);
	w->f.auth_status = 0;
	noauth.authorize = NULL;
	r = call(&noauth, "POST", "/admin/retry/o1", "{\"step\":\"payment\"}");
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(error_of(&r), "JWT_SECRET"));
	http_response_deinit(&r);

	r = call(&w->order, "POST", "/admin/retry/o1", "{\"step\":\"payment\"}");
	assert_int_equal(r.status, 200);
	assert_string_equal(w->f.last_arg, "payment");
	http_response_deinit(&r);
	r = call(&w->order, "POST", "/admin/retry/o1", "{}");
	assert_int_equal(r.status, 400);
	assert_string_equal(error_of(&r), "step: required");
	http_response_deinit(&r);
	r = call(&w->order, "POST", "/admin/retry/o1", "{\"step\":3}");
	assert_string_equal(error_of(&r), "step: must be a non-empty string");
	http_response_deinit(&r);
	r = call(&w->order, "POST", "/admin/retry/o1", "{\"step\":\"warp\"}");
	assert_int_equal(r.status, 400);
	http_response_deinit(&r);
	r = call(&w->order, "POST", "/admin/retry/shipped", "{\"step\":\"payment\"}");
	assert_int_equal(r.status, 409);
	assert_string_equal(error_of(&r), "order is SHIPPED");
	http_response_deinit(&r);
	r = call(&w->rm, "POST", "/admin/compensate/o1", "{\"action\":\"refundPayment\"}");
	assert_int_equal(r.status, 200);
	assert_string_equal(w->f.last_arg, "refundPayment");
	http_response_deinit(&r);
	r = call(&w->rm, "POST", "/admin/compensate/o1", "{\"step\":\"x\"}");
	assert_string_equal(error_of(&r), "action: required");
	http_response_deinit(&r);
}

static void test_list_and_dlq(void **state)
{
	struct world *w = *state;
	struct http_param q[] = {{"status", "SHIPPED"}, {"limit", "5"}};
	struct http_request req = {.method = "GET", .path = "/orders", .query = q, .n_query = 2};
	struct http_response r;

	routes_handle(&w->rm, &req, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "[]");
	assert_string_equal(w->f.last_status, "SHIPPED");
	assert_int_equal(w->f.last_limit, 5);
	http_response_deinit(&r);
	q[1].value = "0";
	routes_handle(&w->rm, &req, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(error_of(&r), "limit: must be an integer 1..1000");
	http_response_deinit(&r);
	q[1].value = "20";
	q[0].value = "shipped; drop";
	routes_handle(&w->rm, &req, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(error_of(&r), "status: "));
	http_response_deinit(&r);
	EXPECT(&w->rm, "GET", "/orders", NULL, 200);
	assert_string_equal(w->f.last_status, "(any)");
	assert_int_equal(w->f.last_limit, HTTP_LIST_LIMIT_DEFAULT);

	q[0] = (struct http_param){"topic", "payment.PaymentAuthorized.v1.dlq"};
	q[1] = (struct http_param){"orderId", "o1"};
	req.path = "/admin/dlq";
	req.authorization = "Bearer x";
	routes_handle(&w->rm, &req, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(w->f.last_arg, "payment.PaymentAuthorized.v1.dlq|o1");
	http_response_deinit(&r);

	r = call(&w->rm, "POST", "/admin/dlq/replay", "{\"all\":true}");
	assert_int_equal(r.status, 200);
	assert_int_equal(w->f.replay_all, 1);
	http_response_deinit(&r);
	r = call(&w->rm, "POST", "/admin/dlq/replay", "{\"topic\":\"t.dlq\",\"orderId\":\"o9\"}");
	assert_int_equal(r.status, 200);
	assert_string_equal(w->f.last_arg, "-|t.dlq|o9");
	assert_int_equal(w->f.replay_all, 0);
	http_response_deinit(&r);
	EXPECT(&w->rm, "POST", "/admin/dlq/replay", "{\"id\":\"t:0:1\"}", 200);
	assert_string_equal(w->f.last_arg, "t:0:1|-|-");
	r = call(&w->rm, "POST", "/admin/dlq/replay", "{\"id\":\"a\",\"all\":true}");
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(error_of(&r), "exactly one of"));
	http_response_deinit(&r);
	r = call(&w->rm, "POST", "/admin/dlq/replay", "{\"all\":false}");
	assert_string_equal(error_of(&r), "all: must be true");
	http_response_deinit(&r);
	r = call(&w->rm, "POST", "/admin/dlq/replay", "{\"id\":\"a\",\"orderId\":\"o\"}");
	assert_string_equal(error_of(&r), "orderId: only with topic");
	http_response_deinit(&r);
}

static void test_sse(void **state)
{
	struct world *w = *state;
	struct http_request req = {.method = "GET", .path = "/orders/o1/stream"};
	struct http_response r;

	routes_handle(&w->rm, &req, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.kind, HTTP_KIND_SSE);
	assert_string_equal(r.content_type, "text/event-stream");
	assert_string_equal(r.sse_order_id, "o1");
	assert_non_null(strstr(r.body, "id: e1\ndata: {\"eventId\":\"e1\""));
	assert_non_null(strstr(r.body, "id: e3\n"));
	http_response_deinit(&r);

	req.last_event_id = "e2";
	routes_handle(&w->rm, &req, &r);
	assert_null(strstr(r.body, "id: e1\n"));
	assert_null(strstr(r.body, "id: e2\n"));
	assert_non_null(strstr(r.body, "id: e3\n"));
	http_response_deinit(&r);

	req.last_event_id = "e3"; /* up to date: nothing but the retry hint */
	routes_handle(&w->rm, &req, &r);
	assert_string_equal(r.body, "retry: 2000\n\n");
	http_response_deinit(&r);

	req.last_event_id = "unknown"; /* replays everything */
	routes_handle(&w->rm, &req, &r);
	assert_non_null(strstr(r.body, "id: e1\n"));
	http_response_deinit(&r);

	req.path = "/orders/o2/stream"; /* not known yet: the stream still opens */
	routes_handle(&w->rm, &req, &r);
	assert_int_equal(r.kind, HTTP_KIND_SSE);
	assert_string_equal(r.sse_order_id, "o2");
	http_response_deinit(&r);

	req.path = "/stream";
	routes_handle(&w->rm, &req, &r);
	assert_int_equal(r.kind, HTTP_KIND_SSE);
	assert_string_equal(r.sse_order_id, "");
	http_response_deinit(&r);
}

static void test_sse_format(void **state)
{
	size_t n;
	char *s = http_sse_format("id-1", "{\"a\":1}", &n);

	(void)state;
	assert_string_equal(s, "id: id-1\ndata: {\"a\":1}\n\n");
	assert_int_equal(n, strlen(s));
	free(s);
	s = http_sse_format(NULL, "{}", &n);
	assert_string_equal(s, "data: {}\n\n");
	free(s);
}

static void test_static(void **state)
{
	struct world *w = *state;
	struct http_response r = call(&w->rm, "GET", "/", NULL);

	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "index.html");
	assert_string_equal(r.content_type, "text/html; charset=utf-8");
	http_response_deinit(&r);
	r = call(&w->rm, "GET", "/js/app.js", NULL);
	assert_string_equal(r.content_type, "text/javascript; charset=utf-8");
	http_response_deinit(&r);
	w->f.file_reads = 0;
	EXPECT(&w->rm, "GET", "/../etc/passwd", NULL, 404);
	EXPECT(&w->rm, "GET", "/js/../../x", NULL, 404);
	EXPECT(&w->rm, "GET", "/.env", NULL, 404);
	EXPECT(&w->rm, "GET", "/a%2f", NULL, 404);
	assert_int_equal(w->f.file_reads, 0); /* refused before touching the disk */
	EXPECT(&w->rm, "GET", "/missing.css", NULL, 404);
	assert_int_equal(w->f.file_reads, 1);
	EXPECT(&w->rm, "POST", "/index.html", "{}", 404);
	EXPECT(&w->order, "GET", "/", NULL, 404); /* the order service serves no files */
}

static void test_cors_list(void **state)
{
	struct world *w = *state;
	struct http_request req = {.method = "GET", .path = "/health", .origin = "http://b.test"};
	struct http_response r;

	routes_handle(&w->rm, &req, &r);
	assert_string_equal(header(&r, "Access-Control-Allow-Origin"), "http://b.test");
	assert_string_equal(header(&r, "Vary"), "Origin");
	http_response_deinit(&r);
	req.origin = "http://evil.test";
	routes_handle(&w->rm, &req, &r);
	assert_null(header(&r, "Access-Control-Allow-Origin"));
	http_response_deinit(&r);
}

static void test_metrics_counted(void **state)
{
	struct world *w = *state;
	struct metric *f;
	char *text;

	EXPECT(&w->order, "GET", "/orders/o1", NULL, 200);
	EXPECT(&w->order, "GET", "/orders/o1", NULL, 200);
	EXPECT(&w->order, "GET", "/orders/zz", NULL, 404);
	EXPECT(&w->order, "GET", "/nope", NULL, 404);
	f = metrics_find(w->m, "ecom_http_requests_total");
	assert_non_null(f);
	assert_true(metric_value(f, (const char *[]){"order", "/orders/:id", "200"}) == 2);
	assert_true(metric_value(f, (const char *[]){"order", "/orders/:id", "404"}) == 1);
	assert_true(metric_value(f, (const char *[]){"order", "unmatched", "404"}) == 1);
	{
		struct http_response r = call(&w->order, "GET", "/metrics", NULL);

		assert_string_equal(r.content_type, METRICS_CONTENT_TYPE);
		text = r.body;
		assert_non_null(strstr(text, "ecom_http_requests_total{service=\"order\","
					     "route=\"/orders/:id\",code=\"200\"} 2\n"));
		http_response_deinit(&r);
	}
}

/* Random requests never crash, always answer a known status, and JSON answers parse. */
static void test_fuzz(void **state)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS",
					      "PATCH", ""};
	static const char *const pieces[] = {"/", "orders", "admin", "retry", "compensate",
					     "stream", "dlq", "replay", "health", "ready", "..",
					     "o1", "%00", "\xff", ":id", "metrics", "live", ""};
	static const char *const bodies[] = {"{", "{}", "[]", "null", "{\"step\":1}",
					     "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}",
					     "\"x\"", "{\"all\":true}", "{\"step\":\"payment\"}",
					     "\xc3\x28", "{\"id\":\"\"}"};
	struct world *w = *state;
	struct rng rng;

	rng_seed(&rng, 1234);
	for (int i = 0; i < 20000; i++) {
		char path[256] = "/";
		int parts = (int)rng_below(&rng, 6);
		struct http_request req = {0};
		struct http_response r;

		for (int p = 0; p < parts; p++) {
			strncat(path, pieces[rng_below(&rng, ECOM_ARRAY_LEN(pieces))],
				sizeof(path) - strlen(path) - 2);
			if (rng_chance(&rng, 0.8))
				strcat(path, "/");
		}
		req.method = methods[rng_below(&rng, ECOM_ARRAY_LEN(methods))];
		req.path = rng_chance(&rng, 0.02) ? "nolead" : path;
		req.body = bodies[rng_below(&rng, ECOM_ARRAY_LEN(bodies))];
		req.body_len = strlen(req.body);
		req.body_too_large = rng_chance(&rng, 0.05);
		req.authorization = rng_chance(&rng, 0.5) ? "Bearer x" : NULL;
		req.last_event_id = rng_chance(&rng, 0.3) ? "e1" : NULL;
		w->f.auth_status = rng_chance(&rng, 0.2) ? 403 : 0;
		w->f.create_rc = rng_chance(&rng, 0.7) ? ECOM_OK : ECOM_INVALID;
		routes_handle(rng_chance(&rng, 0.5) ? &w->order : &w->rm, &req, &r);
		assert_true(r.status == 200 || r.status == 201 || r.status == 204 ||
			    r.status == 400 || r.status == 401 || r.status == 403 ||
			    r.status == 404 || r.status == 405 || r.status == 409 ||
			    r.status == 413 || r.status == 503);
		if (strstr(r.content_type, "application/json")) {
			json_t *j = json_loadb(r.body, r.body_len, 0, NULL);

			assert_non_null(j);
			if (r.status >= 400)
				assert_non_null(jsonx_str(j, "error"));
			json_decref(j);
		}
		http_response_deinit(&r);
	}
}


/* ---- the real wiring (src/app) on in-memory backends ------------------------------------ */

#define AW_EPOCH_MS 1767225600000LL
#define AW_TICK_US 5000         /* virtual time per idle round */
#define AW_RUN_US (3LL * 1000000) /* virtual time one run_for covers */

struct aw {
	struct manual_clock clk;
	struct rng rng, gw_rng, car_rng;
	struct catalog cat;
	struct mem_cluster *cluster;
	struct sim_gateway *gw;
	struct sim_carrier *car;
	struct app *app;
	int n_sse;
	char sse_order[128];
	int n_logs;
	int forwarded;
	int broker_down;
};

static struct broker *aw_broker(void *arg, enum app_service s, const char *id,
				struct ecom_err *err)
{
	struct aw *w = arg;

	return mem_broker_new(w->cluster, id);
}

static struct store *aw_store(void *arg, enum app_service s, struct ecom_err *err)
{
	return mem_store_new();
}

static int aw_read(void *arg, const char *topic, int32_t p, int64_t off, struct broker_msg *m)
{
	return mem_cluster_read(((struct aw *)arg)->cluster, topic, p, off, m);
}

static int aw_broker_ready(void *arg, enum app_service s, struct ecom_err *err)
{
	if (((struct aw *)arg)->broker_down)
		return ecom_err_set(err, ECOM_UNAVAILABLE, "connection refused");
	return ECOM_OK;
}

static void aw_sse(void *arg, const char *order_id, const char *id, const char *data)
{
	struct aw *w = arg;

	assert_non_null(id);
	assert_null(strchr(data, '\n'));
	w->n_sse++;
	snprintf(w->sse_order, sizeof(w->sse_order), "%s", order_id);
}

static void aw_log(void *arg, enum app_log_level level, const char *json)
{
	json_t *j = json_loads(json, 0, NULL);

	assert_non_null(j); /* every log line is one JSON object */
	assert_non_null(jsonx_str(j, "service"));
	json_decref(j);
	((struct aw *)arg)->n_logs++;
}

static int aw_allow(void *arg, const char *authz, struct ecom_err *err)
{
	return 0;
}

static int aw_forward(void *arg, const char *op, const char *id, const char *v, json_t **resp,
		      struct ecom_err *err)
{
	struct aw *w = arg;

	w->forwarded++;
	if (strcmp(v, "payment") == 0)
		return ecom_err_set(err, ECOM_REFUSED, "order service: order is SHIPPED");
	*resp = json_pack("{s:s,s:s}", "forwarded", op, "orderId", id);
	return ECOM_OK;
}

static struct aw *aw_new(uint64_t seed, uint32_t services, int with_auth, double decline)
{
	struct aw *w = ecom_xcalloc(1, sizeof(*w));
	struct sim_adapter_rates gr = {.decline = decline}, cr = {0};
	struct app_backends be = {.arg = w, .broker_new = aw_broker, .store_new = aw_store,
				  .read_original = aw_read, .broker_ready = aw_broker_ready};
	struct app_config cfg = {0};
	struct ecom_err err = {0};

	manual_clock_init(&w->clk, AW_EPOCH_MS);
	w->clk.now_us = 1000000;
	rng_seed(&w->rng, seed);
	rng_split(&w->rng, &w->gw_rng);
	rng_split(&w->rng, &w->car_rng);
	catalog_init_default(&w->cat, 5);
	w->cluster = mem_cluster_new(3, &w->clk.base);
	w->gw = sim_gateway_new(&gr, &w->gw_rng, &w->clk.base);
	w->car = sim_carrier_new(&cr, &w->car_rng, &w->clk.base);
	cfg.services = services;
	cfg.clock = &w->clk.base;
	cfg.rng = &w->rng;
	cfg.catalog = &w->cat;
	cfg.gateway = sim_gateway_iface(w->gw);
	cfg.carrier = sim_carrier_iface(w->car);
	cfg.seed_stock = 1;
	cfg.authorize = with_auth ? aw_allow : NULL;
	cfg.log_line = aw_log;
	cfg.log_arg = w;
	cfg.log_level = APP_LOG_DEBUG;
	cfg.sse = aw_sse;
	cfg.sse_arg = w;
	if (!(services & (1u << APP_ORDER))) {
		cfg.forward_admin = aw_forward;
		cfg.forward_arg = w;
	}
	w->app = app_new(&cfg, &be, &err);
	assert_non_null(w->app);
	assert_int_equal(app_start(w->app, &err), ECOM_OK);
	return w;
}

static void aw_free(struct aw *w)
{
	app_free(w->app);
	sim_gateway_free(w->gw);
	sim_carrier_free(w->car);
	mem_cluster_free(w->cluster);
	catalog_deinit(&w->cat);
	free(w);
}

static void aw_run(struct aw *w)
{
	int64_t end = w->clk.now_us + AW_RUN_US, next;

	while (w->clk.now_us < end) {
		if (!app_step(w->app, &next))
			w->clk.now_us += AW_TICK_US;
	}
}

/* A request through a service's real http_api; the body of the answer in *body (freed by
 * the caller), the status returned. */
static int aw_call(struct aw *w, enum app_service s, const char *method, const char *path,
		   const char *body, char **out)
{
	struct http_request req = {.method = method, .path = path, .body = body,
				   .body_len = body ? strlen(body) : 0,
				   .authorization = "Bearer t"};
	struct http_response r;
	int st;

	routes_handle(app_http_api(w->app, s), &req, &r);
	st = r.status;
	if (out) {
		*out = r.body ? r.body : ecom_xstrdup("");
		r.body = NULL;
	}
	http_response_deinit(&r);
	return st;
}

static const char *aw_status(struct aw *w, const char *id)
{
	static char st[64];
	char path[256], *body;
	json_t *j;

	snprintf(path, sizeof(path), "/orders/%s", id);
	if (aw_call(w, APP_READ_MODEL, "GET", path, NULL, &body) != 200) {
		free(body);
		return "(none)";
	}
	j = json_loads(body, 0, NULL);
	snprintf(st, sizeof(st), "%s", jsonx_str_or(j, "status", "(none)"));
	json_decref(j);
	free(body);
	return st;
}

static void test_app_orders(void **state)
{
	struct aw *w = aw_new(7, APP_ALL_SERVICES, 1, 0);
	char *body;
	struct metric *f;

	(void)state;
	assert_int_equal(aw_call(w, APP_ORDER, "POST", "/orders",
				 "{\"orderId\":\"a1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],"
				 "\"total\":20}", NULL), 201);
	assert_int_equal(aw_call(w, APP_ORDER, "POST", "/orders",
				 "{\"orderId\":\"a1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],"
				 "\"total\":20}", NULL), 200);
	assert_int_equal(aw_call(w, APP_ORDER, "POST", "/orders",
				 "{\"orderId\":\"a2\",\"items\":[{\"sku\":\"SKU-2\",\"qty\":9}],"
				 "\"total\":90}", NULL), 201);
	assert_int_equal(aw_call(w, APP_ORDER, "POST", "/orders",
				 "{\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":11}", &body),
			 400);
	assert_non_null(strstr(body, "total"));
	free(body);
	aw_run(w);
	assert_string_equal(aw_status(w, "a1"), "SHIPPED");
	assert_string_equal(aw_status(w, "a2"), "CANCELLED"); /* 9 > 5 in stock */
	assert_true(w->n_sse >= 6);
	assert_true(w->n_logs > 0);

	/* admin: illegal -> 409 with the reason; legal -> 200 */
	assert_int_equal(aw_call(w, APP_ORDER, "POST", "/admin/retry/a1", "{\"step\":\"payment\"}",
				 &body), 409);
	assert_non_null(strstr(body, "SHIPPED"));
	free(body);
	assert_int_equal(aw_call(w, APP_READ_MODEL, "POST", "/admin/retry/a2",
				 "{\"step\":\"inventory\"}", NULL), 200);
	assert_int_equal(aw_call(w, APP_ORDER, "GET", "/health/ready", NULL, NULL), 200);

	/* metrics from the runtimes' observer and the stores */
	f = metrics_find(app_metrics(w->app, APP_INVENTORY), "ecom_events_processed_total");
	assert_true(metric_value(f, (const char *[]){"inventory", "order.OrderCreated.v1",
						      "handled"}) == 2);
	assert_int_equal(aw_call(w, APP_ORDER, "GET", "/metrics", NULL, &body), 200);
	assert_non_null(strstr(body, "ecom_sagas{status=\"SHIPPED\"} 1\n"));
	assert_non_null(strstr(body, "ecom_http_requests_total{service=\"order\",route=\"/orders\","
				     "code=\"201\"} 2\n"));
	free(body);
	aw_free(w);
}

static void test_app_no_secret(void **state)
{
	struct aw *w = aw_new(7, APP_ALL_SERVICES, 0, 0);
	char *body;

	(void)state;
	assert_int_equal(aw_call(w, APP_READ_MODEL, "GET", "/admin/dlq", NULL, &body), 503);
	assert_non_null(strstr(body, "JWT_SECRET"));
	free(body);
	/* readiness follows the broker probe */
	assert_int_equal(aw_call(w, APP_PAYMENT, "GET", "/health/ready", NULL, NULL), 200);
	w->broker_down = 1;
	assert_int_equal(aw_call(w, APP_PAYMENT, "GET", "/health/ready", NULL, &body), 503);
	assert_non_null(strstr(body, "broker: connection refused"));
	free(body);
	assert_int_equal(aw_call(w, APP_PAYMENT, "GET", "/health/live", NULL, NULL), 200);
	aw_free(w);
}

/* Poison on a topic three groups consume -> one dead letter; replay republishes the original
 * bytes once, with x-replay, and a second replay changes nothing. */
static void test_app_dlq_replay(void **state)
{
	struct aw *w = aw_new(11, APP_ALL_SERVICES, 1, 0);
	struct broker *p = mem_broker_new(w->cluster, "poisoner");
	struct broker_record rec = {.topic = "order.OrderCreated.v1", .key = "px", .key_len = 2,
				    .value = "not json", .value_len = 8};
	const char *topic = rec.topic;
	int64_t before = 0, after = 0;
	char *body;
	json_t *j;

	(void)state;
	assert_int_equal(broker_produce(p, &rec, NULL), ECOM_OK);
	broker_destroy(p);
	aw_run(w);
	assert_int_equal(aw_call(w, APP_READ_MODEL, "GET", "/admin/dlq", NULL, &body), 200);
	j = json_loads(body, 0, NULL);
	free(body);
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(jsonx_str(json_array_get(j, 0), "topic"), topic);
	json_decref(j);
	for (int32_t i = 0; i < mem_cluster_partitions(w->cluster, topic); i++)
		before += mem_cluster_end_offset(w->cluster, topic, i);

	assert_int_equal(aw_call(w, APP_READ_MODEL, "POST", "/admin/dlq/replay",
				 "{\"topic\":\"order.OrderCreated.v1.dlq\"}", &body), 200);
	assert_non_null(strstr(body, "\"replayed\":1"));
	free(body);
	for (int32_t i = 0; i < mem_cluster_partitions(w->cluster, topic); i++) {
		int64_t end = mem_cluster_end_offset(w->cluster, topic, i);
		struct broker_msg m;

		after += end;
		if (end > 1) {
			assert_int_equal(mem_cluster_read(w->cluster, topic, i, end - 1, &m), ECOM_OK);
			assert_string_equal(m.value, "not json");
			assert_string_equal(broker_msg_header(&m, RT_HDR_REPLAY), "1");
		}
	}
	assert_int_equal(after, before + 1);
	assert_int_equal(aw_call(w, APP_READ_MODEL, "POST", "/admin/dlq/replay",
				 "{\"all\":true}", &body), 200);
	/* the first dead letter is not replayed again (the replayed copy failed again and is
	 * a new dead letter once the read model folded it) */
	assert_non_null(strstr(body, "\"alreadyReplayed\":[\"order.OrderCreated.v1:"));
	free(body);
	aw_free(w);
}

static void test_app_forwarding(void **state)
{
	struct aw *w = aw_new(3, 1u << APP_READ_MODEL, 1, 0);
	char *body;

	(void)state;
	assert_int_equal(aw_call(w, APP_READ_MODEL, "POST", "/admin/retry/zz",
				 "{\"step\":\"inventory\"}", &body), 200);
	assert_non_null(strstr(body, "\"forwarded\":\"retry\""));
	free(body);
	assert_int_equal(aw_call(w, APP_READ_MODEL, "POST", "/admin/retry/zz",
				 "{\"step\":\"payment\"}", &body), 409);
	assert_non_null(strstr(body, "order is SHIPPED"));
	free(body);
	assert_int_equal(w->forwarded, 2);
	/* the read model alone has no POST /orders */
	assert_int_equal(aw_call(w, APP_READ_MODEL, "POST", "/orders", "{}", NULL), 405);
	aw_free(w);
}

/* The same seed and the same requests give the same answers, byte for byte. */
static char *aw_script(uint64_t seed)
{
	struct aw *w = aw_new(seed, APP_ALL_SERVICES, 1, 0.5);
	char *list;

	for (int i = 0; i < 6; i++)
		assert_int_equal(aw_call(w, APP_ORDER, "POST", "/orders",
					 "{\"items\":[{\"sku\":\"SKU-3\",\"qty\":1}],\"total\":10}",
					 NULL), 201);
	aw_run(w);
	assert_int_equal(aw_call(w, APP_READ_MODEL, "GET", "/orders", NULL, &list), 200);
	aw_free(w);
	return list;
}

static void test_app_deterministic(void **state)
{
	char *a = aw_script(42), *b = aw_script(42), *c = aw_script(43);

	(void)state;
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_non_null(strstr(a, "SHIPPED"));
	free(a);
	free(b);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_health_and_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_and_method, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_and_dlq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sse, setup, teardown),
		cmocka_unit_test(test_sse_format),
		cmocka_unit_test_setup_teardown(test_static, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cors_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
		cmocka_unit_test(test_app_orders),
		cmocka_unit_test(test_app_no_secret),
		cmocka_unit_test(test_app_dlq_replay),
		cmocka_unit_test(test_app_forwarding),
		cmocka_unit_test(test_app_deterministic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
