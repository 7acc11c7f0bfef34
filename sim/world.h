/* world.h — the simulated world (DESIGN.md §5): every service instance, the mem cluster,
 * one store per service, the simulated gateway and carrier, the workload and the fault
 * plan, driven by one scheduler over virtual time in one thread. sim_run() plays a
 * scenario to the end (duration, then a quiet phase until quiescent or quiesce_ms),
 * checks the invariants and returns the summary. Same scenario + seed => same trace hash. */
#ifndef ECOM_SIM_WORLD_H
#define ECOM_SIM_WORLD_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/scenario.h"
#include "sim/trace.h"

struct sim_options {
	int seed_set;        /* use `seed` instead of the scenario's */
	uint64_t seed;
	FILE *trace_jsonl;   /* borrowed; NULL = no trace file */
	/* determinism support (see trace.h); all optional */
	int record_lines;
	const uint64_t *expect_lines;
	uint64_t n_expect_lines;
	int64_t capture_line; /* -1 = none */
	/* "crash after the k-th call" (sim crashpoints): instance name + k; k = 0 off */
	const char *crash_instance;
	int64_t crash_after_calls;
	/* the process exits right after this run: leave the world's memory to the OS instead
	 * of freeing it piece by piece (about a tenth of a long run). Ignored in ASan builds,
	 * whose leak check must see everything freed. */
	int skip_free;
};
void sim_options_init(struct sim_options *o);

struct sim_result {
	json_t *summary;       /* owned: the summary object (wall_ms is 0; the CLI sets it) */
	json_t *violations;    /* borrowed from summary */
	uint32_t fired;        /* bit per enum inv_id */
	int expectations_met;  /* expect.violations == fired and every expect.min_* holds */
	char unmet[512];       /* why not, in words */
	uint64_t trace_hash;
	uint64_t trace_lines;
	/* determinism support, copied out of the trace */
	uint64_t *line_hashes; /* owned (record_lines) */
	uint64_t n_line_hashes;
	int64_t first_diff;    /* -1: no difference from expect_lines */
	char diff_line[TRACE_LINE_MAX];
	char captured[TRACE_LINE_MAX];
};

/* Runs the scenario. ECOM_OK (whatever the invariants say), or ECOM_INVALID when the
 * world could not be built (err says why). res must be released with sim_result_deinit. */
int sim_run(const struct scenario *s, const struct sim_options *o, struct sim_result *res,
	    struct ecom_err *err);
void sim_result_deinit(struct sim_result *res);

#endif
