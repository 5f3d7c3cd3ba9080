/*
 * Bearer tokens (services/gateway/jwtauth.c) as a client sends them.
 *
 * A signature is out of a fuzzer's reach, so two modes share the input:
 *   first byte even: the rest is the token, verbatim (anything a client may send);
 *   first byte odd: the rest is "<header JSON>\n<claims JSON>", which the harness encodes and
 *     signs with the verifier's HS256 secret, so that the header and claims checks (and
 *     libjwt's own parsing of them) see hostile JSON behind a valid signature.
 * The second verification of the same token goes through the cache and must agree with the
 * first. A token accepted names a valid subject and one of the four roles a token may carry.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "boussole/id.h"
#include "jwtauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static const char SECRET[] = "fuzz-secret-0123456789abcdef0123456789abcdef";
/* The harness's fixed "now": 2026-06-01T00:00:00Z; seeds use exp/nbf around it. */
static const int64_t NOW = 1780272000;

static gw_jwt *verifier, *uncached;

static gw_jwt *make(size_t cache)
{
    gw_jwt_options o = {
        .alg = "HS256",
        .key = (const uint8_t *)SECRET,
        .key_len = sizeof(SECRET) - 1,
        .issuer = "boussole-local",
        .audience = "boussole",
        .leeway_s = 30,
        .cache_entries = cache,
    };
    gw_jwt *v = NULL;
    char err[256];
    if (gw_jwt_create(&v, &o, err, sizeof(err)) != 0) {
        abort();
    }
    return v;
}

static size_t b64url(char *out, size_t cap, const uint8_t *in, size_t n)
{
    if (sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING) > cap) {
        return 0;
    }
    sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return strlen(out);
}

/* header "\n" claims -> header64.claims64.sig64, signed with the secret. */
static char *sign(const uint8_t *data, size_t len, size_t *out_len)
{
    const uint8_t *nl = memchr(data, '\n', len);
    if (nl == NULL) {
        return NULL;
    }
    size_t hl = (size_t)(nl - data), cl = len - hl - 1;
    size_t cap = 2 * len + 128;
    char *t = malloc(cap);
    if (t == NULL) {
        return NULL;
    }
    size_t n = b64url(t, cap, data, hl);
    t[n++] = '.';
    n += b64url(t + n, cap - n, nl + 1, cl);
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET, sizeof(SECRET) - 1);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, n);
    crypto_auth_hmacsha256_final(&st, mac);
    t[n++] = '.';
    n += b64url(t + n, cap - n, mac, sizeof(mac));
    *out_len = n;
    return t;
}

static bool principal_ok(const gw_principal *p)
{
    return bsl_subject_valid(p->subject) && gw_role_name(p->role) != NULL &&
           (p->organisation[0] == '\0' || bsl_subject_valid(p->organisation));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (verifier == NULL) {
        if (sodium_init() < 0) {
            abort();
        }
        verifier = make(64);
        uncached = make(0);
    }
    if (len < 1) {
        return 0;
    }
    char *signed_token = NULL;
    const char *token = (const char *)data + 1;
    size_t tlen = len - 1;
    if (data[0] & 1) {
        signed_token = sign(data + 1, len - 1, &tlen);
        if (signed_token == NULL) {
            return 0;
        }
        token = signed_token;
    }
    gw_principal p1, p2, p3;
    memset(&p1, 0, sizeof(p1));
    memset(&p2, 0, sizeof(p2));
    memset(&p3, 0, sizeof(p3));
    gw_auth_result r1 = gw_jwt_verify(verifier, token, tlen, NOW, &p1);
    gw_auth_result r2 = gw_jwt_verify(verifier, token, tlen, NOW, &p2); /* from the cache */
    gw_auth_result r3 = gw_jwt_verify(uncached, token, tlen, NOW, &p3);
    if (r1 != r2 || r1 != r3) {
        __builtin_trap(); /* the cache (or the order of checks) changed the verdict */
    }
    if (r1 == GW_AUTH_OK) {
        if (!principal_ok(&p1) || memcmp(&p1, &p2, sizeof(p1)) != 0 ||
            memcmp(&p1, &p3, sizeof(p1)) != 0) {
            __builtin_trap();
        }
        /* Later, past its end, the same token is refused (from the cache too). */
        if (gw_jwt_verify(verifier, token, tlen, p1.expires_s + 31, &p2) != GW_AUTH_EXPIRED) {
            __builtin_trap();
        }
    }
    if (gw_auth_result_name(r1) == NULL) {
        __builtin_trap();
    }
    free(signed_token);
    return 0;
}
