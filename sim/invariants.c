/* invariants.c — names and the violation report. The checkers themselves live in
 * inv_check.c (end of run) and in the world's commit observer (continuous checks). */
#include "sim/invariants.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/ecom.h"

static const char *const inv_names[INV__COUNT] = {
	[INV_TERMINATION] = "termination",
	[INV_STOCK_CONSERVATION] = "stock_conservation",
	[INV_PAYMENT_BALANCE] = "payment_balance",
	[INV_EXACTLY_ONCE_EFFECTS] = "exactly_once_effects",
	[INV_PROJECTION_CONVERGENCE] = "projection_convergence",
	[INV_OUTBOX_DRAINED] = "outbox_drained",
	[INV_DLQ_ACCOUNTING] = "dlq_accounting",
};

const char *inv_name(enum inv_id id)
{
	ECOM_ASSERT((int)id >= 0 && id < INV__COUNT);
	return inv_names[id];
}

int inv_from_name(const char *name, enum inv_id *out)
{
	for (int i = 0; name && i < INV__COUNT; i++) {
		if (strcmp(name, inv_names[i]) == 0) {
			*out = (enum inv_id)i;
			return ECOM_OK;
		}
	}
	return ECOM_NOT_FOUND;
}

void inv_report_init(struct inv_report *r)
{
	memset(r, 0, sizeof(*r));
	r->violations = json_array();
}

void inv_report_deinit(struct inv_report *r)
{
	if (!r)
		return;
	json_decref(r->violations);
	r->violations = NULL;
}

void inv_report_add(struct inv_report *r, enum inv_id id, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	json_t *v;

	ECOM_ASSERT(r && (int)id >= 0 && id < INV__COUNT);
	r->fired |= 1u << id;
	if (r->count[id]++ >= INV_DETAILS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	v = json_object();
	json_object_set_new(v, "invariant", json_string(inv_name(id)));
	json_object_set_new(v, "detail", json_string(detail));
	json_array_append_new(r->violations, v);
}
