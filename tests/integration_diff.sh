#!/usr/bin/env bash
# integration_diff.sh — the simulator and the real stack must agree order by order. One small
# scenario (tests/integration/diff-scenario.json: 30 single-SKU orders against a small stock,
# one at a time, no faults, no declines, no carrier refusals) runs on the simulator
# (`ecom sim run --trace`); tests/integration/sim_outcomes.py reads each order's id, quantity
# and outcome out of the trace (and checks them against a stock model). The same orders, with
# the same orderIds and in the same sequence, then go over HTTP to the five `ecom serve`
# processes on Kafka + FerretDB started with the same stock and no business failures; each is
# sent once the previous one is terminal. The per-order outcomes (status, failed step) read
# from the real order store must equal the simulator's, and the invariants must hold.
# Usage: bash tests/integration_diff.sh <path-to-ecom> <repo-root>
# Env: ECOM_KAFKA, ECOM_MONGO (unset: skipped); ECOM_STACK_RESET_OK=1 lets it wipe a leftover
# ecom namespace. Ends with "N passed, M failed"; exit 1 on any failure.
set -uo pipefail

# shellcheck source=integration/lib.sh
. "$(dirname "$0")/integration/lib.sh"
it_setup integration_diff "$@"

SCN=$root/tests/integration/diff-scenario.json
ORDER_TIMEOUT_S=60   # one order from POST to terminal on the real stack
TOTAL_TIMEOUT_S=240  # all of them
SETTLE_TIMEOUT_S=60

# ---- the simulator ---------------------------------------------------------------------------
"$ecom" sim run "$SCN" --trace "$it_work/sim.jsonl" >"$it_work/sim.out" 2>&1
rc=$?
sim_summary=$(tail -n 1 "$it_work/sim.out")
it_log "simulator: ${sim_summary:0:200}"
check "ecom sim run $(basename "$SCN") meets its expectations (exit $rc)" test "$rc" = 0
if python3 "$root/tests/integration/sim_outcomes.py" "$it_work/sim.jsonl" "$SCN" \
	"$it_work/orders" "$it_work/sim.outcomes" >"$it_work/attr" 2>&1; then
	ok "$(cat "$it_work/attr")"
else
	bad "per-order outcomes from the simulator's trace: $(cat "$it_work/attr")"
	it_finish
fi
sim_shipped=$(json_field "$sim_summary" shipped)
check "the trace's outcomes add up to the summary ($sim_shipped SHIPPED)" \
	test "$(grep -c ' SHIPPED ' "$it_work/sim.outcomes")" = "$sim_shipped"
stock=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["catalog"]["stock"])' "$SCN")
price=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["catalog"]["price_cents"][0])' "$SCN")

# ---- the real stack: same catalog stock for SKU-1, no business failures ----------------------
it_start_five --stock "$stock" --decline 0 --ship-fail 0
order=http://127.0.0.1:$port_order

wait_order() { # wait_order ID: terminal in the order service (bounded)
	local st
	for _ in $(seq 1 $((ORDER_TIMEOUT_S * 5))); do
		st=$(curl -s --max-time 10 "$order/orders/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",""))' 2>/dev/null)
		case $st in SHIPPED | CANCELLED) return 0 ;; esac
		sleep 0.2
	done
	echo "order $1 still ${st:-unknown} after ${ORDER_TIMEOUT_S}s"
	return 1
}

n_orders=$(wc -l <"$it_work/orders")
it_log "replaying $n_orders orders one at a time (SKU-1, $stock units, $price cents each)"
t=$(date +%s)
sent=0
created=0
: >"$it_work/ids"
while read -r n id qty; do
	cents=$((qty * price))
	body=$(printf '{"orderId":"%s","items":[{"sku":"SKU-1","qty":%d}],"total":%d.%02d}' \
		"$id" "$qty" $((cents / 100)) $((cents % 100)))
	code=$(curl -s -o "$it_work/resp" -w '%{http_code}' --max-time 30 -X POST \
		-H 'content-type: application/json' -d "$body" "$order/orders")
	sent=$((sent + 1))
	if [ "$code" != 201 ]; then
		bad "order #$n $id: POST answered $code: $(cat "$it_work/resp")"
		continue
	fi
	created=$((created + 1))
	echo "$id" >>"$it_work/ids"
	wait_order "$id" || { bad "order #$n $id did not finish"; break; }
	[ $((n % 5)) = 0 ] && it_log "$n of $n_orders done"
	[ $(($(date +%s) - t)) -ge "$TOTAL_TIMEOUT_S" ] && { bad "replay took over ${TOTAL_TIMEOUT_S}s"; break; }
done <"$it_work/orders"
check "all $n_orders orders created on the real stack (201: $created)" test "$created" = "$n_orders"
it_log "replayed in $(($(date +%s) - t))s"

# ---- compare -----------------------------------------------------------------------------------
"$checker" outcomes --mongo "$ECOM_MONGO" --ids "$it_work/ids" >"$it_work/real.outcomes"
same=0
while read -r id sst sstep; do
	rst=
	rstep=
	read -r _ rst rstep <<<"$(grep -m 1 "^$id " "$it_work/real.outcomes")"
	if [ "$rst" = "$sst" ] && [ "$rstep" = "$sstep" ]; then
		same=$((same + 1))
	else
		echo "  differs: $id simulator $sst/$sstep, real ${rst:-missing}/$rstep"
	fi
done <"$it_work/sim.outcomes"
real_shipped=$(grep -c ' SHIPPED ' "$it_work/real.outcomes")
it_log "simulator: $sim_shipped SHIPPED; real stack: $real_shipped SHIPPED"
check "per-order outcomes equal: $same of $n_orders (status and failed step)" test "$same" = "$n_orders"
check "the read model agrees on every order" it_wait_terminal "$it_work/ids" 60
it_invariants "real stores" "$SETTLE_TIMEOUT_S" --ids "$it_work/ids" --stock "$stock"
it_log "done in $(($(date +%s) - it_t0))s"
it_finish
