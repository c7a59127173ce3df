/*
 * Futures: asyncio.Future, the thing a task waits on when it waits for
 * something other than a task (a queue slot, an event, a lock, a gather).
 *
 * Done-callbacks are struct waiter (sched/task.h) and run on the thread that
 * completes the future, outside its lock. A callback that stands for a
 * task's wake-up wakes the task, which in single-thread mode queues one step
 * (asyncio's call_soon(task.__wakeup)); any other callback that must keep
 * asyncio's order queues itself with sched_call_soon.
 *
 * A task awaiting a future records it as what it waits on; cancelling the
 * task cancels the future (asyncio's Task.cancel -> _fut_waiter.cancel()),
 * under the task's lock, so the future cannot go away meanwhile: its owner
 * takes that lock (task_wait_end) before it lets the future go.
 */
#ifndef SCHED_FUTURE_H
#define SCHED_FUTURE_H

#include <stdbool.h>

#include "ck/spinlock.h"
#include "sched/runtime.h"
#include "sched/task.h"

enum future_state { FUT_PENDING, FUT_DONE, FUT_CANCELLED };

struct future {
    spinlock lock;
    unsigned char state;     /* enum future_state; atomic reads */
    void *result;
    struct waiter *callbacks, **tail;
    /* Cancellation, overridable (gather cancels its children instead):
     * returns whether anything was cancelled. */
    bool (*cancel)(struct future *f);
};

void future_init(struct future *f);
static inline bool future_done(const struct future *f)
{
    return __atomic_load_n(&f->state, __ATOMIC_ACQUIRE) != FUT_PENDING;
}
static inline bool future_cancelled(const struct future *f)
{
    return __atomic_load_n(&f->state, __ATOMIC_ACQUIRE) == FUT_CANCELLED;
}
/* Future.set_result: false if already done. */
bool future_set_result(struct future *f, void *result);
/* Future.cancel (the plain one): false if already done. */
bool future_cancel_plain(struct future *f);
/* Add a done-callback; false (not added) if f is already done. */
bool future_add_callback(struct future *f, struct waiter *w);
/* Remove a done-callback that has not run; false if it was not there. */
bool future_remove_callback(struct future *f, struct waiter *w);

/* await f, in the running task: 0 when f is done, ECANCELED when the task
 * was cancelled (f is then cancelled too, as asyncio does) or f was, or
 * ETIMEDOUT from an expired deadline scope (see task_wait_end). */
int future_await(struct weft_task *self, struct future *f);

/* In single-thread mode queue cb as its own entry (call_soon); in
 * multi-thread mode run it now. */
void sched_call_soon(struct runtime *rt, struct callback *cb);

/* A done-callback with asyncio's timing: when the task or future it is added
 * to is done, fn(s) is queued as its own entry (single-thread) or run at once
 * (multi-thread). Added to something already done, it is queued at once, as
 * Future.add_done_callback does. */
struct soon {
    struct waiter waiter;
    struct callback cb;
    struct runtime *rt;
    void (*fn)(struct soon *s);
};
void soon_on_task(struct soon *s, struct weft_task *t, void (*fn)(struct soon *s));
void soon_on_future(struct soon *s, struct runtime *rt, struct future *f,
                    void (*fn)(struct soon *s));

#endif /* SCHED_FUTURE_H */
