/*
 * Single-thread mode: CPython 3.11's event loop, step for step.
 *
 * One FIFO of entries (loop._ready): a task step, an expired timer, or a
 * callback. Each iteration is BaseEventLoop._run_once: prune cancelled
 * timers (asyncio's rule), poll with a timeout of 0 if anything is ready,
 * else until the next timer; move the expired timers to the FIFO in deadline
 * order; then run exactly the entries that were queued when the iteration
 * began. A finished task wakes each awaiter as its own entry; an expired
 * timer is an entry that, when run, wakes its sleeper as another entry:
 * these hops are what decide who prints first.
 *
 * After main is done (a done-callback, like run_until_complete's, stops the
 * loop at the end of that iteration) the leftover tasks are cancelled and
 * the loop runs until every task has finished, as asyncio.Runner does.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* gettid */
#endif
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sched/metrics.h"
#include "sched/overflow.h"
#include "sched/runtime.h"

#define MAXIMUM_SELECT_TIMEOUT (24 * 3600.0)
#define CLOCK_RESOLUTION 1e-9 /* time.get_clock_info('monotonic').resolution */

/* Make room for `want` entries: 0 or ENOMEM. */
static int ready_reserve(struct ready *q, size_t want)
{
    if (want <= q->cap)
        return 0;
    size_t cap = q->cap ? q->cap : 256;
    while (cap < want)
        cap *= 2;
    uintptr_t *items = malloc(cap * sizeof *items);
    if (!items)
        return ENOMEM;
    for (size_t i = 0; i < q->len; i++)
        items[i] = q->items[(q->head + i) & (q->cap - 1)];
    free(q->items);
    q->items = items;
    q->head = 0;
    q->cap = cap;
    return 0;
}

/* Every task has at most one step queued and every timer one entry: keep
 * room for all of them (plus some callbacks), so that waking them never
 * needs memory. Spawns and timers call this and can answer ENOMEM. */
int loop_reserve(struct runtime *rt)
{
    size_t live = (size_t)runtime_live(rt);
    return ready_reserve(&rt->ready, live + rt->workers[0].timers.len + 256);
}

static void ready_push(struct ready *q, uintptr_t entry)
{
    /* Only callbacks beyond the reserve can get here without room. */
    if (ready_reserve(q, q->len + 1) != 0) {
        fputs("weft: out of memory growing the ready queue\n", stderr);
        abort();
    }
    q->items[(q->head + q->len) & (q->cap - 1)] = entry;
    __atomic_store_n(&q->len, q->len + 1, __ATOMIC_RELAXED); /* weft_metrics_get reads it */
}

static uintptr_t ready_pop(struct ready *q)
{
    uintptr_t e = q->items[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    __atomic_store_n(&q->len, q->len - 1, __ATOMIC_RELAXED);
    return e;
}

void loop_step_ready(struct runtime *rt, struct weft_task *t)
{
    ready_push(&rt->ready, (uintptr_t)t | ENTRY_STEP);
}

void loop_call_soon(struct runtime *rt, struct callback *cb)
{
    ready_push(&rt->ready, (uintptr_t)cb | ENTRY_CALL);
}

static void run_entry(uintptr_t e)
{
    void *p = (void *)(e & ~(uintptr_t)3);
    switch (e & 3) {
    case ENTRY_STEP:
        task_run(p);
        break;
    case ENTRY_TIMER: {
        struct timer *tm = p;
        if (!__atomic_load_n(&tm->cancelled, __ATOMIC_RELAXED))
            tm->fire(tm);
        timer_release(tm);
        break;
    }
    case ENTRY_CALL: {
        struct callback *cb = p;
        cb->fn(cb);
        break;
    }
    }
}

/* The selector's select(timeout): take what other threads handed over and
 * what the descriptors say, then wait (or, under virtual time, jump the
 * clock) if nothing is ready. */
static void poll(struct runtime *rt, double timeout)
{
    bool got = false;
    for (struct weft_task *t; (t = sched_take_shared(rt));) {
        loop_step_ready(rt, t);
        got = true;
    }
    bool io = poller_has_waiters(&rt->poller);
    if (got || timeout == 0) {
        if (io)
            poller_poll(rt, 0);
        return;
    }
    bool external = __atomic_load_n(&rt->external, __ATOMIC_ACQUIRE) > 0 || io;
    if (timeout < 0 && !external) {
        runtime_deadlock(rt);
        return;
    }
    if (rt->virtual_time && timeout > 0) {
        /* tests/order/vtime.py's SkippingSelector: look without waiting; if nothing
         * happened, the clock jumps by the whole timeout, to the last bit. */
        if (!io || poller_poll(rt, 0) == 0)
            rt->vnow += timeout;
        return;
    }
    /* selectors.EpollSelector rounds the timeout up to whole milliseconds. */
    worker_sleep_begin(&rt->workers[0]);
    poller_poll(rt, timeout < 0 ? -1 : (int)ceil(timeout * 1e3));
    worker_clock_refresh(&rt->workers[0]);
    bool handed = false; /* by another thread: the wake-up that ended the sleep */
    for (struct weft_task *t; (t = sched_take_shared(rt));) {
        loop_step_ready(rt, t);
        handed = true;
    }
    worker_sleep_end(&rt->workers[0], handed);
}

static void run_once(struct runtime *rt, struct worker *w)
{
    struct timer_heap *heap = &w->timers;
    timer_heap_prune(heap);
    double timeout = -1;
    if (rt->ready.len || rt->stopping) {
        timeout = 0;
    } else if (heap->len) {
        timeout = fmin(fmax(0, heap->items[0].when - runtime_now(rt)), MAXIMUM_SELECT_TIMEOUT);
    }
    poll(rt, timeout);
    double end = runtime_now(rt) + CLOCK_RESOLUTION;
    while (heap->len && heap->items[0].when < end)
        ready_push(&rt->ready, (uintptr_t)timer_heap_pop(heap) | ENTRY_TIMER);
    for (size_t ntodo = rt->ready.len; ntodo; ntodo--)
        run_entry(ready_pop(&rt->ready));
}

static void stop_loop(struct callback *cb)
{
    struct runtime *rt = (struct runtime *)((char *)cb - offsetof(struct runtime, stop_cb));
    rt->stopping = true;
}

/* run_until_complete's done-callback: stop at the end of the iteration. */
static void main_done(struct waiter *w, struct weft_task *main)
{
    (void)w;
    loop_call_soon(main->rt, &main->rt->stop_cb);
}

void loop_run(struct runtime *rt)
{
    struct worker *w = &rt->workers[0];
    worker_set_self(w);
    __atomic_store_n(&w->tid, (int)gettid(), __ATOMIC_RELEASE);
    void *alt = overflow_altstack_enter();
#ifdef WEFT_TSAN
    w->side.tsan_fiber = __tsan_get_current_fiber();
#endif
    rt->stop_cb.fn = stop_loop;
    rt->main_waiter.fn = main_done;
    task_add_waiter(rt->main, &rt->main_waiter);
    loop_step_ready(rt, rt->main);
    while (!rt->stopping)
        run_once(rt, w);
    /* asyncio.Runner.close: cancel what is left and run it to the end. */
    rt->stopping = false;
    while (runtime_live(rt) > 0) {
        runtime_cancel_all(rt);
        while (runtime_live(rt) > 0 && !rt->stopping)
            run_once(rt, w);
        rt->stopping = false;
    }
    /* Callbacks still queued (a gather's, say) run, so their state is freed. */
    while (rt->ready.len)
        run_once(rt, w);
    overflow_altstack_leave(alt);
    worker_set_self(NULL);
}
