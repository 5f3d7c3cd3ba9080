#include "boussole/exitguard.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "boussole/clock.h"
#include "boussole/err.h"

typedef struct guard {
    unsigned seconds;
    int fd;
    char service[64];
} guard;

static void *guard_main(void *arg)
{
    guard *g = arg;
    struct timespec ts = { (time_t)g->seconds, 0 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    /* Still here: the end of the process is stuck (see exitguard.h). The logger belongs to the
     * loop's thread, which is the one stuck: the line is written here, whole. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    char ts_text[32], line[512];
    bsl_time_format((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts_text, sizeof(ts_text));
    int n = snprintf(line, sizeof(line),
                     "{\"time\":\"%s\",\"level\":\"error\",\"service\":\"%s\",\"msg\":\"drained, "
                     "but closing did not finish in %u s (nng socket close); exiting\"}\n",
                     ts_text, g->service, g->seconds);
    if (n > 0) {
        ssize_t w = write(g->fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        (void)w;
    }
    _exit(0);
}

int bsl_exit_guard(unsigned seconds, int fd, const char *service)
{
    guard *g = malloc(sizeof(*g));
    if (g == NULL) {
        return BSL_ENOMEM;
    }
    g->seconds = seconds;
    g->fd = fd;
    snprintf(g->service, sizeof(g->service), "%s", service);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rv = pthread_create(&t, &attr, guard_main, g);
    pthread_attr_destroy(&attr);
    if (rv != 0) {
        free(g);
        return BSL_ENOMEM;
    }
    /* g belongs to the thread, which lives until the process ends one way or the other. */
    return BSL_OK;
}
