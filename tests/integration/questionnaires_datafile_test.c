/*
 * The built-in data is validated at start-up: a corrupted instrument file or occupation set
 * stops the real process with a non-zero status and a message naming the file and the item (or
 * line); an intact copy of the data directory elsewhere serves normally.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "boussole/service.h"
#include "boussole/v1/questionnaires.pb-c.h"
#include "testenv.h"

static te_env env;
static te_proc qn; /* te_fini reaches it: it must outlive the test */

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "questionnaires-datafile");
    te_redis_start(&env);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    te_fini(&env);
    return 0;
}

/* A fresh copy of the shipped data directory; its path in out. */
static void copy_data(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", env.dir, name);
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -r '%s/services/questionnaires/data' '%s'", out,
             env.source, out);
    assert_int_equal(system(cmd), 0);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* Replaces the first occurrence of `from` in a file by `to`. */
static void replace_in(const char *path, const char *from, const char *to)
{
    size_t len;
    char *s = read_file(path, &len);
    char *at = strstr(s, from);
    assert_non_null(at);
    size_t out_len = len - strlen(from) + strlen(to);
    char *out = malloc(out_len + 1);
    size_t head = (size_t)(at - s);
    memcpy(out, s, head);
    memcpy(out + head, to, strlen(to));
    memcpy(out + head + strlen(to), at + strlen(from), len - head - strlen(from));
    write_file(path, out, out_len);
    free(out);
    free(s);
}

/* Runs the service on a data directory until it exits (at most 10 s); returns its exit status
 * and its output in `out`. */
static int run_service(const char *data_dir, const char *extra, char *out, size_t cap)
{
    char binary[1200], log[1200], a_data[1200], a_redis[300], a_listen[100], a_admin[100];
    snprintf(binary, sizeof(binary), "%s/services/questionnaires/boussole-questionnaires",
             env.build);
    snprintf(log, sizeof(log), "%s/datafile-%d.log", env.dir, te_free_port());
    snprintf(a_data, sizeof(a_data), "--data-dir=%s", data_dir);
    snprintf(a_redis, sizeof(a_redis), "--redis-url=%s", env.redis_url);
    snprintf(a_listen, sizeof(a_listen), "--listen=tcp://127.0.0.1:%d", te_free_port());
    snprintf(a_admin, sizeof(a_admin), "--admin=http://127.0.0.1:%d", te_free_port());
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (f == NULL || dup2(fileno(stdout), STDERR_FILENO) < 0) {
            _exit(126);
        }
        char keys[200];
        snprintf(keys, sizeof(keys), "BSL_MASTER_KEYS=%s", env.master_keys);
        putenv(keys);
        execl(binary, binary, a_data, a_redis, a_listen, a_admin, extra, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            break;
        }
        if (i == 999) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("the service did not stop on corrupted data");
        }
        te_sleep_ms(10);
    }
    size_t len;
    char *s = read_file(log, &len);
    snprintf(out, cap, "%s", s);
    free(s);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void expect_refusal(const char *data_dir, const char *extra, const char *const *needles)
{
    char out[8192];
    int st = run_service(data_dir, extra, out, sizeof(out));
    if (st == 0) {
        fail_msg("exit status 0 on corrupted data; output: %s", out);
    }
    for (size_t i = 0; needles[i] != NULL; i++) {
        if (strstr(out, needles[i]) == NULL) {
            fail_msg("\"%s\" missing from the output: %s", needles[i], out);
        }
    }
}

static void corrupted_instrument_files(void **state)
{
    (void)state;
    char dir[1100], file[1300];
    /* A Likert item whose labels do not match its points. */
    copy_data("data-labels", dir, sizeof(dir));
    snprintf(file, sizeof(file), "%s/instruments/riasec.json", dir);
    replace_in(file, "\"likert\": \"gout\"",
               "\"likert_min\": 1, \"likert_max\": 5, \"likert_labels\": [\"un\", \"deux\"]");
    const char *n1[] = { "riasec.json", "items[0] (r1)", "likert_labels has 2 labels, expected 5",
                         "\"level\":\"error\"", NULL };
    expect_refusal(dir, NULL, n1);

    /* An unknown key in an item (a typo must not silently drop a rule). */
    copy_data("data-key", dir, sizeof(dir));
    snprintf(file, sizeof(file), "%s/instruments/riasec.json", dir);
    replace_in(file, "\"id\": \"i2\",", "\"id\": \"i2\", \"reverze\": true,");
    const char *n2[] = { "riasec.json", "items[7] (i2)", "unknown key \\\"reverze\\\"", NULL };
    expect_refusal(dir, NULL, n2);

    /* A scale an item refers to that does not exist. */
    copy_data("data-scale", dir, sizeof(dir));
    snprintf(file, sizeof(file), "%s/instruments/valeurs.json", dir);
    replace_in(file, "\"autonomie\"\n   ]", "\"autonomy\"\n   ]");
    const char *n3[] = { "valeurs.json", "items[0] (autonomie-1)",
                         "scale \\\"autonomy\\\" is not a scale", NULL };
    expect_refusal(dir, NULL, n3);

    /* A file cut in the middle. */
    copy_data("data-cut", dir, sizeof(dir));
    snprintf(file, sizeof(file), "%s/instruments/entourage.json", dir);
    size_t len;
    char *s = read_file(file, &len);
    write_file(file, s, len / 2);
    free(s);
    const char *n4[] = { "entourage.json", "not valid JSON", NULL };
    expect_refusal(dir, NULL, n4);

    /* An occupation set with a broken line: the line is named. */
    copy_data("data-occupations", dir, sizeof(dir));
    snprintf(file, sizeof(file), "%s/occupations/onet-interests.tsv", dir);
    FILE *f = fopen(file, "a");
    fputs("99-9999.99\tBroken row\t1\t2\n", f);
    fclose(f);
    const char *n5[] = { "onet-interests.tsv:925", "expected 8 tab-separated columns", NULL };
    expect_refusal(dir, NULL, n5);

    /* No data at all. */
    const char *n6[] = { "/nonexistent/instruments", NULL };
    expect_refusal("/nonexistent", NULL, n6);
}

static void intact_copy_serves(void **state)
{
    (void)state;
    char dir[1100], arg[1200];
    copy_data("data-intact", dir, sizeof(dir));
    snprintf(arg, sizeof(arg), "--data-dir=%s", dir);
    /* No sessions process is needed to serve the catalogue. */
    const char *args[] = { arg, NULL };
    te_service_start(&env, &qn, "questionnaires", args);
    bsl_sync_client *sc = te_client(qn.url);
    Boussole__V1__GetInstrumentRequest req = BOUSSOLE__V1__GET_INSTRUMENT_REQUEST__INIT;
    req.id = "riasec";
    Boussole__V1__Caller c = te_caller(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-lea", "");
    bsl_call_opts o = { .caller = &c };
    ProtobufCMessage *resp = NULL;
    char msg[256];
    assert_int_equal(bsl_sync_call(sc, "boussole.v1.QuestionnaireService/GetInstrument", &req.base,
                                   &o, &resp, msg, sizeof(msg)),
                     BSL_STATUS_OK);
    Boussole__V1__Instrument *ins = (Boussole__V1__Instrument *)resp;
    assert_int_equal(ins->n_items, 48);
    assert_true(ins->builtin);
    protobuf_c_message_free_unpacked(resp, NULL);
    bsl_sync_client_free(sc);
    te_signal(&qn, SIGTERM);
    assert_int_equal(te_wait(&qn, 10000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(corrupted_instrument_files),
        cmocka_unit_test(intact_copy_serves),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
