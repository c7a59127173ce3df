/*
 * asyncio.Lock (Lib/asyncio/locks.py, 3.11): a flag and a FIFO of waiting
 * tasks, each waiting on an asyncio.Future on its own stack. A release wakes
 * the first waiter (_wake_up_first) without removing it; the waiter removes
 * itself when it resumes and only then takes the lock, so a waiter cancelled
 * after it was woken passes the lock on to the next one, and nobody can jump
 * the queue in between (acquire waits while any waiter is not cancelled).
 *
 * The lock's guard (a spinlock) covers the flag and the list, not the
 * futures: a releaser marks the waiter it wakes busy under the guard and
 * completes its future after dropping it; the waiter, once it holds the
 * guard again, waits until its node is no longer busy before letting its
 * frame go. A busy node counts as done, as in asyncio its future would be.
 *
 * weft_lock_destroy frees the lock at once, or, if tasks still wait on it
 * (as they may in asyncio, whose waiters keep the lock alive), when the last
 * of them leaves.
 */
#include <errno.h>
#include <stdlib.h>

#include "sched/future.h"
#include "sched/runtime.h"
#include "sched/task.h"
#include "weft.h"

struct node {
    struct future fut;
    struct node *prev, *next; /* under the guard */
    bool busy;                /* atomic: a waker still touches fut */
};

struct weft_lock {
    spinlock guard;
    bool locked; /* written under the guard, atomic reads */
    bool destroyed;
    unsigned waiting;         /* tasks inside acquire's wait */
    struct node *head, *tail; /* _waiters */
};

static void list_push(struct weft_lock *l, struct node *n)
{
    n->prev = l->tail;
    n->next = NULL;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

static void list_remove(struct weft_lock *l, struct node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
}

static bool done_or_busy(struct node *n)
{
    return future_done(&n->fut) || __atomic_load_n(&n->busy, __ATOMIC_RELAXED);
}

/* _wake_up_first, under the guard: the first waiter, marked busy, if it is
 * not done yet; complete it with wake() after dropping the guard. */
static struct node *wake_up_first(struct weft_lock *l)
{
    struct node *n = l->head;
    if (!n || done_or_busy(n))
        return NULL; /* done: it will wake up and take the lock or pass it on */
    __atomic_store_n(&n->busy, true, __ATOMIC_RELAXED);
    return n;
}

/* A cancel that beats us to the future is harmless: the cancelled waiter
 * sees the lock free when it resumes and wakes the next one itself. */
static void wake(struct node *n)
{
    if (!n)
        return;
    future_set_result(&n->fut, NULL);
    __atomic_store_n(&n->busy, false, __ATOMIC_RELEASE); /* the owner may now free n */
}

static void set_locked(struct weft_lock *l, bool locked)
{
    __atomic_store_n(&l->locked, locked, __ATOMIC_RELAXED);
}

static struct weft_task *current(void)
{
    struct worker *w = worker_self();
    return w ? w->current : NULL;
}

weft_lock *weft_lock_create(void)
{
    struct weft_lock *l = calloc(1, sizeof *l);
    if (!l) {
        errno = ENOMEM;
        return NULL;
    }
    l->guard = (spinlock)SPINLOCK_INIT;
    return l;
}

static bool all_cancelled(const struct weft_lock *l)
{
    for (struct node *n = l->head; n; n = n->next)
        if (!future_cancelled(&n->fut))
            return false;
    return true;
}

int weft_lock_acquire(weft_lock *l)
{
    if (!l)
        return EINVAL;
    struct weft_task *self = current();
    if (!self)
        return EPERM;
    spin_lock(&l->guard);
    if (!l->locked && all_cancelled(l)) {
        set_locked(l, true);
        spin_unlock(&l->guard);
        return 0;
    }
    struct node waiter;
    future_init(&waiter.fut);
    __atomic_store_n(&waiter.busy, false, __ATOMIC_RELAXED);
    list_push(l, &waiter);
    l->waiting++;
    spin_unlock(&l->guard);

    int err = future_await(self, &waiter.fut);

    spin_lock(&l->guard);
    list_remove(l, &waiter); /* finally: self._waiters.remove(fut) */
    while (__atomic_load_n(&waiter.busy, __ATOMIC_ACQUIRE))
        ck_pr_stall();
    struct node *next = NULL;
    if (err) {
        /* Cancelled: if the lock is free (maybe released to us), make sure
         * the first waiter will wake up and take it. */
        if (!l->locked)
            next = wake_up_first(l);
    } else {
        set_locked(l, true);
    }
    bool last = --l->waiting == 0 && l->destroyed;
    spin_unlock(&l->guard);
    wake(next);
    if (last)
        free(l);
    return err;
}

int weft_lock_release(weft_lock *l)
{
    if (!l)
        return EINVAL;
    spin_lock(&l->guard);
    if (!l->locked) {
        spin_unlock(&l->guard);
        return EPERM; /* RuntimeError('Lock is not acquired.') */
    }
    set_locked(l, false);
    struct node *next = wake_up_first(l);
    spin_unlock(&l->guard);
    wake(next);
    return 0;
}

bool weft_lock_locked(const weft_lock *l)
{
    return l && __atomic_load_n(&l->locked, __ATOMIC_RELAXED);
}

void weft_lock_destroy(weft_lock *l)
{
    if (!l)
        return;
    spin_lock(&l->guard);
    l->destroyed = true;
    bool last = l->waiting == 0;
    spin_unlock(&l->guard);
    if (last)
        free(l);
}
