/* Health and Reflection, served by every process. */
#include <string.h>

#include "boussole/err.h"
#include "server_internal.h"

static void health_check(Boussole__V1__Health_Service *service,
                         const Boussole__V1__HealthCheckRequest *in,
                         Boussole__V1__HealthCheckResponse_Closure closure, void *closure_data)
{
    (void)service;
    bsl_call *call = closure_data;
    bsl_server *srv = bsl__call_server(call);
    Boussole__V1__HealthCheckResponse out = BOUSSOLE__V1__HEALTH_CHECK_RESPONSE__INIT;
    char why[64];
    bool ready = bsl_server_ready(srv, why, sizeof(why));
    out.status = ready ? BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_SERVING
                       : BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_NOT_SERVING;
    if (in->service != NULL && in->service[0] != '\0') {
        const bsl_service_info *served[32];
        size_t n = bsl__server_services(srv, served, 32);
        bool found = false;
        for (size_t i = 0; i < n && !found; i++) {
            found = strcmp(served[i]->name, in->service) == 0;
        }
        if (!found) {
            out.status = BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_SERVICE_UNKNOWN;
        }
    }
    closure(&out, closure_data);
}

static void reflection_list(Boussole__V1__Reflection_Service *service,
                            const Boussole__V1__ListServicesRequest *in,
                            Boussole__V1__ListServicesResponse_Closure closure, void *closure_data)
{
    (void)service;
    (void)in;
    bsl_call *call = closure_data;
    bsl_arena *a = bsl_call_arena(call);
    const bsl_service_info *served[32];
    size_t n = bsl__server_services(bsl__call_server(call), served, 32);
    Boussole__V1__ListServicesResponse out = BOUSSOLE__V1__LIST_SERVICES_RESPONSE__INIT;
    out.services = bsl_arena_calloc(a, n, sizeof(*out.services));
    if (out.services == NULL && n > 0) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        Boussole__V1__ServiceInfo *si = bsl_arena_alloc(a, sizeof(*si));
        if (si == NULL) {
            bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        boussole__v1__service_info__init(si);
        si->name = (char *)served[i]->name;
        si->n_methods = served[i]->n_methods;
        si->methods = bsl_arena_calloc(a, si->n_methods, sizeof(*si->methods));
        for (size_t k = 0; si->methods && k < si->n_methods; k++) {
            const bsl_method_info *m = &served[i]->methods[k];
            const ProtobufCMethodDescriptor *md = &m->service->methods[m->index];
            Boussole__V1__MethodInfo *mi = bsl_arena_alloc(a, sizeof(*mi));
            if (mi == NULL) {
                bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
                return;
            }
            boussole__v1__method_info__init(mi);
            mi->name = (char *)m->name;
            mi->input_type = (char *)md->input->name;
            mi->output_type = (char *)md->output->name;
            mi->idempotency = (Boussole__V1__Idempotency)m->idempotency;
            mi->anonymous = m->anonymous;
            mi->internal = m->internal;
            si->methods[k] = mi;
        }
        out.services[i] = si;
    }
    out.n_services = n;
    closure(&out, closure_data);
}

int bsl__builtin_init(bsl_server *srv, bsl__builtin *b)
{
    boussole__v1__health__init(&b->health, NULL);
    b->health.check = health_check;
    boussole__v1__reflection__init(&b->reflection, NULL);
    b->reflection.list_services = reflection_list;
    int rv = bsl_server_add_service(srv, &b->health.base);
    if (rv == BSL_OK) {
        rv = bsl_server_add_service(srv, &b->reflection.base);
    }
    return rv;
}
