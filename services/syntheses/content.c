/* The synthesis content as sections: limits, merging a save into the current content, what
 * changed between two revisions, and the part a grant lets a third party read. Pure functions
 * of their arguments (tests/unit/syntheses/content_test.c). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "syntheses.h"

static const Boussole__V1__SynthesisCover empty_cover = BOUSSOLE__V1__SYNTHESIS_COVER__INIT;

Boussole__V1__SynthesisContent *syn_content_new(bsl_arena *a)
{
    Boussole__V1__SynthesisContent *c = bsl_arena_alloc(a, sizeof(*c));
    Boussole__V1__SynthesisCover *cover = bsl_arena_alloc(a, sizeof(*cover));
    if (c == NULL || cover == NULL) {
        return NULL;
    }
    boussole__v1__synthesis_content__init(c);
    boussole__v1__synthesis_cover__init(cover);
    c->cover = cover;
    return c;
}

/* ---- limits ------------------------------------------------------------------------------ */

#define PATH_CAP 192

/* "<prefix>.<field>" (or "<prefix>[i]" forms built by the callers); field paths are short and
 * a truncated one would still name the field well enough, hence no error. */
static void path_of(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void path_of(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, PATH_CAP, fmt, ap);
    va_end(ap);
    if (n < 0) {
        out[0] = '\0';
    }
}

static void text(bsl_check *chk, const char *prefix, const char *field, const char *v, size_t min,
                 size_t max)
{
    char path[PATH_CAP];
    path_of(path, "%s.%s", prefix, field);
    bsl_check_text(chk, path, v, min, max);
}

static void date(bsl_check *chk, const char *prefix, const char *field, const char *v, long *days)
{
    char path[PATH_CAP];
    path_of(path, "%s.%s", prefix, field);
    bsl_check_date(chk, path, v, true, days);
}

static void count(bsl_check *chk, const char *prefix, const char *field, size_t n, size_t max)
{
    char path[PATH_CAP];
    path_of(path, "%s.%s", prefix, field);
    bsl_check_count(chk, path, n, max);
}

static void check_cover(bsl_check *chk, const char *prefix, const Boussole__V1__SynthesisCover *c)
{
    if (c == NULL) {
        return;
    }
    char p[PATH_CAP];
    path_of(p, "%s.cover", prefix);
    text(chk, p, "beneficiary_name", c->beneficiary_name, 0, SYN_TITLE_MAX);
    text(chk, p, "counselor_name", c->counselor_name, 0, SYN_TITLE_MAX);
    text(chk, p, "organisation_name", c->organisation_name, 0, SYN_TITLE_MAX);
    long start = -1, end = -1;
    date(chk, p, "start_date", c->start_date, &start);
    date(chk, p, "end_date", c->end_date, &end);
    if (start >= 0 && end >= 0 && end < start) {
        char path[PATH_CAP];
        path_of(path, "%s.end_date", p);
        bsl_check_violation(chk, path, "must not be before start_date");
    }
    char path[PATH_CAP];
    path_of(path, "%s.hours", p);
    bsl_check_range(chk, path, c->hours, 0, 24);
}

static void check_assessment(bsl_check *chk, const char *p,
                             const Boussole__V1__SynthesisAssessment *x)
{
    text(chk, p, "title", x->title, 1, SYN_TITLE_MAX);
    long d;
    date(chk, p, "completed_date", x->completed_date, &d);
    text(chk, p, "holland_code", x->holland_code, 0, 6);
    for (const char *s = x->holland_code; s != NULL && *s != '\0'; s++) {
        if (strchr("RIASEC", *s) == NULL) {
            char path[PATH_CAP];
            path_of(path, "%s.holland_code", p);
            bsl_check_violation(chk, path, "letters of RIASEC only");
            break;
        }
    }
    count(chk, p, "scores", x->n_scores, 40);
    for (size_t i = 0; i < x->n_scores && i < 40; i++) {
        char sp[PATH_CAP], path[PATH_CAP];
        path_of(sp, "%s.scores[%zu]", p, i);
        const Boussole__V1__SynthesisScore *s = x->scores[i];
        text(chk, sp, "label", s->label, 1, SYN_TITLE_MAX);
        if (!isfinite(s->value) || fabs(s->value) > 1e9) {
            path_of(path, "%s.value", sp);
            bsl_check_violation(chk, path, "must be a finite number of at most 1e9");
        }
        if (!(s->normalised == -1 || (s->normalised >= 0 && s->normalised <= 100))) {
            path_of(path, "%s.normalised", sp);
            bsl_check_violation(chk, path, "must be -1 or between 0 and 100");
        }
    }
    text(chk, p, "summary", x->summary, 0, 2000);
}

void syn_content_check(bsl_check *chk, const char *prefix, const Boussole__V1__SynthesisContent *c,
                       syn_mask mask)
{
    if (c == NULL) {
        return;
    }
    char p[PATH_CAP];
    if (mask & SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_COVER)) {
        check_cover(chk, prefix, c->cover);
    }
    if (mask & SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_CIRCUMSTANCES)) {
        text(chk, prefix, "circumstances", c->circumstances, 0, SYN_TEXT_MAX);
    }
    if (mask & SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_PATH_EXPLORED)) {
        text(chk, prefix, "path_explored", c->path_explored, 0, SYN_TEXT_MAX);
        count(chk, prefix, "assessments", c->n_assessments, 20);
        for (size_t i = 0; i < c->n_assessments && i < 20; i++) {
            path_of(p, "%s.assessments[%zu]", prefix, i);
            check_assessment(chk, p, c->assessments[i]);
        }
    }
    if (mask & SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS)) {
        text(chk, prefix, "skills", c->skills, 0, SYN_TEXT_MAX);
    }
    if (mask & SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_STRENGTHS)) {
        text(chk, prefix, "strengths", c->strengths, 0, SYN_TEXT_MAX);
    }
    if (mask & SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_AREAS_TO_IMPROVE)) {
        text(chk, prefix, "areas_to_improve", c->areas_to_improve, 0, SYN_TEXT_MAX);
    }
    if (mask & SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_PROJECTS)) {
        count(chk, prefix, "projects", c->n_projects, 10);
        for (size_t i = 0; i < c->n_projects && i < 10; i++) {
            const Boussole__V1__SynthesisProject *x = c->projects[i];
            path_of(p, "%s.projects[%zu]", prefix, i);
            text(chk, p, "title", x->title, 1, SYN_TITLE_MAX);
            char path[PATH_CAP];
            path_of(path, "%s.path", p);
            bsl_check_enum(chk, path, &boussole__v1__synthesis_career_path__descriptor,
                           (int)x->path, true);
            text(chk, p, "description", x->description, 0, 4000);
        }
        count(chk, prefix, "leads", c->n_leads, 30);
        for (size_t i = 0; i < c->n_leads && i < 30; i++) {
            const Boussole__V1__SynthesisLead *x = c->leads[i];
            path_of(p, "%s.leads[%zu]", prefix, i);
            text(chk, p, "title", x->title, 1, SYN_TITLE_MAX);
            char path[PATH_CAP];
            path_of(path, "%s.path", p);
            bsl_check_enum(chk, path, &boussole__v1__synthesis_career_path__descriptor,
                           (int)x->path, true);
            path_of(path, "%s.outcome", p);
            bsl_check_enum(chk, path, &boussole__v1__synthesis_lead_outcome__descriptor,
                           (int)x->outcome, true);
            text(chk, p, "reason", x->reason, 0, 2000);
            text(chk, p, "research", x->research, 0, 4000);
        }
    }
    if (mask & SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_ACTION_PLAN)) {
        count(chk, prefix, "action_plan", c->n_action_plan, 30);
        for (size_t i = 0; i < c->n_action_plan && i < 30; i++) {
            const Boussole__V1__SynthesisActionStep *x = c->action_plan[i];
            path_of(p, "%s.action_plan[%zu]", prefix, i);
            text(chk, p, "title", x->title, 1, SYN_TITLE_MAX);
            text(chk, p, "description", x->description, 0, 2000);
            long d;
            date(chk, p, "target_date", x->target_date, &d);
            text(chk, p, "training", x->training, 0, 500);
            text(chk, p, "resources", x->resources, 0, 1000);
        }
    }
    if (mask & SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_FOLLOW_UP)) {
        text(chk, prefix, "follow_up", c->follow_up, 0, SYN_TEXT_MAX);
    }
    if (mask & SYN_MASK_OBSERVATIONS) {
        text(chk, prefix, "beneficiary_observations", c->beneficiary_observations, 0, SYN_TEXT_MAX);
    }
}

/* ---- sections as parts of a message ------------------------------------------------------ */

/* Copies the fields of section s from src into dst (shallow). */
static void copy_section(Boussole__V1__SynthesisContent *dst,
                         const Boussole__V1__SynthesisContent *src, unsigned s)
{
    switch (s) {
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_COVER:
        dst->cover = src->cover ? src->cover : (Boussole__V1__SynthesisCover *)&empty_cover;
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_CIRCUMSTANCES:
        dst->circumstances = src->circumstances;
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_PATH_EXPLORED:
        dst->path_explored = src->path_explored;
        dst->n_assessments = src->n_assessments;
        dst->assessments = src->assessments;
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS:
        dst->skills = src->skills;
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_STRENGTHS:
        dst->strengths = src->strengths;
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_AREAS_TO_IMPROVE:
        dst->areas_to_improve = src->areas_to_improve;
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_PROJECTS:
        dst->n_projects = src->n_projects;
        dst->projects = src->projects;
        dst->n_leads = src->n_leads;
        dst->leads = src->leads;
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_ACTION_PLAN:
        dst->n_action_plan = src->n_action_plan;
        dst->action_plan = src->action_plan;
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_FOLLOW_UP:
        dst->follow_up = src->follow_up;
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_OBSERVATIONS:
        dst->beneficiary_observations = src->beneficiary_observations;
        break;
    default:
        break;
    }
}

Boussole__V1__SynthesisContent *syn_content_merge(bsl_arena *a,
                                                  const Boussole__V1__SynthesisContent *base,
                                                  const Boussole__V1__SynthesisContent *in,
                                                  syn_mask mask)
{
    Boussole__V1__SynthesisContent *out = bsl_arena_alloc(a, sizeof(*out));
    if (out == NULL) {
        return NULL;
    }
    if (base != NULL) {
        *out = *base;
    } else {
        boussole__v1__synthesis_content__init(out);
    }
    if (out->cover == NULL) {
        out->cover = (Boussole__V1__SynthesisCover *)&empty_cover;
    }
    Boussole__V1__SynthesisContent none = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    if (in == NULL) {
        in = &none;
    }
    for (unsigned s = 1; s <= SYN_SECTION_LAST; s++) {
        if (mask & SYN_MASK(s)) {
            copy_section(out, in, s);
        }
    }
    return out;
}

Boussole__V1__SynthesisContent *
syn_content_scope(bsl_arena *a, const Boussole__V1__SynthesisContent *c, syn_mask mask)
{
    return syn_content_merge(
        a, NULL, c,
        (mask & SYN_MASK_SHAREABLE) |
            SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_COVER));
}

/* The encoding of one section of c alone; NULL when out of memory. */
static uint8_t *pack_section(bsl_arena *a, const Boussole__V1__SynthesisContent *c, unsigned s,
                             size_t *len)
{
    Boussole__V1__SynthesisContent part = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    copy_section(&part, c, s);
    *len = boussole__v1__synthesis_content__get_packed_size(&part);
    uint8_t *buf = bsl_arena_alloc(a, *len ? *len : 1);
    if (buf != NULL) {
        boussole__v1__synthesis_content__pack(&part, buf);
    }
    return buf;
}

syn_mask syn_content_diff(bsl_arena *a, const Boussole__V1__SynthesisContent *x,
                          const Boussole__V1__SynthesisContent *y)
{
    Boussole__V1__SynthesisContent none = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    syn_mask changed = 0;
    for (unsigned s = 1; s <= SYN_SECTION_LAST; s++) {
        size_t lx, ly;
        uint8_t *bx = pack_section(a, x ? x : &none, s, &lx);
        uint8_t *by = pack_section(a, y ? y : &none, s, &ly);
        if (bx == NULL || by == NULL || lx != ly || memcmp(bx, by, lx) != 0) {
            changed |= SYN_MASK(s);
        }
    }
    return changed;
}

Boussole__V1__SynthesisSection *syn_mask_sections(bsl_arena *a, syn_mask mask, size_t *n)
{
    *n = 0;
    Boussole__V1__SynthesisSection *out = bsl_arena_calloc(a, SYN_SECTION_LAST + 1, sizeof(*out));
    if (out == NULL) {
        return NULL;
    }
    for (unsigned s = 1; s <= SYN_SECTION_LAST; s++) {
        if (mask & SYN_MASK(s)) {
            out[(*n)++] = (Boussole__V1__SynthesisSection)s;
        }
    }
    return out;
}
