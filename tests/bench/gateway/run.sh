#!/usr/bin/env bash
# The gateway under wrk: GetBilan in JSON through boussole-gateway (bearer token checked, JSON
# transcoded both ways, the sessions service reading Redis), keep-alive, 16 and 64 connections,
# next to the nng HTTP -> nng REQ pass-through of ../shared/anchors measured in the same run.
#
#   tests/bench/gateway/run.sh
#
# Environment: BSL_BUILD_DIR (default build/), BENCH_DUR (seconds per run, default 5), REPS
# (runs per figure, the median is printed, default 3), CONNS (default "16 64"), SCPU/CCPU
# (servers pinned to cpu 0, wrk to cpu 1, as the anchors do), FRONT_CPU (the CPU of the HTTP
# front process, boussole-gateway or the anchor's nng_http_server; default SCPU: set it apart
# to measure the front door on its own core, its backend on SCPU), ANCHORS (default
# ../shared/anchors; "none" skips the baseline), GW_LOG_LEVEL (default info: one log line per
# request, as in production).
# Prints RESULT lines: bench= conns= rps= p50_us= p99_us= non200= server_cpu_us_per_req=
# cpu_us_per_req_by_process= (the same CPU time split by process: where the time goes)
# kernel_us_per_req_by_process= (the part of it spent in the kernel: system calls, and on
# loopback the receiving side's TCP work too, which runs in the sender's system call)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
HERE=$ROOT/tests/bench/gateway
B=${BSL_BUILD_DIR:-$ROOT/build}
DUR=${BENCH_DUR:-5}
DUR=${DUR%.*}
[ "$DUR" -ge 1 ] 2>/dev/null || DUR=1
REPS=${REPS:-3}
CONNS=${CONNS:-"16 64"}
SCPU=${SCPU:-0}
CCPU=${CCPU:-1}
FRONT_CPU=${FRONT_CPU:-$SCPU}
ANCHORS=${ANCHORS:-$ROOT/../shared/anchors}
LOG_LEVEL=${GW_LOG_LEVEL:-info}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
for bin in services/sessions/boussole-sessions services/gateway/boussole-gateway \
           services/gateway/boussolectl; do
    [ -x "$B/$bin" ] || { echo "$B/$bin is missing: build first" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/bench-gateway.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Below the kernel's ephemeral range (ip_local_port_range, 32768-60999 by default): a port
# there may be held by an outgoing connection, which a connect() test does not see but bind() does.
free_port() {
    local p
    while :; do
        p=$(( (RANDOM << 15 | RANDOM) % 12000 + 20000 ))
        if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return; fi
    done
}
# exec: the background job is the server itself, so that its PID is the one killed at the end.
on_server_cpu() { exec taskset -c "$SCPU" "$@" </dev/null; }
on_front_cpu() { exec taskset -c "$FRONT_CPU" "$@" </dev/null; }

# ---- the stack: redis, sessions, gateway --------------------------------------------------
REDIS=$(free_port); RPC=$(free_port); ADMIN=$(free_port); HTTP=$(free_port)
on_server_cpu redis-server --port "$REDIS" --bind 127.0.0.1 --save "" --appendonly no \
    --logfile "$WORK/redis.log" >/dev/null 2>&1 & PIDS+=($!)
GW_PIDS="$!"
for _ in $(seq 100); do redis-cli -p "$REDIS" ping >/dev/null 2>&1 && break; sleep 0.05; done
export BSL_MASTER_KEYS="bench1:$(head -c 32 /dev/urandom | base64)"
export BSL_JWT_SECRET; BSL_JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
on_server_cpu "$B/services/sessions/boussole-sessions" --listen "tcp://127.0.0.1:$RPC" \
    --admin "http://127.0.0.1:$ADMIN" --redis-url "redis://127.0.0.1:$REDIS" \
    --log-level "$LOG_LEVEL" > "$WORK/sessions.log" 2>&1 & PIDS+=($!)
GW_PIDS="$GW_PIDS $!"
on_front_cpu "$B/services/gateway/boussole-gateway" --http "http://127.0.0.1:$HTTP" \
    --sessions-url "tcp://127.0.0.1:$RPC" --questionnaires-url "" --syntheses-url "" \
    --rate-limit 0 --log-level "$LOG_LEVEL" > "$WORK/gateway.log" 2>&1 & PIDS+=($!)
GW_PIDS="$GW_PIDS $!"
CTL="$B/services/gateway/boussolectl --url http://127.0.0.1:$HTTP"
for _ in $(seq 200); do $CTL health >/dev/null 2>&1 && break; sleep 0.05; done
$CTL health >/dev/null || { echo "the stack did not start (see $WORK)" >&2; exit 1; }

export TOKEN; TOKEN=$($CTL token --sub c-bench --role counselor --org org-bench --ttl-s 86400)
export BILAN_ID; BILAN_ID=$($CTL --token "$TOKEN" call SessionService/CreateBilan \
    '{"beneficiaryId":"b-bench","organisationId":"org-bench","funding":"FUNDING_CPF",
      "plannedHours":24,"startDate":"2026-12-01","endDate":"2027-02-28"}' |
    sed -n 's/^  "id": "\([0-9a-z]*\)",$/\1/p')
[ -n "$BILAN_ID" ] || { echo "cannot create the bilan" >&2; exit 1; }

# ---- the baseline: the anchors' nng HTTP -> nng REQ pass-through ------------------------------
ANCHOR_URL=
if [ "$ANCHORS" != none ] && [ -d "$ANCHORS" ]; then
    cp -r "$ANCHORS" "$WORK/anchors" && chmod -R u+w "$WORK/anchors"
    if make -C "$WORK/anchors" build/nng_server build/nng_http_server >"$WORK/anchors.log" 2>&1
    then
        BP=$(free_port); AP=$(free_port)
        on_server_cpu "$WORK/anchors/build/nng_server" -u "tcp://127.0.0.1:$BP" -m raw \
            >>"$WORK/anchors.log" 2>&1 & PIDS+=($!)
        AN_PIDS="$!"
        sleep 0.3
        on_front_cpu "$WORK/anchors/build/nng_http_server" -p "$AP" -m gw \
            -b "tcp://127.0.0.1:$BP" >>"$WORK/anchors.log" 2>&1 & PIDS+=($!)
        AN_PIDS="$AN_PIDS $!"
        for _ in $(seq 100); do
            (exec 3<>/dev/tcp/127.0.0.1/$AP) 2>/dev/null && break; sleep 0.05
        done
        ANCHOR_URL="http://127.0.0.1:$AP/echo"
    else
        echo "# anchors did not build (see below); baseline skipped" >&2
        tail -5 "$WORK/anchors.log" >&2
    fi
fi

# ---- measurements --------------------------------------------------------------------------
to_us() { # "661.00us" "2.06ms" "1.20s" -> microseconds
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /ms$/) n *= 1000; else if (v ~ /[0-9]s$/) n *= 1e6;
                           printf "%.0f", n }'
}
HZ=$(getconf CLK_TCK)
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo "$t"; }
sticks() { awk '{ print $15 }' "/proc/$1/stat"; } # the kernel's part (system time) of one process
# One wrk run: "rps p50 p99 non200 cpu_us", cpu_us being the servers' CPU time (every thread of
# the processes in $PIDS_NOW, user + system) per request: on a shared machine it varies less
# than the throughput does.
one_run() { # label conns url [lua]
    local out t0 t1 p
    local -A p0=() s0=()
    t0=$(ticks $PIDS_NOW)
    for p in $PIDS_NOW; do p0[$p]=$(ticks "$p"); s0[$p]=$(sticks "$p"); done
    if [ -n "${4:-}" ]; then
        out=$(taskset -c "$CCPU" wrk -t1 -c"$2" -d"${DUR}s" --latency -s "$4" "$3")
    else
        out=$(taskset -c "$CCPU" wrk -t1 -c"$2" -d"${DUR}s" --latency "$3")
    fi
    t1=$(ticks $PIDS_NOW)
    local split="" ksplit=""
    for p in $PIDS_NOW; do
        split="$split$(cat "/proc/$p/comm"):$(( $(ticks "$p") - p0[$p] )),"
        ksplit="$ksplit$(cat "/proc/$p/comm"):$(( $(sticks "$p") - s0[$p] )),"
    done
    local rps p50 p99 bad n
    rps=$(echo "$out" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
    p50=$(to_us "$(echo "$out" | awk '$1 == "50%" { print $2 }')")
    p99=$(to_us "$(echo "$out" | awk '$1 == "99%" { print $2 }')")
    bad=$(echo "$out" | sed -n 's/^non200=//p')
    if [ -z "$bad" ]; then
        bad=$(echo "$out" | awk '/Non-2xx/ { print $NF }'); bad=${bad:-0}
    fi
    n=$(echo "$out" | awk '/requests in/ { print $1 }')
    per_req() { # "comm:ticks,..." -> "comm=us,..."
        echo "${1%,}" | awk -v n="$n" -v hz="$HZ" 'BEGIN { RS = ","; FS = ":" }
            { printf "%s%s=%.0f", (NR > 1 ? "," : ""), $1, $2 * 1e6 / hz / (n > 0 ? n : 1) }'
    }
    echo "$rps $p50 $p99 $bad $(( (t1 - t0) * 1000000 / HZ / (n > 0 ? n : 1) ))" \
        "$(per_req "$split") $(per_req "$ksplit")"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "# gateway bench: GetBilan JSON via boussole-gateway (JWT, transcoding, sessions + Redis);"
echo "# baseline: anchors nng HTTP -> nng REQ pass-through; HTTP front cpu $FRONT_CPU, its"
echo "# backends cpu $SCPU, wrk cpu $CCPU,"
echo "# ${DUR}s x $REPS runs per figure (median), log level $LOG_LEVEL"
for c in $CONNS; do
    : > "$WORK/gw.$c"; : > "$WORK/an.$c"
    for _ in $(seq "$REPS"); do
        # Interleaved, so that a noisy neighbour hits both.
        PIDS_NOW=$GW_PIDS one_run gateway "$c" "http://127.0.0.1:$HTTP" "$HERE/getbilan.lua" \
            >> "$WORK/gw.$c"
        if [ -n "$ANCHOR_URL" ]; then
            PIDS_NOW=$AN_PIDS one_run anchor "$c" "$ANCHOR_URL" >> "$WORK/an.$c"
        fi
    done
    for sys in gw an; do
        [ -s "$WORK/$sys.$c" ] || continue
        name=$([ $sys = gw ] && echo gateway_getbilan_json || echo anchor_nng_http_passthrough)
        rps=$(cut -d' ' -f1 "$WORK/$sys.$c" | median)
        p50=$(cut -d' ' -f2 "$WORK/$sys.$c" | median)
        p99=$(cut -d' ' -f3 "$WORK/$sys.$c" | median)
        bad=$(awk '{ s += $4 } END { print s + 0 }' "$WORK/$sys.$c")
        cpu=$(cut -d' ' -f5 "$WORK/$sys.$c" | median)
        # The per-process split of the run whose total is the median.
        split=$(awk -v m="$cpu" '$5 == m { print $6; exit }' "$WORK/$sys.$c")
        ksplit=$(awk -v m="$cpu" '$5 == m { print $7; exit }' "$WORK/$sys.$c")
        echo "RESULT bench=$name conns=$c rps=$rps p50_us=$p50 p99_us=$p99 non200=$bad" \
             "server_cpu_us_per_req=$cpu cpu_us_per_req_by_process=$split" \
             "kernel_us_per_req_by_process=$ksplit"
    done
    if [ -s "$WORK/an.$c" ]; then
        g=$(cut -d' ' -f1 "$WORK/gw.$c" | median); a=$(cut -d' ' -f1 "$WORK/an.$c" | median)
        awk -v g="$g" -v a="$a" -v c="$c" \
            'BEGIN { printf "RESULT bench=gateway_vs_passthrough conns=%s ratio=%.2f\n", c, g / a }'
    fi
done
