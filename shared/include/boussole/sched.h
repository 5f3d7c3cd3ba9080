/*
 * The CPU scheduling policy of a Boussole process.
 *
 * A call crosses threads several times inside one process: the libev loop hands a message to
 * nng, nng's poller and task threads complete it and hand the answer back to the loop. Under
 * the default policy (SCHED_OTHER) every such hand-off lets the woken thread preempt the one
 * that woke it, so a call pays about ten context switches per process (measured under wrk:
 * 11 per request in the gateway, 9 in sessions). SCHED_BATCH keeps the fair share but turns
 * off wake-up preemption: the woken thread runs when the running one blocks or its slice
 * ends, by which time it usually has several messages to take at once. Same work, 0.2
 * switches per request: the servers' CPU per gateway request nearly halved (README,
 * "Benchmarks").
 *
 * Unprivileged processes may choose it (no capability, no rlimit); a process that needs the
 * lowest latency at low load keeps "normal".
 */
#ifndef BOUSSOLE_SCHED_H
#define BOUSSOLE_SCHED_H

#include <stdbool.h>
#include <stddef.h>

typedef enum bsl_cpu_policy {
    BSL_CPU_BATCH,  /* SCHED_BATCH: the services' default */
    BSL_CPU_NORMAL, /* SCHED_OTHER: the kernel's default, left untouched */
} bsl_cpu_policy;

/* "batch" or "normal"; BSL_EINVAL otherwise. */
int bsl_cpu_policy_parse(const char *s, bsl_cpu_policy *out);

/*
 * Applies the policy to every thread of the process that exists now; threads created later
 * inherit it from their creator. Call it in main, before the first nng call starts nng's
 * threads, so that they inherit it (threads that already exist are set too, as a backstop).
 * Returns BSL_OK, or BSL_EINVAL with a message in err.
 */
int bsl_cpu_policy_apply(bsl_cpu_policy policy, char *err, size_t errlen);

/*
 * nng 1.5.2's socket close can wait forever for its own threads (nng issues #1543 and #1813).
 * In our stress test (a replica stopped under load, ASan build, two tests at once) a drained
 * process hung in nng_close in about one shutdown in five with every thread under SCHED_BATCH,
 * in none of ten under the normal policy. So closes run under the normal policy: a process
 * switches back when its drain starts, and every other nng_close made on a loop (a server's
 * or a client's teardown) runs between bsl_cpu_policy_suspend, which switches the process's threads
 * back to SCHED_OTHER when they run under SCHED_BATCH and says so, and bsl_cpu_policy_resume(that
 * answer), which switches them back. That made the hang rarer (one in twelve), not gone: the end of
 * a drained process is also bounded (exitguard.h). Both calls cost a few syscalls per thread and
 * are quiet on failure (a close under the batch policy is what would have happened anyway).
 */
bool bsl_cpu_policy_suspend(void);
void bsl_cpu_policy_resume(bool suspended);

#endif /* BOUSSOLE_SCHED_H */
