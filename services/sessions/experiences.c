/* The experiences inventory: one sealed list in bilan:{<id>}:experiences (collection.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/clock.h"
#include "boussole/err.h"
#include "bounds.h"
#include "records.h"

const sess_list_kind sess_experiences_kind = {
    .part = "experiences",
    .kind = "experiences",
    .desc = &boussole__sessions__experience_list__descriptor,
    .what = "experience",
    .counter = "n_experiences",
    .max = SESS_MAX_EXPERIENCES,
};

static const sess_read reads[] = { { "experiences", "get", NULL } };

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
    if (m == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    *m = *e;
    m->bilan_id = (char *)op->bilan_id;
    m->create_time = NULL;
    return m;
}

static void load(sess_op *op, sess_fn next)
{
    sess_load(op, reads, 1, next);
}

/* ---- AddExperience ------------------------------------------------------------------ */

static void add_keyed(sess_op *op)
{
    const Boussole__V1__AddExperienceRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__Experience *m = copy_of(op, in->experience);
    if (m != NULL) {
        sess_item_add(op, &sess_experiences_kind, 0, &m->base);
    }
}

static void add_loaded(sess_op *op)
{
    if (sess_require_active(op)) {
        sess_with_key(op, true, add_keyed);
    }
}

static void add_start(sess_op *op)
{
    load(op, add_loaded);
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
        op->restart = add_start;
        add_start(op);
    }
}

/* ---- UpdateExperience --------------------------------------------------------------- */

static void update_keyed(sess_op *op)
{
    const Boussole__V1__UpdateExperienceRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__Experience *m = copy_of(op, in->experience);
    if (m != NULL) {
        sess_item_update(op, &sess_experiences_kind, 0, &m->base);
    }
}

static void update_loaded(sess_op *op)
{
    sess_with_key(op, false, update_keyed);
}

static void update_start(sess_op *op)
{
    load(op, update_loaded);
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
    if (op != NULL) {
        op->restart = update_start;
        update_start(op);
    }
}

/* ---- RemoveExperience --------------------------------------------------------------- */

static const Boussole__V1__RemoveExperienceResponse removed =
    BOUSSOLE__V1__REMOVE_EXPERIENCE_RESPONSE__INIT;

static void remove_keyed(sess_op *op)
{
    const Boussole__V1__RemoveExperienceRequest *in = (const void *)bsl_call_request(op->call);
    sess_item_remove(op, &sess_experiences_kind, 0, in->experience_id, &removed.base);
}

static void remove_loaded(sess_op *op)
{
    sess_with_key(op, false, remove_keyed);
}

static void remove_start(sess_op *op)
{
    load(op, remove_loaded);
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

size_t sess_experiences_decode(sess_op *op, const sess_value *experiences,
                               Boussole__V1__Experience ***out)
{
    sess_list l;
    *out = NULL;
    if (!sess_list_open(op, &sess_experiences_kind, experiences, &l)) {
        return 0;
    }
    if (*l.n > 1) {
        qsort(*l.items, *l.n, sizeof(**l.items), by_period);
    }
    *out = *l.n ? (Boussole__V1__Experience **)*l.items
                : bsl_arena_calloc(op->arena, 1, sizeof(Boussole__V1__Experience *));
    return *l.n;
}

static void list_keyed(sess_op *op)
{
    Boussole__V1__ListExperiencesResponse out = BOUSSOLE__V1__LIST_EXPERIENCES_RESPONSE__INIT;
    out.n_experiences = sess_experiences_decode(op, &op->parts[0], &out.experiences);
    if (out.experiences == NULL) {
        if (!bsl_call_answered(op->call)) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    bsl_call_reply(op->call, &out.base);
}

static void list_loaded(sess_op *op)
{
    if (op->parts[0].type == SESS_V_STR) {
        sess_with_key(op, false, list_keyed);
    } else {
        list_keyed(op);
    }
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
        load(op, list_loaded);
    }
}
