/*
 * Envelope encryption of everything that carries a beneficiary's life (intake, notes,
 * experiences, free-text answers, the synthesis).
 *
 *  - Master keys come from configuration (a mounted secret), each with a short id. The first
 *    one wraps new data keys; the others still unwrap, so a master key can be rotated: a data
 *    key unwrapped with an older master key is re-wrapped with the current one on the spot.
 *  - A data key (DEK) per bilan and per scope ("sessions", "questionnaires", "syntheses"):
 *    random 256 bits, stored only wrapped (XChaCha20-Poly1305 under the master key), in the
 *    keystore Redis under "dek:{<bilan id>}:<scope>", apart from the data it protects.
 *    Deleting it makes every ciphertext of that bilan and scope unreadable wherever a copy
 *    lies, backups included, as long as the keystore's own backups are kept no longer than
 *    the retention period (see README): this is how Erase and retention shred.
 *  - Each field is sealed with XChaCha20-Poly1305 under the DEK, with a fresh random nonce and
 *    associated data naming where it belongs (bilan, scope, field), so a ciphertext copied to
 *    another field or bilan does not open. A sealed value starts with a version byte and the
 *    8-byte id of the DEK that sealed it.
 *
 * Unwrapped data keys are cached in guarded memory (sodium_malloc) for a short time.
 */
#ifndef BOUSSOLE_CRYPTO_H
#define BOUSSOLE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "boussole/redis.h"

#define BSL_DEK_BYTES      32
#define BSL_DEK_ID_BYTES   8
#define BSL_SEAL_OVERHEAD  (1 + BSL_DEK_ID_BYTES + 24 + 16)
#define BSL_SCOPE_NAME_MAX 112 /* "dek:{<id>}:<scope>" */

typedef struct bsl_keyring bsl_keyring;

typedef struct bsl_dek {
    unsigned char key[BSL_DEK_BYTES];
    unsigned char id[BSL_DEK_ID_BYTES];
} bsl_dek;

/*
 * Loads the master keys from `spec`: "id:base64key[,id:base64key...]" (standard base64 of 32
 * bytes; ids are 1 to 15 characters of [A-Za-z0-9_-]), or "@/path/file" holding the same text
 * (lines or commas). The first key is the current one. `keystore` is where wrapped data keys
 * live; the keyring does not own it. cache_ttl_ms 0 disables the cache.
 */
int bsl_keyring_create(bsl_keyring **out, struct ev_loop *loop, const char *spec,
                       bsl_redis *keystore, uint32_t cache_ttl_ms, char *errbuf, size_t errlen);
void bsl_keyring_free(bsl_keyring *kr);

/* A 32-byte key for one purpose ("replycache"), derived from the current master key with
 * libsodium's KDF, so that every replica derives the same one. out is wiped by the caller. */
void bsl_keyring_derive(const bsl_keyring *kr, uint64_t subkey_id, const char context[8],
                        unsigned char out[BSL_DEK_BYTES]);

/* Scopes of data keys. */
#define BSL_SCOPE_SESSIONS       "sessions"
#define BSL_SCOPE_QUESTIONNAIRES "questionnaires"
#define BSL_SCOPE_SYNTHESES      "syntheses"

/*
 * Called once, on the loop, never from inside bsl_dek_get: err BSL_OK with the key (borrowed
 * for the callback), BSL_ENOTFOUND when the key does not exist and create was false (never
 * made, or shredded), BSL_ECRYPTO when the stored key does not unwrap (unknown master key id,
 * tampering), or a Redis error (BSL_EUNAVAIL, BSL_ETIMEDOUT).
 */
typedef void (*bsl_dek_cb)(int err, const bsl_dek *dek, void *arg);

/* The data key of (bilan_id, scope), made and stored on first use when create is true. */
int bsl_dek_get(bsl_keyring *kr, const char *bilan_id, const char *scope, bool create,
                uint32_t timeout_ms, bsl_dek_cb cb, void *arg);

/* Forgets a cached key (after the service has deleted it). */
void bsl_dek_forget(bsl_keyring *kr, const char *bilan_id, const char *scope);

/* The keystore key of a data key: "dek:{<bilan id>}:<scope>" (NUL-terminated in out). */
void bsl_dek_key(char *out, size_t cap, const char *bilan_id, const char *scope);

/* Bytes needed to seal len bytes. */
static inline size_t bsl_seal_size(size_t len)
{
    return len + BSL_SEAL_OVERHEAD;
}

/* Seals plain[0..len) into out (bsl_seal_size(len) bytes). ad: where the value belongs,
 * e.g. "<bilan id>/intake/situation". */
void bsl_seal(const bsl_dek *dek, const char *ad, const void *plain, size_t len,
              unsigned char *out);

/* Opens a sealed value into out (at least len - BSL_SEAL_OVERHEAD bytes + 1; a NUL is added).
 * Returns BSL_OK with *out_len, or BSL_ECRYPTO (wrong key, wrong place, tampered, truncated). */
int bsl_open(const bsl_dek *dek, const char *ad, const unsigned char *sealed, size_t len, char *out,
             size_t *out_len);

#endif /* BOUSSOLE_CRYPTO_H */
