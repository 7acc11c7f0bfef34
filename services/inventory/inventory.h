/* inventory.h — the inventory service: per-order reservations that hold every SKU of an
 * order or none (docs/saga.md), and per-SKU stock aggregates where every unit is either
 * available, held by one order, or shipped (available + held + shipped == initial, always;
 * available never negative). Domain logic only: all I/O goes through a runtime.
 *
 * Aggregates (flat runtime documents; reserved keys omitted):
 *   stock/<sku>:          {sku, initial, available, held, shipped,
 *                          holds: {<orderId>: {qty, attempt}}}   (only active holds)
 *   reservations/<orderId>: {orderId, known, total_cents, attempt, phase,
 *                          lines: [{sku, qty, st}] (sorted by sku, one per distinct SKU),
 *                          fail_reason, fail_emitted, release_notice}
 *     phase: awaiting_order | reserving | reserved | committed | failed | released
 *     st:    none | pending | held | refused | releasing | released | committing | committed
 *
 * The reservation talks to the stock aggregates with StockCommand{orderId, sku, qty, op,
 * attempt} (key = SKU) and hears back StockResult{..., ok, reason?}. Decisions:
 *   - InventoryReserved{orderId, reservedItems, total, attempt} once every hold answered ok.
 *   - A refused hold: release the holds that succeeded; InventoryFailed{out_of_stock} only
 *     once those releases answered, so "failed" means nothing is held.
 *   - StepTimeout{inventory} on an incomplete reservation: the attempt is cancelled, holds
 *     that succeeded are released, and InventoryFailed{deadline} is emitted at once (a hold
 *     that may never answer must not keep the order waiting); a hold that answers ok later
 *     is released when its result arrives.
 *   - PaymentFailed / ShippingFailed / CompensationRequested{releaseInventory}: release
 *     every hold not committed; InventoryReleased once the releases answered (at once if
 *     nothing was held: the order always learns the outcome).
 *   - Any StockResult saying "held" for a line the reservation no longer wants (a late or
 *     redelivered hold, an older attempt) triggers a release, so no hold outlives its saga.
 * Stock commands are idempotent per (SKU, orderId, attempt): a hold on an active hold is a
 * no-op answering ok; release/commit of an absent hold answers ok with qty 0; a hold of a
 * newer attempt takes over an older attempt's hold; commands of an older attempt never
 * touch a newer attempt's hold (a stale hold answers ok:false "stale_attempt").
 *
 * Planted bugs: BUG_OVERSELL (holds without checking available: available goes negative),
 * BUG_RELEASE_STOCK_TWICE (the reservation sends every release twice and a release of an
 * absent hold trusts the command's qty: available grows past initial). */
#ifndef ECOM_SERVICES_INVENTORY_H
#define ECOM_SERVICES_INVENTORY_H

#include "core/catalog.h"
#include "core/ecom.h"
#include "core/store.h"
#include "runtime/runtime.h"

#define INVENTORY_COLL_RESERVATIONS "reservations"
#define INVENTORY_COLL_STOCK "stock"
/* eventIds remembered per aggregate. A stock document sees every command for its SKU, so
 * its inbox is bounded (and small: the document is read and written whole for every
 * command, so each remembered id costs every command); a command redelivered after 64
 * newer ones on the same SKU is still harmless: holds/releases/commits are idempotent per
 * (orderId, attempt), and a hold re-applied after its release is released again by the
 * reservation (see above). */
#define INVENTORY_INBOX_MAX 64
/* Distinct SKUs one reservation handles (an order has at most this many lines). */
#define INVENTORY_LINES_MAX 1000

struct inventory_config {
	/* May be NULL. When set, a command for a SKU that was never seeded seeds it from
	 * the catalog first; a SKU outside the catalog (or with no catalog) gets a stock
	 * document with 0 units, so its holds are refused "out_of_stock". Borrowed. */
	const struct catalog *catalog;
};

struct inventory_service;

/* cfg is copied (NULL = defaults); the catalog it names is borrowed. */
struct inventory_service *inventory_service_new(const struct inventory_config *cfg);
void inventory_service_free(struct inventory_service *s);
/* Consumes OrderCreated, StockCommand, StockResult, PaymentFailed, ShippingFailed,
 * OrderShipped, RetryRequested, CompensationRequested, StepTimeout. */
const struct svc_def *inventory_svc_def(void);

/* Inserts one stock document per catalog SKU {sku, initial, available = initial, held 0,
 * shipped 0, holds {}} at version 1. A SKU already present (ECOM_CONFLICT) is left as it
 * is, so seeding is idempotent. Transient store errors are retried a bounded number of
 * times; returns ECOM_OK or the store's last error. */
int inventory_seed_stock(struct store *s, const struct catalog *cat, struct ecom_err *err);

#endif
