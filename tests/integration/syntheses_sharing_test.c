/*
 * Consent and sharing against real processes: only the beneficiary grants; a third party reads
 * nothing before the synthesis is final, then only the granted sections, only while the grant
 * lives (revocation, expiry with the test clock); share tokens are stored as hashes; grants
 * bound to a known account; bad grants refused; and the access log, which records every read
 * and which only the beneficiary reads.
 */
#include "syntheses_helpers.h"

static char bilan[32];

static int setup(void **state)
{
    (void)state;
    start_all("syntheses-sharing", false, NULL);
    snprintf(bilan, sizeof(bilan), "%s", bilan_in_conclusion("b-lea"));
    Boussole__V1__Synthesis *s = draft(bilan);
    protobuf_c_message_free_unpacked(&s->base, NULL);
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

#define DAYS(n)  ((long long)(n)*DAY_MS)
#define CEP      BOUSSOLE__V1__SYNTHESIS_THIRD_PARTY_KIND__SYNTHESIS_THIRD_PARTY_KIND_CEP
#define EMPLOYER BOUSSOLE__V1__SYNTHESIS_THIRD_PARTY_KIND__SYNTHESIS_THIRD_PARTY_KIND_EMPLOYER
#define FUNDER   BOUSSOLE__V1__SYNTHESIS_THIRD_PARTY_KIND__SYNTHESIS_THIRD_PARTY_KIND_FUNDER

static char whole_token[128], whole_grant[32];

/* Only the beneficiary grants; a grant made on a draft reads nothing until the synthesis is
 * final. */
static void draft_is_not_shared(void **state)
{
    (void)state;
    Boussole__V1__CreateSynthesisGrantRequest req =
        BOUSSOLE__V1__CREATE_SYNTHESIS_GRANT_REQUEST__INIT;
    req.bilan_id = bilan;
    req.kind = CEP;
    req.third_party_name = "APEC";
    req.expire_time = from_now(DAYS(30));
    Boussole__V1__Caller co = counselor(), ad = admin(), tp = third_party("tp-cep");
    expect_status(syn("CreateSynthesisGrant", &req.base, &co, NULL), BSL_STATUS_PERMISSION_DENIED);
    expect_status(syn("CreateSynthesisGrant", &req.base, &ad, NULL), BSL_STATUS_PERMISSION_DENIED);
    expect_status(syn("CreateSynthesisGrant", &req.base, &tp, NULL), BSL_STATUS_NOT_FOUND);

    expect_status(grant(bilan, "b-lea", CEP, NULL, 0, NULL, DAYS(30), whole_grant, whole_token),
                  BSL_STATUS_OK);
    assert_int_equal(strlen(whole_token), 5 + 26 + 1 + 64);
    assert_memory_equal(whole_token, "bss1.", 5);
    /* Only a hash of the token is stored. */
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "HGETALL synth:{%s}:tokens", bilan);
    char *tokens = te_redis_cli(&env, cmd);
    assert_null(strstr(tokens, whole_token));
    assert_null(strstr(tokens, whole_token + 32)); /* not even the secret part */
    assert_non_null(strstr(tokens, whole_grant));
    free(tokens);

    Boussole__V1__SharedSynthesis *sh = NULL;
    expect_status(shared_read(whole_token, 0, &sh), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition(c_syntheses, "SYNTHESIS_NOT_FINAL"));
}

/* Once final, the token reads the whole document; revoked, it reads nothing. */
static void grant_read_revoke(void **state)
{
    (void)state;
    uint64_t final_rev = finalise(bilan, "b-lea");
    Boussole__V1__SharedSynthesis *sh = NULL;
    expect_status(
        shared_read(whole_token, BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_STRUCTURED, &sh),
        BSL_STATUS_OK);
    assert_string_equal(sh->bilan_id, bilan);
    assert_int_equal(sh->version, 1);
    assert_int_equal(sh->revision, final_rev);
    assert_int_equal(sh->n_sections, 9);
    assert_string_equal(sh->content->skills, "Organisation rigoureuse, écoute, rédaction.");
    assert_string_equal(sh->content->beneficiary_observations,
                        "Je valide ce projet avec enthousiasme.");
    assert_string_equal(sh->content->cover->beneficiary_name, "Léa Dubois");
    assert_non_null(sh->rendering);
    assert_int_equal(sh->rendering->document->n_sections, 9);
    assert_int_equal(sh->n_grants, 1);
    assert_string_equal(sh->grants[0]->id, whole_grant);
    assert_true(sh->grants[0]->live);
    /* Third parties do not see names or notes of grants. */
    assert_string_equal(sh->grants[0]->third_party_name, "");
    assert_string_equal(sh->grants[0]->note, "");
    protobuf_c_message_free_unpacked(&sh->base, NULL);

    /* The beneficiary's list shows it with its name and note. */
    Boussole__V1__ListSynthesisGrantsRequest lg = BOUSSOLE__V1__LIST_SYNTHESIS_GRANTS_REQUEST__INIT;
    lg.bilan_id = bilan;
    Boussole__V1__Caller be = beneficiary(), co = counselor();
    ProtobufCMessage *resp = NULL;
    expect_status(syn("ListSynthesisGrants", &lg.base, &co, NULL), BSL_STATUS_PERMISSION_DENIED);
    expect_status(syn("ListSynthesisGrants", &lg.base, &be, &resp), BSL_STATUS_OK);
    Boussole__V1__ListSynthesisGrantsResponse *gl =
        (Boussole__V1__ListSynthesisGrantsResponse *)resp;
    assert_int_equal(gl->n_grants, 1);
    assert_string_equal(gl->grants[0]->third_party_name, "Conseillère CEP de l'APEC");
    assert_string_equal(gl->grants[0]->note, "Envoyé avant le rendez-vous du 12 mars");
    assert_int_equal(gl->grants[0]->n_sections, 0); /* the whole document */
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Revoked: at once, and again is a no-op. */
    expect_status(revoke(bilan, "b-lea", whole_grant), BSL_STATUS_OK);
    expect_status(shared_read(whole_token, 0, NULL), BSL_STATUS_PERMISSION_DENIED);
    assert_non_null(strstr(last_msg, "revoked"));
    expect_status(revoke(bilan, "b-lea", whole_grant), BSL_STATUS_OK);
    expect_status(shared_read(whole_token, 0, NULL), BSL_STATUS_PERMISSION_DENIED);
    expect_status(revoke(bilan, "b-lea", NO_SUCH_ID), BSL_STATUS_NOT_FOUND);
    expect_status(syn("ListSynthesisGrants", &lg.base, &be, &resp), BSL_STATUS_OK);
    gl = (Boussole__V1__ListSynthesisGrantsResponse *)resp;
    assert_false(gl->grants[0]->live);
    assert_non_null(gl->grants[0]->revoke_time);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Tokens that are not tokens, or that no grant gave. */
    expect_status(shared_read("bss1.nope", 0, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "share_token"));
    char forged[128];
    snprintf(forged, sizeof(forged), "%s", whole_token);
    forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == '0' ? '1' : '0';
    expect_status(shared_read(forged, 0, NULL), BSL_STATUS_NOT_FOUND);
}

/* A grant of chosen sections reads those sections (and the cover), nothing else. */
static void scope(void **state)
{
    (void)state;
    Boussole__V1__SynthesisSection secs[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_PROJECTS,
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_ACTION_PLAN,
    };
    char token[128], gid[32];
    expect_status(grant(bilan, "b-lea", FUNDER, secs, 2, NULL, DAYS(10), gid, token),
                  BSL_STATUS_OK);
    Boussole__V1__SharedSynthesis *sh = NULL;
    expect_status(shared_read(token, BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_PDF, &sh),
                  BSL_STATUS_OK);
    assert_int_equal(sh->n_sections, 2);
    assert_int_equal(sh->content->n_action_plan, 1);
    assert_int_equal(sh->content->n_projects, 1);
    assert_string_equal(sh->content->skills, "");
    assert_string_equal(sh->content->strengths, "");
    assert_string_equal(sh->content->circumstances, "");
    assert_string_equal(sh->content->beneficiary_observations, "");
    assert_int_equal(sh->content->n_assessments, 0);
    assert_string_equal(sh->content->cover->beneficiary_name, "Léa Dubois");
    char *text = pdf_text(sh->rendering->data.data, sh->rendering->data.len, "scoped");
    assert_non_null(strstr(text, "Projet(s) retenu(s) et pistes envisagées"));
    assert_non_null(strstr(text, "Plan d'action"));
    assert_non_null(strstr(text, "S'inscrire à la formation au permis D"));
    assert_non_null(strstr(text, "Extrait communiqué avec l'accord du bénéficiaire"));
    assert_null(strstr(text, "Compétences et aptitudes"));
    assert_null(strstr(text, "Organisation rigoureuse"));
    assert_null(strstr(text, "Je valide ce projet"));
    assert_null(strstr(text, "Assistante de direction"));
    free(text);
    protobuf_c_message_free_unpacked(&sh->base, NULL);
}

/* A grant expires: the test clock moves past it. */
static void expiry(void **state)
{
    (void)state;
    char token[128];
    expect_status(grant(bilan, "b-lea", EMPLOYER, NULL, 0, NULL, 3600 * 1000LL, NULL, token),
                  BSL_STATUS_OK);
    expect_status(shared_read(token, 0, NULL), BSL_STATUS_OK);
    move_clock(2 * 3600 * 1000LL);
    expect_status(shared_read(token, 0, NULL), BSL_STATUS_PERMISSION_DENIED);
    assert_non_null(strstr(last_msg, "expired"));
    move_clock(0);
    expect_status(shared_read(token, 0, NULL), BSL_STATUS_OK);
}

/* A grant bound to a known third-party account. */
static void bound_account(void **state)
{
    (void)state;
    Boussole__V1__SynthesisSection secs[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS,
    };
    char gid[32], token[128] = "x";
    expect_status(grant(bilan, "b-lea", EMPLOYER, secs, 1, "tp-employeur", DAYS(20), gid, token),
                  BSL_STATUS_OK);
    assert_string_equal(token, ""); /* no token for a bound grant */
    Boussole__V1__Caller tp = third_party("tp-employeur"), other = third_party("tp-autre"),
                         be = beneficiary();
    Boussole__V1__ListSynthesesSharedWithMeRequest lr =
        BOUSSOLE__V1__LIST_SYNTHESES_SHARED_WITH_ME_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    expect_status(syn("ListSynthesesSharedWithMe", &lr.base, &tp, &resp), BSL_STATUS_OK);
    Boussole__V1__ListSynthesesSharedWithMeResponse *l =
        (Boussole__V1__ListSynthesesSharedWithMeResponse *)resp;
    assert_int_equal(l->n_grants, 1);
    assert_string_equal(l->grants[0]->bilan_id, bilan);
    assert_string_equal(l->grants[0]->id, gid);
    protobuf_c_message_free_unpacked(resp, NULL);
    expect_status(syn("ListSynthesesSharedWithMe", &lr.base, &be, NULL),
                  BSL_STATUS_PERMISSION_DENIED);

    Boussole__V1__GetGrantedSynthesisRequest gr = BOUSSOLE__V1__GET_GRANTED_SYNTHESIS_REQUEST__INIT;
    gr.bilan_id = bilan;
    expect_status(syn("GetGrantedSynthesis", &gr.base, &tp, &resp), BSL_STATUS_OK);
    Boussole__V1__SharedSynthesis *sh = (Boussole__V1__SharedSynthesis *)resp;
    assert_int_equal(sh->n_sections, 1);
    assert_string_equal(sh->content->skills, "Organisation rigoureuse, écoute, rédaction.");
    assert_string_equal(sh->content->strengths, "");
    assert_null(sh->rendering);
    protobuf_c_message_free_unpacked(resp, NULL);
    expect_status(syn("GetGrantedSynthesis", &gr.base, &other, NULL), BSL_STATUS_NOT_FOUND);
    expect_status(syn("GetGrantedSynthesis", &gr.base, &be, NULL), BSL_STATUS_PERMISSION_DENIED);
    /* The account cannot use the participants' methods. */
    expect_status(get_synthesis(bilan, &tp, 0, NULL), BSL_STATUS_NOT_FOUND);

    expect_status(revoke(bilan, "b-lea", gid), BSL_STATUS_OK);
    expect_status(syn("GetGrantedSynthesis", &gr.base, &tp, NULL), BSL_STATUS_NOT_FOUND);
    expect_status(syn("ListSynthesesSharedWithMe", &lr.base, &tp, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListSynthesesSharedWithMeResponse *)resp)->n_grants, 0);
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* Bad grants: INVALID_ARGUMENT naming the field; nothing stored. */
static void bad_grants(void **state)
{
    (void)state;
    Boussole__V1__CreateSynthesisGrantRequest req =
        BOUSSOLE__V1__CREATE_SYNTHESIS_GRANT_REQUEST__INIT;
    req.bilan_id = bilan;
    req.kind = CEP;
    req.third_party_name = "APEC";
    req.expire_time = from_now(-60000);
    Boussole__V1__Caller be = beneficiary();
    expect_status(syn("CreateSynthesisGrant", &req.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "expire_time"));
    req.expire_time = NULL;
    expect_status(syn("CreateSynthesisGrant", &req.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "expire_time"));
    req.expire_time = from_now(DAYS(400));
    expect_status(syn("CreateSynthesisGrant", &req.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "expire_time"));
    req.expire_time = from_now(DAYS(5));
    req.kind = 9;
    expect_status(syn("CreateSynthesisGrant", &req.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "kind"));
    req.kind = 0;
    expect_status(syn("CreateSynthesisGrant", &req.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "kind"));
    req.kind = CEP;
    Boussole__V1__SynthesisSection outside[] = { 42 };
    req.sections = outside;
    req.n_sections = 1;
    expect_status(syn("CreateSynthesisGrant", &req.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "sections[0]"));
    Boussole__V1__SynthesisSection cover[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_COVER
    };
    req.sections = cover;
    expect_status(syn("CreateSynthesisGrant", &req.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    Boussole__V1__SynthesisSection twice[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS,
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS,
    };
    req.sections = twice;
    req.n_sections = 2;
    expect_status(syn("CreateSynthesisGrant", &req.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "sections[1]"));
    req.n_sections = 0;
    req.third_party_name = "";
    req.grantee_id = "pas valable !";
    expect_status(syn("CreateSynthesisGrant", &req.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "third_party_name"));
    assert_true(has_field_violation(c_syntheses, "grantee_id"));
    /* None of those was stored. */
    Boussole__V1__ListSynthesisGrantsRequest lg = BOUSSOLE__V1__LIST_SYNTHESIS_GRANTS_REQUEST__INIT;
    lg.bilan_id = bilan;
    ProtobufCMessage *resp = NULL;
    expect_status(syn("ListSynthesisGrants", &lg.base, &be, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListSynthesisGrantsResponse *)resp)->n_grants, 4);
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* Every read is logged (who, when, which revision, through which grant); the beneficiary alone
 * reads the log. A fresh bilan, so that the reads are exactly the ones below. */
static void access_log(void **state)
{
    (void)state;
    char id[32];
    snprintf(id, sizeof(id), "%s", bilan_in_conclusion("b-hugo"));
    uint64_t rev = final_synthesis(id, "b-hugo");
    Boussole__V1__Caller be = beneficiary_of("b-hugo"), co = counselor(), ad = admin(),
                         tp = third_party("tp-financeur");
    Boussole__V1__SynthesisSection secs[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_ACTION_PLAN,
    };
    char token[128], g1[32], g2[32];
    expect_status(grant(id, "b-hugo", CEP, NULL, 0, NULL, DAYS(30), g1, token), BSL_STATUS_OK);
    expect_status(grant(id, "b-hugo", FUNDER, secs, 1, "tp-financeur", DAYS(30), g2, NULL),
                  BSL_STATUS_OK);

    /* Reads so far: the one finalise() made to learn the current revision. */
    Boussole__V1__ListSynthesisAccessLogRequest lr =
        BOUSSOLE__V1__LIST_SYNTHESIS_ACCESS_LOG_REQUEST__INIT;
    lr.bilan_id = id;
    ProtobufCMessage *resp = NULL;
    expect_status(syn("ListSynthesisAccessLog", &lr.base, &be, &resp), BSL_STATUS_OK);
    size_t before = ((Boussole__V1__ListSynthesisAccessLogResponse *)resp)->n_entries;
    assert_int_equal(before, 1);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* 1: the counselor reads; 2: the beneficiary reads revision 1; 3: a PDF through the token;
     * 4: the bound account reads. Refused reads are not reads. */
    expect_status(get_synthesis(id, &co, 0, NULL), BSL_STATUS_OK);
    expect_status(get_synthesis(id, &be, 1, NULL), BSL_STATUS_OK);
    expect_status(shared_read(token, BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_PDF, NULL),
                  BSL_STATUS_OK);
    Boussole__V1__GetGrantedSynthesisRequest gr = BOUSSOLE__V1__GET_GRANTED_SYNTHESIS_REQUEST__INIT;
    gr.bilan_id = id;
    expect_status(syn("GetGrantedSynthesis", &gr.base, &tp, NULL), BSL_STATUS_OK);
    expect_status(get_synthesis(id, &ad, 0, NULL), BSL_STATUS_PERMISSION_DENIED);

    expect_status(syn("ListSynthesisAccessLog", &lr.base, &co, NULL), BSL_STATUS_PERMISSION_DENIED);
    expect_status(syn("ListSynthesisAccessLog", &lr.base, &ad, NULL), BSL_STATUS_PERMISSION_DENIED);
    expect_status(syn("ListSynthesisAccessLog", &lr.base, &tp, NULL), BSL_STATUS_NOT_FOUND);
    expect_status(syn("ListSynthesisAccessLog", &lr.base, &be, &resp), BSL_STATUS_OK);
    Boussole__V1__ListSynthesisAccessLogResponse *l =
        (Boussole__V1__ListSynthesisAccessLogResponse *)resp;
    assert_int_equal(l->n_entries, before + 4);
    Boussole__V1__SynthesisAccessEntry **e = l->entries + before;
    assert_string_equal(e[0]->reader_id, "c-marie");
    assert_int_equal(e[0]->reader_role, BOUSSOLE__V1__ROLE__ROLE_COUNSELOR);
    assert_int_equal(e[0]->revision, rev);
    assert_int_equal(e[0]->version, 1);
    assert_string_equal(e[0]->channel, "GetSynthesis");
    assert_int_equal(e[0]->n_grant_ids, 0);
    assert_int_equal(e[0]->n_sections, 9);
    assert_string_equal(e[1]->reader_id, "b-hugo");
    assert_int_equal(e[1]->revision, 1);
    assert_string_equal(e[2]->reader_id, "");
    assert_int_equal(e[2]->reader_role, BOUSSOLE__V1__ROLE__ROLE_UNSPECIFIED);
    assert_string_equal(e[2]->channel, "GetSharedSynthesis/pdf");
    assert_int_equal(e[2]->n_grant_ids, 1);
    assert_string_equal(e[2]->grant_ids[0], g1);
    assert_int_equal(e[2]->revision, rev);
    assert_string_equal(e[3]->reader_id, "tp-financeur");
    assert_int_equal(e[3]->reader_role, BOUSSOLE__V1__ROLE__ROLE_THIRD_PARTY);
    assert_string_equal(e[3]->grant_ids[0], g2);
    assert_int_equal(e[3]->n_sections, 1);
    assert_int_equal(e[3]->sections[0],
                     BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_ACTION_PLAN);
    long long t0 = e[0]->time->seconds;
    assert_true(llabs(t0 - service_now_ms() / 1000) < 60);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Paging. */
    Boussole__V1__PageRequest page = BOUSSOLE__V1__PAGE_REQUEST__INIT;
    page.page_size = 4;
    lr.page = &page;
    expect_status(syn("ListSynthesisAccessLog", &lr.base, &be, &resp), BSL_STATUS_OK);
    l = (Boussole__V1__ListSynthesisAccessLogResponse *)resp;
    assert_int_equal(l->n_entries, 4);
    char next[64];
    snprintf(next, sizeof(next), "%s", l->next_page_token);
    assert_string_not_equal(next, "");
    protobuf_c_message_free_unpacked(resp, NULL);
    page.page_token = next;
    expect_status(syn("ListSynthesisAccessLog", &lr.base, &be, &resp), BSL_STATUS_OK);
    l = (Boussole__V1__ListSynthesisAccessLogResponse *)resp;
    assert_int_equal(l->n_entries, 1);
    assert_string_equal(l->entries[0]->reader_id, "tp-financeur");
    protobuf_c_message_free_unpacked(resp, NULL);
    page.page_token = "not-a-token";
    expect_status(syn("ListSynthesisAccessLog", &lr.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);

    /* The log is a stream that only the service appends to. */
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "TYPE synth:{%s}:access", id);
    char *type = te_redis_cli(&env, cmd);
    assert_string_equal(type, "stream");
    free(type);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(draft_is_not_shared),
        cmocka_unit_test(grant_read_revoke),
        cmocka_unit_test(scope),
        cmocka_unit_test(expiry),
        cmocka_unit_test(bound_account),
        cmocka_unit_test(bad_grants),
        cmocka_unit_test(access_log),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
