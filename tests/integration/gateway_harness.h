/*
 * What the gateway's integration tests (tests/integration/gateway_*_test.c) share, on top of
 * tests/support/testenv.h: starting boussole-gateway (whose /readyz depends on its backends, so
 * it is waited for on /healthz), minting tokens with boussolectl, and a raw HTTP/1.1 client that
 * lets a test send exactly the bytes it wants and read every header of the answer.
 *
 * Header-only (static functions): each test is one program.
 */
#ifndef GATEWAY_HARNESS_H
#define GATEWAY_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "testenv.h"

/* Every helper is static; a test uses some of them. */
#define GWH_FN static __attribute__((unused))

/* The HS256 secret of the test gateways (protects nothing real). */
#define GWH_SECRET "test-secret-0123456789abcdef0123456789abcdef"

GWH_FN void gwh_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

GWH_FN void gwh_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gateway harness: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ---- raw HTTP -------------------------------------------------------------------------- */

typedef struct gwh_resp {
    int status;
    char *head; /* status line and headers, NUL-terminated */
    char *body; /* NUL-terminated (binary bodies: see len) */
    size_t len;
    char *raw; /* everything received */
    size_t raw_len;
} gwh_resp;

GWH_FN void gwh_resp_free(gwh_resp *r)
{
    free(r->raw);
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* The value of a response header (case-insensitive name), copied into a static buffer, or NULL. */
GWH_FN const char *gwh_header(const gwh_resp *r, const char *name)
{
    static char value[2048];
    size_t n = strlen(name);
    for (const char *line = r->head ? strstr(r->head, "\r\n") : NULL; line != NULL;
         line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
            const char *v = h + n + 1;
            while (*v == ' ') {
                v++;
            }
            size_t vl = strcspn(v, "\r\n");
            snprintf(value, sizeof(value), "%.*s", (int)vl, v);
            return value;
        }
    }
    return NULL;
}

/* A connection to the gateway from a given loopback address (NULL: the system's choice, i.e.
 * 127.0.0.1), so that a test can be several clients: 127.0.0.0/8 is all the loopback's. */
GWH_FN int gwh_connect_from(int port, const char *source)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    if (source != NULL) {
        struct sockaddr_in src;
        memset(&src, 0, sizeof(src));
        src.sin_family = AF_INET;
        if (inet_pton(AF_INET, source, &src.sin_addr) != 1 ||
            bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = { 20, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

GWH_FN int gwh_connect(int port)
{
    return gwh_connect_from(port, NULL);
}

GWH_FN bool gwh_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Splits what was received into head and body; true when one whole response is in. */
GWH_FN bool gwh_parse(gwh_resp *r)
{
    char *end = r->raw ? strstr(r->raw, "\r\n\r\n") : NULL;
    if (end == NULL) {
        return false;
    }
    size_t head_len = (size_t)(end - r->raw);
    free(r->head);
    r->head = strndup(r->raw, head_len);
    r->status = -1;
    sscanf(r->raw, "HTTP/1.%*d %d", &r->status);
    const char *cl = gwh_header(r, "Content-Length");
    size_t body_len = cl ? strtoul(cl, NULL, 10) : r->raw_len - head_len - 4;
    if (r->raw_len < head_len + 4 + body_len) {
        return false;
    }
    free(r->body);
    r->body = malloc(body_len + 1);
    memcpy(r->body, end + 4, body_len);
    r->body[body_len] = '\0';
    r->len = body_len;
    return true;
}

/* Reads until the connection closes or one whole response is in (see gwh_raw). */
GWH_FN int gwh_read_resp(int fd, gwh_resp *out)
{
    size_t cap = 1 << 16;
    out->raw = malloc(cap + 1);
    out->raw_len = 0;
    ssize_t n;
    /* A signal (SIGCHLD, when a test stops or resumes a service) ends a read on a socket with
     * a receive timeout with EINTR even under SA_RESTART (signal(7)): read again. */
    while ((n = read(fd, out->raw + out->raw_len, cap - out->raw_len)) > 0 ||
           (n < 0 && errno == EINTR)) {
        if (n < 0) {
            continue;
        }
        out->raw_len += (size_t)n;
        out->raw[out->raw_len] = '\0';
        if (out->raw_len == cap) {
            cap *= 2;
            out->raw = realloc(out->raw, cap + 1);
        }
    }
    out->raw[out->raw_len] = '\0';
    /* Skip an interim "100 Continue". */
    if (strncmp(out->raw, "HTTP/1.1 100", 12) == 0) {
        char *next = strstr(out->raw, "\r\n\r\n");
        if (next != NULL) {
            size_t skip = (size_t)(next + 4 - out->raw);
            memmove(out->raw, out->raw + skip, out->raw_len - skip + 1);
            out->raw_len -= skip;
        }
    }
    if (!gwh_parse(out)) {
        return out->status = -1;
    }
    return out->status;
}

/* Sends raw bytes on a new connection from `source` (NULL: any) and reads until the
 * connection closes (send "Connection: close" requests) or one whole response is in. Returns
 * the status, -1 when nothing came back. */
GWH_FN int gwh_raw_from(int port, const char *source, const void *req, size_t len, gwh_resp *out)
{
    memset(out, 0, sizeof(*out));
    int fd = gwh_connect_from(port, source);
    if (fd < 0) {
        return -1;
    }
    if (!gwh_write_all(fd, req, len)) {
        /* The server may answer and close before reading everything (a body over the limit):
         * still read what it said. */
    }
    int st = gwh_read_resp(fd, out);
    close(fd);
    return st;
}

GWH_FN int gwh_raw(int port, const void *req, size_t len, gwh_resp *out)
{
    return gwh_raw_from(port, NULL, req, len, out);
}

/*
 * One request: method, path, extra header lines ("Name: value", NULL-terminated, may be NULL)
 * and a body (Content-Length added when body is not NULL).
 */
GWH_FN int gwh_http(int port, const char *method, const char *path, const char *const *headers,
                    const void *body, size_t len, gwh_resp *out)
{
    size_t cap = 16384 + len;
    char *req = malloc(cap);
    int n = snprintf(req, cap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method,
                     path);
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        n += snprintf(req + n, cap - (size_t)n, "%s\r\n", headers[i]);
    }
    if (body != NULL) {
        n += snprintf(req + n, cap - (size_t)n, "Content-Length: %zu\r\n", len);
    }
    n += snprintf(req + n, cap - (size_t)n, "\r\n");
    if (body != NULL) {
        memcpy(req + n, body, len);
        n += (int)len;
    }
    int st = gwh_raw(port, req, (size_t)n, out);
    free(req);
    return st;
}

/* A JSON POST with an optional bearer token; more header lines in extra (may be NULL). */
GWH_FN int gwh_post(int port, const char *method, const char *token, const char *json,
                    const char *const *extra, gwh_resp *out)
{
    char auth[9000], path[300];
    const char *headers[24];
    size_t n = 0;
    headers[n++] = "Content-Type: application/json";
    headers[n++] = "Connect-Protocol-Version: 1";
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers[n++] = auth;
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 23; i++) {
        headers[n++] = extra[i];
    }
    headers[n] = NULL;
    snprintf(path, sizeof(path), "/%s", method);
    return gwh_http(port, "POST", path, headers, json, strlen(json), out);
}

/* The value of a string field in compact JSON ("id" -> "01h..."), copied, or "" (tests
 * check the gateway's own compact output, whose layout they know). */
GWH_FN const char *gwh_json_str(const char *json, const char *key)
{
    static char value[1024];
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *p = json ? strstr(json, pat) : NULL;
    value[0] = '\0';
    if (p != NULL) {
        p += strlen(pat);
        size_t n = strcspn(p, "\"");
        snprintf(value, sizeof(value), "%.*s", (int)n, p);
    }
    return value;
}

/* ---- processes ------------------------------------------------------------------------- */

GWH_FN void gwh_spawn(te_env *te, te_proc *p)
{
    for (size_t i = 0; i < te->n_procs; i++) {
        if (te->procs[i] == p) {
            goto tracked;
        }
    }
    if (te->n_procs == TE_MAX_PROCS) {
        gwh_die("too many processes");
    }
    te->procs[te->n_procs++] = p; /* te_fini kills it */
tracked:;
    int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) {
        gwh_die("cannot open %s: %s", p->log, strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        gwh_die("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
        setpgid(0, 0);
        for (size_t i = 0; p->envp[i] != NULL; i++) {
            putenv(p->envp[i]);
        }
        execv(p->binary, p->argv);
        fprintf(stderr, "exec %s: %s\n", p->binary, strerror(errno));
        _exit(127);
    }
    close(fd);
    p->pid = pid;
}

GWH_FN int gwh_http_status(int port, const char *path)
{
    gwh_resp r;
    int st = gwh_http(port, "GET", path, NULL, NULL, 0, &r);
    gwh_resp_free(&r);
    return st;
}

/* Waits until the gateway answers /healthz (or, when ready is set, /readyz) with 200. */
GWH_FN void gwh_wait(te_proc *p, bool ready)
{
    for (int i = 0; i < 600; i++) {
        if (gwh_http_status(p->port, ready ? "/readyz" : "/healthz") == 200) {
            return;
        }
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            gwh_die("%s exited while starting (see %s)", p->name, p->log);
        }
        te_sleep_ms(25);
    }
    gwh_die("%s did not become %s (see %s)", p->name, ready ? "ready" : "healthy", p->log);
}

/*
 * Starts boussole-gateway on a free port (scheme "http" or "https") with the test's clock and
 * secret, without waiting. sessions_url may be NULL (no sessions backend); questionnaires and
 * syntheses are off unless extra_args route them. extra_args: more "--flag=value"
 * (NULL-terminated, may be NULL; a flag given twice takes its last value).
 */
GWH_FN void gwh_gateway_spawn(te_env *te, te_proc *p, const char *name, const char *scheme,
                              const char *sessions_url, const char *const *extra_args)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->binary, sizeof(p->binary), "%s/services/gateway/boussole-gateway", te->build);
    p->port = te_free_port();
    p->admin_port = p->port;
    snprintf(p->url, sizeof(p->url), "%s://127.0.0.1:%d", scheme, p->port);
    snprintf(p->log, sizeof(p->log), "%s/%s-%d.log", te->dir, name, p->port);
    char buf[1200];
    int i = 0;
    p->argv[i++] = strdup(p->binary);
    snprintf(buf, sizeof(buf), "--http=%s", p->url);
    p->argv[i++] = strdup(buf);
    snprintf(buf, sizeof(buf), "--sessions-url=%s", sessions_url ? sessions_url : "");
    p->argv[i++] = strdup(buf);
    p->argv[i++] = strdup("--questionnaires-url=");
    p->argv[i++] = strdup("--syntheses-url=");
    snprintf(buf, sizeof(buf), "--clock-file=%s", te->clock_file);
    p->argv[i++] = strdup(buf);
    for (size_t k = 0; extra_args != NULL && extra_args[k] != NULL && i < 30; k++) {
        p->argv[i++] = strdup(extra_args[k]);
    }
    p->argv[i] = NULL;
    p->envp[0] = strdup("BSL_JWT_SECRET=" GWH_SECRET);
    p->envp[1] = NULL;
    gwh_spawn(te, p);
}

/* gwh_gateway_spawn over plain HTTP, then waits for /healthz. */
GWH_FN void gwh_gateway_start(te_env *te, te_proc *p, const char *name, const char *sessions_url,
                              const char *const *extra_args)
{
    gwh_gateway_spawn(te, p, name, "http", sessions_url, extra_args);
    gwh_wait(p, false);
}

/* SIGTERM, then the exit status (0 after a clean drain; under the sanitizers, a leak makes it
 * non-zero). */
GWH_FN int gwh_stop(te_proc *p)
{
    te_signal(p, SIGTERM);
    int st = te_wait(p, 15000);
    if (st != 0) {
        fprintf(stderr, "%s exited with %d (see %s)\n", p->name, st, p->log);
    }
    return st;
}

/* Runs a command line; returns its trimmed stdout (malloc'd) and its exit status. */
GWH_FN char *gwh_run(const char *cmd, int *status)
{
    FILE *f = popen(cmd, "r");
    if (f == NULL) {
        gwh_die("popen %s", cmd);
    }
    size_t cap = 1 << 16, len = 0, n;
    char *out = malloc(cap);
    while ((n = fread(out + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 >= cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
    }
    int st = pclose(f);
    if (status != NULL) {
        *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' ')) {
        len--;
    }
    out[len] = '\0';
    return out;
}

/* boussolectl's path. */
GWH_FN const char *gwh_ctl(const te_env *te)
{
    static char path[1100];
    snprintf(path, sizeof(path), "%s/services/gateway/boussolectl", te->build);
    return path;
}

/* A token minted by boussolectl with the test secret; `more` adds flags (may be ""). */
GWH_FN char *gwh_token(const te_env *te, const char *sub, const char *role, const char *org,
                       const char *more)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "BSL_JWT_SECRET=%s %s token --sub '%s' --role '%s' --org '%s' --clock-file '%s' %s",
             GWH_SECRET, gwh_ctl(te), sub, role, org ? org : "", te->clock_file, more ? more : "");
    int st;
    char *t = gwh_run(cmd, &st);
    if (st != 0 || strlen(t) < 20) {
        gwh_die("cannot mint a token: %s", cmd);
    }
    return t;
}

/* Whether the file contains the text. */
GWH_FN bool gwh_file_contains(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return false;
    }
    size_t cap = 1 << 20, len = 0, n;
    char *buf = malloc(cap + 1);
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[len] = '\0';
    bool found = memmem(buf, len, text, strlen(text)) != NULL;
    free(buf);
    return found;
}

#endif /* GATEWAY_HARNESS_H */
