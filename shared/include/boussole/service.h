/*
 * The main() every service shares: options (common ones plus the service's own), logger,
 * metrics, clock, Redis, the RPC server with the default interceptors, the admin HTTP port,
 * signals (SIGTERM/SIGINT drain, then exit 0), and the loop. A service supplies its name, its
 * extra options and two hooks: init (add services, scripts, clients) and fini (free them).
 *
 * Common options (flag / environment):
 *   --listen BSL_LISTEN            RPC URLs, comma-separated
 *   --admin BSL_ADMIN              admin HTTP URL (healthz, readyz, metrics)
 *   --redis-url BSL_REDIS_URL      redis://[:password@]host:port[/db] or unix:///path
 *   --redis-timeout-ms             per-command timeout
 *   --log-level BSL_LOG_LEVEL      debug, info, warn, error
 *   --tls-cert/--tls-key/--tls-ca  the internal hop's mutual TLS
 *   --grace-ms                     how long SIGTERM waits for calls in flight
 *   --max-message-bytes, --contexts, --clock-file (tests only)
 *   --<peer>-url                   for each peer service called
 *   --master-keys, --keystore-url  for services that encrypt
 */
#ifndef BOUSSOLE_SERVICE_H
#define BOUSSOLE_SERVICE_H

#include <stddef.h>

#include <ev.h>

#include <stdbool.h>

#include "boussole/client.h"
#include "boussole/clock.h"
#include "boussole/crypto.h"
#include "boussole/config.h"
#include "boussole/log.h"
#include "boussole/metrics.h"
#include "boussole/redis.h"
#include "boussole/server.h"
#include "boussole/tls.h"

typedef struct bsl_service bsl_service;

typedef struct bsl_service_spec {
    const char *name;           /* "sessions" */
    const char *about;          /* one paragraph for --help */
    const char *default_listen; /* "tcp://127.0.0.1:7101" */
    const char *default_admin;  /* "http://127.0.0.1:9101" */
    bsl_option *options;        /* the service's own options (values filled in) */
    size_t n_options;
    /* Other services this one calls: for each name ("sessions"), an option --<name>-url
     * (BSL_<NAME>_URL, default from peer_defaults) and a client, see bsl_service_peer. */
    const char *const *peers;
    const char *const *peer_defaults;
    size_t n_peers;
    /* Set when the service stores encrypted fields: adds --master-keys (BSL_MASTER_KEYS) and
     * --keystore-url (default: the Redis URL), and a keyring, see bsl_service_keyring. */
    bool needs_keyring;
    /* Called after Redis and the server exist, before they start. Returns BSL_OK or an error
     * with a message in errbuf (the process then exits 1). */
    int (*init)(bsl_service *svc, void *app, char *errbuf, size_t errlen);
    /* Called after the loop stops, before Redis and the server are freed. */
    void (*fini)(bsl_service *svc, void *app);
    void *app;
} bsl_service_spec;

/* Initialises libsodium and ignores SIGPIPE. Every binary calls it first (bsl_service_main
 * does). Returns BSL_OK or BSL_ECRYPTO. */
int bsl_init(void);

/* Runs the service; returns the process exit status. */
int bsl_service_main(const bsl_service_spec *spec, int argc, char **argv);

struct ev_loop *bsl_service_loop(const bsl_service *svc);
bsl_server *bsl_service_server(const bsl_service *svc);
bsl_redis *bsl_service_redis(const bsl_service *svc);
const bsl_logger *bsl_service_log(const bsl_service *svc);
bsl_metrics *bsl_service_metrics(const bsl_service *svc);
bsl_clock *bsl_service_clock(const bsl_service *svc);
const bsl_tls_options *bsl_service_tls(const bsl_service *svc);

/* The client of a peer named in spec->peers. */
bsl_client *bsl_service_peer(const bsl_service *svc, const char *name);

/* The keyring (NULL unless spec->needs_keyring). */
bsl_keyring *bsl_service_keyring(const bsl_service *svc);

/* The keystore Redis (the main Redis unless --keystore-url differs). */
bsl_redis *bsl_service_keystore(const bsl_service *svc);

/* The caller this service presents to its peers: role SERVICE, subject its name. */
const Boussole__V1__Caller *bsl_service_caller(const bsl_service *svc);

/* The value of one of the service's own options. */
const char *bsl_service_option(const bsl_service *svc, const char *name);

#endif /* BOUSSOLE_SERVICE_H */
