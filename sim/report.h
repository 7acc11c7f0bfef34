/* report.h — the HTML report of one simulation run (`ecom sim run --report F.html`): ONE
 * self-contained file (inline CSS, JS and SVG; it fetches nothing) that someone who was not
 * there can read: the verdict and violations first, the command that reproduces the run,
 * the summary figures, per-order swimlanes over virtual time with crashes and faults marked,
 * a table of faults and crashes, saga-path coverage, a filterable event list and the
 * scenario itself. Built from the run's JSONL trace (sim/trace.h) and its summary JSON. */
#ifndef ECOM_SIM_REPORT_H
#define ECOM_SIM_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "core/ecom.h"
#include "sim/scenario.h"

#define REPORT_ROWS_MAX 200      /* swimlane rows (orders); violations' orders come first */
#define REPORT_LINES_MAX 100000  /* trace lines embedded in the event list */
#define REPORT_MARKS_MAX 400000  /* swimlane marks kept */
#define REPORT_TABLE_MAX 500     /* rows of the crash and fault tables */

struct sim_report_input {
	const struct scenario *scn;  /* borrowed; may be NULL (name/description from JSON) */
	const json_t *scenario_json; /* borrowed; the scenario as written; may be NULL */
	const json_t *summary;       /* borrowed: the run's summary (sim_result.summary) */
	FILE *trace;                 /* JSONL trace of the run, read from its start; may be NULL */
	const char *command;         /* the exact command that reproduces the run; may be NULL */
};

/* Writes the report to out. ECOM_OK, or ECOM_INVALID (bad summary) / ECOM_UNAVAILABLE
 * (write error) with err saying why. Reads in->trace from its start. */
int sim_report_write(FILE *out, const struct sim_report_input *in, struct ecom_err *err);
/* Same, to a file at path (created or truncated). */
int sim_report_write_path(const char *path, const struct sim_report_input *in,
			  struct ecom_err *err);

/* For `ecom sim run --report`: loads the scenario JSON from scenario_path (if it can be
 * read), builds "ecom sim run PATH --seed N<extra_args>" as the command and writes the
 * report. extra_args (e.g. " --crash-after payment#1:7") may be NULL. */
int sim_report_for_run(const char *path, const char *scenario_path, const struct scenario *scn,
		       const json_t *summary, FILE *trace, const char *extra_args,
		       struct ecom_err *err);

#endif
