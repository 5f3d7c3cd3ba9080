/*
 * An organisation's satisfaction statistics (GetSatisfactionStats), against a real redis-server
 * and the real sessions and questionnaires processes: surveys answered and submitted by
 * beneficiaries, aggregated for the organisation's admin: nothing under five respondents,
 * means and counts worked out here from the answers given, free text never shown, other
 * organisations and drafts not counted, the period by submission day, a reopened survey out
 * until it is submitted again, an erased bilan's survey out for good (its index entry gone),
 * and who may ask.
 */
#include <math.h>
#include <setjmp.h>
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

#define SVC    "boussole.v1.QuestionnaireService/"
#define SURVEY "satisfaction-fin"

/* The ten Likert items of satisfaction-fin (1 to 4), by scale. */
static const char *const likert_ids[10] = {
    "accueil-1", "accueil-2", "accompagnement-1", "accompagnement-2", "accompagnement-3",
    "outils-1",  "outils-2",  "resultat-1",       "resultat-2",       "resultat-3",
};

typedef struct survey {
    int likert[10];
    double note;      /* 0 to 10 */
    const char *reco; /* recommandation: certainement, probablement, ... */
    const char *text; /* ameliorer (free text) */
} survey;

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "questionnaires-satisfaction");
    te_redis_start(&env);
    te_service_start(&env, &sessions, "sessions", NULL);
    char peer[200];
    snprintf(peer, sizeof(peer), "--sessions-url=%s", sessions.url);
    const char *args[] = { peer, NULL };
    te_service_start(&env, &qn, "questionnaires", args);
    sc_sessions = te_client(sessions.url);
    sc = te_client(qn.url);
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

static bsl_status call(const char *method, const ProtobufCMessage *req, Boussole__V1__Caller *c,
                       const char *idem, ProtobufCMessage **resp, char *msg)
{
    char full[128];
    snprintf(full, sizeof(full), SVC "%s", method);
    bsl_call_opts o = { .caller = c, .idempotency_key = idem };
    return bsl_sync_call(sc, full, req, &o, resp, msg, 512);
}

static Boussole__V1__Caller counselor(const char *org)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-marie", org);
}

static Boussole__V1__Caller admin(const char *org)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-anne", org);
}

typedef struct taken {
    char bilan[64], asg[64], beneficiary[64];
    Boussole__V1__Results *results; /* what SubmitAnswers answered; freed by the caller */
} taken;

/* A bilan of `org` whose beneficiary is given the survey, answers it and, when `submit`,
 * submits it. `tag` makes the idempotency keys and the beneficiary unique. */
static void take_survey(const char *org, const char *tag, const survey *s, bool submit, taken *t)
{
    char msg[512], key[64];
    snprintf(t->beneficiary, sizeof(t->beneficiary), "b-%s", tag);
    Boussole__V1__CreateBilanRequest cb = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    cb.beneficiary_id = t->beneficiary;
    cb.organisation_id = (char *)org;
    cb.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    cb.planned_hours = 24;
    cb.start_date = "2026-12-01";
    cb.end_date = "2027-02-28";
    Boussole__V1__Caller c = counselor(org);
    snprintf(key, sizeof(key), "sat-bilan-%s", tag);
    bsl_call_opts o = { .caller = &c, .idempotency_key = key };
    ProtobufCMessage *resp = NULL;
    bsl_status st = bsl_sync_call(sc_sessions, "boussole.v1.SessionService/CreateBilan", &cb.base,
                                  &o, &resp, msg, sizeof(msg));
    if (st != BSL_STATUS_OK) {
        fail_msg("CreateBilan: %d %s", st, msg);
    }
    snprintf(t->bilan, sizeof(t->bilan), "%s", ((Boussole__V1__Bilan *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);

    Boussole__V1__AssignInstrumentRequest ar = BOUSSOLE__V1__ASSIGN_INSTRUMENT_REQUEST__INIT;
    ar.bilan_id = t->bilan;
    ar.instrument_id = SURVEY;
    ar.due_date = "2027-03-15";
    snprintf(key, sizeof(key), "sat-asg-%s", tag);
    st = call("AssignInstrument", &ar.base, &c, key, &resp, msg);
    if (st != BSL_STATUS_OK) {
        fail_msg("AssignInstrument: %d %s", st, msg);
    }
    snprintf(t->asg, sizeof(t->asg), "%s", ((Boussole__V1__Assignment *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);

    Boussole__V1__Answer a[13];
    Boussole__V1__Answer *ptrs[13];
    for (size_t i = 0; i < 13; i++) {
        boussole__v1__answer__init(&a[i]);
        ptrs[i] = &a[i];
    }
    for (size_t i = 0; i < 10; i++) {
        a[i].item_id = (char *)likert_ids[i];
        a[i].value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
        a[i].likert = s->likert[i];
    }
    a[10].item_id = "note";
    a[10].value_case = BOUSSOLE__V1__ANSWER__VALUE_NUMBER;
    a[10].number = s->note;
    a[11].item_id = "recommandation";
    a[11].value_case = BOUSSOLE__V1__ANSWER__VALUE_CHOICE;
    a[11].choice = (char *)s->reco;
    a[12].item_id = "ameliorer";
    a[12].value_case = BOUSSOLE__V1__ANSWER__VALUE_TEXT;
    a[12].text = (char *)s->text;
    Boussole__V1__SaveAnswersRequest sr = BOUSSOLE__V1__SAVE_ANSWERS_REQUEST__INIT;
    sr.bilan_id = t->bilan;
    sr.assignment_id = t->asg;
    sr.answers = ptrs;
    sr.n_answers = 13;
    Boussole__V1__Caller b = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, t->beneficiary, "");
    st = call("SaveAnswers", &sr.base, &b, NULL, NULL, msg);
    if (st != BSL_STATUS_OK) {
        fail_msg("SaveAnswers: %d %s", st, msg);
    }
    t->results = NULL;
    if (!submit) {
        return;
    }
    Boussole__V1__SubmitAnswersRequest sub = BOUSSOLE__V1__SUBMIT_ANSWERS_REQUEST__INIT;
    sub.bilan_id = t->bilan;
    sub.assignment_id = t->asg;
    st = call("SubmitAnswers", &sub.base, &b, NULL, &resp, msg);
    if (st != BSL_STATUS_OK) {
        fail_msg("SubmitAnswers: %d %s", st, msg);
    }
    t->results = (Boussole__V1__Results *)resp;
}

static void resubmit(const taken *t)
{
    char msg[512];
    Boussole__V1__SubmitAnswersRequest sub = BOUSSOLE__V1__SUBMIT_ANSWERS_REQUEST__INIT;
    sub.bilan_id = (char *)t->bilan;
    sub.assignment_id = (char *)t->asg;
    Boussole__V1__Caller b = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, t->beneficiary, "");
    assert_int_equal(call("SubmitAnswers", &sub.base, &b, NULL, NULL, msg), BSL_STATUS_OK);
}

/* GetSatisfactionStats; fails the test unless the status is `want`. */
static Boussole__V1__SatisfactionStats *stats_as(Boussole__V1__Caller *c, const char *org,
                                                 const char *instrument, const char *from,
                                                 const char *to, bsl_status want, char *msg)
{
    Boussole__V1__GetSatisfactionStatsRequest req =
        BOUSSOLE__V1__GET_SATISFACTION_STATS_REQUEST__INIT;
    req.organisation_id = (char *)org;
    req.instrument_id = (char *)instrument;
    req.from_date = (char *)(from ? from : "");
    req.to_date = (char *)(to ? to : "");
    ProtobufCMessage *resp = NULL;
    bsl_status st = call("GetSatisfactionStats", &req.base, c, NULL, &resp, msg);
    if (st != want) {
        fail_msg("GetSatisfactionStats: want %d, got %d %s", want, st, msg);
    }
    return (Boussole__V1__SatisfactionStats *)resp;
}

static Boussole__V1__SatisfactionStats *stats(const char *org, const char *from, const char *to)
{
    char msg[512];
    Boussole__V1__Caller a = admin(org);
    return stats_as(&a, org, SURVEY, from, to, BSL_STATUS_OK, msg);
}

static uint32_t respondents(const char *org, const char *from, const char *to)
{
    Boussole__V1__SatisfactionStats *s = stats(org, from, to);
    uint32_t n = s->respondents;
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return n;
}

static const Boussole__V1__ItemSummary *item(const Boussole__V1__SatisfactionStats *s,
                                             const char *id)
{
    for (size_t i = 0; i < s->n_items; i++) {
        if (strcmp(s->items[i]->item_id, id) == 0) {
            return s->items[i];
        }
    }
    fail_msg("no item %s", id);
    return NULL;
}

static const Boussole__V1__ScaleScore *scale_of(Boussole__V1__ScaleScore *const *scales, size_t n,
                                                const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(scales[i]->scale_id, id) == 0) {
            return scales[i];
        }
    }
    fail_msg("no scale %s", id);
    return NULL;
}

static const survey answers[6] = {
    { { 4, 4, 4, 3, 4, 3, 3, 4, 4, 3 }, 9, "certainement", "Rien, merci." },
    { { 3, 2, 4, 4, 4, 2, 3, 3, 3, 2 }, 7, "probablement", "Des horaires plus souples." },
    { { 4, 3, 3, 3, 4, 4, 4, 4, 3, 3 }, 8, "certainement", "Plus de documentation." },
    { { 2, 3, 4, 2, 3, 3, 2, 3, 2, 2 }, 5, "probablement-pas", "Moins d'attente." },
    { { 4, 4, 4, 4, 4, 4, 4, 4, 4, 4 }, 10, "certainement", "Tout était parfait." },
    { { 1, 1, 2, 1, 1, 1, 1, 1, 1, 1 }, 2, "certainement-pas", "Un autre conseiller." },
};

/* Five respondents needed; then means, counts and scale scores, as computed here. */
static void aggregates_from_five(void **state)
{
    (void)state;
    const char *org = "org-lumiere";
    char tag[32];
    taken t[6];
    Boussole__V1__SatisfactionStats *s = stats(org, NULL, NULL);
    assert_int_equal(s->respondents, 0);
    assert_false(s->visible);
    assert_int_equal(s->answers_needed, 5);
    assert_int_equal(s->instrument_version, 1);
    assert_int_equal(s->n_items, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    /* Not counted: a draft of the same organisation, a survey of another one. */
    taken draft, other;
    take_survey(org, "lum-draft", &answers[5], false, &draft);
    take_survey("org-autre", "autre-1", &answers[5], true, &other);
    protobuf_c_message_free_unpacked(&other.results->base, NULL);

    for (int i = 0; i < 4; i++) {
        snprintf(tag, sizeof(tag), "lum-%d", i);
        take_survey(org, tag, &answers[i], true, &t[i]);
    }
    s = stats(org, NULL, NULL);
    assert_int_equal(s->respondents, 4);
    assert_false(s->visible);
    assert_int_equal(s->answers_needed, 1);
    assert_int_equal(s->n_items, 0);
    assert_int_equal(s->n_scales, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    take_survey(org, "lum-4", &answers[4], true, &t[4]);
    s = stats(org, NULL, NULL);
    assert_int_equal(s->respondents, 5);
    assert_true(s->visible);
    assert_int_equal(s->answers_needed, 0);
    assert_string_equal(s->organisation_id, org);
    assert_string_equal(s->instrument_id, SURVEY);
    /* Each Likert item's mean over the five. */
    for (size_t k = 0; k < 10; k++) {
        double sum = 0;
        for (int i = 0; i < 5; i++) {
            sum += answers[i].likert[k];
        }
        const Boussole__V1__ItemSummary *it = item(s, likert_ids[k]);
        assert_int_equal(it->answered, 5);
        assert_true(fabs(it->mean - sum / 5) < 1e-9);
    }
    const Boussole__V1__ItemSummary *note = item(s, "note");
    assert_true(fabs(note->mean - (9 + 7 + 8 + 5 + 10) / 5.0) < 1e-9);
    const Boussole__V1__ItemSummary *reco = item(s, "recommandation");
    assert_int_equal(reco->n_choices, 4);
    uint32_t want[4] = { 3, 1, 1, 0 }; /* certainement, probablement, probablement-pas, c.-pas */
    for (size_t c = 0; c < 4; c++) {
        assert_int_equal(reco->choices[c]->count, want[c]);
    }
    /* Free text answered by all five, shown to no one here. */
    const Boussole__V1__ItemSummary *free_text = item(s, "ameliorer");
    assert_int_equal(free_text->answered, 5);
    assert_int_equal(free_text->n_texts, 0);
    /* Scales: the mean of the five surveys' own scores. */
    assert_true(s->n_scales > 0);
    for (size_t k = 0; k < s->n_scales; k++) {
        double sum = 0;
        for (int i = 0; i < 5; i++) {
            sum += scale_of(t[i].results->scales, t[i].results->n_scales, s->scales[k]->scale_id)
                       ->normalised;
        }
        assert_true(fabs(s->scales[k]->normalised - sum / 5) < 1e-3);
    }
    protobuf_c_message_free_unpacked(&s->base, NULL);
    for (int i = 0; i < 5; i++) {
        protobuf_c_message_free_unpacked(&t[i].results->base, NULL);
    }
    /* The other organisation has its own one survey. */
    assert_int_equal(respondents("org-autre", NULL, NULL), 1);
}

/* Only the organisation's admins and services; a satisfaction survey; a valid period. */
static void who_may_ask(void **state)
{
    (void)state;
    char msg[512];
    const char *org = "org-lumiere";
    Boussole__V1__Caller c = counselor(org);
    stats_as(&c, org, SURVEY, NULL, NULL, BSL_STATUS_PERMISSION_DENIED, msg);
    Boussole__V1__Caller b = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-lum-0", "");
    stats_as(&b, org, SURVEY, NULL, NULL, BSL_STATUS_PERMISSION_DENIED, msg);
    Boussole__V1__Caller other = admin("org-autre");
    stats_as(&other, org, SURVEY, NULL, NULL, BSL_STATUS_PERMISSION_DENIED, msg);
    Boussole__V1__Caller svc = te_caller(BOUSSOLE__V1__ROLE__ROLE_SERVICE, "reporting", "");
    Boussole__V1__SatisfactionStats *s =
        stats_as(&svc, org, SURVEY, NULL, NULL, BSL_STATUS_OK, msg);
    assert_true(s->respondents >= 5);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    Boussole__V1__Caller a = admin(org);
    stats_as(&a, org, "riasec", NULL, NULL, BSL_STATUS_INVALID_ARGUMENT, msg);
    assert_non_null(strstr(msg, "not a satisfaction survey"));
    stats_as(&a, org, "no-such-survey", NULL, NULL, BSL_STATUS_NOT_FOUND, msg);
    stats_as(&a, org, SURVEY, "2026-13-01", NULL, BSL_STATUS_INVALID_ARGUMENT, msg);
    assert_non_null(strstr(msg, "from_date"));
    stats_as(&a, org, SURVEY, "2027-02-01", "2027-01-31", BSL_STATUS_INVALID_ARGUMENT, msg);
    assert_non_null(strstr(msg, "to_date"));
    stats_as(&a, "", SURVEY, NULL, NULL, BSL_STATUS_INVALID_ARGUMENT, msg);
}

/* The period by submission day; a reopened survey; an erased bilan; a stale entry. */
static void period_reopen_erase(void **state)
{
    (void)state;
    char msg[512], tag[32], cmd[300];
    const char *org = "org-soleil";
    taken t[3];
    for (int i = 0; i < 2; i++) {
        snprintf(tag, sizeof(tag), "sol-%d", i);
        take_survey(org, tag, &answers[i], true, &t[i]);
        protobuf_c_message_free_unpacked(&t[i].results->base, NULL);
    }
    /* One submitted 40 days on. */
    te_clock_set(&env, 40LL * 86400000);
    take_survey(org, "sol-2", &answers[2], true, &t[2]);
    protobuf_c_message_free_unpacked(&t[2].results->base, NULL);
    te_clock_set(&env, 0);
    assert_int_equal(respondents(org, NULL, NULL), 3);
    assert_int_equal(respondents(org, te_day(0), te_day(0)), 2);
    assert_int_equal(respondents(org, te_day(-1), te_day(39)), 2);
    assert_int_equal(respondents(org, te_day(40), NULL), 1);
    assert_int_equal(respondents(org, NULL, te_day(-1)), 0);
    assert_int_equal(respondents(org, te_day(41), NULL), 0);

    /* Reopened by the counselor: out until submitted again. */
    Boussole__V1__ReopenAssignmentRequest rr = BOUSSOLE__V1__REOPEN_ASSIGNMENT_REQUEST__INIT;
    rr.bilan_id = t[0].bilan;
    rr.assignment_id = t[0].asg;
    Boussole__V1__Caller c = counselor(org);
    assert_int_equal(call("ReopenAssignment", &rr.base, &c, NULL, NULL, msg), BSL_STATUS_OK);
    assert_int_equal(respondents(org, NULL, NULL), 2);
    resubmit(&t[0]);
    assert_int_equal(respondents(org, NULL, NULL), 3);

    /* Erased: out, and its index entry gone with it. */
    Boussole__V1__EraseBilanDataRequest xr = BOUSSOLE__V1__ERASE_BILAN_DATA_REQUEST__INIT;
    xr.bilan_id = t[1].bilan;
    xr.reason = "retention";
    Boussole__V1__Caller svc = te_caller(BOUSSOLE__V1__ROLE__ROLE_SERVICE, "syntheses", "");
    assert_int_equal(call("EraseBilanData", &xr.base, &svc, NULL, NULL, msg), BSL_STATUS_OK);
    snprintf(cmd, sizeof(cmd), "ZCARD qnsat:{%s}:%s:1", org, SURVEY);
    char *n = te_redis_cli(&env, cmd);
    assert_string_equal(n, "2");
    free(n);
    assert_int_equal(respondents(org, NULL, NULL), 2);

    /* An entry whose assignment is gone (an erasure cut short): skipped, then removed. */
    snprintf(cmd, sizeof(cmd), "ZADD qnsat:{%s}:%s:1 1 %s:%s", org, SURVEY, t[0].bilan,
             "01aaaaaaaaaaaaaaaaaaaaaaaa");
    free(te_redis_cli(&env, cmd));
    snprintf(cmd, sizeof(cmd), "ZADD qnsat:{%s}:%s:1 1 garbage", org, SURVEY);
    free(te_redis_cli(&env, cmd));
    assert_int_equal(respondents(org, NULL, NULL), 2);
    snprintf(cmd, sizeof(cmd), "ZSCORE qnsat:{%s}:%s:1 %s:%s", org, SURVEY, t[0].bilan,
             "01aaaaaaaaaaaaaaaaaaaaaaaa");
    n = te_redis_cli(&env, cmd);
    assert_string_equal(n, "");
    free(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aggregates_from_five),
        cmocka_unit_test(who_may_ask),
        cmocka_unit_test(period_reopen_erase),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
