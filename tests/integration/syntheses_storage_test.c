/*
 * What Redis holds is unreadable: a synthesis with distinctive words in every free-text place
 * (content, observations, change notes, comments, a request for changes, grant names and
 * notes, a correction's reason) and a share token; then a raw dump of Redis (redis-cli --rdb,
 * with compression off so that a plaintext could not hide in LZF) and the append-only file are
 * searched for each of them, and so are the services' logs. A positive control (the bilan's id,
 * which is not secret) proves the search sees what is there.
 */
#include <dirent.h>

#include "syntheses_helpers.h"

static int setup(void **state)
{
    (void)state;
    start_all("syntheses-storage", true, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!stop_all()) {
        exit(1); /* cmocka ignores a failed group teardown */
    }
    return 0;
}

/* Words that appear nowhere but where the test puts them. */
static const char *const secrets[] = {
    "Zephyrine-cuisine-moleculaire",  /* content: skills */
    "Kalimba-atelier-de-poterie",     /* content: a project */
    "Observation-Quetzalcoatl",       /* the beneficiary's observations */
    "Note-de-revision-Ornithorynque", /* a change note */
    "Commentaire-Balthazar-Tsunami",  /* a comment */
    "Demande-Xylophone-Clementine",   /* a request for changes */
    "Tiers-Gargantua-Recrutement",    /* a grant's third party */
    "Pense-bete-Mandragore",          /* a grant's note */
    "Correction-Hippocampe-Sauvage",  /* a correction's reason */
};

enum {
    S_SKILLS,
    S_PROJECT,
    S_OBS,
    S_NOTE,
    S_COMMENT,
    S_CHANGES,
    S_GRANT_NAME,
    S_GRANT_NOTE,
    S_REASON,
    N_SECRETS
};

static char token[128];
static char bilan[32];

static void write_everything(void)
{
    snprintf(bilan, sizeof(bilan), "%s", bilan_in_conclusion("b-lea"));
    Boussole__V1__Synthesis *s = draft(bilan);
    uint64_t rev = s->current_revision;
    protobuf_c_message_free_unpacked(&s->base, NULL);
    Boussole__V1__Caller co = counselor(), be = beneficiary();

    Boussole__V1__SynthesisProject pr = BOUSSOLE__V1__SYNTHESIS_PROJECT__INIT;
    pr.title = (char *)secrets[S_PROJECT];
    Boussole__V1__SynthesisProject *prs[] = { &pr };
    Boussole__V1__SynthesisContent c = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    c.skills = (char *)secrets[S_SKILLS];
    c.projects = prs;
    c.n_projects = 1;
    Boussole__V1__SynthesisSection secs[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS,
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_PROJECTS,
    };
    expect_status(save(bilan, &co, rev, &c, secs, 2, secrets[S_NOTE], &s), BSL_STATUS_OK);
    rev = s->current_revision;
    protobuf_c_message_free_unpacked(&s->base, NULL);
    Boussole__V1__SynthesisContent obs = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    obs.beneficiary_observations = (char *)secrets[S_OBS];
    expect_status(save(bilan, &be, rev, &obs, NULL, 0, NULL, &s), BSL_STATUS_OK);
    rev = s->current_revision;
    protobuf_c_message_free_unpacked(&s->base, NULL);

    Boussole__V1__AddSynthesisCommentRequest ac = BOUSSOLE__V1__ADD_SYNTHESIS_COMMENT_REQUEST__INIT;
    ac.bilan_id = bilan;
    ac.text = (char *)secrets[S_COMMENT];
    expect_status(syn("AddSynthesisComment", &ac.base, &be, NULL), BSL_STATUS_OK);
    expect_status(submit(bilan, rev), BSL_STATUS_OK);
    Boussole__V1__RequestSynthesisChangesRequest rc =
        BOUSSOLE__V1__REQUEST_SYNTHESIS_CHANGES_REQUEST__INIT;
    rc.bilan_id = bilan;
    rc.base_revision = rev;
    rc.comment = (char *)secrets[S_CHANGES];
    expect_status(syn("RequestSynthesisChanges", &rc.base, &be, NULL), BSL_STATUS_OK);
    expect_status(submit(bilan, rev), BSL_STATUS_OK);
    expect_status(approve(bilan, "b-lea", rev), BSL_STATUS_OK);

    Boussole__V1__CreateSynthesisGrantRequest gr =
        BOUSSOLE__V1__CREATE_SYNTHESIS_GRANT_REQUEST__INIT;
    gr.bilan_id = bilan;
    gr.kind = BOUSSOLE__V1__SYNTHESIS_THIRD_PARTY_KIND__SYNTHESIS_THIRD_PARTY_KIND_EMPLOYER;
    gr.third_party_name = (char *)secrets[S_GRANT_NAME];
    gr.note = (char *)secrets[S_GRANT_NOTE];
    gr.expire_time = from_now(10 * DAY_MS);
    ProtobufCMessage *resp = NULL;
    expect_status(syn("CreateSynthesisGrant", &gr.base, &be, &resp), BSL_STATUS_OK);
    snprintf(token, sizeof(token), "%s",
             ((Boussole__V1__CreateSynthesisGrantResponse *)resp)->share_token);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* The content is read back through the token and rendered: reads leave nothing in clear
     * either. */
    Boussole__V1__SharedSynthesis *sh = NULL;
    expect_status(
        shared_read(token, BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_MARKDOWN, &sh),
        BSL_STATUS_OK);
    assert_string_equal(sh->content->skills, secrets[S_SKILLS]);
    protobuf_c_message_free_unpacked(&sh->base, NULL);

    Boussole__V1__StartSynthesisCorrectionRequest sc =
        BOUSSOLE__V1__START_SYNTHESIS_CORRECTION_REQUEST__INIT;
    sc.bilan_id = bilan;
    sc.base_revision = rev;
    sc.reason = (char *)secrets[S_REASON];
    expect_status(syn("StartSynthesisCorrection", &sc.base, &co, NULL), BSL_STATUS_OK);

    /* Everything reads back in clear through the API. */
    expect_status(get_synthesis(bilan, &be, 0, &s), BSL_STATUS_OK);
    assert_string_equal(s->content->skills, secrets[S_SKILLS]);
    assert_string_equal(s->content->beneficiary_observations, secrets[S_OBS]);
    assert_string_equal(s->versions[1]->correction_reason, secrets[S_REASON]);
    protobuf_c_message_free_unpacked(&s->base, NULL);
}

static void search(const char *what, const char *data, size_t len)
{
    assert_true(len > 0);
    /* The control: the dump holds the synthesis' keys, so the search sees plain bytes. */
    char key[64];
    snprintf(key, sizeof(key), "synth:{%s}", bilan);
    if (!contains(data, len, key)) {
        fail_msg("%s: the positive control (%s) is missing: the search is blind", what, key);
    }
    for (size_t i = 0; i < N_SECRETS; i++) {
        if (contains(data, len, secrets[i])) {
            fail_msg("%s holds \"%s\" in clear", what, secrets[i]);
        }
    }
    if (contains(data, len, token) || contains(data, len, token + 6 + 26)) {
        fail_msg("%s holds the share token", what);
    }
}

static void raw_dump_has_no_plaintext(void **state)
{
    (void)state;
    write_everything();
    char *out = te_redis_cli(&env, "CONFIG SET rdbcompression no");
    assert_string_equal(out, "OK");
    free(out);
    char path[1200], args[1300];
    snprintf(path, sizeof(path), "%s/raw-dump.rdb", env.dir);
    snprintf(args, sizeof(args), "--rdb '%s'", path);
    free(te_redis_cli(&env, args));
    size_t len = 0;
    char *dump = slurp(path, &len);
    assert_non_null(dump);
    search("the RDB dump", dump, len);
    free(dump);

    /* The append-only file(s). */
    char dir[1200];
    snprintf(dir, sizeof(dir), "%s/appendonlydir", env.dir);
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".aof") == NULL) {
            continue;
        }
        if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path)) {
            continue;
        }
        char *aof = slurp(path, &len);
        if (aof != NULL && len > 0 && contains(aof, len, "synth:{")) {
            search(e->d_name, aof, len);
            files++;
        }
        free(aof);
    }
    closedir(d);
    assert_true(files >= 1);
}

static void logs_have_no_plaintext(void **state)
{
    (void)state;
    te_proc *procs[] = { &p_sessions, &p_questionnaires, &p_syntheses };
    for (size_t i = 0; i < 3; i++) {
        size_t len = 0;
        char *log = slurp(procs[i]->log, &len);
        assert_non_null(log);
        assert_true(contains(log, len, "\"level\""));
        for (size_t k = 0; k < N_SECRETS; k++) {
            if (contains(log, len, secrets[k])) {
                fail_msg("the %s log holds \"%s\"", procs[i]->name, secrets[k]);
            }
        }
        assert_false(contains(log, len, token + 6 + 26));
        free(log);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(raw_dump_has_no_plaintext),
        cmocka_unit_test(logs_have_no_plaintext),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
