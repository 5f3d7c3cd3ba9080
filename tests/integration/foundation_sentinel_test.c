/*
 * Redis behind Sentinel ("redis+sentinel://" URLs), with real processes: a master, its
 * replica and one Sentinel (quorum 1, the master declared down after 500 ms), and the sessions
 * service finding the master through the Sentinel. The master is then killed: Sentinel
 * promotes the replica, and the service, having lost its connection, asks the Sentinel again
 * and serves from the new master, the bilan written before the failover included. The old
 * master comes back as a replica: the service stays on the new one. Malformed Sentinel URLs
 * stop the service at start with a message that does not echo the password. (Found on the
 * way: a sync client idle for longer than a deadline timed its next call out at once.)
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "boussole/client.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"
#include "testenv.h"

static te_env env;
static te_proc sessions;
static bsl_sync_client *sc;
static int replica_port, sentinel_port;
static pid_t extra[2]; /* the replica and the Sentinel */

#define MASTER_NAME "bsl"

/* Starts a process of our own (its own group, output to a log in the run directory). */
static pid_t start(const char *log, char *const argv[])
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", env.dir, log);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(path, "a", stdout);
        if (f == NULL || dup2(STDOUT_FILENO, STDERR_FILENO) < 0) {
            _exit(126);
        }
        setpgid(0, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static void stop_extra(void)
{
    for (size_t i = 0; i < 2; i++) {
        if (extra[i] > 0) {
            kill(extra[i], SIGKILL);
            waitpid(extra[i], NULL, 0);
            extra[i] = 0;
        }
    }
}

/* redis-cli -p port args: its output, trimmed (malloc'd). */
static char *cli(int port, const char *args)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d %s 2>/dev/null", port, args);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char *out = calloc(1, 4096);
    size_t n = fread(out, 1, 4095, f);
    pclose(f);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ')) {
        out[--n] = '\0';
    }
    return out;
}

/* Waits (at most max_ms) until `redis-cli -p port args` prints something containing want. */
static bool wait_for(int port, const char *args, const char *want, int max_ms)
{
    for (int waited = 0; waited <= max_ms; waited += 50) {
        char *out = cli(port, args);
        bool ok = strstr(out, want) != NULL;
        free(out);
        if (ok) {
            return true;
        }
        te_sleep_ms(50);
    }
    return false;
}

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "foundation-sentinel");
    atexit(stop_extra);
    te_redis_start(&env);
    char port[16], master[16], conf[700];
    replica_port = te_free_port();
    snprintf(port, sizeof(port), "%d", replica_port);
    snprintf(master, sizeof(master), "%d", env.redis_port);
    char *rargv[] = { "/usr/bin/redis-server",
                      "--port",
                      port,
                      "--bind",
                      "127.0.0.1",
                      "--save",
                      "",
                      "--appendonly",
                      "no",
                      "--dir",
                      env.dir,
                      "--dbfilename",
                      "replica.rdb",
                      "--replicaof",
                      "127.0.0.1",
                      master,
                      NULL };
    extra[0] = start("replica.log", rargv);
    sentinel_port = te_free_port();
    snprintf(conf, sizeof(conf), "%s/sentinel.conf", env.dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f,
            "port %d\nbind 127.0.0.1\ndir %s\n"
            "sentinel monitor " MASTER_NAME " 127.0.0.1 %d 1\n"
            "sentinel down-after-milliseconds " MASTER_NAME " 500\n"
            "sentinel failover-timeout " MASTER_NAME " 4000\n"
            "sentinel parallel-syncs " MASTER_NAME " 1\n",
            sentinel_port, env.dir, env.redis_port);
    fclose(f);
    char *sargv[] = { "/usr/bin/redis-server", conf, "--sentinel", NULL };
    extra[1] = start("sentinel.log", sargv);
    assert_true(wait_for(replica_port, "INFO replication", "master_link_status:up", 10000));
    assert_true(
        wait_for(sentinel_port, "SENTINEL get-master-addr-by-name " MASTER_NAME, master, 10000));
    /* Sentinel learns of replicas from the master's INFO, every 10 s: a failover before that
     * would find no replica to promote. */
    assert_true(wait_for(sentinel_port, "SENTINEL replicas " MASTER_NAME, port, 25000));
    /* Every service process of this test finds Redis through the Sentinel. */
    snprintf(env.redis_url, sizeof(env.redis_url), "redis+sentinel://127.0.0.1:%d/" MASTER_NAME,
             sentinel_port);
    te_service_start(&env, &sessions, "sessions", NULL);
    sc = te_client(sessions.url);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    bsl_sync_client_free(sc);
    te_fini(&env);
    stop_extra();
    return 0;
}

static Boussole__V1__Caller counselor(void)
{
    return te_caller(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-marie", "org-lumiere");
}

static bsl_status create_bilan(const char *key, char id[64], char *msg)
{
    Boussole__V1__CreateBilanRequest req = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    req.beneficiary_id = "b-lea";
    req.organisation_id = "org-lumiere";
    req.funding = BOUSSOLE__V1__FUNDING__FUNDING_CPF;
    req.planned_hours = 24;
    req.start_date = "2026-12-01";
    req.end_date = "2027-02-28";
    Boussole__V1__Caller c = counselor();
    bsl_call_opts o = { .caller = &c, .idempotency_key = key };
    ProtobufCMessage *resp = NULL;
    bsl_status st =
        bsl_sync_call(sc, "boussole.v1.SessionService/CreateBilan", &req.base, &o, &resp, msg, 512);
    if (st == BSL_STATUS_OK) {
        snprintf(id, 64, "%s", ((Boussole__V1__Bilan *)resp)->id);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return st;
}

static bsl_status get_bilan_within(const char *id, uint32_t deadline_ms, char *msg)
{
    Boussole__V1__GetBilanRequest req = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    req.id = (char *)id;
    Boussole__V1__Caller c = counselor();
    bsl_call_opts o = { .caller = &c, .deadline_ms = deadline_ms };
    ProtobufCMessage *resp = NULL;
    bsl_status st =
        bsl_sync_call(sc, "boussole.v1.SessionService/GetBilan", &req.base, &o, &resp, msg, 512);
    if (resp != NULL) {
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    return st;
}

static bsl_status get_bilan(const char *id, char *msg)
{
    return get_bilan_within(id, 0, msg);
}

/* The service found the master through the Sentinel; after the master dies it serves from
 * the promoted replica, with what was written before. */
static void failover(void **state)
{
    (void)state;
    char msg[512], before[64], after[64], key[128];
    assert_int_equal(create_bilan("sentinel-1", before, msg), BSL_STATUS_OK);
    assert_int_equal(get_bilan(before, msg), BSL_STATUS_OK);
    /* A sync client left idle for longer than a call's deadline: its loop's clock is as old
     * as the idle spell, and the next call must not be past its deadline at once. */
    te_sleep_ms(1300);
    assert_int_equal(get_bilan_within(before, 1000, msg), BSL_STATUS_OK);
    char *log = NULL;
    size_t len = 0;
    FILE *f = fopen(sessions.log, "r");
    assert_non_null(f);
    assert_true(getdelim(&log, &len, '\0', f) > 0);
    fclose(f);
    assert_non_null(strstr(log, "the Sentinels' master"));
    free(log);
    /* Replicated before the master goes. */
    snprintf(key, sizeof(key), "EXISTS bilan:{%s}", before);
    assert_true(wait_for(replica_port, key, "1", 5000));

    te_redis_signal(&env, SIGKILL);
    char port[16];
    snprintf(port, sizeof(port), "%d", replica_port);
    assert_true(
        wait_for(sentinel_port, "SENTINEL get-master-addr-by-name " MASTER_NAME, port, 30000));
    /* The service comes back by itself, on the new master. */
    bsl_status st = BSL_STATUS_UNAVAILABLE;
    for (int i = 0; i < 200 && st != BSL_STATUS_OK; i++) {
        st = get_bilan(before, msg);
        if (st != BSL_STATUS_OK) {
            te_sleep_ms(50);
        }
    }
    if (st != BSL_STATUS_OK) {
        fail_msg("GetBilan after the failover: %d %s", st, msg);
    }
    assert_int_equal(create_bilan("sentinel-2", after, msg), BSL_STATUS_OK);
    snprintf(key, sizeof(key), "EXISTS bilan:{%s}", after);
    char *out = cli(replica_port, key);
    assert_string_equal(out, "1");
    free(out);

    /* The old master returns, and Sentinel makes it a replica of the new one: the service
     * stays where it is, and writes keep landing on the new master. */
    te_redis_restart(&env);
    snprintf(port, sizeof(port), "%d", replica_port);
    assert_true(wait_for(env.redis_port, "INFO replication", "role:slave", 30000));
    char third[64];
    assert_int_equal(get_bilan(before, msg), BSL_STATUS_OK);
    assert_int_equal(create_bilan("sentinel-3", third, msg), BSL_STATUS_OK);
    snprintf(key, sizeof(key), "EXISTS bilan:{%s}", third);
    out = cli(replica_port, key);
    assert_string_equal(out, "1");
    free(out);
}

/* A malformed Sentinel URL stops the service at start, naming the expected form and never
 * echoing the password. */
static void bad_urls(void **state)
{
    (void)state;
    static const char *const urls[] = {
        "redis+sentinel://",
        "redis+sentinel://127.0.0.1:26379",
        "redis+sentinel://127.0.0.1:26379/",
        "redis+sentinel://127.0.0.1:0/m",
        "redis+sentinel://127.0.0.1:26379/m/16",
        "redis+sentinel://:s3cr3t-pw@127.0.0.1:26379/bad name",
        "redis+sentinel://a,b,c,d,e,f,g,h,i/m",
    };
    char bin[700];
    snprintf(bin, sizeof(bin), "%s/services/sessions/boussole-sessions", env.build);
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        char cmd[1600];
        snprintf(cmd, sizeof(cmd),
                 "BSL_MASTER_KEYS='%s' '%s' --redis-url='%s' --listen=tcp://127.0.0.1:0 "
                 "--admin= 2>&1",
                 env.master_keys, bin, urls[i]);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        char out[4096] = "";
        size_t n = fread(out, 1, sizeof(out) - 1, f);
        out[n] = '\0';
        int status = pclose(f);
        if (!WIFEXITED(status) || WEXITSTATUS(status) == 0 ||
            strstr(out, "invalid Redis URL") == NULL || strstr(out, "s3cr3t") != NULL) {
            fail_msg("%s: status %d, output: %s", urls[i], status, out);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_urls),
        cmocka_unit_test(failover),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
