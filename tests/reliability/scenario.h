/*
 * A real bilan, driven through the gateway as a front end drives it (the steps of
 * tests/integration/gateway_scenario_test.c): created by its counselor, intake and roadmap,
 * investigation (an experience, a career lead and its research, the RIASEC inventory answered
 * and submitted, the values inventory left open, a relative invited), conclusion, a synthesis
 * drafted and written, a share link. The soak's calls and the valgrind pass work on such
 * bilans. Header-only, on top of rel_harness.h.
 */
#ifndef REL_SCENARIO_H
#define REL_SCENARIO_H

#include "rel_harness.h"

/* Markers in the free text: none may reach a log. */
#define SC_SECRET_INTAKE   "Je veux quitter la comptabilité SCN-INTAKE-3f9d"
#define SC_SECRET_EXP      "Dix ans au service paie SCN-EXP-81a0"
#define SC_SECRET_RESEARCH "Une journée avec un ébéniste SCN-RESEARCH-5b2e"
#define SC_SECRET_ANSWER   "Transmettre un savoir-faire SCN-ANSWER-c71d"
#define SC_SECRET_SYNTH    "Rigueur et sens du détail SCN-SYNTH-0e44"
#define SC_SECRET_RELATIVE "Claire Dubois SCN-RELATIVE-9a13"
static const char *const sc_markers[] = { "SCN-INTAKE", "SCN-EXP",   "SCN-RESEARCH",
                                          "SCN-ANSWER", "SCN-SYNTH", "SCN-RELATIVE" };

typedef struct sc_bilan {
    char id[32];
    char asg_riasec[32]; /* submitted */
    char asg_open[32];   /* "valeurs", answered bit by bit */
    char share_token[128];
    char inv_token[80];
    char *counselor; /* tokens, borrowed */
    char *beneficiary;
    unsigned long long revision; /* the synthesis's current revision */
    bool busy;                   /* a revision is being saved */
} sc_bilan;

static const char *sc_day(int days)
{
    static char bufs[8][16];
    static int next;
    char *b = bufs[next++ % 8];
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b, 16, "%Y-%m-%d", &tm);
    return b;
}

static const char *sc_in_days(int days)
{
    static char b[40];
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return b;
}

/* One call that must answer 200; the body (malloc'd). */
static char *sc_call(rel_conn *c, const char *method, const char *token, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static char *sc_call(rel_conn *c, const char *method, const char *token, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *json = NULL;
    if (vasprintf(&json, fmt, ap) < 0) {
        rel_die("out of memory");
    }
    va_end(ap);
    char full[200];
    snprintf(full, sizeof(full), "boussole.v1.%s", method);
    rel_resp r;
    int st = rel_call(c, full, token, json, NULL, &r);
    if (st != 200) {
        rel_die("%s: HTTP %d %s", method, st, r.body ? r.body : "");
    }
    char *body = strdup(r.body);
    rel_resp_free(&r);
    free(json);
    return body;
}

static void sc_field(const char *json, const char *key, char *out, size_t cap)
{
    rel_json_str(json, key, out, cap);
    if (out[0] == '\0') {
        rel_die("no \"%s\" in %s", key, json);
    }
}

/* The 48 RIASEC answers (code IAE, as in the gateway's scenario). */
static int sc_riasec_value(char type, int n)
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

/* Drives one bilan from creation to a written draft synthesis and a share link. */
static void sc_bilan_setup(rel_conn *c, sc_bilan *b, char *counselor, char *beneficiary,
                           const char *beneficiary_id, const char *org)
{
    memset(b, 0, sizeof(*b));
    b->counselor = counselor;
    b->beneficiary = beneficiary;
    char *r = sc_call(c, "SessionService/CreateBilan", counselor,
                      "{\"beneficiaryId\":\"%s\",\"organisationId\":\"%s\",\"funding\":"
                      "\"FUNDING_CPF\",\"plannedHours\":24,\"startDate\":\"%s\",\"endDate\":"
                      "\"%s\"}",
                      beneficiary_id, org, sc_day(-30), sc_day(60));
    sc_field(r, "id", b->id, sizeof(b->id));
    free(r);
    free(sc_call(c, "SessionService/RecordIntake", beneficiary,
                 "{\"intake\":{\"bilanId\":\"%s\",\"currentSituation\":\"" SC_SECRET_INTAKE
                 "\",\"reasons\":\"Un métier manuel.\",\"expectations\":\"Choisir une "
                 "formation.\"}}",
                 b->id));
    free(sc_call(c, "SessionService/SetRoadmap", counselor,
                 "{\"bilanId\":\"%s\",\"steps\":[{\"phase\":\"PHASE_PRELIMINARY\",\"title\":"
                 "\"Entretien d'accueil\",\"tools\":[\"ROADMAP_TOOL_INTERVIEW\"],\"plannedDate\":"
                 "\"%s\",\"status\":\"ROADMAP_STEP_STATUS_DONE\"},{\"phase\":"
                 "\"PHASE_INVESTIGATION\",\"title\":\"Enquêtes métier\",\"tools\":["
                 "\"ROADMAP_TOOL_QUESTIONNAIRE\",\"ROADMAP_TOOL_JOB_RESEARCH\"],\"plannedDate\":"
                 "\"%s\",\"status\":\"ROADMAP_STEP_STATUS_DONE\"}]}",
                 b->id, sc_day(-25), sc_day(-5)));
    free(sc_call(c, "SessionService/AdvancePhase", counselor,
                 "{\"id\":\"%s\",\"target\":\"PHASE_INVESTIGATION\"}", b->id));
    free(sc_call(c, "SessionService/AddExperience", beneficiary,
                 "{\"experience\":{\"bilanId\":\"%s\",\"kind\":\"EXPERIENCE_KIND_JOB\",\"title\":"
                 "\"Gestionnaire de paie\",\"periodStart\":\"2014-09-01\",\"periodEnd\":"
                 "\"2024-06-30\",\"description\":\"" SC_SECRET_EXP "\",\"skills\":[\"Rigueur\"]}}",
                 b->id));
    char lead[32];
    r = sc_call(c, "SessionService/AddCareerLead", beneficiary,
                "{\"lead\":{\"bilanId\":\"%s\",\"title\":\"Ébéniste\",\"path\":"
                "\"CAREER_PATH_RECONVERSION\",\"status\":\"CAREER_LEAD_STATUS_EXPLORING\"}}",
                b->id);
    sc_field(r, "id", lead, sizeof(lead));
    free(r);
    free(sc_call(c, "SessionService/AddLeadResearch", beneficiary,
                 "{\"bilanId\":\"%s\",\"research\":{\"leadId\":\"%s\",\"kind\":"
                 "\"RESEARCH_KIND_TESTIMONY\",\"title\":\"Rencontre\",\"notes\":"
                 "\"" SC_SECRET_RESEARCH "\",\"date\":\"%s\"}}",
                 b->id, lead, sc_day(-3)));
    r = sc_call(c, "QuestionnaireService/AssignInstrument", counselor,
                "{\"bilanId\":\"%s\",\"instrumentId\":\"riasec\"}", b->id);
    sc_field(r, "id", b->asg_riasec, sizeof(b->asg_riasec));
    free(r);
    char answers[8192];
    size_t n = 0;
    for (int t = 0; t < 6; t++) {
        for (int k = 1; k <= 8; k++) {
            n += (size_t)snprintf(answers + n, sizeof(answers) - n,
                                  "%s{\"itemId\":\"%c%d\",\"likert\":%d}", n ? "," : "",
                                  "riasec"[t], k, sc_riasec_value("riasec"[t], k));
        }
    }
    free(sc_call(c, "QuestionnaireService/SaveAnswers", beneficiary,
                 "{\"bilanId\":\"%s\",\"assignmentId\":\"%s\",\"answers\":[%s]}", b->id,
                 b->asg_riasec, answers));
    r = sc_call(c, "QuestionnaireService/SubmitAnswers", beneficiary,
                "{\"bilanId\":\"%s\",\"assignmentId\":\"%s\"}", b->id, b->asg_riasec);
    if (strstr(r, "\"hollandCode\":\"IAE\"") == NULL) {
        rel_die("RIASEC results without the expected code: %s", r);
    }
    free(r);
    r = sc_call(c, "QuestionnaireService/AssignInstrument", counselor,
                "{\"bilanId\":\"%s\",\"instrumentId\":\"valeurs\"}", b->id);
    sc_field(r, "id", b->asg_open, sizeof(b->asg_open));
    free(r);
    free(sc_call(c, "QuestionnaireService/SaveAnswers", beneficiary,
                 "{\"bilanId\":\"%s\",\"assignmentId\":\"%s\",\"answers\":[{\"itemId\":"
                 "\"moteur\",\"text\":\"" SC_SECRET_ANSWER "\"}]}",
                 b->id, b->asg_open));
    r = sc_call(c, "QuestionnaireService/InviteRelative", beneficiary,
                "{\"bilanId\":\"%s\",\"relative\":{\"name\":\"" SC_SECRET_RELATIVE
                "\",\"relation\":\"soeur\",\"contact\":\"claire@example.org\"}}",
                b->id);
    sc_field(r, "token", b->inv_token, sizeof(b->inv_token));
    free(r);
    free(sc_call(c, "SessionService/AdvancePhase", counselor,
                 "{\"id\":\"%s\",\"target\":\"PHASE_CONCLUSION\"}", b->id));
    free(sc_call(c, "SynthesisService/DraftSynthesis", counselor, "{\"bilanId\":\"%s\"}", b->id));
    r = sc_call(c, "SynthesisService/GetSynthesis", counselor, "{\"bilanId\":\"%s\"}", b->id);
    char rev[32];
    sc_field(r, "currentRevision", rev, sizeof(rev));
    free(r);
    r = sc_call(c, "SynthesisService/SaveSynthesisRevision", counselor,
                "{\"bilanId\":\"%s\",\"baseRevision\":\"%s\",\"sections\":["
                "\"SYNTHESIS_SECTION_COVER\",\"SYNTHESIS_SECTION_SKILLS\"],\"content\":{\"cover\":"
                "{\"beneficiaryName\":\"Bénéficiaire\",\"counselorName\":\"Conseillère\"},"
                "\"skills\":\"" SC_SECRET_SYNTH "\"},\"changeNote\":\"Rédaction\"}",
                b->id, rev);
    sc_field(r, "currentRevision", rev, sizeof(rev));
    b->revision = strtoull(rev, NULL, 10);
    free(r);
    r = sc_call(c, "SynthesisService/CreateSynthesisGrant", beneficiary,
                "{\"bilanId\":\"%s\",\"kind\":\"SYNTHESIS_THIRD_PARTY_KIND_EMPLOYER\","
                "\"thirdPartyName\":\"Employeur\",\"sections\":[\"SYNTHESIS_SECTION_SKILLS\"],"
                "\"expireTime\":\"%s\"}",
                b->id, sc_in_days(7));
    sc_field(r, "shareToken", b->share_token, sizeof(b->share_token));
    free(r);
}

/* The counselor submits the synthesis, the beneficiary approves it: final (share links and
 * grants now open it; it takes no more revisions). */
static void sc_bilan_finalise(rel_conn *c, sc_bilan *b)
{
    free(sc_call(c, "SynthesisService/SubmitSynthesis", b->counselor,
                 "{\"bilanId\":\"%s\",\"baseRevision\":\"%llu\"}", b->id, b->revision));
    char *r = sc_call(c, "SynthesisService/ApproveSynthesis", b->beneficiary,
                      "{\"bilanId\":\"%s\",\"revision\":\"%llu\"}", b->id, b->revision);
    if (strstr(r, "SYNTHESIS_STATUS_FINAL") == NULL) {
        rel_die("the synthesis is not final: %s", r);
    }
    free(r);
}

#endif /* REL_SCENARIO_H */
