/*
 * Meetings, their sign-in record and their notes. A meeting's administrative record (when,
 * how long, how, which phase, who confirmed attendance and when) is stored in clear in
 * bilan:{<id>}:meetings and kept after an erasure, since quality audits ask for it. Its notes
 * are sealed apart: the notes shared with the beneficiary in :meeting_notes, the counselor's
 * private notes in :private_notes (another key, so that nothing that reads a meeting can
 * reach them by mistake).
 *
 * A meeting becomes ATTENDED when both sides have confirmed; that second confirmation adds its
 * minutes to the hours ledger of its phase in the same script, which refuses it beyond the
 * planned hours.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/clock.h"
#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "bounds.h"
#include "records.h"
#include "store.h"

#define NOTES_KIND   "meeting_notes"
#define PRIVATE_KIND "private_notes"

/* Timestamps a person may mean: 2000 to 2100. */
#define MIN_SANE_MS 946684800000LL
#define MAX_SANE_MS 4102444800000LL

bool sess_check_time(bsl_check *chk, const char *field, const Google__Protobuf__Timestamp *ts,
                     bool required)
{
    if (ts == NULL) {
        return required ? bsl_check_violation(chk, field, "required") : true;
    }
    int64_t ms = bsl_pb_timestamp_ms(ts);
    if (ts->nanos < 0 || ts->nanos > 999999999 || ms < MIN_SANE_MS || ms > MAX_SANE_MS) {
        return bsl_check_violation(chk, field, "not a time between 2000 and 2100");
    }
    return true;
}

Boussole__V1__Meeting *sess_meeting_decode(sess_op *op, const sess_value *v)
{
    if (v == NULL || v->type != SESS_V_STR) {
        return NULL;
    }
    return (Boussole__V1__Meeting *)sess_unpack(op, &boussole__v1__meeting__descriptor, v->str,
                                                v->len);
}

char *sess_meeting_notes_open(sess_op *op, const char *meeting_id, const sess_value *v)
{
    if (v == NULL || v->type != SESS_V_STR) {
        return "";
    }
    return sess_open(op, NOTES_KIND, meeting_id, v->str, v->len, NULL);
}

static int by_start(const void *a, const void *b)
{
    const Boussole__V1__Meeting *x = *(Boussole__V1__Meeting *const *)a;
    const Boussole__V1__Meeting *y = *(Boussole__V1__Meeting *const *)b;
    int64_t s = bsl_pb_timestamp_ms(x->start_time), t = bsl_pb_timestamp_ms(y->start_time);
    return s < t ? -1 : s > t ? 1 : strcmp(x->id, y->id);
}

size_t sess_meetings_decode(sess_op *op, const sess_value *hash, const sess_value *notes,
                            Boussole__V1__Meeting ***out)
{
    size_t n = hash->type == SESS_V_ARR ? hash->n / 2 : 0;
    Boussole__V1__Meeting **list = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(*list));
    size_t k = 0;
    if (list == NULL) {
        *out = NULL;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        Boussole__V1__Meeting *m = sess_meeting_decode(op, &hash->items[2 * i + 1]);
        if (m == NULL) {
            continue;
        }
        if (notes != NULL) {
            char *text = sess_meeting_notes_open(op, m->id, sess_hash_get(notes, m->id));
            m->shared_notes = text ? text : "";
        }
        list[k++] = m;
    }
    qsort(list, k, sizeof(*list), by_start);
    *out = list;
    return k;
}

/* The meeting as the caller may see it: shared notes for the beneficiary and the counselor
 * (notes_value: their stored value, sealed), none for an administrator. */
static void reply_meeting(sess_op *op, Boussole__V1__Meeting *m, const sess_value *notes_value)
{
    m->shared_notes = "";
    if (op->rel == SESS_REL_BENEFICIARY || op->rel == SESS_REL_COUNSELOR) {
        char *t = sess_meeting_notes_open(op, m->id, notes_value);
        if (t == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the meeting's notes do not open");
            return;
        }
        m->shared_notes = t;
    }
    bsl_call_reply(op->call, &m->base);
}

/* Reads for one meeting: its record, its shared notes, its private notes. */
static const sess_read *meeting_reads(sess_op *op, const char *meeting_id)
{
    sess_read *r = bsl_arena_calloc(op->arena, 3, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r[0] = (sess_read){ "meetings", "hget", meeting_id };
    r[1] = (sess_read){ NOTES_KIND, "hget", meeting_id };
    r[2] = (sess_read){ PRIVATE_KIND, "hget", meeting_id };
    return r;
}

/* Loads one meeting then next: parts[0] its record, parts[1] its shared notes and, with
 * private set (the counselor's private notes calls), parts[2] its private notes. */
static void load_meeting(sess_op *op, const char *meeting_id, bool private, sess_fn next)
{
    const sess_read *r = meeting_reads(op, meeting_id);
    if (r == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_load(op, r, private ? 3 : 2, next);
}

/* The stored meeting of parts[0]; NULL when missing (answered NOT_FOUND). */
static Boussole__V1__Meeting *loaded_meeting(sess_op *op)
{
    if (op->parts[0].type != SESS_V_STR) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such meeting");
        return NULL;
    }
    Boussole__V1__Meeting *m = sess_meeting_decode(op, &op->parts[0]);
    if (m == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored meeting is unreadable");
    }
    return m;
}

/* The minutes field of a phase's meetings or other time: "mm_2", "om_1". */
const char *sess_minutes_field(sess_op *op, bool meetings, int phase)
{
    return bsl_arena_printf(op->arena, "%s_%d", meetings ? "mm" : "om", phase);
}

/* Checks a meeting's start against the bilan: not before its first day, at most two years
 * ahead. */
static bool start_fits(sess_op *op, const char *field, int64_t start_ms)
{
    long first = bsl_date_parse(op->bilan.start_date);
    if (first >= 0 && sess_day_of_ms(start_ms) < first) {
        bsl_call_fail_field(op->call, field, "before the bilan's first day (%s)",
                            op->bilan.start_date);
        return false;
    }
    if (start_ms > op->now_ms + SESS_MAX_AHEAD_DAYS * SESS_DAY_MS) {
        bsl_call_fail_field(op->call, field, "more than %d days ahead", SESS_MAX_AHEAD_DAYS);
        return false;
    }
    return true;
}

/* A meeting longer than what is left cannot be attended within the planned hours. */
static bool duration_fits(sess_op *op, uint32_t minutes)
{
    uint32_t left = sess_remaining_minutes(&op->bilan);
    if (minutes > left) {
        sess_fail_precondition(op, "HOURS_CEILING",
                               "a %u-minute meeting exceeds the %u minutes left of the %u "
                               "planned hours",
                               minutes, left, op->bilan.planned_hours);
        return false;
    }
    return true;
}

/* ---- ScheduleMeeting ---------------------------------------------------------------- */

static void on_scheduled(sess_op *op, int existing, const sess_value *v)
{
    Boussole__V1__Meeting *m = op->ctx;
    if (existing >= 0) {
        /* A repeated creation: answer what the first one made. */
        m = sess_meeting_decode(op, v);
        if (m == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored meeting is unreadable");
            return;
        }
    }
    reply_meeting(op, m, NULL);
}

static void schedule_loaded(sess_op *op)
{
    const Boussole__V1__ScheduleMeetingRequest *in = (const void *)bsl_call_request(op->call);
    const sess_bilan *b = &op->bilan;
    if (!sess_require_active(op)) {
        return;
    }
    int phase = in->phase ? (int)in->phase : b->phase;
    if (phase < b->phase) {
        sess_fail_precondition(op, "PHASE_ORDER", "the bilan has already left that phase");
        return;
    }
    int64_t start = bsl_pb_timestamp_ms(in->start_time);
    if (!start_fits(op, "start_time", start) || !duration_fits(op, in->duration_minutes)) {
        return;
    }
    Boussole__V1__Meeting *m = bsl_arena_alloc(op->arena, sizeof(*m));
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    const char *id = sess_new_id(op, "meeting");
    if (m == NULL || c == NULL || id == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    boussole__v1__meeting__init(m);
    m->id = (char *)id;
    m->bilan_id = (char *)op->bilan_id;
    m->phase = (Boussole__V1__Phase)phase;
    m->start_time = in->start_time;
    m->duration_minutes = in->duration_minutes;
    m->mode = in->mode;
    m->status = BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_SCHEDULED;
    m->version = 1;
    m->create_time = bsl_pb_timestamp(op->arena, op->now_ms);
    sess_blob rec = sess_pack(op, &m->base);
    if (m->create_time == NULL || rec.data == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->what = "meetings";
    c->puts[0] = (sess_put){ "meetings", id, SESS_PUT_NEW, { NULL, 0 }, rec };
    c->n_puts = 1;
    sess_count(c, "n_meetings", 1, SESS_MAX_MEETINGS);
    op->ctx = m;
    sess_write(op, c, on_scheduled);
}

SESS_HANDLER(schedule_meeting, ScheduleMeetingRequest, Meeting)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (bsl_check_enum(&chk, "phase", &boussole__v1__phase__descriptor, (int)in->phase, true) &&
        in->phase > BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP) {
        bsl_check_violation(&chk, "phase",
                            "a meeting belongs to a phase from PRELIMINARY to "
                            "FOLLOW_UP");
    }
    sess_check_time(&chk, "start_time", in->start_time, true);
    bsl_check_range(&chk, "duration_minutes", in->duration_minutes, SESS_MIN_MEETING_MIN,
                    SESS_MAX_MEETING_MIN);
    bsl_check_enum(&chk, "mode", &boussole__v1__meeting_mode__descriptor, (int)in->mode, false);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_MANAGE_MEETINGS);
    if (op != NULL) {
        sess_load(op, NULL, 0, schedule_loaded);
    }
}

/* ---- changes of one meeting: common commit ------------------------------------------ */

/* Writes m (its version bumped) in place of the loaded record parts[0], with optional extra
 * puts and hash settings, then answers it. */
static void on_meeting_written(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    reply_meeting(op, op->ctx, &op->parts[1]);
}

static sess_commit *meeting_commit(sess_op *op, Boussole__V1__Meeting *m)
{
    m->version++;
    sess_blob rec = sess_pack(op, &m->base);
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (rec.data == NULL || c == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    c->what = "meeting";
    c->puts[0] = (sess_put){ "meetings",
                             m->id,
                             SESS_PUT_CAS,
                             { (const uint8_t *)op->parts[0].str, op->parts[0].len },
                             rec };
    c->n_puts = 1;
    op->ctx = m;
    return c;
}

static bool untouched(sess_op *op, const Boussole__V1__Meeting *m)
{
    if (m->status == BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_CANCELLED) {
        sess_fail_precondition(op, "MEETING_CANCELLED", "the meeting was cancelled");
        return false;
    }
    if (m->beneficiary_confirmation != NULL || m->counselor_confirmation != NULL) {
        sess_fail_precondition(op, "MEETING_CONFIRMED",
                               "attendance has been confirmed: the meeting is part of the "
                               "sign-in record and cannot change");
        return false;
    }
    return true;
}

/* ---- UpdateMeeting ------------------------------------------------------------------ */

static void update_loaded(sess_op *op)
{
    const Boussole__V1__UpdateMeetingRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__Meeting *m = loaded_meeting(op);
    if (m == NULL || !sess_require_active(op)) {
        return;
    }
    if (m->version != in->version) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "version %llu is stale (the meeting is at version %llu): read it again",
                      (unsigned long long)in->version, (unsigned long long)m->version);
        return;
    }
    if (!untouched(op, m)) {
        return;
    }
    if (in->start_time != NULL) {
        if (!start_fits(op, "start_time", bsl_pb_timestamp_ms(in->start_time))) {
            return;
        }
        if (m->follow_up && bsl_pb_timestamp_ms(in->start_time) <= op->now_ms) {
            bsl_call_fail_field(op->call, "start_time", "the follow-up meeting is in the future");
            return;
        }
        m->start_time = in->start_time;
    }
    if (in->duration_minutes != 0) {
        if (!duration_fits(op, in->duration_minutes)) {
            return;
        }
        m->duration_minutes = in->duration_minutes;
    }
    if (in->mode != 0) {
        m->mode = in->mode;
    }
    sess_commit *c = meeting_commit(op, m);
    if (c == NULL) {
        return;
    }
    if (m->follow_up) {
        c->sets[0] = "follow_up_ms";
        c->sets[1] =
            bsl_arena_printf(op->arena, "%lld", (long long)bsl_pb_timestamp_ms(m->start_time));
        c->n_sets = c->sets[1] ? 2 : 0;
    }
    sess_write(op, c, on_meeting_written);
}

static void update_read(sess_op *op)
{
    sess_with_key(op, false, update_loaded);
}

SESS_HANDLER(update_meeting, UpdateMeetingRequest, Meeting)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "meeting_id", in->meeting_id);
    if (in->version == 0) {
        bsl_check_violation(&chk, "version", "required: the version read");
    }
    sess_check_time(&chk, "start_time", in->start_time, false);
    if (in->duration_minutes != 0) {
        bsl_check_range(&chk, "duration_minutes", in->duration_minutes, SESS_MIN_MEETING_MIN,
                        SESS_MAX_MEETING_MIN);
    }
    bsl_check_enum(&chk, "mode", &boussole__v1__meeting_mode__descriptor, (int)in->mode, true);
    if (in->start_time == NULL && in->duration_minutes == 0 && in->mode == 0) {
        bsl_check_violation(&chk, "start_time", "nothing to change: set at least one field");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_MANAGE_MEETINGS);
    if (op != NULL) {
        load_meeting(op, in->meeting_id, false, update_read);
    }
}

/* ---- CancelMeeting ------------------------------------------------------------------ */

static void cancel_keyed(sess_op *op)
{
    Boussole__V1__Meeting *m = loaded_meeting(op);
    if (m == NULL) {
        return;
    }
    if (m->status == BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_CANCELLED) {
        reply_meeting(op, m, &op->parts[1]);
        return;
    }
    if (!sess_require_active(op) || !untouched(op, m)) {
        return;
    }
    m->status = BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_CANCELLED;
    sess_commit *c = meeting_commit(op, m);
    if (c == NULL) {
        return;
    }
    if (m->follow_up) {
        /* No follow-up meeting to wait for any more: the bilan may close. */
        c->sets[0] = "follow_up_ms";
        c->sets[1] = "0";
        c->n_sets = 2;
    }
    sess_write(op, c, on_meeting_written);
}

static void cancel_read(sess_op *op)
{
    sess_with_key(op, false, cancel_keyed);
}

static void cancel_start(sess_op *op)
{
    const Boussole__V1__CancelMeetingRequest *in = (const void *)bsl_call_request(op->call);
    load_meeting(op, in->meeting_id, false, cancel_read);
}

SESS_HANDLER(cancel_meeting, CancelMeetingRequest, Meeting)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "meeting_id", in->meeting_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_MANAGE_MEETINGS);
    if (op != NULL) {
        /* The change is computed here from what was read: a concurrent change starts it
         * over. */
        op->restart = cancel_start;
        cancel_start(op);
    }
}

/* ---- ConfirmAttendance -------------------------------------------------------------- */

static void confirm_keyed(sess_op *op)
{
    Boussole__V1__Meeting *m = loaded_meeting(op);
    if (m == NULL) {
        return;
    }
    bool beneficiary = op->rel == SESS_REL_BENEFICIARY;
    Boussole__V1__AttendanceConfirmation **mine =
        beneficiary ? &m->beneficiary_confirmation : &m->counselor_confirmation;
    if (*mine != NULL) {
        /* Confirmed already: a repeat changes nothing. */
        reply_meeting(op, m, &op->parts[1]);
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    if (m->status == BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_CANCELLED) {
        sess_fail_precondition(op, "MEETING_CANCELLED", "the meeting was cancelled");
        return;
    }
    if (bsl_pb_timestamp_ms(m->start_time) > op->now_ms) {
        sess_fail_precondition(op, "MEETING_NOT_STARTED",
                               "attendance is confirmed once the meeting has begun");
        return;
    }
    Boussole__V1__AttendanceConfirmation *conf = bsl_arena_alloc(op->arena, sizeof(*conf));
    if (conf == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    boussole__v1__attendance_confirmation__init(conf);
    conf->subject_id = op->caller->subject;
    conf->time = bsl_pb_timestamp(op->arena, op->now_ms);
    *mine = conf;
    bool attended = m->beneficiary_confirmation != NULL && m->counselor_confirmation != NULL;
    if (attended) {
        m->status = BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_ATTENDED;
    }
    sess_commit *c = meeting_commit(op, m);
    if (c == NULL || conf->time == NULL) {
        if (c != NULL) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    if (attended) {
        /* Its minutes go to the ledger in the same write, within the planned hours. */
        c->minutes = sess_minutes_field(op, true, (int)m->phase);
        c->minutes_delta = (int)m->duration_minutes;
    }
    sess_write(op, c, on_meeting_written);
}

static void confirm_read(sess_op *op)
{
    sess_with_key(op, false, confirm_keyed);
}

static void confirm_start(sess_op *op)
{
    const Boussole__V1__ConfirmAttendanceRequest *in = (const void *)bsl_call_request(op->call);
    load_meeting(op, in->meeting_id, false, confirm_read);
}

SESS_HANDLER(confirm_attendance, ConfirmAttendanceRequest, Meeting)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "meeting_id", in->meeting_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op =
        sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_CONFIRM_ATTENDANCE);
    if (op != NULL) {
        /* Both sides may confirm at the same moment: the second write starts over. */
        op->restart = confirm_start;
        confirm_start(op);
    }
}

/* ---- SetMeetingNotes ---------------------------------------------------------------- */

static void notes_keyed(sess_op *op)
{
    const Boussole__V1__SetMeetingNotesRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__Meeting *m = loaded_meeting(op);
    if (m == NULL || !sess_require_active(op)) {
        return;
    }
    if (m->version != in->version) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "version %llu is stale (the meeting is at version %llu): read it again",
                      (unsigned long long)in->version, (unsigned long long)m->version);
        return;
    }
    sess_blob sealed = { NULL, 0 };
    if (in->shared_notes[0] != '\0') {
        sealed = sess_seal(op, NOTES_KIND, m->id, in->shared_notes, strlen(in->shared_notes));
        if (sealed.data == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
    }
    sess_commit *c = meeting_commit(op, m);
    if (c == NULL) {
        return;
    }
    c->puts[1] = (sess_put){ NOTES_KIND, m->id, SESS_PUT_SET, { NULL, 0 }, sealed };
    c->n_puts = 2;
    /* What the answer shows. */
    op->parts[1] = (sess_value){ .type = sealed.data ? SESS_V_STR : SESS_V_NIL,
                                 .str = (const char *)sealed.data,
                                 .len = sealed.len };
    sess_write(op, c, on_meeting_written);
}

static void notes_read(sess_op *op)
{
    sess_with_key(op, true, notes_keyed);
}

SESS_HANDLER(set_meeting_notes, SetMeetingNotesRequest, Meeting)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "meeting_id", in->meeting_id);
    if (in->version == 0) {
        bsl_check_violation(&chk, "version", "required: the version read");
    }
    bsl_check_text(&chk, "shared_notes", in->shared_notes, 0, SESS_MAX_SHARED_NOTES);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op =
        sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_WRITE_SHARED_NOTES);
    if (op != NULL) {
        load_meeting(op, in->meeting_id, false, notes_read);
    }
}

/* ---- ListMeetings ------------------------------------------------------------------- */

static const sess_read list_reads[] = {
    { "meetings", "hgetall", NULL },
    { NOTES_KIND, "hgetall", NULL },
};

static void list_keyed(sess_op *op)
{
    bool notes = op->rel == SESS_REL_BENEFICIARY || op->rel == SESS_REL_COUNSELOR;
    Boussole__V1__ListMeetingsResponse out = BOUSSOLE__V1__LIST_MEETINGS_RESPONSE__INIT;
    out.n_meetings =
        sess_meetings_decode(op, &op->parts[0], notes ? &op->parts[1] : NULL, &out.meetings);
    if (out.meetings == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    bsl_call_reply(op->call, &out.base);
}

static void list_loaded(sess_op *op)
{
    bool notes = op->rel == SESS_REL_BENEFICIARY || op->rel == SESS_REL_COUNSELOR;
    if (notes && op->parts[1].type == SESS_V_ARR && op->parts[1].n > 0) {
        sess_with_key(op, false, list_keyed);
    } else {
        list_keyed(op);
    }
}

SESS_HANDLER(list_meetings, ListMeetingsRequest, ListMeetingsResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_READ_MEETINGS);
    if (op != NULL) {
        sess_load(op, list_reads, 2, list_loaded);
    }
}

/* ---- private notes ------------------------------------------------------------------ */

/* The private notes of parts[2] (version 0 when none); NULL when they do not open. */
static Boussole__V1__PrivateNotes *loaded_private(sess_op *op, const char *meeting_id)
{
    Boussole__V1__PrivateNotes *p;
    if (op->parts[2].type == SESS_V_STR) {
        p = (Boussole__V1__PrivateNotes *)sess_open_msg(
            op, PRIVATE_KIND, meeting_id, &boussole__v1__private_notes__descriptor, &op->parts[2]);
        if (p == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the private notes do not open");
        }
        return p;
    }
    p = bsl_arena_alloc(op->arena, sizeof(*p));
    if (p == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    boussole__v1__private_notes__init(p);
    p->bilan_id = (char *)op->bilan_id;
    p->meeting_id = (char *)meeting_id;
    return p;
}

static void on_private_written(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    bsl_call_reply(op->call, op->ctx);
}

static void private_set_keyed(sess_op *op)
{
    const Boussole__V1__SetPrivateNotesRequest *in = (const void *)bsl_call_request(op->call);
    if (op->parts[0].type != SESS_V_STR) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such meeting");
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    Boussole__V1__PrivateNotes *p = loaded_private(op, in->meeting_id);
    if (p == NULL) {
        return;
    }
    if (p->version != in->version) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "version %llu is stale (the private notes are at version %llu): read them "
                      "again",
                      (unsigned long long)in->version, (unsigned long long)p->version);
        return;
    }
    p->text = in->text;
    p->version++;
    p->update_time = bsl_pb_timestamp(op->arena, op->now_ms);
    sess_blob sealed = sess_seal_msg(op, PRIVATE_KIND, in->meeting_id, &p->base);
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (p->update_time == NULL || sealed.data == NULL || c == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->what = "private notes";
    c->puts[0] = (sess_put){ PRIVATE_KIND,
                             in->meeting_id,
                             SESS_PUT_CAS,
                             { (const uint8_t *)op->parts[2].str, op->parts[2].len },
                             sealed };
    c->puts[1] = (sess_put){ "meetings", in->meeting_id, SESS_PUT_HAS, { NULL, 0 }, { NULL, 0 } };
    c->n_puts = 2;
    op->ctx = p;
    sess_write(op, c, on_private_written);
}

static void private_set_loaded(sess_op *op)
{
    sess_with_key(op, true, private_set_keyed);
}

SESS_HANDLER(set_private_notes, SetPrivateNotesRequest, PrivateNotes)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "meeting_id", in->meeting_id);
    bsl_check_text(&chk, "text", in->text, 0, SESS_MAX_PRIVATE_NOTES);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_PRIVATE_NOTES);
    if (op != NULL) {
        load_meeting(op, in->meeting_id, true, private_set_loaded);
    }
}

static void private_get_keyed(sess_op *op)
{
    const Boussole__V1__GetPrivateNotesRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__PrivateNotes *p = loaded_private(op, in->meeting_id);
    if (p != NULL) {
        bsl_call_reply(op->call, &p->base);
    }
}

static void private_get_loaded(sess_op *op)
{
    if (op->parts[0].type != SESS_V_STR) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such meeting");
        return;
    }
    if (op->parts[2].type == SESS_V_STR) {
        sess_with_key(op, false, private_get_keyed);
    } else {
        private_get_keyed(op);
    }
}

SESS_HANDLER(get_private_notes, GetPrivateNotesRequest, PrivateNotes)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "meeting_id", in->meeting_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_PRIVATE_NOTES);
    if (op != NULL) {
        load_meeting(op, in->meeting_id, true, private_get_loaded);
    }
}
