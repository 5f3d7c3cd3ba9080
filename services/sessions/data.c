/*
 * Data protection: ExportBeneficiaryData (everything about one beneficiary, in clear) and
 * EraseBilanData (crypto-shredding).
 *
 * Erasing a bilan deletes its data key from the keystore, which makes every sealed value of
 * the bilan unreadable wherever a copy lies (replicas, backups), then deletes the keys that
 * hold sealed values (keys.h: the confidential part of the layout). What stays is the
 * administrative record, which holds no free text: the bilan's hash (participants, funding,
 * dates, phase, hours per phase, counters, the erasure's time and reason), its phase history,
 * the agreement's status, period and price, the meetings with their attendance (the sign-in
 * record audits ask for) and the accompanied time entries. A running bilan is cancelled
 * (reason DATA_ERASED). The bilan leaves bilans:ended, so the retention sweep does not come
 * back to it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "keys.h"
#include "bounds.h"
#include "records.h"

/* The keys EraseBilanData deletes (after the bilan's hash and history). */
static const char *const confidential_parts[] = {
    "agreement_text", "intake",      "roadmap", "meeting_notes",
    "private_notes",  "experiences", "leads",   "questionnaires",
};
#define N_CONFIDENTIAL (sizeof(confidential_parts) / sizeof(confidential_parts[0]))

/* The administrative record besides the bilan's hash and history: kept by EraseBilanData,
 * then expired with them after the configured retention. */
static const char *const record_parts[] = { "agreement", "meetings", "hours" };
#define N_RECORD (sizeof(record_parts) / sizeof(record_parts[0]))

/*
 * KEYS: the bilan, its history, the confidential keys, then the other keys of the
 * administrative record. ARGV: now, actor role, actor subject, reason, the number of
 * confidential keys, the record's retention in seconds (0: kept until deleted otherwise).
 * The retention starts at the first erasure: a repeat does not push it back. Answers the
 * number of keys deleted.
 */
static const char erase_script[] =
    "local h = redis.call('HMGET', KEYS[1], 'status', 'phase', 'erased_ms')\n"
    "if not h[1] then return redis.error_reply('NOT_FOUND') end\n"
    "local deleted = 0\n"
    "local last = 2 + tonumber(ARGV[5])\n"
    "for i = 3, last do deleted = deleted + redis.call('DEL', KEYS[i]) end\n"
    "if h[1] == '1' then\n"
    "  redis.call('HSET', KEYS[1], 'status', '3', 'phase', '6', 'end_ms', ARGV[1],\n"
    "             'cancel_reason', '7', 'update_ms', ARGV[1])\n"
    "  redis.call('HINCRBY', KEYS[1], 'version', 1)\n"
    "  redis.call('RPUSH', KEYS[2], h[2] .. '|6|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' ..\n"
    "             ARGV[3] .. '|0|7')\n"
    "end\n"
    "if not h[3] then\n"
    "  redis.call('HSET', KEYS[1], 'erased_ms', ARGV[1], 'erase_reason', ARGV[4])\n"
    "  local ttl = tonumber(ARGV[6])\n"
    "  if ttl > 0 then\n"
    "    redis.call('EXPIRE', KEYS[1], ttl)\n"
    "    redis.call('EXPIRE', KEYS[2], ttl)\n"
    "    for i = last + 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end\n"
    "  end\n"
    "end\n"
    "redis.call('HDEL', KEYS[1], 'n_experiences', 'n_leads', 'n_research')\n"
    "return deleted\n";

int sessions_data_init(sessions_app *app)
{
    return bsl_redis_script_add(app->redis, erase_script, &app->erase);
}

/* ---- EraseBilanData ----------------------------------------------------------------- */

typedef struct erase_op {
    uint32_t deleted;
} erase_op;

static void on_unlisted(const redisReply *reply, int err, void *arg)
{
    sess_op *op = arg;
    erase_op *e = op->ctx;
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        bsl_call_fail_err(op->call, err != BSL_OK ? err : BSL_EIO, "leaving bilans:ended");
        return;
    }
    Boussole__V1__EraseBilanDataResponse out = BOUSSOLE__V1__ERASE_BILAN_DATA_RESPONSE__INIT;
    out.bilan_id = (char *)op->bilan_id;
    out.keys_deleted = e->deleted;
    out.data_key_destroyed = true;
    bsl_call_reply(op->call, &out.base);
}

static void on_key_deleted(const redisReply *reply, int err, void *arg)
{
    sess_op *op = arg;
    erase_op *e = op->ctx;
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        /* The records are gone but the key is not: the caller retries (idempotent). */
        bsl_call_fail_err(op->call, err != BSL_OK ? err : BSL_EIO,
                          "destroying the bilan's data key");
        return;
    }
    if (reply->type == REDIS_REPLY_INTEGER) {
        e->deleted += (uint32_t)reply->integer;
    }
    bsl_dek_forget(op->app->keyring, op->bilan_id, BSL_SCOPE_SESSIONS);
    int rv = bsl_redis_command(op->app->redis, bsl_call_remaining_ms(op->call), on_unlisted, op,
                               "ZREM %s %s", SESSIONS_ENDED_KEY, op->bilan_id);
    if (rv != BSL_OK) {
        bsl_call_fail_err(op->call, rv, "leaving bilans:ended");
    }
}

static void on_erased(sess_op *op, const redisReply *reply)
{
    erase_op *e = op->ctx;
    if (reply->type != REDIS_REPLY_INTEGER) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    e->deleted = (uint32_t)reply->integer;
    char key[BSL_SCOPE_NAME_MAX];
    bsl_dek_key(key, sizeof(key), op->bilan_id, BSL_SCOPE_SESSIONS);
    int rv = bsl_redis_command(op->app->keystore, bsl_call_remaining_ms(op->call), on_key_deleted,
                               op, "DEL %s", key);
    if (rv != BSL_OK) {
        bsl_call_fail_err(op->call, rv, "destroying the bilan's data key");
    }
}

SESS_HANDLER(erase_bilan_data, EraseBilanDataRequest, EraseBilanDataResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    /* The reason is kept in clear in the administrative record: a short label, nothing a
     * person wrote. */
    if (bsl_check_text(&chk, "reason", in->reason, 1, 100)) {
        for (const char *p = in->reason; *p != '\0'; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == ' ' || *p == '-' || *p == '_' || *p == '.')) {
                bsl_check_violation(&chk, "reason", "letters, digits, spaces and -_. only");
                break;
            }
        }
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_EXPORT);
    if (op == NULL) {
        return;
    }
    op->ctx = bsl_arena_calloc(op->arena, 1, sizeof(erase_op));
    sess_args x;
    sess_args_init(&x, op->arena, (int)(8 + N_CONFIDENTIAL + N_RECORD));
    sess_arg_key(&x, op->bilan_id, NULL);
    sess_arg_key(&x, op->bilan_id, "history");
    for (size_t i = 0; i < N_CONFIDENTIAL; i++) {
        sess_arg_key(&x, op->bilan_id, confidential_parts[i]);
    }
    for (size_t i = 0; i < N_RECORD; i++) {
        sess_arg_key(&x, op->bilan_id, record_parts[i]);
    }
    sess_argf(&x, "%lld", (long long)op->now_ms);
    sess_argf(&x, "%d", (int)op->caller->role);
    sess_arg(&x, op->caller->subject);
    sess_arg(&x, in->reason);
    sess_argf(&x, "%zu", N_CONFIDENTIAL);
    sess_argf(&x, "%lld", (long long)op->app->record_retention_days * 86400);
    if (op->ctx == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_eval(op, op->app->erase, &x, (int)(2 + N_CONFIDENTIAL + N_RECORD), on_erased);
}

/* ---- ExportBeneficiaryData ---------------------------------------------------------- */

static const sess_read export_reads[] = {
    { "history", "lrange", NULL },     { "agreement", "get", NULL },
    { "agreement_text", "get", NULL }, { "intake", "get", NULL },
    { "roadmap", "get", NULL },        { "meetings", "get", NULL },
    { "meeting_notes", "get", NULL },  { "hours", "get", NULL },
    { "experiences", "get", NULL },    { "leads", "get", NULL },
};
enum {
    X_HISTORY,
    X_AGREEMENT,
    X_AGREEMENT_TEXT,
    X_INTAKE,
    X_ROADMAP,
    X_MEETINGS,
    X_NOTES,
    X_HOURS,
    X_EXPERIENCES,
    X_LEADS,
    X_COUNT
};

typedef struct export_op {
    bsl_call *call;
    sessions_app *app;
    const char *beneficiary;
    char (*ids)[BSL_ID_LEN + 1];
    size_t n_ids;
    size_t next;
    Boussole__V1__SessionsExport out;
} export_op;

static void export_next(export_op *x);

static void bilan_keyed(sess_op *op)
{
    export_op *x = op->ctx;
    const sess_value *p = op->parts;
    bsl_arena *a = op->arena;
    Boussole__V1__BilanExport *be = bsl_arena_alloc(a, sizeof(*be));
    if (be == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    boussole__v1__bilan_export__init(be);
    be->bilan = sess_bilan_to_pb(a, &op->bilan, op->now_ms);
    size_t nh = p[X_HISTORY].type == SESS_V_ARR ? p[X_HISTORY].n : 0;
    be->transitions = bsl_arena_calloc(a, nh ? nh : 1, sizeof(*be->transitions));
    if (be->bilan == NULL || be->transitions == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < nh; i++) {
        Boussole__V1__PhaseTransition *t = sess_transition_parse(a, p[X_HISTORY].items[i].str);
        if (t != NULL) {
            be->transitions[be->n_transitions++] = t;
        }
    }
    /* A record that is there but does not open is a fault, not something to leave out of a
     * person's copy of their data without saying so; the list decoders answer the call. */
    be->agreement = sess_agreement_decode(op, &p[X_AGREEMENT], &p[X_AGREEMENT_TEXT]);
    bool broken = be->agreement == NULL && p[X_AGREEMENT].type == SESS_V_STR;
    be->intake = sess_intake_decode(op, &p[X_INTAKE]);
    broken |= be->intake == NULL && p[X_INTAKE].type == SESS_V_STR;
    be->roadmap = sess_roadmap_decode(op, &p[X_ROADMAP]);
    broken |= be->roadmap == NULL && p[X_ROADMAP].type == SESS_V_STR;
    if (broken) {
        bsl_call_fail(op->call, BSL_STATUS_DATA_LOSS,
                      "a record of bilan %s does not open: the export would be incomplete",
                      op->bilan_id);
        return;
    }
    be->n_meetings = sess_meetings_decode(op, &p[X_MEETINGS], &p[X_NOTES], &be->meetings);
    if (be->meetings != NULL) {
        be->n_accompanied_time = sess_hours_decode(op, &p[X_HOURS], &be->accompanied_time);
    }
    if (be->accompanied_time != NULL) {
        be->n_experiences = sess_experiences_decode(op, &p[X_EXPERIENCES], &be->experiences);
    }
    if (be->experiences != NULL) {
        be->n_leads = sess_leads_decode(op, &p[X_LEADS], &be->leads);
    }
    if (be->leads == NULL) {
        if (!bsl_call_answered(op->call)) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    x->out.bilans[x->out.n_bilans++] = be;
    export_next(x);
}

static void bilan_fetched(sess_op *op)
{
    export_op *x = op->ctx;
    if (!op->found || strcmp(op->bilan.beneficiary, x->beneficiary) != 0) {
        /* An index entry without its bilan: nothing to export. */
        export_next(x);
        return;
    }
    sess_with_key(op, false, bilan_keyed);
}

static void export_next(export_op *x)
{
    if (x->next == x->n_ids) {
        bsl_call_reply(x->call, &x->out.base);
        return;
    }
    sess_op *op = sess_op_new(x->call, x->app, x->ids[x->next++], SESS_ACT_EXPORT);
    if (op != NULL) {
        op->ctx = x;
        sess_fetch(op, export_reads, X_COUNT, bilan_fetched);
    }
}

static void on_export_index(const redisReply *reply, int err, void *arg)
{
    export_op *x = arg;
    bsl_arena *a = bsl_call_arena(x->call);
    if (err != BSL_OK) {
        bsl_call_fail_err(x->call, err, "reading the beneficiary's bilans");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
        bsl_call_fail(x->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    size_t n = reply->elements / 2;
    if (n > SESS_MAX_EXPORT_BILANS) {
        x->out.truncated = true;
        n = SESS_MAX_EXPORT_BILANS;
    }
    x->ids = bsl_arena_calloc(a, n ? n : 1, sizeof(*x->ids));
    x->out.bilans = bsl_arena_calloc(a, n ? n : 1, sizeof(*x->out.bilans));
    if (x->ids == NULL || x->out.bilans == NULL) {
        bsl_call_fail(x->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *m = reply->element[2 * i];
        if (m->type == REDIS_REPLY_STRING && m->len == BSL_ID_LEN) {
            memcpy(x->ids[x->n_ids++], m->str, BSL_ID_LEN + 1);
        }
    }
    export_next(x);
}

SESS_HANDLER(export_beneficiary_data, ExportBeneficiaryDataRequest, SessionsExport)
{
    (void)closure;
    sessions_app *app = sessions_of(service);
    bsl_call *call = closure_data;
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    bsl_check chk = bsl_check_begin(call);
    bsl_check_subject(&chk, "beneficiary_id", in->beneficiary_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    bool self = c->role == BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY &&
                strcmp(c->subject, in->beneficiary_id) == 0;
    if (!self && c->role != BOUSSOLE__V1__ROLE__ROLE_SERVICE) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "a beneficiary exports their own data; Boussole services anyone's");
        return;
    }
    bsl_arena *a = bsl_call_arena(call);
    export_op *x = bsl_arena_calloc(a, 1, sizeof(*x));
    if (x == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    x->call = call;
    x->app = app;
    x->beneficiary = in->beneficiary_id;
    boussole__v1__sessions_export__init(&x->out);
    x->out.beneficiary_id = (char *)in->beneficiary_id;
    x->out.export_time = bsl_pb_timestamp(a, bsl_clock_now_ms(app->clock));
    char key[SESSIONS_KEY_MAX], count[16];
    key_index(key, "beneficiary", in->beneficiary_id);
    snprintf(count, sizeof(count), "%d", SESS_MAX_EXPORT_BILANS + 1);
    const char *argv[] = { key, "desc", "", "", "-inf", count };
    size_t lens[6];
    for (int i = 0; i < 6; i++) {
        lens[i] = strlen(argv[i]);
    }
    int rv = bsl_redis_eval(app->redis, app->page, bsl_call_remaining_ms(call), on_export_index, x,
                            1, 6, argv, lens);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "reading the beneficiary's bilans");
    }
}
