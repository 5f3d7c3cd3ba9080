/*
 * Helpers shared by the syntheses integration tests (tests/integration/syntheses_*_test.c):
 * one redis-server and the real sessions, questionnaires and syntheses processes per test
 * program, clients, callers, and the steps that take a bilan to its conclusion phase with
 * real data (intake, roadmap, experiences, a career lead with research, a RIASEC inventory
 * answered and submitted). Header-only (static functions), so each test stays one file.
 */
#ifndef SYNTHESES_HELPERS_H
#define SYNTHESES_HELPERS_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "boussole/client.h"
#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "boussole/service.h"
#include "boussole/v1/questionnaires.pb-c.h"
#include "boussole/v1/sessions.pb-c.h"
#include "boussole/v1/syntheses.pb-c.h"
#include "testenv.h"

#define ORG    "org-lumiere"
#define SES    "boussole.v1.SessionService/"
#define QUE    "boussole.v1.QuestionnaireService/"
#define SYN    "boussole.v1.SynthesisService/"
#define DAY_MS 86400000LL

#define NO_SUCH_ID "0123456789abcdefghjkmnpqrs"

#define HELPER static __attribute__((unused))

static te_env env;
static te_proc p_sessions, p_questionnaires, p_syntheses;
static bsl_sync_client *c_sessions, *c_questionnaires, *c_syntheses;
static long long clock_offset_ms;
static char last_msg[512];

/* ---- callers ----------------------------------------------------------------------------- */

HELPER Boussole__V1__Caller beneficiary(void)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-lea", "");
}
HELPER Boussole__V1__Caller beneficiary_of(const char *subject)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, subject, "");
}
HELPER Boussole__V1__Caller counselor(void)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-marie", ORG);
}
HELPER Boussole__V1__Caller other_counselor(void)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-jules", ORG);
}
HELPER Boussole__V1__Caller admin(void)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-paul", ORG);
}
HELPER Boussole__V1__Caller other_admin(void)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-zoe", "org-autre");
}
HELPER Boussole__V1__Caller third_party(const char *subject)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_THIRD_PARTY, subject, "");
}
HELPER Boussole__V1__Caller service_caller(void)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_SERVICE, "tests", "");
}

/* ---- processes --------------------------------------------------------------------------- */

/* Starts Redis and the three services; extra arguments for the syntheses service. */
HELPER void start_all(const char *name, bool aof, const char *const *syn_extra)
{
    bsl_init();
    te_init(&env, name);
    env.redis_aof = aof;
    te_redis_start(&env);
    te_service_start(&env, &p_sessions, "sessions", NULL);
    char ses[200], que[200];
    snprintf(ses, sizeof(ses), "--sessions-url=%s", p_sessions.url);
    const char *qargs[] = { ses, NULL };
    te_service_start(&env, &p_questionnaires, "questionnaires", qargs);
    snprintf(que, sizeof(que), "--questionnaires-url=%s", p_questionnaires.url);
    const char *args[16] = { ses, que, "--retention-interval-ms=0" };
    size_t n = 3;
    for (size_t i = 0; syn_extra != NULL && syn_extra[i] != NULL && n < 15; i++) {
        args[n++] = syn_extra[i];
    }
    args[n] = NULL;
    te_service_start(&env, &p_syntheses, "syntheses", args);
    c_sessions = te_client(p_sessions.url);
    c_questionnaires = te_client(p_questionnaires.url);
    c_syntheses = te_client(p_syntheses.url);
    clock_offset_ms = 0;
}

/* Stops everything; false when a service did not exit cleanly (in a sanitized build, a leak
 * or an error found at exit), which fails the test program. */
HELPER bool stop_all(void)
{
    bool clean = true;
    bsl_sync_client_free(c_sessions);
    bsl_sync_client_free(c_questionnaires);
    bsl_sync_client_free(c_syntheses);
    c_sessions = c_questionnaires = c_syntheses = NULL;
    /* SIGTERM first, so that a sanitized build checks for leaks at exit. */
    te_proc *procs[] = { &p_syntheses, &p_questionnaires, &p_sessions };
    for (size_t i = 0; i < 3; i++) {
        te_signal(procs[i], SIGTERM);
        int st = te_wait(procs[i], 15000);
        if (st != 0) {
            fprintf(stderr, "%s exited with %d (see %s)\n", procs[i]->name, st, procs[i]->log);
            clean = false;
        }
    }
    te_fini(&env);
    return clean;
}

HELPER void move_clock(long long offset_ms)
{
    clock_offset_ms = offset_ms;
    te_clock_set(&env, offset_ms);
}

HELPER long long service_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset_ms;
}

/* "YYYY-MM-DD" of the service's today plus days (ring of 8 static buffers). */
HELPER const char *day(int days)
{
    return te_date(service_now_ms(), days);
}

/* A timestamp ms from the service's now (ring of 8). */
HELPER Google__Protobuf__Timestamp *from_now(long long ms)
{
    static Google__Protobuf__Timestamp ts[8];
    static int next;
    Google__Protobuf__Timestamp *t = &ts[next++ % 8];
    google__protobuf__timestamp__init(t);
    long long v = service_now_ms() + ms;
    t->seconds = v / 1000;
    t->nanos = (int32_t)((v % 1000) * 1000000);
    return t;
}

/* ---- calls ------------------------------------------------------------------------------- */

/* Calls any method; the message goes to last_msg. *resp on OK (caller frees). */
HELPER bsl_status rpc(bsl_sync_client *sc, const char *method, const ProtobufCMessage *req,
                      const Boussole__V1__Caller *c, const char *key, ProtobufCMessage **resp)
{
    bsl_call_opts o = { .caller = c, .idempotency_key = key, .deadline_ms = 20000 };
    ProtobufCMessage *r = NULL;
    bsl_status st = bsl_sync_call(sc, method, req, &o, &r, last_msg, sizeof(last_msg));
    if (resp != NULL) {
        *resp = r;
    } else if (r != NULL) {
        protobuf_c_message_free_unpacked(r, NULL);
    }
    return st;
}

#define expect_status(call, want)                                                                  \
    do {                                                                                           \
        bsl_status got_ = (call);                                                                  \
        if (got_ != (want)) {                                                                      \
            fail_msg("%s:%d: want %s, got %s: %s", __FILE__, __LINE__, bsl_status_name(want),      \
                     bsl_status_name(got_), last_msg);                                             \
        }                                                                                          \
    } while (0)

HELPER bsl_status syn(const char *method, const ProtobufCMessage *req,
                      const Boussole__V1__Caller *c, ProtobufCMessage **resp)
{
    char full[128];
    snprintf(full, sizeof(full), SYN "%s", method);
    return rpc(c_syntheses, full, req, c, NULL, resp);
}

HELPER bsl_status ses(const char *method, const ProtobufCMessage *req,
                      const Boussole__V1__Caller *c, ProtobufCMessage **resp)
{
    char full[128];
    snprintf(full, sizeof(full), SES "%s", method);
    return rpc(c_sessions, full, req, c, NULL, resp);
}

HELPER bsl_status que(const char *method, const ProtobufCMessage *req,
                      const Boussole__V1__Caller *c, ProtobufCMessage **resp)
{
    char full[128];
    snprintf(full, sizeof(full), QUE "%s", method);
    return rpc(c_questionnaires, full, req, c, NULL, resp);
}

/* True when the last answer carries a PreconditionViolation of that type. */
HELPER bool has_precondition(bsl_sync_client *sc, const char *type)
{
    const Boussole__V1__RpcResponse *r = bsl_sync_last_envelope(sc);
    for (size_t i = 0; r != NULL && i < r->n_details; i++) {
        const Boussole__V1__PreconditionViolation *pv = r->details[i]->precondition_violation;
        if (pv != NULL && strcmp(pv->type, type) == 0) {
            return true;
        }
    }
    return false;
}

/* True when the last answer names that field in a FieldViolation. */
HELPER bool has_field_violation(bsl_sync_client *sc, const char *field)
{
    const Boussole__V1__RpcResponse *r = bsl_sync_last_envelope(sc);
    for (size_t i = 0; r != NULL && i < r->n_details; i++) {
        const Boussole__V1__FieldViolation *fv = r->details[i]->field_violation;
        if (fv != NULL && strcmp(fv->field, field) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- a bilan with real data -------------------------------------------------------------- */

/* Creates a bilan for `ben` with the counselor; returns its id (ring of 4). */
HELPER const char *create_bilan(const char *ben)
{
    static char ids[4][32];
    static int next;
    Boussole__V1__CreateBilanRequest req = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    req.beneficiary_id = (char *)ben;
    req.organisation_id = ORG;
    req.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    req.planned_hours = 24;
    req.start_date = (char *)day(-30);
    req.end_date = (char *)day(60);
    Boussole__V1__Caller c = counselor();
    ProtobufCMessage *resp = NULL;
    expect_status(ses("CreateBilan", &req.base, &c, &resp), BSL_STATUS_OK);
    char *id = ids[next++ % 4];
    snprintf(id, 32, "%s", ((Boussole__V1__Bilan *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    return id;
}

HELPER bsl_status advance(const char *id, Boussole__V1__Phase target, bool waive)
{
    Boussole__V1__AdvancePhaseRequest req = BOUSSOLE__V1__ADVANCE_PHASE_REQUEST__INIT;
    req.id = (char *)id;
    req.target = target;
    req.waive_questionnaire = waive;
    Boussole__V1__Caller c = counselor();
    return ses("AdvancePhase", &req.base, &c, NULL);
}

/* The preliminary phase's needs (intake, roadmap), then the investigation phase. */
HELPER void to_investigation(const char *id, const char *ben)
{
    Boussole__V1__Intake in = BOUSSOLE__V1__INTAKE__INIT;
    in.bilan_id = (char *)id;
    in.current_situation = "Assistante de direction depuis douze ans, en poste à Lyon.";
    in.reasons = "Je m'ennuie et je voudrais un métier plus concret, au contact des gens.";
    in.expectations = "Y voir clair sur mes compétences et choisir une formation.";
    Boussole__V1__RecordIntakeRequest ri = BOUSSOLE__V1__RECORD_INTAKE_REQUEST__INIT;
    ri.intake = &in;
    Boussole__V1__Caller b = beneficiary_of(ben), c = counselor();
    expect_status(ses("RecordIntake", &ri.base, &b, NULL), BSL_STATUS_OK);

    Boussole__V1__RoadmapTool t1[] = { BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_INTERVIEW };
    Boussole__V1__RoadmapTool t2[] = { BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_QUESTIONNAIRE,
                                       BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_JOB_RESEARCH };
    Boussole__V1__RoadmapStep s1 = BOUSSOLE__V1__ROADMAP_STEP__INIT, s2 = s1;
    s1.phase = BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY;
    s1.title = "Entretien d'accueil et analyse de la demande";
    s1.tools = t1;
    s1.n_tools = 1;
    s1.planned_date = (char *)day(-25);
    s1.status = BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_DONE;
    s2.phase = BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION;
    s2.title = "Inventaire d'intérêts et enquêtes métier";
    s2.tools = t2;
    s2.n_tools = 2;
    s2.planned_date = (char *)day(-5);
    s2.status = BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_DONE;
    Boussole__V1__RoadmapStep *steps[] = { &s1, &s2 };
    Boussole__V1__SetRoadmapRequest sr = BOUSSOLE__V1__SET_ROADMAP_REQUEST__INIT;
    sr.bilan_id = (char *)id;
    sr.steps = steps;
    sr.n_steps = 2;
    expect_status(ses("SetRoadmap", &sr.base, &c, NULL), BSL_STATUS_OK);
    expect_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, false), BSL_STATUS_OK);
}

/* Two experiences and a retained career lead with a testimony. */
HELPER void add_investigation_data(const char *id, const char *ben)
{
    Boussole__V1__Caller b = beneficiary_of(ben), c = counselor();
    char *skills1[] = { "Organisation d'agendas complexes", "Rédaction de comptes rendus" };
    Boussole__V1__Experience ex = BOUSSOLE__V1__EXPERIENCE__INIT;
    ex.bilan_id = (char *)id;
    ex.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_JOB;
    ex.title = "Assistante de direction (groupe de transport)";
    ex.period_start = "2013-09-01";
    ex.period_end = "2025-06-30";
    ex.description = "Gestion de l'agenda de trois directeurs et des déplacements.";
    ex.skills = skills1;
    ex.n_skills = 2;
    Boussole__V1__AddExperienceRequest ae = BOUSSOLE__V1__ADD_EXPERIENCE_REQUEST__INIT;
    ae.experience = &ex;
    expect_status(ses("AddExperience", &ae.base, &b, NULL), BSL_STATUS_OK);
    char *skills2[] = { "Écoute active" };
    ex.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_VOLUNTEERING;
    ex.title = "Bénévole aux Restos du cœur";
    ex.period_start = "2019-01-01";
    ex.period_end = "";
    ex.description = "Accueil des familles le samedi matin.";
    ex.skills = skills2;
    ex.n_skills = 1;
    expect_status(ses("AddExperience", &ae.base, &b, NULL), BSL_STATUS_OK);

    Boussole__V1__CareerLead ld = BOUSSOLE__V1__CAREER_LEAD__INIT;
    ld.bilan_id = (char *)id;
    ld.title = "Conductrice de bus urbain";
    ld.path = BOUSSOLE__V1__CAREER_PATH__CAREER_PATH_RECONVERSION;
    ld.status = BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_EXPLORING;
    Boussole__V1__AddCareerLeadRequest al = BOUSSOLE__V1__ADD_CAREER_LEAD_REQUEST__INIT;
    al.lead = &ld;
    ProtobufCMessage *resp = NULL;
    expect_status(ses("AddCareerLead", &al.base, &b, &resp), BSL_STATUS_OK);
    char lid[32];
    snprintf(lid, sizeof(lid), "%s", ((Boussole__V1__CareerLead *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__LeadResearch rs = BOUSSOLE__V1__LEAD_RESEARCH__INIT;
    rs.lead_id = lid;
    rs.kind = BOUSSOLE__V1__RESEARCH_KIND__RESEARCH_KIND_TESTIMONY;
    rs.title = "Rencontre avec une conductrice du réseau urbain";
    rs.notes = "Horaires décalés mais beaucoup d'autonomie.";
    rs.date = (char *)day(-3);
    Boussole__V1__AddLeadResearchRequest ar = BOUSSOLE__V1__ADD_LEAD_RESEARCH_REQUEST__INIT;
    ar.bilan_id = (char *)id;
    ar.research = &rs;
    expect_status(ses("AddLeadResearch", &ar.base, &b, NULL), BSL_STATUS_OK);
    ld.id = lid;
    ld.version = 1;
    ld.status = BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_RETAINED;
    ld.status_reason = "Correspond au besoin d'autonomie et de concret.";
    Boussole__V1__UpdateCareerLeadRequest ul = BOUSSOLE__V1__UPDATE_CAREER_LEAD_REQUEST__INIT;
    ul.lead = &ld;
    expect_status(ses("UpdateCareerLead", &ul.base, &c, NULL), BSL_STATUS_OK);
}

/*
 * The RIASEC inventory answered so that the code is "IAE" (the questionnaires service's own
 * test works the sums out by hand): R 25, I 40, A 34, S 15, E 30, C 12.
 */
HELPER int riasec_value(char type, int n)
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

HELPER void riasec_submitted(const char *id, const char *ben)
{
    Boussole__V1__AssignInstrumentRequest req = BOUSSOLE__V1__ASSIGN_INSTRUMENT_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.instrument_id = "riasec";
    Boussole__V1__Caller c = counselor(), b = beneficiary_of(ben);
    ProtobufCMessage *resp = NULL;
    expect_status(que("AssignInstrument", &req.base, &c, &resp), BSL_STATUS_OK);
    char asg[32];
    snprintf(asg, sizeof(asg), "%s", ((Boussole__V1__Assignment *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__Answer answers[48], *ptrs[48];
    char ids[48][8];
    const char *types = "riasec";
    for (int t = 0, k = 0; t < 6; t++) {
        for (int n = 1; n <= 8; n++, k++) {
            snprintf(ids[k], 8, "%c%d", types[t], n);
            boussole__v1__answer__init(&answers[k]);
            answers[k].item_id = ids[k];
            answers[k].value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
            answers[k].likert = riasec_value(types[t], n);
            ptrs[k] = &answers[k];
        }
    }
    Boussole__V1__SaveAnswersRequest sa = BOUSSOLE__V1__SAVE_ANSWERS_REQUEST__INIT;
    sa.bilan_id = (char *)id;
    sa.assignment_id = asg;
    sa.answers = ptrs;
    sa.n_answers = 48;
    expect_status(que("SaveAnswers", &sa.base, &b, NULL), BSL_STATUS_OK);
    Boussole__V1__SubmitAnswersRequest su = BOUSSOLE__V1__SUBMIT_ANSWERS_REQUEST__INIT;
    su.bilan_id = (char *)id;
    su.assignment_id = asg;
    expect_status(que("SubmitAnswers", &su.base, &b, NULL), BSL_STATUS_OK);
}

/*
 * Three relatives answer the built-in "entourage" form: every quality item of "relationnel"
 * at 5 (all agree), "organisation" at 4, the others at 2; all three choose the interest
 * "aider", two also "organiser".
 */
HELPER void relatives_answered(const char *id, const char *ben)
{
    static const char *const likert[12] = {
        "relationnel-1", "relationnel-2", "organisation-1", "organisation-2",
        "creativite-1",  "creativite-2",  "analyse-1",      "analyse-2",
        "initiative-1",  "initiative-2",  "fiabilite-1",    "fiabilite-2",
    };
    Boussole__V1__Caller b = beneficiary_of(ben);
    for (int r = 0; r < 3; r++) {
        Boussole__V1__Relative rel = BOUSSOLE__V1__RELATIVE__INIT;
        rel.name = r == 0 ? "Paul" : r == 1 ? "Inès" : "Sophie";
        rel.relation = "ami";
        rel.contact = "proche@example.org";
        Boussole__V1__InviteRelativeRequest ir = BOUSSOLE__V1__INVITE_RELATIVE_REQUEST__INIT;
        ir.bilan_id = (char *)id;
        ir.relative = &rel;
        ProtobufCMessage *resp = NULL;
        expect_status(que("InviteRelative", &ir.base, &b, &resp), BSL_STATUS_OK);
        char token[128];
        snprintf(token, sizeof(token), "%s", ((Boussole__V1__InviteRelativeResponse *)resp)->token);
        protobuf_c_message_free_unpacked(resp, NULL);
        Boussole__V1__Answer a[14], *p[14];
        for (int i = 0; i < 12; i++) {
            boussole__v1__answer__init(&a[i]);
            a[i].item_id = (char *)likert[i];
            a[i].value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
            a[i].likert = i < 2 ? 5 : i < 4 ? 4 : 2;
        }
        char *domains[2] = { "aider", "organiser" };
        Boussole__V1__ChoiceList list = BOUSSOLE__V1__CHOICE_LIST__INIT;
        list.values = domains;
        list.n_values = r < 2 ? 2 : 1;
        boussole__v1__answer__init(&a[12]);
        a[12].item_id = "domaines";
        a[12].value_case = BOUSSOLE__V1__ANSWER__VALUE_CHOICES;
        a[12].choices = &list;
        boussole__v1__answer__init(&a[13]);
        a[13].item_id = "qualite";
        a[13].value_case = BOUSSOLE__V1__ANSWER__VALUE_TEXT;
        a[13].text = "Toujours disponible pour les autres.";
        for (int i = 0; i < 14; i++) {
            p[i] = &a[i];
        }
        Boussole__V1__SubmitFeedbackRequest sf = BOUSSOLE__V1__SUBMIT_FEEDBACK_REQUEST__INIT;
        sf.token = token;
        sf.answers = p;
        sf.n_answers = 14;
        expect_status(que("SubmitFeedback", &sf.base, NULL, NULL), BSL_STATUS_OK);
    }
}

/* A bilan of `ben` in its conclusion phase, with data in sessions and questionnaires. */
HELPER const char *bilan_in_conclusion(const char *ben)
{
    const char *id = create_bilan(ben);
    to_investigation(id, ben);
    add_investigation_data(id, ben);
    riasec_submitted(id, ben);
    relatives_answered(id, ben);
    expect_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CONCLUSION, false), BSL_STATUS_OK);
    return id;
}

/* ---- syntheses --------------------------------------------------------------------------- */

HELPER Boussole__V1__Synthesis *draft(const char *id)
{
    Boussole__V1__DraftSynthesisRequest req = BOUSSOLE__V1__DRAFT_SYNTHESIS_REQUEST__INIT;
    req.bilan_id = (char *)id;
    Boussole__V1__Caller c = counselor();
    ProtobufCMessage *resp = NULL;
    expect_status(syn("DraftSynthesis", &req.base, &c, &resp), BSL_STATUS_OK);
    return (Boussole__V1__Synthesis *)resp;
}

HELPER bsl_status get_synthesis(const char *id, const Boussole__V1__Caller *c, uint64_t rev,
                                Boussole__V1__Synthesis **out)
{
    Boussole__V1__GetSynthesisRequest req = BOUSSOLE__V1__GET_SYNTHESIS_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.revision = rev;
    return syn("GetSynthesis", &req.base, c, (ProtobufCMessage **)out);
}

/* Saves `content` for the given sections (n 0: all the caller may write). */
HELPER bsl_status save(const char *id, const Boussole__V1__Caller *c, uint64_t base,
                       Boussole__V1__SynthesisContent *content,
                       const Boussole__V1__SynthesisSection *sections, size_t n, const char *note,
                       Boussole__V1__Synthesis **out)
{
    Boussole__V1__SaveSynthesisRevisionRequest req =
        BOUSSOLE__V1__SAVE_SYNTHESIS_REVISION_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.base_revision = base;
    req.content = content;
    req.sections = (Boussole__V1__SynthesisSection *)sections;
    req.n_sections = n;
    req.change_note = (char *)(note ? note : "");
    return syn("SaveSynthesisRevision", &req.base, c, (ProtobufCMessage **)out);
}

HELPER bsl_status submit(const char *id, uint64_t base)
{
    Boussole__V1__SubmitSynthesisRequest req = BOUSSOLE__V1__SUBMIT_SYNTHESIS_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.base_revision = base;
    Boussole__V1__Caller c = counselor();
    return syn("SubmitSynthesis", &req.base, &c, NULL);
}

HELPER bsl_status approve(const char *id, const char *ben, uint64_t rev)
{
    Boussole__V1__ApproveSynthesisRequest req = BOUSSOLE__V1__APPROVE_SYNTHESIS_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.revision = rev;
    Boussole__V1__Caller b = beneficiary_of(ben);
    return syn("ApproveSynthesis", &req.base, &b, NULL);
}

/* Fills the sections the counselor writes, submits and has the beneficiary approve: the
 * synthesis becomes final. Returns the final revision. */
HELPER uint64_t finalise(const char *id, const char *ben)
{
    Boussole__V1__Caller co = counselor();
    Boussole__V1__Synthesis *s = NULL;
    expect_status(get_synthesis(id, &co, 0, &s), BSL_STATUS_OK);
    uint64_t rev = s->current_revision;
    protobuf_c_message_free_unpacked(&s->base, NULL);
    Boussole__V1__SynthesisCover cover = BOUSSOLE__V1__SYNTHESIS_COVER__INIT;
    cover.beneficiary_name = "Léa Dubois";
    cover.counselor_name = "Marie Lefèvre";
    cover.organisation_name = "Centre de bilans Lumière";
    Boussole__V1__SynthesisActionStep step = BOUSSOLE__V1__SYNTHESIS_ACTION_STEP__INIT;
    step.title = "S'inscrire à la formation au permis D";
    step.target_date = "2027-03-01";
    step.training = "Titre professionnel conducteur du transport routier de voyageurs";
    step.resources = "CPF, agence France Travail";
    Boussole__V1__SynthesisActionStep *steps[] = { &step };
    Boussole__V1__SynthesisContent c = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    c.cover = &cover;
    c.skills = "Organisation rigoureuse, écoute, rédaction.";
    c.strengths = "- Fiabilité\n- Sens du service";
    c.areas_to_improve = "Prise de parole en public.";
    c.action_plan = steps;
    c.n_action_plan = 1;
    c.follow_up = "Entretien de suivi dans six mois.";
    Boussole__V1__SynthesisSection secs[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_COVER,
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS,
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_STRENGTHS,
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_AREAS_TO_IMPROVE,
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_ACTION_PLAN,
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_FOLLOW_UP,
    };
    expect_status(save(id, &co, rev, &c, secs, 6, "Rédaction", &s), BSL_STATUS_OK);
    rev = s->current_revision;
    protobuf_c_message_free_unpacked(&s->base, NULL);
    Boussole__V1__SynthesisContent obs = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    obs.beneficiary_observations = "Je valide ce projet avec enthousiasme.";
    Boussole__V1__Caller be = beneficiary_of(ben);
    expect_status(save(id, &be, rev, &obs, NULL, 0, NULL, &s), BSL_STATUS_OK);
    rev = s->current_revision;
    protobuf_c_message_free_unpacked(&s->base, NULL);
    expect_status(submit(id, rev), BSL_STATUS_OK);
    expect_status(approve(id, ben, rev), BSL_STATUS_OK);
    return rev;
}

/* Drafts and finalises. */
HELPER uint64_t final_synthesis(const char *id, const char *ben)
{
    Boussole__V1__Synthesis *s = draft(id);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return finalise(id, ben);
}

/* Creates a grant as the beneficiary `ben`; token receives the share token (may be NULL). */
HELPER bsl_status grant(const char *id, const char *ben, Boussole__V1__SynthesisThirdPartyKind kind,
                        const Boussole__V1__SynthesisSection *sections, size_t n,
                        const char *grantee, long long expires_in_ms, char *grant_id, char *token)
{
    Boussole__V1__CreateSynthesisGrantRequest req =
        BOUSSOLE__V1__CREATE_SYNTHESIS_GRANT_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.kind = kind;
    req.third_party_name = "Conseillère CEP de l'APEC";
    req.sections = (Boussole__V1__SynthesisSection *)sections;
    req.n_sections = n;
    req.grantee_id = (char *)(grantee ? grantee : "");
    req.expire_time = from_now(expires_in_ms);
    req.note = "Envoyé avant le rendez-vous du 12 mars";
    Boussole__V1__Caller b = beneficiary_of(ben);
    ProtobufCMessage *resp = NULL;
    bsl_status st = syn("CreateSynthesisGrant", &req.base, &b, &resp);
    if (st == BSL_STATUS_OK) {
        Boussole__V1__CreateSynthesisGrantResponse *r =
            (Boussole__V1__CreateSynthesisGrantResponse *)resp;
        if (grant_id != NULL) {
            snprintf(grant_id, 32, "%s", r->grant->id);
        }
        if (token != NULL) {
            snprintf(token, 128, "%s", r->share_token);
        }
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return st;
}

/* Reads with a share token. */
HELPER bsl_status shared_read(const char *token, Boussole__V1__SynthesisFormat format,
                              Boussole__V1__SharedSynthesis **out)
{
    Boussole__V1__GetSharedSynthesisRequest req = BOUSSOLE__V1__GET_SHARED_SYNTHESIS_REQUEST__INIT;
    req.share_token = (char *)token;
    req.format = format;
    return syn("GetSharedSynthesis", &req.base, NULL, (ProtobufCMessage **)out);
}

HELPER bsl_status revoke(const char *id, const char *ben, const char *grant_id)
{
    Boussole__V1__RevokeSynthesisGrantRequest req =
        BOUSSOLE__V1__REVOKE_SYNTHESIS_GRANT_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.grant_id = (char *)grant_id;
    Boussole__V1__Caller b = beneficiary_of(ben);
    return syn("RevokeSynthesisGrant", &req.base, &b, NULL);
}

/* Runs one retention sweep now; returns the report (caller frees). */
HELPER Boussole__V1__RetentionSweepReport *sweep(void)
{
    Boussole__V1__RunRetentionSweepRequest req = BOUSSOLE__V1__RUN_RETENTION_SWEEP_REQUEST__INIT;
    Boussole__V1__Caller s = service_caller();
    ProtobufCMessage *resp = NULL;
    char full[] = SYN "RunRetentionSweep";
    bsl_call_opts o = { .caller = &s, .deadline_ms = 60000 };
    bsl_status st =
        bsl_sync_call(c_syntheses, full, &req.base, &o, &resp, last_msg, sizeof(last_msg));
    if (st != BSL_STATUS_OK) {
        fail_msg("RunRetentionSweep: %s %s", bsl_status_name(st), last_msg);
    }
    return (Boussole__V1__RetentionSweepReport *)resp;
}

/* Reads a whole file (malloc'd, NUL-terminated); NULL when it cannot. */
HELPER char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap);
    while (buf != NULL && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
    }
    if (len != NULL) {
        *len = n;
    }
    return buf;
}

/* memmem for binary buffers. */
HELPER bool contains(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++) {
        if (memcmp(hay + i, needle, k) == 0) {
            return true;
        }
    }
    return false;
}

/* Runs pdftotext on PDF bytes; returns the text (malloc'd). */
HELPER char *pdf_text(const uint8_t *pdf, size_t len, const char *name)
{
    char path[1200], txt[1300], cmd[2800];
    snprintf(path, sizeof(path), "%s/%s.pdf", env.dir, name);
    snprintf(txt, sizeof(txt), "%s/%s.txt", env.dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(pdf, 1, len, f), len);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "pdftotext -enc UTF-8 '%s' '%s'", path, txt);
    assert_int_equal(system(cmd), 0);
    char *text = slurp(txt, NULL);
    assert_non_null(text);
    return text;
}

#endif
