#include "boussole/id.h"

#include <string.h>

#include <sodium.h>

/* Crockford's base32 alphabet in lower case: no i, l, o, u, so ids read aloud unambiguously. */
static const char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

static void encode(char out[BSL_ID_LEN + 1], const unsigned char bytes[17])
{
    /* 26 symbols of 5 bits = 130 bits: the 136 bits given, the last 6 dropped. */
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0, i = 0;
    while (o < BSL_ID_LEN) {
        if (bits < 5) {
            acc = (acc << 8) | bytes[i++];
            bits += 8;
        }
        out[o++] = alphabet[(acc >> (bits - 5)) & 31];
        bits -= 5;
    }
    out[BSL_ID_LEN] = '\0';
}

void bsl_id_new(char out[BSL_ID_LEN + 1])
{
    unsigned char b[17];
    randombytes_buf(b, sizeof(b));
    encode(out, b);
}

void bsl_id_derive(char out[BSL_ID_LEN + 1], const char *scope, const char *subject,
                   const char *key)
{
    /* Lengths are hashed with the strings so that ("ab","c") and ("a","bc") differ. */
    crypto_generichash_state st;
    unsigned char h[17];
    crypto_generichash_init(&st, (const unsigned char *)"boussole-id-v1", 14, sizeof(h));
    const char *parts[3] = { scope, subject, key };
    for (int i = 0; i < 3; i++) {
        const char *p = parts[i] ? parts[i] : "";
        unsigned char len[8];
        size_t n = strlen(p);
        for (int k = 0; k < 8; k++) {
            len[k] = (unsigned char)(n >> (8 * k));
        }
        crypto_generichash_update(&st, len, sizeof(len));
        crypto_generichash_update(&st, (const unsigned char *)p, n);
    }
    crypto_generichash_final(&st, h, sizeof(h));
    encode(out, h);
}

bool bsl_id_valid(const char *s)
{
    if (s == NULL) {
        return false;
    }
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (n >= BSL_ID_LEN || memchr(alphabet, s[n], sizeof(alphabet) - 1) == NULL) {
            return false;
        }
    }
    return n == BSL_ID_LEN;
}

bool bsl_subject_valid(const char *s)
{
    if (s == NULL || s[0] == '\0') {
        return false;
    }
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '@' || c == ':' || c == '-';
        if (!ok || n >= BSL_SUBJECT_MAX) {
            return false;
        }
    }
    return true;
}

void bsl_hex_random(char *out, size_t nbytes)
{
    unsigned char b[64];
    while (nbytes > 0) {
        size_t k = nbytes < sizeof(b) ? nbytes : sizeof(b);
        randombytes_buf(b, k);
        sodium_bin2hex(out, 2 * k + 1, b, k);
        out += 2 * k;
        nbytes -= k;
    }
}

void bsl_sha256_hex(char out[65], const void *data, size_t len)
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(out, 65, h, sizeof(h));
}
