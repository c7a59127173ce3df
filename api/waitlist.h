/*
 * Wait lists: the FIFO of waiting tasks behind asyncio's Queue, Event, Lock
 * and Semaphore (their `_getters`, `_putters` and `_waiters` deques of
 * futures, with `fut = loop.create_future(); waiters.append(fut); try: await
 * fut; finally: waiters.remove(fut)` and `if not fut.done():
 * fut.set_result(...)`). Fair: waiters are woken in the order they came.
 * Cancellation-safe: a waiter may be cancelled at any time, before or after
 * it is woken, and leaves nothing behind.
 *
 * Each waiter's node, future included, lives on the waiting task's stack, and
 * the list lives in an object (the owner) whose lock guards it. Invariants:
 *  - prev, next and linked belong to the owner's lock: only a holder of it
 *    links, unlinks or walks nodes.
 *  - A waker picks a node under the lock (marks it busy), and completes its
 *    future after dropping the lock: completing wakes a task, which may wake
 *    a parked worker, too much to do under a spinlock. It may use the node
 *    (its chain link, its future, which has a lock of its own) until it
 *    clears busy, with release order; after that, never.
 *  - The waiter, back from its await, takes the lock, unlinks its node, and
 *    spins until busy is clear before its frame goes (waitlist_remove). A
 *    picked node is found busy under the lock, so the waiter waits out the
 *    waker and its stack outlives every use of the node.
 *  - A busy node counts as done, as asyncio's future would be once
 *    set_result ran: it is never picked twice.
 *  - A future a cancel completed first refuses the wake-up
 *    (waitnode_complete returns false); the owner decides what to do with
 *    what it was handing over, as asyncio's `if not fut.done()` skips a
 *    waiter cancelled earlier.
 *  - Tasks inside a wait keep the owner alive (asyncio's waiters hold a
 *    reference to it): destroy frees it only when nobody waits, else the
 *    last task to leave a wait does (struct keepalive).
 */
#ifndef API_WAITLIST_H
#define API_WAITLIST_H

#include <stdbool.h>

#include "ck/spinlock.h"
#include "sched/future.h"
#include "sched/task.h"

/* A waiting task's entry, on its stack. */
struct waitnode {
    struct future fut;
    struct waitnode *prev, *next; /* under the owner's lock */
    struct waitnode *picked;      /* a waker's private chain (struct waitchain) */
    bool linked;                  /* under the owner's lock */
    bool busy;                    /* atomic: a waker still touches fut */
};

struct waitlist {
    struct waitnode *head, *tail; /* under the owner's lock */
};

/* Under the owner's lock: n, with a fresh future, joins the end of l. */
void waitlist_push(struct waitlist *l, struct waitnode *n);
/* Under the owner's lock: the first node, taken off l (popleft); NULL if
 * l is empty. */
struct waitnode *waitlist_pop(struct waitlist *l);
/* Under the owner's lock, when the waiter is back from its await: n leaves
 * l if it is still there, and any waker that picked it is done with it. */
void waitlist_remove(struct waitlist *l, struct waitnode *n);
/* await on a fresh node n at the end of l, in the running task self, as
 * future_await does; called and returns with *lock (the owner's) held, n
 * out of l and settled. An await point. */
int waitlist_await(struct waitlist *l, spinlock *lock, struct weft_task *self, struct waitnode *n);
/* Under the owner's lock: whether every waiter of l was cancelled (also
 * when l is empty), asyncio's `all(w.cancelled() for w in self._waiters)`. */
bool waitlist_all_cancelled(const struct waitlist *l);

/* Whether n still waits for a wake-up: neither done nor picked. Under the
 * owner's lock. */
static inline bool waitnode_waiting(const struct waitnode *n)
{
    return !future_done(&n->fut) && !__atomic_load_n(&n->busy, __ATOMIC_RELAXED);
}

/* Under the owner's lock: n is the waker's to complete, after the lock. */
static inline void waitnode_pick(struct waitnode *n)
{
    __atomic_store_n(&n->busy, true, __ATOMIC_RELAXED); /* the lock orders it */
}

/* Complete a picked node with result; false if a cancel got to its future
 * first. The node may be gone once this returns. */
bool waitnode_complete(struct waitnode *n, void *result);

/* Nodes picked under the owner's lock, completed after it. */
struct waitchain {
    struct waitnode *first, **tail;
};

static inline void waitchain_init(struct waitchain *c)
{
    c->first = NULL;
    c->tail = &c->first;
}

void waitchain_pick(struct waitchain *c, struct waitnode *n);
/* Complete every node of c with result, outside the owner's lock. */
void waitchain_complete(struct waitchain *c, void *result);

/* How many tasks wait on an object, and whether it was destroyed meanwhile.
 * Under the owner's lock. */
struct keepalive {
    unsigned waiting;
    bool destroyed;
};

static inline void keepalive_enter(struct keepalive *k)
{
    k->waiting++;
}

/* The caller leaves its wait: true if it was the last one and the owner was
 * destroyed, so that the caller frees it after dropping the lock. */
static inline bool keepalive_leave(struct keepalive *k)
{
    return --k->waiting == 0 && k->destroyed;
}

/* The owner is destroyed: true if nobody waits, so that the caller frees it
 * after dropping the lock. */
static inline bool keepalive_destroy(struct keepalive *k)
{
    k->destroyed = true;
    return k->waiting == 0;
}

#endif /* API_WAITLIST_H */
