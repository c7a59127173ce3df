/*
 * asyncio.Semaphore (Lib/asyncio/locks.py, 3.11.7, with the fairness fix):
 * a counter and a FIFO of waiting tasks, each waiting on an asyncio.Future
 * on its own stack. A permit handed to a waiter (_wake_up_next) is taken off
 * the counter at once; the waiter keeps it when it resumes, or gives it back
 * and passes it on if it was cancelled in between. acquire waits while any
 * waiter is not cancelled, so newcomers never overtake the line.
 *
 * As in lock.c, the guard covers the counter and the wait list, not the
 * futures (waitlist.h): a waker picks the node under the guard and completes
 * the future after dropping it. If a cancel completed the future first, the
 * cancelled waiter will not give back a permit it never got, so the waker
 * puts it back on the counter and wakes the next waiter.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "api/fail.h"
#include "api/handle.h"
#include "api/waitlist.h"
#include "sched/future.h"
#include "sched/lock_order.h"
#include "sched/runtime.h"
#include "sched/task.h"
#include "weft.h"

struct weft_sem {
    spinlock guard;
    unsigned value;
    struct keepalive alive;
    struct waitlist waiters;
    uint32_t magic; /* api/handle.h; last: past what malloc reuses */
};

/* _wake_up_next, under the guard: the first waiter that still waits gets a
 * permit and is picked; complete it with wake() after the guard. */
static struct waitnode *wake_up_next(struct weft_sem *s)
{
    for (struct waitnode *n = s->waiters.head; n; n = n->next) {
        if (waitnode_waiting(n)) {
            s->value--;
            waitnode_pick(n);
            return n;
        }
    }
    return NULL;
}

static void wake(struct weft_sem *s, struct waitnode *n)
{
    while (n) {
        if (waitnode_complete(n, NULL))
            return;
        /* Cancelled before it got the permit: take it back, pass it on. */
        spin_lock(&s->guard);
        s->value++;
        n = wake_up_next(s);
        spin_unlock(&s->guard);
    }
}

weft_sem *weft_sem_create(unsigned value)
{
    struct weft_sem *s = calloc(1, sizeof *s);
    if (!s)
        return fail_errno(ENOMEM);
    spin_init(&s->guard, LOCK_RANK_OBJECT);
    s->value = value;
    s->magic = HANDLE_LIVE(HANDLE_SEM);
    return s;
}

/* locked(), under the guard. */
static bool would_wait(const struct weft_sem *s)
{
    return s->value == 0 || !waitlist_all_cancelled(&s->waiters);
}

bool weft_sem_locked(const weft_sem *cs)
{
    HANDLE_CHECK(cs, HANDLE_SEM, "weft_sem_locked");
    if (!cs)
        return false;
    struct weft_sem *s = (struct weft_sem *)cs; /* never defined const: it is malloc'ed */
    spin_lock(&s->guard);
    bool locked = would_wait(s);
    spin_unlock(&s->guard);
    return locked;
}

int weft_sem_acquire(weft_sem *s)
{
    HANDLE_CHECK(s, HANDLE_SEM, "weft_sem_acquire");
    if (!s)
        return EINVAL;
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    spin_lock(&s->guard);
    if (!would_wait(s)) {
        s->value--;
        spin_unlock(&s->guard);
        return 0;
    }
    struct waitnode waiter, *next = NULL;
    keepalive_enter(&s->alive);
    task_note_wait(self, WAIT_FOR_SEMAPHORE, s);
    int err = waitlist_await(&s->waiters, &s->guard, self, &waiter);
    if (err) {
        /* Handed a permit, then cancelled: give it back and pass it on. */
        if (future_done(&waiter.fut) && !future_cancelled(&waiter.fut)) {
            s->value++;
            next = wake_up_next(s);
        }
    } else if (s->value > 0) {
        next = wake_up_next(s);
    }
    if (next) {
        /* Still counted as waiting: wake() may need the semaphore again. */
        spin_unlock(&s->guard);
        wake(s, next);
        spin_lock(&s->guard);
    }
    bool last = keepalive_leave(&s->alive);
    spin_unlock(&s->guard);
    if (last)
        free(s);
    return err;
}

int weft_sem_release(weft_sem *s)
{
    HANDLE_CHECK(s, HANDLE_SEM, "weft_sem_release");
    if (!s)
        return EINVAL;
    spin_lock(&s->guard);
    if (s->value == UINT_MAX) {
        spin_unlock(&s->guard);
        return EOVERFLOW;
    }
    s->value++;
    struct waitnode *next = wake_up_next(s);
    spin_unlock(&s->guard);
    wake(s, next);
    return 0;
}

void weft_sem_destroy(weft_sem *s)
{
    HANDLE_CHECK(s, HANDLE_SEM, "weft_sem_destroy");
    if (!s)
        return;
    HANDLE_KILL(s, HANDLE_SEM);
    spin_lock(&s->guard);
    bool last = keepalive_destroy(&s->alive);
    spin_unlock(&s->guard);
    if (last)
        free(s);
}
