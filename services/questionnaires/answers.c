/*
 * Answering: drafts saved item by item (sealed with the bilan's data key), read back, and
 * submitted (completeness, scoring, lock, report to sessions).
 *
 * Every answer is sealed, not only free text: a Likert point of a values inventory says as
 * much about a life as a sentence does, and sealing costs microseconds. The associated data
 * "<bilan>/answer/<assignment>/<item>" binds each ciphertext to its place.
 */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "keys.h"
#include "questionnaires.h"
#include "scoring.h"

/* KEYS: asg hash, answers hash. ARGV: now, number of answers set, (item, sealed) pairs, then
 * the items to clear. Answers the assignment hash and the answered item ids. */
static const char save_script[] =
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "if not st then return redis.error_reply('NOT_FOUND') end\n"
    "if st == '3' then return redis.error_reply('SUBMITTED') end\n"
    "local n = tonumber(ARGV[2])\n"
    "local i = 3\n"
    "for k = 1, n do\n"
    "  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])\n"
    "  i = i + 2\n"
    "end\n"
    "while i <= #ARGV do\n"
    "  redis.call('HDEL', KEYS[2], ARGV[i])\n"
    "  i = i + 1\n"
    "end\n"
    "local cnt = redis.call('HLEN', KEYS[2])\n"
    "local status = 2\n"
    "if cnt == 0 then status = 1 end\n"
    "redis.call('HSET', KEYS[1], 'status', status, 'answered', cnt, 'update_ms', ARGV[1])\n"
    "redis.call('HINCRBY', KEYS[1], 'rev', 1)\n"
    "return {redis.call('HGETALL', KEYS[1]), redis.call('HKEYS', KEYS[2])}\n";

/* KEYS: asg hash, results. ARGV: the rev the answers were read at, sealed results, now, the
 * organisation's satisfaction index holding this survey ("" for other instruments; erasure
 * reads it back to take the survey out). */
static const char submit_script[] =
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "if not st then return redis.error_reply('NOT_FOUND') end\n"
    "if st == '3' then return redis.error_reply('SUBMITTED') end\n"
    "if redis.call('HGET', KEYS[1], 'rev') ~= ARGV[1] then\n"
    "  return redis.error_reply('CHANGED')\n"
    "end\n"
    "redis.call('SET', KEYS[2], ARGV[2])\n"
    "redis.call('HSET', KEYS[1], 'status', 3, 'submit_ms', ARGV[3], 'update_ms', ARGV[3],\n"
    "  'reported', 0)\n"
    "if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'sat_key', ARGV[4]) end\n"
    "return redis.call('HGETALL', KEYS[1])\n";

int qn_answers_init(qn_app *app)
{
    int rv = bsl_redis_script_add(app->redis, save_script, &app->save_answers);
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, submit_script, &app->submit);
    }
    return rv;
}

/* State shared by the three handlers. */
typedef struct answers_ctx {
    const char *bilan;
    const char *asg;
    Boussole__V1__Assignment *assignment;
    long long rev;
    bool submitted;
    bool reported;
    const char *submit_argv[6]; /* SubmitAnswers: the script's keys and arguments */
    size_t submit_lens[6];
    qn_step after;      /* what runs once the assignment and its instrument are read */
    redisReply *stored; /* a Redis reply kept across steps (copied into the arena) */
    Boussole__V1__Results *results;
} answers_ctx;

static answers_ctx *ctx_new(qn_op *op, const char *bilan, const char *asg)
{
    answers_ctx *ac = bsl_arena_calloc(op->arena, 1, sizeof(*ac));
    if (ac == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    ac->bilan = bilan;
    ac->asg = asg;
    op->ctx = ac;
    return ac;
}

static void on_assignment(qn_op *op)
{
    answers_ctx *ac = op->ctx;
    const redisReply *h = op->reply;
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such assignment");
        return;
    }
    ac->assignment = qn_assignment_from_hash(op, ac->bilan, ac->asg, h);
    if (ac->assignment == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    ac->rev = qn_hash_num(h, "rev");
    ac->submitted =
        ac->assignment->status == BOUSSOLE__V1__ASSIGNMENT_STATUS__ASSIGNMENT_STATUS_SUBMITTED;
    ac->reported = qn_hash_num(h, "reported") == 1;
    qn_op_instrument(op, ac->assignment->instrument_id, ac->assignment->instrument_version,
                     ac->after);
}

/* Reads the assignment hash and its pinned instrument version; `next` runs with
 * ac->assignment and op->ins, or the call gets NOT_FOUND. */
static void read_assignment(qn_op *op, qn_step next)
{
    answers_ctx *ac = op->ctx;
    ac->after = next;
    char key[QN_KEY_MAX];
    qn_key_bilan_sub(key, ac->bilan, "asg", ac->asg);
    QN_CMD(op, on_assignment, "reading the assignment", "HGETALL", key);
}

/* Whether the bilan accepts answers to this instrument: running, or closed for a
 * satisfaction survey (the six-month one comes after the end). */
static bool may_answer(qn_op *op)
{
    bool satisfaction =
        op->ins->def->purpose == BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_SATISFACTION;
    if (op->access.status == BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE ||
        (satisfaction && op->access.status == BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_CLOSED)) {
        return true;
    }
    qn_op_fail_precondition(op, "BILAN_NOT_RUNNING", op->access.bilan_id,
                            "the bilan has ended: answers are no longer taken");
    return false;
}

/* ---- SaveAnswers ------------------------------------------------------------------------ */

static void on_saved(qn_op *op)
{
    answers_ctx *ac = op->ctx;
    const redisReply *r = op->reply;
    if (bsl_redis_is_error(r)) {
        if (strstr(r->str, "SUBMITTED") != NULL) {
            qn_op_fail_precondition(op, "ASSIGNMENT_SUBMITTED", ac->asg,
                                    "the answers are locked; a counselor can reopen them");
        } else {
            qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such assignment");
        }
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    Boussole__V1__SaveAnswersResponse out = BOUSSOLE__V1__SAVE_ANSWERS_RESPONSE__INIT;
    out.assignment = qn_assignment_from_hash(op, ac->bilan, ac->asg, r->element[0]);
    const qn_instrument *ins = op->ins;
    uint8_t answered[QN_MAX_ITEMS] = { 0 };
    const redisReply *keys = r->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
        int idx = keys->element[i]->type == REDIS_REPLY_STRING
                      ? qn_instrument_item(ins, keys->element[i]->str)
                      : -1;
        if (idx >= 0) {
            answered[idx] = 1;
        }
    }
    out.missing_required = bsl_arena_calloc(op->arena, ins->n_items, sizeof(char *));
    if (out.assignment == NULL || out.missing_required == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < ins->n_items; i++) {
        if (ins->items[i].def->required && !answered[i]) {
            out.missing_required[out.n_missing_required++] = ins->items[i].def->id;
        }
    }
    qn_op_reply(op, &out.base);
}

static void on_save_dek(qn_op *op)
{
    answers_ctx *ac = op->ctx;
    const Boussole__V1__SaveAnswersRequest *in = (const void *)bsl_call_request(op->call);
    size_t argc = 4 + 2 * in->n_answers + in->n_clear_item_ids;
    const char **argv = bsl_arena_calloc(op->arena, argc, sizeof(char *));
    size_t *lens = bsl_arena_calloc(op->arena, argc, sizeof(size_t));
    char *asg = bsl_arena_alloc(op->arena, QN_KEY_MAX),
         *ans = bsl_arena_alloc(op->arena, QN_KEY_MAX);
    long long now = (long long)bsl_clock_now_ms(op->app->clock);
    Google__Protobuf__Timestamp *ts = bsl_pb_timestamp(op->arena, now);
    char *now_s = bsl_arena_printf(op->arena, "%lld", now);
    char *n_s = bsl_arena_printf(op->arena, "%zu", in->n_answers);
    if (argv == NULL || lens == NULL || asg == NULL || ans == NULL || ts == NULL || now_s == NULL ||
        n_s == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_key_bilan_sub(asg, ac->bilan, "asg", ac->asg);
    qn_key_bilan_sub(ans, ac->bilan, "ans", ac->asg);
    size_t k = 0;
    argv[k++] = asg;
    argv[k++] = ans;
    argv[k++] = now_s;
    argv[k++] = n_s;
    for (size_t i = 0; i < in->n_answers; i++) {
        Boussole__V1__Answer a = *in->answers[i];
        a.update_time = ts;
        size_t len;
        uint8_t *sealed =
            qn_seal_msg(op, qn_ad(op, ac->bilan, "answer", ac->asg, a.item_id), &a.base, &len);
        if (sealed == NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        argv[k++] = a.item_id;
        argv[k++] = (const char *)sealed;
        lens[k - 1] = len;
    }
    for (size_t i = 0; i < in->n_clear_item_ids; i++) {
        argv[k++] = in->clear_item_ids[i];
    }
    for (size_t i = 0; i < argc; i++) {
        if (lens[i] == 0) {
            lens[i] = strlen(argv[i]);
        }
    }
    qn_op_eval(op, op->app->save_answers, on_saved, "saving the answers", 2, (int)argc, argv, lens);
}

static void on_save_instrument(qn_op *op)
{
    answers_ctx *ac = op->ctx;
    const Boussole__V1__SaveAnswersRequest *in = (const void *)bsl_call_request(op->call);
    if (ac->submitted) {
        qn_op_fail_precondition(op, "ASSIGNMENT_SUBMITTED", ac->asg,
                                "the answers are locked; a counselor can reopen them");
        return;
    }
    if (!may_answer(op) || !qn_check_answers(op, op->ins, in->answers, in->n_answers, "answers")) {
        return;
    }
    for (size_t i = 0; i < in->n_clear_item_ids; i++) {
        if (qn_instrument_item(op->ins, in->clear_item_ids[i]) < 0) {
            char field[64];
            snprintf(field, sizeof(field), "clear_item_ids[%zu]", i);
            qn_op_fail_field(op, field, "not an item of the instrument");
            return;
        }
    }
    qn_op_dek(op, ac->bilan, true, on_save_dek);
}

static void on_save_access(qn_op *op)
{
    read_assignment(op, on_save_instrument);
}

/* Checks the ids of a (bilan, assignment) request. */
static bool check_ids(bsl_check *chk, const char *bilan, const char *asg)
{
    bool a = bsl_check_id(chk, "bilan_id", bilan);
    bool b = bsl_check_id(chk, "assignment_id", asg);
    return a && b;
}

QN_HANDLER(qn_save_answers, Boussole__V1__SaveAnswersRequest, Boussole__V1__SaveAnswersResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    check_ids(&chk, in->bilan_id, in->assignment_id);
    bsl_check_count(&chk, "answers", in->n_answers, QN_MAX_ITEMS);
    bsl_check_count(&chk, "clear_item_ids", in->n_clear_item_ids, QN_MAX_ITEMS);
    if (in->n_answers == 0 && in->n_clear_item_ids == 0) {
        bsl_check_violation(&chk, "answers", "nothing to save");
    }
    for (size_t i = 0; i < in->n_clear_item_ids && i < QN_MAX_ITEMS; i++) {
        char field[64];
        snprintf(field, sizeof(field), "clear_item_ids[%zu]", i);
        bsl_check_text(&chk, field, in->clear_item_ids[i], 1, QN_MAX_ID);
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op != NULL && ctx_new(op, in->bilan_id, in->assignment_id) != NULL) {
        qn_op_access(op, in->bilan_id, QN_ANSWER, on_save_access);
    }
}

/* ---- opening stored answers ------------------------------------------------------------- */

/*
 * Opens the answers of an HGETALL reply into by_item (indexed by the instrument's items).
 * Returns false after failing the call (DATA_LOSS) when one does not open.
 */
static bool open_answers(qn_op *op, const redisReply *h, Boussole__V1__Answer **by_item)
{
    answers_ctx *ac = op->ctx;
    if (h->type != REDIS_REPLY_ARRAY) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return false;
    }
    if (h->elements > 0 && op->dek == NULL) {
        qn_op_fail(op, BSL_STATUS_DATA_LOSS, "the bilan's data key is gone: answers unreadable");
        return false;
    }
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i], *v = h->element[i + 1];
        int idx = k->type == REDIS_REPLY_STRING ? qn_instrument_item(op->ins, k->str) : -1;
        if (idx < 0 || v->type != REDIS_REPLY_STRING) {
            continue; /* not an item of the pinned version: cannot happen, never shown */
        }
        Boussole__V1__Answer *a = qn_open_answer(op, ac->bilan, ac->asg, k, v);
        if (a == NULL) {
            qn_op_fail(op, BSL_STATUS_DATA_LOSS, "a stored answer does not open");
            return false;
        }
        by_item[idx] = a;
    }
    return true;
}

/* ---- GetAnswers ---------------------------------------------------------------------------- */

static void on_get_dek(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    Boussole__V1__Answer **by_item =
        bsl_arena_calloc(op->arena, op->ins->n_items, sizeof(*by_item));
    if (by_item == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (!open_answers(op, gs->stored, by_item)) {
        return;
    }
    Boussole__V1__Answers out = BOUSSOLE__V1__ANSWERS__INIT;
    out.assignment = gs->assignment;
    out.answers = bsl_arena_calloc(op->arena, op->ins->n_items, sizeof(*out.answers));
    if (out.answers == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < op->ins->n_items; i++) {
        if (by_item[i] != NULL) {
            out.answers[out.n_answers++] = by_item[i];
        }
    }
    qn_op_reply(op, &out.base);
}

static void on_get_hash(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    gs->stored = qn_reply_copy(op->arena, op->reply);
    if (gs->stored == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_dek(op, gs->bilan, false, on_get_dek);
}

static void on_get_instrument(qn_op *op)
{
    answers_ctx *ac = op->ctx;
    char key[QN_KEY_MAX];
    qn_key_bilan_sub(key, ac->bilan, "ans", ac->asg);
    QN_CMD(op, on_get_hash, "reading the answers", "HGETALL", key);
}

static void on_get_access(qn_op *op)
{
    read_assignment(op, on_get_instrument);
}

QN_HANDLER(qn_get_answers, Boussole__V1__GetAnswersRequest, Boussole__V1__Answers)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    check_ids(&chk, in->bilan_id, in->assignment_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op == NULL || ctx_new(op, in->bilan_id, in->assignment_id) == NULL) {
        return;
    }
    qn_op_access(op, in->bilan_id, QN_READ_ANSWERS, on_get_access);
}

/* ---- SubmitAnswers ------------------------------------------------------------------------ */

static void on_results_reported(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    qn_op_reply(op, &gs->results->base);
}

static void on_report_recorded(qn_op *op)
{
    on_results_reported(op);
}

static void on_sessions_reported(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    char key[QN_KEY_MAX];
    qn_key_bilan_sub(key, gs->bilan, "asg", gs->asg);
    /* If a reopen came in between, this mark is harmless: the next submission resets it. */
    QN_CMD(op, on_report_recorded, "recording the report", "HSET", key, "reported", "1");
}

static void report(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    qn_op_report(op, gs->bilan, gs->asg, on_sessions_reported);
}

static void on_stored_results_dek(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    const redisReply *r = gs->stored; /* here: the sealed results */
    if (r->type != REDIS_REPLY_STRING) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "the submitted assignment has no results");
        return;
    }
    gs->results =
        (Boussole__V1__Results *)qn_open_msg(op, qn_ad(op, gs->bilan, "results", gs->asg, NULL),
                                             &boussole__v1__results__descriptor, r->str, r->len);
    if (gs->results == NULL) {
        qn_op_fail(op, BSL_STATUS_DATA_LOSS, "the stored results do not open");
        return;
    }
    if (gs->reported) {
        on_results_reported(op);
    } else {
        report(op);
    }
}

static void on_stored_results(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    gs->stored = qn_reply_copy(op->arena, op->reply);
    if (gs->stored == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_dek(op, gs->bilan, false, on_stored_results_dek);
}

/* Already submitted: answer the stored results (and report again if sessions never said it
 * recorded them). */
static void already_submitted(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    char key[QN_KEY_MAX];
    qn_key_bilan_sub(key, gs->bilan, "res", gs->asg);
    QN_CMD(op, on_stored_results, "reading the results", "GET", key);
}

static void on_submitted(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    const redisReply *r = op->reply;
    if (bsl_redis_is_error(r)) {
        if (strstr(r->str, "CHANGED") != NULL) {
            qn_op_fail(op, BSL_STATUS_ABORTED, "answers were saved while submitting: submit again");
        } else if (strstr(r->str, "SUBMITTED") != NULL) {
            gs->reported = false;
            already_submitted(op);
        } else {
            qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such assignment");
        }
        return;
    }
    report(op);
}

static void submit(qn_op *op)
{
    answers_ctx *ac = op->ctx;
    qn_op_eval(op, op->app->submit, on_submitted, "submitting", 2, 6, ac->submit_argv,
               ac->submit_lens);
}

static void on_indexed(qn_op *op)
{
    if (bsl_redis_is_error(op->reply)) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "cannot index the satisfaction survey");
        return;
    }
    submit(op);
}

static void on_submit_dek(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    answers_ctx *ac = gs;
    const qn_instrument *ins = op->ins;
    Boussole__V1__Answer **by_item = bsl_arena_calloc(op->arena, ins->n_items, sizeof(*by_item));
    if (by_item == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (!open_answers(op, gs->stored, by_item)) {
        return;
    }
    size_t missing = 0;
    char first[QN_MAX_ID + 1] = "";
    for (size_t i = 0; i < ins->n_items; i++) {
        if (ins->items[i].def->required && by_item[i] == NULL) {
            if (missing < 20) {
                bsl_call_add_precondition_violation(op->call, "ITEM_UNANSWERED",
                                                    ins->items[i].def->id,
                                                    "a required item has no answer");
            }
            if (missing++ == 0) {
                snprintf(first, sizeof(first), "%s", ins->items[i].def->id);
            }
        }
    }
    if (missing > 0) {
        qn_op_fail(op, BSL_STATUS_FAILED_PRECONDITION,
                   "ITEM_UNANSWERED: %zu required item(s) unanswered, the first is %s", missing,
                   first);
        return;
    }
    qn_results scored;
    qn_score(ins, (const Boussole__V1__Answer *const *)by_item, &scored);
    Boussole__V1__Results *res = qn_results_message(op->arena, ins, &scored);
    long long now = (long long)bsl_clock_now_ms(op->app->clock);
    if (res == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    res->bilan_id = (char *)ac->bilan;
    res->assignment_id = (char *)ac->asg;
    res->submit_time = bsl_pb_timestamp(op->arena, now);
    size_t len;
    uint8_t *sealed =
        qn_seal_msg(op, qn_ad(op, ac->bilan, "results", ac->asg, NULL), &res->base, &len);
    char *asg = bsl_arena_alloc(op->arena, QN_KEY_MAX),
         *rk = bsl_arena_alloc(op->arena, QN_KEY_MAX);
    char *rev = bsl_arena_printf(op->arena, "%lld", ac->rev);
    char *now_s = bsl_arena_printf(op->arena, "%lld", now);
    if (sealed == NULL || asg == NULL || rk == NULL || rev == NULL || now_s == NULL ||
        res->submit_time == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    ac->results = res;
    qn_key_bilan_sub(asg, ac->bilan, "asg", ac->asg);
    qn_key_bilan_sub(rk, ac->bilan, "res", ac->asg);
    char *sat_key = "";
    if (ins->def->purpose == BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_SATISFACTION &&
        op->access.organisation[0] != '\0') {
        if ((sat_key = bsl_arena_alloc(op->arena, QN_KEY_MAX)) == NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        qn_key_satisfaction(sat_key, op->access.organisation, ins->def->id, ins->def->version);
    }
    const char *argv[] = { asg, rk, rev, (const char *)sealed, now_s, sat_key };
    size_t lens[] = { strlen(asg), strlen(rk), strlen(rev), len, strlen(now_s), strlen(sat_key) };
    memcpy(ac->submit_argv, argv, sizeof(argv));
    memcpy(ac->submit_lens, lens, sizeof(lens));
    if (sat_key[0] == '\0') {
        submit(op);
        return;
    }
    /* The organisation's index lives in another slot, so it cannot change in the script: it
     * takes the survey first. Should the submission then fail, the entry points at a survey
     * that is not submitted, which the statistics skip; the other order could lose a survey. */
    char *member = bsl_arena_printf(op->arena, "%s:%s", ac->bilan, ac->asg);
    if (member == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    QN_CMD(op, on_indexed, "indexing the satisfaction survey", "ZADD", sat_key, now_s, member);
}

static void on_submit_answers(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    gs->stored = qn_reply_copy(op->arena, op->reply);
    if (gs->stored == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_dek(op, gs->bilan, true, on_submit_dek);
}

static void on_submit_instrument(qn_op *op)
{
    answers_ctx *gs = op->ctx;
    if (gs->submitted) {
        already_submitted(op);
        return;
    }
    if (!may_answer(op)) {
        return;
    }
    char key[QN_KEY_MAX];
    qn_key_bilan_sub(key, gs->bilan, "ans", gs->asg);
    QN_CMD(op, on_submit_answers, "reading the answers", "HGETALL", key);
}

static void on_submit_access(qn_op *op)
{
    read_assignment(op, on_submit_instrument);
}

QN_HANDLER(qn_submit_answers, Boussole__V1__SubmitAnswersRequest, Boussole__V1__Results)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    check_ids(&chk, in->bilan_id, in->assignment_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op == NULL || ctx_new(op, in->bilan_id, in->assignment_id) == NULL) {
        return;
    }
    qn_op_access(op, in->bilan_id, QN_ANSWER, on_submit_access);
}
