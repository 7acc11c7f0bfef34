#!/usr/bin/env bash
# browser_dashboard.sh — the dashboard in a real browser: Debian's chromium driven by
# playwright-core (tests/browser, installed with `npm ci` from its package-lock into a scratch
# copy) against `ecom serve all` on free ports with a known JWT_SECRET. The checks themselves
# are in tests/browser/dashboard.spec.mjs; the screenshot goes to tests/artifacts/dashboard.png.
# Skips (exit 0) only when chromium is missing and cannot be installed; anything else that
# goes wrong is a failure.
# Usage: bash tests/browser_dashboard.sh <path-to-ecom> <repo-root>
# Ends with "N passed, M failed"; exit 1 on any failure.
set -uo pipefail

ecom=${1:?usage: browser_dashboard.sh <path-to-ecom> <repo-root>}
root=${2:?usage: browser_dashboard.sh <path-to-ecom> <repo-root>}
ecom=$(cd "$(dirname "$ecom")" && pwd)/$(basename "$ecom")
root=$(cd "$root" && pwd)
work=$(mktemp -d)
pid=
READY_TIMEOUT_S=20
SECRET="browser-test-secret-$$-0123456789abcdef"

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail_early() {
	echo "FAIL $*"
	echo "0 passed, 1 failed"
	exit 1
}

if ! "$ecom" serve --help >/dev/null 2>&1; then
	echo "browser_dashboard.sh: skipped: this ecom has no HTTP server (ECOM_BACKENDS=OFF)"
	echo "0 passed, 0 failed"
	exit 0
fi

# ---- chromium, node -------------------------------------------------------------------------
chromium_bin=${CHROMIUM:-}
[ -z "$chromium_bin" ] && chromium_bin=$(command -v chromium || true)
if [ -z "$chromium_bin" ] && [ -x "$root/scripts/deps.sh" ]; then
	echo "browser_dashboard.sh: chromium missing: trying scripts/deps.sh --browser"
	"$root/scripts/deps.sh" --browser >"$work/deps.log" 2>&1 || tail -5 "$work/deps.log"
	chromium_bin=$(command -v chromium || true)
fi
if [ -z "$chromium_bin" ]; then
	echo "browser_dashboard.sh: skipped: chromium is not installed and could not be installed" \
		"(run scripts/deps.sh --browser as root)"
	echo "0 passed, 0 failed"
	exit 0
fi
command -v node >/dev/null && command -v npm >/dev/null ||
	fail_early "node and npm are needed (scripts/deps.sh --browser installs them)"

# playwright-core from the lock file, in a scratch copy so the tree stays clean.
mkdir -p "$work/browser"
cp "$root/tests/browser/package.json" "$root/tests/browser/package-lock.json" \
	"$root/tests/browser/dashboard.spec.mjs" "$work/browser/"
if ! (cd "$work/browser" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error >"$work/npm.log" 2>&1); then
	tail -20 "$work/npm.log"
	fail_early "npm ci in tests/browser (is the npm registry reachable?)"
fi

# ---- the server -------------------------------------------------------------------------------
ready() { # ready BASE: every service answers /health/ready 200
	local i
	for i in 0 1 2 3 4; do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(($1 + i))/health/ready")" = 200 ] || return 1
	done
}
base=
for attempt in 1 2 3; do
	try=$((20000 + (($$ * 13 + attempt * 1777) % 30000)))
	JWT_SECRET=$SECRET ECOM_DEBUG_ROUTES=1 "$ecom" serve all --port-base "$try" --stock 50 \
		--decline 0.2 --ship-fail 0.05 --web-dir "$root/web" >"$work/out" 2>"$work/err" &
	pid=$!
	for _ in $(seq 1 $((READY_TIMEOUT_S * 10))); do
		if ready "$try"; then base=$try; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$base" ] && break
	kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
done
if [ -z "$base" ]; then
	tail -20 "$work/err"
	fail_early "ecom serve all did not become ready"
fi
token=$(sed -n 's/^admin token: //p' "$work/out")
[ -n "$token" ] || fail_early "ecom serve all printed no admin token"
echo "ok   ecom serve all ready on ports $base..$((base + 4)) (chromium: $("$chromium_bin" --version 2>/dev/null | head -1))"

# ---- the browser ------------------------------------------------------------------------------
mkdir -p "$work/profile" "$root/tests/artifacts"
(cd "$work/browser" && ECOM=$ecom ORDER_URL="http://127.0.0.1:$base" \
	RM_URL="http://127.0.0.1:$((base + 4))" TOKEN=$token CHROMIUM=$chromium_bin \
	ARTIFACT="$root/tests/artifacts/dashboard.png" PROFILE_DIR="$work/profile" WORK="$work" \
	timeout 300 node dashboard.spec.mjs) | tee "$work/spec.out"
spec_rc=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$work/spec.out" | tail -1)
p=$(echo "$summary" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
f=$(echo "$summary" | sed -n 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/p')
p=${p:-0}
f=${f:-1}
[ "$spec_rc" != 0 ] && [ "$f" = 0 ] && f=1 # the spec died before its summary

# ---- the server's side ------------------------------------------------------------------------
kill -TERM "$pid"
rc=124
for _ in $(seq 1 100); do
	if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; rc=$?; break; fi
	sleep 0.1
done
pid=
if [ "$rc" = 0 ]; then
	p=$((p + 1)); echo "ok   the server stopped cleanly on SIGTERM (exit 0)"
else
	f=$((f + 1)); echo "FAIL the server exit status after SIGTERM: $rc"; tail -5 "$work/err"
fi
p=$((p + 1)) # the server came up

echo "$p passed, $f failed"
[ "$f" = 0 ]
