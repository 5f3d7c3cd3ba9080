/*
 * Export and erase. Every free-text field of a bilan gets a marker; Redis is then searched
 * for the markers, value by value and in an uncompressed RDB dump: none may appear in clear,
 * before or after the erasure. The export carries them all back (the counselor's private
 * notes excepted); after EraseBilanData nothing of them can be read, the data key is gone (a
 * sealed value put back from a "backup" does not open), and the administrative record
 * remains. The retention sweep's pattern (list ended bilans, erase them, next page) skips
 * nothing.
 */
#define _GNU_SOURCE /* memmem */
#include "sessions_helpers.h"

#include <hiredis/hiredis.h>

static redisContext *rc;

static int setup(void **state)
{
    (void)state;
    start_sessions("sessions-data");
    rc = redisConnect("127.0.0.1", env.redis_port);
    assert_non_null(rc);
    assert_int_equal(rc->err, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    redisFree(rc);
    stop_sessions();
    return 0;
}

/* The markers, one per free-text field. */
static const char *const markers[] = {
    "Marq-situation-5521",  "Marq-raisons-8834",    "Marq-transformer-1193", "Marq-attentes-4410",
    "Marq-questions-7302",  "Marq-doutes-6647",     "Marq-feuille-2281",     "Marq-employeur-9035",
    "Marq-objectif-3318",   "Marq-contenu-4472",    "Marq-moyens-5516",      "Marq-remise-6624",
    "Marq-notes-part-7731", "Marq-notes-priv-8842", "Marq-exp-titre-9953",   "Marq-exp-desc-1064",
    "Marq-exp-comp-2175",   "Marq-piste-3286",      "Marq-raison-4397",      "Marq-recherche-5408",
    "Marq-rech-notes-6519", "Marq-lien-7620",
};
enum { N_MARKERS = sizeof(markers) / sizeof(markers[0]), PRIVATE_MARKER = 13 };

static bool blob_has(const char *data, size_t len, const char *needle)
{
    return memmem(data, len, needle, strlen(needle)) != NULL;
}

/* Appends a reply's strings to a growing buffer. */
static void append_reply(const redisReply *r, char **buf, size_t *len, size_t *cap)
{
    if (r == NULL) {
        return;
    }
    if (r->type == REDIS_REPLY_STRING) {
        while (*len + r->len + 1 > *cap) {
            *cap *= 2;
            *buf = realloc(*buf, *cap);
            assert_non_null(*buf);
        }
        memcpy(*buf + *len, r->str, r->len);
        *len += r->len;
        (*buf)[(*len)++] = '\n';
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        append_reply(r->element[i], buf, len, cap);
    }
}

/* Every key and every value of Redis, one after the other (malloc'd). */
static char *redis_values(size_t *len)
{
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    assert_non_null(buf);
    *len = 0;
    char cursor[32] = "0";
    do {
        redisReply *scan = redisCommand(rc, "SCAN %s COUNT 1000", cursor);
        assert_non_null(scan);
        snprintf(cursor, sizeof(cursor), "%s", scan->element[0]->str);
        for (size_t i = 0; i < scan->element[1]->elements; i++) {
            const redisReply *k = scan->element[1]->element[i];
            redisReply *type = redisCommand(rc, "TYPE %b", k->str, k->len);
            redisReply *v = NULL;
            if (strcmp(type->str, "string") == 0) {
                v = redisCommand(rc, "GET %b", k->str, k->len);
            } else if (strcmp(type->str, "hash") == 0) {
                v = redisCommand(rc, "HGETALL %b", k->str, k->len);
            } else if (strcmp(type->str, "list") == 0) {
                v = redisCommand(rc, "LRANGE %b 0 -1", k->str, k->len);
            } else if (strcmp(type->str, "set") == 0) {
                v = redisCommand(rc, "SMEMBERS %b", k->str, k->len);
            } else if (strcmp(type->str, "zset") == 0) {
                v = redisCommand(rc, "ZRANGE %b 0 -1", k->str, k->len);
            }
            append_reply(k, &buf, len, &cap);
            append_reply(v, &buf, len, &cap);
            freeReplyObject(type);
            if (v != NULL) {
                freeReplyObject(v);
            }
        }
        freeReplyObject(scan);
    } while (strcmp(cursor, "0") != 0);
    return buf;
}

/* An uncompressed RDB snapshot of Redis, read into memory (malloc'd). */
static char *rdb_dump(size_t *len)
{
    /* Uncompressed, so that text in clear would show; and at once (no diskless delay). */
    freeReplyObject(redisCommand(rc, "CONFIG SET rdbcompression no"));
    freeReplyObject(redisCommand(rc, "CONFIG SET repl-diskless-sync-delay 0"));
    char path[700], args[800];
    snprintf(path, sizeof(path), "%s/dump-%lld.rdb", env.dir, te_now_ms());
    snprintf(args, sizeof(args), "--rdb %s", path);
    free(te_redis_cli(&env, args));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* No marker in clear anywhere in Redis (nor in the service's log). */
static void assert_no_plaintext(void)
{
    size_t len = 0;
    char *rdb = rdb_dump(&len);
    /* The dump does show what is stored in clear: a subject id. */
    assert_true(blob_has(rdb, len, "b-lea"));
    FILE *f = fopen(sessions.log, "rb");
    assert_non_null(f);
    char *log = calloc(1, 1 << 24);
    size_t loglen = fread(log, 1, (1 << 24) - 1, f);
    fclose(f);
    size_t vlen = 0;
    char *values = redis_values(&vlen);
    assert_true(blob_has(values, vlen, "b-lea"));
    for (size_t i = 0; i < N_MARKERS; i++) {
        if (blob_has(rdb, len, markers[i]) || blob_has(values, vlen, markers[i])) {
            fail_msg("%s is stored in clear", markers[i]);
        }
        if (blob_has(log, loglen, markers[i])) {
            fail_msg("%s is in the service's log", markers[i]);
        }
    }
    free(log);
    free(values);
    free(rdb);
}

/* A bilan with every kind of free text, each holding its marker. */
static const char *rich_bilan(void)
{
    static char id[32];
    Boussole__V1__Caller b = beneficiary(), c = counselor(), a = admin();
    snprintf(id, sizeof(id), "%s", new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_EMPLOYER_PLAN));
    Boussole__V1__Intake in = BOUSSOLE__V1__INTAKE__INIT;
    in.bilan_id = id;
    in.current_situation = (char *)markers[0];
    in.reasons = (char *)markers[1];
    in.to_transform = (char *)markers[2];
    in.expectations = (char *)markers[3];
    in.questions = (char *)markers[4];
    in.doubts = (char *)markers[5];
    Boussole__V1__RecordIntakeRequest ir = BOUSSOLE__V1__RECORD_INTAKE_REQUEST__INIT;
    ir.intake = &in;
    assert_status(call("RecordIntake", &ir.base, &b, NULL), BSL_STATUS_OK);
    Boussole__V1__RoadmapTool tools[] = { BOUSSOLE__V1__ROADMAP_TOOL__ROADMAP_TOOL_INTERVIEW };
    Boussole__V1__RoadmapStep st = BOUSSOLE__V1__ROADMAP_STEP__INIT;
    st.phase = BOUSSOLE__V1__PHASE__PHASE_PRELIMINARY;
    st.title = (char *)markers[6];
    st.tools = tools;
    st.n_tools = 1;
    st.status = BOUSSOLE__V1__ROADMAP_STEP_STATUS__ROADMAP_STEP_STATUS_PLANNED;
    Boussole__V1__RoadmapStep *steps[] = { &st };
    Boussole__V1__SetRoadmapRequest sr = BOUSSOLE__V1__SET_ROADMAP_REQUEST__INIT;
    sr.bilan_id = id;
    sr.steps = steps;
    sr.n_steps = 1;
    assert_status(call("SetRoadmap", &sr.base, &c, NULL), BSL_STATUS_OK);
    Boussole__V1__ProposeAgreementRequest pa = BOUSSOLE__V1__PROPOSE_AGREEMENT_REQUEST__INIT;
    pa.bilan_id = id;
    pa.employer_name = (char *)markers[7];
    pa.objective = (char *)markers[8];
    pa.content = (char *)markers[9];
    pa.means = (char *)markers[10];
    pa.duration_hours = 24;
    pa.period_start = (char *)day(0);
    pa.period_end = (char *)day(60);
    pa.results_handover = (char *)markers[11];
    pa.price_cents = 199900;
    assert_status(call("ProposeAgreement", &pa.base, &a, NULL), BSL_STATUS_OK);
    char mid[32];
    snprintf(mid, sizeof(mid), "%s", schedule(id, 0, -90, 60));
    assert_status(confirm(id, mid, &b, NULL), BSL_STATUS_OK);
    assert_status(confirm(id, mid, &c, NULL), BSL_STATUS_OK);
    Boussole__V1__SetMeetingNotesRequest sn = BOUSSOLE__V1__SET_MEETING_NOTES_REQUEST__INIT;
    sn.bilan_id = id;
    sn.meeting_id = mid;
    sn.version = 3;
    sn.shared_notes = (char *)markers[12];
    assert_status(call("SetMeetingNotes", &sn.base, &c, NULL), BSL_STATUS_OK);
    Boussole__V1__SetPrivateNotesRequest sp = BOUSSOLE__V1__SET_PRIVATE_NOTES_REQUEST__INIT;
    sp.bilan_id = id;
    sp.meeting_id = mid;
    sp.text = (char *)markers[PRIVATE_MARKER];
    assert_status(call("SetPrivateNotes", &sp.base, &c, NULL), BSL_STATUS_OK);
    char *skills[] = { (char *)markers[16] };
    Boussole__V1__Experience ex = BOUSSOLE__V1__EXPERIENCE__INIT;
    ex.bilan_id = id;
    ex.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_PERSONAL_CHALLENGE;
    ex.title = (char *)markers[14];
    ex.description = (char *)markers[15];
    ex.skills = skills;
    ex.n_skills = 1;
    Boussole__V1__AddExperienceRequest ae = BOUSSOLE__V1__ADD_EXPERIENCE_REQUEST__INIT;
    ae.experience = &ex;
    assert_status(call("AddExperience", &ae.base, &b, NULL), BSL_STATUS_OK);
    Boussole__V1__CareerLead ld = BOUSSOLE__V1__CAREER_LEAD__INIT;
    ld.bilan_id = id;
    ld.title = (char *)markers[17];
    ld.path = BOUSSOLE__V1__CAREER_PATH__CAREER_PATH_TRAINING;
    ld.status = BOUSSOLE__V1__CAREER_LEAD_STATUS__CAREER_LEAD_STATUS_RETAINED;
    ld.status_reason = (char *)markers[18];
    Boussole__V1__AddCareerLeadRequest al = BOUSSOLE__V1__ADD_CAREER_LEAD_REQUEST__INIT;
    al.lead = &ld;
    ProtobufCMessage *resp = NULL;
    assert_status(call("AddCareerLead", &al.base, &b, &resp), BSL_STATUS_OK);
    char lid[32];
    snprintf(lid, sizeof(lid), "%s", ((Boussole__V1__CareerLead *)resp)->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    char link[128];
    snprintf(link, sizeof(link), "https://exemple.fr/%s", markers[21]);
    char *links[] = { link };
    Boussole__V1__LeadResearch rs = BOUSSOLE__V1__LEAD_RESEARCH__INIT;
    rs.lead_id = lid;
    rs.kind = BOUSSOLE__V1__RESEARCH_KIND__RESEARCH_KIND_IMMERSION;
    rs.title = (char *)markers[19];
    rs.notes = (char *)markers[20];
    rs.links = links;
    rs.n_links = 1;
    Boussole__V1__AddLeadResearchRequest ar = BOUSSOLE__V1__ADD_LEAD_RESEARCH_REQUEST__INIT;
    ar.bilan_id = id;
    ar.research = &rs;
    assert_status(call("AddLeadResearch", &ar.base, &b, NULL), BSL_STATUS_OK);
    Boussole__V1__RecordAccompaniedTimeRequest rt =
        BOUSSOLE__V1__RECORD_ACCOMPANIED_TIME_REQUEST__INIT;
    rt.bilan_id = id;
    rt.date = (char *)day(-1);
    rt.minutes = 30;
    rt.activity = BOUSSOLE__V1__ACCOMPANIED_ACTIVITY__ACCOMPANIED_ACTIVITY_WORKSHOP;
    assert_status(call("RecordAccompaniedTime", &rt.base, &c, NULL), BSL_STATUS_OK);
    return id;
}

static Boussole__V1__SessionsExport *export_as(const Boussole__V1__Caller *c)
{
    Boussole__V1__ExportBeneficiaryDataRequest r =
        BOUSSOLE__V1__EXPORT_BENEFICIARY_DATA_REQUEST__INIT;
    r.beneficiary_id = "b-lea";
    ProtobufCMessage *resp = NULL;
    assert_status(call("ExportBeneficiaryData", &r.base, c, &resp), BSL_STATUS_OK);
    return (Boussole__V1__SessionsExport *)resp;
}

static const Boussole__V1__BilanExport *find(const Boussole__V1__SessionsExport *x, const char *id)
{
    for (size_t i = 0; i < x->n_bilans; i++) {
        if (strcmp(x->bilans[i]->bilan->id, id) == 0) {
            return x->bilans[i];
        }
    }
    return NULL;
}

static bsl_status erase(const char *id, Boussole__V1__EraseBilanDataResponse **out)
{
    Boussole__V1__EraseBilanDataRequest r = BOUSSOLE__V1__ERASE_BILAN_DATA_REQUEST__INIT;
    r.bilan_id = (char *)id;
    r.reason = "beneficiary request";
    Boussole__V1__Caller s = service_caller();
    return call("EraseBilanData", &r.base, &s, (ProtobufCMessage **)out);
}

static void export_then_erase(void **state)
{
    (void)state;
    Boussole__V1__Caller b = beneficiary(), c = counselor(), a = admin(), s = service_caller();
    char id[32];
    snprintf(id, sizeof(id), "%s", rich_bilan());
    assert_no_plaintext();

    /* The export: one structured message holding every marker but the private notes. */
    Boussole__V1__SessionsExport *x = export_as(&b);
    assert_string_equal(x->beneficiary_id, "b-lea");
    const Boussole__V1__BilanExport *be = find(x, id);
    assert_non_null(be);
    size_t len = protobuf_c_message_get_packed_size(&x->base);
    char *packed = malloc(len);
    protobuf_c_message_pack(&x->base, (uint8_t *)packed);
    for (size_t i = 0; i < N_MARKERS; i++) {
        bool in = blob_has(packed, len, markers[i]);
        if (in != (i != PRIVATE_MARKER)) {
            fail_msg("%s: %s in the export", markers[i], in ? "present" : "missing");
        }
    }
    free(packed);
    assert_string_equal(be->intake->doubts, markers[5]);
    assert_string_equal(be->agreement->employer_name, markers[7]);
    assert_int_equal(be->agreement->price_cents, 199900);
    assert_int_equal(be->n_meetings, 1);
    assert_string_equal(be->meetings[0]->shared_notes, markers[12]);
    assert_int_equal(be->n_experiences, 1);
    assert_int_equal(be->n_leads, 1);
    assert_int_equal(be->leads[0]->n_research, 1);
    assert_int_equal(be->n_accompanied_time, 1);
    assert_int_equal(be->bilan->spent_minutes, 90);
    protobuf_c_message_free_unpacked(&x->base, NULL);
    x = export_as(&s);
    assert_non_null(find(x, id));
    protobuf_c_message_free_unpacked(&x->base, NULL);

    /* Keep a "backup" of a sealed value to show that it no longer opens after the erasure. */
    char key[96];
    snprintf(key, sizeof(key), "bilan:{%s}:intake", id);
    redisReply *backup = redisCommand(rc, "GET %s", key);
    assert_int_equal(backup->type, REDIS_REPLY_STRING);

    Boussole__V1__EraseBilanDataResponse *er = NULL;
    assert_status(erase(id, &er), BSL_STATUS_OK);
    assert_string_equal(er->bilan_id, id);
    assert_true(er->data_key_destroyed);
    /* intake, roadmap, agreement terms, shared notes, private notes, experiences, leads (with
     * their research), and the data key. */
    assert_int_equal(er->keys_deleted, 8);
    protobuf_c_message_free_unpacked(&er->base, NULL);

    /* The data key is gone from the keystore, and no confidential key is left. */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "EXISTS dek:{%s}:sessions", id);
    char *v = te_redis_cli(&env, cmd);
    assert_string_equal(v, "0");
    free(v);
    const char *parts[] = { "intake",        "roadmap",     "agreement_text", "meeting_notes",
                            "private_notes", "experiences", "leads",          "questionnaires" };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        snprintf(cmd, sizeof(cmd), "EXISTS bilan:{%s}:%s", id, parts[i]);
        v = te_redis_cli(&env, cmd);
        assert_string_equal(v, "0");
        free(v);
    }
    assert_no_plaintext();

    /* Nothing of the free text can be read. */
    ProtobufCMessage *resp = NULL;
    Boussole__V1__GetIntakeRequest gi = BOUSSOLE__V1__GET_INTAKE_REQUEST__INIT;
    gi.bilan_id = id;
    assert_status(call("GetIntake", &gi.base, &b, NULL), BSL_STATUS_NOT_FOUND);
    Boussole__V1__GetRoadmapRequest gr = BOUSSOLE__V1__GET_ROADMAP_REQUEST__INIT;
    gr.bilan_id = id;
    assert_status(call("GetRoadmap", &gr.base, &c, NULL), BSL_STATUS_NOT_FOUND);
    Boussole__V1__ListExperiencesRequest le = BOUSSOLE__V1__LIST_EXPERIENCES_REQUEST__INIT;
    le.bilan_id = id;
    assert_status(call("ListExperiences", &le.base, &b, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListExperiencesResponse *)resp)->n_experiences, 0);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__ListCareerLeadsRequest ll = BOUSSOLE__V1__LIST_CAREER_LEADS_REQUEST__INIT;
    ll.bilan_id = id;
    assert_status(call("ListCareerLeads", &ll.base, &b, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__ListCareerLeadsResponse *)resp)->n_leads, 0);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* The administrative record remains: meetings and their sign-in, hours, the agreement's
     * status and price, the history, with the cancellation the erasure made. */
    Boussole__V1__ListMeetingsRequest lm = BOUSSOLE__V1__LIST_MEETINGS_REQUEST__INIT;
    lm.bilan_id = id;
    assert_status(call("ListMeetings", &lm.base, &b, &resp), BSL_STATUS_OK);
    Boussole__V1__ListMeetingsResponse *ml = (Boussole__V1__ListMeetingsResponse *)resp;
    assert_int_equal(ml->n_meetings, 1);
    assert_string_equal(ml->meetings[0]->shared_notes, "");
    assert_int_equal(ml->meetings[0]->status,
                     BOUSSOLE__V1__MEETING_STATUS__MEETING_STATUS_ATTENDED);
    assert_non_null(ml->meetings[0]->beneficiary_confirmation);
    char mid[32];
    snprintf(mid, sizeof(mid), "%s", ml->meetings[0]->id);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__GetPrivateNotesRequest gp = BOUSSOLE__V1__GET_PRIVATE_NOTES_REQUEST__INIT;
    gp.bilan_id = id;
    gp.meeting_id = mid;
    assert_status(call("GetPrivateNotes", &gp.base, &c, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__PrivateNotes *)resp)->version, 0);
    assert_string_equal(((Boussole__V1__PrivateNotes *)resp)->text, "");
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__GetAgreementRequest ga = BOUSSOLE__V1__GET_AGREEMENT_REQUEST__INIT;
    ga.bilan_id = id;
    assert_status(call("GetAgreement", &ga.base, &a, &resp), BSL_STATUS_OK);
    Boussole__V1__Agreement *ag = (Boussole__V1__Agreement *)resp;
    assert_int_equal(ag->price_cents, 199900);
    assert_string_equal(ag->employer_name, "");
    assert_string_equal(ag->objective, "");
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__Bilan *bl = get_bilan(id, &a);
    assert_int_equal(bl->status, BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_CANCELLED);
    assert_int_equal(bl->cancel_reason, BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_DATA_ERASED);
    assert_non_null(bl->erase_time);
    assert_int_equal(bl->spent_minutes, 90);
    assert_int_equal(bl->progress->experiences, 0);
    protobuf_c_message_free_unpacked(&bl->base, NULL);
    Boussole__V1__ListPhaseTransitionsRequest lh =
        BOUSSOLE__V1__LIST_PHASE_TRANSITIONS_REQUEST__INIT;
    lh.id = id;
    assert_status(call("ListPhaseTransitions", &lh.base, &a, &resp), BSL_STATUS_OK);
    Boussole__V1__ListPhaseTransitionsResponse *h =
        (Boussole__V1__ListPhaseTransitionsResponse *)resp;
    assert_int_equal(h->n_transitions, 1);
    assert_int_equal(h->transitions[0]->to, BOUSSOLE__V1__PHASE__PHASE_CANCELLED);
    assert_int_equal(h->transitions[0]->actor_role, BOUSSOLE__V1__ROLE__ROLE_SERVICE);
    assert_int_equal(h->transitions[0]->cancel_reason,
                     BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_DATA_ERASED);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* An erased bilan is not among the ended ones the retention sweep walks. */
    snprintf(cmd, sizeof(cmd), "ZSCORE bilans:ended %s", id);
    v = te_redis_cli(&env, cmd);
    assert_string_equal(v, "");
    free(v);
    /* Nothing new can be written. */
    Boussole__V1__Experience ex = BOUSSOLE__V1__EXPERIENCE__INIT;
    ex.bilan_id = id;
    ex.kind = BOUSSOLE__V1__EXPERIENCE_KIND__EXPERIENCE_KIND_JOB;
    ex.title = "Après effacement";
    Boussole__V1__AddExperienceRequest ae = BOUSSOLE__V1__ADD_EXPERIENCE_REQUEST__INIT;
    ae.experience = &ex;
    assert_status(call("AddExperience", &ae.base, &b, NULL), BSL_STATUS_FAILED_PRECONDITION);
    /* The export shows the administrative record only. */
    x = export_as(&b);
    be = find(x, id);
    assert_non_null(be);
    assert_null(be->intake);
    assert_null(be->roadmap);
    assert_int_equal(be->n_experiences, 0);
    assert_int_equal(be->n_meetings, 1);
    assert_string_equal(be->agreement->objective, "");
    protobuf_c_message_free_unpacked(&x->base, NULL);

    /* A copy of a sealed value from before (a backup) no longer opens: the key is gone. */
    redisReply *put = redisCommand(rc, "SET %s %b", key, backup->str, backup->len);
    freeReplyObject(put);
    freeReplyObject(backup);
    assert_status(call("GetIntake", &gi.base, &b, NULL), BSL_STATUS_INTERNAL);
    freeReplyObject(redisCommand(rc, "DEL %s", key));

    /* Erasing again: nothing left to delete, still done. */
    assert_status(erase(id, &er), BSL_STATUS_OK);
    assert_int_equal(er->keys_deleted, 0);
    assert_true(er->data_key_destroyed);
    protobuf_c_message_free_unpacked(&er->base, NULL);
    assert_status(erase(NO_SUCH_ID, NULL), BSL_STATUS_NOT_FOUND);
    Boussole__V1__EraseBilanDataRequest bad = BOUSSOLE__V1__ERASE_BILAN_DATA_REQUEST__INIT;
    bad.bilan_id = id;
    bad.reason = "Mme Dupont l'a demandé";
    assert_status(call("EraseBilanData", &bad.base, &s, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("reason"));

    /* The administrative record expires after --record-retention-days (1826 by default),
     * counted from the first erasure. */
    const char *const kept[] = { "", ":history", ":meetings", ":agreement" };
    for (size_t i = 0; i < 4; i++) {
        snprintf(cmd, sizeof(cmd), "TTL bilan:{%s}%s", id, kept[i]);
        v = te_redis_cli(&env, cmd);
        long long ttl = atoll(v);
        free(v);
        if (ttl <= 1826LL * 86400 - 600 || ttl > 1826LL * 86400) {
            fail_msg("TTL of bilan:{%s}%s: %lld", id, kept[i], ttl);
        }
    }
    /* A repeated erasure does not push it back. */
    snprintf(cmd, sizeof(cmd), "EXPIRE bilan:{%s} 5000", id);
    free(te_redis_cli(&env, cmd));
    assert_status(erase(id, NULL), BSL_STATUS_OK);
    snprintf(cmd, sizeof(cmd), "TTL bilan:{%s}", id);
    v = te_redis_cli(&env, cmd);
    assert_true(atoll(v) > 0 && atoll(v) <= 5000);
    free(v);
    /* Once it has expired (done here at once), listing the beneficiary's bilans drops the
     * index entry that pointed at it. */
    char del[400];
    snprintf(del, sizeof(del),
             "DEL bilan:{%s} bilan:{%s}:history bilan:{%s}:meetings bilan:{%s}:agreement "
             "bilan:{%s}:hours",
             id, id, id, id, id);
    free(te_redis_cli(&env, del));
    Boussole__V1__ListBilansRequest lb = BOUSSOLE__V1__LIST_BILANS_REQUEST__INIT;
    lb.owner_case = BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID;
    lb.beneficiary_id = "b-lea";
    ProtobufCMessage *lr = NULL;
    assert_status(call("ListBilans", &lb.base, &b, &lr), BSL_STATUS_OK);
    Boussole__V1__ListBilansResponse *l = (Boussole__V1__ListBilansResponse *)lr;
    for (size_t i = 0; i < l->n_bilans; i++) {
        assert_string_not_equal(l->bilans[i]->id, id);
    }
    protobuf_c_message_free_unpacked(lr, NULL);
    snprintf(cmd, sizeof(cmd), "ZSCORE bilans:beneficiary:{b-lea} %s", id);
    for (int i = 0; i < 100; i++) {
        v = te_redis_cli(&env, cmd);
        bool gone = v[0] == '\0';
        free(v);
        if (gone) {
            break;
        }
        assert_true(i < 99);
        te_sleep_ms(20);
    }
}

static void retention_sweep_skips_nothing(void **state)
{
    (void)state;
    Boussole__V1__Caller a = admin(), s = service_caller();
    enum { N = 7 };
    char ids[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], 32, "%s", new_bilan(BOUSSOLE__V1__FUNDING__FUNDING_CPF));
        Boussole__V1__CancelBilanRequest cb = BOUSSOLE__V1__CANCEL_BILAN_REQUEST__INIT;
        cb.id = ids[i];
        cb.reason = BOUSSOLE__V1__CANCEL_REASON__CANCEL_REASON_ORGANISATION;
        assert_status(call("CancelBilan", &cb.base, &a, NULL), BSL_STATUS_OK);
    }
    /* The sweep: a page of ended bilans, erase each, then the next page. */
    Boussole__V1__PageRequest page = BOUSSOLE__V1__PAGE_REQUEST__INIT;
    page.page_size = 2;
    char token[128] = "";
    int erased[N] = { 0 };
    int pages = 0;
    do {
        Boussole__V1__ListEndedBilansRequest r = BOUSSOLE__V1__LIST_ENDED_BILANS_REQUEST__INIT;
        r.ended_before = at_minutes(1);
        page.page_token = token;
        r.page = &page;
        ProtobufCMessage *resp = NULL;
        assert_status(call("ListEndedBilans", &r.base, &s, &resp), BSL_STATUS_OK);
        Boussole__V1__ListEndedBilansResponse *l = (Boussole__V1__ListEndedBilansResponse *)resp;
        for (size_t i = 0; i < l->n_bilans; i++) {
            assert_string_equal(l->bilans[i]->beneficiary_id, "b-lea");
            assert_status(erase(l->bilans[i]->bilan_id, NULL), BSL_STATUS_OK);
            for (int k = 0; k < N; k++) {
                erased[k] += strcmp(ids[k], l->bilans[i]->bilan_id) == 0;
            }
        }
        snprintf(token, sizeof(token), "%s", l->next_page_token);
        protobuf_c_message_free_unpacked(resp, NULL);
        pages++;
    } while (token[0] != '\0' && pages < 20);
    for (int k = 0; k < N; k++) {
        assert_int_equal(erased[k], 1);
    }
    char *v = te_redis_cli(&env, "ZCARD bilans:ended");
    assert_string_equal(v, "0");
    free(v);
    /* A token that is not the service's is refused. */
    Boussole__V1__ListEndedBilansRequest r = BOUSSOLE__V1__LIST_ENDED_BILANS_REQUEST__INIT;
    page.page_token = "12";
    r.page = &page;
    assert_status(call("ListEndedBilans", &r.base, &s, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation("page.page_token"));
}

static void export_rules(void **state)
{
    (void)state;
    Boussole__V1__Caller c = counselor();
    Boussole__V1__ExportBeneficiaryDataRequest r =
        BOUSSOLE__V1__EXPORT_BENEFICIARY_DATA_REQUEST__INIT;
    r.beneficiary_id = "b-lea";
    assert_status(call("ExportBeneficiaryData", &r.base, &c, NULL), BSL_STATUS_PERMISSION_DENIED);
    Boussole__V1__Caller other = who(BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY, "b-autre", "");
    assert_status(call("ExportBeneficiaryData", &r.base, &other, NULL),
                  BSL_STATUS_PERMISSION_DENIED);
    /* Someone without bilans gets an empty export. */
    r.beneficiary_id = "b-autre";
    ProtobufCMessage *resp = NULL;
    assert_status(call("ExportBeneficiaryData", &r.base, &other, &resp), BSL_STATUS_OK);
    assert_int_equal(((Boussole__V1__SessionsExport *)resp)->n_bilans, 0);
    assert_non_null(((Boussole__V1__SessionsExport *)resp)->export_time);
    protobuf_c_message_free_unpacked(resp, NULL);
    r.beneficiary_id = "bad subject!";
    assert_status(call("ExportBeneficiaryData", &r.base, &other, NULL),
                  BSL_STATUS_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(export_then_erase),
        cmocka_unit_test(retention_sweep_skips_nothing),
        cmocka_unit_test(export_rules),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
