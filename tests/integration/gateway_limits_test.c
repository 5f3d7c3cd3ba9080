/*
 * The gateway's limits and request metadata, end to end: CORS (preflight and actual requests),
 * the body size limit, stalled bodies and headers (the idle timeout), heads too large, the
 * connection limit, per-client rate limiting (per subject, per forwarded address, per IP), the
 * in-flight cap, request ids, trace propagation into the service's logs, idempotency keys, and
 * the per-request log line.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "boussole/service.h"
#include "gateway_harness.h"

static te_env env;
static te_proc sessions, gw, gw_rate, gw_small, gw_ip, gw_auth;
static char *counselor, *beneficiary;
static char bilan_id[64];

static const char *ORIGIN = "https://app.example.org";

static char *create_body(const char *beneficiary_id)
{
    static char body[512];
    snprintf(body, sizeof(body),
             "{\"beneficiaryId\":\"%s\",\"organisationId\":\"org-lumiere\",\"funding\":"
             "\"FUNDING_CPF\",\"plannedHours\":12,\"startDate\":\"2026-12-01\",\"endDate\":"
             "\"2027-02-28\"}",
             beneficiary_id);
    return body;
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* the gateway cuts off some of the clients below */
    bsl_init();
    te_init(&env, "gateway_limits");
    te_redis_start(&env);
    te_service_start(&env, &sessions, "sessions", NULL);
    const char *args[] = { "--rate-limit=0",
                           "--cors-origins=https://app.example.org, "
                           "http://localhost:5173",
                           "--max-in-flight=3", NULL };
    gwh_gateway_start(&env, &gw, "gateway", sessions.url, args);
    const char *rate[] = { "--rate-limit=0.5", "--rate-burst=3", "--trust-forwarded-for=true",
                           NULL };
    gwh_gateway_start(&env, &gw_rate, "gateway-rate", sessions.url, rate);
    const char *small[] = { "--rate-limit=0",     "--max-body-bytes=2048", "--body-timeout-ms=500",
                            "--idle-timeout-s=1", "--max-connections=6",   NULL };
    gwh_gateway_start(&env, &gw_small, "gateway-small", sessions.url, small);
    /* Rate limited per subject, else per client address: no proxy is trusted here. */
    const char *ip[] = { "--rate-limit=0.5", "--rate-burst=3", "--max-connections=6", NULL };
    gwh_gateway_start(&env, &gw_ip, "gateway-ip", sessions.url, ip);
    /* Three refused tokens per address, then one every 20 s. */
    const char *auth[] = { "--rate-limit=0", "--auth-failure-burst=3", "--auth-failure-rate=0.05",
                           NULL };
    gwh_gateway_start(&env, &gw_auth, "gateway-auth", sessions.url, auth);
    counselor = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "");
    beneficiary = gwh_token(&env, "b-jeanne", "beneficiary", "", "");
    gwh_resp r;
    int st = gwh_post(gw.port, "boussole.v1.SessionService/CreateBilan", counselor,
                      create_body("b-jeanne"), NULL, &r);
    snprintf(bilan_id, sizeof(bilan_id), "%s", gwh_json_str(r.body, "id"));
    gwh_resp_free(&r);
    return st == 200 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    te_fini(&env);
    free(counselor);
    free(beneficiary);
    return 0;
}

static const char *get_body(void)
{
    static char body[128];
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", bilan_id);
    return body;
}

/* ---- CORS ------------------------------------------------------------------------------ */

static void cors_preflight(void **state)
{
    (void)state;
    gwh_resp r;
    const char *ok[] = { "Origin: https://app.example.org", "Access-Control-Request-Method: POST",
                         "Access-Control-Request-Headers: authorization, content-type, "
                         "connect-protocol-version, connect-timeout-ms, idempotency-key",
                         NULL };
    assert_int_equal(
        gwh_http(gw.port, "OPTIONS", "/boussole.v1.SessionService/GetBilan", ok, NULL, 0, &r), 204);
    assert_string_equal(gwh_header(&r, "Access-Control-Allow-Origin"), ORIGIN);
    assert_string_equal(gwh_header(&r, "Vary"), "Origin");
    assert_non_null(strstr(gwh_header(&r, "Access-Control-Allow-Methods"), "POST"));
    assert_non_null(strstr(gwh_header(&r, "Access-Control-Allow-Headers"), "Authorization"));
    assert_non_null(strstr(gwh_header(&r, "Access-Control-Allow-Headers"), "Connect-Timeout-Ms"));
    assert_string_equal(gwh_header(&r, "Access-Control-Max-Age"), "7200");
    gwh_resp_free(&r);
    /* The second configured origin too. */
    const char *local[] = { "Origin: http://localhost:5173", "Access-Control-Request-Method: GET",
                            NULL };
    assert_int_equal(
        gwh_http(gw.port, "OPTIONS", "/boussole.v1.SessionService/GetBilan", local, NULL, 0, &r),
        204);
    assert_string_equal(gwh_header(&r, "Access-Control-Allow-Origin"), "http://localhost:5173");
    gwh_resp_free(&r);
    /* Another origin, a method we do not serve, a header we do not accept: refused, and
     * without any Access-Control-Allow-Origin. */
    const char *evil[] = { "Origin: https://evil.example", "Access-Control-Request-Method: POST",
                           NULL };
    const char *put[] = { "Origin: https://app.example.org", "Access-Control-Request-Method: PUT",
                          NULL };
    const char *hdr[] = { "Origin: https://app.example.org", "Access-Control-Request-Method: POST",
                          "Access-Control-Request-Headers: content-type, x-evil", NULL };
    const char *const *refused[] = { evil, put, hdr };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(gwh_http(gw.port, "OPTIONS", "/boussole.v1.SessionService/GetBilan",
                                  refused[i], NULL, 0, &r),
                         403);
        assert_null(gwh_header(&r, "Access-Control-Allow-Origin"));
        gwh_resp_free(&r);
    }
    /* A plain OPTIONS (no preflight headers). */
    assert_int_equal(gwh_http(gw.port, "OPTIONS", "/", NULL, NULL, 0, &r), 204);
    assert_non_null(gwh_header(&r, "Allow"));
    gwh_resp_free(&r);
}

static void cors_actual_requests(void **state)
{
    (void)state;
    gwh_resp r;
    const char *from_app[] = { "Origin: https://app.example.org", NULL };
    assert_int_equal(gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary,
                              get_body(), from_app, &r),
                     200);
    assert_string_equal(gwh_header(&r, "Access-Control-Allow-Origin"), ORIGIN);
    assert_non_null(strstr(gwh_header(&r, "Access-Control-Expose-Headers"), "X-Request-Id"));
    gwh_resp_free(&r);
    /* Errors carry the CORS headers too, or the browser hides them from the front end. */
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", NULL, get_body(), from_app, &r),
        401);
    assert_string_equal(gwh_header(&r, "Access-Control-Allow-Origin"), ORIGIN);
    gwh_resp_free(&r);
    const char *from_evil[] = { "Origin: https://evil.example", NULL };
    assert_int_equal(gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary,
                              get_body(), from_evil, &r),
                     200);
    assert_null(gwh_header(&r, "Access-Control-Allow-Origin"));
    gwh_resp_free(&r);
}

/* ---- sizes ----------------------------------------------------------------------------- */

static void body_size_limit(void **state)
{
    (void)state;
    gwh_resp r;
    char *big = malloc(4000);
    memset(big, ' ', 3999);
    big[0] = '{';
    memcpy(big + 3990, "\"id\":\"x\"}", 9);
    big[3999] = '\0';
    assert_int_equal(
        gwh_post(gw_small.port, "boussole.v1.SessionService/GetBilan", beneficiary, big, NULL, &r),
        413);
    assert_non_null(strstr(r.body, "\"code\":\"resource_exhausted\""));
    assert_non_null(strstr(r.body, "2048"));
    gwh_resp_free(&r);
    /* Just under the limit: accepted, and the service judges the id. */
    memmove(big + 2000 - 10, big + 3990, 10);
    big[2000] = '\0';
    assert_int_equal(
        gwh_post(gw_small.port, "boussole.v1.SessionService/GetBilan", beneficiary, big, NULL, &r),
        400);
    assert_non_null(strstr(r.body, "\"id\""));
    gwh_resp_free(&r);
    free(big);
    /* Chunked bodies are counted as they come; once over the limit the rest is read and
     * dropped, and the answer comes when the body ends (MHD lets no answer out while it brings
     * a body). */
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        n += snprintf(req + n, sizeof(req) - (size_t)n, "400\r\n");
        memset(req + n, ' ', 1024);
        n += 1024;
        n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    }
    n += snprintf(req + n, sizeof(req) - (size_t)n, "0\r\n\r\n");
    assert_int_equal(gwh_raw(gw_small.port, req, (size_t)n, &r), 413);
    assert_non_null(strstr(r.body, "\"code\":\"resource_exhausted\""));
    assert_string_equal(gwh_header(&r, "Connection"), "close");
    gwh_resp_free(&r);
    /* A chunked body that goes on far past the limit is cut off: the connection closes. */
    size_t cap = 64 * 1024;
    char *flood = malloc(cap);
    size_t m = (size_t)snprintf(flood, cap,
                                "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                                "Content-Type: application/json\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n");
    while (m + 1100 < cap) {
        m += (size_t)snprintf(flood + m, cap - m, "400\r\n");
        memset(flood + m, ' ', 1024);
        m += 1024;
        m += (size_t)snprintf(flood + m, cap - m, "\r\n");
    }
    assert_int_equal(gwh_raw(gw_small.port, flood, m, &r), -1);
    assert_int_equal(r.raw_len, 0);
    gwh_resp_free(&r);
    free(flood);
    /* A length announced far over the limit is refused before any of the body is read. */
    n = snprintf(req, sizeof(req),
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{");
    assert_int_equal(gwh_raw(gw_small.port, req, (size_t)n, &r), 413);
    gwh_resp_free(&r);
    n = snprintf(req, sizeof(req),
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\nContent-Length: -5\r\n\r\n{");
    assert_int_equal(gwh_raw(gw_small.port, req, (size_t)n, &r), 400);
    gwh_resp_free(&r);
}

/* A client that announces a body and stalls is let go after the body timeout (500 ms here,
 * rounded up to MHD's whole second), whatever the framing: the connection closes (MHD lets no
 * answer out while it brings a body). One that trickles its body is cut at its first piece past
 * the deadline. */
static void stalled_bodies(void **state)
{
    (void)state;
    char req[2048];
    gwh_resp r;
    int n = snprintf(req, sizeof(req),
                     "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":\"");
    long long t0 = te_now_ms();
    int st = gwh_raw(gw_small.port, req, (size_t)n, &r); /* reads until the connection closes */
    long long waited = te_now_ms() - t0;
    assert_true(st == 408 || (st == -1 && r.raw_len == 0));
    assert_true(waited >= 400 && waited < 10000); /* let go, at the timeout, not before */
    gwh_resp_free(&r);
    n = snprintf(req, sizeof(req),
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\n{\"id\"\r\n");
    t0 = te_now_ms();
    st = gwh_raw(gw_small.port, req, (size_t)n, &r);
    assert_true(st == 408 || (st == -1 && r.raw_len == 0));
    assert_true(te_now_ms() - t0 < 10000);
    gwh_resp_free(&r);
    /* Trickling: a byte every 300 ms, past the 500 ms the body has. */
    int fd = gwh_connect(gw_small.port);
    assert_true(fd >= 0);
    n = snprintf(req, sizeof(req),
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n");
    assert_true(gwh_write_all(fd, req, (size_t)n));
    t0 = te_now_ms();
    bool cut = false;
    for (int i = 0; i < 30 && !cut; i++) {
        te_sleep_ms(300);
        cut = send(fd, " ", 1, MSG_NOSIGNAL) != 1;
    }
    memset(&r, 0, sizeof(r));
    st = gwh_read_resp(fd, &r);
    close(fd);
    assert_int_equal(st, -1);
    assert_true(te_now_ms() - t0 < 6000); /* not the 30 bytes' 9 s */
    gwh_resp_free(&r);
    /* A body that arrives in time is not cut short by the timer. */
    assert_int_equal(gwh_post(gw_small.port, "boussole.v1.SessionService/GetBilan", beneficiary,
                              get_body(), NULL, &r),
                     200);
    gwh_resp_free(&r);
}

/* ---- heads: slow, large, many ----------------------------------------------------------- */

/* Headers that never end (a slowloris) are dropped at the idle timeout (1 s here), and so is an
 * idle keep-alive connection; nothing is answered, nothing is held. */
static void stalled_headers(void **state)
{
    (void)state;
    static const char *const partial[] = {
        "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\nContent-Type: appl",
        "GET /healthz HTT",
        "",
    };
    for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
        int fd = gwh_connect(gw_small.port);
        assert_true(fd >= 0);
        assert_true(gwh_write_all(fd, partial[i], strlen(partial[i])));
        long long t0 = te_now_ms();
        gwh_resp r;
        memset(&r, 0, sizeof(r));
        assert_int_equal(gwh_read_resp(fd, &r), -1); /* reads until the gateway closes */
        long long waited = te_now_ms() - t0;
        close(fd);
        assert_int_equal(r.raw_len, 0);
        assert_true(waited >= 800 && waited < 10000);
        gwh_resp_free(&r);
    }
    /* An idle keep-alive connection after a request: closed too. */
    int fd = gwh_connect(gw_small.port);
    const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_true(gwh_write_all(fd, get, sizeof(get) - 1));
    char buf[4096];
    ssize_t k = read(fd, buf, sizeof(buf));
    assert_true(k > 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0);
    long long t0 = te_now_ms();
    assert_int_equal(read(fd, buf, sizeof(buf)), 0);
    assert_true(te_now_ms() - t0 < 10000);
    close(fd);
    /* What the timeouts cut is counted. */
    gwh_resp r;
    assert_int_equal(gwh_http(gw_small.port, "GET", "/metrics", NULL, NULL, 0, &r), 200);
    const char *e = strstr(r.body, "bsl_gateway_http_errors_total{service=\"gateway\"} ");
    assert_non_null(e);
    assert_true(atoi(e + strlen("bsl_gateway_http_errors_total{service=\"gateway\"} ")) >= 1);
    gwh_resp_free(&r);
}

/* A header too large gets an answer, never a silent close: the gateway's own 431 (a Connect
 * error) for a value over its 8 KiB, MHD's 431 for a head over the connection's memory. */
static void large_headers(void **state)
{
    (void)state;
    size_t cap = 64 * 1024;
    char *req = malloc(cap), *big = malloc(40001);
    memset(big, 'r', 40000);
    big[40000] = '\0';
    gwh_resp r;
    big[10000] = '\0'; /* over the gateway's 8 KiB, within MHD's 16 KiB per connection */
    int n = snprintf(req, cap,
                     "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\nX-Request-Id: %s\r\n"
                     "Content-Length: 2\r\n\r\n{}",
                     big);
    assert_int_equal(gwh_raw(gw.port, req, (size_t)n, &r), 431);
    assert_non_null(strstr(r.body, "\"code\":\"invalid_argument\""));
    gwh_resp_free(&r);
    big[10000] = 'r'; /* 40 KB: over MHD's memory for the connection */
    n = snprintf(req, cap,
                 "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\nX-Padding: %s\r\n"
                 "Content-Length: 2\r\n\r\n{}",
                 big);
    assert_int_equal(gwh_raw(gw.port, req, (size_t)n, &r), 431);
    gwh_resp_free(&r);
    /* A request-target over 8 KiB: 414. */
    big[9000] = '\0';
    n = snprintf(req, cap, "GET /%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", big);
    assert_int_equal(gwh_raw(gw.port, req, (size_t)n, &r), 414);
    assert_non_null(strstr(r.body, "\"code\":\"invalid_argument\""));
    gwh_resp_free(&r);
    free(big);
    free(req);
    /* The gateway is unharmed. */
    assert_int_equal(gwh_http_status(gw.port, "/healthz"), 200);
}

/* --max-connections=6: while six connections are open, a seventh waits (MHD leaves it in the
 * listening socket's queue) and is served as soon as one of the six goes. */
static void connection_limit(void **state)
{
    (void)state;
    int fds[6];
    const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[2048];
    for (int i = 0; i < 6; i++) {
        fds[i] = gwh_connect(gw_ip.port);
        assert_true(fds[i] >= 0);
        /* One request each, so that each is surely accepted before the next one comes. */
        assert_true(gwh_write_all(fds[i], get, sizeof(get) - 1));
        ssize_t k = read(fds[i], buf, sizeof(buf));
        assert_true(k > 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0);
    }
    int seventh = gwh_connect(gw_ip.port);
    assert_true(seventh >= 0);
    assert_true(gwh_write_all(seventh, get, sizeof(get) - 1));
    struct pollfd p = { .fd = seventh, .events = POLLIN };
    assert_int_equal(poll(&p, 1, 500), 0); /* not served while the six are open */
    close(fds[0]);
    assert_int_equal(poll(&p, 1, 10000), 1);
    ssize_t k = read(seventh, buf, sizeof(buf));
    assert_true(k > 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0);
    close(seventh);
    for (int i = 1; i < 6; i++) {
        close(fds[i]);
    }
}

/* ---- rate limiting --------------------------------------------------------------------- */

static void rate_limit(void **state)
{
    (void)state;
    gwh_resp r;
    /* 3 at once, then one every two seconds: the fourth call in a row is refused. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gwh_post(gw_rate.port, "boussole.v1.SessionService/GetBilan", beneficiary,
                                  get_body(), NULL, &r),
                         200);
        gwh_resp_free(&r);
    }
    assert_int_equal(gwh_post(gw_rate.port, "boussole.v1.SessionService/GetBilan", beneficiary,
                              get_body(), NULL, &r),
                     429);
    assert_non_null(strstr(r.body, "\"code\":\"resource_exhausted\""));
    assert_non_null(strstr(r.body, "boussole.v1.RetryInfo"));
    int wait = atoi(gwh_header(&r, "Retry-After"));
    assert_true(wait >= 1 && wait <= 2);
    gwh_resp_free(&r);
    /* Per subject: the counselor still has a full bucket. */
    assert_int_equal(gwh_post(gw_rate.port, "boussole.v1.SessionService/GetBilan", counselor,
                              get_body(), NULL, &r),
                     200);
    gwh_resp_free(&r);
    /* Anonymous callers, behind a trusted proxy: per forwarded address. */
    const char *a1[] = { "X-Forwarded-For: 203.0.113.9, 10.0.0.1", NULL };
    const char *a2[] = { "X-Forwarded-For: 10.0.0.2", NULL };
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gwh_post(gw_rate.port, "boussole.v1.Health/Check", NULL, "{}", a1, &r),
                         200);
        gwh_resp_free(&r);
    }
    assert_int_equal(gwh_post(gw_rate.port, "boussole.v1.Health/Check", NULL, "{}", a1, &r), 429);
    gwh_resp_free(&r);
    assert_int_equal(gwh_post(gw_rate.port, "boussole.v1.Health/Check", NULL, "{}", a2, &r), 200);
    gwh_resp_free(&r);
    /* Without a forwarded address, per client address: four calls from 127.0.0.1, each on its
     * own connection, share one bucket... */
    char req[4096];
    snprintf(req, sizeof(req),
             "POST /boussole.v1.Health/Check HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(gwh_raw_from(gw_rate.port, "127.0.0.1", req, strlen(req), &r),
                         i < 3 ? 200 : 429);
        gwh_resp_free(&r);
    }
    /* ...and another address has its own. */
    assert_int_equal(gwh_raw_from(gw_rate.port, "127.0.0.2", req, strlen(req), &r), 200);
    gwh_resp_free(&r);
    /* Two seconds later a token is back (waited with a margin: the test may be slowed). */
    te_sleep_ms(3000);
    assert_int_equal(gwh_post(gw_rate.port, "boussole.v1.SessionService/GetBilan", beneficiary,
                              get_body(), NULL, &r),
                     200);
    gwh_resp_free(&r);
}

/* Without --trust-forwarded-for, anonymous callers are limited per address of their
 * connection, and X-Forwarded-For (which anyone can send) changes nothing. */
static void rate_limit_per_ip(void **state)
{
    (void)state;
    gwh_resp r;
    char req[4096];
    for (int i = 0; i < 4; i++) {
        snprintf(req, sizeof(req),
                 "POST /boussole.v1.Health/Check HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\nContent-Length: 2\r\n"
                 "X-Forwarded-For: 198.51.100.%d\r\nConnection: close\r\n\r\n{}",
                 i);
        assert_int_equal(gwh_raw_from(gw_ip.port, "127.0.0.3", req, strlen(req), &r),
                         i < 3 ? 200 : 429);
        if (i == 3) {
            assert_non_null(strstr(r.body, "\"code\":\"resource_exhausted\""));
            assert_non_null(gwh_header(&r, "Retry-After"));
        }
        gwh_resp_free(&r);
    }
    /* Other addresses, other buckets; an authenticated caller is counted by subject. */
    assert_int_equal(gwh_raw_from(gw_ip.port, "127.0.0.4", req, strlen(req), &r), 200);
    gwh_resp_free(&r);
    assert_int_equal(gwh_post(gw_ip.port, "boussole.v1.SessionService/GetBilan", beneficiary,
                              get_body(), NULL, &r),
                     200);
    gwh_resp_free(&r);
    assert_int_equal(gwh_http(gw_ip.port, "GET", "/metrics", NULL, NULL, 0, &r), 200);
    assert_non_null(strstr(r.body, "bsl_gateway_rate_limited_total{service=\"gateway\"} 1\n"));
    gwh_resp_free(&r);
}

/* GetBilan with `token` (verbatim after "Bearer "), from the address `source`. */
static int call_from(const char *source, const char *token, gwh_resp *r)
{
    char req[8192];
    snprintf(req, sizeof(req),
             "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nAuthorization: Bearer %s\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             token, strlen(get_body()), get_body());
    return gwh_raw_from(gw_auth.port, source, req, strlen(req), r);
}

/* Refused bearer tokens count against the client's address: past the allowance, the address's
 * new tokens get 429 without a signature check, while tokens already verified still work and
 * other addresses are not affected. */
static void refused_tokens_throttled(void **state)
{
    (void)state;
    gwh_resp r;
    /* A good token, verified (and so cached) before the bad ones come. */
    assert_int_equal(call_from("127.0.0.1", beneficiary, &r), 200);
    gwh_resp_free(&r);
    char forged[4096];
    snprintf(forged, sizeof(forged), "%s", counselor);
    forged[strlen(forged) - 2] = forged[strlen(forged) - 2] == 'A' ? 'B' : 'A'; /* signature */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(call_from("127.0.0.1", forged, &r), 401);
        gwh_resp_free(&r);
    }
    assert_int_equal(call_from("127.0.0.1", forged, &r), 429);
    assert_non_null(strstr(r.body, "\"code\":\"resource_exhausted\""));
    assert_non_null(gwh_header(&r, "Retry-After"));
    assert_true(atoi(gwh_header(&r, "Retry-After")) >= 1);
    gwh_resp_free(&r);
    assert_int_equal(call_from("127.0.0.1", "not.a-token.at-all", &r), 429);
    gwh_resp_free(&r);
    /* The good token already verified still works from that address... */
    assert_int_equal(call_from("127.0.0.1", beneficiary, &r), 200);
    gwh_resp_free(&r);
    /* ...a new one, even good, waits (nothing tells a forged token from a good one but the
     * signature check this saves)... */
    char *fresh = gwh_token(&env, "b-jeanne", "beneficiary", "", "--ttl-s 600");
    assert_int_equal(call_from("127.0.0.1", fresh, &r), 429);
    gwh_resp_free(&r);
    /* ...and another address has its own allowance. */
    assert_int_equal(call_from("127.0.0.9", forged, &r), 401);
    gwh_resp_free(&r);
    assert_int_equal(call_from("127.0.0.9", fresh, &r), 200);
    gwh_resp_free(&r);
    free(fresh);
    assert_int_equal(gwh_http(gw_auth.port, "GET", "/metrics", NULL, NULL, 0, &r), 200);
    assert_non_null(strstr(r.body, "bsl_gateway_auth_throttled_total{service=\"gateway\"} 3\n"));
    gwh_resp_free(&r);
}

/* ---- in flight ------------------------------------------------------------------------- */

typedef struct {
    int port;
    int status;
    char raw[256]; /* the start of what came back, to say why when the status is wrong */
} slow_call;

static void *call_thread(void *arg)
{
    slow_call *c = arg;
    gwh_resp r;
    const char *t[] = { "Connect-Timeout-Ms: 3000", NULL };
    c->status =
        gwh_post(c->port, "boussole.v1.SessionService/GetBilan", beneficiary, get_body(), t, &r);
    snprintf(c->raw, sizeof(c->raw), "%s", r.raw != NULL ? r.raw : "(nothing)");
    gwh_resp_free(&r);
    return NULL;
}

static void in_flight_cap(void **state)
{
    (void)state;
    /* The service stops: three calls wait for it; a fourth is turned away at once. */
    te_signal(&sessions, SIGSTOP);
    pthread_t th[3];
    slow_call calls[3];
    for (int i = 0; i < 3; i++) {
        calls[i] = (slow_call){ .port = gw.port };
        pthread_create(&th[i], NULL, call_thread, &calls[i]);
    }
    /* Wait until the gateway counts the three calls in flight (a loaded machine may take a
     * while to start the threads). */
    gwh_resp r;
    for (int i = 0; i < 200; i++) {
        gwh_http(gw.port, "GET", "/metrics", NULL, NULL, 0, &r);
        bool three =
            strstr(r.body, "bsl_gateway_requests_in_flight{service=\"gateway\"} 3\n") != NULL;
        gwh_resp_free(&r);
        if (three) {
            break;
        }
        te_sleep_ms(25);
    }
    int st =
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, get_body(), NULL, &r);
    te_signal(&sessions, SIGCONT);
    assert_int_equal(st, 503);
    assert_string_equal(gwh_header(&r, "Retry-After"), "1");
    gwh_resp_free(&r);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        if (calls[i].status != 200) {
            fprintf(stderr, "call %d: %d after %s\n", i, calls[i].status, calls[i].raw);
            char cmd[1200];
            snprintf(cmd, sizeof(cmd), "tail -n 40 '%s' >&2", gw.log);
            if (system(cmd) != 0) {
                fprintf(stderr, "(no gateway log)\n");
            }
        }
        assert_int_equal(calls[i].status, 200); /* answered once the service resumed */
    }
}

/* ---- request metadata ------------------------------------------------------------------ */

static void ids_and_traces_reach_the_service(void **state)
{
    (void)state;
    gwh_resp r;
    const char *trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const char *h[] = { "X-Request-Id: lim-trace-1",
                        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                        NULL };
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, get_body(), h, &r),
        200);
    assert_string_equal(gwh_header(&r, "X-Request-Id"), "lim-trace-1");
    gwh_resp_free(&r);
    te_sleep_ms(200); /* let the service's log line land */
    char want[128];
    snprintf(want, sizeof(want), "\"trace_id\":\"%s\"", trace);
    assert_true(gwh_file_contains(sessions.log, want));
    assert_true(gwh_file_contains(sessions.log, "\"request_id\":\"lim-trace-1\""));
    assert_true(gwh_file_contains(gw.log, want));
    /* A malformed traceparent starts a new trace. */
    const char *bad[] = { "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          NULL };
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, get_body(), bad, &r),
        200);
    gwh_resp_free(&r);
    assert_false(gwh_file_contains(gw.log, "00000000000000000000000000000000"));
}

static void idempotency_keys(void **state)
{
    (void)state;
    gwh_resp r;
    char first[64];
    const char *key[] = { "Idempotency-Key: create-once-7f3a", NULL };
    assert_int_equal(gwh_post(gw.port, "boussole.v1.SessionService/CreateBilan", counselor,
                              create_body("b-idem"), key, &r),
                     200);
    snprintf(first, sizeof(first), "%s", gwh_json_str(r.body, "id"));
    gwh_resp_free(&r);
    /* The same key again: the first answer, not a second bilan. */
    assert_int_equal(gwh_post(gw.port, "boussole.v1.SessionService/CreateBilan", counselor,
                              create_body("b-idem"), key, &r),
                     200);
    assert_string_equal(gwh_json_str(r.body, "id"), first);
    gwh_resp_free(&r);
    /* No key: the gateway's client makes one per call, so two calls make two bilans. */
    assert_int_equal(gwh_post(gw.port, "boussole.v1.SessionService/CreateBilan", counselor,
                              create_body("b-idem"), NULL, &r),
                     200);
    assert_string_not_equal(gwh_json_str(r.body, "id"), first);
    gwh_resp_free(&r);
    const char *bad[] = { "Idempotency-Key: has spaces", NULL };
    assert_int_equal(gwh_post(gw.port, "boussole.v1.SessionService/CreateBilan", counselor,
                              create_body("b-idem"), bad, &r),
                     400);
    assert_non_null(strstr(r.body, "Idempotency-Key"));
    gwh_resp_free(&r);
}

static void one_log_line_per_request(void **state)
{
    (void)state;
    gwh_resp r;
    const char *h[] = { "X-Request-Id: log-line-check", NULL };
    assert_int_equal(
        gwh_post(gw.port, "boussole.v1.SessionService/GetBilan", beneficiary, get_body(), h, &r),
        200);
    gwh_resp_free(&r);
    te_sleep_ms(100);
    char *cmd = NULL;
    assert_true(asprintf(&cmd, "grep -c '\"request_id\":\"log-line-check\"' %s", gw.log) > 0);
    char *out = gwh_run(cmd, NULL);
    assert_string_equal(out, "1");
    free(out);
    free(cmd);
    assert_true(gwh_file_contains(gw.log, "\"method\":\"boussole.v1.SessionService/GetBilan\","));
    assert_true(gwh_file_contains(gw.log, "\"caller_role\":\"beneficiary\""));
    /* Never a token, nor the secret. */
    assert_false(gwh_file_contains(gw.log, "eyJ"));
    assert_false(gwh_file_contains(gw.log, GWH_SECRET));
    assert_false(gwh_file_contains(gw.log, "Bearer"));
}

static void exits_cleanly(void **state)
{
    (void)state;
    /* Every request path above ran in these processes: a clean exit (and, in the sanitizer
     * build, no leak) says none of them left anything behind. */
    assert_int_equal(gwh_stop(&gw), 0);
    assert_int_equal(gwh_stop(&gw_rate), 0);
    assert_int_equal(gwh_stop(&gw_small), 0);
    assert_int_equal(gwh_stop(&gw_ip), 0);
    assert_int_equal(gwh_stop(&gw_auth), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cors_preflight),    cmocka_unit_test(cors_actual_requests),
        cmocka_unit_test(body_size_limit),   cmocka_unit_test(stalled_bodies),
        cmocka_unit_test(stalled_headers),   cmocka_unit_test(large_headers),
        cmocka_unit_test(connection_limit),  cmocka_unit_test(rate_limit),
        cmocka_unit_test(rate_limit_per_ip), cmocka_unit_test(refused_tokens_throttled),
        cmocka_unit_test(in_flight_cap),     cmocka_unit_test(ids_and_traces_reach_the_service),
        cmocka_unit_test(idempotency_keys),  cmocka_unit_test(one_log_line_per_request),
        cmocka_unit_test(exits_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
