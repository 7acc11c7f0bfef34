/* fuzz_http_routes.c — libFuzzer target for the HTTP API (src/http/routes.h): every request
 * goes through routes_handle() to a REAL order service and read model (in-memory store and
 * broker from the test harness; the saga's other services are absent, so orders stay
 * CREATED), so request bodies reach the real validation of POST /orders, the admin retry /
 * compensate commands and the DLQ queries. Whatever the bytes, the router must answer a
 * status in 100..599 with a content type, JSON routes must answer valid JSON, errors must be
 * {"error": "..."}, and nothing may crash, leak or hit undefined behaviour.
 *
 * Input: up to FUZZ_REQUESTS_MAX requests separated by a line "===". Each request is
 *   <service> <METHOD> <path>[?k=v&k2=v2] [flag...]\n<body>
 * service: "order" or "rm" (read model); flags: admin (a valid admin token), user (a token
 * without the admin role: 403), bad (a malformed token: 401), big (the server stopped reading
 * the body: 413), origin=<o>, leid=<Last-Event-ID>. An empty body is no body. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "core/ecom.h"
#include "core/metrics.h"
#include "event/jsonx.h"
#include "http/routes.h"
#include "services/order/order.h"
#include "services/read-model/read_model.h"
#include "support/harness.h"

#define FUZZ_REQUESTS_MAX 8      /* requests per input */
#define FUZZ_QUERY_MAX (HTTP_QUERY_MAX + 4) /* a few more than the router reads */
#define FUZZ_INPUT_MAX (HTTP_BODY_MAX + 4096)
#define FUZZ_QUIET_US (2 * 1000 * 1000) /* clock time the world runs after each request */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_world {
	struct harness *h;
	struct catalog cat;
	struct order_service *o;
	struct read_model *rm;
	struct metrics *m;
	struct http_api order_api, rm_api;
};

/* ---- the services behind the API ------------------------------------------------------ */

static int f_create(void *arg, json_t *body, json_t **resp, int *created, struct ecom_err *err)
{
	struct fuzz_world *w = arg;

	*created = 1;
	return order_create(w->o, body, resp, err);
}

static int f_get(void *arg, const char *id, json_t **out, struct ecom_err *err)
{
	return order_get(((struct fuzz_world *)arg)->o, id, out, err);
}

static int f_retry(void *arg, const char *id, const char *step, json_t **resp,
		   struct ecom_err *err)
{
	return order_retry(((struct fuzz_world *)arg)->o, id, step, resp, err);
}

static int f_comp(void *arg, const char *id, const char *action, json_t **resp,
		  struct ecom_err *err)
{
	return order_compensate(((struct fuzz_world *)arg)->o, id, action, resp, err);
}

static int f_rm_list(void *arg, const char *status, size_t limit, json_t **out,
		     struct ecom_err *err)
{
	return read_model_list(((struct fuzz_world *)arg)->rm, status, limit, out, err);
}

static int f_rm_get(void *arg, const char *id, json_t **out, struct ecom_err *err)
{
	return read_model_get(((struct fuzz_world *)arg)->rm, id, out, err);
}

static int f_rm_timeline(void *arg, const char *id, json_t **entries, struct ecom_err *err)
{
	json_t *proj = NULL, *tl, *e;
	size_t i;
	int rc = read_model_get(((struct fuzz_world *)arg)->rm, id, &proj, err);

	if (rc != ECOM_OK)
		return rc;
	*entries = json_array();
	tl = json_object_get(proj, "timeline");
	json_array_foreach(tl, i, e)
		json_array_append_new(*entries, json_pack("{s:s,s:O}", "eventId",
							  jsonx_str_or(e, "eventId", "?"),
							  "entry", e));
	json_decref(proj);
	return ECOM_OK;
}

static int f_dlq_list(void *arg, const char *topic, const char *oid, json_t **out,
		      struct ecom_err *err)
{
	return read_model_dlq_list(((struct fuzz_world *)arg)->rm, topic, oid, 0, out, err);
}

/* Replay itself is the app's (it republishes from the log); here only the record. */
static int f_dlq_replay(void *arg, const char *id, const char *topic, const char *oid, int all,
			json_t **out, struct ecom_err *err)
{
	struct fuzz_world *w = arg;
	int rc;

	if (!id) {
		*out = json_pack("{s:i}", "replayed", 0);
		return ECOM_OK;
	}
	rc = read_model_dlq_mark_replayed(w->rm, id, NULL, err);
	if (rc == ECOM_OK)
		*out = json_pack("{s:i}", "replayed", 1);
	return rc;
}

static int f_read_file(void *arg, const char *rel, char **data, size_t *len)
{
	if (strcmp(rel, "index.html") != 0)
		return ECOM_NOT_FOUND;
	*data = ecom_xstrdup("<!doctype html><title>ecom</title>");
	*len = strlen(*data);
	return ECOM_OK;
}

static int f_ready(void *arg, struct ecom_err *err)
{
	return ECOM_OK;
}

static int f_auth(void *arg, const char *authz, struct ecom_err *err)
{
	if (authz && strcmp(authz, "Bearer admin") == 0)
		return 0;
	if (authz && strcmp(authz, "Bearer user") == 0) {
		ecom_err_set(err, ECOM_INVALID, "admin role required");
		return 403;
	}
	ecom_err_set(err, ECOM_INVALID, "%s", authz ? "malformed token" : "missing bearer token");
	return 401;
}

static struct fuzz_world *fuzz_world_new(void)
{
	struct fuzz_world *w = ecom_xcalloc(1, sizeof(*w));

	w->h = harness_new(1, 2);
	catalog_init_default(&w->cat, 10);
	w->o = order_service_new(&w->cat, NULL);
	order_service_attach(w->o, harness_add(w->h, order_svc_def(), w->o, "order#1", NULL));
	w->rm = read_model_new(NULL);
	read_model_attach(w->rm, harness_add(w->h, read_model_svc_def(), w->rm, "read-model#1",
					     NULL));
	w->m = metrics_new();
	w->order_api = (struct http_api){
		.service = "order", .arg = w, .order_create = f_create, .order_get = f_get,
		.order_retry = f_retry, .order_compensate = f_comp, .ready = f_ready,
		.metrics = w->m, .authorize = f_auth, .cors_origin = "*",
	};
	w->rm_api = (struct http_api){
		.service = "read-model", .arg = w, .rm_list = f_rm_list, .rm_get = f_rm_get,
		.rm_timeline = f_rm_timeline, .dlq_list = f_dlq_list, .dlq_replay = f_dlq_replay,
		.order_retry = f_retry, .order_compensate = f_comp, .read_file = f_read_file,
		.ready = f_ready, .metrics = w->m, .authorize = f_auth,
		.cors_origin = "http://a.test, http://b.test",
	};
	routes_init(&w->order_api);
	routes_init(&w->rm_api);
	return w;
}

static void fuzz_world_free(struct fuzz_world *w)
{
	harness_free(w->h);
	order_service_free(w->o);
	read_model_free(w->rm);
	metrics_free(w->m);
	catalog_deinit(&w->cat);
	free(w);
}

/* ---- one request ------------------------------------------------------------------------ */

/* What every response must look like, whatever the request. */
static void fuzz_check_response(const struct http_response *r)
{
	json_t *j;

	ECOM_ASSERT(r->status >= 100 && r->status <= 599);
	ECOM_ASSERT(r->content_type && r->route);
	ECOM_ASSERT(r->n_headers <= HTTP_RESP_HEADERS_MAX);
	ECOM_ASSERT(r->body || r->body_len == 0);
	if (r->kind != HTTP_KIND_BODY || !r->body ||
	    strncmp(r->content_type, "application/json", 16) != 0)
		return;
	j = jsonx_loads(r->body, r->body_len, NULL);
	ECOM_ASSERT(j);
	if (r->status >= 400)
		ECOM_ASSERT(json_is_string(json_object_get(j, "error")));
	json_decref(j);
}

/* Splits "a=1&b&c=3" in place into params (at most FUZZ_QUERY_MAX). */
static size_t fuzz_query(char *q, struct http_param *params)
{
	size_t n = 0;
	char *save = NULL, *kv;

	for (kv = strtok_r(q, "&", &save); kv && n < FUZZ_QUERY_MAX;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');

		if (eq)
			*eq++ = '\0';
		params[n].key = kv;
		params[n].value = eq;
		n++;
	}
	return n;
}

/* text: one request (NUL-terminated, may be modified). */
static void fuzz_request(struct fuzz_world *w, char *text, size_t len)
{
	struct http_param params[FUZZ_QUERY_MAX];
	struct http_request req = { 0 };
	struct http_response resp;
	const struct http_api *api;
	char *nl = memchr(text, '\n', len), *save = NULL, *svc, *method, *target, *flag, *q;

	if (nl) {
		*nl = '\0';
		req.body = nl + 1;
		req.body_len = len - (size_t)(nl + 1 - text);
		if (req.body_len == 0)
			req.body = NULL;
	}
	svc = strtok_r(text, " ", &save);
	method = strtok_r(NULL, " ", &save);
	target = strtok_r(NULL, " ", &save);
	if (!svc || !method || !target)
		return;
	api = strcmp(svc, "order") == 0 ? &w->order_api : &w->rm_api;
	while ((flag = strtok_r(NULL, " ", &save))) {
		if (strcmp(flag, "admin") == 0)
			req.authorization = "Bearer admin";
		else if (strcmp(flag, "user") == 0)
			req.authorization = "Bearer user";
		else if (strcmp(flag, "bad") == 0)
			req.authorization = "Bearer x.y.z";
		else if (strcmp(flag, "big") == 0)
			req.body_too_large = 1;
		else if (strncmp(flag, "origin=", 7) == 0)
			req.origin = flag + 7;
		else if (strncmp(flag, "leid=", 5) == 0)
			req.last_event_id = flag + 5;
	}
	q = strchr(target, '?');
	if (q) {
		*q++ = '\0';
		req.n_query = fuzz_query(q, params);
		req.query = params;
	}
	req.method = method;
	req.path = target;
	routes_handle(api, &req, &resp);
	fuzz_check_response(&resp);
	http_response_deinit(&resp);
	harness_run_until_quiet(w->h, FUZZ_QUIET_US);
}

/* The next "\n===\n" in [p, end), or NULL (memmem is a GNU extension). */
static char *fuzz_find_sep(char *p, char *end)
{
	static const char sep[] = "\n===\n";
	size_t n = sizeof(sep) - 1;

	for (; end - p >= (ptrdiff_t)n; p++)
		if (memcmp(p, sep, n) == 0)
			return p;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_world *w;
	char *text, *p, *end, *sep;
	int n;

	if (size > FUZZ_INPUT_MAX)
		return 0;
	text = malloc(size + 1);
	ECOM_ASSERT(text);
	memcpy(text, data, size);
	text[size] = '\0';
	end = text + size;
	w = fuzz_world_new();
	p = text;
	/* Bodies may hold NUL bytes (the server passes body_len); request lines end at one. */
	for (n = 0; p && n < FUZZ_REQUESTS_MAX; n++) {
		sep = fuzz_find_sep(p, end);
		if (sep)
			*sep = '\0';
		fuzz_request(w, p, (size_t)((sep ? sep : end) - p));
		p = sep ? sep + 5 : NULL;
	}
	fuzz_world_free(w);
	free(text);
	return 0;
}
