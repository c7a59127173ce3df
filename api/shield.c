/*
 * asyncio.shield (Lib/asyncio/tasks.py, 3.11): the caller awaits an outer
 * future that a done-callback on the inner task completes. Cancelling the
 * caller cancels only the outer future, so the inner task runs on.
 *
 * The callback may run after weft_shield has returned (the caller was
 * cancelled and the inner task finishes later), so the state lives on the
 * heap with a reference for the caller and one for the callback.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "api/check.h"
#include "sched/future.h"
#include "sched/runtime.h"
#include "weft.h"

struct shield {
    int refs; /* atomic */
    struct future outer;
    struct soon inner_done;
    struct weft_task *inner;
};

static void shield_unref(struct shield *sh)
{
    if (__atomic_sub_fetch(&sh->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    task_unref(sh->inner);
    free(sh);
}

/* _inner_done_callback */
static void inner_done(struct soon *s)
{
    struct shield *sh = (struct shield *)((char *)s - offsetof(struct shield, inner_done));
    struct weft_task *inner = sh->inner;
    if (future_cancelled(&sh->outer)) {
        if (!inner->cancelled)
            task_mark_retrieved(inner); /* inner.exception(), so that nobody reports it */
    } else if (inner->cancelled) {
        future_cancel_plain(&sh->outer);
    } else {
        task_mark_retrieved(inner);
        future_set_result(&sh->outer, inner->result);
    }
    shield_unref(sh);
}

void *weft_shield(weft_task *t)
{
    struct weft_task *self;
    int err = tasks_check(&t, 1, &self, "weft_shield");
    if (err)
        return WEFT_ERR(err);
    if (task_is_done(t)) {
        /* shield() hands back the task itself, and awaiting a done task
         * does not suspend. */
        task_mark_retrieved(t);
        return t->result;
    }
    struct shield *sh = malloc(sizeof *sh);
    if (!sh)
        return WEFT_ERR(ENOMEM);
    sh->refs = 2;
    future_init(&sh->outer);
    task_ref(t);
    sh->inner = t;
    soon_on_task(&sh->inner_done, t, inner_done);
    task_note_wait(self, WAIT_FOR_SHIELD, t);
    err = future_await(self, &sh->outer);
    void *result = err ? WEFT_ERR(err) : sh->outer.result;
    /* _outer_done_callback: a callback not yet queued is taken back. */
    if (err && task_remove_waiter(t, &sh->inner_done.waiter))
        shield_unref(sh);
    shield_unref(sh);
    return result;
}
