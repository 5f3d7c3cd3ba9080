/*
 * Metrics in Prometheus text format: per-method request counts by status code, a latency
 * histogram per method, requests in flight, and plain counters (Redis errors, reconnects).
 *
 * Registration (bsl_metrics_add_method, bsl_metrics_counter) happens at start-up on the main
 * thread; updates and rendering may then happen from any thread (values are atomics), which is
 * what lets the admin HTTP server, on nng's threads, render while the loop updates.
 */
#ifndef BOUSSOLE_METRICS_H
#define BOUSSOLE_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct bsl_metrics bsl_metrics;
typedef struct bsl_counter bsl_counter;

/* `family` prefixes the per-method metrics: "bsl_rpc" gives bsl_rpc_requests_total,
 * bsl_rpc_request_duration_seconds and bsl_rpc_requests_in_flight. Strings are copied. */
int bsl_metrics_create(bsl_metrics **out, const char *service, const char *family);
void bsl_metrics_free(bsl_metrics *m);

/* Registers a method (idempotent: the same name gives the same id). Returns its id, or -1 when
 * the table is full. */
int bsl_metrics_add_method(bsl_metrics *m, const char *name);

/* Counts one finished request of method `id` with status `code` that took `seconds`. */
void bsl_metrics_observe(bsl_metrics *m, int id, int code, double seconds);

/* Adds delta (+1 or -1) to the in-flight gauge. */
void bsl_metrics_in_flight(bsl_metrics *m, int delta);

/* A named counter (a full metric name, e.g. "bsl_redis_errors_total"). Returns NULL when the
 * table is full. The counter lives as long as the registry. */
bsl_counter *bsl_metrics_counter(bsl_metrics *m, const char *name, const char *help);
void bsl_counter_add(bsl_counter *c, uint64_t n);
uint64_t bsl_counter_get(const bsl_counter *c);

/* Total requests of method `id` with status `code` so far. */
uint64_t bsl_metrics_count(const bsl_metrics *m, int id, int code);

/* The whole registry as Prometheus text. Returns a malloc'd NUL-terminated string the caller
 * frees, or NULL when out of memory. */
char *bsl_metrics_render(const bsl_metrics *m, size_t *len);

#endif /* BOUSSOLE_METRICS_H */
