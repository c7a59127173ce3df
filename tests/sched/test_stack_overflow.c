/*
 * A task that overflows its stack hits the guard page below it: the process
 * must abort (SIGABRT) after printing, on stderr, "stack overflow" and the
 * task's name (asyncio's "Task-<n>": main is Task-1, the first task it
 * spawns Task-2), never run on into other memory. Each case runs in a forked
 * child whose stderr is a pipe read by the test.
 *
 * Skipped under valgrind, whose delivery of a fault in a guard takes it
 * seconds each. AddressSanitizer and ThreadSanitizer run it: weft's handler
 * is installed over theirs.
 */
#include <stdint.h>

#include "stack_child.h"

static volatile long depth_limit = 1L << 40; /* never reached: keeps the recursion honest */

static long recurse(volatile char *caller_frame, long depth)
{
    volatile char frame[1024];

    frame[0] = (char)depth;
    frame[sizeof frame - 1] = caller_frame ? caller_frame[0] : 0;
    if (depth >= depth_limit)
        return frame[0];
    return recurse(frame, depth + 1) + frame[sizeof frame - 1];
}

static void *overflow(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)recurse(NULL, 0);
}

static void *spawn_overflow(void *arg)
{
    weft_task *t = weft_spawn(overflow, NULL); /* Task-2 */

    (void)arg;
    weft_yield();
    return weft_await(t);
}

static void expect_overflow_abort(unsigned workers, size_t stack_size)
{
    int status = 0;
    char *text = run_weft_child(spawn_overflow, NULL, workers, stack_size, 0, &status);
    char how[32];

    if (!child_aborted(status))
        fail_msg("workers=%u stack_size=%zu: expected death by SIGABRT, got %s; stderr:\n%s",
                 workers, stack_size, child_ending(status, how, sizeof how), text);
    if (!strstr(text, "stack overflow") || !names_task_2(text))
        fail_msg("workers=%u stack_size=%zu: stderr should say \"stack overflow\" and name "
                 "Task-2; it was:\n%s",
                 workers, stack_size, text);
    free(text);
}

static void test_overflow_single_thread(void **state)
{
    (void)state;
    if (RUNNING_ON_VALGRIND)
        skip();
    expect_overflow_abort(1, 0);
    expect_overflow_abort(1, 64 * 1024);
}

static void test_overflow_on_a_worker_thread(void **state)
{
    (void)state;
    if (RUNNING_ON_VALGRIND)
        skip();
    expect_overflow_abort(2, 0);
    expect_overflow_abort(4, 128 * 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overflow_single_thread),
        cmocka_unit_test(test_overflow_on_a_worker_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
