#!/usr/bin/env python3
"""make_seeds.py — writes the hand-made seed corpora of fuzz/corpus/ (valid and near-valid
inputs per target). Deterministic; re-running rewrites the same files. Inputs libFuzzer finds
interesting later (and crash regressions) live next to these under other names."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def env(typ, payload, **over):
    e = {"eventId": "3f1c2a9e-0b7d-4c51-9a43-5d2e8f6b7a10", "type": typ, "version": 1,
         "timestamp": "2024-05-01T12:00:00.000Z", "correlationId": "o-1",
         "causationId": None, "key": "o-1", "payload": payload, "headers": {}}
    e.update(over)
    return json.dumps(e, separators=(",", ":"))


items = [{"sku": "SKU-1", "qty": 2}, {"sku": "SKU-7", "qty": 1}]
payloads = {
    "order.OrderCreated.v1": {"orderId": "o-1", "items": items, "total": 30},
    "inventory.InventoryReserved.v1": {"orderId": "o-1", "reservedItems": items, "total": 30,
                                       "attempt": 0},
    "inventory.InventoryFailed.v1": {"orderId": "o-1", "reason": "out_of_stock"},
    "payment.PaymentAuthorized.v1": {"orderId": "o-1", "amount": 19.99, "authId": "a-1"},
    "payment.PaymentFailed.v1": {"orderId": "o-1", "reason": "declined"},
    "shipping.OrderShipped.v1": {"orderId": "o-1", "carrier": "ACME", "trackingId": "T1"},
    "shipping.ShippingFailed.v1": {"orderId": "o-1", "reason": "carrier"},
    "payment.PaymentRefunded.v1": {"orderId": "o-1", "amount": 30, "refundId": "r-1"},
    "ops.RetryRequested.v1": {"orderId": "o-1", "step": "payment", "attempt": 1},
    "ops.CompensationRequested.v1": {"orderId": "o-1", "action": "refundPayment"},
    "ops.DeadLetter.v1": {"originalType": "order.OrderCreated.v1", "originalEventId": "e0",
                          "orderId": "o-1", "error": "payload.total: required",
                          "payload": {"orderId": "o-1"}, "raw": "{bad"},
    "inventory.InventoryReleased.v1": {"orderId": "o-1", "releasedItems": []},
    "inventory.StockCommand.v1": {"orderId": "o-1", "sku": "SKU-1", "qty": 2, "op": "hold"},
    "inventory.StockResult.v1": {"orderId": "o-1", "sku": "SKU-1", "qty": 2, "op": "hold",
                                 "ok": False, "reason": "out_of_stock"},
    "order.OrderStatusChanged.v1": {"orderId": "o-1", "status": "SHIPPED", "seq": 4},
    "ops.StepTimeout.v1": {"orderId": "o-1", "step": "shipping", "attempt": 0},
}
for i, (t, p) in enumerate(payloads.items()):
    put("envelope_parse", "%02d-%s" % (i, t), env(t, p))
oc = "order.OrderCreated.v1"
near = {
    "headers": env(oc, payloads[oc], headers={"x-replay": 1, "x-dlq-error": "e", "b": True}),
    "causation": env(oc, payloads[oc], causationId="e-0"),
    "money-3dp": env(oc, dict(payloads[oc], total=29.999)),
    "money-neg": env(oc, dict(payloads[oc], total=-1)),
    "qty-zero": env(oc, dict(payloads[oc], items=[{"sku": "SKU-1", "qty": 0}])),
    "no-items": env(oc, dict(payloads[oc], items=[])),
    "bad-ts": env(oc, payloads[oc], timestamp="2024-02-30T25:61:61.000Z"),
    "ts-offset": env(oc, payloads[oc], timestamp="2024-05-01T12:00:00+02:00"),
    "version2": env(oc, payloads[oc], version=2),
    "unknown-type": env("order.Nope.v1", payloads[oc]),
    "empty-key": env(oc, payloads[oc], key=""),
    "header-object": env(oc, payloads[oc], headers={"a": {"b": 1}}),
    "attempt-neg": env("ops.RetryRequested.v1", {"orderId": "o", "step": "payment",
                                                 "attempt": -1}),
    "big-int": env(oc, dict(payloads[oc], total=18446744073709551616)),
    "unicode": env(oc, dict(payloads[oc], orderId="\u00e9\ud83d\ude00")),
}
for k, v in near.items():
    put("envelope_parse", "near-" + k, v)
put("envelope_parse", "near-dup-key", '{"eventId":"a","eventId":"b"}')
put("envelope_parse", "near-truncated", env(oc, payloads[oc])[:-7])
put("envelope_parse", "near-array", "[1,2,3]")
put("envelope_parse", "near-nul", b'{"eventId":"a\\u0000b"}')

# ---- scenario_load -------------------------------------------------------------------
full = {
    "name": "chaos-duplicates", "description": "fuzz seed", "seed": 42,
    "services": {"order": 1, "inventory": 2, "payment": 2, "shipping": 1, "read-model": 1},
    "topics": {"partitions": 6},
    "catalog": {"skus": 20, "stock": 40, "price_cents": [500, 5000]},
    "workload": {"orders": 300, "rate_per_sec": 50, "arrival": "fixed", "items": [1, 3],
                 "qty": [1, 3]},
    "business": {"payment_decline": 0.1, "shipping_failure": 0.05},
    "faults": {"duplicate_delivery": 0.2, "delivery_delay_ms": [0, 50],
               "crash_rate_per_sec": 0.05, "restart_after_ms": [50, 2000],
               "crash_services": ["payment", "inventory"], "store_error": 0.01,
               "store_ambiguous": 0.005, "produce_error": 0.01, "poison": 0.005,
               "gateway_error": 0.01, "gateway_ambiguous": 0.01,
               "gateway_outage_ms": [[1000, 2000]], "carrier_error": 0.01,
               "carrier_ambiguous": 0.01, "carrier_outage_ms": [[3000, 3500], [4000, 4100]]},
    "ops": [{"at_ms": 4000, "op": "retry", "order": 3, "step": "payment"},
            {"at_ms": 5000, "op": "compensate", "order": 4, "action": "refundPayment"},
            {"at_ms": 6000, "op": "crash", "instance": "payment#2"},
            {"at_ms": 9000, "op": "dlq_replay"}],
    "run": {"duration_ms": 20000, "quiesce_ms": 60000},
    "bugs": ["skip_inbox_dedup"],
    "expect": {"violations": ["exactly_once_effects"], "min_shipped": 1, "min_cancelled": 1,
               "min_crashes": 0, "min_duplicates": 0, "min_dead_letters": 0, "min_poison": 0},
}
put("scenario_load", "full", json.dumps(full, indent=1))
put("scenario_load", "minimal", '{"name": "m"}')
put("scenario_load", "empty-object", "{}")
for name in sorted(os.listdir(os.path.join(HERE, "..", "scenarios"))):
    if name.endswith(".json"):
        with open(os.path.join(HERE, "..", "scenarios", name), "rb") as f:
            put("scenario_load", "scenarios-" + name, f.read())
bad = {
    "prob-high": {"faults": {"store_error": 1.5}},
    "range-rev": {"faults": {"delivery_delay_ms": [50, 0]}},
    "unknown-key": {"workload": {"orderz": 1}},
    "unknown-svc": {"services": {"billing": 1}},
    "too-many-inst": {"services": {"payment": 9}},
    "op-bad": {"ops": [{"at_ms": -1, "op": "retry", "order": 0, "step": "nope"}]},
    "op-crash-name": {"ops": [{"at_ms": 1, "op": "crash", "instance": "x" * 40}]},
    "windows-many": {"faults": {"gateway_outage_ms": [[i, i + 1] for i in range(17)]}},
    "bug-unknown": {"bugs": ["no_such_bug"]},
    "rate-zero": {"workload": {"rate_per_sec": 0}},
    "nan-ish": {"business": {"payment_decline": 1e309}},
    "name-long": {"name": "n" * 200},
    "expect-unknown": {"expect": {"violations": ["nope"]}},
    "seed-neg": {"seed": -1},
    "seed-big": {"seed": 18446744073709551615},
}
for k, v in bad.items():
    put("scenario_load", "near-" + k, json.dumps(v))

# ---- http_routes ---------------------------------------------------------------------
create = '{"orderId":"o-1","items":[{"sku":"SKU-1","qty":2},{"sku":"SKU-7","qty":1}],"total":30}'
reqs = {
    "create-get": "order POST /orders\n" + create + "\n===\norder GET /orders/o-1\n"
                  "===\nrm GET /orders/o-1\n===\nrm GET /orders?status=CREATED&limit=5\n",
    "create-noid": 'order POST /orders\n{"items":[{"sku":"SKU-3","qty":1}],"total":10}',
    "create-repeat": "order POST /orders\n" + create + "\n===\norder POST /orders\n" + create,
    "create-conflict": "order POST /orders\n" + create + "\n===\norder POST /orders\n"
                       '{"orderId":"o-1","items":[{"sku":"SKU-1","qty":1}],"total":10}',
    "create-bad-total": 'order POST /orders\n{"items":[{"sku":"SKU-1","qty":1}],"total":10.001}',
    "create-bad-sku": 'order POST /orders\n{"items":[{"sku":"NOPE","qty":1}],"total":10}',
    "create-not-json": "order POST /orders\n{items:",
    "create-big": "order POST /orders big\n{}",
    "retry": "order POST /orders\n" + create + "\n===\norder POST /admin/retry/o-1 admin\n"
             '{"step":"payment"}',
    "retry-noauth": 'order POST /admin/retry/o-1\n{"step":"payment"}',
    "retry-user": 'order POST /admin/retry/o-1 user\n{"step":"payment"}',
    "retry-bad": 'order POST /admin/retry/o-1 bad\n{"step":"payment"}',
    "compensate": "order POST /orders\n" + create + "\n===\n"
                  'order POST /admin/compensate/o-1 admin\n{"action":"releaseInventory"}',
    "compensate-bad": 'order POST /admin/compensate/o-1 admin\n{"action":5}',
    "rm-retry": 'rm POST /admin/retry/o-1 admin\n{"step":"inventory"}',
    "dlq-list": "rm GET /admin/dlq?topic=order.OrderCreated.v1&orderId=o-1 admin",
    "dlq-replay-id": 'rm POST /admin/dlq/replay admin\n{"id":"order.OrderCreated.v1:0:3"}',
    "dlq-replay-topic": 'rm POST /admin/dlq/replay admin\n{"topic":"t","orderId":"o-1"}',
    "dlq-replay-all": 'rm POST /admin/dlq/replay admin\n{"all":true}',
    "dlq-replay-two": 'rm POST /admin/dlq/replay admin\n{"all":true,"id":"x"}',
    "stream": "order POST /orders\n" + create + "\n===\nrm GET /orders/o-1/stream leid=e1",
    "stream-all": "rm GET /stream origin=http://a.test",
    "health": "order GET /health\n===\norder GET /health/live\n===\norder GET /health/ready"
              "\n===\norder GET /metrics",
    "options": "rm OPTIONS /orders origin=http://b.test",
    "head": "rm HEAD /orders/o-1",
    "method": "order DELETE /orders/o-1",
    "static": "rm GET /\n===\nrm GET /index.html\n===\nrm GET /../etc/passwd\n===\n"
              "rm GET /js//x.js",
    "long-id": "order GET /orders/" + "x" * 200,
    "list-limits": "rm GET /orders?limit=0\n===\nrm GET /orders?limit=1000001\n===\n"
                   "rm GET /orders?status=nope&limit=-1",
    "query-many": "rm GET /orders?" + "&".join("k%d=v" % i for i in range(40)),
}
for k, v in reqs.items():
    put("http_routes", k, v)
more = {
    # stock is 5 per SKU: 6 units fail the reservation, the order is CANCELLED (inventory)
    "retry-allowed": 'order POST /orders\n{"orderId":"o-9","items":[{"sku":"SKU-2","qty":6}],'
                     '"total":60}\n===\norder POST /admin/retry/o-9 admin\n{"step":"inventory"}'
                     '\n===\norder GET /orders/o-9\n===\nrm POST /admin/retry/o-9 admin\n'
                     '{"step":"payment"}',
    "compensate-cancelled": 'order POST /orders\n{"orderId":"o-9","items":[{"sku":"SKU-2",'
                            '"qty":6}],"total":60}\n===\norder POST /admin/compensate/o-9 '
                            'admin\n{"action":"refundPayment"}',
    "poison-dlq": "poison order.OrderCreated.v1\nnot json\n===\npoison payment.PaymentFailed.v1\n"
                  '{"eventId":"e","type":"payment.PaymentFailed.v1"}\n===\n'
                  "rm GET /admin/dlq admin\n===\n"
                  "rm GET /admin/dlq?topic=order.OrderCreated.v1 admin\n===\n"
                  'rm POST /admin/dlq/replay admin\n{"topic":"order.OrderCreated.v1"}\n===\n'
                  'rm POST /admin/dlq/replay admin\n{"all":true}\n===\n'
                  'rm POST /admin/dlq/replay admin\n{"id":"order.OrderCreated.v1:0:0"}\n===\n'
                  'rm POST /admin/dlq/replay admin\n{"id":"order.OrderCreated.v1:1:0"}',
}
for k, v in more.items():
    put("http_routes", k, v)
