/* sim_tools.h — the tools around `ecom sim run`: sweep (many seeds in child processes,
 * optionally swarm-drawn faults), shrink (a smaller scenario that fails the same way) and
 * crashpoints (crash each instance after its k-th store/broker call, for every k), plus
 * the process pool and the forked in-process run they share. Exit codes as cli.h:
 * 0 all good, 1 something failed (each failure printed with the command reproducing it),
 * 2 bad usage or input. */
#ifndef ECOM_CLI_SIM_TOOLS_H
#define ECOM_CLI_SIM_TOOLS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/coverage.h"
#include "sim/scenario.h"
#include "sim/world.h"

int cmd_sim_sweep(int argc, char **argv);
int cmd_sim_shrink(int argc, char **argv);
int cmd_sim_crashpoints(int argc, char **argv);

/* ---- process pool (sim_sweep.c) ---------------------------------------------------------
 * At most `jobs` children at once; each child's stdout (and optionally a second stream on
 * its fd 3) is collected in memory up to SIM_POOL_OUT_MAX bytes. One thread, poll(2). */
#define SIM_POOL_JOBS_MAX 256
#define SIM_POOL_OUT_MAX (64u << 20)
#define SIM_POOL_TIMEOUT_MS_DEFAULT (600 * 1000) /* one run; a hung child is killed */

struct sim_pool_done {
	int64_t tag;
	int status;        /* waitpid status */
	char *out;         /* NUL-terminated stdout (owned by the caller after wait) */
	size_t out_len;
	int64_t wall_ms;
	int timed_out;     /* killed after the pool's timeout (status says SIGKILL) */
};

/* Runs in the child with stdout (and fd 3 when the pool has aux streams) on pipes; must
 * not return (exec or _exit). */
typedef void (*sim_pool_child_fn)(void *arg);
/* Called for each complete line of a child's fd-3 stream (no newline). */
typedef void (*sim_pool_line_fn)(void *arg, int64_t tag, const char *line, size_t len);

struct sim_pool;
struct sim_pool *sim_pool_new(int jobs, sim_pool_line_fn on_aux_line, void *line_arg);
/* Per-child wall-clock limit in ms (default SIM_POOL_TIMEOUT_MS_DEFAULT; 0 = none). */
void sim_pool_set_timeout(struct sim_pool *p, int64_t timeout_ms);
void sim_pool_free(struct sim_pool *p);
int sim_pool_running(const struct sim_pool *p);
int sim_pool_full(const struct sim_pool *p);
/* Forks a child running fn(arg); 0 or -1 (fork/pipe failed, message on stderr). */
int sim_pool_spawn(struct sim_pool *p, int64_t tag, sim_pool_child_fn fn, void *arg);
/* Blocks until one child finished; 1 with *d filled, 0 if none is running. */
int sim_pool_wait(struct sim_pool *p, struct sim_pool_done *d);

/* The last non-empty line of text (in place; NUL-terminated copy returned, caller frees). */
char *sim_tools_last_line(const char *text, size_t len);
/* "12.3" from a count and milliseconds; 0 ms counts as 1. */
double sim_tools_rate(uint64_t n, int64_t ms);
/* The CLI's monotonic clock in ms (the tools' only clock reading). */
int64_t sim_tools_wall_ms(void);
/* t_us, actor, event and detail of one JSONL trace line (sim/trace.h); 0 or -1. */
int sim_tools_trace_fields(const char *line, size_t len, int64_t *t_us, char actor[64],
			   char what[64], char detail[TRACE_LINE_MAX]);
/* Prints the aggregated coverage and the points never reached (one line each). */
void sim_tools_print_coverage(FILE *out, const struct cov_agg *a);

/* ---- one run in a forked child (sim_shrink.c) -------------------------------------------
 * The child runs sim_run() and sends the summary back, so an assertion or a crash in the
 * simulator becomes a reported failure instead of killing the tool. */
struct sim_fork_run {
	int spawn_failed;     /* the child could not be started (pipe/fork failed, said why) */
	int completed;        /* the child ran to the end and answered */
	int term_signal;      /* the child died of this signal (0: it did not) */
	int timed_out;        /* it was killed after the pool's timeout */
	int exit_code;        /* its exit code when it exited without answering */
	uint32_t fired;       /* bit per enum inv_id */
	int expectations_met;
	int crash_hit;        /* the crash point (options.crash_*) was reached */
	json_t *summary;      /* owned; NULL unless completed */
	struct cov_counts cov;
};

struct sim_fork_job {
	const struct scenario *scn;
	struct sim_options opt;
	int want_trace;       /* scan the trace for coverage and the crash point; without it
			       * the crash point counts as reached when the summary shows the
			       * instance crashed (exact only if nothing else crashes it) */
};

/* The child body for sim_pool_spawn (arg = struct sim_fork_job *). */
void sim_fork_child(void *arg);
/* Decodes one finished child into *r (r->summary owned by r). */
void sim_fork_decode(const struct sim_pool_done *d, struct sim_fork_run *r);
void sim_fork_run_deinit(struct sim_fork_run *r);
/* Runs one job in a child and waits for it. */
void sim_fork_run_one(const struct sim_fork_job *job, struct sim_fork_run *r);

/* In a forked child, right before _exit() or exec: a coverage build (ECOM_COVERAGE_BUILD)
 * writes the child's gcov counters, which both would otherwise drop; a no-op otherwise. */
void sim_tools_child_flush(void);

/* "ecom sim CMD: FILE: MSG" on stderr for a scenario that did not load (FILE once, even
 * when MSG already starts with it). */
void sim_tools_load_error(const char *cmd, const char *file, const char *msg);

/* "termination, payment_balance" (or "none") for fired bits. */
void sim_tools_fired_names(uint32_t fired, char *out, size_t cap);

#endif
