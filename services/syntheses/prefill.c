/*
 * The first draft of a synthesis, from what the bilan produced. Every source is read with the
 * calling counselor's own credentials, so the draft holds only what the counselor may read;
 * a source the counselor may not read or that has nothing (PERMISSION_DENIED, NOT_FOUND,
 * FAILED_PRECONDITION: results withdrawn by a reopening) is left out, any other failure fails the
 * draft (a partial draft would look complete).
 *
 * Sources, and where they go (French wording from data/labels.fr.txt):
 *   sessions        GetBilan             cover (dates, hours); circumstances (the period)
 *                   GetIntake            circumstances (situation, reasons, expectations)
 *                   ListExperiences      path explored (the experiences); skills (their skills)
 *                   GetRoadmap           path explored (the steps done, with their tools)
 *                   ListCareerLeads      projects (the retained leads); leads considered, with
 *                                        the reason of their status and the research done
 *   questionnaires  ListAssignments,     path explored: one assessment per submitted
 *                   GetResults           questionnaire (scores, Holland code)
 *                   GetFeedbackSummary   path explored: the relatives' aggregate (when the
 *                                        service shows it: its own threshold of 3 answers
 *                                        applies) and the interests they chose; strengths:
 *                                        the qualities they clearly see (mean >= 70/100)
 *
 * The parts are assembled in a fixed order once every source has answered, so that the same
 * bilan always gives the same draft.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "boussole/err.h"
#include "boussole/v1/questionnaires.pb-c.h"
#include "handlers.h"
#include "labels.h"

#define MAX_ASSESSMENTS 20

typedef struct prefill_op {
    syn_ctx *ctx;
    syn_prefill_fn done;
    Boussole__V1__SynthesisContent *content;
    int pending;
    /* The first failure; answered once every source has answered, since their callbacks refer
     * to this call's memory. */
    bool failed;
    bsl_status code;
    char message[256];
    /* Parts, assembled in order at the end. */
    char *period, *intake, *experiences, *skills, *roadmap, *relatives, *interests;
    Boussole__V1__SynthesisAssessment *assessments[MAX_ASSESSMENTS + 1];
    size_t n_assessments;
    Boussole__V1__SynthesisAssessment *relatives_assessment;
} prefill_op;

/* A source answered: msg is borrowed for the duration of fill. */
typedef void (*fill_fn)(prefill_op *op, const ProtobufCMessage *msg, void *arg);

typedef struct source {
    prefill_op *op;
    const char *what;
    fill_fn fill;
    void *arg;
} source;

static bsl_arena *arena_of(prefill_op *op)
{
    return bsl_call_arena(op->ctx->call);
}

static const char *label(prefill_op *op, syn_label which)
{
    return syn_label_text(op->ctx->app->labels, which);
}

static void failed(prefill_op *op, bsl_status code, const char *what, const char *why)
{
    if (!op->failed) {
        op->failed = true;
        op->code = code;
        snprintf(op->message, sizeof(op->message), "pre-filling from %s: %s", what, why);
    }
}

/* ---- text helpers ------------------------------------------------------------------------ */

/* Joins two texts with sep ("" parts are skipped). */
static char *join(prefill_op *op, const char *a, const char *sep, const char *b)
{
    if (a == NULL || a[0] == '\0') {
        return b ? bsl_arena_strdup(arena_of(op), b) : NULL;
    }
    if (b == NULL || b[0] == '\0') {
        return bsl_arena_strdup(arena_of(op), a);
    }
    return bsl_arena_printf(arena_of(op), "%s%s%s", a, sep, b);
}

static char *fill1(prefill_op *op, syn_label tmpl, const char *name, const char *value)
{
    const char *names[] = { name };
    const char *values[] = { value };
    return syn_fill(arena_of(op), label(op, tmpl), names, values, 1);
}

/* Text from another service goes into a bounded field: copied into the call's arena (the
 * service's answer is freed after its callback), cut at a character boundary. */
static const char *bounded(prefill_op *op, const char *s, size_t max_chars)
{
    size_t chars = 0, i = 0;
    for (; s[i] != '\0'; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80 && ++chars > max_chars) {
            break;
        }
    }
    const char *copy = bsl_arena_strndup(arena_of(op), s, i);
    return copy ? copy : "";
}

/* ---- assembling -------------------------------------------------------------------------- */

static int by_date_then_title(const void *x, const void *y)
{
    const Boussole__V1__SynthesisAssessment *a = *(Boussole__V1__SynthesisAssessment *const *)x;
    const Boussole__V1__SynthesisAssessment *b = *(Boussole__V1__SynthesisAssessment *const *)y;
    int c = strcmp(a->completed_date, b->completed_date);
    return c != 0 ? c : strcmp(a->title, b->title);
}

static void assemble(prefill_op *op)
{
    Boussole__V1__SynthesisContent *c = op->content;
    char *circumstances = join(op, op->period, "\n\n", op->intake);
    char *path = join(op, join(op, op->experiences, "\n\n", op->roadmap), "\n\n", op->interests);
    c->circumstances = (char *)bounded(op, circumstances ? circumstances : "", SYN_TEXT_MAX);
    c->path_explored = (char *)bounded(op, path ? path : "", SYN_TEXT_MAX);
    c->skills = (char *)bounded(op, op->skills ? op->skills : "", SYN_TEXT_MAX);
    c->strengths = (char *)bounded(op, op->relatives ? op->relatives : "", SYN_TEXT_MAX);
    c->follow_up = (char *)label(op, SYN_L_PREFILL_FOLLOW_UP);
    qsort(op->assessments, op->n_assessments, sizeof(op->assessments[0]), by_date_then_title);
    if (op->relatives_assessment != NULL && op->n_assessments < MAX_ASSESSMENTS) {
        op->assessments[op->n_assessments++] = op->relatives_assessment;
    }
    c->assessments = op->assessments;
    c->n_assessments = op->n_assessments;
}

static void finish(prefill_op *op)
{
    if (--op->pending > 0) {
        return;
    }
    if (op->failed) {
        syn_fail(op->ctx, op->code, "%s", op->message);
        return;
    }
    assemble(op);
    op->done(op->ctx, op->content);
}

static void on_source(const bsl_reply *reply, void *arg)
{
    source *src = arg;
    prefill_op *op = src->op;
    if (op->failed) {
        /* Nothing more to fill. */
    } else if (reply->code == BSL_STATUS_OK && reply->msg != NULL) {
        src->fill(op, reply->msg, src->arg);
    } else if (reply->code != BSL_STATUS_PERMISSION_DENIED && reply->code != BSL_STATUS_NOT_FOUND &&
               reply->code != BSL_STATUS_FAILED_PRECONDITION) {
        failed(op, reply->code == BSL_STATUS_OK ? BSL_STATUS_INTERNAL : reply->code, src->what,
               reply->message);
    }
    finish(op);
}

/* Calls one source with the caller's credentials. */
static void ask(prefill_op *op, bsl_client *client, const char *method, const ProtobufCMessage *req,
                const char *what, fill_fn fill, void *arg)
{
    source *src = bsl_arena_calloc(arena_of(op), 1, sizeof(*src));
    if (src == NULL) {
        failed(op, BSL_STATUS_RESOURCE_EXHAUSTED, what, "out of memory");
        return;
    }
    src->op = op;
    src->what = what;
    src->fill = fill;
    src->arg = arg;
    bsl_call *call = op->ctx->call;
    bsl_call_opts o = {
        .caller = bsl_call_caller(call),
        .trace_id = bsl_call_trace_id(call),
        .deadline_ms = bsl_call_remaining_ms(call),
    };
    int rv = bsl_client_call(client, method, req, &o, on_source, src);
    if (rv != BSL_OK) {
        failed(op, rv == BSL_ENOTFOUND ? BSL_STATUS_UNIMPLEMENTED : bsl_status_from_err(rv), what,
               bsl_strerror(rv));
        return;
    }
    op->pending++;
}

/* ---- sessions ---------------------------------------------------------------------------- */

static void fill_bilan(prefill_op *op, const ProtobufCMessage *msg, void *arg)
{
    (void)arg;
    const Boussole__V1__Bilan *b = (const Boussole__V1__Bilan *)msg;
    bsl_arena *a = arena_of(op);
    const syn_labels *l = op->ctx->app->labels;
    Boussole__V1__SynthesisCover *cover = op->content->cover;
    long start = bsl_date_parse(b->start_date), end = bsl_date_parse(b->end_date);
    if (start >= 0 && end >= start) {
        cover->start_date = bsl_arena_strdup(a, b->start_date);
        cover->end_date = bsl_arena_strdup(a, b->end_date);
    }
    cover->hours = b->planned_hours <= 24 ? b->planned_hours : 0;
    const char *names[] = { "start", "end" };
    const char *values[] = { syn_french_date(a, l, b->start_date),
                             syn_french_date(a, l, b->end_date) };
    char *period = syn_fill(a, label(op, SYN_L_COVER_PERIOD_VALUE), names, values, 2);
    const char *n2[] = { "period", "hours" };
    const char *v2[] = { period, bsl_arena_printf(a, "%u", b->planned_hours) };
    op->period = syn_fill(a, label(op, SYN_L_PREFILL_CIRCUMSTANCES), n2, v2, 2);
}

static void fill_intake(prefill_op *op, const ProtobufCMessage *msg, void *arg)
{
    (void)arg;
    const Boussole__V1__Intake *in = (const Boussole__V1__Intake *)msg;
    const struct {
        const char *text;
        syn_label tmpl;
    } parts[] = {
        { in->current_situation, SYN_L_PREFILL_SITUATION },
        { in->reasons, SYN_L_PREFILL_REASONS },
        { in->expectations, SYN_L_PREFILL_EXPECTATIONS },
    };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        if (parts[i].text != NULL && parts[i].text[0] != '\0') {
            op->intake =
                join(op, op->intake, "\n\n", fill1(op, parts[i].tmpl, "text", parts[i].text));
        }
    }
}

static void fill_experiences(prefill_op *op, const ProtobufCMessage *msg, void *arg)
{
    (void)arg;
    const Boussole__V1__ListExperiencesResponse *r =
        (const Boussole__V1__ListExperiencesResponse *)msg;
    bsl_arena *a = arena_of(op);
    if (r->n_experiences == 0) {
        return;
    }
    char *lines = (char *)label(op, SYN_L_PREFILL_EXPERIENCES_INTRO);
    char *skills = NULL;
    const char *seen[64];
    size_t n_seen = 0;
    for (size_t i = 0; i < r->n_experiences; i++) {
        const Boussole__V1__Experience *e = r->experiences[i];
        const syn_labels *l = op->ctx->app->labels;
        char *start = syn_french_date(a, l, e->period_start);
        char *period = e->period_end[0] ? bsl_arena_printf(a, "%s – %s", start,
                                                           syn_french_date(a, l, e->period_end))
                                        : start;
        const char *names[] = { "title", "period", "description" };
        const char *values[] = { e->title, period, e->description };
        char *line = syn_fill(a, label(op, SYN_L_PREFILL_EXPERIENCE), names, values, 3);
        lines = join(op, lines, "\n", line);
        for (size_t k = 0; k < e->n_skills; k++) {
            bool dup = false;
            for (size_t j = 0; j < n_seen && !dup; j++) {
                dup = strcmp(seen[j], e->skills[k]) == 0;
            }
            if (dup || n_seen == sizeof(seen) / sizeof(seen[0])) {
                continue;
            }
            seen[n_seen++] = e->skills[k];
            skills = join(op, skills, "\n", bsl_arena_printf(a, "- %s", e->skills[k]));
        }
    }
    op->experiences = lines;
    if (skills != NULL) {
        op->skills = join(op, label(op, SYN_L_PREFILL_SKILLS_INTRO), "\n", skills);
    }
}

static const char *tool_name(prefill_op *op, int tool)
{
    switch (tool) {
    case BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_INTERVIEW:
        return label(op, SYN_L_TOOL_INTERVIEW);
    case BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_QUESTIONNAIRE:
        return label(op, SYN_L_TOOL_QUESTIONNAIRE);
    case BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_RELATIVE_FEEDBACK:
        return label(op, SYN_L_TOOL_RELATIVE_FEEDBACK);
    case BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_JOB_RESEARCH:
        return label(op, SYN_L_TOOL_JOB_RESEARCH);
    case BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_PROFESSIONAL_MEETING:
        return label(op, SYN_L_TOOL_PROFESSIONAL_MEETING);
    case BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_DOCUMENTATION:
        return label(op, SYN_L_TOOL_DOCUMENTATION);
    case BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_WORKSHOP:
        return label(op, SYN_L_TOOL_WORKSHOP);
    default:
        return label(op, SYN_L_TOOL_OTHER);
    }
}

static void fill_roadmap(prefill_op *op, const ProtobufCMessage *msg, void *arg)
{
    (void)arg;
    const Boussole__V1__Roadmap *r = (const Boussole__V1__Roadmap *)msg;
    char *lines = NULL;
    for (size_t i = 0; i < r->n_steps; i++) {
        const Boussole__V1__RoadmapStep *s = r->steps[i];
        if (s->status != BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_DONE) {
            continue;
        }
        char *tools = NULL;
        for (size_t k = 0; k < s->n_tools; k++) {
            tools = join(op, tools, ", ", tool_name(op, (int)s->tools[k]));
        }
        const char *names[] = { "title", "tools" };
        const char *values[] = { s->title, tools ? tools : label(op, SYN_L_TOOL_OTHER) };
        lines =
            join(op, lines, "\n",
                 syn_fill(arena_of(op), label(op, SYN_L_PREFILL_ROADMAP_STEP), names, values, 2));
    }
    if (lines != NULL) {
        op->roadmap = join(op, label(op, SYN_L_PREFILL_ROADMAP_INTRO), "\n", lines);
    }
}

static const char *research_kind(prefill_op *op, int kind)
{
    switch (kind) {
    case BOUSSOLE__V1__RESEARCH_KIND__RESEARCH_KIND_JOB_RESEARCH:
        return label(op, SYN_L_RESEARCH_JOB_RESEARCH);
    case BOUSSOLE__V1__RESEARCH_KIND__RESEARCH_KIND_TESTIMONY:
        return label(op, SYN_L_RESEARCH_TESTIMONY);
    case BOUSSOLE__V1__RESEARCH_KIND__RESEARCH_KIND_DOCUMENTATION:
        return label(op, SYN_L_RESEARCH_DOCUMENTATION);
    default:
        return label(op, SYN_L_RESEARCH_IMMERSION);
    }
}

static Boussole__V1__SynthesisCareerPath career_path(int p)
{
    switch (p) {
    case BOUSSOLE__V1__CAREER_PATH__CAREER_PATH_RECONVERSION:
        return BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_RECONVERSION;
    case BOUSSOLE__V1__CAREER_PATH__CAREER_PATH_TRAINING:
        return BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_TRAINING;
    case BOUSSOLE__V1__CAREER_PATH__CAREER_PATH_JOB_CHANGE:
        return BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_JOB_CHANGE;
    case BOUSSOLE__V1__CAREER_PATH__CAREER_PATH_BUSINESS_CREATION:
        return BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_BUSINESS_CREATION;
    default:
        return BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_UNSPECIFIED;
    }
}

static Boussole__V1__SynthesisLeadOutcome lead_outcome(int status)
{
    switch (status) {
    case BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_RETAINED:
        return BOUSSOLE__V1__SYNTHESIS_LEAD_OUTCOME__SYNTHESIS_LEAD_OUTCOME_RETAINED;
    case BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_SET_ASIDE:
        return BOUSSOLE__V1__SYNTHESIS_LEAD_OUTCOME__SYNTHESIS_LEAD_OUTCOME_SET_ASIDE;
    default:
        return BOUSSOLE__V1__SYNTHESIS_LEAD_OUTCOME__SYNTHESIS_LEAD_OUTCOME_OPEN;
    }
}

static void fill_leads(prefill_op *op, const ProtobufCMessage *msg, void *arg)
{
    (void)arg;
    const Boussole__V1__ListCareerLeadsResponse *r =
        (const Boussole__V1__ListCareerLeadsResponse *)msg;
    bsl_arena *a = arena_of(op);
    Boussole__V1__SynthesisContent *c = op->content;
    size_t n = r->n_leads < 30 ? r->n_leads : 30;
    c->leads = bsl_arena_calloc(a, n + 1, sizeof(*c->leads));
    c->projects = bsl_arena_calloc(a, n + 1, sizeof(*c->projects));
    if (c->leads == NULL || c->projects == NULL) {
        failed(op, BSL_STATUS_RESOURCE_EXHAUSTED, "the career leads", "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const Boussole__V1__CareerLead *l = r->leads[i];
        Boussole__V1__SynthesisLead *x = bsl_arena_alloc(a, sizeof(*x));
        if (x == NULL) {
            failed(op, BSL_STATUS_RESOURCE_EXHAUSTED, "the career leads", "out of memory");
            return;
        }
        boussole__v1__synthesis_lead__init(x);
        x->title = (char *)bounded(op, l->title, SYN_TITLE_MAX);
        x->path = career_path((int)l->path);
        x->outcome = lead_outcome((int)l->status);
        x->reason = (char *)bounded(op, l->status_reason, 2000);
        char *research = NULL;
        for (size_t k = 0; k < l->n_research; k++) {
            const Boussole__V1__LeadResearch *rs = l->research[k];
            const char *names[] = { "kind", "title" };
            const char *values[] = { research_kind(op, (int)rs->kind), rs->title };
            research = join(op, research, "\n",
                            syn_fill(a, label(op, SYN_L_PREFILL_RESEARCH), names, values, 2));
        }
        x->research = (char *)bounded(op, research ? research : "", 4000);
        c->leads[c->n_leads++] = x;
        if (x->outcome == BOUSSOLE__V1__SYNTHESIS_LEAD_OUTCOME__SYNTHESIS_LEAD_OUTCOME_RETAINED &&
            c->n_projects < 10) {
            Boussole__V1__SynthesisProject *p = bsl_arena_alloc(a, sizeof(*p));
            if (p == NULL) {
                failed(op, BSL_STATUS_RESOURCE_EXHAUSTED, "the career leads", "out of memory");
                return;
            }
            boussole__v1__synthesis_project__init(p);
            p->title = x->title;
            p->path = x->path;
            p->description = x->reason;
            c->projects[c->n_projects++] = p;
        }
    }
}

/* ---- questionnaires ---------------------------------------------------------------------- */

static Boussole__V1__SynthesisAssessment *assessment_from_scales(prefill_op *op, const char *title,
                                                                 Boussole__V1__ScaleScore **scales,
                                                                 size_t n, bool raw)
{
    bsl_arena *a = arena_of(op);
    Boussole__V1__SynthesisAssessment *x = bsl_arena_alloc(a, sizeof(*x));
    if (x == NULL) {
        return NULL;
    }
    boussole__v1__synthesis_assessment__init(x);
    x->title = (char *)bounded(op, title, SYN_TITLE_MAX);
    n = n < 40 ? n : 40;
    x->scores = bsl_arena_calloc(a, n + 1, sizeof(*x->scores));
    if (x->scores == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        Boussole__V1__SynthesisScore *s = bsl_arena_alloc(a, sizeof(*s));
        if (s == NULL) {
            return NULL;
        }
        boussole__v1__synthesis_score__init(s);
        s->label = (char *)bounded(op, scales[i]->name, SYN_TITLE_MAX);
        s->value = raw ? scales[i]->raw : scales[i]->normalised;
        double norm = scales[i]->normalised;
        s->normalised = norm >= 0 && norm <= 100 ? norm : -1;
        x->scores[x->n_scores++] = s;
    }
    return x;
}

static void fill_results(prefill_op *op, const ProtobufCMessage *msg, void *arg)
{
    const Boussole__V1__Assignment *asg = arg;
    const Boussole__V1__Results *r = (const Boussole__V1__Results *)msg;
    if (op->n_assessments >= MAX_ASSESSMENTS - 1) {
        return; /* one place is kept for the relatives' feedback */
    }
    Boussole__V1__SynthesisAssessment *x =
        assessment_from_scales(op, asg->title, r->scales, r->n_scales, true);
    if (x == NULL) {
        failed(op, BSL_STATUS_RESOURCE_EXHAUSTED, "the questionnaire results", "out of memory");
        return;
    }
    if (r->submit_time != NULL) {
        char buf[16];
        time_t t = (time_t)r->submit_time->seconds;
        struct tm tm;
        if (gmtime_r(&t, &tm) != NULL && strftime(buf, sizeof(buf), "%Y-%m-%d", &tm) > 0) {
            x->completed_date = bsl_arena_strdup(arena_of(op), buf);
        }
    }
    size_t code_len = strlen(r->holland_code);
    if (code_len > 0 && code_len <= 6 && strspn(r->holland_code, "RIASEC") == code_len) {
        x->holland_code = bsl_arena_strdup(arena_of(op), r->holland_code);
        x->summary = fill1(op, SYN_L_PREFILL_HOLLAND, "code", r->holland_code);
    }
    op->assessments[op->n_assessments++] = x;
}

static void fill_assignments(prefill_op *op, const ProtobufCMessage *msg, void *arg)
{
    (void)arg;
    const Boussole__V1__ListAssignmentsResponse *r =
        (const Boussole__V1__ListAssignmentsResponse *)msg;
    bsl_arena *a = arena_of(op);
    for (size_t i = 0; i < r->n_assignments && !op->failed; i++) {
        const Boussole__V1__Assignment *asg = r->assignments[i];
        if (asg->status != BOUSSOLE__V1__ASSIGNMENT_STATUS__ASSIGNMENT_STATUS_SUBMITTED) {
            continue;
        }
        /* The assignment outlives this callback: copy what fill_results needs. */
        Boussole__V1__Assignment *copy = bsl_arena_alloc(a, sizeof(*copy));
        if (copy == NULL) {
            failed(op, BSL_STATUS_RESOURCE_EXHAUSTED, "the questionnaires", "out of memory");
            return;
        }
        boussole__v1__assignment__init(copy);
        copy->id = bsl_arena_strdup(a, asg->id);
        copy->title = bsl_arena_strdup(a, asg->title);
        Boussole__V1__GetResultsRequest req = BOUSSOLE__V1__GET_RESULTS_REQUEST__INIT;
        req.bilan_id = op->ctx->bilan.id;
        req.assignment_id = copy->id;
        ask(op, op->ctx->app->questionnaires, "boussole.v1.QuestionnaireService/GetResults",
            &req.base, "the questionnaires service (results)", fill_results, copy);
    }
}

static void fill_feedback(prefill_op *op, const ProtobufCMessage *msg, void *arg)
{
    (void)arg;
    const Boussole__V1__FeedbackSummary *f = (const Boussole__V1__FeedbackSummary *)msg;
    bsl_arena *a = arena_of(op);
    if (!f->visible || f->respondents == 0) {
        return; /* the questionnaires service's own threshold decides what may be seen */
    }
    if (f->n_scales > 0) {
        op->relatives_assessment = assessment_from_scales(
            op, label(op, SYN_L_PREFILL_RELATIVES_TITLE), f->scales, f->n_scales, false);
        if (op->relatives_assessment == NULL) {
            failed(op, BSL_STATUS_RESOURCE_EXHAUSTED, "the relatives' feedback", "out of memory");
            return;
        }
    }
    char *respondents = bsl_arena_printf(a, "%u", f->respondents);
    /* The qualities relatives clearly see (a mean of 70 or more out of 100). */
    char *strong = NULL;
    for (size_t i = 0; i < f->n_scales; i++) {
        if (f->scales[i]->normalised < 70 || f->scales[i]->normalised > 100) {
            continue;
        }
        const char *names[] = { "label", "score" };
        const char *values[] = { f->scales[i]->name,
                                 bsl_arena_printf(a, "%.0f", f->scales[i]->normalised) };
        strong = join(op, strong, "\n",
                      syn_fill(a, label(op, SYN_L_PREFILL_RELATIVES_STRENGTH), names, values, 2));
    }
    if (strong != NULL) {
        op->relatives =
            join(op, fill1(op, SYN_L_PREFILL_RELATIVES_STRENGTHS, "respondents", respondents), "\n",
                 strong);
    }
    /* The choices relatives made (never their free texts), most cited first. */
    char *lines = NULL;
    for (unsigned want = f->respondents; want >= 1; want--) {
        for (size_t i = 0; i < f->n_items; i++) {
            for (size_t k = 0; k < f->items[i]->n_choices; k++) {
                const Boussole__V1__ChoiceCount *cc = f->items[i]->choices[k];
                if (cc->count != want) {
                    continue;
                }
                const char *names[] = { "label", "count" };
                const char *values[] = { cc->label[0] ? cc->label : cc->value,
                                         bsl_arena_printf(a, "%u", cc->count) };
                lines =
                    join(op, lines, "\n",
                         syn_fill(a, label(op, SYN_L_PREFILL_RELATIVES_CHOICE), names, values, 2));
            }
        }
    }
    if (lines != NULL) {
        op->interests =
            join(op, fill1(op, SYN_L_PREFILL_RELATIVES_INTERESTS, "respondents", respondents), "\n",
                 lines);
    }
}

void syn_prefill(syn_ctx *ctx, syn_prefill_fn done)
{
    prefill_op *op = bsl_arena_calloc(bsl_call_arena(ctx->call), 1, sizeof(*op));
    if (op == NULL || (op->content = syn_content_new(bsl_call_arena(ctx->call))) == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->ctx = ctx;
    op->done = done;
    op->pending = 1; /* held while the sources are asked */
    syn_app *app = ctx->app;
    char *bilan = ctx->bilan.id;

    Boussole__V1__GetBilanRequest b = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    b.id = bilan;
    ask(op, app->sessions, "boussole.v1.SessionService/GetBilan", &b.base,
        "the sessions service (bilan)", fill_bilan, NULL);
    Boussole__V1__GetIntakeRequest in = BOUSSOLE__V1__GET_INTAKE_REQUEST__INIT;
    in.bilan_id = bilan;
    ask(op, app->sessions, "boussole.v1.SessionService/GetIntake", &in.base,
        "the sessions service (intake)", fill_intake, NULL);
    Boussole__V1__ListExperiencesRequest ex = BOUSSOLE__V1__LIST_EXPERIENCES_REQUEST__INIT;
    ex.bilan_id = bilan;
    ask(op, app->sessions, "boussole.v1.SessionService/ListExperiences", &ex.base,
        "the sessions service (experiences)", fill_experiences, NULL);
    Boussole__V1__GetRoadmapRequest rm = BOUSSOLE__V1__GET_ROADMAP_REQUEST__INIT;
    rm.bilan_id = bilan;
    ask(op, app->sessions, "boussole.v1.SessionService/GetRoadmap", &rm.base,
        "the sessions service (roadmap)", fill_roadmap, NULL);
    Boussole__V1__ListCareerLeadsRequest ld = BOUSSOLE__V1__LIST_CAREER_LEADS_REQUEST__INIT;
    ld.bilan_id = bilan;
    ask(op, app->sessions, "boussole.v1.SessionService/ListCareerLeads", &ld.base,
        "the sessions service (career leads)", fill_leads, NULL);

    Boussole__V1__PageRequest page = BOUSSOLE__V1__PAGE_REQUEST__INIT;
    page.page_size = 100;
    Boussole__V1__ListAssignmentsRequest la = BOUSSOLE__V1__LIST_ASSIGNMENTS_REQUEST__INIT;
    la.bilan_id = bilan;
    la.page = &page;
    ask(op, app->questionnaires, "boussole.v1.QuestionnaireService/ListAssignments", &la.base,
        "the questionnaires service (assignments)", fill_assignments, NULL);
    Boussole__V1__GetFeedbackSummaryRequest fs = BOUSSOLE__V1__GET_FEEDBACK_SUMMARY_REQUEST__INIT;
    fs.bilan_id = bilan;
    ask(op, app->questionnaires, "boussole.v1.QuestionnaireService/GetFeedbackSummary", &fs.base,
        "the questionnaires service (relatives' feedback)", fill_feedback, NULL);
    finish(op);
}
