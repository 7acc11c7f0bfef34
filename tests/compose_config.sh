#!/usr/bin/env bash
# compose_config.sh — validates deploy/docker-compose.yml and deploy/Dockerfile offline (Docker
# cannot run here): `docker-compose config -q` accepts the file, JWT_SECRET is required, and
# the resolved configuration is what deploy/README.md promises and consistent with
# deploy/stack and `ecom serve`: Kafka 3.9.1 (the version deploy/stack runs) in KRaft mode,
# MongoDB 7, the five services built from deploy/Dockerfile, one per container, each with
# KAFKA_BROKERS/MONGO_URL/JWT_SECRET/PORT, a /health/ready healthcheck on its own port and
# the demo's host port, the read model with ORDER_URL to the order service, services
# starting after healthy brokers, saga topics with serve's partition count, the stack's
# ports. The Dockerfile builds on debian:12 with packages scripts/deps.sh also installs.
# Usage: bash tests/compose_config.sh <path-to-ecom> <repo-root>
# Ends with "N passed, M failed"; exit 1 on any failure.
set -uo pipefail

ecom=${1:?usage: compose_config.sh <path-to-ecom> <repo-root>}
root=${2:?usage: compose_config.sh <path-to-ecom> <repo-root>}
root=$(cd "$root" && pwd)
compose=$root/deploy/docker-compose.yml
dockerfile=$root/deploy/Dockerfile
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }

if ! command -v docker-compose >/dev/null; then
	echo "compose_config.sh: skipped: docker-compose is not installed (scripts/deps.sh installs it)"
	echo "0 passed, 0 failed"
	exit 0
fi

# ---- docker-compose accepts it --------------------------------------------------------------
check "docker-compose config -q accepts deploy/docker-compose.yml (JWT_SECRET set)" \
	env JWT_SECRET=compose-config-test docker-compose -f "$compose" config -q
env -u JWT_SECRET docker-compose -f "$compose" config -q >"$work/nosecret" 2>&1
rc=$?
check "without JWT_SECRET the file is refused, naming JWT_SECRET (no built-in secret)" \
	test "$rc" != 0 -a -n "$(grep -l JWT_SECRET "$work/nosecret")"
JWT_SECRET=compose-config-test docker-compose -f "$compose" config >"$work/resolved.yml" 2>"$work/err" ||
	{ cat "$work/err"; bad "docker-compose config"; }

# ---- what it resolves to ----------------------------------------------------------------------
stack_kafka=$(sed -n 's/^KAFKA_VERSION=\(.*\)$/\1/p' "$root/deploy/stack")
stack_kport=$(sed -n 's/^KAFKA_PORT=\${KAFKA_PORT:-\([0-9]*\)}$/\1/p' "$root/deploy/stack")
stack_mport=$(sed -n 's/^MONGO_PORT=\${MONGO_PORT:-\([0-9]*\)}$/\1/p' "$root/deploy/stack")
serve_parts=
if "$ecom" serve --help >"$work/serve-help" 2>/dev/null; then
	serve_parts=$(sed -n 's/.*--partitions N.*(default \([0-9]*\)).*/\1/p' "$work/serve-help")
fi
python3 - "$work/resolved.yml" "${stack_kafka:-?}" "${stack_kport:-?}" "${stack_mport:-?}" \
	"${serve_parts:-6}" "$work/serve-help" <<'EOF' >"$work/checks"
import sys
import yaml

resolved, kafka_ver, kport, mport, parts, serve_help = sys.argv[1:7]
cfg = yaml.safe_load(open(resolved))
svcs = cfg.get("services", {})
help_text = open(serve_help).read() if serve_help else ""


def out(good, name):
    print(("ok   " if good else "FAIL ") + name)


def env(s):
    e = svcs.get(s, {}).get("environment", {})
    if isinstance(e, list):
        e = dict(x.split("=", 1) for x in e)
    return {k: str(v) for k, v in e.items()}


def host_ports(s):
    got = []
    for p in svcs.get(s, {}).get("ports", []):
        if isinstance(p, dict):
            got.append((str(p.get("published")), str(p.get("target"))))
        else:
            a, _, b = str(p).rpartition(":")
            got.append((a.split(":")[-1], b))
    return got


five = {"order": 4001, "inventory": 4002, "payment": 4003, "shipping": 4004, "read-model": 4005}
out(set(svcs) == {"kafka", "mongo"} | set(five),
    "services: kafka, mongo and the five ecom services (got %s)" % sorted(svcs))
k = svcs.get("kafka", {})
ke = env("kafka")
out(k.get("image") == "apache/kafka:" + kafka_ver,
    "kafka image apache/kafka:%s, the version deploy/stack runs (got %s)" % (kafka_ver, k.get("image")))
out(ke.get("KAFKA_PROCESS_ROLES") == "broker,controller" and "CONTROLLER" in ke.get("KAFKA_CONTROLLER_LISTENER_NAMES", "")
    and ke.get("CLUSTER_ID"), "kafka in KRaft mode, one node with both roles, a CLUSTER_ID")
out(ke.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR") == "1" and ke.get("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS") == "0",
    "kafka: one replica for offsets and no initial rebalance delay, as deploy/stack")
out((kport, "9092") in host_ports("kafka") and "localhost:%s" % kport in ke.get("KAFKA_ADVERTISED_LISTENERS", ""),
    "kafka answers host clients on localhost:%s (deploy/stack's port)" % kport)
out("healthcheck" in k and "CMD" in str(k["healthcheck"].get("test", "")), "kafka has a healthcheck")
m = svcs.get("mongo", {})
out(str(m.get("image", "")).split(":")[0] == "mongo" and str(m.get("image", "")).split(":")[-1].startswith("7"),
    "MongoDB 7 (got %s)" % m.get("image"))
out((mport, "27017") in host_ports("mongo"), "mongo on host port %s (deploy/stack's port)" % mport)
out("healthcheck" in m, "mongo has a healthcheck")
brokers = None
for s, port in five.items():
    d = svcs.get(s, {})
    e = env(s)
    b = d.get("build", {})
    cmd = d.get("command", [])
    if isinstance(cmd, str):
        cmd = cmd.split()
    out(isinstance(b, dict) and b.get("dockerfile") == "deploy/Dockerfile",
        "%s is built from deploy/Dockerfile" % s)
    out(cmd[:1] == [s], "%s runs `ecom serve %s` (command %s)" % (s, s, cmd))
    pi = cmd.index("--partitions") if "--partitions" in cmd else -1
    out(pi > 0 and cmd[pi + 1] == parts,
        "%s creates topics with %s partitions, `ecom serve`'s default and deploy/stack's" % (s, parts))
    out(all(e.get(v) for v in ("KAFKA_BROKERS", "MONGO_URL", "JWT_SECRET")) and e.get("PORT") == str(port),
        "%s: KAFKA_BROKERS, MONGO_URL, JWT_SECRET set and PORT %d" % (s, port))
    brokers = brokers or e.get("KAFKA_BROKERS")
    out(e.get("KAFKA_BROKERS", "").split(":")[0] == "kafka" and e.get("MONGO_URL", "").startswith("mongodb://mongo:"),
        "%s talks to the kafka and mongo services" % s)
    out((str(port), str(port)) in host_ports(s), "%s on host port %d (the demo's)" % (s, port))
    hc = " ".join(str(x) for x in d.get("healthcheck", {}).get("test", []))
    out("/health/ready" in hc and ":%d/" % port in hc, "%s healthcheck GETs /health/ready on %d" % (s, port))
    dep = d.get("depends_on", {})
    out(isinstance(dep, dict) and all(dep.get(x, {}).get("condition") == "service_healthy" for x in ("kafka", "mongo")),
        "%s starts once kafka and mongo are healthy" % s)
out(env("read-model").get("ORDER_URL") == "http://order:4001",
    "read-model forwards admin commands to ORDER_URL=http://order:4001")
lst = ke.get("KAFKA_ADVERTISED_LISTENERS", "")
out(brokers and brokers in lst, "the services' KAFKA_BROKERS (%s) is an advertised listener" % brokers)
if help_text:
    out(all(v in help_text for v in ("KAFKA_BROKERS", "MONGO_URL", "ORDER_URL", "PORT", "JWT_SECRET", "LOG_LEVEL")),
        "`ecom serve --help` documents every variable the compose file sets")
EOF
while IFS= read -r line; do
	case $line in
	"ok   "*) ok "${line#ok   }" ;;
	"FAIL "*) bad "${line#FAIL }" ;;
	esac
done <"$work/checks"
[ -s "$work/checks" ] || bad "the resolved compose file could not be inspected (python3-yaml?)"

# ---- the Dockerfile ----------------------------------------------------------------------------
check "Dockerfile: the build stage is FROM debian:12" grep -q '^FROM debian:12 AS build' "$dockerfile"
check "Dockerfile: the runtime stage is Debian 12 too" grep -qE '^FROM debian:12(-slim)?$' "$dockerfile"
check "Dockerfile: ENTRYPOINT is ecom serve" grep -q '^ENTRYPOINT \["ecom", "serve"\]' "$dockerfile"
check "Dockerfile: built with the release preset" grep -q 'cmake --preset release' "$dockerfile"
deps=$(sed -n '/^pkgs=(/,/)/p' "$root/scripts/deps.sh" | tr -d '()' | sed 's/pkgs=//')
build_pkgs=$(awk '/^FROM debian:12 AS build/,/rm -rf/' "$dockerfile" | grep -oE '\b(lib[a-z0-9.+-]+-dev|build-essential|cmake|ninja-build|pkg-config)\b' | sort -u)
missing=
for p in $build_pkgs; do
	grep -qw -- "$p" <<<"$deps" || missing="$missing $p"
done
check "Dockerfile: every build package is one scripts/deps.sh installs (${missing:-all $(wc -w <<<"$build_pkgs")})" \
	test -z "$missing"
for lib in rdkafka mongoc bson jansson jwt microhttpd; do
	check "Dockerfile: $lib installed for building (-dev) and at run time" \
		test "$(grep -cE "lib${lib}[-.0-9]*" "$dockerfile")" -ge 2
done
for d in $(sed -n 's/^COPY \([a-z]*\) \1$/\1/p' "$dockerfile"); do
	check "Dockerfile: COPY $d/ exists in the repository" test -d "$root/$d"
done
check "Dockerfile: the dashboard goes where ecom serve looks (<exe>/../share/ecom/web)" \
	grep -q '/usr/local/share/ecom/web' "$dockerfile"
check "the runtime healthcheck tool (curl) is in the runtime image" \
	sh -c "awk '/^FROM debian:12-slim/,0' '$dockerfile' | grep -qw curl"
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
