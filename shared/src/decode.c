/*
 * Decoding an incoming call: everything the server does with bytes from the network before a
 * handler sees them, with no I/O, so that the fuzzers (tests/fuzz) drive exactly the code the
 * server runs.
 */
#include <stdio.h>
#include <string.h>

#include "boussole/pbcheck.h"
#include "server_internal.h"

static bool printable_ascii(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (n >= max || s[n] < 0x20 || s[n] >= 0x7f) {
            return false;
        }
    }
    return true;
}

static bsl_status set(bsl__decoded *out, bsl_status st, const char *msg)
{
    out->status = st;
    out->message = msg != NULL ? msg : bsl_status_name(st);
    return st;
}

bsl_status bsl__decode_envelope(const uint8_t *data, size_t len, size_t max, bsl_arena *a,
                                bsl__decoded *out)
{
    memset(out, 0, sizeof(*out));
    if (len > max) {
        return set(out, BSL_STATUS_RESOURCE_EXHAUSTED,
                   bsl_arena_printf(a, "request of %zu bytes exceeds the limit of %zu", len, max));
    }
    char path[128], why[96];
    if (!bsl_pb_check(&boussole__v1__rpc_request__descriptor, data, len, path, sizeof(path), why,
                      sizeof(why))) {
        return set(
            out, BSL_STATUS_INVALID_ARGUMENT,
            bsl_arena_printf(a, "request envelope%s%s: %s", path[0] ? " field " : "", path, why));
    }
    out->req = boussole__v1__rpc_request__unpack(bsl_arena_allocator(a), len, data);
    if (out->req == NULL) {
        return set(out, BSL_STATUS_INVALID_ARGUMENT, "request envelope does not decode");
    }
    if (!printable_ascii(out->req->request_id, 64) ||
        (out->req->metadata && !printable_ascii(out->req->metadata->trace_id, 32))) {
        out->req->request_id = "";
        return set(out, BSL_STATUS_INVALID_ARGUMENT,
                   "request_id and trace_id must be short printable ASCII");
    }
    const char *name = out->req->method;
    out->method = bsl_schema_method(name, strlen(name));
    if (out->method == NULL) {
        return set(out, BSL_STATUS_UNIMPLEMENTED,
                   bsl_arena_printf(a, "unknown method '%.200s'", name));
    }
    return set(out, BSL_STATUS_OK, "");
}

bsl_status bsl__decode_payload(bsl_arena *a, bsl__decoded *out)
{
    const ProtobufCMessageDescriptor *input =
        out->method->service->methods[out->method->index].input;
    const ProtobufCBinaryData *p = &out->req->payload;
    char why[96];
    if (!bsl_pb_check(input, p->data, p->len, out->field, sizeof(out->field), why, sizeof(why))) {
        if (out->field[0] != '\0') {
            return set(out, BSL_STATUS_INVALID_ARGUMENT,
                       bsl_arena_printf(a, "%s: %s", out->field, why));
        }
        return set(out, BSL_STATUS_INVALID_ARGUMENT,
                   bsl_arena_printf(a, "payload of %s: %s", out->method->name, why));
    }
    out->input = protobuf_c_message_unpack(input, bsl_arena_allocator(a), p->len, p->data);
    if (out->input == NULL) {
        return set(out, BSL_STATUS_INVALID_ARGUMENT,
                   bsl_arena_printf(a, "payload does not decode as %s", input->name));
    }
    return set(out, BSL_STATUS_OK, "");
}
