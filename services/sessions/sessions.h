/* The sessions service: the bilan de compétences itself (see proto/boussole/v1/sessions.proto). */
#ifndef SESSIONS_H
#define SESSIONS_H

#include "boussole/crypto.h"
#include "boussole/redis.h"
#include "boussole/server.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"

typedef struct sessions_app {
    /* First, so that a handler's `service` argument is the app. */
    Boussole__V1__SessionService_Service service;
    bsl_service *svc;
    bsl_redis *redis;
    bsl_redis *keystore; /* where the data keys live (may be `redis`) */
    bsl_keyring *keyring;
    bsl_clock *clock;
    /* Days the administrative record of an erased bilan is kept (0: until deleted otherwise):
     * --record-retention-days. */
    uint32_t record_retention_days;
    /* Lua scripts, registered once at start-up (each file owns its own). */
    bsl_redis_script *create_bilan;
    bsl_redis_script *update_bilan;
    bsl_redis_script *cancel_bilan;
    bsl_redis_script *reassign;
    bsl_redis_script *advance_phase;
    bsl_redis_script *read;        /* store.c: the bilan and some of its parts at once */
    bsl_redis_script *put_records; /* store.c: checked writes of records */
    bsl_redis_script *page;        /* store.c: a cursor page of an index */
    bsl_redis_script *erase;
    bsl_redis_script *report_questionnaire;
    bsl_redis_script *report_synthesis;
} sessions_app;

static inline sessions_app *sessions_of(Boussole__V1__SessionService_Service *service)
{
    return (sessions_app *)service;
}

/* Sets up the handlers and scripts of every file. */
int sessions_app_init(sessions_app *app, bsl_service *svc);

/* A handler of the generated service struct: `in` is the request, `closure_data` the call. */
#define SESS_HANDLER(name, In, Out)                                                                \
    void sessions_##name(Boussole__V1__SessionService_Service *service,                            \
                         const Boussole__V1__##In *in, Boussole__V1__##Out##_Closure closure,      \
                         void *closure_data)

/* bilan.c */
int sessions_bilan_init(sessions_app *app);
SESS_HANDLER(create_bilan, CreateBilanRequest, Bilan);
SESS_HANDLER(get_bilan, GetBilanRequest, Bilan);
SESS_HANDLER(update_bilan, UpdateBilanRequest, Bilan);
SESS_HANDLER(cancel_bilan, CancelBilanRequest, Bilan);
SESS_HANDLER(reassign_counselor, ReassignCounselorRequest, Bilan);

/* list.c */
SESS_HANDLER(list_bilans, ListBilansRequest, ListBilansResponse);

/* phase.c */
int sessions_phase_init(sessions_app *app);
SESS_HANDLER(advance_phase, AdvancePhaseRequest, Bilan);
SESS_HANDLER(list_phase_transitions, ListPhaseTransitionsRequest, ListPhaseTransitionsResponse);

/* agreement.c */
SESS_HANDLER(propose_agreement, ProposeAgreementRequest, Agreement);
SESS_HANDLER(respond_to_agreement, RespondToAgreementRequest, Agreement);
SESS_HANDLER(get_agreement, GetAgreementRequest, Agreement);

/* preliminary.c */
SESS_HANDLER(record_intake, RecordIntakeRequest, Intake);
SESS_HANDLER(get_intake, GetIntakeRequest, Intake);
SESS_HANDLER(set_roadmap, SetRoadmapRequest, Roadmap);
SESS_HANDLER(get_roadmap, GetRoadmapRequest, Roadmap);

/* meetings.c */
SESS_HANDLER(schedule_meeting, ScheduleMeetingRequest, Meeting);
SESS_HANDLER(update_meeting, UpdateMeetingRequest, Meeting);
SESS_HANDLER(cancel_meeting, CancelMeetingRequest, Meeting);
SESS_HANDLER(confirm_attendance, ConfirmAttendanceRequest, Meeting);
SESS_HANDLER(set_meeting_notes, SetMeetingNotesRequest, Meeting);
SESS_HANDLER(list_meetings, ListMeetingsRequest, ListMeetingsResponse);
SESS_HANDLER(set_private_notes, SetPrivateNotesRequest, PrivateNotes);
SESS_HANDLER(get_private_notes, GetPrivateNotesRequest, PrivateNotes);

/* hours.c */
SESS_HANDLER(record_accompanied_time, RecordAccompaniedTimeRequest, AccompaniedTime);
SESS_HANDLER(remove_accompanied_time, RemoveAccompaniedTimeRequest, RemoveAccompaniedTimeResponse);
SESS_HANDLER(get_hours_ledger, GetHoursLedgerRequest, HoursLedger);

/* experiences.c */
SESS_HANDLER(add_experience, AddExperienceRequest, Experience);
SESS_HANDLER(update_experience, UpdateExperienceRequest, Experience);
SESS_HANDLER(remove_experience, RemoveExperienceRequest, RemoveExperienceResponse);
SESS_HANDLER(list_experiences, ListExperiencesRequest, ListExperiencesResponse);

/* leads.c */
SESS_HANDLER(add_career_lead, AddCareerLeadRequest, CareerLead);
SESS_HANDLER(update_career_lead, UpdateCareerLeadRequest, CareerLead);
SESS_HANDLER(remove_career_lead, RemoveCareerLeadRequest, RemoveCareerLeadResponse);
SESS_HANDLER(list_career_leads, ListCareerLeadsRequest, ListCareerLeadsResponse);
SESS_HANDLER(add_lead_research, AddLeadResearchRequest, LeadResearch);
SESS_HANDLER(update_lead_research, UpdateLeadResearchRequest, LeadResearch);
SESS_HANDLER(remove_lead_research, RemoveLeadResearchRequest, RemoveLeadResearchResponse);

/* data.c */
int sessions_data_init(sessions_app *app);
SESS_HANDLER(export_beneficiary_data, ExportBeneficiaryDataRequest, SessionsExport);
SESS_HANDLER(erase_bilan_data, EraseBilanDataRequest, EraseBilanDataResponse);

/* internal.c */
int sessions_internal_init(sessions_app *app);
SESS_HANDLER(get_bilan_access, GetBilanAccessRequest, BilanAccess);
SESS_HANDLER(report_questionnaire_completed, ReportQuestionnaireCompletedRequest,
             ReportQuestionnaireCompletedResponse);
SESS_HANDLER(report_synthesis_finalised, ReportSynthesisFinalisedRequest,
             ReportSynthesisFinalisedResponse);
SESS_HANDLER(list_ended_bilans, ListEndedBilansRequest, ListEndedBilansResponse);

#endif
