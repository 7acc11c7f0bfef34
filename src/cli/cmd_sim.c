/* cmd_sim.c — `ecom sim`: runs scenario files on the deterministic simulator and judges
 * them. The one wall-clock reading (wall_ms in the summary) lives here, outside the trace.
 * Exit codes (DESIGN.md §5): 0 expectations met, 1 not met, 2 bad scenario or usage. The
 * last stdout line is the run's JSON summary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event/jsonx.h"
#include "sim/invariants.h"
#include "sim/report.h"
#include "sim/scenario.h"
#include "sim/world.h"
#include "src/cli/cli.h"
#include "src/cli/sim_tools.h"

struct sim_args {
	const char *file;
	int seed_set;
	uint64_t seed;
	const char *trace_path;
	const char *report_path;
	int check_determinism;
	char crash_instance[SCN_INSTANCE_NAME_MAX]; /* --crash-after INSTANCE:K ("" = none) */
	int64_t crash_after;
};

static void sim_usage(FILE *out)
{
	fprintf(out,
		"usage: ecom sim run FILE [--seed N] [--trace F.jsonl] [--report F.html]\n"
		"                         [--check-determinism] [--crash-after INSTANCE:K]\n"
		"\n"
		"Runs the scenario FILE (JSON, see scenarios/) on the deterministic simulator: every\n"
		"service instance, an in-memory broker and stores, a seeded fault injector and a\n"
		"virtual clock in one thread. The workload and faults run for run.duration_ms; then\n"
		"the world runs quietly until it is quiescent (or run.quiesce_ms passes) and the\n"
		"invariants are checked: termination, stock_conservation, payment_balance,\n"
		"exactly_once_effects, projection_convergence, outbox_drained, dlq_accounting.\n"
		"\n"
		"options:\n"
		"  --seed N             use seed N instead of the scenario's \"seed\"\n"
		"  --trace F.jsonl      write every trace line as JSON (t_us, actor, event, detail,\n"
		"                       line); trace_hash is FNV-1a 64 over the lines\n"
		"  --report F.html      write a self-contained HTML report of the run\n"
		"  --check-determinism  run twice and compare the traces line by line; on a\n"
		"                       mismatch name the first differing line and exit 1\n"
		"  --crash-after INSTANCE:K  crash INSTANCE (e.g. payment#1) right after its K-th\n"
		"                       store/broker call (what `ecom sim crashpoints` prints)\n"
		"\n"
		"exit status: 0 the scenario's expectations were met (expect.violations fired\n"
		"exactly, expect.min_* reached), 1 they were not (or the --trace or --report file\n"
		"could not be written, or --check-determinism found a difference), 2 bad scenario\n"
		"or usage (the message names the key and the problem). The last line of stdout is\n"
		"one JSON object: scenario, seed, orders, shipped, cancelled, stuck, deliveries,\n"
		"duplicates, crashes, sim_ms, wall_ms, trace_hash, violations [{invariant, detail}],\n"
		"...\n"
		"A failing run prints the command that reproduces it.\n");
}

static void sim_top_usage(FILE *out)
{
	fprintf(out,
		"usage: ecom sim <command> [options]\n"
		"\n"
		"commands:\n"
		"  run FILE          run one scenario and check its invariants\n"
		"  sweep FILE        run many seeds in child processes (optionally swarm faults)\n"
		"  shrink FILE       reduce a failing scenario to a smaller one failing the same way\n"
		"  crashpoints FILE  crash each instance after its k-th call, for every k\n"
		"\n"
		"Run 'ecom sim <command> --help' for the options.\n");
}

static int64_t sim_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int sim_parse_seed(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > INT64_MAX)
		return -1;
	*out = v;
	return 0;
}

/* 0 ok, 2 usage error (printed). */
static int sim_parse_run(int argc, char **argv, struct sim_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		int has_val = i + 1 < argc;

		if (strcmp(arg, "--seed") == 0) {
			if (!has_val || sim_parse_seed(argv[++i], &a->seed) != 0) {
				fprintf(stderr, "ecom sim run: --seed: needs a non-negative integer\n");
				return 2;
			}
			a->seed_set = 1;
		} else if (strcmp(arg, "--trace") == 0) {
			if (!has_val) {
				fprintf(stderr, "ecom sim run: --trace: needs a file name\n");
				return 2;
			}
			a->trace_path = argv[++i];
		} else if (strcmp(arg, "--report") == 0) {
			if (!has_val) {
				fprintf(stderr, "ecom sim run: --report: needs a file name\n");
				return 2;
			}
			a->report_path = argv[++i];
		} else if (strcmp(arg, "--check-determinism") == 0) {
			a->check_determinism = 1;
		} else if (strcmp(arg, "--crash-after") == 0) {
			const char *colon = has_val ? strrchr(argv[i + 1], ':') : NULL;
			uint64_t k = 0;

			if (!colon || colon == argv[i + 1] ||
			    (size_t)(colon - argv[i + 1]) >= sizeof(a->crash_instance) ||
			    sim_parse_seed(colon + 1, &k) != 0 || k == 0) {
				fprintf(stderr, "ecom sim run: --crash-after: needs INSTANCE:K, e.g. "
						"payment#1:7 (K >= 1)\n");
				return 2;
			}
			snprintf(a->crash_instance, sizeof(a->crash_instance), "%.*s",
				 (int)(colon - argv[i + 1]), argv[i + 1]);
			a->crash_after = (int64_t)k;
			i++;
		} else if (arg[0] == '-' && arg[1]) {
			fprintf(stderr, "ecom sim run: unknown option '%s'\n", arg);
			return 2;
		} else if (!a->file) {
			a->file = arg;
		} else {
			fprintf(stderr, "ecom sim run: more than one FILE ('%s')\n", arg);
			return 2;
		}
	}
	if (!a->file) {
		fprintf(stderr, "ecom sim run: missing scenario FILE\n\n");
		sim_usage(stderr);
		return 2;
	}
	return 0;
}

/* ---- the HTML report (sim/report.c, from the run's trace and summary) ---------------- */

static int sim_write_report(const struct sim_args *a, const struct scenario *s,
			    const struct sim_result *r, FILE *trace)
{
	char extra[SCN_INSTANCE_NAME_MAX + 48] = "";
	struct ecom_err err;

	if (a->crash_instance[0])
		snprintf(extra, sizeof(extra), " --crash-after %s:%lld", a->crash_instance,
			 (long long)a->crash_after);
	ecom_err_clear(&err);
	if (sim_report_for_run(a->report_path, a->file, s, r->summary, trace, extra, &err) ==
	    ECOM_OK)
		return 0;
	fprintf(stderr, "ecom sim run: --report %s\n", err.msg);
	return -1;
}

/* ---- run ------------------------------------------------------------------------------- */

static void sim_repro(const struct sim_args *a, uint64_t seed)
{
	char extra[SCN_INSTANCE_NAME_MAX + 48] = "", file[CLI_SHELL_WORD_MAX];

	if (a->crash_instance[0])
		snprintf(extra, sizeof(extra), " --crash-after %s:%lld", a->crash_instance,
			 (long long)a->crash_after);
	cli_shell_word(a->file, file, sizeof(file));
	fprintf(stderr, "reproduce: ecom sim run %s --seed %llu%s\n", file,
		(unsigned long long)seed, extra);
	printf("reproduce: ecom sim run %s --seed %llu%s\n", file, (unsigned long long)seed,
	       extra);
}

/* Test hook (tests/cli_sim.sh): the second run of --check-determinism uses this seed, so
 * the report of a mismatch can be exercised on a simulator that is deterministic. */
#define SIM_RERUN_SEED_ENV "ECOM_SIM_TEST_RERUN_SEED"

/* Runs twice (and a third time to fetch the first run's text of a differing line).
 * Returns 0 when the two traces agree, 1 otherwise (explained on stderr). */
static int sim_determinism(const struct scenario *s, const struct sim_options *base,
			   const struct sim_result *first)
{
	struct sim_options o = *base, o2;
	struct sim_result r2, r3;
	int64_t diff;
	int rc = 0;

	o.trace_jsonl = NULL;
	o.record_lines = 0;
	o.expect_lines = first->line_hashes;
	o.n_expect_lines = first->n_line_hashes;
	o2 = o;
	if (getenv(SIM_RERUN_SEED_ENV) && sim_parse_seed(getenv(SIM_RERUN_SEED_ENV), &o2.seed) == 0)
		o2.seed_set = 1;
	sim_run(s, &o2, &r2, NULL);
	diff = r2.first_diff;
	if (diff < 0 && r2.trace_lines != first->trace_lines)
		diff = (int64_t)(r2.trace_lines < first->trace_lines ? r2.trace_lines
								     : first->trace_lines);
	if (diff < 0 && r2.trace_hash == first->trace_hash) {
		printf("determinism: 2 runs, %llu identical trace lines\n",
		       (unsigned long long)first->trace_lines);
		goto out;
	}
	rc = 1;
	o.expect_lines = NULL;
	o.n_expect_lines = 0;
	o.capture_line = diff;
	sim_run(s, &o, &r3, NULL);
	fprintf(stderr, "determinism: the runs differ at trace line %lld\n  run 1: %s\n  run 2: %s\n",
		(long long)diff + 1, r3.captured[0] ? r3.captured : "(end of trace)",
		r2.diff_line[0] ? r2.diff_line : "(end of trace)");
	printf("determinism: FAILED at trace line %lld\n", (long long)diff + 1);
	sim_result_deinit(&r3);
out:
	sim_result_deinit(&r2);
	return rc;
}

static int sim_cmd_run(int argc, char **argv)
{
	struct sim_args a;
	struct scenario s;
	struct sim_options o;
	struct sim_result r;
	struct ecom_err err;
	FILE *trace = NULL;
	int64_t t0;
	int rc, exit_code = 1, output_rc = 0;
	char *line;

	if (cli_wants_help(argc, argv)) {
		sim_usage(stdout);
		return 0;
	}
	rc = sim_parse_run(argc, argv, &a);
	if (rc)
		return rc;
	ecom_err_clear(&err);
	rc = scenario_load_file(a.file, &s, &err);
	if (rc != ECOM_OK) {
		sim_tools_load_error("run", a.file, err.msg);
		return 2;
	}
	if (a.trace_path) {
		trace = fopen(a.trace_path, a.report_path ? "w+" : "w"); /* report reads it */
		if (!trace) {
			fprintf(stderr, "ecom sim run: --trace %s: %s\n", a.trace_path,
				strerror(errno));
			scenario_deinit(&s);
			return 2;
		}
	}
	if (a.report_path && !trace)
		trace = tmpfile(); /* the report reads the trace back */
	sim_options_init(&o);
	o.seed_set = a.seed_set;
	o.seed = a.seed;
	o.trace_jsonl = trace;
	o.record_lines = a.check_determinism;
	o.crash_instance = a.crash_instance[0] ? a.crash_instance : NULL;
	o.crash_after_calls = a.crash_after;
	o.skip_free = !a.check_determinism; /* the process ends after this one run */
	t0 = sim_wall_ms();
	sim_run(&s, &o, &r, NULL);
	json_object_set_new(r.summary, "wall_ms", json_integer(sim_wall_ms() - t0));
	if (a.report_path)
		output_rc = sim_write_report(&a, &s, &r, trace);
	if (trace && fclose(trace) != 0 && a.trace_path) {
		fprintf(stderr, "ecom sim run: --trace %s: %s\n", a.trace_path, strerror(errno));
		output_rc = -1; /* an incomplete trace fails the run, as a missing report does */
	}
	exit_code = r.expectations_met ? 0 : 1;
	if (a.check_determinism && sim_determinism(&s, &o, &r) != 0)
		exit_code = 1;
	if (output_rc != 0)
		exit_code = exit_code ? exit_code : 1;
	printf("%s: %s — %lld orders, %lld shipped, %lld cancelled, %lld stuck; %zu violation(s)\n",
	       s.name, r.expectations_met ? "PASS" : "FAIL",
	       (long long)jsonx_int_or(r.summary, "orders", 0),
	       (long long)jsonx_int_or(r.summary, "shipped", 0),
	       (long long)jsonx_int_or(r.summary, "cancelled", 0),
	       (long long)jsonx_int_or(r.summary, "stuck", 0), json_array_size(r.violations));
	if (!r.expectations_met) {
		fprintf(stderr, "ecom sim run: %s: expectations not met: %s\n", s.name, r.unmet);
		sim_repro(&a, (uint64_t)jsonx_int_or(r.summary, "seed", 0));
	} else if (exit_code) {
		sim_repro(&a, (uint64_t)jsonx_int_or(r.summary, "seed", 0));
	}
	line = jsonx_dumps(r.summary);
	printf("%s\n", line);
	free(line);
	sim_result_deinit(&r);
	scenario_deinit(&s);
	return exit_code;
}

int cmd_sim(int argc, char **argv)
{
	cli_jansson_cache_install();
	if (argc < 2) {
		sim_top_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		sim_top_usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return sim_cmd_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "sweep") == 0)
		return cmd_sim_sweep(argc - 1, argv + 1);
	if (strcmp(argv[1], "shrink") == 0)
		return cmd_sim_shrink(argc - 1, argv + 1);
	if (strcmp(argv[1], "crashpoints") == 0)
		return cmd_sim_crashpoints(argc - 1, argv + 1);
	fprintf(stderr, "ecom sim: unknown command '%s'\n\n", argv[1]);
	sim_top_usage(stderr);
	return 2;
}
