/*
 * ListBilans: cursor pagination (no repeat, no gap, even when bilans are created between
 * pages), filters by phase and status, the organisation seen by its admin, and a counselor
 * reassignment moving the bilan from one counselor's list (and access) to the other's.
 */
#include "sessions_helpers.h"

static int setup(void **state)
{
    (void)state;
    start_sessions("sessions-lists");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_sessions();
    return 0;
}

/* One page; ids appended to ids[*n]; returns the next token (static). */
static const char *page_of(const Boussole__V1__Caller *c, int owner, const char *who,
                           Boussole__V1__Phase phase, Boussole__V1__BilanStatus status,
                           uint32_t size, const char *token, char ids[][32], size_t *n)
{
    static char next[128];
    Boussole__V1__ListBilansRequest r = BOUSSOLE__V1__LIST_BILANS_REQUEST__INIT;
    Boussole__V1__PageRequest p = BOUSSOLE__V1__PAGE_REQUEST__INIT;
    p.page_size = size;
    p.page_token = (char *)token;
    r.page = &p;
    r.phase = phase;
    r.status = status;
    r.owner_case = (Boussole__V1__ListBilansRequest__OwnerCase)owner;
    if (owner == BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID) {
        r.beneficiary_id = (char *)who;
    } else if (owner == BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID) {
        r.counselor_id = (char *)who;
    } else {
        r.organisation_id = (char *)who;
    }
    ProtobufCMessage *resp = NULL;
    assert_status(call("ListBilans", &r.base, c, &resp), BSL_STATUS_OK);
    Boussole__V1__ListBilansResponse *l = (Boussole__V1__ListBilansResponse *)resp;
    assert_true(l->n_bilans <= size);
    for (size_t i = 0; i < l->n_bilans; i++) {
        if (phase) {
            assert_int_equal(l->bilans[i]->phase, phase);
        }
        if (status) {
            assert_int_equal(l->bilans[i]->status, status);
        }
        snprintf(ids[(*n)++], 32, "%s", l->bilans[i]->id);
    }
    snprintf(next, sizeof(next), "%s", l->next_page_token);
    protobuf_c_message_free_unpacked(resp, NULL);
    return next;
}

/* Every bilan of a list, page by page. */
static size_t walk(const Boussole__V1__Caller *c, int owner, const char *who,
                   Boussole__V1__Phase phase, Boussole__V1__BilanStatus status, uint32_t size,
                   char ids[][32])
{
    size_t n = 0;
    char token[128] = "";
    int pages = 0;
    do {
        const char *next = page_of(c, owner, who, phase, status, size, token, ids, &n);
        snprintf(token, sizeof(token), "%s", next);
    } while (token[0] != '\0' && ++pages < 100);
    return n;
}

static bool listed(char ids[][32], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ids[i], id) == 0) {
            return true;
        }
    }
    return false;
}

static void pages_without_repeat_or_gap(void **state)
{
    (void)state;
    Boussole__V1__Caller b = who(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-pages", "");
    enum { N = 23 };
    char made[N + 3][32];
    for (int i = 0; i < N; i++) {
        snprintf(made[i], 32, "%s",
                 new_bilan_for("b-pages", "c-marie", BOUSSOLE__V1__FUNDING__FUNDING_CPF, 10));
    }
    static char ids[200][32];
    size_t n = 0;
    /* The first page, then three more bilans, then the rest: the new ones come first (newest
     * first), so they are not in the pages after the first, and nothing repeats. */
    char token[128];
    snprintf(token, sizeof(token), "%s",
             page_of(&b, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID, "b-pages", 0, 0,
                     5, "", ids, &n));
    assert_int_equal(n, 5);
    for (int i = 0; i < 3; i++) {
        snprintf(made[N + i], 32, "%s",
                 new_bilan_for("b-pages", "c-marie", BOUSSOLE__V1__FUNDING__FUNDING_CPF, 10));
    }
    while (token[0] != '\0') {
        const char *next = page_of(&b, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID,
                                   "b-pages", 0, 0, 5, token, ids, &n);
        snprintf(token, sizeof(token), "%s", next);
    }
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++) {
        assert_true(listed(ids, n, made[i]));
        for (size_t k = 0; k < n; k++) {
            for (size_t j = k + 1; j < n; j++) {
                assert_string_not_equal(ids[k], ids[j]);
            }
        }
    }
    /* The whole list, 7 at a time, has them all. */
    n = walk(&b, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID, "b-pages", 0, 0, 7, ids);
    assert_int_equal(n, N + 3);
}

static void filters(void **state)
{
    (void)state;
    Boussole__V1__Caller a = admin(), c = who(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-filtre", ORG);
    char running[32], investigating[32], cancelled[32];
    snprintf(running, 32, "%s",
             new_bilan_for("b-f1", "c-filtre", BOUSSOLE__V1__FUNDING__FUNDING_CPF, 10));
    snprintf(investigating, 32, "%s",
             new_bilan_for("b-f2", "c-filtre", BOUSSOLE__V1__FUNDING__FUNDING_CPF, 10));
    snprintf(cancelled, 32, "%s",
             new_bilan_for("b-f3", "c-filtre", BOUSSOLE__V1__FUNDING__FUNDING_CPF, 10));
    Boussole__V1__Caller b2 = who(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-f2", "");
    record_intake(investigating, &b2, 0);
    Boussole__V1__RoadmapTool tools[] = { BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_INTERVIEW };
    Boussole__V1__RoadmapStep st = BOUSSOLE__V1__ROADMAP_STEP__INIT;
    st.phase = BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY;
    st.title = "Accueil";
    st.tools = tools;
    st.n_tools = 1;
    st.status = BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_DONE;
    Boussole__V1__RoadmapStep *steps[] = { &st };
    Boussole__V1__SetRoadmapRequest sr = BOUSSOLE__V1__SET_ROADMAP_REQUEST__INIT;
    sr.bilan_id = investigating;
    sr.steps = steps;
    sr.n_steps = 1;
    assert_status(call("SetRoadmap", &sr.base, &c, NULL), BSL_STATUS_OK);
    Boussole__V1__AdvancePhaseRequest ap = BOUSSOLE__V1__ADVANCE_PHASE_REQUEST__INIT;
    ap.id = investigating;
    ap.target = BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION;
    assert_status(call("AdvancePhase", &ap.base, &c, NULL), BSL_STATUS_OK);
    Boussole__V1__CancelBilanRequest cb = BOUSSOLE__V1__CANCEL_BILAN_REQUEST__INIT;
    cb.id = cancelled;
    cb.reason = BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_FUNDING_WITHDRAWN;
    assert_status(call("CancelBilan", &cb.base, &c, NULL), BSL_STATUS_OK);

    static char ids[200][32];
    size_t n =
        walk(&c, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID, "c-filtre", 0, 0, 2, ids);
    assert_int_equal(n, 3);
    n = walk(&c, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID, "c-filtre",
             BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, 0, 2, ids);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], investigating);
    n = walk(&c, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID, "c-filtre", 0,
             BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE, 1, ids);
    assert_int_equal(n, 2);
    assert_false(listed(ids, n, cancelled));
    n = walk(&a, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID, "c-filtre", 0,
             BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_CANCELLED, 5, ids);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], cancelled);
    /* The organisation, seen by its admin, has them too. */
    n = walk(&a, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_ORGANISATION_ID, ORG,
             BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION, 0, 10, ids);
    assert_true(listed(ids, n, investigating));
    assert_false(listed(ids, n, running));
}

static void reassignment(void **state)
{
    (void)state;
    Boussole__V1__Caller a = admin(), marie = counselor(),
                         jean = who(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-jean", ORG);
    char id[32];
    snprintf(id, sizeof(id), "%s",
             new_bilan_for("b-moved", "c-marie", BOUSSOLE__V1__FUNDING__FUNDING_CPF, 12));
    Boussole__V1__GetBilanRequest g = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    g.id = id;
    assert_status(call("GetBilan", &g.base, &jean, NULL), BSL_STATUS_NOT_FOUND);
    Boussole__V1__ReassignCounselorRequest r = BOUSSOLE__V1__REASSIGN_COUNSELOR_REQUEST__INIT;
    r.id = id;
    r.counselor_id = "c-jean";
    /* Only an admin reassigns. */
    assert_status(call("ReassignCounselor", &r.base, &marie, NULL), BSL_STATUS_PERMISSION_DENIED);
    ProtobufCMessage *resp = NULL;
    assert_status(call("ReassignCounselor", &r.base, &a, &resp), BSL_STATUS_OK);
    assert_string_equal(((Boussole__V1__Bilan *)resp)->counselor_id, "c-jean");
    uint64_t v = ((Boussole__V1__Bilan *)resp)->version;
    protobuf_c_message_free_unpacked(resp, NULL);
    /* A repeat changes nothing. */
    assert_status(call("ReassignCounselor", &r.base, &a, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__Bilan *)resp)->version, v);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* Access follows: the new counselor in, the previous one out. */
    assert_status(call("GetBilan", &g.base, &jean, NULL), BSL_STATUS_OK);
    assert_status(call("GetBilan", &g.base, &marie, NULL), BSL_STATUS_NOT_FOUND);
    static char ids[400][32];
    size_t n = walk(&jean, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID, "c-jean", 0, 0,
                    100, ids);
    assert_true(listed(ids, n, id));
    n = walk(&marie, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID, "c-marie", 0, 0, 100,
             ids);
    assert_false(listed(ids, n, id));
    /* An index entry left behind (a reassignment interrupted halfway) is skipped, then gone. */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ZADD bilans:counselor:{c-marie} 1 %s", id);
    free(te_redis_cli(&env, cmd));
    n = walk(&marie, BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID, "c-marie", 0, 0, 100,
             ids);
    assert_false(listed(ids, n, id));
    snprintf(cmd, sizeof(cmd), "ZSCORE bilans:counselor:{c-marie} %s", id);
    char *score = NULL;
    for (int i = 0; i < 50; i++) {
        free(score);
        score = te_redis_cli(&env, cmd);
        if (score[0] == '\0') {
            break;
        }
        te_sleep_ms(10);
    }
    assert_string_equal(score, "");
    free(score);
    /* Others cannot list someone else's bilans. */
    Boussole__V1__ListBilansRequest lb = BOUSSOLE__V1__LIST_BILANS_REQUEST__INIT;
    lb.owner_case = BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID;
    lb.counselor_id = "c-jean";
    assert_status(call("ListBilans", &lb.base, &marie, NULL), BSL_STATUS_PERMISSION_DENIED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pages_without_repeat_or_gap),
        cmocka_unit_test(filters),
        cmocka_unit_test(reassignment),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
