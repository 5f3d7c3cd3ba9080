/*
 * The parts of the Connect protocol's unary calls (connectrpc.com/docs/protocol) that do not
 * touch the HTTP server: codecs, the protocol headers, the GET form of a call, and the JSON
 * error body. Pure functions, callable from any thread.
 */
#ifndef GW_CONNECT_H
#define GW_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boussole/arena.h"
#include "boussole/status.h"
#include "boussole/v1/rpc.pb-c.h"
#include "buf.h"

typedef enum {
    GW_CODEC_NONE = 0,
    GW_CODEC_JSON,  /* application/json */
    GW_CODEC_PROTO, /* application/proto */
} gw_codec;

/* The codec of a Content-Type header: "application/json" (a charset parameter, if any, must be
 * utf-8) or "application/proto"; GW_CODEC_NONE for anything else. */
gw_codec gw_connect_codec(const char *content_type);

/* The codec of a GET call's "encoding" parameter ("json", "proto"). */
gw_codec gw_connect_codec_name(const char *name);

const char *gw_connect_content_type(gw_codec c);

/* Connect-Timeout-Ms: 1 to 10 ASCII digits. Returns false for anything else. */
bool gw_connect_timeout(const char *value, uint64_t *ms);

/* Connect-Protocol-Version: absent (curl) or "1". */
bool gw_connect_version_ok(const char *value);

/* A Content-Encoding this gateway can read: absent, "" or "identity". */
bool gw_connect_encoding_ok(const char *value);

/* A unary call made with GET: ?connect=v1&encoding=json&message=...&base64=1&compression=... */
typedef struct gw_get_call {
    gw_codec codec;
    const uint8_t *message; /* decoded (percent- and, with base64=1, base64-decoded) */
    size_t message_len;
} gw_get_call;

/*
 * Parses the query string of a GET call (without the '?'), allocating in arena. Returns
 * BSL_STATUS_OK, or the status to answer with a message for the client in why:
 * INVALID_ARGUMENT (no encoding, bad base64 or percent-encoding, connect other than v1),
 * UNIMPLEMENTED (a compression other than identity), RESOURCE_EXHAUSTED (out of memory).
 */
bsl_status gw_connect_parse_get(const char *query, bsl_arena *arena, gw_get_call *out, char *why,
                                size_t cap);

/*
 * Appends the Connect error body: {"code":"not_found","message":"...","details":[{"type":
 * "boussole.v1.FieldViolation","value":"<base64>","debug":{...}}]}. Details are the envelope's
 * typed details, as Connect clients decode them.
 */
void gw_connect_error_body(gw_buf *b, bsl_status code, const char *message,
                           Boussole__V1__ErrorDetail *const *details, size_t n_details);

/* The retry delay an error's details suggest, in ms; 0 when none. */
uint32_t gw_connect_retry_delay_ms(Boussole__V1__ErrorDetail *const *details, size_t n_details);

#endif /* GW_CONNECT_H */
