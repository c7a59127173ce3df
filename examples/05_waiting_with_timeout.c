/*
 * Waiting with Timeout: weft_wait_for() gives a task a deadline. When it
 * passes, the task is cancelled, and the caller gets ETIMEDOUT once the task
 * has finished.
 */
#include <errno.h>

#include "example.h"

static void *slow_operation(void *arg)
{
    (void)arg;
    int rc = weft_sleep(10);
    if (rc)
        return WEFT_ERR(rc);
    return "done";
}

static void *async_main(void *arg)
{
    (void)arg;
    weft_task *task = weft_spawn(slow_operation, NULL);
    if (!task)
        return WEFT_ERR(errno); /* TODO(weft_errno) */
    void *result = weft_wait_for(task, 2.0);
    weft_task_release(task);
    if (weft_error(result) == ETIMEDOUT)
        say("Operation timed out!");
    else if (weft_error(result))
        return result;
    return NULL;
}

int main(void)
{
    void *result = weft_run(async_main, NULL, NULL);

    fflush(stdout);
    return weft_error(result) ? EXIT_FAILURE : EXIT_SUCCESS;
}
