/*
 * Test environment for integration tests: a real redis-server and real service processes on
 * free ports, each run in a directory under the build tree (build/testrun/<test>-<pid>/) where
 * their logs stay for inspection. Everything started is killed by te_fini, and by an atexit
 * handler if a test aborts.
 */
#ifndef BSL_TESTENV_H
#define BSL_TESTENV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "boussole/client.h"

#define TE_MAX_PROCS 32

typedef struct te_proc {
    pid_t pid;
    char name[64];
    char log[1100];
    int port;       /* RPC port */
    int admin_port; /* admin HTTP port */
    char url[128];  /* tcp://127.0.0.1:<port> */
    char binary[1100];
    char *argv[32];
    char *envp[64];
    bool owns_args; /* argv/envp strdup'd by te_service_start, freed by te_fini */
} te_proc;

typedef struct te_env {
    char dir[512];
    char build[512];
    char source[512];
    te_proc redis;
    int redis_port;
    char redis_url[128];
    bool redis_aof; /* start redis with appendonly yes, appendfsync always */
    char master_keys[128];
    char tls_dir[600]; /* set by te_tls_init: services listen on tls+tcp:// with mutual TLS */
    char clock_file[600];
    te_proc *procs[TE_MAX_PROCS];
    size_t n_procs;
} te_env;

/* A TCP port that was free a moment ago. */
int te_free_port(void);

/* Creates the run directory. name: the test's name. */
void te_init(te_env *te, const char *name);

/* Kills everything still running. */
void te_fini(te_env *te);

/* Makes a CA and a certificate for 127.0.0.1 (usable as server and client) in <dir>/tls, plus a
 * second, unrelated CA and certificate in <dir>/tls/rogue; services started afterwards listen
 * on tls+tcp:// and require client certificates. */
void te_tls_init(te_env *te);

/* TLS options for a client with the test certificate (or the rogue one). */
bsl_tls_options te_tls_options(const te_env *te, bool rogue);

/* A sync client with TLS options (NULL: plain). */
bsl_sync_client *te_client_tls(const char *target, const bsl_tls_options *tls);

/* Starts redis-server on a free port (waits for PING). */
void te_redis_start(te_env *te);
/* Sends a signal to redis (SIGKILL, SIGSTOP, SIGCONT). */
void te_redis_signal(te_env *te, int sig);
/* Restarts redis on the same port and data directory after it was killed. */
void te_redis_restart(te_env *te);
/* Runs a redis-cli command against the test redis; returns its stdout (malloc'd, trimmed). */
char *te_redis_cli(te_env *te, const char *args);

/*
 * Starts a service binary (services/<name>/boussole-<name>) on free ports, with the test's
 * Redis, master keys and clock file, plus extra "--flag=value" arguments (NULL-terminated,
 * may be NULL). Waits until /readyz answers 200 (fails the test after 10 s).
 */
void te_service_start(te_env *te, te_proc *p, const char *name, const char *const *extra_args);
/* Starts it again with the same ports and arguments. */
void te_service_restart(te_env *te, te_proc *p);

/* Sends a signal to a process. */
void te_signal(te_proc *p, int sig);
/* Waits for a process to exit (at most timeout_ms); returns its exit status, or -1 on timeout
 * (the process is then killed), or 128+signal when killed by a signal. */
int te_wait(te_proc *p, int timeout_ms);

/* Counts the threads of a running process and, among them, those scheduled with the given
 * policy (SCHED_BATCH is 3): field 41 of /proc/<pid>/task/<tid>/stat. */
void te_thread_policies(pid_t pid, int policy, int *n_threads, int *n_with_policy);

/* An HTTP GET on 127.0.0.1:port; returns the status code, body copied into body (may be
 * NULL). */
int te_http_get(int port, const char *path, char *body, size_t cap);

/* A sync client for a process's RPC URL (or any target). */
bsl_sync_client *te_client(const char *target);

/* Sets the services' clock offset (milliseconds ahead of real time). */
void te_clock_set(te_env *te, long long offset_ms);

/* Sleep for ms milliseconds. */
void te_sleep_ms(int ms);

/* Monotonic milliseconds. */
long long te_now_ms(void);

/* "YYYY-MM-DD" of the UTC day `days` after the Unix time at_ms. The text lives in one of 8
 * static buffers used in turn, so up to 8 results may be held at once (tests format their
 * dates from one thread). */
const char *te_date(long long at_ms, int days);

/* te_date of the wall clock's today plus `days`. */
const char *te_day(int days);

/* Sends raw bytes on a fresh nng REQ socket to url and waits for the answer (timeout_ms);
 * returns the decoded RpcResponse (free with boussole__v1__rpc_response__free_unpacked), or
 * NULL when nothing decodable came back in time. */
struct Boussole__V1__RpcResponse *te_raw_call(const char *url, const void *bytes, size_t len,
                                              int timeout_ms);

/* Callers for tests. */
#include "boussole/v1/rpc.pb-c.h"
Boussole__V1__Caller te_caller(Boussole__V1__Role role, const char *subject, const char *org);

#endif
