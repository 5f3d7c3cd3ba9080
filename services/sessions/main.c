/* sessions: the bilan lifecycle service. */
#include <string.h>

#include "boussole/err.h"
#include "sessions.h"

static int init(bsl_service *svc, void *arg, char *errbuf, size_t errlen)
{
    sessions_app *app = arg;
    app->svc = svc;
    app->redis = bsl_service_redis(svc);
    app->clock = bsl_service_clock(svc);
    boussole__v1__session_service__init(&app->service, NULL);
    app->service.create_bilan = sessions_create_bilan;
    app->service.get_bilan = sessions_get_bilan;
    app->service.get_bilan_access = sessions_get_bilan_access;
    app->service.report_questionnaire_completed = sessions_report_questionnaire_completed;
    app->service.report_synthesis_finalised = sessions_report_synthesis_finalised;
    app->service.list_ended_bilans = sessions_list_ended_bilans;
    int rv = sessions_bilan_init(app);
    if (rv == BSL_OK) {
        rv = sessions_internal_init(app);
    }
    if (rv == BSL_OK) {
        rv = bsl_server_add_service(bsl_service_server(svc), &app->service.base);
    }
    if (rv != BSL_OK) {
        snprintf(errbuf, errlen, "cannot set up the sessions service: %s", bsl_strerror(rv));
    }
    return rv;
}

int main(int argc, char **argv)
{
    sessions_app app;
    memset(&app, 0, sizeof(app));
    bsl_service_spec spec = {
        .name = "sessions",
        .about = "Boussole sessions service: bilans, their phases, meetings, hours and people.",
        .default_listen = "tcp://127.0.0.1:7101",
        .default_admin = "http://127.0.0.1:9101",
        .init = init,
        .app = &app,
    };
    return bsl_service_main(&spec, argc, argv);
}
