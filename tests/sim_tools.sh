#!/usr/bin/env bash
# sim_tools.sh — the tools around `ecom sim run`, end to end through the binary:
#   sweep      a clean scenario passes over 40 seeds at --jobs 2; a planted-bug variant fails,
#              and the command it prints reproduces the failure; --swarm writes a per-seed
#              scenario whose printed command reproduces it exactly (same trace_hash)
#   shrink     a planted-bug scenario shrinks to fewer orders and still fires the same set
#   crashpoints every k of the small scenario passes; a planted bug (no outbox sweep) is
#              caught at some k, and the printed --crash-after command reproduces it
#   --report   one self-contained HTML file: an <svg>, the violations, no network fetch
#   usage      bad arguments exit 2
# Usage: bash tests/sim_tools.sh <path-to-ecom> <repo-root>
# Ends with "N passed, M failed"; exit 1 if any check failed.
set -uo pipefail

ecom=${1:?usage: sim_tools.sh <path-to-ecom> <repo-root>}
root=${2:?usage: sim_tools.sh <path-to-ecom> <repo-root>}
ecom=$(cd "$(dirname "$ecom")" && pwd)/$(basename "$ecom")
root=$(cd "$root" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { # check NAME CONDITION-COMMAND...
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}

if ! command -v jq >/dev/null 2>&1; then
	echo "FAIL jq is needed to edit scenario files in this test"
	echo "0 passed, 1 failed"
	exit 1
fi

quick=$root/scenarios/quickstart.json
small=$root/scenarios/crashpoints-small.json
# "ecom sim run ..." as printed -> the binary under test, run from this directory.
run_printed() { local cmd=$1; shift; eval "\"$ecom\" ${cmd#ecom }" "$@"; }
invariants_of() { tail -n 1 | jq -c '[.violations[].invariant] | unique'; }

# ---- sweep ------------------------------------------------------------------------------
"$ecom" sim sweep "$quick" --seeds 1..40 --jobs 2 >sweep.out 2>sweep.err
rc=$?
check "sweep quickstart 1..40 --jobs 2 exits 0 (got $rc)" test "$rc" -eq 0
check "sweep prints its closing line" grep -q '^sweep: 40 seeds, 0 failed, [0-9.]* seeds/s$' sweep.out
check "sweep prints the coverage summary" grep -q '^coverage: never reached: ' sweep.out
check "sweep coverage counts duplicates deduplicated in every seed" \
	grep -qE '^  duplicate_deduped +40/40 ' sweep.out
check "sweep reports progress on stderr when not a terminal" grep -q '^sweep: [0-9]*/40 seeds' sweep.err
tail -n 1 sweep.out

# The planted bug of bug-forget-refund.json, with the expectation that nothing fires.
jq '.name = "forget-refund-unexpected" | .expect = {"violations": []} |
    .workload.orders = 40' "$root/scenarios/bug-forget-refund.json" >planted.json
"$ecom" sim sweep planted.json --seeds 1..6 --jobs 2 --quiet >psweep.out 2>psweep.err
rc=$?
check "sweep of a planted bug exits 1 (got $rc)" test "$rc" -eq 1
check "sweep of a planted bug prints its closing line" \
	grep -qE '^sweep: 6 seeds, [1-6] failed, [0-9.]* seeds/s$' psweep.out
repro=$(grep -m1 '^  reproduce: ' psweep.out | sed 's/^  reproduce: //')
check "sweep prints a reproducing command ($repro)" \
	test -n "$repro" -a "${repro#ecom sim run planted.json --seed }" != "$repro"
run_printed "$repro" >repro.out 2>/dev/null
rc=$?
check "the printed command fails when run (exit $rc)" test "$rc" -eq 1
check "the printed command fires payment_balance" grep -q '"invariant":"payment_balance"' repro.out

# Swarm: the per-seed scenario is written, and its printed command replays it exactly.
"$ecom" sim sweep planted.json --seeds 1..4 --jobs 2 --swarm --out swarm --quiet >swarm.out 2>&1
rc=$?
check "swarm sweep of a planted bug exits 1 (got $rc)" test "$rc" -eq 1
srepro=$(grep -m1 '^  reproduce: ' swarm.out | sed 's/^  reproduce: //')
sfile=$(echo "$srepro" | awk '{print $4}')
check "swarm writes the failing seed's scenario ($sfile)" test -s "$sfile"
check "the swarm scenario says what it is" grep -q 'Swarm variant of planted.json for seed' "$sfile"
run_printed "$srepro" >srepro1.out 2>/dev/null
rc=$?
run_printed "$srepro" >srepro2.out 2>/dev/null
check "the swarm command fails when run (exit $rc)" test "$rc" -eq 1
check "the swarm command is deterministic (same trace_hash twice)" \
	test "$(tail -n1 srepro1.out | jq -r .trace_hash)" = "$(tail -n1 srepro2.out | jq -r .trace_hash)"
check "swarm keeps only failing seeds' files" \
	test "$(ls swarm | wc -l)" -eq "$(grep -c '^FAIL seed' swarm.out)"

# ---- shrink -----------------------------------------------------------------------------
bug=$root/scenarios/bug-forget-refund.json
seed=$(jq -r .seed "$bug")
"$ecom" sim shrink "$bug" --seed "$seed" -o shrunk.json >shrink.out 2>shrink.err
rc=$?
check "shrink of bug-forget-refund exits 0 (got $rc)" test "$rc" -eq 0
tail -n 2 shrink.out | head -n 1
check "shrink prints its closing line" grep -q '^shrink: .* change(s) kept in [0-9]* run(s); still fires ' shrink.out
check "shrink reports progress on stderr" grep -q '^shrink: run [0-9]*/200: .*: kept (' shrink.err
check "the shrunk file is a valid scenario with the seed" test "$(jq -r .seed shrunk.json)" = "$seed"
check "the shrunk file has fewer orders" \
	test "$(jq -r .workload.orders shrunk.json)" -lt "$(jq -r .workload.orders "$bug")"
check "the shrunk file says what it was shrunk from" grep -q 'Shrunk by `ecom sim shrink` from' shrunk.json
"$ecom" sim run "$bug" --seed "$seed" >orig.out 2>/dev/null
"$ecom" sim run shrunk.json >small.out 2>/dev/null
rc=$?
check "the shrunk scenario fails the same way: $(invariants_of <small.out)" \
	test "$(invariants_of <small.out)" = "$(invariants_of <orig.out)"
check "the shrunk scenario keeps the original expectation (exit $rc)" test "$rc" -eq 0
"$ecom" sim shrink "$quick" --seed 1 -o none.json >none.out 2>/dev/null
rc=$?
check "shrink of a passing scenario exits 1 (got $rc)" test "$rc" -eq 1

# ---- crashpoints ------------------------------------------------------------------------
"$ecom" sim crashpoints "$small" --jobs 2 >cp.out 2>cp.err
rc=$?
check "crashpoints on crashpoints-small passes every k (got $rc)" test "$rc" -eq 0
check "crashpoints prints its closing line" grep -qE '^crashpoints: [0-9]+ runs, 0 failed' cp.out
check "crashpoints tried every instance until its calls ran out" \
	test "$(grep -c 'crash point(s), 0 failed$' cp.err)" -eq 5
tail -n 1 cp.out
jq '.name = "crashpoints-no-sweep" | .bugs = ["skip_outbox_sweep"]' "$small" >nosweep.json
"$ecom" sim crashpoints nosweep.json --instance order#1 --jobs 2 >cpb.out 2>/dev/null
rc=$?
check "crashpoints catches a planted skip_outbox_sweep (exit $rc)" test "$rc" -eq 1
check "crashpoints' closing line counts the failure" grep -qE '^crashpoints: [0-9]+ runs, [1-9][0-9]* failed' cpb.out
crepro=$(grep -m1 '^  reproduce: ' cpb.out | sed 's/^  reproduce: //')
run_printed "$crepro" >crepro.out 2>/dev/null
rc=$?
check "the printed --crash-after command fails when run ($crepro: exit $rc)" test "$rc" -eq 1
check "the --crash-after run crashed the instance once" \
	test "$(tail -n1 crepro.out | jq '.instances["order#1"].crashes')" -eq 1

# ---- report -----------------------------------------------------------------------------
"$ecom" sim run "$bug" --report report.html >/dev/null 2>&1
check "--report writes a file" test -s report.html
check "the report holds an <svg>" grep -q '<svg' report.html
check "the report fetches nothing (no http:// or https://)" bash -c '! grep -qE "https?://" report.html'
check "the report names the violations" grep -q 'payment_balance' report.html
check "the report gives the reproducing command" grep -q "ecom sim run $bug --seed $seed" report.html
"$ecom" sim run "$quick" --trace t.jsonl --report r2.html >/dev/null 2>&1
check "--report with --trace writes both" test -s r2.html -a -s t.jsonl

# ---- usage ------------------------------------------------------------------------------
"$ecom" sim sweep "$quick" >/dev/null 2>&1
check "sweep without --seeds exits 2" test $? -eq 2
"$ecom" sim sweep "$quick" --seeds 5..1 >/dev/null 2>&1
check "sweep with a reversed range exits 2" test $? -eq 2
"$ecom" sim sweep missing.json --seeds 1..2 >/dev/null 2>&1
check "sweep of a missing file exits 2" test $? -eq 2
"$ecom" sim shrink "$quick" -o x.json >/dev/null 2>&1
check "shrink without --seed exits 2" test $? -eq 2
"$ecom" sim crashpoints "$small" --instance nosuch#1 >/dev/null 2>&1
check "crashpoints --instance of an unknown instance exits 2" test $? -eq 2
"$ecom" sim run "$quick" --crash-after payment >/dev/null 2>&1
check "sim run --crash-after without :K exits 2" test $? -eq 2
"$ecom" sim --help | grep -q crashpoints
check "ecom sim --help lists sweep, shrink and crashpoints" test $? -eq 0

echo "$passed passed, $failed failed"
test "$failed" -eq 0
