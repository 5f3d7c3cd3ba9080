/*
 * What the questionnaires fuzz targets share: the invariants of a compiled instrument and of
 * scored results, and answers built from an item's own definition. Header-only: each target
 * is one program.
 */
#ifndef QN_FUZZ_H
#define QN_FUZZ_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "boussole/arena.h"
#include "instrument.h"
#include "scoring.h"

#define QNF_FN static __attribute__((unused))

/* Every item is found again by its id, and its contribution range is ordered. */
QNF_FN void qnf_check_instrument(const qn_instrument *ins)
{
    if (ins->n_items != ins->def->n_items || ins->n_items > QN_MAX_ITEMS ||
        ins->def->n_scales > QN_MAX_SCALES) {
        __builtin_trap();
    }
    for (size_t i = 0; i < ins->n_items; i++) {
        if (qn_instrument_item(ins, ins->def->items[i]->id) != (int)i ||
            ins->items[i].def != ins->def->items[i] || !(ins->items[i].lo <= ins->items[i].hi)) {
            __builtin_trap();
        }
        for (size_t k = 0; k < ins->items[i].n_scales; k++) {
            if (ins->items[i].scales[k] < 0 ||
                (size_t)ins->items[i].scales[k] >= ins->def->n_scales) {
                __builtin_trap();
            }
        }
    }
}

/* Scores are finite; normalised scores lie in [0, 100]; the profile is a permutation of the
 * scales, highest first; a Holland code is three distinct RIASEC letters. */
QNF_FN void qnf_check_results(const qn_instrument *ins, const qn_results *r)
{
    if (r->n_scales != ins->def->n_scales) {
        __builtin_trap();
    }
    unsigned seen[QN_MAX_SCALES] = { 0 };
    for (size_t s = 0; s < r->n_scales; s++) {
        const qn_scale_score *sc = &r->scales[s];
        if (!isfinite(sc->raw) || !isfinite(sc->min) || !isfinite(sc->max) ||
            !isfinite(sc->normalised) || sc->normalised < -1e-6 || sc->normalised > 100 + 1e-6) {
            fprintf(stderr, "scale %zu: raw %g min %g max %g normalised %g\n", s, sc->raw, sc->min,
                    sc->max, sc->normalised);
            __builtin_trap();
        }
        int p = r->profile[s];
        if (p < 0 || (size_t)p >= r->n_scales || seen[p]++) {
            __builtin_trap();
        }
        if (s > 0 && r->scales[p].normalised > r->scales[r->profile[s - 1]].normalised) {
            __builtin_trap();
        }
    }
    if (r->holland) {
        const char *c = r->holland_code;
        if (strlen(c) != 3 || qn_hexagon_index(c[0]) < 0 || qn_hexagon_index(c[1]) < 0 ||
            qn_hexagon_index(c[2]) < 0 || c[0] == c[1] || c[1] == c[2] || c[0] == c[2] ||
            r->consistency < 1 || r->consistency > 3 || !(r->differentiation >= -1e-6) ||
            !(r->differentiation <= 100 + 1e-6)) {
            __builtin_trap();
        }
    }
}

/* An answer to item `it` at one end of its range (high: the top end), allocated in `a`.
 * NULL for a kind the harness does not know. */
QNF_FN Boussole__V1__Answer *qnf_answer(bsl_arena *a, const Boussole__V1__Item *it, bool high)
{
    Boussole__V1__Answer *an = bsl_arena_alloc(a, sizeof(*an));
    if (an == NULL) {
        return NULL;
    }
    boussole__v1__answer__init(an);
    an->item_id = it->id;
    size_t n = it->n_choices;
    switch (it->kind) {
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT:
        an->value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
        an->likert = high ? it->likert_max : it->likert_min;
        return an;
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_SINGLE_CHOICE:
        if (n == 0) {
            return NULL;
        }
        an->value_case = BOUSSOLE__V1__ANSWER__VALUE_CHOICE;
        an->choice = it->choices[high ? n - 1 : 0]->value;
        return an;
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_MULTIPLE_CHOICE:
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_RANKING: {
        bool ranking = it->kind == BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_RANKING;
        size_t k =
            ranking ? n : (high ? (it->max_selected ? it->max_selected : n) : it->min_selected);
        k = k > n ? n : k;
        Boussole__V1__ChoiceList *l = bsl_arena_alloc(a, sizeof(*l));
        char **values = bsl_arena_calloc(a, k ? k : 1, sizeof(char *));
        if (l == NULL || values == NULL) {
            return NULL;
        }
        boussole__v1__choice_list__init(l);
        for (size_t i = 0; i < k; i++) {
            values[i] = it->choices[high ? n - 1 - i : i]->value;
        }
        l->values = values;
        l->n_values = k;
        an->value_case =
            ranking ? BOUSSOLE__V1__ANSWER__VALUE_RANKING : BOUSSOLE__V1__ANSWER__VALUE_CHOICES;
        if (ranking) {
            an->ranking = l;
        } else {
            an->choices = l;
        }
        return an;
    }
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_NUMERIC:
        an->value_case = BOUSSOLE__V1__ANSWER__VALUE_NUMBER;
        an->number = high ? it->numeric_max : it->numeric_min;
        if (it->integer_only) {
            an->number = high ? floor(an->number) : ceil(an->number);
        }
        return an;
    case BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_FREE_TEXT:
        an->value_case = BOUSSOLE__V1__ANSWER__VALUE_TEXT;
        an->text = "Réponse libre.";
        return an;
    default:
        return NULL;
    }
}

/* Scores `answers` (one per item or NULL) and checks the results and their message. */
QNF_FN void qnf_score(const qn_instrument *ins, const Boussole__V1__Answer *const *answers)
{
    qn_results r;
    qn_score(ins, answers, &r);
    qnf_check_results(ins, &r);
    bsl_arena *a = bsl_arena_create();
    if (a == NULL) {
        return;
    }
    Boussole__V1__Results *m = qn_results_message(a, ins, &r);
    if (m == NULL) {
        __builtin_trap();
    }
    size_t len = protobuf_c_message_get_packed_size(&m->base);
    uint8_t *buf = bsl_arena_alloc(a, len ? len : 1);
    if (buf != NULL) {
        protobuf_c_message_pack(&m->base, buf);
    }
    bsl_arena_free(a);
}

#endif /* QN_FUZZ_H */
