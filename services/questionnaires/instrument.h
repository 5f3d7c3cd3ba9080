/*
 * Instruments as the service uses them: a validated Instrument message plus the indexes that
 * answering and scoring need (item lookup by id, scale indexes, each item's score range).
 *
 * One validator serves the built-in data files and the instruments counselors write through
 * the API, so a definition that loads from a file is exactly one the API would accept.
 * Compiled instruments are immutable; they are shared by reference count (the catalogue and
 * the calls that use one).
 */
#ifndef QN_INSTRUMENT_H
#define QN_INSTRUMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boussole/v1/questionnaires.pb-c.h"

/* Limits of a definition (also documented in questionnaires.proto). */
#define QN_MAX_SECTIONS     30
#define QN_MAX_ITEMS        300
#define QN_MAX_SCALES       30
#define QN_MAX_CHOICES      50
#define QN_MAX_BANDS        10
#define QN_MAX_LIKERT_SPAN  10
#define QN_MAX_TEXT_ANSWER  5000
#define QN_MAX_NUMERIC      1e9
#define QN_MAX_ID           40
#define QN_MAX_PACKED_BYTES (512 * 1024)

/* One scale an item (or one of its choices) scores on. */
typedef struct qn_item {
    const Boussole__V1__Item *def; /* borrowed from the instrument's message */
    int *scales;                   /* indexes into the instrument's scales */
    size_t n_scales;
    int **choice_scales; /* per choice: indexes of Choice.scales */
    size_t *n_choice_scales;
    double lo, hi; /* the range of the item's contribution to each of `scales` */
} qn_item;

typedef struct qn_instrument {
    Boussole__V1__Instrument *def; /* owned: freed with free_unpacked */
    qn_item *items;                /* in definition order */
    size_t n_items;
    size_t *by_id; /* item indexes sorted by id, for qn_instrument_item */
    /* For Holland instruments, the index of scale R, I, A, S, E, C (else -1). */
    int riasec[6];
    unsigned refs;
} qn_instrument;

/*
 * Validates and compiles a packed Instrument. On success *out holds a new instrument with one
 * reference. On failure returns BSL_EINVAL with the path of the offending part in `where`
 * ("items[2] (r3)", "scales[0] (R)", "title") and the reason in `why`. The bytes are borrowed.
 */
int qn_instrument_compile(const uint8_t *packed, size_t len, qn_instrument **out, char *where,
                          size_t where_cap, char *why, size_t why_cap);

void qn_instrument_ref(qn_instrument *ins);
/* Drops a reference; frees on the last. NULL is accepted. */
void qn_instrument_unref(qn_instrument *ins);

/* The index of an item by id, or -1. */
int qn_instrument_item(const qn_instrument *ins, const char *id);

/* The index of a scale by id, or -1. */
int qn_instrument_scale(const qn_instrument *ins, const char *id);

/*
 * Checks one answer against its item: the value's kind, range, choices, length. Returns true,
 * or false with a reason in `why` (English, names no personal data).
 */
bool qn_answer_check(const qn_item *item, const Boussole__V1__Answer *a, char *why, size_t cap);

/*
 * Reads an instrument data file (JSON, see data/README.md) and compiles it. Returns BSL_OK, or
 * an error with a message naming the file and the part that is wrong in errbuf.
 */
int qn_instrument_load_json(const char *path, qn_instrument **out, char *errbuf, size_t errlen);

/* The purpose's name in data files ("interests") and back; 0 when unknown. */
int qn_purpose_from_name(const char *name);

#endif
