/* metrics.c — the Prometheus registry of metrics.h. Series live in a per-family array kept
 * sorted by label values (binary search on insert), so rendering is a linear walk and its
 * order depends on the data alone. */
#include "core/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
	char *values[METRICS_LABELS_MAX];
	double value;     /* counter / gauge */
	double sum;       /* histogram */
	uint64_t count;   /* histogram */
	uint64_t *bucket; /* histogram: non-cumulative counts per bound (+Inf last) */
};

struct metric {
	struct metrics *reg;
	enum metric_kind kind;
	char name[METRICS_NAME_MAX];
	char *help;
	char *labels[METRICS_LABELS_MAX];
	size_t n_labels;
	double bounds[METRICS_BUCKETS_MAX];
	size_t n_bounds;
	struct series *series;
	size_t n_series, cap_series;
};

struct metrics {
	struct metric *fam[METRICS_FAMILIES_MAX];
	size_t n_fam;
	struct metric *dropped;
	void (*collect)(void *arg, struct metrics *m);
	void *collect_arg;
};

/* ---- growable text buffer ------------------------------------------------------------ */

struct mbuf {
	char *p;
	size_t len, cap;
};

static void mbuf_put(struct mbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = ecom_xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void mbuf_puts(struct mbuf *b, const char *s)
{
	mbuf_put(b, s, strlen(s));
}

/* ---- names ----------------------------------------------------------------------------- */

static int name_ok(const char *s, int colon)
{
	if (!s || !*s || strlen(s) >= METRICS_NAME_MAX)
		return 0;
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			    (colon && c == ':');

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return 0;
	}
	return 1;
}

struct metrics *metrics_new(void)
{
	struct metrics *m = ecom_xcalloc(1, sizeof(*m));

	m->dropped = metrics_counter(m, METRICS_DROPPED_NAME,
				     "Label sets refused because their family was full.", NULL, 0);
	return m;
}

static void series_free(struct metric *f, struct series *s)
{
	for (size_t i = 0; i < f->n_labels; i++)
		free(s->values[i]);
	free(s->bucket);
}

void metric_clear(struct metric *f)
{
	ECOM_ASSERT(f);
	for (size_t i = 0; i < f->n_series; i++)
		series_free(f, &f->series[i]);
	f->n_series = 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_fam; i++) {
		struct metric *f = m->fam[i];

		metric_clear(f);
		free(f->series);
		for (size_t j = 0; j < f->n_labels; j++)
			free(f->labels[j]);
		free(f->help);
		free(f);
	}
	free(m);
}

static struct metric *family_new(struct metrics *m, enum metric_kind kind, const char *name,
				 const char *help, const char *const *labels, size_t n_labels)
{
	struct metric *f;

	ECOM_ASSERT(m && name_ok(name, 1) && help);
	ECOM_ASSERT(n_labels <= METRICS_LABELS_MAX && (n_labels == 0 || labels));
	ECOM_ASSERT(m->n_fam < METRICS_FAMILIES_MAX);
	ECOM_ASSERT(metrics_find(m, name) == NULL);
	f = ecom_xcalloc(1, sizeof(*f));
	f->reg = m;
	f->kind = kind;
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->help = ecom_xstrdup(help);
	for (size_t i = 0; i < n_labels; i++) {
		ECOM_ASSERT(name_ok(labels[i], 0) && strncmp(labels[i], "__", 2) != 0);
		ECOM_ASSERT(kind != METRIC_HISTOGRAM || strcmp(labels[i], "le") != 0);
		for (size_t j = 0; j < i; j++)
			ECOM_ASSERT(strcmp(labels[i], labels[j]) != 0);
		f->labels[i] = ecom_xstrdup(labels[i]);
	}
	f->n_labels = n_labels;
	m->fam[m->n_fam++] = f;
	return f;
}

struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
			       const char *const *labels, size_t n_labels)
{
	return family_new(m, METRIC_COUNTER, name, help, labels, n_labels);
}

struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help,
			     const char *const *labels, size_t n_labels)
{
	return family_new(m, METRIC_GAUGE, name, help, labels, n_labels);
}

struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
				 const char *const *labels, size_t n_labels,
				 const double *buckets, size_t n_buckets)
{
	struct metric *f;

	ECOM_ASSERT(buckets && n_buckets > 0 && n_buckets < METRICS_BUCKETS_MAX);
	for (size_t i = 0; i < n_buckets; i++)
		ECOM_ASSERT(isfinite(buckets[i]) && (i == 0 || buckets[i] > buckets[i - 1]));
	f = family_new(m, METRIC_HISTOGRAM, name, help, labels, n_labels);
	memcpy(f->bounds, buckets, n_buckets * sizeof(double));
	f->n_bounds = n_buckets;
	return f;
}

struct metric *metrics_find(struct metrics *m, const char *name)
{
	ECOM_ASSERT(m && name);
	for (size_t i = 0; i < m->n_fam; i++)
		if (strcmp(m->fam[i]->name, name) == 0)
			return m->fam[i];
	return NULL;
}

void metrics_set_collector(struct metrics *m, void (*fn)(void *arg, struct metrics *m),
			   void *arg)
{
	ECOM_ASSERT(m);
	m->collect = fn;
	m->collect_arg = arg;
}

/* ---- series lookup --------------------------------------------------------------------- */

static const char *label_value(const char *const *values, size_t i)
{
	return values && values[i] ? values[i] : "";
}

/* Compares a stored series with the wanted values; values longer than the stored limit
 * compare on their truncated prefix, as they were stored. */
static int series_cmp(const struct metric *f, const struct series *s, const char *const *values)
{
	for (size_t i = 0; i < f->n_labels; i++) {
		int c = strncmp(s->values[i], label_value(values, i), METRICS_LABEL_VALUE_MAX - 1);

		if (c)
			return c;
	}
	return 0;
}

/* Index of the series, or -(insertion point) - 1. */
static long series_search(const struct metric *f, const char *const *values)
{
	size_t lo = 0, hi = f->n_series;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = series_cmp(f, &f->series[mid], values);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

/* The series for values, created if absent; NULL when the family is full. */
static struct series *series_get(struct metric *f, const char *const *values)
{
	long at = series_search(f, values);
	struct series *s;
	size_t pos;

	if (at >= 0)
		return &f->series[at];
	if (f->n_series >= METRICS_SERIES_MAX) {
		if (f != f->reg->dropped)
			metric_add(f->reg->dropped, NULL, 1);
		return NULL;
	}
	pos = (size_t)(-at - 1);
	if (f->n_series == f->cap_series) {
		f->cap_series = f->cap_series ? f->cap_series * 2 : 8;
		f->series = ecom_xrealloc(f->series, f->cap_series * sizeof(*f->series));
	}
	memmove(&f->series[pos + 1], &f->series[pos], (f->n_series - pos) * sizeof(*s));
	f->n_series++;
	s = &f->series[pos];
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < f->n_labels; i++) {
		const char *v = label_value(values, i);

		s->values[i] = ecom_xstrndup(v, strnlen(v, METRICS_LABEL_VALUE_MAX - 1));
	}
	if (f->kind == METRIC_HISTOGRAM)
		s->bucket = ecom_xcalloc(f->n_bounds + 1, sizeof(uint64_t));
	return s;
}

void metric_add(struct metric *f, const char *const *values, double by)
{
	struct series *s;

	ECOM_ASSERT(f && f->kind != METRIC_HISTOGRAM);
	ECOM_ASSERT(f->kind != METRIC_COUNTER || by >= 0);
	s = series_get(f, values);
	if (s)
		s->value += by;
}

void metric_set(struct metric *f, const char *const *values, double v)
{
	struct series *s;

	ECOM_ASSERT(f && f->kind == METRIC_GAUGE);
	s = series_get(f, values);
	if (s)
		s->value = v;
}

void metric_observe(struct metric *f, const char *const *values, double v)
{
	struct series *s;
	size_t b = 0;

	ECOM_ASSERT(f && f->kind == METRIC_HISTOGRAM);
	s = series_get(f, values);
	if (!s)
		return;
	while (b < f->n_bounds && !(v <= f->bounds[b]))
		b++;
	s->bucket[b]++;
	s->count++;
	s->sum += v;
}

double metric_value(struct metric *f, const char *const *values)
{
	long at;

	ECOM_ASSERT(f);
	at = series_search(f, values);
	if (at < 0)
		return 0;
	return f->kind == METRIC_HISTOGRAM ? (double)f->series[at].count : f->series[at].value;
}

double metric_sum(struct metric *f, const char *const *values)
{
	long at;

	ECOM_ASSERT(f && f->kind == METRIC_HISTOGRAM);
	at = series_search(f, values);
	return at < 0 ? 0 : f->series[at].sum;
}

size_t metric_series_count(const struct metric *f)
{
	ECOM_ASSERT(f);
	return f->n_series;
}

/* ---- rendering ------------------------------------------------------------------------- */

void metrics_format_value(double v, char out[32])
{
	if (isnan(v)) {
		snprintf(out, 32, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, 32, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(out, 32, "%.0f", v == 0 ? 0.0 : v); /* never "-0" */
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* Help text: backslash and newline escaped. */
static void put_help(struct mbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			mbuf_puts(b, "\\\\");
		else if (*s == '\n')
			mbuf_puts(b, "\\n");
		else
			mbuf_put(b, s, 1);
	}
}

/* Label value: backslash, double quote and newline escaped. */
static void put_label_value(struct mbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			mbuf_puts(b, "\\\\");
		else if (*s == '"')
			mbuf_puts(b, "\\\"");
		else if (*s == '\n')
			mbuf_puts(b, "\\n");
		else
			mbuf_put(b, s, 1);
	}
}

/* `name{l1="v1",...,extra}` — extra is a preformatted `le="..."` or NULL. */
static void put_sample_name(struct mbuf *b, const struct metric *f, const struct series *s,
			    const char *suffix, const char *extra)
{
	int any = 0;

	mbuf_puts(b, f->name);
	mbuf_puts(b, suffix);
	if (f->n_labels == 0 && !extra)
		return;
	mbuf_puts(b, "{");
	for (size_t i = 0; i < f->n_labels; i++) {
		if (any)
			mbuf_puts(b, ",");
		mbuf_puts(b, f->labels[i]);
		mbuf_puts(b, "=\"");
		put_label_value(b, s->values[i]);
		mbuf_puts(b, "\"");
		any = 1;
	}
	if (extra) {
		if (any)
			mbuf_puts(b, ",");
		mbuf_puts(b, extra);
	}
	mbuf_puts(b, "}");
}

static void put_sample(struct mbuf *b, const struct metric *f, const struct series *s,
		       const char *suffix, const char *extra, double v)
{
	char num[32];

	put_sample_name(b, f, s, suffix, extra);
	metrics_format_value(v, num);
	mbuf_puts(b, " ");
	mbuf_puts(b, num);
	mbuf_puts(b, "\n");
}

static void render_histogram(struct mbuf *b, const struct metric *f, const struct series *s)
{
	char le[48], num[32];
	uint64_t cum = 0;

	for (size_t i = 0; i <= f->n_bounds; i++) {
		cum += s->bucket[i];
		if (i < f->n_bounds) {
			metrics_format_value(f->bounds[i], num);
			snprintf(le, sizeof(le), "le=\"%s\"", num);
		} else {
			snprintf(le, sizeof(le), "le=\"+Inf\"");
		}
		put_sample(b, f, s, "_bucket", le, (double)cum);
	}
	put_sample(b, f, s, "_sum", NULL, s->sum);
	put_sample(b, f, s, "_count", NULL, (double)s->count);
}

static void render_family(struct mbuf *b, const struct metric *f)
{
	static const char *const kinds[] = {"counter", "gauge", "histogram"};
	struct series zero = {0};
	uint64_t zero_buckets[METRICS_BUCKETS_MAX + 1] = {0};
	char *empty[METRICS_LABELS_MAX] = {0};

	mbuf_puts(b, "# HELP ");
	mbuf_puts(b, f->name);
	mbuf_puts(b, " ");
	put_help(b, f->help);
	mbuf_puts(b, "\n# TYPE ");
	mbuf_puts(b, f->name);
	mbuf_puts(b, " ");
	mbuf_puts(b, kinds[f->kind]);
	mbuf_puts(b, "\n");
	/* A family without labels always shows its one series, even at zero. */
	if (f->n_labels == 0 && f->n_series == 0) {
		memcpy(zero.values, empty, sizeof(empty));
		zero.bucket = zero_buckets;
		if (f->kind == METRIC_HISTOGRAM)
			render_histogram(b, f, &zero);
		else
			put_sample(b, f, &zero, "", NULL, 0);
		return;
	}
	for (size_t i = 0; i < f->n_series; i++) {
		if (f->kind == METRIC_HISTOGRAM)
			render_histogram(b, f, &f->series[i]);
		else
			put_sample(b, f, &f->series[i], "", NULL, f->series[i].value);
	}
}

static int family_cmp(const void *a, const void *b)
{
	return strcmp((*(struct metric *const *)a)->name, (*(struct metric *const *)b)->name);
}

char *metrics_render(struct metrics *m)
{
	struct metric *sorted[METRICS_FAMILIES_MAX];
	struct mbuf b = {0};

	ECOM_ASSERT(m);
	if (m->collect)
		m->collect(m->collect_arg, m);
	memcpy(sorted, m->fam, m->n_fam * sizeof(sorted[0]));
	qsort(sorted, m->n_fam, sizeof(sorted[0]), family_cmp);
	mbuf_puts(&b, "");
	for (size_t i = 0; i < m->n_fam; i++)
		render_family(&b, sorted[i]);
	return b.p;
}
