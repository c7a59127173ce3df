/*
 * asyncio.gather over tasks: a gathering future completed by a done-callback
 * on every child (Lib/asyncio/tasks.py, gather and _GatheringFuture).
 *
 * The callbacks can run after weft_gather has returned (a failure returns
 * at once while the other children go on), so their state lives on the heap
 * and is reference counted: one reference for the caller, one for each
 * callback not yet run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sched/future.h"
#include "api/check.h"
#include "sched/lock_order.h"
#include "sched/runtime.h"
#include "weft.h"

struct gather;

struct gather_child {
    struct soon soon;
    struct gather *g;
    struct weft_task *task;
};

struct gather {
    int refs; /* atomic */
    spinlock lock;
    struct future outer;
    bool return_exceptions;
    bool completed;        /* outer has been given its outcome; under lock */
    bool cancel_requested; /* under lock */
    size_t nfuts, nfinished;
    struct gather_child children[];
};

static void gather_unref(struct gather *g)
{
    if (__atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < g->nfuts; i++)
        task_unref(g->children[i].task);
    free(g);
}

/* _done_callback: decides under the lock, completes outer outside it. */
static void child_done(struct soon *s)
{
    struct gather_child *c = (struct gather_child *)s;
    struct gather *g = c->g;
    struct weft_task *t = c->task;
    void *outcome = NULL;
    bool complete = false;
    spin_lock(&g->lock);
    g->nfinished++;
    if (g->completed) {
        if (!t->cancelled)
            task_mark_retrieved(t);
    } else if (!g->return_exceptions && weft_error(t->result)) {
        if (!t->cancelled)
            task_mark_retrieved(t);
        outcome = t->result;
        complete = true;
    } else if (g->nfinished == g->nfuts) {
        for (size_t i = 0; i < g->nfuts; i++)
            if (!g->children[i].task->cancelled)
                task_mark_retrieved(g->children[i].task);
        outcome = g->cancel_requested ? WEFT_ERR(ECANCELED) : NULL;
        complete = true;
    }
    g->completed |= complete;
    spin_unlock(&g->lock);
    if (complete)
        future_set_result(&g->outer, outcome);
    gather_unref(g);
}

/* _GatheringFuture.cancel: cancel the children, not the future itself. */
static bool gather_cancel(struct future *outer)
{
    struct gather *g = (struct gather *)((char *)outer - offsetof(struct gather, outer));
    if (future_done(outer))
        return false;
    bool any = false;
    for (size_t i = 0; i < g->nfuts; i++)
        any |= task_cancel(g->children[i].task);
    if (any) {
        spin_lock(&g->lock);
        g->cancel_requested = true;
        spin_unlock(&g->lock);
    }
    return any;
}

int weft_gather(weft_task *const tasks[], size_t n, void *results[], int flags)
{
    struct weft_task *self;
    int err = tasks_check(tasks, n, &self, "weft_gather");
    if (err)
        return err;
    if (flags & ~WEFT_RETURN_EXCEPTIONS)
        return EINVAL;
    if (n == 0)
        return 0; /* gather() of nothing is an empty list at once */
    weft_task *few[32], **unique = n <= 32 ? few : malloc(n * sizeof *unique);
    size_t m = unique ? tasks_distinct(tasks, n, unique, &err) : 0;
    struct gather *g = m ? malloc(sizeof *g + m * sizeof g->children[0]) : NULL;
    if (!g) {
        if (unique != few)
            free(unique);
        return err ? err : ENOMEM;
    }
    g->refs = (int)m + 1;
    spin_init(&g->lock, LOCK_RANK_GATHER);
    future_init(&g->outer);
    g->outer.cancel = gather_cancel;
    g->return_exceptions = flags & WEFT_RETURN_EXCEPTIONS;
    g->completed = g->cancel_requested = false;
    g->nfuts = m;
    g->nfinished = 0;
    for (size_t i = 0; i < m; i++) {
        g->children[i].g = g;
        g->children[i].task = unique[i];
        task_ref(unique[i]);
    }
    if (unique != few)
        free(unique);
    for (size_t i = 0; i < m; i++)
        soon_on_task(&g->children[i].soon, g->children[i].task, child_done);

    task_note_wait(self, WAIT_FOR_GATHER, (const void *)(uintptr_t)m);
    err = future_await(self, &g->outer);
    if (!err)
        err = task_cancel_cause(self, weft_error(g->outer.result));
    if (!err && results)
        for (size_t i = 0; i < n; i++)
            results[i] = tasks[i]->result;
    gather_unref(g);
    return err;
}
