#include "boussole/fastid.h"

#include <sodium.h>

void bsl_fastid_seed(bsl_fastid *g)
{
    do {
        randombytes_buf(g->s, sizeof(g->s));
    } while ((g->s[0] | g->s[1] | g->s[2] | g->s[3]) == 0); /* the one state it never leaves */
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next(bsl_fastid *g)
{
    uint64_t *s = g->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

void bsl_fastid_hex(bsl_fastid *g, char *out, size_t nbytes)
{
    static const char digits[] = "0123456789abcdef";
    uint64_t v = 0;
    for (size_t i = 0; i < nbytes; i++) {
        if (i % 8 == 0) {
            v = next(g);
        }
        out[2 * i] = digits[(v >> 4) & 15];
        out[2 * i + 1] = digits[v & 15];
        v >>= 8;
    }
    out[2 * nbytes] = '\0';
}
