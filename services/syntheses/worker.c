/* The PDF rendering thread (see worker.h). */
#include "worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pango/pangocairo.h>

#include "boussole/err.h"

typedef struct job {
    struct job *next;
    bsl_arena *arena;
    const Boussole__V1__SynthesisDocument *doc;
    syn_pdf_options opts;
    syn_worker_cb cb;
    void *arg;
    int err;
    unsigned char *pdf;
    size_t len;
} job;

struct syn_worker {
    struct ev_loop *loop;
    ev_async done_async;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    job *queue_head, *queue_tail; /* waiting */
    job *done_head, *done_tail;   /* rendered, waiting for the loop */
    unsigned queued, max_queue;
};

static void job_free(job *j)
{
    free(j->pdf);
    bsl_arena_free(j->arena);
    free(j);
}

static void *run(void *arg)
{
    syn_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->queue_head == NULL) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->stop) {
            break;
        }
        job *j = w->queue_head;
        w->queue_head = j->next;
        if (w->queue_head == NULL) {
            w->queue_tail = NULL;
        }
        pthread_mutex_unlock(&w->mu);

        j->err = syn_pdf_render(j->doc, &j->opts, &j->pdf, &j->len);

        pthread_mutex_lock(&w->mu);
        j->next = NULL;
        if (w->done_tail != NULL) {
            w->done_tail->next = j;
        } else {
            w->done_head = j;
        }
        w->done_tail = j;
        ev_async_send(w->loop, &w->done_async);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void on_done(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)loop;
    (void)revents;
    syn_worker *w = a->data;
    pthread_mutex_lock(&w->mu);
    job *list = w->done_head;
    w->done_head = w->done_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    while (list != NULL) {
        job *next = list->next;
        pthread_mutex_lock(&w->mu);
        w->queued--;
        pthread_mutex_unlock(&w->mu);
        list->cb(list->err, list->pdf, list->len, list->arg);
        job_free(list);
        list = next;
    }
}

int syn_worker_create(syn_worker **out, struct ev_loop *loop, unsigned max_queue)
{
    *out = NULL;
    syn_worker *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return BSL_ENOMEM;
    }
    w->loop = loop;
    w->max_queue = max_queue ? max_queue : 32;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    ev_async_init(&w->done_async, on_done);
    w->done_async.data = w;
    ev_async_start(loop, &w->done_async);
    /* The async watcher must not keep the loop running on its own. */
    ev_unref(loop);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        ev_ref(loop);
        ev_async_stop(loop, &w->done_async);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return BSL_ENOMEM;
    }
    w->started = true;
    *out = w;
    return BSL_OK;
}

static void free_list(job *j)
{
    while (j != NULL) {
        job *next = j->next;
        job_free(j);
        j = next;
    }
}

void syn_worker_free(syn_worker *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->started) {
        pthread_join(w->thread, NULL);
    }
    ev_ref(w->loop);
    ev_async_stop(w->loop, &w->done_async);
    free_list(w->queue_head);
    free_list(w->done_head);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

int syn_worker_submit(syn_worker *w, bsl_arena *arena, const Boussole__V1__SynthesisDocument *doc,
                      const syn_pdf_options *opts, syn_worker_cb cb, void *arg)
{
    job *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return BSL_ENOMEM;
    }
    j->arena = arena;
    j->doc = doc;
    j->opts = *opts;
    j->cb = cb;
    j->arg = arg;
    pthread_mutex_lock(&w->mu);
    if (w->stop) {
        pthread_mutex_unlock(&w->mu);
        free(j);
        return BSL_ECLOSED;
    }
    if (w->queued >= w->max_queue) {
        pthread_mutex_unlock(&w->mu);
        free(j);
        return BSL_ETOOBIG;
    }
    w->queued++;
    if (w->queue_tail != NULL) {
        w->queue_tail->next = j;
    } else {
        w->queue_head = j;
    }
    w->queue_tail = j;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return BSL_OK;
}

int syn_fonts_check(char *errbuf, size_t errlen)
{
    static const char *const wanted[] = { "DejaVu Serif", "DejaVu Sans" };
    PangoFontMap *fm = pango_cairo_font_map_new();
    PangoContext *pc = pango_font_map_create_context(fm);
    int rv = BSL_OK;
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]) && rv == BSL_OK; i++) {
        PangoFontDescription *fd = pango_font_description_from_string(wanted[i]);
        PangoFont *font = pango_font_map_load_font(fm, pc, fd);
        PangoFontDescription *got = font ? pango_font_describe(font) : NULL;
        const char *family = got ? pango_font_description_get_family(got) : NULL;
        if (family == NULL || strcmp(family, wanted[i]) != 0) {
            snprintf(errbuf, errlen,
                     "font \"%s\" is not installed (got \"%s\"): install fonts-dejavu-core",
                     wanted[i], family ? family : "none");
            rv = BSL_ENOTFOUND;
        }
        if (got != NULL) {
            pango_font_description_free(got);
        }
        if (font != NULL) {
            g_object_unref(font);
        }
        pango_font_description_free(fd);
    }
    g_object_unref(pc);
    g_object_unref(fm);
    return rv;
}
