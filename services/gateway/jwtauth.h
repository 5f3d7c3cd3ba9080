/*
 * Bearer tokens: JSON Web Tokens (RFC 7519) signed with HS256 (a shared secret, for local
 * runs) or RS256/ES256 (the identity provider's public key, for production).
 *
 * libjwt (1.10) checks signatures; it takes the algorithm from the token's own header, so this
 * module first insists that the header names exactly the configured algorithm ("none", "hs256",
 * an HS256 token meant to be checked with an RSA public key as its secret: all refused), then
 * checks the claims itself: exp (required), nbf, iss, aud, sub, the role and the organisation.
 *
 * Verified tokens are cached, keyed by a keyed BLAKE2b hash of the token (never the token
 * itself), in a bounded set-associative table; an entry lives no longer than its token's exp,
 * so a repeated token costs one hash and no signature check.
 *
 * A gw_jwt is used from one thread (the gateway's loop); nothing here logs.
 */
#ifndef GW_JWTAUTH_H
#define GW_JWTAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boussole/id.h"

typedef struct gw_jwt gw_jwt;

typedef struct gw_jwt_options {
    const char *alg;    /* "HS256", "RS256" or "ES256" */
    const uint8_t *key; /* HS256: the secret (>= 32 bytes); else a PEM public key */
    size_t key_len;
    const char *issuer;     /* required value of iss; NULL or "": not checked */
    const char *audience;   /* required member of aud; NULL or "": not checked */
    const char *role_claim; /* claim holding the role; default "role" */
    const char *org_claim;  /* claim holding the organisation; default "org" */
    uint32_t leeway_s;      /* tolerated clock skew for exp and nbf */
    size_t cache_entries;   /* verified tokens remembered; 0 disables the cache */
} gw_jwt_options;

/* Why a token was refused: for logs and metrics only. Callers answer every refusal with the
 * same 401, so that the answer tells an attacker nothing. */
typedef enum {
    GW_AUTH_OK = 0,
    GW_AUTH_MALFORMED,     /* not three base64url parts of JSON objects */
    GW_AUTH_ALG,           /* header algorithm is not the configured one */
    GW_AUTH_SIGNATURE,     /* signature does not verify with the key */
    GW_AUTH_EXPIRED,       /* exp passed */
    GW_AUTH_NOT_YET_VALID, /* nbf in the future */
    GW_AUTH_ISSUER,        /* iss missing or wrong */
    GW_AUTH_AUDIENCE,      /* aud missing or wrong */
    GW_AUTH_CLAIMS,        /* exp, sub or org missing or malformed */
    GW_AUTH_ROLE,          /* role missing, unknown, or "service" */
} gw_auth_result;

const char *gw_auth_result_name(gw_auth_result r);

/* Who a verified token speaks for. */
typedef struct gw_principal {
    char subject[BSL_SUBJECT_MAX + 1];
    int role; /* Boussole__V1__Role */
    char organisation[BSL_SUBJECT_MAX + 1];
    int64_t expires_s; /* the token's exp */
} gw_principal;

/* Creates a verifier. The options and the key are copied. Returns BSL_OK, or BSL_EINVAL with a
 * message (unknown algorithm, short secret, not a PEM public key), or BSL_ENOMEM. */
int gw_jwt_create(gw_jwt **out, const gw_jwt_options *o, char *errbuf, size_t errlen);
void gw_jwt_free(gw_jwt *v);

/* Verifies len bytes of token at Unix time now_s. On GW_AUTH_OK, *out holds the principal. */
gw_auth_result gw_jwt_verify(gw_jwt *v, const char *token, size_t len, int64_t now_s,
                             gw_principal *out);

/* Whether len bytes of token are in the cache of verified tokens (valid or not by now): what
 * gw_jwt_verify would answer without a signature check. */
bool gw_jwt_cached(gw_jwt *v, const char *token, size_t len);

typedef struct gw_jwt_stats {
    uint64_t signature_checks; /* libjwt verifications run */
    uint64_t cache_hits;
    uint64_t cache_misses;
} gw_jwt_stats;

void gw_jwt_get_stats(const gw_jwt *v, gw_jwt_stats *out);

/* The Boussole__V1__Role of a role claim ("counselor"), or 0 for an unknown name. "service"
 * is unknown here: no token may speak for a service. */
int gw_role_from_name(const char *name);
/* "counselor" for ROLE_COUNSELOR; NULL for roles a token cannot carry. */
const char *gw_role_name(int role);

/* ---- minting (boussolectl, tests) -------------------------------------------------------- */

typedef struct gw_jwt_claims {
    const char *subject;
    const char *role; /* written as is, so tests can mint bad roles */
    const char *organisation;
    const char *issuer;
    const char *audience;
    int64_t issued_at;
    int64_t not_before; /* 0: no nbf claim */
    int64_t expires;    /* 0: no exp claim */
} gw_jwt_claims;

/* Signs a token with alg and key (HS256: the secret; RS256/ES256: a PEM private key).
 * Returns a malloc'd string, or NULL with a message. */
char *gw_jwt_mint(const char *alg, const uint8_t *key, size_t key_len, const gw_jwt_claims *c,
                  char *errbuf, size_t errlen);

/* Reads a key given as text or as "@path" (the file's bytes). Returns a malloc'd buffer with
 * its length, NUL-terminated, or NULL with a message. */
uint8_t *gw_key_load(const char *spec, size_t *len, char *errbuf, size_t errlen);

#endif /* GW_JWTAUTH_H */
