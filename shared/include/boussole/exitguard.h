/*
 * A bound on the end of a process that has finished its work.
 *
 * Once a drain is complete (every call answered, nothing left to lose), what remains is
 * closing sockets and freeing memory. nng 1.5.2's socket close can wait forever for its own
 * threads (nng issues #1543 and #1813: a pipe or endpoint that never finishes closing); we saw
 * it in a stress test, about one shutdown in a dozen of a replica killed under load. A process
 * stuck there holds its container until the orchestrator kills it. The guard, armed when the
 * drain is complete, ends the process after `seconds` if it has not ended by itself: it writes
 * one error line on `fd` and calls _exit(0) (0: the drain, the part that matters to callers,
 * succeeded). A normal exit before then makes it moot.
 */
#ifndef BOUSSOLE_EXITGUARD_H
#define BOUSSOLE_EXITGUARD_H

/* Seconds every Boussole process gives itself to close and free once drained. */
#define BSL_EXIT_GUARD_S 8

/* Starts the guard's thread; BSL_OK, or BSL_ENOMEM when no thread could be started (then
 * nothing bounds the exit, as before). Arm it once. */
int bsl_exit_guard(unsigned seconds, int fd, const char *service);

#endif /* BOUSSOLE_EXITGUARD_H */
