/*
 * The task calls of the public API: create_task, await, cancel and the Task
 * accessors, checking their arguments at the boundary and leaving the
 * mechanics to sched/task.c.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "sched/runtime.h"
#include "sched/task.h"
#include "weft.h"

/* The running task, or NULL on a thread that is not running one. */
static struct weft_task *current(void)
{
    struct worker *w = worker_self();
    return w ? w->current : NULL;
}

weft_task *weft_spawn(void *(*fn)(void *), void *arg)
{
    struct weft_task *self = current();
    if (!self) {
        errno = EPERM;
        return NULL;
    }
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    struct weft_task *t = task_create(self->rt, fn, arg);
    if (!t) {
        errno = ENOMEM;
        return NULL;
    }
    sched_ready(self->rt, t);
    return t;
}

/* Whether self appears in the chain of tasks that t awaits (a cycle). */
static bool awaits_back(struct weft_task *t, struct weft_task *self)
{
    for (unsigned depth = 0; t && depth < 100000; depth++) {
        spin_lock(&t->lock);
        struct weft_task *next = t->wait_kind == WAIT_TASK ? t->wait_task : NULL;
        spin_unlock(&t->lock);
        if (next == self)
            return true;
        t = next;
    }
    return false;
}

static void await_wake(struct waiter *w, struct weft_task *done)
{
    (void)done;
    struct weft_task *self = (struct weft_task *)((char *)w - offsetof(struct weft_task, await_node));
    task_wake(self, self->await_seq);
}

/* Suspend self until t is done; false if t was already done. Returns with
 * self's cancellation request consumed into *cancelled. */
static bool wait_for_task(struct weft_task *self, struct weft_task *t, bool *cancelled)
{
    uint64_t seq = task_wait_begin(self);
    self->await_seq = seq;
    self->await_node.fn = await_wake;
    if (!task_add_waiter(t, &self->await_node)) {
        __atomic_store_n(&self->waitword, seq << 2 | W_RUNNING, __ATOMIC_RELAXED);
        return false;
    }
    spin_lock(&self->lock);
    self->wait_kind = WAIT_TASK;
    self->wait_task = t;
    bool pending = self->must_cancel;
    spin_unlock(&self->lock);
    /* A cancel that arrived while self ran goes to t, as in Task.__step. */
    if (pending && task_cancel(t)) {
        spin_lock(&self->lock);
        self->must_cancel = false;
        spin_unlock(&self->lock);
    }
    task_suspend(self, SW_PARK);
    task_wait_end(self, cancelled);
    return true;
}

void *weft_await(weft_task *t)
{
    struct weft_task *self = current();
    if (!self)
        return WEFT_ERR(EPERM);
    if (!t || t->rt != self->rt)
        return WEFT_ERR(EINVAL);
    if (t == self)
        return WEFT_ERR(EDEADLK);
    if (!task_is_done(t)) {
        if (awaits_back(t, self))
            return WEFT_ERR(EDEADLK);
        bool cancelled = false;
        if (wait_for_task(self, t, &cancelled) && cancelled) {
            task_mark_retrieved(t);
            return WEFT_ERR(ECANCELED);
        }
    }
    task_mark_retrieved(t);
    return t->result;
}

bool weft_cancel(weft_task *t)
{
    return t && task_cancel(t);
}

bool weft_task_done(const weft_task *t)
{
    return t && task_is_done(t);
}

bool weft_task_cancelled(const weft_task *t)
{
    return t && task_is_done(t) && t->cancelled;
}

void *weft_task_result(const weft_task *t)
{
    if (!t)
        return WEFT_ERR(EINVAL);
    if (!task_is_done(t))
        return WEFT_ERR(EAGAIN);
    task_mark_retrieved((weft_task *)t);
    return t->result;
}

const char *weft_task_message(const weft_task *t)
{
    if (!t || !task_is_done(t))
        return NULL;
    int code = weft_error(t->result);
    if (!code)
        return NULL;
    return t->message ? t->message : strerror(code);
}

weft_task *weft_task_current(void)
{
    return current();
}

void weft_task_release(weft_task *t)
{
    if (t)
        task_unref(t);
}
