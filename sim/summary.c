/* summary.c — the end of a run: counts from the order store (never from the services' own
 * counters), the invariant verdicts, the expectation check, and the one-line JSON summary
 * in the field order the CLI contract names (DESIGN.md §5). */
#include "sim/coverage.h"
#include "sim/world_int.h"

#include <stdio.h>
#include <string.h>

#include "event/jsonx.h"

struct sum_counts {
	int64_t shipped, cancelled, stuck, flagged_stuck;
};

static void summary_count(struct sim_world *w, struct sum_counts *k)
{
	memset(k, 0, sizeof(*k));
	for (int64_t i = 0; i < w->n_orders; i++) {
		json_t *od = NULL;
		const char *st;

		if (w->orders[i].state != 1)
			continue;
		if (store_get(w->stores[SCN_SVC_ORDER], "orders", w->orders[i].id, &od, NULL) !=
		    ECOM_OK) {
			k->stuck++;
			continue;
		}
		st = jsonx_str(od, "status");
		if (st && strcmp(st, "SHIPPED") == 0)
			k->shipped++;
		else if (st && strcmp(st, "CANCELLED") == 0)
			k->cancelled++;
		else
			k->stuck++;
		if (jsonx_bool_or(od, "stuck", 0))
			k->flagged_stuck++;
		json_decref(od);
	}
}

static int64_t summary_ops(struct sim_world *w, const char *result)
{
	json_t *r;
	size_t i;
	int64_t n = 0;

	json_array_foreach(w->op_results, i, r) {
		const char *got = jsonx_str(r, "result");

		n += got && strcmp(got, result) == 0;
	}
	return n;
}

static void summary_expect(struct sim_world *w, const struct sum_counts *k,
			   struct sim_result *res)
{
	const struct scenario *s = w->scn;
	char *p = res->unmet;
	size_t cap = sizeof(res->unmet), len = 0;
	struct {
		const char *name;
		int64_t want, got;
	} mins[] = {
		{ "shipped", s->expect.min_shipped, k->shipped },
		{ "cancelled", s->expect.min_cancelled, k->cancelled },
		{ "crashes", s->expect.min_crashes, (int64_t)w->n_crashes },
		{ "duplicates", s->expect.min_duplicates, (int64_t)w->duplicates },
		{ "dead_letters", s->expect.min_dead_letters, (int64_t)w->dead_letters },
		{ "poison", s->expect.min_poison, (int64_t)w->n_poison },
		{ "ops_ok", s->expect.min_ops_ok, summary_ops(w, "ok") },
		{ "ops_refused", s->expect.min_ops_refused, summary_ops(w, "refused") },
	};

	p[0] = '\0';
	for (int i = 0; i < INV__COUNT; i++) {
		uint32_t bit = 1u << i;

		if ((res->fired & bit) && !(s->expect.violations & bit))
			len += (size_t)snprintf(p + len, len < cap ? cap - len : 0,
						"%s%s fired", len ? "; " : "", inv_name((enum inv_id)i));
		else if (!(res->fired & bit) && (s->expect.violations & bit))
			len += (size_t)snprintf(p + len, len < cap ? cap - len : 0,
						"%sexpected %s to fire, it did not", len ? "; " : "",
						inv_name((enum inv_id)i));
	}
	for (size_t i = 0; i < ECOM_ARRAY_LEN(mins); i++)
		if (mins[i].want >= 0 && mins[i].got < mins[i].want)
			len += (size_t)snprintf(p + len, len < cap ? cap - len : 0,
						"%s%s %lld < expected minimum %lld", len ? "; " : "",
						mins[i].name, (long long)mins[i].got,
						(long long)mins[i].want);
	if (w->n_rejected > 0)
		len += (size_t)snprintf(p + len, len < cap ? cap - len : 0,
					"%s%lld valid orders were rejected at creation",
					len ? "; " : "", (long long)w->n_rejected);
	res->expectations_met = len == 0;
}

static json_t *summary_instances(struct sim_world *w)
{
	json_t *a = json_object();

	for (int i = 0; i < w->n_inst; i++) {
		struct sim_instance *in = &w->inst[i];
		struct runtime_stats st = in->acc;
		json_t *o = json_object();

		if (in->alive) {
			struct runtime_stats cur;

			runtime_get_stats(in->rt, &cur);
			st.delivered += cur.delivered;
			st.handled += cur.handled;
			st.duplicates += cur.duplicates;
			st.dead_lettered += cur.dead_lettered;
			st.published += cur.published;
			st.sweep_published += cur.sweep_published;
			st.conflicts += cur.conflicts;
			st.retries += cur.retries;
			st.offsets_lost += cur.offsets_lost;
		}
		jsonx_set_int(o, "delivered", (int64_t)st.delivered);
		jsonx_set_int(o, "handled", (int64_t)st.handled);
		jsonx_set_int(o, "duplicates", (int64_t)st.duplicates);
		jsonx_set_int(o, "dead_lettered", (int64_t)st.dead_lettered);
		jsonx_set_int(o, "published", (int64_t)st.published);
		jsonx_set_int(o, "sweep_published", (int64_t)st.sweep_published);
		jsonx_set_int(o, "conflicts", (int64_t)st.conflicts);
		jsonx_set_int(o, "retries", (int64_t)st.retries);
		jsonx_set_int(o, "offsets_lost", (int64_t)st.offsets_lost);
		jsonx_set_int(o, "crashes", (int64_t)in->crashes);
		jsonx_set_new(a, in->name, o);
	}
	return a;
}

void world_summary(struct sim_world *w, struct sim_result *res)
{
	struct sum_counts k;
	json_t *s = json_object(), *f;
	char hex[17];

	inv_check_all(w, &w->inv);
	summary_count(w, &k);
	res->fired = w->inv.fired;
	summary_expect(w, &k, res);
	res->trace_hash = w->trace.hash;
	res->trace_lines = w->trace.lines;
	sim_trace_hash_hex(w->trace.hash, hex);

	jsonx_set_str(s, "scenario", w->scn->name);
	jsonx_set_int(s, "seed", (int64_t)w->seed);
	jsonx_set_int(s, "orders", w->n_accepted);
	jsonx_set_int(s, "shipped", k.shipped);
	jsonx_set_int(s, "cancelled", k.cancelled);
	jsonx_set_int(s, "stuck", k.stuck);
	jsonx_set_int(s, "deliveries", (int64_t)w->deliveries);
	jsonx_set_int(s, "duplicates", (int64_t)w->duplicates);
	jsonx_set_int(s, "crashes", (int64_t)w->n_crashes);
	jsonx_set_int(s, "sim_ms", world_now(w) / 1000);
	jsonx_set_int(s, "wall_ms", 0);
	jsonx_set_str(s, "trace_hash", hex);
	jsonx_set_new(s, "violations", json_deep_copy(w->inv.violations));
	jsonx_set_str(s, "result", res->expectations_met ? "pass" : "fail");
	if (!res->expectations_met)
		jsonx_set_str(s, "unmet", res->unmet);
	f = json_array();
	for (int i = 0; i < INV__COUNT; i++)
		if (w->scn->expect.violations & (1u << i))
			json_array_append_new(f, json_string(inv_name((enum inv_id)i)));
	jsonx_set_new(s, "expected_violations", f);
	jsonx_set_int(s, "created", w->n_orders);
	jsonx_set_int(s, "rejected", w->n_rejected);
	jsonx_set_int(s, "flagged_stuck", k.flagged_stuck);
	jsonx_set_int(s, "handled", (int64_t)w->handled);
	jsonx_set_int(s, "duplicates_injected", (int64_t)w->dup_injected);
	jsonx_set_int(s, "dead_letters", (int64_t)w->dead_letters);
	jsonx_set_int(s, "dead_letters_retries_exhausted", w->dl_exhausted);
	jsonx_set_int(s, "poison", (int64_t)w->n_poison);
	jsonx_set_int(s, "faults", (int64_t)w->n_faults);
	jsonx_set_int(s, "restarts", (int64_t)w->n_restarts);
	jsonx_set_int(s, "pauses", (int64_t)w->n_pauses);
	jsonx_set_int(s, "replayed", w->n_replayed);
	jsonx_set_int(s, "events", (int64_t)w->events);
	jsonx_set_int(s, "trace_lines", (int64_t)w->trace.lines);
	jsonx_set_int(s, "quiescent", w->quiescent);
	jsonx_set_new(s, "ops", json_deep_copy(w->op_results));
	jsonx_set_new(s, "instances", summary_instances(w));
	{
		/* Saga-path coverage: what the counters tell, merged with what the trace told. */
		struct cov_counts c;

		cov_counts_init(&c);
		cov_from_summary(&c, s);
		cov_merge_max(&c, &w->cov);
		jsonx_set_new(s, "coverage", cov_to_json(&c));
	}
	res->summary = s;
	res->violations = json_object_get(s, "violations");
	if (w->trace.record) {
		res->line_hashes = w->trace.rec;
		res->n_line_hashes = w->trace.n_rec;
		w->trace.rec = NULL;
		w->trace.n_rec = w->trace.cap_rec = 0;
	}
	res->first_diff = w->trace.first_diff;
	memcpy(res->diff_line, w->trace.diff_line, sizeof(res->diff_line));
	memcpy(res->captured, w->trace.captured, sizeof(res->captured));
}
