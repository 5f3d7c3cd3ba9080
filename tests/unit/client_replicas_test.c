/*
 * How the client chooses among replicas when one of them cannot take calls, against fake
 * replicas over TCP on the loopback:
 *  - a replica whose connection stopped taking requests (a peer that no longer reads, or a
 *    connection that dropped before nng reported it) loses the requests queued behind it to
 *    another replica, long before their deadline;
 *  - a replica that answers "retry elsewhere" (a draining one) gets no new calls, until it
 *    connects again.
 * The fakes: an nng REP socket answering every request (OK, or UNAVAILABLE with
 * retry_elsewhere), and a bare TCP listener that completes the SP handshake and never reads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "boussole/client.h"
#include "boussole/err.h"
#include "boussole/schema.h"
#include "boussole/service.h"

static struct ev_loop *loop;

/* ---- a replica that answers ----------------------------------------------------------- */

typedef struct fake_rep {
    nng_socket sock;
    nng_listener listener;
    nng_aio *aio;
    bool retry_elsewhere; /* answer as a draining replica does */
    bool sending;         /* nng's thread only */
    _Atomic int requests;
    int port;
} fake_rep;

static void fake_rep_cb(void *arg)
{
    fake_rep *f = arg;
    if (nng_aio_result(f->aio) != 0) {
        if (f->sending) {
            nng_msg_free(nng_aio_get_msg(f->aio));
        }
        return; /* closed */
    }
    if (f->sending) {
        f->sending = false;
        nng_recv_aio(f->sock, f->aio);
        return;
    }
    nng_msg *in = nng_aio_get_msg(f->aio);
    Boussole__V1__RpcRequest *req =
        boussole__v1__rpc_request__unpack(NULL, nng_msg_len(in), nng_msg_body(in));
    nng_msg_free(in);
    atomic_fetch_add(&f->requests, 1);
    Boussole__V1__RpcResponse resp = BOUSSOLE__V1__RPC_RESPONSE__INIT;
    resp.request_id = req != NULL ? req->request_id : "";
    if (f->retry_elsewhere) {
        resp.code = BOUSSOLE__V1__CODE__CODE_UNAVAILABLE;
        resp.message = "this replica is shutting down";
        resp.retry_elsewhere = true;
    }
    nng_msg *out;
    if (nng_msg_alloc(&out, boussole__v1__rpc_response__get_packed_size(&resp)) != 0) {
        abort();
    }
    boussole__v1__rpc_response__pack(&resp, nng_msg_body(out));
    boussole__v1__rpc_request__free_unpacked(req, NULL);
    f->sending = true;
    nng_aio_set_msg(f->aio, out);
    nng_send_aio(f->sock, f->aio);
}

/* port 0: any free port */
static void fake_rep_start(fake_rep *f, int port, bool retry_elsewhere)
{
    memset(f, 0, sizeof(*f));
    f->retry_elsewhere = retry_elsewhere;
    assert_int_equal(nng_rep0_open(&f->sock), 0);
    nng_socket_set_size(f->sock, NNG_OPT_RECVMAXSZ, 0); /* any size */
    char url[64];
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    int rv = -1;
    for (int i = 0; i < 100 && rv != 0; i++) { /* the port of a closed one may linger */
        if ((rv = nng_listen(f->sock, url, &f->listener, 0)) != 0) {
            usleep(20000);
        }
    }
    assert_int_equal(rv, 0);
    assert_int_equal(nng_listener_get_int(f->listener, NNG_OPT_TCP_BOUND_PORT, &f->port), 0);
    assert_int_equal(nng_aio_alloc(&f->aio, fake_rep_cb, f), 0);
    nng_recv_aio(f->sock, f->aio);
}

static void fake_rep_stop(fake_rep *f)
{
    nng_aio_stop(f->aio);
    nng_close(f->sock);
    nng_aio_free(f->aio);
}

/* ---- a replica that takes no request ---------------------------------------------------- */

typedef struct stalled {
    int lfd;
    int port;
    int conns[16];
    int n_conns;
    _Atomic bool stop;
    pthread_t thread;
} stalled;

/* Accepts, answers the SP handshake as a REP0 peer, then never reads. */
static void *stalled_main(void *arg)
{
    stalled *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = { .fd = s->lfd, .events = POLLIN };
        if (poll(&p, 1, 20) <= 0) {
            continue;
        }
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        unsigned char hdr[8];
        size_t got = 0;
        while (got < sizeof(hdr)) {
            ssize_t n = read(fd, hdr + got, sizeof(hdr) - got);
            if (n <= 0) {
                break;
            }
            got += (size_t)n;
        }
        static const unsigned char rep0[8] = { 0, 'S', 'P', 0, 0, 0x31, 0, 0 };
        if (got != sizeof(hdr) || write(fd, rep0, sizeof(rep0)) != (ssize_t)sizeof(rep0) ||
            s->n_conns == 16) {
            close(fd);
            continue;
        }
        s->conns[s->n_conns++] = fd;
    }
    return NULL;
}

static void stalled_start(stalled *s)
{
    memset(s, 0, sizeof(*s));
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->lfd >= 0);
    /* A small receive buffer (inherited by the accepted socket): a large request fills the
     * window at once and the sender's connection stays busy with it. */
    int small = 4096;
    setsockopt(s->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(s->lfd, 8), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, stalled_main, s), 0);
}

static void stalled_stop(stalled *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    for (int i = 0; i < s->n_conns; i++) {
        close(s->conns[i]);
    }
    close(s->lfd);
}

/* ---- the client ------------------------------------------------------------------------ */

typedef struct outcome {
    int done, ok, deadline, other;
    char replicas[16][160];
} outcome;

static void on_reply(const bsl_reply *reply, void *arg)
{
    outcome *o = arg;
    if (o->done < 16) {
        snprintf(o->replicas[o->done], sizeof(o->replicas[0]), "%s", reply->replica);
    }
    o->done++;
    if (reply->code == BSL_STATUS_OK) {
        o->ok++;
    } else if (reply->code == BSL_STATUS_DEADLINE_EXCEEDED) {
        o->deadline++;
    } else {
        o->other++;
    }
    if (reply->code != BSL_STATUS_OK) {
        printf("call failed: %d %s (%s, %u sends)\n", reply->code, reply->message, reply->replica,
               reply->attempts);
    }
}

/* Larger than any send buffer the kernel may give the client's connection (tcp_wmem's
 * maximum), so that a connection whose peer does not read stays busy with it. */
static size_t big_request_bytes(void)
{
    size_t wmem_max = 4u << 20;
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
    if (f != NULL) {
        unsigned long lo, def, hi;
        if (fscanf(f, "%lu %lu %lu", &lo, &def, &hi) == 3 && hi < (64ul << 20)) {
            wmem_max = hi;
        }
        fclose(f);
    }
    return wmem_max + (2u << 20);
}

static bsl_client *client_for(int port_a, int port_b)
{
    char target[128];
    snprintf(target, sizeof(target), "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d", port_a, port_b);
    bsl_client_options o = { .target = target,
                             .name = "t",
                             .max_message_bytes = big_request_bytes() + (64u << 10),
                             .default_deadline_ms = 4000 };
    bsl_client *c;
    char err[256];
    assert_int_equal(bsl_client_create(&c, loop, &o, err, sizeof(err)), BSL_OK);
    ev_tstamp until = ev_time() + 5;
    unsigned known = 0, connected = 0;
    while (ev_time() < until) {
        bsl_client_replicas(c, &known, &connected);
        if (connected == 2) {
            break;
        }
        ev_run(loop, EVRUN_NOWAIT);
        usleep(1000);
    }
    assert_int_equal(connected, 2);
    return c;
}

static const bsl_method_info *health(void)
{
    static const char name[] = "boussole.v1.Health/Check";
    return bsl_schema_method(name, sizeof(name) - 1);
}

static void run_until_done(outcome *o, int n, double max_s)
{
    ev_tstamp until = ev_time() + max_s;
    while (o->done < n && ev_time() < until) {
        ev_run(loop, EVRUN_ONCE);
    }
}

/* One call at a time: each goes where the client chooses with nothing else in flight. */
static void sequential_calls(bsl_client *c, int n)
{
    for (int i = 0; i < n; i++) {
        outcome o;
        memset(&o, 0, sizeof(o));
        assert_int_equal(bsl_client_call_raw(c, health(), NULL, 0, NULL, on_reply, &o), BSL_OK);
        run_until_done(&o, 1, 5);
        assert_int_equal(o.ok, 1);
    }
}

/* ---- tests ------------------------------------------------------------------------------ */

static void stalled_replica_loses_its_queue(void **state)
{
    (void)state;
    stalled s;
    fake_rep good;
    stalled_start(&s);
    fake_rep_start(&good, 0, false);
    bsl_client *c = client_for(s.port, good.port);

    /* Six large requests at once: three go to each replica. The first one the stalled
     * replica's connection takes never finishes; the two queued behind it must go to the other
     * replica well before their 4 s deadline. */
    size_t len = big_request_bytes();
    uint8_t *payload = calloc(1, len);
    assert_non_null(payload);
    outcome o;
    memset(&o, 0, sizeof(o));
    ev_tstamp t0 = ev_time();
    for (int i = 0; i < 6; i++) {
        assert_int_equal(bsl_client_call_raw(c, health(), payload, len, NULL, on_reply, &o),
                         BSL_OK);
    }
    run_until_done(&o, 5, 10);
    double five_s = ev_time() - t0;
    run_until_done(&o, 6, 10);
    printf("6 calls of %zu bytes: %d ok, %d past their deadline, %d other; five done in %.2f s\n",
           len, o.ok, o.deadline, o.other, five_s);
    assert_int_equal(o.done, 6);
    /* Only the request the stalled connection took is lost (no replica may run it twice
     * unasked); every other one was answered by the good replica. */
    assert_int_equal(o.ok, 5);
    assert_int_equal(o.deadline, 1);
    assert_int_equal(atomic_load(&good.requests), 5);
    assert_true(five_s < 3.0); /* moved, not answered at the deadline (4 s) */

    /* From then on the stalled replica gets no call while the other can take it. */
    sequential_calls(c, 10);
    assert_int_equal(atomic_load(&good.requests), 15);

    free(payload);
    bsl_client_free(c);
    stalled_stop(&s);
    fake_rep_stop(&good);
}

static void draining_replica_gets_no_new_calls(void **state)
{
    (void)state;
    fake_rep draining, good;
    fake_rep_start(&draining, 0, true);
    fake_rep_start(&good, 0, false);
    bsl_client *c = client_for(draining.port, good.port);

    /* Round-robin would send half of these to the draining replica; it sees one at most (the
     * call that told the client), and every call succeeds. */
    sequential_calls(c, 40);
    int seen = atomic_load(&draining.requests);
    printf("the draining replica saw %d of 40 calls\n", seen);
    assert_true(seen <= 1);
    assert_int_equal(atomic_load(&good.requests), 40);

    /* A new process at the same address (a restart): once connected again, it gets its share
     * again. */
    int port = draining.port;
    fake_rep_stop(&draining);
    fake_rep back;
    fake_rep_start(&back, port, false);
    ev_tstamp until = ev_time() + 10;
    int got = 0;
    while (got == 0 && ev_time() < until) {
        sequential_calls(c, 1);
        got = atomic_load(&back.requests);
    }
    assert_true(got > 0);
    sequential_calls(c, 20);
    printf("after its restart: %d of the next 20 calls\n", atomic_load(&back.requests) - got);
    assert_true(atomic_load(&back.requests) - got >= 5);

    bsl_client_free(c);
    fake_rep_stop(&back);
    fake_rep_stop(&good);
}

int main(void)
{
    bsl_init();
    loop = ev_default_loop(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stalled_replica_loses_its_queue),
        cmocka_unit_test(draining_replica_gets_no_new_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
