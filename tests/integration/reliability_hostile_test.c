/*
 * Hostile input through the gateway, table-driven, against real redis-server, sessions,
 * questionnaires, syntheses and boussole-gateway processes: truncated and oversized bodies,
 * wrong content types, deeply nested JSON, invalid UTF-8, numbers out of range, ids that try
 * to escape the Redis key layout ("*", "{", "}", spaces, newlines, very long ids), unknown
 * enum values, duplicated fields, broken framing.
 *
 * Each request gets the 4xx its row names (or the 5xx the Connect protocol prescribes for
 * what the protocol says is not implemented: compression, Transfer-Encoding) with a Connect
 * error body: a JSON object with the code and a message (naming the field, where a field is
 * wrong). A real bilan (investigation data, a submitted questionnaire, a draft synthesis, an
 * invitation) is in Redis before; a digest of every key (tests/reliability/rel_harness.h:
 * names, types, DUMP of each value, expiry; the runtime's replay cache of idempotency keys
 * left out) is the same after. Every process is still healthy at the end, and stops cleanly.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <strings.h>

#include <cmocka.h>

#include "../reliability/rel_harness.h"
#include "boussole/service.h"
#include "gateway_harness.h"

static te_env env;
static te_proc sessions, questionnaires, syntheses, gw;
static char *counselor, *beneficiary;
static char bilan[64], assignment[64], open_assignment[64], revision[32];

/* ---- the fixture: a bilan with something of every service in it ---------------------- */

static char *post(const char *method, const char *token, int want, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static char *post(const char *method, const char *token, int want, const char *fmt, ...)
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

static void build_fixture(void)
{
    char *b = post("SessionService/CreateBilan", counselor, 200,
                   "{\"beneficiaryId\":\"b-lea\",\"organisationId\":\"org-lumiere\",\"funding\":"
                   "\"FUNDING_CPF\",\"plannedHours\":24,\"startDate\":\"2026-01-05\","
                   "\"endDate\":\"2027-12-20\"}");
    snprintf(bilan, sizeof(bilan), "%s", gwh_json_str(b, "id"));
    assert_true(strlen(bilan) > 10);
    free(b);
    free(post("SessionService/RecordIntake", beneficiary, 200,
              "{\"intake\":{\"bilanId\":\"%s\",\"currentSituation\":\"Comptable depuis dix ans."
              "\",\"reasons\":\"Changer de voie.\"}}",
              bilan));
    free(post("SessionService/SetRoadmap", counselor, 200,
              "{\"bilanId\":\"%s\",\"steps\":[{\"phase\":\"PHASE_PRELIMINARY\",\"title\":"
              "\"Accueil\",\"tools\":[\"ROADMAP_TOOL_INTERVIEW\"],\"plannedDate\":\"2026-01-10\","
              "\"status\":\"ROADMAP_STEP_STATUS_DONE\"}]}",
              bilan));
    free(post("SessionService/AdvancePhase", counselor, 200,
              "{\"id\":\"%s\",\"target\":\"PHASE_INVESTIGATION\"}", bilan));
    free(post("SessionService/AddExperience", beneficiary, 200,
              "{\"experience\":{\"bilanId\":\"%s\",\"kind\":\"EXPERIENCE_KIND_JOB\",\"title\":"
              "\"Comptable\",\"periodStart\":\"2015-01-01\",\"description\":\"Bilans annuels.\"}}",
              bilan));
    b = post("QuestionnaireService/AssignInstrument", counselor, 200,
             "{\"bilanId\":\"%s\",\"instrumentId\":\"riasec\"}", bilan);
    snprintf(assignment, sizeof(assignment), "%s", gwh_json_str(b, "id"));
    free(b);
    char answers[8192];
    size_t n = 0;
    const char *types = "riasec";
    for (int t = 0; t < 6; t++) {
        for (int k = 1; k <= 8; k++) {
            n += (size_t)snprintf(answers + n, sizeof(answers) - n,
                                  "%s{\"itemId\":\"%c%d\",\"likert\":%d}", n ? "," : "", types[t],
                                  k, 1 + (t + k) % 5);
        }
    }
    free(post("QuestionnaireService/SaveAnswers", beneficiary, 200,
              "{\"bilanId\":\"%s\",\"assignmentId\":\"%s\",\"answers\":[%s]}", bilan, assignment,
              answers));
    free(post("QuestionnaireService/SubmitAnswers", beneficiary, 200,
              "{\"bilanId\":\"%s\",\"assignmentId\":\"%s\"}", bilan, assignment));
    b = post("QuestionnaireService/AssignInstrument", counselor, 200,
             "{\"bilanId\":\"%s\",\"instrumentId\":\"valeurs\"}", bilan);
    snprintf(open_assignment, sizeof(open_assignment), "%s", gwh_json_str(b, "id"));
    free(b);
    free(post("QuestionnaireService/SaveAnswers", beneficiary, 200,
              "{\"bilanId\":\"%s\",\"assignmentId\":\"%s\",\"answers\":[{\"itemId\":"
              "\"autonomie-1\",\"likert\":4},{\"itemId\":\"moteur\",\"text\":\"Apprendre "
              "encore.\"}]}",
              bilan, open_assignment));
    free(post("QuestionnaireService/InviteRelative", beneficiary, 200,
              "{\"bilanId\":\"%s\",\"relative\":{\"name\":\"Paul\",\"relation\":\"ami\","
              "\"contact\":\"paul@example.org\"}}",
              bilan));
    free(post("SessionService/AdvancePhase", counselor, 200,
              "{\"id\":\"%s\",\"target\":\"PHASE_CONCLUSION\"}", bilan));
    free(post("SynthesisService/DraftSynthesis", counselor, 200, "{\"bilanId\":\"%s\"}", bilan));
    b = post("SynthesisService/GetSynthesis", counselor, 200, "{\"bilanId\":\"%s\"}", bilan);
    snprintf(revision, sizeof(revision), "%s", gwh_json_str(b, "currentRevision"));
    free(b);
}

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "reliability_hostile");
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
    gwh_wait(&gw, true);
    counselor = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "");
    beneficiary = gwh_token(&env, "b-lea", "beneficiary", "", "");
    build_fixture();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    te_proc *procs[] = { &gw, &syntheses, &questionnaires, &sessions };
    int bad = 0;
    for (size_t i = 0; i < 4; i++) {
        te_signal(procs[i], SIGTERM);
        int st = te_wait(procs[i], 15000);
        if (st != 0) {
            fprintf(stderr, "%s exited with %d (see %s)\n", procs[i]->name, st, procs[i]->log);
            bad++;
        }
    }
    te_fini(&env);
    free(counselor);
    free(beneficiary);
    return bad;
}

/* ---- the table -------------------------------------------------------------------------- */

enum who { COUNSELOR, BENEFICIARY, NOBODY };

typedef struct row {
    const char *name;
    const char *method; /* "SessionService/GetBilan" */
    enum who who;
    const char *ctype;   /* NULL: application/json; "-": no Content-Type */
    const char *headers; /* more header lines "Name: value\r\n", or NULL */
    const char *body;    /* %B: the bilan's id, %A: an open assignment's, %R: the revision */
    int status;          /* the HTTP status */
    const char *code;    /* the Connect code */
    const char *names;   /* a word the message must contain (the field), or NULL */
} row;

#define CB_OK                                                                                      \
    "\"organisationId\":\"org-lumiere\",\"funding\":\"FUNDING_CPF\",\"startDate\":\"2026-01-05\"," \
    "\"endDate\":\"2026-04-05\""

static const row rows[] = {
    /* Truncated and malformed JSON. */
    { "truncated JSON", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-x\",\"organ", 400, "invalid_argument", "JSON" },
    { "JSON cut inside a string", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "{\"id\":\"%B",
      400, "invalid_argument", NULL },
    { "top-level array", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "[]", 400,
      "invalid_argument", NULL },
    { "top-level null", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "null", 400,
      "invalid_argument", NULL },
    { "trailing garbage", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "{\"id\":\"%B\"} {}",
      400, "invalid_argument", NULL },
    { "empty body, required fields", "SessionService/CreateBilan", COUNSELOR, NULL, NULL, "", 400,
      "invalid_argument", "beneficiary_id" },
    /* Deep nesting. */
    { "nested arrays", "SessionService/SetRoadmap", COUNSELOR, NULL, NULL, "@nested-arrays", 400,
      "invalid_argument", NULL },
    { "nested objects", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "@nested-objects", 400,
      "invalid_argument", NULL },
    /* Text that is not UTF-8, or not text. */
    { "invalid UTF-8", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "{\"id\":\"b\xff\xfe\"}",
      400, "invalid_argument", NULL },
    { "overlong UTF-8", "SessionService/RecordIntake", BENEFICIARY, NULL, NULL,
      "{\"intake\":{\"bilanId\":\"%B\",\"currentSituation\":\"C.\",\"reasons\":\"\xc0\xaf\"}}", 400,
      "invalid_argument", NULL },
    { "lone surrogate escape", "SessionService/RecordIntake", BENEFICIARY, NULL, NULL,
      "{\"intake\":{\"bilanId\":\"%B\",\"currentSituation\":\"C.\",\"reasons\":\"\\ud800\"}}", 400,
      "invalid_argument", NULL },
    { "NUL escape", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-\\u0000x\"," CB_OK ",\"plannedHours\":20}", 400, "invalid_argument",
      NULL },
    { "control character in a free text", "SessionService/RecordIntake", BENEFICIARY, NULL, NULL,
      "{\"intake\":{\"bilanId\":\"%B\",\"currentSituation\":\"C.\",\"reasons\":\"a\\u0007b\"}}",
      400, "invalid_argument", "reasons" },
    { "invalid UTF-8 in a binary string", "SessionService/GetBilan", COUNSELOR, "application/proto",
      NULL, "\x0a\x03\xff\xfe\x41", 400, "invalid_argument", "id" },
    { "binary that is not protobuf", "SessionService/GetBilan", COUNSELOR, "application/proto",
      NULL, "\x0a\xff\xff\xff\xff\x0f", 400, "invalid_argument", NULL },
    { "JSON sent as protobuf", "SessionService/GetBilan", COUNSELOR, "application/proto", NULL,
      "{\"id\":\"%B\"}", 400, "invalid_argument", NULL },
    /* Numbers out of range, wrong types. */
    { "uint32 overflow", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-x\"," CB_OK ",\"plannedHours\":4294967296}", 400, "invalid_argument",
      "plannedHours" },
    { "negative for unsigned", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-x\"," CB_OK ",\"plannedHours\":-1}", 400, "invalid_argument",
      "plannedHours" },
    { "1e400", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-x\"," CB_OK ",\"plannedHours\":1e400}", 400, "invalid_argument",
      NULL },
    { "fraction for an integer", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-x\"," CB_OK ",\"plannedHours\":12.5}", 400, "invalid_argument",
      "plannedHours" },
    { "string for an integer", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-x\"," CB_OK ",\"plannedHours\":\"douze\"}", 400, "invalid_argument",
      "plannedHours" },
    { "hours over the legal 24", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-x\"," CB_OK ",\"plannedHours\":25}", 400, "invalid_argument",
      "planned_hours" },
    { "uint64 overflow", "SessionService/UpdateBilan", COUNSELOR, NULL, NULL,
      "{\"id\":\"%B\",\"version\":\"18446744073709551616\"}", 400, "invalid_argument", "version" },
    { "number for a string", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "{\"id\":5}", 400,
      "invalid_argument", "id" },
    { "impossible date", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-x\",\"organisationId\":\"org-lumiere\",\"funding\":\"FUNDING_CPF\","
      "\"plannedHours\":20,\"startDate\":\"2026-02-30\",\"endDate\":\"2026-04-05\"}",
      400, "invalid_argument", "start_date" },
    { "timestamp out of range", "SessionService/ScheduleMeeting", COUNSELOR, NULL, NULL,
      "{\"bilanId\":\"%B\",\"phase\":\"PHASE_CONCLUSION\",\"startTime\":"
      "\"10000-01-01T00:00:00Z\",\"durationMinutes\":60,\"mode\":\"MEETING_MODE_REMOTE\"}",
      400, "invalid_argument", "startTime" },
    { "likert out of range", "QuestionnaireService/SaveAnswers", BENEFICIARY, NULL, NULL,
      "{\"bilanId\":\"%B\",\"assignmentId\":\"%A\",\"answers\":[{\"itemId\":\"autonomie-1\","
      "\"likert\":6}]}",
      400, "invalid_argument", "autonomie-1" },
    { "likert of int32 overflow", "QuestionnaireService/SaveAnswers", BENEFICIARY, NULL, NULL,
      "{\"bilanId\":\"%B\",\"assignmentId\":\"%A\",\"answers\":[{\"itemId\":\"autonomie-1\","
      "\"likert\":2147483648}]}",
      400, "invalid_argument", NULL },
    { "occupation limit out of range", "QuestionnaireService/MatchOccupations", COUNSELOR, NULL,
      NULL, "{\"profile\":{\"r\":1,\"i\":2,\"a\":3,\"s\":4,\"e\":5,\"c\":6},\"limit\":100000}", 400,
      "invalid_argument", "limit" },
    { "profile with NaN", "QuestionnaireService/MatchOccupations", COUNSELOR, NULL, NULL,
      "{\"profile\":{\"r\":\"NaN\",\"i\":2,\"a\":3,\"s\":4,\"e\":5,\"c\":6}}", 400,
      "invalid_argument", NULL },
    /* Ids that try to escape the key layout. */
    { "id *", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "{\"id\":\"*\"}", 400,
      "invalid_argument", "id" },
    { "id with braces", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "{\"id\":\"{%B}\"}", 400,
      "invalid_argument", "id" },
    { "id }", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "{\"id\":\"}\"}", 400,
      "invalid_argument", "id" },
    { "id with a space", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "{\"id\":\"%B x\"}", 400,
      "invalid_argument", "id" },
    { "id with a newline", "SessionService/GetBilan", COUNSELOR, NULL, NULL,
      "{\"id\":\"%B\\nDEL x\"}", 400, "invalid_argument", "id" },
    { "very long id", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "@long-id", 400,
      "invalid_argument", "id" },
    { "id naming another key", "SessionService/GetBilan", COUNSELOR, NULL, NULL,
      "{\"id\":\"bilan:{%B}:meta\"}", 400, "invalid_argument", "id" },
    { "empty id", "SessionService/GetBilan", COUNSELOR, NULL, NULL, "{\"id\":\"\"}", 400,
      "invalid_argument", "id" },
    { "subject with *", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-lea*\"," CB_OK ",\"plannedHours\":20}", 400, "invalid_argument",
      "beneficiary_id" },
    { "organisation with braces", "SessionService/ListBilans", COUNSELOR, NULL, NULL,
      "{\"organisationId\":\"{org-lumiere}\"}", 400, "invalid_argument", "organisation_id" },
    { "counselor id with a newline", "SessionService/ListBilans", COUNSELOR, NULL, NULL,
      "{\"counselorId\":\"c-marie\\nx\"}", 400, "invalid_argument", "counselor_id" },
    { "assignment id *", "QuestionnaireService/GetAnswers", BENEFICIARY, NULL, NULL,
      "{\"bilanId\":\"%B\",\"assignmentId\":\"*\"}", 400, "invalid_argument", "assignment_id" },
    { "item id with braces", "QuestionnaireService/SaveAnswers", BENEFICIARY, NULL, NULL,
      "{\"bilanId\":\"%B\",\"assignmentId\":\"%A\",\"answers\":[{\"itemId\":\"{autonomie-1}\","
      "\"likert\":3}]}",
      400, "invalid_argument", "answers" },
    /* Not a well-formed id: the service answers as for any instrument it does not have. */
    { "instrument id *", "QuestionnaireService/GetInstrument", COUNSELOR, NULL, NULL,
      "{\"id\":\"*\"}", 404, "not_found", NULL },
    { "instrument id with braces", "QuestionnaireService/GetInstrument", COUNSELOR, NULL, NULL,
      "{\"id\":\"{riasec}\"}", 404, "not_found", NULL },
    { "share token *", "SynthesisService/GetSharedSynthesis", NOBODY, NULL, NULL,
      "{\"shareToken\":\"*\"}", 400, "invalid_argument", "share_token" },
    { "share token with braces", "SynthesisService/GetSharedSynthesis", NOBODY, NULL, NULL,
      "{\"shareToken\":\"{x}\"}", 400, "invalid_argument", "share_token" },
    { "feedback token with a newline", "QuestionnaireService/GetFeedbackForm", NOBODY, NULL, NULL,
      "{\"token\":\"ab\\ncd\"}", 400, "invalid_argument", "token" },
    /* Unknown enum values. */
    { "unknown enum name", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-x\",\"organisationId\":\"org-lumiere\",\"funding\":"
      "\"FUNDING_LOTTERY\",\"plannedHours\":20,\"startDate\":\"2026-01-05\",\"endDate\":"
      "\"2026-04-05\"}",
      400, "invalid_argument", "funding" },
    { "unknown enum number", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-x\",\"organisationId\":\"org-lumiere\",\"funding\":99,"
      "\"plannedHours\":20,\"startDate\":\"2026-01-05\",\"endDate\":\"2026-04-05\"}",
      400, "invalid_argument", "funding" },
    { "unknown phase", "SessionService/AdvancePhase", COUNSELOR, NULL, NULL,
      "{\"id\":\"%B\",\"target\":\"PHASE_ELSEWHERE\"}", 400, "invalid_argument", "target" },
    { "unknown phase number", "SessionService/AdvancePhase", COUNSELOR, NULL, NULL,
      "{\"id\":\"%B\",\"target\":77}", 400, "invalid_argument", "target" },
    { "unknown section", "SynthesisService/SaveSynthesisRevision", COUNSELOR, NULL, NULL,
      "{\"bilanId\":\"%B\",\"baseRevision\":\"%R\",\"sections\":[\"SYNTHESIS_SECTION_GOSSIP\"]}",
      400, "invalid_argument", "sections" },
    { "unknown third-party kind", "SynthesisService/CreateSynthesisGrant", BENEFICIARY, NULL, NULL,
      "{\"bilanId\":\"%B\",\"kind\":42,\"thirdPartyName\":\"X\",\"expireTime\":"
      "\"2030-01-01T00:00:00Z\"}",
      400, "invalid_argument", "kind" },
    /* Duplicated and unknown fields. */
    { "duplicated field", "SessionService/GetBilan", COUNSELOR, NULL, NULL,
      "{\"id\":\"%B\",\"id\":\"%B\"}", 400, "invalid_argument", NULL },
    { "same field under both names", "SessionService/CreateBilan", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-x\",\"beneficiary_id\":\"b-y\"," CB_OK ",\"plannedHours\":20}", 400,
      "invalid_argument", "beneficiary" },
    { "two members of a oneof", "SessionService/ListBilans", COUNSELOR, NULL, NULL,
      "{\"beneficiaryId\":\"b-lea\",\"counselorId\":\"c-marie\"}", 400, "invalid_argument",
      "counselorId" },
    { "unknown field", "SessionService/GetBilan", COUNSELOR, NULL, NULL,
      "{\"id\":\"%B\",\"isAdmin\":true}", 400, "invalid_argument", "isAdmin" },
    /* Content types and the protocol's headers. */
    { "text/plain", "SessionService/GetBilan", COUNSELOR, "text/plain", NULL, "{\"id\":\"%B\"}",
      415, "invalid_argument", NULL },
    { "no Content-Type", "SessionService/GetBilan", COUNSELOR, "-", NULL, "{\"id\":\"%B\"}", 415,
      "invalid_argument", NULL },
    { "form encoding", "SessionService/GetBilan", COUNSELOR, "application/x-www-form-urlencoded",
      NULL, "id=%B", 415, "invalid_argument", NULL },
    { "multipart", "SessionService/GetBilan", COUNSELOR, "multipart/form-data; boundary=x", NULL,
      "--x\r\n\r\n{}\r\n--x--", 415, "invalid_argument", NULL },
    { "JSON in latin-1", "SessionService/GetBilan", COUNSELOR, "application/json; charset=latin1",
      NULL, "{\"id\":\"%B\"}", 415, "invalid_argument", NULL },
    { "gzip body", "SessionService/GetBilan", COUNSELOR, NULL, "Content-Encoding: gzip\r\n",
      "\x1f\x8b\x08\x00", 501, "unimplemented", NULL },
    { "protocol version 2", "SessionService/GetBilan", COUNSELOR, NULL,
      "Connect-Protocol-Version: 2\r\n", "{\"id\":\"%B\"}", 400, "invalid_argument", NULL },
    { "timeout not a number", "SessionService/GetBilan", COUNSELOR, NULL,
      "Connect-Timeout-Ms: soon\r\n", "{\"id\":\"%B\"}", 400, "invalid_argument", NULL },
    { "idempotency key with spaces", "SessionService/CreateBilan", COUNSELOR, NULL,
      "Idempotency-Key: a b\r\n", "{}", 400, "invalid_argument", NULL },
    { "idempotency key of 200 characters", "SessionService/CreateBilan", COUNSELOR, NULL,
      "@long-key", "{}", 400, "invalid_argument", NULL },
    /* Authentication: refused before anything is read. */
    { "no token", "SessionService/GetBilan", NOBODY, NULL, NULL, "{\"id\":\"%B\"}", 401,
      "unauthenticated", NULL },
    { "alg none", "SessionService/GetBilan", NOBODY, NULL,
      "Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJjLW1hcmllIn0.\r\n", "{\"id\":\"%B\"}",
      401, "unauthenticated", NULL },
    { "not a bearer token", "SessionService/GetBilan", NOBODY, NULL,
      "Authorization: Basic YWRtaW46YWRtaW4=\r\n", "{\"id\":\"%B\"}", 401, "unauthenticated",
      NULL },
    /* What the gateway does not serve. */
    { "internal method", "SessionService/GetBilanAccess", COUNSELOR, NULL, NULL,
      "{\"bilanId\":\"%B\"}", 404, "unimplemented", NULL },
    { "unknown method", "SessionService/DropEverything", COUNSELOR, NULL, NULL, "{}", 404,
      "unimplemented", NULL },
    { "path traversal", "../../etc/passwd", COUNSELOR, NULL, NULL, "{}", 404, "unimplemented",
      NULL },
    /* Lists beyond their bounds. */
    { "31 roadmap steps", "SessionService/SetRoadmap", COUNSELOR, NULL, NULL, "@many-steps", 400,
      "invalid_argument", "steps" },
    { "a free text over its bound", "SessionService/RecordIntake", BENEFICIARY, NULL, NULL,
      "@long-text", 400, "invalid_argument", "reasons" },
    { "a synthesis section over its bound", "SynthesisService/SaveSynthesisRevision", COUNSELOR,
      NULL, NULL, "@long-section", 400, "invalid_argument", "skills" },
};

/* Bodies too large to write in the table. */
static char *generated(const char *name)
{
    size_t cap = 1 << 21;
    char *b = malloc(cap);
    size_t n = 0;
    if (strcmp(name, "@nested-arrays") == 0) {
        n += (size_t)snprintf(b, cap, "{\"bilanId\":\"%s\",\"steps\":", bilan);
        for (int i = 0; i < 100000; i++) {
            b[n++] = '[';
        }
        for (int i = 0; i < 100000; i++) {
            b[n++] = ']';
        }
        b[n++] = '}';
    } else if (strcmp(name, "@nested-objects") == 0) {
        for (int i = 0; i < 50000; i++) {
            n += (size_t)snprintf(b + n, cap - n, "{\"id\":");
        }
        b[n++] = '1';
        for (int i = 0; i < 50000; i++) {
            b[n++] = '}';
        }
    } else if (strcmp(name, "@long-id") == 0) {
        n += (size_t)snprintf(b, cap, "{\"id\":\"");
        for (int i = 0; i < 100000; i++) {
            b[n++] = 'a';
        }
        n += (size_t)snprintf(b + n, cap - n, "\"}");
    } else if (strcmp(name, "@many-steps") == 0) {
        n += (size_t)snprintf(b, cap, "{\"bilanId\":\"%s\",\"steps\":[", bilan);
        for (int i = 0; i < 31; i++) {
            n += (size_t)snprintf(b + n, cap - n,
                                  "%s{\"phase\":\"PHASE_INVESTIGATION\",\"title\":\"Etape %d\","
                                  "\"plannedDate\":\"2026-03-01\",\"status\":"
                                  "\"ROADMAP_STEP_STATUS_PLANNED\"}",
                                  i ? "," : "", i);
        }
        n += (size_t)snprintf(b + n, cap - n, "]}");
    } else if (strcmp(name, "@long-text") == 0) {
        n += (size_t)snprintf(b, cap,
                              "{\"intake\":{\"bilanId\":\"%s\",\"currentSituation\":\"C.\","
                              "\"reasons\":\"",
                              bilan);
        for (int i = 0; i < 900000; i++) {
            b[n++] = 'x';
        }
        n += (size_t)snprintf(b + n, cap - n, "\"}}");
    } else if (strcmp(name, "@long-section") == 0) {
        n += (size_t)snprintf(b, cap,
                              "{\"bilanId\":\"%s\",\"baseRevision\":\"%s\",\"sections\":["
                              "\"SYNTHESIS_SECTION_SKILLS\"],\"content\":{\"skills\":\"",
                              bilan, revision);
        for (int i = 0; i < 300000; i++) {
            n += (size_t)snprintf(b + n, cap - n, "é");
        }
        n += (size_t)snprintf(b + n, cap - n, "\"}}");
    } else {
        fail_msg("no generated body %s", name);
    }
    b[n] = '\0';
    return b;
}

/* body with %B, %A, %R replaced. */
static char *expand(const char *body, size_t *len)
{
    if (body[0] == '@') {
        char *b = generated(body);
        *len = strlen(b);
        return b;
    }
    size_t cap = strlen(body) * 4 + 256, n = 0;
    char *out = malloc(cap);
    for (const char *p = body; *p != '\0'; p++) {
        if (p[0] == '%' && (p[1] == 'B' || p[1] == 'A' || p[1] == 'R')) {
            const char *v = p[1] == 'B' ? bilan : p[1] == 'A' ? open_assignment : revision;
            n += (size_t)snprintf(out + n, cap - n, "%s", v);
            p++;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    *len = n;
    return out;
}

/* Checks one answer: the status, then a Connect error body with the code and a message. */
static bool check_answer(const char *name, const rel_resp *r, int status, const char *code,
                         const char *names)
{
    char v[128], want_code[64];
    snprintf(want_code, sizeof(want_code), "\"code\":\"%s\"", code);
    const char *ct = rel_header(r, "Content-Type", v, sizeof(v));
    bool ok = r->status == status && ct != NULL && strcmp(ct, "application/json") == 0 &&
              r->body != NULL && r->body[0] == '{' && strstr(r->body, want_code) != NULL &&
              strstr(r->body, "\"message\":\"") != NULL &&
              (names == NULL || strstr(r->body, names) != NULL);
    if (!ok) {
        fprintf(stderr, "FAIL %s: want HTTP %d %s%s%s, got %d: %.300s\n", name, status, code,
                names ? " naming " : "", names ? names : "", r->status, r->body ? r->body : "");
    } else {
        printf("ok   %-40s %d %.110s\n", name, r->status, r->body);
    }
    return ok;
}

static char *digest(void)
{
    return rel_redis_digest("127.0.0.1", env.redis_port);
}

static void table_rows(void **state)
{
    (void)state;
    char *first = digest();
    rel_conn c;
    rel_conn_init(&c, "127.0.0.1", gw.port);
    int failures = 0;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const row *w = &rows[i];
        size_t blen;
        char *body = expand(w->body, &blen);
        const char *token = w->who == COUNSELOR     ? counselor
                            : w->who == BENEFICIARY ? beneficiary
                                                    : NULL;
        char more[600] = "";
        if (w->headers != NULL && strcmp(w->headers, "@long-key") == 0) {
            char key[201];
            memset(key, 'k', 200);
            key[200] = '\0';
            snprintf(more, sizeof(more), "Idempotency-Key: %s\r\n", key);
        } else if (w->headers != NULL) {
            snprintf(more, sizeof(more), "%s", w->headers);
        }
        const char *ctype = w->ctype ? w->ctype : "application/json";
        bool has_ctype = strcmp(ctype, "-") != 0;
        char *h = rel_fmt("%s%s%sConnect-Protocol-Version: 1\r\n%s%s%s%s",
                          has_ctype ? "Content-Type: " : "", has_ctype ? ctype : "",
                          has_ctype ? "\r\n" : "", token ? "Authorization: Bearer " : "",
                          token ? token : "", token ? "\r\n" : "", more);
        char path[300];
        snprintf(path, sizeof(path), "/boussole.v1.%s", w->method);
        if (strncmp(w->method, "../", 3) == 0) {
            snprintf(path, sizeof(path), "/%s", w->method);
        }
        char *before = digest();
        rel_resp r;
        rel_conn_request(&c, "POST", path, h, body, blen, 20000, &r);
        if (!check_answer(w->name, &r, w->status, w->code, w->names)) {
            failures++;
        }
        char *after = digest();
        if (strcmp(before, after) != 0) {
            fprintf(stderr, "FAIL %s: Redis changed (%s -> %s)\n", w->name, before, after);
            failures++;
        }
        free(before);
        free(after);
        rel_resp_free(&r);
        free(h);
        free(body);
    }
    rel_conn_free(&c);
    char *last = digest();
    printf("%zu rows, %d failed; Redis digest before %s, after %s\n",
           sizeof(rows) / sizeof(rows[0]), failures, first, last);
    assert_string_equal(first, last);
    /* The digest sees a change: one valid write changes it. */
    free(post("SessionService/AddExperience", beneficiary, 200,
              "{\"experience\":{\"bilanId\":\"%s\",\"kind\":\"EXPERIENCE_KIND_VOLUNTEERING\","
              "\"title\":\"Trésorière d'une association\",\"periodStart\":\"2019-01-01\"}}",
              bilan));
    char *changed = digest();
    assert_string_not_equal(first, changed);
    free(first);
    free(last);
    free(changed);
    assert_int_equal(failures, 0);
}

/* ---- framing and size: requests written byte by byte ------------------------------------- */

typedef struct raw_row {
    const char *name;
    const char *head; /* request line and headers, up to the empty line (%T: the token) */
    const char *body;
    long body_len; /* -1: strlen(body); else this many bytes of 'x' (when body is NULL) */
    int status;
    const char *code;
    /* Framing errors that libmicrohttpd (the gateway's HTTP parser) answers itself, before the
     * gateway sees the request: the status is checked and the connection must be closed, but
     * the body is MHD's short HTML page, not a Connect error (MHD 0.9 cannot be given one). */
    bool http_layer;
} raw_row;

#define RPC_HEAD(extra)                                                                            \
    "POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\nContent-Type: "              \
    "application/json\r\nConnect-Protocol-Version: 1\r\nAuthorization: Bearer %T\r\n" extra "\r\n"

static const raw_row raw_rows[] = {
    { "body over the 1 MiB limit", RPC_HEAD("Content-Length: 1500000\r\n"), NULL, 1500000, 413,
      "resource_exhausted", false },
    { "declared length of a petabyte", RPC_HEAD("Content-Length: 1000000000000000\r\n"), "", -1,
      413, "resource_exhausted", false },
    { "length not a number", RPC_HEAD("Content-Length: 12ab\r\n"), "{\"id\":\"x\"}", -1, 400,
      "invalid_argument", true },
    { "both framings", RPC_HEAD("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
      "5\r\n{\"a\":\r\n0\r\n\r\n", -1, 400, "invalid_argument", false },
    { "Transfer-Encoding gzip", RPC_HEAD("Transfer-Encoding: gzip\r\n"), "", -1, 501,
      "unimplemented", false },
    { "chunk size not hex", RPC_HEAD("Transfer-Encoding: chunked\r\n"), "zz\r\n{}\r\n0\r\n\r\n", -1,
      400, "invalid_argument", true },
    { "chunk size of 2^64", RPC_HEAD("Transfer-Encoding: chunked\r\n"),
      "10000000000000000\r\n{}\r\n0\r\n\r\n", -1, 413, "resource_exhausted", true },
    { "chunks over the limit", RPC_HEAD("Transfer-Encoding: chunked\r\n"), "@chunks", -1, 413,
      "resource_exhausted", false },
    { "chunk without its CRLF", RPC_HEAD("Transfer-Encoding: chunked\r\n"), "2\r\n{}XX0\r\n\r\n",
      -1, 400, "invalid_argument", true },
    /* A header line over 8 KiB: the gateway answers 431 (see gateway_limits_test). */
    { "header too long", RPC_HEAD("X-Request-Id: @big-header\r\n"), "{}", -1, 431,
      "invalid_argument", false },
};

static char *raw_request(const raw_row *w, size_t *len)
{
    size_t cap = (w->body_len > 0 ? (size_t)w->body_len : 0) + (3 << 20);
    char *b = malloc(cap);
    size_t n = 0;
    for (const char *p = w->head; *p != '\0'; p++) {
        if (p[0] == '%' && p[1] == 'T') {
            n += (size_t)snprintf(b + n, cap - n, "%s", counselor);
            p++;
        } else if (strncmp(p, "@big-header", 11) == 0) {
            for (int i = 0; i < 10000; i++) {
                b[n++] = 'r';
            }
            p += 10;
        } else {
            b[n++] = *p;
        }
    }
    if (w->body != NULL && strcmp(w->body, "@chunks") == 0) {
        for (int i = 0; i < 40; i++) {
            n += (size_t)snprintf(b + n, cap - n, "8000\r\n");
            memset(b + n, ' ', 0x8000);
            n += 0x8000;
            n += (size_t)snprintf(b + n, cap - n, "\r\n");
        }
        n += (size_t)snprintf(b + n, cap - n, "0\r\n\r\n");
    } else if (w->body != NULL) {
        memcpy(b + n, w->body, strlen(w->body));
        n += strlen(w->body);
    } else {
        memset(b + n, 'x', (size_t)w->body_len);
        n += (size_t)w->body_len;
    }
    *len = n;
    return b;
}

static void raw_rows_test(void **state)
{
    (void)state;
    char *before = digest();
    int failures = 0;
    for (size_t i = 0; i < sizeof(raw_rows) / sizeof(raw_rows[0]); i++) {
        const raw_row *w = &raw_rows[i];
        size_t len;
        char *req = raw_request(w, &len);
        rel_conn c;
        rel_conn_init(&c, "127.0.0.1", gw.port);
        rel_resp r;
        rel_conn_raw(&c, req, len, false, 20000, &r);
        char conn[32];
        const char *cl = rel_header(&r, "Connection", conn, sizeof(conn));
        if (w->http_layer && r.status == w->status && cl != NULL && strcasecmp(cl, "close") == 0) {
            printf("ok   %-40s %d from libmicrohttpd, connection closed\n", w->name, r.status);
        } else if (!check_answer(w->name, &r, w->status, w->code, NULL)) {
            failures++;
        }
        rel_resp_free(&r);
        rel_conn_free(&c);
        free(req);
    }
    char *after = digest();
    if (strcmp(before, after) != 0) {
        fprintf(stderr, "Redis changed: %s -> %s\n", before, after);
        failures++;
    }
    free(before);
    free(after);
    assert_int_equal(failures, 0);
}

/* A client that declares a body and then sends only part of it, and stays connected: the
 * gateway must not hold the request (and its buffer) forever. It answers 408 (or at least
 * closes the connection) within 15 s. */
static void body_that_never_comes(void **state)
{
    (void)state;
    char *head = rel_fmt("POST /boussole.v1.SessionService/GetBilan HTTP/1.1\r\nHost: x\r\n"
                         "Content-Type: application/json\r\nConnect-Protocol-Version: 1\r\n"
                         "Authorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{\"id\":\"",
                         counselor);
    int fd = rel_tcp_connect("127.0.0.1", gw.port, false);
    assert_true(fd >= 0);
    assert_true(send(fd, head, strlen(head), MSG_NOSIGNAL) == (ssize_t)strlen(head));
    long long t0 = rel_now_ms();
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int ready = poll(&p, 1, 15000);
    char buf[4096];
    ssize_t n = ready > 0 ? recv(fd, buf, sizeof(buf) - 1, 0) : -1;
    long long waited = rel_now_ms() - t0;
    close(fd);
    free(head);
    if (ready <= 0) {
        fail_msg("the gateway still holds a request whose body never came, after %lld ms "
                 "(no read timeout on request bodies)",
                 waited);
    }
    buf[n > 0 ? n : 0] = '\0';
    printf("answered after %lld ms: %.60s\n", waited, buf);
    assert_true(n == 0 || strncmp(buf, "HTTP/1.1 408", 12) == 0);
}

/* A client that half-closes after part of its body: nothing written, no crash, no hang. */
static void truncated_then_gone(void **state)
{
    (void)state;
    char *before = digest();
    for (int i = 0; i < 20; i++) {
        char *req = rel_fmt("POST /boussole.v1.SessionService/CreateBilan HTTP/1.1\r\nHost: x\r\n"
                            "Content-Type: application/json\r\nConnect-Protocol-Version: 1\r\n"
                            "Authorization: Bearer %s\r\nIdempotency-Key: cut-%d\r\n"
                            "Content-Length: 400\r\n\r\n{\"beneficiaryId\":\"b-cut\","
                            "\"organisationId\":\"org-lumiere\",\"funding\":\"FUNDING_CPF\","
                            "\"plannedHours\":20,\"startDate\":\"2026-01-05\",",
                            counselor, i);
        rel_conn c;
        rel_conn_init(&c, "127.0.0.1", gw.port);
        rel_resp r;
        rel_conn_raw(&c, req, strlen(req), true, 5000, &r);
        assert_true(r.status == -2 || r.status == 400);
        rel_resp_free(&r);
        rel_conn_free(&c);
        free(req);
    }
    char *after = digest();
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* Still serving. */
    assert_int_equal(gwh_http_status(gw.port, "/readyz"), 200);
    free(post("SessionService/GetBilan", counselor, 200, "{\"id\":\"%s\"}", bilan));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_rows),
        cmocka_unit_test(raw_rows_test),
        cmocka_unit_test(truncated_then_gone),
        cmocka_unit_test(body_that_never_comes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
