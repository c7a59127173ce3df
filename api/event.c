/*
 * asyncio.Event (Lib/asyncio/locks.py, 3.11): a flag and the list of tasks
 * waiting for it, each on an asyncio.Future on its own stack. set() completes
 * every waiter's future, in the order they came; each waiter removes itself
 * when it resumes, so one cancelled while waiting leaves nothing behind.
 *
 * The guard (a spinlock) covers the flag and the list, not the futures: set()
 * picks the waiters under the guard, marking them busy, and completes their
 * futures after dropping it; a waiter, once it holds the guard again, waits
 * until its node is no longer busy before letting its frame go.
 *
 * weft_event_destroy frees the event at once, or, if tasks still wait on it
 * (as they may in asyncio, whose waiters keep the event alive), when the last
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
    struct node *picked;      /* set()'s private chain */
    bool busy;                /* atomic: a waker still touches fut */
};

struct weft_event {
    spinlock guard;
    bool value; /* written under the guard, atomic reads */
    bool destroyed;
    unsigned waiting;         /* tasks inside wait */
    struct node *head, *tail; /* _waiters */
};

static void list_push(struct weft_event *e, struct node *n)
{
    n->prev = e->tail;
    n->next = NULL;
    if (e->tail)
        e->tail->next = n;
    else
        e->head = n;
    e->tail = n;
}

static void list_remove(struct weft_event *e, struct node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        e->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        e->tail = n->prev;
}

static struct weft_task *current(void)
{
    struct worker *w = worker_self();
    return w ? w->current : NULL;
}

weft_event *weft_event_create(void)
{
    struct weft_event *e = calloc(1, sizeof *e);
    if (!e) {
        errno = ENOMEM;
        return NULL;
    }
    e->guard = (spinlock)SPINLOCK_INIT;
    return e;
}

void weft_event_set(weft_event *e)
{
    if (!e)
        return;
    struct node *first = NULL, **tail = &first;
    spin_lock(&e->guard);
    if (!e->value) {
        __atomic_store_n(&e->value, true, __ATOMIC_RELAXED);
        for (struct node *n = e->head; n; n = n->next) {
            if (future_done(&n->fut) || __atomic_load_n(&n->busy, __ATOMIC_RELAXED))
                continue;
            __atomic_store_n(&n->busy, true, __ATOMIC_RELAXED);
            n->picked = NULL;
            *tail = n;
            tail = &n->picked;
        }
    }
    spin_unlock(&e->guard);
    for (struct node *n = first, *next; n; n = next) {
        next = n->picked; /* read before n may vanish */
        future_set_result(&n->fut, NULL);
        __atomic_store_n(&n->busy, false, __ATOMIC_RELEASE); /* the owner may now free n */
    }
}

void weft_event_clear(weft_event *e)
{
    if (!e)
        return;
    spin_lock(&e->guard);
    __atomic_store_n(&e->value, false, __ATOMIC_RELAXED);
    spin_unlock(&e->guard);
}

bool weft_event_is_set(const weft_event *e)
{
    return e && __atomic_load_n(&e->value, __ATOMIC_RELAXED);
}

int weft_event_wait(weft_event *e)
{
    if (!e)
        return EINVAL;
    struct weft_task *self = current();
    if (!self)
        return EPERM;
    spin_lock(&e->guard);
    if (e->value) {
        spin_unlock(&e->guard);
        return 0;
    }
    struct node waiter;
    future_init(&waiter.fut);
    __atomic_store_n(&waiter.busy, false, __ATOMIC_RELAXED);
    list_push(e, &waiter);
    e->waiting++;
    spin_unlock(&e->guard);

    int err = future_await(self, &waiter.fut);

    spin_lock(&e->guard);
    list_remove(e, &waiter); /* finally: self._waiters.remove(fut) */
    while (__atomic_load_n(&waiter.busy, __ATOMIC_ACQUIRE))
        ck_pr_stall();
    bool last = --e->waiting == 0 && e->destroyed;
    spin_unlock(&e->guard);
    if (last)
        free(e);
    return err;
}

void weft_event_destroy(weft_event *e)
{
    if (!e)
        return;
    spin_lock(&e->guard);
    e->destroyed = true;
    bool last = e->waiting == 0;
    spin_unlock(&e->guard);
    if (last)
        free(e);
}
