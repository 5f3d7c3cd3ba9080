#!/usr/bin/env bash
# Runs every test: installs what is missing, builds twice (a normal build and one with
# AddressSanitizer + UndefinedBehaviorSanitizer), and runs the unit and integration tests of
# both. Each integration test starts its own redis-server and service processes on free ports.
#   tests/run.sh
# Environment: BSL_TEST_JOBS (parallel ctest jobs, default 2).
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

step "done"
