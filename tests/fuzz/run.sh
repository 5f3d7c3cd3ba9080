#!/usr/bin/env bash
# Short fuzz runs of every libFuzzer target (clang, AddressSanitizer + UndefinedBehaviorSanitizer):
# first the inputs of tests/fuzz/regressions/<target>/ (every crash found is kept there), then
# BSL_FUZZ_SECONDS of fuzzing from the seed corpora (default 20 s per target; BSL_LONG=1: 600 s).
# Prints, and writes to build-fuzz/fuzz-summary.txt, the executions each target ran.
# A crash fails the run and leaves the input in build-fuzz/crashes/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
B=$ROOT/build-fuzz
SECS=${BSL_FUZZ_SECONDS:-20}
[ "${BSL_LONG:-0}" = 1 ] && SECS=${BSL_FUZZ_SECONDS:-600}

CC=clang cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBSL_FUZZ=ON >/dev/null
cmake --build "$B" --target fuzzers -j"$(nproc)" >/dev/null
rm -rf "$B/corpus" "$B/crashes"
"$B/tests/fuzz/bsl_fuzz_seeds" "$B/corpus" >/dev/null

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
summary=$B/fuzz-summary.txt
printf '%-28s %12s %10s %s\n' target executions seconds result >"$summary"
status=0
for bin in $(find "$B/tests/fuzz" -maxdepth 2 -type f -name 'fuzz_*' -perm -u+x | sort); do
    t=$(basename "$bin")
    corpus=$B/corpus/$t
    mkdir -p "$corpus" "$B/crashes/$t"
    # Seeds committed next to the target (tests/fuzz/seeds/<target>/) join the generated ones.
    if [ -d "tests/fuzz/seeds/$t" ]; then cp tests/fuzz/seeds/$t/* "$corpus"/ 2>/dev/null || true; fi
    reg=tests/fuzz/regressions/$t
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
        if ! "$bin" "$reg"/* >"$B/crashes/$t/regressions.log" 2>&1; then
            echo "$t: a regression input fails again (see $B/crashes/$t/regressions.log)" >&2
            status=1
        fi
    fi
    log=$B/crashes/$t/fuzz.log
    if "$bin" "$corpus" -max_total_time="$SECS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$B/crashes/$t/" >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        status=1
    fi
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
    printf '%-28s %12s %10s %s\n' "$t" "${runs:-?}" "$SECS" "$result" >>"$summary"
done
cat "$summary"
if [ $status -ne 0 ]; then
    echo "fuzzing found a crash: inputs in $B/crashes/ (copy them to tests/fuzz/regressions/<target>/)" >&2
fi
exit $status
