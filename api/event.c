/*
 * asyncio.Event (Lib/asyncio/locks.py, 3.11): a flag and the list of tasks
 * waiting for it, each on an asyncio.Future on its own stack. set() completes
 * every waiter's future, in the order they came; each waiter removes itself
 * when it resumes, so one cancelled while waiting leaves nothing behind.
 *
 * The guard (a spinlock) covers the flag and the wait list, not the futures
 * (waitlist.h): set() picks the waiters under the guard and completes their
 * futures after dropping it.
 *
 * weft_event_destroy frees the event at once, or, if tasks still wait on it
 * (as they may in asyncio, whose waiters keep the event alive), when the last
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

struct weft_event {
    spinlock guard;
    bool value; /* written under the guard, atomic reads */
    struct keepalive alive;
    struct waitlist waiters;
    uint32_t magic; /* api/handle.h; last: past what malloc reuses */
};

weft_event *weft_event_create(void)
{
    struct weft_event *e = calloc(1, sizeof *e);
    if (!e)
        return fail_errno(ENOMEM);
    spin_init(&e->guard, LOCK_RANK_OBJECT);
    e->magic = HANDLE_LIVE(HANDLE_EVENT);
    return e;
}

void weft_event_set(weft_event *e)
{
    HANDLE_CHECK(e, HANDLE_EVENT, "weft_event_set");
    if (!e)
        return;
    struct waitchain woken;
    waitchain_init(&woken);
    spin_lock(&e->guard);
    if (!e->value) {
        __atomic_store_n(&e->value, true, __ATOMIC_RELAXED);
        for (struct waitnode *n = e->waiters.head; n; n = n->next)
            if (waitnode_waiting(n))
                waitchain_pick(&woken, n);
    }
    spin_unlock(&e->guard);
    waitchain_complete(&woken, NULL);
}

void weft_event_clear(weft_event *e)
{
    HANDLE_CHECK(e, HANDLE_EVENT, "weft_event_clear");
    if (!e)
        return;
    spin_lock(&e->guard);
    __atomic_store_n(&e->value, false, __ATOMIC_RELAXED);
    spin_unlock(&e->guard);
}

bool weft_event_is_set(const weft_event *e)
{
    HANDLE_CHECK(e, HANDLE_EVENT, "weft_event_is_set");
    return e && __atomic_load_n(&e->value, __ATOMIC_RELAXED);
}

int weft_event_wait(weft_event *e)
{
    HANDLE_CHECK(e, HANDLE_EVENT, "weft_event_wait");
    if (!e)
        return EINVAL;
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    spin_lock(&e->guard);
    if (e->value) {
        spin_unlock(&e->guard);
        return 0;
    }
    struct waitnode waiter;
    keepalive_enter(&e->alive);
    task_note_wait(self, WAIT_FOR_EVENT, e);
    int err = waitlist_await(&e->waiters, &e->guard, self, &waiter);
    bool last = keepalive_leave(&e->alive);
    spin_unlock(&e->guard);
    if (last)
        free(e);
    return err;
}

void weft_event_destroy(weft_event *e)
{
    HANDLE_CHECK(e, HANDLE_EVENT, "weft_event_destroy");
    if (!e)
        return;
    HANDLE_KILL(e, HANDLE_EVENT);
    spin_lock(&e->guard);
    bool last = keepalive_destroy(&e->alive);
    spin_unlock(&e->guard);
    if (last)
        free(e);
}
