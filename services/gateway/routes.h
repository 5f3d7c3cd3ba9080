/*
 * Which backend serves which service: a table of patterns over full service names, each with
 * the RPC URL(s) of a backend. "boussole.v1.Session*" matches every service whose name starts
 * with "boussole.v1.Session"; a pattern without '*' matches one service. The longest pattern
 * that matches wins, so a specific route overrides a broad one. Nothing in the table names a
 * method: a new RPC, or a new service matching a pattern, is routed without configuration.
 *
 * Built at start-up, read-only afterwards.
 */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#define GW_MAX_BACKENDS 16
#define GW_MAX_ROUTES   32

typedef struct bsl_client bsl_client;

typedef struct gw_backend {
    char name[64];      /* "sessions", or the first pattern routed to it */
    char url[1024];     /* comma-separated RPC URLs of its replicas */
    bsl_client *client; /* set by the gateway once the table is complete */
} gw_backend;

typedef struct gw_route {
    char pattern[128];
    size_t backend; /* index in backends: the table may be copied as a value */
} gw_route;

typedef struct gw_routes {
    gw_backend backends[GW_MAX_BACKENDS];
    size_t n_backends;
    gw_route routes[GW_MAX_ROUTES];
    size_t n_routes;
} gw_routes;

/* Routes services matching pattern to url (a backend per distinct url). An empty url routes
 * nothing (the service is not served here). Returns BSL_OK or BSL_EINVAL with a message. */
int gw_routes_add(gw_routes *r, const char *name, const char *pattern, const char *url,
                  char *errbuf, size_t errlen);

/* Adds every "pattern=url" of a ';'-separated list. */
int gw_routes_parse(gw_routes *r, const char *spec, char *errbuf, size_t errlen);

/* The backend of a service, or NULL when no pattern matches. */
gw_backend *gw_routes_lookup(gw_routes *r, const char *service);

#endif /* GW_ROUTES_H */
