/* Unit tests of services/syntheses/content.c and the stored formats of store.c and grants.c:
 * sections merged by a save, what changed, the part a grant shows, the limits; revision
 * metadata and grant state strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grants.h"
#include "syntheses.h"

#define SEC(name) BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_##name

static Boussole__V1__SynthesisContent *sample(bsl_arena *a)
{
    Boussole__V1__SynthesisContent *c = syn_content_new(a);
    c->cover->beneficiary_name = "Léa";
    c->circumstances = "Circonstances";
    c->path_explored = "Parcours";
    c->skills = "Compétences";
    c->strengths = "Points forts";
    c->areas_to_improve = "Axes";
    c->follow_up = "Suivi";
    c->beneficiary_observations = "Mes observations";
    static Boussole__V1__SynthesisProject p = BOUSSOLE__V1__SYNTHESIS_PROJECT__INIT;
    static Boussole__V1__SynthesisProject *ps[] = { &p };
    p.title = "Projet";
    c->projects = ps;
    c->n_projects = 1;
    return c;
}

static void merge_replaces_only_the_sections_given(void **state)
{
    (void)state;
    bsl_arena *a = bsl_arena_create();
    Boussole__V1__SynthesisContent *base = sample(a);
    Boussole__V1__SynthesisContent in = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    in.skills = "Nouvelles compétences";
    in.strengths = "ignoré";
    Boussole__V1__SynthesisContent *m = syn_content_merge(a, base, &in, SYN_MASK(SEC(SKILLS)));
    assert_string_equal(m->skills, "Nouvelles compétences");
    assert_string_equal(m->strengths, "Points forts");
    assert_string_equal(m->beneficiary_observations, "Mes observations");
    assert_int_equal(m->n_projects, 1);
    /* The base is not changed. */
    assert_string_equal(base->skills, "Compétences");
    /* Replacing PROJECTS with an empty list empties both of its lists. */
    m = syn_content_merge(a, base, &in, SYN_MASK(SEC(PROJECTS)));
    assert_int_equal(m->n_projects, 0);
    assert_int_equal(m->n_leads, 0);
    assert_string_equal(m->skills, "Compétences");
    bsl_arena_free(a);
}

static void diff_names_the_changed_sections(void **state)
{
    (void)state;
    bsl_arena *a = bsl_arena_create();
    Boussole__V1__SynthesisContent *x = sample(a);
    Boussole__V1__SynthesisContent *y = syn_content_merge(a, x, x, SYN_MASK_ALL);
    assert_int_equal(syn_content_diff(a, x, y), 0);
    y->skills = "Autre";
    y->beneficiary_observations = "Autre";
    assert_int_equal(syn_content_diff(a, x, y),
                     SYN_MASK(SEC(SKILLS)) | SYN_MASK(SEC(OBSERVATIONS)));
    /* A missing cover equals an empty one. */
    Boussole__V1__SynthesisContent e1 = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    Boussole__V1__SynthesisContent *e2 = syn_content_new(a);
    assert_int_equal(syn_content_diff(a, &e1, e2), 0);
    /* Against nothing, every non-empty section changed. */
    syn_mask all = syn_content_diff(a, NULL, x);
    assert_true(all & SYN_MASK(SEC(COVER)));
    assert_true(all & SYN_MASK(SEC(PROJECTS)));
    assert_false(all & SYN_MASK(SEC(ACTION_PLAN)));
    bsl_arena_free(a);
}

static void scope_keeps_the_granted_sections_and_the_cover(void **state)
{
    (void)state;
    bsl_arena *a = bsl_arena_create();
    Boussole__V1__SynthesisContent *x = sample(a);
    Boussole__V1__SynthesisContent *s =
        syn_content_scope(a, x, SYN_MASK(SEC(PROJECTS)) | SYN_MASK(SEC(FOLLOW_UP)));
    assert_string_equal(s->cover->beneficiary_name, "Léa");
    assert_int_equal(s->n_projects, 1);
    assert_string_equal(s->follow_up, "Suivi");
    assert_string_equal(s->skills, "");
    assert_string_equal(s->beneficiary_observations, "");
    assert_string_equal(s->circumstances, "");
    /* The cover can never be asked away. */
    s = syn_content_scope(a, x, 0);
    assert_string_equal(s->cover->beneficiary_name, "Léa");
    assert_string_equal(s->follow_up, "");
    bsl_arena_free(a);
}

static void mask_sections_round_trip(void **state)
{
    (void)state;
    bsl_arena *a = bsl_arena_create();
    size_t n = 0;
    Boussole__V1__SynthesisSection *s = syn_mask_sections(a, SYN_MASK_SHAREABLE, &n);
    assert_int_equal(n, 9);
    assert_int_equal(s[0], SEC(CIRCUMSTANCES));
    assert_int_equal(s[8], SEC(OBSERVATIONS));
    s = syn_mask_sections(a, SYN_MASK_COUNSELOR, &n);
    assert_int_equal(n, 9);
    for (size_t i = 0; i < n; i++) {
        assert_int_not_equal(s[i], SEC(OBSERVATIONS));
    }
    bsl_arena_free(a);
}

static void rev_meta_and_grant_state_formats(void **state)
{
    (void)state;
    syn_rev_meta m = { .version = 2, .ms = 1798000000123, .role = 2, .kind = 3, .changed = 0x14 };
    snprintf(m.author, sizeof(m.author), "c-marie@org.fr");
    char buf[320];
    syn_rev_meta_format(buf, sizeof(buf), &m);
    assert_string_equal(buf, "2|1798000000123|2|3|20|c-marie@org.fr");
    syn_rev_meta back;
    assert_true(syn_rev_meta_parse(buf, strlen(buf), &back));
    assert_int_equal(back.version, 2);
    assert_true(back.ms == 1798000000123);
    assert_int_equal(back.changed, 0x14);
    assert_string_equal(back.author, "c-marie@org.fr");
    assert_false(syn_rev_meta_parse("2|3|4", 5, &back));
    assert_false(syn_rev_meta_parse("", 0, &back));

    syn_grant_state g = {
        .create_ms = 10, .expire_ms = 20, .revoke_ms = 0, .kind = 1, .mask = SYN_MASK_SHAREABLE
    };
    snprintf(g.grantee, sizeof(g.grantee), "tp-cep");
    syn_grant_state_format(buf, sizeof(buf), &g);
    assert_string_equal(buf, "10|20|0|1|1022|tp-cep");
    syn_grant_state h;
    assert_true(syn_grant_state_parse(buf, strlen(buf), &h));
    assert_string_equal(h.grantee, "tp-cep");
    assert_int_equal(h.mask, SYN_MASK_SHAREABLE);
    /* A mask outside the shareable sections is not a grant state. */
    assert_false(syn_grant_state_parse("10|20|0|1|2048|", 15, &h));
    assert_false(syn_grant_state_parse("10|20|0", 7, &h));

    bsl_arena *a = bsl_arena_create();
    Boussole__V1__SynthesisGrant *out = syn_grant_build(a, "b", "g", &g, 15);
    assert_true(out->live);
    assert_int_equal(out->n_sections, 0); /* the whole document */
    out = syn_grant_build(a, "b", "g", &g, 20);
    assert_false(out->live); /* expired at 20 */
    g.revoke_ms = 12;
    out = syn_grant_build(a, "b", "g", &g, 11);
    assert_false(out->live);
    g.mask = SYN_MASK(SEC(SKILLS));
    out = syn_grant_build(a, "b", "g", &g, 11);
    assert_int_equal(out->n_sections, 1);
    bsl_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(merge_replaces_only_the_sections_given),
        cmocka_unit_test(diff_names_the_changed_sections),
        cmocka_unit_test(scope_keeps_the_granted_sections_and_the_cover),
        cmocka_unit_test(mask_sections_round_trip),
        cmocka_unit_test(rev_meta_and_grant_state_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
