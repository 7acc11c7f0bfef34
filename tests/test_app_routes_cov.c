/* test_app_routes_cov.c — the serving code's less travelled paths, each asserted on what a
 * client or operator sees: the router's 400/404/405/413/414/503 answers naming the problem
 * (src/http/routes.c); the app wiring on in-memory backends with failing stores and brokers
 * (src/app/app.c: readiness, metrics scans, admin refusals, DLQ replay rebuilt from the dead
 * letter); the libmicrohttpd server over real sockets (SSE backlog, live messages, slow
 * readers cut, the stream limit, 413 on a streamed body, shutdown ending streams); the
 * admin-forwarding client (backends/http/http_client.c); JWT edge cases; the CLI tools'
 * HTTP client against scripted servers (src/cli/cli_http.c, compiled in here as
 * test_cli_http.c does); and the abort paths of src/core/ecom.c in child processes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "core/metrics.h"
#include "core/rng.h"
#include "event/event.h"
#include "event/jsonx.h"
#include "http/routes.h"
#include "runtime/runtime.h"
#include "services/read-model/read_model.h"
#include "sim/mem_broker.h"
#include "sim/mem_store.h"
#include "sim/sim_adapters.h"

#ifdef ECOM_HAVE_BACKENDS
#include "backends/http/http_client.h"
#include "backends/http/http_server.h"
#include "backends/http/jwt_auth.h"
#endif

/* The CLI's client is not in a library: compiled in, as tests/test_cli_http.c does. */
#include "src/cli/cli_http.c"

/* ==== 1. the router (src/http/routes.c) against a scripted api ============================ */

struct rf {
	int rc;         /* what every callback returns */
	int with_msg;   /* whether a failing callback sets err->msg */
	int null_out;   /* succeed without an answer object */
	int auth_status;
	int auth_msg;
	int timeline_kind; /* 0 array, 1 not an array, 2 odd ids */
	char last[256];
	int calls;
};

static int rf_fail(struct rf *f, struct ecom_err *err)
{
	f->calls++;
	if (f->rc != ECOM_OK && f->with_msg)
		return ecom_err_set(err, f->rc, "scripted failure %d", f->rc);
	return f->rc;
}

static int rf_create(void *arg, json_t *body, json_t **resp, int *created, struct ecom_err *err)
{
	struct rf *f = arg;

	*created = 1;
	if (f->rc == ECOM_OK && !f->null_out)
		*resp = json_pack("{s:s}", "orderId", "made");
	return rf_fail(f, err);
}

static int rf_get(void *arg, const char *id, json_t **out, struct ecom_err *err)
{
	struct rf *f = arg;

	snprintf(f->last, sizeof(f->last), "get %s", id);
	if (f->rc == ECOM_OK)
		*out = json_pack("{s:s}", "_id", id);
	return rf_fail(f, err);
}

static int rf_admin(void *arg, const char *id, const char *what, json_t **resp,
		    struct ecom_err *err)
{
	struct rf *f = arg;

	snprintf(f->last, sizeof(f->last), "admin %s %s", id, what);
	if (f->rc == ECOM_OK && !f->null_out)
		*resp = json_pack("{s:s}", "did", what);
	return rf_fail(f, err);
}

static int rf_list(void *arg, const char *status, size_t limit, json_t **out,
		   struct ecom_err *err)
{
	struct rf *f = arg;

	snprintf(f->last, sizeof(f->last), "list %s %zu", status ? status : "-", limit);
	if (f->rc == ECOM_OK)
		*out = json_array();
	return rf_fail(f, err);
}

static int rf_timeline(void *arg, const char *id, json_t **entries, struct ecom_err *err)
{
	struct rf *f = arg;

	if (f->rc != ECOM_OK)
		return rf_fail(f, err);
	if (f->timeline_kind == 1)
		*entries = json_pack("{s:s}", "not", "an array");
	else if (f->timeline_kind == 2) /* no eventId, then one an SSE id line cannot carry */
		*entries = json_pack("[{s:s},{s:s}]", "type", "a", "eventId", "x\ny");
	else
		*entries = json_pack("[{s:s},{s:s}]", "eventId", "e1", "eventId", "e2");
	return ECOM_OK;
}

static int rf_dlq_list(void *arg, const char *topic, const char *oid, json_t **out,
		       struct ecom_err *err)
{
	struct rf *f = arg;

	snprintf(f->last, sizeof(f->last), "dlq %s %s", topic ? topic : "-", oid ? oid : "-");
	if (f->rc == ECOM_OK)
		*out = json_array();
	return rf_fail(f, err);
}

static int rf_replay(void *arg, const char *id, const char *topic, const char *oid, int all,
		     json_t **out, struct ecom_err *err)
{
	struct rf *f = arg;

	snprintf(f->last, sizeof(f->last), "replay %s %s %s %d", id ? id : "-",
		 topic ? topic : "-", oid ? oid : "-", all);
	if (f->rc == ECOM_OK && !f->null_out)
		*out = json_pack("{s:i}", "replayed", 0);
	return rf_fail(f, err);
}

static int rf_file(void *arg, const char *rel, char **data, size_t *len)
{
	struct rf *f = arg;

	snprintf(f->last, sizeof(f->last), "file %s", rel);
	if (f->rc != ECOM_OK)
		return f->rc;
	*data = ecom_xstrdup("bytes");
	*len = 5;
	return ECOM_OK;
}

static int rf_produce(void *arg, const char *topic, const char *key, const char *value,
		      size_t value_len, json_t **out, struct ecom_err *err)
{
	struct rf *f = arg;

	snprintf(f->last, sizeof(f->last), "produce %s %s %zu", topic, key ? key : "-",
		 value_len);
	if (f->rc == ECOM_OK && !f->null_out)
		*out = json_pack("{s:s}", "topic", topic);
	return rf_fail(f, err);
}

static int rf_auth(void *arg, const char *authz, struct ecom_err *err)
{
	struct rf *f = arg;

	if (f->auth_status && f->auth_msg)
		ecom_err_set(err, ECOM_INVALID, "scripted refusal");
	return f->auth_status;
}

struct rw {
	struct rf f;
	struct metrics *m;
	struct http_api api; /* every route on one api */
};

static int rw_setup(void **state)
{
	struct rw *w = ecom_xcalloc(1, sizeof(*w));

	w->m = metrics_new();
	w->api = (struct http_api){
		.service = "svc", .arg = &w->f, .order_create = rf_create, .order_get = rf_get,
		.order_retry = rf_admin, .order_compensate = rf_admin, .rm_list = rf_list,
		.rm_timeline = rf_timeline, .dlq_list = rf_dlq_list, .dlq_replay = rf_replay,
		.read_file = rf_file, .metrics = w->m, .authorize = rf_auth, .auth_arg = &w->f,
		.debug_produce = rf_produce, .debug_arg = &w->f,
	};
	w->f.with_msg = 1;
	routes_init(&w->api);
	routes_init(&w->api); /* a second init keeps the one family */
	*state = w;
	return 0;
}

static int rw_teardown(void **state)
{
	struct rw *w = *state;

	metrics_free(w->m);
	free(w);
	return 0;
}

/* One request; the status returned, the "error" text (or the body) in msg. */
static int rq(const struct http_api *api, const char *method, const char *path, const char *body,
	      char *msg, size_t cap)
{
	struct http_request req = {.method = method, .path = path, .body = body,
				   .body_len = body ? strlen(body) : 0,
				   .authorization = "Bearer x"};
	struct http_response r;
	json_t *j;
	int st;

	routes_handle(api, &req, &r);
	st = r.status;
	if (msg) {
		j = r.body ? json_loadb(r.body, r.body_len, 0, NULL) : NULL;
		snprintf(msg, cap, "%s",
			 jsonx_str(j, "error") ? jsonx_str(j, "error") : r.body ? r.body : "");
		json_decref(j);
	}
	http_response_deinit(&r);
	return st;
}

#define MSG_CAP 600
#define ASSERT_ANSWER(api, method, path, body, code, substr)                                 \
	do {                                                                                  \
		char m_[MSG_CAP];                                                             \
		assert_int_equal(rq(api, method, path, body, m_, sizeof(m_)), code);          \
		if (!strstr(m_, substr))                                                      \
			fail_msg("%s %s: '%s' does not name '%s'", method, path, m_, substr);   \
	} while (0)

static void test_routes_status_and_reason_tables(void **state)
{
	static const int codes[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 414,
				    500, 503};
	static const char *const reasons[] = {
		"OK", "Created", "No Content", "Bad Request", "Unauthorized", "Forbidden",
		"Not Found", "Method Not Allowed", "Conflict", "Payload Too Large",
		"URI Too Long", "Internal Server Error", "Service Unavailable"};

	(void)state;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(codes); i++)
		assert_string_equal(http_reason(codes[i]), reasons[i]);
	assert_string_equal(http_reason(299), "Unknown");
	assert_int_equal(http_status_for_rc(ECOM_OK), 200);
	assert_int_equal(http_status_for_rc(ECOM_NOT_FOUND), 404);
	assert_int_equal(http_status_for_rc(ECOM_CONFLICT), 409);
	assert_int_equal(http_status_for_rc(ECOM_REFUSED), 409);
	assert_int_equal(http_status_for_rc(ECOM_INVALID), 400);
	assert_int_equal(http_status_for_rc(ECOM_AMBIGUOUS), 503);
	assert_int_equal(http_status_for_rc(ECOM_UNAVAILABLE), 503);
	http_response_deinit(NULL); /* a no-op */
}

static void test_routes_bad_requests_name_the_problem(void **state)
{
	struct rw *w = *state;
	struct http_request req = {.method = "GET", .path = NULL};
	struct http_response r;
	char path[HTTP_PATH_MAX + 32], msg[MSG_CAP];

	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "path: must start with '/'"));
	http_response_deinit(&r);
	req = (struct http_request){.method = NULL, .path = "/health"};
	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 400);
	http_response_deinit(&r);

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	ASSERT_ANSWER(&w->api, "GET", path, NULL, 414, "path: longer than 1024 bytes");
	/* a long unknown path is not echoed back in full */
	path[300] = '\0';
	path[1] = '.';
	ASSERT_ANSWER(&w->api, "GET", path, NULL, 404, "(long path)");
	ASSERT_ANSWER(&w->api, "POST", path, "{}", 404, "(long path)");
	/* a long method is cut too */
	ASSERT_ANSWER(&w->api, "PROPFINDPROPFINDPROPFIND", "/health", NULL, 405, "(long)");
	ASSERT_ANSWER(&w->api, "BREW", "/health", NULL, 405, "allowed: GET, HEAD, OPTIONS");
	/* 413 from the length alone (the server may hand over a longer buffer) */
	{
		char *big = ecom_xmalloc(HTTP_BODY_MAX + 2);

		memset(big, ' ', HTTP_BODY_MAX + 1);
		big[HTTP_BODY_MAX + 1] = '\0';
		assert_int_equal(rq(&w->api, "POST", "/orders", big, msg, sizeof(msg)), 413);
		assert_non_null(strstr(msg, "larger than 65536 bytes"));
		free(big);
	}
	assert_int_equal(w->f.calls, 0);
	/* body shapes */
	ASSERT_ANSWER(&w->api, "POST", "/orders", NULL, 400, "body: required (a JSON object)");
	ASSERT_ANSWER(&w->api, "POST", "/admin/retry/o1", NULL, 400, "body: required");
	ASSERT_ANSWER(&w->api, "POST", "/admin/compensate/o1", "7", 400,
		      "body: must be a JSON object");
	ASSERT_ANSWER(&w->api, "POST", "/admin/compensate/o1", "{\"action\":\"\"}", 400,
		      "action: must be a non-empty string");
	ASSERT_ANSWER(&w->api, "POST", "/admin/dlq/replay", "", 400, "body: required");
	ASSERT_ANSWER(&w->api, "POST", "/admin/dlq/replay", "{\"all\":\"yes\"}", 400,
		      "all: must be true");
	ASSERT_ANSWER(&w->api, "POST", "/admin/dlq/replay", "{\"id\":5}", 400,
		      "id: must be a non-empty string");
	ASSERT_ANSWER(&w->api, "POST", "/admin/dlq/replay", "{\"topic\":[]}", 400,
		      "topic: must be a non-empty string");
	ASSERT_ANSWER(&w->api, "POST", "/admin/dlq/replay", "{\"topic\":\"t\",\"orderId\":1}",
		      400, "orderId: must be a non-empty string");
	ASSERT_ANSWER(&w->api, "POST", "/admin/dlq/replay", "{}", 400, "exactly one of");
	assert_int_equal(w->f.calls, 0); /* nothing reached the service */
	/* ids and filters */
	ASSERT_ANSWER(&w->api, "GET", "/orders/a\x7f", NULL, 400, "id: must be 1..128");
	ASSERT_ANSWER(&w->api, "GET", "/orders/caf\xc3\xa9", NULL, 400, "id: ");
}

static void test_routes_list_filters(void **state)
{
	struct rw *w = *state;
	struct http_param q[3] = {{"limit", NULL}};
	struct http_request req = {.method = "GET", .path = "/orders", .query = q, .n_query = 1};
	struct http_response r;
	static const char *const bad_limits[] = {"", "1234567", "12a", "-5", "1001", "0"};

	for (size_t i = 0; i < ECOM_ARRAY_LEN(bad_limits); i++) {
		q[0].value = bad_limits[i];
		routes_handle(&w->api, &req, &r);
		assert_int_equal(r.status, 400);
		assert_non_null(strstr(r.body, "limit: must be an integer 1..1000"));
		http_response_deinit(&r);
	}
	/* a key without a value reads as "" and an unnamed parameter is skipped */
	q[0] = (struct http_param){NULL, "x"};
	q[1] = (struct http_param){"status", NULL};
	q[2] = (struct http_param){"limit", "1000"};
	req.n_query = 3;
	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(w->f.last, "list - 1000");
	http_response_deinit(&r);
	q[1].value = "shipped";
	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "status: must be an order status such as SHIPPED"));
	http_response_deinit(&r);
	q[1].value = "A_VERY_LONG_STATUS_NAME_THAT_IS_NOT_ONE";
	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 400);
	http_response_deinit(&r);
	q[1].value = "9";
	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 400);
	http_response_deinit(&r);
	/* the service failing: its reason, or the code's name when it gives none */
	q[1].value = "SHIPPED";
	w->f.rc = ECOM_UNAVAILABLE;
	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "scripted failure 3"));
	assert_string_equal(r.headers[0].name, "Retry-After");
	http_response_deinit(&r);
	w->f.with_msg = 0;
	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.body, "\"error\":\"UNAVAILABLE\""));
	http_response_deinit(&r);
}

static void test_routes_dlq_filters(void **state)
{
	struct rw *w = *state;
	struct http_param q[2] = {{"topic", ""}, {"orderId", ""}};
	struct http_request req = {.method = "GET", .path = "/admin/dlq", .query = q,
				   .n_query = 2, .authorization = "Bearer x"};
	struct http_response r;

	routes_handle(&w->api, &req, &r); /* empty filters mean none */
	assert_int_equal(r.status, 200);
	assert_string_equal(w->f.last, "dlq - -");
	http_response_deinit(&r);
	q[0].value = "a topic";
	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "topic: must be a topic name"));
	http_response_deinit(&r);
	q[0].value = "t";
	q[1].value = "o/1";
	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "orderId: must be 1..128 printable characters"));
	http_response_deinit(&r);
	q[1].value = "o1";
	w->f.rc = ECOM_UNAVAILABLE;
	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 503);
	http_response_deinit(&r);
	assert_string_equal(w->f.last, "dlq t o1");
}

static void test_routes_callbacks_fail_or_answer_nothing(void **state)
{
	struct rw *w = *state;

	/* a success without an answer object still answers a JSON object */
	w->f.null_out = 1;
	ASSERT_ANSWER(&w->api, "POST", "/orders", "{}", 201, "{}");
	ASSERT_ANSWER(&w->api, "POST", "/admin/retry/o1", "{\"step\":\"payment\"}", 200, "{}");
	ASSERT_ANSWER(&w->api, "POST", "/admin/compensate/o1", "{\"action\":\"refundPayment\"}",
		      200, "{}");
	ASSERT_ANSWER(&w->api, "POST", "/admin/dlq/replay", "{\"id\":\"t:0:1\"}", 200, "{}");
	ASSERT_ANSWER(&w->api, "POST", "/debug/produce", "{\"topic\":\"t\",\"value\":\"v\"}",
		      200, "{}");
	w->f.null_out = 0;
	/* failures map to their status with the service's reason */
	w->f.rc = ECOM_CONFLICT;
	ASSERT_ANSWER(&w->api, "GET", "/orders/o9", NULL, 409, "scripted failure 2");
	ASSERT_ANSWER(&w->api, "POST", "/admin/compensate/o9", "{\"action\":\"x\"}", 409,
		      "scripted failure 2");
	ASSERT_ANSWER(&w->api, "POST", "/admin/dlq/replay",
		      "{\"topic\":\"t.dlq\",\"orderId\":\"o9\"}", 409, "scripted failure 2");
	assert_string_equal(w->f.last, "replay - t.dlq o9 0");
	ASSERT_ANSWER(&w->api, "POST", "/debug/produce",
		      "{\"topic\":\"t\",\"value\":\"v\",\"key\":\"k\"}", 409, "scripted failure");
	assert_string_equal(w->f.last, "produce t k 1");
	w->f.rc = ECOM_INVALID;
	ASSERT_ANSWER(&w->api, "GET", "/orders/o9/stream", NULL, 400, "scripted failure 5");
	w->f.rc = ECOM_NOT_FOUND;
	ASSERT_ANSWER(&w->api, "GET", "/orders/o9", NULL, 404, "order o9 not found");
}

static void test_routes_debug_produce_validation(void **state)
{
	struct rw *w = *state;
	struct http_api no_debug = w->api;

	ASSERT_ANSWER(&w->api, "POST", "/debug/produce", "{", 400, "body: malformed JSON");
	ASSERT_ANSWER(&w->api, "POST", "/debug/produce", "{\"value\":\"v\"}", 400,
		      "topic: required");
	ASSERT_ANSWER(&w->api, "POST", "/debug/produce", "{\"topic\":\"a b\",\"value\":\"v\"}",
		      400, "topic: must be a topic name");
	ASSERT_ANSWER(&w->api, "POST", "/debug/produce", "{\"topic\":\"t\"}", 400,
		      "value: required (a string, produced as it is)");
	ASSERT_ANSWER(&w->api, "POST", "/debug/produce", "{\"topic\":\"t\",\"value\":{}}", 400,
		      "value: required");
	ASSERT_ANSWER(&w->api, "POST", "/debug/produce",
		      "{\"topic\":\"t\",\"value\":\"v\",\"key\":\"\"}", 400,
		      "key: must be a non-empty string");
	assert_int_equal(w->f.calls, 0);
	ASSERT_ANSWER(&w->api, "POST", "/debug/produce", "{\"topic\":\"t\",\"value\":\"abc\"}",
		      200, "\"topic\":\"t\"");
	assert_string_equal(w->f.last, "produce t - 3");
	/* without the hook the route does not exist */
	no_debug.debug_produce = NULL;
	ASSERT_ANSWER(&no_debug, "POST", "/debug/produce", "{}", 404, "no route");
}

static void test_routes_sse_timelines(void **state)
{
	struct rw *w = *state;
	struct http_request req = {.method = "GET", .path = "/orders/o1/stream",
				   .last_event_id = ""};
	struct http_response r;

	routes_handle(&w->api, &req, &r); /* an empty Last-Event-ID replays everything */
	assert_int_equal(r.kind, HTTP_KIND_SSE);
	assert_non_null(strstr(r.body, "id: e1\n"));
	assert_non_null(strstr(r.body, "id: e2\n"));
	http_response_deinit(&r);
	req.last_event_id = "e2";
	routes_handle(&w->api, &req, &r);
	assert_string_equal(r.body, "retry: 2000\n\n");
	http_response_deinit(&r);
	/* entries without a usable id are sent without an id: line */
	w->f.timeline_kind = 2;
	req.last_event_id = NULL;
	routes_handle(&w->api, &req, &r);
	assert_null(strstr(r.body, "id: "));
	assert_non_null(strstr(r.body, "data: {\"type\":\"a\"}\n\n"));
	assert_non_null(strstr(r.body, "data: {\"eventId\":\"x\\ny\"}\n\n"));
	http_response_deinit(&r);
	/* resuming from an id the timeline does not have replays everything */
	req.last_event_id = "zzz";
	routes_handle(&w->api, &req, &r);
	assert_non_null(strstr(r.body, "data: {\"type\":\"a\"}\n\n"));
	http_response_deinit(&r);
	req.last_event_id = NULL;
	/* a timeline that is not an array opens the stream with nothing in it */
	w->f.timeline_kind = 1;
	routes_handle(&w->api, &req, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "retry: 2000\n\n");
	http_response_deinit(&r);
}

static void test_routes_static_files(void **state)
{
	struct rw *w = *state;
	char path[400];

	ASSERT_ANSWER(&w->api, "GET", "/a/b.woff2", NULL, 200, "bytes");
	assert_string_equal(w->f.last, "file a/b.woff2");
	{
		struct http_request req = {.method = "GET", .path = "/LICENSE"};
		struct http_response r;

		routes_handle(&w->api, &req, &r);
		assert_string_equal(r.content_type, "application/octet-stream");
		http_response_deinit(&r);
		req.path = "/x.unknown";
		routes_handle(&w->api, &req, &r);
		assert_string_equal(r.content_type, "application/octet-stream");
		http_response_deinit(&r);
		req.path = "/s.svg";
		routes_handle(&w->api, &req, &r);
		assert_string_equal(r.content_type, "image/svg+xml");
		http_response_deinit(&r);
	}
	/* refused before the disk is touched */
	w->f.last[0] = '\0';
	ASSERT_ANSWER(&w->api, "GET", "/a//b.js", NULL, 404, "no route for GET /a//b.js");
	ASSERT_ANSWER(&w->api, "GET", "/dir/", NULL, 404, "no route");
	ASSERT_ANSWER(&w->api, "GET", "/a$b", NULL, 404, "no route");
	ASSERT_ANSWER(&w->api, "GET", "/UP_per-case_0.9.txt~", NULL, 404, "no route");
	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	ASSERT_ANSWER(&w->api, "GET", path, NULL, 404, "(long path)");
	assert_string_equal(w->f.last, "");
	/* a read failure that is not "not found" */
	w->f.rc = ECOM_UNAVAILABLE;
	ASSERT_ANSWER(&w->api, "GET", "/app.css", NULL, 503, "app.css: unreadable");
	w->f.rc = ECOM_NOT_FOUND;
	ASSERT_ANSWER(&w->api, "GET", "/app.css", NULL, 404, "app.css: not found");
}

static void test_routes_admin_and_cors(void **state)
{
	struct rw *w = *state;
	struct http_api a = w->api;
	struct http_request req = {.method = "GET", .path = "/health", .origin = "http://b"};
	struct http_response r;

	/* a refusal without a message says the status' reason */
	w->f.auth_status = 403;
	ASSERT_ANSWER(&w->api, "POST", "/admin/retry/o1", "{\"step\":\"x\"}", 403, "Forbidden");
	w->f.auth_msg = 1;
	ASSERT_ANSWER(&w->api, "POST", "/admin/retry/o1", "{\"step\":\"x\"}", 403,
		      "scripted refusal");
	w->f.auth_status = 0;
	/* CORS: none configured, an empty list, a list with spaces, no Origin */
	a.cors_origin = "";
	routes_handle(&a, &req, &r);
	assert_int_equal(r.n_headers, 0);
	http_response_deinit(&r);
	a.cors_origin = "  ,http://a,   http://b";
	routes_handle(&a, &req, &r);
	assert_int_equal(r.n_headers, 2);
	assert_string_equal(r.headers[0].value, "http://b");
	http_response_deinit(&r);
	req.origin = "";
	routes_handle(&a, &req, &r);
	assert_int_equal(r.n_headers, 0);
	http_response_deinit(&r);
	req.origin = NULL;
	routes_handle(&a, &req, &r);
	assert_int_equal(r.n_headers, 0);
	http_response_deinit(&r);
	/* readiness without a probe is ready; a failing probe without words names the code */
	a.ready = NULL;
	ASSERT_ANSWER(&a, "GET", "/health/ready", NULL, 200, "\"ok\":true");
	/* metrics without a registry: an empty page; with one not initialised: nothing counted */
	a.metrics = NULL;
	ASSERT_ANSWER(&a, "GET", "/metrics", NULL, 200, "");
	{
		struct metrics *m = metrics_new();

		a.metrics = m;
		ASSERT_ANSWER(&a, "GET", "/health", NULL, 200, "\"ok\":true");
		assert_null(metrics_find(m, "ecom_http_requests_total"));
		metrics_free(m);
	}
	/* an api without a registry counts nothing, and says nothing about it */
	a.metrics = NULL;
	routes_init(&a);
	ASSERT_ANSWER(&a, "GET", "/health", NULL, 200, "\"ok\":true");
	/* the order routes need both create and get */
	a.order_get = NULL;
	ASSERT_ANSWER(&a, "POST", "/orders", "{}", 405, "allowed: GET, HEAD, OPTIONS");
}

static int rf_ready_silent(void *arg, struct ecom_err *err)
{
	(void)arg;
	(void)err;
	return ECOM_AMBIGUOUS;
}

static void test_routes_ready_without_words(void **state)
{
	struct rw *w = *state;
	struct http_api a = w->api;

	a.ready = rf_ready_silent;
	ASSERT_ANSWER(&a, "GET", "/health/ready", NULL, 503, "AMBIGUOUS");
}

/* ==== 2. src/core/ecom.c: names, and the abort paths in child processes ===================== */

static void test_ecom_rc_names(void **state)
{
	(void)state;
	assert_string_equal(ecom_rc_name(ECOM_REFUSED), "REFUSED");
	assert_string_equal(ecom_rc_name(-1), "UNKNOWN");
	assert_string_equal(ecom_rc_name(ECOM_RC_COUNT), "UNKNOWN");
	assert_int_equal(ecom_err_set(NULL, ECOM_INVALID, "x"), ECOM_INVALID);
	ecom_err_clear(NULL);
	{
		char *p = ecom_xmalloc(0), *q = ecom_xcalloc(0, 0);

		p = ecom_xrealloc(p, 0);
		assert_non_null(p);
		assert_non_null(q);
		free(p);
		free(q);
	}
}

#define CHILD_ABORTED 134 /* a child's exit code when abort() was called */

/* A child that calls abort() leaves through exit() instead, so that its atexit handlers run
 * (gcov writes the counts of what the child executed there); the code says abort() came. */
static void abort_to_exit(int sig)
{
	(void)sig;
	exit(CHILD_ABORTED);
}

/* Runs fn in a child with stderr captured; returns what it wrote, sets *code to the child's
 * exit code (CHILD_ABORTED after abort()). */
static char *run_child(void (*fn)(void), int *code)
{
	int fds[2], status;
	char *out = ecom_xcalloc(1, 4096);
	size_t n = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		signal(SIGABRT, abort_to_exit);
		fn();
		_exit(0);
	}
	close(fds[1]);
	for (;;) {
		ssize_t r = read(fds[0], out + n, 4095 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	*code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	return out;
}

static void child_assert(void)
{
	int answer = 41;

	ECOM_ASSERT(answer == 42);
}

#if defined(__SANITIZE_ADDRESS__)
#define ECOM_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ECOM_TEST_ASAN 1
#endif
#endif

#ifndef ECOM_TEST_ASAN /* ASan reports an impossible allocation itself */
static void child_oom_malloc(void)
{
	volatile size_t n = SIZE_MAX - 8;

	free(ecom_xmalloc(n));
}

static void child_oom_calloc(void)
{
	volatile size_t n = SIZE_MAX / 2;

	free(ecom_xcalloc(n, 4));
}

static void child_oom_realloc(void)
{
	volatile size_t n = SIZE_MAX - 8;

	free(ecom_xrealloc(NULL, n));
}
#endif

static void test_ecom_aborts(void **state)
{
	int sig;
	char *out;

	(void)state;
	out = run_child(child_assert, &sig);
	assert_int_equal(sig, CHILD_ABORTED);
	assert_non_null(strstr(out, "ecom: assertion failed: answer == 42 (" __FILE__ ":"));
	free(out);
#ifndef ECOM_TEST_ASAN /* ASan reports an impossible allocation itself */
	out = run_child(child_oom_malloc, &sig);
	assert_int_equal(sig, CHILD_ABORTED);
	assert_non_null(strstr(out, "ecom: out of memory allocating"));
	free(out);
	out = run_child(child_oom_calloc, &sig);
	assert_int_equal(sig, CHILD_ABORTED);
	assert_non_null(strstr(out, "ecom: out of memory allocating"));
	free(out);
	out = run_child(child_oom_realloc, &sig);
	assert_int_equal(sig, CHILD_ABORTED);
	assert_non_null(strstr(out, "ecom: out of memory allocating"));
	free(out);
#endif
}

/* ==== 3. the app wiring (src/app/app.c) over switchable failing backends ==================== */

/* What one service's backends do wrong right now. */
struct flaky {
	int store_fail;     /* every store call: ECOM_UNAVAILABLE */
	int store_silent;   /* ... without a message */
	int find_fail;      /* only finds fail */
	int produce_fail;
	int commit_fail;
	int subscribe_fail;
	int no_store, no_broker; /* the factories fail */
};

struct fstore {
	struct store base;
	struct store *inner;
	struct flaky *sw;
};

static int fs_fail(struct flaky *sw, struct ecom_err *err)
{
	if (sw->store_silent)
		return ECOM_UNAVAILABLE;
	return ecom_err_set(err, ECOM_UNAVAILABLE, "disk on fire");
}

static int fs_get(struct store *s, const char *coll, const char *id, json_t **out,
		  struct ecom_err *err)
{
	struct fstore *f = (struct fstore *)s;

	if (f->sw->store_fail)
		return fs_fail(f->sw, err);
	return store_get(f->inner, coll, id, out, err);
}

static int fs_insert(struct store *s, const char *coll, json_t *doc, struct ecom_err *err)
{
	struct fstore *f = (struct fstore *)s;

	if (f->sw->store_fail)
		return fs_fail(f->sw, err);
	return store_insert(f->inner, coll, doc, err);
}

static int fs_replace(struct store *s, const char *coll, json_t *doc, int64_t v,
		      struct ecom_err *err)
{
	struct fstore *f = (struct fstore *)s;

	if (f->sw->store_fail)
		return fs_fail(f->sw, err);
	return store_replace(f->inner, coll, doc, v, err);
}

static int fs_find(struct store *s, const char *coll, const struct store_query *q, json_t **out,
		   struct ecom_err *err)
{
	struct fstore *f = (struct fstore *)s;

	if (f->sw->store_fail || f->sw->find_fail)
		return fs_fail(f->sw, err);
	return store_find(f->inner, coll, q, out, err);
}

static int fs_remove(struct store *s, const char *coll, const char *id, struct ecom_err *err)
{
	struct fstore *f = (struct fstore *)s;

	return store_remove(f->inner, coll, id, err);
}

static void fs_destroy(struct store *s)
{
	struct fstore *f = (struct fstore *)s;

	store_destroy(f->inner);
	free(f);
}

static const struct store_ops fstore_ops = {
	.name = "flaky", .get = fs_get, .insert = fs_insert, .replace = fs_replace,
	.find = fs_find, .remove = fs_remove, .destroy = fs_destroy,
};

struct fbroker {
	struct broker base;
	struct broker *inner;
	struct flaky *sw;
};

static int fb_produce(struct broker *b, const struct broker_record *rec, struct ecom_err *err)
{
	struct fbroker *f = (struct fbroker *)b;

	if (f->sw->produce_fail)
		return ecom_err_set(err, ECOM_UNAVAILABLE, "broker down");
	return broker_produce(f->inner, rec, err);
}

static int fb_subscribe(struct broker *b, const char *group, const char *const *topics,
			size_t n, struct ecom_err *err)
{
	struct fbroker *f = (struct fbroker *)b;

	if (f->sw->subscribe_fail)
		return ecom_err_set(err, ECOM_UNAVAILABLE, "group coordinator unreachable");
	return broker_subscribe(f->inner, group, topics, n, err);
}

static int fb_poll(struct broker *b, int timeout_ms, struct broker_msg *out, struct ecom_err *err)
{
	return broker_poll(((struct fbroker *)b)->inner, timeout_ms, out, err);
}

static int fb_commit(struct broker *b, const char *topic, int32_t p, int64_t off,
		     struct ecom_err *err)
{
	struct fbroker *f = (struct fbroker *)b;

	if (f->sw->commit_fail)
		return ecom_err_set(err, ECOM_CONFLICT, "partition moved");
	return broker_commit(f->inner, topic, p, off, err);
}

static void fb_destroy(struct broker *b)
{
	struct fbroker *f = (struct fbroker *)b;

	broker_destroy(f->inner);
	free(f);
}

static const struct broker_ops fbroker_ops = {
	.name = "flaky", .produce = fb_produce, .subscribe = fb_subscribe, .poll = fb_poll,
	.commit = fb_commit, .destroy = fb_destroy,
};

#define AX_EPOCH_MS 1767225600000LL
#define AX_TICK_US 5000
#define AX_LOG_MAX 64

struct ax {
	struct manual_clock clk;
	struct rng rng, gw_rng, car_rng;
	struct catalog cat;
	struct mem_cluster *cluster;
	struct sim_gateway *gw;
	struct sim_carrier *car;
	struct app *app;
	struct flaky sw[APP_SERVICE_COUNT];
	struct store *stores[APP_SERVICE_COUNT]; /* the inner stores, to plant documents */
	int n_logs, n_warn;
	char logs[AX_LOG_MAX][512]; /* the last lines, a ring */
	/* read_original: 0 = none offered, 1 = always NOT_FOUND, 2 = a scripted message */
	int original_mode;
	int orig_many; /* the original carries more headers than a record may */
	struct broker_header orig_headers[BROKER_MAX_HEADERS + 4];
	int forward_rc;
};

static struct broker *ax_broker(void *arg, enum app_service s, const char *id,
				struct ecom_err *err)
{
	struct ax *x = arg;
	struct fbroker *f;

	if (x->sw[s].no_broker) {
		ecom_err_set(err, ECOM_UNAVAILABLE, "no broker for %s", app_service_name(s));
		return NULL;
	}
	f = ecom_xcalloc(1, sizeof(*f));
	f->base.ops = &fbroker_ops;
	f->inner = mem_broker_new(x->cluster, id);
	f->sw = &x->sw[s];
	return &f->base;
}

static struct store *ax_store(void *arg, enum app_service s, struct ecom_err *err)
{
	struct ax *x = arg;
	struct fstore *f;

	if (x->sw[s].no_store) {
		ecom_err_set(err, ECOM_UNAVAILABLE, "no store for %s", app_service_name(s));
		return NULL;
	}
	f = ecom_xcalloc(1, sizeof(*f));
	f->base.ops = &fstore_ops;
	f->inner = mem_store_new();
	f->sw = &x->sw[s];
	x->stores[s] = f->inner;
	return &f->base;
}

static int ax_read(void *arg, const char *topic, int32_t p, int64_t off, struct broker_msg *m)
{
	struct ax *x = arg;

	if (x->original_mode == 1)
		return ECOM_NOT_FOUND;
	memset(m, 0, sizeof(*m));
	m->topic = topic;
	m->partition = p;
	m->offset = off;
	m->key = "orig-key";
	m->key_len = 8;
	m->value = "original bytes";
	m->value_len = 14;
	x->orig_headers[0] = (struct broker_header){RT_HDR_REPLAY, "1"};
	x->orig_headers[1] = (struct broker_header){"traceparent", "00-abc"};
	m->n_headers = 2;
	if (x->orig_many) {
		for (size_t i = 2; i < ECOM_ARRAY_LEN(x->orig_headers); i++)
			x->orig_headers[i] = (struct broker_header){"x-extra", "e"};
		m->n_headers = ECOM_ARRAY_LEN(x->orig_headers);
	}
	m->headers = x->orig_headers;
	return ECOM_OK;
}

static void ax_log(void *arg, enum app_log_level level, const char *json)
{
	struct ax *x = arg;
	json_t *j = json_loads(json, 0, NULL);

	assert_non_null(j); /* one JSON object per line */
	json_decref(j);
	if (level >= APP_LOG_WARN)
		x->n_warn++;
	snprintf(x->logs[x->n_logs % AX_LOG_MAX], sizeof(x->logs[0]), "%s", json);
	x->n_logs++;
}

static int ax_forward(void *arg, const char *op, const char *id, const char *v, json_t **resp,
		      struct ecom_err *err)
{
	(void)op;
	(void)id;
	(void)v;
	(void)resp;
	(void)err;
	return ((struct ax *)arg)->forward_rc; /* a failure without words */
}

static int ax_file(void *arg, const char *rel, char **data, size_t *len)
{
	(void)arg;
	*data = ecom_xstrdup(rel);
	*len = strlen(rel);
	return ECOM_OK;
}

struct ax_opts {
	uint32_t services;
	int no_log, no_seed, with_files;
	int no_gateway, no_carrier;
	int original_mode;
	int with_forward;
	int with_sse;
	int with_err; /* pass an err to app_new */
	enum app_log_level level;
	double decline;
	struct flaky sw[APP_SERVICE_COUNT];
};

static int ax_allow(void *arg, const char *authz, struct ecom_err *err)
{
	(void)arg;
	(void)authz;
	(void)err;
	return 0;
}

static void ax_sse(void *arg, const char *order_id, const char *id, const char *data)
{
	(void)arg;
	(void)order_id;
	(void)id;
	(void)data;
}

/* Returns the world, with x->app NULL when app_new refused (err filled). */
static struct ax *ax_new(const struct ax_opts *o, struct ecom_err *err)
{
	struct ax *x = ecom_xcalloc(1, sizeof(*x));
	struct sim_adapter_rates gr = {.decline = o->decline}, cr = {0};
	struct app_backends be = {.arg = x, .broker_new = ax_broker, .store_new = ax_store,
				  .read_original = o->original_mode ? ax_read : NULL};
	struct app_config cfg = {0};

	manual_clock_init(&x->clk, AX_EPOCH_MS);
	x->clk.now_us = 1000000;
	memcpy(x->sw, o->sw, sizeof(x->sw));
	x->original_mode = o->original_mode;
	x->forward_rc = ECOM_UNAVAILABLE;
	rng_seed(&x->rng, 5);
	rng_split(&x->rng, &x->gw_rng);
	rng_split(&x->rng, &x->car_rng);
	catalog_init_default(&x->cat, 50);
	x->cluster = mem_cluster_new(2, &x->clk.base);
	x->gw = sim_gateway_new(&gr, &x->gw_rng, &x->clk.base);
	x->car = sim_carrier_new(&cr, &x->car_rng, &x->clk.base);
	cfg.services = o->services ? o->services : APP_ALL_SERVICES;
	cfg.clock = &x->clk.base;
	cfg.rng = &x->rng;
	cfg.catalog = &x->cat;
	cfg.gateway = o->no_gateway ? NULL : sim_gateway_iface(x->gw);
	cfg.carrier = o->no_carrier ? NULL : sim_carrier_iface(x->car);
	cfg.seed_stock = !o->no_seed;
	cfg.instance_suffix = "-t";
	if (o->with_files)
		cfg.read_file = ax_file;
	cfg.authorize = ax_allow;
	cfg.log_line = o->no_log ? NULL : ax_log;
	cfg.log_arg = x;
	cfg.log_level = o->level;
	if (o->with_sse) {
		cfg.sse = ax_sse;
		cfg.sse_arg = x;
	}
	if (o->with_forward) {
		cfg.forward_admin = ax_forward;
		cfg.forward_arg = x;
	}
	x->app = app_new(&cfg, &be, o->with_err ? err : NULL);
	return x;
}

static void ax_free(struct ax *x)
{
	app_free(x->app);
	sim_gateway_free(x->gw);
	sim_carrier_free(x->car);
	mem_cluster_free(x->cluster);
	catalog_deinit(&x->cat);
	free(x);
}

static void ax_run(struct ax *x, int64_t us)
{
	int64_t end = x->clk.now_us + us, next;

	while (x->clk.now_us < end)
		if (!app_step(x->app, &next))
			x->clk.now_us += AX_TICK_US;
}

static int ax_call(struct ax *x, enum app_service s, const char *method, const char *path,
		   const char *body, char *out, size_t cap)
{
	struct http_request req = {.method = method, .path = path, .body = body,
				   .body_len = body ? strlen(body) : 0,
				   .authorization = "Bearer t"};
	struct http_response r;
	int st;

	routes_handle(app_http_api(x->app, s), &req, &r);
	st = r.status;
	if (out)
		snprintf(out, cap, "%s", r.body ? r.body : "");
	http_response_deinit(&r);
	return st;
}

static double ax_metric(struct ax *x, enum app_service s, const char *name,
			const char *const *labels)
{
	struct metric *f = metrics_find(app_metrics(x->app, s), name);

	assert_non_null(f);
	return metric_value(f, labels);
}

/* Whether one of the last AX_LOG_MAX log lines holds needle. */
static int ax_logged(struct ax *x, const char *needle)
{
	for (int i = 0; i < x->n_logs && i < AX_LOG_MAX; i++)
		if (strstr(x->logs[i], needle))
			return 1;
	return 0;
}

static void test_app_service_names(void **state)
{
	static const struct {
		const char *name;
		int rc;
		enum app_service s;
	} cases[] = {
		{"order", ECOM_OK, APP_ORDER},
		{"order-service", ECOM_OK, APP_ORDER},
		{"read_model", ECOM_OK, APP_READ_MODEL},
		{"readmodel", ECOM_OK, APP_READ_MODEL},
		{"read-model-service", ECOM_OK, APP_READ_MODEL},
		{"shipping-service", ECOM_OK, APP_SHIPPING},
		{"-service", ECOM_NOT_FOUND, APP_ORDER},
		{"billing", ECOM_NOT_FOUND, APP_ORDER},
	};
	enum app_service s;

	(void)state;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(cases); i++) {
		s = APP_ORDER;
		assert_int_equal(app_service_from_name(cases[i].name, &s), cases[i].rc);
		assert_int_equal(s, cases[i].s);
	}
	assert_int_equal(app_service_from_name(NULL, &s), ECOM_NOT_FOUND);
	assert_string_equal(app_log_level_name(APP_LOG_ERROR), "error");
}

static void test_app_new_refusals(void **state)
{
	struct ax_opts o = {.no_gateway = 1, .with_err = 1};
	struct ecom_err err = {0};
	struct ax *x;

	(void)state;
	x = ax_new(&o, &err);
	assert_null(x->app);
	assert_string_equal(err.msg, "payment needs a gateway");
	ax_free(x);
	o = (struct ax_opts){.no_carrier = 1, .with_err = 1};
	x = ax_new(&o, &err);
	assert_null(x->app);
	assert_string_equal(err.msg, "shipping needs a carrier");
	ax_free(x);
	/* a backend factory failing: the message says which, and nothing leaks */
	o = (struct ax_opts){.with_err = 1};
	o.sw[APP_PAYMENT].no_store = 1;
	x = ax_new(&o, &err);
	assert_null(x->app);
	assert_string_equal(err.msg, "no store for payment");
	ax_free(x);
	o = (struct ax_opts){.with_err = 1};
	o.sw[APP_SHIPPING].no_broker = 1;
	x = ax_new(&o, &err);
	assert_null(x->app);
	assert_string_equal(err.msg, "no broker for shipping");
	ax_free(x);
	/* without an err to fill, the refusal is still a NULL */
	o = (struct ax_opts){0};
	o.sw[APP_ORDER].no_store = 1;
	x = ax_new(&o, NULL);
	assert_null(x->app);
	ax_free(x);
	o = (struct ax_opts){0};
	o.sw[APP_ORDER].no_broker = 1;
	x = ax_new(&o, NULL);
	assert_null(x->app);
	ax_free(x);
	app_free(NULL);
}

static void test_app_start_failures(void **state)
{
	struct ax_opts o = {.with_err = 1};
	struct ecom_err err = {0};
	struct ax *x;

	(void)state;
	o.sw[APP_INVENTORY].store_fail = 1; /* seeding the stock fails */
	x = ax_new(&o, &err);
	assert_non_null(x->app);
	assert_int_equal(app_start(x->app, &err), ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "disk on fire"));
	ax_free(x);
	o = (struct ax_opts){.with_err = 1};
	o.sw[APP_SHIPPING].subscribe_fail = 1;
	x = ax_new(&o, &err);
	assert_int_equal(app_start(x->app, &err), ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "group coordinator unreachable"));
	ax_free(x);
}

static const char *const ORDER1 =
	"{\"orderId\":\"x1\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":1}],\"total\":10}";

static void test_app_ready_names_the_failing_backend(void **state)
{
	struct ax_opts o = {.level = APP_LOG_WARN};
	struct ecom_err err = {0};
	struct ax *x;
	char body[2048];

	(void)state;
	x = ax_new(&o, &err);
	assert_int_equal(app_start(x->app, &err), ECOM_OK);
	assert_int_equal(ax_call(x, APP_PAYMENT, "GET", "/health/ready", NULL, body,
				 sizeof(body)), 200);
	/* the probe reads one document: found or not, the store answered */
	{
		json_t *probe = json_pack("{s:s,s:i}", "_id", "probe", "version", 1);

		assert_int_equal(store_insert(x->stores[APP_PAYMENT], "_ecom_health", probe, NULL),
				 ECOM_OK);
		json_decref(probe);
	}
	assert_int_equal(ax_call(x, APP_PAYMENT, "GET", "/health/ready", NULL, body,
				 sizeof(body)), 200);
	x->sw[APP_PAYMENT].store_fail = 1;
	assert_int_equal(ax_call(x, APP_PAYMENT, "GET", "/health/ready", NULL, body,
				 sizeof(body)), 503);
	assert_non_null(strstr(body, "\"error\":\"store: disk on fire\""));
	x->sw[APP_PAYMENT].store_silent = 1;
	assert_int_equal(ax_call(x, APP_PAYMENT, "GET", "/health/ready", NULL, body,
				 sizeof(body)), 503);
	assert_non_null(strstr(body, "\"error\":\"store: UNAVAILABLE\""));
	ax_free(x);
}

static void test_app_metrics_scans(void **state)
{
	struct ax_opts o = {.level = APP_LOG_WARN};
	struct ecom_err err = {0};
	struct ax *x;
	char *body = ecom_xmalloc(65536);
	json_t *stuck;

	(void)state;
	x = ax_new(&o, &err);
	assert_int_equal(app_start(x->app, &err), ECOM_OK);
	assert_int_equal(ax_call(x, APP_ORDER, "POST", "/orders", ORDER1, body, 65536), 201);
	ax_run(x, 3000000);
	assert_int_equal(ax_call(x, APP_ORDER, "GET", "/metrics", NULL, body, 65536), 200);
	assert_non_null(strstr(body, "ecom_sagas{status=\"SHIPPED\"} 1\n"));
	assert_non_null(strstr(body, "ecom_sagas_stuck 0\n"));
	/* a stuck saga is counted */
	stuck = json_pack("{s:s,s:i,s:s,s:b}", "_id", "stuck-1", "version", 1, "status",
			  "PAYMENT_FAILED", "stuck", 1);
	assert_int_equal(store_insert(x->stores[APP_ORDER], "orders", stuck, NULL), ECOM_OK);
	json_decref(stuck);
	assert_int_equal(ax_call(x, APP_ORDER, "GET", "/metrics", NULL, body, 65536), 200);
	assert_non_null(strstr(body, "ecom_sagas_stuck 1\n"));
	assert_non_null(strstr(body, "ecom_sagas{status=\"PAYMENT_FAILED\"} 1\n"));
	assert_int_equal(ax_call(x, APP_READ_MODEL, "GET", "/metrics", NULL, body, 65536), 200);
	assert_non_null(strstr(body, "ecom_dlq_messages 0\n"));
	/* the store failing: the page still renders, with the last values */
	x->sw[APP_ORDER].find_fail = 1;
	x->sw[APP_READ_MODEL].find_fail = 1;
	assert_int_equal(ax_call(x, APP_ORDER, "GET", "/metrics", NULL, body, 65536), 200);
	assert_non_null(strstr(body, "ecom_sagas{status=\"SHIPPED\"} 1\n"));
	assert_non_null(strstr(body, "ecom_sagas_stuck 1\n"));
	assert_int_equal(ax_call(x, APP_READ_MODEL, "GET", "/metrics", NULL, body, 65536), 200);
	assert_non_null(strstr(body, "ecom_dlq_messages 0\n"));
	free(body);
	ax_free(x);
}

/* The first message on a topic, as bytes (static copy), or NULL. */
static const char *ax_first_message(struct ax *x, const char *topic, size_t *len)
{
	static char copy[8192];

	for (int32_t p = 0; p < mem_cluster_partitions(x->cluster, topic); p++) {
		struct broker_msg m;

		if (mem_cluster_end_offset(x->cluster, topic, p) > 0 &&
		    mem_cluster_read(x->cluster, topic, p, 0, &m) == ECOM_OK) {
			assert_true(m.value_len < sizeof(copy));
			memcpy(copy, m.value, m.value_len);
			*len = m.value_len;
			return copy;
		}
	}
	return NULL;
}

static void test_app_runtime_outcomes(void **state)
{
	struct ax_opts o = {.level = APP_LOG_DEBUG, .decline = 1.0};
	struct ecom_err err = {0};
	struct ax *x;
	struct broker *p;
	struct broker_record rec = {.topic = "order.OrderCreated.v1", .key = "x1", .key_len = 2};
	const char *inv_dup[] = {"inventory", "order.OrderCreated.v1", "duplicate"};
	const char *rt_lost[] = {"inventory", "offset_lost"};
	const char *rt_retry[] = {"payment", "retry_scheduled"};
	const char *rt_pubfail[] = {"order", "publish_failed"};
	const char *rt_sweep[] = {"order", "sweep_published"};
	char body[4096];

	(void)state;
	x = ax_new(&o, &err);
	assert_int_equal(app_start(x->app, &err), ECOM_OK);
	/* the payment service's store is down first: it backs off and retries */
	x->sw[APP_PAYMENT].store_fail = 1;
	assert_int_equal(ax_call(x, APP_ORDER, "POST", "/orders", ORDER1, body, sizeof(body)), 201);
	ax_run(x, 500000);
	assert_true(ax_metric(x, APP_PAYMENT, "ecom_runtime_events_total", rt_retry) >= 1);
	assert_true(ax_logged(x, "\"msg\":\"store_unavailable\""));
	x->sw[APP_PAYMENT].store_fail = 0;
	ax_run(x, 3000000);
	/* every card is declined: the order ends CANCELLED */
	assert_int_equal(ax_call(x, APP_READ_MODEL, "GET", "/orders/x1", NULL, body, sizeof(body)),
			 200);
	assert_non_null(strstr(body, "\"status\":\"CANCELLED\""));
	/* the same OrderCreated again: every consumer skips it as a duplicate */
	{
		size_t len = 0;
		const char *v = ax_first_message(x, "order.OrderCreated.v1", &len);

		assert_non_null(v);
		rec.value = v;
		rec.value_len = len;
		p = mem_broker_new(x->cluster, "replayer");
		assert_int_equal(broker_produce(p, &rec, NULL), ECOM_OK);
		broker_destroy(p);
	}
	ax_run(x, 1000000);
	assert_true(ax_metric(x, APP_INVENTORY, "ecom_events_processed_total", inv_dup) == 1);
	/* a compensation the payment service does not do (releaseInventory) is ignored there */
	{
		static const char comp[] =
			"{\"eventId\":\"ign-1\",\"type\":\"ops.CompensationRequested.v1\","
			"\"version\":1,\"timestamp\":\"2026-01-01T00:00:00.000Z\","
			"\"correlationId\":\"ig1\",\"causationId\":null,\"key\":\"ig1\","
			"\"payload\":{\"orderId\":\"ig1\",\"action\":\"releaseInventory\"},"
			"\"headers\":{}}";
		struct broker_record c = {.topic = "ops.CompensationRequested.v1", .key = "ig1",
					  .key_len = 3, .value = comp, .value_len = strlen(comp)};
		const char *pay_ign[] = {"payment", "ops.CompensationRequested.v1", "ignored"};

		p = mem_broker_new(x->cluster, "operator");
		assert_int_equal(broker_produce(p, &c, NULL), ECOM_OK);
		broker_destroy(p);
		ax_run(x, 1000000);
		assert_true(ax_metric(x, APP_PAYMENT, "ecom_events_processed_total", pay_ign) == 1);
		assert_true(ax_logged(x, "\"msg\":\"ignored\""));
	}
	/* compensating a cancelled order that holds nothing is refused with the reason */
	assert_int_equal(ax_call(x, APP_ORDER, "POST", "/admin/compensate/x1",
				 "{\"action\":\"releaseInventory\"}", body, sizeof(body)), 409);
	assert_non_null(strstr(body, "nothing to compensate: no inventory held"));
	/* a commit refused after a rebalance is counted, and the work is not redone */
	x->sw[APP_INVENTORY].commit_fail = 1;
	assert_int_equal(ax_call(x, APP_ORDER, "POST", "/orders",
				 "{\"orderId\":\"x2\",\"items\":[{\"sku\":\"SKU-2\",\"qty\":1}],"
				 "\"total\":10}", body, sizeof(body)), 201);
	ax_run(x, 2000000);
	x->sw[APP_INVENTORY].commit_fail = 0;
	assert_true(ax_metric(x, APP_INVENTORY, "ecom_runtime_events_total", rt_lost) >= 1);
	/* the broker refusing the order service's outbox: it stays in the document and the
	 * sweep publishes it once the broker is back */
	x->sw[APP_ORDER].produce_fail = 1;
	assert_int_equal(ax_call(x, APP_ORDER, "POST", "/orders",
				 "{\"orderId\":\"x3\",\"items\":[{\"sku\":\"SKU-3\",\"qty\":1}],"
				 "\"total\":10}", body, sizeof(body)), 201);
	ax_run(x, 1000000);
	assert_true(ax_metric(x, APP_ORDER, "ecom_runtime_events_total", rt_pubfail) >= 1);
	x->sw[APP_ORDER].produce_fail = 0;
	ax_run(x, 5000000);
	assert_true(ax_metric(x, APP_ORDER, "ecom_runtime_events_total", rt_sweep) >= 1);
	assert_int_equal(ax_call(x, APP_READ_MODEL, "GET", "/orders/x3", NULL, body, sizeof(body)),
			 200);
	assert_non_null(strstr(body, "\"status\":\"CANCELLED\""));
	assert_true(x->n_warn > 0);
	ax_free(x);
}

/* Plants a dead letter the way the read model stores one. */
static void plant_dead_letter(struct ax *x, json_t *doc)
{
	assert_int_equal(store_insert(x->stores[APP_READ_MODEL], READ_MODEL_DEAD_LETTERS, doc,
				      NULL), ECOM_OK);
	json_decref(doc);
}

static void test_app_read_model_alone(void **state)
{
	struct ax_opts o = {.services = 1u << APP_READ_MODEL, .level = APP_LOG_INFO,
			    .with_files = 1};
	struct ecom_err err = {0};
	struct ax *x;
	char body[2048];
	int64_t next;

	(void)state;
	x = ax_new(&o, &err);
	assert_int_equal(app_start(x->app, &err), ECOM_OK);
	assert_false(app_has(x->app, APP_ORDER));
	assert_false(app_has(x->app, (enum app_service)-1));
	assert_false(app_has(x->app, APP_SERVICE_COUNT));
	/* no order service here and no order URL: admin commands answer 503 saying so */
	assert_int_equal(ax_call(x, APP_READ_MODEL, "POST", "/admin/retry/o1",
				 "{\"step\":\"payment\"}", body, sizeof(body)), 503);
	assert_non_null(strstr(body, "--order-url / ORDER_URL"));
	assert_true(ax_logged(x, "\"reason\":\"the order service is not in this process"));
	/* an unknown order's stream opens empty; "x.dlq" and "x" name the same dead letters */
	assert_int_equal(ax_call(x, APP_READ_MODEL, "GET", "/orders/none/stream", NULL, body,
				 sizeof(body)), 200);
	assert_string_equal(body, "retry: 2000\n\n");
	plant_dead_letter(x, json_pack("{s:s,s:i,s:s,s:s,s:i}", "_id", "a.b:0:1", "version", 1,
				       "dlqId", "a.b:0:1", "topic", "a.b", "replayed", 0));
	{
		struct http_param q[1] = {{"topic", "a.b.dlq"}};
		struct http_request req = {.method = "GET", .path = "/admin/dlq", .query = q,
					   .n_query = 1, .authorization = "Bearer t"};
		struct http_response r;

		routes_handle(app_http_api(x->app, APP_READ_MODEL), &req, &r);
		assert_int_equal(r.status, 200);
		assert_non_null(strstr(r.body, "\"dlqId\":\"a.b:0:1\""));
		http_response_deinit(&r);
		q[0].value = ".dlq"; /* too short to be "<topic>.dlq": a topic of its own */
		routes_handle(app_http_api(x->app, APP_READ_MODEL), &req, &r);
		assert_string_equal(r.body, "[]");
		http_response_deinit(&r);
	}
	/* the dashboard's files come through the configured reader */
	assert_int_equal(ax_call(x, APP_READ_MODEL, "GET", "/js/app.js", NULL, body,
				 sizeof(body)), 200);
	assert_string_equal(body, "js/app.js");
	/* app_log adds the caller's fields to the line */
	{
		json_t *f = json_pack("{s:s,s:i}", "route", "/x", "status", 299);

		app_log(x->app, APP_READ_MODEL, APP_LOG_WARN, "custom line", f);
		json_decref(f);
		assert_true(ax_logged(x, "\"msg\":\"custom line\",\"route\":\"/x\",\"status\":299"));
	}
	app_set_step_batch(x->app, 1);
	assert_int_equal(app_step(x->app, &next), 0);
	ax_free(x);

	o.with_forward = 1;
	x = ax_new(&o, &err);
	assert_int_equal(app_start(x->app, &err), ECOM_OK);
	/* the forwarder fails without a message: the code's name is the answer */
	assert_int_equal(ax_call(x, APP_READ_MODEL, "POST", "/admin/compensate/o1",
				 "{\"action\":\"refundPayment\"}", body, sizeof(body)), 503);
	assert_non_null(strstr(body, "\"error\":\"UNAVAILABLE\""));
	assert_true(ax_logged(x, "\"result\":\"UNAVAILABLE\""));
	assert_false(ax_logged(x, "\"arg\":\"refundPayment\",\"reason\""));
	ax_free(x);
}

/* The last message on topic (any partition with the highest end offset first), copied. */
static int last_on(struct ax *x, const char *topic, char *value, size_t cap, char *key,
		   size_t kcap, int *n_replay_hdrs, char *trace, size_t tcap)
{
	for (int32_t p = 0; p < mem_cluster_partitions(x->cluster, topic); p++) {
		int64_t end = mem_cluster_end_offset(x->cluster, topic, p);
		struct broker_msg m;

		if (end <= 0 || mem_cluster_read(x->cluster, topic, p, end - 1, &m) != ECOM_OK)
			continue;
		snprintf(value, cap, "%.*s", (int)m.value_len, m.value);
		snprintf(key, kcap, "%.*s", (int)m.key_len, m.key ? m.key : "");
		*n_replay_hdrs = 0;
		trace[0] = '\0';
		for (size_t i = 0; i < m.n_headers; i++) {
			if (strcmp(m.headers[i].key, RT_HDR_REPLAY) == 0)
				(*n_replay_hdrs)++;
			if (strcmp(m.headers[i].key, "traceparent") == 0)
				snprintf(trace, tcap, "%s", m.headers[i].value);
		}
		return 1;
	}
	return 0;
}

static void test_app_dlq_replay_rebuilds_originals(void **state)
{
	struct ax_opts o = {.level = APP_LOG_INFO};
	struct ecom_err err = {0};
	struct ax *x;
	char body[4096], value[2048], key[128], trace[64];
	int n_replay;
	json_t *j;

	(void)state;
	x = ax_new(&o, &err);
	assert_int_equal(app_start(x->app, &err), ECOM_OK);
	/* a full envelope's record, a raw one, one without orderId or payload, one without a
	 * topic, and one already replayed */
	plant_dead_letter(x, json_pack("{s:s,s:i,s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:{s:s},s:s,s:i}",
				       "_id", "payment.PaymentAuthorized.v1:0:4", "version", 1,
				       "dlqId", "payment.PaymentAuthorized.v1:0:4", "topic",
				       "payment.PaymentAuthorized.v1", "partition", 0, "offset", 4,
				       "orderId", "rb-1", "originalEventId", "ev-rb-1",
				       "originalType", "payment.PaymentAuthorized.v1", "payload",
				       "orderId", "rb-1", "firstFailure", "2026-01-01T00:00:00.000Z",
				       "replayed", 0));
	plant_dead_letter(x, json_pack("{s:s,s:i,s:s,s:s,s:s,s:i}", "_id",
				       "shipping.OrderShipped.v1:1:7", "version", 1, "dlqId",
				       "shipping.OrderShipped.v1:1:7", "topic",
				       "shipping.OrderShipped.v1", "raw", "{not json", "replayed",
				       0));
	plant_dead_letter(x, json_pack("{s:s,s:i,s:s,s:s,s:s,s:i}", "_id",
				       "inventory.InventoryReserved.v1:0:9", "version", 1, "dlqId",
				       "inventory.InventoryReserved.v1:0:9", "topic",
				       "inventory.InventoryReserved.v1", "receivedAt",
				       "2026-01-02T00:00:00.000Z", "replayed", 0));
	plant_dead_letter(x, json_pack("{s:s,s:i,s:s,s:i}", "_id", "lost:0:1", "version", 1,
				       "dlqId", "lost:0:1", "replayed", 0));
	plant_dead_letter(x, json_pack("{s:s,s:i,s:s,s:s,s:i}", "_id", "order.OrderCreated.v1:0:2",
				       "version", 1, "dlqId", "order.OrderCreated.v1:0:2", "topic",
				       "order.OrderCreated.v1", "replayed", 1));
	assert_int_equal(ax_call(x, APP_READ_MODEL, "POST", "/admin/dlq/replay",
				 "{\"all\":true}", body, sizeof(body)), 200);
	j = json_loads(body, 0, NULL);
	assert_int_equal(jsonx_int_or(j, "replayed", -1), 3);
	assert_int_equal(jsonx_int_or(j, "skipped", -1), 1);
	assert_int_equal(jsonx_int_or(j, "failed", -1), 1); /* the one without a topic */
	json_decref(j);
	/* rebuilt from the record: same eventId, type, key and payload, x-replay once */
	assert_true(last_on(x, "payment.PaymentAuthorized.v1", value, sizeof(value), key,
			    sizeof(key), &n_replay, trace, sizeof(trace)));
	j = json_loads(value, 0, NULL);
	assert_non_null(j);
	assert_string_equal(jsonx_str(j, "eventId"), "ev-rb-1");
	assert_string_equal(jsonx_str(j, "type"), "payment.PaymentAuthorized.v1");
	assert_string_equal(jsonx_str(j, "timestamp"), "2026-01-01T00:00:00.000Z");
	assert_string_equal(jsonx_str(j, "correlationId"), "rb-1");
	assert_string_equal(jsonx_str(json_object_get(j, "payload"), "orderId"), "rb-1");
	json_decref(j);
	assert_string_equal(key, "rb-1");
	assert_int_equal(n_replay, 1);
	/* a raw original goes out as it was; without orderId/payload the gaps are explicit */
	assert_true(last_on(x, "shipping.OrderShipped.v1", value, sizeof(value), key, sizeof(key),
			    &n_replay, trace, sizeof(trace)));
	assert_string_equal(value, "{not json");
	assert_string_equal(key, "");
	assert_true(last_on(x, "inventory.InventoryReserved.v1", value, sizeof(value), key,
			    sizeof(key), &n_replay, trace, sizeof(trace)));
	j = json_loads(value, 0, NULL);
	assert_string_equal(jsonx_str(j, "eventId"), "unknown");
	assert_string_equal(jsonx_str(j, "key"), "unknown");
	assert_string_equal(jsonx_str(j, "timestamp"), "2026-01-02T00:00:00.000Z");
	assert_true(json_is_null(json_object_get(j, "payload")));
	json_decref(j);
	/* replaying again republishes nothing new */
	assert_int_equal(ax_call(x, APP_READ_MODEL, "POST", "/admin/dlq/replay",
				 "{\"id\":\"payment.PaymentAuthorized.v1:0:4\"}", body,
				 sizeof(body)), 200);
	assert_non_null(strstr(body, "\"replayed\":0"));
	assert_non_null(strstr(body, "\"alreadyReplayed\":[\"payment.PaymentAuthorized.v1:0:4\"]"));
	assert_int_equal(ax_call(x, APP_READ_MODEL, "POST", "/admin/dlq/replay",
				 "{\"id\":\"nope:0:0\"}", body, sizeof(body)), 404);
	ax_free(x);
}

static void test_app_dlq_replay_from_the_log(void **state)
{
	struct ax_opts o = {.level = APP_LOG_ERROR, .original_mode = 2};
	struct ecom_err err = {0};
	struct ax *x;
	char body[4096], value[2048], key[128], trace[64];
	int n_replay;

	(void)state;
	x = ax_new(&o, &err);
	assert_int_equal(app_start(x->app, &err), ECOM_OK);
	plant_dead_letter(x, json_pack("{s:s,s:i,s:s,s:s,s:i,s:i,s:i}", "_id",
				       "payment.PaymentFailed.v1:1:3", "version", 1, "dlqId",
				       "payment.PaymentFailed.v1:1:3", "topic",
				       "payment.PaymentFailed.v1", "partition", 1, "offset", 3,
				       "replayed", 0));
	assert_int_equal(ax_call(x, APP_READ_MODEL, "POST", "/admin/dlq/replay",
				 "{\"topic\":\"payment.PaymentFailed.v1.dlq\"}", body,
				 sizeof(body)), 200);
	assert_non_null(strstr(body, "\"replayed\":1"));
	/* the original's bytes, key and headers, its old x-replay replaced by one of ours */
	assert_true(last_on(x, "payment.PaymentFailed.v1", value, sizeof(value), key, sizeof(key),
			    &n_replay, trace, sizeof(trace)));
	assert_string_equal(value, "original bytes");
	assert_string_equal(key, "orig-key");
	assert_int_equal(n_replay, 1);
	assert_string_equal(trace, "00-abc");
	/* an original with more headers than a record carries keeps what fits, x-replay last */
	x->orig_many = 1;
	plant_dead_letter(x, json_pack("{s:s,s:i,s:s,s:s,s:i,s:i,s:i}", "_id",
				       "payment.PaymentFailed.v1:0:6", "version", 1, "dlqId",
				       "payment.PaymentFailed.v1:0:6", "topic",
				       "payment.PaymentFailed.v1", "partition", 0, "offset", 6,
				       "replayed", 0));
	assert_int_equal(ax_call(x, APP_READ_MODEL, "POST", "/admin/dlq/replay",
				 "{\"id\":\"payment.PaymentFailed.v1:0:6\"}", body, sizeof(body)),
			 200);
	assert_non_null(strstr(body, "\"replayed\":1"));
	x->orig_many = 0;
	/* the log cannot be read there: rebuilt from the record instead */
	x->original_mode = 1;
	plant_dead_letter(x, json_pack("{s:s,s:i,s:s,s:s,s:s,s:i,s:i}", "_id",
				       "payment.PaymentRefunded.v1:0:8", "version", 1, "dlqId",
				       "payment.PaymentRefunded.v1:0:8", "topic",
				       "payment.PaymentRefunded.v1", "orderId", "rf-1", "offset", 8,
				       "replayed", 0));
	assert_int_equal(ax_call(x, APP_READ_MODEL, "POST", "/admin/dlq/replay",
				 "{\"topic\":\"payment.PaymentRefunded.v1\",\"orderId\":\"rf-1\"}",
				 body, sizeof(body)), 200);
	assert_non_null(strstr(body, "\"replayed\":1"));
	assert_true(last_on(x, "payment.PaymentRefunded.v1", value, sizeof(value), key,
			    sizeof(key), &n_replay, trace, sizeof(trace)));
	assert_string_equal(key, "rf-1");
	assert_non_null(strstr(value, "\"correlationId\":\"rf-1\""));
	/* the broker refusing the replay: counted as failed, the entry stays replayable */
	x->sw[APP_READ_MODEL].produce_fail = 1;
	plant_dead_letter(x, json_pack("{s:s,s:i,s:s,s:s,s:i}", "_id", "order.OrderCreated.v1:1:1",
				       "version", 1, "dlqId", "order.OrderCreated.v1:1:1", "topic",
				       "order.OrderCreated.v1", "replayed", 0));
	assert_int_equal(ax_call(x, APP_READ_MODEL, "POST", "/admin/dlq/replay",
				 "{\"id\":\"order.OrderCreated.v1:1:1\"}", body, sizeof(body)),
			 200);
	assert_non_null(strstr(body, "\"failed\":1"));
	assert_non_null(strstr(body, "\"ids\":[]"));
	/* and a read model whose store fails answers 503 */
	x->sw[APP_READ_MODEL].store_fail = 1;
	assert_int_equal(ax_call(x, APP_READ_MODEL, "POST", "/admin/dlq/replay",
				 "{\"all\":true}", body, sizeof(body)), 503);
	assert_non_null(strstr(body, "disk on fire"));
	ax_free(x);
}

static void test_app_without_sse_listener(void **state)
{
	struct ax_opts o = {.level = APP_LOG_ERROR};
	struct ecom_err err = {0};
	struct ax *x;
	char body[4096];

	(void)state;
	x = ax_new(&o, &err); /* no SSE callback configured */
	assert_int_equal(app_start(x->app, &err), ECOM_OK);
	assert_int_equal(ax_call(x, APP_ORDER, "POST", "/orders", ORDER1, body, sizeof(body)), 201);
	ax_run(x, 3000000);
	assert_int_equal(ax_call(x, APP_READ_MODEL, "GET", "/orders/x1/stream", NULL, body,
				 sizeof(body)), 200);
	assert_non_null(strstr(body, "\"status\":\"SHIPPED\""));
	assert_int_equal(x->n_logs, 0); /* nothing at ERROR */
	ax_free(x);
	/* no log sink and no seeding at start (the inventory takes the catalog's stock on first
	 * use): orders still flow, one runtime step per service per app_step */
	o = (struct ax_opts){.with_sse = 1, .no_log = 1, .no_seed = 1};
	x = ax_new(&o, &err);
	assert_int_equal(app_start(x->app, &err), ECOM_OK);
	app_set_step_batch(x->app, 1);
	assert_int_equal(ax_call(x, APP_ORDER, "POST", "/orders", ORDER1, body, sizeof(body)), 201);
	{
		int64_t next;

		/* one runtime step per service at most */
		assert_in_range(app_step(x->app, &next), 1, APP_SERVICE_COUNT);
	}
	ax_run(x, 3000000);
	assert_int_equal(ax_call(x, APP_READ_MODEL, "GET", "/orders/x1", NULL, body, sizeof(body)),
			 200);
	assert_non_null(strstr(body, "\"status\":\"SHIPPED\""));
	assert_int_equal(x->n_logs, 0);
	ax_free(x);
}

/* ==== 4. sockets: scripted servers, the HTTP server, the forwarding client, JWT ============= */

#define NET_WAIT_MS 5000 /* the longest any socket step of these tests may take */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* A listening socket on 127.0.0.1 with an ephemeral port. */
static int listen_any(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 256), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

#ifdef ECOM_HAVE_BACKENDS /* raw clients, for the libmicrohttpd server */
/* A blocking client socket connected to 127.0.0.1:port (rcvbuf > 0: that receive buffer). */
static int connect_to_port(int port, int rcvbuf)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_str(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		assert_true(w > 0);
		s += w;
		n -= (size_t)w;
	}
}

/* Reads into buf (appending at *len) until needle shows up, EOF, or wait_ms pass.
 * Returns 1 if needle was seen, 0 otherwise; *eof set on EOF. */
static int read_until(int fd, char *buf, size_t cap, size_t *len, const char *needle,
		      int wait_ms, int *eof)
{
	int64_t deadline = now_ms() + wait_ms;

	*eof = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		ssize_t n;

		buf[*len] = '\0';
		if (needle && strstr(buf, needle))
			return 1;
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return 0;
		if (*len + 1 >= cap) { /* keep the tail: the stream may be long */
			memmove(buf, buf + cap / 2, *len - cap / 2);
			*len -= cap / 2;
		}
		n = recv(fd, buf + *len, cap - *len - 1, 0);
		if (n <= 0) {
			buf[*len] = '\0';
			*eof = 1;
			return needle && strstr(buf, needle);
		}
		*len += (size_t)n;
	}
}
#endif

/* ---- children: every server of these tests is a forked child ------------------------------- */

#define KIDS_MAX 8
#define KID_LIFE_S 60 /* a child outliving this is stuck: SIGALRM ends it */

static pid_t kids[KIDS_MAX];

/* In the child right after fork: it dies with the parent (a failed assertion in the parent
 * must not leave a server running) and after KID_LIFE_S at the latest. */
static void kid_init(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(9);
	alarm(KID_LIFE_S);
}

static void kid_add(pid_t pid)
{
	for (int i = 0; i < KIDS_MAX; i++) {
		if (!kids[i]) {
			kids[i] = pid;
			return;
		}
	}
	fail_msg("too many children");
}

static void kid_forget(pid_t pid)
{
	for (int i = 0; i < KIDS_MAX; i++)
		if (kids[i] == pid)
			kids[i] = 0;
}

/* Teardown of every socket test: children a failed test left behind are killed and reaped. */
static int kids_reap(void **state)
{
	(void)state;
	for (int i = 0; i < KIDS_MAX; i++) {
		if (kids[i]) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	}
	return 0;
}

/* ---- scripted raw servers (a forked child per script) -------------------------------------- */

#define PAUSE "\x01" /* in an answer: flush and wait 60 ms before the rest */

struct fake_conn {
	const char *answer; /* NULL: read the request, answer nothing, hold the connection */
	size_t big;         /* then this many 'x' bytes */
	const char *tail;   /* then this */
	int hold_ms;        /* keep the connection open this long before closing */
	int no_read;        /* answer without reading the request first */
	int drain;          /* read the whole body (Content-Length), slowly at first */
	int reset;          /* after reading the request, close with a TCP reset */
};

struct fake_srv {
	pid_t pid;
	int port;
};

static void fake_write(int fd, const char *s)
{
	const char *p;

	while ((p = strchr(s, PAUSE[0]))) {
		if (p > s && send(fd, s, (size_t)(p - s), MSG_NOSIGNAL) < 0)
			return;
		sleep_ms(60);
		s = p + 1;
	}
	if (*s)
		(void)send(fd, s, strlen(s), MSG_NOSIGNAL);
}

static void fake_serve(int lfd, const struct fake_conn *conns, size_t n)
{
	char req[65536];

	for (size_t i = 0; i < n; i++) {
		const struct fake_conn *c = &conns[i];
		int fd = accept(lfd, NULL, NULL);
		size_t got = 0;

		if (fd < 0)
			_exit(1);
		while (!c->no_read && got < sizeof(req) - 1) {
			ssize_t r = recv(fd, req + got, sizeof(req) - 1 - got, 0);

			if (r <= 0)
				break;
			got += (size_t)r;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		if (c->drain) {
			const char *cl = strstr(req, "Content-Length: ");
			const char *end = strstr(req, "\r\n\r\n");
			size_t want = 0;

			if (cl && end)
				want = strtoul(cl + 16, NULL, 10) + (size_t)(end + 4 - req);

			sleep_ms(100); /* let the sender fill the socket and wait */
			while (got < want) {
				ssize_t r = recv(fd, req, sizeof(req), 0);

				if (r <= 0)
					break;
				got += (size_t)r;
			}
		}
		if (c->reset) {
			struct linger lg = {.l_onoff = 1, .l_linger = 0};

			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
			continue;
		}
		if (!c->answer) {
			sleep_ms(c->hold_ms ? c->hold_ms : 3000);
			close(fd);
			continue;
		}
		fake_write(fd, c->answer);
		for (size_t k = 0; k < c->big; k += 65536) {
			static char xs[65536];
			size_t m = c->big - k < sizeof(xs) ? c->big - k : sizeof(xs);

			memset(xs, 'x', sizeof(xs));
			if (send(fd, xs, m, MSG_NOSIGNAL) < 0)
				break;
		}
		if (c->tail)
			fake_write(fd, c->tail);
		if (c->hold_ms)
			sleep_ms(c->hold_ms);
		close(fd);
	}
	_exit(0);
}

static void fake_srv_start(struct fake_srv *f, const struct fake_conn *conns, size_t n)
{
	int lfd = listen_any(&f->port);
	pid_t parent = getpid();

	fflush(NULL);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		kid_init(parent);
		fake_serve(lfd, conns, n);
	}
	kid_add(f->pid);
	close(lfd);
}

static void fake_srv_stop(struct fake_srv *f)
{
	int status;

	kill(f->pid, SIGKILL);
	waitpid(f->pid, &status, 0);
	kid_forget(f->pid);
}

#ifdef ECOM_HAVE_BACKENDS

/* ---- the libmicrohttpd server in a child, driven over sockets --------------------------------- */

static volatile sig_atomic_t hs_stop;
static struct http_server *hs_srv;   /* the child's logging server */
static int64_t hs_jump_us;           /* added to the clock passed to http_server_tick */
static int hs_logs, hs_closed;       /* access-log lines, of which SSE streams closed */

static void hs_on_term(int sig)
{
	(void)sig;
	hs_stop = 1;
}

static void hs_log(void *arg, const char *service, const char *method, const char *path,
		   int status, const char *route)
{
	(void)arg;
	(void)service;
	(void)method;
	(void)path;
	(void)route;
	hs_logs++;
	if (status == 0)
		hs_closed++;
}

/* POST /orders runs a command on the server: publish, flood, tick, count. */
static int hs_cmd(void *arg, json_t *body, json_t **resp, int *created, struct ecom_err *err)
{
	const char *cmd = jsonx_str_or(body, "cmd", "");

	(void)arg;
	*created = 0;
	if (strcmp(cmd, "publish") == 0) {
		http_server_sse_publish(hs_srv, jsonx_str_or(body, "order", ""),
					jsonx_str(body, "id"), jsonx_str_or(body, "data", "{}"));
	} else if (strcmp(cmd, "flood") == 0) {
		char data[1100];

		memset(data, 'f', sizeof(data) - 1);
		data[0] = '"';
		data[sizeof(data) - 2] = '"';
		data[sizeof(data) - 1] = '\0';
		for (int64_t i = 0; i < jsonx_int_or(body, "n", 0); i++)
			http_server_sse_publish(hs_srv, jsonx_str_or(body, "order", ""), NULL, data);
	} else if (strcmp(cmd, "tick") == 0) {
		hs_jump_us += HTTP_SSE_KEEPALIVE_US + 1000000;
	} else if (strcmp(cmd, "count") != 0) {
		return ecom_err_set(err, ECOM_INVALID, "cmd: unknown");
	}
	*resp = json_pack("{s:I,s:i,s:i}", "streams", (json_int_t)http_server_sse_count(hs_srv),
			  "logs", hs_logs, "closed", hs_closed);
	return ECOM_OK;
}

static int hs_timeline(void *arg, const char *id, json_t **entries, struct ecom_err *err)
{
	(void)arg;
	if (strcmp(id, "none") == 0)
		return ecom_err_set(err, ECOM_NOT_FOUND, "no such order");
	*entries = json_pack("[{s:s},{s:s}]", "eventId", "e1", "eventId", "e2");
	return ECOM_OK;
}

static int hs_list(void *arg, const char *status, size_t limit, json_t **out,
		   struct ecom_err *err)
{
	(void)arg;
	(void)err;
	*out = json_pack("[{s:s,s:I}]", "status", status ? status : "(any)", "limit",
			 (json_int_t)limit);
	return ECOM_OK;
}

static int hs_get(void *arg, const char *id, json_t **out, struct ecom_err *err)
{
	(void)arg;
	(void)err;
	*out = json_pack("{s:s}", "_id", id);
	return ECOM_OK;
}

static const struct http_api hs_api = {
	.service = "read-model", .order_create = hs_cmd, .order_get = hs_get,
	.rm_list = hs_list, .rm_get = hs_get, .rm_timeline = hs_timeline,
};

static int64_t hs_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The child: two servers (one logging, one not) until SIGTERM, then a clean stop and exit()
 * (so that gcov writes what it ran). Their ports go to wfd. */
static void hs_child(int wfd)
{
	struct http_server_config ca = {.bind_addr = "127.0.0.1", .api = &hs_api, .log = hs_log};
	struct http_server_config cb = {.api = &hs_api};
	struct http_server *b;
	struct sigaction sa;
	int ports[2];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = hs_on_term; /* no SA_RESTART: select returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	hs_srv = http_server_new(&ca, NULL);
	b = http_server_new(&cb, NULL);
	if (!hs_srv || !b)
		_exit(3);
	ports[0] = http_server_port(hs_srv);
	ports[1] = http_server_port(b);
	if (write(wfd, ports, sizeof(ports)) != (ssize_t)sizeof(ports))
		_exit(4);
	close(wfd);
	while (!hs_stop) {
		fd_set rs, ws, es;
		int max_fd = -1;
		int64_t t = http_server_timeout_ms(hs_srv), tb; /* before fdset: sees resumes */
		struct timeval tv;

		http_server_tick(hs_srv, hs_mono_us() + hs_jump_us);
		http_server_tick(b, hs_mono_us() + hs_jump_us);
		FD_ZERO(&rs);
		FD_ZERO(&ws);
		FD_ZERO(&es);
		http_server_fdset(hs_srv, &rs, &ws, &es, &max_fd);
		http_server_fdset(b, &rs, &ws, &es, &max_fd);
		tb = http_server_timeout_ms(b);
		if (t < 0 || t > 50)
			t = 50;
		if (tb >= 0 && tb < t)
			t = tb;
		tv.tv_sec = 0;
		tv.tv_usec = (suseconds_t)t * 1000;
		if (select(max_fd + 1, &rs, &ws, &es, &tv) < 0) {
			FD_ZERO(&rs);
			FD_ZERO(&ws);
			FD_ZERO(&es);
		}
		http_server_run(hs_srv, &rs, &ws, &es);
		http_server_run(b, &rs, &ws, &es);
	}
	http_server_free(hs_srv);
	http_server_free(b);
	exit(0);
}

struct hs {
	pid_t pid;
	int port, port_quiet;
	char url[64];
};

static void hs_start(struct hs *h)
{
	int fds[2], ports[2];
	pid_t parent = getpid();

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	h->pid = fork();
	assert_true(h->pid >= 0);
	if (h->pid == 0) {
		kid_init(parent);
		close(fds[0]);
		hs_child(fds[1]);
	}
	kid_add(h->pid);
	close(fds[1]);
	assert_int_equal(read(fds[0], ports, sizeof(ports)), (ssize_t)sizeof(ports));
	close(fds[0]);
	h->port = ports[0];
	h->port_quiet = ports[1];
	snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%d", h->port);
}

/* SIGTERM; the child's exit code (0 = stopped cleanly). */
static int hs_stop_child(struct hs *h)
{
	int status;

	kill(h->pid, SIGTERM);
	assert_int_equal(waitpid(h->pid, &status, 0), h->pid);
	kid_forget(h->pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A command through the forwarding client; the server's counters. */
static json_t *hs_post(struct hs *h, const char *body, int *status)
{
	char *resp = NULL;
	struct ecom_err err = {0};
	json_t *j;

	assert_int_equal(http_client_post(h->url, "/orders", NULL, body, NET_WAIT_MS, status,
					  &resp, &err), ECOM_OK);
	j = json_loads(resp, 0, NULL);
	free(resp);
	return j;
}

static int64_t hs_streams(struct hs *h)
{
	int status;
	json_t *j = hs_post(h, "{\"cmd\":\"count\"}", &status);
	int64_t n = jsonx_int_or(j, "streams", -1);

	assert_int_equal(status, 200);
	json_decref(j);
	return n;
}

/* Waits until the server counts n streams. */
static int hs_wait_streams(struct hs *h, int64_t n)
{
	for (int64_t end = now_ms() + NET_WAIT_MS; now_ms() < end; sleep_ms(20))
		if (hs_streams(h) == n)
			return 1;
	return 0;
}

/* An HTTP/1.0 SSE request (no chunked framing); the socket. */
static int sse_open(int port, const char *path, const char *last_id, int rcvbuf)
{
	char req[512];
	int fd = connect_to_port(port, rcvbuf);

	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: t\r\n%s%s%s\r\n", path,
		 last_id ? "Last-Event-ID: " : "", last_id ? last_id : "", last_id ? "\r\n" : "");
	send_str(fd, req, strlen(req));
	return fd;
}

#define SSE_BUF 65536

static void test_http_server_sse_streams(void **state)
{
	struct hs h;
	char *a = ecom_xcalloc(1, SSE_BUF), *b = ecom_xcalloc(1, SSE_BUF),
	     *c = ecom_xcalloc(1, SSE_BUF);
	size_t la = 0, lb = 0, lc = 0;
	int fa, fb, fc, eof, status;
	json_t *j;

	(void)state;
	hs_start(&h);
	/* the backlog after Last-Event-ID, then live messages for that order only */
	fa = sse_open(h.port, "/orders/o1/stream", "e1", 0);
	assert_true(read_until(fa, a, SSE_BUF, &la, "id: e2\n", NET_WAIT_MS, &eof));
	assert_non_null(strstr(a, " 200 OK\r\n"));
	assert_non_null(strstr(a, "Content-Type: text/event-stream"));
	assert_null(strstr(a, "id: e1\n"));
	fb = sse_open(h.port, "/stream", NULL, 0);
	assert_true(read_until(fb, b, SSE_BUF, &lb, "retry: 2000", NET_WAIT_MS, &eof));
	fc = sse_open(h.port_quiet, "/orders/o2/stream", NULL, 0);
	assert_true(read_until(fc, c, SSE_BUF, &lc, "id: e2\n", NET_WAIT_MS, &eof));
	assert_true(hs_wait_streams(&h, 2)); /* the logging server holds two */
	j = hs_post(&h, "{\"cmd\":\"publish\",\"order\":\"o1\",\"id\":\"e9\",\"data\":"
			"\"{\\\"n\\\":9}\"}", &status);
	assert_int_equal(status, 200);
	json_decref(j);
	assert_true(read_until(fa, a, SSE_BUF, &la, "id: e9\ndata: {\"n\":9}\n\n", NET_WAIT_MS,
			       &eof));
	assert_true(read_until(fb, b, SSE_BUF, &lb, "id: e9\ndata: {\"n\":9}\n\n", NET_WAIT_MS,
			       &eof));
	/* a message for another order reaches the all-orders stream only, here without id */
	j = hs_post(&h, "{\"cmd\":\"publish\",\"order\":\"o7\",\"data\":\"{\\\"n\\\":7}\"}",
		    &status);
	json_decref(j);
	assert_true(read_until(fb, b, SSE_BUF, &lb, "\ndata: {\"n\":7}\n\n", NET_WAIT_MS, &eof));
	assert_null(strstr(b, "id: \ndata: {\"n\":7}"));
	assert_false(read_until(fa, a, SSE_BUF, &la, "{\"n\":7}", 200, &eof));
	/* an idle stream gets a keep-alive comment once the interval has passed */
	j = hs_post(&h, "{\"cmd\":\"tick\"}", &status);
	json_decref(j);
	assert_true(read_until(fa, a, SSE_BUF, &la, ": keep-alive\n\n", NET_WAIT_MS, &eof));
	assert_true(read_until(fc, c, SSE_BUF, &lc, ": keep-alive\n\n", NET_WAIT_MS, &eof));
	/* a client that left is forgotten once the server writes to it again (and logged) */
	close(fa);
	for (int i = 0; i < 3 && hs_streams(&h) > 1; i++) { /* the first write may still pass */
		j = hs_post(&h, "{\"cmd\":\"publish\",\"order\":\"o1\",\"id\":\"e10\","
				"\"data\":\"{}\"}", &status);
		json_decref(j);
		sleep_ms(100);
	}
	assert_true(hs_wait_streams(&h, 1));
	j = hs_post(&h, "{\"cmd\":\"count\"}", &status);
	assert_int_equal(jsonx_int_or(j, "closed", 0), 1);
	assert_true(jsonx_int_or(j, "logs", 0) > 5);
	json_decref(j);
	/* shutdown ends the open streams and the server exits cleanly */
	assert_int_equal(hs_stop_child(&h), 0);
	read_until(fb, b, SSE_BUF, &lb, NULL, NET_WAIT_MS, &eof);
	assert_true(eof);
	read_until(fc, c, SSE_BUF, &lc, NULL, NET_WAIT_MS, &eof);
	assert_true(eof);
	close(fb);
	close(fc);
	free(a);
	free(b);
	free(c);
}

/* Drains fd until EOF (bounded); whether EOF came. */
static int drain_to_eof(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	int eof = 0;

	for (int64_t end = now_ms() + NET_WAIT_MS; !eof && now_ms() < end;) {
		len = 0;
		read_until(fd, buf, cap, &len, NULL, 500, &eof);
	}
	return eof;
}

static void test_http_server_slow_readers(void **state)
{
	struct hs h;
	char *buf = ecom_xcalloc(1, SSE_BUF);
	size_t len = 0;
	int slow, cut, eof, status;
	json_t *j;

	(void)state;
	hs_start(&h);
	slow = sse_open(h.port, "/orders/slow/stream", NULL, 4096);
	assert_true(read_until(slow, buf, SSE_BUF, &len, "id: e2\n", NET_WAIT_MS, &eof));
	cut = sse_open(h.port, "/orders/cut/stream", NULL, 4096);
	len = 0;
	assert_true(read_until(cut, buf, SSE_BUF, &len, "id: e2\n", NET_WAIT_MS, &eof));
	/* more than HTTP_SSE_BUFFER_MAX for a reader that does not read: that stream is cut,
	 * not kept in memory; the other one stays */
	j = hs_post(&h, "{\"cmd\":\"flood\",\"order\":\"cut\",\"n\":1000}", &status);
	assert_int_equal(status, 200);
	json_decref(j);
	assert_true(hs_wait_streams(&h, 1));
	assert_true(drain_to_eof(cut, buf, SSE_BUF));
	close(cut);
	/* below the bound in two bursts: the sockets take a part of the first, the rest waits
	 * in the stream's buffer, which the second makes grow (keeping only what is unsent);
	 * a keep-alive tick adds nothing to a stream that has data waiting */
	j = hs_post(&h, "{\"cmd\":\"flood\",\"order\":\"slow\",\"n\":600}", &status);
	json_decref(j);
	sleep_ms(300);
	j = hs_post(&h, "{\"cmd\":\"flood\",\"order\":\"slow\",\"n\":400}", &status);
	json_decref(j);
	j = hs_post(&h, "{\"cmd\":\"tick\"}", &status);
	json_decref(j);
	assert_int_equal(hs_streams(&h), 1);
	/* stopping with a stream that cannot be flushed: bounded, and a clean exit */
	assert_int_equal(hs_stop_child(&h), 0);
	assert_true(drain_to_eof(slow, buf, SSE_BUF));
	close(slow);
	free(buf);
}

static void test_http_server_stream_limit(void **state)
{
	struct hs h;
	int fds[HTTP_SSE_STREAMS_MAX], extra, eof;
	char buf[4096];
	size_t len = 0;

	(void)state;
	hs_start(&h);
	for (int i = 0; i < HTTP_SSE_STREAMS_MAX; i++)
		fds[i] = sse_open(h.port, "/stream", NULL, 0);
	assert_true(hs_wait_streams(&h, HTTP_SSE_STREAMS_MAX));
	extra = sse_open(h.port, "/stream", NULL, 0);
	assert_true(read_until(extra, buf, sizeof(buf), &len, "too many open streams",
			       NET_WAIT_MS, &eof));
	assert_non_null(strstr(buf, " 503 Service Unavailable\r\n"));
	close(extra);
	for (int i = 0; i < HTTP_SSE_STREAMS_MAX; i++)
		close(fds[i]);
	assert_int_equal(hs_stop_child(&h), 0);
}

static void test_http_server_requests(void **state)
{
	struct hs h;
	char buf[8192], chunk[16384 + 16], path[1024];
	size_t len = 0;
	int fd, eof, status;
	char *resp = NULL;
	struct ecom_err err = {0};

	(void)state;
	hs_start(&h);
	/* a streamed (chunked) body past 64 KiB is refused while it arrives */
	fd = connect_to_port(h.port, 0);
	snprintf(buf, sizeof(buf), "POST /orders HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
				   "chunked\r\nContent-Type: application/json\r\n\r\n");
	send_str(fd, buf, strlen(buf));
	memset(chunk, ' ', sizeof(chunk));
	snprintf(chunk, 8, "4000\r\n");
	memcpy(chunk + 6 + 16384, "\r\n", 2);
	for (int i = 0; i < 5; i++)
		send_str(fd, chunk, 6 + 16384 + 2);
	send_str(fd, "0\r\n\r\n", 5);
	assert_true(read_until(fd, buf, sizeof(buf), &len, "larger than 65536 bytes", NET_WAIT_MS,
			       &eof));
	assert_non_null(strstr(buf, " 413 "));
	close(fd);
	/* a declared oversized body sent anyway: answered once, 413 */
	fd = connect_to_port(h.port, 0);
	snprintf(buf, sizeof(buf), "POST /orders HTTP/1.1\r\nHost: t\r\nContent-Length: 70000\r\n"
				   "Connection: close\r\n\r\n");
	send_str(fd, buf, strlen(buf));
	for (int i = 0; i < 4; i++)
		(void)send(fd, chunk, 16384, MSG_NOSIGNAL);
	(void)send(fd, chunk, 70000 - 4 * 16384, MSG_NOSIGNAL);
	len = 0;
	assert_true(read_until(fd, buf, sizeof(buf), &len, "larger than 65536", NET_WAIT_MS, &eof));
	assert_non_null(strstr(buf, " 413 "));
	close(fd);
	/* query parameters: a key without a value, and more than the router reads */
	fd = connect_to_port(h.port_quiet, 0);
	len = (size_t)snprintf(path, sizeof(path), "GET /orders?status&limit=7");
	for (int i = 0; i < HTTP_QUERY_MAX + 8; i++)
		len += (size_t)snprintf(path + len, sizeof(path) - len, "&p%d=%d", i, i);
	snprintf(path + len, sizeof(path) - len, " HTTP/1.0\r\n\r\n");
	send_str(fd, path, strlen(path));
	len = 0;
	assert_true(read_until(fd, buf, sizeof(buf), &len, NULL, NET_WAIT_MS, &eof) || eof);
	assert_non_null(strstr(buf, " 200 OK\r\n"));
	assert_non_null(strstr(buf, "[{\"status\":\"(any)\",\"limit\":7}]"));
	close(fd);
	/* the forwarding client: a 4xx answer comes back with its body, headers sent */
	assert_int_equal(http_client_post(h.url, "/orders", "Bearer abc", "{\"cmd\":\"warp\"}",
					  NET_WAIT_MS, &status, &resp, &err), ECOM_OK);
	assert_int_equal(status, 400);
	assert_string_equal(resp, "{\"error\":\"cmd: unknown\"}");
	free(resp);
	assert_int_equal(http_client_post(h.url, "/orders/x", NULL, NULL, NET_WAIT_MS, &status,
					  &resp, &err), ECOM_OK);
	assert_int_equal(status, 405);
	assert_non_null(strstr(resp, "method POST not allowed here"));
	free(resp);
	/* a preflight: a response without a body */
	fd = connect_to_port(h.port, 0);
	snprintf(buf, sizeof(buf), "OPTIONS /orders HTTP/1.0\r\nOrigin: http://o\r\n\r\n");
	send_str(fd, buf, strlen(buf));
	len = 0;
	read_until(fd, buf, sizeof(buf), &len, NULL, NET_WAIT_MS, &eof);
	assert_non_null(strstr(buf, " 204 No Content\r\n"));
	assert_non_null(strstr(buf, "Allow: POST, GET, HEAD, OPTIONS\r\n"));
	close(fd);
	/* a GET of the stream of an unknown order still opens (its events may come later) */
	fd = sse_open(h.port_quiet, "/orders/none/stream", NULL, 0);
	len = 0;
	assert_true(read_until(fd, buf, sizeof(buf), &len, "retry: 2000", NET_WAIT_MS, &eof));
	close(fd);
	assert_int_equal(hs_stop_child(&h), 0);
}

static void test_http_server_new_refusals(void **state)
{
	struct http_server_config c = {.bind_addr = "localhost", .api = &hs_api};
	struct ecom_err err = {0};
	struct http_server *a, *b;
	fd_set rs, ws, es;
	int max_fd = -1;

	(void)state;
	assert_null(http_server_new(&c, &err));
	assert_string_equal(err.msg, "bind address localhost: not an IPv4 address");
	c.bind_addr = NULL; /* 127.0.0.1 */
	a = http_server_new(&c, &err);
	assert_non_null(a);
	assert_true(http_server_port(a) > 0);
	c.port = http_server_port(a);
	b = http_server_new(&c, &err);
	assert_null(b);
	assert_non_null(strstr(err.msg, "(port in use?)"));
	assert_non_null(strstr(err.msg, "cannot listen on 127.0.0.1:"));
	FD_ZERO(&rs);
	FD_ZERO(&ws);
	FD_ZERO(&es);
	http_server_fdset(a, &rs, &ws, &es, &max_fd);
	assert_true(max_fd >= 0);
	assert_int_equal(http_server_sse_count(a), 0);
	http_server_sse_publish(a, "o1", "e1", "{}"); /* nobody listens: nothing happens */
	http_server_free(a);
	http_server_free(NULL);
}

/* ---- the forwarding client against scripted and silent servers -------------------------------- */

/* Whether something listens on 127.0.0.1:80 (then the port-80 fallbacks cannot be checked). */
static int port80_open(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return rc;
}

static void test_http_client_failures(void **state)
{
	static const struct fake_conn garbage[] = {{.answer = "SMTP ready\r\n"}};
	static const struct fake_conn huge[] = {
		{.answer = "HTTP/1.1 200 OK\r\n\r\n", .big = HTTP_CLIENT_RESPONSE_MAX + 1024}};
	static const struct fake_conn slow_ok[] = {
		{.answer = "HTTP/1.1 201 Created\r\n" PAUSE "Content-Length: 2\r\n\r\n" PAUSE "{}"}};
	static const struct fake_conn no_blank[] = {{.answer = "HTTP/1.1 204 No Content"}};
	static const struct fake_conn slow_reader[] = {
		{.answer = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone", .drain = 1}};
	static const struct fake_conn reset[] = {{.answer = "x", .reset = 1}};
	static const struct fake_conn gone[] = {{.answer = "", .no_read = 1}};
	struct fake_srv f;
	struct ecom_err err = {0};
	char url[64], *resp = (char *)"unset", *big;
	int status = -1, lfd, port;
	int64_t t0;

	(void)state;
	/* bad URLs */
	assert_int_equal(http_client_post("https://x", "/", NULL, NULL, 100, &status, &resp, &err),
			 ECOM_INVALID);
	assert_non_null(strstr(err.msg, "only http://host[:port]"));
	assert_null(resp);
	assert_int_equal(status, 0);
	assert_int_equal(http_client_post(NULL, "/", NULL, NULL, 100, &status, &resp, &err),
			 ECOM_INVALID);
	assert_non_null(strstr(err.msg, "(none)"));
	assert_int_equal(http_client_post("http://:80/", "/", NULL, NULL, 100, &status, &resp,
					  &err), ECOM_INVALID);
	assert_non_null(strstr(err.msg, "no host"));
	{
		char longhost[400];

		snprintf(longhost, sizeof(longhost), "http://%0300d:80", 0);
		assert_int_equal(http_client_post(longhost, "/", NULL, NULL, 100, &status, &resp,
						  &err), ECOM_INVALID);
		assert_non_null(strstr(err.msg, "no host"));
		snprintf(longhost, sizeof(longhost), "http://%0300d/x", 0);
		assert_int_equal(http_client_post(longhost, "/", NULL, NULL, 100, &status, &resp,
						  &err), ECOM_INVALID);
		assert_non_null(strstr(err.msg, "no host"));
	}
	/* nobody listening */
	lfd = listen_any(&port);
	close(lfd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ignored/path", port);
	assert_int_equal(http_client_post(url, "/admin/retry/o1", NULL, "{}", 500, &status, &resp,
					  &err), ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "cannot connect to 127.0.0.1:"));
	/* no port, an empty one, or one too long to be a port: 80 (where nothing may listen
	 * for these checks to mean something) */
	if (!port80_open()) {
		assert_int_equal(http_client_post("http://127.0.0.1:1234567", "/", NULL, NULL, 500,
						  &status, &resp, &err), ECOM_UNAVAILABLE);
		assert_non_null(strstr(err.msg, "127.0.0.1:80"));
		assert_int_equal(http_client_post("http://127.0.0.1:/", "/", NULL, NULL, 500,
						  &status, &resp, &err), ECOM_UNAVAILABLE);
		assert_non_null(strstr(err.msg, "127.0.0.1:80"));
		assert_int_equal(http_client_post("http://127.0.0.1", "/", NULL, NULL, 500, &status,
						  &resp, &err), ECOM_UNAVAILABLE);
		assert_non_null(strstr(err.msg, "cannot connect to 127.0.0.1:80"));
	}
	/* accepted by the kernel, never answered: the timeout bounds the wait */
	lfd = listen_any(&port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	t0 = now_ms();
	assert_int_equal(http_client_post(url, "/x", NULL, "{}", 300, &status, &resp, &err),
			 ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "no answer in 300 ms"));
	assert_true(now_ms() - t0 < 3000);
	/* a body the silent peer never reads: the send times out */
	big = ecom_xmalloc(16 * 1024 * 1024);
	memset(big, ' ', 16 * 1024 * 1024 - 1);
	big[16 * 1024 * 1024 - 1] = '\0';
	assert_int_equal(http_client_post(url, "/x", NULL, big, 300, &status, &resp, &err),
			 ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "send failed"));
	free(big);
	close(lfd);
	/* answers that are not HTTP, too large, or without a header end */
	fake_srv_start(&f, garbage, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	assert_int_equal(http_client_post(url, "/x", NULL, NULL, NET_WAIT_MS, &status, &resp,
					  &err), ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "no answer in"));
	fake_srv_stop(&f);
	fake_srv_start(&f, huge, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	assert_int_equal(http_client_post(url, "/x", NULL, NULL, NET_WAIT_MS, &status, &resp,
					  &err), ECOM_UNAVAILABLE);
	fake_srv_stop(&f);
	fake_srv_start(&f, slow_ok, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	assert_int_equal(http_client_post(url, "/x", "Bearer t", "{}", NET_WAIT_MS, &status,
					  &resp, &err), ECOM_OK);
	assert_int_equal(status, 201);
	assert_string_equal(resp, "{}");
	free(resp);
	fake_srv_stop(&f);
	fake_srv_start(&f, no_blank, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	assert_int_equal(http_client_post(url, "/x", NULL, NULL, NET_WAIT_MS, &status, &resp,
					  &err), ECOM_OK);
	assert_int_equal(status, 204);
	assert_string_equal(resp, "");
	free(resp);
	fake_srv_stop(&f);
	/* a large body to a peer that reads slowly: sent in full, then answered */
	big = ecom_xmalloc(4 * 1024 * 1024);
	memset(big, ' ', 4 * 1024 * 1024 - 1);
	big[4 * 1024 * 1024 - 1] = '\0';
	fake_srv_start(&f, slow_reader, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	assert_int_equal(http_client_post(url, "/x", NULL, big, NET_WAIT_MS, &status, &resp,
					  &err), ECOM_OK);
	assert_string_equal(resp, "done");
	free(resp);
	fake_srv_stop(&f);
	/* a peer that closes without reading: the send fails */
	fake_srv_start(&f, gone, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	assert_int_equal(http_client_post(url, "/x", NULL, big, NET_WAIT_MS, &status, &resp,
					  &err), ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "send failed"));
	fake_srv_stop(&f);
	free(big);
	/* a reset instead of an answer */
	fake_srv_start(&f, reset, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", f.port);
	assert_int_equal(http_client_post(url, "/x", NULL, "{}", NET_WAIT_MS, &status, &resp,
					  &err), ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "no answer in"));
	fake_srv_stop(&f);
}

/* ---- JWT edge cases ------------------------------------------------------------------------- */

#include <dlfcn.h>
#include <jwt.h>

#define JX_SECRET "cov-secret-0123456789-abcdefghijklmnop"
#define JX_NOW_S 1767225600LL

static char *jx_craft(jwt_alg_t alg, const char *claims_json)
{
	jwt_t *jwt = NULL;
	char *tok;

	assert_int_equal(jwt_new(&jwt), 0);
	assert_int_equal(jwt_add_grants_json(jwt, claims_json), 0);
	assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)JX_SECRET,
				     (int)strlen(JX_SECRET)), 0);
	tok = jwt_encode_str(jwt);
	assert_non_null(tok);
	jwt_free(jwt);
	return tok;
}

static int jx_check(struct jwt_auth *a, const char *prefix, char *tok, char *msg)
{
	char hdr[JWT_TOKEN_MAX + 64];
	struct ecom_err err = {0};
	int st;

	snprintf(hdr, sizeof(hdr), "%s%s", prefix, tok);
	free(tok);
	st = jwt_auth_check(a, hdr, &err);
	snprintf(msg, 256, "%s", err.msg);
	return st;
}

static void b64url(const unsigned char *in, size_t n, char *out)
{
	static const char t[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = t[v >> 6 & 63];
		if (i + 2 < n)
			out[o++] = t[v & 63];
	}
	out[o] = '\0';
}

/* An HS256 token over any payload text, signed with OpenSSL's HMAC (already loaded by libjwt,
 * found with dlsym); NULL if it is not there. */
static char *jx_raw_hs256(const char *payload)
{
	typedef const void *(*md_fn)(void);
	typedef unsigned char *(*hmac_fn)(const void *, const void *, int, const unsigned char *,
					  size_t, unsigned char *, unsigned int *);
	static const char head[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	md_fn sha256 = (md_fn)dlsym(RTLD_DEFAULT, "EVP_sha256");
	hmac_fn hmac = (hmac_fn)dlsym(RTLD_DEFAULT, "HMAC");
	unsigned char mac[64];
	unsigned int mac_len = 0;
	char *tok, sig[128];
	size_t n;

	if (!sha256 || !hmac)
		return NULL;
	tok = ecom_xcalloc(1, 1024);
	b64url((const unsigned char *)head, strlen(head), tok);
	n = strlen(tok);
	tok[n++] = '.';
	b64url((const unsigned char *)payload, strlen(payload), tok + n);
	n = strlen(tok);
	hmac(sha256(), JX_SECRET, (int)strlen(JX_SECRET), (const unsigned char *)tok, n, mac,
	     &mac_len);
	b64url(mac, mac_len, sig);
	snprintf(tok + n, 1024 - n, ".%s", sig);
	return tok;
}

static void test_jwt_edges(void **state)
{
	struct manual_clock clk;
	struct jwt_auth *a;
	struct ecom_err err = {0};
	char msg[256], claims[256], *tok, *longtok;
	int64_t ttl;

	(void)state;
	manual_clock_init(&clk, JX_NOW_S * 1000);
	a = jwt_auth_new(JX_SECRET, &clk.base);
	snprintf(claims, sizeof(claims), "{\"role\":\"admin\",\"exp\":%lld}", JX_NOW_S + 60);
	/* spaces after the scheme are tolerated; bytes outside base64url are not */
	assert_int_equal(jx_check(a, "bearer    ", jx_craft(JWT_ALG_HS256, claims), msg), 0);
	assert_int_equal(jx_check(a, "Bearer ", ecom_xstrdup("abc$def.ghi.jkl"), msg), 401);
	assert_string_equal(msg, "malformed Authorization header (want: Bearer <jwt>)");
	longtok = ecom_xmalloc(JWT_TOKEN_MAX + 2);
	memset(longtok, 'a', JWT_TOKEN_MAX + 1);
	longtok[JWT_TOKEN_MAX + 1] = '\0';
	assert_int_equal(jx_check(a, "Bearer ", longtok, msg), 401);
	assert_int_equal(jwt_auth_check(a, "", &err), 401);
	assert_string_equal(err.msg, "missing bearer token");
	/* every base64url byte passes the shape check; the signature check then refuses */
	assert_int_equal(jx_check(a, "Bearer ", ecom_xstrdup("aZ09-_=.aZ09-_=.aZ09-_="), msg), 401);
	assert_string_equal(msg, "invalid token (malformed or bad signature)");
	/* roles: an array holding admin (after other values) grants; without it, 403 */
	snprintf(claims, sizeof(claims), "{\"roles\":[\"viewer\",3,\"admin\"],\"exp\":%lld}",
		 JX_NOW_S + 60);
	assert_int_equal(jx_check(a, "Bearer ", jx_craft(JWT_ALG_HS256, claims), msg), 0);
	snprintf(claims, sizeof(claims), "{\"role\":\"viewer\",\"roles\":[\"ops\",1],\"exp\":%lld}",
		 JX_NOW_S + 60);
	assert_int_equal(jx_check(a, "Bearer ", jx_craft(JWT_ALG_HS256, claims), msg), 403);
	assert_string_equal(msg, "forbidden: admin role required");
	/* exp as a fraction is a number; one beyond any date is not */
	snprintf(claims, sizeof(claims), "{\"role\":\"admin\",\"exp\":%lld.5}", JX_NOW_S + 60);
	assert_int_equal(jx_check(a, "Bearer ", jx_craft(JWT_ALG_HS256, claims), msg), 0);
	assert_int_equal(jx_check(a, "Bearer ",
				  jx_craft(JWT_ALG_HS256, "{\"role\":\"admin\",\"exp\":1e300}"),
				  msg),
			 401);
	assert_string_equal(msg, "invalid token: exp claim required (a number)");
	assert_int_equal(jx_check(a, "Bearer ",
				  jx_craft(JWT_ALG_HS256, "{\"role\":\"admin\",\"exp\":-1e300}"),
				  msg),
			 401);
	assert_string_equal(msg, "invalid token: exp claim required (a number)");
	/* nbf: in the future (past the leeway), not a number, or in the past */
	snprintf(claims, sizeof(claims), "{\"role\":\"admin\",\"exp\":%lld,\"nbf\":%lld}",
		 JX_NOW_S + 600, JX_NOW_S + 300);
	assert_int_equal(jx_check(a, "Bearer ", jx_craft(JWT_ALG_HS256, claims), msg), 401);
	assert_string_equal(msg, "token not valid yet (nbf)");
	snprintf(claims, sizeof(claims), "{\"role\":\"admin\",\"exp\":%lld,\"nbf\":\"soon\"}",
		 JX_NOW_S + 600);
	assert_int_equal(jx_check(a, "Bearer ", jx_craft(JWT_ALG_HS256, claims), msg), 401);
	snprintf(claims, sizeof(claims), "{\"role\":\"admin\",\"exp\":%lld,\"nbf\":%lld}",
		 JX_NOW_S + 600, JX_NOW_S - 10);
	assert_int_equal(jx_check(a, "Bearer ", jx_craft(JWT_ALG_HS256, claims), msg), 0);
	/* claims that are valid JSON but not an object */
	tok = jx_raw_hs256("[1,2]");
	if (tok) {
		assert_int_equal(jx_check(a, "Bearer ", tok, msg), 401);
		assert_string_equal(msg, "invalid token: claims are not a JSON object");
	}
	/* minting: refusals name the field; no role or subject means none in the token */
	assert_null(jwt_auth_mint(NULL, "admin", NULL, JX_NOW_S, 60, &err));
	assert_string_equal(err.msg, "secret: required (none is built in)");
	assert_null(jwt_auth_mint(JX_SECRET, "admin", NULL, JX_NOW_S, 0, &err));
	assert_string_equal(err.msg, "ttl: must be 1 s .. 366 d");
	assert_null(jwt_auth_mint(JX_SECRET, "admin", NULL, JX_NOW_S, 367LL * 86400, &err));
	tok = jwt_auth_mint(JX_SECRET, NULL, NULL, JX_NOW_S, 60, &err);
	assert_non_null(tok);
	assert_int_equal(jx_check(a, "Bearer ", tok, msg), 403);
	/* TTL text */
	assert_int_equal(jwt_parse_ttl(NULL, &ttl), ECOM_INVALID);
	assert_int_equal(jwt_parse_ttl("", &ttl), ECOM_INVALID);
	assert_int_equal(jwt_parse_ttl("m", &ttl), ECOM_INVALID);
	assert_int_equal(jwt_parse_ttl("5w", &ttl), ECOM_INVALID);
	assert_int_equal(jwt_parse_ttl("5mm", &ttl), ECOM_INVALID);
	assert_int_equal(jwt_parse_ttl("0", &ttl), ECOM_INVALID);
	assert_int_equal(jwt_parse_ttl("99999999999", &ttl), ECOM_INVALID);
	assert_int_equal(jwt_parse_ttl("367d", &ttl), ECOM_INVALID);
	assert_int_equal(jwt_parse_ttl("90", &ttl), ECOM_OK);
	assert_int_equal(ttl, 90);
	assert_int_equal(jwt_parse_ttl("90s", &ttl), ECOM_OK);
	assert_int_equal(ttl, 90);
	assert_int_equal(jwt_parse_ttl("2d", &ttl), ECOM_OK);
	assert_int_equal(ttl, 2 * 86400);
	jwt_auth_free(a);
	jwt_auth_free(NULL);
}

#endif /* ECOM_HAVE_BACKENDS */

/* ==== 5. the CLI tools' client (src/cli/cli_http.c) against scripted answers ================== */

static void test_cli_url_parse_edges(void **state)
{
	static const struct {
		const char *url, *msg;
	} bad[] = {
		{"", "empty URL"},
		{"https://h", "https is not supported"},
		{"ftp://h", "only http:// URLs"},
		{"http://h/p?q=1", "no query or fragment"},
		{"http://h#top", "no query or fragment"},
		{"http://[::1/x", "bad IPv6 address"},
		{"http://[::1", "bad IPv6 address"},
		{"http://[::1]x", "bad host"},
		{"http://[]:80", "missing or too long host"},
		{"http://:80", "missing or too long host"},
		{"http://h:", "bad port"},
		{"http://h:123456789", "bad port"},
		{"http://h:0", "bad port"},
		{"http://h:12ab/", "bad port"},
	};
	struct cli_url u;
	struct ecom_err err = {0};
	char longer[700];

	(void)state;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(bad); i++) {
		err.msg[0] = '\0';
		assert_int_equal(cli_url_parse(bad[i].url, &u, &err), ECOM_INVALID);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("%s: '%s' does not say '%s'", bad[i].url, err.msg, bad[i].msg);
	}
	assert_int_equal(cli_url_parse(NULL, &u, &err), ECOM_INVALID);
	/* hosts that do not fit, with and without brackets; a path that does not fit */
	memset(longer, 'h', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(cli_url_parse(longer, &u, &err), ECOM_INVALID);
	assert_non_null(strstr(err.msg, "missing or too long host"));
	longer[0] = '[';
	longer[400] = ']';
	longer[401] = '\0';
	assert_int_equal(cli_url_parse(longer, &u, &err), ECOM_INVALID);
	assert_non_null(strstr(err.msg, "missing or too long host"));
	memset(longer, '/', sizeof(longer) - 1);
	memcpy(longer, "http://h", 8);
	assert_int_equal(cli_url_parse(longer, &u, &err), ECOM_INVALID);
	assert_non_null(strstr(err.msg, "path too long"));
	/* good ones: brackets kept in the Host header only, port 80 implied, slashes trimmed */
	assert_int_equal(cli_url_parse("http://[::1]:8080/api/", &u, &err), ECOM_OK);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "8080");
	assert_string_equal(u.prefix, "/api");
	assert_string_equal(u.authority, "[::1]:8080");
	assert_int_equal(cli_url_parse("http://[::1]", &u, &err), ECOM_OK);
	assert_string_equal(u.authority, "[::1]");
	assert_int_equal(cli_url_parse("example.test:80///", &u, &err), ECOM_OK);
	assert_string_equal(u.host, "example.test");
	assert_string_equal(u.prefix, "");
	assert_string_equal(u.authority, "example.test");
}

/* One request to 127.0.0.1:port on a fresh connection; rc, with *kept = whether the
 * connection stayed open for another request. */
static int cli_case(int port, const char *method, const char *body, int timeout_ms,
		    struct cli_response *r, struct ecom_err *err, int *kept)
{
	char text[64];
	struct cli_url u;
	struct cli_conn c;
	int rc;

	snprintf(text, sizeof(text), "http://127.0.0.1:%d", port);
	assert_int_equal(cli_url_parse(text, &u, NULL), ECOM_OK);
	cli_conn_init(&c, &u);
	err->msg[0] = '\0';
	rc = cli_http_request(&c, method, "/p", NULL, body, body ? strlen(body) : 0, timeout_ms, r,
			      err);
	*kept = c.fd >= 0;
	cli_conn_close(&c);
	return rc;
}

#define CHUNKED_HEAD "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"

static void test_cli_http_scripted_answers(void **state)
{
	static const struct fake_conn script[] = {
		/* 0 chunked, arriving in pieces */
		{.answer = CHUNKED_HEAD PAUSE "5\r\nhel" PAUSE "lo\r\n" PAUSE
			   "6\r\n world\r\n0\r\n\r\n"},
		/* 1..3 chunked answers cut short or malformed */
		{.answer = CHUNKED_HEAD "5\r\nhel"},
		{.answer = CHUNKED_HEAD "5"},
		{.answer = CHUNKED_HEAD "zz\r\n"},
		/* 4..6 Content-Length problems */
		{.answer = "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"},
		{.answer = "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n"},
		{.answer = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
		/* 7 Connection: close with padding around the value */
		{.answer = "HTTP/1.1 200 OK\r\nConnection:  \tclose  \r\n"
			   "Content-Length: 2\r\n\r\nok",
		 .hold_ms = 100},
		/* 8 HTTP/1.0: never kept */
		{.answer = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", .hold_ms = 100},
		/* 9 more bytes than announced: answered, then the connection is dropped */
		{.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", .hold_ms = 100},
		/* 10 304 and 11 1xx carry no body; 12 HEAD neither */
		{.answer = "HTTP/1.1 304 Not Modified\r\nContent-Length: 40\r\n\r\n",
		 .hold_ms = 100},
		{.answer = "HTTP/1.1 101 Switching\r\n\r\n", .hold_ms = 100},
		{.answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", .hold_ms = 100},
		/* 13, 14 not HTTP */
		{.answer = "HTTP/1.1 1000 Big\r\n\r\n"},
		{.answer = "HTTP/1.1 abc\r\n\r\n"},
		/* 15 headers that never end; 16 cut inside the headers; 17 closed at once */
		{.answer = "HTTP/1.1 200 OK\r\nX: ", .big = CLI_HTTP_HEADERS_MAX + 100,
		 .hold_ms = 300},
		{.answer = "HTTP/1.1 200 OK\r\nX: y"},
		{.answer = ""},
		/* 18 a close-delimited answer larger than the client takes */
		{.answer = "HTTP/1.1 200 OK\r\n\r\n", .big = CLI_HTTP_RESPONSE_MAX + 65536},
		/* 19..22 a chunk size beyond any answer, a status below 100, headers that only look
		 * like the ones that matter, a POST without a body */
		{.answer = CHUNKED_HEAD "FFFFFFFFFF\r\n"},
		{.answer = "HTTP/1.1 099 Low\r\n\r\n"},
		{.answer = "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnectio: close\r\n"
			   "Transfer-Encoding: identity\r\nTransfer-Encoding: x\r\n"
			   "Content-Length: 2\r\n\r\nok", .hold_ms = 100},
		{.answer = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", .hold_ms = 100},
		/* 23 reads the body slowly, then answers; 24 resets; 25, 26 stall inside chunks */
		{.answer = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone", .drain = 1,
		 .hold_ms = 100},
		{.answer = "x", .reset = 1},
		{.answer = CHUNKED_HEAD "5", .hold_ms = 1000},
		{.answer = CHUNKED_HEAD "5\r\nhe", .hold_ms = 1000},
		/* 27 silent: the timeout ends the wait; 28 reads nothing: the send times out */
		{.answer = NULL, .hold_ms = 1500},
		{.answer = NULL, .hold_ms = 1500, .no_read = 1},
	};
	struct fake_srv f;
	struct cli_response r;
	struct ecom_err err = {0};
	int kept;
	char *big;
	int64_t t0;

	(void)state;
	fake_srv_start(&f, script, ECOM_ARRAY_LEN(script));
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept), ECOM_OK);
	assert_string_equal(r.body, "hello world");
	assert_false(kept); /* chunked answers end the connection */
	cli_response_free(&r);
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_UNAVAILABLE);
	assert_string_equal(err.msg, "truncated chunk");
	assert_null(r.body);
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_UNAVAILABLE);
	assert_string_equal(err.msg, "truncated chunks");
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "bad chunk size");
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "bad Content-Length");
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "bad Content-Length");
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_UNAVAILABLE);
	assert_string_equal(err.msg, "truncated answer");
	for (int i = 7; i <= 9; i++) {
		assert_int_equal(cli_case(f.port, "POST", "{}", NET_WAIT_MS, &r, &err, &kept),
				 ECOM_OK);
		assert_string_equal(r.body, "ok");
		assert_false(kept);
		cli_response_free(&r);
	}
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept), ECOM_OK);
	assert_int_equal(r.status, 304);
	assert_int_equal(r.body_len, 0);
	assert_true(kept);
	cli_response_free(&r);
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept), ECOM_OK);
	assert_int_equal(r.status, 101);
	cli_response_free(&r);
	assert_int_equal(cli_case(f.port, "HEAD", NULL, NET_WAIT_MS, &r, &err, &kept), ECOM_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	assert_true(kept);
	cli_response_free(&r);
	for (int i = 13; i <= 14; i++) {
		assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
				 ECOM_INVALID);
		assert_string_equal(err.msg, "not an HTTP answer");
	}
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "truncated or oversized headers");
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_UNAVAILABLE);
	assert_string_equal(err.msg, "truncated or oversized headers");
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_UNAVAILABLE);
	assert_string_equal(err.msg, "connection closed before an answer");
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "answer larger than 33554432 bytes"));
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "bad chunk size");
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_INVALID);
	assert_string_equal(err.msg, "not an HTTP answer");
	assert_int_equal(cli_case(f.port, "DELETE", "{}", NET_WAIT_MS, &r, &err, &kept), ECOM_OK);
	assert_string_equal(r.body, "ok");
	assert_true(kept); /* neither "Connectio: close" nor "identity" ends the connection */
	cli_response_free(&r);
	assert_int_equal(cli_case(f.port, "POST", NULL, NET_WAIT_MS, &r, &err, &kept), ECOM_OK);
	assert_int_equal(r.status, 201);
	cli_response_free(&r);
	big = ecom_xmalloc(4 * 1024 * 1024 + 1);
	memset(big, ' ', 4 * 1024 * 1024);
	big[4 * 1024 * 1024] = '\0';
	assert_int_equal(cli_case(f.port, "POST", big, NET_WAIT_MS, &r, &err, &kept), ECOM_OK);
	assert_string_equal(r.body, "done");
	cli_response_free(&r);
	free(big);
	assert_int_equal(cli_case(f.port, "GET", NULL, NET_WAIT_MS, &r, &err, &kept),
			 ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "recv: "));
	for (int i = 25; i <= 26; i++) {
		assert_int_equal(cli_case(f.port, "GET", NULL, 300, &r, &err, &kept),
				 ECOM_UNAVAILABLE);
		assert_string_equal(err.msg, "no answer in time");
		assert_null(r.body);
	}
	t0 = now_ms();
	assert_int_equal(cli_case(f.port, "GET", NULL, 200, &r, &err, &kept), ECOM_UNAVAILABLE);
	assert_string_equal(err.msg, "no answer in time");
	assert_true(now_ms() - t0 < 1200); /* the silent server holds on for 1500 ms */
	big = ecom_xmalloc(16 * 1024 * 1024 + 1);
	memset(big, ' ', 16 * 1024 * 1024);
	big[16 * 1024 * 1024] = '\0';
	assert_int_equal(cli_case(f.port, "POST", big, 300, &r, &err, &kept), ECOM_UNAVAILABLE);
	assert_string_equal(err.msg, "send: timed out");
	free(big);
	fake_srv_stop(&f);
	cli_response_free(NULL);
	/* nobody listening, over IPv4 and (where there is one) IPv6 loopback */
	{
		int lfd = listen_any(&kept), port = kept;
		char url[64];
		struct cli_url u;
		struct cli_conn c;

		close(lfd);
		snprintf(url, sizeof(url), "127.0.0.1:%d", port);
		assert_int_equal(cli_url_parse(url, &u, NULL), ECOM_OK);
		cli_conn_init(&c, &u);
		assert_int_equal(cli_http_request(&c, "GET", "/", NULL, NULL, 0, 500, &r, &err),
				 ECOM_UNAVAILABLE);
		assert_non_null(strstr(err.msg, "Connection refused"));
		cli_conn_close(&c);
		snprintf(url, sizeof(url), "http://[::1]:%d", port);
		assert_int_equal(cli_url_parse(url, &u, NULL), ECOM_OK);
		cli_conn_init(&c, &u);
		assert_int_equal(cli_http_request(&c, "GET", "/", NULL, NULL, 0, 500, &r, &err),
				 ECOM_UNAVAILABLE);
		assert_non_null(strstr(err.msg, "connect ::1:"));
		cli_conn_close(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_status_and_reason_tables),
		cmocka_unit_test_setup_teardown(test_routes_bad_requests_name_the_problem, rw_setup,
						rw_teardown),
		cmocka_unit_test_setup_teardown(test_routes_list_filters, rw_setup, rw_teardown),
		cmocka_unit_test_setup_teardown(test_routes_dlq_filters, rw_setup, rw_teardown),
		cmocka_unit_test_setup_teardown(test_routes_callbacks_fail_or_answer_nothing,
						rw_setup, rw_teardown),
		cmocka_unit_test_setup_teardown(test_routes_debug_produce_validation, rw_setup,
						rw_teardown),
		cmocka_unit_test_setup_teardown(test_routes_sse_timelines, rw_setup, rw_teardown),
		cmocka_unit_test_setup_teardown(test_routes_static_files, rw_setup, rw_teardown),
		cmocka_unit_test_setup_teardown(test_routes_admin_and_cors, rw_setup, rw_teardown),
		cmocka_unit_test_setup_teardown(test_routes_ready_without_words, rw_setup,
						rw_teardown),
		cmocka_unit_test(test_ecom_rc_names),
		cmocka_unit_test(test_ecom_aborts),
		cmocka_unit_test(test_app_service_names),
		cmocka_unit_test(test_app_new_refusals),
		cmocka_unit_test(test_app_start_failures),
		cmocka_unit_test(test_app_ready_names_the_failing_backend),
		cmocka_unit_test(test_app_metrics_scans),
		cmocka_unit_test(test_app_runtime_outcomes),
		cmocka_unit_test(test_app_read_model_alone),
		cmocka_unit_test(test_app_dlq_replay_rebuilds_originals),
		cmocka_unit_test(test_app_dlq_replay_from_the_log),
		cmocka_unit_test(test_app_without_sse_listener),
#ifdef ECOM_HAVE_BACKENDS
		cmocka_unit_test_teardown(test_http_server_sse_streams, kids_reap),
		cmocka_unit_test_teardown(test_http_server_slow_readers, kids_reap),
		cmocka_unit_test_teardown(test_http_server_stream_limit, kids_reap),
		cmocka_unit_test_teardown(test_http_server_requests, kids_reap),
		cmocka_unit_test(test_http_server_new_refusals),
		cmocka_unit_test_teardown(test_http_client_failures, kids_reap),
		cmocka_unit_test(test_jwt_edges),
#endif
		cmocka_unit_test(test_cli_url_parse_edges),
		cmocka_unit_test_teardown(test_cli_http_scripted_answers, kids_reap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
