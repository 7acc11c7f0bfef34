#!/usr/bin/env bash
# bench/sim_bench.sh — the simulator benchmarks of bench/README.md, printed as a Markdown
# block for bench/RESULTS.md: (a) deliveries per wall second on one core, (b) wall time and
# peak RSS of one simulated hour at 10 orders/s with chaos faults, (c) sweep throughput
# (seeds/s) at --jobs 1 and 2 when `ecom sim sweep` exists. Also records the machine, the
# compiler, the load average and the exact commands, so a figure can be reproduced.
#
# Usage: bench/sim_bench.sh [--ecom PATH] [--runs N] [--skip-hour] [--seeds N]
#   --ecom PATH  benchmark this binary (default: build build/bench, the release preset's
#                flags -O2 -g, backends off, and use its ecom)
#   --runs N     repetitions of (a), best and median reported (default 3)
#   --seeds N    seeds per sweep in (c) (default 40)
set -uo pipefail
command -v jq >/dev/null || { echo "bench/sim_bench.sh: needs jq" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
ecom=""
runs=3
seeds=40
skip_hour=0
while [ $# -gt 0 ]; do
	case $1 in
	--ecom) ecom=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--seeds) seeds=$2; shift 2 ;;
	--skip-hour) skip_hour=1; shift ;;
	*) echo "usage: bench/sim_bench.sh [--ecom PATH] [--runs N] [--skip-hour] [--seeds N]" >&2
	   exit 2 ;;
	esac
done
if [ -z "$ecom" ]; then
	bdir=$root/build/bench
	cmake -S "$root" -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_C_FLAGS_RELEASE="-O2 -g" -DECOM_BACKENDS=OFF >/dev/null || exit 2
	cmake --build "$bdir" --target ecom >/dev/null || exit 2
	ecom=$bdir/ecom
fi
ecom=$(cd "$(dirname "$ecom")" && pwd)/$(basename "$ecom")
tp=$root/bench/scenarios/throughput.json
hour=$root/bench/scenarios/hour-chaos.json
sweep=$root/bench/scenarios/sweep.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pin=()
command -v taskset >/dev/null 2>&1 && pin=(taskset -c 0)

# field NAME < summary-line: a top-level field of the summary JSON.
field() { jq -r ".$1 // empty" 2>/dev/null; }
# Runs ecom under /usr/bin/time -v; leaves the summary in $work/sum, the time report in
# $work/time and the exit status in $work/rc.
timed() {
	/usr/bin/time -v "$@" >"$work/out" 2>"$work/time"
	echo $? >"$work/rc"
	tail -n 1 "$work/out" >"$work/sum"
}
tv() { grep -F "$1" "$work/time" | sed 's/.*: //'; }

cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$(dirname "$ecom")/CMakeCache.txt" 2>/dev/null)
ccv=$("${cc:-cc}" --version 2>/dev/null | head -n 1)
flags=$(sed -n 's/^CMAKE_C_FLAGS_RELEASE:[A-Z]*=//p' "$(dirname "$ecom")/CMakeCache.txt" \
	2>/dev/null)
echo "### $(date -u '+%Y-%m-%d %H:%M UTC') — commit $(git -C "$root" rev-parse --short HEAD \
	2>/dev/null)$(git -C "$root" diff --quiet HEAD -- sim src services 2>/dev/null || echo '+dirty')"
echo
echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
	"$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) RAM"
echo "- compiler: ${ccv:-unknown} (${flags:-flags unknown}), binary $ecom"
echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine; CPU time is" \
	"the steadier figure)"
echo

# ---- (a) deliveries per wall second ----------------------------------------------------
echo "#### (a) simulator throughput, one core"
echo
echo "command: \`${pin[*]} $ecom sim run bench/scenarios/throughput.json\` ($runs runs)"
echo
echo "| run | deliveries | wall_ms (summary) | deliveries/s | user+sys s | result |"
echo "|---|---|---|---|---|---|"
rates=()
for i in $(seq 1 "$runs"); do
	timed "${pin[@]}" "$ecom" sim run "$tp"
	d=$(field deliveries <"$work/sum")
	w=$(field wall_ms <"$work/sum")
	cpu=$(awk '/User time|System time/ {s += $NF} END {printf "%.2f", s}' "$work/time")
	r=$(awk -v d="$d" -v w="$w" 'BEGIN {printf "%d", (w > 0 ? d * 1000 / w : 0)}')
	rates+=("$r")
	echo "| $i | $d | $w | $r | $cpu | $(field result <"$work/sum") |"
done
best=$(printf '%s\n' "${rates[@]}" | sort -n | tail -n 1)
median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
echo
echo "best $best deliveries/s, median $median (target >= 300000)"
echo

# ---- (b) one simulated hour with chaos -------------------------------------------------
echo "#### (b) one simulated hour, 10 orders/s, chaos faults"
echo
if [ "$skip_hour" = 1 ]; then
	echo "skipped (--skip-hour)"
else
	timed "$ecom" sim run "$hour"
	echo "command: \`/usr/bin/time -v $ecom sim run bench/scenarios/hour-chaos.json\`"
	echo
	echo "| wall (time -v) | user s | sys s | peak RSS | deliveries | orders | shipped | crashes | result |"
	echo "|---|---|---|---|---|---|---|---|---|"
	rss=$(tv "Maximum resident set size")
	echo "| $(tv "Elapsed (wall clock)") | $(tv "User time") | $(tv "System time") |" \
		"$((rss / 1024)) MiB | $(field deliveries <"$work/sum") | $(field orders <"$work/sum") |" \
		"$(field shipped <"$work/sum") | $(field crashes <"$work/sum") |" \
		"$(field result <"$work/sum") (exit $(cat "$work/rc")) |"
	echo
	echo "trace_hash $(field trace_hash <"$work/sum"); targets: <= 3 s wall, <= 512 MiB"
fi
echo

# ---- (c) sweep throughput --------------------------------------------------------------
echo "#### (c) sweep throughput"
echo
if "$ecom" sim --help 2>&1 | grep -qE '^[[:space:]]+sweep'; then
	echo "| jobs | seeds | wall s | seeds/s | exit |"
	echo "|---|---|---|---|---|"
	for j in 1 2; do
		timed "$ecom" sim sweep "$sweep" --seeds "1..$seeds" --jobs "$j"
		el=$(tv "Elapsed (wall clock)")
		s=$(echo "$el" | awk -F: '{t = 0; for (i = 1; i <= NF; i++) t = t * 60 + $i; print t}')
		echo "| $j | $seeds | $s | $(awk -v n="$seeds" -v s="$s" \
			'BEGIN {printf "%.1f", (s > 0 ? n / s : 0)}') | $(cat "$work/rc") |"
	done
	echo
	echo "command: \`$ecom sim sweep bench/scenarios/sweep.json --seeds 1..$seeds --jobs J\`"
else
	echo "TODO(sweep): \`ecom sim sweep\` does not exist yet in this binary; no figure."
fi
