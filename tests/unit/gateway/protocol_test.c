/*
 * The Connect protocol pieces (services/gateway/connect.c), request metadata (meta.c), the
 * request-target's decoding (target.c) and the well-known types' text forms (wkt.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "boussole/arena.h"
#include "boussole/fastid.h"
#include "boussole/status.h"
#include "connect.h"
#include "meta.h"
#include "target.h"
#include "wkt.h"

static void codecs(void **state)
{
    (void)state;
    assert_int_equal(gw_connect_codec("application/json"), GW_CODEC_JSON);
    assert_int_equal(gw_connect_codec("Application/JSON; charset=utf-8"), GW_CODEC_JSON);
    assert_int_equal(gw_connect_codec("application/json;charset=\"UTF-8\""), GW_CODEC_JSON);
    assert_int_equal(gw_connect_codec("application/proto"), GW_CODEC_PROTO);
    assert_int_equal(gw_connect_codec("application/json; charset=latin1"), GW_CODEC_NONE);
    assert_int_equal(gw_connect_codec("application/jsonx"), GW_CODEC_NONE);
    assert_int_equal(gw_connect_codec("application/grpc"), GW_CODEC_NONE);
    assert_int_equal(gw_connect_codec("text/plain"), GW_CODEC_NONE);
    assert_int_equal(gw_connect_codec(NULL), GW_CODEC_NONE);
    assert_int_equal(gw_connect_codec_name("json"), GW_CODEC_JSON);
    assert_int_equal(gw_connect_codec_name("proto"), GW_CODEC_PROTO);
    assert_int_equal(gw_connect_codec_name("xml"), GW_CODEC_NONE);
    assert_string_equal(gw_connect_content_type(GW_CODEC_PROTO), "application/proto");
}

static void headers(void **state)
{
    (void)state;
    uint64_t ms;
    assert_true(gw_connect_timeout("1500", &ms));
    assert_true(ms == 1500);
    assert_true(gw_connect_timeout("9999999999", &ms));
    assert_false(gw_connect_timeout("12345678901", &ms)); /* 11 digits */
    assert_false(gw_connect_timeout("-1", &ms));
    assert_false(gw_connect_timeout("1.5", &ms));
    assert_false(gw_connect_timeout("", &ms));
    assert_false(gw_connect_timeout(NULL, &ms));
    assert_true(gw_connect_version_ok(NULL));
    assert_true(gw_connect_version_ok("1"));
    assert_false(gw_connect_version_ok("2"));
    assert_true(gw_connect_encoding_ok(NULL));
    assert_true(gw_connect_encoding_ok("identity"));
    assert_false(gw_connect_encoding_ok("gzip"));
}

static void get_calls(void **state)
{
    (void)state;
    bsl_arena *a = bsl_arena_create();
    gw_get_call g;
    char why[160];
    assert_int_equal(gw_connect_parse_get("connect=v1&encoding=json&message=%7B%22id%22%3A%22x%20y"
                                          "%22%7D&cachebust=1",
                                          a, &g, why, sizeof(why)),
                     BSL_STATUS_OK);
    assert_int_equal(g.codec, GW_CODEC_JSON);
    assert_int_equal(g.message_len, 12);
    assert_memory_equal(g.message, "{\"id\":\"x y\"}", 12);
    /* base64url, with and without padding, standard alphabet too. */
    assert_int_equal(
        gw_connect_parse_get("encoding=proto&base64=1&message=CgF4", a, &g, why, sizeof(why)),
        BSL_STATUS_OK);
    assert_int_equal(g.message_len, 3);
    assert_memory_equal(g.message, "\x0a\x01x", 3);
    assert_int_equal(
        gw_connect_parse_get("encoding=proto&base64=1&message=_-8", a, &g, why, sizeof(why)),
        BSL_STATUS_OK);
    assert_int_equal(g.message[0], 0xff);
    assert_int_equal(
        gw_connect_parse_get("encoding=proto&base64=1&message=%2F%2B8%3D", a, &g, why, sizeof(why)),
        BSL_STATUS_OK);
    /* No message: an empty one. */
    assert_int_equal(gw_connect_parse_get("encoding=json", a, &g, why, sizeof(why)), BSL_STATUS_OK);
    assert_int_equal(g.message_len, 0);
    /* Refusals. */
    assert_int_equal(gw_connect_parse_get("message=%7B%7D", a, &g, why, sizeof(why)),
                     BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(why, "encoding"));
    assert_int_equal(gw_connect_parse_get("connect=v2&encoding=json", a, &g, why, sizeof(why)),
                     BSL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(gw_connect_parse_get("encoding=json&message=%zz", a, &g, why, sizeof(why)),
                     BSL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(
        gw_connect_parse_get("encoding=proto&base64=1&message=!!", a, &g, why, sizeof(why)),
        BSL_STATUS_INVALID_ARGUMENT);
    assert_int_equal(
        gw_connect_parse_get("encoding=json&compression=gzip", a, &g, why, sizeof(why)),
        BSL_STATUS_UNIMPLEMENTED);
    bsl_arena_free(a);
}

/* One error body per code: the code's Connect name, the message, and details decodable from
 * their base64 value. */
static void error_bodies(void **state)
{
    (void)state;
    for (int code = 1; code < BSL_STATUS_COUNT; code++) {
        Boussole__V1__FieldViolation fv = BOUSSOLE__V1__FIELD_VIOLATION__INIT;
        fv.field = "steps[2].title";
        fv.description = "trop long";
        Boussole__V1__ErrorDetail d = BOUSSOLE__V1__ERROR_DETAIL__INIT;
        d.detail_case = BOUSSOLE__V1__ERROR_DETAIL__DETAIL_FIELD_VIOLATION;
        d.field_violation = &fv;
        Boussole__V1__ErrorDetail *details[] = { &d };
        gw_buf b;
        gw_buf_init(&b, 0);
        gw_connect_error_body(&b, (bsl_status)code, "quote \" and é", details, 1);
        char want[128];
        snprintf(want, sizeof(want), "{\"code\":\"%s\",\"message\":\"quote \\\" and é\"",
                 bsl_status_connect_name(code));
        assert_memory_equal(b.data, want, strlen(want));
        assert_non_null(strstr(b.data, "\"type\":\"boussole.v1.FieldViolation\""));
        assert_non_null(strstr(b.data, "\"debug\":{\"field\":\"steps[2].title\",\"description\":"
                                       "\"trop long\"}"));
        /* The value decodes back to the detail (unpadded standard base64). */
        const char *v = strstr(b.data, "\"value\":\"") + 9;
        size_t vlen = strcspn(v, "\"");
        uint8_t bin[256];
        size_t n;
        assert_int_equal(sodium_base642bin(bin, sizeof(bin), v, vlen, NULL, &n, NULL,
                                           sodium_base64_VARIANT_ORIGINAL_NO_PADDING),
                         0);
        Boussole__V1__FieldViolation *back = boussole__v1__field_violation__unpack(NULL, n, bin);
        assert_non_null(back);
        assert_string_equal(back->field, "steps[2].title");
        boussole__v1__field_violation__free_unpacked(back, NULL);
        gw_buf_free(&b);
        /* The HTTP status the code maps to (one table, status.c). */
        assert_true(bsl_status_http(code) >= 400 && bsl_status_http(code) <= 504);
    }
    /* No message, no details; a detail whose oneof is empty is skipped. */
    gw_buf b;
    gw_buf_init(&b, 0);
    Boussole__V1__ErrorDetail empty = BOUSSOLE__V1__ERROR_DETAIL__INIT;
    Boussole__V1__ErrorDetail *details[] = { &empty };
    gw_connect_error_body(&b, BSL_STATUS_NOT_FOUND, "", details, 1);
    assert_string_equal(b.data, "{\"code\":\"not_found\"}");
    gw_buf_free(&b);
    /* A message that is not UTF-8 (a backend's bug) still gives valid JSON. */
    gw_buf_init(&b, 0);
    gw_connect_error_body(&b, BSL_STATUS_INTERNAL, "bad \xff", NULL, 0);
    assert_non_null(strstr(b.data, "not valid UTF-8"));
    gw_buf_free(&b);
    /* Retry delays from RetryInfo. */
    Boussole__V1__RetryInfo ri = BOUSSOLE__V1__RETRY_INFO__INIT;
    ri.retry_delay_ms = 1500;
    Boussole__V1__ErrorDetail rd = BOUSSOLE__V1__ERROR_DETAIL__INIT;
    rd.detail_case = BOUSSOLE__V1__ERROR_DETAIL__DETAIL_RETRY_INFO;
    rd.retry_info = &ri;
    Boussole__V1__ErrorDetail *two[] = { &empty, &rd };
    assert_int_equal(gw_connect_retry_delay_ms(two, 2), 1500);
    assert_int_equal(gw_connect_retry_delay_ms(two, 1), 0);
}

static void metadata(void **state)
{
    (void)state;
    assert_true(gw_meta_request_id_ok("req-42.a_b:c"));
    assert_false(gw_meta_request_id_ok(""));
    assert_false(gw_meta_request_id_ok("with space"));
    assert_false(gw_meta_request_id_ok("{json}"));
    char long_id[80];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    assert_false(gw_meta_request_id_ok(long_id));
    long_id[64] = '\0';
    assert_true(gw_meta_request_id_ok(long_id));

    char trace[33], parent[17];
    assert_true(gw_meta_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                    trace, parent));
    assert_string_equal(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(parent, "00f067aa0ba902b7");
    /* A later version may add fields; version 00 may not. */
    assert_true(gw_meta_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                                    trace, parent));
    assert_false(gw_meta_traceparent(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", trace, parent));
    assert_false(gw_meta_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                     trace, parent));
    assert_false(gw_meta_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                                     trace, parent));
    assert_false(gw_meta_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                                     trace, parent));
    assert_false(gw_meta_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                                     trace, parent));
    assert_false(gw_meta_traceparent("garbage", trace, parent));
    assert_false(gw_meta_traceparent(NULL, trace, parent));

    assert_true(gw_meta_idempotency_ok("create-once-7f3a"));
    assert_false(gw_meta_idempotency_ok("has space"));
    assert_false(gw_meta_idempotency_ok(""));

    size_t len;
    const char *t = gw_meta_bearer("Bearer abc.def.ghi", &len);
    assert_non_null(t);
    assert_int_equal(len, 11);
    t = gw_meta_bearer("bearer   tok  ", &len);
    assert_non_null(t);
    assert_int_equal(len, 3);
    assert_null(gw_meta_bearer("Basic YTpi", &len));
    assert_null(gw_meta_bearer("Bearer", &len));
    assert_null(gw_meta_bearer("Bearer   ", &len));
    assert_null(gw_meta_bearer("Bearerx abc", &len));

    bsl_fastid ids;
    bsl_fastid_seed(&ids);
    char a[33], b[33];
    bsl_fastid_hex(&ids, a, 16);
    bsl_fastid_hex(&ids, b, 16);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
}

static void timestamps_and_durations(void **state)
{
    (void)state;
    int64_t s;
    int32_t ns;
    char out[40];
    assert_true(gw_timestamp_parse("2026-12-01T09:30:00Z", 20, &s, &ns));
    assert_true(s == 1796117400 && ns == 0);
    assert_true(gw_timestamp_parse("2026-12-01t09:30:00.5+02:00", 27, &s, &ns));
    assert_true(s == 1796117400 - 7200 && ns == 500000000);
    assert_true(gw_timestamp_parse("0001-01-01T00:00:00Z", 20, &s, &ns));
    assert_true(s == GW_TIMESTAMP_MIN_S);
    assert_true(gw_timestamp_parse("9999-12-31T23:59:59.999999999Z", 30, &s, &ns));
    assert_true(s == GW_TIMESTAMP_MAX_S && ns == 999999999);
    assert_true(gw_timestamp_parse("2024-02-29T00:00:00Z", 20, &s, &ns)); /* leap year */
    const char *bad[] = { "2023-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z",
                          "2026-12-01T24:00:00Z",
                          "2026-12-01T09:30:60Z",
                          "2026-12-01 09:30:00Z",
                          "2026-12-01T09:30:00",
                          "2026-12-01T09:30:00.Z",
                          "2026-12-01T09:30:00.1234567890Z",
                          "0000-12-31T00:00:00Z",
                          "2026-12-01T09:30:00+2:00",
                          "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (gw_timestamp_parse(bad[i], strlen(bad[i]), &s, &ns)) {
            fail_msg("accepted %s", bad[i]);
        }
    }
    assert_true(gw_timestamp_format(1796117400, 0, out, sizeof(out)));
    assert_string_equal(out, "2026-12-01T09:30:00Z");
    assert_true(gw_timestamp_format(-1, 250000000, out, sizeof(out)));
    assert_string_equal(out, "1969-12-31T23:59:59.250Z");
    assert_true(gw_timestamp_format(0, 1000, out, sizeof(out)));
    assert_string_equal(out, "1970-01-01T00:00:00.000001Z");
    assert_false(gw_timestamp_format(GW_TIMESTAMP_MAX_S + 1, 0, out, sizeof(out)));
    assert_false(gw_timestamp_format(0, -1, out, sizeof(out)));

    assert_true(gw_duration_parse("1.5s", 4, &s, &ns));
    assert_true(s == 1 && ns == 500000000);
    assert_true(gw_duration_parse("-0.000000001s", 13, &s, &ns));
    assert_true(s == 0 && ns == -1);
    assert_false(gw_duration_parse("1.5", 3, &s, &ns));
    assert_false(gw_duration_parse("s", 1, &s, &ns));
    assert_false(gw_duration_parse("315576000001s", 13, &s, &ns));
    assert_true(gw_duration_format(-3, -100000000, out, sizeof(out)));
    assert_string_equal(out, "-3.100s");
    assert_false(gw_duration_format(1, -1, out, sizeof(out))); /* mixed signs */
}

/* Splits and decodes, into a buffer exactly as large as target.h asks (the path + 1), so that
 * ASan sees any write past it. */
static gw_path_status split(const char *target, char *out, size_t out_cap, const char **query)
{
    size_t n = strcspn(target, "?");
    char *path = malloc(n + 1);
    gw_path_status st = gw_target_split(target, path, n + 1, query);
    snprintf(out, out_cap, "%s", path);
    free(path);
    return st;
}

static void request_targets(void **state)
{
    (void)state;
    char path[512];
    const char *q = NULL;
    assert_int_equal(split("/boussole.v1.SessionService/GetBilan", path, sizeof(path), &q),
                     GW_PATH_OK);
    assert_string_equal(path, "/boussole.v1.SessionService/GetBilan");
    assert_string_equal(q, "");
    assert_int_equal(split("/a/b?encoding=json&message=%7B%7D", path, sizeof(path), &q),
                     GW_PATH_OK);
    assert_string_equal(path, "/a/b");
    assert_string_equal(q, "encoding=json&message=%7B%7D"); /* the query as sent */
    assert_int_equal(split("/x?", path, sizeof(path), &q), GW_PATH_OK);
    assert_string_equal(q, "");
    /* Unreserved characters escaped are the characters. */
    assert_int_equal(split("/bou%73sole.v1.Health/Ch%65ck%2d%2E%5f%7e", path, sizeof(path), &q),
                     GW_PATH_OK);
    assert_string_equal(path, "/boussole.v1.Health/Check-._~");
    /* The escapes of finding 1, and their neighbours: never read or write past the end. */
    assert_int_equal(split("/anything%7D", path, sizeof(path), &q), GW_PATH_FOREIGN);
    assert_int_equal(split("/%7D", path, sizeof(path), &q), GW_PATH_FOREIGN);
    assert_int_equal(split("/%", path, sizeof(path), &q), GW_PATH_MALFORMED);
    assert_int_equal(split("%", path, sizeof(path), &q), GW_PATH_MALFORMED);
    assert_int_equal(split("/a%4", path, sizeof(path), &q), GW_PATH_MALFORMED);
    assert_int_equal(split("/a%4?x", path, sizeof(path), &q), GW_PATH_MALFORMED);
    assert_string_equal(q, "x");
    assert_int_equal(split("/a%?41", path, sizeof(path), &q), GW_PATH_MALFORMED);
    assert_int_equal(split("/a%g1", path, sizeof(path), &q), GW_PATH_MALFORMED);
    assert_int_equal(split("/a%1g", path, sizeof(path), &q), GW_PATH_MALFORMED);
    /* Escapes that would change the path's structure or hide in it: foreign. */
    assert_int_equal(split("/svc%2FMethod", path, sizeof(path), &q), GW_PATH_FOREIGN);
    assert_int_equal(split("/svc/Method%00", path, sizeof(path), &q), GW_PATH_FOREIGN);
    assert_int_equal(split("/svc/Method%3F", path, sizeof(path), &q), GW_PATH_FOREIGN);
    assert_int_equal(split("/%25", path, sizeof(path), &q), GW_PATH_FOREIGN);
    assert_int_equal(split("/%C3%A9", path, sizeof(path), &q), GW_PATH_FOREIGN);
    /* Malformed wins over foreign, wherever it is. */
    assert_int_equal(split("/%7D%", path, sizeof(path), &q), GW_PATH_MALFORMED);
    assert_int_equal(split("/%%7D", path, sizeof(path), &q), GW_PATH_MALFORMED);
    assert_int_equal(split("", path, sizeof(path), &q), GW_PATH_OK);
    assert_string_equal(path, "");
    /* Long runs. */
    char *t = malloc(30001);
    for (int i = 0; i < 10000; i++) {
        memcpy(t + i * 3, i % 2 ? "%41" : "%7a", 3);
    }
    t[30000] = '\0';
    char *big = malloc(30001);
    assert_int_equal(gw_target_split(t, big, 30001, &q), GW_PATH_OK);
    assert_int_equal(strlen(big), 10000);
    assert_int_equal(big[0], 'z');
    assert_int_equal(big[1], 'A');
    t[29999] = '\0'; /* "...%4" */
    assert_int_equal(gw_target_split(t, big, 30001, &q), GW_PATH_MALFORMED);
    /* A buffer too small is refused, never overrun. */
    assert_int_equal(gw_target_split("/abcdef", big, 4, &q), GW_PATH_MALFORMED);
    assert_int_equal(strlen(big), 3);
    assert_int_equal(gw_target_split("/abc", big, 0, &q), GW_PATH_MALFORMED);
    free(t);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codecs),
        cmocka_unit_test(headers),
        cmocka_unit_test(request_targets),
        cmocka_unit_test(get_calls),
        cmocka_unit_test(error_bodies),
        cmocka_unit_test(metadata),
        cmocka_unit_test(timestamps_and_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
