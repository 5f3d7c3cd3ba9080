/* The gateway's life: creation from a configuration, the method tables, drain and shutdown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <sodium.h>

#include "boussole/err.h"
#include "gateway_internal.h"
#include "openapi.h"

/* The schema's methods are one contiguous array (schema.h: each service's methods are a
 * contiguous slice of it); a method's position in it indexes the per-method tables below. */
static const bsl_method_info *first_method(size_t *total)
{
    size_t n;
    const bsl_service_info *s = bsl_schema_services(&n);
    *total = 0;
    for (size_t i = 0; i < n; i++) {
        *total += s[i].n_methods;
    }
    return n > 0 ? s[0].methods : NULL;
}

static size_t method_index(const bsl_method_info *m)
{
    size_t total;
    return (size_t)(m - first_method(&total));
}

bool gw__local_service(const bsl_method_info *m)
{
    return strcmp(m->service_name, "boussole.v1.Health") == 0 ||
           strcmp(m->service_name, "boussole.v1.Reflection") == 0;
}

gw_backend *gw__backend_of(const gw_gateway *g, const bsl_method_info *m)
{
    size_t n;
    const bsl_service_info *s = bsl_schema_services(&n);
    for (size_t i = 0; i < n; i++) {
        if (s[i].descriptor == m->service) {
            return g->by_service[i];
        }
    }
    return NULL;
}

int gw__metric_id(const gw_gateway *g, const bsl_method_info *m)
{
    return g->metric_ids[method_index(m)];
}

static bool exposed(const bsl_method_info *m, void *arg)
{
    const gw_gateway *g = arg;
    return !m->internal && (gw__local_service(m) || gw__backend_of(g, m) != NULL);
}

bsl_metrics *gw_gateway_metrics(gw_gateway *g)
{
    return g->metrics;
}

/* The front door's TLS: our certificate chain and key, no client certificates (browsers and
 * apps present none). */
static int front_tls(gw_gateway *g, char *errbuf, size_t errlen)
{
    const char *cert = g->cfg.http_tls_cert, *key = g->cfg.http_tls_key;
    bool https = strncmp(g->cfg.http_url, "https://", 8) == 0;
    bool files = cert && cert[0] && key && key[0];
    if (!https && !files) {
        return BSL_OK;
    }
    if (https != files) {
        snprintf(errbuf, errlen,
                 https ? "an https:// address needs --http-tls-cert and --http-tls-key"
                       : "--http-tls-cert and --http-tls-key need an https:// address");
        return BSL_EINVAL;
    }
    char spec[1100];
    size_t clen = 0, klen = 0;
    snprintf(spec, sizeof(spec), "@%s", cert);
    char *c = (char *)gw_key_load(spec, &clen, errbuf, errlen);
    snprintf(spec, sizeof(spec), "@%s", key);
    char *k = c ? (char *)gw_key_load(spec, &klen, errbuf, errlen) : NULL;
    int rv = BSL_EINVAL;
    if (c != NULL && k != NULL) {
        int nrv = nng_tls_config_alloc(&g->front_tls, NNG_TLS_MODE_SERVER);
        if (nrv == 0) {
            nrv = nng_tls_config_auth_mode(g->front_tls, NNG_TLS_AUTH_MODE_NONE);
        }
        if (nrv == 0) {
            nrv = nng_tls_config_own_cert(g->front_tls, c, k, NULL);
        }
        if (nrv != 0) {
            snprintf(errbuf, errlen, "front door TLS (%s, %s): %s", cert, key, nng_strerror(nrv));
        } else {
            rv = BSL_OK;
        }
    }
    if (k != NULL) {
        sodium_memzero(k, klen); /* the private key does not linger in the heap */
    }
    free(c);
    free(k);
    return rv;
}

int gw_gateway_create(gw_gateway **out, struct ev_loop *loop, const gw_config *cfg, char *errbuf,
                      size_t errlen)
{
    gw_gateway *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return BSL_ENOMEM;
    }
    g->loop = loop;
    g->cfg = *cfg;
    pthread_mutex_init(&g->mtx, NULL);
    ev_timer_init(&g->drain_timer, NULL, 0., 0.);
    bsl_fastid_seed(&g->ids);
    if (g->cfg.max_body_bytes == 0) {
        g->cfg.max_body_bytes = 1 << 20;
    }
    if (g->cfg.body_timeout_ms == 0) {
        g->cfg.body_timeout_ms = 10000;
    }
    if (g->cfg.max_deadline_ms == 0) {
        g->cfg.max_deadline_ms = 60000;
    }
    if (g->cfg.rate_clients == 0) {
        g->cfg.rate_clients = 65536;
    }
    int rv = BSL_ENOMEM;
    snprintf(errbuf, errlen, "out of memory");
    size_t total, n_services;
    const bsl_method_info *methods = first_method(&total);
    const bsl_service_info *services = bsl_schema_services(&n_services);
    if (bsl_evnng_create(&g->bridge, loop) != BSL_OK ||
        bsl_metrics_create(&g->metrics, "gateway", "bsl_gateway") != BSL_OK ||
        (g->metric_ids = calloc(total ? total : 1, sizeof(int))) == NULL ||
        (g->by_service = calloc(n_services ? n_services : 1, sizeof(gw_backend *))) == NULL) {
        goto fail;
    }
    g->auth_failures = bsl_metrics_counter(g->metrics, "bsl_gateway_auth_failures_total",
                                           "Requests refused for missing or invalid credentials.");
    g->rate_limited = bsl_metrics_counter(g->metrics, "bsl_gateway_rate_limited_total",
                                          "Requests refused by the per-client rate limit.");
    g->jwt_checks = bsl_metrics_counter(g->metrics, "bsl_gateway_jwt_signature_checks_total",
                                        "Bearer token signatures verified (cache misses).");
    g->jwt_hits = bsl_metrics_counter(g->metrics, "bsl_gateway_jwt_cache_hits_total",
                                      "Bearer tokens found in the verification cache.");
    g->http_errors = bsl_metrics_counter(g->metrics, "bsl_gateway_http_errors_total",
                                         "Requests refused before naming a method.");
    g->metric_other = bsl_metrics_add_method(g->metrics, "none");
    for (size_t i = 0; i < n_services; i++) {
        g->by_service[i] = gw_routes_lookup(&g->cfg.routes, services[i].name);
    }
    for (size_t i = 0; i < total; i++) {
        g->metric_ids[i] = exposed(&methods[i], g)
                               ? bsl_metrics_add_method(g->metrics, methods[i].full_name)
                               : g->metric_other;
    }
    for (size_t i = 0; i < g->cfg.routes.n_backends; i++) {
        gw_backend *b = &g->cfg.routes.backends[i];
        bsl_client_options co = {
            .target = b->url,
            .name = b->name,
            .tls = &g->cfg.tls,
            .log = g->cfg.log,
        };
        if ((rv = bsl_client_create(&b->client, loop, &co, errbuf, errlen)) != BSL_OK) {
            goto fail;
        }
    }
    if ((rv = gw_jwt_create(&g->jwt, &g->cfg.jwt, errbuf, errlen)) != BSL_OK ||
        (rv = gw_cors_create(&g->cors, g->cfg.cors_origins, errbuf, errlen)) != BSL_OK) {
        goto fail;
    }
    if (g->cfg.rate_limit > 0 &&
        (rv = gw_ratelimit_create(&g->limiter, g->cfg.rate_limit,
                                  g->cfg.rate_burst >= 1 ? g->cfg.rate_burst : 1,
                                  g->cfg.rate_clients)) != BSL_OK) {
        snprintf(errbuf, errlen, "rate limiter: %s", bsl_strerror(rv));
        goto fail;
    }
    if ((g->openapi = gw_openapi_build(exposed, g, &g->openapi_len)) == NULL) {
        rv = BSL_ENOMEM;
        snprintf(errbuf, errlen, "out of memory building the OpenAPI document");
        goto fail;
    }
    if ((rv = front_tls(g, errbuf, errlen)) != BSL_OK) {
        goto fail;
    }
    *out = g;
    return BSL_OK;
fail:
    gw_gateway_free(g);
    return rv;
}

int gw_gateway_start(gw_gateway *g, char *errbuf, size_t errlen)
{
    int rv;
    const char *what = "address";
    if ((rv = nng_url_parse(&g->url, g->cfg.http_url)) != 0 ||
        (what = "server", rv = nng_http_server_hold(&g->server, g->url)) != 0) {
        snprintf(errbuf, errlen, "HTTP %s %s: %s", what, g->cfg.http_url, nng_strerror(rv));
        return BSL_ENNG;
    }
    if (g->front_tls != NULL && (rv = nng_http_server_set_tls(g->server, g->front_tls)) != 0) {
        snprintf(errbuf, errlen, "HTTPS on %s: %s", g->cfg.http_url, nng_strerror(rv));
        return BSL_ENNG;
    }
    /* One handler for every path and method: routing is ours (RPC paths come from the schema),
     * and so is the body, which nng would otherwise read without chunked encoding. */
    nng_http_handler *h;
    if ((rv = nng_http_handler_alloc(&h, "/", gw__on_http)) != 0) {
        snprintf(errbuf, errlen, "HTTP handler: %s", nng_strerror(rv));
        return BSL_ENNG;
    }
    nng_http_handler_set_method(h, NULL);
    nng_http_handler_set_tree(h);
    nng_http_handler_collect_body(h, false, 0);
    nng_http_handler_set_data(h, g, NULL);
    if ((rv = nng_http_server_add_handler(g->server, h)) != 0) {
        nng_http_handler_free(h);
        snprintf(errbuf, errlen, "HTTP handler: %s", nng_strerror(rv));
        return BSL_ENNG;
    }
    g->handler = h;
    if ((rv = nng_http_server_start(g->server)) != 0) {
        snprintf(errbuf, errlen, "HTTP server on %s: %s", g->cfg.http_url, nng_strerror(rv));
        return BSL_ENNG;
    }
    nng_sockaddr sa;
    if (nng_http_server_get_addr(g->server, &sa) == 0) {
        if (sa.s_family == NNG_AF_INET) {
            g->port = ntohs(sa.s_in.sa_port);
        } else if (sa.s_family == NNG_AF_INET6) {
            g->port = ntohs(sa.s_in6.sa_port);
        }
    }
    return BSL_OK;
}

int gw_gateway_port(const gw_gateway *g)
{
    return g->port;
}

static void drain_finish(gw_gateway *g)
{
    if (ev_is_active(&g->drain_timer)) {
        ev_timer_stop(g->loop, &g->drain_timer);
    }
    void (*done)(void *) = g->drain_done;
    g->drain_done = NULL;
    if (done != NULL) {
        done(g->drain_arg);
    }
}

static void on_drain_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    gw_gateway *g = w->data;
    bsl_log(g->cfg.log, BSL_LOG_WARN, NULL, NULL,
            "grace period over with %u requests still running", g->active);
    drain_finish(g);
}

/* After the last answer, nng still has to write it (on its threads, which a loaded machine may
 * not run at once): the server stops only after a quiet second, or the answer would be cut
 * with its connection. nng tells nobody when a response has been written. */
#define DRAIN_QUIET_S 1.0

static void on_quiet(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    gw_gateway *g = w->data;
    if (g->active == 0) {
        drain_finish(g);
    }
}

void gw_gateway_drain(gw_gateway *g, uint32_t grace_ms, void (*done)(void *), void *arg)
{
    g->draining = true;
    g->drain_done = done;
    g->drain_arg = arg;
    ev_timer_init(&g->drain_timer, on_drain_timer, (grace_ms ? grace_ms : 1) / 1e3, 0.);
    g->drain_timer.data = g;
    if (g->active == 0) {
        ev_init(&g->drain_timer, on_quiet); /* nothing running: done after a quiet moment */
        ev_timer_set(&g->drain_timer, DRAIN_QUIET_S, 0.);
    }
    ev_timer_start(g->loop, &g->drain_timer);
}

void gw__request_done(gw_gateway *g)
{
    g->active--;
    if (g->draining && g->active == 0 && g->drain_done != NULL) {
        ev_timer_stop(g->loop, &g->drain_timer);
        ev_timer_init(&g->drain_timer, on_quiet, DRAIN_QUIET_S, 0.);
        g->drain_timer.data = g;
        ev_timer_start(g->loop, &g->drain_timer);
    }
}

void gw_gateway_free(gw_gateway *g)
{
    if (g == NULL) {
        return;
    }
    g->drain_done = NULL;
    if (ev_is_active(&g->drain_timer)) {
        ev_timer_stop(g->loop, &g->drain_timer);
    }
    if (g->server != NULL) {
        /* A hard stop: open connections close, which cancels their handlers' aios. */
        nng_http_server_stop(g->server);
    }
    /* Calls in flight are answered CANCELLED, to requests whose clients are gone. */
    for (size_t i = 0; i < g->cfg.routes.n_backends; i++) {
        bsl_client_free(g->cfg.routes.backends[i].client);
        g->cfg.routes.backends[i].client = NULL;
    }
    /* Body reads were aborted with their connections: wait for their callbacks, then run what
     * they handed to the loop. */
    for (gw_req *r = g->live; r != NULL; r = r->next) {
        if (r->io != NULL) {
            nng_aio_stop(r->io);
        }
    }
    if (g->bridge != NULL) {
        bsl_evnng_drain(g->bridge);
    }
    while (g->live != NULL) {
        gw__req_free(g->live);
    }
    if (g->server != NULL) {
        nng_http_server_release(g->server); /* frees the handler too */
    }
    if (g->url != NULL) {
        nng_url_free(g->url);
    }
    if (g->front_tls != NULL) {
        nng_tls_config_free(g->front_tls);
    }
    bsl_evnng_free(g->bridge);
    gw_jwt_free(g->jwt);
    gw_ratelimit_free(g->limiter);
    gw_cors_free(g->cors);
    free(g->openapi);
    free(g->metric_ids);
    free(g->by_service);
    bsl_metrics_free(g->metrics);
    pthread_mutex_destroy(&g->mtx);
    free(g);
}
