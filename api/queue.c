/*
 * asyncio.Queue (Lib/asyncio/queues.py, 3.11) with Queue.shutdown() from 3.13
 * (immediate=False): a ring buffer of items and three lists of waiting tasks,
 * getters, putters and joiners (the waiters of the _finished event), each
 * waiting on an asyncio.Future that lives on its own stack.
 *
 * The queue's lock guards everything but the futures; the lists are wait
 * lists (waitlist.h: a waker picks its waiters under the lock and completes
 * them after it). Unlike Lock's and Semaphore's, a queue's waker takes the
 * waiter off its list (popleft). A future that a concurrent cancel completed
 * first cannot be handed the wake-up; the waker then wakes the next one,
 * which is what asyncio's `if not waiter.done()` does for a waiter cancelled
 * earlier.
 *
 * weft_queue_destroy closes the queue and leaves the freeing to the last task
 * that leaves a wait on it.
 */
#include <errno.h>
#include <stdlib.h>

#include "api/fail.h"
#include "api/handle.h"
#include "api/waitlist.h"
#include "sched/future.h"
#include "sched/lock_order.h"
#include "sched/runtime.h"
#include "sched/task.h"
#include "weft.h"

struct weft_queue {
    spinlock lock;
    bool closed;
    size_t maxsize; /* 0: unbounded */
    void **items;   /* ring buffer of cap slots, cap a power of two */
    size_t head, cap;
    size_t len;             /* written under lock, atomic reads */
    size_t unfinished;      /* _unfinished_tasks */
    struct keepalive alive; /* tasks inside a wait keep the queue alive */
    struct waitlist getters, putters, joiners;
    uint32_t magic; /* api/handle.h; last: past what malloc reuses */
};

/* --- waking ------------------------------------------------------------- */

/* _wakeup_next: pop waiters until one is not done, and pick it. */
static struct waitnode *wakeup_next(struct waitlist *l)
{
    struct waitnode *n;
    while ((n = waitlist_pop(l))) {
        if (!future_done(&n->fut)) {
            waitnode_pick(n);
            return n;
        }
    }
    return NULL;
}

/* Pick every waiter of l that is not done (shutdown's loops over _getters
 * and _putters, _finished.set()'s loop over its waiters). */
static void pick_all(struct waitlist *l, struct waitchain *c)
{
    struct waitnode *n;
    while ((n = waitlist_pop(l)))
        if (!future_done(&n->fut))
            waitchain_pick(c, n);
}

/* --- items -------------------------------------------------------------- */

static bool full(const struct weft_queue *q)
{
    return q->maxsize && q->len >= q->maxsize;
}

static void set_len(struct weft_queue *q, size_t len)
{
    __atomic_store_n(&q->len, len, __ATOMIC_RELAXED);
}

static int push_item(struct weft_queue *q, void *item)
{
    if (q->len == q->cap) {
        size_t cap = q->cap * 2;
        void **items = malloc(cap * sizeof *items);
        if (!items)
            return ENOMEM;
        for (size_t i = 0; i < q->len; i++)
            items[i] = q->items[(q->head + i) & (q->cap - 1)];
        free(q->items);
        q->items = items;
        q->head = 0;
        q->cap = cap;
    }
    q->items[(q->head + q->len) & (q->cap - 1)] = item;
    set_len(q, q->len + 1);
    return 0;
}

static void *pop_item(struct weft_queue *q)
{
    void *item = q->items[q->head];
    q->head = (q->head + 1) & (q->cap - 1);
    set_len(q, q->len - 1);
    return item;
}

/* --- the calls ---------------------------------------------------------- */

weft_queue *weft_queue_create(size_t maxsize)
{
    struct weft_queue *q = calloc(1, sizeof *q);
    size_t cap = 8;
    while (maxsize && cap < maxsize && cap < 1024)
        cap *= 2; /* a bounded queue mostly never grows */
    if (q)
        q->items = malloc(cap * sizeof *q->items);
    if (!q || !q->items) {
        free(q);
        return fail_errno(ENOMEM);
    }
    spin_init(&q->lock, LOCK_RANK_OBJECT);
    q->magic = HANDLE_LIVE(HANDLE_QUEUE);
    q->maxsize = maxsize;
    q->cap = cap;
    return q;
}

static void queue_free(struct weft_queue *q)
{
    free(q->items);
    free(q);
}

/* Wait on a fresh node in l: the `fut = create_future(); l.append(fut);
 * try: await fut; except: fut.cancel(); l.remove(fut)` of put, get and join.
 * Called and returns with the lock held; the node is out of l, settled. The
 * caller counts itself in q->alive for the whole call. */
static int wait_in(struct weft_queue *q, struct weft_task *self, struct waitlist *l,
                   struct waitnode *n)
{
    waitlist_push(l, n);
    spin_unlock(&q->lock);
    int err = future_await(self, &n->fut);
    if (err)
        future_cancel_plain(&n->fut); /* just in case it is not done yet */
    spin_lock(&q->lock);
    waitlist_remove(l, n);
    return err;
}

/* Complete a node picked by _wakeup_next; if a cancel beat us to it, wake
 * the next waiter of l instead, as long as what it waits for is still
 * there. */
static void hand_over(struct weft_queue *q, struct waitlist *l, struct waitnode *n)
{
    while (n && !waitnode_complete(n, NULL)) {
        spin_lock(&q->lock);
        bool still = l == &q->getters ? q->len > 0 : !full(q);
        n = still ? wakeup_next(l) : NULL;
        spin_unlock(&q->lock);
    }
}

/* The end of a call that waited, with the lock held: hand over, then stop
 * counting as a waiter, and free the queue if it was destroyed meanwhile
 * and this was its last waiter. */
static void leave(struct weft_queue *q, struct waitlist *l, struct waitnode *wake)
{
    if (wake) {
        spin_unlock(&q->lock);
        hand_over(q, l, wake);
        spin_lock(&q->lock);
    }
    bool last = keepalive_leave(&q->alive);
    spin_unlock(&q->lock);
    if (last)
        queue_free(q);
}

/* put_nowait's body, under the lock. */
static int put_locked(struct weft_queue *q, void *item, struct waitnode **wake)
{
    if (q->closed)
        return EPIPE;
    if (full(q))
        return EAGAIN;
    int err = push_item(q, item);
    if (err)
        return err;
    q->unfinished++; /* and self._finished.clear(): joiners wait while unfinished > 0 */
    *wake = wakeup_next(&q->getters);
    return 0;
}

int weft_queue_put_nowait(weft_queue *q, void *item)
{
    HANDLE_CHECK(q, HANDLE_QUEUE, "weft_queue_put_nowait");
    if (!q)
        return EINVAL;
    struct waitnode *wake = NULL;
    spin_lock(&q->lock);
    int err = put_locked(q, item, &wake);
    spin_unlock(&q->lock);
    hand_over(q, &q->getters, wake);
    return err;
}

int weft_queue_put(weft_queue *q, void *item)
{
    HANDLE_CHECK(q, HANDLE_QUEUE, "weft_queue_put");
    if (!q)
        return EINVAL;
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    struct waitnode putter, *wake = NULL;
    spin_lock(&q->lock);
    if (!full(q) || q->closed) {
        int err = put_locked(q, item, &wake);
        spin_unlock(&q->lock);
        hand_over(q, &q->getters, wake);
        return err;
    }
    keepalive_enter(&q->alive);
    do {
        task_note_wait(self, WAIT_FOR_QUEUE_PUT, q);
        int err = wait_in(q, self, &q->putters, &putter);
        if (err) {
            /* Woken by get_nowait but cannot take the slot: wake the next
             * putter in line. */
            if (!full(q) && !future_cancelled(&putter.fut))
                wake = wakeup_next(&q->putters);
            leave(q, &q->putters, wake);
            return err;
        }
    } while (full(q) && !q->closed);
    int err = put_locked(q, item, &wake);
    leave(q, &q->getters, wake);
    return err;
}

/* get_nowait's body, under the lock. */
static int get_locked(struct weft_queue *q, void **item, struct waitnode **wake)
{
    if (q->len == 0)
        return q->closed ? ENODATA : EAGAIN;
    *item = pop_item(q);
    *wake = wakeup_next(&q->putters);
    return 0;
}

int weft_queue_get_nowait(weft_queue *q, void **item)
{
    HANDLE_CHECK(q, HANDLE_QUEUE, "weft_queue_get_nowait");
    if (!q || !item)
        return EINVAL;
    struct waitnode *wake = NULL;
    spin_lock(&q->lock);
    int err = get_locked(q, item, &wake);
    spin_unlock(&q->lock);
    hand_over(q, &q->putters, wake);
    return err;
}

int weft_queue_get(weft_queue *q, void **item)
{
    HANDLE_CHECK(q, HANDLE_QUEUE, "weft_queue_get");
    if (!q || !item)
        return EINVAL;
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    struct waitnode getter, *wake = NULL;
    spin_lock(&q->lock);
    if (q->len > 0 || q->closed) {
        int err = get_locked(q, item, &wake);
        spin_unlock(&q->lock);
        hand_over(q, &q->putters, wake);
        return err;
    }
    keepalive_enter(&q->alive);
    do {
        task_note_wait(self, WAIT_FOR_QUEUE_GET, q);
        int err = wait_in(q, self, &q->getters, &getter);
        if (err) {
            /* Woken by put_nowait but cannot take the item: wake the next
             * getter in line, so that the item is not stranded. */
            if (q->len > 0 && !future_cancelled(&getter.fut))
                wake = wakeup_next(&q->getters);
            leave(q, &q->getters, wake);
            return err;
        }
    } while (q->len == 0 && !q->closed);
    int err = get_locked(q, item, &wake);
    leave(q, &q->putters, wake);
    return err;
}

size_t weft_queue_size(const weft_queue *q)
{
    HANDLE_CHECK(q, HANDLE_QUEUE, "weft_queue_size");
    return q ? __atomic_load_n(&q->len, __ATOMIC_RELAXED) : 0;
}

void weft_queue_close(weft_queue *q)
{
    HANDLE_CHECK(q, HANDLE_QUEUE, "weft_queue_close");
    if (!q)
        return;
    struct waitchain woken;
    waitchain_init(&woken);
    spin_lock(&q->lock);
    q->closed = true;
    /* All getters need to re-check queue-empty to raise ShutDown. */
    pick_all(&q->getters, &woken);
    pick_all(&q->putters, &woken);
    spin_unlock(&q->lock);
    waitchain_complete(&woken, NULL);
}

int weft_queue_task_done(weft_queue *q)
{
    HANDLE_CHECK(q, HANDLE_QUEUE, "weft_queue_task_done");
    if (!q)
        return EINVAL;
    struct waitchain woken;
    waitchain_init(&woken);
    spin_lock(&q->lock);
    if (q->unfinished == 0) {
        spin_unlock(&q->lock);
        return EINVAL; /* task_done() called too many times */
    }
    if (--q->unfinished == 0)
        pick_all(&q->joiners, &woken); /* self._finished.set() */
    spin_unlock(&q->lock);
    waitchain_complete(&woken, NULL);
    return 0;
}

int weft_queue_join(weft_queue *q)
{
    HANDLE_CHECK(q, HANDLE_QUEUE, "weft_queue_join");
    if (!q)
        return EINVAL;
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    spin_lock(&q->lock);
    if (q->unfinished == 0) {
        spin_unlock(&q->lock);
        return 0;
    }
    struct waitnode joiner;
    keepalive_enter(&q->alive);
    task_note_wait(self, WAIT_FOR_QUEUE_JOIN, q);
    int err = wait_in(q, self, &q->joiners, &joiner);
    if (!err)
        err = weft_error(joiner.fut.result); /* EPIPE from destroy */
    leave(q, NULL, NULL);
    return err;
}

void weft_queue_destroy(weft_queue *q)
{
    HANDLE_CHECK(q, HANDLE_QUEUE, "weft_queue_destroy");
    if (!q)
        return;
    HANDLE_KILL(q, HANDLE_QUEUE); /* the tasks inside a wait have passed their check */
    struct waitchain woken, joiners;
    waitchain_init(&woken);
    waitchain_init(&joiners);
    spin_lock(&q->lock);
    q->closed = true;
    q->head = 0;
    set_len(q, 0); /* the items are dropped: getters see ENODATA */
    pick_all(&q->getters, &woken);
    pick_all(&q->putters, &woken);
    pick_all(&q->joiners, &joiners);
    bool last = keepalive_destroy(&q->alive);
    spin_unlock(&q->lock);
    /* From here on the last waiter to leave may free q: touch only nodes. */
    waitchain_complete(&woken, NULL);
    waitchain_complete(&joiners, WEFT_ERR(EPIPE));
    if (last)
        queue_free(q);
}
