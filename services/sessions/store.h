/*
 * How a handler works on one bilan, in steps that each continue in a callback:
 *
 *   1. sess_op_new: the operation, in the call's arena (freed with the call).
 *   2. sess_load: one Lua script reads the bilan's hash and the parts the handler needs, at
 *      once; the caller's access to the bilan is checked (access.h): NOT_FOUND where
 *      existence must not leak, PERMISSION_DENIED otherwise.
 *   3. sess_with_key: the bilan's data key (crypto.h), made on first use by writes.
 *   4. The handler computes the new records (sealing free text) and commits them with
 *      sess_write (a checked write: every record compared with what was read, counters bounded,
 *      the hours ceiling enforced, all or nothing) or with its own script through sess_eval.
 *   5. A write that finds a record changed since it was read is a conflict: the operation
 *      starts over from its `restart` step when it has one (server-side read-modify-write,
 *      e.g. confirming attendance), else the caller gets ABORTED (it sent a stale version).
 *
 * Replies from Redis are borrowed for their callback only: everything kept is copied into the
 * arena. Every function here runs on the loop thread; each step either calls the next one or
 * answers the call, exactly once.
 */
#ifndef SESSIONS_STORE_H
#define SESSIONS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "bounds.h"
#include "boussole/crypto.h"
#include "boussole/id.h"
#include "model.h"
#include "sessions.h"

#define SESS_MAX_READS 12
#define SESS_MAX_PUTS  8

typedef struct sess_op sess_op;
typedef void (*sess_fn)(sess_op *op);

/* A value read from Redis, copied into the arena. */
typedef enum { SESS_V_NIL = 0, SESS_V_STR, SESS_V_ARR } sess_vtype;

typedef struct sess_value {
    sess_vtype type;
    const char *str; /* SESS_V_STR: NUL-terminated copy (may hold binary: use len) */
    size_t len;
    struct sess_value *items; /* SESS_V_ARR: e.g. HGETALL's name, value, name, value... */
    size_t n;
} sess_value;

/* A byte string in the arena. */
typedef struct sess_blob {
    const uint8_t *data;
    size_t len;
} sess_blob;

/* One part of the bilan to read with it (keys.h). how: "get", "hgetall", "hget" (field),
 * "lrange" (whole list), "scard". */
typedef struct sess_read {
    const char *part;
    const char *how;
    const char *field;
} sess_read;

struct sess_op {
    bsl_call *call;
    sessions_app *app;
    bsl_arena *arena;
    const Boussole__V1__Caller *caller;
    int64_t now_ms; /* the service clock when the operation began */
    const char *bilan_id;
    sess_action action;
    sess_relation rel; /* the caller's relation, once loaded */
    sess_bilan bilan;  /* once loaded */
    bool found;        /* sess_fetch: the bilan exists */
    sess_value parts[SESS_MAX_READS];
    size_t n_parts;
    bsl_dek dek;
    bool has_dek;
    void *ctx;       /* the handler's own state */
    sess_fn restart; /* where to start over after a conflict; NULL: ABORTED */
    unsigned attempts;
    /* Internal. */
    sess_fn next;
    const sess_read *reads;
    size_t n_reads;
    bool check_access;
};

/* A new operation on bilan_id (already validated) for `action`. On out of memory the call is
 * answered and NULL returned. */
sess_op *sess_op_new(bsl_call *call, sessions_app *app, const char *bilan_id, sess_action action);

/* Reads the bilan and parts; checks access; then next(op). parts[i] holds reads[i]. `reads`
 * must outlive the operation (a static table). */
void sess_load(sess_op *op, const sess_read *reads, size_t n, sess_fn next);

/* Same without the access check; op->found says whether the bilan exists (export). */
void sess_fetch(sess_op *op, const sess_read *reads, size_t n, sess_fn next);

/* Gets the bilan's data key into op->dek, then next(op). With create false a bilan that has
 * none (nothing sealed yet, or erased) continues with op->has_dek false. */
void sess_with_key(sess_op *op, bool create, sess_fn next);

/* Answers FAILED_PRECONDITION with one PreconditionViolation (type, subject the bilan). */
void sess_fail_precondition(sess_op *op, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True when the bilan runs; otherwise answers FAILED_PRECONDITION BILAN_ENDED. */
bool sess_require_active(sess_op *op);

/* Starts the operation over from op->restart after a conflict, at most SESS_MAX_RESTARTS
 * times (each round of racing writers lets one through), then ABORTED. */
#define SESS_MAX_RESTARTS 8
void sess_conflict(sess_op *op, const char *what);

/* ---- values ------------------------------------------------------------------------------ */

/* In an HGETALL value, the value of `name`, or NULL. */
const sess_value *sess_hash_get(const sess_value *hash, const char *name);

/* Packs a message into the arena ({NULL, 0} when out of memory). */
sess_blob sess_pack(sess_op *op, const ProtobufCMessage *m);

/* Unpacks into the arena; NULL when it does not decode. */
ProtobufCMessage *sess_unpack(sess_op *op, const ProtobufCMessageDescriptor *d, const void *data,
                              size_t len);

/* ---- sealing ----------------------------------------------------------------------------- */

/* Seals bytes with the bilan's data key (op->has_dek must be true), compressed first when
 * that makes them shorter (store.c). The associated data is "<bilan>/<kind>/<entity>", so
 * that a value copied to another record or bilan does not open. */
sess_blob sess_seal(sess_op *op, const char *kind, const char *entity, const void *plain,
                    size_t len);

/* Seals a packed message. */
sess_blob sess_seal_msg(sess_op *op, const char *kind, const char *entity,
                        const ProtobufCMessage *m);

/* Opens (and inflates) a sealed value into the arena, NUL-terminated; NULL when there is no
 * key, it does not open, or it is not in a format this service writes. */
char *sess_open(sess_op *op, const char *kind, const char *entity, const void *sealed, size_t len,
                size_t *out_len);

/* Opens and unpacks a sealed message; NULL when it does not. */
ProtobufCMessage *sess_open_msg(sess_op *op, const char *kind, const char *entity,
                                const ProtobufCMessageDescriptor *d, const sess_value *v);

/* ---- writing ------------------------------------------------------------------------------ */

/* How a record is written by sess_write. */
typedef enum {
    SESS_PUT_NEW,    /* must not exist: when it does, the commit answers with it (EXISTS) */
    SESS_PUT_CAS,    /* must still be `expected` (empty: absent); value empty deletes it */
    SESS_PUT_HAS,    /* must exist; nothing is written (a lead for its research) */
    SESS_PUT_SET,    /* written whatever is there (a record guarded by another one's CAS) */
    SESS_PUT_APPEND, /* value appended to the string (an item added to a plain list) */
} sess_put_mode;

typedef struct sess_put {
    const char *part;  /* keys.h part name */
    const char *field; /* hash field, or NULL for a string key */
    sess_put_mode mode;
    sess_blob expected;
    sess_blob value;
} sess_put;

typedef struct sess_commit {
    const char *what; /* "meeting", for messages */
    sess_put puts[SESS_MAX_PUTS];
    size_t n_puts;
    /* Counters of the bilan's hash changed by delta, refused (LIMIT_REACHED) above max. */
    struct {
        const char *field;
        int delta;
        unsigned max;
    } counters[2];
    size_t n_counters;
    /* Minutes added to a field of the hash (mm_<phase>, om_<phase>); a positive delta is
     * refused (HOURS_CEILING) beyond the planned hours. */
    const char *minutes;
    int minutes_delta;
    /* Other fields of the hash to set: name, value pairs. */
    const char *sets[16];
    size_t n_sets;
} sess_commit;

/* Adds a counter change to a commit. */
static inline void sess_count(sess_commit *c, const char *field, int delta, unsigned max)
{
    if (c->n_counters < 2) {
        c->counters[c->n_counters].field = field;
        c->counters[c->n_counters].delta = delta;
        c->counters[c->n_counters].max = max;
        c->n_counters++;
    }
}

/* Called after a successful commit. `existing` is set when a SESS_PUT_NEW record was already
 * there (a repeated creation): its index and current value. */
typedef void (*sess_done_fn)(sess_op *op, int existing_index, const sess_value *existing);

/* Commits: bilan still running, records as expected, bounds kept, all written at once. The
 * errors answer the call (NOT_FOUND, FAILED_PRECONDITION BILAN_ENDED / LIMIT_REACHED /
 * HOURS_CEILING, conflicts through sess_conflict). */
void sess_write(sess_op *op, const sess_commit *c, sess_done_fn done);

/* Arguments of a script: keys first, then values, in the arena. */
typedef struct sess_args {
    bsl_arena *arena;
    const char **v;
    size_t *len;
    int n;
    int cap;
    bool oom;
} sess_args;

void sess_args_init(sess_args *x, bsl_arena *a, int cap);
void sess_arg(sess_args *x, const char *s);
void sess_argb(sess_args *x, const void *p, size_t len);
void sess_argf(sess_args *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The key of a part of op's bilan (part NULL: the bilan's hash). */
void sess_arg_key(sess_args *x, const char *bilan_id, const char *part);

typedef void (*sess_reply_fn)(sess_op *op, const redisReply *reply);

/* Runs a script; transport errors and the scripts' common error replies (NOT_FOUND, ENDED,
 * CONFLICT, GONE, LIMIT, CEILING) answer the call; anything else goes to cb. */
void sess_eval(sess_op *op, const bsl_redis_script *script, const sess_args *x, int nkeys,
               sess_reply_fn cb);

/* Parses a flat HGETALL reply (from a script's answer) into op->bilan. False: answered. */
bool sess_bilan_from_reply(sess_op *op, const redisReply *hash);

/* Copies a reply into the arena. */
bool sess_copy_reply(bsl_arena *a, const redisReply *r, sess_value *out);

/* Answers with op->bilan as a Bilan message. */
void sess_reply_bilan(sess_op *op);

/* A new id derived from the call's idempotency key, the caller and the bilan, so that a
 * repeated creation finds the same record (id.h). */
const char *sess_new_id(sess_op *op, const char *kind);

/* Adds op's bilan to the list of ended bilans when it has ended and was not erased, then
 * calls next. Idempotent; when Redis fails the call is answered with the error, and the
 * caller's retry (CancelBilan and AdvancePhase are idempotent) adds it. */
void sess_mark_ended(sess_op *op, sess_fn next);

/* Registers the scripts of store.c. */
int sessions_store_init(sessions_app *app);

#endif
