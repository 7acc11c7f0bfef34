/* sim_sweep.c — `ecom sim sweep FILE --seeds A..B`: every seed runs as its own child process
 * (`ecom sim run FILE --seed S`, exec'd from /proc/self/exe), at most --jobs at once, so a
 * crash or a hang in one seed cannot take the others down. Failing seeds are printed with
 * the exact command that reproduces them. --swarm draws, per seed, which fault families
 * are on and at what rate (swarm testing, Groce et al. 2012) and writes that scenario to a
 * file, so the printed command replays exactly what ran. Also the process pool the other
 * sim tools share. */
#define _GNU_SOURCE /* pipe2, memmem, asprintf, strsignal */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "event/jsonx.h"
#include "sim/invariants.h"
#include "src/cli/cli.h"
#include "src/cli/sim_tools.h"

#define SWEEP_SEEDS_MAX 100000000LL /* seeds per sweep */
#define SWEEP_READ_CHUNK 65536
#define SWEEP_PATH_MAX 4096
#define SWEEP_POLL_MS 1000 /* how often hung children are looked for */

/* ---- the process pool ------------------------------------------------------------------ */

struct pool_slot {
	int used;
	pid_t pid;
	int64_t tag;
	int out_fd, aux_fd; /* -1 once at EOF */
	char *out;
	size_t out_len, out_cap;
	char *aux;
	size_t aux_len, aux_cap;
	int64_t t0_ms;
	int timed_out;
};

struct sim_pool {
	int jobs, running;
	int64_t timeout_ms;
	sim_pool_line_fn on_line;
	void *line_arg;
	struct pool_slot slot[SIM_POOL_JOBS_MAX];
};

int64_t sim_tools_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double sim_tools_rate(uint64_t n, int64_t ms)
{
	return (double)n * 1000.0 / (double)(ms > 0 ? ms : 1);
}

struct sim_pool *sim_pool_new(int jobs, sim_pool_line_fn on_aux_line, void *line_arg)
{
	struct sim_pool *p = ecom_xcalloc(1, sizeof(*p));

	ECOM_ASSERT(jobs >= 1 && jobs <= SIM_POOL_JOBS_MAX);
	p->jobs = jobs;
	p->timeout_ms = SIM_POOL_TIMEOUT_MS_DEFAULT;
	p->on_line = on_aux_line;
	p->line_arg = line_arg;
	return p;
}

void sim_pool_set_timeout(struct sim_pool *p, int64_t timeout_ms)
{
	p->timeout_ms = timeout_ms;
}

/* Kills children older than the timeout; their pipes then reach EOF. */
static void pool_reap_hung(struct sim_pool *p)
{
	int64_t now = sim_tools_wall_ms();

	for (int i = 0; i < SIM_POOL_JOBS_MAX && p->timeout_ms > 0; i++) {
		struct pool_slot *s = &p->slot[i];

		if (s->used && !s->timed_out && now - s->t0_ms > p->timeout_ms) {
			s->timed_out = 1;
			kill(s->pid, SIGKILL);
		}
	}
}

void sim_pool_free(struct sim_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < SIM_POOL_JOBS_MAX; i++) {
		struct pool_slot *s = &p->slot[i];

		if (!s->used)
			continue;
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		if (s->out_fd >= 0)
			close(s->out_fd);
		if (s->aux_fd >= 0)
			close(s->aux_fd);
		free(s->out);
		free(s->aux);
	}
	free(p);
}

int sim_pool_running(const struct sim_pool *p)
{
	return p->running;
}

int sim_pool_full(const struct sim_pool *p)
{
	return p->running >= p->jobs;
}

/* In the child: the other slots' pipes must not stay open here (their EOF would wait). */
static void pool_child_fds(struct sim_pool *p, int out_w, int aux_w)
{
	for (int i = 0; i < SIM_POOL_JOBS_MAX; i++) {
		if (!p->slot[i].used)
			continue;
		if (p->slot[i].out_fd >= 0)
			close(p->slot[i].out_fd);
		if (p->slot[i].aux_fd >= 0)
			close(p->slot[i].aux_fd);
	}
	if (dup2(out_w, STDOUT_FILENO) < 0)
		_exit(126);
	if (aux_w >= 0 && dup2(aux_w, 3) < 0)
		_exit(126);
}

int sim_pool_spawn(struct sim_pool *p, int64_t tag, sim_pool_child_fn fn, void *arg)
{
	int out[2] = { -1, -1 }, aux[2] = { -1, -1 };
	struct pool_slot *s = NULL;
	pid_t pid;

	ECOM_ASSERT(!sim_pool_full(p));
	for (int i = 0; i < SIM_POOL_JOBS_MAX && !s; i++)
		if (!p->slot[i].used)
			s = &p->slot[i];
	if (pipe2(out, O_CLOEXEC) != 0 || (p->on_line && pipe2(aux, O_CLOEXEC) != 0)) {
		fprintf(stderr, "ecom sim: pipe: %s\n", strerror(errno));
		goto fail;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "ecom sim: fork: %s\n", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		pool_child_fds(p, out[1], aux[1]);
		fn(arg);
		_exit(127); /* LCOV_EXCL_LINE: fn must not return (it execs or _exits) */
	}
	close(out[1]);
	if (aux[1] >= 0)
		close(aux[1]);
	memset(s, 0, sizeof(*s));
	s->used = 1;
	s->pid = pid;
	s->tag = tag;
	s->out_fd = out[0];
	s->aux_fd = aux[0];
	s->t0_ms = sim_tools_wall_ms();
	p->running++;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (aux[i] >= 0)
			close(aux[i]);
	}
	return -1;
}

static void pool_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
	if (*len + n + 1 > SIM_POOL_OUT_MAX)
		n = *len + 1 < SIM_POOL_OUT_MAX ? SIM_POOL_OUT_MAX - *len - 1 : 0;
	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap = *cap ? *cap * 2 : 4096;
		*buf = ecom_xrealloc(*buf, *cap);
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
}

/* Hands complete aux lines to the callback, keeps the rest. */
static void pool_aux_lines(struct sim_pool *p, struct pool_slot *s, int at_eof)
{
	size_t start = 0;

	for (size_t i = 0; i < s->aux_len; i++) {
		if (s->aux[i] != '\n')
			continue;
		p->on_line(p->line_arg, s->tag, s->aux + start, i - start);
		start = i + 1;
	}
	if (at_eof && start < s->aux_len) {
		p->on_line(p->line_arg, s->tag, s->aux + start, s->aux_len - start);
		start = s->aux_len;
	}
	if (start == 0)
		return; /* also: nothing read at all (aux is NULL, and memmove(NULL) is UB) */
	memmove(s->aux, s->aux + start, s->aux_len - start);
	s->aux_len -= start;
}

static void pool_read(struct sim_pool *p, struct pool_slot *s, int aux)
{
	char chunk[SWEEP_READ_CHUNK];
	int *fd = aux ? &s->aux_fd : &s->out_fd;
	ssize_t n = read(*fd, chunk, sizeof(chunk));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		if (aux)
			pool_aux_lines(p, s, 1);
		return;
	}
	if (!aux) {
		pool_append(&s->out, &s->out_len, &s->out_cap, chunk, (size_t)n);
		return;
	}
	pool_append(&s->aux, &s->aux_len, &s->aux_cap, chunk, (size_t)n);
	pool_aux_lines(p, s, 0);
}

static struct pool_slot *pool_finished(struct sim_pool *p)
{
	for (int i = 0; i < SIM_POOL_JOBS_MAX; i++)
		if (p->slot[i].used && p->slot[i].out_fd < 0 && p->slot[i].aux_fd < 0)
			return &p->slot[i];
	return NULL;
}

int sim_pool_wait(struct sim_pool *p, struct sim_pool_done *d)
{
	struct pool_slot *s;

	memset(d, 0, sizeof(*d));
	if (!p->running)
		return 0;
	while (!(s = pool_finished(p))) {
		struct pollfd fds[2 * SIM_POOL_JOBS_MAX];
		struct pool_slot *who[2 * SIM_POOL_JOBS_MAX];
		int isaux[2 * SIM_POOL_JOBS_MAX];
		nfds_t n = 0;

		for (int i = 0; i < SIM_POOL_JOBS_MAX; i++) {
			for (int a = 0; a < 2 && p->slot[i].used; a++) {
				int fd = a ? p->slot[i].aux_fd : p->slot[i].out_fd;

				if (fd < 0)
					continue;
				fds[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
				who[n] = &p->slot[i];
				isaux[n++] = a;
			}
		}
		pool_reap_hung(p);
		if (poll(fds, n, SWEEP_POLL_MS) < 0 && errno != EINTR) {
			fprintf(stderr, "ecom sim: poll: %s\n", strerror(errno));
			return 0;
		}
		for (nfds_t i = 0; i < n; i++)
			if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
				pool_read(p, who[i], isaux[i]);
	}
	while (waitpid(s->pid, &d->status, 0) < 0 && errno == EINTR)
		;
	d->tag = s->tag;
	d->timed_out = s->timed_out;
	d->out = s->out ? s->out : ecom_xstrdup("");
	d->out_len = s->out_len;
	d->wall_ms = sim_tools_wall_ms() - s->t0_ms;
	free(s->aux);
	memset(s, 0, sizeof(*s));
	p->running--;
	return 1;
}

char *sim_tools_last_line(const char *text, size_t len)
{
	size_t end = len, start;

	while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && text[start - 1] != '\n')
		start--;
	return ecom_xstrndup(text + start, end - start);
}

#ifdef ECOM_COVERAGE_BUILD
void __gcov_dump(void); /* libgcov */
#endif

void sim_tools_child_flush(void)
{
#ifdef ECOM_COVERAGE_BUILD
	__gcov_dump();
#endif
} /* LCOV_EXCL_LINE: reached after the counters were written, so never counted */

void sim_tools_load_error(const char *cmd, const char *file, const char *msg)
{
	size_t n = strlen(file);

	/* Messages about the file itself (cannot open, too large) already start with its name. */
	if (strncmp(msg, file, n) == 0 && msg[n] == ':')
		fprintf(stderr, "ecom sim %s: %s\n", cmd, msg);
	else
		fprintf(stderr, "ecom sim %s: %s: %s\n", cmd, file, msg);
}

void sim_tools_fired_names(uint32_t fired, char *out, size_t cap)
{
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < INV__COUNT; i++)
		if (fired & (1u << i))
			len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s",
						len ? ", " : "", inv_name((enum inv_id)i));
	if (!fired)
		snprintf(out, cap, "none");
}

void sim_tools_print_coverage(FILE *out, const struct cov_agg *a)
{
	char never[1024] = "", unknown[1024] = "";
	size_t nl = 0, ul = 0;

	fprintf(out, "coverage (runs that reached it / runs measured, total times):\n");
	for (int p = 0; p < COV__COUNT; p++) {
		const char *name = cov_name((enum cov_point)p);

		if (!a->runs_known[p]) {
			ul += (size_t)snprintf(unknown + ul, ul < sizeof(unknown) ? sizeof(unknown) - ul : 0,
					       "%s%s", ul ? ", " : "", name);
			continue;
		}
		fprintf(out, "  %-26s %6" PRIu64 "/%-6" PRIu64 " %10" PRId64 "\n", name,
			a->runs_reached[p], a->runs_known[p], a->total[p]);
		if (!a->runs_reached[p])
			nl += (size_t)snprintf(never + nl, nl < sizeof(never) ? sizeof(never) - nl : 0,
					       "%s%s", nl ? ", " : "", name);
	}
	fprintf(out, "coverage: never reached: %s\n", nl ? never : "(none)");
	if (ul)
		fprintf(out, "coverage: not measured: %s\n", unknown);
}

/* ---- swarm ----------------------------------------------------------------------------- */

static double swarm_unit(struct rng *r, double lo, double hi)
{
	return lo + (hi - lo) * rng_unit(r);
}

static void swarm_prob(json_t *faults, const char *key, double p)
{
	/* Rounded so the file reads well and parses back to the same double. */
	json_object_set_new(faults, key, json_real((double)(int64_t)(p * 1e5 + 0.5) / 1e5));
}

static void swarm_range(json_t *faults, const char *key, int64_t lo, int64_t hi)
{
	json_object_set_new(faults, key, json_pack("[I,I]", (json_int_t)lo, (json_int_t)hi));
}

/* One family per entry: on with p = 0.5, rates uniform within sane bounds; off removes
 * the family's keys (their default is "no fault"). Order fixed: it is the draw order. */
static void swarm_family(struct rng *r, json_t *f, int fam, int on)
{
	static const char *const keys[][3] = {
		{ "duplicate_delivery", NULL, NULL },
		{ "delivery_delay_ms", NULL, NULL },
		{ "crash_rate_per_sec", "restart_after_ms", NULL },
		{ "store_error", NULL, NULL },
		{ "store_ambiguous", NULL, NULL },
		{ "produce_error", NULL, NULL },
		{ "poison", NULL, NULL },
		{ "gateway_error", "gateway_ambiguous", NULL },
		{ "carrier_error", "carrier_ambiguous", NULL },
	};
	int64_t lo;

	for (int k = 0; k < 3 && keys[fam][k]; k++)
		json_object_del(f, keys[fam][k]);
	if (!on)
		return;
	switch (fam) {
	case 0: swarm_prob(f, "duplicate_delivery", swarm_unit(r, 0.01, 0.3)); break;
	case 1: swarm_range(f, "delivery_delay_ms", 0, rng_range(r, 5, 200)); break;
	case 2:
		swarm_prob(f, "crash_rate_per_sec", swarm_unit(r, 0.02, 0.5));
		lo = rng_range(r, 10, 300);
		swarm_range(f, "restart_after_ms", lo, lo + rng_range(r, 0, 3000));
		break;
	case 3: swarm_prob(f, "store_error", swarm_unit(r, 0.001, 0.05)); break;
	case 4: swarm_prob(f, "store_ambiguous", swarm_unit(r, 0.001, 0.03)); break;
	case 5: swarm_prob(f, "produce_error", swarm_unit(r, 0.001, 0.05)); break;
	case 6: swarm_prob(f, "poison", swarm_unit(r, 0.001, 0.02)); break;
	case 7:
		swarm_prob(f, "gateway_error", swarm_unit(r, 0.0, 0.1));
		swarm_prob(f, "gateway_ambiguous", swarm_unit(r, 0.0, 0.05));
		break;
	default:
		swarm_prob(f, "carrier_error", swarm_unit(r, 0.0, 0.1));
		swarm_prob(f, "carrier_ambiguous", swarm_unit(r, 0.0, 0.05));
		break;
	}
}

#define SWARM_FAMILIES 9
static const char *const swarm_family_names[SWARM_FAMILIES] = {
	"duplicate_delivery", "delivery_delay", "crashes", "store_error", "store_ambiguous",
	"produce_error", "poison", "gateway", "carrier",
};

/* The swarm variant of root for seed (new reference). */
static json_t *swarm_scenario(const json_t *root, const char *file, uint64_t seed)
{
	json_t *s = json_deep_copy(root), *f = json_object_get(s, "faults"), *ex;
	struct rng r;
	char on[256] = "", name[SCN_NAME_MAX + 32], *desc;
	size_t len = 0;

	rng_seed_named(&r, seed, "swarm");
	if (!json_is_object(f)) {
		f = json_object();
		json_object_set_new(s, "faults", f);
	}
	for (int fam = 0; fam < SWARM_FAMILIES; fam++) {
		int is_on = rng_chance(&r, 0.5);

		swarm_family(&r, f, fam, is_on);
		if (is_on)
			len += (size_t)snprintf(on + len, len < sizeof(on) ? sizeof(on) - len : 0,
						"%s%s", len ? ", " : "", swarm_family_names[fam]);
	}
	/* A swarm run is judged by its invariants (expect.violations): minimums tell the
	 * story of the file's own seed and faults (crashes happened, ops were accepted), and
	 * the draw changes both. */
	ex = json_object_get(s, "expect");
	if (json_is_object(ex)) {
		json_t *keep = json_incref(json_object_get(ex, "violations"));

		json_object_clear(ex);
		if (keep)
			json_object_set_new(ex, "violations", keep);
	}
	snprintf(name, sizeof(name), "%.*s-swarm-%" PRIu64, SCN_NAME_MAX - 1 - 28,
		 jsonx_str_or(root, "name", "scenario"), seed);
	jsonx_set_str(s, "name", name);
	if (asprintf(&desc, "Swarm variant of %s for seed %" PRIu64 " (ecom sim sweep --swarm): "
			    "fault families on: %s; every other family off; judged by the invariants "
			    "only (expect.min_* removed).",
		     file, seed, len ? on : "none") < 0)
		desc = NULL;
	ECOM_ASSERT(desc);
	jsonx_set_str(s, "description", desc);
	free(desc);
	jsonx_set_int(s, "seed", (int64_t)seed);
	return s;
}

/* ---- sweep ----------------------------------------------------------------------------- */

struct sweep_args {
	const char *file;
	int64_t lo, hi;
	int jobs;
	int swarm, quiet, trace_cov;
	int timeout_s;
	const char *out_dir;
};

struct sweep_tagcov { /* coverage of a running seed, filled from its trace stream */
	int used;
	int64_t tag;
	struct cov_counts cov;
};

struct sweep {
	struct sweep_args a;
	json_t *root;
	char out_dir[SWEEP_PATH_MAX];
	int made_dir;
	struct cov_agg agg;
	struct sweep_tagcov tc[SIM_POOL_JOBS_MAX];
	int64_t done, failed, errors, t0_ms, last_pct;
	int tty;
	int64_t *failed_seeds;
	size_t n_failed_seeds, cap_failed_seeds;
	char child_path[SWEEP_PATH_MAX];
	char seed_buf[32];
};

static void sweep_usage(FILE *out)
{
	fprintf(out,
		"usage: ecom sim sweep FILE --seeds A..B [--jobs N] [--swarm [--out DIR]] [--quiet]\n"
		"                      [--no-trace] [--timeout S]\n"
		"\n"
		"Runs FILE once per seed A..B (inclusive), each seed as its own child process\n"
		"`ecom sim run FILE --seed S`, at most N at once (default: the number of CPUs).\n"
		"Every failing seed is printed with the command that reproduces it.\n"
		"\n"
		"  --swarm     per seed, draw from a generator seeded with the seed which fault\n"
		"              families are on (duplicate_delivery, delivery_delay, crashes,\n"
		"              store_error, store_ambiguous, produce_error, poison, gateway,\n"
		"              carrier; each with p = 0.5) and their rates, over FILE's scenario;\n"
		"              judged by the invariants only (expect.min_* are dropped).\n"
		"              Each seed's scenario is written to DIR/<name>-swarm-<S>.json (kept\n"
		"              only for failing seeds), and the printed command runs that file.\n"
		"  --out DIR   where --swarm writes (default: a new directory under $TMPDIR)\n"
		"  --quiet     no progress, only failures and the closing lines\n"
		"  --no-trace  coverage from the summaries only (faster; fewer paths measured)\n"
		"  --timeout S a seed running longer than S seconds is killed and fails (600)\n"
		"\n"
		"Ends with \"sweep: N seeds, F failed, X seeds/s\" and the saga-path coverage summed\n"
		"over the seeds (paths no seed reached are a coverage gap).\n"
		"exit status: 0 every seed passed, 1 some failed, 2 bad usage or scenario (also\n"
		"when a seed's run found it bad, or could not be started).\n");
}

static int sweep_parse_range(const char *s, int64_t *lo, int64_t *hi)
{
	char *end;
	long long a, b;

	errno = 0;
	a = strtoll(s, &end, 10);
	if (errno || end == s || a < 0)
		return -1;
	if (*end == '\0') {
		*lo = *hi = a;
		return 0;
	}
	if (strncmp(end, "..", 2) != 0)
		return -1;
	s = end + 2;
	b = strtoll(s, &end, 10);
	if (errno || end == s || *end || b < a || b - a >= SWEEP_SEEDS_MAX)
		return -1;
	*lo = a;
	*hi = b;
	return 0;
}

static int sweep_parse(int argc, char **argv, struct sweep_args *a)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(a, 0, sizeof(*a));
	a->lo = -1;
	a->jobs = n >= 1 ? (int)(n < SIM_POOL_JOBS_MAX ? n : SIM_POOL_JOBS_MAX) : 1;
	a->trace_cov = 1;
	a->timeout_s = SIM_POOL_TIMEOUT_MS_DEFAULT / 1000;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(arg, "--seeds") == 0) {
			if (!val || sweep_parse_range(val, &a->lo, &a->hi) != 0) {
				fprintf(stderr, "ecom sim sweep: --seeds: needs A..B with 0 <= A <= B "
						"(at most %lld seeds)\n", SWEEP_SEEDS_MAX);
				return 2;
			}
			i++;
		} else if (strcmp(arg, "--jobs") == 0 || strcmp(arg, "-j") == 0) {
			char *end;
			long j = val ? strtol(val, &end, 10) : 0;

			if (!val || *end || j < 1 || j > SIM_POOL_JOBS_MAX) {
				fprintf(stderr, "ecom sim sweep: --jobs: needs 1..%d\n",
					SIM_POOL_JOBS_MAX);
				return 2;
			}
			a->jobs = (int)j;
			i++;
		} else if (strcmp(arg, "--timeout") == 0) {
			char *end;
			long t = val ? strtol(val, &end, 10) : 0;

			if (!val || *end || t < 1 || t > 86400) {
				fprintf(stderr, "ecom sim sweep: --timeout: needs 1..86400 seconds\n");
				return 2;
			}
			a->timeout_s = (int)t;
			i++;
		} else if (strcmp(arg, "--out") == 0) {
			if (!val) {
				fprintf(stderr, "ecom sim sweep: --out: needs a directory\n");
				return 2;
			}
			a->out_dir = argv[++i];
		} else if (strcmp(arg, "--swarm") == 0) {
			a->swarm = 1;
		} else if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
			a->quiet = 1;
		} else if (strcmp(arg, "--no-trace") == 0) {
			a->trace_cov = 0;
		} else if (arg[0] == '-' && arg[1]) {
			fprintf(stderr, "ecom sim sweep: unknown option '%s'\n", arg);
			return 2;
		} else if (!a->file) {
			a->file = arg;
		} else {
			fprintf(stderr, "ecom sim sweep: more than one FILE ('%s')\n", arg);
			return 2;
		}
	}
	if (!a->file || a->lo < 0) {
		fprintf(stderr, "ecom sim sweep: %s\n\n", !a->file ? "missing scenario FILE"
								     : "missing --seeds A..B");
		sweep_usage(stderr);
		return 2;
	}
	if (a->out_dir && !a->swarm) {
		fprintf(stderr, "ecom sim sweep: --out is only used with --swarm\n");
		return 2;
	}
	return 0;
}

/* The per-seed file (swarm) or FILE itself. */
static void sweep_seed_file(const struct sweep *w, int64_t seed, char *out, size_t cap)
{
	if (!w->a.swarm) {
		snprintf(out, cap, "%s", w->a.file);
		return;
	}
	snprintf(out, cap, "%s/%s-swarm-%" PRId64 ".json", w->out_dir,
		 jsonx_str_or(w->root, "name", "scenario"), seed);
}

struct sweep_child {
	const char *exe, *file, *seed;
	int trace;
};

static void sweep_child(void *arg)
{
	const struct sweep_child *c = arg;
	char *argv[9];
	int n = 0, devnull = open("/dev/null", O_WRONLY);

	if (devnull >= 0)
		dup2(devnull, STDERR_FILENO); /* the summary line says why a seed failed */
	argv[n++] = (char *)"ecom";
	argv[n++] = (char *)"sim";
	argv[n++] = (char *)"run";
	argv[n++] = (char *)c->file;
	argv[n++] = (char *)"--seed";
	argv[n++] = (char *)c->seed;
	if (c->trace) {
		argv[n++] = (char *)"--trace";
		argv[n++] = (char *)"/dev/fd/3";
	}
	argv[n] = NULL;
	sim_tools_child_flush();
	execv(c->exe, argv); /* LCOV_EXCL_LINE: after the flush, never counted (it runs) */
	_exit(127);
}

static struct sweep_tagcov *sweep_tc(struct sweep *w, int64_t tag, int create)
{
	for (int i = 0; i < SIM_POOL_JOBS_MAX; i++)
		if (w->tc[i].used && w->tc[i].tag == tag)
			return &w->tc[i];
	for (int i = 0; create && i < SIM_POOL_JOBS_MAX; i++) {
		if (w->tc[i].used)
			continue;
		w->tc[i].used = 1;
		w->tc[i].tag = tag;
		cov_counts_init(&w->tc[i].cov);
		cov_trace_begin(&w->tc[i].cov);
		return &w->tc[i];
	}
	return NULL;
}

/* One string field of a JSONL trace line without a JSON parser; -1 on escapes. */
static int sweep_field(const char *line, size_t len, const char *key, char *out, size_t cap)
{
	char pat[32];
	const char *p, *end = line + len;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = memmem(line, len, pat, strlen(pat));
	if (!p)
		return -1;
	for (p += strlen(pat); p < end && *p != '"'; p++) {
		if (*p == '\\')
			return -1;
		if (n + 1 < cap)
			out[n++] = *p;
	}
	out[n] = '\0';
	return 0;
}

int sim_tools_trace_fields(const char *line, size_t len, int64_t *t_us, char actor[64],
			   char what[64], char detail[TRACE_LINE_MAX])
{
	const char *t = memmem(line, len, "\"t_us\":", 7);
	json_t *j;
	int rc = -1;

	*t_us = t ? strtoll(t + 7, NULL, 10) : 0;
	if (sweep_field(line, len, "actor", actor, 64) == 0 &&
	    sweep_field(line, len, "event", what, 64) == 0 &&
	    sweep_field(line, len, "detail", detail, TRACE_LINE_MAX) == 0)
		return 0;
	j = json_loadb(line, len, 0, NULL);
	if (jsonx_str(j, "actor") && jsonx_str(j, "event")) {
		snprintf(actor, 64, "%s", jsonx_str(j, "actor"));
		snprintf(what, 64, "%s", jsonx_str(j, "event"));
		snprintf(detail, TRACE_LINE_MAX, "%s", jsonx_str_or(j, "detail", ""));
		rc = 0;
	}
	json_decref(j);
	return rc;
}

static void sweep_trace_line(void *arg, int64_t tag, const char *line, size_t len)
{
	struct sweep *w = arg;
	struct sweep_tagcov *tc = sweep_tc(w, tag, 0);
	char actor[64], what[64], detail[TRACE_LINE_MAX];
	int64_t t;

	if (tc && sim_tools_trace_fields(line, len, &t, actor, what, detail) == 0)
		cov_trace_line(&tc->cov, t, actor, what, detail);
}

static void sweep_progress(struct sweep *w, int final)
{
	int64_t total = w->a.hi - w->a.lo + 1, el = sim_tools_wall_ms() - w->t0_ms;
	double rate = sim_tools_rate((uint64_t)w->done, el);
	double left = rate > 0 ? (double)(total - w->done) / rate : 0;
	int64_t pct = w->done * 10 / total;

	if (w->a.quiet)
		return;
	if (w->tty) {
		fprintf(stderr, "\r\033[Ksweep: %" PRId64 "/%" PRId64 " seeds, %" PRId64
				" failed, %.1f seeds/s, ~%.0f s left", w->done, total, w->failed,
			rate, left);
		if (final)
			fputs("\r\033[K", stderr);
	} else if (pct > w->last_pct && !final) {
		w->last_pct = pct;
		fprintf(stderr, "sweep: %" PRId64 "/%" PRId64 " seeds, %" PRId64 " failed, %.1f "
				"seeds/s, ~%.0f s left\n", w->done, total, w->failed, rate, left);
	}
	fflush(stderr);
}

static void sweep_fail_line(struct sweep *w, int64_t seed, const char *why)
{
	char file[SWEEP_PATH_MAX], word[CLI_SHELL_WORD_MAX];

	sweep_seed_file(w, seed, file, sizeof(file));
	if (w->tty && !w->a.quiet)
		fputs("\r\033[K", stderr);
	printf("FAIL seed %" PRId64 ": %s\n  reproduce: ecom sim run %s --seed %" PRId64 "\n",
	       seed, why, cli_shell_word(file, word, sizeof(word)), seed);
	fflush(stdout);
	if (w->n_failed_seeds == w->cap_failed_seeds) {
		w->cap_failed_seeds = w->cap_failed_seeds ? w->cap_failed_seeds * 2 : 64;
		w->failed_seeds = ecom_xrealloc(w->failed_seeds,
						w->cap_failed_seeds * sizeof(*w->failed_seeds));
	}
	w->failed_seeds[w->n_failed_seeds++] = seed;
}

/* One finished child: verdict, coverage, and (swarm) its file kept only if it failed. */
static void sweep_collect(struct sweep *w, struct sim_pool_done *d)
{
	char *last = sim_tools_last_line(d->out, d->out_len), why[700];
	json_t *sum = json_loads(last, 0, NULL);
	struct sweep_tagcov *tc = sweep_tc(w, d->tag, 0);
	struct cov_counts c;
	int code = WIFEXITED(d->status) ? WEXITSTATUS(d->status) : -1;

	cov_counts_init(&c);
	cov_from_summary(&c, sum);
	if (tc) {
		if (json_is_object(sum))
			cov_merge_max(&c, &tc->cov);
		tc->used = 0;
	}
	if (json_is_object(sum))
		cov_agg_add(&w->agg, &c);
	w->done++;
	if (d->timed_out)
		snprintf(why, sizeof(why), "the run took more than %d s and was killed",
			 w->a.timeout_s);
	else if (WIFSIGNALED(d->status))
		snprintf(why, sizeof(why), "the run died of signal %d (%s)", WTERMSIG(d->status),
			 strsignal(WTERMSIG(d->status)));
	else if (code == 1)
		snprintf(why, sizeof(why), "%s", jsonx_str_or(sum, "unmet", "expectations not met"));
	else if (code != 0)
		snprintf(why, sizeof(why), "exit %d (%s)", code,
			 code == 2 ? "bad scenario or usage" : "no summary");
	if (code != 0) {
		w->failed++;
		w->errors += code == 2 || code == 127;
		sweep_fail_line(w, d->tag, why);
	} else if (w->a.swarm) {
		char file[SWEEP_PATH_MAX];

		sweep_seed_file(w, d->tag, file, sizeof(file));
		unlink(file);
	}
	json_decref(sum);
	free(last);
	free(d->out);
}

static int sweep_write_swarm(struct sweep *w, int64_t seed)
{
	char file[SWEEP_PATH_MAX];
	json_t *s = swarm_scenario(w->root, w->a.file, (uint64_t)seed);
	int rc;

	sweep_seed_file(w, seed, file, sizeof(file));
	rc = json_dump_file(s, file, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	json_decref(s);
	if (rc != 0)
		fprintf(stderr, "ecom sim sweep: cannot write %s: %s\n", file, strerror(errno));
	return rc;
}

static int sweep_prepare(struct sweep *w)
{
	struct scenario s;
	struct ecom_err err;
	json_error_t jerr;
	ssize_t n;

	ecom_err_clear(&err);
	if (scenario_load_file(w->a.file, &s, &err) != ECOM_OK) {
		sim_tools_load_error("sweep", w->a.file, err.msg);
		return 2;
	}
	scenario_deinit(&s);
	w->root = json_load_file(w->a.file, JSON_PRESERVE_ORDER, &jerr);
	ECOM_ASSERT(w->root); /* it just loaded */
	n = readlink("/proc/self/exe", w->child_path, sizeof(w->child_path) - 1);
	if (n <= 0) {
		fprintf(stderr, "ecom sim sweep: /proc/self/exe: %s\n", strerror(errno));
		return 2;
	}
	w->child_path[n] = '\0';
	if (!w->a.swarm)
		return 0;
	if (w->a.out_dir) {
		snprintf(w->out_dir, sizeof(w->out_dir), "%s", w->a.out_dir);
		if (mkdir(w->out_dir, 0777) != 0 && errno != EEXIST) {
			fprintf(stderr, "ecom sim sweep: --out %s: %s\n", w->out_dir, strerror(errno));
			return 2;
		}
		return 0;
	}
	snprintf(w->out_dir, sizeof(w->out_dir), "%s/ecom-sweep-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(w->out_dir)) {
		fprintf(stderr, "ecom sim sweep: mkdtemp %s: %s\n", w->out_dir, strerror(errno));
		return 2;
	}
	w->made_dir = 1;
	return 0;
}

static int sweep_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void sweep_report(struct sweep *w)
{
	int64_t el = sim_tools_wall_ms() - w->t0_ms;

	if (w->n_failed_seeds) {
		qsort(w->failed_seeds, w->n_failed_seeds, sizeof(int64_t), sweep_cmp);
		printf("failed seeds:");
		for (size_t i = 0; i < w->n_failed_seeds; i++)
			printf(" %" PRId64, w->failed_seeds[i]);
		printf("\n");
	}
	if (w->a.swarm && w->n_failed_seeds)
		printf("swarm scenarios of the failing seeds are in %s/\n", w->out_dir);
	else if (w->a.swarm && w->made_dir)
		rmdir(w->out_dir);
	sim_tools_print_coverage(stdout, &w->agg);
	printf("sweep: %" PRId64 " seeds, %" PRId64 " failed, %.1f seeds/s\n", w->done, w->failed,
	       sim_tools_rate((uint64_t)w->done, el));
}

int cmd_sim_sweep(int argc, char **argv)
{
	struct sweep *w;
	struct sim_pool *pool = NULL;
	struct sim_pool_done d;
	int64_t next;
	int rc;

	if (cli_wants_help(argc, argv)) {
		sweep_usage(stdout);
		return 0;
	}
	w = ecom_xcalloc(1, sizeof(*w));
	rc = sweep_parse(argc, argv, &w->a);
	if (rc)
		goto out;
	rc = sweep_prepare(w);
	if (rc)
		goto out;
	cov_agg_init(&w->agg);
	w->tty = isatty(STDERR_FILENO);
	w->last_pct = 0;
	pool = sim_pool_new(w->a.jobs, w->a.trace_cov ? sweep_trace_line : NULL, w);
	sim_pool_set_timeout(pool, (int64_t)w->a.timeout_s * 1000);
	if (!w->a.quiet)
		printf("sweep: %s seeds %" PRId64 "..%" PRId64 ", %d job(s)%s\n", w->a.file, w->a.lo,
		       w->a.hi, w->a.jobs, w->a.swarm ? ", swarm" : "");
	w->t0_ms = sim_tools_wall_ms();
	next = w->a.lo;
	while (next <= w->a.hi || sim_pool_running(pool)) {
		while (next <= w->a.hi && !sim_pool_full(pool)) {
			char file[SWEEP_PATH_MAX], seed[32];
			struct sweep_child c = { w->child_path, file, seed, w->a.trace_cov };

			sweep_seed_file(w, next, file, sizeof(file));
			snprintf(seed, sizeof(seed), "%" PRId64, next);
			if ((w->a.swarm && sweep_write_swarm(w, next) != 0) ||
			    sim_pool_spawn(pool, next, sweep_child, &c) != 0) {
				rc = 2;
				goto out;
			}
			if (w->a.trace_cov)
				sweep_tc(w, next, 1);
			next++;
		}
		if (sim_pool_wait(pool, &d)) {
			sweep_collect(w, &d);
			sweep_progress(w, 0);
		}
	}
	sweep_progress(w, 1);
	sweep_report(w);
	rc = w->errors ? 2 : w->failed ? 1 : 0;
out:
	sim_pool_free(pool);
	json_decref(w->root);
	free(w->failed_seeds);
	free(w);
	return rc;
}
