/* DraftSynthesis, GetSynthesis, SaveSynthesisRevision, ListSynthesisRevisions: the document and
 * its revisions. */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "handlers.h"
#include "keys.h"
#include "load.h"

/* Answers with the Synthesis of a loaded revision. */
void syn_reply_loaded(syn_ctx *ctx, syn_loaded *l)
{
    Boussole__V1__Synthesis *s =
        syn_synthesis_build(ctx, &l->h, l->rev, l->meta.version, l->content);
    if (s == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    syn_reply(ctx, &s->base);
}

/* Answers with the current revision, without logging (the caller just wrote it). */
void syn_reply_current(syn_ctx *ctx)
{
    syn_load(ctx, 0, NULL, syn_reply_loaded);
}

bool syn_bilan_running(syn_ctx *ctx)
{
    if (ctx->bilan.status != BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE) {
        syn_fail_precondition(ctx, "BILAN_NOT_RUNNING", "the bilan has ended");
        return false;
    }
    return true;
}

/* ---- DraftSynthesis ---------------------------------------------------------------------- */

typedef struct draft_op {
    char id[BSL_ID_LEN + 1];
    unsigned char *sealed;
    size_t sealed_len;
    char meta[320];
} draft_op;

static void on_drafted(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "storing the synthesis");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        syn_fail_script(ctx, reply->str, "storing the synthesis");
        return;
    }
    syn_reply_current(ctx);
}

static void on_indexed(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    draft_op *op = ctx->op;
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        syn_fail_err(ctx, err != BSL_OK ? err : BSL_EIO, "indexing the synthesis");
        return;
    }
    char k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], ms[24];
    syn_key(k1, ctx->bilan.id, "");
    syn_key(k2, ctx->bilan.id, ":revs");
    snprintf(ms, sizeof(ms), "%lld", (long long)bsl_clock_now_ms(ctx->app->clock));
    const char *argv[] = { k1,
                           k2,
                           op->id,
                           ctx->bilan.beneficiary,
                           ctx->bilan.counselor,
                           ctx->bilan.organisation,
                           ms,
                           (const char *)op->sealed,
                           op->meta };
    size_t lens[9];
    for (size_t i = 0; i < 9; i++) {
        lens[i] = i == 7 ? op->sealed_len : strlen(argv[i]); /* argv[7] is sealed, binary */
    }
    int rv = bsl_redis_eval(ctx->app->redis, ctx->app->scripts.draft,
                            bsl_call_remaining_ms(ctx->call), on_drafted, ctx, 2, 9, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "storing the synthesis");
    }
}

static void draft_store(syn_ctx *ctx, Boussole__V1__SynthesisContent *content)
{
    draft_op *op = ctx->op;
    bsl_arena *a = bsl_call_arena(ctx->call);
    char ad[128];
    syn_ad(ad, sizeof(ad), ctx->bilan.id, "content/1");
    op->sealed = syn_seal_message(a, &ctx->dek, ad, &content->base, &op->sealed_len);
    if (op->sealed == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    syn_rev_meta m = {
        .version = 1,
        .ms = bsl_clock_now_ms(ctx->app->clock),
        .role = BOUSSOLE__V1__ROLE__ROLE_COUNSELOR,
        .kind = BOUSSOLE__V1__SYNTHESIS_REVISION_KIND__SYNTHESIS_REVISION_KIND_DRAFTED,
        .changed = syn_content_diff(a, NULL, content),
    };
    snprintf(m.author, sizeof(m.author), "%s", bsl_call_caller(ctx->call)->subject);
    syn_rev_meta_format(op->meta, sizeof(op->meta), &m);
    /* The beneficiary's index first: an export must find every bilan that has data here,
     * and a repeated SADD is harmless. */
    char key[SYN_KEY_MAX];
    syn_key_subject(key, "beneficiary", ctx->bilan.beneficiary);
    int rv = bsl_redis_command(ctx->app->redis, bsl_call_remaining_ms(ctx->call), on_indexed, ctx,
                               "SADD %s %s", key, ctx->bilan.id);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "indexing the synthesis");
    }
}

static void draft_begin(syn_ctx *ctx)
{
    if (!syn_bilan_running(ctx)) {
        return;
    }
    if (ctx->bilan.phase != BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION &&
        ctx->bilan.phase != BOUSSOLE__V1__PHASE__PHASE_CONCLUSION) {
        syn_fail_precondition(ctx, "BILAN_PHASE",
                              "a synthesis is drafted in the investigation or conclusion phase");
        return;
    }
    if (!ctx->have_dek) {
        syn_fail(ctx, BSL_STATUS_INTERNAL, "no data key for the bilan");
        return;
    }
    syn_prefill(ctx, draft_store);
}

void syn_draft_synthesis(Boussole__V1__SynthesisService_Service *service,
                         const Boussole__V1__DraftSynthesisRequest *in,
                         Boussole__V1__Synthesis_Closure closure, void *closure_data)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    draft_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    /* The id comes from the idempotency key: a repeat of this call finds the same synthesis. */
    bsl_id_derive(op->id, "synthesis", bsl_call_caller(call)->subject,
                  bsl_call_idempotency_key(call));
    syn_begin(syn_of(service), call, in->bilan_id, SYN_CREATE_DEK, draft_begin, op);
}

/* ---- GetSynthesis ------------------------------------------------------------------------ */

static void get_begin(syn_ctx *ctx)
{
    const Boussole__V1__GetSynthesisRequest *in = (const void *)bsl_call_request(ctx->call);
    syn_load(ctx, in->revision, "GetSynthesis", syn_reply_loaded);
}

void syn_get_synthesis(Boussole__V1__SynthesisService_Service *service,
                       const Boussole__V1__GetSynthesisRequest *in,
                       Boussole__V1__Synthesis_Closure closure, void *closure_data)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (in->revision > SYN_MAX_REVISIONS) {
        bsl_check_violation(&chk, "revision", "no such revision");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, get_begin, NULL);
}

/* ---- SaveSynthesisRevision --------------------------------------------------------------- */

typedef struct save_op {
    syn_mask mask;
    Boussole__V1__SynthesisContent *merged;
    syn_loaded *base;
    uint64_t next_rev;
    int new_status;
} save_op;

static void on_committed(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    save_op *op = ctx->op;
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "saving the revision");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        syn_fail_script(ctx, reply->str, "saving the revision");
        return;
    }
    syn_loaded *l = op->base;
    l->h.revision = op->next_rev;
    l->h.status = op->new_status;
    l->h.update_ms = bsl_clock_now_ms(ctx->app->clock);
    l->rev = op->next_rev;
    l->content = op->merged;
    syn_reply_loaded(ctx, l);
}

static void save_loaded(syn_ctx *ctx, syn_loaded *l)
{
    save_op *op = ctx->op;
    const Boussole__V1__SaveSynthesisRevisionRequest *in =
        (const void *)bsl_call_request(ctx->call);
    bsl_arena *a = bsl_call_arena(ctx->call);
    if (l->h.revision != in->base_revision) {
        syn_fail(ctx, BSL_STATUS_ABORTED,
                 "the synthesis changed: revision %llu is current, the save started from %llu",
                 (unsigned long long)l->h.revision, (unsigned long long)in->base_revision);
        return;
    }
    if (l->h.status == SYN_FINAL) {
        syn_fail_precondition(ctx, "SYNTHESIS_FINAL",
                              "the version is final; start a correction to change it");
        return;
    }
    op->merged = syn_content_merge(a, l->content, in->content, op->mask);
    if (op->merged == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    syn_mask changed = syn_content_diff(a, l->content, op->merged);
    if (changed == 0) {
        /* Nothing changed: no revision, and the answer is what is stored. */
        syn_reply_loaded(ctx, l);
        return;
    }
    op->base = l;
    op->next_rev = l->h.revision + 1;
    bool counselor = ctx->party == SYN_PARTY_COUNSELOR;
    op->new_status = counselor && l->h.status == SYN_SUBMITTED ? SYN_DRAFT : l->h.status;

    char ad[128], what[48];
    snprintf(what, sizeof(what), "content/%llu", (unsigned long long)op->next_rev);
    syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
    size_t sealed_len = 0, note_len = 0;
    unsigned char *sealed = syn_seal_message(a, &ctx->dek, ad, &op->merged->base, &sealed_len);
    unsigned char *note = NULL;
    if (in->change_note[0] != '\0') {
        snprintf(what, sizeof(what), "note/%llu", (unsigned long long)op->next_rev);
        syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
        note = syn_seal_text(a, &ctx->dek, ad, in->change_note, &note_len);
    }
    if (sealed == NULL || (in->change_note[0] != '\0' && note == NULL)) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    syn_rev_meta m = {
        .version = l->h.version,
        .ms = bsl_clock_now_ms(ctx->app->clock),
        .role = (int)bsl_call_caller(ctx->call)->role,
        .kind = BOUSSOLE__V1__SYNTHESIS_REVISION_KIND__SYNTHESIS_REVISION_KIND_EDITED,
        .changed = changed,
    };
    snprintf(m.author, sizeof(m.author), "%s", bsl_call_caller(ctx->call)->subject);
    char meta[320], k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], base[24], ms[24], max[16];
    syn_rev_meta_format(meta, sizeof(meta), &m);
    syn_key(k1, ctx->bilan.id, "");
    syn_key(k2, ctx->bilan.id, ":revs");
    snprintf(base, sizeof(base), "%llu", (unsigned long long)in->base_revision);
    snprintf(ms, sizeof(ms), "%lld", (long long)m.ms);
    snprintf(max, sizeof(max), "%d", SYN_MAX_REVISIONS);
    const char *argv[] = { k1,
                           k2,
                           base,
                           (const char *)sealed,
                           meta,
                           note ? (const char *)note : "",
                           counselor ? "c" : "b",
                           ms,
                           max };
    size_t lens[9];
    for (size_t i = 0; i < 9; i++) {
        /* argv[3] and argv[5] are sealed, binary */
        lens[i] = i == 3 ? sealed_len : i == 5 ? note_len : strlen(argv[i]);
    }
    int rv = bsl_redis_eval(ctx->app->redis, ctx->app->scripts.commit,
                            bsl_call_remaining_ms(ctx->call), on_committed, ctx, 2, 9, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "saving the revision");
    }
}

static void save_begin(syn_ctx *ctx)
{
    save_op *op = ctx->op;
    const Boussole__V1__SaveSynthesisRevisionRequest *in =
        (const void *)bsl_call_request(ctx->call);
    syn_mask may = ctx->party == SYN_PARTY_COUNSELOR ? SYN_MASK_COUNSELOR : SYN_MASK_OBSERVATIONS;
    if (op->mask == 0) {
        op->mask = may;
    }
    if (op->mask & ~may) {
        for (unsigned s = 1; s <= SYN_SECTION_LAST; s++) {
            if ((op->mask & ~may) & SYN_MASK(s)) {
                const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
                    &boussole__v1__synthesis_section__descriptor, (int)s);
                syn_fail(ctx, BSL_STATUS_PERMISSION_DENIED,
                         "sections: %s is not the caller's to write", v ? v->name : "?");
                return;
            }
        }
    }
    if (!syn_bilan_running(ctx)) {
        return;
    }
    bsl_check chk = bsl_check_begin(ctx->call);
    syn_content_check(&chk, "content", in->content, op->mask);
    if (!bsl_check_end(&chk)) {
        return;
    }
    syn_load(ctx, 0, NULL, save_loaded);
}

/* Checks a list of sections: known values, each once. Returns the mask (0 when empty). */
syn_mask syn_check_sections(bsl_check *chk, const char *field,
                            const Boussole__V1__SynthesisSection *sections, size_t n,
                            syn_mask allowed)
{
    syn_mask mask = 0;
    if (!bsl_check_count(chk, field, n, SYN_SECTION_LAST)) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "%s[%zu]", field, i);
        unsigned s = (unsigned)sections[i];
        if (s < 1 || s > SYN_SECTION_LAST || !(allowed & SYN_MASK(s))) {
            bsl_check_violation(chk, path, "not a section of the document%s",
                                s == BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_COVER
                                    ? " that can be listed here (the cover is always shared)"
                                    : "");
            continue;
        }
        if (mask & SYN_MASK(s)) {
            bsl_check_violation(chk, path, "listed twice");
            continue;
        }
        mask |= SYN_MASK(s);
    }
    return mask;
}

void syn_save_synthesis_revision(Boussole__V1__SynthesisService_Service *service,
                                 const Boussole__V1__SaveSynthesisRevisionRequest *in,
                                 Boussole__V1__Synthesis_Closure closure, void *closure_data)
{
    (void)closure;
    bsl_call *call = closure_data;
    save_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (in->base_revision < 1 || in->base_revision > SYN_MAX_REVISIONS) {
        bsl_check_violation(&chk, "base_revision", "required: the revision the edit starts from");
    }
    op->mask = syn_check_sections(&chk, "sections", in->sections, in->n_sections, SYN_MASK_ALL);
    if (in->content == NULL) {
        bsl_check_violation(&chk, "content", "required");
    }
    bsl_check_text(&chk, "change_note", in->change_note, 0, SYN_NOTE_MAX);
    if (!bsl_check_end(&chk)) {
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, save_begin, op);
}

/* ---- ListSynthesisRevisions -------------------------------------------------------------- */

static void on_revisions(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "listing revisions");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        syn_fail_script(ctx, reply->str, "listing revisions");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 || reply->elements % 2 != 0) {
        syn_fail(ctx, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    bsl_arena *a = bsl_call_arena(ctx->call);
    uint64_t first = 0;
    syn_parse_u64(reply->element[1]->str, reply->element[1]->len, &first);
    size_t n = (reply->elements - 2) / 2;
    Boussole__V1__ListSynthesisRevisionsResponse out =
        BOUSSOLE__V1__LIST_SYNTHESIS_REVISIONS_RESPONSE__INIT;
    out.revisions = bsl_arena_calloc(a, n ? n : 1, sizeof(*out.revisions));
    if (out.revisions == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *m = reply->element[2 + 2 * i], *note = reply->element[3 + 2 * i];
        uint64_t number = first - i;
        syn_rev_meta meta;
        if (m->type != REDIS_REPLY_STRING || !syn_rev_meta_parse(m->str, m->len, &meta)) {
            syn_fail(ctx, BSL_STATUS_INTERNAL, "revision %llu is unreadable",
                     (unsigned long long)number);
            return;
        }
        Boussole__V1__SynthesisRevision *r = bsl_arena_alloc(a, sizeof(*r));
        if (r == NULL) {
            syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        syn_revision_from_meta(a, r, number, &meta);
        if (note->type == REDIS_REPLY_STRING && note->len > 0 && ctx->have_dek) {
            char ad[128], what[48];
            snprintf(what, sizeof(what), "note/%llu", (unsigned long long)number);
            syn_ad(ad, sizeof(ad), ctx->bilan.id, what);
            char *t = syn_open_text(a, &ctx->dek, ad, (const unsigned char *)note->str, note->len);
            r->change_note = t ? t : "";
        }
        out.revisions[out.n_revisions++] = r;
    }
    uint64_t next = first > n ? first - n : 0;
    out.next_page_token = next >= 1 ? bsl_arena_printf(a, "%llu", (unsigned long long)next) : "";
    syn_reply(ctx, &out.base);
}

static void list_revisions_begin(syn_ctx *ctx)
{
    const Boussole__V1__ListSynthesisRevisionsRequest *in =
        (const void *)bsl_call_request(ctx->call);
    if (!ctx->have_dek) {
        syn_fail(ctx, BSL_STATUS_NOT_FOUND, "no synthesis for this bilan");
        return;
    }
    uint64_t first = 0;
    if (in->page != NULL && in->page->page_token[0] != '\0') {
        syn_parse_u64(in->page->page_token, strlen(in->page->page_token), &first);
    }
    uint32_t size = in->page && in->page->page_size ? in->page->page_size : 20;
    char k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], f[24], c[16];
    syn_key(k1, ctx->bilan.id, "");
    syn_key(k2, ctx->bilan.id, ":revs");
    snprintf(f, sizeof(f), "%llu", (unsigned long long)first);
    snprintf(c, sizeof(c), "%u", size);
    const char *argv[] = { k1, k2, f, c };
    size_t lens[] = { strlen(k1), strlen(k2), strlen(f), strlen(c) };
    int rv = bsl_redis_eval(ctx->app->redis, ctx->app->scripts.list_revs,
                            bsl_call_remaining_ms(ctx->call), on_revisions, ctx, 2, 4, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "listing revisions");
    }
}

bool syn_check_page(bsl_check *chk, const Boussole__V1__PageRequest *page, bool numeric_token)
{
    if (page == NULL) {
        return true;
    }
    bool ok = bsl_check_range(chk, "page.page_size", page->page_size, 0, 100);
    if (page->page_token[0] != '\0') {
        uint64_t v;
        if (numeric_token && !syn_parse_u64(page->page_token, strlen(page->page_token), &v)) {
            ok = bsl_check_violation(chk, "page.page_token", "not a token this service gave");
        } else if (!numeric_token) {
            ok = bsl_check_text(chk, "page.page_token", page->page_token, 0, 64) && ok;
        }
    }
    return ok;
}

void syn_list_synthesis_revisions(Boussole__V1__SynthesisService_Service *service,
                                  const Boussole__V1__ListSynthesisRevisionsRequest *in,
                                  Boussole__V1__ListSynthesisRevisionsResponse_Closure closure,
                                  void *closure_data)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    syn_check_page(&chk, in->page, true);
    if (!bsl_check_end(&chk)) {
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, list_revisions_begin, NULL);
}

void syn_revision_from_meta(bsl_arena *a, Boussole__V1__SynthesisRevision *r, uint64_t number,
                            const syn_rev_meta *m)
{
    boussole__v1__synthesis_revision__init(r);
    r->number = number;
    r->version = m->version;
    r->kind = (Boussole__V1__SynthesisRevisionKind)m->kind;
    r->author_id = bsl_arena_strdup(a, m->author);
    r->author_role = (Boussole__V1__Role)m->role;
    r->create_time = bsl_pb_timestamp(a, m->ms);
    size_t n = 0;
    r->changed_sections = syn_mask_sections(a, m->changed, &n);
    r->n_changed_sections = n;
}
