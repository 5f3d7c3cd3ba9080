/*
 * ListBilans: a beneficiary's, a counselor's or an organisation's bilans, newest first, a page
 * at a time. The index (a zset per owner, keys.h) is walked from a cursor in batches; each
 * batch's bilans are read (pipelined HGETALLs: they live in other slots than the index) and
 * filtered by phase, status, the admin's organisation, and the owner itself (an entry left
 * behind by a reassignment is skipped and removed). A page examines at most
 * SESS_MAX_LIST_SCAN entries, so a selective filter answers a short page with a token rather
 * than walking the whole index.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/check.h"
#include "boussole/err.h"
#include "keys.h"
#include "bounds.h"
#include "store.h"

typedef struct list_op list_op;

/* One bilan of a batch being read. */
typedef struct hash_slot {
    list_op *l;
    sess_value hash;
} hash_slot;

struct list_op {
    bsl_call *call;
    sessions_app *app;
    bsl_arena *arena;
    char index[SESSIONS_KEY_MAX];
    const char *owner_field; /* "beneficiary", "counselor", "organisation" */
    const char *owner;
    const char *org_filter; /* an admin listing a person: only their organisation's bilans */
    int phase;
    int status;
    uint32_t size;
    int64_t now_ms;
    /* The cursor: the last index entry passed. */
    bool has_cursor;
    int64_t cursor_score;
    char cursor_id[BSL_ID_LEN + 1];
    unsigned examined;
    /* The batch being read. */
    size_t batch_n;
    bool batch_full;
    char (*batch_ids)[BSL_ID_LEN + 1];
    int64_t *batch_scores;
    hash_slot *batch_hashes;
    size_t pending;
    int err;
    /* The page. */
    Boussole__V1__Bilan **bilans;
    size_t n_bilans;
};

static void next_batch(list_op *l);

static void finish(list_op *l, bool more)
{
    Boussole__V1__ListBilansResponse out = BOUSSOLE__V1__LIST_BILANS_RESPONSE__INIT;
    out.bilans = l->bilans;
    out.n_bilans = l->n_bilans;
    out.next_page_token = "";
    if (more && l->has_cursor) {
        out.next_page_token =
            bsl_arena_printf(l->arena, "%lld:%s", (long long)l->cursor_score, l->cursor_id);
        if (out.next_page_token == NULL) {
            bsl_call_fail(l->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
    }
    bsl_call_reply(l->call, &out.base);
}

/* Filters the batch in index order, stopping when the page is full. */
static void batch_read(list_op *l)
{
    for (size_t i = 0; i < l->batch_n; i++) {
        l->has_cursor = true;
        l->cursor_score = l->batch_scores[i];
        memcpy(l->cursor_id, l->batch_ids[i], BSL_ID_LEN + 1);
        l->examined++;
        const sess_value *h = &l->batch_hashes[i].hash;
        if (h->type == SESS_V_ARR && h->n == 0) {
            /* The bilan is gone (its administrative record expired after an erasure): so is
             * its entry. */
            bsl_redis_command(l->app->redis, 0, NULL, NULL, "ZREM %s %s", l->index,
                              l->batch_ids[i]);
            continue;
        }
        if (h->type != SESS_V_ARR || h->n % 2 != 0) {
            continue;
        }
        size_t n = h->n / 2;
        const char **names = bsl_arena_calloc(l->arena, n, sizeof(char *));
        const char **values = bsl_arena_calloc(l->arena, n, sizeof(char *));
        if (names == NULL || values == NULL) {
            bsl_call_fail(l->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        for (size_t k = 0; k < n; k++) {
            names[k] = h->items[2 * k].str ? h->items[2 * k].str : "";
            values[k] = h->items[2 * k + 1].str ? h->items[2 * k + 1].str : "";
        }
        sess_bilan b;
        const char *id = bsl_arena_strdup(l->arena, l->batch_ids[i]);
        if (id == NULL || !sess_bilan_parse(&b, id, names, values, n)) {
            continue;
        }
        const char *owner = strcmp(l->owner_field, "beneficiary") == 0 ? b.beneficiary
                            : strcmp(l->owner_field, "counselor") == 0 ? b.counselor
                                                                       : b.organisation;
        if (strcmp(owner, l->owner) != 0) {
            /* Left behind by a reassignment that stopped halfway: tidy it up. */
            bsl_redis_command(l->app->redis, 0, NULL, NULL, "ZREM %s %s", l->index, id);
            continue;
        }
        if ((l->org_filter && strcmp(b.organisation, l->org_filter) != 0) ||
            (l->phase && b.phase != l->phase) || (l->status && b.status != l->status)) {
            continue;
        }
        Boussole__V1__Bilan *pb = sess_bilan_to_pb(l->arena, &b, l->now_ms);
        if (pb == NULL) {
            bsl_call_fail(l->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
            return;
        }
        l->bilans[l->n_bilans++] = pb;
        if (l->n_bilans == l->size) {
            /* Full: more may follow unless this was the index's last entry. */
            finish(l, i + 1 < l->batch_n || l->batch_full);
            return;
        }
    }
    if (!l->batch_full) {
        finish(l, false);
    } else if (l->examined >= SESS_MAX_LIST_SCAN) {
        finish(l, true);
    } else {
        next_batch(l);
    }
}

static void on_hash(const redisReply *reply, int err, void *arg)
{
    hash_slot *slot = arg;
    list_op *l = slot->l;
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        if (l->err == BSL_OK) {
            l->err = err != BSL_OK ? err : BSL_EIO;
        }
    } else if (!sess_copy_reply(l->arena, reply, &slot->hash)) {
        l->err = BSL_ENOMEM;
    }
    if (--l->pending > 0) {
        return;
    }
    if (l->err != BSL_OK) {
        bsl_call_fail_err(l->call, l->err, "reading the bilans");
        return;
    }
    batch_read(l);
}

static void on_page(const redisReply *reply, int err, void *arg)
{
    list_op *l = arg;
    if (err != BSL_OK) {
        bsl_call_fail_err(l->call, err, "reading the index");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
        bsl_call_fail(l->call, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    size_t n = reply->elements / 2;
    uint32_t want = l->size - (uint32_t)l->n_bilans;
    l->batch_full = n == want;
    l->batch_n = 0;
    if (n == 0) {
        finish(l, false);
        return;
    }
    l->batch_hashes = bsl_arena_calloc(l->arena, n, sizeof(hash_slot));
    l->batch_ids = bsl_arena_alloc(l->arena, n * sizeof(*l->batch_ids));
    l->batch_scores = bsl_arena_alloc(l->arena, n * sizeof(int64_t));
    if (l->batch_hashes == NULL || l->batch_ids == NULL || l->batch_scores == NULL) {
        bsl_call_fail(l->call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *m = reply->element[2 * i], *s = reply->element[2 * i + 1];
        if (m->type != REDIS_REPLY_STRING || m->len != BSL_ID_LEN ||
            s->type != REDIS_REPLY_STRING) {
            bsl_call_fail(l->call, BSL_STATUS_INTERNAL, "the index holds something else");
            return;
        }
        memcpy(l->batch_ids[i], m->str, BSL_ID_LEN + 1);
        l->batch_scores[i] = strtoll(s->str, NULL, 10);
    }
    l->batch_n = n;
    l->pending = n;
    l->err = BSL_OK;
    for (size_t i = 0; i < n; i++) {
        char key[SESSIONS_KEY_MAX];
        key_bilan(key, l->batch_ids[i]);
        l->batch_hashes[i].l = l;
        if (bsl_redis_command(l->app->redis, bsl_call_remaining_ms(l->call), on_hash,
                              &l->batch_hashes[i], "HGETALL %s", key) != BSL_OK) {
            l->err = BSL_ENOMEM;
            if (--l->pending == 0) {
                bsl_call_fail_err(l->call, l->err, "reading the bilans");
                return;
            }
        }
    }
}

static void next_batch(list_op *l)
{
    uint32_t want = l->size - (uint32_t)l->n_bilans;
    char score[24] = "", count[16];
    if (l->has_cursor) {
        snprintf(score, sizeof(score), "%lld", (long long)l->cursor_score);
    }
    snprintf(count, sizeof(count), "%u", want);
    const char *argv[] = {
        l->index, "desc", score, l->has_cursor ? l->cursor_id : "", "-inf", count
    };
    size_t lens[6];
    for (int i = 0; i < 6; i++) {
        lens[i] = strlen(argv[i]);
    }
    int rv = bsl_redis_eval(l->app->redis, l->app->page, bsl_call_remaining_ms(l->call), on_page, l,
                            1, 6, argv, lens);
    if (rv != BSL_OK) {
        bsl_call_fail_err(l->call, rv, "reading the index");
    }
}

SESS_HANDLER(list_bilans, ListBilansRequest, ListBilansResponse)
{
    (void)closure;
    sessions_app *app = sessions_of(service);
    bsl_call *call = closure_data;
    const Boussole__V1__Caller *c = bsl_call_caller(call);
    bsl_check chk = bsl_check_begin(call);
    const char *field = NULL, *owner = NULL, *kind = NULL, *owner_field = NULL;
    switch (in->owner_case) {
    case BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_BENEFICIARY_ID:
        field = "beneficiary_id", owner = in->beneficiary_id, kind = "beneficiary";
        owner_field = "beneficiary";
        break;
    case BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_COUNSELOR_ID:
        field = "counselor_id", owner = in->counselor_id, kind = "counselor";
        owner_field = "counselor";
        break;
    case BOUSSOLE__V1__LIST_BILANS_REQUEST__OWNER_ORGANISATION_ID:
        field = "organisation_id", owner = in->organisation_id, kind = "org";
        owner_field = "organisation";
        break;
    default:
        bsl_check_violation(&chk, "owner",
                            "required: beneficiary_id, counselor_id or organisation_id");
        break;
    }
    if (field != NULL) {
        bsl_check_subject(&chk, field, owner);
    }
    bsl_check_enum(&chk, "phase", &boussole__v1__phase__descriptor, (int)in->phase, true);
    bsl_check_enum(&chk, "status", &boussole__v1__bilan_status__descriptor, (int)in->status, true);
    uint32_t size = in->page && in->page->page_size ? in->page->page_size : 20;
    bsl_check_range(&chk, "page.page_size", size, 1, 100);
    int64_t cursor_score = 0;
    char cursor_id[BSL_ID_LEN + 1] = "";
    bool has_cursor = in->page && in->page->page_token[0] != '\0';
    if (has_cursor && !sess_cursor_parse(in->page->page_token, &cursor_score, cursor_id)) {
        bsl_check_violation(&chk, "page.page_token", "not a token this service gave");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    /* Who may list whom: a person their own bilans, an admin their organisation's. */
    const char *org_filter = NULL;
    bool self =
        (c->role == BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY && strcmp(kind, "beneficiary") == 0) ||
        (c->role == BOUSSOLE__V1__ROLE__ROLE_COUNSELOR && strcmp(kind, "counselor") == 0);
    if (self && strcmp(c->subject, owner) == 0) {
        org_filter = NULL;
    } else if (c->role == BOUSSOLE__V1__ROLE__ROLE_ADMIN && c->organisation[0] != '\0' &&
               (strcmp(kind, "org") != 0 || strcmp(owner, c->organisation) == 0)) {
        org_filter = c->organisation;
    } else {
        bsl_call_fail(call, BSL_STATUS_PERMISSION_DENIED,
                      "a person lists their own bilans; an admin, their organisation's");
        return;
    }
    bsl_arena *a = bsl_call_arena(call);
    list_op *l = bsl_arena_calloc(a, 1, sizeof(*l));
    Boussole__V1__Bilan **bilans = bsl_arena_calloc(a, size, sizeof(*bilans));
    if (l == NULL || bilans == NULL) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    l->call = call;
    l->app = app;
    l->arena = a;
    key_index(l->index, kind, owner);
    l->owner_field = owner_field;
    l->owner = owner;
    l->org_filter = org_filter;
    l->phase = (int)in->phase;
    l->status = (int)in->status;
    l->size = size;
    l->now_ms = bsl_clock_now_ms(app->clock);
    l->has_cursor = has_cursor;
    l->cursor_score = cursor_score;
    memcpy(l->cursor_id, cursor_id, sizeof(cursor_id));
    l->bilans = bilans;
    next_batch(l);
}
