/*
 * The runtime's own figures: (a) a no-op RPC (Health/Check: envelope, dispatch, interceptors,
 * reply) and (b) GetBilan (one Redis read), each with 1, 16 and 64 calls in flight on one
 * connection, against a real sessions process and redis-server.
 *
 * Each is measured twice: with the runtime's own client (bsl_client on a libev loop, what
 * services and the gateway use) and with a lean bare-nng load generator like the anchors'
 * nng_client (rawload.h), so that the server compares with the anchors' servers under the
 * same kind of load.
 *
 * Run through tests/bench/run.sh, which pins the servers to one core and this load to the
 * other, and runs ../shared/anchors beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"
#include "boussole/service.h"
#include "boussole/v1/rpc.pb-c.h"
#include "boussole/v1/sessions.pb-c.h"
#include "rawload.h"
#include "testenv.h"

/* A reply is a success when its envelope decodes and says OK. */
static bool reply_ok(const uint8_t *reply, size_t len)
{
    Boussole__V1__RpcResponse *r = boussole__v1__rpc_response__unpack(NULL, len, reply);
    bool ok = r != NULL && r->code == BOUSSOLE__V1__CODE__CODE_OK;
    if (r != NULL) {
        boussole__v1__rpc_response__free_unpacked(r, NULL);
    }
    return ok;
}

/* The envelope of one call, packed (malloc'd). */
static uint8_t *envelope(const char *method, const ProtobufCMessage *payload,
                         Boussole__V1__Caller *caller, size_t *len)
{
    Boussole__V1__RpcRequest rq = BOUSSOLE__V1__RPC_REQUEST__INIT;
    Boussole__V1__Metadata md = BOUSSOLE__V1__METADATA__INIT;
    rq.method = (char *)method;
    rq.request_id = "bench-raw";
    rq.deadline_ms = 10000;
    md.caller = caller;
    md.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    rq.metadata = &md;
    size_t plen = protobuf_c_message_get_packed_size(payload);
    uint8_t *p = malloc(plen ? plen : 1);
    protobuf_c_message_pack(payload, p);
    rq.payload.data = p;
    rq.payload.len = plen;
    *len = boussole__v1__rpc_request__get_packed_size(&rq);
    uint8_t *out = malloc(*len);
    boussole__v1__rpc_request__pack(&rq, out);
    free(p);
    return out;
}

int main(void)
{
    bsl_init();
    te_env env;
    te_init(&env, "bench-runtime");
    te_redis_start(&env);
    te_proc sessions;
    char level[64];
    snprintf(level, sizeof(level), "--log-level=%s",
             getenv("BENCH_LOG_LEVEL") ? getenv("BENCH_LOG_LEVEL") : "warn");
    const char *args[] = { level, NULL };
    te_service_start(&env, &sessions, "sessions", args);
    bsl_sync_client *sc = te_client(sessions.url);
    bsl_client *c = bsl_sync_client_client(sc);
    struct ev_loop *loop = bsl_sync_client_loop(sc);

    /* One bilan to read. */
    Boussole__V1__Caller counselor =
        te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-bench", "org-bench");
    Boussole__V1__CreateBilanRequest cr = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    cr.beneficiary_id = "b-bench";
    cr.organisation_id = "org-bench";
    cr.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    cr.planned_hours = 24;
    cr.start_date = "2026-12-01";
    cr.end_date = "2027-03-01";
    bsl_call_opts co = { .caller = &counselor };
    ProtobufCMessage *resp = NULL;
    char msg[256];
    if (bsl_sync_call(sc, "boussole.v1.SessionService/CreateBilan", &cr.base, &co, &resp, msg,
                      sizeof(msg)) != BSL_STATUS_OK) {
        fprintf(stderr, "CreateBilan failed: %s\n", msg);
        return 1;
    }
    char id[64];
    snprintf(id, sizeof(id), "%s", ((Boussole__V1__Bilan *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);

    double warm = bench_env_seconds("BENCH_WARM", 0.5);
    double dur = bench_env_seconds("BENCH_DUR", 3);
    const unsigned concs[] = { 1, 16, 64 };

    Boussole__V1__HealthCheckRequest hc = BOUSSOLE__V1__HEALTH_CHECK_REQUEST__INIT;
    for (size_t i = 0; i < 3; i++) {
        bench_result r =
            bench_rpc(c, loop, "boussole.v1.Health/Check", &hc.base, NULL, concs[i], warm, dur);
        bench_print("boussole-noop-rpc", concs[i], &r);
    }
    Boussole__V1__GetBilanRequest gr = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    gr.id = id;
    for (size_t i = 0; i < 3; i++) {
        bench_result r = bench_rpc(c, loop, "boussole.v1.SessionService/GetBilan", &gr.base, &co,
                                   concs[i], warm, dur);
        bench_print("boussole-GetBilan", concs[i], &r);
    }
    /* The same two calls under the anchors' kind of load. */
    size_t len;
    uint8_t *noop = envelope("boussole.v1.Health/Check", &hc.base, NULL, &len);
    for (size_t i = 0; i < 3; i++) {
        bench_result r = bench_raw(sessions.url, noop, len, concs[i], warm, dur, reply_ok);
        bench_print("boussole-noop-rpc-rawload", concs[i], &r);
    }
    free(noop);
    uint8_t *get = envelope("boussole.v1.SessionService/GetBilan", &gr.base, &counselor, &len);
    for (size_t i = 0; i < 3; i++) {
        bench_result r = bench_raw(sessions.url, get, len, concs[i], warm, dur, reply_ok);
        bench_print("boussole-GetBilan-rawload", concs[i], &r);
    }
    free(get);
    bsl_sync_client_free(sc);
    te_fini(&env);
    return 0;
}
