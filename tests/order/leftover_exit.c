/* What leftover tasks do when main returns. The loop stops one iteration
 * after main finishes (its completion callback is a ready-queue entry), so
 * entries queued before that still run: a task created just before main
 * returns starts, and a spinning task takes one more step. Then every task
 * still alive is cancelled and run to completion, cleanup awaits included.
 * Only one leftover prints while being cancelled, so the order in which the
 * leftovers are cancelled does not show. Twin of leftover_exit.py; the
 * handles are released at once, as the Python program drops its tasks. */
#include <errno.h>

#include "vtime.h"

static void *spinner(void *arg)
{
    int step = 0;

    (void)arg;
    for (;;) {
        vtime_log("spinner step %d", step);
        step++;
        if (weft_yield() == ECANCELED)
            break;
    }
    vtime_log("spinner cancelled at step %d", step);
    weft_sleep(0.5);
    vtime_log("spinner cleanup done");
    return WEFT_ERR(ECANCELED);
}

static void *late(void *arg)
{
    (void)arg;
    vtime_log("late body runs");
    return NULL;
}

static void *quiet_sleeper(void *arg)
{
    (void)arg;
    if (weft_sleep(100) == ECANCELED)
        return WEFT_ERR(ECANCELED);
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_task_release(weft_spawn(spinner, NULL));
    weft_task_release(weft_spawn(quiet_sleeper, NULL));
    weft_yield();
    weft_yield();
    weft_task_release(weft_spawn(late, NULL));
    vtime_log("main returns");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
