#include "rawload.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

enum { PHASE_WARM, PHASE_MEASURE, PHASE_STOP };

typedef struct raw_run raw_run;

/* One request in flight. Only its aio's callback touches it, one completion at a time. */
typedef struct raw_slot {
    raw_run *run;
    nng_ctx ctx;
    nng_aio *aio;
    bool sending;
    uint64_t t0;
    double *lat; /* latencies in µs of the measured calls */
    size_t n, cap;
    uint64_t errors;
} raw_slot;

struct raw_run {
    const uint8_t *req;
    size_t len;
    bench_raw_check_fn check;
    atomic_int phase;
    atomic_uint idle; /* slots stopped */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int rv)
{
    fprintf(stderr, "bench_raw: %s: %s\n", what, nng_strerror(rv));
    exit(1);
}

static void submit(raw_slot *s)
{
    nng_msg *m;
    int rv = nng_msg_alloc(&m, s->run->len);
    if (rv != 0) {
        die("nng_msg_alloc", rv);
    }
    memcpy(nng_msg_body(m), s->run->req, s->run->len);
    s->t0 = now_ns();
    s->sending = true;
    nng_aio_set_msg(s->aio, m);
    nng_ctx_send(s->ctx, s->aio);
}

static void record(raw_slot *s, bool ok)
{
    if (atomic_load(&s->run->phase) != PHASE_MEASURE) {
        return;
    }
    if (!ok) {
        s->errors++;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16384;
        s->lat = realloc(s->lat, s->cap * sizeof(double));
        if (s->lat == NULL) {
            fprintf(stderr, "bench_raw: out of memory\n");
            exit(1);
        }
    }
    s->lat[s->n++] = (double)(now_ns() - s->t0) / 1e3;
}

static void on_aio(void *arg)
{
    raw_slot *s = arg;
    int rv = nng_aio_result(s->aio);
    if (s->sending) {
        s->sending = false;
        if (rv == 0) {
            nng_ctx_recv(s->ctx, s->aio);
            return;
        }
        nng_msg_free(nng_aio_get_msg(s->aio)); /* not sent: still ours */
        record(s, false);
    } else if (rv == 0) {
        nng_msg *m = nng_aio_get_msg(s->aio);
        record(s, s->run->check(nng_msg_body(m), nng_msg_len(m)));
        nng_msg_free(m);
    } else {
        record(s, false);
    }
    if (atomic_load(&s->run->phase) == PHASE_STOP) {
        atomic_fetch_add(&s->run->idle, 1);
        return;
    }
    submit(s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0) {
    }
}

bench_result bench_raw(const char *url, const uint8_t *req, size_t len, unsigned inflight,
                       double warm_s, double dur_s, bench_raw_check_fn check)
{
    raw_run run = { .req = req, .len = len, .check = check };
    atomic_init(&run.phase, PHASE_WARM);
    atomic_init(&run.idle, 0);
    nng_socket sock;
    int rv;
    if ((rv = nng_req0_open(&sock)) != 0) {
        die("nng_req0_open", rv);
    }
    /* No resend: a reply that does not come is an error, as in the anchors. */
    nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    if ((rv = nng_dial(sock, url, NULL, 0)) != 0) {
        die("nng_dial", rv);
    }
    raw_slot *slots = calloc(inflight, sizeof(raw_slot));
    if (slots == NULL) {
        fprintf(stderr, "bench_raw: out of memory\n");
        exit(1);
    }
    for (unsigned i = 0; i < inflight; i++) {
        slots[i].run = &run;
        if ((rv = nng_ctx_open(&slots[i].ctx, sock)) != 0 ||
            (rv = nng_aio_alloc(&slots[i].aio, on_aio, &slots[i])) != 0) {
            die("nng_ctx_open/nng_aio_alloc", rv);
        }
        /* A call that never ends (a server that died) fails instead of stalling its slot. */
        nng_aio_set_timeout(slots[i].aio, 10000);
    }
    for (unsigned i = 0; i < inflight; i++) {
        submit(&slots[i]);
    }
    sleep_s(warm_s);
    atomic_store(&run.phase, PHASE_MEASURE);
    uint64_t t0 = now_ns();
    sleep_s(dur_s);
    atomic_store(&run.phase, PHASE_STOP);
    double measured = (double)(now_ns() - t0) / 1e9;
    for (int i = 0; i < 2000 && atomic_load(&run.idle) < inflight; i++) {
        sleep_s(0.005);
    }
    for (unsigned i = 0; i < inflight; i++) {
        nng_aio_stop(slots[i].aio);
    }
    bench_result r;
    memset(&r, 0, sizeof(r));
    size_t total = 0;
    for (unsigned i = 0; i < inflight; i++) {
        total += slots[i].n;
        r.errors += slots[i].errors;
    }
    double *all = malloc((total ? total : 1) * sizeof(double));
    size_t k = 0;
    for (unsigned i = 0; i < inflight; i++) {
        memcpy(all + k, slots[i].lat, slots[i].n * sizeof(double));
        k += slots[i].n;
        free(slots[i].lat);
        nng_aio_free(slots[i].aio);
        nng_ctx_close(slots[i].ctx);
    }
    nng_close(sock);
    free(slots);
    r.n = total;
    if (total > 0) {
        qsort(all, total, sizeof(double), cmp_double);
        r.p50_us = all[total / 2];
        r.p99_us = all[(size_t)((double)total * 0.99)];
        r.max_us = all[total - 1];
        r.rps = (double)total / measured;
    }
    free(all);
    return r;
}
