/*
 * The RPC client: calls a service's methods from a libev loop, many calls in flight, each with
 * a deadline. The gateway and the services calling each other use the same client.
 *
 * Topology: the caller dials every replica. A target such as "tcp://questionnaires:7102" is
 * resolved again every few seconds and each address it resolves to (each replica, behind a
 * Compose service name or a Kubernetes headless Service) gets its own REQ socket, so the
 * client knows which replica each call went to. A call goes to the connected replica with the
 * fewest calls in flight. When a replica's connection drops, or a draining replica answers
 * "retry elsewhere", the calls it held are sent again to another replica; a draining replica
 * then gets no new call until it connects again. A request that its replica's connection has
 * not taken within half a second (a connection dropped before nng reported it, a peer that
 * stopped reading) never went out: it goes to another replica too. Every call may be
 * sent again: reads and idempotent writes by nature, the others because they carry an
 * idempotency key (generated here when the caller gives none) that the server deduplicates.
 * A replica whose calls keep timing out (a network cut) is set aside and probed with health
 * checks until it answers again.
 *
 * Everything here runs on the loop thread. Callbacks are never called from inside the function
 * that starts the call.
 */
#ifndef BOUSSOLE_CLIENT_H
#define BOUSSOLE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <protobuf-c/protobuf-c.h>

#include "boussole/log.h"
#include "boussole/schema.h"
#include "boussole/status.h"
#include "boussole/tls.h"
#include "boussole/v1/rpc.pb-c.h"

typedef struct bsl_client bsl_client;

typedef struct bsl_client_options {
    /* Comma-separated URLs: tcp://host:port (host re-resolved), tls+tcp://host:port,
     * ipc:///path, inproc://name. */
    const char *target;
    const char *name;             /* for logs: "sessions" */
    uint32_t resolve_interval_ms; /* default 2000 */
    uint32_t default_deadline_ms; /* when neither call nor method gives one; default 10000 */
    uint32_t connect_wait_ms;     /* how long a call waits for a first connection; 1000 */
    unsigned max_attempts;        /* sends of one call, retries included; default 3 */
    size_t max_message_bytes;     /* default 1 MiB */
    const bsl_tls_options *tls;   /* required for tls+tcp:// */
    const bsl_logger *log;
} bsl_client_options;

/* Per-call options; every field may be left zero. */
typedef struct bsl_call_opts {
    const Boussole__V1__Caller *caller; /* NULL: anonymous */
    const char *request_id;             /* NULL: generated */
    const char *trace_id;               /* NULL: a new trace */
    const char *parent_span_id;
    const char *idempotency_key; /* NULL: generated when the method needs one */
    uint32_t deadline_ms;        /* 0: the method's default, else the client's */
    const Boussole__V1__KeyValue *const *extra;
    size_t n_extra;
} bsl_call_opts;

/* The outcome of a call, borrowed for the duration of the callback. */
typedef struct bsl_reply {
    bsl_status code;
    const char *message;                       /* "" on success */
    const Boussole__V1__RpcResponse *envelope; /* NULL when the call failed locally */
    const uint8_t *payload;                    /* the encoded response message */
    size_t payload_len;
    const ProtobufCMessage *msg; /* typed calls: the decoded response; NULL unless OK */
    const char *replica;         /* URL of the replica that answered, or "" */
    unsigned attempts;
} bsl_reply;

typedef void (*bsl_client_cb)(const bsl_reply *reply, void *arg);

int bsl_client_create(bsl_client **out, struct ev_loop *loop, const bsl_client_options *opts,
                      char *errbuf, size_t errlen);

/* Answers every pending call CANCELLED, closes every socket and frees. */
void bsl_client_free(bsl_client *c);

/*
 * Calls `method` ("boussole.v1.SessionService/GetBilan") with `req`, a message of the method's
 * input type (encoded before return). The callback receives the decoded response. Returns
 * BSL_OK (the callback will run) or an error (it will not): BSL_ENOTFOUND for an unknown
 * method, BSL_EINVAL for a request of the wrong type, BSL_ETOOBIG, BSL_ENOMEM.
 */
int bsl_client_call(bsl_client *c, const char *method, const ProtobufCMessage *req,
                    const bsl_call_opts *opts, bsl_client_cb cb, void *arg);

/* Same with an already encoded request (the gateway's path); reply->msg stays NULL. */
int bsl_client_call_raw(bsl_client *c, const bsl_method_info *method, const uint8_t *payload,
                        size_t len, const bsl_call_opts *opts, bsl_client_cb cb, void *arg);

/* Number of replicas known, and of those connected. */
void bsl_client_replicas(const bsl_client *c, unsigned *known, unsigned *connected);

/* ---- blocking calls, for tests and tools ------------------------------------------- */

typedef struct bsl_sync_client bsl_sync_client;

/* A client with its own private loop. */
int bsl_sync_client_create(bsl_sync_client **out, const bsl_client_options *opts, char *errbuf,
                           size_t errlen);
void bsl_sync_client_free(bsl_sync_client *sc);

/*
 * Calls and waits. On CODE_OK, *resp (when resp is not NULL) receives the decoded response,
 * which the caller frees with protobuf_c_message_free_unpacked(*resp, NULL). The message
 * (possibly empty) is copied into msgbuf; details, when wanted, into *details_out (free with
 * boussole__v1__rpc_response__free_unpacked). Returns the status.
 */
bsl_status bsl_sync_call(bsl_sync_client *sc, const char *method, const ProtobufCMessage *req,
                         const bsl_call_opts *opts, ProtobufCMessage **resp, char *msgbuf,
                         size_t msglen);

/* The envelope of the last answer (NULL if the last call failed locally); valid until the
 * next call. */
const Boussole__V1__RpcResponse *bsl_sync_last_envelope(const bsl_sync_client *sc);

/* The loop of a sync client, e.g. to run it while waiting for replicas. */
struct ev_loop *bsl_sync_client_loop(bsl_sync_client *sc);
bsl_client *bsl_sync_client_client(bsl_sync_client *sc);

#endif /* BOUSSOLE_CLIENT_H */
