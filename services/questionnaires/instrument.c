/* Validation and compilation of instruments, and the check of one answer against its item. */
#include "instrument.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/err.h"

/* ---- small checks ------------------------------------------------------------------- */

static bool slug_valid(const char *s, bool upper_ok)
{
    size_t n = strlen(s);
    if (n == 0 || n > QN_MAX_ID) {
        return false;
    }
    for (; *s != '\0'; s++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                  (upper_ok && c >= 'A' && c <= 'Z');
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Text of min..max characters without control characters other than newline and tab: the same
 * rule as bsl_check_text, applied to definitions. */
static bool text_ok(const char *s, size_t min, size_t max)
{
    if (s == NULL) {
        return min == 0;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f) {
            return false;
        }
    }
    size_t n = bsl_utf8_chars(s);
    return n >= min && n <= max;
}

typedef struct verr {
    char *where;
    size_t where_cap;
    char *why;
    size_t why_cap;
} verr;

static int fail(verr *e, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(verr *e, const char *where, const char *fmt, ...)
{
    snprintf(e->where, e->where_cap, "%s", where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->why, e->why_cap, fmt, ap);
    va_end(ap);
    return BSL_EINVAL;
}

static const char *const riasec_ids[6] = { "R", "I", "A", "S", "E", "C" };

/* ---- lookups ------------------------------------------------------------------------ */

int qn_instrument_scale(const qn_instrument *ins, const char *id)
{
    for (size_t i = 0; i < ins->def->n_scales; i++) {
        if (strcmp(ins->def->scales[i]->id, id) == 0) {
            return (int)i;
        }
    }
    return -1;
}

typedef struct id_index {
    const char *id;
    size_t index;
} id_index;

static int cmp_item_id(const void *a, const void *b)
{
    const id_index *x = a, *y = b;
    return strcmp(x->id, y->id);
}

int qn_instrument_item(const qn_instrument *ins, const char *id)
{
    size_t lo = 0, hi = ins->n_items;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ins->def->items[ins->by_id[mid]]->id, id);
        if (c == 0) {
            return (int)ins->by_id[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

/* ---- reference counting -------------------------------------------------------------- */

static void instrument_free(qn_instrument *ins)
{
    if (ins == NULL) {
        return;
    }
    for (size_t i = 0; ins->items != NULL && i < ins->n_items; i++) {
        qn_item *it = &ins->items[i];
        free(it->scales);
        if (it->choice_scales != NULL) {
            for (size_t c = 0; c < it->def->n_choices; c++) {
                free(it->choice_scales[c]);
            }
        }
        free(it->choice_scales);
        free(it->n_choice_scales);
    }
    free(ins->items);
    free(ins->by_id);
    if (ins->def != NULL) {
        boussole__v1__instrument__free_unpacked(ins->def, NULL);
    }
    free(ins);
}

void qn_instrument_ref(qn_instrument *ins)
{
    ins->refs++;
}

void qn_instrument_unref(qn_instrument *ins)
{
    if (ins != NULL && --ins->refs == 0) {
        instrument_free(ins);
    }
}

/* ---- validation ------------------------------------------------------------------------ */

static int check_scales(const Boussole__V1__Instrument *d, verr *e)
{
    char where[96];
    if (d->n_scales > QN_MAX_SCALES) {
        return fail(e, "scales", "at most %d scales", QN_MAX_SCALES);
    }
    for (size_t i = 0; i < d->n_scales; i++) {
        const Boussole__V1__Scale *s = d->scales[i];
        snprintf(where, sizeof(where), "scales[%zu] (%.40s)", i, s->id);
        if (!slug_valid(s->id, true)) {
            return fail(e, where, "id must be 1 to %d characters of [A-Za-z0-9_-]", QN_MAX_ID);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(d->scales[j]->id, s->id) == 0) {
                return fail(e, where, "id used twice");
            }
        }
        if (!text_ok(s->name, 1, 200)) {
            return fail(e, where, "name must be 1 to 200 characters");
        }
        if (!text_ok(s->description, 0, 2000)) {
            return fail(e, where, "description must be at most 2000 characters");
        }
        if (s->n_interpretation > QN_MAX_BANDS) {
            return fail(e, where, "at most %d interpretation bands", QN_MAX_BANDS);
        }
        for (size_t b = 0; b < s->n_interpretation; b++) {
            const Boussole__V1__InterpretationBand *band = s->interpretation[b];
            double from = band->from;
            if (!isfinite(from) || from < 0 || from > 100) {
                return fail(e, where, "interpretation[%zu].from must be 0 to 100", b);
            }
            if (b == 0 && from != 0) {
                return fail(e, where, "the first interpretation band must start at 0");
            }
            if (b > 0 && from <= s->interpretation[b - 1]->from) {
                return fail(e, where, "interpretation[%zu].from must be above the previous band's",
                            b);
            }
            if (!text_ok(band->text, 1, 1000)) {
                return fail(e, where, "interpretation[%zu].text must be 1 to 1000 characters", b);
            }
        }
    }
    return BSL_OK;
}

static int check_sections(const Boussole__V1__Instrument *d, verr *e)
{
    char where[96];
    if (d->n_sections < 1 || d->n_sections > QN_MAX_SECTIONS) {
        return fail(e, "sections", "1 to %d sections", QN_MAX_SECTIONS);
    }
    for (size_t i = 0; i < d->n_sections; i++) {
        const Boussole__V1__Section *s = d->sections[i];
        snprintf(where, sizeof(where), "sections[%zu] (%.40s)", i, s->id);
        if (!slug_valid(s->id, false)) {
            return fail(e, where, "id must be 1 to %d characters of [a-z0-9_-]", QN_MAX_ID);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(d->sections[j]->id, s->id) == 0) {
                return fail(e, where, "id used twice");
            }
        }
        if (!text_ok(s->title, 1, 200)) {
            return fail(e, where, "title must be 1 to 200 characters");
        }
        if (!text_ok(s->instructions, 0, 2000)) {
            return fail(e, where, "instructions must be at most 2000 characters");
        }
    }
    return BSL_OK;
}

static int cmp_double_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* The range of a multiple-choice item's contribution: the extreme sums of k choices, for k
 * from min_selected to max_selected. */
static void multi_range(const Boussole__V1__Item *it, double *lo, double *hi)
{
    size_t n = it->n_choices;
    double scores[QN_MAX_CHOICES];
    for (size_t i = 0; i < n; i++) {
        scores[i] = it->choices[i]->score;
    }
    qsort(scores, n, sizeof(double), cmp_double_desc);
    size_t kmin = it->min_selected, kmax = it->max_selected ? it->max_selected : n;
    double best = -INFINITY, worst = INFINITY;
    for (size_t k = kmin; k <= kmax; k++) {
        double top = 0, bottom = 0;
        for (size_t i = 0; i < k; i++) {
            top += scores[i];
            bottom += scores[n - 1 - i];
        }
        best = top > best ? top : best;
        worst = bottom < worst ? bottom : worst;
    }
    *lo = worst;
    *hi = best;
}

static int check_choices(const Boussole__V1__Item *it, const char *where, verr *e)
{
    if (it->n_choices < 2 || it->n_choices > QN_MAX_CHOICES) {
        return fail(e, where, "2 to %d choices", QN_MAX_CHOICES);
    }
    for (size_t c = 0; c < it->n_choices; c++) {
        const Boussole__V1__Choice *ch = it->choices[c];
        if (!slug_valid(ch->value, false)) {
            return fail(e, where, "choices[%zu].value must be 1 to %d characters of [a-z0-9_-]", c,
                        QN_MAX_ID);
        }
        for (size_t j = 0; j < c; j++) {
            if (strcmp(it->choices[j]->value, ch->value) == 0) {
                return fail(e, where, "choices[%zu].value \"%s\" used twice", c, ch->value);
            }
        }
        if (!text_ok(ch->label, 1, 300)) {
            return fail(e, where, "choices[%zu].label must be 1 to 300 characters", c);
        }
        if (ch->score < -100 || ch->score > 100) {
            return fail(e, where, "choices[%zu].score must be -100 to 100", c);
        }
    }
    return BSL_OK;
}

static int check_item(const Boussole__V1__Instrument *d, size_t i, verr *e)
{
    const Boussole__V1__Item *it = d->items[i];
    char where[96];
    snprintf(where, sizeof(where), "items[%zu] (%.40s)", i, it->id);
    if (!slug_valid(it->id, false)) {
        return fail(e, where, "id must be 1 to %d characters of [a-z0-9_-]", QN_MAX_ID);
    }
    bool section = false;
    for (size_t s = 0; s < d->n_sections; s++) {
        section |= strcmp(d->sections[s]->id, it->section_id) == 0;
    }
    if (!section) {
        return fail(e, where, "section_id \"%.40s\" is not a section of the instrument",
                    it->section_id);
    }
    if (!text_ok(it->text, 1, 1000)) {
        return fail(e, where, "text must be 1 to 1000 characters");
    }
    for (size_t s = 0; s < it->n_scales; s++) {
        bool found = false;
        for (size_t k = 0; k < d->n_scales; k++) {
            found |= strcmp(d->scales[k]->id, it->scales[s]) == 0;
        }
        if (!found) {
            return fail(e, where, "scale \"%.40s\" is not a scale of the instrument",
                        it->scales[s]);
        }
        for (size_t k = 0; k < s; k++) {
            if (strcmp(it->scales[k], it->scales[s]) == 0) {
                return fail(e, where, "scale \"%.40s\" listed twice", it->scales[s]);
            }
        }
    }
    bool likert = it->kind == BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT;
    bool choice = it->kind == BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_SINGLE_CHOICE ||
                  it->kind == BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_MULTIPLE_CHOICE ||
                  it->kind == BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_RANKING;
    if (it->reverse_keyed && !likert) {
        return fail(e, where, "only Likert items can be reverse-keyed");
    }
    if (!likert && it->n_likert_labels > 0) {
        return fail(e, where, "likert_labels are for Likert items only");
    }
    if (!choice && it->n_choices > 0) {
        return fail(e, where, "choices are for choice and ranking items only");
    }
    switch (it->kind) {
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT: {
        if (it->likert_min < 0 || it->likert_min > 10) {
            return fail(e, where, "likert_min must be 0 to 10");
        }
        if (it->likert_max <= it->likert_min ||
            it->likert_max > it->likert_min + QN_MAX_LIKERT_SPAN) {
            return fail(e, where, "likert_max must be likert_min + 1 to likert_min + %d",
                        QN_MAX_LIKERT_SPAN);
        }
        size_t points = (size_t)(it->likert_max - it->likert_min + 1);
        if (it->n_likert_labels != points) {
            return fail(e, where, "likert_labels has %zu labels, expected %zu (one per point)",
                        it->n_likert_labels, points);
        }
        for (size_t l = 0; l < points; l++) {
            if (!text_ok(it->likert_labels[l], 1, 100)) {
                return fail(e, where, "likert_labels[%zu] must be 1 to 100 characters", l);
            }
        }
        break;
    }
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_SINGLE_CHOICE:
        return check_choices(it, where, e);
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_MULTIPLE_CHOICE: {
        int rv = check_choices(it, where, e);
        if (rv != BSL_OK) {
            return rv;
        }
        size_t max = it->max_selected ? it->max_selected : it->n_choices;
        if (it->min_selected > it->n_choices || max > it->n_choices || max < it->min_selected) {
            return fail(e, where,
                        "need min_selected <= max_selected <= the number of choices (%zu)",
                        it->n_choices);
        }
        break;
    }
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_RANKING: {
        int rv = check_choices(it, where, e);
        if (rv != BSL_OK) {
            return rv;
        }
        if (it->n_scales > 0) {
            return fail(e, where, "a ranking item scores through its choices' scales only");
        }
        break;
    }
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_NUMERIC:
        if (!isfinite(it->numeric_min) || !isfinite(it->numeric_max) ||
            fabs(it->numeric_min) > QN_MAX_NUMERIC || fabs(it->numeric_max) > QN_MAX_NUMERIC) {
            return fail(e, where, "numeric_min and numeric_max must be finite, at most 1e9");
        }
        if (it->numeric_max <= it->numeric_min) {
            return fail(e, where, "numeric_max must be above numeric_min");
        }
        break;
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_FREE_TEXT:
        if (it->max_length < 1 || it->max_length > QN_MAX_TEXT_ANSWER) {
            return fail(e, where, "max_length must be 1 to %d", QN_MAX_TEXT_ANSWER);
        }
        if (it->n_scales > 0) {
            return fail(e, where, "free-text items do not score");
        }
        break;
    default:
        return fail(e, where,
                    "kind must be one of LIKERT, SINGLE_CHOICE, MULTIPLE_CHOICE, "
                    "RANKING, NUMERIC, FREE_TEXT");
    }
    return BSL_OK;
}

static int check_definition(const Boussole__V1__Instrument *d, verr *e)
{
    if (!slug_valid(d->id, false)) {
        return fail(e, "id", "must be 1 to %d characters of [a-z0-9_-]", QN_MAX_ID);
    }
    if (d->version < 1) {
        return fail(e, "version", "must be 1 or more");
    }
    size_t ll = strlen(d->language);
    bool lang = ll >= 2 && ll <= 35;
    for (size_t i = 0; lang && i < ll; i++) {
        char c = d->language[i];
        lang =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    }
    if (!lang) {
        return fail(e, "language", "must be a BCP 47 tag such as \"fr\"");
    }
    if (d->purpose < BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_INTERESTS ||
        d->purpose > BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_OTHER) {
        return fail(e, "purpose", "must be set");
    }
    if (!text_ok(d->title, 1, 200)) {
        return fail(e, "title", "must be 1 to 200 characters");
    }
    if (!text_ok(d->description, 0, 2000)) {
        return fail(e, "description", "must be at most 2000 characters");
    }
    if (!text_ok(d->instructions, 0, 4000)) {
        return fail(e, "instructions", "must be at most 4000 characters");
    }
    int rv = check_sections(d, e);
    if (rv == BSL_OK) {
        rv = check_scales(d, e);
    }
    if (rv != BSL_OK) {
        return rv;
    }
    if (d->n_items < 1 || d->n_items > QN_MAX_ITEMS) {
        return fail(e, "items", "1 to %d items", QN_MAX_ITEMS);
    }
    for (size_t i = 0; i < d->n_items; i++) {
        if ((rv = check_item(d, i, e)) != BSL_OK) {
            return rv;
        }
    }
    if (d->scoring != NULL && d->scoring->holland_code) {
        for (int t = 0; t < 6; t++) {
            bool found = false;
            for (size_t k = 0; k < d->n_scales; k++) {
                found |= strcmp(d->scales[k]->id, riasec_ids[t]) == 0;
            }
            if (!found) {
                return fail(e, "scoring.holland_code",
                            "needs the scales R, I, A, S, E and C (%s "
                            "is missing)",
                            riasec_ids[t]);
            }
        }
    }
    return BSL_OK;
}

/* ---- compilation --------------------------------------------------------------------- */

static int *scale_indexes(const qn_instrument *ins, char **ids, size_t n)
{
    int *out = calloc(n ? n : 1, sizeof(int));
    for (size_t i = 0; out != NULL && i < n; i++) {
        out[i] = qn_instrument_scale(ins, ids[i]);
    }
    return out;
}

static int compile_items(qn_instrument *ins, verr *e)
{
    const Boussole__V1__Instrument *d = ins->def;
    ins->n_items = d->n_items;
    ins->items = calloc(d->n_items, sizeof(qn_item));
    ins->by_id = calloc(d->n_items, sizeof(size_t));
    if (ins->items == NULL || ins->by_id == NULL) {
        return BSL_ENOMEM;
    }
    for (size_t i = 0; i < d->n_items; i++) {
        qn_item *it = &ins->items[i];
        const Boussole__V1__Item *def = d->items[i];
        it->def = def;
        it->n_scales = def->n_scales;
        it->scales = scale_indexes(ins, def->scales, def->n_scales);
        if (it->scales == NULL) {
            return BSL_ENOMEM;
        }
        if (def->n_choices > 0) {
            it->choice_scales = calloc(def->n_choices, sizeof(int *));
            it->n_choice_scales = calloc(def->n_choices, sizeof(size_t));
            if (it->choice_scales == NULL || it->n_choice_scales == NULL) {
                return BSL_ENOMEM;
            }
            for (size_t c = 0; c < def->n_choices; c++) {
                const Boussole__V1__Choice *ch = def->choices[c];
                it->n_choice_scales[c] = ch->n_scales;
                it->choice_scales[c] = scale_indexes(ins, ch->scales, ch->n_scales);
                if (it->choice_scales[c] == NULL) {
                    return BSL_ENOMEM;
                }
                for (size_t s = 0; s < ch->n_scales; s++) {
                    if (it->choice_scales[c][s] < 0) {
                        char where[96];
                        snprintf(where, sizeof(where), "items[%zu] (%.40s)", i, def->id);
                        return fail(e, where,
                                    "choices[%zu]: scale \"%.40s\" is not a scale of "
                                    "the instrument",
                                    c, ch->scales[s]);
                    }
                }
            }
        }
        switch (def->kind) {
        case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT:
            it->lo = def->likert_min;
            it->hi = def->likert_max;
            break;
        case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_SINGLE_CHOICE:
            it->lo = INFINITY;
            it->hi = -INFINITY;
            for (size_t c = 0; c < def->n_choices; c++) {
                double s = def->choices[c]->score;
                it->lo = s < it->lo ? s : it->lo;
                it->hi = s > it->hi ? s : it->hi;
            }
            break;
        case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_MULTIPLE_CHOICE:
            multi_range(def, &it->lo, &it->hi);
            break;
        case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_NUMERIC:
            it->lo = def->numeric_min;
            it->hi = def->numeric_max;
            break;
        default:
            it->lo = it->hi = 0;
            break;
        }
    }
    id_index *sorted = calloc(d->n_items, sizeof(id_index));
    if (sorted == NULL) {
        return BSL_ENOMEM;
    }
    for (size_t i = 0; i < d->n_items; i++) {
        sorted[i] = (id_index){ d->items[i]->id, i };
    }
    qsort(sorted, d->n_items, sizeof(id_index), cmp_item_id);
    for (size_t i = 0; i < d->n_items; i++) {
        ins->by_id[i] = sorted[i].index;
    }
    free(sorted);
    for (size_t k = 1; k < ins->n_items; k++) {
        const char *a = d->items[ins->by_id[k - 1]]->id, *b = d->items[ins->by_id[k]]->id;
        if (strcmp(a, b) == 0) {
            char where[96];
            snprintf(where, sizeof(where), "items[%zu] (%.40s)", ins->by_id[k], b);
            return fail(e, where, "id used twice");
        }
    }
    return BSL_OK;
}

int qn_instrument_compile(const uint8_t *packed, size_t len, qn_instrument **out, char *where,
                          size_t where_cap, char *why, size_t why_cap)
{
    verr e = { where, where_cap, why, why_cap };
    *out = NULL;
    if (len > QN_MAX_PACKED_BYTES) {
        return fail(&e, "instrument", "definition larger than %d bytes", QN_MAX_PACKED_BYTES);
    }
    qn_instrument *ins = calloc(1, sizeof(*ins));
    if (ins == NULL) {
        return BSL_ENOMEM;
    }
    ins->refs = 1;
    ins->def = boussole__v1__instrument__unpack(NULL, len, packed);
    if (ins->def == NULL) {
        free(ins);
        return fail(&e, "instrument", "does not decode as an Instrument");
    }
    int rv = check_definition(ins->def, &e);
    if (rv == BSL_OK) {
        rv = compile_items(ins, &e);
    }
    if (rv != BSL_OK) {
        if (rv == BSL_ENOMEM) {
            fail(&e, "instrument", "out of memory");
        }
        instrument_free(ins);
        return rv;
    }
    bool holland = ins->def->scoring != NULL && ins->def->scoring->holland_code;
    for (int t = 0; t < 6; t++) {
        ins->riasec[t] = holland ? qn_instrument_scale(ins, riasec_ids[t]) : -1;
    }
    *out = ins;
    return BSL_OK;
}

/* ---- answers --------------------------------------------------------------------------- */

static int choice_index(const Boussole__V1__Item *it, const char *value)
{
    for (size_t c = 0; c < it->n_choices; c++) {
        if (strcmp(it->choices[c]->value, value) == 0) {
            return (int)c;
        }
    }
    return -1;
}

static bool check_list(const Boussole__V1__Item *it, const Boussole__V1__ChoiceList *l, size_t min,
                       size_t max, char *why, size_t cap)
{
    size_t n = l ? l->n_values : 0;
    if (n < min || n > max) {
        if (min == max) {
            snprintf(why, cap, "needs exactly %zu choices, got %zu", min, n);
        } else {
            snprintf(why, cap, "needs %zu to %zu choices, got %zu", min, max, n);
        }
        return false;
    }
    uint64_t seen[(QN_MAX_CHOICES + 63) / 64] = { 0 };
    for (size_t i = 0; i < n; i++) {
        int c = choice_index(it, l->values[i]);
        if (c < 0) {
            snprintf(why, cap, "\"%.40s\" is not one of the item's choices", l->values[i]);
            return false;
        }
        if (seen[c / 64] & (1ull << (c % 64))) {
            snprintf(why, cap, "\"%.40s\" given twice", l->values[i]);
            return false;
        }
        seen[c / 64] |= 1ull << (c % 64);
    }
    return true;
}

bool qn_answer_check(const qn_item *item, const Boussole__V1__Answer *a, char *why, size_t cap)
{
    const Boussole__V1__Item *it = item->def;
    static const Boussole__V1__Answer__ValueCase want[] = {
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT] = BOUSSOLE__V1__ANSWER__VALUE_LIKERT,
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_SINGLE_CHOICE] = BOUSSOLE__V1__ANSWER__VALUE_CHOICE,
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_MULTIPLE_CHOICE] = BOUSSOLE__V1__ANSWER__VALUE_CHOICES,
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_RANKING] = BOUSSOLE__V1__ANSWER__VALUE_RANKING,
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_NUMERIC] = BOUSSOLE__V1__ANSWER__VALUE_NUMBER,
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_FREE_TEXT] = BOUSSOLE__V1__ANSWER__VALUE_TEXT,
    };
    static const char *const kind_names[] = {
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT] = "likert",
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_SINGLE_CHOICE] = "choice",
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_MULTIPLE_CHOICE] = "choices",
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_RANKING] = "ranking",
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_NUMERIC] = "number",
        [BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_FREE_TEXT] = "text",
    };
    if (a->value_case != want[it->kind]) {
        snprintf(why, cap, "this item is answered with `%s`", kind_names[it->kind]);
        return false;
    }
    switch (it->kind) {
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT:
        if (a->likert < it->likert_min || a->likert > it->likert_max) {
            snprintf(why, cap, "likert must be %d to %d, got %d", it->likert_min, it->likert_max,
                     a->likert);
            return false;
        }
        return true;
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_SINGLE_CHOICE:
        if (choice_index(it, a->choice) < 0) {
            snprintf(why, cap, "\"%.40s\" is not one of the item's choices", a->choice);
            return false;
        }
        return true;
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_MULTIPLE_CHOICE:
        return check_list(it, a->choices, it->min_selected,
                          it->max_selected ? it->max_selected : it->n_choices, why, cap);
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_RANKING:
        return check_list(it, a->ranking, it->n_choices, it->n_choices, why, cap);
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_NUMERIC:
        if (!isfinite(a->number) || a->number < it->numeric_min || a->number > it->numeric_max) {
            snprintf(why, cap, "number must be %g to %g", it->numeric_min, it->numeric_max);
            return false;
        }
        if (it->integer_only && a->number != floor(a->number)) {
            snprintf(why, cap, "number must be a whole number");
            return false;
        }
        return true;
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_FREE_TEXT:
        if (a->text[0] == '\0') {
            snprintf(why, cap, "text is empty (withdraw the answer with clear_item_ids)");
            return false;
        }
        if (!text_ok(a->text, 1, it->max_length)) {
            snprintf(why, cap, "text must be at most %u characters, without control characters",
                     it->max_length);
            return false;
        }
        return true;
    default:
        snprintf(why, cap, "the item's kind is unknown");
        return false;
    }
}

int qn_purpose_from_name(const char *name)
{
    static const struct {
        const char *name;
        int purpose;
    } names[] = {
        { "interests", BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_INTERESTS },
        { "values", BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_VALUES },
        { "skills", BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_SKILLS },
        { "relatives_feedback",
          BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_RELATIVES_FEEDBACK },
        { "satisfaction", BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_SATISFACTION },
        { "other", BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_OTHER },
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(names[i].name, name) == 0) {
            return names[i].purpose;
        }
    }
    return 0;
}
