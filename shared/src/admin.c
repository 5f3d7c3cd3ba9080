/*
 * The admin HTTP port, on libmicrohttpd with a thread of its own (the handlers only read
 * atomics and render metrics, so they need nothing from the loop). Not on nng's HTTP server:
 * nng 1.5.2 overruns its copy of a request-target that ends in a percent escape, before any
 * handler runs (tests/reliability/README.md, finding 1), and has no header timeout.
 */
#include "boussole/admin.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <microhttpd.h>

#include "boussole/err.h"

#define CONNECTION_TIMEOUT_S 10 /* a probe or a scrape takes milliseconds */
#define CONNECTION_LIMIT     64
#define CONNECTION_MEMORY    16384 /* request line and headers */

struct bsl_admin {
    struct MHD_Daemon *daemon;
    bsl_metrics *metrics;
    bsl_ready_fn ready;
    void *ready_arg;
    int port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             const void *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (r == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rv = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rv;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    bsl_admin *a = cls;
    if (*con_cls == NULL) {
        /* First call for this request: headers only. Answer on the next call, once any body
         * (which we do not want) has been dealt with. */
        *con_cls = a;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a body on a probe is ignored */
        return MHD_YES;
    }
    static const char text[] = "text/plain; charset=utf-8";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "method not allowed\n", 19);
    }
    if (strcmp(url, "/healthz") == 0) {
        return reply(c, MHD_HTTP_OK, text, "ok\n", 3);
    }
    if (strcmp(url, "/readyz") == 0) {
        char why[256] = "";
        if (a->ready == NULL || a->ready(a->ready_arg, why, sizeof(why))) {
            return reply(c, MHD_HTTP_OK, text, "ready\n", 6);
        }
        char body[300];
        int n = snprintf(body, sizeof(body), "not ready: %s\n", why);
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, text, body, (size_t)n);
    }
    if (strcmp(url, "/metrics") == 0) {
        size_t len = 0;
        char *body = bsl_metrics_render(a->metrics, &len);
        if (body == NULL) {
            return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, "out of memory\n", 14);
        }
        enum MHD_Result rv =
            reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
        free(body);
        return rv;
    }
    return reply(c, MHD_HTTP_NOT_FOUND, text, "not found\n", 10);
}

/* "http://host:port" into a socket address (the host a name or a numeric address). */
static int parse_url(const char *url, struct sockaddr_storage *ss, socklen_t *len)
{
    if (strncmp(url, "http://", 7) != 0) {
        return BSL_EINVAL;
    }
    char host[256];
    const char *hp = url + 7;
    const char *colon = strrchr(hp, ':');
    const char *slash = strchr(hp, '/');
    if (colon == NULL || colon == hp || (slash != NULL && slash < colon) ||
        (size_t)(colon - hp) >= sizeof(host)) {
        return BSL_EINVAL;
    }
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    if (host[0] == '[') { /* [::1] */
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']') {
            return BSL_EINVAL;
        }
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    char port[16];
    size_t plen = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
    if (plen == 0 || plen >= sizeof(port)) {
        return BSL_EINVAL;
    }
    memcpy(port, colon + 1, plen);
    port[plen] = '\0';
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
        return BSL_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return BSL_OK;
}

int bsl_admin_start(bsl_admin **out, const char *url, bsl_metrics *metrics, bsl_ready_fn ready,
                    void *arg, char *errbuf, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (parse_url(url, &ss, &sslen) != BSL_OK) {
        snprintf(errbuf, errlen, "admin URL '%s' is not http://host:port", url);
        return BSL_EINVAL;
    }
    bsl_admin *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return BSL_ENOMEM;
    }
    a->metrics = metrics;
    a->ready = ready;
    a->ready_arg = arg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    a->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
                                 (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                 (size_t)CONNECTION_MEMORY, MHD_OPTION_END);
    if (a->daemon == NULL) {
        snprintf(errbuf, errlen, "admin server on %s: cannot listen", url);
        free(a);
        return BSL_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info != NULL ? (int)info->port : -1;
    *out = a;
    return BSL_OK;
}

int bsl_admin_port(const bsl_admin *a)
{
    return a->port;
}

void bsl_admin_stop(bsl_admin *a)
{
    if (a == NULL) {
        return;
    }
    MHD_stop_daemon(a->daemon); /* joins its thread */
    free(a);
}
