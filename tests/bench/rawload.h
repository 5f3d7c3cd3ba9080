/*
 * A lean closed-loop load generator on bare nng, the way ../shared/anchors' nng_client loads
 * its servers: one REQ socket, N contexts, each with its own aio whose callback (on nng's
 * threads) checks the reply and sends the next request at once. No libev, no client runtime.
 *
 * The benchmarks use it to measure a server with the same load the anchors' servers get, so
 * that "the runtime's overhead over the bare pattern" compares servers, not load generators.
 * The requests are prepared bytes (an RpcRequest envelope), the same for every call.
 */
#ifndef BSL_BENCH_RAWLOAD_H
#define BSL_BENCH_RAWLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "benchlib.h"

/* Whether a reply (its bytes) is a success. Called on nng's threads. */
typedef bool (*bench_raw_check_fn)(const uint8_t *reply, size_t len);

/* Sends `req` (len bytes) to `url` with `inflight` requests in flight, for warm_s (not
 * measured) then dur_s seconds. Exits the process when the socket cannot be set up. */
bench_result bench_raw(const char *url, const uint8_t *req, size_t len, unsigned inflight,
                       double warm_s, double dur_s, bench_raw_check_fn check);

#endif
