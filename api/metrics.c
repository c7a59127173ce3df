/*
 * weft_metrics_get: a snapshot of a running runtime, from a task of its own
 * or from any other thread (a monitoring thread, a blocking job).
 *
 * The runtime is found, and kept from being taken down, under the lock of
 * the list of running runtimes (sched/runtime.h); the scheduler's figures
 * come from sched/metrics.c, the blocking pools' from api/executor.c.
 *
 * The struct only grows at its end, and the caller says how much of it it
 * knows: a caller built against an older weft.h passes a smaller size and
 * gets the prefix it knows of, nothing written beyond it.
 */
#include <errno.h>
#include <string.h>

#include "api/executor.h"
#include "sched/metrics.h"
#include "sched/runtime.h"
#include "weft.h"

/* Under the running list's lock: where a caller's shorter struct is filled
 * first. Static, not on the caller's stack (a task's may be 16 KiB). */
static weft_metrics scratch;

int weft_metrics_get(weft_metrics *m, size_t size)
{
    if (!m || size < sizeof m->size)
        return EINVAL;
    size_t filled = size < sizeof *m ? size : sizeof *m;
    runtime_running_lock();
    struct runtime *rt = runtime_of_caller();
    if (!rt) {
        runtime_running_unlock();
        return ESRCH;
    }
    weft_metrics *all = filled == sizeof *m ? m : &scratch;
    runtime_metrics(rt, all);
    executor_metrics(rt, all);
    all->size = filled;
    if (all != m)
        memcpy(m, all, filled);
    runtime_running_unlock();
    return 0;
}
