# tests/integration/lib.sh — sourced by tests/integration_*.sh: runs `ecom serve SERVICE`
# processes on the real stack ($ECOM_KAFKA, $ECOM_MONGO), one service per process, and reads
# their stores with ecom-check (tests/integration/check.c, built next to ecom).
#
# The services have fixed topic names, consumer groups and databases (<service>_service), so
# a run owns the stack's whole ecom namespace: it takes a lock (two scripts never share it),
# starts from an empty namespace (wiping a leftover one only when ECOM_STACK_RESET_OK=1),
# and wipes its own data at the end when it passed (ECOM_IT_KEEP=1 keeps it). Every process
# it starts is remembered by pid and stopped by pid on exit.
# shellcheck shell=bash

IT_LOCK=${ECOM_IT_LOCK:-${TMPDIR:-/tmp}/ecom-integration.lock}
IT_LOCK_WAIT_S=${ECOM_IT_LOCK_WAIT_S:-900}
IT_READY_TIMEOUT_S=${ECOM_IT_READY_TIMEOUT_S:-40}
IT_SECRET="integration-secret-$$-0123456789abcdef0123456789"
IT_SERVICES="order inventory payment shipping read-model"

passed=0
failed=0
declare -A it_pid it_port it_svc it_args
it_t0=$(date +%s)
it_work=
it_name=

it_log() { printf '[%4ds] %s\n' "$(($(date +%s) - it_t0))" "$*"; }
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}

it_finish() { # prints the tally and exits (the EXIT trap cleans up)
	printf '%d passed, %d failed\n' "$passed" "$failed"
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

it_skip() {
	echo "$it_name: skipped: $*"
	echo "0 passed, 0 failed"
	exit 0
}

# it_setup NAME ECOM ROOT: checks the environment, takes the lock, prepares the namespace.
it_setup() {
	it_name=$1
	ecom=${2:?usage: $1.sh <path-to-ecom> <repo-root>}
	root=${3:?usage: $1.sh <path-to-ecom> <repo-root>}
	ecom=$(cd "$(dirname "$ecom")" && pwd)/$(basename "$ecom")
	root=$(cd "$root" && pwd)
	if [ -z "${ECOM_KAFKA:-}" ] || [ -z "${ECOM_MONGO:-}" ]; then
		it_skip "ECOM_KAFKA/ECOM_MONGO not set"
	fi
	"$ecom" serve --help >/dev/null 2>&1 || it_skip "this ecom has no HTTP server (ECOM_BACKENDS=OFF)"
	checker=${ECOM_CHECK:-$(dirname "$ecom")/ecom-check}
	[ -x "$checker" ] || it_skip "no ecom-check next to $ecom (build the ecom-check target)"
	for tool in curl python3 flock; do
		command -v "$tool" >/dev/null || { bad "needs $tool"; it_finish; }
	done
	it_work=$(mktemp -d "${TMPDIR:-/tmp}/ecom-$it_name.XXXXXX")
	trap it_cleanup EXIT
	trap 'exit 130' INT TERM
	exec 9>"$IT_LOCK"
	if ! flock -n 9; then
		it_log "waiting for $IT_LOCK (another integration run owns the stack's namespace)"
		flock -w "$IT_LOCK_WAIT_S" 9 || { bad "lock $IT_LOCK not free after ${IT_LOCK_WAIT_S}s"; it_finish; }
	fi
	it_log "kafka $ECOM_KAFKA, mongo $ECOM_MONGO, work dir $it_work"
	it_prepare_namespace || it_finish
}

# The stack's ecom namespace must be empty; a leftover one is wiped only with consent.
it_prepare_namespace() {
	local rc
	"$checker" namespace --kafka "$ECOM_KAFKA" --mongo "$ECOM_MONGO" >"$it_work/namespace" 2>&1
	rc=$?
	case $rc in
	0) ok "stack answers; its ecom namespace is empty" ;;
	1)
		if [ "${ECOM_STACK_RESET_OK:-0}" != 1 ]; then
			tail -n 1 "$it_work/namespace"
			bad "the stack holds ecom data (topics/databases above, left by another run or a" \
				"manual 'ecom serve'); set ECOM_STACK_RESET_OK=1 to let this test wipe the saga" \
				"topics, the *-service-group groups and the *_service databases"
			return 1
		fi
		if "$checker" wipe --kafka "$ECOM_KAFKA" --mongo "$ECOM_MONGO" >"$it_work/wipe" 2>&1; then
			ok "leftover ecom namespace wiped (ECOM_STACK_RESET_OK=1): $(tr '\n' ' ' <"$it_work/wipe")"
		else
			cat "$it_work/wipe"
			bad "wiping the leftover ecom namespace"
			return 1
		fi
		;;
	*)
		cat "$it_work/namespace"
		bad "the stack does not answer at $ECOM_KAFKA / $ECOM_MONGO (deploy/stack status)"
		return 1
		;;
	esac
}

it_stop_all() { # SIGTERM every process we started, SIGKILL what is left after 10 s
	local name pid left
	for name in "${!it_pid[@]}"; do
		pid=${it_pid[$name]}
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	for _ in $(seq 1 100); do
		left=0
		for name in "${!it_pid[@]}"; do
			pid=${it_pid[$name]}
			[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && left=1
		done
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	for name in "${!it_pid[@]}"; do
		pid=${it_pid[$name]}
		[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
		it_pid[$name]=
	done
}

it_cleanup() {
	local keep=${ECOM_IT_KEEP:-0} name
	trap - EXIT
	[ -n "${load_pid:-}" ] && kill -TERM "$load_pid" 2>/dev/null
	it_stop_all
	[ -z "$it_work" ] && return
	if [ "$failed" -ne 0 ]; then
		for name in "${!it_svc[@]}"; do
			[ -s "$it_work/$name.log" ] || continue
			echo "--- last lines of $name.log (warnings and errors) ---"
			grep -v '"level":"info"' "$it_work/$name.log" | tail -n 5
		done
		keep=1
	fi
	if [ "$keep" = 1 ]; then
		echo "kept: logs in $it_work; the stack's ecom namespace is left as it was (inspect with"
		echo "  $checker invariants --mongo $ECOM_MONGO; the next run needs ECOM_STACK_RESET_OK=1)"
		return
	fi
	sleep 1 # requests the services sent just before exiting reach the broker first
	if ! "$checker" wipe --kafka "$ECOM_KAFKA" --mongo "$ECOM_MONGO" >"$it_work/wipe" 2>&1; then
		echo "warning: wiping this run's ecom namespace failed (the next run needs"
		echo "ECOM_STACK_RESET_OK=1):"
		cat "$it_work/wipe"
	fi
	rm -rf "$it_work"
}

# it_free_ports N: N distinct free TCP ports on 127.0.0.1, space-separated.
it_free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# it_start NAME SERVICE PORT [serve options...]: one `ecom serve SERVICE` process.
it_start() {
	local name=$1 svc=$2 port=$3
	shift 3
	it_svc[$name]=$svc
	it_port[$name]=$port
	it_args[$name]="$*"
	# shellcheck disable=SC2086 # options are single words
	JWT_SECRET=$IT_SECRET "$ecom" serve "$svc" --kafka "$ECOM_KAFKA" --mongo "$ECOM_MONGO" \
		--port "$port" --bind 127.0.0.1 --log-level "${ECOM_IT_LOG_LEVEL:-info}" \
		"$@" >>"$it_work/$name.log" 2>&1 &
	it_pid[$name]=$!
}

it_restart() { # it_restart NAME: same service, port and options
	local name=$1
	# shellcheck disable=SC2086
	it_start "$name" "${it_svc[$name]}" "${it_port[$name]}" ${it_args[$name]}
}

it_kill9() { # it_kill9 NAME: a crash (SIGKILL), reaped
	local name=$1 pid=${it_pid[$1]}
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	it_pid[$name]=
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"; }

# it_wait_ready NAME: /health/ready answers 200 within IT_READY_TIMEOUT_S.
it_wait_ready() {
	local name=$1 port=${it_port[$1]} i
	for i in $(seq 1 $((IT_READY_TIMEOUT_S * 5))); do
		[ "$(http_code "http://127.0.0.1:$port/health/ready")" = 200 ] && return 0
		kill -0 "${it_pid[$name]}" 2>/dev/null || { echo "$name exited:"; tail -n 5 "$it_work/$name.log"; return 1; }
		sleep 0.2
	done
	return 1
}

# it_start_five [serve options...]: the five services on fresh ports, each its own process;
# sets port_order ... port_rm. The read model forwards admin commands to the order service.
it_start_five() {
	local ports t
	read -r port_order port_inventory port_payment port_shipping port_rm <<<"$(it_free_ports 5)"
	it_start order order "$port_order" "$@"
	it_start inventory inventory "$port_inventory" "$@"
	it_start payment payment "$port_payment" "$@"
	it_start shipping shipping "$port_shipping" "$@"
	it_start read-model read-model "$port_rm" --order-url "http://127.0.0.1:$port_order" "$@"
	t=$(date +%s)
	for name in order inventory payment shipping read-model; do
		check "$name started as its own process (pid ${it_pid[$name]}, port ${it_port[$name]}), /health/ready 200" \
			it_wait_ready "$name"
	done
	ports="$port_order $port_inventory $port_payment $port_shipping $port_rm"
	it_log "five services ready in $(($(date +%s) - t))s on ports $ports"
}

# it_wait_terminal IDS TIMEOUT_S: every id terminal in the order store and the read model.
# Prints a progress line whenever the figures change (at most every 5 s).
it_wait_terminal() {
	local ids=$1 timeout=$2 start line last= lastp=0 now
	start=$(date +%s)
	while :; do
		line=$("$checker" progress --mongo "$ECOM_MONGO" --ids "$ids" 2>&1)
		if [ $? -eq 0 ]; then
			it_log "$line"
			return 0
		fi
		now=$(date +%s)
		if [ "$line" != "$last" ] && [ $((now - lastp)) -ge 5 ]; then
			it_log "$line"
			last=$line
			lastp=$now
		fi
		if [ $((now - start)) -ge "$timeout" ]; then
			it_log "$line"
			return 1
		fi
		sleep 2
	done
}

# it_invariants LABEL TIMEOUT_S [ecom-check invariants options...]: waits (bounded) until the
# invariants hold — the last effects (e.g. inventory committing holds after OrderShipped)
# may trail the order's terminal status — then prints and counts every invariant line.
it_invariants() {
	local label=$1 timeout=$2 start out line
	shift 2
	start=$(date +%s)
	out=$it_work/invariants.out
	while :; do
		"$checker" invariants --mongo "$ECOM_MONGO" "$@" >"$out" 2>&1 && break
		[ $(($(date +%s) - start)) -ge "$timeout" ] && break
		sleep 2
	done
	it_log "invariants ($label) after $(($(date +%s) - start))s of settling:"
	while IFS= read -r line; do
		case $line in
		"ok   "*) ok "$label: ${line#ok   }" ;;
		"FAIL "*) bad "$label: ${line#FAIL }" ;;
		"{"*) it_log "summary: $line" ;;
		*) echo "$line" ;;
		esac
	done <"$out"
	grep -q '^ok   ' "$out" || bad "$label: ecom-check invariants printed no result"
}

# it_load RATE DURATION IDS-FILE OUT [ecom load options...]: ecom load in the background.
it_load() {
	local rate=$1 duration=$2 ids=$3 out=$4
	shift 4
	"$ecom" load --rate "$rate" --duration "$duration" --url "http://127.0.0.1:$port_order" \
		--ids-file "$ids" "$@" >"$out" 2>"$out.progress" &
	load_pid=$!
}

it_load_wait() { # it_load_wait OUT: waits for the background load (in this shell, not a
	# subshell: only the parent can wait for it); sets load_summary to its JSON line
	wait "$load_pid"
	load_pid=
	load_summary=$(tail -n 1 "$1")
}

# json_get FILE-OR-TEXT KEY: a top-level field of a JSON object (python3, stdlib only).
json_field() {
	python3 -c 'import json,sys; d=json.loads(sys.argv[1]); v=d.get(sys.argv[2]); print("" if v is None else v)' "$1" "$2" 2>/dev/null
}
