// Where the engine's helper threads may run. Swift cannot use glibc's CPU_SET macros or sched_getcpu
// (a _GNU_SOURCE declaration), so each is wrapped in a plain function.
#ifndef INSTRUCTREC_CTHREADPLACEMENT_H
#define INSTRUCTREC_CTHREADPLACEMENT_H

#include <pthread.h>

/// The CPU the calling thread runs on now, or -1 where the kernel cannot say.
int ir_current_cpu(void);

/// Lets `thread` run on every CPU the calling thread may run on except `cpu`. Returns 0 when set, 1 when
/// that leaves no CPU (nothing changed), or an errno value.
int ir_thread_avoid_cpu(pthread_t thread, int cpu);

#endif
