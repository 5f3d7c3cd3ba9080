/*
 * The questionnaires service (see proto/boussole/v1/questionnaires.proto): the application
 * struct, the permission rules, and the small continuation framework the handlers share.
 *
 * A handler's work is a chain of asynchronous steps (ask sessions who is in the bilan, read
 * Redis, get the bilan's data key, write Redis, report to sessions). Each step takes the call's
 * `qn_op` and the function to run next; a step that fails answers the call itself, so the next
 * function only runs on success. Every answer goes through qn_op_reply / qn_op_fail, which
 * release what the op holds (its instrument references) once the answer is encoded.
 */
#ifndef QN_QUESTIONNAIRES_H
#define QN_QUESTIONNAIRES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boussole/check.h"
#include "boussole/client.h"
#include "boussole/crypto.h"
#include "boussole/id.h"
#include "boussole/redis.h"
#include "boussole/server.h"
#include "boussole/service.h"
#include "boussole/v1/questionnaires.pb-c.h"
#include "boussole/v1/sessions.pb-c.h"
#include "catalog.h"
#include "occupations.h"

typedef struct qn_app {
    /* First, so that a handler's `service` argument is the app. */
    Boussole__V1__QuestionnaireService_Service service;
    bsl_service *svc;
    bsl_redis *redis;
    bsl_redis *keystore;
    bsl_clock *clock;
    bsl_keyring *keyring;
    bsl_client *sessions;
    const Boussole__V1__Caller *self;
    qn_catalog *catalog;
    qn_occupations *occupations;
    /* Lua scripts (see each module). */
    bsl_redis_script *create_instrument;
    bsl_redis_script *create_version;
    bsl_redis_script *retire_instrument;
    bsl_redis_script *assign;
    bsl_redis_script *list_assignments;
    bsl_redis_script *save_answers;
    bsl_redis_script *submit;
    bsl_redis_script *reopen;
    bsl_redis_script *annotate;
    bsl_redis_script *read_results;
    bsl_redis_script *invite;
    bsl_redis_script *revoke;
    bsl_redis_script *consume_token;
    bsl_redis_script *read_feedback;
    bsl_redis_script *dump_bilan;
    bsl_redis_script *erase;
    bsl_redis_script *read_survey;
} qn_app;

static inline qn_app *qn_of(Boussole__V1__QuestionnaireService_Service *service)
{
    return (qn_app *)service;
}

/* ---- who may do what ---------------------------------------------------------------- */

/* Who takes part in a bilan, as the sessions service says. */
typedef struct qn_access {
    char bilan_id[BSL_ID_LEN + 1];
    char beneficiary[BSL_SUBJECT_MAX + 1];
    char counselor[BSL_SUBJECT_MAX + 1];
    char organisation[BSL_SUBJECT_MAX + 1];
    int phase;  /* Boussole__V1__Phase */
    int status; /* Boussole__V1__BilanStatus */
} qn_access;

typedef enum {
    QN_READ_META,     /* assignments without answers: beneficiary, counselor, admin */
    QN_ASSIGN,        /* counselor */
    QN_ANSWER,        /* beneficiary */
    QN_READ_ANSWERS,  /* answers, results, matching from results: beneficiary, counselor */
    QN_MANAGE,        /* reopen, annotate: counselor */
    QN_INVITE,        /* invite, revoke relatives: beneficiary */
    QN_READ_FEEDBACK, /* invitations and the relatives' summary: beneficiary, counselor */
} qn_action;

/*
 * The permission matrix (README): BSL_STATUS_OK, PERMISSION_DENIED for a participant whose
 * role may not do it, NOT_FOUND for anyone outside the bilan (existence does not leak).
 */
bsl_status qn_permit(const Boussole__V1__Caller *c, const qn_access *a, qn_action act);

/* ---- the continuation framework ------------------------------------------------------- */

typedef struct qn_op qn_op;
typedef void (*qn_step)(qn_op *op);

struct qn_op {
    bsl_call *call;
    qn_app *app;
    bsl_arena *arena;
    qn_access access;   /* after qn_op_access */
    qn_instrument *ins; /* after qn_op_instrument: one reference, released at the answer */
    qn_step next;       /* the step to run when the pending one completes */
    /* The borrowed results of the last step, valid only in the step that follows it (starting
     * another step clears them). */
    const redisReply *reply;            /* after a Redis command */
    const bsl_dek *dek;                 /* after qn_op_dek; NULL when the bilan has no key */
    const ProtobufCMessage *peer_reply; /* during the step after qn_op_report: borrowed */
    void *ctx;                          /* the handler's own state, in the arena */
    qn_instrument **held;               /* further references released at the answer (malloc'd) */
    size_t n_held, cap_held;
};

/* A new op in the call's arena; NULL after answering RESOURCE_EXHAUSTED. */
qn_op *qn_op_new(qn_app *app, bsl_call *call);

/* Keeps a reference until the answer (for messages that borrow from several instruments).
 * Takes the reference; BSL_ENOMEM leaves it with the caller. */
int qn_op_hold(qn_op *op, qn_instrument *ins);

/* Answer the call, releasing what the op holds. Answering may free the op (it lives in the
 * call's arena): nothing of it, nor of the arena, may be used afterwards. */
void qn_op_reply(qn_op *op, const ProtobufCMessage *msg);
void qn_op_fail(qn_op *op, bsl_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void qn_op_fail_err(qn_op *op, int err, const char *what);
/* INVALID_ARGUMENT naming the field, with a FieldViolation detail. */
void qn_op_fail_field(qn_op *op, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* FAILED_PRECONDITION with a PreconditionViolation of `type` about `subject`. */
void qn_op_fail_precondition(qn_op *op, const char *type, const char *subject, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Learns the bilan's participants from sessions and checks qn_permit for `act`. */
void qn_op_access(qn_op *op, const char *bilan_id, qn_action act, qn_step next);

/* Finds an instrument version (0: latest): built-in, cached, or read from Redis. NOT_FOUND
 * when there is none. */
void qn_op_instrument(qn_op *op, const char *id, uint32_t version, qn_step next);

/* One Redis command; `next` runs with op->reply (which may be a Redis error reply). lens NULL:
 * every argument is a C string. argv is copied before return. */
void qn_op_cmd(qn_op *op, qn_step next, const char *what, int argc, const char *const *argv,
               const size_t *lens);
#define QN_CMD(op, next, what, ...)                                                                \
    do {                                                                                           \
        const char *qn_argv_[] = { __VA_ARGS__ };                                                  \
        qn_op_cmd((op), (next), (what), (int)(sizeof(qn_argv_) / sizeof(qn_argv_[0])), qn_argv_,   \
                  NULL);                                                                           \
    } while (0)
/* One Lua script; argv holds nkeys keys then the arguments (lens NULL: C strings). */
void qn_op_eval(qn_op *op, const bsl_redis_script *script, qn_step next, const char *what,
                int nkeys, int argc, const char *const *argv, const size_t *lens);

/* The bilan's data key for this service; `next` runs with op->dek, which is NULL when the key
 * does not exist and create was false (nothing was ever sealed, or it was shredded). */
void qn_op_dek(qn_op *op, const char *bilan_id, bool create, qn_step next);

/* Reports a submitted assignment to sessions (ReportQuestionnaireCompleted). */
void qn_op_report(qn_op *op, const char *bilan_id, const char *assignment_id, qn_step next);

/* ---- helpers ------------------------------------------------------------------------- */

/* Seals a packed message into the arena (NULL when out of memory). */
uint8_t *qn_seal_msg(qn_op *op, const char *ad, const ProtobufCMessage *msg, size_t *len);
/* Opens a sealed packed message with `desc`, unpacked into the arena; NULL when it does not
 * open (wrong key or place, tampering). */
ProtobufCMessage *qn_open_msg(qn_op *op, const char *ad, const ProtobufCMessageDescriptor *desc,
                              const char *sealed, size_t len);
/* One entry of an assignment's answers hash (item id -> sealed Answer), opened where it
 * belongs ("<bilan>/answer/<assignment>/<item>"); NULL when either is not a string, when it
 * does not open, or when it names another item. */
Boussole__V1__Answer *qn_open_answer(qn_op *op, const char *bilan, const char *asg,
                                     const redisReply *item, const redisReply *sealed);

/* The value of `name` in an HGETALL reply, or NULL. */
const redisReply *qn_hash_get(const redisReply *hash, const char *name);
const char *qn_hash_str(const redisReply *hash, const char *name);
long long qn_hash_num(const redisReply *hash, const char *name);

/* A deep copy of a Redis reply into the arena, to keep it past its callback (replies are
 * borrowed). Binary-safe: strings keep their length. NULL when out of memory. */
redisReply *qn_reply_copy(bsl_arena *a, const redisReply *r);

/* "<bilan>/<what>/<id...>": where a sealed value belongs. */
char *qn_ad(qn_op *op, const char *bilan, const char *what, const char *id, const char *sub);

/* The page size and offset of a PageRequest, or false after recording a violation. */
bool qn_page(bsl_check *chk, const Boussole__V1__PageRequest *page, uint32_t *size, long *offset);

/* Builds the Assignment message of a stored assignment hash. */
Boussole__V1__Assignment *qn_assignment_from_hash(qn_op *op, const char *bilan_id, const char *id,
                                                  const redisReply *h);

/* Checks a list of answers against an instrument: INVALID_ARGUMENT naming the first bad one
 * ("answers[3] (r4): ...") and false; true when all are acceptable. Every item at most once. */
bool qn_check_answers(qn_op *op, const qn_instrument *ins, Boussole__V1__Answer *const *answers,
                      size_t n, const char *field);

/* ---- handlers (one file per area) --------------------------------------------------- */

#define QN_HANDLER(name, In, Out)                                                                  \
    void name(Boussole__V1__QuestionnaireService_Service *service, const In *in,                   \
              Out##_Closure closure, void *closure_data)

/* instruments.c */
int qn_instruments_init(qn_app *app);
QN_HANDLER(qn_list_instruments, Boussole__V1__ListInstrumentsRequest,
           Boussole__V1__ListInstrumentsResponse);
QN_HANDLER(qn_get_instrument, Boussole__V1__GetInstrumentRequest, Boussole__V1__Instrument);
QN_HANDLER(qn_create_instrument, Boussole__V1__CreateInstrumentRequest, Boussole__V1__Instrument);
QN_HANDLER(qn_create_instrument_version, Boussole__V1__CreateInstrumentVersionRequest,
           Boussole__V1__Instrument);
QN_HANDLER(qn_retire_instrument, Boussole__V1__RetireInstrumentRequest, Boussole__V1__Instrument);

/* assignments.c */
int qn_assignments_init(qn_app *app);
QN_HANDLER(qn_assign_instrument, Boussole__V1__AssignInstrumentRequest, Boussole__V1__Assignment);
QN_HANDLER(qn_list_assignments, Boussole__V1__ListAssignmentsRequest,
           Boussole__V1__ListAssignmentsResponse);
QN_HANDLER(qn_get_assignment, Boussole__V1__GetAssignmentRequest, Boussole__V1__AssignmentDetail);
QN_HANDLER(qn_reopen_assignment, Boussole__V1__ReopenAssignmentRequest, Boussole__V1__Assignment);

/* answers.c */
int qn_answers_init(qn_app *app);
QN_HANDLER(qn_save_answers, Boussole__V1__SaveAnswersRequest, Boussole__V1__SaveAnswersResponse);
QN_HANDLER(qn_get_answers, Boussole__V1__GetAnswersRequest, Boussole__V1__Answers);
QN_HANDLER(qn_submit_answers, Boussole__V1__SubmitAnswersRequest, Boussole__V1__Results);

/* results.c */
int qn_results_init(qn_app *app);
QN_HANDLER(qn_get_results, Boussole__V1__GetResultsRequest, Boussole__V1__Results);
QN_HANDLER(qn_annotate_results, Boussole__V1__AnnotateResultsRequest, Boussole__V1__Annotation);
QN_HANDLER(qn_match_occupations, Boussole__V1__MatchOccupationsRequest,
           Boussole__V1__MatchOccupationsResponse);

/* relatives.c */
int qn_relatives_init(qn_app *app);
QN_HANDLER(qn_invite_relative, Boussole__V1__InviteRelativeRequest,
           Boussole__V1__InviteRelativeResponse);
QN_HANDLER(qn_list_invitations, Boussole__V1__ListInvitationsRequest,
           Boussole__V1__ListInvitationsResponse);
QN_HANDLER(qn_revoke_invitation, Boussole__V1__RevokeInvitationRequest, Boussole__V1__Invitation);
QN_HANDLER(qn_get_feedback_form, Boussole__V1__GetFeedbackFormRequest, Boussole__V1__FeedbackForm);
QN_HANDLER(qn_submit_feedback, Boussole__V1__SubmitFeedbackRequest,
           Boussole__V1__SubmitFeedbackResponse);
QN_HANDLER(qn_get_feedback_summary, Boussole__V1__GetFeedbackSummaryRequest,
           Boussole__V1__FeedbackSummary);

/* satisfaction.c */
int qn_satisfaction_init(qn_app *app);
QN_HANDLER(qn_get_satisfaction_stats, Boussole__V1__GetSatisfactionStatsRequest,
           Boussole__V1__SatisfactionStats);

/* The relatives' side of a bilan, opened (relatives.c; also used by the export). */
typedef struct qn_feedback {
    redisReply *stored; /* the read answer, copied into the arena */
    Boussole__V1__Invitation **invitations;
    size_t n;
    Boussole__V1__NamedResponse **responses; /* the answers received */
    size_t n_responses;
    bool all_named; /* every respondent agreed to be named */
} qn_feedback;

/* Reads every invitation of a bilan with its answers; `next` runs with op->reply. */
void qn_feedback_read(qn_op *op, const char *bilan, qn_step next);
/* Opens a qn_feedback_read answer (op->dek set, or NULL when the bilan has no key). Fails the
 * call and returns false when something does not open. */
bool qn_feedback_open(qn_op *op, const char *bilan, const redisReply *r, qn_feedback *fb);
/* Starts a summary: counts and visibility. Returns the invitation whose form the aggregate
 * needs (load it, then call qn_feedback_aggregate), or NULL when nothing is to be shown. */
const Boussole__V1__Invitation *qn_feedback_summary_init(qn_op *op, const char *bilan,
                                                         const qn_feedback *fb,
                                                         Boussole__V1__FeedbackSummary *out);
/* Fills the per-scale and per-item aggregate. False when out of memory. */
bool qn_feedback_aggregate(qn_op *op, const qn_instrument *ins, const qn_feedback *fb,
                           Boussole__V1__FeedbackSummary *out);

/* data.c */
int qn_data_init(qn_app *app);
QN_HANDLER(qn_export_beneficiary_data, Boussole__V1__ExportBeneficiaryDataRequest,
           Boussole__V1__QuestionnairesExport);
QN_HANDLER(qn_erase_bilan_data, Boussole__V1__EraseBilanDataRequest,
           Boussole__V1__EraseBilanDataResponse);

/* Sets up the app's handlers (after svc fields are filled). */
int qn_app_init(qn_app *app, char *errbuf, size_t errlen);

#endif
