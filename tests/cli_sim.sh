#!/usr/bin/env bash
# cli_sim.sh — the `ecom` command line around the simulator, end to end through the binary,
# on the tiny scenarios of tests/fixtures/cli-sim (DESIGN.md §5, exit codes of src/cli/cli.h):
#   ecom        usage on no command / --help / an unknown command
#   sim run     every bad flag and bad scenario file exits 2 naming the flag or the key; the
#               summary is the last stdout line; a failing run prints the command reproducing
#               it; --seed, --crash-after, --trace and --report files (and their write errors),
#               --check-determinism (and its report of a mismatch, via a test hook)
#   sim sweep   bad flags; failing seeds listed in order, each with a reproducing command;
#               --swarm files kept only for failing seeds; a seed that times out, is killed,
#               or finds a broken scenario; progress on a terminal; running out of descriptors
#   sim shrink  bad flags; a scenario with something of every kind shrinks and still fires
#               the same invariants; the run budget; a passing scenario; write errors
#   sim crashpoints  bad flags; a scripted crash is not taken for the crash point; a planted
#               bug is caught and reproduced with --seed; a scenario failing without crashes
#   token       bad flags and secrets, claims and HS256 signature of the minted token
# Usage: bash tests/cli_sim.sh <path-to-ecom> <repo-root>
# Ends with "N passed, M failed"; exit 1 if any check failed.
set -uo pipefail

ecom=${1:?usage: cli_sim.sh <path-to-ecom> <repo-root>}
root=${2:?usage: cli_sim.sh <path-to-ecom> <repo-root>}
ecom=$(cd "$(dirname "$ecom")" && pwd)/$(basename "$ecom")
root=$(cd "$root" && pwd)
fx=$root/tests/fixtures/cli-sim
work=$(mktemp -d)
bg_pids=()
cleanup() {
	for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT
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
has() { grep -qF -- "$1" "$2"; }     # has TEXT FILE
hasre() { grep -qE -- "$1" "$2"; }   # hasre ERE FILE

if ! command -v jq >/dev/null 2>&1; then
	echo "FAIL jq is needed to read the summaries in this test"
	echo "0 passed, 1 failed"
	exit 1
fi

# e ARGS...: runs ecom; stdout in out, stderr in err, exit code in $rc.
rc=0
e() { "$ecom" "$@" >out 2>err; rc=$?; }
# usage_case WANT-RC STDERR-TEXT ARGS...: exit code and the message, nothing on stdout.
usage_case() {
	local want=$1 text=$2
	shift 2
	e "$@"
	if [ "$rc" -eq "$want" ] && has "$text" err && [ ! -s out ]; then
		ok "ecom $* -> $want, '$text'"
	else
		bad "ecom $* -> $rc (want $want, '$text'); stderr: $(head -c 300 err)"
	fi
}
summary() { tail -n 1 out; }          # the run's JSON summary (last stdout line)
# Runs "ecom sim run ..." as printed, from this directory; stdout in the file named first.
run_printed() { local to=$1 cmd=$2; eval "\"$ecom\" ${cmd#ecom }" >"$to" 2>/dev/null; }
# Runs ecom with every descriptor above 2 closed and at most N open (python3 needed).
lowfd() {
	local n=$1
	shift
	python3 -c 'import os, resource, sys
n = int(sys.argv[1])
os.closerange(3, 65536)
resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
os.execv(sys.argv[2], sys.argv[2:])' "$n" "$ecom" "$@" >out 2>err
	rc=$?
}
# The first child of PID (the run it started), waiting up to ~5 s for it to appear.
first_child() {
	local c=""
	for _ in $(seq 50); do
		c=$(pgrep -P "$1" | head -n 1)
		[ -n "$c" ] && break
		sleep 0.1
	done
	echo "$c"
}
# SIGTERM to that child; if none appeared, to PID itself, so the test never waits for
# slow.json to finish.
kill_child_of() { local c; c=$(first_child "$1"); kill -TERM "${c:-$1}" 2>/dev/null; }

tiny=$fx/tiny.json
tfail=$fx/tiny-fail.json

# ---- ecom ---------------------------------------------------------------------------------
e
check "ecom without a command exits 2 with the usage on stderr" \
	test "$rc" -eq 2 -a ! -s out
for c in sim serve load dlq token; do
	check "the usage lists '$c'" hasre "^  $c +[a-z]" err
done
# A /dev/shm/mongoc-<pid> left by a killed process that had our pid (libmongoc makes one per
# process before main) must not make libmongoc warn on stderr.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	p=$(sh -c 'echo $$')
	for i in $(seq 1 60); do : >"/dev/shm/mongoc-$((p + i))"; done
	: >shm_err
	for i in 1 2 3 4 5; do "$ecom" --help >/dev/null 2>>shm_err; done
	check "a leftover /dev/shm/mongoc-<pid> makes no warning" test ! -s shm_err
	for i in $(seq 1 60); do rm -f "/dev/shm/mongoc-$((p + i))"; done
fi
for h in --help -h help; do
	e "$h"
	check "ecom $h exits 0 with the usage on stdout" \
		bash -c "test $rc -eq 0 && grep -q '^usage: ecom <command>' out && test ! -s err"
done
usage_case 2 "ecom: unknown command 'frobnicate'" frobnicate
check "an unknown command is followed by the usage" has "usage: ecom <command>" err
usage_case 2 "ecom sim run: unknown option '--'" sim run "$tiny" -- --help
e sim run "$tiny" -h
check "-h anywhere asks for help (exit $rc)" bash -c "test $rc -eq 0 && grep -q '^usage: ecom sim run FILE' out"

# ---- ecom sim -----------------------------------------------------------------------------
usage_case 2 "usage: ecom sim <command>" sim
for c in run sweep shrink crashpoints; do
	check "ecom sim's usage lists '$c'" hasre "^  $c FILE" err
done
for h in --help -h help; do
	e sim "$h"
	check "ecom sim $h exits 0 with the usage on stdout" \
		bash -c "test $rc -eq 0 && grep -q '^usage: ecom sim <command>' out"
done
usage_case 2 "ecom sim: unknown command 'walk'" sim walk

# ---- sim run: usage -----------------------------------------------------------------------
e sim run --help
check "sim run --help exits 0" test "$rc" -eq 0
for o in --seed --trace --report --check-determinism --crash-after "exit status:"; do
	check "sim run --help explains $o" has "$o" out
done
usage_case 2 "ecom sim run: missing scenario FILE" sim run
check "a missing FILE is followed by the usage" has "usage: ecom sim run FILE" err
msg="ecom sim run: --seed: needs a non-negative integer"
usage_case 2 "$msg" sim run "$tiny" --seed
for s in -1 abc "" 12x 99999999999999999999 9223372036854775808; do
	usage_case 2 "$msg" sim run "$tiny" --seed "$s"
done
usage_case 2 "ecom sim run: --trace: needs a file name" sim run "$tiny" --trace
usage_case 2 "ecom sim run: --report: needs a file name" sim run "$tiny" --report
msg="ecom sim run: --crash-after: needs INSTANCE:K"
usage_case 2 "$msg" sim run "$tiny" --crash-after
for s in :3 payment#1 payment#1:0 payment#1:x payment#1:-2 \
	"a-very-long-instance-name-for-a-crash#1:3"; do
	usage_case 2 "$msg" sim run "$tiny" --crash-after "$s"
done
usage_case 2 "ecom sim run: unknown option '--frobnicate'" sim run "$tiny" --frobnicate
usage_case 2 "ecom sim run: more than one FILE ('$tfail')" sim run "$tiny" "$tfail"
usage_case 2 "ecom sim run: -: cannot open: No such file or directory" sim run -

# ---- sim run: bad scenario files (stderr names the key, exit 2, no summary) ----------------
usage_case 2 "ecom sim run: nope.json: cannot open: No such file or directory" sim run nope.json
check "a missing file is named once" bash -c '! grep -q "nope.json: nope.json" err'
printf '{"name": "x",' >broken.json
usage_case 2 "ecom sim run: broken.json: malformed JSON at" sim run broken.json
jq '.bogus = 1' "$tiny" >unknown-key.json
usage_case 2 "ecom sim run: unknown-key.json: bogus: unknown key" sim run unknown-key.json
jq '.workload.orders = "many"' "$tiny" >bad-type.json
usage_case 2 "bad-type.json: workload.orders: must be an integer" sim run bad-type.json
jq '.faults = {"store_error": 2}' "$tiny" >bad-range.json
usage_case 2 "bad-range.json: faults.store_error: probability must be in [0, 1] (got 2)" \
	sim run bad-range.json
jq '.ops = [{"at_ms": 10, "op": "retry", "order": 5, "step": "payment"}]' "$tiny" >bad-op.json
usage_case 2 "bad-op.json: ops[0].order: the workload creates only 2 orders" sim run bad-op.json
jq '.ops = [{"at_ms": 10, "op": "crash", "instance": "payment#2"}]' "$tiny" >bad-inst.json
usage_case 2 "bad-inst.json: ops[0].instance: payment has 1 instance(s)" sim run bad-inst.json
printf '{"name": "a\0b"}' >nul.json
usage_case 2 "ecom sim run: nul.json: contains a NUL byte" sim run nul.json
cp bad-type.json work # a file name that is the start of the key path in the message
usage_case 2 "ecom sim run: work: workload.orders: must be an integer" sim run work

# ---- sim run: results ---------------------------------------------------------------------
e sim run "$tiny"
check "a passing run exits 0 (got $rc)" test "$rc" -eq 0
check "it says PASS with the counts" \
	hasre '^cli-tiny: PASS — 2 orders, [0-9]+ shipped, [0-9]+ cancelled, 0 stuck; 0 violation\(s\)$' out
check "the last stdout line is the summary with every key of DESIGN.md §5" \
	bash -c "tail -n 1 out | jq -e 'has(\"scenario\") and has(\"seed\") and has(\"orders\") and
		has(\"shipped\") and has(\"cancelled\") and has(\"stuck\") and has(\"deliveries\") and
		has(\"duplicates\") and has(\"crashes\") and has(\"sim_ms\") and has(\"wall_ms\") and
		has(\"trace_hash\") and (.violations == [])' >/dev/null"
check "the summary names the scenario and its own seed" \
	test "$(summary | jq -r '"\(.scenario) \(.seed)"')" = "cli-tiny 3"
check "a passing run prints no reproduce line" bash -c '! grep -q "^reproduce:" out'
h3=$(summary | jq -r .trace_hash)
e sim run "$tiny" --seed 7
check "--seed 7 runs seed 7 (exit $rc)" test "$rc" -eq 0 -a "$(summary | jq .seed)" = 7
check "another seed gives another trace" test "$(summary | jq -r .trace_hash)" != "$h3"

e sim run "$tfail"
check "a run missing its expectations exits 1 (got $rc)" test "$rc" -eq 1
check "stderr says which expectations were not met" \
	has "ecom sim run: cli-tiny-fail: expectations not met: termination fired; payment_balance fired" err
check "stdout says FAIL" hasre '^cli-tiny-fail: FAIL — 2 orders, .*; [1-9][0-9]* violation\(s\)$' out
check "stdout gives the reproducing command before the summary" \
	test "$(tail -n 2 out | head -n 1)" = "reproduce: ecom sim run $tfail --seed 3"
check "the summary lists the violations" \
	test "$(summary | jq -c '[.violations[].invariant] | unique')" = '["payment_balance","termination"]'
h=$(summary | jq -r .trace_hash)
run_printed again.out "$(tail -n 2 out | head -n 1 | sed 's/^reproduce: //')"
check "the printed command reproduces the run (same trace_hash)" \
	test "$(tail -n 1 again.out | jq -r .trace_hash)" = "$h"
# A path the shell would split or unquote is printed as one quoted word.
mkdir -p "odd dir"
cp "$tfail" "odd dir/it's fail.json"
e sim run "odd dir/it's fail.json"
check "a path with a space and a quote is quoted in the reproduce line" \
	test "$(tail -n 2 out | head -n 1)" = "reproduce: ecom sim run 'odd dir/it'\\''s fail.json' --seed 3"
run_printed again.out "$(tail -n 2 out | head -n 1 | sed 's/^reproduce: //')"
check "and that command reproduces the run" \
	test "$(tail -n 1 again.out | jq -r .trace_hash)" = "$h"
e sim sweep "odd dir/it's fail.json" --seeds 2 --no-trace -q
run_printed again.out "$(grep -m1 -A1 '^FAIL seed 2:' out | sed -n 's/^  reproduce: //p')"
check "so does a sweep's" test "$(tail -n 1 again.out | jq -r .seed)" = 2

e sim run "$tiny" --crash-after payment#1:2
check "--crash-after payment#1:2 crashes payment#1 once (exit $rc)" \
	test "$rc" -eq 0 -a "$(summary | jq '.instances["payment#1"].crashes')" = 1
e sim run "$fx/nosweep.json" --crash-after order#1:5 --report cp.html
check "nosweep fails when order#1 crashes after its 5th call (exit $rc)" test "$rc" -eq 1
check "its reproduce line keeps --crash-after" \
	has "reproduce: ecom sim run $fx/nosweep.json --seed 4 --crash-after order#1:5" out
check "so does the report's" has "--seed 4 --crash-after order#1:5" cp.html

e sim run "$tiny" --trace t.jsonl
check "--trace writes one JSON line per trace line" \
	test "$(wc -l <t.jsonl)" -eq "$(summary | jq .trace_lines)"
check "each trace line has t_us, actor, event, detail and line" \
	bash -c "jq -e 'has(\"t_us\") and has(\"actor\") and has(\"event\") and has(\"detail\") and
		has(\"line\")' t.jsonl | grep -vq true; test \$? -eq 1"
usage_case 2 "ecom sim run: --trace nodir/t.jsonl: No such file or directory" \
	sim run "$tiny" --trace nodir/t.jsonl
if [ -w /dev/full ]; then
	e sim run "$tiny" --trace /dev/full
	check "a trace that cannot be written fails the run (exit $rc)" test "$rc" -eq 1
	check "and says why" has "ecom sim run: --trace /dev/full: No space left on device" err
	check "the summary still says the run itself passed" test "$(summary | jq -r .result)" = pass
fi
e sim run "$tiny" --report nodir/r.html
check "a report that cannot be written fails the run (exit $rc)" test "$rc" -eq 1
check "and says so naming --report" has "ecom sim run: --report" err
check "the summary is still printed" test "$(summary | jq -r .scenario)" = cli-tiny
e sim run "$tfail" --report nodir/r.html
check "a failing run whose report cannot be written still exits 1 (got $rc)" test "$rc" -eq 1
e sim run "$tiny" --report r.html
check "--report alone writes the HTML report (exit $rc)" \
	bash -c "test $rc -eq 0 && grep -q '<svg' r.html && grep -q cli-tiny r.html"
e sim run "$tiny" --trace t2.jsonl --report r2.html
check "--trace with --report writes both (exit $rc)" \
	bash -c "test $rc -eq 0 && grep -q '<svg' r2.html && test \$(wc -l <t2.jsonl) -eq \$(tail -n 1 out | jq .trace_lines)"

e sim run "$tiny" --check-determinism
check "--check-determinism passes on tiny (exit $rc)" test "$rc" -eq 0
check "it compared every trace line" \
	has "determinism: 2 runs, $(summary | jq .trace_lines) identical trace lines" out
# Test hook: the second run uses another seed, so the traces differ from their first line
# ("world begin scenario=... seed=N").
ECOM_SIM_TEST_RERUN_SEED=4 "$ecom" sim run "$tiny" --check-determinism --trace d.jsonl >out 2>err
rc=$?
check "a determinism mismatch exits 1 (got $rc)" test "$rc" -eq 1
check "stdout names the first differing line" has "determinism: FAILED at trace line 1" out
check "stderr shows the line of each run" \
	bash -c "grep -q '^determinism: the runs differ at trace line 1$' err &&
		grep -q '^  run 2: .*world begin scenario=cli-tiny seed=4$' err"
check "run 1's text is the first line of its trace file" \
	test "$(sed -n 's/^  run 1: //p' err)" = "$(head -n 1 d.jsonl | jq -r .line)"
check "a mismatch prints the reproducing command" has "reproduce: ecom sim run $tiny --seed 3" out
check "the run itself passed" test "$(summary | jq -r .result)" = pass
ECOM_SIM_TEST_RERUN_SEED=abc "$ecom" sim run "$tiny" --check-determinism >out 2>err
check "the hook ignores a value that is not a seed (exit $?)" grep -q '^determinism: 2 runs, ' out

# ---- sim sweep ----------------------------------------------------------------------------
e sim sweep --help
check "sim sweep --help exits 0" test "$rc" -eq 0
for o in --seeds --jobs --swarm --out --quiet --no-trace --timeout "exit status:"; do
	check "sim sweep --help explains $o" has "$o" out
done
usage_case 2 "ecom sim sweep: missing scenario FILE" sim sweep --seeds 1..2
usage_case 2 "ecom sim sweep: missing --seeds A..B" sim sweep "$tiny"
msg="ecom sim sweep: --seeds: needs A..B with 0 <= A <= B"
usage_case 2 "$msg" sim sweep "$tiny" --seeds
for s in x -1 1.. 1..x 1.5 1...3 2..1 1..2x 0..100000000 99999999999999999999 \
	1..99999999999999999999; do
	usage_case 2 "$msg" sim sweep "$tiny" --seeds "$s"
done
for j in 0 257 x; do
	usage_case 2 "ecom sim sweep: --jobs: needs 1..256" sim sweep "$tiny" --seeds 1..2 --jobs "$j"
done
usage_case 2 "ecom sim sweep: --jobs: needs 1..256" sim sweep "$tiny" --seeds 1..2 -j
for t in 0 86401 5s; do
	usage_case 2 "ecom sim sweep: --timeout: needs 1..86400 seconds" \
		sim sweep "$tiny" --seeds 1..2 --timeout "$t"
done
usage_case 2 "ecom sim sweep: --timeout: needs 1..86400 seconds" sim sweep "$tiny" --seeds 1 --timeout
usage_case 2 "ecom sim sweep: --out: needs a directory" sim sweep "$tiny" --seeds 1..2 --swarm --out
usage_case 2 "ecom sim sweep: --out is only used with --swarm" sim sweep "$tiny" --seeds 1 --out d
usage_case 2 "ecom sim sweep: unknown option '--frobnicate'" sim sweep "$tiny" --frobnicate
usage_case 2 "ecom sim sweep: more than one FILE ('$tfail')" sim sweep "$tiny" "$tfail" --seeds 1
usage_case 2 "ecom sim sweep: nope.json: cannot open: No such file or directory" \
	sim sweep nope.json --seeds 1
check "sweep names a missing file once" bash -c '! grep -q "nope.json: nope.json" err'
usage_case 2 "ecom sim sweep: bad-type.json: workload.orders: must be an integer" \
	sim sweep bad-type.json --seeds 1
usage_case 2 "ecom sim sweep: -: cannot open: No such file or directory" sim sweep - --seeds 1

e sim sweep "$tiny" --seeds 5 -j 1
check "--seeds 5 sweeps the one seed 5 (exit $rc)" \
	bash -c "test $rc -eq 0 && grep -q '^sweep: $tiny seeds 5..5, 1 job(s)$' out &&
		grep -q '^sweep: 1 seeds, 0 failed, [0-9.]* seeds/s$' out"
check "a sweep with traces measures every coverage point" bash -c '! grep -q "not measured" out'

e sim sweep "$tfail" --seeds 1..3 --jobs 2 --no-trace
check "a sweep of a failing scenario exits 1 (got $rc)" test "$rc" -eq 1
for s in 1 2 3; do
	check "seed $s is listed with why and how to reproduce it" \
		bash -c "grep -A1 '^FAIL seed $s: termination fired; payment_balance fired$' out |
			grep -qx '  reproduce: ecom sim run $tfail --seed $s'"
done
check "the failed seeds are listed in order" grep -qx 'failed seeds: 1 2 3' out
check "the closing line counts them" grep -q '^sweep: 3 seeds, 3 failed, ' out
run_printed again.out "$(grep -m1 -A1 '^FAIL seed 2:' out | sed -n 's/^  reproduce: //p')"
check "the printed command of seed 2 fails the same way" \
	test "$(tail -n 1 again.out | jq -c '[.seed, ([.violations[].invariant] | unique)]')" = \
	'[2,["payment_balance","termination"]]'
e sim sweep "$tfail" --seeds 100..164 --jobs 2 --no-trace -q
check "65 failing seeds are all listed, in order (exit $rc)" \
	bash -c "test $rc -eq 1 && grep -qx 'failed seeds: $(seq -s ' ' 100 164)' out &&
		test \$(grep -c '^FAIL seed ' out) -eq 65"

# Swarm: files land under $TMPDIR without --out, and only failing seeds keep theirs.
mkdir tmp-pass tmp-fail
TMPDIR=$work/tmp-pass "$ecom" sim sweep "$tiny" --seeds 1..3 --jobs 2 --swarm >out 2>err
rc=$?
check "a swarm sweep of tiny passes (exit $rc)" test "$rc" -eq 0
check "its header says swarm" grep -q "^sweep: $tiny seeds 1..3, 2 job(s), swarm$" out
check "a passing swarm sweep leaves nothing under \$TMPDIR" test -z "$(ls -A tmp-pass)"
TMPDIR=$work/tmp-fail "$ecom" sim sweep "$tfail" --seeds 1..2 --swarm --quiet >out 2>err
rc=$?
check "a swarm sweep of tiny-fail fails (exit $rc)" test "$rc" -eq 1
check "--quiet prints no progress" test ! -s err
dir=$(sed -n 's|^swarm scenarios of the failing seeds are in \(.*\)/$|\1|p' out)
check "it says where the failing seeds' scenarios are ($dir)" \
	test -n "$dir" -a "${dir#"$work"/tmp-fail/ecom-sweep-}" != "$dir"
sw=$dir/cli-tiny-fail-swarm-2.json
check "seed 2's swarm scenario is there" test -s "$sw"
check "its reproduce line runs that file" grep -qx "  reproduce: ecom sim run $sw --seed 2" out
check "the swarm file keeps expect.violations and says what it is" \
	test "$(jq -c '[.expect, .seed, .name, (.description | startswith("Swarm variant of"))]' "$sw")" = \
	'[{"violations":[]},2,"cli-tiny-fail-swarm-2",true]'
check "the swarm file has a faults section (the scenario had none)" \
	test "$(jq -r '.faults | type' "$sw")" = object
mkdir keep
e sim sweep "$tiny" --seeds 1..2 --swarm --out keep
check "a passing swarm sweep with --out keeps the directory, empty (exit $rc)" \
	bash -c "test $rc -eq 0 && test -d keep && test -z \"\$(ls -A keep)\""
env -u TMPDIR "$ecom" sim sweep "$tiny" --seeds 1 --swarm >out 2>err
rc=$?
check "without \$TMPDIR, swarm works under /tmp (exit $rc)" \
	bash -c "test $rc -eq 0 && grep -q '^sweep: 1 seeds, 0 failed' out"
TMPDIR=$work/no-such-dir "$ecom" sim sweep "$tiny" --seeds 1 --swarm >out 2>err
rc=$?
check "swarm without a writable \$TMPDIR exits 2 (got $rc)" \
	bash -c "test $rc -eq 2 && grep -q '^ecom sim sweep: mkdtemp $work/no-such-dir/ecom-sweep-.*: No such file or directory$' err"
: >a-file
e sim sweep "$tiny" --seeds 1..2 --swarm --out a-file
check "a swarm scenario that cannot be written stops the sweep: exit 2 (got $rc)" \
	bash -c "test $rc -eq 2 && grep -qx 'ecom sim sweep: cannot write a-file/cli-tiny-swarm-1.json: Not a directory' err"
usage_case 2 "ecom sim sweep: --out a-file/sub: Not a directory" \
	sim sweep "$tiny" --seeds 1 --swarm --out a-file/sub

# A scenario whose name needs escaping in the JSON trace lines, and no expect section.
jq '.name = "tiny \"quoted\" \\ name" | del(.expect)' "$tiny" >quoted.json
mkdir qdir
e sim sweep quoted.json --seeds 1..2 --jobs 2 --swarm --out qdir
check "a scenario name with quotes and a backslash sweeps, swarm too (exit $rc)" \
	bash -c "test $rc -eq 0 && grep -q '^sweep: 2 seeds, 0 failed' out && ! grep -q 'not measured' out"

# Progress on a terminal: one rewritten line (\r ESC[K) instead of lines.
if command -v script >/dev/null 2>&1; then
	script -qec "'$ecom' sim sweep '$tfail' --seeds 1..2 --jobs 1 --no-trace" /dev/null >tty.out 2>&1
	rc=$?
	check "a sweep on a terminal exits 1 for failing seeds (got $rc)" test "$rc" -eq 1
	check "it redraws its progress line" grep -q $'\r\e\\[Ksweep: 2/2 seeds, 2 failed' tty.out
	check "a failure clears the progress line first" grep -q $'\r\e\\[KFAIL seed 1: ' tty.out
	script -qec "'$ecom' sim sweep '$tfail' --seeds 1..2 -q --no-trace" /dev/null >tty.out 2>&1
	check "with -q a terminal gets no progress" bash -c "! grep -q $'\\e' tty.out && grep -q '^FAIL seed 2' tty.out"
fi

# A seed running past --timeout is killed and fails.
e sim sweep "$fx/slow.json" --seeds 1 --timeout 1 --quiet
check "a seed past --timeout 1 fails the sweep (exit $rc)" test "$rc" -eq 1
check "it says the run was killed" \
	grep -qx 'FAIL seed 1: the run took more than 1 s and was killed' out
check "a sweep where no seed answered has measured no coverage" \
	grep -q '^coverage: not measured: duplicate_deduped, ' out

# A seed killed by a signal.
"$ecom" sim sweep "$fx/slow.json" --seeds 1 --jobs 1 --quiet >out 2>err &
sweeper=$!
bg_pids+=("$sweeper")
kill_child_of "$sweeper"
wait "$sweeper"
rc=$?
check "a seed killed by SIGTERM fails the sweep (exit $rc)" test "$rc" -eq 1
check "it names the signal" grep -qx 'FAIL seed 1: the run died of signal 15 (Terminated)' out

# A seed that finds the scenario broken (edited during the sweep) exits 2: so does the sweep.
cp "$fx/slow.json" edited.json
"$ecom" sim sweep edited.json --seeds 1..2 --jobs 1 --no-trace --quiet >out 2>err &
sweeper=$!
bg_pids+=("$sweeper")
kid=$(first_child "$sweeper") # the sweep has read the file: it has started a seed
echo '{"name": ' >edited.json
kill -TERM "${kid:-$sweeper}" 2>/dev/null
wait "$sweeper"
rc=$?
check "a seed exiting 2 makes the sweep exit 2 (got $rc)" test "$rc" -eq 2
check "it is reported as a bad scenario" grep -qx 'FAIL seed 2: exit 2 (bad scenario or usage)' out
check "both seeds are listed" grep -qx 'failed seeds: 1 2' out

# Out of file descriptors: the sweep stops, kills the seed already running, exits 2.
if command -v python3 >/dev/null 2>&1; then
	lowfd 7 sim sweep "$fx/slow.json" --seeds 1..2 --jobs 2 --timeout 5
	check "a sweep that cannot start a seed exits 2 (got $rc)" test "$rc" -eq 2
	check "and says why" has "ecom sim: pipe: Too many open files" err
fi

# ---- sim shrink ---------------------------------------------------------------------------
e sim shrink --help
check "sim shrink --help exits 0" test "$rc" -eq 0
for o in --seed -o --max-runs --quiet "exit status:"; do
	check "sim shrink --help explains $o" has "$o" out
done
usage_case 2 "ecom sim shrink: missing scenario FILE" sim shrink --seed 1 -o x.json
check "the usage follows" has "usage: ecom sim shrink FILE" err
usage_case 2 "ecom sim shrink: missing --seed N" sim shrink "$tfail" -o x.json
usage_case 2 "ecom sim shrink: missing -o OUT.json" sim shrink "$tfail" --seed 1
msg="ecom sim shrink: --seed: needs a non-negative integer"
usage_case 2 "$msg" sim shrink "$tfail" -o x.json --seed
for s in -1 x "" 3x 9223372036854775808; do
	usage_case 2 "$msg" sim shrink "$tfail" -o x.json --seed "$s"
done
usage_case 2 "ecom sim shrink: -o: needs a file name" sim shrink "$tfail" --seed 1 -o
for m in 0 x 100001; do
	usage_case 2 "ecom sim shrink: --max-runs: needs 1..100000" \
		sim shrink "$tfail" --seed 1 -o x.json --max-runs "$m"
done
usage_case 2 "ecom sim shrink: --max-runs: needs 1..100000" sim shrink "$tfail" --seed 1 --max-runs
usage_case 2 "ecom sim shrink: unknown option '--frobnicate'" sim shrink "$tfail" --frobnicate
usage_case 2 "ecom sim shrink: more than one FILE ('$tiny')" sim shrink "$tfail" "$tiny"
usage_case 2 "ecom sim shrink: nope.json: cannot open: No such file or directory" \
	sim shrink nope.json --seed 1 -o x.json
check "shrink names a missing file once" bash -c '! grep -q "nope.json: nope.json" err'
usage_case 2 "ecom sim shrink: bad-type.json: workload.orders: must be an integer" \
	sim shrink bad-type.json --seed 1 -o x.json
usage_case 2 "ecom sim shrink: -: cannot open: No such file or directory" sim shrink - --seed 1 -o x

src=$fx/shrinkable.json
e sim shrink "$src" --seed 11 --out small.json --max-runs 80
check "shrinkable shrinks (exit $rc)" test "$rc" -eq 0
check "the closing line says what still fires" \
	grep -q "^shrink: $src seed 11: [1-9][0-9]* change(s) kept in [0-9]* run(s); still fires termination, payment_balance; wrote small.json$" out
check "the last line is the reproducing command" \
	test "$(tail -n 1 out)" = "reproduce: ecom sim run small.json --seed 11"
for what in "services.payment 2 -> 1" "2 of 2 admin op(s) removed" "topics.partitions -> " \
	"without faults.duplicate_delivery (0.1)" "without business.payment_decline (0.1)" \
	"workload.items [1,3] -> [1,1]" "run.quiesce_ms 30000 -> "; do
	check "it lists what was removed: $what" \
		bash -c "grep '^shrink: removed: ' out | grep -qF -- '$what'"
done
check "an op left beyond the shrunk workload is skipped as invalid" \
	has "ecom sim shrink: a variant is invalid (ops[1].order: the workload creates only" err
check "progress names each try" grep -qx 'shrink: run 2/80: workload.orders 6 -> 5: kept (termination, payment_balance)' err
check "the shrunk file is a scenario of its own" \
	test "$(jq -c '[.name, .seed, .expect, (.ops | length)]' small.json)" = \
	'["cli-shrinkable-shrunk",11,{"violations":[]},0]'
check "it says where it comes from" \
	bash -c "jq -r .description small.json | grep -q '^Shrunk by \`ecom sim shrink\` from $src with seed 11 ([0-9]* runs): still fires termination, payment_balance. Changes: '"
check "it has fewer orders" test "$(jq .workload.orders small.json)" -lt 6
"$ecom" sim run "$src" >orig.out 2>/dev/null
"$ecom" sim run small.json >small.out 2>/dev/null
check "the shrunk scenario fires the same invariants" \
	test "$(tail -n 1 small.out | jq -c '[.violations[].invariant] | unique')" = \
	"$(tail -n 1 orig.out | jq -c '[.violations[].invariant] | unique')"

e sim shrink "$src" --seed 11 -o six.json --max-runs 6 -q
check "the run budget is kept: 6 runs (exit $rc)" \
	grep -q "^shrink: $src seed 11: [1-5] change(s) kept in 6 run(s); " out
e sim shrink "$fx/unsettled.json" --seed 3 -o u.json --max-runs 1
check "not settling is part of the failure shrink keeps (exit $rc)" \
	grep -q "still fires termination, projection_convergence, not quiescent; wrote u.json$" out
e sim shrink "$tfail" --seed 3 -o one.json --max-runs 1 --quiet
check "with --max-runs 1 nothing can be tried: exit 1 (got $rc)" test "$rc" -eq 1
check "it says nothing was removed" grep -qx 'shrink: removed: nothing' out
check "--quiet prints no progress" test ! -s err
check "the file is still written, with the original description" \
	bash -c "jq -r .description one.json | grep -q 'Changes: none\. .* Original: forget_refund'"
usage_case 2 "ecom sim shrink: cannot write nodir/x.json: No such file or directory" \
	sim shrink "$tfail" --seed 3 -o nodir/x.json --max-runs 1 --quiet
e sim shrink "$tiny" --seed 3 -o x.json
check "shrink of a passing scenario exits 1 (got $rc)" test "$rc" -eq 1
check "and says it does not fail" \
	grep -qx "shrink: $tiny with seed 3 does not fail: no invariant fires" out
"$ecom" sim shrink "$fx/slow.json" --seed 3 -o k.json --max-runs 1 >out 2>err &
shrinker=$!
bg_pids+=("$shrinker")
kill_child_of "$shrinker"
wait "$shrinker"
rc=$?
check "a run killed by a signal is a failure shrink describes (exit $rc)" \
	grep -q "still fires the run dies of signal 15; wrote k.json$" out
if command -v python3 >/dev/null 2>&1; then
	lowfd 4 sim shrink "$tfail" --seed 3 -o x.json
	check "a shrink that cannot start its first run exits 2 (got $rc)" \
		bash -c "test $rc -eq 2 && grep -q 'ecom sim: pipe: Too many open files' err"
fi

# ---- sim crashpoints ----------------------------------------------------------------------
e sim crashpoints --help
check "sim crashpoints --help exits 0" test "$rc" -eq 0
for o in --instance --max-k --seed --jobs --quiet "exit status:"; do
	check "sim crashpoints --help explains $o" has "$o" out
done
usage_case 2 "ecom sim crashpoints: missing scenario FILE" sim crashpoints
check "the usage follows" has "usage: ecom sim crashpoints FILE" err
for k in 0 x 1000001; do
	usage_case 2 "ecom sim crashpoints: --max-k: needs 1..1000000" \
		sim crashpoints "$tiny" --max-k "$k"
done
for j in 0 x 257; do
	usage_case 2 "ecom sim crashpoints: --jobs: needs 1..256" sim crashpoints "$tiny" -j "$j"
done
for s in -1 x 9223372036854775808; do
	usage_case 2 "ecom sim crashpoints: --seed: needs a non-negative integer" \
		sim crashpoints "$tiny" --seed "$s"
done
for o in --instance --max-k --jobs -j --seed; do
	usage_case 2 "ecom sim crashpoints: unknown option '$o' (or missing value)" \
		sim crashpoints "$tiny" "$o"
done
usage_case 2 "ecom sim crashpoints: -: cannot open: No such file or directory" sim crashpoints -
usage_case 2 "ecom sim crashpoints: unknown option '--frobnicate'" \
	sim crashpoints "$tiny" --frobnicate x
usage_case 2 "ecom sim crashpoints: more than one FILE ('$tfail')" sim crashpoints "$tiny" "$tfail"
usage_case 2 "ecom sim crashpoints: nope.json: cannot open: No such file or directory" \
	sim crashpoints nope.json
usage_case 2 "ecom sim crashpoints: bad-type.json: workload.orders: must be an integer" \
	sim crashpoints bad-type.json
usage_case 2 "--instance payment#2: no such instance in $tiny (order#1, inventory#1, payment#1, shipping#1, read-model#1)" \
	sim crashpoints "$tiny" --instance payment#2

e sim crashpoints "$fx/crash-op.json" --instance shipping#1 --max-k 40 --jobs 2
check "crashpoints of shipping#1 beside a scripted crash of it passes (exit $rc)" test "$rc" -eq 0
check "it stops where the crash point is no longer reached, not at --max-k" \
	grep -qE '^crashpoints: shipping#1: [1-9][0-9]* crash point\(s\), 0 failed$' err
check "it prints the coverage of its runs" grep -q '^coverage: never reached: ' out
check "its closing line counts the runs" \
	grep -qE '^crashpoints: [1-9][0-9]* runs, 0 failed \(1 instance\(s\), [0-9.]+ runs/s\)$' out

e sim crashpoints "$fx/nosweep.json" --instance order#1 --seed 4 --max-k 6 -j 2
check "crashpoints catches the planted skip_outbox_sweep at k=5 (exit $rc)" \
	bash -c "test $rc -eq 1 && grep -q '^FAIL order#1 k=5: .*outbox_drained fired' out"
check "it prints the command with --seed and --crash-after" \
	grep -qx "  reproduce: ecom sim run $fx/nosweep.json --seed 4 --crash-after order#1:5" out
check "it says it stopped at --max-k" \
	grep -qE '^crashpoints: order#1: 6 crash point\(s\) \(stopped at --max-k\), [1-6] failed$' err
check "its closing line counts the failure" grep -qE '^crashpoints: 6 runs, [1-6] failed ' out
run_printed again.out "$(grep -m1 -A1 '^FAIL order#1 k=5:' out | sed -n 's/^  reproduce: //p')"
check "the printed command fails on its own" \
	test "$(tail -n 1 again.out | jq -r '.result')" = fail

e sim crashpoints "$fx/nosweep.json" --instance order#1 --max-k 5 -j 2 -q
check "without --seed the command has none either (exit $rc)" \
	grep -qx "  reproduce: ecom sim run $fx/nosweep.json --crash-after order#1:5" out
jq '.faults = {"crash_rate_per_sec": 1, "restart_after_ms": [20, 50]}' "$tiny" >crashy.json
e sim crashpoints crashy.json --instance payment#1 --max-k 2 --quiet
check "crashpoints with drawn crashes runs --max-k points quietly (exit $rc)" \
	bash -c "test $rc -eq 0 && test ! -s err && ! grep -q '^coverage' out &&
		grep -q '^crashpoints: 2 runs, 0 failed (1 instance(s)' out"
e sim crashpoints "$tiny" --max-k 1 -q -j 1
check "every instance is tried when none is named" \
	grep -q '^crashpoints: 5 runs, 0 failed (5 instance(s)' out

e sim crashpoints "$tfail"
check "a scenario failing without any crash exits 1 (got $rc)" test "$rc" -eq 1
check "it says so before trying any crash point" \
	bash -c "grep -qx 'crashpoints: $tfail fails without any crash point: termination fired; payment_balance fired' out &&
		grep -qx '  reproduce: ecom sim run $tfail' out && ! grep -q 'runs,' out"
"$ecom" sim crashpoints "$fx/slow.json" >out 2>err &
cper=$!
bg_pids+=("$cper")
kill_child_of "$cper"
wait "$cper"
rc=$?
check "a baseline run killed by a signal fails crashpoints (exit $rc)" \
	grep -qx "crashpoints: $fx/slow.json fails without any crash point: the run died of signal 15" out
if command -v python3 >/dev/null 2>&1; then
	lowfd 5 sim crashpoints "$tiny" --jobs 2
	check "crashpoints that cannot start a run exits 2 (got $rc)" test "$rc" -eq 2
	check "it says the first instance was cut short, and tries no other" \
		bash -c "grep -q '^crashpoints: order#1: [0-9]* crash point(s) (stopped: a run could not be started)' err &&
			test \$(grep -c '^crashpoints: .*#1: ' err) -eq 1"
	lowfd 4 sim crashpoints "$tiny"
	check "crashpoints that cannot start the baseline exits 2 (got $rc)" \
		bash -c "test $rc -eq 2 && grep -q 'ecom sim: pipe: Too many open files' err && ! grep -q 'runs,' out"
fi

# ---- token --------------------------------------------------------------------------------
e token --help
check "token --help exits 0 with every option" \
	bash -c "test $rc -eq 0 && grep -q -- --secret out && grep -q -- --role out &&
		grep -q -- --ttl out && grep -q -- --sub out"
usage_case 2 "ecom token: unexpected argument '--secret'" token --secret
usage_case 2 "ecom token: unexpected argument 'abc'" token abc def
usage_case 2 "ecom token: unknown option '--frobnicate'" token --frobnicate x
check "a bad option is followed by the usage" has "usage: ecom token" err
env -u JWT_SECRET "$ecom" token --secret s >out 2>err
rc=$?
if has "built without libjwt" err; then
	check "without libjwt, token exits 2 (got $rc)" test $rc -eq 2
else
	env -u JWT_SECRET "$ecom" token >out 2>err
	rc=$?
	check "token without a secret exits 2 (got $rc)" \
		bash -c "test $rc -eq 2 && grep -q '^ecom token: no secret: pass --secret or set JWT_SECRET' err"
	usage_case 2 "ecom token: no secret" token --secret ""
	for t in 0 1y 367d x 5mm ""; do
		usage_case 2 "ecom token: --ttl $t: want N, Ns, Nm, Nh or Nd (1s..366d)" \
			token --secret s --ttl "$t"
	done
	usage_case 2 "ecom token: --role must not be empty" token --secret s --role ""
	usage_case 2 "ecom token: --role must be UTF-8 text" token --secret s --role $'\xff'
	usage_case 2 "ecom token: --sub must be UTF-8 text" token --secret s --sub $'ab\xfe'

	b64url() { # decodes one base64url part
		local s=${1//-/+}
		s=${s//_//}
		while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done
		printf '%s' "$s" | base64 -d
	}
	e token --secret s3cret --role ops --ttl 2h --sub alice
	tok=$(cat out)
	IFS=. read -r th tp ts <<<"$tok"
	check "token prints one JWT alone (exit $rc)" \
		bash -c "test $rc -eq 0 && test \$(wc -l <out) -eq 1 && test -n '$ts' && test ! -s err"
	check "its header says HS256" test "$(b64url "$th" | jq -r .alg)" = HS256
	check "its claims are role, sub and a 2 h lifetime" \
		test "$(b64url "$tp" | jq -c '[.role, .sub, .exp - .iat]')" = '["ops","alice",7200]'
	if command -v openssl >/dev/null 2>&1; then
		sig=$(printf '%s' "$th.$tp" | openssl dgst -sha256 -hmac s3cret -binary | base64 |
			tr '+/' '-_' | tr -d '=')
		check "its signature is HMAC-SHA256 of header.payload with the secret" \
			test "$sig" = "$ts"
	fi
	JWT_SECRET=from-env "$ecom" token --sub "" >out 2>err
	rc=$?
	IFS=. read -r th tp ts <<<"$(cat out)"
	check "JWT_SECRET is used; the defaults are admin for 1 h; --sub '' drops sub (exit $rc)" \
		test "$(b64url "$tp" | jq -c '[.role, has("sub"), .exp - .iat]')" = '["admin",false,3600]'
fi

echo "$passed passed, $failed failed"
test "$failed" -eq 0
