/*
 * The glue between nng and libev, in one small module like hiredis's adapters/libev.h.
 *
 * nng completes its aios on its own threads; hiredis, the handlers and everything else of a
 * service live on the libev loop's thread. An aio callback therefore does nothing but post a
 * task here; the loop wakes up (ev_async) and runs the tasks in order on its thread. This is
 * the pattern measured fastest in ../shared/anchors ("nng ctx+aio -> ev_async").
 */
#ifndef BOUSSOLE_EVNNG_H
#define BOUSSOLE_EVNNG_H

#include <ev.h>

typedef struct bsl_evnng bsl_evnng;

/* A task is embedded in the object it concerns (no allocation per post). A task must not be
 * posted again before it has run. */
typedef struct bsl_evnng_task {
    struct bsl_evnng_task *next;
    void (*fn)(void *arg);
    void *arg;
} bsl_evnng_task;

/* Creates the bridge and starts its watcher on `loop` (loop thread). */
int bsl_evnng_create(bsl_evnng **out, struct ev_loop *loop);

/* Queues a task to run on the loop thread. Callable from any thread. */
void bsl_evnng_post(bsl_evnng *g, bsl_evnng_task *task);

/* Runs every task queued so far, on the calling (loop) thread. Used when closing, after the
 * aios that post have been stopped, so that no task refers to freed memory. */
void bsl_evnng_drain(bsl_evnng *g);

/* Removes a queued task that has not run yet (loop thread). Returns 1 if it was queued. Used
 * when the object holding the task goes away. */
int bsl_evnng_cancel(bsl_evnng *g, bsl_evnng_task *task);

/* Stops the watcher and frees the bridge (loop thread). Tasks still queued are dropped: drain
 * first. */
void bsl_evnng_free(bsl_evnng *g);

/* Keeps the loop alive while the bridge exists (ev_ref) or not (ev_unref, the default: the
 * bridge alone does not keep ev_run from returning). */
void bsl_evnng_keepalive(bsl_evnng *g, int on);

#endif /* BOUSSOLE_EVNNG_H */
