/* The bilan's own record: create, read, update, cancel, reassign. */
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/err.h"
#include "boussole/id.h"
#include "boussole/pbutil.h"
#include "keys.h"
#include "store.h"

/* Creates the bilan's hash unless it exists (a repeated idempotency key derives the same id)
 * and answers the stored hash either way. */
static const char create_script[] = "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
                                    "  redis.call('HSET', KEYS[1], unpack(ARGV))\n"
                                    "end\n"
                                    "return redis.call('HGETALL', KEYS[1])\n";

/* KEYS[1]: the bilan. ARGV: expected version, now, new planned hours ('' unchanged), then
 * name/value pairs. Refuses planned hours below the hours already spent. */
static const char update_script[] =
    "local h = redis.call('HMGET', KEYS[1], 'status', 'version', 'mm_1', 'mm_2', 'mm_3',\n"
    "                     'mm_4', 'om_1', 'om_2', 'om_3', 'om_4')\n"
    "if not h[1] then return redis.error_reply('NOT_FOUND') end\n"
    "if h[1] ~= '1' then return redis.error_reply('ENDED') end\n"
    "if h[2] ~= ARGV[1] then return redis.error_reply('CONFLICT') end\n"
    "if ARGV[3] ~= '' then\n"
    "  local spent = 0\n"
    "  for j = 3, 10 do spent = spent + tonumber(h[j] or '0') end\n"
    "  if spent > tonumber(ARGV[3]) * 60 then return {'REFUSED'} end\n"
    "end\n"
    "for j = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[j], ARGV[j + 1]) end\n"
    "redis.call('HINCRBY', KEYS[1], 'version', 1)\n"
    "redis.call('HSET', KEYS[1], 'update_ms', ARGV[2])\n"
    "return {'DONE', redis.call('HGETALL', KEYS[1])}\n";

/* KEYS[1]: the bilan, KEYS[2]: its history. ARGV: reason, now, actor role, actor subject.
 * A cancelled bilan answers SAME (a repeat is harmless); a closed one cannot be cancelled. */
static const char cancel_script[] =
    "local h = redis.call('HMGET', KEYS[1], 'status', 'phase')\n"
    "if not h[1] then return redis.error_reply('NOT_FOUND') end\n"
    "if h[1] == '3' then return {'SAME', redis.call('HGETALL', KEYS[1])} end\n"
    "if h[1] ~= '1' then return redis.error_reply('ENDED') end\n"
    "redis.call('HSET', KEYS[1], 'status', '3', 'phase', '6', 'end_ms', ARGV[2],\n"
    "           'cancel_reason', ARGV[1], 'update_ms', ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[1], 'version', 1)\n"
    "redis.call('RPUSH', KEYS[2], h[2] .. '|6|' .. ARGV[2] .. '|' .. ARGV[3] .. '|' ..\n"
    "           ARGV[4] .. '|0|' .. ARGV[1])\n"
    "return {'DONE', redis.call('HGETALL', KEYS[1])}\n";

/* KEYS[1]: the bilan. ARGV: new counselor, now. Answers the previous counselor too, so that
 * the caller moves the bilan between the counselors' indexes. */
static const char reassign_script[] =
    "local cur = redis.call('HGET', KEYS[1], 'counselor')\n"
    "if not cur then return redis.error_reply('NOT_FOUND') end\n"
    "if cur == ARGV[1] then return {'SAME', cur, redis.call('HGETALL', KEYS[1])} end\n"
    "redis.call('HSET', KEYS[1], 'counselor', ARGV[1], 'update_ms', ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[1], 'version', 1)\n"
    "return {'DONE', cur, redis.call('HGETALL', KEYS[1])}\n";

int sessions_bilan_init(sessions_app *app)
{
    int rv = bsl_redis_script_add(app->redis, create_script, &app->create_bilan);
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, update_script, &app->update_bilan);
    }
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, cancel_script, &app->cancel_bilan);
    }
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, reassign_script, &app->reassign);
    }
    return rv;
}

/* ---- CreateBilan -------------------------------------------------------------------- */

typedef struct create_op {
    int pending;
    int err;
} create_op;

static void on_indexed(const redisReply *reply, int err, void *arg)
{
    sess_op *op = arg;
    create_op *c = op->ctx;
    if (c->err == BSL_OK && (err != BSL_OK || bsl_redis_is_error(reply))) {
        c->err = err != BSL_OK ? err : BSL_EIO;
    }
    if (--c->pending > 0) {
        return;
    }
    if (c->err != BSL_OK) {
        /* The bilan exists but is not listed everywhere yet; the caller's retry with the same
         * idempotency key adds the missing index entries. */
        bsl_call_fail_err(op->call, c->err, "indexing the bilan");
        return;
    }
    sess_reply_bilan(op);
}

static void on_created(const redisReply *reply, int err, void *arg)
{
    sess_op *op = arg;
    create_op *c = op->ctx;
    if (err != BSL_OK) {
        bsl_call_fail_err(op->call, err, "storing the bilan");
        return;
    }
    if (bsl_redis_is_error(reply)) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "storing the bilan failed");
        return;
    }
    if (!sess_bilan_from_reply(op, reply)) {
        return;
    }
    /* Index entries are idempotent (ZADD of the same member and score), so they are made on
     * every attempt, which repairs an attempt interrupted between the two steps. */
    const sess_bilan *b = &op->bilan;
    const char *kinds[3] = { "counselor", "beneficiary", "org" };
    const char *subjects[3] = { b->counselor, b->beneficiary, b->organisation };
    c->pending = 3;
    for (int i = 0; i < 3; i++) {
        char key[SESSIONS_KEY_MAX];
        key_index(key, kinds[i], subjects[i]);
        if (bsl_redis_command(op->app->redis, bsl_call_remaining_ms(op->call), on_indexed, op,
                              "ZADD %s %lld %s", key, (long long)b->create_ms,
                              op->bilan_id) != BSL_OK) {
            c->err = BSL_ENOMEM;
            if (--c->pending == 0) {
                bsl_call_fail_err(op->call, BSL_ENOMEM, "indexing the bilan");
                return;
            }
        }
    }
}

SESS_HANDLER(create_bilan, CreateBilanRequest, Bilan)
{
    (void)closure;
    sessions_app *app = sessions_of(service);
    bsl_call *call = closure_data;
    const Boussole__V1__Caller *caller = bsl_call_caller(call);
    bool counselor = caller->role == BOUSSOLE__V1__ROLE__ROLE_COUNSELOR;
    if (!counselor && caller->role != BOUSSOLE__V1__ROLE__ROLE_ADMIN) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "only a counselor or an admin of the organisation creates a bilan");
        return;
    }
    const char *counselor_id = in->counselor_id;
    if (counselor && counselor_id[0] == '\0') {
        counselor_id = caller->subject;
    }
    bsl_check chk = bsl_check_begin(call);
    long start = -1, end = -1;
    bsl_check_subject(&chk, "beneficiary_id", in->beneficiary_id);
    bsl_check_subject(&chk, "counselor_id", counselor_id);
    bsl_check_subject(&chk, "organisation_id", in->organisation_id);
    bsl_check_enum(&chk, "funding", &boussole__v1__funding__descriptor, (int)in->funding, false);
    bsl_check_range(&chk, "planned_hours", in->planned_hours, 1, 24);
    bsl_check_date(&chk, "start_date", in->start_date, false, &start);
    bsl_check_date(&chk, "end_date", in->end_date, false, &end);
    if (start >= 0 && end >= 0 && end < start) {
        bsl_check_violation(&chk, "end_date", "must not be before start_date");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    if (strcmp(in->organisation_id, caller->organisation) != 0) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "a bilan is created in the caller's own organisation");
        return;
    }
    if (counselor && strcmp(counselor_id, caller->subject) != 0) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "a counselor creates bilans for themselves; an admin assigns others");
        return;
    }
    char id[BSL_ID_LEN + 1];
    /* The id comes from the idempotency key: a repeat of this call finds the same bilan. */
    bsl_id_derive(id, "bilan", caller->subject, bsl_call_idempotency_key(call));
    sess_op *op = sess_op_new(call, app, id, SESS_ACT_GET_BILAN);
    if (op == NULL) {
        return;
    }
    op->ctx = bsl_arena_calloc(op->arena, 1, sizeof(create_op));
    sess_args x;
    sess_args_init(&x, op->arena, 32);
    sess_arg_key(&x, id, NULL);
    const char *pairs[][2] = {
        { "beneficiary", in->beneficiary_id },
        { "counselor", counselor_id },
        { "organisation", in->organisation_id },
        { "start_date", in->start_date },
        { "end_date", in->end_date },
        { "version", "1" },
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        sess_arg(&x, pairs[i][0]);
        sess_arg(&x, pairs[i][1]);
    }
    sess_arg(&x, "funding");
    sess_argf(&x, "%d", (int)in->funding);
    sess_arg(&x, "planned_hours");
    sess_argf(&x, "%u", in->planned_hours);
    sess_arg(&x, "status");
    sess_argf(&x, "%d", BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE);
    sess_arg(&x, "phase");
    sess_argf(&x, "%d", BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY);
    sess_arg(&x, "create_ms");
    sess_argf(&x, "%lld", (long long)op->now_ms);
    sess_arg(&x, "update_ms");
    sess_argf(&x, "%lld", (long long)op->now_ms);
    if (x.oom || op->ctx == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    int rv = bsl_redis_eval(app->redis, app->create_bilan, bsl_call_remaining_ms(call), on_created,
                            op, 1, x.n, x.v, x.len);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "storing the bilan");
    }
}

/* ---- GetBilan ----------------------------------------------------------------------- */

/* The hot path: one HGETALL, no script. */
static void on_bilan_read(const redisReply *reply, int err, void *arg)
{
    sess_op *op = arg;
    if (err != BSL_OK) {
        bsl_call_fail_err(op->call, err, "reading the bilan");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such bilan");
        return;
    }
    if (!sess_bilan_from_reply(op, reply)) {
        return;
    }
    bsl_status st = sess_access(op->caller, &op->bilan, SESS_ACT_GET_BILAN);
    if (st != BSL_STATUS_OK) {
        /* Everyone with a relation may read the bilan: a refusal is a caller without one, who
         * gets the same answer as for a missing bilan. */
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such bilan");
        return;
    }
    sess_reply_bilan(op);
}

SESS_HANDLER(get_bilan, GetBilanRequest, Bilan)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "id", in->id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->id, SESS_ACT_GET_BILAN);
    if (op == NULL) {
        return;
    }
    char key[SESSIONS_KEY_MAX];
    key_bilan(key, in->id);
    /* The argv form: the most frequent call of the service skips the format parsing. */
    const char *argv[] = { "HGETALL", key };
    int rv = bsl_redis_commandv(op->app->redis, bsl_call_remaining_ms(call), on_bilan_read, op, 2,
                                argv, NULL);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "reading the bilan");
    }
}

/* ---- UpdateBilan -------------------------------------------------------------------- */

static void on_updated(sess_op *op, const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    if (strcmp(reply->element[0]->str, "REFUSED") == 0) {
        sess_fail_precondition(op, "HOURS_ALREADY_SPENT",
                               "planned_hours may not go below the %u minutes already spent",
                               sess_spent_minutes(&op->bilan));
        return;
    }
    if (reply->elements != 2 || !sess_bilan_from_reply(op, reply->element[1])) {
        if (reply->elements != 2) {
            bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        }
        return;
    }
    sess_reply_bilan(op);
}

static void update_loaded(sess_op *op)
{
    const Boussole__V1__UpdateBilanRequest *in = (const void *)bsl_call_request(op->call);
    const sess_bilan *b = &op->bilan;
    if (!sess_require_active(op)) {
        return;
    }
    if (in->version != b->version) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "version %llu is stale (the bilan is at version %llu): read it again",
                      (unsigned long long)in->version, (unsigned long long)b->version);
        return;
    }
    if (in->funding != 0 && (int)in->funding != b->funding &&
        b->phase != BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY) {
        sess_fail_precondition(op, "PHASE_ORDER",
                               "funding changes only during the preliminary phase");
        return;
    }
    const char *start = in->start_date[0] ? in->start_date : b->start_date;
    const char *end = in->end_date[0] ? in->end_date : b->end_date;
    if (bsl_date_parse(end) < bsl_date_parse(start)) {
        bsl_call_fail_field(op->call, in->end_date[0] ? "end_date" : "start_date",
                            "the planned last day would come before the first day");
        return;
    }
    sess_args x;
    sess_args_init(&x, op->arena, 16);
    sess_arg_key(&x, op->bilan_id, NULL);
    sess_argf(&x, "%llu", (unsigned long long)in->version);
    sess_argf(&x, "%lld", (long long)op->now_ms);
    if (in->planned_hours != 0) {
        sess_argf(&x, "%u", in->planned_hours);
        sess_arg(&x, "planned_hours");
        sess_argf(&x, "%u", in->planned_hours);
    } else {
        sess_arg(&x, "");
    }
    if (in->funding != 0) {
        sess_arg(&x, "funding");
        sess_argf(&x, "%d", (int)in->funding);
    }
    if (in->start_date[0] != '\0') {
        sess_arg(&x, "start_date");
        sess_arg(&x, in->start_date);
    }
    if (in->end_date[0] != '\0') {
        sess_arg(&x, "end_date");
        sess_arg(&x, in->end_date);
    }
    sess_eval(op, op->app->update_bilan, &x, 1, on_updated);
}

SESS_HANDLER(update_bilan, UpdateBilanRequest, Bilan)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "id", in->id);
    if (in->version == 0) {
        bsl_check_violation(&chk, "version", "required: the version read");
    }
    bsl_check_enum(&chk, "funding", &boussole__v1__funding__descriptor, (int)in->funding, true);
    if (in->planned_hours != 0) {
        bsl_check_range(&chk, "planned_hours", in->planned_hours, 1, 24);
    }
    long start = -1, end = -1;
    bsl_check_date(&chk, "start_date", in->start_date, true, &start);
    bsl_check_date(&chk, "end_date", in->end_date, true, &end);
    if (start >= 0 && end >= 0 && end < start) {
        bsl_check_violation(&chk, "end_date", "must not be before start_date");
    }
    if (in->funding == 0 && in->planned_hours == 0 && in->start_date[0] == '\0' &&
        in->end_date[0] == '\0') {
        bsl_check_violation(&chk, "funding", "nothing to change: set at least one field");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->id, SESS_ACT_UPDATE_BILAN);
    if (op != NULL) {
        sess_load(op, NULL, 0, update_loaded);
    }
}

/* ---- CancelBilan -------------------------------------------------------------------- */

static void on_cancelled(sess_op *op, const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    if (!sess_bilan_from_reply(op, reply->element[1])) {
        return;
    }
    /* On a first cancellation and on a repeat alike, so that a repeat repairs a first
     * attempt that stopped before this step. */
    sess_mark_ended(op, sess_reply_bilan);
}

static void cancel_loaded(sess_op *op)
{
    const Boussole__V1__CancelBilanRequest *in = (const void *)bsl_call_request(op->call);
    sess_args x;
    sess_args_init(&x, op->arena, 8);
    sess_arg_key(&x, op->bilan_id, NULL);
    sess_arg_key(&x, op->bilan_id, "history");
    sess_argf(&x, "%d", (int)in->reason);
    sess_argf(&x, "%lld", (long long)op->now_ms);
    sess_argf(&x, "%d", (int)op->caller->role);
    sess_arg(&x, op->caller->subject);
    sess_eval(op, op->app->cancel_bilan, &x, 2, on_cancelled);
}

SESS_HANDLER(cancel_bilan, CancelBilanRequest, Bilan)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "id", in->id);
    bsl_check_enum(&chk, "reason", &boussole__v1__cancel_reason__descriptor, (int)in->reason,
                   false);
    if (in->reason == BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_DATA_ERASED) {
        bsl_check_violation(&chk, "reason", "DATA_ERASED is set by the service itself");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->id, SESS_ACT_CANCEL_BILAN);
    if (op != NULL) {
        sess_load(op, NULL, 0, cancel_loaded);
    }
}

/* ---- ReassignCounselor -------------------------------------------------------------- */

typedef struct reassign_op {
    const char *previous;
    int pending;
    int err;
} reassign_op;

static void on_reindexed(const redisReply *reply, int err, void *arg)
{
    sess_op *op = arg;
    reassign_op *r = op->ctx;
    if (r->err == BSL_OK && (err != BSL_OK || bsl_redis_is_error(reply))) {
        r->err = err != BSL_OK ? err : BSL_EIO;
    }
    if (--r->pending > 0) {
        return;
    }
    if (r->err != BSL_OK) {
        /* Reassigned but not yet listed under the new counselor: the retry (idempotent)
         * lists it. A stale entry under the previous one is skipped by ListBilans. */
        bsl_call_fail_err(op->call, r->err, "indexing the bilan");
        return;
    }
    sess_reply_bilan(op);
}

static void on_reassigned(sess_op *op, const redisReply *reply)
{
    reassign_op *r = op->ctx;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    bool moved = strcmp(reply->element[0]->str, "DONE") == 0;
    r->previous = bsl_arena_strdup(op->arena, reply->element[1]->str);
    if (r->previous == NULL || !sess_bilan_from_reply(op, reply->element[2])) {
        if (r->previous == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    char add[SESSIONS_KEY_MAX], rem[SESSIONS_KEY_MAX];
    key_index(add, "counselor", op->bilan.counselor);
    key_index(rem, "counselor", r->previous);
    r->pending = moved ? 2 : 1;
    uint32_t t = bsl_call_remaining_ms(op->call);
    int rv = bsl_redis_command(op->app->redis, t, on_reindexed, op, "ZADD %s %lld %s", add,
                               (long long)op->bilan.create_ms, op->bilan_id);
    if (rv == BSL_OK && moved) {
        rv =
            bsl_redis_command(op->app->redis, t, on_reindexed, op, "ZREM %s %s", rem, op->bilan_id);
        if (rv != BSL_OK) {
            r->err = rv;
            r->pending--;
        }
    } else if (rv != BSL_OK) {
        bsl_call_fail_err(op->call, rv, "indexing the bilan");
    }
}

static void reassign_loaded(sess_op *op)
{
    const Boussole__V1__ReassignCounselorRequest *in = (const void *)bsl_call_request(op->call);
    sess_args x;
    sess_args_init(&x, op->arena, 4);
    sess_arg_key(&x, op->bilan_id, NULL);
    sess_arg(&x, in->counselor_id);
    sess_argf(&x, "%lld", (long long)op->now_ms);
    sess_eval(op, op->app->reassign, &x, 1, on_reassigned);
}

SESS_HANDLER(reassign_counselor, ReassignCounselorRequest, Bilan)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "id", in->id);
    bsl_check_subject(&chk, "counselor_id", in->counselor_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->id, SESS_ACT_REASSIGN);
    if (op == NULL) {
        return;
    }
    op->ctx = bsl_arena_calloc(op->arena, 1, sizeof(reassign_op));
    if (op->ctx == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_load(op, NULL, 0, reassign_loaded);
}
