#include "boussole/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/status.h"

#define MAX_METHODS  256
#define MAX_COUNTERS 64

/* Upper bounds in seconds: from 100 µs (a no-op call) to 10 s (the longest deadline). */
static const double buckets[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10 };
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

typedef struct {
    char *name;
    _Atomic uint64_t codes[BSL_STATUS_COUNT];
    _Atomic uint64_t bucket[N_BUCKETS]; /* non-cumulative; summed when rendering */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
} method_stats;

struct bsl_counter {
    char *name;
    char *help;
    _Atomic uint64_t value;
};

struct bsl_metrics {
    char *service;
    char *family;
    method_stats methods[MAX_METHODS];
    size_t n_methods;
    bsl_counter counters[MAX_COUNTERS];
    size_t n_counters;
    _Atomic int64_t in_flight;
};

int bsl_metrics_create(bsl_metrics **out, const char *service, const char *family)
{
    bsl_metrics *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->service = strdup(service)) == NULL ||
        (m->family = strdup(family)) == NULL) {
        bsl_metrics_free(m);
        return BSL_ENOMEM;
    }
    *out = m;
    return BSL_OK;
}

void bsl_metrics_free(bsl_metrics *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->n_methods; i++) {
        free(m->methods[i].name);
    }
    for (size_t i = 0; i < m->n_counters; i++) {
        free(m->counters[i].name);
        free(m->counters[i].help);
    }
    free(m->service);
    free(m->family);
    free(m);
}

int bsl_metrics_add_method(bsl_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n_methods; i++) {
        if (strcmp(m->methods[i].name, name) == 0) {
            return (int)i;
        }
    }
    if (m->n_methods == MAX_METHODS || (m->methods[m->n_methods].name = strdup(name)) == NULL) {
        return -1;
    }
    return (int)m->n_methods++;
}

void bsl_metrics_observe(bsl_metrics *m, int id, int code, double seconds)
{
    if (m == NULL || id < 0 || (size_t)id >= m->n_methods || !bsl_status_valid(code)) {
        return;
    }
    method_stats *s = &m->methods[id];
    atomic_fetch_add_explicit(&s->codes[code], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < N_BUCKETS && seconds > buckets[b]) {
        b++;
    }
    if (b < N_BUCKETS) {
        atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_ns, (uint64_t)(seconds * 1e9), memory_order_relaxed);
}

void bsl_metrics_in_flight(bsl_metrics *m, int delta)
{
    if (m != NULL) {
        atomic_fetch_add_explicit(&m->in_flight, delta, memory_order_relaxed);
    }
}

uint64_t bsl_metrics_count(const bsl_metrics *m, int id, int code)
{
    if (id < 0 || (size_t)id >= m->n_methods || !bsl_status_valid(code)) {
        return 0;
    }
    return atomic_load_explicit(&m->methods[id].codes[code], memory_order_relaxed);
}

bsl_counter *bsl_metrics_counter(bsl_metrics *m, const char *name, const char *help)
{
    for (size_t i = 0; i < m->n_counters; i++) {
        if (strcmp(m->counters[i].name, name) == 0) {
            return &m->counters[i];
        }
    }
    if (m->n_counters == MAX_COUNTERS) {
        return NULL;
    }
    bsl_counter *c = &m->counters[m->n_counters];
    c->name = strdup(name);
    c->help = strdup(help);
    if (c->name == NULL || c->help == NULL) {
        free(c->name);
        free(c->help);
        return NULL;
    }
    m->n_counters++;
    return c;
}

void bsl_counter_add(bsl_counter *c, uint64_t n)
{
    if (c != NULL) {
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
    }
}

uint64_t bsl_counter_get(const bsl_counter *c)
{
    return c ? atomic_load_explicit(&c->value, memory_order_relaxed) : 0;
}

typedef struct {
    char *buf;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->failed) {
        return;
    }
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap * 2 + (size_t)n;
        char *nb = realloc(b->buf, ncap);
        if (nb == NULL) {
            b->failed = 1;
            return;
        }
        b->buf = nb;
        b->cap = ncap;
    }
}

char *bsl_metrics_render(const bsl_metrics *m, size_t *len)
{
    sbuf b = { .cap = 8192 };
    b.buf = malloc(b.cap);
    if (b.buf == NULL) {
        return NULL;
    }
    const char *f = m->family;
    sb_printf(&b, "# HELP %s_requests_total Requests by method and status code.\n", f);
    sb_printf(&b, "# TYPE %s_requests_total counter\n", f);
    for (size_t i = 0; i < m->n_methods; i++) {
        for (int c = 0; c < BSL_STATUS_COUNT; c++) {
            uint64_t v = atomic_load_explicit(&m->methods[i].codes[c], memory_order_relaxed);
            if (v != 0) {
                sb_printf(&b, "%s_requests_total{service=\"%s\",method=\"%s\",code=\"%s\"} %llu\n",
                          f, m->service, m->methods[i].name, bsl_status_name(c),
                          (unsigned long long)v);
            }
        }
    }
    sb_printf(&b, "# HELP %s_request_duration_seconds Request latency by method.\n", f);
    sb_printf(&b, "# TYPE %s_request_duration_seconds histogram\n", f);
    for (size_t i = 0; i < m->n_methods; i++) {
        const method_stats *s = &m->methods[i];
        uint64_t count = atomic_load_explicit(&s->count, memory_order_relaxed);
        if (count == 0) {
            continue;
        }
        uint64_t cum = 0;
        for (size_t k = 0; k < N_BUCKETS; k++) {
            cum += atomic_load_explicit(&s->bucket[k], memory_order_relaxed);
            sb_printf(&b,
                      "%s_request_duration_seconds_bucket{service=\"%s\",method=\"%s\",le=\"%g\"} "
                      "%llu\n",
                      f, m->service, s->name, buckets[k], (unsigned long long)cum);
        }
        sb_printf(&b,
                  "%s_request_duration_seconds_bucket{service=\"%s\",method=\"%s\",le=\"+Inf\"} "
                  "%llu\n",
                  f, m->service, s->name, (unsigned long long)count);
        sb_printf(&b, "%s_request_duration_seconds_sum{service=\"%s\",method=\"%s\"} %.6f\n", f,
                  m->service, s->name,
                  (double)atomic_load_explicit(&s->sum_ns, memory_order_relaxed) / 1e9);
        sb_printf(&b, "%s_request_duration_seconds_count{service=\"%s\",method=\"%s\"} %llu\n", f,
                  m->service, s->name, (unsigned long long)count);
    }
    sb_printf(&b, "# HELP %s_requests_in_flight Requests being served.\n", f);
    sb_printf(&b, "# TYPE %s_requests_in_flight gauge\n", f);
    sb_printf(&b, "%s_requests_in_flight{service=\"%s\"} %lld\n", f, m->service,
              (long long)atomic_load_explicit(&m->in_flight, memory_order_relaxed));
    for (size_t i = 0; i < m->n_counters; i++) {
        const bsl_counter *c = &m->counters[i];
        sb_printf(&b, "# HELP %s %s\n# TYPE %s counter\n%s{service=\"%s\"} %llu\n", c->name,
                  c->help, c->name, c->name, m->service,
                  (unsigned long long)atomic_load_explicit(&c->value, memory_order_relaxed));
    }
    if (b.failed) {
        free(b.buf);
        return NULL;
    }
    if (len != NULL) {
        *len = b.len;
    }
    return b.buf;
}
