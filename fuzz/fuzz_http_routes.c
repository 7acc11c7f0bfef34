/* fuzz_http_routes.c — libFuzzer target for the HTTP API (src/http/routes.h): every request
 * goes through routes_handle() to the REAL services as `ecom serve all` wires them (src/app:
 * all five services over the in-memory broker and stores, simulated gateway and carrier, a
 * manual clock), so request bodies reach the real validation of POST /orders, the admin
 * retry / compensate commands, the read model's queries and DLQ replay, and the saga runs
 * between requests. Whatever the bytes, the router must answer a status in 100..599 with a
 * content type, JSON routes must answer valid JSON, errors must be {"error": "..."}, every
 * log line and SSE message must be one line of JSON, and nothing may crash, leak or hit
 * undefined behaviour.
 *
 * Input: up to FUZZ_REQUESTS_MAX requests separated by a line "===". Each request is
 *   <service> <METHOD> <path>[?k=v&k2=v2] [flag...]\n<body>
 * service: "order" or "rm" (read model); flags: admin (a valid admin token), user (a token
 * without the admin role: 403), bad (a malformed token: 401), big (the server stopped reading
 * the body: 413), origin=<o>, leid=<Last-Event-ID>. An empty body is no body.
 * A request line "poison <event type name>" instead produces its body as a raw message to
 * that topic (what a broken producer would send), so the DLQ routes have dead letters. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "core/catalog.h"
#include "core/clock.h"
#include "core/ecom.h"
#include "core/rng.h"
#include "event/event.h"
#include "event/jsonx.h"
#include "http/routes.h"
#include "sim/mem_broker.h"
#include "sim/mem_store.h"
#include "sim/sim_adapters.h"

#define FUZZ_REQUESTS_MAX 8      /* requests per input */
#define FUZZ_QUERY_MAX (HTTP_QUERY_MAX + 4) /* a few more than the router reads */
#define FUZZ_INPUT_MAX (HTTP_BODY_MAX + 4096)
#define FUZZ_EPOCH_MS 1767225600000LL
#define FUZZ_RUN_US (2LL * 1000 * 1000) /* clock time the world runs after each request */
#define FUZZ_TICK_US 5000               /* clock advance per idle round */
#define FUZZ_STEPS_MAX 20000            /* app_step calls per request (a runaway is a hang) */
#define FUZZ_PARTITIONS 2
#define FUZZ_STOCK 5                    /* per SKU of the default catalog (SKU-1..SKU-100) */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_world {
	struct manual_clock clk;
	struct rng rng, gw_rng, car_rng;
	struct catalog cat;
	struct mem_cluster *cluster;
	struct sim_gateway *gw;
	struct sim_carrier *car;
	struct app *app;
};

/* ---- the backends and hooks the app asks for ---------------------------------------- */

static struct broker *f_broker(void *arg, enum app_service s, const char *id,
			       struct ecom_err *err)
{
	return mem_broker_new(((struct fuzz_world *)arg)->cluster, id);
}

static struct store *f_store(void *arg, enum app_service s, struct ecom_err *err)
{
	return mem_store_new();
}

static int f_read(void *arg, const char *topic, int32_t p, int64_t off, struct broker_msg *m)
{
	return mem_cluster_read(((struct fuzz_world *)arg)->cluster, topic, p, off, m);
}

static int f_read_file(void *arg, const char *rel, char **data, size_t *len)
{
	if (strcmp(rel, "index.html") != 0)
		return ECOM_NOT_FOUND;
	*data = ecom_xstrdup("<!doctype html><title>ecom</title>");
	*len = strlen(*data);
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

static void f_log(void *arg, enum app_log_level level, const char *line)
{
	json_t *j = json_loads(line, 0, NULL);

	ECOM_ASSERT(json_is_object(j) && !strchr(line, '\n'));
	json_decref(j);
}

static void f_sse(void *arg, const char *order_id, const char *id, const char *data)
{
	json_t *j = json_loads(data, 0, NULL);

	ECOM_ASSERT(order_id && id && j && !strchr(data, '\n'));
	json_decref(j);
}

static struct fuzz_world *fuzz_world_new(void)
{
	struct fuzz_world *w = ecom_xcalloc(1, sizeof(*w));
	struct sim_adapter_rates gr = { .decline = 0.2 }, cr = { .decline = 0.1 };
	struct app_backends be = { .arg = w, .broker_new = f_broker, .store_new = f_store,
				   .read_original = f_read };
	struct app_config cfg = { 0 };
	struct ecom_err err = { 0 };

	manual_clock_init(&w->clk, FUZZ_EPOCH_MS);
	w->clk.now_us = 1000000;
	rng_seed(&w->rng, 1);
	rng_split(&w->rng, &w->gw_rng);
	rng_split(&w->rng, &w->car_rng);
	catalog_init_default(&w->cat, FUZZ_STOCK);
	w->cluster = mem_cluster_new(FUZZ_PARTITIONS, &w->clk.base);
	w->gw = sim_gateway_new(&gr, &w->gw_rng, &w->clk.base);
	w->car = sim_carrier_new(&cr, &w->car_rng, &w->clk.base);
	cfg.services = APP_ALL_SERVICES;
	cfg.clock = &w->clk.base;
	cfg.rng = &w->rng;
	cfg.catalog = &w->cat;
	cfg.gateway = sim_gateway_iface(w->gw);
	cfg.carrier = sim_carrier_iface(w->car);
	cfg.seed_stock = 1;
	cfg.authorize = f_auth;
	cfg.cors_origin = "http://a.test, http://b.test";
	cfg.read_file = f_read_file;
	cfg.log_line = f_log;
	cfg.log_level = APP_LOG_DEBUG;
	cfg.sse = f_sse;
	w->app = app_new(&cfg, &be, &err);
	ECOM_ASSERT(w->app);
	ECOM_ASSERT(app_start(w->app, &err) == ECOM_OK);
	return w;
}

static void fuzz_world_free(struct fuzz_world *w)
{
	app_free(w->app);
	sim_gateway_free(w->gw);
	sim_carrier_free(w->car);
	mem_cluster_free(w->cluster);
	catalog_deinit(&w->cat);
	free(w);
}

/* Lets the saga run for FUZZ_RUN_US of clock time after a request. */
static void fuzz_world_run(struct fuzz_world *w)
{
	int64_t end = w->clk.now_us + FUZZ_RUN_US, next;
	int steps;

	for (steps = 0; w->clk.now_us < end; steps++) {
		ECOM_ASSERT(steps < FUZZ_STEPS_MAX);
		if (app_step(w->app, &next))
			continue;
		/* Idle: jump to the next timer (sweeps, backoffs, deadlines), at least one tick. */
		if (next < w->clk.now_us + FUZZ_TICK_US)
			next = w->clk.now_us + FUZZ_TICK_US;
		w->clk.now_us = next < end ? next : end;
	}
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

/* Produces body to the topic of a known event type (others are ignored: topics are the
 * deployment's, not the client's). */
static void fuzz_poison(struct fuzz_world *w, const char *topic, const char *body, size_t len)
{
	struct broker *p;
	struct broker_record rec = { .topic = topic, .key = "poison", .key_len = 6,
				     .value = body ? body : "", .value_len = body ? len : 0 };
	enum event_type t;

	if (!topic || event_type_from_name(topic, &t) != ECOM_OK)
		return;
	p = mem_broker_new(w->cluster, "fuzz-poisoner");
	ECOM_ASSERT(broker_produce(p, &rec, NULL) == ECOM_OK);
	broker_destroy(p);
	fuzz_world_run(w);
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
	if (svc && strcmp(svc, "poison") == 0) {
		fuzz_poison(w, method, req.body, req.body_len);
		return;
	}
	target = strtok_r(NULL, " ", &save);
	if (!svc || !method || !target)
		return;
	api = app_http_api(w->app, strcmp(svc, "order") == 0 ? APP_ORDER : APP_READ_MODEL);
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
#ifdef FUZZ_VERBOSE /* -DFUZZ_VERBOSE: print each exchange (for writing seeds) */
	fprintf(stderr, "%s %s -> %d %.*s\n", method, target, resp.status,
		(int)(resp.body_len < 300 ? resp.body_len : 300), resp.body ? resp.body : "");
#endif
	fuzz_check_response(&resp);
	http_response_deinit(&resp);
	fuzz_world_run(w);
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
