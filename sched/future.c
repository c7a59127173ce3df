/*
 * Futures (see future.h): Lib/asyncio/futures.py's Future, with the task
 * side of Task.__step for a yielded future.
 */
#include "sched/future.h"

#include <errno.h>
#include <stddef.h>

#include "sched/lock_order.h"
#include "sched/runtime.h"

static void run_callbacks(struct waiter *w, struct weft_task *none)
{
    while (w) {
        struct waiter *next = w->next; /* w may be gone once it has run */
        w->fn(w, none);
        w = next;
    }
}

void future_init(struct future *f)
{
    spin_init(&f->lock, LOCK_RANK_FUTURE);
    f->state = FUT_PENDING;
    f->result = NULL;
    f->callbacks = NULL;
    f->tail = &f->callbacks;
    f->cancel = future_cancel_plain;
}

static bool finish(struct future *f, enum future_state state, void *result)
{
    spin_lock(&f->lock);
    if (f->state != FUT_PENDING) {
        spin_unlock(&f->lock);
        return false;
    }
    f->result = result;
    struct waiter *w = f->callbacks;
    f->callbacks = NULL;
    f->tail = &f->callbacks;
    __atomic_store_n(&f->state, (unsigned char)state, __ATOMIC_RELEASE);
    spin_unlock(&f->lock);
    run_callbacks(w, NULL);
    return true;
}

bool future_set_result(struct future *f, void *result)
{
    return finish(f, FUT_DONE, result);
}

bool future_cancel_plain(struct future *f)
{
    return finish(f, FUT_CANCELLED, WEFT_ERR(ECANCELED));
}

bool future_add_callback(struct future *f, struct waiter *w)
{
    spin_lock(&f->lock);
    bool pending = f->state == FUT_PENDING;
    if (pending)
        waiters_append(&f->tail, w);
    spin_unlock(&f->lock);
    return pending;
}

bool future_remove_callback(struct future *f, struct waiter *w)
{
    spin_lock(&f->lock);
    bool found = waiters_unlink(&f->callbacks, &f->tail, w);
    spin_unlock(&f->lock);
    return found;
}

int future_await(struct weft_task *self, struct future *f)
{
    int err = task_await_enter(self);
    if (err)
        return err;
    if (future_done(f))
        return future_cancelled(f) ? ECANCELED : 0; /* await on a done future does not suspend */
    uint64_t seq = task_wait_begin(self);
    self->await_seq = seq;
    self->await_node.fn = task_waiter_wake;
    if (!future_add_callback(f, &self->await_node)) {
        task_wait_abandon(self, seq);
        return future_cancelled(f) ? ECANCELED : 0;
    }
    spin_lock(&self->lock);
    task_record_wait(self, WAIT_FUTURE, NULL, f);
    /* Task.__step: a cancel that arrived while running cancels the future. */
    if (self->must_cancel && f->cancel(f))
        task_set_must_cancel(self, false);
    spin_unlock(&self->lock);
    task_suspend(self, SW_PARK);
    err = task_wait_end(self);
    return err ? err : future_cancelled(f) ? ECANCELED : 0;
}

void sched_call_soon(struct runtime *rt, struct callback *cb)
{
    if (rt->single)
        loop_call_soon(rt, cb);
    else
        cb->fn(cb);
}

static void soon_run(struct callback *cb)
{
    struct soon *s = (struct soon *)((char *)cb - offsetof(struct soon, cb));
    s->fn(s);
}

static void soon_due(struct waiter *w, struct weft_task *done)
{
    (void)done;
    struct soon *s = (struct soon *)w;
    sched_call_soon(s->rt, &s->cb);
}

static void soon_init(struct soon *s, struct runtime *rt, void (*fn)(struct soon *s))
{
    s->waiter.fn = soon_due;
    s->cb.fn = soon_run;
    s->rt = rt;
    s->fn = fn;
}

void soon_on_task(struct soon *s, struct weft_task *t, void (*fn)(struct soon *s))
{
    soon_init(s, t->rt, fn);
    if (!task_add_waiter(t, &s->waiter))
        sched_call_soon(s->rt, &s->cb);
}

void soon_on_future(struct soon *s, struct runtime *rt, struct future *f,
                    void (*fn)(struct soon *s))
{
    soon_init(s, rt, fn);
    if (!future_add_callback(f, &s->waiter))
        sched_call_soon(s->rt, &s->cb);
}
