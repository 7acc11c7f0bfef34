/* test_cli_http.c — the CLI tools' HTTP/1.1 client (src/cli/cli_http.c, compiled in here: the
 * CLI is not a library) against a scripted server in a forked child on 127.0.0.1: URL
 * parsing, the request it writes, Content-Length / chunked / close-delimited bodies,
 * keep-alive reuse, the one retry on a stale kept-alive connection, timeouts, refused
 * connections and answers that are not HTTP. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "src/cli/cli_http.c"

#define FAKE_ANSWERS_MAX 4
#define FAKE_REQ_MAX 8192
#define FAKE_SILENT NULL /* read the request, never answer */

/* ---- the scripted server ------------------------------------------------------------- */

struct fake {
	pid_t pid;
	int port;
	char log[64]; /* what the child saw: "conn\n" per connection, then each request */
};

/* Reads one request (head + Content-Length body) into buf; returns its length, 0 on EOF. */
static size_t fake_read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0, need = 0;

	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len - 1);
		char *end;

		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		if (!need) {
			const char *cl = strstr(buf, "Content-Length: ");

			need = (size_t)(end - buf) + 4 + (cl ? strtoul(cl + 16, NULL, 10) : 0);
		}
		if (len >= need)
			return len;
	}
}

static void fake_child(int lfd, const char *const *answers, size_t n, int close_each,
		       const char *log_path)
{
	FILE *log = fopen(log_path, "w");
	char req[FAKE_REQ_MAX];
	size_t i = 0;

	while (i < n) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0)
			_exit(1);
		fprintf(log, "conn\n");
		while (i < n) {
			size_t len = fake_read_request(fd, req, sizeof(req));

			if (!len)
				break;
			fwrite(req, 1, len, log);
			fflush(log);
			if (answers[i] == FAKE_SILENT) {
				sleep(3);
				_exit(0);
			}
			if (write(fd, answers[i], strlen(answers[i])) < 0)
				break;
			i++;
			if (close_each)
				break;
		}
		close(fd);
	}
	fclose(log);
	_exit(0);
}

static void fake_start(struct fake *f, const char *const *answers, size_t n, int close_each)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	assert_true(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 8), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
	f->port = ntohs(a.sin_port);
	snprintf(f->log, sizeof(f->log), "/tmp/ecom-test-cli-http-%d-%d.log", (int)getpid(),
		 f->port);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0)
		fake_child(lfd, answers, n, close_each, f->log);
	close(lfd);
}

/* Waits for the child; returns what it logged (malloc'd). */
static char *fake_finish(struct fake *f)
{
	FILE *in;
	char *text = calloc(1, FAKE_REQ_MAX * FAKE_ANSWERS_MAX);
	int status;

	kill(f->pid, SIGTERM);
	waitpid(f->pid, &status, 0);
	in = fopen(f->log, "r");
	if (in) {
		size_t n = fread(text, 1, FAKE_REQ_MAX * FAKE_ANSWERS_MAX - 1, in);

		text[n] = '\0';
		fclose(in);
	}
	unlink(f->log);
	return text;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void conn_for(struct cli_conn *c, const struct fake *f, const char *prefix)
{
	struct cli_url u;
	char text[128];

	snprintf(text, sizeof(text), "http://127.0.0.1:%d%s", f->port, prefix);
	assert_int_equal(cli_url_parse(text, &u, NULL), ECOM_OK);
	cli_conn_init(c, &u);
}

/* ---- tests --------------------------------------------------------------------------- */

static void test_url_parse(void **state)
{
	struct cli_url u;
	struct ecom_err err = {0};
	static const char *const bad[] = {"", "https://x", "ftp://x", "http://:80", "http://h:0",
					  "http://h:99999", "http://h/x?y", "http://h:", "http://[::1"};

	(void)state;
	assert_int_equal(cli_url_parse("http://localhost:4001", &u, NULL), ECOM_OK);
	assert_string_equal(u.host, "localhost");
	assert_string_equal(u.port, "4001");
	assert_string_equal(u.prefix, "");
	assert_string_equal(u.authority, "localhost:4001");
	assert_int_equal(cli_url_parse("example.test", &u, NULL), ECOM_OK);
	assert_string_equal(u.port, "80");
	assert_string_equal(u.authority, "example.test");
	assert_int_equal(cli_url_parse("http://h:1/api/v1/", &u, NULL), ECOM_OK);
	assert_string_equal(u.prefix, "/api/v1");
	assert_int_equal(cli_url_parse("http://[::1]:8080/x", &u, NULL), ECOM_OK);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.authority, "[::1]:8080");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ecom_err_clear(&err);
		assert_int_equal(cli_url_parse(bad[i], &u, &err), ECOM_INVALID);
		assert_true(err.msg[0] != '\0');
	}
}

static void test_keep_alive_and_request_shape(void **state)
{
	static const char *const answers[] = {
		"HTTP/1.1 201 Created\r\nContent-Length: 13\r\n\r\n{\"orderId\":1}",
		"HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
		"\r\n{\"error\":1}",
	};
	struct cli_response r;
	struct cli_conn c;
	struct fake f;
	char *log, host[64];

	(void)state;
	fake_start(&f, answers, 2, 0);
	conn_for(&c, &f, "/api/");
	assert_int_equal(cli_http_request(&c, "POST", "/orders", "Bearer t0k", "{\"a\":1}", 7,
					  2000, &r, NULL), ECOM_OK);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.body_len, 13);
	assert_string_equal(r.body, "{\"orderId\":1}");
	cli_response_free(&r);
	assert_true(c.fd >= 0 && c.reused);
	assert_int_equal(cli_http_request(&c, "GET", "/admin/dlq?x=1", NULL, NULL, 0, 2000, &r,
					  NULL), ECOM_OK);
	assert_int_equal(r.status, 409);
	assert_string_equal(r.body, "{\"error\":1}");
	cli_response_free(&r);
	cli_conn_close(&c);
	log = fake_finish(&f);
	snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", f.port);
	assert_int_equal(count_of(log, "conn\n"), 1); /* both over one connection */
	assert_non_null(strstr(log, "POST /api/orders HTTP/1.1\r\n"));
	assert_non_null(strstr(log, host));
	assert_non_null(strstr(log, "Authorization: Bearer t0k\r\n"));
	assert_non_null(strstr(log, "Content-Type: application/json\r\nContent-Length: 7\r\n"));
	assert_non_null(strstr(log, "\r\n\r\n{\"a\":1}"));
	assert_non_null(strstr(log, "GET /api/admin/dlq?x=1 HTTP/1.1\r\n"));
	assert_int_equal(count_of(log, "Authorization:"), 1);
	free(log);
}

static void test_chunked_and_close_delimited(void **state)
{
	static const char *const chunked[] = {
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n "
		"world\r\n0\r\n\r\n",
	};
	static const char *const closed[] = {"HTTP/1.0 200 OK\r\nServer: t\r\n\r\nabc"};
	struct cli_response r;
	struct cli_conn c;
	struct fake f;

	(void)state;
	fake_start(&f, chunked, 1, 1);
	conn_for(&c, &f, "");
	assert_int_equal(cli_http_request(&c, "GET", "/", NULL, NULL, 0, 2000, &r, NULL), ECOM_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 11);
	assert_string_equal(r.body, "hello world");
	assert_int_equal(c.fd, -1); /* chunked answers end the connection here */
	cli_response_free(&r);
	cli_conn_close(&c);
	free(fake_finish(&f));

	fake_start(&f, closed, 1, 1);
	conn_for(&c, &f, "");
	assert_int_equal(cli_http_request(&c, "GET", "/", NULL, NULL, 0, 2000, &r, NULL), ECOM_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "abc");
	assert_int_equal(c.fd, -1);
	cli_response_free(&r);
	cli_conn_close(&c);
	free(fake_finish(&f));
}

/* The server closes a connection it said it would keep: the next request on it fails before
 * any answer byte and is sent again, once, on a fresh connection. */
static void test_stale_connection_retried_once(void **state)
{
	static const char *const answers[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2",
	};
	struct cli_response r;
	struct cli_conn c;
	struct fake f;
	char *log;

	(void)state;
	fake_start(&f, answers, 2, 1);
	conn_for(&c, &f, "");
	assert_int_equal(cli_http_request(&c, "POST", "/o", NULL, "{}", 2, 2000, &r, NULL),
			 ECOM_OK);
	assert_string_equal(r.body, "1");
	cli_response_free(&r);
	usleep(100000); /* let the server's close arrive */
	assert_int_equal(cli_http_request(&c, "POST", "/o", NULL, "{}", 2, 2000, &r, NULL),
			 ECOM_OK);
	assert_string_equal(r.body, "2");
	cli_response_free(&r);
	cli_conn_close(&c);
	log = fake_finish(&f);
	assert_int_equal(count_of(log, "conn\n"), 2);
	assert_int_equal(count_of(log, "POST /o HTTP/1.1"), 2); /* the retry, not a third */
	free(log);
}

static void test_timeout(void **state)
{
	static const char *const answers[] = {FAKE_SILENT};
	struct ecom_err err = {0};
	struct cli_response r;
	struct cli_conn c;
	struct timespec t0, t1;
	struct fake f;
	double took;

	(void)state;
	fake_start(&f, answers, 1, 0);
	conn_for(&c, &f, "");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(cli_http_request(&c, "GET", "/", NULL, NULL, 0, 300, &r, &err),
			 ECOM_UNAVAILABLE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(took >= 0.25 && took < 2.0);
	assert_non_null(strstr(err.msg, "no answer in time"));
	assert_null(r.body);
	assert_int_equal(c.fd, -1);
	cli_conn_close(&c);
	free(fake_finish(&f));
}

static void test_not_http_and_refused(void **state)
{
	static const char *const answers[] = {"SSH-2.0-OpenSSH\r\n\r\n"};
	struct ecom_err err = {0};
	struct cli_response r;
	struct cli_conn c;
	struct fake f;

	(void)state;
	fake_start(&f, answers, 1, 1);
	conn_for(&c, &f, "");
	assert_int_equal(cli_http_request(&c, "GET", "/", NULL, NULL, 0, 2000, &r, &err),
			 ECOM_INVALID);
	cli_conn_close(&c);
	free(fake_finish(&f)); /* its listener is closed now: the same port refuses */
	ecom_err_clear(&err);
	conn_for(&c, &f, "");
	assert_int_equal(cli_http_request(&c, "GET", "/", NULL, NULL, 0, 2000, &r, &err),
			 ECOM_UNAVAILABLE);
	assert_non_null(strstr(err.msg, "connect"));
	cli_conn_close(&c);
}

static void test_no_body_statuses(void **state)
{
	static const char *const answers[] = {
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", /* HEAD: no body follows */
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	};
	struct cli_response r;
	struct cli_conn c;
	struct fake f;
	char *log;

	(void)state;
	fake_start(&f, answers, 3, 0);
	conn_for(&c, &f, "");
	assert_int_equal(cli_http_request(&c, "DELETE", "/x", NULL, NULL, 0, 2000, &r, NULL),
			 ECOM_OK);
	assert_int_equal(r.status, 204);
	assert_int_equal(r.body_len, 0);
	cli_response_free(&r);
	assert_int_equal(cli_http_request(&c, "HEAD", "/x", NULL, NULL, 0, 2000, &r, NULL),
			 ECOM_OK);
	assert_int_equal(r.body_len, 0);
	cli_response_free(&r);
	assert_int_equal(cli_http_request(&c, "GET", "/x", NULL, NULL, 0, 2000, &r, NULL),
			 ECOM_OK);
	assert_string_equal(r.body, "ok");
	cli_response_free(&r);
	cli_conn_close(&c);
	log = fake_finish(&f);
	assert_int_equal(count_of(log, "conn\n"), 1);
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_keep_alive_and_request_shape),
		cmocka_unit_test(test_chunked_and_close_delimited),
		cmocka_unit_test(test_stale_connection_retried_once),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_not_http_and_refused),
		cmocka_unit_test(test_no_body_statuses),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
