/*
 * The RPC server: receives RpcRequest envelopes on nng REP contexts, dispatches them to
 * protobuf-c service implementations through their ProtobufCServiceDescriptor, and answers
 * with RpcResponse envelopes.
 *
 * Threads: nng completes receives on its threads; the server hands each one to the libev loop
 * (evnng.h), where everything else happens: decoding, interceptors, handlers, Redis, replies.
 * Every function here must be called on the loop thread.
 *
 * A call, from the wire to the reply:
 *   1. The envelope is decoded (garbage: INVALID_ARGUMENT; over the size limit:
 *      RESOURCE_EXHAUSTED), the method looked up (UNIMPLEMENTED), the deadline computed
 *      (already expired: DEADLINE_EXCEEDED).
 *   2. The payload is decoded into the method's input message, in the call's arena
 *      (INVALID_ARGUMENT naming the field that broke it).
 *   3. The interceptors' `before` hooks run in order (authorization, ...); any may answer.
 *   4. A method that is not idempotent needs an idempotency key; the key is claimed in Redis,
 *      and a repeated key gets the first answer instead of a second execution.
 *   5. The handler runs, and answers once with bsl_call_reply or bsl_call_fail, now or later.
 *      If its deadline passes first, the caller gets DEADLINE_EXCEEDED and the handler's late
 *      answer is dropped.
 *   6. The interceptors' `after` hooks run (logging, metrics).
 *
 * Handlers are the functions of a protobuf-c generated service struct. The `closure_data`
 * they receive is the bsl_call; the closure itself is equivalent to bsl_call_reply.
 */
#ifndef BOUSSOLE_SERVER_H
#define BOUSSOLE_SERVER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <protobuf-c/protobuf-c.h>

#include "boussole/arena.h"
#include "boussole/clock.h"
#include "boussole/log.h"
#include "boussole/metrics.h"
#include "boussole/redis.h"
#include "boussole/schema.h"
#include "boussole/status.h"
#include "boussole/tls.h"
#include "boussole/v1/rpc.pb-c.h"

typedef struct bsl_server bsl_server;
typedef struct bsl_call bsl_call;

typedef struct bsl_server_options {
    const char *service;            /* short name for logs and metrics: "sessions" */
    const char *const *listen_urls; /* "tcp://0.0.0.0:7101", "ipc:///run/b.sock", ... */
    size_t n_listen;
    size_t max_message_bytes;     /* larger requests get RESOURCE_EXHAUSTED; default 1 MiB */
    unsigned contexts;            /* receives kept posted; default 256 */
    uint32_t default_deadline_ms; /* when neither caller nor method gives one; default 10000 */
    uint32_t max_deadline_ms;     /* longer budgets are cut to this; default 60000 */
    uint32_t drain_quiet_ms;      /* after the last answer, before closing; default 100 */
    const bsl_tls_options *tls;   /* NULL: no TLS; required for tls+tcp:// URLs */
    bsl_redis *redis;             /* idempotency keys; required if any method needs one */
    /* When set (32 bytes), answers kept for idempotent replay are sealed with it, since they
     * may carry confidential fields. Every replica must use the same key. */
    const unsigned char *reply_cache_key;
    bsl_clock *clock; /* NULL: real time */
    const bsl_logger *log;
    bsl_metrics *metrics; /* may be NULL */
} bsl_server_options;

/*
 * An interceptor: `before` runs before the handler and may answer the call (return false after
 * bsl_call_fail); `after` runs once the call has been answered. Either may be NULL. Hooks run
 * in the order they were added, `after` hooks included.
 */
typedef struct bsl_interceptor {
    const char *name;
    bool (*before)(bsl_call *call, void *arg);
    void (*after)(bsl_call *call, void *arg);
    void *arg;
} bsl_interceptor;

/* Creates a server (not listening yet). The options are copied; the objects they point to
 * must outlive the server. */
int bsl_server_create(bsl_server **out, struct ev_loop *loop, const bsl_server_options *opts,
                      char *errbuf, size_t errlen);

/* Serves a protobuf-c service. The service struct must outlive the server; embed it first in
 * the application's own struct to reach the application from a handler. Every method of the
 * descriptor must have a handler, or this fails with BSL_EINVAL. Health and Reflection are
 * served by every server without being added. */
int bsl_server_add_service(bsl_server *srv, ProtobufCService *service);

/* Appends an interceptor (copied). Add them before bsl_server_start. */
int bsl_server_add_interceptor(bsl_server *srv, const bsl_interceptor *ic);

/* Adds the built-in logging, metrics and deadline interceptors. */
int bsl_server_add_default_interceptors(bsl_server *srv);

/* Starts listening and receiving. */
int bsl_server_start(bsl_server *srv, char *errbuf, size_t errlen);

/* The port the n-th tcp listener is bound to (for "tcp://127.0.0.1:0"), or -1. */
int bsl_server_port(const bsl_server *srv, size_t n);

/*
 * Stops taking calls: new requests are answered UNAVAILABLE with retry_elsewhere set, calls in
 * flight finish, then `done` runs (on the loop) and the sockets close right after it returns.
 * Calls still unanswered after grace_ms are answered UNAVAILABLE first.
 */
void bsl_server_drain(bsl_server *srv, uint32_t grace_ms, void (*done)(bsl_server *, void *),
                      void *arg);

/* True once draining has begun. Any thread. */
bool bsl_server_draining(const bsl_server *srv);

/* Calls being served. */
unsigned bsl_server_in_flight(const bsl_server *srv);

/* Frees the server; calls still running are abandoned (their handlers must not answer after
 * this). Drain first for a clean stop. */
void bsl_server_free(bsl_server *srv);

/* Ready for calls: Redis connected (if any) and not draining. Any thread. A bsl_ready_fn for
 * the admin server (admin.h). */
bool bsl_server_ready(void *srv, char *why, size_t cap);

/* ---- calls ---------------------------------------------------------------------------- */

/* The method being called. */
const bsl_method_info *bsl_call_method(const bsl_call *call);

/* The decoded request message (the method's input type), in the call's arena. */
const ProtobufCMessage *bsl_call_request(const bsl_call *call);

/* The caller as the envelope says (trusted: the hop is authenticated). Never NULL. */
const Boussole__V1__Caller *bsl_call_caller(const bsl_call *call);

/* The whole metadata of the call. Never NULL. */
const Boussole__V1__Metadata *bsl_call_metadata(const bsl_call *call);

const char *bsl_call_request_id(const bsl_call *call);
const char *bsl_call_trace_id(const bsl_call *call);

/* "" when the call carries none. */
const char *bsl_call_idempotency_key(const bsl_call *call);

/* Milliseconds left before the deadline (0 when past). */
uint32_t bsl_call_remaining_ms(const bsl_call *call);

/* The call's arena: freed after the reply has been sent. */
bsl_arena *bsl_call_arena(bsl_call *call);
ProtobufCAllocator *bsl_call_allocator(bsl_call *call);

/* The server's clock, logger, loop and Redis. */
bsl_clock *bsl_call_clock(const bsl_call *call);
const bsl_logger *bsl_call_log(const bsl_call *call);
struct ev_loop *bsl_call_loop(const bsl_call *call);
bsl_redis *bsl_call_redis(const bsl_call *call);

/* The protobuf-c service object the call was dispatched to. */
ProtobufCService *bsl_call_service(const bsl_call *call);

/* The status the call was answered with (after hooks), and how long it took. */
bsl_status bsl_call_status(const bsl_call *call);
double bsl_call_elapsed(const bsl_call *call);

/* True once the call has been answered (by the handler, an interceptor or its deadline). A
 * handler that does slow work may check it to stop early. */
bool bsl_call_answered(const bsl_call *call);

/* Answers with a message of the method's output type. The message is encoded before this
 * returns: it may live on the stack or in the arena. A handler answers exactly once. */
void bsl_call_reply(bsl_call *call, const ProtobufCMessage *reply);

/* Answers with an error; message is for developers (English, no personal data). */
void bsl_call_fail(bsl_call *call, bsl_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void bsl_call_vfail(bsl_call *call, bsl_status code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Adds typed details to the error the call will answer with (before bsl_call_fail). */
void bsl_call_add_field_violation(bsl_call *call, const char *field, const char *description);
void bsl_call_add_precondition_violation(bsl_call *call, const char *type, const char *subject,
                                         const char *description);

/* INVALID_ARGUMENT naming the field: "<field>: <why>", with a FieldViolation detail. */
void bsl_call_fail_field(bsl_call *call, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answers with the status that a runtime error (from redis.h, client.h...) maps to,
 * e.g. BSL_EUNAVAIL -> UNAVAILABLE, with a message naming what failed. */
void bsl_call_fail_err(bsl_call *call, int err, const char *what);

#endif /* BOUSSOLE_SERVER_H */
