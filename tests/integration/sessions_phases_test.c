/*
 * Every refused transition, one guard at a time (FAILED_PRECONDITION with the violation that
 * names what is missing), the counselor's waiver, the declarative repeat, cancellation, and
 * the arguments AdvancePhase refuses outright.
 */
#include "sessions_helpers.h"

static int setup(void **state)
{
    (void)state;
    start_sessions("sessions-phases");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_sessions();
    return 0;
}

static Boussole__V1__FollowUpMeeting *follow_up_in(long long days)
{
    static Boussole__V1__FollowUpMeeting fu;
    boussole__v1__follow_up_meeting__init(&fu);
    fu.start_time = at_minutes(days * 24 * 60);
    fu.duration_minutes = 60;
    fu.mode = BOUSSOLE__V1__MEETING_MODE__MEETING_MODE_ON_SITE;
    return &fu;
}

static void expect_refused(const char *id, Boussole__V1__Phase target, const char *type,
                           size_t n_violations)
{
    Boussole__V1__FollowUpMeeting *fu =
        target == BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP ? follow_up_in(180) : NULL;
    assert_status(advance(id, target, false, fu), BSL_STATUS_FAILED_PRECONDITION);
    if (!has_precondition(type)) {
        fail_msg("expected %s in: %s", type, last_message());
    }
    assert_int_equal(n_preconditions(), n_violations);
}

static Boussole__V1__Phase phase_of(const char *id)
{
    Boussole__V1__Caller c = counselor();
    Boussole__V1__Bilan *b = get_bilan(id, &c);
    Boussole__V1__Phase p = b->phase;
    protobuf_c_message_free_unpacked(&b->base, NULL);
    return p;
}

static void order_is_enforced(void **state)
{
    (void)state;
    const char *id0 = bilan_ready_for_investigation();
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    /* Skipping phases, from the start. */
    expect_refused(id, BOUSSOLE__V1__PHASE__PHASE_CONCLUSION, "PHASE_ORDER", 1);
    expect_refused(id, BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP, "PHASE_ORDER", 1);
    expect_refused(id, BOUSSOLE__V1__PHASE__PHASE_CLOSED, "PHASE_ORDER", 1);
    assert_int_equal(phase_of(id), BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_OK);
    /* Going back. */
    expect_refused(id, BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY, "PHASE_ORDER", 1);
    /* Skipping the conclusion. */
    expect_refused(id, BOUSSOLE__V1__PHASE__PHASE_CLOSED, "PHASE_ORDER", 1);
    assert_int_equal(phase_of(id), BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION);
}

static void preliminary_guards_one_by_one(void **state)
{
    (void)state;
    Boussole__V1__Caller b = beneficiary();
    /* Only the intake missing. */
    const char *a0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_PERSONAL);
    char a[32];
    snprintf(a, sizeof(a), "%s", a0);
    set_roadmap(a, 0);
    expect_refused(a, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, "INTAKE_MISSING", 1);
    /* Only the roadmap missing. */
    const char *b0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_PERSONAL);
    char bid[32];
    snprintf(bid, sizeof(bid), "%s", b0);
    record_intake(bid, &b, 0);
    expect_refused(bid, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, "ROADMAP_MISSING", 1);
    /* Both, on an untouched bilan; a CPF bilan needs no agreement. */
    const char *c0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    char cid[32];
    snprintf(cid, sizeof(cid), "%s", c0);
    expect_refused(cid, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, "INTAKE_MISSING", 2);
    assert_true(has_precondition("ROADMAP_MISSING"));
    assert_false(has_precondition("AGREEMENT_NOT_ACCEPTED"));
    /* The employer's plan needs the agreement, whatever else is there. */
    const char *d0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_EMPLOYER_PLAN);
    char did[32];
    snprintf(did, sizeof(did), "%s", d0);
    record_intake(did, &b, 0);
    set_roadmap(did, 0);
    expect_refused(did, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, "AGREEMENT_NOT_ACCEPTED", 1);
    assert_int_equal(phase_of(did), BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY);
}

static void conclusion_needs_questionnaire_or_waiver(void **state)
{
    (void)state;
    const char *id0 = bilan_ready_for_investigation();
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_OK);
    expect_refused(id, BOUSSOLE__V1__PHASE__PHASE_CONCLUSION, "QUESTIONNAIRE_MISSING", 1);
    /* The counselor's explicit waiver lets it through, and the history keeps it. */
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CONCLUSION, true, NULL), BSL_STATUS_OK);
    Boussole__V1__Caller c = counselor();
    Boussole__V1__Bilan *b = get_bilan(id, &c);
    assert_true(b->progress->questionnaire_waived);
    assert_int_equal(b->progress->questionnaires_completed, 0);
    protobuf_c_message_free_unpacked(&b->base, NULL);
    Boussole__V1__ListPhaseTransitionsRequest lh =
        BOUSSOLE__V1__LIST_PHASE_TRANSITIONS_REQUEST__INIT;
    lh.id = id;
    ProtobufCMessage *resp = NULL;
    assert_status(call("ListPhaseTransitions", &lh.base, &c, &resp), BSL_STATUS_OK);
    Boussole__V1__ListPhaseTransitionsResponse *h =
        (Boussole__V1__ListPhaseTransitionsResponse *)resp;
    assert_int_equal(h->n_transitions, 2);
    assert_false(h->transitions[0]->questionnaire_waived);
    assert_true(h->transitions[1]->questionnaire_waived);
    assert_int_equal(h->transitions[1]->to, BOUSSOLE__V1__PHASE__PHASE_CONCLUSION);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Closing (directly, skipping the follow-up) and the follow-up both need the synthesis. */
    expect_refused(id, BOUSSOLE__V1__PHASE__PHASE_CLOSED, "SYNTHESIS_NOT_FINALISED", 1);
    expect_refused(id, BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP, "SYNTHESIS_NOT_FINALISED", 1);
    report_synthesis(id);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CLOSED, false, NULL), BSL_STATUS_OK);
    assert_int_equal(phase_of(id), BOUSSOLE__V1__PHASE__PHASE_CLOSED);
    /* Ended: nothing moves any more. */
    expect_refused(id, BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP, "BILAN_ENDED", 1);
}

static void follow_up_pending_until_met_or_cancelled(void **state)
{
    (void)state;
    const char *id0 = bilan_ready_for_investigation();
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_OK);
    report_questionnaire(id, "a00000000000000000000000ab");
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CONCLUSION, false, NULL), BSL_STATUS_OK);
    report_synthesis(id);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP, false, follow_up_in(180)),
                  BSL_STATUS_OK);
    expect_refused(id, BOUSSOLE__V1__PHASE__PHASE_CLOSED, "FOLLOW_UP_PENDING", 1);
    /* Calling the follow-up off lets the bilan close. */
    Boussole__V1__Caller c = counselor();
    Boussole__V1__Bilan *b = get_bilan(id, &c);
    Boussole__V1__CancelMeetingRequest cm = BOUSSOLE__V1__CANCEL_MEETING_REQUEST__INIT;
    cm.bilan_id = id;
    cm.meeting_id = b->follow_up_meeting_id;
    assert_status(call("CancelMeeting", &cm.base, &c, NULL), BSL_STATUS_OK);
    protobuf_c_message_free_unpacked(&b->base, NULL);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CLOSED, false, NULL), BSL_STATUS_OK);
}

static void cancellation(void **state)
{
    (void)state;
    Boussole__V1__Caller a = admin(), c = counselor(), s = service_caller();
    const char *id0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    Boussole__V1__CancelBilanRequest cb = BOUSSOLE__V1__CANCEL_BILAN_REQUEST__INIT;
    cb.id = id;
    /* A reason is required, and DATA_ERASED is the service's own. */
    assert_status(call("CancelBilan", &cb.base, &a, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("reason"));
    cb.reason = BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_DATA_ERASED;
    assert_status(call("CancelBilan", &cb.base, &a, NULL), BSL_STATUS_INVALID_ARGUMENT);
    cb.reason = BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_BENEFICIARY_WITHDREW;
    ProtobufCMessage *resp = NULL;
    assert_status(call("CancelBilan", &cb.base, &c, &resp), BSL_STATUS_OK);
    Boussole__V1__Bilan *b = (Boussole__V1__Bilan *)resp;
    assert_int_equal(b->phase, BOUSSOLE__V1__PHASE__PHASE_CANCELLED);
    assert_int_equal(b->status, BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_CANCELLED);
    assert_int_equal(b->cancel_reason,
                     BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_BENEFICIARY_WITHDREW);
    long long end_ms = bsl_pb_timestamp_ms(b->end_time);
    uint64_t version = b->version;
    protobuf_c_message_free_unpacked(resp, NULL);
    /* A repeat (even with another reason) changes nothing. */
    cb.reason = BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_OTHER;
    assert_status(call("CancelBilan", &cb.base, &a, &resp), BSL_STATUS_OK);
    b = (Boussole__V1__Bilan *)resp;
    assert_int_equal(b->version, version);
    assert_int_equal(bsl_pb_timestamp_ms(b->end_time), end_ms);
    assert_int_equal(b->cancel_reason,
                     BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_BENEFICIARY_WITHDREW);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* The history has it, and the retention sweep will find it. */
    Boussole__V1__ListPhaseTransitionsRequest lh =
        BOUSSOLE__V1__LIST_PHASE_TRANSITIONS_REQUEST__INIT;
    lh.id = id;
    assert_status(call("ListPhaseTransitions", &lh.base, &a, &resp), BSL_STATUS_OK);
    Boussole__V1__ListPhaseTransitionsResponse *h =
        (Boussole__V1__ListPhaseTransitionsResponse *)resp;
    assert_int_equal(h->n_transitions, 1);
    assert_int_equal(h->transitions[0]->from, BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY);
    assert_int_equal(h->transitions[0]->to, BOUSSOLE__V1__PHASE__PHASE_CANCELLED);
    assert_string_equal(h->transitions[0]->actor_id, "c-marie");
    assert_int_equal(h->transitions[0]->cancel_reason,
                     BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_BENEFICIARY_WITHDREW);
    protobuf_c_message_free_unpacked(resp, NULL);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "ZSCORE bilans:ended %s", id);
    char *score = te_redis_cli(&env, cmd);
    assert_int_equal(atoll(score), end_ms);
    free(score);
    /* A repeat puts it back among ended bilans if a first attempt stopped before. */
    snprintf(cmd, sizeof(cmd), "ZREM bilans:ended %s", id);
    free(te_redis_cli(&env, cmd));
    assert_status(call("CancelBilan", &cb.base, &a, NULL), BSL_STATUS_OK);
    snprintf(cmd, sizeof(cmd), "ZSCORE bilans:ended %s", id);
    score = te_redis_cli(&env, cmd);
    assert_int_equal(atoll(score), end_ms);
    free(score);
    /* Cancelled: nothing moves. */
    expect_refused(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, "BILAN_ENDED", 1);
    Boussole__V1__GetBilanAccessRequest ga = BOUSSOLE__V1__GET_BILAN_ACCESS_REQUEST__INIT;
    ga.bilan_id = id;
    assert_status(call("GetBilanAccess", &ga.base, &s, &resp), BSL_STATUS_OK);
    assert_int_equal(bsl_pb_timestamp_ms(((Boussole__V1__BilanAccess *)resp)->end_time), end_ms);
    protobuf_c_message_free_unpacked(resp, NULL);
}

static void bad_arguments(void **state)
{
    (void)state;
    const char *id0 = bilan_ready_for_investigation();
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CANCELLED, false, NULL),
                  BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("target"));
    assert_status(advance(id, 0, false, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("target"));
    assert_status(advance(id, (Boussole__V1__Phase)42, false, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, true, NULL),
                  BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("waive_questionnaire"));
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP, false, NULL),
                  BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("follow_up"));
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP, false, follow_up_in(-1)),
                  BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("follow_up.start_time"));
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, follow_up_in(10)),
                  BSL_STATUS_INVALID_ARGUMENT);
    assert_status(advance("not-an-id", BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("id"));
    assert_status(advance(NO_SUCH_ID, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_NOT_FOUND);
    /* None of that moved the bilan. */
    assert_int_equal(phase_of(id), BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_is_enforced),
        cmocka_unit_test(preliminary_guards_one_by_one),
        cmocka_unit_test(conclusion_needs_questionnaire_or_waiver),
        cmocka_unit_test(follow_up_pending_until_met_or_cancelled),
        cmocka_unit_test(cancellation),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
