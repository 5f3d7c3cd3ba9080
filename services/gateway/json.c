#include "json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "boussole/err.h"
#include "wkt.h"

/* ---- descriptors ---------------------------------------------------------------------- */

typedef enum {
    KIND_PLAIN,
    KIND_TIMESTAMP,
    KIND_DURATION,
    KIND_WRAPPER,
    KIND_UNSUPPORTED, /* Any, Struct, Value, ListValue, FieldMask: not in our schema */
} msg_kind;

static msg_kind kind_of(const ProtobufCMessageDescriptor *d)
{
    static const char pkg[] = "google.protobuf.";
    if (strncmp(d->name, pkg, sizeof(pkg) - 1) != 0) {
        return KIND_PLAIN;
    }
    const char *n = d->name + sizeof(pkg) - 1;
    if (strcmp(n, "Timestamp") == 0) {
        return KIND_TIMESTAMP;
    }
    if (strcmp(n, "Duration") == 0) {
        return KIND_DURATION;
    }
    static const char *const wrappers[] = { "DoubleValue", "FloatValue",  "Int64Value",
                                            "UInt64Value", "Int32Value",  "UInt32Value",
                                            "BoolValue",   "StringValue", "BytesValue" };
    for (size_t i = 0; i < sizeof(wrappers) / sizeof(wrappers[0]); i++) {
        if (strcmp(n, wrappers[i]) == 0 && d->n_fields == 1) {
            return KIND_WRAPPER;
        }
    }
    static const char *const unsupported[] = { "Any", "Struct", "Value", "ListValue", "FieldMask" };
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
        if (strcmp(n, unsupported[i]) == 0) {
            return KIND_UNSUPPORTED;
        }
    }
    return KIND_PLAIN;
}

bool gw_json_is_special(const ProtobufCMessageDescriptor *d)
{
    msg_kind k = kind_of(d);
    return k == KIND_TIMESTAMP || k == KIND_DURATION || k == KIND_WRAPPER;
}

bool gw_json_is_map_entry(const ProtobufCMessageDescriptor *d)
{
    size_t n = strlen(d->short_name);
    return n > 5 && strcmp(d->short_name + n - 5, "Entry") == 0 && d->n_fields == 2 &&
           d->fields[0].id == 1 && strcmp(d->fields[0].name, "key") == 0 && d->fields[1].id == 2 &&
           strcmp(d->fields[1].name, "value") == 0;
}

static bool is_map_field(const ProtobufCFieldDescriptor *f)
{
    return f->label == PROTOBUF_C_LABEL_REPEATED && f->type == PROTOBUF_C_TYPE_MESSAGE &&
           gw_json_is_map_entry(f->descriptor);
}

void gw_json_name(const char *proto_name, char *out, size_t cap)
{
    size_t n = 0;
    bool up = false;
    for (const char *p = proto_name; *p != '\0' && n + 1 < cap; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        out[n++] = (up && *p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
        up = false;
    }
    if (cap > 0) {
        out[n] = '\0';
    }
}

/* Whether key is the JSON name of proto_name, without building the name. */
static bool json_name_is(const char *proto_name, const char *key)
{
    bool up = false;
    for (const char *p = proto_name; *p != '\0'; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        char ch = (up && *p >= 'a' && *p <= 'z') ? (char)(*p - 32) : *p;
        up = false;
        if (*key++ != ch) {
            return false;
        }
    }
    return *key == '\0';
}

static const ProtobufCFieldDescriptor *field_for_key(const ProtobufCMessageDescriptor *d,
                                                     const char *key)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
    if (f != NULL) {
        return f;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        if (json_name_is(d->fields[i].name, key)) {
            return &d->fields[i];
        }
    }
    return NULL;
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

static void *at(const void *msg, unsigned offset)
{
    return (char *)msg + offset;
}

/* ---- decoding ------------------------------------------------------------------------- */

typedef struct dctx {
    bsl_arena *arena;
    gw_json_error *err;
    char path[192];
    size_t plen;
} dctx;

static int dfail(dctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int dfail(dctx *c, const char *fmt, ...)
{
    snprintf(c->err->path, sizeof(c->err->path), "%s", c->path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->why, sizeof(c->err->why), fmt, ap);
    va_end(ap);
    return BSL_EINVAL;
}

static size_t push_key(dctx *c, const char *key)
{
    size_t saved = c->plen;
    int n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "%s%s", c->plen ? "." : "", key);
    if (n > 0) {
        c->plen +=
            (size_t)n < sizeof(c->path) - c->plen ? (size_t)n : sizeof(c->path) - c->plen - 1;
    }
    return saved;
}

static size_t push_index(dctx *c, size_t i)
{
    size_t saved = c->plen;
    int n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "[%zu]", i);
    if (n > 0) {
        c->plen +=
            (size_t)n < sizeof(c->path) - c->plen ? (size_t)n : sizeof(c->path) - c->plen - 1;
    }
    return saved;
}

static void pop(dctx *c, size_t saved)
{
    c->plen = saved;
    c->path[saved] = '\0';
}

static const char *type_word(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* A decimal integer written as a string: optional '-', digits, nothing else. */
static bool plain_integer(const char *s)
{
    if (*s == '-') {
        s++;
    }
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
    }
    return true;
}

/* A JSON-style number written as a string (what strtod accepts minus hex, inf, nan and
 * leading spaces or '+'). */
static bool plain_number(const char *s)
{
    if (*s == '-') {
        s++;
    }
    if (*s < '0' || *s > '9') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!((*s >= '0' && *s <= '9') || *s == '.' || *s == 'e' || *s == 'E' || *s == '+' ||
              *s == '-')) {
            return false;
        }
    }
    return true;
}

typedef enum { NUM_OK, NUM_TYPE, NUM_FRACTION, NUM_RANGE } num_result;

/* A JSON value that must hold an integer: a number, an integral real ("1e3") or a string
 * holding either. Signed values go to *i, unsigned ones to *u. */
static num_result integral(const json_t *v, bool is_unsigned, int64_t *i, uint64_t *u)
{
    double d;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (is_unsigned) {
            if (x < 0) {
                return NUM_RANGE;
            }
            *u = (uint64_t)x;
        } else {
            *i = (int64_t)x;
        }
        return NUM_OK;
    }
    if (json_is_real(v)) {
        d = json_real_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (plain_integer(s)) {
            char *end;
            errno = 0;
            if (is_unsigned) {
                if (s[0] == '-') {
                    return strspn(s + 1, "0") == strlen(s + 1) ? (*u = 0, NUM_OK) : NUM_RANGE;
                }
                *u = strtoull(s, &end, 10);
            } else {
                *i = strtoll(s, &end, 10);
            }
            return errno == ERANGE ? NUM_RANGE : NUM_OK;
        }
        if (!plain_number(s)) {
            return NUM_TYPE;
        }
        char *end;
        errno = 0;
        d = strtod(s, &end);
        if (*end != '\0') {
            return NUM_TYPE;
        }
    } else {
        return NUM_TYPE;
    }
    if (!isfinite(d)) {
        return NUM_RANGE;
    }
    if (d != trunc(d)) {
        return NUM_FRACTION;
    }
    if (is_unsigned) {
        if (d < 0 || d >= 18446744073709551616.0) {
            return NUM_RANGE;
        }
        *u = (uint64_t)d;
    } else {
        if (d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
            return NUM_RANGE;
        }
        *i = (int64_t)d;
    }
    return NUM_OK;
}

static int num_fail(dctx *c, num_result r, const json_t *v, const char *type)
{
    switch (r) {
    case NUM_TYPE:
        return dfail(c, "expected an integer (%s), got %s", type, type_word(v));
    case NUM_FRACTION:
        return dfail(c, "expected an integer (%s), got a fraction", type);
    default:
        return dfail(c, "number out of range for %s", type);
    }
}

static int get_signed(dctx *c, const json_t *v, int64_t min, int64_t max, const char *type,
                      int64_t *out)
{
    int64_t i = 0;
    uint64_t u = 0;
    num_result r = integral(v, false, &i, &u);
    if (r == NUM_OK && (i < min || i > max)) {
        r = NUM_RANGE;
    }
    if (r != NUM_OK) {
        return num_fail(c, r, v, type);
    }
    *out = i;
    return BSL_OK;
}

static int get_unsigned(dctx *c, const json_t *v, uint64_t max, const char *type, uint64_t *out)
{
    int64_t i = 0;
    uint64_t u = 0;
    num_result r = integral(v, true, &i, &u);
    if (r == NUM_OK && u > max) {
        r = NUM_RANGE;
    }
    if (r != NUM_OK) {
        return num_fail(c, r, v, type);
    }
    *out = u;
    return BSL_OK;
}

static int get_double(dctx *c, const json_t *v, bool is_float, double *out)
{
    const char *type = is_float ? "float" : "double";
    double d;
    if (json_is_integer(v)) {
        d = (double)json_integer_value(v);
    } else if (json_is_real(v)) {
        d = json_real_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
            return BSL_OK;
        }
        if (strcmp(s, "Infinity") == 0 || strcmp(s, "-Infinity") == 0) {
            *out = s[0] == '-' ? -INFINITY : INFINITY;
            return BSL_OK;
        }
        char *end;
        if (!plain_number(s) || (d = strtod(s, &end), *end != '\0')) {
            return dfail(c, "expected a number (%s), got a string that is not one", type);
        }
    } else {
        return dfail(c, "expected a number (%s), got %s", type, type_word(v));
    }
    if (!isfinite(d) || (is_float && fabs(d) > FLT_MAX)) {
        return dfail(c, "number out of range for %s", type);
    }
    *out = d;
    return BSL_OK;
}

static int get_bytes(dctx *c, const json_t *v, ProtobufCBinaryData *out)
{
    if (!json_is_string(v)) {
        return dfail(c, "expected base64 text (bytes), got %s", type_word(v));
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    bool url = strpbrk(s, "-_") != NULL;
    if (url && strpbrk(s, "+/") != NULL) {
        return dfail(c, "not valid base64");
    }
    bool padded = len > 0 && s[len - 1] == '=';
    int variant =
        url ? (padded ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_URLSAFE_NO_PADDING)
            : (padded ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    size_t cap = len / 4 * 3 + 3;
    uint8_t *bin = bsl_arena_alloc(c->arena, cap);
    if (bin == NULL) {
        return BSL_ENOMEM;
    }
    size_t n = 0;
    const char *end = NULL;
    if (sodium_base642bin(bin, cap, s, len, NULL, &n, &end, variant) != 0 || end != s + len) {
        return dfail(c, "not valid base64");
    }
    out->data = bin;
    out->len = n;
    return BSL_OK;
}

static int decode_message(dctx *c, const ProtobufCMessageDescriptor *d, const json_t *v,
                          ProtobufCMessage **out, int depth);

/* Decodes one value of field f (one element for repeated fields) into dst. */
static int decode_value(dctx *c, const ProtobufCFieldDescriptor *f, const json_t *v, void *dst,
                        int depth)
{
    int64_t i = 0;
    uint64_t u = 0;
    double d = 0;
    int rv;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if ((rv = get_signed(c, v, INT32_MIN, INT32_MAX, "int32", &i)) == BSL_OK) {
            *(int32_t *)dst = (int32_t)i;
        }
        return rv;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if ((rv = get_unsigned(c, v, UINT32_MAX, "uint32", &u)) == BSL_OK) {
            *(uint32_t *)dst = (uint32_t)u;
        }
        return rv;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((rv = get_signed(c, v, INT64_MIN, INT64_MAX, "int64", &i)) == BSL_OK) {
            *(int64_t *)dst = i;
        }
        return rv;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((rv = get_unsigned(c, v, UINT64_MAX, "uint64", &u)) == BSL_OK) {
            *(uint64_t *)dst = u;
        }
        return rv;
    case PROTOBUF_C_TYPE_FLOAT:
        if ((rv = get_double(c, v, true, &d)) == BSL_OK) {
            *(float *)dst = (float)d;
        }
        return rv;
    case PROTOBUF_C_TYPE_DOUBLE:
        if ((rv = get_double(c, v, false, &d)) == BSL_OK) {
            *(double *)dst = d;
        }
        return rv;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v)) {
            return dfail(c, "expected true or false, got %s", type_word(v));
        }
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return BSL_OK;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        if (json_is_string(v)) {
            const ProtobufCEnumValue *ev =
                protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
            if (ev == NULL) {
                return dfail(c, "\"%.64s\" is not a value of %s", json_string_value(v), ed->name);
            }
            *(int *)dst = ev->value;
            return BSL_OK;
        }
        if (json_is_integer(v)) {
            /* Proto3 enums are open: any int32 travels, the service decides. */
            if ((rv = get_signed(c, v, INT32_MIN, INT32_MAX, "enum", &i)) == BSL_OK) {
                *(int *)dst = (int)i;
            }
            return rv;
        }
        return dfail(c, "expected a name of %s, got %s", ed->name, type_word(v));
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v)) {
            return dfail(c, "expected a string, got %s", type_word(v));
        }
        char *s = bsl_arena_strndup(c->arena, json_string_value(v), json_string_length(v));
        if (s == NULL) {
            return BSL_ENOMEM;
        }
        *(char **)dst = s;
        return BSL_OK;
    }
    case PROTOBUF_C_TYPE_BYTES:
        return get_bytes(c, v, dst);
    case PROTOBUF_C_TYPE_MESSAGE:
        return decode_message(c, f->descriptor, v, dst, depth + 1);
    }
    return dfail(c, "unsupported field type");
}

/* Map keys are strings in JSON; the key field may be a string, an integer or a bool. */
static int decode_map_key(dctx *c, const ProtobufCFieldDescriptor *kf, const char *key, void *dst)
{
    if (kf->type == PROTOBUF_C_TYPE_STRING) {
        char *s = bsl_arena_strdup(c->arena, key);
        if (s == NULL) {
            return BSL_ENOMEM;
        }
        *(char **)dst = s;
        return BSL_OK;
    }
    if (kf->type == PROTOBUF_C_TYPE_BOOL) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0) {
            return dfail(c, "map key must be \"true\" or \"false\"");
        }
        *(protobuf_c_boolean *)dst = key[0] == 't';
        return BSL_OK;
    }
    json_t *k = json_string(key);
    if (k == NULL) {
        return BSL_ENOMEM;
    }
    int rv = decode_value(c, kf, k, dst, 0);
    json_decref(k);
    return rv;
}

static int decode_map(dctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                      ProtobufCMessage *msg, int depth)
{
    if (!json_is_object(v)) {
        return dfail(c, "expected an object (a map), got %s", type_word(v));
    }
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    size_t n = json_object_size(v);
    ProtobufCMessage **entries = bsl_arena_calloc(c->arena, n ? n : 1, sizeof(*entries));
    if (entries == NULL) {
        return BSL_ENOMEM;
    }
    size_t k = 0;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        size_t saved = push_key(c, key);
        ProtobufCMessage *e = bsl_arena_alloc(c->arena, ed->sizeof_message);
        if (e == NULL) {
            return BSL_ENOMEM;
        }
        ed->message_init(e);
        int rv = decode_map_key(c, &ed->fields[0], key, at(e, ed->fields[0].offset));
        if (rv == BSL_OK && json_is_null(val)) {
            rv = dfail(c, "null is not a map value");
        }
        if (rv == BSL_OK) {
            rv = decode_value(c, &ed->fields[1], val, at(e, ed->fields[1].offset), depth);
        }
        if (rv != BSL_OK) {
            return rv;
        }
        pop(c, saved);
        entries[k++] = e;
    }
    *(size_t *)at(msg, f->quantifier_offset) = k;
    *(ProtobufCMessage ***)at(msg, f->offset) = entries;
    return BSL_OK;
}

static int decode_repeated(dctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
                           ProtobufCMessage *msg, int depth)
{
    if (!json_is_array(v)) {
        return dfail(c, "expected a list, got %s", type_word(v));
    }
    size_t n = json_array_size(v), sz = elem_size(f->type);
    uint8_t *arr = bsl_arena_calloc(c->arena, n ? n : 1, sz);
    if (arr == NULL) {
        return BSL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        size_t saved = push_index(c, i);
        const json_t *e = json_array_get(v, i);
        int rv = json_is_null(e) ? dfail(c, "null is not allowed in a list")
                                 : decode_value(c, f, e, arr + i * sz, depth);
        if (rv != BSL_OK) {
            return rv;
        }
        pop(c, saved);
    }
    *(size_t *)at(msg, f->quantifier_offset) = n;
    *(void **)at(msg, f->offset) = arr;
    return BSL_OK;
}

static int decode_special(dctx *c, msg_kind kind, const ProtobufCMessageDescriptor *d,
                          const json_t *v, ProtobufCMessage *msg, int depth)
{
    if (kind == KIND_WRAPPER) {
        if (json_is_null(v)) {
            return dfail(c, "null is not a %s", d->name);
        }
        return decode_value(c, &d->fields[0], v, at(msg, d->fields[0].offset), depth);
    }
    const ProtobufCFieldDescriptor *fs =
        protobuf_c_message_descriptor_get_field_by_name(d, "seconds");
    const ProtobufCFieldDescriptor *fn =
        protobuf_c_message_descriptor_get_field_by_name(d, "nanos");
    if (fs == NULL || fn == NULL) {
        return dfail(c, "%s has an unexpected layout", d->name);
    }
    if (!json_is_string(v)) {
        return dfail(c, "expected %s, got %s",
                     kind == KIND_TIMESTAMP ? "an RFC 3339 date-time string"
                                            : "a duration string such as \"1.5s\"",
                     type_word(v));
    }
    int64_t s;
    int32_t ns;
    bool ok = kind == KIND_TIMESTAMP
                  ? gw_timestamp_parse(json_string_value(v), json_string_length(v), &s, &ns)
                  : gw_duration_parse(json_string_value(v), json_string_length(v), &s, &ns);
    if (!ok) {
        return dfail(c, kind == KIND_TIMESTAMP
                            ? "not an RFC 3339 date-time between years 0001 and 9999 (e.g. "
                              "\"2026-12-01T09:30:00Z\")"
                            : "not a duration such as \"1.5s\" within ±10000 years");
    }
    *(int64_t *)at(msg, fs->offset) = s;
    *(int32_t *)at(msg, fn->offset) = ns;
    return BSL_OK;
}

static int decode_message(dctx *c, const ProtobufCMessageDescriptor *d, const json_t *v,
                          ProtobufCMessage **out, int depth)
{
    if (depth > GW_JSON_MAX_DEPTH) {
        return dfail(c, "nested deeper than %d levels", GW_JSON_MAX_DEPTH);
    }
    msg_kind kind = kind_of(d);
    if (kind == KIND_UNSUPPORTED) {
        return dfail(c, "%s is not supported by the gateway", d->name);
    }
    ProtobufCMessage *msg = bsl_arena_alloc(c->arena, d->sizeof_message);
    if (msg == NULL) {
        return BSL_ENOMEM;
    }
    d->message_init(msg);
    *out = msg;
    if (kind != KIND_PLAIN) {
        return decode_special(c, kind, d, v, msg, depth);
    }
    if (!json_is_object(v)) {
        return dfail(c, "expected an object (%s), got %s", d->name, type_word(v));
    }
    uint8_t *seen = bsl_arena_calloc(c->arena, d->n_fields ? d->n_fields : 1, 1);
    if (seen == NULL) {
        return BSL_ENOMEM;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        size_t saved = push_key(c, key);
        const ProtobufCFieldDescriptor *f = field_for_key(d, key);
        if (f == NULL) {
            return dfail(c, "unknown field (%s has no such field)", d->name);
        }
        size_t idx = (size_t)(f - d->fields);
        if (seen[idx]) {
            return dfail(c, "field given twice (as %s and its JSON name)", f->name);
        }
        seen[idx] = 1;
        int rv = BSL_OK;
        if (json_is_null(val)) {
            /* null: the field keeps its default, as if absent. */
        } else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            rv = is_map_field(f) ? decode_map(c, f, val, msg, depth)
                                 : decode_repeated(c, f, val, msg, depth);
        } else {
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
                uint32_t *q = at(msg, f->quantifier_offset);
                if (*q != 0 && *q != f->id) {
                    return dfail(c, "another field of the same oneof is already set");
                }
                *q = f->id;
            } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0) {
                *(protobuf_c_boolean *)at(msg, f->quantifier_offset) = 1;
            }
            rv = decode_value(c, f, val, at(msg, f->offset), depth);
        }
        if (rv != BSL_OK) {
            return rv;
        }
        pop(c, saved);
    }
    return BSL_OK;
}

/* The nesting depth of JSON text, counted without parsing it, so that a deeply nested
 * document is refused before any parser recurses into it. */
static size_t json_depth(const char *s, size_t len, size_t limit)
{
    size_t depth = 0, max = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (in_string) {
            if (ch == '\\') {
                i++;
            } else if (ch == '"') {
                in_string = false;
            }
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '{' || ch == '[') {
            if (++depth > max) {
                max = depth;
                if (max > limit) {
                    return max;
                }
            }
        } else if ((ch == '}' || ch == ']') && depth > 0) {
            depth--;
        }
    }
    return max;
}

int gw_json_decode(const ProtobufCMessageDescriptor *desc, const char *json, size_t len,
                   bsl_arena *arena, ProtobufCMessage **out, gw_json_error *err)
{
    dctx c = { .arena = arena, .err = err };
    err->path[0] = err->why[0] = '\0';
    /* Lists count as levels here, so the text may nest twice as deep as messages. */
    if (json_depth(json, len, 2 * GW_JSON_MAX_DEPTH) > 2 * GW_JSON_MAX_DEPTH) {
        return dfail(&c, "JSON nested deeper than %d levels", 2 * GW_JSON_MAX_DEPTH);
    }
    json_error_t jerr;
    /* A top-level scalar is accepted by the parser so that wrapper and WKT request types get
     * a typed error below rather than a parse error. */
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        /* jansson's texts name the problem ("invalid UTF-8", "too big integer", ...); the
         * position is the client's own input. */
        return dfail(&c, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                     jerr.text);
    }
    int rv = decode_message(&c, desc, root, out, 0);
    json_decref(root);
    return rv;
}

/* ---- encoding ------------------------------------------------------------------------- */

typedef struct ectx {
    gw_buf *b;
    gw_json_error *err;
    bool pretty;
    const char *field; /* the field being written, for errors */
} ectx;

static bool efail(ectx *c, const char *why)
{
    snprintf(c->err->path, sizeof(c->err->path), "%s", c->field ? c->field : "");
    snprintf(c->err->why, sizeof(c->err->why), "%s", why);
    return false;
}

static void newline(ectx *c, int level)
{
    if (c->pretty) {
        gw_buf_putc(c->b, '\n');
        for (int i = 0; i < level; i++) {
            gw_buf_append(c->b, "  ", 2);
        }
    }
}

/* The shortest decimal form that reads back as the same value. */
static void put_double(gw_buf *b, double v, bool is_float)
{
    if (isnan(v)) {
        gw_buf_puts(b, "\"NaN\"");
        return;
    }
    if (isinf(v)) {
        gw_buf_puts(b, v < 0 ? "\"-Infinity\"" : "\"Infinity\"");
        return;
    }
    char s[40];
    for (int prec = is_float ? 6 : 15; prec <= 17; prec++) {
        snprintf(s, sizeof(s), "%.*g", prec, v);
        if (is_float ? strtof(s, NULL) == (float)v : strtod(s, NULL) == v) {
            break;
        }
    }
    gw_buf_puts(b, s);
}

static bool encode_message(ectx *c, const ProtobufCMessage *m, int level);

static bool encode_value(ectx *c, const ProtobufCFieldDescriptor *f, const void *p, int level)
{
    gw_buf *b = c->b;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        gw_buf_put_i64(b, *(const int32_t *)p);
        return true;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        gw_buf_put_u64(b, *(const uint32_t *)p);
        return true;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        gw_buf_putc(b, '"');
        gw_buf_put_i64(b, *(const int64_t *)p);
        gw_buf_putc(b, '"');
        return true;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        gw_buf_putc(b, '"');
        gw_buf_put_u64(b, *(const uint64_t *)p);
        gw_buf_putc(b, '"');
        return true;
    case PROTOBUF_C_TYPE_FLOAT:
        put_double(b, *(const float *)p, true);
        return true;
    case PROTOBUF_C_TYPE_DOUBLE:
        put_double(b, *(const double *)p, false);
        return true;
    case PROTOBUF_C_TYPE_BOOL:
        gw_buf_puts(b, *(const protobuf_c_boolean *)p ? "true" : "false");
        return true;
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        if (ev != NULL) {
            gw_buf_putc(b, '"');
            gw_buf_puts(b, ev->name);
            gw_buf_putc(b, '"');
        } else {
            gw_buf_put_i64(b, v); /* a value newer than our schema */
        }
        return true;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        if (s == NULL) {
            s = "";
        }
        return gw_buf_json_string(b, s, strlen(s)) || efail(c, "string is not valid UTF-8");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = p;
        size_t cap = sodium_base64_ENCODED_LEN(bd->len, sodium_base64_VARIANT_ORIGINAL);
        char small[256];
        char *enc = cap <= sizeof(small) ? small : malloc(cap);
        if (enc == NULL) {
            c->b->failed = true;
            return true;
        }
        sodium_bin2base64(enc, cap, bd->data, bd->len, sodium_base64_VARIANT_ORIGINAL);
        gw_buf_putc(b, '"');
        gw_buf_puts(b, enc);
        gw_buf_putc(b, '"');
        if (enc != small) {
            free(enc);
        }
        return true;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        if (m == NULL) {
            gw_buf_puts(b, "null");
            return true;
        }
        return encode_message(c, m, level);
    }
    }
    return efail(c, "unsupported field type");
}

static bool present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const void *p = at(m, f->offset);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        return *(const size_t *)at(m, f->quantifier_offset) > 0;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        return *(const uint32_t *)at(m, f->quantifier_offset) == f->id;
    }
    if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
        return true;
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0) {
        return *(const protobuf_c_boolean *)at(m, f->quantifier_offset);
    }
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        return s != NULL && s[0] != '\0';
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)p != NULL;
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)p)->len > 0;
    default: {
        /* Scalars: present when not all-zero bits (so -0.0 is written, as protoc does). */
        static const uint8_t zero[8];
        return memcmp(p, zero, elem_size(f->type)) != 0;
    }
    }
}

static bool encode_map_key(ectx *c, const ProtobufCFieldDescriptor *kf, const void *p)
{
    if (kf->type == PROTOBUF_C_TYPE_STRING) {
        return encode_value(c, kf, p, 0);
    }
    gw_buf_putc(c->b, '"');
    if (kf->type == PROTOBUF_C_TYPE_INT64 || kf->type == PROTOBUF_C_TYPE_SINT64 ||
        kf->type == PROTOBUF_C_TYPE_SFIXED64) {
        gw_buf_put_i64(c->b, *(const int64_t *)p);
    } else if (kf->type == PROTOBUF_C_TYPE_UINT64 || kf->type == PROTOBUF_C_TYPE_FIXED64) {
        gw_buf_put_u64(c->b, *(const uint64_t *)p);
    } else {
        encode_value(c, kf, p, 0);
    }
    gw_buf_putc(c->b, '"');
    return true;
}

static bool encode_field(ectx *c, const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                         int level)
{
    const void *p = at(m, f->offset);
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
        return encode_value(c, f, p, level);
    }
    size_t n = *(const size_t *)at(m, f->quantifier_offset);
    bool map = is_map_field(f);
    gw_buf_putc(c->b, map ? '{' : '[');
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            gw_buf_putc(c->b, ',');
        }
        newline(c, level + 1);
        if (map) {
            const ProtobufCMessage *e = (*(ProtobufCMessage *const *const *)p)[i];
            const ProtobufCMessageDescriptor *ed = f->descriptor;
            if (!encode_map_key(c, &ed->fields[0], at(e, ed->fields[0].offset))) {
                return false;
            }
            gw_buf_puts(c->b, c->pretty ? ": " : ":");
            if (!encode_value(c, &ed->fields[1], at(e, ed->fields[1].offset), level + 1)) {
                return false;
            }
        } else if (!encode_value(c, f, *(const uint8_t *const *)p + i * elem_size(f->type),
                                 level + 1)) {
            return false;
        }
    }
    if (n > 0) {
        newline(c, level);
    }
    gw_buf_putc(c->b, map ? '}' : ']');
    return true;
}

static bool encode_special(ectx *c, msg_kind kind, const ProtobufCMessage *m, int level)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (kind == KIND_WRAPPER) {
        return encode_value(c, &d->fields[0], at(m, d->fields[0].offset), level);
    }
    const ProtobufCFieldDescriptor *fs =
        protobuf_c_message_descriptor_get_field_by_name(d, "seconds");
    const ProtobufCFieldDescriptor *fn =
        protobuf_c_message_descriptor_get_field_by_name(d, "nanos");
    if (fs == NULL || fn == NULL) {
        return efail(c, "unexpected layout of a well-known type");
    }
    int64_t s = *(const int64_t *)at(m, fs->offset);
    int32_t ns = *(const int32_t *)at(m, fn->offset);
    char text[40];
    bool ok = kind == KIND_TIMESTAMP ? gw_timestamp_format(s, ns, text, sizeof(text))
                                     : gw_duration_format(s, ns, text, sizeof(text));
    if (!ok) {
        return efail(c,
                     kind == KIND_TIMESTAMP ? "timestamp out of range" : "duration out of range");
    }
    gw_buf_putc(c->b, '"');
    gw_buf_puts(c->b, text);
    gw_buf_putc(c->b, '"');
    return true;
}

static bool encode_message(ectx *c, const ProtobufCMessage *m, int level)
{
    if (level > 100) {
        return efail(c, "message nested too deeply");
    }
    const ProtobufCMessageDescriptor *d = m->descriptor;
    msg_kind kind = kind_of(d);
    if (kind == KIND_UNSUPPORTED) {
        return efail(c, "well-known type not supported by the gateway");
    }
    if (kind != KIND_PLAIN) {
        return encode_special(c, kind, m, level);
    }
    gw_buf_putc(c->b, '{');
    bool any = false;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!present(m, f)) {
            continue;
        }
        if (any) {
            gw_buf_putc(c->b, ',');
        }
        any = true;
        newline(c, level + 1);
        char name[128];
        gw_json_name(f->name, name, sizeof(name));
        gw_buf_putc(c->b, '"');
        gw_buf_puts(c->b, name);
        gw_buf_puts(c->b, c->pretty ? "\": " : "\":");
        const char *saved = c->field;
        c->field = f->name;
        if (!encode_field(c, m, f, level + 1)) {
            return false;
        }
        c->field = saved;
    }
    if (any) {
        newline(c, level);
    }
    gw_buf_putc(c->b, '}');
    return true;
}

bool gw_json_encode(const ProtobufCMessage *msg, int flags, gw_buf *b, gw_json_error *err)
{
    ectx c = { .b = b, .err = err, .pretty = (flags & GW_JSON_PRETTY) != 0 };
    err->path[0] = err->why[0] = '\0';
    return encode_message(&c, msg, 0);
}
