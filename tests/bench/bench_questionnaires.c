/*
 * The questionnaires service's figures, against real redis-server, sessions and questionnaires
 * processes, with 1, 16 and 64 calls in flight:
 *   - SaveAnswers: 8 Likert answers of the RIASEC inventory (each sealed, one Lua script);
 *   - SubmitAnswers with scoring: a fresh, fully answered RIASEC assignment per call (48
 *     answers opened, completeness, scoring, results sealed and stored, the report to the
 *     sessions service);
 *   - MatchOccupations from a profile: 923 occupations, top 20;
 *   - GetSatisfactionStats over an organisation's submitted satisfaction surveys, one per
 *     bilan (each survey's assignment and answers read, its bilan's key fetched, 13 answers
 *     opened, then aggregated), one call at a time;
 * and the in-process time of one match over the 923 occupations (no RPC).
 *
 * Run pinned, as the other benches:
 *   TE_SERVER_CPU=0 taskset -c 1 ./tests/bench/bench_questionnaires
 * with BSL_BUILD_DIR and BSL_SOURCE_DIR set. BENCH_DUR / BENCH_WARM set the length of each run;
 * BENCH_SUBMIT_POOL the number of assignments prepared for the Submit runs; BENCH_SAT_SURVEYS
 * the number of satisfaction surveys (default 2000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchlib.h"
#include "boussole/service.h"
#include "boussole/v1/questionnaires.pb-c.h"
#include "boussole/v1/sessions.pb-c.h"
#include "testenv.h"

#include "occupations.h"
#include "scoring.h"

#define ORG "org-bench"

static Boussole__V1__Caller counselor, beneficiary;

/* ---- the 48 RIASEC answers ---------------------------------------------------------------- */

static char ids[48][8];
static Boussole__V1__Answer answers[48];
static Boussole__V1__Answer *answer_ptrs[48];

static void fill_answers(void)
{
    for (int t = 0, k = 0; t < 6; t++) {
        for (int n = 1; n <= 8; n++, k++) {
            snprintf(ids[k], sizeof(ids[k]), "%c%d", "riasec"[t], n);
            boussole__v1__answer__init(&answers[k]);
            answers[k].item_id = ids[k];
            answers[k].value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
            answers[k].likert = 1 + (t * 7 + n) % 5;
            answer_ptrs[k] = &answers[k];
        }
    }
}

/* ---- preparing assignments for Submit ------------------------------------------------------ */

typedef struct pool {
    bsl_client *c;
    struct ev_loop *loop;
    char (*bilans)[32];
    size_t n_bilans;
    char (*asg)[32]; /* assignment ids, with their bilan index */
    size_t *asg_bilan;
    size_t size, next_to_make, made, failed, next_to_submit;
    unsigned in_flight;
} pool;

typedef struct maker {
    pool *p;
    size_t index;
    char key[48];
} maker;

static void make_next(pool *p);

static void on_saved(const bsl_reply *reply, void *arg)
{
    maker *m = arg;
    pool *p = m->p;
    if (reply->code == BSL_STATUS_OK) {
        p->made++;
    } else {
        p->failed++;
        p->asg[m->index][0] = '\0';
    }
    free(m);
    p->in_flight--;
    make_next(p);
    if (p->in_flight == 0) {
        ev_break(p->loop, EVBREAK_ONE);
    }
}

static void on_assigned(const bsl_reply *reply, void *arg)
{
    maker *m = arg;
    pool *p = m->p;
    if (reply->code != BSL_STATUS_OK) {
        fprintf(stderr, "bench: AssignInstrument: %s\n", reply->message);
        p->asg[m->index][0] = '\0';
        p->failed++;
        free(m);
        p->in_flight--;
        make_next(p);
        if (p->in_flight == 0) {
            ev_break(p->loop, EVBREAK_ONE);
        }
        return;
    }
    const Boussole__V1__Assignment *a = (const void *)reply->msg;
    snprintf(p->asg[m->index], sizeof(p->asg[0]), "%s", a->id);
    Boussole__V1__SaveAnswersRequest req = BOUSSOLE__V1__SAVE_ANSWERS_REQUEST__INIT;
    req.bilan_id = p->bilans[p->asg_bilan[m->index]];
    req.assignment_id = p->asg[m->index];
    req.answers = answer_ptrs;
    req.n_answers = 48;
    bsl_call_opts o = { .caller = &beneficiary };
    bsl_client_call(p->c, "boussole.v1.QuestionnaireService/SaveAnswers", &req.base, &o, on_saved,
                    m);
}

static void make_next(pool *p)
{
    while (p->in_flight < 32 && p->next_to_make < p->size) {
        maker *m = calloc(1, sizeof(*m));
        m->p = p;
        m->index = p->next_to_make++;
        p->asg_bilan[m->index] = m->index / 100;
        snprintf(m->key, sizeof(m->key), "pool-%zu", m->index);
        Boussole__V1__AssignInstrumentRequest req = BOUSSOLE__V1__ASSIGN_INSTRUMENT_REQUEST__INIT;
        req.bilan_id = p->bilans[m->index / 100];
        req.instrument_id = "riasec";
        bsl_call_opts o = { .caller = &counselor, .idempotency_key = m->key };
        p->in_flight++;
        bsl_client_call(p->c, "boussole.v1.QuestionnaireService/AssignInstrument", &req.base, &o,
                        on_assigned, m);
    }
}

/* ---- the Submit runs ----------------------------------------------------------------------- */

static void on_submit_reply(const bsl_reply *reply, void *arg)
{
    bench_complete(arg, reply->code == BSL_STATUS_OK);
}

static void submit_issue(bench_slot *slot, uint64_t seq, void *arg)
{
    (void)seq;
    pool *p = arg;
    while (p->next_to_submit < p->size && p->asg[p->next_to_submit][0] == '\0') {
        p->next_to_submit++;
    }
    Boussole__V1__SubmitAnswersRequest req = BOUSSOLE__V1__SUBMIT_ANSWERS_REQUEST__INIT;
    if (p->next_to_submit < p->size) {
        size_t i = p->next_to_submit++;
        req.bilan_id = p->bilans[p->asg_bilan[i]];
        req.assignment_id = p->asg[i];
    } else {
        /* The pool ran out: an invalid request, counted as an error (raise
         * BENCH_SUBMIT_POOL). */
        req.bilan_id = "";
        req.assignment_id = "";
    }
    bsl_call_opts o = { .caller = &beneficiary };
    bsl_client_call(p->c, "boussole.v1.QuestionnaireService/SubmitAnswers", &req.base, &o,
                    on_submit_reply, slot);
}

/* ---- main ---------------------------------------------------------------------------------- */

static void create_bilan(bsl_sync_client *sc, const char *key, char out[32])
{
    Boussole__V1__CreateBilanRequest cr = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    cr.beneficiary_id = "b-bench";
    cr.organisation_id = ORG;
    cr.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    cr.planned_hours = 24;
    cr.start_date = "2026-12-01";
    cr.end_date = "2027-03-01";
    bsl_call_opts co = { .caller = &counselor, .idempotency_key = key };
    ProtobufCMessage *resp = NULL;
    char msg[256];
    if (bsl_sync_call(sc, "boussole.v1.SessionService/CreateBilan", &cr.base, &co, &resp, msg,
                      256) != BSL_STATUS_OK) {
        fprintf(stderr, "CreateBilan failed: %s\n", msg);
        exit(1);
    }
    snprintf(out, 32, "%s", ((Boussole__V1__Bilan *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void in_process_match(const char *source)
{
    char path[1024], err[256];
    snprintf(path, sizeof(path), "%s/services/questionnaires/data/occupations/onet-interests.tsv",
             source);
    qn_occupations *set;
    if (qn_occupations_load(path, &set, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    qn_match out[QN_MATCH_MAX];
    const int n = 20000;
    double sink = 0;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        /* A profile that changes every time, so nothing is hoisted out of the loop. */
        double profile[6] = { 10 + i % 7, 80 - i % 11, 30 + i % 13, 20, 50 + i % 5, 40 };
        char code[4] = "";
        int k = qn_match_profile(set, profile, QN_MATCH_DEFAULT, out, code);
        sink += k > 0 ? out[0].congruence : 0;
    }
    double per = (now_s() - t0) / n;
    printf(
        "RESULT label=questionnaires-match-in-process occupations=%zu limit=%d us_per_match=%.2f "
        "(checksum %.1f)\n",
        set->n, QN_MATCH_DEFAULT, per * 1e6, sink);
    qn_occupations_free(set);
}

/* ---- satisfaction statistics ----------------------------------------------------------------- */

/* One bilan of ORG whose beneficiary answers and submits satisfaction-fin; false on failure. */
static bool one_survey(bsl_sync_client *ss, bsl_sync_client *sc, size_t i, char msg[256])
{
    char key[48], bilan[32], asg[32], ben[32];
    snprintf(key, sizeof(key), "bench-sat-%zu", i);
    snprintf(ben, sizeof(ben), "b-sat-%zu", i);
    Boussole__V1__CreateBilanRequest cb = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    cb.beneficiary_id = ben;
    cb.organisation_id = ORG;
    cb.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    cb.planned_hours = 24;
    cb.start_date = "2026-12-01";
    cb.end_date = "2027-02-28";
    bsl_call_opts co = { .caller = &counselor, .idempotency_key = key };
    ProtobufCMessage *resp = NULL;
    if (bsl_sync_call(ss, "boussole.v1.SessionService/CreateBilan", &cb.base, &co, &resp, msg,
                      256) != BSL_STATUS_OK) {
        return false;
    }
    snprintf(bilan, sizeof(bilan), "%s", ((Boussole__V1__Bilan *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__AssignInstrumentRequest ar = BOUSSOLE__V1__ASSIGN_INSTRUMENT_REQUEST__INIT;
    ar.bilan_id = bilan;
    ar.instrument_id = "satisfaction-fin";
    if (bsl_sync_call(sc, "boussole.v1.QuestionnaireService/AssignInstrument", &ar.base, &co, &resp,
                      msg, 256) != BSL_STATUS_OK) {
        return false;
    }
    snprintf(asg, sizeof(asg), "%s", ((Boussole__V1__Assignment *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    static const char *const items[10] = {
        "accueil-1", "accueil-2", "accompagnement-1", "accompagnement-2", "accompagnement-3",
        "outils-1",  "outils-2",  "resultat-1",       "resultat-2",       "resultat-3",
    };
    Boussole__V1__Answer a[12];
    Boussole__V1__Answer *ptrs[12];
    for (size_t k = 0; k < 12; k++) {
        boussole__v1__answer__init(&a[k]);
        ptrs[k] = &a[k];
        if (k < 10) {
            a[k].item_id = (char *)items[k];
            a[k].value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
            a[k].likert = 1 + (int)((i + k) % 4);
        }
    }
    a[10].item_id = "note";
    a[10].value_case = BOUSSOLE__V1__ANSWER__VALUE_NUMBER;
    a[10].number = (double)(i % 11);
    a[11].item_id = "recommandation";
    a[11].value_case = BOUSSOLE__V1__ANSWER__VALUE_CHOICE;
    a[11].choice = i % 3 ? "certainement" : "probablement";
    Boussole__V1__Caller b = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, ben, "");
    bsl_call_opts bo = { .caller = &b };
    Boussole__V1__SaveAnswersRequest sr = BOUSSOLE__V1__SAVE_ANSWERS_REQUEST__INIT;
    sr.bilan_id = bilan;
    sr.assignment_id = asg;
    sr.answers = ptrs;
    sr.n_answers = 12;
    if (bsl_sync_call(sc, "boussole.v1.QuestionnaireService/SaveAnswers", &sr.base, &bo, NULL, msg,
                      256) != BSL_STATUS_OK) {
        return false;
    }
    Boussole__V1__SubmitAnswersRequest su = BOUSSOLE__V1__SUBMIT_ANSWERS_REQUEST__INIT;
    su.bilan_id = bilan;
    su.assignment_id = asg;
    return bsl_sync_call(sc, "boussole.v1.QuestionnaireService/SubmitAnswers", &su.base, &bo, NULL,
                         msg, 256) == BSL_STATUS_OK;
}

static void satisfaction_stats(te_env *env, bsl_sync_client *ss, bsl_sync_client *sc, te_proc *qn)
{
    const char *n_env = getenv("BENCH_SAT_SURVEYS");
    size_t n = n_env ? (size_t)atol(n_env) : 2000, made = 0;
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        char msg[256] = "";
        /* Once more on failure: the Submit runs before may leave calls to drain (each step is
         * idempotent). */
        if (one_survey(ss, sc, i, msg) || one_survey(ss, sc, i, msg)) {
            made++;
        } else {
            fprintf(stderr, "bench: satisfaction survey %zu: %s\n", i, msg);
        }
    }
    printf("# prepared %zu of %zu submitted satisfaction surveys (one bilan each) in %.1f s\n",
           made, n, now_s() - t0);
    /* A fresh process: no bilan key cached, as for the first report of the day. */
    te_service_restart(env, qn);
    bsl_sync_client *fresh = te_client(qn->url);
    Boussole__V1__Caller adm = te_caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-bench", ORG);
    Boussole__V1__GetSatisfactionStatsRequest req =
        BOUSSOLE__V1__GET_SATISFACTION_STATS_REQUEST__INIT;
    req.organisation_id = ORG;
    req.instrument_id = "satisfaction-fin";
    bsl_call_opts o = { .caller = &adm, .deadline_ms = 60000 };
    for (int run = 0; run < 3; run++) {
        char msg[256];
        ProtobufCMessage *resp = NULL;
        double t = now_s();
        bsl_status st =
            bsl_sync_call(fresh, "boussole.v1.QuestionnaireService/GetSatisfactionStats", &req.base,
                          &o, &resp, msg, sizeof(msg));
        double ms = (now_s() - t) * 1e3;
        uint32_t got =
            st == BSL_STATUS_OK ? ((Boussole__V1__SatisfactionStats *)resp)->respondents : 0;
        printf("RESULT label=questionnaires-GetSatisfactionStats run=%s surveys=%u ms=%.1f "
               "us_per_survey=%.1f status=%d\n",
               run == 0 ? "first" : "again", got, ms, got ? ms * 1e3 / got : 0.0, st);
        if (resp != NULL) {
            protobuf_c_message_free_unpacked(resp, NULL);
        }
    }
    bsl_sync_client_free(fresh);
}

int main(void)
{
    bsl_init();
    fill_answers();
    counselor = te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-bench", ORG);
    beneficiary = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-bench", "");
    const char *source = getenv("BSL_SOURCE_DIR");
    if (source == NULL) {
        fprintf(stderr, "BSL_SOURCE_DIR must be set\n");
        return 1;
    }
    in_process_match(source);

    te_env env;
    te_init(&env, "bench-questionnaires");
    te_redis_start(&env);
    char level[64];
    snprintf(level, sizeof(level), "--log-level=%s",
             getenv("BENCH_LOG_LEVEL") ? getenv("BENCH_LOG_LEVEL") : "warn");
    te_proc sessions, qn;
    const char *sargs[] = { level, NULL };
    te_service_start(&env, &sessions, "sessions", sargs);
    char peer[200];
    snprintf(peer, sizeof(peer), "--sessions-url=%s", sessions.url);
    const char *qargs[] = { level, peer, NULL };
    te_service_start(&env, &qn, "questionnaires", qargs);
    bsl_sync_client *ss = te_client(sessions.url);
    bsl_sync_client *sc = te_client(qn.url);
    bsl_client *c = bsl_sync_client_client(sc);
    struct ev_loop *loop = bsl_sync_client_loop(sc);

    double warm = bench_env_seconds("BENCH_WARM", 0.5);
    double dur = bench_env_seconds("BENCH_DUR", 3);
    const unsigned concs[] = { 1, 16, 64 };

    /* The bilans of the Submit pool, made while the sessions client is fresh. */
    pool p;
    memset(&p, 0, sizeof(p));
    p.c = c;
    p.loop = loop;
    const char *pool_env = getenv("BENCH_SUBMIT_POOL");
    p.size = pool_env ? (size_t)atol(pool_env) : 15000;
    p.n_bilans = (p.size + 99) / 100;
    p.bilans = calloc(p.n_bilans, sizeof(*p.bilans));
    p.asg = calloc(p.size, sizeof(*p.asg));
    p.asg_bilan = calloc(p.size, sizeof(size_t));
    for (size_t i = 0; i < p.n_bilans; i++) {
        char key[48];
        snprintf(key, sizeof(key), "bench-bilan-%zu", i);
        create_bilan(ss, key, p.bilans[i]);
    }

    /* SaveAnswers: one draft assignment, the same 8 answers again and again. */
    char bilan[32], asg[32], msg[256];
    create_bilan(ss, "bench-bilan-save", bilan);
    Boussole__V1__AssignInstrumentRequest ar = BOUSSOLE__V1__ASSIGN_INSTRUMENT_REQUEST__INIT;
    ar.bilan_id = bilan;
    ar.instrument_id = "riasec";
    bsl_call_opts co = { .caller = &counselor, .idempotency_key = "bench-asg-save" };
    ProtobufCMessage *resp = NULL;
    if (bsl_sync_call(sc, "boussole.v1.QuestionnaireService/AssignInstrument", &ar.base, &co, &resp,
                      msg, sizeof(msg)) != BSL_STATUS_OK) {
        fprintf(stderr, "AssignInstrument failed: %s\n", msg);
        return 1;
    }
    snprintf(asg, sizeof(asg), "%s", ((Boussole__V1__Assignment *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__SaveAnswersRequest sr = BOUSSOLE__V1__SAVE_ANSWERS_REQUEST__INIT;
    sr.bilan_id = bilan;
    sr.assignment_id = asg;
    sr.answers = answer_ptrs;
    sr.n_answers = 8;
    bsl_call_opts bo = { .caller = &beneficiary };
    for (size_t i = 0; i < 3; i++) {
        bench_result r = bench_rpc(c, loop, "boussole.v1.QuestionnaireService/SaveAnswers",
                                   &sr.base, &bo, concs[i], warm, dur);
        bench_print("questionnaires-SaveAnswers-8", concs[i], &r);
    }

    /* MatchOccupations from a profile. */
    Boussole__V1__RiasecProfile prof = BOUSSOLE__V1__RIASEC_PROFILE__INIT;
    prof.r = 10;
    prof.i = 80;
    prof.a = 30;
    prof.s = 20;
    prof.e = 50;
    prof.c = 40;
    Boussole__V1__MatchOccupationsRequest mr = BOUSSOLE__V1__MATCH_OCCUPATIONS_REQUEST__INIT;
    mr.profile = &prof;
    for (size_t i = 0; i < 3; i++) {
        bench_result r = bench_rpc(c, loop, "boussole.v1.QuestionnaireService/MatchOccupations",
                                   &mr.base, &bo, concs[i], warm, dur);
        bench_print("questionnaires-MatchOccupations-20", concs[i], &r);
    }

    /* Submit with scoring: a pool of fully answered assignments, 100 per bilan. */
    double t0 = now_s();
    make_next(&p);
    ev_run(loop, 0);
    printf("# prepared %zu answered assignments in %.1f s (%zu failed)\n", p.made, now_s() - t0,
           p.failed);
    double sdur = bench_env_seconds("BENCH_SUBMIT_DUR", 1);
    for (size_t i = 0; i < 3; i++) {
        bench_result r = bench_run(loop, concs[i], 0.2, sdur, submit_issue, &p);
        bench_print("questionnaires-SubmitAnswers-48-scored", concs[i], &r);
    }
    printf("# submitted %zu of %zu prepared assignments\n", p.next_to_submit, p.size);
    satisfaction_stats(&env, ss, sc, &qn);
    free(p.bilans);
    free(p.asg);
    free(p.asg_bilan);
    bsl_sync_client_free(sc);
    bsl_sync_client_free(ss);
    te_fini(&env);
    return 0;
}
