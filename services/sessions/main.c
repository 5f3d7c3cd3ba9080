/* sessions: the bilan lifecycle service. */
#include <stdio.h>
#include <string.h>

#include "boussole/err.h"
#include "sessions.h"
#include "store.h"

int sessions_app_init(sessions_app *app, bsl_service *svc)
{
    app->svc = svc;
    app->redis = bsl_service_redis(svc);
    app->keystore = bsl_service_keystore(svc);
    app->keyring = bsl_service_keyring(svc);
    app->clock = bsl_service_clock(svc);
    Boussole__V1__SessionService_Service *s = &app->service;
    boussole__v1__session_service__init(s, NULL);
    s->create_bilan = sessions_create_bilan;
    s->get_bilan = sessions_get_bilan;
    s->list_bilans = sessions_list_bilans;
    s->update_bilan = sessions_update_bilan;
    s->cancel_bilan = sessions_cancel_bilan;
    s->reassign_counselor = sessions_reassign_counselor;
    s->advance_phase = sessions_advance_phase;
    s->list_phase_transitions = sessions_list_phase_transitions;
    s->propose_agreement = sessions_propose_agreement;
    s->respond_to_agreement = sessions_respond_to_agreement;
    s->get_agreement = sessions_get_agreement;
    s->record_intake = sessions_record_intake;
    s->get_intake = sessions_get_intake;
    s->set_roadmap = sessions_set_roadmap;
    s->get_roadmap = sessions_get_roadmap;
    s->schedule_meeting = sessions_schedule_meeting;
    s->update_meeting = sessions_update_meeting;
    s->cancel_meeting = sessions_cancel_meeting;
    s->confirm_attendance = sessions_confirm_attendance;
    s->set_meeting_notes = sessions_set_meeting_notes;
    s->list_meetings = sessions_list_meetings;
    s->set_private_notes = sessions_set_private_notes;
    s->get_private_notes = sessions_get_private_notes;
    s->record_accompanied_time = sessions_record_accompanied_time;
    s->remove_accompanied_time = sessions_remove_accompanied_time;
    s->get_hours_ledger = sessions_get_hours_ledger;
    s->add_experience = sessions_add_experience;
    s->update_experience = sessions_update_experience;
    s->remove_experience = sessions_remove_experience;
    s->list_experiences = sessions_list_experiences;
    s->add_career_lead = sessions_add_career_lead;
    s->update_career_lead = sessions_update_career_lead;
    s->remove_career_lead = sessions_remove_career_lead;
    s->list_career_leads = sessions_list_career_leads;
    s->add_lead_research = sessions_add_lead_research;
    s->update_lead_research = sessions_update_lead_research;
    s->remove_lead_research = sessions_remove_lead_research;
    s->export_beneficiary_data = sessions_export_beneficiary_data;
    s->erase_bilan_data = sessions_erase_bilan_data;
    s->get_bilan_access = sessions_get_bilan_access;
    s->report_questionnaire_completed = sessions_report_questionnaire_completed;
    s->report_synthesis_finalised = sessions_report_synthesis_finalised;
    s->list_ended_bilans = sessions_list_ended_bilans;
    int (*const inits[])(sessions_app *) = {
        sessions_store_init, sessions_bilan_init,    sessions_phase_init,
        sessions_data_init,  sessions_internal_init,
    };
    for (size_t i = 0; i < sizeof(inits) / sizeof(inits[0]); i++) {
        int rv = inits[i](app);
        if (rv != BSL_OK) {
            return rv;
        }
    }
    return BSL_OK;
}

/* Five years: the civil-law limitation period (Code civil, art. 2224) within which the
 * delivery of a bilan may be disputed, which the administrative record (dates, attendance,
 * hours, price) is kept to prove. An organisation sets its own policy here. */
static bsl_option options[] = {
    { "record-retention-days", "1826",
      "days the administrative record of an erased bilan is kept (0: until deleted otherwise)",
      NULL },
};

static int init(bsl_service *svc, void *arg, char *errbuf, size_t errlen)
{
    sessions_app *app = arg;
    int rv = bsl_option_u32(options, sizeof(options) / sizeof(options[0]), "record-retention-days",
                            0, 36500, &app->record_retention_days, errbuf, errlen);
    if (rv != BSL_OK) {
        return rv;
    }
    rv = sessions_app_init(app, svc);
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
        /* Free text is sealed with per-bilan data keys. */
        .needs_keyring = true,
        .options = options,
        .n_options = sizeof(options) / sizeof(options[0]),
        .init = init,
        .app = &app,
    };
    return bsl_service_main(&spec, argc, argv);
}
