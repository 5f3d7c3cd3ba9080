/*
 * The processes of a Boussole stack for the reliability drivers: redis-server, the services and
 * the gateway, each on any address (a network namespace's included) and optionally under a
 * wrapper (valgrind, `ip netns exec`), with their logs in one directory. Header-only, on top of
 * rel_harness.h.
 */
#ifndef REL_STACK_H
#define REL_STACK_H

#include "rel_harness.h"

/* The test keys: they protect nothing real. */
#define STACK_MASTER_KEYS "test1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define STACK_JWT_SECRET  "reliability-secret-0123456789abcdef0123456789ab"

typedef struct stack {
    char build[512]; /* the build tree holding the binaries */
    char dir[512];   /* logs and Redis data */
    int ready_ms;    /* how long a process may take to become ready */
} stack;

/* Where the binaries are; the run directory (created). */
static void stack_init(stack *s, const char *build, const char *dir)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->build, sizeof(s->build), "%s", build);
    snprintf(s->dir, sizeof(s->dir), "%s", dir);
    mkdir(dir, 0700);
    s->ready_ms = 20000;
}

/* Every process started, so that none outlives the driver, even when it dies on a failed
 * check (rel_die exits): an atexit handler kills what is still running, and each pid goes to
 * $BSL_REL_PIDS, which run.sh's trap reads. */
#define STACK_MAX_PROCS 32
static rel_proc *stack_procs[STACK_MAX_PROCS];
static int stack_n_procs;

static void stack_kill_all(void)
{
    for (int i = 0; i < stack_n_procs; i++) {
        if (stack_procs[i]->pid > 0) {
            kill(stack_procs[i]->pid, SIGKILL);
            waitpid(stack_procs[i]->pid, NULL, 0);
            stack_procs[i]->pid = 0;
        }
    }
}

static void stack_track(rel_proc *p)
{
    if (stack_n_procs == 0) {
        atexit(stack_kill_all);
    }
    if (stack_n_procs < STACK_MAX_PROCS) {
        stack_procs[stack_n_procs++] = p;
    }
    const char *file = getenv("BSL_REL_PIDS");
    FILE *f = file ? fopen(file, "a") : NULL;
    if (f != NULL) {
        fprintf(f, "%d\n", (int)p->pid);
        fclose(f);
    }
}

/* argv = wrap (NULL-terminated, may be NULL) + rest (NULL-terminated). */
static void stack_spawn(stack *s, rel_proc *p, const char *name, const char *const *wrap,
                        const char *const *rest, const char *const *env)
{
    const char *argv[48];
    int n = 0;
    for (int i = 0; wrap != NULL && wrap[i] != NULL && n < 20; i++) {
        argv[n++] = wrap[i];
    }
    for (int i = 0; rest[i] != NULL && n < 47; i++) {
        argv[n++] = rest[i];
    }
    argv[n] = NULL;
    char log[1100];
    snprintf(log, sizeof(log), "%s/%s.log", s->dir, name);
    rel_spawn(p, name, log, argv, env);
    stack_track(p);
}

/* redis-server on host:port (appendfsync always when aof). Waits for PING. */
static void stack_redis(stack *s, rel_proc *p, const char *host, int port, bool aof)
{
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    const char *argv[] = { "/usr/bin/redis-server",
                           "--port",
                           portbuf,
                           "--bind",
                           host,
                           "--dir",
                           s->dir,
                           "--save",
                           "",
                           "--appendonly",
                           aof ? "yes" : "no",
                           "--appendfsync",
                           "always",
                           "--protected-mode",
                           "no",
                           NULL };
    stack_spawn(s, p, "redis", NULL, argv, NULL);
    char *cmd = rel_fmt("redis-cli -h %s -p %d PING 2>/dev/null", host, port);
    for (int i = 0; i < 400; i++) {
        char *out = rel_run(cmd, NULL);
        bool ok = strcmp(out, "PONG") == 0;
        free(out);
        if (ok) {
            free(cmd);
            return;
        }
        rel_sleep_ms(25);
    }
    rel_die("redis-server did not start on %s:%d (see %s)", host, port, p->log);
}

/*
 * A service (sessions, questionnaires, syntheses) listening on tcp://host:rpc, admin on
 * http://host:admin, with more "--flag=value" in extra (may be NULL). Waits for /readyz.
 */
static void stack_service(stack *s, rel_proc *p, const char *svc, const char *logname,
                          const char *const *wrap, const char *host, int rpc, int admin,
                          const char *redis_url, const char *const *extra)
{
    char bin[700], listen[128], adm[128], redis[160];
    snprintf(bin, sizeof(bin), "%s/services/%s/boussole-%s", s->build, svc, svc);
    snprintf(listen, sizeof(listen), "--listen=tcp://%s:%d", host, rpc);
    snprintf(adm, sizeof(adm), "--admin=http://%s:%d", host, admin);
    snprintf(redis, sizeof(redis), "--redis-url=%s", redis_url);
    const char *argv[32] = { bin, listen, adm, redis };
    int n = 4;
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    const char *env[] = { "BSL_MASTER_KEYS=" STACK_MASTER_KEYS, NULL };
    stack_spawn(s, p, logname, wrap, argv, env);
    if (!rel_wait_http(p, host, admin, "/readyz", s->ready_ms)) {
        rel_die("%s did not become ready (see %s)", logname, p->log);
    }
}

/* The gateway on http://host:port with its routes in extra ("--sessions-url=..." etc.).
 * Waits for /readyz (every backend answers). */
static void stack_gateway(stack *s, rel_proc *p, const char *logname, const char *const *wrap,
                          const char *host, int port, const char *const *extra)
{
    char bin[700], http[128];
    snprintf(bin, sizeof(bin), "%s/services/gateway/boussole-gateway", s->build);
    snprintf(http, sizeof(http), "--http=http://%s:%d", host, port);
    const char *argv[32] = { bin, http, "--rate-limit=0" };
    int n = 3;
    for (int i = 0; extra != NULL && extra[i] != NULL && n < 31; i++) {
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    const char *env[] = { "BSL_JWT_SECRET=" STACK_JWT_SECRET, NULL };
    stack_spawn(s, p, logname, wrap, argv, env);
    if (!rel_wait_http(p, host, port, "/readyz", s->ready_ms)) {
        rel_die("%s did not become ready (see %s)", logname, p->log);
    }
}

static char *stack_token(stack *s, const char *sub, const char *role, const char *org)
{
    char ctl[700];
    snprintf(ctl, sizeof(ctl), "%s/services/gateway/boussolectl", s->build);
    return rel_token(ctl, STACK_JWT_SECRET, sub, role, org, NULL);
}

/* The sum of a service's bsl_rpc_requests_total for one method (every code), from its
 * /metrics; -1 when it does not answer. */
static long long stack_calls(const char *host, int admin, const char *method)
{
    char *body = NULL;
    if (rel_http_get(host, admin, "/metrics", &body) != 200 || body == NULL) {
        free(body);
        return -1;
    }
    long long sum = 0;
    char pat[256];
    snprintf(pat, sizeof(pat), "method=\"%s\",code=", method);
    for (char *line = body; line != NULL && *line; line = strchr(line, '\n')) {
        if (*line == '\n') {
            line++;
        }
        if (strncmp(line, "bsl_rpc_requests_total{", 23) == 0 && strstr(line, pat) != NULL) {
            char *sp = strchr(line, '}');
            if (sp != NULL) {
                sum += strtoll(sp + 1, NULL, 10);
            }
        }
    }
    free(body);
    return sum;
}

#endif /* REL_STACK_H */
