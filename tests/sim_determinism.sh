#!/usr/bin/env bash
# sim_determinism.sh — every scenario, run twice with the same seed, gives the same trace
# hash; one more run with --check-determinism compares the traces line by line; and a
# different seed gives a different hash. Invoked by ctest as:
#   bash tests/sim_determinism.sh <path-to-ecom> <repo-root>
set -u
ecom=${1:?usage: sim_determinism.sh ECOM REPO_ROOT}
root=${2:?usage: sim_determinism.sh ECOM REPO_ROOT}
fail=0
n=0

hash_of() { # the trace_hash field of the last stdout line
	"$ecom" sim run "$@" 2>/dev/null | tail -n 1 |
		sed -n 's/.*"trace_hash":"\([0-9a-f]\{16\}\)".*/\1/p'
}

for f in "$root"/scenarios/*.json; do
	n=$((n + 1))
	a=$(hash_of "$f")
	b=$(hash_of "$f")
	if [ -z "$a" ] || [ "$a" != "$b" ]; then
		echo "FAIL $(basename "$f"): trace hashes differ ('$a' vs '$b')"
		fail=1
	else
		echo "ok   $(basename "$f") $a"
	fi
done
[ "$n" -gt 0 ] || { echo "FAIL: no scenarios in $root/scenarios"; exit 1; }

q="$root/scenarios/quickstart.json"
if ! out=$("$ecom" sim run "$q" --check-determinism 2>&1); then
	echo "FAIL --check-determinism on quickstart:"
	echo "$out" | tail -n 5
	fail=1
elif ! echo "$out" | grep -q '^determinism: 2 runs, [0-9]* identical trace lines'; then
	echo "FAIL --check-determinism did not report its comparison"
	fail=1
fi

s1=$(hash_of "$q" --seed 1)
s2=$(hash_of "$q" --seed 2)
if [ -z "$s1" ] || [ "$s1" = "$s2" ]; then
	echo "FAIL: seeds 1 and 2 gave the same trace hash ($s1)"
	fail=1
fi

# The trace file's lines hash to trace_hash (FNV-1a 64 over each line + '\n').
tmp=$(mktemp)
h=$(hash_of "$q" --trace "$tmp")
if command -v python3 >/dev/null; then
	got=$(python3 - "$tmp" <<'PY'
import json, sys
h = 0xcbf29ce484222325
for raw in open(sys.argv[1], encoding="utf-8"):
    for b in (json.loads(raw)["line"] + "\n").encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
print("%016x" % h)
PY
)
	if [ "$got" != "$h" ]; then
		echo "FAIL: --trace file hashes to $got, summary says $h"
		fail=1
	fi
fi
rm -f "$tmp"

[ "$fail" -eq 0 ] && echo "sim_determinism: $n scenarios deterministic"
exit "$fail"
