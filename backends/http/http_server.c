/* http_server.c — libmicrohttpd glue for http_server.h. The access handler collects the
 * body (at most HTTP_BODY_MAX bytes are kept; beyond that the request is answered 413),
 * hands a struct http_request to routes_handle and queues what it returns. SSE responses
 * come from a content reader over a per-stream buffer; the reader suspends the connection
 * when the buffer is empty and publish/keep-alive/stop resume it. */
#include "backends/http/http_server.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SSE_READER_BLOCK 4096
#define SSE_KEEPALIVE ": keep-alive\n\n"

struct sse_stream {
	struct http_server *srv;
	struct MHD_Connection *conn;
	char order_id[HTTP_ID_MAX + 1]; /* "" = every order */
	char *buf;                      /* unsent bytes: buf[off .. len) */
	size_t off, len, cap;
	int suspended;
	int ending; /* send what is buffered, then end the stream */
	int broken; /* the reader fell too far behind: cut it */
	struct sse_stream *next;
};

struct conn_state {
	char *body;
	size_t len;
	int too_large;
	int answered; /* a response was queued on the first call (early 413) */
};

struct http_server {
	struct MHD_Daemon *d;
	const struct http_api *api;
	uint16_t port;
	http_log_fn log;
	void *log_arg;
	struct sse_stream *streams;
	size_t n_streams;
	int need_run; /* a connection was resumed: run MHD before the next fdset */
	int stopping;
	int64_t last_keepalive_us;
};

/* ---- SSE streams ------------------------------------------------------------------------ */

static void sse_resume(struct sse_stream *st)
{
	if (st->suspended) {
		st->suspended = 0;
		MHD_resume_connection(st->conn);
		st->srv->need_run = 1;
	}
}

static void sse_append(struct sse_stream *st, const char *data, size_t n)
{
	if (st->broken || st->ending)
		return;
	if (st->len - st->off + n > HTTP_SSE_BUFFER_MAX) {
		st->broken = 1; /* a reader this slow would hold memory forever */
		sse_resume(st);
		return;
	}
	if (st->off > 0 && st->off == st->len)
		st->off = st->len = 0;
	if (st->len + n > st->cap) {
		if (st->off > 0) {
			memmove(st->buf, st->buf + st->off, st->len - st->off);
			st->len -= st->off;
			st->off = 0;
		}
		while (st->len + n > st->cap)
			st->cap = st->cap ? st->cap * 2 : 4096;
		st->buf = ecom_xrealloc(st->buf, st->cap);
	}
	memcpy(st->buf + st->len, data, n);
	st->len += n;
	sse_resume(st);
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse_stream *st = cls;
	size_t n = st->len - st->off;

	(void)pos;
	if (st->broken)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n == 0) {
		if (st->ending || st->srv->stopping)
			return MHD_CONTENT_READER_END_OF_STREAM;
		st->suspended = 1;
		MHD_suspend_connection(st->conn);
		return 0;
	}
	if (n > max)
		n = max;
	memcpy(buf, st->buf + st->off, n);
	st->off += n;
	return (ssize_t)n;
}

/* The response is gone (the client left, or the daemon stopped): forget the stream. */
static void sse_free(void *cls)
{
	struct sse_stream *st = cls;
	struct http_server *s = st->srv;

	for (struct sse_stream **pp = &s->streams; *pp; pp = &(*pp)->next) {
		if (*pp == st) {
			*pp = st->next;
			s->n_streams--;
			break;
		}
	}
	if (s->log)
		s->log(s->log_arg, s->api->service, "GET", st->order_id[0] ? st->order_id : "*", 0,
		       "sse-closed");
	free(st->buf);
	free(st);
}

void http_server_sse_publish(struct http_server *s, const char *order_id, const char *id,
			     const char *data)
{
	char *msg = NULL;
	size_t n = 0;

	ECOM_ASSERT(s && order_id && data);
	for (struct sse_stream *st = s->streams; st; st = st->next) {
		if (st->order_id[0] && strcmp(st->order_id, order_id) != 0)
			continue;
		if (!msg)
			msg = http_sse_format(id, data, &n);
		sse_append(st, msg, n);
	}
	free(msg);
}

size_t http_server_sse_count(const struct http_server *s)
{
	return s->n_streams;
}

void http_server_tick(struct http_server *s, int64_t now_us)
{
	if (now_us - s->last_keepalive_us < HTTP_SSE_KEEPALIVE_US)
		return;
	s->last_keepalive_us = now_us;
	for (struct sse_stream *st = s->streams; st; st = st->next)
		if (st->len == st->off)
			sse_append(st, SSE_KEEPALIVE, strlen(SSE_KEEPALIVE));
}

/* ---- requests ---------------------------------------------------------------------------- */

struct query_collect {
	struct http_param *p;
	size_t n;
};

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct query_collect *q = cls;

	(void)kind;
	if (q->n >= HTTP_QUERY_MAX)
		return MHD_NO;
	q->p[q->n].key = key;
	q->p[q->n].value = value ? value : "";
	q->n++;
	return MHD_YES;
}

static void add_headers(struct MHD_Response *r, const struct http_response *resp)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
	for (size_t i = 0; i < resp->n_headers; i++)
		MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
}

static enum MHD_Result queue_sse(struct http_server *s, struct MHD_Connection *c,
				 struct http_response *resp)
{
	struct sse_stream *st;
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (s->n_streams >= HTTP_SSE_STREAMS_MAX || s->stopping) {
		static const char busy[] = "{\"error\":\"too many open streams\"}";

		r = MHD_create_response_from_buffer(strlen(busy), (void *)busy,
						    MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
		ret = MHD_queue_response(c, MHD_HTTP_SERVICE_UNAVAILABLE, r);
		MHD_destroy_response(r);
		return ret;
	}
	st = ecom_xcalloc(1, sizeof(*st));
	st->srv = s;
	st->conn = c;
	snprintf(st->order_id, sizeof(st->order_id), "%s", resp->sse_order_id);
	st->buf = resp->body; /* the backlog: the stream takes it */
	st->len = st->cap = resp->body_len;
	resp->body = NULL;
	resp->body_len = 0;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_READER_BLOCK, sse_reader, st,
					      sse_free);
	if (!r) {
		free(st->buf);
		free(st);
		return MHD_NO;
	}
	st->next = s->streams;
	s->streams = st;
	s->n_streams++;
	add_headers(r, resp);
	ret = MHD_queue_response(c, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer(struct http_server *s, struct MHD_Connection *c, const char *url,
			      const char *method, struct conn_state *cs)
{
	struct http_param params[HTTP_QUERY_MAX];
	struct query_collect q = {params, 0};
	struct http_request req = {0};
	struct http_response resp;
	struct MHD_Response *r;
	enum MHD_Result ret;

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, &q);
	req.method = method;
	req.path = url;
	req.query = params;
	req.n_query = q.n;
	req.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_AUTHORIZATION);
	req.last_event_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	req.origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	req.body = cs->body;
	req.body_len = cs->len;
	req.body_too_large = cs->too_large;
	routes_handle(s->api, &req, &resp);
	if (s->log)
		s->log(s->log_arg, s->api->service, method, url, resp.status, resp.route);
	if (resp.kind == HTTP_KIND_SSE) {
		ret = queue_sse(s, c, &resp);
		http_response_deinit(&resp);
		return ret;
	}
	r = MHD_create_response_from_buffer(resp.body_len, resp.body ? resp.body : (void *)"",
					    resp.body ? MHD_RESPMEM_MUST_FREE
						      : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		http_response_deinit(&resp);
		return MHD_NO;
	}
	resp.body = NULL; /* MHD frees it */
	add_headers(r, &resp);
	ret = MHD_queue_response(c, (unsigned)resp.status, r);
	MHD_destroy_response(r);
	http_response_deinit(&resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct conn_state *cs = *con_cls;

	(void)version;
	if (!cs) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							      MHD_HTTP_HEADER_CONTENT_LENGTH);

		cs = ecom_xcalloc(1, sizeof(*cs));
		*con_cls = cs;
		/* Refuse a declared oversized body before reading it (and before "100
		 * Continue"), through the router so 404/405 still win. */
		if (cl && strtoull(cl, NULL, 10) > HTTP_BODY_MAX) {
			cs->too_large = 1;
			cs->answered = 1;
			return answer(s, c, url, method, cs);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (!cs->answered && !cs->too_large) {
			if (cs->len + *upload_data_size > HTTP_BODY_MAX) {
				cs->too_large = 1;
				free(cs->body);
				cs->body = NULL;
				cs->len = 0;
			} else {
				cs->body = ecom_xrealloc(cs->body, cs->len + *upload_data_size + 1);
				memcpy(cs->body + cs->len, upload_data, *upload_data_size);
				cs->len += *upload_data_size;
				cs->body[cs->len] = '\0';
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (cs->answered)
		return MHD_YES;
	cs->answered = 1;
	return answer(s, c, url, method, cs);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (cs) {
		free(cs->body);
		free(cs);
		*con_cls = NULL;
	}
}

/* ---- lifecycle and the external loop ------------------------------------------------------ */

static void mhd_json_logger(void *cls, const char *fmt, va_list ap);

struct http_server *http_server_new(const struct http_server_config *cfg, struct ecom_err *err)
{
	struct http_server *s;
	struct sockaddr_in addr;
	const union MHD_DaemonInfo *info;
	const char *bind_addr = cfg->bind_addr ? cfg->bind_addr : "127.0.0.1";

	ECOM_ASSERT(cfg && cfg->api);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(cfg->port);
	if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
		ecom_err_set(err, ECOM_INVALID, "bind address %s: not an IPv4 address", bind_addr);
		return NULL;
	}
	s = ecom_xcalloc(1, sizeof(*s));
	s->api = cfg->api;
	s->log = cfg->log;
	s->log_arg = cfg->log_arg;
	/* The logger comes first: MHD warns (through its default logger) otherwise. */
	s->d = MHD_start_daemon(MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, cfg->port, NULL, NULL,
				on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_json_logger, s,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNECTIONS_MAX,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
				MHD_OPTION_END);
	if (!s->d) {
		ecom_err_set(err, ECOM_UNAVAILABLE, "cannot listen on %s:%u (port in use?)",
			     bind_addr, (unsigned)cfg->port);
		free(s);
		return NULL;
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info && info->port ? info->port : cfg->port;
	return s;
}

/* libmicrohttpd's own diagnostics (e.g. an SSE client that went away) as JSON log lines on
 * stderr, like every other log line of ecom. */
static void mhd_json_logger(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	char msg[512];
	size_t n;
	json_t *line;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* cls is the server, whose api is set before the daemon starts */
	line = json_pack("{s:s, s:s, s:s}", "level", "warn", "service",
			 s->api->service ? s->api->service : "http", "msg", msg);
	if (!line)
		return; /* not valid UTF-8: drop rather than print a non-JSON line */
	json_dumpf(line, stderr, JSON_COMPACT);
	fputc('\n', stderr);
	json_decref(line);
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_fdset(struct http_server *s, fd_set *rs, fd_set *ws, fd_set *es, int *max_fd)
{
	MHD_socket m = -1;

	if (s->need_run) {
		/* A resumed connection joins the sets only after MHD ran once. */
		s->need_run = 0;
		MHD_run(s->d);
	}
	if (MHD_get_fdset(s->d, rs, ws, es, &m) == MHD_YES && m > *max_fd)
		*max_fd = m;
}

int64_t http_server_timeout_ms(struct http_server *s)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (s->need_run)
		return 0;
	if (MHD_get_timeout(s->d, &t) != MHD_YES)
		return -1;
	return t > INT32_MAX ? INT32_MAX : (int64_t)t;
}

void http_server_run(struct http_server *s, fd_set *rs, fd_set *ws, fd_set *es)
{
	MHD_run_from_select(s->d, rs, ws, es);
}

#define HTTP_STOP_ROUNDS_MAX 50 /* MHD runs used to flush ending streams before the stop */

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	s->stopping = 1;
	/* MHD_stop_daemon with suspended connections is an API violation: resume them all,
	 * let their readers end the streams, then stop. */
	for (int round = 0; round < HTTP_STOP_ROUNDS_MAX && s->streams; round++) {
		for (struct sse_stream *st = s->streams; st; st = st->next) {
			st->ending = 1;
			sse_resume(st);
		}
		MHD_run(s->d);
	}
	for (struct sse_stream *st = s->streams; st; st = st->next)
		sse_resume(st);
	MHD_stop_daemon(s->d);
	free(s);
}
