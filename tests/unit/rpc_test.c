/*
 * The RPC server and client in one process over inproc://: dispatch, deadlines, interceptors,
 * policy, typed error details, draining, and the client's failover between replicas. Redis is
 * not involved (see tests/integration for that).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "boussole/client.h"
#include "boussole/err.h"
#include "boussole/server.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"

typedef struct test_service {
    Boussole__V1__SessionService_Service svc; /* first: handlers get the test service */
    const char *name;
    int calls;
    char last_subject[64];
    char last_trace[64];
    bsl_call *parked;
} test_service;

/* A call answered 200 ms later; lives in the call's arena. */
typedef struct slow_call {
    ev_timer timer;
    bsl_call *call;
    const char *name;
} slow_call;

static struct ev_loop *loop;

static void reply_bilan(bsl_call *call, const char *id)
{
    Boussole__V1__Bilan b = BOUSSOLE__V1__BILAN__INIT;
    b.id = (char *)id;
    bsl_call_reply(call, &b.base);
}

static void on_slow(struct ev_loop *l, ev_timer *w, int revents)
{
    (void)l;
    (void)revents;
    slow_call *sc = w->data;
    reply_bilan(sc->call, sc->name); /* frees the call, and the timer with it */
}

/* One handler for every method: its behaviour depends on the request (GetBilan's id). */
static void handler(ProtobufCService *service, const ProtobufCMessage *in, ProtobufCClosure closure,
                    void *closure_data)
{
    (void)closure;
    test_service *t = (test_service *)service;
    bsl_call *call = closure_data;
    t->calls++;
    snprintf(t->last_subject, sizeof(t->last_subject), "%s", bsl_call_caller(call)->subject);
    snprintf(t->last_trace, sizeof(t->last_trace), "%s", bsl_call_trace_id(call));
    if (in->descriptor != &boussole__v1__get_bilan_request__descriptor) {
        bsl_call_fail(call, BSL_STATUS_INTERNAL, "only GetBilan is played here");
        return;
    }
    const char *id = ((const Boussole__V1__GetBilanRequest *)in)->id;
    if (strcmp(id, "never") == 0) {
        t->parked = call; /* answered by its deadline; the test finishes it later */
    } else if (strcmp(id, "slow") == 0) {
        slow_call *sc = bsl_arena_alloc(bsl_call_arena(call), sizeof(*sc));
        sc->call = call;
        sc->name = t->name;
        ev_timer_init(&sc->timer, on_slow, 0.2, 0.);
        sc->timer.data = sc;
        ev_timer_start(loop, &sc->timer);
    } else if (strcmp(id, "fail") == 0) {
        bsl_call_add_precondition_violation(call, "INTAKE_MISSING", "b1", "no intake yet");
        bsl_call_fail(call, BSL_STATUS_FAILED_PRECONDITION, "cannot advance");
    } else if (strcmp(id, "huge") == 0) {
        /* An answer larger than any client accepts. */
        size_t n = BSL_RESPONSE_MAX_BYTES + 1;
        char *big = malloc(n + 1);
        memset(big, 'x', n);
        big[n] = '\0';
        reply_bilan(call, big); /* packed before it returns */
        free(big);
    } else if (strcmp(id, "twice") == 0) {
        reply_bilan(call, t->name);
        reply_bilan(call, "second"); /* ignored and logged */
    } else {
        reply_bilan(call, t->name);
    }
}

static void init_service(test_service *t, const char *name)
{
    memset(t, 0, sizeof(*t));
    boussole__v1__session_service__init(&t->svc, NULL);
    /* Every slot of the generated struct gets the generic handler, so that methods added to
     * the proto later do not break this test. */
    typedef void (*generic)(ProtobufCService *, const ProtobufCMessage *, ProtobufCClosure, void *);
    generic *slots = (generic *)(&t->svc.base + 1);
    for (unsigned i = 0; i < t->svc.base.descriptor->n_methods; i++) {
        slots[i] = handler;
    }
    t->name = name;
}

/* Interceptors that record their order and refuse a blocked subject. */
static char trail[256];

static bool ic_block(bsl_call *call, void *arg)
{
    strcat(trail, (const char *)arg);
    if (strcmp(bsl_call_caller(call)->subject, "blocked") == 0) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED, "blocked");
        return false;
    }
    return true;
}

static void ic_after(bsl_call *call, void *arg)
{
    (void)call;
    strcat(trail, (const char *)arg);
}

typedef struct server_fixture {
    test_service t;
    bsl_server *srv;
    bsl_metrics *metrics;
} server_fixture;

static void start_server(server_fixture *f, const char *name, const char *url)
{
    init_service(&f->t, name);
    assert_int_equal(bsl_metrics_create(&f->metrics, name, "bsl_rpc"), BSL_OK);
    const char *urls[] = { url };
    bsl_server_options o = {
        .service = name,
        .listen_urls = urls,
        .n_listen = 1,
        .max_message_bytes = 4096,
        .metrics = f->metrics,
        .drain_quiet_ms = 20,
    };
    char err[256];
    assert_int_equal(bsl_server_create(&f->srv, loop, &o, err, sizeof(err)), BSL_OK);
    assert_int_equal(bsl_server_add_default_interceptors(f->srv), BSL_OK);
    bsl_interceptor a = { "a", ic_block, ic_after, "A" };
    bsl_interceptor b = { "b", ic_block, ic_after, "B" };
    assert_int_equal(bsl_server_add_interceptor(f->srv, &a), BSL_OK);
    assert_int_equal(bsl_server_add_interceptor(f->srv, &b), BSL_OK);
    assert_int_equal(bsl_server_add_service(f->srv, &f->t.svc.base), BSL_OK);
    assert_int_equal(bsl_server_start(f->srv, err, sizeof(err)), BSL_OK);
}

static void stop_server(server_fixture *f)
{
    bsl_server_free(f->srv);
    bsl_metrics_free(f->metrics);
}

typedef struct result {
    bool done;
    bsl_status code;
    char message[256];
    char id[64];
    char replica[128];
    unsigned attempts;
    size_t n_details;
    char detail_type[64];
} result;

static void on_reply(const bsl_reply *reply, void *arg)
{
    result *r = arg;
    r->done = true;
    r->code = reply->code;
    r->attempts = reply->attempts;
    snprintf(r->message, sizeof(r->message), "%s", reply->message);
    snprintf(r->replica, sizeof(r->replica), "%s", reply->replica);
    if (reply->msg != NULL) {
        snprintf(r->id, sizeof(r->id), "%s", ((const Boussole__V1__Bilan *)reply->msg)->id);
    }
    if (reply->envelope != NULL) {
        r->n_details = reply->envelope->n_details;
        if (r->n_details > 0 && reply->envelope->details[0]->precondition_violation) {
            snprintf(r->detail_type, sizeof(r->detail_type), "%s",
                     reply->envelope->details[0]->precondition_violation->type);
        }
    }
}

static void run_until(result *r, double max_s)
{
    ev_tstamp until = ev_time() + max_s;
    while (!r->done && ev_time() < until) {
        ev_run(loop, EVRUN_ONCE);
    }
}

static bsl_client *client_for(const char *target)
{
    bsl_client_options o = { .target = target, .name = "t", .connect_wait_ms = 300 };
    bsl_client *c;
    char err[256];
    assert_int_equal(bsl_client_create(&c, loop, &o, err, sizeof(err)), BSL_OK);
    /* Let the inproc connections come up. */
    for (int i = 0; i < 200; i++) {
        unsigned known, connected;
        bsl_client_replicas(c, &known, &connected);
        if (connected == known && known > 0) {
            break;
        }
        ev_run(loop, EVRUN_NOWAIT);
        usleep(1000);
    }
    return c;
}

static result get(bsl_client *c, const char *id, const char *subject, uint32_t deadline_ms)
{
    Boussole__V1__GetBilanRequest req = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    req.id = (char *)id;
    Boussole__V1__Caller caller = BOUSSOLE__V1__CALLER__INIT;
    caller.subject = (char *)subject;
    caller.role = BOUSSOLE__V1__ROLE__ROLE_COUNSELOR;
    bsl_call_opts o = { .caller = subject ? &caller : NULL,
                        .deadline_ms = deadline_ms,
                        .trace_id = "0af7651916cd43dd8448eb211c80319c" };
    result r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(
        bsl_client_call(c, "boussole.v1.SessionService/GetBilan", &req.base, &o, on_reply, &r),
        BSL_OK);
    assert_false(r.done); /* never answered from inside the call */
    run_until(&r, 5);
    assert_true(r.done);
    return r;
}

static void dispatch_and_metadata(void **state)
{
    (void)state;
    server_fixture f;
    start_server(&f, "s1", "inproc://rpc-dispatch");
    bsl_client *c = client_for("inproc://rpc-dispatch");
    trail[0] = '\0';
    result r = get(c, "ok", "c-1", 0);
    assert_int_equal(r.code, BSL_STATUS_OK);
    assert_string_equal(r.id, "s1");
    assert_string_equal(f.t.last_subject, "c-1");
    assert_string_equal(f.t.last_trace, "0af7651916cd43dd8448eb211c80319c");
    assert_string_equal(trail, "ABAB"); /* before hooks, then after hooks, in order */

    trail[0] = '\0';
    r = get(c, "ok", "blocked", 0);
    assert_int_equal(r.code, BSL_STATUS_PERMISSION_DENIED);
    assert_string_equal(trail, "AAB"); /* B's before never ran; every after ran */

    r = get(c, "ok", NULL, 0);
    assert_int_equal(r.code, BSL_STATUS_UNAUTHENTICATED);

    r = get(c, "fail", "c-1", 0);
    assert_int_equal(r.code, BSL_STATUS_FAILED_PRECONDITION);
    assert_int_equal(r.n_details, 1);
    assert_string_equal(r.detail_type, "INTAKE_MISSING");

    r = get(c, "twice", "c-1", 0);
    assert_int_equal(r.code, BSL_STATUS_OK);
    assert_string_equal(r.id, "s1");

    /* An internal method, called by a counselor. */
    Boussole__V1__GetBilanAccessRequest ar = BOUSSOLE__V1__GET_BILAN_ACCESS_REQUEST__INIT;
    ar.bilan_id = "x";
    Boussole__V1__Caller counselor = BOUSSOLE__V1__CALLER__INIT;
    counselor.subject = "c-1";
    counselor.role = BOUSSOLE__V1__ROLE__ROLE_COUNSELOR;
    bsl_call_opts o = { .caller = &counselor };
    memset(&r, 0, sizeof(r));
    assert_int_equal(
        bsl_client_call(c, "boussole.v1.SessionService/GetBilanAccess", &ar.base, &o, on_reply, &r),
        BSL_OK);
    run_until(&r, 5);
    assert_int_equal(r.code, BSL_STATUS_PERMISSION_DENIED);

    /* A method the server does not know. */
    bsl_method_info fake = *bsl_schema_method("boussole.v1.SessionService/GetBilan", 35);
    fake.full_name = "boussole.v1.SessionService/Nope";
    memset(&r, 0, sizeof(r));
    assert_int_equal(bsl_client_call_raw(c, &fake, NULL, 0, &o, on_reply, &r), BSL_OK);
    run_until(&r, 5);
    assert_int_equal(r.code, BSL_STATUS_UNIMPLEMENTED);

    /* A non-idempotent method needs an idempotency store, which this server lacks. */
    Boussole__V1__CreateBilanRequest cr = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    memset(&r, 0, sizeof(r));
    assert_int_equal(
        bsl_client_call(c, "boussole.v1.SessionService/CreateBilan", &cr.base, &o, on_reply, &r),
        BSL_OK);
    run_until(&r, 5);
    assert_int_equal(r.code, BSL_STATUS_INTERNAL);

    /* Too big for the server's 4 KiB limit (but not for the client's). */
    char big[6000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    r = get(c, big, "c-1", 0);
    assert_int_equal(r.code, BSL_STATUS_RESOURCE_EXHAUSTED);

    /* The metrics saw it all. */
    char *text = bsl_metrics_render(f.metrics, NULL);
    assert_non_null(strstr(text, "method=\"boussole.v1.SessionService/GetBilan\",code=\"OK\"} 2"));
    assert_non_null(strstr(text, "code=\"FAILED_PRECONDITION\"} 1"));
    free(text);
    bsl_client_free(c);
    stop_server(&f);
}

static void deadlines(void **state)
{
    (void)state;
    server_fixture f;
    start_server(&f, "s2", "inproc://rpc-deadline");
    bsl_client *c = client_for("inproc://rpc-deadline");
    ev_tstamp t0 = ev_time();
    result r = get(c, "never", "c-1", 150);
    double took = ev_time() - t0;
    assert_int_equal(r.code, BSL_STATUS_DEADLINE_EXCEEDED);
    assert_true(took >= 0.14 && took < 1.0);
    assert_non_null(f.t.parked);
    /* The server answers for the handler at its own deadline (the client's may fire first). */
    ev_tstamp until = ev_time() + 2;
    while (bsl_server_in_flight(f.srv) != 0 && ev_time() < until) {
        ev_run(loop, EVRUN_ONCE);
    }
    assert_int_equal(bsl_server_in_flight(f.srv), 0);
    /* The handler's late answer is dropped, and frees the call. */
    reply_bilan(f.t.parked, "late");
    f.t.parked = NULL;
    r = get(c, "slow", "c-1", 2000);
    assert_int_equal(r.code, BSL_STATUS_OK);
    bsl_client_free(c);
    stop_server(&f);
}

static void no_replica(void **state)
{
    (void)state;
    bsl_client *c = client_for("inproc://rpc-nobody-listens");
    ev_tstamp t0 = ev_time();
    result r = get(c, "ok", "c-1", 5000);
    assert_int_equal(r.code, BSL_STATUS_UNAVAILABLE);
    assert_true(ev_time() - t0 < 2.0); /* the connect wait, not the deadline */
    bsl_client_free(c);
}

/* An answer larger than clients accept is refused by the server with a status, over TCP
 * (where nng enforces the client's receive limit), and the connection serves on. */
static void answer_too_large(void **state)
{
    (void)state;
    server_fixture f;
    start_server(&f, "s1", "tcp://127.0.0.1:0");
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", bsl_server_port(f.srv, 0));
    bsl_client *c = client_for(url);
    ev_tstamp t0 = ev_time();
    result r = get(c, "huge", "c-1", 4000);
    assert_int_equal(r.code, BSL_STATUS_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(r.message, "too large"));
    assert_true(ev_time() - t0 < 2.0); /* answered, not left to the deadline */
    r = get(c, "ok", "c-1", 0);
    assert_int_equal(r.code, BSL_STATUS_OK);
    assert_string_equal(r.id, "s1");
    bsl_client_free(c);
    stop_server(&f);
}

static bool drained;

static void on_drained(bsl_server *srv, void *arg)
{
    (void)srv;
    (void)arg;
    drained = true;
}

static void drain_and_failover(void **state)
{
    (void)state;
    server_fixture a, b;
    start_server(&a, "A", "inproc://rpc-a");
    start_server(&b, "B", "inproc://rpc-b");
    bsl_client *c = client_for("inproc://rpc-a,inproc://rpc-b");
    /* Both replicas get calls. */
    int seen_a = 0, seen_b = 0;
    for (int i = 0; i < 20; i++) {
        result r = get(c, "ok", "c-1", 0);
        assert_int_equal(r.code, BSL_STATUS_OK);
        seen_a += strcmp(r.id, "A") == 0;
        seen_b += strcmp(r.id, "B") == 0;
    }
    assert_true(seen_a > 0 && seen_b > 0);

    /* A slow call in flight on A when A starts draining: it still completes. */
    Boussole__V1__GetBilanRequest req = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    req.id = "slow";
    Boussole__V1__Caller caller = BOUSSOLE__V1__CALLER__INIT;
    caller.subject = "c-1";
    caller.role = BOUSSOLE__V1__ROLE__ROLE_COUNSELOR;
    bsl_call_opts o = { .caller = &caller };
    result slow[4];
    memset(slow, 0, sizeof(slow));
    for (int i = 0; i < 4; i++) {
        assert_int_equal(bsl_client_call(c, "boussole.v1.SessionService/GetBilan", &req.base, &o,
                                         on_reply, &slow[i]),
                         BSL_OK);
    }
    for (int i = 0; i < 20; i++) {
        ev_run(loop, EVRUN_NOWAIT); /* let them reach the servers */
        usleep(1000);
    }
    drained = false;
    bsl_server_drain(a.srv, 3000, on_drained, NULL);
    /* New calls meanwhile all succeed (A says "retry elsewhere", B serves). */
    for (int i = 0; i < 10; i++) {
        result r = get(c, "ok", "c-1", 0);
        assert_int_equal(r.code, BSL_STATUS_OK);
        assert_string_equal(r.id, "B");
    }
    for (int i = 0; i < 4; i++) {
        run_until(&slow[i], 5);
        assert_int_equal(slow[i].code, BSL_STATUS_OK);
    }
    ev_tstamp until = ev_time() + 5;
    while (!drained && ev_time() < until) {
        ev_run(loop, EVRUN_ONCE);
    }
    assert_true(drained);
    /* A is gone; B carries everything. */
    for (int i = 0; i < 5; i++) {
        result r = get(c, "ok", "c-1", 0);
        assert_int_equal(r.code, BSL_STATUS_OK);
        assert_string_equal(r.id, "B");
    }
    bsl_client_free(c);
    stop_server(&a);
    stop_server(&b);
}

int main(void)
{
    bsl_init();
    loop = EV_DEFAULT;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dispatch_and_metadata),
        cmocka_unit_test(deadlines),
        cmocka_unit_test(no_replica),
        cmocka_unit_test(answer_too_large),
        cmocka_unit_test(drain_and_failover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
