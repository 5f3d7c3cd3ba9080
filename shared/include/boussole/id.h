/*
 * Identifiers. Entity ids are 26 characters of lowercase Crockford base32 (130 bits), either
 * random or derived from an idempotency key, so that a repeated create finds the entity the
 * first call made. Ids and subjects are checked before they go anywhere near a Redis key:
 * nothing outside their alphabets can reach the key layout.
 */
#ifndef BOUSSOLE_ID_H
#define BOUSSOLE_ID_H

#include <stdbool.h>
#include <stddef.h>

#define BSL_ID_LEN      26
#define BSL_SUBJECT_MAX 128

/* A new random id, NUL-terminated. */
void bsl_id_new(char out[BSL_ID_LEN + 1]);

/* The id derived from (scope, subject, key) with keyed BLAKE2b: the same inputs always give the
 * same id, different inputs unrelated ones. */
void bsl_id_derive(char out[BSL_ID_LEN + 1], const char *scope, const char *subject,
                   const char *key);

/* Exactly BSL_ID_LEN characters of the id alphabet. */
bool bsl_id_valid(const char *s);

/* A subject id: 1 to 128 characters of [A-Za-z0-9._@:-]. */
bool bsl_subject_valid(const char *s);

/* 2*nbytes random lowercase hex digits and a NUL into out. */
void bsl_hex_random(char *out, size_t nbytes);

/* Lowercase hex of the SHA-256 of data (65 bytes with the NUL): how tokens are stored. */
void bsl_sha256_hex(char out[65], const void *data, size_t len);

#endif /* BOUSSOLE_ID_H */
