/*
 * The RPC runtime end to end: a real redis-server and the real sessions process, called through
 * the client runtime and through raw nng sockets.
 */
#define _GNU_SOURCE /* SCHED_BATCH */
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "boussole/client.h"
#include "boussole/err.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"
#include "testenv.h"

static te_env env;
static te_proc sessions;

static const char *ORG = "org-lumiere";

static Boussole__V1__Caller counselor(void)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-marie", ORG);
}

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "foundation");
    env.redis_aof = true;
    te_redis_start(&env);
    const char *args[] = { "--grace-ms=5000", "--max-message-bytes=65536", NULL };
    te_service_start(&env, &sessions, "sessions", args);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    te_fini(&env);
    return 0;
}

/* Creates a bilan as the counselor; returns its id (static buffer). */
static const char *create_bilan(bsl_sync_client *sc, const char *beneficiary, const char *key)
{
    static char id[64];
    Boussole__V1__CreateBilanRequest req = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    req.beneficiary_id = (char *)beneficiary;
    req.organisation_id = (char *)ORG;
    req.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    req.planned_hours = 24;
    req.start_date = "2026-12-01";
    req.end_date = "2027-02-28";
    Boussole__V1__Caller c = counselor();
    bsl_call_opts o = { .caller = &c, .idempotency_key = key };
    ProtobufCMessage *resp = NULL;
    char msg[256];
    bsl_status st = bsl_sync_call(sc, "boussole.v1.SessionService/CreateBilan", &req.base, &o,
                                  &resp, msg, sizeof(msg));
    assert_int_equal(st, BSL_STATUS_OK);
    Boussole__V1__Bilan *b = (Boussole__V1__Bilan *)resp;
    assert_string_equal(b->beneficiary_id, beneficiary);
    assert_string_equal(b->counselor_id, "c-marie");
    assert_int_equal(b->phase, BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY);
    snprintf(id, sizeof(id), "%s", b->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    return id;
}

static bsl_status get_bilan(bsl_sync_client *sc, const char *id, Boussole__V1__Caller *c,
                            uint32_t deadline_ms, char *msg, size_t msglen)
{
    Boussole__V1__GetBilanRequest req = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    req.id = (char *)id;
    bsl_call_opts o = { .caller = c, .deadline_ms = deadline_ms };
    ProtobufCMessage *resp = NULL;
    bsl_status st =
        bsl_sync_call(sc, "boussole.v1.SessionService/GetBilan", &req.base, &o, &resp, msg, msglen);
    if (resp != NULL) {
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return st;
}

static void normal_call_and_access(void **state)
{
    (void)state;
    bsl_sync_client *sc = te_client(sessions.url);
    const char *id0 = create_bilan(sc, "b-lea", "key-normal-1");
    char id[64];
    snprintf(id, sizeof(id), "%s", id0);
    char msg[256];
    Boussole__V1__Caller c = counselor();
    assert_int_equal(get_bilan(sc, id, &c, 0, msg, sizeof(msg)), BSL_STATUS_OK);
    Boussole__V1__Caller b = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-lea", "");
    assert_int_equal(get_bilan(sc, id, &b, 0, msg, sizeof(msg)), BSL_STATUS_OK);
    Boussole__V1__Caller admin = te_caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-1", ORG);
    assert_int_equal(get_bilan(sc, id, &admin, 0, msg, sizeof(msg)), BSL_STATUS_OK);
    /* Others get NOT_FOUND, exactly as for a bilan that does not exist. */
    Boussole__V1__Caller other = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-other", "");
    assert_int_equal(get_bilan(sc, id, &other, 0, msg, sizeof(msg)), BSL_STATUS_NOT_FOUND);
    Boussole__V1__Caller admin2 = te_caller(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-2", "org-other");
    assert_int_equal(get_bilan(sc, id, &admin2, 0, msg, sizeof(msg)), BSL_STATUS_NOT_FOUND);
    assert_int_equal(get_bilan(sc, "0123456789abcdefghjkmnpqrs", &c, 0, msg, sizeof(msg)),
                     BSL_STATUS_NOT_FOUND);
    /* No caller at all: UNAUTHENTICATED. */
    assert_int_equal(get_bilan(sc, id, NULL, 0, msg, sizeof(msg)), BSL_STATUS_UNAUTHENTICATED);
    /* The bilan is in Redis under its hash tag. */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "HGET bilan:{%s} beneficiary", id);
    char *v = te_redis_cli(&env, cmd);
    assert_string_equal(v, "b-lea");
    free(v);
    bsl_sync_client_free(sc);
}

static void idempotent_create(void **state)
{
    (void)state;
    bsl_sync_client *sc = te_client(sessions.url);
    char a[64], b[64], c[64];
    snprintf(a, sizeof(a), "%s", create_bilan(sc, "b-idem", "key-idem-A"));
    snprintf(b, sizeof(b), "%s", create_bilan(sc, "b-idem", "key-idem-A"));
    snprintf(c, sizeof(c), "%s", create_bilan(sc, "b-idem", "key-idem-B"));
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    /* Listed once in the beneficiary's index despite the repeat. */
    char *n = te_redis_cli(&env, "ZCARD bilans:beneficiary:{b-idem}");
    assert_string_equal(n, "2");
    free(n);
    bsl_sync_client_free(sc);
}

static void field_rules(void **state)
{
    (void)state;
    bsl_sync_client *sc = te_client(sessions.url);
    Boussole__V1__CreateBilanRequest req = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    req.beneficiary_id = "b with space";
    req.organisation_id = (char *)ORG;
    req.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    req.planned_hours = 30;
    req.start_date = "2026-12-01";
    req.end_date = "2026-11-01";
    Boussole__V1__Caller c = counselor();
    bsl_call_opts o = { .caller = &c };
    char msg[256];
    bsl_status st = bsl_sync_call(sc, "boussole.v1.SessionService/CreateBilan", &req.base, &o, NULL,
                                  msg, sizeof(msg));
    assert_int_equal(st, BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "beneficiary_id"));
    const Boussole__V1__RpcResponse *env_resp = bsl_sync_last_envelope(sc);
    assert_non_null(env_resp);
    /* Every bad field is listed as a FieldViolation. */
    bool hours = false, end = false, ben = false;
    for (size_t i = 0; i < env_resp->n_details; i++) {
        const Boussole__V1__FieldViolation *fv = env_resp->details[i]->field_violation;
        assert_non_null(fv);
        hours |= strcmp(fv->field, "planned_hours") == 0;
        end |= strcmp(fv->field, "end_date") == 0;
        ben |= strcmp(fv->field, "beneficiary_id") == 0;
    }
    assert_true(hours && end && ben);
    /* A malformed id. */
    assert_int_equal(get_bilan(sc, "bilan:{*}", &c, 0, msg, sizeof(msg)),
                     BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(msg, "id"));
    bsl_sync_client_free(sc);
}

/* Packs an envelope by hand, for what the client runtime would never send. */
static uint8_t *envelope(const char *method, const Boussole__V1__Caller *caller, int deadline,
                         const char *idem, const uint8_t *payload, size_t plen, size_t *len)
{
    Boussole__V1__RpcRequest r = BOUSSOLE__V1__RPC_REQUEST__INIT;
    Boussole__V1__Metadata md = BOUSSOLE__V1__METADATA__INIT;
    r.method = (char *)method;
    r.request_id = "raw-1";
    r.deadline_ms = deadline;
    md.caller = (Boussole__V1__Caller *)caller;
    md.idempotency_key = (char *)(idem ? idem : "");
    r.metadata = &md;
    r.payload.data = (uint8_t *)payload;
    r.payload.len = plen;
    *len = boussole__v1__rpc_request__get_packed_size(&r);
    uint8_t *buf = malloc(*len);
    boussole__v1__rpc_request__pack(&r, buf);
    return buf;
}

static void raw_bad_requests(void **state)
{
    (void)state;
    Boussole__V1__Caller c = counselor();
    size_t len;
    /* Unknown method. */
    uint8_t *buf = envelope("boussole.v1.SessionService/Nope", &c, 1000, NULL, NULL, 0, &len);
    Boussole__V1__RpcResponse *r = te_raw_call(sessions.url, buf, len, 3000);
    free(buf);
    assert_non_null(r);
    assert_int_equal(r->code, BSL_STATUS_UNIMPLEMENTED);
    assert_string_equal(r->request_id, "raw-1");
    boussole__v1__rpc_response__free_unpacked(r, NULL);
    /* A method of another service. */
    buf = envelope("boussole.v1.SynthesisService/GetSynthesis", &c, 1000, NULL, NULL, 0, &len);
    r = te_raw_call(sessions.url, buf, len, 3000);
    free(buf);
    assert_non_null(r);
    assert_int_equal(r->code, BSL_STATUS_UNIMPLEMENTED);
    boussole__v1__rpc_response__free_unpacked(r, NULL);
    /* Garbage bytes. */
    const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34, 0x56, 0x78, 0x9a };
    r = te_raw_call(sessions.url, garbage, sizeof(garbage), 3000);
    assert_non_null(r);
    assert_int_equal(r->code, BSL_STATUS_INVALID_ARGUMENT);
    boussole__v1__rpc_response__free_unpacked(r, NULL);
    /* A payload with invalid UTF-8 in a string field: the message names the field. */
    const uint8_t bad_utf8[] = { 0x0a, 0x03, 'a', 0xc3, 0x28 }; /* GetBilanRequest.id */
    buf = envelope("boussole.v1.SessionService/GetBilan", &c, 1000, NULL, bad_utf8,
                   sizeof(bad_utf8), &len);
    r = te_raw_call(sessions.url, buf, len, 3000);
    free(buf);
    assert_non_null(r);
    assert_int_equal(r->code, BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(r->message, "id"));
    assert_non_null(strstr(r->message, "UTF-8"));
    boussole__v1__rpc_response__free_unpacked(r, NULL);
    /* Oversized: the service was started with a 64 KiB limit. */
    size_t big = 100 * 1024;
    uint8_t *payload = calloc(1, big);
    payload[0] = 0x0a; /* field 1, length-delimited, then a 3-byte varint length */
    payload[1] = 0x80 | ((big - 5) & 0x7f);
    payload[2] = 0x80 | (((big - 5) >> 7) & 0x7f);
    payload[3] = ((big - 5) >> 14) & 0x7f;
    buf = envelope("boussole.v1.SessionService/GetBilan", &c, 1000, NULL, payload, big - 1, &len);
    free(payload);
    r = te_raw_call(sessions.url, buf, len, 3000);
    free(buf);
    assert_non_null(r);
    assert_int_equal(r->code, BSL_STATUS_RESOURCE_EXHAUSTED);
    boussole__v1__rpc_response__free_unpacked(r, NULL);
    /* Already expired. */
    buf = envelope("boussole.v1.SessionService/GetBilan", &c, -1, NULL, NULL, 0, &len);
    r = te_raw_call(sessions.url, buf, len, 3000);
    free(buf);
    assert_non_null(r);
    assert_int_equal(r->code, BSL_STATUS_DEADLINE_EXCEEDED);
    boussole__v1__rpc_response__free_unpacked(r, NULL);
    /* A method that is not idempotent, without its idempotency key. */
    buf = envelope("boussole.v1.SessionService/CreateBilan", &c, 1000, NULL, NULL, 0, &len);
    r = te_raw_call(sessions.url, buf, len, 3000);
    free(buf);
    assert_non_null(r);
    assert_int_equal(r->code, BSL_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(r->message, "idempotency_key"));
    boussole__v1__rpc_response__free_unpacked(r, NULL);
    /* The service is still serving. */
    assert_int_equal(te_http_get(sessions.admin_port, "/readyz", NULL, 0), 200);
}

static void deadline_while_redis_stalls(void **state)
{
    (void)state;
    bsl_sync_client *sc = te_client(sessions.url);
    const char *id0 = create_bilan(sc, "b-stall", "key-stall");
    char id[64];
    snprintf(id, sizeof(id), "%s", id0);
    Boussole__V1__Caller c = counselor();
    char msg[256];
    te_redis_signal(&env, SIGSTOP);
    long long t0 = te_now_ms();
    bsl_status st = get_bilan(sc, id, &c, 300, msg, sizeof(msg));
    long long took = te_now_ms() - t0;
    te_redis_signal(&env, SIGCONT);
    assert_int_equal(st, BSL_STATUS_DEADLINE_EXCEEDED);
    assert_true(took >= 250 && took < 1500);
    /* Once Redis answers again, so does the service. */
    assert_int_equal(get_bilan(sc, id, &c, 2000, msg, sizeof(msg)), BSL_STATUS_OK);
    bsl_sync_client_free(sc);
}

static void redis_killed_then_restarted(void **state)
{
    (void)state;
    bsl_sync_client *sc = te_client(sessions.url);
    const char *id0 = create_bilan(sc, "b-kill", "key-kill");
    char id[64];
    snprintf(id, sizeof(id), "%s", id0);
    Boussole__V1__Caller c = counselor();
    char msg[256];
    te_redis_signal(&env, SIGKILL);
    /* Fails fast with UNAVAILABLE, well before the deadline. */
    bsl_status st = BSL_STATUS_OK;
    for (int i = 0; i < 50 && st == BSL_STATUS_OK; i++) {
        long long t0 = te_now_ms();
        st = get_bilan(sc, id, &c, 5000, msg, sizeof(msg));
        if (st != BSL_STATUS_OK) {
            assert_int_equal(st, BSL_STATUS_UNAVAILABLE);
            assert_true(te_now_ms() - t0 < 1000);
        }
        te_sleep_ms(20);
    }
    assert_int_equal(st, BSL_STATUS_UNAVAILABLE);
    assert_int_equal(te_http_get(sessions.admin_port, "/readyz", NULL, 0), 503);
    te_redis_restart(&env);
    /* The service reconnects by itself; the bilan survived (AOF, fsync always). */
    long long until = te_now_ms() + 10000;
    while ((st = get_bilan(sc, id, &c, 1000, msg, sizeof(msg))) != BSL_STATUS_OK &&
           te_now_ms() < until) {
        te_sleep_ms(50);
    }
    assert_int_equal(st, BSL_STATUS_OK);
    assert_int_equal(te_http_get(sessions.admin_port, "/readyz", NULL, 0), 200);
    bsl_sync_client_free(sc);
}

static void health_reflection_admin(void **state)
{
    (void)state;
    bsl_sync_client *sc = te_client(sessions.url);
    Boussole__V1__HealthCheckRequest hreq = BOUSSOLE__V1__HEALTH_CHECK_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    char msg[256];
    assert_int_equal(
        bsl_sync_call(sc, "boussole.v1.Health/Check", &hreq.base, NULL, &resp, msg, sizeof(msg)),
        BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__HealthCheckResponse *)resp)->status,
                     BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_SERVING);
    protobuf_c_message_free_unpacked(resp, NULL);
    hreq.service = "boussole.v1.SynthesisService";
    assert_int_equal(
        bsl_sync_call(sc, "boussole.v1.Health/Check", &hreq.base, NULL, &resp, msg, sizeof(msg)),
        BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__HealthCheckResponse *)resp)->status,
                     BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_SERVICE_UNKNOWN);
    protobuf_c_message_free_unpacked(resp, NULL);

    Boussole__V1__Caller c = counselor();
    bsl_call_opts o = { .caller = &c };
    Boussole__V1__ListServicesRequest lreq = BOUSSOLE__V1__LIST_SERVICES_REQUEST__INIT;
    assert_int_equal(bsl_sync_call(sc, "boussole.v1.Reflection/ListServices", &lreq.base, &o, &resp,
                                   msg, sizeof(msg)),
                     BSL_STATUS_OK);
    Boussole__V1__ListServicesResponse *ls = (Boussole__V1__ListServicesResponse *)resp;
    bool found = false;
    for (size_t i = 0; i < ls->n_services; i++) {
        if (strcmp(ls->services[i]->name, "boussole.v1.SessionService") == 0) {
            found = true;
            assert_true(ls->services[i]->n_methods >= 2);
        }
    }
    assert_true(found);
    protobuf_c_message_free_unpacked(resp, NULL);

    char body[65536];
    assert_int_equal(te_http_get(sessions.admin_port, "/healthz", body, sizeof(body)), 200);
    assert_int_equal(te_http_get(sessions.admin_port, "/metrics", body, sizeof(body)), 200);
    assert_non_null(strstr(body, "bsl_rpc_requests_total{service=\"sessions\",method=\"boussole."
                                 "v1.SessionService/GetBilan\",code=\"OK\"}"));
    assert_non_null(strstr(body, "bsl_rpc_request_duration_seconds_bucket"));
    assert_non_null(strstr(body, "bsl_redis_connects_total"));
    bsl_sync_client_free(sc);
}

/* Several calls wait on a stalled Redis when SIGTERM arrives: every one is answered OK once
 * Redis resumes, and the process exits 0. */
typedef struct {
    int answered;
    int ok;
} term_state;

static void on_term_reply(const bsl_reply *reply, void *arg)
{
    term_state *ts = arg;
    ts->answered++;
    ts->ok += reply->code == BSL_STATUS_OK;
    if (reply->code != BSL_STATUS_OK) {
        fprintf(stderr, "call ended %d: %s\n", reply->code, reply->message);
    }
}

static void sigterm_with_calls_in_flight(void **state)
{
    (void)state;
    bsl_sync_client *sc = te_client(sessions.url);
    const char *id0 = create_bilan(sc, "b-term", "key-term");
    char id[64];
    snprintf(id, sizeof(id), "%s", id0);
    Boussole__V1__Caller c = counselor();
    Boussole__V1__GetBilanRequest req = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    req.id = id;
    bsl_call_opts o = { .caller = &c, .deadline_ms = 8000 };
    term_state ts = { 0, 0 };
    te_redis_signal(&env, SIGSTOP);
    const int n = 20;
    for (int i = 0; i < n; i++) {
        assert_int_equal(bsl_client_call(bsl_sync_client_client(sc),
                                         "boussole.v1.SessionService/GetBilan", &req.base, &o,
                                         on_term_reply, &ts),
                         BSL_OK);
    }
    /* Let the requests reach the service, then ask it to stop. */
    long long until = te_now_ms() + 300;
    while (te_now_ms() < until) {
        ev_run(bsl_sync_client_loop(sc), EVRUN_NOWAIT);
        te_sleep_ms(2);
    }
    if (!getenv("NOTERM"))
        te_signal(&sessions, SIGTERM);
    te_sleep_ms(200);
    te_redis_signal(&env, SIGCONT);
    until = te_now_ms() + 8000;
    while (ts.answered < n && te_now_ms() < until) {
        ev_run(bsl_sync_client_loop(sc), EVRUN_ONCE);
    }
    assert_int_equal(ts.answered, n);
    assert_int_equal(ts.ok, n);
    assert_int_equal(te_wait(&sessions, 6000), 0);
    bsl_sync_client_free(sc);
    te_service_restart(&env, &sessions);
}

/* The services run their threads (the loop's and nng's) under SCHED_BATCH unless told
 * otherwise; an unknown policy is refused at start-up. */
static void cpu_policy(void **state)
{
    (void)state;
    int n = 0, batch = 0;
    te_thread_policies(sessions.pid, SCHED_BATCH, &n, &batch);
    assert_true(n > 4); /* the loop and nng's threads */
    assert_int_equal(batch, n);

    static te_proc normal; /* te_fini visits every process started: not on the stack */
    const char *args[] = { "--cpu-policy=normal", NULL };
    te_service_start(&env, &normal, "sessions", args);
    te_thread_policies(normal.pid, SCHED_BATCH, &n, &batch);
    assert_true(n > 4);
    assert_int_equal(batch, 0);
    te_signal(&normal, SIGTERM);
    assert_int_equal(te_wait(&normal, 6000), 0);

    char cmd[1400];
    snprintf(cmd, sizeof(cmd),
             "%s/services/sessions/boussole-sessions --cpu-policy=fifo "
             ">/dev/null 2>&1",
             env.build);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normal_call_and_access),
        cmocka_unit_test(idempotent_create),
        cmocka_unit_test(field_rules),
        cmocka_unit_test(raw_bad_requests),
        cmocka_unit_test(health_reflection_admin),
        cmocka_unit_test(cpu_policy),
        cmocka_unit_test(deadline_while_redis_stalls),
        cmocka_unit_test(redis_killed_then_restarted),
        cmocka_unit_test(sigterm_with_calls_in_flight),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
