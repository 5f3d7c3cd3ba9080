/* Status codes: names, Connect names, HTTP statuses, and the runtime-error mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "boussole/err.h"
#include "boussole/status.h"
#include "boussole/v1/rpc.pb-c.h"

static void names_match_the_proto(void **state)
{
    (void)state;
    /* Our numbering is the proto's (and gRPC's): check every value against the enum. */
    for (int i = 0; i < BSL_STATUS_COUNT; i++) {
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(&boussole__v1__code__descriptor, i);
        assert_non_null(v);
        char expect[64];
        snprintf(expect, sizeof(expect), "CODE_%s", bsl_status_name(i));
        assert_string_equal(v->name, expect);
    }
    assert_string_equal(bsl_status_name(99), "UNKNOWN");
    assert_false(bsl_status_valid(17));
    assert_false(bsl_status_valid(-1));
}

static void connect_table(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *name;
        int http;
    } want[] = {
        { BSL_STATUS_CANCELLED, "canceled", 499 },
        { BSL_STATUS_UNKNOWN, "unknown", 500 },
        { BSL_STATUS_INVALID_ARGUMENT, "invalid_argument", 400 },
        { BSL_STATUS_DEADLINE_EXCEEDED, "deadline_exceeded", 504 },
        { BSL_STATUS_NOT_FOUND, "not_found", 404 },
        { BSL_STATUS_ALREADY_EXISTS, "already_exists", 409 },
        { BSL_STATUS_PERMISSION_DENIED, "permission_denied", 403 },
        { BSL_STATUS_RESOURCE_EXHAUSTED, "resource_exhausted", 429 },
        { BSL_STATUS_FAILED_PRECONDITION, "failed_precondition", 400 },
        { BSL_STATUS_ABORTED, "aborted", 409 },
        { BSL_STATUS_OUT_OF_RANGE, "out_of_range", 400 },
        { BSL_STATUS_UNIMPLEMENTED, "unimplemented", 501 },
        { BSL_STATUS_INTERNAL, "internal", 500 },
        { BSL_STATUS_UNAVAILABLE, "unavailable", 503 },
        { BSL_STATUS_DATA_LOSS, "data_loss", 500 },
        { BSL_STATUS_UNAUTHENTICATED, "unauthenticated", 401 },
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_string_equal(bsl_status_connect_name(want[i].code), want[i].name);
        assert_int_equal(bsl_status_http(want[i].code), want[i].http);
        assert_int_equal(bsl_status_from_connect_name(want[i].name), want[i].code);
    }
    assert_int_equal(bsl_status_from_connect_name("nope"), -1);
}

static void errors_map_to_statuses(void **state)
{
    (void)state;
    assert_int_equal(bsl_status_from_err(BSL_OK), BSL_STATUS_OK);
    assert_int_equal(bsl_status_from_err(BSL_ETIMEDOUT), BSL_STATUS_DEADLINE_EXCEEDED);
    assert_int_equal(bsl_status_from_err(BSL_EUNAVAIL), BSL_STATUS_UNAVAILABLE);
    assert_int_equal(bsl_status_from_err(BSL_ECLOSED), BSL_STATUS_UNAVAILABLE);
    assert_int_equal(bsl_status_from_err(BSL_ETOOBIG), BSL_STATUS_RESOURCE_EXHAUSTED);
    assert_int_equal(bsl_status_from_err(BSL_ECRYPTO), BSL_STATUS_DATA_LOSS);
    assert_int_equal(bsl_status_from_err(BSL_ENOMEM), BSL_STATUS_INTERNAL);
    assert_string_equal(bsl_strerror(BSL_ETIMEDOUT), "timed out");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_match_the_proto),
        cmocka_unit_test(connect_table),
        cmocka_unit_test(errors_map_to_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
