/* ListSynthesisAccessLog: the beneficiary reads who read their synthesis. The log is a Redis
 * stream appended by the scripts that read the document (load.c, scripts.c); the API has no
 * way to change or remove an entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "handlers.h"
#include "keys.h"

/* A stream id "<ms>-<seq>". */
static bool stream_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 41) {
        return false;
    }
    const char *dash = strchr(s, '-');
    if (dash == NULL || dash == s || dash[1] == '\0') {
        return false;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (p != dash && (*p < '0' || *p > '9')) {
            return false;
        }
    }
    return true;
}

static const char *entry_field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        if (fields->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(fields->element[i]->str, name) == 0 &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING) {
            return fields->element[i + 1]->str;
        }
    }
    return "";
}

Boussole__V1__SynthesisAccessEntry *syn_access_entry(bsl_arena *a, const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    const redisReply *f = e->element[1];
    Boussole__V1__SynthesisAccessEntry *x = bsl_arena_alloc(a, sizeof(*x));
    if (x == NULL) {
        return NULL;
    }
    boussole__v1__synthesis_access_entry__init(x);
    x->id = bsl_arena_strdup(a, e->element[0]->str);
    x->time = bsl_pb_timestamp(a, syn_str_i64(entry_field(f, "ms")));
    x->reader_id = bsl_arena_strdup(a, entry_field(f, "reader"));
    x->reader_role = (Boussole__V1__Role)atoi(entry_field(f, "role"));
    x->version = (uint32_t)strtoul(entry_field(f, "ver"), NULL, 10);
    x->revision = strtoull(entry_field(f, "rev"), NULL, 10);
    x->channel = bsl_arena_strdup(a, entry_field(f, "channel"));
    size_t n = 0;
    x->sections = syn_mask_sections(
        a, (syn_mask)strtoul(entry_field(f, "sections"), NULL, 10) & SYN_MASK_SHAREABLE, &n);
    x->n_sections = n;
    const char *grants = entry_field(f, "grants");
    size_t ng = 0;
    for (const char *p = grants; *p != '\0'; p++) {
        ng += *p == ',';
    }
    ng += grants[0] != '\0';
    x->grant_ids = bsl_arena_calloc(a, ng + 1, sizeof(*x->grant_ids));
    if (x->id == NULL || x->time == NULL || x->reader_id == NULL || x->channel == NULL ||
        x->grant_ids == NULL) {
        return NULL;
    }
    for (const char *p = grants; *p != '\0' && x->n_grant_ids < ng;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        x->grant_ids[x->n_grant_ids++] = bsl_arena_strndup(a, p, len);
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    return x;
}

static void on_entries(const redisReply *reply, int err, void *arg)
{
    syn_ctx *ctx = arg;
    const Boussole__V1__ListSynthesisAccessLogRequest *in =
        (const void *)bsl_call_request(ctx->call);
    if (err != BSL_OK) {
        syn_fail_err(ctx, err, "reading the access log");
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_ARRAY ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
        syn_fail(ctx, BSL_STATUS_INTERNAL, "unexpected answer from Redis");
        return;
    }
    long long dropped = reply->element[1]->integer;
    reply = reply->element[0];
    bsl_arena *a = bsl_call_arena(ctx->call);
    uint32_t size = in->page && in->page->page_size ? in->page->page_size : 20;
    Boussole__V1__ListSynthesisAccessLogResponse out =
        BOUSSOLE__V1__LIST_SYNTHESIS_ACCESS_LOG_RESPONSE__INIT;
    out.entries = bsl_arena_calloc(a, reply->elements + 1, sizeof(*out.entries));
    if (out.entries == NULL) {
        syn_fail(ctx, BSL_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (size_t i = 0; i < reply->elements; i++) {
        Boussole__V1__SynthesisAccessEntry *x = syn_access_entry(a, reply->element[i]);
        if (x == NULL) {
            syn_fail(ctx, BSL_STATUS_INTERNAL, "an access log entry is unreadable");
            return;
        }
        out.entries[out.n_entries++] = x;
    }
    out.next_page_token =
        out.n_entries == size && out.n_entries > 0 ? out.entries[out.n_entries - 1]->id : "";
    out.dropped_entries = dropped > 0 ? (uint64_t)dropped : 0;
    syn_reply(ctx, &out.base);
}

static void access_log_begin(syn_ctx *ctx)
{
    const Boussole__V1__ListSynthesisAccessLogRequest *in =
        (const void *)bsl_call_request(ctx->call);
    uint32_t size = in->page && in->page->page_size ? in->page->page_size : 20;
    char key[SYN_KEY_MAX], start[48] = "-";
    syn_key(key, ctx->bilan.id, ":access");
    if (in->page != NULL && in->page->page_token[0] != '\0') {
        snprintf(start, sizeof(start), "(%s", in->page->page_token);
    }
    char count[16];
    snprintf(count, sizeof(count), "%u", size);
    const char *argv[] = { key, start, count };
    size_t lens[] = { strlen(key), strlen(start), strlen(count) };
    int rv = bsl_redis_eval(ctx->app->redis, ctx->app->scripts.access_page,
                            bsl_call_remaining_ms(ctx->call), on_entries, ctx, 1, 3, argv, lens);
    if (rv != BSL_OK) {
        syn_fail_err(ctx, rv, "reading the access log");
    }
}

SYN_HANDLER(list_synthesis_access_log, ListSynthesisAccessLogRequest,
            ListSynthesisAccessLogResponse)
{
    (void)closure;
    bsl_call *call = closure_data;
    bsl_check chk = bsl_check_begin(call);
    bsl_check_id(&chk, "bilan_id", in->bilan_id);
    syn_check_page(&chk, in->page, false);
    if (in->page != NULL && in->page->page_token[0] != '\0' &&
        !stream_id_valid(in->page->page_token)) {
        bsl_check_violation(&chk, "page.page_token", "not a token this service gave");
    }
    if (!bsl_check_end(&chk)) {
        return;
    }
    syn_begin(syn_of(service), call, in->bilan_id, 0, access_log_begin, NULL);
}
