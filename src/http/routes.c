/* routes.c — the route table and handlers of routes.h. Order of checks for every request:
 * route match (404 / 405 / OPTIONS preflight), body size (413), admin authorization
 * (503 / 401 / 403), JSON shape (400 naming the field), then the service callback, whose
 * ecom_rc maps to the status (http_status_for_rc). Nothing is written on a 4xx: validation
 * happens before the callback, and the callbacks validate before they commit. */
#include "http/routes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/jsonx.h"

#define HTTP_SEGMENTS_MAX 8      /* path segments matched against a pattern */
#define HTTP_STATUS_NAME_MAX 32  /* ?status= value */
#define HTTP_TOPIC_MAX 249       /* Kafka's topic name limit */
#define SSE_RETRY_MS "2000"      /* client reconnect delay announced on every stream */

static const char *const http_requests_labels[] = {"service", "route", "code"};
#define HTTP_REQUESTS_NAME "ecom_http_requests_total"

/* ---- responses ------------------------------------------------------------------------- */

void http_response_deinit(struct http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
}

static void resp_header(struct http_response *resp, const char *name, const char *value)
{
	struct http_header *h;

	ECOM_ASSERT(resp->n_headers < HTTP_RESP_HEADERS_MAX);
	h = &resp->headers[resp->n_headers++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->value, sizeof(h->value), "%s", value);
}

static void resp_body(struct http_response *resp, int status, const char *ctype, char *body,
		      size_t len)
{
	free(resp->body);
	resp->status = status;
	resp->kind = HTTP_KIND_BODY;
	resp->content_type = ctype;
	resp->body = body;
	resp->body_len = len;
}

/* Takes the reference to j. */
static void resp_json(struct http_response *resp, int status, json_t *j)
{
	char *s = jsonx_dumps(j);

	json_decref(j);
	resp_body(resp, status, "application/json; charset=utf-8", s, strlen(s));
}

static void resp_error(struct http_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void resp_error(struct http_response *resp, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *j, *s;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* json_string refuses invalid UTF-8 (e.g. a client's bytes echoed in a message). */
	s = json_string(msg);
	j = json_object();
	jsonx_set_new(j, "error", s ? s : json_string("bad input (unprintable)"));
	resp_json(resp, status, j);
}

int http_status_for_rc(int rc)
{
	switch (rc) {
	case ECOM_OK:
		return 200;
	case ECOM_NOT_FOUND:
		return 404;
	case ECOM_CONFLICT:
	case ECOM_REFUSED:
		return 409;
	case ECOM_INVALID:
		return 400;
	default:
		return 503;
	}
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* A failed callback: its message, or a generic one naming the code. */
static void resp_rc(struct http_response *resp, int rc, const struct ecom_err *err)
{
	int status = http_status_for_rc(rc);

	if (status == 503)
		resp_header(resp, "Retry-After", "1");
	if (err->msg[0])
		resp_error(resp, status, "%s", err->msg);
	else
		resp_error(resp, status, "%s", ecom_rc_name(rc));
}

char *http_sse_format(const char *id, const char *data, size_t *len)
{
	size_t n = strlen(data) + (id ? strlen(id) : 0) + 16;
	char *s = ecom_xmalloc(n);
	int w;

	ECOM_ASSERT(!strchr(data, '\n') && (!id || !strpbrk(id, "\r\n")));
	if (id)
		w = snprintf(s, n, "id: %s\ndata: %s\n\n", id, data);
	else
		w = snprintf(s, n, "data: %s\n\n", data);
	ECOM_ASSERT(w > 0 && (size_t)w < n);
	*len = (size_t)w;
	return s;
}

/* ---- request helpers ------------------------------------------------------------------- */

static const char *query_get(const struct http_request *req, const char *key)
{
	size_t n = req->n_query < HTTP_QUERY_MAX ? req->n_query : HTTP_QUERY_MAX;

	for (size_t i = 0; i < n; i++)
		if (req->query[i].key && strcmp(req->query[i].key, key) == 0)
			return req->query[i].value ? req->query[i].value : "";
	return NULL;
}

/* The body as a JSON object (new reference), or NULL with a 400 already in resp. */
static json_t *body_object(const struct http_request *req, struct http_response *resp)
{
	struct ecom_err err = {0};
	json_t *j;

	if (!req->body || req->body_len == 0) {
		resp_error(resp, 400, "body: required (a JSON object)");
		return NULL;
	}
	j = jsonx_loads(req->body, req->body_len, &err);
	if (!j) {
		resp_error(resp, 400, "body: %s", err.msg);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		resp_error(resp, 400, "body: must be a JSON object");
		return NULL;
	}
	return j;
}

/* A required string field of the body; NULL with a 400 in resp. */
static const char *body_string(json_t *body, const char *field, struct http_response *resp)
{
	json_t *v = json_object_get(body, field);

	if (!v) {
		resp_error(resp, 400, "%s: required", field);
		return NULL;
	}
	if (!json_is_string(v) || json_string_length(v) == 0) {
		resp_error(resp, 400, "%s: must be a non-empty string", field);
		return NULL;
	}
	return json_string_value(v);
}

/* An :id segment or a filter value: 1..max printable ASCII bytes, no '/' or space. */
static int token_ok(const char *s, size_t max)
{
	size_t n = 0;

	ECOM_ASSERT(s); /* every caller has checked for an absent value already */
	for (; s[n]; n++)
		if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] >= 0x7f || s[n] == '/')
			return 0;
	return n > 0 && n <= max;
}

/* ---- handlers -------------------------------------------------------------------------- */

struct ctx {
	const struct http_api *api;
	const struct http_request *req;
	struct http_response *resp;
	const char *id; /* the :id segment, NUL-terminated */
};

static void h_health(struct ctx *c)
{
	resp_json(c->resp, 200, json_pack("{s:b}", "ok", 1));
}

static void h_live(struct ctx *c)
{
	resp_json(c->resp, 200, json_pack("{s:b,s:s}", "ok", 1, "service", c->api->service));
}

static void h_ready(struct ctx *c)
{
	struct ecom_err err = {0};
	int rc = c->api->ready ? c->api->ready(c->api->arg, &err) : ECOM_OK;

	if (rc == ECOM_OK) {
		resp_json(c->resp, 200, json_pack("{s:b,s:s}", "ok", 1, "service", c->api->service));
		return;
	}
	resp_header(c->resp, "Retry-After", "1");
	resp_json(c->resp, 503,
		  json_pack("{s:b,s:s,s:s}", "ok", 0, "service", c->api->service, "error",
			    err.msg[0] ? err.msg : ecom_rc_name(rc)));
}

static void h_metrics(struct ctx *c)
{
	char *text = c->api->metrics ? metrics_render(c->api->metrics) : ecom_xstrdup("");

	resp_body(c->resp, 200, METRICS_CONTENT_TYPE, text, strlen(text));
}

static void h_order_create(struct ctx *c)
{
	struct ecom_err err = {0};
	json_t *body = body_object(c->req, c->resp), *out = NULL;
	int created = 1, rc;

	if (!body)
		return;
	rc = c->api->order_create(c->api->arg, body, &out, &created, &err);
	json_decref(body);
	if (rc != ECOM_OK) {
		json_decref(out);
		resp_rc(c->resp, rc, &err);
		return;
	}
	resp_json(c->resp, created ? 201 : 200, out ? out : json_object());
}

/* GET /orders/:id on whichever side this service is. */
static void h_order_get(struct ctx *c)
{
	struct ecom_err err = {0};
	json_t *out = NULL;
	int rc;

	if (c->api->rm_get)
		rc = c->api->rm_get(c->api->arg, c->id, &out, &err);
	else
		rc = c->api->order_get(c->api->arg, c->id, &out, &err);
	if (rc != ECOM_OK) {
		json_decref(out);
		if (rc == ECOM_NOT_FOUND)
			resp_error(c->resp, 404, "order %s not found", c->id);
		else
			resp_rc(c->resp, rc, &err);
		return;
	}
	resp_json(c->resp, 200, out);
}

static int parse_limit(const char *s, size_t *out)
{
	size_t v = 0;

	if (!s || !*s || strlen(s) > 6)
		return 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		v = v * 10 + (size_t)(*s - '0');
	}
	if (v < 1 || v > HTTP_LIST_LIMIT_MAX)
		return 0;
	*out = v;
	return 1;
}

static int status_name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || s[n] == '_'))
			return 0;
	return n > 0 && n <= HTTP_STATUS_NAME_MAX;
}

static void h_order_list(struct ctx *c)
{
	const char *status = query_get(c->req, "status"), *lim = query_get(c->req, "limit");
	struct ecom_err err = {0};
	size_t limit = HTTP_LIST_LIMIT_DEFAULT;
	json_t *out = NULL;
	int rc;

	if (status && !*status)
		status = NULL;
	if (status && !status_name_ok(status)) {
		resp_error(c->resp, 400, "status: must be an order status such as SHIPPED");
		return;
	}
	if (lim && !parse_limit(lim, &limit)) {
		resp_error(c->resp, 400, "limit: must be an integer 1..%d", HTTP_LIST_LIMIT_MAX);
		return;
	}
	rc = c->api->rm_list(c->api->arg, status, limit, &out, &err);
	if (rc != ECOM_OK) {
		json_decref(out);
		resp_rc(c->resp, rc, &err);
		return;
	}
	resp_json(c->resp, 200, out);
}

static void sse_open(struct http_response *resp, const char *order_id)
{
	static const char hello[] = "retry: " SSE_RETRY_MS "\n\n";

	resp_body(resp, 200, "text/event-stream", ecom_xstrdup(hello), strlen(hello));
	resp->kind = HTTP_KIND_SSE;
	snprintf(resp->sse_order_id, sizeof(resp->sse_order_id), "%s", order_id);
	resp_header(resp, "Cache-Control", "no-cache");
	resp_header(resp, "X-Accel-Buffering", "no");
}

static void sse_append(struct http_response *resp, const char *chunk, size_t n)
{
	resp->body = ecom_xrealloc(resp->body, resp->body_len + n + 1);
	memcpy(resp->body + resp->body_len, chunk, n);
	resp->body_len += n;
	resp->body[resp->body_len] = '\0';
}

/* The timeline so far, or only the entries after Last-Event-ID when the client resumes
 * (an id we do not know replays everything: better a duplicate than a gap). */
static void h_order_stream(struct ctx *c)
{
	const char *last = c->req->last_event_id;
	struct ecom_err err = {0};
	json_t *entries = NULL;
	size_t start = 0;
	int rc;

	rc = c->api->rm_timeline(c->api->arg, c->id, &entries, &err);
	if (rc != ECOM_OK && rc != ECOM_NOT_FOUND) {
		json_decref(entries);
		resp_rc(c->resp, rc, &err);
		return;
	}
	sse_open(c->resp, c->id);
	if (!json_is_array(entries)) {
		json_decref(entries);
		return;
	}
	if (last && *last) {
		for (size_t i = 0; i < json_array_size(entries); i++) {
			const char *eid = jsonx_str(json_array_get(entries, i), "eventId");

			if (eid && strcmp(eid, last) == 0) {
				start = i + 1;
				break;
			}
		}
	}
	for (size_t i = start; i < json_array_size(entries); i++) {
		json_t *e = json_array_get(entries, i);
		const char *eid = jsonx_str(e, "eventId");
		char *data = jsonx_dumps(e), *msg;
		size_t n;

		msg = http_sse_format(eid && !strpbrk(eid, "\r\n") ? eid : NULL, data, &n);
		sse_append(c->resp, msg, n);
		free(msg);
		free(data);
	}
	json_decref(entries);
}

static void h_stream_all(struct ctx *c)
{
	sse_open(c->resp, "");
}

static void h_retry(struct ctx *c)
{
	struct ecom_err err = {0};
	json_t *body = body_object(c->req, c->resp), *out = NULL;
	const char *step;
	int rc;

	if (!body)
		return;
	step = body_string(body, "step", c->resp);
	if (step) {
		rc = c->api->order_retry(c->api->arg, c->id, step, &out, &err);
		if (rc == ECOM_OK)
			resp_json(c->resp, 200, out ? out : json_object());
		else {
			json_decref(out);
			resp_rc(c->resp, rc, &err);
		}
	}
	json_decref(body);
}

static void h_compensate(struct ctx *c)
{
	struct ecom_err err = {0};
	json_t *body = body_object(c->req, c->resp), *out = NULL;
	const char *action;
	int rc;

	if (!body)
		return;
	action = body_string(body, "action", c->resp);
	if (action) {
		rc = c->api->order_compensate(c->api->arg, c->id, action, &out, &err);
		if (rc == ECOM_OK)
			resp_json(c->resp, 200, out ? out : json_object());
		else {
			json_decref(out);
			resp_rc(c->resp, rc, &err);
		}
	}
	json_decref(body);
}

static void h_dlq_list(struct ctx *c)
{
	const char *topic = query_get(c->req, "topic"), *oid = query_get(c->req, "orderId");
	struct ecom_err err = {0};
	json_t *out = NULL;
	int rc;

	if (topic && !*topic)
		topic = NULL;
	if (oid && !*oid)
		oid = NULL;
	if (topic && !token_ok(topic, HTTP_TOPIC_MAX)) {
		resp_error(c->resp, 400, "topic: must be a topic name");
		return;
	}
	if (oid && !token_ok(oid, HTTP_ID_MAX)) {
		resp_error(c->resp, 400, "orderId: must be 1..%d printable characters",
			   HTTP_ID_MAX);
		return;
	}
	rc = c->api->dlq_list(c->api->arg, topic, oid, &out, &err);
	if (rc != ECOM_OK) {
		json_decref(out);
		resp_rc(c->resp, rc, &err);
		return;
	}
	resp_json(c->resp, 200, out);
}

/* Exactly one selector: {"id"}, {"topic"[, "orderId"]}, or {"all": true}. */
static void h_dlq_replay(struct ctx *c)
{
	json_t *body = body_object(c->req, c->resp), *out = NULL, *all;
	const char *id = NULL, *topic = NULL, *oid = NULL;
	struct ecom_err err = {0};
	int rc, n_sel;

	if (!body)
		return;
	all = json_object_get(body, "all");
	n_sel = !!json_object_get(body, "id") + !!json_object_get(body, "topic") + !!all;
	if (n_sel != 1) {
		resp_error(c->resp, 400,
			   "body: exactly one of id, topic (with optional orderId) or all");
		goto out;
	}
	if (all && !json_is_true(all)) {
		resp_error(c->resp, 400, "all: must be true");
		goto out;
	}
	if (json_object_get(body, "id") && !(id = body_string(body, "id", c->resp)))
		goto out;
	if (json_object_get(body, "topic") && !(topic = body_string(body, "topic", c->resp)))
		goto out;
	if (json_object_get(body, "orderId")) {
		if (!topic) {
			resp_error(c->resp, 400, "orderId: only with topic");
			goto out;
		}
		if (!(oid = body_string(body, "orderId", c->resp)))
			goto out;
	}
	rc = c->api->dlq_replay(c->api->arg, id, topic, oid, all != NULL, &out, &err);
	if (rc == ECOM_OK) {
		resp_json(c->resp, 200, out ? out : json_object());
	} else {
		json_decref(out);
		resp_rc(c->resp, rc, &err);
	}
out:
	json_decref(body);
}

/* {"topic", "value"[, "key"]}: the test hook; value is produced byte for byte. */
static void h_debug_produce(struct ctx *c)
{
	json_t *body = body_object(c->req, c->resp), *out = NULL, *v;
	const char *topic, *key = NULL;
	struct ecom_err err = {0};
	int rc;

	if (!body)
		return;
	topic = body_string(body, "topic", c->resp);
	if (!topic)
		goto out;
	if (!token_ok(topic, HTTP_TOPIC_MAX)) {
		resp_error(c->resp, 400, "topic: must be a topic name");
		goto out;
	}
	v = json_object_get(body, "value");
	if (!json_is_string(v)) {
		resp_error(c->resp, 400, "value: required (a string, produced as it is)");
		goto out;
	}
	if (json_object_get(body, "key") && !(key = body_string(body, "key", c->resp)))
		goto out;
	rc = c->api->debug_produce(c->api->debug_arg, topic, key, json_string_value(v),
				   json_string_length(v), &out, &err);
	if (rc == ECOM_OK) {
		resp_json(c->resp, 200, out ? out : json_object());
	} else {
		json_decref(out);
		resp_rc(c->resp, rc, &err);
	}
out:
	json_decref(body);
}

/* ---- the table --------------------------------------------------------------------------- */

static int has_order(const struct http_api *a) { return a->order_create && a->order_get; }
static int has_get(const struct http_api *a) { return a->order_get || a->rm_get; }
static int has_list(const struct http_api *a) { return a->rm_list != NULL; }
static int has_stream(const struct http_api *a) { return a->rm_timeline != NULL; }
static int has_retry(const struct http_api *a) { return a->order_retry != NULL; }
static int has_comp(const struct http_api *a) { return a->order_compensate != NULL; }
static int has_dlq(const struct http_api *a) { return a->dlq_list != NULL; }
static int has_replay(const struct http_api *a) { return a->dlq_replay != NULL; }
static int has_debug(const struct http_api *a) { return a->debug_produce != NULL; }
static int always(const struct http_api *a) { return a != NULL; }

struct route {
	const char *method;
	const char *pattern; /* segments; ":id" matches one segment */
	int admin;
	int (*available)(const struct http_api *api);
	void (*fn)(struct ctx *c);
};

static const struct route routes[] = {
	{"GET", "/health", 0, always, h_health},
	{"GET", "/health/live", 0, always, h_live},
	{"GET", "/health/ready", 0, always, h_ready},
	{"GET", "/metrics", 0, always, h_metrics},
	{"POST", "/orders", 0, has_order, h_order_create},
	{"GET", "/orders", 0, has_list, h_order_list},
	{"GET", "/orders/:id", 0, has_get, h_order_get},
	{"GET", "/orders/:id/stream", 0, has_stream, h_order_stream},
	{"GET", "/stream", 0, has_stream, h_stream_all},
	{"POST", "/admin/retry/:id", 1, has_retry, h_retry},
	{"POST", "/admin/compensate/:id", 1, has_comp, h_compensate},
	{"GET", "/admin/dlq", 1, has_dlq, h_dlq_list},
	{"POST", "/admin/dlq/replay", 1, has_replay, h_dlq_replay},
	{"POST", "/debug/produce", 1, has_debug, h_debug_produce},
};

/* Splits path ("/a/b/c") into segments in buf; returns the count, or -1 if too many. */
static int split_path(const char *path, char *buf, size_t cap, char **seg)
{
	int n = 0;
	char *p;

	snprintf(buf, cap, "%s", path);
	p = buf;
	while (*p == '/')
		p++;
	while (*p) {
		char *slash = strchr(p, '/');

		if (n == HTTP_SEGMENTS_MAX)
			return -1;
		seg[n++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	return n;
}

/* Does the pattern match? *id_out = the :id segment. */
static int pattern_match(const char *pattern, char **seg, int n, const char **id_out)
{
	char pbuf[64], *pseg[HTTP_SEGMENTS_MAX];
	int pn = split_path(pattern, pbuf, sizeof(pbuf), pseg);

	if (pn != n)
		return 0;
	for (int i = 0; i < n; i++) {
		if (strcmp(pseg[i], ":id") == 0) {
			if (!*seg[i])
				return 0;
			*id_out = seg[i];
		} else if (strcmp(pseg[i], seg[i]) != 0) {
			return 0;
		}
	}
	return 1;
}

/* Adds the CORS headers when the api allows this origin. */
static void add_cors(const struct http_api *api, const struct http_request *req,
		     struct http_response *resp)
{
	const char *allow = api->cors_origin, *o = req->origin;
	size_t olen;

	if (!allow || !*allow)
		return;
	if (strcmp(allow, "*") == 0) {
		resp_header(resp, "Access-Control-Allow-Origin", "*");
		return;
	}
	if (!o || !*o)
		return;
	olen = strlen(o);
	for (const char *p = allow; *p;) {
		size_t n = strcspn(p, ",");

		while (n > 0 && p[0] == ' ') {
			p++;
			n--;
		}
		if (n == olen && strncmp(p, o, n) == 0) {
			resp_header(resp, "Access-Control-Allow-Origin", o);
			resp_header(resp, "Vary", "Origin");
			return;
		}
		p += n;
		if (*p == ',')
			p++;
	}
}

static const char *content_type_for(const char *rel)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".json", "application/json; charset=utf-8"},
		{".map", "application/json; charset=utf-8"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".ico", "image/x-icon"},
		{".txt", "text/plain; charset=utf-8"},
		{".woff2", "font/woff2"},
	};
	const char *dot = strrchr(rel, '.');

	for (size_t i = 0; dot && i < ECOM_ARRAY_LEN(types); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* "" or "/" -> index.html; refuses "..", empty segments and unusual bytes. */
static int static_rel(const char *path, char *out, size_t cap)
{
	const char *p = path;

	while (*p == '/')
		p++;
	if (!*p) {
		snprintf(out, cap, "index.html");
		return 1;
	}
	if (strlen(p) >= cap || strstr(p, "//") || p[strlen(p) - 1] == '/')
		return 0;
	for (const char *q = p; *q; q++) {
		char ch = *q;

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' || ch == '/'))
			return 0;
		if (ch == '.' && (q == p || q[-1] == '/'))
			return 0; /* no "..", no hidden files */
	}
	snprintf(out, cap, "%s", p);
	return 1;
}

static void serve_static(const struct http_api *api, const char *path,
			 struct http_response *resp)
{
	char rel[256], *data = NULL;
	size_t len = 0;
	int rc;

	resp->route = "static";
	if (!static_rel(path, rel, sizeof(rel))) {
		resp_error(resp, 404, "no route for GET %s",
			   strlen(path) <= 200 ? path : "(long path)");
		return;
	}
	rc = api->read_file(api->arg, rel, &data, &len);
	if (rc != ECOM_OK) {
		free(data);
		resp_error(resp, rc == ECOM_NOT_FOUND ? 404 : 503, "%s: %s", rel,
			   rc == ECOM_NOT_FOUND ? "not found" : "unreadable");
		return;
	}
	resp_body(resp, 200, content_type_for(rel), data, len);
	resp_header(resp, "Cache-Control", "no-cache");
}

static int is_get(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static void admin_check_and_run(struct ctx *c, const struct route *r)
{
	struct ecom_err err = {0};
	int st;

	if (!c->api->authorize) {
		resp_error(c->resp, 503, "admin API disabled: JWT_SECRET is not set");
		return;
	}
	st = c->api->authorize(c->api->auth_arg, c->req->authorization, &err);
	if (st != 0) {
		ECOM_ASSERT(st >= 400 && st <= 599);
		if (st == 401)
			resp_header(c->resp, "WWW-Authenticate", "Bearer");
		resp_error(c->resp, st, "%s", err.msg[0] ? err.msg : http_reason(st));
		return;
	}
	r->fn(c);
}

struct match {
	const struct route *hit; /* the route for this method, if any */
	const char *id;          /* its :id segment */
	int matched;             /* some route has this path (for 405 rather than 404) */
	char allow[64];          /* methods of the routes with this path */
};

static void match_routes(const struct http_api *api, const char *method, char **seg, int n,
			 struct match *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; n >= 0 && i < ECOM_ARRAY_LEN(routes); i++) {
		const struct route *r = &routes[i];
		size_t len = strlen(m->allow);
		const char *rid = NULL;

		if (!r->available(api) || !pattern_match(r->pattern, seg, n, &rid))
			continue;
		m->matched = 1;
		/* No two routes of the table share both a path and a method: never false. */
		if (!strstr(m->allow, r->method)) /* LCOV_EXCL_BR_LINE: see above */
			snprintf(m->allow + len, sizeof(m->allow) - len, "%s%s%s", len ? ", " : "",
				 r->method, strcmp(r->method, "GET") == 0 ? ", HEAD" : "");
		if (!m->hit && (strcmp(r->method, method) == 0 ||
				(strcmp(r->method, "GET") == 0 && is_get(method)))) {
			m->hit = r;
			m->id = rid;
		}
	}
	if (m->matched)
		snprintf(m->allow + strlen(m->allow), sizeof(m->allow) - strlen(m->allow),
			 ", OPTIONS");
}

static void preflight(struct http_response *resp, const char *allow)
{
	resp_body(resp, 204, "text/plain", NULL, 0);
	resp_header(resp, "Allow", allow);
	resp_header(resp, "Access-Control-Allow-Methods", allow);
	resp_header(resp, "Access-Control-Allow-Headers",
		    "Authorization, Content-Type, Last-Event-ID");
	resp_header(resp, "Access-Control-Max-Age", "600");
}

static void dispatch(const struct http_api *api, const struct http_request *req,
		     struct http_response *resp)
{
	char buf[HTTP_PATH_MAX + 1], *seg[HTTP_SEGMENTS_MAX];
	struct match m;
	struct ctx c;

	if (!req->path || req->path[0] != '/' || !req->method) {
		resp_error(resp, 400, "path: must start with '/'");
		return;
	}
	if (strlen(req->path) > HTTP_PATH_MAX) {
		resp_error(resp, 414, "path: longer than %d bytes", HTTP_PATH_MAX);
		return;
	}
	match_routes(api, req->method, seg, split_path(req->path, buf, sizeof(buf), seg), &m);
	if (!m.matched) {
		if (api->read_file && is_get(req->method))
			serve_static(api, req->path, resp);
		else
			resp_error(resp, 404, "no route for %s %s", req->method,
				   strlen(req->path) <= 200 ? req->path : "(long path)");
		return;
	}
	if (strcmp(req->method, "OPTIONS") == 0) {
		preflight(resp, m.allow);
		return;
	}
	if (!m.hit) {
		resp_header(resp, "Allow", m.allow);
		resp_error(resp, 405, "method %s not allowed here (allowed: %s)",
			   strlen(req->method) <= 16 ? req->method : "(long)", m.allow);
		return;
	}
	resp->route = m.hit->pattern;
	if (req->body_too_large || req->body_len > HTTP_BODY_MAX) {
		resp_error(resp, 413, "body: larger than %d bytes", HTTP_BODY_MAX);
		return;
	}
	if (m.id && !token_ok(m.id, HTTP_ID_MAX)) {
		resp_error(resp, 400, "id: must be 1..%d printable characters", HTTP_ID_MAX);
		return;
	}
	c = (struct ctx){.api = api, .req = req, .resp = resp, .id = m.id};
	if (m.hit->admin)
		admin_check_and_run(&c, m.hit);
	else
		m.hit->fn(&c);
}

void routes_init(const struct http_api *api)
{
	ECOM_ASSERT(api && api->service);
	if (api->metrics && !metrics_find(api->metrics, HTTP_REQUESTS_NAME))
		metrics_counter(api->metrics, HTTP_REQUESTS_NAME,
				"HTTP requests by route pattern and status code.",
				http_requests_labels, 3);
}

void routes_handle(const struct http_api *api, const struct http_request *req,
		   struct http_response *resp)
{
	char code[8];

	ECOM_ASSERT(api && req && resp);
	memset(resp, 0, sizeof(*resp));
	resp->route = "unmatched";
	dispatch(api, req, resp);
	ECOM_ASSERT(resp->status >= 100 && resp->content_type);
	add_cors(api, req, resp);
	if (api->metrics) {
		struct metric *f = metrics_find(api->metrics, HTTP_REQUESTS_NAME);

		snprintf(code, sizeof(code), "%d", resp->status);
		if (f)
			metric_add(f, (const char *[]){api->service, resp->route, code}, 1);
	}
}
