/*
 * The RPC client. See boussole/client.h for the topology and the retry rules.
 *
 * Threads: the resolver thread re-resolves host names; nng's threads complete the aios and,
 * for a call whose request has been sent, post the receive themselves (so a call costs one
 * hand-over to the loop, not two). Everything else is on the loop.
 */
#include "boussole/client.h"

#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "boussole/arena.h"
#include "boussole/err.h"
#include "boussole/evnng.h"
#include "boussole/sched.h"
#include "boussole/fastid.h"
#include "boussole/id.h"

#include <sodium.h>

#define MAX_TARGETS       16
#define EJECT_AFTER       3   /* deadlines in a row on one replica */
#define PROBE_INTERVAL_S  1.0 /* health checks of a replica set aside */
#define PROBE_DEADLINE_MS 500
/* A request that no connection of its replica has taken after this long never went out: it
 * goes to another replica. On a healthy connection nng takes it within microseconds; one that
 * waits is behind a connection that dropped before nng told us (its removal events run later,
 * on nng's reaper thread) or a peer that stopped reading. */
#define SEND_STALL_S 0.5
#define SWEEP_S      0.25

typedef struct bsl_client_call ccall;
typedef struct replica replica;

typedef struct target {
    char scheme[16];
    char host[256];
    char port[8];
    char url[320];
    bool resolve; /* a host name, re-resolved */
} target;

typedef enum { PHASE_SEND, PHASE_RECV } attempt_phase;

/* One REQ context and its aio, carrying one send of one call; reused. */
typedef struct attempt {
    struct attempt *next; /* free list, or the replica's list of all */
    struct attempt *next_all;
    replica *rep;
    nng_ctx ctx;
    nng_aio *aio;
    bsl_evnng_task task;
    _Atomic attempt_phase phase; /* PHASE_RECV once nng took the request (nng's thread) */
    ev_tstamp sent_at;
    int result;
    _Atomic int posted;
    _Atomic int cancelled;
    ccall *call; /* NULL when the call no longer waits for this send */
    bool busy;
} attempt;

struct replica {
    replica *next;
    bsl_client *c;
    char url[320];
    int target; /* index of the target it came from */
    nng_socket sock;
    nng_dialer dialer;
    _Atomic int pipes_now;     /* written by nng's threads */
    _Atomic unsigned pipe_ups; /* connections made, ever (nng's threads) */
    unsigned ups_seen;         /* as the loop last saw it */
    _Atomic int pipe_posted;
    bsl_evnng_task pipe_task;
    int pipes; /* as the loop last saw it; connected when > 0 (see on_pipe) */
    unsigned in_flight;
    unsigned timeouts;
    bool ejected;
    bool stalled;  /* a request waited for its connection: see SEND_STALL_S */
    bool draining; /* answered "retry elsewhere": new calls go to the others */
    bool probing;
    bool removed;
    bool seen;           /* in the latest resolution */
    _Atomic int closing; /* detached: its socket's callbacks post nothing */
    _Atomic int closed;  /* its socket closed (replica_close_async's thread) */
    pthread_t closer;
    ev_timer probe_timer;
    attempt *all;
    attempt *free;
};

struct bsl_client_call {
    ccall *prev, *next;
    bsl_client *c;
    bsl_arena *arena;
    const bsl_method_info *m;
    bool typed;
    Boussole__V1__RpcRequest req;
    Boussole__V1__Metadata md;
    Boussole__V1__Caller caller;
    ev_tstamp deadline_at;
    ev_timer timer;
    attempt *att;
    replica *last_rep;
    replica *forced; /* a probe: this replica only */
    unsigned attempts;
    bool waiting;
    bool sent; /* at least one send went out */
    bsl_client_cb cb;
    void *arg;
};

typedef struct resolver {
    pthread_t thread;
    bool running;
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    bool stop;
    char *results[MAX_TARGETS]; /* "url\nurl\n", NULL when nothing new */
    bsl_evnng_task task;
    _Atomic int posted;
} resolver;

struct bsl_client {
    struct ev_loop *loop;
    bsl_client_options o;
    char name[64];
    target targets[MAX_TARGETS];
    size_t n_targets;
    replica *replicas;
    replica *closing_reps; /* removed replicas whose socket a thread is closing */
    ccall *calls;
    unsigned rr;
    bsl_evnng *bridge;
    nng_tls_config *tls[MAX_TARGETS];
    resolver res;
    ev_timer sweep; /* runs while calls are pending: requests that no connection took */
    bool closing;
    bsl_fastid ids; /* request ids, trace ids and generated idempotency keys */
};

static void dispatch(ccall *k);
static void finish(ccall *k, bsl_status code, const char *message,
                   const Boussole__V1__RpcResponse *env, const char *replica_url);
static void replica_close_async(bsl_client *c, replica *r);
static void replicas_reap(bsl_client *c, bool wait);
static void probe_stop(bsl_client *c, replica *r);

/* ---- targets and resolution --------------------------------------------------------- */

static int parse_target(target *t, const char *url, size_t len)
{
    if (len == 0 || len >= sizeof(t->url)) {
        return BSL_EINVAL;
    }
    memcpy(t->url, url, len);
    t->url[len] = '\0';
    const char *sep = strstr(t->url, "://");
    if (sep == NULL || (size_t)(sep - t->url) >= sizeof(t->scheme)) {
        return BSL_EINVAL;
    }
    memcpy(t->scheme, t->url, (size_t)(sep - t->url));
    t->scheme[sep - t->url] = '\0';
    if (strcmp(t->scheme, "tcp") != 0 && strcmp(t->scheme, "tls+tcp") != 0) {
        if (strcmp(t->scheme, "ipc") != 0 && strcmp(t->scheme, "inproc") != 0) {
            return BSL_EINVAL;
        }
        t->resolve = false;
        return BSL_OK;
    }
    const char *hp = sep + 3;
    const char *colon = strrchr(hp, ':');
    if (colon == NULL || colon == hp || strlen(colon + 1) == 0 ||
        strlen(colon + 1) >= sizeof(t->port) || (size_t)(colon - hp) >= sizeof(t->host)) {
        return BSL_EINVAL;
    }
    memcpy(t->host, hp, (size_t)(colon - hp));
    t->host[colon - hp] = '\0';
    snprintf(t->port, sizeof(t->port), "%s", colon + 1);
    struct in_addr a4;
    struct in6_addr a6;
    char bare[256];
    snprintf(bare, sizeof(bare), "%s", t->host);
    if (bare[0] == '[') {
        size_t n = strlen(bare);
        if (n < 3 || bare[n - 1] != ']') {
            return BSL_EINVAL;
        }
        memmove(bare, bare + 1, n - 2);
        bare[n - 2] = '\0';
    }
    t->resolve = !(inet_pton(AF_INET, bare, &a4) == 1 || inet_pton(AF_INET6, bare, &a6) == 1);
    return BSL_OK;
}

/* The replica URLs a target stands for now: one per address of its host. NULL on failure (a
 * transient DNS failure keeps the replicas already known). */
static char *resolve_target(const target *t)
{
    if (!t->resolve) {
        size_t n = strlen(t->url);
        char *s = malloc(n + 2);
        if (s != NULL) {
            memcpy(s, t->url, n);
            s[n] = '\n';
            s[n + 1] = '\0';
        }
        return s;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(t->host, t->port, &hints, &res) != 0 || res == NULL) {
        return NULL;
    }
    size_t cap = 512, len = 0;
    char *s = malloc(cap);
    for (struct addrinfo *ai = res; s != NULL && ai != NULL; ai = ai->ai_next) {
        char ip[INET6_ADDRSTRLEN], line[400];
        int n;
        if (ai->ai_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, ip, sizeof(ip));
            n = snprintf(line, sizeof(line), "%s://%s:%s\n", t->scheme, ip, t->port);
        } else if (ai->ai_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, ip, sizeof(ip));
            n = snprintf(line, sizeof(line), "%s://[%s]:%s\n", t->scheme, ip, t->port);
        } else {
            continue;
        }
        if (strstr(s, line) != NULL && len > 0) {
            continue; /* getaddrinfo repeats addresses per protocol */
        }
        if (len + (size_t)n + 1 > cap) {
            cap = (cap + (size_t)n) * 2;
            char *ns = realloc(s, cap);
            if (ns == NULL) {
                free(s);
                s = NULL;
                break;
            }
            s = ns;
        }
        memcpy(s + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    freeaddrinfo(res);
    if (s != NULL && len == 0) {
        free(s);
        s = NULL;
    }
    return s;
}

/* ---- replicas ----------------------------------------------------------------------- */

/* The call no longer waits for its current send, if any: the attempt's operation is cancelled
 * and the attempt goes back to its replica's free list when nng reports the end. */
static void detach_attempt(ccall *k)
{
    attempt *a = k->att;
    if (a != NULL) {
        a->call = NULL;
        k->att = NULL;
        atomic_store(&a->cancelled, 1);
        nng_aio_cancel(a->aio);
    }
}

/*
 * nng's threads. Counted from ADD_PRE, not ADD_POST: nng 1.5.2 runs REM_POST for every pipe
 * that had ADD_PRE, including one closed before ADD_POST, so only that pair always matches.
 * The two callbacks may still run in either order (REM_POST on the reaper thread can overtake
 * ADD_PRE), so the count may dip below zero for a moment: connected means > 0. A pipe counted
 * before nng starts it only delays a request by that moment.
 */
static void on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    replica *r = arg;
    if (atomic_load(&r->closing)) {
        return;
    }
    if (ev == NNG_PIPE_EV_ADD_PRE) {
        atomic_fetch_add(&r->pipe_ups, 1);
    }
    atomic_fetch_add(&r->pipes_now, ev == NNG_PIPE_EV_ADD_PRE ? 1 : -1);
    if (!atomic_exchange(&r->pipe_posted, 1)) {
        bsl_evnng_post(r->c->bridge, &r->pipe_task);
    }
}

static void on_pipe_task(void *arg)
{
    replica *r = arg;
    bsl_client *c = r->c;
    atomic_store(&r->pipe_posted, 0);
    if (atomic_load(&r->closing)) {
        return; /* posted just before the replica was detached */
    }
    int before = r->pipes;
    unsigned ups = atomic_load(&r->pipe_ups);
    r->pipes = atomic_load(&r->pipes_now);
    if (ups != r->ups_seen) {
        /* A new connection (perhaps a drop and a reconnection seen at once): whatever held
         * this replica back went with the old one. */
        r->ups_seen = ups;
        r->stalled = false;
        r->draining = false;
    }
    if (before > 0 && r->pipes <= 0) {
        /* The connection dropped: what it carried goes to another replica. */
        bsl_log(c->o.log, BSL_LOG_WARN, NULL, NULL, "%s: lost replica %s", c->name, r->url);
        for (ccall *k = c->calls; k != NULL;) {
            ccall *next = k->next;
            if (k->att != NULL && k->att->rep == r) {
                detach_attempt(k);
                k->last_rep = r;
                if (k->forced == r) {
                    finish(k, BSL_STATUS_UNAVAILABLE, "replica went away", NULL, r->url);
                } else {
                    dispatch(k);
                }
            }
            k = next;
        }
    }
    if (r->pipes > 0 && before <= 0) {
        for (ccall *k = c->calls; k != NULL;) {
            ccall *next = k->next;
            if (k->waiting) {
                dispatch(k);
            }
            k = next;
        }
    }
}

static replica *replica_open(bsl_client *c, int ti, const char *url)
{
    replica *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->c = c;
    r->target = ti;
    snprintf(r->url, sizeof(r->url), "%s", url);
    r->pipe_task.fn = on_pipe_task;
    r->pipe_task.arg = r;
    ev_timer_init(&r->probe_timer, NULL, 0., 0.);
    int rv;
    if ((rv = nng_req0_open(&r->sock)) != 0) {
        free(r);
        return NULL;
    }
    /* Resends are ours to decide (another replica, the same idempotency key), not nng's
     * timer's. */
    nng_socket_set_ms(r->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, BSL_RESPONSE_MAX_BYTES);
    nng_pipe_notify(r->sock, NNG_PIPE_EV_ADD_PRE, on_pipe, r);
    nng_pipe_notify(r->sock, NNG_PIPE_EV_REM_POST, on_pipe, r);
    if ((rv = nng_dialer_create(&r->dialer, r->sock, url)) != 0) {
        bsl_log(c->o.log, BSL_LOG_ERROR, NULL, NULL, "%s: cannot dial %s: %s", c->name, url,
                nng_strerror(rv));
        nng_close(r->sock);
        free(r);
        return NULL;
    }
    nng_dialer_set_ms(r->dialer, NNG_OPT_RECONNMINT, 20);
    nng_dialer_set_ms(r->dialer, NNG_OPT_RECONNMAXT, 1000);
    if (c->tls[ti] != NULL) {
        nng_dialer_set_ptr(r->dialer, NNG_OPT_TLS_CONFIG, c->tls[ti]);
    }
    if (strncmp(url, "tcp://", 6) == 0) {
        nng_dialer_set_bool(r->dialer, NNG_OPT_TCP_NODELAY, true);
    }
    nng_dialer_start(r->dialer, NNG_FLAG_NONBLOCK);
    r->next = c->replicas;
    c->replicas = r;
    bsl_log(c->o.log, BSL_LOG_INFO, NULL, NULL, "%s: replica %s added", c->name, url);
    return r;
}

static void apply_resolution(bsl_client *c, int ti, char *urls)
{
    for (replica *r = c->replicas; r != NULL; r = r->next) {
        if (r->target == ti) {
            r->seen = false;
        }
    }
    for (char *line = urls; *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl == NULL) {
            break;
        }
        *nl = '\0';
        replica *found = NULL;
        for (replica *r = c->replicas; r != NULL && found == NULL; r = r->next) {
            if (r->target == ti && strcmp(r->url, line) == 0 && !r->removed) {
                found = r;
            }
        }
        if (found == NULL) {
            found = replica_open(c, ti, line);
        }
        if (found != NULL) {
            found->seen = true;
        }
        line = nl + 1;
    }
    for (replica *r = c->replicas; r != NULL;) {
        replica *next = r->next;
        if (r->target == ti && !r->seen && !r->removed) {
            /* Gone from DNS (scaled down): no new calls; closed once idle. */
            r->removed = true;
            bsl_log(c->o.log, BSL_LOG_INFO, NULL, NULL, "%s: replica %s removed", c->name, r->url);
            if (r->in_flight == 0) {
                replica_close_async(c, r);
            }
        }
        r = next;
    }
}

static void on_resolved(void *arg)
{
    bsl_client *c = arg;
    atomic_store(&c->res.posted, 0);
    replicas_reap(c, false);
    char *results[MAX_TARGETS];
    pthread_mutex_lock(&c->res.mtx);
    memcpy(results, c->res.results, sizeof(results));
    memset(c->res.results, 0, sizeof(c->res.results));
    pthread_mutex_unlock(&c->res.mtx);
    for (size_t i = 0; i < c->n_targets; i++) {
        if (results[i] != NULL) {
            apply_resolution(c, (int)i, results[i]);
            free(results[i]);
        }
    }
}

static void *resolver_main(void *arg)
{
    bsl_client *c = arg;
    pthread_mutex_lock(&c->res.mtx);
    while (!c->res.stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += c->o.resolve_interval_ms / 1000;
        until.tv_nsec += (long)(c->o.resolve_interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->res.cv, &c->res.mtx, &until);
        if (c->res.stop) {
            break;
        }
        pthread_mutex_unlock(&c->res.mtx);
        char *found[MAX_TARGETS] = { 0 };
        for (size_t i = 0; i < c->n_targets; i++) {
            if (c->targets[i].resolve) {
                found[i] = resolve_target(&c->targets[i]);
            }
        }
        pthread_mutex_lock(&c->res.mtx);
        bool any = false;
        for (size_t i = 0; i < c->n_targets; i++) {
            if (found[i] != NULL) {
                free(c->res.results[i]);
                c->res.results[i] = found[i];
                any = true;
            }
        }
        if (any && !atomic_exchange(&c->res.posted, 1)) {
            bsl_evnng_post(c->bridge, &c->res.task);
        }
    }
    pthread_mutex_unlock(&c->res.mtx);
    return NULL;
}

/* ---- attempts ----------------------------------------------------------------------- */

static void on_attempt_aio(void *arg)
{
    /* nng's thread. After a successful send, post the receive right here; anything else
     * goes to the loop. */
    attempt *a = arg;
    int rv = nng_aio_result(a->aio);
    if (a->phase == PHASE_SEND && rv == 0 && !atomic_load(&a->cancelled)) {
        a->phase = PHASE_RECV;
        nng_ctx_recv(a->ctx, a->aio);
        return;
    }
    a->result = rv;
    atomic_store(&a->posted, 1);
    bsl_evnng_post(a->rep->c->bridge, &a->task);
}

static void attempt_release(attempt *a)
{
    replica *r = a->rep;
    a->busy = false;
    a->call = NULL;
    a->next = r->free;
    r->free = a;
}

static void on_attempt_done(void *arg)
{
    attempt *a = arg;
    replica *r = a->rep;
    bsl_client *c = r->c;
    atomic_store(&a->posted, 0);
    ccall *k = a->call;
    int result = a->result;
    Boussole__V1__RpcResponse *resp = NULL;
    if (a->phase == PHASE_RECV && result == 0) {
        nng_msg *msg = nng_aio_get_msg(a->aio);
        if (k != NULL) {
            resp = boussole__v1__rpc_response__unpack(bsl_arena_allocator(k->arena),
                                                      nng_msg_len(msg), nng_msg_body(msg));
        }
        nng_msg_free(msg);
    } else if (a->phase == PHASE_SEND && result != 0) {
        nng_msg_free(nng_aio_get_msg(a->aio)); /* an unsent request stays ours */
    }
    r->in_flight--;
    if (a->phase == PHASE_RECV) {
        r->stalled = false; /* its connection takes requests again */
    }
    attempt_release(a);
    if (k != NULL) {
        k->att = NULL;
        if (result == 0) {
            r->timeouts = 0;
            if (resp == NULL) {
                finish(k, BSL_STATUS_INTERNAL, "the answer does not decode", NULL, r->url);
            } else if (resp->retry_elsewhere && k->forced == NULL) {
                /* Shutting down: new calls go to the other replicas until this one connects
                 * again, so that it drains instead of bouncing every call. */
                if (!r->draining) {
                    r->draining = true;
                    bsl_log(c->o.log, BSL_LOG_INFO, NULL, NULL,
                            "%s: replica %s asks for calls elsewhere", c->name, r->url);
                }
                k->last_rep = r;
                dispatch(k);
            } else {
                finish(k, (bsl_status)resp->code, resp->message, resp, r->url);
            }
        } else if (result == NNG_ETIMEDOUT) {
            finish(k, BSL_STATUS_DEADLINE_EXCEEDED, "deadline exceeded", NULL, r->url);
        } else if (k->forced != NULL) {
            finish(k, BSL_STATUS_UNAVAILABLE, nng_strerror(result), NULL, r->url);
        } else {
            k->last_rep = r;
            dispatch(k);
        }
    }
    if (r->removed && r->in_flight == 0 && !c->closing) {
        replica_close_async(c, r);
    }
}

static attempt *attempt_get(replica *r)
{
    attempt *a = r->free;
    if (a != NULL) {
        r->free = a->next;
    } else {
        a = calloc(1, sizeof(*a));
        if (a == NULL) {
            return NULL;
        }
        a->rep = r;
        a->task.fn = on_attempt_done;
        a->task.arg = a;
        if (nng_ctx_open(&a->ctx, r->sock) != 0 || nng_aio_alloc(&a->aio, on_attempt_aio, a) != 0) {
            if (a->aio != NULL) {
                nng_aio_free(a->aio);
            }
            free(a);
            return NULL;
        }
        a->next_all = r->all;
        r->all = a;
    }
    a->busy = true;
    a->next = NULL;
    atomic_store(&a->cancelled, 0);
    return a;
}

/* Everything of a replica but its socket, on the loop: its calls go to other replicas (or, for
 * a probe, fail), its attempts are freed, and its socket's callbacks post nothing more. */
static void replica_detach(bsl_client *c, replica *r)
{
    replica **pp = &c->replicas;
    while (*pp != NULL && *pp != r) {
        pp = &(*pp)->next;
    }
    if (*pp == r) {
        *pp = r->next;
    }
    probe_stop(c, r);
    /* The attempts' operations stopped (callbacks finished, no new operation accepted) before
     * the socket closes: nng 1.5.2's nng_close can wait forever for a context that a callback
     * on another thread is re-arming at that moment (nng issues #1543 and #1813). */
    for (attempt *a = r->all; a != NULL; a = a->next_all) {
        nng_aio_stop(a->aio);
    }
    atomic_store(&r->closing, 1);
    bsl_evnng_cancel(c->bridge, &r->pipe_task);
    r->pipes = 0; /* a probe held here fails rather than sending again on this socket */
    attempt *a = r->all;
    while (a != NULL) {
        attempt *next = a->next_all;
        if (bsl_evnng_cancel(c->bridge, &a->task) || atomic_load(&a->posted)) {
            if ((a->phase == PHASE_RECV && a->result == 0) ||
                (a->phase == PHASE_SEND && a->result != 0)) {
                nng_msg_free(nng_aio_get_msg(a->aio));
            }
        }
        if (a->call != NULL) {
            ccall *k = a->call;
            k->att = NULL;
            k->last_rep = NULL;
            if (!c->closing) {
                dispatch(k);
            }
        }
        nng_aio_free(a->aio);
        free(a);
        a = next;
    }
    r->all = NULL;
    r->free = NULL;
}

/* The end of a detached replica, on the loop, once its socket is closed: no callback of the
 * socket runs any more, and one posted before the close is dropped here. */
static void replica_free(bsl_client *c, replica *r)
{
    bsl_evnng_cancel(c->bridge, &r->pipe_task);
    free(r);
}

/* On the client's teardown: the socket closes on the loop's thread. */
static void replica_close(bsl_client *c, replica *r)
{
    replica_detach(c, r);
    bool suspended = bsl_cpu_policy_suspend(); /* see sched.h */
    nng_close(r->sock);
    bsl_cpu_policy_resume(suspended);
    replica_free(c, r);
}

static void *closer_main(void *arg)
{
    replica *r = arg;
    nng_close(r->sock);
    atomic_store(&r->closed, 1);
    return NULL;
}

/*
 * A replica gone from DNS while the client serves: its socket closes on a thread of its own,
 * because nng 1.5.2's close can hang (sched.h, nng issues #1543 and #1813), and the loop must go
 * on serving the other replicas if it does. The loop frees the replica once the close is done
 * (replicas_reap); a close that never ends keeps one small thread and one replica.
 */
static void replica_close_async(bsl_client *c, replica *r)
{
    replica_detach(c, r);
    if (pthread_create(&r->closer, NULL, closer_main, r) != 0) {
        nng_close(r->sock);
        replica_free(c, r);
        return;
    }
    r->next = c->closing_reps;
    c->closing_reps = r;
}

/* Frees the replicas whose socket has closed; with `wait`, waits for every close (teardown). */
static void replicas_reap(bsl_client *c, bool wait)
{
    replica **pp = &c->closing_reps;
    while (*pp != NULL) {
        replica *r = *pp;
        if (wait || atomic_load(&r->closed)) {
            pthread_join(r->closer, NULL);
            *pp = r->next;
            replica_free(c, r);
        } else {
            pp = &r->next;
        }
    }
}

/* ---- probes of replicas set aside ---------------------------------------------------- */

static int call_start(bsl_client *c, const bsl_method_info *m, const uint8_t *payload, size_t len,
                      const bsl_call_opts *opts, bool typed, replica *forced, bsl_client_cb cb,
                      void *arg);

static void probe_stop(bsl_client *c, replica *r)
{
    if (ev_is_active(&r->probe_timer)) {
        ev_ref(c->loop); /* balance the ev_unref made when probing started */
        ev_timer_stop(c->loop, &r->probe_timer);
    }
}

static void on_probe_reply(const bsl_reply *reply, void *arg)
{
    replica *r = arg;
    bsl_client *c = r->c;
    r->probing = false;
    if (reply->code == BSL_STATUS_OK) {
        r->ejected = false;
        r->timeouts = 0;
        probe_stop(c, r);
        bsl_log(c->o.log, BSL_LOG_INFO, NULL, NULL, "%s: replica %s answers again", c->name,
                r->url);
    }
}

static void on_probe_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    replica *r = w->data;
    if (r->probing || !r->ejected || r->pipes <= 0) {
        return;
    }
    static const char method[] = "boussole.v1.Health/Check";
    const bsl_method_info *m = bsl_schema_method(method, sizeof(method) - 1);
    Boussole__V1__HealthCheckRequest req = BOUSSOLE__V1__HEALTH_CHECK_REQUEST__INIT;
    uint8_t buf[8];
    size_t len = boussole__v1__health_check_request__pack(&req, buf);
    bsl_call_opts o = { .deadline_ms = PROBE_DEADLINE_MS };
    if (call_start(r->c, m, buf, len, &o, false, r, on_probe_reply, r) == BSL_OK) {
        r->probing = true;
    }
}

static void replica_timed_out(bsl_client *c, replica *r)
{
    if (++r->timeouts >= EJECT_AFTER && !r->ejected) {
        r->ejected = true;
        bsl_log(c->o.log, BSL_LOG_WARN, NULL, NULL,
                "%s: replica %s set aside after %u deadlines in a row", c->name, r->url,
                r->timeouts);
        ev_init(&r->probe_timer, on_probe_timer);
        r->probe_timer.data = r;
        ev_timer_set(&r->probe_timer, PROBE_INTERVAL_S, PROBE_INTERVAL_S);
        ev_timer_start(c->loop, &r->probe_timer);
        ev_unref(c->loop); /* probing alone does not keep the loop running */
    }
}

/* ---- calls -------------------------------------------------------------------------- */

/* Takes a call out of the client (timer, list); its memory goes with bsl_arena_free. */
static void call_unlink(ccall *k)
{
    bsl_client *c = k->c;
    ev_timer_stop(c->loop, &k->timer);
    if (k->prev != NULL) {
        k->prev->next = k->next;
    } else {
        c->calls = k->next;
    }
    if (k->next != NULL) {
        k->next->prev = k->prev;
    }
}

static void finish(ccall *k, bsl_status code, const char *message,
                   const Boussole__V1__RpcResponse *env, const char *replica_url)
{
    bsl_client *c = k->c;
    detach_attempt(k);
    bsl_reply rep;
    memset(&rep, 0, sizeof(rep));
    rep.code = code;
    rep.message = message ? message : "";
    rep.envelope = env;
    rep.replica = replica_url ? replica_url : "";
    rep.attempts = k->attempts;
    if (env != NULL && code == BSL_STATUS_OK) {
        rep.payload = env->payload.data;
        rep.payload_len = env->payload.len;
        if (k->typed) {
            const ProtobufCMethodDescriptor *md = &k->m->service->methods[k->m->index];
            rep.msg = protobuf_c_message_unpack(md->output, bsl_arena_allocator(k->arena),
                                                rep.payload_len, rep.payload);
            if (rep.msg == NULL) {
                rep.code = BSL_STATUS_INTERNAL;
                rep.message = "the response does not decode";
            }
        }
    }
    (void)c;
    /* The reply points into the call's arena: free it only after the callback. */
    call_unlink(k);
    k->cb(&rep, k->arg);
    bsl_arena_free(k->arena);
}

/* The sweep keeps no loop alive by itself: the calls' own timers do. */
static void sweep_start(bsl_client *c)
{
    if (!ev_is_active(&c->sweep)) {
        ev_timer_again(c->loop, &c->sweep);
        ev_unref(c->loop);
    }
}

static void sweep_stop(bsl_client *c)
{
    if (ev_is_active(&c->sweep)) {
        ev_ref(c->loop);
        ev_timer_stop(c->loop, &c->sweep);
    }
}

/* Requests that no connection took within SEND_STALL_S never went out: they go elsewhere
 * (without counting as a send), and their replica gets new calls only when no other can. */
static void on_sweep(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    bsl_client *c = w->data;
    ev_tstamp now = ev_now(loop);
    for (ccall *k = c->calls; k != NULL;) {
        ccall *next = k->next;
        attempt *a = k->att;
        if (a != NULL && k->forced == NULL && atomic_load(&a->phase) == PHASE_SEND &&
            now - a->sent_at >= SEND_STALL_S) {
            replica *r = a->rep;
            if (!r->stalled) {
                r->stalled = true;
                bsl_log(c->o.log, BSL_LOG_WARN, NULL, NULL,
                        "%s: replica %s took no request for %.0f ms: sending elsewhere", c->name,
                        r->url, (now - a->sent_at) * 1e3);
            }
            detach_attempt(k);
            k->last_rep = r;
            k->attempts--;
            dispatch(k);
        }
        k = next;
    }
    if (c->calls == NULL) {
        sweep_stop(c);
    }
}

static void on_call_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    ccall *k = w->data;
    bsl_client *c = k->c;
    if (k->waiting && ev_now(loop) < k->deadline_at) {
        /* Gave up waiting for a first connection before the deadline. */
        finish(k, BSL_STATUS_UNAVAILABLE, "no replica is reachable", NULL, NULL);
        return;
    }
    if (k->att != NULL) {
        replica_timed_out(c, k->att->rep);
        finish(k, BSL_STATUS_DEADLINE_EXCEEDED, "deadline exceeded", NULL, k->att->rep->url);
        return;
    }
    finish(k, k->sent ? BSL_STATUS_DEADLINE_EXCEEDED : BSL_STATUS_UNAVAILABLE,
           k->sent ? "deadline exceeded" : "no replica is reachable", NULL, NULL);
}

/* The connected replica with the fewest calls in flight. Replicas set aside, stalled or
 * draining, and the one that just failed this call, only when there is no other; ties go
 * round-robin. */
static replica *pick(bsl_client *c, replica *avoid)
{
    unsigned n = 0;
    for (replica *r = c->replicas; r != NULL; r = r->next) {
        n++;
    }
    if (n == 0) {
        return NULL;
    }
    unsigned start = c->rr++ % n, i = 0;
    replica *best = NULL;
    long long best_score = 0;
    for (replica *r = c->replicas; r != NULL; r = r->next, i++) {
        if (r->removed || r->pipes <= 0) {
            continue;
        }
        long long score = (long long)r->in_flight;
        if (r->ejected || r->stalled || r->draining) {
            score += 1LL << 40;
        }
        if (r == avoid) {
            score += 1LL << 39;
        }
        score = score * 4096 + (long long)((i + n - start) % n);
        if (best == NULL || score < best_score) {
            best = r;
            best_score = score;
        }
    }
    return best;
}

static void send_to(ccall *k, replica *r)
{
    bsl_client *c = k->c;
    attempt *a = attempt_get(r);
    if (a == NULL) {
        finish(k, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL, NULL);
        return;
    }
    double left_s = k->deadline_at - ev_now(c->loop);
    int32_t left = left_s <= 0.001 ? 1 : (int32_t)(left_s * 1e3);
    k->req.deadline_ms = left;
    size_t len = boussole__v1__rpc_request__get_packed_size(&k->req);
    nng_msg *msg;
    if (nng_msg_alloc(&msg, len) != 0) {
        attempt_release(a);
        finish(k, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory", NULL, NULL);
        return;
    }
    boussole__v1__rpc_request__pack(&k->req, nng_msg_body(msg));
    k->attempts++;
    k->sent = true;
    k->att = a;
    a->call = k;
    a->phase = PHASE_SEND;
    r->in_flight++;
    a->sent_at = ev_now(c->loop);
    nng_aio_set_msg(a->aio, msg);
    /* The aio's own timeout bounds an orphaned receive even if a cancel races with it. */
    nng_aio_set_timeout(a->aio, left + 50);
    nng_ctx_send(a->ctx, a->aio);
}

static void dispatch(ccall *k)
{
    bsl_client *c = k->c;
    if (c->closing) {
        return;
    }
    if (ev_now(c->loop) >= k->deadline_at) {
        finish(k, BSL_STATUS_DEADLINE_EXCEEDED, "deadline exceeded", NULL, NULL);
        return;
    }
    if (k->attempts >= c->o.max_attempts) {
        finish(k, BSL_STATUS_UNAVAILABLE, "replicas went away during the call", NULL, NULL);
        return;
    }
    replica *r = k->forced ? (k->forced->pipes > 0 ? k->forced : NULL) : pick(c, k->last_rep);
    if (r == NULL) {
        if (k->forced != NULL) {
            finish(k, BSL_STATUS_UNAVAILABLE, "replica not connected", NULL, NULL);
            return;
        }
        if (!k->waiting) {
            /* Wait for a connection, but not past the connect wait. */
            k->waiting = true;
            double wait = c->o.connect_wait_ms / 1e3;
            double left = k->deadline_at - ev_now(c->loop);
            ev_timer_stop(c->loop, &k->timer);
            ev_timer_set(&k->timer, wait < left ? wait : left, 0.);
            ev_timer_start(c->loop, &k->timer);
        }
        return;
    }
    if (k->waiting) {
        k->waiting = false;
        ev_timer_stop(c->loop, &k->timer);
        double left = k->deadline_at - ev_now(c->loop);
        ev_timer_set(&k->timer, left > 0 ? left : 0.001, 0.);
        ev_timer_start(c->loop, &k->timer);
    }
    send_to(k, r);
}

static char *adup(bsl_arena *a, const char *s)
{
    return bsl_arena_strdup(a, s ? s : "");
}

static int call_start(bsl_client *c, const bsl_method_info *m, const uint8_t *payload, size_t len,
                      const bsl_call_opts *opts, bool typed, replica *forced, bsl_client_cb cb,
                      void *arg)
{
    static const bsl_call_opts none;
    if (opts == NULL) {
        opts = &none;
    }
    if (len > c->o.max_message_bytes) {
        return BSL_ETOOBIG;
    }
    bsl_arena *ar = bsl_arena_create();
    ccall *k = ar ? bsl_arena_calloc(ar, 1, sizeof(*k)) : NULL;
    uint8_t *pl = k ? bsl_arena_alloc(ar, len ? len : 1) : NULL;
    if (pl == NULL) {
        bsl_arena_free(ar);
        return BSL_ENOMEM;
    }
    if (len > 0) {
        memcpy(pl, payload, len);
    }
    k->arena = ar;
    k->c = c;
    k->m = m;
    k->typed = typed;
    k->forced = forced;
    k->cb = cb;
    k->arg = arg;
    boussole__v1__rpc_request__init(&k->req);
    boussole__v1__metadata__init(&k->md);
    boussole__v1__caller__init(&k->caller);
    k->req.method = (char *)m->full_name;
    k->req.payload.data = pl;
    k->req.payload.len = len;
    k->req.metadata = &k->md;
    char rid[33], tid[33];
    if (opts->request_id == NULL || opts->request_id[0] == '\0') {
        bsl_fastid_hex(&c->ids, rid, 8);
    }
    if (opts->trace_id == NULL || opts->trace_id[0] == '\0') {
        bsl_fastid_hex(&c->ids, tid, 16);
    }
    k->req.request_id = adup(ar, opts->request_id && opts->request_id[0] ? opts->request_id : rid);
    k->md.trace_id = adup(ar, opts->trace_id && opts->trace_id[0] ? opts->trace_id : tid);
    k->md.parent_span_id = adup(ar, opts->parent_span_id);
    if (opts->caller != NULL) {
        k->caller.subject = adup(ar, opts->caller->subject);
        k->caller.role = opts->caller->role;
        k->caller.organisation = adup(ar, opts->caller->organisation);
        k->md.caller = &k->caller;
    }
    if (opts->idempotency_key != NULL && opts->idempotency_key[0] != '\0') {
        k->md.idempotency_key = adup(ar, opts->idempotency_key);
    } else if (m->idempotency == BSL_IDEMPOTENCY_UNKNOWN) {
        /* Generated once per call, so that every resend of this call carries the same key. */
        char key[33];
        bsl_fastid_hex(&c->ids, key, 16);
        k->md.idempotency_key = adup(ar, key);
    } else {
        k->md.idempotency_key = adup(ar, "");
    }
    if (opts->n_extra > 0) {
        k->md.extra = bsl_arena_calloc(ar, opts->n_extra, sizeof(*k->md.extra));
        for (size_t i = 0; k->md.extra && i < opts->n_extra; i++) {
            Boussole__V1__KeyValue *kv = bsl_arena_alloc(ar, sizeof(*kv));
            if (kv == NULL) {
                break;
            }
            boussole__v1__key_value__init(kv);
            kv->key = adup(ar, opts->extra[i]->key);
            kv->value = adup(ar, opts->extra[i]->value);
            k->md.extra[k->md.n_extra++] = kv;
        }
    }
    if (k->req.request_id == NULL || k->md.trace_id == NULL || k->md.parent_span_id == NULL ||
        k->md.idempotency_key == NULL ||
        (opts->caller && (!k->caller.subject || !k->caller.organisation))) {
        bsl_arena_free(ar);
        return BSL_ENOMEM;
    }
    uint32_t budget = opts->deadline_ms       ? opts->deadline_ms
                      : m->default_timeout_ms ? m->default_timeout_ms
                                              : c->o.default_deadline_ms;
    k->deadline_at = ev_now(c->loop) + budget / 1e3;
    ev_timer_init(&k->timer, on_call_timer, budget / 1e3, 0.);
    k->timer.data = k;
    k->next = c->calls;
    if (c->calls != NULL) {
        c->calls->prev = k;
    }
    c->calls = k;
    ev_timer_start(c->loop, &k->timer);
    sweep_start(c);
    dispatch(k);
    return BSL_OK;
}

int bsl_client_call_raw(bsl_client *c, const bsl_method_info *m, const uint8_t *payload, size_t len,
                        const bsl_call_opts *opts, bsl_client_cb cb, void *arg)
{
    return call_start(c, m, payload, len, opts, false, NULL, cb, arg);
}

int bsl_client_call(bsl_client *c, const char *method, const ProtobufCMessage *req,
                    const bsl_call_opts *opts, bsl_client_cb cb, void *arg)
{
    const bsl_method_info *m = bsl_schema_method(method, strlen(method));
    if (m == NULL) {
        return BSL_ENOTFOUND;
    }
    if (req == NULL || req->descriptor != m->service->methods[m->index].input) {
        return BSL_EINVAL;
    }
    size_t len = protobuf_c_message_get_packed_size(req);
    if (len > c->o.max_message_bytes) {
        return BSL_ETOOBIG;
    }
    uint8_t small[512];
    uint8_t *buf = len <= sizeof(small) ? small : malloc(len);
    if (buf == NULL) {
        return BSL_ENOMEM;
    }
    protobuf_c_message_pack(req, buf);
    int rv = call_start(c, m, buf, len, opts, true, NULL, cb, arg);
    if (buf != small) {
        free(buf);
    }
    return rv;
}

void bsl_client_replicas(const bsl_client *c, unsigned *known, unsigned *connected)
{
    unsigned k = 0, n = 0;
    for (const replica *r = c->replicas; r != NULL; r = r->next) {
        if (!r->removed) {
            k++;
            n += r->pipes > 0;
        }
    }
    *known = k;
    *connected = n;
}

/* ---- create / free ------------------------------------------------------------------ */

int bsl_client_create(bsl_client **out, struct ev_loop *loop, const bsl_client_options *o,
                      char *errbuf, size_t errlen)
{
    bsl_client *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return BSL_ENOMEM;
    }
    c->loop = loop;
    c->o = *o;
    ev_timer_init(&c->sweep, on_sweep, SWEEP_S, SWEEP_S);
    c->sweep.data = c;
    bsl_fastid_seed(&c->ids);
    snprintf(c->name, sizeof(c->name), "%s", o->name ? o->name : "client");
    c->o.name = c->name;
    c->o.target = NULL;
    if (!c->o.resolve_interval_ms) {
        c->o.resolve_interval_ms = 2000;
    }
    if (!c->o.default_deadline_ms) {
        c->o.default_deadline_ms = 10000;
    }
    if (!c->o.connect_wait_ms) {
        c->o.connect_wait_ms = 1000;
    }
    if (!c->o.max_attempts) {
        c->o.max_attempts = 3;
    }
    if (!c->o.max_message_bytes) {
        c->o.max_message_bytes = 1 << 20;
    }
    const char *t = o->target ? o->target : "";
    while (*t != '\0') {
        const char *comma = strchr(t, ',');
        size_t len = comma ? (size_t)(comma - t) : strlen(t);
        if (c->n_targets == MAX_TARGETS || parse_target(&c->targets[c->n_targets], t, len) != 0) {
            snprintf(errbuf, errlen,
                     "%s: invalid target '%.*s' (tcp://host:port, "
                     "tls+tcp://host:port, ipc:///path or inproc://name)",
                     c->name, (int)len, t);
            free(c);
            return BSL_EINVAL;
        }
        c->n_targets++;
        t += len + (comma ? 1 : 0);
    }
    if (c->n_targets == 0) {
        snprintf(errbuf, errlen, "%s: no target address", c->name);
        free(c);
        return BSL_EINVAL;
    }
    int rv = bsl_evnng_create(&c->bridge, loop);
    if (rv != BSL_OK) {
        free(c);
        return rv;
    }
    for (size_t i = 0; i < c->n_targets; i++) {
        if (strcmp(c->targets[i].scheme, "tls+tcp") == 0 &&
            (rv = bsl_tls_config(&c->tls[i], o->tls, false, c->targets[i].host, errbuf, errlen)) !=
                BSL_OK) {
            c->closing = true;
            bsl_client_free(c);
            return rv;
        }
    }
    pthread_mutex_init(&c->res.mtx, NULL);
    pthread_cond_init(&c->res.cv, NULL);
    c->res.task.fn = on_resolved;
    c->res.task.arg = c;
    bool any_dns = false;
    for (size_t i = 0; i < c->n_targets; i++) {
        /* The first resolution happens here, so the client has replicas right away. */
        char *urls = resolve_target(&c->targets[i]);
        if (urls != NULL) {
            apply_resolution(c, (int)i, urls);
            free(urls);
        } else {
            bsl_log(c->o.log, BSL_LOG_WARN, NULL, NULL, "%s: cannot resolve %s yet", c->name,
                    c->targets[i].url);
        }
        any_dns |= c->targets[i].resolve;
    }
    if (any_dns) {
        if (pthread_create(&c->res.thread, NULL, resolver_main, c) != 0) {
            bsl_client_free(c);
            return BSL_ENOMEM;
        }
        c->res.running = true;
    }
    *out = c;
    return BSL_OK;
}

void bsl_client_free(bsl_client *c)
{
    if (c == NULL) {
        return;
    }
    c->closing = true;
    if (c->res.running) {
        pthread_mutex_lock(&c->res.mtx);
        c->res.stop = true;
        pthread_cond_signal(&c->res.cv);
        pthread_mutex_unlock(&c->res.mtx);
        pthread_join(c->res.thread, NULL);
    }
    bsl_evnng_cancel(c->bridge, &c->res.task);
    for (size_t i = 0; i < MAX_TARGETS; i++) {
        free(c->res.results[i]);
    }
    while (c->calls != NULL) {
        finish(c->calls, BSL_STATUS_CANCELLED, "the client is closing", NULL, NULL);
    }
    sweep_stop(c);
    while (c->replicas != NULL) {
        replica_close(c, c->replicas);
    }
    replicas_reap(c, true);
    for (size_t i = 0; i < MAX_TARGETS; i++) {
        if (c->tls[i] != NULL) {
            nng_tls_config_free(c->tls[i]);
        }
    }
    bsl_evnng_free(c->bridge);
    pthread_mutex_destroy(&c->res.mtx);
    pthread_cond_destroy(&c->res.cv);
    free(c);
}

/* ---- sync client -------------------------------------------------------------------- */

struct bsl_sync_client {
    struct ev_loop *loop;
    bsl_client *client;
    bool done;
    bsl_status code;
    char message[512];
    ProtobufCMessage *resp;
    Boussole__V1__RpcResponse *envelope;
};

int bsl_sync_client_create(bsl_sync_client **out, const bsl_client_options *opts, char *errbuf,
                           size_t errlen)
{
    bsl_sync_client *sc = calloc(1, sizeof(*sc));
    if (sc == NULL) {
        return BSL_ENOMEM;
    }
    sc->loop = ev_loop_new(EVFLAG_AUTO);
    if (sc->loop == NULL) {
        free(sc);
        return BSL_ENOMEM;
    }
    int rv = bsl_client_create(&sc->client, sc->loop, opts, errbuf, errlen);
    if (rv != BSL_OK) {
        ev_loop_destroy(sc->loop);
        free(sc);
        return rv;
    }
    *out = sc;
    return BSL_OK;
}

void bsl_sync_client_free(bsl_sync_client *sc)
{
    if (sc == NULL) {
        return;
    }
    bsl_client_free(sc->client);
    if (sc->envelope != NULL) {
        boussole__v1__rpc_response__free_unpacked(sc->envelope, NULL);
    }
    ev_loop_destroy(sc->loop);
    free(sc);
}

struct ev_loop *bsl_sync_client_loop(bsl_sync_client *sc)
{
    return sc->loop;
}

bsl_client *bsl_sync_client_client(bsl_sync_client *sc)
{
    return sc->client;
}

const Boussole__V1__RpcResponse *bsl_sync_last_envelope(const bsl_sync_client *sc)
{
    return sc->envelope;
}

static void on_sync_reply(const bsl_reply *reply, void *arg)
{
    bsl_sync_client *sc = arg;
    sc->done = true;
    sc->code = reply->code;
    snprintf(sc->message, sizeof(sc->message), "%s", reply->message);
    if (reply->envelope != NULL) {
        /* Copy out of the call's arena, which goes when this callback returns. */
        size_t len = boussole__v1__rpc_response__get_packed_size(reply->envelope);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf != NULL) {
            boussole__v1__rpc_response__pack(reply->envelope, buf);
            sc->envelope = boussole__v1__rpc_response__unpack(NULL, len, buf);
            free(buf);
        }
    }
    if (reply->code == BSL_STATUS_OK && reply->msg != NULL) {
        size_t len = protobuf_c_message_get_packed_size(reply->msg);
        uint8_t *buf = malloc(len ? len : 1);
        if (buf != NULL) {
            protobuf_c_message_pack(reply->msg, buf);
            sc->resp = protobuf_c_message_unpack(reply->msg->descriptor, NULL, len, buf);
            free(buf);
        }
    }
}

bsl_status bsl_sync_call(bsl_sync_client *sc, const char *method, const ProtobufCMessage *req,
                         const bsl_call_opts *opts, ProtobufCMessage **resp, char *msgbuf,
                         size_t msglen)
{
    sc->done = false;
    sc->resp = NULL;
    /* The loop runs only inside these calls: after an idle spell its idea of now (ev_now) is
     * as old as the spell, and a deadline reckoned from it would be past already. */
    ev_now_update(sc->loop);
    if (sc->envelope != NULL) {
        boussole__v1__rpc_response__free_unpacked(sc->envelope, NULL);
        sc->envelope = NULL;
    }
    int rv = bsl_client_call(sc->client, method, req, opts, on_sync_reply, sc);
    if (rv != BSL_OK) {
        if (msgbuf != NULL) {
            snprintf(msgbuf, msglen, "cannot call %s: %s", method, bsl_strerror(rv));
        }
        return bsl_status_from_err(rv);
    }
    while (!sc->done) {
        ev_run(sc->loop, EVRUN_ONCE);
    }
    if (msgbuf != NULL) {
        snprintf(msgbuf, msglen, "%s", sc->message);
    }
    if (resp != NULL) {
        *resp = sc->resp;
    } else if (sc->resp != NULL) {
        protobuf_c_message_free_unpacked(sc->resp, NULL);
    }
    return sc->code;
}
