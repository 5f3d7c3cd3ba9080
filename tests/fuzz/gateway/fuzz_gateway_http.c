/*
 * The gateway's front door as a client reaches it: raw bytes over a TCP connection to a real
 * gw_gateway started in this process (its HTTP server, libmicrohttpd, on 127.0.0.1, driven by
 * the gateway's loop on a thread of its own), so that MHD's parser and the gateway's side of it
 * (front.c: the request-target's decoding, the framing checks, bodies in Content-Length and
 * chunked encoding, trailers, Expect: 100-continue, pipelined requests, suspended requests
 * resumed by their answers) see hostile bytes. Request-targets ending in a percent escape, which
 * corrupted nng's heap (tests/reliability/README.md, finding 1), are sent as they come: the
 * regression input in tests/fuzz/regressions/fuzz_gateway_http/ is one.
 * fuzz_gateway_request covers what the loop does with a request, much faster; this one covers
 * what only a socket reaches.
 *
 * Input: byte 0 says how the backend answers (as in fuzz_gateway_request); the rest is sent as
 * is, "Bearer @b" (@c, @a, @t) replaced by a valid token, then the sending side is shut. The
 * gateway must answer with well-formed HTTP responses (a status line each) and close, within
 * 5 s (its idle timeout is 1 s here); a crash, a sanitizer report or a hang fails.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "gw_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static int port;

static void *run_loop(void *arg)
{
    (void)arg;
    ev_run(loop, 0);
    return NULL;
}

static void start(void)
{
    FILE *null = fopen("/dev/null", "w");
    setup_gateway("http://127.0.0.1:0", null ? fileno(null) : -1);
    port = gw_gateway_port(gw);
    pthread_t t;
    if (port <= 0 || pthread_create(&t, NULL, run_loop, NULL) != 0) {
        abort();
    }
    pthread_detach(t);
}

/* The input with its token placeholders replaced (malloc'd). */
static char *expand(const uint8_t *data, size_t len, size_t *out_len)
{
    size_t cap = len + 4 * 1024 + 1, n = 0;
    char *out = malloc(cap);
    for (size_t i = 0; i < len; i++) {
        if (i + 8 < len && memcmp(data + i, "Bearer @", 8) == 0 && token_of((char)data[i + 8])) {
            const char *t = token_of((char)data[i + 8]);
            size_t tl = strlen(t);
            if (n + 7 + tl >= cap) {
                cap = (n + 7 + tl) * 2;
                out = realloc(out, cap);
            }
            memcpy(out + n, "Bearer ", 7);
            memcpy(out + n + 7, t, tl);
            n += 7 + tl;
            i += 8;
            continue;
        }
        if (n + 1 >= cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        out[n++] = (char)data[i];
    }
    *out_len = n;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (port == 0) {
        start();
    }
    if (len < 1) {
        return 0;
    }
    atomic_store(&backend_mode, data[0]);
    size_t n;
    char *req = expand(data + 1, len - 1, &n);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            close(fd); /* thousands of connections a second: wait for a free local port */
            fd = -1;
            usleep(10000);
        }
    }
    if (fd < 0) {
        abort();
    }
    /* Closed with a reset once the answer is read, so that no local port waits in TIME_WAIT. */
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    /* Send what the server takes; it may close early (a refused request): still read. */
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, req + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) {
            break;
        }
        off += (size_t)w;
    }
    /* The end of the input is a half-close. MHD (0.9.75) notices an end of stream only when
     * it arrives after the data it has read: when both are in the socket before MHD reads,
     * it reads the data, takes the short read for "nothing more", and keeps the connection
     * until the idle timeout. A moment between the bytes and the FIN (or the first answer)
     * makes the FIN an event of its own, as it is for a real client. */
    struct pollfd first = { .fd = fd, .events = POLLIN };
    poll(&first, 1, 20);
    shutdown(fd, SHUT_WR);
    size_t cap = 1 << 16, got = 0;
    char *resp = malloc(cap + 1);
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, 5000);
        if (r == 0) {
            fprintf(stderr, "fuzz_gateway_http: the connection is still open after 5 s\n");
            __builtin_trap();
        }
        ssize_t k = recv(fd, resp + got, cap - got, 0);
        if (k <= 0) {
            break;
        }
        got += (size_t)k;
        if (got == cap) {
            cap *= 2;
            resp = realloc(resp, cap + 1);
        }
    }
    close(fd);
    resp[got] = '\0';
    /* What came back is HTTP: responses, each starting with a status line. */
    if (got > 0 && strncmp(resp, "HTTP/1.1 ", 9) != 0) {
        fprintf(stderr, "fuzz_gateway_http: not an HTTP response: %.80s\n", resp);
        __builtin_trap();
    }
    for (int i = 0; i < 4; i++) {
        if (got > 0 && memmem(resp, got, tokens[i], strlen(tokens[i])) != NULL) {
            __builtin_trap(); /* a token echoed back */
        }
    }
    free(resp);
    free(req);
    return 0;
}
