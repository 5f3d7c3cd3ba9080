/*
 * The runtime's own figures: (a) a no-op RPC (Health/Check: envelope, dispatch, interceptors,
 * reply) and (b) GetBilan (one Redis read), each with 1, 16 and 64 calls in flight on one
 * connection, against a real sessions process and redis-server.
 *
 * Run through tests/bench/run.sh, which pins the servers to one core and this load to the
 * other, and runs ../shared/anchors beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchlib.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"
#include "testenv.h"

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
    bsl_sync_client_free(sc);
    te_fini(&env);
    return 0;
}
