#include "benchlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bench_slot {
    struct bench *b;
    ev_tstamp start;
};

typedef struct bench {
    struct ev_loop *loop;
    bench_issue_fn issue;
    void *arg;
    bench_slot *slots;
    unsigned inflight, running;
    ev_tstamp measure_from, stop_at;
    bool stopping;
    double *lat;
    size_t n_lat, cap_lat;
    uint64_t errors;
    uint64_t seq;
} bench;

static void issue(bench_slot *s)
{
    bench *b = s->b;
    s->start = ev_time();
    b->issue(s, b->seq++, b->arg);
}

void bench_complete(bench_slot *s, bool ok)
{
    bench *b = s->b;
    ev_tstamp now = ev_time();
    if (s->start >= b->measure_from && now <= b->stop_at) {
        if (!ok) {
            b->errors++;
        }
        if (b->n_lat == b->cap_lat) {
            b->cap_lat = b->cap_lat ? b->cap_lat * 2 : 65536;
            b->lat = realloc(b->lat, b->cap_lat * sizeof(double));
            if (b->lat == NULL) {
                fprintf(stderr, "bench: out of memory\n");
                exit(1);
            }
        }
        b->lat[b->n_lat++] = (now - s->start) * 1e6;
    }
    if (now >= b->stop_at) {
        b->running--;
        if (b->running == 0) {
            ev_break(b->loop, EVBREAK_ONE);
        }
        return;
    }
    issue(s);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ONE); /* calls that never finish do not hang the bench */
}

bench_result bench_run(struct ev_loop *loop, unsigned inflight, double warm_s, double dur_s,
                       bench_issue_fn fn, void *arg)
{
    bench b;
    memset(&b, 0, sizeof(b));
    b.loop = loop;
    b.issue = fn;
    b.arg = arg;
    b.inflight = inflight;
    b.slots = calloc(inflight, sizeof(bench_slot));
    ev_now_update(loop);
    ev_tstamp t0 = ev_time();
    b.measure_from = t0 + warm_s;
    b.stop_at = b.measure_from + dur_s;
    b.running = inflight;
    ev_timer guard;
    ev_timer_init(&guard, on_guard, warm_s + dur_s + 10, 0.);
    ev_timer_start(loop, &guard);
    for (unsigned i = 0; i < inflight; i++) {
        b.slots[i].b = &b;
        issue(&b.slots[i]);
    }
    ev_run(loop, 0);
    ev_timer_stop(loop, &guard);
    bench_result r;
    memset(&r, 0, sizeof(r));
    r.n = b.n_lat;
    r.errors = b.errors;
    if (b.n_lat > 0) {
        qsort(b.lat, b.n_lat, sizeof(double), cmp_double);
        r.p50_us = b.lat[b.n_lat / 2];
        r.p99_us = b.lat[(size_t)((double)b.n_lat * 0.99)];
        r.max_us = b.lat[b.n_lat - 1];
        r.rps = (double)b.n_lat / dur_s;
    }
    free(b.lat);
    free(b.slots);
    return r;
}

typedef struct rpc_bench {
    bsl_client *c;
    const char *method;
    const ProtobufCMessage *req;
    const bsl_call_opts *opts;
} rpc_bench;

static void on_rpc_reply(const bsl_reply *reply, void *arg)
{
    bench_complete(arg, reply->code == BSL_STATUS_OK);
}

static void rpc_issue(bench_slot *slot, uint64_t seq, void *arg)
{
    (void)seq;
    rpc_bench *rb = arg;
    if (bsl_client_call(rb->c, rb->method, rb->req, rb->opts, on_rpc_reply, slot) != 0) {
        fprintf(stderr, "bench: cannot call %s\n", rb->method);
        exit(1);
    }
}

bench_result bench_rpc(bsl_client *c, struct ev_loop *loop, const char *method,
                       const ProtobufCMessage *req, const bsl_call_opts *opts, unsigned inflight,
                       double warm_s, double dur_s)
{
    rpc_bench rb = { c, method, req, opts };
    return bench_run(loop, inflight, warm_s, dur_s, rpc_issue, &rb);
}

void bench_print(const char *label, unsigned inflight, const bench_result *r)
{
    printf("RESULT label=%s N=%u rps=%.0f p50_us=%.1f p99_us=%.1f max_us=%.1f n=%llu errors=%llu\n",
           label, inflight, r->rps, r->p50_us, r->p99_us, r->max_us, (unsigned long long)r->n,
           (unsigned long long)r->errors);
    fflush(stdout);
}

double bench_env_seconds(const char *name, double def)
{
    const char *v = getenv(name);
    return v != NULL ? atof(v) : def;
}
