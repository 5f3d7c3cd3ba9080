/* The synthesis laid out as a document, in French (see render.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "render.h"
#include "syntheses.h"

/* A growable array of pointers in the arena. */
typedef struct vec {
    void **items;
    size_t n, cap;
} vec;

static bool vec_push(bsl_arena *a, vec *v, void *item)
{
    if (item == NULL) {
        return false;
    }
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void **items = bsl_arena_alloc(a, cap * sizeof(*items));
        if (items == NULL) {
            return false;
        }
        if (v->n) {
            memcpy(items, v->items, v->n * sizeof(*items));
        }
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = item;
    return true;
}

static Boussole__V1__SynthesisDocumentField *field(bsl_arena *a, const char *label,
                                                   const char *value)
{
    Boussole__V1__SynthesisDocumentField *f = bsl_arena_alloc(a, sizeof(*f));
    if (f == NULL || value == NULL) {
        return NULL;
    }
    boussole__v1__synthesis_document_field__init(f);
    f->label = (char *)label;
    f->value = (char *)value;
    return f;
}

static Boussole__V1__SynthesisDocumentBlock *block(bsl_arena *a, int kind)
{
    Boussole__V1__SynthesisDocumentBlock *b = bsl_arena_alloc(a, sizeof(*b));
    if (b != NULL) {
        boussole__v1__synthesis_document_block__init(b);
        b->kind = (Boussole__V1__SynthesisDocumentBlock__Kind)kind;
    }
    return b;
}

#define K_PARAGRAPH  BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_PARAGRAPH
#define K_BULLETS    BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_BULLETS
#define K_ENTRY      BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_ENTRY
#define K_SUBHEADING BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_SUBHEADING

/*
 * Splits a text typed by people into blocks: a blank line ends a paragraph, and consecutive
 * lines starting with "- " (or "• ") make a bullet list. Other single line breaks stay inside
 * their paragraph.
 */
static bool text_blocks(bsl_arena *a, vec *blocks, const char *text)
{
    if (text == NULL) {
        return true;
    }
    const char *p = text;
    Boussole__V1__SynthesisDocumentBlock *para = NULL, *bullets = NULL;
    size_t para_len = 0;
    char *para_buf = NULL;
    vec items = { 0 };
    size_t total = strlen(text);
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        /* The line without its trailing blanks. */
        size_t l = len;
        while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t' || p[l - 1] == '\r')) {
            l--;
        }
        size_t lead = 0;
        while (lead < l && (p[lead] == ' ' || p[lead] == '\t')) {
            lead++;
        }
        bool blank = lead == l;
        bool bullet = false;
        size_t skip = 0;
        if (!blank && l - lead >= 2 && (p[lead] == '-' || p[lead] == '*') && p[lead + 1] == ' ') {
            bullet = true;
            skip = lead + 2;
        } else if (!blank && l - lead >= 4 && strncmp(p + lead, "\xe2\x80\xa2 ", 4) == 0) {
            bullet = true;
            skip = lead + 4;
        }
        if (blank || bullet) {
            if (para != NULL) {
                para_buf[para_len] = '\0';
                para->text = para_buf;
                if (!vec_push(a, blocks, para)) {
                    return false;
                }
                para = NULL;
            }
        }
        if (!bullet && bullets != NULL) {
            bullets->items = (char **)items.items;
            bullets->n_items = items.n;
            if (!vec_push(a, blocks, bullets)) {
                return false;
            }
            bullets = NULL;
            memset(&items, 0, sizeof(items));
        }
        if (bullet) {
            if (bullets == NULL && (bullets = block(a, K_BULLETS)) == NULL) {
                return false;
            }
            size_t s = skip;
            while (s < l && (p[s] == ' ' || p[s] == '\t')) {
                s++;
            }
            if (!vec_push(a, &items, bsl_arena_strndup(a, p + s, l - s))) {
                return false;
            }
        } else if (!blank) {
            if (para == NULL) {
                if ((para = block(a, K_PARAGRAPH)) == NULL ||
                    (para_buf = bsl_arena_alloc(a, total + 1)) == NULL) {
                    return false;
                }
                para_len = 0;
            } else {
                para_buf[para_len++] = '\n';
            }
            memcpy(para_buf + para_len, p + lead, l - lead);
            para_len += l - lead;
        }
        p += len;
        if (*p == '\n') {
            p++;
        }
    }
    if (para != NULL) {
        para_buf[para_len] = '\0';
        para->text = para_buf;
        if (!vec_push(a, blocks, para)) {
            return false;
        }
    }
    if (bullets != NULL) {
        bullets->items = (char **)items.items;
        bullets->n_items = items.n;
        if (!vec_push(a, blocks, bullets)) {
            return false;
        }
    }
    return true;
}

static const char *path_label(const syn_labels *l, int path)
{
    switch (path) {
    case BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_RECONVERSION:
        return syn_label_text(l, SYN_L_PATH_RECONVERSION);
    case BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_TRAINING:
        return syn_label_text(l, SYN_L_PATH_TRAINING);
    case BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_JOB_CHANGE:
        return syn_label_text(l, SYN_L_PATH_JOB_CHANGE);
    case BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_BUSINESS_CREATION:
        return syn_label_text(l, SYN_L_PATH_BUSINESS);
    case BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_OTHER:
        return syn_label_text(l, SYN_L_PATH_OTHER);
    default:
        return NULL;
    }
}

static const char *outcome_label(const syn_labels *l, int outcome)
{
    switch (outcome) {
    case BOUSSOLE__V1__SYNTHESIS_LEAD_OUTCOME__SYNTHESIS_LEAD_OUTCOME_RETAINED:
        return syn_label_text(l, SYN_L_OUTCOME_RETAINED);
    case BOUSSOLE__V1__SYNTHESIS_LEAD_OUTCOME__SYNTHESIS_LEAD_OUTCOME_SET_ASIDE:
        return syn_label_text(l, SYN_L_OUTCOME_SET_ASIDE);
    case BOUSSOLE__V1__SYNTHESIS_LEAD_OUTCOME__SYNTHESIS_LEAD_OUTCOME_OPEN:
        return syn_label_text(l, SYN_L_OUTCOME_OPEN);
    default:
        return NULL;
    }
}

/* An entry block: a title, labelled fields (empty values skipped), a description. */
static Boussole__V1__SynthesisDocumentBlock *entry(bsl_arena *a, const char *title,
                                                   const char *description)
{
    Boussole__V1__SynthesisDocumentBlock *b = block(a, K_ENTRY);
    if (b != NULL) {
        b->title = (char *)title;
        b->text = (char *)(description ? description : "");
    }
    return b;
}

static bool entry_field(bsl_arena *a, vec *fields, const char *label, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return true;
    }
    return vec_push(a, fields, field(a, label, value));
}

static void entry_fields(Boussole__V1__SynthesisDocumentBlock *b, vec *fields)
{
    b->fields = (Boussole__V1__SynthesisDocumentField **)fields->items;
    b->n_fields = fields->n;
}

static char *format_number(bsl_arena *a, double v)
{
    if (fabs(v - round(v)) < 1e-9) {
        return bsl_arena_printf(a, "%.0f", v);
    }
    char *s = bsl_arena_printf(a, "%.1f", v);
    char *dot = s ? strchr(s, '.') : NULL;
    if (dot != NULL) {
        *dot = ','; /* French decimal comma */
    }
    return s;
}

static bool assessments(bsl_arena *a, const syn_labels *l, vec *blocks,
                        const Boussole__V1__SynthesisContent *c)
{
    if (c->n_assessments == 0) {
        return true;
    }
    Boussole__V1__SynthesisDocumentBlock *h = block(a, K_SUBHEADING);
    if (h == NULL) {
        return false;
    }
    h->title = (char *)syn_label_text(l, SYN_L_SUB_ASSESSMENTS);
    if (!vec_push(a, blocks, h)) {
        return false;
    }
    for (size_t i = 0; i < c->n_assessments; i++) {
        const Boussole__V1__SynthesisAssessment *x = c->assessments[i];
        Boussole__V1__SynthesisDocumentBlock *b = entry(a, x->title, x->summary);
        vec fields = { 0 }, items = { 0 };
        if (b == NULL ||
            !entry_field(a, &fields, syn_label_text(l, SYN_L_LABEL_COMPLETED),
                         x->completed_date[0] ? syn_french_date(a, l, x->completed_date) : "") ||
            !entry_field(a, &fields, syn_label_text(l, SYN_L_LABEL_HOLLAND), x->holland_code)) {
            return false;
        }
        for (size_t k = 0; k < x->n_scores; k++) {
            const Boussole__V1__SynthesisScore *s = x->scores[k];
            char *item;
            if (s->normalised >= 0) {
                const char *names[] = { "value" };
                const char *values[] = { format_number(a, s->normalised) };
                char *score = syn_fill(a, syn_label_text(l, SYN_L_LABEL_SCORE), names, values, 1);
                item = score ? bsl_arena_printf(a, "%s : %s", s->label, score) : NULL;
            } else {
                item = bsl_arena_printf(a, "%s : %s", s->label, format_number(a, s->value));
            }
            if (!vec_push(a, &items, item)) {
                return false;
            }
        }
        entry_fields(b, &fields);
        b->items = (char **)items.items;
        b->n_items = items.n;
        if (!vec_push(a, blocks, b)) {
            return false;
        }
    }
    return true;
}

static bool projects(bsl_arena *a, const syn_labels *l, vec *blocks,
                     const Boussole__V1__SynthesisContent *c)
{
    if (c->n_projects > 0) {
        Boussole__V1__SynthesisDocumentBlock *h = block(a, K_SUBHEADING);
        if (h == NULL) {
            return false;
        }
        h->title = (char *)syn_label_text(l, SYN_L_SUB_PROJECTS);
        if (!vec_push(a, blocks, h)) {
            return false;
        }
    }
    for (size_t i = 0; i < c->n_projects; i++) {
        const Boussole__V1__SynthesisProject *x = c->projects[i];
        Boussole__V1__SynthesisDocumentBlock *b = entry(a, x->title, x->description);
        vec fields = { 0 };
        if (b == NULL ||
            !entry_field(a, &fields, syn_label_text(l, SYN_L_LABEL_PATH), path_label(l, x->path))) {
            return false;
        }
        entry_fields(b, &fields);
        if (!vec_push(a, blocks, b)) {
            return false;
        }
    }
    if (c->n_leads > 0) {
        Boussole__V1__SynthesisDocumentBlock *h = block(a, K_SUBHEADING);
        if (h == NULL) {
            return false;
        }
        h->title = (char *)syn_label_text(l, SYN_L_SUB_LEADS);
        if (!vec_push(a, blocks, h)) {
            return false;
        }
    }
    for (size_t i = 0; i < c->n_leads; i++) {
        const Boussole__V1__SynthesisLead *x = c->leads[i];
        Boussole__V1__SynthesisDocumentBlock *b = entry(a, x->title, "");
        vec fields = { 0 };
        if (b == NULL ||
            !entry_field(a, &fields, syn_label_text(l, SYN_L_LABEL_PATH), path_label(l, x->path)) ||
            !entry_field(a, &fields, syn_label_text(l, SYN_L_LABEL_OUTCOME),
                         outcome_label(l, x->outcome)) ||
            !entry_field(a, &fields, syn_label_text(l, SYN_L_LABEL_REASON), x->reason) ||
            !entry_field(a, &fields, syn_label_text(l, SYN_L_LABEL_RESEARCH), x->research)) {
            return false;
        }
        entry_fields(b, &fields);
        if (!vec_push(a, blocks, b)) {
            return false;
        }
    }
    return true;
}

static bool action_plan(bsl_arena *a, const syn_labels *l, vec *blocks,
                        const Boussole__V1__SynthesisContent *c)
{
    for (size_t i = 0; i < c->n_action_plan; i++) {
        const Boussole__V1__SynthesisActionStep *x = c->action_plan[i];
        char *title = bsl_arena_printf(a, "%zu. %s", i + 1, x->title);
        Boussole__V1__SynthesisDocumentBlock *b = entry(a, title, x->description);
        vec fields = { 0 };
        if (b == NULL || title == NULL ||
            !entry_field(a, &fields, syn_label_text(l, SYN_L_LABEL_DATE),
                         x->target_date[0] ? syn_french_date(a, l, x->target_date) : "") ||
            !entry_field(a, &fields, syn_label_text(l, SYN_L_LABEL_TRAINING), x->training) ||
            !entry_field(a, &fields, syn_label_text(l, SYN_L_LABEL_RESOURCES), x->resources)) {
            return false;
        }
        entry_fields(b, &fields);
        if (!vec_push(a, blocks, b)) {
            return false;
        }
    }
    return true;
}

/* One section; sections with nothing in them say so rather than disappear. */
static Boussole__V1__SynthesisDocumentSection *
section(bsl_arena *a, const syn_labels *l, const Boussole__V1__SynthesisContent *c, unsigned s)
{
    static const syn_label headings[] = {
        [BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_CIRCUMSTANCES] =
            SYN_L_SECTION_CIRCUMSTANCES,
        [BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_PATH_EXPLORED] =
            SYN_L_SECTION_PATH_EXPLORED,
        [BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS] = SYN_L_SECTION_SKILLS,
        [BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_STRENGTHS] = SYN_L_SECTION_STRENGTHS,
        [BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_AREAS_TO_IMPROVE] = SYN_L_SECTION_AREAS,
        [BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_PROJECTS] = SYN_L_SECTION_PROJECTS,
        [BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_ACTION_PLAN] =
            SYN_L_SECTION_ACTION_PLAN,
        [BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_FOLLOW_UP] = SYN_L_SECTION_FOLLOW_UP,
        [BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_OBSERVATIONS] =
            SYN_L_SECTION_OBSERVATIONS,
    };
    Boussole__V1__SynthesisDocumentSection *sec = bsl_arena_alloc(a, sizeof(*sec));
    if (sec == NULL) {
        return NULL;
    }
    boussole__v1__synthesis_document_section__init(sec);
    sec->section = (Boussole__V1__SynthesisSection)s;
    sec->heading = (char *)syn_label_text(l, headings[s]);
    vec blocks = { 0 };
    bool ok = true;
    switch (s) {
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_CIRCUMSTANCES:
        ok = text_blocks(a, &blocks, c->circumstances);
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_PATH_EXPLORED:
        ok = text_blocks(a, &blocks, c->path_explored) && assessments(a, l, &blocks, c);
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS:
        ok = text_blocks(a, &blocks, c->skills);
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_STRENGTHS:
        ok = text_blocks(a, &blocks, c->strengths);
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_AREAS_TO_IMPROVE:
        ok = text_blocks(a, &blocks, c->areas_to_improve);
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_PROJECTS:
        ok = projects(a, l, &blocks, c);
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_ACTION_PLAN:
        ok = action_plan(a, l, &blocks, c);
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_FOLLOW_UP:
        ok = text_blocks(a, &blocks, c->follow_up);
        break;
    case BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_OBSERVATIONS:
        ok = text_blocks(a, &blocks, c->beneficiary_observations);
        break;
    default:
        break;
    }
    if (ok && blocks.n == 0) {
        Boussole__V1__SynthesisDocumentBlock *b = block(a, K_PARAGRAPH);
        if (b != NULL) {
            b->text = (char *)syn_label_text(l, SYN_L_EMPTY_SECTION);
        }
        ok = vec_push(a, &blocks, b);
    }
    if (!ok) {
        return NULL;
    }
    sec->blocks = (Boussole__V1__SynthesisDocumentBlock **)blocks.items;
    sec->n_blocks = blocks.n;
    return sec;
}

static const char *status_text(const syn_labels *l, int status)
{
    switch (status) {
    case SYN_SUBMITTED:
        return syn_label_text(l, SYN_L_STATUS_SUBMITTED);
    case SYN_CHANGES:
        return syn_label_text(l, SYN_L_STATUS_CHANGES);
    case SYN_FINAL:
        return syn_label_text(l, SYN_L_STATUS_FINAL);
    default:
        return syn_label_text(l, SYN_L_STATUS_DRAFT);
    }
}

static bool cover(bsl_arena *a, const syn_labels *l, const syn_doc_input *in, vec *fields)
{
    const Boussole__V1__SynthesisCover *c = in->content->cover;
    Boussole__V1__SynthesisCover none = BOUSSOLE__V1__SYNTHESIS_COVER__INIT;
    if (c == NULL) {
        c = &none;
    }
    if (!entry_field(a, fields, syn_label_text(l, SYN_L_COVER_BENEFICIARY), c->beneficiary_name) ||
        !entry_field(a, fields, syn_label_text(l, SYN_L_COVER_ORGANISATION),
                     c->organisation_name) ||
        !entry_field(a, fields, syn_label_text(l, SYN_L_COVER_COUNSELOR), c->counselor_name)) {
        return false;
    }
    if (c->start_date[0] != '\0') {
        const char *names[] = { "start", "end" };
        const char *values[] = { syn_french_date(a, l, c->start_date),
                                 syn_french_date(a, l, c->end_date) };
        const char *t =
            syn_label_text(l, c->end_date[0] ? SYN_L_COVER_PERIOD_VALUE : SYN_L_COVER_PERIOD_FROM);
        if (!entry_field(a, fields, syn_label_text(l, SYN_L_COVER_PERIOD),
                         syn_fill(a, t, names, values, 2))) {
            return false;
        }
    }
    if (c->hours > 0) {
        const char *names[] = { "hours" };
        const char *values[] = { bsl_arena_printf(a, "%u", c->hours) };
        if (!entry_field(
                a, fields, syn_label_text(l, SYN_L_COVER_HOURS),
                syn_fill(a, syn_label_text(l, SYN_L_COVER_HOURS_VALUE), names, values, 1))) {
            return false;
        }
    }
    const char *names[] = { "version", "revision" };
    const char *values[] = { bsl_arena_printf(a, "%u", in->version),
                             bsl_arena_printf(a, "%llu", (unsigned long long)in->revision) };
    if (!entry_field(a, fields, syn_label_text(l, SYN_L_COVER_VERSION),
                     syn_fill(a, syn_label_text(l, SYN_L_COVER_VERSION_VALUE), names, values, 2)) ||
        !entry_field(a, fields, syn_label_text(l, SYN_L_COVER_STATUS),
                     status_text(l, in->status))) {
        return false;
    }
    if (in->status == SYN_FINAL && in->final_ms > 0 &&
        !entry_field(a, fields, syn_label_text(l, SYN_L_COVER_FINAL_DATE),
                     syn_french_date_ms(a, l, in->final_ms))) {
        return false;
    }
    return true;
}

Boussole__V1__SynthesisDocument *syn_document_build(bsl_arena *a, const syn_labels *l,
                                                    const syn_doc_input *in)
{
    Boussole__V1__SynthesisDocument *d = bsl_arena_alloc(a, sizeof(*d));
    if (d == NULL || in->content == NULL) {
        return NULL;
    }
    boussole__v1__synthesis_document__init(d);
    const Boussole__V1__SynthesisCover *c = in->content->cover;
    d->title = (char *)syn_label_text(l, SYN_L_DOC_TITLE);
    d->subtitle =
        (char *)(c && c->beneficiary_name[0] ? c->beneficiary_name
                                             : syn_label_text(l, SYN_L_DOC_SUBTITLE_NONE));
    d->footer = (char *)syn_label_text(l, SYN_L_DOC_FOOTER);
    vec fields = { 0 }, notices = { 0 }, sections = { 0 };
    if (!cover(a, l, in, &fields)) {
        return NULL;
    }
    if (in->status != SYN_FINAL &&
        !vec_push(a, &notices, (void *)syn_label_text(l, SYN_L_NOTICE_DRAFT))) {
        return NULL;
    }
    if (in->version > 1 && in->correction_reason != NULL && in->correction_reason[0] != '\0') {
        const char *names[] = { "previous", "reason" };
        const char *values[] = { bsl_arena_printf(a, "%u", in->version - 1),
                                 in->correction_reason };
        if (!vec_push(a, &notices,
                      syn_fill(a, syn_label_text(l, SYN_L_NOTICE_CORRECTION), names, values, 2))) {
            return NULL;
        }
    }
    if (in->shared && !vec_push(a, &notices, (void *)syn_label_text(l, SYN_L_NOTICE_SHARED))) {
        return NULL;
    }
    if (!vec_push(a, &notices, (void *)syn_label_text(l, SYN_L_NOTICE_CONFIDENTIAL))) {
        return NULL;
    }
    for (unsigned s = BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_CIRCUMSTANCES;
         s <= BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_OBSERVATIONS; s++) {
        if ((in->sections & (1u << s)) && !vec_push(a, &sections, section(a, l, in->content, s))) {
            return NULL;
        }
    }
    d->cover = (Boussole__V1__SynthesisDocumentField **)fields.items;
    d->n_cover = fields.n;
    d->notices = (char **)notices.items;
    d->n_notices = notices.n;
    d->sections = (Boussole__V1__SynthesisDocumentSection **)sections.items;
    d->n_sections = sections.n;
    return d;
}

char *syn_render_filename(bsl_arena *a, uint32_t version, uint64_t revision, const char *ext)
{
    return bsl_arena_printf(a, "synthese-bilan-v%u-r%llu.%s", version, (unsigned long long)revision,
                            ext);
}
