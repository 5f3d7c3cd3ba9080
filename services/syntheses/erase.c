/*
 * Destroying this service's data of one bilan: the indexes outside the bilan's keys, then the
 * bilan's data key (crypto-shredding: every copy of the ciphertext, backups included, becomes
 * unreadable), then every key of the bilan, then a destruction record (what, when, why; no
 * content). Each step is idempotent, so a failed erasure is finished by repeating it.
 */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "erase.h"
#include "handlers.h"
#include "keys.h"

typedef struct erase_op {
    syn_app *app;
    char bilan[BSL_ID_LEN + 1];
    char reason[SYN_REASON_TEXT_MAX + 1];
    char organisation[BSL_SUBJECT_MAX + 1];
    uint32_t timeout_ms;
    syn_erase_cb cb;
    void *arg;
    int pending;
    int err;
    uint32_t keys_deleted;
    bool key_destroyed;
} erase_op;

static void finish(erase_op *op, int err)
{
    op->cb(err, op->keys_deleted, op->key_destroyed, op->arg);
    free(op);
}

static void on_recorded(const redisReply *reply, int err, void *arg)
{
    erase_op *op = arg;
    if (err == BSL_OK && bsl_redis_is_error(reply)) {
        err = BSL_EIO;
    }
    /* The data is gone either way; a missing record is reported so that the caller retries
     * (the retry finds nothing left and records that). */
    finish(op, err);
}

int syn_destruction_record(syn_app *app, const char *bilan_id, const char *organisation,
                           const char *service, const char *reason, uint32_t keys_deleted,
                           bool key_destroyed, uint32_t timeout_ms, bsl_redis_cb cb, void *arg)
{
    char ms[24], keys[16];
    snprintf(ms, sizeof(ms), "%lld", (long long)bsl_clock_now_ms(app->clock));
    snprintf(keys, sizeof(keys), "%u", keys_deleted);
    return bsl_redis_command(app->redis, timeout_ms, cb, arg,
                             "XADD %s * ms %s bilan %s organisation %s service %s reason %s keys "
                             "%s dek %s",
                             SYN_KEY_DESTRUCTIONS, ms, bilan_id, organisation, service, reason,
                             keys, key_destroyed ? "1" : "0");
}

static void on_keys_deleted(const redisReply *reply, int err, void *arg)
{
    erase_op *op = arg;
    if (err != BSL_OK || reply->type != REDIS_REPLY_INTEGER) {
        finish(op, err != BSL_OK ? err : BSL_EIO);
        return;
    }
    op->keys_deleted = (uint32_t)reply->integer;
    if (op->keys_deleted == 0 && !op->key_destroyed) {
        finish(op, BSL_OK); /* nothing was here (any more): nothing to record */
        return;
    }
    int rv = syn_destruction_record(op->app, op->bilan, op->organisation, "syntheses", op->reason,
                                    op->keys_deleted, op->key_destroyed, op->timeout_ms,
                                    on_recorded, op);
    if (rv != BSL_OK) {
        finish(op, rv);
    }
}

static void on_key_shredded(const redisReply *reply, int err, void *arg)
{
    erase_op *op = arg;
    if (err != BSL_OK || reply->type != REDIS_REPLY_INTEGER) {
        finish(op, err != BSL_OK ? err : BSL_EIO);
        return;
    }
    op->key_destroyed = reply->integer > 0;
    bsl_dek_forget(op->app->keyring, op->bilan, BSL_SCOPE_SYNTHESES);
    static const char *const suffixes[SYN_N_BILAN_KEYS] = SYN_BILAN_KEYS;
    char keys[SYN_N_BILAN_KEYS][SYN_KEY_MAX];
    const char *argv[SYN_N_BILAN_KEYS];
    size_t lens[SYN_N_BILAN_KEYS];
    for (size_t i = 0; i < SYN_N_BILAN_KEYS; i++) {
        syn_key(keys[i], op->bilan, suffixes[i]);
        argv[i] = keys[i];
        lens[i] = strlen(keys[i]);
    }
    int rv = bsl_redis_eval(op->app->redis, op->app->scripts.erase, op->timeout_ms, on_keys_deleted,
                            op, SYN_N_BILAN_KEYS, SYN_N_BILAN_KEYS, argv, lens);
    if (rv != BSL_OK) {
        finish(op, rv);
    }
}

static void shred(erase_op *op)
{
    char name[BSL_SCOPE_NAME_MAX + BSL_ID_LEN];
    bsl_dek_key(name, sizeof(name), op->bilan, BSL_SCOPE_SYNTHESES);
    int rv = bsl_redis_command(bsl_service_keystore(op->app->svc), op->timeout_ms, on_key_shredded,
                               op, "DEL %s", name);
    if (rv != BSL_OK) {
        finish(op, rv);
    }
}

static void on_unindexed(const redisReply *reply, int err, void *arg)
{
    erase_op *op = arg;
    if (op->err == BSL_OK && (err != BSL_OK || bsl_redis_is_error(reply))) {
        op->err = err != BSL_OK ? err : BSL_EIO;
    }
    if (--op->pending > 0) {
        return;
    }
    if (op->err != BSL_OK) {
        finish(op, op->err);
        return;
    }
    shred(op);
}

static void send_unindex(erase_op *op, int rv)
{
    if (rv == BSL_OK) {
        op->pending++;
    } else if (op->err == BSL_OK) {
        op->err = rv;
    }
}

/* {beneficiary, organisation, grantee members} */
static void on_facts(const redisReply *reply, int err, void *arg)
{
    erase_op *op = arg;
    if (err != BSL_OK) {
        finish(op, err);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING ||
        reply->element[2]->type != REDIS_REPLY_ARRAY) {
        finish(op, BSL_EPROTO);
        return;
    }
    snprintf(op->organisation, sizeof(op->organisation), "%s", reply->element[1]->str);
    op->pending = 1; /* held while the commands are sent */
    uint32_t t = op->timeout_ms;
    char key[SYN_KEY_MAX];
    const char *beneficiary = reply->element[0]->str;
    if (bsl_subject_valid(beneficiary)) {
        syn_key_subject(key, "beneficiary", beneficiary);
        send_unindex(op, bsl_redis_command(op->app->redis, t, on_unindexed, op, "SREM %s %s", key,
                                           op->bilan));
    }
    const redisReply *members = reply->element[2];
    for (size_t i = 0; i < members->elements; i++) {
        const redisReply *m = members->element[i];
        /* "<subject>/<grant id>" */
        const char *slash = m->type == REDIS_REPLY_STRING ? strrchr(m->str, '/') : NULL;
        char subject[BSL_SUBJECT_MAX + 1], member[2 * BSL_ID_LEN + 2];
        if (slash == NULL || (size_t)(slash - m->str) > BSL_SUBJECT_MAX) {
            continue;
        }
        snprintf(subject, sizeof(subject), "%.*s", (int)(slash - m->str), m->str);
        if (!bsl_subject_valid(subject) || !bsl_id_valid(slash + 1)) {
            continue;
        }
        syn_key_subject(key, "grantee", subject);
        snprintf(member, sizeof(member), "%s/%s", op->bilan, slash + 1);
        send_unindex(
            op, bsl_redis_command(op->app->redis, t, on_unindexed, op, "ZREM %s %s", key, member));
    }
    send_unindex(op, bsl_redis_command(op->app->redis, t, on_unindexed, op, "ZREM %s %s",
                                       SYN_KEY_HELD, op->bilan));
    on_unindexed(NULL, BSL_OK, op); /* drops the hold */
}

int syn_erase_local(syn_app *app, const char *bilan_id, const char *reason, uint32_t timeout_ms,
                    syn_erase_cb cb, void *arg)
{
    erase_op *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        return BSL_ENOMEM;
    }
    op->app = app;
    snprintf(op->bilan, sizeof(op->bilan), "%s", bilan_id);
    snprintf(op->reason, sizeof(op->reason), "%s", reason);
    op->timeout_ms = timeout_ms;
    op->cb = cb;
    op->arg = arg;
    char k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], k3[SYN_KEY_MAX];
    syn_key(k1, bilan_id, "");
    syn_key(k2, bilan_id, ":retention");
    syn_key(k3, bilan_id, ":grantees");
    const char *argv[] = { k1, k2, k3 };
    size_t lens[] = { strlen(k1), strlen(k2), strlen(k3) };
    int rv = bsl_redis_eval(app->redis, app->scripts.erase_facts, timeout_ms, on_facts, op, 3, 3,
                            argv, lens);
    if (rv != BSL_OK) {
        free(op);
    }
    return rv;
}

/* ---- EraseBilanData ---------------------------------------------------------------------- */

static void on_erased(int err, uint32_t keys_deleted, bool key_destroyed, void *arg)
{
    bsl_call *call = arg;
    const Boussole__V1__EraseBilanDataRequest *in = (const void *)bsl_call_request(call);
    if (err != BSL_OK) {
        bsl_call_fail_err(call, err, "erasing the bilan's syntheses data");
        return;
    }
    Boussole__V1__EraseBilanDataResponse out = BOUSSOLE__V1__ERASE_BILAN_DATA_RESPONSE__INIT;
    out.bilan_id = in->bilan_id;
    out.keys_deleted = keys_deleted;
    out.data_key_destroyed = key_destroyed;
    bsl_call_reply(call, &out.base);
}

SYN_HANDLER(erase_bilan_data, EraseBilanDataRequest, EraseBilanDataResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    bsl_check_text(&chk, "reason", in->reason, 0, SYN_REASON_TEXT_MAX);
    if (!bsl_check_end(&chk)) {
        return;
    }
    int rv =
        syn_erase_local(syn_of(service), in->bilan_id, in->reason[0] ? in->reason : "unspecified",
                        bsl_call_remaining_ms(call), on_erased, call);
    if (rv != BSL_OK) {
        bsl_call_fail_err(call, rv, "erasing the bilan's syntheses data");
    }
}
