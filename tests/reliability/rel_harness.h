/*
 * What the reliability suites share (tests/integration/reliability_*_test.c and the drivers of
 * tests/reliability/run.sh): an HTTP/1.1 client for the gateway (blocking, and a load engine
 * keeping many keep-alive connections busy, closed loop or paced to a rate), processes started
 * on any host (a network namespace included), latency statistics, the resident memory of a
 * process, tokens minted by boussolectl, and a digest of everything in a Redis.
 *
 * Header-only (static functions), libc and POSIX only, so that the drivers build with a plain
 * `cc` and the integration tests include it next to tests/support/testenv.h.
 */
#ifndef REL_HARNESS_H
#define REL_HARNESS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#define REL_FN static __attribute__((unused))

/* ---- basics ---------------------------------------------------------------------------- */

REL_FN void rel_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

REL_FN void rel_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "reliability: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

REL_FN long long rel_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

REL_FN long long rel_now_ms(void)
{
    return rel_now_us() / 1000;
}

REL_FN void rel_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A formatted string, malloc'd. */
REL_FN char *rel_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

REL_FN char *rel_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) {
        rel_die("out of memory");
    }
    va_end(ap);
    return s;
}

/* The value of a string field in the gateway's compact JSON ("id" -> "01h..."), into out
 * (cap bytes); "" when absent. Only for values without escapes (ids, enum names, numbers
 * written as strings). */
REL_FN const char *rel_json_str(const char *json, const char *key, char *out, size_t cap)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *p = json ? strstr(json, pat) : NULL;
    out[0] = '\0';
    if (p != NULL) {
        p += strlen(pat);
        size_t n = strcspn(p, "\"");
        snprintf(out, cap, "%.*s", (int)n, p);
    }
    return out;
}

/* Runs a shell command; its trimmed stdout (malloc'd) and exit status. */
REL_FN char *rel_run(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    if (f == NULL) {
        rel_die("popen %s", cmd);
    }
    size_t cap = 1 << 16, len = 0, n;
    char *out = malloc(cap);
    while (out != NULL && (n = fread(out + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 >= cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
    }
    int st = pclose(f);
    if (out == NULL) {
        rel_die("out of memory");
    }
    if (status != NULL) {
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' ' || out[len - 1] == '\r')) {
        len--;
    }
    out[len] = '\0';
    return out;
}

/* The whole file (malloc'd, NUL-terminated), or NULL. */
REL_FN char *rel_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap + 1);
    while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    if (buf == NULL) {
        return NULL;
    }
    buf[n] = '\0';
    if (len != NULL) {
        *len = n;
    }
    return buf;
}

/* ---- HTTP: one response --------------------------------------------------------------- */

typedef struct rel_resp {
    int status; /* HTTP status; -1: no answer in time; -2: connection failed or closed */
    char *head; /* status line and headers, NUL-terminated (malloc'd) */
    char *body; /* NUL-terminated (malloc'd) */
    size_t len; /* body bytes */
    bool close; /* the server closes the connection after it */
} rel_resp;

REL_FN void rel_resp_free(rel_resp *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* The value of a header of the response (case-insensitive name), into out; NULL if absent. */
REL_FN const char *rel_header(const rel_resp *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *line = r->head ? strstr(r->head, "\r\n") : NULL; line != NULL;
         line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            const char *v = h + n + 1;
            while (*v == ' ') {
                v++;
            }
            snprintf(out, cap, "%.*s", (int)strcspn(v, "\r\n"), v);
            return out;
        }
    }
    return NULL;
}

/* Parses one response at the start of buf. Returns the bytes it takes, 0 when incomplete,
 * -1 when it is not HTTP. eof: the connection has closed (a body without Content-Length ends
 * there). */
REL_FN long rel_parse(const char *buf, size_t len, bool eof, rel_resp *out)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i;
            break;
        }
    }
    if (end == NULL) {
        return len > 65536 ? -1 : 0;
    }
    size_t head_len = (size_t)(end - buf);
    int status = -1;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        return -1;
    }
    rel_resp tmp = { .status = status };
    tmp.head = strndup(buf, head_len);
    char v[64];
    const char *cl = rel_header(&tmp, "Content-Length", v, sizeof(v));
    size_t body_len;
    if (cl != NULL) {
        body_len = strtoul(cl, NULL, 10);
    } else if (status == 204 || status == 304 || (status >= 100 && status < 200)) {
        body_len = 0;
    } else if (eof) {
        body_len = len - head_len - 4;
    } else {
        free(tmp.head);
        return 0;
    }
    if (len < head_len + 4 + body_len) {
        free(tmp.head);
        return 0;
    }
    const char *conn = rel_header(&tmp, "Connection", v, sizeof(v));
    tmp.close = conn != NULL && strcasecmp(conn, "close") == 0;
    tmp.body = malloc(body_len + 1);
    memcpy(tmp.body, end + 4, body_len);
    tmp.body[body_len] = '\0';
    tmp.len = body_len;
    *out = tmp;
    return (long)(head_len + 4 + body_len);
}

/* A request as bytes: method, path, extra header lines ("Name: value\r\n"..., may be NULL or
 * ""), body (Content-Length added when body != NULL). malloc'd; length in *len. */
REL_FN char *rel_request_bytes(const char *method, const char *path, const char *host,
                               const char *headers, const void *body, size_t blen, size_t *len)
{
    size_t cap = strlen(path) + (headers ? strlen(headers) : 0) + blen + 256;
    char *req = malloc(cap);
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n%s", method, path, host,
                     headers ? headers : "");
    if (body != NULL) {
        n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n", blen);
    }
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    if (body != NULL && blen > 0) {
        memcpy(req + n, body, blen);
        n += (int)blen;
    }
    *len = (size_t)n;
    return req;
}

/* ---- HTTP: a blocking keep-alive connection ------------------------------------------- */

typedef struct rel_conn {
    char host[64];
    int port;
    int fd;
    char *in; /* bytes read past the last response */
    size_t in_len, in_cap;
} rel_conn;

REL_FN int rel_tcp_connect(const char *host, int port, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0) | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

REL_FN void rel_conn_init(rel_conn *c, const char *host, int port)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->host, sizeof(c->host), "%s", host);
    c->port = port;
    c->fd = -1;
}

REL_FN void rel_conn_close(rel_conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    c->in_len = 0;
}

REL_FN void rel_conn_free(rel_conn *c)
{
    rel_conn_close(c);
    free(c->in);
    c->in = NULL;
    c->in_cap = 0;
}

/* Sends raw bytes and reads one response (timeout_ms for the whole exchange). A connection
 * the server closed in between is reopened once. half_close: shut the sending side after the
 * bytes (a client that sent all it will send). Returns the status (see rel_resp). */
REL_FN int rel_conn_raw(rel_conn *c, const void *bytes, size_t len, bool half_close, int timeout_ms,
                        rel_resp *out)
{
    memset(out, 0, sizeof(*out));
    long long deadline = rel_now_ms() + timeout_ms;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = c->fd < 0;
        if (fresh) {
            c->fd = rel_tcp_connect(c->host, c->port, false);
            c->in_len = 0;
            if (c->fd < 0) {
                out->status = -2;
                return -2;
            }
        }
        const char *p = bytes;
        size_t left = len;
        bool sent = true;
        while (left > 0) {
            ssize_t n = send(c->fd, p, left, MSG_NOSIGNAL);
            if (n <= 0) {
                sent = false; /* the server may have answered and closed: still read */
                break;
            }
            p += n;
            left -= (size_t)n;
        }
        if (half_close) {
            shutdown(c->fd, SHUT_WR);
        }
        for (;;) {
            if (c->in_cap - c->in_len < 65536) {
                c->in_cap = c->in_cap ? c->in_cap * 2 : 131072;
                c->in = realloc(c->in, c->in_cap);
            }
            long took = c->in_len ? rel_parse(c->in, c->in_len, false, out) : 0;
            if (took > 0) {
                memmove(c->in, c->in + took, c->in_len - (size_t)took);
                c->in_len -= (size_t)took;
                if (out->close || half_close) {
                    rel_conn_close(c);
                }
                return out->status;
            }
            if (took < 0) {
                rel_conn_close(c);
                out->status = -2;
                return -2;
            }
            long long left_ms = deadline - rel_now_ms();
            struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
            int ready = left_ms > 0 ? poll(&pfd, 1, (int)left_ms) : 0;
            if (ready < 0 && errno == EINTR) {
                continue; /* a signal (SIGCHLD of a stopped service): wait again */
            }
            if (ready == 0) {
                rel_conn_close(c);
                out->status = -1;
                return -1;
            }
            ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
            if (n <= 0) {
                took = c->in_len ? rel_parse(c->in, c->in_len, true, out) : 0;
                rel_conn_close(c);
                if (took > 0) {
                    return out->status;
                }
                break; /* closed before an answer */
            }
            c->in_len += (size_t)n;
        }
        if (fresh || !sent || half_close) {
            out->status = -2;
            return -2;
        }
        /* A kept-alive connection the server had closed: once more on a new one. */
    }
    out->status = -2;
    return -2;
}

/* One request on the connection. headers: extra lines "Name: value\r\n" (may be NULL). */
REL_FN int rel_conn_request(rel_conn *c, const char *method, const char *path, const char *headers,
                            const void *body, size_t blen, int timeout_ms, rel_resp *out)
{
    size_t len;
    char *req = rel_request_bytes(method, path, c->host, headers, body, blen, &len);
    int st = rel_conn_raw(c, req, len, false, timeout_ms, out);
    free(req);
    return st;
}

/* The header lines of a Connect JSON call with a bearer token (may be NULL) and more lines
 * (may be NULL), malloc'd. */
REL_FN char *rel_connect_headers(const char *token, const char *more)
{
    return rel_fmt("Content-Type: application/json\r\nConnect-Protocol-Version: 1\r\n%s%s%s%s",
                   token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "",
                   more ? more : "");
}

/* A Connect JSON call: POST /<method> (e.g. "boussole.v1.SessionService/GetBilan"). */
REL_FN int rel_call(rel_conn *c, const char *method, const char *token, const char *json,
                    const char *more_headers, rel_resp *out)
{
    char path[256];
    snprintf(path, sizeof(path), "/%s", method);
    char *h = rel_connect_headers(token, more_headers);
    int st = rel_conn_request(c, "POST", path, h, json, strlen(json), 30000, out);
    free(h);
    return st;
}

/* GET path on host:port on a new connection; the status, -1/-2 when no answer. */
REL_FN int rel_http_get(const char *host, int port, const char *path, char **body)
{
    rel_conn c;
    rel_conn_init(&c, host, port);
    rel_resp r;
    int st = rel_conn_request(&c, "GET", path, "Connection: close\r\n", NULL, 0, 5000, &r);
    if (body != NULL) {
        *body = r.body ? strdup(r.body) : NULL;
    }
    rel_resp_free(&r);
    rel_conn_free(&c);
    return st;
}

/* ---- the load engine ------------------------------------------------------------------ */

/* One request of a load: filled by the load's `next` callback. */
typedef struct rel_req {
    char method[8];
    char path[256];
    char headers[3072]; /* extra lines "Name: value\r\n" */
    char *body;         /* owned by the engine once given (freed after `done`) */
    size_t len;
    int kind;     /* the caller's own tag (which call of the mix) */
    long arg;     /* the caller's own data (e.g. which bilan) */
    char key[96]; /* the caller's own string (e.g. an idempotency key) */
} rel_req;

typedef struct rel_load rel_load;
/* Fills the slot's next request; false: the slot stops. */
typedef bool (*rel_next_fn)(rel_load *l, int slot, rel_req *req);
/* A request is over (resp->status < 0: no answer: -1 timeout, -2 connection lost, -3 no
 * connection). */
typedef void (*rel_done_fn)(rel_load *l, int slot, const rel_req *req, const rel_resp *resp,
                            long long latency_us);
/* Called on every turn of the engine's loop (at least every 50 ms): where a test acts (kills
 * a process, cuts a network) while the load runs. */
typedef void (*rel_tick_fn)(rel_load *l, long long now_us);

typedef enum { RS_IDLE, RS_CONNECT, RS_SEND, RS_RECV, RS_STOPPED } rel_slot_state;

typedef struct rel_slot {
    int fd;
    rel_slot_state st;
    rel_req req;
    char *out;
    size_t out_len, out_off;
    char *in;
    size_t in_len, in_cap;
    long long t0_us, deadline_us, retry_at_us;
} rel_slot;

struct rel_load {
    char host[64];
    int port;
    int n_slots;
    double rate;    /* requests per second over all slots; 0: closed loop */
    int timeout_ms; /* per request */
    rel_next_fn next;
    rel_done_fn done;
    rel_tick_fn tick; /* may be NULL */
    void *user;
    volatile int stop; /* set (from a callback, or a signal) to end the run */
    /* internal */
    rel_slot *slots;
    int rr; /* the slot that starts first at the next turn */
    long long next_release_us;
    unsigned long long started, answered;
};

REL_FN void rel_load_init(rel_load *l, const char *host, int port, int n_slots)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->host, sizeof(l->host), "%s", host);
    l->port = port;
    l->n_slots = n_slots;
    l->timeout_ms = 10000;
    l->slots = calloc((size_t)n_slots, sizeof(rel_slot));
    for (int i = 0; i < n_slots; i++) {
        l->slots[i].fd = -1;
    }
}

REL_FN void rel_load_free(rel_load *l)
{
    for (int i = 0; l->slots != NULL && i < l->n_slots; i++) {
        rel_slot *s = &l->slots[i];
        if (s->fd >= 0) {
            close(s->fd);
        }
        free(s->out);
        free(s->in);
        free(s->req.body);
    }
    free(l->slots);
    l->slots = NULL;
}

static void rel__slot_close(rel_slot *s)
{
    if (s->fd >= 0) {
        close(s->fd);
    }
    s->fd = -1;
    s->in_len = 0;
}

static void rel__finish(rel_load *l, int i, rel_resp *r)
{
    rel_slot *s = &l->slots[i];
    long long lat = rel_now_us() - s->t0_us;
    bool failed = r->status < 0;
    l->answered++;
    if (l->done != NULL) {
        l->done(l, i, &s->req, r, lat);
    }
    rel_resp_free(r);
    free(s->req.body);
    s->req.body = NULL;
    free(s->out);
    s->out = NULL;
    s->st = RS_IDLE;
    if (failed) {
        rel__slot_close(s);
        s->retry_at_us = rel_now_us() + 20000; /* a failed connection: not in a tight loop */
    }
}

static void rel__fail(rel_load *l, int i, int status)
{
    rel_resp r = { .status = status };
    rel__slot_close(&l->slots[i]);
    rel__finish(l, i, &r);
}

/* Starts the slot's next request if its turn has come. */
static void rel__start(rel_load *l, int i, long long now)
{
    rel_slot *s = &l->slots[i];
    if (l->stop || now < s->retry_at_us) {
        return;
    }
    if (l->rate > 0) {
        if (l->next_release_us == 0 || l->next_release_us < now - 1000000) {
            l->next_release_us = now; /* no burst to catch up after a stall */
        }
        if (now < l->next_release_us) {
            return;
        }
        l->next_release_us += (long long)(1e6 / l->rate);
    }
    memset(&s->req, 0, sizeof(s->req));
    snprintf(s->req.method, sizeof(s->req.method), "POST");
    if (!l->next(l, i, &s->req)) {
        s->st = RS_STOPPED;
        return;
    }
    s->out = rel_request_bytes(s->req.method, s->req.path, l->host, s->req.headers, s->req.body,
                               s->req.len, &s->out_len);
    s->out_off = 0;
    s->t0_us = now;
    s->deadline_us = now + (long long)l->timeout_ms * 1000;
    l->started++;
    if (s->fd < 0) {
        s->fd = rel_tcp_connect(l->host, l->port, true);
        if (s->fd < 0) {
            rel__fail(l, i, -3);
            return;
        }
        s->st = RS_CONNECT;
    } else {
        s->st = RS_SEND;
    }
}

static void rel__io(rel_load *l, int i, short revents)
{
    rel_slot *s = &l->slots[i];
    if (s->st == RS_CONNECT) {
        int err = 0;
        socklen_t el = sizeof(err);
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err != 0 || (revents & (POLLERR | POLLHUP))) {
            rel__fail(l, i, -3);
            return;
        }
        s->st = RS_SEND;
    }
    if (s->st == RS_SEND) {
        ssize_t n = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (n <= 0) {
            rel__fail(l, i, -2);
            return;
        }
        s->out_off += (size_t)n;
        if (s->out_off == s->out_len) {
            s->st = RS_RECV;
        }
        return;
    }
    if (s->st == RS_RECV) {
        if (s->in_cap - s->in_len < 16384) {
            s->in_cap = s->in_cap ? s->in_cap * 2 : 65536;
            s->in = realloc(s->in, s->in_cap);
        }
        ssize_t n = recv(s->fd, s->in + s->in_len, s->in_cap - s->in_len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        rel_resp r;
        memset(&r, 0, sizeof(r));
        if (n <= 0) {
            long took = s->in_len ? rel_parse(s->in, s->in_len, true, &r) : 0;
            if (took > 0) {
                rel__slot_close(s);
                rel__finish(l, i, &r);
            } else {
                rel__fail(l, i, -2);
            }
            return;
        }
        s->in_len += (size_t)n;
        long took = rel_parse(s->in, s->in_len, false, &r);
        if (took < 0) {
            rel__fail(l, i, -2);
        } else if (took > 0) {
            memmove(s->in, s->in + took, s->in_len - (size_t)took);
            s->in_len -= (size_t)took;
            if (r.close) {
                rel__slot_close(s);
            }
            rel__finish(l, i, &r);
        }
    }
}

/* Runs until duration_ms has passed (0: no limit), every slot has stopped, or l->stop is
 * set; then waits (at most the request timeout) for the requests in flight. */
REL_FN void rel_load_run(rel_load *l, long long duration_ms)
{
    struct pollfd *pfd = calloc((size_t)l->n_slots, sizeof(*pfd));
    long long end = duration_ms > 0 ? rel_now_us() + duration_ms * 1000 : 0;
    bool draining = false;
    for (;;) {
        long long now = rel_now_us();
        if (l->tick != NULL) {
            l->tick(l, now);
            now = rel_now_us();
        }
        if (!draining && (l->stop || (end && now >= end))) {
            draining = true;
            l->stop = 1;
        }
        int busy = 0, live = 0;
        long long wake = now + 50000;
        /* Idle slots start in turn from where the last start left off: paced to a rate, the
         * first slots would otherwise take every turn. */
        for (int k = 0; k < l->n_slots && !draining; k++) {
            int i = (l->rr + k) % l->n_slots;
            if (l->slots[i].st == RS_IDLE) {
                rel__start(l, i, now);
                if (l->slots[i].st != RS_IDLE) {
                    l->rr = (i + 1) % l->n_slots;
                }
            }
        }
        for (int i = 0; i < l->n_slots; i++) {
            rel_slot *s = &l->slots[i];
            if (s->st != RS_IDLE && s->st != RS_STOPPED && now >= s->deadline_us) {
                rel__fail(l, i, -1);
            }
            pfd[i].fd = -1;
            pfd[i].events = 0;
            if (s->st == RS_CONNECT || s->st == RS_SEND) {
                pfd[i].fd = s->fd;
                pfd[i].events = POLLOUT;
            } else if (s->st == RS_RECV) {
                pfd[i].fd = s->fd;
                pfd[i].events = POLLIN;
            }
            if (pfd[i].fd >= 0) {
                busy++;
                wake = s->deadline_us < wake ? s->deadline_us : wake;
            }
            if (s->st != RS_STOPPED) {
                live++;
            }
            if (s->st == RS_IDLE && s->retry_at_us > now && s->retry_at_us < wake) {
                wake = s->retry_at_us;
            }
        }
        if ((draining && busy == 0) || live == 0) {
            break;
        }
        if (l->rate > 0 && !draining && l->next_release_us > now && l->next_release_us < wake) {
            wake = l->next_release_us;
        }
        int ms = (int)((wake - now + 999) / 1000);
        if (poll(pfd, (nfds_t)l->n_slots, ms < 0 ? 0 : ms) > 0) {
            for (int i = 0; i < l->n_slots; i++) {
                if (pfd[i].fd >= 0 && pfd[i].revents != 0) {
                    rel__io(l, i, pfd[i].revents);
                }
            }
        }
    }
    free(pfd);
}

/* Whether slot i has a request written out and waiting for its answer. */
REL_FN bool rel_load_awaiting(const rel_load *l, int i)
{
    return l->slots[i].st == RS_RECV;
}

/* The request slot i is working on (valid while it is not idle). */
REL_FN rel_req *rel_load_req(rel_load *l, int i)
{
    return &l->slots[i].req;
}

/* A JSON POST request of the Connect protocol for the load engine. */
REL_FN void rel_req_json(rel_req *q, const char *method, const char *token, const char *idem_key,
                         char *json_malloced)
{
    snprintf(q->method, sizeof(q->method), "POST");
    snprintf(q->path, sizeof(q->path), "/%s", method);
    snprintf(q->headers, sizeof(q->headers),
             "Content-Type: application/json\r\nConnect-Protocol-Version: 1\r\n"
             "Connect-Timeout-Ms: 8000\r\nAuthorization: Bearer %s\r\n%s%s%s",
             token, idem_key ? "Idempotency-Key: " : "", idem_key ? idem_key : "",
             idem_key ? "\r\n" : "");
    q->body = json_malloced;
    q->len = strlen(json_malloced);
}

/* ---- latency statistics --------------------------------------------------------------- */

typedef struct rel_stats {
    uint32_t *us; /* latencies of successful calls */
    size_t n, cap;
    unsigned long long ok, errors, timeouts;
} rel_stats;

REL_FN void rel_stats_add(rel_stats *s, long long us)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        s->us = realloc(s->us, s->cap * sizeof(*s->us));
    }
    s->us[s->n++] = (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us);
}

static int rel__cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) in microseconds (sorts the samples). */
REL_FN double rel_stats_quantile(rel_stats *s, double q)
{
    if (s->n == 0) {
        return 0;
    }
    qsort(s->us, s->n, sizeof(*s->us), rel__cmp_u32);
    size_t i = (size_t)(q * (double)(s->n - 1) + 0.5);
    return s->us[i];
}

REL_FN void rel_stats_reset(rel_stats *s)
{
    s->n = 0;
    s->ok = s->errors = s->timeouts = 0;
}

REL_FN void rel_stats_free(rel_stats *s)
{
    free(s->us);
    memset(s, 0, sizeof(*s));
}

/* ---- processes ------------------------------------------------------------------------ */

/* The resident memory of a process in KiB (VmRSS), or -1. */
REL_FN long rel_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return kb;
}

typedef struct rel_proc {
    char name[64];
    char log[1200];
    char *argv[48];
    pid_t pid;
} rel_proc;

/* Starts argv (argv[0] a path) with its output appended to p->log, in its own process group;
 * env: "NAME=value" entries to add (NULL-terminated, may be NULL). The argv strings are
 * copied. */
REL_FN void rel_spawn(rel_proc *p, const char *name, const char *log, const char *const *argv,
                      const char *const *env)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->log, sizeof(p->log), "%s", log);
    int n = 0;
    for (; argv[n] != NULL && n < 47; n++) {
        p->argv[n] = strdup(argv[n]);
    }
    p->argv[n] = NULL;
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        rel_die("cannot open %s: %s", log, strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        rel_die("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        setpgid(0, 0);
        for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
            putenv(strdup(env[i]));
        }
        execv(p->argv[0], p->argv);
        fprintf(stderr, "exec %s: %s\n", p->argv[0], strerror(errno));
        _exit(127);
    }
    close(fd);
    p->pid = pid;
}

REL_FN void rel_signal(rel_proc *p, int sig)
{
    if (p->pid > 0) {
        kill(p->pid, sig);
    }
}

/* Waits for the process to end (at most timeout_ms): its exit status, 128+signal, or -1 on
 * timeout (then it is killed). */
/* One line of a /proc file, without its newline, into buf ("" when unreadable). */
REL_FN void rel_proc_line(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        if (fgets(buf, (int)cap, f) == NULL) {
            buf[0] = '\0';
        }
        buf[strcspn(buf, "\n")] = '\0';
        fclose(f);
    }
}

/* What each thread of a process that does not exit is doing, for the failure's report: name,
 * state, where it waits in the kernel, the system call it is in, its kernel stack's top. */
REL_FN void rel_dump_threads(pid_t pid, const char *why)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
    fprintf(stderr, "--- process %d %s; its threads:\n", (int)pid, why);
    DIR *d = opendir(dir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[400], comm[64], stat[512], wchan[128], sc[256], stack[256] = "";
        snprintf(path, sizeof(path), "%s/%s/comm", dir, e->d_name);
        rel_proc_line(path, comm, sizeof(comm));
        snprintf(path, sizeof(path), "%s/%s/stat", dir, e->d_name);
        rel_proc_line(path, stat, sizeof(stat));
        snprintf(path, sizeof(path), "%s/%s/wchan", dir, e->d_name);
        rel_proc_line(path, wchan, sizeof(wchan));
        snprintf(path, sizeof(path), "%s/%s/syscall", dir, e->d_name);
        rel_proc_line(path, sc, sizeof(sc));
        snprintf(path, sizeof(path), "%s/%s/stack", dir, e->d_name);
        FILE *f = fopen(path, "r");
        if (f != NULL) { /* the first three frames */
            char l[128];
            for (int i = 0; i < 3 && fgets(l, sizeof(l), f) != NULL; i++) {
                l[strcspn(l, "\n")] = '\0';
                size_t n = strlen(stack);
                snprintf(stack + n, sizeof(stack) - n, "%s%s", n ? " < " : "", l);
            }
            fclose(f);
        }
        const char *paren = strrchr(stat, ')');
        fprintf(stderr, "  tid %s %-16s state %c wchan %s syscall [%.60s] %s\n", e->d_name, comm,
                paren && paren[1] && paren[2] ? paren[2] : '?', wchan[0] ? wchan : "-", sc, stack);
    }
    closedir(d);
}

REL_FN int rel_wait(rel_proc *p, int timeout_ms)
{
    if (p->pid <= 0) {
        return -1;
    }
    long long until = rel_now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (rel_now_ms() >= until) {
            char why[64];
            snprintf(why, sizeof(why), "did not exit within %d ms", timeout_ms);
            rel_dump_threads(p->pid, why);
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
            p->pid = 0;
            return -1;
        }
        rel_sleep_ms(10);
    }
}

/* SIGTERM, then SIGKILL after grace_ms; the exit status as rel_wait gives it. */
REL_FN int rel_stop(rel_proc *p, int grace_ms)
{
    if (p->pid <= 0) {
        return 0;
    }
    kill(p->pid, SIGCONT);
    kill(p->pid, SIGTERM);
    return rel_wait(p, grace_ms);
}

REL_FN void rel_proc_free(rel_proc *p)
{
    for (int i = 0; p->argv[i] != NULL; i++) {
        free(p->argv[i]);
    }
    memset(p->argv, 0, sizeof(p->argv));
}

/* Waits until GET http://host:port/path answers 200 (at most timeout_ms); false if not, or if
 * the process died meanwhile. */
REL_FN bool rel_wait_http(rel_proc *p, const char *host, int port, const char *path, int timeout_ms)
{
    long long until = rel_now_ms() + timeout_ms;
    while (rel_now_ms() < until) {
        if (rel_http_get(host, port, path, NULL) == 200) {
            return true;
        }
        int st;
        if (p != NULL && p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = 0;
            return false;
        }
        rel_sleep_ms(50);
    }
    return false;
}

/* A TCP port of 127.0.0.1 that was free a moment ago. */
REL_FN int rel_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        rel_die("no free port: %s", strerror(errno));
    }
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- tokens ------------------------------------------------------------------------------ */

/* A token minted by boussolectl (ctl: its path) with the HS256 secret. */
REL_FN char *rel_token(const char *ctl, const char *secret, const char *sub, const char *role,
                       const char *org, const char *clock_file)
{
    char *cmd = rel_fmt("BSL_JWT_SECRET='%s' '%s' token --sub '%s' --role '%s' --org '%s' "
                        "--ttl-s 86400 %s%s%s",
                        secret, ctl, sub, role, org ? org : "", clock_file ? "--clock-file '" : "",
                        clock_file ? clock_file : "", clock_file ? "'" : "");
    int st;
    char *t = rel_run(cmd, &st);
    if (st != 0 || strlen(t) < 20) {
        rel_die("cannot mint a token: %s", cmd);
    }
    free(cmd);
    return t;
}

/* ---- Redis ------------------------------------------------------------------------------- */

/*
 * A digest of every key of a Redis (redis-cli on host:port): names, types, values (DUMP) and
 * whether a key expires, sorted; the replay cache of idempotency keys (idem:*) left out, since
 * the runtime keeps every keyed answer there by design (errors included). A test Redis only:
 * it walks the keys with KEYS.
 */
REL_FN char *rel_redis_digest(const char *host, int port)
{
    static const char script[] =
        "local ks = redis.call('KEYS', '*') table.sort(ks) local parts = {} "
        "for _, k in ipairs(ks) do if string.sub(k, 1, 5) ~= 'idem:' then "
        "parts[#parts + 1] = k parts[#parts + 1] = redis.call('TYPE', k)['ok'] "
        "parts[#parts + 1] = redis.call('DUMP', k) "
        "parts[#parts + 1] = tostring(redis.call('PTTL', k) > 0) end end "
        "return {#ks, redis.sha1hex(table.concat(parts, '\\0'))}";
    char *cmd = rel_fmt("redis-cli -h %s -p %d EVAL \"%s\" 0 2>&1", host, port, script);
    int st;
    char *out = rel_run(cmd, &st);
    free(cmd);
    if (st != 0 || strlen(out) < 40) {
        rel_die("redis digest failed: %s", out);
    }
    for (char *p = out; *p; p++) {
        if (*p == '\n') {
            *p = ' ';
        }
    }
    return out;
}

#endif /* REL_HARNESS_H */
