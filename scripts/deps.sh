#!/usr/bin/env bash
# scripts/deps.sh — installs the Debian packages ecom builds and tests with, only those that
# are missing. Idempotent and quiet when there is nothing to do. Run as root (or with sudo).
# Usage: scripts/deps.sh [--browser]   (--browser adds Chromium for the dashboard test)
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config clang libclang-rt-dev
      librdkafka-dev libmongoc-dev libbson-dev libjansson-dev libjwt-dev libmicrohttpd-dev
      libcmocka-dev lcov valgrind curl kcat python3 docker-compose)
if [ "${1:-}" = "--browser" ]; then
	pkgs+=(chromium nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing+=("$p") ;;
	esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

# npm and nodejs may come from elsewhere on this machine; don't fight an existing node.
if command -v node >/dev/null && command -v npm >/dev/null; then
	filtered=()
	for p in "${missing[@]}"; do
		case "$p" in nodejs | npm) ;; *) filtered+=("$p") ;; esac
	done
	missing=("${filtered[@]}")
	[ ${#missing[@]} -eq 0 ] && exit 0
fi

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "[deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "[deps] done"
