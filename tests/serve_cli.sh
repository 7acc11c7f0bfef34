#!/usr/bin/env bash
# serve_cli.sh — the operator's side of `ecom serve`, `ecom dlq` and `ecom load`: every flag
# refused with exit 2 and a message naming it (and --help with exit 0); setup failures (bind
# address, port in use, a bad MongoDB URI or an unreachable one) exit 1 naming the cause; a
# running `serve all` prints its random secret's token (which opens the admin routes), honours
# --cors-origin "", --log-level debug (JSON lines, non-UTF-8 paths logged safely), serves only
# regular files below 8 MiB from --web-dir, refuses /debug/produce to a non-event topic, and
# stops on SIGINT with exit 0. `ecom dlq` against the server and a scripted one
# (tests/fixtures/serve/fake_http.py): tables with cut and flattened cells, filters, query
# escaping, replays by topic/order/all, failed replays (exit 1), answers that are not JSON or
# not an array. `ecom load`: environment defaults, a fractional run, 5xx counted, a slow server
# reported as "behind", Ctrl-C (interrupted, exit 0), terminal progress.
# Usage: bash tests/serve_cli.sh <path-to-ecom> <repo-root>
# Ends with "N passed, M failed"; exit 1 on any failure.
set -uo pipefail

ecom=${1:?usage: serve_cli.sh <path-to-ecom> <repo-root>}
root=${2:?usage: serve_cli.sh <path-to-ecom> <repo-root>}
ecom=$(cd "$(dirname "$ecom")" && pwd)/$(basename "$ecom")
work=$(mktemp -d)
pids=()
READY_TIMEOUT_S=20
STOP_TIMEOUT_S=10
passed=0
failed=0

cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	sleep 0.3
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}

for tool in curl python3 script; do
	command -v "$tool" >/dev/null || { echo "serve_cli.sh: needs $tool"; echo "0 passed, 1 failed"; exit 1; }
done
if ! "$ecom" serve --help >/dev/null 2>&1; then
	echo "serve_cli.sh: skipped: this ecom has no HTTP server (built with ECOM_BACKENDS=OFF)"
	echo "0 passed, 0 failed"
	exit 0
fi

# run NAME WANT-RC NEEDLE CMD...: CMD exits WANT-RC and its stderr (or stdout) names NEEDLE
run() {
	local name=$1 want=$2 needle=$3 rc
	shift 3
	"$@" >"$work/run.out" 2>"$work/run.err"
	rc=$?
	if [ "$rc" = "$want" ] && { [ -z "$needle" ] || grep -qF -- "$needle" "$work/run.err" "$work/run.out"; }; then
		ok "$name"
	else
		bad "$name (exit $rc, want $want; stderr: $(head -c 300 "$work/run.err"))"
	fi
}

# A free base port for five listeners: nothing answers on base..base+4. Below the kernel's
# ephemeral range (32768..), where outgoing connections could hold a port.
free_base() {
	local try i used
	for try in $(seq 0 40); do
		base=$((21000 + (($$ * 13 + try * 631 + $1 * 97 + RANDOM) % 11500)))
		used=0
		for i in 0 1 2 3 4; do
			(exec 3<>"/dev/tcp/127.0.0.1/$((base + i))") 2>/dev/null && used=1
		done
		[ "$used" = 0 ] && { echo "$base"; return; }
	done
	echo 0
}

ready() { # ready BASE: every service answers /health/ready 200
	local i
	for i in 0 1 2 3 4; do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(($1 + i))/health/ready")" = 200 ] || return 1
	done
}

wait_ready() { # wait_ready BASE PID
	for _ in $(seq 1 $((READY_TIMEOUT_S * 10))); do
		ready "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

stop() { # stop PID SIGNAL: the exit code in $rc (124 when it did not stop)
	rc=124
	kill "-$2" "$1" 2>/dev/null
	for _ in $(seq 1 $((STOP_TIMEOUT_S * 10))); do
		if ! kill -0 "$1" 2>/dev/null; then wait "$1"; rc=$?; break; fi
		sleep 0.1
	done
}

# ---- ecom serve: usage -------------------------------------------------------------------------
"$ecom" serve --help >"$work/help" 2>&1
check "serve --help exits 0 and documents --port-base and JWT_SECRET" \
	grep -q -- '--port-base N' "$work/help"
grep -q 'JWT_SECRET' "$work/help" || bad "serve --help mentions JWT_SECRET"
run "serve without a target -> 2, asks which service" 2 "which service?" \
	env -u SERVICE_NAME "$ecom" serve
run "serve all extra -> 2, one target only" 2 "one SERVICE (or all), got 'extra' too" \
	"$ecom" serve all extra
run "serve all --port-base (no value) -> 2" 2 "--port-base needs a value" \
	"$ecom" serve all --port-base
for bad_opt in "--port-base 65532" "--port 0" "--stock -1" "--stock 99999999999999999999" \
	"--partitions 0" "--partitions 2x" "--decline 2" "--decline -0.5" "--ship-fail x" \
	"--log-level loud" "--bogus 1"; do
	# shellcheck disable=SC2086
	run "serve all $bad_opt -> 2 naming it" 2 "bad option or value: $bad_opt" \
		"$ecom" serve all $bad_opt
done
run "serve billing -> 2, unknown service" 2 "unknown service 'billing'" "$ecom" serve billing
run "serve order without Kafka/MongoDB -> 2 naming both" 2 \
	"needs --kafka HOST:PORT and --mongo URI" env -u KAFKA_BROKERS -u MONGO_URL "$ecom" serve order
run "serve order --kafka only (empty MONGO_URL is unset) -> 2" 2 "ecom serve order: needs --kafka" \
	env MONGO_URL= PORT=abc "$ecom" serve order --kafka 127.0.0.1:1
run "SERVICE_NAME=payment-service picks the service (still needs Kafka) -> 2" 2 \
	"ecom serve payment-service: needs --kafka" \
	env -u KAFKA_BROKERS SERVICE_NAME=payment-service PORT=4999 MONGO_URL=mongodb://x "$ecom" serve
run "LOG_LEVEL=loud -> 2 naming the levels" 2 "LOG_LEVEL=loud: want debug, info, warn or error" \
	env LOG_LEVEL=loud "$ecom" serve all
run "serve all --bind 999.1.1.1 -> 1, not an IPv4 address" 1 \
	"bind address 999.1.1.1: not an IPv4 address" \
	env JWT_SECRET=s "$ecom" serve all --bind 999.1.1.1 --port-base "$(free_base 9)" --port 4999 \
	--order-url http://127.0.0.1:1
run "serve all --mongo 'not a uri' -> 1, the URI is refused" 1 "mongo: bad URI" \
	"$ecom" serve all --mongo 'not a uri' --port-base "$(free_base 8)"

# A MongoDB nobody answers: every service's store fails at start (in the background: a few
# server-selection timeouts).
mongo_base=$(free_base 7)
"$ecom" serve all --mongo 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=150' \
	--port-base "$mongo_base" >"$work/mongo.out" 2>"$work/mongo.err" &
mongo_pid=$!
pids+=("$mongo_pid")

# The dashboard directory: next to the binary, in the working directory, or none.
mkdir -p "$work/deep/a/b/c" "$work/cwdweb/web" "$work/cwdfile"
touch "$work/cwdfile/web" # a file, not a directory
cp "$ecom" "$work/deep/a/b/c/ecom"
(cd "$work/deep/a/b/c" && ./ecom serve all --bind x --port-base 1) >/dev/null 2>&1
check "a binary with no web/ anywhere still starts parsing (bad bind -> 1)" test $? = 1
(cd "$work/cwdweb" && "$work/deep/a/b/c/ecom" serve all --bind x --port-base 1) >/dev/null 2>&1
check "... and finds ./web in the working directory (bad bind -> 1)" test $? = 1
(cd "$work/cwdfile" && "$work/deep/a/b/c/ecom" serve all --bind x --port-base 1) >/dev/null 2>&1
check "... and ignores a file named web (bad bind -> 1)" test $? = 1

# ---- ecom serve all, in memory, with a random secret, debug logs and the debug route -----------------
mkdir -p "$work/web/js" "$work/web/sub"
echo '<!doctype html><title>serve_cli dashboard</title>' >"$work/web/index.html"
echo 'body{}' >"$work/web/app.css"
truncate -s 9M "$work/web/huge.txt" # sparse: over HTTP_STATIC_MAX
for attempt in 1 2 3; do
	B=$(free_base "$attempt")
	env JWT_SECRET= ECOM_DEBUG_ROUTES=1 "$ecom" serve all --port-base "$B" --log-level debug \
		--cors-origin '' --web-dir "$work/web" --stock 3 --partitions 2 --decline 0 \
		--ship-fail 0 >"$work/s1.out" 2>"$work/s1.err" &
	s1=$!
	pids+=("$s1")
	wait_ready "$B" "$s1" && break
	stop "$s1" TERM
	B=
done
if [ -z "$B" ]; then
	bad "serve all (random secret) ready on $B"
	tail -5 "$work/s1.err"
	echo "$passed passed, $failed failed"
	exit 1
fi
ok "serve all ready on ports $B..$((B + 4))"
O=http://127.0.0.1:$B
R=http://127.0.0.1:$((B + 4))
TOKEN=$(sed -n 's/^admin token: //p' "$work/s1.out")
check "banner: the secret is random for this run" grep -q "admin secret: random for this run" "$work/s1.out"
check "banner: debug routes announced" grep -q "debug routes: POST /debug/produce" "$work/s1.out"
check "banner: the dashboard URL" grep -q "^dashboard: http://127.0.0.1:$((B + 4))/\$" "$work/s1.out"
code=$(curl -s -o "$work/body" -w '%{http_code}' "$R/admin/dlq" -H "Authorization: Bearer $TOKEN")
check "the printed token opens GET /admin/dlq (got $code)" test "$code" = 200
code=$(curl -s -o /dev/null -w '%{http_code}' "$R/admin/dlq" -H "Authorization: Bearer x.y.z")
check "a made-up token -> 401 (got $code)" test "$code" = 401
check "--cors-origin '' sends no CORS header" bash -c \
	"! curl -s -D - -o /dev/null -H 'Origin: http://x.test' '$O/health' | grep -qi '^access-control-allow-origin'"
req() { # req METHOD URL [BODY]: CODE and $work/body
	if [ -n "${3:-}" ]; then
		CODE=$(curl -s -o "$work/body" -w '%{http_code}' -X "$1" "$2" -H "Authorization: Bearer $TOKEN" \
			-H 'Content-Type: application/json' --data-binary "$3")
	else
		CODE=$(curl -s -o "$work/body" -w '%{http_code}' -X "$1" "$2" --path-as-is)
	fi
}
expect() { # expect NAME CODE [substring]
	if [ "$CODE" = "$2" ] && { [ -z "${3:-}" ] || grep -qF -- "$3" "$work/body"; }; then
		ok "$1"
	else
		bad "$1 (got $CODE: $(head -c 200 "$work/body"))"
	fi
}
req GET "$R/"
expect "GET / serves index.html from --web-dir" 200 "serve_cli dashboard"
req GET "$R/app.css"
expect "GET /app.css" 200 "body{}"
req GET "$R/huge.txt"
expect "a file over 8 MiB is not served (404)" 404 "huge.txt: not found"
req GET "$R/sub"
expect "a directory is not served as a file (404)" 404 "sub: not found"
req GET "$R/missing.js"
expect "a missing file -> 404" 404 "missing.js: not found"
req GET "$R/caf%FF"
expect "a path that is not UTF-8 -> 404" 404
req POST "$R/debug/produce" '{"topic":"no.such.topic","value":"x"}'
expect "POST /debug/produce to a topic no event has -> 400 naming it" 400 "topic: not an event type's topic"
ORDER="{\"orderId\":\"idem-$$\",\"items\":[{\"sku\":\"SKU-7\",\"qty\":1}],\"total\":10}"
req POST "$O/orders" "$ORDER"
expect "POST /orders with a client orderId -> 201" 201 "idem-$$"
req POST "$O/orders" "$ORDER"
expect "the same body again -> 200 (idempotent)" 200 "idem-$$"
req POST "$O/orders" "{\"orderId\":\"idem-$$\",\"items\":[{\"sku\":\"SKU-7\",\"qty\":2}],\"total\":20}"
expect "the same orderId with another body -> 409" 409 '"error"'

curl -sN --max-time 1 "$R/stream" >/dev/null 2>&1
check "debug log: /health requests are logged at debug level" \
	grep -q '"level":"debug".*"msg":"http request".*"path":"/health/ready"' "$work/s1.err"
check "debug log: the non-UTF-8 path is logged as (not UTF-8)" grep -q '"path":"(not UTF-8)"' "$work/s1.err"

# ---- ecom dlq against the server ---------------------------------------------------------------------
OID="dlq-cli-$$"
env_poison=$(python3 -c 'import json,sys; print(json.dumps({"eventId": "poison-" + sys.argv[1], "type": "shipping.OrderShipped.v1", "version": 1, "timestamp": "2026-01-01T00:00:00.000Z", "correlationId": sys.argv[1], "causationId": None, "key": sys.argv[1], "payload": {"orderId": sys.argv[1]}, "headers": {}}))' "$OID")
req POST "$R/debug/produce" "$(python3 -c 'import json,sys; print(json.dumps({"topic": "shipping.OrderShipped.v1", "key": sys.argv[1], "value": sys.argv[2]}))' "$OID" "$env_poison")"
expect "a schema-invalid OrderShipped produced through the debug route" 200
req POST "$R/debug/produce" '{"topic":"payment.PaymentAuthorized.v1","value":"not json at all"}'
expect "a non-JSON PaymentAuthorized produced" 200
for _ in $(seq 1 100); do
	n=$(curl -s "$R/admin/dlq" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	[ "$n" -ge 2 ] && break
	sleep 0.1
done
check "both are dead letters (listed: $n)" test "$n" -ge 2
export ECOM_TOKEN=$TOKEN
run "dlq list (ECOM_TOKEN, READ_MODEL_URL) -> 0, a table of 2" 0 "2 dead letters, 2 not replayed" \
	env READ_MODEL_URL="$R" "$ecom" dlq list --timeout-ms 5000
id_ship=$(curl -s "$R/admin/dlq?orderId=$OID" -H "Authorization: Bearer $TOKEN" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["dlqId"])')
run "dlq list --id picks one entry (1 dead letter)" 0 "1 dead letter, 1 not replayed" \
	"$ecom" dlq list --url "$R" --id "$id_ship"
run "dlq list --id nope -> 'no dead letters match'" 0 "no dead letters match" \
	"$ecom" dlq list --url "$R" --id nope
run "dlq list --order with a space is escaped and refused by the server -> 1 with its reason" 1 \
	"orderId: must be 1..128 printable characters" "$ecom" dlq list --url "$R" --order 'a b/c'
run "dlq replay --topic T --order O -> 0, replayed 1" 0 "replayed 1: $id_ship" \
	"$ecom" dlq replay --url "$R" --topic shipping.OrderShipped.v1 --order "$OID"
run "dlq replay --topic T.dlq -> 0 (the OrderShipped one is already replayed)" 0 \
	"already replayed (skipped) 1: $id_ship" \
	"$ecom" dlq replay --url "$R" --topic shipping.OrderShipped.v1.dlq
run "dlq replay --all --json -> 0, JSON with ids" 0 '"ids":[' \
	"$ecom" dlq replay --url "$R" --all --json
closed=$(free_base 5)
run "dlq list against a closed port -> 1 naming the URL" 1 "ecom dlq: http://127.0.0.1:$closed: connect" \
	"$ecom" dlq list --url "http://127.0.0.1:$closed"
unset ECOM_TOKEN

# ---- ecom dlq: usage --------------------------------------------------------------------------------
run "dlq --help -> 0" 0 "usage: ecom dlq list" "$ecom" dlq --help
run "dlq without a verb -> 2" 2 "list or replay?" "$ecom" dlq
run "dlq frob -> 2" 2 "unknown subcommand: frob" "$ecom" dlq frob
run "dlq list extra -> 2" 2 "unexpected argument: extra" "$ecom" dlq list extra
run "dlq list --topic (no value) -> 2" 2 "a value is needed after --topic" "$ecom" dlq list --topic
run "dlq list --frob x -> 2" 2 "unknown option: --frob" "$ecom" dlq list --frob x
run "dlq list --all -> 2 (replay only)" 2 "--all is for replay" "$ecom" dlq list --all
run "dlq replay --id a --all -> 2 (one selector)" 2 "replay needs exactly one of" "$ecom" dlq replay --id a --all
run "dlq list --timeout-ms 0 -> 2" 2 "--timeout-ms: want 1..600000, got 0" "$ecom" dlq list --timeout-ms 0
run "dlq list --timeout-ms 5s -> 2" 2 "--timeout-ms: want 1..600000, got 5s" "$ecom" dlq list --timeout-ms 5s
run "dlq list --url ftp://x -> 2" 2 "--url: ftp://x: only http:// URLs" "$ecom" dlq list --url ftp://x

# ---- ecom dlq and ecom load against a scripted server ------------------------------------------------
python3 "$root/tests/fixtures/serve/fake_http.py" "$work/fake.port" "$work/fake.log" 2>"$work/fake.err" &
pids+=("$!")
for _ in $(seq 1 100); do [ -s "$work/fake.port" ] && break; sleep 0.05; done
F=http://127.0.0.1:$(cat "$work/fake.port" 2>/dev/null)
export ECOM_TOKEN=scripted
run "an answer that is not JSON -> 1" 1 "the answer is not JSON" "$ecom" dlq list --url "$F/notjson"
run "a JSON answer that is not an array -> 1" 1 "expected a JSON array" "$ecom" dlq list --url "$F/obj"
run "a 500 with a plain body -> 1 showing it" 1 "HTTP 500: plain failure" "$ecom" dlq list --url "$F/down"
"$ecom" dlq list --url "$F/table" --topic 'a b&c' >"$work/table.out" 2>&1
check "the table cuts long cells with ... and flattens newlines/tabs" python3 -c '
import sys
t = open(sys.argv[1]).read().split("\n")
row = [l for l in t if l.startswith("payment.PaymentAuthorized.v1:0:7")][0]
assert "schema: payload.orderId missing  at xxx" in row and "..." in row, row
assert "\t" not in row
other = [l for l in t if l.startswith("t:1:2")][0].split()
assert other[2] == "5" and other[3] == "-", other  # an integer cell, a missing one
assert "2 dead letters, 1 not replayed" in t, t' "$work/table.out"
check "query values are percent-escaped (topic=a%20b%26c)" grep -qF "GET /table/admin/dlq?topic=a%20b%26c" "$work/fake.log"
run "dlq list --json prints the server's array" 0 '"dlqId": "t:1:2"' "$ecom" dlq list --url "$F/table" --json
run "dlq replay --id: the server's failures are reported, exit 1" 1 \
	"failed 2 (the broker did not take them; try again)" "$ecom" dlq replay --url "$F/table" --id x
check "... with the replayed and skipped ids" grep -q "^already replayed (skipped) 1: b:0:2" "$work/run.out"
run "dlq replay --topic T --json: failed in the JSON, exit 1" 1 '"failed":2' \
	"$ecom" dlq replay --url "$F/table" --topic t --json
run "dlq replay --order: entries without an id are skipped, a failing replay -> 1" 1 \
	"POST /admin/dlq/replay -> HTTP 500: replay broke" "$ecom" dlq replay --url "$F/byorder" --order o-9
check "... only the entry with an id was sent" test "$(grep -c 'POST /byorder/admin/dlq/replay' "$work/fake.log")" = 1
run "dlq replay --order against a failing list -> 1" 1 "HTTP 500: plain failure" \
	"$ecom" dlq replay --url "$F/down" --order o-9
unset ECOM_TOKEN

"$ecom" load --rate 20 --duration 0.2 --url "$F/e500" --concurrency 2 >"$work/l500.out" 2>/dev/null
rc=$?
check "load against 500s: exit 1, counted as 5xx with a sample (got $rc)" python3 -c '
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t.strip().split("\n")[-1])
assert sys.argv[2] == "1" and j["server_errors"] == j["sent"] == 4 and j["errors"] == 4, j
assert "errors     4 (5xx 4, transport 0)" in t and "e.g.       HTTP 500: {\"error\": \"order store is down\"}" in t, t' \
	"$work/l500.out" "$rc"
"$ecom" load --rate 30 --duration 0.2 --url "$F/mixed" --concurrency 1 >"$work/lmix.out" 2>/dev/null
rc=$?
check "load with some orders accepted and some failed: exit 1, unknown codes are errors (got $rc)" python3 -c '
import json, sys
j = json.loads(open(sys.argv[1]).read().strip().split("\n")[-1])
assert sys.argv[2] == "1" and j["sent"] == 6 and j["created"] == 2 and j["server_errors"] == 4, j' \
	"$work/lmix.out" "$rc"
"$ecom" load --rate 10 --duration 0.2 --url "$(printf 'http://127.0.0.1:1/\xff')" >"$work/lutf.out" 2>/dev/null
check "a URL that is not UTF-8 is shown as ? in the JSON summary" grep -q '"url":"?"' "$work/lutf.out"
"$ecom" load --rate 20 --duration 0.5 --url "$F/slow" --concurrency 1 --seed 3 >"$work/lslow.out" 2>/dev/null &
slow_pid=$!
pids+=("$slow_pid")

# ---- ecom load: usage and runs against the server ---------------------------------------------------------
run "load extra -> 2" 2 "unexpected argument 'extra'" env ORDER_SERVICE= "$ecom" load extra
run "load --rate (no value) -> 2" 2 "--rate needs a value" "$ecom" load --rate
run "load --frob 1 -> 2" 2 "unknown option '--frob'" "$ecom" load --frob 1
run "load --concurrency 0 -> 2" 2 "--concurrency 0: want 1..256" "$ecom" load --rate 1 --duration 1 --concurrency 0
run "load --concurrency 300 -> 2" 2 "--concurrency 300: want 1..256" "$ecom" load --rate 1 --duration 1 --concurrency 300
run "load --seed -1 -> 2" 2 "--seed -1: want an integer" "$ecom" load --rate 1 --duration 1 --seed -1
run "load --seed 2^53 -> 2" 2 "--seed 9007199254740992" "$ecom" load --rate 1 --duration 1 --seed 9007199254740992
run "load --seed 99999999999999999999 (overflow) -> 2" 2 "--seed 99999999999999999999" "$ecom" load --rate 1 --duration 1 --seed 99999999999999999999
run "load --timeout-ms 0 -> 2" 2 "--timeout-ms 0: want 1..600000" "$ecom" load --rate 1 --duration 1 --timeout-ms 0
run "load --timeout-ms 700000 -> 2" 2 "--timeout-ms 700000: want 1..600000" "$ecom" load --rate 1 --duration 1 --timeout-ms 700000
run "load --concurrency 2x -> 2" 2 "--concurrency 2x: want 1..256" "$ecom" load --rate 1 --duration 1 --concurrency 2x
run "load --duration 1e999 -> 2" 2 "--duration 1e999: want seconds" "$ecom" load --rate 1 --duration 1e999
run "load --rate fast -> 2" 2 "--rate fast: want a number" "$ecom" load --rate fast --duration 1
run "load without --duration -> 2" 2 "--duration is required" env -u DURATION "$ecom" load --rate 1
run "load --duration 0 -> 2" 2 "--duration 0: want seconds > 0" "$ecom" load --rate 1 --duration 0
run "load --rate '' -> 2" 2 "--rate : want a number > 0" "$ecom" load --rate '' --duration 1
run "load --rate 1e999 -> 2" 2 "--rate 1e999: want a number" "$ecom" load --rate 1e999 --duration 1
run "load 1000/s for a day -> 2, too many orders" 2 "--rate x --duration is more than 1000000 orders" \
	"$ecom" load --rate 1000 --duration 86400
run "load --ids-file in a missing directory -> 2 naming it" 2 "$work/no/such/ids: No such file or directory" \
	"$ecom" load --rate 1 --duration 1 --url "$O" --ids-file "$work/no/such/ids"
run "RATE/DURATION/ORDER_SERVICE from the environment -> 0" 0 '"planned":2' \
	env RATE=10 DURATION=0.2 ORDER_SERVICE="$O" "$ecom" load --timeout-ms 5000
run "--rate 0.1 --duration 1 rounds to one order -> 0" 0 "sent       1 of 1" \
	"$ecom" load --rate 0.1 --duration 1 --url "$O" --seed 5
script -qec "$ecom load --rate 10 --duration 0.6 --url $O --seed 6" /dev/null >"$work/tty.out" 2>&1
check "on a terminal, progress is redrawn in place (\\r ... ESC[K)" python3 -c '
import sys
t = open(sys.argv[1], "rb").read()
assert b"\r[" in t and b"\x1b[K" in t and b"sent 6/6" in t, t[-400:]' "$work/tty.out"
"$ecom" load --rate 4 --duration 60 --url "$O" --seed 7 >"$work/lint.out" 2>/dev/null &
lint=$!
pids+=("$lint")
sleep 1.3
stop "$lint" INT
check "Ctrl-C stops the load: exit 0, summary marked interrupted (got $rc)" python3 -c '
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t.strip().split("\n")[-1])
assert sys.argv[2] == "0" and j["interrupted"] is True and 0 < j["sent"] < j["planned"], j
assert "(interrupted)" in t.split("\n")[0], t' "$work/lint.out" "$rc"

# ---- the slow scripted server and the unreachable MongoDB (started earlier) ----------------------------
for _ in $(seq 1 100); do kill -0 "$slow_pid" 2>/dev/null || break; sleep 0.1; done
check "a server slower than the rate: 'behind' in the summary, late counted" python3 -c '
import json, sys
t = open(sys.argv[1]).read()
j = json.loads(t.strip().split("\n")[-1])
assert j["late"] >= 3 and j["accepted"] == j["sent"] == 10, j
assert "  behind     " in t and "raise --concurrency" in t, t' "$work/lslow.out"
for _ in $(seq 1 150); do kill -0 "$mongo_pid" 2>/dev/null || break; sleep 0.1; done
wait "$mongo_pid" 2>/dev/null
rc=$?
check "serve all on an unreachable MongoDB -> 1 naming the store (got $rc)" bash -c \
	"[ $rc = 1 ] && grep -q '^ecom serve: ' '$work/mongo.err'"

# ---- a second `serve all`: no dashboard directory, port in use, env defaults ---------------------------
for attempt in 1 2 3; do
	B2=$(free_base $((attempt + 10)))
	env JWT_SECRET=serve-cli-secret-0123456789abcdef CORS_ORIGIN=http://a.test LOG_LEVEL=warn \
		ECOM_DEBUG_ROUTES=0 KAFKA_BROKERS= \
		"$ecom" serve all --port-base "$B2" --web-dir '' >"$work/s2.out" 2>"$work/s2.err" &
	s2=$!
	pids+=("$s2")
	wait_ready "$B2" "$s2" && break
	stop "$s2" TERM
	B2=
done
if [ -n "$B2" ]; then
	check "banner without a dashboard directory says so" grep -q "no web/ directory found: use --web-dir" "$work/s2.out"
	check "banner: the secret comes from JWT_SECRET" grep -q "admin secret: from JWT_SECRET" "$work/s2.out"
	check "ECOM_DEBUG_ROUTES=0: no debug route" bash -c "! grep -q 'debug routes' '$work/s2.out'"
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((B2 + 4))/")
	check "GET / without a dashboard directory -> 404 (got $code)" test "$code" = 404
	check "CORS_ORIGIN allows that origin" bash -c \
		"curl -s -D - -o /dev/null -H 'Origin: http://a.test' 'http://127.0.0.1:$B2/health' | grep -qi '^access-control-allow-origin: http://a.test'"
	run "a second serve on the same ports -> 1, port in use" 1 "(port in use?)" \
		"$ecom" serve all --port-base "$B2"
	stop "$s2" TERM
	check "SIGTERM -> exit 0 (got $rc)" test "$rc" = 0
	check "LOG_LEVEL=warn: no info lines" bash -c "! grep -q '\"level\":\"info\"' '$work/s2.err'"
else
	bad "second serve all ready on $B2"
	tail -5 "$work/s2.err"
fi

stop "$s1" INT
check "SIGINT -> exit 0 (got $rc)" test "$rc" = 0
check "the stop is logged by every service" test "$(grep -c '"msg":"stopping: signal received"' "$work/s1.err")" = 5
check "every log line on stderr is JSON" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    json.loads(line)' "$work/s1.err"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
