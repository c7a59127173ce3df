/*
 * asyncio.Semaphore (Lib/asyncio/locks.py, 3.11.7, with the fairness fix):
 * a counter and a FIFO of waiting tasks, each waiting on an asyncio.Future
 * on its own stack. A permit handed to a waiter (_wake_up_next) is taken off
 * the counter at once; the waiter keeps it when it resumes, or gives it back
 * and passes it on if it was cancelled in between. acquire waits while any
 * waiter is not cancelled, so newcomers never overtake the line.
 *
 * As in lock.c, the guard covers the counter and the list, not the futures:
 * a waker marks the node busy under the guard and completes the future after
 * dropping it, and a busy node counts as done. If a cancel completed the
 * future first, the cancelled waiter will not give back a permit it never
 * got, so the waker puts it back on the counter and wakes the next waiter.
 */
#include <errno.h>
#include <limits.h>
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

struct weft_sem {
    spinlock guard;
    bool destroyed;
    unsigned value;
    unsigned waiting;         /* tasks inside acquire's wait */
    struct node *head, *tail; /* _waiters */
};

static void list_push(struct weft_sem *s, struct node *n)
{
    n->prev = s->tail;
    n->next = NULL;
    if (s->tail)
        s->tail->next = n;
    else
        s->head = n;
    s->tail = n;
}

static void list_remove(struct weft_sem *s, struct node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        s->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        s->tail = n->prev;
}

/* _wake_up_next, under the guard: the first waiter that is not done gets a
 * permit and is marked busy; complete it with wake() after the guard. */
static struct node *wake_up_next(struct weft_sem *s)
{
    for (struct node *n = s->head; n; n = n->next) {
        if (!future_done(&n->fut) && !__atomic_load_n(&n->busy, __ATOMIC_RELAXED)) {
            s->value--;
            __atomic_store_n(&n->busy, true, __ATOMIC_RELAXED);
            return n;
        }
    }
    return NULL;
}

static void wake(struct weft_sem *s, struct node *n)
{
    while (n) {
        bool ok = future_set_result(&n->fut, NULL);
        __atomic_store_n(&n->busy, false, __ATOMIC_RELEASE); /* the owner may now free n */
        if (ok)
            return;
        /* Cancelled before it got the permit: take it back, pass it on. */
        spin_lock(&s->guard);
        s->value++;
        n = wake_up_next(s);
        spin_unlock(&s->guard);
    }
}

static struct weft_task *current(void)
{
    struct worker *w = worker_self();
    return w ? w->current : NULL;
}

weft_sem *weft_sem_create(unsigned value)
{
    struct weft_sem *s = calloc(1, sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->guard = (spinlock)SPINLOCK_INIT;
    s->value = value;
    return s;
}

/* locked(), under the guard. */
static bool would_wait(const struct weft_sem *s)
{
    if (s->value == 0)
        return true;
    for (struct node *n = s->head; n; n = n->next)
        if (!future_cancelled(&n->fut))
            return true;
    return false;
}

bool weft_sem_locked(const weft_sem *cs)
{
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
    if (!s)
        return EINVAL;
    struct weft_task *self = current();
    if (!self)
        return EPERM;
    spin_lock(&s->guard);
    if (!would_wait(s)) {
        s->value--;
        spin_unlock(&s->guard);
        return 0;
    }
    struct node waiter;
    future_init(&waiter.fut);
    __atomic_store_n(&waiter.busy, false, __ATOMIC_RELAXED);
    list_push(s, &waiter);
    s->waiting++;
    spin_unlock(&s->guard);

    int err = future_await(self, &waiter.fut);

    spin_lock(&s->guard);
    list_remove(s, &waiter); /* finally: self._waiters.remove(fut) */
    while (__atomic_load_n(&waiter.busy, __ATOMIC_ACQUIRE))
        ck_pr_stall();
    struct node *next = NULL;
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
    bool last = --s->waiting == 0 && s->destroyed;
    spin_unlock(&s->guard);
    if (last)
        free(s);
    return err;
}

int weft_sem_release(weft_sem *s)
{
    if (!s)
        return EINVAL;
    spin_lock(&s->guard);
    if (s->value == UINT_MAX) {
        spin_unlock(&s->guard);
        return EOVERFLOW;
    }
    s->value++;
    struct node *next = wake_up_next(s);
    spin_unlock(&s->guard);
    wake(s, next);
    return 0;
}

void weft_sem_destroy(weft_sem *s)
{
    if (!s)
        return;
    spin_lock(&s->guard);
    s->destroyed = true;
    bool last = s->waiting == 0;
    spin_unlock(&s->guard);
    if (last)
        free(s);
}
