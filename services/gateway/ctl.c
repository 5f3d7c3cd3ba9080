/*
 * boussolectl: Boussole from the command line. Calls any method with JSON, through the gateway
 * over HTTP (the Connect protocol) or straight to a service's RPC port over nng (--direct);
 * lists and describes services and methods; checks health; mints development tokens.
 *
 * Exit status: 0 on success; 64 + the status code on an RPC error (65 CANCELLED ... 80
 * UNAUTHENTICATED: 69 is NOT_FOUND); 1 when the call could not be made; 2 for a usage error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>

#include "boussole/arena.h"
#include "boussole/client.h"
#include "boussole/clock.h"
#include "boussole/config.h"
#include "boussole/err.h"
#include "boussole/schema.h"
#include "boussole/service.h"
#include "connect.h"
#include "json.h"
#include "jwtauth.h"

#define EXIT_RPC(code) (64 + (int)(code))
#define EXIT_FAILED    1
#define EXIT_USAGE     2
#define BODY_MAX       (16u << 20)

static bsl_option options[] = {
    { "url", "http://127.0.0.1:8080", "gateway URL", 0 },
    { "token", "", "bearer token (JWT) sent to the gateway", 0 },
    { "binary", "false", "true: application/proto on the wire instead of JSON", 0 },
    { "timeout-ms", "10000", "the call's deadline", 0 },
    { "idempotency-key", "", "Idempotency-Key of a call (default: one per call)", 0 },
    { "request-id", "", "X-Request-Id of a call", 0 },
    { "http-ca", "", "PEM CA that signs the gateway's certificate (https://)", 0 },
    { "direct", "", "call a service's RPC URL over nng instead of the gateway", 0 },
    { "as", "", "--direct caller: role:subject[:organisation] (e.g. counselor:c-marie:org-1)", 0 },
    { "tls-cert", "", "--direct over tls+tcp://: PEM certificate", 0 },
    { "tls-key", "", "--direct over tls+tcp://: PEM private key", 0 },
    { "tls-ca", "", "--direct over tls+tcp://: PEM CA of the services", 0 },
    { "sub", "", "token: subject (the caller's id)", 0 },
    { "role", "", "token: beneficiary, counselor, admin or third_party", 0 },
    { "org", "", "token: organisation", 0 },
    { "ttl-s", "3600", "token: seconds until it expires (negative: already expired)", 0 },
    { "nbf-in-s", "", "token: seconds until it becomes valid (nbf claim)", 0 },
    { "jwt-alg", "HS256", "token: HS256, RS256 or ES256", 0 },
    { "jwt-secret", "", "token: HS256 secret, or @file (the gateway's BSL_JWT_SECRET)", 0 },
    { "jwt-private-key", "", "token: RS256/ES256 PEM private key, as @file", 0 },
    { "jwt-issuer", "boussole-local", "token: iss claim", 0 },
    { "jwt-audience", "boussole", "token: aud claim", 0 },
    { "clock-file", "", "tests only: clock offset file, as the services use", 0 },
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static const char ABOUT[] =
    "boussolectl: call Boussole from the command line.\n"
    "\n"
    "Commands:\n"
    "  call <Service/Method> [JSON | @file | -]   call a method (JSON in, JSON out)\n"
    "  list                                        services and methods served (reflection)\n"
    "  describe <service | Service/Method | message | enum>\n"
    "                                              what the schema says, with its comments\n"
    "  health [service]                            readiness of the gateway (or a service)\n"
    "  token --sub S --role R [--org O]            mint a development token (HS256 secret\n"
    "                                              from --jwt-secret / BSL_JWT_SECRET)\n"
    "\n"
    "Service names may omit the package: SessionService/GetBilan.\n"
    "Exit status: 0 ok; 64+code for an RPC error (69 NOT_FOUND, 80 UNAUTHENTICATED); 1 when\n"
    "the call could not be made; 2 for a usage error.";

static const char *opt(const char *name)
{
    const char *v = bsl_option_get(options, N_OPTIONS, name);
    return v ? v : "";
}

static bool flag(const char *name)
{
    const char *v = opt(name);
    return strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0;
}

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "boussolectl: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    return EXIT_USAGE;
}

/* "SessionService/GetBilan" or the full name. */
static const bsl_method_info *find_method(const char *name)
{
    const bsl_method_info *m = bsl_schema_method(name, strlen(name));
    if (m == NULL && strchr(name, '.') == NULL) {
        char full[256];
        snprintf(full, sizeof(full), "boussole.v1.%s", name);
        m = bsl_schema_method(full, strlen(full));
    }
    return m;
}

/* The request text: an argument, @file, or - (standard input); "{}" when absent. */
static char *read_input(const char *arg, size_t *len)
{
    if (arg == NULL) {
        *len = 2;
        return strdup("{}");
    }
    if (strcmp(arg, "-") != 0 && arg[0] != '@') {
        *len = strlen(arg);
        return strdup(arg);
    }
    FILE *f = strcmp(arg, "-") == 0 ? stdin : fopen(arg + 1, "rb");
    if (f == NULL) {
        fprintf(stderr, "boussolectl: cannot read %s: %s\n", arg + 1, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = cap < BODY_MAX ? realloc(buf, cap * 2) : NULL;
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                fprintf(stderr, "boussolectl: input larger than %u bytes\n", BODY_MAX);
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (f != stdin) {
        fclose(f);
    }
    *len = n;
    return buf;
}

static void print_message(const ProtobufCMessage *m)
{
    gw_buf b;
    gw_buf_init(&b, 0);
    gw_json_error err;
    if (!gw_json_encode(m, GW_JSON_PRETTY, &b, &err) || gw_buf_failed(&b)) {
        fprintf(stderr, "boussolectl: the answer cannot be written as JSON (%s: %s)\n", err.path,
                err.why);
    } else {
        printf("%s\n", b.data);
    }
    gw_buf_free(&b);
}

/* Prints an error in the Connect JSON form (the same whichever way it came). */
static int print_error(bsl_status code, const char *message,
                       Boussole__V1__ErrorDetail *const *details, size_t n)
{
    gw_buf b;
    gw_buf_init(&b, 0);
    gw_connect_error_body(&b, code, message, details, n);
    json_t *j = b.data ? json_loads(b.data, 0, NULL) : NULL;
    char *pretty = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    fprintf(stderr, "%s\n", pretty ? pretty : (b.data ? b.data : message));
    free(pretty);
    json_decref(j);
    gw_buf_free(&b);
    return EXIT_RPC(code);
}

/* ---- through the gateway ------------------------------------------------------------------ */

typedef struct http_answer {
    int status;
    char *body; /* malloc'd, NUL-terminated */
    size_t len;
    char content_type[128];
} http_answer;

/* One HTTP exchange with the gateway. Returns BSL_OK or prints why not. */
static int http_call(const char *method, const char *path, const char *content_type,
                     const void *body, size_t len, const char *const *headers, http_answer *out)
{
    memset(out, 0, sizeof(*out));
    char url[2048];
    const char *base = opt("url");
    size_t bl = strlen(base);
    snprintf(url, sizeof(url), "%.*s%s", (int)(bl > 0 && base[bl - 1] == '/' ? bl - 1 : bl), base,
             path);
    nng_url *u = NULL;
    nng_http_client *client = NULL;
    nng_http_req *req = NULL;
    nng_http_res *res = NULL;
    nng_aio *aio = NULL;
    nng_tls_config *tls = NULL;
    int rv;
    const char *what = "URL";
    if ((rv = nng_url_parse(&u, url)) != 0 ||
        (what = "client", rv = nng_http_client_alloc(&client, u)) != 0) {
        goto fail;
    }
    if (strncmp(url, "https://", 8) == 0) {
        const char *ca = opt("http-ca");
        what = "TLS";
        if (ca[0] == '\0') {
            fprintf(stderr, "boussolectl: https:// needs --http-ca (the CA that signs the "
                            "gateway's certificate)\n");
            rv = -1;
            goto done;
        }
        if ((rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT)) != 0 ||
            (rv = nng_tls_config_ca_file(tls, ca)) != 0 ||
            (rv = nng_tls_config_server_name(tls, u->u_hostname)) != 0 ||
            (rv = nng_tls_config_auth_mode(tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
            (rv = nng_http_client_set_tls(client, tls)) != 0) {
            goto fail;
        }
    }
    what = "request";
    if ((rv = nng_http_req_alloc(&req, u)) != 0 || (rv = nng_http_res_alloc(&res)) != 0 ||
        (rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
        goto fail;
    }
    nng_http_req_set_method(req, method);
    if (content_type != NULL) {
        nng_http_req_set_header(req, "Content-Type", content_type);
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i += 2) {
        if (headers[i + 1] != NULL && headers[i + 1][0] != '\0') {
            nng_http_req_set_header(req, headers[i], headers[i + 1]);
        }
    }
    if (len > 0 && (rv = nng_http_req_copy_data(req, body, len)) != 0) {
        goto fail;
    }
    uint32_t timeout = 10000;
    char err[128];
    bsl_option_u32(options, N_OPTIONS, "timeout-ms", 1, 3600000, &timeout, err, sizeof(err));
    nng_aio_set_timeout(aio, (nng_duration)(timeout + 5000));
    what = "call";
    nng_http_client_transact(client, req, res, aio);
    nng_aio_wait(aio);
    if ((rv = nng_aio_result(aio)) != 0) {
        goto fail;
    }
    out->status = nng_http_res_get_status(res);
    void *data;
    size_t dlen;
    nng_http_res_get_data(res, &data, &dlen);
    out->body = malloc(dlen + 1);
    if (out->body == NULL) {
        rv = NNG_ENOMEM;
        goto fail;
    }
    memcpy(out->body, data, dlen);
    out->body[dlen] = '\0';
    out->len = dlen;
    const char *ct = nng_http_res_get_header(res, "Content-Type");
    snprintf(out->content_type, sizeof(out->content_type), "%s", ct ? ct : "");
    rv = 0;
    goto done;
fail:
    fprintf(stderr, "boussolectl: %s %s: %s\n", what, url, nng_strerror(rv));
done:
    if (aio != NULL) {
        nng_aio_free(aio);
    }
    if (req != NULL) {
        nng_http_req_free(req);
    }
    if (res != NULL) {
        nng_http_res_free(res);
    }
    if (client != NULL) {
        nng_http_client_free(client);
    }
    if (tls != NULL) {
        nng_tls_config_free(tls);
    }
    if (u != NULL) {
        nng_url_free(u);
    }
    return rv == 0 ? BSL_OK : BSL_EUNAVAIL;
}

/* An HTTP error answer: the Connect error body if there is one, else the HTTP status. */
static int http_error(const http_answer *a)
{
    json_t *j = json_loadb(a->body, a->len, 0, NULL);
    const char *code = json_string_value(json_object_get(j, "code"));
    int st = code ? bsl_status_from_connect_name(code) : -1;
    if (st < 0) {
        fprintf(stderr, "HTTP %d: %s\n", a->status, a->body);
        json_decref(j);
        return EXIT_RPC(a->status == 401   ? BSL_STATUS_UNAUTHENTICATED
                        : a->status == 404 ? BSL_STATUS_UNIMPLEMENTED
                                           : BSL_STATUS_UNKNOWN);
    }
    char *pretty = json_dumps(j, JSON_INDENT(2));
    fprintf(stderr, "%s\n", pretty ? pretty : a->body);
    free(pretty);
    json_decref(j);
    return EXIT_RPC(st);
}

static char *bearer(void)
{
    static char h[9000];
    const char *t = opt("token");
    if (t[0] == '\0') {
        return NULL;
    }
    snprintf(h, sizeof(h), "Bearer %s", t);
    return h;
}

static int gateway_call(const bsl_method_info *m, const ProtobufCMessage *in,
                        ProtobufCMessage **out, bsl_arena *a)
{
    bool binary = flag("binary");
    const ProtobufCMethodDescriptor *md = &m->service->methods[m->index];
    uint8_t *body;
    size_t len;
    gw_buf jb;
    gw_buf_init(&jb, 0);
    gw_json_error err;
    if (binary) {
        len = protobuf_c_message_get_packed_size(in);
        body = bsl_arena_alloc(a, len ? len : 1);
        if (body == NULL) {
            return EXIT_FAILED;
        }
        protobuf_c_message_pack(in, body);
    } else {
        if (!gw_json_encode(in, 0, &jb, &err) || gw_buf_failed(&jb)) {
            fprintf(stderr, "boussolectl: cannot write the request: %s\n", err.why);
            gw_buf_free(&jb);
            return EXIT_FAILED;
        }
        body = (uint8_t *)jb.data;
        len = jb.len;
    }
    char path[300], timeout[16];
    snprintf(path, sizeof(path), "/%s", m->full_name);
    snprintf(timeout, sizeof(timeout), "%s", opt("timeout-ms"));
    const char *headers[] = { "Authorization",
                              bearer(),
                              "Connect-Protocol-Version",
                              "1",
                              "Connect-Timeout-Ms",
                              timeout,
                              "Idempotency-Key",
                              opt("idempotency-key"),
                              "X-Request-Id",
                              opt("request-id"),
                              NULL };
    http_answer ans;
    int rv = http_call("POST", path, binary ? "application/proto" : "application/json", body, len,
                       headers, &ans);
    gw_buf_free(&jb);
    if (rv != BSL_OK) {
        return EXIT_FAILED;
    }
    int status;
    if (ans.status != 200) {
        status = http_error(&ans);
    } else if (binary) {
        *out = protobuf_c_message_unpack(md->output, bsl_arena_allocator(a), ans.len,
                                         (uint8_t *)ans.body);
        status = *out ? 0 : EXIT_FAILED;
    } else {
        rv = gw_json_decode(md->output, ans.body, ans.len, a, out, &err);
        status = rv == BSL_OK ? 0 : EXIT_FAILED;
    }
    if (status == EXIT_FAILED) {
        fprintf(stderr, "boussolectl: the gateway's answer does not decode\n");
    }
    free(ans.body);
    return status;
}

/* ---- straight to a service --------------------------------------------------------------- */

static int direct_call(const bsl_method_info *m, const ProtobufCMessage *in, ProtobufCMessage **out,
                       bsl_arena *a)
{
    bsl_tls_options tls = { .cert_file = opt("tls-cert"),
                            .key_file = opt("tls-key"),
                            .ca_file = opt("tls-ca") };
    bsl_client_options co = { .target = opt("direct"), .name = "boussolectl", .tls = &tls };
    bsl_sync_client *sc = NULL;
    char err[512];
    if (bsl_sync_client_create(&sc, &co, err, sizeof(err)) != BSL_OK) {
        fprintf(stderr, "boussolectl: %s\n", err);
        return EXIT_FAILED;
    }
    char spec[512];
    snprintf(spec, sizeof(spec), "%s", opt("as"));
    Boussole__V1__Caller caller = BOUSSOLE__V1__CALLER__INIT;
    char *role = spec, *subject = strchr(spec, ':'), *org = NULL;
    if (subject != NULL) {
        *subject++ = '\0';
        if ((org = strchr(subject, ':')) != NULL) {
            *org++ = '\0';
        }
        caller.role = strcmp(role, "service") == 0 ? BOUSSOLE__V1__ROLE__ROLE_SERVICE
                                                   : (Boussole__V1__Role)gw_role_from_name(role);
        caller.subject = subject;
        caller.organisation = org ? org : "";
    } else if (spec[0] != '\0') {
        bsl_sync_client_free(sc);
        return usage("--as must be role:subject[:organisation], not '%s'", spec);
    }
    uint32_t timeout = 10000;
    bsl_option_u32(options, N_OPTIONS, "timeout-ms", 1, 3600000, &timeout, err, sizeof(err));
    bsl_call_opts o = {
        .caller = spec[0] ? &caller : NULL,
        .deadline_ms = timeout,
        .idempotency_key = opt("idempotency-key")[0] ? opt("idempotency-key") : NULL,
        .request_id = opt("request-id")[0] ? opt("request-id") : NULL,
    };
    ProtobufCMessage *resp = NULL;
    char msg[512];
    bsl_status st = bsl_sync_call(sc, m->full_name, in, &o, &resp, msg, sizeof(msg));
    int status = 0;
    if (st != BSL_STATUS_OK) {
        const Boussole__V1__RpcResponse *env = bsl_sync_last_envelope(sc);
        status = print_error(st, msg, env ? env->details : NULL, env ? env->n_details : 0);
    } else if (resp != NULL) {
        /* Copy into the arena so that one free releases everything. */
        size_t len = protobuf_c_message_get_packed_size(resp);
        uint8_t *buf = bsl_arena_alloc(a, len ? len : 1);
        if (buf != NULL) {
            protobuf_c_message_pack(resp, buf);
            *out = protobuf_c_message_unpack(resp->descriptor, bsl_arena_allocator(a), len, buf);
        }
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    bsl_sync_client_free(sc);
    return status;
}

static int call(const bsl_method_info *m, const ProtobufCMessage *in, ProtobufCMessage **out,
                bsl_arena *a)
{
    return opt("direct")[0] ? direct_call(m, in, out, a) : gateway_call(m, in, out, a);
}

/* ---- commands ----------------------------------------------------------------------------- */

static int cmd_call(int argc, char **argv)
{
    if (argc < 1 || argc > 2) {
        return usage("call needs a method and at most one request");
    }
    const bsl_method_info *m = find_method(argv[0]);
    if (m == NULL) {
        return usage("no method '%s' in the schema", argv[0]);
    }
    size_t len = 0;
    char *text = read_input(argc > 1 ? argv[1] : NULL, &len);
    if (text == NULL) {
        return EXIT_FAILED;
    }
    bsl_arena *a = bsl_arena_create();
    ProtobufCMessage *in = NULL, *out = NULL;
    gw_json_error err;
    const ProtobufCMethodDescriptor *md = &m->service->methods[m->index];
    int status;
    if (a == NULL) {
        status = EXIT_FAILED;
    } else if (gw_json_decode(md->input, text, len, a, &in, &err) != BSL_OK) {
        fprintf(stderr, "boussolectl: request %s%s%s\n", err.path, err.path[0] ? ": " : "",
                err.why);
        status = EXIT_USAGE;
    } else if ((status = call(m, in, &out, a)) == 0 && out != NULL) {
        print_message(out);
    }
    free(text);
    bsl_arena_free(a);
    return status;
}

static int cmd_list(void)
{
    const bsl_method_info *m = find_method("boussole.v1.Reflection/ListServices");
    bsl_arena *a = bsl_arena_create();
    if (m == NULL || a == NULL) {
        bsl_arena_free(a);
        return EXIT_FAILED;
    }
    Boussole__V1__ListServicesRequest in = BOUSSOLE__V1__LIST_SERVICES_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    int status = call(m, &in.base, &out, a);
    const Boussole__V1__ListServicesResponse *l = (const Boussole__V1__ListServicesResponse *)out;
    for (size_t i = 0; status == 0 && l != NULL && i < l->n_services; i++) {
        printf("%s\n", l->services[i]->name);
        for (size_t k = 0; k < l->services[i]->n_methods; k++) {
            const Boussole__V1__MethodInfo *mi = l->services[i]->methods[k];
            printf("  %s(%s) returns (%s)%s%s%s\n", mi->name, mi->input_type, mi->output_type,
                   mi->idempotency == BOUSSOLE__V1__IDEMPOTENCY__IDEMPOTENCY_NO_SIDE_EFFECTS
                       ? " [read]"
                   : mi->idempotency == BOUSSOLE__V1__IDEMPOTENCY__IDEMPOTENCY_IDEMPOTENT
                       ? " [idempotent]"
                       : "",
                   mi->anonymous ? " [anonymous]" : "", mi->internal ? " [internal]" : "");
        }
    }
    bsl_arena_free(a);
    return status;
}

static int cmd_health(int argc, char **argv)
{
    const char *service = argc > 0 ? argv[0] : "";
    if (opt("direct")[0] == '\0' && service[0] == '\0') {
        http_answer ans;
        if (http_call("GET", "/readyz", NULL, NULL, 0, NULL, &ans) != BSL_OK) {
            return EXIT_FAILED;
        }
        printf("%s", ans.body);
        int st = ans.status == 200 ? 0 : EXIT_FAILED;
        free(ans.body);
        return st;
    }
    const bsl_method_info *m = find_method("boussole.v1.Health/Check");
    bsl_arena *a = bsl_arena_create();
    if (m == NULL || a == NULL) {
        bsl_arena_free(a);
        return EXIT_FAILED;
    }
    Boussole__V1__HealthCheckRequest in = BOUSSOLE__V1__HEALTH_CHECK_REQUEST__INIT;
    in.service = (char *)service;
    ProtobufCMessage *out = NULL;
    int status = call(m, &in.base, &out, a);
    if (status == 0 && out != NULL) {
        const Boussole__V1__HealthCheckResponse *h = (const Boussole__V1__HealthCheckResponse *)out;
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &boussole__v1__serving_status__descriptor, (int)h->status);
        printf("%s\n", v ? v->name : "unknown");
        status =
            h->status == BOUSSOLE__V1__SERVING_STATUS__SERVING_STATUS_SERVING ? 0 : EXIT_FAILED;
    }
    bsl_arena_free(a);
    return status;
}

/* ---- describe ------------------------------------------------------------------------------ */

static void print_comment(const char *indent, const char *c)
{
    if (c == NULL || c[0] == '\0') {
        return;
    }
    printf("%s// ", indent);
    for (; *c != '\0'; c++) {
        putchar(*c);
        if (*c == '\n') {
            printf("%s// ", indent);
        }
    }
    putchar('\n');
}

static const char *type_name(const ProtobufCFieldDescriptor *f)
{
    static const char *const names[] = {
        [PROTOBUF_C_TYPE_INT32] = "int32",       [PROTOBUF_C_TYPE_SINT32] = "sint32",
        [PROTOBUF_C_TYPE_SFIXED32] = "sfixed32", [PROTOBUF_C_TYPE_INT64] = "int64",
        [PROTOBUF_C_TYPE_SINT64] = "sint64",     [PROTOBUF_C_TYPE_SFIXED64] = "sfixed64",
        [PROTOBUF_C_TYPE_UINT32] = "uint32",     [PROTOBUF_C_TYPE_FIXED32] = "fixed32",
        [PROTOBUF_C_TYPE_UINT64] = "uint64",     [PROTOBUF_C_TYPE_FIXED64] = "fixed64",
        [PROTOBUF_C_TYPE_FLOAT] = "float",       [PROTOBUF_C_TYPE_DOUBLE] = "double",
        [PROTOBUF_C_TYPE_BOOL] = "bool",         [PROTOBUF_C_TYPE_STRING] = "string",
        [PROTOBUF_C_TYPE_BYTES] = "bytes",
    };
    if (f->type == PROTOBUF_C_TYPE_ENUM) {
        return ((const ProtobufCEnumDescriptor *)f->descriptor)->name;
    }
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        return ((const ProtobufCMessageDescriptor *)f->descriptor)->name;
    }
    return (unsigned)f->type < sizeof(names) / sizeof(names[0]) && names[f->type] ? names[f->type]
                                                                                  : "?";
}

static void describe_message(const ProtobufCMessageDescriptor *d)
{
    print_comment("", bsl_schema_comment(d->name));
    printf("message %s {\n", d->name);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char full[320], json[128];
        snprintf(full, sizeof(full), "%s.%s", d->name, f->name);
        gw_json_name(f->name, json, sizeof(json));
        print_comment("  ", bsl_schema_comment(full));
        printf("  %s%s %s = %u;  // JSON: \"%s\"\n",
               f->label == PROTOBUF_C_LABEL_REPEATED ? "repeated " : "", type_name(f), f->name,
               f->id, json);
    }
    printf("}\n");
}

static void describe_enum(const ProtobufCEnumDescriptor *e)
{
    print_comment("", bsl_schema_comment(e->name));
    printf("enum %s {\n", e->name);
    for (unsigned i = 0; i < e->n_values; i++) {
        char full[320];
        snprintf(full, sizeof(full), "%s.%s", e->name, e->values[i].name);
        print_comment("  ", bsl_schema_comment(full));
        printf("  %s = %d;\n", e->values[i].name, e->values[i].value);
    }
    printf("}\n");
}

/* Finds a message or enum by full name among the types reachable from the schema's methods. */
static bool find_type(const ProtobufCMessageDescriptor *d, const char *name, int depth)
{
    if (depth > 32) {
        return false;
    }
    if (strcmp(d->name, name) == 0) {
        describe_message(d);
        return true;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type == PROTOBUF_C_TYPE_ENUM &&
            strcmp(((const ProtobufCEnumDescriptor *)f->descriptor)->name, name) == 0) {
            describe_enum(f->descriptor);
            return true;
        }
        if (f->type == PROTOBUF_C_TYPE_MESSAGE && f->descriptor != d &&
            find_type(f->descriptor, name, depth + 1)) {
            return true;
        }
    }
    return false;
}

static void describe_method(const bsl_method_info *m)
{
    const ProtobufCMethodDescriptor *md = &m->service->methods[m->index];
    print_comment("  ", m->comment);
    printf("  rpc %s(%s) returns (%s)%s%s%s\n", m->name, md->input->name, md->output->name,
           m->idempotency == BSL_IDEMPOTENCY_NO_SIDE_EFFECTS ? " [read]"
           : m->idempotency == BSL_IDEMPOTENCY_IDEMPOTENT    ? " [idempotent]"
                                                             : "",
           m->anonymous ? " [anonymous]" : "", m->internal ? " [internal]" : "");
}

static int cmd_describe(int argc, char **argv)
{
    if (argc != 1) {
        return usage("describe needs one name");
    }
    const char *name = argv[0];
    char full[256];
    snprintf(full, sizeof(full), "%s%s", strchr(name, '.') ? "" : "boussole.v1.", name);
    const bsl_method_info *m = find_method(name);
    if (m != NULL) {
        describe_method(m);
        const ProtobufCMethodDescriptor *md = &m->service->methods[m->index];
        putchar('\n');
        describe_message(md->input);
        return 0;
    }
    const bsl_service_info *s = bsl_schema_service(full);
    if (s != NULL) {
        print_comment("", s->comment);
        printf("service %s {\n", s->name);
        for (size_t i = 0; i < s->n_methods; i++) {
            describe_method(&s->methods[i]);
        }
        printf("}\n");
        return 0;
    }
    size_t n;
    const bsl_service_info *all = bsl_schema_services(&n);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < all[i].n_methods; k++) {
            const ProtobufCMethodDescriptor *md =
                &all[i].methods[k].service->methods[all[i].methods[k].index];
            if (find_type(md->input, full, 0) || find_type(md->output, full, 0)) {
                return 0;
            }
        }
    }
    return usage("nothing named '%s' in the schema", name);
}

/* ---- token --------------------------------------------------------------------------------- */

static bool parse_seconds(const char *name, long long *out)
{
    const char *v = opt(name);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (v[0] == '\0' || *end != '\0' || errno != 0 || x < -315360000 || x > 315360000) {
        return false;
    }
    *out = x;
    return true;
}

static int cmd_token(void)
{
    const char *sub = opt("sub"), *role = opt("role");
    if (sub[0] == '\0' || role[0] == '\0') {
        return usage("token needs --sub and --role");
    }
    long long ttl, nbf = 0;
    if (!parse_seconds("ttl-s", &ttl) || (opt("nbf-in-s")[0] && !parse_seconds("nbf-in-s", &nbf))) {
        return usage("--ttl-s and --nbf-in-s are whole seconds");
    }
    const char *alg = opt("jwt-alg");
    const char *spec = strcmp(alg, "HS256") == 0 ? opt("jwt-secret") : opt("jwt-private-key");
    if (spec[0] == '\0') {
        return usage("token needs %s", strcmp(alg, "HS256") == 0
                                           ? "--jwt-secret (or BSL_JWT_SECRET)"
                                           : "--jwt-private-key=@file");
    }
    char err[512];
    size_t key_len = 0;
    uint8_t *key = gw_key_load(spec, &key_len, err, sizeof(err));
    if (key == NULL) {
        fprintf(stderr, "boussolectl: %s\n", err);
        return EXIT_FAILED;
    }
    bsl_clock *clock = NULL;
    bsl_clock_create(&clock, opt("clock-file"));
    long long now = bsl_clock_now_ms(clock) / 1000;
    bsl_clock_free(clock);
    gw_jwt_claims c = {
        .subject = sub,
        .role = role,
        .organisation = opt("org"),
        .issuer = opt("jwt-issuer"),
        .audience = opt("jwt-audience"),
        .issued_at = now,
        .not_before = nbf ? now + nbf : 0,
        .expires = now + ttl,
    };
    char *token = gw_jwt_mint(alg, key, key_len, &c, err, sizeof(err));
    memset(key, 0, key_len);
    free(key);
    if (token == NULL) {
        fprintf(stderr, "boussolectl: %s\n", err);
        return EXIT_FAILED;
    }
    printf("%s\n", token);
    free(token);
    return 0;
}

/* ---- main ---------------------------------------------------------------------------------- */

/* Flags that take no value: "--binary" means "--binary=true". */
static bool boolean_flag(const char *a)
{
    return strcmp(a, "--binary") == 0;
}

int main(int argc, char **argv)
{
    /* The runtime's option parser takes only --options: commands and their arguments are
     * taken out first. */
    char **flags = calloc((size_t)argc + 1, sizeof(char *));
    char **args = calloc((size_t)argc + 1, sizeof(char *));
    if (flags == NULL || args == NULL) {
        return EXIT_FAILED;
    }
    int nf = 0, na = 0;
    flags[nf++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 && strcmp(a, "-h") != 0) {
            args[na++] = argv[i];
        } else if (boolean_flag(a)) {
            static char on[] = "--binary=true";
            flags[nf++] = on;
        } else {
            flags[nf++] = argv[i];
            if (strchr(a, '=') == NULL && strcmp(a, "--help") != 0 && strcmp(a, "-h") != 0 &&
                i + 1 < argc) {
                flags[nf++] = argv[++i];
            }
        }
    }
    char err[512];
    int rv = bsl_options_parse(options, N_OPTIONS, "boussolectl <command>", ABOUT, nf, flags, err,
                               sizeof(err));
    int status;
    if (rv == BSL_EHELP) {
        status = 0;
    } else if (rv != BSL_OK) {
        fprintf(stderr, "boussolectl: %s\n", err);
        status = EXIT_USAGE;
    } else if (bsl_init() != BSL_OK) {
        status = EXIT_FAILED;
    } else if (na == 0) {
        status = usage("a command is needed: call, list, describe, health or token");
    } else if (strcmp(args[0], "call") == 0) {
        status = cmd_call(na - 1, args + 1);
    } else if (strcmp(args[0], "list") == 0) {
        status = cmd_list();
    } else if (strcmp(args[0], "describe") == 0) {
        status = cmd_describe(na - 1, args + 1);
    } else if (strcmp(args[0], "health") == 0) {
        status = cmd_health(na - 1, args + 1);
    } else if (strcmp(args[0], "token") == 0) {
        status = cmd_token();
    } else {
        status = usage("unknown command '%s'", args[0]);
    }
    free(flags);
    free(args);
    return status;
}
