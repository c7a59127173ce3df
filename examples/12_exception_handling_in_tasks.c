/*
 * Exception Handling in Tasks: a task "raises" by returning an error made
 * with weft_fail(), which also records a message. Awaiting the task hands
 * the error to the caller; weft_gather() with WEFT_RETURN_EXCEPTIONS returns
 * failures in place of results.
 */
#include <errno.h>

#include "example.h"

static void *failing_task(void *arg)
{
    (void)arg;
    int rc = weft_sleep(1);
    if (rc)
        return WEFT_ERR(rc);
    return weft_fail(EINVAL, "Something went wrong");
}

static void *sleep_one(void *arg)
{
    (void)arg;
    int rc = weft_sleep(1);
    return rc ? WEFT_ERR(rc) : NULL;
}

static void *async_main(void *arg)
{
    (void)arg;
    weft_task *task = weft_spawn(failing_task, NULL);
    if (!task)
        return WEFT_ERR(errno); /* TODO(weft_errno) */
    if (weft_error(weft_await(task)) == EINVAL)
        say("Caught exception: %s", weft_task_message(task));
    weft_task_release(task);

    /* Using gather with WEFT_RETURN_EXCEPTIONS */
    weft_task *tasks[] = {weft_spawn(sleep_one, NULL), weft_spawn(failing_task, NULL)};
    enum { N = sizeof tasks / sizeof tasks[0] };
    void *results[N];
    if (!tasks[0] || !tasks[1])
        return WEFT_ERR(errno); /* TODO(weft_errno) */
    int rc = weft_gather(tasks, N, results, WEFT_RETURN_EXCEPTIONS);
    if (rc)
        return WEFT_ERR(rc);
    for (int i = 0; i < N; i++) {
        if (weft_error(results[i]))
            say("Task failed: %s", weft_task_message(tasks[i]));
        else
            say("Task succeeded: %s", results[i] ? (const char *)results[i] : "None");
        weft_task_release(tasks[i]);
    }
    return NULL;
}

int main(void)
{
    void *result = weft_run(async_main, NULL, NULL);

    fflush(stdout);
    return weft_error(result) ? EXIT_FAILURE : EXIT_SUCCESS;
}
