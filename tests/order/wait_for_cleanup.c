/* weft_wait_for (asyncio 3.11): on timeout the task is cancelled and waited
 * for, so its cleanup (which awaits) runs before ETIMEDOUT; a task that
 * swallows the cancellation gives its value instead; a zero timeout on a
 * done and on a pending task; a task that finishes in time; cancelling the
 * caller while it waits cancels the task and waits for its cleanup. Twin of
 * wait_for_cleanup.py. */
#include <errno.h>
#include <stdint.h>

#include "vtime.h"

struct job {
    const char *name;
    double delay;
    bool swallow;
};

static const char *py_bool(bool b)
{
    return b ? "True" : "False";
}

static void *job(void *arg)
{
    const struct job *j = arg;

    if (weft_sleep(j->delay) == ECANCELED) {
        vtime_log("%s cancelled, cleaning up", j->name);
        weft_sleep(0.5);
        vtime_log("%s cleaned up", j->name);
        return j->swallow ? (void *)(intptr_t)99 : WEFT_ERR(ECANCELED);
    }
    vtime_log("%s finished", j->name);
    return (void *)(intptr_t)j->delay;
}

static void *ticker(void *n)
{
    for (int i = 0; i < (int)(intptr_t)n; i++) {
        vtime_log("tick %d", i);
        weft_yield();
    }
    return NULL;
}

static void *waiter(void *t)
{
    void *r = weft_wait_for(t, 5);

    if (weft_error(r) == ECANCELED)
        vtime_log("waiter cancelled, task cancelled: %s", py_bool(weft_task_cancelled(t)));
    return r;
}

static void *main_task(void *arg)
{
    static struct job slow = {"slow", 10, false}, stubborn = {"stubborn", 10, true},
                      fast = {"fast", 1, false}, zero = {"zero", 3, false},
                      inner = {"inner", 10, false};
    (void)arg;

    weft_task *t = weft_spawn(job, &slow);
    weft_task_release(weft_spawn(ticker, (void *)3));
    if (weft_error(weft_wait_for(t, 1)) == ETIMEDOUT)
        vtime_log("timed out, task cancelled: %s", py_bool(weft_task_cancelled(t)));
    weft_task_release(t);

    t = weft_spawn(job, &stubborn);
    vtime_log("stubborn gave %d", (int)(intptr_t)weft_wait_for(t, 1));
    weft_task_release(t);

    t = weft_spawn(job, &fast);
    vtime_log("fast gave %d", (int)(intptr_t)weft_wait_for(t, 2));
    vtime_log("zero timeout on a done task: %d", (int)(intptr_t)weft_wait_for(t, 0));
    weft_task_release(t);
    t = weft_spawn(job, &zero);
    weft_task_release(weft_spawn(ticker, (void *)3));
    if (weft_error(weft_wait_for(t, 0)) == ETIMEDOUT)
        vtime_log("zero timeout timed out, cancelled: %s", py_bool(weft_task_cancelled(t)));
    weft_task_release(t);

    t = weft_spawn(job, &inner);
    weft_task *w = weft_spawn(waiter, t);
    weft_sleep(1);
    vtime_log("cancel the waiter");
    weft_cancel(w);
    if (weft_error(weft_await(w)) == ECANCELED)
        vtime_log("waiter ended cancelled: %s", py_bool(weft_task_cancelled(w)));
    weft_task_release(w);
    weft_task_release(t);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
