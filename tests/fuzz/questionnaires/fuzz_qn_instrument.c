/*
 * An instrument definition as a counselor sends it (CreateInstrument, CreateInstrumentVersion:
 * a packed boussole.v1.Instrument) through the validator every definition goes through
 * (qn_instrument_compile). What compiles must hold together (every item found by its id, its
 * scales in range), accept answers at both ends of every item's range, and score them into
 * finite results with normalised scores from 0 to 100.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "qn_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    qn_instrument *ins = NULL;
    char where[128], why[256];
    where[0] = why[0] = '\0';
    if (qn_instrument_compile(data, len, &ins, where, sizeof(where), why, sizeof(why)) != 0) {
        if (ins != NULL || where[0] == '\0' || why[0] == '\0') {
            __builtin_trap(); /* a refusal names the part and the reason */
        }
        return 0;
    }
    qnf_check_instrument(ins);
    bsl_arena *a = bsl_arena_create();
    const Boussole__V1__Answer **answers =
        calloc(ins->n_items ? ins->n_items : 1, sizeof(*answers));
    if (a == NULL || answers == NULL) {
        abort();
    }
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; i < ins->n_items; i++) {
            /* pass 0: every item low; 1: every item high; 2: alternate, some unanswered. */
            bool high = pass == 1 || (pass == 2 && (i & 1));
            answers[i] = NULL;
            if (pass == 2 && i % 3 == 2) {
                continue;
            }
            Boussole__V1__Answer *an = qnf_answer(a, ins->def->items[i], high);
            char reason[200];
            if (an == NULL) {
                continue;
            }
            if (qn_answer_check(&ins->items[i], an, reason, sizeof(reason))) {
                answers[i] = an;
                continue;
            }
            /* The ends of a Likert scale, any one choice, every choice ranked: always valid. */
            Boussole__V1__ItemKind k = ins->def->items[i]->kind;
            if (k == BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT ||
                k == BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_SINGLE_CHOICE ||
                k == BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_RANKING) {
                fprintf(stderr, "item %zu refuses an answer its definition allows: %s\n", i,
                        reason);
                __builtin_trap();
            }
        }
        qnf_score(ins, answers);
    }
    free(answers);
    bsl_arena_free(a);
    qn_instrument_unref(ins);
    return 0;
}
