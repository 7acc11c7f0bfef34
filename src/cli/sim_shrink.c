/* sim_shrink.c — `ecom sim shrink FILE --seed N -o OUT.json`: greedy test-case reduction of
 * a failing scenario. It notes which invariants the original fires for that seed, then tries
 * smaller variants (fewer orders, instances, ops, fault kinds, business failures, shorter
 * run, fewer partitions and items) one change at a time, keeping a change only when the SAME
 * set of invariants still fires, within a bounded number of runs. Every run happens in a
 * forked child (sim_fork_*, also used by crashpoints), so a simulator abort is a result,
 * not the end of the tool. */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "event/jsonx.h"
#include "sim/invariants.h"
#include "src/cli/cli.h"
#include "src/cli/sim_tools.h"

#define SHRINK_RUNS_DEFAULT 200
#define SHRINK_RUNS_MAX 100000
#define SHRINK_PASSES_MAX 8     /* rounds over every kind of change */
#define SHRINK_LOG_MAX 4096     /* the "what was removed" text */
#define SHRINK_DIED_BIT 0x80000000u /* signature of a run that died (with the signal) */
#define SHRINK_UNSETTLED_BIT 0x40000000u /* the run was not quiescent at its end */
#define SHRINK_JSON_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* ---- one run in a forked child --------------------------------------------------------- */

static void fork_scan_trace(FILE *t, const struct sim_fork_job *job, struct cov_counts *cov,
			    int *crash_hit)
{
	char *buf = NULL, actor[64], what[64], detail[TRACE_LINE_MAX];
	size_t cap = 0;
	ssize_t n;
	int64_t t_us;

	cov_trace_begin(cov);
	rewind(t);
	while ((n = getline(&buf, &cap, t)) > 0) {
		if (sim_tools_trace_fields(buf, (size_t)n, &t_us, actor, what, detail) != 0)
			continue;
		cov_trace_line(cov, t_us, actor, what, detail);
		if (job->opt.crash_instance && strcmp(what, "crash") == 0 &&
		    strcmp(actor, job->opt.crash_instance) == 0 &&
		    strcmp(detail, "crash point reached") == 0)
			*crash_hit = 1;
	}
	free(buf);
}

void sim_fork_child(void *arg)
{
	const struct sim_fork_job *job = arg;
	struct sim_options o = job->opt;
	struct sim_result r;
	struct cov_counts cov, from_summary;
	json_t *ans = json_object();
	int crash_hit = 0;
	FILE *t = job->want_trace ? tmpfile() : NULL;
	char *txt;

	o.trace_jsonl = t;
	cov_counts_init(&cov);
	if (sim_run(job->scn, &o, &r, NULL) != ECOM_OK) {
		sim_tools_child_flush();
		_exit(2);
	}
	if (t)
		fork_scan_trace(t, job, &cov, &crash_hit);
	cov_counts_init(&from_summary);
	cov_from_summary(&from_summary, r.summary);
	cov_merge_max(&cov, &from_summary);
	/* Without a trace: the summary's per-instance crash count (exact when nothing else
	 * crashes that instance, see sim_fork_job.want_trace). */
	if (!t && job->opt.crash_instance)
		crash_hit = jsonx_int_or(json_object_get(json_object_get(r.summary, "instances"),
							 job->opt.crash_instance),
					 "crashes", 0) > 0;
	jsonx_set_int(ans, "met", r.expectations_met);
	jsonx_set_int(ans, "fired", r.fired);
	jsonx_set_int(ans, "crash_hit", crash_hit);
	jsonx_set_new(ans, "cov", cov_to_json(&cov));
	jsonx_set_new(ans, "summary", json_incref(r.summary));
	txt = jsonx_dumps(ans);
	fputs(txt, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	sim_tools_child_flush();
	/* No cleanup in the child: the parent owns every resource. */
	_exit(0); /* LCOV_EXCL_LINE: after the flush, never counted (it runs) */
}

void sim_fork_decode(const struct sim_pool_done *d, struct sim_fork_run *r)
{
	char *last = sim_tools_last_line(d->out, d->out_len);
	json_t *ans = json_loads(last, 0, NULL), *cov;

	memset(r, 0, sizeof(*r));
	cov_counts_init(&r->cov);
	r->timed_out = d->timed_out;
	if (WIFSIGNALED(d->status))
		r->term_signal = WTERMSIG(d->status);
	else if (WIFEXITED(d->status))
		r->exit_code = WEXITSTATUS(d->status);
	if (r->term_signal == 0 && r->exit_code == 0 && json_is_object(ans)) {
		r->completed = 1;
		r->fired = (uint32_t)jsonx_int_or(ans, "fired", 0);
		r->expectations_met = (int)jsonx_int_or(ans, "met", 0);
		r->crash_hit = (int)jsonx_int_or(ans, "crash_hit", 0);
		r->summary = json_incref(json_object_get(ans, "summary"));
		cov = json_object_get(ans, "cov");
		for (int p = 0; p < COV__COUNT; p++) {
			const json_t *v = json_object_get(cov, cov_name((enum cov_point)p));

			if (json_is_integer(v)) {
				r->cov.n[p] = json_integer_value(v);
				r->cov.known |= 1u << p;
			}
		}
	}
	json_decref(ans);
	free(last);
}

void sim_fork_run_deinit(struct sim_fork_run *r)
{
	json_decref(r->summary);
	r->summary = NULL;
}

void sim_fork_run_one(const struct sim_fork_job *job, struct sim_fork_run *r)
{
	struct sim_pool *p = sim_pool_new(1, NULL, NULL);
	struct sim_pool_done d;

	memset(r, 0, sizeof(*r));
	if (sim_pool_spawn(p, 0, sim_fork_child, (void *)job) == 0 && sim_pool_wait(p, &d)) {
		sim_fork_decode(&d, r);
		free(d.out);
	} else {
		r->spawn_failed = 1;
		r->exit_code = 127;
	}
	sim_pool_free(p);
}

/* ---- shrink ---------------------------------------------------------------------------- */

struct shrink {
	const char *file, *out_path;
	json_t *orig;         /* the scenario as written (owned) */
	uint64_t seed;
	int max_runs, runs, quiet;
	json_t *cur;          /* the smallest failing variant so far (owned) */
	uint32_t target;      /* fired bits (or SHRINK_DIED_BIT | signal) */
	char log[SHRINK_LOG_MAX];
	size_t log_len;
	int kept;
};

static void shrink_usage(FILE *out)
{
	fprintf(out,
		"usage: ecom sim shrink FILE --seed N -o OUT.json [--max-runs R] [--quiet]\n"
		"\n"
		"Runs FILE with seed N, notes which invariants fire, then greedily tries smaller\n"
		"variants: fewer orders (halving, then smaller steps), fewer instances per service,\n"
		"without each fault kind, without each admin op, without business failures, a\n"
		"shorter run and quiet phase, fewer partitions, one item of quantity one per order.\n"
		"A change is kept only if the same set of invariants still fires for seed N. At\n"
		"most R runs (default %d), each in a child process. Writes OUT.json (a valid\n"
		"scenario with \"seed\": N, saying what it was shrunk from) and prints what was\n"
		"removed.\n"
		"\n"
		"exit status: 0 a smaller scenario that fails the same way was written, 1 the\n"
		"original does not fail (no invariant fires) or nothing could be removed (OUT.json\n"
		"is still written), 2 bad usage or scenario, or a run could not be started.\n",
		SHRINK_RUNS_DEFAULT);
}

static int shrink_parse(int argc, char **argv, struct shrink *sh)
{
	int have_seed = 0;

	sh->max_runs = SHRINK_RUNS_DEFAULT;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (strcmp(arg, "--seed") == 0) {
			unsigned long long v = val && *val != '-' ? strtoull(val, &end, 10) : 0;

			if (!val || *val == '-' || *end || !*val || v > INT64_MAX) {
				fprintf(stderr, "ecom sim shrink: --seed: needs a non-negative integer\n");
				return 2;
			}
			sh->seed = v;
			have_seed = 1;
			i++;
		} else if (strcmp(arg, "-o") == 0 || strcmp(arg, "--out") == 0) {
			if (!val) {
				fprintf(stderr, "ecom sim shrink: -o: needs a file name\n");
				return 2;
			}
			sh->out_path = argv[++i];
		} else if (strcmp(arg, "--max-runs") == 0) {
			long v = val ? strtol(val, &end, 10) : 0;

			if (!val || *end || v < 1 || v > SHRINK_RUNS_MAX) {
				fprintf(stderr, "ecom sim shrink: --max-runs: needs 1..%d\n",
					SHRINK_RUNS_MAX);
				return 2;
			}
			sh->max_runs = (int)v;
			i++;
		} else if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
			sh->quiet = 1;
		} else if (arg[0] == '-' && arg[1]) {
			fprintf(stderr, "ecom sim shrink: unknown option '%s'\n", arg);
			return 2;
		} else if (!sh->file) {
			sh->file = arg;
		} else {
			fprintf(stderr, "ecom sim shrink: more than one FILE ('%s')\n", arg);
			return 2;
		}
	}
	if (!sh->file || !have_seed || !sh->out_path) {
		fprintf(stderr, "ecom sim shrink: %s\n\n", !sh->file ? "missing scenario FILE"
							   : !have_seed ? "missing --seed N"
									: "missing -o OUT.json");
		shrink_usage(stderr);
		return 2;
	}
	return 0;
}

/* What "fails the same way" compares: the fired set, or how the run died. A run that
 * stopped before it was quiescent (cut short by quiesce_ms) is not the same failure as
 * one that settled, so that bit is part of it. */
static uint32_t shrink_signature(const struct sim_fork_run *r)
{
	if (r->term_signal)
		return SHRINK_DIED_BIT | (uint32_t)r->term_signal;
	if (!r->completed)
		return SHRINK_DIED_BIT;
	return r->fired | (jsonx_int_or(r->summary, "quiescent", 1) ? 0 : SHRINK_UNSETTLED_BIT);
}

static void shrink_describe(uint32_t sig, char *out, size_t cap)
{
	char names[200];

	if (sig & SHRINK_DIED_BIT) {
		if (sig & ~SHRINK_DIED_BIT)
			snprintf(out, cap, "the run dies of signal %u", sig & ~SHRINK_DIED_BIT);
		else
			snprintf(out, cap, "the run ends without a summary");
		return;
	}
	sim_tools_fired_names(sig & ~SHRINK_UNSETTLED_BIT, names, sizeof(names));
	snprintf(out, cap, "%s%s", names, sig & SHRINK_UNSETTLED_BIT ? ", not quiescent" : "");
}

/* Runs root with the seed; -1 if root is not a valid scenario (a shrink bug, not a result)
 * or its run could not be started (no result either). */
static int shrink_run(struct shrink *sh, const json_t *root, uint32_t *sig)
{
	int rc = 0;

	struct scenario s;
	struct ecom_err err;
	struct sim_fork_job job;
	struct sim_fork_run r;

	ecom_err_clear(&err);
	if (scenario_from_json(root, &s, &err) != ECOM_OK) {
		fprintf(stderr, "ecom sim shrink: a variant is invalid (%s); skipped\n", err.msg);
		return -1;
	}
	memset(&job, 0, sizeof(job));
	job.scn = &s;
	sim_options_init(&job.opt);
	job.opt.seed_set = 1;
	job.opt.seed = sh->seed;
	sim_fork_run_one(&job, &r);
	if (r.spawn_failed) {
		rc = -1;
	} else {
		sh->runs++;
		*sig = shrink_signature(&r);
	}
	sim_fork_run_deinit(&r);
	scenario_deinit(&s);
	return rc;
}

/* Tries cand (stolen): kept if it fires the same set. Returns 1 when kept. */
static int shrink_try(struct shrink *sh, json_t *cand, const char *what)
{
	uint32_t sig;
	char names[256];
	int keep;

	if (sh->runs >= sh->max_runs || shrink_run(sh, cand, &sig) != 0) {
		json_decref(cand);
		return 0;
	}
	keep = sig == sh->target;
	shrink_describe(sig, names, sizeof(names));
	if (!sh->quiet)
		fprintf(stderr, "shrink: run %d/%d: %s: %s (%s)\n", sh->runs, sh->max_runs, what,
			keep ? "kept" : "not kept", names);
	if (!keep) {
		json_decref(cand);
		return 0;
	}
	json_decref(sh->cur);
	sh->cur = cand;
	sh->kept++;
	return 1;
}

/* obj[key] of the current variant's parent object at path "a" or "a.b" (created). */
static json_t *shrink_obj(json_t *root, const char *section)
{
	json_t *o = json_object_get(root, section);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(root, section, o);
	}
	return o;
}

/* The value of an integer setting as the loader sees it (defaults included). */
static int64_t shrink_current(const json_t *root, const char *section, const char *key,
			      int64_t dflt)
{
	const json_t *v = json_object_get(json_object_get(root, section), key);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* Halves, then steps down by halving deltas: n - n/2, n - n/4, ..., n - 1. */
static void shrink_int(struct shrink *sh, const char *section, const char *key, int64_t dflt,
		       int64_t min)
{
	int64_t n = shrink_current(sh->cur, section, key, dflt), delta = (n - min + 1) / 2;

	while (delta >= 1 && n - delta >= min && sh->runs < sh->max_runs) {
		json_t *cand = json_deep_copy(sh->cur);
		char what[160];

		jsonx_set_int(shrink_obj(cand, section), key, n - delta);
		snprintf(what, sizeof(what), "%s.%s %" PRId64 " -> %" PRId64, section, key, n,
			 n - delta);
		if (shrink_try(sh, cand, what))
			n -= delta;
		else
			delta /= 2;
		if (delta > n - min)
			delta = (n - min + 1) / 2;
	}
}

/* Removes each key of a section (each fault kind, each business failure) one at a time. */
static void shrink_drop_keys(struct shrink *sh, const char *section)
{
	const json_t *obj = json_object_get(sh->cur, section);
	size_t n = json_object_size(obj);
	char **keys = ecom_xcalloc(n + 1, sizeof(*keys));
	const char *k;
	json_t *v;
	size_t i = 0;

	json_object_foreach((json_t *)obj, k, v) {
		(void)v;
		keys[i++] = ecom_xstrdup(k);
	}
	for (i = 0; i < n && sh->runs < sh->max_runs; i++) {
		json_t *cand = json_deep_copy(sh->cur);
		char what[160];

		json_object_del(json_object_get(cand, section), keys[i]);
		snprintf(what, sizeof(what), "without %s.%s", section, keys[i]);
		shrink_try(sh, cand, what);
	}
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

static void shrink_ops(struct shrink *sh)
{
	size_t n = json_array_size(json_object_get(sh->cur, "ops"));

	for (size_t i = n; i-- > 0 && sh->runs < sh->max_runs;) {
		json_t *cand = json_deep_copy(sh->cur), *op = json_array_get(json_object_get(cand,
										     "ops"), i);
		char what[160], *txt = jsonx_dumps(op);

		snprintf(what, sizeof(what), "without op %s", txt);
		free(txt);
		json_array_remove(json_object_get(cand, "ops"), i);
		shrink_try(sh, cand, what);
	}
}

static void shrink_services(struct shrink *sh)
{
	for (int svc = 0; svc < SCN_SVC_COUNT; svc++) {
		const char *name = scn_service_name((enum scn_service)svc);

		if (shrink_current(sh->cur, "services", name, 1) > 1)
			shrink_int(sh, "services", name, 1, 1);
	}
}

/* "items": [1, 3] -> [1, 1] (and the same for qty). */
static void shrink_range_to_lo(struct shrink *sh, const char *section, const char *key)
{
	const json_t *r = json_object_get(json_object_get(sh->cur, section), key);
	json_t *cand;
	char what[160];
	json_int_t lo, hi;

	if (json_array_size(r) != 2)
		return;
	lo = json_integer_value(json_array_get(r, 0));
	hi = json_integer_value(json_array_get(r, 1));
	if (hi <= lo)
		return;
	cand = json_deep_copy(sh->cur);
	json_object_set_new(json_object_get(cand, section), key, json_pack("[I,I]", lo, lo));
	snprintf(what, sizeof(what), "%s.%s [%" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT
		 "] -> [%" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT "]", section, key, lo, hi,
		 lo, lo);
	shrink_try(sh, cand, what);
}

/* One round over every kind of change; returns how many were kept. */
static int shrink_pass(struct shrink *sh, const struct scenario *orig)
{
	int before = sh->kept;

	shrink_int(sh, "workload", "orders", orig->workload.orders, 1);
	shrink_drop_keys(sh, "faults");
	shrink_ops(sh);
	shrink_services(sh);
	shrink_drop_keys(sh, "business");
	shrink_int(sh, "run", "duration_ms", orig->run.duration_ms, 1);
	shrink_int(sh, "run", "quiesce_ms", orig->run.quiesce_ms, 1);
	shrink_int(sh, "topics", "partitions", orig->partitions, 1);
	shrink_range_to_lo(sh, "workload", "items");
	shrink_range_to_lo(sh, "workload", "qty");
	shrink_int(sh, "catalog", "skus", orig->catalog.skus, 1);
	return sh->kept - before;
}

static void shrink_log(struct shrink *sh, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void shrink_log(struct shrink *sh, const char *fmt, ...)
{
	va_list ap;
	size_t cap = sh->log_len < sizeof(sh->log) ? sizeof(sh->log) - sh->log_len : 0;
	int n;

	if (sh->log_len && cap > 2) {
		memcpy(sh->log + sh->log_len, "; ", 3);
		sh->log_len += 2;
		cap -= 2;
	}
	va_start(ap, fmt);
	n = vsnprintf(sh->log + sh->log_len, cap, fmt, ap);
	va_end(ap);
	if (n > 0)
		sh->log_len += (size_t)n < cap ? (size_t)n : cap ? cap - 1 : 0;
}

/* What the final variant changed, section by section, against the original. */
static void shrink_diff(struct shrink *sh)
{
	static const char *const sections[] = { "workload", "services", "topics", "catalog",
						"business", "faults", "run" };
	size_t ops0 = json_array_size(json_object_get(sh->orig, "ops"));
	size_t ops1 = json_array_size(json_object_get(sh->cur, "ops"));

	for (size_t i = 0; i < ECOM_ARRAY_LEN(sections); i++) {
		const json_t *a = json_object_get(sh->orig, sections[i]);
		const json_t *b = json_object_get(sh->cur, sections[i]);
		const char *k;
		json_t *v;

		json_object_foreach((json_t *)a, k, v) {
			const json_t *w = json_object_get(b, k);
			char *x, *y;

			if (w && json_equal(v, w))
				continue;
			x = jsonx_dumps_flags(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
			y = w ? jsonx_dumps_flags(w, JSON_ENCODE_ANY | JSON_COMPACT |
					      JSON_REAL_PRECISION(15)) : NULL;
			if (y)
				shrink_log(sh, "%s.%s %s -> %s", sections[i], k, x, y);
			else
				shrink_log(sh, "without %s.%s (%s)", sections[i], k, x);
			free(x);
			free(y);
		}
		json_object_foreach((json_t *)b, k, v) {
			char *y;

			if (json_object_get(a, k))
				continue;
			y = jsonx_dumps_flags(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(15));
			shrink_log(sh, "%s.%s -> %s", sections[i], k, y);
			free(y);
		}
	}
	if (ops1 < ops0)
		shrink_log(sh, "%zu of %zu admin op(s) removed", ops0 - ops1, ops0);
}

static int shrink_write(struct shrink *sh, const char *fired)
{
	json_t *out = json_deep_copy(sh->cur), *ex = json_object_get(out, "expect");
	char *desc = NULL, name[SCN_NAME_MAX];
	const char *orig_desc = jsonx_str(sh->cur, "description");
	int rc;

	snprintf(name, sizeof(name), "%.100s-shrunk", jsonx_str_or(sh->cur, "name", "scenario"));
	jsonx_set_str(out, "name", name);
	if (asprintf(&desc, "Shrunk by `ecom sim shrink` from %s with seed %" PRIu64 " (%d runs): "
			    "still fires %s. Changes: %s. Minimum expectations (expect.min_*) "
			    "removed.%s%s", sh->file, sh->seed, sh->runs, fired,
		     sh->log_len ? sh->log : "none", orig_desc ? " Original: " : "",
		     orig_desc ? orig_desc : "") < 0)
		desc = NULL;
	ECOM_ASSERT(desc);
	jsonx_set_str(out, "description", desc);
	free(desc);
	jsonx_set_int(out, "seed", (int64_t)sh->seed);
	json_object_del(ex, "min_shipped");
	json_object_del(ex, "min_cancelled");
	json_object_del(ex, "min_crashes");
	json_object_del(ex, "min_duplicates");
	json_object_del(ex, "min_dead_letters");
	json_object_del(ex, "min_poison");
	rc = json_dump_file(out, sh->out_path, SHRINK_JSON_FLAGS);
	json_decref(out);
	if (rc != 0)
		fprintf(stderr, "ecom sim shrink: cannot write %s: %s\n", sh->out_path,
			strerror(errno));
	return rc;
}

static int shrink_load(struct shrink *sh, struct scenario *orig)
{
	struct ecom_err err;
	json_error_t jerr;

	ecom_err_clear(&err);
	if (scenario_load_file(sh->file, orig, &err) != ECOM_OK) {
		sim_tools_load_error("shrink", sh->file, err.msg);
		return 2;
	}
	sh->cur = json_load_file(sh->file, JSON_PRESERVE_ORDER, &jerr);
	ECOM_ASSERT(sh->cur);
	sh->orig = json_deep_copy(sh->cur);
	return 0;
}

int cmd_sim_shrink(int argc, char **argv)
{
	struct shrink *sh;
	struct scenario orig;
	char fired[256];
	int rc, have_orig = 0;

	if (cli_wants_help(argc, argv)) {
		shrink_usage(stdout);
		return 0;
	}
	sh = ecom_xcalloc(1, sizeof(*sh));
	rc = shrink_parse(argc, argv, sh);
	if (!rc)
		rc = shrink_load(sh, &orig);
	if (rc)
		goto out;
	have_orig = 1;
	if (shrink_run(sh, sh->cur, &sh->target) != 0) {
		rc = 2;
		goto out;
	}
	shrink_describe(sh->target, fired, sizeof(fired));
	if (!(sh->target & ~SHRINK_UNSETTLED_BIT)) {
		printf("shrink: %s with seed %" PRIu64 " does not fail: no invariant fires\n",
		       sh->file, sh->seed);
		rc = 1;
		goto out;
	}
	if (!sh->quiet)
		fprintf(stderr, "shrink: %s seed %" PRIu64 " fires: %s\n", sh->file, sh->seed, fired);
	for (int pass = 0; pass < SHRINK_PASSES_MAX && sh->runs < sh->max_runs; pass++)
		if (shrink_pass(sh, &orig) == 0)
			break;
	shrink_diff(sh);
	if (shrink_write(sh, fired) != 0) {
		rc = 2;
		goto out;
	}
	printf("shrink: removed: %s\n", sh->log_len ? sh->log : "nothing");
	printf("shrink: %s seed %" PRIu64 ": %d change(s) kept in %d run(s); still fires %s; "
	       "wrote %s\n", sh->file, sh->seed, sh->kept, sh->runs, fired, sh->out_path);
	{
		char out[CLI_SHELL_WORD_MAX];

		printf("reproduce: ecom sim run %s --seed %" PRIu64 "\n",
		       cli_shell_word(sh->out_path, out, sizeof(out)), sh->seed);
	}
	rc = sh->kept ? 0 : 1;
out:
	if (have_orig)
		scenario_deinit(&orig);
	json_decref(sh->cur);
	json_decref(sh->orig);
	free(sh);
	return rc;
}
