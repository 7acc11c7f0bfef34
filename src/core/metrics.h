/* metrics.h — a small Prometheus registry: counters, gauges and histograms with labels,
 * rendered in the text exposition format 0.0.4. Deterministic: families render sorted by
 * name, series by their label values (strcmp, in declared label order), so the same updates
 * give the same bytes. Single-threaded; every family and series count is bounded. */
#ifndef ECOM_METRICS_H
#define ECOM_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/ecom.h"

#define METRICS_FAMILIES_MAX 64
#define METRICS_LABELS_MAX 4
#define METRICS_SERIES_MAX 2048      /* per family; more label sets are dropped and counted */
#define METRICS_BUCKETS_MAX 24
#define METRICS_LABEL_VALUE_MAX 160  /* longer label values are truncated */
#define METRICS_NAME_MAX 96

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Counted whenever a new label set is refused because its family is full. */
#define METRICS_DROPPED_NAME "ecom_metrics_series_dropped_total"

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;
struct metric; /* one family: a name, a help text, label names, and its series */

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Registers a family. name matches [a-zA-Z_:][a-zA-Z0-9_:]*, labels [a-zA-Z_][a-zA-Z0-9_]*
 * (not "le"); at most METRICS_LABELS_MAX. Registering a name twice is a programmer error
 * (asserted). Strings are copied. The family lives as long as the registry. */
struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
			       const char *const *labels, size_t n_labels);
struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help,
			     const char *const *labels, size_t n_labels);
/* buckets: strictly increasing upper bounds, without +Inf (always added). */
struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
				 const char *const *labels, size_t n_labels,
				 const double *buckets, size_t n_buckets);
/* The family registered under name, or NULL. */
struct metric *metrics_find(struct metrics *m, const char *name);

/* values: one string per label of the family, in declared order (NULL reads as ""). */
/* Counter (by >= 0) or gauge (any sign). */
void metric_add(struct metric *f, const char *const *values, double by);
/* Gauge only. */
void metric_set(struct metric *f, const char *const *values, double v);
/* Histogram only. */
void metric_observe(struct metric *f, const char *const *values, double v);
/* Removes every series of the family (a gauge refreshed from a full scan, so label sets
 * that vanished disappear). */
void metric_clear(struct metric *f);

/* For tests and reports: the counter/gauge value, or a histogram's count; 0 when the
 * series does not exist. */
double metric_value(struct metric *f, const char *const *values);
/* A histogram's sum; 0 when absent. */
double metric_sum(struct metric *f, const char *const *values);
size_t metric_series_count(const struct metric *f);

/* Called at the start of every render (refresh gauges from their source). May be NULL. */
void metrics_set_collector(struct metrics *m, void (*fn)(void *arg, struct metrics *m),
			   void *arg);

/* The exposition text (malloc'd, NUL-terminated; caller frees). */
char *metrics_render(struct metrics *m);

/* Formats a sample value as the exposition format wants it: integers without a fraction,
 * other values with the shortest round-tripping %g, "+Inf", "-Inf", "NaN". */
void metrics_format_value(double v, char out[32]);

#endif
