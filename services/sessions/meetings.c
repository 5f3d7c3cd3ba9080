/*
 * Meetings, their sign-in record and their notes. The meetings' administrative record (when,
 * how long, how, which phase, who confirmed attendance and when) is a plain list in
 * bilan:{<id>}:meetings, kept after an erasure since quality audits ask for it. Notes are
 * sealed apart: the notes shared with the beneficiary in :meeting_notes, the counselor's
 * private notes in :private_notes (another key, so that nothing that reads a meeting for the
 * beneficiary ever opens them).
 *
 * A meeting becomes ATTENDED when both sides have confirmed; that second confirmation adds its
 * minutes to the hours ledger of its phase in the same checked write, which refuses it beyond
 * the planned hours.
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

static const char *const meeting_blanks[] = { "shared_notes", NULL };

const sess_list_kind sess_meetings_kind = {
    .part = "meetings",
    .kind = NULL,
    .desc = &boussole__sessions__meeting_list__descriptor,
    .what = "meeting",
    .counter = "n_meetings",
    .max = SESS_MAX_MEETINGS,
    .blank = meeting_blanks,
};

const sess_list_kind sess_shared_notes_kind = {
    .part = "meeting_notes",
    .kind = "meeting_notes",
    .desc = &boussole__sessions__shared_notes_list__descriptor,
    .what = "meeting notes",
};

const sess_list_kind sess_private_notes_kind = {
    .part = "private_notes",
    .kind = "private_notes",
    .desc = &boussole__sessions__private_notes_list__descriptor,
    .what = "private notes",
};

/* Timestamps a person may mean: 2000 to 2100. */
#define MIN_SANE_MS 946684800000LL
#define MAX_SANE_MS 4102444800000LL

/* The parts a meeting operation reads. */
enum { P_MEETINGS, P_NOTES, P_PRIVATE };

static const sess_read meeting_reads[] = {
    { "meetings", "get", NULL },
    { "meeting_notes", "get", NULL },
    { "private_notes", "get", NULL },
};

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

const char *sess_minutes_field(sess_op *op, bool meetings, int phase)
{
    return bsl_arena_printf(op->arena, "%s_%d", meetings ? "mm" : "om", phase);
}

static int by_start(const void *a, const void *b)
{
    const Boussole__V1__Meeting *x = *(Boussole__V1__Meeting *const *)a;
    const Boussole__V1__Meeting *y = *(Boussole__V1__Meeting *const *)b;
    int64_t s = bsl_pb_timestamp_ms(x->start_time), t = bsl_pb_timestamp_ms(y->start_time);
    return s < t ? -1 : s > t ? 1 : strcmp(x->id, y->id);
}

/* Sets each meeting's shared notes from the notes list (NULL: none). */
static void join_notes(const sess_list *meetings, const sess_list *notes)
{
    for (size_t i = 0; i < *meetings->n; i++) {
        Boussole__V1__Meeting *m = (Boussole__V1__Meeting *)(*meetings->items)[i];
        const Boussole__V1__Meeting *n =
            notes ? (const Boussole__V1__Meeting *)sess_list_find(notes, "id", m->id, NULL) : NULL;
        m->shared_notes = n ? n->shared_notes : "";
    }
}

size_t sess_meetings_decode(sess_op *op, const sess_value *meetings, const sess_value *notes,
                            Boussole__V1__Meeting ***out)
{
    sess_list ml, nl;
    *out = NULL;
    if (!sess_list_open(op, &sess_meetings_kind, meetings, &ml) ||
        (notes != NULL && !sess_list_open(op, &sess_shared_notes_kind, notes, &nl))) {
        return 0;
    }
    join_notes(&ml, notes ? &nl : NULL);
    if (*ml.n > 1) {
        qsort(*ml.items, *ml.n, sizeof(**ml.items), by_start);
    }
    *out = *ml.n ? (Boussole__V1__Meeting **)*ml.items
                 : bsl_arena_calloc(op->arena, 1, sizeof(Boussole__V1__Meeting *));
    return *ml.n;
}

/* The meeting as the caller may see it: shared notes for the beneficiary and the counselor,
 * none for an administrator. */
static void reply_meeting(sess_op *op, Boussole__V1__Meeting *m, const sess_list *notes)
{
    m->shared_notes = "";
    if ((op->rel == SESS_REL_BENEFICIARY || op->rel == SESS_REL_COUNSELOR) && notes != NULL) {
        const Boussole__V1__Meeting *n =
            (const Boussole__V1__Meeting *)sess_list_find(notes, "id", m->id, NULL);
        m->shared_notes = n ? n->shared_notes : "";
    }
    bsl_call_reply(op->call, &m->base);
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

/* ---- one meeting: reading, then writing ------------------------------------------------ */

/* What an operation on one meeting holds between its steps. */
typedef struct meeting_op {
    const char *meeting_id;
    sess_list meetings;
    sess_list notes;
    Boussole__V1__Meeting *m; /* the meeting in `meetings` */
    size_t at;
    sess_fn then; /* the operation's own step once the lists are open */
    bool with_notes;
} meeting_op;

static void on_meeting_written(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    meeting_op *mo = op->ctx;
    reply_meeting(op, mo->m, mo->with_notes ? &mo->notes : NULL);
}

/* Opens the lists, finds the meeting, then mo->then. */
static void meeting_keyed(sess_op *op)
{
    meeting_op *mo = op->ctx;
    if (!sess_list_open(op, &sess_meetings_kind, &op->parts[P_MEETINGS], &mo->meetings) ||
        !sess_list_open(op, &sess_shared_notes_kind, &op->parts[P_NOTES], &mo->notes)) {
        return;
    }
    mo->with_notes = true;
    mo->m = mo->meeting_id ? (Boussole__V1__Meeting *)sess_list_find(&mo->meetings, "id",
                                                                     mo->meeting_id, &mo->at)
                           : NULL;
    if (mo->meeting_id != NULL && mo->m == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such meeting");
        return;
    }
    mo->then(op);
}

static void meeting_loaded(sess_op *op)
{
    /* The data key only opens the shared notes for the answer: none, no key needed. */
    if (op->parts[P_NOTES].type == SESS_V_STR) {
        sess_with_key(op, false, meeting_keyed);
    } else {
        meeting_keyed(op);
    }
}

/* Loads the bilan, its meetings and their shared notes, then `then` with op->ctx a
 * meeting_op whose m is the meeting (meeting_id NULL: none looked for). */
static void load_meeting(sess_op *op, const char *meeting_id, sess_fn then)
{
    meeting_op *mo = bsl_arena_calloc(op->arena, 1, sizeof(*mo));
    if (mo == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    mo->meeting_id = meeting_id;
    mo->then = then;
    op->ctx = mo;
    sess_load(op, meeting_reads, 2, meeting_loaded);
}

/* A commit writing the meetings list (the meeting's version bumped). */
static sess_commit *meeting_commit(sess_op *op)
{
    meeting_op *mo = op->ctx;
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (c != NULL) {
        mo->m->version++;
        c->what = "meetings";
        if (!sess_list_put(op, c, &mo->meetings)) {
            c = NULL;
        }
    }
    if (c == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
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

/* ---- ScheduleMeeting ---------------------------------------------------------------- */

static void schedule_open(sess_op *op)
{
    const Boussole__V1__ScheduleMeetingRequest *in = (const void *)bsl_call_request(op->call);
    meeting_op *mo = op->ctx;
    const sess_bilan *b = &op->bilan;
    const char *id = sess_new_id(op, "meeting");
    if (id == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    Boussole__V1__Meeting *first =
        (Boussole__V1__Meeting *)sess_list_find(&mo->meetings, "id", id, NULL);
    if (first != NULL) {
        /* A repeated creation: answer what the first one made. */
        reply_meeting(op, first, NULL);
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    int phase = in->phase ? (int)in->phase : b->phase;
    if (phase < b->phase) {
        sess_fail_precondition(op, "PHASE_ORDER", "the bilan has already left that phase");
        return;
    }
    if (!start_fits(op, "start_time", bsl_pb_timestamp_ms(in->start_time)) ||
        !duration_fits(op, in->duration_minutes)) {
        return;
    }
    Boussole__V1__Meeting *m = bsl_arena_alloc(op->arena, sizeof(*m));
    if (m == NULL) {
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
    mo->m = m;
    mo->with_notes = false;
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (m->create_time == NULL || c == NULL ||
        !sess_list_append_put(op, c, &mo->meetings, &m->base)) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->what = "meetings";
    sess_count(c, "n_meetings", 1, SESS_MAX_MEETINGS);
    sess_write(op, c, on_meeting_written);
}

static void schedule_start(sess_op *op)
{
    load_meeting(op, NULL, schedule_open);
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
        /* Meetings of a bilan are one list: a concurrent change starts this over. */
        op->restart = schedule_start;
        schedule_start(op);
    }
}

/* ---- UpdateMeeting ------------------------------------------------------------------ */

static void update_open(sess_op *op)
{
    const Boussole__V1__UpdateMeetingRequest *in = (const void *)bsl_call_request(op->call);
    meeting_op *mo = op->ctx;
    Boussole__V1__Meeting *m = mo->m;
    if (!sess_require_active(op)) {
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
    sess_commit *c = meeting_commit(op);
    if (c == NULL) {
        return;
    }
    if (m->follow_up) {
        /* The guard of closing waits for the follow-up's new time. */
        c->sets[0] = "follow_up_ms";
        c->sets[1] =
            bsl_arena_printf(op->arena, "%lld", (long long)bsl_pb_timestamp_ms(m->start_time));
        c->n_sets = c->sets[1] ? 2 : 0;
    }
    sess_write(op, c, on_meeting_written);
}

static void update_start(sess_op *op)
{
    const Boussole__V1__UpdateMeetingRequest *in = (const void *)bsl_call_request(op->call);
    load_meeting(op, in->meeting_id, update_open);
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
        op->restart = update_start;
        update_start(op);
    }
}

/* ---- CancelMeeting ------------------------------------------------------------------ */

static void cancel_open(sess_op *op)
{
    meeting_op *mo = op->ctx;
    Boussole__V1__Meeting *m = mo->m;
    if (m->status == BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_CANCELLED) {
        reply_meeting(op, m, &mo->notes);
        return;
    }
    if (!sess_require_active(op) || !untouched(op, m)) {
        return;
    }
    m->status = BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_CANCELLED;
    sess_commit *c = meeting_commit(op);
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

static void cancel_start(sess_op *op)
{
    const Boussole__V1__CancelMeetingRequest *in = (const void *)bsl_call_request(op->call);
    load_meeting(op, in->meeting_id, cancel_open);
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
        op->restart = cancel_start;
        cancel_start(op);
    }
}

/* ---- ConfirmAttendance -------------------------------------------------------------- */

static void confirm_open(sess_op *op)
{
    meeting_op *mo = op->ctx;
    Boussole__V1__Meeting *m = mo->m;
    bool beneficiary = op->rel == SESS_REL_BENEFICIARY;
    Boussole__V1__AttendanceConfirmation **mine =
        beneficiary ? &m->beneficiary_confirmation : &m->counselor_confirmation;
    if (*mine != NULL) {
        /* Confirmed already: a repeat changes nothing. */
        reply_meeting(op, m, &mo->notes);
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
    sess_commit *c = conf->time ? meeting_commit(op) : NULL;
    if (c == NULL) {
        return;
    }
    if (attended) {
        /* Its minutes go to the ledger in the same write, within the planned hours. */
        c->minutes = sess_minutes_field(op, true, (int)m->phase);
        c->minutes_delta = (int)m->duration_minutes;
    }
    sess_write(op, c, on_meeting_written);
}

static void confirm_start(sess_op *op)
{
    const Boussole__V1__ConfirmAttendanceRequest *in = (const void *)bsl_call_request(op->call);
    load_meeting(op, in->meeting_id, confirm_open);
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

static void notes_open(sess_op *op)
{
    const Boussole__V1__SetMeetingNotesRequest *in = (const void *)bsl_call_request(op->call);
    meeting_op *mo = op->ctx;
    Boussole__V1__Meeting *m = mo->m;
    if (!sess_require_active(op)) {
        return;
    }
    if (m->version != in->version) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "version %llu is stale (the meeting is at version %llu): read it again",
                      (unsigned long long)in->version, (unsigned long long)m->version);
        return;
    }
    size_t at = 0;
    Boussole__V1__Meeting *entry =
        (Boussole__V1__Meeting *)sess_list_find(&mo->notes, "id", m->id, &at);
    if (in->shared_notes[0] == '\0') {
        if (entry != NULL) {
            sess_list_remove_at(&mo->notes, at);
        }
    } else if (entry != NULL) {
        entry->shared_notes = in->shared_notes;
    } else {
        entry = bsl_arena_alloc(op->arena, sizeof(*entry));
        if (entry == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        boussole__v1__meeting__init(entry);
        entry->id = m->id;
        entry->shared_notes = in->shared_notes;
        if (!sess_list_append(op, &mo->notes, &entry->base)) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
    }
    sess_commit *c = meeting_commit(op);
    if (c == NULL) {
        return;
    }
    if (!sess_list_put(op, c, &mo->notes)) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_write(op, c, on_meeting_written);
}

static void notes_loaded(sess_op *op)
{
    /* Writing notes may be the bilan's first sealed value: the key is made if needed. */
    sess_with_key(op, true, meeting_keyed);
}

static void notes_start(sess_op *op)
{
    const Boussole__V1__SetMeetingNotesRequest *in = (const void *)bsl_call_request(op->call);
    meeting_op *mo = bsl_arena_calloc(op->arena, 1, sizeof(*mo));
    if (mo == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    mo->meeting_id = in->meeting_id;
    mo->then = notes_open;
    op->ctx = mo;
    sess_load(op, meeting_reads, 2, notes_loaded);
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
        op->restart = notes_start;
        notes_start(op);
    }
}

/* ---- ListMeetings ------------------------------------------------------------------- */

static void list_keyed(sess_op *op)
{
    bool notes = op->rel == SESS_REL_BENEFICIARY || op->rel == SESS_REL_COUNSELOR;
    Boussole__V1__ListMeetingsResponse out = BOUSSOLE__V1__LIST_MEETINGS_RESPONSE__INIT;
    out.n_meetings = sess_meetings_decode(op, &op->parts[P_MEETINGS],
                                          notes ? &op->parts[P_NOTES] : NULL, &out.meetings);
    if (out.meetings == NULL) {
        if (!bsl_call_answered(op->call)) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    bsl_call_reply(op->call, &out.base);
}

static void list_loaded(sess_op *op)
{
    bool notes = op->rel == SESS_REL_BENEFICIARY || op->rel == SESS_REL_COUNSELOR;
    if (notes && op->parts[P_NOTES].type == SESS_V_STR) {
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
        sess_load(op, meeting_reads, 2, list_loaded);
    }
}

/* ---- private notes ------------------------------------------------------------------ */

typedef struct private_op {
    const char *meeting_id;
    sess_list notes;
    Boussole__V1__PrivateNotes *p;
} private_op;

/* Opens the private notes list and finds (or makes, version 0) the meeting's entry. False:
 * answered. */
static bool private_open(sess_op *op, private_op *po)
{
    if (op->parts[P_MEETINGS].type != SESS_V_STR) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such meeting");
        return false;
    }
    sess_list meetings;
    if (!sess_list_open(op, &sess_meetings_kind, &op->parts[P_MEETINGS], &meetings)) {
        return false;
    }
    if (sess_list_find(&meetings, "id", po->meeting_id, NULL) == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such meeting");
        return false;
    }
    if (!sess_list_open(op, &sess_private_notes_kind, &op->parts[P_PRIVATE], &po->notes)) {
        return false;
    }
    po->p = (Boussole__V1__PrivateNotes *)sess_list_find(&po->notes, "meeting_id", po->meeting_id,
                                                         NULL);
    if (po->p == NULL) {
        po->p = bsl_arena_alloc(op->arena, sizeof(*po->p));
        if (po->p == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return false;
        }
        boussole__v1__private_notes__init(po->p);
        po->p->bilan_id = (char *)op->bilan_id;
        po->p->meeting_id = (char *)po->meeting_id;
    }
    return true;
}

static void on_private_written(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    private_op *po = op->ctx;
    bsl_call_reply(op->call, &po->p->base);
}

static void private_set_keyed(sess_op *op)
{
    const Boussole__V1__SetPrivateNotesRequest *in = (const void *)bsl_call_request(op->call);
    private_op *po = op->ctx;
    if (!private_open(op, po) || !sess_require_active(op)) {
        return;
    }
    Boussole__V1__PrivateNotes *p = po->p;
    if (p->version != in->version) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "version %llu is stale (the private notes are at version %llu): read them "
                      "again",
                      (unsigned long long)in->version, (unsigned long long)p->version);
        return;
    }
    bool is_new = p->version == 0;
    p->text = in->text;
    p->version++;
    p->update_time = bsl_pb_timestamp(op->arena, op->now_ms);
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (p->update_time == NULL || c == NULL ||
        (is_new && !sess_list_append(op, &po->notes, &p->base)) ||
        !sess_list_put(op, c, &po->notes)) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->what = "private notes";
    sess_write(op, c, on_private_written);
}

static void private_set_loaded(sess_op *op)
{
    sess_with_key(op, true, private_set_keyed);
}

static void private_set_start(sess_op *op)
{
    const Boussole__V1__SetPrivateNotesRequest *in = (const void *)bsl_call_request(op->call);
    private_op *po = bsl_arena_calloc(op->arena, 1, sizeof(*po));
    if (po == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    po->meeting_id = in->meeting_id;
    op->ctx = po;
    sess_load(op, meeting_reads, 3, private_set_loaded);
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
        op->restart = private_set_start;
        private_set_start(op);
    }
}

static void private_get_keyed(sess_op *op)
{
    private_op *po = op->ctx;
    if (private_open(op, po)) {
        bsl_call_reply(op->call, &po->p->base);
    }
}

static void private_get_loaded(sess_op *op)
{
    if (op->parts[P_PRIVATE].type == SESS_V_STR) {
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
    private_op *po = op ? bsl_arena_calloc(op->arena, 1, sizeof(*po)) : NULL;
    if (op != NULL && po == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (op != NULL) {
        po->meeting_id = in->meeting_id;
        op->ctx = po;
        sess_load(op, meeting_reads, 3, private_get_loaded);
    }
}
