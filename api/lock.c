/*
 * asyncio.Lock (Lib/asyncio/locks.py, 3.11): a flag and a FIFO of waiting
 * tasks, each waiting on an asyncio.Future on its own stack. A release wakes
 * the first waiter (_wake_up_first) without removing it; the waiter removes
 * itself when it resumes and only then takes the lock, so a waiter cancelled
 * after it was woken passes the lock on to the next one, and nobody can jump
 * the queue in between (acquire waits while any waiter is not cancelled).
 *
 * The lock's guard (a spinlock) covers the flag and the wait list, not the
 * futures (waitlist.h): a releaser picks the waiter it wakes under the guard
 * and completes its future after dropping it.
 *
 * weft_lock_destroy frees the lock at once, or, if tasks still wait on it
 * (as they may in asyncio, whose waiters keep the lock alive), when the last
 * of them leaves.
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

struct weft_lock {
    /* First: a waiter's wait note points here (sched/task.h, WAIT_FOR_LOCK). */
    struct weft_task *holder; /* atomic: who acquired it last, while locked (weft_dump's
                                 wait-for graph; asyncio's locks have no owner) */
    spinlock guard;
    bool locked; /* written under the guard, atomic reads */
    struct keepalive alive;
    struct waitlist waiters;
    uint32_t magic; /* api/handle.h; last: past what malloc reuses */
};

/* _wake_up_first, under the guard: the first waiter, picked, if it still
 * waits; complete it with wake() after dropping the guard. */
static struct waitnode *wake_up_first(struct weft_lock *l)
{
    struct waitnode *n = l->waiters.head;
    if (!n || !waitnode_waiting(n))
        return NULL; /* done: it will wake up and take the lock or pass it on */
    waitnode_pick(n);
    return n;
}

/* A cancel that beats us to the future is harmless: the cancelled waiter
 * sees the lock free when it resumes and wakes the next one itself. */
static void wake(struct waitnode *n)
{
    if (n)
        waitnode_complete(n, NULL);
}

static void set_locked(struct weft_lock *l, bool locked, struct weft_task *holder)
{
    __atomic_store_n(&l->locked, locked, __ATOMIC_RELAXED);
    __atomic_store_n(&l->holder, holder, __ATOMIC_RELAXED);
}

weft_lock *weft_lock_create(void)
{
    struct weft_lock *l = calloc(1, sizeof *l);
    if (!l)
        return fail_errno(ENOMEM);
    spin_init(&l->guard, LOCK_RANK_OBJECT);
    l->magic = HANDLE_LIVE(HANDLE_LOCK);
    return l;
}

int weft_lock_acquire(weft_lock *l)
{
    HANDLE_CHECK(l, HANDLE_LOCK, "weft_lock_acquire");
    if (!l)
        return EINVAL;
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    spin_lock(&l->guard);
    if (!l->locked && waitlist_all_cancelled(&l->waiters)) {
        set_locked(l, true, self);
        spin_unlock(&l->guard);
        return 0;
    }
    struct waitnode waiter, *next = NULL;
    keepalive_enter(&l->alive);
    task_note_wait(self, WAIT_FOR_LOCK, l);
    int err = waitlist_await(&l->waiters, &l->guard, self, &waiter);
    if (err) {
        /* Cancelled: if the lock is free (maybe released to us), make sure
         * the first waiter will wake up and take it. */
        if (!l->locked)
            next = wake_up_first(l);
    } else {
        set_locked(l, true, self);
    }
    bool last = keepalive_leave(&l->alive);
    spin_unlock(&l->guard);
    wake(next);
    if (last)
        free(l);
    return err;
}

int weft_lock_release(weft_lock *l)
{
    HANDLE_CHECK(l, HANDLE_LOCK, "weft_lock_release");
    if (!l)
        return EINVAL;
    spin_lock(&l->guard);
    if (!l->locked) {
        spin_unlock(&l->guard);
        return EPERM; /* RuntimeError('Lock is not acquired.') */
    }
    set_locked(l, false, NULL);
    struct waitnode *next = wake_up_first(l);
    spin_unlock(&l->guard);
    wake(next);
    return 0;
}

bool weft_lock_locked(const weft_lock *l)
{
    HANDLE_CHECK(l, HANDLE_LOCK, "weft_lock_locked");
    return l && __atomic_load_n(&l->locked, __ATOMIC_RELAXED);
}

void weft_lock_destroy(weft_lock *l)
{
    HANDLE_CHECK(l, HANDLE_LOCK, "weft_lock_destroy");
    if (!l)
        return;
    HANDLE_KILL(l, HANDLE_LOCK);
    spin_lock(&l->guard);
    bool last = keepalive_destroy(&l->alive);
    spin_unlock(&l->guard);
    if (last)
        free(l);
}
