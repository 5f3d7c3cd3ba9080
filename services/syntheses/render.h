/*
 * Rendering a synthesis: the content becomes a SynthesisDocument (document.c: French headings
 * and labels from the data file, paragraphs and bullets recognised in the texts), which the
 * Markdown (markdown.c) and PDF (pdf.c) renderers lay out. The three steps are pure functions
 * of their inputs; only the PDF renderer is slow enough to run on the worker thread (worker.c).
 */
#ifndef SYNTHESES_RENDER_H
#define SYNTHESES_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boussole/arena.h"
#include "boussole/v1/syntheses.pb-c.h"
#include "labels.h"

/* What is rendered. */
typedef struct syn_doc_input {
    const Boussole__V1__SynthesisContent *content;
    uint32_t sections; /* syn_mask of the sections shown (cover always) */
    bool shared;       /* an extract read by a third party */
    uint32_t version;  /* the version of the revision */
    uint64_t revision;
    int status;       /* SynthesisStatus of that revision: FINAL when it is the final one */
    int64_t final_ms; /* when it became final (FINAL only) */
    const char *correction_reason; /* version > 1: why it corrects the previous one */
} syn_doc_input;

/* Builds the document in the arena; NULL when out of memory. */
Boussole__V1__SynthesisDocument *syn_document_build(bsl_arena *a, const syn_labels *l,
                                                    const syn_doc_input *in);

/* The document as Markdown (UTF-8, NUL-terminated) in the arena; NULL when out of memory.
 * Text typed by people is escaped so that it cannot turn into markup. */
char *syn_markdown_render(bsl_arena *a, const Boussole__V1__SynthesisDocument *doc, size_t *len);

/* What the PDF renderer needs besides the document. */
typedef struct syn_pdf_options {
    const char *page_label; /* "Page {page} sur {pages}" */
    const char *contents;   /* the table of contents' heading: "Sommaire" */
    const char *watermark;  /* printed at the top of every page (a draft); NULL for none */
    int64_t create_ms;      /* the PDF's creation date (the final time, for a final document) */
} syn_pdf_options;

/*
 * The document as PDF: A4, a title page with the cover, the notices and the contents,
 * numbered sections, "Page n sur N" footers, metadata (title, creator, dates). On success *out
 * is a malloc'd buffer of *len bytes the caller frees. Returns BSL_OK, BSL_ENOMEM, or BSL_EIO
 * when cairo fails. Any thread: each call makes its own cairo and pango objects (pango's font
 * map is per thread).
 */
int syn_pdf_render(const Boussole__V1__SynthesisDocument *doc, const syn_pdf_options *opts,
                   unsigned char **out, size_t *len);

/* A file name for a rendering: "synthese-bilan-v<version>-r<revision>.<ext>" (in the arena). */
char *syn_render_filename(bsl_arena *a, uint32_t version, uint64_t revision, const char *ext);

#endif
