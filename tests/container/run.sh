#!/usr/bin/env bash
# The container stage: images, the compose stack, scaling and graceful shutdown, for real, with
# podman (no Docker engine needed). tests/run.sh runs it unless BSL_SKIP_CONTAINERS=1.
#
#   tests/container/run.sh
#
#  1. installs what it needs (podman, podman-compose, debootstrap, ...) and configures podman
#     through its own files (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF), not the machine's;
#  2. makes the base image debian:bookworm-slim with debootstrap + podman import, once: it is
#     cached in $BSL_IMAGE_CACHE (default /var/tmp/boussole-images) with podman's storage,
#     so a second run reuses it and the build cache; made again when missing;
#  3. builds every image from the committed state (deploy/images/build.sh, git archive HEAD,
#     podman build --pull=never) and checks them: non-root, no compiler, a HEALTHCHECK, sizes;
#  4. starts the compose stack (deploy/compose/compose.yaml, project "bsltest", secrets made
#     by deploy/secrets.sh in a scratch directory, the gateway on a free loopback port);
#  5. checks the health checks, Redis (AOF everysec, password required), the networks (the
#     gateway cannot reach Redis), the mutual TLS hop (plain TCP and a foreign certificate
#     are refused);
#  6. runs the end-to-end scenario through the gateway as a front end would
#     (tests/container/client.mjs: a bilan from creation to a synthesis shared with a third
#     party and revoked, its PDF rendered), then restarts Redis and reads the bilan back;
#  7. scales questionnaires to 3 replicas under load and shows from each replica's /metrics
#     that requests reached all three, with no idempotent call failed;
#  8. stops one replica under load (SIGTERM: it drains and exits 0) with no idempotent call
#     failed;
#  9. tears everything down (down -t 0, volumes removed) and checks nothing is left, also
#     when a step fails.
# Prints the time of each step. The load is bounded (a few seconds, 4 calls in flight) and
# goes only to the stack's port on the loopback.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=${BSL_IMAGE_CACHE:-/var/tmp/boussole-images}
PROJECT=bsltest
TAG="test"
start=$(date +%s)
step() { printf '\n== container stage: %s (%ds)\n' "$*" $(($(date +%s) - start)); }
fail() {
    echo "container stage FAILED: $*" >&2
    exit 1
}

step "dependencies"
pkgs=(podman buildah runc netavark aardvark-dns iptables conmon catatonit debootstrap
      podman-compose openssl)
command -v node >/dev/null || pkgs+=(nodejs)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
[ "$(id -u)" -eq 0 ] || fail "needs root (rootful podman, debootstrap)"

# Podman's configuration for this stage only. Storage persists in the cache (base image and
# build layers are reused); run state lives on tmpfs so that a reboot resets it.
mkdir -p "$CACHE/podman" "$CACHE/networks"
RUNDIR=/dev/shm/boussole-podman-$(printf %s "$CACHE" | md5sum | cut -c1-8)
[ -d /dev/shm ] || RUNDIR=$CACHE/run
mkdir -p "$RUNDIR"
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] || [ "$nofile" -gt 20000 ] && nofile=20000
cat >"$CACHE/podman/containers.conf" <<EOF
# Written by tests/container/run.sh: the VM refuses podman's default ulimits, and crun rejects
# the hybrid cgroup setup, so runc.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]
[engine]
runtime = "runc"
events_logger = "file"
tmp_dir = "$RUNDIR/tmp"
[network]
network_config_dir = "$CACHE/networks"
EOF
cat >"$CACHE/podman/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$CACHE/storage"
runroot = "$RUNDIR/run"
EOF
export CONTAINERS_CONF=$CACHE/podman/containers.conf
export CONTAINERS_STORAGE_CONF=$CACHE/podman/storage.conf
# One container stage at a time on this machine (they share the cache).
exec 9>"$CACHE/lock"
flock -w 900 9 || fail "another container stage holds $CACHE/lock"

WORK=$(mktemp -d /tmp/boussole-container.XXXXXX)
COMPOSE_DIR=$WORK/compose
LOAD_PID=""
pc() { podman-compose -p "$PROJECT" -f "$COMPOSE_DIR/compose.yaml" "$@"; }

# BSL_CONTAINER_LOG_DIR keeps every container's whole log, whatever the outcome (before the
# tear down on success, at cleanup on failure).
keep_logs() {
    [ -n "${BSL_CONTAINER_LOG_DIR:-}" ] || return 0
    mkdir -p "$BSL_CONTAINER_LOG_DIR"
    for c in $(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" \
        --format '{{.Names}}'); do
        podman logs "$c" >"$BSL_CONTAINER_LOG_DIR/$c.log" 2>&1
    done
}

# Everything the stage started goes, whatever happened.
cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [ -n "$LOAD_PID" ]; then kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null; fi
    [ $rc -eq 0 ] || keep_logs
    if [ $rc -ne 0 ] && [ -d "$COMPOSE_DIR" ]; then
        # What explains a failure: every line that is not a routine "request"/"call" line
        # (replicas added, lost, removed, drains, warnings), every call that did not end OK,
        # then the last lines.
        echo "--- logs of the stack ---" >&2
        for c in $(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" \
            --format '{{.Names}}'); do
            podman logs "$c" >"$WORK/$c.log" 2>&1
            echo "--- $c: events, and calls that did not end OK (at most 40 lines)" >&2
            grep -v "systemd connection" "$WORK/$c.log" |
                grep -v '"msg":"\(request\|call\)"}$' | grep -v '"code":"OK"' | tail -40 >&2
            echo "--- $c: last lines" >&2
            grep -v "systemd connection" "$WORK/$c.log" | tail -8 >&2
        done
    fi
    if [ -f "$COMPOSE_DIR/compose.yaml" ]; then
        pc down -t 0 -v >"$WORK/down.log" 2>&1
    fi
    # Whatever compose did not know about (a failed start, an extra replica).
    podman ps -aq --filter "label=io.podman.compose.project=$PROJECT" | xargs -r podman rm -f -t 0 >/dev/null 2>&1
    podman volume ls -q --filter "label=io.podman.compose.project=$PROJECT" | xargs -r podman volume rm -f >/dev/null 2>&1
    podman network ls -q --filter "label=io.podman.compose.project=$PROJECT" | xargs -r podman network rm -f >/dev/null 2>&1
    podman image prune -f >/dev/null 2>&1
    rm -rf "$WORK"
    printf '\n== container stage: %s after %ds\n' "$([ $rc -eq 0 ] && echo passed || echo FAILED)" \
        $(($(date +%s) - start))
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------
step "base image (debootstrap, cached in $CACHE)"
deploy/images/debian-base.sh "$CACHE"

step "images from the committed state ($(git rev-parse --short HEAD))"
services=(sessions questionnaires syntheses gateway)
for svc in "${services[@]}"; do
    git cat-file -e "HEAD:services/$svc/CMakeLists.txt" 2>/dev/null || fail "services/$svc is not in HEAD"
done
BSL_BUILD_FLAGS=--pull=never deploy/images/build.sh -t "$TAG" "${services[@]}" redis \
    >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; fail "image build"; }
grep -E "^(build context|image |build stage|stage.sh)" "$WORK/build.log"

step "image checks"
printf '%-34s %8s  %s\n' image size checks
for svc in "${services[@]}"; do
    img=boussole/$svc:$TAG
    user=$(podman image inspect -f '{{.Config.User}}' "$img")
    [ "$user" = 10001:10001 ] || fail "$img runs as '$user', not 10001:10001"
    hc=$(podman image inspect -f '{{if .Config.Healthcheck}}{{join .Config.Healthcheck.Test " "}}{{end}}' "$img")
    [[ $hc == *bsl-probe* ]] || fail "$img has no HEALTHCHECK"
    tools=$(podman run --rm --entrypoint sh "$img" -c \
        'for t in cc gcc c++ clang ld as make cmake apt-get; do command -v $t; done; ls /src /build 2>/dev/null' \
        2>/dev/null | grep -v apt-get || true)
    [ -z "$tools" ] || fail "$img holds build tools: $tools"
    size=$(podman image inspect -f '{{.Size}}' "$img")
    printf '%-34s %6s MB  user 10001, HEALTHCHECK, no compiler\n' "$img" $((size / 1000000))
done
size=$(podman image inspect -f '{{.Size}}' "boussole/redis:$TAG")
printf '%-34s %6s MB\n' "boussole/redis:$TAG" $((size / 1000000))
base=$(podman image inspect -f '{{.Size}}' docker.io/library/debian:bookworm-slim)
printf '%-34s %6s MB  (the base every image shares)\n' debian:bookworm-slim $((base / 1000000))

# ---------------------------------------------------------------------------------------
step "compose stack up"
mkdir -p "$COMPOSE_DIR"
cp deploy/compose/compose.yaml deploy/compose/redis.conf "$COMPOSE_DIR/"
deploy/secrets.sh "$COMPOSE_DIR/secrets" >/dev/null
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$HTTP_PORT
export BSL_TAG=$TAG BSL_REDIS_IMAGE=boussole/redis:$TAG BSL_HTTP_PORT=$HTTP_PORT \
    BSL_PULL_POLICY=never BSL_RATE_LIMIT=0
up_services=(redis keystore "${services[@]}")
pc up -d "${up_services[@]}" >"$WORK/up.log" 2>&1 || { tail -30 "$WORK/up.log"; fail "compose up"; }
ctr() { echo "${PROJECT}_$1_${2:-1}"; }
wait_ready() { # container url
    for _ in $(seq 120); do
        podman exec "$1" bsl-probe "$2" 2>/dev/null && return 0
        sleep 0.5
    done
    fail "$1 never became ready ($2)"
}
declare -A ADMIN=([sessions]=9101 [questionnaires]=9102 [syntheses]=9103 [gateway]=8080)
for svc in "${services[@]}"; do
    wait_ready "$(ctr "$svc")" "http://127.0.0.1:${ADMIN[$svc]}/readyz"
done
curl -sf "$URL/readyz" >/dev/null || fail "the gateway is not ready: $(curl -s "$URL/readyz")"
echo "the gateway is ready on $URL (every backend answers its health check)"

step "health checks, Redis, networks, mutual TLS"
for c in $(podman ps --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}'); do
    case $c in *redis* | *keystore*) continue ;; esac
    podman healthcheck run "$c" >/dev/null 2>&1 || fail "HEALTHCHECK of $c failed"
    echo "  ok  HEALTHCHECK of $c: healthy"
done
redis_cli() { # container args...
    local c=$1
    shift
    podman exec "$c" sh -c 'REDISCLI_AUTH="$(sed -n "s/^requirepass //p" /run/secrets/boussole/redis-auth.conf)" redis-cli "$@"' sh "$@"
}
for r in redis keystore; do
    aof=$(redis_cli "$(ctr $r)" config get appendonly | tail -1)
    fsync=$(redis_cli "$(ctr $r)" config get appendfsync | tail -1)
    policy=$(redis_cli "$(ctr $r)" config get maxmemory-policy | tail -1)
    [ "$aof/$fsync/$policy" = yes/everysec/noeviction ] || fail "$r: appendonly=$aof appendfsync=$fsync maxmemory-policy=$policy"
    noauth=$(podman exec "$(ctr $r)" redis-cli ping 2>&1 || true)
    [[ $noauth == *NOAUTH* ]] || fail "$r answers without a password: $noauth"
    echo "  ok  $r: appendonly yes, appendfsync everysec, noeviction; refuses clients without the password"
done
if podman exec "$(ctr gateway)" getent hosts redis >/dev/null 2>&1; then
    fail "the gateway can resolve redis: the data network is not closed"
fi
echo "  ok  the gateway cannot reach Redis (not on the data network)"
# A caller on the RPC network: plain TCP, a certificate from another CA, then the right one.
deploy/secrets.sh "$WORK/rogue" >/dev/null
direct() { # secrets_dir url
    podman run --rm --network "${PROJECT}_rpc" --pull=never \
        -v "$1/gateway/tls.crt:/t/tls.crt:ro" -v "$1/gateway/tls.key:/t/tls.key:ro" \
        -v "$1/ca.crt:/t/ca.crt:ro" --entrypoint boussolectl "boussole/gateway:$TAG" \
        --direct="$2" --as=admin:a-1:org-1 --tls-cert=/t/tls.crt --tls-key=/t/tls.key \
        --tls-ca=/t/ca.crt --timeout-ms=3000 health 2>&1 | grep -v "systemd connection"
}
for svc in "${services[@]}"; do
    [ "$svc" = gateway ] && continue
    port=$((${ADMIN[$svc]} - 2000))
    direct "$COMPOSE_DIR/secrets" "tls+tcp://$svc:$port" >/dev/null ||
        fail "a caller with the stack's certificate cannot reach $svc"
    if direct "$COMPOSE_DIR/secrets" "tcp://$svc:$port" >/dev/null; then
        fail "$svc answers plain TCP"
    fi
    if direct "$WORK/rogue" "tls+tcp://$svc:$port" >/dev/null; then
        fail "$svc accepts a certificate from another CA"
    fi
    echo "  ok  $svc: answers mutual TLS with the stack's certificate; refuses plain TCP and a foreign CA"
done

# ---------------------------------------------------------------------------------------
step "end-to-end scenario through the gateway"
node tests/container/client.mjs scenario "$URL" "$COMPOSE_DIR/secrets/jwt.secret" "$WORK/state.json"
bilan=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).bilan)' "$WORK/state.json")
t0=$(date +%s%N)
podman restart -t 10 "$(ctr redis)" >/dev/null
for _ in $(seq 60); do
    if out=$(node tests/container/client.mjs call "$URL" "$WORK/state.json" counselor \
        SessionService/GetBilan "{\"id\":\"$bilan\"}" 2>&1); then
        break
    fi
    sleep 0.5
done
[[ $out == *"\"id\":\"$bilan\""* ]] || fail "after a Redis restart the bilan is gone: $out"
# Every service reconnects by itself (its /readyz is 200 again once Redis answers).
for svc in "${services[@]}"; do
    [ "$svc" = gateway ] || wait_ready "$(ctr "$svc")" "http://127.0.0.1:${ADMIN[$svc]}/readyz"
done
echo "  ok  Redis restarted: the bilan is still there (append-only file); every service" \
    "reconnected by itself, all ready $((($(date +%s%N) - t0) / 1000000)) ms after the restart began"

# ---------------------------------------------------------------------------------------
metric_sum() { # container port: QuestionnaireService requests answered by that replica
    podman exec "$1" bash -c "exec 3<>/dev/tcp/127.0.0.1/$2; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3" |
        awk '/^bsl_rpc_requests_total\{.*QuestionnaireService/ { s += $NF } END { print s + 0 }'
}
start_load() { # max_seconds file: until end_load (or max_seconds), 4 calls in flight
    rm -f "$WORK/ready" "$WORK/stop"
    node tests/container/client.mjs load "$URL" "$WORK/state.json" "$1" 4 "$WORK/ready" \
        "$WORK/stop" >"$2" 2>&1 &
    LOAD_PID=$!
    for _ in $(seq 100); do [ -f "$WORK/ready" ] && return 0; sleep 0.1; done
    fail "the load never got going: $(cat "$2")"
}
end_load() { # file what
    local rc=0
    touch "$WORK/stop"
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=""
    echo "  load: $(cat "$1")"
    [ $rc -eq 0 ] || fail "$2: idempotent calls failed"
}

step "scale questionnaires to 3 replicas under load"
start_load 120 "$WORK/load-scale.json"
t0=$(date +%s)
BSL_QUESTIONNAIRES_REPLICAS=3 pc up -d questionnaires >"$WORK/scale.log" 2>&1 ||
    { tail -20 "$WORK/scale.log"; fail "scaling up"; }
# down must see the replicas too (docker compose knows them by itself; podman-compose reads
# deploy.replicas).
export BSL_QUESTIONNAIRES_REPLICAS=3
for n in 2 3; do wait_ready "$(ctr questionnaires $n)" http://127.0.0.1:9102/readyz; done
echo "  replicas 2 and 3 ready $(($(date +%s) - t0)) s after the scale command"
# The gateway finds them at its next resolution (every 2 s): the load goes on until both
# have answered some of it.
for _ in $(seq 100); do
    [ "$(metric_sum "$(ctr questionnaires 2)" 9102)" -gt 0 ] &&
        [ "$(metric_sum "$(ctr questionnaires 3)" 9102)" -gt 0 ] && break
    sleep 0.2
done
sleep 1
end_load "$WORK/load-scale.json" "replicas joining"
for n in 2 3; do
    [ "$(metric_sum "$(ctr questionnaires $n)" 9102)" -gt 0 ] || fail "replica $n got none of the load"
done
echo "  ok  no idempotent call failed while two replicas joined and took their share"
declare -A before
for n in 1 2 3; do before[$n]=$(metric_sum "$(ctr questionnaires $n)" 9102); done
start_load 60 "$WORK/load-spread.json"
sleep 5
end_load "$WORK/load-spread.json" "three replicas"
for n in 1 2 3; do
    after=$(metric_sum "$(ctr questionnaires $n)" 9102)
    got=$((after - before[$n]))
    printf '  replica %s (%s): %s QuestionnaireService requests in 5 s (%s since it started)\n' \
        "$n" "$(ctr questionnaires $n)" "$got" "$after"
    [ "$got" -gt 0 ] || fail "replica $n received no request: the load is not spread"
done
echo "  ok  requests reached all three replicas"

step "stop one replica under load (SIGTERM, drain)"
start_load 60 "$WORK/load-stop.json"
sleep 2
t0=$(date +%s%N)
podman stop -t 10 "$(ctr questionnaires 2)" >/dev/null
stop_ms=$((($(date +%s%N) - t0) / 1000000))
sleep 3 # the load goes on over the two replicas left
end_load "$WORK/load-stop.json" "a replica leaving"
code=$(podman inspect -f '{{.State.ExitCode}}' "$(ctr questionnaires 2)")
logs=$(podman logs "$(ctr questionnaires 2)" 2>&1)
[ "$code" = 0 ] || fail "the stopped replica exited $code"
grep -q '"signal 15: draining' <<<"$logs" || fail "the stopped replica did not drain: $(tail -3 <<<"$logs")"
grep -q '"stopped"' <<<"$logs" || fail "the stopped replica did not log its stop"
echo "  ok  replica 2 drained and exited 0 in $stop_ms ms; no idempotent call failed"
grep -E '"(signal 15|drained|stopped)' <<<"$logs" | sed 's/^/  log: /'

step "logs"
# Every line a service wrote is one JSON object (stdout; nothing else leaks into the log).
for c in $(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}'); do
    case $c in *redis* | *keystore*) continue ;; esac
    bad=$(podman logs "$c" 2>&1 | grep -v "systemd connection" | grep -v '^{"time":' | head -3 || true)
    [ -z "$bad" ] || fail "$c logged lines that are not JSON: $bad"
    printf '  ok  %s: %s log lines, all JSON\n' "$c" "$(podman logs "$c" 2>&1 | grep -c '^{"time":')"
done

keep_logs

step "tear down (down -t 0, volumes removed)"
pc down -t 0 -v >"$WORK/down.log" 2>&1 || { tail -20 "$WORK/down.log"; fail "compose down"; }
left=$(podman ps -aq --filter "label=io.podman.compose.project=$PROJECT"; \
    podman volume ls -q --filter "label=io.podman.compose.project=$PROJECT")
[ -z "$left" ] || fail "left behind: $left"
echo "  ok  no container or volume of the stack is left"
