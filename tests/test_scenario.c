/* test_scenario.c — the scenario loader: every file in scenarios/ loads; defaults are the
 * demo's; each class of bad input is refused with an error naming the key and the problem. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bugs.h"
#include "sim/invariants.h"
#include "sim/scenario.h"

/* The repo root, from this file's path (CMake compiles with absolute paths). */
static void repo_root(char *out, size_t cap)
{
	const char *f = __FILE__;
	const char *p = strstr(f, "tests/test_scenario.c");

	snprintf(out, cap, "%.*s", p ? (int)(p - f) : 0, f);
	if (!out[0])
		snprintf(out, cap, "./");
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_every_scenario_file_loads(void **state)
{
	char root[1024], dir[1100], path[1400];
	char *names[512];
	size_t n = 0;
	struct dirent *de;
	DIR *d;

	(void)state;
	repo_root(root, sizeof(root));
	snprintf(dir, sizeof(dir), "%sscenarios", root);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) && n < ECOM_ARRAY_LEN(names)) {
		size_t len = strlen(de->d_name);

		if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		struct scenario s;
		struct ecom_err err;

		ecom_err_clear(&err);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (scenario_load_file(path, &s, &err) != ECOM_OK)
			fail_msg("%s: %s", names[i], err.msg);
		assert_non_null(s.description); /* every scenario says what it proves */
		assert_true(strlen(s.description) > 20);
		scenario_deinit(&s);
		free(names[i]);
	}
}

static void test_defaults(void **state)
{
	struct scenario s;
	struct ecom_err err;

	(void)state;
	assert_int_equal(scenario_load_string("{}", &s, &err), ECOM_OK);
	assert_int_equal(s.catalog.skus, 100);
	assert_int_equal(s.catalog.price_cents.lo, 1000);
	assert_int_equal(s.catalog.price_cents.hi, 1000);
	assert_int_equal(s.catalog.stock, 1000);
	for (int i = 0; i < SCN_SVC_COUNT; i++)
		assert_int_equal(s.services[i], 1);
	assert_int_equal(s.expect.violations, 0);
	assert_int_equal(s.bugs, 0);
	assert_true(s.faults.poison == 0 && s.faults.store_error == 0);
	scenario_deinit(&s);
}

static void test_design_example_loads(void **state)
{
	static const char *text =
		"{\"name\":\"chaos-duplicates\",\"seed\":42,"
		"\"services\":{\"order\":1,\"inventory\":2,\"payment\":2,\"shipping\":1,"
		"\"read-model\":1},\"topics\":{\"partitions\":6},"
		"\"catalog\":{\"skus\":20,\"stock\":40,\"price_cents\":[500,5000]},"
		"\"workload\":{\"orders\":300,\"rate_per_sec\":50,\"items\":[1,3],\"qty\":[1,3]},"
		"\"business\":{\"payment_decline\":0.1,\"shipping_failure\":0.05},"
		"\"faults\":{\"duplicate_delivery\":0.2,\"delivery_delay_ms\":[0,50],"
		"\"crash_rate_per_sec\":0.05,\"restart_after_ms\":[50,2000],\"store_error\":0.01,"
		"\"store_ambiguous\":0.005,\"produce_error\":0.01,\"poison\":0.005,"
		"\"gateway_outage_ms\":[[5000,15000]]},"
		"\"ops\":[{\"at_ms\":4000,\"op\":\"retry\",\"order\":3,\"step\":\"payment\"},"
		"{\"at_ms\":5000,\"op\":\"compensate\",\"order\":4,\"action\":\"refundPayment\"},"
		"{\"at_ms\":9000,\"op\":\"dlq_replay\"},"
		"{\"at_ms\":100,\"op\":\"crash\",\"instance\":\"payment#2\"}],"
		"\"run\":{\"duration_ms\":20000,\"quiesce_ms\":60000},"
		"\"bugs\":[\"skip_inbox_dedup\"],"
		"\"expect\":{\"violations\":[\"exactly_once_effects\"],\"min_shipped\":1}}";
	struct scenario s;
	struct ecom_err err;

	(void)state;
	ecom_err_clear(&err);
	if (scenario_load_string(text, &s, &err) != ECOM_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(s.name, "chaos-duplicates");
	assert_int_equal(s.seed, 42);
	assert_int_equal(s.services[SCN_SVC_INVENTORY], 2);
	assert_int_equal(s.services[SCN_SVC_READ_MODEL], 1);
	assert_int_equal(s.catalog.price_cents.lo, 500);
	assert_int_equal(s.catalog.price_cents.hi, 5000);
	assert_int_equal(s.workload.orders, 300);
	assert_true(s.faults.duplicate_delivery == 0.2);
	assert_int_equal(s.faults.delivery_delay_ms.hi, 50);
	assert_int_equal(s.faults.gateway.n_outages, 1);
	assert_int_equal(s.faults.gateway.outages_ms[0].lo, 5000);
	assert_int_equal(s.n_ops, 4);
	assert_int_equal(s.ops[0].kind, SCN_OP_RETRY);
	assert_string_equal(s.ops[0].step, "payment");
	assert_int_equal(s.ops[1].kind, SCN_OP_COMPENSATE);
	assert_string_equal(s.ops[1].action, "refundPayment");
	assert_int_equal(s.ops[2].kind, SCN_OP_DLQ_REPLAY);
	assert_int_equal(s.ops[3].kind, SCN_OP_CRASH);
	assert_int_equal(s.bugs, BUG_SKIP_INBOX_DEDUP);
	assert_int_equal(s.expect.violations, 1u << INV_EXACTLY_ONCE_EFFECTS);
	assert_int_equal(s.expect.min_shipped, 1);
	scenario_deinit(&s);
}

struct bad_case {
	const char *text;
	const char *want1; /* the key path */
	const char *want2; /* the problem */
};

static void test_bad_inputs_name_the_key(void **state)
{
	static const struct bad_case cases[] = {
		{ "{\"faultz\":{}}", "faultz", "unknown key" },
		{ "{\"faults\":{\"store_eror\":0.1}}", "faults.store_eror", "unknown key" },
		{ "{\"seed\":\"42\"}", "seed", "must be an integer" },
		{ "{\"workload\":{\"orders\":1.5}}", "workload.orders", "must be an integer" },
		{ "{\"business\":{\"payment_decline\":\"high\"}}", "business.payment_decline",
		  "must be a number" },
		{ "{\"faults\":{\"crash_rate_per_sec\":-1}}", "faults.crash_rate_per_sec",
		  "negative" },
		{ "{\"workload\":{\"rate_per_sec\":-5}}", "workload.rate_per_sec", "negative" },
		{ "{\"faults\":{\"store_error\":1.5}}", "faults.store_error", "probability" },
		{ "{\"faults\":{\"poison\":-0.1}}", "faults.poison", "negative" },
		{ "{\"workload\":{\"qty\":[3,1]}}", "workload.qty", "lo > hi" },
		{ "{\"faults\":{\"delivery_delay_ms\":[50,0]}}", "faults.delivery_delay_ms",
		  "lo > hi" },
		{ "{\"catalog\":{\"price_cents\":[5]}}", "catalog.price_cents", "[lo, hi]" },
		{ "{\"services\":{\"paymnt\":2}}", "services.paymnt", "unknown service" },
		{ "{\"services\":{\"payment\":0}}", "services.payment", "must be in" },
		{ "{\"faults\":{\"crash_services\":[\"web\"]}}", "faults.crash_services[0]",
		  "unknown service" },
		{ "{\"bugs\":[\"skip_inbox_dedup\",\"no_such_bug\"]}", "bugs[1]",
		  "unknown bug name" },
		{ "{\"expect\":{\"violations\":[\"termination\",\"fast\"]}}",
		  "expect.violations[1]", "unknown invariant" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"explode\"}]}", "ops[0].op", "unknown value" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"retry\",\"order\":1}]}", "ops[0].step",
		  "missing" },
		{ "{\"ops\":[{\"op\":\"dlq_replay\"}]}", "ops[0].at_ms", "missing" },
		{ "{\"workload\":{\"orders\":5},\"ops\":[{\"at_ms\":1,\"op\":\"retry\","
		  "\"order\":9,\"step\":\"payment\"}]}", "ops[0].order", "only 5 orders" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"crash\",\"instance\":\"payment#3\"}]}",
		  "ops[0].instance", "1 instance" },
		{ "{\"run\":{\"duration_ms\":0}}", "run.duration_ms", "must be in" },
		{ "{\"faults\":{\"gateway_outage_ms\":[[10,5]]}}", "faults.gateway_outage_ms[0]",
		  "lo > hi" },
		{ "[1,2]", "top level", "object" },
		{ "{\"name\": 1", "", "" }, /* malformed JSON: the parser's message */
	};

	(void)state;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(cases); i++) {
		struct scenario s;
		struct ecom_err err;
		int rc;

		ecom_err_clear(&err);
		rc = scenario_load_string(cases[i].text, &s, &err);
		if (rc != ECOM_INVALID)
			fail_msg("case %zu (%s): rc %d, want INVALID", i, cases[i].text, rc);
		if (!strstr(err.msg, cases[i].want1) || !strstr(err.msg, cases[i].want2))
			fail_msg("case %zu: error \"%s\" does not name \"%s\" / \"%s\"", i, err.msg,
				 cases[i].want1, cases[i].want2);
		assert_true(err.msg[0] != '\0');
		assert_null(s.description); /* nothing half-loaded */
		scenario_deinit(&s);
	}
}

static void test_missing_file(void **state)
{
	struct scenario s;
	struct ecom_err err;

	(void)state;
	assert_int_equal(scenario_load_file("/nonexistent/x.json", &s, &err), ECOM_NOT_FOUND);
	assert_non_null(strstr(err.msg, "/nonexistent/x.json"));
	scenario_deinit(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_scenario_file_loads),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_design_example_loads),
		cmocka_unit_test(test_bad_inputs_name_the_key),
		cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests_name("scenario", tests, NULL, NULL);
}
