/* boussole-gateway: the HTTP front door (see gateway.h and README.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "boussole/config.h"
#include "boussole/err.h"
#include "boussole/exitguard.h"
#include "boussole/sched.h"
#include "boussole/service.h"
#include "gateway.h"

static bsl_option options[] = {
    { "http", "http://127.0.0.1:8080", "front door URL: http://host:port, or https://host:port",
      0 },
    { "http-tls-cert", "", "PEM certificate chain for https://", 0 },
    { "http-tls-key", "", "PEM private key for https://", 0 },
    { "sessions-url", "tcp://127.0.0.1:7101", "RPC URL(s) of sessions (boussole.v1.Session*)", 0 },
    { "questionnaires-url", "tcp://127.0.0.1:7102",
      "RPC URL(s) of questionnaires (boussole.v1.Questionnaire*)", 0 },
    { "syntheses-url", "tcp://127.0.0.1:7103", "RPC URL(s) of syntheses (boussole.v1.Synthes*)",
      0 },
    { "route", "", "more routes: pattern=url[;pattern=url] (pattern: a service, or a prefix*)", 0 },
    { "tls-cert", "", "PEM certificate for tls+tcp:// backends (mutual TLS)", 0 },
    { "tls-key", "", "PEM private key for tls+tcp:// backends", 0 },
    { "tls-ca", "", "PEM CA that signs the backends", 0 },
    { "jwt-alg", "HS256", "bearer token algorithm: HS256, RS256 or ES256", 0 },
    { "jwt-secret", "", "HS256 shared secret (>= 32 bytes), or @file", 0 },
    { "jwt-public-key", "", "RS256/ES256 PEM public key, as @file or text", 0 },
    { "jwt-issuer", "boussole-local", "required iss claim (empty: not checked)", 0 },
    { "jwt-audience", "boussole", "required aud claim (empty: not checked)", 0 },
    { "jwt-leeway-s", "30", "clock skew tolerated on exp and nbf, seconds", 0 },
    { "jwt-role-claim", "role", "claim holding the role", 0 },
    { "jwt-org-claim", "org", "claim holding the organisation", 0 },
    { "jwt-cache", "4096", "verified tokens cached (0: none)", 0 },
    { "cors-origins", "", "origins allowed to call from browsers, comma-separated, or *", 0 },
    { "max-body-bytes", "1048576", "largest request body", 0 },
    { "body-timeout-ms", "10000", "time a client has to send its request body", 0 },
    { "idle-timeout-s", "30",
      "a connection silent this long is closed (headers that never end, idle keep-alive)", 0 },
    { "max-connections", "1024", "client connections open at once (mind the fd limit)", 0 },
    { "rate-limit", "20", "requests per second per client (0: no limit)", 0 },
    { "rate-burst", "40", "requests a client may send at once", 0 },
    { "auth-failure-rate", "0.2",
      "refused bearer tokens per second per client address, past the burst (0: no limit)", 0 },
    { "auth-failure-burst", "20", "refused bearer tokens a client address may send at once", 0 },
    { "max-deadline-ms", "60000", "longest deadline a caller may ask for", 0 },
    { "max-in-flight", "4096", "calls served at once before answering unavailable", 0 },
    { "trust-forwarded-for", "false", "behind a proxy: rate limit by X-Forwarded-For", 0 },
    { "grace-ms", "10000", "on SIGTERM, how long calls in flight may finish", 0 },
    { "log-level", "info", "debug, info, warn or error", 0 },
    { "cpu-policy", "batch", "batch (no wake-up preemption between our threads) or normal", 0 },
    { "clock-file", "", "tests only: file holding a clock offset in ms", 0 },
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static const char ABOUT[] =
    "Boussole HTTP gateway: the Connect protocol (JSON and binary protobuf) over HTTP for every "
    "method of the schema, with bearer token authentication, CORS, rate limiting, /healthz, "
    "/readyz, /metrics and /openapi.json.";

typedef struct app {
    struct ev_loop *loop;
    gw_gateway *gw;
    const bsl_logger *log;
    uint32_t grace_ms;
    ev_signal sigterm, sigint;
} app;

static const char *opt(const char *name)
{
    const char *v = bsl_option_get(options, N_OPTIONS, name);
    return v ? v : "";
}

static void on_drained(void *arg)
{
    app *a = arg;
    bsl_log(a->log, BSL_LOG_INFO, NULL, NULL, "drained; stopping");
    bsl_logger_flush(a->log);
    /* Every request is answered: closing the backends' sockets and freeing is bounded. */
    if (bsl_exit_guard(BSL_EXIT_GUARD_S, STDOUT_FILENO, "gateway") != BSL_OK) {
        bsl_log(a->log, BSL_LOG_WARN, NULL, NULL, "cannot bound the exit (no thread)");
    }
    ev_break(a->loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    app *a = w->data;
    bsl_log(a->log, BSL_LOG_INFO, NULL, NULL, "signal %d: draining for at most %u ms", w->signum,
            a->grace_ms);
    bsl_logger_flush(a->log);
    /* Shutdown runs under the normal policy, as it did before SCHED_BATCH: see sched.h. */
    (void)bsl_cpu_policy_suspend();
    ev_signal_stop(a->loop, &a->sigterm);
    ev_signal_stop(a->loop, &a->sigint);
    gw_gateway_drain(a->gw, a->grace_ms, on_drained, a);
}

static bool parse_double(const char *name, double min, double max, double *out, char *err,
                         size_t errlen)
{
    char *end;
    const char *v = opt(name);
    double d = strtod(v, &end);
    if (v[0] == '\0' || *end != '\0' || !(d >= min && d <= max)) {
        snprintf(err, errlen, "--%s must be a number from %g to %g", name, min, max);
        return false;
    }
    *out = d;
    return true;
}

/* Reads the options into cfg; the JWT key is loaded into *key (caller frees). */
static int configure(gw_config *cfg, uint8_t **key, char *err, size_t errlen)
{
    uint32_t leeway = 0, cache = 0, body = 0, body_timeout = 0, deadline = 0, in_flight = 0;
    uint32_t idle = 0, conns = 0;
    if (bsl_option_u32(options, N_OPTIONS, "jwt-leeway-s", 0, 3600, &leeway, err, errlen) ||
        bsl_option_u32(options, N_OPTIONS, "jwt-cache", 0, 1u << 20, &cache, err, errlen) ||
        bsl_option_u32(options, N_OPTIONS, "max-body-bytes", 1024, 64u << 20, &body, err, errlen) ||
        bsl_option_u32(options, N_OPTIONS, "body-timeout-ms", 1, 600000, &body_timeout, err,
                       errlen) ||
        bsl_option_u32(options, N_OPTIONS, "idle-timeout-s", 1, 3600, &idle, err, errlen) ||
        bsl_option_u32(options, N_OPTIONS, "max-connections", 1, 1u << 20, &conns, err, errlen) ||
        bsl_option_u32(options, N_OPTIONS, "max-deadline-ms", 1, 3600000, &deadline, err, errlen) ||
        bsl_option_u32(options, N_OPTIONS, "max-in-flight", 0, 1u << 20, &in_flight, err, errlen) ||
        !parse_double("rate-limit", 0, 1e6, &cfg->rate_limit, err, errlen) ||
        !parse_double("rate-burst", 1, 1e6, &cfg->rate_burst, err, errlen) ||
        !parse_double("auth-failure-rate", 0, 1e6, &cfg->auth_failure_rate, err, errlen) ||
        !parse_double("auth-failure-burst", 1, 1e6, &cfg->auth_failure_burst, err, errlen)) {
        return BSL_EINVAL;
    }
    cfg->http_url = opt("http");
    cfg->http_tls_cert = opt("http-tls-cert");
    cfg->http_tls_key = opt("http-tls-key");
    cfg->tls.cert_file = opt("tls-cert");
    cfg->tls.key_file = opt("tls-key");
    cfg->tls.ca_file = opt("tls-ca");
    cfg->cors_origins = opt("cors-origins");
    cfg->max_body_bytes = body;
    cfg->body_timeout_ms = body_timeout;
    cfg->idle_timeout_s = idle;
    cfg->max_connections = conns;
    cfg->max_deadline_ms = deadline;
    cfg->max_in_flight = in_flight;
    const char *tff = opt("trust-forwarded-for");
    cfg->trust_forwarded_for = strcasecmp(tff, "true") == 0 || strcmp(tff, "1") == 0;
    if (!cfg->trust_forwarded_for && strcasecmp(tff, "false") != 0 && strcmp(tff, "0") != 0 &&
        tff[0] != '\0') {
        snprintf(err, errlen, "--trust-forwarded-for must be true or false");
        return BSL_EINVAL;
    }
    /* The three services by name, then any other routes: a service added later with a name
     * matching one of these patterns needs no new option. */
    if (gw_routes_add(&cfg->routes, "sessions", "boussole.v1.Session*", opt("sessions-url"), err,
                      errlen) ||
        gw_routes_add(&cfg->routes, "questionnaires", "boussole.v1.Questionnaire*",
                      opt("questionnaires-url"), err, errlen) ||
        gw_routes_add(&cfg->routes, "syntheses", "boussole.v1.Synthes*", opt("syntheses-url"), err,
                      errlen) ||
        gw_routes_parse(&cfg->routes, opt("route"), err, errlen)) {
        return BSL_EINVAL;
    }
    const char *alg = opt("jwt-alg");
    bool hs = strcmp(alg, "HS256") == 0;
    const char *key_spec = hs ? opt("jwt-secret") : opt("jwt-public-key");
    if (key_spec[0] == '\0') {
        snprintf(err, errlen,
                 hs ? "--jwt-secret (BSL_JWT_SECRET) is required for HS256; for a local run: "
                      "export BSL_JWT_SECRET=$(openssl rand -hex 32)"
                    : "--jwt-public-key (BSL_JWT_PUBLIC_KEY) is required for %s",
                 alg);
        return BSL_EINVAL;
    }
    size_t key_len = 0;
    if ((*key = gw_key_load(key_spec, &key_len, err, errlen)) == NULL) {
        return BSL_EINVAL;
    }
    cfg->jwt = (gw_jwt_options){
        .alg = alg,
        .key = *key,
        .key_len = key_len,
        .issuer = opt("jwt-issuer"),
        .audience = opt("jwt-audience"),
        .role_claim = opt("jwt-role-claim"),
        .org_claim = opt("jwt-org-claim"),
        .leeway_s = leeway,
        .cache_entries = cache,
    };
    return BSL_OK;
}

int main(int argc, char **argv)
{
    char err[512];
    int rv = bsl_options_parse(options, N_OPTIONS, "boussole-gateway", ABOUT, argc, argv, err,
                               sizeof(err));
    if (rv == BSL_EHELP) {
        return 0;
    }
    if (rv != BSL_OK) {
        fprintf(stderr, "boussole-gateway: %s\n", err);
        return 2;
    }
    if (bsl_init() != BSL_OK) {
        fprintf(stderr, "boussole-gateway: libsodium failed to initialise\n");
        return 1;
    }
    bsl_log_level level;
    if (bsl_log_level_parse(opt("log-level"), &level) != BSL_OK) {
        fprintf(stderr, "boussole-gateway: --log-level must be debug, info, warn or error\n");
        return 2;
    }
    bsl_cpu_policy cpu_policy;
    if (bsl_cpu_policy_parse(opt("cpu-policy"), &cpu_policy) != BSL_OK) {
        fprintf(stderr, "boussole-gateway: --cpu-policy must be batch or normal\n");
        return 2;
    }
    /* Before the first nng call: nng's threads inherit the policy of the thread creating them. */
    if (bsl_cpu_policy_apply(cpu_policy, err, sizeof(err)) != BSL_OK) {
        /* Slower, not wrong: a sandbox that forbids it must not keep the gateway down. */
        fprintf(stderr, "boussole-gateway: warning: %s; running with the normal policy\n", err);
    }
    app a = { .loop = EV_DEFAULT };
    bsl_logger *log = NULL;
    bsl_clock *clock = NULL;
    uint8_t *key = NULL;
    gw_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    int status = 1;
    if (bsl_logger_create(&log, "gateway", level, STDOUT_FILENO) != BSL_OK ||
        bsl_logger_buffer(log, a.loop) != BSL_OK ||
        bsl_clock_create(&clock, opt("clock-file")) != BSL_OK) {
        fprintf(stderr, "boussole-gateway: out of memory\n");
        goto out;
    }
    a.log = log;
    cfg.log = log;
    cfg.clock = clock;
    if (configure(&cfg, &key, err, sizeof(err)) != BSL_OK ||
        bsl_option_u32(options, N_OPTIONS, "grace-ms", 0, 600000, &a.grace_ms, err, sizeof(err)) !=
            BSL_OK) {
        fprintf(stderr, "boussole-gateway: %s\n", err);
        status = 2;
        goto out;
    }
    if (gw_gateway_create(&a.gw, a.loop, &cfg, err, sizeof(err)) != BSL_OK ||
        gw_gateway_start(a.gw, err, sizeof(err)) != BSL_OK) {
        bsl_log(log, BSL_LOG_ERROR, NULL, NULL, "%s", err);
        goto out;
    }
    /* A client that goes away mid-answer must cost an EPIPE, never the process. */
    signal(SIGPIPE, SIG_IGN);
    ev_signal_init(&a.sigterm, on_signal, SIGTERM);
    a.sigterm.data = &a;
    ev_signal_start(a.loop, &a.sigterm);
    ev_signal_init(&a.sigint, on_signal, SIGINT);
    a.sigint.data = &a;
    ev_signal_start(a.loop, &a.sigint);
    for (size_t i = 0; i < cfg.routes.n_backends; i++) {
        bsl_log(log, BSL_LOG_INFO, NULL, NULL, "backend %s at %s", cfg.routes.backends[i].name,
                cfg.routes.backends[i].url);
    }
    bsl_log(log, BSL_LOG_INFO, NULL, NULL, "serving on %s (tcp port %d)", cfg.http_url,
            gw_gateway_port(a.gw));
    ev_run(a.loop, 0);
    status = 0;
    ev_signal_stop(a.loop, &a.sigterm);
    ev_signal_stop(a.loop, &a.sigint);
out:
    gw_gateway_free(a.gw);
    if (key != NULL) {
        memset(key, 0, strlen((char *)key));
        free(key);
    }
    bsl_clock_free(clock);
    if (status == 0) {
        bsl_log(log, BSL_LOG_INFO, NULL, NULL, "stopped");
    }
    bsl_logger_free(log);
    return status;
}
