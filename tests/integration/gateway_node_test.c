/*
 * A real client: Node.js with @connectrpc/connect-node and code generated from proto/ by
 * @bufbuild/buf + @bufbuild/protoc-gen-es (tests/node/), against a real redis-server, sessions
 * and boussole-gateway (one HS256, one ES256 whose tokens Node signs itself). The npm packages
 * are installed from the registry into the build tree on the first run (tests/node/run.sh).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "boussole/service.h"
#include "gateway_harness.h"

static te_env env;
static te_proc sessions, gw, gw_es;

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "gateway_node");
    te_redis_start(&env);
    te_service_start(&env, &sessions, "sessions", NULL);
    const char *args[] = { "--rate-limit=0", NULL };
    gwh_gateway_start(&env, &gw, "gateway", sessions.url, args);
    char cmd[1400];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
             "-out es256.key && openssl pkey -in es256.key -pubout -out es256.pub",
             env.dir);
    if (system(cmd) != 0) {
        return -1;
    }
    char pub[800];
    snprintf(pub, sizeof(pub), "--jwt-public-key=@%s/es256.pub", env.dir);
    const char *es[] = { "--rate-limit=0", "--jwt-alg=ES256", pub, NULL };
    gwh_gateway_start(&env, &gw_es, "gateway-es256", sessions.url, es);
    gwh_wait(&gw, true);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    te_fini(&env);
    return 0;
}

static void node_connect_client(void **state)
{
    (void)state;
    if (system("command -v node >/dev/null && command -v npm >/dev/null") != 0) {
        fail_msg("Node.js and npm are needed (apt-get install nodejs npm)");
    }
    char *counselor = gwh_token(&env, "c-node", "counselor", "org-lumiere", "");
    char *beneficiary = gwh_token(&env, "b-node", "beneficiary", "", "");
    char cmd[12000];
    snprintf(cmd, sizeof(cmd),
             "GATEWAY_URL=%s ES256_GATEWAY_URL=%s TOKEN_COUNSELOR=%s TOKEN_BENEFICIARY=%s "
             "ES256_PRIVATE_KEY=%s/es256.key %s/tests/node/run.sh %s/node-test > %s/node.log 2>&1",
             gw.url, gw_es.url, counselor, beneficiary, env.dir, env.source, env.build, env.dir);
    int st = system(cmd);
    char *log = NULL;
    if (asprintf(&log, "cat %s/node.log", env.dir) > 0) {
        char *out = gwh_run(log, NULL);
        printf("%s\n", out); /* the test's own report, and npm's if it failed */
        free(out);
        free(log);
    }
    assert_int_equal(st, 0);
    free(counselor);
    free(beneficiary);
    /* What the client did reached the service through the gateway. */
    assert_true(gwh_file_contains(gw.log, "\"method\":\"boussole.v1.SessionService/CreateBilan\""));
}

static void exits_cleanly(void **state)
{
    (void)state;
    /* Every request path above ran in these processes: a clean exit (and, in the sanitizer
     * build, no leak) says none of them left anything behind. */
    assert_int_equal(gwh_stop(&gw), 0);
    assert_int_equal(gwh_stop(&gw_es), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(node_connect_client),
        cmocka_unit_test(exits_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
