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

#include <sys/socket.h>

typedef struct gw_ratelimit gw_ratelimit;

/* rate: requests per second (> 0); burst: bucket size (>= 1); clients: table size. */
int gw_ratelimit_create(gw_ratelimit **out, double rate, double burst, size_t clients);
void gw_ratelimit_free(gw_ratelimit *rl);

/* Takes one token for key (len bytes) at time now (seconds, monotonic). Returns true when the
 * request may proceed; false with the seconds to wait in *retry_after (at least 1). */
bool gw_ratelimit_take(gw_ratelimit *rl, const void *key, size_t len, double now,
                       unsigned *retry_after);

/* As gw_ratelimit_take, without taking the token: whether one is there. */
bool gw_ratelimit_peek(gw_ratelimit *rl, const void *key, size_t len, double now,
                       unsigned *retry_after);

/*
 * The key of a client known only by the address of its connection, written into key (cap
 * bytes, 64 are enough): "ip:192.0.2.7" for IPv4 (and IPv4-mapped IPv6), "ip:2001:db8:1:2::/64"
 * for IPv6, whose /64 is one subscriber's (an IPv6 client changes addresses within its prefix
 * at will, so a key per address would let it multiply its allowance). "ip:?" when unknown.
 * Returns the key's length.
 */
size_t gw_ratelimit_peer_key(const struct sockaddr *peer, char *key, size_t cap);

#endif /* GW_RATELIMIT_H */
