#!/usr/bin/env bash
# integration_stack.sh — the five services as five `ecom serve SERVICE` processes on the real
# stack (Kafka 3.9.1 + FerretDB from deploy/stack, at $ECOM_KAFKA / $ECOM_MONGO): ~100 orders
# over HTTP (ecom load), every one terminal in the read model within a bound, then the
# simulator's invariants evaluated on the real MongoDB stores by ecom-check (termination,
# stock_conservation with nothing held, payment_balance from the payment documents,
# exactly_once_effects, projection_convergence, outbox_drained, dlq_accounting), the
# essential HTTP contract against this deployment (400 naming the field, idempotent create,
# 404, admin 401/403/409 and a legal retry forwarded by the read model to the order
# service), /metrics, and a clean SIGTERM exit of every process.
# Usage: bash tests/integration_stack.sh <path-to-ecom> <repo-root>
# Env: ECOM_KAFKA, ECOM_MONGO (unset: skipped); ECOM_STACK_RESET_OK=1 lets it wipe a leftover
# ecom namespace; ECOM_IT_RATE (orders/s, default 2) and ECOM_IT_DURATION (s, default 50).
# Ends with "N passed, M failed"; exit 1 on any failure.
set -uo pipefail

# shellcheck source=integration/lib.sh
. "$(dirname "$0")/integration/lib.sh"
it_setup integration_stack "$@"

# ~100 orders. The rate is what five processes on a shared FerretDB sustain on a busy 2-core
# machine (measured ~2 orders/s end to end; see deploy/README.md "Integration tests").
RATE=${ECOM_IT_RATE:-2}
DURATION=${ECOM_IT_DURATION:-50}
STOCK=1000
TERMINAL_TIMEOUT_S=180
SETTLE_TIMEOUT_S=60

# ---- start ---------------------------------------------------------------------------------
it_start_five --stock "$STOCK"
order=http://127.0.0.1:$port_order
rm=http://127.0.0.1:$port_rm
admin_tok=$("$ecom" token --secret "$IT_SECRET")
user_tok=$("$ecom" token --secret "$IT_SECRET" --role user)

post() { # post URL BODY [curl args...] -> "<code> <body>"
	local url=$1 body=$2
	shift 2
	: >"$it_work/resp"
	curl -s --max-time 30 -o "$it_work/resp" -w '%{http_code}' -X POST \
		-H 'content-type: application/json' "$@" -d "$body" "$url"
	printf ' %s' "$(tr -d '\n' <"$it_work/resp")"
}
expect() { # expect NAME "<code> <body>" CODE [substring]
	local name=$1 got=$2 code=$3 sub=${4:-}
	if [ "${got%% *}" = "$code" ] && [[ "$got" == *"$sub"* ]]; then
		ok "$name"
	else
		bad "$name (got: ${got:0:200})"
	fi
}

# ---- SSE over the real pipeline (first, while it is idle): a new order's changes reach
# GET /stream on the read model.
sse="it-sse-$$"
curl -sN --max-time 90 "$rm/stream" >"$it_work/sse" 2>/dev/null &
sse_pid=$!
sleep 0.5
expect "POST /orders while a client follows GET /stream -> 201" \
	"$(post "$order/orders" "{\"orderId\":\"$sse\",\"items\":[{\"sku\":\"SKU-4\",\"qty\":1}],\"total\":10}")" 201 "$sse"
echo "$sse" >>"$it_work/ids"
for _ in $(seq 1 180); do grep -q "$sse" "$it_work/sse" && break; sleep 0.5; done
kill "$sse_pid" 2>/dev/null
wait "$sse_pid" 2>/dev/null
check "GET /stream on the read model delivers the order's events (data: lines naming $sse)" \
	grep -q "^data:.*$sse" "$it_work/sse"
check "GET / on the read model serves the dashboard" \
	sh -c "curl -s --max-time 10 '$rm/' | grep -qi '<html\|<!doctype'"

# ---- load ------------------------------------------------------------------------------------
it_log "load: $RATE orders/s for ${DURATION}s (ecom load) against $order"
it_load "$RATE" "$DURATION" "$it_work/load.ids" "$it_work/load.out" --concurrency 4 \
	--timeout-ms 30000
it_load_wait "$it_work/load.out"
summary=$load_summary
it_log "load summary: $summary"
accepted=$(json_field "$summary" accepted)
errors=$(json_field "$summary" errors)
planned=$(json_field "$summary" planned)
check "load: every order accepted ($accepted of $planned), no errors ($errors)" \
	test "${accepted:-0}" -gt 0 -a "${accepted:-0}" = "${planned:-x}" -a "${errors:-1}" = 0
check "load: the ids file lists every accepted order" \
	test "$(sort -u "$it_work/load.ids" | wc -l)" = "${accepted:-x}"
cat "$it_work/load.ids" >>"$it_work/ids"

# ---- the HTTP contract on this deployment ----------------------------------------------------
expect "POST /orders malformed JSON -> 400" "$(post "$order/orders" '{"items":')" 400 '"error"'
expect "POST /orders qty 0 -> 400 naming items[0].qty" \
	"$(post "$order/orders" '{"items":[{"sku":"SKU-1","qty":0}],"total":0}')" 400 'items[0].qty'
expect "POST /orders unknown SKU -> 400 naming the sku" \
	"$(post "$order/orders" '{"items":[{"sku":"NOPE-1","qty":1}],"total":10}')" 400 'sku'
expect "POST /orders wrong total -> 400 naming total" \
	"$(post "$order/orders" '{"items":[{"sku":"SKU-2","qty":2}],"total":5}')" 400 'total'
idem="it-idem-$$"
body="{\"orderId\":\"$idem\",\"items\":[{\"sku\":\"SKU-3\",\"qty\":1}],\"total\":10}"
expect "POST /orders with a client orderId -> 201" "$(post "$order/orders" "$body")" 201 "$idem"
expect "the same POST again -> 200 (idempotent)" "$(post "$order/orders" "$body")" 200 "$idem"
expect "the same orderId, another body -> 409" \
	"$(post "$order/orders" "{\"orderId\":\"$idem\",\"items\":[{\"sku\":\"SKU-3\",\"qty\":2}],\"total\":20}")" 409 orderId
echo "$idem" >>"$it_work/ids"
check "GET /orders/unknown on the order service -> 404" test "$(http_code "$order/orders/no-such-order")" = 404
check "GET /orders/unknown on the read model -> 404" test "$(http_code "$rm/orders/no-such-order")" = 404

# ---- every accepted order terminal ---------------------------------------------------------
total_ids=$(sort -u "$it_work/ids" | wc -l)
it_log "waiting until all $total_ids accepted orders are terminal (at most ${TERMINAL_TIMEOUT_S}s)"
t=$(date +%s)
check "all $total_ids accepted orders SHIPPED or CANCELLED in the order store and the read model" \
	it_wait_terminal "$it_work/ids" "$TERMINAL_TIMEOUT_S"
it_log "terminal after $(($(date +%s) - t))s"

# ---- admin on the read model (forwarded to the order service) and on the order service -----
shipped=$(curl -s "$rm/orders?status=SHIPPED&limit=1" | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("orders",d) if isinstance(d,dict) else d; print(d[0]["orderId"] if d else "")' 2>/dev/null)
if [ -n "$shipped" ]; then
	expect "admin retry without a token -> 401" \
		"$(post "$rm/admin/retry/$shipped" '{"step":"payment"}')" 401 error
	expect "admin retry with role user -> 403" \
		"$(post "$rm/admin/retry/$shipped" '{"step":"payment"}' -H "Authorization: Bearer $user_tok")" 403 error
	expect "admin retry of a SHIPPED order via the read model -> 409 with the reason" \
		"$(post "$rm/admin/retry/$shipped" '{"step":"payment"}' -H "Authorization: Bearer $admin_tok")" 409 SHIPPED
	expect "admin compensate of a SHIPPED order on the order service -> 409" \
		"$(post "$order/admin/compensate/$shipped" '{"action":"refundPayment"}' -H "Authorization: Bearer $admin_tok")" 409 error
else
	bad "no SHIPPED order to try the admin routes on"
fi
# Tokens the CLI cannot mint: expired, signed with another secret, alg none (HS256 by hand,
# python3 standard library); a well-formed one first, so the refusals mean something.
jwt() { # jwt SECRET EXP_OFFSET_S ALG
	python3 - "$@" <<'PY'
import base64, hashlib, hmac, json, sys, time
secret, off, alg = sys.argv[1], int(sys.argv[2]), sys.argv[3]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
body = b64(json.dumps({"role": "admin", "sub": "it", "iat": now - 7200, "exp": now + off}).encode())
sig = b64(hmac.new(secret.encode(), (head + "." + body).encode(), hashlib.sha256).digest()) if alg == "HS256" else ""
print(head + "." + body + "." + sig)
PY
}
check "a hand-made HS256 admin token is accepted (GET /admin/dlq 200)" \
	test "$(http_code -H "Authorization: Bearer $(jwt "$IT_SECRET" 600 HS256)" "$rm/admin/dlq")" = 200
check "an expired token -> 401" \
	test "$(http_code -H "Authorization: Bearer $(jwt "$IT_SECRET" -60 HS256)" "$rm/admin/dlq")" = 401
check "a token signed with another secret -> 401" \
	test "$(http_code -H "Authorization: Bearer $(jwt other-secret 600 HS256)" "$rm/admin/dlq")" = 401
check "an alg none token -> 401" \
	test "$(http_code -H "Authorization: Bearer $(jwt "$IT_SECRET" 600 none)" "$rm/admin/dlq")" = 401
# A legal retry: an order cancelled at the payment step (the simulated gateway declines ~10%).
declined=$("$checker" outcomes --mongo "$ECOM_MONGO" --ids "$it_work/ids" | awk '$2 == "CANCELLED" && $3 == "payment" { print $1; exit }')
if [ -n "$declined" ]; then
	expect "admin retry of a payment-cancelled order via the read model -> 200" \
		"$(post "$rm/admin/retry/$declined" '{"step":"payment"}' -H "Authorization: Bearer $admin_tok")" 200 attempt
	echo "$declined" >"$it_work/retried"
	check "the retried order $declined is terminal again (attempt 1)" \
		it_wait_terminal "$it_work/retried" 90
	att=$(curl -s "$order/orders/$declined" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("attempt"))' 2>/dev/null)
	check "the retried order records attempt 1 (got $att)" test "$att" = 1
else
	it_log "no order was declined by the gateway in this run: the legal-retry check is skipped"
fi
check "GET /admin/dlq with an admin token -> 200" \
	test "$(http_code -H "Authorization: Bearer $admin_tok" "$rm/admin/dlq")" = 200
for name in $IT_SERVICES; do
	m=$(curl -s --max-time 10 "http://127.0.0.1:${it_port[$name]}/metrics")
	check "$name /metrics answers with ecom_ series" grep -q '^ecom_' <<<"$m"
done

# ---- invariants on the real stores -----------------------------------------------------------
it_invariants "real stores" "$SETTLE_TIMEOUT_S" --ids "$it_work/ids" --stock "$STOCK"

# ---- SIGTERM: every process finishes the message in hand and exits 0 -------------------------
for name in $IT_SERVICES; do
	pid=${it_pid[$name]}
	kill -TERM "$pid"
	for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid"
	rc=$?
	it_pid[$name]=
	check "$name exits 0 on SIGTERM (rc $rc)" test "$rc" = 0
done
it_log "done in $(($(date +%s) - it_t0))s"
it_finish
