/* CreateBilan and GetBilan: a bilan's record and who may see it. */
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/err.h"
#include "boussole/id.h"
#include "boussole/pbutil.h"
#include "keys.h"
#include "sessions.h"

/* Creates the bilan's hash unless it exists (a repeated idempotency key derives the same id)
 * and answers the stored hash either way. */
static const char create_script[] = "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
                                    "  redis.call('HSET', KEYS[1], unpack(ARGV))\n"
                                    "end\n"
                                    "return redis.call('HGETALL', KEYS[1])\n";

int sessions_bilan_init(sessions_app *app)
{
    return bsl_redis_script_add(app->redis, create_script, &app->create_bilan);
}

/* ---- the stored hash ---------------------------------------------------------------- */

static const char *field(const redisReply *hash, const char *name)
{
    for (size_t i = 0; i + 1 < hash->elements; i += 2) {
        if (strcmp(hash->element[i]->str, name) == 0) {
            return hash->element[i + 1]->str;
        }
    }
    return "";
}

static long long num(const redisReply *hash, const char *name)
{
    return strtoll(field(hash, name), NULL, 10);
}

/* Builds a Bilan from an HGETALL reply, in the call's arena. NULL when out of memory or when
 * the hash is not a bilan's. */
static Boussole__V1__Bilan *bilan_from_hash(bsl_call *call, const char *id, const redisReply *h)
{
    bsl_arena *a = bsl_call_arena(call);
    if (h->type != REDIS_REPLY_ARRAY || h->elements < 2) {
        return NULL;
    }
    for (size_t i = 0; i < h->elements; i++) {
        if (h->element[i]->type != REDIS_REPLY_STRING) {
            return NULL;
        }
    }
    Boussole__V1__Bilan *b = bsl_arena_alloc(a, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    boussole__v1__bilan__init(b);
    b->id = bsl_arena_strdup(a, id);
    b->beneficiary_id = bsl_arena_strdup(a, field(h, "beneficiary"));
    b->counselor_id = bsl_arena_strdup(a, field(h, "counselor"));
    b->organisation_id = bsl_arena_strdup(a, field(h, "organisation"));
    b->funding = (Boussole__V1__Funding)num(h, "funding");
    b->planned_hours = (uint32_t)num(h, "planned_hours");
    b->start_date = bsl_arena_strdup(a, field(h, "start_date"));
    b->end_date = bsl_arena_strdup(a, field(h, "end_date"));
    b->status = (Boussole__V1__BilanStatus)num(h, "status");
    b->phase = (Boussole__V1__Phase)num(h, "phase");
    b->version = (uint64_t)num(h, "version");
    b->create_time = bsl_pb_timestamp(a, num(h, "create_ms"));
    b->update_time = bsl_pb_timestamp(a, num(h, "update_ms"));
    if (!b->id || !b->beneficiary_id || !b->counselor_id || !b->organisation_id || !b->start_date ||
        !b->end_date || !b->create_time || !b->update_time) {
        return NULL;
    }
    return b;
}

/* Who may read a bilan: its beneficiary, its counselor, an admin of its organisation, and
 * Boussole's own services. */
static bool may_read(const Boussole__V1__Caller *c, const Boussole__V1__Bilan *b)
{
    switch (c->role) {
    case BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY:
        return strcmp(c->subject, b->beneficiary_id) == 0;
    case BOUSSOLE__V1__ROLE__ROLE_COUNSELOR:
        return strcmp(c->subject, b->counselor_id) == 0;
    case BOUSSOLE__V1__ROLE__ROLE_ADMIN:
        return c->organisation[0] != '\0' && strcmp(c->organisation, b->organisation_id) == 0;
    case BOUSSOLE__V1__ROLE__ROLE_SERVICE:
        return true;
    default:
        return false;
    }
}

/* ---- CreateBilan -------------------------------------------------------------------- */

typedef struct create_op {
    bsl_call *call;
    sessions_app *app;
    Boussole__V1__Bilan *bilan;
    int pending;
    int err;
} create_op;

static void on_indexed(const redisReply *reply, int err, void *arg)
{
    create_op *op = arg;
    if (op->err == BSL_OK && (err != BSL_OK || bsl_redis_is_error(reply))) {
        op->err = err != BSL_OK ? err : BSL_EIO;
    }
    if (--op->pending > 0) {
        return;
    }
    if (op->err != BSL_OK) {
        /* The bilan exists but is not listed everywhere yet; the caller's retry with the same
         * idempotency key adds the missing index entries. */
        bsl_call_fail_err(op->call, op->err, "indexing the bilan");
        return;
    }
    bsl_call_reply(op->call, &op->bilan->base);
}

static void on_created(const redisReply *reply, int err, void *arg)
{
    create_op *op = arg;
    bsl_call *call = op->call;
    if (err != BSL_OK) {
        bsl_call_fail_err(call, err, "storing the bilan");
        return;
    }
    if (bsl_redis_is_error(reply)) {
        bsl_call_fail(call, BSL_STATUS_INTERNAL, "storing the bilan failed");
        return;
    }
    const char *id = bsl_arena_strdup(bsl_call_arena(call), op->bilan->id);
    op->bilan = id ? bilan_from_hash(call, id, reply) : NULL;
    if (op->bilan == NULL) {
        bsl_call_fail(call, BSL_STATUS_INTERNAL, "the stored bilan is unreadable");
        return;
    }
    /* Index entries are idempotent (ZADD of the same member and score), so they are made on
     * every attempt, which repairs an attempt interrupted between the two steps. */
    const Boussole__V1__Bilan *b = op->bilan;
    const char *kinds[3] = { "counselor", "beneficiary", "org" };
    const char *subjects[3] = { b->counselor_id, b->beneficiary_id, b->organisation_id };
    long long score = bsl_pb_timestamp_ms(b->create_time);
    op->pending = 3;
    for (int i = 0; i < 3; i++) {
        char key[SESSIONS_KEY_MAX];
        key_index(key, kinds[i], subjects[i]);
        if (bsl_redis_command(op->app->redis, bsl_call_remaining_ms(call), on_indexed, op,
                              "ZADD %s %lld %s", key, score, b->id) != BSL_OK) {
            op->err = BSL_ENOMEM;
            if (--op->pending == 0) {
                bsl_call_fail_err(call, BSL_ENOMEM, "indexing the bilan");
                return;
            }
        }
    }
}

void sessions_create_bilan(Boussole__V1__SessionService_Service *service,
                           const Boussole__V1__CreateBilanRequest *in,
                           Boussole__V1__Bilan_Closure closure, void *closure_data)
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
    bsl_arena *a = bsl_call_arena(call);
    create_op *op = bsl_arena_calloc(a, 1, sizeof(*op));
    char *id = bsl_arena_alloc(a, BSL_ID_LEN + 1);
    if (op == NULL || id == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    /* The id comes from the idempotency key: a repeat of this call finds the same bilan. */
    bsl_id_derive(id, "bilan", caller->subject, bsl_call_idempotency_key(call));
    op->call = call;
    op->app = app;
    op->bilan = bsl_arena_alloc(a, sizeof(*op->bilan));
    if (op->bilan == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    boussole__v1__bilan__init(op->bilan);
    op->bilan->id = id;

    long long now = (long long)bsl_clock_now_ms(app->clock);
    char key[SESSIONS_KEY_MAX], funding[8], hours[8], phase[8], status[8], ms[24];
    key_bilan(key, id);
    snprintf(funding, sizeof(funding), "%d", (int)in->funding);
    snprintf(hours, sizeof(hours), "%u", in->planned_hours);
    snprintf(phase, sizeof(phase), "%d", BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY);
    snprintf(status, sizeof(status), "%d", BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE);
    snprintf(ms, sizeof(ms), "%lld", now);
    const char *argv[] = {
        key,
        "beneficiary",
        in->beneficiary_id,
        "counselor",
        counselor_id,
        "organisation",
        in->organisation_id,
        "funding",
        funding,
        "planned_hours",
        hours,
        "start_date",
        in->start_date,
        "end_date",
        in->end_date,
        "status",
        status,
        "phase",
        phase,
        "version",
        "1",
        "create_ms",
        ms,
        "update_ms",
        ms,
    };
    size_t lens[sizeof(argv) / sizeof(argv[0])];
    for (size_t i = 0; i < sizeof(argv) / sizeof(argv[0]); i++) {
        lens[i] = strlen(argv[i]);
    }
    int rv = bsl_redis_eval(app->redis, app->create_bilan, bsl_call_remaining_ms(call), on_created,
                            op, 1, (int)(sizeof(argv) / sizeof(argv[0])), argv, lens);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "storing the bilan");
    }
}

/* ---- GetBilan ----------------------------------------------------------------------- */

static void on_bilan_read(const redisReply *reply, int err, void *arg)
{
    bsl_call *call = arg;
    if (err != BSL_OK) {
        bsl_call_fail_err(call, err, "reading the bilan");
        return;
    }
    const Boussole__V1__GetBilanRequest *in = (const void *)bsl_call_request(call);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        bsl_call_fail(call, BSL_STATUS_NOT_FOUND, "no such bilan");
        return;
    }
    Boussole__V1__Bilan *b = bilan_from_hash(call, in->id, reply);
    if (b == NULL) {
        bsl_call_fail(call, BSL_STATUS_INTERNAL, "the stored bilan is unreadable");
        return;
    }
    if (!may_read(bsl_call_caller(call), b)) {
        /* The same answer as a missing bilan: existence does not leak. */
        bsl_call_fail(call, BSL_STATUS_NOT_FOUND, "no such bilan");
        return;
    }
    bsl_call_reply(call, &b->base);
}

void sessions_get_bilan(Boussole__V1__SessionService_Service *service,
                        const Boussole__V1__GetBilanRequest *in,
                        Boussole__V1__Bilan_Closure closure, void *closure_data)
{
    (void)closure;
    sessions_app *app = sessions_of(service);
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "id", in->id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    char key[SESSIONS_KEY_MAX];
    key_bilan(key, in->id);
    int rv = bsl_redis_command(app->redis, bsl_call_remaining_ms(call), on_bilan_read, call,
                               "HGETALL %s", key);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "reading the bilan");
    }
}
