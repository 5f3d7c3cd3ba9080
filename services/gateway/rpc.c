/*
 * A Connect unary call, on the loop: from the path to the backend's answer.
 *
 * The checks run cheapest and least revealing first: the method must exist and be exposed
 * (internal methods look exactly like unknown ones), the HTTP method and protocol headers must
 * be right, then the caller is authenticated, rate limited, and only then is the body decoded
 * and the backend called.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/id.h"
#include "boussole/pbcheck.h"
#include "gateway_internal.h"
#include "json.h"

static bool is_get(const gw_req *r)
{
    return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
}

/* The method named by "/<service>/<method>", or NULL. */
static const bsl_method_info *method_of_path(const char *path)
{
    if (path[0] != '/') {
        return NULL;
    }
    const char *name = path + 1;
    const char *slash = strchr(name, '/');
    if (slash == NULL || slash == name || slash[1] == '\0' || strchr(slash + 1, '/') != NULL) {
        return NULL;
    }
    return bsl_schema_method(name, strlen(name));
}

/* The path as printable ASCII, for an error message. */
static const char *printable(gw_req *r, const char *s)
{
    size_t n = strnlen(s, 120);
    char *out = bsl_arena_alloc(r->arena, n + 1);
    if (out == NULL) {
        return "";
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    }
    out[n] = '\0';
    return out;
}

static void fail_field(gw_req *r, const char *field, const char *why)
{
    Boussole__V1__FieldViolation fv = BOUSSOLE__V1__FIELD_VIOLATION__INIT;
    fv.field = (char *)field;
    fv.description = (char *)why;
    Boussole__V1__ErrorDetail d = BOUSSOLE__V1__ERROR_DETAIL__INIT;
    d.detail_case = BOUSSOLE__V1__ERROR_DETAIL__DETAIL_FIELD_VIOLATION;
    d.field_violation = &fv;
    Boussole__V1__ErrorDetail *details[] = { &d };
    const char *msg = field[0] ? bsl_arena_printf(r->arena, "%s: %s", field, why) : why;
    gw__respond_error(r, 0, BSL_STATUS_INVALID_ARGUMENT, msg ? msg : why, details, 1, NULL);
}

static void unauthenticated(gw_req *r, const char *message, bool invalid_token)
{
    static const char *const challenge[] = { "WWW-Authenticate", "Bearer", NULL };
    static const char *const invalid[] = { "WWW-Authenticate", "Bearer error=\"invalid_token\"",
                                           NULL };
    bsl_counter_add(r->g->auth_failures, 1);
    gw__respond_error(r, 0, BSL_STATUS_UNAUTHENTICATED, message, NULL, 0,
                      invalid_token ? invalid : challenge);
}

/* The key an anonymous client is rate limited by: its address as the trusted proxy saw it,
 * else the address of its connection (gw_ratelimit_peer_key). */
static size_t anonymous_key(const gw_req *r, char *key, size_t cap)
{
    const char *xff = r->g->cfg.trust_forwarded_for ? r->h.forwarded_for : NULL;
    if (xff != NULL) {
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ' || *last == '\t') {
            last++;
        }
        int n = snprintf(key, cap, "a:%.64s", last);
        while (n > 2 && (key[n - 1] == ' ' || key[n - 1] == '\t')) {
            key[--n] = '\0';
        }
        return (size_t)n;
    }
    return gw_ratelimit_peer_key(r->peer, key, cap);
}

/* 429 with Retry-After (seconds) and a RetryInfo detail. */
static void too_many(gw_req *r, unsigned wait, const char *message)
{
    char secs[16];
    snprintf(secs, sizeof(secs), "%u", wait);
    const char *extra[] = { "Retry-After", secs, NULL };
    Boussole__V1__RetryInfo ri = BOUSSOLE__V1__RETRY_INFO__INIT;
    ri.retry_delay_ms = wait * 1000;
    Boussole__V1__ErrorDetail d = BOUSSOLE__V1__ERROR_DETAIL__INIT;
    d.detail_case = BOUSSOLE__V1__ERROR_DETAIL__DETAIL_RETRY_INFO;
    d.retry_info = &ri;
    Boussole__V1__ErrorDetail *details[] = { &d };
    gw__respond_error(r, 0, BSL_STATUS_RESOURCE_EXHAUSTED, message, details, 1, extra);
}

static void on_reply(const bsl_reply *rep, void *arg);

void gw__rpc_reply(gw_req *r, const ProtobufCMessage *out)
{
    if (r->codec == GW_CODEC_PROTO) {
        size_t len = protobuf_c_message_get_packed_size(out);
        uint8_t *buf = bsl_arena_alloc(r->arena, len ? len : 1);
        if (buf == NULL) {
            gw__respond_error(r, 0, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL, 0, NULL);
            return;
        }
        protobuf_c_message_pack(out, buf);
        gw__respond_static(r, 200, "application/proto", buf, len,
                           NULL); /* arena: lives as long as r */
        return;
    }
    gw_buf b;
    gw_buf_init(&b, 0);
    gw_json_error err;
    if (!gw_json_encode(out, 0, &b, &err)) {
        gw_buf_free(&b);
        char *msg = bsl_arena_printf(r->arena, "the answer cannot be written as JSON (%s: %s)",
                                     err.path, err.why);
        gw__respond_error(r, 0, BSL_STATUS_INTERNAL, msg ? msg : "unwritable answer", NULL, 0,
                          NULL);
        return;
    }
    size_t len = 0;
    char *text = gw_buf_take(&b, &len);
    if (text == NULL) {
        gw__respond_error(r, 0, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL, 0, NULL);
        return;
    }
    gw__respond_owned(r, 200, "application/json", text, len, NULL);
}

/* Authenticates the caller. Returns false when the request has been answered. */
static bool authenticate(gw_req *r, gw_principal *who, bool *authed)
{
    gw_gateway *g = r->g;
    *authed = false;
    if (r->h.authorization == NULL) {
        if (!r->m->anonymous) {
            unauthenticated(r, "this method needs a bearer token (Authorization: Bearer <JWT>)",
                            false);
            return false;
        }
        return true;
    }
    /* Refused tokens count against the client's address. An address past its allowance has
     * its tokens checked only when they are already known (cached): a new one waits, so that
     * guessing goes slowly and a flood of forged tokens costs no signature checks. A known
     * good token is never held up by its neighbours' bad ones. */
    char akey[160];
    size_t alen = 0;
    double now = ev_now(g->loop);
    if (g->auth_throttle != NULL) {
        alen = anonymous_key(r, akey, sizeof(akey));
        alen = alen < sizeof(akey) ? alen : sizeof(akey) - 1;
    }
    size_t len = 0;
    const char *token = gw_meta_bearer(r->h.authorization, &len);
    unsigned wait = 0;
    if (g->auth_throttle != NULL && !gw_ratelimit_peek(g->auth_throttle, akey, alen, now, &wait) &&
        (token == NULL || !gw_jwt_cached(g->jwt, token, len))) {
        bsl_counter_add(g->auth_throttled, 1);
        too_many(r, wait, "too many invalid credentials from this address: slow down");
        return false;
    }
    if (token == NULL) {
        if (g->auth_throttle != NULL) {
            gw_ratelimit_take(g->auth_throttle, akey, alen, now, &wait);
        }
        unauthenticated(r, "Authorization must be a bearer token", false);
        return false;
    }
    gw_jwt_stats before, after;
    gw_jwt_get_stats(g->jwt, &before);
    int64_t now_s = bsl_clock_now_ms(g->cfg.clock) / 1000;
    gw_auth_result res = gw_jwt_verify(g->jwt, token, len, now_s, who);
    gw_jwt_get_stats(g->jwt, &after);
    bsl_counter_add(g->jwt_checks, after.signature_checks - before.signature_checks);
    bsl_counter_add(g->jwt_hits, after.cache_hits - before.cache_hits);
    if (res != GW_AUTH_OK) {
        /* Why, for operators; never the token, and nothing of it to the client. */
        bsl_log_field f[] = { BSL_LOG_STR("reason", gw_auth_result_name(res)) };
        bsl_log_with(g->cfg.log, BSL_LOG_INFO, r->request_id, r->trace_id, f, 1,
                     "bearer token refused");
        if (g->auth_throttle != NULL) {
            gw_ratelimit_take(g->auth_throttle, akey, alen, now, &wait);
        }
        unauthenticated(r, "invalid or expired credentials", true);
        return false;
    }
    *authed = true;
    r->role = who->role;
    return true;
}

static bool rate_limit(gw_req *r, const gw_principal *who, bool authed)
{
    gw_gateway *g = r->g;
    if (g->limiter == NULL) {
        return true;
    }
    char key[160];
    size_t n = authed ? (size_t)snprintf(key, sizeof(key), "s:%s", who->subject)
                      : anonymous_key(r, key, sizeof(key));
    unsigned wait = 0;
    if (gw_ratelimit_take(g->limiter, key, n < sizeof(key) ? n : sizeof(key) - 1, ev_now(g->loop),
                          &wait)) {
        return true;
    }
    bsl_counter_add(g->rate_limited, 1);
    too_many(r, wait, "too many requests: slow down");
    return false;
}

/* The request's payload, in the method's input type: encoded (for the backend) and, for the
 * gateway's own services, decoded. Returns false when the request has been answered. */
static bool take_payload(gw_req *r, const uint8_t *data, size_t len, uint8_t **payload,
                         size_t *payload_len, ProtobufCMessage **decoded, bool want_decoded)
{
    const ProtobufCMessageDescriptor *in = r->m->service->methods[r->m->index].input;
    *decoded = NULL;
    if (r->codec == GW_CODEC_JSON) {
        gw_json_error err;
        const char *text = len > 0 ? (const char *)data : "{}";
        int rv = gw_json_decode(in, text, len > 0 ? len : 2, r->arena, decoded, &err);
        if (rv == BSL_EINVAL) {
            fail_field(r, err.path, err.why);
            return false;
        }
        if (rv != BSL_OK) {
            gw__respond_error(r, 0, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL, 0, NULL);
            return false;
        }
        *payload_len = protobuf_c_message_get_packed_size(*decoded);
        *payload = bsl_arena_alloc(r->arena, *payload_len ? *payload_len : 1);
        if (*payload == NULL) {
            gw__respond_error(r, 0, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL, 0, NULL);
            return false;
        }
        protobuf_c_message_pack(*decoded, *payload);
        return true;
    }
    /* Binary: the backend checks the bytes field by field; only the gateway's own services
     * need them decoded here, checked the same way first. */
    *payload = (uint8_t *)data;
    *payload_len = len;
    if (want_decoded) {
        char path[128], why[96];
        if (!bsl_pb_check(in, data, len, path, sizeof(path), why, sizeof(why))) {
            fail_field(r, path, why);
            return false;
        }
        *decoded = protobuf_c_message_unpack(in, bsl_arena_allocator(r->arena), len, data);
        if (*decoded == NULL) {
            fail_field(r, "", "the request does not decode");
            return false;
        }
    }
    return true;
}

void gw__rpc(gw_req *r)
{
    gw_gateway *g = r->g;
    const bsl_method_info *m = r->path_status == GW_PATH_OK ? method_of_path(r->path) : NULL;
    if (m == NULL || m->internal) {
        /* An internal method is answered exactly like one that does not exist. */
        char *msg = bsl_arena_printf(r->arena, "no such method: %s", printable(r, r->path));
        gw__respond_error(r, 404, BSL_STATUS_UNIMPLEMENTED, msg ? msg : "no such method", NULL, 0,
                          NULL);
        return;
    }
    r->m = m;
    r->metric_id = gw__metric_id(g, m);
    bool local = gw__local_service(m);
    gw_backend *b = local ? NULL : gw__backend_of(g, m);
    if (!local && b == NULL) {
        char *msg = bsl_arena_printf(r->arena, "%s is not served by this gateway", m->service_name);
        gw__respond_error(r, 0, BSL_STATUS_UNIMPLEMENTED, msg ? msg : "not served", NULL, 0, NULL);
        return;
    }
    bool get = is_get(r);
    bool safe = m->idempotency == BSL_IDEMPOTENCY_NO_SIDE_EFFECTS;
    if ((!get && strcmp(r->method, "POST") != 0) || (get && !safe)) {
        const char *allow[] = { "Allow", safe ? "GET, POST" : "POST", NULL };
        gw__respond_error(r, 405, BSL_STATUS_UNIMPLEMENTED,
                          safe ? "use POST or GET" : "this method has side effects: use POST", NULL,
                          0, allow);
        return;
    }
    if (g->draining) {
        r->close = true;
        gw__respond_error(r, 0, BSL_STATUS_UNAVAILABLE, "the gateway is shutting down", NULL, 0,
                          NULL);
        return;
    }
    if (g->cfg.max_in_flight > 0 && g->active > g->cfg.max_in_flight) {
        static const char *const retry[] = { "Retry-After", "1", NULL };
        gw__respond_error(r, 0, BSL_STATUS_UNAVAILABLE, "too many calls in flight", NULL, 0, retry);
        return;
    }
    r->counted = true;
    bsl_metrics_in_flight(g->metrics, 1);

    if (!gw_connect_version_ok(r->h.connect_version)) {
        gw__respond_error(r, 0, BSL_STATUS_INVALID_ARGUMENT, "Connect-Protocol-Version must be 1",
                          NULL, 0, NULL);
        return;
    }
    uint64_t timeout = 0;
    if (r->h.connect_timeout != NULL) {
        if (!gw_connect_timeout(r->h.connect_timeout, &timeout)) {
            gw__respond_error(r, 0, BSL_STATUS_INVALID_ARGUMENT,
                              "Connect-Timeout-Ms must be 1 to 10 digits", NULL, 0, NULL);
            return;
        }
        if (timeout == 0) {
            gw__respond_error(r, 0, BSL_STATUS_DEADLINE_EXCEEDED, "the deadline has passed", NULL,
                              0, NULL);
            return;
        }
        if (timeout > g->cfg.max_deadline_ms) {
            timeout = g->cfg.max_deadline_ms;
        }
    }
    const uint8_t *data;
    size_t len;
    if (get) {
        gw_get_call gc;
        char why[160];
        bsl_status st = gw_connect_parse_get(r->query, r->arena, &gc, why, sizeof(why));
        if (st != BSL_STATUS_OK) {
            gw__respond_error(r, 0, st, why, NULL, 0, NULL);
            return;
        }
        r->codec = gc.codec;
        data = gc.message;
        len = gc.message_len;
    } else {
        r->codec = gw_connect_codec(r->h.content_type);
        if (r->codec == GW_CODEC_NONE) {
            static const char *const accept[] = { "Accept-Post",
                                                  "application/json, application/proto", NULL };
            gw__respond_error(r, 415, BSL_STATUS_INVALID_ARGUMENT,
                              "Content-Type must be application/json or application/proto", NULL, 0,
                              accept);
            return;
        }
        if (!gw_connect_encoding_ok(r->h.content_encoding)) {
            static const char *const accept[] = { "Accept-Encoding", "identity", NULL };
            gw__respond_error(r, 0, BSL_STATUS_UNIMPLEMENTED,
                              "request compression is not supported: send identity", NULL, 0,
                              accept);
            return;
        }
        data = r->body;
        len = r->body_len;
    }

    gw_principal who;
    bool authed;
    if (!authenticate(r, &who, &authed) || !rate_limit(r, &who, authed)) {
        return;
    }
    if (r->h.idempotency_key != NULL && !gw_meta_idempotency_ok(r->h.idempotency_key)) {
        gw__respond_error(r, 0, BSL_STATUS_INVALID_ARGUMENT,
                          "Idempotency-Key: 1 to 128 printable ASCII characters without spaces",
                          NULL, 0, NULL);
        return;
    }
    uint8_t *payload;
    size_t payload_len;
    ProtobufCMessage *decoded;
    if (!take_payload(r, data, len, &payload, &payload_len, &decoded, local)) {
        return;
    }
    if (local) {
        gw__local_call(r, decoded);
        return;
    }
    Boussole__V1__Caller caller = BOUSSOLE__V1__CALLER__INIT;
    if (authed) {
        caller.subject = who.subject;
        caller.role = (Boussole__V1__Role)who.role;
        caller.organisation = who.organisation;
    }
    bsl_call_opts o = {
        .caller = authed ? &caller : NULL,
        .request_id = r->request_id,
        .trace_id = r->trace_id,
        .parent_span_id = r->parent_id,
        .idempotency_key = r->h.idempotency_key,
        .deadline_ms = (uint32_t)timeout,
    };
    r->backend = b->name;
    r->backend_pending = true;
    int rv = bsl_client_call_raw(b->client, m, payload, payload_len, &o, on_reply, r);
    if (rv != BSL_OK) {
        r->backend_pending = false;
        bsl_status st = bsl_status_from_err(rv);
        gw__respond_error(r, st == BSL_STATUS_RESOURCE_EXHAUSTED ? 413 : 0, st,
                          rv == BSL_ETOOBIG ? "request too large for the backend"
                                            : "cannot call the backend",
                          NULL, 0, NULL);
    }
}

static void on_reply(const bsl_reply *rep, void *arg)
{
    gw_req *r = arg;
    r->backend_pending = false;
    if (r->answered) {
        /* Answered unavailable when the drain's grace period ended: this answer comes too
         * late, and frees the request if its connection is done with it. */
        if (r->orphaned) {
            gw__req_free(r);
        }
        return;
    }
    if (rep->code == BSL_STATUS_OK) {
        if (r->codec == GW_CODEC_PROTO) {
            gw__respond(r, 200, "application/proto", rep->payload, rep->payload_len, NULL);
            return;
        }
        const ProtobufCMessageDescriptor *out = r->m->service->methods[r->m->index].output;
        ProtobufCMessage *msg = protobuf_c_message_unpack(out, bsl_arena_allocator(r->arena),
                                                          rep->payload_len, rep->payload);
        if (msg == NULL) {
            gw__respond_error(r, 0, BSL_STATUS_INTERNAL, "the service's answer does not decode",
                              NULL, 0, NULL);
            return;
        }
        gw__rpc_reply(r, msg);
        return;
    }
    Boussole__V1__ErrorDetail *const *details = NULL;
    size_t n = 0;
    if (rep->envelope != NULL) {
        details = rep->envelope->details;
        n = rep->envelope->n_details;
    }
    bsl_status code = bsl_status_valid((int)rep->code) ? rep->code : BSL_STATUS_UNKNOWN;
    uint32_t delay = gw_connect_retry_delay_ms(details, n);
    char secs[16];
    const char *extra[] = { "Retry-After", secs, NULL };
    bool retry =
        delay > 0 && (code == BSL_STATUS_UNAVAILABLE || code == BSL_STATUS_RESOURCE_EXHAUSTED);
    snprintf(secs, sizeof(secs), "%u", (delay + 999) / 1000);
    gw__respond_error(r, 0, code, rep->message, details, n, retry ? extra : NULL);
}
