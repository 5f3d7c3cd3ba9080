/* Between server.c and builtin.c: the Health and Reflection services every server serves. */
#ifndef BOUSSOLE_SERVER_INTERNAL_H
#define BOUSSOLE_SERVER_INTERNAL_H

#include "boussole/server.h"
#include "boussole/v1/rpc.pb-c.h"

typedef struct bsl__builtin {
    Boussole__V1__Health_Service health;
    Boussole__V1__Reflection_Service reflection;
} bsl__builtin;

/* Fills b and adds both services to srv. */
int bsl__builtin_init(bsl_server *srv, bsl__builtin *b);

bsl_server *bsl__call_server(const bsl_call *call);
int bsl__call_metric_id(const bsl_call *call);

/* The services srv serves (at most cap). */
size_t bsl__server_services(const bsl_server *srv, const bsl_service_info **out, size_t cap);

#endif
