/* Loading an occupation set and matching a RIASEC profile against it. */
#include "occupations.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbcheck.h"
#include "scoring.h"

#define QN_OCC_MAX      100000 /* occupations in one set */
#define QN_OCC_LINE_MAX 4096
#define QN_ATTRIB_MAX   4096

void qn_occupations_free(qn_occupations *set)
{
    if (set == NULL) {
        return;
    }
    for (size_t i = 0; i < set->n; i++) {
        free(set->items[i].code);
        free(set->items[i].title);
    }
    free(set->items);
    free(set->attribution);
    free(set);
}

/* Fills the derived fields of an occupation. */
static void derive(qn_occupation *o)
{
    double mean = 0;
    for (int t = 0; t < 6; t++) {
        mean += o->rating[t];
    }
    mean /= 6;
    double ss = 0;
    for (int t = 0; t < 6; t++) {
        o->centred[t] = o->rating[t] - mean;
        ss += o->centred[t] * o->centred[t];
    }
    o->norm = sqrt(ss);
    unsigned zero[6] = { 0 };
    bool tie;
    qn_holland_code(o->rating, zero, o->holland, &tie);
}

static char *read_attribution(const char *path)
{
    char side[1100];
    snprintf(side, sizeof(side), "%s.attribution", path);
    FILE *f = fopen(side, "r");
    if (f == NULL) {
        return strdup("");
    }
    char *buf = calloc(1, QN_ATTRIB_MAX + 1);
    size_t n = buf ? fread(buf, 1, QN_ATTRIB_MAX, f) : 0;
    fclose(f);
    while (buf != NULL && n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) {
        buf[--n] = '\0';
    }
    return buf;
}

static int parse_line(char *line, qn_occupation *o, char *why, size_t cap)
{
    char *fields[8];
    size_t n = 0;
    char *p = line;
    while (n < 8) {
        fields[n++] = p;
        if (n == 8) {
            break; /* the last column keeps any further tab, refused below */
        }
        char *tab = strchr(p, '\t');
        if (tab == NULL) {
            break;
        }
        *tab = '\0';
        p = tab + 1;
    }
    if (n != 8 || strchr(fields[7], '\t') != NULL) {
        snprintf(why, cap, "expected 8 tab-separated columns (code, title, R I A S E C)");
        return BSL_EINVAL;
    }
    if (fields[0][0] == '\0' || strlen(fields[0]) > 64 || fields[1][0] == '\0' ||
        strlen(fields[1]) > 300 || !bsl_utf8_valid(fields[1], strlen(fields[1]))) {
        snprintf(why, cap, "code (1 to 64 bytes) and title (1 to 300 bytes of UTF-8) needed");
        return BSL_EINVAL;
    }
    for (int t = 0; t < 6; t++) {
        char *end;
        errno = 0;
        double v = strtod(fields[2 + t], &end);
        if (errno != 0 || end == fields[2 + t] || *end != '\0' || !isfinite(v) || v < 0 ||
            v > 1000) {
            snprintf(why, cap, "rating %c is not a number from 0 to 1000", qn_hexagon[t]);
            return BSL_EINVAL;
        }
        o->rating[t] = v;
    }
    o->code = strdup(fields[0]);
    o->title = strdup(fields[1]);
    if (o->code == NULL || o->title == NULL) {
        free(o->code);
        free(o->title);
        snprintf(why, cap, "out of memory");
        return BSL_ENOMEM;
    }
    derive(o);
    return BSL_OK;
}

int qn_occupations_load(const char *path, qn_occupations **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errbuf, errlen, "%s: cannot open: %s", path, strerror(errno));
        return BSL_EIO;
    }
    qn_occupations *set = calloc(1, sizeof(*set));
    size_t cap = 0;
    char line[QN_OCC_LINE_MAX];
    unsigned lineno = 0;
    int rv = set ? BSL_OK : BSL_ENOMEM;
    while (rv == BSL_OK && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            snprintf(errbuf, errlen, "%s:%u: line longer than %d bytes", path, lineno,
                     QN_OCC_LINE_MAX - 2);
            rv = BSL_EINVAL;
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (lineno == 1 || len == 0) {
            continue; /* the header, blank lines */
        }
        if (set->n == QN_OCC_MAX) {
            snprintf(errbuf, errlen, "%s:%u: more than %d occupations", path, lineno, QN_OCC_MAX);
            rv = BSL_EINVAL;
            break;
        }
        if (set->n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            qn_occupation *items = realloc(set->items, ncap * sizeof(*items));
            if (items == NULL) {
                rv = BSL_ENOMEM;
                break;
            }
            set->items = items;
            cap = ncap;
        }
        char why[160];
        qn_occupation *o = &set->items[set->n];
        memset(o, 0, sizeof(*o));
        rv = parse_line(line, o, why, sizeof(why));
        if (rv != BSL_OK) {
            snprintf(errbuf, errlen, "%s:%u: %s", path, lineno, why);
            break;
        }
        set->n++;
    }
    fclose(f);
    if (rv == BSL_OK && set->n == 0) {
        snprintf(errbuf, errlen, "%s: no occupation in the file", path);
        rv = BSL_EINVAL;
    }
    if (rv == BSL_OK && (set->attribution = read_attribution(path)) == NULL) {
        rv = BSL_ENOMEM;
    }
    if (rv != BSL_OK) {
        if (rv == BSL_ENOMEM) {
            snprintf(errbuf, errlen, "%s: out of memory", path);
        }
        qn_occupations_free(set);
        return rv;
    }
    *out = set;
    return BSL_OK;
}

/* a ranks before b. */
static bool better(const qn_match *a, const qn_match *b)
{
    if (a->congruence != b->congruence) {
        return a->congruence > b->congruence;
    }
    if (a->iachan != b->iachan) {
        return a->iachan > b->iachan;
    }
    return strcmp(a->occupation->code, b->occupation->code) < 0;
}

int qn_match_profile(const qn_occupations *set, const double profile[6], size_t limit,
                     qn_match *out, char person_code[4])
{
    double mean = 0;
    for (int t = 0; t < 6; t++) {
        if (!isfinite(profile[t])) {
            return -1;
        }
        mean += profile[t];
    }
    mean /= 6;
    double x[6], ss = 0;
    for (int t = 0; t < 6; t++) {
        x[t] = profile[t] - mean;
        ss += x[t] * x[t];
    }
    double norm = sqrt(ss);
    if (!(norm > 1e-12)) {
        return -1;
    }
    if (person_code[0] == '\0') {
        unsigned zero[6] = { 0 };
        bool tie;
        qn_holland_code(profile, zero, person_code, &tie);
    }
    if (limit > QN_MATCH_MAX) {
        limit = QN_MATCH_MAX;
    }
    if (limit == 0) {
        return 0;
    }
    /* A sorted top-k kept by insertion: k is at most 50, and most occupations fall below the
     * current last entry at the first comparison. */
    size_t n = 0;
    for (size_t i = 0; i < set->n; i++) {
        const qn_occupation *o = &set->items[i];
        double dot = 0;
        for (int t = 0; t < 6; t++) {
            dot += x[t] * o->centred[t];
        }
        qn_match m = { .occupation = o, .congruence = o->norm > 0 ? dot / (norm * o->norm) : 0 };
        if (n == limit && m.congruence < out[n - 1].congruence) {
            continue;
        }
        m.iachan = qn_iachan(person_code, o->holland);
        if (n == limit && !better(&m, &out[n - 1])) {
            continue;
        }
        size_t j = n < limit ? n++ : n - 1;
        while (j > 0 && better(&m, &out[j - 1])) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = m;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (int p = 0; p < 3; p++) {
            if (memchr(out[i].occupation->holland, person_code[p], 3) != NULL) {
                out[i].matched[k++] = person_code[p];
            }
        }
        out[i].matched[k] = '\0';
        /* Reported to 4 decimals: more would only be noise of the ratings. */
        out[i].congruence = round(out[i].congruence * 1e4) / 1e4;
    }
    return (int)n;
}
