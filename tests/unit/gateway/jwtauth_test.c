/*
 * Bearer token verification (services/gateway/jwtauth.c). HS256 tokens are built here by hand
 * with libsodium's HMAC-SHA-256, independently of libjwt, so that headers and claims can be
 * anything an attacker might send; RS256/ES256 keys come from the openssl command.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "boussole/err.h"
#include "boussole/v1/rpc.pb-c.h"
#include "jwtauth.h"

static const char SECRET[] = "0123456789abcdef0123456789abcdef-test-only";
static const int64_t NOW = 1800000000;

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0) {
        return -1;
    }
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/gw-jwt-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key "
             "2>/dev/null && openssl pkey -in rsa.key -pubout -out rsa.pub && "
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key && "
             "openssl pkey -in ec.key -pubout -out ec.pub",
             tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static uint8_t *file_key(const char *name, size_t *len)
{
    char spec[128], err[256];
    snprintf(spec, sizeof(spec), "@%s/%s", tmpdir, name);
    uint8_t *k = gw_key_load(spec, len, err, sizeof(err));
    if (k == NULL) {
        fail_msg("%s", err);
    }
    return k;
}

static void b64url(const char *in, size_t len, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, (const unsigned char *)in, len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* header.payload.HMAC-SHA-256(SECRET or key) */
static char *hs256(const char *header, const char *payload, const char *key)
{
    static char token[4096];
    char h[1024], p[2048];
    b64url(header, strlen(header), h, sizeof(h));
    b64url(payload, strlen(payload), p, sizeof(p));
    char input[3200];
    snprintf(input, sizeof(input), "%s.%s", h, p);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)input, strlen(input));
    crypto_auth_hmacsha256_final(&st, mac);
    char sig[64];
    b64url((const char *)mac, sizeof(mac), sig, sizeof(sig));
    snprintf(token, sizeof(token), "%s.%s", input, sig);
    return token;
}

static const char *claims(const char *extra)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "{\"sub\":\"c-marie\",\"role\":\"counselor\",\"org\":\"org-lumiere\","
             "\"iss\":\"boussole-test\",\"aud\":\"boussole\",\"exp\":%lld%s%s}",
             (long long)NOW + 600, extra[0] ? "," : "", extra);
    return buf;
}

static gw_jwt *verifier(const char *alg, const uint8_t *key, size_t len, size_t cache)
{
    gw_jwt_options o = {
        .alg = alg,
        .key = key,
        .key_len = len,
        .issuer = "boussole-test",
        .audience = "boussole",
        .leeway_s = 30,
        .cache_entries = cache,
    };
    gw_jwt *v = NULL;
    char err[256];
    if (gw_jwt_create(&v, &o, err, sizeof(err)) != BSL_OK) {
        fail_msg("%s", err);
    }
    return v;
}

static gw_jwt *hs_verifier(size_t cache)
{
    return verifier("HS256", (const uint8_t *)SECRET, strlen(SECRET), cache);
}

static gw_auth_result check(gw_jwt *v, const char *token, int64_t now)
{
    gw_principal p;
    return gw_jwt_verify(v, token, strlen(token), now, &p);
}

static const char *HS = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static void valid_token(void **state)
{
    (void)state;
    gw_jwt *v = hs_verifier(0);
    gw_principal p;
    const char *t = hs256(HS, claims(""), SECRET);
    assert_int_equal(gw_jwt_verify(v, t, strlen(t), NOW, &p), GW_AUTH_OK);
    assert_string_equal(p.subject, "c-marie");
    assert_int_equal(p.role, BOUSSOLE__V1__ROLE__ROLE_COUNSELOR);
    assert_string_equal(p.organisation, "org-lumiere");
    assert_int_equal(p.expires_s, NOW + 600);
    /* aud as a list; no org (beneficiaries belong to none); typ absent. */
    t = hs256("{\"alg\":\"HS256\"}",
              "{\"sub\":\"b-jeanne\",\"role\":\"beneficiary\",\"iss\":\"boussole-test\","
              "\"aud\":[\"other\",\"boussole\"],\"exp\":1800000600}",
              SECRET);
    assert_int_equal(gw_jwt_verify(v, t, strlen(t), NOW, &p), GW_AUTH_OK);
    assert_int_equal(p.role, BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY);
    assert_string_equal(p.organisation, "");
    gw_jwt_free(v);
}

static void time_claims(void **state)
{
    (void)state;
    gw_jwt *v = hs_verifier(0);
    const char *t = hs256(HS, claims(""), SECRET);
    assert_int_equal(check(v, t, NOW + 600 + 29), GW_AUTH_OK); /* within the leeway */
    assert_int_equal(check(v, t, NOW + 600 + 30), GW_AUTH_EXPIRED);
    t = hs256(HS, claims("\"nbf\":1800000100"), SECRET);
    assert_int_equal(check(v, t, NOW), GW_AUTH_NOT_YET_VALID);
    assert_int_equal(check(v, t, NOW + 70), GW_AUTH_OK);
    /* No exp at all, or a non-numeric one. */
    t = hs256(HS,
              "{\"sub\":\"c-marie\",\"role\":\"counselor\",\"iss\":\"boussole-test\","
              "\"aud\":\"boussole\"}",
              SECRET);
    assert_int_equal(check(v, t, NOW), GW_AUTH_CLAIMS);
    t = hs256(HS,
              "{\"sub\":\"c-marie\",\"role\":\"counselor\",\"iss\":\"boussole-test\","
              "\"aud\":\"boussole\",\"exp\":\"1800000600\"}",
              SECRET);
    assert_int_equal(check(v, t, NOW), GW_AUTH_CLAIMS);
    gw_jwt_free(v);
}

static void issuer_audience_subject_role(void **state)
{
    (void)state;
    gw_jwt *v = hs_verifier(0);
    char p[512];
    snprintf(p, sizeof(p),
             "{\"sub\":\"c-marie\",\"role\":\"counselor\",\"iss\":\"evil\",\"aud\":\"boussole\","
             "\"exp\":%lld}",
             (long long)NOW + 60);
    assert_int_equal(check(v, hs256(HS, p, SECRET), NOW), GW_AUTH_ISSUER);
    snprintf(p, sizeof(p),
             "{\"sub\":\"c-marie\",\"role\":\"counselor\",\"iss\":\"boussole-test\","
             "\"aud\":[\"x\"],\"exp\":%lld}",
             (long long)NOW + 60);
    assert_int_equal(check(v, hs256(HS, p, SECRET), NOW), GW_AUTH_AUDIENCE);
    snprintf(p, sizeof(p),
             "{\"sub\":\"c-marie\",\"role\":\"service\",\"iss\":\"boussole-test\","
             "\"aud\":\"boussole\",\"exp\":%lld}",
             (long long)NOW + 60);
    assert_int_equal(check(v, hs256(HS, p, SECRET), NOW), GW_AUTH_ROLE);
    snprintf(p, sizeof(p),
             "{\"sub\":\"c-marie\",\"iss\":\"boussole-test\",\"aud\":\"boussole\",\"exp\":%lld}",
             (long long)NOW + 60);
    assert_int_equal(check(v, hs256(HS, p, SECRET), NOW), GW_AUTH_ROLE);
    snprintf(p, sizeof(p),
             "{\"sub\":\"c marie\",\"role\":\"counselor\",\"iss\":\"boussole-test\","
             "\"aud\":\"boussole\",\"exp\":%lld}",
             (long long)NOW + 60);
    assert_int_equal(check(v, hs256(HS, p, SECRET), NOW), GW_AUTH_CLAIMS);
    snprintf(p, sizeof(p),
             "{\"role\":\"counselor\",\"iss\":\"boussole-test\",\"aud\":\"boussole\","
             "\"exp\":%lld}",
             (long long)NOW + 60);
    assert_int_equal(check(v, hs256(HS, p, SECRET), NOW), GW_AUTH_CLAIMS);
    assert_int_equal(check(v, hs256(HS, claims("\"org\":{\"x\":1}"), SECRET), NOW),
                     GW_AUTH_MALFORMED); /* duplicate "org" key: refused by the parser */
    gw_jwt_free(v);
}

static void forged_tokens(void **state)
{
    (void)state;
    gw_jwt *v = hs_verifier(0);
    char h[256], p[1024], forged[8192];

    /* alg none, with and without a signature. */
    b64url("{\"alg\":\"none\"}", 14, h, sizeof(h));
    b64url(claims(""), strlen(claims("")), p, sizeof(p));
    snprintf(forged, sizeof(forged), "%s.%s.", h, p);
    assert_int_equal(check(v, forged, NOW), GW_AUTH_ALG);
    snprintf(forged, sizeof(forged), "%s.%s.c2ln", h, p);
    assert_int_equal(check(v, forged, NOW), GW_AUTH_ALG);
    /* Case games with the algorithm name, which libjwt alone would accept. */
    assert_int_equal(check(v, hs256("{\"alg\":\"hs256\"}", claims(""), SECRET), NOW), GW_AUTH_ALG);
    assert_int_equal(check(v, hs256("{\"alg\":\"HS512\"}", claims(""), SECRET), NOW), GW_AUTH_ALG);
    /* Signed with another key. */
    assert_int_equal(check(v, hs256(HS, claims(""), "another-secret-of-32-bytes-or-more!!"), NOW),
                     GW_AUTH_SIGNATURE);
    /* Tampered payload: a genuine token whose claims were swapped for an admin's. */
    char genuine[4096];
    snprintf(genuine, sizeof(genuine), "%s", hs256(HS, claims(""), SECRET));
    char *dot1 = strchr(genuine, '.'), *dot2 = strchr(dot1 + 1, '.');
    const char *admin = "{\"sub\":\"c-marie\",\"role\":\"admin\",\"org\":\"org-lumiere\","
                        "\"iss\":\"boussole-test\",\"aud\":\"boussole\",\"exp\":1800000600}";
    b64url(admin, strlen(admin), p, sizeof(p));
    *dot1 = '\0';
    snprintf(forged, sizeof(forged), "%s.%s%s", genuine, p, dot2);
    assert_int_equal(check(v, forged, NOW), GW_AUTH_SIGNATURE);
    /* One flipped character in the signature. */
    snprintf(forged, sizeof(forged), "%s", hs256(HS, claims(""), SECRET));
    size_t n = strlen(forged);
    forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(check(v, forged, NOW), GW_AUTH_SIGNATURE);
    /* Critical extensions we would ignore, and foreign token types. */
    assert_int_equal(
        check(v, hs256("{\"alg\":\"HS256\",\"crit\":[\"x\"],\"x\":1}", claims(""), SECRET), NOW),
        GW_AUTH_MALFORMED);
    assert_int_equal(
        check(v, hs256("{\"alg\":\"HS256\",\"typ\":\"JWE\"}", claims(""), SECRET), NOW),
        GW_AUTH_MALFORMED);
    /* Not a JWT at all. */
    assert_int_equal(check(v, "abc", NOW), GW_AUTH_MALFORMED);
    assert_int_equal(check(v, "a.b", NOW), GW_AUTH_MALFORMED);
    assert_int_equal(check(v, "a.b.c.d", NOW), GW_AUTH_MALFORMED);
    assert_int_equal(check(v, "e30.e30.e30 ", NOW), GW_AUTH_MALFORMED);
    assert_int_equal(check(v, "W10.e30.c2ln", NOW), GW_AUTH_MALFORMED); /* header is [] */
    char *huge = malloc(10000);
    memset(huge, 'a', 9999);
    huge[9999] = '\0';
    assert_int_equal(check(v, huge, NOW), GW_AUTH_MALFORMED);
    free(huge);
    gw_jwt_free(v);
}

static void public_key_algorithms(void **state)
{
    (void)state;
    size_t rsa_pub_len, rsa_len, ec_pub_len, ec_len;
    uint8_t *rsa_pub = file_key("rsa.pub", &rsa_pub_len), *rsa = file_key("rsa.key", &rsa_len);
    uint8_t *ec_pub = file_key("ec.pub", &ec_pub_len), *ec = file_key("ec.key", &ec_len);
    gw_jwt_claims c = {
        .subject = "a-paul",
        .role = "admin",
        .organisation = "org-lumiere",
        .issuer = "boussole-test",
        .audience = "boussole",
        .issued_at = NOW,
        .expires = NOW + 300,
    };
    char err[256];
    char *rs = gw_jwt_mint("RS256", rsa, rsa_len, &c, err, sizeof(err));
    char *es = gw_jwt_mint("ES256", ec, ec_len, &c, err, sizeof(err));
    assert_non_null(rs);
    assert_non_null(es);

    gw_jwt *vr = verifier("RS256", rsa_pub, rsa_pub_len, 16);
    gw_jwt *ve = verifier("ES256", ec_pub, ec_pub_len, 16);
    gw_principal p;
    assert_int_equal(gw_jwt_verify(vr, rs, strlen(rs), NOW, &p), GW_AUTH_OK);
    assert_int_equal(p.role, BOUSSOLE__V1__ROLE__ROLE_ADMIN);
    assert_int_equal(gw_jwt_verify(ve, es, strlen(es), NOW, &p), GW_AUTH_OK);
    assert_string_equal(p.subject, "a-paul");
    /* Each verifier takes only its own algorithm. */
    assert_int_equal(check(vr, es, NOW), GW_AUTH_ALG);
    assert_int_equal(check(ve, rs, NOW), GW_AUTH_ALG);
    /* Algorithm confusion: HS256 with the RSA public key as the HMAC secret. */
    char pubtext[4096];
    memcpy(pubtext, rsa_pub, rsa_pub_len);
    pubtext[rsa_pub_len] = '\0';
    assert_int_equal(check(vr, hs256(HS, claims(""), pubtext), NOW), GW_AUTH_ALG);
    /* A token signed by another EC key. */
    gw_jwt *other = verifier("ES256", ec_pub, ec_pub_len, 0);
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec2.key",
             tmpdir);
    assert_int_equal(system(cmd), 0);
    size_t ec2_len;
    uint8_t *ec2 = file_key("ec2.key", &ec2_len);
    char *es2 = gw_jwt_mint("ES256", ec2, ec2_len, &c, err, sizeof(err));
    assert_non_null(es2);
    assert_int_equal(check(other, es2, NOW), GW_AUTH_SIGNATURE);

    /* The gateway refuses to be configured with a private key or a short secret. */
    gw_jwt_options o = { .alg = "RS256", .key = rsa, .key_len = rsa_len };
    gw_jwt *bad = NULL;
    assert_int_equal(gw_jwt_create(&bad, &o, err, sizeof(err)), BSL_EINVAL);
    o = (gw_jwt_options){ .alg = "HS256", .key = (const uint8_t *)"short", .key_len = 5 };
    assert_int_equal(gw_jwt_create(&bad, &o, err, sizeof(err)), BSL_EINVAL);
    o = (gw_jwt_options){ .alg = "none", .key = (const uint8_t *)SECRET, .key_len = 40 };
    assert_int_equal(gw_jwt_create(&bad, &o, err, sizeof(err)), BSL_EINVAL);

    free(rs);
    free(es);
    free(es2);
    free(rsa);
    free(rsa_pub);
    free(ec);
    free(ec_pub);
    free(ec2);
    gw_jwt_free(vr);
    gw_jwt_free(ve);
    gw_jwt_free(other);
}

static void cache_spares_signature_checks(void **state)
{
    (void)state;
    gw_jwt *v = hs_verifier(64);
    const char *t = hs256(HS, claims(""), SECRET);
    char token[4096];
    snprintf(token, sizeof(token), "%s", t);
    gw_jwt_stats st;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(check(v, token, NOW + i), GW_AUTH_OK);
    }
    gw_jwt_get_stats(v, &st);
    assert_int_equal(st.signature_checks, 1);
    assert_int_equal(st.cache_hits, 99);
    /* The cache respects exp: past it, the cached token is refused too. */
    assert_int_equal(check(v, token, NOW + 700), GW_AUTH_EXPIRED);
    /* Refused tokens are not cached: a bad one costs a check every time. */
    const char *bad = hs256(HS, claims(""), "another-secret-of-32-bytes-or-more!!");
    snprintf(token, sizeof(token), "%s", bad);
    assert_int_equal(check(v, token, NOW), GW_AUTH_SIGNATURE);
    assert_int_equal(check(v, token, NOW), GW_AUTH_SIGNATURE);
    gw_jwt_get_stats(v, &st);
    assert_int_equal(st.signature_checks, 3);

    /* More distinct tokens than the cache holds: answers stay right, the cache stays bounded. */
    for (int i = 0; i < 500; i++) {
        char extra[64];
        snprintf(extra, sizeof(extra), "\"jti\":\"t%d\"", i);
        assert_int_equal(check(v, hs256(HS, claims(extra), SECRET), NOW), GW_AUTH_OK);
    }
    gw_jwt_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_token),
        cmocka_unit_test(time_claims),
        cmocka_unit_test(issuer_audience_subject_role),
        cmocka_unit_test(forged_tokens),
        cmocka_unit_test(public_key_algorithms),
        cmocka_unit_test(cache_spares_signature_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
