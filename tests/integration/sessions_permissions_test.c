/*
 * The permission matrix of services/sessions/README.md, cell by cell: every method of
 * SessionService called by each kind of caller, against a real sessions process.
 *
 * Columns: the bilan's beneficiary, its counselor, an admin of its organisation, a Boussole
 * service, then people with no business in it: another beneficiary, another counselor of the
 * same organisation, an admin of another organisation, a third party. Cells: Y (OK), D
 * (PERMISSION_DENIED), N (NOT_FOUND: existence does not leak), E (OK with an empty list:
 * nothing of the bilan shows).
 */
#include "sessions_helpers.h"

enum { COLS = 8 };

static Boussole__V1__Caller column(int i)
{
    switch (i) {
    case 0:
        return beneficiary();
    case 1:
        return counselor();
    case 2:
        return admin();
    case 3:
        return service_caller();
    case 4:
        return who(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-autre", "");
    case 5:
        return who(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-jean", ORG);
    case 6:
        return who(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-autre", OTHER_ORG);
    default:
        return who(BOUSSOLE__V1__ROLE__ROLE_THIRD_PARTY, "t-employeur", "");
    }
}

static const char *const column_names[COLS] = {
    "beneficiary", "counselor",    "admin",       "service",
    "other ben.",  "other couns.", "other admin", "third party",
};

/* What the rows work on. */
typedef struct fixture {
    char bilan[32];    /* CPF, with records of every kind */
    char employer[32]; /* employer's plan, for the agreement */
    char m_past[32];   /* a meeting that has begun */
    char m_future[32]; /* a meeting to come */
    char m_cancel[32]; /* a meeting to call off */
    char experience[32];
    char lead[32];
    char lead2[32];
    char research[32];
    char entry[32];
} fixture;

static fixture fx;

/* ---- helpers for the rows ------------------------------------------------------------- */

static uint64_t meeting_version(const char *mid)
{
    Boussole__V1__ListMeetingsRequest r = BOUSSOLE__V1__LIST_MEETINGS_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    Boussole__V1__Caller c = counselor();
    ProtobufCMessage *resp = NULL;
    assert_status(call("ListMeetings", &r.base, &c, &resp), BSL_STATUS_OK);
    Boussole__V1__ListMeetingsResponse *l = (Boussole__V1__ListMeetingsResponse *)resp;
    uint64_t v = 0;
    for (size_t i = 0; i < l->n_meetings; i++) {
        if (strcmp(l->meetings[i]->id, mid) == 0) {
            v = l->meetings[i]->version;
        }
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return v;
}

static uint64_t bilan_version(const char *id)
{
    Boussole__V1__Caller c = counselor();
    Boussole__V1__Bilan *b = get_bilan(id, &c);
    uint64_t v = b->version;
    protobuf_c_message_free_unpacked(&b->base, NULL);
    return v;
}

static int list_count(ProtobufCMessage *resp)
{
    return resp ? (int)((Boussole__V1__ListBilansResponse *)resp)->n_bilans : -1;
}

/* ---- the rows ------------------------------------------------------------------------ */

typedef bsl_status (*row_fn)(const Boussole__V1__Caller *c, int *items);

static bsl_status r_get_bilan(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__GetBilanRequest r = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    r.id = fx.bilan;
    return call("GetBilan", &r.base, c, NULL);
}

static bsl_status r_update_bilan(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__UpdateBilanRequest r = BOUSSOLE__V1__UPDATE_BILAN_REQUEST__INIT;
    r.id = fx.bilan;
    r.version = bilan_version(fx.bilan);
    r.end_date = (char *)day(91);
    return call("UpdateBilan", &r.base, c, NULL);
}

static bsl_status r_cancel_bilan(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    /* A bilan of its own for each cell: a cancellation ends it. */
    Boussole__V1__CancelBilanRequest r = BOUSSOLE__V1__CANCEL_BILAN_REQUEST__INIT;
    r.id = (char *)new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    r.reason = BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_CREATED_IN_ERROR;
    return call("CancelBilan", &r.base, c, NULL);
}

static bsl_status r_reassign(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__ReassignCounselorRequest r = BOUSSOLE__V1__REASSIGN_COUNSELOR_REQUEST__INIT;
    r.id = fx.bilan;
    r.counselor_id = "c-marie"; /* the same: the matrix is about who may, not what changes */
    return call("ReassignCounselor", &r.base, c, NULL);
}

static bsl_status r_advance(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__AdvancePhaseRequest r = BOUSSOLE__V1__ADVANCE_PHASE_REQUEST__INIT;
    r.id = fx.bilan;
    r.target = BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY; /* where it is: a harmless repeat */
    return call("AdvancePhase", &r.base, c, NULL);
}

static bsl_status r_history(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__ListPhaseTransitionsRequest r =
        BOUSSOLE__V1__LIST_PHASE_TRANSITIONS_REQUEST__INIT;
    r.id = fx.bilan;
    return call("ListPhaseTransitions", &r.base, c, NULL);
}

static bsl_status r_propose(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__ProposeAgreementRequest r = BOUSSOLE__V1__PROPOSE_AGREEMENT_REQUEST__INIT;
    r.bilan_id = fx.employer;
    r.employer_name = "Garage Lemoine";
    r.objective = "Objectif";
    r.content = "Contenu";
    r.means = "Moyens";
    r.duration_hours = 24;
    r.period_start = (char *)day(0);
    r.period_end = (char *)day(60);
    r.results_handover = "Remise en main propre";
    r.price_cents = 120000;
    return call("ProposeAgreement", &r.base, c, NULL);
}

static bsl_status r_respond(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__GetAgreementRequest g = BOUSSOLE__V1__GET_AGREEMENT_REQUEST__INIT;
    g.bilan_id = fx.employer;
    Boussole__V1__Caller cc = counselor();
    ProtobufCMessage *resp = NULL;
    assert_status(call("GetAgreement", &g.base, &cc, &resp), BSL_STATUS_OK);
    Boussole__V1__RespondToAgreementRequest r = BOUSSOLE__V1__RESPOND_TO_AGREEMENT_REQUEST__INIT;
    r.bilan_id = fx.employer;
    r.revision = ((Boussole__V1__Agreement *)resp)->revision;
    r.accept = true;
    protobuf_c_message_free_unpacked(resp, NULL);
    return call("RespondToAgreement", &r.base, c, NULL);
}

static bsl_status r_get_agreement(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__GetAgreementRequest r = BOUSSOLE__V1__GET_AGREEMENT_REQUEST__INIT;
    r.bilan_id = fx.employer;
    return call("GetAgreement", &r.base, c, NULL);
}

static bsl_status r_record_intake(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__GetIntakeRequest g = BOUSSOLE__V1__GET_INTAKE_REQUEST__INIT;
    g.bilan_id = fx.bilan;
    Boussole__V1__Caller cc = counselor();
    ProtobufCMessage *resp = NULL;
    uint64_t v = 0;
    if (call("GetIntake", &g.base, &cc, &resp) == BSL_STATUS_OK) {
        v = ((Boussole__V1__Intake *)resp)->version;
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    Boussole__V1__Intake in = BOUSSOLE__V1__INTAKE__INIT;
    in.bilan_id = fx.bilan;
    in.current_situation = "En poste";
    in.reasons = "Envie de changement";
    in.version = v;
    Boussole__V1__RecordIntakeRequest r = BOUSSOLE__V1__RECORD_INTAKE_REQUEST__INIT;
    r.intake = &in;
    return call("RecordIntake", &r.base, c, NULL);
}

static bsl_status r_get_intake(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__GetIntakeRequest r = BOUSSOLE__V1__GET_INTAKE_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    return call("GetIntake", &r.base, c, NULL);
}

static bsl_status r_set_roadmap(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__GetRoadmapRequest g = BOUSSOLE__V1__GET_ROADMAP_REQUEST__INIT;
    g.bilan_id = fx.bilan;
    Boussole__V1__Caller cc = counselor();
    ProtobufCMessage *resp = NULL;
    assert_status(call("GetRoadmap", &g.base, &cc, &resp), BSL_STATUS_OK);
    Boussole__V1__Roadmap *rm = (Boussole__V1__Roadmap *)resp;
    Boussole__V1__SetRoadmapRequest r = BOUSSOLE__V1__SET_ROADMAP_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.version = rm->version;
    r.steps = rm->steps;
    r.n_steps = rm->n_steps;
    bsl_status st = call("SetRoadmap", &r.base, c, NULL);
    protobuf_c_message_free_unpacked(resp, NULL);
    return st;
}

static bsl_status r_get_roadmap(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__GetRoadmapRequest r = BOUSSOLE__V1__GET_ROADMAP_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    return call("GetRoadmap", &r.base, c, NULL);
}

static bsl_status r_schedule(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__ScheduleMeetingRequest r = BOUSSOLE__V1__SCHEDULE_MEETING_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.start_time = at_minutes(3 * 24 * 60);
    r.duration_minutes = 30;
    r.mode = BOUSSOLE__V1__MEETING_MODE__MEETING_MODE_REMOTE;
    return call("ScheduleMeeting", &r.base, c, NULL);
}

static bsl_status r_update_meeting(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__UpdateMeetingRequest r = BOUSSOLE__V1__UPDATE_MEETING_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.meeting_id = fx.m_future;
    r.version = meeting_version(fx.m_future);
    r.duration_minutes = 75;
    return call("UpdateMeeting", &r.base, c, NULL);
}

static bsl_status r_cancel_meeting(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__CancelMeetingRequest r = BOUSSOLE__V1__CANCEL_MEETING_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.meeting_id = fx.m_cancel;
    return call("CancelMeeting", &r.base, c, NULL);
}

static bsl_status r_confirm(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    return confirm(fx.bilan, fx.m_past, c, NULL);
}

static bsl_status r_meeting_notes(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__SetMeetingNotesRequest r = BOUSSOLE__V1__SET_MEETING_NOTES_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.meeting_id = fx.m_past;
    r.version = meeting_version(fx.m_past);
    r.shared_notes = "Notes partagées";
    return call("SetMeetingNotes", &r.base, c, NULL);
}

static bsl_status r_list_meetings(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__ListMeetingsRequest r = BOUSSOLE__V1__LIST_MEETINGS_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    return call("ListMeetings", &r.base, c, NULL);
}

static bsl_status r_set_private(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__GetPrivateNotesRequest g = BOUSSOLE__V1__GET_PRIVATE_NOTES_REQUEST__INIT;
    g.bilan_id = fx.bilan;
    g.meeting_id = fx.m_past;
    Boussole__V1__Caller cc = counselor();
    ProtobufCMessage *resp = NULL;
    assert_status(call("GetPrivateNotes", &g.base, &cc, &resp), BSL_STATUS_OK);
    Boussole__V1__SetPrivateNotesRequest r = BOUSSOLE__V1__SET_PRIVATE_NOTES_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.meeting_id = fx.m_past;
    r.version = ((Boussole__V1__PrivateNotes *)resp)->version;
    r.text = "Notes privées";
    protobuf_c_message_free_unpacked(resp, NULL);
    return call("SetPrivateNotes", &r.base, c, NULL);
}

static bsl_status r_get_private(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__GetPrivateNotesRequest r = BOUSSOLE__V1__GET_PRIVATE_NOTES_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.meeting_id = fx.m_past;
    return call("GetPrivateNotes", &r.base, c, NULL);
}

static bsl_status r_record_time(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__RecordAccompaniedTimeRequest r =
        BOUSSOLE__V1__RECORD_ACCOMPANIED_TIME_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.date = (char *)day(-2);
    r.minutes = 10;
    r.activity = BOUSSOLE__V1__ACCOMPANIED_ACTIVITY__ACCOMPANIED_ACTIVITY_OTHER;
    return call("RecordAccompaniedTime", &r.base, c, NULL);
}

static bsl_status r_remove_time(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__RemoveAccompaniedTimeRequest r =
        BOUSSOLE__V1__REMOVE_ACCOMPANIED_TIME_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.entry_id = fx.entry;
    return call("RemoveAccompaniedTime", &r.base, c, NULL);
}

static bsl_status r_ledger(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__GetHoursLedgerRequest r = BOUSSOLE__V1__GET_HOURS_LEDGER_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    return call("GetHoursLedger", &r.base, c, NULL);
}

static bsl_status r_add_experience(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__Experience e = BOUSSOLE__V1__EXPERIENCE__INIT;
    e.bilan_id = fx.bilan;
    e.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_TRAINING;
    e.title = "BTS assistant de manager";
    Boussole__V1__AddExperienceRequest r = BOUSSOLE__V1__ADD_EXPERIENCE_REQUEST__INIT;
    r.experience = &e;
    return call("AddExperience", &r.base, c, NULL);
}

static uint64_t experience_version(void)
{
    Boussole__V1__ListExperiencesRequest r = BOUSSOLE__V1__LIST_EXPERIENCES_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    Boussole__V1__Caller cc = counselor();
    ProtobufCMessage *resp = NULL;
    assert_status(call("ListExperiences", &r.base, &cc, &resp), BSL_STATUS_OK);
    Boussole__V1__ListExperiencesResponse *l = (Boussole__V1__ListExperiencesResponse *)resp;
    uint64_t v = 0;
    for (size_t i = 0; i < l->n_experiences; i++) {
        if (strcmp(l->experiences[i]->id, fx.experience) == 0) {
            v = l->experiences[i]->version;
        }
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return v;
}

static bsl_status r_update_experience(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__Experience e = BOUSSOLE__V1__EXPERIENCE__INIT;
    e.bilan_id = fx.bilan;
    e.id = fx.experience;
    e.version = experience_version();
    e.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_JOB;
    e.title = "Secrétaire médicale";
    Boussole__V1__UpdateExperienceRequest r = BOUSSOLE__V1__UPDATE_EXPERIENCE_REQUEST__INIT;
    r.experience = &e;
    return call("UpdateExperience", &r.base, c, NULL);
}

static bsl_status r_remove_experience(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__RemoveExperienceRequest r = BOUSSOLE__V1__REMOVE_EXPERIENCE_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.experience_id = fx.experience;
    return call("RemoveExperience", &r.base, c, NULL);
}

static bsl_status r_list_experiences(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__ListExperiencesRequest r = BOUSSOLE__V1__LIST_EXPERIENCES_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    return call("ListExperiences", &r.base, c, NULL);
}

static bsl_status r_add_lead(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__CareerLead l = BOUSSOLE__V1__CAREER_LEAD__INIT;
    l.bilan_id = fx.bilan;
    l.title = "Fleuriste";
    l.path = BOUSSOLE__V1__CAREER_PATH__CAREER_PATH_BUSINESS_CREATION;
    l.status = BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_EXPLORING;
    Boussole__V1__AddCareerLeadRequest r = BOUSSOLE__V1__ADD_CAREER_LEAD_REQUEST__INIT;
    r.lead = &l;
    return call("AddCareerLead", &r.base, c, NULL);
}

/* The current lead `id` and the version of research `rid` (0 when absent). */
static uint64_t lead_version(const char *id, const char *rid, uint64_t *research_version)
{
    Boussole__V1__ListCareerLeadsRequest r = BOUSSOLE__V1__LIST_CAREER_LEADS_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    Boussole__V1__Caller cc = counselor();
    ProtobufCMessage *resp = NULL;
    assert_status(call("ListCareerLeads", &r.base, &cc, &resp), BSL_STATUS_OK);
    Boussole__V1__ListCareerLeadsResponse *l = (Boussole__V1__ListCareerLeadsResponse *)resp;
    uint64_t v = 0;
    for (size_t i = 0; i < l->n_leads; i++) {
        if (strcmp(l->leads[i]->id, id) == 0) {
            v = l->leads[i]->version;
            for (size_t k = 0; research_version && k < l->leads[i]->n_research; k++) {
                if (strcmp(l->leads[i]->research[k]->id, rid) == 0) {
                    *research_version = l->leads[i]->research[k]->version;
                }
            }
        }
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return v;
}

static bsl_status r_update_lead(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__CareerLead l = BOUSSOLE__V1__CAREER_LEAD__INIT;
    l.bilan_id = fx.bilan;
    l.id = fx.lead;
    l.version = lead_version(fx.lead, NULL, NULL);
    l.title = "Fleuriste";
    l.path = BOUSSOLE__V1__CAREER_PATH__CAREER_PATH_BUSINESS_CREATION;
    l.status = BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_SET_ASIDE;
    l.status_reason = "Revenus trop incertains";
    Boussole__V1__UpdateCareerLeadRequest r = BOUSSOLE__V1__UPDATE_CAREER_LEAD_REQUEST__INIT;
    r.lead = &l;
    return call("UpdateCareerLead", &r.base, c, NULL);
}

static bsl_status r_remove_lead(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__RemoveCareerLeadRequest r = BOUSSOLE__V1__REMOVE_CAREER_LEAD_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.lead_id = fx.lead2;
    return call("RemoveCareerLead", &r.base, c, NULL);
}

static bsl_status r_list_leads(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__ListCareerLeadsRequest r = BOUSSOLE__V1__LIST_CAREER_LEADS_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    return call("ListCareerLeads", &r.base, c, NULL);
}

static bsl_status r_add_research(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__LeadResearch x = BOUSSOLE__V1__LEAD_RESEARCH__INIT;
    x.lead_id = fx.lead;
    x.kind = BOUSSOLE__V1__RESEARCH_KIND__RESEARCH_KIND_DOCUMENTATION;
    x.title = "Fiche métier";
    Boussole__V1__AddLeadResearchRequest r = BOUSSOLE__V1__ADD_LEAD_RESEARCH_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.research = &x;
    return call("AddLeadResearch", &r.base, c, NULL);
}

static bsl_status r_update_research(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    uint64_t v = 0;
    lead_version(fx.lead, fx.research, &v);
    Boussole__V1__LeadResearch x = BOUSSOLE__V1__LEAD_RESEARCH__INIT;
    x.id = fx.research;
    x.lead_id = fx.lead;
    x.version = v;
    x.kind = BOUSSOLE__V1__RESEARCH_KIND__RESEARCH_KIND_JOB_RESEARCH;
    x.title = "Salaires et débouchés";
    Boussole__V1__UpdateLeadResearchRequest r = BOUSSOLE__V1__UPDATE_LEAD_RESEARCH_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.research = &x;
    return call("UpdateLeadResearch", &r.base, c, NULL);
}

static bsl_status r_remove_research(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__RemoveLeadResearchRequest r = BOUSSOLE__V1__REMOVE_LEAD_RESEARCH_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.lead_id = fx.lead;
    r.research_id = fx.research;
    return call("RemoveLeadResearch", &r.base, c, NULL);
}

static bsl_status r_create(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__CreateBilanRequest r = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    r.beneficiary_id = "b-lea";
    r.counselor_id = "c-marie";
    r.organisation_id = ORG;
    r.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    r.planned_hours = 24;
    r.start_date = (char *)day(0);
    r.end_date = (char *)day(60);
    return call("CreateBilan", &r.base, c, NULL);
}

static bsl_status list_by(const Boussole__V1__Caller *c, int *items, int owner, const char *who)
{
    Boussole__V1__ListBilansRequest r = BOUSSOLE__V1__LIST_BILANS_REQUEST__INIT;
    Boussole__V1__PageRequest page = BOUSSOLE__V1__PAGE_REQUEST__INIT;
    page.page_size = 100;
    r.page = &page;
    r.owner_case = (Boussole__V1__ListBilansRequest__OwnerCase)owner;
    if (owner == BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID) {
        r.beneficiary_id = (char *)who;
    } else if (owner == BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID) {
        r.counselor_id = (char *)who;
    } else {
        r.organisation_id = (char *)who;
    }
    ProtobufCMessage *resp = NULL;
    bsl_status st = call("ListBilans", &r.base, c, &resp);
    *items = list_count(resp);
    if (resp != NULL) {
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return st;
}

static bsl_status r_list_beneficiary(const Boussole__V1__Caller *c, int *items)
{
    return list_by(c, items, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID, "b-lea");
}

static bsl_status r_list_counselor(const Boussole__V1__Caller *c, int *items)
{
    return list_by(c, items, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID, "c-marie");
}

static bsl_status r_list_org(const Boussole__V1__Caller *c, int *items)
{
    return list_by(c, items, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_ORGANISATION_ID, ORG);
}

static bsl_status r_export(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__ExportBeneficiaryDataRequest r =
        BOUSSOLE__V1__EXPORT_BENEFICIARY_DATA_REQUEST__INIT;
    r.beneficiary_id = "b-lea";
    return call("ExportBeneficiaryData", &r.base, c, NULL);
}

static bsl_status r_erase(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__EraseBilanDataRequest r = BOUSSOLE__V1__ERASE_BILAN_DATA_REQUEST__INIT;
    r.bilan_id = (char *)new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    r.reason = "beneficiary request";
    return call("EraseBilanData", &r.base, c, NULL);
}

static bsl_status r_access(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__GetBilanAccessRequest r = BOUSSOLE__V1__GET_BILAN_ACCESS_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    return call("GetBilanAccess", &r.base, c, NULL);
}

static bsl_status r_report_q(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__ReportQuestionnaireCompletedRequest r =
        BOUSSOLE__V1__REPORT_QUESTIONNAIRE_COMPLETED_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    r.assignment_id = "a0000000000000000000000000";
    return call("ReportQuestionnaireCompleted", &r.base, c, NULL);
}

static bsl_status r_report_s(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__ReportSynthesisFinalisedRequest r =
        BOUSSOLE__V1__REPORT_SYNTHESIS_FINALISED_REQUEST__INIT;
    r.bilan_id = fx.employer;
    r.synthesis_id = "s0000000000000000000000000";
    r.version = 1;
    return call("ReportSynthesisFinalised", &r.base, c, NULL);
}

static bsl_status r_ended(const Boussole__V1__Caller *c, int *items)
{
    (void)items;
    Boussole__V1__ListEndedBilansRequest r = BOUSSOLE__V1__LIST_ENDED_BILANS_REQUEST__INIT;
    r.ended_before = at_minutes(0);
    return call("ListEndedBilans", &r.base, c, NULL);
}

/* The matrix (README.md, "Who may do what"), in an order where each row leaves the fixture
 * usable by the next ones. Columns as in column(). */
static const struct {
    const char *name;
    row_fn fn;
    const char cells[COLS + 1];
} rows[] = {
    { "GetBilan", r_get_bilan, "YYYYNNNN" },
    { "UpdateBilan", r_update_bilan, "DYYDNNNN" },
    { "CancelBilan", r_cancel_bilan, "DYYDNNNN" },
    { "ReassignCounselor", r_reassign, "DDYDNNNN" },
    { "AdvancePhase", r_advance, "DYDDNNNN" },
    { "ListPhaseTransitions", r_history, "YYYDNNNN" },
    { "ProposeAgreement", r_propose, "DYYDNNNN" },
    { "RespondToAgreement", r_respond, "YDDDNNNN" },
    { "GetAgreement", r_get_agreement, "YYYDNNNN" },
    { "RecordIntake", r_record_intake, "YYDDNNNN" },
    { "GetIntake", r_get_intake, "YYDDNNNN" },
    { "SetRoadmap", r_set_roadmap, "DYDDNNNN" },
    { "GetRoadmap", r_get_roadmap, "YYYDNNNN" },
    { "ScheduleMeeting", r_schedule, "DYDDNNNN" },
    { "UpdateMeeting", r_update_meeting, "DYDDNNNN" },
    { "CancelMeeting", r_cancel_meeting, "DYDDNNNN" },
    { "ConfirmAttendance", r_confirm, "YYDDNNNN" },
    { "SetMeetingNotes", r_meeting_notes, "DYDDNNNN" },
    { "ListMeetings", r_list_meetings, "YYYDNNNN" },
    { "SetPrivateNotes", r_set_private, "DYDDNNNN" },
    { "GetPrivateNotes", r_get_private, "DYDDNNNN" },
    { "RecordAccompaniedTime", r_record_time, "DYDDNNNN" },
    { "GetHoursLedger", r_ledger, "YYYDNNNN" },
    { "AddExperience", r_add_experience, "YYDDNNNN" },
    { "UpdateExperience", r_update_experience, "YYDDNNNN" },
    { "ListExperiences", r_list_experiences, "YYDDNNNN" },
    { "AddCareerLead", r_add_lead, "YYDDNNNN" },
    { "UpdateCareerLead", r_update_lead, "YYDDNNNN" },
    { "AddLeadResearch", r_add_research, "YYDDNNNN" },
    { "UpdateLeadResearch", r_update_research, "YYDDNNNN" },
    { "ListCareerLeads", r_list_leads, "YYDDNNNN" },
    { "RemoveLeadResearch", r_remove_research, "YYDDNNNN" },
    { "RemoveCareerLead", r_remove_lead, "YYDDNNNN" },
    { "RemoveExperience", r_remove_experience, "YYDDNNNN" },
    { "RemoveAccompaniedTime", r_remove_time, "DYDDNNNN" },
    { "CreateBilan", r_create, "DYYDDDDD" },
    { "ListBilans (beneficiary_id)", r_list_beneficiary, "YDYDDDED" },
    { "ListBilans (counselor_id)", r_list_counselor, "DYYDDDED" },
    { "ListBilans (organisation_id)", r_list_org, "DDYDDDDD" },
    { "ExportBeneficiaryData", r_export, "YDDYDDDD" },
    { "EraseBilanData", r_erase, "DDDYDDDD" },
    { "GetBilanAccess", r_access, "DDDYDDDD" },
    { "ReportQuestionnaireCompleted", r_report_q, "DDDYDDDD" },
    { "ReportSynthesisFinalised", r_report_s, "DDDYDDDD" },
    { "ListEndedBilans", r_ended, "DDDYDDDD" },
};

static int setup(void **state)
{
    (void)state;
    start_sessions("sessions-permissions");
    Boussole__V1__Caller b = beneficiary(), c = counselor();
    snprintf(fx.bilan, sizeof(fx.bilan), "%s", bilan_ready_for_investigation());
    snprintf(fx.employer, sizeof(fx.employer), "%s",
             new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_EMPLOYER_PLAN));
    snprintf(fx.m_past, sizeof(fx.m_past), "%s", schedule(fx.bilan, 0, -60, 60));
    snprintf(fx.m_future, sizeof(fx.m_future), "%s", schedule(fx.bilan, 0, 2 * 24 * 60, 60));
    snprintf(fx.m_cancel, sizeof(fx.m_cancel), "%s", schedule(fx.bilan, 0, 4 * 24 * 60, 60));
    ProtobufCMessage *resp = NULL;
    Boussole__V1__Experience e = BOUSSOLE__V1__EXPERIENCE__INIT;
    e.bilan_id = fx.bilan;
    e.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_JOB;
    e.title = "Vendeuse";
    Boussole__V1__AddExperienceRequest ae = BOUSSOLE__V1__ADD_EXPERIENCE_REQUEST__INIT;
    ae.experience = &e;
    assert_status(call("AddExperience", &ae.base, &b, &resp), BSL_STATUS_OK);
    snprintf(fx.experience, sizeof(fx.experience), "%s", ((Boussole__V1__Experience *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__CareerLead l = BOUSSOLE__V1__CAREER_LEAD__INIT;
    l.bilan_id = fx.bilan;
    l.title = "Libraire";
    l.path = BOUSSOLE__V1__CAREER_PATH__CAREER_PATH_RECONVERSION;
    l.status = BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_EXPLORING;
    Boussole__V1__AddCareerLeadRequest al = BOUSSOLE__V1__ADD_CAREER_LEAD_REQUEST__INIT;
    al.lead = &l;
    assert_status(call("AddCareerLead", &al.base, &b, &resp), BSL_STATUS_OK);
    snprintf(fx.lead, sizeof(fx.lead), "%s", ((Boussole__V1__CareerLead *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    l.title = "Documentaliste";
    assert_status(call("AddCareerLead", &al.base, &b, &resp), BSL_STATUS_OK);
    snprintf(fx.lead2, sizeof(fx.lead2), "%s", ((Boussole__V1__CareerLead *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__LeadResearch x = BOUSSOLE__V1__LEAD_RESEARCH__INIT;
    x.lead_id = fx.lead;
    x.kind = BOUSSOLE__V1__RESEARCH_KIND__RESEARCH_KIND_TESTIMONY;
    x.title = "Rencontre";
    Boussole__V1__AddLeadResearchRequest ar = BOUSSOLE__V1__ADD_LEAD_RESEARCH_REQUEST__INIT;
    ar.bilan_id = fx.bilan;
    ar.research = &x;
    assert_status(call("AddLeadResearch", &ar.base, &b, &resp), BSL_STATUS_OK);
    snprintf(fx.research, sizeof(fx.research), "%s", ((Boussole__V1__LeadResearch *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__RecordAccompaniedTimeRequest rt =
        BOUSSOLE__V1__RECORD_ACCOMPANIED_TIME_REQUEST__INIT;
    rt.bilan_id = fx.bilan;
    rt.date = (char *)day(-3);
    rt.minutes = 20;
    rt.activity = BOUSSOLE__V1__ACCOMPANIED_ACTIVITY__ACCOMPANIED_ACTIVITY_PHONE_CALL;
    assert_status(call("RecordAccompaniedTime", &rt.base, &c, &resp), BSL_STATUS_OK);
    snprintf(fx.entry, sizeof(fx.entry), "%s", ((Boussole__V1__AccompaniedTime *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_sessions();
    return 0;
}

static void every_cell(void **state)
{
    (void)state;
    size_t failures = 0, cells = 0;
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        for (int col = 0; col < COLS; col++) {
            Boussole__V1__Caller c = column(col);
            int items = -1;
            bsl_status st = rows[r].fn(&c, &items);
            char want = rows[r].cells[col];
            bool ok = (want == 'Y' && st == BSL_STATUS_OK) ||
                      (want == 'E' && st == BSL_STATUS_OK && items == 0) ||
                      (want == 'D' && st == BSL_STATUS_PERMISSION_DENIED) ||
                      (want == 'N' && st == BSL_STATUS_NOT_FOUND);
            cells++;
            if (!ok) {
                failures++;
                print_error("%s by %s: got %s (%s), want %c\n", rows[r].name, column_names[col],
                            bsl_status_name((int)st), last_message(), want);
            }
        }
    }
    print_message("%zu cells checked\n", cells);
    assert_int_equal(failures, 0);
}

/* What the matrix cannot show on its own: what each side reads in what it may read. */
static void what_each_side_reads(void **state)
{
    (void)state;
    Boussole__V1__Caller b = beneficiary(), a = admin();
    /* The beneficiary reads the shared notes, the admin no notes at all. */
    Boussole__V1__ListMeetingsRequest r = BOUSSOLE__V1__LIST_MEETINGS_REQUEST__INIT;
    r.bilan_id = fx.bilan;
    ProtobufCMessage *resp = NULL;
    assert_status(call("ListMeetings", &r.base, &b, &resp), BSL_STATUS_OK);
    Boussole__V1__ListMeetingsResponse *l = (Boussole__V1__ListMeetingsResponse *)resp;
    bool shared = false;
    for (size_t i = 0; i < l->n_meetings; i++) {
        shared |= strcmp(l->meetings[i]->shared_notes, "Notes partagées") == 0;
    }
    assert_true(shared);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_status(call("ListMeetings", &r.base, &a, &resp), BSL_STATUS_OK);
    l = (Boussole__V1__ListMeetingsResponse *)resp;
    assert_true(l->n_meetings >= 3);
    for (size_t i = 0; i < l->n_meetings; i++) {
        assert_string_equal(l->meetings[i]->shared_notes, "");
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    /* An admin's list of a person holds only their organisation's bilans. */
    Boussole__V1__CreateBilanRequest cr = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    cr.beneficiary_id = "b-lea";
    cr.organisation_id = OTHER_ORG;
    cr.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    cr.planned_hours = 10;
    cr.start_date = (char *)day(0);
    cr.end_date = (char *)day(30);
    Boussole__V1__Caller other = column(6);
    assert_status(call("CreateBilan", &cr.base, &other, NULL), BSL_STATUS_INVALID_ARGUMENT);
    cr.counselor_id = "c-ailleurs";
    assert_status(call("CreateBilan", &cr.base, &other, NULL), BSL_STATUS_OK);
    int mine = 0, theirs = 0, hers = 0;
    assert_status(
        list_by(&a, &mine, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID, "b-lea"),
        BSL_STATUS_OK);
    assert_status(
        list_by(&other, &theirs, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID, "b-lea"),
        BSL_STATUS_OK);
    assert_status(
        list_by(&b, &hers, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID, "b-lea"),
        BSL_STATUS_OK);
    assert_int_equal(theirs, 1);
    assert_int_equal(hers, mine + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_cell),
        cmocka_unit_test(what_each_side_reads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
