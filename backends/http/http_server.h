/* http_server.h — one HTTP listener over libmicrohttpd 0.9.75 in EXTERNAL select mode: the
 * caller owns the loop (http_server_fdset + select + http_server_run), so a process serving
 * several ports and stepping its runtimes stays single-threaded. Every request goes through
 * routes_handle() (src/http/routes.h); bodies are read up to HTTP_BODY_MAX. SSE streams use
 * MHD_ALLOW_SUSPEND_RESUME: an idle stream is suspended (no busy loop), a publish resumes
 * it, a keep-alive comment every HTTP_SSE_KEEPALIVE_US finds vanished clients, and every
 * stream is resumed and ended before the daemon stops. */
#ifndef ECOM_HTTP_SERVER_H
#define ECOM_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/select.h>

#include "core/ecom.h"
#include "http/routes.h"

#define HTTP_CONNECTIONS_MAX 192              /* per listener; 5 listeners stay under FD_SETSIZE */
#define HTTP_IDLE_TIMEOUT_S 60                /* an idle keep-alive connection is closed */
#define HTTP_SSE_STREAMS_MAX 128              /* per listener; more get 503 */
#define HTTP_SSE_BUFFER_MAX (1024 * 1024)     /* unsent bytes per stream; a slower reader is cut */
#define HTTP_SSE_KEEPALIVE_US (15LL * 1000 * 1000)

struct http_server;

/* A request line for the access log (may be NULL). status 0 = an SSE stream closed. */
typedef void (*http_log_fn)(void *arg, const char *service, const char *method,
			    const char *path, int status, const char *route);

struct http_server_config {
	const char *bind_addr;   /* IPv4 address; NULL = "127.0.0.1" */
	uint16_t port;           /* 0 = an ephemeral port (see http_server_port) */
	const struct http_api *api; /* borrowed; must outlive the server */
	http_log_fn log;
	void *log_arg;
};

/* Starts listening. NULL with err set (e.g. the port is in use). */
struct http_server *http_server_new(const struct http_server_config *cfg, struct ecom_err *err);
/* Ends every SSE stream (resuming suspended ones), stops the daemon, frees. NULL is a no-op. */
void http_server_free(struct http_server *s);
uint16_t http_server_port(const struct http_server *s);

/* Adds the listener's descriptors to the sets and raises *max_fd. */
void http_server_fdset(struct http_server *s, fd_set *rs, fd_set *ws, fd_set *es, int *max_fd);
/* How long select may sleep for this server: milliseconds, or -1 for "no deadline". */
int64_t http_server_timeout_ms(struct http_server *s);
/* Handles whatever is ready after select (MHD_run_from_select). */
void http_server_run(struct http_server *s, fd_set *rs, fd_set *ws, fd_set *es);
/* Keep-alive tick for SSE; now_us from the caller's clock. */
void http_server_tick(struct http_server *s, int64_t now_us);

/* Sends one SSE message to every stream following order_id, and to every "all orders"
 * stream. id may be NULL; data is one line of JSON. */
void http_server_sse_publish(struct http_server *s, const char *order_id, const char *id,
			     const char *data);
/* Open SSE streams. */
size_t http_server_sse_count(const struct http_server *s);

#endif
