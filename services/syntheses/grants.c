/* The beneficiary's grants to third parties: create, revoke, list; and the list of what was
 * shared with a third-party account. */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "grants.h"
#include "handlers.h"
#include "keys.h"

/* ---- grant state ------------------------------------------------------------------------- */

bool syn_grant_state_parse(const char *s, size_t len, syn_grant_state *g)
{
    memset(g, 0, sizeof(*g));
    char buf[256];
    if (s == NULL || len == 0 || len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *f[6];
    char *p = buf;
    for (int i = 0; i < 6; i++) {
        f[i] = p;
        if (i < 5) {
            char *bar = strchr(p, '|');
            if (bar == NULL) {
                return false;
            }
            *bar = '\0';
            p = bar + 1;
        }
    }
    g->create_ms = strtoll(f[0], NULL, 10);
    g->expire_ms = strtoll(f[1], NULL, 10);
    g->revoke_ms = strtoll(f[2], NULL, 10);
    g->kind = atoi(f[3]);
    g->mask = (syn_mask)strtoul(f[4], NULL, 10);
    snprintf(g->grantee, sizeof(g->grantee), "%s", f[5]);
    return g->expire_ms > 0 && (g->mask & ~SYN_MASK_SHAREABLE) == 0;
}

void syn_grant_state_format(char *out, size_t cap, const syn_grant_state *g)
{
    snprintf(out, cap, "%lld|%lld|%lld|%d|%u|%s", (long long)g->create_ms, (long long)g->expire_ms,
             (long long)g->revoke_ms, g->kind, (unsigned)g->mask, g->grantee);
}

Boussole__V1__SynthesisGrant *syn_grant_build(bsl_arena *a, const char *bilan_id, const char *id,
                                              const syn_grant_state *g, int64_t now)
{
    Boussole__V1__SynthesisGrant *out = bsl_arena_alloc(a, sizeof(*out));
    if (out == NULL) {
        return NULL;
    }
    boussole__v1__synthesis_grant__init(out);
    out->id = bsl_arena_strdup(a, id);
    out->bilan_id = bsl_arena_strdup(a, bilan_id);
    out->kind = (Boussole__V1__SynthesisThirdPartyKind)g->kind;
    /* The whole document is stored as every shareable section; it is shown as an empty list,
     * as it was asked for. */
    if (g->mask != SYN_MASK_SHAREABLE) {
        size_t n = 0;
        out->sections = syn_mask_sections(a, g->mask, &n);
        out->n_sections = n;
    }
    out->grantee_id = bsl_arena_strdup(a, g->grantee);
    out->create_time = bsl_pb_timestamp(a, g->create_ms);
    out->expire_time = bsl_pb_timestamp(a, g->expire_ms);
    if (g->revoke_ms > 0) {
        out->revoke_time = bsl_pb_timestamp(a, g->revoke_ms);
    }
    out->live = g->revoke_ms == 0 && g->expire_ms > now;
    if (out->id == NULL || out->bilan_id == NULL || out->grantee_id == NULL ||
        out->create_time == NULL || out->expire_time == NULL) {
        return NULL;
    }
    return out;
}

/* The grant as created (name, note), opened and completed with its current state. */
static Boussole__V1__SynthesisGrant *grant_open(syn_ctx *ctx, const char *id,
                                                const redisReply *sealed, const redisReply *state)
{
    bsl_arena *a = bsl_call_arena(ctx->call);
    syn_grant_state g;
    if (state == NULL || state->type != REDIS_REPLY_STRING ||
        !syn_grant_state_parse(state->str, state->len, &g)) {
        return NULL;
    }
    Boussole__V1__SynthesisGrant *out =
        syn_grant_build(a, ctx->bilan.id, id, &g, bsl_clock_now_ms(ctx->app->clock));
    if (out == NULL) {
        return NULL;
    }
    if (sealed != NULL && sealed->type == REDIS_REPLY_STRING && ctx->have_dek) {
        char ad[128], what[64];
        snprintf(what, sizeof(what), "grant/%s", id);
        syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
        Boussole__V1__SynthesisGrant *stored = (Boussole__V1__SynthesisGrant *)syn_open_message(
            a, &ctx->dek, ad, &boussole__v1__synthesis_grant__descriptor,
            (const unsigned char *)sealed->str, sealed->len);
        if (stored != NULL) {
            out->third_party_name = stored->third_party_name;
            out->note = stored->note;
        }
    }
    return out;
}

/* ---- CreateSynthesisGrant ---------------------------------------------------------------- */

typedef struct grant_op {
    char id[BSL_ID_LEN + 1];
    char token[SYN_SHARE_TOKEN_LEN + 1];
    syn_grant_state state;
    Boussole__V1__SynthesisGrant *grant;
} grant_op;

static void reply_created(syn_ctx *ctx)
{
    grant_op *op = ctx->op;
    Boussole__V1__CreateSynthesisGrantResponse out =
        BOUSSOLE__V1__CREATE_SYNTHESIS_GRANT_RESPONSE__INIT;
    out.grant = op->grant;
    out.share_token = op->token;
    syn_reply(ctx, &out.base);
}

static void on_grantee_indexed(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        /* The grant exists; a retry with the same idempotency key indexes it again. */
        syn_fail_err(ctx, err != BSL_OK ? err : BSL_EIO, "indexing the grant");
        return;
    }
    reply_created(ctx);
}

static void on_grant_created(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    grant_op *op = ctx->op;
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "storing the grant");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        syn_fail_script(ctx, reply->str, "storing the grant");
        return;
    }
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 0 && op->token[0] != '\0') {
        /* A retry after the first answer was lost: only the token's hash is kept, so the
         * token cannot be shown again. */
        syn_fail(ctx, BSL_STATUS_ABORTED,
                 "this grant exists already and its share token cannot be shown again; revoke "
                 "it and create another");
        return;
    }
    if (op->state.grantee[0] == '\0') {
        reply_created(ctx);
        return;
    }
    char key[SYN_KEY_MAX], member[BSL_ID_LEN * 2 + 2];
    syn_key_subject(key, "grantee", op->state.grantee);
    snprintf(member, sizeof(member), "%s/%s", ctx->bilan.id, op->id);
    int rv =
        bsl_redis_command(ctx->app->redis, bsl_call_remaining_ms(ctx->call), on_grantee_indexed,
                          ctx, "ZADD %s %lld %s", key, (long long)op->state.create_ms, member);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "indexing the grant");
    }
}

static void create_begin(syn_ctx *ctx)
{
    grant_op *op = ctx->op;
    const Boussole__V1__CreateSynthesisGrantRequest *in = (const void *)bsl_call_request(ctx->call);
    bsl_arena *a = bsl_call_arena(ctx->call);
    if (!ctx->have_dek) {
        syn_fail(ctx, BSL_STATUS_NOT_FOUND, "no synthesis for this bilan");
        return;
    }
    op->grant = syn_grant_build(a, ctx->bilan.id, op->id, &op->state, op->state.create_ms);
    if (op->grant == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->grant->third_party_name = in->third_party_name;
    op->grant->note = in->note;
    char ad[128], what[64];
    snprintf(what, sizeof(what), "grant/%s", op->id);
    syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
    size_t sealed_len = 0;
    unsigned char *sealed = syn_seal_message(a, &ctx->dek, ad, &op->grant->base, &sealed_len);
    if (sealed == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    char token_hash[65] = "", member[BSL_SUBJECT_MAX + BSL_ID_LEN + 2] = "";
    if (op->state.grantee[0] == '\0') {
        /* 256 random bits after the bilan id (which lets the token find its bilan's keys);
         * only the hash is stored. */
        char secret[65];
        bsl_hex_random(secret, 32);
        snprintf(op->token, sizeof(op->token), "bss1.%s.%s", ctx->bilan.id, secret);
        bsl_sha256_hex(token_hash, op->token, strlen(op->token));
    } else {
        snprintf(member, sizeof(member), "%s/%s", op->state.grantee, op->id);
    }
    char state[256], k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], k3[SYN_KEY_MAX], k4[SYN_KEY_MAX], max[16];
    syn_grant_state_format(state, sizeof(state), &op->state);
    syn_key(k1, ctx->bilan.id, "");
    syn_key(k2, ctx->bilan.id, ":grants");
    syn_key(k3, ctx->bilan.id, ":tokens");
    syn_key(k4, ctx->bilan.id, ":grantees");
    snprintf(max, sizeof(max), "%d", SYN_MAX_GRANTS);
    const char *argv[] = { k1,    k2,         k3,     k4, op->id, (const char *)sealed,
                           state, token_hash, member, max };
    size_t lens[10];
    for (size_t i = 0; i < 10; i++) {
        /* argv[5] is sealed, binary, not NUL-terminated: its length is known, never strlen'd. */
        lens[i] = i == 5 ? sealed_len : strlen(argv[i]);
    }
    int rv =
        bsl_redis_eval(ctx->app->redis, ctx->app->scripts.grant_create,
                       bsl_call_remaining_ms(ctx->call), on_grant_created, ctx, 4, 10, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "storing the grant");
    }
}

SYN_HANDLER(create_synthesis_grant, CreateSynthesisGrantRequest, CreateSynthesisGrantResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    syn_app *app = syn_of(service);
    grant_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    int64_t now = bsl_clock_now_ms(app->clock);
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_enum(&chk, "kind", &boussole__v1__synthesis_third_party_kind__descriptor,
                   (int)in->kind, false);
    bsl_check_text(&chk, "third_party_name", in->third_party_name, 1, SYN_TITLE_MAX);
    syn_mask mask =
        syn_check_sections(&chk, "sections", in->sections, in->n_sections, SYN_MASK_SHAREABLE);
    if (in->grantee_id[0] != '\0') {
        bsl_check_subject(&chk, "grantee_id", in->grantee_id);
    }
    int64_t expire = in->expire_time ? bsl_pb_timestamp_ms(in->expire_time) : 0;
    if (in->expire_time == NULL) {
        bsl_check_violation(&chk, "expire_time", "required");
    } else if (expire <= now) {
        bsl_check_violation(&chk, "expire_time", "must be in the future");
    } else if (expire > now + (int64_t)SYN_GRANT_MAX_DAYS * 24 * 3600 * 1000) {
        bsl_check_violation(&chk, "expire_time", "at most %d days ahead", SYN_GRANT_MAX_DAYS);
    }
    bsl_check_text(&chk, "note", in->note, 0, SYN_NOTE_MAX);
    if (!bsl_check_end(&chk)) {
        return;
    }
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    bsl_id_derive(op->id, "synthesis-grant", c->subject, bsl_call_idempotency_key(call));
    op->state.create_ms = now;
    op->state.expire_ms = expire;
    op->state.kind = (int)in->kind;
    op->state.mask = mask ? mask : SYN_MASK_SHAREABLE;
    snprintf(op->state.grantee, sizeof(op->state.grantee), "%s", in->grantee_id);
    syn_begin(app, call, in->bilan_id, SYN_NEED_DEK, create_begin, op);
}

/* ---- RevokeSynthesisGrant ---------------------------------------------------------------- */

typedef struct revoke_op {
    Boussole__V1__SynthesisGrant *grant;
    int pending;
    int err;
} revoke_op;

static void on_unindexed(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    revoke_op *op = ctx->op;
    if (op->err == BSL_OK && (err != BSL_OK || bsl_redis_is_error(reply))) {
        op->err = err != BSL_OK ? err : BSL_EIO;
    }
    if (--op->pending > 0) {
        return;
    }
    if (op->err != BSL_OK) {
        /* Revoked already (the grant reads nothing); a retry tidies the indexes. */
        syn_fail_err(ctx, op->err, "updating the indexes of the revoked grant");
        return;
    }
    syn_reply(ctx, &op->grant->base);
}

static void on_revoked(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    revoke_op *op = ctx->op;
    const Boussole__V1__RevokeSynthesisGrantRequest *in = (const void *)bsl_call_request(ctx->call);
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "revoking the grant");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        syn_fail_script(ctx, reply->str, "revoking the grant");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        (op->grant = grant_open(ctx, in->grant_id, reply->element[1], reply->element[0])) == NULL) {
        syn_fail(ctx, BSL_STATUS_INTERNAL, "the stored grant is unreadable");
        return;
    }
    /* Outside the bilan's slot: the account's list of what was shared with it, and the
     * retention queue (a held synthesis whose CEP grant goes is reconsidered at once). */
    op->pending = 2;
    char key[SYN_KEY_MAX], member[BSL_ID_LEN * 2 + 2];
    int rv1 = BSL_OK, rv2;
    if (op->grant->grantee_id[0] != '\0') {
        syn_key_subject(key, "grantee", op->grant->grantee_id);
        snprintf(member, sizeof(member), "%s/%s", ctx->bilan.id, in->grant_id);
        rv1 = bsl_redis_command(ctx->app->redis, bsl_call_remaining_ms(ctx->call), on_unindexed,
                                ctx, "ZREM %s %s", key, member);
    } else {
        op->pending--;
    }
    if (op->grant->kind ==
        BOUSSOLE__V1__SYNTHESIS_THIRD_PARTY_KIND__SYNTHESIS_THIRD_PARTY_KIND_CEP) {
        rv2 = bsl_redis_command(ctx->app->redis, bsl_call_remaining_ms(ctx->call), on_unindexed,
                                ctx, "ZADD %s XX %lld %s", SYN_KEY_HELD,
                                (long long)bsl_clock_now_ms(ctx->app->clock), ctx->bilan.id);
    } else {
        op->pending--;
        rv2 = BSL_OK;
    }
    if (rv1 != BSL_OK || rv2 != BSL_OK) {
        op->pending -= (rv1 != BSL_OK) + (rv2 != BSL_OK);
        op->err = rv1 != BSL_OK ? rv1 : rv2;
        if (op->pending == 0) {
            syn_fail_err(ctx, op->err, "updating the indexes of the revoked grant");
        }
        return;
    }
    if (op->pending == 0) {
        syn_reply(ctx, &op->grant->base);
    }
}

static void revoke_begin(syn_ctx *ctx)
{
    const Boussole__V1__RevokeSynthesisGrantRequest *in = (const void *)bsl_call_request(ctx->call);
    char k[SYN_KEY_MAX], ms[24];
    syn_key(k, ctx->bilan.id, ":grants");
    snprintf(ms, sizeof(ms), "%lld", (long long)bsl_clock_now_ms(ctx->app->clock));
    const char *argv[] = { k, in->grant_id, ms };
    size_t lens[] = { strlen(k), strlen(in->grant_id), strlen(ms) };
    int rv = bsl_redis_eval(ctx->app->redis, ctx->app->scripts.grant_revoke,
                            bsl_call_remaining_ms(ctx->call), on_revoked, ctx, 1, 3, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "revoking the grant");
    }
}

SYN_HANDLER(revoke_synthesis_grant, RevokeSynthesisGrantRequest, SynthesisGrant)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "grant_id", in->grant_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    revoke_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, revoke_begin, op);
}

/* ---- ListSynthesisGrants ----------------------------------------------------------------- */

static int newest_first(const void *x, const void *y)
{
    const Boussole__V1__SynthesisGrant *a = *(Boussole__V1__SynthesisGrant *const *)x;
    const Boussole__V1__SynthesisGrant *b = *(Boussole__V1__SynthesisGrant *const *)y;
    int64_t ma = bsl_pb_timestamp_ms(a->create_time), mb = bsl_pb_timestamp_ms(b->create_time);
    if (ma != mb) {
        return ma > mb ? -1 : 1;
    }
    return strcmp(a->id, b->id);
}

Boussole__V1__SynthesisGrant **syn_grants_from_hash(syn_ctx *ctx, const redisReply *hash, size_t *n)
{
    bsl_arena *a = bsl_call_arena(ctx->call);
    *n = 0;
    if (hash->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    Boussole__V1__SynthesisGrant **out = bsl_arena_calloc(a, hash->elements / 2 + 1, sizeof(*out));
    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i + 1 < hash->elements; i += 2) {
        const redisReply *k = hash->element[i];
        if (k->type != REDIS_REPLY_STRING || k->len != BSL_ID_LEN + 1 || k->str[0] != 's') {
            continue;
        }
        const char *id = k->str + 1;
        const redisReply *sealed = NULL;
        for (size_t j = 0; j + 1 < hash->elements; j += 2) {
            const redisReply *kj = hash->element[j];
            if (kj->type == REDIS_REPLY_STRING && kj->len == k->len && kj->str[0] == 'g' &&
                memcmp(kj->str + 1, id, BSL_ID_LEN) == 0) {
                sealed = hash->element[j + 1];
                break;
            }
        }
        Boussole__V1__SynthesisGrant *g = grant_open(ctx, id, sealed, hash->element[i + 1]);
        if (g != NULL) {
            out[(*n)++] = g;
        }
    }
    qsort(out, *n, sizeof(*out), newest_first);
    return out;
}

static void on_grants(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "listing grants");
        return;
    }
    Boussole__V1__ListSynthesisGrantsResponse out =
        BOUSSOLE__V1__LIST_SYNTHESIS_GRANTS_RESPONSE__INIT;
    size_t n = 0;
    out.grants = syn_grants_from_hash(ctx, reply, &n);
    if (out.grants == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    out.n_grants = n;
    syn_reply(ctx, &out.base);
}

static void list_grants_begin(syn_ctx *ctx)
{
    char k[SYN_KEY_MAX];
    syn_key(k, ctx->bilan.id, ":grants");
    int rv = bsl_redis_command(ctx->app->redis, bsl_call_remaining_ms(ctx->call), on_grants, ctx,
                               "HGETALL %s", k);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "listing grants");
    }
}

SYN_HANDLER(list_synthesis_grants, ListSynthesisGrantsRequest, ListSynthesisGrantsResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, list_grants_begin, NULL);
}

/* ---- ListSynthesesSharedWithMe ----------------------------------------------------------- */

typedef struct shared_list_op {
    bsl_call *call;
    syn_app *app;
    Boussole__V1__ListSynthesesSharedWithMeResponse out;
    size_t pending;
    int err;
    uint64_t offset;
    size_t page_n;
    uint32_t size;
} shared_list_op;

typedef struct shared_item {
    shared_list_op *op;
    char bilan[BSL_ID_LEN + 1];
    char grant[BSL_ID_LEN + 1];
} shared_item;

static void shared_list_done(shared_list_op *op)
{
    if (op->err != BSL_OK) {
        bsl_call_fail_err(op->call, op->err, "listing what was shared");
        return;
    }
    op->out.next_page_token = op->page_n == op->size
                                  ? bsl_arena_printf(bsl_call_arena(op->call), "%llu",
                                                     (unsigned long long)(op->offset + op->page_n))
                                  : "";
    bsl_call_reply(op->call, &op->out.base);
}

static void on_shared_state(const redisReply *reply, int err, void *arg)
{
    shared_item *it = arg;
    shared_list_op *op = it->op;
    if (err != BSL_OK) {
        op->err = err;
    } else if (reply->type == REDIS_REPLY_STRING) {
        syn_grant_state g;
        int64_t now = bsl_clock_now_ms(op->app->clock);
        if (syn_grant_state_parse(reply->str, reply->len, &g) &&
            strcmp(g.grantee, bsl_call_caller(op->call)->subject) == 0) {
            Boussole__V1__SynthesisGrant *out =
                syn_grant_build(bsl_call_arena(op->call), it->bilan, it->grant, &g, now);
            if (out != NULL && out->live) {
                op->out.grants[op->out.n_grants++] = out;
            }
        }
    }
    if (--op->pending == 0) {
        shared_list_done(op);
    }
}

static void on_shared_page(const redisReply *reply, int err, void *arg)
{
    shared_list_op *op = arg;
    if (err != BSL_OK) {
        bsl_call_fail_err(op->call, err, "listing what was shared");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    bsl_arena *a = bsl_call_arena(op->call);
    op->page_n = reply->elements;
    op->out.grants = bsl_arena_calloc(a, reply->elements + 1, sizeof(*op->out.grants));
    if (op->out.grants == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->pending = 1; /* held until every command is sent */
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *m = reply->element[i];
        shared_item *it = bsl_arena_calloc(a, 1, sizeof(*it));
        if (it == NULL || m->type != REDIS_REPLY_STRING || m->len != 2 * BSL_ID_LEN + 1) {
            continue;
        }
        it->op = op;
        memcpy(it->bilan, m->str, BSL_ID_LEN);
        memcpy(it->grant, m->str + BSL_ID_LEN + 1, BSL_ID_LEN);
        if (!bsl_id_valid(it->bilan) || !bsl_id_valid(it->grant)) {
            continue;
        }
        char key[SYN_KEY_MAX], field[BSL_ID_LEN + 2];
        syn_key(key, it->bilan, ":grants");
        snprintf(field, sizeof(field), "s%s", it->grant);
        if (bsl_redis_command(op->app->redis, bsl_call_remaining_ms(op->call), on_shared_state, it,
                              "HGET %s %s", key, field) == BSL_OK) {
            op->pending++;
        } else {
            op->err = BSL_ENOMEM;
        }
    }
    if (--op->pending == 0) {
        shared_list_done(op);
    }
}

SYN_HANDLER(list_syntheses_shared_with_me, ListSynthesesSharedWithMeRequest,
            ListSynthesesSharedWithMeResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    syn_app *app = syn_of(service);
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    if (c->role != BOUSSOLE__V1__ROLE__ROLE_THIRD_PARTY) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "only a third-party account has syntheses shared with it");
        return;
    }
    bsl_check chk = bsl_check_begin(call);
    bsl_check_subject(&chk, "metadata.caller.subject", c->subject);
    syn_check_page(&chk, in->page, true);
    if (!bsl_check_end(&chk)) {
        return;
    }
    shared_list_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->call = call;
    op->app = app;
    boussole__v1__list_syntheses_shared_with_me_response__init(&op->out);
    if (in->page != NULL && in->page->page_token[0] != '\0') {
        syn_parse_u64(in->page->page_token, strlen(in->page->page_token), &op->offset);
    }
    op->size = in->page && in->page->page_size ? in->page->page_size : 20;
    char key[SYN_KEY_MAX];
    syn_key_subject(key, "grantee", c->subject);
    int rv = bsl_redis_command(app->redis, bsl_call_remaining_ms(call), on_shared_page, op,
                               "ZREVRANGE %s %llu %llu", key, (unsigned long long)op->offset,
                               (unsigned long long)(op->offset + op->size - 1));
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "listing what was shared");
    }
}
