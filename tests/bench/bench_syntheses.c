/*
 * The syntheses service's figures, against real redis-server, sessions, questionnaires and
 * syntheses processes:
 *   - GetSynthesis (the beneficiary reads a one-page synthesis: GetBilanAccess on the sessions
 *     service, one Lua script that reads and appends to the access log, one decryption) with
 *     1, 16 and 64 calls in flight;
 *   - SaveSynthesisRevision (the counselor changes one section: GetBilanAccess, a read and
 *     decryption, a merge and diff, sealing, one Lua script with the version check), with 1
 *     and 16 writers, each on its own synthesis (a writer moves to a fresh one before the
 *     revision cap);
 *   - PDF rendering in this process (document model, two pango/cairo passes, the PDF bytes):
 *     time per rendering of a realistic three-page synthesis, and RenderSynthesis(PDF) end to
 *     end at 1 in flight.
 *
 * Run through tests/bench/run.sh (servers on cpu 0, this load on cpu 1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchlib.h"
#include "boussole/err.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"
#include "boussole/v1/syntheses.pb-c.h"
#include "labels.h"
#include "render.h"
#include "syntheses.h"
#include "testenv.h"

#define ORG       "org-bench"
#define POOL      40
#define MAX_LANES 16

static te_env env;
static te_proc p_sessions, p_questionnaires, p_syntheses;
static bsl_sync_client *c_sessions, *c_syntheses;
static Boussole__V1__Caller counselor, beneficiary;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_syntheses: %s: %s\n", what, msg);
    te_fini(&env);
    exit(1);
}

static ProtobufCMessage *call(bsl_sync_client *sc, const char *method, const ProtobufCMessage *req,
                              const Boussole__V1__Caller *c)
{
    bsl_call_opts o = { .caller = c, .deadline_ms = 20000 };
    ProtobufCMessage *resp = NULL;
    char msg[512];
    bsl_status st = bsl_sync_call(sc, method, req, &o, &resp, msg, sizeof(msg));
    if (st != BSL_STATUS_OK) {
        die(method, msg);
    }
    return resp;
}

/* A bilan in its investigation phase with a drafted synthesis; returns the bilan id. */
static void new_synthesis(char id[32])
{
    Boussole__V1__CreateBilanRequest cr = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    cr.beneficiary_id = "b-bench";
    cr.organisation_id = ORG;
    cr.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    cr.planned_hours = 24;
    cr.start_date = (char *)te_day(-10);
    cr.end_date = (char *)te_day(60);
    ProtobufCMessage *r =
        call(c_sessions, "boussole.v1.SessionService/CreateBilan", &cr.base, &counselor);
    snprintf(id, 32, "%s", ((Boussole__V1__Bilan *)r)->id);
    protobuf_c_message_free_unpacked(r, NULL);
    Boussole__V1__Intake in = BOUSSOLE__V1__INTAKE__INIT;
    in.bilan_id = id;
    in.current_situation = "Comptable depuis huit ans dans une PME du bâtiment.";
    in.reasons = "Envie de travailler davantage avec les gens.";
    in.expectations = "Identifier un métier d'accompagnement accessible par la formation.";
    Boussole__V1__RecordIntakeRequest ri = BOUSSOLE__V1__RECORD_INTAKE_REQUEST__INIT;
    ri.intake = &in;
    protobuf_c_message_free_unpacked(
        call(c_sessions, "boussole.v1.SessionService/RecordIntake", &ri.base, &beneficiary), NULL);
    Boussole__V1__RoadmapStep st = BOUSSOLE__V1__ROADMAP_STEP__INIT;
    Boussole__V1__RoadmapTool tools[] = { BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_INTERVIEW };
    st.phase = BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY;
    st.title = "Entretien d'accueil";
    st.tools = tools;
    st.n_tools = 1;
    st.planned_date = (char *)te_day(-9);
    st.status = BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_DONE;
    Boussole__V1__RoadmapStep *steps[] = { &st };
    Boussole__V1__SetRoadmapRequest sr = BOUSSOLE__V1__SET_ROADMAP_REQUEST__INIT;
    sr.bilan_id = id;
    sr.steps = steps;
    sr.n_steps = 1;
    protobuf_c_message_free_unpacked(
        call(c_sessions, "boussole.v1.SessionService/SetRoadmap", &sr.base, &counselor), NULL);
    Boussole__V1__AdvancePhaseRequest ap = BOUSSOLE__V1__ADVANCE_PHASE_REQUEST__INIT;
    ap.id = id;
    ap.target = BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION;
    protobuf_c_message_free_unpacked(
        call(c_sessions, "boussole.v1.SessionService/AdvancePhase", &ap.base, &counselor), NULL);
    Boussole__V1__DraftSynthesisRequest dr = BOUSSOLE__V1__DRAFT_SYNTHESIS_REQUEST__INIT;
    dr.bilan_id = id;
    protobuf_c_message_free_unpacked(
        call(c_syntheses, "boussole.v1.SynthesisService/DraftSynthesis", &dr.base, &counselor),
        NULL);
}

/* ---- a realistic content ----------------------------------------------------------------- */

static const char paragraph[] =
    "Au cours du bilan, nous avons repris les expériences professionnelles et personnelles, "
    "mis en évidence les compétences transférables et confronté les pistes envisagées à la "
    "réalité des métiers par des enquêtes et des rencontres de professionnels. ";

static Boussole__V1__SynthesisContent *realistic(bsl_arena *a)
{
    Boussole__V1__SynthesisContent *c = syn_content_new(a);
    c->cover->beneficiary_name = "Camille Martin";
    c->cover->counselor_name = "Marie Lefèvre";
    c->cover->organisation_name = "Centre de bilans Lumière";
    c->cover->start_date = "2026-12-01";
    c->cover->end_date = "2027-02-28";
    c->cover->hours = 24;
    char *text = bsl_arena_printf(a, "%s%s\n\n%s\n\n- Premier point\n- Deuxième point\n- Troisième",
                                  paragraph, paragraph, paragraph);
    c->circumstances = text;
    c->path_explored = text;
    c->skills = text;
    c->strengths = "- Rigueur\n- Écoute\n- Pédagogie\n- Sens de l'organisation";
    c->areas_to_improve = (char *)paragraph;
    c->follow_up = (char *)paragraph;
    c->beneficiary_observations = (char *)paragraph;
    static Boussole__V1__SynthesisProject pr = BOUSSOLE__V1__SYNTHESIS_PROJECT__INIT;
    static Boussole__V1__SynthesisProject *prs[] = { &pr };
    pr.title = "Conseillère en insertion professionnelle";
    pr.path = BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_RECONVERSION;
    pr.description = (char *)paragraph;
    c->projects = prs;
    c->n_projects = 1;
    static Boussole__V1__SynthesisActionStep steps[6], *sp[6];
    for (int i = 0; i < 6; i++) {
        boussole__v1__synthesis_action_step__init(&steps[i]);
        steps[i].title = "Se renseigner sur le titre professionnel CIP";
        steps[i].description = (char *)paragraph;
        steps[i].target_date = "2027-04-01";
        steps[i].training = "Titre professionnel conseiller en insertion professionnelle";
        steps[i].resources = "CPF, Transitions Pro, AFPA";
        sp[i] = &steps[i];
    }
    c->action_plan = sp;
    c->n_action_plan = 6;
    return c;
}

/* ---- SaveSynthesisRevision lanes --------------------------------------------------------- */

typedef struct lane {
    bool busy;
    int pool;
    uint64_t rev;
    bench_slot *slot;
} lane;

typedef struct save_bench {
    bsl_client *client;
    char pool[POOL][32];
    uint64_t pool_rev[POOL];
    int next_pool;
    lane lanes[MAX_LANES];
    unsigned n_lanes;
    char texts[2][64];
} save_bench;

static save_bench sb;

static void on_saved(const bsl_reply *reply, void *arg)
{
    lane *l = arg;
    l->busy = false;
    if (reply->code == BSL_STATUS_OK && reply->msg != NULL) {
        l->rev = ((const Boussole__V1__Synthesis *)reply->msg)->current_revision;
        sb.pool_rev[l->pool] = l->rev;
    }
    bench_complete(l->slot, reply->code == BSL_STATUS_OK);
}

static void issue_save(bench_slot *slot, uint64_t seq, void *arg)
{
    (void)arg;
    lane *l = NULL;
    for (unsigned i = 0; i < sb.n_lanes && l == NULL; i++) {
        if (!sb.lanes[i].busy) {
            l = &sb.lanes[i];
        }
    }
    if (l->rev >= SYN_MAX_REVISIONS - 10) {
        if (sb.next_pool >= POOL) {
            die("SaveSynthesisRevision", "the pool of syntheses is used up: raise POOL");
        }
        l->pool = sb.next_pool++;
        l->rev = sb.pool_rev[l->pool];
    }
    l->busy = true;
    l->slot = slot;
    Boussole__V1__SynthesisContent c = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    c.skills = sb.texts[seq % 2];
    Boussole__V1__SynthesisSection secs[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS
    };
    Boussole__V1__SaveSynthesisRevisionRequest req =
        BOUSSOLE__V1__SAVE_SYNTHESIS_REVISION_REQUEST__INIT;
    req.bilan_id = sb.pool[l->pool];
    req.base_revision = l->rev;
    req.sections = secs;
    req.n_sections = 1;
    req.content = &c;
    bsl_call_opts o = { .caller = &counselor };
    if (bsl_client_call(sb.client, "boussole.v1.SynthesisService/SaveSynthesisRevision", &req.base,
                        &o, on_saved, l) != BSL_OK) {
        l->busy = false;
        bench_complete(slot, false);
    }
}

/* ---- in-process rendering ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_pdf(void)
{
    syn_labels *labels;
    char err[512], dir[1024];
    snprintf(dir, sizeof(dir), "%s/services/syntheses/data", getenv("BSL_SOURCE_DIR"));
    if (syn_labels_load(&labels, dir, err, sizeof(err)) != BSL_OK) {
        die("labels", err);
    }
    bsl_arena *a = bsl_arena_create();
    syn_doc_input in = { .content = realistic(a),
                         .sections = SYN_MASK_SHAREABLE,
                         .version = 1,
                         .revision = 12,
                         .status = SYN_FINAL,
                         .final_ms = 1798761600000LL };
    syn_pdf_options o = { .page_label = syn_label_text(labels, SYN_L_DOC_PAGE),
                          .contents = syn_label_text(labels, SYN_L_DOC_CONTENTS),
                          .create_ms = in.final_ms };
    enum { N = 60 };
    double ms[N];
    size_t bytes = 0;
    for (int i = -3; i < N; i++) { /* three warm-up renderings load the fonts */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        bsl_arena *doc_arena = bsl_arena_create();
        Boussole__V1__SynthesisDocument *d = syn_document_build(doc_arena, labels, &in);
        unsigned char *pdf = NULL;
        size_t len = 0;
        if (d == NULL || syn_pdf_render(d, &o, &pdf, &len) != BSL_OK) {
            die("syn_pdf_render", "failed");
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        free(pdf);
        bsl_arena_free(doc_arena);
        bytes = len;
        if (i >= 0) {
            ms[i] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        }
    }
    qsort(ms, N, sizeof(double), cmp_double);
    double sum = 0;
    for (int i = 0; i < N; i++) {
        sum += ms[i];
    }
    printf("RESULT label=syntheses-pdf-render-inprocess renders=%d mean_ms=%.2f p50_ms=%.2f "
           "p99_ms=%.2f max_ms=%.2f pdf_bytes=%zu\n",
           N, sum / N, ms[N / 2], ms[(int)(N * 0.99)], ms[N - 1], bytes);
    fflush(stdout);
    bsl_arena_free(a);
    syn_labels_free(labels);
}

int main(void)
{
    bsl_init();
    te_init(&env, "bench-syntheses");
    te_redis_start(&env);
    char level[64];
    snprintf(level, sizeof(level), "--log-level=%s",
             getenv("BENCH_LOG_LEVEL") ? getenv("BENCH_LOG_LEVEL") : "warn");
    const char *sargs[] = { level, NULL };
    te_service_start(&env, &p_sessions, "sessions", sargs);
    char ses[200], que[200];
    snprintf(ses, sizeof(ses), "--sessions-url=%s", p_sessions.url);
    const char *qargs[] = { level, ses, NULL };
    te_service_start(&env, &p_questionnaires, "questionnaires", qargs);
    snprintf(que, sizeof(que), "--questionnaires-url=%s", p_questionnaires.url);
    const char *yargs[] = { level, ses, que, "--retention-interval-ms=0", NULL };
    te_service_start(&env, &p_syntheses, "syntheses", yargs);
    c_sessions = te_client(p_sessions.url);
    c_syntheses = te_client(p_syntheses.url);
    counselor = te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-bench", ORG);
    beneficiary = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-bench", "");
    bsl_client *client = bsl_sync_client_client(c_syntheses);
    struct ev_loop *loop = bsl_sync_client_loop(c_syntheses);
    double warm = bench_env_seconds("BENCH_WARM", 0.5);
    double dur = bench_env_seconds("BENCH_DUR", 3);

    /* PDF rendering in-process first, while nothing else runs. */
    bench_pdf();

    /* A synthesis of realistic size to read. */
    char reader[32];
    new_synthesis(reader);
    bsl_arena *a = bsl_arena_create();
    Boussole__V1__SaveSynthesisRevisionRequest sr =
        BOUSSOLE__V1__SAVE_SYNTHESIS_REVISION_REQUEST__INIT;
    sr.bilan_id = reader;
    sr.base_revision = 1;
    sr.content = realistic(a);
    Boussole__V1__Synthesis *s = (Boussole__V1__Synthesis *)call(
        c_syntheses, "boussole.v1.SynthesisService/SaveSynthesisRevision", &sr.base, &counselor);
    size_t content_bytes = boussole__v1__synthesis_content__get_packed_size(s->content);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    printf("# synthesis content: %zu bytes encoded\n", content_bytes);

    const unsigned concs[] = { 1, 16, 64 };
    Boussole__V1__GetSynthesisRequest gr = BOUSSOLE__V1__GET_SYNTHESIS_REQUEST__INIT;
    gr.bilan_id = reader;
    bsl_call_opts bo = { .caller = &beneficiary };
    for (size_t i = 0; i < 3; i++) {
        bench_result r = bench_rpc(client, loop, "boussole.v1.SynthesisService/GetSynthesis",
                                   &gr.base, &bo, concs[i], warm, dur);
        bench_print("syntheses-GetSynthesis", concs[i], &r);
    }

    /* Writers, each on its own synthesis. */
    memset(&sb, 0, sizeof(sb));
    sb.client = client;
    for (int i = 0; i < POOL; i++) {
        new_synthesis(sb.pool[i]);
        sb.pool_rev[i] = 1;
    }
    snprintf(sb.texts[0], sizeof(sb.texts[0]), "Rigueur, écoute et pédagogie.");
    snprintf(sb.texts[1], sizeof(sb.texts[1]), "Pédagogie, écoute et rigueur.");
    const unsigned writers[] = { 1, 16 };
    for (size_t i = 0; i < 2; i++) {
        sb.n_lanes = writers[i];
        for (unsigned k = 0; k < sb.n_lanes; k++) {
            sb.lanes[k].busy = false;
            sb.lanes[k].pool = sb.next_pool++;
            sb.lanes[k].rev = sb.pool_rev[sb.lanes[k].pool];
        }
        bench_result r = bench_run(loop, writers[i], warm, dur, issue_save, NULL);
        bench_print("syntheses-SaveSynthesisRevision", writers[i], &r);
    }

    /* RenderSynthesis(PDF) end to end: access, read, decrypt, the worker thread, the reply. */
    Boussole__V1__RenderSynthesisRequest rr = BOUSSOLE__V1__RENDER_SYNTHESIS_REQUEST__INIT;
    rr.bilan_id = reader;
    rr.format = BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_PDF;
    bench_result r = bench_rpc(client, loop, "boussole.v1.SynthesisService/RenderSynthesis",
                               &rr.base, &bo, 1, warm, dur);
    bench_print("syntheses-RenderSynthesis-pdf", 1, &r);

    bsl_arena_free(a);
    bsl_sync_client_free(c_sessions);
    bsl_sync_client_free(c_syntheses);
    te_fini(&env);
    return 0;
}
