/* The wire checker: well-formed payloads pass; broken ones are refused with the field path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "boussole/pbcheck.h"
#include "boussole/v1/rpc.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

static bool check(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, char *path,
                  char *why)
{
    return bsl_pb_check(d, p, n, path, 128, why, 128);
}

static void utf8(void **state)
{
    (void)state;
    assert_true(bsl_utf8_valid("", 0));
    assert_true(bsl_utf8_valid("été à l'œuvre", strlen("été à l'œuvre")));
    assert_true(bsl_utf8_valid("\xf0\x9f\x98\x80", 4));  /* U+1F600 */
    assert_false(bsl_utf8_valid("\xc3\x28", 2));         /* bad continuation */
    assert_false(bsl_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(bsl_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(bsl_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(bsl_utf8_valid("\xe2\x82", 2));         /* truncated */
}

static void real_messages_pass(void **state)
{
    (void)state;
    Boussole__V1__RpcRequest r = BOUSSOLE__V1__RPC_REQUEST__INIT;
    Boussole__V1__Metadata md = BOUSSOLE__V1__METADATA__INIT;
    Boussole__V1__Caller c = BOUSSOLE__V1__CALLER__INIT;
    Boussole__V1__KeyValue kv1 = BOUSSOLE__V1__KEY_VALUE__INIT, kv2 = BOUSSOLE__V1__KEY_VALUE__INIT;
    Boussole__V1__KeyValue *kvs[] = { &kv1, &kv2 };
    kv1.key = "a";
    kv1.value = "é";
    kv2.key = "b";
    kv2.value = "x";
    c.subject = "léa";
    c.role = BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY;
    md.caller = &c;
    md.extra = kvs;
    md.n_extra = 2;
    r.method = "boussole.v1.SessionService/GetBilan";
    r.deadline_ms = -5;
    r.metadata = &md;
    uint8_t buf[512];
    size_t n = boussole__v1__rpc_request__pack(&r, buf);
    char path[128], why[128];
    assert_true(check(&boussole__v1__rpc_request__descriptor, buf, n, path, why));
    assert_true(check(&boussole__v1__rpc_request__descriptor, buf, 0, path, why));
}

static void broken_messages_name_the_field(void **state)
{
    (void)state;
    char path[128], why[128];
    /* metadata { extra[1] { value: invalid UTF-8 } } */
    const uint8_t nested[] = {
        0x22, 0x10,                                    /* RpcRequest.metadata, 16 bytes */
        0x2a, 0x06, 0x0a, 0x01, 'a', 0x12, 0x01, 'b',  /* extra[0] */
        0x2a, 0x06, 0x0a, 0x01, 'c', 0x12, 0x01, 0xff, /* extra[1].value = 0xff */
    };
    assert_false(check(&boussole__v1__rpc_request__descriptor, nested, sizeof(nested), path, why));
    assert_string_equal(path, "metadata.extra[1].value");
    assert_string_equal(why, "not valid UTF-8");

    const uint8_t truncated[] = { 0x0a, 0x05, 'a', 'b' };
    assert_false(
        check(&boussole__v1__rpc_request__descriptor, truncated, sizeof(truncated), path, why));
    assert_string_equal(path, "method");

    const uint8_t wrong_type[] = { 0x0d, 1, 2, 3, 4 }; /* method as a fixed32 */
    assert_false(
        check(&boussole__v1__rpc_request__descriptor, wrong_type, sizeof(wrong_type), path, why));
    assert_string_equal(path, "method");
    assert_string_equal(why, "wrong wire type for this field");

    const uint8_t nul[] = { 0x0a, 0x03, 'a', 0, 'b' };
    assert_false(check(&boussole__v1__rpc_request__descriptor, nul, sizeof(nul), path, why));

    const uint8_t bad_varint[] = { 0x18, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
    assert_false(
        check(&boussole__v1__rpc_request__descriptor, bad_varint, sizeof(bad_varint), path, why));
    assert_string_equal(path, "deadline_ms");

    const uint8_t field_zero[] = { 0x02, 0x00 };
    assert_false(
        check(&boussole__v1__rpc_request__descriptor, field_zero, sizeof(field_zero), path, why));

    /* Unknown fields are skipped, as proto3 says. */
    const uint8_t unknown[] = { 0xf8, 0x07, 0x01, 0x0a, 0x01, 'x' };
    assert_true(check(&boussole__v1__rpc_request__descriptor, unknown, sizeof(unknown), path, why));

    /* An unknown length-delimited field is skipped with its contents, which are not read as
     * fields: bytes that are no fields at all inside it pass... */
    const uint8_t unknown_bytes[] = { 0xfa, 0x07, 0x03, 0x00, 0x00, 0xff, 0x0a, 0x01, 'x' };
    assert_true(check(&boussole__v1__rpc_request__descriptor, unknown_bytes, sizeof(unknown_bytes),
                      path, why));
    /* ...and what follows it is read from the right place: here a field number 0 written on two
     * bytes, which the contents (read as a 64-bit field) once swallowed, so that protobuf-c
     * decoded a message it could not decode again once packed (fuzz_payload). */
    const uint8_t after_unknown[] = { 0xa2, 0x06, 0x06, 0x41, 0x00, 0x01,
                                      0xeb, 0x65, 0x3f, 0x80, 0x00, 0x10 }; /* field 100 */
    assert_false(check(&boussole__v1__rpc_request__descriptor, after_unknown, sizeof(after_unknown),
                       path, why));
    assert_string_equal(why, "invalid field number");
}

/* DescriptorProto.nested_type is recursive: a payload nested deeper than the limit is
 * refused instead of recursing without end. */
static size_t nest(uint8_t *buf, int depth)
{
    /* Built inside out: each level wraps the previous one as field 3 (nested_type). */
    uint8_t tmp[512];
    size_t n = 0;
    for (int i = 0; i < depth; i++) {
        tmp[0] = 0x1a;
        tmp[1] = (uint8_t)n;
        memcpy(tmp + 2, buf, n);
        n += 2;
        memcpy(buf, tmp, n);
    }
    return n;
}

static void depth_is_bounded(void **state)
{
    (void)state;
    uint8_t buf[512];
    char path[128], why[128];
    size_t n = nest(buf, 20);
    assert_true(check(&google__protobuf__descriptor_proto__descriptor, buf, n, path, why));
    n = nest(buf, BSL_PB_MAX_DEPTH + 5);
    assert_false(check(&google__protobuf__descriptor_proto__descriptor, buf, n, path, why));
    assert_string_equal(why, "nested too deeply");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8),
        cmocka_unit_test(real_messages_pass),
        cmocka_unit_test(broken_messages_name_the_field),
        cmocka_unit_test(depth_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
