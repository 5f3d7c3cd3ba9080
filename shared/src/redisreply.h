/*
 * Reply objects for hiredis carved from one slab per Redis client instead of two mallocs per
 * element (an HGETALL of a bilan is some seventy strings: parsing and freeing them was a tenth
 * of the sessions service's CPU).
 *
 * Why a slab works: hiredis parses one reply at a time and frees it (freeObject on its root)
 * after its callback returned, before it parses the next one; so every object of a reply lives
 * exactly as long as the reply's root, and when the root is freed the whole slab is free again.
 * A reply larger than the slab gets chunks of its own, released with the root.
 *
 * Internal to the runtime (redis.c).
 */
#ifndef BSL_REDISREPLY_H
#define BSL_REDISREPLY_H

#include <hiredis/hiredis.h>

typedef struct bsl_reply_slab bsl_reply_slab;

/* NULL when out of memory. */
bsl_reply_slab *bsl_reply_slab_create(void);

/* Frees the slab. Every reader it was attached to must be gone, or have been detached. */
void bsl_reply_slab_free(bsl_reply_slab *s);

/* Makes the reader build its replies in the slab. Readers attached to one slab must parse one
 * after the other, never interleaved: a client's connection is freed (with its partial reply)
 * before the next one reads anything. */
void bsl_reply_slab_attach(bsl_reply_slab *s, redisReader *reader);

/* Drops the reader's partial reply (memory of the slab) so that freeing the reader does not
 * touch the slab; call it before a reader outlives its slab. */
void bsl_reply_slab_detach(redisReader *reader);

#endif /* BSL_REDISREPLY_H */
