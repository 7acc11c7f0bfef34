/* app.h — the wiring of a set of services over backends the caller provides: the service
 * objects, one runtime per service, stock seeding, the HTTP API (routes.h) each service
 * offers, its Prometheus registry, JSON log lines and the read model's change feed (SSE).
 * No sockets, no environment, no clock or randomness of its own: broker/store factories,
 * the clock, the rng and the gateway/carrier come from the caller (`ecom serve` passes the
 * real ones; a test passes in-memory ones and a manual clock), so the wiring is
 * deterministic for deterministic inputs. Single-threaded: the caller steps it. */
#ifndef ECOM_APP_H
#define ECOM_APP_H

#include <jansson.h>
#include <stdint.h>

#include "core/adapters.h"
#include "core/broker.h"
#include "core/catalog.h"
#include "core/clock.h"
#include "core/ecom.h"
#include "core/metrics.h"
#include "core/rng.h"
#include "core/store.h"
#include "http/routes.h"

enum app_service {
	APP_ORDER = 0,
	APP_INVENTORY,
	APP_PAYMENT,
	APP_SHIPPING,
	APP_READ_MODEL,
	APP_SERVICE_COUNT
};

#define APP_ALL_SERVICES ((1u << APP_SERVICE_COUNT) - 1)
#define APP_STEP_BATCH_MAX 64 /* runtime steps per service per app_step() */

/* "order", "inventory", "payment", "shipping", "read-model". */
const char *app_service_name(enum app_service s);
/* Also accepts "read_model" and the demo's "<name>-service". ECOM_OK or ECOM_NOT_FOUND. */
int app_service_from_name(const char *name, enum app_service *out);

enum app_log_level { APP_LOG_DEBUG = 0, APP_LOG_INFO, APP_LOG_WARN, APP_LOG_ERROR };
const char *app_log_level_name(enum app_log_level l);

/* Where the services' state and messages live. */
struct app_backends {
	void *arg;
	/* A new broker client for the service's instance (client_id e.g. "order#1"); the app
	 * destroys it. NULL with err set on failure. */
	struct broker *(*broker_new)(void *arg, enum app_service s, const char *client_id,
				     struct ecom_err *err);
	/* The service's store; the app destroys it. */
	struct store *(*store_new)(void *arg, enum app_service s, struct ecom_err *err);
	/* Optional: the original message at a log position, for DLQ replay (the in-memory
	 * cluster can read any offset). When NULL or ECOM_NOT_FOUND, replay rebuilds the
	 * envelope from the dead letter's record. Memory borrowed until the next call. */
	int (*read_original)(void *arg, const char *topic, int32_t partition, int64_t offset,
			     struct broker_msg *out);
	/* Optional: does the broker answer? (ECOM_OK or ECOM_UNAVAILABLE with err set.) Used by
	 * /health/ready next to a store read; NULL = the broker is in-process. */
	int (*broker_ready)(void *arg, enum app_service s, struct ecom_err *err);
};

/* Admin commands for a read model whose order service runs elsewhere: `op` is "retry" or
 * "compensate", `arg_value` the step or action. Same codes as order_retry. */
typedef int (*app_forward_fn)(void *arg, const char *op, const char *order_id,
			      const char *arg_value, json_t **resp, struct ecom_err *err);

struct app_config {
	uint32_t services;            /* bit (1u << enum app_service) per service to run */
	struct eclock *clock;         /* borrowed */
	struct rng *rng;              /* borrowed; per-instance streams are split from it */
	const struct catalog *catalog;/* borrowed: order validation and stock seeding */
	struct gateway *gateway;      /* borrowed; required with APP_PAYMENT */
	struct carrier *carrier;      /* borrowed; required with APP_SHIPPING */
	int seed_stock;               /* seed the catalog's stock at start (idempotent) */
	const char *instance_suffix;  /* instance names "<service><suffix>", default "#1" */
	int64_t step_deadline_us;     /* order saga step deadline; 0 = the service default */

	/* HTTP extras, copied into every service's http_api. */
	int (*authorize)(void *auth_arg, const char *authorization, struct ecom_err *err);
	void *auth_arg;
	const char *cors_origin;
	int (*read_file)(void *arg, const char *rel, char **data, size_t *len); /* read model */
	void *read_file_arg;
	app_forward_fn forward_admin; /* read model without a local order service */
	void *forward_arg;

	/* One JSON object per line (no newline), for the caller to write. May be NULL. */
	void (*log_line)(void *arg, enum app_log_level level, const char *json);
	void *log_arg;
	enum app_log_level log_level; /* lines below this level are not even formatted */

	/* Read-model changes as SSE messages: order_id, SSE id, one line of JSON. May be NULL. */
	void (*sse)(void *arg, const char *order_id, const char *id, const char *data);
	void *sse_arg;
};

struct app;

/* Builds services and runtimes (nothing is subscribed yet). NULL with err set. */
struct app *app_new(const struct app_config *cfg, const struct app_backends *be,
		    struct ecom_err *err);
/* Seeds stock (if asked) and subscribes every runtime. ECOM_OK or the first error. */
int app_start(struct app *a, struct ecom_err *err);
/* Caps the runtime steps per service per app_step() (1..APP_STEP_BATCH_MAX). On real
 * backends a step costs milliseconds of I/O, so the server answers HTTP between steps. */
void app_set_step_batch(struct app *a, int n);
/* Steps every runtime up to APP_STEP_BATCH_MAX times (round robin, fixed order). Returns the
 * units of work done; *next_us = when a runtime next wants to run if nothing was done
 * (INT64_MAX: only on new input). */
int app_step(struct app *a, int64_t *next_us);
/* Frees runtimes, services, brokers (leaving their groups) and stores. */
void app_free(struct app *a);

int app_has(const struct app *a, enum app_service s);
/* The service's HTTP API (borrowed; valid until app_free). s must be running here. */
const struct http_api *app_http_api(struct app *a, enum app_service s);
struct metrics *app_metrics(struct app *a, enum app_service s);
/* Logs one line for the service at level (msg and extra fields from fields, borrowed). */
void app_log(struct app *a, enum app_service s, enum app_log_level level, const char *msg,
	     const json_t *fields);

/* Direct access to the API functions the routes call (the same code path as HTTP). */
int app_order_create(struct app *a, json_t *body, json_t **resp, int *created,
		     struct ecom_err *err);
int app_dlq_replay(struct app *a, const char *id, const char *topic, const char *order_id,
		   int all, json_t **out, struct ecom_err *err);

#endif
