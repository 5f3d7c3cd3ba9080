#define _GNU_SOURCE /* memmem */
#include "jwtauth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <jwt.h>
#include <sodium.h>

#include "boussole/err.h"
#include "boussole/v1/rpc.pb-c.h"

#define TOKEN_MAX     8192
#define WAYS          4
#define HS256_MIN_KEY 32

typedef struct entry {
    uint8_t hash[32];
    bool used;
    int64_t nbf_s; /* INT64_MIN when the token has none */
    gw_principal who;
} entry;

struct gw_jwt {
    jwt_alg_t alg;
    char alg_name[8];
    uint8_t *key;
    size_t key_len;
    char issuer[256];
    char audience[256];
    char role_claim[64];
    char org_claim[64];
    int64_t leeway;
    uint8_t hash_key[crypto_generichash_KEYBYTES];
    entry *cache; /* n_sets * WAYS entries */
    size_t n_sets;
    gw_jwt_stats stats;
};

const char *gw_auth_result_name(gw_auth_result r)
{
    static const char *const names[] = {
        [GW_AUTH_OK] = "ok",           [GW_AUTH_MALFORMED] = "malformed",
        [GW_AUTH_ALG] = "algorithm",   [GW_AUTH_SIGNATURE] = "signature",
        [GW_AUTH_EXPIRED] = "expired", [GW_AUTH_NOT_YET_VALID] = "not_yet_valid",
        [GW_AUTH_ISSUER] = "issuer",   [GW_AUTH_AUDIENCE] = "audience",
        [GW_AUTH_CLAIMS] = "claims",   [GW_AUTH_ROLE] = "role",
    };
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}

static const struct {
    const char *name;
    int role;
} roles[] = {
    { "beneficiary", BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY },
    { "counselor", BOUSSOLE__V1__ROLE__ROLE_COUNSELOR },
    { "admin", BOUSSOLE__V1__ROLE__ROLE_ADMIN },
    { "third_party", BOUSSOLE__V1__ROLE__ROLE_THIRD_PARTY },
};

int gw_role_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        if (strcmp(roles[i].name, name) == 0) {
            return roles[i].role;
        }
    }
    return 0;
}

const char *gw_role_name(int role)
{
    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
        if (roles[i].role == role) {
            return roles[i].name;
        }
    }
    return NULL;
}

static jwt_alg_t alg_of(const char *name)
{
    if (name != NULL && strcmp(name, "HS256") == 0) {
        return JWT_ALG_HS256;
    }
    if (name != NULL && strcmp(name, "RS256") == 0) {
        return JWT_ALG_RS256;
    }
    if (name != NULL && strcmp(name, "ES256") == 0) {
        return JWT_ALG_ES256;
    }
    return JWT_ALG_INVAL;
}

int gw_jwt_create(gw_jwt **out, const gw_jwt_options *o, char *errbuf, size_t errlen)
{
    jwt_alg_t alg = alg_of(o->alg);
    if (alg == JWT_ALG_INVAL) {
        snprintf(errbuf, errlen, "JWT algorithm must be HS256, RS256 or ES256, not '%s'",
                 o->alg ? o->alg : "");
        return BSL_EINVAL;
    }
    if (o->key == NULL || o->key_len == 0) {
        snprintf(errbuf, errlen, "%s needs a key", o->alg);
        return BSL_EINVAL;
    }
    if (alg == JWT_ALG_HS256 && o->key_len < HS256_MIN_KEY) {
        snprintf(errbuf, errlen, "the HS256 secret must be at least %d bytes", HS256_MIN_KEY);
        return BSL_EINVAL;
    }
    if (alg != JWT_ALG_HS256) {
        /* A public key, never a private one: the gateway only verifies. */
        if (memmem(o->key, o->key_len, "-----BEGIN PUBLIC KEY-----", 26) == NULL) {
            snprintf(errbuf, errlen, "%s needs a PEM public key (-----BEGIN PUBLIC KEY-----)",
                     o->alg);
            return BSL_EINVAL;
        }
    }
    gw_jwt *v = calloc(1, sizeof(*v));
    if (v == NULL || (v->key = malloc(o->key_len + 1)) == NULL) {
        free(v);
        return BSL_ENOMEM;
    }
    memcpy(v->key, o->key, o->key_len);
    v->key[o->key_len] = '\0';
    v->key_len = o->key_len;
    v->alg = alg;
    snprintf(v->alg_name, sizeof(v->alg_name), "%s", o->alg);
    snprintf(v->issuer, sizeof(v->issuer), "%s", o->issuer ? o->issuer : "");
    snprintf(v->audience, sizeof(v->audience), "%s", o->audience ? o->audience : "");
    snprintf(v->role_claim, sizeof(v->role_claim), "%s",
             o->role_claim && o->role_claim[0] ? o->role_claim : "role");
    snprintf(v->org_claim, sizeof(v->org_claim), "%s",
             o->org_claim && o->org_claim[0] ? o->org_claim : "org");
    v->leeway = o->leeway_s;
    randombytes_buf(v->hash_key, sizeof(v->hash_key));
    if (o->cache_entries > 0) {
        size_t sets = 1;
        while (sets * WAYS < o->cache_entries) {
            sets *= 2;
        }
        v->cache = calloc(sets * WAYS, sizeof(entry));
        if (v->cache == NULL) {
            gw_jwt_free(v);
            return BSL_ENOMEM;
        }
        v->n_sets = sets;
    }
    *out = v;
    return BSL_OK;
}

void gw_jwt_free(gw_jwt *v)
{
    if (v == NULL) {
        return;
    }
    sodium_memzero(v->key, v->key_len);
    free(v->key);
    if (v->cache != NULL) {
        sodium_memzero(v->cache, v->n_sets * WAYS * sizeof(entry));
        free(v->cache);
    }
    free(v);
}

void gw_jwt_get_stats(const gw_jwt *v, gw_jwt_stats *out)
{
    *out = v->stats;
}

/* ---- cache ------------------------------------------------------------------------------- */

static entry *cache_set(gw_jwt *v, const uint8_t hash[32])
{
    uint64_t h;
    memcpy(&h, hash, sizeof(h));
    return &v->cache[(h & (v->n_sets - 1)) * WAYS];
}

static entry *cache_find(gw_jwt *v, const uint8_t hash[32])
{
    entry *set = cache_set(v, hash);
    for (int i = 0; i < WAYS; i++) {
        if (set[i].used && memcmp(set[i].hash, hash, 32) == 0) {
            return &set[i];
        }
    }
    return NULL;
}

static void cache_put(gw_jwt *v, const uint8_t hash[32], int64_t nbf, const gw_principal *who,
                      int64_t now)
{
    entry *set = cache_set(v, hash), *victim = NULL;
    for (int i = 0; i < WAYS && victim == NULL; i++) {
        if (!set[i].used || set[i].who.expires_s + v->leeway <= now) {
            victim = &set[i];
        }
    }
    if (victim == NULL) {
        /* Full of live tokens: evict the one that would leave soonest anyway. */
        victim = &set[0];
        for (int i = 1; i < WAYS; i++) {
            if (set[i].who.expires_s < victim->who.expires_s) {
                victim = &set[i];
            }
        }
    }
    memcpy(victim->hash, hash, 32);
    victim->used = true;
    victim->nbf_s = nbf;
    victim->who = *who;
}

/* ---- parsing ----------------------------------------------------------------------------- */

static json_t *part_json(const char *s, size_t len)
{
    uint8_t buf[TOKEN_MAX];
    size_t n = 0;
    const char *end = NULL;
    if (len == 0 ||
        sodium_base642bin(buf, sizeof(buf), s, len, NULL, &n, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s + len) {
        return NULL;
    }
    json_t *j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static bool number_claim(const json_t *obj, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(obj, name);
    if (v == NULL || !json_is_number(v)) {
        return false;
    }
    double d = json_number_value(v);
    if (!isfinite(d) || d < -9e15 || d > 9e15) {
        return false;
    }
    *out = (int64_t)floor(d);
    return true;
}

static bool audience_ok(const gw_jwt *v, const json_t *aud)
{
    if (v->audience[0] == '\0') {
        return true;
    }
    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), v->audience) == 0;
    }
    if (json_is_array(aud)) {
        size_t i;
        const json_t *a;
        json_array_foreach(aud, i, a)
        {
            if (json_is_string(a) && strcmp(json_string_value(a), v->audience) == 0) {
                return true;
            }
        }
    }
    return false;
}

static gw_auth_result check_claims(const gw_jwt *v, const json_t *claims, int64_t now,
                                   gw_principal *who, int64_t *nbf_out)
{
    int64_t exp, nbf = INT64_MIN;
    if (!number_claim(claims, "exp", &exp)) {
        return GW_AUTH_CLAIMS; /* a token without an end is refused */
    }
    if (json_object_get(claims, "nbf") != NULL && !number_claim(claims, "nbf", &nbf)) {
        return GW_AUTH_CLAIMS;
    }
    if (now >= exp + v->leeway) {
        return GW_AUTH_EXPIRED;
    }
    if (nbf != INT64_MIN && now + v->leeway < nbf) {
        return GW_AUTH_NOT_YET_VALID;
    }
    if (v->issuer[0] != '\0') {
        const json_t *iss = json_object_get(claims, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), v->issuer) != 0) {
            return GW_AUTH_ISSUER;
        }
    }
    if (!audience_ok(v, json_object_get(claims, "aud"))) {
        return GW_AUTH_AUDIENCE;
    }
    const json_t *sub = json_object_get(claims, "sub");
    if (!json_is_string(sub) || !bsl_subject_valid(json_string_value(sub))) {
        return GW_AUTH_CLAIMS;
    }
    const json_t *role = json_object_get(claims, v->role_claim);
    int r = json_is_string(role) ? gw_role_from_name(json_string_value(role)) : 0;
    if (r == 0) {
        return GW_AUTH_ROLE;
    }
    const json_t *org = json_object_get(claims, v->org_claim);
    if (org != NULL && !json_is_null(org) &&
        (!json_is_string(org) ||
         (json_string_length(org) > 0 && !bsl_subject_valid(json_string_value(org))))) {
        return GW_AUTH_CLAIMS;
    }
    memset(who, 0, sizeof(*who));
    snprintf(who->subject, sizeof(who->subject), "%s", json_string_value(sub));
    who->role = r;
    if (json_is_string(org)) {
        snprintf(who->organisation, sizeof(who->organisation), "%s", json_string_value(org));
    }
    who->expires_s = exp;
    *nbf_out = nbf;
    return GW_AUTH_OK;
}

/* The header must name our algorithm exactly, carry no critical extension we would ignore,
 * and, if typed, be a JWT. */
static gw_auth_result check_header(const gw_jwt *v, const json_t *h)
{
    const json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), v->alg_name) != 0) {
        return GW_AUTH_ALG;
    }
    if (json_object_get(h, "crit") != NULL) {
        return GW_AUTH_MALFORMED;
    }
    const json_t *typ = json_object_get(h, "typ");
    if (typ != NULL && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0)) {
        return GW_AUTH_MALFORMED;
    }
    return GW_AUTH_OK;
}

static gw_auth_result verify_uncached(gw_jwt *v, const char *token, size_t len, int64_t now,
                                      gw_principal *who, int64_t *nbf)
{
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
        return GW_AUTH_MALFORMED;
    }
    if (dot2 + 1 == token + len) {
        /* No signature: an unsecured token ("alg": "none"). */
        return GW_AUTH_ALG;
    }
    json_t *header = part_json(token, (size_t)(dot1 - token));
    if (header == NULL) {
        return GW_AUTH_MALFORMED;
    }
    gw_auth_result r = check_header(v, header);
    json_decref(header);
    if (r != GW_AUTH_OK) {
        return r;
    }
    json_t *claims = part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (claims == NULL) {
        return GW_AUTH_MALFORMED;
    }
    /* libjwt wants a C string; the token has been checked to hold base64url and dots only. */
    char copy[TOKEN_MAX + 1];
    memcpy(copy, token, len);
    copy[len] = '\0';
    jwt_t *j = NULL;
    v->stats.signature_checks++;
    int rv = jwt_decode(&j, copy, v->key, (int)v->key_len);
    if (rv != 0 || j == NULL) {
        r = GW_AUTH_SIGNATURE;
    } else if (jwt_get_alg(j) != v->alg) {
        r = GW_AUTH_ALG;
    } else {
        r = check_claims(v, claims, now, who, nbf);
    }
    jwt_free(j);
    json_decref(claims);
    return r;
}

gw_auth_result gw_jwt_verify(gw_jwt *v, const char *token, size_t len, int64_t now_s,
                             gw_principal *out)
{
    if (len == 0 || len > TOKEN_MAX) {
        return GW_AUTH_MALFORMED;
    }
    for (size_t i = 0; i < len; i++) {
        char c = token[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return GW_AUTH_MALFORMED;
        }
    }
    uint8_t hash[32] = { 0 };
    if (v->cache != NULL) {
        crypto_generichash(hash, sizeof(hash), (const unsigned char *)token, len, v->hash_key,
                           sizeof(v->hash_key));
        entry *e = cache_find(v, hash);
        if (e != NULL) {
            v->stats.cache_hits++;
            if (now_s >= e->who.expires_s + v->leeway) {
                e->used = false;
                return GW_AUTH_EXPIRED;
            }
            if (e->nbf_s != INT64_MIN && now_s + v->leeway < e->nbf_s) {
                return GW_AUTH_NOT_YET_VALID;
            }
            *out = e->who;
            return GW_AUTH_OK;
        }
        v->stats.cache_misses++;
    }
    int64_t nbf = INT64_MIN;
    gw_auth_result r = verify_uncached(v, token, len, now_s, out, &nbf);
    if (r == GW_AUTH_OK && v->cache != NULL) {
        cache_put(v, hash, nbf, out, now_s);
    }
    return r;
}

bool gw_jwt_cached(gw_jwt *v, const char *token, size_t len)
{
    if (v->cache == NULL || len == 0 || len > TOKEN_MAX) {
        return false;
    }
    uint8_t hash[32];
    crypto_generichash(hash, sizeof(hash), (const unsigned char *)token, len, v->hash_key,
                       sizeof(v->hash_key));
    return cache_find(v, hash) != NULL;
}

/* ---- minting ----------------------------------------------------------------------------- */

char *gw_jwt_mint(const char *alg, const uint8_t *key, size_t key_len, const gw_jwt_claims *c,
                  char *errbuf, size_t errlen)
{
    jwt_alg_t a = alg_of(alg);
    if (a == JWT_ALG_INVAL) {
        snprintf(errbuf, errlen, "algorithm must be HS256, RS256 or ES256");
        return NULL;
    }
    jwt_t *j = NULL;
    if (jwt_new(&j) != 0) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    int rv = 0;
    if (c->subject && c->subject[0]) {
        rv |= jwt_add_grant(j, "sub", c->subject);
    }
    if (c->role && c->role[0]) {
        rv |= jwt_add_grant(j, "role", c->role);
    }
    if (c->organisation && c->organisation[0]) {
        rv |= jwt_add_grant(j, "org", c->organisation);
    }
    if (c->issuer && c->issuer[0]) {
        rv |= jwt_add_grant(j, "iss", c->issuer);
    }
    if (c->audience && c->audience[0]) {
        rv |= jwt_add_grant(j, "aud", c->audience);
    }
    if (c->issued_at) {
        rv |= jwt_add_grant_int(j, "iat", (long)c->issued_at);
    }
    if (c->not_before) {
        rv |= jwt_add_grant_int(j, "nbf", (long)c->not_before);
    }
    if (c->expires) {
        rv |= jwt_add_grant_int(j, "exp", (long)c->expires);
    }
    if (rv == 0) {
        rv = jwt_set_alg(j, a, key, (int)key_len);
    }
    char *token = rv == 0 ? jwt_encode_str(j) : NULL;
    if (token == NULL) {
        snprintf(errbuf, errlen, "cannot sign the token (%s): %s", alg,
                 rv ? strerror(rv) : "is the key a PEM private key of that type?");
    }
    jwt_free(j);
    return token;
}

uint8_t *gw_key_load(const char *spec, size_t *len, char *errbuf, size_t errlen)
{
    if (spec == NULL || spec[0] == '\0') {
        snprintf(errbuf, errlen, "no key given");
        return NULL;
    }
    if (spec[0] != '@') {
        size_t n = strlen(spec);
        uint8_t *k = malloc(n + 1);
        if (k != NULL) {
            memcpy(k, spec, n + 1);
            *len = n;
        }
        return k;
    }
    FILE *f = fopen(spec + 1, "rb");
    if (f == NULL) {
        snprintf(errbuf, errlen, "cannot read %s: %s", spec + 1, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *k = malloc(cap + 1);
    if (k != NULL) {
        n = fread(k, 1, cap, f);
        if (!feof(f)) {
            snprintf(errbuf, errlen, "%s: a key file larger than 64 KiB is not a key", spec + 1);
            free(k);
            k = NULL;
        }
    }
    fclose(f);
    if (k == NULL) {
        return NULL;
    }
    /* A secret file often ends with a newline that is not part of the secret. */
    while (n > 0 && (k[n - 1] == '\n' || k[n - 1] == '\r') &&
           memmem(k, n, "-----BEGIN", 10) == NULL) {
        n--;
    }
    k[n] = '\0';
    *len = n;
    return k;
}
