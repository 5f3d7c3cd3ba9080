/*
 * Data protection: the export of everything held about a beneficiary, and the erasure of a
 * bilan's data (crypto-shredding of its data key, then deletion of its keys).
 */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/log.h"
#include "keys.h"
#include "questionnaires.h"

#define QN_EXPORT_MAX_BILANS 100

/* KEYS: meta, asgs, invs. ARGV: key prefix "qn:{<bilan>}:". Answers {beneficiary,
 * {id, asg hash, answers hash, results, notes}..., {id, inv hash, answers}...}. */
static const char dump_script[] =
    "local asgs = {}\n"
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do\n"
    "  asgs[#asgs + 1] = id\n"
    "  asgs[#asgs + 1] = redis.call('HGETALL', ARGV[1] .. 'asg:' .. id)\n"
    "  asgs[#asgs + 1] = redis.call('HGETALL', ARGV[1] .. 'ans:' .. id)\n"
    "  asgs[#asgs + 1] = redis.call('GET', ARGV[1] .. 'res:' .. id)\n"
    "  asgs[#asgs + 1] = redis.call('HVALS', ARGV[1] .. 'notes:' .. id)\n"
    "end\n"
    "local invs = {}\n"
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do\n"
    "  invs[#invs + 1] = id\n"
    "  invs[#invs + 1] = redis.call('HGETALL', ARGV[1] .. 'inv:' .. id)\n"
    "  invs[#invs + 1] = redis.call('GET', ARGV[1] .. 'fb:' .. id)\n"
    "end\n"
    "return {redis.call('HGET', KEYS[1], 'beneficiary') or '', asgs, invs}\n";

/* KEYS: meta, asgs, invs. ARGV: key prefix. Deletes every key of the bilan; answers {keys
 * deleted, beneficiary, {token hashes}, {satisfaction index, assignment, ...}} so the caller
 * can drop the pointers kept in other slots. */
static const char erase_script[] =
    "local n = 0\n"
    "local toks = {}\n"
    "local sats = {}\n"
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do\n"
    "  local sk = redis.call('HGET', ARGV[1] .. 'asg:' .. id, 'sat_key')\n"
    "  if sk then sats[#sats + 1] = sk; sats[#sats + 1] = id end\n"
    "  n = n + redis.call('DEL', ARGV[1] .. 'asg:' .. id, ARGV[1] .. 'ans:' .. id,\n"
    "                     ARGV[1] .. 'res:' .. id, ARGV[1] .. 'notes:' .. id)\n"
    "end\n"
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do\n"
    "  local t = redis.call('HGET', ARGV[1] .. 'inv:' .. id, 'token')\n"
    "  if t then toks[#toks + 1] = t end\n"
    "  n = n + redis.call('DEL', ARGV[1] .. 'inv:' .. id, ARGV[1] .. 'fb:' .. id)\n"
    "end\n"
    "local ben = redis.call('HGET', KEYS[1], 'beneficiary') or ''\n"
    "n = n + redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])\n"
    "return {n, ben, toks, sats}\n";

int qn_data_init(qn_app *app)
{
    int rv = bsl_redis_script_add(app->redis, dump_script, &app->dump_bilan);
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, erase_script, &app->erase);
    }
    return rv;
}

/* ---- ExportBeneficiaryData ------------------------------------------------------------------ */

typedef struct export_ctx {
    Boussole__V1__QuestionnairesExport out;
    char **bilans;
    size_t n_bilans, next;
    redisReply *dump;
    Boussole__V1__BilanQuestionnaires *current;
    qn_feedback fb;
} export_ctx;

static void export_next(qn_op *op);

static void export_done(qn_op *op)
{
    export_ctx *ec = op->ctx;
    qn_op_reply(op, &ec->out.base);
}

static void bilan_done(qn_op *op)
{
    export_ctx *ec = op->ctx;
    ec->out.bilans[ec->out.n_bilans++] = ec->current;
    export_next(op);
}

static void on_export_form(qn_op *op)
{
    export_ctx *ec = op->ctx;
    if (!qn_feedback_aggregate(op, op->ins, &ec->fb, ec->current->feedback)) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    /* The summary borrows the form's texts: keep it until the answer is sent. */
    if (qn_op_hold(op, op->ins) != BSL_OK) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->ins = NULL;
    bilan_done(op);
}

static int cmp_answer(const void *a, const void *b)
{
    const Boussole__V1__Answer *x = *(Boussole__V1__Answer *const *)a;
    const Boussole__V1__Answer *y = *(Boussole__V1__Answer *const *)b;
    return strcmp(x->item_id, y->item_id);
}

/* Opens one assignment of the dump: its answers (by item id) and its results with notes. */
static bool open_assignment(qn_op *op, const char *bilan, const redisReply *const *e,
                            Boussole__V1__BilanQuestionnaires *bq)
{
    const redisReply *id = e[0], *h = e[1], *ans = e[2], *res = e[3], *notes = e[4];
    if (id->type != REDIS_REPLY_STRING || h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
        return true;
    }
    Boussole__V1__Answers *a = bsl_arena_alloc(op->arena, sizeof(*a));
    if (a == NULL) {
        return false;
    }
    boussole__v1__answers__init(a);
    a->assignment = qn_assignment_from_hash(op, bilan, id->str, h);
    size_t n = ans->type == REDIS_REPLY_ARRAY ? ans->elements / 2 : 0;
    a->answers = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(*a->answers));
    if (a->assignment == NULL || a->answers == NULL) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *k = ans->element[2 * i], *v = ans->element[2 * i + 1];
        Boussole__V1__Answer *x = qn_open_answer(op, bilan, id->str, k, v);
        if (x == NULL) {
            return false;
        }
        a->answers[a->n_answers++] = x;
    }
    qsort(a->answers, a->n_answers, sizeof(*a->answers), cmp_answer);
    bq->answers[bq->n_answers++] = a;
    if (res->type != REDIS_REPLY_STRING) {
        return true;
    }
    Boussole__V1__Results *r = (Boussole__V1__Results *)qn_open_msg(
        op, qn_ad(op, bilan, "results", id->str, NULL), &boussole__v1__results__descriptor,
        res->str, res->len);
    if (r == NULL) {
        return false;
    }
    size_t nn = notes->type == REDIS_REPLY_ARRAY ? notes->elements : 0;
    r->annotations = bsl_arena_calloc(op->arena, nn ? nn : 1, sizeof(*r->annotations));
    if (r->annotations == NULL) {
        return false;
    }
    for (size_t i = 0; i < nn; i++) {
        const redisReply *v = notes->element[i];
        Boussole__V1__Annotation *note = (Boussole__V1__Annotation *)qn_open_msg(
            op, qn_ad(op, bilan, "note", id->str, NULL), &boussole__v1__annotation__descriptor,
            v->str, v->len);
        if (note == NULL) {
            return false;
        }
        r->annotations[r->n_annotations++] = note;
    }
    bq->results[bq->n_results++] = r;
    return true;
}

static void on_export_dek(qn_op *op)
{
    export_ctx *ec = op->ctx;
    const char *bilan = ec->bilans[ec->next - 1];
    const redisReply *asgs = ec->dump->element[1], *invs = ec->dump->element[2];
    if (op->dek == NULL && (asgs->elements > 0 || invs->elements > 0)) {
        /* Shredded: nothing readable is left to export. */
        export_next(op);
        return;
    }
    bsl_arena *a = op->arena;
    Boussole__V1__BilanQuestionnaires *bq = bsl_arena_alloc(a, sizeof(*bq));
    size_t n = asgs->elements / 5;
    Boussole__V1__FeedbackSummary *fs = bsl_arena_alloc(a, sizeof(*fs));
    if (bq == NULL || fs == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    boussole__v1__bilan_questionnaires__init(bq);
    bq->bilan_id = (char *)bilan;
    bq->answers = bsl_arena_calloc(a, n ? n : 1, sizeof(*bq->answers));
    bq->results = bsl_arena_calloc(a, n ? n : 1, sizeof(*bq->results));
    if (bq->answers == NULL || bq->results == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!open_assignment(op, bilan, (const redisReply *const *)asgs->element + 5 * i, bq)) {
            qn_op_fail(op, BSL_STATUS_DATA_LOSS, "stored answers of bilan %s do not open", bilan);
            return;
        }
    }
    memset(&ec->fb, 0, sizeof(ec->fb));
    snprintf(op->access.bilan_id, sizeof(op->access.bilan_id), "%s", bilan);
    if (!qn_feedback_open(op, bilan, invs, &ec->fb)) {
        return;
    }
    bq->invitations = ec->fb.invitations;
    bq->n_invitations = ec->fb.n;
    bq->feedback = fs;
    ec->current = bq;
    const Boussole__V1__Invitation *form = qn_feedback_summary_init(op, bilan, &ec->fb, fs);
    if (form == NULL) {
        bilan_done(op);
        return;
    }
    qn_op_instrument(op, form->instrument_id, form->instrument_version, on_export_form);
}

static void on_dump(qn_op *op)
{
    export_ctx *ec = op->ctx;
    const redisReply *r = op->reply;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[1]->type != REDIS_REPLY_ARRAY || r->element[2]->type != REDIS_REPLY_ARRAY ||
        r->element[1]->elements % 5 != 0 || r->element[2]->elements % 3 != 0) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    const Boussole__V1__ExportBeneficiaryDataRequest *in = (const void *)bsl_call_request(op->call);
    if (r->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(r->element[0]->str, in->beneficiary_id) != 0) {
        export_next(op); /* a stale index entry: the bilan is not (or no longer) theirs */
        return;
    }
    if ((ec->dump = qn_reply_copy(op->arena, r)) == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_dek(op, ec->bilans[ec->next - 1], false, on_export_dek);
}

static void export_next(qn_op *op)
{
    export_ctx *ec = op->ctx;
    if (ec->next == ec->n_bilans) {
        export_done(op);
        return;
    }
    const char *bilan = ec->bilans[ec->next++];
    char meta[QN_KEY_MAX], asgs[QN_KEY_MAX], invs[QN_KEY_MAX], prefix[QN_KEY_MAX];
    qn_key_bilan(meta, bilan, "meta");
    qn_key_bilan(asgs, bilan, "asgs");
    qn_key_bilan(invs, bilan, "invs");
    snprintf(prefix, sizeof(prefix), "qn:{%s}:", bilan);
    const char *argv[] = { meta, asgs, invs, prefix };
    qn_op_eval(op, op->app->dump_bilan, on_dump, "reading the bilan", 3, 4, argv, NULL);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void on_bilans(qn_op *op)
{
    export_ctx *ec = op->ctx;
    const redisReply *r = op->reply;
    if (r->type != REDIS_REPLY_ARRAY) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    size_t n = r->elements < QN_EXPORT_MAX_BILANS ? r->elements : QN_EXPORT_MAX_BILANS;
    ec->bilans = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(char *));
    ec->out.bilans = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(*ec->out.bilans));
    if (ec->bilans == NULL || ec->out.bilans == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        if (e->type == REDIS_REPLY_STRING && bsl_id_valid(e->str)) {
            if ((ec->bilans[ec->n_bilans] = bsl_arena_strdup(op->arena, e->str)) == NULL) {
                qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
                return;
            }
            ec->n_bilans++;
        }
    }
    qsort(ec->bilans, ec->n_bilans, sizeof(char *), cmp_str);
    export_next(op);
}

QN_HANDLER(qn_export_beneficiary_data, Boussole__V1__ExportBeneficiaryDataRequest,
           Boussole__V1__QuestionnairesExport)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_subject(&chk, "beneficiary_id", in->beneficiary_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    bool self = c->role == BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY &&
                strcmp(c->subject, in->beneficiary_id) == 0;
    if (!self && c->role != BOUSSOLE__V1__ROLE__ROLE_SERVICE) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "a beneficiary exports their own data (or a Boussole service does)");
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    export_ctx *ec = op ? bsl_arena_calloc(op->arena, 1, sizeof(*ec)) : NULL;
    if (ec == NULL) {
        if (op != NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    boussole__v1__questionnaires_export__init(&ec->out);
    ec->out.beneficiary_id = in->beneficiary_id;
    op->ctx = ec;
    char key[QN_KEY_MAX];
    qn_key_beneficiary(key, in->beneficiary_id);
    QN_CMD(op, on_bilans, "listing the beneficiary's bilans", "SMEMBERS", key);
}

/* ---- EraseBilanData -------------------------------------------------------------------------- */

typedef struct erase_ctx {
    Boussole__V1__EraseBilanDataResponse out;
    redisReply *erased;
    size_t next_token;
    size_t next_sat; /* element index in the satisfaction pairs */
} erase_ctx;

static void on_dek_deleted(const redisReply *reply, int err, void *arg)
{
    qn_op *op = arg;
    erase_ctx *xc = op->ctx;
    const Boussole__V1__EraseBilanDataRequest *in = (const void *)bsl_call_request(op->call);
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        qn_op_fail_err(op, err != BSL_OK ? err : BSL_EIO, "destroying the data key");
        return;
    }
    xc->out.data_key_destroyed = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    bsl_dek_forget(op->app->keyring, in->bilan_id, BSL_SCOPE_QUESTIONNAIRES);
    bsl_log_field f[] = {
        BSL_LOG_STR("bilan_id", in->bilan_id),
        BSL_LOG_STR("reason", in->reason),
        BSL_LOG_INT("keys_deleted", xc->out.keys_deleted),
        BSL_LOG_INT("data_key_destroyed", xc->out.data_key_destroyed),
    };
    bsl_log_with(bsl_call_log(op->call), BSL_LOG_INFO, bsl_call_request_id(op->call),
                 bsl_call_trace_id(op->call), f, 4, "bilan questionnaire data erased");
    qn_op_reply(op, &xc->out.base);
}

static void destroy_key(qn_op *op)
{
    const Boussole__V1__EraseBilanDataRequest *in = (const void *)bsl_call_request(op->call);
    char key[BSL_SCOPE_NAME_MAX + 32];
    bsl_dek_key(key, sizeof(key), in->bilan_id, BSL_SCOPE_QUESTIONNAIRES);
    int rv = bsl_redis_command(op->app->keystore, bsl_call_remaining_ms(op->call), on_dek_deleted,
                               op, "DEL %s", key);
    if (rv != BSL_OK) {
        qn_op_fail_err(op, rv, "destroying the data key");
    }
}

static void drop_pointers(qn_op *op);

static void on_pointer_dropped(qn_op *op)
{
    erase_ctx *xc = op->ctx;
    if (op->reply->type == REDIS_REPLY_INTEGER) {
        xc->out.keys_deleted += (uint32_t)op->reply->integer;
    }
    drop_pointers(op);
}

/* The keys outside the bilan's slot: the organisation's satisfaction index entries, token
 * pointers, then the beneficiary's index entry. */
static void drop_pointers(qn_op *op)
{
    erase_ctx *xc = op->ctx;
    const Boussole__V1__EraseBilanDataRequest *in = (const void *)bsl_call_request(op->call);
    const redisReply *toks = xc->erased->element[2];
    const redisReply *sats = xc->erased->element[3];
    char key[QN_KEY_MAX];
    while (xc->next_sat + 1 < sats->elements) {
        const redisReply *k = sats->element[xc->next_sat], *id = sats->element[xc->next_sat + 1];
        xc->next_sat += 2;
        /* The index key was written by SubmitAnswers (qn_key_satisfaction); checked anyway. */
        if (k->type != REDIS_REPLY_STRING || id->type != REDIS_REPLY_STRING ||
            strncmp(k->str, "qnsat:{", 7) != 0 || k->len >= QN_KEY_MAX || !bsl_id_valid(id->str)) {
            continue;
        }
        char *member = bsl_arena_printf(op->arena, "%s:%s", in->bilan_id, id->str);
        if (member == NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        QN_CMD(op, drop_pointers, "updating the satisfaction index", "ZREM", k->str, member);
        return;
    }
    if (xc->next_token < toks->elements) {
        const redisReply *t = toks->element[xc->next_token++];
        if (t->type != REDIS_REPLY_STRING || strlen(t->str) != 64) {
            drop_pointers(op);
            return;
        }
        qn_key_token(key, t->str);
        QN_CMD(op, on_pointer_dropped, "deleting an invitation token", "DEL", key);
        return;
    }
    const redisReply *ben = xc->erased->element[1];
    if (xc->next_token == toks->elements && ben->type == REDIS_REPLY_STRING &&
        bsl_subject_valid(ben->str)) {
        xc->next_token++;
        qn_key_beneficiary(key, ben->str);
        QN_CMD(op, drop_pointers, "updating the beneficiary's index", "SREM", key, in->bilan_id);
        return;
    }
    destroy_key(op);
}

static void on_erased(qn_op *op)
{
    erase_ctx *xc = op->ctx;
    const redisReply *r = op->reply;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[2]->type != REDIS_REPLY_ARRAY ||
        r->element[3]->type != REDIS_REPLY_ARRAY) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    if ((xc->erased = qn_reply_copy(op->arena, r)) == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    xc->out.keys_deleted = (uint32_t)r->element[0]->integer;
    drop_pointers(op);
}

QN_HANDLER(qn_erase_bilan_data, Boussole__V1__EraseBilanDataRequest,
           Boussole__V1__EraseBilanDataResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_text(&chk, "reason", in->reason, 0, 200);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    erase_ctx *xc = op ? bsl_arena_calloc(op->arena, 1, sizeof(*xc)) : NULL;
    if (xc == NULL) {
        if (op != NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    boussole__v1__erase_bilan_data_response__init(&xc->out);
    xc->out.bilan_id = in->bilan_id;
    op->ctx = xc;
    char meta[QN_KEY_MAX], asgs[QN_KEY_MAX], invs[QN_KEY_MAX], prefix[QN_KEY_MAX];
    qn_key_bilan(meta, in->bilan_id, "meta");
    qn_key_bilan(asgs, in->bilan_id, "asgs");
    qn_key_bilan(invs, in->bilan_id, "invs");
    snprintf(prefix, sizeof(prefix), "qn:{%s}:", in->bilan_id);
    const char *argv[] = { meta, asgs, invs, prefix };
    qn_op_eval(op, op->app->erase, on_erased, "erasing the bilan's data", 3, 4, argv, NULL);
}
