/* The internal methods other Boussole services call (policy internal: ROLE_SERVICE only). */
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/err.h"
#include "boussole/id.h"
#include "boussole/pbutil.h"
#include "keys.h"
#include "model.h"
#include "sessions.h"

/* ---- GetBilanAccess ----------------------------------------------------------------- */

static void on_access(const redisReply *reply, int err, void *arg)
{
    bsl_call *call = arg;
    const Boussole__V1__GetBilanAccessRequest *in = (const void *)bsl_call_request(call);
    if (err != BSL_OK) {
        bsl_call_fail_err(call, err, "reading the bilan");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 7) {
        bsl_call_fail(call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    if (reply->element[0]->type != REDIS_REPLY_STRING) {
        bsl_call_fail(call, BSL_STATUS_NOT_FOUND, "no such bilan");
        return;
    }
    bsl_arena *a = bsl_call_arena(call);
    Boussole__V1__BilanAccess out = BOUSSOLE__V1__BILAN_ACCESS__INIT;
    const char *v[7];
    for (int i = 0; i < 7; i++) {
        v[i] = reply->element[i]->type == REDIS_REPLY_STRING ? reply->element[i]->str : "";
    }
    out.bilan_id = (char *)in->bilan_id;
    out.beneficiary_id = bsl_arena_strdup(a, v[0]);
    out.counselor_id = bsl_arena_strdup(a, v[1]);
    out.organisation_id = bsl_arena_strdup(a, v[2]);
    out.phase = (Boussole__V1__Phase)atoi(v[3]);
    out.status = (Boussole__V1__BilanStatus)atoi(v[4]);
    out.end_date = bsl_arena_strdup(a, v[5]);
    if (v[6][0] != '\0') {
        out.end_time = bsl_pb_timestamp(a, strtoll(v[6], NULL, 10));
    }
    bsl_call_reply(call, &out.base);
}

SESS_HANDLER(get_bilan_access, GetBilanAccessRequest, BilanAccess)
{
    (void)closure;
    sessions_app *app = sessions_of(service);
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    char key[SESSIONS_KEY_MAX];
    key_bilan(key, in->bilan_id);
    int rv = bsl_redis_command(app->redis, bsl_call_remaining_ms(call), on_access, call,
                               "HMGET %s beneficiary counselor organisation phase status "
                               "end_date end_ms",
                               key);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "reading the bilan");
    }
}

/* ---- ReportQuestionnaireCompleted --------------------------------------------------- */

/* Records the assignment in the bilan's set of completed ones, and their count in the
 * bilan's hash (for Bilan.progress); unknown bilans are refused. */
static const char report_questionnaire_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOT_FOUND') end\n"
    "redis.call('SADD', KEYS[2], ARGV[1])\n"
    "local n = redis.call('SCARD', KEYS[2])\n"
    "redis.call('HSET', KEYS[1], 'questionnaires', n)\n"
    "return n\n";

static void on_reported(const redisReply *reply, int err, void *arg)
{
    bsl_call *call = arg;
    if (err != BSL_OK) {
        bsl_call_fail_err(call, err, "recording the questionnaire");
        return;
    }
    if (bsl_redis_is_error(reply)) {
        bsl_call_fail(call, BSL_STATUS_NOT_FOUND, "no such bilan");
        return;
    }
    Boussole__V1__ReportQuestionnaireCompletedResponse out =
        BOUSSOLE__V1__REPORT_QUESTIONNAIRE_COMPLETED_RESPONSE__INIT;
    out.completed_count = (uint32_t)reply->integer;
    bsl_call_reply(call, &out.base);
}

SESS_HANDLER(report_questionnaire_completed, ReportQuestionnaireCompletedRequest,
             ReportQuestionnaireCompletedResponse)
{
    (void)closure;
    sessions_app *app = sessions_of(service);
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "assignment_id", in->assignment_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    char k1[SESSIONS_KEY_MAX], k2[SESSIONS_KEY_MAX];
    key_bilan(k1, in->bilan_id);
    key_part(k2, in->bilan_id, "questionnaires");
    const char *argv[] = { k1, k2, in->assignment_id };
    size_t lens[] = { strlen(k1), strlen(k2), strlen(in->assignment_id) };
    int rv = bsl_redis_eval(app->redis, app->report_questionnaire, bsl_call_remaining_ms(call),
                            on_reported, call, 2, 3, argv, lens);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "recording the questionnaire");
    }
}

/* ---- ReportSynthesisFinalised ------------------------------------------------------- */

static const char report_synthesis_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOT_FOUND') end\n"
    "redis.call('HSET', KEYS[1], 'synthesis_id', ARGV[1], 'synthesis_version', ARGV[2])\n"
    "return 1\n";

static void on_synthesis_reported(const redisReply *reply, int err, void *arg)
{
    bsl_call *call = arg;
    if (err != BSL_OK) {
        bsl_call_fail_err(call, err, "recording the synthesis");
        return;
    }
    if (bsl_redis_is_error(reply)) {
        bsl_call_fail(call, BSL_STATUS_NOT_FOUND, "no such bilan");
        return;
    }
    Boussole__V1__ReportSynthesisFinalisedResponse out =
        BOUSSOLE__V1__REPORT_SYNTHESIS_FINALISED_RESPONSE__INIT;
    bsl_call_reply(call, &out.base);
}

SESS_HANDLER(report_synthesis_finalised, ReportSynthesisFinalisedRequest,
             ReportSynthesisFinalisedResponse)
{
    (void)closure;
    sessions_app *app = sessions_of(service);
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "synthesis_id", in->synthesis_id);
    bsl_check_range(&chk, "version", in->version, 1, 1000000);
    if (!bsl_check_end(&chk)) {
        return;
    }
    char k1[SESSIONS_KEY_MAX], ver[16];
    key_bilan(k1, in->bilan_id);
    snprintf(ver, sizeof(ver), "%u", in->version);
    const char *argv[] = { k1, in->synthesis_id, ver };
    size_t lens[] = { strlen(k1), strlen(in->synthesis_id), strlen(ver) };
    int rv = bsl_redis_eval(app->redis, app->report_synthesis, bsl_call_remaining_ms(call),
                            on_synthesis_reported, call, 1, 3, argv, lens);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "recording the synthesis");
    }
}

/* ---- ListEndedBilans ---------------------------------------------------------------- */

/* Ended bilans are in the zset bilans:ended (member: id, score: end time in ms), which
 * EraseBilanData leaves. The page token is the cursor of the last entry answered (store.c's
 * page script), so that the retention sweep, which erases each page before asking for the
 * next, skips nothing. Each entry's beneficiary is read from its bilan (pipelined). */
typedef struct ended_op {
    bsl_call *call;
    Boussole__V1__ListEndedBilansResponse out;
    size_t pending;
    int err;
} ended_op;

typedef struct ended_slot {
    ended_op *e;
    Boussole__V1__EndedBilan *entry;
} ended_slot;

static void ended_done(ended_op *e)
{
    if (e->err != BSL_OK) {
        bsl_call_fail_err(e->call, e->err, "listing ended bilans");
        return;
    }
    bsl_call_reply(e->call, &e->out.base);
}

static void on_beneficiary(const redisReply *reply, int err, void *arg)
{
    ended_slot *s = arg;
    ended_op *e = s->e;
    if (err != BSL_OK) {
        e->err = err;
    } else if (reply->type == REDIS_REPLY_STRING) {
        s->entry->beneficiary_id = bsl_arena_strdup(bsl_call_arena(e->call), reply->str);
        if (s->entry->beneficiary_id == NULL) {
            e->err = BSL_ENOMEM;
            s->entry->beneficiary_id = "";
        }
    }
    if (--e->pending == 0) {
        ended_done(e);
    }
}

static void on_ended(const redisReply *reply, int err, void *arg)
{
    ended_op *e = arg;
    bsl_call *call = e->call;
    const Boussole__V1__ListEndedBilansRequest *in = (const void *)bsl_call_request(call);
    if (err != BSL_OK) {
        bsl_call_fail_err(call, err, "listing ended bilans");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
        bsl_call_fail(call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    bsl_arena *a = bsl_call_arena(call);
    size_t n = reply->elements / 2;
    uint32_t size = in->page && in->page->page_size ? in->page->page_size : 20;
    e->out.bilans = bsl_arena_calloc(a, n ? n : 1, sizeof(*e->out.bilans));
    ended_slot *slots = bsl_arena_calloc(a, n ? n : 1, sizeof(*slots));
    if (e->out.bilans == NULL || slots == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    const char *last_id = "", *last_score = "";
    for (size_t i = 0; i < n; i++) {
        const redisReply *m = reply->element[2 * i], *sc = reply->element[2 * i + 1];
        Boussole__V1__EndedBilan *b = bsl_arena_alloc(a, sizeof(*b));
        if (b == NULL || m->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING) {
            bsl_call_fail(call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
            return;
        }
        boussole__v1__ended_bilan__init(b);
        b->bilan_id = bsl_arena_strdup(a, m->str);
        b->beneficiary_id = "";
        b->end_time = bsl_pb_timestamp(a, strtoll(sc->str, NULL, 10));
        if (b->bilan_id == NULL || b->end_time == NULL) {
            bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        e->out.bilans[e->out.n_bilans++] = b;
        last_id = b->bilan_id;
        last_score = sc->str;
    }
    e->out.next_page_token =
        n == size ? bsl_arena_printf(a, "%lld:%s", strtoll(last_score, NULL, 10), last_id) : "";
    if (e->out.next_page_token == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (n == 0) {
        ended_done(e);
        return;
    }
    sessions_app *app = sessions_of((Boussole__V1__SessionService_Service *)bsl_call_service(call));
    e->pending = n;
    for (size_t i = 0; i < n; i++) {
        char key[SESSIONS_KEY_MAX];
        key_bilan(key, e->out.bilans[i]->bilan_id);
        slots[i] = (ended_slot){ e, e->out.bilans[i] };
        if (bsl_redis_command(app->redis, bsl_call_remaining_ms(call), on_beneficiary, &slots[i],
                              "HGET %s beneficiary", key) != BSL_OK) {
            e->err = BSL_ENOMEM;
            if (--e->pending == 0) {
                ended_done(e);
                return;
            }
        }
    }
}

SESS_HANDLER(list_ended_bilans, ListEndedBilansRequest, ListEndedBilansResponse)
{
    (void)closure;
    sessions_app *app = sessions_of(service);
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    uint32_t size = in->page && in->page->page_size ? in->page->page_size : 20;
    bsl_check_range(&chk, "page.page_size", size, 1, 100);
    int64_t cursor_score = 0;
    char cursor_id[BSL_ID_LEN + 1] = "";
    if (in->page && in->page->page_token[0] != '\0' &&
        !sess_cursor_parse(in->page->page_token, &cursor_score, cursor_id)) {
        bsl_check_violation(&chk, "page.page_token", "not a token this service gave");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    ended_op *e = bsl_arena_calloc(bsl_call_arena(call), 1, sizeof(*e));
    if (e == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    e->call = call;
    boussole__v1__list_ended_bilans_response__init(&e->out);
    char score[24] = "", before[24], count[16];
    if (cursor_id[0] != '\0') {
        snprintf(score, sizeof(score), "%lld", (long long)cursor_score);
    }
    snprintf(before, sizeof(before), "%lld",
             (long long)(in->ended_before ? bsl_pb_timestamp_ms(in->ended_before) : 0));
    snprintf(count, sizeof(count), "%u", size);
    const char *argv[] = { SESSIONS_ENDED_KEY, "asc", score, cursor_id, before, count };
    size_t lens[6];
    for (int i = 0; i < 6; i++) {
        lens[i] = strlen(argv[i]);
    }
    int rv = bsl_redis_eval(app->redis, app->page, bsl_call_remaining_ms(call), on_ended, e, 1, 6,
                            argv, lens);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "listing ended bilans");
    }
}

int sessions_internal_init(sessions_app *app)
{
    int rv =
        bsl_redis_script_add(app->redis, report_questionnaire_script, &app->report_questionnaire);
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, report_synthesis_script, &app->report_synthesis);
    }
    return rv;
}
