/* Wiring: the handlers of QuestionnaireService and each module's scripts. */
#include <stdio.h>

#include "boussole/err.h"
#include "questionnaires.h"

int qn_app_init(qn_app *app, char *errbuf, size_t errlen)
{
    Boussole__V1__QuestionnaireService_Service *s = &app->service;
    boussole__v1__questionnaire_service__init(s, NULL);
    s->list_instruments = qn_list_instruments;
    s->get_instrument = qn_get_instrument;
    s->create_instrument = qn_create_instrument;
    s->create_instrument_version = qn_create_instrument_version;
    s->retire_instrument = qn_retire_instrument;
    s->assign_instrument = qn_assign_instrument;
    s->list_assignments = qn_list_assignments;
    s->get_assignment = qn_get_assignment;
    s->save_answers = qn_save_answers;
    s->get_answers = qn_get_answers;
    s->submit_answers = qn_submit_answers;
    s->reopen_assignment = qn_reopen_assignment;
    s->get_results = qn_get_results;
    s->annotate_results = qn_annotate_results;
    s->match_occupations = qn_match_occupations;
    s->invite_relative = qn_invite_relative;
    s->list_invitations = qn_list_invitations;
    s->revoke_invitation = qn_revoke_invitation;
    s->get_feedback_form = qn_get_feedback_form;
    s->submit_feedback = qn_submit_feedback;
    s->get_feedback_summary = qn_get_feedback_summary;
    s->get_satisfaction_stats = qn_get_satisfaction_stats;
    s->export_beneficiary_data = qn_export_beneficiary_data;
    s->erase_bilan_data = qn_erase_bilan_data;
    int rv = qn_instruments_init(app);
    if (rv == BSL_OK) {
        rv = qn_assignments_init(app);
    }
    if (rv == BSL_OK) {
        rv = qn_answers_init(app);
    }
    if (rv == BSL_OK) {
        rv = qn_results_init(app);
    }
    if (rv == BSL_OK) {
        rv = qn_relatives_init(app);
    }
    if (rv == BSL_OK) {
        rv = qn_data_init(app);
    }
    if (rv == BSL_OK) {
        rv = qn_satisfaction_init(app);
    }
    if (rv == BSL_OK) {
        rv = bsl_server_add_service(bsl_service_server(app->svc), &s->base);
    }
    if (rv != BSL_OK) {
        snprintf(errbuf, errlen, "cannot set up the questionnaires service: %s", bsl_strerror(rv));
    }
    return rv;
}
