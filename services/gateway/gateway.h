/*
 * The HTTP gateway: one front door for front ends, speaking the Connect protocol (JSON and
 * binary protobuf) over HTTP/1.1, in front of the Boussole services reached through the RPC
 * client runtime.
 *
 * Threads: one. The HTTP server (libmicrohttpd) is driven from the gateway's libev loop, so
 * parsing, routing, authentication, rate limiting, transcoding, metrics, logs and the answer
 * all happen on the loop's thread; the only hand-over left is the backend call's own (the
 * client runtime's nng sockets, whose answers come back to the loop).
 *
 * Every function here is called on the loop thread.
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "boussole/clock.h"
#include "boussole/log.h"
#include "boussole/metrics.h"
#include "boussole/tls.h"
#include "jwtauth.h"
#include "routes.h"

typedef struct gw_gateway gw_gateway;

typedef struct gw_config {
    const char *http_url;      /* "http://127.0.0.1:8080"; https:// needs the two files below */
    const char *http_tls_cert; /* PEM certificate chain of the front door */
    const char *http_tls_key;  /* its PEM private key */
    gw_routes routes;          /* service patterns -> backends */
    bsl_tls_options tls;       /* the internal hop (tls+tcp:// backends) */
    gw_jwt_options jwt;        /* bearer token verification */
    const char *cors_origins;  /* comma-separated origins, "*" or "" */
    size_t max_body_bytes;     /* larger request bodies get resource_exhausted */
    uint32_t body_timeout_ms;  /* a body not in by then: the connection is closed */
    unsigned idle_timeout_s;   /* a connection silent this long is closed (0: default, 30) */
    unsigned max_connections;  /* open connections at once (0: default, 1024) */
    double rate_limit;         /* requests per second per client; 0: no limit */
    double rate_burst;
    /* Refused bearer tokens per second per client address (0: no limit), and the burst: past
     * it, an address's requests with tokens not already verified get 429 without a signature
     * check, so that guessing and floods of bad tokens cost little and go slowly. */
    double auth_failure_rate;
    double auth_failure_burst;
    size_t rate_clients;      /* clients remembered by the limiter */
    uint32_t max_deadline_ms; /* longer Connect-Timeout-Ms are cut to this */
    unsigned max_in_flight;   /* more concurrent calls are answered unavailable */
    bool trust_forwarded_for; /* behind a proxy: the client is X-Forwarded-For's last hop */
    bsl_clock *clock;         /* token expiry; NULL: real time */
    const bsl_logger *log;
} gw_config;

/* Creates the gateway: one RPC client per backend, the verifier, the limiter, the OpenAPI
 * document. The config is copied (the objects it points to must outlive the gateway). */
int gw_gateway_create(gw_gateway **out, struct ev_loop *loop, const gw_config *cfg, char *errbuf,
                      size_t errlen);

/* Starts serving HTTP. */
int gw_gateway_start(gw_gateway *g, char *errbuf, size_t errlen);

/* The TCP port the front door listens on (useful with port 0). */
int gw_gateway_port(const gw_gateway *g);

/*
 * Stops taking calls: /readyz answers 503 and new calls get unavailable (with Connection:
 * close), calls in flight finish and their answers are sent; then `done` runs on the loop. At
 * the end of grace_ms the calls still running are answered unavailable (their backend's
 * answer, if it comes, is dropped), and `done` runs once those answers are sent, or a second
 * later at the latest.
 */
void gw_gateway_drain(gw_gateway *g, uint32_t grace_ms, void (*done)(void *), void *arg);

/* Stops the HTTP server and frees everything. Calls still pending are answered CANCELLED to
 * clients whose connections then close. */
void gw_gateway_free(gw_gateway *g);

bsl_metrics *gw_gateway_metrics(gw_gateway *g);

#endif /* GW_GATEWAY_H */
