/*
 * Timers: a deadline and what to do when it passes, kept in a binary heap.
 *
 * The heap is CPython's heapq, operation for operation (the same sift-down
 * and sift-up, comparing deadlines only), so timers with equal deadlines
 * come out in the order asyncio's loop would pop them: the single-thread
 * mode's output depends on it. In multi-thread mode each worker owns a heap
 * behind its own lock, which only that worker takes on the hot path; an idle
 * worker reads another heap's earliest deadline without the lock and takes
 * the lock to fire it when its owner is busy (sched/worker.c).
 */
#ifndef SCHED_TIMER_H
#define SCHED_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ck/spinlock.h"

struct weft_task;
struct timer;
typedef void timer_fire_fn(struct timer *t);

/* Reference counted: one for the heap (dropped when popped), one for the
 * owner that may cancel it (dropped with timer_release). */
struct timer {
    double when;
    timer_fire_fn *fire;
    struct weft_task *task; /* the task to wake; the timer holds a reference */
    uint64_t seq;           /* the task's wait this timer belongs to */
    int refs;               /* atomic */
    bool cancelled;         /* atomic */
    bool scheduled;         /* in a heap; under the heap's lock */
    struct timer_heap *heap; /* the heap it was pushed on */
    void *ctx;               /* for fire functions that are not task wake-ups */
    void (*ctx_drop)(void *ctx); /* called with ctx when the timer is freed */
};

/* A heap slot keeps its timer's deadline beside the pointer: sifting through
 * a heap of 100,000 timers compares deadlines without touching the timers
 * themselves (a cache miss each). */
struct heap_entry {
    double when;
    struct timer *timer;
};

struct timer_heap {
    spinlock lock;
    struct heap_entry *items;
    size_t len, cap;  /* len: atomic reads without the lock (weft_metrics_get) */
    size_t cancelled; /* cancelled timers still in the heap (asyncio's count) */
    /* atomic: items[0].when, INFINITY when empty; written under lock, read
     * without it by other workers: on a line of its own, so that their looks
     * do not take the line of the lock and of what the owner writes often. */
    double earliest __attribute__((aligned(64)));
};

struct timer *timer_new(double when, timer_fire_fn *fire, struct weft_task *task, uint64_t seq);
void timer_release(struct timer *t);

/* Mark t cancelled (asyncio's TimerHandle.cancel); a fired timer stays
 * fired. True if this call cancelled it. */
bool timer_cancel(struct timer *t);

void timer_heap_init(struct timer_heap *h);
void timer_heap_destroy(struct timer_heap *h);
int timer_heap_push(struct timer_heap *h, struct timer *t);  /* 0 or ENOMEM; takes the heap's ref */
struct timer *timer_heap_pop(struct timer_heap *h);          /* earliest; caller gets the heap's ref */
static inline struct timer *timer_heap_peek(const struct timer_heap *h)
{
    return h->len ? h->items[0].timer : NULL;
}
/* The deadline at the top (a cancelled timer's, possibly), or INFINITY; a
 * hint for other threads, exact under the heap's lock. */
static inline double timer_heap_earliest(const struct timer_heap *h)
{
    double when;
    __atomic_load(&h->earliest, &when, __ATOMIC_RELAXED);
    return when;
}
/* asyncio's clean-up rule: with more than 100 timers, over half of them
 * cancelled, rebuild the heap from the live ones (heapify); otherwise pop
 * cancelled timers off the top. */
void timer_heap_prune(struct timer_heap *h);

#endif /* SCHED_TIMER_H */
