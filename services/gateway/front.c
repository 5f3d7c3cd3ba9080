/*
 * A request's life, on the loop: libmicrohttpd's callbacks (the request line, the headers, the
 * body, the end of the answer), routing, the answer, metrics and the log line.
 *
 * MHD calls, for each request: gw__on_uri once the request line is in (the request is created
 * here, with the request-target as the client sent it: MHD's own decoding of the path stops at
 * an escaped NUL, so the gateway decodes it itself, see target.h); gw__on_request once the
 * headers are in, then once per piece of body, then once the body is complete, when the request
 * is dispatched; gw__on_completed when the answer has been sent or the connection has failed.
 * A request waiting for its backends has its connection suspended (MHD_suspend_connection);
 * the answer resumes it, and MHD calls gw__on_request again, which queues the answer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "boussole/err.h"
#include "gateway_internal.h"
#include "jwtauth.h"

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the request object ---------------------------------------------------------------- */

gw_req *gw__req_new(gw_gateway *g, const char *target)
{
    gw_req *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->arena = bsl_arena_create()) == NULL) {
        free(r);
        return NULL;
    }
    r->g = g;
    r->t0 = mono_now();
    r->metric_id = g->metric_other;
    r->code = BSL_STATUS_OK;
    size_t n = strlen(target);
    if (n > GW_URI_MAX) {
        r->body_error = GW_BODY_URI;
        r->close = true;
        target = "/";
        n = 1;
    }
    r->target = bsl_arena_strndup(r->arena, target, n);
    char *path = bsl_arena_alloc(r->arena, n + 1);
    if (r->target == NULL || path == NULL) {
        r->body_error = GW_BODY_MEMORY;
        r->target = "/";
        r->path = "/";
        r->query = "";
    } else {
        r->path_status = gw_target_split(r->target, path, n + 1, &r->query);
        r->path = path;
        if (r->path_status != GW_PATH_OK) {
            /* For messages and the log: the path as sent, not a half-decoded one. */
            size_t plen = strcspn(r->target, "?");
            memcpy(path, r->target, plen);
            path[plen] = '\0';
        }
    }
    r->next = g->live;
    if (g->live != NULL) {
        g->live->prev = r;
    }
    g->live = r;
    return r;
}

void gw__req_free(gw_req *r)
{
    gw_gateway *g = r->g;
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        g->live = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    }
    if (r->response != NULL) {
        MHD_destroy_response(r->response); /* ours; MHD holds its own while it sends */
    }
    bool count_sent = r->answered && !r->sent;
    free(r->body);
    bsl_arena_free(r->arena);
    free(r);
    if (count_sent) {
        gw__answer_sent(g);
    }
}

void gw__req_method(gw_req *r, const char *method)
{
    size_t mlen = strlen(method);
    if (mlen < sizeof(r->method)) {
        memcpy(r->method, method, mlen + 1);
    } else {
        memcpy(r->method, "?", 2); /* no method of ours is that long */
    }
}

/* The request headers the gateway reads, by name, and where they go. */
static const struct {
    const char *name;
    size_t len;
    size_t off;
} wanted[] = {
#define W(n, f)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, offsetof(gw_headers, f)                                                  \
    }
    W("Content-Type", content_type),
    W("Content-Length", content_length),
    W("Transfer-Encoding", transfer_encoding),
    W("Content-Encoding", content_encoding),
    W("Authorization", authorization),
    W("Connect-Protocol-Version", connect_version),
    W("Connect-Timeout-Ms", connect_timeout),
    W("Origin", origin),
    W("Access-Control-Request-Method", acr_method),
    W("Access-Control-Request-Headers", acr_headers),
    W("X-Request-Id", request_id),
    W("Traceparent", traceparent),
    W("Idempotency-Key", idempotency_key),
    W("X-Forwarded-For", forwarded_for),
#undef W
};

void gw__req_header(gw_req *r, const char *name, const char *value)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        if (wanted[i].len != nlen || strcasecmp(wanted[i].name, name) != 0) {
            continue;
        }
        if (wanted[i].off == offsetof(gw_headers, forwarded_for) &&
            !r->g->cfg.trust_forwarded_for) {
            return; /* anyone can send it: read only behind a trusted proxy */
        }
        const char **slot = (const char **)((char *)&r->h + wanted[i].off);
        if (strnlen(value, GW_HEADER_MAX + 1) > GW_HEADER_MAX) {
            if (r->body_error == GW_BODY_OK) {
                r->body_error = GW_BODY_HEADER; /* every value we read is bounded: 431 */
            }
            return;
        }
        if (*slot == NULL) {
            *slot = value;
            return;
        }
        /* A field given twice is one field whose values are joined (RFC 9110, 5.3): a list
         * (X-Forwarded-For) reads on, and a field that takes one value (Authorization,
         * Content-Length, Connect-Protocol-Version) is refused as it stands, instead of one of
         * its values being picked. */
        char *joined = bsl_arena_printf(r->arena, "%s, %s", *slot, value);
        if (joined == NULL) {
            r->body_error = GW_BODY_MEMORY;
            return;
        }
        if (strlen(joined) > GW_HEADER_MAX && r->body_error == GW_BODY_OK) {
            r->body_error = GW_BODY_HEADER;
        }
        *slot = joined;
        return;
    }
}

void gw__req_body(gw_req *r, const void *data, size_t len)
{
    if (r->body_error != GW_BODY_OK || len == 0) {
        return; /* refused already: what remains of the body is read and dropped */
    }
    size_t max = r->g->cfg.max_body_bytes;
    if (len > max - r->body_len) {
        r->body_error = GW_BODY_TOO_BIG;
        r->close = true;
        free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        return;
    }
    size_t need = r->body_len + len;
    if (need > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
        while (cap < need) {
            cap *= 2;
        }
        if (cap > max) {
            cap = max;
        }
        uint8_t *b = realloc(r->body, cap);
        if (b == NULL) {
            r->body_error = GW_BODY_MEMORY;
            r->close = true;
            return;
        }
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
}

/* ---- MHD's callbacks --------------------------------------------------------------------- */

void *gw__on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    gw_gateway *g = cls;
    gw_req *r = gw__req_new(g, uri);
    if (r != NULL) {
        r->conn = c;
    }
    return r; /* MHD hands it back as *con_cls, and to gw__on_completed */
}

static enum MHD_Result on_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    if (key != NULL && value != NULL) {
        gw__req_header(cls, key, value);
    }
    return MHD_YES;
}

/* The headers are in: takes what the gateway reads, and decides about the body from its
 * framing, before any of it is read. */
static void start(gw_req *r, struct MHD_Connection *c, const char *method)
{
    gw_gateway *g = r->g;
    r->started = true;
    gw__req_method(r, method);
    MHD_get_connection_values(c, MHD_HEADER_KIND, on_header, r);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    r->peer = ci != NULL ? ci->client_addr : NULL;
    /* MHD has already refused a Content-Length that is not a number (400) and a chunk size it
     * cannot read; the rest is ours. MHD frames the body by the first Content-Length or
     * Transfer-Encoding it sees: any ambiguity is refused before it reads a byte of it. */
    const char *te = r->h.transfer_encoding, *cl = r->h.content_length;
    r->declared = SIZE_MAX;
    if (te != NULL) {
        r->body_expected = true;
        if (cl != NULL) {
            r->body_error = GW_BODY_BAD_FRAMING; /* both framings: a smuggling attempt */
        } else if (strcasecmp(te, "chunked") != 0) {
            r->body_error = GW_BODY_UNSUPPORTED;
        }
    } else if (cl != NULL) {
        size_t n = strlen(cl);
        unsigned long long v = strtoull(cl, NULL, 10);
        if (n == 0 || n > 19 || strspn(cl, "0123456789") != n) {
            r->body_error = GW_BODY_BAD_FRAMING; /* given twice ("5, 6"), or not a number */
        } else if (v > g->cfg.max_body_bytes) {
            r->body_error = GW_BODY_TOO_BIG; /* refused before a byte of it is read */
        } else if (v > 0) {
            r->body_expected = true;
            r->declared = (size_t)v;
            if ((r->body = malloc((size_t)v)) != NULL) {
                r->body_cap = (size_t)v;
            }
        }
    }
    if (r->body_error != GW_BODY_OK) {
        r->close = true; /* the body stays unread: MHD closes the connection after the answer */
        return;
    }
    if (r->body_expected) {
        r->body_deadline = mono_now() + g->cfg.body_timeout_ms / 1e3;
        /* A body that stops coming is let go at its deadline: the connection's idle timeout
         * (whole seconds, MHD's unit) is the body's while it is read. A body that trickles
         * in is cut at its first piece past the deadline (gw__on_request). */
        unsigned body_s = (unsigned)ceil(g->cfg.body_timeout_ms / 1e3);
        if (g->cfg.idle_timeout_s == 0 || body_s < g->cfg.idle_timeout_s) {
            MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, body_s);
            r->timeout_changed = true;
        }
    }
}

/* MHD 0.9.75 reads a connection once per edge of its (edge-triggered) epoll and takes a short
 * read for "nothing more to read": an end of stream that came in with the last bytes it read
 * is never noticed, and a client that sent part of a body and closed would be held until the
 * idle timeout. When all the socket holds is that end of stream, shutting our side for reading
 * wakes MHD's epoll, and MHD reads the end and lets the connection go. */
static void notice_end_of_stream(gw_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    char b;
    if (ci != NULL && recv(ci->connect_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
        shutdown(ci->connect_fd, SHUT_RD);
    }
}

/* Queues the answer, or waits for it with the connection suspended. */
static enum MHD_Result answer(gw_req *r)
{
    if (r->answered) {
        /* No response object means none could be made (out of memory): close. */
        return r->response != NULL
                   ? MHD_queue_response(r->conn, (unsigned)r->http_status, r->response)
                   : MHD_NO;
    }
    if (!r->suspended) {
        MHD_suspend_connection(r->conn);
        r->suspended = true;
    }
    return MHD_YES;
}

enum MHD_Result gw__on_request(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    gw_gateway *g = cls;
    (void)url; /* decoded by MHD; r->target is the request-target as sent */
    (void)version;
    gw_req *r = *con_cls;
    if (r == NULL) {
        return MHD_NO; /* no memory for the request in gw__on_uri: nothing to answer with */
    }
    if (!r->started) {
        start(r, c, method);
        if (r->body_error == GW_BODY_OK) {
            /* MHD answers Expect: 100-continue, brings the body if any, then calls again. An
             * answer queued now would make MHD close the connection after it. */
            return MHD_YES;
        }
        gw__dispatch(r); /* refused before reading the body: answered, then closed */
        return answer(r);
    }
    if (*upload_data_size > 0) {
        if (mono_now() > r->body_deadline) {
            r->body_late = true;
            return MHD_NO; /* a body trickling past its deadline: MHD closes the connection */
        }
        if (r->body_error != GW_BODY_OK) {
            /* Over the limit (a chunked body: MHD lets no answer out while it brings a body):
             * the rest is read and dropped, so that the client gets its 413 once it is done,
             * up to as much again as the limit; a client that sends more is cut off. */
            r->dropped += *upload_data_size;
            if (r->dropped > g->cfg.max_body_bytes) {
                return MHD_NO;
            }
        } else {
            gw__req_body(r, upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        if (r->declared == SIZE_MAX || r->body_len + r->dropped < r->declared) {
            notice_end_of_stream(r); /* more to come, unless the client has gone */
        }
        return MHD_YES;
    }
    if (!r->dispatched) {
        if (r->timeout_changed) {
            MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, g->cfg.idle_timeout_s);
            r->timeout_changed = false;
        }
        gw__dispatch(r);
    }
    return answer(r);
}

/* A request MHD ended before it could be dispatched: counted, and logged when it says
 * something about the client (a malformed or oversized request, a timeout). */
static void not_served(gw_req *r, enum MHD_RequestTerminationCode toe)
{
    gw_gateway *g = r->g;
    const char *why = NULL;
    switch (toe) {
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        why = r->started ? "the request body did not arrive in time"
                         : "the request headers did not arrive in time";
        break;
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
        why = r->body_late ? "the request body did not arrive in time"
              : r->body_error == GW_BODY_TOO_BIG
                  ? "the request body went on far past the limit: cut off"
              : r->started ? "malformed request body framing (answered by the HTTP server)"
                           : "malformed request or headers too large (answered by the HTTP "
                             "server)";
        break;
    default:
        return; /* the client left, or the gateway is stopping */
    }
    bsl_counter_add(g->http_errors, 1);
    if (!bsl_log_enabled(g->cfg.log, BSL_LOG_INFO)) {
        return;
    }
    char path_buf[104];
    snprintf(path_buf, sizeof(path_buf), "%s", r->path ? r->path : "");
    const char *path = path_buf;
    bsl_log_field f[] = {
        BSL_LOG_STR("http_method", r->started ? r->method : "-"),
        BSL_LOG_STR("path", path),
        BSL_LOG_STR("reason", why),
        BSL_LOG_INT("bytes_in", (long long)r->body_len),
    };
    bsl_log_with(g->cfg.log, BSL_LOG_INFO, NULL, NULL, f, sizeof(f) / sizeof(f[0]),
                 "request not served");
}

void gw__on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    gw_req *r = *con_cls;
    if (r == NULL) {
        return;
    }
    *con_cls = NULL;
    if (!r->dispatched) {
        not_served(r, toe);
    } else if (!r->answered || r->backend_pending) {
        /* The request stays with the backend call it waits for, whose answer frees it: a
         * request answered unavailable at the end of the drain's grace period (its answer is
         * sent, so it is counted out now), or, should it ever happen, a connection that ended
         * before its answer (MHD does not end a suspended connection). */
        if (r->answered && !r->sent) {
            r->sent = true;
            gw__answer_sent(r->g);
        }
        r->conn = NULL;
        r->orphaned = true;
        return;
    }
    gw__req_free(r);
}

/* ---- routing --------------------------------------------------------------------------------- */

static void answer_body_error(gw_req *r)
{
    char msg[160];
    switch (r->body_error) {
    case GW_BODY_TOO_BIG:
        snprintf(msg, sizeof(msg), "request body exceeds the limit of %zu bytes",
                 r->g->cfg.max_body_bytes);
        gw__respond_error(r, 413, BSL_STATUS_RESOURCE_EXHAUSTED, msg, NULL, 0, NULL);
        return;
    case GW_BODY_BAD_FRAMING:
        gw__respond_error(r, 400, BSL_STATUS_INVALID_ARGUMENT,
                          "malformed request body framing (Content-Length and "
                          "Transfer-Encoding together, Content-Length given twice or not a "
                          "number)",
                          NULL, 0, NULL);
        return;
    case GW_BODY_UNSUPPORTED:
        gw__respond_error(r, 501, BSL_STATUS_UNIMPLEMENTED,
                          "Transfer-Encoding other than chunked is not supported", NULL, 0, NULL);
        return;
    case GW_BODY_URI:
        gw__respond_error(r, 414, BSL_STATUS_INVALID_ARGUMENT, "request URI too long", NULL, 0,
                          NULL);
        return;
    case GW_BODY_HEADER:
        gw__respond_error(r, 431, BSL_STATUS_INVALID_ARGUMENT, "a request header is too long", NULL,
                          0, NULL);
        return;
    case GW_BODY_MEMORY:
    case GW_BODY_OK:
        break;
    }
    gw__respond_error(r, 503, BSL_STATUS_UNAVAILABLE, "out of memory", NULL, 0, NULL);
}

static bool is_get(const gw_req *r)
{
    return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
}

void gw__dispatch(gw_req *r)
{
    gw_gateway *g = r->g;
    r->dispatched = true;
    g->active++;
    if (gw_meta_request_id_ok(r->h.request_id)) {
        snprintf(r->request_id, sizeof(r->request_id), "%s", r->h.request_id);
    } else {
        bsl_fastid_hex(&g->ids, r->request_id, 8);
    }
    if (!gw_meta_traceparent(r->h.traceparent, r->trace_id, r->parent_id)) {
        bsl_fastid_hex(&g->ids, r->trace_id, 16);
        r->parent_id[0] = '\0';
    }
    r->cors = gw_cors_allowed(g->cors, r->h.origin);
    if (r->body_error != GW_BODY_OK) {
        answer_body_error(r);
        return;
    }
    if (r->path_status == GW_PATH_MALFORMED) {
        gw__respond_error(r, 400, BSL_STATUS_INVALID_ARGUMENT,
                          "malformed percent-encoding in the request path", NULL, 0, NULL);
        return;
    }
    /* A path that does not decode names no endpoint, and gw__rpc finds no method for it. */
    const char *p = r->path_status == GW_PATH_OK ? r->path : "";
    if (strcmp(r->method, "OPTIONS") == 0) {
        gw__preflight(r);
    } else if (is_get(r) && strcmp(p, "/healthz") == 0) {
        gw__healthz(r);
    } else if (is_get(r) && strcmp(p, "/readyz") == 0) {
        gw__readyz(r);
    } else if (is_get(r) && strcmp(p, "/metrics") == 0) {
        gw__metrics(r);
    } else if (is_get(r) && strcmp(p, "/openapi.json") == 0) {
        gw__openapi(r);
    } else {
        gw__rpc(r);
    }
}

/* ---- the answer ------------------------------------------------------------------------------ */

static void log_request(gw_req *r, size_t out_len, double elapsed)
{
    gw_gateway *g = r->g;
    bsl_log_level lvl = (r->code == BSL_STATUS_INTERNAL || r->code == BSL_STATUS_UNKNOWN ||
                         r->code == BSL_STATUS_DATA_LOSS)
                            ? BSL_LOG_ERROR
                            : BSL_LOG_INFO;
    if (!bsl_log_enabled(g->cfg.log, lvl)) {
        return;
    }
    const char *role = gw_role_name(r->role);
    char path_buf[104];
    snprintf(path_buf, sizeof(path_buf), "%s", r->path);
    const char *path = r->m ? "" : path_buf; /* the method says it all when there is one */
    bsl_log_field f[] = {
        BSL_LOG_STR("http_method", r->method),
        BSL_LOG_STR("method", r->m ? r->m->full_name : "-"),
        BSL_LOG_STR("path", path),
        BSL_LOG_INT("status", r->http_status),
        BSL_LOG_STR("code", bsl_status_name(r->code)),
        BSL_LOG_INT("duration_us", (long long)(elapsed * 1e6)),
        BSL_LOG_STR("caller_role", role ? role : "anonymous"),
        BSL_LOG_INT("bytes_in", (long long)r->body_len),
        BSL_LOG_INT("bytes_out", (long long)out_len),
        BSL_LOG_STR("backend", r->backend ? r->backend : ""),
    };
    bsl_log_with(g->cfg.log, lvl, r->request_id[0] ? r->request_id : NULL,
                 r->trace_id[0] ? r->trace_id : NULL, f, sizeof(f) / sizeof(f[0]), "request");
}

typedef enum { BODY_COPY, BODY_OWNED, BODY_STATIC } body_mode;

/* The response object: its body, then the headers every answer carries. NULL when out of
 * memory. */
static struct MHD_Response *make_response(gw_req *r, const char *content_type, const void *body,
                                          size_t len, body_mode mode, const char *const *extra)
{
    gw_gateway *g = r->g;
    struct MHD_Response *res;
    if (len == 0 || mode == BODY_STATIC) {
        if (mode == BODY_OWNED) {
            free((void *)body);
        }
        if (len == 0) {
            body = "";
        }
        res = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_PERSISTENT);
    } else {
        void *buf = (void *)body;
        if (mode == BODY_COPY && (buf = malloc(len)) != NULL) {
            memcpy(buf, body, len);
        }
        res = buf ? MHD_create_response_from_buffer_with_free_callback(len, buf, free) : NULL;
        if (res == NULL) {
            free(buf);
            return NULL;
        }
        body = buf;
    }
    if (res == NULL) {
        return NULL;
    }
    r->out_body = body;
    r->out_len = len;
    r->out_type = content_type;
    if (content_type != NULL) {
        MHD_add_response_header(res, "Content-Type", content_type);
    }
    if (r->request_id[0] != '\0') {
        MHD_add_response_header(res, "X-Request-Id", r->request_id);
    }
    MHD_add_response_header(res, "Cache-Control", "no-store");
    MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
    if (r->cors && r->h.origin != NULL) {
        MHD_add_response_header(res, "Access-Control-Allow-Origin",
                                gw_cors_any(g->cors) ? "*" : r->h.origin);
        MHD_add_response_header(res, "Vary", "Origin");
        MHD_add_response_header(res, "Access-Control-Expose-Headers", GW_CORS_EXPOSE_HEADERS);
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i += 2) {
        MHD_add_response_header(res, extra[i], extra[i + 1]);
    }
    if (r->close || g->draining) {
        MHD_add_response_header(res, "Connection", "close"); /* MHD closes after sending */
    }
    return res;
}

static void respond(gw_req *r, int status, const char *content_type, const void *body, size_t len,
                    body_mode mode, const char *const *extra)
{
    gw_gateway *g = r->g;
    if (r->answered) {
        if (mode == BODY_OWNED) {
            free((void *)body);
        }
        return; /* answered once; a second answer is a bug, and is not sent */
    }
    double elapsed = mono_now() - r->t0;
    r->http_status = status;
    r->response = make_response(r, content_type, body, len, mode, extra);
    r->answered = true;
    g->answering++;
    bsl_metrics_observe(g->metrics, r->metric_id, (int)r->code, elapsed);
    if (r->counted) {
        bsl_metrics_in_flight(g->metrics, -1);
        r->counted = false;
    }
    if (status >= 400 && r->m == NULL) {
        bsl_counter_add(g->http_errors, 1);
    }
    log_request(r, len, elapsed);
    gw__request_done(g);
    if (r->suspended) {
        r->suspended = false;
        MHD_resume_connection(r->conn);
        gw__httpd_kick(g);
    } else if (r->orphaned) {
        gw__req_free(r);
    }
    /* Otherwise the handler that dispatched the request is still running: it queues. */
}

void gw__respond(gw_req *r, int status, const char *content_type, const void *body, size_t len,
                 const char *const *extra)
{
    respond(r, status, content_type, body, len, BODY_COPY, extra);
}

void gw__respond_owned(gw_req *r, int status, const char *content_type, char *body, size_t len,
                       const char *const *extra)
{
    respond(r, status, content_type, body, len, BODY_OWNED, extra);
}

void gw__respond_static(gw_req *r, int status, const char *content_type, const void *body,
                        size_t len, const char *const *extra)
{
    respond(r, status, content_type, body, len, BODY_STATIC, extra);
}

void gw__respond_error(gw_req *r, int http_status, bsl_status code, const char *message,
                       Boussole__V1__ErrorDetail *const *details, size_t n_details,
                       const char *const *extra)
{
    if (!bsl_status_valid((int)code) || code == BSL_STATUS_OK) {
        code = BSL_STATUS_UNKNOWN;
    }
    r->code = code;
    gw_buf b;
    gw_buf_init(&b, 0);
    gw_connect_error_body(&b, code, message, details, n_details);
    size_t len = 0;
    char *body = gw_buf_take(&b, &len);
    int status = http_status ? http_status : bsl_status_http((int)code);
    if (body == NULL) {
        static const char fallback[] = "{\"code\":\"internal\",\"message\":\"out of memory\"}";
        respond(r, status, "application/json", fallback, sizeof(fallback) - 1, BODY_STATIC, extra);
        return;
    }
    respond(r, status, "application/json", body, len, BODY_OWNED, extra);
}
