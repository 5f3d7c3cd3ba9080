/*
 * Phases: AdvancePhase and the history. The guards are evaluated by the Lua script that makes
 * the change, so that what they look at cannot change between the check and the write; the
 * script answers the list of what is missing, which becomes one PreconditionViolation each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "keys.h"
#include "bounds.h"
#include "store.h"

/*
 * KEYS: the bilan, its history, its meetings, its completed questionnaires.
 * ARGV: target, now, actor role, actor subject, waive ('1'/'0'), follow-up meeting id, its
 * entry in the meetings list, its start (ms). The meetings list is a MeetingList (store.proto)
 * and appending an encoded entry of its repeated field to the bytes appends the meeting.
 * Answers {'SAME', hash} when the bilan is already in the target phase, {'REFUSED', type...}
 * or {'DONE', hash}.
 */
static const char advance_script[] =
    "local h = redis.call('HMGET', KEYS[1], 'status', 'phase', 'funding', 'agr', 'intake',\n"
    "                     'roadmap_steps', 'synthesis_id', 'follow_up_ms')\n"
    "if not h[1] then return redis.error_reply('NOT_FOUND') end\n"
    "local phase, target = tonumber(h[2]), tonumber(ARGV[1])\n"
    "if phase == target then return {'SAME', redis.call('HGETALL', KEYS[1])} end\n"
    "if h[1] ~= '1' then return {'REFUSED', 'BILAN_ENDED'} end\n"
    "if not (target == phase + 1 or (target == 5 and phase == 3)) then\n"
    "  return {'REFUSED', 'PHASE_ORDER'}\n"
    "end\n"
    "local missing = {'REFUSED'}\n"
    "if target == 2 then\n"
    "  if h[5] ~= '1' then missing[#missing + 1] = 'INTAKE_MISSING' end\n"
    "  if tonumber(h[6] or '0') < 1 then missing[#missing + 1] = 'ROADMAP_MISSING' end\n"
    "  if h[3] == '2' and h[4] ~= '3' then\n"
    "    missing[#missing + 1] = 'AGREEMENT_NOT_ACCEPTED'\n"
    "  end\n"
    "elseif target == 3 then\n"
    "  if redis.call('SCARD', KEYS[4]) < 1 and ARGV[5] ~= '1' then\n"
    "    missing[#missing + 1] = 'QUESTIONNAIRE_MISSING'\n"
    "  end\n"
    "else\n"
    "  if not h[7] or h[7] == '' then missing[#missing + 1] = 'SYNTHESIS_NOT_FINALISED' end\n"
    "  if target == 5 and phase == 4 and tonumber(ARGV[2]) < tonumber(h[8] or '0') then\n"
    "    missing[#missing + 1] = 'FOLLOW_UP_PENDING'\n"
    "  end\n"
    "end\n"
    "if #missing > 1 then return missing end\n"
    "local waived = '0'\n"
    "if target == 3 and ARGV[5] == '1' then\n"
    "  waived = '1'\n"
    "  redis.call('HSET', KEYS[1], 'waiver', '1')\n"
    "end\n"
    "if target == 4 then\n"
    "  redis.call('APPEND', KEYS[3], ARGV[7])\n"
    "  redis.call('HINCRBY', KEYS[1], 'n_meetings', 1)\n"
    "  redis.call('HSET', KEYS[1], 'follow_up_id', ARGV[6], 'follow_up_ms', ARGV[8])\n"
    "end\n"
    "if target == 5 then redis.call('HSET', KEYS[1], 'status', '2', 'end_ms', ARGV[2]) end\n"
    "redis.call('HSET', KEYS[1], 'phase', ARGV[1], 'update_ms', ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[1], 'version', 1)\n"
    "redis.call('RPUSH', KEYS[2], h[2] .. '|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3] ..\n"
    "           '|' .. ARGV[4] .. '|' .. waived .. '|0')\n"
    "return {'DONE', redis.call('HGETALL', KEYS[1])}\n";

int sessions_phase_init(sessions_app *app)
{
    return bsl_redis_script_add(app->redis, advance_script, &app->advance_phase);
}

static const char *phase_name(int phase)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&boussole__v1__phase__descriptor, phase);
    return v ? v->name : "PHASE_UNSPECIFIED";
}

/* What a missing guard means, for the violation's description. */
static void add_violation(sess_op *op, int target, const char *type)
{
    const sess_bilan *b = &op->bilan;
    char why[256];
    if (strcmp(type, "BILAN_ENDED") == 0) {
        snprintf(why, sizeof(why), "the bilan has ended (%s)", phase_name(b->phase));
    } else if (strcmp(type, "PHASE_ORDER") == 0) {
        snprintf(why, sizeof(why),
                 "a bilan in %s cannot move to %s: phases go forward one at a time "
                 "(FOLLOW_UP may be skipped to CLOSED)",
                 phase_name(b->phase), phase_name(target));
    } else if (strcmp(type, "INTAKE_MISSING") == 0) {
        snprintf(why, sizeof(why), "the intake (current situation and reasons) is not recorded");
    } else if (strcmp(type, "ROADMAP_MISSING") == 0) {
        snprintf(why, sizeof(why), "the roadmap has no step");
    } else if (strcmp(type, "AGREEMENT_NOT_ACCEPTED") == 0) {
        switch (sess_agreement_status(b->agreement, b->agreement_deadline_ms, op->now_ms)) {
        case BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_PROPOSED:
            snprintf(why, sizeof(why),
                     "the tripartite agreement awaits the beneficiary's acceptance");
            break;
        case BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_REFUSED:
            snprintf(why, sizeof(why), "the beneficiary refused the tripartite agreement");
            break;
        case BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_EXPIRED:
            snprintf(why, sizeof(why),
                     "the tripartite agreement was not accepted within %d days (silence is "
                     "refusal)",
                     SESS_AGREEMENT_DAYS);
            break;
        default:
            snprintf(why, sizeof(why),
                     "a bilan funded by the employer's plan needs an accepted tripartite "
                     "agreement; none was proposed");
            break;
        }
    } else if (strcmp(type, "QUESTIONNAIRE_MISSING") == 0) {
        snprintf(why, sizeof(why),
                 "no questionnaire has been completed; complete one or waive the requirement "
                 "(waive_questionnaire)");
    } else if (strcmp(type, "SYNTHESIS_NOT_FINALISED") == 0) {
        snprintf(why, sizeof(why), "the synthesis is not finalised");
    } else if (strcmp(type, "FOLLOW_UP_PENDING") == 0) {
        char when[32];
        bsl_time_format(b->follow_up_ms, when, sizeof(when));
        snprintf(why, sizeof(why), "the follow-up meeting (%s) has not taken place yet", when);
    } else {
        snprintf(why, sizeof(why), "%s", type);
    }
    bsl_call_add_precondition_violation(op->call, type, op->bilan_id, why);
}

static void on_advanced(sess_op *op, const redisReply *reply)
{
    const Boussole__V1__AdvancePhaseRequest *in = (const void *)bsl_call_request(op->call);
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    if (strcmp(reply->element[0]->str, "REFUSED") == 0) {
        char missing[256] = "";
        size_t pos = 0;
        for (size_t i = 1; i < reply->elements; i++) {
            const redisReply *t = reply->element[i];
            if (t->type != REDIS_REPLY_STRING) {
                continue;
            }
            add_violation(op, (int)in->target, t->str);
            int n =
                snprintf(missing + pos, sizeof(missing) - pos, "%s%s", i > 1 ? ", " : "", t->str);
            if (n > 0 && (size_t)n < sizeof(missing) - pos) {
                pos += (size_t)n;
            }
        }
        bsl_call_fail(op->call, BSL_STATUS_FAILED_PRECONDITION, "cannot move to %s: %s",
                      phase_name((int)in->target), missing);
        return;
    }
    if (reply->elements != 2 || !sess_bilan_from_reply(op, reply->element[1])) {
        if (reply->elements != 2) {
            bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        }
        return;
    }
    /* Closed now, or already closed (a repeat): list it among ended bilans either way, so that
     * a repeat repairs a first attempt that stopped here. */
    sess_mark_ended(op, sess_reply_bilan);
}

static void advance_loaded(sess_op *op)
{
    const Boussole__V1__AdvancePhaseRequest *in = (const void *)bsl_call_request(op->call);
    const char *meeting_id = "";
    sess_blob record = { (const uint8_t *)"", 0 };
    int64_t start_ms = 0;
    if (in->target == BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP) {
        /* The follow-up meeting's id is derived from the bilan: repeating the transition
         * cannot schedule a second one. */
        char *id = bsl_arena_alloc(op->arena, BSL_ID_LEN + 1);
        Boussole__V1__Meeting m = BOUSSOLE__V1__MEETING__INIT;
        if (id == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        bsl_id_derive(id, "meeting", op->bilan_id, "follow-up");
        start_ms = bsl_pb_timestamp_ms(in->follow_up->start_time);
        m.id = id;
        m.phase = BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP;
        m.start_time = in->follow_up->start_time;
        m.duration_minutes = in->follow_up->duration_minutes;
        m.mode = in->follow_up->mode;
        m.status = BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_SCHEDULED;
        m.version = 1;
        m.follow_up = true;
        m.create_time = bsl_pb_timestamp(op->arena, op->now_ms);
        meeting_id = id;
        /* As the list stores it: without the bilan's id, which is the key's. */
        m.bilan_id = "";
        sess_blob packed = sess_pack(op, &m.base);
        uint8_t *entry = bsl_arena_alloc(op->arena, packed.len + 11);
        if (m.create_time == NULL || packed.data == NULL || entry == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        /* Field 1, length-delimited, then the length as a varint, then the meeting. */
        size_t n = 0;
        entry[n++] = 0x0a;
        for (size_t len = packed.len;; len >>= 7) {
            entry[n++] = (uint8_t)((len & 0x7f) | (len >= 0x80 ? 0x80 : 0));
            if (len < 0x80) {
                break;
            }
        }
        memcpy(entry + n, packed.data, packed.len);
        record = (sess_blob){ entry, n + packed.len };
    }
    sess_args x;
    sess_args_init(&x, op->arena, 12);
    sess_arg_key(&x, op->bilan_id, NULL);
    sess_arg_key(&x, op->bilan_id, "history");
    sess_arg_key(&x, op->bilan_id, "meetings");
    sess_arg_key(&x, op->bilan_id, "questionnaires");
    sess_argf(&x, "%d", (int)in->target);
    sess_argf(&x, "%lld", (long long)op->now_ms);
    sess_argf(&x, "%d", (int)op->caller->role);
    sess_arg(&x, op->caller->subject);
    sess_arg(&x, in->waive_questionnaire ? "1" : "0");
    sess_arg(&x, meeting_id);
    sess_argb(&x, record.data, record.len);
    sess_argf(&x, "%lld", (long long)start_ms);
    sess_eval(op, op->app->advance_phase, &x, 4, on_advanced);
}

SESS_HANDLER(advance_phase, AdvancePhaseRequest, Bilan)
{
    (void)closure;
    sessions_app *app = sessions_of(service);
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "id", in->id);
    if (bsl_check_enum(&chk, "target", &boussole__v1__phase__descriptor, (int)in->target, false) &&
        in->target == BOUSSOLE__V1__PHASE__PHASE_CANCELLED) {
        bsl_check_violation(&chk, "target", "a bilan is cancelled with CancelBilan");
    }
    if (in->waive_questionnaire && in->target != BOUSSOLE__V1__PHASE__PHASE_CONCLUSION) {
        bsl_check_violation(&chk, "waive_questionnaire", "only with target PHASE_CONCLUSION");
    }
    if (in->target == BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP) {
        const Boussole__V1__FollowUpMeeting *f = in->follow_up;
        int64_t now = bsl_clock_now_ms(app->clock);
        if (f == NULL) {
            bsl_check_violation(&chk, "follow_up", "required with target PHASE_FOLLOW_UP");
        } else {
            int64_t start = bsl_pb_timestamp_ms(f->start_time);
            if (f->start_time == NULL) {
                bsl_check_violation(&chk, "follow_up.start_time", "required");
            } else if (f->start_time->nanos < 0 || f->start_time->nanos > 999999999 ||
                       start <= now || start > now + SESS_MAX_AHEAD_DAYS * SESS_DAY_MS) {
                bsl_check_violation(&chk, "follow_up.start_time",
                                    "must be in the future, at most %d days ahead",
                                    SESS_MAX_AHEAD_DAYS);
            }
            bsl_check_range(&chk, "follow_up.duration_minutes", f->duration_minutes,
                            SESS_MIN_MEETING_MIN, SESS_MAX_MEETING_MIN);
            bsl_check_enum(&chk, "follow_up.mode", &boussole__v1__meeting_mode__descriptor,
                           (int)f->mode, false);
        }
    } else if (in->follow_up != NULL) {
        bsl_check_violation(&chk, "follow_up", "only with target PHASE_FOLLOW_UP");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, app, in->id, SESS_ACT_ADVANCE_PHASE);
    if (op != NULL) {
        sess_load(op, NULL, 0, advance_loaded);
    }
}

/* ---- ListPhaseTransitions ----------------------------------------------------------- */

static const sess_read history_reads[] = { { "history", "lrange", NULL } };

static void history_loaded(sess_op *op)
{
    const sess_value *list = &op->parts[0];
    Boussole__V1__ListPhaseTransitionsResponse out =
        BOUSSOLE__V1__LIST_PHASE_TRANSITIONS_RESPONSE__INIT;
    size_t n = list->type == SESS_V_ARR ? list->n : 0;
    out.transitions = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(*out.transitions));
    if (out.transitions == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (list->items[i].type != SESS_V_STR) {
            continue;
        }
        Boussole__V1__PhaseTransition *t = sess_transition_parse(op->arena, list->items[i].str);
        if (t == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "a history entry is unreadable");
            return;
        }
        out.transitions[out.n_transitions++] = t;
    }
    bsl_call_reply(op->call, &out.base);
}

SESS_HANDLER(list_phase_transitions, ListPhaseTransitionsRequest, ListPhaseTransitionsResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "id", in->id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->id, SESS_ACT_READ_HISTORY);
    if (op != NULL) {
        sess_load(op, history_reads, 1, history_loaded);
    }
}
