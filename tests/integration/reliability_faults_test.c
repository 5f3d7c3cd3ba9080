/*
 * Faults under load, through the gateway, against real redis-server, service and
 * boussole-gateway processes (tests/reliability/rel_harness.h keeps the HTTP load going):
 *
 * - Redis killed (SIGKILL) and restarted under a bounded write load, with appendfsync always
 *   (an acknowledged write is on disk): every write acknowledged to a client (bilans created,
 *   answers saved) is read back after the restart; the calls made while Redis is down fail
 *   fast with UNAVAILABLE (HTTP 503); the services recover by themselves (same processes).
 * - A sessions replica killed (SIGKILL) under load behind the gateway: reads and keyed
 *   creations all succeed (sent again to the other replica); each creation is applied exactly
 *   once (one bilan per idempotency key, even when the client sends the key again).
 * - Clean shutdown under load: a sessions replica stopped with SIGTERM (a rolling restart)
 *   loses no call; the gateway stopped with SIGTERM answers every call it had received, and
 *   exits 0.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "../reliability/rel_harness.h"
#include "boussole/service.h"
#include "gateway_harness.h"

#define MAX_ACKED 20000

/* The environment of the test running: its teardown stops every process of it, also when the
 * test failed half-way. */
static te_env *running;

static int stop_env(void **state)
{
    (void)state;
    if (running != NULL) {
        te_fini(running);
        running = NULL;
    }
    return 0;
}

static char *post_ok(int port, const char *method, const char *token, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static char *post_ok(int port, const char *method, const char *token, const char *fmt, ...)
{
    char *json = NULL;
    va_list ap;
    va_start(ap, fmt);
    assert_true(vasprintf(&json, fmt, ap) > 0);
    va_end(ap);
    char full[200];
    snprintf(full, sizeof(full), "boussole.v1.%s", method);
    gwh_resp r;
    int st = gwh_post(port, full, token, json, NULL, &r);
    if (st != 200) {
        fail_msg("%s: HTTP %d: %s", method, st, r.body ? r.body : "");
    }
    char *body = strdup(r.body ? r.body : "");
    gwh_resp_free(&r);
    free(json);
    return body;
}

/* ---- Redis killed and restarted under writes ------------------------------------------------ */

typedef struct wload {
    te_env *env;
    char *counselor, *beneficiary;
    char bilan[32], assignment[32];
    int n_slots;
    long long t0, kill_at, restart_at, end_at;
    bool killed, restarted;
    /* creations acknowledged */
    char (*acked)[32];
    int n_acked;
    /* answers: item of each slot, the value last sent and the last acknowledged */
    int item_value[48], item_acked[48], item_sent[48];
    bool item_unsure[48]; /* a write whose outcome is unknown went out after the last ack */
    unsigned long long ok_before, ok_outage, ok_after, unavailable, other, no_answer;
    long long outage_latency_max_us;
    rel_stats outage;
    long long first_ok_after_restart_us;
    int seq, slot_seq[16];
    char first_other[300];
} wload;

static const char *item_id(int i)
{
    static char ids[48][8];
    snprintf(ids[i], 8, "%c%d", "riasec"[i / 8], i % 8 + 1);
    return ids[i];
}

static bool w_next(rel_load *l, int slot, rel_req *q)
{
    wload *w = l->user;
    q->arg = slot;
    if (slot % 2 == 0) {
        /* A creation, with its own idempotency key. */
        q->kind = 0;
        snprintf(q->key, sizeof(q->key), "w-%d-%d", (int)getpid(), w->seq++);
        rel_req_json(q, "boussole.v1.SessionService/CreateBilan", w->counselor, q->key,
                     rel_fmt("{\"beneficiaryId\":\"b-durable\",\"organisationId\":\"org-lumiere\","
                             "\"funding\":\"FUNDING_PERSONAL\",\"plannedHours\":10,\"startDate\":"
                             "\"%s\",\"endDate\":\"%s\"}",
                             te_day(0), te_day(30)));
    } else {
        /* An answer: this slot owns items slot/2, slot/2 + n/2, ...; the value changes. */
        q->kind = 1;
        int owners = w->n_slots / 2;
        int k = (slot / 2) + owners * (w->slot_seq[slot]++ % (48 / owners));
        if (k >= 48) {
            k = slot / 2;
        }
        int v = 1 + (w->item_value[k] % 5);
        w->item_value[k] = v;
        w->item_sent[k] = v;
        q->arg = k;
        snprintf(q->key, sizeof(q->key), "%d", v);
        rel_req_json(q, "boussole.v1.QuestionnaireService/SaveAnswers", w->beneficiary, NULL,
                     rel_fmt("{\"bilanId\":\"%s\",\"assignmentId\":\"%s\",\"answers\":[{\"itemId\":"
                             "\"%s\",\"likert\":%d}]}",
                             w->bilan, w->assignment, item_id(k), v));
    }
    return true;
}

static void w_done(rel_load *l, int slot, const rel_req *q, const rel_resp *r, long long us)
{
    (void)slot;
    wload *w = l->user;
    long long now = rel_now_us();
    /* Sent once Redis was dead (a call that wrote just before the kill may still succeed),
     * answered before it was back. */
    bool down = w->killed && !w->restarted && now - us > w->kill_at + 50000;
    if (q->kind == 1) {
        int k = (int)q->arg;
        if (r->status == 200) {
            w->item_acked[k] = atoi(q->key);
            w->item_unsure[k] = false;
        } else {
            /* Not acknowledged: it may still have been applied (Redis killed between its
             * write and its reply), so the item's last acknowledged value is no longer sure. */
            w->item_unsure[k] = true;
        }
    }
    if (r->status == 200) {
        if (q->kind == 0) {
            char id[32];
            rel_json_str(r->body, "id", id, sizeof(id));
            if (id[0] != '\0' && w->n_acked < MAX_ACKED) {
                snprintf(w->acked[w->n_acked++], 32, "%s", id);
            }
        }
        if (down) {
            w->ok_outage++;
        } else if (!w->restarted) {
            w->ok_before++;
        } else {
            w->ok_after++;
            if (w->first_ok_after_restart_us == 0) {
                w->first_ok_after_restart_us = now - w->restart_at;
            }
        }
        return;
    }
    if (r->status == 503) {
        w->unavailable++;
        if (down) {
            rel_stats_add(&w->outage, us);
            w->outage_latency_max_us =
                us > w->outage_latency_max_us ? us : w->outage_latency_max_us;
        }
        return;
    }
    if (r->status < 0) {
        w->no_answer++;
    } else {
        w->other++;
    }
    if (w->first_other[0] == '\0') {
        snprintf(w->first_other, sizeof(w->first_other), "HTTP %d: %.250s", r->status,
                 r->body ? r->body : "");
    }
}

static void w_tick(rel_load *l, long long now)
{
    wload *w = l->user;
    if (!w->killed && now >= w->kill_at) {
        te_redis_signal(w->env, SIGKILL);
        w->killed = true;
        w->kill_at = rel_now_us();
        printf("redis killed at %.2f s\n", (w->kill_at - w->t0) / 1e6);
    }
    if (w->killed && !w->restarted && now >= w->restart_at) {
        te_redis_restart(w->env);
        w->restarted = true;
        w->restart_at = rel_now_us();
        printf("redis restarted (AOF replayed) at %.2f s\n", (w->restart_at - w->t0) / 1e6);
    }
}

static void redis_killed_under_writes(void **state)
{
    (void)state;
    /* Static: what the test environment allocates for them stays reachable. */
    static te_env env;
    static te_proc sessions, questionnaires, gw;
    te_init(&env, "reliability_faults_redis");
    running = &env;
    env.redis_aof = true; /* appendonly yes, appendfsync always */
    te_redis_start(&env);
    te_service_start(&env, &sessions, "sessions", NULL);
    char ses[200], que[200];
    snprintf(ses, sizeof(ses), "--sessions-url=%s", sessions.url);
    const char *qargs[] = { ses, NULL };
    te_service_start(&env, &questionnaires, "questionnaires", qargs);
    snprintf(que, sizeof(que), "--questionnaires-url=%s", questionnaires.url);
    const char *gargs[] = { que, "--syntheses-url=", "--rate-limit=0", NULL };
    gwh_gateway_start(&env, &gw, "gateway", sessions.url, gargs);
    gwh_wait(&gw, true);
    pid_t pids[3] = { sessions.pid, questionnaires.pid, gw.pid };

    wload w;
    memset(&w, 0, sizeof(w));
    w.env = &env;
    w.counselor = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "");
    w.beneficiary = gwh_token(&env, "b-durable", "beneficiary", "", "");
    w.acked = calloc(MAX_ACKED, 32);
    char *b = post_ok(gw.port, "SessionService/CreateBilan", w.counselor,
                      "{\"beneficiaryId\":\"b-durable\",\"organisationId\":\"org-lumiere\","
                      "\"funding\":\"FUNDING_CPF\",\"plannedHours\":24,\"startDate\":\"%s\","
                      "\"endDate\":\"%s\"}",
                      te_day(-10), te_day(80));
    rel_json_str(b, "id", w.bilan, sizeof(w.bilan));
    free(b);
    free(post_ok(gw.port, "SessionService/RecordIntake", w.beneficiary,
                 "{\"intake\":{\"bilanId\":\"%s\",\"currentSituation\":\"En poste.\",\"reasons\":"
                 "\"Évoluer.\"}}",
                 w.bilan));
    free(post_ok(gw.port, "SessionService/SetRoadmap", w.counselor,
                 "{\"bilanId\":\"%s\",\"steps\":[{\"phase\":\"PHASE_PRELIMINARY\",\"title\":"
                 "\"Accueil\",\"tools\":[\"ROADMAP_TOOL_INTERVIEW\"],\"plannedDate\":\"%s\","
                 "\"status\":\"ROADMAP_STEP_STATUS_DONE\"}]}",
                 w.bilan, te_day(-5)));
    free(post_ok(gw.port, "SessionService/AdvancePhase", w.counselor,
                 "{\"id\":\"%s\",\"target\":\"PHASE_INVESTIGATION\"}", w.bilan));
    b = post_ok(gw.port, "QuestionnaireService/AssignInstrument", w.counselor,
                "{\"bilanId\":\"%s\",\"instrumentId\":\"riasec\"}", w.bilan);
    rel_json_str(b, "id", w.assignment, sizeof(w.assignment));
    free(b);

    rel_load l;
    w.n_slots = 8;
    rel_load_init(&l, "127.0.0.1", gw.port, w.n_slots);
    l.rate = 150; /* bounded: about 150 writes per second */
    l.timeout_ms = 15000;
    l.next = w_next;
    l.done = w_done;
    l.tick = w_tick;
    l.user = &w;
    w.t0 = rel_now_us();
    w.kill_at = w.t0 + 2000000;
    w.restart_at = w.t0 + 4500000;
    rel_load_run(&l, 8000);
    rel_load_free(&l);
    printf("writes: %llu ok before the kill, %llu ok while Redis was down, %llu ok after the "
           "restart (first %.0f ms after it); %llu unavailable (503), %llu other answers, %llu "
           "without answer; first other: %s\n",
           w.ok_before, w.ok_outage, w.ok_after, w.first_ok_after_restart_us / 1e3, w.unavailable,
           w.other, w.no_answer, w.first_other);
    printf("answers while Redis was down: %zu, p50 %.1f ms, max %.1f ms\n", w.outage.n,
           rel_stats_quantile(&w.outage, 0.5) / 1e3, w.outage_latency_max_us / 1e3);

    /* The services recovered by themselves: the same processes, ready. */
    assert_int_equal(sessions.pid, pids[0]);
    assert_int_equal(questionnaires.pid, pids[1]);
    assert_int_equal(gw.pid, pids[2]);
    assert_int_equal(kill(sessions.pid, 0), 0);
    assert_int_equal(kill(questionnaires.pid, 0), 0);
    assert_int_equal(gwh_http_status(gw.port, "/readyz"), 200);

    /* Every acknowledged creation is there. */
    rel_conn c;
    rel_conn_init(&c, "127.0.0.1", gw.port);
    int missing = 0;
    for (int i = 0; i < w.n_acked; i++) {
        char *json = rel_fmt("{\"id\":\"%s\"}", w.acked[i]);
        rel_resp r;
        rel_call(&c, "boussole.v1.SessionService/GetBilan", w.counselor, json, NULL, &r);
        if (r.status != 200 || strstr(r.body, "b-durable") == NULL) {
            if (missing++ < 5) {
                fprintf(stderr, "acknowledged bilan %s: HTTP %d %s\n", w.acked[i], r.status,
                        r.body ? r.body : "");
            }
        }
        rel_resp_free(&r);
        free(json);
    }
    /* Every acknowledged answer holds its value (unless a later write of it went out and its
     * outcome is unknown). */
    char *json = rel_fmt("{\"bilanId\":\"%s\",\"assignmentId\":\"%s\"}", w.bilan, w.assignment);
    rel_resp r;
    rel_call(&c, "boussole.v1.QuestionnaireService/GetAnswers", w.beneficiary, json, NULL, &r);
    free(json);
    assert_int_equal(r.status, 200);
    int answers_checked = 0, answers_wrong = 0;
    for (int k = 0; k < 48; k++) {
        if (w.item_acked[k] == 0 || w.item_unsure[k]) {
            continue;
        }
        char pat[64];
        snprintf(pat, sizeof(pat), "\"itemId\":\"%s\",\"likert\":%d", item_id(k), w.item_acked[k]);
        answers_checked++;
        if (strstr(r.body, pat) == NULL) {
            answers_wrong++;
            fprintf(stderr, "acknowledged answer %s=%d not found\n", item_id(k), w.item_acked[k]);
        }
    }
    rel_resp_free(&r);
    rel_conn_free(&c);
    printf("after the restart: %d of %d acknowledged bilans missing; %d of %d acknowledged "
           "answers wrong\n",
           missing, w.n_acked, answers_wrong, answers_checked);
    assert_true(w.ok_before > 50 && w.ok_after > 50 && w.n_acked > 50 && answers_checked > 0);
    assert_int_equal(missing, 0);
    assert_int_equal(answers_wrong, 0);
    /* Redis down: UNAVAILABLE, fast (far inside the 8 s deadline), and nothing else. */
    assert_true(w.outage.n > 20);
    assert_true(w.outage_latency_max_us < 2000000);
    assert_int_equal(w.ok_outage, 0);
    assert_int_equal(w.other + w.no_answer, 0);

    te_proc *procs[] = { &gw, &questionnaires, &sessions };
    for (size_t i = 0; i < 3; i++) {
        te_signal(procs[i], SIGTERM);
        assert_int_equal(te_wait(procs[i], 15000), 0);
    }
    rel_stats_free(&w.outage);
    free(w.acked);
    free(w.counselor);
    free(w.beneficiary);
    te_fini(&env);
}

/* ---- replicas killed and stopped under load ---------------------------------------------- */

typedef struct rload {
    int run; /* keys of each run are new */
    char *counselor;
    char bilan[32];
    int seq;
    te_proc *victim;
    int signal;
    long long act_at;
    bool acted;
    unsigned long long reads_ok, reads_failed, creates_ok, creates_failed, resent;
    char (*keys)[48];
    char (*ids)[32];
    int n_keys;
    char first_failure[300];
} rload;

static bool r_next(rel_load *l, int slot, rel_req *q)
{
    rload *w = l->user;
    if (slot % 4 != 3) {
        q->kind = 0;
        rel_req_json(q, "boussole.v1.SessionService/GetBilan", w->counselor, NULL,
                     rel_fmt("{\"id\":\"%s\"}", w->bilan));
        return true;
    }
    /* A creation with a key of its own; one in ten sends a key already used (a client
     * retrying a creation it did not see the answer of): it must get the same bilan. */
    q->kind = 1;
    if (w->n_keys > 0 && w->seq % 10 == 9) {
        q->arg = w->seq % w->n_keys;
        snprintf(q->key, sizeof(q->key), "%s", w->keys[q->arg]);
        w->resent++;
    } else {
        q->arg = w->n_keys;
        snprintf(q->key, sizeof(q->key), "r-%d-%d-%d", (int)getpid(), w->run, w->n_keys);
        snprintf(w->keys[w->n_keys], 48, "%.47s", q->key);
        w->ids[w->n_keys][0] = '\0';
        w->n_keys++;
    }
    w->seq++;
    rel_req_json(q, "boussole.v1.SessionService/CreateBilan", w->counselor, q->key,
                 rel_fmt("{\"beneficiaryId\":\"b-once\",\"organisationId\":\"org-lumiere\","
                         "\"funding\":\"FUNDING_PERSONAL\",\"plannedHours\":10,\"startDate\":"
                         "\"%s\",\"endDate\":\"%s\"}",
                         te_day(0), te_day(30)));
    return w->n_keys < MAX_ACKED;
}

static void r_done(rel_load *l, int slot, const rel_req *q, const rel_resp *r, long long us)
{
    (void)slot;
    (void)us;
    rload *w = l->user;
    if (r->status != 200 && w->first_failure[0] == '\0') {
        snprintf(w->first_failure, sizeof(w->first_failure), "HTTP %d: %.250s", r->status,
                 r->body ? r->body : "");
    }
    if (q->kind == 0) {
        r->status == 200 ? w->reads_ok++ : w->reads_failed++;
        return;
    }
    if (r->status != 200) {
        w->creates_failed++;
        return;
    }
    w->creates_ok++;
    char id[32];
    rel_json_str(r->body, "id", id, sizeof(id));
    char *prev = w->ids[q->arg];
    if (prev[0] == '\0') {
        snprintf(prev, 32, "%s", id);
    } else if (strcmp(prev, id) != 0) {
        fprintf(stderr, "key %s answered two bilans: %s and %s\n", q->key, prev, id);
        w->creates_failed++;
    }
}

static void r_tick(rel_load *l, long long now)
{
    rload *w = l->user;
    if (!w->acted && now >= w->act_at) {
        w->acted = true;
        te_signal(w->victim, w->signal);
        printf("%s sent to %s (pid %d)\n", w->signal == SIGKILL ? "SIGKILL" : "SIGTERM",
               w->victim->name, (int)w->victim->pid);
    }
}

static void run_replica_fault(te_env *env, te_proc *gw, te_proc *victim, int sig,
                              const char *beneficiary_index, char *counselor)
{
    static int runs;
    rload w;
    memset(&w, 0, sizeof(w));
    w.run = runs++;
    w.counselor = counselor;
    w.keys = calloc(MAX_ACKED, 48);
    w.ids = calloc(MAX_ACKED, 32);
    char *b = post_ok(gw->port, "SessionService/CreateBilan", counselor,
                      "{\"beneficiaryId\":\"b-read\",\"organisationId\":\"org-lumiere\","
                      "\"funding\":\"FUNDING_CPF\",\"plannedHours\":24,\"startDate\":\"%s\","
                      "\"endDate\":\"%s\"}",
                      te_day(0), te_day(60));
    rel_json_str(b, "id", w.bilan, sizeof(w.bilan));
    free(b);
    char *before = te_redis_cli(env, beneficiary_index);
    rel_load l;
    rel_load_init(&l, "127.0.0.1", gw->port, 16);
    l.timeout_ms = 15000;
    l.next = r_next;
    l.done = r_done;
    l.tick = r_tick;
    l.user = &w;
    w.victim = victim;
    w.signal = sig;
    w.act_at = rel_now_us() + 1500000;
    rel_load_run(&l, 4500);
    rel_load_free(&l);
    int exit_status = te_wait(victim, 15000);
    char *after = te_redis_cli(env, beneficiary_index);
    int distinct = 0;
    for (int i = 0; i < w.n_keys; i++) {
        distinct += w.ids[i][0] != '\0';
    }
    printf("%s: reads %llu ok, %llu failed; creations %llu ok (%llu resent keys), %llu failed; "
           "%d keys, %d bilans acknowledged, index %s -> %s; victim exit %d; first failure: %s\n",
           sig == SIGKILL ? "replica killed" : "replica stopped", w.reads_ok, w.reads_failed,
           w.creates_ok, w.resent, w.creates_failed, w.n_keys, distinct, before, after, exit_status,
           w.first_failure);
    assert_true(w.reads_ok > 100 && w.creates_ok > 20);
    assert_int_equal(w.reads_failed, 0);
    assert_int_equal(w.creates_failed, 0);
    /* Exactly once: one bilan per key, every key acknowledged, none created twice. */
    assert_int_equal(distinct, w.n_keys);
    assert_int_equal(atoi(after) - atoi(before), w.n_keys);
    if (sig == SIGTERM) {
        assert_int_equal(exit_status, 0); /* drained and stopped cleanly */
    }
    free(before);
    free(after);
    free(w.keys);
    free(w.ids);
}

static void replicas_killed_and_stopped(void **state)
{
    (void)state;
    static te_env env;
    static te_proc a, b, gw;
    te_init(&env, "reliability_faults_replicas");
    running = &env;
    te_redis_start(&env);
    te_service_start(&env, &a, "sessions", NULL);
    te_service_start(&env, &b, "sessions", NULL);
    char target[300];
    snprintf(target, sizeof(target), "%s,%s", a.url, b.url);
    const char *gargs[] = { "--rate-limit=0", NULL };
    gwh_gateway_start(&env, &gw, "gateway", target, gargs);
    gwh_wait(&gw, true);
    char *counselor = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "");
    /* A killed: B carries everything. */
    run_replica_fault(&env, &gw, &a, SIGKILL, "ZCARD bilans:beneficiary:{b-once}", counselor);
    /* A back; B stopped as in a rolling restart: A carries everything. */
    te_service_restart(&env, &a);
    rel_sleep_ms(2500); /* the gateway's client connects to A again */
    run_replica_fault(&env, &gw, &b, SIGTERM, "ZCARD bilans:beneficiary:{b-once}", counselor);
    te_signal(&gw, SIGTERM);
    assert_int_equal(te_wait(&gw, 15000), 0);
    te_signal(&a, SIGTERM);
    assert_int_equal(te_wait(&a, 15000), 0);
    free(counselor);
    te_fini(&env);
}

/* ---- the gateway stopped under load -----------------------------------------------------------
 */

typedef struct sload {
    char *counselor;
    char bilan[32];
    te_env *env;
    te_proc *gw;
    long long stall_at, term_at, resume_at;
    bool stalled, termed, resumed;
    bool in_flight[64]; /* the slot's request was out when SIGTERM was sent */
    unsigned long long ok, refused, unreachable, lost_in_flight, in_flight_answered,
        in_flight_refused, other_after;
} sload;

static bool s_next(rel_load *l, int slot, rel_req *q)
{
    sload *w = l->user;
    (void)slot;
    rel_req_json(q, "boussole.v1.SessionService/ListPhaseTransitions", w->counselor, NULL,
                 rel_fmt("{\"id\":\"%s\"}", w->bilan));
    return true;
}

static void s_done(rel_load *l, int slot, const rel_req *q, const rel_resp *r, long long us)
{
    (void)q;
    (void)us;
    sload *w = l->user;
    if (w->in_flight[slot]) {
        w->in_flight[slot] = false;
        if (r->status == 200) {
            w->in_flight_answered++;
        } else if (r->status == 503 && strstr(r->body, "shutting down") != NULL) {
            /* Written out but not yet read by the server when it began to drain: refused with
             * "retry", not lost. */
            w->in_flight_refused++;
        } else {
            w->lost_in_flight++;
            fprintf(stderr, "a call in flight at SIGTERM got HTTP %d %s\n", r->status,
                    r->body ? r->body : "");
        }
    }
    if (r->status == 200) {
        w->ok++;
    } else if (r->status == 503 && w->termed) {
        w->refused++; /* came in while draining: "shutting down", Connection: close */
    } else if ((r->status == -3 || r->status == -2) && w->termed) {
        w->unreachable++; /* after the listener closed */
    } else {
        w->other_after++;
        fprintf(stderr, "unexpected HTTP %d %s\n", r->status, r->body ? r->body : "");
    }
}

/* Redis stalls (SIGSTOP) a moment before the gateway gets SIGTERM, so that the calls in flight
 * are truly inside the gateway and the service, waiting; it resumes half a second later. */
static void s_tick(rel_load *l, long long now)
{
    sload *w = l->user;
    if (!w->stalled && now >= w->stall_at) {
        te_redis_signal(w->env, SIGSTOP);
        w->stalled = true;
    }
    if (!w->termed && now >= w->term_at) {
        for (int i = 0; i < l->n_slots; i++) {
            w->in_flight[i] = rel_load_awaiting(l, i);
        }
        te_signal(w->gw, SIGTERM);
        w->termed = true;
    }
    if (!w->resumed && now >= w->resume_at) {
        te_redis_signal(w->env, SIGCONT);
        w->resumed = true;
    }
}

static void gateway_stopped_under_load(void **state)
{
    (void)state;
    static te_env env;
    static te_proc sessions, gw;
    te_init(&env, "reliability_faults_shutdown");
    running = &env;
    te_redis_start(&env);
    te_service_start(&env, &sessions, "sessions", NULL);
    const char *gargs[] = { "--rate-limit=0", "--grace-ms=10000", NULL };
    gwh_gateway_start(&env, &gw, "gateway", sessions.url, gargs);
    gwh_wait(&gw, true);
    sload w;
    memset(&w, 0, sizeof(w));
    w.counselor = gwh_token(&env, "c-marie", "counselor", "org-lumiere", "");
    w.gw = &gw;
    w.env = &env;
    char *b = post_ok(gw.port, "SessionService/CreateBilan", w.counselor,
                      "{\"beneficiaryId\":\"b-stop\",\"organisationId\":\"org-lumiere\","
                      "\"funding\":\"FUNDING_CPF\",\"plannedHours\":24,\"startDate\":\"%s\","
                      "\"endDate\":\"%s\"}",
                      te_day(0), te_day(60));
    rel_json_str(b, "id", w.bilan, sizeof(w.bilan));
    free(b);
    /* Redis answers slowly while the gateway stops: calls are in flight for a while. */
    rel_load l;
    rel_load_init(&l, "127.0.0.1", gw.port, 32);
    l.timeout_ms = 15000;
    l.next = s_next;
    l.done = s_done;
    l.tick = s_tick;
    l.user = &w;
    w.stall_at = rel_now_us() + 1500000;
    w.term_at = w.stall_at + 150000;
    w.resume_at = w.term_at + 500000;
    rel_load_run(&l, 4000);
    rel_load_free(&l);
    int st = te_wait(&gw, 15000);
    printf("gateway stopped under load: %llu ok; of the calls in flight at SIGTERM, %llu "
           "answered, %llu refused unread (503 retry), %llu lost; %llu refused while draining "
           "(503), %llu unreachable after; exit %d\n",
           w.ok, w.in_flight_answered, w.in_flight_refused, w.lost_in_flight, w.refused,
           w.unreachable, st);
    assert_true(w.in_flight_answered >= 8);
    assert_int_equal(w.lost_in_flight, 0);
    assert_int_equal(w.other_after, 0);
    assert_int_equal(st, 0);
    te_signal(&sessions, SIGTERM);
    assert_int_equal(te_wait(&sessions, 15000), 0);
    free(w.counselor);
    te_fini(&env);
}

int main(void)
{
    bsl_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(redis_killed_under_writes, stop_env),
        cmocka_unit_test_teardown(replicas_killed_and_stopped, stop_env),
        cmocka_unit_test_teardown(gateway_stopped_under_load, stop_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
