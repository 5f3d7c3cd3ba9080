/*
 * The gateway's JSON transcoder (services/gateway/json.c) on request bodies from the network.
 *
 * The input names a message type, then gives the JSON text: "<full type name>\n<JSON>" (the
 * committed seeds: readable, and stable when the schema grows), or else the first byte picks
 * the type and the rest is the text. The types: every request and response type of the
 * schema, plus a few descriptor.proto types whose fields cover the scalar kinds our own
 * messages lack. What decodes must write back as JSON (the writer refuses only what
 * the mapping cannot express, which a decoded message never holds), that JSON must decode
 * again, and both messages must pack to the same bytes: the gateway's answer to a client is
 * read back by the client as the message the service sent.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/arena.h"
#include "boussole/err.h"
#include "boussole/schema.h"
#include "boussole/v1/rpc.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

#define MAX_TYPES 512

static const ProtobufCMessageDescriptor *types[MAX_TYPES];
static size_t n_types;

static void add_type(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < n_types; i++) {
        if (types[i] == d) {
            return;
        }
    }
    if (n_types < MAX_TYPES) {
        types[n_types++] = d;
    }
}

/* Every input and output type of the schema's methods, in schema order (stable across runs,
 * so that a committed seed keeps its type). */
static void collect_types(void)
{
    size_t n;
    const bsl_service_info *s = bsl_schema_services(&n);
    for (size_t i = 0; i < n; i++) {
        for (size_t m = 0; m < s[i].n_methods; m++) {
            const ProtobufCMethodDescriptor *md =
                &s[i].methods[m].service->methods[s[i].methods[m].index];
            add_type(md->input);
            add_type(md->output);
        }
    }
    add_type(&boussole__v1__rpc_response__descriptor);
    add_type(&google__protobuf__uninterpreted_option__descriptor);
    add_type(&google__protobuf__field_descriptor_proto__descriptor);
    add_type(&google__protobuf__file_options__descriptor);
}

/* Whether every field of d (and of the messages it holds) is proto3: no presence but for
 * messages, repeated fields and oneofs. */
static bool proto3(const ProtobufCMessageDescriptor *d, int depth)
{
    if (depth > 16) {
        return true;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REQUIRED ||
            (f->label == PROTOBUF_C_LABEL_OPTIONAL && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))) {
            return false;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor != d &&
            !proto3(f->descriptor, depth + 1)) {
            return false;
        }
    }
    return true;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf != NULL) {
        protobuf_c_message_pack(m, buf);
    }
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (n_types == 0) {
        collect_types();
    }
    if (len < 1) {
        return 0;
    }
    const ProtobufCMessageDescriptor *d = types[data[0] % n_types];
    size_t skip = 1;
    const uint8_t *nl = memchr(data, '\n', len < 100 ? len : 100);
    if (nl != NULL) {
        for (size_t i = 0; i < n_types; i++) {
            size_t n = strlen(types[i]->name);
            if ((size_t)(nl - data) == n && memcmp(data, types[i]->name, n) == 0) {
                d = types[i];
                skip = n + 1;
                break;
            }
        }
    }
    bsl_arena *a = bsl_arena_create();
    if (a == NULL) {
        return 0;
    }
    ProtobufCMessage *m1 = NULL, *m2 = NULL;
    gw_json_error err;
    int rv = gw_json_decode(d, (const char *)data + skip, len - skip, a, &m1, &err);
    if (rv != BSL_OK) {
        /* Refused: the error names a place and a reason (the client is told both). */
        if (rv == BSL_EINVAL && err.why[0] == '\0') {
            __builtin_trap();
        }
        bsl_arena_free(a);
        return 0;
    }
    gw_buf b;
    gw_buf_init(&b, 0);
    if (!gw_json_encode(m1, len & 1 ? GW_JSON_PRETTY : 0, &b, &err) || gw_buf_failed(&b)) {
        __builtin_trap(); /* accepted, yet not writable */
    }
    size_t tlen = 0;
    char *text = gw_buf_take(&b, &tlen);
    if (text == NULL || gw_json_decode(d, text, tlen, a, &m2, &err) != BSL_OK) {
        __builtin_trap(); /* our own output refused by our own parser */
    }
    if (proto3(d, 0)) {
        size_t l1, l2;
        uint8_t *p1 = pack(m1, &l1), *p2 = pack(m2, &l2);
        if (p1 == NULL || p2 == NULL || l1 != l2 || memcmp(p1, p2, l1) != 0) {
            __builtin_trap(); /* the round trip changed the message */
        }
        free(p1);
        free(p2);
    } else {
        gw_buf_init(&b, 0);
        size_t len3 = 0;
        char *text3 = NULL;
        if (gw_json_encode(m2, len & 1 ? GW_JSON_PRETTY : 0, &b, &err)) {
            text3 = gw_buf_take(&b, &len3);
        }
        if (text3 == NULL || len3 != tlen || memcmp(text, text3, tlen) != 0) {
            __builtin_trap(); /* the writer is not stable */
        }
        free(text3);
    }
    free(text);
    bsl_arena_free(a);
    return 0;
}
