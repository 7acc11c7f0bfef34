/* cmd_serve.c — `ecom serve`: the services over real HTTP. `serve all` runs the five services
 * in one process on the in-memory broker and stores (or Kafka/MongoDB when given), with the
 * real clock, OS-seeded randomness and the simulated gateway/carrier; `serve SERVICE` runs
 * one service on Kafka and MongoDB. One thread: a select loop over every listener
 * (libmicrohttpd in external mode) that also steps the runtimes. SIGTERM/SIGINT stop it
 * between two units of work (so the message in hand is finished and its offset committed),
 * end the SSE streams, leave the consumer groups and exit 0. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/cli/cli.h"

#ifndef ECOM_HAVE_BACKENDS

int cmd_serve(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "ecom serve: this ecom was built without libmicrohttpd and libjwt "
			"(ECOM_BACKENDS=OFF)\n");
	return 2;
}

#else

#include <librdkafka/rdkafka.h>

#include "app/app.h"
#include "backends/http/http_client.h"
#include "backends/http/http_server.h"
#include "backends/http/jwt_auth.h"
#include "backends/kafka/kafka_broker.h"
#include "backends/mongo/mongo_store.h"
#include "backends/real/real_clock.h"
#include "core/catalog.h"
#include "event/event.h"
#include "event/jsonx.h"
#include "sim/mem_broker.h"
#include "sim/mem_store.h"
#include "sim/sim_adapters.h"
#include "services/inventory/inventory.h"
#include "services/order/order.h"
#include "services/payment/payment.h"
#include "services/read-model/read_model.h"
#include "services/shipping/shipping.h"

#define SERVE_PORT_BASE_DEFAULT 4001
#define SERVE_STOCK_DEFAULT 1000       /* units per SKU of the default catalog */
#define SERVE_PARTITIONS_DEFAULT 6
#define SERVE_IDLE_MEM_MS 1000         /* longest sleep with only in-process input */
#define SERVE_IDLE_KAFKA_MS 10         /* longest sleep when Kafka may bring input */
#define SERVE_TOKEN_TTL_S (24 * 3600)  /* the token printed at start */
#define SERVE_FORWARD_TIMEOUT_MS 5000
#define SERVE_FORWARD_TTL_S 60
#define SERVE_SECRET_BYTES 32
#define SERVE_PROBE_TIMEOUT_MS 1000       /* one Kafka metadata request for /health/ready */
#define SERVE_PROBE_CACHE_US (1000 * 1000) /* a probe answer is reused this long */

static volatile sig_atomic_t serve_stop_flag;

static void serve_on_signal(int sig)
{
	(void)sig;
	serve_stop_flag = 1;
}

struct serve {
	/* options */
	uint32_t services;
	int all;
	int port_base, port;
	const char *bind;
	const char *kafka, *mongo;
	const char *order_url;
	const char *cors;
	char web_dir[PATH_MAX];
	int64_t stock;
	int partitions;
	double decline, ship_fail;
	enum app_log_level log_level;
	/* world */
	struct real_clock clock;
	struct rng rng, gw_rng, car_rng;
	struct catalog cat;
	struct mem_cluster *cluster;
	struct sim_gateway *gw;
	struct sim_carrier *car;
	char secret[2 * SERVE_SECRET_BYTES + 1];
	const char *secret_source;
	struct jwt_auth *auth;
	struct app *app;
	struct http_server *srv[APP_SERVICE_COUNT];
	/* Kafka readiness probe: a producer handle of its own, used only for metadata. */
	rd_kafka_t *probe;
	int64_t probe_at_us;
	int probe_rc;
	char probe_err[128];
	/* ECOM_DEBUG_ROUTES=1 (`serve all` in memory only): the read model's api with the
	 * POST /debug/produce test hook, and the client it produces with. */
	int debug_routes;
	struct http_api rm_api;
	struct broker *debug_producer;
};

static void serve_usage(FILE *out)
{
	fprintf(out,
		"usage: ecom serve all [--port-base N] [--bind ADDR] [--kafka HOST:PORT]\n"
		"                      [--mongo URI] [options]\n"
		"       ecom serve SERVICE --kafka HOST:PORT --mongo URI [--port P] [options]\n"
		"\n"
		"Runs the services over HTTP. SERVICE is order, inventory, payment, shipping or\n"
		"read-model (\"order-service\" etc. also work; default: $SERVICE_NAME).\n"
		"\n"
		"`serve all` runs all five in one process: in-memory broker and stores unless\n"
		"--kafka / --mongo are given, the real clock, OS-seeded randomness, the simulated\n"
		"payment gateway and carrier, and the default catalog (SKU-1..SKU-100 at 10.00).\n"
		"Ports: order N, inventory N+1, payment N+2, shipping N+3, read-model N+4 (the\n"
		"dashboard is served at http://ADDR:N+4/). It prints the URLs and an admin token\n"
		"signed with $JWT_SECRET, or with a random secret made for this run.\n"
		"\n"
		"`serve SERVICE` runs one service on Kafka and MongoDB. Without JWT_SECRET its admin\n"
		"routes answer 503 (there is no built-in secret).\n"
		"\n"
		"options (environment defaults in brackets):\n"
		"  --kafka HOST:PORT   Kafka bootstrap servers [KAFKA_BROKERS]\n"
		"  --mongo URI         MongoDB URI; one database per service, <service>_service\n"
		"                      [MONGO_URL]\n"
		"  --port P            listen port of the one service [PORT; default 4001..4005]\n"
		"  --port-base N       first port of `serve all` (default 4001)\n"
		"  --bind ADDR         IPv4 listen address (default 127.0.0.1 for `serve all`,\n"
		"                      0.0.0.0 for one service)\n"
		"  --cors-origin O     Access-Control-Allow-Origin: * or a comma list of exact\n"
		"                      origins; \"\" for none [CORS_ORIGIN; default *]\n"
		"  --order-url URL     where a separate read-model forwards admin retry/compensate,\n"
		"                      e.g. http://order:4001 [ORDER_URL]; without it those routes\n"
		"                      answer 503 unless the order service is in this process\n"
		"  --web-dir DIR       the dashboard's files [ECOM_WEB_DIR; default: the web/ next\n"
		"                      to the build or install]\n"
		"  --stock N           initial units per SKU when seeding stock (default 1000)\n"
		"  --partitions N      partitions per topic created (default 6)\n"
		"  --decline P         simulated gateway decline probability (default 0.1)\n"
		"  --ship-fail P       simulated carrier refusal probability (default 0.05)\n"
		"  --log-level L       debug, info, warn or error (default info) [LOG_LEVEL]\n"
		"\n"
		"Other environment: JWT_SECRET (HS256 secret for the admin routes);\n"
		"ECOM_DEBUG_ROUTES=1 adds the admin test route POST /debug/produce to the read\n"
		"model of an in-memory `serve all` (produces a raw message, e.g. a poison one).\n"
		"Logs are JSON lines on stderr; SIGTERM/SIGINT finish the message in hand, commit\n"
		"and exit 0.\n");
}

/* ---- options ------------------------------------------------------------------------- */

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

static int parse_prob(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= 0 && v <= 1))
		return -1;
	*out = v;
	return 0;
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_level(const char *s, enum app_log_level *out)
{
	for (int l = APP_LOG_DEBUG; l <= APP_LOG_ERROR; l++) {
		if (strcmp(s, app_log_level_name((enum app_log_level)l)) == 0) {
			*out = (enum app_log_level)l;
			return 0;
		}
	}
	return -1;
}

/* The dashboard directory: an existing web/ next to the build or install. */
static void find_web_dir(char out[PATH_MAX])
{
	static const char *const rel[] = {"/../web", "/../share/ecom/web", "/web", "/../../web"};
	char exe[PATH_MAX], cand[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;

	out[0] = '\0';
	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
			snprintf(cand, sizeof(cand), "%s%s", exe, rel[i]);
			if (stat(cand, &st) == 0 && S_ISDIR(st.st_mode) &&
			    realpath(cand, out) != NULL)
				return;
		}
	}
	if (stat("web", &st) == 0 && S_ISDIR(st.st_mode) && realpath("web", out) != NULL)
		return;
	out[0] = '\0';
}

static int opt_value(int argc, char **argv, int *i, const char **out)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "ecom serve: %s needs a value\n", argv[*i]);
		return -1;
	}
	*out = argv[++*i];
	return 0;
}

/* Defaults, then the environment (the demo's variables). 0, or 2 for a bad value. */
static int parse_env(struct serve *s)
{
	long n;

	s->port_base = SERVE_PORT_BASE_DEFAULT;
	s->port = -1;
	s->kafka = env_or("KAFKA_BROKERS", NULL);
	s->mongo = env_or("MONGO_URL", NULL);
	s->order_url = env_or("ORDER_URL", NULL);
	s->cors = getenv("CORS_ORIGIN") ? getenv("CORS_ORIGIN") : "*";
	s->stock = SERVE_STOCK_DEFAULT;
	s->partitions = SERVE_PARTITIONS_DEFAULT;
	s->decline = 0.1;
	s->ship_fail = 0.05;
	s->log_level = APP_LOG_INFO;
	if (getenv("PORT") && parse_int(getenv("PORT"), 1, 65535, &n) == 0)
		s->port = (int)n;
	if (getenv("LOG_LEVEL") && parse_level(getenv("LOG_LEVEL"), &s->log_level) != 0) {
		fprintf(stderr, "ecom serve: LOG_LEVEL=%s: want debug, info, warn or error\n",
			getenv("LOG_LEVEL"));
		return 2;
	}
	return 0;
}

/* One "--name value" pair. 0, or -1 for an unknown option or a bad value. */
static int parse_option(struct serve *s, const char *a, const char *v, const char **web)
{
	long n;

	if (strcmp(a, "--kafka") == 0)
		s->kafka = v;
	else if (strcmp(a, "--mongo") == 0)
		s->mongo = v;
	else if (strcmp(a, "--bind") == 0)
		s->bind = v;
	else if (strcmp(a, "--cors-origin") == 0)
		s->cors = v;
	else if (strcmp(a, "--order-url") == 0)
		s->order_url = v;
	else if (strcmp(a, "--web-dir") == 0)
		*web = v;
	else if (strcmp(a, "--port") == 0 && parse_int(v, 1, 65535, &n) == 0)
		s->port = (int)n;
	else if (strcmp(a, "--port-base") == 0 &&
		 parse_int(v, 1, 65535 - (APP_SERVICE_COUNT - 1), &n) == 0)
		s->port_base = (int)n;
	else if (strcmp(a, "--stock") == 0 && parse_int(v, 0, 1000000000L, &n) == 0)
		s->stock = n;
	else if (strcmp(a, "--partitions") == 0 && parse_int(v, 1, 1024, &n) == 0)
		s->partitions = (int)n;
	else if (strcmp(a, "--decline") == 0 && parse_prob(v, &s->decline) == 0)
		;
	else if (strcmp(a, "--ship-fail") == 0 && parse_prob(v, &s->ship_fail) == 0)
		;
	else if (strcmp(a, "--log-level") == 0 && parse_level(v, &s->log_level) == 0)
		;
	else
		return -1;
	return 0;
}

/* "all" or one service; 0 or 2. */
static int parse_target(struct serve *s, const char *target)
{
	enum app_service one;

	if (!target) {
		fprintf(stderr, "ecom serve: which service? (all, order, inventory, payment, "
				"shipping, read-model)\n\n");
		serve_usage(stderr);
		return 2;
	}
	if (strcmp(target, "all") == 0) {
		s->all = 1;
		s->services = APP_ALL_SERVICES;
		return 0;
	}
	if (app_service_from_name(target, &one) != ECOM_OK) {
		fprintf(stderr, "ecom serve: unknown service '%s'\n", target);
		return 2;
	}
	s->services = 1u << one;
	if (!s->kafka || !s->mongo) {
		fprintf(stderr, "ecom serve %s: needs --kafka HOST:PORT and --mongo URI (or "
				"KAFKA_BROKERS and MONGO_URL); `ecom serve all` runs in memory\n",
			target);
		return 2;
	}
	if (s->port < 0)
		s->port = SERVE_PORT_BASE_DEFAULT + (int)one;
	return 0;
}

/* Returns 0, or the exit code for bad usage. */
static int parse_args(struct serve *s, int argc, char **argv)
{
	const char *target = NULL, *v, *web = env_or("ECOM_WEB_DIR", NULL);
	int rc = parse_env(s);

	for (int i = 1; rc == 0 && i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-') {
			if (target) {
				fprintf(stderr, "ecom serve: one SERVICE (or all), got '%s' too\n", a);
				return 2;
			}
			target = a;
			continue;
		}
		if (opt_value(argc, argv, &i, &v) != 0)
			return 2;
		if (parse_option(s, a, v, &web) != 0) {
			fprintf(stderr, "ecom serve: bad option or value: %s %s\n\n", a, v);
			serve_usage(stderr);
			return 2;
		}
	}
	if (rc == 0)
		rc = parse_target(s, target ? target : env_or("SERVICE_NAME", NULL));
	if (rc != 0)
		return rc;
	if (!s->bind)
		s->bind = s->all ? "127.0.0.1" : "0.0.0.0";
	if (web)
		snprintf(s->web_dir, sizeof(s->web_dir), "%s", web);
	else
		find_web_dir(s->web_dir);
	return 0;
}

/* ---- backends -------------------------------------------------------------------------- */

static struct broker *be_broker_new(void *arg, enum app_service svc, const char *client_id,
				    struct ecom_err *err)
{
	struct serve *s = arg;
	char id[64];

	if (!s->kafka)
		return mem_broker_new(s->cluster, client_id);
	snprintf(id, sizeof(id), "ecom-%s", app_service_name(svc));
	return kafka_broker_new(s->kafka, id, NULL, err);
}

/* The runtime's sweep queries outbox_at and wake_at on every collection twice a second and
 * the read model lists by status: without indexes each of those is a collection scan on
 * MongoDB. Index creation is idempotent; a failure only costs speed, so it is not fatal. */
static struct store *serve_indexed(struct store *st, enum app_service svc)
{
	static const char *const fields[] = {"outbox_due", "wake_due", "outbox_at", "wake_at"};
	const struct svc_def *def = NULL;

	if (!st)
		return NULL;
	switch (svc) {
	case APP_ORDER: def = order_svc_def(); break;
	case APP_INVENTORY: def = inventory_svc_def(); break;
	case APP_PAYMENT: def = payment_svc_def(); break;
	case APP_SHIPPING: def = shipping_svc_def(); break;
	case APP_READ_MODEL: def = read_model_svc_def(); break;
	default: return st;
	}
	for (size_t c = 0; c < def->n_collections; c++)
		for (size_t f = 0; f < ECOM_ARRAY_LEN(fields); f++)
			(void)mongo_store_ensure_index(st, def->collections[c], fields[f]);
	if (svc == APP_READ_MODEL) {
		(void)mongo_store_ensure_index(st, "projections", "status");
		(void)mongo_store_ensure_index(st, "projections", "updated_us");
	}
	return st;
}

static struct store *be_store_new(void *arg, enum app_service svc, struct ecom_err *err)
{
	struct serve *s = arg;
	char db[64];

	if (!s->mongo)
		return mem_store_new();
	/* One database per service, as the demo has them ("order_service", ...). */
	snprintf(db, sizeof(db), "%s_service", app_service_name(svc));
	for (char *p = db; *p; p++)
		if (*p == '-')
			*p = '_';
	return serve_indexed(mongo_store_new(s->mongo, db, err), svc);
}

static int be_read_original(void *arg, const char *topic, int32_t partition, int64_t offset,
			    struct broker_msg *out)
{
	struct serve *s = arg;

	if (!s->cluster)
		return ECOM_NOT_FOUND;
	return mem_cluster_read(s->cluster, topic, partition, offset, out);
}

/* /health/ready: a metadata request answered by the cluster (cached briefly, since one
 * blocks the loop for up to SERVE_PROBE_TIMEOUT_MS while Kafka is down). */
static int be_broker_ready(void *arg, enum app_service svc, struct ecom_err *err)
{
	struct serve *s = arg;
	int64_t now = clock_now_us(&s->clock.base);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e;

	(void)svc;
	if (!s->probe)
		return ECOM_OK;
	if (s->probe_at_us && now - s->probe_at_us < SERVE_PROBE_CACHE_US)
		return s->probe_rc == ECOM_OK ? ECOM_OK
					      : ecom_err_set(err, s->probe_rc, "%s", s->probe_err);
	e = rd_kafka_metadata(s->probe, 0, NULL, &md, SERVE_PROBE_TIMEOUT_MS);
	if (md)
		rd_kafka_metadata_destroy(md);
	s->probe_at_us = clock_now_us(&s->clock.base);
	s->probe_rc = e == RD_KAFKA_RESP_ERR_NO_ERROR ? ECOM_OK : ECOM_UNAVAILABLE;
	snprintf(s->probe_err, sizeof(s->probe_err), "kafka %s: %s", s->kafka, rd_kafka_err2str(e));
	return s->probe_rc == ECOM_OK ? ECOM_OK
				      : ecom_err_set(err, s->probe_rc, "%s", s->probe_err);
}

static rd_kafka_t *probe_new(const char *bootstrap)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[256];
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) !=
		    RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "client.id", "ecom-ready-probe", errstr, sizeof(errstr)) !=
		    RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk)
		rd_kafka_conf_destroy(conf);
	return rk;
}

/* Creates every event topic (and its .dlq twin) up front: consumers subscribe to topics
 * nobody has produced to yet. */
static int ensure_kafka_topics(struct serve *s, struct ecom_err *err)
{
	const char *topics[EV__COUNT];
	struct broker *b;
	int rc;

	for (int i = 0; i < EV__COUNT; i++)
		topics[i] = event_type_name((enum event_type)i);
	b = kafka_broker_new(s->kafka, "ecom-admin", NULL, err);
	if (!b)
		return err->rc ? err->rc : ECOM_UNAVAILABLE;
	rc = kafka_ensure_topics(b, topics, EV__COUNT, s->partitions, err);
	broker_destroy(b);
	return rc;
}

/* ---- HTTP glue --------------------------------------------------------------------------- */

static int read_web_file(void *arg, const char *rel, char **data, size_t *len)
{
	struct serve *s = arg;
	char path[PATH_MAX + 256];
	struct stat st;
	ssize_t r;
	size_t got = 0;
	int fd;

	if (!s->web_dir[0])
		return ECOM_NOT_FOUND;
	snprintf(path, sizeof(path), "%s/%s", s->web_dir, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ECOM_NOT_FOUND;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > HTTP_STATIC_MAX) {
		close(fd);
		return ECOM_NOT_FOUND;
	}
	*data = ecom_xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		r = read(fd, *data + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	(*data)[got] = '\0';
	*len = got;
	return ECOM_OK;
}

static void log_line(void *arg, enum app_log_level level, const char *json)
{
	(void)arg;
	(void)level;
	fprintf(stderr, "%s\n", json);
}

static void http_log(void *arg, const char *service, const char *method, const char *path,
		     int status, const char *route)
{
	struct serve *s = arg;
	enum app_service svc;
	enum app_log_level level = APP_LOG_INFO;
	json_t *f, *p;

	if (!s->app || app_service_from_name(service, &svc) != ECOM_OK || !app_has(s->app, svc))
		return;
	if (strncmp(path, "/health", 7) == 0 || strcmp(path, "/metrics") == 0 || status == 0 ||
	    strcmp(route, "static") == 0)
		level = APP_LOG_DEBUG;
	if (status >= 500)
		level = APP_LOG_WARN;
	if (level < s->log_level)
		return;
	f = json_object();
	jsonx_set_str(f, "method", method);
	p = json_string(path); /* NULL for invalid UTF-8 */
	jsonx_set_new(f, "path", p ? p : json_string("(not UTF-8)"));
	jsonx_set_int(f, "status", status);
	jsonx_set_str(f, "route", route);
	app_log(s->app, svc, level, status ? "http request" : "sse stream closed", f);
	json_decref(f);
}

static void sse_publish(void *arg, const char *order_id, const char *id, const char *data)
{
	struct serve *s = arg;

	if (s->srv[APP_READ_MODEL])
		http_server_sse_publish(s->srv[APP_READ_MODEL], order_id, id, data);
}

/* POST /debug/produce: value as it is onto an event type's topic (poison for DLQ tests). */
static int debug_produce(void *arg, const char *topic, const char *key, const char *value,
			 size_t value_len, json_t **out, struct ecom_err *err)
{
	struct serve *s = arg;
	struct broker_record rec = {.topic = topic, .key = key, .key_len = key ? strlen(key) : 0,
				    .value = value, .value_len = value_len};
	enum event_type t;
	int rc;

	if (event_type_from_name(topic, &t) != ECOM_OK)
		return ecom_err_set(err, ECOM_INVALID, "topic: not an event type's topic");
	if (!s->debug_producer)
		s->debug_producer = mem_broker_new(s->cluster, "debug-producer");
	rc = broker_produce(s->debug_producer, &rec, err);
	if (rc == ECOM_OK)
		*out = json_pack("{s:s,s:I}", "topic", topic, "bytes", (json_int_t)value_len);
	return rc;
}

/* A read model without the order service forwards admin commands with a short-lived token
 * of its own (the caller was already authorized here). */
static int forward_admin(void *arg, const char *op, const char *order_id, const char *value,
			 json_t **resp, struct ecom_err *err)
{
	struct serve *s = arg;
	char path[256], authz[2048], *tok, *body_text, *answer = NULL;
	json_t *body, *j, *msg;
	int status = 0, rc;

	tok = jwt_auth_mint(s->secret, JWT_ROLE_ADMIN, "read-model",
			    clock_wall_ms(&s->clock.base) / 1000, SERVE_FORWARD_TTL_S, err);
	if (!tok)
		return ECOM_UNAVAILABLE;
	snprintf(authz, sizeof(authz), "Bearer %s", tok);
	free(tok);
	snprintf(path, sizeof(path), "/admin/%s/%s", op, order_id);
	body = json_pack("{s:s}", strcmp(op, "retry") == 0 ? "step" : "action", value);
	body_text = jsonx_dumps(body);
	json_decref(body);
	rc = http_client_post(s->order_url, path, authz, body_text, SERVE_FORWARD_TIMEOUT_MS,
			      &status, &answer, err);
	free(body_text);
	if (rc != ECOM_OK)
		return rc;
	j = json_loads(answer, 0, NULL);
	free(answer);
	if (status == 200) {
		*resp = j ? j : json_object();
		return ECOM_OK;
	}
	msg = json_object_get(j, "error");
	ecom_err_set(err, ECOM_UNAVAILABLE, "order service: %s",
		     json_is_string(msg) ? json_string_value(msg) : "error");
	json_decref(j);
	switch (status) {
	case 400: return err->rc = ECOM_INVALID;
	case 404: return err->rc = ECOM_NOT_FOUND;
	case 409: return err->rc = ECOM_REFUSED;
	default: return ECOM_UNAVAILABLE;
	}
}

/* ---- setup and the loop ------------------------------------------------------------------ */

static int make_secret(struct serve *s)
{
	const char *env = getenv("JWT_SECRET");
	unsigned char raw[SERVE_SECRET_BYTES];

	if (env && *env) {
		snprintf(s->secret, sizeof(s->secret), "%s", env);
		s->secret_source = "from JWT_SECRET";
		return 1;
	}
	if (!s->all) {
		s->secret_source = "none: JWT_SECRET is not set, admin routes answer 503";
		return 0;
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(s->secret + 2 * i, 3, "%02x", raw[i]);
	s->secret_source = "random for this run (set JWT_SECRET to choose one)";
	return 1;
}

static int serve_setup(struct serve *s, struct ecom_err *err)
{
	struct sim_adapter_rates gr = {.decline = s->decline}, cr = {.decline = s->ship_fail};
	struct app_backends be = {.arg = s, .broker_new = be_broker_new,
				  .store_new = be_store_new, .read_original = be_read_original,
				  .broker_ready = be_broker_ready};
	struct app_config cfg = {0};
	int has_secret;

	real_clock_init(&s->clock);
	real_rng_seed(&s->rng);
	rng_split(&s->rng, &s->gw_rng);
	rng_split(&s->rng, &s->car_rng);
	catalog_init_default(&s->cat, s->stock);
	if (!s->kafka)
		s->cluster = mem_cluster_new(s->partitions, &s->clock.base);
	else if (ensure_kafka_topics(s, err) != ECOM_OK)
		return -1;
	else
		s->probe = probe_new(s->kafka);
	s->gw = sim_gateway_new(&gr, &s->gw_rng, &s->clock.base);
	s->car = sim_carrier_new(&cr, &s->car_rng, &s->clock.base);
	has_secret = make_secret(s);
	if (has_secret < 0)
		return ecom_err_set(err, ECOM_UNAVAILABLE, "getrandom failed"), -1;
	if (has_secret)
		s->auth = jwt_auth_new(s->secret, &s->clock.base);

	s->debug_routes = s->all && s->cluster && getenv("ECOM_DEBUG_ROUTES") &&
			  strcmp(getenv("ECOM_DEBUG_ROUTES"), "1") == 0;
	cfg.services = s->services;
	cfg.clock = &s->clock.base;
	cfg.rng = &s->rng;
	cfg.catalog = &s->cat;
	cfg.gateway = sim_gateway_iface(s->gw);
	cfg.carrier = sim_carrier_iface(s->car);
	cfg.seed_stock = 1;
	cfg.authorize = s->auth ? jwt_auth_check : NULL;
	cfg.auth_arg = s->auth;
	cfg.cors_origin = s->cors[0] ? s->cors : NULL;
	cfg.read_file = read_web_file;
	cfg.read_file_arg = s;
	if (s->order_url && has_secret) {
		cfg.forward_admin = forward_admin;
		cfg.forward_arg = s;
	}
	cfg.log_line = log_line;
	cfg.log_level = s->log_level;
	cfg.sse = sse_publish;
	cfg.sse_arg = s;
	s->app = app_new(&cfg, &be, err);
	if (!s->app || app_start(s->app, err) != ECOM_OK)
		return -1;
	/* On Kafka/MongoDB one runtime step is milliseconds of I/O: answer HTTP between steps
	 * instead of after a batch of them (a batch made POST /orders wait seconds). */
	if (s->kafka || s->mongo)
		app_set_step_batch(s->app, 1);
	for (int i = 0; i < APP_SERVICE_COUNT; i++) {
		struct http_server_config hc = {.bind_addr = s->bind, .api = NULL,
						.log = http_log, .log_arg = s};

		if (!app_has(s->app, (enum app_service)i))
			continue;
		hc.api = app_http_api(s->app, (enum app_service)i);
		if (i == APP_READ_MODEL && s->debug_routes) {
			s->rm_api = *hc.api;
			s->rm_api.debug_produce = debug_produce;
			s->rm_api.debug_arg = s;
			hc.api = &s->rm_api;
		}
		hc.port = (uint16_t)(s->all ? s->port_base + i : s->port);
		s->srv[i] = http_server_new(&hc, err);
		if (!s->srv[i])
			return -1;
	}
	return 0;
}

static void print_banner(struct serve *s)
{
	const char *store = s->mongo ? "MongoDB" : "in-memory stores";
	const char *broker = s->kafka ? "Kafka" : "in-memory broker";
	char *tok = NULL;

	printf("ecom serve: %s on %s and %s (real clock, simulated gateway and carrier)\n",
	       s->all ? "all five services" : "one service", broker, store);
	for (int i = 0; i < APP_SERVICE_COUNT; i++)
		if (s->srv[i])
			printf("  %-11s http://%s:%u\n", app_service_name((enum app_service)i),
			       s->bind, (unsigned)http_server_port(s->srv[i]));
	if (s->srv[APP_READ_MODEL])
		printf("dashboard: http://%s:%u/%s\n", s->bind,
		       (unsigned)http_server_port(s->srv[APP_READ_MODEL]),
		       s->web_dir[0] ? "" : "  (no web/ directory found: use --web-dir)");
	printf("admin secret: %s\n", s->secret_source);
	if (s->debug_routes)
		printf("debug routes: POST /debug/produce on the read model "
		       "(ECOM_DEBUG_ROUTES=1)\n");
	if (s->auth)
		tok = jwt_auth_mint(s->secret, JWT_ROLE_ADMIN, "ecom-serve",
				    clock_wall_ms(&s->clock.base) / 1000, SERVE_TOKEN_TTL_S, NULL);
	if (tok)
		printf("admin token: %s\n", tok);
	free(tok);
	printf("ready\n");
	fflush(stdout);
}

static void serve_loop(struct serve *s)
{
	int idle_cap_ms = s->kafka ? SERVE_IDLE_KAFKA_MS : SERVE_IDLE_MEM_MS;

	while (!serve_stop_flag) {
		int64_t next_us, now, timeout_ms, t;
		int work = app_step(s->app, &next_us), max_fd = -1, rc;
		fd_set rs, ws, es;
		struct timeval tv;

		now = clock_now_us(&s->clock.base);
		FD_ZERO(&rs);
		FD_ZERO(&ws);
		FD_ZERO(&es);
		timeout_ms = idle_cap_ms;
		if (work)
			timeout_ms = 0;
		else if (next_us != INT64_MAX && (next_us - now) / 1000 < timeout_ms)
			timeout_ms = next_us > now ? (next_us - now + 999) / 1000 : 0;
		for (int i = 0; i < APP_SERVICE_COUNT; i++) {
			if (!s->srv[i])
				continue;
			http_server_tick(s->srv[i], now);
			http_server_fdset(s->srv[i], &rs, &ws, &es, &max_fd);
			t = http_server_timeout_ms(s->srv[i]);
			if (t >= 0 && t < timeout_ms)
				timeout_ms = t;
		}
		tv.tv_sec = (time_t)(timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
		rc = select(max_fd + 1, &rs, &ws, &es, &tv);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			FD_ZERO(&rs);
			FD_ZERO(&ws);
			FD_ZERO(&es);
		}
		for (int i = 0; i < APP_SERVICE_COUNT; i++)
			if (s->srv[i])
				http_server_run(s->srv[i], &rs, &ws, &es);
	}
}

static void serve_teardown(struct serve *s)
{
	for (int i = 0; i < APP_SERVICE_COUNT; i++)
		http_server_free(s->srv[i]);
	app_free(s->app);
	broker_destroy(s->debug_producer);
	jwt_auth_free(s->auth);
	sim_gateway_free(s->gw);
	sim_carrier_free(s->car);
	mem_cluster_free(s->cluster);
	if (s->probe)
		rd_kafka_destroy(s->probe);
	catalog_deinit(&s->cat);
	memset(s->secret, 0, sizeof(s->secret));
}

int cmd_serve(int argc, char **argv)
{
	struct serve *s;
	struct ecom_err err = {0};
	struct sigaction sa;
	int rc;

	if (cli_wants_help(argc, argv)) {
		serve_usage(stdout);
		return 0;
	}
	s = ecom_xcalloc(1, sizeof(*s));
	rc = parse_args(s, argc, argv);
	if (rc != 0) {
		free(s);
		return rc;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = serve_on_signal; /* no SA_RESTART: select returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (serve_setup(s, &err) != 0) {
		fprintf(stderr, "ecom serve: %s\n", err.msg[0] ? err.msg : "setup failed");
		serve_teardown(s);
		free(s);
		return 1;
	}
	print_banner(s);
	serve_loop(s);
	for (int i = 0; i < APP_SERVICE_COUNT; i++)
		if (app_has(s->app, (enum app_service)i))
			app_log(s->app, (enum app_service)i, APP_LOG_INFO,
				"stopping: signal received", NULL);
	serve_teardown(s);
	free(s);
	return 0;
}

#endif
