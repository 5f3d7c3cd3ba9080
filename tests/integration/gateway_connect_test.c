/*
 * The gateway's Connect protocol end to end, against a real redis-server, the real sessions
 * process and the real boussole-gateway: both codecs, POST and GET, the deadline header, every
 * status code with its HTTP status, malformed requests, request framing (chunked bodies, 100
 * Continue), and the gateway's own endpoints.
 *
 * Codes the sessions service has no reason to produce come from a second gateway whose
 * "sessions" backend is a REP socket in this test that answers each GetBilan with the code
 * its id names: the gateway cannot tell it from a real service.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <sodium.h>

#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"
#include "gateway_harness.h"

static te_env env;
static te_proc sessions, gw, gw_fake, gw_down;
static char *counselor, *beneficiary;
static char bilan_id[64];
static nng_socket fake;
static pthread_t fake_thread;
static char fake_url[64];

/* ---- the scripted backend ------------------------------------------------------------------ */

static void fake_answer(const Boussole__V1__RpcRequest *req, Boussole__V1__RpcResponse *resp,
                        uint8_t *payload, size_t *payload_len)
{
    static Boussole__V1__FieldViolation fv = BOUSSOLE__V1__FIELD_VIOLATION__INIT;
    static Boussole__V1__PreconditionViolation pv = BOUSSOLE__V1__PRECONDITION_VIOLATION__INIT;
    static Boussole__V1__RetryInfo ri = BOUSSOLE__V1__RETRY_INFO__INIT;
    static Boussole__V1__ErrorDetail d = BOUSSOLE__V1__ERROR_DETAIL__INIT;
    static Boussole__V1__ErrorDetail *details[1];
    *payload_len = 0;
    if (strcmp(req->method, "boussole.v1.Health/Check") == 0) {
        Boussole__V1__HealthCheckResponse h = BOUSSOLE__V1__HEALTH_CHECK_RESPONSE__INIT;
        h.status = BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_SERVING;
        *payload_len = boussole__v1__health_check_response__pack(&h, payload);
        return;
    }
    Boussole__V1__GetBilanRequest *g =
        boussole__v1__get_bilan_request__unpack(NULL, req->payload.len, req->payload.data);
    const char *id = g ? g->id : "";
    int code;
    if (sscanf(id, "status-%d", &code) == 1) {
        resp->code = (Boussole__V1__Code)code;
        resp->message = "scripted failure";
        fv.field = "id";
        fv.description = "scripted";
        pv.type = "SCRIPTED";
        pv.subject = "bilan";
        pv.description = "scripted precondition";
        ri.retry_delay_ms = 2500;
        d.detail_case = code == 9    ? BOUSSOLE__V1__ERROR_DETAIL__DETAIL_PRECONDITION_VIOLATION
                        : code == 14 ? BOUSSOLE__V1__ERROR_DETAIL__DETAIL_RETRY_INFO
                                     : BOUSSOLE__V1__ERROR_DETAIL__DETAIL_FIELD_VIOLATION;
        d.field_violation = &fv;
        if (code == 9) {
            d.precondition_violation = &pv;
        }
        if (code == 14) {
            d.retry_info = &ri;
        }
        details[0] = &d;
        resp->details = details;
        resp->n_details = 1;
    } else if (strcmp(id, "garbage") == 0) {
        memcpy(payload, "\xff\xff\xff", 3); /* not a Bilan */
        *payload_len = 3;
    } else {
        Boussole__V1__Bilan b = BOUSSOLE__V1__BILAN__INIT;
        b.id = (char *)id;
        b.beneficiary_id = strcmp(id, "bad-utf8") == 0 ? "b-\xff" : "b-fake";
        b.version = 7;
        *payload_len = boussole__v1__bilan__pack(&b, payload);
    }
    if (g != NULL) {
        boussole__v1__get_bilan_request__free_unpacked(g, NULL);
    }
}

static void *fake_main(void *arg)
{
    (void)arg;
    for (;;) {
        nng_msg *msg;
        if (nng_recvmsg(fake, &msg, 0) != 0) {
            return NULL;
        }
        Boussole__V1__RpcRequest *req =
            boussole__v1__rpc_request__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
        Boussole__V1__RpcResponse resp = BOUSSOLE__V1__RPC_RESPONSE__INIT;
        uint8_t payload[1024];
        size_t plen = 0;
        if (req != NULL) {
            resp.request_id = req->request_id;
            fake_answer(req, &resp, payload, &plen);
        } else {
            resp.code = BOUSSOLE__V1__CODE__CODE_INVALID_ARGUMENT;
        }
        resp.payload.data = payload;
        resp.payload.len = plen;
        uint8_t out[4096];
        size_t n = boussole__v1__rpc_response__pack(&resp, out);
        if (req != NULL) {
            boussole__v1__rpc_request__free_unpacked(req, NULL);
        }
        nng_msg_clear(msg);
        nng_msg_append(msg, out, n);
        if (nng_sendmsg(fake, msg, 0) != 0) {
            nng_msg_free(msg);
        }
    }
}

/* ---- set-up -------------------------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "gateway_connect");
    te_redis_start(&env);
    const char *sargs[] = { "--max-message-bytes=4096", NULL };
    te_service_start(&env, &sessions, "sessions", sargs);
    const char *gargs[] = { "--rate-limit=0", "--max-body-bytes=65536", NULL };
    gwh_gateway_start(&env, &gw, "gateway", sessions.url, gargs);
    gwh_wait(&gw, true);

    snprintf(fake_url, sizeof(fake_url), "tcp://127.0.0.1:%d", te_free_port());
    if (nng_rep0_open(&fake) != 0 || nng_listen(fake, fake_url, NULL, 0) != 0 ||
        pthread_create(&fake_thread, NULL, fake_main, NULL) != 0) {
        return -1;
    }
    const char *fargs[] = { "--rate-limit=0", NULL };
    gwh_gateway_start(&env, &gw_fake, "gateway-fake", fake_url, fargs);
    /* A gateway whose backend is not running. */
    char dead[64];
    snprintf(dead, sizeof(dead), "tcp://127.0.0.1:%d", te_free_port());
    gwh_gateway_start(&env, &gw_down, "gateway-down", dead, fargs);

    counselor = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "");
    beneficiary = gwh_token(&env, "b-jeanne", "beneficiary", "", "");
    gwh_resp r;
    int st = gwh_post(gw.port, "boussole.v1.SessionService/CreateBilan", counselor,
                      "{\"beneficiaryId\":\"b-jeanne\",\"organisationId\":\"org-lumiere\","
                      "\"funding\":\"FUNDING_CPF\",\"plannedHours\":24,\"startDate\":"
                      "\"2026-12-01\",\"endDate\":\"2027-02-28\"}",
                      NULL, &r);
    if (st != 200) {
        fprintf(stderr, "create: %d %s\n", st, r.body);
        return -1;
    }
    snprintf(bilan_id, sizeof(bilan_id), "%s", gwh_json_str(r.body, "id"));
    gwh_resp_free(&r);
    return strlen(bilan_id) == 26 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    te_fini(&env);
    nng_close(fake);
    pthread_join(fake_thread, NULL);
    free(counselor);
    free(beneficiary);
    return 0;
}

static char *get_body(void)
{
    static char body[128];
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", bilan_id);
    return body;
}

/* ---- codecs -------------------------------------------------------------------------------- */

static void json_post(void **state)
{
    (void)state;
    gwh_resp r;
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, get_body(), NULL, &r),
        200);
    assert_string_equal(gwh_header(&r, "Content-Type"), "application/json");
    assert_string_equal(gwh_json_str(r.body, "id"), bilan_id);
    assert_string_equal(gwh_json_str(r.body, "beneficiaryId"), "b-jeanne");
    assert_string_equal(gwh_json_str(r.body, "funding"), "FUNDING_CPF");
    assert_string_equal(gwh_json_str(r.body, "phase"), "PHASE_PRELIMINARY");
    assert_string_equal(gwh_json_str(r.body, "version"), "1"); /* uint64: a string */
    assert_non_null(strstr(r.body, "\"plannedHours\":24"));
    assert_non_null(strstr(gwh_json_str(r.body, "createTime"), "Z")); /* RFC 3339, UTC */
    assert_string_equal(gwh_header(&r, "Cache-Control"), "no-store");
    /* A request id is generated when the client gives none. */
    assert_int_equal(strlen(gwh_header(&r, "X-Request-Id")), 16);
    gwh_resp_free(&r);

    /* Original field names are accepted too; the client's request id is echoed. */
    char body[128];
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", bilan_id);
    const char *extra[] = { "X-Request-Id: req-42.a_b:c", NULL };
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, body, extra, &r),
        200);
    assert_string_equal(gwh_header(&r, "X-Request-Id"), "req-42.a_b:c");
    gwh_resp_free(&r);
    /* An unusable request id is replaced. */
    const char *bad_id[] = { "X-Request-Id: has spaces and {braces}", NULL };
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, body, bad_id, &r),
        200);
    assert_int_equal(strlen(gwh_header(&r, "X-Request-Id")), 16);
    gwh_resp_free(&r);
}

static void binary_post(void **state)
{
    (void)state;
    Boussole__V1__GetBilanRequest q = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    q.id = bilan_id;
    uint8_t buf[64];
    size_t n = boussole__v1__get_bilan_request__pack(&q, buf);
    char auth[4096];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", beneficiary);
    const char *h[] = { "Content-Type: application/proto", auth, NULL };
    gwh_resp r;
    assert_int_equal(
        gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", h, buf, n, &r), 200);
    assert_string_equal(gwh_header(&r, "Content-Type"), "application/proto");
    Boussole__V1__Bilan *b = boussole__v1__bilan__unpack(NULL, r.len, (const uint8_t *)r.body);
    assert_non_null(b);
    assert_string_equal(b->id, bilan_id);
    assert_int_equal(b->planned_hours, 24);
    boussole__v1__bilan__free_unpacked(b, NULL);
    gwh_resp_free(&r);

    /* Errors are JSON whatever the request's codec. */
    q.id = "nope";
    n = boussole__v1__get_bilan_request__pack(&q, buf);
    assert_int_equal(
        gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", h, buf, n, &r), 400);
    assert_string_equal(gwh_header(&r, "Content-Type"), "application/json");
    assert_non_null(strstr(r.body, "\"code\":\"invalid_argument\""));
    gwh_resp_free(&r);
    /* Bytes that are not a GetBilanRequest: the backend names the problem. */
    assert_int_equal(
        gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", h, "\x0a\x10zz", 4, &r),
        400);
    gwh_resp_free(&r);
}

static void get_requests(void **state)
{
    (void)state;
    char auth[4096], path[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", beneficiary);
    const char *h[] = { auth, NULL };
    gwh_resp r;
    /* JSON, percent-encoded. */
    snprintf(path, sizeof(path),
             "/boussole.v1.SessionService/GetBilan?connect=v1&encoding=json&message=%%7B%%22id%%22"
             "%%3A%%22%s%%22%%7D",
             bilan_id);
    assert_int_equal(gwh_http(gw.port, "GET", path, h, NULL, 0, &r), 200);
    assert_string_equal(gwh_json_str(r.body, "id"), bilan_id);
    gwh_resp_free(&r);
    /* Binary, base64url without padding. */
    Boussole__V1__GetBilanRequest q = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    q.id = bilan_id;
    uint8_t buf[64];
    size_t n = boussole__v1__get_bilan_request__pack(&q, buf);
    char b64[128];
    sodium_bin2base64(b64, sizeof(b64), buf, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(path, sizeof(path),
             "/boussole.v1.SessionService/GetBilan?encoding=proto&base64=1&message=%s", b64);
    assert_int_equal(gwh_http(gw.port, "GET", path, h, NULL, 0, &r), 200);
    assert_string_equal(gwh_header(&r, "Content-Type"), "application/proto");
    gwh_resp_free(&r);
    /* GET is for side-effect-free methods only. */
    assert_int_equal(
        gwh_http(gw.port, "GET",
                 "/boussole.v1.SessionService/CreateBilan?encoding=json&message=%7B%7D", h, NULL, 0,
                 &r),
        405);
    assert_string_equal(gwh_header(&r, "Allow"), "POST");
    gwh_resp_free(&r);
    /* Missing encoding, bad base64, compression. */
    assert_int_equal(gwh_http(gw.port, "GET", "/boussole.v1.SessionService/GetBilan?message=%7B%7D",
                              h, NULL, 0, &r),
                     400);
    assert_non_null(strstr(r.body, "encoding"));
    gwh_resp_free(&r);
    assert_int_equal(gwh_http(gw.port, "GET",
                              "/boussole.v1.SessionService/GetBilan?encoding=proto&base64=1&"
                              "message=***",
                              h, NULL, 0, &r),
                     400);
    gwh_resp_free(&r);
    assert_int_equal(gwh_http(gw.port, "GET",
                              "/boussole.v1.SessionService/GetBilan?encoding=json&message=%7B%7D&"
                              "compression=gzip",
                              h, NULL, 0, &r),
                     501);
    gwh_resp_free(&r);
}

/* ---- status codes -------------------------------------------------------------------------- */

static const struct {
    int code;
    const char *name;
    int http;
} table[] = {
    { 1, "canceled", 499 },
    { 2, "unknown", 500 },
    { 3, "invalid_argument", 400 },
    { 4, "deadline_exceeded", 504 },
    { 5, "not_found", 404 },
    { 6, "already_exists", 409 },
    { 7, "permission_denied", 403 },
    { 8, "resource_exhausted", 429 },
    { 9, "failed_precondition", 400 },
    { 10, "aborted", 409 },
    { 11, "out_of_range", 400 },
    { 12, "unimplemented", 501 },
    { 13, "internal", 500 },
    { 14, "unavailable", 503 },
    { 15, "data_loss", 500 },
    { 16, "unauthenticated", 401 },
};

static void every_code_from_a_backend(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        char body[64], want[64];
        snprintf(body, sizeof(body), "{\"id\":\"status-%d\"}", table[i].code);
        gwh_resp r;
        int st = gwh_post(gw_fake.port, "boussole.v1.SessionService/GetBilan", counselor, body,
                          NULL, &r);
        if (st != table[i].http) {
            fail_msg("code %d: HTTP %d, want %d (%s)", table[i].code, st, table[i].http, r.body);
        }
        snprintf(want, sizeof(want), "\"code\":\"%s\"", table[i].name);
        assert_non_null(strstr(r.body, want));
        assert_non_null(strstr(r.body, "\"message\":\"scripted failure\""));
        /* Typed details travel as Connect details: type, base64 value, JSON debug. */
        const char *type = table[i].code == 9    ? "boussole.v1.PreconditionViolation"
                           : table[i].code == 14 ? "boussole.v1.RetryInfo"
                                                 : "boussole.v1.FieldViolation";
        snprintf(want, sizeof(want), "\"type\":\"%s\"", type);
        assert_non_null(strstr(r.body, want));
        assert_non_null(strstr(r.body, "\"value\":\""));
        assert_non_null(strstr(r.body, "\"debug\":{"));
        if (table[i].code == 14) {
            assert_string_equal(gwh_header(&r, "Retry-After"), "3"); /* 2500 ms, rounded up */
        }
        gwh_resp_free(&r);
    }
    /* A code the protocol does not know becomes unknown; an answer that does not decode, or
     * that JSON cannot express, is the gateway's internal error. */
    gwh_resp r;
    assert_int_equal(gwh_post(gw_fake.port, "boussole.v1.SessionService/GetBilan", counselor,
                              "{\"id\":\"status-99\"}", NULL, &r),
                     500);
    assert_non_null(strstr(r.body, "\"code\":\"unknown\""));
    gwh_resp_free(&r);
    assert_int_equal(gwh_post(gw_fake.port, "boussole.v1.SessionService/GetBilan", counselor,
                              "{\"id\":\"garbage\"}", NULL, &r),
                     500);
    assert_non_null(strstr(r.body, "\"code\":\"internal\""));
    gwh_resp_free(&r);
    assert_int_equal(gwh_post(gw_fake.port, "boussole.v1.SessionService/GetBilan", counselor,
                              "{\"id\":\"bad-utf8\"}", NULL, &r),
                     500);
    assert_non_null(strstr(r.body, "beneficiary_id"));
    gwh_resp_free(&r);
    /* ...while the binary codec passes the bytes through. */
    char auth[4096];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", counselor);
    const char *h[] = { "Content-Type: application/proto", auth, NULL };
    Boussole__V1__GetBilanRequest q = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    q.id = "fine";
    uint8_t buf[64];
    size_t n = boussole__v1__get_bilan_request__pack(&q, buf);
    assert_int_equal(
        gwh_http(gw_fake.port, "POST", "/boussole.v1.SessionService/GetBilan", h, buf, n, &r), 200);
    gwh_resp_free(&r);
}

static void codes_from_the_real_stack(void **state)
{
    (void)state;
    gwh_resp r;
    /* INVALID_ARGUMENT from the service's field rules, naming the field. */
    assert_int_equal(gwh_post(gw.port, "boussole.v1.SessionService/CreateBilan", counselor,
                              "{\"beneficiaryId\":\"b-x\",\"organisationId\":\"org-lumiere\","
                              "\"funding\":\"FUNDING_CPF\",\"plannedHours\":99,\"startDate\":"
                              "\"2026-12-01\",\"endDate\":\"2027-02-28\"}",
                              NULL, &r),
                     400);
    assert_non_null(strstr(r.body, "planned_hours"));
    assert_non_null(strstr(r.body, "boussole.v1.FieldViolation"));
    gwh_resp_free(&r);
    /* NOT_FOUND. */
    assert_int_equal(gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", counselor,
                              "{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaa\"}", NULL, &r),
                     404);
    assert_non_null(strstr(r.body, "\"code\":\"not_found\""));
    gwh_resp_free(&r);
    /* PERMISSION_DENIED: a beneficiary may not create a bilan. */
    assert_int_equal(gwh_post(gw.port, "boussole.v1.SessionService/CreateBilan", beneficiary,
                              "{\"beneficiaryId\":\"b-jeanne\",\"organisationId\":\"org-lumiere\","
                              "\"funding\":\"FUNDING_CPF\",\"plannedHours\":2,\"startDate\":"
                              "\"2026-12-01\",\"endDate\":\"2027-02-28\"}",
                              NULL, &r),
                     403);
    gwh_resp_free(&r);
    /* UNAUTHENTICATED: no token. */
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", NULL, get_body(), NULL, &r), 401);
    assert_non_null(strstr(r.body, "\"code\":\"unauthenticated\""));
    gwh_resp_free(&r);
    /* RESOURCE_EXHAUSTED from the service's message size limit (4096 bytes here). */
    char *big = malloc(8000);
    int n = snprintf(big, 8000, "{\"beneficiaryId\":\"");
    memset(big + n, 'x', 5000);
    snprintf(big + n + 5000, 8000 - (size_t)n - 5000, "\"}");
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/CreateBilan", counselor, big, NULL, &r), 429);
    assert_non_null(strstr(r.body, "\"code\":\"resource_exhausted\""));
    gwh_resp_free(&r);
    free(big);
    /* UNAVAILABLE: the backend is not running. */
    assert_int_equal(gwh_post(gw_down.port, "boussole.v1.SessionService/GetBilan", counselor,
                              get_body(), NULL, &r),
                     503);
    assert_non_null(strstr(r.body, "\"code\":\"unavailable\""));
    gwh_resp_free(&r);
}

static void deadline_header(void **state)
{
    (void)state;
    gwh_resp r;
    /* The backend stops answering: the call ends at the deadline the client asked for. */
    te_signal(&sessions, SIGSTOP);
    const char *t300[] = { "Connect-Timeout-Ms: 300", NULL };
    int st =
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, get_body(), t300, &r);
    te_signal(&sessions, SIGCONT);
    assert_int_equal(st, 504);
    assert_non_null(strstr(r.body, "\"code\":\"deadline_exceeded\""));
    gwh_resp_free(&r);
    /* The service is fine again. */
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, get_body(), t300, &r),
        200);
    gwh_resp_free(&r);
    const char *bad[] = { "Connect-Timeout-Ms: 12345678901", NULL };
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, get_body(), bad, &r),
        400);
    gwh_resp_free(&r);
    const char *letters[] = { "Connect-Timeout-Ms: soon", NULL };
    assert_int_equal(gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary,
                              get_body(), letters, &r),
                     400);
    gwh_resp_free(&r);
    const char *zero[] = { "Connect-Timeout-Ms: 0", NULL };
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, get_body(), zero, &r),
        504);
    gwh_resp_free(&r);
}

/* ---- malformed requests --------------------------------------------------------------------- */

static void expect_invalid(const char *json, size_t len, const char *needle)
{
    if (len == 0) {
        len = strlen(json);
    }
    char auth[4096];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", counselor);
    const char *h[] = { "Content-Type: application/json", auth, NULL };
    gwh_resp r;
    int st = gwh_http(gw.port, "POST", "/boussole.v1.SessionService/CreateBilan", h, json, len, &r);
    if (st != 400 || strstr(r.body, needle) == NULL ||
        strstr(r.body, "\"code\":\"invalid_argument\"") == NULL) {
        fail_msg("%.60s: HTTP %d %s (want 400 mentioning '%s')", json, st, r.body, needle);
    }
    gwh_resp_free(&r);
}

static void malformed_json(void **state)
{
    (void)state;
    /* Deep nesting. */
    size_t depth = 20000; /* 40 KB: under the body limit */
    char *deep = malloc(2 * depth + 32);
    int n = snprintf(deep, 32, "{\"beneficiaryId\":");
    memset(deep + n, '[', depth);
    memset(deep + n + depth, ']', depth);
    deep[n + 2 * depth] = '}';
    expect_invalid(deep, (size_t)n + 2 * depth + 1, "nested deeper");
    free(deep);
    /* Invalid UTF-8 (a truncated sequence), a NUL escape. */
    expect_invalid("{\"beneficiaryId\":\"b-\xe2\x82\"}", 0, "invalid JSON");
    expect_invalid("{\"beneficiaryId\":\"b\\u0000\"}", 0, "invalid JSON");
    /* Wrong types. */
    expect_invalid("{\"plannedHours\":\"many\"}", 0, "plannedHours");
    expect_invalid("{\"funding\":true}", 0, "funding");
    expect_invalid("{\"beneficiaryId\":[\"b\"]}", 0, "beneficiaryId");
    expect_invalid("[1,2]", 0, "expected an object");
    /* Huge numbers. */
    expect_invalid("{\"plannedHours\":99999999999}", 0, "out of range");
    expect_invalid("{\"plannedHours\":1e999}", 0, "invalid JSON");
    expect_invalid("{\"plannedHours\":123456789012345678901234567890}", 0, "invalid JSON");
    /* Unknown fields, broken text. */
    expect_invalid("{\"beneficiaryId\":\"b\",\"isAdmin\":true}", 0, "unknown field");
    expect_invalid("{\"beneficiaryId\":", 0, "invalid JSON");
    expect_invalid("not json at all", 0, "invalid JSON");
}

static void protocol_errors(void **state)
{
    (void)state;
    char auth[4096];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", counselor);
    gwh_resp r;
    /* Unknown methods and internal ones look the same. */
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/DeleteEverything", counselor, "{}", NULL, &r),
        404);
    assert_non_null(strstr(r.body, "\"code\":\"unimplemented\""));
    gwh_resp_free(&r);
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilanAccess", counselor, "{}", NULL, &r),
        404);
    assert_non_null(strstr(r.body, "no such method"));
    gwh_resp_free(&r);
    assert_int_equal(gwh_post(gw.port, "boussole.v1.Nothing/Here", counselor, "{}", NULL, &r), 404);
    gwh_resp_free(&r);
    assert_int_equal(gwh_http_status(gw.port, "/index.html"), 404);
    /* A service of the schema with no backend behind this gateway (when the schema has it). */
    const char *q = "boussole.v1.QuestionnaireService/ListInstruments";
    int st = gwh_post(gw.port, q, counselor, "{}", NULL, &r);
    assert_int_equal(st, bsl_schema_method(q, strlen(q)) ? 501 : 404);
    gwh_resp_free(&r);
    /* Methods, media types, versions, encodings. */
    const char *h_json[] = { "Content-Type: application/json", auth, NULL };
    assert_int_equal(
        gwh_http(gw.port, "PUT", "/boussole.v1.SessionService/GetBilan", h_json, "{}", 2, &r), 405);
    assert_string_equal(gwh_header(&r, "Allow"), "GET, POST");
    gwh_resp_free(&r);
    const char *h_xml[] = { "Content-Type: text/xml", auth, NULL };
    assert_int_equal(
        gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", h_xml, "{}", 2, &r), 415);
    assert_non_null(gwh_header(&r, "Accept-Post"));
    gwh_resp_free(&r);
    const char *h_latin[] = { "Content-Type: application/json; charset=latin1", auth, NULL };
    assert_int_equal(
        gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", h_latin, "{}", 2, &r),
        415);
    gwh_resp_free(&r);
    const char *h_v2[] = { "Content-Type: application/json", "Connect-Protocol-Version: 2", auth,
                           NULL };
    assert_int_equal(
        gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", h_v2, "{}", 2, &r), 400);
    gwh_resp_free(&r);
    const char *h_gzip[] = { "Content-Type: application/json", "Content-Encoding: gzip", auth,
                             NULL };
    assert_int_equal(
        gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", h_gzip, "{}", 2, &r),
        501);
    assert_string_equal(gwh_header(&r, "Accept-Encoding"), "identity");
    gwh_resp_free(&r);
    /* An empty JSON body is an empty message (curl -X POST with no data). */
    assert_int_equal(
        gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", h_json, "", 0, &r), 400);
    assert_non_null(strstr(r.body, "\"id\""));
    gwh_resp_free(&r);
}

/* ---- request-targets --------------------------------------------------------------------- */

/* Percent escapes, where nng 1.5.2's HTTP server wrote past its copy of the request-target
 * (tests/reliability/README.md, finding 1): every one gets a clean 4xx Connect error, and only
 * escapes of unreserved characters stand for the characters themselves. */
static void percent_escapes(void **state)
{
    (void)state;
    static const struct {
        const char *target;
        int status;
        const char *code;
    } rows[] = {
        { "/boussole.v1.SessionService/GetBilan%7D", 404, "unimplemented" },
        { "/anything%7D", 404, "unimplemented" },
        { "/%", 400, "invalid_argument" },
        { "/a%4", 400, "invalid_argument" },
        { "/a%4?x=1", 400, "invalid_argument" },
        { "/%zz", 400, "invalid_argument" },
        { "/boussole.v1.SessionService/GetBilan%", 400, "invalid_argument" },
        { "/boussole.v1.SessionService/GetBilan%00", 404, "unimplemented" },
        { "/boussole.v1.SessionService/GetBilan%00/x", 404, "unimplemented" },
        { "/boussole.v1.SessionService%2FGetBilan", 404, "unimplemented" },
        { "/healthz%3F", 404, "unimplemented" },
        { "/%E9t%C3%A9", 404, "unimplemented" },
    };
    gwh_resp r;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int st = gwh_http(gw.port, "GET", rows[i].target, NULL, NULL, 0, &r);
        if (st != rows[i].status || r.body == NULL || strstr(r.body, rows[i].code) == NULL) {
            fail_msg("GET %s: %d %s", rows[i].target, st, r.body ? r.body : "");
        }
        assert_string_equal(gwh_header(&r, "Content-Type"), "application/json");
        gwh_resp_free(&r);
    }
    /* Long runs of escapes: decoded (unreserved), foreign, malformed at the very end, and
     * beyond the 8 KiB the gateway takes. */
    static const struct {
        const char *unit;
        int count;
        const char *tail;
        int status;
    } runs[] = {
        { "%41", 2000, "", 404 },   { "%7D", 2600, "", 404 }, { "%25", 2000, "%", 400 },
        { "%7d", 2000, "%4", 400 }, { "%7D", 3000, "", 414 },
    };
    char *target = malloc(16384);
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        size_t n = 0;
        target[n++] = '/';
        for (int k = 0; k < runs[i].count; k++) {
            memcpy(target + n, runs[i].unit, 3);
            n += 3;
        }
        n += (size_t)sprintf(target + n, "%s", runs[i].tail);
        assert_int_equal(gwh_http(gw.port, "GET", target, NULL, NULL, 0, &r), runs[i].status);
        assert_non_null(strstr(r.body, "\"code\":"));
        gwh_resp_free(&r);
    }
    free(target);
    /* An escaped unreserved character is the character: the method is found. */
    assert_int_equal(gwh_post(gw.port, "bou%73sole.v1.Health/Ch%65ck", NULL, "{}", NULL, &r), 200);
    assert_non_null(strstr(r.body, "SERVING_STATUS_"));
    gwh_resp_free(&r);
    /* A stream of such targets on one keep-alive connection: each answered, the gateway well. */
    size_t cap = 1 << 20, len = 0;
    char *stream = malloc(cap);
    for (int i = 0; i < 300; i++) {
        len += (size_t)snprintf(stream + len, cap - len,
                                "GET /boussole.v1.SessionService/GetBilan%%%02X HTTP/1.1\r\n"
                                "Host: x\r\n%s\r\n",
                                i % 256, i == 299 ? "Connection: close\r\n" : "");
    }
    assert_true(gwh_raw(gw.port, stream, len, &r) >= 400);
    int answers = 0;
    for (const char *p = strstr(r.raw, "HTTP/1.1 "); p != NULL; p = strstr(p + 1, "HTTP/1.1 ")) {
        int st = atoi(p + 9);
        assert_true(st == 400 || st == 404);
        answers++;
    }
    assert_int_equal(answers, 300);
    gwh_resp_free(&r);
    free(stream);
    assert_int_equal(gwh_http_status(gw.port, "/healthz"), 200);
}

/* ---- framing ----------------------------------------------------------------------------- */

static void chunked_and_continue(void **state)
{
    (void)state;
    char req[8192], auth[4096];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", beneficiary);
    /* Three chunks (one with an extension) and a trailer. */
    char body[128];
    int blen = snprintf(body, sizeof(body), "{\"id\":\"%s\"}", bilan_id);
    int n = snprintf(req, sizeof(req),
                     "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                     "Connection: close\r\nContent-Type: application/json\r\n%s\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"
                     "3\r\n%.3s\r\n1a;ext=1\r\n%.26s\r\n%x\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n",
                     auth, body, body + 3, blen - 29, body + 29);
    gwh_resp r;
    assert_int_equal(gwh_raw(gw.port, req, (size_t)n, &r), 200);
    assert_string_equal(gwh_json_str(r.body, "id"), bilan_id);
    gwh_resp_free(&r);
    /* Broken chunk sizes. */
    n = snprintf(req, sizeof(req),
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\nContent-Type: application/json\r\n%s\r\n"
                 "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
                 auth);
    assert_int_equal(gwh_raw(gw.port, req, (size_t)n, &r), 400);
    gwh_resp_free(&r);
    /* Both framings at once (request smuggling). */
    n = snprintf(req, sizeof(req),
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\n%s\r\nContent-Length: 2\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                 auth);
    assert_int_equal(gwh_raw(gw.port, req, (size_t)n, &r), 400);
    gwh_resp_free(&r);
    /* Expect: 100-continue gets its interim answer before the body is read. */
    n = snprintf(req, sizeof(req),
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\nContent-Type: application/json\r\n%s\r\n"
                 "Expect: 100-continue\r\nContent-Length: %d\r\n\r\n%s",
                 auth, blen, body);
    assert_int_equal(gwh_raw(gw.port, req, (size_t)n, &r), 200);
    gwh_resp_free(&r);
    /* Two requests on one connection (keep-alive), the first one chunked. */
    n = snprintf(req, sizeof(req),
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "%x\r\n%s\r\n0\r\n\r\n"
                 "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 auth, blen, body);
    assert_int_equal(gwh_raw(gw.port, req, (size_t)n, &r), 200);
    assert_non_null(strstr(r.raw, "\r\n\r\nok\n")); /* the second answer arrived too */
    gwh_resp_free(&r);
}

/* A field given twice is never resolved by picking one of its values: its values are joined,
 * which a field that takes one value refuses. */
static void repeated_headers(void **state)
{
    (void)state;
    char auth[4096], other[4096], body[128], req[16384];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", beneficiary);
    snprintf(other, sizeof(other), "Authorization: Bearer %s", counselor);
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", bilan_id);
    gwh_resp r;
    const char *two_tokens[] = { "Content-Type: application/json", auth, other, NULL };
    assert_int_equal(gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", two_tokens,
                              body, strlen(body), &r),
                     401);
    gwh_resp_free(&r);
    const char *two_versions[] = { "Content-Type: application/json", auth,
                                   "Connect-Protocol-Version: 1", "Connect-Protocol-Version: 2",
                                   NULL };
    assert_int_equal(gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", two_versions,
                              body, strlen(body), &r),
                     400);
    gwh_resp_free(&r);
    const char *two_types[] = { "Content-Type: application/json", "Content-Type: text/plain", auth,
                                NULL };
    assert_int_equal(gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", two_types,
                              body, strlen(body), &r),
                     415);
    gwh_resp_free(&r);
    /* Two lengths: refused before the body is read (no smuggling through the second one). */
    int n = snprintf(req, sizeof(req),
                     "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\n%s\r\nContent-Length: %zu\r\n"
                     "Content-Length: 2\r\n\r\n%s",
                     auth, strlen(body), body);
    assert_int_equal(gwh_raw(gw.port, req, (size_t)n, &r), 400);
    assert_non_null(strstr(r.body, "\"code\":\"invalid_argument\""));
    assert_string_equal(gwh_header(&r, "Connection"), "close");
    gwh_resp_free(&r);
    /* Once is fine. */
    const char *once[] = { "Content-Type: application/json", auth, "Connect-Protocol-Version: 1",
                           NULL };
    assert_int_equal(gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", once, body,
                              strlen(body), &r),
                     200);
    gwh_resp_free(&r);
}

/* ---- the gateway's own endpoints ------------------------------------------------------------ */

static void probes_metrics_openapi(void **state)
{
    (void)state;
    gwh_resp r;
    assert_int_equal(gwh_http(gw.port, "GET", "/healthz", NULL, NULL, 0, &r), 200);
    gwh_resp_free(&r);
    assert_int_equal(gwh_http(gw.port, "GET", "/readyz", NULL, NULL, 0, &r), 200);
    gwh_resp_free(&r);
    assert_int_equal(gwh_http(gw_down.port, "GET", "/readyz", NULL, NULL, 0, &r), 503);
    assert_non_null(strstr(r.body, "sessions"));
    gwh_resp_free(&r);

    /* Health/Check of the whole backend, and of one service, anonymously. */
    assert_int_equal(gwh_post(gw.port, "boussole.v1.Health/Check", NULL, "{}", NULL, &r), 200);
    assert_non_null(strstr(r.body, "SERVING_STATUS_SERVING"));
    gwh_resp_free(&r);
    assert_int_equal(gwh_post(gw.port, "boussole.v1.Health/Check", NULL,
                              "{\"service\":\"boussole.v1.SessionService\"}", NULL, &r),
                     200);
    assert_non_null(strstr(r.body, "SERVING_STATUS_SERVING"));
    gwh_resp_free(&r);
    assert_int_equal(gwh_post(gw.port, "boussole.v1.Health/Check", NULL,
                              "{\"service\":\"boussole.v1.Nope\"}", NULL, &r),
                     200);
    assert_non_null(strstr(r.body, "SERVING_STATUS_SERVICE_UNKNOWN"));
    gwh_resp_free(&r);
    assert_int_equal(gwh_post(gw_down.port, "boussole.v1.Health/Check", NULL, "{}", NULL, &r), 200);
    assert_non_null(strstr(r.body, "SERVING_STATUS_NOT_SERVING"));
    gwh_resp_free(&r);

    /* Reflection: exposed methods only. */
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.Reflection/ListServices", counselor, "{}", NULL, &r), 200);
    assert_non_null(strstr(r.body, "\"name\":\"GetBilan\""));
    assert_null(strstr(r.body, "GetBilanAccess"));
    assert_null(strstr(r.body, "ListEndedBilans"));
    gwh_resp_free(&r);

    /* OpenAPI: paths, schemas from the descriptors, comments from the .proto. */
    assert_int_equal(gwh_http(gw.port, "GET", "/openapi.json", NULL, NULL, 0, &r), 200);
    assert_non_null(strstr(r.body, "\"openapi\":\"3.0.3\""));
    assert_non_null(strstr(r.body, "\"/boussole.v1.SessionService/GetBilan\""));
    assert_non_null(strstr(r.body, "\"/boussole.v1.SessionService/CreateBilan\""));
    assert_null(strstr(r.body, "GetBilanAccess"));
    assert_non_null(strstr(r.body, "\"boussole.v1.Bilan\""));
    assert_non_null(strstr(r.body, "\"plannedHours\""));
    assert_non_null(strstr(r.body, "\"format\":\"date-time\""));
    assert_non_null(strstr(r.body, "Reads a bilan."));
    gwh_resp_free(&r);

    /* Metrics: requests by method and code, latency histogram, in flight. */
    assert_int_equal(gwh_http(gw.port, "GET", "/metrics", NULL, NULL, 0, &r), 200);
    assert_non_null(strstr(r.body, "bsl_gateway_requests_total{service=\"gateway\",method=\""
                                   "boussole.v1.SessionService/GetBilan\",code=\"OK\"}"));
    assert_non_null(strstr(r.body, "method=\"boussole.v1.SessionService/GetBilan\",code=\""
                                   "NOT_FOUND\"}"));
    assert_non_null(strstr(r.body, "bsl_gateway_request_duration_seconds_bucket{service=\""
                                   "gateway\",method=\"boussole.v1.SessionService/GetBilan\""));
    assert_non_null(strstr(r.body, "bsl_gateway_requests_in_flight{service=\"gateway\"}"));
    assert_non_null(strstr(r.body, "bsl_gateway_jwt_signature_checks_total"));
    gwh_resp_free(&r);

    /* Every thread of the gateway, nng's included, runs under SCHED_BATCH (--cpu-policy). */
    int n = 0, batch = 0;
    te_thread_policies(gw.pid, SCHED_BATCH, &n, &batch);
    assert_true(n > 4);
    assert_int_equal(batch, n);
}

/* ---- clients that go away ----------------------------------------------------------------- */

static void clients_that_go_away(void **state)
{
    (void)state;
    char auth[4096], req[8192];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", beneficiary);
    /* Mid-body: ten bytes of a hundred, then the connection closes. */
    int fd = gwh_connect(gw.port);
    assert_true(fd >= 0);
    int n = snprintf(req, sizeof(req),
                     "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\n%s\r\nContent-Length: 100\r\n\r\n"
                     "{\"id\":\"abc",
                     auth);
    assert_true(gwh_write_all(fd, req, (size_t)n));
    te_sleep_ms(100);
    close(fd);
    /* Mid-chunk. */
    fd = gwh_connect(gw.port);
    n = snprintf(req, sizeof(req),
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\n%s\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "40\r\n{\"id\"",
                 auth);
    assert_true(gwh_write_all(fd, req, (size_t)n));
    te_sleep_ms(100);
    close(fd);
    /* Half a body, then the client shuts its side: let go at once, not at the idle timeout. */
    fd = gwh_connect(gw.port);
    n = snprintf(req, sizeof(req),
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\n%s\r\nContent-Length: 100\r\n\r\n"
                 "{\"id\":\"abc",
                 auth);
    assert_true(gwh_write_all(fd, req, (size_t)n));
    shutdown(fd, SHUT_WR);
    long long t0 = te_now_ms();
    char buf[512];
    assert_true(read(fd, buf, sizeof(buf)) <= 0);
    assert_true(te_now_ms() - t0 < 5000);
    close(fd);
    /* While the backend works: the service is stopped, the client leaves, the service answers
     * into the void. */
    te_signal(&sessions, SIGSTOP);
    fd = gwh_connect(gw.port);
    char body[128];
    int blen = snprintf(body, sizeof(body), "{\"id\":\"%s\"}", bilan_id);
    n = snprintf(req, sizeof(req),
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\n%s\r\nContent-Length: %d\r\n\r\n%s",
                 auth, blen, body);
    assert_true(gwh_write_all(fd, req, (size_t)n));
    te_sleep_ms(300);
    close(fd);
    te_sleep_ms(100);
    te_signal(&sessions, SIGCONT);
    te_sleep_ms(300);
    /* The gateway is fine, and counts nothing still in flight. */
    gwh_resp r;
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, get_body(), NULL, &r),
        200);
    gwh_resp_free(&r);
    assert_int_equal(gwh_http(gw.port, "GET", "/metrics", NULL, NULL, 0, &r), 200);
    assert_non_null(strstr(r.body, "bsl_gateway_requests_in_flight{service=\"gateway\"} 0\n"));
    gwh_resp_free(&r);
}

static void exits_cleanly(void **state)
{
    (void)state;
    /* Every request path above ran in these processes: a clean exit (and, in the sanitizer
     * build, no leak) says none of them left anything behind. */
    assert_int_equal(gwh_stop(&gw), 0);
    assert_int_equal(gwh_stop(&gw_fake), 0);
    assert_int_equal(gwh_stop(&gw_down), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_post),
        cmocka_unit_test(binary_post),
        cmocka_unit_test(get_requests),
        cmocka_unit_test(every_code_from_a_backend),
        cmocka_unit_test(codes_from_the_real_stack),
        cmocka_unit_test(deadline_header),
        cmocka_unit_test(malformed_json),
        cmocka_unit_test(protocol_errors),
        cmocka_unit_test(percent_escapes),
        cmocka_unit_test(repeated_headers),
        cmocka_unit_test(chunked_and_continue),
        cmocka_unit_test(probes_metrics_openapi),
        cmocka_unit_test(clients_that_go_away),
        cmocka_unit_test(exits_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
