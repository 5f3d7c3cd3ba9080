/*
 * The retention sweep. Documents of a bilan are destroyed when it ends, except
 *   (a) a synthesis the beneficiary sent to a CEP operator (a live CEP grant), and
 *   (b) documents the beneficiary agreed to keep for the follow-up (a recorded consent),
 * both held one year after the end at most. One sweep:
 *
 *   1. takes the lock "syntheses:sweep:lock" (SET NX PX with a random token; released by a
 *      script that deletes it only if the token is still ours), so that one replica sweeps at
 *      a time; a replica that finds it taken does nothing;
 *   2. pages through the sessions service's ended bilans (ListEndedBilans, ended before now)
 *      and decides for each bilan not yet held:
 *        - one year after the end:      erase everything;
 *        - consent to keep:             hold everything until end + 1 year;
 *        - a live CEP grant:            erase the questionnaires and sessions data now, hold
 *                                       the synthesis until the grant ends, end + 1 year at
 *                                       most;
 *        - otherwise:                   erase everything;
 *   3. takes the held bilans that are due (zset "syntheses:held", scored by due time; a
 *      revoked consent or CEP grant makes them due at once) and decides again the same way;
 *   4. releases the lock.
 *
 * Reasons are short codes (the sessions service takes [A-Za-z0-9 _.-] only):
 *   retention-end-of-bilan                           nothing justified keeping anything
 *   retention-end-of-bilan-synthesis-kept-for-cep    the rest goes, the synthesis is held
 *   retention-hold-ended                             consent withdrawn, CEP grant revoked or
 *                                                    expired
 *   retention-one-year-after-end                     the longest any document is held
 *
 * Erasing calls EraseBilanData on the questionnaires service, on this service (in-process) and
 * on the sessions service last, so that a bilan whose erasure fails half-way is still listed as
 * ended and is finished by the next sweep. Every step is idempotent. Each destruction is
 * recorded (erase.c).
 */
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"
#include "boussole/pbutil.h"
#include "erase.h"
#include "keys.h"
#include "sweep.h"

#define PAGE_SIZE    100
#define MAX_PAGES    10
#define LOCK_TTL_MS  300000
#define CALL_TIMEOUT 10000
#define MAX_WAITERS  16

enum { ERASE_QUESTIONNAIRES = 1, ERASE_SYNTHESES = 2, ERASE_SESSIONS = 4 };

/* What to do with one bilan, in order. */
typedef enum step {
    STEP_HOLD_RECORD,   /* hold script: mode, end, due */
    STEP_HOLD_QUEUE,    /* ZADD syntheses:held due bilan */
    STEP_ERASE_Q,       /* questionnaires */
    STEP_ERASE_SYN,     /* this service */
    STEP_ERASE_SESS,    /* sessions */
    STEP_MARK_SESSIONS, /* HSET retention sessions_erased 1 */
    STEP_DONE,
} step;

typedef struct item {
    char bilan[BSL_ID_LEN + 1];
    int64_t end_ms;
} item;

struct syn_sweeper {
    syn_app *app;
    ev_timer timer;
    uint32_t interval_ms;
    bool running;
    bool closing; /* the service stops: finish at the next callback and free */
    bool phase_held;
    int64_t now;
    char token[33];
    Boussole__V1__RetentionSweepReport report;
    bsl_call *waiters[MAX_WAITERS];
    size_t n_waiters;
    char page_token[64];
    unsigned pages;
    item items[PAGE_SIZE];
    size_t n_items, idx;

    /* The bilan being handled. */
    struct {
        bool keep;
        char mode[16];
        bool sessions_erased;
        int64_t cep_until;
        char organisation[BSL_SUBJECT_MAX + 1];
        int64_t end_ms;
        int64_t due_ms;
        const char *reason;
        const char *hold_mode;
        bool steps[STEP_DONE];
        step at;
        bool erased_any;
    } cur;
};

static void next_item(syn_sweeper *s);
static void run_step(syn_sweeper *s);
static void list_page(syn_sweeper *s);
static void list_held(syn_sweeper *s);

static const bsl_logger *log_of(syn_sweeper *s)
{
    return s->app->log;
}

/* ---- the end of a sweep ------------------------------------------------------------------ */

static void answer_waiters(syn_sweeper *s)
{
    for (size_t i = 0; i < s->n_waiters; i++) {
        bsl_call_reply(s->waiters[i], &s->report.base);
    }
    s->n_waiters = 0;
}

static void finished(syn_sweeper *s)
{
    bsl_log(log_of(s), BSL_LOG_INFO, NULL, NULL,
            "retention sweep: ran=%d examined=%u destroyed=%u held=%u failed=%u",
            (int)s->report.ran, s->report.examined, s->report.destroyed, s->report.held,
            s->report.failed);
    s->running = false;
    answer_waiters(s);
    if (s->closing) {
        free(s);
    }
}

/* Every callback starts here: when the service is stopping, the sweep ends where it is (every
 * step is idempotent; the next sweep picks up). */
static bool stopping(syn_sweeper *s)
{
    if (s->closing) {
        finished(s);
        return true;
    }
    return false;
}

static void on_unlocked(const redisReply *reply, int err, void *arg)
{
    (void)reply;
    syn_sweeper *s = arg;
    if (stopping(s)) {
        return;
    }
    if (err != BSL_OK) {
        /* The lock expires by itself. */
        bsl_log(log_of(s), BSL_LOG_WARN, NULL, NULL, "retention sweep: releasing the lock: %s",
                bsl_strerror(err));
    }
    finished(s);
}

static void release(syn_sweeper *s)
{
    const char *argv[] = { SYN_KEY_SWEEP_LOCK, s->token };
    size_t lens[] = { strlen(SYN_KEY_SWEEP_LOCK), strlen(s->token) };
    if (bsl_redis_eval(s->app->redis, s->app->scripts.unlock, CALL_TIMEOUT, on_unlocked, s, 1, 2,
                       argv, lens) != BSL_OK) {
        finished(s);
    }
}

/* ---- one bilan --------------------------------------------------------------------------- */

static void item_failed(syn_sweeper *s, const char *what, const char *why)
{
    s->report.failed++;
    bsl_log_with(log_of(s), BSL_LOG_WARN, NULL, NULL,
                 (bsl_log_field[]){ BSL_LOG_STR("bilan", s->items[s->idx].bilan) }, 1,
                 "retention sweep: %s failed (%s); the next sweep retries", what, why);
    s->idx++;
    next_item(s);
}

static void step_done(syn_sweeper *s)
{
    s->cur.at++;
    run_step(s);
}

static void on_step_reply(const redisReply *reply, int err, void *arg)
{
    syn_sweeper *s = arg;
    if (stopping(s)) {
        return;
    }
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        item_failed(s, "a Redis step", err != BSL_OK ? bsl_strerror(err) : reply->str);
        return;
    }
    step_done(s);
}

static void on_recorded(const redisReply *reply, int err, void *arg)
{
    on_step_reply(reply, err, arg);
}

static void record_remote(syn_sweeper *s, const char *service, const bsl_reply *reply)
{
    const Boussole__V1__EraseBilanDataResponse *r =
        (const Boussole__V1__EraseBilanDataResponse *)reply->msg;
    s->cur.erased_any = true;
    if (r == NULL || (r->keys_deleted == 0 && !r->data_key_destroyed)) {
        step_done(s); /* nothing was there any more */
        return;
    }
    int rv = syn_destruction_record(s->app, s->items[s->idx].bilan, s->cur.organisation, service,
                                    s->cur.reason, r->keys_deleted, r->data_key_destroyed,
                                    CALL_TIMEOUT, on_recorded, s);
    if (rv != BSL_OK) {
        item_failed(s, "recording a destruction", bsl_strerror(rv));
    }
}

static void on_remote_erased(const bsl_reply *reply, void *arg)
{
    syn_sweeper *s = arg;
    if (stopping(s)) {
        return;
    }
    const char *service = s->cur.at == STEP_ERASE_Q ? "questionnaires" : "sessions";
    if (reply->code != BSL_STATUS_OK) {
        char what[64];
        snprintf(what, sizeof(what), "EraseBilanData on the %s service", service);
        item_failed(s, what, reply->message);
        return;
    }
    record_remote(s, service, reply);
}

static void on_local_erased(int err, uint32_t keys, bool key_destroyed, void *arg)
{
    (void)keys;
    (void)key_destroyed;
    syn_sweeper *s = arg;
    if (stopping(s)) {
        return;
    }
    if (err != BSL_OK) {
        item_failed(s, "erasing the syntheses data", bsl_strerror(err));
        return;
    }
    s->cur.erased_any = true;
    step_done(s);
}

static void erase_remote(syn_sweeper *s, bsl_client *peer, const char *method)
{
    Boussole__V1__EraseBilanDataRequest req = BOUSSOLE__V1__ERASE_BILAN_DATA_REQUEST__INIT;
    req.bilan_id = s->items[s->idx].bilan;
    req.reason = (char *)s->cur.reason;
    bsl_call_opts o = { .caller = bsl_service_caller(s->app->svc), .deadline_ms = CALL_TIMEOUT };
    int rv = bsl_client_call(peer, method, &req.base, &o, on_remote_erased, s);
    if (rv != BSL_OK) {
        item_failed(s, method, bsl_strerror(rv));
    }
}

static void run_step(syn_sweeper *s)
{
    while (s->cur.at < STEP_DONE && !s->cur.steps[s->cur.at]) {
        s->cur.at++;
    }
    const char *bilan = s->items[s->idx].bilan;
    char k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], end[24], due[24];
    int rv = BSL_OK;
    switch (s->cur.at) {
    case STEP_HOLD_RECORD: {
        syn_key(k1, bilan, ":retention");
        syn_key(k2, bilan, "");
        snprintf(end, sizeof(end), "%lld", (long long)s->cur.end_ms);
        snprintf(due, sizeof(due), "%lld", (long long)s->cur.due_ms);
        const char *argv[] = { k1, k2, s->cur.hold_mode, end, due };
        size_t lens[] = { strlen(k1), strlen(k2), strlen(s->cur.hold_mode), strlen(end),
                          strlen(due) };
        rv = bsl_redis_eval(s->app->redis, s->app->scripts.hold, CALL_TIMEOUT, on_step_reply, s, 2,
                            5, argv, lens);
        break;
    }
    case STEP_HOLD_QUEUE:
        rv = bsl_redis_command(s->app->redis, CALL_TIMEOUT, on_step_reply, s, "ZADD %s %lld %s",
                               SYN_KEY_HELD, (long long)s->cur.due_ms, bilan);
        break;
    case STEP_ERASE_Q:
        erase_remote(s, s->app->questionnaires, "boussole.v1.QuestionnaireService/EraseBilanData");
        return;
    case STEP_ERASE_SYN:
        rv = syn_erase_local(s->app, bilan, s->cur.reason, CALL_TIMEOUT, on_local_erased, s);
        break;
    case STEP_ERASE_SESS:
        erase_remote(s, s->app->sessions, "boussole.v1.SessionService/EraseBilanData");
        return;
    case STEP_MARK_SESSIONS:
        syn_key(k1, bilan, ":retention");
        rv = bsl_redis_command(s->app->redis, CALL_TIMEOUT, on_step_reply, s,
                               "HSET %s sessions_erased 1", k1);
        break;
    case STEP_DONE:
        if (s->cur.erased_any) {
            s->report.destroyed++;
        }
        s->idx++;
        next_item(s);
        return;
    }
    if (rv != BSL_OK) {
        item_failed(s, "a step", bsl_strerror(rv));
    }
}

/* Decides what happens to the current bilan (see the top of the file). */
static void decide(syn_sweeper *s)
{
    memset(s->cur.steps, 0, sizeof(s->cur.steps));
    s->cur.at = STEP_HOLD_RECORD;
    s->cur.erased_any = false;
    int64_t year_after = s->cur.end_ms + SYN_YEAR_MS;
    bool erase_all = false;
    if (s->now >= year_after) {
        erase_all = true;
        s->cur.reason = "retention-one-year-after-end";
    } else if (s->cur.keep) {
        s->cur.hold_mode = "all";
        s->cur.due_ms = year_after;
        s->cur.steps[STEP_HOLD_RECORD] = true;
        s->cur.steps[STEP_HOLD_QUEUE] = true;
        s->report.held++;
    } else if (s->cur.cep_until > s->now) {
        s->cur.hold_mode = "synthesis";
        s->cur.due_ms = s->cur.cep_until < year_after ? s->cur.cep_until : year_after;
        s->cur.reason = "retention-end-of-bilan-synthesis-kept-for-cep";
        s->cur.steps[STEP_HOLD_RECORD] = true;
        s->cur.steps[STEP_HOLD_QUEUE] = true;
        if (!s->cur.sessions_erased) {
            s->cur.steps[STEP_ERASE_Q] = true;
            s->cur.steps[STEP_ERASE_SESS] = true;
            s->cur.steps[STEP_MARK_SESSIONS] = true;
        }
        s->report.held++;
    } else {
        erase_all = true;
        s->cur.reason =
            strcmp(s->cur.mode, "") == 0 ? "retention-end-of-bilan" : "retention-hold-ended";
    }
    if (erase_all) {
        /* What a CEP hold erased already is not erased again: a second erasure would record a
         * second destruction. */
        s->cur.steps[STEP_ERASE_Q] = !s->cur.sessions_erased;
        s->cur.steps[STEP_ERASE_SYN] = true;
        s->cur.steps[STEP_ERASE_SESS] = !s->cur.sessions_erased;
    }
    run_step(s);
}

/* {keep, mode, sessions_erased, cep, organisation, data, end_ms, due_ms} */
static void on_facts(const redisReply *reply, int err, void *arg)
{
    syn_sweeper *s = arg;
    if (stopping(s)) {
        return;
    }
    if (err != BSL_OK) {
        item_failed(s, "reading the retention facts", bsl_strerror(err));
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 8) {
        item_failed(s, "reading the retention facts", "unexpected answer");
        return;
    }
    for (size_t i = 0; i < 8; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            item_failed(s, "reading the retention facts", "unexpected answer");
            return;
        }
    }
    s->cur.keep = strcmp(reply->element[0]->str, "1") == 0;
    snprintf(s->cur.mode, sizeof(s->cur.mode), "%s", reply->element[1]->str);
    s->cur.sessions_erased = strcmp(reply->element[2]->str, "1") == 0;
    s->cur.cep_until = syn_str_i64(reply->element[3]->str);
    snprintf(s->cur.organisation, sizeof(s->cur.organisation), "%s", reply->element[4]->str);
    int64_t stored_end = syn_str_i64(reply->element[6]->str);
    s->cur.due_ms = syn_str_i64(reply->element[7]->str);
    item *it = &s->items[s->idx];
    if (!s->phase_held && s->cur.mode[0] != '\0') {
        /* Held already: the held queue decides when. Make sure it is queued (a sweep that
         * stopped between the two writes left it unqueued). */
        int rv = bsl_redis_command(s->app->redis, CALL_TIMEOUT, on_step_reply, s,
                                   "ZADD %s NX %lld %s", SYN_KEY_HELD,
                                   (long long)(s->cur.due_ms ? s->cur.due_ms : s->now), it->bilan);
        if (rv != BSL_OK) {
            item_failed(s, "queueing a held bilan", bsl_strerror(rv));
            return;
        }
        /* No step is set: the reply moves past the last one and on to the next bilan. */
        memset(s->cur.steps, 0, sizeof(s->cur.steps));
        s->cur.at = STEP_MARK_SESSIONS;
        return;
    }
    s->cur.end_ms = s->phase_held ? stored_end : it->end_ms;
    if (s->cur.end_ms <= 0) {
        /* A held bilan whose end was not recorded: hold it no longer than a year from now. */
        s->cur.end_ms = it->end_ms > 0 ? it->end_ms : s->now;
    }
    decide(s);
}

static void next_item(syn_sweeper *s)
{
    if (s->idx >= s->n_items) {
        if (s->phase_held) {
            release(s);
        } else if (s->page_token[0] != '\0' && s->pages < MAX_PAGES) {
            list_page(s);
        } else {
            list_held(s);
        }
        return;
    }
    item *it = &s->items[s->idx];
    s->report.examined++;
    memset(&s->cur, 0, sizeof(s->cur));
    char k1[SYN_KEY_MAX], k2[SYN_KEY_MAX], k3[SYN_KEY_MAX], now[24];
    syn_key(k1, it->bilan, ":retention");
    syn_key(k2, it->bilan, ":grants");
    syn_key(k3, it->bilan, "");
    snprintf(now, sizeof(now), "%lld", (long long)s->now);
    const char *argv[] = { k1, k2, k3, now };
    size_t lens[] = { strlen(k1), strlen(k2), strlen(k3), strlen(now) };
    int rv = bsl_redis_eval(s->app->redis, s->app->scripts.retention_facts, CALL_TIMEOUT, on_facts,
                            s, 3, 4, argv, lens);
    if (rv != BSL_OK) {
        item_failed(s, "reading the retention facts", bsl_strerror(rv));
    }
}

/* ---- the lists --------------------------------------------------------------------------- */

static void on_held(const redisReply *reply, int err, void *arg)
{
    syn_sweeper *s = arg;
    if (stopping(s)) {
        return;
    }
    s->phase_held = true;
    s->n_items = s->idx = 0;
    if (err != BSL_OK || reply->type != REDIS_REPLY_ARRAY) {
        s->report.failed++;
        bsl_log(log_of(s), BSL_LOG_WARN, NULL, NULL, "retention sweep: reading the held queue: %s",
                err != BSL_OK ? bsl_strerror(err) : "unexpected answer");
        release(s);
        return;
    }
    for (size_t i = 0; i < reply->elements && s->n_items < PAGE_SIZE; i++) {
        const redisReply *m = reply->element[i];
        if (m->type == REDIS_REPLY_STRING && bsl_id_valid(m->str)) {
            item *it = &s->items[s->n_items++];
            snprintf(it->bilan, sizeof(it->bilan), "%s", m->str);
            it->end_ms = 0;
        }
    }
    next_item(s);
}

static void list_held(syn_sweeper *s)
{
    int rv = bsl_redis_command(s->app->redis, CALL_TIMEOUT, on_held, s,
                               "ZRANGEBYSCORE %s -inf %lld LIMIT 0 %d", SYN_KEY_HELD,
                               (long long)s->now, PAGE_SIZE);
    if (rv != BSL_OK) {
        s->report.failed++;
        release(s);
    }
}

static void on_page(const bsl_reply *reply, void *arg)
{
    syn_sweeper *s = arg;
    if (stopping(s)) {
        return;
    }
    s->n_items = s->idx = 0;
    s->pages++;
    if (reply->code != BSL_STATUS_OK || reply->msg == NULL) {
        s->report.failed++;
        bsl_log(log_of(s), BSL_LOG_WARN, NULL, NULL,
                "retention sweep: ListEndedBilans failed: %s %s", bsl_status_name(reply->code),
                reply->message);
        s->page_token[0] = '\0';
        list_held(s);
        return;
    }
    const Boussole__V1__ListEndedBilansResponse *r =
        (const Boussole__V1__ListEndedBilansResponse *)reply->msg;
    for (size_t i = 0; i < r->n_bilans && s->n_items < PAGE_SIZE; i++) {
        if (!bsl_id_valid(r->bilans[i]->bilan_id)) {
            continue;
        }
        item *it = &s->items[s->n_items++];
        snprintf(it->bilan, sizeof(it->bilan), "%s", r->bilans[i]->bilan_id);
        it->end_ms = bsl_pb_timestamp_ms(r->bilans[i]->end_time);
    }
    if (strlen(r->next_page_token) < sizeof(s->page_token)) {
        snprintf(s->page_token, sizeof(s->page_token), "%s", r->next_page_token);
    } else {
        s->page_token[0] = '\0';
    }
    next_item(s);
}

static void list_page(syn_sweeper *s)
{
    Boussole__V1__ListEndedBilansRequest req = BOUSSOLE__V1__LIST_ENDED_BILANS_REQUEST__INIT;
    Boussole__V1__PageRequest page = BOUSSOLE__V1__PAGE_REQUEST__INIT;
    Google__Protobuf__Timestamp before;
    google__protobuf__timestamp__init(&before);
    before.seconds = s->now / 1000;
    before.nanos = (int32_t)((s->now % 1000) * 1000000);
    page.page_size = PAGE_SIZE;
    page.page_token = s->page_token;
    req.ended_before = &before;
    req.page = &page;
    bsl_call_opts o = { .caller = bsl_service_caller(s->app->svc), .deadline_ms = CALL_TIMEOUT };
    int rv = bsl_client_call(s->app->sessions, "boussole.v1.SessionService/ListEndedBilans",
                             &req.base, &o, on_page, s);
    if (rv != BSL_OK) {
        s->report.failed++;
        list_held(s);
    }
}

static void on_locked(const redisReply *reply, int err, void *arg)
{
    syn_sweeper *s = arg;
    if (stopping(s)) {
        return;
    }
    if (err != BSL_OK || bsl_redis_is_error(reply)) {
        s->report.failed++;
        finished(s);
        return;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        /* Another replica is sweeping. */
        finished(s);
        return;
    }
    s->report.ran = true;
    s->page_token[0] = '\0';
    s->pages = 0;
    s->phase_held = false;
    list_page(s);
}

/* ---- starting ---------------------------------------------------------------------------- */

static void start(syn_sweeper *s)
{
    s->running = true;
    boussole__v1__retention_sweep_report__init(&s->report);
    s->now = bsl_clock_now_ms(s->app->clock);
    bsl_hex_random(s->token, 16);
    int rv = bsl_redis_command(s->app->redis, CALL_TIMEOUT, on_locked, s, "SET %s %s NX PX %d",
                               SYN_KEY_SWEEP_LOCK, s->token, LOCK_TTL_MS);
    if (rv != BSL_OK) {
        s->report.failed++;
        finished(s);
    }
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    syn_sweeper *s = w->data;
    if (!s->running) {
        start(s);
    }
}

int syn_sweeper_create(syn_sweeper **out, syn_app *app, uint32_t interval_ms)
{
    syn_sweeper *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return BSL_ENOMEM;
    }
    s->app = app;
    s->interval_ms = interval_ms;
    ev_timer_init(&s->timer, on_timer, interval_ms / 1e3, interval_ms / 1e3);
    s->timer.data = s;
    if (interval_ms > 0) {
        struct ev_loop *loop = bsl_service_loop(app->svc);
        ev_timer_start(loop, &s->timer);
        ev_unref(loop); /* the sweep timer alone does not keep the service running */
    }
    *out = s;
    return BSL_OK;
}

void syn_sweeper_free(syn_sweeper *s)
{
    if (s == NULL) {
        return;
    }
    if (s->interval_ms > 0) {
        struct ev_loop *loop = bsl_service_loop(s->app->svc);
        ev_ref(loop);
        ev_timer_stop(loop, &s->timer);
    }
    if (s->running) {
        /* Its Redis and client callbacks are still to come (they are called back when Redis
         * and the clients close): the last one frees it. */
        s->closing = true;
        return;
    }
    free(s);
}

bool syn_sweeper_running(const syn_sweeper *s)
{
    return s->running;
}

/* ---- RunRetentionSweep ------------------------------------------------------------------- */

void syn_run_retention_sweep(Boussole__V1__SynthesisService_Service *service,
                             const Boussole__V1__RunRetentionSweepRequest *in,
                             Boussole__V1__RetentionSweepReport_Closure closure, void *closure_data)
{
    (void)in;
    (void)closure;
    bsl_call *call = closure_data;
    syn_sweeper *s = syn_of(service)->sweeper;
    if (s->n_waiters == MAX_WAITERS) {
        bsl_call_fail(call, BSL_STATUS_RESOURCE_EXHAUSTED, "too many callers waiting for a sweep");
        return;
    }
    /* A caller arriving during a sweep gets that sweep's report. */
    s->waiters[s->n_waiters++] = call;
    if (!s->running) {
        start(s);
    }
}
