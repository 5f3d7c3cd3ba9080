/*
 * The CPU scheduling policy of a Boussole process.
 *
 * A call crosses threads several times inside one process: the libev loop hands a message to
 * nng, nng's poller and task threads complete it and hand the answer back to the loop. Under
 * the default policy (SCHED_OTHER) every such hand-off lets the woken thread preempt the one
 * that woke it, so a call pays about ten context switches per process (measured under wrk:
 * 11 per request in the gateway, 9 in sessions). SCHED_BATCH keeps the fair share but turns
 * off wake-up preemption: the woken thread runs when the running one blocks or its slice
 * ends, by which time it usually has several messages to take at once. Same work, about one
 * switch in forty: the gateway's throughput nearly doubles (README, "Speed").
 *
 * Unprivileged processes may choose it (no capability, no rlimit); a process that needs the
 * lowest latency at low load keeps "normal".
 */
#ifndef BOUSSOLE_SCHED_H
#define BOUSSOLE_SCHED_H

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

#endif /* BOUSSOLE_SCHED_H */
