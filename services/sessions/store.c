/* The steps every bilan handler goes through (see store.h). */
#include "store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "boussole/err.h"
#include "boussole/log.h"
#include "keys.h"

/* Reads the bilan's hash and the parts asked for, in one atomic step. */
static const char read_script[] =
    "local out = {redis.call('HGETALL', KEYS[1])}\n"
    "if #out[1] == 0 then return out end\n"
    "for i = 2, #KEYS do\n"
    "  local how, f = ARGV[2 * i - 3], ARGV[2 * i - 2]\n"
    "  local v\n"
    "  if how == 'get' then v = redis.call('GET', KEYS[i])\n"
    "  elseif how == 'hgetall' then v = redis.call('HGETALL', KEYS[i])\n"
    "  elseif how == 'hget' then v = redis.call('HGET', KEYS[i], f)\n"
    "  elseif how == 'lrange' then v = redis.call('LRANGE', KEYS[i], 0, -1)\n"
    "  elseif how == 'scard' then v = redis.call('SCARD', KEYS[i])\n"
    "  else return redis.error_reply('BAD_READ') end\n"
    "  out[i] = v\n"
    "end\n"
    "return out\n";

/*
 * Checked writes of records (sess_put). KEYS[1]: the bilan's hash; KEYS[1 + i]: the container
 * of record i (a hash, or a string key when its field is ''). ARGV[1]: the number n of
 * records, then four arguments per record: field, mode, expected, value. Then: the number
 * of counters, then field, delta, max for each; minutes field, delta; then name/value pairs
 * to set on the bilan's hash.
 * Modes: 'new' (must be absent, else
 * answers {'EXISTS', i, current}), 'cas' (must equal expected, '' meaning absent, else
 * CONFLICT), 'has' (must exist, else GONE; not written), 'set' (written as is), 'app'
 * (appended to the string). An empty value deletes. Everything is checked before anything is
 * written.
 */
static const char put_script[] =
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "if not st then return redis.error_reply('NOT_FOUND') end\n"
    "if st ~= '1' then return redis.error_reply('ENDED') end\n"
    "local n = tonumber(ARGV[1])\n"
    "for i = 1, n do\n"
    "  local b = 4 * (i - 1) + 2\n"
    "  local f, mode = ARGV[b], ARGV[b + 1]\n"
    "  local cur\n"
    "  if f == '' then cur = redis.call('GET', KEYS[1 + i])\n"
    "  else cur = redis.call('HGET', KEYS[1 + i], f) end\n"
    "  if mode == 'new' then\n"
    "    if cur then return {'EXISTS', i, cur} end\n"
    "  elseif mode == 'cas' then\n"
    "    if (cur or '') ~= ARGV[b + 2] then return redis.error_reply('CONFLICT') end\n"
    "  elseif mode == 'has' then\n"
    "    if not cur then return redis.error_reply('GONE') end\n"
    "  end\n"
    "end\n"
    "local p = 4 * n + 2\n"
    "local nc = tonumber(ARGV[p])\n"
    "for k = 0, nc - 1 do\n"
    "  local field, delta, max = ARGV[p + 1 + 3 * k], tonumber(ARGV[p + 2 + 3 * k]),\n"
    "                            tonumber(ARGV[p + 3 + 3 * k])\n"
    "  if delta > 0 and tonumber(redis.call('HGET', KEYS[1], field) or '0') + delta > max then\n"
    "    return redis.error_reply('LIMIT')\n"
    "  end\n"
    "end\n"
    "p = p + 1 + 3 * nc\n"
    "local minutes, mdelta = ARGV[p], tonumber(ARGV[p + 1])\n"
    "if minutes ~= '' and mdelta > 0 then\n"
    "  local h = redis.call('HMGET', KEYS[1], 'planned_hours', 'mm_1', 'mm_2', 'mm_3', 'mm_4',\n"
    "                       'om_1', 'om_2', 'om_3', 'om_4')\n"
    "  local spent = 0\n"
    "  for j = 2, 9 do spent = spent + tonumber(h[j] or '0') end\n"
    "  if spent + mdelta > tonumber(h[1] or '0') * 60 then\n"
    "    return redis.error_reply('CEILING')\n"
    "  end\n"
    "end\n"
    "for i = 1, n do\n"
    "  local b = 4 * (i - 1) + 2\n"
    "  local f, mode, val = ARGV[b], ARGV[b + 1], ARGV[b + 3]\n"
    "  if mode ~= 'has' then\n"
    "    if mode == 'app' then redis.call('APPEND', KEYS[1 + i], val)\n"
    "    elseif val == '' then\n"
    "      if f == '' then redis.call('DEL', KEYS[1 + i])\n"
    "      else redis.call('HDEL', KEYS[1 + i], f) end\n"
    "    elseif f == '' then redis.call('SET', KEYS[1 + i], val)\n"
    "    else redis.call('HSET', KEYS[1 + i], f, val) end\n"
    "  end\n"
    "end\n"
    "for k = 0, nc - 1 do\n"
    "  local field, delta = ARGV[p - 3 * nc + 3 * k], tonumber(ARGV[p - 3 * nc + 1 + 3 * k])\n"
    "  if delta ~= 0 then redis.call('HINCRBY', KEYS[1], field, delta) end\n"
    "end\n"
    "if minutes ~= '' and mdelta ~= 0 then redis.call('HINCRBY', KEYS[1], minutes, mdelta) end\n"
    "for j = p + 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[j], ARGV[j + 1]) end\n"
    "return {'OK'}\n";

/*
 * One page of an index (a zset), strictly after a cursor, so that entries added or removed
 * between pages neither repeat nor get skipped. KEYS[1]: the zset. ARGV: 'asc' or 'desc',
 * the cursor's score ('' from the start) and member, the last score to include, the count.
 * Answers member, score, member, score... Equal scores are ordered by member, as Redis does.
 */
static const char page_script[] =
    "local asc = ARGV[1] == 'asc'\n"
    "local cs, cm, bound, count = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])\n"
    "local from = cs\n"
    "if cs == '' then from = asc and '-inf' or '+inf' end\n"
    "local out, offset = {}, 0\n"
    "while true do\n"
    "  local batch\n"
    "  if asc then\n"
    "    batch = redis.call('ZRANGEBYSCORE', KEYS[1], from, bound, 'WITHSCORES', 'LIMIT',\n"
    "                       offset, count)\n"
    "  else\n"
    "    batch = redis.call('ZREVRANGEBYSCORE', KEYS[1], from, bound, 'WITHSCORES', 'LIMIT',\n"
    "                       offset, count)\n"
    "  end\n"
    "  for j = 1, #batch, 2 do\n"
    "    local m, s = batch[j], batch[j + 1]\n"
    "    local skip = false\n"
    "    if cs ~= '' and tonumber(s) == tonumber(cs) then\n"
    "      if asc then skip = m <= cm else skip = m >= cm end\n"
    "    end\n"
    "    if not skip then\n"
    "      out[#out + 1] = m\n"
    "      out[#out + 1] = s\n"
    "      if #out >= 2 * count then return out end\n"
    "    end\n"
    "  end\n"
    "  if #batch < 2 * count then return out end\n"
    "  offset = offset + count\n"
    "end\n";

int sessions_store_init(sessions_app *app)
{
    int rv = bsl_redis_script_add(app->redis, read_script, &app->read);
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, put_script, &app->put_records);
    }
    if (rv == BSL_OK) {
        rv = bsl_redis_script_add(app->redis, page_script, &app->page);
    }
    return rv;
}

/* ---- operations --------------------------------------------------------------------- */

sess_op *sess_op_new(bsl_call *call, sessions_app *app, const char *bilan_id, sess_action action)
{
    bsl_arena *a = bsl_call_arena(call);
    sess_op *op = bsl_arena_calloc(a, 1, sizeof(*op));
    const char *id = op ? bsl_arena_strdup(a, bilan_id) : NULL;
    if (op == NULL || id == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    op->call = call;
    op->app = app;
    op->arena = a;
    op->caller = bsl_call_caller(call);
    op->now_ms = bsl_clock_now_ms(app->clock);
    op->bilan_id = id;
    op->action = action;
    return op;
}

static void oom(sess_op *op)
{
    bsl_call_fail(op->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
}

bool sess_copy_reply(bsl_arena *a, const redisReply *r, sess_value *out)
{
    memset(out, 0, sizeof(*out));
    switch (r->type) {
    case REDIS_REPLY_NIL:
        return true;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        out->type = SESS_V_STR;
        out->str = bsl_arena_strndup(a, r->str, r->len);
        out->len = r->len;
        return out->str != NULL;
    case REDIS_REPLY_INTEGER:
        out->type = SESS_V_STR;
        out->str = bsl_arena_printf(a, "%lld", r->integer);
        out->len = out->str ? strlen(out->str) : 0;
        return out->str != NULL;
    case REDIS_REPLY_ARRAY:
        out->type = SESS_V_ARR;
        out->n = r->elements;
        out->items = bsl_arena_calloc(a, r->elements ? r->elements : 1, sizeof(sess_value));
        if (out->items == NULL) {
            return false;
        }
        for (size_t i = 0; i < r->elements; i++) {
            if (!sess_copy_reply(a, r->element[i], &out->items[i])) {
                return false;
            }
        }
        return true;
    default:
        return false;
    }
}

/* Parses a copied HGETALL array into op->bilan. */
static bool bilan_from_value(sess_op *op, const sess_value *h)
{
    if (h->type != SESS_V_ARR || h->n % 2 != 0) {
        return false;
    }
    size_t n = h->n / 2;
    const char **names = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(char *));
    const char **values = bsl_arena_calloc(op->arena, n ? n : 1, sizeof(char *));
    if (names == NULL || values == NULL) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (h->items[2 * i].type != SESS_V_STR || h->items[2 * i + 1].type != SESS_V_STR) {
            return false;
        }
        names[i] = h->items[2 * i].str;
        values[i] = h->items[2 * i + 1].str;
    }
    return sess_bilan_parse(&op->bilan, op->bilan_id, names, values, n);
}

bool sess_bilan_from_reply(sess_op *op, const redisReply *hash)
{
    sess_value v;
    if (!sess_copy_reply(op->arena, hash, &v)) {
        oom(op);
        return false;
    }
    if (!bilan_from_value(op, &v)) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored bilan is unreadable");
        return false;
    }
    return true;
}

static void on_read(const redisReply *reply, int err, void *arg)
{
    sess_op *op = arg;
    if (err != BSL_OK) {
        bsl_call_fail_err(op->call, err, "reading the bilan");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis: %s",
                      bsl_redis_is_error(reply) ? reply->str : "not an array");
        return;
    }
    if (reply->element[0]->elements == 0) {
        if (op->check_access) {
            bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such bilan");
            return;
        }
        op->found = false;
        op->next(op);
        return;
    }
    sess_value all;
    if (!sess_copy_reply(op->arena, reply, &all)) {
        oom(op);
        return;
    }
    if (!bilan_from_value(op, &all.items[0])) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "the stored bilan is unreadable");
        return;
    }
    op->found = true;
    op->rel = sess_relation_of(op->caller, &op->bilan);
    if (op->check_access) {
        bsl_status st = sess_access(op->caller, &op->bilan, op->action);
        if (st == BSL_STATUS_NOT_FOUND) {
            /* The same answer as a missing bilan: existence does not leak. */
            bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such bilan");
            return;
        }
        if (st != BSL_STATUS_OK) {
            bsl_call_fail(op->call, st, "the caller may not %s", sess_action_name(op->action));
            return;
        }
    }
    op->n_parts = op->n_reads;
    for (size_t i = 0; i < op->n_reads; i++) {
        op->parts[i] = i + 1 < all.n ? all.items[i + 1] : (sess_value){ 0 };
    }
    op->next(op);
}

static void read_parts(sess_op *op, const sess_read *reads, size_t n, sess_fn next, bool check)
{
    if (n > SESS_MAX_READS) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "too many parts to read");
        return;
    }
    op->reads = reads;
    op->n_reads = n;
    op->next = next;
    op->check_access = check;
    op->n_parts = 0;
    sess_args x;
    sess_args_init(&x, op->arena, (int)(1 + 3 * n));
    sess_arg_key(&x, op->bilan_id, NULL);
    for (size_t i = 0; i < n; i++) {
        sess_arg_key(&x, op->bilan_id, reads[i].part);
    }
    for (size_t i = 0; i < n; i++) {
        sess_arg(&x, reads[i].how);
        sess_arg(&x, reads[i].field ? reads[i].field : "");
    }
    if (x.oom) {
        oom(op);
        return;
    }
    int rv = bsl_redis_eval(op->app->redis, op->app->read, bsl_call_remaining_ms(op->call), on_read,
                            op, (int)(1 + n), x.n, x.v, x.len);
    if (rv != BSL_OK) {
        bsl_call_fail_err(op->call, rv, "reading the bilan");
    }
}

void sess_load(sess_op *op, const sess_read *reads, size_t n, sess_fn next)
{
    read_parts(op, reads, n, next, true);
}

void sess_fetch(sess_op *op, const sess_read *reads, size_t n, sess_fn next)
{
    read_parts(op, reads, n, next, false);
}

static void on_key(int err, const bsl_dek *dek, void *arg)
{
    sess_op *op = arg;
    if (err == BSL_ENOTFOUND) {
        op->has_dek = false;
        op->next(op);
        return;
    }
    if (err != BSL_OK) {
        bsl_call_fail_err(op->call, err, "getting the bilan's data key");
        return;
    }
    op->dek = *dek;
    op->has_dek = true;
    op->next(op);
}

void sess_with_key(sess_op *op, bool create, sess_fn next)
{
    if (op->app->keyring == NULL) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "no keyring configured");
        return;
    }
    op->next = next;
    int rv = bsl_dek_get(op->app->keyring, op->bilan_id, BSL_SCOPE_SESSIONS, create,
                         bsl_call_remaining_ms(op->call), on_key, op);
    if (rv != BSL_OK) {
        bsl_call_fail_err(op->call, rv, "getting the bilan's data key");
    }
}

void sess_fail_precondition(sess_op *op, const char *type, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    bsl_call_add_precondition_violation(op->call, type, op->bilan_id, why);
    bsl_call_fail(op->call, BSL_STATUS_FAILED_PRECONDITION, "%s", why);
}

bool sess_require_active(sess_op *op)
{
    if (sess_bilan_active(&op->bilan)) {
        return true;
    }
    sess_fail_precondition(op, "BILAN_ENDED", "the bilan has ended; its records are read-only");
    return false;
}

void sess_conflict(sess_op *op, const char *what)
{
    if (op->restart != NULL && ++op->attempts <= SESS_MAX_RESTARTS) {
        op->has_dek = false;
        op->restart(op);
        return;
    }
    bsl_call_fail(op->call, BSL_STATUS_ABORTED,
                  "the %s changed since it was read: read it again and retry", what);
}

/* ---- values ------------------------------------------------------------------------- */

const sess_value *sess_hash_get(const sess_value *hash, const char *name)
{
    if (hash->type != SESS_V_ARR) {
        return NULL;
    }
    for (size_t i = 0; i + 1 < hash->n; i += 2) {
        if (hash->items[i].type == SESS_V_STR && strcmp(hash->items[i].str, name) == 0) {
            return &hash->items[i + 1];
        }
    }
    return NULL;
}

sess_blob sess_pack(sess_op *op, const ProtobufCMessage *m)
{
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = bsl_arena_alloc(op->arena, len ? len : 1);
    if (buf == NULL) {
        return (sess_blob){ NULL, 0 };
    }
    protobuf_c_message_pack(m, buf);
    return (sess_blob){ buf, len };
}

ProtobufCMessage *sess_unpack(sess_op *op, const ProtobufCMessageDescriptor *d, const void *data,
                              size_t len)
{
    return protobuf_c_message_unpack(d, bsl_arena_allocator(op->arena), len, data);
}

/* ---- sealing ------------------------------------------------------------------------ */

/*
 * What is sealed is a format byte then the payload: 'P' and the bytes as they are, or 'Z',
 * the length as 4 bytes little-endian, and the bytes compressed with raw deflate, when that
 * is shorter (free text is most of a bilan's bytes and compresses to about half). Only
 * people who may read a sealed value can write into it, so its length tells nobody anything
 * they could not read.
 */
#define FORMAT_PLAIN    'P'
#define FORMAT_DEFLATE  'Z'
#define MIN_TO_COMPRESS 48
#define MAX_INFLATED    (4u << 20)

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    return bsl_arena_calloc(opaque, items, size);
}

static void z_free(voidpf opaque, voidpf address)
{
    (void)opaque;
    (void)address; /* the arena goes with the call */
}

/* Deflates in[0..len) into out (cap bytes); 0 when it does not fit or fails. */
static size_t deflate_into(bsl_arena *a, const void *in, size_t len, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    z.zalloc = z_alloc;
    z.zfree = z_free;
    z.opaque = a;
    /* An 8 KiB window: records are a few KiB at most, and the state stays small (64 KiB). */
    if (deflateInit2(&z, 6, Z_DEFLATED, -13, 6, Z_DEFAULT_STRATEGY) != Z_OK) {
        return 0;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rv = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return rv == Z_STREAM_END ? n : 0;
}

static const char *ad_of(sess_op *op, const char *kind, const char *entity)
{
    return bsl_arena_printf(op->arena, "%s/%s/%s", op->bilan_id, kind, entity ? entity : "");
}

sess_blob sess_seal(sess_op *op, const char *kind, const char *entity, const void *plain,
                    size_t len)
{
    const char *ad = ad_of(op, kind, entity);
    uint8_t *payload = bsl_arena_alloc(op->arena, len + 5);
    if (ad == NULL || payload == NULL || !op->has_dek || len > MAX_INFLATED) {
        return (sess_blob){ NULL, 0 };
    }
    size_t n = 0, zlen = 0;
    if (len >= MIN_TO_COMPRESS) {
        zlen = deflate_into(op->arena, plain, len, payload + 5, len - 5);
    }
    if (zlen > 0) {
        payload[0] = FORMAT_DEFLATE;
        payload[1] = (uint8_t)len;
        payload[2] = (uint8_t)(len >> 8);
        payload[3] = (uint8_t)(len >> 16);
        payload[4] = (uint8_t)(len >> 24);
        n = 5 + zlen;
    } else {
        payload[0] = FORMAT_PLAIN;
        if (len > 0) {
            memcpy(payload + 1, plain, len);
        }
        n = 1 + len;
    }
    uint8_t *out = bsl_arena_alloc(op->arena, bsl_seal_size(n));
    if (out == NULL) {
        return (sess_blob){ NULL, 0 };
    }
    bsl_seal(&op->dek, ad, payload, n, out);
    return (sess_blob){ out, bsl_seal_size(n) };
}

sess_blob sess_seal_msg(sess_op *op, const char *kind, const char *entity,
                        const ProtobufCMessage *m)
{
    sess_blob plain = sess_pack(op, m);
    if (plain.data == NULL) {
        return plain;
    }
    return sess_seal(op, kind, entity, plain.data, plain.len);
}

char *sess_open(sess_op *op, const char *kind, const char *entity, const void *sealed, size_t len,
                size_t *out_len)
{
    if (!op->has_dek || len < BSL_SEAL_OVERHEAD + 1) {
        return NULL;
    }
    const char *ad = ad_of(op, kind, entity);
    char *payload = bsl_arena_alloc(op->arena, len - BSL_SEAL_OVERHEAD + 1);
    size_t n = 0;
    if (ad == NULL || payload == NULL ||
        bsl_open(&op->dek, ad, sealed, len, payload, &n) != BSL_OK || n < 1) {
        return NULL;
    }
    if (payload[0] == FORMAT_PLAIN) {
        if (out_len != NULL) {
            *out_len = n - 1;
        }
        return payload + 1; /* bsl_open ended it with a NUL */
    }
    if (payload[0] != FORMAT_DEFLATE || n < 5) {
        return NULL;
    }
    const uint8_t *p = (const uint8_t *)payload;
    size_t want = (size_t)p[1] | (size_t)p[2] << 8 | (size_t)p[3] << 16 | (size_t)p[4] << 24;
    char *out = want <= MAX_INFLATED ? bsl_arena_alloc(op->arena, want + 1) : NULL;
    if (out == NULL) {
        return NULL;
    }
    z_stream z;
    memset(&z, 0, sizeof(z));
    z.zalloc = z_alloc;
    z.zfree = z_free;
    z.opaque = op->arena;
    if (inflateInit2(&z, -15) != Z_OK) {
        return NULL;
    }
    z.next_in = (Bytef *)(payload + 5);
    z.avail_in = (uInt)(n - 5);
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)want;
    int rv = inflate(&z, Z_FINISH);
    size_t got = want - z.avail_out;
    inflateEnd(&z);
    if (rv != Z_STREAM_END || got != want) {
        return NULL;
    }
    out[want] = '\0';
    if (out_len != NULL) {
        *out_len = want;
    }
    return out;
}

ProtobufCMessage *sess_open_msg(sess_op *op, const char *kind, const char *entity,
                                const ProtobufCMessageDescriptor *d, const sess_value *v)
{
    if (v == NULL || v->type != SESS_V_STR) {
        return NULL;
    }
    size_t n = 0;
    char *plain = sess_open(op, kind, entity, v->str, v->len, &n);
    return plain ? sess_unpack(op, d, plain, n) : NULL;
}

/* ---- script arguments --------------------------------------------------------------- */

void sess_args_init(sess_args *x, bsl_arena *a, int cap)
{
    memset(x, 0, sizeof(*x));
    x->arena = a;
    x->cap = cap > 0 ? cap : 8;
    x->v = bsl_arena_alloc(a, (size_t)x->cap * sizeof(*x->v));
    x->len = bsl_arena_alloc(a, (size_t)x->cap * sizeof(*x->len));
    x->oom = x->v == NULL || x->len == NULL;
}

void sess_argb(sess_args *x, const void *p, size_t len)
{
    if (x->oom) {
        return;
    }
    if (x->n == x->cap) {
        int cap = x->cap * 2;
        const char **v = bsl_arena_alloc(x->arena, (size_t)cap * sizeof(*v));
        size_t *l = bsl_arena_alloc(x->arena, (size_t)cap * sizeof(*l));
        if (v == NULL || l == NULL) {
            x->oom = true;
            return;
        }
        memcpy(v, x->v, (size_t)x->n * sizeof(*v));
        memcpy(l, x->len, (size_t)x->n * sizeof(*l));
        x->v = v;
        x->len = l;
        x->cap = cap;
    }
    if (p == NULL) {
        p = "";
        len = 0;
    }
    x->v[x->n] = p;
    x->len[x->n] = len;
    x->n++;
}

void sess_arg(sess_args *x, const char *s)
{
    sess_argb(x, s, s ? strlen(s) : 0);
}

void sess_argf(sess_args *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = bsl_arena_vprintf(x->arena, fmt, ap);
    va_end(ap);
    if (s == NULL) {
        x->oom = true;
        return;
    }
    sess_arg(x, s);
}

void sess_arg_key(sess_args *x, const char *bilan_id, const char *part)
{
    char key[SESSIONS_KEY_MAX];
    if (part == NULL) {
        key_bilan(key, bilan_id);
    } else {
        key_part(key, bilan_id, part);
    }
    char *k = bsl_arena_strdup(x->arena, key);
    if (k == NULL) {
        x->oom = true;
        return;
    }
    sess_arg(x, k);
}

/* ---- scripts ------------------------------------------------------------------------ */

typedef struct eval_ctx {
    sess_op *op;
    sess_reply_fn cb;
    const char *what;
} eval_ctx;

static void on_eval(const redisReply *reply, int err, void *arg)
{
    eval_ctx *e = arg;
    sess_op *op = e->op;
    if (err != BSL_OK) {
        bsl_call_fail_err(op->call, err, "writing to Redis");
        return;
    }
    if (bsl_redis_is_error(reply)) {
        /* Redis puts "ERR " before an error_reply without a code of its own. */
        const char *s = strncmp(reply->str, "ERR ", 4) == 0 ? reply->str + 4 : reply->str;
        const char *what = e->what ? e->what : "record";
        if (strcmp(s, "NOT_FOUND") == 0) {
            bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such bilan");
        } else if (strcmp(s, "ENDED") == 0) {
            sess_fail_precondition(op, "BILAN_ENDED",
                                   "the bilan has ended; its records are read-only");
        } else if (strcmp(s, "CONFLICT") == 0) {
            sess_conflict(op, what);
        } else if (strcmp(s, "GONE") == 0) {
            bsl_call_fail(op->call, BSL_STATUS_NOT_FOUND, "no such %s", what);
        } else if (strcmp(s, "LIMIT") == 0) {
            sess_fail_precondition(op, "LIMIT_REACHED", "the bilan holds as many of %s as allowed",
                                   what);
        } else if (strcmp(s, "CEILING") == 0) {
            sess_fail_precondition(op, "HOURS_CEILING",
                                   "this would take the hours spent beyond the %u planned hours",
                                   op->bilan.planned_hours);
        } else {
            bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "a script failed: %.200s", s);
        }
        return;
    }
    e->cb(op, reply);
}

static void eval_what(sess_op *op, const bsl_redis_script *script, const sess_args *x, int nkeys,
                      sess_reply_fn cb, const char *what)
{
    eval_ctx *e = bsl_arena_alloc(op->arena, sizeof(*e));
    if (e == NULL || x->oom) {
        oom(op);
        return;
    }
    e->op = op;
    e->cb = cb;
    e->what = what;
    int rv = bsl_redis_eval(op->app->redis, script, bsl_call_remaining_ms(op->call), on_eval, e,
                            nkeys, x->n, x->v, x->len);
    if (rv != BSL_OK) {
        bsl_call_fail_err(op->call, rv, "writing to Redis");
    }
}

void sess_eval(sess_op *op, const bsl_redis_script *script, const sess_args *x, int nkeys,
               sess_reply_fn cb)
{
    eval_what(op, script, x, nkeys, cb, NULL);
}

/* ---- sess_put ----------------------------------------------------------------------- */

/* A commit in flight: the common error mapping (eval) and where to go on success. */
typedef struct put_call {
    eval_ctx e;
    sess_done_fn done;
} put_call;

static void on_put_reply(const redisReply *reply, int err, void *arg)
{
    put_call *pc = arg;
    sess_op *op = pc->e.op;
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        on_eval(reply, err, &pc->e);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        bsl_call_fail(op->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    if (strcmp(reply->element[0]->str, "EXISTS") == 0 && reply->elements == 3 &&
        reply->element[1]->type == REDIS_REPLY_INTEGER) {
        sess_value v;
        if (!sess_copy_reply(op->arena, reply->element[2], &v)) {
            oom(op);
            return;
        }
        pc->done(op, (int)reply->element[1]->integer - 1, &v);
        return;
    }
    pc->done(op, -1, NULL);
}

void sess_write(sess_op *op, const sess_commit *c, sess_done_fn done)
{
    sess_args x;
    sess_args_init(&x, op->arena, (int)(8 + 5 * c->n_puts + c->n_sets));
    sess_arg_key(&x, op->bilan_id, NULL);
    for (size_t i = 0; i < c->n_puts; i++) {
        sess_arg_key(&x, op->bilan_id, c->puts[i].part);
    }
    sess_argf(&x, "%zu", c->n_puts);
    for (size_t i = 0; i < c->n_puts; i++) {
        const sess_put *p = &c->puts[i];
        sess_arg(&x, p->field ? p->field : "");
        static const char *const modes[] = { "new", "cas", "has", "set", "app" };
        sess_arg(&x, modes[p->mode]);
        sess_argb(&x, p->expected.data, p->expected.len);
        sess_argb(&x, p->value.data, p->value.len);
    }
    sess_argf(&x, "%zu", c->n_counters);
    for (size_t i = 0; i < c->n_counters; i++) {
        sess_arg(&x, c->counters[i].field);
        sess_argf(&x, "%d", c->counters[i].delta);
        sess_argf(&x, "%u", c->counters[i].max);
    }
    sess_arg(&x, c->minutes ? c->minutes : "");
    sess_argf(&x, "%d", c->minutes_delta);
    for (size_t i = 0; i + 1 < c->n_sets; i += 2) {
        sess_arg(&x, c->sets[i]);
        sess_arg(&x, c->sets[i + 1]);
    }
    put_call *pc = bsl_arena_alloc(op->arena, sizeof(*pc));
    if (pc == NULL || x.oom) {
        oom(op);
        return;
    }
    pc->e = (eval_ctx){ .op = op, .cb = NULL, .what = c->what };
    pc->done = done;
    int rv = bsl_redis_eval(op->app->redis, op->app->put_records, bsl_call_remaining_ms(op->call),
                            on_put_reply, pc, (int)(1 + c->n_puts), x.n, x.v, x.len);
    if (rv != BSL_OK) {
        bsl_call_fail_err(op->call, rv, "writing to Redis");
    }
}

/* ---- replies and ids ---------------------------------------------------------------- */

void sess_reply_bilan(sess_op *op)
{
    Boussole__V1__Bilan *b = sess_bilan_to_pb(op->arena, &op->bilan, op->now_ms);
    if (b == NULL) {
        oom(op);
        return;
    }
    bsl_call_reply(op->call, &b->base);
}

const char *sess_new_id(sess_op *op, const char *kind)
{
    char *id = bsl_arena_alloc(op->arena, BSL_ID_LEN + 1);
    const char *key =
        bsl_arena_printf(op->arena, "%s/%s", op->bilan_id, bsl_call_idempotency_key(op->call));
    if (id == NULL || key == NULL) {
        return NULL;
    }
    bsl_id_derive(id, kind, op->caller->subject, key);
    return id;
}

static void on_ended_added(const redisReply *reply, int err, void *arg)
{
    sess_op *op = arg;
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        bsl_call_fail_err(op->call, err != BSL_OK ? err : BSL_EIO,
                          "listing the bilan among ended bilans");
        return;
    }
    op->next(op);
}

void sess_mark_ended(sess_op *op, sess_fn next)
{
    const sess_bilan *b = &op->bilan;
    if (sess_bilan_active(b) || b->erased_ms > 0 || b->end_ms <= 0) {
        next(op);
        return;
    }
    op->next = next;
    int rv = bsl_redis_command(op->app->redis, bsl_call_remaining_ms(op->call), on_ended_added, op,
                               "ZADD %s %lld %s", SESSIONS_ENDED_KEY, (long long)b->end_ms,
                               op->bilan_id);
    if (rv != BSL_OK) {
        bsl_call_fail_err(op->call, rv, "listing the bilan among ended bilans");
    }
}
