/*
 * Career leads and the research done on each: one sealed list in bilan:{<id>}:leads
 * (collection.c), each lead holding its research, so that research goes with its lead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "bounds.h"
#include "records.h"

const sess_list_kind sess_leads_kind = {
    .part = "leads",
    .kind = "leads",
    .desc = &boussole__sessions__lead_list__descriptor,
    .what = "career lead",
    .counter = "n_leads",
    .max = SESS_MAX_LEADS,
};

static const sess_read reads[] = { { "leads", "get", NULL } };

static void check_lead(bsl_check *chk, const Boussole__V1__CareerLead *l, bool update)
{
    bsl_check_id(chk, "lead.bilan_id", l->bilan_id);
    if (update) {
        bsl_check_id(chk, "lead.id", l->id);
        if (l->version == 0) {
            bsl_check_violation(chk, "lead.version", "required: the version read");
        }
    }
    bsl_check_text(chk, "lead.title", l->title, 1, SESS_MAX_TITLE);
    bsl_check_enum(chk, "lead.path", &boussole__v1__career_path__descriptor, (int)l->path, false);
    bsl_check_enum(chk, "lead.status", &boussole__v1__career_lead_status__descriptor,
                   (int)l->status, false);
    bsl_check_text(chk, "lead.status_reason", l->status_reason, 0, SESS_MAX_REASON);
}

static void check_research(bsl_check *chk, const Boussole__V1__LeadResearch *r, bool update)
{
    bsl_check_id(chk, "research.lead_id", r->lead_id);
    if (update) {
        bsl_check_id(chk, "research.id", r->id);
        if (r->version == 0) {
            bsl_check_violation(chk, "research.version", "required: the version read");
        }
    }
    bsl_check_enum(chk, "research.kind", &boussole__v1__research_kind__descriptor, (int)r->kind,
                   false);
    bsl_check_text(chk, "research.title", r->title, 1, SESS_MAX_TITLE);
    if (bsl_check_count(chk, "research.links", r->n_links, SESS_MAX_LINKS)) {
        for (size_t i = 0; i < r->n_links; i++) {
            char f[40];
            snprintf(f, sizeof(f), "research.links[%zu]", i);
            bsl_check_url(chk, f, r->links[i], SESS_MAX_LINK, false);
        }
    }
    bsl_check_text(chk, "research.notes", r->notes, 0, SESS_MAX_RESEARCH_NOTES);
    bsl_check_date(chk, "research.date", r->date, true, NULL);
}

static void load(sess_op *op, sess_fn next)
{
    sess_load(op, reads, 1, next);
}

static void oom(sess_op *op)
{
    bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
}

/* What a change holds between its steps. */
typedef struct lead_op {
    sess_list leads;
    ProtobufCMessage *answer;
} lead_op;

static void answer(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    lead_op *lo = op->ctx;
    bsl_call_reply(op->call, lo->answer);
}

/* Opens the list (the key in hand) into a new lead_op. NULL: answered. */
static lead_op *open_leads(sess_op *op)
{
    lead_op *lo = bsl_arena_calloc(op->arena, 1, sizeof(*lo));
    if (lo == NULL) {
        oom(op);
        return NULL;
    }
    op->ctx = lo;
    return sess_list_open(op, &sess_leads_kind, &op->parts[0], &lo->leads) ? lo : NULL;
}

/* Writes the list with the given counter changes, then answers lo->answer. */
static void write_leads(sess_op *op, lead_op *lo, const char *counter, int delta, unsigned max,
                        const char *counter2, int delta2, unsigned max2)
{
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (c == NULL || !sess_list_put(op, c, &lo->leads)) {
        oom(op);
        return;
    }
    c->what =
        counter != NULL && strcmp(counter, "n_research") == 0 ? "research entries" : "career leads";
    if (counter != NULL && delta != 0) {
        sess_count(c, counter, delta, max);
    }
    if (counter2 != NULL && delta2 != 0) {
        sess_count(c, counter2, delta2, max2);
    }
    sess_write(op, c, answer);
}

/* ---- leads -------------------------------------------------------------------------- */

static Boussole__V1__CareerLead *lead_copy(sess_op *op, const Boussole__V1__CareerLead *l)
{
    Boussole__V1__CareerLead *m = bsl_arena_alloc(op->arena, sizeof(*m));
    if (m == NULL) {
        oom(op);
        return NULL;
    }
    *m = *l;
    m->bilan_id = (char *)op->bilan_id;
    m->research = NULL; /* research has its own calls */
    m->n_research = 0;
    m->create_time = NULL;
    return m;
}

static void lead_add_keyed(sess_op *op)
{
    const Boussole__V1__AddCareerLeadRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__CareerLead *m = lead_copy(op, in->lead);
    if (m != NULL) {
        sess_item_add(op, &sess_leads_kind, 0, &m->base);
    }
}

static void lead_add_loaded(sess_op *op)
{
    if (sess_require_active(op)) {
        sess_with_key(op, true, lead_add_keyed);
    }
}

static void lead_add_start(sess_op *op)
{
    load(op, lead_add_loaded);
}

SESS_HANDLER(add_career_lead, AddCareerLeadRequest, CareerLead)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    if (in->lead == NULL) {
        bsl_check_violation(&chk, "lead", "required");
    } else {
        check_lead(&chk, in->lead, false);
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->lead->bilan_id, SESS_ACT_WRITE_LEADS);
    if (op != NULL) {
        op->restart = lead_add_start;
        lead_add_start(op);
    }
}

static void lead_update_keyed(sess_op *op)
{
    const Boussole__V1__UpdateCareerLeadRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__CareerLead *m = lead_copy(op, in->lead);
    lead_op *lo = m ? open_leads(op) : NULL;
    if (lo == NULL || !sess_require_active(op)) {
        return;
    }
    size_t at = 0;
    Boussole__V1__CareerLead *old =
        (Boussole__V1__CareerLead *)sess_list_find(&lo->leads, "id", m->id, &at);
    if (old == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such career lead");
        return;
    }
    if (old->version != m->version) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "version %llu is stale (the career lead is at version %llu): read it again",
                      (unsigned long long)m->version, (unsigned long long)old->version);
        return;
    }
    /* The lead's own fields change; its research and creation time stay. */
    m->research = old->research;
    m->n_research = old->n_research;
    if (!sess_record_stamp(op, &m->base, NULL, old->version + 1, false)) {
        oom(op);
        return;
    }
    m->create_time = old->create_time;
    (*lo->leads.items)[at] = &m->base;
    lo->answer = &m->base;
    write_leads(op, lo, NULL, 0, 0, NULL, 0, 0);
}

static void lead_update_loaded(sess_op *op)
{
    sess_with_key(op, false, lead_update_keyed);
}

static void lead_update_start(sess_op *op)
{
    load(op, lead_update_loaded);
}

SESS_HANDLER(update_career_lead, UpdateCareerLeadRequest, CareerLead)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    if (in->lead == NULL) {
        bsl_check_violation(&chk, "lead", "required");
    } else {
        check_lead(&chk, in->lead, true);
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->lead->bilan_id, SESS_ACT_WRITE_LEADS);
    if (op != NULL) {
        op->restart = lead_update_start;
        lead_update_start(op);
    }
}

static const Boussole__V1__RemoveCareerLeadResponse lead_removed =
    BOUSSOLE__V1__REMOVE_CAREER_LEAD_RESPONSE__INIT;

static void lead_remove_keyed(sess_op *op)
{
    const Boussole__V1__RemoveCareerLeadRequest *in = (const void *)bsl_call_request(op->call);
    lead_op *lo = open_leads(op);
    if (lo == NULL) {
        return;
    }
    lo->answer = (ProtobufCMessage *)&lead_removed.base;
    size_t at = 0;
    Boussole__V1__CareerLead *l =
        (Boussole__V1__CareerLead *)sess_list_find(&lo->leads, "id", in->lead_id, &at);
    if (l == NULL) {
        /* Not there (or removed by a first attempt): nothing to do. */
        answer(op, -1, NULL);
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    int research = (int)l->n_research;
    sess_list_remove_at(&lo->leads, at);
    write_leads(op, lo, "n_leads", -1, SESS_MAX_LEADS, "n_research", -research, SESS_MAX_RESEARCH);
}

static void lead_remove_loaded(sess_op *op)
{
    sess_with_key(op, false, lead_remove_keyed);
}

static void lead_remove_start(sess_op *op)
{
    load(op, lead_remove_loaded);
}

SESS_HANDLER(remove_career_lead, RemoveCareerLeadRequest, RemoveCareerLeadResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "lead_id", in->lead_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_WRITE_LEADS);
    if (op != NULL) {
        op->restart = lead_remove_start;
        lead_remove_start(op);
    }
}

/* ---- research ----------------------------------------------------------------------- */

/* The lead of a research call, in lo->leads. NULL: answered NOT_FOUND. */
static Boussole__V1__CareerLead *lead_of(sess_op *op, lead_op *lo, const char *lead_id)
{
    Boussole__V1__CareerLead *l =
        (Boussole__V1__CareerLead *)sess_list_find(&lo->leads, "id", lead_id, NULL);
    if (l == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such career lead");
    }
    return l;
}

static size_t research_index(const Boussole__V1__CareerLead *l, const char *id)
{
    for (size_t i = 0; i < l->n_research; i++) {
        if (strcmp(l->research[i]->id, id) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

static void research_add_keyed(sess_op *op)
{
    const Boussole__V1__AddLeadResearchRequest *in = (const void *)bsl_call_request(op->call);
    lead_op *lo = open_leads(op);
    Boussole__V1__CareerLead *l = lo ? lead_of(op, lo, in->research->lead_id) : NULL;
    if (l == NULL) {
        return;
    }
    const char *id = sess_new_id(op, "research");
    if (id == NULL) {
        oom(op);
        return;
    }
    size_t at = research_index(l, id);
    if (at != SIZE_MAX) {
        /* A repeated creation: answer what the first one made. */
        bsl_call_reply(op->call, &l->research[at]->base);
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    Boussole__V1__LeadResearch *r = bsl_arena_alloc(op->arena, sizeof(*r));
    Boussole__V1__LeadResearch **grown =
        bsl_arena_alloc(op->arena, (l->n_research + 1) * sizeof(*grown));
    if (r == NULL || grown == NULL) {
        oom(op);
        return;
    }
    *r = *in->research;
    if (!sess_record_stamp(op, &r->base, id, 1, true)) {
        oom(op);
        return;
    }
    if (l->n_research > 0) {
        memcpy(grown, l->research, l->n_research * sizeof(*grown));
    }
    grown[l->n_research++] = r;
    l->research = grown;
    lo->answer = &r->base;
    write_leads(op, lo, "n_research", 1, SESS_MAX_RESEARCH, NULL, 0, 0);
}

static void research_add_loaded(sess_op *op)
{
    if (sess_require_active(op)) {
        sess_with_key(op, true, research_add_keyed);
    }
}

static void research_add_start(sess_op *op)
{
    load(op, research_add_loaded);
}

SESS_HANDLER(add_lead_research, AddLeadResearchRequest, LeadResearch)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (in->research == NULL) {
        bsl_check_violation(&chk, "research", "required");
    } else {
        check_research(&chk, in->research, false);
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_WRITE_LEADS);
    if (op != NULL) {
        op->restart = research_add_start;
        research_add_start(op);
    }
}

static void research_update_keyed(sess_op *op)
{
    const Boussole__V1__UpdateLeadResearchRequest *in = (const void *)bsl_call_request(op->call);
    lead_op *lo = open_leads(op);
    Boussole__V1__CareerLead *l = lo ? lead_of(op, lo, in->research->lead_id) : NULL;
    if (l == NULL || !sess_require_active(op)) {
        return;
    }
    size_t at = research_index(l, in->research->id);
    if (at == SIZE_MAX) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such research entry");
        return;
    }
    Boussole__V1__LeadResearch *old = l->research[at];
    if (old->version != in->research->version) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "version %llu is stale (the research entry is at version %llu): read it "
                      "again",
                      (unsigned long long)in->research->version, (unsigned long long)old->version);
        return;
    }
    Boussole__V1__LeadResearch *r = bsl_arena_alloc(op->arena, sizeof(*r));
    if (r == NULL) {
        oom(op);
        return;
    }
    *r = *in->research;
    if (!sess_record_stamp(op, &r->base, NULL, old->version + 1, false)) {
        oom(op);
        return;
    }
    r->create_time = old->create_time;
    l->research[at] = r;
    lo->answer = &r->base;
    write_leads(op, lo, NULL, 0, 0, NULL, 0, 0);
}

static void research_update_loaded(sess_op *op)
{
    sess_with_key(op, false, research_update_keyed);
}

static void research_update_start(sess_op *op)
{
    load(op, research_update_loaded);
}

SESS_HANDLER(update_lead_research, UpdateLeadResearchRequest, LeadResearch)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (in->research == NULL) {
        bsl_check_violation(&chk, "research", "required");
    } else {
        check_research(&chk, in->research, true);
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_WRITE_LEADS);
    if (op != NULL) {
        op->restart = research_update_start;
        research_update_start(op);
    }
}

static const Boussole__V1__RemoveLeadResearchResponse research_removed =
    BOUSSOLE__V1__REMOVE_LEAD_RESEARCH_RESPONSE__INIT;

static void research_remove_keyed(sess_op *op)
{
    const Boussole__V1__RemoveLeadResearchRequest *in = (const void *)bsl_call_request(op->call);
    lead_op *lo = open_leads(op);
    if (lo == NULL) {
        return;
    }
    lo->answer = (ProtobufCMessage *)&research_removed.base;
    Boussole__V1__CareerLead *l =
        (Boussole__V1__CareerLead *)sess_list_find(&lo->leads, "id", in->lead_id, NULL);
    size_t at = l ? research_index(l, in->research_id) : SIZE_MAX;
    if (at == SIZE_MAX) {
        /* Not there (or removed by a first attempt, or with its lead): nothing to do. */
        answer(op, -1, NULL);
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    memmove(&l->research[at], &l->research[at + 1],
            (l->n_research - at - 1) * sizeof(*l->research));
    l->n_research--;
    write_leads(op, lo, "n_research", -1, SESS_MAX_RESEARCH, NULL, 0, 0);
}

static void research_remove_loaded(sess_op *op)
{
    sess_with_key(op, false, research_remove_keyed);
}

static void research_remove_start(sess_op *op)
{
    load(op, research_remove_loaded);
}

SESS_HANDLER(remove_lead_research, RemoveLeadResearchRequest, RemoveLeadResearchResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "lead_id", in->lead_id);
    bsl_check_id(&chk, "research_id", in->research_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_WRITE_LEADS);
    if (op != NULL) {
        op->restart = research_remove_start;
        research_remove_start(op);
    }
}

/* ---- ListCareerLeads ---------------------------------------------------------------- */

static int by_created(const void *a, const void *b)
{
    const Boussole__V1__CareerLead *x = *(Boussole__V1__CareerLead *const *)a;
    const Boussole__V1__CareerLead *y = *(Boussole__V1__CareerLead *const *)b;
    int64_t s = bsl_pb_timestamp_ms(x->create_time), t = bsl_pb_timestamp_ms(y->create_time);
    return s < t ? -1 : s > t ? 1 : strcmp(x->id, y->id);
}

size_t sess_leads_decode(sess_op *op, const sess_value *leads, Boussole__V1__CareerLead ***out)
{
    sess_list l;
    *out = NULL;
    if (!sess_list_open(op, &sess_leads_kind, leads, &l)) {
        return 0;
    }
    /* Leads, and research within each, in the order they were added. */
    if (*l.n > 1) {
        qsort(*l.items, *l.n, sizeof(**l.items), by_created);
    }
    *out = *l.n ? (Boussole__V1__CareerLead **)*l.items
                : bsl_arena_calloc(op->arena, 1, sizeof(Boussole__V1__CareerLead *));
    return *l.n;
}

static void list_keyed(sess_op *op)
{
    Boussole__V1__ListCareerLeadsResponse out = BOUSSOLE__V1__LIST_CAREER_LEADS_RESPONSE__INIT;
    out.n_leads = sess_leads_decode(op, &op->parts[0], &out.leads);
    if (out.leads == NULL) {
        if (!bsl_call_answered(op->call)) {
            oom(op);
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

SESS_HANDLER(list_career_leads, ListCareerLeadsRequest, ListCareerLeadsResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    sess_op *op = sess_op_new(call, sessions_of(service), in->bilan_id, SESS_ACT_READ_LEADS);
    if (op != NULL) {
        load(op, list_loaded);
    }
}
