/*
 * Identifiers that must be unique but need not be secret (request ids, W3C trace ids,
 * idempotency keys a client makes up): xoshiro256** seeded once from the system's generator,
 * so that no getrandom() call is made per request. Entity ids and tokens use id.h (libsodium).
 *
 * A generator belongs to one thread at a time.
 */
#ifndef BOUSSOLE_FASTID_H
#define BOUSSOLE_FASTID_H

#include <stddef.h>
#include <stdint.h>

typedef struct bsl_fastid {
    uint64_t s[4];
} bsl_fastid;

/* Seeds from libsodium's generator (bsl_init must have run). */
void bsl_fastid_seed(bsl_fastid *g);

/* 2*nbytes lowercase hex digits and a NUL into out. */
void bsl_fastid_hex(bsl_fastid *g, char *out, size_t nbytes);

#endif /* BOUSSOLE_FASTID_H */
