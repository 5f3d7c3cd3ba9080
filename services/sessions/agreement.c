/*
 * The tripartite agreement of a bilan funded by the employer's plan. Its administrative part
 * (revision, status, duration, period, price, times) is stored in clear in
 * bilan:{<id>}:agreement; its terms (employer, objective, content, means, handover) are
 * sealed in bilan:{<id>}:agreement_text. Both are Agreement messages holding disjoint fields,
 * so the stored bytes of the two, concatenated, decode as the whole agreement (protobuf
 * merges concatenated messages). The status the guards look at is mirrored in the bilan's
 * hash (agr, agr_deadline, agr_rev).
 */
#include <string.h>

#include "boussole/check.h"
#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "bounds.h"
#include "records.h"

#define AGREEMENT_KIND "agreement"

static const sess_read agreement_reads[] = {
    { "agreement", "get", NULL },
    { "agreement_text", "get", NULL },
};

Boussole__V1__Agreement *sess_agreement_decode(sess_op *op, const sess_value *plain,
                                               const sess_value *text)
{
    size_t tlen = 0;
    const char *t = "";
    if (plain == NULL || plain->type != SESS_V_STR) {
        return NULL;
    }
    if (text != NULL && text->type == SESS_V_STR) {
        t = sess_open(op, AGREEMENT_KIND, NULL, text->str, text->len, &tlen);
        if (t == NULL) {
            return NULL;
        }
    }
    uint8_t *all = bsl_arena_alloc(op->arena, plain->len + tlen + 1);
    if (all == NULL) {
        return NULL;
    }
    memcpy(all, plain->str, plain->len);
    memcpy(all + plain->len, t, tlen);
    Boussole__V1__Agreement *a = (Boussole__V1__Agreement *)sess_unpack(
        op, &boussole__v1__agreement__descriptor, all, plain->len + tlen);
    if (a != NULL) {
        a->status =
            sess_agreement_status((int)a->status, bsl_pb_timestamp_ms(a->respond_by), op->now_ms);
    }
    return a;
}

/* The whole agreement, with the status callers see now; NULL when it does not decode
 * (answered). */
static Boussole__V1__Agreement *merge(sess_op *op, const sess_value *plain, const sess_value *text)
{
    Boussole__V1__Agreement *a = sess_agreement_decode(op, plain, text);
    if (a == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored agreement is unreadable");
    }
    return a;
}

/* ---- ProposeAgreement --------------------------------------------------------------- */

typedef struct propose_op {
    Boussole__V1__Agreement plain;
    Boussole__V1__Agreement text;
} propose_op;

static void on_proposed(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    propose_op *p = op->ctx;
    /* The answer: both halves in one message. */
    Boussole__V1__Agreement a = p->plain;
    a.employer_name = p->text.employer_name;
    a.objective = p->text.objective;
    a.content = p->text.content;
    a.means = p->text.means;
    a.results_handover = p->text.results_handover;
    bsl_call_reply(op->call, &a.base);
}

static void propose_keyed(sess_op *op)
{
    const Boussole__V1__ProposeAgreementRequest *in = (const void *)bsl_call_request(op->call);
    const sess_bilan *b = &op->bilan;
    propose_op *p = bsl_arena_calloc(op->arena, 1, sizeof(*p));
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (p == NULL || c == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->ctx = p;
    int64_t deadline = op->now_ms + SESS_AGREEMENT_DAYS * SESS_DAY_MS;
    boussole__v1__agreement__init(&p->plain);
    p->plain.bilan_id = (char *)op->bilan_id;
    p->plain.revision = b->agreement_revision + 1;
    p->plain.status = BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_PROPOSED;
    p->plain.duration_hours = in->duration_hours;
    p->plain.period_start = in->period_start;
    p->plain.period_end = in->period_end;
    p->plain.price_cents = in->price_cents;
    p->plain.proposed_by = op->caller->subject;
    p->plain.propose_time = bsl_pb_timestamp(op->arena, op->now_ms);
    p->plain.respond_by = bsl_pb_timestamp(op->arena, deadline);
    boussole__v1__agreement__init(&p->text);
    p->text.employer_name = in->employer_name;
    p->text.objective = in->objective;
    p->text.content = in->content;
    p->text.means = in->means;
    p->text.results_handover = in->results_handover;
    sess_blob plain = sess_pack(op, &p->plain.base);
    sess_blob text = sess_seal_msg(op, AGREEMENT_KIND, NULL, &p->text.base);
    const char *rev = bsl_arena_printf(op->arena, "%u", p->plain.revision);
    const char *dl = bsl_arena_printf(op->arena, "%lld", (long long)deadline);
    const char *st = bsl_arena_printf(op->arena, "%d", (int)p->plain.status);
    if (plain.data == NULL || text.data == NULL || rev == NULL || dl == NULL || st == NULL ||
        p->plain.propose_time == NULL || p->plain.respond_by == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    const sess_value *cur = &op->parts[0];
    c->what = "agreement";
    c->puts[0] = (sess_put){ "agreement",
                             NULL,
                             SESS_PUT_CAS,
                             { (const uint8_t *)(cur->str ? cur->str : ""), cur->len },
                             plain };
    c->puts[1] = (sess_put){ "agreement_text", NULL, SESS_PUT_SET, { NULL, 0 }, text };
    c->n_puts = 2;
    const char *sets[] = { "agr", st, "agr_deadline", dl, "agr_rev", rev };
    memcpy(c->sets, sets, sizeof(sets));
    c->n_sets = 6;
    sess_write(op, c, on_proposed);
}

static void propose_loaded(sess_op *op)
{
    const sess_bilan *b = &op->bilan;
    if (!sess_require_active(op)) {
        return;
    }
    if (!sess_agreement_required(b)) {
        sess_fail_precondition(op, "AGREEMENT_NOT_REQUIRED",
                               "only a bilan funded by the employer's plan has a tripartite "
                               "agreement");
        return;
    }
    if (b->phase != BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY) {
        sess_fail_precondition(op, "PHASE_ORDER",
                               "the agreement is settled during the preliminary phase");
        return;
    }
    if (b->agreement == BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_ACCEPTED) {
        sess_fail_precondition(op, "AGREEMENT_ACCEPTED",
                               "the beneficiary accepted the agreement; it is final");
        return;
    }
    sess_with_key(op, true, propose_keyed);
}

SESS_HANDLER(propose_agreement, ProposeAgreementRequest, Agreement)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    long start = -1, end = -1;
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_text(&chk, "employer_name", in->employer_name, 1, SESS_MAX_EMPLOYER);
    bsl_check_text(&chk, "objective", in->objective, 1, SESS_MAX_OBJECTIVE);
    bsl_check_text(&chk, "content", in->content, 1, SESS_MAX_CONTENT);
    bsl_check_text(&chk, "means", in->means, 1, SESS_MAX_MEANS);
    bsl_check_range(&chk, "duration_hours", in->duration_hours, 1, 24);
    bsl_check_date(&chk, "period_start", in->period_start, false, &start);
    bsl_check_date(&chk, "period_end", in->period_end, false, &end);
    if (start >= 0 && end >= 0 && end < start) {
        bsl_check_violation(&chk, "period_end", "must not be before period_start");
    }
    bsl_check_text(&chk, "results_handover", in->results_handover, 1, SESS_MAX_HANDOVER);
    if (in->price_cents > SESS_MAX_PRICE_CENTS) {
        bsl_check_violation(&chk, "price_cents", "at most %llu",
                            (unsigned long long)SESS_MAX_PRICE_CENTS);
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_PROPOSE_AGREEMENT);
    if (op != NULL) {
        sess_load(op, agreement_reads, 1, propose_loaded);
    }
}

/* ---- RespondToAgreement ------------------------------------------------------------- */

static void reply_agreement(sess_op *op)
{
    Boussole__V1__Agreement *a = merge(op, &op->parts[0], &op->parts[1]);
    if (a != NULL) {
        bsl_call_reply(op->call, &a->base);
    }
}

static void on_responded(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    /* parts[0] now holds the record just written (see respond_keyed). */
    reply_agreement(op);
}

static void respond_keyed(sess_op *op)
{
    const Boussole__V1__RespondToAgreementRequest *in = (const void *)bsl_call_request(op->call);
    const sess_bilan *b = &op->bilan;
    sess_value *cur = &op->parts[0];
    if (cur->type != SESS_V_STR) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no agreement was proposed");
        return;
    }
    Boussole__V1__Agreement *plain = (Boussole__V1__Agreement *)sess_unpack(
        op, &boussole__v1__agreement__descriptor, cur->str, cur->len);
    if (plain == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored agreement is unreadable");
        return;
    }
    if (in->revision != plain->revision) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "revision %u is not the agreement proposed now (revision %u): read it "
                      "again",
                      in->revision, plain->revision);
        return;
    }
    Boussole__V1__AgreementStatus want =
        in->accept ? BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_ACCEPTED
                   : BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_REFUSED;
    Boussole__V1__AgreementStatus now =
        sess_agreement_status(b->agreement, b->agreement_deadline_ms, op->now_ms);
    if (now == want) {
        /* The same answer again: nothing changes. */
        reply_agreement(op);
        return;
    }
    if (now == BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_EXPIRED) {
        sess_fail_precondition(op, "AGREEMENT_EXPIRED",
                               "the %d days to accept the agreement have passed (silence is "
                               "refusal); a new one may be proposed",
                               SESS_AGREEMENT_DAYS);
        return;
    }
    if (now != BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_PROPOSED) {
        sess_fail_precondition(op, "AGREEMENT_ANSWERED",
                               "the beneficiary already answered this agreement");
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    plain->status = want;
    plain->response_time = bsl_pb_timestamp(op->arena, op->now_ms);
    sess_blob value = sess_pack(op, &plain->base);
    const char *st = bsl_arena_printf(op->arena, "%d", (int)want);
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (value.data == NULL || st == NULL || c == NULL || plain->response_time == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->what = "agreement";
    c->puts[0] = (sess_put){
        "agreement", NULL, SESS_PUT_CAS, { (const uint8_t *)cur->str, cur->len }, value
    };
    c->n_puts = 1;
    c->sets[0] = "agr";
    c->sets[1] = st;
    c->n_sets = 2;
    /* What the answer shows once written. */
    op->parts[0].str = (const char *)value.data;
    op->parts[0].len = value.len;
    sess_write(op, c, on_responded);
}

static void respond_loaded(sess_op *op)
{
    sess_with_key(op, false, respond_keyed);
}

static void respond_start(sess_op *op)
{
    sess_load(op, agreement_reads, 2, respond_loaded);
}

SESS_HANDLER(respond_to_agreement, RespondToAgreementRequest, Agreement)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_range(&chk, "revision", in->revision, 1, UINT32_MAX);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_RESPOND_AGREEMENT);
    if (op != NULL) {
        /* A concurrent change starts this over: the same answer is then found given (OK), a
         * proposal replaced meanwhile has another revision (ABORTED). */
        op->restart = respond_start;
        respond_start(op);
    }
}

/* ---- GetAgreement ------------------------------------------------------------------- */

static void get_keyed(sess_op *op)
{
    if (op->parts[0].type != SESS_V_STR) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no agreement was proposed");
        return;
    }
    reply_agreement(op);
}

static void get_loaded(sess_op *op)
{
    if (op->parts[0].type != SESS_V_STR) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no agreement was proposed");
        return;
    }
    sess_with_key(op, false, get_keyed);
}

SESS_HANDLER(get_agreement, GetAgreementRequest, Agreement)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_READ_AGREEMENT);
    if (op != NULL) {
        sess_load(op, agreement_reads, 2, get_loaded);
    }
}
