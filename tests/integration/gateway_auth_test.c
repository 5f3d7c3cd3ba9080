/*
 * Authentication at the gateway, end to end: every way a bearer token can be wrong gets the
 * same 401, a valid one reaches the service as the envelope's caller (subject, role,
 * organisation), anonymous methods need none, verification is cached per token and the cache
 * respects exp, and RS256/ES256 gateways take only their own algorithm.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "boussole/service.h"
#include "gateway_harness.h"

static te_env env;
static te_proc sessions, gw, gw_rs, gw_es;
static char keys[600];
static char bilan_id[64];

static const char *CREATE = "{\"beneficiaryId\":\"b-jeanne\",\"organisationId\":\"org-lumiere\","
                            "\"funding\":\"FUNDING_CPF\",\"plannedHours\":12,\"startDate\":"
                            "\"2026-12-01\",\"endDate\":\"2027-02-28\"}";

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "gateway_auth");
    te_redis_start(&env);
    te_service_start(&env, &sessions, "sessions", NULL);
    const char *args[] = { "--rate-limit=0", "--jwt-issuer=boussole-test", NULL };
    gwh_gateway_start(&env, &gw, "gateway", sessions.url, args);

    /* RS256 and ES256 gateways with keys from openssl. */
    snprintf(keys, sizeof(keys), "%s/keys", env.dir);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s && cd %s && "
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null"
             " && openssl pkey -in rsa.key -pubout -out rsa.pub && "
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key && "
             "openssl pkey -in ec.key -pubout -out ec.pub",
             keys, keys);
    if (system(cmd) != 0) {
        return -1;
    }
    char pub[700];
    snprintf(pub, sizeof(pub), "--jwt-public-key=@%s/rsa.pub", keys);
    const char *rs[] = { "--rate-limit=0", "--jwt-alg=RS256", pub, NULL };
    gwh_gateway_start(&env, &gw_rs, "gateway-rs256", sessions.url, rs);
    char pub2[700];
    snprintf(pub2, sizeof(pub2), "--jwt-public-key=@%s/ec.pub", keys);
    const char *es[] = { "--rate-limit=0", "--jwt-alg=ES256", pub2, NULL };
    gwh_gateway_start(&env, &gw_es, "gateway-es256", sessions.url, es);

    char *t = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "--jwt-issuer=boussole-test");
    gwh_resp r;
    int st = gwh_post(gw.port, "boussole.v1.SessionService/CreateBilan", t, CREATE, NULL, &r);
    snprintf(bilan_id, sizeof(bilan_id), "%s", gwh_json_str(r.body, "id"));
    gwh_resp_free(&r);
    free(t);
    return st == 200 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    te_fini(&env);
    return 0;
}

static const char *get_body(void)
{
    static char body[128];
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", bilan_id);
    return body;
}

/* The one answer every bad token gets. */
static void expect_refused(int port, const char *token, const char *what)
{
    gwh_resp r;
    int st = gwh_post(port, "boussole.v1.SessionService/GetBilan", token, get_body(), NULL, &r);
    if (st != 401) {
        fail_msg("%s: HTTP %d %s", what, st, r.body);
    }
    assert_string_equal(r.body, "{\"code\":\"unauthenticated\",\"message\":\"invalid or expired "
                                "credentials\"}");
    assert_string_equal(gwh_header(&r, "WWW-Authenticate"), "Bearer error=\"invalid_token\"");
    gwh_resp_free(&r);
}

static char *mint(const char *sub, const char *role, const char *org, const char *more)
{
    char flags[1024];
    snprintf(flags, sizeof(flags), "--jwt-issuer=boussole-test %s", more);
    return gwh_token(&env, sub, role, org, flags);
}

static void b64url(const char *s, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, (const unsigned char *)s, strlen(s),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void valid_token_reaches_the_service(void **state)
{
    (void)state;
    /* The counselor who created the bilan, its beneficiary: both read it. */
    char *c = mint("c-marie", "counselor", "org-lumiere", "");
    char *b = mint("b-jeanne", "beneficiary", "", "");
    char *other = mint("b-paul", "beneficiary", "", "");
    gwh_resp r;
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", c, get_body(), NULL, &r), 200);
    assert_string_equal(gwh_json_str(r.body, "counselorId"), "c-marie");
    gwh_resp_free(&r);
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", b, get_body(), NULL, &r), 200);
    gwh_resp_free(&r);
    /* Another beneficiary: the service, seeing who calls, says NOT_FOUND. */
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", other, get_body(), NULL, &r), 404);
    gwh_resp_free(&r);
    /* The organisation claim reaches the service: a counselor of another organisation may not
     * create a bilan for org-lumiere; the subject becomes the counselor. */
    char *stranger = mint("c-ines", "counselor", "org-autre", "");
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/CreateBilan", stranger, CREATE, NULL, &r),
        403);
    gwh_resp_free(&r);
    free(c);
    free(b);
    free(other);
    free(stranger);
}

static void bad_tokens_get_one_answer(void **state)
{
    (void)state;
    char *t;
    t = mint("c-marie", "counselor", "org-lumiere", "--ttl-s=-120");
    expect_refused(gw.port, t, "expired");
    free(t);
    t = mint("c-marie", "counselor", "org-lumiere", "--nbf-in-s=3600");
    expect_refused(gw.port, t, "not yet valid");
    free(t);
    t = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "--jwt-issuer=someone-else");
    expect_refused(gw.port, t, "wrong issuer");
    free(t);
    t = mint("c-marie", "counselor", "org-lumiere", "--jwt-audience=another-api");
    expect_refused(gw.port, t, "wrong audience");
    free(t);
    t = mint("c-marie", "counselor", "org-lumiere",
             "--jwt-secret=a-different-secret-that-is-long-enough-0123456789");
    expect_refused(gw.port, t, "wrong key");
    free(t);
    t = mint("svc", "service", "", "");
    expect_refused(gw.port, t, "role service");
    free(t);
    t = mint("c-marie", "superuser", "", "");
    expect_refused(gw.port, t, "unknown role");
    free(t);

    /* alg none: the payload of a valid token, no signature. */
    char *valid = mint("c-marie", "counselor", "org-lumiere", "");
    const char *dot1 = strchr(valid, '.'), *dot2 = strchr(dot1 + 1, '.');
    char none[8192], hdr[128];
    b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}", hdr, sizeof(hdr));
    snprintf(none, sizeof(none), "%s.%.*s.", hdr, (int)(dot2 - dot1 - 1), dot1 + 1);
    expect_refused(gw.port, none, "alg none");
    snprintf(none, sizeof(none), "%s.%.*s.%s", hdr, (int)(dot2 - dot1 - 1), dot1 + 1, dot2 + 1);
    expect_refused(gw.port, none, "alg none with a signature");

    /* Tampered payload: the header and signature of a valid token around an admin's claims. */
    char claims[512], pay[1024], forged[8192];
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"c-marie\",\"role\":\"admin\",\"org\":\"org-lumiere\",\"iss\":"
             "\"boussole-test\",\"aud\":\"boussole\",\"exp\":%lld}",
             (long long)time(NULL) + 600);
    b64url(claims, pay, sizeof(pay));
    snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(dot1 - valid), valid, pay, dot2);
    expect_refused(gw.port, forged, "tampered payload");
    /* A flipped character in the signature. */
    snprintf(forged, sizeof(forged), "%s", valid);
    size_t n = strlen(forged);
    forged[n - 3] = forged[n - 3] == 'A' ? 'B' : 'A';
    expect_refused(gw.port, forged, "tampered signature");
    expect_refused(gw.port, "not-a-jwt", "garbage");
    free(valid);

    /* No credentials at all, or not a bearer one: a challenge, not "invalid". */
    gwh_resp r;
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", NULL, get_body(), NULL, &r), 401);
    assert_string_equal(gwh_header(&r, "WWW-Authenticate"), "Bearer");
    gwh_resp_free(&r);
    const char *basic[] = { "Content-Type: application/json", "Authorization: Basic YTpi", NULL };
    assert_int_equal(gwh_http(gw.port, "POST", "/boussole.v1.SessionService/GetBilan", basic,
                              get_body(), strlen(get_body()), &r),
                     401);
    gwh_resp_free(&r);
    /* Nothing of the tokens in the log, only why they were refused. */
    assert_false(gwh_file_contains(gw.log, "eyJ"));
    assert_true(gwh_file_contains(gw.log, "\"reason\":\"expired\""));
    assert_true(gwh_file_contains(gw.log, "\"reason\":\"algorithm\""));
    assert_true(gwh_file_contains(gw.log, "\"reason\":\"signature\""));
}

static void anonymous_methods(void **state)
{
    (void)state;
    gwh_resp r;
    /* Health/Check is anonymous: no token needed... */
    assert_int_equal(gwh_post(gw.port, "boussole.v1.Health/Check", NULL, "{}", NULL, &r), 200);
    gwh_resp_free(&r);
    /* ...but a token that is there must be valid. */
    assert_int_equal(gwh_post(gw.port, "boussole.v1.Health/Check", "garbage", "{}", NULL, &r), 401);
    gwh_resp_free(&r);
    /* Reflection is not anonymous. */
    assert_int_equal(gwh_post(gw.port, "boussole.v1.Reflection/ListServices", NULL, "{}", NULL, &r),
                     401);
    gwh_resp_free(&r);
}

static long long metric(int port, const char *name)
{
    gwh_resp r;
    gwh_http(port, "GET", "/metrics", NULL, NULL, 0, &r);
    char pat[256];
    snprintf(pat, sizeof(pat), "\n%s{service=\"gateway\"} ", name);
    const char *p = strstr(r.body, pat);
    long long v = p ? atoll(p + strlen(pat)) : -1;
    gwh_resp_free(&r);
    return v;
}

static void verification_is_cached(void **state)
{
    (void)state;
    char *t = mint("c-marie", "counselor", "org-lumiere", "--ttl-s=60");
    long long checks0 = metric(gw.port, "bsl_gateway_jwt_signature_checks_total");
    long long hits0 = metric(gw.port, "bsl_gateway_jwt_cache_hits_total");
    gwh_resp r;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(
            gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", t, get_body(), NULL, &r), 200);
        gwh_resp_free(&r);
    }
    assert_int_equal(metric(gw.port, "bsl_gateway_jwt_signature_checks_total") - checks0, 1);
    assert_int_equal(metric(gw.port, "bsl_gateway_jwt_cache_hits_total") - hits0, 39);
    /* Two minutes later the cached token has expired: refused without a new check. */
    te_clock_set(&env, 120 * 1000);
    expect_refused(gw.port, t, "expired while cached");
    te_clock_set(&env, 0);
    assert_int_equal(metric(gw.port, "bsl_gateway_jwt_signature_checks_total") - checks0, 1);
    free(t);
}

static void public_key_gateways(void **state)
{
    (void)state;
    char rsa[700], ec[700];
    snprintf(rsa, sizeof(rsa), "--jwt-alg=RS256 --jwt-private-key=@%s/rsa.key", keys);
    snprintf(ec, sizeof(ec), "--jwt-alg=ES256 --jwt-private-key=@%s/ec.key", keys);
    char *rs = gwh_token(&env, "c-marie", "counselor", "org-lumiere", rsa);
    char *es = gwh_token(&env, "c-marie", "counselor", "org-lumiere", ec);
    char *hs = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "");
    gwh_resp r;
    assert_int_equal(
        gwh_post(gw_rs.port, "boussole.v1.SessionService/GetBilan", rs, get_body(), NULL, &r), 200);
    gwh_resp_free(&r);
    assert_int_equal(
        gwh_post(gw_es.port, "boussole.v1.SessionService/GetBilan", es, get_body(), NULL, &r), 200);
    gwh_resp_free(&r);
    expect_refused(gw_rs.port, es, "ES256 token at an RS256 gateway");
    expect_refused(gw_rs.port, hs, "HS256 token at an RS256 gateway");
    expect_refused(gw_es.port, rs, "RS256 token at an ES256 gateway");
    expect_refused(gw.port, rs, "RS256 token at an HS256 gateway");

    /* Algorithm confusion: an HS256 token whose secret is the RSA public key. */
    char pubspec[700];
    snprintf(pubspec, sizeof(pubspec), "--jwt-secret=@%s/rsa.pub", keys);
    char *confused = gwh_token(&env, "c-marie", "admin", "org-lumiere", pubspec);
    expect_refused(gw_rs.port, confused, "HS256 signed with the public key");
    free(confused);
    free(rs);
    free(es);
    free(hs);
}

static void exits_cleanly(void **state)
{
    (void)state;
    /* Every request path above ran in these processes: a clean exit (and, in the sanitizer
     * build, no leak) says none of them left anything behind. */
    assert_int_equal(gwh_stop(&gw), 0);
    assert_int_equal(gwh_stop(&gw_rs), 0);
    assert_int_equal(gwh_stop(&gw_es), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_token_reaches_the_service),
        cmocka_unit_test(bad_tokens_get_one_answer),
        cmocka_unit_test(anonymous_methods),
        cmocka_unit_test(verification_is_cached),
        cmocka_unit_test(public_key_gateways),
        cmocka_unit_test(exits_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
