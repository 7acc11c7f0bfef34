/* read_model.h — the read-model service: folds every saga event into a per-order projection
 * (status from the OrderStatusChanged with the highest seq, so it never regresses on
 * out-of-order arrival; a timeline listing each eventId once, in causal order) and every
 * dead letter into one dead_letters document per original message. Queries read the store
 * of the runtime it is attached to. Domain logic only: all I/O goes through the runtime. */
#ifndef ECOM_SERVICES_READ_MODEL_H
#define ECOM_SERVICES_READ_MODEL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ecom.h"
#include "runtime/runtime.h"

#define READ_MODEL_PROJECTIONS "projections"
#define READ_MODEL_DEAD_LETTERS "dead_letters"

/* Bounds. */
#define READ_MODEL_TIMELINE_MAX 512   /* entries per order; the oldest go first (counted) */
#define READ_MODEL_LIST_DEFAULT 100   /* list limit when the caller passes 0 */
#define READ_MODEL_LIST_MAX 1000      /* hard cap on any list */
#define READ_MODEL_REPLAYS_MAX 32     /* replay records kept per dead letter */

struct read_model_config {
	uint32_t bugs; /* planted bugs (bugs.h); ORed with the runtime's */
};

struct read_model;

/* cfg is copied (NULL = defaults). */
struct read_model *read_model_new(const struct read_model_config *cfg);
void read_model_free(struct read_model *rm);
/* The runtime whose store the queries read (borrowed; NULL detaches). It must have been
 * created with read_model_svc_def() and this read model as its `svc`. */
void read_model_attach(struct read_model *rm, struct runtime *rt);
/* Consumes the saga's event types and, through extra_topics, "<topic>.dlq" for every topic
 * a service consumes (their messages are ops.DeadLetter.v1). */
const struct svc_def *read_model_svc_def(void);

/* ---- queries (new references in *out; ECOM_UNAVAILABLE when the store fails) ---------- */

/* One projection (read_model_projection_to_wire). ECOM_NOT_FOUND. */
int read_model_get(struct read_model *rm, const char *id, json_t **out, struct ecom_err *err);
/* Projections, most recently updated first; status NULL = all; limit 0 = the default. */
int read_model_list(struct read_model *rm, const char *status, size_t limit, json_t **out,
		    struct ecom_err *err);
/* Dead letters, most recently received first, filtered by original topic and/or orderId
 * (NULL = any). */
int read_model_dlq_list(struct read_model *rm, const char *topic, const char *order_id,
			size_t limit, json_t **out, struct ecom_err *err);
/* One dead letter by its id "<topic>:<partition>:<offset>". ECOM_NOT_FOUND. */
int read_model_dlq_get(struct read_model *rm, const char *id, json_t **out,
		       struct ecom_err *err);
/* Records that an operator replayed a dead letter (replayed += 1, replays gets
 * {at, atUs, eventId}); event_id is the id of the re-published event (may be NULL).
 * ECOM_NOT_FOUND for an unknown id. */
int read_model_dlq_mark_replayed(struct read_model *rm, const char *id, const char *event_id,
				 struct ecom_err *err);
/* {"orders": n, "byStatus": {"CREATED": n, ...every status...}, "deadLetters": n}. */
int read_model_stats(struct read_model *rm, json_t **out, struct ecom_err *err);

/* The stored projection (borrowed) without the runtime's bookkeeping keys, a new
 * reference: _id, orderId, status, currentStatus (the demo dashboard's name), seq, attempt,
 * total, items, timeline [{eventId, type, at, details}], createdAt, updatedAt, ... */
json_t *read_model_projection_to_wire(const json_t *doc);

/* ---- change notification (SSE) --------------------------------------------------------- */

typedef void (*read_model_listener_fn)(void *arg, const json_t *projection,
				       const json_t *timeline_entry);
/* fn is called after each committed projection change with the wire projection and the
 * timeline entry that changed it (both borrowed for the call). NULL fn removes it. */
void read_model_set_listener(struct read_model *rm, read_model_listener_fn fn, void *arg);
/* Feed this from the read model runtime's observer on_commit (doc borrowed). */
void read_model_on_commit(struct read_model *rm, const char *collection, const json_t *doc);
/* Convenience: fills obs so that its on_commit calls read_model_on_commit(rm, ...). */
void read_model_observer(struct read_model *rm, struct runtime_observer *obs);

#endif
