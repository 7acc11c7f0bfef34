#!/usr/bin/env bash
# determinism_builds.sh — same scenario + same seed => the same trace_hash on every compiler,
# optimization level and sanitizer build (DESIGN.md §1). Builds the `ecom` target with gcc -O0,
# gcc -O2, clang -O0, clang -O2 and clang -O1 + ASan/UBSan (each in its own reused build dir
# next to the ecom under test), runs every scenarios/*.json with each binary (and with the
# binary under test) and compares the hashes. On a difference it re-runs both builds with
# --trace and prints the scenario, the two builds and the first differing trace line.
# Usage: bash tests/determinism_builds.sh <path-to-ecom> <repo-root>
# Ends with "N passed, M failed" (per scenario); exit 1 on any failure or build error.
set -uo pipefail

ecom_under_test=${1:?usage: determinism_builds.sh <path-to-ecom> <repo-root>}
root=${2:?usage: determinism_builds.sh <path-to-ecom> <repo-root>}
root=$(cd "$root" && pwd)
tree=$(cd "$(dirname "$ecom_under_test")" && pwd)/determinism
mkdir -p "$tree"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

RUN_TIMEOUT_S=300 # one scenario on one build; a hang is a failure, not a stuck ctest
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# name | compiler | C flags | extra cmake arguments
builds=(
	"gcc-O0|gcc|-O0|"
	"gcc-O2|gcc|-O2|"
	"clang-O0|clang|-O0|"
	"clang-O2|clang|-O2|"
	"clang-asan-ubsan|clang|-O1|-DECOM_SANITIZE=ON"
)

names=()
bins=()
build_failed=0
for b in "${builds[@]}"; do
	IFS='|' read -r name cc cflags extra <<<"$b"
	if ! command -v "$cc" >/dev/null 2>&1; then
		echo "determinism: $cc not installed; build $name FAILED"
		build_failed=1
		continue
	fi
	dir=$tree/$name
	# shellcheck disable=SC2086 # $extra is zero or one word
	if ! cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE= \
		-DCMAKE_C_FLAGS="$cflags" -DECOM_BACKENDS=OFF $extra >"$work/$name.cfg" 2>&1; then
		echo "determinism: configuring $name FAILED:"
		tail -n 20 "$work/$name.cfg"
		build_failed=1
		continue
	fi
	if ! cmake --build "$dir" --target ecom >"$work/$name.build" 2>&1; then
		echo "determinism: building $name FAILED:"
		grep -E -A3 'error|FAILED' "$work/$name.build" | head -n 30
		build_failed=1
		continue
	fi
	names+=("$name")
	bins+=("$dir/ecom")
done
names+=("under-test")
bins+=("$ecom_under_test")
echo "determinism: builds ${names[*]}"

# Prints the trace_hash of one run (empty if the run printed no summary).
run_hash() { # bin scenario outfile
	timeout "$RUN_TIMEOUT_S" "$1" sim run "$2" >"$3" 2>"$3.err"
	echo $? >"$3.rc"
	tail -n 1 "$3" | sed -n 's/.*"trace_hash":"\([0-9a-f]*\)".*/\1/p'
}

# Prints the first trace line where two builds differ (both re-run with --trace).
first_diff() { # binA binB scenario nameA nameB
	local ta=$work/trace-a.jsonl tb=$work/trace-b.jsonl
	timeout "$RUN_TIMEOUT_S" "$1" sim run "$3" --trace "$ta" >/dev/null 2>&1
	timeout "$RUN_TIMEOUT_S" "$2" sim run "$3" --trace "$tb" >/dev/null 2>&1
	awk -v na="$4" -v nb="$5" '
		NR == FNR { a[FNR] = $0; n = FNR; next }
		{ if (!(FNR in a) || a[FNR] != $0) {
			printf "    first differing trace line %d:\n      %-18s %s\n      %-18s %s\n",
				FNR, na, (FNR in a) ? a[FNR] : "<end of trace>", nb, $0
			found = 1; exit } m = FNR }
		END { if (!found && m < n)
			printf "    trace of %s ends at line %d; %s continues: %s\n", nb, m, na, a[m + 1]
		      else if (!found && n == 0)
			printf "    could not produce traces (see the run errors)\n" }' "$ta" "$tb"
}

passed=0
failed=0
shopt -s nullglob
scenarios=("$root"/scenarios/*.json)
if [ ${#scenarios[@]} -eq 0 ]; then
	echo "determinism: no scenarios in $root/scenarios"
	failed=1
fi
for scn in "${scenarios[@]}"; do
	sname=$(basename "$scn" .json)
	ref=""
	refname=""
	ok=1
	line=""
	for i in "${!bins[@]}"; do
		out=$work/$sname.${names[$i]}
		h=$(run_hash "${bins[$i]}" "$scn" "$out")
		rc=$(cat "$out.rc")
		if [ -z "$h" ] || [ "$rc" -gt 1 ]; then
			echo "FAIL $sname: ${names[$i]} gave no trace_hash (exit $rc)"
			tail -n 5 "$out.err" | sed 's/^/    /'
			ok=0
			continue
		fi
		line+=" ${names[$i]}=$h"
		if [ -z "$ref" ]; then
			ref=$h
			refname=${names[$i]}
			refbin=${bins[$i]}
		elif [ "$h" != "$ref" ]; then
			echo "FAIL $sname: trace_hash $refname=$ref but ${names[$i]}=$h"
			first_diff "$refbin" "${bins[$i]}" "$scn" "$refname" "${names[$i]}"
			ok=0
		fi
	done
	if [ "$ok" = 1 ]; then
		echo "ok   $sname:$line"
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
done

[ "$build_failed" = 1 ] && failed=$((failed + 1)) && echo "determinism: a build failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
