/*
 * asyncio.timeout (Lib/asyncio/timeouts.py, 3.11) on the core's deadline
 * scopes.
 *
 * A weft_timeout is a struct deadline on its task's list of open scopes plus
 * an arming: a timer (loop.call_at) or, for a deadline already past, a
 * queued callback (loop.call_soon), whose firing is Timeout._on_timeout: mark
 * the scope expired, so that every await point inside it fails with
 * ETIMEDOUT (task_await_enter), and cancel the task, so that the await it is
 * suspended in returns at once. weft_timeout_exit is __aexit__: it takes
 * back the cancellation the scope requested (Task.uncancel) and reports
 * ETIMEDOUT.
 *
 * An arming may fire after it has been replaced or after the scope has been
 * left (a timer already popped by another worker, a callback already
 * queued), so each arming carries the generation it belongs to, firing
 * checks it under the scope's lock, and holds a reference to the scope so
 * that the late fire finds it alive. The owner's reference goes at exit.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "api/fail.h"
#include "api/handle.h"
#include "sched/future.h"
#include "sched/lock_order.h"
#include "sched/runtime.h"
#include "sched/task.h"
#include "sched/timer.h"
#include "weft.h"

enum timeout_state { TM_ENTERED, TM_EXPIRING };

struct weft_timeout {
    struct deadline scope; /* on task->deadlines while entered */
    spinlock lock;
    int refs;               /* atomic: the owner's, and one per arming */
    unsigned char state;    /* enum timeout_state; under lock, atomic reads */
    uint64_t generation;    /* the arming that may still fire; under lock */
    struct timer *timer;    /* the current call_at arming; under lock */
    struct weft_task *task; /* referenced */
    unsigned cancelling;    /* task->num_cancels on entry (Timeout._cancelling) */
    uint32_t magic; /* api/handle.h; last: past what malloc reuses */
};

/* A call_soon arming: lives until the loop runs it. */
struct soon_arming {
    struct callback cb;
    struct weft_timeout *tm;
    uint64_t generation;
};

static void timeout_unref(void *p)
{
    struct weft_timeout *tm = p;
    if (__atomic_sub_fetch(&tm->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    task_unref(tm->task);
    free(tm);
}

static bool bad_delay(double delay)
{
    return isnan(delay);
}

/* Timeout._on_timeout, if the arming is still the current one. The scope is
 * marked expired before the task is cancelled: a task woken by the cancel
 * on another worker must find it so (task_wait_end). Cancelling under the
 * lock keeps an exit from taking the cancellation back before it is made. */
static void on_timeout(struct weft_timeout *tm, uint64_t generation)
{
    spin_lock(&tm->lock);
    if (tm->generation == generation && tm->state == TM_ENTERED) {
        __atomic_store_n(&tm->state, TM_EXPIRING, __ATOMIC_RELAXED);
        __atomic_store_n(&tm->scope.expired, true, __ATOMIC_RELEASE);
        task_cancel(tm->task);
    }
    spin_unlock(&tm->lock);
}

static void timer_fired(struct timer *t)
{
    on_timeout(t->ctx, t->seq);
}

static void soon_fired(struct callback *cb)
{
    struct soon_arming *a = (struct soon_arming *)cb;
    on_timeout(a->tm, a->generation);
    timeout_unref(a->tm);
    free(a);
}

/* Drop the current arming, if any; returns the new generation. */
static uint64_t disarm(struct weft_timeout *tm)
{
    spin_lock(&tm->lock);
    uint64_t generation = ++tm->generation;
    struct timer *old = tm->timer;
    tm->timer = NULL;
    spin_unlock(&tm->lock);
    if (old) {
        timer_cancel(old); /* TimerHandle.cancel */
        timer_release(old);
    }
    return generation;
}

/* Timeout.reschedule: call_soon for a deadline already past, else call_at. */
static int arm(struct weft_timeout *tm, double delay)
{
    uint64_t generation = disarm(tm);
    if (delay == WEFT_FOREVER)
        return 0;
    struct runtime *rt = tm->task->rt;
    double now = runtime_now(rt), when = now + delay;
    if (when <= now) {
        struct soon_arming *a = malloc(sizeof *a);
        if (!a)
            return ENOMEM;
        a->cb.fn = soon_fired;
        a->tm = tm;
        a->generation = generation;
        __atomic_add_fetch(&tm->refs, 1, __ATOMIC_RELAXED);
        sched_call_soon(rt, &a->cb);
        return 0;
    }
    struct timer *t = timer_new(when, timer_fired, NULL, generation);
    if (!t)
        return ENOMEM;
    t->ctx = tm;
    t->ctx_drop = timeout_unref;
    __atomic_add_fetch(&tm->refs, 1, __ATOMIC_RELAXED);
    if (sched_timer_add(rt, t) != 0) {
        timer_release(t);
        timer_release(t);
        return ENOMEM;
    }
    spin_lock(&tm->lock);
    bool current_arming = tm->generation == generation;
    if (current_arming)
        tm->timer = t;
    spin_unlock(&tm->lock);
    if (!current_arming) { /* rescheduled again meanwhile, from another task */
        timer_cancel(t);
        timer_release(t);
    }
    return 0;
}

weft_timeout *weft_timeout_enter(double delay)
{
    struct weft_task *self = task_self();
    if (!self)
        return fail_errno(EPERM);
    if (bad_delay(delay))
        return fail_errno(EINVAL);
    struct weft_timeout *tm = calloc(1, sizeof *tm);
    if (!tm)
        return fail_errno(ENOMEM);
    spin_init(&tm->lock, LOCK_RANK_SCOPE);
    tm->magic = HANDLE_LIVE(HANDLE_TIMEOUT);
    tm->refs = 1;
    tm->state = TM_ENTERED;
    tm->task = self;
    task_ref(self);
    spin_lock(&self->lock);
    tm->cancelling = self->num_cancels;
    spin_unlock(&self->lock);
    int err = arm(tm, delay);
    if (err) {
        timeout_unref(tm);
        return fail_errno(err);
    }
    tm->scope.outer = self->deadlines;
    self->deadlines = &tm->scope;
    return tm;
}

int weft_timeout_reschedule(weft_timeout *tm, double delay)
{
    HANDLE_CHECK(tm, HANDLE_TIMEOUT, "weft_timeout_reschedule");
    if (!task_self())
        return EPERM;
    if (!tm || bad_delay(delay))
        return EINVAL;
    /* asyncio: "Cannot change state of expiring Timeout" */
    if (__atomic_load_n(&tm->state, __ATOMIC_RELAXED) != TM_ENTERED)
        return EINVAL;
    return arm(tm, delay);
}

bool weft_timeout_expired(const weft_timeout *tm)
{
    HANDLE_CHECK(tm, HANDLE_TIMEOUT, "weft_timeout_expired");
    return tm && __atomic_load_n(&tm->state, __ATOMIC_RELAXED) == TM_EXPIRING;
}

/* Task.uncancel for the request the scope made. A request still pending
 * (never delivered: the task ran on, or its awaits failed at once with
 * ETIMEDOUT) is the scope's own unless others came since the entry; those
 * are answered with ECANCELED here, as asyncio lets their CancelledError
 * through instead of converting it. */
static int take_back_cancel(struct weft_timeout *tm)
{
    struct weft_task *t = tm->task;
    spin_lock(&t->lock);
    if (t->num_cancels > 0)
        t->num_cancels--;
    bool others = t->num_cancels > tm->cancelling;
    task_set_must_cancel(t, false);
    spin_unlock(&t->lock);
    return others ? ECANCELED : ETIMEDOUT;
}

int weft_timeout_exit(weft_timeout *tm)
{
    HANDLE_CHECK(tm, HANDLE_TIMEOUT, "weft_timeout_exit");
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    if (!tm || tm->task != self || self->deadlines != &tm->scope)
        return EINVAL; /* not this task's innermost scope */
    self->deadlines = tm->scope.outer;
    disarm(tm);
    spin_lock(&tm->lock);
    bool fired = tm->state == TM_EXPIRING;
    spin_unlock(&tm->lock);
    int err = fired ? take_back_cancel(tm) : 0;
    HANDLE_KILL(tm, HANDLE_TIMEOUT); /* armings may hold it a little longer */
    timeout_unref(tm);
    return err;
}
