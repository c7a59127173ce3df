/*
 * asyncio.wait and asyncio.wait_for (Lib/asyncio/tasks.py, 3.11): a waiter
 * future released by a done-callback on the tasks or by a timer.
 *
 * As in gather.c, callbacks and the timer may outlive the call (a callback
 * already queued when the call returns still runs), so the state is on the
 * heap, with one reference per registration.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "api/check.h"
#include "sched/future.h"
#include "sched/lock_order.h"
#include "sched/runtime.h"
#include "weft.h"

struct waiting;

struct watch {
    struct soon soon;
    struct waiting *st;
    struct weft_task *task;
};

struct waiting {
    int refs; /* atomic */
    spinlock lock;
    struct future waiter;
    struct timer *timer;
    enum weft_when when;
    size_t counter; /* tasks not yet done; under lock */
    size_t n;
    struct watch watches[];
};

static void waiting_unref(void *p)
{
    struct waiting *st = p;
    if (__atomic_sub_fetch(&st->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < st->n; i++)
        task_unref(st->watches[i].task);
    free(st);
}

static struct waiting *waiting_new(size_t n)
{
    struct waiting *st = malloc(sizeof *st + n * sizeof st->watches[0]);
    if (!st)
        return NULL;
    st->refs = 1;
    spin_init(&st->lock, LOCK_RANK_OBJECT);
    future_init(&st->waiter);
    st->timer = NULL;
    st->counter = n;
    st->n = 0;
    return st;
}

/* _release_waiter */
static void release_waiter(struct timer *tm)
{
    future_set_result(&((struct waiting *)tm->ctx)->waiter, NULL);
}

/* loop.call_later(timeout, _release_waiter, waiter) */
static int arm_timeout(struct waiting *st, struct runtime *rt, double timeout)
{
    /* A timeout <= 0 is a deadline already past: it expires on the loop's
     * next turn, as call_later's does. */
    st->timer = timer_new(runtime_now(rt) + timeout, release_waiter, NULL, 0);
    if (!st->timer)
        return ENOMEM;
    st->timer->ctx = st;
    st->timer->ctx_drop = waiting_unref;
    __atomic_add_fetch(&st->refs, 1, __ATOMIC_RELAXED); /* dropped when the timer is freed */
    if (sched_timer_add(rt, st->timer) != 0) {
        timer_release(st->timer);
        timer_release(st->timer);
        st->timer = NULL;
        return ENOMEM;
    }
    return 0;
}

static void disarm_timeout(struct waiting *st)
{
    if (st->timer) {
        timer_cancel(st->timer);
        timer_release(st->timer);
        st->timer = NULL;
    }
}

static void watch(struct waiting *st, struct weft_task *t, void (*fn)(struct soon *s))
{
    struct watch *w = &st->watches[st->n++];
    w->st = st;
    w->task = t;
    task_ref(t);
    __atomic_add_fetch(&st->refs, 1, __ATOMIC_RELAXED);
    soon_on_task(&w->soon, t, fn);
}

/* remove_done_callback for every watch whose callback has not been queued. */
static void unwatch_all(struct waiting *st)
{
    for (size_t i = 0; i < st->n; i++)
        if (task_remove_waiter(st->watches[i].task, &st->watches[i].soon.waiter))
            waiting_unref(st);
}

/* _wait's _on_completion */
static void on_completion(struct soon *s)
{
    struct watch *w = (struct watch *)s;
    struct waiting *st = w->st;
    struct weft_task *t = w->task;
    spin_lock(&st->lock);
    bool release = --st->counter == 0 || st->when == WEFT_FIRST_COMPLETED;
    if (!release && st->when == WEFT_FIRST_EXCEPTION && !t->cancelled) {
        task_mark_retrieved(t); /* f.exception() */
        release = weft_error(t->result) != 0;
    }
    spin_unlock(&st->lock);
    if (release)
        future_set_result(&st->waiter, NULL);
    waiting_unref(st);
}

static bool bad_timeout(double timeout)
{
    return isnan(timeout);
}

int weft_wait(weft_task *const tasks[], size_t n, enum weft_when when, double timeout, bool done[])
{
    struct weft_task *self;
    int err = tasks_check(tasks, n, &self, "weft_wait");
    if (err)
        return err;
    if (n == 0 || bad_timeout(timeout) ||
        (when != WEFT_ALL_COMPLETED && when != WEFT_FIRST_COMPLETED &&
         when != WEFT_FIRST_EXCEPTION))
        return EINVAL;
    /* asyncio makes a set of the tasks: a task listed twice counts once. */
    weft_task *few[32], **unique = n <= 32 ? few : malloc(n * sizeof *unique);
    size_t m = unique ? tasks_distinct(tasks, n, unique, &err) : 0;
    struct waiting *st = m ? waiting_new(m) : NULL;
    if (!st || (timeout != WEFT_FOREVER && arm_timeout(st, self->rt, timeout) != 0)) {
        if (st)
            waiting_unref(st);
        if (unique != few)
            free(unique);
        return err ? err : ENOMEM;
    }
    st->when = when;
    for (size_t i = 0; i < m; i++)
        watch(st, unique[i], on_completion);
    if (unique != few)
        free(unique);

    task_note_wait(self, WAIT_FOR_WAIT, (const void *)(uintptr_t)m);
    err = future_await(self, &st->waiter);
    disarm_timeout(st);
    unwatch_all(st);
    if (done)
        for (size_t i = 0; i < n; i++)
            done[i] = task_is_done(tasks[i]);
    waiting_unref(st);
    return err;
}

/* _release_waiter as a done-callback of the awaited task */
static void release_on_done(struct soon *s)
{
    struct waiting *st = ((struct watch *)s)->st;
    future_set_result(&st->waiter, NULL);
    waiting_unref(st);
}

/* _cancel_and_wait: cancel t and wait until it is done, without awaiting t
 * itself, so that this wait stays cancellable. */
static int cancel_and_wait(struct weft_task *self, struct weft_task *t)
{
    struct waiting *st = waiting_new(1);
    if (!st)
        return ENOMEM;
    watch(st, t, release_on_done);
    task_cancel(t);
    /* This wait is cleanup: an expired deadline scope must not cut it short
     * (asyncio's has already been delivered, as the CancelledError that got
     * us here), so the scopes are set aside meanwhile. */
    struct deadline *scopes = self->deadlines;
    self->deadlines = NULL;
    task_note_wait(self, WAIT_FOR_TASK, t);
    int err = future_await(self, &st->waiter);
    self->deadlines = scopes;
    unwatch_all(st);
    waiting_unref(st);
    return err;
}

static void *result_of(struct weft_task *t)
{
    task_mark_retrieved(t);
    return t->result;
}

void *weft_wait_for(weft_task *t, double timeout)
{
    struct weft_task *self;
    int err = tasks_check(&t, 1, &self, "weft_wait_for");
    if (err)
        return WEFT_ERR(err);
    if (bad_timeout(timeout))
        return WEFT_ERR(EINVAL);
    if (timeout == WEFT_FOREVER)
        return weft_await(t);
    if (timeout <= 0) {
        if (task_is_done(t))
            return result_of(t);
        err = cancel_and_wait(self, t);
        if (err)
            return WEFT_ERR(err);
        return t->cancelled ? (task_mark_retrieved(t), WEFT_ERR(ETIMEDOUT)) : result_of(t);
    }
    struct waiting *st = waiting_new(1);
    if (!st)
        return WEFT_ERR(ENOMEM);
    if (arm_timeout(st, self->rt, timeout) != 0) {
        waiting_unref(st);
        return WEFT_ERR(ENOMEM);
    }
    watch(st, t, release_on_done);
    task_note_wait(self, WAIT_FOR_TASK, t);
    err = future_await(self, &st->waiter);
    void *result;
    if (task_is_done(t)) {
        result = result_of(t); /* done in time, or even as we were cancelled */
    } else {
        unwatch_all(st);
        int cancel_err = cancel_and_wait(self, t);
        if (err || cancel_err)
            result = WEFT_ERR(err ? err : cancel_err); /* we were cancelled: re-raise */
        else if (t->cancelled)
            result = (task_mark_retrieved(t), WEFT_ERR(ETIMEDOUT));
        else
            result = result_of(t);
    }
    disarm_timeout(st);
    unwatch_all(st);
    waiting_unref(st);
    return result;
}
