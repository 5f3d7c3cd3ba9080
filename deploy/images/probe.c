/*
 * bsl-probe: the images' HEALTHCHECK. Slim images carry no curl or wget, so this tiny program
 * asks one HTTP question and answers with its exit status:
 *
 *   bsl-probe http://127.0.0.1:9101/healthz      exit 0 when the answer is "200", else 1
 *
 * Plain HTTP/1.0 over IPv4 or IPv6, numeric host or a name, two seconds in all; nothing but
 * libc. It only ever reads the status line, so whatever the body holds never reaches it.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MS 2000

/* Milliseconds left until `deadline` (CLOCK_MONOTONIC), at least 0. */
static int remaining_ms(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? (int)ms : 0;
}

/* Waits until fd is ready for `events` or the deadline passes. Returns 0 when ready. */
static int wait_fd(int fd, short events, const struct timespec *deadline)
{
    struct pollfd p = { .fd = fd, .events = events };
    for (;;) {
        int rv = poll(&p, 1, remaining_ms(deadline));
        if (rv > 0) {
            return 0;
        }
        if (rv == 0 || errno != EINTR) {
            return -1;
        }
    }
}

/* Splits "http://host:port/path" into its parts (host may be "[v6]"). Returns 0 on success. */
static int parse_url(const char *url, char *host, size_t hostlen, char *port, size_t portlen,
                     const char **path)
{
    if (strncmp(url, "http://", 7) != 0) {
        return -1;
    }
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    *path = slash != NULL ? slash : "/";
    size_t authority = slash != NULL ? (size_t)(slash - h) : strlen(h);
    const char *colon = NULL;
    if (authority > 0 && h[0] == '[') {
        const char *close = memchr(h, ']', authority);
        if (close == NULL) {
            return -1;
        }
        colon = close + 1 < h + authority && close[1] == ':' ? close + 1 : NULL;
        size_t n = (size_t)(close - h - 1);
        if (n == 0 || n >= hostlen) {
            return -1;
        }
        memcpy(host, h + 1, n);
        host[n] = '\0';
    } else {
        colon = memchr(h, ':', authority);
        size_t n = colon != NULL ? (size_t)(colon - h) : authority;
        if (n == 0 || n >= hostlen) {
            return -1;
        }
        memcpy(host, h, n);
        host[n] = '\0';
    }
    const char *end = slash != NULL ? slash : h + strlen(h);
    if (colon == NULL) {
        snprintf(port, portlen, "80");
    } else {
        size_t n = (size_t)(end - colon - 1);
        if (n == 0 || n >= portlen) {
            return -1;
        }
        memcpy(port, colon + 1, n);
        port[n] = '\0';
    }
    return 0;
}

/* Connects to one of the host's addresses; returns a non-blocking socket or -1. */
static int dial(const char *host, const char *port, const struct timespec *deadline)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            continue;
        }
        int err = 0;
        socklen_t len = sizeof(err);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 &&
            (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != 0 ||
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

int main(int argc, char **argv)
{
    char host[256], port[16];
    const char *path;
    if (argc != 2 || parse_url(argv[1], host, sizeof(host), port, sizeof(port), &path) != 0) {
        fprintf(stderr, "usage: bsl-probe http://HOST:PORT/PATH (exit 0 on HTTP 200)\n");
        return 2;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += PROBE_TIMEOUT_MS / 1000;

    int fd = dial(host, port, &deadline);
    if (fd < 0) {
        fprintf(stderr, "bsl-probe: cannot connect to %s:%s\n", host, port);
        return 1;
    }
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     path, host);
    if (n < 0 || (size_t)n >= sizeof(req)) {
        close(fd);
        return 2;
    }
    for (int off = 0; off < n;) {
        if (wait_fd(fd, POLLOUT, &deadline) != 0) {
            close(fd);
            return 1;
        }
        ssize_t w = send(fd, req + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            close(fd);
            return 1;
        }
        off += w > 0 ? (int)w : 0;
    }
    /* "HTTP/1.x 200" is all we need: 12 bytes. */
    char status[16];
    size_t got = 0;
    while (got < 12) {
        if (wait_fd(fd, POLLIN, &deadline) != 0) {
            break;
        }
        ssize_t r = recv(fd, status + got, 12 - got, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            break;
        }
        got += r > 0 ? (size_t)r : 0;
    }
    close(fd);
    status[got] = '\0';
    if (got == 12 && strncmp(status, "HTTP/1.", 7) == 0 && strcmp(status + 8, " 200") == 0) {
        return 0;
    }
    fprintf(stderr, "bsl-probe: %s answered '%.12s'\n", argv[1], status);
    return 1;
}
