/*
 * The gateway's policies: routes (routes.c), CORS (cors.c), the rate limiter (ratelimit.c) and
 * the OpenAPI document built from the schema (openapi.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "boussole/err.h"
#include "boussole/schema.h"
#include "cors.h"
#include "openapi.h"
#include "ratelimit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include "routes.h"

static void routes(void **state)
{
    (void)state;
    gw_routes r;
    memset(&r, 0, sizeof(r));
    char err[256];
    assert_int_equal(
        gw_routes_add(&r, "sessions", "boussole.v1.Session*", "tcp://s:1", err, sizeof(err)),
        BSL_OK);
    assert_int_equal(
        gw_routes_add(&r, "questionnaires", "boussole.v1.Questionnaire*", "", err, sizeof(err)),
        BSL_OK); /* not served here */
    assert_int_equal(gw_routes_parse(&r,
                                     "boussole.v1.SessionService=tcp://exact:1; "
                                     "boussole.v1.*=tcp://all:1;boussole.v1.Sess*=tcp://s:1",
                                     err, sizeof(err)),
                     BSL_OK);
    /* Longest pattern wins; an exact name beats a prefix of the same length. */
    assert_string_equal(gw_routes_lookup(&r, "boussole.v1.SessionService")->url, "tcp://exact:1");
    assert_string_equal(gw_routes_lookup(&r, "boussole.v1.SessionAudit")->url, "tcp://s:1");
    assert_string_equal(gw_routes_lookup(&r, "boussole.v1.QuestionnaireService")->url,
                        "tcp://all:1");
    assert_null(gw_routes_lookup(&r, "other.v1.Thing"));
    /* One backend per URL, named after its first route. */
    assert_int_equal(r.n_backends, 3);
    assert_string_equal(gw_routes_lookup(&r, "boussole.v1.SessAny")->name, "sessions");
    /* A copy of the table (the gateway keeps one) routes the same way. */
    gw_routes copy = r;
    assert_ptr_equal(gw_routes_lookup(&copy, "boussole.v1.SessionAudit"), &copy.backends[0]);
    /* Bad routes. */
    assert_int_equal(gw_routes_parse(&r, "no-equals-sign", err, sizeof(err)), BSL_EINVAL);
    assert_int_equal(gw_routes_parse(&r, "bad pattern=tcp://x:1", err, sizeof(err)), BSL_EINVAL);
    assert_int_equal(gw_routes_parse(&r, "boussole.*.X=tcp://x:1", err, sizeof(err)), BSL_EINVAL);
    assert_int_equal(gw_routes_parse(&r, "boussole.v1.*=tcp://again:1", err, sizeof(err)),
                     BSL_EINVAL); /* given twice */
}

static void cors(void **state)
{
    (void)state;
    gw_cors *c = NULL;
    char err[256];
    assert_int_equal(
        gw_cors_create(&c, "https://app.example.org, http://localhost:5173", err, sizeof(err)),
        BSL_OK);
    assert_true(gw_cors_allowed(c, "https://app.example.org"));
    assert_true(gw_cors_allowed(c, "HTTPS://APP.EXAMPLE.ORG"));
    assert_true(gw_cors_allowed(c, "http://localhost:5173"));
    assert_false(gw_cors_allowed(c, "http://localhost:5174"));
    assert_false(gw_cors_allowed(c, "https://app.example.org.evil.com"));
    assert_false(gw_cors_allowed(c, "null"));
    assert_false(gw_cors_allowed(c, NULL));
    assert_false(gw_cors_any(c));
    gw_cors_free(c);
    assert_int_equal(gw_cors_create(&c, "*", err, sizeof(err)), BSL_OK);
    assert_true(gw_cors_allowed(c, "https://anything.example"));
    assert_false(gw_cors_allowed(c, "null")); /* sandboxed documents and files: never */
    gw_cors_free(c);
    assert_int_equal(gw_cors_create(&c, "", err, sizeof(err)), BSL_OK);
    assert_false(gw_cors_allowed(c, "https://app.example.org"));
    gw_cors_free(c);
    assert_int_equal(gw_cors_create(&c, "https://app.example.org/path", err, sizeof(err)),
                     BSL_EINVAL);
    assert_int_equal(gw_cors_create(&c, "app.example.org", err, sizeof(err)), BSL_EINVAL);

    assert_true(gw_cors_method_ok("POST"));
    assert_true(gw_cors_method_ok("GET"));
    assert_false(gw_cors_method_ok("DELETE"));
    assert_true(gw_cors_headers_ok(NULL));
    assert_true(gw_cors_headers_ok("authorization, content-type,connect-protocol-version"));
    assert_true(gw_cors_headers_ok("Connect-Timeout-Ms, traceparent, accept"));
    assert_false(gw_cors_headers_ok("content-type, x-evil"));
    assert_false(gw_cors_headers_ok("cookie"));
}

static void rate_limit(void **state)
{
    (void)state;
    gw_ratelimit *rl = NULL;
    assert_int_equal(gw_ratelimit_create(&rl, 2, 3, 64), BSL_OK);
    unsigned wait = 0;
    /* A burst of 3, then refused, with the wait until the next token. */
    for (int i = 0; i < 3; i++) {
        assert_true(gw_ratelimit_take(rl, "s:a", 3, 100.0, &wait));
    }
    assert_false(gw_ratelimit_take(rl, "s:a", 3, 100.0, &wait));
    assert_int_equal(wait, 1);
    /* Another client is not affected. */
    assert_true(gw_ratelimit_take(rl, "s:b", 3, 100.0, &wait));
    /* Half a second later one token is back (2 per second), and only one. */
    assert_true(gw_ratelimit_take(rl, "s:a", 3, 100.5, &wait));
    assert_false(gw_ratelimit_take(rl, "s:a", 3, 100.5, &wait));
    /* Long idle: the bucket refills up to the burst, not beyond. */
    for (int i = 0; i < 3; i++) {
        assert_true(gw_ratelimit_take(rl, "s:a", 3, 1000.0, &wait));
    }
    assert_false(gw_ratelimit_take(rl, "s:a", 3, 1000.0, &wait));
    /* Many more clients than the table holds: a client seen long ago may be forgotten (and
     * start again full), never refused wrongly. */
    char key[32];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof(key), "a:10.0.%d.%d", i / 256, i % 256);
        assert_true(gw_ratelimit_take(rl, key, (size_t)n, 2000.0 + i * 0.001, &wait));
    }
    gw_ratelimit_free(rl);
    /* Slow rates give long waits. */
    assert_int_equal(gw_ratelimit_create(&rl, 0.1, 1, 16), BSL_OK);
    assert_true(gw_ratelimit_take(rl, "x", 1, 0, &wait));
    assert_false(gw_ratelimit_take(rl, "x", 1, 0, &wait));
    assert_int_equal(wait, 10);
    gw_ratelimit_free(rl);
    assert_int_equal(gw_ratelimit_create(&rl, 0, 1, 16), BSL_EINVAL);
}

static void peer_keys(void **state)
{
    (void)state;
    char key[64];
    struct sockaddr_in v4;
    memset(&v4, 0, sizeof(v4));
    v4.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.7", &v4.sin_addr);
    v4.sin_port = htons(40000);
    size_t n = gw_ratelimit_peer_key((struct sockaddr *)&v4, key, sizeof(key));
    assert_string_equal(key, "ip:192.0.2.7");
    assert_int_equal(n, strlen(key));
    /* The port is not part of it: one client, many connections. */
    v4.sin_port = htons(40001);
    gw_ratelimit_peer_key((struct sockaddr *)&v4, key, sizeof(key));
    assert_string_equal(key, "ip:192.0.2.7");
    /* IPv6: the /64, whatever the interface identifier. */
    struct sockaddr_in6 v6;
    memset(&v6, 0, sizeof(v6));
    v6.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &v6.sin6_addr);
    gw_ratelimit_peer_key((struct sockaddr *)&v6, key, sizeof(key));
    assert_string_equal(key, "ip:2001:db8:1:2::/64");
    inet_pton(AF_INET6, "2001:db8:1:2::1", &v6.sin6_addr);
    gw_ratelimit_peer_key((struct sockaddr *)&v6, key, sizeof(key));
    assert_string_equal(key, "ip:2001:db8:1:2::/64");
    inet_pton(AF_INET6, "2001:db8:1:3::1", &v6.sin6_addr);
    gw_ratelimit_peer_key((struct sockaddr *)&v6, key, sizeof(key));
    assert_string_equal(key, "ip:2001:db8:1:3::/64");
    /* IPv4 reaching an IPv6 socket is IPv4. */
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &v6.sin6_addr);
    gw_ratelimit_peer_key((struct sockaddr *)&v6, key, sizeof(key));
    assert_string_equal(key, "ip:192.0.2.7");
    /* Unknown, and a short buffer: terminated, never overrun. */
    gw_ratelimit_peer_key(NULL, key, sizeof(key));
    assert_string_equal(key, "ip:?");
    n = gw_ratelimit_peer_key((struct sockaddr *)&v4, key, 6);
    assert_string_equal(key, "ip:19");
    assert_int_equal(n, 5);
}

static bool not_internal(const bsl_method_info *m, void *arg)
{
    (void)arg;
    return !m->internal;
}

static void openapi(void **state)
{
    (void)state;
    size_t len = 0;
    char *doc = gw_openapi_build(not_internal, NULL, &len);
    assert_non_null(doc);
    assert_int_equal(strlen(doc), len);
    json_error_t jerr;
    json_t *root = json_loads(doc, 0, &jerr);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "openapi")), "3.0.3");
    json_t *paths = json_object_get(root, "paths");
    json_t *schemas = json_object_get(json_object_get(root, "components"), "schemas");
    /* Every exposed method has a POST, side-effect-free ones a GET too, internal ones
     * nothing; every $ref names a schema of the document. */
    size_t n;
    const bsl_service_info *svc = bsl_schema_services(&n);
    size_t exposed = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < svc[i].n_methods; k++) {
            const bsl_method_info *m = &svc[i].methods[k];
            char path[300];
            snprintf(path, sizeof(path), "/%s", m->full_name);
            json_t *item = json_object_get(paths, path);
            if (m->internal) {
                assert_null(item);
                continue;
            }
            exposed++;
            assert_non_null(json_object_get(item, "post"));
            assert_int_equal(json_object_get(item, "get") != NULL,
                             m->idempotency == BSL_IDEMPOTENCY_NO_SIDE_EFFECTS);
            json_t *post = json_object_get(item, "post");
            json_t *sec = json_object_get(post, "security");
            assert_int_equal(sec != NULL && json_array_size(sec) == 0, m->anonymous);
            const ProtobufCMethodDescriptor *md = &m->service->methods[m->index];
            assert_non_null(json_object_get(schemas, md->input->name));
            assert_non_null(json_object_get(schemas, md->output->name));
        }
    }
    assert_int_equal(json_object_size(paths), exposed);
    const char *p = doc;
    while ((p = strstr(p, "\"$ref\":\"#/components/schemas/")) != NULL) {
        p += strlen("\"$ref\":\"#/components/schemas/");
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(p, "\""), p);
        if (json_object_get(schemas, name) == NULL) {
            fail_msg("dangling $ref %s", name);
        }
    }
    /* A schema in the proto3 JSON form, with the .proto comments. */
    json_t *bilan = json_object_get(schemas, "boussole.v1.Bilan");
    json_t *props = json_object_get(bilan, "properties");
    assert_non_null(json_object_get(props, "beneficiaryId"));
    assert_null(json_object_get(props, "beneficiary_id"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(props, "version"), "type")), "string");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(props, "createTime"), "format")),
        "date-time");
    assert_non_null(
        strstr(json_string_value(json_object_get(bilan, "description")), "bilan de comp"));
    json_t *funding = json_object_get(schemas, "boussole.v1.Funding");
    assert_string_equal(json_string_value(json_object_get(funding, "type")), "string");
    assert_true(json_array_size(json_object_get(funding, "enum")) >= 4);
    json_decref(root);
    free(doc);
}

int main(void)
{
    if (sodium_init() < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes),    cmocka_unit_test(cors),    cmocka_unit_test(rate_limit),
        cmocka_unit_test(peer_keys), cmocka_unit_test(openapi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
