/* Scoring of answers and the RIASEC indices. */
#include "scoring.h"

#include <math.h>
#include <string.h>

const char qn_hexagon[7] = "RIASEC";

int qn_hexagon_index(char type)
{
    const char *p = type ? strchr(qn_hexagon, type) : NULL;
    return p ? (int)(p - qn_hexagon) : -1;
}

static int choice_index(const Boussole__V1__Item *it, const char *value)
{
    for (size_t c = 0; c < it->n_choices; c++) {
        if (strcmp(it->choices[c]->value, value) == 0) {
            return (int)c;
        }
    }
    return -1;
}

static void add(qn_scale_score *s, double v, double lo, double hi)
{
    s->raw += v;
    s->min += lo;
    s->max += hi;
    s->answered++;
}

/* Choice-level scales: a chosen choice adds its score, an unchosen one 0, so each ranges over
 * [min(0, score), max(0, score)]. */
static void add_choice_scales(const qn_item *it, size_t c, bool chosen, qn_results *r)
{
    double s = it->def->choices[c]->score;
    double lo = s < 0 ? s : 0, hi = s > 0 ? s : 0;
    for (size_t k = 0; k < it->n_choice_scales[c]; k++) {
        add(&r->scales[it->choice_scales[c][k]], chosen ? s : 0, lo, hi);
    }
}

static void score_item(const qn_item *it, const Boussole__V1__Answer *a, qn_results *r)
{
    const Boussole__V1__Item *d = it->def;
    double v = 0;
    bool item_level = true;
    switch (d->kind) {
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT:
        v = d->reverse_keyed ? d->likert_min + d->likert_max - a->likert : a->likert;
        if (v == d->likert_max) {
            for (size_t k = 0; k < it->n_scales; k++) {
                r->scales[it->scales[k]].top++;
            }
        }
        break;
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_SINGLE_CHOICE: {
        int chosen = choice_index(d, a->choice);
        for (size_t c = 0; c < d->n_choices; c++) {
            add_choice_scales(it, c, (int)c == chosen, r);
        }
        v = chosen >= 0 ? d->choices[chosen]->score : 0;
        break;
    }
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_MULTIPLE_CHOICE: {
        bool chosen[QN_MAX_CHOICES] = { false };
        for (size_t i = 0; a->choices != NULL && i < a->choices->n_values; i++) {
            int c = choice_index(d, a->choices->values[i]);
            if (c >= 0) {
                chosen[c] = true;
                v += d->choices[c]->score;
            }
        }
        for (size_t c = 0; c < d->n_choices; c++) {
            add_choice_scales(it, c, chosen[c], r);
        }
        break;
    }
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_RANKING: {
        /* n points for the first, n-1 for the second, ..., 1 for the last. */
        size_t n = d->n_choices;
        for (size_t i = 0; a->ranking != NULL && i < a->ranking->n_values; i++) {
            int c = choice_index(d, a->ranking->values[i]);
            for (size_t k = 0; c >= 0 && k < it->n_choice_scales[c]; k++) {
                add(&r->scales[it->choice_scales[c][k]], (double)(n - i), 1, (double)n);
            }
        }
        item_level = false;
        break;
    }
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_NUMERIC:
        v = a->number;
        break;
    default:
        item_level = false;
        break;
    }
    for (size_t k = 0; item_level && k < it->n_scales; k++) {
        add(&r->scales[it->scales[k]], v, it->lo, it->hi);
    }
}

unsigned qn_consistency(char first, char second)
{
    int a = qn_hexagon_index(first), b = qn_hexagon_index(second);
    if (a < 0 || b < 0 || a == b) {
        return 0;
    }
    int d = a > b ? a - b : b - a;
    d = d > 3 ? 6 - d : d;
    return (unsigned)(4 - d); /* distance 1 -> 3, 2 -> 2, 3 -> 1 */
}

double qn_differentiation(const double s[6])
{
    double hi = s[0], lo = s[0];
    for (int i = 1; i < 6; i++) {
        hi = s[i] > hi ? s[i] : hi;
        lo = s[i] < lo ? s[i] : lo;
    }
    return hi - lo;
}

unsigned qn_iachan(const char p[3], const char o[3])
{
    static const unsigned w[3][3] = { { 22, 10, 4 }, { 10, 5, 2 }, { 4, 2, 1 } };
    unsigned m = 0;
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            if (p[i] == o[j]) {
                m += w[i][j];
            }
        }
    }
    return m;
}

/* Type a before type b in the Holland order. */
static bool holland_before(const double raw[6], const unsigned top[6], int a, int b)
{
    if (raw[a] != raw[b]) {
        return raw[a] > raw[b];
    }
    if (top[a] != top[b]) {
        return top[a] > top[b];
    }
    return a < b; /* hexagon order R, I, A, S, E, C */
}

void qn_holland_code(const double raw[6], const unsigned top[6], char code[4], bool *tie_broken)
{
    int order[6] = { 0, 1, 2, 3, 4, 5 };
    for (int i = 1; i < 6; i++) { /* insertion sort: six elements */
        int t = order[i], j = i;
        while (j > 0 && holland_before(raw, top, t, order[j - 1])) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = t;
    }
    *tie_broken = false;
    for (int k = 0; k < 3; k++) {
        /* A tie between positions k and k+1 (k+1 = 3 decides the third letter) was broken. */
        if (raw[order[k]] == raw[order[k + 1]]) {
            *tie_broken = true;
        }
        code[k] = qn_hexagon[order[k]];
    }
    code[3] = '\0';
}

void qn_score(const qn_instrument *ins, const Boussole__V1__Answer *const *answers, qn_results *r)
{
    memset(r, 0, sizeof(*r));
    r->n_scales = ins->def->n_scales;
    for (size_t i = 0; i < ins->n_items; i++) {
        if (answers[i] != NULL) {
            score_item(&ins->items[i], answers[i], r);
        }
    }
    for (size_t s = 0; s < r->n_scales; s++) {
        qn_scale_score *sc = &r->scales[s];
        double span = sc->max - sc->min;
        sc->normalised = span > 0 ? 100.0 * (sc->raw - sc->min) / span : 0;
        r->profile[s] = (int)s;
    }
    /* Profile: highest normalised first; ties keep the instrument's order (stable). */
    for (size_t i = 1; i < r->n_scales; i++) {
        int t = r->profile[i];
        size_t j = i;
        while (j > 0 && r->scales[t].normalised > r->scales[r->profile[j - 1]].normalised) {
            r->profile[j] = r->profile[j - 1];
            j--;
        }
        r->profile[j] = t;
    }
    r->holland = ins->riasec[0] >= 0;
    if (r->holland) {
        double raw[6], norm[6];
        unsigned top[6];
        for (int t = 0; t < 6; t++) {
            raw[t] = r->scales[ins->riasec[t]].raw;
            norm[t] = r->scales[ins->riasec[t]].normalised;
            top[t] = r->scales[ins->riasec[t]].top;
        }
        qn_holland_code(raw, top, r->holland_code, &r->holland_tie_broken);
        r->consistency = qn_consistency(r->holland_code[0], r->holland_code[1]);
        r->differentiation = qn_differentiation(norm);
    }
}

const char *qn_interpretation(const Boussole__V1__Scale *scale, double normalised)
{
    const char *text = "";
    for (size_t b = 0; b < scale->n_interpretation; b++) {
        if (scale->interpretation[b]->from <= normalised) {
            text = scale->interpretation[b]->text;
        }
    }
    return text;
}

/* Rounds to 1e-6 so that stored and recomputed figures compare exactly in tests and exports. */
static double tidy(double v)
{
    return round(v * 1e6) / 1e6;
}

Boussole__V1__Results *qn_results_message(bsl_arena *a, const qn_instrument *ins,
                                          const qn_results *r)
{
    Boussole__V1__Results *m = bsl_arena_alloc(a, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    boussole__v1__results__init(m);
    m->instrument_id = ins->def->id;
    m->instrument_version = ins->def->version;
    size_t n = r->n_scales;
    m->scales = bsl_arena_calloc(a, n ? n : 1, sizeof(*m->scales));
    m->profile = bsl_arena_calloc(a, n ? n : 1, sizeof(*m->profile));
    if (m->scales == NULL || m->profile == NULL) {
        return NULL;
    }
    for (size_t s = 0; s < n; s++) {
        const Boussole__V1__Scale *def = ins->def->scales[s];
        const qn_scale_score *sc = &r->scales[s];
        Boussole__V1__ScaleScore *o = bsl_arena_alloc(a, sizeof(*o));
        if (o == NULL) {
            return NULL;
        }
        boussole__v1__scale_score__init(o);
        o->scale_id = def->id;
        o->name = def->name;
        o->raw = tidy(sc->raw);
        o->min = tidy(sc->min);
        o->max = tidy(sc->max);
        o->normalised = tidy(sc->normalised);
        o->answered_items = sc->answered;
        o->top_answers = sc->top;
        o->interpretation = (char *)qn_interpretation(def, sc->normalised);
        m->scales[m->n_scales++] = o;
        m->profile[m->n_profile++] = ins->def->scales[r->profile[s]]->id;
    }
    if (r->holland) {
        m->holland_code = bsl_arena_strdup(a, r->holland_code);
        m->holland_tie_broken = r->holland_tie_broken;
        m->riasec = bsl_arena_alloc(a, sizeof(*m->riasec));
        if (m->holland_code == NULL || m->riasec == NULL) {
            return NULL;
        }
        boussole__v1__riasec_indices__init(m->riasec);
        m->riasec->consistency = r->consistency;
        m->riasec->differentiation = tidy(r->differentiation);
    }
    return m;
}
