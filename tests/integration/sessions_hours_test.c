/*
 * The hours ledger and its ceiling: the planned hours (at most the legal 24) are never
 * exceeded, by attended meetings or by other accompanied time, not even by calls racing each
 * other; minutes go back when an entry is removed.
 */
#include "sessions_helpers.h"

static int setup(void **state)
{
    (void)state;
    start_sessions("sessions-hours");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_sessions();
    return 0;
}

static Boussole__V1__RecordAccompaniedTimeRequest time_req(const char *id, uint32_t minutes)
{
    Boussole__V1__RecordAccompaniedTimeRequest r =
        BOUSSOLE__V1__RECORD_ACCOMPANIED_TIME_REQUEST__INIT;
    r.bilan_id = (char *)id;
    r.date = (char *)day(-1);
    r.minutes = minutes;
    r.activity = BOUSSOLE__V1__ACCOMPANIED_ACTIVITY__ACCOMPANIED_ACTIVITY_PHONE_CALL;
    return r;
}

static Boussole__V1__HoursLedger *ledger(const char *id)
{
    Boussole__V1__GetHoursLedgerRequest g = BOUSSOLE__V1__GET_HOURS_LEDGER_REQUEST__INIT;
    g.bilan_id = (char *)id;
    Boussole__V1__Caller a = admin();
    ProtobufCMessage *resp = NULL;
    assert_status(call("GetHoursLedger", &g.base, &a, &resp), BSL_STATUS_OK);
    return (Boussole__V1__HoursLedger *)resp;
}

static void twenty_four_hours_at_most(void **state)
{
    (void)state;
    Boussole__V1__Caller c = counselor(), a = admin();
    /* More than 24 planned hours is refused at creation and at update. */
    Boussole__V1__CreateBilanRequest cr = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    cr.beneficiary_id = "b-lea";
    cr.organisation_id = ORG;
    cr.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    cr.planned_hours = 25;
    cr.start_date = (char *)day(-10);
    cr.end_date = (char *)day(60);
    assert_status(call("CreateBilan", &cr.base, &c, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("planned_hours"));

    const char *id0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    Boussole__V1__Bilan *bl = get_bilan(id, &a);
    Boussole__V1__UpdateBilanRequest u = BOUSSOLE__V1__UPDATE_BILAN_REQUEST__INIT;
    u.id = id;
    u.version = bl->version;
    u.planned_hours = 25;
    protobuf_c_message_free_unpacked(&bl->base, NULL);
    assert_status(call("UpdateBilan", &u.base, &a, NULL), BSL_STATUS_INVALID_ARGUMENT);

    /* 24 hours in three full days of work... */
    for (int i = 0; i < 3; i++) {
        Boussole__V1__RecordAccompaniedTimeRequest r = time_req(id, 480);
        assert_status(call("RecordAccompaniedTime", &r.base, &c, NULL), BSL_STATUS_OK);
    }
    /* ...and not one minute more, nor a meeting. */
    Boussole__V1__RecordAccompaniedTimeRequest one = time_req(id, 1);
    assert_status(call("RecordAccompaniedTime", &one.base, &c, NULL),
                  BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("HOURS_CEILING"));
    Boussole__V1__ScheduleMeetingRequest sm = BOUSSOLE__V1__SCHEDULE_MEETING_REQUEST__INIT;
    sm.bilan_id = id;
    sm.start_time = at_minutes(60);
    sm.duration_minutes = 15;
    sm.mode = BOUSSOLE__V1__MEETING_MODE__MEETING_MODE_REMOTE;
    assert_status(call("ScheduleMeeting", &sm.base, &c, NULL), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("HOURS_CEILING"));
    Boussole__V1__HoursLedger *l = ledger(id);
    assert_int_equal(l->planned_minutes, 1440);
    assert_int_equal(l->spent_minutes, 1440);
    assert_int_equal(l->remaining_minutes, 0);
    assert_int_equal(l->n_accompanied_time, 3);
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

static void meetings_count_once_attended(void **state)
{
    (void)state;
    Boussole__V1__Caller c = counselor(), b = beneficiary(), a = admin();
    /* Two planned hours. */
    const char *id0 = new_bilan_for("b-lea", "c-marie", BOUSSOLE__V1__FUNDING__FUNDING_PERSONAL, 2);
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    Boussole__V1__RecordAccompaniedTimeRequest r = time_req(id, 60);
    assert_status(call("RecordAccompaniedTime", &r.base, &c, NULL), BSL_STATUS_OK);
    /* A 90-minute meeting cannot fit in the 60 minutes left. */
    Boussole__V1__ScheduleMeetingRequest sm = BOUSSOLE__V1__SCHEDULE_MEETING_REQUEST__INIT;
    sm.bilan_id = id;
    sm.start_time = at_minutes(-120);
    sm.duration_minutes = 90;
    sm.mode = BOUSSOLE__V1__MEETING_MODE__MEETING_MODE_ON_SITE;
    assert_status(call("ScheduleMeeting", &sm.base, &c, NULL), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("HOURS_CEILING"));
    /* Two 60-minute meetings are planned; only attended minutes count. */
    char m1[32], m2[32];
    snprintf(m1, sizeof(m1), "%s", schedule(id, 0, -180, 60));
    snprintf(m2, sizeof(m2), "%s", schedule(id, 0, -60, 60));
    Boussole__V1__HoursLedger *l = ledger(id);
    assert_int_equal(l->spent_minutes, 60);
    assert_int_equal(l->n_attended_meetings, 0);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    /* A meeting not begun cannot be signed in. */
    char later[32];
    Boussole__V1__UpdateBilanRequest u = BOUSSOLE__V1__UPDATE_BILAN_REQUEST__INIT;
    Boussole__V1__Bilan *bl = get_bilan(id, &a);
    u.id = id;
    u.version = bl->version;
    u.planned_hours = 3;
    protobuf_c_message_free_unpacked(&bl->base, NULL);
    assert_status(call("UpdateBilan", &u.base, &a, NULL), BSL_STATUS_OK);
    snprintf(later, sizeof(later), "%s", schedule(id, 0, 24 * 60, 30));
    assert_status(confirm(id, later, &b, NULL), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("MEETING_NOT_STARTED"));
    /* Back to two hours: the first meeting fills them. */
    bl = get_bilan(id, &a);
    u.version = bl->version;
    u.planned_hours = 2;
    protobuf_c_message_free_unpacked(&bl->base, NULL);
    assert_status(call("UpdateBilan", &u.base, &a, NULL), BSL_STATUS_OK);
    assert_status(confirm(id, m1, &b, NULL), BSL_STATUS_OK);
    assert_status(confirm(id, m1, &c, NULL), BSL_STATUS_OK);
    /* The second would go beyond: its second signature is refused, nothing counted. */
    assert_status(confirm(id, m2, &b, NULL), BSL_STATUS_OK);
    assert_status(confirm(id, m2, &c, NULL), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("HOURS_CEILING"));
    l = ledger(id);
    assert_int_equal(l->spent_minutes, 120);
    assert_int_equal(l->remaining_minutes, 0);
    assert_int_equal(l->n_attended_meetings, 1);
    assert_string_equal(l->attended_meetings[0]->id, m1);
    assert_int_equal(l->phases[0]->meeting_minutes, 60);
    assert_int_equal(l->phases[0]->other_minutes, 60);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    /* Planned hours cannot go below what was spent. */
    bl = get_bilan(id, &a);
    u.version = bl->version;
    u.planned_hours = 1;
    protobuf_c_message_free_unpacked(&bl->base, NULL);
    assert_status(call("UpdateBilan", &u.base, &a, NULL), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("HOURS_ALREADY_SPENT"));
    /* Removing the other time gives its minutes back; removing it again changes nothing. */
    l = ledger(id);
    char entry[32];
    snprintf(entry, sizeof(entry), "%s", l->accompanied_time[0]->id);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    Boussole__V1__RemoveAccompaniedTimeRequest rm =
        BOUSSOLE__V1__REMOVE_ACCOMPANIED_TIME_REQUEST__INIT;
    rm.bilan_id = id;
    rm.entry_id = entry;
    assert_status(call("RemoveAccompaniedTime", &rm.base, &c, NULL), BSL_STATUS_OK);
    assert_status(call("RemoveAccompaniedTime", &rm.base, &c, NULL), BSL_STATUS_OK);
    l = ledger(id);
    assert_int_equal(l->spent_minutes, 60);
    assert_int_equal(l->n_accompanied_time, 0);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    assert_status(confirm(id, m2, &c, NULL), BSL_STATUS_OK);
    l = ledger(id);
    assert_int_equal(l->spent_minutes, 120);
    assert_int_equal(l->n_attended_meetings, 2);
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

static void racing_calls_keep_the_ceiling(void **state)
{
    (void)state;
    Boussole__V1__Caller c = counselor();
    /* One planned hour, twelve 10-minute entries sent at once: exactly six fit. */
    const char *id0 = new_bilan_for("b-lea", "c-marie", BOUSSOLE__V1__FUNDING__FUNDING_CPF, 1);
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    enum { N = 12 };
    Boussole__V1__RecordAccompaniedTimeRequest reqs[N];
    const ProtobufCMessage *ptrs[N];
    for (int i = 0; i < N; i++) {
        reqs[i] = time_req(id, 10);
        ptrs[i] = &reqs[i].base;
    }
    bsl_status st[N];
    call_many("RecordAccompaniedTime", ptrs, &c, N, st);
    assert_int_equal(count_status(st, N, BSL_STATUS_OK), 6);
    assert_int_equal(count_status(st, N, BSL_STATUS_FAILED_PRECONDITION), 6);
    Boussole__V1__HoursLedger *l = ledger(id);
    assert_int_equal(l->spent_minutes, 60);
    assert_int_equal(l->n_accompanied_time, 6);
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

static void bad_entries(void **state)
{
    (void)state;
    Boussole__V1__Caller c = counselor();
    const char *id0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    Boussole__V1__RecordAccompaniedTimeRequest r = time_req(id, 0);
    assert_status(call("RecordAccompaniedTime", &r.base, &c, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("minutes"));
    r = time_req(id, 481);
    r.activity = 0;
    assert_status(call("RecordAccompaniedTime", &r.base, &c, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("minutes"));
    assert_true(has_field_violation("activity"));
    r = time_req(id, 30);
    r.date = (char *)day(2);
    assert_status(call("RecordAccompaniedTime", &r.base, &c, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("date"));
    r.date = (char *)day(-31);
    assert_status(call("RecordAccompaniedTime", &r.base, &c, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("date"));
    r.date = "2026-02-30";
    assert_status(call("RecordAccompaniedTime", &r.base, &c, NULL), BSL_STATUS_INVALID_ARGUMENT);
    r = time_req(id, 30);
    r.phase = BOUSSOLE__V1__PHASE__PHASE_CONCLUSION;
    assert_status(call("RecordAccompaniedTime", &r.base, &c, NULL), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("PHASE_ORDER"));
    r.phase = BOUSSOLE__V1__PHASE__PHASE_CLOSED;
    assert_status(call("RecordAccompaniedTime", &r.base, &c, NULL), BSL_STATUS_INVALID_ARGUMENT);
    Boussole__V1__HoursLedger *l = ledger(id);
    assert_int_equal(l->spent_minutes, 0);
    assert_int_equal(l->n_accompanied_time, 0);
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(twenty_four_hours_at_most),
        cmocka_unit_test(meetings_count_once_attended),
        cmocka_unit_test(racing_calls_keep_the_ceiling),
        cmocka_unit_test(bad_entries),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
