/* RenderSynthesis, and the rendering step shared with the third parties' reads. */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "handlers.h"
#include "labels.h"
#include "render.h"
#include "rendering.h"
#include "worker.h"

typedef struct render_op {
    syn_ctx *ctx;
    syn_rendered_fn done;
    Boussole__V1__RenderedSynthesis out;
    Boussole__V1__SynthesisDocument *doc;
} render_op;

static void on_pdf(int err, const unsigned char *pdf, size_t len, void *arg)
{
    render_op *op = arg;
    if (err != BSL_OK) {
        syn_fail(op->ctx, BSL_STATUS_INTERNAL, "rendering the PDF failed: %s", bsl_strerror(err));
        return;
    }
    op->out.data.data = (uint8_t *)pdf;
    op->out.data.len = len;
    op->out.document = op->doc;
    /* The document lives in the job's arena and the bytes in the worker: both stay valid for
     * this callback, and the reply is encoded before it returns. */
    op->done(op->ctx, &op->out);
}

void syn_render(syn_ctx *ctx, const syn_doc_input *din, int format, int64_t create_ms,
                syn_rendered_fn done)
{
    syn_app *app = ctx->app;
    bsl_arena *a = bsl_call_arena(ctx->call);
    render_op *op = bsl_arena_calloc(a, 1, sizeof(*op));
    if (op == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->ctx = ctx;
    op->done = done;
    boussole__v1__rendered_synthesis__init(&op->out);
    op->out.format = (Boussole__V1__SynthesisFormat)format;
    op->out.version = din->version;
    op->out.revision = din->revision;
    op->out.final = din->status == SYN_FINAL;
    const char *ext = format == BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_PDF ? "pdf"
                      : format == BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_MARKDOWN
                          ? "md"
                          : "json";
    op->out.filename = syn_render_filename(a, din->version, din->revision, ext);

    if (format != BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_PDF) {
        op->doc = syn_document_build(a, app->labels, din);
        if (op->doc == NULL || op->out.filename == NULL) {
            syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        op->out.document = op->doc;
        if (format == BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_MARKDOWN) {
            size_t len = 0;
            char *md = syn_markdown_render(a, op->doc, &len);
            if (md == NULL) {
                syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
                return;
            }
            op->out.content_type = "text/markdown; charset=utf-8";
            op->out.data.data = (uint8_t *)md;
            op->out.data.len = len;
        }
        done(ctx, &op->out);
        return;
    }

    /* The PDF is made on the worker thread, from a copy of the content in an arena of its
     * own: nothing it reads belongs to the call. */
    bsl_arena *job = bsl_arena_create();
    if (job == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    size_t n = boussole__v1__synthesis_content__get_packed_size(din->content);
    uint8_t *packed = bsl_arena_alloc(job, n ? n : 1);
    Boussole__V1__SynthesisContent *copy = NULL;
    if (packed != NULL) {
        boussole__v1__synthesis_content__pack(din->content, packed);
        copy = boussole__v1__synthesis_content__unpack(bsl_arena_allocator(job), n, packed);
    }
    syn_doc_input in = *din;
    in.content = copy;
    in.correction_reason =
        din->correction_reason ? bsl_arena_strdup(job, din->correction_reason) : NULL;
    op->doc = copy ? syn_document_build(job, app->labels, &in) : NULL;
    if (op->doc == NULL || op->out.filename == NULL) {
        bsl_arena_free(job);
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->out.content_type = "application/pdf";
    syn_pdf_options po = {
        .page_label = syn_label_text(app->labels, SYN_L_DOC_PAGE),
        .contents = syn_label_text(app->labels, SYN_L_DOC_CONTENTS),
        .watermark =
            din->status == SYN_FINAL ? NULL : syn_label_text(app->labels, SYN_L_NOTICE_DRAFT),
        .create_ms = create_ms,
    };
    int rv = syn_worker_submit(app->worker, job, op->doc, &po, on_pdf, op);
    if (rv != BSL_OK) {
        bsl_arena_free(job);
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED,
                 "too many renderings in progress; retry in a moment");
    }
}

const char *syn_format_channel(int format)
{
    switch (format) {
    case BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_PDF:
        return "pdf";
    case BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_MARKDOWN:
        return "markdown";
    case BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_STRUCTURED:
        return "structured";
    default:
        return "content";
    }
}

/* ---- RenderSynthesis --------------------------------------------------------------------- */

static void rendered(syn_ctx *ctx, Boussole__V1__RenderedSynthesis *out)
{
    syn_reply(ctx, &out->base);
}

static void render_loaded(syn_ctx *ctx, syn_loaded *l)
{
    const Boussole__V1__RenderSynthesisRequest *in = (const void *)bsl_call_request(ctx->call);
    Boussole__V1__Synthesis *s =
        syn_synthesis_build(ctx, &l->h, l->rev, l->meta.version, l->content);
    if (s == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    uint32_t v = l->meta.version;
    syn_doc_input din = {
        .content = l->content,
        .sections = SYN_MASK_SHAREABLE,
        .version = v,
        .revision = l->rev,
        .status = syn_revision_status(&l->h, v, l->rev),
        .final_ms = v >= 1 && v <= l->h.version ? l->h.versions[v].final_ms : 0,
        .correction_reason =
            v >= 1 && v <= s->n_versions ? s->versions[v - 1]->correction_reason : NULL,
    };
    int64_t create_ms = din.status == SYN_FINAL ? din.final_ms : l->meta.ms;
    syn_render(ctx, &din, (int)in->format, create_ms, rendered);
}

static void render_begin(syn_ctx *ctx)
{
    const Boussole__V1__RenderSynthesisRequest *in = (const void *)bsl_call_request(ctx->call);
    char *channel = bsl_arena_printf(bsl_call_arena(ctx->call), "RenderSynthesis/%s",
                                     syn_format_channel((int)in->format));
    syn_load(ctx, in->revision, channel, render_loaded);
}

bool syn_check_format(bsl_check *chk, const char *field, int format, bool optional)
{
    if (!bsl_check_enum(chk, field, &boussole__v1__synthesis_format__descriptor, format,
                        optional)) {
        return false;
    }
    return true;
}

SYN_HANDLER(render_synthesis, RenderSynthesisRequest, RenderedSynthesis)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    syn_check_format(&chk, "format", (int)in->format, false);
    if (in->revision > SYN_MAX_REVISIONS) {
        bsl_check_violation(&chk, "revision", "no such revision");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, SYN_NEED_DEK, render_begin, NULL);
}
