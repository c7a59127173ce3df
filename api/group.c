/*
 * asyncio.TaskGroup (Lib/asyncio/taskgroups.py, 3.11).
 *
 * The group remembers the task that created it (the parent). Every child
 * gets a done-callback, _on_task_done, with asyncio's timing (a struct soon).
 * The first child to fail cancels its siblings and, while the parent is
 * still in the body of the scope, the parent too, so that whatever the body
 * awaits returns ECANCELED; weft_group_wait, the scope's exit (__aexit__),
 * takes that request back (Task.uncancel). Asyncio also cancels a parent
 * already in __aexit__, only to swallow the CancelledError there: that
 * changes nothing anyone can see, so it is not done here.
 *
 * The exit waits for the children on a future that the last child's
 * callback completes (_on_completed_fut). Cancelled while waiting, it
 * cancels the children and keeps waiting, then reports ECANCELED. C has no
 * `async with` to tell the exit that the body was cancelled, so the exit
 * looks at the parent's count of cancellation requests instead (as
 * asyncio.timeout does): more than at the entry, not counting the group's
 * own, means the body was being cancelled.
 *
 * asyncio raises an ExceptionGroup of every child's error; here the exit
 * returns the first failure's code, and its message stays readable through
 * the handle weft_group_spawn returned (weft_task_message) for as long as
 * the caller keeps it.
 *
 * Locking: the group's lock, then a task's lock (uncancel, cancelling a
 * child or the parent), never the other way round. Children are freed from
 * the list as they finish; the group itself goes when the exit and every
 * pending callback have dropped their references.
 */
#include <errno.h>
#include <stdlib.h>

#include "api/fail.h"
#include "api/handle.h"
#include "sched/future.h"
#include "sched/lock_order.h"
#include "sched/runtime.h"
#include "sched/task.h"
#include "weft.h"

struct group_child {
    struct soon soon; /* _on_task_done */
    struct weft_group *g;
    struct weft_task *task; /* referenced until the callback has run */
    struct group_child *prev, *next;
};

struct weft_group {
    spinlock lock;
    int refs;                        /* atomic: the exit's, and one per pending callback */
    struct weft_task *parent;        /* referenced */
    unsigned cancelling;             /* parent->num_cancels on entry */
    bool exiting;                    /* in weft_group_wait */
    bool aborting;                   /* the children have been cancelled */
    bool parent_cancel_requested;    /* the group cancelled the parent */
    bool waiting;                    /* completed is armed (_on_completed_fut is not None) */
    int error;                       /* the first child's failure */
    size_t ntasks;                   /* children whose callback has not run */
    struct group_child *head, *tail; /* those children, in spawn order */
    struct future completed;         /* _on_completed_fut */
    uint32_t magic; /* api/handle.h; last: past what malloc reuses */
};

static void group_unref(struct weft_group *g)
{
    if (__atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    task_unref(g->parent);
    free(g);
}

weft_group *weft_group_create(void)
{
    struct weft_task *self = task_self();
    if (!self)
        return fail_errno(EPERM);
    struct weft_group *g = calloc(1, sizeof *g);
    if (!g)
        return fail_errno(ENOMEM);
    spin_init(&g->lock, LOCK_RANK_SCOPE);
    g->magic = HANDLE_LIVE(HANDLE_GROUP);
    g->refs = 1;
    g->parent = self;
    task_ref(self);
    spin_lock(&self->lock);
    g->cancelling = self->num_cancels;
    spin_unlock(&self->lock);
    future_init(&g->completed);
    return g;
}

/* _abort, under g's lock. asyncio walks a set, in no particular order; the
 * children are cancelled here in the order they were spawned. */
static void abort_children(struct weft_group *g)
{
    g->aborting = true;
    for (struct group_child *c = g->head; c; c = c->next)
        task_cancel(c->task); /* false, harmlessly, for one already done */
}

static void unlink_child(struct weft_group *g, struct group_child *c)
{
    *(c->prev ? &c->prev->next : &g->head) = c->next;
    *(c->next ? &c->next->prev : &g->tail) = c->prev;
}

/* _on_task_done */
static void on_task_done(struct soon *s)
{
    struct group_child *c = (struct group_child *)s;
    struct weft_group *g = c->g;
    struct weft_task *t = c->task;
    spin_lock(&g->lock);
    unlink_child(g, c);
    if (--g->ntasks == 0 && g->waiting)
        future_set_result(&g->completed, NULL);
    int code = t->cancelled ? 0 : weft_error(t->result);
    /* A parent that has finished without leaving the scope cannot be told:
     * the failure stays unretrieved, and is reported as such. */
    if (code && !task_is_done(g->parent)) {
        task_mark_retrieved(t); /* task.exception() */
        if (!g->error)
            g->error = code;
        if (!g->aborting && !g->parent_cancel_requested) {
            abort_children(g);
            if (!g->exiting) {
                g->parent_cancel_requested = true;
                task_cancel(g->parent);
            }
        }
    }
    spin_unlock(&g->lock);
    task_unref(t);
    free(c);
    group_unref(g);
}

weft_task *weft_group_spawn(weft_group *g, void *(*fn)(void *), void *arg)
{
    HANDLE_CHECK(g, HANDLE_GROUP, "weft_group_spawn");
    struct weft_task *self = task_self();
    if (!self)
        return fail_errno(EPERM);
    if (!g || !fn || g->parent->rt != self->rt)
        return fail_errno(EINVAL);
    struct group_child *c = malloc(sizeof *c);
    if (!c)
        return fail_errno(ENOMEM);
    spin_lock(&g->lock);
    /* asyncio: "TaskGroup is finished" / "is shutting down" */
    if ((g->exiting && g->ntasks == 0) || g->aborting) {
        spin_unlock(&g->lock);
        free(c);
        return fail_errno(EINVAL);
    }
    /* Created under the lock and linked before it may run, so that an
     * abort on another worker cannot miss it. */
    struct weft_task *t = task_create(self->rt, worker_self(), fn, arg);
    if (!t) {
        spin_unlock(&g->lock);
        free(c);
        return fail_errno(ENOMEM);
    }
    task_ref(t); /* the group's, until the callback has run */
    c->g = g;
    c->task = t;
    c->next = NULL;
    c->prev = g->tail;
    *(g->tail ? &g->tail->next : &g->head) = c;
    g->tail = c;
    g->ntasks++;
    __atomic_add_fetch(&g->refs, 1, __ATOMIC_RELAXED);
    spin_unlock(&g->lock);
    sched_ready(self->rt, t);
    /* Outside the lock: on a task already done it runs at once
     * (multi-thread mode) and takes the lock itself. */
    soon_on_task(&c->soon, t, on_task_done);
    return t;
}

/* Task.uncancel for the request the group made, if it made one. */
static void take_back_cancel(struct weft_group *g)
{
    struct weft_task *p = g->parent;
    spin_lock(&p->lock);
    if (p->num_cancels > 0)
        p->num_cancels--;
    if (p->num_cancels <= g->cancelling)
        /* never delivered: the body did not await again */
        task_set_must_cancel(p, false);
    spin_unlock(&p->lock);
}

/* Whether someone other than the group has cancelled the parent since the
 * scope was entered, and an await of the body has returned the cancellation:
 * the body was being cancelled (et is CancelledError). A request still
 * pending is the next await's to deliver, the exit's own if it waits. */
static bool cancelled_from_outside(struct weft_group *g)
{
    struct weft_task *p = g->parent;
    spin_lock(&p->lock);
    bool more = p->num_cancels > g->cancelling && !p->must_cancel;
    spin_unlock(&p->lock);
    return more;
}

/* await self._on_completed_fut: false once every child is done, true if the
 * wait was cancelled. The task's deadline scopes are set aside meanwhile:
 * inside an expired one every await would fail at once, and the exit must
 * wait for the children whatever happens, as __aexit__ does. */
static bool await_children(struct weft_task *self, struct weft_group *g)
{
    spin_lock(&g->lock);
    bool done = g->ntasks == 0;
    if (!done) {
        future_init(&g->completed);
        g->waiting = true;
    }
    spin_unlock(&g->lock);
    if (done)
        return false;
    struct deadline *scopes = self->deadlines;
    self->deadlines = NULL;
    task_note_wait(self, WAIT_FOR_GROUP, g);
    int err = future_await(self, &g->completed);
    self->deadlines = scopes;
    spin_lock(&g->lock);
    g->waiting = false;
    spin_unlock(&g->lock);
    return err != 0;
}

int weft_group_wait(weft_group *g)
{
    HANDLE_CHECK(g, HANDLE_GROUP, "weft_group_wait");
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    if (!g || g->parent != self)
        return EINVAL;
    int propagate = 0; /* propagate_cancellation_error */
    spin_lock(&g->lock);
    g->exiting = true;
    if (g->parent_cancel_requested)
        take_back_cancel(g);
    if (cancelled_from_outside(g)) {
        propagate = task_await_enter(self) ? ETIMEDOUT : ECANCELED;
        if (!g->aborting)
            abort_children(g);
    }
    spin_unlock(&g->lock);
    for (;;) {
        spin_lock(&g->lock);
        bool left = g->ntasks != 0;
        spin_unlock(&g->lock);
        if (!left)
            break;
        if (await_children(self, g)) {
            spin_lock(&g->lock);
            if (!g->aborting) {
                /* The parent is cancelled while its children run on. */
                propagate = task_await_enter(self) ? ETIMEDOUT : ECANCELED;
                abort_children(g);
            }
            spin_unlock(&g->lock);
        }
    }
    int err = g->error ? g->error : propagate; /* errors have priority */
    HANDLE_KILL(g, HANDLE_GROUP); /* the exit ends the scope; callbacks may hold it longer */
    group_unref(g);
    return err;
}
