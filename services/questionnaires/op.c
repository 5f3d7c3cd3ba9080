/* The continuation framework of the handlers (see questionnaires.h) and shared helpers. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "keys.h"
#include "questionnaires.h"

qn_op *qn_op_new(qn_app *app, bsl_call *call)
{
    qn_op *op = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*op));
    if (op == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    op->call = call;
    op->app = app;
    op->arena = bsl_call_arena(call);
    return op;
}

/* What an op holds, taken out of it before the call is answered: answering may free the call's
 * arena, the op included, so nothing of the op is touched afterwards. */
typedef struct held {
    qn_instrument *ins;
    qn_instrument **more;
    size_t n_more;
} held;

static held take(qn_op *op)
{
    held h = { op->ins, op->held, op->n_held };
    op->ins = NULL;
    op->held = NULL;
    op->n_held = op->cap_held = 0;
    return h;
}

static void drop(held h)
{
    qn_instrument_unref(h.ins);
    for (size_t i = 0; i < h.n_more; i++) {
        qn_instrument_unref(h.more[i]);
    }
    free(h.more);
}

int qn_op_hold(qn_op *op, qn_instrument *ins)
{
    if (op->n_held == op->cap_held) {
        size_t cap = op->cap_held ? op->cap_held * 2 : 8;
        qn_instrument **more = realloc(op->held, cap * sizeof(*more));
        if (more == NULL) {
            return BSL_ENOMEM;
        }
        op->held = more;
        op->cap_held = cap;
    }
    op->held[op->n_held++] = ins;
    return BSL_OK;
}

void qn_op_reply(qn_op *op, const ProtobufCMessage *msg)
{
    /* The message may borrow from the instruments: they go once it is encoded. */
    held h = take(op);
    bsl_call_reply(op->call, msg);
    drop(h);
}

void qn_op_fail(qn_op *op, bsl_status code, const char *fmt, ...)
{
    held h = take(op);
    va_list ap;
    va_start(ap, fmt);
    bsl_call_vfail(op->call, code, fmt, ap);
    va_end(ap);
    drop(h);
}

void qn_op_fail_err(qn_op *op, int err, const char *what)
{
    held h = take(op);
    bsl_call_fail_err(op->call, err, what);
    drop(h);
}

void qn_op_fail_field(qn_op *op, const char *field, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    held h = take(op);
    bsl_call_fail_field(op->call, field, "%s", why);
    drop(h);
}

void qn_op_fail_precondition(qn_op *op, const char *type, const char *subject, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    held h = take(op);
    bsl_call_add_precondition_violation(op->call, type, subject, why);
    bsl_call_fail(op->call, BSL_STATUS_FAILED_PRECONDITION, "%s: %s", type, why);
    drop(h);
}

/* Starting a step ends the validity of what the previous one lent. */
static void forget(qn_op *op)
{
    op->reply = NULL;
    op->dek = NULL;
    op->peer_reply = NULL;
}

/* ---- permissions -------------------------------------------------------------------- */

bsl_status qn_permit(const Boussole__V1__Caller *c, const qn_access *a, qn_action act)
{
    bool beneficiary =
        c->role == BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY && strcmp(c->subject, a->beneficiary) == 0;
    bool counselor =
        c->role == BOUSSOLE__V1__ROLE__ROLE_COUNSELOR && strcmp(c->subject, a->counselor) == 0;
    bool admin = c->role == BOUSSOLE__V1__ROLE__ROLE_ADMIN && c->organisation != NULL &&
                 c->organisation[0] != '\0' && strcmp(c->organisation, a->organisation) == 0;
    if (!beneficiary && !counselor && !admin) {
        return BSL_STATUS_NOT_FOUND;
    }
    bool ok = false;
    switch (act) {
    case QN_READ_META:
        ok = true;
        break;
    case QN_ASSIGN:
    case QN_MANAGE:
        ok = counselor;
        break;
    case QN_ANSWER:
    case QN_INVITE:
        ok = beneficiary;
        break;
    case QN_READ_ANSWERS:
    case QN_READ_FEEDBACK:
        ok = beneficiary || counselor;
        break;
    }
    return ok ? BSL_STATUS_OK : BSL_STATUS_PERMISSION_DENIED;
}

typedef struct access_ctx {
    qn_op *op;
    qn_action act;
} access_ctx;

static void on_access(const bsl_reply *reply, void *arg)
{
    access_ctx *ac = arg;
    qn_op *op = ac->op;
    if (reply->code == BSL_STATUS_NOT_FOUND) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such bilan");
        return;
    }
    if (reply->code != BSL_STATUS_OK || reply->msg == NULL) {
        /* sessions' own failure is not the caller's fault: UNAVAILABLE unless it was a
         * deadline. */
        bsl_status st = reply->code == BSL_STATUS_DEADLINE_EXCEEDED ? BSL_STATUS_DEADLINE_EXCEEDED
                                                                    : BSL_STATUS_UNAVAILABLE;
        qn_op_fail(op, st,
                   "the sessions service did not answer who takes part in the bilan "
                   "(%s)",
                   bsl_status_name(reply->code));
        return;
    }
    const Boussole__V1__BilanAccess *b = (const void *)reply->msg;
    qn_access *a = &op->access;
    snprintf(a->beneficiary, sizeof(a->beneficiary), "%s", b->beneficiary_id);
    snprintf(a->counselor, sizeof(a->counselor), "%s", b->counselor_id);
    snprintf(a->organisation, sizeof(a->organisation), "%s", b->organisation_id);
    a->phase = b->phase;
    a->status = b->status;
    bsl_status st = qn_permit(bsl_call_caller(op->call), a, ac->act);
    if (st == BSL_STATUS_NOT_FOUND) {
        qn_op_fail(op, st, "no such bilan");
        return;
    }
    if (st != BSL_STATUS_OK) {
        qn_op_fail(op, st, "the caller's role in this bilan may not do this");
        return;
    }
    op->next(op);
}

void qn_op_access(qn_op *op, const char *bilan_id, qn_action act, qn_step next)
{
    forget(op);
    access_ctx *ac = bsl_arena_alloc(op->arena, sizeof(*ac));
    if (ac == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    ac->op = op;
    ac->act = act;
    snprintf(op->access.bilan_id, sizeof(op->access.bilan_id), "%s", bilan_id);
    op->next = next;
    Boussole__V1__GetBilanAccessRequest req = BOUSSOLE__V1__GET_BILAN_ACCESS_REQUEST__INIT;
    req.bilan_id = (char *)bilan_id;
    bsl_call_opts o = {
        .caller = op->app->self,
        .request_id = bsl_call_request_id(op->call),
        .trace_id = bsl_call_trace_id(op->call),
        .deadline_ms = bsl_call_remaining_ms(op->call),
    };
    int rv = bsl_client_call(op->app->sessions, "boussole.v1.SessionService/GetBilanAccess",
                             &req.base, &o, on_access, ac);
    if (rv != BSL_OK) {
        qn_op_fail_err(op, rv, "asking sessions about the bilan");
    }
}

static void on_reported(const bsl_reply *reply, void *arg)
{
    qn_op *op = arg;
    if (reply->code != BSL_STATUS_OK) {
        qn_op_fail(op, BSL_STATUS_UNAVAILABLE,
                   "the sessions service did not record the completion (%s); submit again",
                   bsl_status_name(reply->code));
        return;
    }
    op->peer_reply = reply->msg;
    op->next(op); /* which may answer: the op is not touched after it */
}

void qn_op_report(qn_op *op, const char *bilan_id, const char *assignment_id, qn_step next)
{
    forget(op);
    op->next = next;
    Boussole__V1__ReportQuestionnaireCompletedRequest req =
        BOUSSOLE__V1__REPORT_QUESTIONNAIRE_COMPLETED_REQUEST__INIT;
    req.bilan_id = (char *)bilan_id;
    req.assignment_id = (char *)assignment_id;
    bsl_call_opts o = {
        .caller = op->app->self,
        .request_id = bsl_call_request_id(op->call),
        .trace_id = bsl_call_trace_id(op->call),
        .deadline_ms = bsl_call_remaining_ms(op->call),
    };
    int rv = bsl_client_call(op->app->sessions,
                             "boussole.v1.SessionService/ReportQuestionnaireCompleted", &req.base,
                             &o, on_reported, op);
    if (rv != BSL_OK) {
        qn_op_fail_err(op, rv, "reporting to sessions");
    }
}

/* ---- instruments ------------------------------------------------------------------------ */

typedef struct ins_ctx {
    qn_op *op;
    char id[QN_MAX_ID + 1];
    uint32_t version;
} ins_ctx;

static void on_instrument_version(const redisReply *reply, int err, void *arg)
{
    ins_ctx *ic = arg;
    qn_op *op = ic->op;
    if (err != BSL_OK) {
        qn_op_fail_err(op, err, "reading the instrument");
        return;
    }
    if (reply->type != REDIS_REPLY_STRING) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such instrument version");
        return;
    }
    char where[128], why[256];
    qn_instrument *ins;
    int rv = qn_instrument_compile((const uint8_t *)reply->str, reply->len, &ins, where,
                                   sizeof(where), why, sizeof(why));
    if (rv != BSL_OK) {
        qn_op_fail(op, BSL_STATUS_DATA_LOSS, "stored instrument %s v%u does not compile: %s: %s",
                   ic->id, ic->version, where, why);
        return;
    }
    qn_catalog_put(op->app->catalog, ins);
    op->ins = ins; /* the compile's reference is the op's */
    op->next(op);
}

static void instrument_version(qn_op *op, ins_ctx *ic)
{
    qn_instrument *ins = qn_catalog_cached(op->app->catalog, ic->id, ic->version);
    if (ins != NULL) {
        op->ins = ins;
        op->next(op);
        return;
    }
    char key[QN_KEY_MAX];
    qn_key_instrument_version(key, ic->id, ic->version);
    int rv = bsl_redis_command(op->app->redis, bsl_call_remaining_ms(op->call),
                               on_instrument_version, ic, "GET %s", key);
    if (rv != BSL_OK) {
        qn_op_fail_err(op, rv, "reading the instrument");
    }
}

static void on_instrument_latest(const redisReply *reply, int err, void *arg)
{
    ins_ctx *ic = arg;
    qn_op *op = ic->op;
    if (err != BSL_OK) {
        qn_op_fail_err(op, err, "reading the instrument");
        return;
    }
    long long v = reply->type == REDIS_REPLY_STRING ? strtoll(reply->str, NULL, 10) : 0;
    if (v <= 0) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such instrument");
        return;
    }
    ic->version = (uint32_t)v;
    instrument_version(op, ic);
}

void qn_op_instrument(qn_op *op, const char *id, uint32_t version, qn_step next)
{
    forget(op);
    op->next = next;
    qn_instrument_unref(op->ins); /* an op holds one instrument at a time */
    op->ins = NULL;
    qn_instrument *b = qn_catalog_builtin(op->app->catalog, id, version);
    if (b != NULL) {
        qn_instrument_ref(b);
        op->ins = b;
        next(op);
        return;
    }
    if (!bsl_id_valid(id) || qn_catalog_is_builtin(op->app->catalog, id)) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such instrument or version");
        return;
    }
    ins_ctx *ic = bsl_arena_calloc(op->arena, 1, sizeof(*ic));
    if (ic == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    ic->op = op;
    snprintf(ic->id, sizeof(ic->id), "%s", id);
    ic->version = version;
    if (version != 0) {
        instrument_version(op, ic);
        return;
    }
    char key[QN_KEY_MAX];
    qn_key_instrument(key, id);
    int rv = bsl_redis_command(op->app->redis, bsl_call_remaining_ms(op->call),
                               on_instrument_latest, ic, "HGET %s latest", key);
    if (rv != BSL_OK) {
        qn_op_fail_err(op, rv, "reading the instrument");
    }
}

/* ---- Redis and keys ----------------------------------------------------------------- */

typedef struct redis_ctx {
    qn_op *op;
    qn_step next;
    const char *what;
} redis_ctx;

static void on_redis(const redisReply *reply, int err, void *arg)
{
    redis_ctx *rc = arg;
    qn_op *op = rc->op;
    if (err != BSL_OK) {
        qn_op_fail_err(op, err, rc->what);
        return;
    }
    op->reply = reply;
    rc->next(op); /* which may answer: the op is not touched after it */
}

static redis_ctx *redis_ctx_new(qn_op *op, qn_step next, const char *what)
{
    redis_ctx *rc = bsl_arena_alloc(op->arena, sizeof(*rc));
    if (rc == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    rc->op = op;
    rc->next = next;
    rc->what = what;
    return rc;
}

/* Lengths for argv when the caller gave none: every argument is a C string. */
static const size_t *lengths(qn_op *op, int argc, const char *const *argv, const size_t *lens)
{
    if (lens != NULL) {
        return lens;
    }
    size_t *l = bsl_arena_calloc(op->arena, (size_t)(argc > 0 ? argc : 1), sizeof(size_t));
    for (int i = 0; l != NULL && i < argc; i++) {
        l[i] = strlen(argv[i]);
    }
    return l;
}

void qn_op_cmd(qn_op *op, qn_step next, const char *what, int argc, const char *const *argv,
               const size_t *lens)
{
    forget(op);
    redis_ctx *rc = redis_ctx_new(op, next, what);
    const size_t *l = rc ? lengths(op, argc, argv, lens) : NULL;
    if (l == NULL) {
        if (rc != NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    int rv = bsl_redis_commandv(op->app->redis, bsl_call_remaining_ms(op->call), on_redis, rc, argc,
                                argv, l);
    if (rv != BSL_OK) {
        qn_op_fail_err(op, rv, what);
    }
}

void qn_op_eval(qn_op *op, const bsl_redis_script *script, qn_step next, const char *what,
                int nkeys, int argc, const char *const *argv, const size_t *lens)
{
    forget(op);
    redis_ctx *rc = redis_ctx_new(op, next, what);
    const size_t *l = rc ? lengths(op, argc, argv, lens) : NULL;
    if (l == NULL) {
        if (rc != NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    int rv = bsl_redis_eval(op->app->redis, script, bsl_call_remaining_ms(op->call), on_redis, rc,
                            nkeys, argc, argv, l);
    if (rv != BSL_OK) {
        qn_op_fail_err(op, rv, what);
    }
}

/* ---- data keys and sealing ---------------------------------------------------------------- */

static void on_dek(int err, const bsl_dek *dek, void *arg)
{
    qn_op *op = arg;
    if (err == BSL_ENOTFOUND) {
        dek = NULL;
    } else if (err != BSL_OK) {
        qn_op_fail_err(op, err, "getting the bilan's data key");
        return;
    }
    op->dek = dek;
    op->next(op); /* which may answer: the op is not touched after it */
}

void qn_op_dek(qn_op *op, const char *bilan_id, bool create, qn_step next)
{
    forget(op);
    op->next = next;
    int rv = bsl_dek_get(op->app->keyring, bilan_id, BSL_SCOPE_QUESTIONNAIRES, create,
                         bsl_call_remaining_ms(op->call), on_dek, op);
    if (rv != BSL_OK) {
        qn_op_fail_err(op, rv, "getting the bilan's data key");
    }
}

char *qn_ad(qn_op *op, const char *bilan, const char *what, const char *id, const char *sub)
{
    return bsl_arena_printf(op->arena, "%s/%s/%s/%s", bilan, what, id ? id : "", sub ? sub : "");
}

uint8_t *qn_seal_msg(qn_op *op, const char *ad, const ProtobufCMessage *msg, size_t *len)
{
    size_t plen = protobuf_c_message_get_packed_size(msg);
    uint8_t *plain = bsl_arena_alloc(op->arena, plen ? plen : 1);
    uint8_t *out = bsl_arena_alloc(op->arena, bsl_seal_size(plen));
    if (plain == NULL || out == NULL || ad == NULL || op->dek == NULL) {
        return NULL;
    }
    protobuf_c_message_pack(msg, plain);
    bsl_seal(op->dek, ad, plain, plen, out);
    sodium_memzero(plain, plen);
    *len = bsl_seal_size(plen);
    return out;
}

ProtobufCMessage *qn_open_msg(qn_op *op, const char *ad, const ProtobufCMessageDescriptor *desc,
                              const char *sealed, size_t len)
{
    if (op->dek == NULL || ad == NULL || len < BSL_SEAL_OVERHEAD) {
        return NULL;
    }
    char *plain = bsl_arena_alloc(op->arena, len - BSL_SEAL_OVERHEAD + 1);
    size_t plen;
    if (plain == NULL ||
        bsl_open(op->dek, ad, (const unsigned char *)sealed, len, plain, &plen) != BSL_OK) {
        return NULL;
    }
    return protobuf_c_message_unpack(desc, bsl_call_allocator(op->call), plen,
                                     (const uint8_t *)plain);
}

Boussole__V1__Answer *qn_open_answer(qn_op *op, const char *bilan, const char *asg,
                                     const redisReply *item, const redisReply *sealed)
{
    if (item->type != REDIS_REPLY_STRING || sealed->type != REDIS_REPLY_STRING) {
        return NULL;
    }
    Boussole__V1__Answer *a = (Boussole__V1__Answer *)qn_open_msg(
        op, qn_ad(op, bilan, "answer", asg, item->str), &boussole__v1__answer__descriptor,
        sealed->str, sealed->len);
    return a != NULL && strcmp(a->item_id, item->str) == 0 ? a : NULL;
}

/* ---- hashes ------------------------------------------------------------------------- */

const redisReply *qn_hash_get(const redisReply *h, const char *name)
{
    if (h == NULL || h->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0) {
            return h->element[i + 1];
        }
    }
    return NULL;
}

const char *qn_hash_str(const redisReply *h, const char *name)
{
    const redisReply *v = qn_hash_get(h, name);
    return v != NULL && v->type == REDIS_REPLY_STRING ? v->str : "";
}

long long qn_hash_num(const redisReply *h, const char *name)
{
    return strtoll(qn_hash_str(h, name), NULL, 10);
}

bool qn_page(bsl_check *chk, const Boussole__V1__PageRequest *page, uint32_t *size, long *offset)
{
    *size = page && page->page_size ? page->page_size : 20;
    *offset = 0;
    bool ok = bsl_check_range(chk, "page.page_size", *size, 1, 100);
    if (page && page->page_token[0] != '\0') {
        char *end;
        *offset = strtol(page->page_token, &end, 10);
        if (*end != '\0' || *offset < 0 || *offset > 1000000) {
            ok = bsl_check_violation(chk, "page.page_token", "not a token this service gave");
        }
    }
    return ok;
}

Boussole__V1__Assignment *qn_assignment_from_hash(qn_op *op, const char *bilan_id, const char *id,
                                                  const redisReply *h)
{
    bsl_arena *a = op->arena;
    Boussole__V1__Assignment *m = bsl_arena_alloc(a, sizeof(*m));
    if (m == NULL) {
        return NULL;
    }
    boussole__v1__assignment__init(m);
    m->id = bsl_arena_strdup(a, id);
    m->bilan_id = bsl_arena_strdup(a, bilan_id);
    m->instrument_id = bsl_arena_strdup(a, qn_hash_str(h, "instrument"));
    m->instrument_version = (uint32_t)qn_hash_num(h, "version");
    m->title = bsl_arena_strdup(a, qn_hash_str(h, "title"));
    m->due_date = bsl_arena_strdup(a, qn_hash_str(h, "due"));
    m->status = (Boussole__V1__AssignmentStatus)qn_hash_num(h, "status");
    m->answered_count = (uint32_t)qn_hash_num(h, "answered");
    m->item_count = (uint32_t)qn_hash_num(h, "items");
    m->assigned_by = bsl_arena_strdup(a, qn_hash_str(h, "assigned_by"));
    m->reopen_count = (uint32_t)qn_hash_num(h, "reopens");
    m->create_time = bsl_pb_timestamp(a, qn_hash_num(h, "create_ms"));
    m->update_time = bsl_pb_timestamp(a, qn_hash_num(h, "update_ms"));
    if (m->status == BOUSSOLE__V1__ASSIGNMENT_STATUS__ASSIGNMENT_STATUS_SUBMITTED) {
        m->submit_time = bsl_pb_timestamp(a, qn_hash_num(h, "submit_ms"));
    }
    if (!m->id || !m->bilan_id || !m->instrument_id || !m->title || !m->due_date ||
        !m->assigned_by || !m->create_time || !m->update_time) {
        return NULL;
    }
    return m;
}

bool qn_check_answers(qn_op *op, const qn_instrument *ins, Boussole__V1__Answer *const *answers,
                      size_t n, const char *field)
{
    uint8_t seen[QN_MAX_ITEMS] = { 0 };
    for (size_t i = 0; i < n; i++) {
        const Boussole__V1__Answer *a = answers[i];
        char fname[128];
        snprintf(fname, sizeof(fname), "%s[%zu] (%.40s)", field, i, a->item_id);
        int idx = qn_instrument_item(ins, a->item_id);
        if (idx < 0) {
            qn_op_fail_field(op, fname, "not an item of %s v%u", ins->def->id, ins->def->version);
            return false;
        }
        if (seen[idx]) {
            qn_op_fail_field(op, fname, "item answered twice in one request");
            return false;
        }
        seen[idx] = 1;
        char why[200];
        if (!qn_answer_check(&ins->items[idx], a, why, sizeof(why))) {
            qn_op_fail_field(op, fname, "%s", why);
            return false;
        }
    }
    return true;
}

redisReply *qn_reply_copy(bsl_arena *a, const redisReply *r)
{
    redisReply *c = bsl_arena_calloc(a, 1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->type = r->type;
    c->integer = r->integer;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
        r->type == REDIS_REPLY_ERROR) {
        if ((c->str = bsl_arena_strndup(a, r->str, r->len)) == NULL) {
            return NULL;
        }
        c->len = r->len;
    } else if (r->type == REDIS_REPLY_ARRAY) {
        c->elements = r->elements;
        c->element = bsl_arena_calloc(a, r->elements ? r->elements : 1, sizeof(redisReply *));
        if (c->element == NULL) {
            return NULL;
        }
        for (size_t i = 0; i < r->elements; i++) {
            if ((c->element[i] = qn_reply_copy(a, r->element[i])) == NULL) {
                return NULL;
            }
        }
    }
    return c;
}
