/* A task group whose parent is cancelled from outside: during the body (the
 * exit cancels the children, waits for their cleanup, and returns ECANCELED)
 * and while the parent already waits at the exit. Then nested groups: a
 * failure in the inner group cancels the inner body, fails the inner group,
 * and so fails the outer group, which cancels its other child. Twin of
 * group_cancel_parent.py. */
#include <errno.h>
#include <stdint.h>

#include "vtime.h"

struct job {
    const char *name;
    double delay;
    int errno_;
};

static void *worker(void *arg)
{
    const struct job *j = arg;

    if (weft_sleep(j->delay) == ECANCELED) {
        vtime_log("%s cancelled", j->name);
        weft_sleep(0.25);
        vtime_log("%s cleaned up", j->name);
        return WEFT_ERR(ECANCELED);
    }
    if (j->errno_) {
        vtime_log("%s fails", j->name);
        return weft_fail(j->errno_, "failed");
    }
    vtime_log("%s done", j->name);
    return NULL;
}

static void *in_body(void *arg)
{
    static struct job a = {"a", 5, 0};
    weft_group *g = weft_group_create();

    (void)arg;
    weft_task_release(weft_group_spawn(g, worker, &a));
    vtime_log("body sleeps");
    weft_sleep(10);
    int err = weft_group_wait(g);
    if (err == ECANCELED)
        vtime_log("group re-raised the cancellation");
    return WEFT_ERR(err);
}

static void *at_exit(void *arg)
{
    static struct job b = {"b", 5, 0};
    weft_group *g = weft_group_create();

    (void)arg;
    weft_task_release(weft_group_spawn(g, worker, &b));
    vtime_log("body ends");
    int err = weft_group_wait(g);
    if (err == ECANCELED)
        vtime_log("group cancelled at its exit");
    return WEFT_ERR(err);
}

static void *inner_group(void *arg)
{
    static struct job x = {"x", 1, EIO}, y = {"y", 3, 0};
    weft_group *g = weft_group_create();

    (void)arg;
    weft_task_release(weft_group_spawn(g, worker, &x));
    weft_task_release(weft_group_spawn(g, worker, &y));
    if (weft_sleep(10) == ECANCELED)
        vtime_log("inner body cancelled");
    int err = weft_group_wait(g);
    if (err) {
        vtime_log("inner group failed: errno %d", err);
        return weft_fail(err, "inner group failed");
    }
    return NULL;
}

static void nested(void)
{
    static struct job z = {"z", 4, 0};
    weft_group *g = weft_group_create();

    weft_task_release(weft_group_spawn(g, inner_group, NULL));
    weft_task_release(weft_group_spawn(g, worker, &z));
    int err = weft_group_wait(g);
    if (err)
        vtime_log("outer group failed: errno %d", err);
}

static void *main_task(void *arg)
{
    void *(*bodies[2])(void *) = {in_body, at_exit};

    (void)arg;
    for (int i = 0; i < 2; i++) {
        weft_task *t = weft_spawn(bodies[i], NULL);
        weft_sleep(1);
        vtime_log("cancel the parent");
        weft_cancel(t);
        if (weft_error(weft_await(t)) == ECANCELED)
            vtime_log("parent ended cancelled: %s", weft_task_cancelled(t) ? "True" : "False");
        weft_task_release(t);
    }
    nested();
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
