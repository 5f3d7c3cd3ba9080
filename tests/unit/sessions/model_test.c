/* The bilan's stored record and its public form (services/sessions/model.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "boussole/arena.h"
#include "boussole/pbutil.h"
#include "model.h"

#define ID "0123456789abcdefghjkmnpqrs"

static const char *names[] = {
    "beneficiary", "counselor", "organisation",  "funding", "planned_hours", "start_date",
    "end_date",    "status",    "phase",         "version", "create_ms",     "update_ms",
    "mm_1",        "om_1",      "mm_3",          "om_4",    "agr",           "agr_deadline",
    "n_meetings",  "intake",    "roadmap_steps", "mm_9",    "om_",           "unknown",
};
static const char *values[] = {
    "b-lea", "c-marie", "org",  "2",    "10", "2026-01-05", "2026-03-01", "1",
    "2",     "7",       "1000", "2000", "60", "45",         "30",         "15",
    "2",     "5000",    "3",    "1",    "4",  "999",        "999",        "x",
};

static void parse_and_convert(void **state)
{
    (void)state;
    sess_bilan b;
    size_t n = sizeof(names) / sizeof(names[0]);
    assert_true(sess_bilan_parse(&b, ID, names, values, n));
    assert_string_equal(b.beneficiary, "b-lea");
    assert_int_equal(b.funding, 2);
    assert_int_equal(b.planned_hours, 10);
    assert_int_equal(b.version, 7);
    assert_int_equal(b.meeting_minutes[1], 60);
    assert_int_equal(b.other_minutes[1], 45);
    assert_int_equal(b.meeting_minutes[3], 30);
    assert_int_equal(b.other_minutes[4], 15);
    /* Fields outside the layout (mm_9, om_) are ignored. */
    assert_int_equal(sess_spent_minutes(&b), 150);
    assert_int_equal(sess_planned_minutes(&b), 600);
    assert_int_equal(sess_remaining_minutes(&b), 450);
    assert_true(sess_agreement_required(&b));
    assert_true(b.intake);
    assert_string_equal(b.synthesis_id, "");

    bsl_arena *a = bsl_arena_create();
    Boussole__V1__Bilan *pb = sess_bilan_to_pb(a, &b, 4000);
    assert_non_null(pb);
    assert_string_equal(pb->id, ID);
    assert_int_equal(pb->phase, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION);
    assert_int_equal(pb->spent_minutes, 150);
    assert_int_equal(pb->remaining_minutes, 450);
    assert_int_equal(pb->agreement_status,
                     BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_PROPOSED);
    assert_int_equal(pb->progress->meetings, 3);
    assert_int_equal(pb->progress->roadmap_steps, 4);
    assert_null(pb->end_time);
    assert_null(pb->erase_time);
    assert_int_equal(bsl_pb_timestamp_ms(pb->create_time), 1000);
    /* Past the deadline, a proposal nobody answered has expired. */
    pb = sess_bilan_to_pb(a, &b, 6000);
    assert_int_equal(pb->agreement_status,
                     BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_EXPIRED);
    /* Spent beyond planned (planned hours lowered by hand in Redis): remaining stays 0. */
    b.planned_hours = 2;
    assert_int_equal(sess_remaining_minutes(&b), 0);
    bsl_arena_free(a);

    /* Not a bilan without its participants or status. */
    assert_false(sess_bilan_parse(&b, ID, names + 1, values + 1, n - 1));
    assert_false(sess_bilan_parse(&b, ID, names, values, 0));
}

static void agreement_status(void **state)
{
    (void)state;
    assert_int_equal(sess_agreement_status(0, 0, 5),
                     BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_NONE);
    assert_int_equal(sess_agreement_status(2, 100, 100),
                     BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_PROPOSED);
    assert_int_equal(sess_agreement_status(2, 100, 101),
                     BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_EXPIRED);
    assert_int_equal(sess_agreement_status(3, 100, 1000),
                     BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_ACCEPTED);
    assert_int_equal(sess_agreement_status(4, 100, 0),
                     BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_REFUSED);
    assert_int_equal(sess_agreement_status(42, 0, 0),
                     BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_NONE);
}

static void transitions(void **state)
{
    (void)state;
    bsl_arena *a = bsl_arena_create();
    Boussole__V1__PhaseTransition *t = sess_transition_parse(a, "2|3|1764000000123|2|c-marie|1|0");
    assert_non_null(t);
    assert_int_equal(t->from, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION);
    assert_int_equal(t->to, BOUSSOLE__V1__PHASE__PHASE_CONCLUSION);
    assert_int_equal(bsl_pb_timestamp_ms(t->time), 1764000000123LL);
    assert_int_equal(t->actor_role, BOUSSOLE__V1__ROLE__ROLE_COUNSELOR);
    assert_string_equal(t->actor_id, "c-marie");
    assert_true(t->questionnaire_waived);
    t = sess_transition_parse(a, "1|6|5|3|a-paul|0|2");
    assert_int_equal(t->cancel_reason,
                     BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_AGREEMENT_REFUSED);
    assert_null(sess_transition_parse(a, "1|2|3"));
    assert_null(sess_transition_parse(a, ""));
    bsl_arena_free(a);
}

static void cursors(void **state)
{
    (void)state;
    int64_t score = 0;
    char id[27];
    assert_true(sess_cursor_parse("1764000000000:" ID, &score, id));
    assert_int_equal(score, 1764000000000LL);
    assert_string_equal(id, ID);
    assert_false(sess_cursor_parse("", &score, id));
    assert_false(sess_cursor_parse(":" ID, &score, id));
    assert_false(sess_cursor_parse("12", &score, id));
    assert_false(sess_cursor_parse("-5:" ID, &score, id));
    assert_false(sess_cursor_parse("17640000000000000000:" ID, &score, id));
    assert_false(sess_cursor_parse("5:" ID "x", &score, id));
    assert_false(sess_cursor_parse("5:0123456789ABCDEFGHJKMNPQRS", &score, id));
}

static void days(void **state)
{
    (void)state;
    assert_int_equal(sess_day_of_ms(0), 0);
    assert_int_equal(sess_day_of_ms(86399999), 0);
    assert_int_equal(sess_day_of_ms(86400000), 1);
    assert_int_equal(sess_day_of_ms(-1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_and_convert),
        cmocka_unit_test(agreement_status),
        cmocka_unit_test(transitions),
        cmocka_unit_test(cursors),
        cmocka_unit_test(days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
