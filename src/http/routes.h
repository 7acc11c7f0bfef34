/* routes.h — the HTTP API as a pure function: a parsed request in, a complete response out.
 * No sockets, no libmicrohttpd, no clock: the server (backends/http) and the tests call
 * routes_handle() the same way, so every status code, validation message and header is
 * decided here and can be tested and fuzzed without a network. What a service can do is a
 * table of callbacks (struct http_api); a route whose callback is NULL does not exist on
 * that service (404). Bad input gets a 4xx with {"error": "..."} naming the field. */
#ifndef ECOM_HTTP_ROUTES_H
#define ECOM_HTTP_ROUTES_H

#include <jansson.h>
#include <stddef.h>

#include "core/ecom.h"
#include "core/metrics.h"

#define HTTP_BODY_MAX (64 * 1024)   /* request bodies above this get 413 */
#define HTTP_PATH_MAX 1024           /* longer paths get 414 */
#define HTTP_QUERY_MAX 32            /* query parameters read per request */
#define HTTP_ID_MAX 128              /* an :id path segment */
#define HTTP_LIST_LIMIT_DEFAULT 100  /* GET /orders without ?limit= */
#define HTTP_LIST_LIMIT_MAX 1000
#define HTTP_RESP_HEADERS_MAX 8
#define HTTP_STATIC_MAX (8 * 1024 * 1024) /* largest static file served */

struct http_param {
	const char *key;
	const char *value;
};

/* Everything borrowed for the call. path is percent-decoded and has no query string. */
struct http_request {
	const char *method;
	const char *path;
	const struct http_param *query;
	size_t n_query;
	const char *authorization; /* "Bearer <jwt>" or NULL */
	const char *last_event_id; /* SSE resume point or NULL */
	const char *origin;        /* CORS request origin or NULL */
	const char *body;
	size_t body_len;
	int body_too_large; /* the server stopped reading at HTTP_BODY_MAX */
};

enum http_kind {
	HTTP_KIND_BODY, /* a complete response */
	HTTP_KIND_SSE   /* text/event-stream: body is the backlog; the stream stays open */
};

struct http_header {
	char name[40];
	char value[200];
};

struct http_response {
	int status;
	enum http_kind kind;
	const char *content_type;  /* static string */
	char *body;                /* malloc'd (NULL when empty); the response owns it */
	size_t body_len;
	struct http_header headers[HTTP_RESP_HEADERS_MAX];
	size_t n_headers;
	const char *route;         /* the matched pattern, "static" or "unmatched" (static) */
	/* SSE only: the order whose timeline this stream follows; "" = every order. */
	char sse_order_id[HTTP_ID_MAX + 1];
};

/* The callbacks a service offers. Each returns an ecom_rc; on failure err->msg is what the
 * client sees in {"error": ...}. Returned json_t are new references the router releases. */
struct http_api {
	const char *service; /* "order", "read-model", ... : the metrics label */
	void *arg;           /* passed to every callback */

	/* order service. created = 1 for a new order (201), 0 for an idempotent repeat (200). */
	int (*order_create)(void *arg, json_t *body, json_t **resp, int *created,
			    struct ecom_err *err);
	int (*order_get)(void *arg, const char *id, json_t **out, struct ecom_err *err);
	/* admin (order service; the read model offers them too, in-process or forwarded).
	 * ECOM_REFUSED -> 409 with the reason. */
	int (*order_retry)(void *arg, const char *id, const char *step, json_t **resp,
			   struct ecom_err *err);
	int (*order_compensate)(void *arg, const char *id, const char *action, json_t **resp,
				struct ecom_err *err);

	/* read model. status may be NULL (any). */
	int (*rm_list)(void *arg, const char *status, size_t limit, json_t **out,
		       struct ecom_err *err);
	int (*rm_get)(void *arg, const char *id, json_t **out, struct ecom_err *err);
	/* The order's timeline as SSE messages so far: an array of objects, each with a string
	 * "eventId" (the SSE id). ECOM_NOT_FOUND when the order is unknown (the stream still
	 * opens: its first events may not have arrived yet). Non-NULL enables GET /stream. */
	int (*rm_timeline)(void *arg, const char *id, json_t **entries, struct ecom_err *err);
	/* topic / order_id may be NULL (no filter). */
	int (*dlq_list)(void *arg, const char *topic, const char *order_id, json_t **out,
			struct ecom_err *err);
	/* One of: id; topic (+ order_id); all. */
	int (*dlq_replay)(void *arg, const char *id, const char *topic, const char *order_id,
			  int all, json_t **out, struct ecom_err *err);
	/* Static files (GET / and GET /<file>): *data malloc'd. ECOM_NOT_FOUND -> 404. rel is
	 * already sanitized (no "..", no leading '/', [A-Za-z0-9._/-] only). */
	int (*read_file)(void *arg, const char *rel, char **data, size_t *len);

	/* every service */
	int (*ready)(void *arg, struct ecom_err *err); /* ECOM_OK when broker and store answer */
	struct metrics *metrics;                       /* rendered at /metrics; may be NULL */
	/* Admin authorization: 0 = allowed, else the HTTP status to answer (401, 403, 503) with
	 * err->msg. NULL means admin is disabled (503: JWT_SECRET not set). */
	int (*authorize)(void *auth_arg, const char *authorization, struct ecom_err *err);
	void *auth_arg;
	const char *cors_origin; /* NULL: no CORS headers; "*" or "a,b,c" (exact origins) */

	/* Test hook, NULL unless `ecom serve all` runs with ECOM_DEBUG_ROUTES=1: produces value
	 * as it is (e.g. a poison message) to topic, keyed by key (may be NULL). Enables the
	 * admin route POST /debug/produce {"topic", "value"[, "key"]}; *out = what to answer. */
	int (*debug_produce)(void *debug_arg, const char *topic, const char *key,
			     const char *value, size_t value_len, json_t **out,
			     struct ecom_err *err);
	void *debug_arg;
};

/* Registers ecom_http_requests_total in api->metrics (if any). Call once per api. */
void routes_init(const struct http_api *api);

/* Handles one request. Always fills resp (the caller calls http_response_deinit) and counts
 * it in ecom_http_requests_total{service,route,code}. */
void routes_handle(const struct http_api *api, const struct http_request *req,
		   struct http_response *resp);
void http_response_deinit(struct http_response *resp);

/* One SSE message "id: <id>\ndata: <data>\n\n" (id omitted when NULL). data must not hold a
 * newline (compact JSON never does). malloc'd; *len set. */
char *http_sse_format(const char *id, const char *data, size_t *len);

/* The HTTP status for an ecom_rc (OK 200, NOT_FOUND 404, CONFLICT/REFUSED 409, INVALID 400,
 * UNAVAILABLE/AMBIGUOUS 503). */
int http_status_for_rc(int rc);

/* Reason phrase for logs ("Not Found"). */
const char *http_reason(int status);

#endif
