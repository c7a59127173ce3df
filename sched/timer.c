/*
 * The timer heap: CPython's heapq algorithm (Lib/heapq.py: _siftdown,
 * _siftup, heappush, heappop, heapify) transcribed to C so that equal
 * deadlines leave the heap in exactly asyncio's order, plus the clean-up rule
 * of asyncio's BaseEventLoop._run_once.
 */
#include "sched/timer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "sched/lock_order.h"
#include "sched/task.h"

#define MIN_SCHEDULED_TIMERS 100
#define MIN_CANCELLED_FRACTION 0.5

struct timer *timer_new(double when, timer_fire_fn *fire, struct weft_task *task, uint64_t seq)
{
    struct timer *t = malloc(sizeof *t);
    if (!t)
        return NULL;
    t->when = when;
    t->fire = fire;
    t->task = task;
    t->seq = seq;
    t->refs = 2;
    t->cancelled = false;
    t->scheduled = false;
    t->heap = NULL;
    t->ctx = NULL;
    t->ctx_drop = NULL;
    if (task)
        task_ref(task);
    return t;
}

void timer_release(struct timer *t)
{
    if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (t->task)
        task_unref(t->task);
    if (t->ctx_drop)
        t->ctx_drop(t->ctx);
    free(t);
}

bool timer_cancel(struct timer *t)
{
    struct timer_heap *h = t->heap;
    spin_lock(&h->lock);
    bool did = !t->cancelled;
    if (did) {
        __atomic_store_n(&t->cancelled, true, __ATOMIC_RELAXED);
        if (t->scheduled)
            h->cancelled++;
    }
    spin_unlock(&h->lock);
    return did;
}

/* len is read without the lock (weft_metrics_get): each change one store. */
static void set_len(struct timer_heap *h, size_t len)
{
    __atomic_store_n(&h->len, len, __ATOMIC_RELAXED);
}

/* Publish the top's deadline after every change of the heap. */
static void top_changed(struct timer_heap *h)
{
    double when = h->len ? h->items[0].when : INFINITY;
    __atomic_store(&h->earliest, &when, __ATOMIC_RELAXED);
}

void timer_heap_init(struct timer_heap *h)
{
    spin_init(&h->lock, LOCK_RANK_LEAF);
    h->items = NULL;
    set_len(h, 0);
    h->cap = 0;
    h->cancelled = 0;
    top_changed(h);
}

void timer_heap_destroy(struct timer_heap *h)
{
    for (size_t i = 0; i < h->len; i++)
        timer_release(h->items[i].timer);
    free(h->items);
    h->items = NULL;
    set_len(h, 0);
    h->cap = 0;
    top_changed(h);
}

/* heapq._siftdown: move the item at pos up towards startpos. */
static void sift_down(struct heap_entry *heap, size_t startpos, size_t pos)
{
    struct heap_entry item = heap[pos];
    while (pos > startpos) {
        size_t parentpos = (pos - 1) >> 1;
        struct heap_entry parent = heap[parentpos];
        if (!(item.when < parent.when))
            break;
        heap[pos] = parent;
        pos = parentpos;
    }
    heap[pos] = item;
}

/* heapq._siftup: bubble the smaller child up until a leaf, then sift down. */
static void sift_up(struct heap_entry *heap, size_t len, size_t pos)
{
    size_t startpos = pos;
    struct heap_entry item = heap[pos];
    size_t childpos = 2 * pos + 1;
    while (childpos < len) {
        size_t rightpos = childpos + 1;
        if (rightpos < len && !(heap[childpos].when < heap[rightpos].when))
            childpos = rightpos;
        heap[pos] = heap[childpos];
        pos = childpos;
        childpos = 2 * pos + 1;
    }
    heap[pos] = item;
    sift_down(heap, startpos, pos);
}

int timer_heap_push(struct timer_heap *h, struct timer *t)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct heap_entry *items = realloc(h->items, cap * sizeof *items);
        if (!items)
            return ENOMEM;
        h->items = items;
        h->cap = cap;
    }
    t->scheduled = true;
    t->heap = h;
    h->items[h->len] = (struct heap_entry){t->when, t};
    set_len(h, h->len + 1);
    sift_down(h->items, 0, h->len - 1);
    if (h->items[0].timer == t)
        top_changed(h);
    return 0;
}

struct timer *timer_heap_pop(struct timer_heap *h)
{
    set_len(h, h->len - 1);
    struct heap_entry last = h->items[h->len];
    struct timer *top = last.timer;
    if (h->len) {
        top = h->items[0].timer;
        h->items[0] = last;
        sift_up(h->items, h->len, 0);
    }
    top->scheduled = false;
    if (top->cancelled)
        h->cancelled--;
    top_changed(h);
    return top;
}

void timer_heap_prune(struct timer_heap *h)
{
    if (h->len > MIN_SCHEDULED_TIMERS &&
        (double)h->cancelled / (double)h->len > MIN_CANCELLED_FRACTION) {
        size_t kept = 0;
        for (size_t i = 0; i < h->len; i++) {
            struct timer *t = h->items[i].timer;
            if (t->cancelled) {
                t->scheduled = false;
                timer_release(t);
            } else {
                h->items[kept++] = h->items[i];
            }
        }
        set_len(h, kept);
        for (size_t i = kept / 2; i-- > 0;)
            sift_up(h->items, h->len, i);
        h->cancelled = 0;
        top_changed(h);
        return;
    }
    while (h->len && h->items[0].timer->cancelled)
        timer_release(timer_heap_pop(h));
}
