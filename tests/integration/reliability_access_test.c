/*
 * Access control through the gateway, generated from the schema: every method of every
 * service (boussole/schema.h) called by every kind of caller, with real bearer tokens, against
 * real redis-server, sessions, questionnaires, syntheses and boussole-gateway processes.
 *
 * Columns: the bilan's beneficiary, another beneficiary, the assigned counselor, another
 * counselor of the same organisation, an admin of the organisation, an admin of another
 * organisation, a third party holding a grant on the bilan's synthesis, a third party with
 * none, and no token at all.
 *
 * Public methods have a row each below (a valid request, and the expected answer of each
 * column, from the permission matrices the services document and test:
 * services/questionnaires/README.md, tests/integration/sessions_permissions_test.c and
 * tests/integration/syntheses_matrix_test.c); the test fails when the schema has a public
 * method without a row, so a new RPC cannot go untested. Internal methods get their rows from
 * the schema itself: the gateway must answer them exactly like methods that do not exist, to
 * every caller. Cells:
 *   Y 200             E 200 with nothing of the bilan in it
 *   D 403 permission_denied   N 404 not_found (existence does not leak)
 *   U 401 unauthenticated     I 404 unimplemented (internal: not served to anyone)
 *   F 400 failed_precondition A 409 already_exists (allowed, but the state says no)
 * Rows run in order, and each cell of a row in column order; requests that change something
 * act on a resource of their own where the first allowed cell would spoil the next (a bilan
 * to cancel per column, a grant to revoke per column, ...), and updates carry the current
 * version, so that every allowed cell gets a definite answer.
 *
 * Then the logs of every process of the run are searched for every token, share token,
 * invitation token, key and piece of free text the test used: none may appear.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "../reliability/rel_harness.h"
#include "boussole/schema.h"
#include "boussole/service.h"
#include "gateway_harness.h"

enum { BEN, BEN2, COU, COU2, ADM, ADM2, TPG, TP, ANON, NCOL };
static const char *const col_names[NCOL] = {
    "beneficiary",       "other beneficiary",   "counselor",   "other counselor", "admin",
    "other org's admin", "third party (grant)", "third party", "no token",
};
static const struct {
    const char *sub, *role, *org;
} principals[NCOL] = {
    { "b-lea", "beneficiary", "" },
    { "b-autre", "beneficiary", "" },
    { "c-marie", "counselor", "org-lumiere" },
    { "c-jean", "counselor", "org-lumiere" },
    { "a-anne", "admin", "org-lumiere" },
    { "a-zed", "admin", "org-autre" },
    { "t-apec", "third_party", "" },
    { "t-employeur", "third_party", "" },
    { NULL, NULL, NULL },
};

static te_env env;
static te_proc sessions, questionnaires, syntheses, gw;
static char *tokens[NCOL];
static rel_conn conn;

/* Free text the test writes: each carries a marker that must never reach a log. */
#define SECRET_INTAKE   "Situation confidentielle QX7-INTAKE-41f2"
#define SECRET_EXP      "Licenciement vécu difficilement QX7-EXP-93ac"
#define SECRET_NOTE     "Note privée du conseiller QX7-NOTE-5d10"
#define SECRET_SHARED   "Compte rendu partagé QX7-SHARED-77be"
#define SECRET_RESEARCH "Entretien avec une fleuriste QX7-RESEARCH-0c3e"
#define SECRET_SYNTH    "Compétences relationnelles QX7-SYNTH-a19b"
#define SECRET_COMMENT  "Commentaire de la bénéficiaire QX7-COMMENT-2e64"
#define SECRET_RELATIVE "Paul Martin QX7-RELATIVE-8f03"
#define SECRET_ANNOT    "Annotation QX7-ANNOT-c4d1"

/* ---- the fixture ------------------------------------------------------------------------- */

static struct {
    char bilan[32];    /* CPF, in its conclusion phase, with data of every service */
    char employer[32]; /* employer's plan, preliminary, for the agreement */
    char m_past[32], m_future[32], m_cancel[NCOL][32];
    char experience[32], experience_rm[NCOL][32];
    char lead[32], lead_rm[NCOL][32];
    char research[32], research_rm[NCOL][32];
    char entry_rm[NCOL][32];
    char instrument[48];         /* a counselor's own instrument (c-marie's) */
    char asg_custom[32];         /* assigned, answered through the matrix */
    char asg_riasec[32];         /* answered and submitted: results, matching */
    char inv_token[80], inv[32]; /* an invitation revoked by the matrix */
    char inv_token2[80];         /* an invitation answered by the matrix */
    char share_token[128];
    char grant_rm[NCOL][32];
} fx;

static char *vfmt(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) {
        fail_msg("out of memory");
    }
    return s;
}

/* A call as column `who`; the answer in *out (free with rel_resp_free). */
static int call_as(int who, const char *method, const char *json, rel_resp *out)
{
    char full[200];
    snprintf(full, sizeof(full), "boussole.v1.%s", method);
    return rel_call(&conn, full, tokens[who], json, NULL, out);
}

/* A call that must succeed; returns the body (malloc'd). */
static char *must(int who, const char *method, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static char *must(int who, const char *method, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *json = vfmt(fmt, ap);
    va_end(ap);
    rel_resp r;
    if (call_as(who, method, json, &r) != 200) {
        fail_msg("fixture: %s as %s: HTTP %d %s\n%s", method, col_names[who], r.status,
                 r.body ? r.body : "", json);
    }
    char *body = strdup(r.body);
    rel_resp_free(&r);
    free(json);
    return body;
}

static void id_of(const char *json, const char *key, char *out, size_t cap)
{
    rel_json_str(json, key, out, cap);
    if (out[0] == '\0') {
        fail_msg("no \"%s\" in %s", key, json);
    }
}

static const char *at_minutes(int minutes)
{
    static char bufs[8][32];
    static int next;
    char *b = bufs[next++ % 8];
    time_t t = time(NULL) + (time_t)minutes * 60;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return b;
}

/* The "version" of the object whose "<key>":"<id>" comes first in json; 0 when absent (the
 * mapping omits zeros). */
static unsigned long long version_of(const char *json, const char *key, const char *id)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\":\"%s\"", key, id);
    const char *p = strstr(json, pat);
    const char *v = p ? strstr(p, "\"version\":\"") : NULL;
    /* The version must belong to this object: no other object's id in between. */
    if (v == NULL) {
        return 0;
    }
    return strtoull(v + 11, NULL, 10);
}

static char *new_bilan(const char *funding)
{
    char *b = must(COU, "SessionService/CreateBilan",
                   "{\"beneficiaryId\":\"b-lea\",\"organisationId\":\"org-lumiere\",\"funding\":"
                   "\"%s\",\"plannedHours\":24,\"startDate\":\"%s\",\"endDate\":\"%s\"}",
                   funding, te_day(-20), te_day(70));
    static char id[32];
    id_of(b, "id", id, sizeof(id));
    free(b);
    return id;
}

static const char *schedule(int start_min)
{
    char *b = must(COU, "SessionService/ScheduleMeeting",
                   "{\"bilanId\":\"%s\",\"phase\":\"PHASE_CONCLUSION\",\"startTime\":\"%s\","
                   "\"durationMinutes\":60,\"mode\":\"MEETING_MODE_REMOTE\"}",
                   fx.bilan, at_minutes(start_min));
    static char id[32];
    id_of(b, "id", id, sizeof(id));
    free(b);
    return id;
}

static void build_fixture(void)
{
    char *b;
    snprintf(fx.bilan, sizeof(fx.bilan), "%s", new_bilan("FUNDING_CPF"));
    snprintf(fx.employer, sizeof(fx.employer), "%s", new_bilan("FUNDING_EMPLOYER_PLAN"));
    free(must(BEN, "SessionService/RecordIntake",
              "{\"intake\":{\"bilanId\":\"%s\",\"currentSituation\":\"" SECRET_INTAKE
              "\",\"reasons\":\"Changer de métier.\"}}",
              fx.bilan));
    free(must(COU, "SessionService/SetRoadmap",
              "{\"bilanId\":\"%s\",\"steps\":[{\"phase\":\"PHASE_PRELIMINARY\",\"title\":"
              "\"Accueil\",\"tools\":[\"ROADMAP_TOOL_INTERVIEW\"],\"plannedDate\":\"%s\","
              "\"status\":\"ROADMAP_STEP_STATUS_DONE\"}]}",
              fx.bilan, te_day(-15)));
    free(must(COU, "SessionService/AdvancePhase",
              "{\"id\":\"%s\",\"target\":\"PHASE_INVESTIGATION\"}", fx.bilan));

    /* Sessions records: one to update, one per column to remove. */
    b = must(BEN, "SessionService/AddExperience",
             "{\"experience\":{\"bilanId\":\"%s\",\"kind\":\"EXPERIENCE_KIND_JOB\",\"title\":"
             "\"Vendeuse\",\"description\":\"" SECRET_EXP "\"}}",
             fx.bilan);
    id_of(b, "id", fx.experience, sizeof(fx.experience));
    free(b);
    b = must(BEN, "SessionService/AddCareerLead",
             "{\"lead\":{\"bilanId\":\"%s\",\"title\":\"Libraire\",\"path\":"
             "\"CAREER_PATH_RECONVERSION\",\"status\":\"CAREER_LEAD_STATUS_EXPLORING\"}}",
             fx.bilan);
    id_of(b, "id", fx.lead, sizeof(fx.lead));
    free(b);
    b = must(BEN, "SessionService/AddLeadResearch",
             "{\"bilanId\":\"%s\",\"research\":{\"leadId\":\"%s\",\"kind\":"
             "\"RESEARCH_KIND_TESTIMONY\",\"title\":\"Rencontre\",\"notes\":\"" SECRET_RESEARCH
             "\"}}",
             fx.bilan, fx.lead);
    id_of(b, "id", fx.research, sizeof(fx.research));
    free(b);
    for (int c = 0; c < NCOL; c++) {
        b = must(BEN, "SessionService/AddExperience",
                 "{\"experience\":{\"bilanId\":\"%s\",\"kind\":\"EXPERIENCE_KIND_TRAINING\","
                 "\"title\":\"Formation %d\"}}",
                 fx.bilan, c);
        id_of(b, "id", fx.experience_rm[c], 32);
        free(b);
        b = must(BEN, "SessionService/AddCareerLead",
                 "{\"lead\":{\"bilanId\":\"%s\",\"title\":\"Piste %d\",\"path\":"
                 "\"CAREER_PATH_TRAINING\",\"status\":\"CAREER_LEAD_STATUS_EXPLORING\"}}",
                 fx.bilan, c);
        id_of(b, "id", fx.lead_rm[c], 32);
        free(b);
        b = must(BEN, "SessionService/AddLeadResearch",
                 "{\"bilanId\":\"%s\",\"research\":{\"leadId\":\"%s\",\"kind\":"
                 "\"RESEARCH_KIND_DOCUMENTATION\",\"title\":\"Fiche %d\"}}",
                 fx.bilan, fx.lead, c);
        id_of(b, "id", fx.research_rm[c], 32);
        free(b);
        b = must(COU, "SessionService/RecordAccompaniedTime",
                 "{\"bilanId\":\"%s\",\"phase\":\"PHASE_INVESTIGATION\",\"date\":\"%s\","
                 "\"minutes\":5,\"activity\":\"ACCOMPANIED_ACTIVITY_PHONE_CALL\"}",
                 fx.bilan, te_day(-2));
        id_of(b, "id", fx.entry_rm[c], 32);
        free(b);
    }

    /* Questionnaires: a counselor's own one-item instrument, assigned; RIASEC answered and
     * submitted; two invitations. */
    b = must(COU, "QuestionnaireService/CreateInstrument",
             "{\"instrument\":{\"language\":\"fr\",\"purpose\":\"INSTRUMENT_PURPOSE_OTHER\","
             "\"title\":\"Prêt\",\"sections\":[{\"id\":\"s\",\"title\":\"Question\"}],\"items\":"
             "[{\"id\":\"q1\",\"kind\":\"ITEM_KIND_LIKERT\",\"sectionId\":\"s\",\"text\":"
             "\"Êtes-vous prêt(e) ?\",\"required\":true,\"likertMin\":0,\"likertMax\":1,"
             "\"likertLabels\":[\"Non\",\"Oui\"]}]}}");
    id_of(b, "id", fx.instrument, sizeof(fx.instrument));
    free(b);
    b = must(COU, "QuestionnaireService/AssignInstrument",
             "{\"bilanId\":\"%s\",\"instrumentId\":\"%s\"}", fx.bilan, fx.instrument);
    id_of(b, "id", fx.asg_custom, sizeof(fx.asg_custom));
    free(b);
    b = must(COU, "QuestionnaireService/AssignInstrument",
             "{\"bilanId\":\"%s\",\"instrumentId\":\"riasec\"}", fx.bilan);
    id_of(b, "id", fx.asg_riasec, sizeof(fx.asg_riasec));
    free(b);
    char answers[8192];
    size_t n = 0;
    for (int t = 0; t < 6; t++) {
        for (int k = 1; k <= 8; k++) {
            n += (size_t)snprintf(answers + n, sizeof(answers) - n,
                                  "%s{\"itemId\":\"%c%d\",\"likert\":%d}", n ? "," : "",
                                  "riasec"[t], k, t == 1 ? 5 : 1 + (t + k) % 4);
        }
    }
    free(must(BEN, "QuestionnaireService/SaveAnswers",
              "{\"bilanId\":\"%s\",\"assignmentId\":\"%s\",\"answers\":[%s]}", fx.bilan,
              fx.asg_riasec, answers));
    free(must(BEN, "QuestionnaireService/SubmitAnswers",
              "{\"bilanId\":\"%s\",\"assignmentId\":\"%s\"}", fx.bilan, fx.asg_riasec));
    b = must(BEN, "QuestionnaireService/InviteRelative",
             "{\"bilanId\":\"%s\",\"relative\":{\"name\":\"" SECRET_RELATIVE
             "\",\"relation\":\"ami\",\"contact\":\"paul@example.org\"}}",
             fx.bilan);
    id_of(b, "token", fx.inv_token, sizeof(fx.inv_token));
    char *inv = strstr(b, "\"invitation\":");
    id_of(inv ? inv : b, "id", fx.inv, sizeof(fx.inv));
    free(b);
    b = must(BEN, "QuestionnaireService/InviteRelative",
             "{\"bilanId\":\"%s\",\"relative\":{\"name\":\"Inès\",\"relation\":\"soeur\","
             "\"contact\":\"ines@example.org\"}}",
             fx.bilan);
    id_of(b, "token", fx.inv_token2, sizeof(fx.inv_token2));
    free(b);

    /* Meetings: one begun, one to come, one per column to call off. */
    free(must(COU, "SessionService/AdvancePhase", "{\"id\":\"%s\",\"target\":\"PHASE_CONCLUSION\"}",
              fx.bilan));
    snprintf(fx.m_past, sizeof(fx.m_past), "%s", schedule(-60));
    snprintf(fx.m_future, sizeof(fx.m_future), "%s", schedule(2 * 24 * 60));
    for (int c = 0; c < NCOL; c++) {
        snprintf(fx.m_cancel[c], 32, "%s", schedule(4 * 24 * 60 + c * 90));
    }

    /* Syntheses: a draft; a grant bound to the third party's account, a share link, and one
     * grant per column to revoke. */
    free(must(COU, "SynthesisService/DraftSynthesis", "{\"bilanId\":\"%s\"}", fx.bilan));
    b = must(BEN, "SynthesisService/CreateSynthesisGrant",
             "{\"bilanId\":\"%s\",\"kind\":\"SYNTHESIS_THIRD_PARTY_KIND_CEP\",\"thirdPartyName\":"
             "\"APEC\",\"granteeId\":\"t-apec\",\"expireTime\":\"%s\"}",
             fx.bilan, at_minutes(30 * 24 * 60));
    free(b);
    b = must(BEN, "SynthesisService/CreateSynthesisGrant",
             "{\"bilanId\":\"%s\",\"kind\":\"SYNTHESIS_THIRD_PARTY_KIND_EMPLOYER\","
             "\"thirdPartyName\":\"Employeur\",\"expireTime\":\"%s\"}",
             fx.bilan, at_minutes(30 * 24 * 60));
    id_of(b, "shareToken", fx.share_token, sizeof(fx.share_token));
    free(b);
    for (int c = 0; c < NCOL; c++) {
        b = must(BEN, "SynthesisService/CreateSynthesisGrant",
                 "{\"bilanId\":\"%s\",\"kind\":\"SYNTHESIS_THIRD_PARTY_KIND_OTHER\","
                 "\"thirdPartyName\":\"Tiers %d\",\"expireTime\":\"%s\"}",
                 fx.bilan, c, at_minutes(30 * 24 * 60));
        char *g = strstr(b, "\"grant\":");
        id_of(g ? g : b, "id", fx.grant_rm[c], 32);
        free(b);
    }
}

/* ---- rows: a request for one column ------------------------------------------------------ */

typedef char *(*body_fn)(int col);

#define BILAN_ONLY(name, key)                                                                      \
    static char *name(int col)                                                                     \
    {                                                                                              \
        (void)col;                                                                                 \
        return rel_fmt("{\"" key "\":\"%s\"}", fx.bilan);                                          \
    }
BILAN_ONLY(b_bilan_id, "bilanId")
BILAN_ONLY(b_id, "id")

static char *b_update_bilan(int col)
{
    (void)col;
    char *g = must(COU, "SessionService/GetBilan", "{\"id\":\"%s\"}", fx.bilan);
    unsigned long long v = version_of(g, "id", fx.bilan);
    free(g);
    return rel_fmt("{\"id\":\"%s\",\"version\":\"%llu\",\"endDate\":\"%s\"}", fx.bilan, v,
                   te_day(71));
}

static char *b_cancel_bilan(int col)
{
    (void)col;
    return rel_fmt("{\"id\":\"%s\",\"reason\":\"CANCEL_REASON_CREATED_IN_ERROR\"}",
                   new_bilan("FUNDING_PERSONAL"));
}

static char *b_reassign(int col)
{
    (void)col;
    return rel_fmt("{\"id\":\"%s\",\"counselorId\":\"c-marie\"}", fx.bilan);
}

static char *b_advance(int col)
{
    (void)col;
    return rel_fmt("{\"id\":\"%s\",\"target\":\"PHASE_CONCLUSION\"}", fx.bilan);
}

static char *b_propose(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"employerName\":\"Garage Lemoine\",\"objective\":"
                   "\"Objectif\",\"content\":\"Contenu\",\"means\":\"Moyens\",\"durationHours\":"
                   "24,\"periodStart\":\"%s\",\"periodEnd\":\"%s\",\"resultsHandover\":"
                   "\"En main propre\",\"priceCents\":\"120000\"}",
                   fx.employer, te_day(0), te_day(60));
}

static char *b_respond(int col)
{
    (void)col;
    char *g = must(COU, "SessionService/GetAgreement", "{\"bilanId\":\"%s\"}", fx.employer);
    char rev[32];
    rel_json_str(g, "revision", rev, sizeof(rev));
    unsigned long r = 0;
    const char *p = strstr(g, "\"revision\":");
    if (p != NULL) {
        r = strtoul(p + 11, NULL, 10);
    }
    free(g);
    return rel_fmt("{\"bilanId\":\"%s\",\"revision\":%lu,\"accept\":true}", fx.employer, r);
}

static char *b_employer(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\"}", fx.employer);
}

static char *b_record_intake(int col)
{
    (void)col;
    char *g = must(COU, "SessionService/GetIntake", "{\"bilanId\":\"%s\"}", fx.bilan);
    unsigned long long v = version_of(g, "bilanId", fx.bilan);
    free(g);
    return rel_fmt("{\"intake\":{\"bilanId\":\"%s\",\"currentSituation\":\"" SECRET_INTAKE
                   "\",\"reasons\":\"Envie de changement.\",\"version\":\"%llu\"}}",
                   fx.bilan, v);
}

static char *b_set_roadmap(int col)
{
    (void)col;
    char *g = must(COU, "SessionService/GetRoadmap", "{\"bilanId\":\"%s\"}", fx.bilan);
    unsigned long long v = version_of(g, "bilanId", fx.bilan);
    free(g);
    return rel_fmt("{\"bilanId\":\"%s\",\"version\":\"%llu\",\"steps\":[{\"phase\":"
                   "\"PHASE_PRELIMINARY\",\"title\":\"Accueil\",\"tools\":["
                   "\"ROADMAP_TOOL_INTERVIEW\"],\"plannedDate\":\"%s\",\"status\":"
                   "\"ROADMAP_STEP_STATUS_DONE\"}]}",
                   fx.bilan, v, te_day(-15));
}

static char *b_schedule(int col)
{
    return rel_fmt("{\"bilanId\":\"%s\",\"phase\":\"PHASE_CONCLUSION\",\"startTime\":\"%s\","
                   "\"durationMinutes\":30,\"mode\":\"MEETING_MODE_REMOTE\"}",
                   fx.bilan, at_minutes(10 * 24 * 60 + col * 60));
}

static unsigned long long meeting_version(const char *mid)
{
    char *g = must(COU, "SessionService/ListMeetings", "{\"bilanId\":\"%s\"}", fx.bilan);
    unsigned long long v = version_of(g, "id", mid);
    free(g);
    return v;
}

static char *b_update_meeting(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"meetingId\":\"%s\",\"version\":\"%llu\","
                   "\"durationMinutes\":75}",
                   fx.bilan, fx.m_future, meeting_version(fx.m_future));
}

static char *b_cancel_meeting(int col)
{
    return rel_fmt("{\"bilanId\":\"%s\",\"meetingId\":\"%s\"}", fx.bilan, fx.m_cancel[col]);
}

static char *b_past_meeting(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"meetingId\":\"%s\"}", fx.bilan, fx.m_past);
}

static char *b_meeting_notes(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"meetingId\":\"%s\",\"version\":\"%llu\","
                   "\"sharedNotes\":\"" SECRET_SHARED "\"}",
                   fx.bilan, fx.m_past, meeting_version(fx.m_past));
}

static char *b_private_notes(int col)
{
    (void)col;
    char *g = must(COU, "SessionService/GetPrivateNotes",
                   "{\"bilanId\":\"%s\",\"meetingId\":\"%s\"}", fx.bilan, fx.m_past);
    const char *p = strstr(g, "\"version\":\"");
    unsigned long long v = p ? strtoull(p + 11, NULL, 10) : 0;
    free(g);
    return rel_fmt("{\"bilanId\":\"%s\",\"meetingId\":\"%s\",\"version\":\"%llu\",\"text\":"
                   "\"" SECRET_NOTE "\"}",
                   fx.bilan, fx.m_past, v);
}

static char *b_record_time(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"phase\":\"PHASE_CONCLUSION\",\"date\":\"%s\","
                   "\"minutes\":10,\"activity\":\"ACCOMPANIED_ACTIVITY_OTHER\"}",
                   fx.bilan, te_day(-1));
}

static char *b_remove_time(int col)
{
    return rel_fmt("{\"bilanId\":\"%s\",\"entryId\":\"%s\"}", fx.bilan, fx.entry_rm[col]);
}

static char *b_add_experience(int col)
{
    return rel_fmt("{\"experience\":{\"bilanId\":\"%s\",\"kind\":\"EXPERIENCE_KIND_TRAINING\","
                   "\"title\":\"BTS %d\"}}",
                   fx.bilan, col);
}

static char *b_update_experience(int col)
{
    (void)col;
    char *g = must(COU, "SessionService/ListExperiences", "{\"bilanId\":\"%s\"}", fx.bilan);
    unsigned long long v = version_of(g, "id", fx.experience);
    free(g);
    return rel_fmt("{\"experience\":{\"id\":\"%s\",\"bilanId\":\"%s\",\"kind\":"
                   "\"EXPERIENCE_KIND_JOB\",\"title\":\"Vendeuse\",\"description\":"
                   "\"" SECRET_EXP "\",\"version\":\"%llu\"}}",
                   fx.experience, fx.bilan, v);
}

static char *b_remove_experience(int col)
{
    return rel_fmt("{\"bilanId\":\"%s\",\"experienceId\":\"%s\"}", fx.bilan, fx.experience_rm[col]);
}

static char *b_add_lead(int col)
{
    return rel_fmt("{\"lead\":{\"bilanId\":\"%s\",\"title\":\"Fleuriste %d\",\"path\":"
                   "\"CAREER_PATH_BUSINESS_CREATION\",\"status\":"
                   "\"CAREER_LEAD_STATUS_EXPLORING\"}}",
                   fx.bilan, col);
}

static char *leads_json(void)
{
    return must(COU, "SessionService/ListCareerLeads", "{\"bilanId\":\"%s\"}", fx.bilan);
}

static char *b_update_lead(int col)
{
    (void)col;
    char *g = leads_json();
    unsigned long long v = version_of(g, "id", fx.lead);
    /* The lead's own version comes after its research in the JSON: find it past them. */
    const char *p = strstr(g, fx.lead);
    const char *r = p ? strstr(p, "\"research\":[") : NULL;
    if (r != NULL) {
        int depth = 0;
        const char *q = r + 11;
        for (; *q; q++) {
            if (*q == '[') {
                depth++;
            } else if (*q == ']' && --depth == 0) {
                break;
            }
        }
        const char *vv = strstr(q, "\"version\":\"");
        v = vv ? strtoull(vv + 11, NULL, 10) : 0;
    }
    free(g);
    return rel_fmt("{\"lead\":{\"id\":\"%s\",\"bilanId\":\"%s\",\"title\":\"Libraire\",\"path\":"
                   "\"CAREER_PATH_RECONVERSION\",\"status\":\"CAREER_LEAD_STATUS_EXPLORING\","
                   "\"version\":\"%llu\"}}",
                   fx.lead, fx.bilan, v);
}

static char *b_remove_lead(int col)
{
    return rel_fmt("{\"bilanId\":\"%s\",\"leadId\":\"%s\"}", fx.bilan, fx.lead_rm[col]);
}

static char *b_add_research(int col)
{
    return rel_fmt("{\"bilanId\":\"%s\",\"research\":{\"leadId\":\"%s\",\"kind\":"
                   "\"RESEARCH_KIND_DOCUMENTATION\",\"title\":\"Fiche métier %d\"}}",
                   fx.bilan, fx.lead, col);
}

static char *b_update_research(int col)
{
    (void)col;
    char *g = leads_json();
    unsigned long long v = version_of(g, "id", fx.research);
    free(g);
    return rel_fmt("{\"bilanId\":\"%s\",\"research\":{\"id\":\"%s\",\"leadId\":\"%s\",\"kind\":"
                   "\"RESEARCH_KIND_TESTIMONY\",\"title\":\"Rencontre\",\"notes\":"
                   "\"" SECRET_RESEARCH "\",\"version\":\"%llu\"}}",
                   fx.bilan, fx.research, fx.lead, v);
}

static char *b_remove_research(int col)
{
    return rel_fmt("{\"bilanId\":\"%s\",\"leadId\":\"%s\",\"researchId\":\"%s\"}", fx.bilan,
                   fx.lead, fx.research_rm[col]);
}

static char *b_create_bilan(int col)
{
    (void)col;
    return rel_fmt("{\"beneficiaryId\":\"b-lea\",\"counselorId\":\"c-marie\",\"organisationId\":"
                   "\"org-lumiere\",\"funding\":\"FUNDING_CPF\",\"plannedHours\":24,"
                   "\"startDate\":\"%s\",\"endDate\":\"%s\"}",
                   te_day(0), te_day(60));
}

static char *b_list_by_beneficiary(int col)
{
    (void)col;
    return strdup("{\"beneficiaryId\":\"b-lea\",\"page\":{\"pageSize\":100}}");
}

static char *b_list_by_counselor(int col)
{
    (void)col;
    return strdup("{\"counselorId\":\"c-marie\",\"page\":{\"pageSize\":100}}");
}

static char *b_list_by_org(int col)
{
    (void)col;
    return strdup("{\"organisationId\":\"org-lumiere\",\"page\":{\"pageSize\":100}}");
}

static char *b_export(int col)
{
    (void)col;
    return strdup("{\"beneficiaryId\":\"b-lea\"}");
}

static char *b_empty(int col)
{
    (void)col;
    return strdup("{}");
}

/* Questionnaires. */
static char *b_satisfaction(int col)
{
    (void)col;
    return strdup("{\"organisationId\":\"org-lumiere\",\"instrumentId\":\"satisfaction-fin\"}");
}

static char *b_asg_custom(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"assignmentId\":\"%s\"}", fx.bilan, fx.asg_custom);
}

static char *b_assign(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"instrumentId\":\"valeurs\"}", fx.bilan);
}

static char *b_save_answers(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"assignmentId\":\"%s\",\"answers\":[{\"itemId\":\"q1\","
                   "\"likert\":1}]}",
                   fx.bilan, fx.asg_custom);
}

static char *b_annotate(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"assignmentId\":\"%s\",\"text\":\"" SECRET_ANNOT "\"}",
                   fx.bilan, fx.asg_custom);
}

static char *b_match_results(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"assignmentId\":\"%s\"}", fx.bilan, fx.asg_riasec);
}

static char *b_match_profile(int col)
{
    (void)col;
    return strdup("{\"profile\":{\"r\":10,\"i\":80,\"a\":30,\"s\":20,\"e\":50,\"c\":40}}");
}

static char *b_invite(int col)
{
    return rel_fmt("{\"bilanId\":\"%s\",\"relative\":{\"name\":\"Proche %d\",\"relation\":"
                   "\"collègue\",\"contact\":\"proche%d@example.org\"}}",
                   fx.bilan, col, col);
}

static char *b_feedback_form(int col)
{
    (void)col;
    return rel_fmt("{\"token\":\"%s\"}", fx.inv_token);
}

static char *b_revoke_invitation(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"invitationId\":\"%s\"}", fx.bilan, fx.inv);
}

static char *b_submit_feedback(int col)
{
    (void)col;
    /* The same answers each time: a repeat of one submission is answered OK. */
    static const char *const likert[] = { "relationnel-1",  "relationnel-2", "organisation-1",
                                          "organisation-2", "creativite-1",  "creativite-2",
                                          "analyse-1",      "analyse-2",     "initiative-1",
                                          "initiative-2",   "fiabilite-1",   "fiabilite-2" };
    char answers[2048];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(likert) / sizeof(likert[0]); i++) {
        n += (size_t)snprintf(answers + n, sizeof(answers) - n,
                              "{\"itemId\":\"%s\",\"likert\":%zu},", likert[i], 1 + i % 5);
    }
    snprintf(answers + n, sizeof(answers) - n,
             "{\"itemId\":\"domaines\",\"choices\":{\"values\":[\"aider\",\"organiser\"]}},"
             "{\"itemId\":\"qualite\",\"text\":\"Sa patience. QX7-FEEDBACK-6b2a\"}");
    return rel_fmt("{\"token\":\"%s\",\"answers\":[%s]}", fx.inv_token2, answers);
}

static char *b_get_instrument(int col)
{
    (void)col;
    return strdup("{\"id\":\"riasec\"}");
}

static char *b_create_instrument(int col)
{
    (void)col;
    return strdup("{\"instrument\":{\"language\":\"fr\",\"purpose\":\"INSTRUMENT_PURPOSE_OTHER\","
                  "\"title\":\"Mon questionnaire\",\"sections\":[{\"id\":\"s\",\"title\":\"S\"}],"
                  "\"items\":[{\"id\":\"q\",\"kind\":\"ITEM_KIND_FREE_TEXT\",\"sectionId\":\"s\","
                  "\"text\":\"Pourquoi ?\",\"maxLength\":200}]}}");
}

static char *b_instrument_version(int col)
{
    (void)col;
    char *g = must(COU, "QuestionnaireService/GetInstrument", "{\"id\":\"%s\"}", fx.instrument);
    const char *p = strstr(g, "\"version\":");
    unsigned v = p ? (unsigned)strtoul(p + 10, NULL, 10) : 1;
    free(g);
    return rel_fmt("{\"instrumentId\":\"%s\",\"expectedVersion\":%u,\"instrument\":{"
                   "\"language\":\"fr\",\"purpose\":\"INSTRUMENT_PURPOSE_OTHER\",\"title\":"
                   "\"Prêt, version %u\",\"sections\":[{\"id\":\"s\",\"title\":\"Question\"}],"
                   "\"items\":[{\"id\":\"q1\",\"kind\":\"ITEM_KIND_LIKERT\",\"sectionId\":\"s\","
                   "\"text\":\"Êtes-vous prêt(e) ?\",\"required\":true,\"likertMin\":0,"
                   "\"likertMax\":1,\"likertLabels\":[\"Non\",\"Oui\"]}]}}",
                   fx.instrument, v, v + 1);
}

static char *b_retire(int col)
{
    (void)col;
    return rel_fmt("{\"instrumentId\":\"%s\"}", fx.instrument);
}

/* Syntheses. */
static unsigned long long current_revision(void)
{
    char *g = must(COU, "SynthesisService/GetSynthesis", "{\"bilanId\":\"%s\"}", fx.bilan);
    const char *p = strstr(g, "\"currentRevision\":\"");
    unsigned long long r = p ? strtoull(p + 19, NULL, 10) : 0;
    free(g);
    return r;
}

static char *b_comment(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"text\":\"" SECRET_COMMENT "\"}", fx.bilan);
}

static char *b_approve(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"revision\":\"%llu\"}", fx.bilan, current_revision());
}

static char *b_create_grant(int col)
{
    return rel_fmt("{\"bilanId\":\"%s\",\"kind\":\"SYNTHESIS_THIRD_PARTY_KIND_FUNDER\","
                   "\"thirdPartyName\":\"Financeur %d\",\"expireTime\":\"%s\"}",
                   fx.bilan, col, at_minutes(24 * 60));
}

static char *b_render(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"format\":\"SYNTHESIS_FORMAT_MARKDOWN\"}", fx.bilan);
}

static char *b_request_changes(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"baseRevision\":\"%llu\",\"comment\":\"À revoir.\"}",
                   fx.bilan, current_revision());
}

static char *b_revoke_grant(int col)
{
    return rel_fmt("{\"bilanId\":\"%s\",\"grantId\":\"%s\"}", fx.bilan, fx.grant_rm[col]);
}

static char *b_save_revision(int col)
{
    (void)col;
    /* Each writes what its role may write (no section list: all of it). */
    return rel_fmt("{\"bilanId\":\"%s\",\"baseRevision\":\"%llu\",\"content\":{\"skills\":"
                   "\"" SECRET_SYNTH "\",\"beneficiaryObservations\":\"Observations.\"}}",
                   fx.bilan, current_revision());
}

static char *b_consent(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"keep\":true}", fx.bilan);
}

static char *b_correction(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"baseRevision\":\"%llu\",\"reason\":\"Correction.\"}",
                   fx.bilan, current_revision());
}

static char *b_submit(int col)
{
    (void)col;
    return rel_fmt("{\"bilanId\":\"%s\",\"baseRevision\":\"%llu\"}", fx.bilan, current_revision());
}

static char *b_shared(int col)
{
    (void)col;
    return rel_fmt("{\"shareToken\":\"%s\"}", fx.share_token);
}

/* ---- the matrix ------------------------------------------------------------------------- */

typedef struct row {
    const char *method; /* "SessionService/GetBilan" */
    const char *label;  /* a variant of the method ("by beneficiary"), or NULL */
    body_fn body;
    /*        BEN BEN2 COU COU2 ADM ADM2 TPG TP ANON */
    const char cells[NCOL + 1];
} row;

static const row rows[] = {
    /* Sessions (tests/integration/sessions_permissions_test.c). */
    { "SessionService/GetBilan", NULL, b_id, "YNYNYNNNU" },
    { "SessionService/UpdateBilan", NULL, b_update_bilan, "DNYNYNNNU" },
    { "SessionService/CancelBilan", NULL, b_cancel_bilan, "DNYNYNNNU" },
    { "SessionService/ReassignCounselor", NULL, b_reassign, "DNDNYNNNU" },
    { "SessionService/AdvancePhase", NULL, b_advance, "DNYNDNNNU" },
    { "SessionService/ListPhaseTransitions", NULL, b_id, "YNYNYNNNU" },
    { "SessionService/ProposeAgreement", NULL, b_propose, "DNYNYNNNU" },
    { "SessionService/RespondToAgreement", NULL, b_respond, "YNDNDNNNU" },
    { "SessionService/GetAgreement", NULL, b_employer, "YNYNYNNNU" },
    { "SessionService/RecordIntake", NULL, b_record_intake, "YNYNDNNNU" },
    { "SessionService/GetIntake", NULL, b_bilan_id, "YNYNDNNNU" },
    { "SessionService/SetRoadmap", NULL, b_set_roadmap, "DNYNDNNNU" },
    { "SessionService/GetRoadmap", NULL, b_bilan_id, "YNYNYNNNU" },
    { "SessionService/ScheduleMeeting", NULL, b_schedule, "DNYNDNNNU" },
    { "SessionService/UpdateMeeting", NULL, b_update_meeting, "DNYNDNNNU" },
    { "SessionService/CancelMeeting", NULL, b_cancel_meeting, "DNYNDNNNU" },
    { "SessionService/ConfirmAttendance", NULL, b_past_meeting, "YNYNDNNNU" },
    { "SessionService/SetMeetingNotes", NULL, b_meeting_notes, "DNYNDNNNU" },
    { "SessionService/ListMeetings", NULL, b_bilan_id, "YNYNYNNNU" },
    { "SessionService/SetPrivateNotes", NULL, b_private_notes, "DNYNDNNNU" },
    { "SessionService/GetPrivateNotes", NULL, b_past_meeting, "DNYNDNNNU" },
    { "SessionService/RecordAccompaniedTime", NULL, b_record_time, "DNYNDNNNU" },
    { "SessionService/GetHoursLedger", NULL, b_bilan_id, "YNYNYNNNU" },
    { "SessionService/AddExperience", NULL, b_add_experience, "YNYNDNNNU" },
    { "SessionService/UpdateExperience", NULL, b_update_experience, "YNYNDNNNU" },
    { "SessionService/ListExperiences", NULL, b_bilan_id, "YNYNDNNNU" },
    { "SessionService/AddCareerLead", NULL, b_add_lead, "YNYNDNNNU" },
    { "SessionService/UpdateCareerLead", NULL, b_update_lead, "YNYNDNNNU" },
    { "SessionService/AddLeadResearch", NULL, b_add_research, "YNYNDNNNU" },
    { "SessionService/UpdateLeadResearch", NULL, b_update_research, "YNYNDNNNU" },
    { "SessionService/ListCareerLeads", NULL, b_bilan_id, "YNYNDNNNU" },
    { "SessionService/RemoveLeadResearch", NULL, b_remove_research, "YNYNDNNNU" },
    { "SessionService/RemoveCareerLead", NULL, b_remove_lead, "YNYNDNNNU" },
    { "SessionService/RemoveExperience", NULL, b_remove_experience, "YNYNDNNNU" },
    { "SessionService/RemoveAccompaniedTime", NULL, b_remove_time, "DNYNDNNNU" },
    { "SessionService/CreateBilan", NULL, b_create_bilan, "DDYDYDDDU" },
    { "SessionService/ListBilans", "by beneficiary", b_list_by_beneficiary, "YDDDYEDDU" },
    { "SessionService/ListBilans", "by counselor", b_list_by_counselor, "DDYDYEDDU" },
    { "SessionService/ListBilans", "by organisation", b_list_by_org, "DDDDYDDDU" },
    { "SessionService/ExportBeneficiaryData", NULL, b_export, "YDDDDDDDU" },
    /* Questionnaires (services/questionnaires/README.md). */
    { "QuestionnaireService/ListAssignments", NULL, b_bilan_id, "YNYNYNNNU" },
    { "QuestionnaireService/GetAssignment", NULL, b_asg_custom, "YNYNYNNNU" },
    { "QuestionnaireService/AssignInstrument", NULL, b_assign, "DNYNDNNNU" },
    { "QuestionnaireService/SaveAnswers", NULL, b_save_answers, "YNDNDNNNU" },
    { "QuestionnaireService/GetAnswers", NULL, b_asg_custom, "YNYNDNNNU" },
    { "QuestionnaireService/SubmitAnswers", NULL, b_asg_custom, "YNDNDNNNU" },
    { "QuestionnaireService/GetResults", NULL, b_asg_custom, "YNYNDNNNU" },
    { "QuestionnaireService/AnnotateResults", NULL, b_annotate, "DNYNDNNNU" },
    { "QuestionnaireService/MatchOccupations", "from results", b_match_results, "YNYNDNNNU" },
    { "QuestionnaireService/MatchOccupations", "from a profile", b_match_profile, "YYYYYYYYU" },
    { "QuestionnaireService/ReopenAssignment", NULL, b_asg_custom, "DNYNDNNNU" },
    { "QuestionnaireService/InviteRelative", NULL, b_invite, "YNDNDNNNU" },
    { "QuestionnaireService/ListInvitations", NULL, b_bilan_id, "YNYNDNNNU" },
    { "QuestionnaireService/GetFeedbackSummary", NULL, b_bilan_id, "YNYNDNNNU" },
    { "QuestionnaireService/GetFeedbackForm", "live token", b_feedback_form, "YYYYYYYYY" },
    { "QuestionnaireService/RevokeInvitation", NULL, b_revoke_invitation, "YNDNDNNNU" },
    { "QuestionnaireService/GetFeedbackForm", "revoked token", b_feedback_form, "FFFFFFFFF" },
    { "QuestionnaireService/SubmitFeedback", NULL, b_submit_feedback, "YYYYYYYYY" },
    { "QuestionnaireService/ExportBeneficiaryData", NULL, b_export, "YDDDDDDDU" },
    { "QuestionnaireService/GetSatisfactionStats", NULL, b_satisfaction, "DDDDYDDDU" },
    { "QuestionnaireService/ListInstruments", NULL, b_empty, "DDYYYYDDU" },
    { "QuestionnaireService/GetInstrument", NULL, b_get_instrument, "YYYYYYYYU" },
    { "QuestionnaireService/CreateInstrument", NULL, b_create_instrument, "DDYYYYDDU" },
    /* The README's matrix says DENIED for a beneficiary here; the service answers NOT_FOUND
     * (to beneficiaries and third parties: an organisation's instruments are not theirs to
     * know of). Stricter than documented; reported in tests/reliability/README.md. */
    { "QuestionnaireService/CreateInstrumentVersion", NULL, b_instrument_version, "NNYDYNNNU" },
    { "QuestionnaireService/RetireInstrument", NULL, b_retire, "NNYDYNNNU" },
    /* Syntheses (tests/integration/syntheses_matrix_test.c), the synthesis a draft. */
    { "SynthesisService/AddSynthesisComment", NULL, b_comment, "YNYNDNNNU" },
    { "SynthesisService/ApproveSynthesis", "draft", b_approve, "FNDNDNNNU" },
    { "SynthesisService/CreateSynthesisGrant", NULL, b_create_grant, "YNDNDNNNU" },
    { "SynthesisService/DraftSynthesis", NULL, b_bilan_id, "DNANDNNNU" },
    { "SynthesisService/GetSynthesis", NULL, b_bilan_id, "YNYNDNNNU" },
    { "SynthesisService/GetSynthesisRetention", NULL, b_bilan_id, "YNYNDNNNU" },
    { "SynthesisService/ListSynthesisAccessLog", NULL, b_bilan_id, "YNDNDNNNU" },
    { "SynthesisService/ListSynthesisComments", NULL, b_bilan_id, "YNYNDNNNU" },
    { "SynthesisService/ListSynthesisGrants", NULL, b_bilan_id, "YNDNDNNNU" },
    { "SynthesisService/ListSynthesisRevisions", NULL, b_bilan_id, "YNYNDNNNU" },
    { "SynthesisService/RenderSynthesis", NULL, b_render, "YNYNDNNNU" },
    { "SynthesisService/RequestSynthesisChanges", "draft", b_request_changes, "FNDNDNNNU" },
    { "SynthesisService/RevokeSynthesisGrant", NULL, b_revoke_grant, "YNDNDNNNU" },
    { "SynthesisService/SaveSynthesisRevision", NULL, b_save_revision, "YNYNDNNNU" },
    { "SynthesisService/SetRetentionConsent", NULL, b_consent, "YNDNDNNNU" },
    { "SynthesisService/StartSynthesisCorrection", "draft", b_correction, "DNFNDNNNU" },
    { "SynthesisService/GetSharedSynthesis", "draft", b_shared, "FFFFFFFFF" },
    { "SynthesisService/GetGrantedSynthesis", "draft", b_bilan_id, "DDDDDDFNU" },
    { "SynthesisService/ListSynthesesSharedWithMe", NULL, b_empty, "DDDDDDYEU" },
    { "SynthesisService/ExportBeneficiaryData", NULL, b_export, "YDDDDDDDU" },
    { "SynthesisService/ExportBeneficiaryBundle", NULL, b_export, "YDDDDDDDU" },
    { "SynthesisService/ListDestructionRecords", NULL, b_empty, "DDDDYYDDU" },
    { "SynthesisService/SubmitSynthesis", NULL, b_submit, "DNYNDNNNU" },
    /* Submitted, then final: the beneficiary approves; the grants now open it. */
    { "SynthesisService/ApproveSynthesis", "submitted", b_approve, "YNDNDNNNU" },
    { "SynthesisService/GetGrantedSynthesis", "final", b_bilan_id, "DDDDDDYNU" },
    { "SynthesisService/GetSharedSynthesis", "final", b_shared, "YYYYYYYYY" },
    /* What the gateway answers itself. */
    { "Health/Check", NULL, b_empty, "YYYYYYYYY" },
    { "Reflection/ListServices", NULL, b_empty, "YYYYYYYYU" },
};

/* What a cell got, as a cell letter ('?' for anything else). */
static char got_cell(const rel_resp *r, const char *method)
{
    char code[64];
    rel_json_str(r->body, "code", code, sizeof(code));
    switch (r->status) {
    case 200:
        return strstr(r->body, fx.bilan) == NULL && strstr(method, "List") ? 'E' : 'Y';
    case 403:
        return strcmp(code, "permission_denied") == 0 ? 'D' : '?';
    case 404:
        return strcmp(code, "not_found") == 0       ? 'N'
               : strcmp(code, "unimplemented") == 0 ? 'I'
                                                    : '?';
    case 401:
        return strcmp(code, "unauthenticated") == 0 ? 'U' : '?';
    case 400:
        return strcmp(code, "failed_precondition") == 0 ? 'F' : '?';
    case 409:
        return strcmp(code, "already_exists") == 0 ? 'A' : '?';
    default:
        return '?';
    }
}

/* An allowed cell: the caller passed the access check. */
static bool allowed(char cell)
{
    return cell == 'Y' || cell == 'E' || cell == 'F' || cell == 'A';
}

static int cells_run, cells_failed, cells_allowed_forbidden;
static char report[8192];
static size_t report_len;

static void run_cell(const char *method, const char *label, int col, const char *json, char want)
{
    rel_resp r;
    call_as(col, method, json, &r);
    char got = r.status > 0 ? got_cell(&r, method) : '?';
    /* A list answer to an E cell must not show the bilan; one to a Y cell may. */
    bool ok = got == want || (want == 'Y' && got == 'E');
    if (want == 'E' && got == 'Y') {
        ok = false;
    }
    cells_run++;
    if (!ok) {
        cells_failed++;
        if (allowed(got) && !allowed(want)) {
            cells_allowed_forbidden++;
        }
        fprintf(stderr, "FAIL %s%s%s%s as %s: want %c, got %c (HTTP %d %.300s)\n", method,
                label ? " (" : "", label ? label : "", label ? ")" : "", col_names[col], want, got,
                r.status, r.body ? r.body : "");
    }
    rel_resp_free(&r);
}

static void matrix(void **state)
{
    (void)state;
    build_fixture();
    report_len = (size_t)snprintf(report, sizeof(report), "%-58s %s\n", "method",
                                  "BEN BEN2 COU COU2 ADM ADM2 TPG TP ANON");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const row *w = &rows[i];
        for (int col = 0; col < NCOL; col++) {
            char *json = w->body(col);
            run_cell(w->method, w->label, col, json, w->cells[col]);
            free(json);
        }
        char name[128];
        snprintf(name, sizeof(name), "%s%s%s%s", w->method, w->label ? " (" : "",
                 w->label ? w->label : "", w->label ? ")" : "");
        if (report_len < sizeof(report) - 200) {
            report_len += (size_t)snprintf(report + report_len, sizeof(report) - report_len,
                                           "%-58s %s\n", name, w->cells);
        }
    }
    /* Internal methods, from the schema: every caller gets what an unknown method gets. */
    size_t n_services;
    const bsl_service_info *svcs = bsl_schema_services(&n_services);
    int internal = 0;
    for (size_t s = 0; s < n_services; s++) {
        for (size_t m = 0; m < svcs[s].n_methods; m++) {
            const bsl_method_info *mi = &svcs[s].methods[m];
            if (!mi->internal) {
                continue;
            }
            internal++;
            const char *short_name = mi->full_name + strlen("boussole.v1.");
            for (int col = 0; col < NCOL; col++) {
                char *json = rel_fmt("{\"bilanId\":\"%s\"}", fx.bilan);
                run_cell(short_name, "internal", col, json, 'I');
                free(json);
            }
        }
    }
    printf("%s", report);
    printf("%d cells (%d internal methods x %d callers included): %d failed, %d of them allowed "
           "where the matrix forbids\n",
           cells_run, internal, NCOL, cells_failed, cells_allowed_forbidden);
    assert_int_equal(cells_allowed_forbidden, 0);
    assert_int_equal(cells_failed, 0);
}

/* Every public method of the schema has a row; every row names a method of the schema. */
static void every_method_has_a_row(void **state)
{
    (void)state;
    size_t n_services;
    const bsl_service_info *svcs = bsl_schema_services(&n_services);
    int missing = 0, methods = 0;
    for (size_t s = 0; s < n_services; s++) {
        for (size_t m = 0; m < svcs[s].n_methods; m++) {
            const bsl_method_info *mi = &svcs[s].methods[m];
            if (mi->internal) {
                continue;
            }
            methods++;
            const char *short_name = mi->full_name + strlen("boussole.v1.");
            bool found = false;
            for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && !found; i++) {
                found = strcmp(rows[i].method, short_name) == 0;
            }
            if (!found) {
                fprintf(stderr, "%s has no row in the access matrix\n", mi->full_name);
                missing++;
            }
        }
    }
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char full[200];
        snprintf(full, sizeof(full), "boussole.v1.%s", rows[i].method);
        const char *slash = strchr(full, '/');
        assert_non_null(slash);
        const bsl_method_info *mi = bsl_schema_method(full, strlen(full));
        if (mi == NULL || mi->internal) {
            fprintf(stderr, "row %s: not a public method of the schema\n", rows[i].method);
            missing++;
        }
    }
    printf("%d public methods, each with a row\n", methods);
    assert_int_equal(missing, 0);
}

/* ---- secrets in logs ------------------------------------------------------------------- */

static void no_secret_in_logs(void **state)
{
    (void)state;
    /* Stop everything first, so that every line is written. */
    te_proc *procs[] = { &gw, &syntheses, &questionnaires, &sessions };
    for (size_t i = 0; i < 4; i++) {
        te_signal(procs[i], SIGTERM);
        assert_int_equal(te_wait(procs[i], 15000), 0);
    }
    const char *secrets[64];
    size_t n = 0;
    for (int c = 0; c < NCOL; c++) {
        if (tokens[c] != NULL) {
            secrets[n++] = tokens[c];
            /* The signature alone, too: a log that cut the token would still leak it. */
            secrets[n++] = strrchr(tokens[c], '.') + 1;
        }
    }
    secrets[n++] = fx.share_token;
    secrets[n++] = fx.inv_token;
    secrets[n++] = fx.inv_token2;
    secrets[n++] = GWH_SECRET;
    secrets[n++] = strchr(env.master_keys, ':') + 1;
    static const char *const markers[] = { "QX7-INTAKE",  "QX7-EXP",      "QX7-NOTE",
                                           "QX7-SHARED",  "QX7-RESEARCH", "QX7-SYNTH",
                                           "QX7-COMMENT", "QX7-RELATIVE", "QX7-ANNOT" };
    for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
        secrets[n++] = markers[i];
    }
    DIR *d = opendir(env.dir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0, leaks = 0;
    /* The search sees what the processes wrote: the calls are there, by method name. */
    assert_true(gwh_file_contains(gw.log, "boussole.v1.SynthesisService/GetSharedSynthesis"));
    assert_true(gwh_file_contains(sessions.log, "boussole.v1.SessionService/UpdateBilan"));
    size_t bytes = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".log") != 0) {
            continue;
        }
        char path[1200];
        snprintf(path, sizeof(path), "%s/%s", env.dir, e->d_name);
        size_t len = 0;
        char *text = rel_slurp(path, &len);
        assert_non_null(text);
        files++;
        bytes += len;
        for (size_t k = 0; k < n; k++) {
            if (memmem(text, len, secrets[k], strlen(secrets[k])) != NULL) {
                fprintf(stderr, "LEAK: %s holds %.24s...\n", e->d_name, secrets[k]);
                leaks++;
            }
        }
        free(text);
    }
    closedir(d);
    printf("%d log files (%zu bytes) searched for %zu secrets: %d found\n", files, bytes, n, leaks);
    assert_true(files >= 5 && bytes > 10000);
    assert_int_equal(leaks, 0);
}

static int setup(void **state)
{
    (void)state;
    bsl_init();
    te_init(&env, "reliability_access");
    te_redis_start(&env);
    /* Debug logs everywhere: the most a process ever writes is searched for secrets. */
    const char *dargs[] = { "--log-level=debug", NULL };
    te_service_start(&env, &sessions, "sessions", dargs);
    char ses[200], que[200], syn[200];
    snprintf(ses, sizeof(ses), "--sessions-url=%s", sessions.url);
    const char *qargs[] = { ses, "--log-level=debug", NULL };
    te_service_start(&env, &questionnaires, "questionnaires", qargs);
    snprintf(que, sizeof(que), "--questionnaires-url=%s", questionnaires.url);
    const char *sargs[] = { ses, que, "--retention-interval-ms=0", "--log-level=debug", NULL };
    te_service_start(&env, &syntheses, "syntheses", sargs);
    snprintf(syn, sizeof(syn), "--syntheses-url=%s", syntheses.url);
    const char *gargs[] = { que, syn, "--rate-limit=0", "--log-level=debug", NULL };
    gwh_gateway_start(&env, &gw, "gateway", sessions.url, gargs);
    gwh_wait(&gw, true);
    for (int c = 0; c < NCOL; c++) {
        tokens[c] = principals[c].sub ? gwh_token(&env, principals[c].sub, principals[c].role,
                                                  principals[c].org, "")
                                      : NULL;
    }
    rel_conn_init(&conn, "127.0.0.1", gw.port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rel_conn_free(&conn);
    te_fini(&env);
    for (int c = 0; c < NCOL; c++) {
        free(tokens[c]);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_method_has_a_row),
        cmocka_unit_test(matrix),
        cmocka_unit_test(no_secret_in_logs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
