/* The handlers of SynthesisService and the helpers they share. */
#ifndef SYNTHESES_HANDLERS_H
#define SYNTHESES_HANDLERS_H

#include "load.h"
#include "syntheses.h"

#define SYN_HANDLER(name, req, resp)                                                               \
    void syn_##name(Boussole__V1__SynthesisService_Service *service,                               \
                    const Boussole__V1__##req *in, Boussole__V1__##resp##_Closure closure,         \
                    void *closure_data)

/* synthesis.c */
SYN_HANDLER(draft_synthesis, DraftSynthesisRequest, Synthesis);
SYN_HANDLER(get_synthesis, GetSynthesisRequest, Synthesis);
SYN_HANDLER(save_synthesis_revision, SaveSynthesisRevisionRequest, Synthesis);
SYN_HANDLER(list_synthesis_revisions, ListSynthesisRevisionsRequest,
            ListSynthesisRevisionsResponse);

/* workflow.c */
SYN_HANDLER(submit_synthesis, SubmitSynthesisRequest, Synthesis);
SYN_HANDLER(request_synthesis_changes, RequestSynthesisChangesRequest, Synthesis);
SYN_HANDLER(approve_synthesis, ApproveSynthesisRequest, Synthesis);
SYN_HANDLER(start_synthesis_correction, StartSynthesisCorrectionRequest, Synthesis);
SYN_HANDLER(add_synthesis_comment, AddSynthesisCommentRequest, SynthesisComment);
SYN_HANDLER(list_synthesis_comments, ListSynthesisCommentsRequest, ListSynthesisCommentsResponse);

/* rendering.c */
SYN_HANDLER(render_synthesis, RenderSynthesisRequest, RenderedSynthesis);

/* grants.c */
SYN_HANDLER(create_synthesis_grant, CreateSynthesisGrantRequest, CreateSynthesisGrantResponse);
SYN_HANDLER(revoke_synthesis_grant, RevokeSynthesisGrantRequest, SynthesisGrant);
SYN_HANDLER(list_synthesis_grants, ListSynthesisGrantsRequest, ListSynthesisGrantsResponse);
SYN_HANDLER(list_syntheses_shared_with_me, ListSynthesesSharedWithMeRequest,
            ListSynthesesSharedWithMeResponse);

/* shared.c */
SYN_HANDLER(get_shared_synthesis, GetSharedSynthesisRequest, SharedSynthesis);
SYN_HANDLER(get_granted_synthesis, GetGrantedSynthesisRequest, SharedSynthesis);

/* accesslog.c */
SYN_HANDLER(list_synthesis_access_log, ListSynthesisAccessLogRequest,
            ListSynthesisAccessLogResponse);

/* retention.c */
SYN_HANDLER(set_retention_consent, SetRetentionConsentRequest, SynthesisRetention);
SYN_HANDLER(get_synthesis_retention, GetSynthesisRetentionRequest, SynthesisRetention);
SYN_HANDLER(run_retention_sweep, RunRetentionSweepRequest, RetentionSweepReport);
SYN_HANDLER(list_destruction_records, ListDestructionRecordsRequest,
            ListDestructionRecordsResponse);

/* erase.c */
SYN_HANDLER(erase_bilan_data, EraseBilanDataRequest, EraseBilanDataResponse);

/* export.c */
SYN_HANDLER(export_beneficiary_data, ExportBeneficiaryDataRequest, SynthesesExport);
SYN_HANDLER(export_beneficiary_bundle, ExportBeneficiaryBundleRequest, BeneficiaryDataBundle);

/* ---- shared helpers (synthesis.c) -------------------------------------------------------- */

/* Answers with the Synthesis of a loaded revision. */
void syn_reply_loaded(syn_ctx *ctx, syn_loaded *l);

/* Answers with the current revision (not logged: the caller just wrote it). */
void syn_reply_current(syn_ctx *ctx);

/* False (and the call answered FAILED_PRECONDITION) when the bilan has ended. */
bool syn_bilan_running(syn_ctx *ctx);

/* Checks a list of sections: values of `allowed`, each once. Returns their mask. */
syn_mask syn_check_sections(bsl_check *chk, const char *field,
                            const Boussole__V1__SynthesisSection *sections, size_t n,
                            syn_mask allowed);

/* Checks a PageRequest (size 0..100; a numeric token when numeric_token). */
bool syn_check_page(bsl_check *chk, const Boussole__V1__PageRequest *page, bool numeric_token);

/* Fills a SynthesisRevision from stored metadata (strings in the arena). */
void syn_revision_from_meta(bsl_arena *a, Boussole__V1__SynthesisRevision *r, uint64_t number,
                            const syn_rev_meta *m);

/* Opens a stored comment (workflow.c); NULL when it does not open. */
Boussole__V1__SynthesisComment *syn_comment_open(syn_ctx *ctx, const char *id,
                                                 const redisReply *sealed);

/* An entry of the access stream (accesslog.c); NULL when unreadable or out of memory. */
Boussole__V1__SynthesisAccessEntry *syn_access_entry(bsl_arena *a, const redisReply *entry);

/* ---- pre-fill (prefill.c) ---------------------------------------------------------------- */

typedef void (*syn_prefill_fn)(syn_ctx *ctx, Boussole__V1__SynthesisContent *content);

/* Builds a first content from the sessions and questionnaires services, calling them with the
 * caller's own credentials (so that only what the counselor may read goes in), then calls
 * done on the loop. On failure the call is answered and done is not called. */
void syn_prefill(syn_ctx *ctx, syn_prefill_fn done);

#endif
