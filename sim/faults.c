/* faults.c — the crash point counter and the one fault draw every wrapper uses. */
#include "sim/faults.h"

#include "core/ecom.h"

static const char *const fault_poison_names[FAULT_POISON__COUNT] = {
	"malformed", "schema", "unknown_type",
};

const char *fault_poison_kind_name(enum fault_poison_kind k)
{
	ECOM_ASSERT((int)k >= 0 && k < FAULT_POISON__COUNT);
	return fault_poison_names[k];
}

int fault_crashpoint_enter(struct fault_crashpoint *cp)
{
	if (!cp)
		return 0;
	if (cp->crashed)
		return 1;
	cp->calls++;
	return 0;
}

void fault_crashpoint_leave(struct fault_crashpoint *cp)
{
	if (cp && !cp->crashed && cp->crash_after > 0 && cp->calls >= cp->crash_after)
		cp->crashed = 1;
}

int fault_draw(struct fault_plan *plan, double p)
{
	if (!plan || !plan->active || p <= 0 || !plan->rng)
		return 0;
	return rng_chance(plan->rng, p);
}
