/*
 * asyncio.Queue (Lib/asyncio/queues.py, 3.11) with Queue.shutdown() from 3.13
 * (immediate=False): a ring buffer of items and three lists of waiting tasks,
 * getters, putters and joiners (the waiters of the _finished event), each
 * waiting on an asyncio.Future that lives on its own stack.
 *
 * The queue's lock guards everything but the futures. A waker (_wakeup_next,
 * close, task_done) picks its waiters under the lock, marks them busy and
 * completes their futures after dropping it: completing wakes a task, which
 * may wake a parked worker, too much to do under a spinlock. A waiter whose
 * node was picked waits, after taking the lock again, until the node is no
 * longer busy before it lets its stack frame go (settle()). A future that a
 * concurrent cancel completed first cannot be handed the wake-up; the waker
 * then wakes the next one, which is what asyncio's `if not waiter.done()`
 * does for a waiter cancelled earlier.
 *
 * weft_queue_destroy closes the queue and leaves the freeing to the last task
 * that leaves a wait on it (`waiting` counts them).
 */
#include <errno.h>
#include <stdlib.h>

#include "sched/future.h"
#include "sched/runtime.h"
#include "sched/task.h"
#include "weft.h"

/* A waiting task's entry: its future and its place in one of the lists. */
struct node {
    struct future fut;
    struct node *prev, *next; /* under the queue's lock */
    struct node *handed;      /* a waker's private chain of picked nodes */
    bool linked;              /* under the queue's lock */
    bool busy;                /* atomic: a waker still touches fut */
};

struct list {
    struct node *head, *tail;
};

struct weft_queue {
    spinlock lock;
    bool closed, destroyed;
    size_t maxsize; /* 0: unbounded */
    void **items;   /* ring buffer of cap slots, cap a power of two */
    size_t head, cap;
    size_t len;        /* written under lock, atomic reads */
    size_t unfinished; /* _unfinished_tasks */
    unsigned waiting;  /* tasks inside a wait; they keep the queue alive */
    struct list getters, putters, joiners;
};

/* --- waiter lists ------------------------------------------------------- */

static void list_push(struct list *l, struct node *n)
{
    n->prev = l->tail;
    n->next = NULL;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
    n->linked = true;
}

static void list_unlink(struct list *l, struct node *n)
{
    if (!n->linked)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->linked = false;
}

/* A chain of nodes picked under the lock, completed after it. */
struct chain {
    struct node *first, **tail;
};

static void pick(struct chain *c, struct node *n)
{
    __atomic_store_n(&n->busy, true, __ATOMIC_RELAXED);
    n->handed = NULL;
    *c->tail = n;
    c->tail = &n->handed;
}

/* Complete a picked node; false if a cancel got to its future first. The
 * node may be gone once busy is cleared. */
static bool complete(struct node *n, void *result)
{
    bool ok = future_set_result(&n->fut, result);
    __atomic_store_n(&n->busy, false, __ATOMIC_RELEASE); /* the owner may now free n */
    return ok;
}

static void complete_all(struct chain *c, void *result)
{
    for (struct node *n = c->first, *next; n; n = next) {
        next = n->handed; /* read before n may vanish */
        complete(n, result);
    }
}

/* Before a node's frame goes: wait out a waker that picked it. */
static void settle(struct node *n)
{
    while (__atomic_load_n(&n->busy, __ATOMIC_ACQUIRE))
        ck_pr_stall();
}

/* _wakeup_next: pop waiters until one is not done, and pick it. */
static struct node *wakeup_next(struct list *l)
{
    struct node *n;
    while ((n = l->head)) {
        list_unlink(l, n);
        if (!future_done(&n->fut)) {
            __atomic_store_n(&n->busy, true, __ATOMIC_RELAXED);
            return n;
        }
    }
    return NULL;
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

static struct weft_task *current(void)
{
    struct worker *w = worker_self();
    return w ? w->current : NULL;
}

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
        errno = ENOMEM;
        return NULL;
    }
    q->lock = (spinlock)SPINLOCK_INIT;
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
 * caller counts itself in q->waiting for the whole call. */
static int wait_in(struct weft_queue *q, struct weft_task *self, struct list *l, struct node *n)
{
    future_init(&n->fut);
    __atomic_store_n(&n->busy, false, __ATOMIC_RELAXED);
    list_push(l, n);
    spin_unlock(&q->lock);
    int err = future_await(self, &n->fut);
    if (err)
        future_cancel_plain(&n->fut); /* just in case it is not done yet */
    spin_lock(&q->lock);
    list_unlink(l, n);
    settle(n);
    return err;
}

/* Complete a node picked by _wakeup_next; if a cancel beat us to it, wake
 * the next waiter of l instead, as long as what it waits for is still
 * there. */
static void hand_over(struct weft_queue *q, struct list *l, struct node *n)
{
    while (n && !complete(n, NULL)) {
        spin_lock(&q->lock);
        bool still = l == &q->getters ? q->len > 0 : !full(q);
        n = still ? wakeup_next(l) : NULL;
        spin_unlock(&q->lock);
    }
}

/* The end of a call that waited, with the lock held: hand over, then stop
 * counting as a waiter, and free the queue if it was destroyed meanwhile
 * and this was its last waiter. */
static void leave(struct weft_queue *q, struct list *l, struct node *wake)
{
    if (wake) {
        spin_unlock(&q->lock);
        hand_over(q, l, wake);
        spin_lock(&q->lock);
    }
    bool last = --q->waiting == 0 && q->destroyed;
    spin_unlock(&q->lock);
    if (last)
        queue_free(q);
}

/* put_nowait's body, under the lock. */
static int put_locked(struct weft_queue *q, void *item, struct node **wake)
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
    if (!q)
        return EINVAL;
    struct node *wake = NULL;
    spin_lock(&q->lock);
    int err = put_locked(q, item, &wake);
    spin_unlock(&q->lock);
    hand_over(q, &q->getters, wake);
    return err;
}

int weft_queue_put(weft_queue *q, void *item)
{
    if (!q)
        return EINVAL;
    struct weft_task *self = current();
    if (!self)
        return EPERM;
    struct node putter, *wake = NULL;
    spin_lock(&q->lock);
    if (!full(q) || q->closed) {
        int err = put_locked(q, item, &wake);
        spin_unlock(&q->lock);
        hand_over(q, &q->getters, wake);
        return err;
    }
    q->waiting++;
    do {
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
static int get_locked(struct weft_queue *q, void **item, struct node **wake)
{
    if (q->len == 0)
        return q->closed ? ENODATA : EAGAIN;
    *item = pop_item(q);
    *wake = wakeup_next(&q->putters);
    return 0;
}

int weft_queue_get_nowait(weft_queue *q, void **item)
{
    if (!q || !item)
        return EINVAL;
    struct node *wake = NULL;
    spin_lock(&q->lock);
    int err = get_locked(q, item, &wake);
    spin_unlock(&q->lock);
    hand_over(q, &q->putters, wake);
    return err;
}

int weft_queue_get(weft_queue *q, void **item)
{
    if (!q || !item)
        return EINVAL;
    struct weft_task *self = current();
    if (!self)
        return EPERM;
    struct node getter, *wake = NULL;
    spin_lock(&q->lock);
    if (q->len > 0 || q->closed) {
        int err = get_locked(q, item, &wake);
        spin_unlock(&q->lock);
        hand_over(q, &q->putters, wake);
        return err;
    }
    q->waiting++;
    do {
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
    return q ? __atomic_load_n(&q->len, __ATOMIC_RELAXED) : 0;
}

/* Pick every waiter of l that is not done (shutdown's loops over _getters
 * and _putters, Event.set's loop over its waiters). */
static void pick_all(struct list *l, struct chain *c)
{
    struct node *n;
    while ((n = l->head)) {
        list_unlink(l, n);
        if (!future_done(&n->fut))
            pick(c, n);
    }
}

void weft_queue_close(weft_queue *q)
{
    if (!q)
        return;
    struct chain woken = {NULL, &woken.first};
    spin_lock(&q->lock);
    q->closed = true;
    /* All getters need to re-check queue-empty to raise ShutDown. */
    pick_all(&q->getters, &woken);
    pick_all(&q->putters, &woken);
    spin_unlock(&q->lock);
    complete_all(&woken, NULL);
}

int weft_queue_task_done(weft_queue *q)
{
    if (!q)
        return EINVAL;
    struct chain woken = {NULL, &woken.first};
    spin_lock(&q->lock);
    if (q->unfinished == 0) {
        spin_unlock(&q->lock);
        return EINVAL; /* task_done() called too many times */
    }
    if (--q->unfinished == 0)
        pick_all(&q->joiners, &woken); /* self._finished.set() */
    spin_unlock(&q->lock);
    complete_all(&woken, NULL);
    return 0;
}

int weft_queue_join(weft_queue *q)
{
    if (!q)
        return EINVAL;
    struct weft_task *self = current();
    if (!self)
        return EPERM;
    spin_lock(&q->lock);
    if (q->unfinished == 0) {
        spin_unlock(&q->lock);
        return 0;
    }
    struct node joiner;
    q->waiting++;
    int err = wait_in(q, self, &q->joiners, &joiner);
    if (!err)
        err = weft_error(joiner.fut.result); /* EPIPE from destroy */
    leave(q, NULL, NULL);
    return err;
}

void weft_queue_destroy(weft_queue *q)
{
    if (!q)
        return;
    struct chain woken = {NULL, &woken.first}, joiners = {NULL, &joiners.first};
    spin_lock(&q->lock);
    q->closed = q->destroyed = true;
    q->head = 0;
    set_len(q, 0); /* the items are dropped: getters see ENODATA */
    pick_all(&q->getters, &woken);
    pick_all(&q->putters, &woken);
    pick_all(&q->joiners, &joiners);
    bool last = q->waiting == 0;
    spin_unlock(&q->lock);
    /* From here on the last waiter to leave may free q: touch only nodes. */
    complete_all(&woken, NULL);
    complete_all(&joiners, WEFT_ERR(EPIPE));
    if (last)
        queue_free(q);
}
