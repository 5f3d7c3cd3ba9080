#!/usr/bin/env bash
# Runs the benchmarks and prints their figures, with the anchors of ../shared/anchors (gRPC C++
# async echo, bare nng patterns, the nng HTTP pass-through) measured in the same run on the
# same machine, so that ratios compare like with like. Servers run on cpu 0, load on cpu 1.
#   tests/bench/run.sh [bench_name ...]      (default: every bench, then the anchors)
# Environment: BENCH_DUR (seconds per measurement, default 3), ANCHORS (path to the anchors
# folder, default ../shared/anchors; "none" skips them).
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
for b in "${benches[@]}"; do
    echo "== $b" >&2
    taskset -c 1 "$B/tests/bench/$b" | tee -a "$OUT/results.txt"
done
if [ -x tests/bench/gateway/run.sh ] && [ $# -eq 0 ]; then
    echo "== gateway (wrk)" >&2
    tests/bench/gateway/run.sh | tee -a "$OUT/results.txt"
fi

ANCHORS=${ANCHORS:-$ROOT/../shared/anchors}
if [ "$ANCHORS" != none ] && [ -d "$ANCHORS" ] && [ $# -eq 0 ]; then
    echo "== anchors ($ANCHORS)" >&2
    rm -rf "$OUT/anchors"
    cp -r "$ANCHORS" "$OUT/anchors"
    chmod -R u+w "$OUT/anchors"
    (cd "$OUT/anchors" && DUR=$BENCH_DUR REPS=1 SKIP="redis ipc" ./run.sh) | tee -a "$OUT/results.txt"
fi
echo "figures in $OUT/results.txt" >&2
