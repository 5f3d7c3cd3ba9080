/*
 * Bad input, method by method: INVALID_ARGUMENT with a FieldViolation naming the field
 * (lengths, enum values, dates and their order, hours and minutes within bounds, ids well
 * formed, list sizes), and nothing written by a refused call.
 */
#include "sessions_helpers.h"

static char bilan[32];
static char meeting[32];

static int setup(void **state)
{
    (void)state;
    start_sessions("sessions-input");
    snprintf(bilan, sizeof(bilan), "%s", bilan_ready_for_investigation());
    snprintf(meeting, sizeof(meeting), "%s", schedule(bilan, 0, 60, 60));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_sessions();
    return 0;
}

/* A string of n copies of c (static ring of 2). */
static char *text(size_t n, char c)
{
    static char *bufs[2];
    static int next;
    char **b = &bufs[next++ % 2];
    free(*b);
    *b = malloc(n + 1);
    memset(*b, c, n);
    (*b)[n] = '\0';
    return *b;
}

#define EXPECT_FIELD(method, req, caller, field)                                                   \
    do {                                                                                           \
        assert_status(call(method, &(req).base, caller, NULL), BSL_STATUS_INVALID_ARGUMENT);       \
        if (!has_field_violation(field)) {                                                         \
            fail_msg("%s: %s not named in: %s", method, field, last_message());                    \
        }                                                                                          \
    } while (0)

static void bilan_fields(void **state)
{
    (void)state;
    Boussole__V1__Caller a = admin(), c = counselor();
    Boussole__V1__CreateBilanRequest cr = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    cr.beneficiary_id = "b-lea";
    cr.counselor_id = "c-marie";
    cr.organisation_id = ORG;
    cr.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    cr.planned_hours = 10;
    cr.start_date = (char *)day(0);
    cr.end_date = (char *)day(10);
    Boussole__V1__CreateBilanRequest bad = cr;
    bad.beneficiary_id = "b lea";
    EXPECT_FIELD("CreateBilan", bad, &a, "beneficiary_id");
    bad = cr;
    bad.counselor_id = text(129, 'c');
    EXPECT_FIELD("CreateBilan", bad, &a, "counselor_id");
    bad = cr;
    bad.funding = (Boussole__V1__Funding)9;
    EXPECT_FIELD("CreateBilan", bad, &a, "funding");
    bad = cr;
    bad.planned_hours = 0;
    EXPECT_FIELD("CreateBilan", bad, &a, "planned_hours");
    bad = cr;
    bad.start_date = "2026-13-01";
    EXPECT_FIELD("CreateBilan", bad, &a, "start_date");
    bad = cr;
    bad.end_date = (char *)day(-1);
    EXPECT_FIELD("CreateBilan", bad, &a, "end_date");
    /* Several bad fields: all named at once. */
    bad = cr;
    bad.planned_hours = 99;
    bad.funding = 0;
    EXPECT_FIELD("CreateBilan", bad, &a, "planned_hours");
    assert_true(has_field_violation("funding"));

    Boussole__V1__GetBilanRequest g = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    g.id = "0123456789ABCDEFGHJKMNPQRS"; /* upper case is not the alphabet */
    EXPECT_FIELD("GetBilan", g, &c, "id");
    g.id = "";
    EXPECT_FIELD("GetBilan", g, &c, "id");

    Boussole__V1__Bilan *b = get_bilan(bilan, &c);
    uint64_t v = b->version;
    protobuf_c_message_free_unpacked(&b->base, NULL);
    Boussole__V1__UpdateBilanRequest u = BOUSSOLE__V1__UPDATE_BILAN_REQUEST__INIT;
    u.id = bilan;
    u.version = v;
    EXPECT_FIELD("UpdateBilan", u, &c, "funding"); /* nothing to change */
    u.version = 0;
    u.planned_hours = 5;
    EXPECT_FIELD("UpdateBilan", u, &c, "version");
    u.version = v;
    u.start_date = (char *)day(100);
    u.planned_hours = 0;
    EXPECT_FIELD("UpdateBilan", u, &c, "start_date"); /* after the stored end date */
    u.start_date = (char *)day(5);
    u.end_date = (char *)day(4);
    EXPECT_FIELD("UpdateBilan", u, &c, "end_date");
    b = get_bilan(bilan, &c);
    assert_int_equal(b->version, v);
    protobuf_c_message_free_unpacked(&b->base, NULL);

    Boussole__V1__ReassignCounselorRequest ra = BOUSSOLE__V1__REASSIGN_COUNSELOR_REQUEST__INIT;
    ra.id = bilan;
    ra.counselor_id = "";
    EXPECT_FIELD("ReassignCounselor", ra, &a, "counselor_id");

    Boussole__V1__ListBilansRequest lb = BOUSSOLE__V1__LIST_BILANS_REQUEST__INIT;
    EXPECT_FIELD("ListBilans", lb, &a, "owner");
    lb.owner_case = BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_ORGANISATION_ID;
    lb.organisation_id = ORG;
    lb.phase = (Boussole__V1__Phase)7;
    EXPECT_FIELD("ListBilans", lb, &a, "phase");
    lb.phase = 0;
    Boussole__V1__PageRequest p = BOUSSOLE__V1__PAGE_REQUEST__INIT;
    p.page_size = 101;
    lb.page = &p;
    EXPECT_FIELD("ListBilans", lb, &a, "page.page_size");
    p.page_size = 10;
    p.page_token = "1764000000000:nope";
    EXPECT_FIELD("ListBilans", lb, &a, "page.page_token");
}

static void preliminary_fields(void **state)
{
    (void)state;
    Boussole__V1__Caller b = beneficiary(), c = counselor();
    Boussole__V1__Intake in = BOUSSOLE__V1__INTAKE__INIT;
    in.bilan_id = bilan;
    in.current_situation = "";
    in.reasons = text(4001, 'r');
    in.doubts = "tab\tand newline\n are fine, a bell \a is not";
    in.version = 1;
    Boussole__V1__RecordIntakeRequest ir = BOUSSOLE__V1__RECORD_INTAKE_REQUEST__INIT;
    EXPECT_FIELD("RecordIntake", ir, &b, "intake");
    ir.intake = &in;
    EXPECT_FIELD("RecordIntake", ir, &b, "intake.current_situation");
    assert_true(has_field_violation("intake.reasons"));
    assert_true(has_field_violation("intake.doubts"));
    /* 4000 characters of 2-byte UTF-8 are fine: characters are counted, not bytes. */
    size_t n = 4000;
    char *accents = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        memcpy(accents + 2 * i, "\xc3\xa9", 2);
    }
    accents[2 * n] = '\0';
    in.current_situation = accents;
    in.reasons = "Raisons";
    in.doubts = "";
    assert_status(call("RecordIntake", &ir.base, &b, NULL), BSL_STATUS_OK);
    free(accents);

    Boussole__V1__RoadmapTool tools[] = { BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_INTERVIEW,
                                          BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_INTERVIEW };
    Boussole__V1__RoadmapTool bad_tool[] = { (Boussole__V1__RoadmapTool)77 };
    Boussole__V1__RoadmapStep s1 = BOUSSOLE__V1__ROADMAP_STEP__INIT, s2, s3;
    s1.phase = BOUSSOLE__V1__PHASE__PHASE_CONCLUSION;
    s1.title = "Synthèse";
    s1.tools = tools;
    s1.n_tools = 1;
    s1.planned_date = (char *)day(40);
    s1.status = BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_PLANNED;
    s2 = s1;
    s2.phase = BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION; /* goes back */
    s2.planned_date = (char *)day(30);                   /* goes back */
    s2.tools = bad_tool;
    s3 = s1;
    s3.title = "";
    s3.tools = tools;
    s3.n_tools = 2; /* twice the same */
    s3.status = 0;
    Boussole__V1__RoadmapStep *steps[] = { &s1, &s2, &s3 };
    Boussole__V1__SetRoadmapRequest sr = BOUSSOLE__V1__SET_ROADMAP_REQUEST__INIT;
    sr.bilan_id = bilan;
    sr.version = 1;
    sr.steps = steps;
    sr.n_steps = 3;
    EXPECT_FIELD("SetRoadmap", sr, &c, "steps[1].phase");
    assert_true(has_field_violation("steps[1].planned_date"));
    assert_true(has_field_violation("steps[1].tools[0]"));
    assert_true(has_field_violation("steps[2].title"));
    assert_true(has_field_violation("steps[2].tools[1]"));
    assert_true(has_field_violation("steps[2].status"));
    Boussole__V1__RoadmapStep *many[31];
    for (int i = 0; i < 31; i++) {
        many[i] = &s1;
    }
    sr.steps = many;
    sr.n_steps = 31;
    EXPECT_FIELD("SetRoadmap", sr, &c, "steps");
    sr.n_steps = 0;
    EXPECT_FIELD("SetRoadmap", sr, &c, "steps");
    /* The roadmap is unchanged: still the one of the fixture. */
    Boussole__V1__GetRoadmapRequest gr = BOUSSOLE__V1__GET_ROADMAP_REQUEST__INIT;
    gr.bilan_id = bilan;
    ProtobufCMessage *resp = NULL;
    assert_status(call("GetRoadmap", &gr.base, &c, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__Roadmap *)resp)->version, 1);
    assert_int_equal(((Boussole__V1__Roadmap *)resp)->n_steps, 2);
    protobuf_c_message_free_unpacked(resp, NULL);
}

static void meeting_fields(void **state)
{
    (void)state;
    Boussole__V1__Caller c = counselor();
    Boussole__V1__ScheduleMeetingRequest sm = BOUSSOLE__V1__SCHEDULE_MEETING_REQUEST__INIT;
    sm.bilan_id = bilan;
    sm.duration_minutes = 10;
    sm.mode = (Boussole__V1__MeetingMode)3;
    sm.phase = BOUSSOLE__V1__PHASE__PHASE_CLOSED;
    EXPECT_FIELD("ScheduleMeeting", sm, &c, "start_time");
    assert_true(has_field_violation("duration_minutes"));
    assert_true(has_field_violation("mode"));
    assert_true(has_field_violation("phase"));
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = 100; /* 1970 */
    sm.start_time = &ts;
    sm.duration_minutes = 481;
    sm.mode = BOUSSOLE__V1__MEETING_MODE__MEETING_MODE_ON_SITE;
    sm.phase = 0;
    EXPECT_FIELD("ScheduleMeeting", sm, &c, "start_time");
    assert_true(has_field_violation("duration_minutes"));
    /* Before the bilan's first day, or more than two years ahead. */
    sm.duration_minutes = 60;
    sm.start_time = at_minutes(-40LL * 24 * 60);
    EXPECT_FIELD("ScheduleMeeting", sm, &c, "start_time");
    sm.start_time = at_minutes(800LL * 24 * 60);
    EXPECT_FIELD("ScheduleMeeting", sm, &c, "start_time");

    Boussole__V1__UpdateMeetingRequest um = BOUSSOLE__V1__UPDATE_MEETING_REQUEST__INIT;
    um.bilan_id = bilan;
    um.meeting_id = meeting;
    um.version = 1;
    EXPECT_FIELD("UpdateMeeting", um, &c, "start_time"); /* nothing to change */
    um.duration_minutes = 5;
    EXPECT_FIELD("UpdateMeeting", um, &c, "duration_minutes");
    um.meeting_id = "x";
    um.duration_minutes = 30;
    EXPECT_FIELD("UpdateMeeting", um, &c, "meeting_id");

    Boussole__V1__SetMeetingNotesRequest sn = BOUSSOLE__V1__SET_MEETING_NOTES_REQUEST__INIT;
    sn.bilan_id = bilan;
    sn.meeting_id = meeting;
    sn.version = 1;
    sn.shared_notes = text(4001, 'n');
    EXPECT_FIELD("SetMeetingNotes", sn, &c, "shared_notes");
    Boussole__V1__SetPrivateNotesRequest sp = BOUSSOLE__V1__SET_PRIVATE_NOTES_REQUEST__INIT;
    sp.bilan_id = bilan;
    sp.meeting_id = meeting;
    sp.text = text(8001, 'p');
    EXPECT_FIELD("SetPrivateNotes", sp, &c, "text");
    Boussole__V1__ConfirmAttendanceRequest ca = BOUSSOLE__V1__CONFIRM_ATTENDANCE_REQUEST__INIT;
    ca.bilan_id = bilan;
    EXPECT_FIELD("ConfirmAttendance", ca, &c, "meeting_id");
    ca.meeting_id = NO_SUCH_ID;
    assert_status(call("ConfirmAttendance", &ca.base, &c, NULL), BSL_STATUS_NOT_FOUND);
    Boussole__V1__CancelMeetingRequest cm = BOUSSOLE__V1__CANCEL_MEETING_REQUEST__INIT;
    cm.bilan_id = "";
    cm.meeting_id = meeting;
    EXPECT_FIELD("CancelMeeting", cm, &c, "bilan_id");
}

static void inventory_fields(void **state)
{
    (void)state;
    Boussole__V1__Caller b = beneficiary();
    char *skills[21];
    for (int i = 0; i < 21; i++) {
        skills[i] = "compétence";
    }
    Boussole__V1__Experience ex = BOUSSOLE__V1__EXPERIENCE__INIT;
    ex.bilan_id = bilan;
    ex.kind = 0;
    ex.title = text(201, 't');
    ex.period_start = "2020-05-01";
    ex.period_end = "2019-05-01";
    ex.description = text(2001, 'd');
    ex.skills = skills;
    ex.n_skills = 21;
    Boussole__V1__AddExperienceRequest ae = BOUSSOLE__V1__ADD_EXPERIENCE_REQUEST__INIT;
    EXPECT_FIELD("AddExperience", ae, &b, "experience");
    ae.experience = &ex;
    EXPECT_FIELD("AddExperience", ae, &b, "experience.kind");
    assert_true(has_field_violation("experience.title"));
    assert_true(has_field_violation("experience.period_end"));
    assert_true(has_field_violation("experience.description"));
    assert_true(has_field_violation("experience.skills"));
    ex.n_skills = 1;
    skills[0] = "";
    ex.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_JOB;
    ex.title = "Caissière";
    ex.period_end = "";
    ex.description = "";
    EXPECT_FIELD("AddExperience", ae, &b, "experience.skills[0]");
    Boussole__V1__UpdateExperienceRequest ue = BOUSSOLE__V1__UPDATE_EXPERIENCE_REQUEST__INIT;
    skills[0] = "accueil";
    ue.experience = &ex;
    EXPECT_FIELD("UpdateExperience", ue, &b, "experience.id");
    assert_true(has_field_violation("experience.version"));
    /* None of that added anything. */
    Boussole__V1__Bilan *bl = get_bilan(bilan, &b);
    assert_int_equal(bl->progress->experiences, 0);
    protobuf_c_message_free_unpacked(&bl->base, NULL);

    Boussole__V1__CareerLead ld = BOUSSOLE__V1__CAREER_LEAD__INIT;
    ld.bilan_id = bilan;
    ld.title = "";
    ld.path = (Boussole__V1__CareerPath)8;
    ld.status = 0;
    ld.status_reason = text(2001, 'z');
    Boussole__V1__AddCareerLeadRequest al = BOUSSOLE__V1__ADD_CAREER_LEAD_REQUEST__INIT;
    al.lead = &ld;
    EXPECT_FIELD("AddCareerLead", al, &b, "lead.title");
    assert_true(has_field_violation("lead.path"));
    assert_true(has_field_violation("lead.status"));
    assert_true(has_field_violation("lead.status_reason"));
    char *links[] = { "ftp://exemple.fr", "https://exemple.fr/a b", "https://ok.fr",
                      "https://ok.fr/2" };
    Boussole__V1__LeadResearch rs = BOUSSOLE__V1__LEAD_RESEARCH__INIT;
    rs.lead_id = NO_SUCH_ID;
    rs.kind = BOUSSOLE__V1__RESEARCH_KIND__RESEARCH_KIND_TESTIMONY;
    rs.title = "Rencontre";
    rs.links = links;
    rs.n_links = 2;
    rs.notes = text(2001, 'x');
    rs.date = "hier";
    Boussole__V1__AddLeadResearchRequest ar = BOUSSOLE__V1__ADD_LEAD_RESEARCH_REQUEST__INIT;
    ar.bilan_id = bilan;
    ar.research = &rs;
    EXPECT_FIELD("AddLeadResearch", ar, &b, "research.links[0]");
    assert_true(has_field_violation("research.links[1]"));
    assert_true(has_field_violation("research.notes"));
    assert_true(has_field_violation("research.date"));
    rs.n_links = 4;
    EXPECT_FIELD("AddLeadResearch", ar, &b, "research.links");
    /* Well formed, but for a lead that is not there. */
    rs.links = links + 2;
    rs.n_links = 2;
    rs.notes = "";
    rs.date = "";
    assert_status(call("AddLeadResearch", &ar.base, &b, NULL), BSL_STATUS_NOT_FOUND);
}

static void internal_fields(void **state)
{
    (void)state;
    Boussole__V1__Caller s = service_caller();
    Boussole__V1__ReportQuestionnaireCompletedRequest q =
        BOUSSOLE__V1__REPORT_QUESTIONNAIRE_COMPLETED_REQUEST__INIT;
    q.bilan_id = bilan;
    q.assignment_id = "nope";
    EXPECT_FIELD("ReportQuestionnaireCompleted", q, &s, "assignment_id");
    Boussole__V1__ReportSynthesisFinalisedRequest r =
        BOUSSOLE__V1__REPORT_SYNTHESIS_FINALISED_REQUEST__INIT;
    r.bilan_id = bilan;
    r.synthesis_id = NO_SUCH_ID;
    EXPECT_FIELD("ReportSynthesisFinalised", r, &s, "version");
    Boussole__V1__EraseBilanDataRequest e = BOUSSOLE__V1__ERASE_BILAN_DATA_REQUEST__INIT;
    e.bilan_id = bilan;
    e.reason = "";
    EXPECT_FIELD("EraseBilanData", e, &s, "reason");
    Boussole__V1__ListEndedBilansRequest le = BOUSSOLE__V1__LIST_ENDED_BILANS_REQUEST__INIT;
    Boussole__V1__PageRequest p = BOUSSOLE__V1__PAGE_REQUEST__INIT;
    p.page_size = 1000;
    le.page = &p;
    EXPECT_FIELD("ListEndedBilans", le, &s, "page.page_size");
    /* The bilan is still running and holds nothing new. */
    Boussole__V1__Caller c = counselor();
    Boussole__V1__Bilan *b = get_bilan(bilan, &c);
    assert_int_equal(b->status, BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE);
    assert_null(b->erase_time);
    assert_false(b->progress->synthesis_finalised);
    assert_int_equal(b->progress->questionnaires_completed, 0);
    protobuf_c_message_free_unpacked(&b->base, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bilan_fields),    cmocka_unit_test(preliminary_fields),
        cmocka_unit_test(meeting_fields),  cmocka_unit_test(inventory_fields),
        cmocka_unit_test(internal_fields),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
