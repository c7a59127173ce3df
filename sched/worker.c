/*
 * Multi-thread mode: N workers, each owning a Chase-Lev deque.
 *
 * A spawned or woken task is pushed on the deque of the worker that made it
 * runnable; the owner pops LIFO (depth first, warm caches), thieves steal
 * FIFO. After a yield the owner takes from its FIFO end too, so a yielding
 * task goes behind the others. Work from threads that are not workers goes
 * through the shared injection queue.
 *
 * Idle workers search (steal from every other worker, starting at a random
 * one, then the injection queue) and then park on their own event count.
 * The rule that keeps parking cheap and wake-ups from being lost, after Go's
 * scheduler (runtime/proc.go, "spinning" Ms):
 *  - nsearching counts workers looking for work. Making a task runnable wakes
 *    a parked worker only if nobody is searching; the waker counts the woken
 *    worker as searching on its behalf, so a burst of spawns wakes one
 *    worker, not all of them.
 *  - A searcher that finds work stops searching; if it was the last one it
 *    wakes another, so that while work keeps appearing someone is looking.
 *  - Lost wake-up: the pusher does (push; fence; read nsearching/nidle) and
 *    the parker does (join idle set; fence; re-check every deque). With both
 *    fences sequentially consistent, one of them sees the other.
 *
 * Timers: each worker has its own heap (sched/timer.h); a sleeping task's
 * timer goes on the heap of the worker it ran on, and that worker fires it.
 * But a worker can be busy in one long task while its timers come due, so
 * any worker fires what expired on other heaps: every INJECT_CHECK_INTERVAL
 * ticks, and whenever it finds no work. And one idle worker, the timer
 * watcher, parks no longer than the earliest deadline of all heaps, which
 * it publishes in rt->timer_watch: a push that makes an earlier deadline the
 * top of its heap wakes an idle worker (which becomes the watcher when it
 * parks again). The watcher that finds a task to run stops watching and
 * hands the role on, so that it does not end with a busy worker. Under
 * virtual time the last worker to go idle moves the clock to the earliest
 * deadline of all heaps and fires what expired.
 *
 * The idle path is also where the I/O poller is: while tasks wait on
 * descriptors, one parking worker at a time sleeps in epoll_wait instead
 * of on its park (park() below).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* gettid */
#endif
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <time.h>

#include "sched/lock_order.h"
#include "sched/metrics.h"
#include "sched/overflow.h"
#include "sched/runtime.h"

#define CLOCK_RESOLUTION 1e-9
#define MAXIMUM_JUMP (24 * 3600.0)
#define INJECT_CHECK_INTERVAL 61 /* ticks between fairness checks, as in Go and Tokio */

static void wake_idle_worker(struct runtime *rt);
static void wake_idle_worker_for_timer(struct runtime *rt);

/* A full fence for the store-then-load handshakes below. ThreadSanitizer
 * does not model fences, so there it is an RMW, which x86 executes as one. */
static inline void full_fence(void)
{
#ifdef WEFT_TSAN
    static int dummy;
    __atomic_fetch_add(&dummy, 0, __ATOMIC_SEQ_CST);
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* --- making tasks runnable ---------------------------------------------- */

static void spill_push(struct runtime *rt, struct weft_task *t)
{
    t->spill_next = NULL;
    spin_lock(&rt->spill_lock);
    if (rt->spill_tail)
        rt->spill_tail->spill_next = t;
    else
        rt->spill_head = t;
    rt->spill_tail = t;
    __atomic_store_n(&rt->spill_len, rt->spill_len + 1, __ATOMIC_RELEASE);
    spin_unlock(&rt->spill_lock);
}

struct weft_task *sched_take_shared(struct runtime *rt)
{
    struct weft_task *t = inject_empty(&rt->inject) ? NULL : inject_pop(&rt->inject);
    if (t || !__atomic_load_n(&rt->spill_len, __ATOMIC_ACQUIRE))
        return t;
    spin_lock(&rt->spill_lock);
    t = rt->spill_head;
    if (t) {
        rt->spill_head = t->spill_next;
        if (!rt->spill_head)
            rt->spill_tail = NULL;
        __atomic_store_n(&rt->spill_len, rt->spill_len - 1, __ATOMIC_RELEASE);
    }
    spin_unlock(&rt->spill_lock);
    return t;
}

bool sched_shared_empty(struct runtime *rt)
{
    return inject_empty(&rt->inject) && !__atomic_load_n(&rt->spill_len, __ATOMIC_ACQUIRE);
}

void sched_ready(struct runtime *rt, struct weft_task *t)
{
    sched_ready_from(worker_self(), rt, t);
}

void sched_ready_from(struct worker *w, struct runtime *rt, struct weft_task *t)
{
    bool local = w && w->rt == rt;
    if (rt->single && local) {
        loop_step_ready(rt, t);
        return;
    }
    /* Out of memory, a ready task still has somewhere to go. */
    if (local ? deque_push(&w->deque, t) != 0 : inject_push(&rt->inject, t) != 0)
        spill_push(rt, t);
    /* Every push does the wake-up check, even onto a deque that already held
     * work. Skipping it there ("the push that made it non-empty checked")
     * lost wake-ups: between the look at the deque and the push, a thief can
     * take the item that was there and the last searcher can park after a
     * re-check that saw the deque empty; the new task then waits for its
     * busy owner (tests/sched/test_task.c, work spreads from a busy worker).
     * Go (runqput, wakep) and Tokio (notify_parked_local) check every push. */
    if (rt->nworkers > 1)
        wake_idle_worker(rt);
    else if (!local && rt->single)
        poller_wake(&rt->poller); /* the loop blocks in epoll_wait */
    else if (!local)
        wake_idle_worker(rt); /* the one stealing worker sleeps on its park */
}

void sched_yielded(struct worker *w, struct weft_task *t)
{
    struct runtime *rt = w->rt;
    if (rt->single) {
        loop_step_ready(rt, t);
        return;
    }
    if (deque_push(&w->deque, t) != 0)
        spill_push(rt, t);
    /* No fence here: w is between tasks and takes from this deque next, so
     * the task cannot be stranded, and a wake-up is only for parallelism.
     * Without the fence, a worker parking just now may miss both this push
     * and our look at nidle; then the next yield here sees it idle and
     * wakes it. A yield-heavy loop at 2 workers spent 4% in the fence. */
    if (rt->nworkers > 1 && __atomic_load_n(&rt->nidle, __ATOMIC_RELAXED) > 0)
        wake_idle_worker(rt);
}

void sched_woken(struct runtime *rt, struct weft_task *t)
{
    struct worker *w = worker_self();
    if (rt->single || !w || w->rt != rt) {
        sched_ready(rt, t);
        return;
    }
    /* A ping-pong of wake-ups stays on one worker (Tokio's LIFO slot); the
     * task it displaces becomes stealable. */
    struct weft_task *displaced = w->next;
    __atomic_store_n(&w->next, t, __ATOMIC_RELEASE); /* others only look (everyone_idle) */
    if (displaced)
        sched_ready(rt, displaced);
}

/* --- idle set ----------------------------------------------------------- */

static bool idle_remove(struct runtime *rt, struct worker *w)
{
    mutex_lock(&rt->idle_lock, LOCK_RANK_IDLE);
    bool was = w->idle;
    if (was) {
        for (unsigned i = 0; i < rt->nidle; i++) {
            if (rt->idle_stack[i] == w->index) {
                rt->idle_stack[i] = rt->idle_stack[rt->nidle - 1];
                break;
            }
        }
        w->idle = false;
        __atomic_store_n(&rt->nidle, rt->nidle - 1, __ATOMIC_RELAXED);
    }
    mutex_unlock(&rt->idle_lock);
    return was;
}

/* Wake one parked worker; unless even_if_searching, only if nobody is
 * searching already. */
static void wake_one(struct runtime *rt, bool even_if_searching)
{
    full_fence(); /* push before reading the idle state */
    if ((!even_if_searching && __atomic_load_n(&rt->nsearching, __ATOMIC_RELAXED) != 0) ||
        __atomic_load_n(&rt->nidle, __ATOMIC_RELAXED) == 0)
        return;
    mutex_lock(&rt->idle_lock, LOCK_RANK_IDLE);
    struct worker *woken = NULL;
    if (rt->nidle > 0 &&
        (even_if_searching || __atomic_load_n(&rt->nsearching, __ATOMIC_RELAXED) == 0)) {
        unsigned index = rt->idle_stack[rt->nidle - 1];
        __atomic_store_n(&rt->nidle, rt->nidle - 1, __ATOMIC_RELAXED);
        woken = &rt->workers[index];
        woken->idle = false;
        /* Counted as searching on its behalf: no second wake for the same burst. */
        __atomic_add_fetch(&rt->nsearching, 1, __ATOMIC_SEQ_CST);
    }
    bool polling = woken && woken->polling;
    mutex_unlock(&rt->idle_lock);
    if (polling)
        poller_wake(&rt->poller);
    else if (woken)
        park_wake(&woken->park);
}

static void wake_idle_worker(struct runtime *rt)
{
    wake_one(rt, false);
}

/* A timer needs a watcher: a searcher is no promise, as it may find a task
 * and run it without parking, so this wakes a parked worker even then. The
 * timer paths that call it are rare (a new earliest deadline, a hand-off). */
static void wake_idle_worker_for_timer(struct runtime *rt)
{
    wake_one(rt, true);
}

void sched_poke(struct runtime *rt)
{
    if (rt->single)
        poller_wake(&rt->poller);
    else
        wake_one(rt, true);
}

void workers_stop(struct runtime *rt)
{
    __atomic_store_n(&rt->stop, true, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; i < rt->nworkers; i++)
        park_wake(&rt->workers[i].park);
    poller_wake(&rt->poller);
}

/* Look at the descriptors without waiting, if nobody else is. */
static void poll_now(struct runtime *rt)
{
    if (poller_has_waiters(&rt->poller) && poller_try_acquire(&rt->poller)) {
        poller_poll(rt, 0);
        poller_release(&rt->poller);
    }
}

/* --- timers --------------------------------------------------------------- */

/* A deadline just became the top of a heap: if the watcher sleeps past it,
 * or nobody watches, wake an idle worker to look (see the top of the file). */
static void timer_watch_check(struct runtime *rt, double when)
{
    /* The new top is published (the heap's lock) before the watch is read;
     * a parker publishes its watch before it reads the tops (park_deadline).
     * Both sides fence, so one of them sees the other. */
    full_fence();
    double watch;
    __atomic_load(&rt->timer_watch, &watch, __ATOMIC_RELAXED);
    /* nidle read here, after this fence, spares wake_one's own fence when
     * every worker is busy (pushes of new earliest timers, all of them). */
    if (when < watch && __atomic_load_n(&rt->nidle, __ATOMIC_RELAXED) > 0)
        wake_idle_worker_for_timer(rt);
}

int sched_timer_add(struct runtime *rt, struct timer *tm)
{
    struct worker *w = worker_self();
    struct timer_heap *h = &(w && w->rt == rt ? w : &rt->workers[0])->timers;
    if (rt->single && loop_reserve(rt) != 0)
        return ENOMEM;
    spin_lock(&h->lock);
    int err = timer_heap_push(h, tm);
    bool top = err == 0 && h->items[0].timer == tm;
    spin_unlock(&h->lock);
    if (top && rt->nworkers > 1 && !rt->virtual_time)
        timer_watch_check(rt, tm->when);
    return err;
}

/* Fire the timers of h that expired by `now`; returns how many fired. */
static unsigned fire_expired(struct timer_heap *h, double now)
{
    unsigned fired = 0;
    double end = now + CLOCK_RESOLUTION;
    for (;;) {
        spin_lock(&h->lock);
        timer_heap_prune(h);
        struct timer *tm = h->len && h->items[0].when < end ? timer_heap_pop(h) : NULL;
        spin_unlock(&h->lock);
        if (!tm)
            return fired;
        if (!__atomic_load_n(&tm->cancelled, __ATOMIC_RELAXED)) {
            tm->fire(tm);
            fired++;
        }
        timer_release(tm);
    }
}

/* The earliest live deadline of h, or INFINITY-like -1 when there is none. */
static bool earliest(struct timer_heap *h, double *when)
{
    spin_lock(&h->lock);
    timer_heap_prune(h);
    bool any = h->len > 0;
    if (any)
        *when = h->items[0].when;
    spin_unlock(&h->lock);
    return any;
}

/* Virtual time, everyone idle: jump to the earliest deadline of all heaps
 * and fire what expired. False if there was no timer anywhere. */
static bool advance_virtual_clock(struct runtime *rt)
{
    double when = 0;
    bool any = false;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        double w;
        if (earliest(&rt->workers[i].timers, &w) && (!any || w < when)) {
            when = w;
            any = true;
        }
    }
    if (!any)
        return false;
    double now;
    __atomic_load(&rt->vnow, &now, __ATOMIC_ACQUIRE);
    double jump = when - now;
    if (jump > MAXIMUM_JUMP)
        jump = MAXIMUM_JUMP;
    if (jump > 0) {
        now += jump;
        __atomic_store(&rt->vnow, &now, __ATOMIC_RELEASE);
    }
    for (unsigned i = 0; i < rt->nworkers; i++)
        fire_expired(&rt->workers[i].timers, now);
    return true;
}

/* The earliest deadline on the other workers' heaps (a hint: read without
 * their locks), or INFINITY. */
static double others_earliest(struct worker *w)
{
    struct runtime *rt = w->rt;
    double when = INFINITY;
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (&rt->workers[i] != w)
            when = fmin(when, timer_heap_earliest(&rt->workers[i].timers));
    return when;
}

/* How late another worker's timer must be before a busy worker fires it:
 * its owner fires it itself within INJECT_CHECK_INTERVAL tasks unless it is
 * stuck in one, and taking it would move the task and contend for the lock. */
#define BUSY_FIRE_LATENESS 1e-3

/* Fire what expired `lateness` seconds ago or more on other workers' heaps,
 * whose owners may be busy in a long task; their tasks wake here. Returns
 * how many fired. */
static unsigned fire_others(struct worker *w, double lateness)
{
    struct runtime *rt = w->rt;
    if (rt->nworkers == 1 || rt->virtual_time || others_earliest(w) == INFINITY)
        return 0;
    double now = runtime_now(rt);
    unsigned fired = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct worker *v = &rt->workers[i];
        if (v != w && timer_heap_earliest(&v->timers) < now + CLOCK_RESOLUTION - lateness)
            fired += fire_expired(&v->timers, now);
    }
    return fired;
}

/* Withdraw w's published watch; false if another parker had replaced it
 * (and covers the timers). */
static bool unwatch(struct worker *w)
{
    w->watching = false;
    double mine = w->watch_until, none = INFINITY;
    bool mine_still = __atomic_compare_exchange(&w->rt->timer_watch, &mine, &none, false,
                                                __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
    /* The watch is gone before the tops are read again (by the callers):
     * pairs with timer_watch_check's fence, as park_deadline's does. */
    full_fence();
    return mine_still;
}

/* The watcher found a task to run: give the role up, and if any timer is
 * left, wake an idle worker to take it on when it parks. */
static void stop_watching(struct worker *w)
{
    struct runtime *rt = w->rt;
    if (unwatch(w) && fmin(others_earliest(w), timer_heap_earliest(&w->timers)) < INFINITY &&
        __atomic_load_n(&rt->nidle, __ATOMIC_RELAXED) > 0)
        wake_idle_worker_for_timer(rt);
}

/* How long a parking worker may sleep: until its own earliest timer, or,
 * as the watcher, until the earliest of all heaps when no other parked
 * worker wakes before that. False: no deadline. */
static bool park_deadline(struct worker *w, double *when)
{
    struct runtime *rt = w->rt;
    if (w->watching)
        unwatch(w); /* a stale watch would keep pushes from waking anyone */
    double own = INFINITY;
    earliest(&w->timers, &own);
    *when = own;
    if (rt->nworkers == 1)
        return own < INFINITY;
    /* A deadline already past (even -inf, from a timeout of -inf) is now: a
     * watch in the past would keep every later push from waking anyone. */
    double all = fmax(fmin(own, others_earliest(w)), runtime_now(rt)), watch;
    __atomic_load(&rt->timer_watch, &watch, __ATOMIC_RELAXED);
    while (all < watch) {
        if (__atomic_compare_exchange(&rt->timer_watch, &watch, &all, false, __ATOMIC_SEQ_CST,
                                      __ATOMIC_RELAXED)) {
            w->watching = true;
            w->watch_until = all;
            /* Published before the tops are read again (timer_watch_check):
             * a top pushed after this read finds the watch and wakes one. */
            full_fence();
            *when = fmin(all, fmin(own, others_earliest(w)));
            break;
        }
    }
    return *when < INFINITY;
}

static bool any_timer(struct runtime *rt)
{
    double when;
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (earliest(&rt->workers[i].timers, &when))
            return true;
    return false;
}

/* --- finding work --------------------------------------------------------- */

static uint64_t next_random(struct worker *w)
{
    /* xorshift64 */
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->rng = x;
}

#define NEXT_STREAK_MAX 32 /* then the slot's task queues like the others */

static struct weft_task *take_own(struct worker *w)
{
    struct weft_task *next = w->next;
    if (next) {
        __atomic_store_n(&w->next, NULL, __ATOMIC_RELAXED);
        if (++w->next_streak <= NEXT_STREAK_MAX && !w->take_fifo)
            return next;
        sched_ready(w->rt, next);
    }
    w->next_streak = 0;
    if (w->take_fifo) {
        w->take_fifo = false;
        if (w->rt->nworkers == 1) /* no thief to race with */
            return deque_take_oldest_unshared(&w->deque);
        void *item;
        enum deque_steal r;
        while ((r = deque_steal(&w->deque, &item)) == DEQUE_ABORT)
            ;
        if (r == DEQUE_SUCCESS)
            return item;
    }
    return deque_pop(&w->deque);
}

static struct weft_task *find_local(struct worker *w)
{
    struct runtime *rt = w->rt;
    struct weft_task *t;
    if (++w->tick % INJECT_CHECK_INTERVAL == 0) {
        /* Fairness: neither injected work nor due timers (ours, or those
         * of a worker busy in a long task) wait for an empty deque. */
        if (!rt->virtual_time && timer_heap_earliest(&w->timers) < INFINITY)
            fire_expired(&w->timers, runtime_now(rt));
        fire_others(w, BUSY_FIRE_LATENESS);
        if ((t = sched_take_shared(rt)))
            return t;
        poll_now(rt);
    }
    if ((t = take_own(w)))
        return t;
    if (!rt->virtual_time && timer_heap_earliest(&w->timers) < INFINITY &&
        fire_expired(&w->timers, runtime_now(rt)) && (t = take_own(w)))
        return t;
    if ((t = sched_take_shared(rt)))
        return t;
    poll_now(rt);
    return take_own(w);
}

static struct weft_task *steal_any(struct worker *w)
{
    struct runtime *rt = w->rt;
    unsigned n = rt->nworkers;
    unsigned start = (unsigned)(next_random(w) % n);
    for (unsigned round = 0; round < 3; round++) {
        bool contended = false;
        for (unsigned i = 0; i < n; i++) {
            struct worker *victim = &rt->workers[(start + i) % n];
            if (victim == w)
                continue;
            void *item;
            counter_bump(&w->counters.steal_attempts);
            enum deque_steal r = deque_steal(&victim->deque, &item);
            if (r == DEQUE_SUCCESS) {
                counter_bump(&w->counters.steals);
                return item;
            }
            contended |= r == DEQUE_ABORT;
        }
        struct weft_task *t = sched_take_shared(rt);
        if (t)
            return t;
        if (!contended)
            break;
    }
    return NULL;
}

static bool work_visible(struct runtime *rt)
{
    if (!sched_shared_empty(rt))
        return true;
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (deque_size(&rt->workers[i].deque) > 0)
            return true;
    return false;
}

static bool next_slots_filled(struct runtime *rt)
{
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (__atomic_load_n(&rt->workers[i].next, __ATOMIC_ACQUIRE))
            return true;
    return false;
}

/* The last worker to go idle, when everyone is: time must move, or nothing
 * ever will. Under virtual time it moves only after a look at the
 * descriptors found nothing: the poller's holder looks, so wake it if that
 * is not us. With no timer and nothing outside that could wake a task,
 * *deadlock. True: unpark, there is work.
 * One worker at a time, on a snapshot taken under the idle set's lock. A
 * worker that fires timers here puts the tasks they wake in its next-task
 * slot while it still counts as idle: the next one in finds them there
 * instead of declaring a deadlock. And a worker that woke at its timer's
 * deadline, left the idle set and popped the timer cannot slip between the
 * count and the look at the timers, as it could when the two were read
 * apart. If someone left the idle set meanwhile, the decision is left to
 * whichever worker comes back last. */
static bool everyone_idle(struct worker *w, bool polling, bool io, bool *deadlock)
{
    struct runtime *rt = w->rt;
    /* Waiting for the lock, not trying it: a worker that finds the lock held
     * and parks could be the last idle one, whose job this is. */
    mutex_lock(&rt->everyone_idle, LOCK_RANK_EVERYONE_IDLE);
    /* One snapshot, under the idle set's lock: a worker takes a task from a
     * queue or a slot, or pops a timer to fire it, only after it has left
     * the idle set, so with everyone still in it nothing is in flight. */
    mutex_lock(&rt->idle_lock, LOCK_RANK_IDLE);
    /* Not after the last task ended (workers_stop): that is no deadlock. */
    bool still = rt->nidle == rt->nworkers && !__atomic_load_n(&rt->stop, __ATOMIC_ACQUIRE);
    bool work = still && (next_slots_filled(rt) || work_visible(rt));
    bool timers = any_timer(rt);
    bool external = io || __atomic_load_n(&rt->external, __ATOMIC_ACQUIRE) > 0;
    /* Every task has ended but nobody stopped the workers: the last two
     * exits (main's and another's, on two workers) each looked for the
     * other's count with acquire loads only, and both can miss (a fence per
     * task exit would cost every task). Nothing runs now, so the count is
     * exact here: stop. */
    bool ended = still && !work && __atomic_load_n(&rt->main_done, __ATOMIC_ACQUIRE) &&
                 runtime_live(rt) == 0;
    mutex_unlock(&rt->idle_lock);
    if (ended) {
        workers_stop(rt);
        *deadlock = false;
        mutex_unlock(&rt->everyone_idle);
        return true;
    }
    if (!work && still && rt->virtual_time && io && !polling)
        poller_wake(&rt->poller);
    else if (!work && still && rt->virtual_time)
        work = (polling && poller_poll(rt, 0) > 0) || advance_virtual_clock(rt);
    *deadlock = !work && still && !external && !timers;
    mutex_unlock(&rt->everyone_idle);
    return work;
}

/* Leave the idle set (and the poller); see park() for the result. */
static bool unpark(struct worker *w, bool polling)
{
    if (polling)
        poller_release(&w->rt->poller);
    worker_clock_refresh(w);
    return !idle_remove(w->rt, w);
}

/* Leave the idle set for work seen on the way to sleep: as a searcher (as
 * Go's findrunnable does), so that finding it passes the duty to look on
 * (stop_searching). Else a wake-up skipped because we were searching would
 * be lost: we would run the work without waking anyone. Returns true. */
static bool unpark_searching(struct worker *w, bool polling)
{
    if (!unpark(w, polling))
        __atomic_add_fetch(&w->rt->nsearching, 1, __ATOMIC_SEQ_CST);
    return true;
}

static void stop_searching(struct worker *w, bool *searching)
{
    if (!*searching)
        return;
    *searching = false;
    if (__atomic_sub_fetch(&w->rt->nsearching, 1, __ATOMIC_SEQ_CST) == 0)
        wake_idle_worker(w->rt); /* the last searcher found work: keep one looking */
}

static int64_t deadline_ns(double seconds_from_now)
{
    /* A far deadline (a timeout of 1e300 s) is a day at a time, and one
     * past (-inf) is now: the nanosecond count must not overflow. */
    seconds_from_now = fmax(fmin(seconds_from_now, MAXIMUM_JUMP), 0);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + (int64_t)(seconds_from_now * 1e9);
}

/* Nothing found: join the idle set and sleep until woken or until the
 * earliest own timer; one idle worker at a time sleeps in epoll_wait
 * instead, when tasks wait on descriptors. True if a waker took us out of
 * the idle set, which means it counted us as searching. */
static bool park(struct worker *w)
{
    struct runtime *rt = w->rt;
    bool io = poller_has_waiters(&rt->poller);
    bool polling = io && poller_try_acquire(&rt->poller);
    uint32_t prepared = park_prepare(&w->park);
    mutex_lock(&rt->idle_lock, LOCK_RANK_IDLE);
    rt->idle_stack[rt->nidle] = w->index;
    w->idle = true;
    w->polling = polling;
    unsigned nidle = rt->nidle + 1;
    __atomic_store_n(&rt->nidle, nidle, __ATOMIC_RELAXED);
    mutex_unlock(&rt->idle_lock);
    full_fence(); /* join the idle set before re-checking */

    if (work_visible(rt) || __atomic_load_n(&rt->stop, __ATOMIC_ACQUIRE))
        return unpark_searching(w, polling);
    /* Read after joining the idle set: a task that parked on a descriptor
     * on another worker meanwhile is seen here. */
    io = poller_has_waiters(&rt->poller);
    if (nidle == rt->nworkers) {
        bool deadlock = false;
        if (everyone_idle(w, polling, io, &deadlock))
            return unpark_searching(w, polling);
        if (deadlock) {
            bool counted = unpark(w, polling);
            runtime_deadlock(rt);
            return counted;
        }
    }
    double when;
    bool timed = !rt->virtual_time && park_deadline(w, &when);
    worker_sleep_begin(w);
    if (polling) {
        double ms = timed ? ceil((when - runtime_now(rt)) * 1e3) : -1;
        poller_poll(rt, timed ? (ms > 0 ? (int)fmin(ms, 86400e3) : 0) : -1);
    } else {
        park_wait(&w->park, prepared, timed ? deadline_ns(when - runtime_now(rt)) : -1);
    }
    bool woken = unpark(w, polling);
    worker_sleep_end(w, woken);
    return woken;
}

static void worker_loop(struct worker *w)
{
    struct runtime *rt = w->rt;
    bool searching = false;
    while (!__atomic_load_n(&rt->stop, __ATOMIC_ACQUIRE)) {
        struct weft_task *t = find_local(w);
        if (!t) {
            if (!searching) {
                searching = true;
                __atomic_add_fetch(&rt->nsearching, 1, __ATOMIC_SEQ_CST);
            }
            t = steal_any(w);
        }
        if (!t && fire_others(w, 0))
            continue; /* what they woke is in our next-task slot */
        if (t) {
            stop_searching(w, &searching);
            if (w->watching)
                stop_watching(w);
            task_run(t);
            continue;
        }
        /* Give up searching before parking; park() re-checks afterwards. */
        searching = false;
        __atomic_sub_fetch(&rt->nsearching, 1, __ATOMIC_SEQ_CST);
        searching = park(w);
    }
    if (searching)
        __atomic_sub_fetch(&rt->nsearching, 1, __ATOMIC_SEQ_CST);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    worker_set_self(w);
    __atomic_store_n(&w->tid, (int)gettid(), __ATOMIC_RELEASE);
    w->altstack = overflow_altstack_enter();
#ifdef WEFT_TSAN
    w->side.tsan_fiber = __tsan_get_current_fiber();
#endif
    worker_loop(w);
    overflow_altstack_leave(w->altstack);
    worker_set_self(NULL);
    return NULL;
}

void workers_run(struct runtime *rt)
{
    struct worker *first = &rt->workers[0];
    worker_set_self(first);
    sched_ready(rt, rt->main);
    worker_set_self(NULL);
    unsigned started = 1;
    for (; started < rt->nworkers; started++) {
        if (pthread_create(&rt->workers[started].thread, NULL, worker_main,
                           &rt->workers[started]) != 0) {
            /* Fewer threads than asked for still run every task. */
            fprintf(stderr, "weft: started %u of %u workers\n", started, rt->nworkers);
            __atomic_store_n(&rt->nworkers, started, __ATOMIC_RELEASE);
            break;
        }
    }
    worker_main(first);
    for (unsigned i = 1; i < started; i++)
        pthread_join(rt->workers[i].thread, NULL);
}
