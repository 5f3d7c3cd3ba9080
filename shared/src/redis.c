#include "boussole/redis.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>

#include "boussole/err.h"
#include "redisreply.h"

#define MAX_SCRIPTS   64
#define WEDGED_AFTER  3 /* timeouts in a row without a reply */
#define MAX_SENTINELS 8

typedef enum {
    ST_DISCONNECTED,
    ST_RESOLVING,
    ST_CONNECTING,
    ST_ASKING, /* connected to a Sentinel, asking it for the master's address */
    ST_HANDSHAKE,
    ST_READY,
    ST_CLOSING
} conn_state;

/* A Sentinel of a "redis+sentinel://" URL. */
typedef struct sentinel_addr {
    char host[256];
    int port;
} sentinel_addr;

/*
 * A resolution of the Redis host name, on a thread of its own: getaddrinfo can wait seconds
 * for a DNS server (a Redis container restarting, a Service with no ready pod yet), and the
 * loop serves every call meanwhile. The job is shared by that thread and the loop (refs, under
 * mtx); the thread wakes the loop only while the client still wants the answer (wanted),
 * so a client freed meanwhile just lets go of its side.
 */
typedef struct resolve_job {
    pthread_mutex_t mtx;
    int refs;
    bool wanted;
    struct ev_loop *loop;
    ev_async *wake; /* the client's watcher; valid while wanted */
    char host[256];
    char port[8];
    char addr[INET6_ADDRSTRLEN]; /* the answer: a numeric address, or "" */
    char err[128];
} resolve_job;

struct bsl_redis_script {
    char *body;
    char sha[41]; /* empty until SCRIPT LOAD answered on the current connection */
};

/*
 * One command in flight. It lives until both the user has been answered (done) and hiredis
 * has let go of it (in_hiredis == 0): a timed-out command stays in hiredis's reply queue, and
 * its late reply must find the op still allocated.
 */
typedef struct redis_op {
    struct redis_op *prev, *next; /* live ops, so that free can answer them all */
    bsl_redis *r;
    bsl_redis_cb cb;
    void *arg;
    ev_timer timer;
    int done;
    int in_hiredis;
    int fail_err; /* for an op failed before it was sent */
    /* For scripts: what to send again as EVAL when Redis answers NOSCRIPT. */
    const bsl_redis_script *script;
    int argc;
    char **argv;
    size_t *argvlen;
} redis_op;

struct bsl_redis {
    struct ev_loop *loop;
    redisAsyncContext *ac;
    bsl_reply_slab *replies; /* where every connection's replies are built, in turn */
    conn_state state;
    _Atomic int ready;
    char host[256]; /* what the connection in progress goes to: Redis, or a Sentinel */
    int port;
    char unix_path[256];
    char password[256];
    int db;
    /*
     * With Sentinels, each (re)connection first asks one of them, in turn, for the master's
     * address (SENTINEL get-master-addr-by-name), then connects there and checks with ROLE
     * that it is the master: after a failover the old address may answer as a replica.
     */
    sentinel_addr sentinels[MAX_SENTINELS];
    size_t n_sentinels, next_sentinel;
    char master_name[128];
    bool asking; /* the connection in progress is to a Sentinel */
    uint32_t command_timeout_ms, connect_timeout_ms, backoff_min_ms, backoff_max_ms;
    uint32_t backoff_ms;
    ev_timer reconnect_timer;
    ev_timer connect_timer;
    ev_timer probe_timer;
    ev_async resolved; /* the resolver thread's answer is in `job` */
    resolve_job *job;  /* the resolution in flight, or NULL */
    unsigned consecutive_timeouts;
    unsigned handshake_pending;
    redis_op *ops;
    bsl_redis_script *scripts[MAX_SCRIPTS];
    size_t n_scripts;
    char name[32];
    const bsl_logger *log;
    bsl_counter *errors, *reconnects;
};

static void start_connect(bsl_redis *r);
static void drop_connection(bsl_redis *r, const char *why);

/* A warning about the connection: `what` says what happened, `detail` the cause. */
static void log_warn(bsl_redis *r, const char *what, const char *detail)
{
    bsl_log_with(r->log, BSL_LOG_WARN, NULL, NULL,
                 (bsl_log_field[]){ BSL_LOG_STR("component", r->name) }, 1, "%s: %s", what, detail);
}

/* ---- URL ---------------------------------------------------------------------------- */

/* "host[:port]" of n bytes into host/port (port: def when absent); false when malformed. */
static bool parse_host_port(const char *p, size_t n, char *host, size_t cap, int *port, int def)
{
    const char *colon = memchr(p, ':', n);
    size_t hn = colon ? (size_t)(colon - p) : n;
    if (hn == 0 || hn >= cap) {
        return false;
    }
    memcpy(host, p, hn);
    host[hn] = '\0';
    *port = def;
    if (colon != NULL) {
        char digits[8];
        size_t dn = n - hn - 1;
        if (dn == 0 || dn >= sizeof(digits)) {
            return false;
        }
        memcpy(digits, colon + 1, dn);
        digits[dn] = '\0';
        char *e;
        long v = strtol(digits, &e, 10);
        if (*e != '\0' || v <= 0 || v > 65535) {
            return false;
        }
        *port = (int)v;
    }
    return true;
}

/* The "[user]:password@" in front of *p, if any, into r->password; *p moves past it. */
static bool parse_password(bsl_redis *r, const char **p)
{
    const char *at = strrchr(*p, '@');
    if (at == NULL) {
        return true;
    }
    const char *colon = memchr(*p, ':', (size_t)(at - *p));
    const char *pw = colon ? colon + 1 : *p;
    size_t n = (size_t)(at - pw);
    if (n >= sizeof(r->password)) {
        return false;
    }
    memcpy(r->password, pw, n);
    r->password[n] = '\0';
    *p = at + 1;
    return true;
}

/* "redis+sentinel://[:password@]host[:port][,host[:port]...]/master-name[/db]": the password
 * is the master's (Sentinels are asked without one); the port defaults to 26379. */
static bool parse_sentinel_url(bsl_redis *r, const char *p)
{
    if (!parse_password(r, &p)) {
        return false;
    }
    const char *slash = strchr(p, '/');
    if (slash == NULL) {
        return false;
    }
    for (const char *q = p; q < slash;) {
        const char *comma = memchr(q, ',', (size_t)(slash - q));
        const char *end = comma ? comma : slash;
        if (r->n_sentinels == MAX_SENTINELS) {
            return false;
        }
        sentinel_addr *s = &r->sentinels[r->n_sentinels++];
        if (!parse_host_port(q, (size_t)(end - q), s->host, sizeof(s->host), &s->port, 26379)) {
            return false;
        }
        q = comma ? comma + 1 : slash;
    }
    const char *name = slash + 1;
    const char *db = strchr(name, '/');
    size_t nn = db ? (size_t)(db - name) : strlen(name);
    if (r->n_sentinels == 0 || nn == 0 || nn >= sizeof(r->master_name)) {
        return false;
    }
    for (size_t i = 0; i < nn; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.')) {
            return false;
        }
    }
    memcpy(r->master_name, name, nn);
    r->master_name[nn] = '\0';
    if (db != NULL) {
        char *e;
        long v = strtol(db + 1, &e, 10);
        if (db[1] == '\0' || *e != '\0' || v < 0 || v > 15) {
            return false;
        }
        r->db = (int)v;
    }
    return true;
}

static int parse_url(bsl_redis *r, const char *url, char *errbuf, size_t errlen)
{
    r->port = 6379;
    if (url == NULL || url[0] == '\0') {
        url = "redis://127.0.0.1:6379";
    }
    if (strncmp(url, "unix://", 7) == 0) {
        const char *p = url + 7;
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || n >= sizeof(r->unix_path)) {
            goto bad;
        }
        memcpy(r->unix_path, p, n);
        r->unix_path[n] = '\0';
        if (q != NULL && sscanf(q, "?db=%d", &r->db) != 1) {
            goto bad;
        }
        return BSL_OK;
    }
    if (strncmp(url, "redis+sentinel://", 17) == 0) {
        if (!parse_sentinel_url(r, url + 17)) {
            goto bad;
        }
        return BSL_OK;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        goto bad;
    }
    const char *p = url + 8;
    if (!parse_password(r, &p)) {
        goto bad;
    }
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *hend = colon ? colon : end;
    if (hend == p || (size_t)(hend - p) >= sizeof(r->host)) {
        goto bad;
    }
    memcpy(r->host, p, (size_t)(hend - p));
    r->host[hend - p] = '\0';
    if (colon != NULL) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != end || port <= 0 || port > 65535) {
            goto bad;
        }
        r->port = (int)port;
    }
    if (slash != NULL && slash[1] != '\0') {
        char *e;
        long db = strtol(slash + 1, &e, 10);
        if (*e != '\0' || db < 0 || db > 15) {
            goto bad;
        }
        r->db = (int)db;
    }
    return BSL_OK;
bad:
    /* The URL may hold a password: do not echo it. */
    snprintf(errbuf, errlen,
             "%s: invalid Redis URL (expected redis://[:password@]host:port[/db], "
             "redis+sentinel://[:password@]host:port[,host:port...]/master-name[/db] "
             "or unix:///path)",
             r->name);
    return BSL_EINVAL;
}

/* ---- ops ---------------------------------------------------------------------------- */

static void op_unlink(bsl_redis *r, redis_op *op)
{
    if (op->prev != NULL) {
        op->prev->next = op->next;
    } else {
        r->ops = op->next;
    }
    if (op->next != NULL) {
        op->next->prev = op->prev;
    }
}

static void op_free(redis_op *op)
{
    op_unlink(op->r, op);
    for (int i = 0; op->argv != NULL && i < op->argc; i++) {
        free(op->argv[i]);
    }
    free(op->argv);
    free(op->argvlen);
    free(op);
}

/* Answers the user once; frees the op when hiredis no longer holds it. */
static void op_finish(redis_op *op, const redisReply *reply, int err)
{
    bsl_redis *r = op->r;
    if (!op->done) {
        op->done = 1;
        ev_timer_stop(r->loop, &op->timer);
        if (err != BSL_OK && err != BSL_ECLOSED) {
            bsl_counter_add(r->errors, 1);
        }
        if (op->cb != NULL) {
            op->cb(reply, err, op->arg);
        }
    }
    if (!op->in_hiredis) {
        op_free(op);
    }
}

/* Errors that mean "Redis cannot serve right now", not "your command is wrong". */
static bool transient_error(const redisReply *rep)
{
    static const char *const prefixes[] = { "LOADING",     "BUSY",   "MASTERDOWN", "TRYAGAIN",
                                            "CLUSTERDOWN", "NOAUTH", "READONLY" };
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);
        if (rep->len >= n && strncmp(rep->str, prefixes[i], n) == 0) {
            return true;
        }
    }
    return false;
}

static int send_op(bsl_redis *r, redis_op *op, int argc, const char *const *argv,
                   const size_t *argvlen);

static void on_reply(redisAsyncContext *ac, void *reply_v, void *privdata)
{
    (void)ac;
    redis_op *op = privdata;
    bsl_redis *r = op->r;
    redisReply *reply = reply_v;
    op->in_hiredis = 0;
    if (reply == NULL) {
        /* The connection went away (or is being freed) with this command unanswered. */
        op_finish(op, NULL, r->state == ST_CLOSING ? BSL_ECLOSED : BSL_EUNAVAIL);
        return;
    }
    r->consecutive_timeouts = 0;
    if (op->done) {
        op_free(op); /* a late reply to a timed-out command */
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR && op->script != NULL &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0 && r->state == ST_READY) {
        /* Redis lost its script cache (restart, SCRIPT FLUSH): send the body once. */
        const char **argv = malloc((size_t)(op->argc + 1) * sizeof(char *));
        size_t *lens = malloc((size_t)(op->argc + 1) * sizeof(size_t));
        if (argv != NULL && lens != NULL) {
            argv[0] = "EVAL";
            lens[0] = 4;
            argv[1] = op->script->body;
            lens[1] = strlen(op->script->body);
            for (int i = 2; i < op->argc; i++) {
                argv[i] = op->argv[i];
                lens[i] = op->argvlen[i];
            }
            op->script = NULL;
            int rv = send_op(r, op, op->argc, argv, lens);
            free(argv);
            free(lens);
            if (rv == BSL_OK) {
                return;
            }
        } else {
            free(argv);
            free(lens);
        }
        op_finish(op, NULL, BSL_EUNAVAIL);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR && transient_error(reply)) {
        bool demoted =
            r->n_sentinels > 0 && strncmp(reply->str, "READONLY", 8) == 0 && r->state == ST_READY;
        op_finish(op, NULL, BSL_EUNAVAIL);
        if (demoted && r->ac != NULL) {
            /* The master we know became a replica (a failover while we stayed connected):
             * ask the Sentinels where the master is now. */
            drop_connection(r, "Redis answers as a replica");
        }
        return;
    }
    op_finish(op, reply, BSL_OK);
}

static void on_op_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    redis_op *op = w->data;
    bsl_redis *r = op->r;
    if (op->in_hiredis) {
        r->consecutive_timeouts++;
        op_finish(op, NULL, BSL_ETIMEDOUT);
        if (r->consecutive_timeouts >= WEDGED_AFTER && r->ac != NULL) {
            drop_connection(r, "commands keep timing out");
        }
    } else {
        op_finish(op, NULL, op->fail_err); /* failed before it was sent */
    }
}

static redis_op *op_new(bsl_redis *r, uint32_t timeout_ms, bsl_redis_cb cb, void *arg)
{
    redis_op *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        return NULL;
    }
    op->r = r;
    op->cb = cb;
    op->arg = arg;
    ev_timer_init(&op->timer, on_op_timer, (timeout_ms ? timeout_ms : r->command_timeout_ms) / 1e3,
                  0.);
    op->timer.data = op;
    op->next = r->ops;
    if (r->ops != NULL) {
        r->ops->prev = op;
    }
    r->ops = op;
    return op;
}

/* Answers an op on the next loop iteration (never from inside the caller). */
static void op_fail_later(bsl_redis *r, redis_op *op, int err)
{
    op->fail_err = err;
    ev_timer_stop(r->loop, &op->timer);
    ev_timer_set(&op->timer, 0., 0.);
    ev_timer_start(r->loop, &op->timer);
}

static int send_op(bsl_redis *r, redis_op *op, int argc, const char *const *argv,
                   const size_t *argvlen)
{
    if (redisAsyncCommandArgv(r->ac, on_reply, op, argc, (const char **)argv, argvlen) !=
        REDIS_OK) {
        return BSL_EUNAVAIL;
    }
    op->in_hiredis = 1;
    return BSL_OK;
}

static int submit(bsl_redis *r, redis_op *op, int argc, const char *const *argv,
                  const size_t *argvlen)
{
    if (r->state != ST_READY || r->ac == NULL) {
        op_fail_later(r, op, r->state == ST_CLOSING ? BSL_ECLOSED : BSL_EUNAVAIL);
        return BSL_OK;
    }
    if (send_op(r, op, argc, argv, argvlen) != BSL_OK) {
        op_fail_later(r, op, BSL_EUNAVAIL);
        return BSL_OK;
    }
    ev_timer_start(r->loop, &op->timer);
    return BSL_OK;
}

int bsl_redis_commandv(bsl_redis *r, uint32_t timeout_ms, bsl_redis_cb cb, void *arg, int argc,
                       const char *const *argv, const size_t *argvlen)
{
    if (argc <= 0) {
        return BSL_EINVAL;
    }
    redis_op *op = op_new(r, timeout_ms, cb, arg);
    if (op == NULL) {
        return BSL_ENOMEM;
    }
    return submit(r, op, argc, argv, argvlen);
}

int bsl_redis_command(bsl_redis *r, uint32_t timeout_ms, bsl_redis_cb cb, void *arg,
                      const char *fmt, ...)
{
    char *cmd;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0) {
        return len == -2 ? BSL_EINVAL : BSL_ENOMEM;
    }
    redis_op *op = op_new(r, timeout_ms, cb, arg);
    if (op == NULL) {
        free(cmd);
        return BSL_ENOMEM;
    }
    if (r->state != ST_READY || r->ac == NULL) {
        free(cmd);
        op_fail_later(r, op, r->state == ST_CLOSING ? BSL_ECLOSED : BSL_EUNAVAIL);
        return BSL_OK;
    }
    int rv = redisAsyncFormattedCommand(r->ac, on_reply, op, cmd, (size_t)len);
    free(cmd);
    if (rv != REDIS_OK) {
        op_fail_later(r, op, BSL_EUNAVAIL);
        return BSL_OK;
    }
    op->in_hiredis = 1;
    ev_timer_start(r->loop, &op->timer);
    return BSL_OK;
}

int bsl_redis_script_add(bsl_redis *r, const char *body, bsl_redis_script **out)
{
    if (r->n_scripts == MAX_SCRIPTS) {
        return BSL_ETOOBIG;
    }
    bsl_redis_script *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->body = strdup(body)) == NULL) {
        free(s);
        return BSL_ENOMEM;
    }
    r->scripts[r->n_scripts++] = s;
    *out = s;
    return BSL_OK;
}

int bsl_redis_eval(bsl_redis *r, const bsl_redis_script *script, uint32_t timeout_ms,
                   bsl_redis_cb cb, void *arg, int nkeys, int argc, const char *const *argv,
                   const size_t *argvlen)
{
    if (nkeys < 0 || argc < nkeys) {
        return BSL_EINVAL;
    }
    redis_op *op = op_new(r, timeout_ms, cb, arg);
    if (op == NULL) {
        return BSL_ENOMEM;
    }
    /* EVALSHA sha numkeys argv...: kept in the op for a possible EVAL retry. */
    int total = argc + 3;
    op->argc = total;
    op->argv = calloc((size_t)total, sizeof(char *));
    op->argvlen = calloc((size_t)total, sizeof(size_t));
    char nk[16];
    snprintf(nk, sizeof(nk), "%d", nkeys);
    bool ok = op->argv != NULL && op->argvlen != NULL;
    for (int i = 0; ok && i < total; i++) {
        const char *src;
        size_t len;
        if (i == 0) {
            src = "EVALSHA", len = 7;
        } else if (i == 1) {
            src = script->sha, len = strlen(script->sha);
        } else if (i == 2) {
            src = nk, len = strlen(nk);
        } else {
            src = argv[i - 3], len = argvlen[i - 3];
        }
        op->argv[i] = malloc(len + 1);
        if (op->argv[i] == NULL) {
            ok = false;
            break;
        }
        memcpy(op->argv[i], src, len);
        op->argv[i][len] = '\0';
        op->argvlen[i] = len;
    }
    if (!ok) {
        op->done = 1;
        op_free(op);
        return BSL_ENOMEM;
    }
    op->script = script;
    if (script->sha[0] == '\0') {
        /* Not loaded on this connection yet: send the body. */
        op->script = NULL;
        free(op->argv[0]);
        free(op->argv[1]);
        op->argv[0] = strdup("EVAL");
        op->argv[1] = strdup(script->body);
        if (op->argv[0] == NULL || op->argv[1] == NULL) {
            op->done = 1;
            op_free(op);
            return BSL_ENOMEM;
        }
        op->argvlen[0] = 4;
        op->argvlen[1] = strlen(script->body);
    }
    return submit(r, op, op->argc, (const char *const *)op->argv, op->argvlen);
}

/* ---- connection --------------------------------------------------------------------- */

static void set_ready(bsl_redis *r, bool ready)
{
    atomic_store(&r->ready, ready ? 1 : 0);
}

bool bsl_redis_ready(const bsl_redis *r)
{
    return r != NULL && atomic_load(&((bsl_redis *)r)->ready) != 0;
}

static void schedule_reconnect(bsl_redis *r)
{
    if (r->state == ST_CLOSING) {
        return;
    }
    r->state = ST_DISCONNECTED;
    set_ready(r, false);
    ev_timer_stop(r->loop, &r->connect_timer);
    ev_timer_stop(r->loop, &r->probe_timer);
    ev_timer_stop(r->loop, &r->reconnect_timer);
    ev_timer_set(&r->reconnect_timer, r->backoff_ms / 1e3, 0.);
    ev_timer_start(r->loop, &r->reconnect_timer);
    r->backoff_ms = r->backoff_ms * 2 > r->backoff_max_ms ? r->backoff_max_ms : r->backoff_ms * 2;
}

/* Frees the hiredis context, answering its pending commands, and schedules a reconnection. */
static void drop_connection(bsl_redis *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    log_warn(r, "dropping the Redis connection", why);
    r->ac = NULL;
    conn_state was = r->state;
    r->state = ST_DISCONNECTED;
    set_ready(r, false);
    for (size_t i = 0; i < r->n_scripts; i++) {
        r->scripts[i]->sha[0] = '\0';
    }
    if (ac != NULL) {
        ac->data = NULL; /* the disconnect callback must not touch r */
        redisAsyncFree(ac);
    }
    if (was != ST_CLOSING) {
        schedule_reconnect(r);
    }
}

static void on_reconnect_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    start_connect(w->data);
}

static void on_connect_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    bsl_redis *r = w->data;
    drop_connection(r, r->state == ST_ASKING ? "the Sentinel did not answer" : "connect timed out");
}

static void handshake_step(bsl_redis *r);

/* The handshake's ROLE (with Sentinels), among the script indexes of on_handshake_reply. */
#define HANDSHAKE_ROLE (-2)

static void on_handshake_reply(redisAsyncContext *ac, void *reply_v, void *privdata)
{
    bsl_redis *r = ac->data;
    redisReply *reply = reply_v;
    if (r == NULL || reply == NULL) {
        return; /* connection already gone; its disconnect handling reschedules */
    }
    intptr_t script_index = (intptr_t)privdata;
    if (script_index == HANDSHAKE_ROLE &&
        (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0 ||
         reply->element[0]->type != REDIS_REPLY_STRING ||
         strcmp(reply->element[0]->str, "master") != 0)) {
        /* The Sentinel's answer is already old (a failover under way): ask again. */
        drop_connection(r, "the address the Sentinel gave is not the master's");
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        if (transient_error(reply)) {
            /* Loading the dataset: ask again shortly, without dropping the connection. */
            r->handshake_pending = 0;
            ev_timer_stop(r->loop, &r->probe_timer);
            ev_timer_set(&r->probe_timer, 0.1, 0.);
            ev_timer_start(r->loop, &r->probe_timer);
            return;
        }
        log_warn(r, "Redis refused the handshake", reply->str);
        drop_connection(r, "handshake refused");
        return;
    }
    if (script_index >= 0 && (size_t)script_index < r->n_scripts &&
        reply->type == REDIS_REPLY_STRING && reply->len == 40) {
        memcpy(r->scripts[script_index]->sha, reply->str, 40);
        r->scripts[script_index]->sha[40] = '\0';
    }
    if (--r->handshake_pending == 0 && r->state == ST_HANDSHAKE) {
        r->state = ST_READY;
        r->backoff_ms = r->backoff_min_ms;
        r->consecutive_timeouts = 0;
        set_ready(r, true);
        bsl_log_with(r->log, BSL_LOG_INFO, NULL, NULL,
                     (bsl_log_field[]){ BSL_LOG_STR("component", r->name) }, 1,
                     "connected to Redis");
    }
}

/* AUTH, SELECT, SCRIPT LOAD of every script, then PING: ready when the PING answers. */
static void handshake_step(bsl_redis *r)
{
    redisAsyncContext *ac = r->ac;
    r->handshake_pending = 0;
    if (r->password[0] != '\0') {
        redisAsyncCommand(ac, on_handshake_reply, (void *)(intptr_t)-1, "AUTH %s", r->password);
        r->handshake_pending++;
    }
    if (r->db != 0) {
        redisAsyncCommand(ac, on_handshake_reply, (void *)(intptr_t)-1, "SELECT %d", r->db);
        r->handshake_pending++;
    }
    for (size_t i = 0; i < r->n_scripts; i++) {
        redisAsyncCommand(ac, on_handshake_reply, (void *)(intptr_t)i, "SCRIPT LOAD %s",
                          r->scripts[i]->body);
        r->handshake_pending++;
    }
    if (r->n_sentinels > 0) {
        redisAsyncCommand(ac, on_handshake_reply, (void *)(intptr_t)HANDSHAKE_ROLE, "ROLE");
        r->handshake_pending++;
    }
    redisAsyncCommand(ac, on_handshake_reply, (void *)(intptr_t)-1, "PING");
    r->handshake_pending++;
}

static void on_probe_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    bsl_redis *r = w->data;
    if (r->ac != NULL && r->state == ST_HANDSHAKE) {
        handshake_step(r);
    }
}

static void start_target(bsl_redis *r);

/* A Sentinel's answer: {ip, port} of the master, or nil when it does not know the name. */
static void on_sentinel_reply(redisAsyncContext *ac, void *reply_v, void *privdata)
{
    (void)privdata;
    bsl_redis *r = ac->data;
    redisReply *reply = reply_v;
    if (r == NULL || reply == NULL || r->state != ST_ASKING) {
        return; /* connection already gone; its disconnect handling reschedules */
    }
    ev_timer_stop(r->loop, &r->connect_timer);
    char host[sizeof(r->host)];
    long port = 0;
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[1]->type == REDIS_REPLY_STRING && reply->element[1]->len > 0 &&
        reply->element[1]->len < 6) {
        char *e;
        port = strtol(reply->element[1]->str, &e, 10);
        if (*e != '\0') {
            port = 0;
        }
    }
    if (port <= 0 || port > 65535 || reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[0]->len == 0 || reply->element[0]->len >= sizeof(host)) {
        log_warn(r, "a Sentinel gave no master address",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : r->master_name);
        bsl_counter_add(r->errors, 1);
        drop_connection(r, "asking another Sentinel");
        return;
    }
    memcpy(host, reply->element[0]->str, reply->element[0]->len);
    host[reply->element[0]->len] = '\0';
    /* Done with the Sentinel (hiredis frees the context once this callback returns). */
    r->ac = NULL;
    ac->data = NULL;
    redisAsyncFree(ac);
    r->asking = false;
    r->state = ST_DISCONNECTED;
    snprintf(r->host, sizeof(r->host), "%s", host);
    r->port = (int)port;
    bsl_log_with(r->log, BSL_LOG_INFO, NULL, NULL,
                 (bsl_log_field[]){ BSL_LOG_STR("component", r->name),
                                    BSL_LOG_STR("master", r->master_name),
                                    BSL_LOG_STR("host", r->host), BSL_LOG_INT("port", r->port) },
                 4, "the Sentinels' master");
    start_target(r);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    bsl_redis *r = ac->data;
    if (r == NULL) {
        return;
    }
    ev_timer_stop(r->loop, &r->connect_timer);
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback and calls no disconnect callback. */
        log_warn(r, "cannot connect to Redis", ac->errstr);
        r->ac = NULL;
        bsl_counter_add(r->errors, 1);
        schedule_reconnect(r);
        return;
    }
    if (r->asking) {
        r->state = ST_ASKING;
        redisAsyncCommand(r->ac, on_sentinel_reply, NULL, "SENTINEL get-master-addr-by-name %s",
                          r->master_name);
        ev_timer_set(&r->connect_timer, r->connect_timeout_ms / 1e3, 0.);
        ev_timer_start(r->loop, &r->connect_timer);
        return;
    }
    r->state = ST_HANDSHAKE;
    handshake_step(r);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    bsl_redis *r = ac->data;
    if (r == NULL) {
        return; /* we freed it ourselves */
    }
    r->ac = NULL;
    if (r->state == ST_CLOSING) {
        return;
    }
    for (size_t i = 0; i < r->n_scripts; i++) {
        r->scripts[i]->sha[0] = '\0';
    }
    log_warn(r, "lost the Redis connection", status == REDIS_OK ? "closed" : ac->errstr);
    schedule_reconnect(r);
}

/* Lets go of the loop's side of a job (the last side frees it). */
static void job_release(resolve_job *j)
{
    pthread_mutex_lock(&j->mtx);
    j->wanted = false;
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->mtx);
    if (last) {
        pthread_mutex_destroy(&j->mtx);
        free(j);
    }
}

static void *resolve_main(void *arg)
{
    resolve_job *j = arg;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    char addr[INET6_ADDRSTRLEN] = "", err[128] = "";
    int rv = getaddrinfo(j->host, j->port, &hints, &res);
    if (rv != 0) {
        snprintf(err, sizeof(err), "%s", gai_strerror(rv));
    } else {
        rv =
            getnameinfo(res->ai_addr, res->ai_addrlen, addr, sizeof(addr), NULL, 0, NI_NUMERICHOST);
        if (rv != 0) {
            snprintf(err, sizeof(err), "%s", gai_strerror(rv));
            addr[0] = '\0';
        }
        freeaddrinfo(res);
    }
    pthread_mutex_lock(&j->mtx);
    memcpy(j->addr, addr, sizeof(addr));
    memcpy(j->err, err, sizeof(err));
    if (j->wanted) {
        ev_async_send(j->loop, j->wake);
    }
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->mtx);
    if (last) {
        pthread_mutex_destroy(&j->mtx);
        free(j);
    }
    return NULL;
}

static void connect_to(bsl_redis *r, const char *addr);

/* The resolver thread answered (on the loop). */
static void on_resolved(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    bsl_redis *r = w->data;
    resolve_job *j = r->job;
    if (j == NULL) {
        return;
    }
    char addr[INET6_ADDRSTRLEN], err[128];
    pthread_mutex_lock(&j->mtx);
    memcpy(addr, j->addr, sizeof(addr));
    memcpy(err, j->err, sizeof(err));
    pthread_mutex_unlock(&j->mtx);
    r->job = NULL;
    job_release(j);
    ev_async_stop(r->loop, &r->resolved);
    if (r->state != ST_RESOLVING) {
        return;
    }
    if (addr[0] == '\0') {
        log_warn(r, "cannot resolve the Redis host", err);
        bsl_counter_add(r->errors, 1);
        schedule_reconnect(r);
        return;
    }
    connect_to(r, addr);
}

/* Starts resolving r->host on a thread. Returns 0, or -1 when no thread could be made. */
static int start_resolve(bsl_redis *r)
{
    resolve_job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return -1;
    }
    pthread_mutex_init(&j->mtx, NULL);
    j->refs = 2; /* the loop's side and the thread's */
    j->wanted = true;
    j->loop = r->loop;
    j->wake = &r->resolved;
    snprintf(j->host, sizeof(j->host), "%s", r->host);
    snprintf(j->port, sizeof(j->port), "%d", r->port);
    /* Started before the thread: ev_async_start clears a send that came first. */
    ev_async_start(r->loop, &r->resolved);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rv = pthread_create(&t, &attr, resolve_main, j);
    pthread_attr_destroy(&attr);
    if (rv != 0) {
        ev_async_stop(r->loop, &r->resolved);
        pthread_mutex_destroy(&j->mtx);
        free(j);
        return -1;
    }
    r->job = j;
    r->state = ST_RESOLVING;
    return 0;
}

static void start_connect(bsl_redis *r)
{
    if (r->state == ST_CLOSING) {
        return;
    }
    bsl_counter_add(r->reconnects, 1);
    if (r->unix_path[0] != '\0') {
        connect_to(r, NULL);
        return;
    }
    if (r->n_sentinels > 0) {
        /* Every (re)connection asks first, each time the next Sentinel: one that is down or
         * partitioned away costs one attempt, not all of them. */
        const sentinel_addr *s = &r->sentinels[r->next_sentinel++ % r->n_sentinels];
        snprintf(r->host, sizeof(r->host), "%s", s->host);
        r->port = s->port;
        r->asking = true;
    }
    start_target(r);
}

/* Resolves r->host if it is a name, then connects to it (a Sentinel or Redis). */
static void start_target(bsl_redis *r)
{
    /* A numeric address needs no resolution; a name is resolved off the loop (on failure to
     * make a thread, hiredis resolves it, blocking the loop as before). */
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, r->host, buf) == 1 || inet_pton(AF_INET6, r->host, buf) == 1 ||
        start_resolve(r) != 0) {
        connect_to(r, r->host);
    }
}

/* Connects to addr (NULL: the Unix socket). */
static void connect_to(bsl_redis *r, const char *addr)
{
    redisAsyncContext *ac =
        addr == NULL ? redisAsyncConnectUnix(r->unix_path) : redisAsyncConnect(addr, r->port);
    if (ac == NULL || ac->err) {
        if (ac != NULL) {
            log_warn(r, "cannot connect to Redis", ac->errstr);
            redisAsyncFree(ac);
        }
        bsl_counter_add(r->errors, 1);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    bsl_reply_slab_attach(r->replies, ac->c.reader);
    r->ac = ac;
    r->state = ST_CONNECTING;
    redisLibevAttach(r->loop, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    ev_timer_set(&r->connect_timer, r->connect_timeout_ms / 1e3, 0.);
    ev_timer_start(r->loop, &r->connect_timer);
}

int bsl_redis_create(bsl_redis **out, struct ev_loop *loop, const bsl_redis_options *o,
                     char *errbuf, size_t errlen)
{
    bsl_redis *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return BSL_ENOMEM;
    }
    r->loop = loop;
    snprintf(r->name, sizeof(r->name), "%s", o->name ? o->name : "redis");
    int rv = parse_url(r, o->url, errbuf, errlen);
    if (rv != BSL_OK) {
        free(r);
        return rv;
    }
    if ((r->replies = bsl_reply_slab_create()) == NULL) {
        free(r);
        return BSL_ENOMEM;
    }
    r->command_timeout_ms = o->command_timeout_ms ? o->command_timeout_ms : 1000;
    r->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 1000;
    r->backoff_min_ms = o->backoff_min_ms ? o->backoff_min_ms : 50;
    r->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 2000;
    r->backoff_ms = r->backoff_min_ms;
    r->log = o->log;
    if (o->metrics != NULL) {
        char name[96], help[128];
        snprintf(name, sizeof(name), "bsl_%s_errors_total", r->name);
        snprintf(help, sizeof(help), "Failed %s commands and connection attempts.", r->name);
        r->errors = bsl_metrics_counter(o->metrics, name, help);
        snprintf(name, sizeof(name), "bsl_%s_connects_total", r->name);
        snprintf(help, sizeof(help), "Connection attempts to %s (the first one included).",
                 r->name);
        r->reconnects = bsl_metrics_counter(o->metrics, name, help);
    }
    ev_timer_init(&r->reconnect_timer, on_reconnect_timer, 0., 0.);
    r->reconnect_timer.data = r;
    ev_timer_init(&r->connect_timer, on_connect_timer, 0., 0.);
    r->connect_timer.data = r;
    ev_timer_init(&r->probe_timer, on_probe_timer, 0., 0.);
    r->probe_timer.data = r;
    ev_async_init(&r->resolved, on_resolved);
    r->resolved.data = r;
    r->state = ST_DISCONNECTED;
    start_connect(r);
    *out = r;
    return BSL_OK;
}

void bsl_redis_free(bsl_redis *r)
{
    if (r == NULL) {
        return;
    }
    r->state = ST_CLOSING;
    set_ready(r, false);
    ev_timer_stop(r->loop, &r->reconnect_timer);
    ev_timer_stop(r->loop, &r->connect_timer);
    ev_timer_stop(r->loop, &r->probe_timer);
    if (r->job != NULL) {
        job_release(r->job); /* the thread finishes alone and frees it */
        r->job = NULL;
    }
    ev_async_stop(r->loop, &r->resolved);
    if (r->ac != NULL) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        ac->data = NULL;
        bsl_reply_slab_detach(ac->c.reader); /* the slab goes below */
        redisAsyncFree(ac);                  /* answers every command hiredis holds, with NULL */
    }
    /* Ops that never reached hiredis (or were answered by timeout and are now released). */
    while (r->ops != NULL) {
        redis_op *op = r->ops;
        op->in_hiredis = 0;
        op_finish(op, NULL, BSL_ECLOSED);
    }
    for (size_t i = 0; i < r->n_scripts; i++) {
        free(r->scripts[i]->body);
        free(r->scripts[i]);
    }
    bsl_reply_slab_free(r->replies);
    free(r);
}
