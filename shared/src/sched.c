#define _GNU_SOURCE /* SCHED_BATCH */
#include "boussole/sched.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boussole/err.h"

int bsl_cpu_policy_parse(const char *s, bsl_cpu_policy *out)
{
    if (s != NULL && strcmp(s, "batch") == 0) {
        *out = BSL_CPU_BATCH;
        return BSL_OK;
    }
    if (s != NULL && strcmp(s, "normal") == 0) {
        *out = BSL_CPU_NORMAL;
        return BSL_OK;
    }
    return BSL_EINVAL;
}

int bsl_cpu_policy_apply(bsl_cpu_policy policy, char *err, size_t errlen)
{
    if (policy == BSL_CPU_NORMAL) {
        return BSL_OK; /* whatever the process was started with (chrt, a unit file) stays */
    }
    struct sched_param sp = { .sched_priority = 0 };
    /* sched_setscheduler acts on one thread on Linux: the calling one first, then the others
     * (there are none when this runs before nng starts, the intended case). */
    if (sched_setscheduler(0, SCHED_BATCH, &sp) != 0) {
        snprintf(err, errlen, "cannot set the batch CPU policy: %s", strerror(errno));
        return BSL_EINVAL;
    }
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) {
        return BSL_OK; /* no /proc: the calling thread is set, later threads inherit */
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long tid = strtol(e->d_name, &end, 10);
        if (e->d_name[0] == '.' || *end != '\0' || tid <= 0) {
            continue;
        }
        /* A thread may end between readdir and here: ESRCH is not an error. */
        if (sched_setscheduler((pid_t)tid, SCHED_BATCH, &sp) != 0 && errno != ESRCH) {
            snprintf(err, errlen, "cannot set the batch CPU policy on thread %ld: %s", tid,
                     strerror(errno));
            closedir(d);
            return BSL_EINVAL;
        }
    }
    closedir(d);
    return BSL_OK;
}
