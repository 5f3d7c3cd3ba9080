/* Results: reading them with the counselor's notes, annotating, and occupation matching. */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "keys.h"
#include "questionnaires.h"
#include "scoring.h"

#define QN_MAX_ANNOTATIONS 100

/* KEYS: asg hash, results, notes. Answers {status, sealed results or nil, sealed notes...}. */
static const char read_results_script[] =
    "return {redis.call('HGET', KEYS[1], 'status'), redis.call('GET', KEYS[2]),\n"
    "        redis.call('HVALS', KEYS[3])}\n";

/* KEYS: asg hash, notes. ARGV: id, sealed note, limit. */
static const char annotate_script[] =
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "if not st then return redis.error_reply('NOT_FOUND') end\n"
    "if st ~= '3' then return redis.error_reply('NOT_SUBMITTED') end\n"
    "if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 and\n"
    "   redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then\n"
    "  return redis.error_reply('LIMIT')\n"
    "end\n"
    "redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])\n"
    "return redis.call('HGET', KEYS[2], ARGV[1])\n";

int qn_results_init(qn_app *app)
{
    int rv = bsl_redis_script_add(app->redis, read_results_script, &app->read_results);
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, annotate_script, &app->annotate);
    }
    return rv;
}

typedef struct results_ctx {
    const char *bilan;
    const char *asg;
    redisReply *stored; /* the read_results answer, copied into the arena */
} results_ctx;

static int cmp_note(const void *a, const void *b)
{
    const Boussole__V1__Annotation *x = *(Boussole__V1__Annotation *const *)a;
    const Boussole__V1__Annotation *y = *(Boussole__V1__Annotation *const *)b;
    int64_t tx = bsl_pb_timestamp_ms(x->create_time), ty = bsl_pb_timestamp_ms(y->create_time);
    if (tx != ty) {
        return (tx > ty) - (tx < ty);
    }
    return strcmp(x->id, y->id);
}

/*
 * Opens the stored results and notes of a read_results answer (op->dek must be set). Answers
 * the call and returns NULL when there are none or they do not open.
 */
static Boussole__V1__Results *open_results(qn_op *op, results_ctx *rc, bool with_notes)
{
    const redisReply *r = rc->stored;
    if (r->element[0]->type != REDIS_REPLY_STRING) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such assignment");
        return NULL;
    }
    if (r->element[1]->type != REDIS_REPLY_STRING) {
        qn_op_fail_precondition(op, "ASSIGNMENT_NOT_SUBMITTED", rc->asg,
                                "results exist once the answers are submitted");
        return NULL;
    }
    if (op->dek == NULL) {
        qn_op_fail(op, BSL_STATUS_DATA_LOSS, "the bilan's data key is gone: results unreadable");
        return NULL;
    }
    Boussole__V1__Results *res = (Boussole__V1__Results *)qn_open_msg(
        op, qn_ad(op, rc->bilan, "results", rc->asg, NULL), &boussole__v1__results__descriptor,
        r->element[1]->str, r->element[1]->len);
    if (res == NULL) {
        qn_op_fail(op, BSL_STATUS_DATA_LOSS, "the stored results do not open");
        return NULL;
    }
    const redisReply *notes = r->element[2];
    if (!with_notes || notes->type != REDIS_REPLY_ARRAY || notes->elements == 0) {
        return res;
    }
    res->annotations = bsl_arena_calloc(op->arena, notes->elements, sizeof(*res->annotations));
    if (res->annotations == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < notes->elements; i++) {
        const redisReply *v = notes->element[i];
        /* The note's id is inside it; the associated data binds it to this assignment. */
        Boussole__V1__Annotation *n = (Boussole__V1__Annotation *)qn_open_msg(
            op, qn_ad(op, rc->bilan, "note", rc->asg, NULL), &boussole__v1__annotation__descriptor,
            v->str, v->len);
        if (n == NULL) {
            qn_op_fail(op, BSL_STATUS_DATA_LOSS, "a stored note does not open");
            return NULL;
        }
        res->annotations[res->n_annotations++] = n;
    }
    qsort(res->annotations, res->n_annotations, sizeof(*res->annotations), cmp_note);
    return res;
}

static void read_results(qn_op *op, results_ctx *rc, qn_step next)
{
    char asg[QN_KEY_MAX], res[QN_KEY_MAX], notes[QN_KEY_MAX];
    qn_key_bilan_sub(asg, rc->bilan, "asg", rc->asg);
    qn_key_bilan_sub(res, rc->bilan, "res", rc->asg);
    qn_key_bilan_sub(notes, rc->bilan, "notes", rc->asg);
    const char *argv[] = { asg, res, notes };
    qn_op_eval(op, op->app->read_results, next, "reading the results", 3, 3, argv, NULL);
}

static results_ctx *ctx_new(qn_op *op, const char *bilan, const char *asg)
{
    results_ctx *rc = bsl_arena_calloc(op->arena, 1, sizeof(*rc));
    if (rc == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    rc->bilan = bilan;
    rc->asg = asg;
    op->ctx = rc;
    return rc;
}

/* Keeps the read_results answer and fetches the data key. */
static void keep_and_dek(qn_op *op, qn_step next)
{
    results_ctx *rc = op->ctx;
    const redisReply *r = op->reply;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    if ((rc->stored = qn_reply_copy(op->arena, r)) == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_dek(op, rc->bilan, false, next);
}

/* ---- GetResults ------------------------------------------------------------------------ */

static void on_get_dek(qn_op *op)
{
    Boussole__V1__Results *res = open_results(op, op->ctx, true);
    if (res != NULL) {
        qn_op_reply(op, &res->base);
    }
}

static void on_get_read(qn_op *op)
{
    keep_and_dek(op, on_get_dek);
}

static void on_get_access(qn_op *op)
{
    read_results(op, op->ctx, on_get_read);
}

QN_HANDLER(qn_get_results, Boussole__V1__GetResultsRequest, Boussole__V1__Results)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "assignment_id", in->assignment_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op != NULL && ctx_new(op, in->bilan_id, in->assignment_id) != NULL) {
        qn_op_access(op, in->bilan_id, QN_READ_ANSWERS, on_get_access);
    }
}

/* ---- AnnotateResults ---------------------------------------------------------------------- */

typedef struct note_ctx {
    results_ctx rc; /* first */
    Boussole__V1__Annotation note;
} note_ctx;

static void on_annotated_dek(qn_op *op)
{
    note_ctx *nc = op->ctx;
    const redisReply *r = nc->rc.stored;
    Boussole__V1__Annotation *n = (Boussole__V1__Annotation *)qn_open_msg(
        op, qn_ad(op, nc->rc.bilan, "note", nc->rc.asg, NULL),
        &boussole__v1__annotation__descriptor, r->str, r->len);
    if (n == NULL) {
        qn_op_fail(op, BSL_STATUS_DATA_LOSS, "the stored note does not open");
        return;
    }
    qn_op_reply(op, &n->base);
}

static void on_annotated(qn_op *op)
{
    note_ctx *nc = op->ctx;
    const redisReply *r = op->reply;
    if (bsl_redis_is_error(r)) {
        if (strstr(r->str, "NOT_SUBMITTED") != NULL) {
            qn_op_fail_precondition(op, "ASSIGNMENT_NOT_SUBMITTED", nc->rc.asg,
                                    "notes go on submitted results");
        } else if (strstr(r->str, "LIMIT") != NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "at most %d notes per assignment",
                       QN_MAX_ANNOTATIONS);
        } else {
            qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such assignment");
        }
        return;
    }
    if (r->type != REDIS_REPLY_STRING) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    /* The stored note (the first one when this is a repeat of the same key). */
    if ((nc->rc.stored = qn_reply_copy(op->arena, r)) == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_dek(op, nc->rc.bilan, false, on_annotated_dek);
}

static void on_note_dek(qn_op *op)
{
    note_ctx *nc = op->ctx;
    size_t len;
    uint8_t *sealed =
        qn_seal_msg(op, qn_ad(op, nc->rc.bilan, "note", nc->rc.asg, NULL), &nc->note.base, &len);
    char asg[QN_KEY_MAX], notes[QN_KEY_MAX], limit[8];
    if (sealed == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_key_bilan_sub(asg, nc->rc.bilan, "asg", nc->rc.asg);
    qn_key_bilan_sub(notes, nc->rc.bilan, "notes", nc->rc.asg);
    snprintf(limit, sizeof(limit), "%d", QN_MAX_ANNOTATIONS);
    const char *argv[] = { asg, notes, nc->note.id, (const char *)sealed, limit };
    size_t lens[] = { strlen(asg), strlen(notes), strlen(nc->note.id), len, strlen(limit) };
    qn_op_eval(op, op->app->annotate, on_annotated, "storing the note", 2, 5, argv, lens);
}

static void on_note_instrument(qn_op *op)
{
    note_ctx *nc = op->ctx;
    if (nc->note.scale_id[0] != '\0' && qn_instrument_scale(op->ins, nc->note.scale_id) < 0) {
        qn_op_fail_field(op, "scale_id", "not a scale of the instrument");
        return;
    }
    qn_op_dek(op, nc->rc.bilan, true, on_note_dek);
}

static void on_note_assignment(qn_op *op)
{
    note_ctx *nc = op->ctx;
    const redisReply *h = op->reply;
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such assignment");
        return;
    }
    char *id = bsl_arena_strdup(op->arena, qn_hash_str(h, "instrument"));
    if (id == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    (void)nc;
    qn_op_instrument(op, id, (uint32_t)qn_hash_num(h, "version"), on_note_instrument);
}

static void on_note_access(qn_op *op)
{
    note_ctx *nc = op->ctx;
    char key[QN_KEY_MAX];
    qn_key_bilan_sub(key, nc->rc.bilan, "asg", nc->rc.asg);
    QN_CMD(op, on_note_assignment, "reading the assignment", "HGETALL", key);
}

QN_HANDLER(qn_annotate_results, Boussole__V1__AnnotateResultsRequest, Boussole__V1__Annotation)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "assignment_id", in->assignment_id);
    bsl_check_text(&chk, "scale_id", in->scale_id, 0, QN_MAX_ID);
    bsl_check_text(&chk, "text", in->text, 1, 4000);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    note_ctx *nc = op ? bsl_arena_calloc(op->arena, 1, sizeof(*nc)) : NULL;
    char *id = op ? bsl_arena_alloc(op->arena, BSL_ID_LEN + 1) : NULL;
    if (nc == NULL || id == NULL) {
        if (op != NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    bsl_id_derive(id, "annotation", c->subject, bsl_call_idempotency_key(call));
    nc->rc.bilan = in->bilan_id;
    nc->rc.asg = in->assignment_id;
    boussole__v1__annotation__init(&nc->note);
    nc->note.id = id;
    nc->note.scale_id = in->scale_id;
    nc->note.text = in->text;
    nc->note.author_id = c->subject;
    nc->note.create_time = bsl_pb_timestamp(op->arena, bsl_clock_now_ms(op->app->clock));
    op->ctx = nc;
    qn_op_access(op, in->bilan_id, QN_MANAGE, on_note_access);
}

/* ---- MatchOccupations --------------------------------------------------------------------- */

static void match_reply(qn_op *op, const double profile[6], const char *code)
{
    const Boussole__V1__MatchOccupationsRequest *in = (const void *)bsl_call_request(op->call);
    size_t limit = in->limit ? in->limit : QN_MATCH_DEFAULT;
    qn_match matches[QN_MATCH_MAX];
    char person[4] = "";
    if (code != NULL && strlen(code) == 3) {
        memcpy(person, code, 4);
    }
    int n = qn_match_profile(op->app->occupations, profile, limit, matches, person);
    if (n < 0) {
        qn_op_fail_precondition(op, "PROFILE_FLAT", "profile",
                                "all six scores are equal: no type stands out to match");
        return;
    }
    bsl_arena *a = op->arena;
    Boussole__V1__MatchOccupationsResponse out = BOUSSOLE__V1__MATCH_OCCUPATIONS_RESPONSE__INIT;
    out.holland_code = bsl_arena_strdup(a, person);
    out.method = "pearson-profile-correlation";
    out.attribution = op->app->occupations->attribution;
    out.occupations_considered = (uint32_t)op->app->occupations->n;
    out.matches = bsl_arena_calloc(a, (size_t)(n ? n : 1), sizeof(*out.matches));
    if (out.holland_code == NULL || out.matches == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (int i = 0; i < n; i++) {
        const qn_match *m = &matches[i];
        Boussole__V1__OccupationMatch *o = bsl_arena_alloc(a, sizeof(*o));
        Boussole__V1__RiasecProfile *p = bsl_arena_alloc(a, sizeof(*p));
        char *occ = bsl_arena_strdup(a, m->occupation->holland);
        char *matched = bsl_arena_strdup(a, m->matched);
        if (o == NULL || p == NULL || occ == NULL || matched == NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        boussole__v1__occupation_match__init(o);
        boussole__v1__riasec_profile__init(p);
        const double *r = m->occupation->rating;
        p->r = r[0];
        p->i = r[1];
        p->a = r[2];
        p->s = r[3];
        p->e = r[4];
        p->c = r[5];
        o->code = m->occupation->code;
        o->title = m->occupation->title;
        o->occupation_code = occ;
        o->congruence = m->congruence;
        o->iachan = m->iachan;
        o->matched_types = matched;
        o->profile = p;
        out.matches[out.n_matches++] = o;
    }
    qn_op_reply(op, &out.base);
}

static void on_match_dek(qn_op *op)
{
    Boussole__V1__Results *res = open_results(op, op->ctx, false);
    if (res == NULL) {
        return;
    }
    if (res->holland_code[0] == '\0') {
        qn_op_fail_precondition(op, "NOT_RIASEC", res->assignment_id,
                                "matching needs the results of a RIASEC instrument");
        return;
    }
    double profile[6] = { 0 };
    for (size_t i = 0; i < res->n_scales; i++) {
        int t = strlen(res->scales[i]->scale_id) == 1
                    ? qn_hexagon_index(res->scales[i]->scale_id[0])
                    : -1;
        if (t >= 0) {
            profile[t] = res->scales[i]->normalised;
        }
    }
    match_reply(op, profile, res->holland_code);
}

static void on_match_read(qn_op *op)
{
    keep_and_dek(op, on_match_dek);
}

static void on_match_access(qn_op *op)
{
    read_results(op, op->ctx, on_match_read);
}

QN_HANDLER(qn_match_occupations, Boussole__V1__MatchOccupationsRequest,
           Boussole__V1__MatchOccupationsResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bool from_results = in->bilan_id[0] != '\0' || in->assignment_id[0] != '\0';
    bsl_check chk = bsl_check_begin(call);
    bsl_check_range(&chk, "limit", in->limit, 0, QN_MATCH_MAX);
    double profile[6] = { 0 };
    if (from_results) {
        bsl_check_id(&chk, "bilan_id", in->bilan_id);
        bsl_check_id(&chk, "assignment_id", in->assignment_id);
        if (in->profile != NULL) {
            bsl_check_violation(&chk, "profile", "give a profile or an assignment, not both");
        }
    } else if (in->profile == NULL) {
        bsl_check_violation(&chk, "profile", "give a profile, or bilan_id and assignment_id");
    } else {
        const Boussole__V1__RiasecProfile *p = in->profile;
        double v[6] = { p->r, p->i, p->a, p->s, p->e, p->c };
        static const char *const names[6] = { "profile.r", "profile.i", "profile.a",
                                              "profile.s", "profile.e", "profile.c" };
        for (int t = 0; t < 6; t++) {
            if (!(v[t] >= 0 && v[t] <= 1e6)) {
                bsl_check_violation(&chk, names[t], "must be a number from 0 to 1000000");
            }
            profile[t] = v[t];
        }
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op == NULL) {
        return;
    }
    if (!from_results) {
        match_reply(op, profile, NULL);
        return;
    }
    if (ctx_new(op, in->bilan_id, in->assignment_id) != NULL) {
        qn_op_access(op, in->bilan_id, QN_READ_ANSWERS, on_match_access);
    }
}
