/*
 * The tripartite agreement and its 10-day deadline, with the service's clock moved forward:
 * silence is refusal, a refused or expired agreement may be proposed again, an accepted one is
 * final, and the investigation waits for it.
 */
#include "sessions_helpers.h"

static int setup(void **state)
{
    (void)state;
    start_sessions("sessions-agreement");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    move_clock(0);
    stop_sessions();
    return 0;
}

/* A bilan funded by the employer's plan with its intake and roadmap (static ring). */
static const char *employer_bilan(void)
{
    static char ids[4][32];
    static int next;
    char *id = ids[next++ % 4];
    snprintf(id, 32, "%s", new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_EMPLOYER_PLAN));
    Boussole__V1__Caller b = beneficiary();
    record_intake(id, &b, 0);
    set_roadmap(id, 0);
    return id;
}

static bsl_status propose(const char *id, const Boussole__V1__Caller *c, uint32_t *revision)
{
    Boussole__V1__ProposeAgreementRequest pa = BOUSSOLE__V1__PROPOSE_AGREEMENT_REQUEST__INIT;
    pa.bilan_id = (char *)id;
    pa.employer_name = "Boulangeries Martin";
    pa.objective = "Faire le point sur les compétences et envisager une évolution.";
    pa.content = "Trois phases et un entretien de suivi.";
    pa.means = "Entretiens, questionnaires, enquêtes.";
    pa.duration_hours = 20;
    pa.period_start = (char *)day(0);
    pa.period_end = (char *)day(60);
    pa.results_handover = "Synthèse remise au seul bénéficiaire.";
    pa.price_cents = 150000;
    ProtobufCMessage *resp = NULL;
    bsl_status st = call("ProposeAgreement", &pa.base, c, &resp);
    if (st == BSL_STATUS_OK && revision != NULL) {
        *revision = ((Boussole__V1__Agreement *)resp)->revision;
    }
    if (resp != NULL) {
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return st;
}

static bsl_status respond(const char *id, uint32_t revision, bool accept)
{
    Boussole__V1__RespondToAgreementRequest ra = BOUSSOLE__V1__RESPOND_TO_AGREEMENT_REQUEST__INIT;
    ra.bilan_id = (char *)id;
    ra.revision = revision;
    ra.accept = accept;
    Boussole__V1__Caller b = beneficiary();
    return call("RespondToAgreement", &ra.base, &b, NULL);
}

static Boussole__V1__AgreementStatus status_seen(const char *id)
{
    Boussole__V1__GetAgreementRequest g = BOUSSOLE__V1__GET_AGREEMENT_REQUEST__INIT;
    g.bilan_id = (char *)id;
    Boussole__V1__Caller b = beneficiary();
    ProtobufCMessage *resp = NULL;
    assert_status(call("GetAgreement", &g.base, &b, &resp), BSL_STATUS_OK);
    Boussole__V1__AgreementStatus st = ((Boussole__V1__Agreement *)resp)->status;
    protobuf_c_message_free_unpacked(resp, NULL);
    /* The bilan says the same. */
    Boussole__V1__Bilan *bl = get_bilan(id, &b);
    assert_int_equal(bl->agreement_status, st);
    protobuf_c_message_free_unpacked(&bl->base, NULL);
    return st;
}

static void silence_is_refusal(void **state)
{
    (void)state;
    move_clock(0);
    Boussole__V1__Caller c = counselor();
    const char *id = employer_bilan();
    uint32_t rev = 0;
    assert_status(propose(id, &c, &rev), BSL_STATUS_OK);
    assert_int_equal(rev, 1);
    /* Nine days and 23 hours later it still waits. */
    move_clock(10 * DAY_MS - 3600 * 1000LL);
    assert_int_equal(status_seen(id), BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_PROPOSED);
    /* Past ten days without an answer: expired, and too late to accept. */
    move_clock(10 * DAY_MS + 60 * 1000LL);
    assert_int_equal(status_seen(id), BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_EXPIRED);
    assert_status(respond(id, 1, true), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("AGREEMENT_EXPIRED"));
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("AGREEMENT_NOT_ACCEPTED"));
    assert_int_equal(n_preconditions(), 1);
    assert_non_null(strstr(last_message(), "AGREEMENT_NOT_ACCEPTED"));
    /* A new proposal starts a new ten days; the old revision no longer answers. */
    assert_status(propose(id, &c, &rev), BSL_STATUS_OK);
    assert_int_equal(rev, 2);
    assert_status(respond(id, 1, true), BSL_STATUS_ABORTED);
    move_clock(19 * DAY_MS);
    assert_int_equal(status_seen(id), BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_PROPOSED);
    assert_status(respond(id, 2, true), BSL_STATUS_OK);
    assert_int_equal(status_seen(id), BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_ACCEPTED);
    /* Accepted stays accepted, whatever the clock says, and opens the investigation. */
    move_clock(40 * DAY_MS);
    assert_int_equal(status_seen(id), BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_ACCEPTED);
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_OK);
    move_clock(0);
}

static void refusal_then_new_proposal(void **state)
{
    (void)state;
    move_clock(0);
    Boussole__V1__Caller a = admin();
    const char *id = employer_bilan();
    uint32_t rev = 0;
    assert_status(propose(id, &a, &rev), BSL_STATUS_OK);
    assert_status(respond(id, rev, false), BSL_STATUS_OK);
    assert_int_equal(status_seen(id), BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_REFUSED);
    /* Refusing again is harmless; accepting after refusing is not possible. */
    assert_status(respond(id, rev, false), BSL_STATUS_OK);
    assert_status(respond(id, rev, true), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("AGREEMENT_ANSWERED"));
    assert_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false, NULL),
                  BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("AGREEMENT_NOT_ACCEPTED"));
    assert_status(propose(id, &a, &rev), BSL_STATUS_OK);
    assert_int_equal(rev, 2);
    assert_status(respond(id, 2, true), BSL_STATUS_OK);
    /* An accepted agreement is final. */
    assert_status(propose(id, &a, &rev), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("AGREEMENT_ACCEPTED"));
}

static void only_for_the_employer_plan(void **state)
{
    (void)state;
    Boussole__V1__Caller c = counselor(), b = beneficiary();
    const char *id0 = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    assert_status(propose(id, &c, NULL), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition("AGREEMENT_NOT_REQUIRED"));
    Boussole__V1__GetAgreementRequest g = BOUSSOLE__V1__GET_AGREEMENT_REQUEST__INIT;
    g.bilan_id = id;
    assert_status(call("GetAgreement", &g.base, &b, NULL), BSL_STATUS_NOT_FOUND);
    assert_status(respond(id, 1, true), BSL_STATUS_NOT_FOUND);
    /* Funding changed to the employer's plan during the preliminary phase: now required. */
    Boussole__V1__Bilan *bl = get_bilan(id, &c);
    Boussole__V1__UpdateBilanRequest u = BOUSSOLE__V1__UPDATE_BILAN_REQUEST__INIT;
    u.id = id;
    u.version = bl->version;
    u.funding = BOUSSOLE__V1__FUNDING__FUNDING_EMPLOYER_PLAN;
    protobuf_c_message_free_unpacked(&bl->base, NULL);
    ProtobufCMessage *resp = NULL;
    assert_status(call("UpdateBilan", &u.base, &c, &resp), BSL_STATUS_OK);
    assert_true(((Boussole__V1__Bilan *)resp)->agreement_required);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_status(propose(id, &c, NULL), BSL_STATUS_OK);
    /* The beneficiary answers it; nobody else proposes or answers for them. */
    assert_status(propose(id, &b, NULL), BSL_STATUS_PERMISSION_DENIED);
    Boussole__V1__RespondToAgreementRequest ra = BOUSSOLE__V1__RESPOND_TO_AGREEMENT_REQUEST__INIT;
    ra.bilan_id = id;
    ra.revision = 1;
    ra.accept = true;
    assert_status(call("RespondToAgreement", &ra.base, &c, NULL), BSL_STATUS_PERMISSION_DENIED);
    /* Bad terms are refused field by field, and nothing is proposed. */
    Boussole__V1__ProposeAgreementRequest pa = BOUSSOLE__V1__PROPOSE_AGREEMENT_REQUEST__INIT;
    pa.bilan_id = id;
    pa.employer_name = "";
    pa.objective = "x";
    pa.content = "x";
    pa.means = "x";
    pa.duration_hours = 25;
    pa.period_start = (char *)day(10);
    pa.period_end = (char *)day(5);
    pa.results_handover = "x";
    pa.price_cents = 100000001;
    assert_status(call("ProposeAgreement", &pa.base, &c, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("employer_name"));
    assert_true(has_field_violation("duration_hours"));
    assert_true(has_field_violation("period_end"));
    assert_true(has_field_violation("price_cents"));
    g.bilan_id = id;
    assert_status(call("GetAgreement", &g.base, &b, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__Agreement *)resp)->revision, 1);
    assert_string_equal(((Boussole__V1__Agreement *)resp)->employer_name, "Boulangeries Martin");
    protobuf_c_message_free_unpacked(resp, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(silence_is_refusal),
        cmocka_unit_test(refusal_then_new_proposal),
        cmocka_unit_test(only_for_the_employer_plan),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
