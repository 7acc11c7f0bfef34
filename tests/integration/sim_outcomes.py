#!/usr/bin/env python3
"""sim_outcomes.py — per-order outcomes of one `ecom sim run --trace` of a SEQUENTIAL scenario.

Neither the simulator's summary nor its trace names the order an event belongs to (the trace
has "workload order #n <orderId> items=k total=T" lines and "<instance> handled <type>
<eventId>" lines), so outcomes are attributed by time: the scenario spaces its orders so that
each saga ends before the next order arrives, and every decisive event the order service
handles between order n's arrival and order n+1's belongs to order n. That assumption is
checked, not trusted: each window must hold exactly one decisive event.

Usage: sim_outcomes.py TRACE.jsonl SCENARIO.json OUT_ORDERS OUT_OUTCOMES
  OUT_ORDERS:   "<n> <orderId> <qty>" per order (single-SKU orders: qty = total / price)
  OUT_OUTCOMES: "<orderId> <STATUS> <failedStep or ->" per order, in creation order
Also checks them against a model of the scenario (stock consumed in order; no faults, no
declines): exit 1 with a reason on any mismatch. Standard library only.
"""
import json
import sys

DECISIVE = {
    "shipping.OrderShipped.v1": ("SHIPPED", "-"),
    "inventory.InventoryFailed.v1": ("CANCELLED", "inventory"),
    "payment.PaymentFailed.v1": ("CANCELLED", "payment"),
    "shipping.ShippingFailed.v1": ("CANCELLED", "shipping"),
}


def fail(msg):
    print("sim_outcomes: " + msg)
    sys.exit(1)


def main():
    trace_path, scn_path, out_orders, out_outcomes = sys.argv[1:5]
    scn = json.load(open(scn_path))
    cat = scn["catalog"]
    price_lo, price_hi = cat["price_cents"]
    if cat["skus"] != 1 or price_lo != price_hi:
        fail("the scenario must have one SKU at one price (catalog.skus 1)")
    if scn["workload"]["items"] != [1, 1]:
        fail("the scenario must order one line per order (workload.items [1, 1])")
    price = price_lo
    orders = []      # [t_us, n, id, qty]
    decisive = []    # [t_us, type]
    for line in open(trace_path):
        d = json.loads(line)
        if d["actor"] == "workload" and d["event"] == "order":
            parts = d["detail"].split()
            total = int(parts[3].split("=")[1])
            if total % price:
                fail("order %s: total %d is not a multiple of the price" % (parts[1], total))
            orders.append([d["t_us"], int(parts[0][1:]), parts[1], total // price])
        elif d["actor"].startswith("order#") and d["event"] == "handled":
            etype = d["detail"].split()[0]
            if etype in DECISIVE:
                decisive.append([d["t_us"], etype])
    if not orders:
        fail("no workload orders in the trace")
    outcomes = []
    for i, (t0, n, oid, qty) in enumerate(orders):
        t1 = orders[i + 1][0] if i + 1 < len(orders) else float("inf")
        inside = [e for e in decisive if t0 <= e[0] < t1]
        if len(inside) != 1:
            fail("order #%d %s: %d decisive events before the next order arrived; the "
                 "scenario is not sequential enough to attribute outcomes" % (n, oid, len(inside)))
        outcomes.append((oid,) + DECISIVE[inside[0][1]])
    if decisive and decisive[0][0] < orders[0][0]:
        fail("a decisive event before the first order")
    # The model: stock consumed in order; an order ships iff what is left covers it.
    left = cat["stock"]
    for (t0, n, oid, qty), (_, status, step) in zip(orders, outcomes):
        want = ("SHIPPED", "-") if qty <= left else ("CANCELLED", "inventory")
        if qty <= left:
            left -= qty
        if (status, step) != want:
            fail("order #%d %s (qty %d): the simulator says %s/%s, the stock model %s/%s"
                 % (n, oid, qty, status, step, want[0], want[1]))
    with open(out_orders, "w") as f:
        for t0, n, oid, qty in orders:
            f.write("%d %s %d\n" % (n, oid, qty))
    with open(out_outcomes, "w") as f:
        for oid, status, step in outcomes:
            f.write("%s %s %s\n" % (oid, status, step))
    shipped = sum(1 for o in outcomes if o[1] == "SHIPPED")
    print("sim_outcomes: %d orders, %d SHIPPED, %d CANCELLED (stock model agrees)"
          % (len(outcomes), shipped, len(outcomes) - shipped))


if __name__ == "__main__":
    main()
