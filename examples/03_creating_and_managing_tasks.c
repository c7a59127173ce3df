/*
 * Creating and Managing Tasks: weft_spawn() schedules a task at once;
 * weft_await() waits for its result. Both fetches run concurrently, so the
 * whole thing takes 2 seconds, not 3.
 */
#include <errno.h>

#include "example.h"

struct fetch {
    const char *name;
    double delay;
    char result[32];
};

static void *fetch(void *arg)
{
    struct fetch *f = arg;

    int rc = weft_sleep(f->delay);
    if (rc)
        return WEFT_ERR(rc);
    snprintf(f->result, sizeof f->result, "%s done", f->name);
    return f->result;
}

static void *async_main(void *arg)
{
    struct fetch a = {.name = "A", .delay = 2}, b = {.name = "B", .delay = 1};

    (void)arg;
    /* Create tasks - they start running immediately */
    weft_task *task1 = weft_spawn(fetch, &a);
    weft_task *task2 = weft_spawn(fetch, &b);
    if (!task1 || !task2)
        return WEFT_ERR(errno); /* TODO(weft_errno) */

    /* Wait for both to complete */
    const char *result1 = weft_await(task1);
    const char *result2 = weft_await(task2);
    weft_task_release(task1);
    weft_task_release(task2);
    if (weft_error(result1))
        return (void *)result1;
    if (weft_error(result2))
        return (void *)result2;
    say("%s %s", result1, result2);
    return NULL;
}

int main(void)
{
    void *result = weft_run(async_main, NULL, NULL);

    fflush(stdout);
    return weft_error(result) ? EXIT_FAILURE : EXIT_SUCCESS;
}
