/*
 * The permission matrix of the syntheses service (services/syntheses/README.md), cell by cell,
 * against real processes: every method called by the bilan's beneficiary, its counselor,
 * another counselor of the organisation, an admin of the organisation, an admin of another
 * organisation, another beneficiary, a third-party account holding a grant bound to it, a
 * Boussole service, and an anonymous caller. The synthesis is a draft in a bilan in its
 * conclusion phase; each cell's expected status is exact, so a changed rule fails here.
 *
 * Rows are called in order, each column in order; the expected answers of the cells that are
 * allowed follow from the state the earlier cells left (e.g. ApproveSynthesis on a draft is
 * allowed for the beneficiary but answers FAILED_PRECONDITION).
 */
#include "syntheses_helpers.h"

enum { BEN, COU, COU2, ADM, ADM2, BEN2, TP, SVC, ANON, N_COLS };

static const char *const col_names[N_COLS] = {
    "beneficiary",       "counselor",           "other counselor", "admin",     "other org's admin",
    "other beneficiary", "third party (grant)", "service",         "anonymous",
};

#define OK BSL_STATUS_OK
#define PD BSL_STATUS_PERMISSION_DENIED
#define NF BSL_STATUS_NOT_FOUND
#define UA BSL_STATUS_UNAUTHENTICATED
#define FP BSL_STATUS_FAILED_PRECONDITION
#define AE BSL_STATUS_ALREADY_EXISTS

static char bilan[32];
static char token[128];
static char revoke_grants[N_COLS][32];
static int column;

static int setup(void **state)
{
    (void)state;
    start_all("syntheses-matrix", false, NULL);
    snprintf(bilan, sizeof(bilan), "%s", bilan_in_conclusion("b-lea"));
    Boussole__V1__Synthesis *s = draft(bilan);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    expect_status(grant(bilan, "b-lea",
                        BOUSSOLE__V1__SYNTHESIS_THIRD_PARTY_KIND__SYNTHESIS_THIRD_PARTY_KIND_CEP,
                        NULL, 0, NULL, 30 * DAY_MS, NULL, token),
                  BSL_STATUS_OK);
    expect_status(
        grant(bilan, "b-lea",
              BOUSSOLE__V1__SYNTHESIS_THIRD_PARTY_KIND__SYNTHESIS_THIRD_PARTY_KIND_EMPLOYER, NULL,
              0, "tp-cep", 30 * DAY_MS, NULL, NULL),
        BSL_STATUS_OK);
    /* One grant per column for RevokeSynthesisGrant, so that each cell revokes a live one. */
    for (int i = 0; i < N_COLS; i++) {
        expect_status(
            grant(bilan, "b-lea",
                  BOUSSOLE__V1__SYNTHESIS_THIRD_PARTY_KIND__SYNTHESIS_THIRD_PARTY_KIND_OTHER, NULL,
                  0, NULL, 30 * DAY_MS, revoke_grants[i], NULL),
            BSL_STATUS_OK);
    }
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

static uint64_t current_revision(void)
{
    Boussole__V1__Caller co = counselor();
    Boussole__V1__Synthesis *s = NULL;
    expect_status(get_synthesis(bilan, &co, 0, &s), BSL_STATUS_OK);
    uint64_t rev = s->current_revision;
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return rev;
}

/* ---- one function per row: a valid request of the method ----------------------------------- */

typedef bsl_status (*row_fn)(const Boussole__V1__Caller *c);

static bsl_status r_add_comment(const Boussole__V1__Caller *c)
{
    Boussole__V1__AddSynthesisCommentRequest r = BOUSSOLE__V1__ADD_SYNTHESIS_COMMENT_REQUEST__INIT;
    r.bilan_id = bilan;
    r.text = "Un commentaire.";
    return syn("AddSynthesisComment", &r.base, c, NULL);
}

static bsl_status r_approve(const Boussole__V1__Caller *c)
{
    Boussole__V1__ApproveSynthesisRequest r = BOUSSOLE__V1__APPROVE_SYNTHESIS_REQUEST__INIT;
    r.bilan_id = bilan;
    r.revision = current_revision();
    return syn("ApproveSynthesis", &r.base, c, NULL);
}

static bsl_status r_create_grant(const Boussole__V1__Caller *c)
{
    Boussole__V1__CreateSynthesisGrantRequest r =
        BOUSSOLE__V1__CREATE_SYNTHESIS_GRANT_REQUEST__INIT;
    r.bilan_id = bilan;
    r.kind = BOUSSOLE__V1__SYNTHESIS_THIRD_PARTY_KIND__SYNTHESIS_THIRD_PARTY_KIND_FUNDER;
    r.third_party_name = "Transitions Pro";
    r.expire_time = from_now(DAY_MS);
    return syn("CreateSynthesisGrant", &r.base, c, NULL);
}

static bsl_status r_draft(const Boussole__V1__Caller *c)
{
    Boussole__V1__DraftSynthesisRequest r = BOUSSOLE__V1__DRAFT_SYNTHESIS_REQUEST__INIT;
    r.bilan_id = bilan;
    return syn("DraftSynthesis", &r.base, c, NULL);
}

static bsl_status r_get(const Boussole__V1__Caller *c)
{
    return get_synthesis(bilan, c, 0, NULL);
}

static bsl_status r_get_retention(const Boussole__V1__Caller *c)
{
    Boussole__V1__GetSynthesisRetentionRequest r =
        BOUSSOLE__V1__GET_SYNTHESIS_RETENTION_REQUEST__INIT;
    r.bilan_id = bilan;
    return syn("GetSynthesisRetention", &r.base, c, NULL);
}

static bsl_status r_access_log(const Boussole__V1__Caller *c)
{
    Boussole__V1__ListSynthesisAccessLogRequest r =
        BOUSSOLE__V1__LIST_SYNTHESIS_ACCESS_LOG_REQUEST__INIT;
    r.bilan_id = bilan;
    return syn("ListSynthesisAccessLog", &r.base, c, NULL);
}

static bsl_status r_list_comments(const Boussole__V1__Caller *c)
{
    Boussole__V1__ListSynthesisCommentsRequest r =
        BOUSSOLE__V1__LIST_SYNTHESIS_COMMENTS_REQUEST__INIT;
    r.bilan_id = bilan;
    return syn("ListSynthesisComments", &r.base, c, NULL);
}

static bsl_status r_list_grants(const Boussole__V1__Caller *c)
{
    Boussole__V1__ListSynthesisGrantsRequest r = BOUSSOLE__V1__LIST_SYNTHESIS_GRANTS_REQUEST__INIT;
    r.bilan_id = bilan;
    return syn("ListSynthesisGrants", &r.base, c, NULL);
}

static bsl_status r_list_revisions(const Boussole__V1__Caller *c)
{
    Boussole__V1__ListSynthesisRevisionsRequest r =
        BOUSSOLE__V1__LIST_SYNTHESIS_REVISIONS_REQUEST__INIT;
    r.bilan_id = bilan;
    return syn("ListSynthesisRevisions", &r.base, c, NULL);
}

static bsl_status r_render(const Boussole__V1__Caller *c)
{
    Boussole__V1__RenderSynthesisRequest r = BOUSSOLE__V1__RENDER_SYNTHESIS_REQUEST__INIT;
    r.bilan_id = bilan;
    r.format = BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_MARKDOWN;
    return syn("RenderSynthesis", &r.base, c, NULL);
}

static bsl_status r_request_changes(const Boussole__V1__Caller *c)
{
    Boussole__V1__RequestSynthesisChangesRequest r =
        BOUSSOLE__V1__REQUEST_SYNTHESIS_CHANGES_REQUEST__INIT;
    r.bilan_id = bilan;
    r.base_revision = current_revision();
    r.comment = "À revoir.";
    return syn("RequestSynthesisChanges", &r.base, c, NULL);
}

static bsl_status r_revoke(const Boussole__V1__Caller *c)
{
    Boussole__V1__RevokeSynthesisGrantRequest r =
        BOUSSOLE__V1__REVOKE_SYNTHESIS_GRANT_REQUEST__INIT;
    r.bilan_id = bilan;
    r.grant_id = revoke_grants[column];
    return syn("RevokeSynthesisGrant", &r.base, c, NULL);
}

static bsl_status r_save(const Boussole__V1__Caller *c)
{
    static int n;
    char text[64];
    snprintf(text, sizeof(text), "Texte numéro %d.", ++n);
    Boussole__V1__SynthesisContent content = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    content.skills = text;
    content.beneficiary_observations = text;
    /* Each writes what its role may write (empty list: all of it). */
    return save(bilan, c, current_revision(), &content, NULL, 0, NULL, NULL);
}

static bsl_status r_set_consent(const Boussole__V1__Caller *c)
{
    Boussole__V1__SetRetentionConsentRequest r = BOUSSOLE__V1__SET_RETENTION_CONSENT_REQUEST__INIT;
    r.bilan_id = bilan;
    r.keep = true;
    return syn("SetRetentionConsent", &r.base, c, NULL);
}

static bsl_status r_correction(const Boussole__V1__Caller *c)
{
    Boussole__V1__StartSynthesisCorrectionRequest r =
        BOUSSOLE__V1__START_SYNTHESIS_CORRECTION_REQUEST__INIT;
    r.bilan_id = bilan;
    r.base_revision = current_revision();
    r.reason = "Correction.";
    return syn("StartSynthesisCorrection", &r.base, c, NULL);
}

static bsl_status r_submit(const Boussole__V1__Caller *c)
{
    Boussole__V1__SubmitSynthesisRequest r = BOUSSOLE__V1__SUBMIT_SYNTHESIS_REQUEST__INIT;
    r.bilan_id = bilan;
    r.base_revision = current_revision();
    return syn("SubmitSynthesis", &r.base, c, NULL);
}

static bsl_status r_shared(const Boussole__V1__Caller *c)
{
    Boussole__V1__GetSharedSynthesisRequest r = BOUSSOLE__V1__GET_SHARED_SYNTHESIS_REQUEST__INIT;
    r.share_token = token;
    return syn("GetSharedSynthesis", &r.base, c, NULL);
}

static bsl_status r_granted(const Boussole__V1__Caller *c)
{
    Boussole__V1__GetGrantedSynthesisRequest r = BOUSSOLE__V1__GET_GRANTED_SYNTHESIS_REQUEST__INIT;
    r.bilan_id = bilan;
    return syn("GetGrantedSynthesis", &r.base, c, NULL);
}

static bsl_status r_shared_with_me(const Boussole__V1__Caller *c)
{
    Boussole__V1__ListSynthesesSharedWithMeRequest r =
        BOUSSOLE__V1__LIST_SYNTHESES_SHARED_WITH_ME_REQUEST__INIT;
    return syn("ListSynthesesSharedWithMe", &r.base, c, NULL);
}

static bsl_status r_export(const Boussole__V1__Caller *c)
{
    Boussole__V1__ExportBeneficiaryDataRequest r =
        BOUSSOLE__V1__EXPORT_BENEFICIARY_DATA_REQUEST__INIT;
    r.beneficiary_id = "b-lea";
    return syn("ExportBeneficiaryData", &r.base, c, NULL);
}

static bsl_status r_bundle(const Boussole__V1__Caller *c)
{
    Boussole__V1__ExportBeneficiaryBundleRequest r =
        BOUSSOLE__V1__EXPORT_BENEFICIARY_BUNDLE_REQUEST__INIT;
    r.beneficiary_id = "b-lea";
    return syn("ExportBeneficiaryBundle", &r.base, c, NULL);
}

static bsl_status r_sweep(const Boussole__V1__Caller *c)
{
    Boussole__V1__RunRetentionSweepRequest r = BOUSSOLE__V1__RUN_RETENTION_SWEEP_REQUEST__INIT;
    return syn("RunRetentionSweep", &r.base, c, NULL);
}

static bsl_status r_destructions(const Boussole__V1__Caller *c)
{
    Boussole__V1__ListDestructionRecordsRequest r =
        BOUSSOLE__V1__LIST_DESTRUCTION_RECORDS_REQUEST__INIT;
    return syn("ListDestructionRecords", &r.base, c, NULL);
}

static bsl_status r_erase(const Boussole__V1__Caller *c)
{
    /* A bilan with nothing here: the cell checks who may call, not what erasure does. */
    Boussole__V1__EraseBilanDataRequest r = BOUSSOLE__V1__ERASE_BILAN_DATA_REQUEST__INIT;
    r.bilan_id = NO_SUCH_ID;
    r.reason = "test";
    return syn("EraseBilanData", &r.base, c, NULL);
}

/* ---- the matrix ---------------------------------------------------------------------------- */

static const struct row {
    const char *method;
    row_fn call;
    bsl_status want[N_COLS];
} matrix[] = {
    /*                                           BEN COU COU2 ADM ADM2 BEN2 TP SVC ANON */
    { "AddSynthesisComment", r_add_comment, { OK, OK, NF, PD, NF, NF, NF, PD, UA } },
    { "ApproveSynthesis", r_approve, { FP, PD, NF, PD, NF, NF, NF, PD, UA } },
    { "CreateSynthesisGrant", r_create_grant, { OK, PD, NF, PD, NF, NF, NF, PD, UA } },
    { "DraftSynthesis", r_draft, { PD, AE, NF, PD, NF, NF, NF, PD, UA } },
    { "GetSynthesis", r_get, { OK, OK, NF, PD, NF, NF, NF, PD, UA } },
    { "GetSynthesisRetention", r_get_retention, { OK, OK, NF, PD, NF, NF, NF, PD, UA } },
    { "ListSynthesisAccessLog", r_access_log, { OK, PD, NF, PD, NF, NF, NF, PD, UA } },
    { "ListSynthesisComments", r_list_comments, { OK, OK, NF, PD, NF, NF, NF, PD, UA } },
    { "ListSynthesisGrants", r_list_grants, { OK, PD, NF, PD, NF, NF, NF, PD, UA } },
    { "ListSynthesisRevisions", r_list_revisions, { OK, OK, NF, PD, NF, NF, NF, PD, UA } },
    { "RenderSynthesis", r_render, { OK, OK, NF, PD, NF, NF, NF, PD, UA } },
    { "RequestSynthesisChanges", r_request_changes, { FP, PD, NF, PD, NF, NF, NF, PD, UA } },
    { "RevokeSynthesisGrant", r_revoke, { OK, PD, NF, PD, NF, NF, NF, PD, UA } },
    { "SaveSynthesisRevision", r_save, { OK, OK, NF, PD, NF, NF, NF, PD, UA } },
    { "SetRetentionConsent", r_set_consent, { OK, PD, NF, PD, NF, NF, NF, PD, UA } },
    { "StartSynthesisCorrection", r_correction, { PD, FP, NF, PD, NF, NF, NF, PD, UA } },
    { "SubmitSynthesis", r_submit, { PD, OK, NF, PD, NF, NF, NF, PD, UA } },
    /* Not final yet: whoever holds the token gets FAILED_PRECONDITION, account or none. */
    { "GetSharedSynthesis", r_shared, { FP, FP, FP, FP, FP, FP, FP, FP, FP } },
    { "GetGrantedSynthesis", r_granted, { PD, PD, PD, PD, PD, PD, FP, PD, UA } },
    { "ListSynthesesSharedWithMe", r_shared_with_me, { PD, PD, PD, PD, PD, PD, OK, PD, UA } },
    { "ExportBeneficiaryData", r_export, { OK, PD, PD, PD, PD, PD, PD, OK, UA } },
    { "ExportBeneficiaryBundle", r_bundle, { OK, PD, PD, PD, PD, PD, PD, PD, UA } },
    { "ListDestructionRecords", r_destructions, { PD, PD, PD, OK, OK, PD, PD, OK, UA } },
    { "RunRetentionSweep", r_sweep, { PD, PD, PD, PD, PD, PD, PD, OK, PD } },
    { "EraseBilanData", r_erase, { PD, PD, PD, PD, PD, PD, PD, OK, PD } },
};

static void every_cell(void **state)
{
    (void)state;
    Boussole__V1__Caller callers[N_COLS] = {
        [BEN] = beneficiary(),        [COU] = counselor(),
        [COU2] = other_counselor(),   [ADM] = admin(),
        [ADM2] = other_admin(),       [BEN2] = beneficiary_of("b-autre"),
        [TP] = third_party("tp-cep"), [SVC] = service_caller(),
    };
    int failures = 0;
    for (size_t r = 0; r < sizeof(matrix) / sizeof(matrix[0]); r++) {
        for (column = 0; column < N_COLS; column++) {
            bsl_status got = matrix[r].call(column == ANON ? NULL : &callers[column]);
            if (got != matrix[r].want[column]) {
                fprintf(stderr, "%s by %s: want %s, got %s (%s)\n", matrix[r].method,
                        col_names[column], bsl_status_name(matrix[r].want[column]),
                        bsl_status_name(got), last_msg);
                failures++;
            }
        }
    }
    assert_int_equal(failures, 0);
}

/* Every method of the service has a row. */
static void every_method(void **state)
{
    (void)state;
    const bsl_service_info *svc = bsl_schema_service("boussole.v1.SynthesisService");
    assert_non_null(svc);
    assert_int_equal(svc->n_methods, sizeof(matrix) / sizeof(matrix[0]));
    for (size_t i = 0; i < svc->n_methods; i++) {
        bool found = false;
        for (size_t r = 0; r < sizeof(matrix) / sizeof(matrix[0]) && !found; r++) {
            found = strcmp(matrix[r].method, svc->methods[i].name) == 0;
        }
        if (!found) {
            fail_msg("%s has no row in the matrix", svc->methods[i].name);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_method),
        cmocka_unit_test(every_cell),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
