/*
 * The task calls of the public API: create_task, await, cancel and the Task
 * accessors, checking their arguments at the boundary and leaving the
 * mechanics to sched/task.c.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "api/check.h"
#include "api/fail.h"
#include "api/handle.h"
#include "sched/runtime.h"
#include "sched/task.h"
#include "weft.h"

weft_task *weft_spawn(void *(*fn)(void *), void *arg)
{
    struct worker *here = worker_self();
    struct weft_task *self = here ? here->current : NULL;
    if (!self)
        return fail_errno(EPERM);
    if (!fn)
        return fail_errno(EINVAL);
    struct weft_task *t = NULL;
    if (!self->rt->single || loop_reserve(self->rt) == 0)
        t = task_create(self->rt, here, fn, arg);
    if (!t)
        return fail_errno(ENOMEM);
    sched_ready_from(here, self->rt, t);
    return t;
}

/* Whether self appears in the chain of tasks that t awaits (a cycle). Each
 * link is referenced before its holder's lock is dropped: a task is alive
 * while the task awaiting it still records it, and no longer than that. */
static bool awaits_back(struct weft_task *t, struct weft_task *self)
{
    struct weft_task *held = NULL;
    bool cycle = false;
    for (unsigned depth = 0; t && depth < 100000 && !cycle; depth++) {
        spin_lock(&t->lock);
        struct weft_task *next = t->wait_kind == WAIT_TASK ? t->wait_task : NULL;
        if (next)
            task_ref(next);
        spin_unlock(&t->lock);
        if (held)
            task_unref(held);
        held = next;
        cycle = next == self;
        t = next;
    }
    if (held)
        task_unref(held);
    return cycle;
}

/* Suspend self until t is done; false if t was already done. Returns with
 * self's cancellation request consumed into *err (see task_wait_end). */
static bool wait_for_task(struct weft_task *self, struct weft_task *t, int *err)
{
    task_note_wait(self, WAIT_FOR_TASK, t);
    uint64_t seq = task_wait_begin(self);
    self->await_seq = seq;
    self->await_node.fn = task_waiter_wake;
    if (!task_add_waiter(t, &self->await_node)) {
        task_wait_abandon(self, seq);
        return false;
    }
    task_waits_on(self, t);
    task_suspend(self, SW_PARK);
    *err = task_wait_end(self);
    return true;
}

static bool is_task(struct weft_task *t, void *wanted)
{
    return t == wanted;
}

void *weft_await(weft_task *t)
{
    struct worker *here = worker_self();
    struct weft_task *self = here ? here->current : NULL;
    if (!self)
        return WEFT_ERR(EPERM);
    if (!t)
        return WEFT_ERR(EINVAL);
    TASK_HANDLE_CHECK(t, "weft_await");
    if (t->rt != self->rt)
        return WEFT_ERR(EINVAL);
    if (t == self)
        return WEFT_ERR(EDEADLK);
    if (!task_is_done(t)) {
        int err = task_await_enter(self);
        if (err)
            return WEFT_ERR(err);
        /* A task taken off this worker's deque has not started: it awaits
         * nothing, so there is no cycle to look for. */
        struct weft_task *taken = task_take_last(here, self, is_task, t);
        if (!taken && awaits_back(t, self))
            return WEFT_ERR(EDEADLK);
        if (taken ? (err = task_run_inline(here, self, taken)) != 0 : wait_for_task(self, t, &err) && err) {
            task_mark_retrieved(t);
            return WEFT_ERR(err);
        }
    }
    task_mark_retrieved(t);
    int err = weft_error(t->result);
    return err == ECANCELED ? WEFT_ERR(task_cancel_cause(self, err)) : t->result;
}

bool weft_cancel(weft_task *t)
{
    if (!t)
        return false;
    TASK_HANDLE_CHECK(t, "weft_cancel");
    return task_cancel(t);
}

bool weft_task_done(const weft_task *t)
{
    if (!t)
        return false;
    TASK_HANDLE_CHECK(t, "weft_task_done");
    return task_is_done(t);
}

bool weft_task_cancelled(const weft_task *t)
{
    if (!t)
        return false;
    TASK_HANDLE_CHECK(t, "weft_task_cancelled");
    return task_is_done(t) && t->cancelled;
}

void *weft_task_result(const weft_task *t)
{
    if (!t)
        return WEFT_ERR(EINVAL);
    TASK_HANDLE_CHECK(t, "weft_task_result");
    if (!task_is_done(t))
        return WEFT_ERR(EAGAIN);
    task_mark_retrieved((weft_task *)t);
    return t->result;
}

const char *weft_task_message(const weft_task *t)
{
    if (!t)
        return NULL;
    TASK_HANDLE_CHECK(t, "weft_task_message");
    if (!task_is_done(t))
        return NULL;
    int code = weft_error(t->result);
    if (!code)
        return NULL;
    return t->message ? t->message : strerror(code);
}

static struct task_name *name_new(const char *text)
{
    size_t len = strlen(text);
    struct task_name *n = malloc(sizeof *n + len + 1);
    if (n)
        memcpy(n->text, text, len + 1);
    return n;
}

int weft_task_set_name(weft_task *t, const char *name)
{
    if (!t || !name)
        return EINVAL;
    TASK_HANDLE_CHECK(t, "weft_task_set_name");
    struct task_name *n = name_new(name);
    if (!n)
        return ENOMEM;
    /* The older names stay reachable from the new one until the task is
     * freed: a string weft_task_name returned must not go away under its
     * reader. Two renames at once both land, in some order. */
    struct task_name *older = __atomic_load_n(&t->name, __ATOMIC_ACQUIRE);
    do
        n->older = older;
    while (!__atomic_compare_exchange_n(&t->name, &older, n, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE));
    return 0;
}

const char *weft_task_name(const weft_task *t)
{
    if (!t)
        return NULL;
    TASK_HANDLE_CHECK(t, "weft_task_name");
    weft_task *task = (weft_task *)t; /* the default name is stored on first asking */
    struct task_name *n = __atomic_load_n(&task->name, __ATOMIC_ACQUIRE);
    if (n)
        return n->text;
    char buf[TASK_NAME_BUF];
    struct task_name *fresh = name_new(task_name(t, buf));
    if (!fresh)
        return NULL; /* out of memory */
    fresh->older = NULL;
    /* Only where no name is yet: a concurrent weft_task_set_name wins. */
    if (!__atomic_compare_exchange_n(&task->name, &n, fresh, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        free(fresh);
        return n->text;
    }
    return fresh->text;
}

weft_task *weft_task_current(void)
{
    return task_self();
}

void weft_task_release(weft_task *t)
{
    if (!t)
        return;
    HANDLE_CHECK(t, HANDLE_TASK, "weft_task_release");
    if (__atomic_exchange_n(&t->released, true, __ATOMIC_ACQ_REL))
        handle_misuse("weft_task_release", HANDLE_TASK, HANDLE_FREED(HANDLE_TASK));
    task_unref(t);
}

/* Arguments every call over an array of tasks checks the same way. */
int tasks_check(weft_task *const tasks[], size_t n, weft_task **self, const char *call)
{
    *self = task_self();
    if (!*self)
        return EPERM;
    if (n && !tasks)
        return EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!tasks[i])
            return EINVAL;
        TASK_HANDLE_CHECK(tasks[i], call);
        if (tasks[i]->rt != (*self)->rt)
            return EINVAL;
        if (tasks[i] == *self)
            return EDEADLK;
    }
    return 0;
}

size_t tasks_distinct(weft_task *const tasks[], size_t n, weft_task **out, int *err)
{
    size_t m = 0;
    *err = 0;
    if (n <= 32) { /* the common case: no allocation */
        for (size_t i = 0; i < n; i++) {
            size_t j = 0;
            while (j < m && out[j] != tasks[i])
                j++;
            if (j == m)
                out[m++] = tasks[i];
        }
        return m;
    }
    /* An open-addressing set of the pointers seen, at most half full. */
    size_t cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    weft_task **seen = calloc(cap, sizeof *seen);
    if (!seen) {
        *err = ENOMEM;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        uintptr_t h = (uintptr_t)tasks[i];
        h = (h >> 4) * 0x9e3779b97f4a7c15ull; /* tasks are 16-byte aligned at least */
        size_t slot = (size_t)(h >> 20) & (cap - 1);
        while (seen[slot] && seen[slot] != tasks[i])
            slot = (slot + 1) & (cap - 1);
        if (!seen[slot]) {
            seen[slot] = tasks[i];
            out[m++] = tasks[i];
        }
    }
    free(seen);
    return m;
}
