/*
 * nng's side of the gateway: the HTTP handler and the request body, on nng's threads, then the
 * hand-over to the loop and, from the loop, the answer.
 *
 * Ownership of a request: the handler creates it and links it into g->live; it belongs to
 * whichever side currently works on it (the body reader on nng's threads, then the loop), and
 * only the loop frees it. The handler's aio is shared with nng, which may cancel it when the
 * connection closes: r->aio is taken under g->mtx by whoever completes it first (the loop's
 * answer or the cancel routine), so it is completed exactly once.
 */
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

static void on_loop(void *arg);

static void post(gw_req *r)
{
    bsl_evnng_post(r->g->bridge, &r->task);
}

/* ---- cancellation -------------------------------------------------------------------- */

/* nng cancels the handler's aio when the connection closes or the server stops. */
static void on_cancel(nng_aio *aio, void *arg, int rv)
{
    gw_gateway *g = arg;
    pthread_mutex_lock(&g->mtx);
    gw_req *r = nng_aio_get_input(aio, 3);
    bool mine = r != NULL && r->aio == aio;
    if (mine) {
        r->aio = NULL;
        nng_aio_set_input(aio, 3, NULL);
    }
    pthread_mutex_unlock(&g->mtx);
    if (mine) {
        /* The request itself stays with whoever works on it; the loop frees it. */
        nng_aio_finish(aio, rv);
    }
}

bool gw__req_alive(gw_req *r)
{
    pthread_mutex_lock(&r->g->mtx);
    bool alive = r->aio != NULL;
    pthread_mutex_unlock(&r->g->mtx);
    return alive;
}

/* Takes the handler's aio, if still there. */
static nng_aio *take_aio(gw_req *r)
{
    gw_gateway *g = r->g;
    pthread_mutex_lock(&g->mtx);
    nng_aio *aio = r->aio;
    if (aio != NULL) {
        r->aio = NULL;
        nng_aio_set_input(aio, 3, NULL);
    }
    pthread_mutex_unlock(&g->mtx);
    return aio;
}

void gw__req_free(gw_req *r)
{
    gw_gateway *g = r->g;
    nng_aio *aio = take_aio(r);
    if (aio != NULL) {
        nng_aio_finish(aio, NNG_ECLOSED); /* nng closes the connection */
    }
    pthread_mutex_lock(&g->mtx);
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        g->live = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    }
    pthread_mutex_unlock(&g->mtx);
    if (r->io != NULL) {
        nng_aio_free(r->io); /* its callback has run: it is what handed r to the loop */
    }
    free(r->body);
    bsl_arena_free(r->arena);
    free(r);
}

/* ---- the body ------------------------------------------------------------------------ */

/* Every read (and the 100 Continue write) gets what is left of the body's time: a client that
 * declares a body and stalls does not hold a request and its buffer forever. */
static void set_timeout(gw_req *r)
{
    double left = r->body_deadline - mono_now();
    nng_aio_set_timeout(r->io, left > 0.001 ? (nng_duration)(left * 1000) : 1);
}

static void read_into(gw_req *r, void *dst, size_t n)
{
    nng_iov iov = { .iov_buf = dst, .iov_len = n };
    nng_aio_set_iov(r->io, 1, &iov);
    set_timeout(r);
    nng_http_conn_read_all(r->conn, r->io);
}

static void body_fail(gw_req *r, gw_body_error e)
{
    r->body_error = e;
    r->close = true; /* the rest of the body is still on the wire */
    post(r);
}

static bool body_reserve(gw_req *r, size_t more)
{
    size_t need = r->body_len + more;
    if (need <= r->body_cap) {
        return true;
    }
    size_t cap = r->body_cap ? r->body_cap * 2 : 4096;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *b = realloc(r->body, cap);
    if (b == NULL) {
        return false;
    }
    r->body = b;
    r->body_cap = cap;
    return true;
}

static void begin_body(gw_req *r)
{
    if (r->rd == RD_LENGTH) {
        read_into(r, r->body, r->body_cap);
    } else {
        /* Chunked: a size line is at least "0\r\n"; read that much, then byte by byte, so
         * that nothing past the body (a pipelined request) is consumed. */
        r->rd = RD_CH_LINE;
        r->line_len = 0;
        read_into(r, r->line, 3);
    }
}

static void chunk_line(gw_req *r, bool after_data)
{
    if (after_data) {
        if (r->line_len < 2 || r->line[0] != '\r' || r->line[1] != '\n') {
            body_fail(r, GW_BODY_BAD_FRAMING);
            return;
        }
        memmove(r->line, r->line + 2, r->line_len - 2);
        r->line_len -= 2;
    }
    uint8_t *nl = memchr(r->line, '\n', r->line_len);
    if (nl == NULL) {
        if (r->line_len >= GW_CHUNK_LINE - 1) {
            body_fail(r, GW_BODY_BAD_FRAMING);
            return;
        }
        read_into(r, r->line + r->line_len, 1);
        return;
    }
    if (nl != r->line + r->line_len - 1 || r->line_len < 3 || nl[-1] != '\r') {
        body_fail(r, GW_BODY_BAD_FRAMING);
        return;
    }
    size_t size = 0, digits = 0;
    for (size_t i = 0; i < r->line_len - 2 && r->line[i] != ';'; i++) {
        int c = r->line[i], v;
        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v = c - 'A' + 10;
        } else if (c == ' ' || c == '\t') {
            continue; /* whitespace before extensions */
        } else {
            body_fail(r, GW_BODY_BAD_FRAMING);
            return;
        }
        if (++digits > 15) {
            body_fail(r, GW_BODY_TOO_BIG);
            return;
        }
        size = size * 16 + (size_t)v;
    }
    if (digits == 0) {
        body_fail(r, GW_BODY_BAD_FRAMING);
        return;
    }
    if (size == 0) {
        r->rd = RD_CH_TRAILER;
        r->line_len = 0;
        read_into(r, r->line, 2);
        return;
    }
    if (r->body_len + size > r->g->cfg.max_body_bytes) {
        body_fail(r, GW_BODY_TOO_BIG);
        return;
    }
    if (!body_reserve(r, size)) {
        body_fail(r, GW_BODY_MEMORY);
        return;
    }
    r->rd = RD_CH_DATA;
    r->chunk_left = size;
    read_into(r, r->body + r->body_len, size);
}

static void trailer(gw_req *r)
{
    if (r->line_len == 2 && r->line[0] == '\r' && r->line[1] == '\n') {
        r->rd = RD_IDLE;
        post(r); /* the whole body is in */
        return;
    }
    if (r->trailer_bytes > GW_TRAILERS_MAX || r->line_len >= GW_CHUNK_LINE - 1) {
        body_fail(r, GW_BODY_BAD_FRAMING);
        return;
    }
    if (r->line_len >= 2 && r->line[r->line_len - 2] == '\r' && r->line[r->line_len - 1] == '\n') {
        r->line_len = 0; /* a trailer field: ignored; next line */
        read_into(r, r->line, 2);
        return;
    }
    read_into(r, r->line + r->line_len, 1);
}

/* nng's thread: one read (or the 100 Continue write) finished. */
static void on_io(void *arg)
{
    gw_req *r = arg;
    int rv = nng_aio_result(r->io);
    size_t n = nng_aio_count(r->io);
    if (rv != 0) {
        r->body_error = rv == NNG_ETIMEDOUT ? GW_BODY_TIMEOUT : GW_BODY_IO;
        r->close = true;
        post(r);
        return;
    }
    switch (r->rd) {
    case RD_CONTINUE:
        r->rd = r->body_cap > 0 ? RD_LENGTH : RD_CH_LINE;
        begin_body(r);
        return;
    case RD_LENGTH:
        r->body_len = r->body_cap;
        r->rd = RD_IDLE;
        post(r);
        return;
    case RD_CH_LINE:
        r->line_len += n;
        chunk_line(r, false);
        return;
    case RD_CH_DATA:
        r->body_len += n;
        /* CRLF after the data, then at least "0\r\n" of the next size line. */
        r->rd = RD_CH_AFTER;
        read_into(r, r->line, 5);
        return;
    case RD_CH_AFTER:
        r->rd = RD_CH_LINE;
        r->line_len = n;
        chunk_line(r, true);
        return;
    case RD_CH_TRAILER:
        r->line_len += n;
        r->trailer_bytes += n;
        trailer(r);
        return;
    case RD_IDLE:
        break;
    }
    body_fail(r, GW_BODY_BAD_FRAMING);
}

/* Decides how to take the body from the headers, and starts. Posts r when done. */
static void start_body(gw_req *r, nng_http_req *req)
{
    const char *cl = nng_http_req_get_header(req, "Content-Length");
    const char *te = nng_http_req_get_header(req, "Transfer-Encoding");
    bool chunked = false;
    size_t len = 0;
    if (te != NULL) {
        if (cl != NULL) {
            body_fail(r, GW_BODY_BAD_FRAMING); /* both framings: a smuggling attempt */
            return;
        }
        if (strcasecmp(te, "chunked") != 0) {
            body_fail(r, GW_BODY_UNSUPPORTED);
            return;
        }
        chunked = true;
    } else if (cl != NULL) {
        size_t n = strlen(cl);
        if (n == 0 || n > 19 || strspn(cl, "0123456789") != n) {
            body_fail(r, GW_BODY_BAD_FRAMING);
            return;
        }
        unsigned long long v = strtoull(cl, NULL, 10);
        if (v > r->g->cfg.max_body_bytes) {
            body_fail(r, GW_BODY_TOO_BIG);
            return;
        }
        len = (size_t)v;
    }
    if (!chunked && len == 0) {
        post(r);
        return;
    }
    if (nng_aio_alloc(&r->io, on_io, r) != 0 || (!chunked && (r->body = malloc(len)) == NULL)) {
        body_fail(r, GW_BODY_MEMORY);
        return;
    }
    r->body_cap = chunked ? 0 : len;
    r->body_deadline = r->t0 + r->g->cfg.body_timeout_ms / 1e3;
    if (r->expect_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        r->rd = RD_CONTINUE;
        nng_iov iov = { .iov_buf = (void *)cont, .iov_len = sizeof(cont) - 1 };
        nng_aio_set_iov(r->io, 1, &iov);
        set_timeout(r);
        nng_http_conn_write_all(r->conn, r->io);
        return;
    }
    r->rd = chunked ? RD_CH_LINE : RD_LENGTH;
    begin_body(r);
}

/* ---- the handler ------------------------------------------------------------------------ */

static const char *copy_header(gw_req *r, nng_http_req *req, const char *name)
{
    const char *v = nng_http_req_get_header(req, name);
    if (v == NULL) {
        return NULL;
    }
    size_t n = strlen(v);
    if (n > GW_HEADER_MAX) {
        r->body_error = GW_BODY_HEADER;
        return NULL;
    }
    const char *c = bsl_arena_strndup(r->arena, v, n);
    if (c == NULL) {
        r->body_error = GW_BODY_MEMORY;
    }
    return c;
}

void gw__on_http(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    gw_gateway *g = nng_http_handler_get_data(h);
    gw_req *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->arena = bsl_arena_create()) == NULL) {
        free(r);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    r->g = g;
    r->aio = aio;
    r->conn = nng_aio_get_input(aio, 2);
    r->t0 = mono_now();
    r->task.fn = on_loop;
    r->task.arg = r;
    r->metric_id = g->metric_other;
    r->code = BSL_STATUS_OK;
    snprintf(r->method, sizeof(r->method), "%s", nng_http_req_get_method(req));

    const char *uri = nng_http_req_get_uri(req);
    size_t ulen = strlen(uri);
    if (ulen > GW_URI_MAX) {
        r->body_error = GW_BODY_URI;
        r->close = true;
        uri = "/";
        ulen = 1;
    }
    const char *q = memchr(uri, '?', ulen);
    size_t plen = q ? (size_t)(q - uri) : ulen;
    r->path = bsl_arena_strndup(r->arena, uri, plen);
    r->query = bsl_arena_strdup(r->arena, q ? q + 1 : "");
    if (r->path == NULL || r->query == NULL) {
        r->body_error = GW_BODY_MEMORY;
        r->path = "/";
        r->query = "";
    }
    gw_headers *hd = &r->h;
    hd->content_type = copy_header(r, req, "Content-Type");
    hd->content_encoding = copy_header(r, req, "Content-Encoding");
    hd->authorization = copy_header(r, req, "Authorization");
    hd->connect_version = copy_header(r, req, "Connect-Protocol-Version");
    hd->connect_timeout = copy_header(r, req, "Connect-Timeout-Ms");
    hd->origin = copy_header(r, req, "Origin");
    if (strcmp(r->method, "OPTIONS") == 0) {
        hd->acr_method = copy_header(r, req, "Access-Control-Request-Method");
        hd->acr_headers = copy_header(r, req, "Access-Control-Request-Headers");
    }
    hd->request_id = copy_header(r, req, "X-Request-Id");
    hd->traceparent = copy_header(r, req, "Traceparent");
    hd->idempotency_key = copy_header(r, req, "Idempotency-Key");
    if (g->cfg.trust_forwarded_for) {
        hd->forwarded_for = copy_header(r, req, "X-Forwarded-For");
    }
    const char *expect = nng_http_req_get_header(req, "Expect");
    r->expect_continue = expect != NULL && strcasecmp(expect, "100-continue") == 0;

    pthread_mutex_lock(&g->mtx);
    r->next = g->live;
    if (g->live != NULL) {
        g->live->prev = r;
    }
    g->live = r;
    nng_aio_set_input(aio, 3, r);
    pthread_mutex_unlock(&g->mtx);
    nng_aio_defer(aio, on_cancel, g);

    if (r->body_error != GW_BODY_OK) {
        r->close = true;
        post(r);
        return;
    }
    start_body(r, req); /* posts r; r may be gone from this thread after it */
}

/* ---- the loop's side ---------------------------------------------------------------------- */

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
                          "malformed request body framing (Content-Length or chunked encoding)",
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
        gw__respond_error(r, 503, BSL_STATUS_UNAVAILABLE, "out of memory", NULL, 0, NULL);
        return;
    case GW_BODY_TIMEOUT:
        snprintf(msg, sizeof(msg), "the request body did not arrive within %u ms",
                 r->g->cfg.body_timeout_ms);
        gw__respond_error(r, 408, BSL_STATUS_DEADLINE_EXCEEDED, msg, NULL, 0, NULL);
        return;
    case GW_BODY_IO:
    case GW_BODY_OK:
        break;
    }
    gw__req_drop(r); /* the connection failed: nobody to answer */
}

void gw__req_drop(gw_req *r)
{
    gw_gateway *g = r->g;
    if (r->counted) {
        bsl_metrics_in_flight(g->metrics, -1);
    }
    gw__req_free(r);
    gw__request_done(g);
}

static bool is_get(const gw_req *r)
{
    return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
}

static void on_loop(void *arg)
{
    gw_req *r = arg;
    gw_gateway *g = r->g;
    g->active++;
    if (r->body_error == GW_BODY_IO || !gw__req_alive(r)) {
        gw__req_drop(r);
        return;
    }
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
    const char *p = r->path;
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

/* add, not set: a new response has no header to replace, and set searches the list. */
static void add_header(nng_http_res *res, const char *name, const char *value)
{
    nng_http_res_add_header(res, name, value);
}

static const char *reason(int status)
{
    switch (status) {
    case 499:
        return "Client Closed Request";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 408:
        return "Request Timeout";
    case 429:
        return "Too Many Requests";
    default:
        return NULL; /* nng knows the others */
    }
}

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

void gw__respond(gw_req *r, int status, const char *content_type, const void *body, size_t len,
                 const char *const *extra)
{
    gw_gateway *g = r->g;
    r->http_status = status;
    double elapsed = mono_now() - r->t0;
    nng_aio *aio = take_aio(r);
    if (aio != NULL) {
        nng_http_res *res = NULL;
        int rv = nng_http_res_alloc(&res);
        if (rv == 0) {
            nng_http_res_set_status(res, (uint16_t)status);
            const char *why = reason(status);
            if (why != NULL) {
                nng_http_res_set_reason(res, why);
            }
            if (content_type != NULL) {
                add_header(res, "Content-Type", content_type);
            }
            if (r->request_id[0] != '\0') {
                add_header(res, "X-Request-Id", r->request_id);
            }
            add_header(res, "Cache-Control", "no-store");
            add_header(res, "X-Content-Type-Options", "nosniff");
            if (r->cors && r->h.origin != NULL) {
                add_header(res, "Access-Control-Allow-Origin",
                           gw_cors_any(g->cors) ? "*" : r->h.origin);
                add_header(res, "Vary", "Origin");
                add_header(res, "Access-Control-Expose-Headers", GW_CORS_EXPOSE_HEADERS);
            }
            for (size_t i = 0; extra != NULL && extra[i] != NULL; i += 2) {
                add_header(res, extra[i], extra[i + 1]);
            }
            if (r->close || g->draining) {
                add_header(res, "Connection", "close");
            }
            if (len > 0) {
                rv = nng_http_res_copy_data(res, body, len);
            }
        }
        if (rv != 0) {
            if (res != NULL) {
                nng_http_res_free(res);
            }
            nng_aio_finish(aio, rv); /* nng closes the connection */
        } else {
            nng_aio_set_output(aio, 0, res);
            nng_aio_finish(aio, 0);
        }
    }
    bsl_metrics_observe(g->metrics, r->metric_id, (int)r->code, elapsed);
    if (r->counted) {
        bsl_metrics_in_flight(g->metrics, -1);
    }
    if (status >= 400 && r->m == NULL) {
        bsl_counter_add(g->http_errors, 1);
    }
    log_request(r, len, elapsed);
    gw__req_free(r);
    gw__request_done(g);
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
    static const char fallback[] = "{\"code\":\"internal\",\"message\":\"out of memory\"}";
    gw__respond(r, http_status ? http_status : bsl_status_http((int)code), "application/json",
                body ? body : fallback, body ? len : sizeof(fallback) - 1, extra);
    free(body);
}
