/*
 * boussolectl, as the README uses it: mint a token, call methods with JSON through the gateway
 * (both codecs) or straight to a service over nng, list and describe, check health, and exit
 * statuses that scripts can test.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "boussole/service.h"
#include "gateway_harness.h"

static te_env env;
static te_proc sessions, gw;
static char *token;

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "gateway_ctl");
    te_redis_start(&env);
    te_service_start(&env, &sessions, "sessions", NULL);
    const char *args[] = { "--rate-limit=0", NULL };
    gwh_gateway_start(&env, &gw, "gateway", sessions.url, args);
    gwh_wait(&gw, true);
    token = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    te_fini(&env);
    free(token);
    return 0;
}

/* Runs boussolectl with the gateway's URL and the token; stdout in the result. */
static char *ctl(const char *args, int *status)
{
    char cmd[16384];
    snprintf(cmd, sizeof(cmd), "BSL_URL=%s BSL_TOKEN=%s %s %s 2>&1", gw.url, token, gwh_ctl(&env),
             args);
    return gwh_run(cmd, status);
}

static const char *CREATE = "'{\"beneficiaryId\":\"b-ctl\",\"organisationId\":\"org-lumiere\","
                            "\"funding\":\"FUNDING_CPF\",\"plannedHours\":8,\"startDate\":"
                            "\"2026-12-01\",\"endDate\":\"2027-01-31\"}'";

static void call_through_the_gateway(void **state)
{
    (void)state;
    int st;
    char args[2048];
    snprintf(args, sizeof(args), "call SessionService/CreateBilan %s", CREATE);
    char *out = ctl(args, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "\"counselorId\": \"c-marie\""));
    assert_non_null(strstr(out, "\"phase\": \"PHASE_PRELIMINARY\""));
    char id[64];
    const char *p = strstr(out, "\"id\": \"");
    assert_non_null(p);
    snprintf(id, sizeof(id), "%.26s", p + 7);
    free(out);

    /* Binary on the wire, request from standard input, full method name. */
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "echo '{\"id\":\"%s\"}' | BSL_URL=%s BSL_TOKEN=%s %s call "
             "boussole.v1.SessionService/GetBilan - --binary 2>&1",
             id, gw.url, token, gwh_ctl(&env));
    out = gwh_run(cmd, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "\"beneficiaryId\": \"b-ctl\""));
    free(out);

    /* Errors: the Connect error, and 64 + the code as exit status. */
    out = ctl("call SessionService/GetBilan '{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaa\"}'", &st);
    assert_int_equal(st, 64 + 5);
    assert_non_null(strstr(out, "\"code\": \"not_found\""));
    free(out);
    out = ctl("call SessionService/GetBilan '{\"id\":\"x\"}' --token=", &st);
    assert_int_equal(st, 64 + 16);
    free(out);
    /* A request that is not JSON of the input type never leaves: a usage error. */
    out = ctl("call SessionService/GetBilan '{\"nope\":1}'", &st);
    assert_int_equal(st, 2);
    assert_non_null(strstr(out, "unknown field"));
    free(out);
    out = ctl("call SessionService/NoSuchMethod '{}'", &st);
    assert_int_equal(st, 2);
    free(out);
}

static void call_directly(void **state)
{
    (void)state;
    int st;
    char args[2048];
    snprintf(args, sizeof(args),
             "call SessionService/CreateBilan %s --direct=%s "
             "--as=counselor:c-direct:org-lumiere",
             CREATE, sessions.url);
    char *out = ctl(args, &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "\"counselorId\": \"c-direct\""));
    free(out);
    /* Without a caller, the service itself refuses. */
    snprintf(args, sizeof(args), "call SessionService/GetBilan '{\"id\":\"x\"}' --direct=%s",
             sessions.url);
    out = ctl(args, &st);
    assert_int_equal(st, 64 + 16);
    free(out);
    /* Internal methods are reachable directly (as a service), never through the gateway. */
    snprintf(args, sizeof(args),
             "call SessionService/ListEndedBilans '{}' --direct=%s --as=service:syntheses",
             sessions.url);
    out = ctl(args, &st);
    assert_int_equal(st, 0);
    free(out);
    out = ctl("call SessionService/ListEndedBilans '{}'", &st);
    assert_int_equal(st, 64 + 12); /* unimplemented: no such method at the gateway */
    free(out);
}

static void list_describe_health(void **state)
{
    (void)state;
    int st;
    char *out = ctl("list", &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "boussole.v1.SessionService\n"));
    assert_non_null(strstr(out, "  GetBilan(boussole.v1.GetBilanRequest) returns "
                                "(boussole.v1.Bilan) [read]"));
    assert_null(strstr(out, "GetBilanAccess"));
    free(out);
    out = ctl("describe SessionService", &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "rpc GetBilanAccess"));
    assert_non_null(strstr(out, "[internal]"));
    free(out);
    out = ctl("describe boussole.v1.Funding", &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "FUNDING_EMPLOYER_PLAN = 2;"));
    free(out);
    out = ctl("describe SessionService/CreateBilan", &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "uint32 planned_hours = 5;  // JSON: \"plannedHours\""));
    free(out);
    out = ctl("health", &st);
    assert_int_equal(st, 0);
    assert_string_equal(out, "ready");
    free(out);
    char args[256];
    snprintf(args, sizeof(args), "health --direct=%s", sessions.url);
    out = ctl(args, &st);
    assert_int_equal(st, 0);
    assert_string_equal(out, "SERVING_STATUS_SERVING");
    free(out);
    out = ctl("frobnicate", &st);
    assert_int_equal(st, 2);
    free(out);
}

static void tokens(void **state)
{
    (void)state;
    int st;
    /* Without a secret there is nothing to sign with. */
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "env -u BSL_JWT_SECRET %s token --sub a --role admin 2>&1",
             gwh_ctl(&env));
    char *out = gwh_run(cmd, &st);
    assert_int_equal(st, 2);
    free(out);
    /* A minted token works at the gateway, for the role it names. */
    char *admin = gwh_token(&env, "a-paul", "admin", "org-lumiere", "--ttl-s=600");
    gwh_resp r;
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.Reflection/ListServices", admin, "{}", NULL, &r), 200);
    gwh_resp_free(&r);
    free(admin);
}

static void exits_cleanly(void **state)
{
    (void)state;
    /* Every request path above ran in these processes: a clean exit (and, in the sanitizer
     * build, no leak) says none of them left anything behind. */
    assert_int_equal(gwh_stop(&gw), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(call_through_the_gateway),
        cmocka_unit_test(call_directly),
        cmocka_unit_test(list_describe_health),
        cmocka_unit_test(tokens),
        cmocka_unit_test(exits_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
