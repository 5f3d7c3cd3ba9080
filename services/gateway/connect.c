#include "connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "boussole/err.h"
#include "json.h"

/* Compares the media type of a header value (before any ';'), ignoring case and spaces. */
static bool media_is(const char *value, const char *type, const char **params)
{
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    size_t n = strlen(type);
    if (strncasecmp(value, type, n) != 0) {
        return false;
    }
    const char *p = value + n;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p != '\0' && *p != ';') {
        return false;
    }
    *params = p;
    return true;
}

/* Parameters may only say charset=utf-8 (JSON is UTF-8 by definition). */
static bool params_ok(const char *p)
{
    while (*p == ';' || *p == ' ' || *p == '\t') {
        p++;
    }
    if (*p == '\0') {
        return true;
    }
    if (strncasecmp(p, "charset=", 8) != 0) {
        return false;
    }
    p += 8;
    if (*p == '"') {
        p++;
    }
    if (strncasecmp(p, "utf-8", 5) != 0) {
        return false;
    }
    p += 5;
    if (*p == '"') {
        p++;
    }
    while (*p == ' ' || *p == '\t' || *p == ';') {
        p++;
    }
    return *p == '\0';
}

gw_codec gw_connect_codec(const char *ct)
{
    const char *params;
    if (ct == NULL) {
        return GW_CODEC_NONE;
    }
    if (media_is(ct, "application/json", &params)) {
        return params_ok(params) ? GW_CODEC_JSON : GW_CODEC_NONE;
    }
    if (media_is(ct, "application/proto", &params)) {
        return params_ok(params) ? GW_CODEC_PROTO : GW_CODEC_NONE;
    }
    return GW_CODEC_NONE;
}

gw_codec gw_connect_codec_name(const char *name)
{
    if (name == NULL) {
        return GW_CODEC_NONE;
    }
    if (strcmp(name, "json") == 0) {
        return GW_CODEC_JSON;
    }
    if (strcmp(name, "proto") == 0) {
        return GW_CODEC_PROTO;
    }
    return GW_CODEC_NONE;
}

const char *gw_connect_content_type(gw_codec c)
{
    return c == GW_CODEC_PROTO ? "application/proto" : "application/json";
}

bool gw_connect_timeout(const char *v, uint64_t *ms)
{
    if (v == NULL) {
        return false;
    }
    size_t n = strlen(v);
    if (n == 0 || n > 10 || strspn(v, "0123456789") != n) {
        return false;
    }
    *ms = strtoull(v, NULL, 10);
    return true;
}

bool gw_connect_version_ok(const char *v)
{
    return v == NULL || strcmp(v, "1") == 0;
}

bool gw_connect_encoding_ok(const char *v)
{
    return v == NULL || v[0] == '\0' || strcasecmp(v, "identity") == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decodes s[0..len) (and '+' as a space, as forms encode it) into the arena. */
static char *url_decode(bsl_arena *a, const char *s, size_t len, size_t *out_len)
{
    char *d = bsl_arena_alloc(a, len + 1);
    if (d == NULL) {
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            d[n++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (s[i] == '%') {
            return NULL;
        } else {
            d[n++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    d[n] = '\0';
    *out_len = n;
    return d;
}

bsl_status gw_connect_parse_get(const char *query, bsl_arena *arena, gw_get_call *out, char *why,
                                size_t cap)
{
    const char *message = NULL, *encoding = NULL, *compression = NULL, *connect = NULL;
    size_t message_len = 0;
    bool base64 = false;
    const char *p = query ? query : "";
    while (*p != '\0') {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq ? (size_t)(eq - p) : len;
        size_t vlen = 0;
        char *value = url_decode(arena, eq ? eq + 1 : p + len, eq ? len - klen - 1 : 0, &vlen);
        if (value == NULL) {
            snprintf(why, cap, "query parameter %.*s: bad percent-encoding", (int)klen, p);
            return BSL_STATUS_INVALID_ARGUMENT;
        }
        if (klen == 7 && strncmp(p, "message", 7) == 0) {
            message = value;
            message_len = vlen;
        } else if (klen == 8 && strncmp(p, "encoding", 8) == 0) {
            encoding = value;
        } else if (klen == 6 && strncmp(p, "base64", 6) == 0) {
            base64 = strcmp(value, "1") == 0;
        } else if (klen == 11 && strncmp(p, "compression", 11) == 0) {
            compression = value;
        } else if (klen == 7 && strncmp(p, "connect", 7) == 0) {
            connect = value;
        }
        /* Other parameters are ignored, as the protocol asks (cache busters and the like). */
        p += len + (amp ? 1 : 0);
    }
    if (connect != NULL && strcmp(connect, "v1") != 0) {
        snprintf(why, cap, "query parameter connect: must be v1");
        return BSL_STATUS_INVALID_ARGUMENT;
    }
    if ((out->codec = gw_connect_codec_name(encoding)) == GW_CODEC_NONE) {
        snprintf(why, cap, "query parameter encoding: must be json or proto");
        return BSL_STATUS_INVALID_ARGUMENT;
    }
    if (!gw_connect_encoding_ok(compression)) {
        snprintf(why, cap, "query parameter compression: only identity is supported");
        return BSL_STATUS_UNIMPLEMENTED;
    }
    if (message == NULL) {
        message = "";
    }
    if (!base64) {
        out->message = (const uint8_t *)message;
        out->message_len = message_len;
        return BSL_STATUS_OK;
    }
    /* URL-safe base64, padding optional (the standard alphabet is accepted too). */
    bool std = strpbrk(message, "+/") != NULL;
    bool padded = message_len > 0 && message[message_len - 1] == '=';
    int variant =
        std ? (padded ? sodium_base64_VARIANT_ORIGINAL : sodium_base64_VARIANT_ORIGINAL_NO_PADDING)
            : (padded ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t bcap = message_len / 4 * 3 + 3, n = 0;
    uint8_t *bin = bsl_arena_alloc(arena, bcap);
    const char *end = NULL;
    if (bin == NULL) {
        return BSL_STATUS_RESOURCE_EXHAUSTED;
    }
    if (sodium_base642bin(bin, bcap, message, message_len, NULL, &n, &end, variant) != 0 ||
        end != message + message_len) {
        snprintf(why, cap, "query parameter message: not valid base64");
        return BSL_STATUS_INVALID_ARGUMENT;
    }
    out->message = bin;
    out->message_len = n;
    return BSL_STATUS_OK;
}

static const char *detail_type(const Boussole__V1__ErrorDetail *d, const ProtobufCMessage **m)
{
    switch (d->detail_case) {
    case BOUSSOLE__V1__ERROR_DETAIL__DETAIL_FIELD_VIOLATION:
        *m = &d->field_violation->base;
        break;
    case BOUSSOLE__V1__ERROR_DETAIL__DETAIL_PRECONDITION_VIOLATION:
        *m = &d->precondition_violation->base;
        break;
    case BOUSSOLE__V1__ERROR_DETAIL__DETAIL_RETRY_INFO:
        *m = &d->retry_info->base;
        break;
    default:
        return NULL;
    }
    return *m != NULL ? (*m)->descriptor->name : NULL;
}

static void put_detail(gw_buf *b, const ProtobufCMessage *m, const char *type)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t small[512];
    uint8_t *bin = len <= sizeof(small) ? small : malloc(len);
    if (bin == NULL) {
        b->failed = true;
        return;
    }
    protobuf_c_message_pack(m, bin);
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    char *enc = malloc(cap);
    if (enc == NULL) {
        b->failed = true;
    } else {
        sodium_bin2base64(enc, cap, bin, len, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
        gw_buf_printf(b, "{\"type\":\"%s\",\"value\":\"%s\",\"debug\":", type, enc);
        gw_json_error err;
        size_t mark = b->len;
        if (!gw_json_encode(m, 0, b, &err)) {
            /* Not expressible as JSON: the binary value is still there for clients. */
            b->len = mark;
            gw_buf_puts(b, "null");
        }
        gw_buf_putc(b, '}');
        free(enc);
    }
    if (bin != small) {
        free(bin);
    }
}

void gw_connect_error_body(gw_buf *b, bsl_status code, const char *message,
                           Boussole__V1__ErrorDetail *const *details, size_t n_details)
{
    gw_buf_printf(b, "{\"code\":\"%s\"", bsl_status_connect_name(code));
    if (message != NULL && message[0] != '\0') {
        gw_buf_puts(b, ",\"message\":");
        if (!gw_buf_json_string(b, message, strlen(message))) {
            gw_buf_puts(b, "\"(message not valid UTF-8)\"");
        }
    }
    bool any = false;
    for (size_t i = 0; i < n_details; i++) {
        const ProtobufCMessage *m = NULL;
        const char *type = details[i] ? detail_type(details[i], &m) : NULL;
        if (type == NULL) {
            continue;
        }
        gw_buf_puts(b, any ? "," : ",\"details\":[");
        any = true;
        put_detail(b, m, type);
    }
    if (any) {
        gw_buf_putc(b, ']');
    }
    gw_buf_putc(b, '}');
}

uint32_t gw_connect_retry_delay_ms(Boussole__V1__ErrorDetail *const *details, size_t n_details)
{
    for (size_t i = 0; i < n_details; i++) {
        if (details[i] != NULL &&
            details[i]->detail_case == BOUSSOLE__V1__ERROR_DETAIL__DETAIL_RETRY_INFO &&
            details[i]->retry_info != NULL) {
            return details[i]->retry_info->retry_delay_ms;
        }
    }
    return 0;
}
