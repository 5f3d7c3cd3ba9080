/*
 * The occupation set and the matching of a RIASEC profile against it.
 *
 * The set is a tab-separated file: a header line, then one occupation per line with a code, a
 * title and six ratings in the order R I A S E C (the shape of O*NET's interest profiles; a
 * French set, e.g. ROME codes with ratings, loads the same way). Everything the matcher needs
 * per occupation (its centred profile and norm, its three-letter code) is computed at load, so
 * one match is a pass of six multiplications per occupation plus a bounded top-k.
 */
#ifndef QN_OCCUPATIONS_H
#define QN_OCCUPATIONS_H

#include <stdbool.h>
#include <stddef.h>

#define QN_MATCH_MAX     50
#define QN_MATCH_DEFAULT 20

typedef struct qn_occupation {
    char *code;
    char *title;
    double rating[6];  /* R I A S E C as the file gives them */
    double centred[6]; /* rating minus its mean */
    double norm;       /* Euclidean norm of centred */
    char holland[4];   /* its three highest types */
} qn_occupation;

typedef struct qn_occupations {
    qn_occupation *items;
    size_t n;
    char *attribution; /* from the sidecar "<file>.attribution", "" when there is none */
} qn_occupations;

/* Loads a set. Returns BSL_OK, or an error with "<path>:<line>: <why>" in errbuf. */
int qn_occupations_load(const char *path, qn_occupations **out, char *errbuf, size_t errlen);
void qn_occupations_free(qn_occupations *set);

typedef struct qn_match {
    const qn_occupation *occupation;
    double congruence; /* Pearson correlation of the two profiles */
    unsigned iachan;   /* Iachan's M between the two codes */
    char matched[4];   /* the person's letters found in the occupation's code */
} qn_match;

/*
 * The `limit` occupations whose profile correlates best with `profile` (R..C), best first; ties
 * by Iachan index, then by code. Returns the number written to out (at most limit), or -1 when
 * the profile is flat (all six scores equal: nothing to correlate) or not finite. person_code
 * is the person's Holland code for the explanation: when it is empty on entry, it receives the
 * profile's own (ties by hexagon order); otherwise it is used as given (e.g. the code of
 * submitted results, whose ties were broken by top answers).
 */
int qn_match_profile(const qn_occupations *set, const double profile[6], size_t limit,
                     qn_match *out, char person_code[4]);

#endif
