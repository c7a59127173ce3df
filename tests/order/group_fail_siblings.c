/* The first child of a task group to fail cancels its siblings and the body
 * of the scope, whose await returns the cancellation; the exit waits for the
 * siblings' cleanup and reports the failure. Only one sibling prints at the
 * moment it is cancelled: asyncio cancels the siblings in the order of a set.
 * A second group fails while its parent already waits at the exit. Twin of
 * group_fail_siblings.py. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "vtime.h"

struct job {
    const char *name;
    double delay;
    bool fail;
};

static void *worker(void *arg)
{
    const struct job *j = arg;

    if (weft_sleep(j->delay) == ECANCELED) {
        if (strcmp(j->name, "c") == 0)
            vtime_log("%s cancelled, cleaning up", j->name);
        weft_sleep(j->delay / 4);
        vtime_log("%s cleaned up", j->name);
        return WEFT_ERR(ECANCELED);
    }
    if (j->fail) {
        vtime_log("%s fails", j->name);
        return weft_fail(EIO, "I/O error");
    }
    vtime_log("%s done", j->name);
    return (void *)j->name;
}

static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 4; i++) {
        vtime_log("tick %d", i);
        weft_yield();
    }
    return NULL;
}

static void body_cancelled(void)
{
    static struct job jobs[] = {{"a", 1, false}, {"b", 2, true}, {"c", 3, false}, {"d", 4, false}};
    weft_group *g = weft_group_create();

    for (size_t i = 0; i < 4; i++)
        weft_task_release(weft_group_spawn(g, worker, &jobs[i]));
    if (weft_sleep(10) == 0) {
        vtime_log("body slept");
    } else {
        vtime_log("body cancelled");
        weft_task_release(weft_spawn(ticker, NULL));
    }
    int err = weft_group_wait(g);
    if (err)
        vtime_log("group failed: errno %d", err);
}

static void exit_waiting(void)
{
    static struct job jobs[] = {{"e", 1, true}, {"f", 2, false}};
    weft_group *g = weft_group_create();

    for (size_t i = 0; i < 2; i++)
        weft_task_release(weft_group_spawn(g, worker, &jobs[i]));
    vtime_log("body ends");
    int err = weft_group_wait(g);
    if (err)
        vtime_log("group failed: errno %d", err);
}

static void *main_task(void *arg)
{
    (void)arg;
    body_cancelled();
    vtime_log("after the first group");
    if (weft_yield() == 0)
        vtime_log("main not cancelled");
    exit_waiting();
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
