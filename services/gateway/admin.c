/*
 * What the gateway answers itself: probes (/healthz, /readyz), /metrics, /openapi.json, CORS
 * preflights, and the Health and Reflection services for the whole backend.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "gateway_internal.h"

#define PROBE_DEADLINE_MS 1000

static const char TEXT[] = "text/plain; charset=utf-8";

void gw__healthz(gw_req *r)
{
    gw__respond_static(r, 200, TEXT, "ok\n", 3, NULL);
}

void gw__metrics(gw_req *r)
{
    size_t len = 0;
    char *text = bsl_metrics_render(r->g->metrics, &len);
    if (text == NULL) {
        gw__respond_static(r, 500, TEXT, "out of memory\n", 14, NULL);
        return;
    }
    gw__respond_owned(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, NULL);
}

void gw__openapi(gw_req *r)
{
    gw__respond_static(r, 200, "application/json", r->g->openapi, r->g->openapi_len, NULL);
}

void gw__preflight(gw_req *r)
{
    gw_gateway *g = r->g;
    if (r->h.origin == NULL || r->h.acr_method == NULL) {
        /* A plain OPTIONS, not a browser's preflight. */
        static const char *const allow[] = { "Allow", "GET, POST, OPTIONS", NULL };
        r->cors = false;
        gw__respond(r, 204, NULL, NULL, 0, allow);
        return;
    }
    if (!gw_cors_allowed(g->cors, r->h.origin) || !gw_cors_method_ok(r->h.acr_method) ||
        !gw_cors_headers_ok(r->h.acr_headers)) {
        r->cors = false;
        static const char refused[] = "CORS preflight refused: origin, method or headers not "
                                      "allowed\n";
        gw__respond_static(r, 403, TEXT, refused, sizeof(refused) - 1, NULL);
        return;
    }
    r->cors = true;
    static const char *const ok[] = { "Access-Control-Allow-Methods",
                                      GW_CORS_ALLOW_METHODS,
                                      "Access-Control-Allow-Headers",
                                      GW_CORS_ALLOW_HEADERS,
                                      "Access-Control-Max-Age",
                                      GW_CORS_MAX_AGE,
                                      NULL };
    gw__respond(r, 204, NULL, NULL, 0, ok);
}

/* ---- asking the backends ---------------------------------------------------------------- */

typedef void (*fanout_done)(gw_req *r);

typedef struct probe {
    gw_req *r;
    const gw_backend *b;
    fanout_done done;
} probe;

static void append_why(gw_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append_why(gw_req *r, const char *fmt, ...)
{
    size_t n = strlen(r->fanout_why);
    if (n > 0 && n + 2 < sizeof(r->fanout_why)) {
        memcpy(r->fanout_why + n, "; ", 3);
        n += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->fanout_why + n, sizeof(r->fanout_why) - n, fmt, ap);
    va_end(ap);
}

static void on_probe(const bsl_reply *rep, void *arg)
{
    probe *p = arg;
    gw_req *r = p->r;
    const Boussole__V1__HealthCheckResponse *h =
        (const Boussole__V1__HealthCheckResponse *)rep->msg;
    if (rep->code != BSL_STATUS_OK) {
        r->fanout_ok = false;
        append_why(r, "%s: %s (%s)", p->b->name, bsl_status_name(rep->code), rep->message);
    } else if (h == NULL || h->status != BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_SERVING) {
        r->fanout_ok = false;
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &boussole__v1__serving_status__descriptor, h ? (int)h->status : 0);
        append_why(r, "%s: %s", p->b->name, v ? v->name : "unknown status");
    }
    if (--r->pending == 0) {
        p->done(r);
    }
}

/* Asks Health/Check(service) of the given backends; `done` runs once every answer is in (the
 * request, its connection suspended, waits until then). */
static void fanout(gw_req *r, const gw_backend *const *backends, size_t n, const char *service,
                   fanout_done done)
{
    gw_gateway *g = r->g;
    r->fanout_ok = true;
    r->fanout_why[0] = '\0';
    r->pending = 1; /* held until every call has been started */
    Boussole__V1__HealthCheckRequest q = BOUSSOLE__V1__HEALTH_CHECK_REQUEST__INIT;
    q.service = (char *)service;
    for (size_t i = 0; i < n; i++) {
        probe *p = bsl_arena_alloc(r->arena, sizeof(*p));
        if (p == NULL) {
            r->fanout_ok = false;
            append_why(r, "out of memory");
            break;
        }
        *p = (probe){ .r = r, .b = backends[i], .done = done };
        bsl_call_opts o = { .deadline_ms = PROBE_DEADLINE_MS,
                            .request_id = r->request_id,
                            .trace_id = r->trace_id };
        r->pending++;
        int rv = bsl_client_call(backends[i]->client, "boussole.v1.Health/Check", &q.base, &o,
                                 on_probe, p);
        if (rv != BSL_OK) {
            r->pending--;
            r->fanout_ok = false;
            append_why(r, "%s: %s", backends[i]->name, bsl_strerror(rv));
        }
    }
    (void)g;
    if (--r->pending == 0) {
        done(r);
    }
}

static size_t all_backends(const gw_gateway *g, const gw_backend **out)
{
    size_t n = g->cfg.routes.n_backends;
    for (size_t i = 0; i < n; i++) {
        out[i] = &g->cfg.routes.backends[i];
    }
    return n;
}

static void readyz_done(gw_req *r)
{
    if (r->fanout_ok) {
        gw__respond_static(r, 200, TEXT, "ready\n", 6, NULL);
        return;
    }
    char *body = bsl_arena_printf(r->arena, "not ready: %s\n", r->fanout_why);
    gw__respond(r, 503, TEXT, body ? body : "not ready\n", body ? strlen(body) : 10, NULL);
}

void gw__readyz(gw_req *r)
{
    gw_gateway *g = r->g;
    if (g->draining) {
        gw__respond_static(r, 503, TEXT, "not ready: draining\n", 20, NULL);
        return;
    }
    const gw_backend *b[GW_MAX_BACKENDS];
    size_t n = all_backends(g, b);
    fanout(r, b, n, "", readyz_done);
}

/* ---- Health and Reflection for the whole backend ------------------------------------------ */

static void health_answer(gw_req *r, Boussole__V1__ServingStatus st)
{
    Boussole__V1__HealthCheckResponse out = BOUSSOLE__V1__HEALTH_CHECK_RESPONSE__INIT;
    out.status = st;
    gw__rpc_reply(r, &out.base);
}

static void health_done(gw_req *r)
{
    health_answer(r, r->fanout_ok && !r->g->draining
                         ? BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_SERVING
                         : BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_NOT_SERVING);
}

static void health_check(gw_req *r, const Boussole__V1__HealthCheckRequest *in)
{
    gw_gateway *g = r->g;
    const char *svc = in->service ? in->service : "";
    if (svc[0] == '\0') {
        const gw_backend *b[GW_MAX_BACKENDS];
        size_t n = all_backends(g, b);
        fanout(r, b, n, "", health_done);
        return;
    }
    const bsl_service_info *si = bsl_schema_service(svc);
    if (si != NULL && si->n_methods > 0 && gw__local_service(&si->methods[0])) {
        health_answer(r, g->draining ? BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_NOT_SERVING
                                     : BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_SERVING);
        return;
    }
    const gw_backend *b =
        si != NULL && si->n_methods > 0 ? gw__backend_of(g, &si->methods[0]) : NULL;
    if (b == NULL) {
        health_answer(r, BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_SERVICE_UNKNOWN);
        return;
    }
    fanout(r, &b, 1, svc, health_done);
}

/* Every exposed service and method: routed or answered here, never internal. */
static void list_services(gw_req *r)
{
    gw_gateway *g = r->g;
    size_t n_all;
    const bsl_service_info *all = bsl_schema_services(&n_all);
    Boussole__V1__ListServicesResponse out = BOUSSOLE__V1__LIST_SERVICES_RESPONSE__INIT;
    out.services = bsl_arena_calloc(r->arena, n_all ? n_all : 1, sizeof(*out.services));
    if (out.services == NULL) {
        gw__respond_error(r, 0, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL, 0, NULL);
        return;
    }
    for (size_t i = 0; i < n_all; i++) {
        const bsl_service_info *s = &all[i];
        if (s->n_methods == 0 ||
            (!gw__local_service(&s->methods[0]) && gw__backend_of(g, &s->methods[0]) == NULL)) {
            continue;
        }
        Boussole__V1__ServiceInfo *si = bsl_arena_alloc(r->arena, sizeof(*si));
        Boussole__V1__MethodInfo **ms = bsl_arena_calloc(r->arena, s->n_methods, sizeof(*ms));
        if (si == NULL || ms == NULL) {
            gw__respond_error(r, 0, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL, 0, NULL);
            return;
        }
        boussole__v1__service_info__init(si);
        si->name = (char *)s->name;
        si->methods = ms;
        for (size_t k = 0; k < s->n_methods; k++) {
            const bsl_method_info *m = &s->methods[k];
            if (m->internal) {
                continue;
            }
            const ProtobufCMethodDescriptor *md = &m->service->methods[m->index];
            Boussole__V1__MethodInfo *mi = bsl_arena_alloc(r->arena, sizeof(*mi));
            if (mi == NULL) {
                gw__respond_error(r, 0, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL, 0,
                                  NULL);
                return;
            }
            boussole__v1__method_info__init(mi);
            mi->name = (char *)m->name;
            mi->input_type = (char *)md->input->name;
            mi->output_type = (char *)md->output->name;
            mi->idempotency = (Boussole__V1__Idempotency)m->idempotency;
            mi->anonymous = m->anonymous;
            ms[si->n_methods++] = mi;
        }
        out.services[out.n_services++] = si;
    }
    gw__rpc_reply(r, &out.base);
}

void gw__local_call(gw_req *r, const ProtobufCMessage *in)
{
    const char *name = r->m->full_name;
    if (strcmp(name, "boussole.v1.Health/Check") == 0) {
        health_check(r, (const Boussole__V1__HealthCheckRequest *)in);
    } else if (strcmp(name, "boussole.v1.Reflection/ListServices") == 0) {
        list_services(r);
    } else {
        gw__respond_error(r, 0, BSL_STATUS_UNIMPLEMENTED, "not implemented by the gateway", NULL, 0,
                          NULL);
    }
}
