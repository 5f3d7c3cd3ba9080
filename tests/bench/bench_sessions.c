/*
 * The sessions service's figures, against a real redis-server and sessions process:
 *   - GetBilan (one HGETALL) with 1, 16 and 64 calls in flight, against two stacks (a
 *     redis-server and a sessions process each) holding 100 bilans and 100,000 bilans,
 *     measured in turn BENCH_ROUNDS times (default 3) so that the rest of the machine weighs
 *     on both alike; the ratio of the medians is printed (target: within 10 %);
 *   - AdvancePhase: a real transition (PRELIMINARY -> INVESTIGATION, then INVESTIGATION ->
 *     CONCLUSION with the waiver, on bilans prepared beforehand), a refused one (every guard
 *     evaluated, FAILED_PRECONDITION answered) and a repeat (already there);
 *   - ScheduleMeeting (idempotency key claimed, checked write of a new record);
 *   - the Redis bytes one complete bilan uses (MEMORY USAGE over each of its keys, its data key
 *     included; no questionnaire answers, which live in the questionnaires service): target
 *     under 16 KiB.
 *
 * Run pinned, as the other benches (servers on cpu 0, this load on cpu 1):
 *   TE_SERVER_CPU=0 taskset -c 1 ./tests/bench/bench_sessions
 * with BSL_BUILD_DIR and BSL_SOURCE_DIR set, or through tests/bench/run.sh bench_sessions.
 * BENCH_DUR / BENCH_WARM set the length of each run; BENCH_BILANS the size of the large store
 * (default 100000); BENCH_POOL the bilans prepared for the AdvancePhase and ScheduleMeeting
 * runs (default 25000); BENCH_ADV_DUR the length of the real-transition runs (default 1.5 s,
 * bounded by the pool). The runs after the comparison use the large stack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchlib.h"
#include "boussole/pbutil.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"
#include "testenv.h"

#define SVC "boussole.v1.SessionService/"
#define ORG "org-bench"

/* A redis-server and a sessions process, and a client of it. The bench runs two: one holding
 * 100 bilans, one holding 100,000, measured in turn so that whatever else the machine does
 * weighs on both alike. `cur` is the one calls go to. */
typedef struct stack {
    te_env env;
    te_proc sessions;
    bsl_sync_client *sc;
} stack;

static stack small_stack, large_stack, *cur;
static bsl_sync_client *sc;
static bsl_client *client;
static struct ev_loop *loop;

static void use(stack *s)
{
    cur = s;
    sc = s->sc;
    client = bsl_sync_client_client(sc);
    loop = bsl_sync_client_loop(sc);
}
static Boussole__V1__Caller counselor_c, admin_c, beneficiary_c, service_c;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_sessions: %s: %s\n", what, msg);
    te_fini(&small_stack.env);
    te_fini(&large_stack.env);
    exit(1);
}

static Google__Protobuf__Timestamp *at_minutes(long long minutes)
{
    static Google__Protobuf__Timestamp ts[8];
    static int next;
    Google__Protobuf__Timestamp *t = &ts[next++ % 8];
    google__protobuf__timestamp__init(t);
    t->seconds = (long long)time(NULL) + minutes * 60;
    return t;
}

/* A blocking call that must succeed; the answer (may be NULL) is the caller's to free. */
static ProtobufCMessage *must(const char *method, const ProtobufCMessage *req,
                              const Boussole__V1__Caller *c)
{
    char full[128], msg[512];
    snprintf(full, sizeof(full), SVC "%s", method);
    bsl_call_opts o = { .caller = c };
    ProtobufCMessage *resp = NULL;
    if (bsl_sync_call(sc, full, req, &o, &resp, msg, sizeof(msg)) != BSL_STATUS_OK) {
        die(method, msg);
    }
    return resp;
}

/* ---- calls with a given number in flight until a count is reached ---------------------- */

typedef void (*count_fn)(size_t i, bsl_client_cb cb, void *slot);

typedef struct counted {
    count_fn fn;
    size_t next, total, done;
    unsigned failed;
} counted;

static counted cnt;

static void on_counted(const bsl_reply *reply, void *arg)
{
    (void)arg;
    if (reply->code != BSL_STATUS_OK && cnt.failed++ < 3) {
        fprintf(stderr, "bench_sessions: a preparation call failed: %s\n", reply->message);
    }
    cnt.done++;
    if (cnt.next < cnt.total) {
        cnt.fn(cnt.next++, on_counted, NULL);
    }
}

/* Runs fn(0..total-1), `inflight` at a time. */
static void run_count(size_t total, unsigned inflight, count_fn fn)
{
    memset(&cnt, 0, sizeof(cnt));
    cnt.fn = fn;
    cnt.total = total;
    for (unsigned i = 0; i < inflight && cnt.next < total; i++) {
        fn(cnt.next++, on_counted, NULL);
    }
    while (cnt.done < total) {
        ev_run(loop, EVRUN_ONCE);
    }
    if (cnt.failed > 0) {
        die("preparation", "some calls failed");
    }
}

static void call_async(const char *method, const ProtobufCMessage *req,
                       const Boussole__V1__Caller *c, bsl_client_cb cb, void *arg)
{
    char full[128];
    snprintf(full, sizeof(full), SVC "%s", method);
    bsl_call_opts o = { .caller = c };
    if (bsl_client_call(client, full, req, &o, cb, arg) != 0) {
        die(method, "cannot call");
    }
}

/* ---- bilans ------------------------------------------------------------------------------ */

static void create_one(size_t i, bsl_client_cb cb, void *slot)
{
    char ben[32];
    snprintf(ben, sizeof(ben), "b-%zu", i);
    Boussole__V1__CreateBilanRequest r = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    r.beneficiary_id = ben;
    r.counselor_id = "c-bench";
    r.organisation_id = ORG;
    r.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    r.planned_hours = 24;
    r.start_date = (char *)te_day(-30);
    r.end_date = (char *)te_day(90);
    call_async("CreateBilan", &r.base, &admin_c, cb, slot);
}

/* The pool for AdvancePhase and ScheduleMeeting: bilans ready for the investigation. */
static char (*pool)[32];
static size_t pool_n;

typedef struct prep {
    size_t i;
    int step;
    bsl_client_cb done;
} prep;

static void prep_step(prep *p);

static void on_prep(const bsl_reply *reply, void *arg)
{
    prep *p = arg;
    if (reply->code != BSL_STATUS_OK) {
        die("preparing a bilan", reply->message);
    }
    if (p->step == 0) {
        snprintf(pool[p->i], 32, "%s", ((const Boussole__V1__Bilan *)reply->msg)->id);
    }
    p->step++;
    if (p->step == 3) {
        bsl_reply ok = { .code = BSL_STATUS_OK, .message = "" };
        bsl_client_cb done = p->done;
        free(p);
        done(&ok, NULL);
        return;
    }
    prep_step(p);
}

static void prep_step(prep *p)
{
    if (p->step == 0) {
        create_one(1000000 + p->i, on_prep, p);
    } else if (p->step == 1) {
        Boussole__V1__Intake in = BOUSSOLE__V1__INTAKE__INIT;
        in.bilan_id = pool[p->i];
        in.current_situation = "En poste depuis dix ans dans la logistique.";
        in.reasons = "Envie d'un metier plus concret.";
        Boussole__V1__RecordIntakeRequest r = BOUSSOLE__V1__RECORD_INTAKE_REQUEST__INIT;
        r.intake = &in;
        call_async("RecordIntake", &r.base, &counselor_c, on_prep, p);
    } else {
        Boussole__V1__RoadmapTool tools[] = { BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_INTERVIEW };
        Boussole__V1__RoadmapStep s = BOUSSOLE__V1__ROADMAP_STEP__INIT;
        s.phase = BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY;
        s.title = "Entretien d'accueil";
        s.tools = tools;
        s.n_tools = 1;
        s.status = BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_DONE;
        Boussole__V1__RoadmapStep *steps[] = { &s };
        Boussole__V1__SetRoadmapRequest r = BOUSSOLE__V1__SET_ROADMAP_REQUEST__INIT;
        r.bilan_id = pool[p->i];
        r.steps = steps;
        r.n_steps = 1;
        call_async("SetRoadmap", &r.base, &counselor_c, on_prep, p);
    }
}

static void prepare_one(size_t i, bsl_client_cb cb, void *slot)
{
    (void)slot;
    prep *p = calloc(1, sizeof(*p));
    p->i = i;
    p->done = cb;
    prep_step(p);
}

/* ---- measured calls ---------------------------------------------------------------------- */

typedef struct advance_run {
    size_t next; /* pool position; past pool_n, the second transition (with the waiver) */
    size_t exhausted;
} advance_run;

static void on_measured(const bsl_reply *reply, void *arg)
{
    bench_complete(arg, reply->code == BSL_STATUS_OK);
}

static void advance_issue(bench_slot *slot, uint64_t seq, void *arg)
{
    (void)seq;
    advance_run *a = arg;
    size_t k = a->next++;
    Boussole__V1__AdvancePhaseRequest r = BOUSSOLE__V1__ADVANCE_PHASE_REQUEST__INIT;
    if (k < pool_n) {
        r.id = pool[k];
        r.target = BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION;
    } else {
        if (k >= 2 * pool_n) {
            a->exhausted++;
            k %= pool_n; /* counted as repeats: reported, and BENCH_POOL should grow */
        }
        r.id = pool[k % pool_n];
        r.target = BOUSSOLE__V1__PHASE__PHASE_CONCLUSION;
        r.waive_questionnaire = true;
    }
    call_async("AdvancePhase", &r.base, &counselor_c, on_measured, slot);
}

static size_t meeting_seq;

static void schedule_issue(bench_slot *slot, uint64_t seq, void *arg)
{
    (void)seq;
    (void)arg;
    /* 30 meetings per bilan, bilan after bilan (40 at most per bilan). */
    size_t k = meeting_seq++;
    Boussole__V1__ScheduleMeetingRequest r = BOUSSOLE__V1__SCHEDULE_MEETING_REQUEST__INIT;
    r.bilan_id = pool[(k / 30) % pool_n];
    r.start_time = at_minutes(60 * 24 + (long long)(k % 30) * 60);
    r.duration_minutes = 30;
    r.mode = BOUSSOLE__V1__MEETING_MODE__MEETING_MODE_REMOTE;
    call_async("ScheduleMeeting", &r.base, &counselor_c, on_measured, slot);
}

/* ---- one complete bilan ------------------------------------------------------------------ */

/*
 * Text for the complete bilan: varied French prose, as counselors and beneficiaries write
 * it, so that the bytes measured (compression included) are those of real text, not of a
 * repeated sentence. Each field takes its own slice.
 */
static const char corpus[] =
    "Léa travaille depuis douze ans comme assistante de direction dans un groupe de transport "
    "routier. Elle dit s'ennuyer, ne plus voir le sens de ce qu'elle fait et avoir besoin d'un "
    "métier plus concret, où elle verrait le résultat de son travail à la fin de la journée. "
    "Elle évoque une fatigue importante depuis la naissance de son deuxième enfant et des "
    "horaires difficiles à concilier avec la garde alternée. Elle a pensé à la boulangerie, à "
    "la fleuristerie, à un poste de conductrice de bus, sans savoir par où commencer. Ses "
    "proches la décrivent comme organisée, fiable, capable de gérer plusieurs urgences à la "
    "fois, mais elle doute de pouvoir se former à quarante-deux ans. Elle attend du bilan qu'il "
    "l'aide à y voir clair, à identifier ses compétences transférables et à construire un projet "
    "réaliste, avec un calendrier et un budget. Lors du deuxième entretien, nous avons travaillé "
    "sur ses valeurs professionnelles : autonomie, utilité, contact humain, reconnaissance. Le "
    "questionnaire d'intérêts fait ressortir un profil réaliste et social, avec une composante "
    "conventionnelle qu'elle rejette en partie. Elle a rencontré une conductrice du réseau "
    "urbain qui lui a parlé des horaires décalés mais aussi de la liberté dans la journée et du "
    "lien avec les usagers réguliers. Elle s'est renseignée sur le permis D, financé par France "
    "Travail sous conditions, et sur les délais d'entrée en formation à Nantes et à Angers. "
    "La piste de la fleuristerie est mise de côté : elle aime le geste mais pas la vente, et "
    "les revenus d'une création d'entreprise lui semblent trop incertains avec deux enfants. "
    "Une enquête auprès d'une ancienne collègue devenue responsable d'exploitation ouvre une "
    "troisième voie : rester dans le transport mais passer du côté de l'organisation des "
    "tournées, où son expérience des plannings et des imprévus serait reconnue. Nous convenons "
    "qu'elle contactera deux entreprises pour une immersion d'une journée avant le prochain "
    "rendez-vous, et qu'elle notera ce qui l'a surprise, ce qui l'a rassurée et ce qui l'a "
    "inquiétée. Elle repart avec une liste de questions à poser sur les conditions de travail, "
    "la progression possible et les formations internes proposées aux salariés.";

/*
 * About n bytes of text made of the corpus's words drawn at random (seeded, reproducible):
 * the words and their frequencies of real prose, but no phrase repeated from one field or
 * record to the next, so that compression is not flattered (real notes, which repeat
 * phrases, compress better).
 */
static char *prose(uint64_t seed, size_t n)
{
    static const char *words[600];
    static size_t lens[600], n_words;
    if (n_words == 0) {
        const char *p = corpus;
        while (*p != '\0' && n_words < 600) {
            const char *e = strchr(p, ' ');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            words[n_words] = p;
            lens[n_words++] = l;
            p += l + (e ? 1 : 0);
        }
    }
    char *out = malloc(n + 64);
    size_t k = 0;
    uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
    while (k < n) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t w = (size_t)(x % n_words);
        memcpy(out + k, words[w], lens[w]);
        k += lens[w];
        out[k++] = ' ';
    }
    out[k - 1] = '.';
    out[k] = '\0';
    return out;
}

static const char *complete_bilan(void)
{
    static char id[32];
    Boussole__V1__CreateBilanRequest cr = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    cr.beneficiary_id = "b-complete";
    cr.counselor_id = "c-bench";
    cr.organisation_id = ORG;
    cr.funding = BOUSSOLE__V1__FUNDING__FUNDING_EMPLOYER_PLAN;
    cr.planned_hours = 24;
    cr.start_date = (char *)te_day(-60);
    cr.end_date = (char *)te_day(30);
    ProtobufCMessage *m = must("CreateBilan", &cr.base, &admin_c);
    snprintf(id, sizeof(id), "%s", ((Boussole__V1__Bilan *)m)->id);
    protobuf_c_message_free_unpacked(m, NULL);

    char *t[6];
    for (int i = 0; i < 6; i++) {
        t[i] = prose(100 + (uint64_t)i, 300 + 60 * (size_t)i);
    }
    Boussole__V1__Intake in = BOUSSOLE__V1__INTAKE__INIT;
    in.bilan_id = id;
    in.current_situation = t[5];
    in.reasons = t[4];
    in.to_transform = t[3];
    in.expectations = t[2];
    in.questions = t[1];
    in.doubts = t[0];
    Boussole__V1__RecordIntakeRequest ir = BOUSSOLE__V1__RECORD_INTAKE_REQUEST__INIT;
    ir.intake = &in;
    protobuf_c_message_free_unpacked(must("RecordIntake", &ir.base, &beneficiary_c), NULL);

    Boussole__V1__RoadmapTool tools[] = { BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_INTERVIEW,
                                          BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_QUESTIONNAIRE };
    Boussole__V1__RoadmapStep steps[8], *sp[8];

    for (int i = 0; i < 8; i++) {
        boussole__v1__roadmap_step__init(&steps[i]);
        steps[i].phase = (Boussole__V1__Phase)(1 + i / 3);
        steps[i].title = prose(200 + (uint64_t)i, 60);
        steps[i].tools = tools;
        steps[i].n_tools = 1 + (size_t)(i % 2);
        steps[i].planned_date = (char *)te_day(-55 + 10 * i);
        steps[i].status = BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_PLANNED;
        sp[i] = &steps[i];
    }
    Boussole__V1__SetRoadmapRequest sr = BOUSSOLE__V1__SET_ROADMAP_REQUEST__INIT;
    sr.bilan_id = id;
    sr.steps = sp;
    sr.n_steps = 8;
    protobuf_c_message_free_unpacked(must("SetRoadmap", &sr.base, &counselor_c), NULL);

    char *terms[3] = { prose(300, 400), prose(301, 400), prose(302, 400) };
    Boussole__V1__ProposeAgreementRequest pa = BOUSSOLE__V1__PROPOSE_AGREEMENT_REQUEST__INIT;
    pa.bilan_id = id;
    pa.employer_name = "Transports Durand SA";
    pa.objective = terms[0];
    pa.content = terms[1];
    pa.means = terms[2];
    pa.duration_hours = 24;
    pa.period_start = (char *)te_day(-60);
    pa.period_end = (char *)te_day(30);
    pa.results_handover = "Document de synthese remis au seul beneficiaire.";
    pa.price_cents = 180000;
    protobuf_c_message_free_unpacked(must("ProposeAgreement", &pa.base, &admin_c), NULL);
    Boussole__V1__RespondToAgreementRequest ra = BOUSSOLE__V1__RESPOND_TO_AGREEMENT_REQUEST__INIT;
    ra.bilan_id = id;
    ra.revision = 1;
    ra.accept = true;
    protobuf_c_message_free_unpacked(must("RespondToAgreement", &ra.base, &beneficiary_c), NULL);

    /* Seven meetings, attended, with shared notes, and private notes on five of them. */
    for (int i = 0; i < 7; i++) {
        Boussole__V1__ScheduleMeetingRequest sm = BOUSSOLE__V1__SCHEDULE_MEETING_REQUEST__INIT;
        sm.bilan_id = id;
        sm.phase = (Boussole__V1__Phase)(1 + i / 3);
        sm.start_time = at_minutes(-50LL * 24 * 60 + i * 7LL * 24 * 60);
        sm.duration_minutes = 120;
        sm.mode = BOUSSOLE__V1__MEETING_MODE__MEETING_MODE_ON_SITE;
        m = must("ScheduleMeeting", &sm.base, &counselor_c);
        char mid[32];
        snprintf(mid, sizeof(mid), "%s", ((Boussole__V1__Meeting *)m)->id);
        protobuf_c_message_free_unpacked(m, NULL);
        Boussole__V1__ConfirmAttendanceRequest ca = BOUSSOLE__V1__CONFIRM_ATTENDANCE_REQUEST__INIT;
        ca.bilan_id = id;
        ca.meeting_id = mid;
        protobuf_c_message_free_unpacked(must("ConfirmAttendance", &ca.base, &beneficiary_c), NULL);
        protobuf_c_message_free_unpacked(must("ConfirmAttendance", &ca.base, &counselor_c), NULL);
        Boussole__V1__SetMeetingNotesRequest sn = BOUSSOLE__V1__SET_MEETING_NOTES_REQUEST__INIT;
        sn.bilan_id = id;
        sn.meeting_id = mid;
        sn.version = 3;
        sn.shared_notes = prose(400 + (uint64_t)i, 400);
        protobuf_c_message_free_unpacked(must("SetMeetingNotes", &sn.base, &counselor_c), NULL);
        if (i < 5) {
            Boussole__V1__SetPrivateNotesRequest pn = BOUSSOLE__V1__SET_PRIVATE_NOTES_REQUEST__INIT;
            pn.bilan_id = id;
            pn.meeting_id = mid;
            pn.text = prose(500 + (uint64_t)i, 250);
            protobuf_c_message_free_unpacked(must("SetPrivateNotes", &pn.base, &counselor_c), NULL);
        }
        if (i == 2) {
            Boussole__V1__AdvancePhaseRequest ap = BOUSSOLE__V1__ADVANCE_PHASE_REQUEST__INIT;
            ap.id = id;
            ap.target = BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION;
            protobuf_c_message_free_unpacked(must("AdvancePhase", &ap.base, &counselor_c), NULL);
        }
    }
    for (int i = 0; i < 4; i++) {
        Boussole__V1__RecordAccompaniedTimeRequest rt =
            BOUSSOLE__V1__RECORD_ACCOMPANIED_TIME_REQUEST__INIT;
        rt.bilan_id = id;
        rt.date = (char *)te_day(-1 - i);
        rt.minutes = 45;
        rt.activity = BOUSSOLE__V1__ACCOMPANIED_ACTIVITY__ACCOMPANIED_ACTIVITY_DOCUMENT_REVIEW;
        protobuf_c_message_free_unpacked(must("RecordAccompaniedTime", &rt.base, &counselor_c),
                                         NULL);
    }
    /* Eight experiences, three leads, six research entries. */
    char *skills[] = { "organisation", "relation client", "gestion des urgences", "tableurs" };
    for (int i = 0; i < 8; i++) {
        Boussole__V1__Experience ex = BOUSSOLE__V1__EXPERIENCE__INIT;
        ex.bilan_id = id;
        ex.kind = (Boussole__V1__ExperienceKind)(1 + i % 5);
        ex.title = "Assistante logistique chez un transporteur";
        ex.period_start = "2014-01-01";
        ex.period_end = "2019-06-30";
        ex.description = prose(600 + (uint64_t)i, 250);
        ex.skills = skills;
        ex.n_skills = 4;
        Boussole__V1__AddExperienceRequest ae = BOUSSOLE__V1__ADD_EXPERIENCE_REQUEST__INIT;
        ae.experience = &ex;
        protobuf_c_message_free_unpacked(must("AddExperience", &ae.base, &beneficiary_c), NULL);
    }
    char *links[] = { "https://candidat.francetravail.fr/metierscope/fiche-metier/N4103" };
    for (int i = 0; i < 3; i++) {
        Boussole__V1__CareerLead ld = BOUSSOLE__V1__CAREER_LEAD__INIT;
        ld.bilan_id = id;
        ld.title = "Conductrice de transport en commun";
        ld.path = BOUSSOLE__V1__CAREER_PATH__CAREER_PATH_RECONVERSION;
        ld.status = BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_RETAINED;
        ld.status_reason = prose(700 + (uint64_t)i, 150);
        Boussole__V1__AddCareerLeadRequest al = BOUSSOLE__V1__ADD_CAREER_LEAD_REQUEST__INIT;
        al.lead = &ld;
        m = must("AddCareerLead", &al.base, &beneficiary_c);
        char lid[32];
        snprintf(lid, sizeof(lid), "%s", ((Boussole__V1__CareerLead *)m)->id);
        protobuf_c_message_free_unpacked(m, NULL);
        for (int k = 0; k < 2; k++) {
            Boussole__V1__LeadResearch rs = BOUSSOLE__V1__LEAD_RESEARCH__INIT;
            rs.lead_id = lid;
            rs.kind = BOUSSOLE__V1__RESEARCH_KIND__RESEARCH_KIND_TESTIMONY;
            rs.title = "Rencontre avec une conductrice du reseau";
            rs.links = links;
            rs.n_links = 1;
            rs.notes = prose(800 + (uint64_t)(2 * i + k), 300);
            rs.date = (char *)te_day(-10);
            Boussole__V1__AddLeadResearchRequest ar = BOUSSOLE__V1__ADD_LEAD_RESEARCH_REQUEST__INIT;
            ar.bilan_id = id;
            ar.research = &rs;
            protobuf_c_message_free_unpacked(must("AddLeadResearch", &ar.base, &beneficiary_c),
                                             NULL);
        }
    }
    /* Conclusion (one questionnaire reported), synthesis, closing. */
    Boussole__V1__ReportQuestionnaireCompletedRequest rq =
        BOUSSOLE__V1__REPORT_QUESTIONNAIRE_COMPLETED_REQUEST__INIT;
    rq.bilan_id = id;
    rq.assignment_id = "a0000000000000000000000000";
    protobuf_c_message_free_unpacked(must("ReportQuestionnaireCompleted", &rq.base, &service_c),
                                     NULL);
    Boussole__V1__AdvancePhaseRequest ap = BOUSSOLE__V1__ADVANCE_PHASE_REQUEST__INIT;
    ap.id = id;
    ap.target = BOUSSOLE__V1__PHASE__PHASE_CONCLUSION;
    protobuf_c_message_free_unpacked(must("AdvancePhase", &ap.base, &counselor_c), NULL);
    Boussole__V1__ReportSynthesisFinalisedRequest rs =
        BOUSSOLE__V1__REPORT_SYNTHESIS_FINALISED_REQUEST__INIT;
    rs.bilan_id = id;
    rs.synthesis_id = "s0000000000000000000000000";
    rs.version = 1;
    protobuf_c_message_free_unpacked(must("ReportSynthesisFinalised", &rs.base, &service_c), NULL);
    ap.target = BOUSSOLE__V1__PHASE__PHASE_CLOSED;
    protobuf_c_message_free_unpacked(must("AdvancePhase", &ap.base, &counselor_c), NULL);
    /* The texts are left to the process's end: a bench, freed by exit. */
    (void)t;
    (void)terms;
    return id;
}

static long long memory_usage(const char *key)
{
    char args[256];
    snprintf(args, sizeof(args), "MEMORY USAGE '%s' SAMPLES 0", key);
    char *v = te_redis_cli(&cur->env, args);
    long long n = atoll(v);
    free(v);
    return n;
}

static void measure_complete_bilan(void)
{
    const char *id = complete_bilan();
    char args[128];
    snprintf(args, sizeof(args), "--scan --pattern 'bilan:{%s}*'", id);
    char *keys = te_redis_cli(&cur->env, args);
    long long total = 0;
    int n = 0;
    for (char *k = strtok(keys, "\n"); k != NULL; k = strtok(NULL, "\n")) {
        long long b = memory_usage(k);
        printf("INFO key=%s bytes=%lld\n", strchr(k, ':') ? strchr(k, '}') + 1 : k, b);
        total += b;
        n++;
    }
    free(keys);
    char dek[96];
    snprintf(dek, sizeof(dek), "dek:{%s}:sessions", id);
    long long dk = memory_usage(dek);
    /* Its three index entries (counselor, beneficiary, organisation), at the size of a
     * member with its score in a large sorted set (skiplist node + dict entry). */
    long long idx = 3 * (26 + 8 + 64);
    printf("RESULT label=sessions-complete-bilan-bytes keys=%d bilan_keys=%lld data_key=%lld "
           "index_entries_est=%lld total=%lld target=16384\n",
           n + 1, total, dk, idx, total + dk + idx);
    fflush(stdout);
}

/* ---- main -------------------------------------------------------------------------------- */

static void start_stack(stack *s, const char *name)
{
    te_init(&s->env, name);
    te_redis_start(&s->env);
    char level[64];
    snprintf(level, sizeof(level), "--log-level=%s",
             getenv("BENCH_LOG_LEVEL") ? getenv("BENCH_LOG_LEVEL") : "warn");
    const char *args[] = { level, NULL };
    te_service_start(&s->env, &s->sessions, "sessions", args);
    s->sc = te_client(s->sessions.url);
}

/* A bilan of the stack in use, from the middle of the counselor's list. */
static void some_bilan(char out[32])
{
    Boussole__V1__ListBilansRequest lb = BOUSSOLE__V1__LIST_BILANS_REQUEST__INIT;
    lb.owner_case = BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID;
    lb.counselor_id = "c-bench";
    Boussole__V1__ListBilansResponse *l =
        (Boussole__V1__ListBilansResponse *)must("ListBilans", &lb.base, &counselor_c);
    snprintf(out, 32, "%s", l->bilans[l->n_bilans / 2]->id);
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

static double get_bilan_rps(const char *id, unsigned n, double warm, double dur)
{
    Boussole__V1__GetBilanRequest g = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    g.id = (char *)id;
    bsl_call_opts o = { .caller = &counselor_c };
    bench_result r = bench_rpc(client, loop, SVC "GetBilan", &g.base, &o, n, warm, dur);
    char label[64];
    snprintf(label, sizeof(label), "sessions-GetBilan-%s-bilans",
             cur == &small_stack ? "100" : "100000");
    bench_print(label, n, &r);
    return r.rps;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    bsl_init();
    counselor_c = te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-bench", ORG);
    admin_c = te_caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-bench", ORG);
    beneficiary_c = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-complete", "");
    service_c = te_caller(BOUSSOLE__V1__ROLE__ROLE_SERVICE, "syntheses", "");

    double warm = bench_env_seconds("BENCH_WARM", 0.5);
    double dur = bench_env_seconds("BENCH_DUR", 3);
    size_t large = (size_t)bench_env_seconds("BENCH_BILANS", 100000);
    int rounds = (int)bench_env_seconds("BENCH_ROUNDS", 3);
    pool_n = (size_t)bench_env_seconds("BENCH_POOL", 25000);
    const unsigned concs[] = { 1, 16, 64 };

    /* Two stacks: 100 bilans, and 100,000. */
    start_stack(&small_stack, "bench-sessions-100");
    start_stack(&large_stack, "bench-sessions-100000");
    char small_target[32], large_target[32];
    use(&small_stack);
    run_count(100, 64, create_one);
    some_bilan(small_target);
    use(&large_stack);
    run_count(large, 64, create_one);
    some_bilan(large_target);
    char *dbsize = te_redis_cli(&cur->env, "DBSIZE");
    printf("INFO stored_bilans=%zu redis_keys=%s (the bilans, their indexes, and the "
           "idempotency keys of the creations, kept 15 minutes)\n",
           large, dbsize);
    free(dbsize);

    /* GetBilan on each, in turn, `rounds` times; the medians are compared. */
    for (size_t i = 0; i < 3; i++) {
        double s[16], l[16];
        int r = rounds < 16 ? rounds : 16;
        for (int k = 0; k < r; k++) {
            use(&small_stack);
            s[k] = get_bilan_rps(small_target, concs[i], warm, dur);
            use(&large_stack);
            l[k] = get_bilan_rps(large_target, concs[i], warm, dur);
        }
        qsort(s, (size_t)r, sizeof(double), cmp_double);
        qsort(l, (size_t)r, sizeof(double), cmp_double);
        printf("RESULT label=sessions-GetBilan-100000-vs-100 N=%u median_rps_100=%.0f "
               "median_rps_100000=%.0f ratio=%.3f target=0.90\n",
               concs[i], s[r / 2], l[r / 2], s[r / 2] > 0 ? l[r / 2] / s[r / 2] : 0);
        fflush(stdout);
    }
    bsl_sync_client_free(small_stack.sc);
    te_fini(&small_stack.env);
    use(&large_stack);
    char target[32];
    snprintf(target, sizeof(target), "%s", large_target);

    /* AdvancePhase and ScheduleMeeting on prepared bilans. */
    pool = calloc(pool_n, sizeof(*pool));
    run_count(pool_n, 64, prepare_one);
    double adv_dur = bench_env_seconds("BENCH_ADV_DUR", dur < 1.5 ? dur : 1.5);
    advance_run ar = { 0, 0 };
    for (size_t i = 0; i < 3; i++) {
        bench_result r = bench_run(loop, concs[i], 0.2, adv_dur, advance_issue, &ar);
        bench_print("sessions-AdvancePhase-transition", concs[i], &r);
    }
    if (ar.exhausted > 0) {
        printf("INFO advance_pool_exhausted=%zu (raise BENCH_POOL)\n", ar.exhausted);
    }
    /* A refused transition: a fresh bilan, every guard evaluated, FAILED_PRECONDITION. */
    Boussole__V1__AdvancePhaseRequest refused = BOUSSOLE__V1__ADVANCE_PHASE_REQUEST__INIT;
    refused.id = target;
    refused.target = BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION;
    Boussole__V1__AdvancePhaseRequest repeat = BOUSSOLE__V1__ADVANCE_PHASE_REQUEST__INIT;
    repeat.id = pool[0];
    repeat.target = BOUSSOLE__V1__PHASE__PHASE_CONCLUSION;
    bsl_call_opts co = { .caller = &counselor_c };
    for (size_t i = 0; i < 3; i++) {
        bench_result r =
            bench_rpc(client, loop, SVC "AdvancePhase", &refused.base, &co, concs[i], warm, dur);
        /* Every call is answered FAILED_PRECONDITION on purpose: errors = n is expected. */
        bench_print("sessions-AdvancePhase-refused", concs[i], &r);
    }
    for (size_t i = 0; i < 3; i++) {
        bench_result r =
            bench_rpc(client, loop, SVC "AdvancePhase", &repeat.base, &co, concs[i], warm, dur);
        bench_print("sessions-AdvancePhase-repeat", concs[i], &r);
    }
    for (size_t i = 0; i < 3; i++) {
        bench_result r = bench_run(loop, concs[i], warm, dur, schedule_issue, NULL);
        bench_print("sessions-ScheduleMeeting", concs[i], &r);
    }
    if (meeting_seq / 30 > pool_n) {
        printf("INFO schedule_pool_wrapped (some calls met the 40-meeting limit)\n");
    }

    measure_complete_bilan();
    bsl_sync_client_free(large_stack.sc);
    te_fini(&large_stack.env);
    free(pool);
    return 0;
}
