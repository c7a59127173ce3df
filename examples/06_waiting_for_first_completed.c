/*
 * Waiting for First Completed: weft_wait() with WEFT_FIRST_COMPLETED returns
 * as soon as one task is done and tells which ones are; it cancels nothing,
 * so the caller cancels what it no longer needs.
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
    snprintf(f->result, sizeof f->result, "%s: %gs", f->name, f->delay);
    return f->result;
}

static void *async_main(void *arg)
{
    struct fetch fetches[] = {{.name = "fast", .delay = 1}, {.name = "slow", .delay = 3}};
    enum { N = sizeof fetches / sizeof fetches[0] };
    weft_task *tasks[N];
    bool done[N];

    (void)arg;
    for (int i = 0; i < N; i++) {
        tasks[i] = weft_spawn(fetch, &fetches[i]);
        if (!tasks[i])
            return WEFT_ERR(errno); /* TODO(weft_errno) */
    }

    /* Wait for first to complete */
    int rc = weft_wait(tasks, N, WEFT_FIRST_COMPLETED, WEFT_FOREVER, done);
    if (rc)
        return WEFT_ERR(rc);

    int pending = 0;
    for (int i = 0; i < N; i++) {
        if (done[i])
            say("Completed: %s", (const char *)weft_task_result(tasks[i]));
        else
            pending++;
    }
    say("Still pending: %d", pending);

    /* Cancel pending tasks */
    for (int i = 0; i < N; i++) {
        if (!done[i])
            weft_cancel(tasks[i]);
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
