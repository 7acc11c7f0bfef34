#!/usr/bin/env bash
# tests/sweeps.sh — the CI sweeps: a chaos sweep (every fault family, swarm-drawn per seed)
# and a duplicate-delivery sweep, a few hundred seeds each; every seed must keep every
# invariant. A failing seed is printed with the command that reproduces it.
# Usage: bash tests/sweeps.sh <path-to-ecom> <repo-root>   (SWEEP_SEEDS overrides 300)
set -u
ecom=$1
root=$2
seeds=${SWEEP_SEEDS:-300}
jobs=$(nproc 2>/dev/null || echo 2)
pass=0
fail=0

run() {
	local name=$1
	shift
	echo "--- $name: ecom sim sweep $*"
	if "$ecom" sim sweep "$@" --jobs "$jobs" --quiet; then
		pass=$((pass + 1))
	else
		echo "FAILED: $name"
		fail=$((fail + 1))
	fi
}

run chaos-swarm "$root/tests/sweeps/chaos.json" --seeds "1..$seeds" --swarm
run chaos "$root/tests/sweeps/chaos.json" --seeds "1001..$((1000 + seeds / 2))"
run duplicates "$root/tests/sweeps/duplicates.json" --seeds "1..$seeds"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
