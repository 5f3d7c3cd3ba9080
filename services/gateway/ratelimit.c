#include "ratelimit.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sodium.h>

#include "boussole/err.h"

#define WAYS 4

typedef struct bucket {
    uint64_t key; /* SipHash of the client key; 0: free */
    double tokens;
    double last; /* when tokens was computed */
} bucket;

struct gw_ratelimit {
    double rate, burst;
    bucket *table;
    size_t n_sets;
    uint8_t hash_key[crypto_shorthash_KEYBYTES];
};

int gw_ratelimit_create(gw_ratelimit **out, double rate, double burst, size_t clients)
{
    if (!(rate > 0) || !(burst >= 1)) {
        return BSL_EINVAL;
    }
    gw_ratelimit *rl = calloc(1, sizeof(*rl));
    if (rl == NULL) {
        return BSL_ENOMEM;
    }
    size_t sets = 1;
    while (sets * WAYS < clients) {
        sets *= 2;
    }
    rl->table = calloc(sets * WAYS, sizeof(bucket));
    if (rl->table == NULL) {
        free(rl);
        return BSL_ENOMEM;
    }
    rl->n_sets = sets;
    rl->rate = rate;
    rl->burst = burst;
    randombytes_buf(rl->hash_key, sizeof(rl->hash_key));
    *out = rl;
    return BSL_OK;
}

void gw_ratelimit_free(gw_ratelimit *rl)
{
    if (rl != NULL) {
        free(rl->table);
        free(rl);
    }
}

/* The key's bucket, refilled up to now (a new one, full, when the key is not known). */
static bucket *refill(gw_ratelimit *rl, const void *key, size_t len, double now)
{
    uint8_t h8[crypto_shorthash_BYTES];
    crypto_shorthash(h8, key, len, rl->hash_key);
    uint64_t h;
    memcpy(&h, h8, sizeof(h));
    h |= 1; /* never 0, the mark of a free slot */
    bucket *set = &rl->table[(h >> 1 & (rl->n_sets - 1)) * WAYS], *b = NULL;
    for (int i = 0; i < WAYS && b == NULL; i++) {
        if (set[i].key == h) {
            b = &set[i];
        }
    }
    if (b == NULL) {
        /* A free slot, else the client seen longest ago. */
        b = &set[0];
        for (int i = 0; i < WAYS && b->key != 0; i++) {
            if (set[i].key == 0 || set[i].last < b->last) {
                b = &set[i];
            }
        }
        b->key = h;
        b->tokens = rl->burst;
        b->last = now;
    }
    double t = b->tokens + (now - b->last) * rl->rate;
    b->tokens = t > rl->burst ? rl->burst : t;
    b->last = now;
    return b;
}

static bool has_token(const gw_ratelimit *rl, const bucket *b, unsigned *retry_after)
{
    if (b->tokens >= 1) {
        return true;
    }
    double wait = (1 - b->tokens) / rl->rate;
    *retry_after = wait < 1 ? 1 : (unsigned)ceil(wait);
    return false;
}

bool gw_ratelimit_take(gw_ratelimit *rl, const void *key, size_t len, double now,
                       unsigned *retry_after)
{
    bucket *b = refill(rl, key, len, now);
    if (!has_token(rl, b, retry_after)) {
        return false;
    }
    b->tokens -= 1;
    return true;
}

bool gw_ratelimit_peek(gw_ratelimit *rl, const void *key, size_t len, double now,
                       unsigned *retry_after)
{
    return has_token(rl, refill(rl, key, len, now), retry_after);
}

size_t gw_ratelimit_peer_key(const struct sockaddr *peer, char *key, size_t cap)
{
    char text[INET6_ADDRSTRLEN];
    const char *suffix = "";
    const char *ok = NULL;
    if (peer != NULL && peer->sa_family == AF_INET) {
        ok = inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, text, sizeof(text));
    } else if (peer != NULL && peer->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)peer)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            ok = inet_ntop(AF_INET, &a->s6_addr[12], text, sizeof(text));
        } else {
            struct in6_addr prefix;
            memset(&prefix, 0, sizeof(prefix));
            memcpy(prefix.s6_addr, a->s6_addr, 8);
            ok = inet_ntop(AF_INET6, &prefix, text, sizeof(text));
            suffix = "/64";
        }
    }
    int n = snprintf(key, cap, "ip:%s%s", ok ? text : "?", ok ? suffix : "");
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
