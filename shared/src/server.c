/*
 * The RPC server. See boussole/server.h for the life of a call; the comments here say why the
 * pieces are the way they are.
 */
#include "boussole/server.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <sodium.h>

#include "boussole/err.h"
#include "boussole/evnng.h"
#include "boussole/id.h"
#include "boussole/pbcheck.h"
#include "boussole/sched.h"
#include "server_internal.h"

#define MAX_SERVICES     16
#define MAX_INTERCEPTORS 16
#define MAX_LISTENERS    8
#define IDEM_TTL_MS      (60 * 60 * 1000) /* replays answered from the cache for an hour */
#define IDEM_POLL_S      0.02             /* while another replica holds the key */
/* A claim lapses 2 s after its holder last renewed it, so that a retry on another replica
 * takes over quickly when the holder died; a live holder renews it while its handler runs. */
#define IDEM_LEASE_MS 2000
#define IDEM_RENEW_S  0.6
#define IDEM_KEY_MAX  128
/* Room left in BSL_RESPONSE_MAX_BYTES for the envelope around a payload (request id, status,
 * message): a few hundred bytes in practice. */
#define ENVELOPE_ALLOWANCE 4096u

typedef enum { SLOT_IDLE, SLOT_RECV, SLOT_BUSY, SLOT_SEND } slot_state;

/* A posted receive: one REP context and its aio, reused for the reply. */
typedef struct slot {
    bsl_server *srv;
    nng_ctx ctx;
    nng_aio *aio;
    bsl_evnng_task task;
    slot_state state;
    int result;         /* aio result, read on the loop */
    _Atomic int posted; /* a task is queued for this slot */
} slot;

typedef struct served {
    ProtobufCService *service;
    const bsl_service_info *info;
    int metric_ids[64];
} served;

struct bsl_call {
    struct bsl_call *prev, *next;
    bsl_server *srv;
    slot *slot; /* NULL once answered */
    bsl_arena *arena;
    const bsl_method_info *method;
    served *svc;
    Boussole__V1__RpcRequest *req;
    ProtobufCMessage *input;
    ev_timer deadline;
    ev_timer idem_poll;
    ev_timer idem_renew;
    ev_tstamp start;
    ev_tstamp deadline_at;
    double elapsed;
    bsl_status status;
    const char *message;
    Boussole__V1__ErrorDetail **details;
    size_t n_details, cap_details;
    ProtobufCBinaryData payload;
    bool answered;
    bool handler_running;
    bool handler_done;
    bool retry_elsewhere;
    bool idem_claimed;
    bool idem_busy;   /* a Redis command about the key is in flight */
    bool in_dispatch; /* handle_request is still on the stack: do not free yet */
    char idem_key[80];
    int metric_id;
};

struct bsl_server {
    struct ev_loop *loop;
    bsl_server_options o;
    char service[64];
    char *urls[MAX_LISTENERS];
    size_t n_urls;
    nng_socket sock;
    bool sock_open;
    nng_listener listeners[MAX_LISTENERS];
    size_t n_listeners;
    nng_tls_config *tls;
    bsl_evnng *bridge;
    slot *slots;
    unsigned n_slots;
    served services[MAX_SERVICES];
    size_t n_services;
    bsl_interceptor ics[MAX_INTERCEPTORS];
    size_t n_ics;
    bsl_call *calls;
    unsigned in_flight;
    _Atomic int draining;
    _Atomic bool closed; /* read by nng's threads in on_aio */
    ev_timer drain_grace;
    ev_timer drain_quiet;
    void (*drain_done)(bsl_server *, void *);
    void *drain_arg;
    bsl__builtin builtin;
    unsigned char *reply_key; /* sodium_malloc'd copy of o.reply_cache_key, or NULL */
};

static void post_recv(slot *s);
static void answer(bsl_call *call);
static void call_maybe_free(bsl_call *call);
static void check_drain(bsl_server *srv);

/* ---- slots -------------------------------------------------------------------------- */

static void on_aio(void *arg)
{
    /* nng's thread. A finished send only needs the next receive posted, which nng allows
     * from here: doing it without a trip through the loop saves a thread hand-over per call.
     * Everything else goes to the loop. */
    slot *s = arg;
    int rv = nng_aio_result(s->aio);
    if (s->state == SLOT_SEND) {
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(s->aio)); /* a failed send leaves the message to us */
        }
        if (atomic_load(&s->srv->closed)) {
            s->state = SLOT_IDLE;
            return;
        }
        s->state = SLOT_RECV;
        nng_ctx_recv(s->ctx, s->aio);
        return;
    }
    s->result = rv;
    atomic_store(&s->posted, 1);
    bsl_evnng_post(s->srv->bridge, &s->task);
}

static void handle_request(slot *s, nng_msg *msg);

static void on_slot_task(void *arg)
{
    slot *s = arg;
    bsl_server *srv = s->srv;
    atomic_store(&s->posted, 0);
    if (s->state == SLOT_RECV) {
        if (s->result != 0) {
            if (s->result == NNG_ECLOSED || s->result == NNG_ECANCELED || srv->closed) {
                s->state = SLOT_IDLE;
                return;
            }
            post_recv(s); /* a transient failure, e.g. out of memory: keep receiving */
            return;
        }
        handle_request(s, nng_aio_get_msg(s->aio));
        return;
    }
}

static void post_recv(slot *s)
{
    s->state = SLOT_RECV;
    nng_ctx_recv(s->ctx, s->aio);
}

/* ---- calls -------------------------------------------------------------------------- */

static bsl_call *call_new(bsl_server *srv, slot *s)
{
    bsl_arena *arena = bsl_arena_create();
    bsl_call *call = arena ? bsl_arena_calloc(arena, 1, sizeof(*call)) : NULL;
    if (call == NULL) {
        bsl_arena_free(arena);
        return NULL;
    }
    call->arena = arena;
    call->srv = srv;
    call->slot = s;
    call->start = ev_time();
    call->metric_id = -1;
    call->next = srv->calls;
    if (srv->calls != NULL) {
        srv->calls->prev = call;
    }
    srv->calls = call;
    srv->in_flight++;
    bsl_metrics_in_flight(srv->o.metrics, 1);
    return call;
}

static void call_free(bsl_call *call)
{
    bsl_server *srv = call->srv;
    ev_timer_stop(srv->loop, &call->deadline);
    ev_timer_stop(srv->loop, &call->idem_poll);
    ev_timer_stop(srv->loop, &call->idem_renew);
    if (call->prev != NULL) {
        call->prev->next = call->next;
    } else {
        srv->calls = call->next;
    }
    if (call->next != NULL) {
        call->next->prev = call->prev;
    }
    bsl_arena_free(call->arena); /* the call itself lives in its arena */
}

/* A call can go once it has been answered and nothing still refers to it: neither a handler
 * that has not finished nor a Redis command about its idempotency key. */
static void call_maybe_free(bsl_call *call)
{
    if (call->answered && !call->idem_busy && !call->in_dispatch &&
        (!call->handler_running || call->handler_done)) {
        call_free(call);
    }
}

static void add_detail(bsl_call *call, Boussole__V1__ErrorDetail *d)
{
    if (call->n_details == call->cap_details) {
        size_t cap = call->cap_details ? call->cap_details * 2 : 4;
        Boussole__V1__ErrorDetail **nd = bsl_arena_alloc(call->arena, cap * sizeof(*nd));
        if (nd == NULL) {
            return;
        }
        if (call->n_details) {
            memcpy(nd, call->details, call->n_details * sizeof(*nd));
        }
        call->details = nd;
        call->cap_details = cap;
    }
    call->details[call->n_details++] = d;
}

void bsl_call_add_field_violation(bsl_call *call, const char *field, const char *description)
{
    Boussole__V1__ErrorDetail *d = bsl_arena_alloc(call->arena, sizeof(*d));
    Boussole__V1__FieldViolation *fv = bsl_arena_alloc(call->arena, sizeof(*fv));
    if (d == NULL || fv == NULL) {
        return;
    }
    boussole__v1__error_detail__init(d);
    boussole__v1__field_violation__init(fv);
    fv->field = bsl_arena_strdup(call->arena, field);
    fv->description = bsl_arena_strdup(call->arena, description);
    if (fv->field == NULL || fv->description == NULL) {
        return;
    }
    d->detail_case = BOUSSOLE__V1__ERROR_DETAIL__DETAIL_FIELD_VIOLATION;
    d->field_violation = fv;
    add_detail(call, d);
}

void bsl_call_add_precondition_violation(bsl_call *call, const char *type, const char *subject,
                                         const char *description)
{
    Boussole__V1__ErrorDetail *d = bsl_arena_alloc(call->arena, sizeof(*d));
    Boussole__V1__PreconditionViolation *pv = bsl_arena_alloc(call->arena, sizeof(*pv));
    if (d == NULL || pv == NULL) {
        return;
    }
    boussole__v1__error_detail__init(d);
    boussole__v1__precondition_violation__init(pv);
    pv->type = bsl_arena_strdup(call->arena, type);
    pv->subject = bsl_arena_strdup(call->arena, subject ? subject : "");
    pv->description = bsl_arena_strdup(call->arena, description);
    if (pv->type == NULL || pv->subject == NULL || pv->description == NULL) {
        return;
    }
    d->detail_case = BOUSSOLE__V1__ERROR_DETAIL__DETAIL_PRECONDITION_VIOLATION;
    d->precondition_violation = pv;
    add_detail(call, d);
}

static void add_retry_info(bsl_call *call, uint32_t delay_ms)
{
    Boussole__V1__ErrorDetail *d = bsl_arena_alloc(call->arena, sizeof(*d));
    Boussole__V1__RetryInfo *ri = bsl_arena_alloc(call->arena, sizeof(*ri));
    if (d == NULL || ri == NULL) {
        return;
    }
    boussole__v1__error_detail__init(d);
    boussole__v1__retry_info__init(ri);
    ri->retry_delay_ms = delay_ms;
    d->detail_case = BOUSSOLE__V1__ERROR_DETAIL__DETAIL_RETRY_INFO;
    d->retry_info = ri;
    add_detail(call, d);
}

/* Sends the envelope built from the call's status, message, details and payload, then runs
 * the after hooks. The slot goes back to receiving once the send completes. */
static void answer(bsl_call *call)
{
    bsl_server *srv = call->srv;
    if (call->answered) {
        return;
    }
    call->answered = true;
    ev_timer_stop(srv->loop, &call->deadline);
    ev_timer_stop(srv->loop, &call->idem_poll);
    ev_timer_stop(srv->loop, &call->idem_renew);
    call->elapsed = ev_time() - call->start;

    Boussole__V1__RpcResponse resp = BOUSSOLE__V1__RPC_RESPONSE__INIT;
    resp.request_id = call->req && call->req->request_id ? call->req->request_id : "";
    resp.code = (Boussole__V1__Code)call->status;
    resp.message = (char *)(call->message ? call->message : "");
    resp.details = call->details;
    resp.n_details = call->n_details;
    resp.retry_elsewhere = call->retry_elsewhere;
    if (call->status == BSL_STATUS_OK) {
        resp.payload = call->payload;
    }
    size_t len = boussole__v1__rpc_response__get_packed_size(&resp);
    nng_msg *msg = NULL;
    slot *s = call->slot;
    call->slot = NULL;
    if (nng_msg_alloc(&msg, len) == 0) {
        boussole__v1__rpc_response__pack(&resp, nng_msg_body(msg));
        s->state = SLOT_SEND;
        nng_aio_set_msg(s->aio, msg);
        nng_ctx_send(s->ctx, s->aio);
    } else {
        /* No memory for the answer: the caller's deadline will tell it. */
        bsl_log(srv->o.log, BSL_LOG_ERROR, resp.request_id, NULL, "out of memory answering");
        if (srv->closed) {
            s->state = SLOT_IDLE;
        } else {
            post_recv(s);
        }
    }
    for (size_t i = 0; i < srv->n_ics; i++) {
        if (srv->ics[i].after != NULL) {
            srv->ics[i].after(call, srv->ics[i].arg);
        }
    }
    srv->in_flight--;
    bsl_metrics_in_flight(srv->o.metrics, -1);
    call_maybe_free(call);
    check_drain(srv);
}

void bsl_call_vfail(bsl_call *call, bsl_status code, const char *fmt, va_list ap)
{
    if (call->handler_running) {
        if (call->handler_done) {
            bsl_log(call->srv->o.log, BSL_LOG_ERROR, bsl_call_request_id(call), NULL,
                    "handler of %s answered twice", call->method->full_name);
            return;
        }
        call->handler_done = true;
    }
    if (call->answered) {
        call_maybe_free(call); /* a late answer after the deadline */
        return;
    }
    if (code == BSL_STATUS_OK) {
        code = BSL_STATUS_INTERNAL; /* failing with OK is a bug; do not send an empty reply */
    }
    call->status = code;
    call->message = bsl_arena_vprintf(call->arena, fmt, ap);
    if (call->idem_claimed) {
        /* A failed call changed nothing (handlers write atomically or not at all): release
         * the key so that a retry runs again. */
        bsl_redis_command(call->srv->o.redis, 0, NULL, NULL, "DEL %s", call->idem_key);
        call->idem_claimed = false;
    }
    answer(call);
}

void bsl_call_fail(bsl_call *call, bsl_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bsl_call_vfail(call, code, fmt, ap);
    va_end(ap);
}

void bsl_call_fail_field(bsl_call *call, const char *field, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    bsl_call_add_field_violation(call, field, why);
    bsl_call_fail(call, BSL_STATUS_INVALID_ARGUMENT, "%s: %s", field, why);
}

void bsl_call_fail_err(bsl_call *call, int err, const char *what)
{
    bsl_status st = bsl_status_from_err(err);
    if (st == BSL_STATUS_UNAVAILABLE) {
        add_retry_info(call, 200);
    }
    bsl_call_fail(call, st, "%s: %s", what, bsl_strerror(err));
}

/* The stored form of an answer: 'R' + the packed RpcResponse, or, with a reply key, 'S' +
 * nonce + the packed RpcResponse sealed with the Redis key name as associated data. */
static uint8_t *idem_seal(bsl_call *call, const Boussole__V1__RpcResponse *resp, size_t plen,
                          size_t *out_len)
{
    const unsigned char *key = call->srv->reply_key;
    size_t n = 1 + plen +
               (key ? crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                          crypto_aead_xchacha20poly1305_ietf_ABYTES
                    : 0);
    uint8_t *buf = bsl_arena_alloc(call->arena, n);
    uint8_t *plain = key ? bsl_arena_alloc(call->arena, plen ? plen : 1) : buf + 1;
    if (buf == NULL || plain == NULL) {
        return NULL;
    }
    boussole__v1__rpc_response__pack(resp, plain);
    if (key == NULL) {
        buf[0] = 'R';
    } else {
        buf[0] = 'S';
        uint8_t *nonce = buf + 1;
        randombytes_buf(nonce, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
        unsigned long long clen;
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen, plain, plen,
            (const unsigned char *)call->idem_key, strlen(call->idem_key), NULL, nonce, key);
        sodium_memzero(plain, plen);
    }
    *out_len = n;
    return buf;
}

/* Opens what idem_seal stored; NULL when it does not open (another key, tampering). */
static const uint8_t *idem_open(bsl_call *call, const char *data, size_t len, size_t *out_len)
{
    const unsigned char *key = call->srv->reply_key;
    if (len >= 1 && data[0] == 'R' && key == NULL) {
        *out_len = len - 1;
        return (const uint8_t *)data + 1;
    }
    size_t over = 1 + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
                  crypto_aead_xchacha20poly1305_ietf_ABYTES;
    if (key == NULL || len < over || data[0] != 'S') {
        return NULL;
    }
    uint8_t *plain = bsl_arena_alloc(call->arena, len - over + 1);
    const uint8_t *nonce = (const uint8_t *)data + 1;
    unsigned long long mlen;
    if (plain == NULL ||
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            plain, &mlen, NULL, nonce + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            len - 1 - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
            (const unsigned char *)call->idem_key, strlen(call->idem_key), nonce, key) != 0) {
        return NULL;
    }
    *out_len = (size_t)mlen;
    return plain;
}

static void on_idem_stored(const redisReply *reply, int err, void *arg)
{
    bsl_call *call = arg;
    call->idem_busy = false;
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        /* The work is done; only the replay cache is missing. A retry of this key will wait
         * for the claim to expire and then run again, which the handlers make harmless
         * (derived ids, version checks). */
        bsl_log(call->srv->o.log, BSL_LOG_WARN, bsl_call_request_id(call), bsl_call_trace_id(call),
                "could not store the answer of an idempotency key: %s", bsl_strerror(err));
    }
    if (call->answered) {
        call_maybe_free(call);
        return;
    }
    answer(call);
}

void bsl_call_reply(bsl_call *call, const ProtobufCMessage *reply)
{
    if (call->handler_running) {
        if (call->handler_done) {
            bsl_log(call->srv->o.log, BSL_LOG_ERROR, bsl_call_request_id(call), NULL,
                    "handler of %s answered twice", call->method->full_name);
            return;
        }
        call->handler_done = true;
    }
    if (call->answered) {
        call_maybe_free(call);
        return;
    }
    const ProtobufCMessageDescriptor *want =
        call->svc->service->descriptor->methods[call->method->index].output;
    if (reply == NULL || reply->descriptor != want) {
        call->status = BSL_STATUS_INTERNAL;
        call->message = "the handler answered with the wrong message type";
        answer(call);
        return;
    }
    size_t len = protobuf_c_message_get_packed_size(reply);
    if (len > BSL_RESPONSE_MAX_BYTES - ENVELOPE_ALLOWANCE) {
        /* Clients drop a larger message and its connection with it (nng's receive limit):
         * the caller would see a lost connection, then its deadline. A status says why. */
        call->status = BSL_STATUS_RESOURCE_EXHAUSTED;
        call->message =
            bsl_arena_printf(call->arena, "the answer is too large: %zu bytes, at most %u", len,
                             BSL_RESPONSE_MAX_BYTES - ENVELOPE_ALLOWANCE);
        answer(call);
        return;
    }
    uint8_t *buf = bsl_arena_alloc(call->arena, len ? len : 1);
    if (buf == NULL) {
        call->status = BSL_STATUS_RESOURCE_EXHAUSTED;
        call->message = "out of memory";
        answer(call);
        return;
    }
    protobuf_c_message_pack(reply, buf);
    call->payload.data = buf;
    call->payload.len = len;
    call->status = BSL_STATUS_OK;
    if (call->idem_claimed) {
        /* Store the answer before sending it: a repeat of the key that arrives after the
         * caller has its answer must find it. */
        Boussole__V1__RpcResponse stored = BOUSSOLE__V1__RPC_RESPONSE__INIT;
        stored.payload = call->payload;
        size_t plen = boussole__v1__rpc_response__get_packed_size(&stored);
        size_t slen = 0;
        uint8_t *sbuf = idem_seal(call, &stored, plen, &slen);
        if (sbuf != NULL) {
            int rv = bsl_redis_command(call->srv->o.redis, bsl_call_remaining_ms(call) + 1,
                                       on_idem_stored, call, "SET %s %b XX PX %d", call->idem_key,
                                       sbuf, slen, IDEM_TTL_MS);
            if (rv == BSL_OK) {
                call->idem_busy = true;
                return;
            }
        }
    }
    answer(call);
}

static void closure(const ProtobufCMessage *msg, void *closure_data)
{
    bsl_call *call = closure_data;
    if (msg != NULL) {
        bsl_call_reply(call, msg);
    } else if (!call->handler_done) {
        bsl_call_fail(call, BSL_STATUS_INTERNAL, "the handler failed without a status");
    }
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    bsl_call *call = w->data;
    if (call->answered) {
        return;
    }
    /* Answer for the handler; its own answer, when it comes, is dropped. The idempotency
     * claim stays: the handler may still finish, and store its answer for a retry. */
    call->status = BSL_STATUS_DEADLINE_EXCEEDED;
    call->message = bsl_arena_printf(call->arena, "deadline of %s passed", call->method->name);
    answer(call);
}

/* ---- idempotency -------------------------------------------------------------------- */

static void run_handler(bsl_call *call)
{
    call->handler_running = true;
    ProtobufCService *svc = call->svc->service;
    svc->invoke(svc, call->method->index, call->input, closure, call);
}

static void idem_try(bsl_call *call);

/* Keeps the claim alive while the handler runs; fire and forget. */
static void on_idem_renew(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    bsl_call *call = w->data;
    if (!call->idem_claimed || call->handler_done || call->answered) {
        ev_timer_stop(loop, w);
        return;
    }
    bsl_redis_command(call->srv->o.redis, (uint32_t)(IDEM_RENEW_S * 1000), NULL, NULL,
                      "PEXPIRE %s %d", call->idem_key, IDEM_LEASE_MS);
}

static void on_idem_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    idem_try(w->data);
}

static void answer_from_stored(bsl_call *call, const char *data, size_t len)
{
    Boussole__V1__RpcResponse *stored =
        boussole__v1__rpc_response__unpack(bsl_call_allocator(call), len, (const uint8_t *)data);
    if (stored == NULL) {
        call->status = BSL_STATUS_INTERNAL;
        call->message = "the stored answer of this idempotency key is unreadable";
    } else {
        call->status = (bsl_status)stored->code;
        call->message = stored->message;
        call->payload = stored->payload;
    }
    answer(call);
}

static void on_idem_claim(const redisReply *reply, int err, void *arg)
{
    bsl_call *call = arg;
    call->idem_busy = false;
    if (call->answered) {
        if (err == BSL_OK && reply->type == REDIS_REPLY_NIL) {
            /* Claimed after the caller gave up: let a retry have the key. */
            bsl_redis_command(call->srv->o.redis, 0, NULL, NULL, "DEL %s", call->idem_key);
        }
        call_maybe_free(call);
        return;
    }
    if (err != BSL_OK) {
        bsl_call_fail_err(call, err, "idempotency store");
        return;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        call->idem_claimed = true;
        ev_timer_set(&call->idem_renew, IDEM_RENEW_S, IDEM_RENEW_S);
        ev_timer_start(call->srv->loop, &call->idem_renew);
        run_handler(call);
        return;
    }
    if (reply->type == REDIS_REPLY_STRING && reply->len > 1 &&
        (reply->str[0] == 'R' || reply->str[0] == 'S')) {
        size_t n = 0;
        const uint8_t *stored = idem_open(call, reply->str, reply->len, &n);
        if (stored == NULL) {
            bsl_call_fail(call, BSL_STATUS_ABORTED,
                          "this idempotency key was used already and its answer cannot be "
                          "replayed; use a new key");
            return;
        }
        answer_from_stored(call, (const char *)stored, n);
        return;
    }
    if (reply->type == REDIS_REPLY_STRING && reply->len == 1 && reply->str[0] == 'P') {
        /* Another replica (or an earlier attempt) is running this key: wait for its answer,
         * or for its claim to lapse. */
        ev_timer_set(&call->idem_poll, IDEM_POLL_S, 0.);
        ev_timer_start(call->srv->loop, &call->idem_poll);
        return;
    }
    bsl_call_fail(call, BSL_STATUS_INTERNAL, "idempotency store answered %s",
                  reply->type == REDIS_REPLY_ERROR ? reply->str : "something unexpected");
}

static void idem_try(bsl_call *call)
{
    /* The claim outlives the call's deadline a little, so that a retry does not run the
     * method again while this attempt may still be writing. */
    long long lease = IDEM_LEASE_MS;
    int rv = bsl_redis_command(call->srv->o.redis, bsl_call_remaining_ms(call) + 1, on_idem_claim,
                               call, "SET %s P NX GET PX %lld", call->idem_key, lease);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "idempotency store");
        return;
    }
    call->idem_busy = true;
}

static bool idem_key_valid(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > IDEM_KEY_MAX) {
        return false;
    }
    for (; *k != '\0'; k++) {
        if (*k <= 0x20 || *k >= 0x7f) {
            return false;
        }
    }
    return true;
}

static void idem_begin(bsl_call *call)
{
    const char *key = bsl_call_idempotency_key(call);
    if (key[0] == '\0') {
        bsl_call_add_field_violation(call, "metadata.idempotency_key",
                                     "required for a method that is not idempotent");
        bsl_call_fail(call, BSL_STATUS_INVALID_ARGUMENT,
                      "metadata.idempotency_key: required for %s", call->method->full_name);
        return;
    }
    if (!idem_key_valid(key)) {
        bsl_call_fail_field(call, "metadata.idempotency_key",
                            "1 to %d printable ASCII characters without spaces", IDEM_KEY_MAX);
        return;
    }
    if (call->srv->o.redis == NULL) {
        bsl_call_fail(call, BSL_STATUS_INTERNAL, "no idempotency store configured");
        return;
    }
    /* Scoped by method and caller, so that one caller cannot replay another's answer. */
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    char material[512], digest[65];
    int n = snprintf(material, sizeof(material), "%s\n%s\n%d\n%s", call->method->full_name,
                     c->subject ? c->subject : "", (int)c->role, key);
    bsl_sha256_hex(digest, material, (size_t)n < sizeof(material) ? (size_t)n : sizeof(material));
    snprintf(call->idem_key, sizeof(call->idem_key), "idem:{%.40s}", digest);
    idem_try(call);
}

/* ---- dispatch ----------------------------------------------------------------------- */

static served *find_served(bsl_server *srv, const ProtobufCServiceDescriptor *d)
{
    for (size_t i = 0; i < srv->n_services; i++) {
        if (srv->services[i].service->descriptor == d) {
            return &srv->services[i];
        }
    }
    return NULL;
}

static void fail_early(bsl_call *call, bsl_status code, const char *msg)
{
    call->status = code;
    call->message = msg;
    answer(call);
}

static void dispatch_request(bsl_call *call, nng_msg *msg);

static void handle_request(slot *s, nng_msg *msg)
{
    bsl_server *srv = s->srv;
    s->state = SLOT_BUSY;
    bsl_call *call = call_new(srv, s);
    if (call == NULL) {
        nng_msg_free(msg);
        post_recv(s); /* no memory: the caller's deadline will tell it */
        return;
    }
    /* Whatever dispatch does (answer at once, refuse in an interceptor, run a handler that
     * answers synchronously), the call stays valid until it returns. */
    call->in_dispatch = true;
    dispatch_request(call, msg);
    call->in_dispatch = false;
    call_maybe_free(call);
}

static void dispatch_request(bsl_call *call, nng_msg *msg)
{
    bsl_server *srv = call->srv;
    ev_timer_init(&call->deadline, on_deadline, 0., 0.);
    call->deadline.data = call;
    ev_timer_init(&call->idem_poll, on_idem_poll, 0., 0.);
    call->idem_poll.data = call;
    ev_timer_init(&call->idem_renew, on_idem_renew, 0., 0.);
    call->idem_renew.data = call;

    bsl__decoded d;
    bsl__decode_envelope(nng_msg_body(msg), nng_msg_len(msg), srv->o.max_message_bytes, call->arena,
                         &d);
    nng_msg_free(msg); /* unpack copied what it needs into the arena */
    call->req = d.req;
    if (d.status != BSL_STATUS_OK) {
        fail_early(call, d.status, d.message);
        return;
    }
    call->method = d.method;
    call->svc = find_served(srv, call->method->service);
    if (call->svc == NULL) {
        char *m = bsl_arena_printf(call->arena, "method '%.200s' is not served by %s",
                                   call->method->full_name, srv->service);
        call->method = NULL;
        fail_early(call, BSL_STATUS_UNIMPLEMENTED, m ? m : "method not served here");
        return;
    }
    call->metric_id = call->svc->metric_ids[call->method->index];

    if (atomic_load(&srv->draining)) {
        call->retry_elsewhere = true;
        add_retry_info(call, 0);
        fail_early(call, BSL_STATUS_UNAVAILABLE, "this replica is shutting down");
        return;
    }
    int32_t budget = call->req->deadline_ms;
    if (budget < 0) {
        fail_early(call, BSL_STATUS_DEADLINE_EXCEEDED,
                   "the deadline passed before the call arrived");
        return;
    }
    if (budget == 0) {
        budget = (int32_t)(call->method->default_timeout_ms ? call->method->default_timeout_ms
                                                            : srv->o.default_deadline_ms);
    }
    if ((uint32_t)budget > srv->o.max_deadline_ms) {
        budget = (int32_t)srv->o.max_deadline_ms;
    }
    call->deadline_at = ev_now(srv->loop) + budget / 1e3;
    ev_timer_set(&call->deadline, budget / 1e3, 0.);
    ev_timer_start(srv->loop, &call->deadline);

    if (bsl__decode_payload(call->arena, &d) != BSL_STATUS_OK) {
        if (d.field[0] != '\0') {
            bsl_call_add_field_violation(call, d.field, d.message + strlen(d.field) + 2);
        }
        bsl_call_fail(call, d.status, "%s", d.message);
        return;
    }
    call->input = d.input;
    for (size_t i = 0; i < srv->n_ics; i++) {
        if (srv->ics[i].before != NULL && !srv->ics[i].before(call, srv->ics[i].arg)) {
            if (!call->answered) {
                bsl_call_fail(call, BSL_STATUS_INTERNAL, "interceptor %s refused the call",
                              srv->ics[i].name);
            }
            return;
        }
    }
    if (call->method->idempotency == BSL_IDEMPOTENCY_UNKNOWN) {
        idem_begin(call);
        return;
    }
    run_handler(call);
}

/* ---- accessors ---------------------------------------------------------------------- */

static const Boussole__V1__Caller no_caller = BOUSSOLE__V1__CALLER__INIT;
static const Boussole__V1__Metadata no_metadata = BOUSSOLE__V1__METADATA__INIT;

const bsl_method_info *bsl_call_method(const bsl_call *call)
{
    return call->method;
}

const ProtobufCMessage *bsl_call_request(const bsl_call *call)
{
    return call->input;
}

const Boussole__V1__Metadata *bsl_call_metadata(const bsl_call *call)
{
    return call->req && call->req->metadata ? call->req->metadata : &no_metadata;
}

const Boussole__V1__Caller *bsl_call_caller(const bsl_call *call)
{
    const Boussole__V1__Metadata *md = bsl_call_metadata(call);
    return md->caller ? md->caller : &no_caller;
}

const char *bsl_call_request_id(const bsl_call *call)
{
    return call->req && call->req->request_id ? call->req->request_id : "";
}

const char *bsl_call_trace_id(const bsl_call *call)
{
    const char *t = bsl_call_metadata(call)->trace_id;
    return t ? t : "";
}

const char *bsl_call_idempotency_key(const bsl_call *call)
{
    const char *k = bsl_call_metadata(call)->idempotency_key;
    return k ? k : "";
}

uint32_t bsl_call_remaining_ms(const bsl_call *call)
{
    double left = call->deadline_at - ev_now(call->srv->loop);
    return left <= 0 ? 0 : (uint32_t)(left * 1e3);
}

bsl_arena *bsl_call_arena(bsl_call *call)
{
    return call->arena;
}

ProtobufCAllocator *bsl_call_allocator(bsl_call *call)
{
    return bsl_arena_allocator(call->arena);
}

bsl_clock *bsl_call_clock(const bsl_call *call)
{
    return call->srv->o.clock;
}

const bsl_logger *bsl_call_log(const bsl_call *call)
{
    return call->srv->o.log;
}

struct ev_loop *bsl_call_loop(const bsl_call *call)
{
    return call->srv->loop;
}

bsl_redis *bsl_call_redis(const bsl_call *call)
{
    return call->srv->o.redis;
}

ProtobufCService *bsl_call_service(const bsl_call *call)
{
    return call->svc ? call->svc->service : NULL;
}

bsl_status bsl_call_status(const bsl_call *call)
{
    return call->status;
}

double bsl_call_elapsed(const bsl_call *call)
{
    return call->answered ? call->elapsed : ev_time() - call->start;
}

bool bsl_call_answered(const bsl_call *call)
{
    return call->answered;
}

bsl_server *bsl__call_server(const bsl_call *call)
{
    return call->srv;
}

int bsl__call_metric_id(const bsl_call *call)
{
    return call->metric_id;
}

/* ---- server ------------------------------------------------------------------------- */

int bsl_server_create(bsl_server **out, struct ev_loop *loop, const bsl_server_options *opts,
                      char *errbuf, size_t errlen)
{
    if (opts->n_listen == 0 || opts->n_listen > MAX_LISTENERS) {
        snprintf(errbuf, errlen, "between 1 and %d listen URLs are needed", MAX_LISTENERS);
        return BSL_EINVAL;
    }
    bsl_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        return BSL_ENOMEM;
    }
    srv->loop = loop;
    srv->o = *opts;
    snprintf(srv->service, sizeof(srv->service), "%s", opts->service ? opts->service : "boussole");
    srv->o.service = srv->service;
    if (!srv->o.max_message_bytes) {
        srv->o.max_message_bytes = 1 << 20;
    }
    if (!srv->o.contexts) {
        srv->o.contexts = 256;
    }
    if (!srv->o.default_deadline_ms) {
        srv->o.default_deadline_ms = 10000;
    }
    if (!srv->o.max_deadline_ms) {
        srv->o.max_deadline_ms = 60000;
    }
    if (!srv->o.drain_quiet_ms) {
        srv->o.drain_quiet_ms = 100;
    }
    for (size_t i = 0; i < opts->n_listen; i++) {
        if ((srv->urls[i] = strdup(opts->listen_urls[i])) == NULL) {
            bsl_server_free(srv);
            return BSL_ENOMEM;
        }
        srv->n_urls++;
    }
    srv->o.listen_urls = NULL;
    if (opts->reply_cache_key != NULL) {
        srv->reply_key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
        if (srv->reply_key == NULL) {
            bsl_server_free(srv);
            return BSL_ENOMEM;
        }
        memcpy(srv->reply_key, opts->reply_cache_key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
        srv->o.reply_cache_key = NULL;
    }
    int rv;
    if ((rv = nng_rep0_open(&srv->sock)) != 0) {
        snprintf(errbuf, errlen, "cannot open a REP socket: %s", nng_strerror(rv));
        bsl_server_free(srv);
        return BSL_ENNG;
    }
    srv->sock_open = true;
    /* Messages a little above the limit still arrive, so that they can be refused with
     * RESOURCE_EXHAUSTED; far above it, nng drops the connection before buffering them. */
    nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, srv->o.max_message_bytes * 2 + 4096);
    if ((rv = bsl_evnng_create(&srv->bridge, loop)) != BSL_OK) {
        bsl_server_free(srv);
        return rv;
    }
    ev_timer_init(&srv->drain_grace, NULL, 0., 0.);
    ev_timer_init(&srv->drain_quiet, NULL, 0., 0.);
    if ((rv = bsl__builtin_init(srv, &srv->builtin)) != BSL_OK) {
        bsl_server_free(srv);
        return rv;
    }
    *out = srv;
    return BSL_OK;
}

int bsl_server_add_service(bsl_server *srv, ProtobufCService *service)
{
    if (srv->n_services == MAX_SERVICES) {
        return BSL_ETOOBIG;
    }
    const ProtobufCServiceDescriptor *d = service->descriptor;
    const bsl_service_info *info = bsl_schema_service(d->name);
    if (info == NULL || d->n_methods > 64) {
        return BSL_EINVAL;
    }
    /* The handlers follow the ProtobufCService header in the generated struct. */
    void (*const *handlers)(void) = (void (*const *)(void))(service + 1);
    for (unsigned i = 0; i < d->n_methods; i++) {
        if (handlers[i] == NULL) {
            return BSL_EINVAL;
        }
    }
    served *s = &srv->services[srv->n_services];
    s->service = service;
    s->info = info;
    for (unsigned i = 0; i < d->n_methods; i++) {
        char name[256];
        snprintf(name, sizeof(name), "%s/%s", d->name, d->methods[i].name);
        s->metric_ids[i] = srv->o.metrics ? bsl_metrics_add_method(srv->o.metrics, name) : -1;
    }
    srv->n_services++;
    return BSL_OK;
}

int bsl_server_add_interceptor(bsl_server *srv, const bsl_interceptor *ic)
{
    if (srv->n_ics == MAX_INTERCEPTORS) {
        return BSL_ETOOBIG;
    }
    srv->ics[srv->n_ics++] = *ic;
    return BSL_OK;
}

int bsl_server_start(bsl_server *srv, char *errbuf, size_t errlen)
{
    int rv;
    for (size_t i = 0; i < srv->n_urls; i++) {
        const char *url = srv->urls[i];
        nng_listener l;
        if ((rv = nng_listener_create(&l, srv->sock, url)) != 0) {
            snprintf(errbuf, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
            return BSL_ENNG;
        }
        if (strncmp(url, "tls+tcp://", 10) == 0) {
            if (srv->tls == NULL &&
                (rv = bsl_tls_config(&srv->tls, srv->o.tls, true, NULL, errbuf, errlen)) != 0) {
                nng_listener_close(l);
                return rv;
            }
            nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, srv->tls);
        }
        if ((rv = nng_listener_start(l, 0)) != 0) {
            snprintf(errbuf, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
            nng_listener_close(l);
            return BSL_ENNG;
        }
        srv->listeners[srv->n_listeners++] = l;
    }
    srv->slots = calloc(srv->o.contexts, sizeof(slot));
    if (srv->slots == NULL) {
        return BSL_ENOMEM;
    }
    for (unsigned i = 0; i < srv->o.contexts; i++) {
        slot *s = &srv->slots[i];
        s->srv = srv;
        s->task.fn = on_slot_task;
        s->task.arg = s;
        if ((rv = nng_ctx_open(&s->ctx, srv->sock)) != 0 ||
            (rv = nng_aio_alloc(&s->aio, on_aio, s)) != 0) {
            snprintf(errbuf, errlen, "cannot open REP contexts: %s", nng_strerror(rv));
            return BSL_ENNG;
        }
        srv->n_slots++;
        post_recv(s);
    }
    /* The server keeps the loop running until it is closed. */
    bsl_evnng_keepalive(srv->bridge, 1);
    return BSL_OK;
}

int bsl_server_port(const bsl_server *srv, size_t n)
{
    if (n >= srv->n_listeners) {
        return -1;
    }
    int port;
    if (nng_listener_get_int(srv->listeners[n], NNG_OPT_TCP_BOUND_PORT, &port) != 0) {
        return -1;
    }
    return port;
}

static void close_socket(bsl_server *srv)
{
    if (!srv->closed) {
        srv->closed = true;
        for (size_t i = 0; i < srv->n_listeners; i++) {
            nng_listener_close(srv->listeners[i]);
        }
        /* Every context's operation stopped (and its callback finished) before the socket
         * closes: nng 1.5.2's nng_close can wait forever for a context that a callback on
         * another thread is re-arming at that moment (nng issues #1543 and #1813; seen here
         * as a drained service that never exited). A stopped aio refuses new operations. */
        for (unsigned i = 0; i < srv->n_slots; i++) {
            nng_aio_stop(srv->slots[i].aio);
        }
        if (srv->sock_open) {
            bool suspended = bsl_cpu_policy_suspend(); /* see sched.h */
            nng_close(srv->sock);
            bsl_cpu_policy_resume(suspended);
            srv->sock_open = false;
        }
        bsl_evnng_keepalive(srv->bridge, 0);
    }
}

static void finish_drain(bsl_server *srv)
{
    ev_timer_stop(srv->loop, &srv->drain_grace);
    ev_timer_stop(srv->loop, &srv->drain_quiet);
    /* Told first, so that the owner can bound what follows (exitguard.h): closing the socket
     * is where nng 1.5.2 may hang. */
    if (srv->drain_done != NULL) {
        void (*done)(bsl_server *, void *) = srv->drain_done;
        srv->drain_done = NULL;
        done(srv, srv->drain_arg);
    }
    close_socket(srv);
}

static void on_drain_quiet(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    bsl_server *srv = w->data;
    if (srv->in_flight == 0) {
        finish_drain(srv);
    }
}

static void on_drain_grace(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    bsl_server *srv = w->data;
    /* Out of time: answer what is left so that callers retry elsewhere rather than wait. */
    bsl_call *call = srv->calls;
    while (call != NULL) {
        bsl_call *next = call->next;
        if (!call->answered) {
            call->status = BSL_STATUS_UNAVAILABLE;
            call->message = "this replica shut down before the call finished";
            call->retry_elsewhere = true;
            answer(call);
        }
        call = next;
    }
    finish_drain(srv);
}

static void check_drain(bsl_server *srv)
{
    if (atomic_load(&srv->draining) && srv->in_flight == 0 && srv->drain_done != NULL &&
        !ev_is_active(&srv->drain_quiet)) {
        /* A short quiet period lets the last replies leave before the socket closes. */
        ev_timer_set(&srv->drain_quiet, srv->o.drain_quiet_ms / 1e3, 0.);
        ev_timer_start(srv->loop, &srv->drain_quiet);
    }
}

void bsl_server_drain(bsl_server *srv, uint32_t grace_ms, void (*done)(bsl_server *, void *),
                      void *arg)
{
    if (atomic_exchange(&srv->draining, 1)) {
        return;
    }
    bsl_log(srv->o.log, BSL_LOG_INFO, NULL, NULL, "draining: %u calls in flight", srv->in_flight);
    /* The listeners stay open until the end: closing an nng listener also closes the
     * connections it accepted, and the answers of the calls in flight must still go out on
     * them. Calls that arrive meanwhile are answered "retry elsewhere". */
    srv->drain_done = done;
    srv->drain_arg = arg;
    ev_init(&srv->drain_grace, on_drain_grace);
    srv->drain_grace.data = srv;
    ev_timer_set(&srv->drain_grace, grace_ms / 1e3, 0.);
    ev_timer_start(srv->loop, &srv->drain_grace);
    ev_init(&srv->drain_quiet, on_drain_quiet);
    srv->drain_quiet.data = srv;
    check_drain(srv);
}

bool bsl_server_draining(const bsl_server *srv)
{
    return atomic_load(&((bsl_server *)srv)->draining) != 0;
}

unsigned bsl_server_in_flight(const bsl_server *srv)
{
    return srv->in_flight;
}

bool bsl_server_ready(void *arg, char *why, size_t cap)
{
    bsl_server *srv = arg;
    if (atomic_load(&srv->draining)) {
        snprintf(why, cap, "draining");
        return false;
    }
    if (srv->o.redis != NULL && !bsl_redis_ready(srv->o.redis)) {
        snprintf(why, cap, "Redis is not reachable");
        return false;
    }
    return true;
}

void bsl_server_free(bsl_server *srv)
{
    if (srv == NULL) {
        return;
    }
    srv->closed = true;
    ev_timer_stop(srv->loop, &srv->drain_grace);
    ev_timer_stop(srv->loop, &srv->drain_quiet);
    if (srv->sock_open) {
        bool suspended = bsl_cpu_policy_suspend(); /* see sched.h */
        nng_close(srv->sock);
        bsl_cpu_policy_resume(suspended);
        srv->sock_open = false;
    }
    for (unsigned i = 0; i < srv->n_slots; i++) {
        slot *s = &srv->slots[i];
        nng_aio_stop(s->aio);
        /* A completion whose task never ran may have left a message with us. */
        if (atomic_load(&s->posted)) {
            if (s->state == SLOT_RECV && s->result == 0) {
                nng_msg_free(nng_aio_get_msg(s->aio));
            }
        }
    }
    if (srv->bridge != NULL) {
        bsl_evnng_keepalive(srv->bridge, 0);
        bsl_evnng_free(srv->bridge); /* queued tasks refer to slots: dropped, not run */
    }
    for (unsigned i = 0; i < srv->n_slots; i++) {
        nng_aio_free(srv->slots[i].aio);
    }
    while (srv->calls != NULL) {
        call_free(srv->calls);
    }
    free(srv->slots);
    if (srv->tls != NULL) {
        nng_tls_config_free(srv->tls);
    }
    for (size_t i = 0; i < srv->n_urls; i++) {
        free(srv->urls[i]);
    }
    if (srv->reply_key != NULL) {
        sodium_free(srv->reply_key);
    }
    free(srv);
}

/* ---- default interceptors ----------------------------------------------------------- */

static bool ic_deadline(bsl_call *call, void *arg)
{
    (void)arg;
    if (bsl_call_remaining_ms(call) == 0) {
        bsl_call_fail(call, BSL_STATUS_DEADLINE_EXCEEDED, "no time left for %s",
                      call->method->name);
        return false;
    }
    return true;
}

static const char *role_name(int role)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&boussole__v1__role__descriptor, role);
    return v ? v->name : "ROLE_UNKNOWN";
}

/* The policy declared in the .proto: internal methods for services only, and no anonymous
 * caller unless the method takes its credentials in the request. */
static bool ic_policy(bsl_call *call, void *arg)
{
    (void)arg;
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    if (call->method->internal && c->role != BOUSSOLE__V1__ROLE__ROLE_SERVICE) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED, "%s is for Boussole services only",
                      call->method->full_name);
        return false;
    }
    bool known = c->role != BOUSSOLE__V1__ROLE__ROLE_UNSPECIFIED && c->subject &&
                 bsl_subject_valid(c->subject);
    if (!call->method->anonymous && !known) {
        bsl_call_fail(call, BSL_STATUS_UNAUTHENTICATED, "%s needs an authenticated caller",
                      call->method->full_name);
        return false;
    }
    return true;
}

static void ic_log(bsl_call *call, void *arg)
{
    (void)arg;
    bsl_server *srv = call->srv;
    bsl_status st = call->status;
    bsl_log_level lvl =
        (st == BSL_STATUS_INTERNAL || st == BSL_STATUS_UNKNOWN || st == BSL_STATUS_DATA_LOSS)
            ? BSL_LOG_ERROR
            : BSL_LOG_INFO;
    if (!bsl_log_enabled(srv->o.log, lvl)) {
        return;
    }
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    bsl_log_field f[] = {
        BSL_LOG_STR("method", call->method ? call->method->full_name : "?"),
        BSL_LOG_STR("code", bsl_status_name(st)),
        BSL_LOG_INT("duration_us", (long long)(call->elapsed * 1e6)),
        BSL_LOG_STR("caller_role", role_name(c->role)),
    };
    bsl_log_with(srv->o.log, lvl, bsl_call_request_id(call), bsl_call_trace_id(call), f, 4, "%s",
                 st == BSL_STATUS_OK ? "call"
                 : call->message     ? call->message
                                     : "");
}

static void ic_metrics(bsl_call *call, void *arg)
{
    (void)arg;
    bsl_metrics_observe(call->srv->o.metrics, call->metric_id, (int)call->status, call->elapsed);
}

int bsl_server_add_default_interceptors(bsl_server *srv)
{
    const bsl_interceptor ics[] = {
        { "deadline", ic_deadline, NULL, NULL },
        { "policy", ic_policy, NULL, NULL },
        { "log", NULL, ic_log, NULL },
        { "metrics", NULL, ic_metrics, NULL },
    };
    for (size_t i = 0; i < sizeof(ics) / sizeof(ics[0]); i++) {
        int rv = bsl_server_add_interceptor(srv, &ics[i]);
        if (rv != BSL_OK) {
            return rv;
        }
    }
    return BSL_OK;
}

/* For builtin.c */
size_t bsl__server_services(const bsl_server *srv, const bsl_service_info **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < srv->n_services && n < cap; i++) {
        out[n++] = srv->services[i].info;
    }
    return n;
}
