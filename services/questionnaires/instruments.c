/*
 * The instrument catalogue: built-ins (read-only, every organisation) and the instruments
 * counselors write for their organisation, versioned. A version, once stored, never changes;
 * the instrument's hash holds what changes (latest version, status) and the summary fields the
 * catalogue lists.
 */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "keys.h"
#include "questionnaires.h"

/* KEYS: the instrument's hash, its version 1. ARGV: packed, organisation, author, now, title,
 * purpose, language, description, items. A repeat (same derived id) answers the stored
 * version 1. */
static const char create_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('GET', KEYS[2]) end\n"
    "redis.call('SET', KEYS[2], ARGV[1])\n"
    "redis.call('HSET', KEYS[1], 'latest', 1, 'status', 1, 'organisation', ARGV[2],\n"
    "  'author', ARGV[3], 'create_ms', ARGV[4], 'title', ARGV[5], 'purpose', ARGV[6],\n"
    "  'language', ARGV[7], 'description', ARGV[8], 'items', ARGV[9])\n"
    "return ARGV[1]\n";

/* KEYS: the hash, the new version's key. ARGV: expected latest, packed, title, purpose,
 * language, description, items. */
static const char version_script[] =
    "local latest = redis.call('HGET', KEYS[1], 'latest')\n"
    "if not latest then return redis.error_reply('NOT_FOUND') end\n"
    "if tonumber(latest) ~= tonumber(ARGV[1]) then return redis.error_reply('ABORTED') end\n"
    "redis.call('SET', KEYS[2], ARGV[2])\n"
    "redis.call('HSET', KEYS[1], 'latest', tonumber(ARGV[1]) + 1, 'title', ARGV[3],\n"
    "  'purpose', ARGV[4], 'language', ARGV[5], 'description', ARGV[6], 'items', ARGV[7])\n"
    "return tonumber(ARGV[1]) + 1\n";

int qn_instruments_init(qn_app *app)
{
    int rv = bsl_redis_script_add(app->redis, create_script, &app->create_instrument);
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, version_script, &app->create_version);
    }
    return rv;
}

static bool staff(const Boussole__V1__Caller *c)
{
    return (c->role == BOUSSOLE__V1__ROLE__ROLE_COUNSELOR ||
            c->role == BOUSSOLE__V1__ROLE__ROLE_ADMIN) &&
           c->organisation != NULL && c->organisation[0] != '\0';
}

/* May this caller manage (new version, retire) an instrument of this hash? */
static bool may_manage(const Boussole__V1__Caller *c, const redisReply *h)
{
    if (!staff(c) || strcmp(c->organisation, qn_hash_str(h, "organisation")) != 0) {
        return false;
    }
    return c->role == BOUSSOLE__V1__ROLE__ROLE_ADMIN ||
           strcmp(c->subject, qn_hash_str(h, "author")) == 0;
}

/* The version just stored, as callers see it (a new version is ACTIVE, as packed). */
static void reply_instrument(qn_op *op)
{
    Boussole__V1__Instrument out = *op->ins->def;
    qn_op_reply(op, &out.base);
}

/* ---- ListInstruments ---------------------------------------------------------------- */

typedef struct list_ctx {
    Boussole__V1__ListInstrumentsResponse out;
    size_t pending;
    int err;
    bool include_retired;
    char **ids;
    Boussole__V1__InstrumentSummary **custom; /* by position in the page */
} list_ctx;

static Boussole__V1__InstrumentSummary *summary_of_builtin(bsl_arena *a, const qn_instrument *i)
{
    Boussole__V1__InstrumentSummary *s = bsl_arena_alloc(a, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    boussole__v1__instrument_summary__init(s);
    const Boussole__V1__Instrument *d = i->def;
    s->id = d->id;
    s->version = d->version;
    s->language = d->language;
    s->purpose = d->purpose;
    s->title = d->title;
    s->description = d->description;
    s->builtin = true;
    s->status = BOUSSOLE__V1__INSTRUMENT_STATUS__INSTRUMENT_STATUS_ACTIVE;
    s->item_count = (uint32_t)d->n_items;
    return s;
}

typedef struct summary_ctx {
    qn_op *op;
    size_t pos;
} summary_ctx;

static void list_finish(qn_op *op)
{
    list_ctx *lc = op->ctx;
    if (lc->err != BSL_OK) {
        qn_op_fail_err(op, lc->err, "reading the organisation's instruments");
        return;
    }
    for (size_t i = 0; lc->custom != NULL && lc->ids[i] != NULL; i++) {
        Boussole__V1__InstrumentSummary *s = lc->custom[i];
        if (s != NULL &&
            (lc->include_retired ||
             s->status != BOUSSOLE__V1__INSTRUMENT_STATUS__INSTRUMENT_STATUS_RETIRED)) {
            lc->out.instruments[lc->out.n_instruments++] = s;
        }
    }
    qn_op_reply(op, &lc->out.base);
}

static void on_summary(const redisReply *reply, int err, void *arg)
{
    summary_ctx *sc = arg;
    qn_op *op = sc->op;
    list_ctx *lc = op->ctx;
    if (err != BSL_OK) {
        lc->err = err;
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2) {
        bsl_arena *a = op->arena;
        Boussole__V1__InstrumentSummary *s = bsl_arena_alloc(a, sizeof(*s));
        if (s != NULL) {
            boussole__v1__instrument_summary__init(s);
            s->id = lc->ids[sc->pos];
            s->version = (uint32_t)qn_hash_num(reply, "latest");
            s->language = bsl_arena_strdup(a, qn_hash_str(reply, "language"));
            s->purpose = (Boussole__V1__InstrumentPurpose)qn_hash_num(reply, "purpose");
            s->title = bsl_arena_strdup(a, qn_hash_str(reply, "title"));
            s->description = bsl_arena_strdup(a, qn_hash_str(reply, "description"));
            s->status = (Boussole__V1__InstrumentStatus)qn_hash_num(reply, "status");
            s->item_count = (uint32_t)qn_hash_num(reply, "items");
            if (s->language && s->title && s->description) {
                lc->custom[sc->pos] = s;
            }
        }
    }
    if (--lc->pending == 0) {
        list_finish(op);
    }
}

static void on_org_page(qn_op *op)
{
    list_ctx *lc = op->ctx;
    const redisReply *r = op->reply;
    const Boussole__V1__ListInstrumentsRequest *in = (const void *)bsl_call_request(op->call);
    if (r->type != REDIS_REPLY_ARRAY) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    uint32_t size;
    long offset;
    bsl_check chk = bsl_check_begin(op->call);
    qn_page(&chk, in->page, &size, &offset);
    bsl_arena *a = op->arena;
    size_t n = r->elements;
    lc->ids = bsl_arena_calloc(a, n + 1, sizeof(char *));
    lc->custom = bsl_arena_calloc(a, n + 1, sizeof(*lc->custom));
    Boussole__V1__InstrumentSummary **all =
        bsl_arena_calloc(a, op->app->catalog->n_builtins + n + 1, sizeof(*all));
    if (lc->ids == NULL || lc->custom == NULL || all == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    lc->out.instruments = all;
    if (offset == 0) {
        const qn_catalog *cat = op->app->catalog;
        for (size_t i = 0; i < cat->n_builtins; i++) {
            /* Only the latest version of each built-in: sorted by id then version. */
            bool latest = i + 1 == cat->n_builtins ||
                          strcmp(cat->builtins[i]->def->id, cat->builtins[i + 1]->def->id) != 0;
            if (latest) {
                all[lc->out.n_instruments] = summary_of_builtin(a, cat->builtins[i]);
                if (all[lc->out.n_instruments] != NULL) {
                    lc->out.n_instruments++;
                }
            }
        }
    }
    lc->out.next_page_token = n == size ? bsl_arena_printf(a, "%ld", offset + (long)n) : "";
    if (n == 0) {
        list_finish(op);
        return;
    }
    lc->pending = n;
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        summary_ctx *sc = bsl_arena_alloc(a, sizeof(*sc));
        char *id = e->type == REDIS_REPLY_STRING ? bsl_arena_strdup(a, e->str) : NULL;
        char key[QN_KEY_MAX];
        int rv = BSL_ENOMEM;
        if (sc != NULL && id != NULL && bsl_id_valid(id)) {
            sc->op = op;
            sc->pos = i;
            lc->ids[i] = id;
            qn_key_instrument(key, id);
            rv = bsl_redis_command(op->app->redis, bsl_call_remaining_ms(op->call), on_summary, sc,
                                   "HGETALL %s", key);
        } else if (id != NULL) {
            lc->ids[i] = id; /* not an id of ours: skipped (custom[i] stays NULL) */
            rv = BSL_OK;
            if (--lc->pending == 0) {
                list_finish(op);
                return;
            }
            continue;
        }
        if (rv != BSL_OK) {
            lc->err = rv;
            if (--lc->pending == 0) {
                list_finish(op);
                return;
            }
        }
    }
}

QN_HANDLER(qn_list_instruments, Boussole__V1__ListInstrumentsRequest,
           Boussole__V1__ListInstrumentsResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    if (!staff(c)) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "the catalogue is for counselors and admins of an organisation");
        return;
    }
    bsl_check chk = bsl_check_begin(call);
    uint32_t size;
    long offset;
    qn_page(&chk, in->page, &size, &offset);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    list_ctx *lc = op ? bsl_arena_calloc(op->arena, 1, sizeof(*lc)) : NULL;
    if (lc == NULL) {
        if (op != NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    boussole__v1__list_instruments_response__init(&lc->out);
    lc->include_retired = in->include_retired;
    op->ctx = lc;
    char key[QN_KEY_MAX], start[24], stop[24];
    qn_key_org_instruments(key, c->organisation);
    snprintf(start, sizeof(start), "%ld", offset);
    snprintf(stop, sizeof(stop), "%ld", offset + (long)size - 1);
    QN_CMD(op, on_org_page, "listing the organisation's instruments", "ZRANGE", key, start, stop);
}

/* ---- GetInstrument ------------------------------------------------------------------ */

typedef struct get_ctx {
    Boussole__V1__InstrumentStatus status; /* from the instrument's hash */
} get_ctx;

static void get_reply(qn_op *op)
{
    get_ctx *gc = op->ctx;
    Boussole__V1__Instrument out = *op->ins->def;
    out.status = gc->status;
    qn_op_reply(op, &out.base);
}

static void on_get_hash(qn_op *op)
{
    const redisReply *h = op->reply;
    const Boussole__V1__GetInstrumentRequest *in = (const void *)bsl_call_request(op->call);
    const Boussole__V1__Caller *c = bsl_call_caller(op->call);
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0 || !staff(c) ||
        strcmp(c->organisation, qn_hash_str(h, "organisation")) != 0) {
        /* Another organisation's instrument is as absent as one that does not exist. */
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such instrument");
        return;
    }
    get_ctx *gc = op->ctx;
    gc->status = (Boussole__V1__InstrumentStatus)qn_hash_num(h, "status");
    uint32_t version = in->version ? in->version : (uint32_t)qn_hash_num(h, "latest");
    qn_op_instrument(op, in->id, version, get_reply);
}

QN_HANDLER(qn_get_instrument, Boussole__V1__GetInstrumentRequest, Boussole__V1__Instrument)
{
    (void)closure;
    bsl_call *call = closure_data;
    qn_app *app = qn_of(service);
    bsl_check chk = bsl_check_begin(call);
    bsl_check_text(&chk, "id", in->id, 1, QN_MAX_ID);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(app, call);
    get_ctx *gc = op ? bsl_arena_calloc(op->arena, 1, sizeof(*gc)) : NULL;
    if (gc == NULL) {
        if (op != NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    op->ctx = gc;
    gc->status = BOUSSOLE__V1__INSTRUMENT_STATUS__INSTRUMENT_STATUS_ACTIVE;
    if (qn_catalog_is_builtin(app->catalog, in->id)) {
        qn_op_instrument(op, in->id, in->version, get_reply);
        return;
    }
    if (!bsl_id_valid(in->id)) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such instrument");
        return;
    }
    char key[QN_KEY_MAX];
    qn_key_instrument(key, in->id);
    QN_CMD(op, on_get_hash, "reading the instrument", "HGETALL", key);
}

/* ---- CreateInstrument / CreateInstrumentVersion ------------------------------------------ */

typedef struct create_ctx {
    char id[BSL_ID_LEN + 1];
    uint8_t *packed;
    size_t len;
    qn_instrument *compiled;
} create_ctx;

/*
 * Fills the output-only fields of a definition, packs and validates it. On failure the call
 * is answered INVALID_ARGUMENT naming the part ("instrument.items[3] (q4)") and NULL returned.
 */
static create_ctx *prepare(qn_op *op, const Boussole__V1__Instrument *def, const char *id,
                           uint32_t version)
{
    const Boussole__V1__Caller *c = bsl_call_caller(op->call);
    create_ctx *cc = bsl_arena_calloc(op->arena, 1, sizeof(*cc));
    if (cc == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    snprintf(cc->id, sizeof(cc->id), "%s", id);
    Boussole__V1__Instrument d = *def;
    d.id = cc->id;
    d.version = version;
    d.builtin = false;
    d.status = BOUSSOLE__V1__INSTRUMENT_STATUS__INSTRUMENT_STATUS_ACTIVE;
    d.author_id = c->subject;
    d.organisation_id = c->organisation;
    d.create_time = bsl_pb_timestamp(op->arena, bsl_clock_now_ms(op->app->clock));
    cc->len = boussole__v1__instrument__get_packed_size(&d);
    if (cc->len > QN_MAX_PACKED_BYTES) {
        qn_op_fail_field(op, "instrument", "definition larger than %d bytes", QN_MAX_PACKED_BYTES);
        return NULL;
    }
    cc->packed = bsl_arena_alloc(op->arena, cc->len ? cc->len : 1);
    if (cc->packed == NULL || d.create_time == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    boussole__v1__instrument__pack(&d, cc->packed);
    char where[128], why[256];
    if (qn_instrument_compile(cc->packed, cc->len, &cc->compiled, where, sizeof(where), why,
                              sizeof(why)) != BSL_OK) {
        char field[160];
        snprintf(field, sizeof(field), "instrument.%s", where);
        qn_op_fail_field(op, field, "%s", why);
        return NULL;
    }
    op->ins = cc->compiled; /* released with the op */
    return cc;
}

static void on_indexed(qn_op *op)
{
    reply_instrument(op);
}

static void on_created(qn_op *op)
{
    create_ctx *cc = op->ctx;
    const redisReply *r = op->reply;
    if (r->type != REDIS_REPLY_STRING) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "storing the instrument failed");
        return;
    }
    if (r->len != cc->len || memcmp(r->str, cc->packed, cc->len) != 0) {
        /* A repeat of the key: answer what the first call stored. */
        qn_instrument *stored;
        char where[128], why[256];
        if (qn_instrument_compile((const uint8_t *)r->str, r->len, &stored, where, sizeof(where),
                                  why, sizeof(why)) != BSL_OK) {
            qn_op_fail(op, BSL_STATUS_DATA_LOSS, "the stored instrument does not compile");
            return;
        }
        qn_instrument_unref(op->ins);
        op->ins = stored;
    }
    char key[QN_KEY_MAX], score[24];
    qn_key_org_instruments(key, op->ins->def->organisation_id);
    snprintf(score, sizeof(score), "%lld",
             (long long)bsl_pb_timestamp_ms(op->ins->def->create_time));
    QN_CMD(op, on_indexed, "indexing the instrument", "ZADD", key, "NX", score, cc->id);
}

static void summary_args(qn_op *op, const Boussole__V1__Instrument *d, char **purpose, char **items)
{
    *purpose = bsl_arena_printf(op->arena, "%d", (int)d->purpose);
    *items = bsl_arena_printf(op->arena, "%zu", d->n_items);
}

QN_HANDLER(qn_create_instrument, Boussole__V1__CreateInstrumentRequest, Boussole__V1__Instrument)
{
    (void)closure;
    bsl_call *call = closure_data;
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    if (!staff(c)) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "instruments are written by counselors and admins of an organisation");
        return;
    }
    if (in->instrument == NULL) {
        bsl_call_fail_field(call, "instrument", "required");
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op == NULL) {
        return;
    }
    char id[BSL_ID_LEN + 1];
    bsl_id_derive(id, "instrument", c->subject, bsl_call_idempotency_key(call));
    create_ctx *cc = prepare(op, in->instrument, id, 1);
    if (cc == NULL) {
        return;
    }
    op->ctx = cc;
    char kh[QN_KEY_MAX], kv[QN_KEY_MAX], now[24], *purpose, *items;
    qn_key_instrument(kh, id);
    qn_key_instrument_version(kv, id, 1);
    snprintf(now, sizeof(now), "%lld", (long long)bsl_clock_now_ms(op->app->clock));
    const Boussole__V1__Instrument *d = op->ins->def;
    summary_args(op, d, &purpose, &items);
    if (purpose == NULL || items == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    const char *argv[] = { kh,
                           kv,
                           (const char *)cc->packed,
                           c->organisation,
                           c->subject,
                           now,
                           d->title,
                           purpose,
                           d->language,
                           d->description,
                           items };
    size_t lens[11];
    for (int i = 0; i < 11; i++) {
        lens[i] = i == 2 ? cc->len : strlen(argv[i]);
    }
    qn_op_eval(op, op->app->create_instrument, on_created, "storing the instrument", 2, 11, argv,
               lens);
}

typedef struct version_ctx {
    create_ctx *cc;
} version_ctx;

static void on_versioned(qn_op *op)
{
    const redisReply *r = op->reply;
    if (bsl_redis_is_error(r)) {
        if (strstr(r->str, "ABORTED") != NULL) {
            qn_op_fail(op, BSL_STATUS_ABORTED,
                       "another version was created meanwhile: read the instrument again");
        } else {
            qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such instrument");
        }
        return;
    }
    reply_instrument(op);
}

static void on_version_hash(qn_op *op)
{
    const redisReply *h = op->reply;
    const Boussole__V1__CreateInstrumentVersionRequest *in =
        (const void *)bsl_call_request(op->call);
    const Boussole__V1__Caller *c = bsl_call_caller(op->call);
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0 || !staff(c) ||
        strcmp(c->organisation, qn_hash_str(h, "organisation")) != 0) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such instrument");
        return;
    }
    if (!may_manage(c, h)) {
        qn_op_fail(op, BSL_STATUS_PERMISSION_DENIED,
                   "only the instrument's author or an admin adds versions");
        return;
    }
    uint32_t latest = (uint32_t)qn_hash_num(h, "latest");
    if (in->expected_version != latest) {
        qn_op_fail(op, BSL_STATUS_ABORTED, "expected_version %u is not the latest (%u)",
                   in->expected_version, latest);
        return;
    }
    if (qn_hash_num(h, "status") == BOUSSOLE__V1__INSTRUMENT_STATUS__INSTRUMENT_STATUS_RETIRED) {
        qn_op_fail_precondition(op, "INSTRUMENT_RETIRED", in->instrument_id,
                                "a retired instrument gets no new version");
        return;
    }
    /* The author stays the instrument's: an admin's version keeps it. */
    create_ctx *cc = prepare(op, in->instrument, in->instrument_id, latest + 1);
    if (cc == NULL) {
        return;
    }
    op->ctx = cc;
    char kh[QN_KEY_MAX], kv[QN_KEY_MAX], expected[16], *purpose, *items;
    qn_key_instrument(kh, in->instrument_id);
    qn_key_instrument_version(kv, in->instrument_id, latest + 1);
    snprintf(expected, sizeof(expected), "%u", latest);
    const Boussole__V1__Instrument *d = op->ins->def;
    summary_args(op, d, &purpose, &items);
    if (purpose == NULL || items == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    const char *argv[] = { kh,       kv,      expected,    (const char *)cc->packed,
                           d->title, purpose, d->language, d->description,
                           items };
    size_t lens[9];
    for (int i = 0; i < 9; i++) {
        lens[i] = i == 3 ? cc->len : strlen(argv[i]);
    }
    qn_op_eval(op, op->app->create_version, on_versioned, "storing the version", 2, 9, argv, lens);
}

QN_HANDLER(qn_create_instrument_version, Boussole__V1__CreateInstrumentVersionRequest,
           Boussole__V1__Instrument)
{
    (void)closure;
    bsl_call *call = closure_data;
    qn_app *app = qn_of(service);
    bsl_check chk = bsl_check_begin(call);
    if (qn_catalog_is_builtin(app->catalog, in->instrument_id)) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED, "built-in instruments are read-only");
        return;
    }
    bsl_check_id(&chk, "instrument_id", in->instrument_id);
    bsl_check_range(&chk, "expected_version", in->expected_version, 1, 1000000);
    if (in->instrument == NULL) {
        bsl_check_violation(&chk, "instrument", "required");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(app, call);
    if (op == NULL) {
        return;
    }
    char key[QN_KEY_MAX];
    qn_key_instrument(key, in->instrument_id);
    QN_CMD(op, on_version_hash, "reading the instrument", "HGETALL", key);
}

/* ---- RetireInstrument --------------------------------------------------------------------- */

static void on_retired_loaded(qn_op *op)
{
    Boussole__V1__Instrument out = *op->ins->def;
    out.status = BOUSSOLE__V1__INSTRUMENT_STATUS__INSTRUMENT_STATUS_RETIRED;
    qn_op_reply(op, &out.base);
}

static void on_retired(qn_op *op)
{
    const Boussole__V1__RetireInstrumentRequest *in = (const void *)bsl_call_request(op->call);
    uint32_t *latest = op->ctx;
    qn_op_instrument(op, in->instrument_id, *latest, on_retired_loaded);
}

static void on_retire_hash(qn_op *op)
{
    const redisReply *h = op->reply;
    const Boussole__V1__RetireInstrumentRequest *in = (const void *)bsl_call_request(op->call);
    const Boussole__V1__Caller *c = bsl_call_caller(op->call);
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0 || !staff(c) ||
        strcmp(c->organisation, qn_hash_str(h, "organisation")) != 0) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such instrument");
        return;
    }
    if (!may_manage(c, h)) {
        qn_op_fail(op, BSL_STATUS_PERMISSION_DENIED,
                   "only the instrument's author or an admin retires it");
        return;
    }
    uint32_t *latest = bsl_arena_alloc(op->arena, sizeof(*latest));
    if (latest == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    *latest = (uint32_t)qn_hash_num(h, "latest");
    op->ctx = latest;
    char key[QN_KEY_MAX], status[8];
    qn_key_instrument(key, in->instrument_id);
    snprintf(status, sizeof(status), "%d",
             BOUSSOLE__V1__INSTRUMENT_STATUS__INSTRUMENT_STATUS_RETIRED);
    QN_CMD(op, on_retired, "retiring the instrument", "HSET", key, "status", status);
}

QN_HANDLER(qn_retire_instrument, Boussole__V1__RetireInstrumentRequest, Boussole__V1__Instrument)
{
    (void)closure;
    bsl_call *call = closure_data;
    qn_app *app = qn_of(service);
    if (qn_catalog_is_builtin(app->catalog, in->instrument_id)) {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED, "built-in instruments are read-only");
        return;
    }
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "instrument_id", in->instrument_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(app, call);
    if (op == NULL) {
        return;
    }
    char key[QN_KEY_MAX];
    qn_key_instrument(key, in->instrument_id);
    QN_CMD(op, on_retire_hash, "reading the instrument", "HGETALL", key);
}
