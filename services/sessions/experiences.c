/* The experiences inventory: records sealed whole in bilan:{<id>}:experiences (sealed.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/clock.h"
#include "boussole/err.h"
#include "bounds.h"
#include "records.h"

static const sess_record_kind experience_kind = {
    .part = "experiences",
    .kind = "experience",
    .what = "experience",
    .what_plural = "experiences",
    .desc = &boussole__v1__experience__descriptor,
    .counter = "n_experiences",
    .max = SESS_MAX_EXPERIENCES,
};

/* The fields a caller sets, under "experience.". */
static void check_experience(bsl_check *chk, const Boussole__V1__Experience *e, bool update)
{
    bsl_check_id(chk, "experience.bilan_id", e->bilan_id);
    if (update) {
        bsl_check_id(chk, "experience.id", e->id);
        if (e->version == 0) {
            bsl_check_violation(chk, "experience.version", "required: the version read");
        }
    }
    bsl_check_enum(chk, "experience.kind", &boussole__v1__experience_kind__descriptor, (int)e->kind,
                   false);
    bsl_check_text(chk, "experience.title", e->title, 1, SESS_MAX_TITLE);
    long start = -1, end = -1;
    bsl_check_date(chk, "experience.period_start", e->period_start, true, &start);
    bsl_check_date(chk, "experience.period_end", e->period_end, true, &end);
    if (start >= 0 && end >= 0 && end < start) {
        bsl_check_violation(chk, "experience.period_end", "must not be before period_start");
    }
    bsl_check_text(chk, "experience.description", e->description, 0, SESS_MAX_DESCRIPTION);
    if (bsl_check_count(chk, "experience.skills", e->n_skills, SESS_MAX_SKILLS)) {
        for (size_t i = 0; i < e->n_skills; i++) {
            char f[48];
            snprintf(f, sizeof(f), "experience.skills[%zu]", i);
            bsl_check_text(chk, f, e->skills[i], 1, SESS_MAX_SKILL);
        }
    }
}

/* A copy of the request's experience that the service may stamp. */
static Boussole__V1__Experience *copy_of(sess_op *op, const Boussole__V1__Experience *e)
{
    Boussole__V1__Experience *m = bsl_arena_alloc(op->arena, sizeof(*m));
    if (m != NULL) {
        *m = *e;
        m->bilan_id = (char *)op->bilan_id;
        m->create_time = NULL;
    }
    return m;
}

/* ---- AddExperience ------------------------------------------------------------------ */

static void add_keyed(sess_op *op)
{
    const Boussole__V1__AddExperienceRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__Experience *m = copy_of(op, in->experience);
    if (m == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_record_add(op, &experience_kind, &m->base, NULL, NULL);
}

static void add_loaded(sess_op *op)
{
    if (sess_require_active(op)) {
        sess_with_key(op, true, add_keyed);
    }
}

SESS_HANDLER(add_experience, AddExperienceRequest, Experience)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    if (in->experience == NULL) {
        bsl_check_violation(&chk, "experience", "required");
    } else {
        check_experience(&chk, in->experience, false);
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->experience->bilan_id,
                              SESS_ACT_WRITE_EXPERIENCES);
    if (op != NULL) {
        sess_load(op, NULL, 0, add_loaded);
    }
}

/* ---- UpdateExperience --------------------------------------------------------------- */

static void update_keyed(sess_op *op)
{
    const Boussole__V1__UpdateExperienceRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__Experience *m = copy_of(op, in->experience);
    if (m == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_record_update(op, &experience_kind, &m->base, in->experience->id);
}

static void update_loaded(sess_op *op)
{
    sess_with_key(op, false, update_keyed);
}

SESS_HANDLER(update_experience, UpdateExperienceRequest, Experience)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    if (in->experience == NULL) {
        bsl_check_violation(&chk, "experience", "required");
    } else {
        check_experience(&chk, in->experience, true);
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->experience->bilan_id,
                              SESS_ACT_WRITE_EXPERIENCES);
    sess_read *r = op ? bsl_arena_alloc(op->arena, sizeof(*r)) : NULL;
    if (op == NULL || r == NULL) {
        if (op != NULL) {
            bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    *r = (sess_read){ "experiences", "hget", in->experience->id };
    sess_load(op, r, 1, update_loaded);
}

/* ---- RemoveExperience --------------------------------------------------------------- */

static const Boussole__V1__RemoveExperienceResponse removed =
    BOUSSOLE__V1__REMOVE_EXPERIENCE_RESPONSE__INIT;

static void remove_loaded(sess_op *op)
{
    const Boussole__V1__RemoveExperienceRequest *in = (const void *)bsl_call_request(op->call);
    sess_record_remove(op, &experience_kind, in->experience_id, NULL, &removed.base);
}

static void remove_start(sess_op *op)
{
    const Boussole__V1__RemoveExperienceRequest *in = (const void *)bsl_call_request(op->call);
    sess_read *r = bsl_arena_alloc(op->arena, sizeof(*r));
    if (r == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    *r = (sess_read){ "experiences", "hget", in->experience_id };
    sess_load(op, r, 1, remove_loaded);
}

SESS_HANDLER(remove_experience, RemoveExperienceRequest, RemoveExperienceResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "experience_id", in->experience_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_WRITE_EXPERIENCES);
    if (op != NULL) {
        op->restart = remove_start;
        remove_start(op);
    }
}

/* ---- ListExperiences ---------------------------------------------------------------- */

/* By first day, unknown periods last, then by title. */
static int by_period(const void *a, const void *b)
{
    const Boussole__V1__Experience *x = *(Boussole__V1__Experience *const *)a;
    const Boussole__V1__Experience *y = *(Boussole__V1__Experience *const *)b;
    bool xe = x->period_start[0] == '\0', ye = y->period_start[0] == '\0';
    if (xe != ye) {
        return xe ? 1 : -1;
    }
    int c = strcmp(x->period_start, y->period_start);
    return c != 0 ? c : strcmp(x->title, y->title);
}

size_t sess_experiences_decode(sess_op *op, const sess_value *hash, Boussole__V1__Experience ***out)
{
    ProtobufCMessage **list;
    size_t n = sess_records_open(op, &experience_kind, hash, &list);
    *out = (Boussole__V1__Experience **)list;
    if (list != NULL) {
        qsort(list, n, sizeof(*list), by_period);
    }
    return n;
}

static const sess_read list_reads[] = { { "experiences", "hgetall", NULL } };

static void list_keyed(sess_op *op)
{
    Boussole__V1__ListExperiencesResponse out = BOUSSOLE__V1__LIST_EXPERIENCES_RESPONSE__INIT;
    out.n_experiences = sess_experiences_decode(op, &op->parts[0], &out.experiences);
    if (out.experiences == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    bsl_call_reply(op->call, &out.base);
}

static void list_loaded(sess_op *op)
{
    sess_with_key(op, false, list_keyed);
}

SESS_HANDLER(list_experiences, ListExperiencesRequest, ListExperiencesResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_READ_EXPERIENCES);
    if (op != NULL) {
        sess_load(op, list_reads, 1, list_loaded);
    }
}
