/*
 * The gateway's request path without sockets: an HTTP request (method, URI, headers, body) as
 * nng's server hands it over, through everything the loop does with it (routing, the Connect
 * checks, bearer tokens, rate limiting, idempotency keys, GET calls, JSON and binary
 * transcoding, the backend call, the backend's answer and its transcoding back, the error
 * bodies, the access log), to the HTTP response.
 *
 * Input:
 *   byte 0: how the backend answers the call: code = b % 17 (0: OK); b & 0x20 adds a RetryInfo
 *     detail, b & 0x40 a FieldViolation; b & 0x80 answers the request's own payload bytes as
 *     the response message (hostile bytes for the output type), else an empty message.
 *   then: "<METHOD> <URI>\n", header lines "<Name>: <value>\n", an empty line, the body.
 *   "Authorization: Bearer @b" (@c, @a, @t) is replaced by a valid token of a beneficiary
 *   (counselor, admin, third party) minted at start, so that the fuzzer gets past the
 *   signature check.
 * The backend is an nng REP socket on inproc:// answering as byte 0 says; the gateway is a
 * real gw_gateway (gateway.c) whose HTTP server is not started.
 *
 * Checked: every request is answered or dropped, within 5 s; every answer has a status from
 * 100 to 599; an error answer (4xx, 5xx) from an RPC path is a Connect error body (a JSON
 * object with a "code" string); the access log stays JSON lines and never holds a token.
 *
 * What this harness has to copy from front.c (the request's construction in gw__on_http and
 * the routing in its static on_loop) is a copy: see tests/reliability/README.md for the
 * refactor that would let a harness call them.
 */
#define _GNU_SOURCE /* memmem, memfd_create */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "boussole/id.h"
#include "gw_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

/* ---- one request ----------------------------------------------------------------------- */

typedef struct outcome {
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    bool done;
    int status;
    bool connect_error; /* the answer is a Connect error body */
    nng_aio *aio;
} outcome;

static void on_answer(void *arg)
{
    outcome *o = arg;
    nng_http_res *res = nng_aio_result(o->aio) == 0 ? nng_aio_get_output(o->aio, 0) : NULL;
    o->status = -1;
    if (res != NULL) {
        o->status = nng_http_res_get_status(res);
        void *body = NULL;
        size_t blen = 0;
        nng_http_res_get_data(res, &body, &blen);
        const char *ct = nng_http_res_get_header(res, "Content-Type");
        if (o->status >= 400 && ct != NULL && strcmp(ct, "application/json") == 0) {
            json_t *j = json_loadb(body, blen, 0, NULL);
            o->connect_error = j != NULL && json_is_string(json_object_get(j, "code")) &&
                               json_is_string(json_object_get(j, "message"));
            json_decref(j);
        }
        nng_http_res_free(res);
    }
    pthread_mutex_lock(&o->mtx);
    o->done = true;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mtx);
}

static const char *header_dup(gw_req *r, const char *v, size_t n)
{
    if (n > GW_HEADER_MAX) {
        r->body_error = GW_BODY_HEADER;
        return NULL;
    }
    /* A bearer placeholder becomes a real token. */
    if (n == 9 && strncasecmp(v, "Bearer @", 8) == 0) {
        for (int i = 0; i < 4; i++) {
            if (v[8] == token_tags[i]) {
                char *t = bsl_arena_printf(r->arena, "Bearer %s", tokens[i]);
                return t;
            }
        }
    }
    return bsl_arena_strndup(r->arena, v, n);
}

/* As gw__on_http: the request line and the headers the gateway reads. */
static void set_header(gw_req *r, const char *name, size_t nl, const char *v, size_t vl)
{
    static const struct {
        const char *name;
        size_t off;
    } known[] = {
        { "Content-Type", offsetof(gw_headers, content_type) },
        { "Content-Encoding", offsetof(gw_headers, content_encoding) },
        { "Authorization", offsetof(gw_headers, authorization) },
        { "Connect-Protocol-Version", offsetof(gw_headers, connect_version) },
        { "Connect-Timeout-Ms", offsetof(gw_headers, connect_timeout) },
        { "Origin", offsetof(gw_headers, origin) },
        { "Access-Control-Request-Method", offsetof(gw_headers, acr_method) },
        { "Access-Control-Request-Headers", offsetof(gw_headers, acr_headers) },
        { "X-Request-Id", offsetof(gw_headers, request_id) },
        { "Traceparent", offsetof(gw_headers, traceparent) },
        { "Idempotency-Key", offsetof(gw_headers, idempotency_key) },
        { "X-Forwarded-For", offsetof(gw_headers, forwarded_for) },
    };
    while (vl > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    if (memchr(v, '\0', vl) != NULL || memchr(name, '\0', nl) != NULL) {
        return; /* nng's parser ends a header at NUL */
    }
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strlen(known[i].name) == nl && strncasecmp(known[i].name, name, nl) == 0) {
            const char **slot = (const char **)((char *)&r->h + known[i].off);
            if (*slot == NULL) {
                *slot = header_dup(r, v, vl);
            }
            return;
        }
    }
}

static gw_req *build(const uint8_t *data, size_t len)
{
    gw_req *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->arena = bsl_arena_create()) == NULL) {
        free(r);
        return NULL;
    }
    r->g = gw;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r->t0 = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    r->metric_id = gw->metric_other;
    r->code = BSL_STATUS_OK;
    const char *p = (const char *)data, *end = p + len;
    const char *nl = memchr(p, '\n', len);
    const char *line_end = nl ? nl : end;
    const char *sp = memchr(p, ' ', (size_t)(line_end - p));
    const char *uri = sp ? sp + 1 : "/";
    size_t ulen = sp ? (size_t)(line_end - uri) : 1;
    size_t mlen = sp ? (size_t)(sp - p) : (size_t)(line_end - p);
    snprintf(r->method, sizeof(r->method), "%.*s", (int)mlen, p);
    if (memchr(uri, '\0', ulen) != NULL) {
        ulen = strnlen(uri, ulen);
    }
    if (ulen > GW_URI_MAX) {
        r->body_error = GW_BODY_URI;
        r->close = true;
        uri = "/";
        ulen = 1;
    }
    const char *q = memchr(uri, '?', ulen);
    size_t plen = q ? (size_t)(q - uri) : ulen;
    r->path = bsl_arena_strndup(r->arena, uri, plen);
    r->query =
        q ? bsl_arena_strndup(r->arena, q + 1, ulen - plen - 1) : bsl_arena_strdup(r->arena, "");
    p = nl ? nl + 1 : end;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        line_end = nl ? nl : end;
        if (line_end == p) {
            p++;
            break; /* the empty line: the body follows */
        }
        const char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon != NULL) {
            set_header(r, p, (size_t)(colon - p), colon + 1, (size_t)(line_end - colon - 1));
        }
        p = nl ? nl + 1 : end;
    }
    if (p < end && r->body_error == GW_BODY_OK) {
        r->body_len = (size_t)(end - p);
        if (r->body_len > gw->cfg.max_body_bytes) {
            r->body_error = GW_BODY_TOO_BIG;
            r->close = true;
            r->body_len = 0;
        } else if ((r->body = malloc(r->body_len)) != NULL) {
            memcpy(r->body, p, r->body_len);
        } else {
            r->body_len = 0;
        }
    }
    return r;
}

/* As front.c's on_loop. */
static void dispatch(gw_req *r)
{
    gw->active++;
    if (gw_meta_request_id_ok(r->h.request_id)) {
        snprintf(r->request_id, sizeof(r->request_id), "%s", r->h.request_id);
    } else {
        bsl_fastid_hex(&gw->ids, r->request_id, 8);
    }
    if (!gw_meta_traceparent(r->h.traceparent, r->trace_id, r->parent_id)) {
        bsl_fastid_hex(&gw->ids, r->trace_id, 16);
        r->parent_id[0] = '\0';
    }
    r->cors = gw_cors_allowed(gw->cors, r->h.origin);
    if (r->body_error != GW_BODY_OK) {
        gw__respond_error(r, 400, BSL_STATUS_INVALID_ARGUMENT, "bad request", NULL, 0, NULL);
        return;
    }
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    const char *p = r->path;
    if (strcmp(r->method, "OPTIONS") == 0) {
        gw__preflight(r);
    } else if (get && strcmp(p, "/healthz") == 0) {
        gw__healthz(r);
    } else if (get && strcmp(p, "/readyz") == 0) {
        gw__readyz(r);
    } else if (get && strcmp(p, "/metrics") == 0) {
        gw__metrics(r);
    } else if (get && strcmp(p, "/openapi.json") == 0) {
        gw__openapi(r);
    } else {
        gw__rpc(r);
    }
}

static void on_watchdog(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)w;
    (void)revents;
    fprintf(stderr, "fuzz_gateway_request: a request was not answered within 5 s\n");
    __builtin_trap();
}

/* The access log: JSON lines, no token. */
static void check_log(void)
{
    off_t n = lseek(log_fd, 0, SEEK_CUR);
    if (n <= 0) {
        return;
    }
    char *text = malloc((size_t)n + 1);
    if (text == NULL || pread(log_fd, text, (size_t)n, 0) != n) {
        abort();
    }
    text[n] = '\0';
    for (int i = 0; i < 4; i++) {
        if (memmem(text, (size_t)n, tokens[i], strlen(tokens[i])) != NULL) {
            fprintf(stderr, "a bearer token reached the log:\n%s\n", text);
            __builtin_trap();
        }
    }
    for (char *line = text; line < text + n;) {
        char *e = memchr(line, '\n', (size_t)(text + n - line));
        if (e == NULL) {
            __builtin_trap(); /* a line cut short */
        }
        json_t *j = json_loadb(line, (size_t)(e - line), 0, NULL);
        if (j == NULL || !json_is_object(j)) {
            fprintf(stderr, "not a JSON log line: %.*s\n", (int)(e - line), line);
            __builtin_trap();
        }
        json_decref(j);
        line = e + 1;
    }
    free(text);
    if (ftruncate(log_fd, 0) != 0 || lseek(log_fd, 0, SEEK_SET) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (gw == NULL) {
        setup_gateway(NULL, memfd_create("gateway-log", 0));
    }
    if (len < 1) {
        return 0;
    }
    atomic_store(&backend_mode, data[0]);
    gw_req *r = build(data + 1, len - 1);
    if (r == NULL) {
        return 0;
    }
    /* A call (not a probe, not a preflight): its errors are Connect error bodies. */
    bool rpc = r->body_error == GW_BODY_OK && strcmp(r->method, "OPTIONS") != 0 &&
               r->path[0] == '/' && strchr(r->path + 1, '/') != NULL;
    outcome o = { .mtx = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    if (nng_aio_alloc(&o.aio, on_answer, &o) != 0) {
        abort();
    }
    nng_aio_begin(o.aio);
    r->aio = o.aio;
    pthread_mutex_lock(&gw->mtx);
    r->next = gw->live;
    if (gw->live != NULL) {
        gw->live->prev = r;
    }
    gw->live = r;
    pthread_mutex_unlock(&gw->mtx);

    dispatch(r);
    ev_timer watchdog;
    ev_timer_init(&watchdog, on_watchdog, 5., 0.);
    ev_timer_start(loop, &watchdog);
    while (gw->active > 0) {
        ev_run(loop, EVRUN_ONCE);
    }
    ev_timer_stop(loop, &watchdog);
    pthread_mutex_lock(&o.mtx);
    while (!o.done) {
        pthread_cond_wait(&o.cv, &o.mtx);
    }
    pthread_mutex_unlock(&o.mtx);
    nng_aio_free(o.aio);
    if (o.status != -1 && (o.status < 100 || o.status > 599)) {
        __builtin_trap();
    }
    if (rpc && o.status >= 400 && !o.connect_error) {
        fprintf(stderr, "an RPC error answer (HTTP %d) without a Connect error body\n", o.status);
        __builtin_trap();
    }
    if (getenv("BSL_FUZZ_VERBOSE") != NULL) {
        off_t n = lseek(log_fd, 0, SEEK_CUR);
        fprintf(stderr, "HTTP %d (log: %lld bytes)\n", o.status, (long long)n);
        char buf[2048];
        ssize_t k = pread(log_fd, buf, sizeof(buf) - 1, 0);
        fprintf(stderr, "%.*s", (int)(k > 0 ? k : 0), buf);
    }
    check_log();
    return 0;
}
