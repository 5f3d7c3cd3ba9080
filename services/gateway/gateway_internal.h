/*
 * The gateway's insides, shared by its files:
 *   gateway.c  creation, configuration, backends, drain, shutdown
 *   front.c    nng's side: the HTTP handler, body reading, handing over, answering
 *   rpc.c      a Connect call on the loop: checks, authentication, transcoding, backend call
 *   admin.c    /healthz, /readyz, /metrics, /openapi.json, CORS preflight, and the Health and
 *              Reflection services the gateway answers itself
 */
#ifndef GW_GATEWAY_INTERNAL_H
#define GW_GATEWAY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "boussole/arena.h"
#include "boussole/client.h"
#include "boussole/evnng.h"
#include "boussole/fastid.h"
#include "boussole/schema.h"
#include "connect.h"
#include "cors.h"
#include "gateway.h"
#include "meta.h"
#include "ratelimit.h"

#define GW_URI_MAX      8192
#define GW_HEADER_MAX   8192 /* a header value we copy; longer ones are refused */
#define GW_CHUNK_LINE   256  /* a chunk-size line */
#define GW_TRAILERS_MAX 8192

typedef struct gw_req gw_req;

/* Why a request body could not be taken. */
typedef enum {
    GW_BODY_OK = 0,
    GW_BODY_TOO_BIG,     /* over max_body_bytes */
    GW_BODY_BAD_FRAMING, /* bad Content-Length, both framings, broken chunked encoding */
    GW_BODY_UNSUPPORTED, /* a Transfer-Encoding other than chunked */
    GW_BODY_IO,          /* the connection failed while reading */
    GW_BODY_TIMEOUT,     /* the body did not arrive within body_timeout_ms */
    GW_BODY_URI,         /* the request line is too long */
    GW_BODY_HEADER,      /* a header we need is too long */
    GW_BODY_MEMORY,
} gw_body_error;

typedef enum {
    RD_IDLE,
    RD_CONTINUE,   /* writing "100 Continue" */
    RD_LENGTH,     /* reading Content-Length bytes */
    RD_CH_LINE,    /* reading a chunk-size line */
    RD_CH_DATA,    /* reading chunk data */
    RD_CH_AFTER,   /* reading the CRLF after chunk data and the start of the next line */
    RD_CH_TRAILER, /* reading trailer lines after the last chunk */
} gw_read_state;

/* The request headers the gateway looks at, copied on nng's thread (the nng_http_req goes away
 * when the handler's aio completes, possibly before the loop is done). NULL when absent. */
typedef struct gw_headers {
    const char *content_type;
    const char *content_encoding;
    const char *authorization;
    const char *connect_version;
    const char *connect_timeout;
    const char *origin;
    const char *acr_method;  /* Access-Control-Request-Method */
    const char *acr_headers; /* Access-Control-Request-Headers */
    const char *request_id;
    const char *traceparent;
    const char *idempotency_key;
    const char *forwarded_for;
} gw_headers;

struct gw_req {
    gw_gateway *g;
    gw_req *prev, *next; /* g->live, under g->mtx */
    /* The server's handler aio: NULL once answered or cancelled (under g->mtx). */
    nng_aio *aio;
    nng_http_conn *conn;
    nng_aio *io; /* our body reads (and the 100 Continue write); NULL when none */
    bsl_evnng_task task;
    bsl_arena *arena;
    double t0; /* monotonic seconds when the handler ran */

    char method[16];
    char *path;  /* arena; without the query */
    char *query; /* arena; "" when none */
    gw_headers h;
    bool expect_continue;
    bool close; /* answer with Connection: close */

    /* body */
    gw_body_error body_error;
    gw_read_state rd;
    uint8_t *body; /* malloc'd */
    size_t body_len, body_cap;
    uint8_t line[GW_CHUNK_LINE];
    size_t line_len;
    size_t chunk_left;
    size_t trailer_bytes;
    double body_deadline; /* monotonic seconds by which the whole body must be in */

    /* on the loop */
    const bsl_method_info *m;
    int metric_id;
    gw_codec codec;
    bool cors; /* add the CORS response headers */
    char request_id[GW_REQUEST_ID_MAX + 1];
    char trace_id[33];
    char parent_id[17];
    int role;        /* caller's role, for the log line */
    bsl_status code; /* outcome, for metrics and the log line */
    int http_status;
    int pending; /* fan-out calls still out (readyz, Health/Check) */
    bool fanout_ok;
    char fanout_why[256];
    bool counted; /* in the in-flight gauge */
    const char *backend;
};

struct gw_gateway {
    struct ev_loop *loop;
    gw_config cfg;
    nng_http_server *server;
    nng_http_handler *handler;
    nng_url *url;
    nng_tls_config *front_tls;
    int port;
    bsl_evnng *bridge;
    pthread_mutex_t mtx;
    gw_req *live; /* every request between its handler and its end */
    bsl_metrics *metrics;
    bsl_counter *auth_failures, *rate_limited, *jwt_hits, *jwt_checks, *http_errors;
    int metric_other;        /* requests that name no method */
    int *metric_ids;         /* per schema method (indexed like bsl__schema_methods) */
    gw_backend **by_service; /* per schema service (indexed like bsl_schema_services) */
    gw_jwt *jwt;
    gw_ratelimit *limiter;
    gw_cors *cors;
    bsl_fastid ids; /* request and trace ids (loop) */
    char *openapi; /* the document, built once */
    size_t openapi_len;
    unsigned active; /* requests handed to the loop and not answered */
    bool draining;
    ev_timer drain_timer;
    void (*drain_done)(void *);
    void *drain_arg;
};

/* ---- front.c ------------------------------------------------------------------------- */

/* The nng handler (nng thread). */
void gw__on_http(nng_aio *aio);

/* Answers r with status, content type and body (copied), adding the common headers (request
 * id, CORS, Cache-Control), then releases r. extra: NULL-terminated name/value pairs. */
void gw__respond(gw_req *r, int status, const char *content_type, const void *body, size_t len,
                 const char *const *extra);

/* Answers with a Connect error body. http_status 0: the status the code maps to. */
void gw__respond_error(gw_req *r, int http_status, bsl_status code, const char *message,
                       Boussole__V1__ErrorDetail *const *details, size_t n_details,
                       const char *const *extra);

/* Frees a request (loop, or shutdown). A request still holding the handler's aio completes it
 * with an error, which makes nng close the connection. */
void gw__req_free(gw_req *r);

/* Frees a request the loop was working on, without answering (the client is gone). */
void gw__req_drop(gw_req *r);

/* Whether the client is still waiting (not cancelled). */
bool gw__req_alive(gw_req *r);

/* ---- rpc.c --------------------------------------------------------------------------- */

/* Serves a POST or GET /<service>/<method>. */
void gw__rpc(gw_req *r);

/* ---- admin.c ------------------------------------------------------------------------- */

void gw__healthz(gw_req *r);
void gw__readyz(gw_req *r);
void gw__metrics(gw_req *r);
void gw__openapi(gw_req *r);
void gw__preflight(gw_req *r);

/* The Health and Reflection services, answered by the gateway from its routes. `in` is the
 * decoded request; the answer goes through gw__rpc_reply. */
void gw__local_call(gw_req *r, const ProtobufCMessage *in);

/* Sends a successful answer in the request's codec (rpc.c). */
void gw__rpc_reply(gw_req *r, const ProtobufCMessage *out);

/* ---- gateway.c ------------------------------------------------------------------------ */

/* The backend serving a method's service, or NULL. */
gw_backend *gw__backend_of(const gw_gateway *g, const bsl_method_info *m);

/* A service the gateway answers itself (Health, Reflection). */
bool gw__local_service(const bsl_method_info *m);

/* The metrics id of a method (registered at start). */
int gw__metric_id(const gw_gateway *g, const bsl_method_info *m);

/* Called when a request ends (answered or dropped): drain bookkeeping. */
void gw__request_done(gw_gateway *g);

#endif /* GW_GATEWAY_INTERNAL_H */
