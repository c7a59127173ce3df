/*
 * For the tests of stack overflows, which must end the process: run a weft
 * program in a forked child whose stderr is a pipe, and hand the parent what
 * the child wrote and how it ended. Shared by test_stack_overflow.c and
 * test_stack_guard.c; everything is static, as in harness.h.
 */
#ifndef TESTS_SCHED_STACK_CHILD_H
#define TESTS_SCHED_STACK_CHILD_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"

/* Fork; in the child run main_fn with `workers` workers and the given stack
 * size, then exit 0. Return the child's stderr (malloc'ed) and its wait
 * status. */
static char *run_child(void *(*main_fn)(void *), void *arg, unsigned workers, size_t stack_size,
                       int *status)
{
    int fds[2];

    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka's handlers for these, inherited, would go on with the test
         * program in the child instead of letting it die of the signal. */
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            signal(fatal[i], SIG_DFL);
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        const weft_config cfg = {.workers = workers, .stack_size = stack_size};
        weft_run(main_fn, arg, &cfg);
        _exit(0); /* not reached if an overflow aborts */
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

/* True if status says the child died by SIGABRT. */
static bool aborted(int status)
{
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

/* How the child ended, for failure messages: "signal 11", "exit status 0". */
static const char *ending(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(buf, size, "signal %d", WTERMSIG(status));
    else
        snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
    return buf;
}

/* "Task-2" and not the start of "Task-20" */
static bool names_task_2(const char *text)
{
    for (const char *p = text; (p = strstr(p, "Task-2")); p++)
        if (p[6] < '0' || p[6] > '9')
            return true;
    return false;
}

#endif /* TESTS_SCHED_STACK_CHILD_H */
