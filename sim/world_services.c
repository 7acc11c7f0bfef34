/* world_services.c — how the world builds each service: its svc_def, a fresh service
 * object per instance incarnation (a crash loses it), and the wiring the service needs
 * (the catalog, the simulated gateway/carrier, planted bugs). Also seeds the stock. */
#include "sim/world_int.h"

#include <stdio.h>

#include "services/inventory/inventory.h"
#include "services/order/order.h"
#include "services/payment/payment.h"
#include "services/read-model/read_model.h"
#include "services/shipping/shipping.h"

/* order */
static void *b_order_make(struct sim_world *w)
{
	struct order_config cfg = { .bugs = w->scn->bugs };

	return order_service_new(&w->catalog, &cfg);
}
static void b_order_free(void *s) { order_service_free(s); }
static void b_order_attach(void *s, struct runtime *rt) { order_service_attach(s, rt); }

/* inventory */
static void *b_inventory_make(struct sim_world *w)
{
	struct inventory_config cfg = { .catalog = &w->catalog };

	return inventory_service_new(&cfg);
}
static void b_inventory_free(void *s) { inventory_service_free(s); }

/* payment: every instance talks to the one simulated gateway (its ledger is the truth) */
static void *b_payment_make(struct sim_world *w)
{
	struct payment_config cfg = { .gateway = sim_gateway_iface(w->gateway) };

	return payment_service_new(&cfg);
}
static void b_payment_free(void *s) { payment_service_free(s); }

/* shipping */
static void *b_shipping_make(struct sim_world *w)
{
	struct shipping_config cfg = { .carrier = sim_carrier_iface(w->carrier) };

	return shipping_service_new(&cfg);
}
static void b_shipping_free(void *s) { shipping_service_free(s); }

/* read model */
static void *b_rm_make(struct sim_world *w)
{
	struct read_model_config cfg = { .bugs = w->scn->bugs };

	return read_model_new(&cfg);
}
static void b_rm_free(void *s) { read_model_free(s); }
static void b_rm_attach(void *s, struct runtime *rt) { read_model_attach(s, rt); }

static const struct svc_binding bindings[SCN_SVC_COUNT] = {
	[SCN_SVC_ORDER] = { order_svc_def, b_order_make, b_order_free, b_order_attach },
	[SCN_SVC_INVENTORY] = { inventory_svc_def, b_inventory_make, b_inventory_free, NULL },
	[SCN_SVC_PAYMENT] = { payment_svc_def, b_payment_make, b_payment_free, NULL },
	[SCN_SVC_SHIPPING] = { shipping_svc_def, b_shipping_make, b_shipping_free, NULL },
	[SCN_SVC_READ_MODEL] = { read_model_svc_def, b_rm_make, b_rm_free, b_rm_attach },
};

const struct svc_binding *world_binding(enum scn_service s)
{
	ECOM_ASSERT((int)s >= 0 && s < SCN_SVC_COUNT && bindings[s].def);
	return &bindings[s];
}

void world_seed_stock(struct sim_world *w)
{
	struct ecom_err err;
	int rc = inventory_seed_stock(w->stores[SCN_SVC_INVENTORY], &w->catalog, &err);

	ECOM_ASSERT(rc == ECOM_OK); /* the unfaulted in-memory store cannot fail */
}
