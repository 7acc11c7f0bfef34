#!/usr/bin/env bash
# bench/real_stack.sh — benchmarks of the five services on the real stack (Kafka + FerretDB, on
# SQLite or PostgreSQL, at $ECOM_KAFKA / $ECOM_MONGO) and of the HTTP front door. Prints everything it measures, with
# the exact commands, into a work dir (default /tmp/ecom-real-bench.XXXX, kept) and a summary
# on stdout. Every process it starts is remembered by pid and stopped by pid on exit.
#
# Usage: bench/real_stack.sh [--ecom PATH] [--rates "2 5"] [--duration S] [--drain S]
#                            [--concurrency N] [--store-docs "100 5000"] [--skip-store]
#                            [--skip-e2e] [--skip-http]
# Needs: ecom and ecom-check and bench-store-cas next to each other (ECOM_BACKENDS=ON build),
# curl, python3, flock. The ecom namespace on the stack must be empty (ecom-check namespace);
# it is wiped at the end (ecom-check wipe). The namespace is shared with tests/integration_*.sh,
# so this script takes their lock ($ECOM_IT_LOCK, default /tmp/ecom-integration.lock) unless
# BENCH_NO_LOCK=1 (a private stack: ECOM_STACK_HOME=/tmp/x KAFKA_PORT=.. MONGO_PORT=..
# deploy/stack up).
#
# Figures:
#  1. per rate R: `ecom load --rate R --duration S`, then how many of those orders were
#     terminal (SHIPPED/CANCELLED in the order store and the read model) when the load ended
#     and how long the rest took (orders/s = accepted / (load + drain time)); CPU seconds of
#     each process (/proc/PID/stat) in the window: the services, Kafka, FerretDB and, when
#     FerretDB runs on PostgreSQL, the postmaster with all its backends.
#  2. per rate: order->terminal latency from the read model's projections (timeline `at` of
#     OrderCreated to the terminal event's `at`; and createdAt -> updatedAt).
#  3. bench-store-cas: insert/s and get+replace(version)/s of backends/mongo on this store, on
#     collections of each --store-docs size (CAS round-robin over all of them).
#  4. HTTP POST /orders with ecom load (bounded request counts): `ecom serve all` in memory and the
#     order service on the real stack.
#  5. VmHWM of each service process.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
ecom=$root/build-n/ecom
rates="2 5"
duration=20
drain=90
concurrency=8
store_docs="100 5000"
skip_store=0
skip_e2e=0
skip_http=0
while [ $# -gt 0 ]; do
	case $1 in
	--ecom) ecom=$2; shift 2 ;;
	--rates) rates=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--drain) drain=$2; shift 2 ;;
	--concurrency) concurrency=$2; shift 2 ;;
	--store-docs) store_docs=$2; shift 2 ;;
	--skip-store) skip_store=1; shift ;;
	--skip-e2e) skip_e2e=1; shift ;;
	--skip-http) skip_http=1; shift ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done
: "${ECOM_KAFKA:?set ECOM_KAFKA (deploy/stack up prints it)}"
: "${ECOM_MONGO:?set ECOM_MONGO}"
bindir=$(cd "$(dirname "$ecom")" && pwd)
ecom=$bindir/$(basename "$ecom")
checker=$bindir/ecom-check
cas=$bindir/bench-store-cas
secret="bench-secret-$$-0123456789abcdef0123456789abcdef"
work=$(mktemp -d "${TMPDIR:-/tmp}/ecom-real-bench.XXXXXX")
declare -A pid port
names="order inventory payment shipping read-model"
t0=$(date +%s)
log() { printf '[%4ds] %s\n' "$(($(date +%s) - t0))" "$*" | tee -a "$work/summary.txt"; }

stop_all() {
	local n p
	for n in "${!pid[@]}"; do p=${pid[$n]}; [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 100); do
		local left=0
		for n in "${!pid[@]}"; do p=${pid[$n]}; [ -n "$p" ] && kill -0 "$p" 2>/dev/null && left=1; done
		[ $left = 0 ] && break
		sleep 0.1
	done
	for n in "${!pid[@]}"; do p=${pid[$n]}; [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; pid[$n]=; done
}
cleanup() {
	trap - EXIT
	[ -n "${load_pid:-}" ] && kill -TERM "$load_pid" 2>/dev/null
	stop_all
	if [ "${wiped_needed:-0}" = 1 ]; then
		sleep 1
		"$checker" wipe --kafka "$ECOM_KAFKA" --mongo "$ECOM_MONGO" >"$work/wipe.txt" 2>&1 ||
			echo "warning: ecom-check wipe failed, see $work/wipe.txt"
	fi
	echo "work dir (kept): $work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${BENCH_NO_LOCK:-0}" != 1 ]; then
	exec 9>"${ECOM_IT_LOCK:-${TMPDIR:-/tmp}/ecom-integration.lock}"
	flock -w 900 9 || { echo "integration lock busy"; exit 1; }
fi

log "date $(date -u '+%F %T') UTC; commit $(git -C "$root" rev-parse --short HEAD); load average $(cut -d' ' -f1-3 /proc/loadavg)"
log "kafka $ECOM_KAFKA mongo $ECOM_MONGO ecom $ecom"

cpu_ticks() { # cpu_ticks PID -> utime+stime in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# A process tree (PostgreSQL: the postmaster forks a backend per connection): the root's own
# and reaped children's ticks plus those of its live children.
cpu_ticks_tree() { # cpu_ticks_tree PID
	local self kids
	self=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo 0)
	kids=$(cat /proc/[0-9]*/stat 2>/dev/null |
		awk -v p="$1" '{ sub(/^.*\) /, ""); if ($2 == p) s += $12 + $13 } END { print s + 0 }')
	echo $((self + kids))
}
watch_ticks() { # watch_ticks NAME=PID
	case ${1%%=*} in
	postgres) cpu_ticks_tree "${1#*=}" ;;
	*) cpu_ticks "${1#*=}" ;;
	esac
}
hwm() { awk '/VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
listener_pid() { ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
stack_pids() { # the stack's processes by their listening port (ss), "name=pid" words
	local kport=${ECOM_KAFKA##*:} mport=${ECOM_MONGO##*:} fpid pgport
	mport=${mport%%/*}
	fpid=$(listener_pid "$mport")
	printf 'kafka=%s ferretdb=%s' "$(listener_pid "$kport")" "$fpid"
	# FerretDB on PostgreSQL: its --postgresql-url names the port of the postmaster
	pgport=$(tr '\0' '\n' <"/proc/$fpid/cmdline" 2>/dev/null |
		sed -n 's|^--postgresql-url=.*@[^:/]*:\([0-9]*\)/.*|\1|p')
	[ -n "$pgport" ] && printf ' postgres=%s' "$(listener_pid "$pgport")"
}

# ---- 3. the store's own rate --------------------------------------------------------------------
log "stack processes: $(stack_pids)"
if [ "$skip_store" = 0 ]; then
	for n in $store_docs; do
		log "store: $cas $ECOM_MONGO bench_store_cas $n 10 0   ($n docs, 10 s of get+replace over all of them)"
		"$cas" "$ECOM_MONGO" bench_store_cas "$n" 10 0 2>/dev/null | tee -a "$work/summary.txt"
	done
fi

[ "$skip_e2e" = 1 ] && [ "$skip_http" = 1 ] && exit 0

# ---- the five services ----------------------------------------------------------------------------
"$checker" namespace --kafka "$ECOM_KAFKA" --mongo "$ECOM_MONGO" >"$work/namespace.txt" 2>&1 ||
	{ tail -3 "$work/namespace.txt"; echo "the stack's ecom namespace is not empty"; exit 1; }
wiped_needed=1
read -r port[order] port[inventory] port[payment] port[shipping] port[read-model] <<<"$(python3 -c '
import socket
s=[socket.socket() for _ in range(5)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')"
for n in $names; do
	extra=
	[ "$n" = read-model ] && extra="--order-url http://127.0.0.1:${port[order]}"
	# shellcheck disable=SC2086
	JWT_SECRET=$secret "$ecom" serve "$n" --kafka "$ECOM_KAFKA" --mongo "$ECOM_MONGO" \
		--port "${port[$n]}" --bind 127.0.0.1 --log-level warn --stock 100000 $extra \
		>"$work/$n.log" 2>&1 &
	pid[$n]=$!
done
for n in $names; do
	for _ in $(seq 1 200); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port[$n]}/health/ready")" = 200 ] && break
		sleep 0.2
	done
done
log "five services: $(for n in $names; do printf '%s pid %s port %s; ' "$n" "${pid[$n]}" "${port[$n]}"; done)"
order=http://127.0.0.1:${port[order]}
rm=http://127.0.0.1:${port[read-model]}
read -r kpair fpair <<<"$(stack_pids)"
watch="order=${pid[order]} inventory=${pid[inventory]} payment=${pid[payment]} shipping=${pid[shipping]} read-model=${pid[read-model]} $kpair $fpair"

terminal_count() { # terminal_count IDS -> "order_store read_model" terminal counts
	"$checker" progress --mongo "$ECOM_MONGO" --ids "$1" 2>/dev/null |
		sed -n 's/.*: \([0-9]*\) terminal in the order store, \([0-9]*\) in the read.*/\1 \2/p'
}

latency() { # latency IDS -> percentiles of order->terminal from the read model's projections
	python3 - "$rm" "$1" <<'PY'
import json, sys, urllib.request
from datetime import datetime
rm, path = sys.argv[1], sys.argv[2]
ids = [l.strip() for l in open(path) if l.strip()]
def ts(s): return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
vis, evt = [], []
for i in ids[:400]:
    try:
        p = json.load(urllib.request.urlopen(f"{rm}/orders/{i}", timeout=10))
    except Exception:
        continue
    if p.get("status") not in ("SHIPPED", "CANCELLED"):
        continue
    tl = p.get("timeline", [])
    c = [e["at"] for e in tl if e["type"].startswith("order.OrderCreated")]
    t = [e["at"] for e in tl if (e.get("details") or {}).get("status") in ("SHIPPED", "CANCELLED")]
    if c and t:
        evt.append(ts(t[0]) - ts(c[0]))
    if c and p.get("updatedAt"):
        vis.append(ts(p["updatedAt"]) - ts(c[0]))
def pct(a, q): a = sorted(a); return a[min(len(a) - 1, int(q * len(a)))] if a else float("nan")
for name, a in (("OrderCreated at -> the order service's terminal status change at", evt),
                ("OrderCreated at -> the read model's projection updatedAt (terminal, visible)", vis)):
    print(f"  latency {name}: n={len(a)} p50={pct(a,.5):.2f}s p95={pct(a,.95):.2f}s "
          f"p99={pct(a,.99):.2f}s max={max(a) if a else float('nan'):.2f}s")
PY
}

# ---- 1./2./5. end-to-end at increasing rates ----------------------------------------------------
if [ "$skip_e2e" = 0 ]; then
	all_ids=$work/all.ids
	: >"$all_ids"
	for r in $rates; do
		ids=$work/rate-$r.ids
		declare -A c0=()
		for w in $watch; do c0[${w%%=*}]=$(watch_ticks "$w"); done
		ls0=$(date +%s.%N)
		log "e2e rate $r: $ecom load --rate $r --duration $duration --url $order --concurrency $concurrency --timeout-ms 30000 --ids-file $ids"
		"$ecom" load --rate "$r" --duration "$duration" --url "$order" --concurrency "$concurrency" \
			--timeout-ms 30000 --ids-file "$ids" >"$work/load-$r.out" 2>/dev/null
		ls1=$(date +%s.%N)
		read -r t_ord t_rm <<<"$(terminal_count "$ids")"
		acc=$(sort -u "$ids" | wc -l)
		cpu=
		for w in $watch; do
			cpu="$cpu ${w%%=*} $(awk -v a="${c0[${w%%=*}]}" -v b="$(watch_ticks "$w")" -v t="$ls0" -v u="$ls1" 'BEGIN { printf "%.0f%%", 100 * (b - a) / 100 / (u - t) }')"
		done
		log "  load: $(tail -n 1 "$work/load-$r.out")"
		log "  at the end of the load ($(awk -v a="$ls0" -v b="$ls1" 'BEGIN{printf "%.1f", b-a}') s): $acc accepted, $t_ord terminal in the order store, ${t_rm:-?} in the read model"
		log "  CPU (share of one core over the load window):$cpu"
		cat "$ids" >>"$all_ids"
		dstart=$(date +%s)
		while :; do
			read -r t_ord t_rm <<<"$(terminal_count "$ids")"
			[ "${t_rm:-0}" -ge "$acc" ] && [ "${t_ord:-0}" -ge "$acc" ] && break
			[ $(($(date +%s) - dstart)) -ge "$drain" ] && break
			sleep 2
		done
		dend=$(date +%s.%N)
		log "  drained to $t_ord/$t_rm of $acc terminal $(($(date +%s) - dstart)) s after the load ended (bound ${drain}s)"
		log "  end to end: ${t_rm:-0} terminal (read model) in $(awk -v a="$ls0" -v b="$dend" 'BEGIN{printf "%.1f", b-a}') s from the load's start = $(awk -v n="${t_rm:-0}" -v a="$ls0" -v b="$dend" 'BEGIN{printf "%.1f", n/(b-a)}') orders/s"
		latency "$ids" | tee -a "$work/summary.txt"
		hw=
		for n in $names; do hw="$hw $n $(($(hwm "${pid[$n]}") / 1024)) MiB;"; done
		log "  VmHWM so far:$hw"
		[ "${t_rm:-0}" -ge "$acc" ] || { log "  backlog not drained: stopping the rate sweep"; break; }
	done
	for n in $names; do
		curl -s "http://127.0.0.1:${port[$n]}/metrics" >"$work/metrics-$n.txt"
	done
	log "runtime counters (ecom_runtime_events_total) after the sweep, all services:"
	grep -h '^ecom_runtime_events_total' "$work"/metrics-*.txt | awk '{ split($1, a, "event=\""); split(a[2], b, "\""); s[b[1]] += $2 } END { for (k in s) printf "  %s %d\n", k, s[k] }' | sort | tee -a "$work/summary.txt"
	log "orders accepted in the sweep: $(sort -u "$all_ids" | wc -l)"
	log "store writes left in the five databases: $cas --versions $ECOM_MONGO"
	"$cas" --versions "$ECOM_MONGO" 2>/dev/null | tee -a "$work/summary.txt"
fi

# ---- 4. HTTP POST /orders on the real order service ---------------------------------------------
if [ "$skip_http" = 0 ]; then
	# bounded: the order service accepts ~2 POST/s on FerretDB, and ecom load sends every
	# planned order (rate x duration) however late
	log "http real: $ecom load --rate 20 --duration 10 --url $order --concurrency 32 --timeout-ms 30000"
	"$ecom" load --rate 20 --duration 10 --url "$order" --concurrency 32 --timeout-ms 30000 \
		--ids-file "$work/http-real.ids" 2>/dev/null | tail -n 1 | tee -a "$work/summary.txt"
	hw=
	for n in $names; do hw="$hw $n $(($(hwm "${pid[$n]}") / 1024)) MiB;"; done
	log "  VmHWM after the HTTP burst:$hw"
	stop_all
	# in memory: one process, all five services
	p=4650
	JWT_SECRET=$secret "$ecom" serve all --port-base $p >"$work/serve-all.log" 2>&1 &
	pid[all]=$!
	for _ in $(seq 1 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/health/ready")" = 200 ] && break
		sleep 0.1
	done
	for rc in 500:8 5000:32; do
		r=${rc%%:*} c=${rc#*:}
		log "http memory: $ecom load --rate $r --duration 10 --url http://127.0.0.1:$p --concurrency $c"
		"$ecom" load --rate "$r" --duration 10 --url "http://127.0.0.1:$p" --concurrency "$c" \
			2>/dev/null | tail -n 1 | tee -a "$work/summary.txt"
	done
	log "  serve all VmHWM $(($(hwm "${pid[all]}") / 1024)) MiB"
	stop_all
fi
log "done; load average $(cut -d' ' -f1-3 /proc/loadavg)"
