/*
 * The gateway and its backends: routes from service-name patterns (the longest wins), a backend
 * that is down (UNAVAILABLE for its methods only, /readyz says which), the internal hop over
 * mutual TLS, HTTPS at the front door, and SIGTERM (drain, then exit 0).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "boussole/schema.h"
#include "boussole/service.h"
#include "gateway_harness.h"

static te_env env;
/* Processes are tracked by te_fini through their addresses: they live as long as the test. */
static te_proc sessions, gw_tls, gw_rogue, gw_routes, gw_wrong, gw_https, gw_drain, gw_grace;
static char *counselor;
static char dead_url[64], dead_url2[64];

static const char *CREATE = "{\"beneficiaryId\":\"b-route\",\"organisationId\":\"org-lumiere\","
                            "\"funding\":\"FUNDING_CPF\",\"plannedHours\":6,\"startDate\":"
                            "\"2026-12-01\",\"endDate\":\"2027-02-28\"}";

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "gateway_backends");
    te_tls_init(&env); /* the services listen on tls+tcp:// with client certificates */
    te_redis_start(&env);
    te_service_start(&env, &sessions, "sessions", NULL);
    counselor = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "");
    snprintf(dead_url, sizeof(dead_url), "tcp://127.0.0.1:%d", te_free_port());
    snprintf(dead_url2, sizeof(dead_url2), "tcp://127.0.0.1:%d", te_free_port());
    return strncmp(sessions.url, "tls+tcp://", 10) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    te_fini(&env);
    free(counselor);
    return 0;
}

/* --tls-cert/--tls-key/--tls-ca for the gateway's clients. */
static const char **tls_args(const char *a, const char *b, const char *c)
{
    static char cert[900], key[900], ca[900];
    static const char *args[8];
    bsl_tls_options o = te_tls_options(&env, false);
    snprintf(cert, sizeof(cert), "--tls-cert=%s", o.cert_file);
    snprintf(key, sizeof(key), "--tls-key=%s", o.key_file);
    snprintf(ca, sizeof(ca), "--tls-ca=%s", o.ca_file);
    size_t n = 0;
    args[n++] = cert;
    args[n++] = key;
    args[n++] = ca;
    args[n++] = "--rate-limit=0";
    args[n++] = a;
    args[n++] = b;
    args[n++] = c;
    args[n] = NULL;
    return args;
}

static bool schema_has(const char *service)
{
    return bsl_schema_service(service) != NULL;
}

static void mutual_tls_hop(void **state)
{
    (void)state;
    te_proc *gw = &gw_tls, *rogue = &gw_rogue;
    gwh_gateway_start(&env, gw, "gateway-tls", sessions.url, tls_args(NULL, NULL, NULL));
    gwh_wait(gw, true);
    gwh_resp r;
    assert_int_equal(
        gwh_post(gw->port, "boussole.v1.SessionService/CreateBilan", counselor, CREATE, NULL, &r),
        200);
    gwh_resp_free(&r);
    /* Without a certificate from the deployment's CA, the gateway cannot reach the service. */
    bsl_tls_options bad = te_tls_options(&env, true);
    char cert[900], key[900], ca[900];
    snprintf(cert, sizeof(cert), "--tls-cert=%s", bad.cert_file);
    snprintf(key, sizeof(key), "--tls-key=%s", bad.key_file);
    snprintf(ca, sizeof(ca), "--tls-ca=%s", bad.ca_file);
    const char *rogue_args[] = { cert, key, ca, "--rate-limit=0", NULL };
    gwh_gateway_start(&env, rogue, "gateway-rogue", sessions.url, rogue_args);
    assert_int_equal(gwh_post(rogue->port, "boussole.v1.SessionService/CreateBilan", counselor,
                              CREATE, NULL, &r),
                     503);
    gwh_resp_free(&r);
    assert_int_equal(gwh_http_status(rogue->port, "/readyz"), 503);
    te_signal(gw, SIGKILL);
    te_signal(rogue, SIGKILL);
    te_wait(gw, 5000);
    te_wait(rogue, 5000);
}

static void routes_and_a_dead_backend(void **state)
{
    (void)state;
    te_proc *gw = &gw_routes;
    char q[200], exact[200];
    /* questionnaires is down; SessionService is routed by an exact pattern that overrides the
     * broader boussole.v1.Session* of --sessions-url, which points at nothing. */
    snprintf(q, sizeof(q), "--questionnaires-url=%s", dead_url2);
    snprintf(exact, sizeof(exact), "--route=boussole.v1.SessionService=%s", sessions.url);
    const char **args = tls_args(q, exact, NULL);
    gwh_gateway_start(&env, gw, "gateway-routes", dead_url, args);
    gwh_resp r;
    /* The session methods work (the exact route wins)... */
    assert_int_equal(
        gwh_post(gw->port, "boussole.v1.SessionService/CreateBilan", counselor, CREATE, NULL, &r),
        200);
    gwh_resp_free(&r);
    /* ...while the questionnaires' are unavailable, not broken. */
    if (schema_has("boussole.v1.QuestionnaireService")) {
        assert_int_equal(gwh_post(gw->port, "boussole.v1.QuestionnaireService/ListInstruments",
                                  counselor, "{}", NULL, &r),
                         503);
        assert_non_null(strstr(r.body, "\"code\":\"unavailable\""));
        gwh_resp_free(&r);
    }
    assert_int_equal(gwh_http(gw->port, "GET", "/readyz", NULL, NULL, 0, &r), 503);
    assert_non_null(strstr(r.body, "questionnaires: UNAVAILABLE"));
    assert_null(strstr(r.body, "boussole.v1.SessionService:")); /* the routed one is fine */
    gwh_resp_free(&r);
    /* Health of one service goes to its backend. */
    assert_int_equal(gwh_post(gw->port, "boussole.v1.Health/Check", NULL,
                              "{\"service\":\"boussole.v1.SessionService\"}", NULL, &r),
                     200);
    assert_non_null(strstr(r.body, "SERVING_STATUS_SERVING"));
    gwh_resp_free(&r);
    te_signal(gw, SIGKILL);
    te_wait(gw, 5000);

    /* A service routed to a process that does not serve it: that process says so. */
    if (schema_has("boussole.v1.QuestionnaireService")) {
        char wrong[300];
        snprintf(wrong, sizeof(wrong), "--questionnaires-url=%s", sessions.url);
        gw = &gw_wrong;
        gwh_gateway_start(&env, gw, "gateway-wrong", sessions.url, tls_args(wrong, NULL, NULL));
        assert_int_equal(gwh_post(gw->port, "boussole.v1.QuestionnaireService/ListInstruments",
                                  counselor, "{}", NULL, &r),
                         501);
        assert_non_null(strstr(r.body, "not served by sessions"));
        gwh_resp_free(&r);
        te_signal(gw, SIGKILL);
        te_wait(gw, 5000);
    }
}

static void https_front_door(void **state)
{
    (void)state;
    bsl_tls_options o = te_tls_options(&env, false);
    char cert[900], key[900];
    snprintf(cert, sizeof(cert), "--http-tls-cert=%s", o.cert_file);
    snprintf(key, sizeof(key), "--http-tls-key=%s", o.key_file);
    te_proc *gw = &gw_https;
    gwh_gateway_spawn(&env, gw, "gateway-https", "https", sessions.url, tls_args(cert, key, NULL));
    /* boussolectl over HTTPS, trusting the deployment's CA. */
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "%s health --url=%s --http-ca=%s 2>/dev/null", gwh_ctl(&env),
             gw->url, o.ca_file);
    int st = -1;
    for (int i = 0; i < 200 && st != 0; i++) {
        free(gwh_run(cmd, &st));
        if (st != 0) {
            te_sleep_ms(50);
        }
    }
    assert_int_equal(st, 0);
    snprintf(cmd, sizeof(cmd),
             "%s call SessionService/CreateBilan '%s' --url=%s --http-ca=%s --token=%s 2>&1",
             gwh_ctl(&env), CREATE, gw->url, o.ca_file, counselor);
    char *out = gwh_run(cmd, &st);
    if (st != 0) {
        fail_msg("boussolectl over HTTPS: exit %d: %s", st, out);
    }
    assert_non_null(strstr(out, "\"counselorId\": \"c-marie\""));
    free(out);
    /* Plain HTTP to the HTTPS port gets nothing. */
    assert_int_equal(gwh_http_status(gw->port, "/healthz"), -1);
    /* A client that does not trust the certificate's CA refuses the gateway. */
    bsl_tls_options rogue = te_tls_options(&env, true);
    char rogue_ca[900];
    snprintf(rogue_ca, sizeof(rogue_ca), "%s/rogue/ca.crt", env.tls_dir);
    (void)rogue;
    snprintf(cmd, sizeof(cmd), "%s health --url=%s --http-ca=%s 2>/dev/null", gwh_ctl(&env),
             gw->url, rogue_ca);
    free(gwh_run(cmd, &st));
    assert_int_equal(st, 1);
    te_signal(gw, SIGKILL);
    te_wait(gw, 5000);
}

typedef struct {
    int port;
    int status;
    char body[256];
    char retry_after[16];
} slow_call;

static void *call_thread(void *arg)
{
    slow_call *c = arg;
    gwh_resp r;
    c->status =
        gwh_post(c->port, "boussole.v1.SessionService/CreateBilan", counselor, CREATE, NULL, &r);
    snprintf(c->body, sizeof(c->body), "%s", r.body != NULL ? r.body : "");
    const char *ra = gwh_header(&r, "Retry-After");
    snprintf(c->retry_after, sizeof(c->retry_after), "%s", ra != NULL ? ra : "");
    gwh_resp_free(&r);
    return NULL;
}

/* Waits until the gateway counts n calls in flight. */
static void wait_in_flight(const te_proc *gw, int n)
{
    char want[96];
    snprintf(want, sizeof(want), "bsl_gateway_requests_in_flight{service=\"gateway\"} %d\n", n);
    for (int i = 0; i < 200; i++) {
        gwh_resp r;
        gwh_http(gw->port, "GET", "/metrics", NULL, NULL, 0, &r);
        bool there = r.body != NULL && strstr(r.body, want) != NULL;
        gwh_resp_free(&r);
        if (there) {
            return;
        }
        te_sleep_ms(25);
    }
}

static void sigterm_drains(void **state)
{
    (void)state;
    te_proc *gw = &gw_drain;
    const char *grace = "--grace-ms=8000";
    gwh_gateway_start(&env, gw, "gateway-drain", sessions.url, tls_args(grace, NULL, NULL));
    gwh_wait(gw, true);
    /* A call in flight (the service is stopped for a moment)... */
    te_signal(&sessions, SIGSTOP);
    slow_call c = { .port = gw->port };
    pthread_t th;
    pthread_create(&th, NULL, call_thread, &c);
    gwh_resp r;
    wait_in_flight(gw, 1);
    /* ...when the gateway is asked to stop. */
    te_signal(gw, SIGTERM);
    te_sleep_ms(200);
    assert_int_equal(gwh_http(gw->port, "GET", "/readyz", NULL, NULL, 0, &r), 503);
    assert_non_null(strstr(r.body, "draining"));
    gwh_resp_free(&r);
    assert_int_equal(
        gwh_post(gw->port, "boussole.v1.SessionService/CreateBilan", counselor, CREATE, NULL, &r),
        503);
    assert_string_equal(gwh_header(&r, "Connection"), "close");
    gwh_resp_free(&r);
    /* The service resumes: the call in flight is answered, then the gateway exits cleanly. */
    te_signal(&sessions, SIGCONT);
    pthread_join(th, NULL);
    assert_int_equal(c.status, 200);
    assert_int_equal(te_wait(gw, 10000), 0);
    assert_true(gwh_file_contains(gw->log, "drained; stopping"));
}

/* A call still running when the grace period ends is answered unavailable (retry elsewhere),
 * not cut off; the gateway still exits cleanly, and the backend's late answer is dropped. */
static void grace_period_over(void **state)
{
    (void)state;
    te_proc *gw = &gw_grace;
    const char *grace = "--grace-ms=500";
    gwh_gateway_start(&env, gw, "gateway-grace", sessions.url, tls_args(grace, NULL, NULL));
    gwh_wait(gw, true);
    te_signal(&sessions, SIGSTOP);
    slow_call c[2] = { { .port = gw->port }, { .port = gw->port } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        pthread_create(&th[i], NULL, call_thread, &c[i]);
    }
    wait_in_flight(gw, 2);
    long long t0 = te_now_ms();
    te_signal(gw, SIGTERM);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(c[i].status, 503);
        assert_non_null(strstr(c[i].body, "\"code\":\"unavailable\""));
        assert_string_equal(c[i].retry_after, "1");
    }
    long long waited = te_now_ms() - t0;
    assert_true(waited >= 400 && waited < 5000); /* at the end of the grace period */
    assert_int_equal(te_wait(gw, 10000), 0);
    assert_true(gwh_file_contains(gw->log, "answered unavailable"));
    te_signal(&sessions, SIGCONT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mutual_tls_hop),    cmocka_unit_test(routes_and_a_dead_backend),
        cmocka_unit_test(https_front_door),  cmocka_unit_test(sigterm_drains),
        cmocka_unit_test(grace_period_over),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
