/* The sessions service: the bilan de compétences itself (see proto/boussole/v1/sessions.proto). */
#ifndef SESSIONS_H
#define SESSIONS_H

#include "boussole/redis.h"
#include "boussole/server.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"

typedef struct sessions_app {
    /* First, so that a handler's `service` argument is the app. */
    Boussole__V1__SessionService_Service service;
    bsl_service *svc;
    bsl_redis *redis;
    bsl_clock *clock;
    bsl_redis_script *create_bilan;
} sessions_app;

static inline sessions_app *sessions_of(Boussole__V1__SessionService_Service *service)
{
    return (sessions_app *)service;
}

/* bilan.c */
int sessions_bilan_init(sessions_app *app);
void sessions_create_bilan(Boussole__V1__SessionService_Service *service,
                           const Boussole__V1__CreateBilanRequest *in,
                           Boussole__V1__Bilan_Closure closure, void *closure_data);
void sessions_get_bilan(Boussole__V1__SessionService_Service *service,
                        const Boussole__V1__GetBilanRequest *in,
                        Boussole__V1__Bilan_Closure closure, void *closure_data);

#endif
