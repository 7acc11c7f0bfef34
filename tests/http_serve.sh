#!/usr/bin/env bash
# http_serve.sh — `ecom serve all` over real sockets: starts it on non-default ports with a
# known JWT_SECRET, waits for /health/ready, drives orders with curl to terminal states in
# the read model, and checks the HTTP contract: 201/200/409 on create, 400 naming the field,
# 413 over 64 KiB, 404, 405, admin 401 (none, expired, alg none, bad signature) / 403 (wrong
# role) / 200 (legal retry) / 409 with the reason (illegal), /metrics syntax, SSE on /stream
# and /orders/:id/stream (Last-Event-ID), static files, DLQ routes, and exit 0 on SIGTERM.
# Usage: bash tests/http_serve.sh <path-to-ecom> <repo-root>
# Ends with "N passed, M failed"; exit 1 on any failure.
set -uo pipefail

ecom=${1:?usage: http_serve.sh <path-to-ecom> <repo-root>}
root=${2:?usage: http_serve.sh <path-to-ecom> <repo-root>}
ecom=$(cd "$(dirname "$ecom")" && pwd)/$(basename "$ecom")
work=$(mktemp -d)
pid=
READY_TIMEOUT_S=20
TERMINAL_TIMEOUT_S=30
SECRET="http-serve-test-secret-$$-0123456789abcdef"
passed=0
failed=0

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		sleep 1
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
check() { # check NAME CONDITION-COMMAND...
	local name=$1
	shift
	if "$@"; then ok "$name"; else bad "$name"; fi
}

for tool in curl python3; do
	command -v "$tool" >/dev/null || { echo "http_serve.sh: needs $tool"; echo "0 passed, 1 failed"; exit 1; }
done

if ! "$ecom" serve --help >/dev/null 2>&1; then
	echo "http_serve.sh: skipped: this ecom has no HTTP server (built with ECOM_BACKENDS=OFF)"
	echo "0 passed, 0 failed"
	exit 0
fi

# ---- start ---------------------------------------------------------------------------------
mkdir -p "$work/web/js"
echo '<!doctype html><title>ecom test dashboard</title>' >"$work/web/index.html"
echo 'console.log("ecom")' >"$work/web/js/app.js"

start_server() {
	local base=$1
	JWT_SECRET=$SECRET "$ecom" serve all --port-base "$base" --stock 5 --decline 0 \
		--ship-fail 0 --web-dir "$work/web" --cors-origin '*' \
		>"$work/out" 2>"$work/err" &
	pid=$!
}

ready() { # ready BASE: every service answers /health/ready 200
	local i
	for i in 0 1 2 3 4; do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(($1 + i))/health/ready")" = 200 ] || return 1
	done
}

base=
for attempt in 1 2 3; do
	try=$((20000 + (($$ * 7 + attempt * 977) % 30000)))
	start_server "$try"
	for _ in $(seq 1 $((READY_TIMEOUT_S * 10))); do
		if ready "$try"; then base=$try; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$base" ] && break
	kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
done
if [ -z "$base" ]; then
	bad "server ready"
	cat "$work/err" | tail -20
	echo "$passed passed, $failed failed"
	exit 1
fi
ok "server ready on ports $base..$((base + 4))"
O=http://127.0.0.1:$base
R=http://127.0.0.1:$((base + 4))
TOKEN=$(sed -n 's/^admin token: //p' "$work/out")
check "banner prints an admin token and the secret's source" \
	grep -q "admin secret: from JWT_SECRET" "$work/out"
[ -n "$TOKEN" ] || bad "admin token present"

# ---- helpers ---------------------------------------------------------------------------------
# req METHOD URL [BODY] [extra curl args...] -> sets CODE and BODY
req() {
	local method=$1 url=$2 body=${3:-}
	shift 3 2>/dev/null || shift $#
	if [ -n "$body" ]; then
		CODE=$(curl -s -o "$work/body" -w '%{http_code}' -X "$method" "$url" \
			-H 'Content-Type: application/json' --data-binary "$body" "$@")
	else
		CODE=$(curl -s -o "$work/body" -w '%{http_code}' -X "$method" "$url" "$@")
	fi
	BODY=$(cat "$work/body")
}
expect() { # expect NAME CODE [substring of body]
	if [ "$CODE" = "$2" ] && { [ -z "${3:-}" ] || grep -qF -- "$3" "$work/body"; }; then
		ok "$1"
	else
		bad "$1 (got $CODE: $(head -c 300 "$work/body"))"
	fi
}
json_field() { # json_field FIELD < json
	python3 -c 'import json,sys
d=json.load(sys.stdin)
v=d.get(sys.argv[1]) if isinstance(d, dict) else None
print("" if v is None else v)' "$1"
}
jwt() { # jwt ALG CLAIMS-JSON [SECRET]: a token crafted outside ecom
	python3 - "$1" "$2" "${3:-$SECRET}" <<'EOF'
import base64, hashlib, hmac, json, sys
alg, claims, secret = sys.argv[1], sys.argv[2], sys.argv[3]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
body = b64(claims.encode())
msg = (head + "." + body).encode()
if alg == "none":
    sig = ""
else:
    h = {"HS256": hashlib.sha256, "HS384": hashlib.sha384}[alg]
    sig = b64(hmac.new(secret.encode(), msg, h).digest())
print(head + "." + body + "." + sig)
EOF
}
NOW=$(date +%s)
ITEMS='"items":[{"sku":"SKU-1","qty":1}],"total":10'

# ---- orders ----------------------------------------------------------------------------------
ids=()
for sku in 1 2 3 4; do
	req POST "$O/orders" "{\"items\":[{\"sku\":\"SKU-$sku\",\"qty\":1}],\"total\":10}"
	if [ "$CODE" = 201 ]; then ids+=("$(echo "$BODY" | json_field orderId)"); fi
done
check "POST /orders x4 -> 201 with orderId" test "${#ids[@]}" = 4
req POST "$O/orders" "{\"orderId\":\"client-1-$$\",$ITEMS}"
expect "POST /orders with a client orderId -> 201" 201 "client-1-$$"
req POST "$O/orders" "{\"orderId\":\"client-1-$$\",$ITEMS}"
expect "same body again -> 200 (idempotent)" 200 "client-1-$$"
req POST "$O/orders" "{\"orderId\":\"client-1-$$\",\"items\":[{\"sku\":\"SKU-1\",\"qty\":2}],\"total\":20}"
expect "same orderId, other body -> 409" 409 '"error"'
ids+=("client-1-$$")
# out of stock (stock is 5 per SKU): cancelled at the inventory step
req POST "$O/orders" '{"items":[{"sku":"SKU-9","qty":6}],"total":60}'
expect "POST /orders beyond stock -> 201 (fails later)" 201
oos=$(echo "$BODY" | json_field orderId)

wait_status() { # wait_status ID STATUS...: until the read model shows one of them
	local id=$1 s
	shift
	for _ in $(seq 1 $((TERMINAL_TIMEOUT_S * 10))); do
		s=$(curl -s "$R/orders/$id" | json_field status 2>/dev/null)
		for want in "$@"; do [ "$s" = "$want" ] && return 0; done
		sleep 0.1
	done
	echo "  $id stuck at '$s'" >&2
	return 1
}
all_shipped=1
for id in "${ids[@]}"; do wait_status "$id" SHIPPED || all_shipped=0; done
check "every order SHIPPED in the read model" test "$all_shipped" = 1
check "the out-of-stock order is CANCELLED in the read model" wait_status "$oos" CANCELLED
req GET "$O/orders/${ids[0]}"
expect "GET order service /orders/:id -> 200" 200 '"status":"SHIPPED"'
req GET "$R/orders?status=SHIPPED&limit=2"
check "GET /orders?status=SHIPPED&limit=2 -> 2 shipped projections" python3 -c '
import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==2 and all(o["status"]=="SHIPPED" for o in d)' "$work/body"
req GET "$R/orders/no-such-order"
expect "GET unknown order -> 404" 404 '"error"'

# ---- bad input -------------------------------------------------------------------------------
req POST "$O/orders" '{"items":[{"sku":"SKU-1","qty":0}],"total":0}'
expect "qty 0 -> 400 naming the field" 400 'qty'
req POST "$O/orders" '{"items":[{"sku":"SKU-1","qty":1}],"total":999}'
expect "wrong total -> 400 naming the field" 400 'total'
req POST "$O/orders" '{"items": [1,'
expect "malformed JSON -> 400" 400 'malformed JSON'
python3 -c 'print("{\"pad\":\"" + "x" * 70000 + "\"}")' >"$work/big.json"
CODE=$(curl -s -o "$work/body" -w '%{http_code}' -X POST "$O/orders" \
	-H 'Content-Type: application/json' --data-binary @"$work/big.json")
expect "body over 64 KiB -> 413" 413 '"error"'
req GET "$O/no/such/route"
expect "unknown route -> 404" 404 '"error"'
req DELETE "$O/orders"
expect "wrong method -> 405" 405 '"error"'
req PUT "$R/orders/x"
expect "wrong method on the read model -> 405" 405

# ---- admin -----------------------------------------------------------------------------------
req POST "$R/admin/retry/$oos" '{"step":"inventory"}'
expect "admin without a token -> 401" 401 'missing bearer token'
EXPIRED=$(jwt HS256 "{\"role\":\"admin\",\"exp\":$((NOW - 3600))}")
req POST "$R/admin/retry/$oos" '{"step":"inventory"}' -H "Authorization: Bearer $EXPIRED"
expect "expired token -> 401" 401 'expired'
NONE=$(jwt none "{\"role\":\"admin\",\"exp\":$((NOW + 3600))}")
req POST "$R/admin/retry/$oos" '{"step":"inventory"}' -H "Authorization: Bearer $NONE"
expect "alg none token -> 401" 401 '"error"'
HS384=$(jwt HS384 "{\"role\":\"admin\",\"exp\":$((NOW + 3600))}")
req POST "$R/admin/retry/$oos" '{"step":"inventory"}' -H "Authorization: Bearer $HS384"
expect "HS384 token -> 401" 401 'HS256 only'
FORGED=$(jwt HS256 "{\"role\":\"admin\",\"exp\":$((NOW + 3600))}" "not-the-secret")
req POST "$R/admin/retry/$oos" '{"step":"inventory"}' -H "Authorization: Bearer $FORGED"
expect "token signed with another secret -> 401" 401 'signature'
NOEXP=$(jwt HS256 '{"role":"admin"}')
req POST "$O/admin/retry/$oos" '{"step":"inventory"}' -H "Authorization: Bearer $NOEXP"
expect "token without exp -> 401" 401 'exp'
VIEWER=$(JWT_SECRET=$SECRET "$ecom" token --role viewer --ttl 10m)
req POST "$R/admin/retry/$oos" '{"step":"inventory"}' -H "Authorization: Bearer $VIEWER"
expect "token without the admin role -> 403" 403 'admin role'
ADMIN=$(JWT_SECRET=$SECRET "$ecom" token --ttl 10m)
req POST "$R/admin/retry/$oos" '{}' -H "Authorization: Bearer $ADMIN"
expect "admin retry without step -> 400 naming it" 400 'step'
req POST "$R/admin/retry/$oos" '{"step":"inventory"}' -H "Authorization: Bearer $ADMIN"
expect "legal retry (cancelled at inventory) via the read model -> 200" 200 '"attempt"'
req POST "$O/admin/retry/${ids[0]}" '{"step":"payment"}' -H "Authorization: Bearer $TOKEN"
expect "illegal retry of a SHIPPED order -> 409 with the reason" 409 'SHIPPED'
req POST "$O/admin/compensate/${ids[0]}" '{"action":"refundPayment"}' -H "Authorization: Bearer $ADMIN"
expect "illegal compensate of a SHIPPED order -> 409" 409 '"error"'
req POST "$O/admin/retry/no-such-order" '{"step":"payment"}' -H "Authorization: Bearer $ADMIN"
expect "retry of an unknown order -> 404" 404
req GET "$R/admin/dlq" '' -H "Authorization: Bearer $ADMIN"
expect "GET /admin/dlq -> 200 (a JSON array)" 200 '['
req GET "$R/admin/dlq"
expect "GET /admin/dlq without a token -> 401" 401
req POST "$R/admin/dlq/replay" '{"all":true}' -H "Authorization: Bearer $ADMIN"
expect "POST /admin/dlq/replay {all} -> 200" 200 '"replayed"'
req POST "$R/admin/dlq/replay" '{"all":false}' -H "Authorization: Bearer $ADMIN"
expect "replay with a bad selector -> 400" 400 'all'

# ---- metrics ---------------------------------------------------------------------------------
metrics_ok=1
for i in 0 1 2 3 4; do
	curl -s "http://127.0.0.1:$((base + i))/metrics" >"$work/metrics.$i"
	if ! python3 - "$work/metrics.$i" <<'EOF'
import re, sys
line_re = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
                     r'(-?[0-9.e+-]+|[+-]Inf|NaN)$')
n = 0
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    n += 1
    if not line_re.match(line):
        print("bad metrics line:", line)
        sys.exit(1)
sys.exit(0 if n > 0 else 1)
EOF
	then metrics_ok=0; fi
done
check "/metrics on every port parses (name{labels} value)" test "$metrics_ok" = 1
check "order /metrics counts HTTP requests by route and code" \
	grep -q 'ecom_http_requests_total{service="order",route="/orders",code="201"}' "$work/metrics.0"
check "inventory /metrics counts processed events by type and outcome" \
	grep -q 'ecom_events_processed_total{service="inventory",type="order.OrderCreated.v1",outcome="handled"}' "$work/metrics.1"
check "order /metrics has saga gauges" grep -q '^ecom_sagas{status="SHIPPED"} [1-9]' "$work/metrics.0"
check "read-model /metrics has the DLQ gauge" grep -q '^ecom_dlq_messages ' "$work/metrics.4"

# ---- SSE -------------------------------------------------------------------------------------
curl -sN --max-time 6 "$R/stream" >"$work/stream" 2>/dev/null &
spid=$!
sleep 0.5
req POST "$O/orders" "{\"orderId\":\"sse-$$\",$ITEMS}"
wait_status "sse-$$" SHIPPED >/dev/null
sleep 0.3
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
check "GET /stream delivers the new order's events" grep -q "^data: .*\"orderId\":\"sse-$$\"" "$work/stream"
curl -sN --max-time 1 "$R/orders/sse-$$/stream" >"$work/ostream" 2>/dev/null
n_all=$(grep -c '^id: ' "$work/ostream")
first=$(sed -n 's/^id: //p' "$work/ostream" | head -1)
curl -sN --max-time 1 -H "Last-Event-ID: $first" "$R/orders/sse-$$/stream" >"$work/ostream2" 2>/dev/null
n_after=$(grep -c '^id: ' "$work/ostream2")
check "GET /orders/:id/stream replays the timeline ($n_all entries)" test "$n_all" -ge 4
check "Last-Event-ID resumes after that entry ($n_after = $n_all - 1)" \
	test "$n_after" = $((n_all - 1))
check "Last-Event-ID entry itself is not resent" bash -c "! grep -q '^id: $first\$' '$work/ostream2'"

# ---- static files and CORS -------------------------------------------------------------------
req GET "$R/"
expect "GET / serves the dashboard" 200 'ecom test dashboard'
req GET "$R/js/app.js"
expect "GET /js/app.js serves a file" 200 'console.log'
CODE=$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$R/../../etc/passwd")
expect "path traversal -> 404" 404
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS "$O/orders" -H 'Origin: http://x.test' \
	-H 'Access-Control-Request-Method: POST')
expect "CORS preflight -> 204" 204
check "CORS header on responses" bash -c \
	"curl -s -D - -o /dev/null '$O/health' | grep -qi '^access-control-allow-origin: \*'"

# ---- shutdown --------------------------------------------------------------------------------
curl -sN --max-time 30 "$R/stream" >/dev/null 2>&1 &
open_stream=$!
sleep 0.3
kill -TERM "$pid"
rc=124
for _ in $(seq 1 100); do
	if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; rc=$?; break; fi
	sleep 0.1
done
pid=
check "SIGTERM -> exit 0 (got $rc)" test "$rc" = 0
stream_ended=0
for _ in $(seq 1 50); do
	if ! kill -0 "$open_stream" 2>/dev/null; then stream_ended=1; break; fi
	sleep 0.1
done
kill "$open_stream" 2>/dev/null
check "an open SSE stream is ended by the shutdown" test "$stream_ended" = 1
check "every log line on stderr is JSON" python3 -c '
import json,sys
for line in open(sys.argv[1]):
    json.loads(line)' "$work/err"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
