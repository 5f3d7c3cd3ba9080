/*
 * Concurrent conflicting updates: writes carrying the same version race, exactly one wins,
 * the others get ABORTED and write nothing. Writes the service computes from what it read
 * (attendance, phase changes) start over instead and never lose an update.
 */
#include "sessions_helpers.h"

enum { N = 8 };

static int setup(void **state)
{
    (void)state;
    start_sessions("sessions-concurrency");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_sessions();
    return 0;
}

static void bilan_updates(void **state)
{
    (void)state;
    Boussole__V1__Caller a = admin();
    const char *id0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    Boussole__V1__Bilan *b = get_bilan(id, &a);
    uint64_t v = b->version;
    protobuf_c_message_free_unpacked(&b->base, NULL);
    Boussole__V1__UpdateBilanRequest reqs[N];
    const ProtobufCMessage *ptrs[N];
    for (int i = 0; i < N; i++) {
        Boussole__V1__UpdateBilanRequest u = BOUSSOLE__V1__UPDATE_BILAN_REQUEST__INIT;
        u.id = id;
        u.version = v;
        u.planned_hours = (uint32_t)(10 + i);
        reqs[i] = u;
        ptrs[i] = &reqs[i].base;
    }
    bsl_status st[N];
    call_many("UpdateBilan", ptrs, &a, N, st);
    assert_int_equal(count_status(st, N, BSL_STATUS_OK), 1);
    assert_int_equal(count_status(st, N, BSL_STATUS_ABORTED), N - 1);
    int winner = -1;
    for (int i = 0; i < N; i++) {
        if (st[i] == BSL_STATUS_OK) {
            winner = i;
        }
    }
    b = get_bilan(id, &a);
    assert_int_equal(b->planned_hours, 10 + winner);
    assert_int_equal(b->version, v + 1);
    protobuf_c_message_free_unpacked(&b->base, NULL);
    /* A stale version, alone, is refused as well. */
    assert_status(call("UpdateBilan", &reqs[0].base, &a, NULL), BSL_STATUS_ABORTED);
}

static void record_updates(void **state)
{
    (void)state;
    Boussole__V1__Caller b = beneficiary(), c = counselor();
    const char *id0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);

    /* Two first recordings of the intake: one wins. */
    Boussole__V1__Intake in[2];
    Boussole__V1__RecordIntakeRequest ir[2];
    const ProtobufCMessage *ip[2];
    for (int i = 0; i < 2; i++) {
        Boussole__V1__Intake x = BOUSSOLE__V1__INTAKE__INIT;
        x.bilan_id = id;
        x.current_situation = i ? "Situation B" : "Situation A";
        x.reasons = "Raisons";
        in[i] = x;
        Boussole__V1__RecordIntakeRequest r = BOUSSOLE__V1__RECORD_INTAKE_REQUEST__INIT;
        ir[i] = r;
        ir[i].intake = &in[i];
        ip[i] = &ir[i].base;
    }
    bsl_status st[N];
    call_many("RecordIntake", ip, &b, 2, st);
    assert_int_equal(count_status(st, 2, BSL_STATUS_OK), 1);
    assert_int_equal(count_status(st, 2, BSL_STATUS_ABORTED), 1);
    Boussole__V1__GetIntakeRequest gi = BOUSSOLE__V1__GET_INTAKE_REQUEST__INIT;
    gi.bilan_id = id;
    ProtobufCMessage *resp = NULL;
    assert_status(call("GetIntake", &gi.base, &c, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__Intake *)resp)->version, 1);
    assert_string_equal(((Boussole__V1__Intake *)resp)->current_situation,
                        st[0] == BSL_STATUS_OK ? "Situation A" : "Situation B");
    protobuf_c_message_free_unpacked(resp, NULL);

    /* An experience edited from two screens at once. */
    Boussole__V1__Experience ex = BOUSSOLE__V1__EXPERIENCE__INIT;
    ex.bilan_id = id;
    ex.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_PASSION;
    ex.title = "Escalade";
    Boussole__V1__AddExperienceRequest ae = BOUSSOLE__V1__ADD_EXPERIENCE_REQUEST__INIT;
    ae.experience = &ex;
    assert_status(call("AddExperience", &ae.base, &b, &resp), BSL_STATUS_OK);
    char eid[32];
    snprintf(eid, sizeof(eid), "%s", ((Boussole__V1__Experience *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__Experience exs[N];
    Boussole__V1__UpdateExperienceRequest ue[N];
    const ProtobufCMessage *up[N];
    char titles[N][32];
    for (int i = 0; i < N; i++) {
        exs[i] = ex;
        exs[i].id = eid;
        exs[i].version = 1;
        snprintf(titles[i], sizeof(titles[i]), "Escalade %d", i);
        exs[i].title = titles[i];
        Boussole__V1__UpdateExperienceRequest r = BOUSSOLE__V1__UPDATE_EXPERIENCE_REQUEST__INIT;
        ue[i] = r;
        ue[i].experience = &exs[i];
        up[i] = &ue[i].base;
    }
    call_many("UpdateExperience", up, &b, N, st);
    assert_int_equal(count_status(st, N, BSL_STATUS_OK), 1);
    assert_int_equal(count_status(st, N, BSL_STATUS_ABORTED), N - 1);
    Boussole__V1__ListExperiencesRequest le = BOUSSOLE__V1__LIST_EXPERIENCES_REQUEST__INIT;
    le.bilan_id = id;
    assert_status(call("ListExperiences", &le.base, &c, &resp), BSL_STATUS_OK);
    Boussole__V1__ListExperiencesResponse *l = (Boussole__V1__ListExperiencesResponse *)resp;
    assert_int_equal(l->n_experiences, 1);
    assert_int_equal(l->experiences[0]->version, 2);
    for (int i = 0; i < N; i++) {
        if (st[i] == BSL_STATUS_OK) {
            assert_string_equal(l->experiences[0]->title, titles[i]);
        }
    }
    protobuf_c_message_free_unpacked(resp, NULL);

    /* The roadmap, set twice from version 0. */
    set_roadmap(id, 0);
    Boussole__V1__RoadmapTool tools[] = { BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_WORKSHOP };
    Boussole__V1__RoadmapStep s1 = BOUSSOLE__V1__ROADMAP_STEP__INIT;
    s1.phase = BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION;
    s1.title = "Atelier";
    s1.tools = tools;
    s1.n_tools = 1;
    s1.status = BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_PLANNED;
    Boussole__V1__RoadmapStep *steps[] = { &s1 };
    Boussole__V1__SetRoadmapRequest sr = BOUSSOLE__V1__SET_ROADMAP_REQUEST__INIT;
    sr.bilan_id = id;
    sr.version = 0;
    sr.steps = steps;
    sr.n_steps = 1;
    assert_status(call("SetRoadmap", &sr.base, &c, NULL), BSL_STATUS_ABORTED);
    Boussole__V1__GetRoadmapRequest gr = BOUSSOLE__V1__GET_ROADMAP_REQUEST__INIT;
    gr.bilan_id = id;
    assert_status(call("GetRoadmap", &gr.base, &c, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__Roadmap *)resp)->n_steps, 2);
    protobuf_c_message_free_unpacked(resp, NULL);
}

static void attendance_from_both_sides_at_once(void **state)
{
    (void)state;
    Boussole__V1__Caller b = beneficiary(), c = counselor(), a = admin();
    const char *id0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    char id[32], mid[32];
    snprintf(id, sizeof(id), "%s", id0);
    snprintf(mid, sizeof(mid), "%s", schedule(id, 0, -60, 45));
    Boussole__V1__ConfirmAttendanceRequest r = BOUSSOLE__V1__CONFIRM_ATTENDANCE_REQUEST__INIT;
    r.bilan_id = id;
    r.meeting_id = mid;
    const ProtobufCMessage *ptrs[N];
    for (int i = 0; i < N; i++) {
        ptrs[i] = &r.base;
    }
    /* Several confirmations from each side, interleaved: each side's first one writes, the
     * rest change nothing, and the minutes are counted exactly once. */
    bsl_status sb[N], scn[N];
    char full[128];
    snprintf(full, sizeof(full), SVC "ConfirmAttendance");
    many_slot slots[2 * N];
    int pending = 2 * N;
    for (int i = 0; i < 2 * N; i++) {
        slots[i] = (many_slot){ .pending = &pending };
        bsl_call_opts o = { .caller = i % 2 ? &c : &b };
        assert_int_equal(
            bsl_client_call(bsl_sync_client_client(sc), full, ptrs[i / 2], &o, on_many, &slots[i]),
            BSL_OK);
    }
    while (pending > 0) {
        ev_run(bsl_sync_client_loop(sc), EVRUN_ONCE);
    }
    for (int i = 0; i < N; i++) {
        sb[i] = slots[2 * i].status;
        scn[i] = slots[2 * i + 1].status;
    }
    assert_int_equal(count_status(sb, N, BSL_STATUS_OK), N);
    assert_int_equal(count_status(scn, N, BSL_STATUS_OK), N);
    Boussole__V1__Bilan *bl = get_bilan(id, &a);
    assert_int_equal(bl->spent_minutes, 45);
    protobuf_c_message_free_unpacked(&bl->base, NULL);
}

static void phase_changes_at_once(void **state)
{
    (void)state;
    Boussole__V1__Caller c = counselor();
    const char *id0 = bilan_ready_for_investigation();
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    Boussole__V1__AdvancePhaseRequest r = BOUSSOLE__V1__ADVANCE_PHASE_REQUEST__INIT;
    r.id = id;
    r.target = BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION;
    const ProtobufCMessage *ptrs[N];
    for (int i = 0; i < N; i++) {
        ptrs[i] = &r.base;
    }
    bsl_status st[N];
    call_many("AdvancePhase", ptrs, &c, N, st);
    assert_int_equal(count_status(st, N, BSL_STATUS_OK), N);
    Boussole__V1__ListPhaseTransitionsRequest lh =
        BOUSSOLE__V1__LIST_PHASE_TRANSITIONS_REQUEST__INIT;
    lh.id = id;
    ProtobufCMessage *resp = NULL;
    assert_status(call("ListPhaseTransitions", &lh.base, &c, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListPhaseTransitionsResponse *)resp)->n_transitions, 1);
    protobuf_c_message_free_unpacked(resp, NULL);
}

static void additions_at_once(void **state)
{
    (void)state;
    Boussole__V1__Caller b = beneficiary(), c = counselor();
    const char *id0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    /* Experiences are one sealed list per bilan: additions at the same moment each start
     * over until they get through, and none is lost. */
    Boussole__V1__Experience exs[N];
    Boussole__V1__AddExperienceRequest reqs[N];
    const ProtobufCMessage *ptrs[N];
    char titles[N][32];
    for (int i = 0; i < N; i++) {
        Boussole__V1__Experience e = BOUSSOLE__V1__EXPERIENCE__INIT;
        e.bilan_id = id;
        e.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_TRAINING;
        snprintf(titles[i], sizeof(titles[i]), "Formation %d", i);
        e.title = titles[i];
        exs[i] = e;
        Boussole__V1__AddExperienceRequest r = BOUSSOLE__V1__ADD_EXPERIENCE_REQUEST__INIT;
        reqs[i] = r;
        reqs[i].experience = &exs[i];
        ptrs[i] = &reqs[i].base;
    }
    bsl_status st[N];
    call_many("AddExperience", ptrs, &b, N, st);
    assert_int_equal(count_status(st, N, BSL_STATUS_OK), N);
    Boussole__V1__ListExperiencesRequest le = BOUSSOLE__V1__LIST_EXPERIENCES_REQUEST__INIT;
    le.bilan_id = id;
    ProtobufCMessage *resp = NULL;
    assert_status(call("ListExperiences", &le.base, &c, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListExperiencesResponse *)resp)->n_experiences, N);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__Bilan *bl = get_bilan(id, &c);
    assert_int_equal(bl->progress->experiences, N);
    protobuf_c_message_free_unpacked(&bl->base, NULL);
    /* Meetings scheduled at once are appended, all of them. */
    Boussole__V1__ScheduleMeetingRequest sm[N];
    for (int i = 0; i < N; i++) {
        Boussole__V1__ScheduleMeetingRequest r = BOUSSOLE__V1__SCHEDULE_MEETING_REQUEST__INIT;
        sm[i] = r;
        sm[i].bilan_id = id;
        sm[i].start_time = at_minutes(60 * (i + 1));
        sm[i].duration_minutes = 30;
        sm[i].mode = BOUSSOLE__V1__MEETING_MODE__MEETING_MODE_REMOTE;
        ptrs[i] = &sm[i].base;
    }
    call_many("ScheduleMeeting", ptrs, &c, N, st);
    assert_int_equal(count_status(st, N, BSL_STATUS_OK), N);
    Boussole__V1__ListMeetingsRequest lm = BOUSSOLE__V1__LIST_MEETINGS_REQUEST__INIT;
    lm.bilan_id = id;
    assert_status(call("ListMeetings", &lm.base, &c, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListMeetingsResponse *)resp)->n_meetings, N);
    protobuf_c_message_free_unpacked(resp, NULL);
}

static void same_answer_twice_at_once(void **state)
{
    (void)state;
    Boussole__V1__Caller a = admin(), b = beneficiary();
    const char *id0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_EMPLOYER_PLAN);
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    Boussole__V1__ProposeAgreementRequest pa = BOUSSOLE__V1__PROPOSE_AGREEMENT_REQUEST__INIT;
    pa.bilan_id = id;
    pa.employer_name = "Menuiserie Roux";
    pa.objective = "Objectif";
    pa.content = "Contenu";
    pa.means = "Moyens";
    pa.duration_hours = 20;
    pa.period_start = (char *)day(0);
    pa.period_end = (char *)day(50);
    pa.results_handover = "Remise en main propre";
    pa.price_cents = 150000;
    assert_status(call("ProposeAgreement", &pa.base, &a, NULL), BSL_STATUS_OK);
    /* A double click: the same acceptance several times at once, all answered OK. */
    Boussole__V1__RespondToAgreementRequest r = BOUSSOLE__V1__RESPOND_TO_AGREEMENT_REQUEST__INIT;
    r.bilan_id = id;
    r.revision = 1;
    r.accept = true;
    const ProtobufCMessage *ptrs[N];
    for (int i = 0; i < N; i++) {
        ptrs[i] = &r.base;
    }
    bsl_status st[N];
    call_many("RespondToAgreement", ptrs, &b, N, st);
    assert_int_equal(count_status(st, N, BSL_STATUS_OK), N);
    Boussole__V1__Bilan *bl = get_bilan(id, &b);
    assert_int_equal(bl->agreement_status,
                     BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_ACCEPTED);
    protobuf_c_message_free_unpacked(&bl->base, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bilan_updates),
        cmocka_unit_test(record_updates),
        cmocka_unit_test(attendance_from_both_sides_at_once),
        cmocka_unit_test(phase_changes_at_once),
        cmocka_unit_test(additions_at_once),
        cmocka_unit_test(same_answer_twice_at_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
