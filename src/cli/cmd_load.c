/* cmd_load.c — `ecom load`: the demo's load generator over keep-alive HTTP/1.1. Order i is
 * due at start + i/rate; C worker threads (one connection each) take the next order in
 * sequence, wait for its due time and POST it, so the rate holds while the server keeps up
 * and the summary says by how much it fell behind when it does not. Orders come from one
 * seeded PRNG in sequence order: the same --seed sends the same orders (same orderIds). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "event/jsonx.h"
#include "core/rng.h"
#include "src/cli/cli.h"
#include "src/cli/cli_http.h"

#define LOAD_URL_DEFAULT "http://localhost:4001"
#define LOAD_ORDERS_MAX 1000000       /* rate * duration above this is refused */
#define LOAD_RATE_MAX 100000.0
#define LOAD_DURATION_MAX_S 86400.0
#define LOAD_CONCURRENCY_DEFAULT 8
#define LOAD_CONCURRENCY_MAX 256
#define LOAD_TIMEOUT_MS_DEFAULT 10000
#define LOAD_BODY_MAX 512              /* 3 lines of the demo's order fit easily */
#define LOAD_ERR_SAMPLES 5             /* distinct error messages kept for the summary */
#define LOAD_SLEEP_SLICE_NS 100000000LL /* waits are cut so Ctrl-C is seen within 0.1 s */
#define LOAD_TICK_TTY_MS 250           /* progress refresh on a terminal */
#define LOAD_TICK_LINE_MS 1000         /* one progress line per second otherwise */
#define LOAD_LATE_NS 50000000LL        /* a request started 50 ms after its due time is late */
#define LOAD_CODES 600
#define LOAD_SEED_MAX ((1ULL << 53) - 1) /* exact in JSON readers that use doubles */

/* The seed's generator: 1..3 lines of SKU-1..SKU-100, qty 1..3, 10.00 each. */
#define LOAD_LINES_MAX 3
#define LOAD_SKUS 100
#define LOAD_QTY_MAX 3
#define LOAD_PRICE 10

static volatile sig_atomic_t load_interrupted;

struct load_opts {
	double rate, duration_s;
	const char *url;
	int concurrency;
	uint64_t seed;
	int seeded;
	int timeout_ms;
	const char *ids_file;
};

struct load {
	struct load_opts o;
	struct cli_url url;
	pthread_mutex_t mu;
	/* guarded by mu */
	struct rng rng;
	size_t next, total, workers_done;
	size_t sent, created, repeated, rejected, server_errors, transport_errors, late;
	size_t by_code[LOAD_CODES];
	int64_t max_lag_ns, last_start_ns;
	double *lat_ms;
	size_t n_lat;
	char samples[LOAD_ERR_SAMPLES][200];
	size_t n_samples;
	FILE *ids;
	/* read-only while running */
	int64_t t0_ns;
	double interval_ns;
};

static void load_usage(FILE *out)
{
	fprintf(out,
		"usage: ecom load --rate R --duration S [--url U] [--concurrency C] [--seed N]\n"
		"                 [--timeout-ms T] [--ids-file F]\n\n"
		"Sends the demo load generator's orders (1..3 lines of SKU-1..SKU-100, qty\n"
		"1..3, 10.00 each, a client orderId) to POST U/orders at R orders per second\n"
		"for S seconds, over C keep-alive connections, and prints a summary: sent,\n"
		"accepted (2xx: 201 created, 200 idempotent repeat), rejected (4xx by code),\n"
		"errors (5xx and transport), the achieved rate and latency percentiles. The\n"
		"last line of stdout is the same summary as one JSON object. Progress goes to\n"
		"stderr.\n\n"
		"  --rate R         orders per second (> 0, may be fractional) [RATE]\n"
		"  --duration S     seconds (> 0) [DURATION]\n"
		"  --url U          order service (default %s) [ORDER_SERVICE]\n"
		"  --concurrency C  connections / requests in flight (1..%d, default %d)\n"
		"  --seed N         seeds the order generator: the same N sends the same orders\n"
		"                   (default: random, printed in the summary)\n"
		"  --timeout-ms T   per request (default %d)\n"
		"  --ids-file F     writes the orderId of every accepted order to F, one a line\n\n"
		"Exit status: 0 when some order was accepted and nothing errored, 1 otherwise,\n"
		"2 on bad usage.\n",
		LOAD_URL_DEFAULT, LOAD_CONCURRENCY_MAX, LOAD_CONCURRENCY_DEFAULT,
		LOAD_TIMEOUT_MS_DEFAULT);
}

static void load_on_signal(int sig)
{
	(void)sig;
	load_interrupted = 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- options ------------------------------------------------------------------------- */

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end || errno || !(v > lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ecom load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n\n");
	load_usage(stderr);
	return 2;
}

/* Returns 0 or the exit code for bad usage. */
static int load_parse(int argc, char **argv, struct load_opts *o)
{
	const char *rate = getenv("RATE"), *dur = getenv("DURATION"), *env_url;
	uint64_t u;

	env_url = getenv("ORDER_SERVICE");
	o->url = env_url && *env_url ? env_url : LOAD_URL_DEFAULT;
	o->concurrency = LOAD_CONCURRENCY_DEFAULT;
	o->timeout_ms = LOAD_TIMEOUT_MS_DEFAULT;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strncmp(a, "--", 2) != 0)
			return bad_usage("unexpected argument '%s'", a);
		if (!v)
			return bad_usage("%s needs a value", a);
		i++;
		if (strcmp(a, "--rate") == 0) {
			rate = v;
		} else if (strcmp(a, "--duration") == 0) {
			dur = v;
		} else if (strcmp(a, "--url") == 0) {
			o->url = v;
		} else if (strcmp(a, "--concurrency") == 0) {
			if (parse_u64(v, &u) != 0 || u < 1 || u > LOAD_CONCURRENCY_MAX)
				return bad_usage("--concurrency %s: want 1..%d", v,
						 LOAD_CONCURRENCY_MAX);
			o->concurrency = (int)u;
		} else if (strcmp(a, "--seed") == 0) {
			if (parse_u64(v, &o->seed) != 0 || o->seed > LOAD_SEED_MAX)
				return bad_usage("--seed %s: want an integer 0..2^53-1", v);
			o->seeded = 1;
		} else if (strcmp(a, "--timeout-ms") == 0) {
			if (parse_u64(v, &u) != 0 || u < 1 || u > 600000)
				return bad_usage("--timeout-ms %s: want 1..600000", v);
			o->timeout_ms = (int)u;
		} else if (strcmp(a, "--ids-file") == 0) {
			o->ids_file = v;
		} else {
			return bad_usage("unknown option '%s'", a);
		}
	}
	if (!rate)
		return bad_usage("--rate is required");
	if (!dur)
		return bad_usage("--duration is required");
	if (parse_double(rate, 0, LOAD_RATE_MAX, &o->rate) != 0)
		return bad_usage("--rate %s: want a number > 0 and <= %.0f", rate, LOAD_RATE_MAX);
	if (parse_double(dur, 0, LOAD_DURATION_MAX_S, &o->duration_s) != 0)
		return bad_usage("--duration %s: want seconds > 0 and <= %.0f", dur,
				 LOAD_DURATION_MAX_S);
	if (o->rate * o->duration_s > LOAD_ORDERS_MAX)
		return bad_usage("--rate x --duration is more than %d orders", LOAD_ORDERS_MAX);
	return 0;
}

/* ---- the generator ---------------------------------------------------------------------- */

/* The next order's body; l->mu held. */
static void make_order(struct load *l, char *body, size_t cap, char id[37])
{
	int lines = (int)rng_range(&l->rng, 1, LOAD_LINES_MAX), n, total = 0;

	rng_uuid(&l->rng, id);
	n = snprintf(body, cap, "{\"orderId\":\"%s\",\"items\":[", id);
	for (int k = 0; k < lines; k++) {
		int sku = (int)rng_range(&l->rng, 1, LOAD_SKUS);
		int qty = (int)rng_range(&l->rng, 1, LOAD_QTY_MAX);

		total += qty * LOAD_PRICE;
		n += snprintf(body + n, cap - (size_t)n, "%s{\"sku\":\"SKU-%d\",\"qty\":%d}",
			      k ? "," : "", sku, qty);
	}
	n += snprintf(body + n, cap - (size_t)n, "],\"total\":%d}", total);
	ECOM_ASSERT(n > 0 && (size_t)n < cap);
}

/* Sleeps until the monotonic time due_ns, in slices, unless interrupted. */
static void sleep_until(int64_t due_ns)
{
	for (;;) {
		int64_t left = due_ns - now_ns();
		struct timespec ts;

		if (left <= 0 || load_interrupted)
			return;
		if (left > LOAD_SLEEP_SLICE_NS)
			left = LOAD_SLEEP_SLICE_NS;
		ts.tv_sec = (time_t)(left / 1000000000LL);
		ts.tv_nsec = (long)(left % 1000000000LL);
		nanosleep(&ts, NULL);
	}
}

static void add_sample(struct load *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void add_sample(struct load *l, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < l->n_samples; i++)
		if (strcmp(l->samples[i], msg) == 0)
			return;
	if (l->n_samples < LOAD_ERR_SAMPLES)
		snprintf(l->samples[l->n_samples++], sizeof(l->samples[0]), "%s", msg);
}

/* Records one finished request; l->mu held. */
static void record(struct load *l, const char *id, int rc, const struct cli_response *r,
		   const struct ecom_err *err, double ms)
{
	l->sent++;
	if (rc != ECOM_OK) {
		l->transport_errors++;
		add_sample(l, "transport: %s", err->msg[0] ? err->msg : "failed");
		return;
	}
	l->lat_ms[l->n_lat++] = ms;
	if (r->status >= 0 && r->status < LOAD_CODES)
		l->by_code[r->status]++;
	if (r->status >= 200 && r->status < 300) {
		if (r->status == 201)
			l->created++;
		else
			l->repeated++;
		if (l->ids)
			fprintf(l->ids, "%s\n", id);
	} else if (r->status >= 400 && r->status < 500) {
		l->rejected++;
		add_sample(l, "HTTP %d: %.150s", r->status, r->body ? r->body : "");
	} else {
		l->server_errors++;
		add_sample(l, "HTTP %d: %.150s", r->status, r->body ? r->body : "");
	}
}

static void *worker(void *arg)
{
	struct load *l = arg;
	struct cli_conn conn;
	char body[LOAD_BODY_MAX], id[37];

	cli_conn_init(&conn, &l->url);
	for (;;) {
		struct cli_response resp;
		struct ecom_err err = {0};
		int64_t due, start, lag;
		size_t i;
		int rc;

		pthread_mutex_lock(&l->mu);
		if (load_interrupted || l->next >= l->total) {
			pthread_mutex_unlock(&l->mu);
			break;
		}
		i = l->next++;
		make_order(l, body, sizeof(body), id);
		pthread_mutex_unlock(&l->mu);

		due = l->t0_ns + (int64_t)llround((double)i * l->interval_ns);
		sleep_until(due);
		if (load_interrupted)
			break;
		start = now_ns();
		rc = cli_http_request(&conn, "POST", "/orders", NULL, body, strlen(body),
				      l->o.timeout_ms, &resp, &err);
		lag = start - due;
		pthread_mutex_lock(&l->mu);
		record(l, id, rc, &resp, &err, (double)(now_ns() - start) / 1e6);
		if (lag > LOAD_LATE_NS)
			l->late++;
		if (lag > l->max_lag_ns)
			l->max_lag_ns = lag;
		if (start > l->last_start_ns)
			l->last_start_ns = start;
		pthread_mutex_unlock(&l->mu);
		cli_response_free(&resp);
	}
	cli_conn_close(&conn);
	pthread_mutex_lock(&l->mu);
	l->workers_done++;
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* ---- reporting ------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double percentile(const double *v, size_t n, double q)
{
	size_t k;

	if (n == 0)
		return 0;
	k = (size_t)ceil(q * (double)n);
	if (k < 1)
		k = 1;
	return v[(k > n ? n : k) - 1];
}

/* The achieved rate: requests started over the send window (first due time to the last
 * start, plus one interval), so a run on schedule reports the target rate. */
static double achieved_rate(const struct load *l)
{
	double window_s;

	if (l->sent == 0)
		return 0;
	window_s = (double)(l->last_start_ns - l->t0_ns) / 1e9 + l->interval_ns / 1e9;
	return window_s > 0 ? (double)l->sent / window_s : 0;
}

static void progress(struct load *l, int tty, int final)
{
	static size_t last_sent = (size_t)-1;
	double elapsed = (double)(now_ns() - l->t0_ns) / 1e9;
	size_t ok;

	pthread_mutex_lock(&l->mu);
	if (!tty && final && l->sent == last_sent) {
		pthread_mutex_unlock(&l->mu);
		return; /* the last line already says it */
	}
	last_sent = l->sent;
	ok = l->created + l->repeated;
	fprintf(stderr,
		"%s[%5.1fs/%.0fs] sent %zu/%zu  accepted %zu  rejected %zu  errors %zu  "
		"%.1f/s%s",
		tty ? "\r" : "", elapsed < 0 ? 0 : elapsed, l->o.duration_s, l->sent, l->total, ok,
		l->rejected, l->server_errors + l->transport_errors,
		elapsed > 0 ? (double)l->sent / elapsed : 0.0, tty ? "\033[K" : "\n");
	pthread_mutex_unlock(&l->mu);
	if (tty && final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* The summary as one line of JSON (the last line of stdout). */
static void print_json(const struct load *l, double rate, double p50, double p95, double p99,
		       double pmax)
{
	json_t *j = json_object(), *codes = json_object(), *lat = json_object(), *url;
	char key[8], *text;

	for (int c = 400; c < 500; c++) {
		if (!l->by_code[c])
			continue;
		snprintf(key, sizeof(key), "%d", c);
		json_object_set_new(codes, key, json_integer((json_int_t)l->by_code[c]));
	}
	json_object_set_new(lat, "p50", json_real(p50));
	json_object_set_new(lat, "p95", json_real(p95));
	json_object_set_new(lat, "p99", json_real(p99));
	json_object_set_new(lat, "max", json_real(pmax));
	url = json_string(l->o.url); /* NULL for invalid UTF-8 */
	json_object_set_new(j, "url", url ? url : json_string("?"));
	json_object_set_new(j, "target_rate", json_real(l->o.rate));
	json_object_set_new(j, "duration_s", json_real(l->o.duration_s));
	json_object_set_new(j, "concurrency", json_integer(l->o.concurrency));
	json_object_set_new(j, "seed", json_integer((json_int_t)l->o.seed));
	json_object_set_new(j, "planned", json_integer((json_int_t)l->total));
	json_object_set_new(j, "sent", json_integer((json_int_t)l->sent));
	json_object_set_new(j, "accepted", json_integer((json_int_t)(l->created + l->repeated)));
	json_object_set_new(j, "created", json_integer((json_int_t)l->created));
	json_object_set_new(j, "repeated", json_integer((json_int_t)l->repeated));
	json_object_set_new(j, "rejected", json_integer((json_int_t)l->rejected));
	json_object_set_new(j, "rejected_by_code", codes);
	json_object_set_new(j, "errors",
			    json_integer((json_int_t)(l->server_errors + l->transport_errors)));
	json_object_set_new(j, "server_errors", json_integer((json_int_t)l->server_errors));
	json_object_set_new(j, "transport_errors", json_integer((json_int_t)l->transport_errors));
	json_object_set_new(j, "rate", json_real(rate));
	json_object_set_new(j, "late", json_integer((json_int_t)l->late));
	json_object_set_new(j, "latency_ms", lat);
	json_object_set_new(j, "interrupted", json_boolean(load_interrupted));
	text = jsonx_dumps_flags(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
	printf("%s\n", text ? text : "{}");
	free(text);
	json_decref(j);
}

static void print_summary(struct load *l)
{
	double p50, p95, p99, pmax, rate = achieved_rate(l);
	size_t accepted = l->created + l->repeated, errors = l->server_errors + l->transport_errors;
	int first = 1;

	qsort(l->lat_ms, l->n_lat, sizeof(double), cmp_double);
	p50 = percentile(l->lat_ms, l->n_lat, 0.50);
	p95 = percentile(l->lat_ms, l->n_lat, 0.95);
	p99 = percentile(l->lat_ms, l->n_lat, 0.99);
	pmax = l->n_lat ? l->lat_ms[l->n_lat - 1] : 0;

	printf("ecom load: %s/orders, %.6g orders/s for %.6g s, concurrency %d, seed %" PRIu64
	       "%s\n",
	       l->o.url, l->o.rate, l->o.duration_s, l->o.concurrency, l->o.seed,
	       load_interrupted ? " (interrupted)" : "");
	printf("  sent       %zu of %zu\n", l->sent, l->total);
	printf("  accepted   %zu (201 created %zu, 200 repeated %zu)\n", accepted, l->created,
	       l->repeated);
	printf("  rejected   %zu", l->rejected);
	for (int c = 400; c < 500; c++) {
		if (!l->by_code[c])
			continue;
		printf("%s%d: %zu", first ? " (" : ", ", c, l->by_code[c]);
		first = 0;
	}
	printf("%s\n", first ? "" : ")");
	printf("  errors     %zu (5xx %zu, transport %zu)\n", errors, l->server_errors,
	       l->transport_errors);
	printf("  rate       %.2f orders/s achieved (target %.6g)\n", rate, l->o.rate);
	printf("  latency    p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms (answered)\n",
	       p50, p95, p99, pmax);
	if (l->late)
		printf("  behind     %zu requests started > %lld ms late (max %.0f ms): the server "
		       "is slower than the rate, or raise --concurrency\n",
		       l->late, LOAD_LATE_NS / 1000000, (double)l->max_lag_ns / 1e6);
	for (size_t i = 0; i < l->n_samples; i++)
		printf("  e.g.       %s\n", l->samples[i]);

	print_json(l, rate, p50, p95, p99, pmax);
	fflush(stdout);
}

/* ---- the run ---------------------------------------------------------------------------- */

static void run(struct load *l)
{
	pthread_t th[LOAD_CONCURRENCY_MAX];
	int n_th = 0, tty = isatty(STDERR_FILENO);
	int64_t tick_ms = tty ? LOAD_TICK_TTY_MS : LOAD_TICK_LINE_MS, last_tick = now_ns();

	l->t0_ns = now_ns() + 10000000LL; /* let every thread start before the first due time */
	for (int i = 0; i < l->o.concurrency; i++) {
		if (pthread_create(&th[n_th], NULL, worker, l) != 0) {
			fprintf(stderr, "ecom load: could not start thread %d\n", i + 1);
			break;
		}
		n_th++;
	}
	for (;;) {
		size_t done;
		struct timespec ts = {0, 50000000L};

		pthread_mutex_lock(&l->mu);
		done = l->workers_done;
		pthread_mutex_unlock(&l->mu);
		if (done >= (size_t)n_th)
			break;
		nanosleep(&ts, NULL);
		if ((now_ns() - last_tick) / 1000000 >= tick_ms) {
			last_tick = now_ns();
			progress(l, tty, 0);
		}
	}
	for (int i = 0; i < n_th; i++)
		pthread_join(th[i], NULL);
	progress(l, tty, 1);
}

int cmd_load(int argc, char **argv)
{
	struct load *l;
	struct ecom_err err = {0};
	struct sigaction sa;
	int rc;

	if (cli_wants_help(argc, argv)) {
		load_usage(stdout);
		return 0;
	}
	l = ecom_xcalloc(1, sizeof(*l));
	rc = load_parse(argc, argv, &l->o);
	if (rc != 0)
		goto out;
	if (cli_url_parse(l->o.url, &l->url, &err) != ECOM_OK) {
		rc = bad_usage("--url: %s", err.msg);
		goto out;
	}
	if (!l->o.seeded) {
		if (getrandom(&l->o.seed, sizeof(l->o.seed), 0) != sizeof(l->o.seed))
			l->o.seed = (uint64_t)now_ns();
		l->o.seed &= LOAD_SEED_MAX;
	}
	rng_seed_named(&l->rng, l->o.seed, "ecom-load");
	l->total = (size_t)llround(l->o.rate * l->o.duration_s);
	if (l->total == 0)
		l->total = 1;
	l->interval_ns = 1e9 / l->o.rate;
	l->lat_ms = ecom_xcalloc(l->total, sizeof(double));
	if (l->o.ids_file && !(l->ids = fopen(l->o.ids_file, "w"))) {
		fprintf(stderr, "ecom load: %s: %s\n", l->o.ids_file, strerror(errno));
		rc = 2;
		goto out;
	}
	pthread_mutex_init(&l->mu, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = load_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	run(l);
	print_summary(l);
	pthread_mutex_destroy(&l->mu);
	rc = (l->created + l->repeated > 0 && l->server_errors + l->transport_errors == 0) ? 0 : 1;
out:
	if (l->ids)
		fclose(l->ids);
	free(l->lat_ms);
	free(l);
	return rc;
}
