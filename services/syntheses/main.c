/* syntheses: the synthesis of a bilan, consent and sharing, the access log, and retention. */
#include <stdio.h>
#include <string.h>

#include "boussole/err.h"
#include "handlers.h"
#include "labels.h"
#include "sweep.h"
#include "syntheses.h"
#include "worker.h"

static bsl_option options[] = {
    { "data-dir", SYN_DEFAULT_DATA_DIR, "directory of the French wording (labels.fr.txt)", NULL },
    { "retention-interval-ms", "600000",
      "how often the retention sweep runs (0: only when RunRetentionSweep asks)", NULL },
    { "render-queue", "32", "PDF renderings waiting at most (more get RESOURCE_EXHAUSTED)", NULL },
};

/* For sanitizer builds: fontconfig keeps process-wide caches (patterns, language sets) that
 * it never frees and that its users cannot free (FcFini asserts while pango holds fonts);
 * LeakSanitizer would report them at every exit. Only allocations made inside fontconfig are
 * suppressed: a leak of our own objects is still reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}

static const char *const peers[] = { "sessions", "questionnaires" };
static const char *const peer_defaults[] = { "tcp://127.0.0.1:7101", "tcp://127.0.0.1:7102" };

static void handlers(Boussole__V1__SynthesisService_Service *s)
{
    boussole__v1__synthesis_service__init(s, NULL);
    s->draft_synthesis = syn_draft_synthesis;
    s->get_synthesis = syn_get_synthesis;
    s->save_synthesis_revision = syn_save_synthesis_revision;
    s->list_synthesis_revisions = syn_list_synthesis_revisions;
    s->submit_synthesis = syn_submit_synthesis;
    s->request_synthesis_changes = syn_request_synthesis_changes;
    s->approve_synthesis = syn_approve_synthesis;
    s->start_synthesis_correction = syn_start_synthesis_correction;
    s->add_synthesis_comment = syn_add_synthesis_comment;
    s->list_synthesis_comments = syn_list_synthesis_comments;
    s->render_synthesis = syn_render_synthesis;
    s->create_synthesis_grant = syn_create_synthesis_grant;
    s->revoke_synthesis_grant = syn_revoke_synthesis_grant;
    s->list_synthesis_grants = syn_list_synthesis_grants;
    s->get_shared_synthesis = syn_get_shared_synthesis;
    s->get_granted_synthesis = syn_get_granted_synthesis;
    s->list_syntheses_shared_with_me = syn_list_syntheses_shared_with_me;
    s->list_synthesis_access_log = syn_list_synthesis_access_log;
    s->set_retention_consent = syn_set_retention_consent;
    s->get_synthesis_retention = syn_get_synthesis_retention;
    s->export_beneficiary_data = syn_export_beneficiary_data;
    s->export_beneficiary_bundle = syn_export_beneficiary_bundle;
    s->erase_bilan_data = syn_erase_bilan_data;
    s->run_retention_sweep = syn_run_retention_sweep;
    s->list_destruction_records = syn_list_destruction_records;
}

static int init(bsl_service *svc, void *arg, char *errbuf, size_t errlen)
{
    syn_app *app = arg;
    app->svc = svc;
    app->redis = bsl_service_redis(svc);
    app->keystore = bsl_service_keystore(svc);
    app->keyring = bsl_service_keyring(svc);
    app->clock = bsl_service_clock(svc);
    app->log = bsl_service_log(svc);
    app->sessions = bsl_service_peer(svc, "sessions");
    app->questionnaires = bsl_service_peer(svc, "questionnaires");
    uint32_t interval, queue;
    size_t n = sizeof(options) / sizeof(options[0]);
    int rv =
        bsl_option_u32(options, n, "retention-interval-ms", 0, 86400000, &interval, errbuf, errlen);
    if (rv == BSL_OK) {
        rv = bsl_option_u32(options, n, "render-queue", 1, 4096, &queue, errbuf, errlen);
    }
    if (rv != BSL_OK) {
        return rv;
    }
    if ((rv = syn_labels_load(&app->labels, bsl_service_option(svc, "data-dir"), errbuf, errlen)) !=
            BSL_OK ||
        (rv = syn_fonts_check(errbuf, errlen)) != BSL_OK) {
        return rv;
    }
    if ((rv = syn_worker_create(&app->worker, bsl_service_loop(svc), queue)) != BSL_OK ||
        (rv = syn_scripts_add(app)) != BSL_OK ||
        (rv = syn_sweeper_create(&app->sweeper, app, interval)) != BSL_OK) {
        snprintf(errbuf, errlen, "cannot set up the syntheses service: %s", bsl_strerror(rv));
        return rv;
    }
    handlers(&app->service);
    rv = bsl_server_add_service(bsl_service_server(svc), &app->service.base);
    if (rv != BSL_OK) {
        snprintf(errbuf, errlen, "cannot serve SynthesisService: %s", bsl_strerror(rv));
    }
    return rv;
}

static void fini(bsl_service *svc, void *arg)
{
    (void)svc;
    syn_app *app = arg;
    syn_sweeper_free(app->sweeper);
    syn_worker_free(app->worker);
    syn_labels_free(app->labels);
}

int main(int argc, char **argv)
{
    static syn_app app;
    bsl_service_spec spec = {
        .name = "syntheses",
        .about = "Boussole syntheses service: the synthesis of a bilan, the beneficiary's consent "
                 "to share or keep it, the access log, and the retention of ended bilans.",
        .default_listen = "tcp://127.0.0.1:7103",
        .default_admin = "http://127.0.0.1:9103",
        .options = options,
        .n_options = sizeof(options) / sizeof(options[0]),
        .peers = peers,
        .peer_defaults = peer_defaults,
        .n_peers = 2,
        .needs_keyring = true,
        .init = init,
        .fini = fini,
        .app = &app,
    };
    return bsl_service_main(&spec, argc, argv);
}
