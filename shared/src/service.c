#include "boussole/service.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "boussole/admin.h"
#include "boussole/err.h"
#include "boussole/exitguard.h"
#include "boussole/sched.h"

#define MAX_LISTEN 8
#define MAX_PEERS  8

struct bsl_service {
    const bsl_service_spec *spec;
    struct ev_loop *loop;
    bsl_logger *log;
    bsl_metrics *metrics;
    bsl_clock *clock;
    bsl_redis *redis;
    bsl_server *server;
    bsl_admin *admin;
    bsl_tls_options tls;
    ev_signal sigterm, sigint;
    uint32_t grace_ms;
    bsl_client *peers[MAX_PEERS];
    bsl_keyring *keyring;
    bsl_redis *keystore; /* owned only when it is not `redis` */
    Boussole__V1__Caller caller;
};

enum {
    OPT_LISTEN,
    OPT_ADMIN,
    OPT_REDIS,
    OPT_REDIS_TIMEOUT,
    OPT_LOG_LEVEL,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CA,
    OPT_GRACE,
    OPT_MAX_MSG,
    OPT_CONTEXTS,
    OPT_CLOCK,
    OPT_MASTER_KEYS,
    OPT_KEYSTORE,
    OPT_CPU_POLICY,
    N_COMMON
};

int bsl_init(void)
{
    if (sodium_init() < 0) {
        return BSL_ECRYPTO;
    }
    signal(SIGPIPE, SIG_IGN);
    return BSL_OK;
}

static void on_drained(bsl_server *srv, void *arg)
{
    (void)srv;
    bsl_service *svc = arg;
    bsl_log(svc->log, BSL_LOG_INFO, NULL, NULL, "drained; stopping");
    bsl_logger_flush(svc->log);
    /* Every call is answered: what is left (closing sockets, freeing) is bounded. */
    if (bsl_exit_guard(BSL_EXIT_GUARD_S, STDOUT_FILENO, svc->spec->name) != BSL_OK) {
        bsl_log(svc->log, BSL_LOG_WARN, NULL, NULL, "cannot bound the exit (no thread)");
    }
    ev_break(svc->loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    bsl_service *svc = w->data;
    if (bsl_server_draining(svc->server)) {
        return;
    }
    bsl_log(svc->log, BSL_LOG_INFO, NULL, NULL, "signal %d: draining for at most %u ms", w->signum,
            svc->grace_ms);
    bsl_logger_flush(svc->log);
    /* Shutdown runs under the normal policy, as it did before SCHED_BATCH: see sched.h. */
    (void)bsl_cpu_policy_suspend();
    bsl_server_drain(svc->server, svc->grace_ms, on_drained, svc);
}

static int fail(bsl_service *svc, const char *msg)
{
    if (svc->log != NULL) {
        bsl_log(svc->log, BSL_LOG_ERROR, NULL, NULL, "%s", msg);
    } else {
        fprintf(stderr, "%s: %s\n", svc->spec->name, msg);
    }
    return 1;
}

int bsl_service_main(const bsl_service_spec *spec, int argc, char **argv)
{
    bsl_option common[N_COMMON] = {
        [OPT_LISTEN] = { "listen", spec->default_listen, "RPC listen URLs, comma-separated", 0 },
        [OPT_ADMIN] = { "admin", spec->default_admin, "admin HTTP URL (/healthz /readyz /metrics)",
                        0 },
        [OPT_REDIS] = { "redis-url", "redis://127.0.0.1:6379", "Redis URL", 0 },
        [OPT_REDIS_TIMEOUT] = { "redis-timeout-ms", "1000", "per-command Redis timeout", 0 },
        [OPT_LOG_LEVEL] = { "log-level", "info", "debug, info, warn or error", 0 },
        [OPT_TLS_CERT] = { "tls-cert", "", "PEM certificate for tls+tcp:// (mutual TLS)", 0 },
        [OPT_TLS_KEY] = { "tls-key", "", "PEM private key for tls+tcp://", 0 },
        [OPT_TLS_CA] = { "tls-ca", "", "PEM CA that signs the other processes", 0 },
        [OPT_GRACE] = { "grace-ms", "10000", "on SIGTERM, how long calls in flight may finish", 0 },
        [OPT_MAX_MSG] = { "max-message-bytes", "1048576", "largest request accepted", 0 },
        [OPT_CONTEXTS] = { "contexts", "256", "requests served at once", 0 },
        [OPT_CLOCK] = { "clock-file", "", "tests only: file holding a clock offset in ms", 0 },
        [OPT_MASTER_KEYS] = { "master-keys", "",
                              "master keys id:base64[,id:base64] or @file (first wraps)", 0 },
        [OPT_KEYSTORE] = { "keystore-url", "",
                           "Redis holding wrapped data keys (default: "
                           "--redis-url)",
                           0 },
        [OPT_CPU_POLICY] = { "cpu-policy", "batch",
                             "batch (no wake-up preemption between our threads) or normal", 0 },
    };
    if (spec->n_peers > MAX_PEERS) {
        fprintf(stderr, "%s: too many peers\n", spec->name);
        return 1;
    }
    char peer_names[MAX_PEERS][64], peer_help[MAX_PEERS][96];
    size_t n_all = N_COMMON + spec->n_peers + spec->n_options;
    bsl_option *all = calloc(n_all, sizeof(*all));
    if (all == NULL) {
        return 1;
    }
    memcpy(all, common, sizeof(common));
    size_t own = N_COMMON + spec->n_peers; /* where the service's own options start */
    for (size_t i = 0; i < spec->n_peers; i++) {
        snprintf(peer_names[i], sizeof(peer_names[i]), "%s-url", spec->peers[i]);
        snprintf(peer_help[i], sizeof(peer_help[i]), "RPC URL(s) of the %s service",
                 spec->peers[i]);
        all[N_COMMON + i] = (bsl_option){ peer_names[i], spec->peer_defaults[i], peer_help[i], 0 };
    }
    if (spec->n_options) {
        memcpy(all + own, spec->options, spec->n_options * sizeof(bsl_option));
    }
    bsl_service svc_storage;
    bsl_service *svc = &svc_storage;
    memset(svc, 0, sizeof(*svc));
    svc->spec = spec;
    char err[512];
    int rv = bsl_options_parse(all, n_all, spec->name, spec->about, argc, argv, err, sizeof(err));
    if (rv == BSL_EHELP) {
        free(all);
        return 0;
    }
    if (rv != BSL_OK) {
        fprintf(stderr, "%s: %s\n", spec->name, err);
        free(all);
        return 2;
    }
    for (size_t i = 0; i < spec->n_options; i++) {
        spec->options[i].value = all[own + i].value;
    }
    if (bsl_init() != BSL_OK) {
        fprintf(stderr, "%s: libsodium failed to initialise\n", spec->name);
        free(all);
        return 1;
    }
    int status = 1;
    bsl_log_level level;
    uint32_t redis_timeout, max_msg, contexts;
    if (bsl_log_level_parse(all[OPT_LOG_LEVEL].value, &level) != BSL_OK) {
        fprintf(stderr, "%s: --log-level must be debug, info, warn or error\n", spec->name);
        free(all);
        return 2;
    }
    if (bsl_option_u32(all, n_all, "redis-timeout-ms", 1, 60000, &redis_timeout, err,
                       sizeof(err)) != BSL_OK ||
        bsl_option_u32(all, n_all, "grace-ms", 0, 600000, &svc->grace_ms, err, sizeof(err)) !=
            BSL_OK ||
        bsl_option_u32(all, n_all, "max-message-bytes", 1024, 64u << 20, &max_msg, err,
                       sizeof(err)) != BSL_OK ||
        bsl_option_u32(all, n_all, "contexts", 1, 65536, &contexts, err, sizeof(err)) != BSL_OK) {
        fprintf(stderr, "%s: %s\n", spec->name, err);
        free(all);
        return 2;
    }
    bsl_cpu_policy cpu_policy;
    if (bsl_cpu_policy_parse(all[OPT_CPU_POLICY].value, &cpu_policy) != BSL_OK) {
        fprintf(stderr, "%s: --cpu-policy must be batch or normal\n", spec->name);
        free(all);
        return 2;
    }
    /* Before the first nng call: nng's threads inherit the policy of the thread creating them. */
    if (bsl_cpu_policy_apply(cpu_policy, err, sizeof(err)) != BSL_OK) {
        /* Slower, not wrong: a sandbox that forbids it must not keep the service down. */
        fprintf(stderr, "%s: warning: %s; running with the normal policy\n", spec->name, err);
    }
    svc->loop = EV_DEFAULT;
    svc->tls.cert_file = all[OPT_TLS_CERT].value;
    svc->tls.key_file = all[OPT_TLS_KEY].value;
    svc->tls.ca_file = all[OPT_TLS_CA].value;

    char listen_buf[1024];
    const char *listen[MAX_LISTEN];
    size_t n_listen = 0;
    snprintf(listen_buf, sizeof(listen_buf), "%s",
             all[OPT_LISTEN].value ? all[OPT_LISTEN].value : "");
    for (char *tok = strtok(listen_buf, ","); tok != NULL && n_listen < MAX_LISTEN;
         tok = strtok(NULL, ",")) {
        listen[n_listen++] = tok;
    }

    if (bsl_logger_create(&svc->log, spec->name, level, STDOUT_FILENO) != BSL_OK ||
        bsl_logger_buffer(svc->log, svc->loop) != BSL_OK ||
        bsl_metrics_create(&svc->metrics, spec->name, "bsl_rpc") != BSL_OK ||
        bsl_clock_create(&svc->clock, all[OPT_CLOCK].value) != BSL_OK) {
        status = fail(svc, "out of memory");
        goto out;
    }
    bsl_redis_options ro = {
        .url = all[OPT_REDIS].value,
        .command_timeout_ms = redis_timeout,
        .log = svc->log,
        .metrics = svc->metrics,
    };
    if (bsl_redis_create(&svc->redis, svc->loop, &ro, err, sizeof(err)) != BSL_OK) {
        status = fail(svc, err);
        goto out;
    }
    if (spec->needs_keyring) {
        const char *ks = all[OPT_KEYSTORE].value;
        svc->keystore = svc->redis;
        if (ks != NULL && ks[0] != '\0' && strcmp(ks, all[OPT_REDIS].value) != 0) {
            bsl_redis_options ko = ro;
            ko.url = ks;
            ko.name = "keystore";
            if (bsl_redis_create(&svc->keystore, svc->loop, &ko, err, sizeof(err)) != BSL_OK) {
                svc->keystore = NULL;
                status = fail(svc, err);
                goto out;
            }
        }
        if (bsl_keyring_create(&svc->keyring, svc->loop, all[OPT_MASTER_KEYS].value, svc->keystore,
                               30000, err, sizeof(err)) != BSL_OK) {
            status = fail(svc, err);
            goto out;
        }
    }
    svc->caller = (Boussole__V1__Caller)BOUSSOLE__V1__CALLER__INIT;
    svc->caller.subject = (char *)spec->name;
    svc->caller.role = BOUSSOLE__V1__ROLE__ROLE_SERVICE;
    for (size_t i = 0; i < spec->n_peers; i++) {
        bsl_client_options co = {
            .target = all[N_COMMON + i].value,
            .name = spec->peers[i],
            .tls = &svc->tls,
            .log = svc->log,
        };
        if (bsl_client_create(&svc->peers[i], svc->loop, &co, err, sizeof(err)) != BSL_OK) {
            status = fail(svc, err);
            goto out;
        }
    }
    unsigned char reply_key[BSL_DEK_BYTES];
    if (svc->keyring != NULL) {
        /* Replayable answers may hold confidential fields: seal them. */
        bsl_keyring_derive(svc->keyring, 1, "replycch", reply_key);
    }
    bsl_server_options so = {
        .service = spec->name,
        .listen_urls = listen,
        .n_listen = n_listen,
        .max_message_bytes = max_msg,
        .contexts = contexts,
        .tls = &svc->tls,
        .redis = svc->redis,
        .reply_cache_key = svc->keyring != NULL ? reply_key : NULL,
        .clock = svc->clock,
        .log = svc->log,
        .metrics = svc->metrics,
    };
    rv = bsl_server_create(&svc->server, svc->loop, &so, err, sizeof(err));
    sodium_memzero(reply_key, sizeof(reply_key));
    if (rv != BSL_OK || bsl_server_add_default_interceptors(svc->server) != BSL_OK) {
        status = fail(svc, err);
        goto out;
    }
    if (spec->init != NULL && spec->init(svc, spec->app, err, sizeof(err)) != BSL_OK) {
        status = fail(svc, err);
        goto out;
    }
    if (bsl_server_start(svc->server, err, sizeof(err)) != BSL_OK) {
        status = fail(svc, err);
        goto out;
    }
    if (all[OPT_ADMIN].value != NULL && all[OPT_ADMIN].value[0] != '\0' &&
        bsl_admin_start(&svc->admin, all[OPT_ADMIN].value, svc->metrics, bsl_server_ready,
                        svc->server, err, sizeof(err)) != BSL_OK) {
        status = fail(svc, err);
        goto out;
    }
    ev_signal_init(&svc->sigterm, on_signal, SIGTERM);
    svc->sigterm.data = svc;
    ev_signal_start(svc->loop, &svc->sigterm);
    ev_signal_init(&svc->sigint, on_signal, SIGINT);
    svc->sigint.data = svc;
    ev_signal_start(svc->loop, &svc->sigint);
    ev_unref(svc->loop);
    ev_unref(svc->loop);

    char port_info[64] = "";
    int port = bsl_server_port(svc->server, 0);
    if (port > 0) {
        snprintf(port_info, sizeof(port_info), " (tcp port %d)", port);
    }
    bsl_log(svc->log, BSL_LOG_INFO, NULL, NULL, "serving on %s%s, admin on %s",
            all[OPT_LISTEN].value, port_info,
            all[OPT_ADMIN].value && all[OPT_ADMIN].value[0] ? all[OPT_ADMIN].value : "(none)");
    ev_run(svc->loop, 0);
    status = 0;
    ev_ref(svc->loop);
    ev_ref(svc->loop);
    ev_signal_stop(svc->loop, &svc->sigterm);
    ev_signal_stop(svc->loop, &svc->sigint);
out:
    if (spec->fini != NULL && svc->server != NULL) {
        spec->fini(svc, spec->app);
    }
    bsl_admin_stop(svc->admin);
    /* Clients and Redis before the server: their pending callbacks finish calls the server
     * still holds. */
    for (size_t i = 0; i < MAX_PEERS; i++) {
        bsl_client_free(svc->peers[i]);
    }
    if (svc->keystore != svc->redis) {
        bsl_redis_free(svc->keystore);
    }
    bsl_redis_free(svc->redis);
    bsl_keyring_free(svc->keyring); /* after Redis: its pending commands refer to it */
    bsl_server_free(svc->server);
    bsl_clock_free(svc->clock);
    bsl_metrics_free(svc->metrics);
    if (status == 0) {
        bsl_log(svc->log, BSL_LOG_INFO, NULL, NULL, "stopped");
    }
    bsl_logger_free(svc->log);
    free(all);
    return status;
}

struct ev_loop *bsl_service_loop(const bsl_service *svc)
{
    return svc->loop;
}

bsl_server *bsl_service_server(const bsl_service *svc)
{
    return svc->server;
}

bsl_redis *bsl_service_redis(const bsl_service *svc)
{
    return svc->redis;
}

const bsl_logger *bsl_service_log(const bsl_service *svc)
{
    return svc->log;
}

bsl_metrics *bsl_service_metrics(const bsl_service *svc)
{
    return svc->metrics;
}

bsl_clock *bsl_service_clock(const bsl_service *svc)
{
    return svc->clock;
}

const bsl_tls_options *bsl_service_tls(const bsl_service *svc)
{
    return &svc->tls;
}

bsl_client *bsl_service_peer(const bsl_service *svc, const char *name)
{
    for (size_t i = 0; i < svc->spec->n_peers; i++) {
        if (strcmp(svc->spec->peers[i], name) == 0) {
            return svc->peers[i];
        }
    }
    return NULL;
}

bsl_keyring *bsl_service_keyring(const bsl_service *svc)
{
    return svc->keyring;
}

bsl_redis *bsl_service_keystore(const bsl_service *svc)
{
    return svc->keystore;
}

const Boussole__V1__Caller *bsl_service_caller(const bsl_service *svc)
{
    return &svc->caller;
}

const char *bsl_service_option(const bsl_service *svc, const char *name)
{
    return bsl_option_get(svc->spec->options, svc->spec->n_options, name);
}
