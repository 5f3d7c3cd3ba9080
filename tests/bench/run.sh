#!/usr/bin/env bash
# Runs the benchmarks and prints their figures, with the anchors of ../shared/anchors (gRPC C++
# async echo, bare nng patterns, the nng HTTP pass-through) measured in the same run on the
# same machine, so that ratios compare like with like. Servers run on cpu 0, load on cpu 1.
#   tests/bench/run.sh [bench_name ...]      (default: every bench and the gateway under wrk)
# The anchors run after the benches in every case.
# Environment: BENCH_DUR (seconds per measurement, default 3), ROUNDS (default 1: repeat
# benches + anchors, interleaved), ANCHORS (path to the anchors folder, default
# ../shared/anchors; "none" skips them).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
B=$ROOT/build
OUT=$B/bench
mkdir -p "$OUT"
deploy/local/install-deps.sh bench
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j"$(nproc)" >/dev/null

export BSL_BUILD_DIR=$B BSL_SOURCE_DIR=$ROOT TE_SERVER_CPU=0
export BENCH_DUR=${BENCH_DUR:-3}
{
    echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
    echo "# git $(git rev-parse --short HEAD), BENCH_DUR=$BENCH_DUR"
} | tee "$OUT/results.txt"

benches=("$@")
if [ ${#benches[@]} -eq 0 ]; then
    for b in "$B"/tests/bench/bench_*; do [ -x "$b" ] && benches+=("$(basename "$b")"); done
fi
ANCHORS=${ANCHORS:-$ROOT/../shared/anchors}
if [ "$ANCHORS" != none ] && [ -d "$ANCHORS" ]; then
    rm -rf "$OUT/anchors"
    cp -r "$ANCHORS" "$OUT/anchors"
    chmod -R u+w "$OUT/anchors"
fi
# ROUNDS > 1 interleaves the rounds (benches, then the anchors), so that a figure and its
# anchor are measured close together; take the medians.
for round in $(seq "${ROUNDS:-1}"); do
    [ "${ROUNDS:-1}" -gt 1 ] && echo "# round $round" | tee -a "$OUT/results.txt"
    for b in "${benches[@]}"; do
        echo "== $b" >&2
        taskset -c 1 "$B/tests/bench/$b" | tee -a "$OUT/results.txt"
    done
    if [ -x tests/bench/gateway/run.sh ] && [ $# -eq 0 ]; then
        echo "== gateway (wrk)" >&2
        tests/bench/gateway/run.sh | tee -a "$OUT/results.txt"
    fi
    if [ -d "$OUT/anchors" ]; then
        echo "== anchors ($ANCHORS)" >&2
        # With named benches, only the RPC anchors (the HTTP ones go with the gateway's bench).
        skip="redis ipc"
        [ $# -gt 0 ] && skip="redis ipc http"
        (cd "$OUT/anchors" && DUR=$BENCH_DUR REPS=1 SKIP="$skip" ./run.sh) | tee -a "$OUT/results.txt"
    fi
done
echo "figures in $OUT/results.txt" >&2
