/*
 * A bilan from start to shared synthesis, through the gateway only, as a front end would do it:
 * JSON over HTTP with bearer tokens, against real redis-server, sessions, questionnaires,
 * syntheses and boussole-gateway processes.
 *
 * A counselor creates the bilan; the beneficiary fills in the intake; the counselor sets the
 * roadmap and opens the investigation; the beneficiary records an experience and a career
 * lead; the counselor assigns the RIASEC inventory, which the beneficiary answers and submits;
 * the counselor opens the conclusion, drafts the synthesis and submits it; the beneficiary
 * adds observations and approves it (final); the beneficiary grants a third party access to
 * two sections; the third party reads them (and only them); the grant is revoked; the third
 * party is refused. The same with an anonymous share link.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "boussole/service.h"
#include "gateway_harness.h"

static te_env env;
static te_proc sessions, questionnaires, syntheses, gw;
static char *counselor, *beneficiary, *third_party;

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "gateway_scenario");
    te_redis_start(&env);
    te_service_start(&env, &sessions, "sessions", NULL);
    char ses[200], que[200], syn[200];
    snprintf(ses, sizeof(ses), "--sessions-url=%s", sessions.url);
    const char *qargs[] = { ses, NULL };
    te_service_start(&env, &questionnaires, "questionnaires", qargs);
    snprintf(que, sizeof(que), "--questionnaires-url=%s", questionnaires.url);
    const char *sargs[] = { ses, que, "--retention-interval-ms=0", NULL };
    te_service_start(&env, &syntheses, "syntheses", sargs);
    snprintf(syn, sizeof(syn), "--syntheses-url=%s", syntheses.url);
    const char *gargs[] = { que, syn, "--rate-limit=0", NULL };
    gwh_gateway_start(&env, &gw, "gateway", sessions.url, gargs);
    gwh_wait(&gw, true); /* every backend answers its health check */
    counselor = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "");
    beneficiary = gwh_token(&env, "b-lea", "beneficiary", "", "");
    third_party = gwh_token(&env, "t-apec", "third_party", "", "");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    te_proc *procs[] = { &gw, &syntheses, &questionnaires, &sessions };
    for (size_t i = 0; i < 4; i++) {
        te_signal(procs[i], SIGTERM);
        int st = te_wait(procs[i], 15000);
        if (st != 0) {
            fprintf(stderr, "%s exited with %d (see %s)\n", procs[i]->name, st, procs[i]->log);
        }
    }
    te_fini(&env);
    free(counselor);
    free(beneficiary);
    free(third_party);
    return 0;
}

/* One call; fails the test unless the gateway answers `want`. Returns the body (malloc'd). */
static char *call(const char *method, const char *token, int want, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static char *call(const char *method, const char *token, int want, const char *fmt, ...)
{
    char *json = NULL;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&json, fmt, ap) > 0);
    va_end(ap);
    char full[200];
    snprintf(full, sizeof(full), "boussole.v1.%s", method);
    gwh_resp r;
    int st = gwh_post(gw.port, full, token, json, NULL, &r);
    if (st != want) {
        fail_msg("%s: HTTP %d, want %d: %s", method, st, want, r.body ? r.body : "");
    }
    char *body = strdup(r.body ? r.body : "");
    gwh_resp_free(&r);
    free(json);
    return body;
}

/* The id-like string field `key` of a JSON answer, copied into out. */
static void field(const char *json, const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "%s", gwh_json_str(json, key));
    if (out[0] == '\0') {
        fail_msg("no \"%s\" in %s", key, json);
    }
}

static const char *in_days(int days)
{
    static char b[40];
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return b;
}

/* RIASEC answers giving the code IAE (the questionnaires service's own tests work it out). */
static int riasec_value(char type, int n)
{
    switch (type) {
    case 'r':
        return n == 8 ? 2 : 3;
    case 'i':
        return n == 8 ? 1 : 5;
    case 'a':
        return n == 8 ? 3 : (n <= 4 ? 4 : 5);
    case 's':
        return n == 8 ? 5 : 2;
    case 'e':
        return 4;
    default:
        return 1;
    }
}

static void bilan_to_shared_synthesis(void **state)
{
    (void)state;
    char bilan[64], lead[64], assignment[64], rev[32], grant[64], token[256];
    char *b;

    /* The counselor opens the bilan. */
    b = call("SessionService/CreateBilan", counselor, 200,
             "{\"beneficiaryId\":\"b-lea\",\"organisationId\":\"org-lumiere\",\"funding\":"
             "\"FUNDING_CPF\",\"plannedHours\":24,\"startDate\":\"%s\",\"endDate\":\"%s\"}",
             te_day(-30), te_day(60));
    field(b, "id", bilan, sizeof(bilan));
    assert_string_equal(gwh_json_str(b, "phase"), "PHASE_PRELIMINARY");
    free(b);

    /* Preliminary phase: the beneficiary's intake, the counselor's roadmap. */
    free(call("SessionService/RecordIntake", beneficiary, 200,
              "{\"intake\":{\"bilanId\":\"%s\",\"currentSituation\":\"Assistante de direction "
              "depuis douze ans, en poste à Lyon.\",\"reasons\":\"Je voudrais un métier plus "
              "concret, au contact des gens.\",\"expectations\":\"Y voir clair sur mes "
              "compétences et choisir une formation.\"}}",
              bilan));
    free(call("SessionService/SetRoadmap", counselor, 200,
              "{\"bilanId\":\"%s\",\"steps\":[{\"phase\":\"PHASE_PRELIMINARY\",\"title\":"
              "\"Entretien d'accueil\",\"tools\":[\"ROADMAP_TOOL_INTERVIEW\"],\"plannedDate\":"
              "\"%s\",\"status\":\"ROADMAP_STEP_STATUS_DONE\"},{\"phase\":\"PHASE_INVESTIGATION\","
              "\"title\":\"Inventaire d'intérêts et enquêtes métier\",\"tools\":["
              "\"ROADMAP_TOOL_QUESTIONNAIRE\",\"ROADMAP_TOOL_JOB_RESEARCH\"],\"plannedDate\":"
              "\"%s\",\"status\":\"ROADMAP_STEP_STATUS_DONE\"}]}",
              bilan, te_day(-25), te_day(-5)));
    b = call("SessionService/AdvancePhase", counselor, 200,
             "{\"id\":\"%s\",\"target\":\"PHASE_INVESTIGATION\"}", bilan);
    assert_string_equal(gwh_json_str(b, "phase"), "PHASE_INVESTIGATION");
    free(b);

    /* Investigation: an experience and a career lead, researched and retained. */
    free(call("SessionService/AddExperience", beneficiary, 200,
              "{\"experience\":{\"bilanId\":\"%s\",\"kind\":\"EXPERIENCE_KIND_JOB\",\"title\":"
              "\"Assistante de direction\",\"periodStart\":\"2013-09-01\",\"periodEnd\":"
              "\"2025-06-30\",\"description\":\"Agenda de trois directeurs.\",\"skills\":["
              "\"Organisation\",\"Rédaction\"]}}",
              bilan));
    b = call("SessionService/AddCareerLead", beneficiary, 200,
             "{\"lead\":{\"bilanId\":\"%s\",\"title\":\"Conductrice de bus urbain\",\"path\":"
             "\"CAREER_PATH_RECONVERSION\",\"status\":\"CAREER_LEAD_STATUS_EXPLORING\"}}",
             bilan);
    field(b, "id", lead, sizeof(lead));
    free(b);
    free(call("SessionService/AddLeadResearch", beneficiary, 200,
              "{\"bilanId\":\"%s\",\"research\":{\"leadId\":\"%s\",\"kind\":"
              "\"RESEARCH_KIND_TESTIMONY\",\"title\":\"Rencontre avec une conductrice\","
              "\"notes\":\"Horaires décalés, beaucoup d'autonomie.\",\"date\":\"%s\"}}",
              bilan, lead, te_day(-3)));
    free(call("SessionService/UpdateCareerLead", counselor, 200,
              "{\"lead\":{\"id\":\"%s\",\"bilanId\":\"%s\",\"title\":\"Conductrice de bus "
              "urbain\",\"path\":\"CAREER_PATH_RECONVERSION\",\"status\":"
              "\"CAREER_LEAD_STATUS_RETAINED\",\"statusReason\":\"Autonomie et concret.\","
              "\"version\":\"1\"}}",
              lead, bilan));

    /* The beneficiary answers a questionnaire the counselor assigned. */
    b = call("QuestionnaireService/AssignInstrument", counselor, 200,
             "{\"bilanId\":\"%s\",\"instrumentId\":\"riasec\"}", bilan);
    field(b, "id", assignment, sizeof(assignment));
    free(b);
    char answers[8192];
    size_t n = 0;
    const char *types = "riasec";
    for (int t = 0; t < 6; t++) {
        for (int k = 1; k <= 8; k++) {
            n += (size_t)snprintf(answers + n, sizeof(answers) - n,
                                  "%s{\"itemId\":\"%c%d\","
                                  "\"likert\":%d}",
                                  n ? "," : "", types[t], k, riasec_value(types[t], k));
        }
    }
    free(call("QuestionnaireService/SaveAnswers", beneficiary, 200,
              "{\"bilanId\":\"%s\",\"assignmentId\":\"%s\",\"answers\":[%s]}", bilan, assignment,
              answers));
    b = call("QuestionnaireService/SubmitAnswers", beneficiary, 200,
             "{\"bilanId\":\"%s\",\"assignmentId\":\"%s\"}", bilan, assignment);
    assert_string_equal(gwh_json_str(b, "hollandCode"), "IAE");
    free(b);

    /* Conclusion: the counselor drafts the synthesis, writes it and submits it. */
    b = call("SessionService/AdvancePhase", counselor, 200,
             "{\"id\":\"%s\",\"target\":\"PHASE_CONCLUSION\"}", bilan);
    assert_string_equal(gwh_json_str(b, "phase"), "PHASE_CONCLUSION");
    free(b);
    free(call("SynthesisService/DraftSynthesis", counselor, 200, "{\"bilanId\":\"%s\"}", bilan));
    b = call("SynthesisService/GetSynthesis", counselor, 200, "{\"bilanId\":\"%s\"}", bilan);
    field(b, "currentRevision", rev, sizeof(rev));
    free(b);
    b = call("SynthesisService/SaveSynthesisRevision", counselor, 200,
             "{\"bilanId\":\"%s\",\"baseRevision\":\"%s\",\"sections\":["
             "\"SYNTHESIS_SECTION_COVER\",\"SYNTHESIS_SECTION_SKILLS\","
             "\"SYNTHESIS_SECTION_STRENGTHS\",\"SYNTHESIS_SECTION_AREAS_TO_IMPROVE\","
             "\"SYNTHESIS_SECTION_ACTION_PLAN\",\"SYNTHESIS_SECTION_FOLLOW_UP\"],\"content\":{"
             "\"cover\":{\"beneficiaryName\":\"Léa Dubois\",\"counselorName\":\"Marie Lefèvre\","
             "\"organisationName\":\"Centre de bilans Lumière\"},\"skills\":\"Organisation "
             "rigoureuse, écoute, rédaction.\",\"strengths\":\"Fiabilité, sens du service.\","
             "\"areasToImprove\":\"Prise de parole en public.\",\"actionPlan\":[{\"title\":"
             "\"S'inscrire à la formation au permis D\",\"targetDate\":\"2027-03-01\","
             "\"training\":\"Titre professionnel conducteur de voyageurs\",\"resources\":"
             "\"CPF\"}],\"followUp\":\"Entretien de suivi dans six mois.\"},\"changeNote\":"
             "\"Rédaction\"}",
             bilan, rev);
    field(b, "currentRevision", rev, sizeof(rev));
    free(b);
    b = call("SynthesisService/SaveSynthesisRevision", beneficiary, 200,
             "{\"bilanId\":\"%s\",\"baseRevision\":\"%s\",\"content\":{"
             "\"beneficiaryObservations\":\"Je valide ce projet avec enthousiasme.\"}}",
             bilan, rev);
    field(b, "currentRevision", rev, sizeof(rev));
    free(b);
    free(call("SynthesisService/SubmitSynthesis", counselor, 200,
              "{\"bilanId\":\"%s\",\"baseRevision\":\"%s\"}", bilan, rev));
    b = call("SynthesisService/ApproveSynthesis", beneficiary, 200,
             "{\"bilanId\":\"%s\",\"revision\":\"%s\"}", bilan, rev);
    assert_string_equal(gwh_json_str(b, "status"), "SYNTHESIS_STATUS_FINAL");
    free(b);

    /* The third party has nothing to read yet (and may not learn that the bilan exists). */
    b = call("SynthesisService/GetGrantedSynthesis", third_party, 404, "{\"bilanId\":\"%s\"}",
             bilan);
    free(b);

    /* The beneficiary grants the third party's account two sections. */
    b = call("SynthesisService/CreateSynthesisGrant", beneficiary, 200,
             "{\"bilanId\":\"%s\",\"kind\":\"SYNTHESIS_THIRD_PARTY_KIND_CEP\",\"thirdPartyName\":"
             "\"Conseillère CEP de l'APEC\",\"sections\":[\"SYNTHESIS_SECTION_SKILLS\","
             "\"SYNTHESIS_SECTION_ACTION_PLAN\"],\"granteeId\":\"t-apec\",\"expireTime\":\"%s\","
             "\"note\":\"Avant le rendez-vous\"}",
             bilan, in_days(30));
    field(b, "id", grant, sizeof(grant));
    free(b);

    /* The third party reads them, and only them. */
    b = call("SynthesisService/GetGrantedSynthesis", third_party, 200, "{\"bilanId\":\"%s\"}",
             bilan);
    assert_non_null(strstr(b, "\"skills\":\"Organisation rigoureuse, écoute, rédaction.\""));
    assert_non_null(strstr(b, "permis D"));
    assert_null(strstr(b, "Fiabilité"));           /* strengths: not granted */
    assert_null(strstr(b, "Je valide ce projet")); /* observations: not granted */
    free(b);
    /* ...but not the rest of the bilan. */
    free(call("SessionService/GetBilan", third_party, 404, "{\"id\":\"%s\"}", bilan));

    /* The beneficiary revokes the grant; the third party is refused. */
    free(call("SynthesisService/RevokeSynthesisGrant", beneficiary, 200,
              "{\"bilanId\":\"%s\",\"grantId\":\"%s\"}", bilan, grant));
    b = call("SynthesisService/GetGrantedSynthesis", third_party, 404, "{\"bilanId\":\"%s\"}",
             bilan);
    assert_non_null(strstr(b, "\"code\":\"not_found\""));
    free(b);

    /* A share link: an anonymous method, reached without any bearer token. */
    b = call("SynthesisService/CreateSynthesisGrant", beneficiary, 200,
             "{\"bilanId\":\"%s\",\"kind\":\"SYNTHESIS_THIRD_PARTY_KIND_EMPLOYER\","
             "\"thirdPartyName\":\"Employeur\",\"sections\":[\"SYNTHESIS_SECTION_ACTION_PLAN\"],"
             "\"expireTime\":\"%s\"}",
             bilan, in_days(7));
    field(b, "shareToken", token, sizeof(token));
    field(b, "id", grant, sizeof(grant));
    free(b);
    b = call("SynthesisService/GetSharedSynthesis", NULL, 200, "{\"shareToken\":\"%s\"}", token);
    assert_non_null(strstr(b, "permis D"));
    assert_null(strstr(b, "Organisation rigoureuse"));
    free(b);
    free(call("SynthesisService/RevokeSynthesisGrant", beneficiary, 200,
              "{\"bilanId\":\"%s\",\"grantId\":\"%s\"}", bilan, grant));
    free(call("SynthesisService/GetSharedSynthesis", NULL, 403, "{\"shareToken\":\"%s\"}", token));
    /* The share token never reached a log line. */
    assert_false(gwh_file_contains(gw.log, token));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bilan_to_shared_synthesis),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
