/*
 * asyncio.sleep and asyncio.sleep(0): a timer that wakes the task, and a
 * plain trip to the back of the ready queue.
 */
#include <errno.h>
#include <math.h>

#include "sched/runtime.h"
#include "sched/task.h"
#include "sched/timer.h"
#include "weft.h"

int weft_yield(void)
{
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    int err = task_await_enter(self);
    if (err)
        return err;
    task_suspend(self, SW_YIELD);
    return task_wait_end(self);
}

int weft_sleep(double seconds)
{
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    if (isnan(seconds))
        return EINVAL;
    if (seconds <= 0)
        return weft_yield();
    int err = task_await_enter(self);
    if (err)
        return err;
    double until = seconds == WEFT_FOREVER ? INFINITY : runtime_now(self->rt) + seconds;
    task_note_wait(self, WAIT_FOR_SLEEP, NULL);
    task_note_until(self, until);
    uint64_t seq = task_wait_begin(self);
    /* Forever needs no timer: only a cancellation ends it. */
    struct timer *tm = NULL;
    if (seconds != WEFT_FOREVER && !(tm = task_timer_arm(self, until, seq)))
        return ENOMEM;
    task_park_until_woken(self, seq, false);
    if (tm) {
        timer_cancel(tm);
        timer_release(tm);
    }
    return task_wait_end(self);
}

double weft_now(void)
{
    struct worker *w = worker_self();
    return runtime_now(w ? w->rt : NULL);
}
