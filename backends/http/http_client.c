/* http_client.c — see http_client.h. Non-blocking connect + poll so that no step waits
 * longer than the caller's timeout; the answer is read to EOF (we asked to close). */
#include "backends/http/http_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_CLIENT_HOST_MAX 256
#define URL_ECHO_MAX 120 /* bytes of a bad URL repeated in its error: the reason must fit */

static int parse_url(const char *url, char *host, char *port, struct ecom_err *err)
{
	const char *p, *colon, *end;

	if (!url || strncmp(url, "http://", 7) != 0)
		return ecom_err_set(err, ECOM_INVALID, "url %.*s: only http://host[:port]",
				    URL_ECHO_MAX, url ? url : "(none)");
	p = url + 7;
	end = p + strcspn(p, "/");
	colon = memchr(p, ':', (size_t)(end - p));
	if ((colon ? colon : end) == p || (size_t)((colon ? colon : end) - p) >= HTTP_CLIENT_HOST_MAX)
		return ecom_err_set(err, ECOM_INVALID, "url %.*s: no host", URL_ECHO_MAX, url);
	snprintf(host, HTTP_CLIENT_HOST_MAX, "%.*s", (int)((colon ? colon : end) - p), p);
	if (colon && end - colon > 1 && end - colon <= 6)
		snprintf(port, 8, "%.*s", (int)(end - colon - 1), colon + 1);
	else
		snprintf(port, 8, "80");
	return ECOM_OK;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int rc;

	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0;
}

static int connect_to(const char *host, const char *port, int timeout_ms, struct ecom_err *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	int fd = -1;

	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -ecom_err_set(err, ECOM_UNAVAILABLE, "cannot resolve %s", host);
	for (ai = res; ai; ai = ai->ai_next) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    (errno == EINPROGRESS && wait_fd(fd, POLLOUT, timeout_ms) &&
		     getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0))
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -ecom_err_set(err, ECOM_UNAVAILABLE, "cannot connect to %s:%s", host, port);
	return fd;
}

static int send_all(int fd, const char *p, size_t n, int timeout_ms)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_fd(fd, POLLOUT, timeout_ms))
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads to EOF into a malloc'd buffer; NULL on timeout or overflow. */
static char *recv_all(int fd, int timeout_ms, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = ecom_xmalloc(cap);

	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			if (cap >= HTTP_CLIENT_RESPONSE_MAX)
				goto fail;
			cap *= 2;
			buf = ecom_xrealloc(buf, cap);
		}
		r = recv(fd, buf + n, cap - n - 1, 0);
		if (r == 0)
			break;
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_fd(fd, POLLIN, timeout_ms))
				goto fail;
			continue;
		}
		if (r < 0)
			goto fail;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	free(buf);
	return NULL;
}

int http_client_post(const char *base_url, const char *path, const char *authorization,
		     const char *body, int timeout_ms, int *status, char **resp,
		     struct ecom_err *err)
{
	char host[HTTP_CLIENT_HOST_MAX], port[8], *req = NULL, *raw = NULL, *hdr_end;
	size_t req_cap, raw_len = 0, blen = body ? strlen(body) : 0;
	int fd, rc = ECOM_OK, w;

	*resp = NULL;
	*status = 0;
	rc = parse_url(base_url, host, port, err);
	if (rc != ECOM_OK)
		return rc;
	fd = connect_to(host, port, timeout_ms, err);
	if (fd < 0)
		return -fd;
	req_cap = blen + strlen(path) + strlen(host) + (authorization ? strlen(authorization) : 0) +
		  256;
	req = ecom_xmalloc(req_cap);
	w = snprintf(req, req_cap,
		     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n%s%s%s\r\n%s",
		     path, host, port, blen, authorization ? "Authorization: " : "",
		     authorization ? authorization : "", authorization ? "\r\n" : "",
		     body ? body : "");
	if (w < 0 || (size_t)w >= req_cap || send_all(fd, req, (size_t)w, timeout_ms) != 0) {
		rc = ecom_err_set(err, ECOM_UNAVAILABLE, "%s: send failed", base_url);
		goto out;
	}
	raw = recv_all(fd, timeout_ms, &raw_len);
	if (!raw || sscanf(raw, "HTTP/1.%*d %d", status) != 1) {
		rc = ecom_err_set(err, ECOM_UNAVAILABLE, "%s: no answer in %d ms", base_url,
				  timeout_ms);
		goto out;
	}
	hdr_end = strstr(raw, "\r\n\r\n");
	*resp = ecom_xstrdup(hdr_end ? hdr_end + 4 : "");
out:
	free(raw);
	free(req);
	close(fd);
	return rc;
}
