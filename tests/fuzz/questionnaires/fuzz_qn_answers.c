/*
 * Answers as a beneficiary sends them (SaveAnswers) to the built-in instruments, then scored
 * as SubmitAnswers scores them.
 *
 * Input: byte 0 picks a built-in instrument (the .json files of data/instruments, in name order);
 * then records of one length byte and that many bytes of a packed boussole.v1.Answer. Each record
 * goes the way the service takes it: the runtime's wire check (bsl_pb_check), unpacking, the
 * item looked up by id, qn_answer_check; an accepted answer replaces the item's previous one.
 * Then the accepted answers are scored: finite results, normalised scores from 0 to 100, a
 * valid profile and Holland code.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/pbcheck.h"
#include "qn_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define MAX_BUILTINS 32

static qn_instrument *builtins[MAX_BUILTINS];
static size_t n_builtins;

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void load_builtins(void)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/instruments", QN_DEFAULT_DATA_DIR);
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "fuzz_qn_answers: cannot read %s\n", dir);
        abort();
    }
    for (int i = 0; i < n; i++) {
        size_t l = strlen(names[i]->d_name);
        if (l > 5 && strcmp(names[i]->d_name + l - 5, ".json") == 0 && n_builtins < MAX_BUILTINS) {
            char path[1400], err[512];
            snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
            if (qn_instrument_load_json(path, &builtins[n_builtins], err, sizeof(err)) != 0) {
                fprintf(stderr, "fuzz_qn_answers: %s\n", err);
                abort();
            }
            qnf_check_instrument(builtins[n_builtins++]);
        }
        free(names[i]);
    }
    free(names);
    if (n_builtins == 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (n_builtins == 0) {
        load_builtins();
    }
    if (len < 1) {
        return 0;
    }
    const qn_instrument *ins = builtins[data[0] % n_builtins];
    Boussole__V1__Answer **kept = calloc(ins->n_items, sizeof(*kept));
    if (kept == NULL) {
        abort();
    }
    size_t off = 1;
    while (off < len) {
        size_t n = data[off++];
        if (n > len - off) {
            n = len - off;
        }
        const uint8_t *rec = data + off;
        off += n;
        char path[128], why[96];
        if (!bsl_pb_check(&boussole__v1__answer__descriptor, rec, n, path, sizeof(path), why,
                          sizeof(why))) {
            continue; /* INVALID_ARGUMENT from the runtime: the handler never sees it */
        }
        Boussole__V1__Answer *a = boussole__v1__answer__unpack(NULL, n, rec);
        if (a == NULL) {
            continue;
        }
        int idx = qn_instrument_item(ins, a->item_id);
        char reason[200];
        if (idx < 0 || !qn_answer_check(&ins->items[idx], a, reason, sizeof(reason))) {
            boussole__v1__answer__free_unpacked(a, NULL);
            continue;
        }
        if (kept[idx] != NULL) {
            boussole__v1__answer__free_unpacked(kept[idx], NULL);
        }
        kept[idx] = a;
    }
    qnf_score(ins, (const Boussole__V1__Answer *const *)kept);
    for (size_t i = 0; i < ins->n_items; i++) {
        if (kept[i] != NULL) {
            boussole__v1__answer__free_unpacked(kept[i], NULL);
        }
    }
    free(kept);
    return 0;
}
