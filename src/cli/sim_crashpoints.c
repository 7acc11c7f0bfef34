/* sim_crashpoints.c — `ecom sim crashpoints FILE`: the torture loop of STYLE.md applied to
 * crashes. For each instance (or the one named) and k = 1, 2, ..., run the scenario with
 * that instance crashing right after its k-th store/broker call, and check the invariants
 * and expectations each time. An instance is done when k passes the number of calls it
 * ever makes (the crash point is never reached) or --max-k. Runs go --jobs at a time, each
 * in a forked child; each failing (instance, k) is printed with the command reproducing it
 * (`ecom sim run FILE --crash-after INSTANCE:K`). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event/jsonx.h"
#include "src/cli/cli.h"
#include "src/cli/sim_tools.h"

#define CP_MAX_K_DEFAULT 500
#define CP_MAX_K_MAX 1000000

struct cp_args {
	const char *file, *instance;
	int64_t max_k;
	int jobs, quiet, seed_set;
	uint64_t seed;
};

struct cp_instance_result {
	int64_t runs, failed, calls; /* calls: the largest k that crashed (-1: more than max-k) */
};

struct cp {
	struct cp_args a;
	struct scenario scn;
	char names[SCN_SVC_COUNT * SCN_INSTANCES_MAX][SCN_INSTANCE_NAME_MAX];
	int n_names;
	int64_t runs, failed;
	int need_trace;
	int spawn_failed; /* a run could not be started: the result is incomplete */
	struct cov_agg agg;
	int64_t t0_ms;
};

static void cp_usage(FILE *out)
{
	fprintf(out,
		"usage: ecom sim crashpoints FILE [--instance NAME] [--max-k K] [--seed N]\n"
		"                            [--jobs N] [--quiet]\n"
		"\n"
		"For each service instance of FILE (or only NAME, e.g. payment#1) and k = 1, 2, ...,\n"
		"runs the scenario with that instance crashing right after its k-th store or broker\n"
		"call (it loses its memory and restarts after faults.restart_after_ms), and checks\n"
		"the invariants and the scenario's expectations. An instance is done when k passes\n"
		"the number of calls it ever makes (the crash is never reached) or K (default %d).\n"
		"Use a small scenario: it runs once per call. Runs go N at a time (default: CPUs).\n"
		"Each failing (instance, k) is printed with the command that reproduces it.\n"
		"Ends with \"crashpoints: R runs, F failed\".\n"
		"\n"
		"exit status: 0 every crash point passed, 1 some failed (or the scenario fails\n"
		"without any crash), 2 bad usage or scenario, or a run could not be started.\n",
		CP_MAX_K_DEFAULT);
}

static int cp_parse(int argc, char **argv, struct cp_args *a)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(a, 0, sizeof(*a));
	a->max_k = CP_MAX_K_DEFAULT;
	a->jobs = n >= 1 ? (int)(n < SIM_POOL_JOBS_MAX ? n : SIM_POOL_JOBS_MAX) : 1;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;

		if (strcmp(arg, "--instance") == 0 && val) {
			a->instance = argv[++i];
		} else if (strcmp(arg, "--max-k") == 0 && val) {
			a->max_k = strtoll(val, &end, 10);
			if (*end || a->max_k < 1 || a->max_k > CP_MAX_K_MAX) {
				fprintf(stderr, "ecom sim crashpoints: --max-k: needs 1..%d\n",
					CP_MAX_K_MAX);
				return 2;
			}
			i++;
		} else if ((strcmp(arg, "--jobs") == 0 || strcmp(arg, "-j") == 0) && val) {
			long j = strtol(val, &end, 10);

			if (*end || j < 1 || j > SIM_POOL_JOBS_MAX) {
				fprintf(stderr, "ecom sim crashpoints: --jobs: needs 1..%d\n",
					SIM_POOL_JOBS_MAX);
				return 2;
			}
			a->jobs = (int)j;
			i++;
		} else if (strcmp(arg, "--seed") == 0 && val) {
			unsigned long long v = strtoull(val, &end, 10);

			if (*val == '-' || *end || v > INT64_MAX) {
				fprintf(stderr, "ecom sim crashpoints: --seed: needs a non-negative "
						"integer\n");
				return 2;
			}
			a->seed = v;
			a->seed_set = 1;
			i++;
		} else if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
			a->quiet = 1;
		} else if (arg[0] == '-' && arg[1]) {
			fprintf(stderr, "ecom sim crashpoints: unknown option '%s'%s\n", arg,
				val ? "" : " (or missing value)");
			return 2;
		} else if (!a->file) {
			a->file = arg;
		} else {
			fprintf(stderr, "ecom sim crashpoints: more than one FILE ('%s')\n", arg);
			return 2;
		}
	}
	if (!a->file) {
		fprintf(stderr, "ecom sim crashpoints: missing scenario FILE\n\n");
		cp_usage(stderr);
		return 2;
	}
	return 0;
}

/* The world names instances "<service>#<n>" (sim/world.c). */
static int cp_names(struct cp *c)
{
	for (int svc = 0; svc < SCN_SVC_COUNT; svc++) {
		for (int i = 1; i <= c->scn.services[svc]; i++) {
			snprintf(c->names[c->n_names], SCN_INSTANCE_NAME_MAX, "%s#%d",
				 scn_service_name((enum scn_service)svc), i);
			c->n_names++;
		}
	}
	if (!c->a.instance)
		return 0;
	for (int i = 0; i < c->n_names; i++) {
		if (strcmp(c->names[i], c->a.instance) == 0) {
			snprintf(c->names[0], SCN_INSTANCE_NAME_MAX, "%s", c->a.instance);
			c->n_names = 1;
			return 0;
		}
	}
	fprintf(stderr, "ecom sim crashpoints: --instance %s: no such instance in %s (", c->a.instance,
		c->a.file);
	for (int i = 0; i < c->n_names; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", c->names[i]);
	fprintf(stderr, ")\n");
	return 2;
}

static void cp_repro(const struct cp *c, const char *inst, int64_t k, char *out, size_t cap)
{
	char file[CLI_SHELL_WORD_MAX];

	cli_shell_word(c->a.file, file, sizeof(file));
	if (c->a.seed_set)
		snprintf(out, cap, "ecom sim run %s --seed %" PRIu64 " --crash-after %s:%" PRId64,
			 file, c->a.seed, inst, k);
	else
		snprintf(out, cap, "ecom sim run %s --crash-after %s:%" PRId64, file, inst, k);
}

static void cp_why(const struct sim_fork_run *r, char *out, size_t cap)
{
	if (r->timed_out)
		snprintf(out, cap, "the run took more than %d s and was killed",
			 SIM_POOL_TIMEOUT_MS_DEFAULT / 1000);
	else if (r->term_signal)
		snprintf(out, cap, "the run died of signal %d", r->term_signal);
	else if (!r->completed)
		snprintf(out, cap, "the run exited %d without a summary", r->exit_code);
	else
		snprintf(out, cap, "%s", jsonx_str_or(r->summary, "unmet", "expectations not met"));
}

static void cp_job(const struct cp *c, struct sim_fork_job *job, const char *inst, int64_t k)
{
	memset(job, 0, sizeof(*job));
	job->scn = &c->scn;
	sim_options_init(&job->opt);
	job->opt.seed_set = c->a.seed_set;
	job->opt.seed = c->a.seed;
	job->opt.crash_instance = inst;
	job->opt.crash_after_calls = k;
	job->want_trace = c->need_trace;
}

/* The trace is needed to tell the crash point's crash from other crashes of the instance
 * (drawn or scripted); without those, the summary's crash count says it (twice as fast). */
static int cp_need_trace(const struct scenario *s)
{
	if (s->faults.crash_rate_per_sec > 0)
		return 1;
	for (size_t i = 0; i < s->n_ops; i++)
		if (s->ops[i].kind == SCN_OP_CRASH)
			return 1;
	return 0;
}

/* One finished run of (inst, k). Returns 1 when the crash point was never reached. */
static int cp_collect(struct cp *c, const char *inst, struct sim_pool_done *d,
		      struct cp_instance_result *ir)
{
	struct sim_fork_run r;
	char why[700], cmd[CLI_SHELL_WORD_MAX + 512];
	int beyond;

	sim_fork_decode(d, &r);
	beyond = r.completed && !r.crash_hit;
	if (!beyond) {
		c->runs++;
		ir->runs++;
		if (r.completed)
			cov_agg_add(&c->agg, &r.cov);
		if (d->tag > ir->calls)
			ir->calls = d->tag;
		if (!r.completed || !r.expectations_met) {
			c->failed++;
			ir->failed++;
			cp_why(&r, why, sizeof(why));
			cp_repro(c, inst, d->tag, cmd, sizeof(cmd));
			printf("FAIL %s k=%" PRId64 ": %s\n  reproduce: %s\n", inst, d->tag, why, cmd);
			fflush(stdout);
		}
	}
	sim_fork_run_deinit(&r);
	free(d->out);
	return beyond;
}

/* k = 1.. for one instance, jobs at a time; stops at the first k never reached. */
static void cp_instance(struct cp *c, const char *inst)
{
	struct sim_pool *pool = sim_pool_new(c->a.jobs, NULL, NULL);
	struct sim_fork_job job; /* the child reads its own copy: one is enough */
	struct cp_instance_result ir = { 0, 0, 0 };
	int64_t next = 1, stop_at = INT64_MAX; /* first k whose crash was never reached */
	struct sim_pool_done d;

	while ((next <= c->a.max_k && next < stop_at) || sim_pool_running(pool)) {
		while (next <= c->a.max_k && next < stop_at && !sim_pool_full(pool)) {
			cp_job(c, &job, inst, next);
			if (sim_pool_spawn(pool, next, sim_fork_child, &job) != 0) {
				c->spawn_failed = 1; /* sim_pool_spawn said why */
				stop_at = next;
				break;
			}
			next++;
		}
		if (!sim_pool_wait(pool, &d))
			break;
		if (d.tag >= stop_at) { /* beyond a k already found unreached: same run */
			free(d.out);
			continue;
		}
		if (cp_collect(c, inst, &d, &ir)) /* d.tag < stop_at: see above */
			stop_at = d.tag;
	}
	if (!c->a.quiet)
		fprintf(stderr, "crashpoints: %s: %" PRId64 " crash point(s)%s, %" PRId64 " failed\n",
			inst, ir.runs, c->spawn_failed ? " (stopped: a run could not be started)"
			: stop_at == INT64_MAX ? " (stopped at --max-k)" : "", ir.failed);
	sim_pool_free(pool);
}

/* The scenario must pass without any crash point, or every k would "fail". */
static int cp_baseline(struct cp *c)
{
	struct sim_fork_job job;
	struct sim_fork_run r;
	char why[700];
	int rc = 0;

	cp_job(c, &job, NULL, 0);
	job.want_trace = 0;
	sim_fork_run_one(&job, &r);
	if (r.spawn_failed) {
		rc = 2; /* sim_pool_spawn said why */
	} else if (!r.completed || !r.expectations_met) {
		char file[CLI_SHELL_WORD_MAX];

		cp_why(&r, why, sizeof(why));
		printf("crashpoints: %s fails without any crash point: %s\n  reproduce: ecom sim "
		       "run %s\n", c->a.file, why, cli_shell_word(c->a.file, file, sizeof(file)));
		rc = 1;
	}
	sim_fork_run_deinit(&r);
	return rc;
}

int cmd_sim_crashpoints(int argc, char **argv)
{
	struct cp *c;
	struct ecom_err err;
	int rc, loaded = 0;

	if (cli_wants_help(argc, argv)) {
		cp_usage(stdout);
		return 0;
	}
	c = ecom_xcalloc(1, sizeof(*c));
	rc = cp_parse(argc, argv, &c->a);
	if (rc)
		goto out;
	ecom_err_clear(&err);
	if (scenario_load_file(c->a.file, &c->scn, &err) != ECOM_OK) {
		sim_tools_load_error("crashpoints", c->a.file, err.msg);
		rc = 2;
		goto out;
	}
	loaded = 1;
	c->need_trace = cp_need_trace(&c->scn);
	rc = cp_names(c);
	if (rc)
		goto out;
	cov_agg_init(&c->agg);
	c->t0_ms = sim_tools_wall_ms();
	rc = cp_baseline(c);
	if (rc)
		goto out;
	for (int i = 0; i < c->n_names && !c->spawn_failed; i++)
		cp_instance(c, c->names[i]);
	if (!c->a.quiet)
		sim_tools_print_coverage(stdout, &c->agg);
	printf("crashpoints: %" PRId64 " runs, %" PRId64 " failed (%d instance(s), %.1f runs/s)\n",
	       c->runs, c->failed, c->n_names,
	       sim_tools_rate((uint64_t)c->runs, sim_tools_wall_ms() - c->t0_ms));
	rc = c->spawn_failed ? 2 : c->failed ? 1 : 0;
out:
	if (loaded)
		scenario_deinit(&c->scn);
	free(c);
	return rc;
}
