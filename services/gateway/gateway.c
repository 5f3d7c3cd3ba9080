/* The gateway's life: creation from a configuration, the method tables, drain and shutdown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int gw_gateway_create(gw_gateway **out, struct ev_loop *loop, const gw_config *cfg, char *errbuf,
                      size_t errlen)
{
    gw_gateway *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return BSL_ENOMEM;
    }
    g->loop = loop;
    g->cfg = *cfg;
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
    if (g->cfg.idle_timeout_s == 0) {
        g->cfg.idle_timeout_s = 30;
    }
    if (g->cfg.max_connections == 0) {
        g->cfg.max_connections = 1024;
    }
    if (g->cfg.rate_clients == 0) {
        g->cfg.rate_clients = 65536;
    }
    int rv = BSL_ENOMEM;
    snprintf(errbuf, errlen, "out of memory");
    size_t total, n_services;
    const bsl_method_info *methods = first_method(&total);
    const bsl_service_info *services = bsl_schema_services(&n_services);
    if (bsl_metrics_create(&g->metrics, "gateway", "bsl_gateway") != BSL_OK ||
        (g->metric_ids = calloc(total ? total : 1, sizeof(int))) == NULL ||
        (g->by_service = calloc(n_services ? n_services : 1, sizeof(gw_backend *))) == NULL) {
        goto fail;
    }
    g->auth_failures = bsl_metrics_counter(g->metrics, "bsl_gateway_auth_failures_total",
                                           "Requests refused for missing or invalid credentials.");
    g->rate_limited = bsl_metrics_counter(g->metrics, "bsl_gateway_rate_limited_total",
                                          "Requests refused by the per-client rate limit.");
    g->auth_throttled =
        bsl_metrics_counter(g->metrics, "bsl_gateway_auth_throttled_total",
                            "Requests refused because their address sent too many bad tokens.");
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
    if (g->cfg.auth_failure_rate > 0 &&
        (rv = gw_ratelimit_create(&g->auth_throttle, g->cfg.auth_failure_rate,
                                  g->cfg.auth_failure_burst >= 1 ? g->cfg.auth_failure_burst : 1,
                                  g->cfg.rate_clients)) != BSL_OK) {
        snprintf(errbuf, errlen, "token refusal limiter: %s", bsl_strerror(rv));
        goto fail;
    }
    if ((g->openapi = gw_openapi_build(exposed, g, &g->openapi_len)) == NULL) {
        rv = BSL_ENOMEM;
        snprintf(errbuf, errlen, "out of memory building the OpenAPI document");
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
    return gw__httpd_start(g, errbuf, errlen);
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
    if (!g->grace_over) {
        /* Calls still running are answered unavailable (the client may retry elsewhere, and
         * an idempotency key makes that safe); their backend's answer, should it come, is
         * dropped. Then a second for the answers to be sent. */
        g->grace_over = true;
        unsigned running = g->active;
        bsl_log(g->cfg.log, BSL_LOG_WARN, NULL, NULL,
                "grace period over with %u requests still running: answered unavailable", running);
        const char *extra[] = { "Retry-After", "1", NULL };
        gw_req *next;
        for (gw_req *r = g->live; r != NULL && g->drain_done != NULL; r = next) {
            next = r->next; /* answering may free r */
            if (r->dispatched && !r->answered) {
                gw__respond_error(r, 0, BSL_STATUS_UNAVAILABLE,
                                  "the gateway is stopping; retry the call", NULL, 0, extra);
            }
        }
        if (g->drain_done != NULL) {
            ev_timer_set(&g->drain_timer, 1., 0.);
            ev_timer_start(g->loop, &g->drain_timer);
        }
        return;
    }
    bsl_log(g->cfg.log, BSL_LOG_WARN, NULL, NULL,
            "grace period over with %u answers still being sent", g->answering);
    drain_finish(g);
}

/* Drained: every call answered, and every answer sent (MHD says when it is: the request's
 * completion), so stopping the server cuts nothing short. */
static void drain_check(gw_gateway *g)
{
    if (g->draining && g->drain_done != NULL && g->active == 0 && g->answering == 0) {
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
    ev_timer_start(g->loop, &g->drain_timer);
    drain_check(g);
}

void gw__request_done(gw_gateway *g)
{
    g->active--;
    drain_check(g);
}

void gw__answer_sent(gw_gateway *g)
{
    g->answering--;
    drain_check(g);
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
    /* Calls in flight are answered CANCELLED (their connections resumed with the answer)... */
    for (size_t i = 0; i < g->cfg.routes.n_backends; i++) {
        bsl_client_free(g->cfg.routes.backends[i].client);
        g->cfg.routes.backends[i].client = NULL;
    }
    /* ...then MHD stops, completing (and so freeing) every request it holds. */
    gw__httpd_stop(g);
    while (g->live != NULL) {
        gw__req_free(g->live); /* requests made outside MHD (the fuzzers) */
    }
    gw_jwt_free(g->jwt);
    gw_ratelimit_free(g->limiter);
    gw_ratelimit_free(g->auth_throttle);
    gw_cors_free(g->cors);
    free(g->openapi);
    free(g->metric_ids);
    free(g->by_service);
    bsl_metrics_free(g->metrics);
    free(g);
}
