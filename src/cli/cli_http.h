/* cli_http.h — a small blocking HTTP/1.1 client for the operator tools (`ecom load`,
 * `ecom dlq`): plain http:// URLs, one keep-alive connection per struct cli_conn (one thread
 * each), Content-Length, chunked and close-delimited bodies, and every step bounded by the
 * request's timeout. A request on a reused connection that fails before any answer byte is
 * sent again once on a fresh connection (the server closed an idle keep-alive). */
#ifndef ECOM_CLI_HTTP_H
#define ECOM_CLI_HTTP_H

#include <stddef.h>

#include "core/ecom.h"

#define CLI_HTTP_RESPONSE_MAX (32 * 1024 * 1024) /* larger answers are a transport error */
#define CLI_HTTP_HEADERS_MAX (64 * 1024)          /* status line + headers */
#define CLI_URL_HOST_MAX 256
#define CLI_URL_PREFIX_MAX 512

struct cli_url {
	char host[CLI_URL_HOST_MAX];     /* without brackets for IPv6 literals */
	char port[8];
	char prefix[CLI_URL_PREFIX_MAX]; /* path of the URL without its trailing '/' ("" or "/x") */
	char authority[CLI_URL_HOST_MAX + 16]; /* the Host header */
};

/* "http://host[:port][/prefix]" (scheme optional). ECOM_OK or ECOM_INVALID with err. */
int cli_url_parse(const char *text, struct cli_url *out, struct ecom_err *err);

struct cli_conn {
	struct cli_url url;
	int fd;         /* -1 when not connected */
	int reused;     /* at least one answer came over this fd */
	char *buf;      /* bytes received past the last answer are dropped; this is scratch */
	size_t cap;
};

struct cli_response {
	int status;
	char *body;      /* malloc'd, NUL-terminated (may hold NULs before the end) */
	size_t body_len;
};

void cli_conn_init(struct cli_conn *c, const struct cli_url *url);
void cli_conn_close(struct cli_conn *c);

/* One request; path is appended to the URL's prefix. authorization ("Bearer ...") and body
 * (sent as application/json) may be NULL. ECOM_OK with *resp filled for any HTTP answer;
 * ECOM_UNAVAILABLE with err for connect/send/receive failures and timeouts (the connection
 * is closed); ECOM_INVALID for an answer that is not HTTP. */
int cli_http_request(struct cli_conn *c, const char *method, const char *path,
		     const char *authorization, const char *body, size_t body_len, int timeout_ms,
		     struct cli_response *resp, struct ecom_err *err);
void cli_response_free(struct cli_response *r);

#endif
