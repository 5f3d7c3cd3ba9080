/*
 * The gateway's insides, shared by its files:
 *   gateway.c  creation, configuration, backends, drain, shutdown
 *   httpd.c    libmicrohttpd on the gateway's loop: the listening socket, TLS, driving MHD
 *   front.c    a request's life: MHD's callbacks, the body, dispatch, the answer, the log line
 *   rpc.c      a Connect call: checks, authentication, transcoding, backend call
 *   admin.c    /healthz, /readyz, /metrics, /openapi.json, CORS preflight, and the Health and
 *              Reflection services the gateway answers itself
 *
 * Everything runs on the loop's thread: MHD is driven from the loop (external polling with
 * epoll), and the backends' answers come back to the loop through the client runtime.
 */
#ifndef GW_GATEWAY_INTERNAL_H
#define GW_GATEWAY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <sys/socket.h>

#include <microhttpd.h>

#include "boussole/arena.h"
#include "boussole/client.h"
#include "boussole/fastid.h"
#include "boussole/schema.h"
#include "connect.h"
#include "cors.h"
#include "gateway.h"
#include "meta.h"
#include "ratelimit.h"
#include "target.h"

#define GW_URI_MAX    8192 /* a request-target we take; longer ones get 414 */
#define GW_HEADER_MAX 8192 /* a header value we take; longer ones get 431 */
/* Memory MHD gives each connection for the request line, the headers and its buffers: a head
 * that does not fit gets MHD's 431 (or 414) and the connection closed. 16 KiB holds a head of
 * about 12 KB (Node.js takes 16 KiB of headers, nginx 8 KiB per line), over what the gateway
 * itself takes (8 KiB per value). Not more: MHD zeroes the whole of it after every request of
 * a keep-alive connection, which at 32 KiB was 8 % of the gateway's CPU under load. */
#define GW_CONNECTION_MEMORY (16 * 1024)

typedef struct gw_req gw_req;

/* Why a request cannot be served from what came before its body, or with its body. */
typedef enum {
    GW_BODY_OK = 0,
    GW_BODY_TOO_BIG,     /* over max_body_bytes */
    GW_BODY_BAD_FRAMING, /* both framings, or a Content-Length twice or not a number */
    GW_BODY_UNSUPPORTED, /* a Transfer-Encoding other than chunked */
    GW_BODY_URI,         /* the request-target is too long */
    GW_BODY_HEADER,      /* a header we need is too long */
    GW_BODY_MEMORY,
} gw_body_error;

/* The request headers the gateway looks at; NULL when absent. They point into MHD's memory
 * for the connection (valid until the request completes), into the request's arena (a field
 * given twice, joined) or, outside MHD, wherever the caller of gw__req_header keeps them. */
typedef struct gw_headers {
    const char *content_type;
    const char *content_length;
    const char *transfer_encoding;
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

/*
 * A request, from its request line to the end of its answer's transmission.
 *
 * Ownership: created by MHD's URI callback (gw__req_new) and freed by MHD's completion callback
 * (gw__req_free), both on the loop. Between the two it may wait, suspended, for its backend
 * calls; MHD neither times out nor completes a suspended connection, so the answer always
 * finds its request. Outside MHD (the fuzzers), whoever creates a request frees it.
 */
struct gw_req {
    gw_gateway *g;
    gw_req *prev, *next;         /* g->live */
    struct MHD_Connection *conn; /* NULL outside MHD */
    const struct sockaddr *peer; /* the client's address (MHD's, borrowed), or NULL */
    bsl_arena *arena;
    double t0; /* monotonic seconds at the request line */

    char method[16];
    char *target;      /* arena: the request-target as sent; NULL when too long */
    const char *path;  /* arena: the decoded path, or the path as sent when it does not decode */
    const char *query; /* in target: after the "?", "" when none */
    gw_path_status path_status;
    gw_headers h;

    /* body */
    gw_body_error body_error;
    uint8_t *body; /* malloc'd */
    size_t body_len, body_cap;
    size_t declared;      /* Content-Length, or SIZE_MAX (chunked, or none) */
    size_t dropped;       /* bytes read past the limit and dropped */
    bool body_expected;   /* Content-Length > 0 or chunked */
    bool body_late;       /* cut off: the body did not arrive within body_timeout_ms */
    bool timeout_changed; /* the connection's idle timeout is the body's until the body is in */
    double body_deadline;

    /* progress */
    bool started;         /* the headers have been seen */
    bool dispatched;      /* handed to routing: answered, or waiting for backends */
    bool suspended;       /* its connection is suspended until the answer */
    bool answered;        /* an answer is made (r->response), maybe not yet sent */
    bool orphaned;        /* its connection ended while a backend call still runs: freed by it */
    bool backend_pending; /* a backend call runs for it (on_reply not called yet) */
    bool sent;            /* its answer's sending completed (counted out of g->answering) */
    bool close;           /* answer with Connection: close */

    /* the answer */
    struct MHD_Response *response;
    int http_status;
    const char *out_type;    /* its Content-Type (static or arena), or NULL */
    const uint8_t *out_body; /* its body, owned by the response */
    size_t out_len;

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
    int pending;     /* fan-out calls still out (readyz, Health/Check) */
    bool fanout_ok;
    char fanout_why[256];
    bool counted; /* in the in-flight gauge */
    const char *backend;
};

struct gw_gateway {
    struct ev_loop *loop;
    gw_config cfg;
    struct MHD_Daemon *httpd;
    ev_io httpd_io;       /* MHD's epoll descriptor */
    ev_timer httpd_timer; /* MHD's next timeout */
    char *tls_cert;       /* PEM of the front door, kept for MHD (malloc'd) */
    char *tls_key;        /* zeroed and freed with the gateway */
    size_t tls_key_len;
    int port;
    unsigned connections; /* open client connections */
    bool below_limit;     /* one just closed while at max_connections */
    gw_req *live;         /* every request between its request line and its completion */
    bsl_metrics *metrics;
    bsl_counter *auth_failures, *rate_limited, *auth_throttled, *jwt_hits, *jwt_checks,
        *http_errors;
    int metric_other;        /* requests that name no method */
    int *metric_ids;         /* per schema method (indexed like bsl__schema_methods) */
    gw_backend **by_service; /* per schema service (indexed like bsl_schema_services) */
    gw_jwt *jwt;
    gw_ratelimit *limiter;
    gw_ratelimit *auth_throttle; /* refused tokens per client address */
    gw_cors *cors;
    bsl_fastid ids; /* request and trace ids */
    char *openapi;  /* the document, built once */
    size_t openapi_len;
    unsigned active;    /* requests dispatched and not answered */
    unsigned answering; /* answers made whose sending has not completed */
    bool draining;
    bool grace_over; /* the grace period ended: calls still running were answered unavailable */
    ev_timer drain_timer;
    void (*drain_done)(void *);
    void *drain_arg;
};

/* ---- front.c ------------------------------------------------------------------------- */

/* MHD's callbacks (httpd.c registers them; cls is the gateway). */
void *gw__on_uri(void *cls, const char *uri, struct MHD_Connection *c);
enum MHD_Result gw__on_request(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls);
void gw__on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe);

/* A new request for the request-target `target` as the client sent it (copied), linked into
 * g->live. NULL when out of memory. Freed by gw__req_free. */
gw_req *gw__req_new(gw_gateway *g, const char *target);

/* Takes the request's method (copied). */
void gw__req_method(gw_req *r, const char *method);

/* Takes one header line (name and value kept, not copied: they must live as long as the
 * request). Only the fields the gateway reads are kept; one given twice has its values joined
 * with ", ". A value over GW_HEADER_MAX marks the request for a 431. */
void gw__req_header(gw_req *r, const char *name, const char *value);

/* Appends body bytes, within max_body_bytes (past it the body is dropped and the request
 * marked for a 413). */
void gw__req_body(gw_req *r, const void *data, size_t len);

/* Routes a request whose body is in: answers it at once, or starts the calls that will. */
void gw__dispatch(gw_req *r);

/* Unlinks and frees a request, and its answer if it was not sent. */
void gw__req_free(gw_req *r);

/* Answers r with status, content type and body (copied), adding the common headers (request
 * id, CORS, Cache-Control); logs and counts the request. extra: NULL-terminated name/value
 * pairs. Exactly once per dispatched request. */
void gw__respond(gw_req *r, int status, const char *content_type, const void *body, size_t len,
                 const char *const *extra);

/* The same, taking `body` (malloc'd) instead of copying it. */
void gw__respond_owned(gw_req *r, int status, const char *content_type, char *body, size_t len,
                       const char *const *extra);

/* The same with a body that outlives the answer: static, the gateway's, or in r's arena (which
 * is freed after the answer, once sent). */
void gw__respond_static(gw_req *r, int status, const char *content_type, const void *body,
                        size_t len, const char *const *extra);

/* Answers with a Connect error body. http_status 0: the status the code maps to. */
void gw__respond_error(gw_req *r, int http_status, bsl_status code, const char *message,
                       Boussole__V1__ErrorDetail *const *details, size_t n_details,
                       const char *const *extra);

/* ---- httpd.c ------------------------------------------------------------------------- */

/* Listens on cfg.http_url (TLS when configured) and drives MHD from the loop. */
int gw__httpd_start(gw_gateway *g, char *errbuf, size_t errlen);

/* A suspended connection was resumed: lets MHD run in this loop iteration. */
void gw__httpd_kick(gw_gateway *g);

/* Resumes what is suspended and stops MHD (which completes, and so frees, every request). */
void gw__httpd_stop(gw_gateway *g);

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

/* Drain bookkeeping: a dispatched request was answered (active), an answer finished sending
 * (answering). */
void gw__request_done(gw_gateway *g);
void gw__answer_sent(gw_gateway *g);

#endif /* GW_GATEWAY_INTERNAL_H */
