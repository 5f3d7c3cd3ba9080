/* Small runtime modules: the arena, configuration, ids, dates and the clock, log escaping. */
#define _GNU_SOURCE /* SCHED_BATCH */
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "boussole/arena.h"
#include "boussole/clock.h"
#include "boussole/config.h"
#include "boussole/err.h"
#include "boussole/id.h"
#include "boussole/exitguard.h"
#include "boussole/log.h"
#include "boussole/sched.h"
#include "boussole/service.h"
#include "boussole/v1/rpc.pb-c.h"

static void arena(void **state)
{
    (void)state;
    bsl_arena *a = bsl_arena_create();
    assert_non_null(a);
    for (int i = 0; i < 1000; i++) {
        void *p = bsl_arena_alloc(a, (size_t)(i % 37) + 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        memset(p, 0xab, (size_t)(i % 37) + 1);
    }
    char *big = bsl_arena_alloc(a, 1 << 20); /* larger than any chunk so far */
    assert_non_null(big);
    memset(big, 1, 1 << 20);
    assert_string_equal(bsl_arena_printf(a, "%s-%d", "x", 42), "x-42");
    assert_null(bsl_arena_calloc(a, SIZE_MAX / 2, 4)); /* overflow refused */
    /* protobuf-c decodes into it. */
    Boussole__V1__Caller c = BOUSSOLE__V1__CALLER__INIT;
    c.subject = "léa";
    uint8_t buf[64];
    size_t n = boussole__v1__caller__pack(&c, buf);
    Boussole__V1__Caller *d = boussole__v1__caller__unpack(bsl_arena_allocator(a), n, buf);
    assert_non_null(d);
    assert_string_equal(d->subject, "léa");
    assert_true(bsl_arena_used(a) > (1 << 20));
    bsl_arena_free(a);
}

static void config(void **state)
{
    (void)state;
    bsl_option opts[] = {
        { "redis-url", "redis://x:1", "h", NULL },
        { "grace-ms", "100", "h", NULL },
        { "name", NULL, "h", NULL },
    };
    setenv("BSL_GRACE_MS", "250", 1);
    setenv("BSL_NAME", "from-env", 1);
    char *argv[] = { "prog", "--name=from-flag", "--redis-url", "redis://y:2", NULL };
    char err[256];
    assert_int_equal(bsl_options_parse(opts, 3, "prog", "about", 4, argv, err, sizeof(err)),
                     BSL_OK);
    assert_string_equal(bsl_option_get(opts, 3, "redis-url"), "redis://y:2");
    assert_string_equal(bsl_option_get(opts, 3, "name"), "from-flag"); /* flag beats env */
    uint32_t v;
    assert_int_equal(bsl_option_u32(opts, 3, "grace-ms", 0, 1000, &v, err, sizeof(err)), BSL_OK);
    assert_int_equal(v, 250); /* env beats default */
    assert_int_not_equal(bsl_option_u32(opts, 3, "grace-ms", 0, 100, &v, err, sizeof(err)), BSL_OK);
    assert_non_null(strstr(err, "grace-ms"));
    char *bad[] = { "prog", "--nope=1", NULL };
    assert_int_equal(bsl_options_parse(opts, 3, "prog", "about", 2, bad, err, sizeof(err)),
                     BSL_EINVAL);
    assert_non_null(strstr(err, "--nope"));
    char *missing[] = { "prog", "--name", NULL };
    assert_int_equal(bsl_options_parse(opts, 3, "prog", "about", 2, missing, err, sizeof(err)),
                     BSL_EINVAL);
    unsetenv("BSL_GRACE_MS");
    unsetenv("BSL_NAME");
}

static void ids(void **state)
{
    (void)state;
    char a[BSL_ID_LEN + 1], b[BSL_ID_LEN + 1];
    bsl_id_new(a);
    bsl_id_new(b);
    assert_true(bsl_id_valid(a));
    assert_string_not_equal(a, b);
    bsl_id_derive(a, "bilan", "c-1", "key");
    bsl_id_derive(b, "bilan", "c-1", "key");
    assert_string_equal(a, b);
    assert_true(bsl_id_valid(a));
    bsl_id_derive(b, "bilan", "c-1k", "ey"); /* the boundary between parts matters */
    assert_string_not_equal(a, b);
    assert_false(bsl_id_valid("bilan:{*}"));
    assert_false(bsl_id_valid("0123456789abcdefghjkmnpqrsu")); /* 27 characters */
    assert_false(bsl_id_valid("0123456789abcdefghjkmnpqri"));  /* 'i' is not in the alphabet */
    assert_true(bsl_subject_valid("c.marie@org-1:x_y"));
    assert_false(bsl_subject_valid(""));
    assert_false(bsl_subject_valid("a b"));
    assert_false(bsl_subject_valid("a{b}"));
    char longs[200];
    memset(longs, 'a', sizeof(longs) - 1);
    longs[199] = '\0';
    assert_false(bsl_subject_valid(longs));
    char hex[65];
    bsl_sha256_hex(hex, "abc", 3);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void dates_and_clock(void **state)
{
    (void)state;
    assert_int_equal(bsl_date_parse("1970-01-01"), 0);
    assert_int_equal(bsl_date_parse("2024-02-29") - bsl_date_parse("2024-02-28"), 1);
    assert_int_equal(bsl_date_parse("2023-02-29"), -1);
    assert_int_equal(bsl_date_parse("2026-13-01"), -1);
    assert_int_equal(bsl_date_parse("2026-1-01"), -1);
    assert_int_equal(bsl_date_parse("2026-01-0x"), -1);
    char out[32];
    bsl_time_format(1764158400123LL, out, sizeof(out));
    assert_string_equal(out, "2025-11-26T12:00:00.123Z");
    /* The hand-made digits agree with gmtime across the four-digit years, before 1970 too. */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t ms = (int64_t)(x % 506000000000000ull) - 62000000000000ll; /* ~ 0005..9999 */
        char want[48];
        time_t secs = (time_t)(ms / 1000);
        int frac = (int)(ms % 1000);
        if (frac < 0) {
            frac += 1000, secs -= 1;
        }
        struct tm tm;
        gmtime_r(&secs, &tm);
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
        bsl_time_format(ms, out, sizeof(out));
        assert_string_equal(out, want);
    }
    bsl_time_format(0, out, sizeof(out));
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    bsl_time_format(-1, out, sizeof(out));
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    bsl_time_format(951782400000LL, out, sizeof(out)); /* a leap day of a century year */
    assert_string_equal(out, "2000-02-29T00:00:00.000Z");
    bsl_time_format(1764158400123LL, out, 11);
    assert_string_equal(out, "2025-11-26");

    char path[] = "/tmp/bsl-clock-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_true(write(fd, "86400000\n", 9) == 9);
    close(fd);
    bsl_clock *c;
    assert_int_equal(bsl_clock_create(&c, path), BSL_OK);
    int64_t real = bsl_clock_now_ms(NULL);
    int64_t moved = bsl_clock_now_ms(c);
    assert_true(moved - real >= 86400000 - 1000 && moved - real <= 86400000 + 1000);
    unlink(path);
    assert_true(bsl_clock_now_ms(c) - real < 1000); /* no file, no offset */
    bsl_clock_free(c);
}

static void json_escaping(void **state)
{
    (void)state;
    char buf[64];
    size_t pos = 0;
    buf[0] = '\0';
    assert_true(bsl_json_escape(buf, sizeof(buf), &pos, "a\"b\\c\n\x01\xff"));
    assert_string_equal(buf, "a\\\"b\\\\c\\n\\u0001\xef\xbf\xbd");
    pos = 0;
    assert_false(bsl_json_escape(buf, 8, &pos, "0123456789"));
    assert_int_equal(pos, 7); /* what fits is kept */
    assert_string_equal(buf, "0123456");
    pos = 0;
    assert_false(bsl_json_escape(buf, 8, &pos, "ab\"cdefghij"));
    assert_string_equal(buf, "ab\\\"cde");
}

/* Reads what the logger wrote to the file since the last call into buf (NUL-terminated);
 * returns the length. */
static size_t read_log(int fd, char *buf, size_t cap)
{
    static off_t done;
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = pread(fd, buf + n, cap - 1 - n, done)) > 0) {
        n += (size_t)r;
        done += r;
    }
    buf[n] = '\0';
    return n;
}

static void log_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/bsl-log-XXXXXX";
    int fds[2];
    fds[1] = mkstemp(path);
    assert_true(fds[1] >= 0);
    fds[0] = open(path, O_RDONLY);
    assert_true(fds[0] >= 0);
    unlink(path);
    bsl_logger *log;
    assert_int_equal(bsl_logger_create(&log, "unit\"test", BSL_LOG_DEBUG, fds[1]), BSL_OK);
    static char buf[256 * 1024];
    bsl_log_field f[] = { BSL_LOG_INT("zero", 0), BSL_LOG_INT("neg", -42),
                          BSL_LOG_INT("min", LLONG_MIN), BSL_LOG_STR("s", "caf\xc3\xa9\n") };
    bsl_log_with(log, BSL_LOG_INFO, "r1", "t1", f, 4, "plain 100%% %s", "done");
    read_log(fds[0], buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"level\":\"info\",\"service\":\"unit\\\"test\","
                                "\"request_id\":\"r1\",\"trace_id\":\"t1\",\"zero\":0,"
                                "\"neg\":-42,\"min\":-9223372036854775808,"
                                "\"s\":\"caf\xc3\xa9\\n\",\"msg\":\"plain 100% done\"}\n"));
    assert_true(strncmp(buf, "{\"time\":\"20", 11) == 0);
    bsl_log(log, BSL_LOG_INFO, NULL, NULL, "no percent sign");
    read_log(fds[0], buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"msg\":\"no percent sign\"}\n"));

    /* Gathered: routine lines wait for the loop to be about to wait; a warning goes at once,
     * after them; freeing writes the rest. */
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    assert_int_equal(bsl_logger_buffer(log, loop), BSL_OK);
    assert_int_equal(bsl_logger_buffer(log, loop), BSL_EINVAL);
    bsl_log(log, BSL_LOG_INFO, NULL, NULL, "first");
    bsl_log(log, BSL_LOG_DEBUG, NULL, NULL, "second");
    assert_int_equal(read_log(fds[0], buf, sizeof(buf)), 0);
    ev_run(loop, EVRUN_NOWAIT);
    read_log(fds[0], buf, sizeof(buf));
    char *first = strstr(buf, "\"msg\":\"first\"");
    assert_non_null(first);
    assert_non_null(strstr(first, "\"msg\":\"second\""));
    bsl_log(log, BSL_LOG_INFO, NULL, NULL, "flushed");
    bsl_logger_flush(log);
    read_log(fds[0], buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"msg\":\"flushed\""));
    bsl_log(log, BSL_LOG_INFO, NULL, NULL, "third");
    bsl_log(log, BSL_LOG_WARN, NULL, NULL, "warning");
    read_log(fds[0], buf, sizeof(buf));
    char *third = strstr(buf, "\"msg\":\"third\"");
    assert_non_null(third);
    assert_non_null(strstr(third, "\"msg\":\"warning\""));
    /* More than the gathering buffer holds: written in order, nothing lost. */
    size_t total = 0;
    for (int i = 0; i < 1000; i++) {
        bsl_log(log, BSL_LOG_INFO, NULL, NULL, "line %d", i);
        total += read_log(fds[0], buf, sizeof(buf));
    }
    bsl_log(log, BSL_LOG_INFO, NULL, NULL, "last");
    bsl_logger_free(log); /* the loop still exists, as required */
    total += read_log(fds[0], buf, sizeof(buf));
    assert_non_null(strstr(buf, "\"msg\":\"last\""));
    assert_true(total > 1000 * 60);
    /* The flush watcher did not keep the loop alive: it returns at once. */
    ev_run(loop, 0);
    ev_loop_destroy(loop);
    close(fds[0]);
    close(fds[1]);
}

/* The policy switch around nng_close (sched.h): only a batch process is switched, and back. */
static void cpu_policy_switch(void **state)
{
    (void)state;
    assert_false(bsl_cpu_policy_suspend()); /* the test runs under the normal policy */
    char err[160];
    bsl_cpu_policy p;
    assert_int_equal(bsl_cpu_policy_parse("fifo", &p), BSL_EINVAL);
    assert_int_equal(bsl_cpu_policy_parse("batch", &p), BSL_OK);
    assert_int_equal(bsl_cpu_policy_apply(p, err, sizeof(err)), BSL_OK);
    assert_int_equal(sched_getscheduler(0), SCHED_BATCH);
    assert_true(bsl_cpu_policy_suspend());
    assert_int_equal(sched_getscheduler(0), SCHED_OTHER);
    bsl_cpu_policy_resume(true);
    assert_int_equal(sched_getscheduler(0), SCHED_BATCH);
    assert_true(bsl_cpu_policy_suspend()); /* and back to normal for the other tests */
    assert_int_equal(sched_getscheduler(0), SCHED_OTHER);
}

/* A process stuck after its drain is ended by the guard, with a line saying so. */
static void exit_guard(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (bsl_exit_guard(1, fds[1], "unit") != BSL_OK) {
            _exit(3);
        }
        for (;;) {
            pause(); /* stuck, as in an nng close that never returns */
        }
    }
    close(fds[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char line[600];
    ssize_t n = read(fds[0], line, sizeof(line) - 1);
    assert_true(n > 0);
    line[n] = '\0';
    assert_non_null(strstr(line, "\"level\":\"error\",\"service\":\"unit\""));
    assert_non_null(strstr(line, "closing did not finish in 1 s"));
    close(fds[0]);
}

int main(void)
{
    bsl_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena),
        cmocka_unit_test(config),
        cmocka_unit_test(ids),
        cmocka_unit_test(dates_and_clock),
        cmocka_unit_test(json_escaping),
        cmocka_unit_test(log_lines),
        cmocka_unit_test(cpu_policy_switch),
        cmocka_unit_test(exit_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
