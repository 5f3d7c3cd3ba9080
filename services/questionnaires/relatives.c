/*
 * Relatives' feedback: invitations with single-use tokens, the form a relative answers
 * without an account, and the aggregate the beneficiary sees.
 *
 * A token is 256 random bits (64 hex digits) handed out once; only its SHA-256 is stored, in
 * the invitation and as the key of a pointer to it (qn:tok:{<hash>} -> "<bilan>:<invitation>"),
 * so a copy of the database gives nobody a working link. The invitation hash holds: status
 * (InvitationStatus), token (the hash), expire_ms, create_ms, answer_ms, instrument, version,
 * relative (sealed packed Relative), named (1 when the relative agreed to be named), digest
 * (SHA-256 of the submitted answers, to recognise a retry of the same submission).
 *
 * Anonymity: the beneficiary (and the counselor) see the answers only aggregated, and only
 * once QN_FEEDBACK_THRESHOLD answers are in, unless every respondent agreed to be named.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "keys.h"
#include "questionnaires.h"
#include "scoring.h"

#define QN_MAX_INVITATIONS    20
#define QN_FEEDBACK_THRESHOLD 3
#define QN_DEFAULT_FORM       "entourage"
#define QN_TOKEN_BYTES        32
#define QN_TOKEN_GRACE_MS     (30LL * 24 * 3600 * 1000) /* pointer outlives expiry: "expired" */

/* KEYS: invs zset, inv hash, meta hash. ARGV: id, now, limit, token hash, expire_ms,
 * instrument, version, sealed relative, beneficiary, organisation. */
static const char invite_script[] =
    "local fi = redis.call('HGET', KEYS[3], 'fb_instrument')\n"
    "if fi and (fi ~= ARGV[6] or redis.call('HGET', KEYS[3], 'fb_version') ~= ARGV[7]) then\n"
    "  return redis.error_reply('FORM ' .. fi)\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[2]) == 0 then\n"
    "  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then\n"
    "    return redis.error_reply('LIMIT')\n"
    "  end\n"
    "  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])\n"
    "  redis.call('HSET', KEYS[2], 'status', 1, 'create_ms', ARGV[2], 'instrument', ARGV[6],\n"
    "    'version', ARGV[7], 'named', 0)\n"
    "end\n"
    "if redis.call('HGET', KEYS[2], 'status') == '1' then\n"
    "  redis.call('HSET', KEYS[2], 'token', ARGV[4], 'expire_ms', ARGV[5], 'relative', ARGV[8])\n"
    "end\n"
    "redis.call('HSETNX', KEYS[3], 'fb_instrument', ARGV[6])\n"
    "redis.call('HSETNX', KEYS[3], 'fb_version', ARGV[7])\n"
    "redis.call('HSETNX', KEYS[3], 'beneficiary', ARGV[9])\n"
    "redis.call('HSETNX', KEYS[3], 'organisation', ARGV[10])\n"
    "return redis.call('HGETALL', KEYS[2])\n";

/* KEYS: invs zset. ARGV: key prefix "qn:{<bilan>}:". Every invitation: id, hash, answers. */
static const char read_script[] =
    "local out = {}\n"
    "for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do\n"
    "  out[#out + 1] = id\n"
    "  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. 'inv:' .. id)\n"
    "  out[#out + 1] = redis.call('GET', ARGV[1] .. 'fb:' .. id)\n"
    "end\n"
    "return out\n";

/* KEYS: inv hash, fb. Revoking withdraws the answer too. */
static const char revoke_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('NOT_FOUND') end\n"
    "redis.call('HSET', KEYS[1], 'status', 4)\n"
    "redis.call('DEL', KEYS[2])\n"
    "return redis.call('HGETALL', KEYS[1])\n";

/* KEYS: inv hash, fb. ARGV: token hash, now, digest, sealed answers, named. */
static const char consume_script[] =
    "local h = redis.call('HMGET', KEYS[1], 'token', 'status', 'expire_ms')\n"
    "if h[1] ~= ARGV[1] then return redis.error_reply('NOT_FOUND') end\n"
    "if h[2] == '4' then return redis.error_reply('REVOKED') end\n"
    "if h[2] ~= '1' then return redis.error_reply('USED') end\n"
    "if tonumber(h[3]) <= tonumber(ARGV[2]) then return redis.error_reply('EXPIRED') end\n"
    "redis.call('HSET', KEYS[1], 'status', 2, 'answer_ms', ARGV[2], 'digest', ARGV[3],\n"
    "  'named', ARGV[5])\n"
    "redis.call('SET', KEYS[2], ARGV[4])\n"
    "return 'OK'\n";

int qn_relatives_init(qn_app *app)
{
    int rv = bsl_redis_script_add(app->redis, invite_script, &app->invite);
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, read_script, &app->read_feedback);
    }
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, revoke_script, &app->revoke);
    }
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, consume_script, &app->consume_token);
    }
    return rv;
}

/* The status callers see: a pending invitation past its date is EXPIRED. */
static Boussole__V1__InvitationStatus shown_status(qn_op *op, const redisReply *h)
{
    int st = (int)qn_hash_num(h, "status");
    if (st == BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_PENDING &&
        qn_hash_num(h, "expire_ms") <= bsl_clock_now_ms(op->app->clock)) {
        return BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_EXPIRED;
    }
    return (Boussole__V1__InvitationStatus)st;
}

/* An Invitation from its hash (op->dek set to open the relative; NULL leaves it out). */
static Boussole__V1__Invitation *invitation_from_hash(qn_op *op, const char *bilan, const char *id,
                                                      const redisReply *h)
{
    bsl_arena *a = op->arena;
    Boussole__V1__Invitation *inv = bsl_arena_alloc(a, sizeof(*inv));
    if (inv == NULL) {
        return NULL;
    }
    boussole__v1__invitation__init(inv);
    inv->id = bsl_arena_strdup(a, id);
    inv->bilan_id = (char *)bilan;
    inv->status = shown_status(op, h);
    inv->instrument_id = bsl_arena_strdup(a, qn_hash_str(h, "instrument"));
    inv->instrument_version = (uint32_t)qn_hash_num(h, "version");
    inv->create_time = bsl_pb_timestamp(a, qn_hash_num(h, "create_ms"));
    inv->expire_time = bsl_pb_timestamp(a, qn_hash_num(h, "expire_ms"));
    if (qn_hash_num(h, "answer_ms") > 0) {
        inv->answer_time = bsl_pb_timestamp(a, qn_hash_num(h, "answer_ms"));
    }
    const redisReply *rel = qn_hash_get(h, "relative");
    if (op->dek != NULL && rel != NULL && rel->type == REDIS_REPLY_STRING) {
        inv->relative = (Boussole__V1__Relative *)qn_open_msg(
            op, qn_ad(op, bilan, "relative", id, NULL), &boussole__v1__relative__descriptor,
            rel->str, rel->len);
    }
    if (inv->id == NULL || inv->instrument_id == NULL || inv->create_time == NULL ||
        inv->expire_time == NULL) {
        return NULL;
    }
    return inv;
}

/* ---- InviteRelative ------------------------------------------------------------------------ */

typedef struct invite_ctx {
    char id[BSL_ID_LEN + 1];
    char token[2 * QN_TOKEN_BYTES + 1];
    char hash[65];
    long long now, expire;
    Boussole__V1__Invitation *invitation;
    const char *argv[13]; /* the invite script's keys and arguments */
    size_t lens[13];
} invite_ctx;

static void on_invite_indexed(qn_op *op)
{
    invite_ctx *ic = op->ctx;
    Boussole__V1__InviteRelativeResponse out = BOUSSOLE__V1__INVITE_RELATIVE_RESPONSE__INIT;
    /* The token leaves the arena before the answer, and the stack copy is wiped after it. */
    char token[sizeof(ic->token)];
    memcpy(token, ic->token, sizeof(token));
    sodium_memzero(ic->token, sizeof(ic->token));
    out.invitation = ic->invitation;
    out.token = token;
    qn_op_reply(op, &out.base);
    sodium_memzero(token, sizeof(token));
}

static void on_invited(qn_op *op)
{
    invite_ctx *ic = op->ctx;
    const redisReply *r = op->reply;
    const Boussole__V1__InviteRelativeRequest *in = (const void *)bsl_call_request(op->call);
    if (bsl_redis_is_error(r)) {
        if (strncmp(r->str, "FORM", 4) == 0) {
            qn_op_fail_precondition(op, "FEEDBACK_FORM_FIXED", op->access.bilan_id,
                                    "every invitation of a bilan uses the same form (%.60s)",
                                    r->str + 4);
        } else {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "at most %d invitations per bilan",
                       QN_MAX_INVITATIONS);
        }
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY ||
        qn_hash_num(r, "status") != BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_PENDING ||
        strcmp(qn_hash_str(r, "token"), ic->hash) != 0) {
        /* A repeat of an invitation that has since been answered or revoked. */
        qn_op_fail_precondition(op, "INVITATION_CLOSED", ic->id,
                                "this invitation is no longer pending");
        return;
    }
    ic->invitation = invitation_from_hash(op, op->access.bilan_id, ic->id, r);
    if (ic->invitation == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    ic->invitation->relative = in->relative;
    char key[QN_KEY_MAX];
    qn_key_beneficiary(key, op->access.beneficiary);
    QN_CMD(op, on_invite_indexed, "indexing the invitation", "SADD", key, op->access.bilan_id);
}

static void on_pointer(qn_op *op)
{
    invite_ctx *ic = op->ctx;
    if (op->reply->type == REDIS_REPLY_ERROR) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "storing the invitation failed");
        return;
    }
    /* The sealed relative was made under the key in the previous step; it waits in ctx. */
    qn_op_eval(op, op->app->invite, on_invited, "storing the invitation", 3, 13, ic->argv,
               ic->lens);
}

static void on_invite_dek(qn_op *op)
{
    invite_ctx *ic = op->ctx;
    const Boussole__V1__InviteRelativeRequest *in = (const void *)bsl_call_request(op->call);
    const char *bilan = op->access.bilan_id;
    size_t slen;
    uint8_t *sealed =
        qn_seal_msg(op, qn_ad(op, bilan, "relative", ic->id, NULL), &in->relative->base, &slen);
    char *k[3];
    for (int i = 0; i < 3; i++) {
        k[i] = bsl_arena_alloc(op->arena, QN_KEY_MAX);
    }
    char *now = bsl_arena_printf(op->arena, "%lld", ic->now);
    char *limit = bsl_arena_printf(op->arena, "%d", QN_MAX_INVITATIONS);
    char *expire = bsl_arena_printf(op->arena, "%lld", ic->expire);
    char *version = bsl_arena_printf(op->arena, "%u", op->ins->def->version);
    char *pointer = bsl_arena_printf(op->arena, "%s:%s", bilan, ic->id);
    char *ttl = bsl_arena_printf(op->arena, "%lld", ic->expire - ic->now + QN_TOKEN_GRACE_MS);
    if (sealed == NULL || !k[0] || !k[1] || !k[2] || !now || !limit || !expire || !version ||
        !pointer || !ttl) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_key_bilan(k[0], bilan, "invs");
    qn_key_bilan_sub(k[1], bilan, "inv", ic->id);
    qn_key_bilan(k[2], bilan, "meta");
    const char *args[13] = { k[0],
                             k[1],
                             k[2],
                             ic->id,
                             now,
                             limit,
                             ic->hash,
                             expire,
                             op->ins->def->id,
                             version,
                             (const char *)sealed,
                             op->access.beneficiary,
                             op->access.organisation };
    for (int i = 0; i < 13; i++) {
        ic->argv[i] = args[i];
        ic->lens[i] = i == 10 ? slen : strlen(args[i]);
    }
    /* The pointer first: if the invitation then fails to be stored, the token leads nowhere
     * (NOT_FOUND), which is what an unknown token gets anyway. */
    char tk[QN_KEY_MAX];
    qn_key_token(tk, ic->hash);
    QN_CMD(op, on_pointer, "storing the invitation", "SET", tk, pointer, "PX", ttl);
}

static void on_invite_instrument(qn_op *op)
{
    const Boussole__V1__InstrumentPurpose want =
        BOUSSOLE__V1__INSTRUMENT_PURPOSE__INSTRUMENT_PURPOSE_RELATIVES_FEEDBACK;
    const Boussole__V1__Instrument *d = op->ins->def;
    if (d->purpose != want) {
        qn_op_fail_field(op, "instrument_id", "not a relatives' feedback form");
        return;
    }
    if (!d->builtin && strcmp(d->organisation_id, op->access.organisation) != 0) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such instrument");
        return;
    }
    qn_op_dek(op, op->access.bilan_id, true, on_invite_dek);
}

/* The bilan's form: the one its first invitation fixed, else the one asked for, else the
 * built-in "entourage" at its latest version. */
static void on_invite_meta(qn_op *op)
{
    const Boussole__V1__InviteRelativeRequest *in = (const void *)bsl_call_request(op->call);
    const redisReply *r = op->reply;
    const char *fixed = NULL;
    uint32_t version = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
        fixed = bsl_arena_strdup(op->arena, r->element[0]->str);
        version = (uint32_t)strtoul(r->element[1]->str, NULL, 10);
    }
    const char *form = in->instrument_id[0] ? in->instrument_id : QN_DEFAULT_FORM;
    if (fixed != NULL && (in->instrument_id[0] == '\0' || strcmp(fixed, form) == 0)) {
        qn_op_instrument(op, fixed, version, on_invite_instrument);
        return;
    }
    /* A different form than the bilan's: the invite script refuses it (FEEDBACK_FORM_FIXED). */
    qn_op_instrument(op, form, 0, on_invite_instrument);
}

static void on_invite_access(qn_op *op)
{
    if (op->access.status != BOUSSOLE__V1__BILAN_STATUS__BILAN_STATUS_ACTIVE) {
        qn_op_fail_precondition(op, "BILAN_NOT_RUNNING", op->access.bilan_id,
                                "relatives are invited while the bilan runs");
        return;
    }
    char meta[QN_KEY_MAX];
    qn_key_bilan(meta, op->access.bilan_id, "meta");
    QN_CMD(op, on_invite_meta, "reading the bilan's form", "HMGET", meta, "fb_instrument",
           "fb_version");
}

QN_HANDLER(qn_invite_relative, Boussole__V1__InviteRelativeRequest,
           Boussole__V1__InviteRelativeResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (in->relative == NULL) {
        bsl_check_violation(&chk, "relative", "required");
    } else {
        bsl_check_text(&chk, "relative.name", in->relative->name, 1, 200);
        bsl_check_text(&chk, "relative.relation", in->relative->relation, 1, 100);
        bsl_check_text(&chk, "relative.contact", in->relative->contact, 1, 254);
    }
    bsl_check_range(&chk, "expires_in_days", in->expires_in_days, 0, 60);
    bsl_check_text(&chk, "instrument_id", in->instrument_id, 0, QN_MAX_ID);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    invite_ctx *ic = op ? bsl_arena_calloc(op->arena, 1, sizeof(*ic)) : NULL;
    if (ic == NULL) {
        if (op != NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    bsl_id_derive(ic->id, "invitation", c->subject, bsl_call_idempotency_key(call));
    bsl_hex_random(ic->token, QN_TOKEN_BYTES);
    bsl_sha256_hex(ic->hash, ic->token, strlen(ic->token));
    ic->now = (long long)bsl_clock_now_ms(op->app->clock);
    ic->expire = ic->now + (long long)(in->expires_in_days ? in->expires_in_days : 14) * 86400000LL;
    op->ctx = ic;
    qn_op_access(op, in->bilan_id, QN_INVITE, on_invite_access);
}

/* ---- reading a bilan's invitations ------------------------------------------------------- */

/*
 * Opens every invitation and answer of a read_script answer (op->dek set, or NULL when the
 * bilan never had a key). Fails the call and returns false when something does not open.
 */
bool qn_feedback_open(qn_op *op, const char *bilan, const redisReply *r, qn_feedback *fc)
{
    size_t n = r->elements / 3;
    fc->invitations = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(*fc->invitations));
    fc->responses = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(*fc->responses));
    if (fc->invitations == NULL || fc->responses == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return false;
    }
    fc->all_named = true;
    for (size_t i = 0; i < n; i++) {
        const redisReply *id = r->element[3 * i], *h = r->element[3 * i + 1];
        const redisReply *fb = r->element[3 * i + 2];
        if (id->type != REDIS_REPLY_STRING || h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
            continue;
        }
        Boussole__V1__Invitation *inv = invitation_from_hash(op, bilan, id->str, h);
        if (inv == NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return false;
        }
        if (inv->relative == NULL && op->dek != NULL) {
            qn_op_fail(op, BSL_STATUS_DATA_LOSS, "a stored invitation does not open");
            return false;
        }
        fc->invitations[fc->n++] = inv;
        if (fb->type != REDIS_REPLY_STRING ||
            inv->status != BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_ANSWERED) {
            continue;
        }
        Boussole__V1__NamedResponse *resp = (Boussole__V1__NamedResponse *)qn_open_msg(
            op, qn_ad(op, bilan, "feedback", id->str, NULL),
            &boussole__v1__named_response__descriptor, fb->str, fb->len);
        if (resp == NULL) {
            qn_op_fail(op, BSL_STATUS_DATA_LOSS, "a relative's answers do not open");
            return false;
        }
        if (qn_hash_num(h, "named") == 1 && inv->relative != NULL) {
            resp->name = inv->relative->name;
            resp->relation = inv->relative->relation;
        } else {
            fc->all_named = false;
        }
        fc->responses[fc->n_responses++] = resp;
    }
    return true;
}

void qn_feedback_read(qn_op *op, const char *bilan, qn_step next)
{
    char invs[QN_KEY_MAX], prefix[QN_KEY_MAX];
    qn_key_bilan(invs, bilan, "invs");
    snprintf(prefix, sizeof(prefix), "qn:{%s}:", bilan);
    const char *argv[] = { invs, prefix };
    qn_op_eval(op, op->app->read_feedback, next, "reading the invitations", 1, 2, argv, NULL);
}

/* Keeps the read_script answer and gets the data key. */
static void keep_feedback(qn_op *op, qn_step next)
{
    qn_feedback *fc = op->ctx;
    const redisReply *r = op->reply;
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 3 != 0) {
        qn_op_fail(op, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    if ((fc->stored = qn_reply_copy(op->arena, r)) == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_dek(op, op->access.bilan_id, false, next);
}

static qn_feedback *feedback_new(qn_op *op)
{
    qn_feedback *fc = bsl_arena_calloc(op->arena, 1, sizeof(*fc));
    if (fc == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    }
    op->ctx = fc;
    return fc;
}

/* ---- ListInvitations ---------------------------------------------------------------------- */

static void on_list_dek(qn_op *op)
{
    qn_feedback *fc = op->ctx;
    if (!qn_feedback_open(op, op->access.bilan_id, fc->stored, fc)) {
        return;
    }
    Boussole__V1__ListInvitationsResponse out = BOUSSOLE__V1__LIST_INVITATIONS_RESPONSE__INIT;
    out.invitations = fc->invitations;
    out.n_invitations = fc->n;
    qn_op_reply(op, &out.base);
}

static void on_list_read(qn_op *op)
{
    keep_feedback(op, on_list_dek);
}

static void on_list_access(qn_op *op)
{
    qn_feedback_read(op, op->access.bilan_id, on_list_read);
}

QN_HANDLER(qn_list_invitations, Boussole__V1__ListInvitationsRequest,
           Boussole__V1__ListInvitationsResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op != NULL && feedback_new(op) != NULL) {
        qn_op_access(op, in->bilan_id, QN_READ_FEEDBACK, on_list_access);
    }
}

/* ---- RevokeInvitation ------------------------------------------------------------------------ */

static void on_revoke_dek(qn_op *op)
{
    qn_feedback *fc = op->ctx;
    const Boussole__V1__RevokeInvitationRequest *in = (const void *)bsl_call_request(op->call);
    Boussole__V1__Invitation *inv =
        invitation_from_hash(op, in->bilan_id, in->invitation_id, fc->stored);
    if (inv == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_reply(op, &inv->base);
}

static void on_revoked(qn_op *op)
{
    qn_feedback *fc = op->ctx;
    const redisReply *r = op->reply;
    if (bsl_redis_is_error(r) || r->type != REDIS_REPLY_ARRAY) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such invitation");
        return;
    }
    if ((fc->stored = qn_reply_copy(op->arena, r)) == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_dek(op, op->access.bilan_id, false, on_revoke_dek);
}

static void on_revoke_access(qn_op *op)
{
    const Boussole__V1__RevokeInvitationRequest *in = (const void *)bsl_call_request(op->call);
    char inv[QN_KEY_MAX], fb[QN_KEY_MAX];
    qn_key_bilan_sub(inv, in->bilan_id, "inv", in->invitation_id);
    qn_key_bilan_sub(fb, in->bilan_id, "fb", in->invitation_id);
    const char *argv[] = { inv, fb };
    qn_op_eval(op, op->app->revoke, on_revoked, "revoking the invitation", 2, 2, argv, NULL);
}

QN_HANDLER(qn_revoke_invitation, Boussole__V1__RevokeInvitationRequest, Boussole__V1__Invitation)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_id(&chk, "invitation_id", in->invitation_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op != NULL && feedback_new(op) != NULL) {
        qn_op_access(op, in->bilan_id, QN_INVITE, on_revoke_access);
    }
}

/* ---- the token's side: GetFeedbackForm and SubmitFeedback ---------------------------------- */

typedef struct token_ctx {
    char hash[65];
    char bilan[BSL_ID_LEN + 1];
    char inv[BSL_ID_LEN + 1];
    redisReply *invitation; /* its hash */
    bool used;              /* answered already (SubmitFeedback may be a retry) */
    char digest[65];
    qn_step next;
} token_ctx;

static bool token_valid(const char *t)
{
    if (strlen(t) != 2 * QN_TOKEN_BYTES) {
        return false;
    }
    for (; *t != '\0'; t++) {
        if (!((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'f'))) {
            return false;
        }
    }
    return true;
}

static void on_token_invitation(qn_op *op)
{
    token_ctx *tc = op->ctx;
    const redisReply *h = op->reply;
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0 ||
        strcmp(qn_hash_str(h, "token"), tc->hash) != 0) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such invitation");
        return;
    }
    int st = (int)qn_hash_num(h, "status");
    if (st == BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_REVOKED) {
        qn_op_fail_precondition(op, "INVITATION_REVOKED", "token", "the invitation was withdrawn");
        return;
    }
    if (st == BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_ANSWERED) {
        tc->used = true;
        snprintf(tc->digest, sizeof(tc->digest), "%s", qn_hash_str(h, "digest"));
    } else if (qn_hash_num(h, "expire_ms") <= bsl_clock_now_ms(op->app->clock)) {
        qn_op_fail_precondition(op, "INVITATION_EXPIRED", "token",
                                "the invitation has expired: ask for a new one");
        return;
    }
    if ((tc->invitation = qn_reply_copy(op->arena, h)) == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    snprintf(op->access.bilan_id, sizeof(op->access.bilan_id), "%s", tc->bilan);
    char *ins = bsl_arena_strdup(op->arena, qn_hash_str(h, "instrument"));
    if (ins == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_instrument(op, ins, (uint32_t)qn_hash_num(h, "version"), tc->next);
}

static void on_token_pointer(qn_op *op)
{
    token_ctx *tc = op->ctx;
    const redisReply *r = op->reply;
    const char *colon = r->type == REDIS_REPLY_STRING ? strchr(r->str, ':') : NULL;
    if (colon == NULL || colon - r->str != BSL_ID_LEN) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such invitation");
        return;
    }
    memcpy(tc->bilan, r->str, BSL_ID_LEN);
    tc->bilan[BSL_ID_LEN] = '\0';
    snprintf(tc->inv, sizeof(tc->inv), "%s", colon + 1);
    if (!bsl_id_valid(tc->bilan) || !bsl_id_valid(tc->inv)) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such invitation");
        return;
    }
    char key[QN_KEY_MAX];
    qn_key_bilan_sub(key, tc->bilan, "inv", tc->inv);
    QN_CMD(op, on_token_invitation, "reading the invitation", "HGETALL", key);
}

/* Resolves a token to its invitation and form; `next` runs with ctx->invitation, op->ins. */
static void resolve_token(qn_op *op, const char *token, qn_step next)
{
    token_ctx *tc = bsl_arena_calloc(op->arena, 1, sizeof(*tc));
    if (tc == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    op->ctx = tc;
    tc->next = next;
    bsl_sha256_hex(tc->hash, token, strlen(token));
    char key[QN_KEY_MAX];
    qn_key_token(key, tc->hash);
    QN_CMD(op, on_token_pointer, "looking the invitation up", "GET", key);
}

static void on_form_dek(qn_op *op)
{
    token_ctx *tc = op->ctx;
    Boussole__V1__Invitation *inv = invitation_from_hash(op, tc->bilan, tc->inv, tc->invitation);
    if (inv == NULL || inv->relative == NULL) {
        qn_op_fail(op, inv ? BSL_STATUS_DATA_LOSS : BSL_STATUS_RESOURCE_EXHAUSTED,
                   "the invitation cannot be read");
        return;
    }
    Boussole__V1__FeedbackForm out = BOUSSOLE__V1__FEEDBACK_FORM__INIT;
    Boussole__V1__Instrument ins = *op->ins->def;
    out.instrument = &ins;
    out.relation = inv->relative->relation;
    out.expire_time = inv->expire_time;
    qn_op_reply(op, &out.base);
}

static void on_form(qn_op *op)
{
    token_ctx *tc = op->ctx;
    if (tc->used) {
        qn_op_fail_precondition(op, "INVITATION_USED", "token",
                                "this invitation has been answered already");
        return;
    }
    qn_op_dek(op, tc->bilan, false, on_form_dek);
}

QN_HANDLER(qn_get_feedback_form, Boussole__V1__GetFeedbackFormRequest, Boussole__V1__FeedbackForm)
{
    (void)closure;
    bsl_call *call = closure_data;
    if (!token_valid(in->token)) {
        bsl_call_fail_field(call, "token", "must be the 64 hex digits of an invitation");
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op != NULL) {
        resolve_token(op, in->token, on_form);
    }
}

/* The digest of a submission: what a retry must repeat exactly to be recognised. */
static bool submission_digest(qn_op *op, const Boussole__V1__SubmitFeedbackRequest *in,
                              char out[65])
{
    Boussole__V1__NamedResponse r = BOUSSOLE__V1__NAMED_RESPONSE__INIT;
    r.answers = in->answers;
    r.n_answers = in->n_answers;
    r.relation = in->agree_to_be_named ? "named" : "anonymous";
    size_t len = boussole__v1__named_response__get_packed_size(&r);
    uint8_t *buf = bsl_arena_alloc(op->arena, len ? len : 1);
    if (buf == NULL) {
        return false;
    }
    boussole__v1__named_response__pack(&r, buf);
    bsl_sha256_hex(out, buf, len);
    return true;
}

static void on_feedback_stored(qn_op *op)
{
    const redisReply *r = op->reply;
    if (bsl_redis_is_error(r)) {
        static const struct {
            const char *err, *type, *why;
        } map[] = {
            { "REVOKED", "INVITATION_REVOKED", "the invitation was withdrawn" },
            { "USED", "INVITATION_USED", "this invitation has been answered already" },
            { "EXPIRED", "INVITATION_EXPIRED", "the invitation has expired: ask for a new one" },
        };
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
            if (strncmp(r->str, map[i].err, strlen(map[i].err)) == 0) {
                qn_op_fail_precondition(op, map[i].type, "token", "%s", map[i].why);
                return;
            }
        }
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such invitation");
        return;
    }
    Boussole__V1__SubmitFeedbackResponse out = BOUSSOLE__V1__SUBMIT_FEEDBACK_RESPONSE__INIT;
    out.answer_time = bsl_pb_timestamp(op->arena, bsl_clock_now_ms(op->app->clock));
    qn_op_reply(op, &out.base);
}

static void on_feedback_dek(qn_op *op)
{
    token_ctx *tc = op->ctx;
    const Boussole__V1__SubmitFeedbackRequest *in = (const void *)bsl_call_request(op->call);
    if (op->dek == NULL) {
        qn_op_fail(op, BSL_STATUS_NOT_FOUND, "no such invitation");
        return;
    }
    long long now = (long long)bsl_clock_now_ms(op->app->clock);
    Google__Protobuf__Timestamp *ts = bsl_pb_timestamp(op->arena, now);
    Boussole__V1__NamedResponse resp = BOUSSOLE__V1__NAMED_RESPONSE__INIT;
    resp.answers =
        bsl_arena_calloc(op->arena, in->n_answers ? in->n_answers : 1, sizeof(*resp.answers));
    if (ts == NULL || resp.answers == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < in->n_answers; i++) {
        Boussole__V1__Answer *a = bsl_arena_alloc(op->arena, sizeof(*a));
        if (a == NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        *a = *in->answers[i];
        a->update_time = ts;
        resp.answers[resp.n_answers++] = a;
    }
    size_t slen;
    uint8_t *sealed =
        qn_seal_msg(op, qn_ad(op, tc->bilan, "feedback", tc->inv, NULL), &resp.base, &slen);
    char inv[QN_KEY_MAX], fb[QN_KEY_MAX], now_s[24];
    if (sealed == NULL) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_key_bilan_sub(inv, tc->bilan, "inv", tc->inv);
    qn_key_bilan_sub(fb, tc->bilan, "fb", tc->inv);
    snprintf(now_s, sizeof(now_s), "%lld", now);
    const char *named = in->agree_to_be_named ? "1" : "0";
    const char *argv[] = { inv, fb, tc->hash, now_s, tc->digest, (const char *)sealed, named };
    size_t lens[] = { strlen(inv), strlen(fb), 64, strlen(now_s), 64, slen, 1 };
    qn_op_eval(op, op->app->consume_token, on_feedback_stored, "storing the answers", 2, 7, argv,
               lens);
}

static void on_feedback_form(qn_op *op)
{
    token_ctx *tc = op->ctx;
    const Boussole__V1__SubmitFeedbackRequest *in = (const void *)bsl_call_request(op->call);
    char digest[65];
    if (!submission_digest(op, in, digest)) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (tc->used) {
        if (strcmp(digest, tc->digest) == 0) {
            /* The same submission again (its answer was lost on the way): done already. */
            Boussole__V1__SubmitFeedbackResponse out = BOUSSOLE__V1__SUBMIT_FEEDBACK_RESPONSE__INIT;
            out.answer_time = bsl_pb_timestamp(op->arena, qn_hash_num(tc->invitation, "answer_ms"));
            qn_op_reply(op, &out.base);
            return;
        }
        qn_op_fail_precondition(op, "INVITATION_USED", "token",
                                "this invitation has been answered already");
        return;
    }
    if (!qn_check_answers(op, op->ins, in->answers, in->n_answers, "answers")) {
        return;
    }
    /* Every required item: a relative answers once, so there is no draft to complete later. */
    uint8_t answered[QN_MAX_ITEMS] = { 0 };
    for (size_t i = 0; i < in->n_answers; i++) {
        answered[qn_instrument_item(op->ins, in->answers[i]->item_id)] = 1;
    }
    for (size_t i = 0; i < op->ins->n_items; i++) {
        if (op->ins->items[i].def->required && !answered[i]) {
            qn_op_fail_precondition(op, "ITEM_UNANSWERED", op->ins->items[i].def->id,
                                    "a required item has no answer");
            return;
        }
    }
    snprintf(tc->digest, sizeof(tc->digest), "%s", digest);
    qn_op_dek(op, tc->bilan, false, on_feedback_dek);
}

QN_HANDLER(qn_submit_feedback, Boussole__V1__SubmitFeedbackRequest,
           Boussole__V1__SubmitFeedbackResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    if (!token_valid(in->token)) {
        bsl_call_fail_field(call, "token", "must be the 64 hex digits of an invitation");
        return;
    }
    bsl_check chk = bsl_check_begin(call);
    bsl_check_count(&chk, "answers", in->n_answers, QN_MAX_ITEMS);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    if (op != NULL) {
        resolve_token(op, in->token, on_feedback_form);
    }
}

/* ---- GetFeedbackSummary ------------------------------------------------------------------- */

static int cmp_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int choice_of(const Boussole__V1__Item *it, const char *value)
{
    for (size_t c = 0; c < it->n_choices; c++) {
        if (strcmp(it->choices[c]->value, value) == 0) {
            return (int)c;
        }
    }
    return -1;
}

/* Aggregates the responses item by item and scale by scale into out. */
bool qn_feedback_aggregate(qn_op *op, const qn_instrument *ins, const qn_feedback *fb,
                           Boussole__V1__FeedbackSummary *out)
{
    Boussole__V1__NamedResponse **resp = fb->responses;
    size_t n = fb->n_responses;
    bsl_arena *a = op->arena;
    size_t ni = ins->n_items, ns = ins->def->n_scales;
    const Boussole__V1__Answer **by_item = bsl_arena_calloc(a, ni * (n ? n : 1), sizeof(void *));
    double *scale_sum = bsl_arena_calloc(a, ns ? ns : 1, sizeof(double));
    unsigned *scale_n = bsl_arena_calloc(a, ns ? ns : 1, sizeof(unsigned));
    out->items = bsl_arena_calloc(a, ni, sizeof(*out->items));
    out->scales = bsl_arena_calloc(a, ns ? ns : 1, sizeof(*out->scales));
    if (by_item == NULL || scale_sum == NULL || scale_n == NULL || out->items == NULL ||
        out->scales == NULL) {
        return false;
    }
    for (size_t r = 0; r < n; r++) {
        const Boussole__V1__Answer **row = by_item + r * ni;
        for (size_t k = 0; k < resp[r]->n_answers; k++) {
            int idx = qn_instrument_item(ins, resp[r]->answers[k]->item_id);
            if (idx >= 0) {
                row[idx] = resp[r]->answers[k];
            }
        }
        qn_results scored;
        qn_score(ins, row, &scored);
        for (size_t s = 0; s < ns; s++) {
            if (scored.scales[s].answered > 0) {
                scale_sum[s] += scored.scales[s].normalised;
                scale_n[s]++;
            }
        }
    }
    for (size_t s = 0; s < ns; s++) {
        Boussole__V1__ScaleScore *sc = bsl_arena_alloc(a, sizeof(*sc));
        if (sc == NULL) {
            return false;
        }
        boussole__v1__scale_score__init(sc);
        const Boussole__V1__Scale *def = ins->def->scales[s];
        sc->scale_id = def->id;
        sc->name = def->name;
        sc->normalised = scale_n[s] ? round(scale_sum[s] / scale_n[s] * 1e4) / 1e4 : 0;
        sc->answered_items = scale_n[s];
        sc->min = 0;
        sc->max = 100;
        sc->interpretation = (char *)qn_interpretation(def, sc->normalised);
        out->scales[out->n_scales++] = sc;
    }
    for (size_t i = 0; i < ni; i++) {
        const Boussole__V1__Item *it = ins->items[i].def;
        Boussole__V1__ItemSummary *is = bsl_arena_alloc(a, sizeof(*is));
        if (is == NULL) {
            return false;
        }
        boussole__v1__item_summary__init(is);
        is->item_id = it->id;
        is->text = it->text;
        uint32_t counts[QN_MAX_CHOICES] = { 0 };
        double sum = 0;
        is->texts = bsl_arena_calloc(a, n ? n : 1, sizeof(char *));
        if (is->texts == NULL) {
            return false;
        }
        for (size_t r = 0; r < n; r++) {
            const Boussole__V1__Answer *ans = by_item[r * ni + i];
            if (ans == NULL) {
                continue;
            }
            is->answered++;
            switch (ans->value_case) {
            case BOUSSOLE__V1__ANSWER__VALUE_LIKERT:
                sum += ans->likert;
                break;
            case BOUSSOLE__V1__ANSWER__VALUE_NUMBER:
                sum += ans->number;
                break;
            case BOUSSOLE__V1__ANSWER__VALUE_CHOICE: {
                int c = choice_of(it, ans->choice);
                counts[c >= 0 ? c : 0] += c >= 0;
                break;
            }
            case BOUSSOLE__V1__ANSWER__VALUE_CHOICES:
                for (size_t k = 0; ans->choices != NULL && k < ans->choices->n_values; k++) {
                    int c = choice_of(it, ans->choices->values[k]);
                    counts[c >= 0 ? c : 0] += c >= 0;
                }
                break;
            case BOUSSOLE__V1__ANSWER__VALUE_RANKING:
                /* How often each choice was put first. */
                if (ans->ranking != NULL && ans->ranking->n_values > 0) {
                    int c = choice_of(it, ans->ranking->values[0]);
                    counts[c >= 0 ? c : 0] += c >= 0;
                }
                break;
            case BOUSSOLE__V1__ANSWER__VALUE_TEXT:
                is->texts[is->n_texts++] = ans->text;
                break;
            default:
                break;
            }
        }
        if (it->kind == BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_LIKERT ||
            it->kind == BOUSSOLE__V1__ITEM_KIND__ITEM_KIND_NUMERIC) {
            is->mean = is->answered ? round(sum / is->answered * 1e4) / 1e4 : 0;
        }
        if (it->n_choices > 0) {
            is->choices = bsl_arena_calloc(a, it->n_choices, sizeof(*is->choices));
            if (is->choices == NULL) {
                return false;
            }
            for (size_t c = 0; c < it->n_choices; c++) {
                Boussole__V1__ChoiceCount *cc = bsl_arena_alloc(a, sizeof(*cc));
                if (cc == NULL) {
                    return false;
                }
                boussole__v1__choice_count__init(cc);
                cc->value = it->choices[c]->value;
                cc->label = it->choices[c]->label;
                cc->count = counts[c];
                is->choices[is->n_choices++] = cc;
            }
        }
        /* Alphabetical: the order of arrival would tell who wrote what. */
        qsort(is->texts, is->n_texts, sizeof(char *), cmp_text);
        out->items[out->n_items++] = is;
    }
    return true;
}

const Boussole__V1__Invitation *qn_feedback_summary_init(qn_op *op, const char *bilan,
                                                         const qn_feedback *fc,
                                                         Boussole__V1__FeedbackSummary *out)
{
    boussole__v1__feedback_summary__init(out);
    out->bilan_id = (char *)bilan;
    out->respondents = (uint32_t)fc->n_responses;
    bool visible =
        fc->n_responses >= QN_FEEDBACK_THRESHOLD || (fc->n_responses > 0 && fc->all_named);
    out->visible = visible;
    out->answers_needed = visible ? 0 : (uint32_t)(QN_FEEDBACK_THRESHOLD - fc->n_responses);
    if (!visible) {
        return NULL;
    }
    if (fc->all_named) {
        out->named = fc->responses;
        out->n_named = fc->n_responses;
    }
    (void)op;
    /* Every invitation of a bilan uses the same form (InviteRelative enforces it). */
    for (size_t i = 0; i < fc->n; i++) {
        if (fc->invitations[i]->status ==
            BOUSSOLE__V1__INVITATION_STATUS__INVITATION_STATUS_ANSWERED) {
            return fc->invitations[i];
        }
    }
    return NULL;
}

typedef struct summary_ctx {
    qn_feedback fc; /* first */
    Boussole__V1__FeedbackSummary out;
} summary_ctx;

static void on_summary_instrument(qn_op *op)
{
    summary_ctx *sc = op->ctx;
    if (!qn_feedback_aggregate(op, op->ins, &sc->fc, &sc->out)) {
        qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    qn_op_reply(op, &sc->out.base);
}

static void on_summary_dek(qn_op *op)
{
    summary_ctx *sc = op->ctx;
    if (!qn_feedback_open(op, op->access.bilan_id, sc->fc.stored, &sc->fc)) {
        return;
    }
    const Boussole__V1__Invitation *form =
        qn_feedback_summary_init(op, op->access.bilan_id, &sc->fc, &sc->out);
    if (form == NULL) {
        qn_op_reply(op, &sc->out.base);
        return;
    }
    qn_op_instrument(op, form->instrument_id, form->instrument_version, on_summary_instrument);
}

static void on_summary_read(qn_op *op)
{
    keep_feedback(op, on_summary_dek);
}

static void on_summary_access(qn_op *op)
{
    qn_feedback_read(op, op->access.bilan_id, on_summary_read);
}

QN_HANDLER(qn_get_feedback_summary, Boussole__V1__GetFeedbackSummaryRequest,
           Boussole__V1__FeedbackSummary)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    if (!bsl_check_end(&chk)) {
        return;
    }
    qn_op *op = qn_op_new(qn_of(service), call);
    summary_ctx *sc = op ? bsl_arena_calloc(op->arena, 1, sizeof(*sc)) : NULL;
    if (sc == NULL) {
        if (op != NULL) {
            qn_op_fail(op, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        }
        return;
    }
    op->ctx = sc;
    qn_op_access(op, in->bilan_id, QN_READ_FEEDBACK, on_summary_access);
}
