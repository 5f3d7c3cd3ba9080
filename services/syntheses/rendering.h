/* The rendering step of a call (rendering.c): Markdown and structured data on the loop, PDF on
 * the worker thread. */
#ifndef SYNTHESES_RENDERING_H
#define SYNTHESES_RENDERING_H

#include "render.h"
#include "syntheses.h"

/* Receives the rendering, valid for the duration of the callback only: answer from inside. */
typedef void (*syn_rendered_fn)(syn_ctx *ctx, Boussole__V1__RenderedSynthesis *out);

/* Renders din in `format` (PDF, MARKDOWN or STRUCTURED) and calls done on the loop. On failure
 * the call is answered and done is not called. create_ms dates the PDF. */
void syn_render(syn_ctx *ctx, const syn_doc_input *din, int format, int64_t create_ms,
                syn_rendered_fn done);

/* "pdf", "markdown", "structured", or "content" for UNSPECIFIED: how the access log names a
 * format. */
const char *syn_format_channel(int format);

/* A SynthesisFormat value (UNSPECIFIED allowed when optional). */
bool syn_check_format(bsl_check *chk, const char *field, int format, bool optional);

#endif
