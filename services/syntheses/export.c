/*
 * ExportBeneficiaryData: everything this service holds about a beneficiary, bilan by bilan.
 * ExportBeneficiaryBundle: the same from every service (sessions, questionnaires, syntheses)
 * in one message, each service's export asked with the beneficiary's own credentials.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "grants.h"
#include "handlers.h"
#include "keys.h"
#include "labels.h"

#define MAX_EXPORT_BILANS 50

typedef struct export_op export_op;
typedef void (*export_done_fn)(export_op *op, int err, const char *what);

struct export_op {
    bsl_call *call;
    syn_app *app;
    char beneficiary[BSL_SUBJECT_MAX + 1];
    char (*bilans)[BSL_ID_LEN + 1];
    size_t n_bilans, idx;
    Boussole__V1__SynthesesExport out;
    syn_ctx ctx;
    export_done_fn done;
    void *arg;
};

static void export_next(export_op *op);

static void export_fail(export_op *op, int err, const char *what)
{
    sodium_memzero(&op->ctx.dek, sizeof(op->ctx.dek));
    op->ctx.have_dek = false;
    op->done(op, err, what);
}

/* ---- one bilan --------------------------------------------------------------------------- */

static const redisReply *hash_get(const redisReply *hash, const char *name)
{
    for (size_t i = 0; hash->type == REDIS_REPLY_ARRAY && i + 1 < hash->elements; i += 2) {
        if (hash->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(hash->element[i]->str, name) == 0) {
            return hash->element[i + 1];
        }
    }
    return NULL;
}

static bool item_revisions(export_op *op, Boussole__V1__SynthesisExportItem *it,
                           const redisReply *metas, const redisReply *contents, const syn_header *h,
                           Boussole__V1__SynthesisContent **current)
{
    syn_ctx *ctx = &op->ctx;
    bsl_arena *a = bsl_call_arena(op->call);
    it->revisions = bsl_arena_calloc(a, metas->elements + 1, sizeof(*it->revisions));
    it->revision_contents =
        bsl_arena_calloc(a, contents->elements + 1, sizeof(*it->revision_contents));
    if (it->revisions == NULL || it->revision_contents == NULL) {
        return false;
    }
    for (size_t i = 0; i < metas->elements; i++) {
        const redisReply *m = metas->element[i];
        uint64_t n = 0;
        syn_rev_meta meta;
        if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
            !syn_parse_u64(m->element[0]->str, m->element[0]->len, &n) ||
            !syn_rev_meta_parse(m->element[1]->str, m->element[1]->len, &meta)) {
            continue;
        }
        Boussole__V1__SynthesisRevision *r = bsl_arena_alloc(a, sizeof(*r));
        if (r == NULL) {
            return false;
        }
        syn_revision_from_meta(a, r, n, &meta);
        if (m->element[2]->len > 0) {
            char ad[128], what[48];
            snprintf(what, sizeof(what), "note/%llu", (unsigned long long)n);
            syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
            char *t = syn_open_text(a, &ctx->dek, ad, (const unsigned char *)m->element[2]->str,
                                    m->element[2]->len);
            r->change_note = t ? t : "";
        }
        it->revisions[it->n_revisions++] = r;
    }
    for (size_t i = 0; i < contents->elements; i++) {
        const redisReply *c = contents->element[i];
        uint64_t n = 0;
        if (c->type != REDIS_REPLY_ARRAY || c->elements != 2 ||
            !syn_parse_u64(c->element[0]->str, c->element[0]->len, &n)) {
            continue;
        }
        Boussole__V1__SynthesisContent *content = syn_content_open(ctx, n, c->element[1]);
        if (content == NULL) {
            return false;
        }
        if (n == h->revision) {
            *current = content;
        }
        it->revision_contents[it->n_revision_contents++] = content;
    }
    return true;
}

/* {header, metas, contents, truncated, comments, grants, access, retention, decisions} */
static void on_exported(const redisReply *reply, int err, void *arg)
{
    export_op *op = arg;
    syn_ctx *ctx = &op->ctx;
    bsl_arena *a = bsl_call_arena(op->call);
    if (err != BSL_OK) {
        export_fail(op, err, "reading a bilan's syntheses data");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 9) {
        export_fail(op, BSL_EPROTO, "reading a bilan's syntheses data");
        return;
    }
    const redisReply *const *e = (const redisReply *const *)reply->element;
    for (size_t i = 0; i < 9; i++) {
        if (e[i]->type != (i == 3 ? REDIS_REPLY_STRING : REDIS_REPLY_ARRAY)) {
            export_fail(op, BSL_EPROTO, "reading a bilan's syntheses data");
            return;
        }
    }
    Boussole__V1__SynthesisExportItem *it = bsl_arena_alloc(a, sizeof(*it));
    if (it == NULL) {
        export_fail(op, BSL_ENOMEM, "exporting");
        return;
    }
    boussole__v1__synthesis_export_item__init(it);
    it->bilan_id = bsl_arena_strdup(a, ctx->bilan.id);
    syn_header h;
    if (e[0]->elements > 0) {
        if (!ctx->have_dek) {
            export_fail(op, BSL_ECRYPTO, "the bilan's data key is missing");
            return;
        }
        if (!syn_header_parse(a, e[0], &h)) {
            export_fail(op, BSL_EPROTO, "the stored synthesis is unreadable");
            return;
        }
        snprintf(ctx->bilan.beneficiary, sizeof(ctx->bilan.beneficiary), "%s", h.beneficiary);
        snprintf(ctx->bilan.counselor, sizeof(ctx->bilan.counselor), "%s", h.counselor);
        snprintf(ctx->bilan.organisation, sizeof(ctx->bilan.organisation), "%s", h.organisation);
        Boussole__V1__SynthesisContent *current = NULL;
        if (!item_revisions(op, it, e[1], e[2], &h, &current) || current == NULL) {
            export_fail(op, BSL_ECRYPTO, "a revision does not decrypt");
            return;
        }
        uint32_t cur_version = it->n_revisions ? it->revisions[0]->version : h.version;
        it->synthesis = syn_synthesis_build(ctx, &h, h.revision, cur_version, current);
        it->revisions_truncated = strcmp(e[3]->str, "1") == 0;
        if (it->synthesis == NULL) {
            export_fail(op, BSL_ENOMEM, "exporting");
            return;
        }
    }
    /* Comments. */
    it->comments = bsl_arena_calloc(a, e[4]->elements + 1, sizeof(*it->comments));
    for (size_t i = 0; it->comments != NULL && i < e[4]->elements; i++) {
        const redisReply *c = e[4]->element[i];
        if (c->type != REDIS_REPLY_ARRAY || c->elements != 2) {
            continue;
        }
        Boussole__V1__SynthesisComment *cm =
            syn_comment_open(ctx, c->element[0]->str, c->element[1]);
        if (cm != NULL) {
            it->comments[it->n_comments++] = cm;
        }
    }
    size_t ng = 0;
    it->grants = syn_grants_from_hash(ctx, e[5], &ng);
    it->n_grants = ng;
    it->access_log = bsl_arena_calloc(a, e[6]->elements + 1, sizeof(*it->access_log));
    for (size_t i = 0; it->access_log != NULL && i < e[6]->elements; i++) {
        Boussole__V1__SynthesisAccessEntry *x = syn_access_entry(a, e[6]->element[i]);
        if (x != NULL) {
            it->access_log[it->n_access_log++] = x;
        }
    }
    /* Retention. */
    Boussole__V1__SynthesisRetention *r = bsl_arena_alloc(a, sizeof(*r));
    if (it->comments == NULL || it->grants == NULL || it->access_log == NULL || r == NULL) {
        export_fail(op, BSL_ENOMEM, "exporting");
        return;
    }
    boussole__v1__synthesis_retention__init(r);
    r->bilan_id = it->bilan_id;
    const redisReply *keep = hash_get(e[7], "keep");
    r->keep_agreed = keep != NULL && strcmp(keep->str, "1") == 0;
    const redisReply *end = hash_get(e[7], "end_ms");
    if (end != NULL && syn_str_i64(end->str) > 0) {
        r->end_time = bsl_pb_timestamp(a, syn_str_i64(end->str));
    }
    for (size_t i = 0; i < it->n_grants; i++) {
        r->shared_with_cep |=
            it->grants[i]->live &&
            it->grants[i]->kind ==
                BOUSSOLE__V1__SYNTHESIS_THIRD_PARTY_KIND__SYNTHESIS_THIRD_PARTY_KIND_CEP;
    }
    r->statement = (char *)syn_label_text(op->app->labels, SYN_L_RETENTION_STATEMENT);
    r->decisions = bsl_arena_calloc(a, e[8]->elements + 1, sizeof(*r->decisions));
    for (size_t i = 0; r->decisions != NULL && i < e[8]->elements; i++) {
        const redisReply *d = e[8]->element[i];
        Boussole__V1__SynthesisKeepDecision *kd =
            d->type == REDIS_REPLY_STRING
                ? boussole__v1__synthesis_keep_decision__unpack(bsl_arena_allocator(a), d->len,
                                                                (const uint8_t *)d->str)
                : NULL;
        if (kd != NULL) {
            r->decisions[r->n_decisions++] = kd;
        }
    }
    it->retention = r;
    op->out.bilans[op->out.n_bilans++] = it;
    op->idx++;
    export_next(op);
}

static void on_export_dek(int err, const bsl_dek *dek, void *arg)
{
    export_op *op = arg;
    syn_ctx *ctx = &op->ctx;
    if (err == BSL_OK) {
        ctx->dek = *dek;
        ctx->have_dek = true;
    } else if (err != BSL_ENOTFOUND) {
        export_fail(op, err, "the bilan's data key");
        return;
    }
    const char *suffixes[] = { "",        ":revs",   ":comments",  ":cids",
                               ":grants", ":access", ":retention", ":decisions" };
    char keys[8][SYN_KEY_MAX], budget[16], ms[24], role[8], sections[16];
    const char *argv[14];
    size_t lens[14];
    for (size_t i = 0; i < 8; i++) {
        syn_key(keys[i], ctx->bilan.id, suffixes[i]);
        argv[i] = keys[i];
    }
    const Boussole__V1__Caller *c = bsl_call_caller(op->call);
    snprintf(budget, sizeof(budget), "%u", SYN_EXPORT_BUDGET);
    snprintf(ms, sizeof(ms), "%lld", (long long)bsl_clock_now_ms(op->app->clock));
    snprintf(role, sizeof(role), "%d", (int)c->role);
    snprintf(sections, sizeof(sections), "%u", (unsigned)SYN_MASK_SHAREABLE);
    argv[8] = budget;
    argv[9] = ms;
    argv[10] = c->subject ? c->subject : "";
    argv[11] = role;
    argv[12] = "ExportBeneficiaryData";
    argv[13] = sections;
    for (size_t i = 0; i < 14; i++) {
        lens[i] = strlen(argv[i]);
    }
    int rv = bsl_redis_eval(op->app->redis, op->app->scripts.export,
                            bsl_call_remaining_ms(op->call), on_exported, op, 8, 14, argv, lens);
    if (rv != BSL_OK) {
        export_fail(op, rv, "reading a bilan's syntheses data");
    }
}

static void export_next(export_op *op)
{
    sodium_memzero(&op->ctx.dek, sizeof(op->ctx.dek));
    op->ctx.have_dek = false;
    if (op->idx >= op->n_bilans) {
        op->done(op, BSL_OK, NULL);
        return;
    }
    memset(&op->ctx.bilan, 0, sizeof(op->ctx.bilan));
    snprintf(op->ctx.bilan.id, sizeof(op->ctx.bilan.id), "%s", op->bilans[op->idx]);
    int rv = bsl_dek_get(op->app->keyring, op->ctx.bilan.id, BSL_SCOPE_SYNTHESES, false,
                         bsl_call_remaining_ms(op->call), on_export_dek, op);
    if (rv != BSL_OK) {
        export_fail(op, rv, "the bilan's data key");
    }
}

static void on_bilans(const redisReply *reply, int err, void *arg)
{
    export_op *op = arg;
    bsl_arena *a = bsl_call_arena(op->call);
    if (err != BSL_OK) {
        export_fail(op, err, "listing the beneficiary's bilans");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY) {
        export_fail(op, BSL_EPROTO, "listing the beneficiary's bilans");
        return;
    }
    size_t n = reply->elements < MAX_EXPORT_BILANS ? reply->elements : MAX_EXPORT_BILANS;
    op->bilans = bsl_arena_calloc(a, n + 1, sizeof(*op->bilans));
    op->out.bilans = bsl_arena_calloc(a, n + 1, sizeof(*op->out.bilans));
    if (op->bilans == NULL || op->out.bilans == NULL) {
        export_fail(op, BSL_ENOMEM, "exporting");
        return;
    }
    for (size_t i = 0; i < reply->elements && op->n_bilans < n; i++) {
        const redisReply *m = reply->element[i];
        if (m->type == REDIS_REPLY_STRING && bsl_id_valid(m->str)) {
            snprintf(op->bilans[op->n_bilans++], BSL_ID_LEN + 1, "%s", m->str);
        }
    }
    /* A stable order: by bilan id. */
    qsort(op->bilans, op->n_bilans, sizeof(*op->bilans),
          (int (*)(const void *, const void *))strcmp);
    export_next(op);
}

/* Starts exporting; done is called once on the loop. Returns BSL_OK, or an error (done will
 * not be called). */
static int export_start(syn_app *app, bsl_call *call, const char *beneficiary, export_done_fn done,
                        void *arg)
{
    export_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        return BSL_ENOMEM;
    }
    op->call = call;
    op->app = app;
    op->done = done;
    op->arg = arg;
    op->ctx.app = app;
    op->ctx.call = call;
    snprintf(op->beneficiary, sizeof(op->beneficiary), "%s", beneficiary);
    boussole__v1__syntheses_export__init(&op->out);
    op->out.beneficiary_id = op->beneficiary;
    char key[SYN_KEY_MAX];
    syn_key_subject(key, "beneficiary", beneficiary);
    return bsl_redis_command(app->redis, bsl_call_remaining_ms(call), on_bilans, op, "SMEMBERS %s",
                             key);
}

/* Who may export a beneficiary's data: themselves, or a Boussole service. */
static bool export_allowed(bsl_call *call, const char *beneficiary, bool services)
{
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    if (services && c->role == BOUSSOLE__V1__ROLE__ROLE_SERVICE) {
        return true;
    }
    if (c->role == BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY && strcmp(c->subject, beneficiary) == 0) {
        return true;
    }
    bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                  "a beneficiary's data is exported for the beneficiary themselves");
    return false;
}

/* ---- ExportBeneficiaryData --------------------------------------------------------------- */

static void on_export_done(export_op *op, int err, const char *what)
{
    if (err != BSL_OK) {
        bsl_call_fail_err(op->call, err, what);
        return;
    }
    bsl_call_reply(op->call, &op->out.base);
}

SYN_HANDLER(export_beneficiary_data, ExportBeneficiaryDataRequest, SynthesesExport)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_subject(&chk, "beneficiary_id", in->beneficiary_id);
    if (!bsl_check_end(&chk) || !export_allowed(call, in->beneficiary_id, true)) {
        return;
    }
    int rv = export_start(syn_of(service), call, in->beneficiary_id, on_export_done, NULL);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "listing the beneficiary's bilans");
    }
}

/* ---- ExportBeneficiaryBundle ------------------------------------------------------------- */

enum { PART_SESSIONS, PART_QUESTIONNAIRES, PART_SYNTHESES, N_PARTS };

typedef struct bundle_op {
    bsl_call *call;
    syn_app *app;
    Boussole__V1__BeneficiaryDataBundle out;
    Boussole__V1__BeneficiaryDataPart parts[N_PARTS];
    Boussole__V1__BeneficiaryDataPart *part_ptrs[N_PARTS];
    int pending;
    bsl_status code;
    char message[256];
} bundle_op;

static const struct {
    const char *service;
    const char *method;
} peers[N_PARTS] = {
    [PART_SESSIONS] = { "sessions", "boussole.v1.SessionService/ExportBeneficiaryData" },
    [PART_QUESTIONNAIRES] = { "questionnaires",
                              "boussole.v1.QuestionnaireService/ExportBeneficiaryData" },
    [PART_SYNTHESES] = { "syntheses", "boussole.v1.SynthesisService/ExportBeneficiaryData" },
};

static void bundle_part_done(bundle_op *op)
{
    if (--op->pending > 0) {
        return;
    }
    if (op->code != BSL_STATUS_OK) {
        bsl_call_fail(op->call, op->code, "%s", op->message);
        return;
    }
    op->out.parts = op->part_ptrs;
    op->out.n_parts = N_PARTS;
    bsl_call_reply(op->call, &op->out.base);
}

static void bundle_failed(bundle_op *op, bsl_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keeps the first failure: it is what the bundle answers. */
static void bundle_failed(bundle_op *op, bsl_status code, const char *fmt, ...)
{
    if (op->code == BSL_STATUS_OK) {
        op->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(op->message, sizeof(op->message), fmt, ap);
        va_end(ap);
    }
}

/* The output type's full name of a method ("boussole.v1.SessionsExport"). */
static const char *output_type(const char *method)
{
    const bsl_method_info *m = bsl_schema_method(method, strlen(method));
    if (m == NULL || m->index >= m->service->n_methods) {
        return NULL;
    }
    return m->service->methods[m->index].output->name;
}

typedef struct peer_ctx {
    bundle_op *op;
    int which;
} peer_ctx;

static void on_peer(const bsl_reply *reply, void *arg)
{
    peer_ctx *pc = arg;
    bundle_op *op = pc->op;
    Boussole__V1__BeneficiaryDataPart *part = &op->parts[pc->which];
    if (reply->code != BSL_STATUS_OK) {
        bundle_failed(op, reply->code, "the %s service's export failed: %s",
                      peers[pc->which].service, reply->message);
    } else {
        uint8_t *copy =
            bsl_arena_alloc(bsl_call_arena(op->call), reply->payload_len ? reply->payload_len : 1);
        if (copy == NULL) {
            bundle_failed(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        } else {
            memcpy(copy, reply->payload, reply->payload_len);
            part->data.data = copy;
            part->data.len = reply->payload_len;
        }
    }
    bundle_part_done(op);
}

static void on_own_export(export_op *eop, int err, const char *what)
{
    bundle_op *op = eop->arg;
    Boussole__V1__BeneficiaryDataPart *part = &op->parts[PART_SYNTHESES];
    if (err != BSL_OK) {
        bundle_failed(op, bsl_status_from_err(err), "the syntheses export failed: %s", what);
    } else {
        size_t n = boussole__v1__syntheses_export__get_packed_size(&eop->out);
        uint8_t *buf = bsl_arena_alloc(bsl_call_arena(op->call), n ? n : 1);
        if (buf == NULL) {
            bundle_failed(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        } else {
            boussole__v1__syntheses_export__pack(&eop->out, buf);
            part->data.data = buf;
            part->data.len = n;
            op->out.syntheses = &eop->out;
        }
    }
    bundle_part_done(op);
}

SYN_HANDLER(export_beneficiary_bundle, ExportBeneficiaryBundleRequest, BeneficiaryDataBundle)
{
    (void)closure;
    bsl_call *call = closure_data;
    syn_app *app = syn_of(service);
    bsl_check chk = bsl_check_begin(call);
    bsl_check_subject(&chk, "beneficiary_id", in->beneficiary_id);
    if (!bsl_check_end(&chk) || !export_allowed(call, in->beneficiary_id, false)) {
        return;
    }
    bsl_arena *a = bsl_call_arena(call);
    bundle_op *op = bsl_arena_calloc(a, 1, sizeof(*op));
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->call = call;
    op->app = app;
    boussole__v1__beneficiary_data_bundle__init(&op->out);
    op->out.beneficiary_id = in->beneficiary_id;
    op->out.create_time = bsl_pb_timestamp(a, bsl_clock_now_ms(app->clock));
    for (int i = 0; i < N_PARTS; i++) {
        boussole__v1__beneficiary_data_part__init(&op->parts[i]);
        op->parts[i].service = (char *)peers[i].service;
        const char *type = output_type(peers[i].method);
        op->parts[i].type = (char *)(type ? type : "");
        op->part_ptrs[i] = &op->parts[i];
    }
    op->pending = 1 + N_PARTS; /* held while the calls start */
    Boussole__V1__ExportBeneficiaryDataRequest req =
        BOUSSOLE__V1__EXPORT_BENEFICIARY_DATA_REQUEST__INIT;
    req.beneficiary_id = in->beneficiary_id;
    /* The beneficiary's own credentials: each service applies its own rules. */
    bsl_call_opts o = {
        .caller = bsl_call_caller(call),
        .trace_id = bsl_call_trace_id(call),
        .deadline_ms = bsl_call_remaining_ms(call),
    };
    bsl_client *clients[2] = { app->sessions, app->questionnaires };
    for (int i = 0; i < 2; i++) {
        peer_ctx *pc = bsl_arena_calloc(a, 1, sizeof(*pc));
        int rv = BSL_ENOMEM;
        if (pc != NULL) {
            pc->op = op;
            pc->which = i;
            rv = bsl_client_call(clients[i], peers[i].method, &req.base, &o, on_peer, pc);
        }
        if (rv != BSL_OK) {
            bundle_failed(
                op, rv == BSL_ENOTFOUND ? BSL_STATUS_UNIMPLEMENTED : bsl_status_from_err(rv),
                "the %s service's export cannot be called: %s", peers[i].service,
                rv == BSL_ENOTFOUND ? "it has no ExportBeneficiaryData method" : bsl_strerror(rv));
            op->pending--;
        }
    }
    int rv = export_start(app, call, in->beneficiary_id, on_own_export, op);
    if (rv != BSL_OK) {
        bundle_failed(op, bsl_status_from_err(rv), "the syntheses export failed: %s",
                      bsl_strerror(rv));
        op->pending--;
    }
    bundle_part_done(op);
}
