/* fuzz_scenario_load.c — libFuzzer target for the strict scenario loader: any text given to
 * scenario_load_string() is either rejected with ECOM_INVALID and a message naming the key,
 * or accepted as a scenario whose every field is inside the bounds sim/scenario.h declares
 * (the simulator sizes its arrays by them), with no crash, leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ecom.h"
#include "sim/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_range(const struct scn_range *r, int64_t lo_min)
{
	ECOM_ASSERT(r->lo >= lo_min && r->lo <= r->hi);
}

static void fuzz_check(const struct scenario *s)
{
	size_t i;

	ECOM_ASSERT(memchr(s->name, '\0', sizeof(s->name)));
	for (i = 0; i < SCN_SVC_COUNT; i++)
		ECOM_ASSERT(s->services[i] >= 1 && s->services[i] <= SCN_INSTANCES_MAX);
	ECOM_ASSERT(s->partitions >= 1 && s->partitions <= SCN_PARTITIONS_MAX);
	ECOM_ASSERT(s->catalog.skus >= 1 && s->catalog.skus <= SCN_SKUS_MAX);
	ECOM_ASSERT(s->catalog.stock >= 0);
	fuzz_check_range(&s->catalog.price_cents, 0);
	ECOM_ASSERT(s->workload.orders >= 0 && s->workload.orders <= SCN_ORDERS_MAX);
	ECOM_ASSERT(s->workload.rate_per_sec >= 0);
	fuzz_check_range(&s->workload.items, 1);
	ECOM_ASSERT(s->workload.items.hi <= SCN_ITEMS_MAX);
	fuzz_check_range(&s->workload.qty, 1);
	fuzz_check_range(&s->faults.delivery_delay_ms, 0);
	fuzz_check_range(&s->faults.restart_after_ms, 0);
	fuzz_check_range(&s->faults.partition_stall_ms, 0);
	fuzz_check_range(&s->faults.pause_ms, 0);
	ECOM_ASSERT(s->faults.gateway.n_outages <= SCN_WINDOWS_MAX);
	ECOM_ASSERT(s->faults.carrier.n_outages <= SCN_WINDOWS_MAX);
	ECOM_ASSERT(s->n_ops <= SCN_OPS_MAX);
	for (i = 0; i < s->n_ops; i++) {
		ECOM_ASSERT(s->ops[i].at_ms >= 0);
		ECOM_ASSERT(memchr(s->ops[i].instance, '\0', sizeof(s->ops[i].instance)));
	}
	ECOM_ASSERT(s->run.duration_ms >= 0 && s->run.duration_ms <= SCN_DURATION_MS_MAX);
	ECOM_ASSERT(s->run.quiesce_ms >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ecom_err err = { 0 };
	struct scenario *s;
	char *text;
	int rc;

	/* The loader takes a C string: an embedded NUL just ends the text early. */
	text = malloc(size + 1);
	ECOM_ASSERT(text);
	memcpy(text, data, size);
	text[size] = '\0';
	s = calloc(1, sizeof(*s));
	ECOM_ASSERT(s);
	rc = scenario_load_string(text, s, &err);
	if (rc == ECOM_OK) {
		fuzz_check(s);
	} else {
		ECOM_ASSERT(rc == ECOM_INVALID);
		ECOM_ASSERT(err.msg[0] != '\0');
	}
	scenario_deinit(s);
	free(s);
	free(text);
	return 0;
}
