/*
 * Helpers shared by the sessions integration tests (tests/integration/sessions_*_test.c): one
 * redis-server and one real sessions process per test program, a client, callers, and
 * builders for the requests most tests need. Header-only (static functions), so that each
 * test stays one file for the CMake glob.
 */
#ifndef SESSIONS_HELPERS_H
#define SESSIONS_HELPERS_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "boussole/client.h"
#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "boussole/service.h"
#include "boussole/v1/sessions.pb-c.h"
#include "testenv.h"

#define ORG       "org-lumiere"
#define OTHER_ORG "org-autre"
#define SVC       "boussole.v1.SessionService/"
#define DAY_MS    86400000LL

/* A 26-character id that no bilan has. */
#define NO_SUCH_ID "0123456789abcdefghjkmnpqrs"

/* Helpers a given test may not use. */
#define HELPER static __attribute__((unused))

static te_env env;
static te_proc sessions;
static bsl_sync_client *sc;
/* The service clock's offset the test set (te_clock_set), to compute dates as it sees them. */
static long long clock_offset_ms;

HELPER Boussole__V1__Caller who(Boussole__V1__Role role, const char *subject, const char *org)
{
    return te_caller(role, subject, org);
}

/* The usual cast: the beneficiary, their counselor, an admin of the organisation, a Boussole
 * service; and people with no business in the bilan. */
HELPER Boussole__V1__Caller beneficiary(void)
{
    return who(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-lea", "");
}
HELPER Boussole__V1__Caller counselor(void)
{
    return who(BOUSSOLE__V1__ROLE__ROLE_COUNSELOR, "c-marie", ORG);
}
HELPER Boussole__V1__Caller admin(void)
{
    return who(BOUSSOLE__V1__ROLE__ROLE_ADMIN, "a-paul", ORG);
}
HELPER Boussole__V1__Caller service_caller(void)
{
    return who(BOUSSOLE__V1__ROLE__ROLE_SERVICE, "syntheses", "");
}

HELPER void start_sessions(const char *name)
{
    bsl_init();
    te_init(&env, name);
    te_redis_start(&env);
    const char *args[] = { "--log-level=info", NULL };
    te_service_start(&env, &sessions, "sessions", args);
    sc = te_client(sessions.url);
    clock_offset_ms = 0;
}

/* Stops the service as an orchestrator does (SIGTERM): it must exit 0, which under the
 * sanitizer build also means LeakSanitizer found nothing. */
HELPER void stop_sessions(void)
{
    if (sc != NULL) {
        bsl_sync_client_free(sc);
        sc = NULL;
    }
    te_signal(&sessions, SIGTERM);
    int status = te_wait(&sessions, 10000);
    te_fini(&env);
    if (status != 0) {
        fail_msg("the sessions service exited with %d (see %s)", status, sessions.log);
    }
}

HELPER void move_clock(long long offset_ms)
{
    clock_offset_ms = offset_ms;
    te_clock_set(&env, offset_ms);
}

/* Now as the service sees it. */
HELPER long long service_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset_ms;
}

/* "YYYY-MM-DD" of the service's today plus `days` (static buffer rotated among 8). */
HELPER const char *day(int days)
{
    return te_date(service_now_ms(), days);
}

/* A timestamp `minutes` from the service's now (in a small ring of static ones). */
HELPER Google__Protobuf__Timestamp *at_minutes(long long minutes)
{
    static Google__Protobuf__Timestamp ts[8];
    static int next;
    Google__Protobuf__Timestamp *t = &ts[next++ % 8];
    google__protobuf__timestamp__init(t);
    long long ms = service_now_ms() + minutes * 60000LL;
    t->seconds = ms / 1000;
    t->nanos = 0;
    return t;
}

/*
 * Calls a SessionService method. *resp (when given) receives the answer on OK, freed by the
 * caller with protobuf_c_message_free_unpacked. key: an idempotency key, or NULL (the client
 * makes one when the method needs it).
 */
HELPER bsl_status call_k(const char *method, const ProtobufCMessage *req,
                         const Boussole__V1__Caller *c, const char *key, ProtobufCMessage **resp)
{
    char full[128], msg[512];
    snprintf(full, sizeof(full), SVC "%s", method);
    bsl_call_opts o = { .caller = c, .idempotency_key = key };
    ProtobufCMessage *r = NULL;
    bsl_status st = bsl_sync_call(sc, full, req, &o, &r, msg, sizeof(msg));
    if (resp != NULL) {
        *resp = r;
    } else if (r != NULL) {
        protobuf_c_message_free_unpacked(r, NULL);
    }
    return st;
}

HELPER bsl_status call(const char *method, const ProtobufCMessage *req,
                       const Boussole__V1__Caller *c, ProtobufCMessage **resp)
{
    return call_k(method, req, c, NULL, resp);
}

/* ---- concurrent calls ------------------------------------------------------------------ */

typedef struct many_slot {
    bsl_status status;
    bool done;
    int *pending;
} many_slot;

static void on_many(const bsl_reply *reply, void *arg)
{
    many_slot *s = arg;
    s->status = reply->code;
    s->done = true;
    (*s->pending)--;
}

/* Sends n calls at once (all in flight together) and waits for every answer; statuses[i] is
 * the answer to reqs[i]. Methods that need one get a distinct idempotency key each. */
HELPER void call_many(const char *method, const ProtobufCMessage *const *reqs,
                      const Boussole__V1__Caller *c, size_t n, bsl_status *statuses)
{
    char full[128];
    snprintf(full, sizeof(full), SVC "%s", method);
    many_slot *slots = calloc(n, sizeof(*slots));
    int pending = (int)n;
    assert_non_null(slots);
    for (size_t i = 0; i < n; i++) {
        slots[i].pending = &pending;
        bsl_call_opts o = { .caller = c };
        assert_int_equal(
            bsl_client_call(bsl_sync_client_client(sc), full, reqs[i], &o, on_many, &slots[i]),
            BSL_OK);
    }
    while (pending > 0) {
        ev_run(bsl_sync_client_loop(sc), EVRUN_ONCE);
    }
    for (size_t i = 0; i < n; i++) {
        statuses[i] = slots[i].status;
    }
    free(slots);
}

/* How many of the statuses are `want`. */
HELPER size_t count_status(const bsl_status *statuses, size_t n, bsl_status want)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k += statuses[i] == want;
    }
    return k;
}

/* The message of the last answer. */
HELPER const char *last_message(void)
{
    const Boussole__V1__RpcResponse *e = bsl_sync_last_envelope(sc);
    return e && e->message ? e->message : "";
}

/* Whether the last answer carried a PreconditionViolation of that type. */
HELPER bool has_precondition(const char *type)
{
    const Boussole__V1__RpcResponse *e = bsl_sync_last_envelope(sc);
    for (size_t i = 0; e != NULL && i < e->n_details; i++) {
        const Boussole__V1__ErrorDetail *d = e->details[i];
        if (d->detail_case == BOUSSOLE__V1__ERROR_DETAIL__DETAIL_PRECONDITION_VIOLATION &&
            strcmp(d->precondition_violation->type, type) == 0) {
            return true;
        }
    }
    return false;
}

HELPER size_t n_preconditions(void)
{
    const Boussole__V1__RpcResponse *e = bsl_sync_last_envelope(sc);
    size_t n = 0;
    for (size_t i = 0; e != NULL && i < e->n_details; i++) {
        n +=
            e->details[i]->detail_case == BOUSSOLE__V1__ERROR_DETAIL__DETAIL_PRECONDITION_VIOLATION;
    }
    return n;
}

/* Whether the last answer named that field in a FieldViolation. */
HELPER bool has_field_violation(const char *field)
{
    const Boussole__V1__RpcResponse *e = bsl_sync_last_envelope(sc);
    for (size_t i = 0; e != NULL && i < e->n_details; i++) {
        const Boussole__V1__ErrorDetail *d = e->details[i];
        if (d->detail_case == BOUSSOLE__V1__ERROR_DETAIL__DETAIL_FIELD_VIOLATION &&
            strcmp(d->field_violation->field, field) == 0) {
            return true;
        }
    }
    return false;
}

#define assert_status(expr, want)                                                                  \
    do {                                                                                           \
        bsl_status got_ = (expr);                                                                  \
        if (got_ != (want)) {                                                                      \
            fail_msg("%s: got %s (%s), want %s", #expr, bsl_status_name((int)got_),                \
                     last_message(), bsl_status_name((int)(want)));                                \
        }                                                                                          \
    } while (0)

/* ---- builders ------------------------------------------------------------------------- */

/* Creates a bilan as the admin of ORG for counselor c-marie and beneficiary b-lea (or the
 * given ones); returns its id (static buffer rotated among 4). */
HELPER const char *new_bilan_for(const char *ben, const char *cou, Boussole__V1__Funding funding,
                                 uint32_t hours)
{
    static char ids[4][32];
    static int next;
    Boussole__V1__CreateBilanRequest req = BOUSSOLE__V1__CREATE_BILAN_REQUEST__INIT;
    req.beneficiary_id = (char *)ben;
    req.counselor_id = (char *)cou;
    req.organisation_id = ORG;
    req.funding = funding;
    req.planned_hours = hours;
    req.start_date = (char *)day(-30);
    req.end_date = (char *)day(90);
    Boussole__V1__Caller a = admin();
    ProtobufCMessage *resp = NULL;
    assert_status(call("CreateBilan", &req.base, &a, &resp), BSL_STATUS_OK);
    char *id = ids[next++ % 4];
    snprintf(id, 32, "%s", ((Boussole__V1__Bilan *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    return id;
}

HELPER const char *new_bilan(Boussole__V1__Funding funding)
{
    return new_bilan_for("b-lea", "c-marie", funding, 24);
}

HELPER Boussole__V1__Bilan *get_bilan(const char *id, const Boussole__V1__Caller *c)
{
    Boussole__V1__GetBilanRequest req = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    req.id = (char *)id;
    ProtobufCMessage *resp = NULL;
    assert_status(call("GetBilan", &req.base, c, &resp), BSL_STATUS_OK);
    return (Boussole__V1__Bilan *)resp;
}

HELPER bsl_status advance(const char *id, Boussole__V1__Phase target, bool waive,
                          Boussole__V1__FollowUpMeeting *follow_up)
{
    Boussole__V1__AdvancePhaseRequest req = BOUSSOLE__V1__ADVANCE_PHASE_REQUEST__INIT;
    req.id = (char *)id;
    req.target = target;
    req.waive_questionnaire = waive;
    req.follow_up = follow_up;
    Boussole__V1__Caller c = counselor();
    return call("AdvancePhase", &req.base, &c, NULL);
}

HELPER void record_intake(const char *id, const Boussole__V1__Caller *c, uint64_t version)
{
    Boussole__V1__Intake in = BOUSSOLE__V1__INTAKE__INIT;
    in.bilan_id = (char *)id;
    in.current_situation = "Assistante de direction depuis douze ans, en poste.";
    in.reasons = "Je m'ennuie et je voudrais un métier plus concret.";
    in.expectations = "Y voir clair sur mes compétences.";
    in.version = version;
    Boussole__V1__RecordIntakeRequest req = BOUSSOLE__V1__RECORD_INTAKE_REQUEST__INIT;
    req.intake = &in;
    assert_status(call("RecordIntake", &req.base, c, NULL), BSL_STATUS_OK);
}

HELPER void set_roadmap(const char *id, uint64_t version)
{
    Boussole__V1__RoadmapTool tools1[] = { BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_INTERVIEW };
    Boussole__V1__RoadmapTool tools2[] = {
        BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_QUESTIONNAIRE,
        BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_RELATIVE_FEEDBACK,
    };
    Boussole__V1__RoadmapStep s1 = BOUSSOLE__V1__ROADMAP_STEP__INIT, s2 = s1;
    s1.phase = BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY;
    s1.title = "Entretien d'accueil";
    s1.tools = tools1;
    s1.n_tools = 1;
    s1.planned_date = (char *)day(-20);
    s1.status = BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_DONE;
    s2.phase = BOUSSOLE__V1__PHASE__PHASE_INVESTIGATION;
    s2.title = "Questionnaires d'intérêts et retours de proches";
    s2.tools = tools2;
    s2.n_tools = 2;
    s2.planned_date = (char *)day(10);
    s2.status = BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_PLANNED;
    Boussole__V1__RoadmapStep *steps[] = { &s1, &s2 };
    Boussole__V1__SetRoadmapRequest req = BOUSSOLE__V1__SET_ROADMAP_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.version = version;
    req.steps = steps;
    req.n_steps = 2;
    Boussole__V1__Caller c = counselor();
    assert_status(call("SetRoadmap", &req.base, &c, NULL), BSL_STATUS_OK);
}

/* Schedules a meeting starting `minutes` from now; returns its id (static ring of 4). */
HELPER const char *schedule(const char *id, Boussole__V1__Phase phase, long long minutes,
                            uint32_t duration)
{
    static char ids[4][32];
    static int next;
    Boussole__V1__ScheduleMeetingRequest req = BOUSSOLE__V1__SCHEDULE_MEETING_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.phase = phase;
    req.start_time = at_minutes(minutes);
    req.duration_minutes = duration;
    req.mode = BOUSSOLE__V1__MEETING_MODE__MEETING_MODE_ON_SITE;
    Boussole__V1__Caller c = counselor();
    ProtobufCMessage *resp = NULL;
    assert_status(call("ScheduleMeeting", &req.base, &c, &resp), BSL_STATUS_OK);
    char *mid = ids[next++ % 4];
    snprintf(mid, 32, "%s", ((Boussole__V1__Meeting *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    return mid;
}

HELPER bsl_status confirm(const char *id, const char *meeting, const Boussole__V1__Caller *c,
                          Boussole__V1__Meeting **out)
{
    Boussole__V1__ConfirmAttendanceRequest req = BOUSSOLE__V1__CONFIRM_ATTENDANCE_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.meeting_id = (char *)meeting;
    return call("ConfirmAttendance", &req.base, c, (ProtobufCMessage **)out);
}

HELPER void report_questionnaire(const char *id, const char *assignment)
{
    Boussole__V1__ReportQuestionnaireCompletedRequest req =
        BOUSSOLE__V1__REPORT_QUESTIONNAIRE_COMPLETED_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.assignment_id = (char *)assignment;
    Boussole__V1__Caller s = service_caller();
    assert_status(call("ReportQuestionnaireCompleted", &req.base, &s, NULL), BSL_STATUS_OK);
}

HELPER void report_synthesis(const char *id)
{
    Boussole__V1__ReportSynthesisFinalisedRequest req =
        BOUSSOLE__V1__REPORT_SYNTHESIS_FINALISED_REQUEST__INIT;
    req.bilan_id = (char *)id;
    req.synthesis_id = "0123456789abcdefghjkmnpqrs";
    req.version = 1;
    Boussole__V1__Caller s = service_caller();
    assert_status(call("ReportSynthesisFinalised", &req.base, &s, NULL), BSL_STATUS_OK);
}

/* A bilan ready to enter the investigation phase (CPF funding: no agreement). */
HELPER const char *bilan_ready_for_investigation(void)
{
    const char *id = new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF);
    Boussole__V1__Caller b = beneficiary();
    record_intake(id, &b, 0);
    set_roadmap(id, 0);
    return id;
}

#endif
