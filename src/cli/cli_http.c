/* cli_http.c — see cli_http.h. Non-blocking sockets driven by poll(2) against one absolute
 * deadline per request, so a silent server costs at most timeout_ms; answers are parsed
 * incrementally (status line, headers, then a Content-Length, chunked or close-delimited
 * body) into a growing buffer bounded by CLI_HTTP_RESPONSE_MAX. */
#include "src/cli/cli_http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLI_READ_BLOCK 16384
#define URL_ECHO_MAX 120 /* bytes of a bad URL repeated in its error: the reason must fit */

/* ---- URLs ---------------------------------------------------------------------------- */

int cli_url_parse(const char *text, struct cli_url *out, struct ecom_err *err)
{
	const char *p = text, *host_end, *path;
	size_t host_len;

	memset(out, 0, sizeof(*out));
	if (!text || !*text)
		return ecom_err_set(err, ECOM_INVALID, "empty URL");
	if (strncmp(p, "https://", 8) == 0)
		return ecom_err_set(err, ECOM_INVALID,
				    "%.*s: https is not supported (plain http://)", URL_ECHO_MAX,
				    text);
	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	else if (strstr(p, "://"))
		return ecom_err_set(err, ECOM_INVALID, "%.*s: only http:// URLs",
				    URL_ECHO_MAX, text);
	path = p + strcspn(p, "/?#");
	if (strpbrk(path, "?#"))
		return ecom_err_set(err, ECOM_INVALID, "%.*s: no query or fragment, please",
				    URL_ECHO_MAX, text);
	if (*p == '[') {
		host_end = strchr(p, ']');
		if (!host_end || host_end > path)
			return ecom_err_set(err, ECOM_INVALID, "%.*s: bad IPv6 address",
					    URL_ECHO_MAX, text);
		host_len = (size_t)(host_end - p - 1);
		memcpy(out->host, p + 1, host_len < sizeof(out->host) ? host_len : 0);
		host_end++;
	} else {
		host_end = p + strcspn(p, ":/");
		if (host_end > path)
			host_end = path;
		host_len = (size_t)(host_end - p);
		if (host_len < sizeof(out->host))
			memcpy(out->host, p, host_len);
	}
	if (host_len == 0 || host_len >= sizeof(out->host) || !out->host[0])
		return ecom_err_set(err, ECOM_INVALID, "%.*s: missing or too long host",
				    URL_ECHO_MAX, text);
	if (*host_end == ':') {
		size_t n = (size_t)(path - host_end - 1);
		long port;
		char *end;

		if (n == 0 || n >= sizeof(out->port))
			return ecom_err_set(err, ECOM_INVALID, "%.*s: bad port",
					    URL_ECHO_MAX, text);
		memcpy(out->port, host_end + 1, n);
		port = strtol(out->port, &end, 10);
		if (*end || port < 1 || port > 65535)
			return ecom_err_set(err, ECOM_INVALID, "%.*s: bad port",
					    URL_ECHO_MAX, text);
	} else if (host_end != path) {
		return ecom_err_set(err, ECOM_INVALID, "%.*s: bad host", URL_ECHO_MAX, text);
	} else {
		snprintf(out->port, sizeof(out->port), "80");
	}
	if (strlen(path) >= sizeof(out->prefix))
		return ecom_err_set(err, ECOM_INVALID, "%.*s: path too long", URL_ECHO_MAX, text);
	snprintf(out->prefix, sizeof(out->prefix), "%s", path);
	while (out->prefix[0] && out->prefix[strlen(out->prefix) - 1] == '/')
		out->prefix[strlen(out->prefix) - 1] = '\0';
	snprintf(out->authority, sizeof(out->authority), "%s%s%s%s%s",
		 strchr(out->host, ':') ? "[" : "", out->host, strchr(out->host, ':') ? "]" : "",
		 strcmp(out->port, "80") ? ":" : "", strcmp(out->port, "80") ? out->port : "");
	return ECOM_OK;
}

/* ---- time ---------------------------------------------------------------------------- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline_ms)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		int64_t left = deadline_ms - mono_ms();
		int rc;

		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* ---- connections ----------------------------------------------------------------------- */

void cli_conn_init(struct cli_conn *c, const struct cli_url *url)
{
	memset(c, 0, sizeof(*c));
	c->url = *url;
	c->fd = -1;
}

void cli_conn_close(struct cli_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->reused = 0;
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
}

static void conn_drop(struct cli_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->reused = 0;
}

/* Connects to the first address that answers before the deadline. */
static int conn_open(struct cli_conn *c, int64_t deadline_ms, struct ecom_err *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
	int rc, last_errno = 0, one = 1;

	rc = getaddrinfo(c->url.host, c->url.port, &hints, &res);
	if (rc != 0)
		return ecom_err_set(err, ECOM_UNAVAILABLE, "%s: %s", c->url.host, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				ai->ai_protocol);
		socklen_t len = sizeof(last_errno);

		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
			last_errno = errno;
			close(fd);
			continue;
		}
		rc = wait_fd(fd, POLLOUT, deadline_ms);
		if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &last_errno, &len) == 0 &&
		    last_errno == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			c->fd = fd;
			c->reused = 0;
			freeaddrinfo(res);
			return ECOM_OK;
		}
		if (rc == 0)
			last_errno = ETIMEDOUT;
		close(fd);
	}
	freeaddrinfo(res);
	return ecom_err_set(err, ECOM_UNAVAILABLE, "connect %s:%s: %s", c->url.host, c->url.port,
			    strerror(last_errno ? last_errno : ECONNREFUSED));
}

static int send_all(struct cli_conn *c, const char *data, size_t len, int64_t deadline_ms,
		    struct ecom_err *err)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(c->fd, POLLOUT, deadline_ms) == 1)
				continue;
			return ecom_err_set(err, ECOM_UNAVAILABLE, "send: timed out");
		}
		return ecom_err_set(err, ECOM_UNAVAILABLE, "send: %s", strerror(errno));
	}
	return ECOM_OK;
}

/* ---- receiving ------------------------------------------------------------------------- */

struct rx {
	struct cli_conn *c;
	size_t len;          /* bytes in c->buf */
	int64_t deadline_ms;
	int eof;
};

/* Reads more bytes into the buffer. ECOM_OK (eof may be set), or ECOM_UNAVAILABLE. */
static int rx_more(struct rx *rx, struct ecom_err *err)
{
	struct cli_conn *c = rx->c;

	if (rx->len + CLI_READ_BLOCK + 1 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 2 * CLI_READ_BLOCK;

		while (cap < rx->len + CLI_READ_BLOCK + 1)
			cap *= 2;
		if (cap > CLI_HTTP_RESPONSE_MAX + CLI_HTTP_HEADERS_MAX + CLI_READ_BLOCK)
			return ecom_err_set(err, ECOM_UNAVAILABLE, "answer larger than %d bytes",
					    CLI_HTTP_RESPONSE_MAX);
		c->buf = ecom_xrealloc(c->buf, cap);
		c->cap = cap;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + rx->len, c->cap - rx->len - 1, 0);

		if (n > 0) {
			rx->len += (size_t)n;
			c->buf[rx->len] = '\0';
			return ECOM_OK;
		}
		if (n == 0) {
			rx->eof = 1;
			return ECOM_OK;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return ecom_err_set(err, ECOM_UNAVAILABLE, "recv: %s", strerror(errno));
		if (wait_fd(c->fd, POLLIN, rx->deadline_ms) != 1)
			return ecom_err_set(err, ECOM_UNAVAILABLE, "no answer in time");
	}
}

/* The value of header `name` in the header block [hdr, end), or NULL. */
static const char *header_value(const char *hdr, const char *end, const char *name,
				size_t *vlen)
{
	size_t nlen = strlen(name);

	for (const char *line = hdr; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));

		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nlen && strncasecmp(line, name, nlen) == 0 &&
		    line[nlen] == ':') {
			const char *v = line + nlen + 1, *ve = eol;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		line = eol + 1;
	}
	return NULL;
}

/* Decodes a chunked body starting at c->buf[start]; reads more as needed. Offsets, not
 * pointers: rx_more may move the buffer. */
static int rx_chunked(struct rx *rx, size_t start, struct cli_response *resp,
		      struct ecom_err *err)
{
	size_t pos = start, out = 0;
	char *body = ecom_xmalloc(1);
	int rc;

	for (;;) {
		char *nl = memchr(rx->c->buf + pos, '\n', rx->len - pos), *end;
		unsigned long long size;
		size_t data;

		if (!nl) {
			if (rx->eof) {
				rc = ecom_err_set(err, ECOM_UNAVAILABLE, "truncated chunks");
				goto fail;
			}
			if ((rc = rx_more(rx, err)) != ECOM_OK)
				goto fail;
			continue;
		}
		size = strtoull(rx->c->buf + pos, &end, 16);
		if (end == rx->c->buf + pos || size > CLI_HTTP_RESPONSE_MAX - out) {
			rc = ecom_err_set(err, ECOM_INVALID, "bad chunk size");
			goto fail;
		}
		data = (size_t)(nl - rx->c->buf) + 1;
		if (size == 0)
			break; /* trailers are not read: the connection is closed after this */
		while (rx->len < data + size + 2) {
			if (rx->eof) {
				rc = ecom_err_set(err, ECOM_UNAVAILABLE, "truncated chunk");
				goto fail;
			}
			if ((rc = rx_more(rx, err)) != ECOM_OK)
				goto fail;
		}
		body = ecom_xrealloc(body, out + size + 1);
		memcpy(body + out, rx->c->buf + data, size);
		out += size;
		pos = data + size + 2;
	}
	body[out] = '\0';
	resp->body = body;
	resp->body_len = out;
	return ECOM_OK;
fail:
	free(body);
	return rc;
}

/* The end of the header block among the bytes received so far, or NULL. */
static const char *head_end(const struct rx *rx)
{
	for (size_t i = 0; i + 4 <= rx->len; i++)
		if (memcmp(rx->c->buf + i, "\r\n\r\n", 4) == 0)
			return rx->c->buf + i;
	return NULL;
}

/* Reads one answer. *keep = 0 when the connection cannot carry another request. */
static int rx_response(struct rx *rx, const char *method, struct cli_response *resp, int *keep,
		       struct ecom_err *err)
{
	const char *v, *hdr_end;
	size_t vlen, head;
	int rc, minor = 1, chunked = 0;
	long long clen = -1;

	while (!(hdr_end = head_end(rx))) {
		if (rx->eof || rx->len > CLI_HTTP_HEADERS_MAX)
			return ecom_err_set(err, rx->eof ? ECOM_UNAVAILABLE : ECOM_INVALID,
					    rx->len ? "truncated or oversized headers"
						    : "connection closed before an answer");
		if ((rc = rx_more(rx, err)) != ECOM_OK)
			return rc;
	}
	head = (size_t)(hdr_end - rx->c->buf) + 4;
	if (sscanf(rx->c->buf, "HTTP/1.%d %d", &minor, &resp->status) != 2 ||
	    resp->status < 100 || resp->status > 999)
		return ecom_err_set(err, ECOM_INVALID, "not an HTTP answer");
	*keep = minor >= 1;
	v = header_value(rx->c->buf, hdr_end, "Connection", &vlen);
	if (v && vlen == 5 && strncasecmp(v, "close", 5) == 0)
		*keep = 0;
	v = header_value(rx->c->buf, hdr_end, "Transfer-Encoding", &vlen);
	if (v && vlen >= 7 && strncasecmp(v + vlen - 7, "chunked", 7) == 0)
		chunked = 1;
	v = header_value(rx->c->buf, hdr_end, "Content-Length", &vlen);
	if (v && !chunked) {
		clen = strtoll(v, NULL, 10);
		if (clen < 0 || clen > CLI_HTTP_RESPONSE_MAX)
			return ecom_err_set(err, ECOM_INVALID, "bad Content-Length");
	}
	if (strcmp(method, "HEAD") == 0 || resp->status == 204 || resp->status == 304 ||
	    resp->status < 200)
		clen = 0;
	if (chunked) {
		*keep = 0;
		return rx_chunked(rx, head, resp, err);
	}
	if (clen < 0)
		*keep = 0; /* close-delimited */
	while (clen < 0 ? !rx->eof : rx->len < head + (size_t)clen) {
		if (clen >= 0 && rx->eof)
			return ecom_err_set(err, ECOM_UNAVAILABLE, "truncated answer");
		if ((rc = rx_more(rx, err)) != ECOM_OK)
			return rc;
	}
	resp->body_len = clen < 0 ? rx->len - head : (size_t)clen;
	resp->body = ecom_xmalloc(resp->body_len + 1);
	memcpy(resp->body, rx->c->buf + head, resp->body_len);
	resp->body[resp->body_len] = '\0';
	if (rx->len > head + resp->body_len)
		*keep = 0; /* unexpected extra bytes: start clean */
	return ECOM_OK;
}

static char *build_request(const struct cli_conn *c, const char *method, const char *path,
			   const char *authorization, size_t body_len, size_t *len)
{
	size_t cap = strlen(method) + strlen(c->url.prefix) + strlen(path) +
		     strlen(c->url.authority) + (authorization ? strlen(authorization) : 0) + 256;
	char *s = ecom_xmalloc(cap);
	int n;

	n = snprintf(s, cap,
		     "%s %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ecom-cli\r\n"
		     "Accept: application/json\r\n%s%s%s",
		     method, c->url.prefix, path, c->url.authority,
		     authorization ? "Authorization: " : "", authorization ? authorization : "",
		     authorization ? "\r\n" : "");
	ECOM_ASSERT(n > 0 && (size_t)n < cap);
	if (body_len || strcmp(method, "POST") == 0)
		n += snprintf(s + n, cap - (size_t)n,
			      "Content-Type: application/json\r\nContent-Length: %zu\r\n",
			      body_len);
	n += snprintf(s + n, cap - (size_t)n, "\r\n");
	ECOM_ASSERT((size_t)n < cap);
	*len = (size_t)n;
	return s;
}

/* One attempt on the current (or a new) connection. *stale = 1 when a reused connection
 * failed before a single answer byte arrived. */
static int request_once(struct cli_conn *c, const char *method, const char *head,
			size_t head_len, const char *body, size_t body_len, int64_t deadline_ms,
			struct cli_response *resp, int *stale, struct ecom_err *err)
{
	struct rx rx = {.c = c, .deadline_ms = deadline_ms};
	int rc, keep = 0, reused;

	*stale = 0;
	if (c->fd < 0 && (rc = conn_open(c, deadline_ms, err)) != ECOM_OK)
		return rc;
	reused = c->reused;
	rc = send_all(c, head, head_len, deadline_ms, err);
	if (rc == ECOM_OK && body_len)
		rc = send_all(c, body, body_len, deadline_ms, err);
	if (rc == ECOM_OK)
		rc = rx_response(&rx, method, resp, &keep, err);
	if (rc != ECOM_OK) {
		*stale = reused && rx.len == 0;
		free(resp->body);
		resp->body = NULL;
		resp->body_len = 0;
		conn_drop(c);
		return rc;
	}
	if (keep)
		c->reused = 1;
	else
		conn_drop(c);
	return ECOM_OK;
}

int cli_http_request(struct cli_conn *c, const char *method, const char *path,
		     const char *authorization, const char *body, size_t body_len, int timeout_ms,
		     struct cli_response *resp, struct ecom_err *err)
{
	int64_t deadline_ms = mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);
	size_t head_len;
	char *head;
	int rc, stale;

	ECOM_ASSERT(c && method && path && resp);
	memset(resp, 0, sizeof(*resp));
	head = build_request(c, method, path, authorization, body ? body_len : 0, &head_len);
	rc = request_once(c, method, head, head_len, body, body ? body_len : 0, deadline_ms, resp,
			  &stale, err);
	if (rc != ECOM_OK && stale) {
		ecom_err_clear(err);
		rc = request_once(c, method, head, head_len, body, body ? body_len : 0,
				  deadline_ms, resp, &stale, err);
	}
	free(head);
	return rc;
}

void cli_response_free(struct cli_response *r)
{
	if (!r)
		return;
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}
