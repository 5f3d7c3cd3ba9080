/*
 * Relatives' feedback against real processes: invitations and their tokens (single use,
 * expiry moved with the test clock, revocation, unknown and malformed tokens), answering
 * without an account, the 3-answer threshold, the "everyone agreed to be named" exception,
 * and what is stored (token hashes only, sealed names and answers).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boussole/client.h"
#include "boussole/id.h"
#include "boussole/service.h"
#include "boussole/v1/questionnaires.pb-c.h"
#include "boussole/v1/sessions.pb-c.h"
#include "testenv.h"

static te_env env;
static te_proc sessions, qn;
static bsl_sync_client *sc_sessions, *sc;

#define ORG    "org-lumiere"
#define SVC    "boussole.v1.QuestionnaireService/"
#define DAY_MS (24LL * 3600 * 1000)

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "questionnaires-relatives");
    te_redis_start(&env);
    te_service_start(&env, &sessions, "sessions", NULL);
    char peer[200];
    snprintf(peer, sizeof(peer), "--sessions-url=%s", sessions.url);
    const char *args[] = { peer, NULL };
    te_service_start(&env, &qn, "questionnaires", args);
    sc_sessions = te_client(sessions.url);
    sc = te_client(qn.url);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bsl_sync_client_free(sc);
    bsl_sync_client_free(sc_sessions);
    te_fini(&env);
    return 0;
}

static bsl_status call(const char *method, const ProtobufCMessage *req, Boussole__V1__Caller *c,
                       const char *idem, ProtobufCMessage **resp, char *msg)
{
    char full[128];
    snprintf(full, sizeof(full), SVC "%s", method);
    bsl_call_opts o = { .caller = c, .idempotency_key = idem };
    return bsl_sync_call(sc, full, req, &o, resp, msg, 512);
}

static void create_bilan(const char *beneficiary_id, const char *key, char out[64])
{
    Boussole__V1__CreateBilanRequest req = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    req.beneficiary_id = (char *)beneficiary_id;
    req.organisation_id = ORG;
    req.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    req.planned_hours = 24;
    req.start_date = "2026-12-01";
    req.end_date = "2027-02-28";
    Boussole__V1__Caller c = te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-marie", ORG);
    bsl_call_opts o = { .caller = &c, .idempotency_key = key };
    ProtobufCMessage *resp = NULL;
    char msg[256];
    assert_int_equal(bsl_sync_call(sc_sessions, "boussole.v1.SessionService/CreateBilan", &req.base,
                                   &o, &resp, msg, sizeof(msg)),
                     BSL_STATUS_OK);
    snprintf(out, 64, "%s", ((Boussole__V1__Bilan *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* Invites a relative as the beneficiary; returns the token (static) and the invitation id. */
static void invite(const char *bilan, const char *beneficiary, const char *name, uint32_t days,
                   const char *key, char token[80], char inv[64])
{
    Boussole__V1__Relative rel = BOUSSOLE__V1__RELATIVE__INIT;
    rel.name = (char *)name;
    rel.relation = "collègue";
    rel.contact = "contact@example.org";
    Boussole__V1__InviteRelativeRequest req = BOUSSOLE__V1__INVITE_RELATIVE_REQUEST__INIT;
    req.bilan_id = (char *)bilan;
    req.relative = &rel;
    req.expires_in_days = days;
    Boussole__V1__Caller b = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, beneficiary, "");
    ProtobufCMessage *resp = NULL;
    char msg[512];
    bsl_status st = call("InviteRelative", &req.base, &b, key, &resp, msg);
    if (st != BSL_STATUS_OK) {
        fail_msg("InviteRelative: %d %s", st, msg);
    }
    Boussole__V1__InviteRelativeResponse *r = (Boussole__V1__InviteRelativeResponse *)resp;
    assert_int_equal(strlen(r->token), 64);
    assert_int_equal(r->invitation->status,
                     BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_PENDING);
    assert_string_equal(r->invitation->instrument_id, "entourage");
    assert_string_equal(r->invitation->relative->name, name);
    snprintf(token, 80, "%s", r->token);
    snprintf(inv, 64, "%s", r->invitation->id);
    protobuf_c_message_free_unpacked(resp, NULL);
}

/*
 * The entourage form's answers of one relative: every Likert item of the "qualites" section
 * at `point` (1 to 5), the domains, and the required free text.
 */
typedef struct form_answers {
    Boussole__V1__Answer a[16];
    Boussole__V1__Answer *p[16];
    char *domains[3];
    Boussole__V1__ChoiceList list;
    size_t n;
} form_answers;

static void fill_form(form_answers *f, int point, const char *domain, const char *quality)
{
    static const char *const likert_items[12] = {
        "relationnel-1", "relationnel-2", "organisation-1", "organisation-2",
        "creativite-1",  "creativite-2",  "analyse-1",      "analyse-2",
        "initiative-1",  "initiative-2",  "fiabilite-1",    "fiabilite-2",
    };
    memset(f, 0, sizeof(*f));
    for (int i = 0; i < 12; i++) {
        boussole__v1__answer__init(&f->a[i]);
        f->a[i].item_id = (char *)likert_items[i];
        f->a[i].value_case = BOUSSOLE__V1__ANSWER__VALUE_LIKERT;
        f->a[i].likert = point;
    }
    boussole__v1__choice_list__init(&f->list);
    f->domains[0] = (char *)domain;
    f->list.values = f->domains;
    f->list.n_values = 1;
    boussole__v1__answer__init(&f->a[12]);
    f->a[12].item_id = "domaines";
    f->a[12].value_case = BOUSSOLE__V1__ANSWER__VALUE_CHOICES;
    f->a[12].choices = &f->list;
    boussole__v1__answer__init(&f->a[13]);
    f->a[13].item_id = "qualite";
    f->a[13].value_case = BOUSSOLE__V1__ANSWER__VALUE_TEXT;
    f->a[13].text = (char *)quality;
    f->n = 14;
    for (size_t i = 0; i < f->n; i++) {
        f->p[i] = &f->a[i];
    }
}

/* Submits as an anonymous caller (no credentials at all). */
static bsl_status submit_feedback(const char *token, form_answers *f, bool named, char *msg)
{
    Boussole__V1__SubmitFeedbackRequest req = BOUSSOLE__V1__SUBMIT_FEEDBACK_REQUEST__INIT;
    req.token = (char *)token;
    req.answers = f->p;
    req.n_answers = f->n;
    req.agree_to_be_named = named;
    return call("SubmitFeedback", &req.base, NULL, NULL, NULL, msg);
}

static bsl_status get_form(const char *token, char *msg)
{
    Boussole__V1__GetFeedbackFormRequest req = BOUSSOLE__V1__GET_FEEDBACK_FORM_REQUEST__INIT;
    req.token = (char *)token;
    ProtobufCMessage *resp = NULL;
    bsl_status st = call("GetFeedbackForm", &req.base, NULL, NULL, &resp, msg);
    if (st == BSL_STATUS_OK) {
        Boussole__V1__FeedbackForm *f = (Boussole__V1__FeedbackForm *)resp;
        assert_string_equal(f->instrument->id, "entourage");
        assert_string_equal(f->relation, "collègue");
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return st;
}

static Boussole__V1__FeedbackSummary *summary(const char *bilan, const char *beneficiary)
{
    Boussole__V1__GetFeedbackSummaryRequest req = BOUSSOLE__V1__GET_FEEDBACK_SUMMARY_REQUEST__INIT;
    req.bilan_id = (char *)bilan;
    Boussole__V1__Caller b = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, beneficiary, "");
    ProtobufCMessage *resp = NULL;
    char msg[512];
    bsl_status st = call("GetFeedbackSummary", &req.base, &b, NULL, &resp, msg);
    if (st != BSL_STATUS_OK) {
        fail_msg("GetFeedbackSummary: %d %s", st, msg);
    }
    return (Boussole__V1__FeedbackSummary *)resp;
}

static const Boussole__V1__ItemSummary *item(const Boussole__V1__FeedbackSummary *s, const char *id)
{
    for (size_t i = 0; i < s->n_items; i++) {
        if (strcmp(s->items[i]->item_id, id) == 0) {
            return s->items[i];
        }
    }
    fail_msg("no item %s", id);
    return NULL;
}

static void three_answer_threshold(void **state)
{
    (void)state;
    char bilan[64], tok[4][80], inv[4][64], msg[512];
    create_bilan("b-lea", "rel-bilan-1", bilan);
    const char *names[4] = { "Paul Martin", "Inès Roux", "Karim Benali", "Zoé Petit" };
    for (int i = 0; i < 4; i++) {
        char key[32];
        snprintf(key, sizeof(key), "rel-inv-%d", i);
        invite(bilan, "b-lea", names[i], 0, key, tok[i], inv[i]);
    }
    /* Only the token's hash is stored; the names are sealed. */
    char sha[65], cmd[300];
    bsl_sha256_hex(sha, tok[0], strlen(tok[0]));
    snprintf(cmd, sizeof(cmd), "GET qn:tok:{%s}", sha);
    char *ptr = te_redis_cli(&env, cmd);
    assert_non_null(strstr(ptr, inv[0]));
    free(ptr);
    /* --no-raw: binary values come escaped, so a NUL byte cannot hide what follows it. */
    snprintf(cmd, sizeof(cmd), "--no-raw HGETALL qn:{%s}:inv:%s", bilan, inv[0]);
    char *h = te_redis_cli(&env, cmd);
    assert_true(strlen(h) > 200);
    assert_null(strstr(h, tok[0]));
    assert_non_null(strstr(h, sha));
    assert_null(strstr(h, "Paul"));
    assert_null(strstr(h, "example.org"));
    free(h);

    form_answers f;
    /* Relative 0: every quality at 5, domain "aider"; relative 1: at 3, "aider"; relative 2:
     * at 4, "creer". */
    assert_int_equal(get_form(tok[0], msg), BSL_STATUS_OK);
    fill_form(&f, 5, "aider", "Sa patience");
    assert_int_equal(submit_feedback(tok[0], &f, false, msg), BSL_STATUS_OK);
    /* The same submission again (a lost answer's retry) is accepted ... */
    assert_int_equal(submit_feedback(tok[0], &f, false, msg), BSL_STATUS_OK);
    /* ... anything else with a used token is not. */
    fill_form(&f, 1, "aider", "Autre chose");
    assert_int_equal(submit_feedback(tok[0], &f, false, msg), BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "INVITATION_USED"));
    assert_int_equal(get_form(tok[0], msg), BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "INVITATION_USED"));

    Boussole__V1__FeedbackSummary *s = summary(bilan, "b-lea");
    assert_int_equal(s->respondents, 1);
    assert_false(s->visible);
    assert_int_equal(s->answers_needed, 2);
    assert_int_equal(s->n_items, 0);
    assert_int_equal(s->n_scales, 0);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    fill_form(&f, 3, "aider", "Son humour");
    assert_int_equal(submit_feedback(tok[1], &f, false, msg), BSL_STATUS_OK);
    s = summary(bilan, "b-lea");
    assert_int_equal(s->respondents, 2);
    assert_false(s->visible);
    assert_int_equal(s->answers_needed, 1);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    /* A required item missing; a bad answer named by item. */
    fill_form(&f, 4, "creer", "Sa curiosité");
    f.n = 13;
    assert_int_equal(submit_feedback(tok[2], &f, false, msg), BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "ITEM_UNANSWERED"));
    f.n = 14;
    f.a[3].likert = 9;
    assert_int_equal(submit_feedback(tok[2], &f, false, msg), BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "answers[3] (organisation-2)"));
    f.a[3].likert = 4;
    assert_int_equal(submit_feedback(tok[2], &f, false, msg), BSL_STATUS_OK);

    /*
     * Three answers: the aggregate shows. Each quality scale has two items at the same point,
     * so a relative's normalised score is 100 * (2p - 2) / 8: 100, 50 and 75; mean 75.
     * Likert means: (5 + 3 + 4) / 3 = 4. Domains: "aider" twice, "creer" once; the S scale
     * (from "aider") is 100 for two of three respondents and 0 for the third: mean 66.6667.
     * Free texts come sorted, not in order of arrival.
     */
    s = summary(bilan, "b-lea");
    assert_int_equal(s->respondents, 3);
    assert_true(s->visible);
    assert_int_equal(s->answers_needed, 0);
    assert_int_equal(s->n_named, 0);
    for (size_t i = 0; i < s->n_scales; i++) {
        const Boussole__V1__ScaleScore *score = s->scales[i];
        if (strcmp(score->scale_id, "relationnel") == 0 ||
            strcmp(score->scale_id, "fiabilite") == 0) {
            assert_true(score->normalised == 75);
            assert_true(score->interpretation[0] != '\0');
        }
        if (strcmp(score->scale_id, "S") == 0) {
            assert_true(score->normalised == 66.6667);
        }
    }
    assert_true(item(s, "analyse-1")->mean == 4);
    assert_int_equal(item(s, "analyse-1")->answered, 3);
    const Boussole__V1__ItemSummary *dom = item(s, "domaines");
    for (size_t i = 0; i < dom->n_choices; i++) {
        if (strcmp(dom->choices[i]->value, "aider") == 0) {
            assert_int_equal(dom->choices[i]->count, 2);
        } else if (strcmp(dom->choices[i]->value, "creer") == 0) {
            assert_int_equal(dom->choices[i]->count, 1);
        } else {
            assert_int_equal(dom->choices[i]->count, 0);
        }
    }
    const Boussole__V1__ItemSummary *q = item(s, "qualite");
    assert_int_equal(q->n_texts, 3);
    assert_string_equal(q->texts[0], "Sa curiosité");
    assert_string_equal(q->texts[1], "Sa patience");
    assert_string_equal(q->texts[2], "Son humour");
    protobuf_c_message_free_unpacked(&s->base, NULL);

    /* The counselor sees the same aggregate; an admin and relatives do not. */
    Boussole__V1__GetFeedbackSummaryRequest sr = BOUSSOLE__V1__GET_FEEDBACK_SUMMARY_REQUEST__INIT;
    sr.bilan_id = bilan;
    Boussole__V1__Caller c = te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-marie", ORG);
    ProtobufCMessage *resp = NULL;
    assert_int_equal(call("GetFeedbackSummary", &sr.base, &c, NULL, &resp, msg), BSL_STATUS_OK);
    assert_true(((Boussole__V1__FeedbackSummary *)resp)->visible);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__Caller a = te_caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-1", ORG);
    assert_int_equal(call("GetFeedbackSummary", &sr.base, &a, NULL, NULL, msg),
                     BSL_STATUS_PERMISSION_DENIED);
    assert_int_equal(call("GetFeedbackSummary", &sr.base, NULL, NULL, NULL, msg),
                     BSL_STATUS_UNAUTHENTICATED);

    /* Revoking an answered invitation withdraws its answer: back under the threshold. */
    Boussole__V1__RevokeInvitationRequest rr = BOUSSOLE__V1__REVOKE_INVITATION_REQUEST__INIT;
    rr.bilan_id = bilan;
    rr.invitation_id = inv[1];
    Boussole__V1__Caller b = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-lea", "");
    assert_int_equal(call("RevokeInvitation", &rr.base, &b, NULL, &resp, msg), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__Invitation *)resp)->status,
                     BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_REVOKED);
    protobuf_c_message_free_unpacked(resp, NULL);
    s = summary(bilan, "b-lea");
    assert_int_equal(s->respondents, 2);
    assert_false(s->visible);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    /* The list, with the names as the beneficiary wrote them. */
    Boussole__V1__ListInvitationsRequest lr = BOUSSOLE__V1__LIST_INVITATIONS_REQUEST__INIT;
    lr.bilan_id = bilan;
    assert_int_equal(call("ListInvitations", &lr.base, &b, NULL, &resp, msg), BSL_STATUS_OK);
    Boussole__V1__ListInvitationsResponse *l = (Boussole__V1__ListInvitationsResponse *)resp;
    assert_int_equal(l->n_invitations, 4);
    int answered = 0, pending = 0, revoked = 0;
    for (size_t i = 0; i < l->n_invitations; i++) {
        answered += l->invitations[i]->status ==
                    BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_ANSWERED;
        pending +=
            l->invitations[i]->status == BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_PENDING;
        revoked +=
            l->invitations[i]->status == BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_REVOKED;
        assert_non_null(l->invitations[i]->relative);
    }
    assert_int_equal(answered, 2);
    assert_int_equal(pending, 1);
    assert_int_equal(revoked, 1);
    protobuf_c_message_free_unpacked(resp, NULL);
}

static void everyone_named(void **state)
{
    (void)state;
    char bilan[64], tok[2][80], inv[2][64], msg[512];
    create_bilan("b-sam", "rel-bilan-2", bilan);
    invite(bilan, "b-sam", "Jeanne Dupuis", 0, "named-1", tok[0], inv[0]);
    invite(bilan, "b-sam", "Hugo Lefèvre", 0, "named-2", tok[1], inv[1]);
    form_answers f;
    fill_form(&f, 4, "organiser", "Sa rigueur");
    assert_int_equal(submit_feedback(tok[0], &f, true, msg), BSL_STATUS_OK);
    /* One respondent, who agreed to be named: visible, with the name. */
    Boussole__V1__FeedbackSummary *s = summary(bilan, "b-sam");
    assert_true(s->visible);
    assert_int_equal(s->n_named, 1);
    assert_string_equal(s->named[0]->name, "Jeanne Dupuis");
    protobuf_c_message_free_unpacked(&s->base, NULL);
    /* A second one who did not agree: below 3 answers and not all named, nothing shows. */
    fill_form(&f, 2, "entreprendre", "Son énergie");
    assert_int_equal(submit_feedback(tok[1], &f, false, msg), BSL_STATUS_OK);
    s = summary(bilan, "b-sam");
    assert_false(s->visible);
    assert_int_equal(s->n_named, 0);
    assert_int_equal(s->n_items, 0);
    assert_int_equal(s->answers_needed, 1);
    protobuf_c_message_free_unpacked(&s->base, NULL);
}

static void token_expiry_revocation_and_garbage(void **state)
{
    (void)state;
    char bilan[64], tok[3][80], inv[3][64], msg[512];
    create_bilan("b-tom", "rel-bilan-3", bilan);
    invite(bilan, "b-tom", "Alice", 1, "exp-1", tok[0], inv[0]);
    invite(bilan, "b-tom", "Bruno", 30, "exp-2", tok[1], inv[1]);
    invite(bilan, "b-tom", "Chloé", 30, "exp-3", tok[2], inv[2]);

    /* Two days later the one-day invitation has expired; the others still work. */
    te_clock_set(&env, 2 * DAY_MS);
    te_sleep_ms(50);
    assert_int_equal(get_form(tok[0], msg), BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "INVITATION_EXPIRED"));
    form_answers f;
    fill_form(&f, 3, "comprendre", "Sa droiture");
    assert_int_equal(submit_feedback(tok[0], &f, false, msg), BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "INVITATION_EXPIRED"));
    assert_int_equal(get_form(tok[1], msg), BSL_STATUS_OK);
    Boussole__V1__ListInvitationsRequest lr = BOUSSOLE__V1__LIST_INVITATIONS_REQUEST__INIT;
    lr.bilan_id = bilan;
    Boussole__V1__Caller b = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-tom", "");
    ProtobufCMessage *resp = NULL;
    assert_int_equal(call("ListInvitations", &lr.base, &b, NULL, &resp, msg), BSL_STATUS_OK);
    Boussole__V1__ListInvitationsResponse *l = (Boussole__V1__ListInvitationsResponse *)resp;
    assert_int_equal(l->n_invitations, 3);
    for (size_t i = 0; i < l->n_invitations; i++) {
        bool alice = strcmp(l->invitations[i]->id, inv[0]) == 0;
        assert_int_equal(l->invitations[i]->status,
                         alice ? BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_EXPIRED
                               : BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_PENDING);
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    te_clock_set(&env, 0);
    te_sleep_ms(50);

    /* Revoked: the token stops working; revoking again is harmless. */
    Boussole__V1__RevokeInvitationRequest rr = BOUSSOLE__V1__REVOKE_INVITATION_REQUEST__INIT;
    rr.bilan_id = bilan;
    rr.invitation_id = inv[2];
    assert_int_equal(call("RevokeInvitation", &rr.base, &b, NULL, NULL, msg), BSL_STATUS_OK);
    assert_int_equal(call("RevokeInvitation", &rr.base, &b, NULL, NULL, msg), BSL_STATUS_OK);
    assert_int_equal(get_form(tok[2], msg), BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "INVITATION_REVOKED"));
    assert_int_equal(submit_feedback(tok[2], &f, false, msg), BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "INVITATION_REVOKED"));
    /* The counselor does not revoke; nobody revokes an unknown invitation. */
    Boussole__V1__Caller c = te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-marie", ORG);
    assert_int_equal(call("RevokeInvitation", &rr.base, &c, NULL, NULL, msg),
                     BSL_STATUS_PERMISSION_DENIED);
    rr.invitation_id = "0123456789abcdefghjkmnpqrs";
    assert_int_equal(call("RevokeInvitation", &rr.base, &b, NULL, NULL, msg), BSL_STATUS_NOT_FOUND);

    /* Unknown and malformed tokens. */
    char unknown[65];
    memset(unknown, 'a', 64);
    unknown[64] = '\0';
    assert_int_equal(get_form(unknown, msg), BSL_STATUS_NOT_FOUND);
    assert_int_equal(get_form("not-a-token", msg), BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "token"));
    char upper[80];
    snprintf(upper, sizeof(upper), "%s", tok[1]);
    for (char *p = upper; *p; p++) {
        *p = (*p >= 'a' && *p <= 'f') ? (char)(*p - 32) : *p;
    }
    assert_int_equal(get_form(upper, msg), BSL_STATUS_INVALID_ARGUMENT);
    /* A relative's token is worth nothing on the beneficiary's side of the API. */
    Boussole__V1__GetFeedbackSummaryRequest sr = BOUSSOLE__V1__GET_FEEDBACK_SUMMARY_REQUEST__INIT;
    sr.bilan_id = bilan;
    assert_int_equal(call("GetFeedbackSummary", &sr.base, NULL, NULL, NULL, msg),
                     BSL_STATUS_UNAUTHENTICATED);

    /* Invitation rules: only the beneficiary, a well-formed relative, a feedback form. */
    Boussole__V1__Relative rel = BOUSSOLE__V1__RELATIVE__INIT;
    rel.name = "";
    rel.relation = "ami";
    rel.contact = "x@example.org";
    Boussole__V1__InviteRelativeRequest ir = BOUSSOLE__V1__INVITE_RELATIVE_REQUEST__INIT;
    ir.bilan_id = bilan;
    ir.relative = &rel;
    assert_int_equal(call("InviteRelative", &ir.base, &b, "bad-1", NULL, msg),
                     BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "relative.name"));
    rel.name = "Dan";
    ir.expires_in_days = 61;
    assert_int_equal(call("InviteRelative", &ir.base, &b, "bad-2", NULL, msg),
                     BSL_STATUS_INVALID_ARGUMENT);
    ir.expires_in_days = 0;
    ir.instrument_id = "riasec";
    assert_int_equal(call("InviteRelative", &ir.base, &b, "bad-3", NULL, msg),
                     BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "instrument_id"));
    ir.instrument_id = "";
    assert_int_equal(call("InviteRelative", &ir.base, &c, "bad-4", NULL, msg),
                     BSL_STATUS_PERMISSION_DENIED);

    /* The first invitation fixed the bilan's form: another feedback form is refused, the
     * same one named explicitly is fine. */
    static char *labels[2] = { "Non", "Oui" };
    Boussole__V1__Section sec = BOUSSOLE__V1__SECTION__INIT;
    sec.id = "s";
    sec.title = "Avis";
    Boussole__V1__Section *secs[1] = { &sec };
    Boussole__V1__Item it = BOUSSOLE__V1__ITEM__INIT;
    it.id = "q1";
    it.kind = BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT;
    it.section_id = "s";
    it.text = "La recommanderiez-vous ?";
    it.likert_min = 0;
    it.likert_max = 1;
    it.likert_labels = labels;
    it.n_likert_labels = 2;
    Boussole__V1__Item *items[1] = { &it };
    Boussole__V1__Instrument form = BOUSSOLE__V1__INSTRUMENT__INIT;
    form.language = "fr";
    form.purpose = BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_RELATIVES_FEEDBACK;
    form.title = "Avis court";
    form.sections = secs;
    form.n_sections = 1;
    form.items = items;
    form.n_items = 1;
    Boussole__V1__CreateInstrumentRequest ci = BOUSSOLE__V1__CREATE_INSTRUMENT_REQUEST__INIT;
    ci.instrument = &form;
    assert_int_equal(call("CreateInstrument", &ci.base, &c, "form-1", &resp, msg), BSL_STATUS_OK);
    char form_id[64];
    snprintf(form_id, sizeof(form_id), "%s", ((Boussole__V1__Instrument *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    ir.instrument_id = form_id;
    assert_int_equal(call("InviteRelative", &ir.base, &b, "form-2", NULL, msg),
                     BSL_STATUS_FAILED_PRECONDITION);
    assert_non_null(strstr(msg, "FEEDBACK_FORM_FIXED"));
    ir.instrument_id = "entourage";
    assert_int_equal(call("InviteRelative", &ir.base, &b, "form-3", &resp, msg), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__InviteRelativeResponse *)resp)->invitation->instrument_version,
                     1);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* A fresh bilan may use the organisation's own form. */
    char bilan2[64], tok2[80];
    create_bilan("b-tom", "rel-bilan-4", bilan2);
    ir.bilan_id = bilan2;
    ir.instrument_id = form_id;
    assert_int_equal(call("InviteRelative", &ir.base, &b, "form-4", &resp, msg), BSL_STATUS_OK);
    Boussole__V1__InviteRelativeResponse *ok = (Boussole__V1__InviteRelativeResponse *)resp;
    assert_string_equal(ok->invitation->instrument_id, form_id);
    snprintf(tok2, sizeof(tok2), "%s", ok->token);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__GetFeedbackFormRequest fr = BOUSSOLE__V1__GET_FEEDBACK_FORM_REQUEST__INIT;
    fr.token = tok2;
    assert_int_equal(call("GetFeedbackForm", &fr.base, NULL, NULL, &resp, msg), BSL_STATUS_OK);
    assert_string_equal(((Boussole__V1__FeedbackForm *)resp)->instrument->title, "Avis court");
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__Caller other = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-lea", "");
    assert_int_equal(call("InviteRelative", &ir.base, &other, "bad-5", NULL, msg),
                     BSL_STATUS_NOT_FOUND);
}

/* SIGTERM after everything above: the process drains and exits 0 (under the sanitizer build,
 * a leak at exit would make the status non-zero). */
static void clean_shutdown(void **state)
{
    (void)state;
    te_signal(&qn, SIGTERM);
    assert_int_equal(te_wait(&qn, 15000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_answer_threshold),
        cmocka_unit_test(everyone_named),
        cmocka_unit_test(token_expiry_revocation_and_garbage),
        cmocka_unit_test(clean_shutdown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
