/* Who may do what to a bilan's synthesis: the permission table, the participants as the
 * sessions service knows them, and the common start of every handler (syn_begin). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "keys.h"
#include "syntheses.h"

/* ---- the permission table ---------------------------------------------------------------- */

#define B SYN_P(SYN_PARTY_BENEFICIARY)
#define C SYN_P(SYN_PARTY_COUNSELOR)

/* One row per method that acts on one bilan's synthesis as one of its participants. The
 * methods of third parties (share tokens, bound accounts), export, erasure, the sweep and the
 * destruction records check their callers themselves (see README.md, "Permission matrix").
 * An organisation admin appears in no row: the synthesis is the beneficiary's, and the
 * organisation's management has no business reading it. */
static const struct {
    const char *method;
    unsigned parties;
} table[] = {
    { "AddSynthesisComment", B | C }, { "ApproveSynthesis", B },
    { "CreateSynthesisGrant", B },    { "DraftSynthesis", C },
    { "GetSynthesis", B | C },        { "GetSynthesisRetention", B | C },
    { "ListSynthesisAccessLog", B },  { "ListSynthesisComments", B | C },
    { "ListSynthesisGrants", B },     { "ListSynthesisRevisions", B | C },
    { "RenderSynthesis", B | C },     { "RequestSynthesisChanges", B },
    { "RevokeSynthesisGrant", B },    { "SaveSynthesisRevision", B | C },
    { "SetRetentionConsent", B },     { "StartSynthesisCorrection", C },
    { "SubmitSynthesis", C },
};

#undef B
#undef C

unsigned syn_allowed_parties(const char *method)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(table[i].method, method) == 0) {
            return table[i].parties;
        }
    }
    return 0;
}

syn_party syn_party_of(const Boussole__V1__Caller *c, const syn_bilan *b)
{
    const char *subject = c->subject ? c->subject : "";
    switch (c->role) {
    case BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY:
        return subject[0] && strcmp(subject, b->beneficiary) == 0 ? SYN_PARTY_BENEFICIARY
                                                                  : SYN_PARTY_NONE;
    case BOUSSOLE__V1__ROLE__ROLE_COUNSELOR:
        return subject[0] && strcmp(subject, b->counselor) == 0 ? SYN_PARTY_COUNSELOR
                                                                : SYN_PARTY_NONE;
    case BOUSSOLE__V1__ROLE__ROLE_ADMIN:
        return c->organisation && c->organisation[0] &&
                       strcmp(c->organisation, b->organisation) == 0
                   ? SYN_PARTY_ADMIN
                   : SYN_PARTY_NONE;
    case BOUSSOLE__V1__ROLE__ROLE_SERVICE:
        return SYN_PARTY_SERVICE;
    default:
        return SYN_PARTY_NONE;
    }
}

/* ---- answers ----------------------------------------------------------------------------- */

static void wipe(syn_ctx *ctx)
{
    sodium_memzero(&ctx->dek, sizeof(ctx->dek));
    ctx->have_dek = false;
}

void syn_reply(syn_ctx *ctx, const ProtobufCMessage *msg)
{
    wipe(ctx);
    bsl_call_reply(ctx->call, msg);
}

void syn_fail(syn_ctx *ctx, bsl_status code, const char *fmt, ...)
{
    wipe(ctx);
    va_list ap;
    va_start(ap, fmt);
    bsl_call_vfail(ctx->call, code, fmt, ap);
    va_end(ap);
}

void syn_fail_err(syn_ctx *ctx, int err, const char *what)
{
    wipe(ctx);
    bsl_call_fail_err(ctx->call, err, what);
}

void syn_fail_precondition(syn_ctx *ctx, const char *type, const char *description)
{
    bsl_call_add_precondition_violation(ctx->call, type, ctx->bilan.id, description);
    syn_fail(ctx, BSL_STATUS_FAILED_PRECONDITION, "%s", description);
}

void syn_fail_script(syn_ctx *ctx, const char *error, const char *what)
{
    static const struct {
        const char *word;
        bsl_status code;
    } map[] = {
        { "ABORTED", BSL_STATUS_ABORTED },           { "NOT_FOUND", BSL_STATUS_NOT_FOUND },
        { "STATE", BSL_STATUS_FAILED_PRECONDITION }, { "LIMIT", BSL_STATUS_RESOURCE_EXHAUSTED },
        { "EXISTS", BSL_STATUS_ALREADY_EXISTS },     { "DENIED", BSL_STATUS_PERMISSION_DENIED },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        size_t n = strlen(map[i].word);
        if (strncmp(error, map[i].word, n) == 0 && (error[n] == ' ' || error[n] == '\0')) {
            const char *msg = error[n] == ' ' ? error + n + 1 : what;
            if (map[i].code == BSL_STATUS_FAILED_PRECONDITION) {
                /* "STATE <TYPE> <description>" */
                char type[64];
                const char *sp = strchr(msg, ' ');
                size_t tl = sp ? (size_t)(sp - msg) : strlen(msg);
                snprintf(type, sizeof(type), "%.*s", (int)(tl < 63 ? tl : 63), msg);
                syn_fail_precondition(ctx, type, sp ? sp + 1 : what);
                return;
            }
            syn_fail(ctx, map[i].code, "%s", msg);
            return;
        }
    }
    syn_fail(ctx, BSL_STATUS_INTERNAL, "%s: unexpected answer from Redis", what);
}

/* ---- syn_begin --------------------------------------------------------------------------- */

typedef struct begin_op {
    syn_ctx ctx;
    unsigned flags;
    unsigned parties;
} begin_op;

static void on_dek(int err, const bsl_dek *dek, void *arg)
{
    begin_op *op = arg;
    syn_ctx *ctx = &op->ctx;
    if (err == BSL_OK) {
        ctx->dek = *dek;
        ctx->have_dek = true;
    } else if (err != BSL_ENOTFOUND) {
        syn_fail_err(ctx, err, "the bilan's data key");
        return;
    }
    /* No key: nothing of this bilan was ever sealed here (or it was shredded); the handler
     * finds no synthesis. */
    ctx->next(ctx);
}

/* The participants are known: apply the table, then fetch the key. */
static void authorised(begin_op *op)
{
    syn_ctx *ctx = &op->ctx;
    ctx->party = syn_party_of(bsl_call_caller(ctx->call), &ctx->bilan);
    if (ctx->party == SYN_PARTY_NONE) {
        /* The same answer as a bilan that does not exist: existence does not leak. */
        syn_fail(ctx, BSL_STATUS_NOT_FOUND, "no such bilan");
        return;
    }
    if (!(op->parties & SYN_P(ctx->party))) {
        syn_fail(ctx, BSL_STATUS_PERMISSION_DENIED, "%s",
                 ctx->party == SYN_PARTY_ADMIN
                     ? "an organisation admin has no access to a beneficiary's synthesis"
                     : "the caller's part in the bilan does not allow this");
        return;
    }
    if (op->flags & (SYN_NEED_DEK | SYN_CREATE_DEK)) {
        int rv = bsl_dek_get(ctx->app->keyring, ctx->bilan.id, BSL_SCOPE_SYNTHESES,
                             (op->flags & SYN_CREATE_DEK) != 0, bsl_call_remaining_ms(ctx->call),
                             on_dek, op);
        if (rv != BSL_OK) {
            syn_fail_err(ctx, rv, "the bilan's data key");
        }
        return;
    }
    ctx->next(ctx);
}

/* The sessions service no longer knows the bilan: its documents may still be held here
 * (shared with a CEP operator), in which case the retention hash remembers who took part. */
static void on_remembered(const redisReply *reply, int err, void *arg)
{
    begin_op *op = arg;
    syn_ctx *ctx = &op->ctx;
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "reading the bilan's retention state");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5 ||
        reply->element[0]->type != REDIS_REPLY_STRING || strcmp(reply->element[0]->str, "1") != 0) {
        syn_fail(ctx, BSL_STATUS_NOT_FOUND, "no such bilan");
        return;
    }
    for (size_t i = 1; i < 5; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            syn_fail(ctx, BSL_STATUS_NOT_FOUND, "no such bilan");
            return;
        }
    }
    syn_bilan *b = &ctx->bilan;
    snprintf(b->beneficiary, sizeof(b->beneficiary), "%s", reply->element[1]->str);
    snprintf(b->counselor, sizeof(b->counselor), "%s", reply->element[2]->str);
    snprintf(b->organisation, sizeof(b->organisation), "%s", reply->element[3]->str);
    b->end_ms = syn_str_i64(reply->element[4]->str);
    b->phase = BOUSSOLE__V1__PHASE__PHASE_CLOSED;
    b->status = BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_CLOSED;
    b->remembered = true;
    authorised(op);
}

static void on_access(const bsl_reply *reply, void *arg)
{
    begin_op *op = arg;
    syn_ctx *ctx = &op->ctx;
    if (reply->code == BSL_STATUS_NOT_FOUND) {
        char key[SYN_KEY_MAX];
        syn_key(key, ctx->bilan.id, ":retention");
        int rv =
            bsl_redis_command(ctx->app->redis, bsl_call_remaining_ms(ctx->call), on_remembered, op,
                              "HMGET %s sessions_erased beneficiary counselor organisation "
                              "end_ms",
                              key);
        if (rv != BSL_OK) {
            syn_fail_err(ctx, rv, "reading the bilan's retention state");
        }
        return;
    }
    if (reply->code != BSL_STATUS_OK || reply->msg == NULL) {
        syn_fail(ctx, reply->code == BSL_STATUS_OK ? BSL_STATUS_INTERNAL : reply->code,
                 "sessions service: %s", reply->message);
        return;
    }
    const Boussole__V1__BilanAccess *a = (const Boussole__V1__BilanAccess *)reply->msg;
    syn_bilan *b = &ctx->bilan;
    snprintf(b->beneficiary, sizeof(b->beneficiary), "%s", a->beneficiary_id);
    snprintf(b->counselor, sizeof(b->counselor), "%s", a->counselor_id);
    snprintf(b->organisation, sizeof(b->organisation), "%s", a->organisation_id);
    b->phase = (int)a->phase;
    b->status = (int)a->status;
    b->end_ms = a->end_time ? bsl_pb_timestamp_ms(a->end_time) : 0;
    authorised(op);
}

void syn_begin(syn_app *app, bsl_call *call, const char *bilan_id, unsigned flags, syn_next_fn next,
               void *op_state)
{
    begin_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    syn_ctx *ctx = &op->ctx;
    ctx->app = app;
    ctx->call = call;
    ctx->next = next;
    ctx->op = op_state;
    op->flags = flags;
    op->parties = syn_allowed_parties(bsl_call_method(call)->name);
    snprintf(ctx->bilan.id, sizeof(ctx->bilan.id), "%s", bilan_id);

    Boussole__V1__GetBilanAccessRequest req = BOUSSOLE__V1__GET_BILAN_ACCESS_REQUEST__INIT;
    req.bilan_id = ctx->bilan.id;
    bsl_call_opts o = {
        .caller = bsl_service_caller(app->svc),
        .trace_id = bsl_call_trace_id(call),
        .deadline_ms = bsl_call_remaining_ms(call),
    };
    int rv = bsl_client_call(app->sessions, "boussole.v1.SessionService/GetBilanAccess", &req.base,
                             &o, on_access, op);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "calling the sessions service");
    }
}
