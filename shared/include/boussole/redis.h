/*
 * Redis access on the libev loop: hiredis's async API with its libev adapter, plus what
 * hiredis 0.14 lacks.
 *
 *  - Per-command timeouts: every command arms an ev_timer; the callback gets BSL_ETIMEDOUT when
 *    it fires first, and the late reply, when it comes, is dropped.
 *  - Reconnection with exponential backoff. While disconnected, commands fail at once with
 *    BSL_EUNAVAIL (the caller answers UNAVAILABLE) instead of queueing; the service recovers by
 *    itself when Redis comes back. A connection that stops answering (three timeouts in a row
 *    with no reply) is dropped and remade.
 *  - Lua scripts registered once, loaded on every (re)connection, called by EVALSHA, with a
 *    transparent EVAL when Redis has forgotten them (NOSCRIPT).
 *  - Redis states that mean "not now" (LOADING, BUSY, MASTERDOWN, ...) are reported as
 *    BSL_EUNAVAIL, not as command errors.
 *
 * Everything runs on the loop thread, except bsl_redis_ready.
 */
#ifndef BOUSSOLE_REDIS_H
#define BOUSSOLE_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <hiredis/hiredis.h>

#include "boussole/log.h"
#include "boussole/metrics.h"

typedef struct bsl_redis bsl_redis;
typedef struct bsl_redis_script bsl_redis_script;

typedef struct bsl_redis_options {
    /* "redis://[:password@]host:port[/db]" or "unix:///path/to/redis.sock[?db=N]". */
    const char *url;
    uint32_t command_timeout_ms; /* when a command gives none; default 1000 */
    uint32_t connect_timeout_ms; /* default 1000 */
    uint32_t backoff_min_ms;     /* first reconnection delay; default 50 */
    uint32_t backoff_max_ms;     /* longest reconnection delay; default 2000 */
    const char *name;            /* in logs and metric names: "redis" (default), "keystore" */
    const bsl_logger *log;       /* may be NULL */
    bsl_metrics *metrics;        /* may be NULL; counters are registered at create */
} bsl_redis_options;

/*
 * Called exactly once per command, always from the loop and never from inside the function
 * that issued the command. err is BSL_OK with a reply (which may be a REDIS_REPLY_ERROR: a
 * command error such as a script's error_reply), or BSL_ETIMEDOUT, BSL_EUNAVAIL (not
 * connected, connection lost, Redis loading) or BSL_ECLOSED (the client is being freed), with
 * reply NULL. The reply is borrowed for the duration of the callback.
 */
typedef void (*bsl_redis_cb)(const redisReply *reply, int err, void *arg);

/* Creates the client and starts connecting. Fails only on a bad URL or out of memory. */
int bsl_redis_create(bsl_redis **out, struct ev_loop *loop, const bsl_redis_options *opts,
                     char *errbuf, size_t errlen);

/* Closes the connection; every pending callback is called with BSL_ECLOSED before it returns.
 * Do not call from inside a bsl_redis callback. */
void bsl_redis_free(bsl_redis *r);

/* Connected and answering. Any thread. */
bool bsl_redis_ready(const bsl_redis *r);

/*
 * Sends one command. timeout_ms 0 means the default. argv/argvlen are copied before return.
 * Returns BSL_OK (the callback will be called) or BSL_ENOMEM/BSL_EINVAL (it will not).
 */
int bsl_redis_commandv(bsl_redis *r, uint32_t timeout_ms, bsl_redis_cb cb, void *arg, int argc,
                       const char *const *argv, const size_t *argvlen);

/* printf-style, as redisAsyncCommand: "%s" for strings, "%b" for (ptr, len) binaries. */
int bsl_redis_command(bsl_redis *r, uint32_t timeout_ms, bsl_redis_cb cb, void *arg,
                      const char *fmt, ...);

/* Registers a Lua script (body copied). Register at start-up, before commands flow. */
int bsl_redis_script_add(bsl_redis *r, const char *body, bsl_redis_script **out);

/* EVALSHA script numkeys keys... args..., falling back to EVAL when Redis answers NOSCRIPT.
 * argv holds the keys then the arguments (argc of them, nkeys of which are keys). */
int bsl_redis_eval(bsl_redis *r, const bsl_redis_script *script, uint32_t timeout_ms,
                   bsl_redis_cb cb, void *arg, int nkeys, int argc, const char *const *argv,
                   const size_t *argvlen);

/* Helpers for callbacks. */
static inline bool bsl_redis_is_error(const redisReply *rep)
{
    return rep != NULL && rep->type == REDIS_REPLY_ERROR;
}

#endif /* BOUSSOLE_REDIS_H */
