/*
 * Instrument data files (the .json files of data/instruments, or an organisation's own set given
 * with
 * --data-dir) through the loader the service runs at start-up (qn_instrument_load_json): a
 * malformed file must stop the service with a message naming the file and the part, never
 * crash it or load half of it. The input is written to a memory file whose /proc path is the
 * loader's argument.
 *
 * What loads must hold together and score, as in fuzz_qn_instrument.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "qn_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (fd < 0) {
        fd = memfd_create("instrument.json", 0);
        if (fd < 0) {
            abort();
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, len, 0) != (ssize_t)len) {
        abort();
    }
    qn_instrument *ins = NULL;
    char err[512];
    err[0] = '\0';
    if (qn_instrument_load_json(path, &ins, err, sizeof(err)) != 0) {
        /* The message names the file, then the place. */
        if (ins != NULL || strncmp(err, path, strlen(path)) != 0) {
            __builtin_trap();
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
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < ins->n_items; i++) {
            Boussole__V1__Answer *an = qnf_answer(a, ins->def->items[i], pass == 1);
            char reason[200];
            answers[i] = an != NULL && qn_answer_check(&ins->items[i], an, reason, sizeof(reason))
                             ? an
                             : NULL;
        }
        qnf_score(ins, answers);
    }
    free(answers);
    bsl_arena_free(a);
    qn_instrument_unref(ins);
    return 0;
}
