/* trace.c — canonical trace lines, their running FNV-1a 64 hash, and the JSON-lines file.
 * The hash covers exactly the bytes of each line plus '\n', so `cut` of the JSONL "line"
 * fields reproduces it. */
#include "sim/trace.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/ecom.h"
#include "event/jsonx.h"

void sim_trace_init(struct sim_trace *t)
{
	memset(t, 0, sizeof(*t));
	t->hash = JSONX_FNV_OFFSET;
	t->first_diff = -1;
	t->capture_at = -1;
}

void sim_trace_deinit(struct sim_trace *t)
{
	if (!t)
		return;
	free(t->rec);
	t->rec = NULL;
	t->n_rec = t->cap_rec = 0;
}

void sim_trace_hash_hex(uint64_t h, char out[17])
{
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static void trace_record(struct sim_trace *t, const char *line)
{
	uint64_t idx = t->lines;

	if (t->record && t->n_rec < TRACE_RECORD_MAX) {
		if (t->n_rec == t->cap_rec) {
			t->cap_rec = t->cap_rec ? t->cap_rec * 2 : 4096;
			t->rec = ecom_xrealloc(t->rec, t->cap_rec * sizeof(*t->rec));
		}
		t->rec[t->n_rec++] = t->hash;
	}
	if (t->expect && t->first_diff < 0 &&
	    (idx >= t->n_expect || t->expect[idx] != t->hash)) {
		t->first_diff = (int64_t)idx;
		snprintf(t->diff_line, sizeof(t->diff_line), "%s", line);
	}
	if ((int64_t)idx == t->capture_at)
		snprintf(t->captured, sizeof(t->captured), "%s", line);
}

/* Appends s to line[*n] (capacity cap, always NUL-terminated), truncating like snprintf. */
static void trace_cat(char *line, size_t cap, size_t *n, const char *s, size_t len)
{
	if (*n + len >= cap)
		len = cap - 1 - *n;
	memcpy(line + *n, s, len);
	*n += len;
	line[*n] = '\0';
}

/* The text of "t=%010lld %s %s%s%s" (now_us, actor, what, detail ? " " : "", detail),
 * truncated to TRACE_LINE_MAX - 1 like snprintf, built without printf: one per event. */
static size_t trace_format(char line[TRACE_LINE_MAX], int64_t now_us, const char *actor,
			   const char *what, const char *detail)
{
	char num[24];
	size_t n = 0, k = sizeof(num);
	uint64_t u = (uint64_t)now_us;

	if (now_us < 0)
		return (size_t)snprintf(line, TRACE_LINE_MAX, "t=%010lld %s %s%s%s",
					(long long)now_us, actor, what,
					detail && *detail ? " " : "", detail ? detail : "");
	do {
		num[--k] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (sizeof(num) - k < 10)
		num[--k] = '0';
	line[0] = '\0';
	trace_cat(line, TRACE_LINE_MAX, &n, "t=", 2);
	trace_cat(line, TRACE_LINE_MAX, &n, num + k, sizeof(num) - k);
	trace_cat(line, TRACE_LINE_MAX, &n, " ", 1);
	trace_cat(line, TRACE_LINE_MAX, &n, actor, strlen(actor));
	trace_cat(line, TRACE_LINE_MAX, &n, " ", 1);
	trace_cat(line, TRACE_LINE_MAX, &n, what, strlen(what));
	if (detail && *detail) {
		trace_cat(line, TRACE_LINE_MAX, &n, " ", 1);
		trace_cat(line, TRACE_LINE_MAX, &n, detail, strlen(detail));
	}
	return n;
}

void sim_trace_line(struct sim_trace *t, int64_t now_us, const char *actor, const char *what,
		    const char *detail)
{
	char line[TRACE_LINE_MAX];
	int n;

	n = (int)trace_format(line, now_us, actor, what, detail);
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	t->hash = jsonx_fnv1a(t->hash, line, (size_t)n);
	t->hash = jsonx_fnv1a(t->hash, "\n", 1);
	trace_record(t, line);
	t->lines++;
	if (t->jsonl) {
		json_t *j = json_object();
		char *s;

		json_object_set_new(j, "t_us", json_integer(now_us));
		json_object_set_new(j, "actor", json_string(actor));
		json_object_set_new(j, "event", json_string(what));
		json_object_set_new(j, "detail", json_string(detail ? detail : ""));
		json_object_set_new(j, "line", json_stringn(line, (size_t)n));
		s = jsonx_dumps(j);
		fprintf(t->jsonl, "%s\n", s);
		free(s);
		json_decref(j);
	}
}

void sim_trace_linef(struct sim_trace *t, int64_t now_us, const char *actor, const char *what,
		     const char *fmt, ...)
{
	char detail[TRACE_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	sim_trace_line(t, now_us, actor, what, detail);
}
