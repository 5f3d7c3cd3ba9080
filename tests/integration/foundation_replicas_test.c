/*
 * Replicas and the internal hop: two sessions replicas share the load; one killed with SIGKILL
 * under load loses no call (idempotent calls retried elsewhere, keyed creations applied
 * exactly once); concurrent repeats of one idempotency key get one answer; and the hop over
 * tls+tcp:// requires a certificate from the deployment's CA.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "boussole/client.h"
#include "boussole/err.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"
#include "testenv.h"

static const char *ORG = "org-replicas";

static Boussole__V1__Caller counselor(void)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-rep", ORG);
}

static void fill_create(Boussole__V1__CreateBilanRequest *req, const char *beneficiary)
{
    boussole__v1__create_bilan_request__init(req);
    req->beneficiary_id = (char *)beneficiary;
    req->organisation_id = (char *)ORG;
    req->funding = BOUSSOLE__V1__FUNDING__FUNDING_PERSONAL;
    req->planned_hours = 20;
    req->start_date = "2026-12-01";
    req->end_date = "2027-01-31";
}

/* A closed loop of calls, counting outcomes per replica. */
typedef struct load {
    bsl_client *client;
    const char *method;
    ProtobufCMessage *req;
    bool creations; /* each call a new idempotency key */
    int in_flight;
    int started, ok, failed;
    char replicas[4][128];
    int per_replica[4];
    bool stopping;
    char ids[2048][32];
    int n_ids;
    char first_failure[256];
} load;

static void issue(load *l);

static void on_load_reply(const bsl_reply *reply, void *arg)
{
    load *l = arg;
    l->in_flight--;
    if (reply->code == BSL_STATUS_OK) {
        l->ok++;
        for (int i = 0; i < 4; i++) {
            if (l->replicas[i][0] == '\0') {
                snprintf(l->replicas[i], sizeof(l->replicas[i]), "%s", reply->replica);
            }
            if (strcmp(l->replicas[i], reply->replica) == 0) {
                l->per_replica[i]++;
                break;
            }
        }
        if (l->creations && reply->msg != NULL && l->n_ids < 2048) {
            snprintf(l->ids[l->n_ids++], 32, "%s", ((const Boussole__V1__Bilan *)reply->msg)->id);
        }
    } else {
        if (l->failed++ == 0) {
            snprintf(l->first_failure, sizeof(l->first_failure), "%s: %s",
                     bsl_status_name(reply->code), reply->message);
        }
    }
    if (!l->stopping) {
        issue(l);
    }
}

static void issue(load *l)
{
    Boussole__V1__Caller c = counselor();
    char key[64];
    snprintf(key, sizeof(key), "load-%d-%d", (int)getpid(), l->started);
    bsl_call_opts o = { .caller = &c,
                        .deadline_ms = 8000,
                        .idempotency_key = l->creations ? key : NULL };
    l->started++;
    l->in_flight++;
    assert_int_equal(bsl_client_call(l->client, l->method, l->req, &o, on_load_reply, l), BSL_OK);
}

static void run_loop_for(bsl_sync_client *sc, int ms)
{
    long long until = te_now_ms() + ms;
    while (te_now_ms() < until) {
        ev_run(bsl_sync_client_loop(sc), EVRUN_NOWAIT);
        te_sleep_ms(1);
    }
}

static void drain_load(bsl_sync_client *sc, load *l)
{
    l->stopping = true;
    long long until = te_now_ms() + 15000;
    while (l->in_flight > 0 && te_now_ms() < until) {
        ev_run(bsl_sync_client_loop(sc), EVRUN_ONCE);
    }
    assert_int_equal(l->in_flight, 0);
}

static void replica_killed_under_load(void **state)
{
    (void)state;
    te_env env;
    te_proc a, b;
    te_init(&env, "replicas");
    te_redis_start(&env);
    te_service_start(&env, &a, "sessions", NULL);
    te_service_start(&env, &b, "sessions", NULL);
    char target[300];
    snprintf(target, sizeof(target), "%s,%s", a.url, b.url);
    bsl_sync_client *sc = te_client(target);

    /* A bilan to read. */
    Boussole__V1__CreateBilanRequest cr;
    fill_create(&cr, "b-read");
    Boussole__V1__Caller c = counselor();
    bsl_call_opts o = { .caller = &c };
    ProtobufCMessage *resp;
    char msg[256];
    assert_int_equal(bsl_sync_call(sc, "boussole.v1.SessionService/CreateBilan", &cr.base, &o,
                                   &resp, msg, sizeof(msg)),
                     BSL_STATUS_OK);
    char id[64];
    snprintf(id, sizeof(id), "%s", ((Boussole__V1__Bilan *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Reads: 16 in flight; replica A is killed half-way; every call succeeds. */
    Boussole__V1__GetBilanRequest gr = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    gr.id = id;
    load l;
    memset(&l, 0, sizeof(l));
    l.client = bsl_sync_client_client(sc);
    l.method = "boussole.v1.SessionService/GetBilan";
    l.req = &gr.base;
    for (int i = 0; i < 16; i++) {
        issue(&l);
    }
    run_loop_for(sc, 800);
    int before_a = l.per_replica[0], before_b = l.per_replica[1];
    te_signal(&a, SIGKILL);
    te_wait(&a, 2000);
    run_loop_for(sc, 800);
    drain_load(sc, &l);
    printf("reads: %d ok, %d failed; before the kill %d + %d\n", l.ok, l.failed, before_a,
           before_b);
    assert_int_equal(l.failed, 0);
    assert_true(before_a > 0 && before_b > 0); /* both replicas had their share */
    assert_true(l.ok > before_a + before_b);   /* and calls went on after the kill */

    /* Creations, each with its own idempotency key: B is killed (A back first). */
    te_service_restart(&env, &a);
    run_loop_for(sc, 300);
    Boussole__V1__CreateBilanRequest cr2;
    fill_create(&cr2, "b-many");
    load w;
    memset(&w, 0, sizeof(w));
    w.client = bsl_sync_client_client(sc);
    w.method = "boussole.v1.SessionService/CreateBilan";
    w.req = &cr2.base;
    w.creations = true;
    for (int i = 0; i < 8; i++) {
        issue(&w);
    }
    run_loop_for(sc, 700);
    te_signal(&b, SIGKILL);
    te_wait(&b, 2000);
    run_loop_for(sc, 2500);
    drain_load(sc, &w);
    printf("creations: %d ok, %d failed (%s)\n", w.ok, w.failed, w.first_failure);
    assert_int_equal(w.failed, 0);
    assert_int_equal(w.ok, w.started);
    /* Exactly once: as many distinct bilans as calls, each listed once. */
    char *n = te_redis_cli(&env, "ZCARD bilans:beneficiary:{b-many}");
    assert_int_equal(atoi(n), w.started);
    free(n);
    bsl_sync_client_free(sc);
    te_fini(&env);
}

/* The same keyed creation sent at once to both replicas over raw sockets. */
static void concurrent_repeats_of_one_key(void **state)
{
    (void)state;
    te_env env;
    te_proc a, b;
    te_init(&env, "repeats");
    te_redis_start(&env);
    te_service_start(&env, &a, "sessions", NULL);
    te_service_start(&env, &b, "sessions", NULL);
    Boussole__V1__CreateBilanRequest cr;
    fill_create(&cr, "b-repeat");
    uint8_t payload[256];
    size_t plen = boussole__v1__create_bilan_request__pack(&cr, payload);
    Boussole__V1__Caller c = counselor();
    Boussole__V1__Metadata md = BOUSSOLE__V1__METADATA__INIT;
    md.caller = &c;
    md.idempotency_key = "same-key-twice";
    Boussole__V1__RpcRequest r = BOUSSOLE__V1__RPC_REQUEST__INIT;
    r.method = "boussole.v1.SessionService/CreateBilan";
    r.deadline_ms = 5000;
    r.metadata = &md;
    r.payload.data = payload;
    r.payload.len = plen;
    uint8_t env_buf[512];
    size_t elen = boussole__v1__rpc_request__pack(&r, env_buf);

    const char *urls[2] = { a.url, b.url };
    nng_socket s[2];
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 2; i++) {
            assert_int_equal(nng_req0_open(&s[i]), 0);
            nng_socket_set_ms(s[i], NNG_OPT_RECVTIMEO, 5000);
            assert_int_equal(nng_dial(s[i], urls[i], NULL, 0), 0);
        }
        for (int i = 0; i < 2; i++) {
            assert_int_equal(nng_send(s[i], env_buf, elen, 0), 0);
        }
        char ids[2][64];
        for (int i = 0; i < 2; i++) {
            void *buf;
            size_t n;
            assert_int_equal(nng_recv(s[i], &buf, &n, NNG_FLAG_ALLOC), 0);
            Boussole__V1__RpcResponse *resp = boussole__v1__rpc_response__unpack(NULL, n, buf);
            nng_free(buf, n);
            assert_non_null(resp);
            assert_int_equal(resp->code, BSL_STATUS_OK);
            Boussole__V1__Bilan *bl =
                boussole__v1__bilan__unpack(NULL, resp->payload.len, resp->payload.data);
            assert_non_null(bl);
            snprintf(ids[i], sizeof(ids[i]), "%s", bl->id);
            boussole__v1__bilan__free_unpacked(bl, NULL);
            boussole__v1__rpc_response__free_unpacked(resp, NULL);
            nng_close(s[i]);
        }
        assert_string_equal(ids[0], ids[1]);
    }
    char *n = te_redis_cli(&env, "ZCARD bilans:beneficiary:{b-repeat}");
    assert_string_equal(n, "1");
    free(n);
    te_fini(&env);
}

static void mutual_tls(void **state)
{
    (void)state;
    te_env env;
    te_proc s;
    te_init(&env, "tls");
    te_tls_init(&env);
    te_redis_start(&env);
    te_service_start(&env, &s, "sessions", NULL);
    assert_non_null(strstr(s.url, "tls+tcp://"));

    bsl_tls_options good = te_tls_options(&env, false);
    bsl_sync_client *sc = te_client_tls(s.url, &good);
    Boussole__V1__CreateBilanRequest cr;
    fill_create(&cr, "b-tls");
    Boussole__V1__Caller c = counselor();
    bsl_call_opts o = { .caller = &c, .deadline_ms = 3000 };
    char msg[256];
    assert_int_equal(bsl_sync_call(sc, "boussole.v1.SessionService/CreateBilan", &cr.base, &o, NULL,
                                   msg, sizeof(msg)),
                     BSL_STATUS_OK);
    bsl_sync_client_free(sc);

    /* A certificate from another CA: the server refuses the handshake, nothing is served. */
    bsl_tls_options rogue = te_tls_options(&env, true);
    sc = te_client_tls(s.url, &rogue);
    Boussole__V1__GetBilanRequest gr = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    gr.id = "0123456789abcdefghjkmnpqrs";
    bsl_status st = bsl_sync_call(sc, "boussole.v1.SessionService/GetBilan", &gr.base, &o, NULL,
                                  msg, sizeof(msg));
    assert_int_equal(st, BSL_STATUS_UNAVAILABLE);
    bsl_sync_client_free(sc);

    /* Plain TCP to a TLS port: no connection either. */
    char plain[128];
    snprintf(plain, sizeof(plain), "tcp://127.0.0.1:%d", s.port);
    sc = te_client(plain);
    st = bsl_sync_call(sc, "boussole.v1.SessionService/GetBilan", &gr.base, &o, NULL, msg,
                       sizeof(msg));
    assert_true(st == BSL_STATUS_UNAVAILABLE || st == BSL_STATUS_DEADLINE_EXCEEDED);
    bsl_sync_client_free(sc);
    te_fini(&env);
}

int main(void)
{
    bsl_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replica_killed_under_load),
        cmocka_unit_test(concurrent_repeats_of_one_key),
        cmocka_unit_test(mutual_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
