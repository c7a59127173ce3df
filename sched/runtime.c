/*
 * A runtime's life, for weft_run (api/run.c): build it, run main as the
 * first task in either mode, then take everything down.
 *
 * Also what both modes share: the clock (real or virtual), the registry of
 * tasks (for cancelling leftovers and freeing handles at the end), the
 * deadlock rule, and the worker-side bookkeeping when a task ends.
 */
#include "sched/runtime.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sched/backtrace.h"
#include "sched/inspect.h"
#include "sched/lock_order.h"
#include "sched/monitor.h"
#include "sched/metrics.h"
#include "sched/overflow.h"


static __thread struct worker *self_worker;

__attribute__((noinline)) struct worker *worker_self(void)
{
    struct worker *w = self_worker;
    __asm__ volatile("" ::: "memory"); /* keep callers from caching the TLS slot */
    return w;
}

__attribute__((noinline)) void worker_set_self(struct worker *w)
{
    self_worker = w;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double runtime_now(struct runtime *rt)
{
    if (rt && rt->virtual_time) {
        double v;
        __atomic_load(&rt->vnow, &v, __ATOMIC_ACQUIRE);
        return v;
    }
    return monotonic_seconds();
}

void worker_clock_refresh(struct worker *w)
{
    double now = runtime_now(w->rt);
    __atomic_store(&w->clock, &now, __ATOMIC_RELAXED);
}

/* Per-worker counters instead of one shared count: at two workers the one
 * cache line that every spawn and every exit wrote was a measurable share of
 * a fork-join task's cost. Each is written by its own worker only, so an
 * increment is a plain store, not a locked add; tasks made on other threads
 * (main, blocking jobs' completions) go to one shared atomic count. All the
 * `exited` counters are read before all the `created` ones: a task's
 * creation happens before its end, so every end seen is matched by its
 * creation, and a task created after the reads began was made by a task
 * still counted as alive. The sum is therefore never 0 while a task lives. */
long runtime_live(struct runtime *rt)
{
    uint64_t created = 0, exited = 0;
    for (unsigned i = 0; i < rt->nworkers; i++)
        exited += __atomic_load_n(&rt->workers[i].exited, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < rt->nworkers; i++)
        created += __atomic_load_n(&rt->workers[i].created, __ATOMIC_ACQUIRE);
    created += __atomic_load_n(&rt->created_outside, __ATOMIC_ACQUIRE);
    return (long)(created - exited);
}

/* --- the running runtimes ---------------------------------------------- */

static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runtime *running_head, **running_tail = &running_head;
static unsigned running_serial;

void runtime_running_lock(void)
{
    mutex_lock(&running_lock, LOCK_RANK_RUNNING);
}

void runtime_running_unlock(void)
{
    mutex_unlock(&running_lock);
}

struct runtime *runtime_running_first(void)
{
    return running_head;
}

struct runtime *runtime_of_caller(void)
{
    struct worker *w = worker_self();
    return w ? w->rt : running_head;
}

static void running_add(struct runtime *rt)
{
    mutex_lock(&running_lock, LOCK_RANK_RUNNING);
    rt->serial = ++running_serial;
    rt->running_next = NULL;
    *running_tail = rt;
    running_tail = &rt->running_next;
    mutex_unlock(&running_lock);
}

static void running_remove(struct runtime *rt)
{
    mutex_lock(&running_lock, LOCK_RANK_RUNNING);
    struct runtime **p = &running_head;
    while (*p != rt)
        p = &(*p)->running_next;
    *p = rt->running_next;
    if (!*p)
        running_tail = p;
    mutex_unlock(&running_lock);
}

void runtime_external_begin(struct runtime *rt)
{
    __atomic_add_fetch(&rt->external, 1, __ATOMIC_ACQ_REL);
}

void runtime_external_end(struct runtime *rt)
{
    __atomic_sub_fetch(&rt->external, 1, __ATOMIC_ACQ_REL);
}

/* --- registry ---------------------------------------------------------- */

void registry_add(struct runtime *rt, struct worker *w, struct weft_task *t)
{
    unsigned index = w ? w->index : 0;
    struct registry *r = &rt->workers[index].registry;
    t->reg_index = index;
    spin_lock(&r->lock);
    t->reg_prev = r->tail;
    t->reg_next = NULL;
    if (r->tail)
        r->tail->reg_next = t;
    else
        r->head = t;
    r->tail = t;
    spin_unlock(&r->lock);
}

void registry_remove(struct runtime *rt, struct weft_task *t)
{
    struct registry *r = &rt->workers[t->reg_index].registry;
    spin_lock(&r->lock);
    if (t->reg_prev)
        t->reg_prev->reg_next = t->reg_next;
    else
        r->head = t->reg_next;
    if (t->reg_next)
        t->reg_next->reg_prev = t->reg_prev;
    else
        r->tail = t->reg_prev;
    spin_unlock(&r->lock);
}

struct weft_task **registry_snapshot(struct runtime *rt, bool with_done, size_t *n)
{
    size_t cap = 64, len = 0;
    struct weft_task **list = malloc(cap * sizeof *list);
    for (unsigned i = 0; list && i < rt->nworkers; i++) {
        struct registry *r = &rt->workers[i].registry;
        spin_lock(&r->lock);
        for (struct weft_task *t = r->head; t; t = t->reg_next) {
            if (!with_done && task_is_done(t))
                continue;
            if (len == cap) {
                struct weft_task **bigger = realloc(list, 2 * cap * sizeof *list);
                if (!bigger)
                    break;
                list = bigger;
                cap *= 2;
            }
            if (task_try_ref(t))
                list[len++] = t;
        }
        spin_unlock(&r->lock);
    }
    *n = len;
    return list;
}

size_t runtime_cancel_all(struct runtime *rt)
{
    size_t n = 0;
    struct weft_task **pending = registry_snapshot(rt, false, &n);
    if (!pending)
        return 0;
    for (size_t i = 0; i < n; i++) {
        task_cancel(pending[i]);
        task_unref(pending[i]);
    }
    free(pending);
    return n;
}

void runtime_deadlock(struct runtime *rt)
{
    if (!__atomic_exchange_n(&rt->deadlock_reported, true, __ATOMIC_ACQ_REL)) {
        /* The wait-for graph first: every task, what it waits on, where it
         * stopped, and the cycles. One write, so that it is not interleaved
         * with other output line by line. */
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        if (out) {
            fprintf(out, "weft: deadlock: every task is waiting and nothing can wake one; "
                         "cancelling %s\n",
                    task_is_done(rt->main) ? "the remaining tasks" : "main");
            struct symbolizer *sym = symbolizer_open();
            runtime_describe(rt, out, sym, true);
            symbolizer_close(sym);
        }
        if (out && fclose(out) == 0)
            fputs(text, stderr);
        else
            fprintf(stderr, "weft: deadlock: every task is waiting and nothing can wake one\n");
        free(text);
    }
    if (task_is_done(rt->main))
        runtime_cancel_all(rt);
    else
        task_cancel(rt->main);
}

/* --- the worker side of a task's end ----------------------------------- */

void sched_task_exited(struct worker *w, struct weft_task *t)
{
    struct runtime *rt = w->rt;
    if (t->host) {
        t->stack = NULL; /* the host's stack, and its fiber */
        fiber_side_forget(&t->side);
    }
    if (t->stack) {
        if (stack_canary_dead(t->stack))
            overflow_report(t); /* does not return */
        stack_put(&rt->stacks, &w->stacks, t->stack);
        t->stack = NULL;
    }
    fiber_side_destroy(&t->side);
    bool is_main = t == rt->main;
    if (is_main && !rt->single) {
        __atomic_store_n(&rt->main_done, true, __ATOMIC_RELEASE);
        runtime_cancel_all(rt);
    }
    task_unref(t);
    __atomic_store_n(&w->exited, w->exited + 1, __ATOMIC_RELEASE); /* written by w only */
    if (!rt->single && __atomic_load_n(&rt->main_done, __ATOMIC_ACQUIRE) && runtime_live(rt) == 0)
        workers_stop(rt);
}

/* --- build and take down ------------------------------------------------ */

struct runtime *runtime_create(const struct runtime_options *o, int *err)
{
    *err = 0;
    struct runtime *rt = calloc(1, sizeof *rt);
    if (!rt) {
        *err = ENOMEM;
        return NULL;
    }
    rt->nworkers = o->workers;
    rt->single = o->single;
    rt->virtual_time = o->virtual_time;
    rt->shutdown_timeout = o->shutdown_timeout;
    rt->slow_task = o->slow_task;
    rt->dump_signal = o->dump_signal;
    stack_pool_init(&rt->stacks, o->stack_size, o->stack_guard);
    rt->workers = aligned_alloc(CACHE_LINE, rt->nworkers * sizeof *rt->workers);
    rt->idle_stack = calloc(rt->nworkers, sizeof *rt->idle_stack);
    if (!rt->workers || !rt->idle_stack || inject_init(&rt->inject) != 0 ||
        poller_init(&rt->poller) != 0) {
        free(rt->workers);
        free(rt->idle_stack);
        stack_pool_destroy(&rt->stacks);
        free(rt);
        *err = ENOMEM;
        return NULL;
    }
    memset(rt->workers, 0, rt->nworkers * sizeof *rt->workers);
    pthread_mutex_init(&rt->idle_lock, NULL);
    pthread_mutex_init(&rt->everyone_idle, NULL);
    spin_init(&rt->spill_lock, LOCK_RANK_LEAF);
    rt->timer_watch = INFINITY;
    rt->started_ns = metrics_clock_ns();
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct worker *w = &rt->workers[i];
        w->rt = rt;
        w->index = i;
        w->rng = 0x9e3779b97f4a7c15ull * (i + 1);
        spin_init(&w->registry.lock, LOCK_RANK_REGISTRY);
        worker_clock_refresh(w);
        timer_heap_init(&w->timers);
        park_init(&w->park);
        if (deque_init(&w->deque, 8) != 0)
            *err = ENOMEM;
    }
    return rt;
}

void runtime_destroy(struct runtime *rt)
{
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct worker *w = &rt->workers[i];
        timer_heap_destroy(&w->timers);
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct registry *r = &rt->workers[i].registry;
        while (r->head) {
            struct weft_task *t = r->head;
            r->head = t->reg_next;
            task_free(t);
        }
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct worker *w = &rt->workers[i];
        stack_cache_flush(&rt->stacks, &w->stacks);
        task_cache_flush(w);
        deque_destroy(&w->deque);
    }
    stack_pool_destroy(&rt->stacks);
    inject_destroy(&rt->inject);
    poller_destroy(&rt->poller);
    pthread_mutex_destroy(&rt->idle_lock);
    pthread_mutex_destroy(&rt->everyone_idle);
    free(rt->ready.items);
    free(rt->idle_stack);
    free(rt->workers);
    free(rt);
}

int runtime_start(struct runtime *rt, void *(*main)(void *), void *arg)
{
    overflow_handler_install();
    rt->main = task_create(rt, NULL, main, arg);
    running_add(rt);
    rt->start_error = rt->main ? monitor_join(rt) : ENOMEM;
    return rt->start_error;
}

void runtime_run(struct runtime *rt)
{
    if (rt->single)
        loop_run(rt);
    else
        workers_run(rt);
}

void *runtime_stop(struct runtime *rt)
{
    /* Out of the list first: the monitor reads the workers' samples only
     * while a runtime is in it. */
    running_remove(rt);
    void *result = WEFT_ERR(rt->start_error);
    if (!rt->start_error) {
        monitor_leave(rt);
        task_mark_retrieved(rt->main);
        result = rt->main->result;
    }
    overflow_handler_remove();
    return result;
}
