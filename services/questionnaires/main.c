/* questionnaires: instruments, answers, results, relatives' feedback, occupation matching. */
#include <stdio.h>
#include <string.h>

#include "boussole/err.h"
#include "questionnaires.h"

static bsl_option options[] = {
    { "data-dir", QN_DEFAULT_DATA_DIR,
      "directory holding instruments/*.json and occupations/ (the built-in data)", NULL },
    { "occupations", "",
      "occupation set (TSV: code, title, R I A S E C); default "
      "<data-dir>/occupations/onet-interests.tsv",
      NULL },
};

static int init(bsl_service *svc, void *arg, char *errbuf, size_t errlen)
{
    qn_app *app = arg;
    app->svc = svc;
    app->redis = bsl_service_redis(svc);
    app->keystore = bsl_service_keystore(svc);
    app->clock = bsl_service_clock(svc);
    app->keyring = bsl_service_keyring(svc);
    app->sessions = bsl_service_peer(svc, "sessions");
    app->self = bsl_service_caller(svc);
    const char *dir = bsl_service_option(svc, "data-dir");
    int rv = qn_catalog_load(dir, &app->catalog, errbuf, errlen);
    if (rv != BSL_OK) {
        return rv;
    }
    char path[1100];
    const char *occ = bsl_service_option(svc, "occupations");
    if (occ == NULL || occ[0] == '\0') {
        snprintf(path, sizeof(path), "%s/occupations/onet-interests.tsv", dir);
        occ = path;
    }
    rv = qn_occupations_load(occ, &app->occupations, errbuf, errlen);
    if (rv != BSL_OK) {
        return rv;
    }
    return qn_app_init(app, errbuf, errlen);
}

static void fini(bsl_service *svc, void *arg)
{
    (void)svc;
    qn_app *app = arg;
    qn_catalog_free(app->catalog);
    qn_occupations_free(app->occupations);
}

int main(int argc, char **argv)
{
    qn_app app;
    memset(&app, 0, sizeof(app));
    static const char *const peers[] = { "sessions" };
    static const char *const peer_defaults[] = { "tcp://127.0.0.1:7101" };
    bsl_service_spec spec = {
        .name = "questionnaires",
        .about = "Boussole questionnaires service: instruments (RIASEC interests, values, skills, "
                 "relatives' feedback, satisfaction), answers, results, relatives' invitations "
                 "and occupation matching.",
        .default_listen = "tcp://127.0.0.1:7102",
        .default_admin = "http://127.0.0.1:9102",
        .options = options,
        .n_options = sizeof(options) / sizeof(options[0]),
        .peers = peers,
        .peer_defaults = peer_defaults,
        .n_peers = 1,
        .needs_keyring = true,
        .init = init,
        .fini = fini,
        .app = &app,
    };
    return bsl_service_main(&spec, argc, argv);
}
