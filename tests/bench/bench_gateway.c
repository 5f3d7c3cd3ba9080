/*
 * The gateway's own CPU costs per request, in process: JSON to protobuf for a CreateBilan
 * request, a Bilan to JSON, and a bearer token checked with and without the verification
 * cache. The whole path through processes is measured with wrk by tests/bench/gateway/run.sh.
 * Prints RESULT lines; asserts nothing about time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "boussole/arena.h"
#include "boussole/err.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"
#include "benchlib.h"
#include "json.h"
#include "jwtauth.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs fn until dur_s has passed; prints ns per call. */
static void measure(const char *label, double dur_s, void (*fn)(void *), void *arg)
{
    for (int i = 0; i < 1000; i++) {
        fn(arg); /* warm-up */
    }
    uint64_t n = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < dur_s) {
        for (int i = 0; i < 256; i++) {
            fn(arg);
        }
        n += 256;
        t = now_s();
    }
    printf("RESULT label=%s ns_per_op=%.0f n=%llu\n", label, (t - t0) * 1e9 / (double)n,
           (unsigned long long)n);
}

static const char CREATE[] = "{\"beneficiaryId\":\"b-jeanne\",\"organisationId\":\"org-lumiere\","
                             "\"funding\":\"FUNDING_CPF\",\"plannedHours\":24,\"startDate\":"
                             "\"2026-12-01\",\"endDate\":\"2027-02-28\"}";

static void decode_create(void *arg)
{
    (void)arg;
    bsl_arena *a = bsl_arena_create();
    ProtobufCMessage *m = NULL;
    gw_json_error err;
    if (gw_json_decode(&boussole__v1__create_bilan_request__descriptor, CREATE, sizeof(CREATE) - 1,
                       a, &m, &err) != BSL_OK) {
        fprintf(stderr, "decode failed: %s\n", err.why);
        exit(1);
    }
    uint8_t buf[256];
    protobuf_c_message_pack(m, buf);
    bsl_arena_free(a);
}

static void encode_bilan(void *arg)
{
    const ProtobufCMessage *m = arg;
    gw_buf b;
    gw_buf_init(&b, 0);
    gw_json_error err;
    if (!gw_json_encode(m, 0, &b, &err)) {
        exit(1);
    }
    gw_buf_free(&b);
}

typedef struct {
    gw_jwt *v;
    const char *token;
    int64_t now;
} verify_arg;

static void verify(void *arg)
{
    verify_arg *va = arg;
    gw_principal p;
    if (gw_jwt_verify(va->v, va->token, strlen(va->token), va->now, &p) != GW_AUTH_OK) {
        fprintf(stderr, "token refused\n");
        exit(1);
    }
}

int main(void)
{
    if (bsl_init() != BSL_OK) {
        return 1;
    }
    double dur = bench_env_seconds("BENCH_DUR", 2);

    measure("gateway_json_to_proto_create_bilan", dur, decode_create, NULL);

    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = 1796117400;
    ts.nanos = 123000000;
    Boussole__V1__Bilan b = BOUSSOLE__V1__BILAN__INIT;
    b.id = "tzk4phm2pyb6r0zvrfe9z2tjwq";
    b.beneficiary_id = "b-jeanne";
    b.counselor_id = "c-marie";
    b.organisation_id = "org-lumiere";
    b.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    b.planned_hours = 24;
    b.start_date = "2026-12-01";
    b.end_date = "2027-02-28";
    b.status = BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE;
    b.phase = BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY;
    b.version = 3;
    b.create_time = &ts;
    b.update_time = &ts;
    measure("gateway_bilan_to_json", dur, encode_bilan, &b.base);

    static const char secret[] = "bench-secret-0123456789abcdef0123456789";
    int64_t now = (int64_t)time(NULL);
    gw_jwt_claims c = { .subject = "c-marie",
                        .role = "counselor",
                        .organisation = "org-lumiere",
                        .issuer = "boussole-local",
                        .audience = "boussole",
                        .issued_at = now,
                        .expires = now + 3600 };
    char err[256];
    char *token =
        gw_jwt_mint("HS256", (const uint8_t *)secret, sizeof(secret) - 1, &c, err, sizeof(err));
    if (token == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    gw_jwt_options o = { .alg = "HS256",
                         .key = (const uint8_t *)secret,
                         .key_len = sizeof(secret) - 1,
                         .issuer = "boussole-local",
                         .audience = "boussole" };
    verify_arg va = { .token = token, .now = now };
    if (gw_jwt_create(&va.v, &o, err, sizeof(err)) != BSL_OK) {
        return 1;
    }
    measure("gateway_jwt_hs256_uncached", dur, verify, &va);
    gw_jwt_free(va.v);
    o.cache_entries = 4096;
    if (gw_jwt_create(&va.v, &o, err, sizeof(err)) != BSL_OK) {
        return 1;
    }
    measure("gateway_jwt_hs256_cached", dur, verify, &va);
    gw_jwt_stats st;
    gw_jwt_get_stats(va.v, &st);
    printf("RESULT label=gateway_jwt_cache signature_checks=%llu cache_hits=%llu\n",
           (unsigned long long)st.signature_checks, (unsigned long long)st.cache_hits);
    gw_jwt_free(va.v);
    free(token);
    return 0;
}
