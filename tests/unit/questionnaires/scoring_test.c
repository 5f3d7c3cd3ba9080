/*
 * Scoring and the RIASEC indices: per-scale sums with reverse keying, normalisation, the
 * Holland code and its tie-break rule, consistency, differentiation, Iachan's index, and the
 * scoring of every item kind. Expected figures are worked out by hand in the comments.
 */
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
#include "instrument.h"
#include "scoring.h"

static qn_instrument *load(const char *name)
{
    char path[1024], err[512];
    snprintf(path, sizeof(path), "%s/services/questionnaires/data/instruments/%s",
             getenv("BSL_SOURCE_DIR"), name);
    qn_instrument *ins = NULL;
    int rv = qn_instrument_load_json(path, &ins, err, sizeof(err));
    if (rv != BSL_OK) {
        fail_msg("%s", err);
    }
    return ins;
}

/* Writes a JSON instrument to a temporary file and loads it. */
static int load_text(const char *json, qn_instrument **out, char *err, size_t cap)
{
    char path[] = "/tmp/qn-scoring-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(json, f);
    fclose(f);
    int rv = qn_instrument_load_json(path, out, err, cap);
    unlink(path);
    return rv;
}

static Boussole__V1__Answer likert(const char *item, int v)
{
    Boussole__V1__Answer a = BOUSSOLE__V1__ANSWER__INIT;
    a.item_id = (char *)item;
    a.value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
    a.likert = v;
    return a;
}

/*
 * The RIASEC inventory answered so that (items rN..cN for N = 1..7 are worded for the type,
 * item 8 of each type is reverse-keyed, so a point p counts 6 - p):
 *   R: all 2, r8 answered 4 -> 7*2 + (6-4) = 16
 *   I: all 4, i8 answered 2 -> 7*4 + 4 = 32
 *   A: all 3, a8 answered 3 -> 21 + 3 = 24
 *   S: all 5, s8 answered 1 -> 35 + 5 = 40
 *   E: all 4, e8 answered 2 -> 28 + 4 = 32 (ties with I)
 *   C: all 1, c8 answered 5 -> 7 + 1 = 8
 * Range per type: 8..40, so normalised = 100 * (raw - 8) / 32:
 *   R 25, I 75, A 50, S 100, E 75, C 0.
 * Holland code: S (40), then I and E tie at 32. Top answers (a scored 5): S has 8 (seven 5s
 * and s8 = 1 reversed to 5), I 0, E 0: still tied, so hexagon order puts I before E: "SIE",
 * tie broken. Consistency of S, I: positions 3 and 1, distance 2 -> 2. Differentiation:
 * 100 - 0 = 100.
 */
static void riasec_known_answers(void **state)
{
    (void)state;
    qn_instrument *ins = load("riasec.json");
    assert_int_equal(ins->n_items, 48);
    const int pos[6] = { 2, 4, 3, 5, 4, 1 }, rev[6] = { 4, 2, 3, 1, 2, 5 };
    const char *letters = "riasec";
    Boussole__V1__Answer store[48];
    const Boussole__V1__Answer *by_item[48] = { NULL };
    char ids[48][8];
    int k = 0;
    for (int t = 0; t < 6; t++) {
        for (int n = 1; n <= 8; n++) {
            snprintf(ids[k], sizeof(ids[k]), "%c%d", letters[t], n);
            store[k] = likert(ids[k], n == 8 ? rev[t] : pos[t]);
            int idx = qn_instrument_item(ins, ids[k]);
            assert_true(idx >= 0);
            char why[200];
            assert_true(qn_answer_check(&ins->items[idx], &store[k], why, sizeof(why)));
            by_item[idx] = &store[k];
            k++;
        }
    }
    qn_results r;
    qn_score(ins, by_item, &r);
    const double raw[6] = { 16, 32, 24, 40, 32, 8 }, norm[6] = { 25, 75, 50, 100, 75, 0 };
    for (int t = 0; t < 6; t++) {
        const qn_scale_score *s = &r.scales[ins->riasec[t]];
        assert_true(s->raw == raw[t]);
        assert_true(s->min == 8 && s->max == 40);
        assert_true(s->normalised == norm[t]);
        assert_int_equal(s->answered, 8);
    }
    assert_int_equal(r.scales[ins->riasec[3]].top, 8);
    assert_true(r.holland);
    assert_string_equal(r.holland_code, "SIE");
    assert_true(r.holland_tie_broken);
    assert_int_equal(r.consistency, 2);
    assert_true(r.differentiation == 100);
    /* Profile: S, then I and E (75, in the instrument's order), A, R, C. */
    const char *profile[6] = { "S", "I", "E", "A", "R", "C" };
    for (int i = 0; i < 6; i++) {
        assert_string_equal(ins->def->scales[r.profile[i]]->id, profile[i]);
    }
    /* Interpretation bands: S at 100 reads the top band, C at 0 the first. */
    const Boussole__V1__Scale *s = ins->def->scales[ins->riasec[3]];
    assert_string_equal(qn_interpretation(s, 100), s->interpretation[2]->text);
    assert_string_equal(qn_interpretation(s, 39.9), s->interpretation[0]->text);
    assert_string_equal(qn_interpretation(s, 40), s->interpretation[1]->text);
    qn_instrument_unref(ins);
}

static void holland_tie_rules(void **state)
{
    (void)state;
    char code[4];
    bool tie;
    /* No tie. */
    double raw1[6] = { 10, 20, 30, 40, 35, 5 };
    unsigned top0[6] = { 0 };
    qn_holland_code(raw1, top0, code, &tie);
    assert_string_equal(code, "SEA");
    assert_false(tie);
    /* A tie for third place between R and C: top answers decide (C has more). */
    double raw2[6] = { 10, 30, 5, 40, 20, 10 };
    unsigned top2[6] = { 1, 0, 0, 0, 0, 3 };
    qn_holland_code(raw2, top2, code, &tie);
    assert_string_equal(code, "SIE");
    assert_false(tie); /* the tie was for 4th and 5th place: it decides nothing */
    double raw3[6] = { 20, 30, 5, 40, 10, 20 };
    qn_holland_code(raw3, top2, code, &tie);
    assert_string_equal(code, "SIC"); /* R and C tie at 20: C has 3 top answers, R 1 */
    assert_true(tie);
    /* Same sums and same top answers: hexagon order R, I, A, S, E, C. */
    double raw4[6] = { 7, 7, 7, 7, 7, 7 };
    qn_holland_code(raw4, top0, code, &tie);
    assert_string_equal(code, "RIA");
    assert_true(tie);
    double raw5[6] = { 1, 2, 9, 3, 9, 9 };
    qn_holland_code(raw5, top0, code, &tie);
    assert_string_equal(code, "AEC");
    assert_true(tie);
}

static void consistency_and_differentiation(void **state)
{
    (void)state;
    /* Adjacent on R-I-A-S-E-C (including C next to R): 3; one between: 2; opposite: 1. */
    assert_int_equal(qn_consistency('R', 'I'), 3);
    assert_int_equal(qn_consistency('C', 'R'), 3);
    assert_int_equal(qn_consistency('S', 'E'), 3);
    assert_int_equal(qn_consistency('R', 'A'), 2);
    assert_int_equal(qn_consistency('E', 'R'), 2);
    assert_int_equal(qn_consistency('I', 'C'), 2);
    assert_int_equal(qn_consistency('R', 'S'), 1);
    assert_int_equal(qn_consistency('I', 'E'), 1);
    assert_int_equal(qn_consistency('A', 'C'), 1);
    assert_int_equal(qn_consistency('A', 'A'), 0);
    assert_int_equal(qn_consistency('X', 'A'), 0);
    double s[6] = { 12.5, 80, 33, 47, 80, 3 };
    assert_true(qn_differentiation(s) == 77);
}

static void iachan_index(void **state)
{
    (void)state;
    /* Weights: first letters 22, P1/O2 10, P1/O3 4, P2/O2 5, P2/O3 2, P3/O3 1. */
    assert_int_equal(qn_iachan("SAE", "SAE"), 28); /* 22 + 5 + 1 */
    assert_int_equal(qn_iachan("SAE", "SEA"), 26); /* 22 + 2 (A: P2/O3) + 2 (E: P3/O2) */
    assert_int_equal(qn_iachan("SAE", "ASE"), 10 + 10 + 1);
    assert_int_equal(qn_iachan("SAE", "RIC"), 0);
    assert_int_equal(qn_iachan("SAE", "CRS"), 4);  /* S: P1/O3 */
    assert_int_equal(qn_iachan("RIC", "ICR"), 16); /* R: P1/O3 4, I: P2/O1 10, C: P3/O2 2 */
}

/* Every item kind scores as documented; ranges are exact. */
static const char mixed_json[] =
    "{\"id\": \"mixte\", \"version\": 1, \"language\": \"fr\", \"purpose\": \"other\",\n"
    " \"title\": \"Mixte\", \"sections\": [{\"id\": \"s\", \"title\": \"S\"}],\n"
    " \"scales\": [{\"id\": \"x\", \"name\": \"X\"}, {\"id\": \"y\", \"name\": \"Y\"},\n"
    "            {\"id\": \"z\", \"name\": \"Z\"}],\n"
    " \"items\": [\n"
    "  {\"id\": \"l\", \"section\": \"s\", \"kind\": \"likert\", \"text\": \"L\", \"likert_min\": "
    "0,\n"
    "   \"likert_max\": 3, \"likert_labels\": [\"a\", \"b\", \"c\", \"d\"], \"scales\": [\"x\"],\n"
    "   \"reverse\": true},\n"
    "  {\"id\": \"one\", \"section\": \"s\", \"kind\": \"single_choice\", \"text\": \"O\",\n"
    "   \"scales\": [\"x\"], \"choices\": [{\"value\": \"a\", \"label\": \"A\", \"score\": -2},\n"
    "   {\"value\": \"b\", \"label\": \"B\", \"score\": 5, \"scales\": [\"z\"]}]},\n"
    "  {\"id\": \"many\", \"section\": \"s\", \"kind\": \"multiple_choice\", \"text\": \"M\",\n"
    "   \"scales\": [\"y\"], \"min_selected\": 1, \"max_selected\": 2,\n"
    "   \"choices\": [{\"value\": \"a\", \"label\": \"A\", \"score\": 4},\n"
    "   {\"value\": \"b\", \"label\": \"B\", \"score\": 1}, {\"value\": \"c\", \"label\": \"C\",\n"
    "   \"score\": -3}]},\n"
    "  {\"id\": \"rank\", \"section\": \"s\", \"kind\": \"ranking\", \"text\": \"R\",\n"
    "   \"choices\": [{\"value\": \"a\", \"label\": \"A\", \"scales\": [\"z\"]},\n"
    "   {\"value\": \"b\", \"label\": \"B\"}, {\"value\": \"c\", \"label\": \"C\"}]},\n"
    "  {\"id\": \"num\", \"section\": \"s\", \"kind\": \"numeric\", \"text\": \"N\",\n"
    "   \"numeric_min\": -1, \"numeric_max\": 9, \"scales\": [\"y\"]},\n"
    "  {\"id\": \"free\", \"section\": \"s\", \"kind\": \"free_text\", \"text\": \"F\",\n"
    "   \"max_length\": 10, \"required\": false}\n"
    " ]}\n";

static void every_kind(void **state)
{
    (void)state;
    qn_instrument *ins;
    char err[512];
    assert_int_equal(load_text(mixed_json, &ins, err, sizeof(err)), BSL_OK);
    /* Item ranges: likert 0..3; single choice -2..5; multiple choice with 1 or 2 of
     * {4, 1, -3}: lowest -3 alone, highest 4 + 1 = 5; numeric -1..9. */
    assert_true(ins->items[0].lo == 0 && ins->items[0].hi == 3);
    assert_true(ins->items[1].lo == -2 && ins->items[1].hi == 5);
    assert_true(ins->items[2].lo == -3 && ins->items[2].hi == 5);
    assert_true(ins->items[4].lo == -1 && ins->items[4].hi == 9);

    Boussole__V1__Answer l = likert("l", 1); /* reversed: 0 + 3 - 1 = 2 */
    Boussole__V1__Answer one = BOUSSOLE__V1__ANSWER__INIT;
    one.item_id = "one";
    one.value_case = BOUSSOLE__V1__ANSWER__VALUE_CHOICE;
    one.choice = "b";
    char *many_v[] = { "a", "c" };
    Boussole__V1__ChoiceList many_l = BOUSSOLE__V1__CHOICE_LIST__INIT;
    many_l.values = many_v;
    many_l.n_values = 2;
    Boussole__V1__Answer many = BOUSSOLE__V1__ANSWER__INIT;
    many.item_id = "many";
    many.value_case = BOUSSOLE__V1__ANSWER__VALUE_CHOICES;
    many.choices = &many_l;
    char *rank_v[] = { "b", "a", "c" };
    Boussole__V1__ChoiceList rank_l = BOUSSOLE__V1__CHOICE_LIST__INIT;
    rank_l.values = rank_v;
    rank_l.n_values = 3;
    Boussole__V1__Answer rank = BOUSSOLE__V1__ANSWER__INIT;
    rank.item_id = "rank";
    rank.value_case = BOUSSOLE__V1__ANSWER__VALUE_RANKING;
    rank.ranking = &rank_l;
    Boussole__V1__Answer num = BOUSSOLE__V1__ANSWER__INIT;
    num.item_id = "num";
    num.value_case = BOUSSOLE__V1__ANSWER__VALUE_NUMBER;
    num.number = 6.5;
    const Boussole__V1__Answer *by_item[6] = { &l, &one, &many, &rank, &num, NULL };
    char why[200];
    for (int i = 0; i < 5; i++) {
        assert_true(qn_answer_check(&ins->items[i], by_item[i], why, sizeof(why)));
    }
    qn_results r;
    qn_score(ins, by_item, &r);
    /* x: likert 2 (range 0..3) + single choice 5 (range -2..5) = 7 of -2..8 -> 90. */
    assert_true(r.scales[0].raw == 7 && r.scales[0].min == -2 && r.scales[0].max == 8);
    assert_true(r.scales[0].normalised == 90);
    assert_int_equal(r.scales[0].answered, 2);
    /* y: multiple choice 4 - 3 = 1 (range -3..5) + numeric 6.5 (range -1..9) = 7.5 of -4..14:
     * 100 * 11.5 / 18 = 63.89. */
    assert_true(r.scales[1].raw == 7.5 && r.scales[1].min == -4 && r.scales[1].max == 14);
    assert_true(r.scales[1].normalised > 63.88 && r.scales[1].normalised < 63.89);
    /* z: the chosen single choice "b" scores 5 on z (range 0..5); the ranking puts "a" second
     * of three: 2 points (range 1..3). 7 of 1..8 -> 100 * 6 / 7. */
    assert_true(r.scales[2].raw == 7 && r.scales[2].min == 1 && r.scales[2].max == 8);
    assert_false(r.holland);
    /* Profile by normalised score: x (90), z (85.7), y (63.9). */
    assert_int_equal(r.profile[0], 0);
    assert_int_equal(r.profile[1], 2);
    assert_int_equal(r.profile[2], 1);
    /* Unanswered items count for nothing: only the likert. */
    const Boussole__V1__Answer *only[6] = { &l, NULL, NULL, NULL, NULL, NULL };
    qn_score(ins, only, &r);
    assert_true(r.scales[0].raw == 2 && r.scales[0].min == 0 && r.scales[0].max == 3);
    assert_int_equal(r.scales[1].answered, 0);
    assert_true(r.scales[1].normalised == 0);
    qn_instrument_unref(ins);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(riasec_known_answers),
        cmocka_unit_test(holland_tie_rules),
        cmocka_unit_test(consistency_and_differentiation),
        cmocka_unit_test(iachan_index),
        cmocka_unit_test(every_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
