/*
 * The preliminary phase's records: the intake (what the beneficiary brings) and the roadmap.
 * Both are sealed whole with the bilan's data key; the bilan's hash keeps what the phase
 * guard needs (intake = 1, roadmap_steps = n).
 */
#include <string.h>

#include "boussole/check.h"
#include "boussole/clock.h"
#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "bounds.h"
#include "records.h"

static const sess_read intake_reads[] = { { "intake", "get", NULL } };
static const sess_read roadmap_reads[] = { { "roadmap", "get", NULL } };

/* The version of a sealed record read in parts[0] (0 when absent). False: answered. */
static bool stored_version(sess_op *op, const char *kind, const ProtobufCMessageDescriptor *d,
                           size_t version_offset, uint64_t *version, ProtobufCMessage **out)
{
    *version = 0;
    *out = NULL;
    if (op->parts[0].type != SESS_V_STR) {
        return true;
    }
    ProtobufCMessage *m = sess_open_msg(op, kind, NULL, d, &op->parts[0]);
    if (m == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored %s does not open", kind);
        return false;
    }
    *version = *(const uint64_t *)((const char *)m + version_offset);
    *out = m;
    return true;
}

/* A stale or missing version gets ABORTED, with what to send instead. */
static bool version_matches(sess_op *op, const char *what, uint64_t sent, uint64_t stored)
{
    if (sent == stored) {
        return true;
    }
    if (stored == 0) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED, "no %s exists yet: send version 0", what);
    } else {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "version %llu is stale (the %s is at version %llu): read it again",
                      (unsigned long long)sent, what, (unsigned long long)stored);
    }
    return false;
}

Boussole__V1__Intake *sess_intake_decode(sess_op *op, const sess_value *v)
{
    return (Boussole__V1__Intake *)sess_open_msg(op, "intake", NULL,
                                                 &boussole__v1__intake__descriptor, v);
}

Boussole__V1__Roadmap *sess_roadmap_decode(sess_op *op, const sess_value *v)
{
    return (Boussole__V1__Roadmap *)sess_open_msg(op, "roadmap", NULL,
                                                  &boussole__v1__roadmap__descriptor, v);
}

/* ---- intake ------------------------------------------------------------------------- */

static void on_intake_done(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    bsl_call_reply(op->call, op->ctx);
}

static void intake_keyed(sess_op *op)
{
    const Boussole__V1__RecordIntakeRequest *in = (const void *)bsl_call_request(op->call);
    uint64_t stored;
    ProtobufCMessage *old;
    if (!stored_version(op, "intake", &boussole__v1__intake__descriptor,
                        offsetof(Boussole__V1__Intake, version), &stored, &old) ||
        !version_matches(op, "intake", in->intake->version, stored)) {
        return;
    }
    Boussole__V1__Intake *n = bsl_arena_alloc(op->arena, sizeof(*n));
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (n == NULL || c == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    *n = *in->intake;
    n->base = (ProtobufCMessage)PROTOBUF_C_MESSAGE_INIT(&boussole__v1__intake__descriptor);
    n->bilan_id = (char *)op->bilan_id;
    n->version = stored + 1;
    n->updated_by = op->caller->subject;
    n->update_time = bsl_pb_timestamp(op->arena, op->now_ms);
    sess_blob sealed = sess_seal_msg(op, "intake", NULL, &n->base);
    if (n->update_time == NULL || sealed.data == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    const sess_value *cur = &op->parts[0];
    c->what = "intake";
    c->puts[0] =
        (sess_put){ "intake", NULL, SESS_PUT_CAS, { (const uint8_t *)cur->str, cur->len }, sealed };
    c->n_puts = 1;
    c->sets[0] = "intake";
    c->sets[1] = "1";
    c->n_sets = 2;
    op->ctx = n;
    sess_write(op, c, on_intake_done);
}

static void intake_write_loaded(sess_op *op)
{
    if (sess_require_active(op)) {
        sess_with_key(op, true, intake_keyed);
    }
}

SESS_HANDLER(record_intake, RecordIntakeRequest, Intake)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    const Boussole__V1__Intake *i = in->intake;
    if (i == NULL) {
        bsl_check_violation(&chk, "intake", "required");
    } else {
        bsl_check_id(&chk, "intake.bilan_id", i->bilan_id);
        bsl_check_text(&chk, "intake.current_situation", i->current_situation, 1,
                       SESS_MAX_INTAKE_TEXT);
        bsl_check_text(&chk, "intake.reasons", i->reasons, 1, SESS_MAX_INTAKE_TEXT);
        bsl_check_text(&chk, "intake.to_transform", i->to_transform, 0, SESS_MAX_INTAKE_TEXT);
        bsl_check_text(&chk, "intake.expectations", i->expectations, 0, SESS_MAX_INTAKE_TEXT);
        bsl_check_text(&chk, "intake.questions", i->questions, 0, SESS_MAX_INTAKE_TEXT);
        bsl_check_text(&chk, "intake.doubts", i->doubts, 0, SESS_MAX_INTAKE_TEXT);
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), i->bilan_id, SESS_ACT_WRITE_INTAKE);
    if (op != NULL) {
        sess_load(op, intake_reads, 1, intake_write_loaded);
    }
}

static void intake_read_keyed(sess_op *op)
{
    ProtobufCMessage *m =
        sess_open_msg(op, "intake", NULL, &boussole__v1__intake__descriptor, &op->parts[0]);
    if (m == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored intake does not open");
        return;
    }
    bsl_call_reply(op->call, m);
}

static void intake_read_loaded(sess_op *op)
{
    if (op->parts[0].type != SESS_V_STR) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no intake recorded");
        return;
    }
    sess_with_key(op, false, intake_read_keyed);
}

SESS_HANDLER(get_intake, GetIntakeRequest, Intake)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_READ_INTAKE);
    if (op != NULL) {
        sess_load(op, intake_reads, 1, intake_read_loaded);
    }
}

/* ---- roadmap ------------------------------------------------------------------------ */

static void on_roadmap_done(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    bsl_call_reply(op->call, op->ctx);
}

static void roadmap_keyed(sess_op *op)
{
    const Boussole__V1__SetRoadmapRequest *in = (const void *)bsl_call_request(op->call);
    uint64_t stored;
    ProtobufCMessage *old;
    if (!stored_version(op, "roadmap", &boussole__v1__roadmap__descriptor,
                        offsetof(Boussole__V1__Roadmap, version), &stored, &old) ||
        !version_matches(op, "roadmap", in->version, stored)) {
        return;
    }
    Boussole__V1__Roadmap *r = bsl_arena_alloc(op->arena, sizeof(*r));
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    const char *steps = bsl_arena_printf(op->arena, "%zu", in->n_steps);
    if (r == NULL || c == NULL || steps == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    boussole__v1__roadmap__init(r);
    r->bilan_id = (char *)op->bilan_id;
    r->steps = in->steps;
    r->n_steps = in->n_steps;
    r->version = stored + 1;
    r->update_time = bsl_pb_timestamp(op->arena, op->now_ms);
    sess_blob sealed = sess_seal_msg(op, "roadmap", NULL, &r->base);
    if (r->update_time == NULL || sealed.data == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    const sess_value *cur = &op->parts[0];
    c->what = "roadmap";
    c->puts[0] = (sess_put){
        "roadmap", NULL, SESS_PUT_CAS, { (const uint8_t *)cur->str, cur->len }, sealed
    };
    c->n_puts = 1;
    c->sets[0] = "roadmap_steps";
    c->sets[1] = steps;
    c->n_sets = 2;
    op->ctx = r;
    sess_write(op, c, on_roadmap_done);
}

static void roadmap_write_loaded(sess_op *op)
{
    if (sess_require_active(op)) {
        sess_with_key(op, true, roadmap_keyed);
    }
}

SESS_HANDLER(set_roadmap, SetRoadmapRequest, Roadmap)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (in->n_steps == 0) {
        bsl_check_violation(&chk, "steps", "at least one step");
    }
    bsl_check_count(&chk, "steps", in->n_steps, SESS_MAX_ROADMAP_STEPS);
    int last_phase = 0;
    long last_date = -1;
    for (size_t i = 0; i < in->n_steps && i < SESS_MAX_ROADMAP_STEPS; i++) {
        const Boussole__V1__RoadmapStep *s = in->steps[i];
        char f[64];
        snprintf(f, sizeof(f), "steps[%zu].phase", i);
        if (bsl_check_enum(&chk, f, &boussole__v1__phase__descriptor, (int)s->phase, false)) {
            if (s->phase > BOUSSOLE__V1__PHASE__PHASE_FOLLOW_UP) {
                bsl_check_violation(&chk, f,
                                    "a step belongs to a phase from PRELIMINARY to "
                                    "FOLLOW_UP");
            } else if ((int)s->phase < last_phase) {
                bsl_check_violation(&chk, f, "steps are ordered by phase");
            } else {
                last_phase = (int)s->phase;
            }
        }
        snprintf(f, sizeof(f), "steps[%zu].title", i);
        bsl_check_text(&chk, f, s->title, 1, SESS_MAX_STEP_TITLE);
        snprintf(f, sizeof(f), "steps[%zu].tools", i);
        if (s->n_tools == 0) {
            bsl_check_violation(&chk, f, "at least one tool");
        }
        if (bsl_check_count(&chk, f, s->n_tools, SESS_MAX_STEP_TOOLS)) {
            for (size_t t = 0; t < s->n_tools; t++) {
                char ft[80];
                snprintf(ft, sizeof(ft), "steps[%zu].tools[%zu]", i, t);
                bsl_check_enum(&chk, ft, &boussole__v1__roadmap_tool__descriptor, (int)s->tools[t],
                               false);
                for (size_t u = 0; u < t; u++) {
                    if (s->tools[u] == s->tools[t]) {
                        bsl_check_violation(&chk, ft, "listed twice");
                        break;
                    }
                }
            }
        }
        snprintf(f, sizeof(f), "steps[%zu].planned_date", i);
        long d = -1;
        if (bsl_check_date(&chk, f, s->planned_date, true, &d) && d >= 0) {
            if (d < last_date) {
                bsl_check_violation(&chk, f, "before the planned date of an earlier step");
            } else {
                last_date = d;
            }
        }
        snprintf(f, sizeof(f), "steps[%zu].status", i);
        bsl_check_enum(&chk, f, &boussole__v1__roadmap_step_status__descriptor, (int)s->status,
                       false);
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_WRITE_ROADMAP);
    if (op != NULL) {
        sess_load(op, roadmap_reads, 1, roadmap_write_loaded);
    }
}

static void roadmap_read_keyed(sess_op *op)
{
    ProtobufCMessage *m =
        sess_open_msg(op, "roadmap", NULL, &boussole__v1__roadmap__descriptor, &op->parts[0]);
    if (m == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored roadmap does not open");
        return;
    }
    bsl_call_reply(op->call, m);
}

static void roadmap_read_loaded(sess_op *op)
{
    if (op->parts[0].type != SESS_V_STR) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no roadmap set");
        return;
    }
    sess_with_key(op, false, roadmap_read_keyed);
}

SESS_HANDLER(get_roadmap, GetRoadmapRequest, Roadmap)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_READ_ROADMAP);
    if (op != NULL) {
        sess_load(op, roadmap_reads, 1, roadmap_read_loaded);
    }
}
