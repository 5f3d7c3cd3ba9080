/*
 * Scoring: from the answers to an instrument to per-scale scores, the profile, the Holland
 * code and the RIASEC indices. Pure functions, no I/O: the unit tests call them directly.
 * The formulas are in the service's README.
 */
#ifndef QN_SCORING_H
#define QN_SCORING_H

#include <stdbool.h>
#include <stddef.h>

#include "boussole/arena.h"
#include "instrument.h"

/* The hexagon R-I-A-S-E-C: "RIASEC"[i] is the type at position i. */
extern const char qn_hexagon[7];

typedef struct qn_scale_score {
    double raw, min, max, normalised;
    unsigned answered; /* answered items that scored on the scale */
    unsigned top;      /* Likert answers whose scored point is the scale's top */
} qn_scale_score;

typedef struct qn_results {
    size_t n_scales;
    qn_scale_score scales[QN_MAX_SCALES];
    int profile[QN_MAX_SCALES]; /* scale indexes, highest normalised first */
    bool holland;               /* the instrument computes a Holland code */
    char holland_code[4];
    bool holland_tie_broken;
    unsigned consistency;   /* 1 to 3 */
    double differentiation; /* 0 to 100 */
} qn_results;

/*
 * Scores answers: answers[i] is the answer to item i of the instrument, or NULL when
 * unanswered. The answers must have passed qn_answer_check.
 */
void qn_score(const qn_instrument *ins, const Boussole__V1__Answer *const *answers,
              qn_results *out);

/*
 * The Holland code of six RIASEC sums (R, I, A, S, E, C order): the three highest, ordered by
 * sum, then by number of top answers, then by hexagon order. *tie_broken says whether a tie
 * decided the letters or their order. code gets 3 letters and a NUL.
 */
void qn_holland_code(const double raw[6], const unsigned top[6], char code[4], bool *tie_broken);

/* Holland's consistency of a code's first two letters: 3 adjacent on the hexagon, 2 alternate,
 * 1 opposite; 0 for letters that are not RIASEC. */
unsigned qn_consistency(char first, char second);

/* Highest minus lowest of six scores. */
double qn_differentiation(const double scores[6]);

/* Iachan's M index of agreement between two 3-letter codes (0 to 28). */
unsigned qn_iachan(const char person[3], const char occupation[3]);

/* Hexagon position of a type letter, or -1. */
int qn_hexagon_index(char type);

/* The interpretation band of a normalised score: the text of the last band whose `from` is at
 * or below it, "" when the scale has none. */
const char *qn_interpretation(const Boussole__V1__Scale *scale, double normalised);

/*
 * Builds a Results message (in the arena) from scored results: scale names and interpretations
 * from the instrument. Returns NULL when out of memory.
 */
Boussole__V1__Results *qn_results_message(bsl_arena *a, const qn_instrument *ins,
                                          const qn_results *r);

#endif
