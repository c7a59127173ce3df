/* Cancelling a task that awaits another task cancels the awaited task too, and
 * the outer one resumes only once the inner has finished. If the inner task
 * swallows the cancellation and returns a value, the outer gets that value and
 * is not cancelled. A child that cancels the task awaiting it gets the
 * cancellation itself. Twin of cancel_awaiting.py. */
#include <errno.h>
#include <stdint.h>

#include "vtime.h"

struct pair {
    const char *name;
    const char *inner_name;
    bool swallow;
};

static const char *py_bool(bool b)
{
    return b ? "True" : "False";
}

static void *inner(void *arg)
{
    const struct pair *p = arg;

    if (weft_sleep(10) == 0) {
        vtime_log("%s woke", p->inner_name);
        return (void *)(intptr_t)1;
    }
    vtime_log("%s cancelled, cleaning up", p->inner_name);
    weft_sleep(0.5);
    vtime_log("%s cleaned up", p->inner_name);
    if (p->swallow)
        return (void *)(intptr_t)42;
    return WEFT_ERR(ECANCELED);
}

static void *outer(void *arg)
{
    const struct pair *p = arg;
    weft_task *t = weft_spawn(inner, arg);
    void *r = weft_await(t);

    if (weft_error(r) == ECANCELED) {
        vtime_log("%s cancelled, inner cancelled: %s", p->name, py_bool(weft_task_cancelled(t)));
        return WEFT_ERR(ECANCELED);
    }
    vtime_log("%s got %d, inner cancelled: %s", p->name, (int)(intptr_t)r,
              py_bool(weft_task_cancelled(t)));
    if (weft_yield() == ECANCELED)
        return WEFT_ERR(ECANCELED);
    vtime_log("%s yielded without a second cancellation", p->name);
    return (void *)((intptr_t)r + 1);
}

static void *child(void *parent)
{
    vtime_log("child cancels its parent");
    weft_cancel(parent);
    vtime_log("child still running");
    if (weft_sleep(1) == ECANCELED) {
        vtime_log("child got the cancellation");
        return WEFT_ERR(ECANCELED);
    }
    vtime_log("child slept");
    return NULL;
}

static void *parent(void *arg)
{
    (void)arg;
    weft_task *me = weft_task_current();
    void *r = weft_await(weft_spawn(child, me));

    if (weft_error(r) == ECANCELED) {
        vtime_log("parent cancelled");
        return WEFT_ERR(ECANCELED);
    }
    vtime_log("parent not cancelled");
    return NULL;
}

static void *main_task(void *arg)
{
    static struct pair pa = {"a", "a.inner", false}, pb = {"b", "b.inner", true};

    (void)arg;
    weft_task *a = weft_spawn(outer, &pa);
    weft_task *b = weft_spawn(outer, &pb);
    weft_sleep(1);
    vtime_log("cancel a: %s", py_bool(weft_cancel(a)));
    vtime_log("cancel b: %s", py_bool(weft_cancel(b)));
    if (weft_error(weft_await(a)) == ECANCELED)
        vtime_log("a ended cancelled: %s", py_bool(weft_task_cancelled(a)));
    void *r = weft_await(b);
    vtime_log("b returned %d, cancelled: %s", (int)(intptr_t)r, py_bool(weft_task_cancelled(b)));
    weft_task *p = weft_spawn(parent, NULL);
    if (weft_error(weft_await(p)) == ECANCELED)
        vtime_log("parent ended cancelled: %s", py_bool(weft_task_cancelled(p)));
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
