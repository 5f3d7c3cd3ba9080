#!/usr/bin/env bash
# Runs every test: installs what is missing, builds twice (a normal build and one with
# AddressSanitizer + UndefinedBehaviorSanitizer), and runs the unit and integration tests of
# both (each integration test starts its own redis-server and service processes on free
# ports), then the stages below when present: the Node.js client test, short fuzz runs, the
# reliability suites, the Kubernetes manifest checks, and the container stage.
#   tests/run.sh
# Environment:
#   BSL_TEST_JOBS=2          parallel ctest jobs
#   BSL_SKIP_CONTAINERS=1    skip the container stage (announced loudly, never silent)
#   BSL_LONG=1               long versions of the fuzz, fault and soak runs
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=${BSL_TEST_JOBS:-2}
start=$(date +%s)
step() { printf '\n== %s (%ds)\n' "$*" $(($(date +%s) - start)); }

step "dependencies"
deploy/local/install-deps.sh test

step "build (release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"

step "tests (release)"
ctest --test-dir build --output-on-failure -j"$JOBS"

step "build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBSL_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)"

step "tests (sanitizers)"
# Sanitizer reports of the service processes go to their logs; a report fails the run.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
rm -rf build-asan/testrun
ctest --test-dir build-asan --output-on-failure -j"$JOBS"
if grep -l -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" build-asan/testrun/*/*.log \
    2>/dev/null; then
    echo "sanitizer reports in the service logs above" >&2
    exit 1
fi

# Further stages: each is a script that exits non-zero on failure.
for stage in tests/fuzz/run.sh tests/reliability/run.sh tests/k8s/validate.sh; do
    if [ -x "$stage" ]; then
        step "$stage"
        "$stage"
    fi
done
if [ -x tests/container/run.sh ]; then
    if [ "${BSL_SKIP_CONTAINERS:-0}" = 1 ]; then
        printf '\n!!! container stage SKIPPED (BSL_SKIP_CONTAINERS=1): images, compose and scaling not tested\n\n'
    else
        step "tests/container/run.sh"
        tests/container/run.sh
    fi
fi

step "done"
