/*
 * The permission matrix of the questionnaires service (services/questionnaires/README.md),
 * cell by cell, through the real processes: every method against eight callers (the
 * beneficiary, their counselor, an admin of the organisation, another beneficiary, another
 * counselor of the organisation, an admin of another organisation, a relative without an
 * account, and a Boussole service). Outsiders get NOT_FOUND, participants whose role may not do
 * something PERMISSION_DENIED, callers without credentials UNAUTHENTICATED.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boussole/client.h"
#include "boussole/service.h"
#include "boussole/v1/questionnaires.pb-c.h"
#include "boussole/v1/sessions.pb-c.h"
#include "testenv.h"

static te_env env;
static te_proc sessions, qn;
static bsl_sync_client *sc_sessions, *sc;

#define ORG "org-lumiere"
#define SVC "boussole.v1.QuestionnaireService/"

enum { BEN, COU, ADM, BEN2, COU2, ADM2, REL, SRV, N_CALLERS };
static const char *const caller_names[N_CALLERS] = {
    "beneficiary",           "counselor",       "admin",
    "other beneficiary",     "other counselor", "admin of another organisation",
    "relative (no account)", "service",
};

static Boussole__V1__Caller callers[N_CALLERS];

/* The state the matrix runs against. */
static char bilan[64], asg_custom[64], asg_riasec[64], token[80], inv[64];

#define OK BSL_STATUS_OK
#define PD BSL_STATUS_PERMISSION_DENIED
#define NF BSL_STATUS_NOT_FOUND
#define UA BSL_STATUS_UNAUTHENTICATED
#define FP BSL_STATUS_FAILED_PRECONDITION

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "questionnaires-permissions");
    te_redis_start(&env);
    te_service_start(&env, &sessions, "sessions", NULL);
    char peer[200];
    snprintf(peer, sizeof(peer), "--sessions-url=%s", sessions.url);
    const char *args[] = { peer, NULL };
    te_service_start(&env, &qn, "questionnaires", args);
    sc_sessions = te_client(sessions.url);
    sc = te_client(qn.url);
    callers[BEN] = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-lea", "");
    callers[COU] = te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-marie", ORG);
    callers[ADM] = te_caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-anne", ORG);
    callers[BEN2] = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-other", "");
    callers[COU2] = te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-paul", ORG);
    callers[ADM2] = te_caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-zed", "org-other");
    callers[SRV] = te_caller(BOUSSOLE__V1__ROLE__ROLE_SERVICE, "syntheses", "");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bsl_sync_client_free(sc);
    bsl_sync_client_free(sc_sessions);
    te_fini(&env);
    return 0;
}

static bsl_status call_as(int who, const char *method, const ProtobufCMessage *req,
                          const char *idem, ProtobufCMessage **resp, char *msg)
{
    char full[128];
    snprintf(full, sizeof(full), SVC "%s", method);
    bsl_call_opts o = { .caller = who == REL ? NULL : &callers[who], .idempotency_key = idem };
    return bsl_sync_call(sc, full, req, &o, resp, msg, 512);
}

static void must(bsl_status st, const char *what, const char *msg)
{
    if (st != OK) {
        fail_msg("%s: %d %s", what, st, msg);
    }
}

static void prepare(void)
{
    char msg[512];
    ProtobufCMessage *resp = NULL;
    /* The bilan. */
    Boussole__V1__CreateBilanRequest cb = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    cb.beneficiary_id = "b-lea";
    cb.organisation_id = ORG;
    cb.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    cb.planned_hours = 20;
    cb.start_date = "2026-12-01";
    cb.end_date = "2027-02-28";
    bsl_call_opts o = { .caller = &callers[COU], .idempotency_key = "perm-bilan" };
    must(bsl_sync_call(sc_sessions, "boussole.v1.SessionService/CreateBilan", &cb.base, &o, &resp,
                       msg, sizeof(msg)),
         "CreateBilan", msg);
    snprintf(bilan, sizeof(bilan), "%s", ((Boussole__V1__Bilan *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* A one-item instrument of the organisation, assigned. */
    static char *labels[2] = { "Non", "Oui" };
    Boussole__V1__Section sec = BOUSSOLE__V1__SECTION__INIT;
    sec.id = "s";
    sec.title = "Question";
    Boussole__V1__Section *secs[1] = { &sec };
    Boussole__V1__Item item = BOUSSOLE__V1__ITEM__INIT;
    item.id = "q1";
    item.kind = BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT;
    item.section_id = "s";
    item.text = "Êtes-vous prêt(e) ?";
    item.required = true;
    item.likert_min = 0;
    item.likert_max = 1;
    item.likert_labels = labels;
    item.n_likert_labels = 2;
    Boussole__V1__Item *items[1] = { &item };
    Boussole__V1__Instrument ins = BOUSSOLE__V1__INSTRUMENT__INIT;
    ins.language = "fr";
    ins.purpose = BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_OTHER;
    ins.title = "Prêt";
    ins.sections = secs;
    ins.n_sections = 1;
    ins.items = items;
    ins.n_items = 1;
    Boussole__V1__CreateInstrumentRequest ci = BOUSSOLE__V1__CREATE_INSTRUMENT_REQUEST__INIT;
    ci.instrument = &ins;
    must(call_as(COU, "CreateInstrument", &ci.base, "perm-ins", &resp, msg), "CreateInstrument",
         msg);
    char ins_id[64];
    snprintf(ins_id, sizeof(ins_id), "%s", ((Boussole__V1__Instrument *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__AssignInstrumentRequest ai = BOUSSOLE__V1__ASSIGN_INSTRUMENT_REQUEST__INIT;
    ai.bilan_id = bilan;
    ai.instrument_id = ins_id;
    must(call_as(COU, "AssignInstrument", &ai.base, "perm-asg-1", &resp, msg), "Assign", msg);
    snprintf(asg_custom, sizeof(asg_custom), "%s", ((Boussole__V1__Assignment *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* A RIASEC assignment answered and submitted (all 3s, I at 5), for matching. */
    ai.instrument_id = "riasec";
    must(call_as(COU, "AssignInstrument", &ai.base, "perm-asg-2", &resp, msg), "Assign", msg);
    snprintf(asg_riasec, sizeof(asg_riasec), "%s", ((Boussole__V1__Assignment *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__Answer answers[48];
    Boussole__V1__Answer *ptrs[48];
    char ids[48][8];
    for (int t = 0, k = 0; t < 6; t++) {
        for (int n = 1; n <= 8; n++, k++) {
            snprintf(ids[k], 8, "%c%d", "riasec"[t], n);
            boussole__v1__answer__init(&answers[k]);
            answers[k].item_id = ids[k];
            answers[k].value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
            answers[k].likert = t == 1 ? (n == 8 ? 1 : 5) : 3;
            ptrs[k] = &answers[k];
        }
    }
    Boussole__V1__SaveAnswersRequest sa = BOUSSOLE__V1__SAVE_ANSWERS_REQUEST__INIT;
    sa.bilan_id = bilan;
    sa.assignment_id = asg_riasec;
    sa.answers = ptrs;
    sa.n_answers = 48;
    must(call_as(BEN, "SaveAnswers", &sa.base, NULL, NULL, msg), "SaveAnswers", msg);
    Boussole__V1__SubmitAnswersRequest su = BOUSSOLE__V1__SUBMIT_ANSWERS_REQUEST__INIT;
    su.bilan_id = bilan;
    su.assignment_id = asg_riasec;
    must(call_as(BEN, "SubmitAnswers", &su.base, NULL, &resp, msg), "SubmitAnswers", msg);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* A pending invitation. */
    Boussole__V1__Relative rel = BOUSSOLE__V1__RELATIVE__INIT;
    rel.name = "Paul";
    rel.relation = "ami";
    rel.contact = "paul@example.org";
    Boussole__V1__InviteRelativeRequest ir = BOUSSOLE__V1__INVITE_RELATIVE_REQUEST__INIT;
    ir.bilan_id = bilan;
    ir.relative = &rel;
    must(call_as(BEN, "InviteRelative", &ir.base, "perm-inv", &resp, msg), "Invite", msg);
    Boussole__V1__InviteRelativeResponse *r = (Boussole__V1__InviteRelativeResponse *)resp;
    snprintf(token, sizeof(token), "%s", r->token);
    snprintf(inv, sizeof(inv), "%s", r->invitation->id);
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* One row of the matrix: a method, its request, whether it needs an idempotency key, and the
 * expected status for each caller. */
typedef struct row {
    const char *method;
    const ProtobufCMessage *req;
    bool keyed;
    bsl_status want[N_CALLERS];
} row;

static void run_row(const row *r, int n)
{
    for (int who = 0; who < N_CALLERS; who++) {
        char key[64], msg[512];
        snprintf(key, sizeof(key), "perm-%d-%d", n, who);
        ProtobufCMessage *resp = NULL;
        bsl_status got = call_as(who, r->method, r->req, r->keyed ? key : NULL, &resp, msg);
        if (resp != NULL) {
            protobuf_c_message_free_unpacked(resp, NULL);
        }
        if (got != r->want[who]) {
            fail_msg("%s as %s: want %s, got %s (%s)", r->method, caller_names[who],
                     bsl_status_name(r->want[who]), bsl_status_name(got), msg);
        }
    }
}

static void matrix(void **state)
{
    (void)state;
    prepare();

    Boussole__V1__ListAssignmentsRequest la = BOUSSOLE__V1__LIST_ASSIGNMENTS_REQUEST__INIT;
    la.bilan_id = bilan;
    Boussole__V1__GetAssignmentRequest ga = BOUSSOLE__V1__GET_ASSIGNMENT_REQUEST__INIT;
    ga.bilan_id = bilan;
    ga.assignment_id = asg_custom;
    Boussole__V1__AssignInstrumentRequest ai = BOUSSOLE__V1__ASSIGN_INSTRUMENT_REQUEST__INIT;
    ai.bilan_id = bilan;
    ai.instrument_id = "valeurs";
    Boussole__V1__Answer ans = BOUSSOLE__V1__ANSWER__INIT;
    ans.item_id = "q1";
    ans.value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
    ans.likert = 1;
    Boussole__V1__Answer *ans_ptr = &ans;
    Boussole__V1__SaveAnswersRequest sa = BOUSSOLE__V1__SAVE_ANSWERS_REQUEST__INIT;
    sa.bilan_id = bilan;
    sa.assignment_id = asg_custom;
    sa.answers = &ans_ptr;
    sa.n_answers = 1;
    Boussole__V1__GetAnswersRequest gan = BOUSSOLE__V1__GET_ANSWERS_REQUEST__INIT;
    gan.bilan_id = bilan;
    gan.assignment_id = asg_custom;
    Boussole__V1__SubmitAnswersRequest su = BOUSSOLE__V1__SUBMIT_ANSWERS_REQUEST__INIT;
    su.bilan_id = bilan;
    su.assignment_id = asg_custom;
    Boussole__V1__GetResultsRequest gr = BOUSSOLE__V1__GET_RESULTS_REQUEST__INIT;
    gr.bilan_id = bilan;
    gr.assignment_id = asg_custom;
    Boussole__V1__AnnotateResultsRequest an = BOUSSOLE__V1__ANNOTATE_RESULTS_REQUEST__INIT;
    an.bilan_id = bilan;
    an.assignment_id = asg_custom;
    an.text = "Prêt(e) à avancer.";
    Boussole__V1__MatchOccupationsRequest ma = BOUSSOLE__V1__MATCH_OCCUPATIONS_REQUEST__INIT;
    ma.bilan_id = bilan;
    ma.assignment_id = asg_riasec;
    Boussole__V1__RiasecProfile prof = BOUSSOLE__V1__RIASEC_PROFILE__INIT;
    prof.r = 10;
    prof.i = 80;
    prof.a = 30;
    prof.s = 20;
    prof.e = 50;
    prof.c = 40;
    Boussole__V1__MatchOccupationsRequest mp = BOUSSOLE__V1__MATCH_OCCUPATIONS_REQUEST__INIT;
    mp.profile = &prof;
    Boussole__V1__ReopenAssignmentRequest ro = BOUSSOLE__V1__REOPEN_ASSIGNMENT_REQUEST__INIT;
    ro.bilan_id = bilan;
    ro.assignment_id = asg_custom;
    Boussole__V1__Relative rel = BOUSSOLE__V1__RELATIVE__INIT;
    rel.name = "Inès";
    rel.relation = "soeur";
    rel.contact = "ines@example.org";
    Boussole__V1__InviteRelativeRequest ir = BOUSSOLE__V1__INVITE_RELATIVE_REQUEST__INIT;
    ir.bilan_id = bilan;
    ir.relative = &rel;
    Boussole__V1__ListInvitationsRequest li = BOUSSOLE__V1__LIST_INVITATIONS_REQUEST__INIT;
    li.bilan_id = bilan;
    Boussole__V1__GetFeedbackSummaryRequest fs = BOUSSOLE__V1__GET_FEEDBACK_SUMMARY_REQUEST__INIT;
    fs.bilan_id = bilan;
    Boussole__V1__GetFeedbackFormRequest ff = BOUSSOLE__V1__GET_FEEDBACK_FORM_REQUEST__INIT;
    ff.token = token;
    Boussole__V1__RevokeInvitationRequest rv = BOUSSOLE__V1__REVOKE_INVITATION_REQUEST__INIT;
    rv.bilan_id = bilan;
    rv.invitation_id = inv;
    Boussole__V1__ExportBeneficiaryDataRequest ex =
        BOUSSOLE__V1__EXPORT_BENEFICIARY_DATA_REQUEST__INIT;
    ex.beneficiary_id = "b-lea";
    Boussole__V1__ListInstrumentsRequest lins = BOUSSOLE__V1__LIST_INSTRUMENTS_REQUEST__INIT;
    Boussole__V1__GetInstrumentRequest gins = BOUSSOLE__V1__GET_INSTRUMENT_REQUEST__INIT;
    gins.id = "riasec";
    Boussole__V1__EraseBilanDataRequest er = BOUSSOLE__V1__ERASE_BILAN_DATA_REQUEST__INIT;
    er.bilan_id = bilan;
    er.reason = "test";

    /*                                          BEN COU ADM BEN2 COU2 ADM2 REL SRV */
    const row rows[] = {
        { "ListAssignments", &la.base, false, { OK, OK, OK, NF, NF, NF, UA, NF } },
        { "GetAssignment", &ga.base, false, { OK, OK, OK, NF, NF, NF, UA, NF } },
        { "AssignInstrument", &ai.base, true, { PD, OK, PD, NF, NF, NF, UA, NF } },
        { "SaveAnswers", &sa.base, false, { OK, PD, PD, NF, NF, NF, UA, NF } },
        { "GetAnswers", &gan.base, false, { OK, OK, PD, NF, NF, NF, UA, NF } },
        { "SubmitAnswers", &su.base, false, { OK, PD, PD, NF, NF, NF, UA, NF } },
        { "GetResults", &gr.base, false, { OK, OK, PD, NF, NF, NF, UA, NF } },
        { "AnnotateResults", &an.base, true, { PD, OK, PD, NF, NF, NF, UA, NF } },
        { "MatchOccupations", &ma.base, false, { OK, OK, PD, NF, NF, NF, UA, NF } },
        { "MatchOccupations", &mp.base, false, { OK, OK, OK, OK, OK, OK, UA, OK } },
        { "ReopenAssignment", &ro.base, false, { PD, OK, PD, NF, NF, NF, UA, NF } },
        { "InviteRelative", &ir.base, true, { OK, PD, PD, NF, NF, NF, UA, NF } },
        { "ListInvitations", &li.base, false, { OK, OK, PD, NF, NF, NF, UA, NF } },
        { "GetFeedbackSummary", &fs.base, false, { OK, OK, PD, NF, NF, NF, UA, NF } },
        { "GetFeedbackForm", &ff.base, false, { OK, OK, OK, OK, OK, OK, OK, OK } },
        { "RevokeInvitation", &rv.base, false, { OK, PD, PD, NF, NF, NF, UA, NF } },
        { "GetFeedbackForm", &ff.base, false, { FP, FP, FP, FP, FP, FP, FP, FP } },
        { "ExportBeneficiaryData", &ex.base, false, { OK, PD, PD, PD, PD, PD, UA, OK } },
        { "ListInstruments", &lins.base, false, { PD, OK, OK, PD, OK, OK, UA, PD } },
        { "GetInstrument", &gins.base, false, { OK, OK, OK, OK, OK, OK, UA, OK } },
        { "EraseBilanData", &er.base, false, { PD, PD, PD, PD, PD, PD, PD, OK } },
        /* After the erasure, the bilan's assignments are gone for everyone. */
        { "GetAssignment", &ga.base, false, { NF, NF, NF, NF, NF, NF, UA, NF } },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        run_row(&rows[i], (int)i);
    }
}

/* A relative's token opens their own form and nothing else: another bilan's token does not
 * open this one, and a token never opens the beneficiary's side. */
static void relatives_see_only_their_form(void **state)
{
    (void)state;
    char msg[512];
    Boussole__V1__GetFeedbackFormRequest ff = BOUSSOLE__V1__GET_FEEDBACK_FORM_REQUEST__INIT;
    char altered[80];
    snprintf(altered, sizeof(altered), "%s", token);
    altered[0] = altered[0] == 'a' ? 'b' : 'a';
    ff.token = altered;
    assert_int_equal(call_as(REL, "GetFeedbackForm", &ff.base, NULL, NULL, msg), NF);
    Boussole__V1__GetAnswersRequest gan = BOUSSOLE__V1__GET_ANSWERS_REQUEST__INIT;
    gan.bilan_id = bilan;
    gan.assignment_id = asg_custom;
    assert_int_equal(call_as(REL, "GetAnswers", &gan.base, NULL, NULL, msg), UA);
}

/* SIGTERM after everything above: the process drains and exits 0 (under the sanitizer build,
 * a leak at exit would make the status non-zero). */
static void clean_shutdown(void **state)
{
    (void)state;
    te_signal(&qn, SIGTERM);
    assert_int_equal(te_wait(&qn, 15000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matrix),
        cmocka_unit_test(relatives_see_only_their_form),
        cmocka_unit_test(clean_shutdown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
