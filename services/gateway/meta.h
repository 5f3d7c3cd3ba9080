/*
 * What travels with a call besides its body, read from HTTP headers: the request id
 * (X-Request-Id), the W3C trace context (traceparent), the idempotency key (Idempotency-Key)
 * and the bearer token (Authorization). Every value is checked before it reaches an envelope
 * or a log line. Pure functions.
 */
#ifndef GW_META_H
#define GW_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_REQUEST_ID_MAX  64
#define GW_IDEMPOTENCY_MAX 128 /* the runtime's limit for metadata.idempotency_key */

/* A client's X-Request-Id is kept when it is 1 to 64 characters of [A-Za-z0-9._:-]. */
bool gw_meta_request_id_ok(const char *v);

/* Parses "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>" (lowercase, ids not all
 * zeros; a later version may append fields). trace_id gets 33 bytes, parent_id 17. */
bool gw_meta_traceparent(const char *v, char *trace_id, char *parent_id);

/* An Idempotency-Key: 1 to 128 printable ASCII characters without spaces. */
bool gw_meta_idempotency_ok(const char *v);

/* The token of "Bearer <token>" (scheme case-insensitive), with its length; NULL when the
 * header is absent or not a bearer credential. */
const char *gw_meta_bearer(const char *authorization, size_t *len);

#endif /* GW_META_H */
