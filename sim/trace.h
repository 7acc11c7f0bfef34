/* trace.h — the simulation trace: one canonical text line per thing that happened
 * ("t=0000123456 payment#2 handled payment.PaymentAuthorized.v1 <eventId>"), hashed
 * incrementally with FNV-1a 64 (the run's trace_hash) and optionally written as JSON lines.
 * Lines hold only virtual time and seeded data, so the same run gives the same hash.
 * For determinism checks it can record the hash after every line, compare against such a
 * record as it goes (first mismatch kept), or capture the text of one line by index. */
#ifndef ECOM_SIM_TRACE_H
#define ECOM_SIM_TRACE_H

#include <stdint.h>
#include <stdio.h>

#define TRACE_LINE_MAX 1024
#define TRACE_RECORD_MAX (64u << 20) /* per-line hashes kept for a determinism check */

struct sim_trace {
	uint64_t hash;  /* FNV-1a 64 over every line and its '\n' */
	uint64_t lines;
	FILE *jsonl;    /* borrowed; NULL = no file */
	/* determinism support */
	int record;              /* keep per-line rolling hashes in rec[] */
	uint64_t *rec;
	uint64_t n_rec, cap_rec;
	const uint64_t *expect;  /* compare against these as lines are added */
	uint64_t n_expect;
	int64_t first_diff;      /* index of the first differing line, -1 if none yet */
	char diff_line[TRACE_LINE_MAX];
	int64_t capture_at;      /* keep the text of this line index (-1: none) */
	char captured[TRACE_LINE_MAX];
};

void sim_trace_init(struct sim_trace *t);
void sim_trace_deinit(struct sim_trace *t);
/* Adds one line: "t=<now_us, 10 digits> <actor> <what>[ <detail>]". */
void sim_trace_line(struct sim_trace *t, int64_t now_us, const char *actor, const char *what,
		    const char *detail);
void sim_trace_linef(struct sim_trace *t, int64_t now_us, const char *actor, const char *what,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* "0123456789abcdef" + NUL. */
void sim_trace_hash_hex(uint64_t h, char out[17]);

#endif
