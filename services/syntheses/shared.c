/* What third parties read: GetSharedSynthesis (a share token, no account) and
 * GetGrantedSynthesis (a third-party account with a grant bound to it). Both read the latest
 * final version only, only the granted sections, and are logged in the same script that reads. */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "grants.h"
#include "handlers.h"
#include "keys.h"
#include "rendering.h"

typedef struct shared_op {
    syn_ctx ctx;
    char token_hash[65];
    int format;
    Boussole__V1__SharedSynthesis out;
} shared_op;

static void rendered(syn_ctx *ctx, Boussole__V1__RenderedSynthesis *r)
{
    shared_op *op = ctx->op;
    op->out.rendering = r;
    syn_reply(ctx, &op->out.base);
}

/* {ids, states, mask, latest final version, revision, final ms, sealed content} */
static void on_read(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    shared_op *op = ctx->op;
    bsl_arena *a = bsl_call_arena(ctx->call);
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "reading the synthesis");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        syn_fail_script(ctx, reply->str, "reading the synthesis");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 7 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY ||
        reply->element[1]->type != REDIS_REPLY_ARRAY ||
        reply->element[0]->elements != reply->element[1]->elements) {
        syn_fail(ctx, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    uint64_t mask = 0, version = 0, rev = 0;
    for (int i = 2; i <= 5; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            syn_fail(ctx, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
            return;
        }
    }
    syn_parse_u64(reply->element[2]->str, reply->element[2]->len, &mask);
    syn_parse_u64(reply->element[3]->str, reply->element[3]->len, &version);
    syn_parse_u64(reply->element[4]->str, reply->element[4]->len, &rev);
    int64_t final_ms = syn_str_i64(reply->element[5]->str);
    Boussole__V1__SynthesisContent *content = syn_content_open(ctx, rev, reply->element[6]);
    if (content == NULL) {
        syn_fail(ctx, BSL_STATUS_DATA_LOSS, "the synthesis content does not decrypt");
        return;
    }
    mask &= SYN_MASK_SHAREABLE;
    Boussole__V1__SharedSynthesis *out = &op->out;
    boussole__v1__shared_synthesis__init(out);
    out->bilan_id = ctx->bilan.id;
    out->version = (uint32_t)version;
    out->revision = rev;
    out->final_time = bsl_pb_timestamp(a, final_ms);
    size_t n = 0;
    out->sections = syn_mask_sections(a, (syn_mask)mask, &n);
    out->n_sections = n;
    out->content = syn_content_scope(a, content, (syn_mask)mask);
    const redisReply *ids = reply->element[0], *states = reply->element[1];
    out->grants = bsl_arena_calloc(a, ids->elements + 1, sizeof(*out->grants));
    if (out->final_time == NULL || out->sections == NULL || out->content == NULL ||
        out->grants == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    int64_t now = bsl_clock_now_ms(ctx->app->clock);
    for (size_t i = 0; i < ids->elements; i++) {
        syn_grant_state g;
        if (ids->element[i]->type == REDIS_REPLY_STRING &&
            states->element[i]->type == REDIS_REPLY_STRING &&
            syn_grant_state_parse(states->element[i]->str, states->element[i]->len, &g)) {
            Boussole__V1__SynthesisGrant *gr =
                syn_grant_build(a, ctx->bilan.id, ids->element[i]->str, &g, now);
            if (gr != NULL) {
                out->grants[out->n_grants++] = gr;
            }
        }
    }
    if (op->format == BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_UNSPECIFIED) {
        syn_reply(ctx, &out->base);
        return;
    }
    /* A third party reads the document as it was approved, not why it was corrected. */
    syn_doc_input din = {
        .content = out->content,
        .sections = (syn_mask)mask,
        .shared = true,
        .version = (uint32_t)version,
        .revision = rev,
        .status = SYN_FINAL,
        .final_ms = final_ms,
    };
    syn_render(ctx, &din, op->format, final_ms, rendered);
}

static void on_dek(int err, const bsl_dek *dek, void *arg)
{
    shared_op *op = arg;
    syn_ctx *ctx = &op->ctx;
    const Boussole__V1__Caller *c = bsl_call_caller(ctx->call);
    bool token = c->role != BOUSSOLE__V1__ROLE__ROLE_THIRD_PARTY || op->token_hash[0] != '\0';
    if (err == BSL_ENOTFOUND) {
        syn_fail(ctx, BSL_STATUS_NOT_FOUND, token ? "unknown share token" : "no such bilan");
        return;
    }
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "the bilan's data key");
        return;
    }
    ctx->dek = *dek;
    ctx->have_dek = true;
    char k[5][SYN_KEY_MAX], ms[24], role[8];
    syn_key(k[0], ctx->bilan.id, "");
    syn_key(k[1], ctx->bilan.id, ":revs");
    syn_key(k[2], ctx->bilan.id, ":grants");
    snprintf(ms, sizeof(ms), "%lld", (long long)bsl_clock_now_ms(ctx->app->clock));
    char *channel =
        bsl_arena_printf(bsl_call_arena(ctx->call), "%s/%s", bsl_call_method(ctx->call)->name,
                         syn_format_channel(op->format));
    if (channel == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    int rv;
    if (op->token_hash[0] != '\0') {
        syn_key(k[3], ctx->bilan.id, ":tokens");
        syn_key(k[4], ctx->bilan.id, ":access");
        const char *argv[] = { k[0], k[1], k[2], k[3], k[4], op->token_hash, ms, channel, "", "0" };
        size_t lens[10];
        for (size_t i = 0; i < 10; i++) {
            lens[i] = strlen(argv[i]);
        }
        rv = bsl_redis_eval(ctx->app->redis, ctx->app->scripts.read_token,
                            bsl_call_remaining_ms(ctx->call), on_read, ctx, 5, 10, argv, lens);
    } else {
        syn_key(k[3], ctx->bilan.id, ":access");
        snprintf(role, sizeof(role), "%d", (int)c->role);
        const char *argv[] = { k[0], k[1], k[2], k[3], c->subject, ms, channel, c->subject, role };
        size_t lens[9];
        for (size_t i = 0; i < 9; i++) {
            lens[i] = strlen(argv[i]);
        }
        rv = bsl_redis_eval(ctx->app->redis, ctx->app->scripts.read_account,
                            bsl_call_remaining_ms(ctx->call), on_read, ctx, 4, 9, argv, lens);
    }
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "reading the synthesis");
    }
}

static shared_op *start(syn_app *app, bsl_call *call, const char *bilan_id, int format)
{
    shared_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    op->ctx.app = app;
    op->ctx.call = call;
    op->ctx.op = op;
    op->format = format;
    snprintf(op->ctx.bilan.id, sizeof(op->ctx.bilan.id), "%s", bilan_id);
    return op;
}

static void fetch_key(shared_op *op)
{
    int rv = bsl_dek_get(op->ctx.app->keyring, op->ctx.bilan.id, BSL_SCOPE_SYNTHESES, false,
                         bsl_call_remaining_ms(op->ctx.call), on_dek, op);
    if (rv != BSL_OK) {
        syn_fail_err(&op->ctx, rv, "the bilan's data key");
    }
}

/* "bss1.<bilan id>.<64 hex digits>": the bilan's id, out of the token, into bilan_id. */
static bool token_parse(const char *t, char bilan_id[BSL_ID_LEN + 1])
{
    if (strlen(t) != SYN_SHARE_TOKEN_LEN || strncmp(t, "bss1.", 5) != 0 ||
        t[5 + BSL_ID_LEN] != '.') {
        return false;
    }
    memcpy(bilan_id, t + 5, BSL_ID_LEN);
    bilan_id[BSL_ID_LEN] = '\0';
    if (!bsl_id_valid(bilan_id)) {
        return false;
    }
    for (const char *p = t + 6 + BSL_ID_LEN; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return false;
        }
    }
    return true;
}

SYN_HANDLER(get_shared_synthesis, GetSharedSynthesisRequest, SharedSynthesis)
{
    (void)closure;
    bsl_call *call = closure_data;
    char bilan_id[BSL_ID_LEN + 1];
    bsl_check chk = bsl_check_begin(call);
    if (in->share_token[0] == '\0') {
        bsl_check_violation(&chk, "share_token", "required");
    } else if (!token_parse(in->share_token, bilan_id)) {
        bsl_check_violation(&chk, "share_token", "not a share token");
    }
    syn_check_format(&chk, "format", (int)in->format, true);
    if (!bsl_check_end(&chk)) {
        return;
    }
    shared_op *op = start(syn_of(service), call, bilan_id, (int)in->format);
    if (op == NULL) {
        return;
    }
    bsl_sha256_hex(op->token_hash, in->share_token, strlen(in->share_token));
    fetch_key(op);
}

SYN_HANDLER(get_granted_synthesis, GetGrantedSynthesisRequest, SharedSynthesis)
{
    (void)closure;
    bsl_call *call = closure_data;
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    if (c->role != BOUSSOLE__V1__ROLE__ROLE_THIRD_PARTY) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "this method is for third-party accounts; participants use GetSynthesis");
        return;
    }
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_subject(&chk, "metadata.caller.subject", c->subject);
    syn_check_format(&chk, "format", (int)in->format, true);
    if (!bsl_check_end(&chk)) {
        return;
    }
    shared_op *op = start(syn_of(service), call, in->bilan_id, (int)in->format);
    if (op != NULL) {
        fetch_key(op);
    }
}
