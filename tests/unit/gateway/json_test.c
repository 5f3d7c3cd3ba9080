/* The generic proto3 JSON codec (services/gateway/json.c) on real schema messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boussole/arena.h"
#include "boussole/err.h"
#include "boussole/v1/rpc.pb-c.h"
#include "boussole/v1/sessions.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"
#include "json.h"

static bsl_arena *arena;

static int setup(void **state)
{
    (void)state;
    arena = bsl_arena_create();
    return arena ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    bsl_arena_free(arena);
    return 0;
}

static ProtobufCMessage *decode_ok(const ProtobufCMessageDescriptor *d, const char *json)
{
    ProtobufCMessage *m = NULL;
    gw_json_error err;
    int rv = gw_json_decode(d, json, strlen(json), arena, &m, &err);
    if (rv != BSL_OK) {
        fail_msg("decode of %s failed: %s: %s", json, err.path, err.why);
    }
    return m;
}

/* Decodes text that must be refused; returns the error for inspection. */
static gw_json_error decode_bad(const ProtobufCMessageDescriptor *d, const char *json, size_t len)
{
    if (len == 0) {
        len = strlen(json);
    }
    ProtobufCMessage *m = NULL;
    gw_json_error err;
    int rv = gw_json_decode(d, json, len, arena, &m, &err);
    if (rv != BSL_EINVAL) {
        fail_msg("decode of %.80s should have failed (rv %d)", json, rv);
    }
    return err;
}

static char *encode(const ProtobufCMessage *m, int flags)
{
    gw_buf b;
    gw_buf_init(&b, 0);
    gw_json_error err;
    assert_true(gw_json_encode(m, flags, &b, &err));
    char *s = gw_buf_take(&b, NULL);
    assert_non_null(s);
    return s;
}

static void names(void **state)
{
    (void)state;
    char out[64];
    gw_json_name("beneficiary_id", out, sizeof(out));
    assert_string_equal(out, "beneficiaryId");
    gw_json_name("foo_bar_1", out, sizeof(out));
    assert_string_equal(out, "fooBar1");
    gw_json_name("a__b", out, sizeof(out));
    assert_string_equal(out, "aB");
    gw_json_name("id", out, sizeof(out));
    assert_string_equal(out, "id");
}

static void bilan_round_trip(void **state)
{
    (void)state;
    const char *in = "{\"id\":\"01hx\",\"beneficiaryId\":\"b-jeanne\",\"counselor_id\":\"c-marie\","
                     "\"funding\":\"FUNDING_EMPLOYER_PLAN\",\"plannedHours\":24,"
                     "\"phase\":2,\"version\":\"18446744073709551615\","
                     "\"createTime\":\"2026-12-01T09:30:00.250+01:00\",\"updateTime\":null}";
    Boussole__V1__Bilan *b = (Boussole__V1__Bilan *)decode_ok(&boussole__v1__bilan__descriptor, in);
    assert_string_equal(b->id, "01hx");
    assert_string_equal(b->beneficiary_id, "b-jeanne");
    assert_string_equal(b->counselor_id, "c-marie");
    assert_int_equal(b->funding, BOUSSOLE__V1__FUNDING__FUNDING_EMPLOYER_PLAN);
    assert_int_equal(b->planned_hours, 24);
    assert_int_equal(b->phase, BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION);
    assert_true(b->version == UINT64_MAX);
    assert_non_null(b->create_time);
    assert_int_equal(b->create_time->seconds, 1796117400 - 3600);
    assert_int_equal(b->create_time->nanos, 250000000);
    assert_null(b->update_time);

    char *out = encode(&b->base, 0);
    assert_string_equal(out,
                        "{\"id\":\"01hx\",\"beneficiaryId\":\"b-jeanne\",\"counselorId\":"
                        "\"c-marie\",\"funding\":\"FUNDING_EMPLOYER_PLAN\",\"plannedHours\":24,"
                        "\"phase\":\"PHASE_INVESTIGATION\",\"version\":\"18446744073709551615\","
                        "\"createTime\":\"2026-12-01T08:30:00.250Z\"}");
    /* What we write, we read back to the same bytes. */
    ProtobufCMessage *again = decode_ok(&boussole__v1__bilan__descriptor, out);
    uint8_t p1[512], p2[512];
    size_t n1 = protobuf_c_message_pack(&b->base, p1);
    size_t n2 = protobuf_c_message_pack(again, p2);
    assert_int_equal(n1, n2);
    assert_memory_equal(p1, p2, n1);
    free(out);
}

static void defaults_are_omitted(void **state)
{
    (void)state;
    Boussole__V1__Bilan b = BOUSSOLE__V1__BILAN__INIT;
    char *out = encode(&b.base, 0);
    assert_string_equal(out, "{}");
    free(out);
    out = encode(&b.base, GW_JSON_PRETTY);
    assert_string_equal(out, "{}");
    free(out);
    b.id = "x";
    b.planned_hours = 3;
    out = encode(&b.base, GW_JSON_PRETTY);
    assert_string_equal(out, "{\n  \"id\": \"x\",\n  \"plannedHours\": 3\n}");
    free(out);
}

static void oneof_bytes_and_lists(void **state)
{
    (void)state;
    const char *in = "{\"requestId\":\"r1\",\"code\":\"CODE_NOT_FOUND\",\"payload\":\"AAEC/w==\","
                     "\"details\":[{\"fieldViolation\":{\"field\":\"id\",\"description\":\"bad\"}},"
                     "{\"retry_info\":{\"retryDelayMs\":1500}}]}";
    Boussole__V1__RpcResponse *r =
        (Boussole__V1__RpcResponse *)decode_ok(&boussole__v1__rpc_response__descriptor, in);
    assert_int_equal(r->code, BOUSSOLE__V1__CODE__CODE_NOT_FOUND);
    assert_int_equal(r->payload.len, 4);
    assert_int_equal(r->payload.data[3], 0xff);
    assert_int_equal(r->n_details, 2);
    assert_int_equal(r->details[0]->detail_case,
                     BOUSSOLE__V1__ERROR_DETAIL__DETAIL_FIELD_VIOLATION);
    assert_string_equal(r->details[0]->field_violation->field, "id");
    assert_int_equal(r->details[1]->detail_case, BOUSSOLE__V1__ERROR_DETAIL__DETAIL_RETRY_INFO);
    assert_int_equal(r->details[1]->retry_info->retry_delay_ms, 1500);
    char *out = encode(&r->base, 0);
    assert_string_equal(out, "{\"requestId\":\"r1\",\"code\":\"CODE_NOT_FOUND\",\"details\":"
                             "[{\"fieldViolation\":{\"field\":\"id\",\"description\":\"bad\"}},"
                             "{\"retryInfo\":{\"retryDelayMs\":1500}}],\"payload\":\"AAEC/w==\"}");
    free(out);

    /* URL-safe and unpadded base64 are accepted too. */
    r = (Boussole__V1__RpcResponse *)decode_ok(&boussole__v1__rpc_response__descriptor,
                                               "{\"payload\":\"AAEC_w\"}");
    assert_int_equal(r->payload.len, 4);
    assert_int_equal(r->payload.data[3], 0xff);

    /* A oneof member that is present but empty is still written (it says which case). */
    Boussole__V1__ErrorDetail d = BOUSSOLE__V1__ERROR_DETAIL__INIT;
    Boussole__V1__RetryInfo ri = BOUSSOLE__V1__RETRY_INFO__INIT;
    d.detail_case = BOUSSOLE__V1__ERROR_DETAIL__DETAIL_RETRY_INFO;
    d.retry_info = &ri;
    out = encode(&d.base, 0);
    assert_string_equal(out, "{\"retryInfo\":{}}");
    free(out);
}

static void proto2_optional_and_numbers(void **state)
{
    (void)state;
    /* descriptor.proto is proto2: optional scalars carry has_ flags. */
    Google__Protobuf__UninterpretedOption *o = (Google__Protobuf__UninterpretedOption *)decode_ok(
        &google__protobuf__uninterpreted_option__descriptor,
        "{\"positiveIntValue\":\"9007199254740993\",\"negativeIntValue\":-42,"
        "\"doubleValue\":\"-Infinity\",\"stringValue\":\"\",\"identifierValue\":\"x\"}");
    assert_true(o->has_positive_int_value);
    assert_true(o->positive_int_value == 9007199254740993ULL);
    assert_true(o->has_negative_int_value);
    assert_true(o->negative_int_value == -42);
    assert_true(o->has_double_value);
    assert_true(o->double_value < 0 && o->double_value * 0 != 0);
    assert_true(o->has_string_value);
    assert_int_equal(o->string_value.len, 0);
    char *out = encode(&o->base, 0);
    assert_string_equal(out, "{\"identifierValue\":\"x\",\"positiveIntValue\":\"9007199254740993\","
                             "\"negativeIntValue\":\"-42\",\"doubleValue\":\"-Infinity\","
                             "\"stringValue\":\"\"}");
    free(out);

    /* Doubles are written in their shortest exact form; integers accept "1e2" and strings. */
    o = (Google__Protobuf__UninterpretedOption *)decode_ok(
        &google__protobuf__uninterpreted_option__descriptor,
        "{\"doubleValue\":0.1,\"positiveIntValue\":1e2,\"negativeIntValue\":\"-7\"}");
    assert_true(o->positive_int_value == 100);
    assert_true(o->negative_int_value == -7);
    out = encode(&o->base, 0);
    assert_string_equal(out, "{\"positiveIntValue\":\"100\",\"negativeIntValue\":\"-7\","
                             "\"doubleValue\":0.1}");
    free(out);
}

static void errors_name_the_field(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *cb = &boussole__v1__create_bilan_request__descriptor;
    gw_json_error e;

    e = decode_bad(cb, "{\"plannedHours\":\"abc\"}", 0);
    assert_string_equal(e.path, "plannedHours");
    assert_non_null(strstr(e.why, "expected an integer"));

    e = decode_bad(cb, "{\"planned_hours\":4294967296}", 0);
    assert_string_equal(e.path, "planned_hours");
    assert_non_null(strstr(e.why, "out of range for uint32"));

    e = decode_bad(cb, "{\"plannedHours\":-1}", 0);
    assert_non_null(strstr(e.why, "out of range"));

    e = decode_bad(cb, "{\"plannedHours\":1.5}", 0);
    assert_non_null(strstr(e.why, "fraction"));

    e = decode_bad(cb, "{\"funding\":\"FUNDING_LOTTERY\"}", 0);
    assert_string_equal(e.path, "funding");
    assert_non_null(strstr(e.why, "boussole.v1.Funding"));

    e = decode_bad(cb, "{\"nickname\":\"x\"}", 0);
    assert_string_equal(e.path, "nickname");
    assert_non_null(strstr(e.why, "unknown field"));

    e = decode_bad(cb, "{\"beneficiaryId\":\"a\",\"beneficiary_id\":\"b\"}", 0);
    assert_non_null(strstr(e.why, "given twice"));

    e = decode_bad(cb, "{\"beneficiaryId\":42}", 0);
    assert_non_null(strstr(e.why, "expected a string"));

    e = decode_bad(cb, "[]", 0);
    assert_string_equal(e.path, "");
    assert_non_null(strstr(e.why, "expected an object"));

    e = decode_bad(cb, "{\"a\":1,}", 0);
    assert_non_null(strstr(e.why, "invalid JSON"));

    /* Duplicate keys, trailing garbage. */
    e = decode_bad(cb, "{\"funding\":1,\"funding\":2}", 0);
    assert_non_null(strstr(e.why, "invalid JSON"));
    e = decode_bad(cb, "{} x", 0);
    assert_non_null(strstr(e.why, "invalid JSON"));

    /* Huge numbers: beyond int64 the parser refuses; within it, the field's range does. */
    e = decode_bad(cb, "{\"plannedHours\":123456789012345678901234567890}", 0);
    assert_non_null(strstr(e.why, "invalid JSON"));
    e = decode_bad(cb, "{\"plannedHours\":1e400}", 0);
    assert_non_null(strstr(e.why, "invalid JSON"));

    /* Nested lists and messages. */
    e = decode_bad(&boussole__v1__rpc_response__descriptor,
                   "{\"details\":[{},{\"fieldViolation\":{\"field\":7}}]}", 0);
    assert_string_equal(e.path, "details[1].fieldViolation.field");

    e = decode_bad(&boussole__v1__rpc_response__descriptor,
                   "{\"details\":[{\"fieldViolation\":{},\"retryInfo\":{}}]}", 0);
    assert_non_null(strstr(e.why, "oneof"));

    e = decode_bad(&boussole__v1__rpc_response__descriptor, "{\"payload\":\"***\"}", 0);
    assert_non_null(strstr(e.why, "base64"));

    e = decode_bad(&boussole__v1__bilan__descriptor, "{\"createTime\":\"2026-02-30T00:00:00Z\"}",
                   0);
    assert_string_equal(e.path, "createTime");
    assert_non_null(strstr(e.why, "RFC 3339"));

    e = decode_bad(&boussole__v1__rpc_response__descriptor, "{\"details\":[null]}", 0);
    assert_non_null(strstr(e.why, "null"));
}

static void hostile_text(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *cb = &boussole__v1__create_bilan_request__descriptor;
    gw_json_error e;

    /* Invalid UTF-8 (a lone continuation byte, an overlong '/'), and an escaped NUL. */
    e = decode_bad(cb, "{\"beneficiaryId\":\"\x80\"}", 0);
    assert_non_null(strstr(e.why, "invalid JSON"));
    e = decode_bad(cb, "{\"beneficiaryId\":\"\xc0\xaf\"}", 0);
    assert_non_null(strstr(e.why, "invalid JSON"));
    e = decode_bad(cb, "{\"beneficiaryId\":\"a\\u0000b\"}", 0);
    assert_non_null(strstr(e.why, "invalid JSON"));
    /* A lone surrogate escape. */
    e = decode_bad(cb, "{\"beneficiaryId\":\"\\ud800\"}", 0);
    assert_non_null(strstr(e.why, "invalid JSON"));

    /* Deep nesting is refused before parsing: 100 000 brackets. */
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    e = decode_bad(cb, deep, 2 * n);
    assert_non_null(strstr(e.why, "nested deeper"));
    free(deep);

    /* Nesting within the text limit but beyond the message limit. */
    char buf[4096];
    size_t len = 0;
    for (int i = 0; i < 40; i++) {
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "{\"a\":");
    }
    len += (size_t)snprintf(buf + len, sizeof(buf) - len, "1");
    for (int i = 0; i < 40; i++) {
        buf[len++] = '}';
    }
    e = decode_bad(cb, buf, len);
    assert_true(strstr(e.why, "unknown field") != NULL || strstr(e.why, "nested") != NULL);

    /* Brackets inside strings do not count. */
    ProtobufCMessage *m = NULL;
    char text[512];
    int tl = snprintf(text, sizeof(text), "{\"beneficiaryId\":\"%s\"}",
                      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                      "[[[[[[[[[[[[[[\\\"[[[[");
    assert_int_equal(gw_json_decode(cb, text, (size_t)tl, arena, &m, &e), BSL_OK);
}

static void strings_escape_and_utf8(void **state)
{
    (void)state;
    Boussole__V1__KeyValue kv = BOUSSOLE__V1__KEY_VALUE__INIT;
    kv.key = "quote\"back\\slash\nnew\x01";
    kv.value = "Élodie — ok";
    char *out = encode(&kv.base, 0);
    assert_string_equal(out, "{\"key\":\"quote\\\"back\\\\slash\\nnew\\u0001\",\"value\":"
                             "\"Élodie — ok\"}");
    free(out);

    /* A backend string that is not UTF-8 cannot be written as JSON. */
    kv.value = "bad \xff";
    gw_buf b;
    gw_buf_init(&b, 0);
    gw_json_error err;
    assert_false(gw_json_encode(&kv.base, 0, &b, &err));
    assert_string_equal(err.path, "value");
    gw_buf_free(&b);
}

/* ---- maps ----------------------------------------------------------------------------------
 * None of our protos has a map yet, so the test declares one by hand, as protoc-c would for
 *     message Tagged { map<string, int64> labels = 1; }
 */
typedef struct {
    ProtobufCMessage base;
    char *key;
    int64_t value;
} labels_entry;

typedef struct {
    ProtobufCMessage base;
    size_t n_labels;
    labels_entry **labels;
} tagged;

extern const ProtobufCMessageDescriptor labels_entry_descriptor, tagged_descriptor;

static void labels_entry_init(labels_entry *m)
{
    memset(m, 0, sizeof(*m));
    m->base.descriptor = &labels_entry_descriptor;
    m->key = (char *)protobuf_c_empty_string;
}

static void tagged_init(tagged *m)
{
    memset(m, 0, sizeof(*m));
    m->base.descriptor = &tagged_descriptor;
}

static const ProtobufCFieldDescriptor labels_entry_fields[] = {
    { "key", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0, offsetof(labels_entry, key), NULL,
      &protobuf_c_empty_string, 0, 0, NULL, NULL },
    { "value", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_INT64, 0, offsetof(labels_entry, value),
      NULL, NULL, 0, 0, NULL, NULL },
};
static const unsigned labels_entry_sorted[] = { 0, 1 };
static const ProtobufCIntRange labels_entry_ranges[] = { { 1, 0 }, { 0, 2 } };
const ProtobufCMessageDescriptor labels_entry_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    "test.Tagged.LabelsEntry",
    "LabelsEntry",
    "Test__Tagged__LabelsEntry",
    "test",
    sizeof(labels_entry),
    2,
    labels_entry_fields,
    labels_entry_sorted,
    1,
    labels_entry_ranges,
    (ProtobufCMessageInit)labels_entry_init,
    NULL,
    NULL,
    NULL,
};

static const ProtobufCFieldDescriptor tagged_fields[] = {
    { "labels", 1, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_MESSAGE, offsetof(tagged, n_labels),
      offsetof(tagged, labels), &labels_entry_descriptor, NULL, 0, 0, NULL, NULL },
};
static const unsigned tagged_sorted[] = { 0 };
static const ProtobufCIntRange tagged_ranges[] = { { 1, 0 }, { 0, 1 } };
const ProtobufCMessageDescriptor tagged_descriptor = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
    "test.Tagged",
    "Tagged",
    "Test__Tagged",
    "test",
    sizeof(tagged),
    1,
    tagged_fields,
    tagged_sorted,
    1,
    tagged_ranges,
    (ProtobufCMessageInit)tagged_init,
    NULL,
    NULL,
    NULL,
};

static void maps(void **state)
{
    (void)state;
    assert_true(gw_json_is_map_entry(&labels_entry_descriptor));
    assert_false(gw_json_is_map_entry(&tagged_descriptor));
    tagged *t = (tagged *)decode_ok(&tagged_descriptor, "{\"labels\":{\"a\":\"1\",\"b\":-2}}");
    assert_int_equal(t->n_labels, 2);
    assert_string_equal(t->labels[0]->key, "a");
    assert_true(t->labels[0]->value == 1);
    assert_string_equal(t->labels[1]->key, "b");
    assert_true(t->labels[1]->value == -2);
    char *out = encode(&t->base, 0);
    assert_string_equal(out, "{\"labels\":{\"a\":\"1\",\"b\":\"-2\"}}");
    free(out);
    /* The binary form is the repeated entries protobuf defines for maps. */
    uint8_t buf[64];
    size_t n = protobuf_c_message_pack(&t->base, buf);
    tagged *back = (tagged *)protobuf_c_message_unpack(&tagged_descriptor, NULL, n, buf);
    assert_non_null(back);
    assert_int_equal(back->n_labels, 2);
    protobuf_c_message_free_unpacked(&back->base, NULL);
    gw_json_error e = decode_bad(&tagged_descriptor, "{\"labels\":[1]}", 0);
    assert_non_null(strstr(e.why, "a map"));
    e = decode_bad(&tagged_descriptor, "{\"labels\":{\"a\":null}}", 0);
    assert_string_equal(e.path, "labels.a");
    e = decode_bad(&tagged_descriptor, "{\"labels\":{\"a\":\"x\"}}", 0);
    assert_string_equal(e.path, "labels.a");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(bilan_round_trip),
        cmocka_unit_test(defaults_are_omitted),
        cmocka_unit_test(oneof_bytes_and_lists),
        cmocka_unit_test(proto2_optional_and_numbers),
        cmocka_unit_test(errors_name_the_field),
        cmocka_unit_test(hostile_text),
        cmocka_unit_test(strings_escape_and_utf8),
        cmocka_unit_test(maps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
