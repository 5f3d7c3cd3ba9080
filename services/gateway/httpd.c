/*
 * libmicrohttpd on the gateway's loop, the way hiredis's adapters/libev.h puts a client on a
 * loop: MHD runs without a thread of its own (external polling, epoll); the loop watches MHD's
 * epoll descriptor and MHD's next timeout and calls MHD_run when either fires. So the request
 * line, the headers, the body and the answer are handled on the loop's thread, like everything
 * else of the gateway, with no hand-over between threads.
 *
 * MHD gives what nng's HTTP server did not: an idle timeout per connection (headers that never
 * end, a body that stops coming), a bound on each connection's memory (a head too large for it
 * gets 431 or 414), a connection limit, and the client's address.
 */
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "boussole/err.h"
#include "gateway_internal.h"
#include "jwtauth.h"

/* What the front door accepts of TLS: 1.2 and 1.3, GnuTLS's normal ciphers. */
#define GW_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* ---- driving MHD ------------------------------------------------------------------------- */

static void run(gw_gateway *g)
{
    MHD_run(g->httpd);
    if (g->below_limit) {
        /* A connection closed while MHD was at its connection limit: MHD takes the listening
         * socket back into its epoll set only at the start of its next run, and a client
         * already waiting in the socket's queue would otherwise wait for some other event. */
        g->below_limit = false;
        MHD_run(g->httpd);
    }
    /* MHD's next deadline (a connection's idle timeout, or 0 when it has work pending, such as
     * TLS data already decrypted): the timer fires then, whatever the sockets do. */
    MHD_UNSIGNED_LONG_LONG ms = 0;
    if (MHD_get_timeout(g->httpd, &ms) == MHD_YES) {
        g->httpd_timer.repeat = ms > 0 ? (double)ms / 1e3 : 1e-4;
        ev_timer_again(g->loop, &g->httpd_timer);
    } else if (ev_is_active(&g->httpd_timer)) {
        ev_timer_stop(g->loop, &g->httpd_timer);
    }
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    run(w->data);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    run(w->data);
}

void gw__httpd_kick(gw_gateway *g)
{
    /* MHD_resume_connection also wakes MHD's epoll descriptor (its inter-thread channel), so
     * the loop would notice on its next turn; running MHD in this turn saves that wake-up. */
    if (g->httpd != NULL && !ev_is_pending(&g->httpd_io)) {
        ev_feed_event(g->loop, &g->httpd_io, EV_READ);
    }
}

/* Counts the open connections, to notice when MHD goes back under its limit. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)c;
    (void)socket_context;
    gw_gateway *g = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        g->connections++;
    } else {
        if (g->connections-- == g->cfg.max_connections) {
            g->below_limit = true;
        }
    }
}

/* MHD's messages (a client's malformed request, a failed accept) at debug level: they are
 * about clients, and the access log already says what matters. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    gw_gateway *g = cls;
    if (!bsl_log_enabled(g->cfg.log, BSL_LOG_DEBUG)) {
        return;
    }
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    bsl_log(g->cfg.log, BSL_LOG_DEBUG, NULL, NULL, "http: %s", msg);
}

/* ---- the listening address ---------------------------------------------------------------- */

/* "http://host:port" or "https://host:port" (host a name, a numeric address or [v6]) into a
 * socket address; *tls says which scheme. */
static int parse_url(const char *url, struct sockaddr_storage *ss, bool *tls, char *errbuf,
                     size_t errlen)
{
    const char *hp;
    if (strncmp(url, "http://", 7) == 0) {
        *tls = false;
        hp = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        *tls = true;
        hp = url + 8;
    } else {
        snprintf(errbuf, errlen, "HTTP address '%s' is not http://host:port or https://host:port",
                 url);
        return BSL_EINVAL;
    }
    char host[256], port[16];
    const char *end = hp + strcspn(hp, "/");
    if (end[0] == '/' && end[1] != '\0') {
        snprintf(errbuf, errlen, "HTTP address '%s': no path is served but the root", url);
        return BSL_EINVAL;
    }
    const char *colon = NULL;
    for (const char *p = hp; p < end; p++) {
        if (*p == ':') {
            colon = p; /* the last one: [::1]:8080 */
        }
    }
    if (colon == NULL || colon == hp || (size_t)(colon - hp) >= sizeof(host) ||
        (size_t)(end - colon - 1) >= sizeof(port) || end == colon + 1) {
        snprintf(errbuf, errlen, "HTTP address '%s' needs a host and a port", url);
        return BSL_EINVAL;
    }
    size_t hl = (size_t)(colon - hp);
    memcpy(host, hp, hl);
    host[hl] = '\0';
    if (host[0] == '[') {
        if (hl < 3 || host[hl - 1] != ']') {
            snprintf(errbuf, errlen, "HTTP address '%s': bad IPv6 address", url);
            return BSL_EINVAL;
        }
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    memcpy(port, colon + 1, (size_t)(end - colon - 1));
    port[end - colon - 1] = '\0';
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rv = getaddrinfo(host, port, &hints, &res);
    if (rv != 0 || res == NULL || res->ai_addrlen > sizeof(*ss)) {
        snprintf(errbuf, errlen, "HTTP address '%s': %s", url,
                 rv != 0 ? gai_strerror(rv) : "no address");
        if (res != NULL) {
            freeaddrinfo(res);
        }
        return BSL_EINVAL;
    }
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return BSL_OK;
}

/* The front door's certificate chain and key, read once; MHD (GnuTLS) parses them at start. */
static int load_tls(gw_gateway *g, bool https, char *errbuf, size_t errlen)
{
    const char *cert = g->cfg.http_tls_cert, *key = g->cfg.http_tls_key;
    bool files = cert && cert[0] && key && key[0];
    if (!https && !files) {
        return BSL_OK;
    }
    if (https != files) {
        snprintf(errbuf, errlen,
                 https ? "an https:// address needs --http-tls-cert and --http-tls-key"
                       : "--http-tls-cert and --http-tls-key need an https:// address");
        return BSL_EINVAL;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(errbuf, errlen, "this libmicrohttpd was built without TLS");
        return BSL_EINVAL;
    }
    char spec[1100];
    size_t clen = 0;
    snprintf(spec, sizeof(spec), "@%s", cert);
    if ((g->tls_cert = (char *)gw_key_load(spec, &clen, errbuf, errlen)) == NULL) {
        return BSL_EINVAL;
    }
    snprintf(spec, sizeof(spec), "@%s", key);
    if ((g->tls_key = (char *)gw_key_load(spec, &g->tls_key_len, errbuf, errlen)) == NULL) {
        return BSL_EINVAL;
    }
    return BSL_OK;
}

int gw__httpd_start(gw_gateway *g, char *errbuf, size_t errlen)
{
    struct sockaddr_storage ss;
    bool https = false;
    int rv = parse_url(g->cfg.http_url, &ss, &https, errbuf, errlen);
    if (rv != BSL_OK || (rv = load_tls(g, https, errbuf, errlen)) != BSL_OK) {
        return rv;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    struct MHD_OptionItem tls[] = {
        { MHD_OPTION_HTTPS_MEM_CERT, 0, g->tls_cert },
        { MHD_OPTION_HTTPS_MEM_KEY, 0, g->tls_key },
        { MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)GW_TLS_PRIORITIES },
        { MHD_OPTION_END, 0, NULL },
    };
    if (g->tls_cert != NULL) {
        flags |= MHD_USE_TLS;
    } else {
        tls[0].option = MHD_OPTION_END;
    }
    g->httpd = MHD_start_daemon(
        flags, 0, NULL, NULL, gw__on_request, g, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, g,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_URI_LOG_CALLBACK, gw__on_uri, g,
        MHD_OPTION_NOTIFY_COMPLETED, gw__on_completed, g, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, g, MHD_OPTION_CONNECTION_TIMEOUT, g->cfg.idle_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, g->cfg.max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)GW_CONNECTION_MEMORY, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (g->httpd == NULL) {
        snprintf(errbuf, errlen, "HTTP%s server on %s: cannot start (address in use, or a bad %s)",
                 https ? "S" : "", g->cfg.http_url, https ? "certificate or key" : "address");
        return BSL_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(g->httpd, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(g->httpd, MHD_DAEMON_INFO_BIND_PORT);
    if (di == NULL || di->epoll_fd < 0) {
        snprintf(errbuf, errlen, "HTTP server: no epoll descriptor");
        return BSL_EIO;
    }
    g->port = pi != NULL ? (int)pi->port : -1;
    ev_io_init(&g->httpd_io, on_io, di->epoll_fd, EV_READ);
    g->httpd_io.data = g;
    ev_io_start(g->loop, &g->httpd_io);
    ev_init(&g->httpd_timer, on_timer);
    g->httpd_timer.data = g;
    run(g);
    return BSL_OK;
}

void gw__httpd_stop(gw_gateway *g)
{
    if (g->httpd != NULL) {
        /* MHD must not be stopped with suspended connections. A request still waiting for its
         * backends has none left by now (their clients answered CANCELLED when freed); resume
         * anything suspended anyway. */
        for (gw_req *r = g->live; r != NULL; r = r->next) {
            if (r->suspended) {
                r->suspended = false;
                MHD_resume_connection(r->conn);
            }
        }
        ev_io_stop(g->loop, &g->httpd_io);
        ev_timer_stop(g->loop, &g->httpd_timer);
        MHD_stop_daemon(g->httpd); /* completes every request: gw__on_completed frees them */
        g->httpd = NULL;
    }
    free(g->tls_cert);
    g->tls_cert = NULL;
    if (g->tls_key != NULL) {
        sodium_memzero(g->tls_key, g->tls_key_len); /* the private key does not linger */
        free(g->tls_key);
        g->tls_key = NULL;
    }
}
