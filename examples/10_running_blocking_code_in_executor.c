/*
 * Running Blocking Code in Executor: weft_spawn_blocking is
 * run_in_executor(None, fn), on the runtime's default thread pool; a pool of
 * one's own is weft_executor_create, weft_executor_submit and
 * weft_executor_shutdown (the end of the `with` block). Awaiting a job
 * suspends only the awaiting task.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "example.h"

/* Simulates blocking I/O operation. */
static void *blocking_io(void *arg)
{
    struct timespec two_seconds = {.tv_sec = 2};

    (void)arg;
    while (nanosleep(&two_seconds, &two_seconds) != 0 && errno == EINTR)
        ;
    return "IO complete";
}

/* Simulates CPU-intensive operation: sum(i * i for i in range(10**6)). */
static void *cpu_bound(void *arg)
{
    uint64_t *sum = arg;

    *sum = 0;
    for (uint64_t i = 0; i < 1000000; i++)
        *sum += i * i;
    return sum;
}

static void *async_main(void *arg)
{
    uint64_t sum;

    (void)arg;
    /* Run in default executor (thread pool) */
    weft_task *job = weft_spawn_blocking(blocking_io, NULL);
    if (!job)
        return WEFT_ERR(errno); /* TODO(weft_errno) */
    const char *result1 = weft_await(job);
    weft_task_release(job);
    if (weft_error(result1))
        return (void *)result1;
    say("%s", result1);

    /* Run in custom executor */
    weft_executor *pool = weft_executor_create(4);
    if (!pool)
        return WEFT_ERR(errno); /* TODO(weft_errno) */
    job = weft_executor_submit(pool, cpu_bound, &sum);
    const uint64_t *result2 = job ? weft_await(job) : WEFT_ERR(errno); /* TODO(weft_errno) */
    weft_task_release(job);
    if (!weft_error(result2))
        say("%llu", (unsigned long long)*result2);
    int rc = weft_executor_shutdown(pool);
    if (weft_error(result2))
        return (void *)result2;
    return rc ? WEFT_ERR(rc) : NULL;
}

int main(void)
{
    void *result = weft_run(async_main, NULL, NULL);

    fflush(stdout);
    return weft_error(result) ? EXIT_FAILURE : EXIT_SUCCESS;
}
