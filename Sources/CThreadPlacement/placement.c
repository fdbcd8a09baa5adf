// Keeping a helper thread off its caller's CPU (see HelperTeam.swift for why).
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "CThreadPlacement.h"

int ir_current_cpu(void) {
    return sched_getcpu();
}

int ir_thread_avoid_cpu(pthread_t thread, int cpu) {
    // The calling thread's own mask is the set the process may use (its helpers are never pinned by us);
    // kernels with more possible CPUs than a set holds answer EINVAL, so the set grows until it fits.
    for (int capacity = 1024; capacity <= (1 << 20); capacity *= 2) {
        cpu_set_t *set = CPU_ALLOC(capacity);
        if (set == NULL) return ENOMEM;
        size_t bytes = CPU_ALLOC_SIZE(capacity);
        CPU_ZERO_S(bytes, set);
        if (sched_getaffinity(0, bytes, set) != 0) {
            int error = errno;
            CPU_FREE(set);
            if (error == EINVAL) continue;
            return error;
        }
        if (cpu >= 0 && cpu < capacity) CPU_CLR_S(cpu, bytes, set);
        if (CPU_COUNT_S(bytes, set) == 0) {
            CPU_FREE(set);
            return 1;
        }
        int result = pthread_setaffinity_np(thread, bytes, set);
        CPU_FREE(set);
        return result;
    }
    return EINVAL;
}
