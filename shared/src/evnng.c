#include "boussole/evnng.h"

#include <pthread.h>
#include <stdlib.h>

#include "boussole/err.h"

struct bsl_evnng {
    struct ev_loop *loop;
    ev_async wake;
    pthread_mutex_t mtx;
    bsl_evnng_task *head, *tail;
    size_t queued;
    int referenced;
};

static void run_queue(bsl_evnng *g)
{
    /* Pop one task at a time under the lock, so that a running task may cancel one that is
     * still queued. At most as many tasks as were queued on entry run now; later ones wake
     * the loop again, so other watchers get their turn. */
    pthread_mutex_lock(&g->mtx);
    size_t budget = g->queued;
    while (budget-- > 0 && g->head != NULL) {
        bsl_evnng_task *t = g->head;
        g->head = t->next;
        if (g->head == NULL) {
            g->tail = NULL;
        }
        g->queued--;
        pthread_mutex_unlock(&g->mtx);
        t->next = NULL;
        t->fn(t->arg);
        pthread_mutex_lock(&g->mtx);
    }
    int more = g->head != NULL;
    pthread_mutex_unlock(&g->mtx);
    if (more) {
        ev_async_send(g->loop, &g->wake);
    }
}

static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    run_queue(w->data);
}

int bsl_evnng_create(bsl_evnng **out, struct ev_loop *loop)
{
    bsl_evnng *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return BSL_ENOMEM;
    }
    g->loop = loop;
    pthread_mutex_init(&g->mtx, NULL);
    ev_async_init(&g->wake, on_wake);
    g->wake.data = g;
    ev_async_start(loop, &g->wake);
    ev_unref(loop); /* the owners of the aios keep the loop alive, not the bridge */
    *out = g;
    return BSL_OK;
}

void bsl_evnng_keepalive(bsl_evnng *g, int on)
{
    if (on && !g->referenced) {
        ev_ref(g->loop);
        g->referenced = 1;
    } else if (!on && g->referenced) {
        ev_unref(g->loop);
        g->referenced = 0;
    }
}

void bsl_evnng_post(bsl_evnng *g, bsl_evnng_task *task)
{
    task->next = NULL;
    pthread_mutex_lock(&g->mtx);
    if (g->tail != NULL) {
        g->tail->next = task;
    } else {
        g->head = task;
    }
    g->tail = task;
    g->queued++;
    pthread_mutex_unlock(&g->mtx);
    ev_async_send(g->loop, &g->wake);
}

int bsl_evnng_cancel(bsl_evnng *g, bsl_evnng_task *task)
{
    int found = 0;
    pthread_mutex_lock(&g->mtx);
    bsl_evnng_task *prev = NULL;
    for (bsl_evnng_task *t = g->head; t != NULL; prev = t, t = t->next) {
        if (t == task) {
            if (prev != NULL) {
                prev->next = t->next;
            } else {
                g->head = t->next;
            }
            if (g->tail == t) {
                g->tail = prev;
            }
            g->queued--;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&g->mtx);
    return found;
}

void bsl_evnng_drain(bsl_evnng *g)
{
    run_queue(g);
}

void bsl_evnng_free(bsl_evnng *g)
{
    if (g == NULL) {
        return;
    }
    bsl_evnng_keepalive(g, 0);
    ev_ref(g->loop); /* balance the ev_unref of create before stopping the watcher */
    ev_async_stop(g->loop, &g->wake);
    pthread_mutex_destroy(&g->mtx);
    free(g);
}
