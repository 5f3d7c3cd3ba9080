/*
 * The hours ledger. Minutes spent are kept per phase in the bilan's hash (mm_<phase> for
 * attended meetings, om_<phase> for other accompanied time), changed only by the checked write
 * (store.c) that also writes the record they come from, which refuses any addition beyond the
 * planned hours (at most 24): the ceiling holds however many calls race.
 *
 * Other accompanied time is a plain list in bilan:{<id>}:hours (no free text: an activity
 * from a closed list), part of the administrative record kept after an erasure.
 */
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/clock.h"
#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "bounds.h"
#include "records.h"

const sess_list_kind sess_hours_kind = {
    .part = "hours",
    .kind = NULL,
    .desc = &boussole__sessions__hours_list__descriptor,
    .what = "accompanied time entry",
    .counter = "n_hours",
    .max = SESS_MAX_HOURS_ENTRIES,
};

static const sess_read hours_reads[] = { { "hours", "get", NULL } };

/* ---- RecordAccompaniedTime ---------------------------------------------------------- */

static void on_recorded(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    bsl_call_reply(op->call, op->ctx);
}

static void record_loaded(sess_op *op)
{
    const Boussole__V1__RecordAccompaniedTimeRequest *in = (const void *)bsl_call_request(op->call);
    const sess_bilan *b = &op->bilan;
    sess_list l;
    if (!sess_list_open(op, &sess_hours_kind, &op->parts[0], &l)) {
        return;
    }
    const char *id = sess_new_id(op, "hours");
    if (id == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    ProtobufCMessage *first = sess_list_find(&l, "id", id, NULL);
    if (first != NULL) {
        /* A repeated creation: the minutes were counted by the first one. */
        bsl_call_reply(op->call, first);
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    int phase = in->phase ? (int)in->phase : b->phase;
    if (phase > b->phase) {
        sess_fail_precondition(op, "PHASE_ORDER", "the bilan has not reached that phase yet");
        return;
    }
    long day = bsl_date_parse(in->date), first_day = bsl_date_parse(b->start_date);
    if (first_day >= 0 && day < first_day) {
        bsl_call_fail_field(op->call, "date", "before the bilan's first day (%s)", b->start_date);
        return;
    }
    if (day > sess_day_of_ms(op->now_ms)) {
        bsl_call_fail_field(op->call, "date", "in the future: record time once it was spent");
        return;
    }
    Boussole__V1__AccompaniedTime *t = bsl_arena_alloc(op->arena, sizeof(*t));
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (t == NULL || c == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    boussole__v1__accompanied_time__init(t);
    t->id = (char *)id;
    t->bilan_id = (char *)op->bilan_id;
    t->phase = (Boussole__V1__Phase)phase;
    t->date = in->date;
    t->minutes = in->minutes;
    t->activity = in->activity;
    t->recorded_by = op->caller->subject;
    t->create_time = bsl_pb_timestamp(op->arena, op->now_ms);
    if (t->create_time == NULL || !sess_list_append_put(op, c, &l, &t->base)) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->what = "accompanied time entries";
    sess_count(c, "n_hours", 1, SESS_MAX_HOURS_ENTRIES);
    c->minutes = sess_minutes_field(op, false, phase);
    c->minutes_delta = (int)in->minutes;
    op->ctx = t;
    sess_write(op, c, on_recorded);
}

static void record_start(sess_op *op)
{
    sess_load(op, hours_reads, 1, record_loaded);
}

SESS_HANDLER(record_accompanied_time, RecordAccompaniedTimeRequest, AccompaniedTime)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (bsl_check_enum(&chk, "phase", &boussole__v1__phase__descriptor, (int)in->phase, true) &&
        in->phase > BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP) {
        bsl_check_violation(&chk, "phase", "time counts in a phase from PRELIMINARY to FOLLOW_UP");
    }
    bsl_check_date(&chk, "date", in->date, false, NULL);
    bsl_check_range(&chk, "minutes", in->minutes, 1, SESS_MAX_ENTRY_MIN);
    bsl_check_enum(&chk, "activity", &boussole__v1__accompanied_activity__descriptor,
                   (int)in->activity, false);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_WRITE_HOURS);
    if (op != NULL) {
        /* The entries are one list: a concurrent change starts this over. */
        op->restart = record_start;
        record_start(op);
    }
}

/* ---- RemoveAccompaniedTime ---------------------------------------------------------- */

static void on_removed(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    Boussole__V1__RemoveAccompaniedTimeResponse out =
        BOUSSOLE__V1__REMOVE_ACCOMPANIED_TIME_RESPONSE__INIT;
    bsl_call_reply(op->call, &out.base);
}

static void remove_loaded(sess_op *op)
{
    const Boussole__V1__RemoveAccompaniedTimeRequest *in = (const void *)bsl_call_request(op->call);
    sess_list l;
    if (!sess_list_open(op, &sess_hours_kind, &op->parts[0], &l)) {
        return;
    }
    size_t at = 0;
    Boussole__V1__AccompaniedTime *t =
        (Boussole__V1__AccompaniedTime *)sess_list_find(&l, "id", in->entry_id, &at);
    if (t == NULL) {
        /* Not there (or removed by a first attempt): nothing to do. */
        on_removed(op, -1, NULL);
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    sess_list_remove_at(&l, at);
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (c == NULL || !sess_list_put(op, c, &l)) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->what = "accompanied time entries";
    sess_count(c, "n_hours", -1, SESS_MAX_HOURS_ENTRIES);
    c->minutes = sess_minutes_field(op, false, (int)t->phase);
    c->minutes_delta = -(int)t->minutes;
    sess_write(op, c, on_removed);
}

static void remove_start(sess_op *op)
{
    sess_load(op, hours_reads, 1, remove_loaded);
}

SESS_HANDLER(remove_accompanied_time, RemoveAccompaniedTimeRequest, RemoveAccompaniedTimeResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "entry_id", in->entry_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_WRITE_HOURS);
    if (op != NULL) {
        op->restart = remove_start;
        remove_start(op);
    }
}

/* ---- GetHoursLedger ----------------------------------------------------------------- */

static const sess_read ledger_reads[] = {
    { "meetings", "get", NULL },
    { "hours", "get", NULL },
};

static int by_date(const void *a, const void *b)
{
    const Boussole__V1__AccompaniedTime *x = *(Boussole__V1__AccompaniedTime *const *)a;
    const Boussole__V1__AccompaniedTime *y = *(Boussole__V1__AccompaniedTime *const *)b;
    int c = strcmp(x->date, y->date);
    return c != 0 ? c : strcmp(x->id, y->id);
}

size_t sess_hours_decode(sess_op *op, const sess_value *hours, Boussole__V1__AccompaniedTime ***out)
{
    sess_list l;
    *out = NULL;
    if (!sess_list_open(op, &sess_hours_kind, hours, &l)) {
        return 0;
    }
    if (*l.n > 1) {
        qsort(*l.items, *l.n, sizeof(**l.items), by_date);
    }
    *out = *l.n ? (Boussole__V1__AccompaniedTime **)*l.items
                : bsl_arena_calloc(op->arena, 1, sizeof(Boussole__V1__AccompaniedTime *));
    return *l.n;
}

static void ledger_loaded(sess_op *op)
{
    const sess_bilan *b = &op->bilan;
    Boussole__V1__HoursLedger out = BOUSSOLE__V1__HOURS_LEDGER__INIT;
    out.bilan_id = (char *)op->bilan_id;
    out.planned_minutes = sess_planned_minutes(b);
    out.spent_minutes = sess_spent_minutes(b);
    out.remaining_minutes = sess_remaining_minutes(b);
    Boussole__V1__PhaseMinutes *pm = bsl_arena_calloc(op->arena, SESS_PHASES, sizeof(*pm));
    out.phases = bsl_arena_calloc(op->arena, SESS_PHASES, sizeof(*out.phases));
    Boussole__V1__Meeting **all = NULL;
    size_t n = sess_meetings_decode(op, &op->parts[0], NULL, &all);
    out.attended_meetings = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(*out.attended_meetings));
    out.n_accompanied_time = sess_hours_decode(op, &op->parts[1], &out.accompanied_time);
    if (pm == NULL || out.phases == NULL || all == NULL || out.attended_meetings == NULL ||
        out.accompanied_time == NULL) {
        if (!bsl_call_answered(op->call)) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    for (int p = 1; p <= SESS_PHASES; p++) {
        boussole__v1__phase_minutes__init(&pm[p - 1]);
        pm[p - 1].phase = (Boussole__V1__Phase)p;
        pm[p - 1].meeting_minutes = b->meeting_minutes[p];
        pm[p - 1].other_minutes = b->other_minutes[p];
        out.phases[out.n_phases++] = &pm[p - 1];
    }
    for (size_t i = 0; i < n; i++) {
        if (all[i]->status == BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_ATTENDED) {
            out.attended_meetings[out.n_attended_meetings++] = all[i];
        }
    }
    bsl_call_reply(op->call, &out.base);
}

SESS_HANDLER(get_hours_ledger, GetHoursLedgerRequest, HoursLedger)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_READ_HOURS);
    if (op != NULL) {
        sess_load(op, ledger_reads, 2, ledger_loaded);
    }
}
