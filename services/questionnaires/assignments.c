/*
 * Assignments: an instrument given to a bilan at a pinned version.
 *
 * The assignment hash (qn:{<bilan>}:asg:<id>) holds: instrument, version, title, due, status
 * (AssignmentStatus), answered, items, assigned_by, reopens, create_ms, update_ms, submit_ms,
 * rev (incremented by every change of the answers, so that Submit scores exactly what it read),
 * reported (1 once sessions acknowledged the submission).
 */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "keys.h"
#include "questionnaires.h"

#define QN_MAX_ASSIGNMENTS 100

/* KEYS: asgs zset, asg hash, meta hash. ARGV: id, now, beneficiary, organisation, then the
 * hash's field/value pairs. A repeat (same derived id) answers the stored hash. */
static const char assign_script[] =
    "if redis.call('EXISTS', KEYS[2]) == 1 then return redis.call('HGETALL', KEYS[2]) end\n"
    "if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[5]) then\n"
    "  return redis.error_reply('LIMIT')\n"
    "end\n"
    "redis.call('HSET', KEYS[2], unpack(ARGV, 6))\n"
    "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])\n"
    "redis.call('HSETNX', KEYS[3], 'beneficiary', ARGV[3])\n"
    "redis.call('HSETNX', KEYS[3], 'organisation', ARGV[4])\n"
    "return redis.call('HGETALL', KEYS[2])\n";

/* KEYS: asgs zset. ARGV: start, stop, prefix of the assignment hashes (same hash tag). */
static const char list_script[] = "local ids = redis.call('ZRANGE', KEYS[1], ARGV[1], ARGV[2])\n"
                                  "local out = {}\n"
                                  "for _, id in ipairs(ids) do\n"
                                  "  out[#out + 1] = id\n"
                                  "  out[#out + 1] = redis.call('HGETALL', ARGV[3] .. id)\n"
                                  "end\n"
                                  "return out\n";

/* KEYS: asg hash, results. ARGV: now. Reopening an open assignment changes nothing. */
static const char reopen_script[] =
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "if not st then return redis.error_reply('NOT_FOUND') end\n"
    "if st == '3' then\n"
    "  redis.call('HSET', KEYS[1], 'status', 2, 'update_ms', ARGV[1], 'reported', 0)\n"
    "  redis.call('HDEL', KEYS[1], 'submit_ms')\n"
    "  redis.call('HINCRBY', KEYS[1], 'reopens', 1)\n"
    "  redis.call('HINCRBY', KEYS[1], 'rev', 1)\n"
    "  redis.call('DEL', KEYS[2])\n"
    "end\n"
    "return redis.call('HGETALL', KEYS[1])\n";

int qn_assignments_init(qn_app *app)
{
    int rv = bsl_redis_script_add(app->redis, assign_script, &app->assign);
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, reopen_script, &app->reopen);
    }
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, list_script, &app->list_assignments);
    }
    return rv;
}

/* ---- AssignInstrument ------------------------------------------------------------------ */

static void on_assigned_indexed(qn_op *op)
{
    Boussole__V1__Assignment *a = op->ctx;
    qn_op_reply(op, &a->base);
}

static void on_assigned(qn_op *op)
{
    const redisReply *r = op->reply;
    if (bsl_redis_is_error(r)) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "a bilan holds at most %d assignments",
                   QN_MAX_ASSIGNMENTS);
        return;
    }
    const char *id = op->ctx;
    Boussole__V1__Assignment *a = qn_assignment_from_hash(op, op->access.bilan_id, id, r);
    if (a == NULL) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "the stored assignment is unreadable");
        return;
    }
    op->ctx = a;
    /* The beneficiary's index for Export: a set, so repeats are harmless. */
    char key[QN_KEY_MAX];
    qn_key_beneficiary(key, op->access.beneficiary);
    QN_CMD(op, on_assigned_indexed, "indexing the assignment", "SADD", key, op->access.bilan_id);
}

static void store_assignment(qn_op *op)
{
    const Boussole__V1__AssignInstrumentRequest *in = (const void *)bsl_call_request(op->call);
    const Boussole__V1__Instrument *d = op->ins->def;
    bool satisfaction =
        d->purpose == BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_SATISFACTION;
    /* A running bilan; a satisfaction survey may also follow a closed one (six months on). */
    bool open =
        op->access.status == BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE ||
        (satisfaction && op->access.status == BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_CLOSED);
    if (!open) {
        qn_op_fail_precondition(op, "BILAN_NOT_RUNNING", op->access.bilan_id,
                                "instruments are assigned to running bilans (satisfaction "
                                "surveys also to closed ones)");
        return;
    }
    if (d->purpose == BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_RELATIVES_FEEDBACK) {
        qn_op_fail_field(op, "instrument_id",
                         "a relatives' feedback form is sent through InviteRelative");
        return;
    }
    if (!d->builtin && strcmp(d->organisation_id, op->access.organisation) != 0) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such instrument");
        return;
    }
    const Boussole__V1__Caller *c = bsl_call_caller(op->call);
    char *id = bsl_arena_alloc(op->arena, BSL_ID_LEN + 1);
    if (id == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    bsl_id_derive(id, "assignment", c->subject, bsl_call_idempotency_key(op->call));
    op->ctx = id;
    char asgs[QN_KEY_MAX], asg[QN_KEY_MAX], meta[QN_KEY_MAX], now[24], version[16], items[16],
        status[8], limit[8];
    const char *bilan = op->access.bilan_id;
    qn_key_bilan(asgs, bilan, "asgs");
    qn_key_bilan_sub(asg, bilan, "asg", id);
    qn_key_bilan(meta, bilan, "meta");
    snprintf(now, sizeof(now), "%lld", (long long)bsl_clock_now_ms(op->app->clock));
    snprintf(version, sizeof(version), "%u", d->version);
    snprintf(items, sizeof(items), "%zu", d->n_items);
    snprintf(status, sizeof(status), "%d",
             BOUSSOLE__V1__ASSIGNMENT_STATUS__ASSIGNMENT_STATUS_ASSIGNED);
    snprintf(limit, sizeof(limit), "%d", QN_MAX_ASSIGNMENTS);
    const char *argv[] = {
        asgs,
        asg,
        meta,
        id,
        now,
        op->access.beneficiary,
        op->access.organisation,
        limit,
        "instrument",
        d->id,
        "version",
        version,
        "title",
        d->title,
        "due",
        in->due_date,
        "status",
        status,
        "answered",
        "0",
        "items",
        items,
        "assigned_by",
        c->subject,
        "reopens",
        "0",
        "create_ms",
        now,
        "update_ms",
        now,
        "rev",
        "0",
        "reported",
        "0",
    };
    qn_op_eval(op, op->app->assign, on_assigned, "storing the assignment", 3,
               (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL);
}

static void on_custom_status(qn_op *op)
{
    const redisReply *r = op->reply;
    if (r->type == REDIS_REPLY_STRING &&
        atoi(r->str) == BOUSSOLE__V1__INSTRUMENT_STATUS__INSTRUMENT_STATUS_RETIRED) {
        qn_op_fail_precondition(op, "INSTRUMENT_RETIRED", op->ins->def->id,
                                "a retired instrument is no longer assigned");
        return;
    }
    store_assignment(op);
}

static void on_assign_instrument(qn_op *op)
{
    if (op->ins->def->builtin) {
        store_assignment(op);
        return;
    }
    char key[QN_KEY_MAX];
    qn_key_instrument(key, op->ins->def->id);
    QN_CMD(op, on_custom_status, "reading the instrument", "HGET", key, "status");
}

static void on_assign_access(qn_op *op)
{
    const Boussole__V1__AssignInstrumentRequest *in = (const void *)bsl_call_request(op->call);
    qn_op_instrument(op, in->instrument_id, in->instrument_version, on_assign_instrument);
}

QN_HANDLER(qn_assign_instrument, Boussole__V1__AssignInstrumentRequest, Boussole__V1__Assignment)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    long due;
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_text(&chk, "instrument_id", in->instrument_id, 1, QN_MAX_ID);
    bsl_check_range(&chk, "instrument_version", in->instrument_version, 0, 1000000);
    bsl_check_date(&chk, "due_date", in->due_date, true, &due);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op != NULL) {
        qn_op_access(op, in->bilan_id, QN_ASSIGN, on_assign_access);
    }
}

/* ---- ListAssignments --------------------------------------------------------------------- */

static void on_listed(qn_op *op)
{
    const redisReply *r = op->reply;
    const Boussole__V1__ListAssignmentsRequest *in = (const void *)bsl_call_request(op->call);
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    uint32_t size;
    long offset;
    bsl_check chk = bsl_check_begin(op->call);
    qn_page(&chk, in->page, &size, &offset);
    Boussole__V1__ListAssignmentsResponse out = BOUSSOLE__V1__LIST_ASSIGNMENTS_RESPONSE__INIT;
    size_t n = r->elements / 2;
    out.assignments = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(*out.assignments));
    if (out.assignments == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *id = r->element[2 * i], *h = r->element[2 * i + 1];
        if (id->type != REDIS_REPLY_STRING || h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
            continue;
        }
        Boussole__V1__Assignment *a = qn_assignment_from_hash(op, in->bilan_id, id->str, h);
        if (a == NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        out.assignments[out.n_assignments++] = a;
    }
    out.next_page_token = n == size ? bsl_arena_printf(op->arena, "%ld", offset + (long)n) : "";
    qn_op_reply(op, &out.base);
}

static void on_list_access(qn_op *op)
{
    const Boussole__V1__ListAssignmentsRequest *in = (const void *)bsl_call_request(op->call);
    uint32_t size;
    long offset;
    bsl_check chk = bsl_check_begin(op->call);
    qn_page(&chk, in->page, &size, &offset);
    char asgs[QN_KEY_MAX], prefix[QN_KEY_MAX], start[24], stop[24];
    qn_key_bilan(asgs, in->bilan_id, "asgs");
    qn_key_bilan_sub(prefix, in->bilan_id, "asg", "");
    snprintf(start, sizeof(start), "%ld", offset);
    snprintf(stop, sizeof(stop), "%ld", offset + (long)size - 1);
    const char *argv[] = { asgs, start, stop, prefix };
    qn_op_eval(op, op->app->list_assignments, on_listed, "listing assignments", 1, 4, argv, NULL);
}

QN_HANDLER(qn_list_assignments, Boussole__V1__ListAssignmentsRequest,
           Boussole__V1__ListAssignmentsResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    uint32_t size;
    long offset;
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    qn_page(&chk, in->page, &size, &offset);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op != NULL) {
        qn_op_access(op, in->bilan_id, QN_READ_META, on_list_access);
    }
}

/* ---- GetAssignment ------------------------------------------------------------------------- */

static void on_detail_instrument(qn_op *op)
{
    Boussole__V1__AssignmentDetail out = BOUSSOLE__V1__ASSIGNMENT_DETAIL__INIT;
    out.assignment = op->ctx;
    Boussole__V1__Instrument ins = *op->ins->def;
    out.instrument = &ins;
    qn_op_reply(op, &out.base);
}

static void on_detail_hash(qn_op *op)
{
    const redisReply *h = op->reply;
    const Boussole__V1__GetAssignmentRequest *in = (const void *)bsl_call_request(op->call);
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such assignment");
        return;
    }
    Boussole__V1__Assignment *a = qn_assignment_from_hash(op, in->bilan_id, in->assignment_id, h);
    if (a == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->ctx = a;
    qn_op_instrument(op, a->instrument_id, a->instrument_version, on_detail_instrument);
}

static void on_detail_access(qn_op *op)
{
    const Boussole__V1__GetAssignmentRequest *in = (const void *)bsl_call_request(op->call);
    char key[QN_KEY_MAX];
    qn_key_bilan_sub(key, in->bilan_id, "asg", in->assignment_id);
    QN_CMD(op, on_detail_hash, "reading the assignment", "HGETALL", key);
}

QN_HANDLER(qn_get_assignment, Boussole__V1__GetAssignmentRequest, Boussole__V1__AssignmentDetail)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "assignment_id", in->assignment_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op != NULL) {
        qn_op_access(op, in->bilan_id, QN_READ_META, on_detail_access);
    }
}

/* ---- ReopenAssignment -------------------------------------------------------------------- */

static void on_reopened(qn_op *op)
{
    const redisReply *r = op->reply;
    const Boussole__V1__ReopenAssignmentRequest *in = (const void *)bsl_call_request(op->call);
    if (bsl_redis_is_error(r) || r->type != REDIS_REPLY_ARRAY) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such assignment");
        return;
    }
    Boussole__V1__Assignment *a = qn_assignment_from_hash(op, in->bilan_id, in->assignment_id, r);
    if (a == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_reply(op, &a->base);
}

static void on_reopen_access(qn_op *op)
{
    const Boussole__V1__ReopenAssignmentRequest *in = (const void *)bsl_call_request(op->call);
    char asg[QN_KEY_MAX], res[QN_KEY_MAX], now[24];
    qn_key_bilan_sub(asg, in->bilan_id, "asg", in->assignment_id);
    qn_key_bilan_sub(res, in->bilan_id, "res", in->assignment_id);
    snprintf(now, sizeof(now), "%lld", (long long)bsl_clock_now_ms(op->app->clock));
    const char *argv[] = { asg, res, now };
    qn_op_eval(op, op->app->reopen, on_reopened, "reopening the assignment", 2, 3, argv, NULL);
}

QN_HANDLER(qn_reopen_assignment, Boussole__V1__ReopenAssignmentRequest, Boussole__V1__Assignment)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "assignment_id", in->assignment_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op != NULL) {
        qn_op_access(op, in->bilan_id, QN_MANAGE, on_reopen_access);
    }
}
