#define _GNU_SOURCE /* sched_setaffinity */
#include "testenv.h"

#include <sched.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

/* Every process started, for the atexit safety net. */
static te_env *current;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "testenv: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (current != NULL) {
        te_fini(current);
    }
    exit(1);
}

void te_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

long long te_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *te_date(long long at_ms, int days)
{
    static char bufs[8][16];
    static unsigned next;
    char *b = bufs[next++ % 8];
    time_t t = (time_t)((at_ms + (long long)days * 86400000LL) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b, 16, "%Y-%m-%d", &tm);
    return b;
}

const char *te_day(int days)
{
    return te_date((long long)time(NULL) * 1000, days);
}

int te_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        die("cannot find a free port: %s", strerror(errno));
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static void atexit_kill(void)
{
    if (current != NULL) {
        te_fini(current);
    }
}

void te_init(te_env *te, const char *name)
{
    memset(te, 0, sizeof(*te));
    const char *build = getenv("BSL_BUILD_DIR");
    const char *source = getenv("BSL_SOURCE_DIR");
    if (build == NULL || source == NULL) {
        die("BSL_BUILD_DIR and BSL_SOURCE_DIR must be set (ctest sets them)");
    }
    snprintf(te->build, sizeof(te->build), "%s", build);
    snprintf(te->source, sizeof(te->source), "%s", source);
    char base[600];
    snprintf(base, sizeof(base), "%s/testrun", build);
    mkdir(base, 0700);
    snprintf(te->dir, sizeof(te->dir), "%s/testrun/%s-%d", build, name, (int)getpid());
    mkdir(te->dir, 0700);
    /* A fixed test key: tests must be reproducible, and this key protects nothing real. */
    snprintf(te->master_keys, sizeof(te->master_keys),
             "test1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
    snprintf(te->clock_file, sizeof(te->clock_file), "%s/clock-offset", te->dir);
    te_clock_set(te, 0);
    if (current == NULL) {
        atexit(atexit_kill);
    }
    current = te;
}

static void kill_proc(te_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGCONT);
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
}

/* Stops a service the way an orchestrator does, SIGTERM then a grace period, so that it exits
 * through its normal path (where LeakSanitizer checks the sanitized build for leaks); SIGKILL
 * only if it does not. */
static void stop_proc(te_proc *p)
{
    if (p->pid <= 0) {
        return;
    }
    kill(p->pid, SIGCONT);
    kill(p->pid, SIGTERM);
    long long until = te_now_ms() + 8000;
    while (te_now_ms() < until) {
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            p->pid = 0;
            return;
        }
        te_sleep_ms(10);
    }
    fprintf(stderr, "testenv: %s did not stop within 8 s of SIGTERM; killing it\n", p->name);
    kill_proc(p);
}

static void free_args(te_proc *p)
{
    if (!p->owns_args) {
        return;
    }
    for (size_t i = 0; p->argv[i] != NULL; i++) {
        free(p->argv[i]);
        p->argv[i] = NULL;
    }
    for (size_t i = 0; p->envp[i] != NULL; i++) {
        free(p->envp[i]);
        p->envp[i] = NULL;
    }
    p->owns_args = false;
}

void te_fini(te_env *te)
{
    for (size_t i = 0; i < te->n_procs; i++) {
        stop_proc(te->procs[i]);
        free_args(te->procs[i]);
    }
    te->n_procs = 0;
    kill_proc(&te->redis);
    if (current == te) {
        current = NULL;
    }
}

static void spawn(te_proc *p)
{
    int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0) {
        die("cannot open %s: %s", p->log, strerror(errno));
    }
    pid_t pid = fork();
    if (pid < 0) {
        die("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
        setpgid(0, 0);
        /* Benchmarks pin servers to one core and their load to another (TE_SERVER_CPU). */
        const char *cpu = getenv("TE_SERVER_CPU");
        if (cpu != NULL && cpu[0] != '\0') {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(atoi(cpu), &set);
            sched_setaffinity(0, sizeof(set), &set);
        }
        if (p->envp[0] != NULL) {
            for (size_t i = 0; p->envp[i] != NULL; i++) {
                putenv(p->envp[i]);
            }
        }
        execv(p->binary, p->argv);
        fprintf(stderr, "exec %s: %s\n", p->binary, strerror(errno));
        _exit(127);
    }
    close(fd);
    p->pid = pid;
}

static void track(te_env *te, te_proc *p)
{
    for (size_t i = 0; i < te->n_procs; i++) {
        if (te->procs[i] == p) {
            return;
        }
    }
    if (te->n_procs == TE_MAX_PROCS) {
        die("too many processes");
    }
    te->procs[te->n_procs++] = p;
}

char *te_redis_cli(te_env *te, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d %s 2>/dev/null", te->redis_port, args);
    FILE *f = popen(cmd, "r");
    if (f == NULL) {
        die("popen redis-cli");
    }
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    size_t n;
    while (out != NULL && (n = fread(out + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 >= cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
    }
    pclose(f);
    if (out == NULL) {
        die("out of memory");
    }
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' ')) {
        len--;
    }
    out[len] = '\0';
    return out;
}

static void redis_wait(te_env *te)
{
    for (int i = 0; i < 200; i++) {
        char *pong = te_redis_cli(te, "PING");
        bool ok = strcmp(pong, "PONG") == 0;
        free(pong);
        if (ok) {
            return;
        }
        te_sleep_ms(25);
    }
    die("redis-server did not start (see %s)", te->redis.log);
}

static void redis_spawn(te_env *te)
{
    te_proc *p = &te->redis;
    static char port[16];
    snprintf(port, sizeof(port), "%d", te->redis_port);
    snprintf(p->binary, sizeof(p->binary), "/usr/bin/redis-server");
    snprintf(p->name, sizeof(p->name), "redis");
    snprintf(p->log, sizeof(p->log), "%s/redis.log", te->dir);
    int i = 0;
    p->argv[i++] = "redis-server";
    p->argv[i++] = "--port";
    p->argv[i++] = port;
    p->argv[i++] = "--bind";
    p->argv[i++] = "127.0.0.1";
    p->argv[i++] = "--dir";
    p->argv[i++] = te->dir;
    p->argv[i++] = "--save";
    p->argv[i++] = "";
    p->argv[i++] = "--appendonly";
    p->argv[i++] = te->redis_aof ? "yes" : "no";
    p->argv[i++] = "--appendfsync";
    p->argv[i++] = "always";
    p->argv[i] = NULL;
    p->envp[0] = NULL;
    spawn(p);
    redis_wait(te);
}

void te_redis_start(te_env *te)
{
    te->redis_port = te_free_port();
    snprintf(te->redis_url, sizeof(te->redis_url), "redis://127.0.0.1:%d", te->redis_port);
    redis_spawn(te);
}

void te_redis_signal(te_env *te, int sig)
{
    if (te->redis.pid > 0) {
        kill(te->redis.pid, sig);
        if (sig == SIGKILL) {
            waitpid(te->redis.pid, NULL, 0);
            te->redis.pid = 0;
        }
    }
}

void te_redis_restart(te_env *te)
{
    if (te->redis.pid > 0) {
        te_redis_signal(te, SIGKILL);
    }
    redis_spawn(te);
}

void te_clock_set(te_env *te, long long offset_ms)
{
    char tmp[700];
    snprintf(tmp, sizeof(tmp), "%s.tmp", te->clock_file);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        die("cannot write %s", tmp);
    }
    fprintf(f, "%lld\n", offset_ms);
    fclose(f);
    rename(tmp, te->clock_file); /* a new inode: its mtime always changes */
}

int te_http_get(int port, const char *path, char *body, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t rcap = 1 << 20, len = 0;
    char *resp = malloc(rcap);
    ssize_t r;
    while (resp != NULL && len + 1 < rcap) {
        r = read(fd, resp + len, rcap - len - 1);
        if (r < 0 && errno == EINTR) {
            continue; /* SIGCHLD: a socket with a receive timeout is not restarted */
        }
        if (r <= 0) {
            break;
        }
        len += (size_t)r;
    }
    close(fd);
    if (resp == NULL) {
        return -1;
    }
    resp[len] = '\0';
    int status = -1;
    sscanf(resp, "HTTP/1.%*d %d", &status);
    if (body != NULL && cap > 0) {
        char *b = strstr(resp, "\r\n\r\n");
        snprintf(body, cap, "%s", b ? b + 4 : "");
    }
    free(resp);
    return status;
}

static void service_wait_ready(te_env *te, te_proc *p)
{
    (void)te;
    for (int i = 0; i < 400; i++) {
        int st = te_http_get(p->admin_port, "/readyz", NULL, 0);
        if (st == 200) {
            return;
        }
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            die("%s exited while starting (see %s)", p->name, p->log);
        }
        te_sleep_ms(25);
    }
    die("%s did not become ready (see %s)", p->name, p->log);
}

void te_service_start(te_env *te, te_proc *p, const char *name, const char *const *extra_args)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->binary, sizeof(p->binary), "%s/services/%s/boussole-%s", te->build, name, name);
    p->port = te_free_port();
    p->admin_port = te_free_port();
    snprintf(p->url, sizeof(p->url), "%s://127.0.0.1:%d", te->tls_dir[0] ? "tls+tcp" : "tcp",
             p->port);
    snprintf(p->log, sizeof(p->log), "%s/%s-%d.log", te->dir, name, p->port);
    int i = 0;
    p->argv[i++] = strdup(p->binary);
    char buf[1024];
    snprintf(buf, sizeof(buf), "--listen=%s", p->url);
    p->argv[i++] = strdup(buf);
    snprintf(buf, sizeof(buf), "--admin=http://127.0.0.1:%d", p->admin_port);
    p->argv[i++] = strdup(buf);
    snprintf(buf, sizeof(buf), "--redis-url=%s", te->redis_url);
    p->argv[i++] = strdup(buf);
    snprintf(buf, sizeof(buf), "--clock-file=%s", te->clock_file);
    p->argv[i++] = strdup(buf);
    if (te->tls_dir[0] != '\0') {
        snprintf(buf, sizeof(buf), "--tls-cert=%s/svc.crt", te->tls_dir);
        p->argv[i++] = strdup(buf);
        snprintf(buf, sizeof(buf), "--tls-key=%s/svc.key", te->tls_dir);
        p->argv[i++] = strdup(buf);
        snprintf(buf, sizeof(buf), "--tls-ca=%s/ca.crt", te->tls_dir);
        p->argv[i++] = strdup(buf);
    }
    for (size_t k = 0; extra_args != NULL && extra_args[k] != NULL && i < 30; k++) {
        p->argv[i++] = strdup(extra_args[k]);
    }
    p->argv[i] = NULL;
    p->owns_args = true;
    snprintf(buf, sizeof(buf), "BSL_MASTER_KEYS=%s", te->master_keys);
    p->envp[0] = strdup(buf);
    p->envp[1] = NULL;
    track(te, p);
    spawn(p);
    service_wait_ready(te, p);
}

void te_service_restart(te_env *te, te_proc *p)
{
    if (p->pid > 0) {
        kill_proc(p);
    }
    spawn(p);
    service_wait_ready(te, p);
}

void te_signal(te_proc *p, int sig)
{
    if (p->pid > 0) {
        kill(p->pid, sig);
    }
}

int te_wait(te_proc *p, int timeout_ms)
{
    long long until = te_now_ms() + timeout_ms;
    while (te_now_ms() < until) {
        int status;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            if (WIFEXITED(status)) {
                return WEXITSTATUS(status);
            }
            return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
        }
        te_sleep_ms(10);
    }
    kill_proc(p);
    return -1;
}

static void run(const char *cmd)
{
    if (system(cmd) != 0) {
        die("command failed: %s", cmd);
    }
}

static void make_ca_and_cert(const char *dir)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd),
             "set -e; mkdir -p '%s'; cd '%s';"
             "printf 'subjectAltName=DNS:localhost,DNS:127.0.0.1,IP:127.0.0.1\n"
             "extendedKeyUsage=serverAuth,clientAuth\n' > ext.cnf;"
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.crt -days 2 -subj /CN=boussole-test-ca 2>/dev/null;"
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout svc.key -out svc.csr -subj /CN=127.0.0.1 2>/dev/null;"
             "openssl x509 -req -in svc.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
             "-out svc.crt -days 2 -extfile ext.cnf 2>/dev/null",
             dir, dir);
    run(cmd);
}

void te_tls_init(te_env *te)
{
    char dir[700];
    snprintf(te->tls_dir, sizeof(te->tls_dir), "%s/tls", te->dir);
    make_ca_and_cert(te->tls_dir);
    snprintf(dir, sizeof(dir), "%s/rogue", te->tls_dir);
    make_ca_and_cert(dir);
}

bsl_tls_options te_tls_options(const te_env *te, bool rogue)
{
    static char cert[2][800], key[2][800], ca[2][800];
    int i = rogue ? 1 : 0;
    const char *sub = rogue ? "/rogue" : "";
    snprintf(cert[i], sizeof(cert[i]), "%s%s/svc.crt", te->tls_dir, sub);
    snprintf(key[i], sizeof(key[i]), "%s%s/svc.key", te->tls_dir, sub);
    /* The rogue client trusts the real CA (so only the server's check of its certificate can
     * refuse it). */
    snprintf(ca[i], sizeof(ca[i]), "%s/ca.crt", te->tls_dir);
    bsl_tls_options o = { .cert_file = cert[i], .key_file = key[i], .ca_file = ca[i] };
    return o;
}

bsl_sync_client *te_client(const char *target)
{
    return te_client_tls(target, NULL);
}

bsl_sync_client *te_client_tls(const char *target, const bsl_tls_options *tls)
{
    bsl_client_options o = { .target = target, .name = "test", .tls = tls };
    bsl_sync_client *sc;
    char err[256];
    if (bsl_sync_client_create(&sc, &o, err, sizeof(err)) != 0) {
        die("client for %s: %s", target, err);
    }
    /* Wait for the connection, so that a test's first call does not race it. */
    for (int i = 0; i < 400; i++) {
        unsigned known, connected;
        bsl_client_replicas(bsl_sync_client_client(sc), &known, &connected);
        if (connected > 0) {
            break;
        }
        ev_run(bsl_sync_client_loop(sc), EVRUN_NOWAIT);
        te_sleep_ms(5);
    }
    return sc;
}

Boussole__V1__RpcResponse *te_raw_call(const char *url, const void *bytes, size_t len,
                                       int timeout_ms)
{
    nng_socket s;
    if (nng_req0_open(&s) != 0) {
        return NULL;
    }
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
    nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    Boussole__V1__RpcResponse *resp = NULL;
    if (nng_dial(s, url, NULL, 0) == 0 && nng_send(s, (void *)bytes, len, 0) == 0) {
        void *buf;
        size_t n;
        if (nng_recv(s, &buf, &n, NNG_FLAG_ALLOC) == 0) {
            resp = boussole__v1__rpc_response__unpack(NULL, n, buf);
            nng_free(buf, n);
        }
    }
    nng_close(s);
    return resp;
}

Boussole__V1__Caller te_caller(Boussole__V1__Role role, const char *subject, const char *org)
{
    Boussole__V1__Caller c = BOUSSOLE__V1__CALLER__INIT;
    c.role = role;
    c.subject = (char *)subject;
    c.organisation = (char *)(org ? org : "");
    return c;
}

void te_thread_policies(pid_t pid, int policy, int *n_threads, int *n_with_policy)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    *n_threads = *n_with_policy = 0;
    DIR *d = opendir(path);
    if (d == NULL) {
        die("cannot read %s", path);
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char stat_path[400], line[1024];
        snprintf(stat_path, sizeof(stat_path), "%s/%s/stat", path, e->d_name);
        FILE *f = fopen(stat_path, "r");
        if (f == NULL) {
            continue; /* the thread ended meanwhile */
        }
        size_t n = fread(line, 1, sizeof(line) - 1, f);
        fclose(f);
        line[n] = '\0';
        /* The command name (field 2) may hold spaces: count fields after its ')'. */
        char *p = strrchr(line, ')');
        if (p == NULL) {
            continue;
        }
        int field = 2;
        long value = -1;
        for (char *tok = strtok(p + 1, " "); tok != NULL; tok = strtok(NULL, " ")) {
            if (++field == 41) {
                value = strtol(tok, NULL, 10);
                break;
            }
        }
        (*n_threads)++;
        if (value == policy) {
            (*n_with_policy)++;
        }
    }
    closedir(d);
}
