/*
 * A complete bilan, from creation to closing, against a real redis-server and the real
 * sessions process: agreement, intake, roadmap, meetings with their sign-in record and notes,
 * hours, experiences, career leads and research, each phase entered through its guards, the
 * follow-up six months later, then the closing, the history and the lists.
 */
#include "sessions_helpers.h"

static int setup(void **state)
{
    (void)state;
    start_sessions("sessions-lifecycle");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_sessions();
    return 0;
}

static void complete_bilan(void **state)
{
    (void)state;
    Boussole__V1__Caller b = beneficiary(), c = counselor(), a = admin(), s = service_caller();
    const char *id0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_EMPLOYER_PLAN);
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);

    /* Created in PRELIMINARY, an agreement required and none proposed yet. */
    Boussole__V1__Bilan *bl = get_bilan(id, &b);
    assert_int_equal(bl->phase, BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY);
    assert_int_equal(bl->status, BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE);
    assert_true(bl->agreement_required);
    assert_int_equal(bl->agreement_status, BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_NONE);
    assert_int_equal(bl->remaining_minutes, 24 * 60);
    assert_string_equal(bl->counselor_id, "c-marie");
    protobuf_c_message_free_unpacked(&bl->base, NULL);

    /* Not ready for the investigation: everything it needs is missing. */
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("INTAKE_MISSING"));
    assert_true(has_precondition("ROADMAP_MISSING"));
    assert_true(has_precondition("AGREEMENT_NOT_ACCEPTED"));
    assert_int_equal(n_preconditions(), 3);

    /* The intake: the beneficiary records it, the counselor completes it. */
    record_intake(id, &b, 0);
    record_intake(id, &c, 1);
    Boussole__V1__GetIntakeRequest gi = BOUSSOLE__V1__GET_INTAKE_REQUEST__INIT;
    gi.bilan_id = id;
    ProtobufCMessage *resp = NULL;
    assert_status(call("GetIntake", &gi.base, &b, &resp), BSL_STATUS_OK);
    Boussole__V1__Intake *in = (Boussole__V1__Intake *)resp;
    assert_int_equal(in->version, 2);
    assert_string_equal(in->updated_by, "c-marie");
    assert_string_equal(in->reasons, "Je m'ennuie et je voudrais un métier plus concret.");
    protobuf_c_message_free_unpacked(resp, NULL);

    /* The roadmap, read by the beneficiary. */
    set_roadmap(id, 0);
    Boussole__V1__GetRoadmapRequest gr = BOUSSOLE__V1__GET_ROADMAP_REQUEST__INIT;
    gr.bilan_id = id;
    assert_status(call("GetRoadmap", &gr.base, &b, &resp), BSL_STATUS_OK);
    Boussole__V1__Roadmap *rm = (Boussole__V1__Roadmap *)resp;
    assert_int_equal(rm->n_steps, 2);
    assert_string_equal(rm->steps[1]->title, "Questionnaires d'intérêts et retours de proches");
    assert_int_equal(rm->steps[1]->n_tools, 2);
    assert_int_equal(rm->version, 1);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Only the agreement is missing now. */
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_FAILED_PRECONDITION);
    assert_int_equal(n_preconditions(), 1);
    assert_true(has_precondition("AGREEMENT_NOT_ACCEPTED"));

    /* The tripartite agreement: proposed by the admin, accepted by the beneficiary. */
    Boussole__V1__ProposeAgreementRequest pa = BOUSSOLE__V1__PROPOSE_AGREEMENT_REQUEST__INIT;
    pa.bilan_id = id;
    pa.employer_name = "Transports Durand SA";
    pa.objective = "Construire un projet de reconversion réaliste.";
    pa.content = "Phase préliminaire, investigation, conclusion, suivi à six mois.";
    pa.means = "Entretiens individuels, questionnaires, enquêtes métier.";
    pa.duration_hours = 24;
    pa.period_start = (char *)day(-30);
    pa.period_end = (char *)day(90);
    pa.results_handover = "Document de synthèse remis au seul bénéficiaire.";
    pa.price_cents = 180000;
    assert_status(call("ProposeAgreement", &pa.base, &a, &resp), BSL_STATUS_OK);
    Boussole__V1__Agreement *ag = (Boussole__V1__Agreement *)resp;
    assert_int_equal(ag->revision, 1);
    assert_int_equal(ag->status, BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_PROPOSED);
    assert_int_equal(bsl_pb_timestamp_ms(ag->respond_by) - bsl_pb_timestamp_ms(ag->propose_time),
                     10 * DAY_MS);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__RespondToAgreementRequest ra = BOUSSOLE__V1__RESPOND_TO_AGREEMENT_REQUEST__INIT;
    ra.bilan_id = id;
    ra.revision = 1;
    ra.accept = true;
    assert_status(call("RespondToAgreement", &ra.base, &b, &resp), BSL_STATUS_OK);
    ag = (Boussole__V1__Agreement *)resp;
    assert_int_equal(ag->status, BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_ACCEPTED);
    assert_string_equal(ag->employer_name, "Transports Durand SA");
    assert_int_equal(ag->price_cents, 180000);
    assert_non_null(ag->response_time);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* Accepting again changes nothing; refusing now is too late. */
    assert_status(call("RespondToAgreement", &ra.base, &b, NULL), BSL_STATUS_OK);
    ra.accept = false;
    assert_status(call("RespondToAgreement", &ra.base, &b, NULL), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("AGREEMENT_ANSWERED"));

    /* The first meeting, an hour ago: signed in by both sides, its 90 minutes count. */
    const char *m0 = schedule(id, BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY, -60, 90);
    char m1[32];
    snprintf(m1, sizeof(m1), "%s", m0);
    Boussole__V1__Meeting *mt = NULL;
    assert_status(confirm(id, m1, &b, &mt), BSL_STATUS_OK);
    assert_int_equal(mt->status, BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_SCHEDULED);
    assert_non_null(mt->beneficiary_confirmation);
    assert_null(mt->counselor_confirmation);
    protobuf_c_message_free_unpacked(&mt->base, NULL);
    assert_status(confirm(id, m1, &c, &mt), BSL_STATUS_OK);
    assert_int_equal(mt->status, BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_ATTENDED);
    assert_string_equal(mt->counselor_confirmation->subject_id, "c-marie");
    assert_string_equal(mt->beneficiary_confirmation->subject_id, "b-lea");
    uint64_t mversion = mt->version;
    protobuf_c_message_free_unpacked(&mt->base, NULL);
    /* A repeated confirmation changes nothing (and counts nothing twice). */
    assert_status(confirm(id, m1, &c, NULL), BSL_STATUS_OK);

    /* Notes: shared ones for the beneficiary, private ones for the counselor only. */
    Boussole__V1__SetMeetingNotesRequest sn = BOUSSOLE__V1__SET_MEETING_NOTES_REQUEST__INIT;
    sn.bilan_id = id;
    sn.meeting_id = m1;
    sn.version = mversion;
    sn.shared_notes = "Pistes évoquées : logistique, formation de conductrice de bus.";
    assert_status(call("SetMeetingNotes", &sn.base, &c, NULL), BSL_STATUS_OK);
    Boussole__V1__SetPrivateNotesRequest sp = BOUSSOLE__V1__SET_PRIVATE_NOTES_REQUEST__INIT;
    sp.bilan_id = id;
    sp.meeting_id = m1;
    sp.text = "Fatigue importante, à surveiller.";
    assert_status(call("SetPrivateNotes", &sp.base, &c, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__PrivateNotes *)resp)->version, 1);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__GetPrivateNotesRequest gp = BOUSSOLE__V1__GET_PRIVATE_NOTES_REQUEST__INIT;
    gp.bilan_id = id;
    gp.meeting_id = m1;
    assert_status(call("GetPrivateNotes", &gp.base, &c, &resp), BSL_STATUS_OK);
    assert_string_equal(((Boussole__V1__PrivateNotes *)resp)->text,
                        "Fatigue importante, à surveiller.");
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__ListMeetingsRequest lm = BOUSSOLE__V1__LIST_MEETINGS_REQUEST__INIT;
    lm.bilan_id = id;
    assert_status(call("ListMeetings", &lm.base, &b, &resp), BSL_STATUS_OK);
    Boussole__V1__ListMeetingsResponse *ml = (Boussole__V1__ListMeetingsResponse *)resp;
    assert_int_equal(ml->n_meetings, 1);
    assert_string_equal(ml->meetings[0]->shared_notes,
                        "Pistes évoquées : logistique, formation de conductrice de bus.");
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_status(call("ListMeetings", &lm.base, &a, &resp), BSL_STATUS_OK);
    ml = (Boussole__V1__ListMeetingsResponse *)resp;
    assert_int_equal(ml->n_meetings, 1);
    assert_string_equal(ml->meetings[0]->shared_notes, ""); /* administrators read no notes */
    assert_non_null(ml->meetings[0]->beneficiary_confirmation);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Everything the preliminary phase needs: on to the investigation; a repeat is harmless. */
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_OK);
    bl = get_bilan(id, &c);
    uint64_t version = bl->version;
    assert_int_equal(bl->phase, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION);
    protobuf_c_message_free_unpacked(&bl->base, NULL);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_OK);
    bl = get_bilan(id, &c);
    assert_int_equal(bl->version, version);
    protobuf_c_message_free_unpacked(&bl->base, NULL);

    /* Experiences, by the beneficiary. */
    char *skills[] = { "organisation", "gestion des priorités" };
    Boussole__V1__Experience ex = BOUSSOLE__V1__EXPERIENCE__INIT;
    ex.bilan_id = id;
    ex.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_JOB;
    ex.title = "Assistante de direction";
    ex.period_start = "2013-09-01";
    ex.description = "Agenda de trois directeurs, organisation des déplacements.";
    ex.skills = skills;
    ex.n_skills = 2;
    Boussole__V1__AddExperienceRequest ae = BOUSSOLE__V1__ADD_EXPERIENCE_REQUEST__INIT;
    ae.experience = &ex;
    assert_status(call("AddExperience", &ae.base, &b, &resp), BSL_STATUS_OK);
    Boussole__V1__Experience *e1 = (Boussole__V1__Experience *)resp;
    assert_int_equal(e1->version, 1);
    char eid[32];
    snprintf(eid, sizeof(eid), "%s", e1->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    ex.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_VOLUNTEERING;
    ex.title = "Bénévole aux Restos du cœur";
    ex.period_start = "2019-01-01";
    assert_status(call("AddExperience", &ae.base, &b, NULL), BSL_STATUS_OK);
    ex.id = eid;
    ex.version = 1;
    ex.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_JOB;
    ex.title = "Assistante de direction (groupe de transport)";
    ex.period_start = "2013-09-01";
    Boussole__V1__UpdateExperienceRequest ue = BOUSSOLE__V1__UPDATE_EXPERIENCE_REQUEST__INIT;
    ue.experience = &ex;
    assert_status(call("UpdateExperience", &ue.base, &c, NULL), BSL_STATUS_OK);
    Boussole__V1__ListExperiencesRequest le = BOUSSOLE__V1__LIST_EXPERIENCES_REQUEST__INIT;
    le.bilan_id = id;
    assert_status(call("ListExperiences", &le.base, &b, &resp), BSL_STATUS_OK);
    Boussole__V1__ListExperiencesResponse *el = (Boussole__V1__ListExperiencesResponse *)resp;
    assert_int_equal(el->n_experiences, 2);
    assert_string_equal(el->experiences[0]->title, "Assistante de direction (groupe de transport)");
    assert_int_equal(el->experiences[0]->version, 2);
    assert_int_equal(el->experiences[0]->n_skills, 2);
    assert_string_equal(el->experiences[1]->title, "Bénévole aux Restos du cœur");
    protobuf_c_message_free_unpacked(resp, NULL);

    /* A career lead with research; retained with a reason. */
    Boussole__V1__CareerLead ld = BOUSSOLE__V1__CAREER_LEAD__INIT;
    ld.bilan_id = id;
    ld.title = "Conductrice de bus";
    ld.path = BOUSSOLE__V1__CAREER_PATH__CAREER_PATH_RECONVERSION;
    ld.status = BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_EXPLORING;
    Boussole__V1__AddCareerLeadRequest al = BOUSSOLE__V1__ADD_CAREER_LEAD_REQUEST__INIT;
    al.lead = &ld;
    assert_status(call("AddCareerLead", &al.base, &b, &resp), BSL_STATUS_OK);
    char lid[32];
    snprintf(lid, sizeof(lid), "%s", ((Boussole__V1__CareerLead *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    char *links[] = { "https://candidat.francetravail.fr/metierscope/fiche-metier/N4103" };
    Boussole__V1__LeadResearch rs = BOUSSOLE__V1__LEAD_RESEARCH__INIT;
    rs.lead_id = lid;
    rs.kind = BOUSSOLE__V1__RESEARCH_KIND__RESEARCH_KIND_TESTIMONY;
    rs.title = "Rencontre avec une conductrice du réseau urbain";
    rs.links = links;
    rs.n_links = 1;
    rs.notes = "Horaires décalés mais beaucoup d'autonomie.";
    rs.date = (char *)day(-1);
    Boussole__V1__AddLeadResearchRequest ar = BOUSSOLE__V1__ADD_LEAD_RESEARCH_REQUEST__INIT;
    ar.bilan_id = id;
    ar.research = &rs;
    assert_status(call("AddLeadResearch", &ar.base, &b, NULL), BSL_STATUS_OK);
    ld.id = lid;
    ld.version = 1;
    ld.status = BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_RETAINED;
    ld.status_reason = "Correspond au besoin d'autonomie et de concret.";
    Boussole__V1__UpdateCareerLeadRequest ul = BOUSSOLE__V1__UPDATE_CAREER_LEAD_REQUEST__INIT;
    ul.lead = &ld;
    assert_status(call("UpdateCareerLead", &ul.base, &c, NULL), BSL_STATUS_OK);
    Boussole__V1__ListCareerLeadsRequest ll = BOUSSOLE__V1__LIST_CAREER_LEADS_REQUEST__INIT;
    ll.bilan_id = id;
    assert_status(call("ListCareerLeads", &ll.base, &b, &resp), BSL_STATUS_OK);
    Boussole__V1__ListCareerLeadsResponse *lr = (Boussole__V1__ListCareerLeadsResponse *)resp;
    assert_int_equal(lr->n_leads, 1);
    assert_int_equal(lr->leads[0]->status,
                     BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_RETAINED);
    assert_string_equal(lr->leads[0]->status_reason,
                        "Correspond au besoin d'autonomie et de concret.");
    assert_int_equal(lr->leads[0]->n_research, 1);
    assert_string_equal(lr->leads[0]->research[0]->notes,
                        "Horaires décalés mais beaucoup d'autonomie.");
    assert_int_equal(lr->leads[0]->research[0]->n_links, 1);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Other accompanied time in the investigation phase. */
    Boussole__V1__RecordAccompaniedTimeRequest rt =
        BOUSSOLE__V1__RECORD_ACCOMPANIED_TIME_REQUEST__INIT;
    rt.bilan_id = id;
    rt.date = (char *)day(0);
    rt.minutes = 45;
    rt.activity = BOUSSOLE__V1__ACCOMPANIED_ACTIVITY__ACCOMPANIED_ACTIVITY_QUESTIONNAIRE_SESSION;
    assert_status(call("RecordAccompaniedTime", &rt.base, &c, NULL), BSL_STATUS_OK);

    /* The conclusion needs a completed questionnaire. */
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CONCLUSION, false, NULL),
                  BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("QUESTIONNAIRE_MISSING"));
    report_questionnaire(id, "a00000000000000000000000aa");
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CONCLUSION, false, NULL), BSL_STATUS_OK);

    /* A conclusion meeting, attended. */
    const char *m2 = schedule(id, 0, -30, 120);
    char m2id[32];
    snprintf(m2id, sizeof(m2id), "%s", m2);
    assert_status(confirm(id, m2id, &c, NULL), BSL_STATUS_OK);
    assert_status(confirm(id, m2id, &b, NULL), BSL_STATUS_OK);

    /* The follow-up phase needs the synthesis finalised, then schedules the follow-up. */
    Boussole__V1__FollowUpMeeting fu = BOUSSOLE__V1__FOLLOW_UP_MEETING__INIT;
    fu.start_time = at_minutes(182LL * 24 * 60);
    fu.duration_minutes = 60;
    fu.mode = BOUSSOLE__V1__MEETING_MODE__MEETING_MODE_REMOTE;
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP, false, &fu),
                  BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("SYNTHESIS_NOT_FINALISED"));
    report_synthesis(id);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP, false, &fu), BSL_STATUS_OK);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP, false, &fu), BSL_STATUS_OK);
    bl = get_bilan(id, &b);
    assert_int_equal(bl->phase, BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP);
    assert_true(bl->progress->synthesis_finalised);
    assert_int_equal(bl->progress->questionnaires_completed, 1);
    assert_int_equal(bl->progress->meetings, 3);
    assert_int_equal(bl->spent_minutes, 90 + 45 + 120);
    char fid[32];
    snprintf(fid, sizeof(fid), "%s", bl->follow_up_meeting_id);
    assert_int_equal(strlen(fid), 26);
    protobuf_c_message_free_unpacked(&bl->base, NULL);

    /* Closing waits for the follow-up meeting. */
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CLOSED, false, NULL),
                  BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("FOLLOW_UP_PENDING"));
    move_clock(183LL * DAY_MS);
    assert_status(confirm(id, fid, &b, NULL), BSL_STATUS_OK);
    assert_status(confirm(id, fid, &c, &mt), BSL_STATUS_OK);
    assert_int_equal(mt->status, BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_ATTENDED);
    assert_true(mt->follow_up);
    assert_int_equal(mt->phase, BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP);
    protobuf_c_message_free_unpacked(&mt->base, NULL);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CLOSED, false, NULL), BSL_STATUS_OK);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CLOSED, false, NULL), BSL_STATUS_OK);

    bl = get_bilan(id, &a);
    assert_int_equal(bl->phase, BOUSSOLE__V1__PHASE__PHASE_CLOSED);
    assert_int_equal(bl->status, BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_CLOSED);
    assert_non_null(bl->end_time);
    long long end_ms = bsl_pb_timestamp_ms(bl->end_time);
    assert_int_equal(bl->spent_minutes, 90 + 45 + 120 + 60);
    protobuf_c_message_free_unpacked(&bl->base, NULL);

    /* The hours ledger, per phase. */
    Boussole__V1__GetHoursLedgerRequest hl = BOUSSOLE__V1__GET_HOURS_LEDGER_REQUEST__INIT;
    hl.bilan_id = id;
    assert_status(call("GetHoursLedger", &hl.base, &b, &resp), BSL_STATUS_OK);
    Boussole__V1__HoursLedger *led = (Boussole__V1__HoursLedger *)resp;
    assert_int_equal(led->planned_minutes, 1440);
    assert_int_equal(led->spent_minutes, 315);
    assert_int_equal(led->remaining_minutes, 1440 - 315);
    assert_int_equal(led->n_phases, 4);
    assert_int_equal(led->phases[0]->meeting_minutes, 90);
    assert_int_equal(led->phases[1]->other_minutes, 45);
    assert_int_equal(led->phases[2]->meeting_minutes, 120);
    assert_int_equal(led->phases[3]->meeting_minutes, 60);
    assert_int_equal(led->n_attended_meetings, 3);
    assert_int_equal(led->n_accompanied_time, 1);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* The history: who, when, from, to. */
    Boussole__V1__ListPhaseTransitionsRequest lh =
        BOUSSOLE__V1__LIST_PHASE_TRANSITIONS_REQUEST__INIT;
    lh.id = id;
    assert_status(call("ListPhaseTransitions", &lh.base, &a, &resp), BSL_STATUS_OK);
    Boussole__V1__ListPhaseTransitionsResponse *th =
        (Boussole__V1__ListPhaseTransitionsResponse *)resp;
    assert_int_equal(th->n_transitions, 4);
    const Boussole__V1__Phase order[5] = {
        BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION,
        BOUSSOLE__V1__PHASE__PHASE_CONCLUSION,  BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP,
        BOUSSOLE__V1__PHASE__PHASE_CLOSED,
    };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(th->transitions[i]->from, order[i]);
        assert_int_equal(th->transitions[i]->to, order[i + 1]);
        assert_string_equal(th->transitions[i]->actor_id, "c-marie");
        assert_int_equal(th->transitions[i]->actor_role, BOUSSOLE__V1__ROLE__ROLE_COUNSELOR);
        assert_non_null(th->transitions[i]->time);
    }
    assert_int_equal(bsl_pb_timestamp_ms(th->transitions[3]->time), end_ms);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Ended: the other services see it, the retention sweep will find it. */
    Boussole__V1__GetBilanAccessRequest ga = BOUSSOLE__V1__GET_BILAN_ACCESS_REQUEST__INIT;
    ga.bilan_id = id;
    assert_status(call("GetBilanAccess", &ga.base, &s, &resp), BSL_STATUS_OK);
    Boussole__V1__BilanAccess *acc = (Boussole__V1__BilanAccess *)resp;
    assert_int_equal(acc->status, BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_CLOSED);
    assert_int_equal(bsl_pb_timestamp_ms(acc->end_time), end_ms);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__ListEndedBilansRequest le2 = BOUSSOLE__V1__LIST_ENDED_BILANS_REQUEST__INIT;
    le2.ended_before = at_minutes(1);
    assert_status(call("ListEndedBilans", &le2.base, &s, &resp), BSL_STATUS_OK);
    Boussole__V1__ListEndedBilansResponse *eb = (Boussole__V1__ListEndedBilansResponse *)resp;
    assert_int_equal(eb->n_bilans, 1);
    assert_string_equal(eb->bilans[0]->bilan_id, id);
    assert_string_equal(eb->bilans[0]->beneficiary_id, "b-lea");
    assert_int_equal(bsl_pb_timestamp_ms(eb->bilans[0]->end_time), end_ms);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Closed means read-only. */
    assert_status(call("AddExperience", &ae.base, &b, NULL), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("BILAN_ENDED"));
    Boussole__V1__CancelBilanRequest cb = BOUSSOLE__V1__CANCEL_BILAN_REQUEST__INIT;
    cb.id = id;
    cb.reason = BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_OTHER;
    assert_status(call("CancelBilan", &cb.base, &a, NULL), BSL_STATUS_FAILED_PRECONDITION);

    /* The lists: the beneficiary's, filtered by status. */
    Boussole__V1__ListBilansRequest lb = BOUSSOLE__V1__LIST_BILANS_REQUEST__INIT;
    lb.owner_case = BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID;
    lb.beneficiary_id = "b-lea";
    assert_status(call("ListBilans", &lb.base, &b, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListBilansResponse *)resp)->n_bilans, 1);
    protobuf_c_message_free_unpacked(resp, NULL);
    lb.status = BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE;
    assert_status(call("ListBilans", &lb.base, &b, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListBilansResponse *)resp)->n_bilans, 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    lb.status = BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_CLOSED;
    assert_status(call("ListBilans", &lb.base, &b, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListBilansResponse *)resp)->n_bilans, 1);
    assert_string_equal(((Boussole__V1__ListBilansResponse *)resp)->bilans[0]->id, id);
    protobuf_c_message_free_unpacked(resp, NULL);
    move_clock(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(complete_bilan),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
