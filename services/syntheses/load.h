/* Reading one revision of a synthesis (load.c). */
#ifndef SYNTHESES_LOAD_H
#define SYNTHESES_LOAD_H

#include "syntheses.h"

/* A revision as read: everything lives in the call's arena. */
typedef struct syn_loaded {
    syn_header h;
    uint64_t rev;
    syn_rev_meta meta;
    Boussole__V1__SynthesisContent *content;
    const char *note; /* the author's change note, opened ("" when none) */
} syn_loaded;

typedef void (*syn_loaded_fn)(syn_ctx *ctx, syn_loaded *loaded);

/*
 * Reads revision `rev` (0: the current one) of the bilan's synthesis and opens it with
 * ctx->dek, then calls fn on the loop. When `channel` is not NULL the read is appended to the
 * access log in the same script, as a read by the call's caller of every section. On failure
 * (no synthesis, no such revision, Redis, decryption) the call is answered and fn is not
 * called.
 */
void syn_load(syn_ctx *ctx, uint64_t rev, const char *channel, syn_loaded_fn fn);

/* The status a revision is rendered with: FINAL for the final revision of its version, the
 * current status for the current revision of a version in progress, DRAFT otherwise. */
int syn_revision_status(const syn_header *h, uint32_t rev_version, uint64_t rev);

#endif
