/*
 * GetSatisfactionStats: an organisation's satisfaction surveys aggregated over a period, for
 * the quality reporting that bilan providers owe their certification audits.
 *
 * SubmitAnswers puts every submitted satisfaction survey in its organisation's index
 * (keys.h: qnsat:{<organisation>}:<instrument>:<version>, "<bilan>:<assignment>" scored by
 * submission time). The index holds ids only: the answers stay sealed under each bilan's own
 * key, so a bilan erased (its key shredded, its keys deleted, its index entry removed) leaves
 * the statistics with it. The statistics are therefore computed when asked, survey by survey:
 * an admin's report, not a hot path; QN_SATISFACTION_MAX bounds one call.
 *
 * The index is a superset of what is counted: a survey reopened, or one whose submission
 * failed after it was indexed, is skipped until it is submitted again; an entry whose
 * assignment no longer exists (an erasure that stopped half-way) is removed on the way.
 *
 * Anonymity: nothing is shown under QN_SATISFACTION_THRESHOLD respondents, free-text answers
 * are never included, and only the organisation's admins (and Boussole services) may ask.
 */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/log.h"
#include "keys.h"
#include "questionnaires.h"

/* Respondents needed before any aggregate shows. */
#define QN_SATISFACTION_THRESHOLD 5
/* Surveys one call may read (about 1 ms each with the bilan's key not cached). */
#define QN_SATISFACTION_MAX 5000

#define MS_PER_DAY 86400000LL

/* KEYS: assignment hash, answers hash. */
static const char read_survey_script[] =
    "return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}\n";

int qn_satisfaction_init(qn_app *app)
{
    return bsl_redis_script_add(app->redis, read_survey_script, &app->read_survey);
}

typedef struct sat_ctx {
    Boussole__V1__SatisfactionStats out;
    char key[QN_KEY_MAX];
    char min[24], max[24];
    redisReply *members;                             /* the index's entries in the period, copied */
    size_t next;                                     /* the next entry to read */
    char bilan[BSL_ID_LEN + 1], asg[BSL_ID_LEN + 1]; /* the entry being read */
    redisReply *answers;                             /* its answers hash, copied */
    Boussole__V1__NamedResponse **responses;
    size_t n_responses;
    size_t unreadable; /* surveys whose answers did not open: logged, not counted */
} sat_ctx;

static void read_next(qn_op *op);

/* Splits "<bilan>:<assignment>" into the context; false when it is not that. */
static bool parse_member(sat_ctx *sc, const redisReply *m)
{
    if (m->type != REDIS_REPLY_STRING || m->len != 2 * BSL_ID_LEN + 1 ||
        m->str[BSL_ID_LEN] != ':') {
        return false;
    }
    memcpy(sc->bilan, m->str, BSL_ID_LEN);
    sc->bilan[BSL_ID_LEN] = '\0';
    memcpy(sc->asg, m->str + BSL_ID_LEN + 1, BSL_ID_LEN);
    sc->asg[BSL_ID_LEN] = '\0';
    return bsl_id_valid(sc->bilan) && bsl_id_valid(sc->asg);
}

static void finish(qn_op *op)
{
    sat_ctx *sc = op->ctx;
    Boussole__V1__SatisfactionStats *out = &sc->out;
    out->respondents = (uint32_t)sc->n_responses;
    out->visible = sc->n_responses >= QN_SATISFACTION_THRESHOLD;
    out->answers_needed =
        out->visible ? 0 : (uint32_t)(QN_SATISFACTION_THRESHOLD - sc->n_responses);
    if (sc->unreadable > 0) {
        bsl_log_field f[] = {
            BSL_LOG_STR("organisation", out->organisation_id),
            BSL_LOG_STR("instrument", out->instrument_id),
            BSL_LOG_INT("unreadable", (long long)sc->unreadable),
        };
        bsl_log_with(bsl_call_log(op->call), BSL_LOG_WARN, bsl_call_request_id(op->call),
                     bsl_call_trace_id(op->call), f, 3,
                     "satisfaction surveys whose answers do not open were left out");
    }
    if (out->visible) {
        qn_feedback fb = { .responses = sc->responses, .n_responses = sc->n_responses };
        Boussole__V1__FeedbackSummary agg;
        boussole__v1__feedback_summary__init(&agg);
        if (!qn_feedback_aggregate(op, op->ins, &fb, &agg)) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        out->scales = agg.scales;
        out->n_scales = agg.n_scales;
        out->items = agg.items;
        out->n_items = agg.n_items;
        /* A sentence can tell who wrote it: free text stays with the counselor. */
        for (size_t i = 0; i < out->n_items; i++) {
            out->items[i]->texts = NULL;
            out->items[i]->n_texts = 0;
        }
    }
    qn_op_reply(op, &out->base);
}

/* The survey's answers, opened with its bilan's key, become one response. */
static void on_survey_dek(qn_op *op)
{
    sat_ctx *sc = op->ctx;
    const redisReply *h = sc->answers;
    if (op->dek == NULL) {
        read_next(op); /* its key is shredded: the bilan is being erased */
        return;
    }
    Boussole__V1__NamedResponse *r = bsl_arena_calloc(op->arena, 1, sizeof(*r));
    Boussole__V1__Answer **answers =
        bsl_arena_calloc(op->arena, h->elements / 2 + 1, sizeof(*answers));
    if (r == NULL || answers == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    boussole__v1__named_response__init(r);
    r->answers = answers;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i], *v = h->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            qn_instrument_item(op->ins, k->str) < 0) {
            continue;
        }
        Boussole__V1__Answer *a = qn_open_answer(op, sc->bilan, sc->asg, k, v);
        if (a == NULL) {
            sc->unreadable++;
            read_next(op);
            return;
        }
        answers[r->n_answers++] = a;
    }
    sc->responses[sc->n_responses++] = r;
    read_next(op);
}

static void on_survey(qn_op *op)
{
    sat_ctx *sc = op->ctx;
    const redisReply *r = op->reply;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_ARRAY || r->element[1]->type != REDIS_REPLY_ARRAY) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    const redisReply *asg = r->element[0];
    if (asg->elements == 0) {
        /* The assignment is gone (an erasure that stopped before its last step). */
        char *member = bsl_arena_printf(op->arena, "%s:%s", sc->bilan, sc->asg);
        if (member == NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        QN_CMD(op, read_next, "cleaning the satisfaction index", "ZREM", sc->key, member);
        return;
    }
    const Boussole__V1__Instrument *d = op->ins->def;
    if (qn_hash_num(asg, "status") !=
            BOUSSOLE__V1__ASSIGNMENT_STATUS__ASSIGNMENT_STATUS_SUBMITTED ||
        strcmp(qn_hash_str(asg, "instrument"), d->id) != 0 ||
        qn_hash_num(asg, "version") != (long long)d->version) {
        read_next(op); /* reopened, or never submitted: not counted */
        return;
    }
    if ((sc->answers = qn_reply_copy(op->arena, r->element[1])) == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_dek(op, sc->bilan, false, on_survey_dek);
}

static void read_next(qn_op *op)
{
    sat_ctx *sc = op->ctx;
    while (sc->next < sc->members->elements) {
        if (!parse_member(sc, sc->members->element[sc->next++])) {
            continue; /* not written by SubmitAnswers: never counted */
        }
        char *asg = bsl_arena_alloc(op->arena, QN_KEY_MAX),
             *ans = bsl_arena_alloc(op->arena, QN_KEY_MAX);
        if (asg == NULL || ans == NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        qn_key_bilan_sub(asg, sc->bilan, "asg", sc->asg);
        qn_key_bilan_sub(ans, sc->bilan, "ans", sc->asg);
        const char *argv[] = { asg, ans };
        qn_op_eval(op, op->app->read_survey, on_survey, "reading a survey", 2, 2, argv, NULL);
        return;
    }
    finish(op);
}

static void on_members(qn_op *op)
{
    sat_ctx *sc = op->ctx;
    if (op->reply->type != REDIS_REPLY_ARRAY) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    sc->members = qn_reply_copy(op->arena, op->reply);
    sc->responses = bsl_arena_calloc(op->arena, op->reply->elements + 1, sizeof(*sc->responses));
    if (sc->members == NULL || sc->responses == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    read_next(op);
}

static void on_count(qn_op *op)
{
    sat_ctx *sc = op->ctx;
    if (op->reply->type != REDIS_REPLY_INTEGER) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    if (op->reply->integer > QN_SATISFACTION_MAX) {
        qn_op_fail_precondition(op, "TOO_MANY_SURVEYS", sc->out.organisation_id,
                                "%lld surveys in the period, more than %d: ask for a shorter one",
                                op->reply->integer, QN_SATISFACTION_MAX);
        return;
    }
    QN_CMD(op, on_members, "listing the surveys", "ZRANGEBYSCORE", sc->key, sc->min, sc->max);
}

static void on_instrument(qn_op *op)
{
    sat_ctx *sc = op->ctx;
    const Boussole__V1__Instrument *d = op->ins->def;
    if (d->purpose != BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_SATISFACTION) {
        qn_op_fail_field(op, "instrument_id", "%s is not a satisfaction survey", d->id);
        return;
    }
    sc->out.instrument_version = d->version;
    qn_key_satisfaction(sc->key, sc->out.organisation_id, d->id, d->version);
    QN_CMD(op, on_count, "counting the surveys", "ZCOUNT", sc->key, sc->min, sc->max);
}

QN_HANDLER(qn_get_satisfaction_stats, Boussole__V1__GetSatisfactionStatsRequest,
           Boussole__V1__SatisfactionStats)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    long from = -1, to = -1;
    bsl_check_subject(&chk, "organisation_id", in->organisation_id);
    bsl_check_text(&chk, "instrument_id", in->instrument_id, 1, QN_MAX_ID);
    /* Both checked, so that both violations are reported. */
    bool from_ok = bsl_check_date(&chk, "from_date", in->from_date, true, &from);
    bool to_ok = bsl_check_date(&chk, "to_date", in->to_date, true, &to);
    if (from_ok && to_ok && from >= 0 && to >= 0 && to < from) {
        bsl_check_violation(&chk, "to_date", "must not be before from_date");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    bool admin = c->role == BOUSSOLE__V1__ROLE__ROLE_ADMIN && c->organisation != NULL &&
                 strcmp(c->organisation, in->organisation_id) == 0;
    if (!admin && c->role != BOUSSOLE__V1__ROLE__ROLE_SERVICE) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "only an admin of the organisation may read its satisfaction results");
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    sat_ctx *sc = op ? bsl_arena_calloc(op->arena, 1, sizeof(*sc)) : NULL;
    if (sc == NULL) {
        if (op != NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    op->ctx = sc;
    boussole__v1__satisfaction_stats__init(&sc->out);
    sc->out.organisation_id = in->organisation_id;
    sc->out.instrument_id = in->instrument_id;
    sc->out.from_date = in->from_date;
    sc->out.to_date = in->to_date;
    /* Submission times in ms, both days included. */
    if (from >= 0) {
        snprintf(sc->min, sizeof(sc->min), "%lld", (long long)from * MS_PER_DAY);
    } else {
        snprintf(sc->min, sizeof(sc->min), "-inf");
    }
    if (to >= 0) {
        snprintf(sc->max, sizeof(sc->max), "%lld", ((long long)to + 1) * MS_PER_DAY - 1);
    } else {
        snprintf(sc->max, sizeof(sc->max), "+inf");
    }
    qn_op_instrument(op, in->instrument_id, in->instrument_version, on_instrument);
}
