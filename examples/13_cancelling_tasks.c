/*
 * Cancelling Tasks: weft_cancel() makes the task's next await point return
 * ECANCELED. The task cleans up, then returns WEFT_ERR(ECANCELED) to end
 * cancelled, and whoever awaits it sees ECANCELED too.
 */
#include <errno.h>

#include "example.h"

static void *long_running(void *arg)
{
    (void)arg;
    for (;;) {
        say("Working...");
        if (weft_sleep(1) == ECANCELED)
            break;
    }
    say("Task was cancelled, cleaning up...");
    return WEFT_ERR(ECANCELED); /* end cancelled, as a re-raise does */
}

static void *async_main(void *arg)
{
    (void)arg;
    weft_task *task = weft_spawn(long_running, NULL);
    if (!task)
        return WEFT_ERR(errno); /* TODO(weft_errno) */

    weft_sleep(3);
    weft_cancel(task);

    void *result = weft_await(task);
    weft_task_release(task);
    if (weft_error(result) == ECANCELED)
        say("Task cancellation confirmed");
    return NULL;
}

int main(void)
{
    void *result = weft_run(async_main, NULL, NULL);

    fflush(stdout);
    return weft_error(result) ? EXIT_FAILURE : EXIT_SUCCESS;
}
