/* The bilan's stored record and its public form (see model.h). */
#include "model.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/id.h"
#include "boussole/pbutil.h"

static int64_t to_i64(const char *s)
{
    return s == NULL ? 0 : strtoll(s, NULL, 10);
}

static uint32_t to_u32(const char *s)
{
    long long v = to_i64(s);
    return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* The hash fields of a bilan, sorted by name for the binary search (a bilan is read on
 * almost every call: a chain of strcmp over them was 3 % of the service's CPU). */
typedef enum { F_STR, F_INT, F_STATUS, F_U32, F_I64, F_U64, F_BOOL } field_kind;
typedef struct field_row {
    const char *name;
    field_kind kind;
    size_t offset;
} field_row;

static const field_row FIELDS[] = {
    { "agr", F_INT, offsetof(sess_bilan, agreement) },
    { "agr_deadline", F_I64, offsetof(sess_bilan, agreement_deadline_ms) },
    { "agr_rev", F_U32, offsetof(sess_bilan, agreement_revision) },
    { "beneficiary", F_STR, offsetof(sess_bilan, beneficiary) },
    { "cancel_reason", F_INT, offsetof(sess_bilan, cancel_reason) },
    { "counselor", F_STR, offsetof(sess_bilan, counselor) },
    { "create_ms", F_I64, offsetof(sess_bilan, create_ms) },
    { "end_date", F_STR, offsetof(sess_bilan, end_date) },
    { "end_ms", F_I64, offsetof(sess_bilan, end_ms) },
    { "erased_ms", F_I64, offsetof(sess_bilan, erased_ms) },
    { "follow_up_id", F_STR, offsetof(sess_bilan, follow_up_id) },
    { "follow_up_ms", F_I64, offsetof(sess_bilan, follow_up_ms) },
    { "funding", F_INT, offsetof(sess_bilan, funding) },
    { "intake", F_BOOL, offsetof(sess_bilan, intake) },
    { "n_experiences", F_U32, offsetof(sess_bilan, n_experiences) },
    { "n_hours", F_U32, offsetof(sess_bilan, n_hours) },
    { "n_leads", F_U32, offsetof(sess_bilan, n_leads) },
    { "n_meetings", F_U32, offsetof(sess_bilan, n_meetings) },
    { "n_research", F_U32, offsetof(sess_bilan, n_research) },
    { "organisation", F_STR, offsetof(sess_bilan, organisation) },
    { "phase", F_INT, offsetof(sess_bilan, phase) },
    { "planned_hours", F_U32, offsetof(sess_bilan, planned_hours) },
    { "questionnaires", F_U32, offsetof(sess_bilan, questionnaires) },
    { "roadmap_steps", F_U32, offsetof(sess_bilan, roadmap_steps) },
    { "start_date", F_STR, offsetof(sess_bilan, start_date) },
    { "status", F_STATUS, offsetof(sess_bilan, status) },
    { "synthesis_id", F_STR, offsetof(sess_bilan, synthesis_id) },
    { "update_ms", F_I64, offsetof(sess_bilan, update_ms) },
    { "version", F_U64, offsetof(sess_bilan, version) },
    { "waiver", F_BOOL, offsetof(sess_bilan, waiver) },
};
#define N_FIELDS (sizeof(FIELDS) / sizeof(FIELDS[0]))

static int row_cmp(const void *key, const void *row)
{
    return strcmp(key, ((const field_row *)row)->name);
}

bool sess_bilan_parse(sess_bilan *b, const char *id, const char *const *names,
                      const char *const *values, size_t n)
{
    memset(b, 0, sizeof(*b));
    b->id = id;
    b->synthesis_id = "";
    b->follow_up_id = "";
    bool has_status = false;
    for (size_t i = 0; i < n; i++) {
        const char *k = names[i], *v = values[i];
        if ((k[0] == 'm' || k[0] == 'o') && k[1] == 'm' && k[2] == '_' && k[3] >= '1' &&
            k[3] <= '0' + SESS_PHASES && k[4] == '\0') {
            uint32_t *minutes = k[0] == 'm' ? b->meeting_minutes : b->other_minutes;
            minutes[k[3] - '0'] = to_u32(v);
            continue;
        }
        const field_row *f = bsearch(k, FIELDS, N_FIELDS, sizeof(FIELDS[0]), row_cmp);
        if (f == NULL) {
            continue; /* a field of a later version: ignored */
        }
        char *at = (char *)b + f->offset;
        switch (f->kind) {
        case F_STR:
            *(const char **)(void *)at = v;
            break;
        case F_STATUS:
            has_status = true;
            *(int *)(void *)at = (int)to_i64(v);
            break;
        case F_INT:
            *(int *)(void *)at = (int)to_i64(v);
            break;
        case F_U32:
            *(uint32_t *)(void *)at = to_u32(v);
            break;
        case F_I64:
            *(int64_t *)(void *)at = to_i64(v);
            break;
        case F_U64:
            *(uint64_t *)(void *)at = (uint64_t)to_i64(v);
            break;
        case F_BOOL:
            *(bool *)(void *)at = to_i64(v) != 0;
            break;
        }
    }
    if (!has_status) {
        return false;
    }
    if (b->beneficiary == NULL || b->counselor == NULL || b->organisation == NULL) {
        return false;
    }
    if (b->start_date == NULL) {
        b->start_date = "";
    }
    if (b->end_date == NULL) {
        b->end_date = "";
    }
    return true;
}

uint32_t sess_spent_minutes(const sess_bilan *b)
{
    uint32_t total = 0;
    for (int p = 1; p <= SESS_PHASES; p++) {
        total += b->meeting_minutes[p] + b->other_minutes[p];
    }
    return total;
}

uint32_t sess_planned_minutes(const sess_bilan *b)
{
    return b->planned_hours * 60;
}

uint32_t sess_remaining_minutes(const sess_bilan *b)
{
    uint32_t spent = sess_spent_minutes(b), planned = sess_planned_minutes(b);
    return spent >= planned ? 0 : planned - spent;
}

bool sess_bilan_active(const sess_bilan *b)
{
    return b->status == BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE;
}

bool sess_agreement_required(const sess_bilan *b)
{
    return b->funding == BOUSSOLE__V1__FUNDING__FUNDING_EMPLOYER_PLAN;
}

Boussole__V1__AgreementStatus sess_agreement_status(int stored, int64_t deadline_ms, int64_t now_ms)
{
    switch (stored) {
    case BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_PROPOSED:
        /* Silence is refusal: past the deadline, a proposal nobody answered has expired. */
        return now_ms > deadline_ms ? BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_EXPIRED
                                    : BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_PROPOSED;
    case BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_ACCEPTED:
    case BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_REFUSED:
        return (Boussole__V1__AgreementStatus)stored;
    default:
        return BOUSSOLE__V1__AGREEMENT_STATUS__AGREEMENT_STATUS_NONE;
    }
}

Boussole__V1__Bilan *sess_bilan_to_pb(bsl_arena *a, const sess_bilan *b, int64_t now_ms)
{
    Boussole__V1__Bilan *out = bsl_arena_alloc(a, sizeof(*out));
    Boussole__V1__BilanProgress *pr = bsl_arena_alloc(a, sizeof(*pr));
    if (out == NULL || pr == NULL) {
        return NULL;
    }
    boussole__v1__bilan__init(out);
    boussole__v1__bilan_progress__init(pr);
    /* The strings stay where sess_bilan_parse found them: the caller keeps them alive as
     * long as the message (both live in the call's arena). */
    out->id = (char *)b->id;
    out->beneficiary_id = (char *)b->beneficiary;
    out->counselor_id = (char *)b->counselor;
    out->organisation_id = (char *)b->organisation;
    out->funding = (Boussole__V1__Funding)b->funding;
    out->planned_hours = b->planned_hours;
    out->start_date = (char *)b->start_date;
    out->end_date = (char *)b->end_date;
    out->status = (Boussole__V1__BilanStatus)b->status;
    out->phase = (Boussole__V1__Phase)b->phase;
    out->version = b->version;
    out->create_time = bsl_pb_timestamp(a, b->create_ms);
    out->update_time = bsl_pb_timestamp(a, b->update_ms);
    out->spent_minutes = sess_spent_minutes(b);
    out->remaining_minutes = sess_remaining_minutes(b);
    out->agreement_required = sess_agreement_required(b);
    out->agreement_status = sess_agreement_status(b->agreement, b->agreement_deadline_ms, now_ms);
    if (b->end_ms > 0) {
        out->end_time = bsl_pb_timestamp(a, b->end_ms);
    }
    out->cancel_reason = (Boussole__V1__CancelReason)b->cancel_reason;
    pr->intake_recorded = b->intake;
    pr->roadmap_steps = b->roadmap_steps;
    pr->questionnaires_completed = b->questionnaires;
    pr->questionnaire_waived = b->waiver;
    pr->synthesis_finalised = b->synthesis_id[0] != '\0';
    pr->meetings = b->n_meetings;
    pr->experiences = b->n_experiences;
    pr->career_leads = b->n_leads;
    out->progress = pr;
    out->follow_up_meeting_id = (char *)b->follow_up_id;
    if (b->erased_ms > 0) {
        out->erase_time = bsl_pb_timestamp(a, b->erased_ms);
    }
    if (out->create_time == NULL || out->update_time == NULL ||
        (b->end_ms > 0 && out->end_time == NULL) || (b->erased_ms > 0 && out->erase_time == NULL)) {
        return NULL;
    }
    return out;
}

Boussole__V1__PhaseTransition *sess_transition_parse(bsl_arena *a, const char *entry)
{
    /* from|to|ms|role|subject|waived|reason */
    char *copy = bsl_arena_strdup(a, entry);
    Boussole__V1__PhaseTransition *t = bsl_arena_alloc(a, sizeof(*t));
    if (copy == NULL || t == NULL) {
        return NULL;
    }
    char *parts[7];
    size_t n = 0;
    char *p = copy;
    while (n < 7) {
        parts[n++] = p;
        char *bar = strchr(p, '|');
        if (bar == NULL) {
            break;
        }
        *bar = '\0';
        p = bar + 1;
    }
    if (n != 7) {
        return NULL;
    }
    boussole__v1__phase_transition__init(t);
    t->from = (Boussole__V1__Phase)atoi(parts[0]);
    t->to = (Boussole__V1__Phase)atoi(parts[1]);
    t->time = bsl_pb_timestamp(a, strtoll(parts[2], NULL, 10));
    t->actor_role = (Boussole__V1__Role)atoi(parts[3]);
    t->actor_id = parts[4];
    t->questionnaire_waived = parts[5][0] == '1';
    t->cancel_reason = (Boussole__V1__CancelReason)atoi(parts[6]);
    return t->time != NULL ? t : NULL;
}

long sess_day_of_ms(int64_t ms)
{
    int64_t d = ms / SESS_DAY_MS;
    if (ms < 0 && d * SESS_DAY_MS != ms) {
        d--;
    }
    return (long)d;
}

bool sess_cursor_parse(const char *token, int64_t *score, char id[27])
{
    const char *colon = strchr(token, ':');
    size_t digits = colon ? (size_t)(colon - token) : 0;
    if (digits == 0 || digits > 16 || strlen(colon + 1) != BSL_ID_LEN || !bsl_id_valid(colon + 1)) {
        return false;
    }
    int64_t v = 0;
    for (size_t i = 0; i < digits; i++) {
        if (token[i] < '0' || token[i] > '9') {
            return false;
        }
        v = v * 10 + (token[i] - '0');
    }
    if (v > (1LL << 53)) {
        return false;
    }
    *score = v;
    memcpy(id, colon + 1, BSL_ID_LEN + 1);
    return true;
}
