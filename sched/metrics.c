/*
 * The scheduler's side of weft_metrics_get: the sleep timing the workers do
 * on their slow path, and the collector that sums the counters.
 *
 * Every count is kept per worker and written by that worker only (struct
 * worker_counters, and created/exited beside it), so that counting costs a
 * store to a line the worker already owns: one shared counter would be a
 * locked add on a contended line on every task switch. The reader pays
 * instead, looping over the workers. Time is read from the clock only when
 * a worker falls asleep and wakes, never on a task switch: awake time is
 * the uptime less the time asleep.
 */
#include "sched/metrics.h"

#include <time.h>

#include "sched/runtime.h"

uint64_t metrics_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return ns ? ns : 1; /* 0 means "awake" in parked_since */
}

void worker_sleep_begin(struct worker *w)
{
    counter_bump(&w->counters.parks);
    __atomic_store_n(&w->counters.parked_since, metrics_clock_ns(), __ATOMIC_RELAXED);
}

void worker_sleep_end(struct worker *w, bool woken)
{
    struct worker_counters *c = &w->counters;
    uint64_t slept = metrics_clock_ns() - c->parked_since;
    /* Awake before the sleep is added in: a reader that sees the new sum
     * (acquire) sees parked_since 0 or a later sleep's, never this one's,
     * and counts the sleep once. One that sees the old sum may miss it: a
     * figure a little short, never over. */
    __atomic_store_n(&c->parked_since, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&c->parked_ns, c->parked_ns + slept, __ATOMIC_RELEASE);
    if (woken)
        counter_bump(&c->wakeups);
}
