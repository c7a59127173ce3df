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

#include <string.h>
#include <time.h>

#include "sched/runtime.h"

uint64_t metrics_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return ns ? ns : 1; /* 0 means "awake" in parked_since */
}

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
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

/* The time w has slept by now, the sleep it may be in included. */
static uint64_t parked_by(struct worker *w, uint64_t now)
{
    uint64_t done = __atomic_load_n(&w->counters.parked_ns, __ATOMIC_ACQUIRE);
    uint64_t since = load(&w->counters.parked_since);
    return done + (since && since < now ? now - since : 0);
}

/* Tasks queued on w, ready to run. */
static uint64_t ready_on(struct runtime *rt, struct worker *w)
{
    if (rt->single)
        return __atomic_load_n(&rt->ready.len, __ATOMIC_RELAXED);
    return deque_size(&w->deque) + (__atomic_load_n(&w->next, __ATOMIC_RELAXED) != NULL);
}

static void add(weft_worker_metrics *sum, const weft_worker_metrics *x)
{
    sum->tasks_spawned += x->tasks_spawned;
    sum->tasks_finished += x->tasks_finished;
    sum->resumes += x->resumes;
    sum->steal_attempts += x->steal_attempts;
    sum->steals += x->steals;
    sum->parks += x->parks;
    sum->wakeups += x->wakeups;
    sum->running_ns += x->running_ns;
    sum->parked_ns += x->parked_ns;
    sum->ready += x->ready;
    sum->timers += x->timers;
}

void runtime_metrics(struct runtime *rt, weft_metrics *m)
{
    unsigned n = __atomic_load_n(&rt->nworkers, __ATOMIC_ACQUIRE);
    memset(m, 0, sizeof *m);
    uint64_t now = metrics_clock_ns();
    m->uptime_ns = now - rt->started_ns;
    m->nworkers = n;
    m->single_thread = rt->single;
    /* Every end before every start, as runtime_live reads them: each end
     * seen has its task's creation seen too, so tasks_live is never short
     * (nor, in unsigned arithmetic, huge). */
    for (unsigned i = 0; i < n; i++) {
        uint64_t exited = __atomic_load_n(&rt->workers[i].exited, __ATOMIC_ACQUIRE);
        m->total.tasks_finished += exited;
        if (i < WEFT_METRICS_MAX_WORKERS)
            m->workers[i].tasks_finished = exited;
    }
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &rt->workers[i];
        struct worker_counters *c = &w->counters;
        weft_worker_metrics x = {
            .tasks_spawned = __atomic_load_n(&w->created, __ATOMIC_ACQUIRE),
            .resumes = load(&c->resumes),
            .steal_attempts = load(&c->steal_attempts),
            .steals = load(&c->steals),
            .parks = load(&c->parks),
            .wakeups = load(&c->wakeups),
            .parked_ns = parked_by(w, now),
            .ready = ready_on(rt, w),
            .timers = __atomic_load_n(&w->timers.len, __ATOMIC_RELAXED),
        };
        if (x.parked_ns > m->uptime_ns) /* a sleep that began before our clock read */
            x.parked_ns = m->uptime_ns;
        x.running_ns = m->uptime_ns - x.parked_ns;
        add(&m->total, &x); /* tasks_finished 0 here: summed above */
        if (i < WEFT_METRICS_MAX_WORKERS) {
            x.tasks_finished = m->workers[i].tasks_finished;
            m->workers[i] = x;
        }
    }
    m->total.tasks_spawned += __atomic_load_n(&rt->created_outside, __ATOMIC_ACQUIRE);
    m->tasks_live = m->total.tasks_spawned - m->total.tasks_finished;
    m->injected = inject_size(&rt->inject) + __atomic_load_n(&rt->spill_len, __ATOMIC_ACQUIRE);
    m->io_waiters = (uint64_t)__atomic_load_n(&rt->poller.waiting, __ATOMIC_ACQUIRE);
}
