/*
 * Collections: each list a bilan holds (meetings, notes, accompanied time, experiences, career
 * leads) is one Redis value, a list message of store.proto, plain or sealed whole. One value
 * rather than one hash field per record, because a bilan's records are few (bounds.h) and
 * read together, and because per-record overhead (a hash entry, a seal, a compression
 * dictionary) would otherwise cost more than the text itself: see the figures in README.md.
 *
 * A change reads the list, changes it in the arena and writes it back with a check that the
 * stored bytes are still those read (sess_write, SESS_PUT_CAS); a concurrent change makes the
 * operation start over from its restart step, where a stale version sent by the caller is
 * then found and answered ABORTED. So a record's version guards it exactly as if it were
 * stored alone.
 */
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "records.h"

/* ---- fields by name --------------------------------------------------------------------- */

static const ProtobufCFieldDescriptor *field_of(const ProtobufCMessageDescriptor *d,
                                                const char *name, ProtobufCType type)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, name);
    if (f == NULL || f->type != type || f->label == PROTOBUF_C_LABEL_REPEATED) {
        return NULL;
    }
    return f;
}

static char **string_field(ProtobufCMessage *m, const char *name)
{
    const ProtobufCFieldDescriptor *f = field_of(m->descriptor, name, PROTOBUF_C_TYPE_STRING);
    return f ? (char **)((char *)m + f->offset) : NULL;
}

const char *sess_record_id(ProtobufCMessage *m)
{
    char **id = string_field(m, "id");
    return id ? *id : NULL;
}

uint64_t sess_record_version(ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = field_of(m->descriptor, "version", PROTOBUF_C_TYPE_UINT64);
    return f ? *(const uint64_t *)((const char *)m + f->offset) : 0;
}

bool sess_record_stamp(sess_op *op, ProtobufCMessage *m, const char *id, uint64_t version,
                       bool is_new)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const ProtobufCFieldDescriptor *vf = field_of(d, "version", PROTOBUF_C_TYPE_UINT64);
    const ProtobufCFieldDescriptor *uf = field_of(d, "update_time", PROTOBUF_C_TYPE_MESSAGE);
    const ProtobufCFieldDescriptor *cf = field_of(d, "create_time", PROTOBUF_C_TYPE_MESSAGE);
    char **idp = string_field(m, "id");
    if (vf == NULL || uf == NULL || cf == NULL || idp == NULL) {
        return false;
    }
    if (id != NULL) {
        *idp = (char *)id;
    }
    *(uint64_t *)((char *)m + vf->offset) = version;
    Google__Protobuf__Timestamp *now = bsl_pb_timestamp(op->arena, op->now_ms);
    *(Google__Protobuf__Timestamp **)((char *)m + uf->offset) = now;
    if (is_new) {
        *(Google__Protobuf__Timestamp **)((char *)m + cf->offset) = now;
    }
    return now != NULL;
}

/* ---- lists ------------------------------------------------------------------------------ */

/* The list message's one field: repeated items. */
static const ProtobufCFieldDescriptor *items_field(const ProtobufCMessageDescriptor *d)
{
    return d->n_fields == 1 && d->fields[0].label == PROTOBUF_C_LABEL_REPEATED &&
                   d->fields[0].type == PROTOBUF_C_TYPE_MESSAGE
               ? &d->fields[0]
               : NULL;
}

bool sess_list_open(sess_op *op, const sess_list_kind *k, const sess_value *v, sess_list *l)
{
    memset(l, 0, sizeof(*l));
    l->k = k;
    const ProtobufCFieldDescriptor *f = items_field(k->desc);
    if (v != NULL && v->type == SESS_V_STR) {
        l->stored = *v;
    }
    if (f == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "%s: not a list type", k->desc->name);
        return false;
    }
    if (l->stored.type == SESS_V_STR) {
        if (k->kind != NULL) {
            l->msg = sess_open_msg(op, k->kind, NULL, k->desc, &l->stored);
        } else {
            l->msg = sess_unpack(op, k->desc, l->stored.str, l->stored.len);
        }
        if (l->msg == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored %s list does not %s", k->what,
                          k->kind ? "open" : "decode");
            return false;
        }
    } else {
        l->msg = bsl_arena_calloc(op->arena, 1, k->desc->sizeof_message);
        if (l->msg == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return false;
        }
        k->desc->message_init(l->msg);
    }
    l->n = (size_t *)((char *)l->msg + f->quantifier_offset);
    l->items = (ProtobufCMessage ***)((char *)l->msg + f->offset);
    /* The bilan is the key's, not stored in each item. */
    for (size_t i = 0; i < *l->n; i++) {
        char **b = string_field((*l->items)[i], "bilan_id");
        if (b != NULL) {
            *b = (char *)op->bilan_id;
        }
    }
    return true;
}

ProtobufCMessage *sess_list_find(const sess_list *l, const char *field, const char *id, size_t *at)
{
    for (size_t i = 0; i < *l->n; i++) {
        char **v = string_field((*l->items)[i], field);
        if (v != NULL && strcmp(*v, id) == 0) {
            if (at != NULL) {
                *at = i;
            }
            return (*l->items)[i];
        }
    }
    return NULL;
}

bool sess_list_append(sess_op *op, sess_list *l, ProtobufCMessage *item)
{
    ProtobufCMessage **grown = bsl_arena_alloc(op->arena, (*l->n + 1) * sizeof(*grown));
    if (grown == NULL) {
        return false;
    }
    if (*l->n > 0) {
        memcpy(grown, *l->items, *l->n * sizeof(*grown));
    }
    grown[(*l->n)++] = item;
    *l->items = grown;
    return true;
}

void sess_list_remove_at(sess_list *l, size_t at)
{
    memmove(&(*l->items)[at], &(*l->items)[at + 1], (*l->n - at - 1) * sizeof(**l->items));
    (*l->n)--;
}

sess_blob sess_list_encode(sess_op *op, const sess_list *l)
{
    if (*l->n == 0) {
        return (sess_blob){ NULL, 0 }; /* nothing left: the key goes */
    }
    /* Fields the stored form leaves empty: the bilan's id (the key's), and what the kind keeps
     * elsewhere (a meeting's notes are sealed apart from the plain meetings). */
    enum { MAX_BLANK = 4 };
    char ***fields = bsl_arena_alloc(op->arena, *l->n * MAX_BLANK * sizeof(*fields));
    char **saved = bsl_arena_alloc(op->arena, *l->n * MAX_BLANK * sizeof(*saved));
    size_t n = 0;
    if (fields == NULL || saved == NULL) {
        return (sess_blob){ NULL, 1 };
    }
    for (size_t i = 0; i < *l->n; i++) {
        char **b = string_field((*l->items)[i], "bilan_id");
        if (b != NULL) {
            fields[n] = b;
            saved[n++] = *b;
            *b = "";
        }
        for (size_t k = 0; l->k->blank != NULL && l->k->blank[k] != NULL && k + 1 < MAX_BLANK;
             k++) {
            char **f = string_field((*l->items)[i], l->k->blank[k]);
            if (f != NULL) {
                fields[n] = f;
                saved[n++] = *f;
                *f = "";
            }
        }
    }
    sess_blob out =
        l->k->kind != NULL ? sess_seal_msg(op, l->k->kind, NULL, l->msg) : sess_pack(op, l->msg);
    for (size_t i = 0; i < n; i++) {
        *fields[i] = saved[i];
    }
    if (out.data == NULL) {
        out.len = 1; /* out of memory, as opposed to an empty list */
    }
    return out;
}

bool sess_list_put(sess_op *op, sess_commit *c, const sess_list *l)
{
    sess_blob value = sess_list_encode(op, l);
    if (value.data == NULL && value.len != 0) {
        return false;
    }
    if (c->n_puts == SESS_MAX_PUTS) {
        return false;
    }
    c->puts[c->n_puts++] = (sess_put){
        l->k->part, NULL, SESS_PUT_CAS, { (const uint8_t *)l->stored.str, l->stored.len }, value
    };
    return true;
}

bool sess_list_append_put(sess_op *op, sess_commit *c, const sess_list *l, ProtobufCMessage *item)
{
    const ProtobufCFieldDescriptor *f = items_field(l->k->desc);
    if (l->k->kind != NULL || f == NULL || c->n_puts == SESS_MAX_PUTS) {
        return false; /* a sealed list is rewritten whole */
    }
    /* A list of that one item encodes as the entry to append (field 1, length, item). */
    sess_list one = *l;
    size_t n = 1;
    ProtobufCMessage *items[1] = { item };
    ProtobufCMessage **pitems = items;
    one.n = &n;
    one.items = &pitems;
    one.msg = bsl_arena_calloc(op->arena, 1, l->k->desc->sizeof_message);
    if (one.msg == NULL) {
        return false;
    }
    l->k->desc->message_init(one.msg);
    *(size_t *)((char *)one.msg + f->quantifier_offset) = 1;
    *(ProtobufCMessage ***)((char *)one.msg + f->offset) = items;
    sess_blob entry = sess_list_encode(op, &one);
    if (entry.data == NULL) {
        return false;
    }
    c->puts[c->n_puts++] = (sess_put){ l->k->part, NULL, SESS_PUT_APPEND, { NULL, 0 }, entry };
    return true;
}

/* ---- records of a list ------------------------------------------------------------------ */

typedef struct item_op {
    ProtobufCMessage *answer;
} item_op;

static void answer_item(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    const item_op *it = op->ctx;
    bsl_call_reply(op->call, it->answer);
}

static bool begin(sess_op *op, const sess_list_kind *k, size_t slot, sess_list *l, sess_commit **c)
{
    item_op *it = bsl_arena_calloc(op->arena, 1, sizeof(*it));
    *c = bsl_arena_calloc(op->arena, 1, sizeof(**c));
    if (it == NULL || *c == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return false;
    }
    op->ctx = it;
    (*c)->what = k->what;
    return sess_list_open(op, k, &op->parts[slot], l);
}

void sess_item_add(sess_op *op, const sess_list_kind *k, size_t slot, ProtobufCMessage *m)
{
    sess_list l;
    sess_commit *c;
    if (!sess_require_active(op) || !begin(op, k, slot, &l, &c)) {
        return;
    }
    item_op *it = op->ctx;
    const char *id = sess_new_id(op, k->what);
    ProtobufCMessage *first = id ? sess_list_find(&l, "id", id, NULL) : NULL;
    if (first != NULL) {
        /* A repeated creation (the same idempotency key): answer what the first one made. */
        bsl_call_reply(op->call, first);
        return;
    }
    if (id == NULL || !sess_record_stamp(op, m, id, 1, true) || !sess_list_append(op, &l, m) ||
        !sess_list_put(op, c, &l)) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (k->counter != NULL) {
        sess_count(c, k->counter, 1, k->max);
    }
    it->answer = m;
    sess_write(op, c, answer_item);
}

void sess_item_update(sess_op *op, const sess_list_kind *k, size_t slot, ProtobufCMessage *m)
{
    sess_list l;
    sess_commit *c;
    if (!sess_require_active(op) || !begin(op, k, slot, &l, &c)) {
        return;
    }
    item_op *it = op->ctx;
    size_t at = 0;
    ProtobufCMessage *old = sess_list_find(&l, "id", sess_record_id(m), &at);
    if (old == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such %s", k->what);
        return;
    }
    uint64_t stored = sess_record_version(old), sent = sess_record_version(m);
    if (sent != stored) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "version %llu is stale (the %s is at version %llu): read it again",
                      (unsigned long long)sent, k->what, (unsigned long long)stored);
        return;
    }
    const ProtobufCFieldDescriptor *cf =
        field_of(m->descriptor, "create_time", PROTOBUF_C_TYPE_MESSAGE);
    if (cf == NULL || !sess_record_stamp(op, m, NULL, stored + 1, false)) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "%s has no version", k->what);
        return;
    }
    /* The creation time is the service's, not the caller's. */
    *(void **)((char *)m + cf->offset) = *(void **)((char *)old + cf->offset);
    (*l.items)[at] = m;
    if (!sess_list_put(op, c, &l)) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    it->answer = m;
    sess_write(op, c, answer_item);
}

void sess_item_remove(sess_op *op, const sess_list_kind *k, size_t slot, const char *id,
                      const ProtobufCMessage *empty_reply)
{
    sess_list l;
    sess_commit *c;
    if (!begin(op, k, slot, &l, &c)) {
        return;
    }
    item_op *it = op->ctx;
    it->answer = (ProtobufCMessage *)empty_reply;
    size_t at = 0;
    if (sess_list_find(&l, "id", id, &at) == NULL) {
        /* Not there (or removed by a first attempt): nothing to do. */
        bsl_call_reply(op->call, empty_reply);
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    sess_list_remove_at(&l, at);
    if (!sess_list_put(op, c, &l)) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (k->counter != NULL) {
        sess_count(c, k->counter, -1, k->max);
    }
    sess_write(op, c, answer_item);
}
