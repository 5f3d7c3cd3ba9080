/* The internal methods other Boussole services call (policy internal: ROLE_SERVICE only). */
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/err.h"
#include "boussole/id.h"
#include "boussole/pbutil.h"
#include "keys.h"
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

void sessions_get_bilan_access(Boussole__V1__SessionService_Service *service,
                               const Boussole__V1__GetBilanAccessRequest *in,
                               Boussole__V1__BilanAccess_Closure closure, void *closure_data)
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

/* Records the assignment in the bilan's set of completed ones; unknown bilans are refused. */
static const char report_questionnaire_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOT_FOUND') end\n"
    "redis.call('SADD', KEYS[2], ARGV[1])\n"
    "return redis.call('SCARD', KEYS[2])\n";

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

void sessions_report_questionnaire_completed(
    Boussole__V1__SessionService_Service *service,
    const Boussole__V1__ReportQuestionnaireCompletedRequest *in,
    Boussole__V1__ReportQuestionnaireCompletedResponse_Closure closure, void *closure_data)
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
    snprintf(k2, sizeof(k2), "bilan:{%s}:questionnaires", in->bilan_id);
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

void sessions_report_synthesis_finalised(
    Boussole__V1__SessionService_Service *service,
    const Boussole__V1__ReportSynthesisFinalisedRequest *in,
    Boussole__V1__ReportSynthesisFinalisedResponse_Closure closure, void *closure_data)
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

/* Ended bilans are in the zset "bilans:ended" (member: id, score: end time in ms). The page
 * token is the offset of the next page. */
static void on_ended(const redisReply *reply, int err, void *arg)
{
    bsl_call *call = arg;
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
    Boussole__V1__ListEndedBilansResponse out = BOUSSOLE__V1__LIST_ENDED_BILANS_RESPONSE__INIT;
    size_t n = reply->elements / 2;
    uint32_t size = in->page && in->page->page_size ? in->page->page_size : 20;
    out.bilans = bsl_arena_calloc(a, n ? n : 1, sizeof(*out.bilans));
    for (size_t i = 0; out.bilans && i < n; i++) {
        Boussole__V1__EndedBilan *e = bsl_arena_alloc(a, sizeof(*e));
        if (e == NULL) {
            break;
        }
        boussole__v1__ended_bilan__init(e);
        e->bilan_id = bsl_arena_strdup(a, reply->element[2 * i]->str);
        e->beneficiary_id = "";
        e->end_time = bsl_pb_timestamp(a, strtoll(reply->element[2 * i + 1]->str, NULL, 10));
        out.bilans[out.n_bilans++] = e;
    }
    long offset = in->page && in->page->page_token[0] ? strtol(in->page->page_token, NULL, 10) : 0;
    out.next_page_token = n == size ? bsl_arena_printf(a, "%ld", offset + (long)n) : "";
    bsl_call_reply(call, &out.base);
}

void sessions_list_ended_bilans(Boussole__V1__SessionService_Service *service,
                                const Boussole__V1__ListEndedBilansRequest *in,
                                Boussole__V1__ListEndedBilansResponse_Closure closure,
                                void *closure_data)
{
    (void)closure;
    sessions_app *app = sessions_of(service);
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    uint32_t size = in->page && in->page->page_size ? in->page->page_size : 20;
    bsl_check_range(&chk, "page.page_size", size, 1, 100);
    long offset = 0;
    if (in->page && in->page->page_token[0] != '\0') {
        char *end;
        offset = strtol(in->page->page_token, &end, 10);
        if (*end != '\0' || offset < 0 || offset > 100000000) {
            bsl_check_violation(&chk, "page.page_token", "not a token this service gave");
        }
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    long long before = in->ended_before ? bsl_pb_timestamp_ms(in->ended_before) : 0;
    int rv = bsl_redis_command(app->redis, bsl_call_remaining_ms(call), on_ended, call,
                               "ZRANGEBYSCORE bilans:ended -inf %lld WITHSCORES LIMIT %ld %u",
                               before, offset, size);
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
