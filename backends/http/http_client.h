/* http_client.h — a minimal blocking HTTP/1.1 client for one job: a read-model process
 * forwarding admin commands to the order service (`--order-url`). Plain http:// only, one
 * request per connection (Connection: close), every step bounded by timeout_ms. */
#ifndef ECOM_HTTP_CLIENT_H
#define ECOM_HTTP_CLIENT_H

#include <stddef.h>

#include "core/ecom.h"

#define HTTP_CLIENT_RESPONSE_MAX (1024 * 1024) /* larger answers are refused */

/* POSTs body (application/json) to base_url + path ("http://host:port" + "/admin/..."),
 * with the Authorization header if non-NULL. ECOM_OK with *status and *resp (malloc'd,
 * NUL-terminated; the caller frees) for any HTTP answer; ECOM_UNAVAILABLE when the server
 * cannot be reached or does not answer in time; ECOM_INVALID for a bad URL. */
int http_client_post(const char *base_url, const char *path, const char *authorization,
		     const char *body, int timeout_ms, int *status, char **resp,
		     struct ecom_err *err);

#endif
