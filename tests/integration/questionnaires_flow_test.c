/*
 * The questionnaires service end to end, against a real redis-server and the real sessions and
 * questionnaires processes: a full RIASEC run with answers whose scores are worked out by hand,
 * drafts that survive a restart and resume on another client, answer checks naming the item,
 * the lock and the counselor's reopen, notes, occupation matching, the report to sessions,
 * counselors' own instruments and version pinning, encryption at rest, export and erasure.
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

static Boussole__V1__Caller beneficiary(void)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-lea", "");
}

static Boussole__V1__Caller counselor(void)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-marie", ORG);
}

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "questionnaires-flow");
    env.redis_aof = true;
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

/* Calls a QuestionnaireService method; *resp (if wanted) is freed by the caller. */
static bsl_status call(const char *method, const ProtobufCMessage *req, Boussole__V1__Caller *c,
                       const char *idem, ProtobufCMessage **resp, char *msg)
{
    char full[128], local[512];
    snprintf(full, sizeof(full), SVC "%s", method);
    bsl_call_opts o = { .caller = c, .idempotency_key = idem };
    return bsl_sync_call(sc, full, req, &o, resp, msg ? msg : local, msg ? 512 : sizeof(local));
}

static void create_bilan(const char *beneficiary_id, const char *key, char out[64])
{
    Boussole__V1__CreateBilanRequest req = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    req.beneficiary_id = (char *)beneficiary_id;
    req.organisation_id = ORG;
    req.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    req.planned_hours = 24;
    req.start_date = "2026-12-01";
    req.end_date = "2027-02-28";
    Boussole__V1__Caller c = counselor();
    bsl_call_opts o = { .caller = &c, .idempotency_key = key };
    ProtobufCMessage *resp = NULL;
    char msg[256];
    assert_int_equal(bsl_sync_call(sc_sessions, "boussole.v1.SessionService/CreateBilan", &req.base,
                                   &o, &resp, msg, sizeof(msg)),
                     BSL_STATUS_OK);
    snprintf(out, 64, "%s", ((Boussole__V1__Bilan *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
}

static void assign(const char *bilan, const char *instrument, uint32_t version, const char *key,
                   char out[64])
{
    Boussole__V1__AssignInstrumentRequest req = BOUSSOLE__V1__ASSIGN_INSTRUMENT_REQUEST__INIT;
    req.bilan_id = (char *)bilan;
    req.instrument_id = (char *)instrument;
    req.instrument_version = version;
    req.due_date = "2027-01-15";
    Boussole__V1__Caller c = counselor();
    ProtobufCMessage *resp = NULL;
    char msg[512];
    bsl_status st = call("AssignInstrument", &req.base, &c, key, &resp, msg);
    if (st != BSL_STATUS_OK) {
        fail_msg("AssignInstrument: %d %s", st, msg);
    }
    Boussole__V1__Assignment *a = (Boussole__V1__Assignment *)resp;
    assert_string_equal(a->bilan_id, bilan);
    assert_string_equal(a->instrument_id, instrument);
    assert_int_equal(a->status, BOUSSOLE__V1__ASSIGNMENT_STATUS__ASSIGNMENT_STATUS_ASSIGNED);
    snprintf(out, 64, "%s", a->id);
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* Saves Likert answers item=value for the given items. */
static bsl_status save_likert(const char *bilan, const char *asg, char ids[][8], const int *values,
                              size_t n, char *msg)
{
    Boussole__V1__Answer *answers = calloc(n, sizeof(*answers));
    Boussole__V1__Answer **ptrs = calloc(n, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        boussole__v1__answer__init(&answers[i]);
        answers[i].item_id = ids[i];
        answers[i].value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
        answers[i].likert = values[i];
        ptrs[i] = &answers[i];
    }
    Boussole__V1__SaveAnswersRequest req = BOUSSOLE__V1__SAVE_ANSWERS_REQUEST__INIT;
    req.bilan_id = (char *)bilan;
    req.assignment_id = (char *)asg;
    req.answers = ptrs;
    req.n_answers = n;
    Boussole__V1__Caller b = beneficiary();
    bsl_status st = call("SaveAnswers", &req.base, &b, NULL, NULL, msg);
    free(ptrs);
    free(answers);
    return st;
}

static Boussole__V1__Results *submit(const char *bilan, const char *asg, bsl_status want, char *msg)
{
    Boussole__V1__SubmitAnswersRequest req = BOUSSOLE__V1__SUBMIT_ANSWERS_REQUEST__INIT;
    req.bilan_id = (char *)bilan;
    req.assignment_id = (char *)asg;
    Boussole__V1__Caller b = beneficiary();
    ProtobufCMessage *resp = NULL;
    bsl_status st = call("SubmitAnswers", &req.base, &b, NULL, &resp, msg);
    if (st != want) {
        fail_msg("SubmitAnswers: want %d, got %d %s", want, st, msg);
    }
    return (Boussole__V1__Results *)resp;
}

static const Boussole__V1__ScaleScore *scale(const Boussole__V1__Results *r, const char *id)
{
    for (size_t i = 0; i < r->n_scales; i++) {
        if (strcmp(r->scales[i]->scale_id, id) == 0) {
            return r->scales[i];
        }
    }
    fail_msg("no scale %s", id);
    return NULL;
}

/*
 * The RIASEC inventory has 8 items per type: rN, iN, aN, sN, eN, cN for N = 1..8, answered on
 * 1 (je n'aime pas du tout) to 5 (j'aime beaucoup); item 8 of each type is reverse-keyed
 * (a point p counts 6 - p). Answers given below, and the sums by hand:
 *   R: r1..r7 = 3, r8 = 2            -> 7*3 + (6-2) = 25
 *   I: i1..i7 = 5, i8 = 1            -> 7*5 + 5     = 40
 *   A: a1..a4 = 4, a5..a7 = 5, a8 = 3 -> 16 + 15 + 3 = 34
 *   S: s1..s7 = 2, s8 = 5            -> 14 + 1      = 15
 *   E: e1..e7 = 4, e8 = 4            -> 28 + 2      = 30
 *   C: c1..c7 = 1, c8 = 1            -> 7 + 5       = 12
 * Each type ranges over 8..40, so normalised = 100 * (raw - 8) / 32:
 *   R 53.125, I 100, A 81.25, S 21.875, E 68.75, C 12.5.
 * Holland code: I (40), A (34), E (30): "IAE", no tie. Consistency: I and A are adjacent on
 * the hexagon: 3. Differentiation: 100 - 12.5 = 87.5. Top answers (scored 5): I has 8 (seven
 * 5s and i8 = 1 reversed), A 3.
 */
static int riasec_value(char type, int n)
{
    switch (type) {
    case 'r':
        return n == 8 ? 2 : 3;
    case 'i':
        return n == 8 ? 1 : 5;
    case 'a':
        return n == 8 ? 3 : (n <= 4 ? 4 : 5);
    case 's':
        return n == 8 ? 5 : 2;
    case 'e':
        return 4;
    default:
        return 1;
    }
}

static char riasec_ids[48][8];
static int riasec_values[48];

static void fill_riasec(void)
{
    const char *types = "riasec";
    for (int t = 0, k = 0; t < 6; t++) {
        for (int n = 1; n <= 8; n++, k++) {
            snprintf(riasec_ids[k], 8, "%c%d", types[t], n);
            riasec_values[k] = riasec_value(types[t], n);
        }
    }
}

static void get_answers_count(const char *bilan, const char *asg, Boussole__V1__Caller *c,
                              size_t want)
{
    Boussole__V1__GetAnswersRequest req = BOUSSOLE__V1__GET_ANSWERS_REQUEST__INIT;
    req.bilan_id = (char *)bilan;
    req.assignment_id = (char *)asg;
    ProtobufCMessage *resp = NULL;
    char msg[512];
    bsl_status st = call("GetAnswers", &req.base, c, NULL, &resp, msg);
    if (st != BSL_STATUS_OK) {
        fail_msg("GetAnswers: %d %s", st, msg);
    }
    Boussole__V1__Answers *a = (Boussole__V1__Answers *)resp;
    assert_int_equal(a->n_answers, want);
    assert_int_equal(a->assignment->answered_count, want);
    protobuf_c_message_free_unpacked(resp, NULL);
}

static void riasec_full_run(void **state)
{
    (void)state;
    char bilan[64], asg[64], msg[512];
    create_bilan("b-lea", "flow-bilan-1", bilan);
    assign(bilan, "riasec", 0, "flow-asg-1", asg);
    fill_riasec();

    /* An answer out of range is refused, naming the item; nothing is saved. */
    char bad_ids[2][8] = { "r1", "i2" };
    int bad_values[2] = { 3, 6 };
    assert_int_equal(save_likert(bilan, asg, bad_ids, bad_values, 2, msg),
                     BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "answers[1] (i2)"));
    assert_non_null(strstr(msg, "1 to 5"));
    const Boussole__V1__RpcResponse *env_resp = bsl_sync_last_envelope(sc);
    assert_int_equal(env_resp->n_details, 1);
    assert_string_equal(env_resp->details[0]->field_violation->field, "answers[1] (i2)");
    char unknown[1][8] = { "zz9" };
    int one[1] = { 3 };
    assert_int_equal(save_likert(bilan, asg, unknown, one, 1, msg), BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "answers[0] (zz9): not an item"));

    /* First half as a draft, then a restart of the service. */
    assert_int_equal(save_likert(bilan, asg, riasec_ids, riasec_values, 24, msg), BSL_STATUS_OK);
    /* Saving the same items again is harmless (per-item idempotence). */
    assert_int_equal(save_likert(bilan, asg, riasec_ids, riasec_values, 24, msg), BSL_STATUS_OK);
    Boussole__V1__Results *r = submit(bilan, asg, BSL_STATUS_FAILED_PRECONDITION, msg);
    assert_null(r);
    assert_non_null(strstr(msg, "ITEM_UNANSWERED: 24 required item(s)"));

    te_service_restart(&env, &qn);
    bsl_sync_client_free(sc);
    sc = te_client(qn.url); /* "another device": a new connection after the restart */
    Boussole__V1__Caller b = beneficiary();
    get_answers_count(bilan, asg, &b, 24);

    assert_int_equal(save_likert(bilan, asg, riasec_ids + 24, riasec_values + 24, 24, msg),
                     BSL_STATUS_OK);
    Boussole__V1__Caller c = counselor();
    get_answers_count(bilan, asg, &c, 48);

    r = submit(bilan, asg, BSL_STATUS_OK, msg);
    const char *types[6] = { "R", "I", "A", "S", "E", "C" };
    const double raw[6] = { 25, 40, 34, 15, 30, 12 };
    const double norm[6] = { 53.125, 100, 81.25, 21.875, 68.75, 12.5 };
    for (int t = 0; t < 6; t++) {
        const Boussole__V1__ScaleScore *s = scale(r, types[t]);
        if (s->raw != raw[t] || s->normalised != norm[t] || s->min != 8 || s->max != 40) {
            fail_msg("%s: raw %g norm %g", types[t], s->raw, s->normalised);
        }
        assert_int_equal(s->answered_items, 8);
        assert_true(s->interpretation[0] != '\0');
    }
    assert_int_equal(scale(r, "I")->top_answers, 8);
    assert_int_equal(scale(r, "A")->top_answers, 3);
    assert_string_equal(r->holland_code, "IAE");
    assert_false(r->holland_tie_broken);
    assert_non_null(r->riasec);
    assert_int_equal(r->riasec->consistency, 3);
    assert_true(r->riasec->differentiation == 87.5);
    const char *profile[6] = { "I", "A", "E", "R", "S", "C" };
    assert_int_equal(r->n_profile, 6);
    for (int i = 0; i < 6; i++) {
        assert_string_equal(r->profile[i], profile[i]);
    }
    assert_string_equal(r->instrument_id, "riasec");
    assert_int_equal(r->instrument_version, 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* Sessions recorded the completion. */
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "SMEMBERS bilan:{%s}:questionnaires", bilan);
    char *members = te_redis_cli(&env, cmd);
    assert_string_equal(members, asg);
    free(members);

    /* Submitting again answers the same results; the answers are locked. */
    r = submit(bilan, asg, BSL_STATUS_OK, msg);
    assert_string_equal(r->holland_code, "IAE");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_int_equal(save_likert(bilan, asg, riasec_ids, riasec_values, 1, msg),
                     BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "ASSIGNMENT_SUBMITTED"));

    /* The counselor annotates; the note comes with the results. */
    Boussole__V1__AnnotateResultsRequest ar = BOUSSOLE__V1__ANNOTATE_RESULTS_REQUEST__INIT;
    ar.bilan_id = bilan;
    ar.assignment_id = asg;
    ar.scale_id = "I";
    ar.text = "Profil investigateur très net, à relier à son goût pour l'analyse de données.";
    ProtobufCMessage *resp = NULL;
    assert_int_equal(call("AnnotateResults", &ar.base, &c, "note-1", &resp, msg), BSL_STATUS_OK);
    protobuf_c_message_free_unpacked(resp, NULL);
    ar.scale_id = "Z";
    assert_int_equal(call("AnnotateResults", &ar.base, &c, "note-2", NULL, msg),
                     BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "scale_id"));
    Boussole__V1__GetResultsRequest gr = BOUSSOLE__V1__GET_RESULTS_REQUEST__INIT;
    gr.bilan_id = bilan;
    gr.assignment_id = asg;
    assert_int_equal(call("GetResults", &gr.base, &b, NULL, &resp, msg), BSL_STATUS_OK);
    r = (Boussole__V1__Results *)resp;
    assert_int_equal(r->n_annotations, 1);
    assert_string_equal(r->annotations[0]->scale_id, "I");
    assert_string_equal(r->annotations[0]->author_id, "c-marie");
    assert_non_null(strstr(r->annotations[0]->text, "investigateur"));
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Matching from the results: capped at 20 by default, explained, attributed. */
    Boussole__V1__MatchOccupationsRequest mr = BOUSSOLE__V1__MATCH_OCCUPATIONS_REQUEST__INIT;
    mr.bilan_id = bilan;
    mr.assignment_id = asg;
    assert_int_equal(call("MatchOccupations", &mr.base, &b, NULL, &resp, msg), BSL_STATUS_OK);
    Boussole__V1__MatchOccupationsResponse *m = (Boussole__V1__MatchOccupationsResponse *)resp;
    assert_int_equal(m->n_matches, 20);
    assert_int_equal(m->occupations_considered, 923);
    assert_string_equal(m->holland_code, "IAE");
    assert_string_equal(m->method, "pearson-profile-correlation");
    assert_non_null(strstr(m->attribution, "O*NET"));
    /* Worked out apart (Pearson over the normalised profile 53.125 100 81.25 21.875 68.75
     * 12.5 against the 923 rows): the best is 0.6288, the twentieth 0.3853. */
    assert_string_equal(m->matches[0]->title, "Commercial and Industrial Designers");
    assert_true(m->matches[0]->congruence == 0.6288);
    assert_true(m->matches[19]->congruence == 0.3853);
    for (size_t i = 0; i < m->n_matches; i++) {
        assert_true(i == 0 || m->matches[i]->congruence <= m->matches[i - 1]->congruence);
        assert_true(strlen(m->matches[i]->occupation_code) == 3);
    }
    assert_true(strchr(m->matches[0]->matched_types, 'I') != NULL);
    protobuf_c_message_free_unpacked(resp, NULL);
    mr.limit = 5;
    assert_int_equal(call("MatchOccupations", &mr.base, &c, NULL, &resp, msg), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__MatchOccupationsResponse *)resp)->n_matches, 5);
    protobuf_c_message_free_unpacked(resp, NULL);
    mr.limit = 51;
    assert_int_equal(call("MatchOccupations", &mr.base, &c, NULL, NULL, msg),
                     BSL_STATUS_INVALID_ARGUMENT);

    /* The counselor reopens: the results are withdrawn until the next submission. */
    Boussole__V1__ReopenAssignmentRequest rr = BOUSSOLE__V1__REOPEN_ASSIGNMENT_REQUEST__INIT;
    rr.bilan_id = bilan;
    rr.assignment_id = asg;
    assert_int_equal(call("ReopenAssignment", &rr.base, &c, NULL, &resp, msg), BSL_STATUS_OK);
    Boussole__V1__Assignment *a = (Boussole__V1__Assignment *)resp;
    assert_int_equal(a->status, BOUSSOLE__V1__ASSIGNMENT_STATUS__ASSIGNMENT_STATUS_IN_PROGRESS);
    assert_int_equal(a->reopen_count, 1);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_int_equal(call("GetResults", &gr.base, &b, NULL, NULL, msg),
                     BSL_STATUS_FAILED_PRECONDITION);
    /* One change: c8 from 1 to 5 -> C raw 12 - 5 + 1 = 8. */
    char c8[1][8] = { "c8" };
    int five[1] = { 5 };
    assert_int_equal(save_likert(bilan, asg, c8, five, 1, msg), BSL_STATUS_OK);
    r = submit(bilan, asg, BSL_STATUS_OK, msg);
    assert_true(scale(r, "C")->raw == 8);
    assert_true(r->riasec->differentiation == 100);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* Free text is sealed in Redis and never logged. */
static void encrypted_at_rest(void **state)
{
    (void)state;
    char bilan[64], asg[64], msg[512];
    create_bilan("b-lea", "flow-bilan-2", bilan);
    assign(bilan, "valeurs", 0, "flow-asg-2", asg);
    static const char secret[] = "Le jour ou j'ai quitte la banque pour ouvrir mon atelier";
    Boussole__V1__Answer a = BOUSSOLE__V1__ANSWER__INIT;
    a.item_id = "moteur";
    a.value_case = BOUSSOLE__V1__ANSWER__VALUE_TEXT;
    a.text = (char *)secret;
    Boussole__V1__Answer *ptr = &a;
    Boussole__V1__SaveAnswersRequest req = BOUSSOLE__V1__SAVE_ANSWERS_REQUEST__INIT;
    req.bilan_id = bilan;
    req.assignment_id = asg;
    req.answers = &ptr;
    req.n_answers = 1;
    Boussole__V1__Caller b = beneficiary();
    ProtobufCMessage *resp = NULL;
    assert_int_equal(call("SaveAnswers", &req.base, &b, NULL, &resp, msg), BSL_STATUS_OK);
    Boussole__V1__SaveAnswersResponse *sr = (Boussole__V1__SaveAnswersResponse *)resp;
    assert_int_equal(sr->assignment->answered_count, 1);
    assert_int_equal(sr->n_missing_required, 25); /* 24 Likert items and the ranking */
    protobuf_c_message_free_unpacked(resp, NULL);
    /* Too long for the item (2000 characters). */
    char *long_text = malloc(2100);
    memset(long_text, 'x', 2050);
    long_text[2050] = '\0';
    a.text = long_text;
    assert_int_equal(call("SaveAnswers", &req.base, &b, NULL, NULL, msg),
                     BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "answers[0] (moteur): text must be at most 2000"));
    free(long_text);
    /* A ranking that leaves out a value. */
    char *vals[2] = { "autonomie", "securite" };
    Boussole__V1__ChoiceList l = BOUSSOLE__V1__CHOICE_LIST__INIT;
    l.values = vals;
    l.n_values = 2;
    Boussole__V1__Answer rk = BOUSSOLE__V1__ANSWER__INIT;
    rk.item_id = "classement";
    rk.value_case = BOUSSOLE__V1__ANSWER__VALUE_RANKING;
    rk.ranking = &l;
    ptr = &rk;
    assert_int_equal(call("SaveAnswers", &req.base, &b, NULL, NULL, msg),
                     BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "answers[0] (classement): needs exactly 8 choices"));

    char cmd[300];
    /* --no-raw: the sealed bytes come escaped, so a NUL byte cannot hide what follows. */
    snprintf(cmd, sizeof(cmd), "--no-raw HGET qn:{%s}:ans:%s moteur", bilan, asg);
    char *stored = te_redis_cli(&env, cmd);
    assert_true(strlen(stored) > 2 * sizeof(secret));
    assert_null(strstr(stored, "atelier"));
    free(stored);
    /* Reads give it back in clear. */
    Boussole__V1__GetAnswersRequest gr = BOUSSOLE__V1__GET_ANSWERS_REQUEST__INIT;
    gr.bilan_id = bilan;
    gr.assignment_id = asg;
    assert_int_equal(call("GetAnswers", &gr.base, &b, NULL, &resp, msg), BSL_STATUS_OK);
    Boussole__V1__Answers *ans = (Boussole__V1__Answers *)resp;
    assert_int_equal(ans->n_answers, 1);
    assert_string_equal(ans->answers[0]->text, secret);
    assert_non_null(ans->answers[0]->update_time);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* Withdraw it. */
    char *clear[1] = { "moteur" };
    req.n_answers = 0;
    req.clear_item_ids = clear;
    req.n_clear_item_ids = 1;
    assert_int_equal(call("SaveAnswers", &req.base, &b, NULL, NULL, msg), BSL_STATUS_OK);
    get_answers_count(bilan, asg, &b, 0);
    /* The service's log never holds the text. */
    FILE *f = fopen(qn.log, "r");
    assert_non_null(f);
    char line[8192];
    while (fgets(line, sizeof(line), f) != NULL) {
        assert_null(strstr(line, "atelier"));
    }
    fclose(f);
}

/* A minimal instrument as a counselor writes it. */
static Boussole__V1__Instrument *custom_instrument(const char *title, const char *question)
{
    static Boussole__V1__Instrument ins;
    static Boussole__V1__Section sec, *secs[1];
    static Boussole__V1__Item item, *items[1];
    static Boussole__V1__Scale sc1, *scales[1];
    static char *labels[3] = { "Non", "Un peu", "Oui" };
    static char *item_scales[1] = { "envie" };
    boussole__v1__instrument__init(&ins);
    boussole__v1__section__init(&sec);
    boussole__v1__item__init(&item);
    boussole__v1__scale__init(&sc1);
    sec.id = "s1";
    sec.title = "Questions";
    secs[0] = &sec;
    sc1.id = "envie";
    sc1.name = "Envie de changement";
    scales[0] = &sc1;
    item.id = "q1";
    item.kind = BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT;
    item.section_id = "s1";
    item.text = (char *)question;
    item.required = true;
    item.likert_min = 1;
    item.likert_max = 3;
    item.likert_labels = labels;
    item.n_likert_labels = 3;
    item.scales = item_scales;
    item.n_scales = 1;
    items[0] = &item;
    ins.language = "fr";
    ins.purpose = BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_OTHER;
    ins.title = (char *)title;
    ins.sections = secs;
    ins.n_sections = 1;
    ins.items = items;
    ins.n_items = 1;
    ins.scales = scales;
    ins.n_scales = 1;
    return &ins;
}

static void counselor_instruments(void **state)
{
    (void)state;
    char msg[512], bilan[64], asg1[64], asg2[64], id[64];
    Boussole__V1__Caller c = counselor();
    Boussole__V1__CreateInstrumentRequest cr = BOUSSOLE__V1__CREATE_INSTRUMENT_REQUEST__INIT;
    cr.instrument = custom_instrument("Envie de changement", "Avez-vous envie de changer ?");
    ProtobufCMessage *resp = NULL;
    assert_int_equal(call("CreateInstrument", &cr.base, &c, "inst-1", &resp, msg), BSL_STATUS_OK);
    Boussole__V1__Instrument *ins = (Boussole__V1__Instrument *)resp;
    assert_int_equal(ins->version, 1);
    assert_false(ins->builtin);
    assert_string_equal(ins->author_id, "c-marie");
    assert_string_equal(ins->organisation_id, ORG);
    snprintf(id, sizeof(id), "%s", ins->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* A repeat of the key finds the same instrument. */
    assert_int_equal(call("CreateInstrument", &cr.base, &c, "inst-1", &resp, msg), BSL_STATUS_OK);
    assert_string_equal(((Boussole__V1__Instrument *)resp)->id, id);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* A broken definition is refused naming the item. */
    cr.instrument->items[0]->likert_max = 4;
    assert_int_equal(call("CreateInstrument", &cr.base, &c, "inst-bad", NULL, msg),
                     BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "instrument.items[0] (q1): likert_labels has 3 labels, "
                                "expected 4"));
    cr.instrument->items[0]->likert_max = 3;
    /* A beneficiary writes no instrument. */
    Boussole__V1__Caller b = beneficiary();
    assert_int_equal(call("CreateInstrument", &cr.base, &b, "inst-2", NULL, msg),
                     BSL_STATUS_PERMISSION_DENIED);

    create_bilan("b-lea", "flow-bilan-3", bilan);
    assign(bilan, id, 0, "flow-asg-3", asg1);

    /* Version 2 changes the question; the first assignment keeps version 1. */
    Boussole__V1__CreateInstrumentVersionRequest vr =
        BOUSSOLE__V1__CREATE_INSTRUMENT_VERSION_REQUEST__INIT;
    vr.instrument_id = id;
    vr.expected_version = 1;
    vr.instrument = custom_instrument("Envie de changement", "Souhaitez-vous changer de métier ?");
    assert_int_equal(call("CreateInstrumentVersion", &vr.base, &c, "ver-1", &resp, msg),
                     BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__Instrument *)resp)->version, 2);
    protobuf_c_message_free_unpacked(resp, NULL);
    assert_int_equal(call("CreateInstrumentVersion", &vr.base, &c, "ver-2", NULL, msg),
                     BSL_STATUS_ABORTED);
    Boussole__V1__Caller other = te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-paul", ORG);
    vr.expected_version = 2;
    assert_int_equal(call("CreateInstrumentVersion", &vr.base, &other, "ver-3", NULL, msg),
                     BSL_STATUS_PERMISSION_DENIED);
    Boussole__V1__Caller stranger =
        te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-x", "org-other");
    Boussole__V1__GetInstrumentRequest gi = BOUSSOLE__V1__GET_INSTRUMENT_REQUEST__INIT;
    gi.id = id;
    assert_int_equal(call("GetInstrument", &gi.base, &stranger, NULL, NULL, msg),
                     BSL_STATUS_NOT_FOUND);
    gi.version = 1;
    assert_int_equal(call("GetInstrument", &gi.base, &c, NULL, &resp, msg), BSL_STATUS_OK);
    assert_string_equal(((Boussole__V1__Instrument *)resp)->items[0]->text,
                        "Avez-vous envie de changer ?");
    protobuf_c_message_free_unpacked(resp, NULL);

    Boussole__V1__GetAssignmentRequest ga = BOUSSOLE__V1__GET_ASSIGNMENT_REQUEST__INIT;
    ga.bilan_id = bilan;
    ga.assignment_id = asg1;
    assert_int_equal(call("GetAssignment", &ga.base, &b, NULL, &resp, msg), BSL_STATUS_OK);
    Boussole__V1__AssignmentDetail *d = (Boussole__V1__AssignmentDetail *)resp;
    assert_int_equal(d->assignment->instrument_version, 1);
    assert_string_equal(d->instrument->items[0]->text, "Avez-vous envie de changer ?");
    protobuf_c_message_free_unpacked(resp, NULL);
    assign(bilan, id, 0, "flow-asg-4", asg2);
    ga.assignment_id = asg2;
    assert_int_equal(call("GetAssignment", &ga.base, &b, NULL, &resp, msg), BSL_STATUS_OK);
    d = (Boussole__V1__AssignmentDetail *)resp;
    assert_int_equal(d->assignment->instrument_version, 2);
    assert_string_equal(d->instrument->items[0]->text, "Souhaitez-vous changer de métier ?");
    protobuf_c_message_free_unpacked(resp, NULL);

    /* The list: built-ins first, then the organisation's own. */
    Boussole__V1__ListInstrumentsRequest li = BOUSSOLE__V1__LIST_INSTRUMENTS_REQUEST__INIT;
    assert_int_equal(call("ListInstruments", &li.base, &c, NULL, &resp, msg), BSL_STATUS_OK);
    Boussole__V1__ListInstrumentsResponse *list = (Boussole__V1__ListInstrumentsResponse *)resp;
    assert_int_equal(list->n_instruments, 7);
    assert_true(list->instruments[0]->builtin);
    assert_string_equal(list->instruments[6]->id, id);
    assert_int_equal(list->instruments[6]->version, 2);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Retired: no new assignment, existing ones still answered. */
    Boussole__V1__RetireInstrumentRequest ri = BOUSSOLE__V1__RETIRE_INSTRUMENT_REQUEST__INIT;
    ri.instrument_id = id;
    assert_int_equal(call("RetireInstrument", &ri.base, &c, NULL, &resp, msg), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__Instrument *)resp)->status,
                     BOUSSOLE__V1__INSTRUMENT_STATUS__INSTRUMENT_STATUS_RETIRED);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__AssignInstrumentRequest ar = BOUSSOLE__V1__ASSIGN_INSTRUMENT_REQUEST__INIT;
    ar.bilan_id = bilan;
    ar.instrument_id = id;
    assert_int_equal(call("AssignInstrument", &ar.base, &c, "flow-asg-5", NULL, msg),
                     BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "INSTRUMENT_RETIRED"));
    char q1[1][8] = { "q1" };
    int three[1] = { 3 };
    assert_int_equal(save_likert(bilan, asg1, q1, three, 1, msg), BSL_STATUS_OK);
    Boussole__V1__Results *r = submit(bilan, asg1, BSL_STATUS_OK, msg);
    assert_true(scale(r, "envie")->normalised == 100);
    assert_string_equal(r->holland_code, "");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* Matching needs RIASEC results. */
    Boussole__V1__MatchOccupationsRequest mr = BOUSSOLE__V1__MATCH_OCCUPATIONS_REQUEST__INIT;
    mr.bilan_id = bilan;
    mr.assignment_id = asg1;
    assert_int_equal(call("MatchOccupations", &mr.base, &c, NULL, NULL, msg),
                     BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "NOT_RIASEC"));
    /* The relatives' form is not assigned but sent by invitation. */
    ar.instrument_id = "entourage";
    assert_int_equal(call("AssignInstrument", &ar.base, &c, "flow-asg-6", NULL, msg),
                     BSL_STATUS_INVALID_ARGUMENT);
    ar.instrument_id = "nope";
    assert_int_equal(call("AssignInstrument", &ar.base, &c, "flow-asg-7", NULL, msg),
                     BSL_STATUS_NOT_FOUND);
}

/* Export gives everything in clear to the beneficiary; erasure shreds and deletes. */
static void export_and_erase(void **state)
{
    (void)state;
    char msg[512], bilan[64], asg[64];
    create_bilan("b-noe", "flow-bilan-9", bilan);
    assign(bilan, "riasec", 1, "flow-asg-9", asg);
    Boussole__V1__Answer a = BOUSSOLE__V1__ANSWER__INIT;
    a.item_id = "r1";
    a.value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
    a.likert = 4;
    Boussole__V1__Answer *ptr = &a;
    Boussole__V1__SaveAnswersRequest req = BOUSSOLE__V1__SAVE_ANSWERS_REQUEST__INIT;
    req.bilan_id = bilan;
    req.assignment_id = asg;
    req.answers = &ptr;
    req.n_answers = 1;
    Boussole__V1__Caller noe = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-noe", "");
    assert_int_equal(call("SaveAnswers", &req.base, &noe, NULL, NULL, msg), BSL_STATUS_OK);

    Boussole__V1__ExportBeneficiaryDataRequest er =
        BOUSSOLE__V1__EXPORT_BENEFICIARY_DATA_REQUEST__INIT;
    er.beneficiary_id = "b-noe";
    ProtobufCMessage *resp = NULL;
    Boussole__V1__Caller lea = beneficiary();
    assert_int_equal(call("ExportBeneficiaryData", &er.base, &lea, NULL, NULL, msg),
                     BSL_STATUS_PERMISSION_DENIED);
    Boussole__V1__Caller c = counselor();
    assert_int_equal(call("ExportBeneficiaryData", &er.base, &c, NULL, NULL, msg),
                     BSL_STATUS_PERMISSION_DENIED);
    assert_int_equal(call("ExportBeneficiaryData", &er.base, &noe, NULL, &resp, msg),
                     BSL_STATUS_OK);
    Boussole__V1__QuestionnairesExport *ex = (Boussole__V1__QuestionnairesExport *)resp;
    assert_int_equal(ex->n_bilans, 1);
    assert_string_equal(ex->bilans[0]->bilan_id, bilan);
    assert_int_equal(ex->bilans[0]->n_answers, 1);
    assert_int_equal(ex->bilans[0]->answers[0]->n_answers, 1);
    assert_int_equal(ex->bilans[0]->answers[0]->answers[0]->likert, 4);
    assert_non_null(ex->bilans[0]->feedback);
    assert_false(ex->bilans[0]->feedback->visible);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Erasure is for services only. */
    Boussole__V1__EraseBilanDataRequest xr = BOUSSOLE__V1__ERASE_BILAN_DATA_REQUEST__INIT;
    xr.bilan_id = bilan;
    xr.reason = "beneficiary request";
    assert_int_equal(call("EraseBilanData", &xr.base, &c, NULL, NULL, msg),
                     BSL_STATUS_PERMISSION_DENIED);
    Boussole__V1__Caller svc = te_caller(BOUSSOLE__V1__ROLE__ROLE_SERVICE, "syntheses", "");
    assert_int_equal(call("EraseBilanData", &xr.base, &svc, NULL, &resp, msg), BSL_STATUS_OK);
    Boussole__V1__EraseBilanDataResponse *x = (Boussole__V1__EraseBilanDataResponse *)resp;
    assert_true(x->data_key_destroyed);
    assert_int_equal(x->keys_deleted, 4); /* asg, ans, meta, asgs */
    protobuf_c_message_free_unpacked(resp, NULL);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "EXISTS dek:{%s}:questionnaires qn:{%s}:asgs qn:{%s}:meta", bilan,
             bilan, bilan);
    char *n = te_redis_cli(&env, cmd);
    assert_string_equal(n, "0");
    free(n);
    /* Again: nothing left to do, still OK. */
    assert_int_equal(call("EraseBilanData", &xr.base, &svc, NULL, &resp, msg), BSL_STATUS_OK);
    x = (Boussole__V1__EraseBilanDataResponse *)resp;
    assert_false(x->data_key_destroyed);
    assert_int_equal(x->keys_deleted, 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__GetAnswersRequest gr = BOUSSOLE__V1__GET_ANSWERS_REQUEST__INIT;
    gr.bilan_id = bilan;
    gr.assignment_id = asg;
    assert_int_equal(call("GetAnswers", &gr.base, &noe, NULL, NULL, msg), BSL_STATUS_NOT_FOUND);
    assert_int_equal(call("ExportBeneficiaryData", &er.base, &noe, NULL, &resp, msg),
                     BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__QuestionnairesExport *)resp)->n_bilans, 0);
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* A bilan that has ended takes no more answers, except satisfaction surveys of a closed one. */
static void ended_bilan(void **state)
{
    (void)state;
    char msg[512], bilan[64], asg[64], sat[64];
    create_bilan("b-lea", "flow-bilan-10", bilan);
    assign(bilan, "competences", 0, "flow-asg-10", asg);
    /* Cancelled through the sessions service. */
    Boussole__V1__CancelBilanRequest cr = BOUSSOLE__V1__CANCEL_BILAN_REQUEST__INIT;
    cr.id = bilan;
    cr.reason = BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_BENEFICIARY_WITHDREW;
    Boussole__V1__Caller c = counselor();
    bsl_call_opts o = { .caller = &c, .idempotency_key = "flow-cancel-10" };
    assert_int_equal(bsl_sync_call(sc_sessions, "boussole.v1.SessionService/CancelBilan", &cr.base,
                                   &o, NULL, msg, sizeof(msg)),
                     BSL_STATUS_OK);
    Boussole__V1__Answer a = BOUSSOLE__V1__ANSWER__INIT;
    a.item_id = "numerique-1";
    a.value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
    a.likert = 3;
    Boussole__V1__Answer *ptr = &a;
    Boussole__V1__SaveAnswersRequest req = BOUSSOLE__V1__SAVE_ANSWERS_REQUEST__INIT;
    req.bilan_id = bilan;
    req.assignment_id = asg;
    req.answers = &ptr;
    req.n_answers = 1;
    Boussole__V1__Caller b = beneficiary();
    assert_int_equal(call("SaveAnswers", &req.base, &b, NULL, NULL, msg),
                     BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "BILAN_NOT_RUNNING"));
    Boussole__V1__AssignInstrumentRequest ar = BOUSSOLE__V1__ASSIGN_INSTRUMENT_REQUEST__INIT;
    ar.bilan_id = bilan;
    ar.instrument_id = "riasec";
    assert_int_equal(call("AssignInstrument", &ar.base, &c, "flow-asg-11", NULL, msg),
                     BSL_STATUS_FAILED_PRECONDITION);
    ar.instrument_id = "satisfaction-fin";
    assert_int_equal(call("AssignInstrument", &ar.base, &c, "flow-asg-13", NULL, msg),
                     BSL_STATUS_FAILED_PRECONDITION);
    /* Reading stays possible. */
    get_answers_count(bilan, asg, &b, 0);

    /* Closing needs the whole lifecycle (agreement, phases, a final synthesis); the stored
     * state is set here as closing sets it (BILAN_STATUS_CLOSED = 2, PHASE_CLOSED = 5) to show
     * that the six-month survey is still taken after the end. */
    char closed[64], cmd[200];
    create_bilan("b-lea", "flow-bilan-11", closed);
    snprintf(cmd, sizeof(cmd), "HSET bilan:{%s} status 2 phase 5", closed);
    free(te_redis_cli(&env, cmd));
    ar.bilan_id = closed;
    ar.instrument_id = "riasec";
    assert_int_equal(call("AssignInstrument", &ar.base, &c, "flow-asg-14", NULL, msg),
                     BSL_STATUS_FAILED_PRECONDITION);
    assign(closed, "satisfaction-6mois", 0, "flow-asg-12", sat);
    a.item_id = "utilite-1";
    a.likert = 4;
    req.bilan_id = closed;
    req.assignment_id = sat;
    assert_int_equal(call("SaveAnswers", &req.base, &b, NULL, NULL, msg), BSL_STATUS_OK);
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
        cmocka_unit_test(riasec_full_run),       cmocka_unit_test(encrypted_at_rest),
        cmocka_unit_test(counselor_instruments), cmocka_unit_test(export_and_erase),
        cmocka_unit_test(ended_bilan),           cmocka_unit_test(clean_shutdown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
