/*
 * Per-client rate limiting: one token bucket per client key (the subject of a verified token,
 * else the client's address), refilled at `rate` requests per second up to `burst`. The table
 * is bounded: keys hash (SipHash with a per-process key, so clients cannot aim collisions)
 * into 4-way sets, and a full set forgets its least recently seen client (who then starts
 * again from a full bucket: a forgotten client is treated generously, never wrongly refused).
 *
 * Used from one thread (the gateway's loop).
 */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct gw_ratelimit gw_ratelimit;

/* rate: requests per second (> 0); burst: bucket size (>= 1); clients: table size. */
int gw_ratelimit_create(gw_ratelimit **out, double rate, double burst, size_t clients);
void gw_ratelimit_free(gw_ratelimit *rl);

/* Takes one token for key (len bytes) at time now (seconds, monotonic). Returns true when the
 * request may proceed; false with the seconds to wait in *retry_after (at least 1). */
bool gw_ratelimit_take(gw_ratelimit *rl, const void *key, size_t len, double now,
                       unsigned *retry_after);

#endif /* GW_RATELIMIT_H */
