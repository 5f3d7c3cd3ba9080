/*
 * Retention against the real processes, with the services' clock moved by the test: when a
 * bilan ends its documents are destroyed in all three services (crypto-shredding: the data
 * keys go, then the keys), except a synthesis sent to a CEP operator and documents the
 * beneficiary agreed to keep, which stay one year at most; withdrawing the agreement or
 * revoking the CEP grant ends the hold; each destruction is recorded without content; the
 * sweep's lock keeps replicas from sweeping at once; and a replica started with a short
 * interval sweeps by itself.
 */
#include "syntheses_helpers.h"

static int setup(void **state)
{
    (void)state;
    start_all("syntheses-retention", false, NULL);
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

#define YEAR_MS (365LL * DAY_MS)

/* Does the keystore still hold the bilan's data key for that scope? */
static bool has_key(const char *bilan, const char *scope)
{
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "EXISTS dek:{%s}:%s", bilan, scope);
    char *out = te_redis_cli(&env, cmd);
    bool yes = strcmp(out, "1") == 0;
    free(out);
    return yes;
}

/* Keys of the syntheses service for the bilan (a bounded SCAN: tests only). */
static int synth_keys(const char *bilan)
{
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "--scan --pattern 'synth:{%s}*'", bilan);
    char *out = te_redis_cli(&env, cmd);
    int n = 0;
    for (char *p = out; *p != '\0'; p++) {
        n += *p == '\n';
    }
    n += out[0] != '\0';
    free(out);
    return n;
}

/* What each service still gives the counselor about the bilan. */
static bsl_status read_synthesis(const char *bilan)
{
    Boussole__V1__Caller co = counselor();
    return get_synthesis(bilan, &co, 0, NULL);
}

static bsl_status read_intake(const char *bilan)
{
    Boussole__V1__GetIntakeRequest req = BOUSSOLE__V1__GET_INTAKE_REQUEST__INIT;
    req.bilan_id = (char *)bilan;
    Boussole__V1__Caller co = counselor();
    return ses("GetIntake", &req.base, &co, NULL);
}

/* A bilan in conclusion with a final synthesis; `prepare` runs before it closes. */
static const char *ended_bilan(const char *ben, void (*prepare)(const char *id, const char *ben))
{
    static char ids[8][32];
    static int next;
    char *id = ids[next++ % 8];
    snprintf(id, 32, "%s", bilan_in_conclusion(ben));
    final_synthesis(id, ben);
    if (prepare != NULL) {
        prepare(id, ben);
    }
    expect_status(advance(id, BOUSSOLE__V1__PHASE__PHASE_CLOSED, false), BSL_STATUS_OK);
    return id;
}

static void agree_to_keep(const char *id, const char *ben)
{
    Boussole__V1__SetRetentionConsentRequest req =
        BOUSSOLE__V1__SET_RETENTION_CONSENT_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.keep = true;
    Boussole__V1__Caller b = beneficiary_of(ben);
    ProtobufCMessage *resp = NULL;
    expect_status(syn("SetRetentionConsent", &req.base, &b, &resp), BSL_STATUS_OK);
    Boussole__V1__SynthesisRetention *r = (Boussole__V1__SynthesisRetention *)resp;
    assert_true(r->keep_agreed);
    assert_int_equal(r->n_decisions, 1);
    assert_true(r->decisions[0]->keep);
    assert_string_equal(r->decisions[0]->decided_by, ben);
    assert_non_null(strstr(r->decisions[0]->statement, "pendant un an au plus"));
    assert_null(r->end_time); /* still running */
    protobuf_c_message_free_unpacked(resp, NULL);
}

static char cep_token[4][128];
static char cep_grant[4][32];
static int n_cep;

static void send_to_cep(const char *id, const char *ben)
{
    expect_status(grant(id, ben,
                        BOUSSOLE__V1__SYNTHESIS_THIRD_PARTY_KIND__SYNTHESIS_THIRD_PARTY_KIND_CEP,
                        NULL, 0, NULL, 300 * DAY_MS, cep_grant[n_cep], cep_token[n_cep]),
                  BSL_STATUS_OK);
    n_cep++;
}

static bool all_keys(const char *id)
{
    return has_key(id, "sessions") && has_key(id, "questionnaires") && has_key(id, "syntheses");
}

static bool no_keys(const char *id)
{
    return !has_key(id, "sessions") && !has_key(id, "questionnaires") && !has_key(id, "syntheses");
}

static void lock_keeps_replicas_apart(void **state)
{
    (void)state;
    free(te_redis_cli(&env, "SET syntheses:sweep:lock another-replica PX 60000"));
    Boussole__V1__RetentionSweepReport *r = sweep();
    assert_false(r->ran);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* Our release never deletes another holder's lock. */
    char *v = te_redis_cli(&env, "GET syntheses:sweep:lock");
    assert_string_equal(v, "another-replica");
    free(v);
    free(te_redis_cli(&env, "DEL syntheses:sweep:lock"));
    r = sweep();
    assert_true(r->ran);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    v = te_redis_cli(&env, "EXISTS syntheses:sweep:lock");
    assert_string_equal(v, "0"); /* released */
    free(v);
}

static void destroyed_or_held(void **state)
{
    (void)state;
    char plain[32], kept[32], cep[32], withdrawn[32], revoked[32], running[32];
    snprintf(plain, sizeof(plain), "%s", ended_bilan("b-anne", NULL));
    snprintf(kept, sizeof(kept), "%s", ended_bilan("b-bruno", agree_to_keep));
    snprintf(cep, sizeof(cep), "%s", ended_bilan("b-chloe", send_to_cep));
    snprintf(withdrawn, sizeof(withdrawn), "%s", ended_bilan("b-denis", agree_to_keep));
    snprintf(revoked, sizeof(revoked), "%s", ended_bilan("b-emma", send_to_cep));
    snprintf(running, sizeof(running), "%s", bilan_in_conclusion("b-felix"));
    Boussole__V1__Synthesis *s = draft(running);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    const char *all[] = { plain, kept, cep, withdrawn, revoked, running };
    for (size_t i = 0; i < 6; i++) {
        assert_true(all_keys(all[i]));
    }

    /* The retention status the beneficiary sees. */
    Boussole__V1__GetSynthesisRetentionRequest gr =
        BOUSSOLE__V1__GET_SYNTHESIS_RETENTION_REQUEST__INIT;
    gr.bilan_id = kept;
    Boussole__V1__Caller bb = beneficiary_of("b-bruno");
    ProtobufCMessage *resp = NULL;
    expect_status(syn("GetSynthesisRetention", &gr.base, &bb, &resp), BSL_STATUS_OK);
    Boussole__V1__SynthesisRetention *ret = (Boussole__V1__SynthesisRetention *)resp;
    assert_true(ret->keep_agreed);
    assert_non_null(ret->end_time);
    assert_non_null(ret->destroy_after);
    long long kept_for = (ret->destroy_after->seconds - ret->end_time->seconds) * 1000LL;
    assert_true(kept_for == YEAR_MS);
    protobuf_c_message_free_unpacked(resp, NULL);

    Boussole__V1__RetentionSweepReport *r = sweep();
    assert_true(r->ran);
    assert_int_equal(r->examined, 5);
    assert_int_equal(r->held, 4);
    assert_int_equal(r->destroyed, 3); /* plain; the others' sessions and questionnaires */
    assert_int_equal(r->failed, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* Ended without a reason to keep: gone everywhere. */
    assert_true(no_keys(plain));
    assert_int_equal(synth_keys(plain), 0);
    expect_status(read_synthesis(plain), BSL_STATUS_NOT_FOUND);
    assert_true(read_intake(plain) != BSL_STATUS_OK);
    /* Agreed to keep: everything stays. */
    assert_true(all_keys(kept));
    expect_status(read_synthesis(kept), BSL_STATUS_OK);
    expect_status(read_intake(kept), BSL_STATUS_OK);
    /* Sent to the CEP operator: the synthesis stays (and reads through its token), the rest
     * goes. */
    assert_true(has_key(cep, "syntheses"));
    assert_false(has_key(cep, "sessions"));
    assert_false(has_key(cep, "questionnaires"));
    expect_status(shared_read(cep_token[0], 0, NULL), BSL_STATUS_OK);
    expect_status(read_synthesis(cep), BSL_STATUS_OK);
    /* The running bilan is untouched. */
    assert_true(all_keys(running));

    /* A second sweep changes nothing. */
    r = sweep();
    assert_int_equal(r->destroyed, 0);
    assert_int_equal(r->failed, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_true(all_keys(kept));
    assert_true(has_key(cep, "syntheses"));

    /* Withdrawing the agreement, revoking the CEP grant: the documents go at the next sweep. */
    Boussole__V1__SetRetentionConsentRequest wr = BOUSSOLE__V1__SET_RETENTION_CONSENT_REQUEST__INIT;
    wr.bilan_id = withdrawn;
    wr.keep = true;
    Boussole__V1__Caller bd = beneficiary_of("b-denis");
    expect_status(syn("SetRetentionConsent", &wr.base, &bd, NULL), BSL_STATUS_FAILED_PRECONDITION);
    wr.keep = false;
    expect_status(syn("SetRetentionConsent", &wr.base, &bd, &resp), BSL_STATUS_OK);
    ret = (Boussole__V1__SynthesisRetention *)resp;
    assert_false(ret->keep_agreed);
    assert_int_equal(ret->n_decisions, 2);
    protobuf_c_message_free_unpacked(resp, NULL);
    expect_status(revoke(revoked, "b-emma", cep_grant[1]), BSL_STATUS_OK);
    r = sweep();
    assert_int_equal(r->destroyed, 2);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_true(no_keys(withdrawn));
    assert_true(no_keys(revoked));
    assert_int_equal(synth_keys(withdrawn), 0);
    assert_int_equal(synth_keys(revoked), 0);
    assert_true(all_keys(kept));

    /* The CEP grant expires after 300 days: the synthesis it held goes then; the documents
     * agreed to be kept stay until the year is over. */
    move_clock(YEAR_MS - 2 * DAY_MS);
    r = sweep();
    assert_int_equal(r->destroyed, 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_true(no_keys(cep));
    assert_int_equal(synth_keys(cep), 0);
    assert_true(all_keys(kept));
    expect_status(read_synthesis(kept), BSL_STATUS_OK);
    /* One year after the end, the documents kept for the follow-up go too. */
    move_clock(YEAR_MS + DAY_MS);
    r = sweep();
    assert_int_equal(r->destroyed, 1);
    assert_int_equal(r->failed, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_true(no_keys(kept));
    assert_true(no_keys(cep));
    assert_int_equal(synth_keys(kept), 0);
    assert_int_equal(synth_keys(cep), 0);
    expect_status(read_synthesis(kept), BSL_STATUS_NOT_FOUND);
    expect_status(shared_read(cep_token[0], 0, NULL), BSL_STATUS_NOT_FOUND);
    assert_true(all_keys(running));
    move_clock(0);

    /* The destruction records: what, when, why; no content. */
    Boussole__V1__ListDestructionRecordsRequest lr =
        BOUSSOLE__V1__LIST_DESTRUCTION_RECORDS_REQUEST__INIT;
    Boussole__V1__PageRequest page = BOUSSOLE__V1__PAGE_REQUEST__INIT;
    page.page_size = 100;
    lr.page = &page;
    Boussole__V1__Caller sv = service_caller(), ad = admin(), ad2 = other_admin();
    expect_status(syn("ListDestructionRecords", &lr.base, &sv, &resp), BSL_STATUS_OK);
    Boussole__V1__ListDestructionRecordsResponse *dl =
        (Boussole__V1__ListDestructionRecordsResponse *)resp;
    int per[5][3] = { { 0 } }; /* bilan x service */
    const char *ended[5] = { plain, kept, cep, withdrawn, revoked };
    const char *services[3] = { "sessions", "questionnaires", "syntheses" };
    for (size_t i = 0; i < dl->n_records; i++) {
        const Boussole__V1__DestructionRecord *d = dl->records[i];
        assert_string_equal(d->organisation_id, ORG);
        assert_non_null(strstr(d->reason, "retention"));
        assert_true(d->keys_deleted > 0 || d->data_key_destroyed);
        for (int b = 0; b < 5; b++) {
            for (int k = 0; k < 3; k++) {
                per[b][k] +=
                    strcmp(d->bilan_id, ended[b]) == 0 && strcmp(d->service, services[k]) == 0;
            }
        }
        assert_true(strcmp(d->bilan_id, running) != 0);
    }
    for (int b = 0; b < 5; b++) {
        for (int k = 0; k < 3; k++) {
            if (per[b][k] != 1) {
                fail_msg("bilan %d, %s: %d destruction records", b, services[k], per[b][k]);
            }
        }
    }
    size_t total = dl->n_records;
    assert_int_equal(total, 15);
    protobuf_c_message_free_unpacked(resp, NULL);
    expect_status(syn("ListDestructionRecords", &lr.base, &ad, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListDestructionRecordsResponse *)resp)->n_records, total);
    protobuf_c_message_free_unpacked(resp, NULL);
    expect_status(syn("ListDestructionRecords", &lr.base, &ad2, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListDestructionRecordsResponse *)resp)->n_records, 0);
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* A replica with a short interval sweeps by itself; two replicas share the lock. */
static void periodic_sweep(void **state)
{
    (void)state;
    /* The test environment keeps a pointer to every process it started. */
    static te_proc replica;
    char ses_url[200], que_url[200];
    snprintf(ses_url, sizeof(ses_url), "--sessions-url=%s", p_sessions.url);
    snprintf(que_url, sizeof(que_url), "--questionnaires-url=%s", p_questionnaires.url);
    const char *args[] = { ses_url, que_url, "--retention-interval-ms=200", NULL };
    te_service_start(&env, &replica, "syntheses", args);
    char id[32];
    snprintf(id, sizeof(id), "%s", ended_bilan("b-gaston", NULL));
    long long until = te_now_ms() + 15000;
    while (!no_keys(id) && te_now_ms() < until) {
        te_sleep_ms(100);
    }
    assert_true(no_keys(id));
    assert_int_equal(synth_keys(id), 0);
    te_signal(&replica, SIGTERM);
    assert_int_equal(te_wait(&replica, 15000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lock_keeps_replicas_apart),
        cmocka_unit_test(destroyed_or_held),
        cmocka_unit_test(periodic_sweep),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
