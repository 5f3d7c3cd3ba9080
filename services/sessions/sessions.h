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
    bsl_redis_script *report_questionnaire;
    bsl_redis_script *report_synthesis;
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

/* internal.c */
int sessions_internal_init(sessions_app *app);
void sessions_get_bilan_access(Boussole__V1__SessionService_Service *service,
                               const Boussole__V1__GetBilanAccessRequest *in,
                               Boussole__V1__BilanAccess_Closure closure, void *closure_data);
void sessions_report_questionnaire_completed(
    Boussole__V1__SessionService_Service *service,
    const Boussole__V1__ReportQuestionnaireCompletedRequest *in,
    Boussole__V1__ReportQuestionnaireCompletedResponse_Closure closure, void *closure_data);
void sessions_report_synthesis_finalised(
    Boussole__V1__SessionService_Service *service,
    const Boussole__V1__ReportSynthesisFinalisedRequest *in,
    Boussole__V1__ReportSynthesisFinalisedResponse_Closure closure, void *closure_data);
void sessions_list_ended_bilans(Boussole__V1__SessionService_Service *service,
                                const Boussole__V1__ListEndedBilansRequest *in,
                                Boussole__V1__ListEndedBilansResponse_Closure closure,
                                void *closure_data);

#endif
