/*
 * What the gateway's request fuzzers share (fuzz_gateway_request: the loop's side without
 * sockets; fuzz_gateway_http: raw bytes over TCP): a real gw_gateway (gateway.c) in the
 * fuzzer's process, a backend that answers every call as the input says (an nng REP socket on
 * inproc://, on a thread of its own), and tokens of each role signed with the gateway's secret.
 * Header-only: each target is one program.
 */
#ifndef GW_FUZZ_H
#define GW_FUZZ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "boussole/err.h"
#include "boussole/service.h"
#include "gateway_internal.h"
#include "jwtauth.h"

static const char SECRET[] = "fuzz-secret-0123456789abcdef0123456789abcdef";
#define BACKEND_URL "inproc://bsl-fuzz-gateway-backend"

static struct ev_loop *loop;
static gw_gateway *gw;
static bsl_logger *logger;
static int log_fd;
static char *tokens[4]; /* @b @c @a @t */
static const char token_tags[4] = { 'b', 'c', 'a', 't' };
static _Atomic unsigned backend_mode;

/* ---- the backend --------------------------------------------------------------------------- */

static __attribute__((unused)) void *backend(void *arg)
{
    nng_socket s = *(nng_socket *)arg;
    for (;;) {
        void *buf;
        size_t n;
        if (nng_recv(s, &buf, &n, NNG_FLAG_ALLOC) != 0) {
            return NULL;
        }
        Boussole__V1__RpcRequest *req = boussole__v1__rpc_request__unpack(NULL, n, buf);
        unsigned mode = atomic_load(&backend_mode);
        Boussole__V1__RpcResponse resp = BOUSSOLE__V1__RPC_RESPONSE__INIT;
        Boussole__V1__RetryInfo ri = BOUSSOLE__V1__RETRY_INFO__INIT;
        Boussole__V1__FieldViolation fv = BOUSSOLE__V1__FIELD_VIOLATION__INIT;
        Boussole__V1__ErrorDetail d1 = BOUSSOLE__V1__ERROR_DETAIL__INIT;
        Boussole__V1__ErrorDetail d2 = BOUSSOLE__V1__ERROR_DETAIL__INIT;
        Boussole__V1__ErrorDetail *details[2];
        resp.request_id = req && req->request_id ? req->request_id : "";
        resp.code = (Boussole__V1__Code)(mode % 17);
        resp.message = resp.code ? "backend says no: \"quoted\" \\ \x01 é" : "";
        if (mode & 0x20) {
            ri.retry_delay_ms = 1500;
            d1.detail_case = BOUSSOLE__V1__ERROR_DETAIL__DETAIL_RETRY_INFO;
            d1.retry_info = &ri;
            details[resp.n_details++] = &d1;
        }
        if (mode & 0x40) {
            fv.field = "steps[0].title\"}";
            fv.description = "too long </script>";
            d2.detail_case = BOUSSOLE__V1__ERROR_DETAIL__DETAIL_FIELD_VIOLATION;
            d2.field_violation = &fv;
            details[resp.n_details++] = &d2;
        }
        resp.details = details;
        if ((mode & 0x80) && req != NULL) {
            resp.payload = req->payload;
        }
        size_t len = boussole__v1__rpc_response__get_packed_size(&resp);
        void *out = nng_alloc(len ? len : 1);
        boussole__v1__rpc_response__pack(&resp, out);
        if (req != NULL) {
            boussole__v1__rpc_request__free_unpacked(req, NULL);
        }
        nng_free(buf, n);
        if (nng_send(s, out, len, NNG_FLAG_ALLOC) != 0) {
            nng_free(out, len);
        }
    }
}

/* ---- set-up -------------------------------------------------------------------------------- */

static char *mint(const char *sub, const char *role, const char *org)
{
    int64_t now = (int64_t)time(NULL);
    gw_jwt_claims c = { .subject = sub,
                        .role = role,
                        .organisation = org,
                        .issuer = "boussole-local",
                        .audience = "boussole",
                        .issued_at = now,
                        .expires = now + 10 * 365 * 86400LL };
    char err[256];
    char *t =
        gw_jwt_mint("HS256", (const uint8_t *)SECRET, sizeof(SECRET) - 1, &c, err, sizeof(err));
    if (t == NULL) {
        abort();
    }
    return t;
}

/* Creates the gateway (its HTTP server started when http_url is not NULL: port 0 picks one)
 * and the backend; log_fd receives the access log. */
static void setup_gateway(const char *http_url, int fd)
{
    if (bsl_init() != BSL_OK) {
        abort();
    }
    static nng_socket s;
    if (nng_rep0_open(&s) != 0 || nng_listen(s, BACKEND_URL, NULL, 0) != 0) {
        abort();
    }
    pthread_t t;
    if (pthread_create(&t, NULL, backend, &s) != 0) {
        abort();
    }
    pthread_detach(t);
    log_fd = fd;
    if (log_fd < 0 || bsl_logger_create(&logger, "gateway", BSL_LOG_INFO, log_fd) != BSL_OK) {
        abort();
    }
    loop = ev_loop_new(EVFLAG_AUTO);
    static gw_config cfg;
    char err[512];
    cfg.http_url = http_url ? http_url : "http://127.0.0.1:0";
    cfg.jwt = (gw_jwt_options){ .alg = "HS256",
                                .key = (const uint8_t *)SECRET,
                                .key_len = sizeof(SECRET) - 1,
                                .issuer = "boussole-local",
                                .audience = "boussole",
                                .leeway_s = 30,
                                .cache_entries = 64 };
    cfg.cors_origins = "https://app.example.org";
    cfg.max_body_bytes = 1 << 16;
    cfg.rate_limit = 1e6; /* present, so that it runs, but never the answer */
    cfg.rate_burst = 1e6;
    /* The refused-token limiter too, with a small burst that refills fast: inputs see both its
     * answers (401 and 429). */
    cfg.auth_failure_rate = 50;
    cfg.auth_failure_burst = 5;
    cfg.max_deadline_ms = 4000;
    cfg.max_in_flight = 64;
    /* A client that stops sending is let go after a second (MHD's unit), so that an input
     * that leaves a request unfinished costs the HTTP fuzzer a second, not the default 30. */
    cfg.idle_timeout_s = 1;
    cfg.log = logger;
    if (gw_routes_add(&cfg.routes, "sessions", "boussole.v1.Session*", BACKEND_URL, err,
                      sizeof(err)) ||
        gw_routes_add(&cfg.routes, "questionnaires", "boussole.v1.Questionnaire*", BACKEND_URL, err,
                      sizeof(err)) ||
        gw_routes_add(&cfg.routes, "syntheses", "boussole.v1.Synthes*", BACKEND_URL, err,
                      sizeof(err)) ||
        gw_gateway_create(&gw, loop, &cfg, err, sizeof(err)) != BSL_OK) {
        fprintf(stderr, "fuzz: %s\n", err);
        abort();
    }
    if (http_url != NULL && gw_gateway_start(gw, err, sizeof(err)) != BSL_OK) {
        fprintf(stderr, "fuzz: %s\n", err);
        abort();
    }
    tokens[0] = mint("b-lea", "beneficiary", "");
    tokens[1] = mint("c-marie", "counselor", "org-lumiere");
    tokens[2] = mint("a-paul", "admin", "org-lumiere");
    tokens[3] = mint("t-apec", "third_party", "");
}

/* The token a placeholder names ("@b", "@c", "@a", "@t"), or NULL. */
static __attribute__((unused)) const char *token_of(char tag)
{
    for (int i = 0; i < 4; i++) {
        if (token_tags[i] == tag) {
            return tokens[i];
        }
    }
    return NULL;
}

#endif /* GW_FUZZ_H */
