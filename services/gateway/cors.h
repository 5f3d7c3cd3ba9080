/*
 * Cross-origin requests from browsers (CORS, fetch.spec.whatwg.org): which origins may call
 * the gateway, and the answer to a preflight. Origins are configured as a comma-separated list
 * of exact origins ("https://app.example.org,http://localhost:5173") or "*" for any. Bearer
 * tokens travel in a header, not in cookies, so credentials are never allowed.
 */
#ifndef GW_CORS_H
#define GW_CORS_H

#include <stdbool.h>
#include <stddef.h>

/* Request headers a browser may send, and response headers it may read. */
#define GW_CORS_ALLOW_METHODS "GET, POST"
#define GW_CORS_ALLOW_HEADERS                                                                      \
    "Authorization, Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, "                  \
    "Connect-Accept-Encoding, Connect-Content-Encoding, Idempotency-Key, X-Request-Id, "           \
    "X-User-Agent, X-Grpc-Web, Traceparent, Tracestate"
#define GW_CORS_EXPOSE_HEADERS                                                                     \
    "X-Request-Id, Retry-After, Content-Encoding, Connect-Content-Encoding"
#define GW_CORS_MAX_AGE "7200"

typedef struct gw_cors gw_cors;

/* Parses the list (copied). Returns BSL_OK, or BSL_EINVAL with a message for an entry that is
 * not an origin (scheme://host[:port], no path). An empty list allows no origin. */
int gw_cors_create(gw_cors **out, const char *origins, char *errbuf, size_t errlen);
void gw_cors_free(gw_cors *c);

/* Whether requests from this Origin may read our answers. */
bool gw_cors_allowed(const gw_cors *c, const char *origin);

/* Whether every header named in Access-Control-Request-Headers (comma-separated, any case) is
 * one we accept. NULL or empty: true. */
bool gw_cors_headers_ok(const char *requested);

/* Whether a preflight's Access-Control-Request-Method is one we serve. */
bool gw_cors_method_ok(const char *method);

/* True when any origin is allowed ("*"). */
bool gw_cors_any(const gw_cors *c);

#endif /* GW_CORS_H */
