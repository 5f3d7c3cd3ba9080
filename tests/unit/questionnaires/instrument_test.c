/*
 * Instruments: every built-in file loads; the validator refuses broken definitions with a
 * message naming the file and the item; each answer is checked against its item.
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
#include "catalog.h"
#include "instrument.h"

static int load_text(const char *json, qn_instrument **out, char *err, size_t cap)
{
    char path[] = "/tmp/qn-instrument-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(json, f);
    fclose(f);
    int rv = qn_instrument_load_json(path, out, err, cap);
    unlink(path);
    if (rv == BSL_OK) {
        assert_non_null(*out);
    } else {
        /* The message names the file. */
        assert_non_null(strstr(err, "/tmp/qn-instrument-"));
    }
    return rv;
}

static void builtins_load(void **state)
{
    (void)state;
    char dir[1024], err[512];
    snprintf(dir, sizeof(dir), "%s/services/questionnaires/data", getenv("BSL_SOURCE_DIR"));
    qn_catalog *cat;
    int rv = qn_catalog_load(dir, &cat, err, sizeof(err));
    if (rv != BSL_OK) {
        fail_msg("%s", err);
    }
    const char *ids[] = { "riasec",    "valeurs",          "competences",
                          "entourage", "satisfaction-fin", "satisfaction-6mois" };
    for (size_t i = 0; i < 6; i++) {
        qn_instrument *ins = qn_catalog_builtin(cat, ids[i], 0);
        assert_non_null(ins);
        assert_string_equal(ins->def->language, "fr");
        assert_true(ins->def->builtin);
    }
    /* The RIASEC inventory: at least 8 items per type, 5 points, Holland code. */
    qn_instrument *r = qn_catalog_builtin(cat, "riasec", 1);
    assert_non_null(r);
    for (int t = 0; t < 6; t++) {
        assert_true(r->riasec[t] >= 0);
        unsigned n = 0;
        for (size_t i = 0; i < r->n_items; i++) {
            n += r->items[i].n_scales == 1 && r->items[i].scales[0] == r->riasec[t];
            assert_int_equal(r->items[i].def->likert_max - r->items[i].def->likert_min, 4);
        }
        assert_true(n >= 8);
    }
    assert_null(qn_catalog_builtin(cat, "riasec", 2));
    assert_null(qn_catalog_builtin(cat, "nope", 0));
    /* The relatives' form is the right purpose. */
    assert_int_equal(qn_catalog_builtin(cat, "entourage", 0)->def->purpose,
                     BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_RELATIVES_FEEDBACK);
    qn_catalog_free(cat);
}

#define HEAD                                                                                       \
    "{\"id\": \"t\", \"version\": 1, \"language\": \"fr\", \"purpose\": \"other\",\n"              \
    " \"title\": \"T\", \"sections\": [{\"id\": \"s\", \"title\": \"S\"}],\n"                      \
    " \"scales\": [{\"id\": \"x\", \"name\": \"X\"}],\n"

static void refuses_broken_definitions(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *expect; /* in the message */
    } cases[] = {
        { "{ not json", "not valid JSON" },
        { HEAD "\"items\": [{\"id\": \"q1\", \"section\": \"s\", \"kind\": \"likert\", "
               "\"text\": \"Q\", \"likert_min\": 1, \"likert_max\": 5, "
               "\"likert_labels\": [\"a\", \"b\"]}]}",
          "items[0] (q1): likert_labels has 2 labels, expected 5" },
        { HEAD "\"items\": [{\"id\": \"q1\", \"section\": \"s\", \"kind\": \"free_text\", "
               "\"text\": \"Q\", \"max_length\": 10},"
               "{\"id\": \"q2\", \"section\": \"s\", \"kind\": \"numeric\", \"text\": \"Q\", "
               "\"numeric_min\": 1, \"numeric_max\": 9, \"scales\": [\"nope\"]}]}",
          "items[1] (q2): scale \"nope\" is not a scale" },
        { HEAD "\"items\": [{\"id\": \"q1\", \"section\": \"s\", \"kind\": \"free_text\", "
               "\"text\": \"Q\", \"max_length\": 10},"
               "{\"id\": \"q1\", \"section\": \"s\", \"kind\": \"free_text\", \"text\": \"Q\", "
               "\"max_length\": 10}]}",
          "(q1): id used twice" },
        { HEAD "\"items\": [{\"id\": \"q1\", \"section\": \"s\", \"kind\": \"free_text\", "
               "\"text\": \"Q\", \"max_length\": 10, \"colour\": \"red\"}]}",
          "items[0] (q1): unknown key \"colour\"" },
        { HEAD "\"items\": [{\"id\": \"q1\", \"section\": \"zz\", \"kind\": \"free_text\", "
               "\"text\": \"Q\", \"max_length\": 10}]}",
          "items[0] (q1): section_id \"zz\"" },
        { HEAD "\"items\": [{\"id\": \"q1\", \"section\": \"s\", \"kind\": \"single_choice\", "
               "\"text\": \"Q\", \"choices\": [{\"value\": \"a\", \"label\": \"A\"}]}]}",
          "items[0] (q1): 2 to 50 choices" },
        { HEAD "\"items\": [{\"id\": \"q1\", \"section\": \"s\", \"kind\": \"multiple_choice\", "
               "\"text\": \"Q\", \"min_selected\": 3, \"choices\": [{\"value\": \"a\", "
               "\"label\": \"A\"}, {\"value\": \"b\", \"label\": \"B\"}]}]}",
          "items[0] (q1): need min_selected" },
        { HEAD "\"items\": [{\"id\": \"q1\", \"section\": \"s\", \"kind\": \"numeric\", "
               "\"text\": \"Q\", \"numeric_min\": 5, \"numeric_max\": 5}]}",
          "items[0] (q1): numeric_max must be above" },
        { HEAD "\"items\": [{\"id\": \"q1\", \"section\": \"s\", \"kind\": \"free_text\", "
               "\"text\": \"Q\", \"max_length\": 10, \"reverse\": true}]}",
          "items[0] (q1): only Likert items can be reverse-keyed" },
        { HEAD "\"items\": [{\"id\": \"q1\", \"section\": \"s\", \"kind\": \"essay\", "
               "\"text\": \"Q\"}]}",
          "items[0] (q1): \"kind\" must be" },
        { HEAD "\"scoring\": {\"holland_code\": true}, \"items\": [{\"id\": \"q1\", "
               "\"section\": \"s\", \"kind\": \"free_text\", \"text\": \"Q\", \"max_length\": 9}]}",
          "scoring.holland_code: needs the scales R, I, A, S, E and C" },
        { HEAD "\"items\": [{\"id\": \"Q 1\", \"section\": \"s\", \"kind\": \"free_text\", "
               "\"text\": \"Q\", \"max_length\": 10}]}",
          "id must be 1 to 40 characters" },
        { HEAD "\"items\": []}", "items: 1 to 300 items" },
        { "{\"id\": \"t\", \"version\": 1, \"language\": \"fr\", \"purpose\": \"fun\", "
          "\"title\": \"T\", \"sections\": [], \"items\": []}",
          "purpose: must be" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        qn_instrument *ins = NULL;
        char err[512] = "";
        int rv = load_text(cases[i].json, &ins, err, sizeof(err));
        if (rv == BSL_OK || strstr(err, cases[i].expect) == NULL) {
            fail_msg("case %zu: expected \"%s\", got rv %d \"%s\"", i, cases[i].expect, rv, err);
        }
        assert_null(ins);
    }
}

static const char answers_json[] = HEAD
    "\"items\": [\n"
    "{\"id\": \"l\", \"section\": \"s\", \"kind\": \"likert\", \"text\": \"L\", "
    "\"likert_min\": 1, \"likert_max\": 5, \"likert_labels\": [\"1\", \"2\", \"3\", \"4\", "
    "\"5\"]},\n"
    "{\"id\": \"one\", \"section\": \"s\", \"kind\": \"single_choice\", \"text\": \"O\", "
    "\"choices\": [{\"value\": \"a\", \"label\": \"A\"}, {\"value\": \"b\", \"label\": \"B\"}]},\n"
    "{\"id\": \"many\", \"section\": \"s\", \"kind\": \"multiple_choice\", \"text\": \"M\", "
    "\"max_selected\": 2, \"choices\": [{\"value\": \"a\", \"label\": \"A\"}, "
    "{\"value\": \"b\", \"label\": \"B\"}, {\"value\": \"c\", \"label\": \"C\"}]},\n"
    "{\"id\": \"rank\", \"section\": \"s\", \"kind\": \"ranking\", \"text\": \"R\", "
    "\"choices\": [{\"value\": \"a\", \"label\": \"A\"}, {\"value\": \"b\", \"label\": \"B\"}]},\n"
    "{\"id\": \"num\", \"section\": \"s\", \"kind\": \"numeric\", \"text\": \"N\", "
    "\"numeric_min\": 0, \"numeric_max\": 10, \"integer_only\": true},\n"
    "{\"id\": \"free\", \"section\": \"s\", \"kind\": \"free_text\", \"text\": \"F\", "
    "\"max_length\": 5}\n"
    "]}";

static bool check(const qn_instrument *ins, const char *item, Boussole__V1__Answer *a, char *why)
{
    a->item_id = (char *)item;
    return qn_answer_check(&ins->items[qn_instrument_item(ins, item)], a, why, 200);
}

static void answers_checked_against_items(void **state)
{
    (void)state;
    qn_instrument *ins;
    char err[512], why[200];
    assert_int_equal(load_text(answers_json, &ins, err, sizeof(err)), BSL_OK);
    assert_int_equal(qn_instrument_item(ins, "num"), 4);
    assert_int_equal(qn_instrument_item(ins, "zzz"), -1);

    Boussole__V1__Answer a = BOUSSOLE__V1__ANSWER__INIT;
    assert_false(check(ins, "l", &a, why)); /* no value */
    assert_non_null(strstr(why, "answered with `likert`"));
    a.value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
    a.likert = 6;
    assert_false(check(ins, "l", &a, why));
    assert_non_null(strstr(why, "1 to 5"));
    a.likert = 5;
    assert_true(check(ins, "l", &a, why));
    /* The value of another kind. */
    assert_false(check(ins, "num", &a, why));

    a = (Boussole__V1__Answer)BOUSSOLE__V1__ANSWER__INIT;
    a.value_case = BOUSSOLE__V1__ANSWER__VALUE_CHOICE;
    a.choice = "z";
    assert_false(check(ins, "one", &a, why));
    assert_non_null(strstr(why, "not one of the item's choices"));
    a.choice = "b";
    assert_true(check(ins, "one", &a, why));

    char *vals[4] = { "a", "b", "c", "a" };
    Boussole__V1__ChoiceList l = BOUSSOLE__V1__CHOICE_LIST__INIT;
    l.values = vals;
    a = (Boussole__V1__Answer)BOUSSOLE__V1__ANSWER__INIT;
    a.value_case = BOUSSOLE__V1__ANSWER__VALUE_CHOICES;
    a.choices = &l;
    l.n_values = 3;
    assert_false(check(ins, "many", &a, why)); /* at most 2 */
    l.n_values = 0;
    assert_true(check(ins, "many", &a, why)); /* min_selected 0 */
    l.n_values = 2;
    assert_true(check(ins, "many", &a, why));
    vals[1] = "a";
    assert_false(check(ins, "many", &a, why));
    assert_non_null(strstr(why, "given twice"));
    vals[1] = "b";

    a = (Boussole__V1__Answer)BOUSSOLE__V1__ANSWER__INIT;
    a.value_case = BOUSSOLE__V1__ANSWER__VALUE_RANKING;
    a.ranking = &l;
    l.n_values = 1;
    assert_false(check(ins, "rank", &a, why)); /* every choice, once */
    l.n_values = 2;
    assert_true(check(ins, "rank", &a, why));

    a = (Boussole__V1__Answer)BOUSSOLE__V1__ANSWER__INIT;
    a.value_case = BOUSSOLE__V1__ANSWER__VALUE_NUMBER;
    a.number = 2.5;
    assert_false(check(ins, "num", &a, why));
    assert_non_null(strstr(why, "whole"));
    a.number = 11;
    assert_false(check(ins, "num", &a, why));
    a.number = 10;
    assert_true(check(ins, "num", &a, why));

    a = (Boussole__V1__Answer)BOUSSOLE__V1__ANSWER__INIT;
    a.value_case = BOUSSOLE__V1__ANSWER__VALUE_TEXT;
    a.text = "éééééé"; /* 6 characters: too long, though counted in characters */
    assert_false(check(ins, "free", &a, why));
    a.text = "ééééé";
    assert_true(check(ins, "free", &a, why));
    a.text = "a\x01";
    assert_false(check(ins, "free", &a, why));
    a.text = "";
    assert_false(check(ins, "free", &a, why));
    qn_instrument_unref(ins);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtins_load),
        cmocka_unit_test(refuses_broken_definitions),
        cmocka_unit_test(answers_checked_against_items),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
