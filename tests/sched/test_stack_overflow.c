/*
 * A task that overflows its stack hits the guard page below it: the process
 * must abort (SIGABRT) after printing, on stderr, "stack overflow" and the
 * task's name (asyncio's "Task-<n>": main is Task-1, the first task it
 * spawns Task-2), never run on into other memory. Each case runs in a forked
 * child whose stderr is a pipe read by the test.
 *
 * Skipped under AddressSanitizer, ThreadSanitizer and valgrind, which handle
 * SIGSEGV and stacks themselves.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"

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

/* Fork; in the child run spawn_overflow with `workers` workers and the given
 * stack size. Return the child's stderr (malloc'ed) and its wait status. */
static char *run_child(unsigned workers, size_t stack_size, int *status)
{
    int fds[2];

    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        const weft_config cfg = {.workers = workers, .stack_size = stack_size};
        weft_run(spawn_overflow, NULL, &cfg);
        _exit(0); /* not reached if the overflow aborts */
    }
    close(fds[1]);

    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    assert_non_null(text);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            text = realloc(text, cap);
            assert_non_null(text);
        }
        ssize_t n = read(fds[0], text + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    text[len] = 0;
    close(fds[0]);
    while (waitpid(pid, status, 0) < 0)
        assert_int_equal(errno, EINTR);
    return text;
}

/* "Task-2" and not the start of "Task-20" */
static bool names_task_2(const char *text)
{
    for (const char *p = text; (p = strstr(p, "Task-2")); p++)
        if (p[6] < '0' || p[6] > '9')
            return true;
    return false;
}

static void expect_overflow_abort(unsigned workers, size_t stack_size)
{
    int status = 0;
    char *text = run_child(workers, stack_size, &status);

    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fail_msg("workers=%u stack_size=%zu: expected death by SIGABRT, got %s %d; stderr:\n%s",
                 workers, stack_size, WIFSIGNALED(status) ? "signal" : "exit status",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), text);
    if (!strstr(text, "stack overflow") || !names_task_2(text))
        fail_msg("workers=%u stack_size=%zu: stderr should say \"stack overflow\" and name "
                 "Task-2; it was:\n%s",
                 workers, stack_size, text);
    free(text);
}

static void test_overflow_single_thread(void **state)
{
    (void)state;
    skip_if_instrumented();
    expect_overflow_abort(1, 0);
    expect_overflow_abort(1, 64 * 1024);
}

static void test_overflow_on_a_worker_thread(void **state)
{
    (void)state;
    skip_if_instrumented();
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
