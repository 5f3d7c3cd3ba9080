/*
 * Records sealed whole in a hash of the bilan (experiences, career leads, research): added
 * with an id derived from the idempotency key, changed under their version, removed, listed.
 * The message types share the field names this file relies on: id, version, update_time,
 * create_time (checked against the descriptor at run time: a type without them is refused).
 */
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "records.h"

static void *field_ptr(ProtobufCMessage *m, const char *name, ProtobufCType type)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
    if (f == NULL || f->type != type || f->label == PROTOBUF_C_LABEL_REPEATED) {
        return NULL;
    }
    return (char *)m + f->offset;
}

const char *sess_record_id(ProtobufCMessage *m)
{
    char **id = field_ptr(m, "id", PROTOBUF_C_TYPE_STRING);
    return id ? *id : NULL;
}

uint64_t sess_record_version(ProtobufCMessage *m)
{
    uint64_t *v = field_ptr(m, "version", PROTOBUF_C_TYPE_UINT64);
    return v ? *v : 0;
}

/* Sets id (when given), version, update time (and create time when new). */
static bool stamp(sess_op *op, ProtobufCMessage *m, const char *id, uint64_t version, bool is_new)
{
    char **idp = field_ptr(m, "id", PROTOBUF_C_TYPE_STRING);
    uint64_t *vp = field_ptr(m, "version", PROTOBUF_C_TYPE_UINT64);
    Google__Protobuf__Timestamp **up = field_ptr(m, "update_time", PROTOBUF_C_TYPE_MESSAGE);
    Google__Protobuf__Timestamp **cp = field_ptr(m, "create_time", PROTOBUF_C_TYPE_MESSAGE);
    if (idp == NULL || vp == NULL || up == NULL || cp == NULL) {
        return false;
    }
    if (id != NULL) {
        *idp = (char *)id;
    }
    *vp = version;
    *up = bsl_pb_timestamp(op->arena, op->now_ms);
    if (is_new) {
        *cp = *up;
    }
    return *up != NULL;
}

/* ---- add ---------------------------------------------------------------------------- */

/* What a change in flight needs in its callback. */
typedef struct record_op {
    const sess_record_kind *k;
    ProtobufCMessage *pending; /* the record written, answered on success */
    const char *field;
    const ProtobufCMessage *empty_reply;
} record_op;

static record_op *record_op_new(sess_op *op, const sess_record_kind *k)
{
    record_op *r = bsl_arena_calloc(op->arena, 1, sizeof(*r));
    if (r != NULL) {
        r->k = k;
        op->ctx = r;
    }
    return r;
}

static void on_added(sess_op *op, int existing, const sess_value *v)
{
    const record_op *r = op->ctx;
    const sess_record_kind *k = r->k;
    ProtobufCMessage *m = r->pending;
    if (existing >= 0) {
        /* A repeated creation (the same idempotency key): answer what the first one made. */
        m = sess_open_msg(op, k->kind, r->field, k->desc, v);
        if (m == NULL) {
            bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored %s does not open", k->what);
            return;
        }
    }
    bsl_call_reply(op->call, m);
}

void sess_record_add(sess_op *op, const sess_record_kind *k, ProtobufCMessage *m,
                     const char *prefix, const sess_put *extra)
{
    const char *id = sess_new_id(op, k->kind);
    const char *field = id ? bsl_arena_printf(op->arena, "%s%s", prefix ? prefix : "", id) : NULL;
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    record_op *r = record_op_new(op, k);
    if (field == NULL || c == NULL || r == NULL || !stamp(op, m, id, 1, true)) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sess_blob sealed = sess_seal_msg(op, k->kind, field, m);
    if (sealed.data == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->what = k->what_plural;
    c->puts[0] = (sess_put){ k->part, field, SESS_PUT_NEW, { NULL, 0 }, sealed };
    c->n_puts = 1;
    if (extra != NULL) {
        c->puts[c->n_puts++] = *extra;
    }
    sess_count(c, k->counter, 1, k->max);
    r->pending = m;
    r->field = field;
    sess_write(op, c, on_added);
}

/* ---- update ------------------------------------------------------------------------- */

static void on_updated(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    const record_op *r = op->ctx;
    bsl_call_reply(op->call, r->pending);
}

void sess_record_update(sess_op *op, const sess_record_kind *k, ProtobufCMessage *m,
                        const char *field)
{
    const sess_value *cur = &op->parts[0];
    if (cur->type != SESS_V_STR) {
        bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such %s", k->what);
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    ProtobufCMessage *old = sess_open_msg(op, k->kind, field, k->desc, cur);
    if (old == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored %s does not open", k->what);
        return;
    }
    uint64_t stored = sess_record_version(old), sent = sess_record_version(m);
    if (sent != stored) {
        bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                      "version %llu is stale (the %s is at version %llu): read it again",
                      (unsigned long long)sent, k->what, (unsigned long long)stored);
        return;
    }
    Google__Protobuf__Timestamp **cp = field_ptr(m, "create_time", PROTOBUF_C_TYPE_MESSAGE);
    Google__Protobuf__Timestamp **oc = field_ptr(old, "create_time", PROTOBUF_C_TYPE_MESSAGE);
    sess_commit *c = bsl_arena_calloc(op->arena, 1, sizeof(*c));
    record_op *r = record_op_new(op, k);
    if (c == NULL || r == NULL || cp == NULL || oc == NULL ||
        !stamp(op, m, NULL, stored + 1, false)) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    *cp = *oc; /* the creation time is the service's, not the caller's */
    sess_blob sealed = sess_seal_msg(op, k->kind, field, m);
    if (sealed.data == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->what = k->what;
    c->puts[0] =
        (sess_put){ k->part, field, SESS_PUT_CAS, { (const uint8_t *)cur->str, cur->len }, sealed };
    c->n_puts = 1;
    r->pending = m;
    sess_write(op, c, on_updated);
}

/* ---- remove ------------------------------------------------------------------------- */

static void on_removed(sess_op *op, int existing, const sess_value *v)
{
    (void)existing;
    (void)v;
    const record_op *r = op->ctx;
    bsl_call_reply(op->call, r->empty_reply);
}

void sess_record_remove(sess_op *op, const sess_record_kind *k, const char *field,
                        sess_commit *more, const ProtobufCMessage *empty_reply)
{
    const sess_value *cur = &op->parts[0];
    record_op *r = record_op_new(op, k);
    if (r == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    r->empty_reply = empty_reply;
    if (cur->type != SESS_V_STR) {
        /* Not there (or removed by a first attempt): nothing to do. */
        on_removed(op, -1, NULL);
        return;
    }
    if (!sess_require_active(op)) {
        return;
    }
    sess_commit *c = more ? more : bsl_arena_calloc(op->arena, 1, sizeof(*c));
    if (c == NULL || c->n_puts + 1 > SESS_MAX_PUTS) {
        bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    c->what = k->what;
    c->puts[c->n_puts++] = (sess_put){
        k->part, field, SESS_PUT_CAS, { (const uint8_t *)cur->str, cur->len }, { NULL, 0 }
    };
    sess_count(c, k->counter, -1, k->max);
    sess_write(op, c, on_removed);
}

/* ---- list --------------------------------------------------------------------------- */

size_t sess_records_open(sess_op *op, const sess_record_kind *k, const sess_value *hash,
                         ProtobufCMessage ***out)
{
    size_t n = hash->type == SESS_V_ARR ? hash->n / 2 : 0, count = 0;
    ProtobufCMessage **list = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(*list));
    if (list != NULL) {
        for (size_t i = 0; i < n; i++) {
            const sess_value *f = &hash->items[2 * i];
            ProtobufCMessage *m =
                sess_open_msg(op, k->kind, f->str, k->desc, &hash->items[2 * i + 1]);
            if (m != NULL) {
                list[count++] = m;
            }
        }
    }
    *out = list;
    return count;
}
