#!/usr/bin/env bash
# Runs Boussole locally: installs what is missing, builds, starts a local redis-server (data in
# build/local/redis) and every service, prints where each listens, and stops them all on Ctrl-C.
#   deploy/local/run.sh
# Environment: BSL_BUILD_DIR (default build), BSL_HTTP_PORT (gateway, default 8080).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BSL_BUILD_DIR:-$ROOT/build}
LOCAL=$BUILD/local
HTTP_PORT=${BSL_HTTP_PORT:-8080}

deploy/local/install-deps.sh build
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBSL_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

mkdir -p "$LOCAL/redis" "$LOCAL/run"
chmod 700 "$LOCAL" "$LOCAL/run"
# Secrets for this machine only, made once: the master key that wraps data keys, and the
# HS256 secret that signs local development tokens. Production mounts its own.
umask 077
[ -s "$LOCAL/master.keys" ] || echo "local1:$(head -c 32 /dev/urandom | base64)" >"$LOCAL/master.keys"
[ -s "$LOCAL/jwt.secret" ] || head -c 32 /dev/urandom | base64 >"$LOCAL/jwt.secret"
umask 022

pids=()
stop() {
    trap - INT TERM EXIT
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "stopped"
}
trap stop INT TERM EXIT

redis-server --port 6390 --bind 127.0.0.1 --dir "$LOCAL/redis" --appendonly yes \
    --appendfsync everysec --save "" --daemonize no >"$LOCAL/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.1; done

export BSL_REDIS_URL=redis://127.0.0.1:6390
export BSL_MASTER_KEYS=@$LOCAL/master.keys
# The internal hop stays on the loopback here; deployments use tls+tcp:// (see README).
export BSL_SESSIONS_URL=tcp://127.0.0.1:7101
export BSL_QUESTIONNAIRES_URL=tcp://127.0.0.1:7102
export BSL_SYNTHESES_URL=tcp://127.0.0.1:7103

start() { # name listen admin [args...]
    local name=$1 listen=$2 admin=$3
    shift 3
    local bin=$BUILD/services/$name/boussole-$name
    [ -x "$bin" ] || return 0
    "$bin" --listen="$listen" --admin="$admin" "$@" >>"$LOCAL/$name.log" 2>&1 &
    pids+=($!)
    printf '  %-15s rpc %-24s admin %s   log %s\n' "$name" "$listen" "$admin" "$LOCAL/$name.log"
}

echo "Boussole is starting (Ctrl-C stops everything):"
echo "  redis           redis://127.0.0.1:6390 (data in $LOCAL/redis)"
start sessions tcp://127.0.0.1:7101 http://127.0.0.1:9101
start questionnaires tcp://127.0.0.1:7102 http://127.0.0.1:9102
start syntheses tcp://127.0.0.1:7103 http://127.0.0.1:9103
if [ -x "$BUILD/services/gateway/boussole-gateway" ]; then
    "$BUILD/services/gateway/boussole-gateway" --http="http://127.0.0.1:$HTTP_PORT" \
        --jwt-secret="@$LOCAL/jwt.secret" >>"$LOCAL/gateway.log" 2>&1 &
    pids+=($!)
    printf '  %-15s http://127.0.0.1:%s (Connect, /healthz /readyz /metrics /openapi.json)\n' \
        gateway "$HTTP_PORT"
    echo
    echo "A development token and a first call:"
    echo "  export BSL_JWT_SECRET=@$LOCAL/jwt.secret"
    echo "  export BSL_TOKEN=\$($BUILD/services/gateway/boussolectl token --sub c-marie --role counselor --org org-1)"
    echo "  $BUILD/services/gateway/boussolectl call SessionService/CreateBilan '{\"beneficiaryId\":\"b-lea\",\"organisationId\":\"org-1\",\"funding\":\"FUNDING_CPF\",\"plannedHours\":24,\"startDate\":\"2026-12-01\",\"endDate\":\"2027-02-26\"}'"
fi
wait -n "${pids[@]}" || true
echo "a process stopped; see the logs in $LOCAL" >&2
