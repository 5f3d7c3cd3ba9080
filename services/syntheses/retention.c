/* The beneficiary's consent to keep the documents, what will happen to them, and the
 * destruction records. The sweep itself is in sweep.c. */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "handlers.h"
#include "keys.h"
#include "labels.h"

/* ---- the retention status ---------------------------------------------------------------- */

typedef struct retention_op {
    Boussole__V1__SynthesisRetention out;
    int pending;
    int err;
    bool keep;
    int64_t cep_until;
    Boussole__V1__SynthesisKeepDecision **decisions;
    size_t n_decisions;
} retention_op;

static void retention_reply(syn_ctx *ctx)
{
    retention_op *op = ctx->op;
    bsl_arena *a = bsl_call_arena(ctx->call);
    Boussole__V1__SynthesisRetention *out = &op->out;
    boussole__v1__synthesis_retention__init(out);
    out->bilan_id = ctx->bilan.id;
    out->keep_agreed = op->keep;
    out->decisions = op->decisions;
    out->n_decisions = op->n_decisions;
    int64_t now = bsl_clock_now_ms(ctx->app->clock);
    out->shared_with_cep = op->cep_until > now;
    out->statement = (char *)syn_label_text(ctx->app->labels, SYN_L_RETENTION_STATEMENT);
    if (ctx->bilan.end_ms > 0) {
        int64_t end = ctx->bilan.end_ms, year = end + SYN_YEAR_MS, after = end;
        if (op->keep) {
            after = year;
        } else if (out->shared_with_cep) {
            after = op->cep_until < year ? op->cep_until : year;
        }
        out->end_time = bsl_pb_timestamp(a, end);
        out->destroy_after = bsl_pb_timestamp(a, after);
    }
    syn_reply(ctx, &out->base);
}

static void on_retention_part(syn_ctx *ctx, int err)
{
    retention_op *op = ctx->op;
    if (op->err == BSL_OK && err != BSL_OK) {
        op->err = err;
    }
    if (--op->pending > 0) {
        return;
    }
    if (op->err != BSL_OK) {
        syn_fail_err(ctx, op->err, "reading the retention state");
        return;
    }
    retention_reply(ctx);
}

/* {keep, mode, sessions_erased, cep, organisation, data, end_ms, due_ms} */
static void on_facts(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    retention_op *op = ctx->op;
    if (err == BSL_OK && reply->type == REDIS_REPLY_ARRAY && reply->elements == 8 &&
        reply->element[0]->type == REDIS_REPLY_STRING &&
        reply->element[3]->type == REDIS_REPLY_STRING) {
        op->keep = strcmp(reply->element[0]->str, "1") == 0;
        op->cep_until = syn_str_i64(reply->element[3]->str);
    } else if (err == BSL_OK) {
        err = BSL_EPROTO;
    }
    on_retention_part(ctx, err);
}

static void on_decisions(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    retention_op *op = ctx->op;
    bsl_arena *a = bsl_call_arena(ctx->call);
    if (err == BSL_OK && reply->type == REDIS_REPLY_ARRAY) {
        op->decisions = bsl_arena_calloc(a, reply->elements + 1, sizeof(*op->decisions));
        for (size_t i = 0; op->decisions != NULL && i < reply->elements; i++) {
            const redisReply *e = reply->element[i];
            if (e->type != REDIS_REPLY_STRING) {
                continue;
            }
            Boussole__V1__SynthesisKeepDecision *d = boussole__v1__synthesis_keep_decision__unpack(
                bsl_arena_allocator(a), e->len, (const uint8_t *)e->str);
            if (d != NULL) {
                op->decisions[op->n_decisions++] = d;
            }
        }
        if (op->decisions == NULL) {
            err = BSL_ENOMEM;
        }
    } else if (err == BSL_OK) {
        err = BSL_EPROTO;
    }
    on_retention_part(ctx, err);
}

static void retention_read(syn_ctx *ctx)
{
    retention_op *op = ctx->op;
    char k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], k3[SYN_KEY_MAX], k4[SYN_KEY_MAX], now[24];
    syn_key(k1, ctx->bilan.id, ":retention");
    syn_key(k2, ctx->bilan.id, ":grants");
    syn_key(k3, ctx->bilan.id, "");
    syn_key(k4, ctx->bilan.id, ":decisions");
    snprintf(now, sizeof(now), "%lld", (long long)bsl_clock_now_ms(ctx->app->clock));
    const char *argv[] = { k1, k2, k3, now };
    size_t lens[] = { strlen(k1), strlen(k2), strlen(k3), strlen(now) };
    op->pending = 2;
    int rv = bsl_redis_eval(ctx->app->redis, ctx->app->scripts.retention_facts,
                            bsl_call_remaining_ms(ctx->call), on_facts, ctx, 3, 4, argv, lens);
    if (rv != BSL_OK) {
        op->pending--;
        op->err = rv;
    }
    rv = bsl_redis_command(ctx->app->redis, bsl_call_remaining_ms(ctx->call), on_decisions, ctx,
                           "LRANGE %s 0 %d", k4, SYN_MAX_DECISIONS - 1);
    if (rv != BSL_OK) {
        op->err = rv;
        if (--op->pending == 0) {
            syn_fail_err(ctx, rv, "reading the retention state");
        }
    }
}

SYN_HANDLER(get_synthesis_retention, GetSynthesisRetentionRequest, SynthesisRetention)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    retention_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, 0, retention_read, op);
}

/* ---- SetRetentionConsent ----------------------------------------------------------------- */

static void on_requeued(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        /* The withdrawal is recorded; the held queue will see it at the bilan's due time at
         * the latest. A retry makes it due at once. */
        syn_fail_err(ctx, err != BSL_OK ? err : BSL_EIO, "queueing the documents' destruction");
        return;
    }
    retention_read(ctx);
}

static void on_consented(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    const Boussole__V1__SetRetentionConsentRequest *in = (const void *)bsl_call_request(ctx->call);
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "recording the decision");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        syn_fail_script(ctx, reply->str, "recording the decision");
        return;
    }
    if (in->keep) {
        retention_read(ctx);
        return;
    }
    /* Withdrawn: if the documents are held, they become due now. */
    int rv = bsl_redis_command(ctx->app->redis, bsl_call_remaining_ms(ctx->call), on_requeued, ctx,
                               "ZADD %s XX %lld %s", SYN_KEY_HELD,
                               (long long)bsl_clock_now_ms(ctx->app->clock), ctx->bilan.id);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "queueing the documents' destruction");
    }
}

static void on_consent_indexed(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    const Boussole__V1__SetRetentionConsentRequest *in = (const void *)bsl_call_request(ctx->call);
    bsl_arena *a = bsl_call_arena(ctx->call);
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        syn_fail_err(ctx, err != BSL_OK ? err : BSL_EIO, "indexing the decision");
        return;
    }
    int64_t now = bsl_clock_now_ms(ctx->app->clock);
    Boussole__V1__SynthesisKeepDecision d = BOUSSOLE__V1__SYNTHESIS_KEEP_DECISION__INIT;
    d.keep = in->keep;
    d.time = bsl_pb_timestamp(a, now);
    d.decided_by = bsl_call_caller(ctx->call)->subject;
    d.statement = (char *)syn_label_text(ctx->app->labels, SYN_L_RETENTION_STATEMENT);
    size_t n = boussole__v1__synthesis_keep_decision__get_packed_size(&d);
    uint8_t *packed = bsl_arena_alloc(a, n ? n : 1);
    if (packed == NULL || d.time == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    boussole__v1__synthesis_keep_decision__pack(&d, packed);
    char k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], ms[24], max[16];
    syn_key(k1, ctx->bilan.id, ":retention");
    syn_key(k2, ctx->bilan.id, ":decisions");
    snprintf(ms, sizeof(ms), "%lld", (long long)now);
    snprintf(max, sizeof(max), "%d", SYN_MAX_DECISIONS);
    const char *argv[] = {
        k1, k2, in->keep ? "1" : "0", ms, (const char *)packed, ctx->bilan.beneficiary, max
    };
    size_t lens[7];
    for (size_t i = 0; i < 7; i++) {
        lens[i] = i == 4 ? n : strlen(argv[i]); /* argv[4] is sealed, binary */
    }
    int rv = bsl_redis_eval(ctx->app->redis, ctx->app->scripts.consent,
                            bsl_call_remaining_ms(ctx->call), on_consented, ctx, 2, 7, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "recording the decision");
    }
}

static void consent_begin(syn_ctx *ctx)
{
    const Boussole__V1__SetRetentionConsentRequest *in = (const void *)bsl_call_request(ctx->call);
    if (in->keep && !syn_bilan_running(ctx)) {
        /* Documents are destroyed when the bilan ends: agreeing to keep them comes before. */
        return;
    }
    /* The beneficiary's index: an export finds the decisions even without a synthesis. */
    char key[SYN_KEY_MAX];
    syn_key_subject(key, "beneficiary", ctx->bilan.beneficiary);
    int rv = bsl_redis_command(ctx->app->redis, bsl_call_remaining_ms(ctx->call),
                               on_consent_indexed, ctx, "SADD %s %s", key, ctx->bilan.id);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "indexing the decision");
    }
}

SYN_HANDLER(set_retention_consent, SetRetentionConsentRequest, SynthesisRetention)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    retention_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, 0, consent_begin, op);
}

/* ---- ListDestructionRecords -------------------------------------------------------------- */

#define SCAN_FACTOR 10 /* an admin's page reads at most this many records per one it shows */

static const char *record_field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        if (fields->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(fields->element[i]->str, name) == 0 &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING) {
            return fields->element[i + 1]->str;
        }
    }
    return "";
}

static void on_records(const redisReply *reply, int err, void *arg)
{
    bsl_call *call = arg;
    const Boussole__V1__ListDestructionRecordsRequest *in = (const void *)bsl_call_request(call);
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    if (err != BSL_OK) {
        bsl_call_fail_err(call, err, "reading the destruction records");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        bsl_call_fail(call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    bsl_arena *a = bsl_call_arena(call);
    uint32_t size = in->page && in->page->page_size ? in->page->page_size : 20;
    bool admin = c->role == BOUSSOLE__V1__ROLE__ROLE_ADMIN;
    Boussole__V1__ListDestructionRecordsResponse out =
        BOUSSOLE__V1__LIST_DESTRUCTION_RECORDS_RESPONSE__INIT;
    out.records = bsl_arena_calloc(a, size + 1, sizeof(*out.records));
    if (out.records == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    const char *last = "";
    size_t i = 0;
    for (; i < reply->elements && out.n_records < size; i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        last = e->element[0]->str;
        const redisReply *f = e->element[1];
        const char *org = record_field(f, "organisation");
        if (admin && strcmp(org, c->organisation) != 0) {
            continue;
        }
        Boussole__V1__DestructionRecord *r = bsl_arena_alloc(a, sizeof(*r));
        if (r == NULL) {
            bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        boussole__v1__destruction_record__init(r);
        r->id = bsl_arena_strdup(a, last);
        r->bilan_id = bsl_arena_strdup(a, record_field(f, "bilan"));
        r->organisation_id = bsl_arena_strdup(a, org);
        r->service = bsl_arena_strdup(a, record_field(f, "service"));
        r->time = bsl_pb_timestamp(a, syn_str_i64(record_field(f, "ms")));
        r->reason = bsl_arena_strdup(a, record_field(f, "reason"));
        r->keys_deleted = (uint32_t)strtoul(record_field(f, "keys"), NULL, 10);
        r->data_key_destroyed = strcmp(record_field(f, "dek"), "1") == 0;
        out.records[out.n_records++] = r;
    }
    /* More may follow when the page filled up, or when the scan read all it asked for. */
    bool more =
        out.n_records == size || reply->elements == (size_t)size * (admin ? SCAN_FACTOR : 1);
    out.next_page_token = more && last[0] ? bsl_arena_strdup(a, last) : "";
    bsl_call_reply(call, &out.base);
}

SYN_HANDLER(list_destruction_records, ListDestructionRecordsRequest, ListDestructionRecordsResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    syn_app *app = syn_of(service);
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    bool admin =
        c->role == BOUSSOLE__V1__ROLE__ROLE_ADMIN && c->organisation && c->organisation[0] != '\0';
    if (!admin && c->role != BOUSSOLE__V1__ROLE__ROLE_SERVICE) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "destruction records are for an organisation's admins and services");
        return;
    }
    bsl_check chk = bsl_check_begin(call);
    syn_check_page(&chk, in->page, false);
    const char *token = in->page ? in->page->page_token : "";
    for (const char *p = token; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || *p == '-')) {
            bsl_check_violation(&chk, "page.page_token", "not a token this service gave");
            break;
        }
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    uint32_t size = in->page && in->page->page_size ? in->page->page_size : 20;
    char start[72] = "-";
    if (token[0] != '\0') {
        snprintf(start, sizeof(start), "(%s", token);
    }
    int rv = bsl_redis_command(app->redis, bsl_call_remaining_ms(call), on_records, call,
                               "XRANGE %s %s + COUNT %u", SYN_KEY_DESTRUCTIONS, start,
                               size * (admin ? SCAN_FACTOR : 1));
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "reading the destruction records");
    }
}
