/*
 * Closed-loop load for the benchmarks under tests/bench/: keeps N calls in flight on one libev
 * loop for a while and reports requests/s and latency percentiles, in the same line format as
 * ../shared/anchors (RESULT label= rps= p50_us= p99_us= ...) so the two sit side by side.
 * Benchmarks print figures; they never assert on time.
 */
#ifndef BSL_BENCHLIB_H
#define BSL_BENCHLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "boussole/client.h"

typedef struct bench_result {
    double rps;
    double p50_us, p99_us, max_us;
    uint64_t n;
    uint64_t errors;
} bench_result;

typedef struct bench_slot bench_slot;

/* Starts one call for `slot` (on the loop); when it completes, call bench_complete(slot, ok).
 * `seq` numbers the calls, for requests that must differ. */
typedef void (*bench_issue_fn)(bench_slot *slot, uint64_t seq, void *arg);

void bench_complete(bench_slot *slot, bool ok);

/* Runs `inflight` closed loops for warm_s (not measured) then dur_s seconds. */
bench_result bench_run(struct ev_loop *loop, unsigned inflight, double warm_s, double dur_s,
                       bench_issue_fn issue, void *arg);

/* The common case: one method through the client runtime, the same request every time. */
bench_result bench_rpc(bsl_client *c, struct ev_loop *loop, const char *method,
                       const ProtobufCMessage *req, const bsl_call_opts *opts, unsigned inflight,
                       double warm_s, double dur_s);

/* Prints "RESULT label=... N=... rps=... p50_us=... p99_us=... max_us=... n=... errors=...". */
void bench_print(const char *label, unsigned inflight, const bench_result *r);

/* Seconds from the environment (BENCH_DUR, BENCH_WARM) or the defaults. */
double bench_env_seconds(const char *name, double def);

#endif
