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

/* Sets every thread of the process (the calling one first) to `policy`. */
static int set_all(int policy, char *err, size_t errlen)
{
    struct sched_param sp = { .sched_priority = 0 };
    /* sched_setscheduler acts on one thread on Linux: the calling one first, then the others
     * (there are none at start-up, before nng starts its threads: the intended case). */
    if (sched_setscheduler(0, policy, &sp) != 0) {
        snprintf(err, errlen, "cannot set the CPU policy: %s", strerror(errno));
        return BSL_EINVAL;
    }
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) {
        return BSL_OK; /* no /proc: the calling thread is set, later threads inherit */
    }
    struct dirent *e;
    int rv = BSL_OK;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long tid = strtol(e->d_name, &end, 10);
        if (e->d_name[0] == '.' || *end != '\0' || tid <= 0) {
            continue;
        }
        /* A thread may end between readdir and here: ESRCH is not an error. */
        if (sched_setscheduler((pid_t)tid, policy, &sp) != 0 && errno != ESRCH) {
            snprintf(err, errlen, "cannot set the CPU policy of thread %ld: %s", tid,
                     strerror(errno));
            rv = BSL_EINVAL;
            break;
        }
    }
    closedir(d);
    return rv;
}

int bsl_cpu_policy_apply(bsl_cpu_policy policy, char *err, size_t errlen)
{
    if (policy == BSL_CPU_NORMAL) {
        return BSL_OK; /* whatever the process was started with (chrt, a unit file) stays */
    }
    return set_all(SCHED_BATCH, err, errlen);
}

bool bsl_cpu_policy_suspend(void)
{
    if (sched_getscheduler(0) != SCHED_BATCH) {
        return false;
    }
    char err[160];
    return set_all(SCHED_OTHER, err, sizeof(err)) == BSL_OK;
}

void bsl_cpu_policy_resume(bool suspended)
{
    if (suspended) {
        char err[160];
        (void)set_all(SCHED_BATCH, err, sizeof(err));
    }
}
