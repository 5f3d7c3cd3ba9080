/*
 * The occupation set and matching: the loader (shape, errors naming the line), the Pearson
 * congruence worked out by hand on a small set, ranking, ties, the cap, the flat profile, and
 * the default O*NET set.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "boussole/err.h"
#include "occupations.h"

static int load_text(const char *tsv, qn_occupations **out, char *err, size_t cap)
{
    char path[] = "/tmp/qn-occupations-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(tsv, f);
    fclose(f);
    int rv = qn_occupations_load(path, out, err, cap);
    unlink(path);
    return rv;
}

static const char small[] = "code\ttitle\tR\tI\tA\tS\tE\tC\n"
                            "A1\tSocial worker\t1\t2\t3\t7\t4\t2\n"
                            "B2\tMechanic\t7\t3\t1\t1\t2\t3\n"
                            "C3\tMirror of the person\t2\t4\t6\t8\t6\t4\n"
                            "D4\tFlat\t3\t3\t3\t3\t3\t3\n"
                            "E5\tAlso social\t1\t2\t3\t7\t4\t2\n";

static void pearson_by_hand(void **state)
{
    (void)state;
    qn_occupations *set;
    char err[256];
    assert_int_equal(load_text(small, &set, err, sizeof(err)), BSL_OK);
    assert_int_equal(set->n, 5);
    assert_string_equal(set->items[0].holland, "SEA");
    assert_string_equal(set->items[1].holland, "RIC"); /* I and C tie at 3: hexagon order */
    assert_string_equal(set->attribution, "");
    /*
     * Person: R1 I2 A3 S4 E3 C2 (mean 2.5; centred -1.5 -0.5 0.5 1.5 0.5 -0.5; squares sum 5.5).
     * C3 is the person's profile doubled: r = 1.
     * A1 (mean 19/6): centred -2.1667 -1.1667 -0.1667 3.8333 0.8333 -1.1667, squares sum
     * 22.8333; dot with the person's: 3.25 + 0.5833 - 0.0833 + 5.75 + 0.4167 + 0.5833 = 10.5;
     * r = 10.5 / sqrt(5.5 * 22.8333) = 0.9370.
     * B2 (mean 17/6): centred 4.1667 0.1667 -1.8333 -1.8333 -0.8333 0.1667, squares 24.8333;
     * dot -6.25 - 0.0833 - 0.9167 - 2.75 - 0.4167 - 0.0833 = -10.5;
     * r = -10.5 / sqrt(5.5 * 24.8333) = -0.8984.
     * D4 is flat: r = 0 by definition.
     */
    double person[6] = { 1, 2, 3, 4, 3, 2 };
    qn_match m[10];
    char code[4] = "";
    int n = qn_match_profile(set, person, 10, m, code);
    assert_int_equal(n, 5);
    assert_string_equal(code, "SAE"); /* A and E tie at 3: hexagon order */
    assert_string_equal(m[0].occupation->code, "C3");
    assert_true(m[0].congruence == 1);
    /* A1 and E5 have the same profile: ties go by Iachan, then by code. */
    assert_string_equal(m[1].occupation->code, "A1");
    assert_string_equal(m[2].occupation->code, "E5");
    assert_true(fabs(m[1].congruence - 0.9370) < 1e-9);
    assert_string_equal(m[3].occupation->code, "D4");
    assert_true(m[3].congruence == 0);
    assert_string_equal(m[4].occupation->code, "B2");
    assert_true(fabs(m[4].congruence - (-0.8984)) < 1e-9);
    /* Explanations: SAE against SEA: S 22, A P2/O3 2, E P3/O2 2 = 26; all three match. */
    assert_int_equal(m[1].iachan, 26);
    assert_string_equal(m[1].matched, "SAE");
    assert_int_equal(m[4].iachan, 0);
    assert_string_equal(m[4].matched, "");
    /* The cap. */
    assert_int_equal(qn_match_profile(set, person, 2, m, code), 2);
    assert_string_equal(m[1].occupation->code, "A1");
    assert_int_equal(qn_match_profile(set, person, 0, m, code), 0);
    /* A given code is kept for the explanation (the results' own tie-break). */
    char given[4] = "SEA";
    qn_match_profile(set, person, 1, m, given);
    assert_string_equal(given, "SEA");
    assert_int_equal(m[0].iachan, 26); /* SEA against C3's code SAE */
    /* A flat profile has nothing to correlate. */
    double flat[6] = { 5, 5, 5, 5, 5, 5 };
    code[0] = '\0';
    assert_int_equal(qn_match_profile(set, flat, 5, m, code), -1);
    double bad[6] = { NAN, 1, 2, 3, 4, 5 };
    assert_int_equal(qn_match_profile(set, bad, 5, m, code), -1);
    qn_occupations_free(set);
}

static void loader_errors(void **state)
{
    (void)state;
    static const struct {
        const char *tsv, *expect;
    } cases[] = {
        { "h\nA1\tOnly title\t1\t2\t3\n", ":2: expected 8 tab-separated columns" },
        { "h\nA1\tT\t1\t2\t3\t4\t5\t6\nB2\tT\t1\t2\tx\t4\t5\t6\n", ":3: rating A is not a number" },
        { "h\nA1\tT\t1\t2\t3\t4\t5\t-1\n", ":2: rating C is not a number" },
        { "h\n\tT\t1\t2\t3\t4\t5\t6\n", ":2: code (1 to 64 bytes)" },
        { "h\nA1\tT\t1\t2\t3\t4\t5\t6\t7\n", ":2: expected 8 tab-separated columns" },
        { "h\n", "no occupation" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qn_occupations *set = NULL;
        char err[256] = "";
        int rv = load_text(cases[i].tsv, &set, err, sizeof(err));
        if (rv == BSL_OK || strstr(err, cases[i].expect) == NULL) {
            fail_msg("case %zu: expected \"%s\", got \"%s\"", i, cases[i].expect, err);
        }
        assert_null(set);
    }
    qn_occupations *set;
    char err[256];
    assert_int_not_equal(qn_occupations_load("/nonexistent/occupations.tsv", &set, err, 256),
                         BSL_OK);
    assert_non_null(strstr(err, "/nonexistent/occupations.tsv"));
}

static void default_set(void **state)
{
    (void)state;
    char path[1024], err[256];
    snprintf(path, sizeof(path), "%s/services/questionnaires/data/occupations/onet-interests.tsv",
             getenv("BSL_SOURCE_DIR"));
    qn_occupations *set;
    assert_int_equal(qn_occupations_load(path, &set, err, sizeof(err)), BSL_OK);
    assert_int_equal(set->n, 923);
    assert_non_null(strstr(set->attribution, "CC BY 4.0"));
    /* A strongly Social-Artistic profile: the best matches are S-first, never R-first, and
     * they are ranked by congruence. */
    double person[6] = { 5, 20, 70, 95, 40, 10 };
    qn_match m[QN_MATCH_MAX];
    char code[4] = "";
    int n = qn_match_profile(set, person, QN_MATCH_DEFAULT, m, code);
    assert_int_equal(n, QN_MATCH_DEFAULT);
    assert_string_equal(code, "SAE");
    for (int i = 0; i < n; i++) {
        assert_true(m[i].congruence > 0.7);
        assert_true(m[i].occupation->holland[0] != 'R');
        assert_true(strchr(m[i].matched, 'S') != NULL);
        if (i > 0) {
            assert_true(m[i].congruence <= m[i - 1].congruence);
        }
    }
    /* The cap holds at the top. */
    assert_int_equal(qn_match_profile(set, person, 500, m, code), QN_MATCH_MAX);
    qn_occupations_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pearson_by_hand),
        cmocka_unit_test(loader_errors),
        cmocka_unit_test(default_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
