/*
 * Career leads and the research done on each: records sealed whole (sealed.c), leads in
 * bilan:{<id>}:leads, research in bilan:{<id>}:research under "<lead id>:<research id>", so
 * that a lead's research is found without opening anything and goes with it when it is
 * removed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "bounds.h"
#include "records.h"

static const sess_record_kind lead_kind = {
    .part = "leads",
    .kind = "lead",
    .what = "career lead",
    .what_plural = "career leads",
    .desc = &boussole__v1__career_lead__descriptor,
    .counter = "n_leads",
    .max = SESS_MAX_LEADS,
};

static const sess_record_kind research_kind = {
    .part = "research",
    .kind = "research",
    .what = "research entry",
    .what_plural = "research entries",
    .desc = &boussole__v1__lead_research__descriptor,
    .counter = "n_research",
    .max = SESS_MAX_RESEARCH,
};

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

/* A one-part read of a hash field. */
static bool load_field(sess_op *op, const char *part, const char *field, sess_fn next)
{
    sess_read *r = bsl_arena_alloc(op->arena, sizeof(*r));
    if (r == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return false;
    }
    *r = (sess_read){ part, "hget", field };
    sess_load(op, r, 1, next);
    return true;
}

static const char *research_field(sess_op *op, const char *lead_id, const char *research_id)
{
    return bsl_arena_printf(op->arena, "%s:%s", lead_id, research_id);
}

/* ---- leads -------------------------------------------------------------------------- */

static Boussole__V1__CareerLead *lead_copy(sess_op *op, const Boussole__V1__CareerLead *l)
{
    Boussole__V1__CareerLead *m = bsl_arena_alloc(op->arena, sizeof(*m));
    if (m != NULL) {
        *m = *l;
        m->bilan_id = (char *)op->bilan_id;
        m->research = NULL; /* research is its own record */
        m->n_research = 0;
        m->create_time = NULL;
    }
    return m;
}

static void lead_add_keyed(sess_op *op)
{
    const Boussole__V1__AddCareerLeadRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__CareerLead *m = lead_copy(op, in->lead);
    if (m == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_record_add(op, &lead_kind, &m->base, NULL, NULL);
}

static void lead_add_loaded(sess_op *op)
{
    if (sess_require_active(op)) {
        sess_with_key(op, true, lead_add_keyed);
    }
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
        sess_load(op, NULL, 0, lead_add_loaded);
    }
}

static void lead_update_keyed(sess_op *op)
{
    const Boussole__V1__UpdateCareerLeadRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__CareerLead *m = lead_copy(op, in->lead);
    if (m == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_record_update(op, &lead_kind, &m->base, in->lead->id);
}

static void lead_update_loaded(sess_op *op)
{
    sess_with_key(op, false, lead_update_keyed);
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
        load_field(op, "leads", in->lead->id, lead_update_loaded);
    }
}

static const Boussole__V1__RemoveCareerLeadResponse lead_removed =
    BOUSSOLE__V1__REMOVE_CAREER_LEAD_RESPONSE__INIT;

static void lead_remove_loaded(sess_op *op)
{
    const Boussole__V1__RemoveCareerLeadRequest *in = (const void *)bsl_call_request(op->call);
    /* The lead's research goes with it, each entry checked unchanged like the lead. */
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    const char *prefix = bsl_arena_printf(op->arena, "%s:", in->lead_id);
    if (c == NULL || prefix == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    const sess_value *research = &op->parts[1];
    size_t plen = strlen(prefix);
    int gone = 0;
    for (size_t i = 0; research->type == SESS_V_ARR && i + 1 < research->n; i += 2) {
        const sess_value *f = &research->items[i], *v = &research->items[i + 1];
        if (f->type != SESS_V_STR || strncmp(f->str, prefix, plen) != 0 ||
            c->n_puts + 1 >= SESS_MAX_PUTS) {
            continue;
        }
        c->puts[c->n_puts++] = (sess_put){
            "research", f->str, SESS_PUT_CAS, { (const uint8_t *)v->str, v->len }, { NULL, 0 }
        };
        gone++;
    }
    if (gone > 0) {
        sess_count(c, "n_research", -gone, SESS_MAX_RESEARCH);
    }
    sess_record_remove(op, &lead_kind, in->lead_id, c, &lead_removed.base);
}

static const sess_read *lead_remove_reads(sess_op *op, const char *lead_id)
{
    sess_read *r = bsl_arena_calloc(op->arena, 2, sizeof(*r));
    if (r != NULL) {
        r[0] = (sess_read){ "leads", "hget", lead_id };
        r[1] = (sess_read){ "research", "hgetall", NULL };
    }
    return r;
}

static void lead_remove_start(sess_op *op)
{
    const Boussole__V1__RemoveCareerLeadRequest *in = (const void *)bsl_call_request(op->call);
    const sess_read *r = lead_remove_reads(op, in->lead_id);
    if (r == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_load(op, r, 2, lead_remove_loaded);
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

static Boussole__V1__LeadResearch *research_copy(sess_op *op, const Boussole__V1__LeadResearch *r)
{
    Boussole__V1__LeadResearch *m = bsl_arena_alloc(op->arena, sizeof(*m));
    if (m != NULL) {
        *m = *r;
        m->create_time = NULL;
    }
    return m;
}

static void research_add_keyed(sess_op *op)
{
    const Boussole__V1__AddLeadResearchRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__LeadResearch *m = research_copy(op, in->research);
    const char *prefix = bsl_arena_printf(op->arena, "%s:", in->research->lead_id);
    if (m == NULL || prefix == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    /* The lead must still be there when the entry is written. */
    sess_put lead = { "leads", in->research->lead_id, SESS_PUT_HAS, { NULL, 0 }, { NULL, 0 } };
    sess_record_add(op, &research_kind, &m->base, prefix, &lead);
}

static void research_add_loaded(sess_op *op)
{
    if (op->parts[0].type != SESS_V_STR) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such career lead");
        return;
    }
    if (sess_require_active(op)) {
        sess_with_key(op, true, research_add_keyed);
    }
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
        load_field(op, "leads", in->research->lead_id, research_add_loaded);
    }
}

static void research_update_keyed(sess_op *op)
{
    const Boussole__V1__UpdateLeadResearchRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__LeadResearch *m = research_copy(op, in->research);
    const char *field = research_field(op, in->research->lead_id, in->research->id);
    if (m == NULL || field == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_record_update(op, &research_kind, &m->base, field);
}

static void research_update_loaded(sess_op *op)
{
    sess_with_key(op, false, research_update_keyed);
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
    const char *field = op ? research_field(op, in->research->lead_id, in->research->id) : NULL;
    if (op != NULL && field == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (op != NULL) {
        load_field(op, "research", field, research_update_loaded);
    }
}

static const Boussole__V1__RemoveLeadResearchResponse research_removed =
    BOUSSOLE__V1__REMOVE_LEAD_RESEARCH_RESPONSE__INIT;

static void research_remove_loaded(sess_op *op)
{
    const Boussole__V1__RemoveLeadResearchRequest *in = (const void *)bsl_call_request(op->call);
    const char *field = research_field(op, in->lead_id, in->research_id);
    if (field == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_record_remove(op, &research_kind, field, NULL, &research_removed.base);
}

static void research_remove_start(sess_op *op)
{
    const Boussole__V1__RemoveLeadResearchRequest *in = (const void *)bsl_call_request(op->call);
    const char *field = research_field(op, in->lead_id, in->research_id);
    if (field == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    load_field(op, "research", field, research_remove_loaded);
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

static int research_order(const void *a, const void *b)
{
    const Boussole__V1__LeadResearch *x = *(Boussole__V1__LeadResearch *const *)a;
    const Boussole__V1__LeadResearch *y = *(Boussole__V1__LeadResearch *const *)b;
    int64_t s = bsl_pb_timestamp_ms(x->create_time), t = bsl_pb_timestamp_ms(y->create_time);
    return s < t ? -1 : s > t ? 1 : strcmp(x->id, y->id);
}

size_t sess_leads_decode(sess_op *op, const sess_value *leads, const sess_value *research,
                         Boussole__V1__CareerLead ***out)
{
    ProtobufCMessage **ls, **rs;
    size_t nl = sess_records_open(op, &lead_kind, leads, &ls);
    size_t nr = sess_records_open(op, &research_kind, research, &rs);
    *out = (Boussole__V1__CareerLead **)ls;
    if (ls == NULL || rs == NULL) {
        *out = NULL;
        return 0;
    }
    qsort(ls, nl, sizeof(*ls), by_created);
    qsort(rs, nr, sizeof(*rs), research_order);
    for (size_t i = 0; i < nl; i++) {
        Boussole__V1__CareerLead *l = (Boussole__V1__CareerLead *)ls[i];
        l->research = bsl_arena_calloc(op->arena, nr ? nr : 1, sizeof(*l->research));
        if (l->research == NULL) {
            *out = NULL;
            return 0;
        }
        for (size_t k = 0; k < nr; k++) {
            Boussole__V1__LeadResearch *r = (Boussole__V1__LeadResearch *)rs[k];
            if (strcmp(r->lead_id, l->id) == 0) {
                l->research[l->n_research++] = r;
            }
        }
    }
    return nl;
}

static const sess_read list_reads[] = {
    { "leads", "hgetall", NULL },
    { "research", "hgetall", NULL },
};

static void list_keyed(sess_op *op)
{
    Boussole__V1__ListCareerLeadsResponse out = BOUSSOLE__V1__LIST_CAREER_LEADS_RESPONSE__INIT;
    out.n_leads = sess_leads_decode(op, &op->parts[0], &op->parts[1], &out.leads);
    if (out.leads == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    bsl_call_reply(op->call, &out.base);
}

static void list_loaded(sess_op *op)
{
    sess_with_key(op, false, list_keyed);
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
        sess_load(op, list_reads, 2, list_loaded);
    }
}
