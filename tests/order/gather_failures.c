/* weft_gather: the first failure reaches the caller as soon as it happens
 * while the other children run on, uncancelled; a child cancelled by someone
 * else counts as a failure; with WEFT_RETURN_EXCEPTIONS the caller waits for
 * all; cancelling the gathering task cancels every child and the gather
 * returns ECANCELED once the last has finished its cleanup. Twin of
 * gather_failures.py. */
#include <errno.h>
#include <stdint.h>

#include "vtime.h"

struct job {
    const char *name;
    double delay;
    int errno_;
};

static const char *py_bool(bool b)
{
    return b ? "True" : "False";
}

static void *job(void *arg)
{
    const struct job *j = arg;

    if (weft_sleep(j->delay) == ECANCELED) {
        vtime_log("%s cancelled", j->name);
        weft_sleep(j->delay / 10);
        vtime_log("%s cleaned up", j->name);
        return WEFT_ERR(ECANCELED);
    }
    if (j->errno_) {
        vtime_log("%s fails", j->name);
        return weft_fail(j->errno_, "failed");
    }
    vtime_log("%s done", j->name);
    return (void *)(intptr_t)j->delay;
}

static void first_failure(void)
{
    static struct job ja = {"a", 1, EIO}, jb = {"b", 2, EINVAL}, jc = {"c", 3, 0};
    weft_task *t[3] = {weft_spawn(job, &ja), weft_spawn(job, &jb), weft_spawn(job, &jc)};
    void *r[3];

    int err = weft_gather(t, 3, r, 0);
    if (err)
        vtime_log("gather failed: errno %d", err);
    vtime_log("b done: %s, c done: %s", py_bool(weft_task_done(t[1])),
              py_bool(weft_task_done(t[2])));
    weft_sleep(5);
    vtime_log("b cancelled: %s, c result: %d", py_bool(weft_task_cancelled(t[1])),
              (int)(intptr_t)weft_task_result(t[2]));
    for (int i = 0; i < 3; i++)
        weft_task_release(t[i]);
}

static void *canceller(void *b)
{
    weft_sleep(0.5);
    vtime_log("canceller cancels b");
    weft_cancel(b);
    return NULL;
}

static void cancelled_child(void)
{
    static struct job ja = {"a", 1, 0}, jb = {"b", 2, 0};
    weft_task *t[2] = {weft_spawn(job, &ja), weft_spawn(job, &jb)};

    weft_task_release(weft_spawn(canceller, t[1]));
    if (weft_gather(t, 2, NULL, 0) == ECANCELED)
        vtime_log("gather raised CancelledError, a done: %s", py_bool(weft_task_done(t[0])));
    weft_sleep(2);
    weft_task_release(t[0]);
    weft_task_release(t[1]);
}

static void return_exceptions(void)
{
    static struct job ja = {"a", 1, EIO}, jb = {"b", 2, 0}, jc = {"c", 0.5, EINVAL};
    weft_task *t[3] = {weft_spawn(job, &ja), weft_spawn(job, &jb), weft_spawn(job, &jc)};
    void *r[3];

    if (weft_gather(t, 3, r, WEFT_RETURN_EXCEPTIONS) == 0)
        vtime_log("results: errno %d, %d, errno %d", weft_error(r[0]), (int)(intptr_t)r[1],
                  weft_error(r[2]));
    for (int i = 0; i < 3; i++)
        weft_task_release(t[i]);
}

static void *gatherer(void *arg)
{
    static struct job ja = {"a", 1, 0}, jb = {"b", 4, 0};
    weft_task *t[2] = {weft_spawn(job, &ja), weft_spawn(job, &jb)};
    int err = weft_gather(t, 2, NULL, 0);

    (void)arg;
    if (err == ECANCELED)
        vtime_log("gatherer cancelled, a: %s, b: %s", py_bool(weft_task_cancelled(t[0])),
                  py_bool(weft_task_cancelled(t[1])));
    weft_task_release(t[0]);
    weft_task_release(t[1]);
    return err ? WEFT_ERR(err) : NULL;
}

static void caller_cancelled(void)
{
    weft_task *t = weft_spawn(gatherer, NULL);

    weft_sleep(2);
    vtime_log("cancel the gatherer");
    weft_cancel(t);
    if (weft_error(weft_await(t)) == ECANCELED)
        vtime_log("gatherer ended cancelled: %s", py_bool(weft_task_cancelled(t)));
    weft_task_release(t);
}

static void *main_task(void *arg)
{
    (void)arg;
    first_failure();
    cancelled_child();
    return_exceptions();
    caller_cancelled();
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
