/* The workflow: DRAFT -> SUBMITTED (the counselor's approval) -> CHANGES_REQUESTED or FINAL (the
 * beneficiary's approval); corrections of a final version; comments. */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "handlers.h"
#include "keys.h"

static void on_transition(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "changing the synthesis");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        syn_fail_script(ctx, reply->str, "changing the synthesis");
        return;
    }
    syn_reply_current(ctx);
}

static int eval(syn_ctx *ctx, bsl_redis_script *script, bsl_redis_cb cb, int nkeys, int argc,
                const char *const *argv, const size_t *lens)
{
    return bsl_redis_eval(ctx->app->redis, script, bsl_call_remaining_ms(ctx->call), cb, ctx, nkeys,
                          argc, argv, lens);
}

static void lengths(const char *const *argv, size_t *lens, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(argv[i]);
    }
}

/* ---- SubmitSynthesis --------------------------------------------------------------------- */

static void submit_begin(syn_ctx *ctx)
{
    const Boussole__V1__SubmitSynthesisRequest *in = (const void *)bsl_call_request(ctx->call);
    if (!syn_bilan_running(ctx)) {
        return;
    }
    if (ctx->bilan.phase != BOUSSOLE__V1__PHASE__PHASE_CONCLUSION) {
        syn_fail_precondition(ctx, "BILAN_PHASE",
                              "a synthesis is submitted in the conclusion phase of the bilan");
        return;
    }
    char k1[SYN_KEY_MAX], base[24], ms[24];
    syn_key(k1, ctx->bilan.id, "");
    snprintf(base, sizeof(base), "%llu", (unsigned long long)in->base_revision);
    snprintf(ms, sizeof(ms), "%lld", (long long)bsl_clock_now_ms(ctx->app->clock));
    const char *argv[] = { k1, base, ms };
    size_t lens[3];
    lengths(argv, lens, 3);
    int rv = eval(ctx, ctx->app->scripts.submit, on_transition, 1, 3, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "submitting the synthesis");
    }
}

static bool check_revision(bsl_check *chk, const char *field, uint64_t v)
{
    if (v < 1 || v > SYN_MAX_REVISIONS) {
        return bsl_check_violation(chk, field, "required: a revision number");
    }
    return true;
}

SYN_HANDLER(submit_synthesis, SubmitSynthesisRequest, Synthesis)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    check_revision(&chk, "base_revision", in->base_revision);
    if (!bsl_check_end(&chk)) {
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, submit_begin, NULL);
}

/* ---- comments (shared by AddSynthesisComment and RequestSynthesisChanges) ---------------- */

typedef struct comment_op {
    Boussole__V1__SynthesisComment comment;
    char id[BSL_ID_LEN + 1];
    uint64_t base;
} comment_op;

static comment_op *comment_new(bsl_call *call, Boussole__V1__SynthesisSection section,
                               const char *text, bool change_request)
{
    comment_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        return NULL;
    }
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    /* Derived from the idempotency key: a retry stores the same comment once. */
    bsl_id_derive(op->id, "synthesis-comment", c->subject, bsl_call_idempotency_key(call));
    boussole__v1__synthesis_comment__init(&op->comment);
    op->comment.id = op->id;
    op->comment.author_id = c->subject;
    op->comment.author_role = c->role;
    op->comment.section = section;
    op->comment.text = (char *)text;
    op->comment.change_request = change_request;
    return op;
}

/* Seals the comment; NULL when out of memory. */
static unsigned char *comment_seal(syn_ctx *ctx, comment_op *op, size_t *len)
{
    bsl_arena *a = bsl_call_arena(ctx->call);
    op->comment.create_time = bsl_pb_timestamp(a, bsl_clock_now_ms(ctx->app->clock));
    if (op->comment.create_time == NULL) {
        return NULL;
    }
    char ad[128], what[64];
    snprintf(what, sizeof(what), "comment/%s", op->id);
    syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
    return syn_seal_message(a, &ctx->dek, ad, &op->comment.base, len);
}

/* ---- RequestSynthesisChanges ------------------------------------------------------------- */

static void request_changes_begin(syn_ctx *ctx)
{
    comment_op *op = ctx->op;
    if (!syn_bilan_running(ctx)) {
        return;
    }
    if (!ctx->have_dek) {
        syn_fail(ctx, BSL_STATUS_NOT_FOUND, "no synthesis for this bilan");
        return;
    }
    op->comment.revision = op->base;
    size_t len = 0;
    unsigned char *sealed = comment_seal(ctx, op, &len);
    if (sealed == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    char k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], k3[SYN_KEY_MAX], base[24], ms[24], max[16];
    syn_key(k1, ctx->bilan.id, "");
    syn_key(k2, ctx->bilan.id, ":comments");
    syn_key(k3, ctx->bilan.id, ":cids");
    snprintf(base, sizeof(base), "%llu", (unsigned long long)op->base);
    snprintf(ms, sizeof(ms), "%lld", (long long)bsl_clock_now_ms(ctx->app->clock));
    snprintf(max, sizeof(max), "%d", SYN_MAX_COMMENTS);
    const char *argv[] = { k1, k2, k3, base, op->id, (const char *)sealed, ms, max };
    size_t lens[8];
    lengths(argv, lens, 8);
    lens[5] = len;
    int rv = eval(ctx, ctx->app->scripts.request_changes, on_transition, 3, 8, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "recording the request for changes");
    }
}

SYN_HANDLER(request_synthesis_changes, RequestSynthesisChangesRequest, Synthesis)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    check_revision(&chk, "base_revision", in->base_revision);
    bsl_check_text(&chk, "comment", in->comment, 1, SYN_COMMENT_MAX);
    bsl_check_enum(&chk, "section", &boussole__v1__synthesis_section__descriptor, (int)in->section,
                   true);
    if (!bsl_check_end(&chk)) {
        return;
    }
    comment_op *op = comment_new(call, in->section, in->comment, true);
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->base = in->base_revision;
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, request_changes_begin, op);
}

/* ---- ApproveSynthesis -------------------------------------------------------------------- */

static void on_reported(const bsl_reply *reply, void *arg)
{
    syn_ctx *ctx = arg;
    syn_loaded *l = ctx->op;
    if (reply->code != BSL_STATUS_OK) {
        /* The synthesis is final; only the report is missing. ApproveSynthesis is idempotent:
         * a retry finds it final and reports again. */
        syn_fail(ctx, reply->code == BSL_STATUS_NOT_FOUND ? BSL_STATUS_UNAVAILABLE : reply->code,
                 "the synthesis is final but the sessions service was not told (%s); retry",
                 reply->message);
        return;
    }
    syn_reply_loaded(ctx, l);
}

static void approve_loaded(syn_ctx *ctx, syn_loaded *l)
{
    if (l->h.status != SYN_FINAL) {
        syn_fail(ctx, BSL_STATUS_ABORTED, "the synthesis changed while being approved");
        return;
    }
    ctx->op = l;
    Boussole__V1__ReportSynthesisFinalisedRequest req =
        BOUSSOLE__V1__REPORT_SYNTHESIS_FINALISED_REQUEST__INIT;
    req.bilan_id = ctx->bilan.id;
    req.synthesis_id = (char *)l->h.id;
    req.version = l->h.version;
    bsl_call_opts o = {
        .caller = bsl_service_caller(ctx->app->svc),
        .trace_id = bsl_call_trace_id(ctx->call),
        .deadline_ms = bsl_call_remaining_ms(ctx->call),
    };
    int rv =
        bsl_client_call(ctx->app->sessions, "boussole.v1.SessionService/ReportSynthesisFinalised",
                        &req.base, &o, on_reported, ctx);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "reporting the final synthesis");
    }
}

static void on_approved(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "approving the synthesis");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        syn_fail_script(ctx, reply->str, "approving the synthesis");
        return;
    }
    syn_load(ctx, 0, NULL, approve_loaded);
}

static void approve_begin(syn_ctx *ctx)
{
    const Boussole__V1__ApproveSynthesisRequest *in = (const void *)bsl_call_request(ctx->call);
    if (!syn_bilan_running(ctx)) {
        return;
    }
    if (!ctx->have_dek) {
        syn_fail(ctx, BSL_STATUS_NOT_FOUND, "no synthesis for this bilan");
        return;
    }
    char k1[SYN_KEY_MAX], rev[24], ms[24];
    syn_key(k1, ctx->bilan.id, "");
    snprintf(rev, sizeof(rev), "%llu", (unsigned long long)in->revision);
    snprintf(ms, sizeof(ms), "%lld", (long long)bsl_clock_now_ms(ctx->app->clock));
    const char *argv[] = { k1, rev, bsl_call_caller(ctx->call)->subject, ms };
    size_t lens[4];
    lengths(argv, lens, 4);
    int rv = eval(ctx, ctx->app->scripts.approve, on_approved, 1, 4, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "approving the synthesis");
    }
}

SYN_HANDLER(approve_synthesis, ApproveSynthesisRequest, Synthesis)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    check_revision(&chk, "revision", in->revision);
    if (!bsl_check_end(&chk)) {
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, approve_begin, NULL);
}

/* ---- StartSynthesisCorrection ------------------------------------------------------------ */

static void correction_loaded(syn_ctx *ctx, syn_loaded *l)
{
    const Boussole__V1__StartSynthesisCorrectionRequest *in =
        (const void *)bsl_call_request(ctx->call);
    bsl_arena *a = bsl_call_arena(ctx->call);
    if (l->h.revision != in->base_revision) {
        syn_fail(ctx, BSL_STATUS_ABORTED, "revision %llu is current, not %llu",
                 (unsigned long long)l->h.revision, (unsigned long long)in->base_revision);
        return;
    }
    if (l->h.status != SYN_FINAL) {
        syn_fail_precondition(ctx, "SYNTHESIS_NOT_FINAL", "only a final synthesis is corrected");
        return;
    }
    uint64_t next = l->h.revision + 1;
    uint32_t version = l->h.version + 1;
    char ad[128], what[48];
    snprintf(what, sizeof(what), "content/%llu", (unsigned long long)next);
    syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
    size_t content_len = 0, reason_len = 0;
    unsigned char *content = syn_seal_message(a, &ctx->dek, ad, &l->content->base, &content_len);
    snprintf(what, sizeof(what), "reason/%u", version);
    syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
    unsigned char *reason = syn_seal_text(a, &ctx->dek, ad, in->reason, &reason_len);
    if (content == NULL || reason == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    syn_rev_meta m = {
        .version = version,
        .ms = bsl_clock_now_ms(ctx->app->clock),
        .role = (int)bsl_call_caller(ctx->call)->role,
        .kind = BOUSSOLE__V1__SYNTHESIS_REVISION_KIND__SYNTHESIS_REVISION_KIND_CORRECTION,
        .changed = 0,
    };
    snprintf(m.author, sizeof(m.author), "%s", bsl_call_caller(ctx->call)->subject);
    char meta[320], k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], base[24], ms[24], maxr[16], maxv[16];
    syn_rev_meta_format(meta, sizeof(meta), &m);
    syn_key(k1, ctx->bilan.id, "");
    syn_key(k2, ctx->bilan.id, ":revs");
    snprintf(base, sizeof(base), "%llu", (unsigned long long)in->base_revision);
    snprintf(ms, sizeof(ms), "%lld", (long long)m.ms);
    snprintf(maxr, sizeof(maxr), "%d", SYN_MAX_REVISIONS);
    snprintf(maxv, sizeof(maxv), "%d", SYN_MAX_VERSIONS);
    const char *argv[] = {
        k1, k2, base, (const char *)content, meta, (const char *)reason, m.author, ms, maxr, maxv
    };
    size_t lens[10];
    lengths(argv, lens, 10);
    lens[3] = content_len;
    lens[5] = reason_len;
    int rv = eval(ctx, ctx->app->scripts.correct, on_transition, 2, 10, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "starting the correction");
    }
}

static void correction_begin(syn_ctx *ctx)
{
    if (!syn_bilan_running(ctx)) {
        return;
    }
    syn_load(ctx, 0, NULL, correction_loaded);
}

SYN_HANDLER(start_synthesis_correction, StartSynthesisCorrectionRequest, Synthesis)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    check_revision(&chk, "base_revision", in->base_revision);
    bsl_check_text(&chk, "reason", in->reason, 1, SYN_REASON_MAX);
    if (!bsl_check_end(&chk)) {
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, correction_begin, NULL);
}

/* ---- AddSynthesisComment ----------------------------------------------------------------- */

static void on_commented(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    comment_op *op = ctx->op;
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "storing the comment");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        syn_fail_script(ctx, reply->str, "storing the comment");
        return;
    }
    syn_reply(ctx, &op->comment.base);
}

static void on_current_revision(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    comment_op *op = ctx->op;
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "reading the synthesis");
        return;
    }
    if (reply->type != REDIS_REPLY_STRING ||
        !syn_parse_u64(reply->str, reply->len, &op->comment.revision)) {
        syn_fail(ctx, BSL_STATUS_NOT_FOUND, "no synthesis for this bilan");
        return;
    }
    size_t len = 0;
    unsigned char *sealed = comment_seal(ctx, op, &len);
    if (sealed == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    char k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], k3[SYN_KEY_MAX], max[16];
    syn_key(k1, ctx->bilan.id, "");
    syn_key(k2, ctx->bilan.id, ":comments");
    syn_key(k3, ctx->bilan.id, ":cids");
    snprintf(max, sizeof(max), "%d", SYN_MAX_COMMENTS);
    const char *argv[] = { k1, k2, k3, op->id, (const char *)sealed, max };
    size_t lens[6];
    lengths(argv, lens, 6);
    lens[4] = len;
    int rv = eval(ctx, ctx->app->scripts.comment, on_commented, 3, 6, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "storing the comment");
    }
}

static void comment_begin(syn_ctx *ctx)
{
    if (!syn_bilan_running(ctx)) {
        return;
    }
    if (!ctx->have_dek) {
        syn_fail(ctx, BSL_STATUS_NOT_FOUND, "no synthesis for this bilan");
        return;
    }
    char k1[SYN_KEY_MAX];
    syn_key(k1, ctx->bilan.id, "");
    int rv = bsl_redis_command(ctx->app->redis, bsl_call_remaining_ms(ctx->call),
                               on_current_revision, ctx, "HGET %s revision", k1);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "reading the synthesis");
    }
}

SYN_HANDLER(add_synthesis_comment, AddSynthesisCommentRequest, SynthesisComment)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_text(&chk, "text", in->text, 1, SYN_COMMENT_MAX);
    bsl_check_enum(&chk, "section", &boussole__v1__synthesis_section__descriptor, (int)in->section,
                   true);
    if (!bsl_check_end(&chk)) {
        return;
    }
    comment_op *op = comment_new(call, in->section, in->text, false);
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, comment_begin, op);
}

/* ---- ListSynthesisComments --------------------------------------------------------------- */

Boussole__V1__SynthesisComment *syn_comment_open(syn_ctx *ctx, const char *id,
                                                 const redisReply *sealed)
{
    if (sealed->type != REDIS_REPLY_STRING || !ctx->have_dek) {
        return NULL;
    }
    char ad[128], what[64];
    snprintf(what, sizeof(what), "comment/%s", id);
    syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
    return (Boussole__V1__SynthesisComment *)syn_open_message(
        bsl_call_arena(ctx->call), &ctx->dek, ad, &boussole__v1__synthesis_comment__descriptor,
        (const unsigned char *)sealed->str, sealed->len);
}

static void on_comments(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    const Boussole__V1__ListSynthesisCommentsRequest *in =
        (const void *)bsl_call_request(ctx->call);
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "listing comments");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 || reply->elements % 2 != 1) {
        syn_fail(ctx, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    bsl_arena *a = bsl_call_arena(ctx->call);
    uint64_t total = 0, offset = 0;
    syn_parse_u64(reply->element[0]->str, reply->element[0]->len, &total);
    if (in->page != NULL && in->page->page_token[0] != '\0') {
        syn_parse_u64(in->page->page_token, strlen(in->page->page_token), &offset);
    }
    size_t n = (reply->elements - 1) / 2;
    Boussole__V1__ListSynthesisCommentsResponse out =
        BOUSSOLE__V1__LIST_SYNTHESIS_COMMENTS_RESPONSE__INIT;
    out.comments = bsl_arena_calloc(a, n ? n : 1, sizeof(*out.comments));
    if (out.comments == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *id = reply->element[1 + 2 * i];
        Boussole__V1__SynthesisComment *c =
            id->type == REDIS_REPLY_STRING
                ? syn_comment_open(ctx, id->str, reply->element[2 + 2 * i])
                : NULL;
        if (c == NULL) {
            syn_fail(ctx, BSL_STATUS_DATA_LOSS, "a comment does not decrypt");
            return;
        }
        out.comments[out.n_comments++] = c;
    }
    out.next_page_token =
        offset + n < total ? bsl_arena_printf(a, "%llu", (unsigned long long)(offset + n)) : "";
    syn_reply(ctx, &out.base);
}

static void list_comments_begin(syn_ctx *ctx)
{
    const Boussole__V1__ListSynthesisCommentsRequest *in =
        (const void *)bsl_call_request(ctx->call);
    uint64_t offset = 0;
    if (in->page != NULL && in->page->page_token[0] != '\0') {
        syn_parse_u64(in->page->page_token, strlen(in->page->page_token), &offset);
    }
    uint32_t size = in->page && in->page->page_size ? in->page->page_size : 20;
    char k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], off[24], cnt[16];
    syn_key(k1, ctx->bilan.id, ":cids");
    syn_key(k2, ctx->bilan.id, ":comments");
    snprintf(off, sizeof(off), "%llu", (unsigned long long)offset);
    snprintf(cnt, sizeof(cnt), "%u", size);
    const char *argv[] = { k1, k2, off, cnt };
    size_t lens[4];
    lengths(argv, lens, 4);
    int rv = eval(ctx, ctx->app->scripts.list_comments, on_comments, 2, 4, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "listing comments");
    }
}

SYN_HANDLER(list_synthesis_comments, ListSynthesisCommentsRequest, ListSynthesisCommentsResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    syn_check_page(&chk, in->page, true);
    if (!bsl_check_end(&chk)) {
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, list_comments_begin, NULL);
}
