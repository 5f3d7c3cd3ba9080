/*
 * The syntheses service (see proto/boussole/v1/syntheses.proto and README.md): the synthesis
 * document of a bilan, its workflow and rendering, the beneficiary's grants and the access
 * log, and the retention of every service's data of ended bilans.
 *
 * Everything runs on the service's libev loop except PDF rendering, which a worker thread
 * does (worker.c). Handlers follow one pattern (access.c): syn_begin() learns who the caller
 * is to the bilan from the sessions service, applies the method's row of the permission table
 * and fetches the bilan's data key, then hands a syn_ctx to the handler's next step; every
 * answer goes through syn_reply()/syn_fail*(), which wipe the data key copy.
 */
#ifndef SYNTHESES_H
#define SYNTHESES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boussole/arena.h"
#include "boussole/check.h"
#include "boussole/client.h"
#include "boussole/crypto.h"
#include "boussole/id.h"
#include "boussole/redis.h"
#include "boussole/server.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"
#include "boussole/v1/syntheses.pb-c.h"

/* ---- limits (the proto's comments state them; content.c enforces them) ------------------ */

#define SYN_TEXT_MAX        10000 /* a text section */
#define SYN_TITLE_MAX       200
#define SYN_COMMENT_MAX     4000
#define SYN_NOTE_MAX        500
#define SYN_REASON_MAX      2000
#define SYN_MAX_VERSIONS    20
#define SYN_MAX_REVISIONS   2000
#define SYN_MAX_COMMENTS    1000
#define SYN_MAX_GRANTS      50
#define SYN_MAX_DECISIONS   100
#define SYN_GRANT_MAX_DAYS  366
#define SYN_YEAR_MS         (365LL * 24 * 3600 * 1000)
#define SYN_EXPORT_BUDGET   (512u * 1024u)
#define SYN_SHARE_TOKEN_LEN (5 + BSL_ID_LEN + 1 + 64) /* "bss1." id "." 64 hex */

/* ---- sections ---------------------------------------------------------------------------- */

typedef uint32_t syn_mask; /* bit s set: SynthesisSection s */

#define SYN_MASK(s)        ((syn_mask)1u << (unsigned)(s))
#define SYN_SECTION_LAST   BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_COVER
#define SYN_MASK_SHAREABLE ((syn_mask)0x3feu) /* sections 1..9 */
#define SYN_MASK_ALL       ((syn_mask)0x7feu) /* 1..10 */
#define SYN_MASK_OBSERVATIONS                                                                      \
    SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_OBSERVATIONS)
#define SYN_MASK_COUNSELOR (SYN_MASK_ALL & ~SYN_MASK_OBSERVATIONS)

/* Status values as stored (the enum's numbers). */
#define SYN_DRAFT     BOUSSOLE__V1__SYNTHESIS_STATUS__SYNTHESIS_STATUS_DRAFT
#define SYN_SUBMITTED BOUSSOLE__V1__SYNTHESIS_STATUS__SYNTHESIS_STATUS_SUBMITTED
#define SYN_CHANGES   BOUSSOLE__V1__SYNTHESIS_STATUS__SYNTHESIS_STATUS_CHANGES_REQUESTED
#define SYN_FINAL     BOUSSOLE__V1__SYNTHESIS_STATUS__SYNTHESIS_STATUS_FINAL

/* ---- the application --------------------------------------------------------------------- */

typedef struct syn_labels syn_labels;
typedef struct syn_worker syn_worker;
typedef struct syn_sweeper syn_sweeper;

typedef struct syn_scripts {
    bsl_redis_script *load;
    bsl_redis_script *draft;
    bsl_redis_script *commit;
    bsl_redis_script *submit;
    bsl_redis_script *request_changes;
    bsl_redis_script *approve;
    bsl_redis_script *correct;
    bsl_redis_script *comment;
    bsl_redis_script *grant_create;
    bsl_redis_script *grant_revoke;
    bsl_redis_script *read_token;
    bsl_redis_script *read_account;
    bsl_redis_script *consent;
    bsl_redis_script *erase;
    bsl_redis_script *unlock;
    bsl_redis_script *retention_facts;
    bsl_redis_script *list_revs;
    bsl_redis_script *list_comments;
    bsl_redis_script *erase_facts;
    bsl_redis_script *hold;
    bsl_redis_script *export;
    bsl_redis_script *access_page;
} syn_scripts;

typedef struct syn_app {
    /* First, so that a handler's `service` argument is the app. */
    Boussole__V1__SynthesisService_Service service;
    bsl_service *svc;
    bsl_redis *redis;
    bsl_redis *keystore;
    bsl_keyring *keyring;
    bsl_clock *clock;
    const bsl_logger *log;
    bsl_client *sessions;
    bsl_client *questionnaires;
    syn_labels *labels;
    syn_worker *worker;
    syn_sweeper *sweeper;
    syn_scripts scripts;
} syn_app;

static inline syn_app *syn_of(Boussole__V1__SynthesisService_Service *service)
{
    return (syn_app *)service;
}

/* Registers every Lua script (scripts.c). */
int syn_scripts_add(syn_app *app);

/* ---- who the caller is to the bilan (access.c) ------------------------------------------ */

typedef enum syn_party {
    SYN_PARTY_NONE = 0,        /* a stranger to the bilan */
    SYN_PARTY_BENEFICIARY = 1, /* the bilan's beneficiary */
    SYN_PARTY_COUNSELOR = 2,   /* the bilan's counselor */
    SYN_PARTY_ADMIN = 3,       /* an admin of the bilan's organisation */
    SYN_PARTY_SERVICE = 4,     /* another Boussole service */
} syn_party;

#define SYN_P(p) (1u << (unsigned)(p))

/* The bilan as the sessions service describes it (or, once the sessions service has erased
 * it while documents here are held, as the synthesis header remembers it). */
typedef struct syn_bilan {
    char id[BSL_ID_LEN + 1];
    char beneficiary[BSL_SUBJECT_MAX + 1];
    char counselor[BSL_SUBJECT_MAX + 1];
    char organisation[BSL_SUBJECT_MAX + 1];
    int phase;       /* Boussole__V1__Phase */
    int status;      /* Boussole__V1__BilanStatus */
    int64_t end_ms;  /* 0 while running */
    bool remembered; /* from the header: the sessions service no longer has it */
} syn_bilan;

typedef struct syn_ctx syn_ctx;
typedef void (*syn_next_fn)(syn_ctx *ctx);

struct syn_ctx {
    syn_app *app;
    bsl_call *call;
    syn_bilan bilan;
    syn_party party;
    bool have_dek;
    bsl_dek dek; /* a copy, wiped by syn_reply / syn_fail */
    syn_next_fn next;
    void *op; /* the handler's own state */
};

/* Flags of syn_begin. */
#define SYN_NEED_DEK   1u /* fetch the data key (it must exist) */
#define SYN_CREATE_DEK 2u /* fetch it, creating it on first use */

/*
 * Starts a call on a bilan: checks the id, learns the participants from the sessions service,
 * applies the permission table row of the call's method (NOT_FOUND for strangers,
 * PERMISSION_DENIED for an admin or a participant the row excludes), fetches the data key when
 * flags ask, then calls next(ctx) on the loop. On any failure the call is answered and next is
 * never called. ctx lives in the call's arena.
 */
void syn_begin(syn_app *app, bsl_call *call, const char *bilan_id, unsigned flags, syn_next_fn next,
               void *op);

/* The parties the permission table allows for a method name ("GetSynthesis"); 0 if none. */
unsigned syn_allowed_parties(const char *method);

/* What a caller is to a bilan. */
syn_party syn_party_of(const Boussole__V1__Caller *caller, const syn_bilan *bilan);

/* Answers and wipes the data key copy. */
void syn_reply(syn_ctx *ctx, const ProtobufCMessage *msg);
void syn_fail(syn_ctx *ctx, bsl_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void syn_fail_err(syn_ctx *ctx, int err, const char *what);
/* FAILED_PRECONDITION with a PreconditionViolation {type, bilan id, description}. */
void syn_fail_precondition(syn_ctx *ctx, const char *type, const char *description);
/* Maps a Lua script's error_reply ("ABORTED ...", "NOT_FOUND ...", "FINAL ...") to a status. */
void syn_fail_script(syn_ctx *ctx, const char *error, const char *what);

/* ---- the synthesis header (store.c) ------------------------------------------------------ */

typedef struct syn_version_facts {
    uint64_t first_rev;
    uint64_t submitted_rev;
    int64_t submit_ms;
    uint64_t final_rev;
    int64_t final_ms;
    const char *approved_by; /* in the call's arena, "" when none */
    const char *corrected_by;
    const unsigned char *reason_sealed; /* NULL when none */
    size_t reason_len;
} syn_version_facts;

typedef struct syn_header {
    const char *id;
    const char *beneficiary;
    const char *counselor;
    const char *organisation;
    uint32_t version;
    int status;
    uint64_t revision;
    uint32_t latest_final; /* the newest final version, 0 when none */
    int64_t create_ms;
    int64_t update_ms;
    uint32_t n_comments;
    syn_version_facts versions[SYN_MAX_VERSIONS + 1]; /* [1..version] */
} syn_header;

/* Parses an HGETALL reply of synth:{b}; strings are copied into the arena. Returns false when
 * the reply is not a header (missing fields, out of range). */
bool syn_header_parse(bsl_arena *a, const redisReply *hash, syn_header *out);

/* Revision metadata "version|ms|role|kind|mask|author". */
typedef struct syn_rev_meta {
    uint32_t version;
    int64_t ms;
    int role;
    int kind;
    syn_mask changed;
    char author[BSL_SUBJECT_MAX + 1];
} syn_rev_meta;

bool syn_rev_meta_parse(const char *s, size_t len, syn_rev_meta *out);
/* Formats into out (at least 256 bytes). */
void syn_rev_meta_format(char *out, size_t cap, const syn_rev_meta *m);

/* The associated data that binds a sealed value to its place: "<bilan>/syntheses/<what>". */
void syn_ad(char *out, size_t cap, const char *bilan_id, const char *what);

/* Seals a packed message into the arena; NULL when out of memory. */
unsigned char *syn_seal_message(bsl_arena *a, const bsl_dek *dek, const char *ad,
                                const ProtobufCMessage *msg, size_t *out_len);
/* Seals a text into the arena. */
unsigned char *syn_seal_text(bsl_arena *a, const bsl_dek *dek, const char *ad, const char *text,
                             size_t *out_len);
/* Opens a sealed message of type desc, unpacked in the arena; NULL when it does not open. */
ProtobufCMessage *syn_open_message(bsl_arena *a, const bsl_dek *dek, const char *ad,
                                   const ProtobufCMessageDescriptor *desc,
                                   const unsigned char *sealed, size_t len);
/* Opens a sealed text into the arena; NULL when it does not open. */
char *syn_open_text(bsl_arena *a, const bsl_dek *dek, const char *ad, const unsigned char *sealed,
                    size_t len);

/* Builds the Synthesis message from a header and one revision's content (both in the arena).
 * Version correction reasons are opened with ctx->dek. */
Boussole__V1__Synthesis *syn_synthesis_build(syn_ctx *ctx, const syn_header *h, uint64_t rev,
                                             uint32_t rev_version,
                                             Boussole__V1__SynthesisContent *content);

/* The content of a revision from a load reply: opens and unpacks it. */
Boussole__V1__SynthesisContent *syn_content_open(syn_ctx *ctx, uint64_t rev,
                                                 const redisReply *sealed);

/* Answers a load script's failure reply (NOT_FOUND, NO_REVISION). */

/* Parses an unsigned decimal; false when s is not one (or overflows). */
bool syn_parse_u64(const char *s, size_t len, uint64_t *out);
int64_t syn_str_i64(const char *s);

/* ---- content (content.c): pure functions ------------------------------------------------- */

/* Checks the sections of `mask` of c against the limits, recording violations under
 * "<prefix>.<field>". */
void syn_content_check(bsl_check *chk, const char *prefix, const Boussole__V1__SynthesisContent *c,
                       syn_mask mask);

/* A copy of base with the sections of `mask` taken from `in` (shallow: pointers are shared;
 * the result lives in the arena). */
Boussole__V1__SynthesisContent *syn_content_merge(bsl_arena *a,
                                                  const Boussole__V1__SynthesisContent *base,
                                                  const Boussole__V1__SynthesisContent *in,
                                                  syn_mask mask);

/* The sections whose content differs between a and b. */
syn_mask syn_content_diff(bsl_arena *a, const Boussole__V1__SynthesisContent *x,
                          const Boussole__V1__SynthesisContent *y);

/* A copy of c with only the sections of mask and the cover (shallow, in the arena). */
Boussole__V1__SynthesisContent *
syn_content_scope(bsl_arena *a, const Boussole__V1__SynthesisContent *c, syn_mask mask);

/* An empty content (every sub-message present) in the arena. */
Boussole__V1__SynthesisContent *syn_content_new(bsl_arena *a);

/* Sections of a mask as an arena array of enum values; *n receives the count. */
Boussole__V1__SynthesisSection *syn_mask_sections(bsl_arena *a, syn_mask mask, size_t *n);

#endif /* SYNTHESES_H */
