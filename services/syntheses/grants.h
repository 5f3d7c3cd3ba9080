/* Grants as stored (grants.c). The state string lives beside the sealed grant so that Lua
 * scripts (shared reads, retention) can decide on it without the data key:
 * "create_ms|expire_ms|revoke_ms|kind|section mask|grantee". */
#ifndef SYNTHESES_GRANTS_H
#define SYNTHESES_GRANTS_H

#include "syntheses.h"

typedef struct syn_grant_state {
    int64_t create_ms;
    int64_t expire_ms;
    int64_t revoke_ms; /* 0 while not revoked */
    int kind;          /* SynthesisThirdPartyKind */
    syn_mask mask;     /* the sections granted (every shareable one for the whole document) */
    char grantee[BSL_SUBJECT_MAX + 1]; /* "" for a share-token grant */
} syn_grant_state;

bool syn_grant_state_parse(const char *s, size_t len, syn_grant_state *g);
void syn_grant_state_format(char *out, size_t cap, const syn_grant_state *g);

/* A SynthesisGrant from its state (no name, no note), in the arena. */
Boussole__V1__SynthesisGrant *syn_grant_build(bsl_arena *a, const char *bilan_id, const char *id,
                                              const syn_grant_state *g, int64_t now);

/* Every grant of an HGETALL of synth:{b}:grants, opened with ctx->dek, newest first. */
Boussole__V1__SynthesisGrant **syn_grants_from_hash(syn_ctx *ctx, const redisReply *hash,
                                                    size_t *n);

#endif
