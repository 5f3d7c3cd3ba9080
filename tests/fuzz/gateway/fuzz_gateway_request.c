/*
 * The gateway's request path without sockets: an HTTP request (method, URI, headers, body) as
 * the HTTP server hands it over, through everything the loop does with it (routing, the Connect
 * checks, bearer tokens, rate limiting, idempotency keys, GET calls, JSON and binary
 * transcoding, the backend call, the backend's answer and its transcoding back, the error
 * bodies, the access log), to the HTTP response.
 *
 * The request is built and dispatched by the gateway's own code (gw__req_new, gw__req_method,
 * gw__req_header, gw__req_body, gw__dispatch: what MHD's callbacks call in front.c), so only MHD's
 * parsing is left out; fuzz_gateway_http covers that.
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
 * Checked: every request is answered within 5 s; every answer has a status from 100 to 599; an
 * error answer (4xx, 5xx) from an RPC path is a Connect error body (a JSON object with "code"
 * and "message" strings); the access log stays JSON lines and never holds a token.
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

/* Hands a header line to the request, as MHD's header list is (front.c); a bearer placeholder
 * becomes a real token. */
static void add_header(gw_req *r, const char *name, size_t nl, const char *v, size_t vl)
{
    while (vl > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    if (memchr(v, '\0', vl) != NULL || memchr(name, '\0', nl) != NULL) {
        return; /* MHD's parser ends a header at NUL */
    }
    const char *value = NULL;
    if (vl == 9 && strncasecmp(v, "Bearer @", 8) == 0) {
        for (int i = 0; i < 4; i++) {
            if (v[8] == token_tags[i]) {
                value = bsl_arena_printf(r->arena, "Bearer %s", tokens[i]);
            }
        }
    }
    const char *n = bsl_arena_strndup(r->arena, name, nl);
    value = value ? value : bsl_arena_strndup(r->arena, v, vl);
    if (n != NULL && value != NULL) {
        gw__req_header(r, n, value);
    }
}

/* The request the input describes, built as MHD's callbacks build it (front.c): the target,
 * then the method and headers, then the body. */
static gw_req *build(const uint8_t *data, size_t len)
{
    const char *p = (const char *)data, *end = p + len;
    const char *nl = memchr(p, '\n', len);
    const char *line_end = nl ? nl : end;
    const char *sp = memchr(p, ' ', (size_t)(line_end - p));
    const char *uri = sp ? sp + 1 : "/";
    size_t ulen = sp ? (size_t)(line_end - uri) : 1;
    size_t mlen = sp ? (size_t)(sp - p) : (size_t)(line_end - p);
    char *target = strndup(uri, strnlen(uri, ulen));
    char *method = strndup(p, strnlen(p, mlen));
    if (target == NULL || method == NULL) {
        abort();
    }
    gw_req *r = gw__req_new(gw, target);
    free(target);
    if (r == NULL) {
        free(method);
        return NULL;
    }
    gw__req_method(r, method);
    free(method);
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
            add_header(r, p, (size_t)(colon - p), colon + 1, (size_t)(line_end - colon - 1));
        }
        p = nl ? nl + 1 : end;
    }
    if (p < end) {
        gw__req_body(r, p, (size_t)(end - p));
    }
    return r;
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
    gw__dispatch(r);
    ev_timer watchdog;
    ev_timer_init(&watchdog, on_watchdog, 5., 0.);
    ev_timer_start(loop, &watchdog);
    while (!r->answered) {
        ev_run(loop, EVRUN_ONCE);
    }
    ev_timer_stop(loop, &watchdog);
    int status = r->response != NULL ? r->http_status : -1;
    if (status != -1 && (status < 100 || status > 599)) {
        __builtin_trap();
    }
    if (rpc && status >= 400) {
        /* A Connect error body: a JSON object with "code" and "message" strings. */
        json_t *j = r->out_type != NULL && strcmp(r->out_type, "application/json") == 0
                        ? json_loadb((const char *)r->out_body, r->out_len, 0, NULL)
                        : NULL;
        bool ok = j != NULL && json_is_string(json_object_get(j, "code")) &&
                  json_is_string(json_object_get(j, "message"));
        json_decref(j);
        if (!ok) {
            fprintf(stderr, "an RPC error answer (HTTP %d) without a Connect error body\n", status);
            __builtin_trap();
        }
    }
    if (getenv("BSL_FUZZ_VERBOSE") != NULL) {
        off_t n = lseek(log_fd, 0, SEEK_CUR);
        fprintf(stderr, "HTTP %d (log: %lld bytes)\n", status, (long long)n);
        char buf[2048];
        ssize_t k = pread(log_fd, buf, sizeof(buf) - 1, 0);
        fprintf(stderr, "%.*s", (int)(k > 0 ? k : 0), buf);
    }
    gw__req_free(r);
    check_log();
    return 0;
}
