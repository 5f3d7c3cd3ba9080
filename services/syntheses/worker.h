/*
 * A thread that renders PDFs, so that a rendering (tens of milliseconds of pango and cairo)
 * never holds up the libev loop and the calls it serves. Jobs queue in order; the result comes
 * back on the loop through an ev_async.
 *
 * Ownership: a job owns its arena (which holds the document it renders); the worker frees it
 * after the callback. The PDF bytes passed to the callback are freed by the worker when the
 * callback returns: copy or encode them before returning.
 */
#ifndef SYNTHESES_WORKER_H
#define SYNTHESES_WORKER_H

#include <stddef.h>

#include <ev.h>

#include "boussole/arena.h"
#include "render.h"

typedef struct syn_worker syn_worker;

/* Called on the loop: err BSL_OK with the PDF, or an error (BSL_ENOMEM, BSL_EIO). */
typedef void (*syn_worker_cb)(int err, const unsigned char *pdf, size_t len, void *arg);

/* Starts the thread. max_queue: jobs waiting at most (more are refused with BSL_ETOOBIG). */
int syn_worker_create(syn_worker **out, struct ev_loop *loop, unsigned max_queue);

/* Stops the thread (the job being rendered finishes) and frees every job without calling
 * back. Call on the loop thread, after the server has drained. NULL is accepted. */
void syn_worker_free(syn_worker *w);

/*
 * Queues a rendering of doc with opts. On BSL_OK the worker owns `arena` (doc and every string
 * of opts must live in it, or be static) and will call cb once. On error (BSL_ETOOBIG: queue
 * full; BSL_ECLOSED) nothing is taken and cb will not be called.
 */
int syn_worker_submit(syn_worker *w, bsl_arena *arena, const Boussole__V1__SynthesisDocument *doc,
                      const syn_pdf_options *opts, syn_worker_cb cb, void *arg);

/* Checks that the fonts the PDF asks for are installed (DejaVu Serif and DejaVu Sans). */
int syn_fonts_check(char *errbuf, size_t errlen);

#endif
