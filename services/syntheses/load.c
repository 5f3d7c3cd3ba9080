/* Reading one revision of a synthesis (header, metadata, opened content), and logging the read
 * in the access log in the same script when it is a read of the document. */
#include <stdio.h>
#include <string.h>

#include "boussole/err.h"
#include "keys.h"
#include "load.h"

typedef struct load_op {
    syn_ctx *ctx;
    syn_loaded_fn fn;
    syn_loaded loaded;
} load_op;

static void on_loaded(const redisReply *reply, int err, void *arg)
{
    load_op *op = arg;
    syn_ctx *ctx = op->ctx;
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "reading the synthesis");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        syn_fail_script(ctx, reply->str, "reading the synthesis");
        return;
    }
    bsl_arena *a = bsl_call_arena(ctx->call);
    syn_loaded *l = &op->loaded;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5 ||
        !syn_header_parse(a, reply->element[0], &l->h) ||
        reply->element[1]->type != REDIS_REPLY_STRING ||
        !syn_parse_u64(reply->element[1]->str, reply->element[1]->len, &l->rev) ||
        reply->element[3]->type != REDIS_REPLY_STRING ||
        !syn_rev_meta_parse(reply->element[3]->str, reply->element[3]->len, &l->meta)) {
        syn_fail(ctx, BSL_STATUS_INTERNAL, "the stored synthesis is unreadable");
        return;
    }
    l->content = syn_content_open(ctx, l->rev, reply->element[2]);
    if (l->content == NULL) {
        /* The data key does not open what it sealed: tampering, or a key that was replaced. */
        syn_fail(ctx, BSL_STATUS_DATA_LOSS, "the synthesis content does not decrypt");
        return;
    }
    l->note = "";
    const redisReply *note = reply->element[4];
    if (note->type == REDIS_REPLY_STRING && note->len > 0) {
        char ad[128], what[48];
        snprintf(what, sizeof(what), "note/%llu", (unsigned long long)l->rev);
        syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
        char *t = syn_open_text(a, &ctx->dek, ad, (const unsigned char *)note->str, note->len);
        l->note = t ? t : "";
    }
    op->fn(ctx, l);
}

void syn_load(syn_ctx *ctx, uint64_t rev, const char *channel, syn_loaded_fn fn)
{
    if (!ctx->have_dek) {
        syn_fail(ctx, BSL_STATUS_NOT_FOUND, "no synthesis for this bilan");
        return;
    }
    bsl_arena *a = bsl_call_arena(ctx->call);
    load_op *op = bsl_arena_calloc(a, 1, sizeof(*op));
    if (op == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->ctx = ctx;
    op->fn = fn;
    char k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], k3[SYN_KEY_MAX], revs[24], ms[24], role[8], sections[16];
    syn_key(k1, ctx->bilan.id, "");
    syn_key(k2, ctx->bilan.id, ":revs");
    syn_key(k3, ctx->bilan.id, ":access");
    snprintf(revs, sizeof(revs), "%llu", (unsigned long long)rev);
    const Boussole__V1__Caller *caller = bsl_call_caller(ctx->call);
    snprintf(ms, sizeof(ms), "%lld", (long long)bsl_clock_now_ms(ctx->app->clock));
    snprintf(role, sizeof(role), "%d", (int)caller->role);
    snprintf(sections, sizeof(sections), "%u", (unsigned)SYN_MASK_SHAREABLE);
    const char *argv[] = { k1,
                           k2,
                           k3,
                           revs,
                           channel ? "1" : "0",
                           ms,
                           caller->subject ? caller->subject : "",
                           role,
                           channel ? channel : "",
                           sections };
    size_t lens[10];
    for (size_t i = 0; i < 10; i++) {
        lens[i] = strlen(argv[i]);
    }
    int rv = bsl_redis_eval(ctx->app->redis, ctx->app->scripts.load,
                            bsl_call_remaining_ms(ctx->call), on_loaded, op, 3, 10, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "reading the synthesis");
    }
}

/* The version facts say which version a revision belongs to, and whether it is the final one
 * of its version. */
int syn_revision_status(const syn_header *h, uint32_t rev_version, uint64_t rev)
{
    if (rev_version < 1 || rev_version > h->version) {
        return SYN_DRAFT;
    }
    if (h->versions[rev_version].final_rev == rev) {
        return SYN_FINAL;
    }
    if (rev_version == h->version && rev == h->revision) {
        return h->status == SYN_FINAL ? SYN_DRAFT : h->status;
    }
    return SYN_DRAFT; /* an intermediate revision is a working state */
}
