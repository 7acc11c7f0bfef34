/* test_scenario_cov.c — the scenario loader, key by key (DESIGN.md §5): every kind of bad
 * input (wrong type, out of range, unknown key or value, malformed pair, too many entries,
 * a file that is too big or holds a NUL) is refused with an error naming the key path and
 * the problem, and nothing is half-loaded; every accepted form lands in the right field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bugs.h"
#include "services/order/order.h"
#include "sim/invariants.h"
#include "sim/scenario.h"

struct bad_case {
	const char *text;
	const char *key;     /* the key path the error must name */
	const char *problem; /* and the problem */
};

/* Loads text, which must be refused; checks the message names key and problem and that
 * nothing was half-loaded. */
static void expect_refused(size_t i, const char *text, const char *key, const char *problem)
{
	struct scenario s;
	struct ecom_err err;
	int rc;

	ecom_err_clear(&err);
	rc = scenario_load_string(text, &s, &err);
	if (rc != ECOM_INVALID)
		fail_msg("case %zu (%s): rc %d, want INVALID", i, text, rc);
	if (!strstr(err.msg, key) || !strstr(err.msg, problem))
		fail_msg("case %zu (%s): error \"%s\" does not name \"%s\" / \"%s\"", i, text,
			 err.msg, key, problem);
	assert_null(s.description);
	assert_int_equal(s.n_ops, 0);
	scenario_deinit(&s);
}

static void test_bad_head_and_sections(void **state)
{
	static const struct bad_case cases[] = {
		{ "5", "(top level)", "must be a JSON object" },
		{ "{\"name\":\"\"}", "name", "non-empty string" },
		{ "{\"name\":7}", "name", "non-empty string" },
		{ "{\"description\":5}", "description", "must be a string" },
		{ "{\"description\":\"kept?\",\"seed\":-1}", "seed", "must be in [0," },
		{ "{\"seed\":1.5}", "seed", "must be an integer" },
		{ "{\"seed\":1,\"seed\":2}", "malformed JSON", "duplicate" },
		{ "{\"services\":[1]}", "services", "must be an object" },
		{ "{\"services\":{\"payment\":9}}", "services.payment", "must be in [1, 8]" },
		{ "{\"services\":{\"shipping\":\"2\"}}", "services.shipping", "must be an integer" },
		{ "{\"topics\":6}", "topics", "must be an object" },
		{ "{\"topics\":{\"parts\":6}}", "topics.parts", "unknown key" },
		{ "{\"topics\":{\"partitions\":65}}", "topics.partitions", "must be in [1, 64]" },
		{ "{\"topics\":{\"partitions\":0}}", "topics.partitions", "must be in [1, 64]" },
		{ "{\"catalog\":[]}", "catalog", "must be an object" },
		{ "{\"catalog\":{\"colour\":1}}", "catalog.colour", "unknown key" },
		{ "{\"catalog\":{\"skus\":0}}", "catalog.skus", "must be in [1, 10000]" },
		{ "{\"catalog\":{\"stock\":-1}}", "catalog.stock", "must be in [0," },
		{ "{\"catalog\":{\"price_cents\":[0,500]}}", "catalog.price_cents", "must lie within" },
		{ "{\"catalog\":{\"price_cents\":[1,100000001]}}", "catalog.price_cents",
		  "must lie within" },
		{ "{\"catalog\":{\"price_cents\":0}}", "catalog.price_cents", "must be in [1," },
		{ "{\"catalog\":{\"price_cents\":[\"a\",5]}}", "catalog.price_cents", "[lo, hi]" },
		{ "{\"catalog\":{\"price_cents\":[5,\"b\"]}}", "catalog.price_cents", "[lo, hi]" },
		{ "{\"catalog\":{\"price_cents\":[1,2,3]}}", "catalog.price_cents", "[lo, hi]" },
		{ "{\"catalog\":{\"price_cents\":\"cheap\"}}", "catalog.price_cents", "[lo, hi]" },
		{ "{\"workload\":3}", "workload", "must be an object" },
		{ "{\"workload\":{\"order\":3}}", "workload.order", "unknown key" },
		{ "{\"workload\":{\"orders\":100001}}", "workload.orders", "must be in [0, 100000]" },
		{ "{\"workload\":{\"rate_per_sec\":0}}", "workload.rate_per_sec", "must be > 0" },
		{ "{\"workload\":{\"rate_per_sec\":100001}}", "workload.rate_per_sec",
		  "must be at most 100000" },
		{ "{\"workload\":{\"rate_per_sec\":\"fast\"}}", "workload.rate_per_sec",
		  "must be a number" },
		{ "{\"workload\":{\"arrival\":\"burst\"}}", "workload.arrival",
		  "\"poisson\" or \"fixed\"" },
		{ "{\"workload\":{\"arrival\":1}}", "workload.arrival", "\"poisson\" or \"fixed\"" },
		{ "{\"workload\":{\"items\":[1,21]}}", "workload.items", "must lie within [1, 20]" },
		{ "{\"workload\":{\"items\":0}}", "workload.items", "must be in [1, 20]" },
		{ "{\"workload\":{\"qty\":[0,2]}}", "workload.qty", "must lie within" },
		{ "{\"business\":\"x\"}", "business", "must be an object" },
		{ "{\"business\":{\"refund\":0.1}}", "business.refund", "unknown key" },
		{ "{\"business\":{\"shipping_failure\":2}}", "business.shipping_failure",
		  "probability must be in [0, 1]" },
		{ "{\"run\":[]}", "run", "must be an object" },
		{ "{\"run\":{\"until\":5}}", "run.until", "unknown key" },
		{ "{\"run\":{\"quiesce_ms\":-1}}", "run.quiesce_ms", "must be in [0," },
		{ "{\"run\":{\"duration_ms\":86400001}}", "run.duration_ms", "must be in [1," },
		{ "{\"bugs\":\"oversell\"}", "bugs", "must be an array of bug names" },
		{ "{\"bugs\":[7]}", "bugs[0]", "(not a string)" },
		{ "{\"expect\":[]}", "expect", "must be an object" },
		{ "{\"expect\":{\"max_shipped\":1}}", "expect.max_shipped", "unknown key" },
		{ "{\"expect\":{\"min_crashes\":-1}}", "expect.min_crashes", "must be in [0," },
		{ "{\"expect\":{\"min_ops_refused\":\"1\"}}", "expect.min_ops_refused",
		  "must be an integer" },
		{ "{\"expect\":{\"violations\":\"termination\"}}", "expect.violations",
		  "must be an array of invariant names" },
		{ "{\"expect\":{\"violations\":[3]}}", "expect.violations[0]", "(not a string)" },
	};

	(void)state;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(cases); i++)
		expect_refused(i, cases[i].text, cases[i].key, cases[i].problem);
}

/* A workload the order service is bound to refuse is a bad scenario (exit 2 naming the
 * key), not a run that fails with "valid orders were rejected". */
static void test_qty_beyond_order_service_limit(void **state)
{
	char text[128];
	struct scenario s;
	struct ecom_err err;

	(void)state;
	snprintf(text, sizeof(text), "{\"workload\":{\"qty\":[1,%d]}}", ORDER_QTY_MAX + 1);
	expect_refused(0, text, "workload.qty", "must lie within [1, 1000]");
	snprintf(text, sizeof(text), "{\"workload\":{\"qty\":%d}}", ORDER_QTY_MAX + 1);
	expect_refused(1, text, "workload.qty", "must be in [1, 1000]");
	snprintf(text, sizeof(text), "{\"workload\":{\"qty\":[%d,%d]}}", ORDER_QTY_MAX,
		 ORDER_QTY_MAX);
	ecom_err_clear(&err);
	assert_int_equal(scenario_load_string(text, &s, &err), ECOM_OK);
	assert_int_equal(s.workload.qty.lo, ORDER_QTY_MAX);
	scenario_deinit(&s);
}

static void test_bad_faults(void **state)
{
	static const struct bad_case cases[] = {
		{ "{\"faults\":1}", "faults", "must be an object" },
		{ "{\"faults\":{\"store_error\":0.6,\"store_ambiguous\":0.6}}",
		  "faults.store_ambiguous", "store_error + store_ambiguous > 1" },
		{ "{\"faults\":{\"duplicate_delivery\":true}}", "faults.duplicate_delivery",
		  "must be a number" },
		{ "{\"faults\":{\"carrier_ambiguous\":1.01}}", "faults.carrier_ambiguous",
		  "probability" },
		{ "{\"faults\":{\"partition_stall\":-0.5}}", "faults.partition_stall", "negative" },
		{ "{\"faults\":{\"pause_rate_per_sec\":101}}", "faults.pause_rate_per_sec",
		  "must be at most 100" },
		{ "{\"faults\":{\"crash_rate_per_sec\":\"often\"}}", "faults.crash_rate_per_sec",
		  "must be a number" },
		{ "{\"faults\":{\"partition_stall_ms\":[-1,5]}}", "faults.partition_stall_ms",
		  "must lie within [0, 600000]" },
		{ "{\"faults\":{\"pause_ms\":[5,1]}}", "faults.pause_ms", "lo > hi" },
		{ "{\"faults\":{\"restart_after_ms\":700000}}", "faults.restart_after_ms",
		  "must be in [0, 600000]" },
		{ "{\"faults\":{\"crash_services\":\"order\"}}", "faults.crash_services",
		  "must be an array of service names" },
		{ "{\"faults\":{\"crash_services\":[\"order\",3]}}", "faults.crash_services[1]",
		  "unknown service" },
		{ "{\"faults\":{\"gateway_outage_ms\":[10,20]}}", "faults.gateway_outage_ms[0]",
		  "[from_ms, to_ms] pair" },
		{ "{\"faults\":{\"carrier_outage_ms\":{\"from\":1}}}", "faults.carrier_outage_ms",
		  "must be an array of [from_ms, to_ms] pairs" },
		{ "{\"faults\":{\"carrier_outage_ms\":[[1,2],[3]]}}", "faults.carrier_outage_ms[1]",
		  "[lo, hi]" },
		{ "{\"faults\":{\"gateway_outage_ms\":[[0,86400001]]}}",
		  "faults.gateway_outage_ms[0]", "must lie within" },
	};
	char text[1024];
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(cases); i++)
		expect_refused(i, cases[i].text, cases[i].key, cases[i].problem);
	/* one window more than the bound */
	n += (size_t)snprintf(text, sizeof(text), "{\"faults\":{\"gateway_outage_ms\":[");
	for (int i = 0; i <= SCN_WINDOWS_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s[%d,%d]", i ? "," : "",
				      i * 10, i * 10 + 5);
	snprintf(text + n, sizeof(text) - n, "]}}");
	expect_refused(99, text, "faults.gateway_outage_ms", "at most 16 windows");
}

static void test_bad_ops(void **state)
{
	static const struct bad_case cases[] = {
		{ "{\"ops\":{}}", "ops", "must be an array" },
		{ "{\"ops\":[5]}", "ops[0]", "must be an object" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"dlq_replay\",\"when\":2}]}", "ops[0].when",
		  "unknown key" },
		{ "{\"ops\":[{\"at_ms\":-1,\"op\":\"dlq_replay\"}]}", "ops[0].at_ms",
		  "must be in [0," },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":5}]}", "ops[0].op", "required string is missing" },
		{ "{\"ops\":[{\"at_ms\":1}]}", "ops[0].op", "required string is missing" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"compensate\",\"action\":\"refundPayment\"}]}",
		  "ops[0].order", "required integer is missing" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"compensate\",\"order\":0,"
		  "\"action\":\"refundPayment\"}]}", "ops[0].order", "must be in [1," },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"compensate\",\"order\":1,"
		  "\"action\":\"refundAll\"}]}", "ops[0].action", "unknown value \"refundAll\"" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"retry\",\"order\":1,\"step\":\"billing\"}]}",
		  "ops[0].step", "unknown value \"billing\"" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"dlq_replay\"},{\"at_ms\":2,\"op\":\"crash\"}]}",
		  "ops[1].instance", "required string is missing" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"crash\",\"instance\":\"payment\"}]}",
		  "ops[0].instance", "must look like \"payment#1\"" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"crash\",\"instance\":\"web#1\"}]}",
		  "ops[0].instance", "unknown service \"web\"" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"crash\",\"instance\":\"payment#x\"}]}",
		  "ops[0].instance", "payment has 1 instance(s)" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"crash\",\"instance\":\"payment#0\"}]}",
		  "ops[0].instance", "payment has 1 instance(s)" },
		{ "{\"ops\":[{\"at_ms\":1,\"op\":\"crash\","
		  "\"instance\":\"read-model#1-and-a-very-long-tail\"}]}", "ops[0].instance",
		  "too long" },
		/* ops are read after services: the instance count of this file applies */
		{ "{\"services\":{\"shipping\":2},\"ops\":[{\"at_ms\":1,\"op\":\"crash\","
		  "\"instance\":\"shipping#3\"}]}", "ops[0].instance", "shipping has 2 instance(s)" },
	};
	size_t cap = 64 + (SCN_OPS_MAX + 1) * 32, n = 0;
	char *text = malloc(cap);

	(void)state;
	for (size_t i = 0; i < ECOM_ARRAY_LEN(cases); i++)
		expect_refused(i, cases[i].text, cases[i].key, cases[i].problem);
	assert_non_null(text);
	n += (size_t)snprintf(text, cap, "{\"ops\":[");
	for (int i = 0; i <= SCN_OPS_MAX; i++)
		n += (size_t)snprintf(text + n, cap - n, "%s{\"at_ms\":%d,\"op\":\"dlq_replay\"}",
				      i ? "," : "", i);
	snprintf(text + n, cap - n, "]}");
	expect_refused(99, text, "ops", "at most 256 ops");
	free(text);
}

static void test_name_bounds(void **state)
{
	char text[SCN_NAME_MAX + 64], name[SCN_NAME_MAX + 1];
	struct scenario s;
	struct ecom_err err;

	(void)state;
	memset(name, 'n', SCN_NAME_MAX);
	name[SCN_NAME_MAX] = '\0';
	snprintf(text, sizeof(text), "{\"name\":\"%s\"}", name);
	expect_refused(0, text, "name", "under 128 bytes");
	name[SCN_NAME_MAX - 1] = '\0'; /* 127 bytes: the longest accepted */
	snprintf(text, sizeof(text), "{\"name\":\"%s\"}", name);
	ecom_err_clear(&err);
	assert_int_equal(scenario_load_string(text, &s, &err), ECOM_OK);
	assert_int_equal(strlen(s.name), SCN_NAME_MAX - 1);
	scenario_deinit(&s);
}

/* Every fault key lands in its own field (the loader maps them through a table). */
static void test_every_fault_key_lands_in_its_field(void **state)
{
	static const char *text =
		"{\"faults\":{\"duplicate_delivery\":0.01,\"store_error\":0.02,"
		"\"store_ambiguous\":0.03,\"produce_error\":0.04,\"poison\":0.05,"
		"\"gateway_error\":0.06,\"partition_stall\":0.07,\"gateway_ambiguous\":0.08,"
		"\"carrier_error\":0.09,\"carrier_ambiguous\":0.10,"
		"\"delivery_delay_ms\":[1,2],\"crash_rate_per_sec\":0.5,\"restart_after_ms\":300,"
		"\"pause_rate_per_sec\":0.25,\"pause_ms\":[3,4],\"partition_stall_ms\":[5,6],"
		"\"crash_services\":[\"payment\",\"read-model\"],"
		"\"gateway_outage_ms\":[[10,20],[30,40]],\"carrier_outage_ms\":[[50,60]]}}";
	struct scenario s;
	struct ecom_err err;

	(void)state;
	ecom_err_clear(&err);
	if (scenario_load_string(text, &s, &err) != ECOM_OK)
		fail_msg("%s", err.msg);
	assert_true(s.faults.duplicate_delivery == 0.01);
	assert_true(s.faults.store_error == 0.02);
	assert_true(s.faults.store_ambiguous == 0.03);
	assert_true(s.faults.produce_error == 0.04);
	assert_true(s.faults.poison == 0.05);
	assert_true(s.faults.gateway.error == 0.06);
	assert_true(s.faults.partition_stall == 0.07);
	assert_true(s.faults.gateway.ambiguous == 0.08);
	assert_true(s.faults.carrier.error == 0.09);
	assert_true(s.faults.carrier.ambiguous == 0.10);
	assert_int_equal(s.faults.delivery_delay_ms.lo, 1);
	assert_int_equal(s.faults.delivery_delay_ms.hi, 2);
	assert_true(s.faults.crash_rate_per_sec == 0.5);
	/* a bare integer is the range [n, n] */
	assert_int_equal(s.faults.restart_after_ms.lo, 300);
	assert_int_equal(s.faults.restart_after_ms.hi, 300);
	assert_true(s.faults.pause_rate_per_sec == 0.25);
	assert_int_equal(s.faults.pause_ms.lo, 3);
	assert_int_equal(s.faults.pause_ms.hi, 4);
	assert_int_equal(s.faults.partition_stall_ms.lo, 5);
	assert_int_equal(s.faults.partition_stall_ms.hi, 6);
	assert_int_equal(s.faults.crash_services,
			 (1u << SCN_SVC_PAYMENT) | (1u << SCN_SVC_READ_MODEL));
	assert_int_equal(s.faults.gateway.n_outages, 2);
	assert_int_equal(s.faults.gateway.outages_ms[1].lo, 30);
	assert_int_equal(s.faults.gateway.outages_ms[1].hi, 40);
	assert_int_equal(s.faults.carrier.n_outages, 1);
	assert_int_equal(s.faults.carrier.outages_ms[0].hi, 60);
	scenario_deinit(&s);

	/* an empty list means no instance may crash */
	assert_int_equal(scenario_load_string("{\"faults\":{\"crash_services\":[]}}", &s, &err),
			 ECOM_OK);
	assert_int_equal(s.faults.crash_services, 0);
	scenario_deinit(&s);
}

static void test_workload_run_expect_fields(void **state)
{
	static const char *text =
		"{\"name\":\"fields\",\"description\":\"every field of the workload, run and "
		"expect sections\",\"seed\":0,"
		"\"services\":{\"order\":2,\"read-model\":3},"
		"\"workload\":{\"orders\":0,\"rate_per_sec\":0.5,\"arrival\":\"fixed\","
		"\"items\":2,\"qty\":[2,5]},"
		"\"run\":{\"duration_ms\":1,\"quiesce_ms\":0},"
		"\"bugs\":[\"oversell\",\"no_deadline\"],"
		"\"expect\":{\"violations\":[],\"min_shipped\":1,\"min_cancelled\":2,"
		"\"min_crashes\":3,\"min_duplicates\":4,\"min_dead_letters\":5,\"min_poison\":6,"
		"\"min_ops_ok\":7,\"min_ops_refused\":8},"
		"\"ops\":[{\"at_ms\":0,\"op\":\"crash\",\"instance\":\"read-model#3\"}]}";
	struct scenario s;
	struct ecom_err err;

	(void)state;
	ecom_err_clear(&err);
	if (scenario_load_string(text, &s, &err) != ECOM_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(s.name, "fields");
	assert_non_null(strstr(s.description, "every field"));
	assert_int_equal(s.seed, 0);
	assert_int_equal(s.services[SCN_SVC_ORDER], 2);
	assert_int_equal(s.services[SCN_SVC_READ_MODEL], 3);
	assert_int_equal(s.services[SCN_SVC_PAYMENT], 1);
	assert_int_equal(s.workload.orders, 0);
	assert_true(s.workload.rate_per_sec == 0.5);
	assert_int_equal(s.workload.fixed_interval, 1);
	assert_int_equal(s.workload.items.lo, 2);
	assert_int_equal(s.workload.items.hi, 2);
	assert_int_equal(s.workload.qty.lo, 2);
	assert_int_equal(s.workload.qty.hi, 5);
	assert_int_equal(s.run.duration_ms, 1);
	assert_int_equal(s.run.quiesce_ms, 0);
	assert_int_equal(s.bugs, BUG_OVERSELL | BUG_NO_DEADLINE);
	assert_int_equal(s.expect.violations, 0);
	assert_int_equal(s.expect.min_shipped, 1);
	assert_int_equal(s.expect.min_cancelled, 2);
	assert_int_equal(s.expect.min_crashes, 3);
	assert_int_equal(s.expect.min_duplicates, 4);
	assert_int_equal(s.expect.min_dead_letters, 5);
	assert_int_equal(s.expect.min_poison, 6);
	assert_int_equal(s.expect.min_ops_ok, 7);
	assert_int_equal(s.expect.min_ops_refused, 8);
	assert_int_equal(s.n_ops, 1);
	assert_int_equal(s.ops[0].kind, SCN_OP_CRASH);
	assert_string_equal(s.ops[0].instance, "read-model#3");
	scenario_deinit(&s);

	/* "poisson" is the default arrival, and may be named */
	assert_int_equal(scenario_load_string("{\"workload\":{\"arrival\":\"poisson\"}}", &s,
					      &err), ECOM_OK);
	assert_int_equal(s.workload.fixed_interval, 0);
	scenario_deinit(&s);
}

static void test_names(void **state)
{
	static const char *const svcs[SCN_SVC_COUNT] = { "order", "inventory", "payment",
							 "shipping", "read-model" };
	static const char *const ops[] = { "retry", "compensate", "dlq_replay", "crash" };
	enum scn_service id;

	(void)state;
	for (int i = 0; i < SCN_SVC_COUNT; i++) {
		assert_string_equal(scn_service_name((enum scn_service)i), svcs[i]);
		assert_int_equal(scn_service_from_name(svcs[i], &id), ECOM_OK);
		assert_int_equal(id, i);
	}
	assert_int_equal(scn_service_from_name("Order", &id), ECOM_NOT_FOUND);
	assert_int_equal(scn_service_from_name(NULL, &id), ECOM_NOT_FOUND);
	for (size_t k = 0; k < ECOM_ARRAY_LEN(ops); k++)
		assert_string_equal(scn_op_name((enum scn_op_kind)k), ops[k]);
	scenario_deinit(NULL); /* allowed, like free(NULL) */
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_files(void **state)
{
	char path[64];
	struct scenario s;
	struct ecom_err err;
	size_t big = (4u << 20) + 1;
	char *buf;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/ecom-scn-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);

	/* a NUL byte inside the JSON text would hide the rest from the parser */
	write_file(path, "{\"name\":\"a\"}\0{\"seed\":\"x\"}", 25);
	ecom_err_clear(&err);
	assert_int_equal(scenario_load_file(path, &s, &err), ECOM_INVALID);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "contains a NUL byte"));
	scenario_deinit(&s);

	/* a scenario is a small file: one byte over 4 MiB is refused before parsing */
	buf = malloc(big);
	assert_non_null(buf);
	memset(buf, ' ', big);
	buf[0] = '{';
	buf[big - 1] = '}';
	write_file(path, buf, big);
	ecom_err_clear(&err);
	assert_int_equal(scenario_load_file(path, &s, &err), ECOM_INVALID);
	assert_non_null(strstr(err.msg, "larger than 4194304 bytes"));
	scenario_deinit(&s);
	/* exactly 4 MiB is fine */
	buf[big - 2] = '}';
	write_file(path, buf, big - 1);
	assert_int_equal(scenario_load_file(path, &s, &err), ECOM_OK);
	assert_string_equal(s.name, "unnamed");
	scenario_deinit(&s);
	free(buf);

	/* an error inside the file names the key, and malformed JSON its position */
	write_file(path, "{\"run\":{\"duration_ms\":0}}", 25);
	assert_int_equal(scenario_load_file(path, &s, &err), ECOM_INVALID);
	assert_non_null(strstr(err.msg, "run.duration_ms"));
	scenario_deinit(&s);
	write_file(path, "{\"seed\":\n", 9);
	assert_int_equal(scenario_load_file(path, &s, &err), ECOM_INVALID);
	assert_non_null(strstr(err.msg, "malformed JSON at 2:"));
	assert_int_equal(s.seed, 1); /* defaults, not half a scenario */
	scenario_deinit(&s);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_head_and_sections),
		cmocka_unit_test(test_qty_beyond_order_service_limit),
		cmocka_unit_test(test_bad_faults),
		cmocka_unit_test(test_bad_ops),
		cmocka_unit_test(test_name_bounds),
		cmocka_unit_test(test_every_fault_key_lands_in_its_field),
		cmocka_unit_test(test_workload_run_expect_fields),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_files),
	};
	return cmocka_run_group_tests_name("scenario_cov", tests, NULL, NULL);
}
