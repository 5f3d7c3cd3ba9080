/*
 * The admin HTTP port every service serves beside its RPC port (libmicrohttpd):
 *   GET /healthz  200 while the process is alive;
 *   GET /readyz   200 when ready for calls (the readiness callback says), 503 with the reason
 *                 otherwise;
 *   GET /metrics  the metrics registry in Prometheus text format.
 * Handlers run on the admin server's own thread: the readiness callback must be thread-safe
 * (read atomics).
 */
#ifndef BOUSSOLE_ADMIN_H
#define BOUSSOLE_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "boussole/metrics.h"

typedef struct bsl_admin bsl_admin;

/* Ready for calls? On false, writes a short reason (no secrets) into why. Any thread. */
typedef bool (*bsl_ready_fn)(void *arg, char *why, size_t cap);

/* Starts serving on url ("http://127.0.0.1:9101"; port 0 picks a free one, see
 * bsl_admin_port). `metrics` and `arg` must outlive the admin server. */
int bsl_admin_start(bsl_admin **out, const char *url, bsl_metrics *metrics, bsl_ready_fn ready,
                    void *arg, char *errbuf, size_t errlen);

/* The TCP port it listens on. */
int bsl_admin_port(const bsl_admin *a);

/* Stops serving and frees (waits for running handlers). NULL is accepted. */
void bsl_admin_stop(bsl_admin *a);

#endif /* BOUSSOLE_ADMIN_H */
